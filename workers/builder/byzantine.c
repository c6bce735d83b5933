/*
 * byzantine: see byzantine.h. A block is decoded, one or two of its transaction slices are
 * replaced or swapped, and the block is encoded again with the same header.
 */
#include "workers/builder/byzantine.h"
#include "lib/util.h"
#include "proto/block.h"
#include "proto/tx.h"

#include <stdbool.h>
#include <string.h>

static const char *const names[BYZ_MODE_COUNT] = {
    [BYZ_BAD_SIGNATURE] = "bad_signature",
    [BYZ_NONCE_GAP] = "nonce_gap",
    [BYZ_WRONG_ORDER] = "wrong_order",
};

const char *byzantine_mode_name(enum byzantine_mode m)
{
    return (unsigned)m < BYZ_MODE_COUNT ? names[m] : NULL;
}

int byzantine_parse(struct byzantine *z, const char *spec)
{
    z->n = 0;
    for (const char *p = spec; *p;) {
        size_t len = strcspn(p, ",");
        enum byzantine_mode m = BYZ_MODE_COUNT;
        for (unsigned i = 0; i < BYZ_MODE_COUNT; i++)
            if (strlen(names[i]) == len && !memcmp(names[i], p, len))
                m = (enum byzantine_mode)i;
        if (m == BYZ_MODE_COUNT || z->n == BYZANTINE_MAX_MODES)
            return -1;
        z->modes[z->n++] = m;
        p += len;
        if (*p == ',' && *++p == 0)
            return -1; /* a trailing comma */
    }
    return z->n ? 0 : -1;
}

enum byzantine_mode byzantine_mode_at(const struct byzantine *z, uint64_t height, unsigned n)
{
    return z->modes[(height / (n ? n : 1)) % z->n];
}

/* The first transaction again, with its nonce or its signature changed. */
static struct tx *changed_first(enum byzantine_mode m, const struct block *b,
                                const uint8_t lock_hash[SHA256_LEN])
{
    struct tx *tx;
    if (tx_decode(b->txs[0].p, b->txs[0].len, TX_DATA_LIMIT, lock_hash, &tx, NULL) < 0)
        return NULL;
    uint8_t sig[TX_SIG_LEN];
    memcpy(sig, tx->sig, TX_SIG_LEN);
    uint64_t nonce = tx->nonce;
    if (m == BYZ_BAD_SIGNATURE)
        sig[31] ^= 1; /* the last bit of r */
    else
        nonce++;
    struct tx *bad =
        tx_plain_new(lock_hash, tx->from, nonce, tx->gas, tx->fee, tx->data, tx->data_len, sig);
    tx_free(tx);
    return bad;
}

/* The index i of the first adjacent pair (i, i + 1) of different senders, or -1. */
static long first_pair(const struct block *b, const uint8_t lock_hash[SHA256_LEN])
{
    uint8_t prev[TX_ADDR_LEN];
    for (uint32_t i = 0; i < b->ntxs; i++) {
        struct tx *tx;
        if (tx_decode(b->txs[i].p, b->txs[i].len, TX_DATA_LIMIT, lock_hash, &tx, NULL) < 0)
            return -1;
        bool differs = i > 0 && memcmp(prev, tx->from, TX_ADDR_LEN) != 0;
        memcpy(prev, tx->from, TX_ADDR_LEN);
        tx_free(tx);
        if (differs)
            return (long)i - 1;
    }
    return -1;
}

int byzantine_corrupt(enum byzantine_mode m, const uint8_t *block, size_t len,
                      const uint8_t lock_hash[SHA256_LEN], struct buf *out)
{
    struct block b;
    if (block_decode(&b, block, len, UINT32_MAX) != BLOCK_DECODE_OK)
        return -1;
    int rc = -1;
    struct tx *bad = NULL;
    long swap = -1;
    if (b.ntxs > 0 && m == BYZ_WRONG_ORDER)
        swap = first_pair(&b, lock_hash);
    else if (b.ntxs > 0)
        bad = changed_first(m, &b, lock_hash);
    if (bad || swap >= 0) {
        if (bad) {
            b.txs[0].p = bad->wire;
            b.txs[0].len = bad->wire_len;
        } else {
            struct block_txref t = b.txs[swap];
            b.txs[swap] = b.txs[swap + 1];
            b.txs[swap + 1] = t;
        }
        buf_reset(out);
        block_encode_begin(out, &b.h, b.ntxs);
        for (uint32_t i = 0; i < b.ntxs; i++)
            block_encode_tx(out, b.txs[i].p, b.txs[i].len);
        rc = 0;
    }
    if (bad)
        tx_free(bad);
    block_free(&b);
    return rc;
}
