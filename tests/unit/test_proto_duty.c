/* Unit tests for the duty family codecs (proto/duty). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mp.h"
#include "proto/duty.h"

START_TEST(type_names)
{
    ck_assert_str_eq(duty_type_name(0), "attester");
    ck_assert_str_eq(duty_type_name(2), "sync");
    ck_assert_ptr_null(duty_type_name(3));
}
END_TEST

START_TEST(submit_roundtrip_and_bounds)
{
    struct buf b = BUF_INIT;
    struct duty_submit d = {.type = 1,
                            .height = DUTY_HEIGHT_MAX,
                            .round = 7,
                            .payload = (const uint8_t *)"{\"a\":1}",
                            .payload_len = 7},
                       o;
    duty_submit_encode(&b, &d);
    ck_assert_int_eq(duty_submit_decode(&o, b.data, b.len), 0);
    ck_assert_uint_eq(o.type, 1);
    ck_assert_uint_eq(o.height, DUTY_HEIGHT_MAX);
    ck_assert_uint_eq(o.payload_len, 7);
    ck_assert(memcmp(o.payload, "{\"a\":1}", 7) == 0);
    for (size_t n = 0; n < b.len; n++)
        ck_assert_int_eq(duty_submit_decode(&o, b.data, n), -1);
    buf_reset(&b);
    d.height = DUTY_HEIGHT_MAX + 1;
    duty_submit_encode(&b, &d);
    ck_assert_int_eq(duty_submit_decode(&o, b.data, b.len), -1);
    buf_reset(&b);
    d.height = 1;
    d.type = 3;
    duty_submit_encode(&b, &d);
    ck_assert_int_eq(duty_submit_decode(&o, b.data, b.len), -1);
    buf_free(&b);
}
END_TEST

START_TEST(view_roundtrip)
{
    struct buf b = BUF_INIT;
    static struct duty_view v, o;
    v.result = DUTY_ACCEPTED;
    v.type = 2;
    v.height = 99;
    v.decided = true;
    v.round = 3;
    v.has_value = true;
    memset(v.value_hash, 0xab, 32);
    v.value = (const uint8_t *)"null";
    v.value_len = 4;
    v.ncert = 3;
    for (uint32_t i = 0; i < 3; i++) {
        v.cert[i].index = i;
        v.cert[i].round = 3;
        memset(v.cert[i].sig, (int)i, 64);
    }
    v.nseals = 1;
    v.seals[0].index = 2;
    duty_view_encode(&b, &v);
    ck_assert_int_eq(duty_view_decode(&o, b.data, b.len), 0);
    ck_assert(o.decided && o.has_value && o.ncert == 3 && o.nseals == 1);
    ck_assert_uint_eq(o.cert[2].index, 2);
    ck_assert_uint_eq(o.cert[2].sig[5], 2);
    ck_assert_uint_eq(o.value_len, 4);
    ck_assert(!o.has_tss);
    for (size_t n = 0; n < b.len; n++)
        ck_assert_int_eq(duty_view_decode(&o, b.data, n), -1);

    /* with a group signature (SPEC §10): its record rides in the last slot */
    buf_reset(&b);
    v.has_tss = true;
    v.tss.nsigners = 3;
    v.tss.signers[0] = 0;
    v.tss.signers[1] = 2;
    v.tss.signers[2] = 3;
    memset(v.tss.sig, 0x5a, sizeof(v.tss.sig));
    duty_view_encode(&b, &v);
    ck_assert_int_eq(duty_view_decode(&o, b.data, b.len), 0);
    ck_assert(o.has_tss && o.tss.nsigners == 3 && o.tss.signers[1] == 2);
    ck_assert(memcmp(o.tss.sig, v.tss.sig, sizeof(v.tss.sig)) == 0);
    for (size_t n = 0; n < b.len; n++)
        ck_assert_int_eq(duty_view_decode(&o, b.data, n), -1);

    buf_reset(&b);
    memset(&v, 0, sizeof(v));
    v.result = DUTY_NOT_FOUND;
    duty_view_encode(&b, &v);
    ck_assert_int_eq(duty_view_decode(&o, b.data, b.len), 0);
    ck_assert(!o.has_value && o.result == DUTY_NOT_FOUND);
    buf_free(&b);
}
END_TEST

START_TEST(view_counts_bounded)
{
    /* a certificate longer than DUTY_MAX_NODES is refused before it is read */
    struct buf b = BUF_INIT;
    mp_w_array(&b, 10);
    mp_w_uint(&b, 0);
    mp_w_uint(&b, 0);
    mp_w_uint(&b, 0);
    mp_w_bool(&b, false);
    mp_w_uint(&b, 1);
    mp_w_nil(&b);
    mp_w_nil(&b);
    mp_w_array(&b, DUTY_MAX_NODES + 1);
    for (int i = 0; i < DUTY_MAX_NODES + 1; i++) {
        mp_w_array(&b, 3);
        mp_w_uint(&b, 0);
        mp_w_uint(&b, 0);
        uint8_t sig[64] = {0};
        mp_w_bin(&b, sig, 64);
    }
    mp_w_array(&b, 0);
    mp_w_nil(&b);
    struct duty_view *o = malloc(sizeof(*o));
    ck_assert_int_eq(duty_view_decode(o, b.data, b.len), -1);
    free(o);
    buf_free(&b);
}
END_TEST

START_TEST(recent_roundtrip_and_bounds)
{
    struct buf b = BUF_INIT;
    uint32_t max;
    duty_recent_req_encode(&b, 16);
    ck_assert_int_eq(duty_recent_req_decode(&max, b.data, b.len), 0);
    ck_assert_uint_eq(max, 16);
    static const uint32_t bad_max[] = {0, DUTY_RECENT_MAX + 1};
    for (size_t i = 0; i < 2; i++) {
        buf_reset(&b);
        duty_recent_req_encode(&b, bad_max[i]);
        ck_assert_int_eq(duty_recent_req_decode(&max, b.data, b.len), -1);
    }

    struct duty_brief in[3] = {
        {.type = DUTY_SYNC, .height = 7, .decided = true, .round = 2, .age_ms = 10},
        {.type = DUTY_ATTESTER, .height = DUTY_HEIGHT_MAX, .round = DUTY_ROUND_MAX},
        {.type = DUTY_PROPOSER, .height = 1, .age_ms = UINT64_MAX},
    };
    struct duty_brief out[3];
    size_t n;
    buf_reset(&b);
    duty_recent_encode(&b, in, 3);
    ck_assert_int_eq(duty_recent_decode(out, 3, &n, b.data, b.len), 0);
    ck_assert_uint_eq(n, 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(out[i].type, in[i].type);
        ck_assert_uint_eq(out[i].height, in[i].height);
        ck_assert(out[i].decided == in[i].decided);
        ck_assert_uint_eq(out[i].round, in[i].round);
        ck_assert_uint_eq(out[i].age_ms, in[i].age_ms);
    }
    ck_assert_int_eq(duty_recent_decode(out, 2, &n, b.data, b.len), -1); /* more than asked */
    ck_assert_uint_eq(n, 0);
    for (size_t cut = 0; cut < b.len; cut++)
        ck_assert_int_eq(duty_recent_decode(out, 3, &n, b.data, cut), -1);
    buf_reset(&b);
    duty_recent_encode(&b, in, 0);
    ck_assert_int_eq(duty_recent_decode(out, 3, &n, b.data, b.len), 0);
    ck_assert_uint_eq(n, 0);
    in[0].type = DUTY_TYPES; /* not a duty type */
    buf_reset(&b);
    duty_recent_encode(&b, in, 1);
    ck_assert_int_eq(duty_recent_decode(out, 3, &n, b.data, b.len), -1);
    buf_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proto_duty");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, type_names);
    tcase_add_test(tc, submit_roundtrip_and_bounds);
    tcase_add_test(tc, view_roundtrip);
    tcase_add_test(tc, view_counts_bounded);
    tcase_add_test(tc, recent_roundtrip_and_bounds);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
