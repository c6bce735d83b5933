/*
 * aequa-statedb: the node's only RocksDB owner (SPEC §8), wired to the node's IPC.
 *
 * Each mailbox drain becomes one group commit: handlers only queue requests; on_drained writes
 * them in one synced WriteBatch and answers every one. Checkpoints are taken on a timer and at
 * a clean stop; decided instances older than [statedb] retention are pruned on a timer, in
 * slices, and their key ranges compacted away.
 * A database of another cluster or node, or damaged beyond its checkpoints, is a permanent
 * error (exit 78): restarting cannot fix it, the operator must look.
 */
#include "lib/lock.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "proto/statedb.h"
#include "proto/workers.h"
#include "workers/common/worker.h"
#include "workers/statedb/commit.h"
#include "workers/statedb/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* While a prune pass has more to delete, its next slice runs this soon. */
#define PRUNE_AGAIN_S 0.2

static struct {
    struct worker *w;
    struct lock lock;
    struct store *st;
    struct statedb_queue q;
    ev_timer checkpoint, prune;
    uint64_t pruned[DUTY_TYPES]; /* records deleted by the prune pass under way, per type */
} D;

static void on_request(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    if (statedb_queue_push(&D.q, e) < 0)
        mailbox_violation(mb, e, "malformed statedb request");
}

static void on_drained(struct mailbox *mb, void *ctx)
{
    (void)ctx;
    if (D.q.n == 0)
        return;
    statedb_queue_commit(&D.q, D.st, D.w->cfg.statedb_max_batch);
    for (size_t i = 0; i < D.q.n; i++) {
        struct statedb_op *op = &D.q.ops[i];
        struct envelope req = {.source = op->source, .req_id = op->req_id};
        log_set_trace(op->trace_id[0] ? op->trace_id : NULL);
        if (op->out.status == SDB_ERROR)
            log_error("state_persist", LS("op", sdb_type_name(op->req.type)),
                      LS("err", op->out.err));
        int rc = mailbox_reply(mb, &req, op->out.type, op->out.body.data, op->out.body.len);
        if (rc < 0)
            log_warn("statedb_reply", LS("to", worker_name(op->source)), LS("err", strerror(-rc)));
        log_set_trace(NULL);
    }
    statedb_queue_clear(&D.q);
}

/* QBFT and the builder are the only workers that talk to StateDB (the builder for the pool and
 * the chain, and for the API's reads of them); the test tool reads, and writes only in a test
 * build (TOOL_WRITES, proto/workers.h). */
#define READS         (WBIT(W_QBFT) | WBIT(W_TOOL))
#define WRITES        (WBIT(W_QBFT) | TOOL_WRITES)
#define BUILDER_READS (WBIT(W_BUILDER) | WBIT(W_TOOL))
#define BUILDER_WRITE (WBIT(W_BUILDER) | TOOL_WRITES)
#define CHAIN_READS   (WBIT(W_BUILDER) | WBIT(W_QBFT) | WBIT(W_TOOL))

static const struct dispatch_entry rows[] = {
    {SDB_HELLO, READS, 1, 64, on_request},
    {SDB_APPEND_INTENT, WRITES, 1, SDB_BODY_MAX, on_request},
    {SDB_LOAD_INTENTS, READS, 1, 256, on_request},
    {SDB_PUT_DUTY, WRITES, 1, SDB_BODY_MAX, on_request},
    {SDB_GET_DUTY, READS, 1, 64, on_request},
    {SDB_LIST_DUTIES, READS, 1, 256, on_request},
    {SDB_PUT_DECIDED, WRITES, 1, SDB_BODY_MAX, on_request},
    {SDB_SET_TSS, WRITES, 1, SDB_TSS_MAX + 64, on_request},
    {SDB_GET_DECIDED, READS, 1, 64, on_request},
    {SDB_PRUNE, WRITES, 1, 64, on_request},
    {SDB_ITERATE, BUILDER_READS, 1, 256, on_request},
    {SDB_PUT_TXS, BUILDER_WRITE, 1, SDB_BODY_MAX, on_request},
    {SDB_APPLY_BLOCK, BUILDER_WRITE, 1, SDB_BODY_MAX, on_request},
    {SDB_GET_BLOCK, CHAIN_READS, 1, 64, on_request},
    {SDB_GET_TX, CHAIN_READS, 1, 64, on_request},
    {SDB_CHAIN_HEAD, CHAIN_READS, 1, 16, on_request},
};

static void take_checkpoint(const char *why)
{
    char err[512];
    uint64_t ms;
    uint64_t t0 = now_ms();
    if (store_checkpoint(D.st, &ms, err, sizeof(err)) < 0)
        log_error("statedb_checkpoint", LS("why", why), LS("err", err));
    else
        log_info("statedb_checkpoint", LS("why", why), LU("name", ms), LU("ms", now_ms() - t0));
}

static void on_checkpoint(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)t;
    (void)revents;
    take_checkpoint("interval");
}

/* One slice of a prune pass per duty type (statedb_prune_request); while a type has more, the
 * next slice follows after PRUNE_AGAIN_S, else after [statedb] prune_interval_s. A type whose
 * pass is done gets its pruned range marked for compaction. */
static void on_prune(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    bool more = false;
    for (uint8_t dtype = 0; dtype < DUTY_TYPES; dtype++) {
        struct statedb_op op;
        memset(&op, 0, sizeof(op));
        if (!statedb_prune_request(D.st, dtype, D.w->cfg.statedb_retention, &op.req))
            continue;
        op.source = W_STATEDB;
        statedb_group_commit(D.st, &op, 1);
        struct sdb_reply rep;
        if (op.out.status == SDB_ERROR)
            log_error("statedb_prune", LS("duty", duty_type_name(dtype)), LS("err", op.out.err));
        else if (sdb_reply_decode(&rep, op.out.type, op.out.body.data, op.out.body.len) == 0) {
            D.pruned[dtype] += rep.u.prune.pruned;
            more |= rep.u.prune.more;
            char err[256];
            if (!rep.u.prune.more && D.pruned[dtype] > 0) {
                if (statedb_prune_compact(D.st, &op.req, err, sizeof(err)) < 0)
                    log_warn("statedb_prune", LS("duty", duty_type_name(dtype)), LS("err", err));
                log_info("statedb_prune", LS("duty", duty_type_name(dtype)),
                         LU("below", op.req.u.prune.below), LU("records", D.pruned[dtype]));
                D.pruned[dtype] = 0;
            }
            sdb_reply_free(&rep);
        }
        statedb_op_free(&op);
    }
    double every = (double)D.w->cfg.statedb_prune_interval_s;
    ev_timer_stop(loop, t);
    ev_timer_set(t, more ? PRUNE_AGAIN_S : every, every);
    ev_timer_start(loop, t);
}

static int statedb_preinit(struct worker *w)
{
    char err[1024];
    if (lock_load(&D.lock, w->cfg.lock, err, sizeof(err)) < 0) {
        log_error("config_error", LS("err", err));
        exit(EXIT_CONFIG);
    }
    return 0;
}

static int statedb_init(struct worker *w)
{
    char err[1024], path[CFG_PATH + 16];
    D.w = w;
    if (db_path(w->cfg.statedb_path, path, sizeof(path)) < 0) {
        log_error("config_error", LS("err", "[statedb] path too long"));
        exit(EXIT_CONFIG);
    }
    struct store_opts o = {
        .path = path,
        .lock_hash = D.lock.hash,
        .node_index = w->cfg.index,
        .sync = w->cfg.statedb_sync,
        .checkpoints_keep = (unsigned)w->cfg.statedb_checkpoints_keep,
        .mem = {.block_cache_bytes = (size_t)w->cfg.statedb_block_cache_mb << 20,
                .write_buffer_bytes = (size_t)w->cfg.statedb_write_buffer_mb << 20},
    };
    uint64_t t0 = now_ms();
    int rc = store_open(&D.st, &o, err, sizeof(err));
    if (rc != STORE_OK) {
        log_error("statedb_open", LS("path", o.path), LS("err", err),
                  LS("result", rc == STORE_E_IO ? "io" : "fail"));
        /* A foreign or damaged database needs the operator; only I/O trouble is retried. */
        exit(rc == STORE_E_IO ? 1 : EXIT_CONFIG);
    }
    log_info("statedb_open", LS("path", o.path),
             LS("result", store_recovery_name(store_open_result(D.st))),
             LB("fallback_recorded", store_meta(D.st)->fallback.fallback), LB("sync", o.sync),
             LU("ms", now_ms() - t0));
    /* Series that dashboards and alerts expect from the first scrape. */
    metric("state_persist_errors_total");
    for (unsigned t = QBFT_PRE_PREPARE; t <= QBFT_TYPE_MAX; t++)
        metric("qbft_wal_appends_total", qbft_type_name(t));
    if (w->cfg.statedb_checkpoint_interval_s > 0) {
        double every = (double)w->cfg.statedb_checkpoint_interval_s;
        ev_timer_init(&D.checkpoint, on_checkpoint, every, every);
        ev_timer_start(w->loop, &D.checkpoint);
    }
    double prune_every = (double)w->cfg.statedb_prune_interval_s;
    ev_timer_init(&D.prune, on_prune, prune_every, prune_every);
    ev_timer_start(w->loop, &D.prune);
    worker_ready(w);
    return 0;
}

static void statedb_stop(struct worker *w)
{
    /* Answer what is queued, then a checkpoint of the final state, then close. */
    on_drained(w->mb, w);
    ev_timer_stop(w->loop, &D.checkpoint);
    ev_timer_stop(w->loop, &D.prune);
    take_checkpoint("shutdown");
    statedb_queue_free(&D.q);
    store_close(D.st);
    D.st = NULL;
    worker_exit_loop(w);
}

/* RocksDB's file and thread work on top of the common allow-list. */
static const char *const statedb_syscalls[] = {
    "fsync",
    "fdatasync",
    "sync_file_range",
    "fallocate",
    "ftruncate",
    "truncate",
    "rename",
    "renameat",
    "renameat2",
    "mkdir",
    "mkdirat",
    "rmdir",
    "link",
    "linkat",
    "symlink",
    "flock",
    "fadvise64",
    "statfs",
    "fstatfs",
    "utimensat",
    "sched_setaffinity",
    "getpriority",
    "setpriority",
    "ioprio_get",
    "ioprio_set",
    "sched_getparam",
    "sched_setscheduler",
    "sched_getscheduler",
    "get_mempolicy",
    "copy_file_range",
    "sendfile",
    "readahead",
    "getcpu",
    NULL,
};
static const struct seccomp_profile statedb_profile = {statedb_syscalls};

static const struct worker_ops ops = {
    .name = "statedb",
    .id = W_STATEDB,
    .seccomp = &statedb_profile,
    .preinit = statedb_preinit,
    .init = statedb_init,
    .stop = statedb_stop,
    .dispatch = rows,
    .ndispatch = ARRAY_LEN(rows),
    .on_drained = on_drained,
};

int main(int argc, char **argv)
{
    return worker_main(argc, argv, &ops, &D);
}
