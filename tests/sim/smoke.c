#include "tests/sim/cluster.h"
#include <stdio.h>
#include <string.h>
int main(void)
{
    for (unsigned n = 1; n <= 10; n++) {
        struct cl_opts o;
        cl_opts_default(&o, n);
        o.seed = n;
        struct cluster *c = cl_new(&o);
        struct qbft_id id = {0, 5};
        for (unsigned i = 0; i < n; i++) {
            char v[32];
            snprintf(v, sizeof v, "value-%u", i);
            cl_start(c, i, &id, v, strlen(v));
        }
        cl_run(c, NULL, NULL, SIZE_MAX);
        printf("n=%u decided=%d decisions=%llu viol=%llu %s\n", n, cl_all_decided(c, &id),
               (unsigned long long)c->decisions, (unsigned long long)c->violations, c->violation);
        /* leader down */
        cl_free(c);
    }
    return 0;
}
