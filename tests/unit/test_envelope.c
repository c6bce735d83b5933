/* Unit tests for proto/envelope and the control family codecs. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mp.h"
#include "proto/control.h"
#include "proto/envelope.h"

START_TEST(roundtrip)
{
    struct buf b = BUF_INIT;
    envelope_encode(&b, 0x0301, ENVELOPE_FLAG_REPLY, 3, 42, "trace-1", "abc", 3);
    struct envelope e;
    ck_assert_int_eq(envelope_decode(&e, b.data, b.len), 0);
    ck_assert_uint_eq(e.type, 0x0301);
    ck_assert_uint_eq(e.flags, ENVELOPE_FLAG_REPLY);
    ck_assert_uint_eq(e.source, 3);
    ck_assert_uint_eq(e.req_id, 42);
    ck_assert_str_eq(e.trace_id, "trace-1");
    ck_assert_uint_eq(e.body_len, 3);
    ck_assert(memcmp(e.body, "abc", 3) == 0);
    buf_free(&b);
}
END_TEST

START_TEST(every_truncation_fails)
{
    struct buf b = BUF_INIT;
    envelope_encode(&b, 0x0101, 0, 1, 7, "t", "body bytes", 10);
    struct envelope e;
    for (size_t n = 0; n < b.len; n++)
        ck_assert_int_eq(envelope_decode(&e, b.data, n), -1);
    ck_assert_int_eq(envelope_decode(&e, b.data, b.len), 0);
    buf_free(&b);
}
END_TEST

START_TEST(trailing_bytes_fail)
{
    struct buf b = BUF_INIT;
    envelope_encode(&b, 0x0101, 0, 1, 7, "t", "x", 1);
    buf_append(&b, "\x00", 1);
    struct envelope e;
    ck_assert_int_eq(envelope_decode(&e, b.data, b.len), -1);
    buf_free(&b);
}
END_TEST

START_TEST(oversize_fails)
{
    size_t n = IPC_MAX_MSG + 1;
    uint8_t *big = calloc(1, n);
    struct envelope e;
    ck_assert_int_eq(envelope_decode(&e, big, n), -1);
    free(big);
}
END_TEST

START_TEST(bad_counts_and_fields)
{
    struct envelope e;
    /* array of 7 declared but only 2 bytes follow */
    const uint8_t short7[] = {0x97, 0x01, 0x02};
    ck_assert_int_eq(envelope_decode(&e, short7, sizeof(short7)), -1);
    /* array32 declaring 2^32-1 items: the allocation bomb */
    const uint8_t bomb[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00};
    ck_assert_int_eq(envelope_decode(&e, bomb, sizeof(bomb)), -1);

    struct buf b = BUF_INIT;
    /* wrong version */
    mp_w_array(&b, 7);
    mp_w_uint(&b, 2);
    mp_w_uint(&b, 1);
    mp_w_uint(&b, 0);
    mp_w_uint(&b, 0);
    mp_w_uint(&b, 0);
    mp_w_cstr(&b, "");
    mp_w_bin(&b, "", 0);
    ck_assert_int_eq(envelope_decode(&e, b.data, b.len), -1);
    /* unknown flag */
    buf_reset(&b);
    envelope_encode(&b, 1, 0x80, 0, 0, "", "", 0);
    ck_assert_int_eq(envelope_decode(&e, b.data, b.len), -1);
    /* trace id with a control character */
    buf_reset(&b);
    envelope_encode(&b, 1, 0, 0, 0, "a\nb", "", 0);
    ck_assert_int_eq(envelope_decode(&e, b.data, b.len), -1);
    /* type does not fit 16 bits */
    buf_reset(&b);
    mp_w_array(&b, 7);
    mp_w_uint(&b, 1);
    mp_w_uint(&b, 70000);
    mp_w_uint(&b, 0);
    mp_w_uint(&b, 0);
    mp_w_uint(&b, 0);
    mp_w_cstr(&b, "");
    mp_w_bin(&b, "", 0);
    ck_assert_int_eq(envelope_decode(&e, b.data, b.len), -1);
    buf_free(&b);
}
END_TEST

START_TEST(long_trace_id_rejected)
{
    struct buf b = BUF_INIT;
    char t[TRACE_ID_MAX + 2];
    memset(t, 'a', sizeof(t) - 1);
    t[sizeof(t) - 1] = 0;
    mp_w_array(&b, 7);
    mp_w_uint(&b, 1);
    mp_w_uint(&b, 1);
    mp_w_uint(&b, 0);
    mp_w_uint(&b, 0);
    mp_w_uint(&b, 0);
    mp_w_cstr(&b, t);
    mp_w_bin(&b, "", 0);
    struct envelope e;
    ck_assert_int_eq(envelope_decode(&e, b.data, b.len), -1);
    buf_free(&b);
}
END_TEST

START_TEST(control_roundtrips)
{
    struct buf b = BUF_INIT;
    struct ctl_hello h = {.name = "qbft", .generation = 9, .pid = 1234, .version = "0.1.0"}, h2;
    ctl_hello_encode(&b, &h);
    ck_assert_int_eq(ctl_hello_decode(&h2, b.data, b.len), 0);
    ck_assert_str_eq(h2.name, "qbft");
    ck_assert_uint_eq(h2.generation, 9);
    ck_assert_uint_eq(h2.pid, 1234);
    ck_assert_int_eq(ctl_hello_decode(&h2, b.data, b.len - 1), -1);

    struct status_report s = {.index = 2, .nworkers = 2}, s2;
    strcpy(s.workers[0].name, "api");
    strcpy(s.workers[0].state, "ready");
    s.workers[0].pid = 77;
    s.workers[0].uptime_s = 1.5;
    strcpy(s.workers[1].name, "qbft");
    strcpy(s.workers[1].state, "backoff");
    strcpy(s.workers[1].last_exit, "signal 9");
    buf_reset(&b);
    status_encode(&b, &s);
    ck_assert_int_eq(status_decode(&s2, b.data, b.len), 0);
    ck_assert_uint_eq(s2.nworkers, 2);
    ck_assert_str_eq(s2.workers[1].last_exit, "signal 9");
    ck_assert(s2.workers[0].uptime_s > 1.49 && s2.workers[0].uptime_s < 1.51);
    buf_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("envelope");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, roundtrip);
    tcase_add_test(tc, every_truncation_fails);
    tcase_add_test(tc, trailing_bytes_fail);
    tcase_add_test(tc, oversize_fails);
    tcase_add_test(tc, bad_counts_and_fields);
    tcase_add_test(tc, long_trace_id_rejected);
    tcase_add_test(tc, control_roundtrips);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
