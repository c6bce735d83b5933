/* Unit tests for the builder family codecs (proto/builder): every message survives a round trip;
 * truncations, trailing bytes, out-of-range enumerations and inconsistent shapes are refused. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mp.h"
#include "proto/builder.h"
#include "proto/statedb.h"

/* Every proper prefix of a well-formed body fails; so does one more byte. */
static void refuse_cuts(int (*dec)(void *, const void *, size_t), void *out, const struct buf *b)
{
    for (size_t n = 0; n < b->len; n++)
        ck_assert_int_eq(dec(out, b->data, n), -1);
    struct buf longer = BUF_INIT;
    buf_append(&longer, b->data, b->len);
    buf_append(&longer, "\xc0", 1);
    ck_assert_int_eq(dec(out, longer.data, longer.len), -1);
    buf_free(&longer);
}

static int dec_submit(void *o, const void *p, size_t n)
{
    return bld_tx_submit_rep_decode(o, p, n);
}
static int dec_get(void *o, const void *p, size_t n)
{
    return bld_tx_get_rep_decode(o, p, n);
}
static int dec_build(void *o, const void *p, size_t n)
{
    return bld_build_rep_decode(o, p, n);
}
static int dec_block(void *o, const void *p, size_t n)
{
    return bld_block_decode(o, p, n);
}
static int dec_verdict(void *o, const void *p, size_t n)
{
    return bld_verdict_decode(o, p, n);
}
static int dec_head(void *o, const void *p, size_t n)
{
    return bld_head_decode(o, p, n);
}

START_TEST(names)
{
    ck_assert_str_eq(bld_tx_result_name(BLD_TX_OK), "ok");
    ck_assert_str_eq(bld_tx_result_name(BLD_TX_UNDERPRICED), "underpriced");
    ck_assert_str_eq(bld_tx_result_name(BLD_TX_UNAVAILABLE), "unavailable");
    ck_assert_ptr_null(bld_tx_result_name(BLD_TX_RESULTS));
}
END_TEST

START_TEST(small_bodies)
{
    struct buf b = BUF_INIT;
    const uint8_t *p;
    uint32_t len;
    bld_bytes_encode(&b, "txbytes", 7);
    ck_assert_int_eq(bld_bytes_decode(&p, &len, BLD_TX_MAX, b.data, b.len), 0);
    ck_assert_uint_eq(len, 7);
    ck_assert_int_eq(memcmp(p, "txbytes", 7), 0);
    ck_assert_int_eq(bld_bytes_decode(&p, &len, 6, b.data, b.len), -1); /* over the max */
    buf_reset(&b);
    bld_bytes_encode(&b, "", 0); /* empty: refused */
    ck_assert_int_eq(bld_bytes_decode(&p, &len, BLD_TX_MAX, b.data, b.len), -1);

    uint8_t h[BLD_HASH_LEN], o[BLD_HASH_LEN];
    memset(h, 0x5a, sizeof(h));
    buf_reset(&b);
    bld_hash_encode(&b, h);
    ck_assert_int_eq(bld_hash_decode(o, b.data, b.len), 0);
    ck_assert_mem_eq(o, h, BLD_HASH_LEN);
    ck_assert_int_eq(bld_hash_decode(o, b.data, b.len - 1), -1);

    uint64_t height;
    buf_reset(&b);
    bld_height_encode(&b, BLD_HEIGHT_MAX);
    ck_assert_int_eq(bld_height_decode(&height, b.data, b.len), 0);
    ck_assert_uint_eq(height, BLD_HEIGHT_MAX);
    buf_reset(&b);
    bld_height_encode(&b, BLD_HEIGHT_MAX + 1);
    ck_assert_int_eq(bld_height_decode(&height, b.data, b.len), -1);
    bool ex = false;
    buf_reset(&b);
    bld_build_encode(&b, 77, true);
    ck_assert_int_eq(bld_build_decode(&height, &ex, b.data, b.len), 0);
    ck_assert_uint_eq(height, 77);
    ck_assert(ex);
    ck_assert_int_eq(bld_build_decode(&height, &ex, b.data, b.len - 1), -1);
    buf_free(&b);
}
END_TEST

START_TEST(replies)
{
    struct buf b = BUF_INIT;
    struct bld_tx_submit_rep s = {.result = BLD_TX_REPLACED}, so;
    memset(s.hash, 7, BLD_HASH_LEN);
    strcpy(s.detail, "replaced a lower fee");
    bld_tx_submit_rep_encode(&b, &s);
    ck_assert_int_eq(bld_tx_submit_rep_decode(&so, b.data, b.len), 0);
    ck_assert_uint_eq(so.result, BLD_TX_REPLACED);
    ck_assert_str_eq(so.detail, "replaced a lower fee");
    refuse_cuts(dec_submit, &so, &b);
    buf_reset(&b);
    s.result = BLD_TX_RESULTS;
    bld_tx_submit_rep_encode(&b, &s);
    ck_assert_int_eq(bld_tx_submit_rep_decode(&so, b.data, b.len), -1);

    struct bld_tx_get_rep g = {.state = BLD_TX_QUEUED, .tx = (const uint8_t *)"t", .tx_len = 1}, go;
    buf_reset(&b);
    bld_tx_get_rep_encode(&b, &g);
    ck_assert_int_eq(bld_tx_get_rep_decode(&go, b.data, b.len), 0);
    ck_assert_uint_eq(go.state, BLD_TX_QUEUED);
    ck_assert_uint_eq(go.tx_len, 1);
    refuse_cuts(dec_get, &go, &b);
    g.tx = NULL; /* a pooled tx without its bytes */
    buf_reset(&b);
    bld_tx_get_rep_encode(&b, &g);
    ck_assert_int_eq(bld_tx_get_rep_decode(&go, b.data, b.len), -1);
    g.state = BLD_TX_UNKNOWN;
    buf_reset(&b);
    bld_tx_get_rep_encode(&b, &g);
    ck_assert_int_eq(bld_tx_get_rep_decode(&go, b.data, b.len), 0);
    g = (struct bld_tx_get_rep){
        .state = BLD_TX_INCLUDED, .height = 42, .tx = (const uint8_t *)"t", .tx_len = 1};
    buf_reset(&b);
    bld_tx_get_rep_encode(&b, &g);
    ck_assert_int_eq(bld_tx_get_rep_decode(&go, b.data, b.len), 0);
    ck_assert_uint_eq(go.height, 42);
    uint8_t mode;
    uint64_t height;
    buf_reset(&b);
    bld_block_get_encode(&b, 1, 0);
    ck_assert_int_eq(bld_block_get_decode(&mode, &height, b.data, b.len), 0);
    ck_assert_uint_eq(mode, 1);
    buf_reset(&b);
    bld_block_get_encode(&b, SDB_BLOCK_PREV, 7);
    ck_assert_int_eq(bld_block_get_decode(&mode, &height, b.data, b.len), 0);
    ck_assert_uint_eq(mode, SDB_BLOCK_PREV);
    ck_assert_uint_eq(height, 7);
    for (unsigned m = SDB_BLOCK_NEXT; m <= SDB_BLOCK_PREV + 1; m++) {
        if (m == SDB_BLOCK_PREV)
            continue;
        buf_reset(&b);
        bld_block_get_encode(&b, (uint8_t)m, 0); /* only at / latest / prev */
        ck_assert_int_eq(bld_block_get_decode(&mode, &height, b.data, b.len), -1);
    }

    struct bld_block r = {.result = BLD_BUILD_OK, .block = (const uint8_t *)"blk", .block_len = 3},
                     ro;
    buf_reset(&b);
    bld_build_rep_encode(&b, &r);
    ck_assert_int_eq(bld_build_rep_decode(&ro, b.data, b.len), 0);
    ck_assert_uint_eq(ro.block_len, 3);
    refuse_cuts(dec_build, &ro, &b);
    r.result = BLD_BUILD_EMPTY;
    buf_reset(&b);
    bld_build_rep_encode(&b, &r);
    ck_assert_int_eq(bld_build_rep_decode(&ro, b.data, b.len), 0);
    ck_assert_ptr_null(ro.block);

    r = (struct bld_block){.height = 99, .block = (const uint8_t *)"blk", .block_len = 3};
    buf_reset(&b);
    bld_block_encode(&b, &r);
    ck_assert_int_eq(bld_block_decode(&ro, b.data, b.len), 0);
    ck_assert_uint_eq(ro.height, 99);
    refuse_cuts(dec_block, &ro, &b);

    struct bld_verdict_rep v = {.verdict = BLD_INVALID}, vo;
    strcpy(v.reason, "nonce");
    buf_reset(&b);
    bld_verdict_encode(&b, &v);
    ck_assert_int_eq(bld_verdict_decode(&vo, b.data, b.len), 0);
    ck_assert_str_eq(vo.reason, "nonce");
    refuse_cuts(dec_verdict, &vo, &b);

    struct bld_head h = {.height = 12, .behind = true}, ho;
    memset(h.hash, 3, BLD_HASH_LEN);
    buf_reset(&b);
    bld_head_encode(&b, &h);
    ck_assert_int_eq(bld_head_decode(&ho, b.data, b.len), 0);
    ck_assert(ho.behind);
    ck_assert_uint_eq(ho.height, 12);
    refuse_cuts(dec_head, &ho, &b);
    buf_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proto_builder");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, names);
    tcase_add_test(tc, small_bodies);
    tcase_add_test(tc, replies);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
