/*
 * block: the sequencer's blocks (SPEC §9) — canonical encoding, block hash, JSON, the exact size
 * arithmetic a builder needs to respect max_block_bytes, and the reasons a proposal is refused.
 *
 * A block is {height, parent_hash, proposer, txs}. Canonical encoding (msgpack):
 *   [height (uint, 1..2^62), parent_hash (bin 32), proposer (uint, operator index), txs (array of
 *    bin: each one transaction's canonical bytes, proto/tx)]
 * Every item in the shortest form (what block_encode writes). block_hash = SHA-256 of these
 * bytes. The first block's parent_hash is 32 zero bytes (BLOCK_GENESIS_PARENT), its parent
 * height 0. Transactions stay opaque bytes here: each is decoded by its type's code (tx_decode),
 * so the block codec does not change when a transaction type is added.
 *
 * block_decode is strict and bounded (untrusted input): exact array lengths, every declared
 * length checked against the remaining bytes, at most max_txs transactions (checked before the
 * slice array is allocated), no trailing bytes, and the bytes must be exactly what block_encode
 * writes for the decoded fields. Pure: no I/O, no logging; allocation failure is fatal.
 */
#ifndef AEQUA_PROTO_BLOCK_H
#define AEQUA_PROTO_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/crypto.h"

#define BLOCK_HEIGHT_MAX (UINT64_C(1) << 62) /* inclusive, like a duty's height */

extern const uint8_t BLOCK_GENESIS_PARENT[SHA256_LEN];

struct block_header {
    uint64_t height;
    uint8_t parent_hash[SHA256_LEN];
    uint32_t proposer;
};

struct block_txref {
    const uint8_t *p; /* into the decoded bytes */
    uint32_t len;
};

struct block {
    struct block_header h;
    uint32_t ntxs;
    struct block_txref *txs; /* ntxs slices, owned */
};

enum block_decode_err {
    BLOCK_DECODE_OK = 0,
    BLOCK_DECODE_MALFORMED,    /* not a canonical block */
    BLOCK_DECODE_TOO_MANY_TXS, /* well-formed up to a tx count above max_txs */
};

/* Decode untrusted bytes; the slices point into p, which must outlive b. On failure b holds
 * nothing; block_free is safe either way. */
enum block_decode_err block_decode(struct block *b, const uint8_t *p, size_t n, uint32_t max_txs);
void block_free(struct block *b);

/* Encoding in two steps: the header and the tx count, then each transaction's bytes. */
void block_encode_begin(struct buf *out, const struct block_header *h, uint32_t ntxs);
void block_encode_tx(struct buf *out, const uint8_t *tx, uint32_t len);

void block_hash(uint8_t out[SHA256_LEN], const uint8_t *p, size_t n);

/* Size arithmetic: a block's encoding is exactly block_fixed_size(h) +
 * block_txs_header_size(ntxs) + the sum of block_tx_item_size over its transactions. */
size_t block_fixed_size(const struct block_header *h);
size_t block_txs_header_size(uint64_t ntxs);
size_t block_tx_item_size(uint32_t tx_len);

/*
 * Append the block's JSON members, without braces, for GET /v1/block/... (the caller adds
 * certificate, seals and tss_signature and the braces):
 *   "height":H,"block_hash":"<hex>","parent_hash":"<hex>","proposer":I,"txs":[<tx JSON with hash>]
 * p is a stored, decided block; its transactions are decoded with lock_hash and TX_DATA_LIMIT.
 * 0, or -1 (nothing appended) if the bytes are not a block of valid transactions.
 */
int block_json_members(const uint8_t *p, size_t n, const uint8_t lock_hash[SHA256_LEN],
                       struct buf *out);

/*
 * Why a proposal is refused (builder_reject_total{type="block",reason}), in the order the
 * checks run. The names are the metric label values.
 */
enum block_reject {
    BLOCK_OK = 0,
    BLOCK_REJECT_TOO_MANY_BYTES, /* "too_many_bytes": encoding above max_block_bytes */
    BLOCK_REJECT_DECODE,         /* "decode": not a canonical block */
    BLOCK_REJECT_TOO_MANY_TXS,   /* "too_many_txs": above max_block_txs */
    BLOCK_REJECT_HEIGHT,         /* "height": not the instance's height or not above the parent */
    BLOCK_REJECT_PARENT,         /* "parent": parent_hash is not the last decided block's */
    BLOCK_REJECT_PROPOSER,       /* "proposer": not an operator index of the lock */
    BLOCK_REJECT_TX_TYPE,        /* "tx_type": a transaction of an unknown type */
    BLOCK_REJECT_TX_DECODE,      /* "tx_decode": a transaction does not decode */
    BLOCK_REJECT_TOO_MUCH_GAS,   /* "too_much_gas": the gas sum is above max_block_gas */
    BLOCK_REJECT_DUPLICATE_TX,   /* "duplicate_tx": the same transaction twice */
    BLOCK_REJECT_NONCE,          /* "nonce": a sender's nonces are not the next from the chain */
    BLOCK_REJECT_ORDER,          /* "order": not the canonical order of the block's own set */
    BLOCK_REJECT_SIGNATURE,      /* "signature": a transaction's signature does not verify */
    BLOCK_REJECT_COUNT,
};

/* The label of a reason ("ok" for BLOCK_OK), or NULL outside the enum. */
const char *block_reject_name(enum block_reject r);

#endif
