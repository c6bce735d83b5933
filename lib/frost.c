/*
 * frost: FROST(secp256k1, SHA-256) per RFC 9591 (see frost.h for the API and encodings).
 *
 * Arithmetic goes through libsecp256k1 0.2.0's public API only: scalars are 32-byte big-endian
 * strings combined with the secret-key tweak functions (constant time), points are
 * secp256k1_pubkey combined with the public-key tweak/combine functions. That API has no zero
 * scalar and no point at infinity, but FROST meets both legitimately (a sum of scalars can be
 * 0 mod n, a signature share can be 0, a partial sum of points can be the identity), so the
 * wrappers below give each type its zero explicitly: struct scalar may hold 0, struct point
 * has an `inf` flag. Encodings never carry them where the RFC forbids it (an element is never
 * the identity; identifiers, shares and nonces are never zero). The wrappers branch on "is
 * zero", which for a secret value happens with probability about 2^-256; all other arithmetic on
 * secrets is libsecp256k1's constant-time code, and the reductions mod n here are branch-free.
 *
 * Owns nothing. Bad input returns -1; the only exits are lib/crypto's own fatal errors (no
 * randomness from getrandom, OpenSSL unable to hash), which no input can cause.
 */
#include "lib/frost.h"
#include "lib/frost_int.h"
#include "lib/crypto.h"

#include <secp256k1.h>
#include <stdbool.h>
#include <string.h>

#define CONTEXT_STRING "FROST-secp256k1-SHA256-v1"
#define XMD_LEN        48 /* hash_to_field's L for secp256k1: ceil((256 + 128) / 8) */
/* One entry of encode_group_commitment_list: SerializeScalar(id) || hiding || binding. */
#define ENCODED_COMMITMENT_LEN (FROST_SCALAR_LEN + 2 * FROST_POINT_LEN)

/* The group order n, big-endian. */
static const uint8_t ORDER[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                  0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};

/* 2^256 mod n (= 2^256 - n), the weight of the high half in the wide reduction. */
static const uint8_t TWO256_MOD_N[32] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x45, 0x51, 0x23, 0x19, 0x50, 0xb7, 0x5f, 0xc4, 0x40, 0x2d, 0xa1, 0x73, 0x2f, 0xc9, 0xbe, 0xbf};

static secp256k1_context *ctx(void)
{
    return secp_ctx();
}

static void wipe(void *p, size_t n)
{
    explicit_bzero(p, n);
}

/* ---- scalars mod n (zero allowed) ----------------------------------------------------------- */

struct scalar {
    uint8_t b[32];
};

static bool scalar_is_zero(const struct scalar *a)
{
    uint8_t acc = 0;
    for (int i = 0; i < 32; i++)
        acc |= a->b[i];
    return acc == 0;
}

/* out = in - n if in >= n, else in; in constant time. Enough to reduce any 256-bit value, as
 * 2^256 < 2n. Returns 1 if in was >= n. */
static int scalar_reduce_once(uint8_t out[32], const uint8_t in[32])
{
    uint8_t diff[32];
    unsigned borrow = 0;
    for (int i = 31; i >= 0; i--) {
        unsigned d = (unsigned)in[i] - ORDER[i] - borrow;
        diff[i] = (uint8_t)d;
        borrow = (d >> 8) & 1;
    }
    uint8_t keep_diff = (uint8_t)(borrow - 1); /* 0xff when in >= n */
    for (int i = 0; i < 32; i++)
        out[i] = (uint8_t)((diff[i] & keep_diff) | (in[i] & ~keep_diff));
    wipe(diff, sizeof(diff));
    return keep_diff & 1;
}

/* RFC DeserializeScalar: -1 if in >= n. With nonzero, also -1 for 0 (a NonZeroScalar). */
static int scalar_parse(struct scalar *out, const uint8_t in[32], bool nonzero)
{
    if (scalar_reduce_once(out->b, in) || (nonzero && scalar_is_zero(out))) {
        wipe(out, sizeof(*out));
        return -1;
    }
    return 0;
}

static void scalar_from_u16(struct scalar *out, unsigned v)
{
    memset(out->b, 0, 32);
    out->b[30] = (uint8_t)(v >> 8);
    out->b[31] = (uint8_t)v;
}

/* The tweak functions below fail only for a zero or out-of-range operand; every struct scalar
 * is < n by construction and zeros are handled before the call, so a failure means a broken
 * invariant and is returned as -1 all the same rather than ignored. */

static int scalar_add(struct scalar *r, const struct scalar *a, const struct scalar *b)
{
    if (scalar_is_zero(a)) {
        *r = *b;
        return 0;
    }
    if (scalar_is_zero(b)) {
        *r = *a;
        return 0;
    }
    struct scalar t = *a;
    /* With both operands valid, tweak_add refuses only a sum of 0 mod n: that is our zero. */
    if (!secp256k1_ec_seckey_tweak_add(ctx(), t.b, b->b))
        memset(t.b, 0, 32);
    *r = t;
    wipe(&t, sizeof(t));
    return 0;
}

static int scalar_mul(struct scalar *r, const struct scalar *a, const struct scalar *b)
{
    if (scalar_is_zero(a) || scalar_is_zero(b)) {
        memset(r->b, 0, 32);
        return 0;
    }
    struct scalar t = *a;
    int ok = secp256k1_ec_seckey_tweak_mul(ctx(), t.b, b->b);
    *r = t;
    wipe(&t, sizeof(t));
    return ok ? 0 : -1;
}

static int scalar_neg(struct scalar *r, const struct scalar *a)
{
    *r = *a;
    if (scalar_is_zero(a))
        return 0;
    return secp256k1_ec_seckey_negate(ctx(), r->b) ? 0 : -1;
}

/*
 * r = a^-1 mod n by Fermat's little theorem, a^(n-2), left-to-right square-and-multiply over
 * the fixed public exponent: 255 squarings and 195 multiplications (n - 2 has 256 bits, 196 of
 * them set), each one secp256k1_ec_seckey_tweak_mul, so about 450 scalar multiplications
 * (tens of microseconds). Used only on public values (Lagrange denominators). -1 for a = 0.
 */
static int scalar_inverse(struct scalar *r, const struct scalar *a)
{
    if (scalar_is_zero(a))
        return -1;
    struct scalar e, acc;
    int rc = 0;
    memcpy(e.b, ORDER, 32);
    e.b[31] -= 2; /* n ends in 0x41: no borrow */
    scalar_from_u16(&acc, 1);
    for (int bit = 255; bit >= 0; bit--) {
        rc |= scalar_mul(&acc, &acc, &acc);
        if ((e.b[31 - bit / 8] >> (bit % 8)) & 1)
            rc |= scalar_mul(&acc, &acc, a);
    }
    *r = acc;
    return rc;
}

/* The 48-byte big-endian integer x reduced mod n: x = hi * 2^256 + lo with hi < 2^128, so
 * x mod n = hi * (2^256 mod n) + (lo mod n), with hi < n and lo mod n one conditional
 * subtraction. */
static int scalar_reduce48(struct scalar *r, const uint8_t in[XMD_LEN])
{
    struct scalar hi, lo, w;
    int rc;
    memset(hi.b, 0, 16);
    memcpy(hi.b + 16, in, 16);
    scalar_reduce_once(lo.b, in + 16);
    memcpy(w.b, TWO256_MOD_N, 32);
    rc = scalar_mul(&hi, &hi, &w);
    rc |= scalar_add(r, &hi, &lo);
    wipe(&hi, sizeof(hi));
    wipe(&lo, sizeof(lo));
    return rc;
}

/* A fresh uniformly random nonzero scalar (rejection sampling; seckey_verify is constant
 * time). */
static void scalar_random(struct scalar *r)
{
    do
        random_bytes(r->b, 32);
    while (!secp256k1_ec_seckey_verify(ctx(), r->b));
}

/* ---- points (the identity allowed) ---------------------------------------------------------- */

struct point {
    secp256k1_pubkey p;
    bool inf;
};

/* RFC DeserializeElement: 33-byte compressed, on the curve, not the identity. */
static int point_parse(struct point *out, const uint8_t in[FROST_POINT_LEN])
{
    out->inf = false;
    if (in[0] != 0x02 && in[0] != 0x03)
        return -1;
    return secp256k1_ec_pubkey_parse(ctx(), &out->p, in, FROST_POINT_LEN) ? 0 : -1;
}

/* RFC SerializeElement: -1 for the identity. */
static int point_serialize(uint8_t out[FROST_POINT_LEN], const struct point *a)
{
    size_t len = FROST_POINT_LEN;
    if (a->inf)
        return -1;
    if (!secp256k1_ec_pubkey_serialize(ctx(), out, &len, &a->p, SECP256K1_EC_COMPRESSED))
        return -1;
    return 0;
}

static int point_base(struct point *r, const struct scalar *k)
{
    r->inf = scalar_is_zero(k);
    if (r->inf)
        return 0;
    return secp256k1_ec_pubkey_create(ctx(), &r->p, k->b) ? 0 : -1;
}

static int point_mul(struct point *r, const struct point *a, const struct scalar *k)
{
    *r = *a;
    if (a->inf || scalar_is_zero(k)) {
        r->inf = true;
        return 0;
    }
    return secp256k1_ec_pubkey_tweak_mul(ctx(), &r->p, k->b) ? 0 : -1;
}

static void point_add(struct point *r, const struct point *a, const struct point *b)
{
    if (a->inf) {
        *r = *b;
        return;
    }
    if (b->inf) {
        *r = *a;
        return;
    }
    const secp256k1_pubkey *both[2] = {&a->p, &b->p};
    secp256k1_pubkey sum;
    /* combine refuses only a sum at infinity: that is our identity. */
    r->inf = !secp256k1_ec_pubkey_combine(ctx(), &sum, both, 2);
    if (!r->inf)
        r->p = sum;
}

static bool point_eq(const struct point *a, const struct point *b)
{
    if (a->inf || b->inf)
        return a->inf && b->inf;
    return secp256k1_ec_pubkey_cmp(ctx(), &a->p, &b->p) == 0;
}

/* ---- hashes (RFC 9591 section 6.5, H1..H5) -------------------------------------------------- */

struct chunk {
    const void *p;
    size_t n;
};

static void sha256_chunks(struct sha256_ctx *h, const struct chunk *c, size_t nc)
{
    for (size_t i = 0; i < nc; i++)
        if (c[i].n > 0)
            sha256_update(h, c[i].p, c[i].n);
}

/*
 * hash_to_field(msg, 1) with expand_message_xmd(SHA-256), L = 48, p = n (RFC 9380 5.2, 5.3.1),
 * DST = contextString || tag; msg is the concatenation of the chunks.
 */
static int hash_to_scalar(struct scalar *out, const char *tag, const struct chunk *msg, size_t nc)
{
    static const uint8_t zpad[64]; /* Z_pad: one SHA-256 block of zeros */
    uint8_t dst[64], b0[32], bi[32], uniform[XMD_LEN];
    size_t dlen = strlen(CONTEXT_STRING) + strlen(tag);
    const uint8_t lib_str[2] = {0, XMD_LEN}; /* I2OSP(len_in_bytes, 2) */
    struct sha256_ctx h;

    memcpy(dst, CONTEXT_STRING, strlen(CONTEXT_STRING));
    memcpy(dst + strlen(CONTEXT_STRING), tag, strlen(tag));
    dst[dlen] = (uint8_t)dlen; /* DST_prime = DST || I2OSP(len(DST), 1) */

    /* b_0 = H(Z_pad || msg || I2OSP(L, 2) || I2OSP(0, 1) || DST_prime) */
    sha256_init(&h);
    sha256_update(&h, zpad, sizeof(zpad));
    sha256_chunks(&h, msg, nc);
    sha256_update(&h, lib_str, 2);
    sha256_update(&h, "\0", 1);
    sha256_update(&h, dst, dlen + 1);
    sha256_final(&h, b0);

    /* b_1 = H(b_0 || 1 || DST_prime); b_i = H((b_0 xor b_(i-1)) || i || DST_prime) */
    memset(bi, 0, sizeof(bi));
    for (uint8_t i = 1; (size_t)(i - 1) * 32 < XMD_LEN; i++) {
        uint8_t x[32];
        for (int k = 0; k < 32; k++)
            x[k] = b0[k] ^ bi[k];
        sha256_init(&h);
        sha256_update(&h, x, 32);
        sha256_update(&h, &i, 1);
        sha256_update(&h, dst, dlen + 1);
        sha256_final(&h, bi);
        size_t off = (size_t)(i - 1) * 32;
        memcpy(uniform + off, bi, XMD_LEN - off < 32 ? XMD_LEN - off : 32);
        wipe(x, sizeof(x));
    }
    int rc = scalar_reduce48(out, uniform);
    wipe(b0, sizeof(b0));
    wipe(bi, sizeof(bi));
    wipe(uniform, sizeof(uniform));
    return rc;
}

/* H4 and H5: SHA-256(contextString || tag || msg). */
static void hash_plain(uint8_t out[32], const char *tag, const void *msg, size_t len)
{
    struct sha256_ctx h;
    sha256_init(&h);
    sha256_update(&h, CONTEXT_STRING, strlen(CONTEXT_STRING));
    sha256_update(&h, tag, strlen(tag));
    if (len > 0)
        sha256_update(&h, msg, len);
    sha256_final(&h, out);
}

/* RFC nonce_generate with the given 32 random bytes: H3(random_bytes || SerializeScalar(s)). */
static int nonce_generate(struct scalar *nonce, const uint8_t rand[32], const struct scalar *s)
{
    const struct chunk in[2] = {{rand, 32}, {s->b, 32}};
    return hash_to_scalar(nonce, "nonce", in, 2);
}

/* RFC compute_challenge: H2(SerializeElement(R) || SerializeElement(PK) || msg). */
static int challenge(struct scalar *c, const uint8_t r[FROST_POINT_LEN],
                     const uint8_t pk[FROST_POINT_LEN], const uint8_t *msg, size_t mlen)
{
    const struct chunk in[3] = {{r, FROST_POINT_LEN}, {pk, FROST_POINT_LEN}, {msg, mlen}};
    return hash_to_scalar(c, "chal", in, 3);
}

/* ---- interpolation -------------------------------------------------------------------------- */

/* The scalar of a small signed integer. */
static int scalar_from_int(struct scalar *r, long v)
{
    scalar_from_u16(r, (unsigned)(v < 0 ? -v : v));
    return v < 0 ? scalar_neg(r, r) : 0;
}

/*
 * The Lagrange coefficient of identifier id among ids (distinct, id among them) for evaluating
 * at x: prod over j != id of (x - j) / (id - j). At x = 0 this is the RFC's
 * derive_interpolating_value (numerator and denominator both differ from it by (-1)^(count-1)).
 * -1 if x is another member of ids (a zero numerator is never meant).
 */
static int lagrange_at(struct scalar *out, unsigned x, uint16_t id, const uint16_t *ids,
                       size_t count)
{
    struct scalar num, den, f;
    int rc = 0;
    scalar_from_u16(&num, 1);
    scalar_from_u16(&den, 1);
    for (size_t k = 0; k < count; k++) {
        if (ids[k] == id)
            continue;
        if (ids[k] == x)
            return -1;
        rc |= scalar_from_int(&f, (long)x - ids[k]);
        rc |= scalar_mul(&num, &num, &f);
        rc |= scalar_from_int(&f, (long)id - ids[k]);
        rc |= scalar_mul(&den, &den, &f);
    }
    rc |= scalar_inverse(&den, &den);
    rc |= scalar_mul(out, &num, &den);
    return rc;
}

/* ---- signing packages ----------------------------------------------------------------------- */

/* A validated commitment list with everything round two derives from it. */
struct package {
    size_t count;
    uint16_t ids[FROST_MAX_PARTICIPANTS];
    struct point hiding[FROST_MAX_PARTICIPANTS], binding[FROST_MAX_PARTICIPANTS];
    struct scalar rho[FROST_MAX_PARTICIPANTS];
    uint8_t rho_input[FROST_MAX_PARTICIPANTS][FROST_RHO_INPUT_LEN];
    struct point pk;
    uint8_t r_enc[FROST_POINT_LEN]; /* the group commitment R */
    struct point r;
    struct scalar c;
};

static bool id_valid(unsigned id)
{
    return id >= 1 && id <= FROST_MAX_PARTICIPANTS;
}

/*
 * Validate (group_pub, list) and compute the binding factors (compute_binding_factors), the
 * group commitment (compute_group_commitment, -1 if it is the identity, which cannot be
 * serialized) and the challenge.
 */
static int package_prepare(struct package *pk, const uint8_t group_pub[FROST_POINT_LEN],
                           const struct frost_commitment *list, size_t count, const uint8_t *msg,
                           size_t mlen)
{
    if (count < 1 || count > FROST_MAX_PARTICIPANTS || point_parse(&pk->pk, group_pub) < 0)
        return -1;
    pk->count = count;
    for (size_t i = 0; i < count; i++) {
        if (!id_valid(list[i].id) || (i > 0 && list[i].id <= list[i - 1].id))
            return -1;
        if (point_parse(&pk->hiding[i], list[i].hiding) < 0 ||
            point_parse(&pk->binding[i], list[i].binding) < 0)
            return -1;
        pk->ids[i] = list[i].id;
    }

    /* rho_input = SerializeElement(PK) || H4(msg) || H5(encode_group_commitment_list) || id */
    uint8_t prefix[FROST_POINT_LEN + 32 + 32],
        encoded[FROST_MAX_PARTICIPANTS * ENCODED_COMMITMENT_LEN];
    for (size_t i = 0; i < count; i++) {
        uint8_t *e = encoded + i * ENCODED_COMMITMENT_LEN;
        struct scalar id;
        scalar_from_u16(&id, list[i].id);
        memcpy(e, id.b, FROST_SCALAR_LEN);
        memcpy(e + FROST_SCALAR_LEN, list[i].hiding, FROST_POINT_LEN);
        memcpy(e + FROST_SCALAR_LEN + FROST_POINT_LEN, list[i].binding, FROST_POINT_LEN);
    }
    memcpy(prefix, group_pub, FROST_POINT_LEN);
    hash_plain(prefix + FROST_POINT_LEN, "msg", msg, mlen);
    hash_plain(prefix + FROST_POINT_LEN + 32, "com", encoded, count * ENCODED_COMMITMENT_LEN);

    int rc = 0;
    pk->r.inf = true;
    for (size_t i = 0; i < count; i++) {
        struct scalar id;
        struct point t;
        scalar_from_u16(&id, list[i].id);
        memcpy(pk->rho_input[i], prefix, sizeof(prefix));
        memcpy(pk->rho_input[i] + sizeof(prefix), id.b, FROST_SCALAR_LEN);
        const struct chunk in = {pk->rho_input[i], FROST_RHO_INPUT_LEN};
        rc |= hash_to_scalar(&pk->rho[i], "rho", &in, 1);
        rc |= point_mul(&t, &pk->binding[i], &pk->rho[i]);
        point_add(&t, &t, &pk->hiding[i]);
        point_add(&pk->r, &pk->r, &t);
    }
    if (rc < 0 || point_serialize(pk->r_enc, &pk->r) < 0)
        return -1;
    return challenge(&pk->c, pk->r_enc, group_pub, msg, mlen);
}

/* The position of id in the package, or -1. */
static int package_find(const struct package *pk, uint16_t id)
{
    for (size_t i = 0; i < pk->count; i++)
        if (pk->ids[i] == id)
            return (int)i;
    return -1;
}

/* ---- keys ----------------------------------------------------------------------------------- */

static bool threshold_valid(unsigned t, unsigned n)
{
    return t >= 1 && t <= n && n <= FROST_MAX_PARTICIPANTS;
}

/* The dealer on parsed coefficients a[0..t-1] (a[0] the secret, all nonzero). */
static int dealer_split(const struct scalar *a, unsigned t, unsigned n,
                        uint8_t group_pub[FROST_POINT_LEN], uint8_t shares[][FROST_SCALAR_LEN],
                        uint8_t vshares[][FROST_POINT_LEN], uint8_t vss[][FROST_POINT_LEN])
{
    struct point p;
    struct scalar x, y;
    int rc = 0;
    for (unsigned k = 0; k < t; k++) {
        uint8_t enc[FROST_POINT_LEN];
        rc |= point_base(&p, &a[k]);
        rc |= point_serialize(enc, &p);
        if (k == 0)
            memcpy(group_pub, enc, FROST_POINT_LEN);
        if (vss)
            memcpy(vss[k], enc, FROST_POINT_LEN);
    }
    for (unsigned i = 0; i < n; i++) { /* polynomial_evaluate (Horner) at x = i + 1 */
        scalar_from_u16(&x, i + 1);
        y = a[t - 1];
        for (unsigned k = t - 1; k-- > 0;) {
            rc |= scalar_mul(&y, &y, &x);
            rc |= scalar_add(&y, &y, &a[k]);
        }
        rc |= point_base(&p, &y);
        rc |= point_serialize(vshares[i], &p); /* -1 for a zero share */
        memcpy(shares[i], y.b, FROST_SCALAR_LEN);
    }
    wipe(&y, sizeof(y));
    if (rc < 0)
        wipe(shares, (size_t)n * FROST_SCALAR_LEN);
    return rc;
}

int frost_dealer_split(const uint8_t secret[FROST_SCALAR_LEN],
                       const uint8_t coeffs[][FROST_SCALAR_LEN], unsigned t, unsigned n,
                       uint8_t group_pub[FROST_POINT_LEN], uint8_t shares[][FROST_SCALAR_LEN],
                       uint8_t vshares[][FROST_POINT_LEN], uint8_t vss[][FROST_POINT_LEN])
{
    struct scalar a[FROST_MAX_PARTICIPANTS];
    int rc = -1;
    if (!threshold_valid(t, n))
        return -1;
    if (scalar_parse(&a[0], secret, true) < 0)
        goto out;
    for (unsigned k = 1; k < t; k++)
        if (scalar_parse(&a[k], coeffs[k - 1], true) < 0)
            goto out;
    rc = dealer_split(a, t, n, group_pub, shares, vshares, vss);
out:
    wipe(a, sizeof(a));
    return rc;
}

int frost_dealer_keygen(unsigned t, unsigned n, uint8_t group_pub[FROST_POINT_LEN],
                        uint8_t shares[][FROST_SCALAR_LEN], uint8_t vshares[][FROST_POINT_LEN],
                        uint8_t vss[][FROST_POINT_LEN])
{
    struct scalar a[FROST_MAX_PARTICIPANTS];
    int rc = -1;
    if (!threshold_valid(t, n))
        return -1;
    /* dealer_split fails on random input only if a share is zero (probability about n/2^256);
     * a few attempts make a failure here a broken random source, not bad luck. */
    for (int attempt = 0; attempt < 4 && rc < 0; attempt++) {
        for (unsigned k = 0; k < t; k++)
            scalar_random(&a[k]);
        rc = dealer_split(a, t, n, group_pub, shares, vshares, vss);
    }
    wipe(a, sizeof(a));
    return rc;
}

int frost_public(const uint8_t scalar[FROST_SCALAR_LEN], uint8_t point[FROST_POINT_LEN])
{
    struct scalar s;
    struct point p;
    if (scalar_parse(&s, scalar, true) < 0)
        return -1;
    int rc = point_base(&p, &s);
    rc |= point_serialize(point, &p);
    wipe(&s, sizeof(s));
    return rc;
}

int frost_vss_verify(uint16_t id, const uint8_t share[FROST_SCALAR_LEN],
                     const uint8_t vss[][FROST_POINT_LEN], unsigned t)
{
    struct scalar s, x, xk;
    struct point lhs, rhs, c;
    int rc = 0;
    if (!id_valid(id) || t < 1 || t > FROST_MAX_PARTICIPANTS)
        return -1;
    if (scalar_parse(&s, share, true) < 0)
        return -1;
    rc |= point_base(&lhs, &s);
    wipe(&s, sizeof(s));
    scalar_from_u16(&x, id);
    scalar_from_u16(&xk, 1);
    rhs.inf = true;
    for (unsigned k = 0; k < t; k++) { /* rhs = sum vss[k] * id^k */
        if (point_parse(&c, vss[k]) < 0)
            return -1;
        rc |= point_mul(&c, &c, &xk);
        point_add(&rhs, &rhs, &c);
        rc |= scalar_mul(&xk, &xk, &x);
    }
    return rc == 0 && point_eq(&lhs, &rhs) ? 0 : -1;
}

/* sum over the t points pts (identifiers ids) of lagrange_at(x) * pts[i]. */
static int interpolate_at(struct point *out, unsigned x, const uint16_t *ids,
                          const struct point *pts, size_t t)
{
    int rc = 0;
    out->inf = true;
    for (size_t i = 0; i < t; i++) {
        struct scalar l;
        struct point term;
        rc |= lagrange_at(&l, x, ids[i], ids, t);
        rc |= point_mul(&term, &pts[i], &l);
        point_add(out, out, &term);
    }
    return rc;
}

int frost_group_check(unsigned t, unsigned n, const uint8_t vshares[][FROST_POINT_LEN],
                      const uint8_t group_pub[FROST_POINT_LEN])
{
    struct point pts[FROST_MAX_PARTICIPANTS], want, got;
    uint16_t ids[FROST_MAX_PARTICIPANTS];
    if (!threshold_valid(t, n) || point_parse(&want, group_pub) < 0)
        return -1;
    for (unsigned i = 0; i < FROST_MAX_PARTICIPANTS; i++)
        ids[i] = (uint16_t)(i + 1);
    for (unsigned i = 0; i < n; i++)
        if (point_parse(&pts[i], vshares[i]) < 0)
            return -1;
    /* Identifiers 1..t fix the polynomial; it must give group_pub at 0 and every other
     * verification share at its identifier. */
    for (unsigned x = 0; x <= n; x++) {
        if (x >= 1 && x <= t)
            continue;
        if (x > 0)
            want = pts[x - 1];
        if (interpolate_at(&got, x, ids, pts, t) < 0 || !point_eq(&got, &want))
            return -1;
    }
    return 0;
}

/* ---- round one ------------------------------------------------------------------------------ */

int frost_commit_with(uint16_t id, const uint8_t share[FROST_SCALAR_LEN],
                      const uint8_t hiding_rand[32], const uint8_t binding_rand[32],
                      struct frost_nonces *nonces, struct frost_commitment *commitment)
{
    struct scalar s, d, e;
    struct point p;
    int rc = -1;
    if (!id_valid(id) || scalar_parse(&s, share, true) < 0)
        return -1;
    if (nonce_generate(&d, hiding_rand, &s) < 0 || nonce_generate(&e, binding_rand, &s) < 0)
        goto out;
    /* A zero nonce would commit to the identity, which has no encoding. */
    if (scalar_is_zero(&d) || scalar_is_zero(&e))
        goto out;
    if (point_base(&p, &d) < 0 || point_serialize(commitment->hiding, &p) < 0 ||
        point_base(&p, &e) < 0 || point_serialize(commitment->binding, &p) < 0)
        goto out;
    commitment->id = id;
    memcpy(nonces->hiding, d.b, 32);
    memcpy(nonces->binding, e.b, 32);
    rc = 0;
out:
    wipe(&s, sizeof(s));
    wipe(&d, sizeof(d));
    wipe(&e, sizeof(e));
    return rc;
}

int frost_commit(uint16_t id, const uint8_t share[FROST_SCALAR_LEN], struct frost_nonces *nonces,
                 struct frost_commitment *commitment)
{
    uint8_t rand[2][32];
    struct scalar s;
    int rc = -1;
    if (!id_valid(id) || scalar_parse(&s, share, true) < 0)
        return -1;
    wipe(&s, sizeof(s));
    /* Only a zero nonce (probability about 2^-255) makes a second draw necessary. */
    for (int attempt = 0; attempt < 4 && rc < 0; attempt++) {
        random_bytes(rand, sizeof(rand));
        rc = frost_commit_with(id, share, rand[0], rand[1], nonces, commitment);
    }
    wipe(rand, sizeof(rand));
    return rc;
}

void frost_nonces_wipe(struct frost_nonces *nonces)
{
    wipe(nonces, sizeof(*nonces));
}

int frost_commitment_check(const struct frost_commitment *commitment)
{
    struct point p;
    if (!id_valid(commitment->id) || point_parse(&p, commitment->hiding) < 0 ||
        point_parse(&p, commitment->binding) < 0)
        return -1;
    return 0;
}

/* ---- round two ------------------------------------------------------------------------------ */

int frost_sign(uint16_t id, const uint8_t share[FROST_SCALAR_LEN], struct frost_nonces *nonces,
               const struct frost_commitment *list, size_t count, const uint8_t *msg, size_t mlen,
               const uint8_t group_pub[FROST_POINT_LEN], uint8_t sig_share[FROST_SCALAR_LEN])
{
    struct package pk;
    struct scalar s, d, e, lambda, z, t;
    struct point p;
    uint8_t enc[FROST_POINT_LEN];
    int rc = -1, k;

    memset(&s, 0, sizeof(s));
    if (scalar_parse(&d, nonces->hiding, true) < 0 || scalar_parse(&e, nonces->binding, true) < 0)
        goto out;
    if (package_prepare(&pk, group_pub, list, count, msg, mlen) < 0 ||
        (k = package_find(&pk, id)) < 0 || scalar_parse(&s, share, true) < 0)
        goto out;
    /* RFC 5.2: this signer's own commitments must be the ones in the list. */
    if (point_base(&p, &d) < 0 || point_serialize(enc, &p) < 0 ||
        memcmp(enc, list[k].hiding, FROST_POINT_LEN) != 0)
        goto out;
    if (point_base(&p, &e) < 0 || point_serialize(enc, &p) < 0 ||
        memcmp(enc, list[k].binding, FROST_POINT_LEN) != 0)
        goto out;
    /* z = d + e * rho + lambda * s * c */
    rc = lagrange_at(&lambda, 0, id, pk.ids, pk.count);
    rc |= scalar_mul(&z, &e, &pk.rho[k]);
    rc |= scalar_add(&z, &z, &d);
    rc |= scalar_mul(&t, &lambda, &s);
    rc |= scalar_mul(&t, &t, &pk.c);
    rc |= scalar_add(&z, &z, &t);
    if (rc == 0)
        memcpy(sig_share, z.b, FROST_SCALAR_LEN);
out:
    frost_nonces_wipe(nonces);
    wipe(&s, sizeof(s));
    wipe(&d, sizeof(d));
    wipe(&e, sizeof(e));
    wipe(&z, sizeof(z));
    wipe(&t, sizeof(t));
    return rc < 0 ? -1 : 0;
}

int frost_share_verify(uint16_t id, const uint8_t vshare[FROST_POINT_LEN],
                       const uint8_t sig_share[FROST_SCALAR_LEN],
                       const struct frost_commitment *list, size_t count, const uint8_t *msg,
                       size_t mlen, const uint8_t group_pub[FROST_POINT_LEN])
{
    struct package pk;
    struct scalar z, cl;
    struct point pki, lhs, rhs, t;
    int k, rc = 0;
    if (package_prepare(&pk, group_pub, list, count, msg, mlen) < 0 ||
        (k = package_find(&pk, id)) < 0 || point_parse(&pki, vshare) < 0 ||
        scalar_parse(&z, sig_share, false) < 0)
        return -1;
    /* z * G == hiding + rho * binding + (c * lambda) * PK_i */
    rc |= point_base(&lhs, &z);
    rc |= point_mul(&rhs, &pk.binding[k], &pk.rho[k]);
    point_add(&rhs, &rhs, &pk.hiding[k]);
    rc |= lagrange_at(&cl, 0, id, pk.ids, pk.count);
    rc |= scalar_mul(&cl, &cl, &pk.c);
    rc |= point_mul(&t, &pki, &cl);
    point_add(&rhs, &rhs, &t);
    return rc == 0 && point_eq(&lhs, &rhs) ? 0 : -1;
}

int frost_aggregate(const struct frost_commitment *list, size_t count,
                    const uint8_t shares[][FROST_SCALAR_LEN], const uint8_t *msg, size_t mlen,
                    const uint8_t group_pub[FROST_POINT_LEN], uint8_t sig[FROST_SIG_LEN])
{
    struct package pk;
    struct scalar z, zi;
    if (package_prepare(&pk, group_pub, list, count, msg, mlen) < 0)
        return -1;
    memset(&z, 0, sizeof(z));
    for (size_t i = 0; i < count; i++)
        if (scalar_parse(&zi, shares[i], false) < 0 || scalar_add(&z, &z, &zi) < 0)
            return -1;
    memcpy(sig, pk.r_enc, FROST_POINT_LEN);
    memcpy(sig + FROST_POINT_LEN, z.b, FROST_SCALAR_LEN);
    return 0;
}

/* ---- signatures ----------------------------------------------------------------------------- */

int frost_verify(const uint8_t group_pub[FROST_POINT_LEN], const uint8_t *msg, size_t mlen,
                 const uint8_t sig[FROST_SIG_LEN])
{
    struct point pk, r, lhs, t;
    struct scalar z, c;
    int rc = 0;
    if (point_parse(&pk, group_pub) < 0 || point_parse(&r, sig) < 0 ||
        scalar_parse(&z, sig + FROST_POINT_LEN, false) < 0)
        return -1;
    /* RFC prime_order_verify: z * G == R + c * PK */
    rc |= challenge(&c, sig, group_pub, msg, mlen);
    rc |= point_base(&lhs, &z);
    rc |= point_mul(&t, &pk, &c);
    point_add(&t, &t, &r);
    return rc == 0 && point_eq(&lhs, &t) ? 0 : -1;
}

/* ---- internals exposed to the tests (frost_int.h) ------------------------------------------- */

int frost_binding_factors(const uint8_t group_pub[FROST_POINT_LEN],
                          const struct frost_commitment *list, size_t count, const uint8_t *msg,
                          size_t mlen, uint8_t inputs[][FROST_RHO_INPUT_LEN],
                          uint8_t factors[][FROST_SCALAR_LEN],
                          uint8_t group_commitment[FROST_POINT_LEN], uint8_t chal[FROST_SCALAR_LEN])
{
    struct package pk;
    if (package_prepare(&pk, group_pub, list, count, msg, mlen) < 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        memcpy(inputs[i], pk.rho_input[i], FROST_RHO_INPUT_LEN);
        memcpy(factors[i], pk.rho[i].b, FROST_SCALAR_LEN);
    }
    memcpy(group_commitment, pk.r_enc, FROST_POINT_LEN);
    memcpy(chal, pk.c.b, FROST_SCALAR_LEN);
    return 0;
}

int frost_lagrange(uint16_t id, const uint16_t *ids, size_t count, uint8_t lambda[FROST_SCALAR_LEN])
{
    struct scalar l;
    for (size_t i = 0; i < count; i++)
        if (!id_valid(ids[i]) || (i > 0 && ids[i] <= ids[i - 1]))
            return -1;
    if (count < 1 || count > FROST_MAX_PARTICIPANTS || !id_valid(id))
        return -1;
    bool found = false;
    for (size_t i = 0; i < count; i++)
        found |= ids[i] == id;
    if (!found || lagrange_at(&l, 0, id, ids, count) < 0)
        return -1;
    memcpy(lambda, l.b, FROST_SCALAR_LEN);
    return 0;
}

int frost_scalar_reduce48(const uint8_t in[48], uint8_t out[FROST_SCALAR_LEN])
{
    struct scalar r;
    if (scalar_reduce48(&r, in) < 0)
        return -1;
    memcpy(out, r.b, FROST_SCALAR_LEN);
    return 0;
}

int frost_scalar_inverse(const uint8_t in[FROST_SCALAR_LEN], uint8_t out[FROST_SCALAR_LEN])
{
    struct scalar a, r;
    if (scalar_parse(&a, in, true) < 0 || scalar_inverse(&r, &a) < 0)
        return -1;
    memcpy(out, r.b, FROST_SCALAR_LEN);
    return 0;
}
