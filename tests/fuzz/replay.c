/*
 * replay: runs a fuzz target over files and directories of inputs (its corpus), so the
 * decoders are exercised by the normal test suite and under the sanitizers.
 *
 *   replay_<target> PATH...
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/util.h"
#include "tests/fuzz/fuzz.h"

#define INPUT_MAX (1u << 20)

static int run_file(const char *path)
{
    char *data;
    size_t len;
    if (read_file(path, INPUT_MAX, &data, &len) < 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    LLVMFuzzerTestOneInput((const uint8_t *)data, len);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    int n = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "replay: %s: not found\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[i]) < 0)
                return 1;
            n++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char path[4096];
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            if (run_file(path) < 0)
                return 1;
            n++;
        }
        if (d)
            closedir(d);
    }
    /* The empty input too: every target must take it. */
    LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
    printf("replayed %d inputs\n", n);
    return n > 0 ? 0 : 1;
}
