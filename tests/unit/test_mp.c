/* Unit tests for lib/mp: round trips, strictness and bounds of the reader. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mp.h"

START_TEST(roundtrip_scalars)
{
    struct buf b = BUF_INIT;
    mp_w_array(&b, 8);
    mp_w_uint(&b, 0);
    mp_w_uint(&b, 200);
    mp_w_uint(&b, UINT64_MAX);
    mp_w_int(&b, -5);
    mp_w_int(&b, INT64_MIN);
    mp_w_bool(&b, true);
    mp_w_nil(&b);
    mp_w_cstr(&b, "hello");

    struct mp_reader r;
    uint32_t n;
    uint64_t u;
    int64_t i;
    bool t;
    const char *s;
    uint32_t sl;
    mp_reader_init(&r, b.data, b.len);
    ck_assert_int_eq(mp_read_array(&r, &n), 0);
    ck_assert_uint_eq(n, 8);
    ck_assert_int_eq(mp_read_uint(&r, &u), 0);
    ck_assert_uint_eq(u, 0);
    ck_assert_int_eq(mp_read_uint(&r, &u), 0);
    ck_assert_uint_eq(u, 200);
    ck_assert_int_eq(mp_read_uint(&r, &u), 0);
    ck_assert_uint_eq(u, UINT64_MAX);
    ck_assert_int_eq(mp_read_int(&r, &i), 0);
    ck_assert_int_eq(i, -5);
    ck_assert_int_eq(mp_read_int(&r, &i), 0);
    ck_assert(i == INT64_MIN);
    ck_assert_int_eq(mp_read_bool(&r, &t), 0);
    ck_assert(t);
    ck_assert(mp_try_nil(&r));
    ck_assert_int_eq(mp_read_str(&r, &s, &sl, 10), 0);
    ck_assert_uint_eq(sl, 5);
    ck_assert(memcmp(s, "hello", 5) == 0);
    ck_assert(mp_reader_done(&r));
    buf_free(&b);
}
END_TEST

START_TEST(negative_is_not_uint)
{
    struct buf b = BUF_INIT;
    mp_w_int(&b, -1);
    struct mp_reader r;
    uint64_t u;
    mp_reader_init(&r, b.data, b.len);
    ck_assert_int_eq(mp_read_uint(&r, &u), -1);
    ck_assert(!mp_reader_done(&r));
    buf_free(&b);
}
END_TEST

START_TEST(uint_bounds)
{
    struct buf b = BUF_INIT;
    mp_w_uint(&b, 256);
    struct mp_reader r;
    uint8_t v8;
    uint16_t v16;
    mp_reader_init(&r, b.data, b.len);
    ck_assert_int_eq(mp_read_u8(&r, &v8), -1);
    mp_reader_init(&r, b.data, b.len);
    ck_assert_int_eq(mp_read_u16(&r, &v16), 0);
    ck_assert_uint_eq(v16, 256);
    buf_free(&b);
}
END_TEST

START_TEST(array_count_larger_than_input)
{
    /* array32 declaring 2^32-1 items in 5 bytes: must fail without allocating anything. */
    const uint8_t bomb[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    struct mp_reader r;
    uint32_t n;
    mp_reader_init(&r, bomb, sizeof(bomb));
    ck_assert_int_eq(mp_read_array(&r, &n), -1);
    /* map16 of 3 entries needs at least 6 bytes */
    const uint8_t m[] = {0xde, 0x00, 0x03, 1, 2, 3, 4, 5};
    mp_reader_init(&r, m, sizeof(m));
    ck_assert_int_eq(mp_read_map(&r, &n), -1);
}
END_TEST

START_TEST(str_length_beyond_input)
{
    const uint8_t s[] = {0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'};
    struct mp_reader r;
    const char *p;
    uint32_t n;
    mp_reader_init(&r, s, sizeof(s));
    ck_assert_int_eq(mp_read_str(&r, &p, &n, UINT32_MAX), -1);
}
END_TEST

START_TEST(str_max_enforced)
{
    struct buf b = BUF_INIT;
    mp_w_cstr(&b, "abcdef");
    struct mp_reader r;
    const char *p;
    uint32_t n;
    mp_reader_init(&r, b.data, b.len);
    ck_assert_int_eq(mp_read_str(&r, &p, &n, 5), -1);
    mp_reader_init(&r, b.data, b.len);
    ck_assert_int_eq(mp_read_str(&r, &p, &n, 6), 0);
    buf_free(&b);
}
END_TEST

START_TEST(sticky_error_and_trailing)
{
    struct buf b = BUF_INIT;
    mp_w_uint(&b, 1);
    mp_w_uint(&b, 2);
    struct mp_reader r;
    uint64_t u;
    mp_reader_init(&r, b.data, b.len);
    ck_assert_int_eq(mp_read_uint(&r, &u), 0);
    ck_assert(!mp_reader_done(&r)); /* trailing item */
    bool t;
    ck_assert_int_eq(mp_read_bool(&r, &t), -1);
    ck_assert_int_eq(mp_read_uint(&r, &u), -1); /* sticky even though a uint follows */
    buf_free(&b);
}
END_TEST

START_TEST(bin_exact)
{
    struct buf b = BUF_INIT;
    uint8_t in[32], out[32];
    memset(in, 7, sizeof(in));
    mp_w_bin(&b, in, sizeof(in));
    struct mp_reader r;
    mp_reader_init(&r, b.data, b.len);
    ck_assert_int_eq(mp_read_bin_exact(&r, out, 32), 0);
    ck_assert(memcmp(in, out, 32) == 0);
    mp_reader_init(&r, b.data, b.len);
    ck_assert_int_eq(mp_read_bin_exact(&r, out, 31), -1);
    buf_free(&b);
}
END_TEST

START_TEST(skip_nested_and_depth)
{
    struct buf b = BUF_INIT;
    mp_w_array(&b, 2);
    mp_w_map(&b, 1);
    mp_w_cstr(&b, "k");
    mp_w_bin(&b, "xyz", 3);
    mp_w_array(&b, 1);
    mp_w_array(&b, 1);
    mp_w_int(&b, -100000);
    struct mp_reader r;
    mp_reader_init(&r, b.data, b.len);
    ck_assert_int_eq(mp_skip(&r, 8), 0);
    ck_assert(mp_reader_done(&r));
    mp_reader_init(&r, b.data, b.len);
    ck_assert_int_eq(mp_skip(&r, 2), -1);
    buf_free(&b);
}
END_TEST

START_TEST(str_copy_rejects_nul)
{
    struct buf b = BUF_INIT;
    mp_w_str(&b, "a\0b", 3);
    struct mp_reader r;
    char out[8];
    mp_reader_init(&r, b.data, b.len);
    ck_assert_int_eq(mp_read_str_copy(&r, out, sizeof(out)), -1);
    buf_free(&b);
}
END_TEST

START_TEST(reserved_tag_and_ext_rejected)
{
    const uint8_t c1[] = {0xc1};
    const uint8_t ext[] = {0xd4, 0x01, 0x02};
    struct mp_reader r;
    mp_reader_init(&r, c1, 1);
    ck_assert_int_eq(mp_skip(&r, 4), -1);
    mp_reader_init(&r, ext, sizeof(ext));
    ck_assert_int_eq(mp_skip(&r, 4), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mp");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, roundtrip_scalars);
    tcase_add_test(tc, negative_is_not_uint);
    tcase_add_test(tc, uint_bounds);
    tcase_add_test(tc, array_count_larger_than_input);
    tcase_add_test(tc, str_length_beyond_input);
    tcase_add_test(tc, str_max_enforced);
    tcase_add_test(tc, sticky_error_and_trailing);
    tcase_add_test(tc, bin_exact);
    tcase_add_test(tc, skip_nested_and_depth);
    tcase_add_test(tc, str_copy_rejects_nul);
    tcase_add_test(tc, reserved_tag_and_ext_rejected);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
