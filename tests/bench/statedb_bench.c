/*
 * statedb_bench: vote-intent appends per second and fsyncs per second for 1, 8 and 64
 * concurrent appenders, with group commit and with one synced write per append, in one run.
 *
 *   statedb_bench [--seconds S] [--dir DIR] [--bytes N]
 *
 * In-process: appender threads stand in for the QBFT worker's concurrent requests and one
 * committer thread stands in for the StateDB worker's loop. Each appender submits one intent and
 * waits for its reply (closed loop). In group-commit mode the committer takes every waiting
 * request (up to [statedb] max_batch) into one statedb_group_commit() call; in one-sync mode it
 * takes one request per call. Every call writes one WriteBatch with sync = true, i.e. one WAL
 * fsync (counted by the store). No IPC is involved: this measures the commit path alone.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"
#include "workers/statedb/commit.h"
#include "workers/statedb/store.h"

#define MAX_APPENDERS 64
#define MAX_BATCH     1024 /* [statedb] max_batch default */

static const uint8_t lock_hash[RECORD_LOCK_HASH] = {0xbe, 0x4c};

struct slot {
    pthread_cond_t answered; /* one per appender: wake only the ones answered */
    bool pending, done;
    uint8_t status;
    struct sdb_intent_key key;
};

struct bench {
    struct store *st;
    pthread_mutex_t mu;
    pthread_cond_t work;
    struct slot slots[MAX_APPENDERS];
    int nappenders;
    bool group, stop;
    size_t msg_len;
    uint64_t appends;
};

struct appender {
    struct bench *b;
    int id;
};

static void *appender_main(void *arg)
{
    struct appender *a = arg;
    struct bench *b = a->b;
    struct slot *s = &b->slots[a->id];
    uint64_t n = 0;
    pthread_mutex_lock(&b->mu);
    while (!b->stop) {
        /* A new (instance, round, type) every time, as a busy QBFT worker would produce. */
        s->key =
            (struct sdb_intent_key){(uint8_t)(a->id % 3), (uint64_t)a->id << 32 | n / 4,
                                    (uint32_t)(n % 4 + 1), (uint8_t)(QBFT_PRE_PREPARE + n % 3)};
        s->pending = true;
        s->done = false;
        pthread_cond_signal(&b->work);
        while (!s->done && !b->stop)
            pthread_cond_wait(&s->answered, &b->mu);
        if (s->done) {
            if (s->status != SDB_OK)
                fatalx("append answered %s", sdb_status_name(s->status));
            b->appends++;
            n++;
        }
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

static void *committer_main(void *arg)
{
    struct bench *b = arg;
    static struct statedb_op ops[MAX_BATCH];
    static int who[MAX_BATCH];
    uint8_t *msg = xcalloc(1, b->msg_len);
    for (size_t i = 0; i < b->msg_len; i++)
        msg[i] = (uint8_t)(i * 31 + 7);
    int next = 0;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        size_t n = 0;
        while (!b->stop) {
            /* Take waiting requests, round-robin so that no appender starves. */
            for (int k = 0; k < b->nappenders && n < (b->group ? MAX_BATCH : 1); k++) {
                int i = (next + k) % b->nappenders;
                if (b->slots[i].pending) {
                    b->slots[i].pending = false;
                    memset(&ops[n], 0, sizeof(ops[n]));
                    ops[n].req.type = SDB_APPEND_INTENT;
                    ops[n].req.u.append.k = b->slots[i].key;
                    ops[n].req.u.append.msg = (struct sdb_bytes){msg, (uint32_t)b->msg_len};
                    who[n++] = i;
                }
            }
            next = (next + 1) % b->nappenders;
            if (n)
                break;
            pthread_cond_wait(&b->work, &b->mu);
        }
        if (b->stop)
            break;
        pthread_mutex_unlock(&b->mu);
        statedb_group_commit(b->st, ops, n);
        pthread_mutex_lock(&b->mu);
        for (size_t i = 0; i < n; i++) {
            b->slots[who[i]].status = ops[i].out.status;
            b->slots[who[i]].done = true;
            pthread_cond_signal(&b->slots[who[i]].answered);
            buf_free(&ops[i].out.body);
        }
    }
    pthread_mutex_unlock(&b->mu);
    free(msg);
    return NULL;
}

struct result {
    double appends_s, fsyncs_s;
};

static struct result run(const char *dir, bool group, int nappenders, double seconds,
                         size_t msg_len)
{
    char db[PATH_MAX / 2], err[1024], cmd[PATH_MAX + 32];
    snprintf(db, sizeof(db), "%s/db-%s-%d", dir, group ? "group" : "single", nappenders);
    struct store_opts o = {.path = db, .lock_hash = lock_hash, .sync = true, .checkpoints_keep = 1};
    struct bench b = {.nappenders = nappenders, .group = group, .msg_len = msg_len};
    if (store_open(&b.st, &o, err, sizeof(err)) != STORE_OK)
        fatalx("open %s: %s", db, err);
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.work, NULL);
    for (int i = 0; i < nappenders; i++)
        pthread_cond_init(&b.slots[i].answered, NULL);
    pthread_t committer, threads[MAX_APPENDERS];
    struct appender args[MAX_APPENDERS];
    struct store_stats s0, s1;
    store_get_stats(b.st, &s0);
    uint64_t t0 = now_ns();
    pthread_create(&committer, NULL, committer_main, &b);
    for (int i = 0; i < nappenders; i++) {
        args[i] = (struct appender){&b, i};
        pthread_create(&threads[i], NULL, appender_main, &args[i]);
    }
    usleep((useconds_t)(seconds * 1e6));
    pthread_mutex_lock(&b.mu);
    b.stop = true;
    uint64_t appends = b.appends;
    store_get_stats(b.st, &s1);
    double elapsed = (double)(now_ns() - t0) / 1e9;
    pthread_cond_broadcast(&b.work);
    for (int i = 0; i < nappenders; i++)
        pthread_cond_signal(&b.slots[i].answered);
    pthread_mutex_unlock(&b.mu);
    for (int i = 0; i < nappenders; i++)
        pthread_join(threads[i], NULL);
    pthread_join(committer, NULL);
    store_close(b.st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'.*", db, db);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", db);
    return (struct result){(double)appends / elapsed,
                           (double)(s1.synced_writes - s0.synced_writes) / elapsed};
}

int main(int argc, char **argv)
{
    double seconds = 3;
    size_t msg_len = 200;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        uint64_t v;
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc && parse_u64(argv[++i], 600, &v) == 0 &&
            v > 0)
            seconds = (double)v;
        else if (!strcmp(argv[i], "--bytes") && i + 1 < argc &&
                 parse_u64(argv[++i], SDB_INTENT_MAX, &v) == 0 && v > 0)
            msg_len = (size_t)v;
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else {
            fprintf(stderr, "usage: statedb_bench [--seconds S] [--dir DIR] [--bytes N]\n");
            return 2;
        }
    }
    char tmp[] = "/tmp/aequa-bench-XXXXXX";
    if (!dir && !(dir = mkdtemp(tmp)))
        fatal("mkdtemp");
    static const int counts[] = {1, 8, 64};
    struct result r[2][3];
    printf("# statedb: in-process (appender threads -> statedb_group_commit -> RocksDB), no IPC\n");
    printf("# sync=true, %zu-byte intents, %.0f s per run, database in %s\n", msg_len, seconds,
           dir);
    printf("%-14s %9s %11s %10s %14s\n", "mode", "appenders", "appends/s", "fsyncs/s",
           "appends/fsync");
    for (int g = 1; g >= 0; g--)
        for (int c = 0; c < 3; c++) {
            r[g][c] = run(dir, g, counts[c], seconds, msg_len);
            printf("%-14s %9d %11.0f %10.0f %14.1f\n", g ? "group-commit" : "sync-per-append",
                   counts[c], r[g][c].appends_s, r[g][c].fsyncs_s,
                   r[g][c].fsyncs_s > 0 ? r[g][c].appends_s / r[g][c].fsyncs_s : 0);
            fflush(stdout);
        }
    for (int c = 0; c < 3; c++)
        printf("# group commit / sync-per-append at %d appender%s: %.1fx appends/s\n", counts[c],
               counts[c] == 1 ? "" : "s", r[1][c].appends_s / r[0][c].appends_s);
    if (dir == tmp)
        rmdir(dir);
    return 0;
}
