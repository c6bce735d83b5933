/*
 * block: codec, hash, JSON. The canonical check compares the decoded header's encoding with the
 * input's prefix and each transaction item's length with its shortest form, which together pin
 * every byte to what block_encode writes.
 */
#include "proto/block.h"
#include "lib/mp.h"
#include "lib/util.h"
#include "proto/tx.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const uint8_t BLOCK_GENESIS_PARENT[SHA256_LEN] = {0};

static const char *const reject_names[BLOCK_REJECT_COUNT] = {
    [BLOCK_OK] = "ok",
    [BLOCK_REJECT_TOO_MANY_BYTES] = "too_many_bytes",
    [BLOCK_REJECT_DECODE] = "decode",
    [BLOCK_REJECT_TOO_MANY_TXS] = "too_many_txs",
    [BLOCK_REJECT_HEIGHT] = "height",
    [BLOCK_REJECT_PARENT] = "parent",
    [BLOCK_REJECT_PROPOSER] = "proposer",
    [BLOCK_REJECT_TX_TYPE] = "tx_type",
    [BLOCK_REJECT_TX_DECODE] = "tx_decode",
    [BLOCK_REJECT_TOO_MUCH_GAS] = "too_much_gas",
    [BLOCK_REJECT_DUPLICATE_TX] = "duplicate_tx",
    [BLOCK_REJECT_NONCE] = "nonce",
    [BLOCK_REJECT_ORDER] = "order",
    [BLOCK_REJECT_SIGNATURE] = "signature",
};

const char *block_reject_name(enum block_reject r)
{
    return (unsigned)r < BLOCK_REJECT_COUNT ? reject_names[r] : NULL;
}

/* ---- sizes (msgpack's shortest forms, as msgpack-c's packer writes them) ---- */

static size_t uint_size(uint64_t v)
{
    return v < 0x80 ? 1 : v <= UINT8_MAX ? 2 : v <= UINT16_MAX ? 3 : v <= UINT32_MAX ? 5 : 9;
}

size_t block_fixed_size(const struct block_header *h)
{
    return 1 + uint_size(h->height) + 2 + SHA256_LEN + uint_size(h->proposer);
}

size_t block_txs_header_size(uint64_t ntxs)
{
    return ntxs < 16 ? 1 : ntxs <= UINT16_MAX ? 3 : 5;
}

size_t block_tx_item_size(uint32_t tx_len)
{
    return (tx_len <= UINT8_MAX ? 2 : tx_len <= UINT16_MAX ? 3 : 5) + (size_t)tx_len;
}

/* ---- encoding ---- */

void block_encode_begin(struct buf *out, const struct block_header *h, uint32_t ntxs)
{
    mp_w_array(out, 4);
    mp_w_uint(out, h->height);
    mp_w_bin(out, h->parent_hash, SHA256_LEN);
    mp_w_uint(out, h->proposer);
    mp_w_array(out, ntxs);
}

void block_encode_tx(struct buf *out, const uint8_t *tx, uint32_t len)
{
    mp_w_bin(out, tx, len);
}

void block_hash(uint8_t out[SHA256_LEN], const uint8_t *p, size_t n)
{
    sha256(out, p, n);
}

/* ---- decoding ---- */

void block_free(struct block *b)
{
    free(b->txs);
    memset(b, 0, sizeof(*b));
}

enum block_decode_err block_decode(struct block *b, const uint8_t *p, size_t n, uint32_t max_txs)
{
    struct mp_reader r;
    uint32_t count = 0;
    memset(b, 0, sizeof(*b));
    mp_reader_init(&r, p, n);
    mp_expect_array(&r, 4);
    mp_read_uint_max(&r, BLOCK_HEIGHT_MAX, &b->h.height);
    mp_read_bin_exact(&r, b->h.parent_hash, SHA256_LEN);
    mp_read_u32(&r, &b->h.proposer);
    mp_read_array(&r, &count); /* count <= remaining bytes: the allocation below is bounded */
    if (r.err)
        return BLOCK_DECODE_MALFORMED;
    if (count > max_txs)
        return BLOCK_DECODE_TOO_MANY_TXS;

    /* The header (with the count) must be exactly what block_encode_begin writes. */
    struct buf head = BUF_INIT;
    block_encode_begin(&head, &b->h, count);
    bool canonical = head.len == (size_t)(r.p - p) && memcmp(head.data, p, head.len) == 0;
    buf_free(&head);
    if (!canonical)
        return BLOCK_DECODE_MALFORMED;

    b->txs = xcalloc(count ? count : 1, sizeof(*b->txs));
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *at = r.p;
        if (mp_read_bin(&r, &b->txs[i].p, &b->txs[i].len, UINT32_MAX) < 0 ||
            (size_t)(r.p - at) != block_tx_item_size(b->txs[i].len)) {
            block_free(b);
            return BLOCK_DECODE_MALFORMED;
        }
    }
    if (!mp_reader_done(&r)) {
        block_free(b);
        return BLOCK_DECODE_MALFORMED;
    }
    b->ntxs = count;
    return BLOCK_DECODE_OK;
}

/* ---- JSON ---- */

static void append_hex(struct buf *out, const void *p, size_t n)
{
    buf_reserve(out, 2 * n + 1);
    hex_encode((char *)out->data + out->len, p, n);
    out->len += 2 * n;
}

int block_json_members(const uint8_t *p, size_t n, const uint8_t lock_hash[SHA256_LEN],
                       struct buf *out)
{
    struct block b;
    uint8_t hash[SHA256_LEN];
    size_t start = out->len;
    if (block_decode(&b, p, n, UINT32_MAX) != BLOCK_DECODE_OK)
        return -1;
    block_hash(hash, p, n);
    buf_printf(out, "\"height\":%llu,\"block_hash\":\"", (unsigned long long)b.h.height);
    append_hex(out, hash, SHA256_LEN);
    buf_append_str(out, "\",\"parent_hash\":\"");
    append_hex(out, b.h.parent_hash, SHA256_LEN);
    buf_printf(out, "\",\"proposer\":%u,\"txs\":[", b.h.proposer);
    for (uint32_t i = 0; i < b.ntxs; i++) {
        struct tx *tx;
        if (tx_decode(b.txs[i].p, b.txs[i].len, TX_DATA_LIMIT, lock_hash, &tx, NULL) < 0) {
            block_free(&b);
            out->len = start;
            if (out->data)
                out->data[start] = 0;
            return -1;
        }
        if (i)
            buf_append_str(out, ",");
        tx_json(tx, TX_JSON_HASH, out);
        tx_free(tx);
    }
    buf_append_str(out, "]");
    block_free(&b);
    return 0;
}
