/*
 * commit: StateDB's group commit (SPEC §8) — every request drained from the mailbox is answered
 * by one call, with every write in ONE RocksDB WriteBatch (synced when [statedb] sync).
 *
 * Order of work inside statedb_group_commit():
 *   1. writes, in request order, each validated against the database AND the writes staged by
 *      earlier requests of the same call:
 *        APPEND_INTENT  new key -> staged, OK; same bytes -> DUPLICATE; different bytes ->
 *                       REFUSED with the stored (or earlier staged) bytes (SPEC §7.5);
 *        PUT_DUTY       new -> OK; same payload -> DUPLICATE (with the stored duty); different
 *                       payload -> CONFLICT (with the stored duty);
 *        PUT_DECIDED    new -> OK; same value -> merged (seals united, certificate and threshold
 *                       signature kept or added): DUPLICATE if nothing new, else OK; different
 *                       value -> CONFLICT (with the stored record);
 *        SET_TSS        no decided record -> NOT_FOUND; no signature in it -> set, OK; the same
 *                       -> DUPLICATE; another -> CONFLICT (the first one stays);
 *      then PRUNE requests (they apply after the other writes of the call);
 *   2. one batch write; if it fails every request that wrote, or relied on a write staged in
 *      this call, is answered ERROR (nothing of it is stored), and state_persist_errors_total
 *      counts the failure;
 *   3. reads (HELLO, GET_*, LOAD_INTENTS, LIST_DUTIES, ITERATE) are answered from the database
 *      after the write, so they see every write of the same call.
 * Every reply's durable flag is true when the store syncs and the write (if any) succeeded.
 * Metrics: state_persist_seconds (the batch write), statedb_batch_size (requests per call),
 * qbft_wal_appends_total{type} (new intents), state_persist_errors_total.
 *
 * The queue helpers hold requests between the mailbox handler and the drain: the worker pushes
 * each envelope (the body is copied and decoded; a malformed body is a protocol violation), then
 * commits the queue once per drain and sends ops[i].out back to ops[i].source / req_id.
 */
#ifndef AEQUA_STATEDB_COMMIT_H
#define AEQUA_STATEDB_COMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "proto/envelope.h"
#include "proto/statedb.h"
#include "workers/statedb/store.h"

struct statedb_out {
    uint16_t type;  /* the reply type */
    uint8_t status; /* enum sdb_status */
    bool durable;
    struct buf body; /* the encoded reply body */
    char err[200];   /* why, when status is SDB_ERROR (for the worker's log) */
};

struct statedb_op {
    struct sdb_req req; /* decoded request (points into body) */
    struct buf body;    /* owned copy of the request body */
    uint64_t req_id;    /* from the envelope, for the reply */
    uint8_t source;
    char trace_id[TRACE_ID_MAX + 1];
    struct statedb_out out; /* filled by statedb_group_commit */
};

/* Answer ops[0..n) (see above); each ops[i].out is reset and filled. */
void statedb_group_commit(struct store *st, struct statedb_op *ops, size_t n);

/* A PRUNE of the decided instances of dtype more than `retention` heights below the highest
 * decided one ([statedb] retention), for the worker's own timer. False: nothing to prune. */
bool statedb_prune_request(struct store *st, uint8_t dtype, uint64_t retention,
                           struct sdb_req *out);
/* After a prune: the pruned key ranges (intents, duties, decided records of the type below the
 * height) are marked for compaction, which RocksDB runs in the background, so the deleted
 * records leave the disk instead of waiting for their files to be compacted by chance. 0, or
 * -1 with RocksDB's reason. */
int statedb_prune_compact(struct store *st, const struct sdb_req *prune, char *err, size_t errsz);

struct statedb_queue {
    struct statedb_op *ops;
    size_t n, cap;
};

/* Copy and decode one request envelope. 0, or -1 if the body is malformed for its type. */
int statedb_queue_push(struct statedb_queue *q, const struct envelope *e);
/* Group-commit everything queued, max_batch requests per WriteBatch (0 = all at once). */
void statedb_queue_commit(struct statedb_queue *q, struct store *st, size_t max_batch);
/* Forget every queued request (after the replies were sent). */
void statedb_queue_clear(struct statedb_queue *q);
void statedb_queue_free(struct statedb_queue *q);
/* Release what an op owns (the queue does this itself). */
void statedb_op_free(struct statedb_op *op);

#endif
