/*
 * duty_load: an open-loop load generator for POST /v1/duty (scripts/bench duties) and for
 * POST /v1/tx/plain (scripts/bench txs).
 *
 *   duty_load --nodes H:P[,H:P...] --rate R --seconds T --type TYPE --height-start H
 *             [--threads K]
 *   duty_load --nodes H:P[,H:P...] --rate R --seconds T --bodies FILE [--threads K]
 *
 * Duty j (height H + j) is due at start + j/R; it is posted to every node, each node with its
 * own payload, by K threads per node over keep-alive connections. With --bodies, request j is
 * line j of FILE (a transaction), posted to one node only (j modulo the number of nodes) to
 * /v1/tx/plain. A request that is due while every thread is busy waits (open loop: the wait
 * counts in its latency). Prints one line per request:
 *   "<height or j> <due wall-clock microseconds> <number of nodes that answered 202>"
 * and on stderr a summary (offered rate, achieved post rate, errors).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"

#define MAX_NODES 16

static struct {
    char host[MAX_NODES][64];
    uint16_t port[MAX_NODES];
    int nnodes;
    double rate, seconds;
    const char *type;
    uint64_t h0;
    int threads;
    uint64_t count;
    uint64_t t0_wall_us, t0_mono_us;
    atomic_uint_fast64_t next[MAX_NODES];
    atomic_uchar *ok; /* per duty: nodes that answered 202 */
    atomic_uint_fast64_t errors;
    char **bodies; /* --bodies: one request body per line */
    const char *path;
} L;

static uint64_t mono_us(void)
{
    return now_ns() / 1000;
}

static int connect_node(int i)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(L.port[i])};
    inet_pton(AF_INET, L.host[i], &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One request on a keep-alive connection; returns the status or -1 (reconnect). */
static int post(int fd, const char *body, size_t blen, const char *hostport)
{
    char req[16384];
    int n = snprintf(req, sizeof(req),
                     "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     L.path, hostport, blen, body);
    if (n < 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n)
        return -1;
    char resp[4096];
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, resp + got, sizeof(resp) - 1 - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
        resp[got] = 0;
        char *end = strstr(resp, "\r\n\r\n");
        if (!end)
            continue;
        char *cl = strstr(resp, "Content-Length: ");
        size_t clen = cl ? strtoul(cl + 16, NULL, 10) : 0;
        if (got >= (size_t)(end + 4 - resp) + clen)
            break;
    }
    int status = 0;
    sscanf(resp, "HTTP/1.1 %d", &status);
    return status;
}

static void *worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    char hostport[80], body[256];
    snprintf(hostport, sizeof(hostport), "%s:%u", L.host[i], L.port[i]);
    int fd = connect_node(i);
    for (;;) {
        uint64_t j = atomic_fetch_add(&L.next[i], 1);
        if (L.bodies) /* one node per request: this node's share is every nnodes-th */
            j = j * (uint64_t)L.nnodes + (uint64_t)i;
        if (j >= L.count)
            break;
        uint64_t due = L.t0_mono_us + (uint64_t)((double)j * 1e6 / L.rate);
        uint64_t now = mono_us();
        if (due > now)
            usleep((useconds_t)(due - now));
        const char *b = body;
        int len;
        if (L.bodies) {
            b = L.bodies[j];
            len = (int)strlen(b);
        } else {
            len = snprintf(body, sizeof(body),
                           "{\"type\":\"%s\",\"height\":%llu,\"payload\":{\"node\":%d,\"j\":%llu}}",
                           L.type, (unsigned long long)(L.h0 + j), i, (unsigned long long)j);
        }
        int status = -1;
        for (int attempt = 0; attempt < 3 && status < 0; attempt++) {
            if (fd < 0)
                fd = connect_node(i);
            if (fd >= 0 && (status = post(fd, b, (size_t)len, hostport)) < 0) {
                close(fd);
                fd = -1;
            }
        }
        if (status == 202)
            atomic_fetch_add(&L.ok[j], 1);
        else
            atomic_fetch_add(&L.errors, 1);
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *nodes = NULL, *bodies = NULL;
    L.threads = 16;
    L.type = "sync";
    L.path = "/v1/duty";
    for (int a = 1; a + 1 < argc; a += 2) {
        if (!strcmp(argv[a], "--nodes"))
            nodes = argv[a + 1];
        else if (!strcmp(argv[a], "--rate"))
            L.rate = atof(argv[a + 1]);
        else if (!strcmp(argv[a], "--seconds"))
            L.seconds = atof(argv[a + 1]);
        else if (!strcmp(argv[a], "--type"))
            L.type = argv[a + 1];
        else if (!strcmp(argv[a], "--height-start"))
            L.h0 = strtoull(argv[a + 1], NULL, 10);
        else if (!strcmp(argv[a], "--threads"))
            L.threads = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "--bodies"))
            bodies = argv[a + 1];
    }
    if (!nodes || L.rate <= 0 || L.seconds <= 0) {
        fprintf(stderr, "usage: duty_load --nodes H:P[,...] --rate R --seconds T "
                        "[--type T] [--height-start H] [--threads K]\n");
        return 2;
    }
    char *list = xstrdup(nodes);
    for (char *tok = strtok(list, ","); tok && L.nnodes < MAX_NODES; tok = strtok(NULL, ",")) {
        if (parse_hostport(tok, L.host[L.nnodes], sizeof(L.host[0]), &L.port[L.nnodes]) < 0) {
            fprintf(stderr, "duty_load: bad address %s\n", tok);
            return 2;
        }
        L.nnodes++;
    }
    free(list);
    L.count = (uint64_t)(L.rate * L.seconds);
    if (bodies) {
        FILE *f = fopen(bodies, "r");
        if (!f) {
            fprintf(stderr, "duty_load: cannot open %s\n", bodies);
            return 2;
        }
        L.bodies = xcalloc(L.count ? L.count : 1, sizeof(*L.bodies));
        char line[16384];
        uint64_t n = 0;
        while (n < L.count && fgets(line, sizeof(line), f)) {
            line[strcspn(line, "\n")] = 0;
            L.bodies[n++] = xstrdup(line);
        }
        fclose(f);
        L.count = n;
        L.path = "/v1/tx/plain";
    }
    L.ok = xcalloc(L.count, sizeof(*L.ok));
    pthread_t *t = xcalloc((size_t)(L.nnodes * L.threads), sizeof(*t));
    /* The schedule in both clocks: monotonic to pace, wall to compare with the nodes' logs. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    L.t0_wall_us = (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
    L.t0_mono_us = mono_us();
    for (int i = 0; i < L.nnodes; i++)
        for (int k = 0; k < L.threads; k++)
            pthread_create(&t[i * L.threads + k], NULL, worker, (void *)(intptr_t)i);
    for (int i = 0; i < L.nnodes * L.threads; i++)
        pthread_join(t[i], NULL);
    double elapsed = (double)(mono_us() - L.t0_mono_us) / 1e6;
    for (uint64_t j = 0; j < L.count; j++)
        printf("%llu %llu %u\n", (unsigned long long)(L.h0 + j),
               (unsigned long long)(L.t0_wall_us + (uint64_t)((double)j * 1e6 / L.rate)),
               (unsigned)L.ok[j]);
    fprintf(stderr, "duty_load: %llu duties x %d nodes offered at %.0f/s in %.2f s; errors %llu\n",
            (unsigned long long)L.count, L.nnodes, L.rate, elapsed,
            (unsigned long long)atomic_load(&L.errors));
    return 0;
}
