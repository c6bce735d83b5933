/*
 * mempool: the builder's transaction pool (SPEC §9). A container that routes every transaction, by
 * its type, to the plugin that owns the rules of that type (one row of the plugin table in
 * mempool.c: plaintext_v1, plain.c), and that owns the block-level part of building and of
 * validating proposals.
 *
 * Pure core: no I/O, no clocks, no logging. The host (the builder worker, aequactl, tests,
 * benchmarks) passes the chain state in through struct mempool_host and persists what the calls
 * report. Untrusted bytes (a client's or a peer's transaction, a leader's proposal) are never
 * fatal: they get a result or a reason. Allocation failure is fatal (lib/buf).
 *
 * Admission (mempool_admit) of a transaction's canonical bytes, in order:
 *   1. the type is known and the bytes decode strictly (else invalid: "invalid tx", "unknown tx
 *      type" or "tx too large");
 *   2. a pooled transaction with the same hash: dup, without checking the signature again;
 *   3. the stateless checks: signature (else invalid, "bad signature"), gas at most
 *      max_block_gas and the transaction fits an empty block (else invalid: it could never be
 *      included, and as the highest-fee head it would stop every block);
 *   4. the plugin's pool rules (plain.c): ok, future, dup, replaced, underpriced, old, full.
 * Transactions that leave the pool are reported in struct mempool_removed so the host deletes
 * them from the database in the same batch that stores the newcomer.
 *
 * Persistence. The host stores each admitted transaction's canonical bytes (tx->wire) under its
 * hash (StateDB family mempool) before it answers, and deletes every hash a call reports removed.
 * After a restart it calls mempool_restore for each stored value (any order; signatures are not
 * verified again) and then mempool_restore_done once; see plain.c for what state comes back.
 *
 * Blocks. mempool_build selects by the canonical rule (plain.c) within the block caps and
 * encodes the block (proto/block). mempool_validate_block checks a proposal, reason by reason
 * (enum block_reject, in the order listed there). mempool_on_decided prunes the pool after a
 * block is decided; the host must have stored the block and advanced its chain nonces (the pool
 * also advances each sender past the block's nonces itself).
 */
#ifndef AEQUA_BUILDER_MEMPOOL_H
#define AEQUA_BUILDER_MEMPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "proto/block.h"
#include "proto/tx.h"

struct mempool_config {
    uint8_t lock_hash[SHA256_LEN];
    uint32_t max_tx_data;    /* bytes of data per transaction */
    uint64_t price_bump_pct; /* a replacement pays at least this many percent more */
    uint64_t account_slots;  /* pending per sender */
    uint64_t account_queue;  /* queued per sender */
    uint64_t global_slots;   /* pending in all */
    uint64_t global_queue;   /* queued in all */
    uint64_t max_block_txs;
    uint64_t max_block_gas;
    uint64_t max_block_bytes;
    uint64_t seed; /* hash-table seed: random in the worker, anything in tests */
};

/* The [builder] keys of cfg, this cluster's lock_hash and a seed. */
void mempool_config_from(struct mempool_config *mc, const struct config *cfg,
                         const uint8_t lock_hash[SHA256_LEN], uint64_t seed);

struct mempool_host {
    /* The next nonce of an account in the chain state (0 for an account never seen). */
    uint64_t (*chain_nonce)(void *ctx, const uint8_t from[TX_ADDR_LEN]);
    void *ctx;
};

/* Admission results: the values of mempool_in_total{result}. */
enum mempool_result {
    MEMPOOL_OK,          /* "ok": pending */
    MEMPOOL_FUTURE,      /* "future": queued */
    MEMPOOL_DUP,         /* "dup" */
    MEMPOOL_REPLACED,    /* "replaced": it took the place of a pooled tx with the same nonce */
    MEMPOOL_UNDERPRICED, /* "underpriced": same nonce, fee higher but not by price_bump_pct */
    MEMPOOL_OLD,         /* "old": nonce below the chain's */
    MEMPOOL_INVALID,     /* "invalid" */
    MEMPOOL_FULL,        /* "full" */
    MEMPOOL_RESULT_COUNT,
};

const char *mempool_result_name(enum mempool_result r);

enum mempool_state {
    MEMPOOL_PENDING, /* "pending": includable now */
    MEMPOOL_QUEUED,  /* "queued": waits for a lower nonce or a slot */
};

const char *mempool_state_name(enum mempool_state s);

/* Why a transaction left the pool. */
enum mempool_removal {
    MEMPOOL_RM_REPLACED, /* a fee bump took its place */
    MEMPOOL_RM_EVICTED,  /* the pool was full and a better-paying transaction came */
    MEMPOOL_RM_INCLUDED, /* in a decided block */
    MEMPOOL_RM_OLD,      /* its nonce is now below the chain's */
};

struct mempool_removed_tx {
    uint8_t hash[SHA256_LEN];
    enum mempool_removal why;
};

/* A growable list; the caller owns it (zero-initialise, reset between calls as it likes). */
struct mempool_removed {
    struct mempool_removed_tx *v;
    size_t n, cap;
};

void mempool_removed_add(struct mempool_removed *rm, const uint8_t hash[SHA256_LEN],
                         enum mempool_removal why);
void mempool_removed_free(struct mempool_removed *rm);

struct mempool_outcome {
    enum mempool_result result;
    struct tx_error err;      /* MEMPOOL_INVALID: class (the HTTP answer) and detail */
    bool has_hash;            /* the transaction decoded */
    uint8_t hash[SHA256_LEN]; /* its hash when has_hash */
    enum mempool_state state; /* OK, FUTURE, REPLACED: where it is now */
};

/* The caps of one block and what has been taken of them. */
struct block_budget {
    uint64_t max_txs, max_gas, max_bytes;
    uint64_t txs, gas, bytes; /* bytes: of the whole encoding so far (header included) */
};

/* A budget for an empty block with this header. */
void block_budget_init(struct block_budget *b, const struct mempool_config *cfg,
                       const struct block_header *h);
bool block_budget_fits(const struct block_budget *b, uint32_t tx_len, uint64_t gas);
void block_budget_take(struct block_budget *b, uint32_t tx_len, uint64_t gas);

/* A growable list of transactions (not owned). */
struct tx_list {
    const struct tx **v;
    size_t n, cap;
};

void tx_list_push(struct tx_list *l, const struct tx *tx);
void tx_list_free(struct tx_list *l);

/* What a proposal is checked against. */
struct block_expect {
    uint8_t parent_hash[SHA256_LEN]; /* the last decided block's hash (BLOCK_GENESIS_PARENT) */
    uint64_t parent_height;          /* its height (0 before the first block) */
    uint64_t height;                 /* the instance's height; 0 accepts any above the parent */
    uint32_t operators;              /* the lock's n: proposer must be below it */
};

/*
 * A plugin: the rules of one transaction type. Every function gets the plugin's own state
 * (created by create). admit, restore and on_decided take ownership of the transactions they
 * are given that they keep; the rest they free.
 */
struct mempool_plugin {
    const char *name;
    enum tx_type type;
    void *(*create)(const struct mempool_config *cfg, const struct mempool_host *host);
    void (*destroy)(void *pool);
    /* strict decode of one transaction's canonical bytes */
    int (*decode)(const struct mempool_config *cfg, const uint8_t *p, size_t n, struct tx **out,
                  struct tx_error *err);
    /* stateless checks (signature, config limits): 0, or -1 with err */
    int (*validate)(const struct mempool_config *cfg, const struct tx *tx, struct tx_error *err);
    const struct tx *(*find)(const void *pool, const uint8_t hash[SHA256_LEN],
                             enum mempool_state *state);
    enum mempool_result (*admit)(void *pool, struct tx *tx, struct mempool_outcome *o,
                                 struct mempool_removed *rm);
    void (*restore)(void *pool, struct tx *tx, struct mempool_removed *rm);
    void (*restore_done)(void *pool, struct mempool_removed *rm);
    /* append the canonical selection within the budget */
    void (*select)(void *pool, struct block_budget *b, struct tx_list *out);
    /* check a proposal's run of this type (decoded, in block order) */
    enum block_reject (*validate_selection)(void *pool, struct tx *const *txs, size_t n,
                                            struct block_budget *b);
    void (*on_decided)(void *pool, struct tx *const *txs, size_t n, struct mempool_removed *rm);
    void (*size)(const void *pool, size_t *pending, size_t *queued);
};

struct mempool;

struct mempool *mempool_new(const struct mempool_config *cfg, const struct mempool_host *host);
void mempool_free(struct mempool *mp);

/* Admit untrusted canonical bytes (API or gossip). Fills *o; returns o->result. */
enum mempool_result mempool_admit(struct mempool *mp, const uint8_t *p, size_t n,
                                  struct mempool_outcome *o, struct mempool_removed *rm);

/* Restart: one stored transaction (no signature check). -1 if it no longer decodes under this
 * configuration (the host deletes it). Then mempool_restore_done once. */
int mempool_restore(struct mempool *mp, const uint8_t *p, size_t n, struct mempool_removed *rm);
void mempool_restore_done(struct mempool *mp, struct mempool_removed *rm);

/* The pooled transaction with this hash and its state, or NULL. Valid until the next call that
 * changes the pool. */
const struct tx *mempool_find(const struct mempool *mp, const uint8_t hash[SHA256_LEN],
                              enum mempool_state *state);

/* mempool_size{state} */
void mempool_size(const struct mempool *mp, size_t *pending, size_t *queued);

struct mempool_build_info {
    uint64_t txs, gas, bytes;
};

/* Build the block for header h from the pool (the pool is not changed) into out. */
void mempool_build(struct mempool *mp, const struct block_header *h, struct buf *out,
                   struct mempool_build_info *info);

/* Check a proposal (untrusted bytes) against the chain (host) and e. */
enum block_reject mempool_validate_block(struct mempool *mp, const uint8_t *p, size_t n,
                                         const struct block_expect *e);

/* Prune after a decided block (bytes as stored). -1 if they are not a block of decodable
 * transactions (the host's bug: it stored them). */
int mempool_on_decided(struct mempool *mp, const uint8_t *p, size_t n, struct mempool_removed *rm);

#endif
