#include "proto/builder.h"
#include "lib/mp.h"
#include "proto/statedb.h"

#include <stdbool.h>
#include <string.h>

static const char *const tx_result_names[BLD_TX_RESULTS] = {
    "ok", "future", "replaced", "dup", "old", "underpriced", "invalid", "full", "unavailable",
};

const char *bld_tx_result_name(unsigned r)
{
    return r < BLD_TX_RESULTS ? tx_result_names[r] : NULL;
}

/* A strict single-message decode: the body is exactly what rd consumed. */
static int finish(struct mp_reader *rd)
{
    return mp_reader_done(rd) ? 0 : -1;
}

void bld_bytes_encode(struct buf *b, const void *p, size_t len)
{
    mp_w_array(b, 1);
    mp_w_bin(b, p, len);
}

int bld_bytes_decode(const uint8_t **p, uint32_t *len, uint32_t max, const void *body, size_t n)
{
    struct mp_reader rd;
    mp_reader_init(&rd, body, n);
    mp_expect_array(&rd, 1);
    mp_read_bin(&rd, p, len, max);
    if (!rd.err && *len == 0)
        mp_fail(&rd);
    return finish(&rd);
}

void bld_hash_encode(struct buf *b, const uint8_t hash[BLD_HASH_LEN])
{
    mp_w_array(b, 1);
    mp_w_bin(b, hash, BLD_HASH_LEN);
}

int bld_hash_decode(uint8_t hash[BLD_HASH_LEN], const void *body, size_t n)
{
    struct mp_reader rd;
    mp_reader_init(&rd, body, n);
    mp_expect_array(&rd, 1);
    mp_read_bin_exact(&rd, hash, BLD_HASH_LEN);
    return finish(&rd);
}

void bld_block_get_encode(struct buf *b, uint8_t mode, uint64_t height)
{
    mp_w_array(b, 2);
    mp_w_uint(b, mode);
    mp_w_uint(b, height);
}

int bld_block_get_decode(uint8_t *mode, uint64_t *height, const void *body, size_t n)
{
    struct mp_reader rd;
    uint64_t m = 0;
    mp_reader_init(&rd, body, n);
    mp_expect_array(&rd, 2);
    /* SDB_BLOCK_AT, SDB_BLOCK_LATEST or SDB_BLOCK_PREV */
    if (mp_read_uint_max(&rd, SDB_BLOCK_PREV, &m) == 0 && m > SDB_BLOCK_LATEST &&
        m != SDB_BLOCK_PREV)
        mp_fail(&rd);
    mp_read_uint_max(&rd, BLD_HEIGHT_MAX, height);
    *mode = (uint8_t)m;
    return finish(&rd);
}

void bld_height_encode(struct buf *b, uint64_t height)
{
    mp_w_array(b, 1);
    mp_w_uint(b, height);
}

int bld_height_decode(uint64_t *height, const void *body, size_t n)
{
    struct mp_reader rd;
    mp_reader_init(&rd, body, n);
    mp_expect_array(&rd, 1);
    mp_read_uint_max(&rd, BLD_HEIGHT_MAX, height);
    return finish(&rd);
}

void bld_build_encode(struct buf *b, uint64_t height, bool explicit_duty)
{
    mp_w_array(b, 2);
    mp_w_uint(b, height);
    mp_w_bool(b, explicit_duty);
}

int bld_build_decode(uint64_t *height, bool *explicit_duty, const void *body, size_t n)
{
    struct mp_reader rd;
    mp_reader_init(&rd, body, n);
    mp_expect_array(&rd, 2);
    mp_read_uint_max(&rd, BLD_HEIGHT_MAX, height);
    mp_read_bool(&rd, explicit_duty);
    return finish(&rd);
}

void bld_tx_submit_rep_encode(struct buf *b, const struct bld_tx_submit_rep *r)
{
    mp_w_array(b, 4);
    mp_w_uint(b, r->result);
    mp_w_uint(b, r->err);
    mp_w_bin(b, r->hash, BLD_HASH_LEN);
    mp_w_cstr(b, r->detail);
}

int bld_tx_submit_rep_decode(struct bld_tx_submit_rep *r, const void *body, size_t n)
{
    struct mp_reader rd;
    uint64_t x = 0;
    memset(r, 0, sizeof(*r));
    mp_reader_init(&rd, body, n);
    mp_expect_array(&rd, 4);
    mp_read_uint_max(&rd, BLD_TX_RESULTS - 1, &x);
    r->result = (uint8_t)x;
    mp_read_uint_max(&rd, BLD_TX_ERR_MAX, &x);
    r->err = (uint8_t)x;
    mp_read_bin_exact(&rd, r->hash, BLD_HASH_LEN);
    mp_read_str_copy(&rd, r->detail, sizeof(r->detail));
    return finish(&rd);
}

void bld_tx_get_rep_encode(struct buf *b, const struct bld_tx_get_rep *r)
{
    mp_w_array(b, 3);
    mp_w_uint(b, r->state);
    mp_w_uint(b, r->height);
    if (r->tx)
        mp_w_bin(b, r->tx, r->tx_len);
    else
        mp_w_nil(b);
}

int bld_tx_get_rep_decode(struct bld_tx_get_rep *r, const void *body, size_t n)
{
    struct mp_reader rd;
    uint64_t x = 0;
    memset(r, 0, sizeof(*r));
    mp_reader_init(&rd, body, n);
    mp_expect_array(&rd, 3);
    mp_read_uint_max(&rd, BLD_TX_LOOKUP_FAILED, &x);
    r->state = (uint8_t)x;
    mp_read_uint_max(&rd, BLD_HEIGHT_MAX, &r->height);
    if (!mp_try_nil(&rd))
        mp_read_bin(&rd, &r->tx, &r->tx_len, BLD_TX_MAX);
    /* a known tx comes with its bytes; an unknown one without */
    bool known =
        r->state == BLD_TX_PENDING || r->state == BLD_TX_QUEUED || r->state == BLD_TX_INCLUDED;
    if (!rd.err && known != (r->tx != NULL))
        mp_fail(&rd);
    return finish(&rd);
}

void bld_build_rep_encode(struct buf *b, const struct bld_block *r)
{
    mp_w_array(b, 2);
    mp_w_uint(b, r->result);
    if (r->result == BLD_BUILD_OK)
        mp_w_bin(b, r->block, r->block_len);
    else
        mp_w_nil(b);
}

int bld_build_rep_decode(struct bld_block *r, const void *body, size_t n)
{
    struct mp_reader rd;
    uint64_t x = 0;
    memset(r, 0, sizeof(*r));
    mp_reader_init(&rd, body, n);
    mp_expect_array(&rd, 2);
    mp_read_uint_max(&rd, BLD_BUILD_BEHIND, &x);
    r->result = (uint8_t)x;
    if (!mp_try_nil(&rd))
        mp_read_bin(&rd, &r->block, &r->block_len, BLD_BLOCK_MAX);
    if (!rd.err && (r->result == BLD_BUILD_OK) != (r->block != NULL))
        mp_fail(&rd);
    return finish(&rd);
}

void bld_block_encode(struct buf *b, const struct bld_block *r)
{
    mp_w_array(b, 2);
    mp_w_uint(b, r->height);
    mp_w_bin(b, r->block, r->block_len);
}

int bld_block_decode(struct bld_block *r, const void *body, size_t n)
{
    struct mp_reader rd;
    memset(r, 0, sizeof(*r));
    mp_reader_init(&rd, body, n);
    mp_expect_array(&rd, 2);
    mp_read_uint_max(&rd, BLD_HEIGHT_MAX, &r->height);
    mp_read_bin(&rd, &r->block, &r->block_len, BLD_BLOCK_MAX);
    if (!rd.err && r->block_len == 0)
        mp_fail(&rd);
    return finish(&rd);
}

void bld_verdict_encode(struct buf *b, const struct bld_verdict_rep *r)
{
    mp_w_array(b, 2);
    mp_w_uint(b, r->verdict);
    mp_w_cstr(b, r->reason);
}

int bld_verdict_decode(struct bld_verdict_rep *r, const void *body, size_t n)
{
    struct mp_reader rd;
    uint64_t x = 0;
    memset(r, 0, sizeof(*r));
    mp_reader_init(&rd, body, n);
    mp_expect_array(&rd, 2);
    mp_read_uint_max(&rd, BLD_BEHIND, &x);
    r->verdict = (uint8_t)x;
    mp_read_str_copy(&rd, r->reason, sizeof(r->reason));
    return finish(&rd);
}

void bld_head_encode(struct buf *b, const struct bld_head *h)
{
    mp_w_array(b, 3);
    mp_w_uint(b, h->height);
    mp_w_bin(b, h->hash, BLD_HASH_LEN);
    mp_w_bool(b, h->behind);
}

int bld_head_decode(struct bld_head *h, const void *body, size_t n)
{
    struct mp_reader rd;
    memset(h, 0, sizeof(*h));
    mp_reader_init(&rd, body, n);
    mp_expect_array(&rd, 3);
    mp_read_uint_max(&rd, BLD_HEIGHT_MAX, &h->height);
    mp_read_bin_exact(&rd, h->hash, BLD_HASH_LEN);
    mp_read_bool(&rd, &h->behind);
    return finish(&rd);
}
