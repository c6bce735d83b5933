/*
 * chain: the builder's view of the chain (SPEC §9) — the head, every account's next nonce, and
 * the decided blocks waiting to be applied in order. Pure bookkeeping, no I/O: the builder worker
 * loads it from StateDB at start, asks it what to apply next, sends the apply, and reports back.
 *
 * Blocks are applied one at a time, each on the head it names as its parent (StateDB checks the
 * same precondition). A decided block whose parent is not the head waits here (bounded, by
 * height) while the node catches up; one at or below the head is stale and dropped. Safety
 * makes every decided block a block of the one chain, so waiting blocks are eventually applied
 * once the missing ones arrive.
 *
 * The nonce table holds every account the chain has seen (one entry of 28 bytes each): the
 * mempool asks it at each admission. Untrusted bytes never reach this module: blocks come from
 * QBFT once decided (a certificate of a quorum) and are decoded strictly anyway; a block that
 * does not decode is refused (-1), never fatal.
 */
#ifndef AEQUA_BUILDER_CHAIN_H
#define AEQUA_BUILDER_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/crypto.h"
#include "proto/statedb.h"
#include "workers/builder/hmap.h"

#define CHAIN_WAITING_MAX 1024 /* decided blocks held while catching up */
#define CHAIN_RECENT      256  /* hashes of the last blocks applied (stale parents) */

struct chain_waiting {
    uint64_t height;
    uint8_t hash[SDB_HASH_LEN];
    uint8_t parent[SDB_HASH_LEN];
    struct buf bytes;
};

struct chain {
    bool has_head;
    struct sdb_head head;          /* height 0 and a zero hash before the first block */
    struct hmap nonces;            /* struct chain_nonce items by address */
    struct chain_waiting *waiting; /* ascending heights, distinct */
    size_t nwaiting;
    uint8_t lock_hash[SHA256_LEN];
    uint8_t recent[CHAIN_RECENT][SHA256_LEN];
    unsigned nrecent, next_recent;
};

void chain_init(struct chain *c, const uint8_t lock_hash[SHA256_LEN], uint64_t seed);
void chain_free(struct chain *c);

/* The next nonce of an account (0 when the chain never saw it). */
uint64_t chain_nonce(const struct chain *c, const uint8_t from[SDB_ADDR_LEN]);
/* Loading: one stored nonce record (chain family "n" | from -> u64). */
void chain_set_nonce(struct chain *c, const uint8_t from[SDB_ADDR_LEN], uint64_t next);
void chain_set_head(struct chain *c, bool present, const struct sdb_head *h);

/*
 * What applying a block changes: its height, hash and parent, the next nonce of each of its
 * senders (one entry per sender, its last nonce + 1, never below what the chain has), and its tx
 * hashes — an SDB_APPLY_BLOCK request. Release with chain_plan_free. -1 if the bytes are not a
 * block of decodable transactions.
 */
int chain_plan(const struct chain *c, const uint8_t *block, size_t n, struct sdb_block_apply *out);
void chain_plan_free(struct sdb_block_apply *a);
/* The apply succeeded: the head moves and the nonces advance. */
void chain_applied(struct chain *c, const struct sdb_block_apply *a);

enum chain_wait_result {
    CHAIN_WAIT_QUEUED,  /* held until its turn */
    CHAIN_WAIT_STALE,   /* at or below the head: dropped */
    CHAIN_WAIT_FULL,    /* CHAIN_WAITING_MAX blocks wait already: dropped (catch-up refetches) */
    CHAIN_WAIT_INVALID, /* not a block */
};
/* A decided block to apply (copied). A height already waiting keeps the first. */
enum chain_wait_result chain_wait(struct chain *c, uint64_t height, const uint8_t *block, size_t n);
/* The waiting block that can be applied now (its parent is the head), after dropping the stale
 * ones, or NULL. It stays waiting until chain_done_waiting. */
const struct chain_waiting *chain_next(struct chain *c);
void chain_done_waiting(struct chain *c, uint64_t height);
/* True when blocks wait but none builds on the head: blocks are missing (catch up). */
bool chain_behind(struct chain *c);
/* Is hash one of the last CHAIN_RECENT blocks applied here (the head included)? A proposal on
 * such a parent is stale; on an unknown one, this node may be behind. */
bool chain_recent(const struct chain *c, const uint8_t hash[SHA256_LEN]);

#endif
