/*
 * record: the StateDB schema — how keys and values are laid out in RocksDB (schema version 1).
 * Pure functions, no I/O; the store, the group commit and `aequactl wal dump` share them.
 *
 * Column families and their keys (all integers big-endian, so that RocksDB's bytewise order is
 * the numeric order and one instance's records are contiguous):
 *
 *   meta     "schema"      -> u32 schema version (RECORD_SCHEMA)
 *            "lock_hash"   -> 32 bytes, the cluster lock hash this database belongs to
 *            "node_index"  -> u64, the operator index of this node
 *            "created_ms"  -> u64, wall clock of creation
 *            "fallback"    -> msgpack [recovered_ms, checkpoint_ms, detail]: present once the
 *                             database was restored from a checkpoint (kept for good: QBFT
 *                             must know that votes of that era may be missing)
 *   wal      dtype u8 | height u64 | round u32 | mtype u8  (14 bytes; mtype is the QBFT
 *                          message type minus one: PRE-PREPARE 0 ... DECIDED 4, see record.c)
 *                          -> the exact signed message bytes of that vote intent
 *   duties   dtype u8 | height u64  (9 bytes)
 *                          -> msgpack [payload bin, trace_id str, accepted_ms]
 *   decided  dtype u8 | height u64  (9 bytes)
 *                          -> msgpack [round, value bin, [cert msg bin...],
 *                                      [[index, sig bin64]...], tss bin, decided_ms]
 *   mempool  tx hash (32)  -> the builder plugin's pool record (opaque, 1..SDB_TX_RECORD_MAX)
 *   chain    "h"                    -> head: height u64 | block hash (32)
 *            "b" | height u64       -> block hash (32): the height is a block of the chain; the
 *                                      block's bytes, certificate and seals are its decided
 *                                      record (proposer, height)
 *            "n" | from (20)        -> u64, the sender's next nonce
 *            "t" | tx hash (32)     -> u64, the height of the block that includes the tx
 *
 * Record decoders are strict and bounded: a database file is trusted no more than a message.
 */
#ifndef AEQUA_DB_RECORD_H
#define AEQUA_DB_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "proto/statedb.h"

#define RECORD_SCHEMA       1
#define RECORD_WAL_KEY_LEN  14
#define RECORD_INST_KEY_LEN 9
#define RECORD_LOCK_HASH    32
/* The longest key of any family (chain "t" | hash). */
#define RECORD_KEY_MAX 33

#define RECORD_CHAIN_HEAD  SDB_CHAIN_HEAD_KEY
#define RECORD_CHAIN_BLOCK SDB_CHAIN_BLOCK_KEY
#define RECORD_CHAIN_NONCE SDB_CHAIN_NONCE_KEY
#define RECORD_CHAIN_TX    SDB_CHAIN_TX_KEY
#define RECORD_HEAD_LEN    (8 + SDB_HASH_LEN)

#define RECORD_META_SCHEMA     "schema"
#define RECORD_META_LOCK_HASH  "lock_hash"
#define RECORD_META_NODE_INDEX "node_index"
#define RECORD_META_CREATED    "created_ms"
#define RECORD_META_FALLBACK   "fallback"

/* ---- keys ---- */
void record_wal_key(uint8_t out[RECORD_WAL_KEY_LEN], const struct sdb_intent_key *k);
/* A bound below every WAL key of the instance (dtype, height): for range scans and deletes. */
void record_wal_first(uint8_t out[RECORD_WAL_KEY_LEN], uint8_t dtype, uint64_t height);
/* 0, or -1 if the key is not a valid WAL key. */
int record_wal_key_parse(struct sdb_intent_key *k, const void *key, size_t len);
void record_inst_key(uint8_t out[RECORD_INST_KEY_LEN], uint8_t dtype, uint64_t height);
int record_inst_key_parse(uint8_t *dtype, uint64_t *height, const void *key, size_t len);

/* Chain keys; each returns the key's length. */
size_t record_chain_block_key(uint8_t out[RECORD_KEY_MAX], uint64_t height);
size_t record_chain_nonce_key(uint8_t out[RECORD_KEY_MAX], const uint8_t from[SDB_ADDR_LEN]);
size_t record_chain_tx_key(uint8_t out[RECORD_KEY_MAX], const uint8_t hash[SDB_HASH_LEN]);
void record_head_encode(uint8_t out[RECORD_HEAD_LEN], const struct sdb_head *h);
int record_head_decode(struct sdb_head *h, const void *val, size_t len);
/* Shape of one record of the chain / mempool family: 0, or -1 if malformed. */
int record_chain_check(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen);
int record_mempool_check(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen);

void record_put_u32(uint8_t out[4], uint32_t v);
void record_put_u64(uint8_t out[8], uint64_t v);
uint32_t record_get_u32(const uint8_t p[4]);
uint64_t record_get_u64(const uint8_t p[8]);

/* ---- values ---- */
/* The key fields (dtype, height) of d are not part of the value. */
void record_duty_encode(struct buf *b, const struct sdb_duty *d);
/* Zero-copy into val; dtype/height are taken from the arguments. 0 or -1. */
int record_duty_decode(struct sdb_duty *d, uint8_t dtype, uint64_t height, const void *val,
                       size_t len);
/* Same duty for idempotency: the payload bytes alone decide (trace id and time are the
 * first acceptance's). */
bool record_duty_same(const struct sdb_duty *a, const struct sdb_duty *b);

void record_decided_encode(struct buf *b, const struct sdb_decided *d);
/* Allocates d->cert and d->seals: release with record_decided_free(). */
int record_decided_decode(struct sdb_decided *d, uint8_t dtype, uint64_t height, const void *val,
                          size_t len);
void record_decided_free(struct sdb_decided *d);

enum record_merge { RECORD_MERGE_SAME, RECORD_MERGE_CHANGED, RECORD_MERGE_CONFLICT };
/*
 * Merge an incoming decided record into the stored one. A decided value never changes: a
 * different value is a conflict. Otherwise the stored round, certificate and time stay (any valid
 * certificate will do), seals are the union by operator index (stored first), and a threshold
 * signature is added if there was none. out shares byte pointers with both inputs; its seals go
 * into seal_space (SDB_SEALS_MAX entries).
 */
enum record_merge record_decided_merge(const struct sdb_decided *stored,
                                       const struct sdb_decided *in, struct sdb_decided *out,
                                       struct sdb_seal *seal_space);

void record_fallback_encode(struct buf *b, uint64_t recovered_ms, uint64_t checkpoint_ms,
                            const char *detail);
int record_fallback_decode(struct sdb_hello_info *h, const void *val, size_t len);

#endif
