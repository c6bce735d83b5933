/*
 * statedb_dump_test AEQUACTL: `aequactl wal dump` prints a node's intents, duties and decided
 * instances, both beside a running store (read-only open) and on a stopped node's data.
 */
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "lib/util.h"
#include "workers/statedb/commit.h"
#include "workers/statedb/store.h"

static const uint8_t lock_hash[RECORD_LOCK_HASH] = {0x42};
static int failures;

static void expect(bool ok, const char *what, const char *out)
{
    if (!ok) {
        fprintf(stderr, "FAIL: %s\n--- output ---\n%s\n", what, out);
        failures++;
    }
}

/* Run a command, capture stdout; returns the exit status. */
static int run(const char *cmd, char *out, size_t outsz)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        fatal("popen");
    size_t n = fread(out, 1, outsz - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void commit(struct store *st, struct sdb_req *reqs, size_t n)
{
    struct statedb_op ops[8];
    memset(ops, 0, sizeof(ops));
    for (size_t i = 0; i < n; i++)
        ops[i].req = reqs[i];
    statedb_group_commit(st, ops, n);
    for (size_t i = 0; i < n; i++) {
        if (ops[i].out.status != SDB_OK)
            fatalx("setup request %zu answered %s", i, sdb_status_name(ops[i].out.status));
        buf_free(&ops[i].out.body);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: statedb_dump_test AEQUACTL\n");
        return 2;
    }
    char dir[] = "/tmp/aequa-dump-XXXXXX", db[PATH_MAX], cmd[PATH_MAX * 2];
    static char out[1 << 16];
    if (!mkdtemp(dir))
        fatal("mkdtemp");
    /* the layout of a node's data dir: <data-dir>/db/rocksdb */
    char dbdir[PATH_MAX];
    snprintf(dbdir, sizeof(dbdir), "%s/db", dir);
    if (mkdir(dbdir, 0755) < 0 || db_path(dbdir, db, sizeof(db)) < 0)
        fatal("mkdir %s", dbdir);
    struct store *st;
    char err[1024];
    struct store_opts o = {.path = db, .lock_hash = lock_hash, .sync = true, .checkpoints_keep = 2};
    if (store_open(&st, &o, err, sizeof(err)) != STORE_OK)
        fatalx("open: %s", err);

    struct sdb_seal seals[2] = {{.index = 0}, {.index = 2}};
    struct sdb_req reqs[4] = {
        {.type = SDB_APPEND_INTENT,
         .u.append = {{DUTY_ATTESTER, 5, 1, QBFT_PREPARE}, {(const uint8_t *)"prep", 4}}},
        {.type = SDB_APPEND_INTENT,
         .u.append = {{DUTY_ATTESTER, 5, 1, QBFT_COMMIT}, {(const uint8_t *)"comm", 4}}},
        {.type = SDB_PUT_DUTY,
         .u.put_duty = {DUTY_ATTESTER,
                        5,
                        {(const uint8_t *)"{\"slot\":5}", 10},
                        "trace-9",
                        1700000000000ull}},
        {.type = SDB_PUT_DECIDED,
         .u.put_decided = {.dtype = DUTY_ATTESTER,
                           .height = 5,
                           .round = 1,
                           .value = {(const uint8_t *)"{\"slot\":5}", 10},
                           .nseals = 2,
                           .seals = seals,
                           .decided_ms = 1700000000500ull}},
    };
    commit(st, reqs, 4);

    /* Beside the running store. */
    snprintf(cmd, sizeof(cmd), "%s wal dump --data-dir %s", argv[1], dir);
    int rc = run(cmd, out, sizeof(out));
    expect(rc == 0, "dump beside a running store exits 0", out);
    expect(strstr(out, "# statedb ") && strstr(out, "schema 1, cluster 4200"), "header", out);
    expect(strstr(out, "intent attester/5 round=1 type=prepare len=4 sha256=") != NULL,
           "prepare intent line", out);
    expect(strstr(out, "intent attester/5 round=1 type=commit len=4") != NULL, "commit intent line",
           out);
    expect(strstr(out, "decided=yes") != NULL, "intent marked decided", out);
    expect(strstr(out, "duty attester/5 accepted=2023-11-14T22:13:20.000Z trace=trace-9 len=10") !=
               NULL,
           "duty line", out);
    expect(strstr(out, "payload={\"slot\":5}") != NULL, "payload inline", out);
    expect(strstr(out, "decided attester/5 round=1 at=2023-11-14T22:13:20.500Z value_len=10") !=
               NULL,
           "decided line", out);
    expect(strstr(out, "cert=0 seals=0,2 tss=no") != NULL, "seals", out);
    expect(strstr(out, "# totals: intents=2 duties=1 decided=1") != NULL, "totals", out);
    expect(strstr(out, "hex=") == NULL, "no hex without --hex", out);

    /* A stopped node's data. */
    store_close(st);
    snprintf(cmd, sizeof(cmd), "%s wal dump --db %s --hex", argv[1], db);
    rc = run(cmd, out, sizeof(out));
    expect(rc == 0, "dump of a stopped node exits 0", out);
    expect(strstr(out, "type=prepare") && strstr(out, "hex=70726570"), "hex of intent", out);

    snprintf(cmd, sizeof(cmd), "%s wal dump --data-dir %s/nowhere 2>&1", argv[1], dir);
    rc = run(cmd, out, sizeof(out));
    expect(rc == 1 && strstr(out, "no database at"), "missing database is an error", out);
    snprintf(cmd, sizeof(cmd), "%s wal dump 2>&1", argv[1]);
    rc = run(cmd, out, sizeof(out));
    expect(rc == 2 && strstr(out, "usage"), "usage error", out);

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    if (failures)
        return 1;
    printf("statedb_dump_test: ok\n");
    return 0;
}
