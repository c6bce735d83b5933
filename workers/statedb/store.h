/*
 * store: the StateDB worker's hold on the node's database (SPEC §8) — open, bind, verify,
 * recover, checkpoint, and write batches. Reads go through the database handle (lib/db/db.h, the
 * library aequactl shares) that store_db() returns; the layout is lib/db/record.h's.
 *
 * Owns, beside the database directory `path`:
 *   <path>.checkpoints/<wall-ms>/  checkpoints (complete ones only; "<ms>.tmp" is one in progress)
 *   <path>.corrupt-<wall-ms>/      damaged databases moved aside (never deleted)
 *   <path>.restore/                a checkpoint copy being verified during recovery
 *   <path>.lock                    flock held by the read-write owner (one process at a time)
 *   <path>.seqno                   the witness: latest sequence number and MANIFEST size at the
 *                                  last clean open, checkpoint or close; a database found behind
 *                                  it (a MANIFEST cut short, synced writes lost) is damaged
 *
 * Opening (read-write) is pessimistic:
 *   1. open read-only with paranoid checks (a read-only open deletes and rewrites nothing, so a
 *      damaged database is moved aside exactly as found), compare with the witness, then read
 *      every record of every column family with checksum verification and check the shape of
 *      keys, records and meta; only then open read-write;
 *   2. the database must belong to this cluster and node (meta lock_hash, node_index) and have a
 *      schema this build knows, else STORE_E_BINDING (the caller exits 78; nothing is touched);
 *   3. if it cannot be opened because it is corrupt, or the verification fails, or it vanished
 *      while checkpoints exist: each checkpoint, newest first, is copied and verified the same
 *      way; the first usable one replaces the database, which is moved aside; the fallback is
 *      recorded in meta for good (QBFT abstains on instances of that era, SPEC §7.5) and
 *      state_recovery_total{result="fallback"} is counted. No usable checkpoint: nothing is
 *      moved, result="fail", STORE_E_DAMAGED with a message naming what is damaged.
 *   A clean open counts result="ok". Errors that are not damage (lock held by another process,
 *   permissions, disk full) are STORE_E_IO and touch nothing.
 *
 * Checkpoints are real copies (not hard links to the live SST files), so damage to a live file
 * cannot spread into them.
 *
 * Writes go through one batch at a time (atomic; synced when opts.sync). Not thread-safe: one
 * thread uses a store at a time. Functions return errors with a message and never log.
 */
#ifndef AEQUA_STATEDB_STORE_H
#define AEQUA_STATEDB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/db/db.h"
#include "lib/db/record.h"
#include "proto/statedb.h"

enum store_status {
    STORE_OK = 0,
    STORE_E_IO = -1,      /* could not open or write; nothing damaged was detected */
    STORE_E_BINDING = -2, /* another cluster's or node's database, or a newer schema: exit 78 */
    STORE_E_DAMAGED = -3, /* damaged and no usable checkpoint: refuse to start */
};

enum store_recovery { STORE_RECOVERY_OK, STORE_RECOVERY_FALLBACK, STORE_RECOVERY_FAIL };
/* "ok" | "fallback" | "fail": the label of state_recovery_total. */
const char *store_recovery_name(enum store_recovery r);

struct store_opts {
    const char *path;
    const uint8_t *lock_hash; /* RECORD_LOCK_HASH bytes */
    uint64_t node_index;
    bool sync; /* [statedb] sync: every batch is written with sync = true */
    unsigned checkpoints_keep;
    struct db_memory mem; /* [statedb] block_cache_mb, write_buffer_mb */
};

struct store;

/* Open (see above). On error *out is NULL and err says what happened. */
int store_open(struct store **out, const struct store_opts *o, char *err, size_t errsz);
void store_close(struct store *st);

/* How this open went, and the database's meta (including a fallback recorded earlier). */
enum store_recovery store_open_result(const struct store *st);
const struct db_meta *store_meta(const struct store *st);
const char *store_path(const struct store *st);
bool store_sync(const struct store *st);

/* ---- checkpoints ---- */
/* Take a checkpoint now (the worker calls this every checkpoint_interval_s and at clean
 * shutdown); keeps the newest checkpoints_keep. *taken_ms (optional) names it. 0 or -1. */
int store_checkpoint(struct store *st, uint64_t *taken_ms, char *err, size_t errsz);
/* "<path>.checkpoints" */
void store_checkpoint_dir(const char *path, char *out, size_t outsz);
/* Wall-ms names of the complete checkpoints under path, newest first; returns the count (at
 * most max) or -1. */
int store_checkpoint_list(const char *path, uint64_t *names, size_t max);

/* ---- reads ---- */
/* The open database: db_get, db_iter_* (lib/db/db.h). */
const struct db *store_db(const struct store *st);

/* ---- writes ---- */
struct store_batch;
struct store_batch *store_batch_new(struct store *st);
void store_batch_put(struct store_batch *b, enum sdb_cf cf, const void *key, size_t klen,
                     const void *val, size_t vlen);
void store_batch_delete(struct store_batch *b, enum sdb_cf cf, const void *key, size_t klen);
/* Deletes [start, end). */
void store_batch_delete_range(struct store_batch *b, enum sdb_cf cf, const void *start, size_t slen,
                              const void *end, size_t elen);
int store_batch_count(const struct store_batch *b);
/* Write the whole batch atomically (synced when the store syncs). 0 or -1. */
int store_batch_write(struct store_batch *b, char *err, size_t errsz);
void store_batch_free(struct store_batch *b);

struct store_stats {
    uint64_t writes;        /* batches written */
    uint64_t synced_writes; /* of which with sync = true (one WAL fsync each) */
    uint64_t write_errors;
};
void store_get_stats(const struct store *st, struct store_stats *s);

/* Tests only: make the next n batch writes fail as if the disk had. */
void store_inject_write_errors(struct store *st, unsigned n);

#endif
