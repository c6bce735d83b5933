/* Unit tests for proto/statedb: round trips of every request and reply, strictness, bounds. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mp.h"
#include "proto/statedb.h"

static const uint8_t msg1[] = "signed-prepare-bytes";
static const uint8_t msg2[] = "another message";
static struct sdb_seal seals[3];
static struct sdb_bytes cert[2];

static struct sdb_decided sample_decided(void)
{
    for (int i = 0; i < 3; i++) {
        seals[i].index = (uint32_t)(i * 2);
        memset(seals[i].sig, 0x40 + i, SDB_SIG_LEN);
    }
    cert[0] = (struct sdb_bytes){msg1, sizeof(msg1)};
    cert[1] = (struct sdb_bytes){msg2, sizeof(msg2)};
    return (struct sdb_decided){
        .dtype = DUTY_PROPOSER,
        .height = 77,
        .round = 3,
        .value = {(const uint8_t *)"{\"block\":1}", 11},
        .ncert = 2,
        .cert = cert,
        .nseals = 3,
        .seals = seals,
        .tss = {(const uint8_t *)"tss-sig", 7},
        .decided_ms = 1700000000123ull,
    };
}

/* One valid request of every type. */
static size_t all_requests(struct sdb_req *r)
{
    size_t n = 0;
    r[n++] = (struct sdb_req){.type = SDB_HELLO, .u.hello.generation = 9};
    r[n++] =
        (struct sdb_req){.type = SDB_APPEND_INTENT,
                         .u.append = {{DUTY_SYNC, SDB_HEIGHT_MAX, 0xfffffffeu, QBFT_ROUND_CHANGE},
                                      {msg1, sizeof(msg1)}}};
    r[n++] = (struct sdb_req){.type = SDB_LOAD_INTENTS, .u.load = {false, {0}, 4096}};
    r[n++] =
        (struct sdb_req){.type = SDB_LOAD_INTENTS, .u.load = {true, {1, 5, 2, QBFT_COMMIT}, 0}};
    struct sdb_req d = {.type = SDB_PUT_DUTY};
    d.u.put_duty = (struct sdb_duty){DUTY_ATTESTER, 12, {msg2, sizeof(msg2)}, "", 42};
    strcpy(d.u.put_duty.trace_id, "trace-abc");
    r[n++] = d;
    r[n++] = (struct sdb_req){.type = SDB_GET_DUTY, .u.get = {2, 1000}};
    r[n++] = (struct sdb_req){.type = SDB_GET_DECIDED, .u.get = {0, 0}};
    r[n++] = (struct sdb_req){.type = SDB_LIST_DUTIES, .u.list = {false, 0, 0, true, 100}};
    r[n++] = (struct sdb_req){.type = SDB_LIST_DUTIES, .u.list = {true, 1, 99, false, 0}};
    r[n++] = (struct sdb_req){.type = SDB_PUT_DECIDED, .u.put_decided = sample_decided()};
    r[n++] = (struct sdb_req){.type = SDB_PRUNE, .u.prune = {1, 500, true}};
    r[n++] =
        (struct sdb_req){.type = SDB_ITERATE, .u.iter = {SDB_CF_CHAIN, true, {msg1, 5}, 10, 1000}};
    r[n++] = (struct sdb_req){.type = SDB_ITERATE, .u.iter = {SDB_CF_META, false, {0}, 0, 0}};
    r[n++] = (struct sdb_req){.type = SDB_SET_TSS,
                              .u.set_tss = {DUTY_SYNC, SDB_HEIGHT_MAX, {msg1, sizeof(msg1)}}};
    return n;
}

static void assert_bytes(struct sdb_bytes a, struct sdb_bytes b)
{
    ck_assert_uint_eq(a.len, b.len);
    ck_assert(a.len == 0 || !memcmp(a.p, b.p, a.len));
}

static void assert_decided(const struct sdb_decided *a, const struct sdb_decided *b)
{
    ck_assert_uint_eq(a->dtype, b->dtype);
    ck_assert_uint_eq(a->height, b->height);
    ck_assert_uint_eq(a->round, b->round);
    assert_bytes(a->value, b->value);
    ck_assert_uint_eq(a->ncert, b->ncert);
    for (uint32_t i = 0; i < a->ncert; i++)
        assert_bytes(a->cert[i], b->cert[i]);
    ck_assert_uint_eq(a->nseals, b->nseals);
    for (uint32_t i = 0; i < a->nseals; i++) {
        ck_assert_uint_eq(a->seals[i].index, b->seals[i].index);
        ck_assert(!memcmp(a->seals[i].sig, b->seals[i].sig, SDB_SIG_LEN));
    }
    assert_bytes(a->tss, b->tss);
    ck_assert_uint_eq(a->decided_ms, b->decided_ms);
}

START_TEST(request_roundtrip)
{
    struct sdb_req reqs[16];
    size_t n = all_requests(reqs);
    for (size_t i = 0; i < n; i++) {
        struct buf b = BUF_INIT, b2 = BUF_INIT;
        struct sdb_req got;
        sdb_req_encode(&b, &reqs[i]);
        ck_assert_int_eq(sdb_req_decode(&got, reqs[i].type, b.data, b.len), 0);
        /* Re-encoding the decoded request gives the same bytes: every field survived. */
        sdb_req_encode(&b2, &got);
        ck_assert_uint_eq(b.len, b2.len);
        ck_assert(!memcmp(b.data, b2.data, b.len));
        if (got.type == SDB_PUT_DECIDED)
            assert_decided(&got.u.put_decided, &reqs[i].u.put_decided);
        if (got.type == SDB_PUT_DUTY)
            ck_assert_str_eq(got.u.put_duty.trace_id, "trace-abc");
        sdb_req_free(&got);
        buf_free(&b);
        buf_free(&b2);
    }
}
END_TEST

START_TEST(request_truncation_and_trailing)
{
    struct sdb_req reqs[16];
    size_t n = all_requests(reqs);
    for (size_t i = 0; i < n; i++) {
        struct buf b = BUF_INIT;
        struct sdb_req got;
        sdb_req_encode(&b, &reqs[i]);
        for (size_t k = 0; k < b.len; k++)
            ck_assert_int_eq(sdb_req_decode(&got, reqs[i].type, b.data, k), -1);
        buf_append(&b, "\xc0", 1);
        ck_assert_int_eq(sdb_req_decode(&got, reqs[i].type, b.data, b.len), -1);
        buf_free(&b);
    }
}
END_TEST

START_TEST(request_wrong_type)
{
    struct sdb_req reqs[16];
    all_requests(reqs);
    struct buf b = BUF_INIT;
    struct sdb_req got;
    sdb_req_encode(&b, &reqs[1]); /* an APPEND_INTENT body */
    ck_assert_int_eq(sdb_req_decode(&got, SDB_APPEND_INTENT_REP, b.data, b.len), -1);
    ck_assert_int_eq(sdb_req_decode(&got, 0x0101, b.data, b.len), -1);
    ck_assert_int_eq(sdb_req_decode(&got, SDB_HELLO, b.data, b.len), -1);
    buf_free(&b);
}
END_TEST

/* Encode an APPEND_INTENT from raw fields so that out-of-range values can be written. */
static int decode_intent(uint64_t dtype, uint64_t height, uint64_t round, uint64_t mtype,
                         size_t msglen)
{
    struct buf b = BUF_INIT;
    uint8_t *m = calloc(1, msglen ? msglen : 1);
    mp_w_array(&b, 5);
    mp_w_uint(&b, dtype);
    mp_w_uint(&b, height);
    mp_w_uint(&b, round);
    mp_w_uint(&b, mtype);
    mp_w_bin(&b, m, msglen);
    struct sdb_req r;
    int rc = sdb_req_decode(&r, SDB_APPEND_INTENT, b.data, b.len);
    free(m);
    buf_free(&b);
    return rc;
}

START_TEST(request_field_bounds)
{
    ck_assert_int_eq(decode_intent(2, 1, 1, 4, 10), 0);
    ck_assert_int_eq(decode_intent(3, 1, 1, 1, 10), -1);                  /* duty type */
    ck_assert_int_eq(decode_intent(0, SDB_HEIGHT_MAX + 1, 1, 1, 10), -1); /* height */
    ck_assert_int_eq(decode_intent(0, 1, 1ull << 32, 1, 10), -1);         /* round */
    ck_assert_int_eq(decode_intent(0, 1, 1, QBFT_DECIDED, 10), 0);
    ck_assert_int_eq(decode_intent(1, 1, 1, QBFT_INTENT_LOCK, 64), 0);      /* a proposer lock */
    ck_assert_int_eq(decode_intent(0, 1, 1, QBFT_INTENT_LOCK + 1, 10), -1); /* message type */
    ck_assert_int_eq(decode_intent(0, 1, 1, 0, 10), -1);                    /* (types start at 1) */
    ck_assert_int_eq(decode_intent(0, 1, 1, 1, 0), -1);                     /* empty message */
    ck_assert_int_eq(decode_intent(0, 1, 1, 1, SDB_INTENT_MAX), 0);
    ck_assert_int_eq(decode_intent(0, 1, 1, 1, SDB_INTENT_MAX + 1), -1);
}
END_TEST

/* PUT_DECIDED with a hand-built seal list. */
static int decode_seals(const uint64_t *idx, size_t n, size_t siglen)
{
    struct sdb_decided d = sample_decided();
    struct buf b = BUF_INIT;
    uint8_t sig[80] = {0};
    mp_w_array(&b, 8);
    mp_w_uint(&b, d.dtype);
    mp_w_uint(&b, d.height);
    mp_w_uint(&b, d.round);
    mp_w_bin(&b, d.value.p, d.value.len);
    mp_w_array(&b, 0);
    mp_w_array(&b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        mp_w_array(&b, 2);
        mp_w_uint(&b, idx[i]);
        mp_w_bin(&b, sig, siglen);
    }
    mp_w_bin(&b, NULL, 0);
    mp_w_uint(&b, 1);
    struct sdb_req r;
    int rc = sdb_req_decode(&r, SDB_PUT_DECIDED, b.data, b.len);
    if (rc == 0)
        sdb_req_free(&r);
    buf_free(&b);
    return rc;
}

START_TEST(decided_seal_rules)
{
    const uint64_t ok[] = {0, 3, 255};
    const uint64_t dup[] = {1, 1};
    const uint64_t down[] = {4, 2};
    const uint64_t big[] = {256};
    ck_assert_int_eq(decode_seals(ok, 3, SDB_SIG_LEN), 0);
    ck_assert_int_eq(decode_seals(dup, 2, SDB_SIG_LEN), -1);
    ck_assert_int_eq(decode_seals(down, 2, SDB_SIG_LEN), -1);
    ck_assert_int_eq(decode_seals(big, 1, SDB_SIG_LEN), -1);
    ck_assert_int_eq(decode_seals(ok, 1, 63), -1);
    ck_assert_int_eq(decode_seals(ok, 1, 65), -1);
}
END_TEST

START_TEST(decided_too_many_cert_messages)
{
    struct sdb_decided d = sample_decided();
    struct buf b = BUF_INIT;
    mp_w_array(&b, 8);
    mp_w_uint(&b, d.dtype);
    mp_w_uint(&b, d.height);
    mp_w_uint(&b, d.round);
    mp_w_bin(&b, d.value.p, d.value.len);
    mp_w_array(&b, SDB_CERT_MAX + 1);
    for (int i = 0; i < SDB_CERT_MAX + 1; i++)
        mp_w_bin(&b, "m", 1);
    mp_w_array(&b, 0);
    mp_w_bin(&b, NULL, 0);
    mp_w_uint(&b, 1);
    struct sdb_req r;
    ck_assert_int_eq(sdb_req_decode(&r, SDB_PUT_DECIDED, b.data, b.len), -1);
    buf_free(&b);
}
END_TEST

START_TEST(lying_counts)
{
    /* A list reply that claims 2^32-1 entries in a few bytes. */
    const uint8_t lie[] = {0x94, 0x00, 0xc3, 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc2};
    struct sdb_reply r;
    ck_assert_int_eq(sdb_reply_decode(&r, SDB_LOAD_INTENTS_REP, lie, sizeof(lie)), -1);
    ck_assert_int_eq(sdb_reply_decode(&r, SDB_ITERATE_REP, lie, sizeof(lie)), -1);
    /* 20 entries claimed, each of which would need several bytes: refused before allocating. */
    uint8_t small[40] = {0x94, 0x00, 0xc3, 0xdc, 0x00, 20};
    ck_assert_int_eq(sdb_reply_decode(&r, SDB_LIST_DUTIES_REP, small, sizeof(small)), -1);
}
END_TEST

static size_t all_replies(struct sdb_reply *r, struct sdb_intent *in, struct sdb_duty *du,
                          struct sdb_kv *kv)
{
    size_t n = 0;
    struct sdb_reply h = {.type = SDB_HELLO_REP, .status = SDB_OK, .durable = true};
    h.u.hello.fallback = true;
    h.u.hello.recovered_ms = 5;
    h.u.hello.checkpoint_ms = 4;
    strcpy(h.u.hello.detail, "restored checkpoint 4");
    r[n++] = h;
    r[n++] = (struct sdb_reply){.type = SDB_APPEND_INTENT_REP, .status = SDB_OK, .durable = true};
    struct sdb_reply a = {.type = SDB_APPEND_INTENT_REP, .status = SDB_REFUSED, .durable = true};
    a.u.stored.present = true;
    a.u.stored.msg = (struct sdb_bytes){msg2, sizeof(msg2)};
    r[n++] = a;
    in[0] = (struct sdb_intent){{0, 1, 1, QBFT_PRE_PREPARE}, {msg1, sizeof(msg1)}};
    in[1] = (struct sdb_intent){{0, 1, 2, QBFT_DECIDED}, {msg2, sizeof(msg2)}};
    struct sdb_reply l = {.type = SDB_LOAD_INTENTS_REP, .status = SDB_OK, .durable = false};
    l.u.list.n = 2;
    l.u.list.more = true;
    l.u.list.v.intents = in;
    r[n++] = l;
    du[0] = (struct sdb_duty){1, 2, {msg1, 3}, "t1", 7};
    struct sdb_reply pd = {.type = SDB_PUT_DUTY_REP, .status = SDB_CONFLICT, .durable = true};
    pd.u.duty.present = true;
    pd.u.duty.d = du[0];
    r[n++] = pd;
    r[n++] = (struct sdb_reply){.type = SDB_GET_DUTY_REP, .status = SDB_NOT_FOUND};
    struct sdb_reply ld = {.type = SDB_LIST_DUTIES_REP, .status = SDB_OK};
    ld.u.list.n = 1;
    ld.u.list.v.duties = du;
    r[n++] = ld;
    struct sdb_reply gd = {.type = SDB_GET_DECIDED_REP, .status = SDB_OK, .durable = true};
    gd.u.decided.present = true;
    gd.u.decided.d = sample_decided();
    r[n++] = gd;
    r[n++] = (struct sdb_reply){.type = SDB_PUT_DECIDED_REP, .status = SDB_ERROR};
    struct sdb_reply pr = {.type = SDB_PRUNE_REP, .status = SDB_OK, .durable = true};
    pr.u.prune.pruned = 123;
    pr.u.prune.more = true;
    r[n++] = pr;
    kv[0] = (struct sdb_kv){{(const uint8_t *)"schema", 6}, {(const uint8_t *)"\0\0\0\1", 4}};
    kv[1] = (struct sdb_kv){{(const uint8_t *)"", 0}, {(const uint8_t *)"", 0}};
    struct sdb_reply it = {.type = SDB_ITERATE_REP, .status = SDB_OK};
    it.u.list.n = 2;
    it.u.list.v.kvs = kv;
    r[n++] = it;
    r[n++] = (struct sdb_reply){.type = SDB_SET_TSS_REP, .status = SDB_CONFLICT, .durable = true};
    return n;
}

START_TEST(reply_roundtrip)
{
    struct sdb_reply reps[16];
    struct sdb_intent in[2];
    struct sdb_duty du[1];
    struct sdb_kv kv[2];
    size_t n = all_replies(reps, in, du, kv);
    for (size_t i = 0; i < n; i++) {
        struct buf b = BUF_INIT, b2 = BUF_INIT;
        struct sdb_reply got;
        sdb_reply_encode(&b, &reps[i]);
        ck_assert_int_eq(sdb_reply_decode(&got, reps[i].type, b.data, b.len), 0);
        ck_assert_uint_eq(got.status, reps[i].status);
        ck_assert(got.durable == reps[i].durable);
        sdb_reply_encode(&b2, &got);
        ck_assert_uint_eq(b.len, b2.len);
        ck_assert(!memcmp(b.data, b2.data, b.len));
        if (got.type == SDB_HELLO_REP) {
            ck_assert(got.u.hello.fallback);
            ck_assert_str_eq(got.u.hello.detail, "restored checkpoint 4");
        }
        if (got.type == SDB_LOAD_INTENTS_REP) {
            ck_assert_uint_eq(got.u.list.n, 2);
            ck_assert(got.u.list.more);
            ck_assert_uint_eq(got.u.list.v.intents[1].k.mtype, QBFT_DECIDED);
        }
        if (got.type == SDB_GET_DECIDED_REP)
            assert_decided(&got.u.decided.d, &reps[i].u.decided.d);
        /* Every proper prefix fails. */
        for (size_t k = 0; k < b.len; k++) {
            struct sdb_reply bad;
            ck_assert_int_eq(sdb_reply_decode(&bad, reps[i].type, b.data, k), -1);
        }
        sdb_reply_free(&got);
        buf_free(&b);
        buf_free(&b2);
    }
}
END_TEST

START_TEST(reply_status_range)
{
    struct sdb_reply r = {.type = SDB_GET_DUTY_REP, .status = SDB_OK};
    struct buf b = BUF_INIT;
    sdb_reply_encode(&b, &r);
    b.data[1] = SDB_STATUS_COUNT; /* [status ...]: the status is the second byte */
    ck_assert_int_eq(sdb_reply_decode(&r, SDB_GET_DUTY_REP, b.data, b.len), -1);
    buf_free(&b);
}
END_TEST

/* Deterministic mutations of valid messages: decoders reject or accept, never crash or leak
 * (the sanitizer build checks the latter). */
START_TEST(mutations_never_crash)
{
    struct sdb_req reqs[16];
    struct sdb_reply reps[16];
    struct sdb_intent in[2];
    struct sdb_duty du[1];
    struct sdb_kv kv[2];
    size_t nq = all_requests(reqs), np = all_replies(reps, in, du, kv);
    uint64_t x = 88172645463325252ull;
    for (size_t m = 0; m < nq + np; m++) {
        struct buf b = BUF_INIT;
        uint16_t type = m < nq ? reqs[m].type : reps[m - nq].type;
        if (m < nq)
            sdb_req_encode(&b, &reqs[m]);
        else
            sdb_reply_encode(&b, &reps[m - nq]);
        uint8_t *copy = malloc(b.len);
        for (int round = 0; round < 400; round++) {
            memcpy(copy, b.data, b.len);
            for (int k = 0; k < 1 + round % 4; k++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                copy[x % b.len] = (uint8_t)(x >> 24);
            }
            if (m < nq) {
                struct sdb_req r;
                if (sdb_req_decode(&r, type, copy, b.len) == 0)
                    sdb_req_free(&r);
            } else {
                struct sdb_reply r;
                if (sdb_reply_decode(&r, type, copy, b.len) == 0)
                    sdb_reply_free(&r);
            }
        }
        free(copy);
        buf_free(&b);
    }
}
END_TEST

START_TEST(names_and_types)
{
    ck_assert_uint_eq(sdb_reply_type(SDB_APPEND_INTENT), SDB_APPEND_INTENT_REP);
    ck_assert_uint_eq(sdb_reply_type(SDB_ITERATE), SDB_ITERATE_REP);
    ck_assert_uint_eq(sdb_reply_type(SDB_HELLO_REP), 0);
    ck_assert_uint_eq(sdb_reply_type(0x0101), 0);
    ck_assert_str_eq(sdb_status_name(SDB_REFUSED), "refused");
    ck_assert_str_eq(sdb_cf_name(SDB_CF_DECIDED), "decided");
    for (unsigned t = SDB_HELLO; t <= SDB_SET_TSS_REP; t++)
        ck_assert_ptr_nonnull(sdb_type_name(t));
    ck_assert_uint_eq(sdb_reply_type(SDB_SET_TSS), SDB_SET_TSS_REP);
    ck_assert_str_eq(sdb_type_name(SDB_SET_TSS), "set_tss");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("statedb_proto");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, request_roundtrip);
    tcase_add_test(tc, request_truncation_and_trailing);
    tcase_add_test(tc, request_wrong_type);
    tcase_add_test(tc, request_field_bounds);
    tcase_add_test(tc, decided_seal_rules);
    tcase_add_test(tc, decided_too_many_cert_messages);
    tcase_add_test(tc, lying_counts);
    tcase_add_test(tc, reply_roundtrip);
    tcase_add_test(tc, reply_status_range);
    tcase_add_test(tc, mutations_never_crash);
    tcase_add_test(tc, names_and_types);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
