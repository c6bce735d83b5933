/*
 * builder family (0x07xx): what the other workers ask of the builder, the owner of the mempool
 * and of the chain's rules (SPEC §9), and what it tells QBFT.
 *
 *   api   --TX_SUBMIT-->   builder   (signature checked, admitted, persisted, then answered)
 *   api   --TX_GET-->      builder   (pool status, else the chain's tx index in StateDB)
 *   api   --BLOCK_GET-->   builder   (a block of the chain, read from StateDB)
 *   qbft  --BUILD-->       builder   (this node's block for a proposer instance: its input value)
 *   qbft  --VALIDATE-->    builder   (a leader's proposal, before this node PREPAREs it)
 *   qbft  --DECIDED-->     builder   (a decided block, durable: apply it, prune the pool)
 *   builder --SLOT-->      qbft      (slot mode: start the proposer instance of this slot)
 *   builder --HEAD-->      qbft      (the chain's head moved, or a decided block could not be
 *                                     applied because blocks are missing: catch up; also just
 *                                     before every BUILD_REP and VALIDATE_REP)
 *
 * Bodies are msgpack arrays of fixed shape; blocks and txs are opaque bytes here (proto/block.h,
 * proto/tx.h decode them). Decoding is bounded and strict (exact lengths, enumerations in range,
 * no trailing bytes); decoded byte fields point into the body.
 *
 *   TX_SUBMIT      [tx bin]                   TX_SUBMIT_REP   [result, err, hash bin32, detail str]
 *   TX_GET         [hash bin32]               TX_GET_REP      [state, height, nil|tx bin]
 *   BLOCK_GET      [mode, height]             BLOCK_GET_REP   a StateDB GET_BLOCK_REP body
 *                  (mode: proto/statedb.h SDB_BLOCK_AT, SDB_BLOCK_LATEST or SDB_BLOCK_PREV;
 *                  an empty body: the chain cannot be read now)
 *   BUILD          [height, explicit]         BUILD_REP       [result, nil|block bin]
 *                  (explicit: a POSTed duty, whose block is built even when nothing is pending)
 *   VALIDATE       [height, block bin]        VALIDATE_REP    [verdict, reason str]
 *   DECIDED        [height, block bin]
 *   SLOT           [height]
 *   HEAD           [height, hash bin32, behind]   (height 0 and a zero hash: empty chain)
 */
#ifndef AEQUA_PROTO_BUILDER_H
#define AEQUA_PROTO_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

enum builder_msg_type {
    BLD_TX_SUBMIT = 0x0701,     /* api -> builder (request): one tx, canonical bytes */
    BLD_TX_SUBMIT_REP = 0x0702, /* builder -> api (reply): admission result, hash */
    BLD_TX_GET = 0x0703,        /* api -> builder (request): tx hash */
    BLD_TX_GET_REP = 0x0704,    /* builder -> api (reply): pool state, the tx */
    BLD_BUILD = 0x0705,         /* qbft -> builder (request): height */
    BLD_BUILD_REP = 0x0706,     /* builder -> qbft (reply): this node's block, or none */
    BLD_VALIDATE = 0x0707,      /* qbft -> builder (request): height, proposed block */
    BLD_VALIDATE_REP = 0x0708,  /* builder -> qbft (reply): verdict, reason */
    BLD_DECIDED = 0x0709,       /* qbft -> builder: a decided block (its record is durable) */
    BLD_SLOT = 0x070a,          /* builder -> qbft: start the proposer instance of a slot */
    BLD_HEAD = 0x070b,          /* builder -> qbft: the chain's head; behind = catch up */
    BLD_BLOCK_GET = 0x070c,     /* api -> builder (request): a block of the chain */
    BLD_BLOCK_GET_REP = 0x070d, /* builder -> api (reply): StateDB's answer */
};

#define BLD_HASH_LEN   32
#define BLD_TX_MAX     (64u << 10) /* one tx's canonical bytes */
#define BLD_BLOCK_MAX  (2u << 20)  /* one block's canonical bytes (max_block_bytes is below) */
#define BLD_REASON_MAX 64
#define BLD_TX_ERR_MAX 15 /* above any enum tx_err */
#define BLD_HEIGHT_MAX (UINT64_C(1) << 62)

/* TX_SUBMIT_REP: what became of a tx; the names are mempool_in_total's result labels (except
 * unavailable, which is not an admission result: the pool could not persist it). */
enum bld_tx_result {
    BLD_TX_OK = 0,          /* admitted, pending */
    BLD_TX_FUTURE = 1,      /* admitted, queued (a nonce gap) */
    BLD_TX_REPLACED = 2,    /* admitted, replacing a pooled tx of the same (from, nonce) */
    BLD_TX_DUP = 3,         /* already pooled, or the same (from, nonce) without a higher fee */
    BLD_TX_OLD = 4,         /* nonce below the sender's next */
    BLD_TX_UNDERPRICED = 5, /* a replacement whose fee is not price_bump_pct higher */
    BLD_TX_INVALID = 6,     /* does not decode, unknown type, or a bad signature */
    BLD_TX_FULL = 7,        /* the pool (or the sender's share) is full */
    BLD_TX_UNAVAILABLE = 8, /* could not be persisted now (StateDB): try again */
};
#define BLD_TX_RESULTS 9
const char *bld_tx_result_name(unsigned r);

/* TX_GET_REP: where the tx is in this node's pool. */
enum bld_tx_state {
    BLD_TX_UNKNOWN = 0,
    BLD_TX_PENDING = 1,
    BLD_TX_QUEUED = 2,
    BLD_TX_INCLUDED = 3,      /* in the block at height */
    BLD_TX_LOOKUP_FAILED = 4, /* not in the pool, and the chain could not be read now */
};

/* BUILD_REP */
enum bld_build_result {
    BLD_BUILD_OK = 0,     /* the block */
    BLD_BUILD_EMPTY = 1,  /* nothing to propose (no pending tx and empty_blocks off) */
    BLD_BUILD_BEHIND = 2, /* the builder is catching up: no block from it now */
};

/* VALIDATE_REP */
enum bld_verdict {
    BLD_VALID = 0,
    BLD_INVALID = 1, /* reason: a builder_reject_total{type="block"} label */
    BLD_BEHIND = 2,  /* the proposal builds on a block this node has not applied yet */
};

struct bld_tx_submit_rep {
    uint8_t result; /* enum bld_tx_result */
    uint8_t err;    /* invalid: proto/tx.h enum tx_err, the HTTP answer's class */
    uint8_t hash[BLD_HASH_LEN];
    char detail[BLD_REASON_MAX + 1]; /* why, for an error answer */
};

struct bld_tx_get_rep {
    uint8_t state;   /* enum bld_tx_state */
    uint64_t height; /* INCLUDED */
    const uint8_t *tx;
    uint32_t tx_len;
};

/* BUILD_REP, VALIDATE (block with its height), DECIDED */
struct bld_block {
    uint64_t height;
    uint8_t result; /* BUILD_REP: enum bld_build_result */
    const uint8_t *block;
    uint32_t block_len;
};

struct bld_verdict_rep {
    uint8_t verdict; /* enum bld_verdict */
    char reason[BLD_REASON_MAX + 1];
};

struct bld_head {
    uint64_t height;
    uint8_t hash[BLD_HASH_LEN];
    bool behind;
};

/* Each decoder returns 0, or -1 when the body is not exactly one well-formed message. */
void bld_bytes_encode(struct buf *b, const void *p, size_t len); /* TX_SUBMIT */
int bld_bytes_decode(const uint8_t **p, uint32_t *len, uint32_t max, const void *body, size_t n);
void bld_hash_encode(struct buf *b, const uint8_t hash[BLD_HASH_LEN]); /* TX_GET */
int bld_hash_decode(uint8_t hash[BLD_HASH_LEN], const void *body, size_t n);
void bld_block_get_encode(struct buf *b, uint8_t mode, uint64_t height); /* BLOCK_GET */
int bld_block_get_decode(uint8_t *mode, uint64_t *height, const void *body, size_t n);
void bld_height_encode(struct buf *b, uint64_t height); /* SLOT */
int bld_height_decode(uint64_t *height, const void *body, size_t n);
void bld_build_encode(struct buf *b, uint64_t height, bool explicit_duty); /* BUILD */
int bld_build_decode(uint64_t *height, bool *explicit_duty, const void *body, size_t n);

void bld_tx_submit_rep_encode(struct buf *b, const struct bld_tx_submit_rep *r);
int bld_tx_submit_rep_decode(struct bld_tx_submit_rep *r, const void *body, size_t n);
void bld_tx_get_rep_encode(struct buf *b, const struct bld_tx_get_rep *r);
int bld_tx_get_rep_decode(struct bld_tx_get_rep *r, const void *body, size_t n);

/* BUILD_REP: [result, nil|block]; VALIDATE and DECIDED: [height, block]. */
void bld_build_rep_encode(struct buf *b, const struct bld_block *r);
int bld_build_rep_decode(struct bld_block *r, const void *body, size_t n);
void bld_block_encode(struct buf *b, const struct bld_block *r);
int bld_block_decode(struct bld_block *r, const void *body, size_t n);

void bld_verdict_encode(struct buf *b, const struct bld_verdict_rep *r);
int bld_verdict_decode(struct bld_verdict_rep *r, const void *body, size_t n);
void bld_head_encode(struct buf *b, const struct bld_head *h);
int bld_head_decode(struct bld_head *h, const void *body, size_t n);

#endif
