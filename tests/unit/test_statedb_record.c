/* Unit tests for lib/db/record: key layout, record codecs, decided merge. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mp.h"
#include "lib/db/record.h"

START_TEST(wal_key_layout)
{
    uint8_t k[RECORD_WAL_KEY_LEN];
    struct sdb_intent_key in = {DUTY_SYNC, 0x0102030405060708ull, 0x0a0b0c0d, QBFT_COMMIT};
    record_wal_key(k, &in);
    /* Schema 1's bytes: the type byte is one below enum qbft_type (COMMIT 3 is stored as 2). */
    const uint8_t want[] = {2, 1, 2, 3, 4, 5, 6, 7, 8, 0x0a, 0x0b, 0x0c, 0x0d, 2};
    ck_assert(!memcmp(k, want, sizeof(want)));
    struct sdb_intent_key out;
    /* A height above 2^62 is not a valid key, so parse a smaller one. */
    in.height = SDB_HEIGHT_MAX;
    record_wal_key(k, &in);
    ck_assert_int_eq(record_wal_key_parse(&out, k, sizeof(k)), 0);
    ck_assert_uint_eq(out.height, SDB_HEIGHT_MAX);
    ck_assert_uint_eq(out.round, 0x0a0b0c0d);
    ck_assert_uint_eq(out.mtype, QBFT_COMMIT);
    ck_assert_int_eq(record_wal_key_parse(&out, k, sizeof(k) - 1), -1);
    k[13] = QBFT_TYPE_MAX; /* DECIDED is 4 on disk, a proposer lock 5 */
    ck_assert_int_eq(record_wal_key_parse(&out, k, sizeof(k)), 0);
    ck_assert_uint_eq(out.mtype, QBFT_INTENT_LOCK);
    k[13] = QBFT_INTENT_TYPE_MAX; /* 6 is no type */
    ck_assert_int_eq(record_wal_key_parse(&out, k, sizeof(k)), -1);
    k[13] = 0;
    ck_assert_int_eq(record_wal_key_parse(&out, k, sizeof(k)), 0);
    ck_assert_uint_eq(out.mtype, QBFT_PRE_PREPARE);
    k[0] = DUTY_TYPES;
    ck_assert_int_eq(record_wal_key_parse(&out, k, sizeof(k)), -1);
}
END_TEST

/* Bytewise key order is numeric order: (type, height, round, message type). */
START_TEST(wal_key_order)
{
    struct sdb_intent_key ks[] = {
        {0, 1, 1, QBFT_PRE_PREPARE}, {0, 1, 1, QBFT_ROUND_CHANGE}, {0, 1, 2, QBFT_PRE_PREPARE},
        {0, 255, 1, QBFT_DECIDED},   {0, 256, 1, QBFT_PREPARE},    {1, 0, 1, QBFT_PRE_PREPARE},
    };
    for (size_t i = 0; i + 1 < sizeof(ks) / sizeof(ks[0]); i++) {
        uint8_t a[RECORD_WAL_KEY_LEN], b[RECORD_WAL_KEY_LEN];
        record_wal_key(a, &ks[i]);
        record_wal_key(b, &ks[i + 1]);
        ck_assert_int_lt(memcmp(a, b, sizeof(a)), 0);
    }
}
END_TEST

/* The first key of an instance sorts below all its intents and above the previous height's. */
START_TEST(wal_first_bounds_an_instance)
{
    uint8_t first[RECORD_WAL_KEY_LEN], k[RECORD_WAL_KEY_LEN];
    record_wal_first(first, DUTY_PROPOSER, 7);
    record_wal_key(k, &(struct sdb_intent_key){DUTY_PROPOSER, 7, 1, QBFT_PRE_PREPARE});
    ck_assert_int_lt(memcmp(first, k, sizeof(k)), 0);
    record_wal_key(k, &(struct sdb_intent_key){DUTY_PROPOSER, 6, UINT32_MAX, QBFT_DECIDED});
    ck_assert_int_gt(memcmp(first, k, sizeof(k)), 0);
}
END_TEST

START_TEST(inst_key)
{
    uint8_t k[RECORD_INST_KEY_LEN];
    uint8_t t;
    uint64_t h;
    record_inst_key(k, 1, 258);
    const uint8_t want[] = {1, 0, 0, 0, 0, 0, 0, 1, 2};
    ck_assert(!memcmp(k, want, sizeof(want)));
    ck_assert_int_eq(record_inst_key_parse(&t, &h, k, sizeof(k)), 0);
    ck_assert_uint_eq(t, 1);
    ck_assert_uint_eq(h, 258);
    ck_assert_int_eq(record_inst_key_parse(&t, &h, k, 8), -1);
}
END_TEST

START_TEST(duty_record)
{
    struct sdb_duty d = {0, 5, {(const uint8_t *)"{\"a\":1}", 7}, "tr", 99};
    struct buf b = BUF_INIT;
    record_duty_encode(&b, &d);
    struct sdb_duty got;
    ck_assert_int_eq(record_duty_decode(&got, 2, 6, b.data, b.len), 0);
    ck_assert_uint_eq(got.dtype, 2); /* key fields come from the caller */
    ck_assert_uint_eq(got.height, 6);
    ck_assert_str_eq(got.trace_id, "tr");
    ck_assert_uint_eq(got.accepted_ms, 99);
    ck_assert(record_duty_same(&got, &d));
    struct sdb_duty other = d;
    other.payload.len = 6;
    ck_assert(!record_duty_same(&other, &d));
    /* Same payload, other trace and time: still the same duty. */
    struct sdb_duty again = d;
    strcpy(again.trace_id, "zz");
    again.accepted_ms = 1;
    ck_assert(record_duty_same(&again, &d));
    for (size_t n = 0; n < b.len; n++)
        ck_assert_int_eq(record_duty_decode(&got, 0, 0, b.data, n), -1);
    buf_free(&b);
}
END_TEST

static struct sdb_seal mkseal(uint32_t idx, uint8_t fill)
{
    struct sdb_seal s = {.index = idx};
    memset(s.sig, fill, sizeof(s.sig));
    return s;
}

START_TEST(decided_record)
{
    struct sdb_seal seals[] = {mkseal(0, 1), mkseal(5, 2)};
    struct sdb_bytes cert[] = {{(const uint8_t *)"c1", 2}};
    struct sdb_decided d = {0, 9, 2, {(const uint8_t *)"val", 3}, 1, cert, 2, seals, {0}, 77};
    struct buf b = BUF_INIT;
    record_decided_encode(&b, &d);
    struct sdb_decided got;
    ck_assert_int_eq(record_decided_decode(&got, 0, 9, b.data, b.len), 0);
    ck_assert_uint_eq(got.round, 2);
    ck_assert_uint_eq(got.ncert, 1);
    ck_assert_uint_eq(got.nseals, 2);
    ck_assert_uint_eq(got.seals[1].index, 5);
    ck_assert_uint_eq(got.tss.len, 0);
    ck_assert_uint_eq(got.decided_ms, 77);
    record_decided_free(&got);
    for (size_t n = 0; n < b.len; n++) {
        ck_assert_int_eq(record_decided_decode(&got, 0, 9, b.data, n), -1);
        ck_assert_ptr_null(got.cert);
        ck_assert_ptr_null(got.seals);
    }
    buf_free(&b);
}
END_TEST

START_TEST(decided_merge)
{
    struct sdb_seal s1[] = {mkseal(0, 1), mkseal(4, 2)};
    struct sdb_seal s2[] = {mkseal(0, 9), mkseal(2, 3), mkseal(7, 4)};
    struct sdb_bytes cert[] = {{(const uint8_t *)"c1", 2}};
    struct sdb_decided stored = {0, 9, 2, {(const uint8_t *)"val", 3}, 0, NULL, 2, s1, {0}, 77};
    struct sdb_decided in = {0,    9, 3,  {(const uint8_t *)"val", 3}, 1,
                             cert, 3, s2, {(const uint8_t *)"tss", 3}, 88};
    struct sdb_seal space[SDB_SEALS_MAX];
    struct sdb_decided out;
    ck_assert_int_eq(record_decided_merge(&stored, &in, &out, space), RECORD_MERGE_CHANGED);
    ck_assert_uint_eq(out.nseals, 4);
    const uint32_t want[] = {0, 2, 4, 7};
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(out.seals[i].index, want[i]);
    ck_assert_uint_eq(out.seals[0].sig[0], 1); /* the stored seal wins a tie */
    ck_assert_uint_eq(out.ncert, 1);           /* a certificate was missing: added */
    ck_assert_uint_eq(out.round, 3);
    ck_assert_uint_eq(out.tss.len, 3);
    ck_assert_uint_eq(out.decided_ms, 77);

    /* Nothing new: SAME. */
    struct sdb_decided sub = stored;
    sub.nseals = 1;
    ck_assert_int_eq(record_decided_merge(&stored, &sub, &out, space), RECORD_MERGE_SAME);
    ck_assert_uint_eq(out.nseals, 2);

    /* A different value is a conflict whatever else it carries. */
    struct sdb_decided other = in;
    other.value = (struct sdb_bytes){(const uint8_t *)"VAL", 3};
    ck_assert_int_eq(record_decided_merge(&stored, &other, &out, space), RECORD_MERGE_CONFLICT);
}
END_TEST

START_TEST(fallback_record)
{
    struct buf b = BUF_INIT;
    record_fallback_encode(&b, 10, 5, "moved aside");
    struct sdb_hello_info h;
    ck_assert_int_eq(record_fallback_decode(&h, b.data, b.len), 0);
    ck_assert(h.fallback);
    ck_assert_uint_eq(h.recovered_ms, 10);
    ck_assert_uint_eq(h.checkpoint_ms, 5);
    ck_assert_str_eq(h.detail, "moved aside");
    ck_assert_int_eq(record_fallback_decode(&h, b.data, b.len - 1), -1);
    buf_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("statedb_record");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, wal_key_layout);
    tcase_add_test(tc, wal_key_order);
    tcase_add_test(tc, wal_first_bounds_an_instance);
    tcase_add_test(tc, inst_key);
    tcase_add_test(tc, duty_record);
    tcase_add_test(tc, decided_record);
    tcase_add_test(tc, decided_merge);
    tcase_add_test(tc, fallback_record);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
