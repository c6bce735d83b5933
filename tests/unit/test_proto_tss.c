/* Unit tests for the aequa/tss/v1 codecs (proto/tss): every message kind round-trips, every
 * bound and order rule is enforced, the record and its JSON, and the message digest. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mp.h"
#include "lib/util.h"
#include "proto/tss.h"

static struct tss_msg *msg(uint8_t kind)
{
    static struct tss_msg m;
    memset(&m, 0, sizeof(m));
    m.kind = kind;
    m.dtype = 2;
    m.height = 123456789;
    m.attempt = 3;
    return &m;
}

static void commitment(struct frost_commitment *c, uint16_t id)
{
    c->id = id;
    memset(c->hiding, 0x20 + id, FROST_POINT_LEN);
    memset(c->binding, 0x40 + id, FROST_POINT_LEN);
    c->hiding[0] = 0x02;
    c->binding[0] = 0x03;
}

/* m encodes, decodes to the same and re-encodes to the same bytes; every prefix fails. */
static void roundtrip(const struct tss_msg *m)
{
    struct buf a = BUF_INIT, b = BUF_INIT;
    struct tss_msg *o = malloc(sizeof(*o));
    tss_msg_encode(&a, m);
    ck_assert_uint_le(a.len, TSS_MSG_MAX);
    ck_assert_int_eq(tss_msg_decode(o, a.data, a.len), 0);
    tss_msg_encode(&b, o);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert(memcmp(a.data, b.data, a.len) == 0);
    ck_assert_uint_eq(o->kind, m->kind);
    ck_assert_uint_eq(o->height, m->height);
    for (size_t n = 0; n < a.len; n++)
        ck_assert_int_eq(tss_msg_decode(o, a.data, n), -1);
    buf_append(&a, "", 1); /* trailing byte */
    ck_assert_int_eq(tss_msg_decode(o, a.data, a.len), -1);
    free(o);
    buf_free(&a);
    buf_free(&b);
}

static int decodes(const struct tss_msg *m)
{
    struct buf a = BUF_INIT;
    struct tss_msg *o = malloc(sizeof(*o));
    tss_msg_encode(&a, m);
    int rc = tss_msg_decode(o, a.data, a.len);
    free(o);
    buf_free(&a);
    return rc;
}

START_TEST(every_kind_roundtrips)
{
    ck_assert_str_eq(tss_kind_name(TSS_COMMIT), "commit");
    ck_assert_str_eq(tss_kind_name(TSS_SIG), "sig");
    ck_assert_ptr_null(tss_kind_name(0));
    ck_assert_ptr_null(tss_kind_name(TSS_KIND_MAX + 1));
    struct tss_msg *m = msg(TSS_COMMIT);
    commitment(&m->commit, 4);
    roundtrip(m);
    m = msg(TSS_SIGN);
    m->ncommits = TSS_MAX_SIGNERS;
    for (uint32_t i = 0; i < m->ncommits; i++)
        commitment(&m->commits[i], (uint16_t)(i + 1));
    roundtrip(m);
    m = msg(TSS_SHARE);
    m->id = TSS_MAX_SIGNERS;
    memset(m->z, 0x77, sizeof(m->z));
    roundtrip(m);
    m = msg(TSS_ABORT);
    m->id = 1;
    roundtrip(m);
    m = msg(TSS_SIG);
    m->nsigners = 3;
    m->signers[0] = 0;
    m->signers[1] = 5;
    m->signers[2] = TSS_MAX_SIGNERS - 1;
    memset(m->sig, 0x11, sizeof(m->sig));
    roundtrip(m);
}
END_TEST

START_TEST(bounds_enforced)
{
    struct tss_msg *m = msg(TSS_ABORT);
    m->id = 1;
    ck_assert_int_eq(decodes(m), 0);
    m->dtype = 3; /* no such duty type */
    ck_assert_int_eq(decodes(m), -1);
    m->dtype = 0;
    m->height = (UINT64_C(1) << 62) + 1;
    ck_assert_int_eq(decodes(m), -1);
    m->height = 1;
    m->attempt = TSS_MAX_ATTEMPTS;
    ck_assert_int_eq(decodes(m), -1);
    m->attempt = TSS_MAX_ATTEMPTS - 1;
    ck_assert_int_eq(decodes(m), 0);
    m->id = 0; /* identifiers start at 1 */
    ck_assert_int_eq(decodes(m), -1);
    m->id = TSS_MAX_SIGNERS + 1;
    ck_assert_int_eq(decodes(m), -1);

    m = msg(TSS_COMMIT);
    commitment(&m->commit, 2);
    m->commit.hiding[0] = 0x04; /* not a compressed point */
    ck_assert_int_eq(decodes(m), -1);

    m = msg(TSS_SIGN);
    m->ncommits = 3;
    commitment(&m->commits[0], 1);
    commitment(&m->commits[1], 3);
    commitment(&m->commits[2], 2); /* out of order */
    ck_assert_int_eq(decodes(m), -1);
    commitment(&m->commits[2], 3); /* a duplicate */
    ck_assert_int_eq(decodes(m), -1);
    m->ncommits = 0;
    ck_assert_int_eq(decodes(m), -1);

    m = msg(TSS_SIG);
    m->nsigners = 2;
    m->signers[0] = 4;
    m->signers[1] = 4;
    ck_assert_int_eq(decodes(m), -1);
    m->signers[1] = TSS_MAX_SIGNERS; /* an index beyond the signers */
    ck_assert_int_eq(decodes(m), -1);
}
END_TEST

START_TEST(shapes_enforced)
{
    struct buf b = BUF_INIT;
    struct tss_msg *o = malloc(sizeof(*o));
    /* an unknown kind, and a known one with a missing item */
    mp_w_array(&b, 5);
    mp_w_uint(&b, 6);
    mp_w_uint(&b, 0);
    mp_w_uint(&b, 1);
    mp_w_uint(&b, 0);
    mp_w_uint(&b, 1);
    ck_assert_int_eq(tss_msg_decode(o, b.data, b.len), -1);
    buf_reset(&b);
    mp_w_array(&b, 4);
    mp_w_uint(&b, TSS_ABORT);
    mp_w_uint(&b, 0);
    mp_w_uint(&b, 1);
    mp_w_uint(&b, 0);
    ck_assert_int_eq(tss_msg_decode(o, b.data, b.len), -1);
    /* a list whose count the bytes cannot hold, and an oversize input */
    buf_reset(&b);
    mp_w_array(&b, 5);
    mp_w_uint(&b, TSS_SIGN);
    mp_w_uint(&b, 0);
    mp_w_uint(&b, 1);
    mp_w_uint(&b, 0);
    mp_w_array(&b, 0xffff);
    ck_assert_int_eq(tss_msg_decode(o, b.data, b.len), -1);
    uint8_t *big = calloc(1, TSS_MSG_MAX + 1);
    ck_assert_int_eq(tss_msg_decode(o, big, TSS_MSG_MAX + 1), -1);
    free(big);
    free(o);
    buf_free(&b);
}
END_TEST

START_TEST(record_and_json)
{
    struct tss_record r = {.nsigners = 3, .signers = {0, 1, 3}}, o;
    struct buf b = BUF_INIT, j = BUF_INIT;
    for (int i = 0; i < FROST_SIG_LEN; i++)
        r.sig[i] = (uint8_t)i;
    tss_record_encode(&b, &r);
    ck_assert_uint_le(b.len, TSS_RECORD_MAX);
    ck_assert_int_eq(tss_record_decode(&o, b.data, b.len), 0);
    ck_assert_uint_eq(o.nsigners, 3);
    ck_assert_uint_eq(o.signers[2], 3);
    ck_assert(memcmp(o.sig, r.sig, FROST_SIG_LEN) == 0);
    for (size_t n = 0; n < b.len; n++)
        ck_assert_int_eq(tss_record_decode(&o, b.data, n), -1);
    tss_record_json(&j, &r);
    buf_append(&j, "", 1);
    ck_assert_str_eq((const char *)j.data,
                     "{\"scheme\":\"FROST(secp256k1, SHA-256)\",\"signers\":[0,1,3],\"sig\":"
                     "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223"
                     "2425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40\"}");
    /* the largest record fits the StateDB field */
    r.nsigners = TSS_MAX_SIGNERS;
    for (uint32_t i = 0; i < r.nsigners; i++)
        r.signers[i] = (uint8_t)i;
    buf_reset(&b);
    tss_record_encode(&b, &r);
    ck_assert_uint_le(b.len, TSS_RECORD_MAX);
    buf_free(&b);
    buf_free(&j);
}
END_TEST

START_TEST(message_digest)
{
    /* SHA-256("aequa/tss/v1" || lock_hash || value_hash), checked against a plain hash */
    uint8_t lock[SHA256_LEN], vh[SHA256_LEN], m[SHA256_LEN], want[SHA256_LEN];
    uint8_t cat[12 + 2 * SHA256_LEN];
    memset(lock, 0xaa, sizeof(lock));
    memset(vh, 0xbb, sizeof(vh));
    memcpy(cat, "aequa/tss/v1", 12);
    memcpy(cat + 12, lock, SHA256_LEN);
    memcpy(cat + 12 + SHA256_LEN, vh, SHA256_LEN);
    sha256(want, cat, sizeof(cat));
    tss_message(m, lock, vh);
    ck_assert(memcmp(m, want, SHA256_LEN) == 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proto_tss");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, every_kind_roundtrips);
    tcase_add_test(tc, bounds_enforced);
    tcase_add_test(tc, shapes_enforced);
    tcase_add_test(tc, record_and_json);
    tcase_add_test(tc, message_digest);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
