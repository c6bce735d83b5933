/*
 * Unit tests for lib/frost: every value of RFC 9591's FROST(secp256k1, SHA-256) test vector
 * (tests/unit/data/frost-secp256k1-sha256.json), t-of-n signing with fresh keys, every
 * rejection, and signatures checked by an independent verifier (tests/unit/frost_verify.py,
 * stdlib integers only).
 */
#include <check.h>
#include <jansson.h>
#include <secp256k1.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "lib/crypto.h"
#include "lib/frost.h"
#include "lib/frost_int.h"
#include "lib/util.h"

extern char **environ;

static const uint8_t MSG[] = "aequa/tss/v1 test message";

/* ---- helpers -------------------------------------------------------------------------------- */

static void unhex(void *out, size_t n, const char *hex)
{
    ck_assert_msg(hex_decode(out, n, hex, strlen(hex)) == 0, "bad hex %s", hex);
}

#define ck_assert_hex(bytes, n, hex)                                                               \
    do {                                                                                           \
        char got_[2 * (n) + 1];                                                                    \
        hex_encode(got_, (bytes), (n));                                                            \
        ck_assert_str_eq(got_, (hex));                                                             \
    } while (0)

/* Run tests/unit/frost_verify.py on a signature; its exit status. */
static int python_verify(const uint8_t pub[FROST_POINT_LEN], const uint8_t *msg, size_t mlen,
                         const uint8_t sig[FROST_SIG_LEN])
{
    char pub_hex[2 * FROST_POINT_LEN + 1], sig_hex[2 * FROST_SIG_LEN + 1];
    char *msg_hex = malloc(2 * mlen + 1);
    ck_assert_ptr_nonnull(msg_hex);
    hex_encode(pub_hex, pub, FROST_POINT_LEN);
    hex_encode(msg_hex, msg, mlen);
    hex_encode(sig_hex, sig, FROST_SIG_LEN);
    char *argv[] = {"/usr/bin/python3", FROST_VERIFY_PY, pub_hex, msg_hex, sig_hex, NULL};
    pid_t pid;
    int status;
    ck_assert_int_eq(posix_spawn(&pid, argv[0], NULL, NULL, argv, environ), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    free(msg_hex);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* a * b mod n through libsecp256k1 directly (both nonzero). */
static void mul_mod_n(uint8_t r[32], const uint8_t a[32], const uint8_t b[32])
{
    memcpy(r, a, 32);
    ck_assert(secp256k1_ec_seckey_tweak_mul(secp_ctx(), r, b));
}

static void small_scalar(uint8_t out[32], unsigned v)
{
    memset(out, 0, 32);
    out[30] = (uint8_t)(v >> 8);
    out[31] = (uint8_t)v;
}

/* ---- the RFC's vector ----------------------------------------------------------------------- */

static json_t *vectors;

static void vectors_load(void)
{
    json_error_t je;
    vectors = json_load_file(FROST_VECTORS, 0, &je);
    ck_assert_msg(vectors, "%s: %s", FROST_VECTORS, je.text);
}

static const char *vstr(const char *section, const char *key)
{
    json_t *v = json_object_get(json_object_get(vectors, section), key);
    ck_assert_msg(json_is_string(v), "%s.%s", section, key);
    return json_string_value(v);
}

static json_t *voutputs(const char *round)
{
    json_t *v = json_object_get(json_object_get(vectors, round), "outputs");
    ck_assert(json_is_array(v));
    return v;
}

static const char *vfield(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    ck_assert_msg(json_is_string(v), "%s", key);
    return json_string_value(v);
}

/* The vector's signing setup: keys from the dealer, commitments from the given randomness. */
struct vsetup {
    unsigned t, n;
    uint8_t group_pub[FROST_POINT_LEN];
    uint8_t shares[FROST_MAX_PARTICIPANTS][FROST_SCALAR_LEN];
    uint8_t vshares[FROST_MAX_PARTICIPANTS][FROST_POINT_LEN];
    uint8_t vss[FROST_MAX_PARTICIPANTS][FROST_POINT_LEN];
    uint8_t msg[64];
    size_t mlen;
    size_t count;
    struct frost_nonces nonces[FROST_MAX_PARTICIPANTS];
    struct frost_commitment list[FROST_MAX_PARTICIPANTS];
};

static void vsetup(struct vsetup *v)
{
    uint8_t secret[32], coeffs[FROST_MAX_PARTICIPANTS][32];
    vectors_load();
    v->t = (unsigned)atoi(vstr("config", "MIN_PARTICIPANTS"));
    v->n = (unsigned)atoi(vstr("config", "MAX_PARTICIPANTS"));
    unhex(secret, 32, vstr("inputs", "group_secret_key"));
    json_t *cs =
        json_object_get(json_object_get(vectors, "inputs"), "share_polynomial_coefficients");
    ck_assert_uint_eq(json_array_size(cs), v->t - 1);
    for (size_t k = 0; k < json_array_size(cs); k++)
        unhex(coeffs[k], 32, json_string_value(json_array_get(cs, k)));
    ck_assert_int_eq(
        frost_dealer_split(secret, coeffs, v->t, v->n, v->group_pub, v->shares, v->vshares, v->vss),
        0);
    const char *m = vstr("inputs", "message");
    v->mlen = strlen(m) / 2;
    unhex(v->msg, v->mlen, m);

    json_t *outs = voutputs("round_one_outputs");
    v->count = json_array_size(outs);
    ck_assert_uint_eq(v->count, (size_t)atoi(vstr("config", "NUM_PARTICIPANTS")));
    for (size_t i = 0; i < v->count; i++) {
        json_t *o = json_array_get(outs, i);
        uint16_t id = (uint16_t)json_integer_value(json_object_get(o, "identifier"));
        uint8_t hr[32], br[32];
        unhex(hr, 32, vfield(o, "hiding_nonce_randomness"));
        unhex(br, 32, vfield(o, "binding_nonce_randomness"));
        ck_assert_int_eq(
            frost_commit_with(id, v->shares[id - 1], hr, br, &v->nonces[i], &v->list[i]), 0);
    }
}

START_TEST(test_vector_keys)
{
    struct vsetup v;
    uint8_t secret[32], pub[FROST_POINT_LEN];
    vsetup(&v);
    ck_assert_hex(v.group_pub, FROST_POINT_LEN, vstr("inputs", "group_public_key"));
    ck_assert_hex(v.vss[0], FROST_POINT_LEN, vstr("inputs", "group_public_key"));
    unhex(secret, 32, vstr("inputs", "group_secret_key"));
    ck_assert_int_eq(frost_public(secret, pub), 0);
    ck_assert_mem_eq(pub, v.group_pub, FROST_POINT_LEN);

    json_t *ps = json_object_get(json_object_get(vectors, "inputs"), "participant_shares");
    ck_assert_uint_eq(json_array_size(ps), v.n);
    for (size_t i = 0; i < v.n; i++) {
        json_t *p = json_array_get(ps, i);
        json_int_t id = json_integer_value(json_object_get(p, "identifier"));
        ck_assert_int_eq(id, (json_int_t)i + 1);
        ck_assert_hex(v.shares[i], FROST_SCALAR_LEN, vfield(p, "participant_share"));
        ck_assert_int_eq(frost_vss_verify((uint16_t)id, v.shares[i], v.vss, v.t), 0);
        ck_assert_int_eq(frost_public(v.shares[i], pub), 0);
        ck_assert_mem_eq(pub, v.vshares[i], FROST_POINT_LEN);
    }
    ck_assert_int_eq(frost_group_check(v.t, v.n, v.vshares, v.group_pub), 0);
    json_decref(vectors);
}
END_TEST

START_TEST(test_vector_round_one)
{
    struct vsetup v;
    vsetup(&v);
    json_t *outs = voutputs("round_one_outputs");
    json_t *parts = json_object_get(json_object_get(vectors, "inputs"), "participant_list");
    ck_assert_uint_eq(json_array_size(parts), v.count);
    for (size_t i = 0; i < v.count; i++) {
        json_t *o = json_array_get(outs, i);
        ck_assert_int_eq(v.list[i].id, json_integer_value(json_array_get(parts, i)));
        ck_assert_int_eq(v.list[i].id, json_integer_value(json_object_get(o, "identifier")));
        ck_assert_hex(v.nonces[i].hiding, 32, vfield(o, "hiding_nonce"));
        ck_assert_hex(v.nonces[i].binding, 32, vfield(o, "binding_nonce"));
        ck_assert_hex(v.list[i].hiding, FROST_POINT_LEN, vfield(o, "hiding_nonce_commitment"));
        ck_assert_hex(v.list[i].binding, FROST_POINT_LEN, vfield(o, "binding_nonce_commitment"));
        ck_assert_int_eq(frost_commitment_check(&v.list[i]), 0);
    }

    uint8_t inputs[FROST_MAX_PARTICIPANTS][FROST_RHO_INPUT_LEN];
    uint8_t factors[FROST_MAX_PARTICIPANTS][FROST_SCALAR_LEN], r[FROST_POINT_LEN], c[32];
    ck_assert_int_eq(
        frost_binding_factors(v.group_pub, v.list, v.count, v.msg, v.mlen, inputs, factors, r, c),
        0);
    for (size_t i = 0; i < v.count; i++) {
        json_t *o = json_array_get(outs, i);
        ck_assert_hex(inputs[i], FROST_RHO_INPUT_LEN, vfield(o, "binding_factor_input"));
        ck_assert_hex(factors[i], FROST_SCALAR_LEN, vfield(o, "binding_factor"));
    }
    /* The group commitment is the signature's R. */
    char rhex[2 * FROST_POINT_LEN + 1];
    memcpy(rhex, vstr("final_output", "sig"), 2 * FROST_POINT_LEN);
    rhex[2 * FROST_POINT_LEN] = 0;
    ck_assert_hex(r, FROST_POINT_LEN, rhex);
    json_decref(vectors);
}
END_TEST

START_TEST(test_vector_round_two)
{
    struct vsetup v;
    uint8_t sig_shares[FROST_MAX_PARTICIPANTS][FROST_SCALAR_LEN], sig[FROST_SIG_LEN];
    vsetup(&v);
    json_t *outs = voutputs("round_two_outputs");
    ck_assert_uint_eq(json_array_size(outs), v.count);
    for (size_t i = 0; i < v.count; i++) {
        json_t *o = json_array_get(outs, i);
        uint16_t id = v.list[i].id;
        ck_assert_int_eq(id, json_integer_value(json_object_get(o, "identifier")));
        ck_assert_int_eq(frost_sign(id, v.shares[id - 1], &v.nonces[i], v.list, v.count, v.msg,
                                    v.mlen, v.group_pub, sig_shares[i]),
                         0);
        ck_assert_hex(sig_shares[i], FROST_SCALAR_LEN, vfield(o, "sig_share"));
        ck_assert_int_eq(frost_share_verify(id, v.vshares[id - 1], sig_shares[i], v.list, v.count,
                                            v.msg, v.mlen, v.group_pub),
                         0);
    }
    ck_assert_int_eq(frost_aggregate(v.list, v.count, sig_shares, v.msg, v.mlen, v.group_pub, sig),
                     0);
    ck_assert_hex(sig, FROST_SIG_LEN, vstr("final_output", "sig"));
    ck_assert_int_eq(frost_verify(v.group_pub, v.msg, v.mlen, sig), 0);
    ck_assert_int_eq(python_verify(v.group_pub, v.msg, v.mlen, sig), 0);
    json_decref(vectors);
}
END_TEST

/* The vector's participants {1, 3}: lambda_1 = 3 / (3 - 1), lambda_3 = 1 / (1 - 3). */
START_TEST(test_vector_lagrange)
{
    const uint16_t ids[] = {1, 3};
    uint8_t l1[32], l3[32], two[32], three[32], one[32], got[32];
    small_scalar(one, 1);
    small_scalar(two, 2);
    small_scalar(three, 3);
    ck_assert_int_eq(frost_lagrange(1, ids, 2, l1), 0);
    ck_assert_int_eq(frost_lagrange(3, ids, 2, l3), 0);
    mul_mod_n(got, l1, two); /* 2 * lambda_1 == 3 */
    ck_assert_mem_eq(got, three, 32);
    mul_mod_n(got, l3, two); /* -2 * lambda_3 == 1 */
    ck_assert(secp256k1_ec_seckey_negate(secp_ctx(), got));
    ck_assert_mem_eq(got, one, 32);
    /* not a member, duplicates, unsorted, out of range */
    ck_assert_int_eq(frost_lagrange(2, ids, 2, got), -1);
    ck_assert_int_eq(frost_lagrange(1, (const uint16_t[]){1, 1}, 2, got), -1);
    ck_assert_int_eq(frost_lagrange(1, (const uint16_t[]){3, 1}, 2, got), -1);
    ck_assert_int_eq(frost_lagrange(17, (const uint16_t[]){1, 17}, 2, got), -1);
}
END_TEST

/* ---- scalar arithmetic ---------------------------------------------------------------------- */

/* Expected values from Python's integers. */
START_TEST(test_reduce48)
{
    static const struct {
        const char *in, *out;
    } rows[] = {
        /* 2^384 - 1 */
        {"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
         "ffffffff",
         "4551231950b75fc4402da1732fc9bec04551231950b75fc4402da1732fc9bebe"},
        /* n * 2^128 + 5 */
        {"fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141000000000000000000000000"
         "00000005",
         "0000000000000000000000000000000000000000000000000000000000000005"},
        /* 2n: zero */
        {"00000000000000000000000000000001fffffffffffffffffffffffffffffffd755db9cd5e9140777fa4bd19"
         "a06c8282",
         "0000000000000000000000000000000000000000000000000000000000000000"},
        /* n - 1 */
        {"00000000000000000000000000000000fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8c"
         "d0364140",
         "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140"},
        {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567"
         "89abcdef",
         "029568d4e0803efe7337e0f7b6a16c09d0ded2082b7a024b603c59e55558d540"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        uint8_t in[48], out[32];
        unhex(in, 48, rows[i].in);
        ck_assert_int_eq(frost_scalar_reduce48(in, out), 0);
        ck_assert_hex(out, 32, rows[i].out);
    }
}
END_TEST

START_TEST(test_inverse)
{
    uint8_t x[32], inv[32], back[32], one[32], prod[32];
    small_scalar(one, 1);
    small_scalar(x, 2);
    ck_assert_int_eq(frost_scalar_inverse(x, inv), 0); /* (n + 1) / 2 */
    ck_assert_hex(inv, 32, "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a1");
    for (int i = 0; i < 8; i++) {
        do
            random_bytes(x, 32);
        while (!secp256k1_ec_seckey_verify(secp_ctx(), x));
        ck_assert_int_eq(frost_scalar_inverse(x, inv), 0);
        mul_mod_n(prod, x, inv);
        ck_assert_mem_eq(prod, one, 32);
        ck_assert_int_eq(frost_scalar_inverse(inv, back), 0);
        ck_assert_mem_eq(back, x, 32);
    }
    memset(x, 0, 32);
    ck_assert_int_eq(frost_scalar_inverse(x, inv), -1);
}
END_TEST

/* ---- t-of-n with fresh keys ----------------------------------------------------------------- */

struct group {
    unsigned t, n;
    uint8_t pub[FROST_POINT_LEN];
    uint8_t shares[FROST_MAX_PARTICIPANTS][FROST_SCALAR_LEN];
    uint8_t vshares[FROST_MAX_PARTICIPANTS][FROST_POINT_LEN];
    uint8_t vss[FROST_MAX_PARTICIPANTS][FROST_POINT_LEN];
};

static void group_new(struct group *g, unsigned t, unsigned n)
{
    g->t = t;
    g->n = n;
    ck_assert_int_eq(frost_dealer_keygen(t, n, g->pub, g->shares, g->vshares, g->vss), 0);
}

/* A session: signers ids (ascending) commit, sign, and their shares are verified. */
struct session {
    size_t count;
    struct frost_commitment list[FROST_MAX_PARTICIPANTS];
    uint8_t sig_shares[FROST_MAX_PARTICIPANTS][FROST_SCALAR_LEN];
};

static void session_run(struct session *s, const struct group *g, const uint16_t *ids, size_t count,
                        const uint8_t *msg, size_t mlen)
{
    struct frost_nonces nonces[FROST_MAX_PARTICIPANTS];
    s->count = count;
    for (size_t i = 0; i < count; i++)
        ck_assert_int_eq(frost_commit(ids[i], g->shares[ids[i] - 1], &nonces[i], &s->list[i]), 0);
    for (size_t i = 0; i < count; i++) {
        ck_assert_int_eq(frost_sign(ids[i], g->shares[ids[i] - 1], &nonces[i], s->list, count, msg,
                                    mlen, g->pub, s->sig_shares[i]),
                         0);
        ck_assert_msg(frost_share_verify(ids[i], g->vshares[ids[i] - 1], s->sig_shares[i], s->list,
                                         count, msg, mlen, g->pub) == 0,
                      "share of signer %u (t=%u n=%u)", ids[i], g->t, g->n);
    }
}

/* A random subset of 1..n of the given size, ascending. */
static size_t random_subset(uint16_t *ids, unsigned n, unsigned size)
{
    uint16_t all[FROST_MAX_PARTICIPANTS];
    for (unsigned i = 0; i < n; i++)
        all[i] = (uint16_t)(i + 1);
    for (unsigned i = n; i > 1; i--) { /* Fisher-Yates; the bias of % is irrelevant here */
        uint32_t r;
        random_bytes(&r, sizeof(r));
        unsigned j = r % i;
        uint16_t tmp = all[i - 1];
        all[i - 1] = all[j];
        all[j] = tmp;
    }
    size_t count = 0;
    for (unsigned id = 1; id <= n; id++)
        for (unsigned k = 0; k < size; k++)
            if (all[k] == id)
                ids[count++] = (uint16_t)id;
    return count;
}

static const unsigned configs[][2] = {{2, 3}, {3, 4}, {4, 6}, {5, 7}};

START_TEST(test_threshold_signing)
{
    unsigned t = configs[_i][0], n = configs[_i][1];
    struct group g;
    group_new(&g, t, n);
    for (unsigned i = 0; i < n; i++) {
        uint8_t pub[FROST_POINT_LEN];
        ck_assert_int_eq(frost_vss_verify((uint16_t)(i + 1), g.shares[i], g.vss, t), 0);
        ck_assert_int_eq(frost_public(g.shares[i], pub), 0);
        ck_assert_mem_eq(pub, g.vshares[i], FROST_POINT_LEN);
    }
    ck_assert_mem_eq(g.vss[0], g.pub, FROST_POINT_LEN);
    ck_assert_int_eq(frost_group_check(t, n, g.vshares, g.pub), 0);

    /* subsets of size t, t + 1 (when there is one) and n, two random draws each */
    const unsigned sizes[] = {t, t + 1 <= n ? t + 1 : t, n};
    for (size_t k = 0; k < 6; k++) {
        uint16_t ids[FROST_MAX_PARTICIPANTS];
        size_t count = random_subset(ids, n, sizes[k / 2]);
        struct session s;
        uint8_t sig[FROST_SIG_LEN];
        session_run(&s, &g, ids, count, MSG, sizeof(MSG));
        ck_assert_int_eq(frost_aggregate(s.list, count, s.sig_shares, MSG, sizeof(MSG), g.pub, sig),
                         0);
        ck_assert_msg(frost_verify(g.pub, MSG, sizeof(MSG), sig) == 0, "t=%u n=%u count=%zu", t, n,
                      count);
        if (k % 2 == 0) /* the independent verifier on one signature per size */
            ck_assert_int_eq(python_verify(g.pub, MSG, sizeof(MSG), sig), 0);
    }

    /* Fewer than t signers: every share is well formed, the signature is not valid. */
    if (t > 1) {
        uint16_t ids[FROST_MAX_PARTICIPANTS];
        size_t count = random_subset(ids, n, t - 1);
        struct session s;
        uint8_t sig[FROST_SIG_LEN];
        struct frost_nonces nonces[FROST_MAX_PARTICIPANTS];
        for (size_t i = 0; i < count; i++)
            ck_assert_int_eq(frost_commit(ids[i], g.shares[ids[i] - 1], &nonces[i], &s.list[i]), 0);
        for (size_t i = 0; i < count; i++)
            ck_assert_int_eq(frost_sign(ids[i], g.shares[ids[i] - 1], &nonces[i], s.list, count,
                                        MSG, sizeof(MSG), g.pub, s.sig_shares[i]),
                             0);
        ck_assert_int_eq(frost_aggregate(s.list, count, s.sig_shares, MSG, sizeof(MSG), g.pub, sig),
                         0);
        ck_assert_int_eq(frost_verify(g.pub, MSG, sizeof(MSG), sig), -1);
        ck_assert_int_eq(python_verify(g.pub, MSG, sizeof(MSG), sig), 1);
    }
}
END_TEST

/* t = n = 1 (a one-node cluster) and t = n = FROST_MAX_PARTICIPANTS. */
START_TEST(test_threshold_edges)
{
    const unsigned sizes[] = {1, FROST_MAX_PARTICIPANTS};
    for (size_t k = 0; k < 2; k++) {
        struct group g;
        struct session s;
        uint16_t ids[FROST_MAX_PARTICIPANTS];
        uint8_t sig[FROST_SIG_LEN];
        group_new(&g, sizes[k], sizes[k]);
        ck_assert_int_eq(frost_group_check(g.t, g.n, g.vshares, g.pub), 0);
        size_t count = random_subset(ids, g.n, g.n);
        session_run(&s, &g, ids, count, MSG, sizeof(MSG));
        ck_assert_int_eq(frost_aggregate(s.list, count, s.sig_shares, MSG, sizeof(MSG), g.pub, sig),
                         0);
        ck_assert_int_eq(frost_verify(g.pub, MSG, sizeof(MSG), sig), 0);
    }
}
END_TEST

/* An empty message, and one longer than a SHA-256 block. */
START_TEST(test_message_lengths)
{
    struct group g;
    struct session s;
    const uint16_t ids[] = {1, 2, 4};
    uint8_t sig[FROST_SIG_LEN], long_msg[300];
    group_new(&g, 3, 4);
    session_run(&s, &g, ids, 3, NULL, 0);
    ck_assert_int_eq(frost_aggregate(s.list, 3, s.sig_shares, NULL, 0, g.pub, sig), 0);
    ck_assert_int_eq(frost_verify(g.pub, NULL, 0, sig), 0);
    ck_assert_int_eq(python_verify(g.pub, (const uint8_t *)"", 0, sig), 0);

    for (size_t i = 0; i < sizeof(long_msg); i++)
        long_msg[i] = (uint8_t)i;
    session_run(&s, &g, ids, 3, long_msg, sizeof(long_msg));
    ck_assert_int_eq(
        frost_aggregate(s.list, 3, s.sig_shares, long_msg, sizeof(long_msg), g.pub, sig), 0);
    ck_assert_int_eq(frost_verify(g.pub, long_msg, sizeof(long_msg), sig), 0);
    ck_assert_int_eq(python_verify(g.pub, long_msg, sizeof(long_msg), sig), 0);
}
END_TEST

/* ---- negative ------------------------------------------------------------------------------- */

/* A signature share changed in transit is caught by share verification, which names its signer;
 * the aggregate of the shares does not verify. */
START_TEST(test_tampered_share_named)
{
    struct group g;
    struct session s;
    const uint16_t ids[] = {1, 3, 4};
    const size_t bad = 1; /* signer 3 */
    uint8_t sig[FROST_SIG_LEN];
    group_new(&g, 3, 4);
    session_run(&s, &g, ids, 3, MSG, sizeof(MSG));
    s.sig_shares[bad][31] ^= 0x01;

    unsigned named = 0, nbad = 0;
    for (size_t i = 0; i < 3; i++)
        if (frost_share_verify(ids[i], g.vshares[ids[i] - 1], s.sig_shares[i], s.list, 3, MSG,
                               sizeof(MSG), g.pub) < 0) {
            named = ids[i];
            nbad++;
        }
    ck_assert_uint_eq(nbad, 1);
    ck_assert_uint_eq(named, ids[bad]);
    ck_assert_int_eq(frost_aggregate(s.list, 3, s.sig_shares, MSG, sizeof(MSG), g.pub, sig), 0);
    ck_assert_int_eq(frost_verify(g.pub, MSG, sizeof(MSG), sig), -1);
    ck_assert_int_eq(python_verify(g.pub, MSG, sizeof(MSG), sig), 1);

    /* A share computed honestly but for another signer's slot is also named. */
    s.sig_shares[bad][31] ^= 0x01;
    ck_assert_int_eq(frost_share_verify(ids[0], g.vshares[ids[0] - 1], s.sig_shares[bad], s.list, 3,
                                        MSG, sizeof(MSG), g.pub),
                     -1);
    /* A valid share does not verify against another signer's verification share. */
    ck_assert_int_eq(frost_share_verify(ids[bad], g.vshares[ids[0] - 1], s.sig_shares[bad], s.list,
                                        3, MSG, sizeof(MSG), g.pub),
                     -1);
}
END_TEST

START_TEST(test_verify_rejects)
{
    struct group g, other;
    struct session s;
    const uint16_t ids[] = {2, 3};
    uint8_t sig[FROST_SIG_LEN], bad[FROST_SIG_LEN];
    static const uint8_t wrong[] = "aequa/tss/v1 test messagf";
    group_new(&g, 2, 3);
    group_new(&other, 2, 3);
    session_run(&s, &g, ids, 2, MSG, sizeof(MSG));
    ck_assert_int_eq(frost_aggregate(s.list, 2, s.sig_shares, MSG, sizeof(MSG), g.pub, sig), 0);
    ck_assert_int_eq(frost_verify(g.pub, MSG, sizeof(MSG), sig), 0);

    ck_assert_int_eq(frost_verify(g.pub, wrong, sizeof(wrong), sig), -1);    /* message */
    ck_assert_int_eq(frost_verify(g.pub, MSG, sizeof(MSG) - 1, sig), -1);    /* length */
    ck_assert_int_eq(frost_verify(other.pub, MSG, sizeof(MSG), sig), -1);    /* key */
    ck_assert_int_eq(frost_verify(g.vshares[1], MSG, sizeof(MSG), sig), -1); /* a share's key */
    ck_assert_int_eq(python_verify(g.pub, wrong, sizeof(wrong), sig), 1);
    ck_assert_int_eq(python_verify(other.pub, MSG, sizeof(MSG), sig), 1);

    /* every single-bit flip of R and of z */
    for (size_t bit = 0; bit < 8 * FROST_SIG_LEN; bit++) {
        memcpy(bad, sig, sizeof(bad));
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ck_assert_msg(frost_verify(g.pub, MSG, sizeof(MSG), bad) == -1, "bit %zu", bit);
    }
    memcpy(bad, sig, sizeof(bad));
    bad[40] ^= 0x80;
    ck_assert_int_eq(python_verify(g.pub, MSG, sizeof(MSG), bad), 1);
    bad[40] ^= 0x80;
    bad[0] ^= 0x01; /* R negated */
    ck_assert_int_eq(python_verify(g.pub, MSG, sizeof(MSG), bad), 1);

    /* z >= n; R uncompressed, with x >= p, all zeros */
    memcpy(bad, sig, sizeof(bad));
    memset(bad + FROST_POINT_LEN, 0xff, 32);
    ck_assert_int_eq(frost_verify(g.pub, MSG, sizeof(MSG), bad), -1);
    memcpy(bad, sig, sizeof(bad));
    bad[0] = 0x04;
    ck_assert_int_eq(frost_verify(g.pub, MSG, sizeof(MSG), bad), -1);
    memcpy(bad, sig, sizeof(bad));
    memset(bad + 1, 0xff, 32); /* x >= p */
    ck_assert_int_eq(frost_verify(g.pub, MSG, sizeof(MSG), bad), -1);
    memset(bad, 0, FROST_POINT_LEN); /* what an identity encoding would look like */
    ck_assert_int_eq(frost_verify(g.pub, MSG, sizeof(MSG), bad), -1);
}
END_TEST

/* Commitment lists: duplicates, order, identifiers, sizes, points. */
enum { DUP, UNSORTED, ID0, ID17, HIDING_04, HIDING_OFFCURVE, BINDING_XP, BINDING_ZERO, EDITS };

static void list_edit(struct frost_commitment *l, int edit)
{
    switch (edit) {
    case DUP:
        l[2].id = l[1].id;
        break;
    case UNSORTED:
        l[0].id = 2, l[1].id = 1;
        break;
    case ID0:
        l[0].id = 0;
        break;
    case ID17:
        l[2].id = FROST_MAX_PARTICIPANTS + 1;
        break;
    case HIDING_04:
        l[1].hiding[0] = 0x04;
        break;
    case HIDING_OFFCURVE: /* x = 5: 5^3 + 7 = 132 is not a square mod p */
        memset(l[1].hiding + 1, 0, 32), l[1].hiding[32] = 5;
        break;
    case BINDING_XP:
        memset(l[0].binding + 1, 0xff, 32);
        break;
    case BINDING_ZERO:
        memset(l[2].binding, 0, FROST_POINT_LEN);
        break;
    }
}

START_TEST(test_list_rejects)
{
    struct group g;
    struct session s;
    const uint16_t ids[] = {1, 2, 3};
    uint8_t sig[FROST_SIG_LEN], out[32];
    struct frost_commitment l[FROST_MAX_PARTICIPANTS + 1];
    uint8_t zs[FROST_MAX_PARTICIPANTS + 1][FROST_SCALAR_LEN];
    struct frost_nonces nonces;
    group_new(&g, 3, 4);
    session_run(&s, &g, ids, 3, MSG, sizeof(MSG));
    ck_assert_int_eq(frost_aggregate(s.list, 3, s.sig_shares, MSG, sizeof(MSG), g.pub, sig), 0);
    /* control: signer 3 signs a list holding its fresh commitment */
    memcpy(l, s.list, sizeof(s.list));
    ck_assert_int_eq(frost_commit(3, g.shares[2], &nonces, &l[2]), 0);
    ck_assert_int_eq(frost_sign(3, g.shares[2], &nonces, l, 3, MSG, sizeof(MSG), g.pub, out), 0);

    for (int e = 0; e < EDITS; e++) {
        memcpy(l, s.list, sizeof(s.list));
        list_edit(l, e);
        ck_assert_msg(frost_aggregate(l, 3, s.sig_shares, MSG, sizeof(MSG), g.pub, sig) == -1,
                      "edit %d", e);
        ck_assert_msg(frost_share_verify(1, g.vshares[0], s.sig_shares[0], l, 3, MSG, sizeof(MSG),
                                         g.pub) == -1,
                      "edit %d", e);
        if (e >= ID0) {
            bool bad_one = false;
            for (int i = 0; i < 3; i++)
                bad_one |= frost_commitment_check(&l[i]) < 0;
            ck_assert_msg(bad_one, "edit %d", e);
        }
        memcpy(l, s.list, sizeof(s.list));
        ck_assert_int_eq(frost_commit(3, g.shares[2], &nonces, &l[2]), 0);
        list_edit(l, e);
        ck_assert_msg(frost_sign(3, g.shares[2], &nonces, l, 3, MSG, sizeof(MSG), g.pub, out) == -1,
                      "edit %d", e);
    }
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(frost_commitment_check(&s.list[i]), 0);

    /* sizes: empty, FROST_MAX_PARTICIPANTS, one more */
    ck_assert_int_eq(frost_aggregate(s.list, 0, s.sig_shares, MSG, sizeof(MSG), g.pub, sig), -1);
    for (size_t i = 0; i <= FROST_MAX_PARTICIPANTS; i++) {
        l[i] = s.list[i % 3];
        l[i].id = (uint16_t)(i + 1);
        memcpy(zs[i], s.sig_shares[0], 32);
    }
    ck_assert_int_eq(frost_aggregate(l, FROST_MAX_PARTICIPANTS, zs, MSG, sizeof(MSG), g.pub, sig),
                     0);
    ck_assert_int_eq(
        frost_aggregate(l, FROST_MAX_PARTICIPANTS + 1, zs, MSG, sizeof(MSG), g.pub, sig), -1);
    /* the group key must be a valid point */
    uint8_t badpub[FROST_POINT_LEN];
    memcpy(badpub, g.pub, sizeof(badpub));
    badpub[0] = 0x05;
    ck_assert_int_eq(frost_aggregate(s.list, 3, s.sig_shares, MSG, sizeof(MSG), badpub, sig), -1);
    /* a signer missing from the list */
    ck_assert_int_eq(
        frost_share_verify(4, g.vshares[3], s.sig_shares[2], s.list, 3, MSG, sizeof(MSG), g.pub),
        -1);
}
END_TEST

/*
 * Sums that reach the identity, which secp256k1_pubkey cannot hold. (A group commitment R at
 * the identity is refused too, but no choice of commitments reaches it: every binding factor
 * hashes the whole list.)
 */
START_TEST(test_identity_sums)
{
    uint8_t k[4][32], p[4][FROST_POINT_LEN], vs[2][FROST_POINT_LEN], zero[32] = {0};
    for (unsigned i = 1; i <= 3; i++) {
        small_scalar(k[i], i);
        ck_assert_int_eq(frost_public(k[i], p[i]), 0); /* p[i] = i * G */
    }
    /* f(x) = 1 + x: f(1) = 2, f(2) = 3 interpolate to f(0) = 1 */
    memcpy(vs[0], p[2], 33), memcpy(vs[1], p[3], 33);
    ck_assert_int_eq(frost_group_check(2, 2, vs, p[1]), 0);
    /* f(x) = x: f(1) = 1, f(2) = 2 interpolate to the identity (2 * G - 2 * G), never a key */
    memcpy(vs[0], p[1], 33), memcpy(vs[1], p[2], 33);
    ck_assert_int_eq(frost_group_check(2, 2, vs, p[1]), -1);
    ck_assert_int_eq(frost_group_check(2, 2, vs, p[2]), -1);
    /* vss [G, -G]: signer 1's expected key is the identity, so no share matches */
    memcpy(vs[0], p[1], 33), memcpy(vs[1], p[1], 33);
    vs[1][0] ^= 0x01;
    ck_assert_int_eq(frost_vss_verify(1, k[1], vs, 2), -1);

    /* a zero signature share: z * G is the identity */
    struct group g;
    struct session s;
    const uint16_t ids[] = {1, 2};
    group_new(&g, 2, 2);
    session_run(&s, &g, ids, 2, MSG, sizeof(MSG));
    ck_assert_int_eq(frost_share_verify(1, g.vshares[0], zero, s.list, 2, MSG, sizeof(MSG), g.pub),
                     -1);
}
END_TEST

START_TEST(test_nonces_single_use)
{
    struct group g;
    struct frost_nonces n[2], copy;
    struct frost_commitment l[2];
    uint8_t z[32];
    static const struct frost_nonces zero;
    group_new(&g, 2, 3);
    ck_assert_int_eq(frost_commit(1, g.shares[0], &n[0], &l[0]), 0);
    ck_assert_int_eq(frost_commit(3, g.shares[2], &n[1], &l[1]), 0);
    copy = n[0];
    ck_assert_int_eq(frost_sign(1, g.shares[0], &n[0], l, 2, MSG, sizeof(MSG), g.pub, z), 0);
    ck_assert_mem_eq(&n[0], &zero, sizeof(zero)); /* wiped */
    ck_assert_int_eq(frost_sign(1, g.shares[0], &n[0], l, 2, MSG, sizeof(MSG), g.pub, z), -1);
    /* a failed sign (signer 2 is not in the list) wipes them too */
    ck_assert_int_eq(frost_sign(2, g.shares[1], &copy, l, 2, MSG, sizeof(MSG), g.pub, z), -1);
    ck_assert_mem_eq(&copy, &zero, sizeof(zero));
    /* nonces that do not match the signer's commitments in the list */
    struct frost_nonces other;
    struct frost_commitment oc;
    ck_assert_int_eq(frost_commit(3, g.shares[2], &other, &oc), 0);
    ck_assert_int_eq(frost_sign(3, g.shares[2], &other, l, 2, MSG, sizeof(MSG), g.pub, z), -1);
    ck_assert_mem_eq(&other, &zero, sizeof(zero));
    /* only one of the two commitments in the list is this signer's */
    for (int which = 0; which < 2; which++) {
        struct frost_commitment mixed[2] = {l[0], l[1]};
        ck_assert_int_eq(frost_commit(3, g.shares[2], &other, &oc), 0);
        frost_nonces_wipe(&other); /* only its commitments are needed */
        if (which == 0)
            memcpy(mixed[1].hiding, oc.hiding, FROST_POINT_LEN);
        else
            memcpy(mixed[1].binding, oc.binding, FROST_POINT_LEN);
        copy = n[1];
        ck_assert_int_eq(frost_sign(3, g.shares[2], &copy, mixed, 2, MSG, sizeof(MSG), g.pub, z),
                         -1);
    }
    frost_nonces_wipe(&n[1]);
    ck_assert_mem_eq(&n[1], &zero, sizeof(zero));
}
END_TEST

/* Scalars >= n and zeros where the RFC forbids them. */
START_TEST(test_scalar_rejects)
{
    struct group g;
    struct session s;
    const uint16_t ids[] = {1, 2};
    uint8_t n_bytes[32], zero[32] = {0}, ff[32], pub[FROST_POINT_LEN], sig[FROST_SIG_LEN];
    uint8_t shares[4][32], vshares[4][33], vss[4][33], coeffs[3][32];
    struct frost_nonces nonces;
    struct frost_commitment c;
    unhex(n_bytes, 32, "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
    memset(ff, 0xff, 32);
    group_new(&g, 2, 3);
    session_run(&s, &g, ids, 2, MSG, sizeof(MSG));

    ck_assert_int_eq(frost_public(n_bytes, pub), -1);
    ck_assert_int_eq(frost_public(zero, pub), -1);
    ck_assert_int_eq(frost_public(ff, pub), -1);
    ck_assert_int_eq(frost_commit(1, n_bytes, &nonces, &c), -1);
    ck_assert_int_eq(frost_commit(1, zero, &nonces, &c), -1);
    ck_assert_int_eq(frost_commit(0, g.shares[0], &nonces, &c), -1);
    ck_assert_int_eq(frost_commit(FROST_MAX_PARTICIPANTS + 1, g.shares[0], &nonces, &c), -1);
    ck_assert_int_eq(frost_vss_verify(1, n_bytes, g.vss, 2), -1);
    ck_assert_int_eq(
        frost_share_verify(1, g.vshares[0], n_bytes, s.list, 2, MSG, sizeof(MSG), g.pub), -1);
    memcpy(s.sig_shares[1], n_bytes, 32);
    ck_assert_int_eq(frost_aggregate(s.list, 2, s.sig_shares, MSG, sizeof(MSG), g.pub, sig), -1);
    memcpy(s.sig_shares[1], zero, 32); /* zero is a scalar: aggregated, does not verify */
    ck_assert_int_eq(frost_aggregate(s.list, 2, s.sig_shares, MSG, sizeof(MSG), g.pub, sig), 0);
    ck_assert_int_eq(frost_verify(g.pub, MSG, sizeof(MSG), sig), -1);

    /* the dealer: secret or coefficient zero or >= n, thresholds out of range */
    memset(coeffs, 0x11, sizeof(coeffs));
    ck_assert_int_eq(frost_dealer_split(n_bytes, coeffs, 2, 3, pub, shares, vshares, vss), -1);
    ck_assert_int_eq(frost_dealer_split(zero, coeffs, 2, 3, pub, shares, vshares, vss), -1);
    memcpy(coeffs[1], n_bytes, 32);
    ck_assert_int_eq(frost_dealer_split(g.shares[0], coeffs, 3, 4, pub, shares, vshares, vss), -1);
    memset(coeffs[1], 0, 32);
    ck_assert_int_eq(frost_dealer_split(g.shares[0], coeffs, 3, 4, pub, shares, vshares, vss), -1);
    ck_assert_int_eq(frost_dealer_split(g.shares[0], coeffs, 2, 4, pub, shares, vshares, NULL), 0);
    /* f(x) = 1 + (n - 1) x: f(1) = 0, a share with no verification share; none is handed out */
    uint8_t secret1[32], minus1[1][32];
    small_scalar(secret1, 1);
    memcpy(minus1[0], n_bytes, 32);
    minus1[0][31] -= 1;
    ck_assert_int_eq(frost_dealer_split(secret1, minus1, 2, 3, pub, shares, vshares, vss), -1);
    for (int i = 0; i < 3; i++)
        ck_assert_mem_eq(shares[i], zero, 32);
    ck_assert_int_eq(frost_dealer_keygen(0, 3, pub, shares, vshares, vss), -1);
    ck_assert_int_eq(frost_dealer_keygen(4, 3, pub, shares, vshares, vss), -1);
    uint8_t big_s[FROST_MAX_PARTICIPANTS + 1][32], big_v[FROST_MAX_PARTICIPANTS + 1][33];
    ck_assert_int_eq(frost_dealer_keygen(2, FROST_MAX_PARTICIPANTS + 1, pub, big_s, big_v, NULL),
                     -1);
}
END_TEST

/* Dealt shares that do not match the commitments; verification shares that do not match the
 * group key. */
START_TEST(test_vss_rejects)
{
    struct group g, other;
    uint8_t share[32], one[32], vs[4][33];
    group_new(&g, 3, 4);
    group_new(&other, 3, 4);
    small_scalar(one, 1);

    memcpy(share, g.shares[1], 32);
    ck_assert(secp256k1_ec_seckey_tweak_add(secp_ctx(), share, one));
    ck_assert_int_eq(frost_vss_verify(2, share, g.vss, 3), -1);           /* share + 1 */
    ck_assert_int_eq(frost_vss_verify(3, g.shares[1], g.vss, 3), -1);     /* wrong identifier */
    ck_assert_int_eq(frost_vss_verify(2, g.shares[1], other.vss, 3), -1); /* other dealing */
    ck_assert_int_eq(frost_vss_verify(2, g.shares[1], g.vss, 2), -1);     /* truncated vss */
    ck_assert_int_eq(frost_vss_verify(0, g.shares[1], g.vss, 3), -1);
    memcpy(vs, g.vss, sizeof(vs));
    vs[2][0] = 0x07;
    ck_assert_int_eq(frost_vss_verify(2, g.shares[1], vs, 3), -1); /* invalid point */

    ck_assert_int_eq(frost_group_check(3, 4, g.vshares, g.pub), 0);
    ck_assert_int_eq(frost_group_check(3, 4, g.vshares, other.pub), -1);
    ck_assert_int_eq(frost_group_check(2, 4, g.vshares, g.pub), -1); /* degree 2, not 1 */
    memcpy(vs, g.vshares, sizeof(vs));
    memcpy(vs[3], other.vshares[3], 33); /* one foreign share after the first t */
    ck_assert_int_eq(frost_group_check(3, 4, vs, g.pub), -1);
    memcpy(vs, g.vshares, sizeof(vs));
    memcpy(vs[0], vs[1], 33), memcpy(vs[1], g.vshares[0], 33); /* two swapped */
    ck_assert_int_eq(frost_group_check(3, 4, vs, g.pub), -1);
    memcpy(vs, g.vshares, sizeof(vs));
    vs[2][0] = 0x00;
    ck_assert_int_eq(frost_group_check(3, 4, vs, g.pub), -1);
    ck_assert_int_eq(frost_group_check(5, 4, g.vshares, g.pub), -1);
    ck_assert_int_eq(frost_group_check(0, 4, g.vshares, g.pub), -1);
}
END_TEST

int main(void)
{
    crypto_init();
    Suite *s = suite_create("frost");
    TCase *tc = tcase_create("frost");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_vector_keys);
    tcase_add_test(tc, test_vector_round_one);
    tcase_add_test(tc, test_vector_round_two);
    tcase_add_test(tc, test_vector_lagrange);
    tcase_add_test(tc, test_reduce48);
    tcase_add_test(tc, test_inverse);
    tcase_add_loop_test(tc, test_threshold_signing, 0, sizeof(configs) / sizeof(configs[0]));
    tcase_add_test(tc, test_threshold_edges);
    tcase_add_test(tc, test_message_lengths);
    tcase_add_test(tc, test_tampered_share_named);
    tcase_add_test(tc, test_verify_rejects);
    tcase_add_test(tc, test_list_rejects);
    tcase_add_test(tc, test_identity_sums);
    tcase_add_test(tc, test_nonces_single_use);
    tcase_add_test(tc, test_scalar_rejects);
    tcase_add_test(tc, test_vss_rejects);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
