/* Unit tests for proto/qbft: bodies, wire messages, signing domain, certificates. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/mp.h"
#include "lib/util.h"
#include "proto/qbft.h"

static const uint8_t lock[SHA256_LEN] = {
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11};

static struct qbft_body vote(uint8_t type, uint16_t sender, uint64_t round, uint8_t fill)
{
    struct qbft_body b = {.type = type,
                          .duty = 1,
                          .height = 300,
                          .round = round,
                          .sender = sender,
                          .has_value_hash = true};
    memset(b.value_hash, fill, sizeof(b.value_hash));
    return b;
}

START_TEST(body_known_encoding_and_digest)
{
    /* Bytes and digest computed independently (Python hashlib over hand-written msgpack). */
    static const char *hex = "99010201cd012c0203c420"
                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                             "00c0";
    static const char *digest_hex =
        "a038b06c89380ed19126f690ae67bae6cd33e82ced93ead9684425f5ea1252f9";
    struct qbft_body b = vote(QBFT_PREPARE, 3, 2, 0xaa), d;
    struct buf out = BUF_INIT;
    qbft_body_encode(&out, &b);
    char got[2 * QBFT_BODY_MAX + 1];
    hex_encode(got, out.data, out.len);
    ck_assert_str_eq(got, hex);
    uint8_t digest[SHA256_LEN];
    char dh[2 * SHA256_LEN + 1];
    qbft_signing_digest(digest, lock, out.data, out.len);
    hex_encode(dh, digest, SHA256_LEN);
    ck_assert_str_eq(dh, digest_hex);
    ck_assert_int_eq(qbft_body_decode(&d, out.data, out.len), 0);
    ck_assert_uint_eq(d.type, QBFT_PREPARE);
    ck_assert_uint_eq(d.height, 300);
    ck_assert_uint_eq(d.round, 2);
    ck_assert_uint_eq(d.sender, 3);
    ck_assert(memcmp(d.value_hash, b.value_hash, 32) == 0);
    buf_free(&out);
}
END_TEST

START_TEST(body_non_canonical_rejected)
{
    /* Same fields, height as uint32 (0xce) instead of uint16: not canonical. */
    uint8_t bytes[128];
    size_t n = 0;
    const uint8_t head[] = {0x99, 0x01, 0x02, 0x01, 0xce, 0x00, 0x00,
                            0x01, 0x2c, 0x02, 0x03, 0xc4, 0x20};
    memcpy(bytes, head, sizeof(head));
    n = sizeof(head);
    memset(bytes + n, 0xaa, 32);
    n += 32;
    bytes[n++] = 0x00;
    bytes[n++] = 0xc0;
    struct qbft_body d;
    ck_assert_int_eq(qbft_body_decode(&d, bytes, n), -1);
}
END_TEST

START_TEST(body_field_rules)
{
    struct qbft_body d;
    struct buf out = BUF_INIT;
    struct qbft_body bad[8];
    size_t nb = 0;
    bad[nb] = vote(QBFT_PREPARE, 1, 0, 1); /* round 0 */
    nb++;
    bad[nb] = vote(QBFT_COMMIT, 1, 1, 1); /* vote with no hash */
    bad[nb].has_value_hash = false;
    nb++;
    bad[nb] = vote(QBFT_ROUND_CHANGE, 1, 1, 1); /* ROUND-CHANGE for round 1 */
    bad[nb].has_value_hash = false;
    nb++;
    bad[nb] = vote(QBFT_ROUND_CHANGE, 1, 3, 1); /* ROUND-CHANGE carrying a value hash */
    nb++;
    bad[nb] = vote(QBFT_ROUND_CHANGE, 1, 3, 1); /* prepared round not below round */
    bad[nb].has_value_hash = false;
    bad[nb].prepared_round = 3;
    nb++;
    bad[nb] = vote(QBFT_PREPARE, 1, 2, 1); /* a vote naming a prepared round */
    bad[nb].prepared_round = 1;
    nb++;
    bad[nb] = vote(6, 1, 2, 1); /* unknown type */
    nb++;
    bad[nb] = vote(QBFT_PREPARE, 1, 2, 1); /* unknown duty */
    bad[nb].duty = 3;
    nb++;
    for (size_t i = 0; i < nb; i++) {
        buf_reset(&out);
        qbft_body_encode(&out, &bad[i]);
        ck_assert_msg(qbft_body_decode(&d, out.data, out.len) == -1, "bad body %zu accepted", i);
    }
    struct qbft_body rc = vote(QBFT_ROUND_CHANGE, 1, 3, 0);
    rc.has_value_hash = false;
    rc.prepared_round = 2;
    memset(rc.prepared_hash, 7, 32);
    buf_reset(&out);
    qbft_body_encode(&out, &rc);
    ck_assert_int_eq(qbft_body_decode(&d, out.data, out.len), 0);
    ck_assert_uint_eq(d.prepared_round, 2);
    ck_assert_uint_eq(d.prepared_hash[0], 7);
    buf_free(&out);
}
END_TEST

/* A signed-looking entry: signatures are not checked by the codec. */
static void encode(struct buf *out, const struct qbft_body *b, const char *value, size_t nj,
                   const struct qbft_body *jb)
{
    static uint8_t sig[SIG_LEN];
    struct buf body = BUF_INIT, jbodies[QBFT_MAX_JUST + 2];
    struct qbft_sigref just[QBFT_MAX_JUST + 2];
    qbft_body_encode(&body, b);
    for (size_t i = 0; i < nj; i++) {
        jbodies[i] = (struct buf)BUF_INIT;
        qbft_body_encode(&jbodies[i], &jb[i]);
        just[i] = (struct qbft_sigref){jbodies[i].data, jbodies[i].len, sig};
    }
    struct qbft_sigref self = {body.data, body.len, sig};
    qbft_msg_encode(out, &self, (const uint8_t *)value, value ? strlen(value) : 0, just, nj);
    for (size_t i = 0; i < nj; i++)
        buf_free(&jbodies[i]);
    buf_free(&body);
}

START_TEST(msg_roundtrip_and_truncations)
{
    struct qbft_body pp = vote(QBFT_PRE_PREPARE, 2, 2, 9), j[3];
    for (int i = 0; i < 3; i++) {
        j[i] = vote(QBFT_ROUND_CHANGE, (uint16_t)i, 2, 0);
        j[i].has_value_hash = false;
    }
    struct buf out = BUF_INIT;
    encode(&out, &pp, "the value", 3, j);
    struct qbft_msg *m = malloc(sizeof(*m));
    ck_assert_int_eq(qbft_msg_decode(m, out.data, out.len, QBFT_DECODE_WIRE), 0);
    ck_assert_uint_eq(m->m.b.type, QBFT_PRE_PREPARE);
    ck_assert(m->has_value);
    ck_assert_uint_eq(m->value_len, 9);
    ck_assert(memcmp(m->value, "the value", 9) == 0);
    ck_assert_uint_eq(m->njust, 3);
    ck_assert_uint_eq(m->just[2].b.sender, 2);
    for (size_t n = 0; n < out.len; n++)
        ck_assert_int_eq(qbft_msg_decode(m, out.data, n, QBFT_DECODE_WIRE), -1);
    buf_append(&out, "", 1);
    ck_assert_int_eq(qbft_msg_decode(m, out.data, out.len, QBFT_DECODE_WIRE), -1);
    free(m);
    buf_free(&out);
}
END_TEST

START_TEST(msg_attachment_table)
{
    struct qbft_msg *m = malloc(sizeof(*m));
    struct buf out = BUF_INIT;
    struct qbft_body prep = vote(QBFT_PREPARE, 0, 1, 1), com = vote(QBFT_COMMIT, 0, 1, 1);
    struct qbft_body pp1 = vote(QBFT_PRE_PREPARE, 0, 1, 1), pp2 = vote(QBFT_PRE_PREPARE, 0, 2, 1);
    struct qbft_body rc = vote(QBFT_ROUND_CHANGE, 0, 2, 0);
    rc.has_value_hash = false;
    struct qbft_body rcp = rc;
    rcp.prepared_round = 1;
    memset(rcp.prepared_hash, 1, 32);
    struct qbft_body dec = vote(QBFT_DECIDED, 0, 1, 1);
    struct {
        const struct qbft_body *b;
        const char *value;
        size_t nj;
        const struct qbft_body *j;
        enum qbft_decode_mode mode;
        int want;
    } rows[] = {
        {&prep, NULL, 0, NULL, QBFT_DECODE_WIRE, 0},
        {&prep, "v", 0, NULL, QBFT_DECODE_WIRE, -1}, /* a vote never carries the value */
        {&prep, NULL, 1, &prep, QBFT_DECODE_WIRE, -1},
        {&com, NULL, 0, NULL, QBFT_DECODE_WIRE, 0},
        {&com, "v", 1, &prep, QBFT_DECODE_WIRE, -1},  /* COMMIT on the wire: bare */
        {&com, "v", 1, &prep, QBFT_DECODE_INTENT, 0}, /* COMMIT intent: value + prepares */
        {&com, NULL, 0, NULL, QBFT_DECODE_INTENT, -1},
        {&com, "v", 1, &com, QBFT_DECODE_INTENT, -1}, /* only PREPAREs justify a commit */
        {&pp1, "v", 0, NULL, QBFT_DECODE_WIRE, 0},
        {&pp1, NULL, 0, NULL, QBFT_DECODE_WIRE, -1}, /* a proposal carries its value */
        {&pp1, "v", 1, &rc, QBFT_DECODE_WIRE, -1},   /* round 1: no justification */
        {&pp2, "v", 0, NULL, QBFT_DECODE_WIRE, -1},  /* round 2: justification required */
        {&pp2, "v", 1, &rc, QBFT_DECODE_WIRE, 0},
        {&pp2, "v", 1, &com, QBFT_DECODE_WIRE, -1},
        {&rc, NULL, 0, NULL, QBFT_DECODE_WIRE, 0},
        {&rc, "v", 0, NULL, QBFT_DECODE_WIRE, -1},
        {&rcp, "v", 1, &prep, QBFT_DECODE_WIRE, 0},
        {&rcp, NULL, 1, &prep, QBFT_DECODE_WIRE, -1}, /* prepared: value required */
        {&rcp, "v", 0, NULL, QBFT_DECODE_WIRE, -1},   /* prepared: PREPAREs required */
        {&dec, "v", 1, &com, QBFT_DECODE_WIRE, 0},
        {&dec, "v", 1, &prep, QBFT_DECODE_WIRE, -1},
        {&dec, NULL, 1, &com, QBFT_DECODE_WIRE, -1},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        buf_reset(&out);
        encode(&out, rows[i].b, rows[i].value, rows[i].nj, rows[i].j);
        ck_assert_msg(qbft_msg_decode(m, out.data, out.len, rows[i].mode) == rows[i].want,
                      "row %zu", i);
    }
    free(m);
    buf_free(&out);
}
END_TEST

START_TEST(msg_bounds)
{
    struct qbft_msg *m = malloc(sizeof(*m));
    /* array32 declaring 2^32-1 justification entries */
    struct buf out = BUF_INIT;
    struct qbft_body b = vote(QBFT_DECIDED, 0, 1, 1);
    struct buf body = BUF_INIT;
    uint8_t sig[SIG_LEN] = {0};
    qbft_body_encode(&body, &b);
    mp_w_array(&out, 4);
    mp_w_bin(&out, body.data, body.len);
    mp_w_bin(&out, sig, SIG_LEN);
    mp_w_bin(&out, "v", 1);
    const uint8_t bomb[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    buf_append(&out, bomb, sizeof(bomb));
    ck_assert_int_eq(qbft_msg_decode(m, out.data, out.len, QBFT_DECODE_WIRE), -1);
    /* more than QBFT_MAX_JUST entries */
    struct qbft_body com[QBFT_MAX_JUST + 1];
    for (size_t i = 0; i < ARRAY_LEN(com); i++)
        com[i] = vote(QBFT_COMMIT, (uint16_t)(i % QBFT_MAX_NODES), 1, 1);
    buf_reset(&out);
    encode(&out, &b, "v", QBFT_MAX_JUST, com);
    ck_assert_int_eq(qbft_msg_decode(m, out.data, out.len, QBFT_DECODE_WIRE), 0);
    buf_reset(&out);
    encode(&out, &b, "v", QBFT_MAX_JUST + 1, com);
    ck_assert_int_eq(qbft_msg_decode(m, out.data, out.len, QBFT_DECODE_WIRE), -1);
    /* short signature */
    buf_reset(&out);
    mp_w_array(&out, 4);
    mp_w_bin(&out, body.data, body.len);
    mp_w_bin(&out, sig, SIG_LEN - 1);
    mp_w_bin(&out, "v", 1);
    mp_w_array(&out, 0);
    ck_assert_int_eq(qbft_msg_decode(m, out.data, out.len, QBFT_DECODE_WIRE), -1);
    /* oversized input */
    uint8_t *big = calloc(1, QBFT_MAX_MSG + 1);
    ck_assert_int_eq(qbft_msg_decode(m, big, QBFT_MAX_MSG + 1, QBFT_DECODE_WIRE), -1);
    free(big);
    free(m);
    buf_free(&out);
    buf_free(&body);
}
END_TEST

START_TEST(strip_commit_intent)
{
    struct qbft_body com = vote(QBFT_COMMIT, 0, 1, 1), prep = vote(QBFT_PREPARE, 2, 1, 1);
    struct buf out = BUF_INIT, wire = BUF_INIT;
    struct qbft_msg *m = malloc(sizeof(*m)), *w = malloc(sizeof(*w));
    encode(&out, &com, "value", 1, &prep);
    ck_assert_int_eq(qbft_msg_decode(m, out.data, out.len, QBFT_DECODE_INTENT), 0);
    qbft_msg_strip(&wire, m, out.data, out.len);
    ck_assert_int_eq(qbft_msg_decode(w, wire.data, wire.len, QBFT_DECODE_WIRE), 0);
    ck_assert(!w->has_value);
    ck_assert_uint_eq(w->njust, 0);
    ck_assert_uint_eq(w->m.body_len, m->m.body_len);
    ck_assert(memcmp(w->m.body, m->m.body, m->m.body_len) == 0);
    free(m);
    free(w);
    buf_free(&out);
    buf_free(&wire);
}
END_TEST

/* ---- certificates, with real keys ---- */

static struct node_key keys[4];
static uint8_t pubs[4][PUBKEY_LEN];

static void make_keys(void)
{
    for (int i = 0; i < 4; i++) {
        uint8_t sec[SECKEY_LEN];
        memset(sec, i + 1, sizeof(sec));
        ck_assert_int_eq(node_key_from_secret(&keys[i], sec), 0);
        memcpy(pubs[i], keys[i].pub, PUBKEY_LEN);
    }
}

struct signed_body {
    struct buf body;
    uint8_t sig[SIG_LEN];
};

static void sign_body(struct signed_body *s, const struct qbft_body *b, int key)
{
    uint8_t digest[SHA256_LEN];
    s->body = (struct buf)BUF_INIT;
    qbft_body_encode(&s->body, b);
    qbft_signing_digest(digest, lock, s->body.data, s->body.len);
    ecdsa_sign(&keys[key], digest, s->sig);
}

static int check_cert(const uint16_t *senders, const int *signers, const uint64_t *rounds,
                      const uint8_t *fills, size_t n, const uint8_t *want_hash)
{
    struct signed_body sb[8];
    struct qbft_sigref refs[8];
    struct buf cert = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        struct qbft_body b = vote(QBFT_COMMIT, senders[i], rounds[i], fills[i]);
        sign_body(&sb[i], &b, signers[i]);
        refs[i] = (struct qbft_sigref){sb[i].body.data, sb[i].body.len, sb[i].sig};
    }
    qbft_cert_encode(&cert, refs, n);
    uint64_t round = 0;
    uint8_t h[32];
    int rc = qbft_cert_verify(cert.data, cert.len, 4, (const uint8_t(*)[PUBKEY_LEN])pubs, lock, 1,
                              300, want_hash, &round, h);
    for (size_t i = 0; i < n; i++)
        buf_free(&sb[i].body);
    buf_free(&cert);
    return rc;
}

START_TEST(cert_verify_rows)
{
    make_keys();
    uint8_t h5[32];
    memset(h5, 5, sizeof(h5));
    const uint16_t s012[] = {0, 1, 2}, s011[] = {0, 1, 1};
    const int k012[] = {0, 1, 2}, k013[] = {0, 1, 3};
    const uint64_t r111[] = {1, 1, 1}, r112[] = {1, 1, 2};
    const uint8_t f555[] = {5, 5, 5}, f556[] = {5, 5, 6};
    ck_assert_int_eq(check_cert(s012, k012, r111, f555, 3, h5), 0);
    ck_assert_int_eq(check_cert(s012, k012, r111, f555, 3, NULL), 0);
    ck_assert_int_eq(check_cert(s012, k012, r111, f555, 2, h5), -1); /* below quorum */
    ck_assert_int_eq(check_cert(s011, k012, r111, f555, 3, h5), -1); /* duplicate sender */
    ck_assert_int_eq(check_cert(s012, k013, r111, f555, 3, h5), -1); /* wrong key */
    ck_assert_int_eq(check_cert(s012, k012, r112, f555, 3, h5), -1); /* mixed rounds */
    ck_assert_int_eq(check_cert(s012, k012, r111, f556, 3, h5), -1); /* mixed values */
    uint8_t h6[32];
    memset(h6, 6, sizeof(h6));
    ck_assert_int_eq(check_cert(s012, k012, r111, f555, 3, h6), -1); /* another value */
}
END_TEST

START_TEST(names_and_arithmetic)
{
    ck_assert_str_eq(qbft_type_name(QBFT_PRE_PREPARE), "pre_prepare");
    ck_assert_str_eq(qbft_type_name(QBFT_ROUND_CHANGE), "round_change");
    ck_assert_str_eq(qbft_type_name(QBFT_DECIDED), "decided");
    ck_assert_str_eq(qbft_type_name(0), "unknown");
    ck_assert_str_eq(duty_type_name(2), "sync");
    static const unsigned q[] = {0, 1, 2, 2, 3, 4, 4, 5, 6, 6, 7};
    static const unsigned f[] = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3};
    for (unsigned n = 1; n <= 10; n++) {
        ck_assert_uint_eq(qbft_quorum(n), q[n]);
        ck_assert_uint_eq(qbft_faulty(n), f[n]);
    }
    ck_assert_uint_eq(qbft_leader(1, 300, 2, 4), (300 + 1 + 2) % 4);
    ck_assert_uint_eq(qbft_leader(2, QBFT_MAX_HEIGHT, QBFT_MAX_ROUND, 7),
                      (unsigned)((QBFT_MAX_HEIGHT + 2 + QBFT_MAX_ROUND) % 7));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("qbft_codec");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, body_known_encoding_and_digest);
    tcase_add_test(tc, body_non_canonical_rejected);
    tcase_add_test(tc, body_field_rules);
    tcase_add_test(tc, msg_roundtrip_and_truncations);
    tcase_add_test(tc, msg_attachment_table);
    tcase_add_test(tc, msg_bounds);
    tcase_add_test(tc, strip_commit_intent);
    tcase_add_test(tc, cert_verify_rows);
    tcase_add_test(tc, names_and_arithmetic);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
