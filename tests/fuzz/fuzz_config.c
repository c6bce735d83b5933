/*
 * Fuzz target: the INI configuration loader (lib/config.c over inih). Invariants, checked with
 * abort():
 *   - a refused file has an error that starts with the file's name and a line number;
 *   - an accepted file whose cross-field rules hold (config_finish) is written out again by
 *     config_dump, and that text loads, finishes and dumps to the same bytes: the effective
 *     configuration `aequa-supervisor -n` prints is itself a valid configuration file (when its
 *     lines fit inih's 199 bytes: a path derived from a long data_dir may not).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"

#include "tests/fuzz/fuzz.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_config: invariant failed: %s (line %d)\n", #cond, __LINE__);     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char *const workers[] = {"api", "p2p", "qbft", "statedb", "builder"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct config cfg, again;
    char err[512];
    if (size > CONFIG_MAX_FILE)
        return 0;
    config_defaults(&cfg);
    if (config_load_text(&cfg, "f.conf", (const char *)data, size, err, sizeof(err)) < 0) {
        CHECK(!strncmp(err, "f.conf:", 7) && err[7] >= '1' && err[7] <= '9');
        return 0;
    }
    CHECK(!strcmp(cfg.config_path, "f.conf"));
    if (config_finish(&cfg, err, sizeof(err)) < 0)
        return 0;
    for (size_t i = 0; i < sizeof(workers) / sizeof(workers[0]); i++)
        CHECK(config_worker_user(&cfg, workers[i])[0] != 0 || cfg.user[0] == 0);

    struct buf dump = BUF_INIT, dump2 = BUF_INIT;
    config_dump(&cfg, &dump);
    size_t line = 0;
    for (size_t i = 0; i < dump.len; i++) {
        line = dump.data[i] == '\n' ? 0 : line + 1;
        if (line > 199) {
            buf_free(&dump);
            return 0;
        }
    }
    config_defaults(&again);
    int rc = config_load_text(&again, "dump", (const char *)dump.data, dump.len, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "fuzz_config: the dump does not load: %s\n%.*s", err, (int)dump.len,
                (const char *)dump.data);
    CHECK(rc == 0);
    CHECK(config_finish(&again, err, sizeof(err)) == 0);
    config_dump(&again, &dump2);
    CHECK(dump.len == dump2.len && memcmp(dump.data, dump2.data, dump.len) == 0);
    buf_free(&dump);
    buf_free(&dump2);
    return 0;
}
