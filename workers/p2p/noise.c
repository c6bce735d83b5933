#include "workers/p2p/noise.h"
#include "lib/crypto.h"
#include "lib/util.h"

#include <limits.h>
#include <pthread.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/hmac.h>
#include <string.h>

/* ---- primitives ---- */

/* memmove that accepts NULL with a zero length (empty payloads are legal everywhere). */
static void move(void *dst, const void *src, size_t n)
{
    if (n)
        memmove(dst, src, n);
}

static void nonce_bytes(uint64_t n, uint8_t out[12])
{
    memset(out, 0, 4);
    for (int i = 0; i < 8; i++)
        out[4 + i] = (uint8_t)(n >> (8 * i));
}

/* The cipher is fetched once (an implicit fetch per operation costs a locked name lookup),
 * and each thread keeps one context that every operation re-initialises. Both live for the
 * process. */
static EVP_CIPHER *chacha_cipher;
static pthread_once_t chacha_once = PTHREAD_ONCE_INIT;
static _Thread_local EVP_CIPHER_CTX *chacha_ctx;

static void chacha_fetch(void)
{
    chacha_cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
    if (!chacha_cipher)
        fatalx("OpenSSL: ChaCha20-Poly1305 unavailable");
}

static EVP_CIPHER_CTX *chacha_context(void)
{
    pthread_once(&chacha_once, chacha_fetch);
    if (!chacha_ctx && !(chacha_ctx = EVP_CIPHER_CTX_new()))
        fatalx("EVP_CIPHER_CTX_new failed");
    return chacha_ctx;
}

/* One AEAD operation over up to two plaintext parts. */
static int aead(bool enc, const uint8_t key[NOISE_KEY_LEN], uint64_t n, const uint8_t *ad,
                size_t adlen, const uint8_t *p1, size_t l1, const uint8_t *p2, size_t l2,
                uint8_t *out)
{
    uint8_t nonce[12];
    int len = 0, ok = 0;
    if (l1 > INT_MAX / 2 || l2 > INT_MAX / 2 || adlen > INT_MAX)
        return -1;
    EVP_CIPHER_CTX *ctx = chacha_context();
    nonce_bytes(n, nonce);
    if (EVP_CipherInit_ex(ctx, chacha_cipher, NULL, key, nonce, enc ? 1 : 0) != 1)
        goto out;
    if (adlen && EVP_CipherUpdate(ctx, NULL, &len, ad, (int)adlen) != 1)
        goto out;
    if (l1 && EVP_CipherUpdate(ctx, out, &len, p1, (int)l1) != 1)
        goto out;
    if (l2 && EVP_CipherUpdate(ctx, out + l1, &len, p2, (int)l2) != 1)
        goto out;
    if (enc) {
        if (EVP_CipherFinal_ex(ctx, out + l1 + l2, &len) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, NOISE_TAG_LEN, out + l1 + l2) != 1)
            goto out;
    } else {
        uint8_t tag[NOISE_TAG_LEN];
        memcpy(tag, p1 + l1, NOISE_TAG_LEN);
        if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, NOISE_TAG_LEN, tag) != 1 ||
            EVP_CipherFinal_ex(ctx, out + l1, &len) != 1)
            goto out;
    }
    ok = 1;
out:
    EVP_CIPHER_CTX_reset(ctx); /* drops the key schedule */
    return ok ? 0 : -1;
}

int noise_cipher_encrypt2(struct noise_cipher *c, const uint8_t *head, size_t hlen,
                          const uint8_t *body, size_t blen, uint8_t *out)
{
    if (!c->has_key) {
        move(out + hlen, body, blen);
        move(out, head, hlen);
        return 0;
    }
    if (c->n == UINT64_MAX)
        return -1;
    if (aead(true, c->k, c->n, NULL, 0, head, hlen, body, blen, out) < 0)
        return -1;
    c->n++;
    return 0;
}

int noise_cipher_encrypt(struct noise_cipher *c, const uint8_t *ad, size_t adlen, const uint8_t *pt,
                         size_t len, uint8_t *out)
{
    if (!c->has_key) {
        move(out, pt, len);
        return 0;
    }
    if (c->n == UINT64_MAX)
        return -1;
    if (aead(true, c->k, c->n, ad, adlen, pt, len, NULL, 0, out) < 0)
        return -1;
    c->n++;
    return 0;
}

int noise_cipher_decrypt(struct noise_cipher *c, const uint8_t *ad, size_t adlen, const uint8_t *ct,
                         size_t len, uint8_t *out)
{
    if (!c->has_key) {
        move(out, ct, len);
        return 0;
    }
    if (len < NOISE_TAG_LEN || c->n == UINT64_MAX)
        return -1;
    if (aead(false, c->k, c->n, ad, adlen, ct, len - NOISE_TAG_LEN, NULL, 0, out) < 0)
        return -1;
    c->n++;
    return 0;
}

void noise_cipher_wipe(struct noise_cipher *c)
{
    explicit_bzero(c, sizeof(*c));
}

/* An X25519 key pair as an EVP_PKEY. Giving OpenSSL the public half too saves the scalar
 * multiplication it would otherwise spend recomputing it (about half the cost of a DH). */
static EVP_PKEY *x25519_keypair(const uint8_t priv[NOISE_KEY_LEN], const uint8_t pub[NOISE_KEY_LEN])
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
    EVP_PKEY *k = NULL;
    OSSL_PARAM params[3] = {
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, (void *)priv, NOISE_KEY_LEN),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, NOISE_KEY_LEN),
        OSSL_PARAM_construct_end(),
    };
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params) != 1)
        k = NULL;
    EVP_PKEY_CTX_free(ctx);
    return k;
}

/* DH(our key pair, peer). OpenSSL refuses an all-zero result (a low-order peer point): -1. */
static int x25519_dh(const uint8_t priv[NOISE_KEY_LEN], const uint8_t pub[NOISE_KEY_LEN],
                     const uint8_t peer[NOISE_KEY_LEN], uint8_t out[NOISE_KEY_LEN])
{
    EVP_PKEY *a = x25519_keypair(priv, pub);
    EVP_PKEY *b = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, NOISE_KEY_LEN);
    EVP_PKEY_CTX *ctx = a ? EVP_PKEY_CTX_new(a, NULL) : NULL;
    size_t len = NOISE_KEY_LEN;
    int ok = a && b && ctx && EVP_PKEY_derive_init(ctx) == 1 &&
             EVP_PKEY_derive_set_peer(ctx, b) == 1 && EVP_PKEY_derive(ctx, out, &len) == 1 &&
             len == NOISE_KEY_LEN;
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    return ok ? 0 : -1;
}

static void hmac(const uint8_t key[NOISE_HASH_LEN], const uint8_t *d1, size_t l1, const uint8_t *d2,
                 size_t l2, uint8_t out[NOISE_HASH_LEN])
{
    uint8_t buf[2 * NOISE_HASH_LEN + 1];
    unsigned int n = NOISE_HASH_LEN;
    /* Callers pass at most HASHLEN + 1 bytes in total. */
    if (l1 + l2 > sizeof(buf))
        fatalx("noise: hmac input too long");
    move(buf, d1, l1);
    move(buf + l1, d2, l2);
    if (!HMAC(EVP_sha256(), key, NOISE_HASH_LEN, buf, l1 + l2, out, &n))
        fatalx("HMAC-SHA256 failed");
    explicit_bzero(buf, sizeof(buf));
}

/* HKDF(chaining_key, ikm) with two outputs (Noise §4.3). ikm is 0 or 32 bytes. */
static void hkdf2(const uint8_t ck[NOISE_HASH_LEN], const uint8_t *ikm, size_t ilen,
                  uint8_t o1[NOISE_HASH_LEN], uint8_t o2[NOISE_HASH_LEN])
{
    uint8_t temp[NOISE_HASH_LEN], one = 1, two = 2, t1[NOISE_HASH_LEN];
    hmac(ck, ikm, ilen, NULL, 0, temp);
    hmac(temp, &one, 1, NULL, 0, t1);
    hmac(temp, t1, NOISE_HASH_LEN, &two, 1, o2);
    memcpy(o1, t1, NOISE_HASH_LEN);
    explicit_bzero(temp, sizeof(temp));
    explicit_bzero(t1, sizeof(t1));
}

/* ---- symmetric state ---- */

static void mix_hash(struct noise_hs *hs, const uint8_t *data, size_t len)
{
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, hs->h, NOISE_HASH_LEN);
    if (len)
        sha256_update(&c, data, len);
    sha256_final(&c, hs->h);
}

static void mix_key(struct noise_hs *hs, const uint8_t ikm[NOISE_KEY_LEN])
{
    uint8_t ck[NOISE_HASH_LEN], k[NOISE_HASH_LEN];
    hkdf2(hs->ck, ikm, NOISE_KEY_LEN, ck, k);
    memcpy(hs->ck, ck, NOISE_HASH_LEN);
    memcpy(hs->c.k, k, NOISE_KEY_LEN);
    hs->c.n = 0;
    hs->c.has_key = true;
    explicit_bzero(ck, sizeof(ck));
    explicit_bzero(k, sizeof(k));
}

/* MixKey(DH(our key pair, peer)); -1 on a refused DH. */
static int mix_dh(struct noise_hs *hs, const uint8_t *priv, const uint8_t *pub, const uint8_t *peer)
{
    uint8_t shared[NOISE_KEY_LEN];
    if (x25519_dh(priv, pub, peer, shared) < 0)
        return -1;
    mix_key(hs, shared);
    explicit_bzero(shared, sizeof(shared));
    return 0;
}

static size_t sealed_len(const struct noise_hs *hs, size_t len)
{
    return len + (hs->c.has_key ? NOISE_TAG_LEN : 0);
}

static int encrypt_and_hash(struct noise_hs *hs, const uint8_t *pt, size_t len, uint8_t *out)
{
    if (noise_cipher_encrypt(&hs->c, hs->h, NOISE_HASH_LEN, pt, len, out) < 0)
        return -1;
    mix_hash(hs, out, sealed_len(hs, len));
    return 0;
}

/* ct is len bytes; the plaintext (len - tag) goes to out. */
static int decrypt_and_hash(struct noise_hs *hs, const uint8_t *ct, size_t len, uint8_t *out)
{
    uint8_t h[NOISE_HASH_LEN];
    memcpy(h, hs->h, NOISE_HASH_LEN);
    mix_hash(hs, ct, len);
    return noise_cipher_decrypt(&hs->c, h, NOISE_HASH_LEN, ct, len, out);
}

/* ---- handshake ---- */

void noise_hs_init(struct noise_hs *hs, bool initiator, const uint8_t s_priv[NOISE_KEY_LEN],
                   const void *prologue, size_t plen)
{
    memset(hs, 0, sizeof(*hs));
    hs->initiator = initiator;
    /* The protocol name is exactly HASHLEN bytes: h is the name itself. */
    _Static_assert(sizeof(NOISE_PROTOCOL_NAME) - 1 == NOISE_HASH_LEN, "name length");
    memcpy(hs->h, NOISE_PROTOCOL_NAME, NOISE_HASH_LEN);
    memcpy(hs->ck, hs->h, NOISE_HASH_LEN);
    mix_hash(hs, prologue, plen);
    memcpy(hs->s_priv, s_priv, NOISE_KEY_LEN);
    if (x25519_public(s_priv, hs->s_pub) < 0)
        hs->failed = true;
}

void noise_hs_set_ephemeral(struct noise_hs *hs, const uint8_t e_priv[NOISE_KEY_LEN])
{
    memcpy(hs->e_priv, e_priv, NOISE_KEY_LEN);
    if (x25519_public(e_priv, hs->e_pub) < 0)
        hs->failed = true;
    hs->e_set = true;
}

bool noise_hs_my_turn(const struct noise_hs *hs)
{
    if (hs->step >= 3)
        return false;
    /* Messages 0 and 2 are the initiator's, message 1 the responder's. */
    return (hs->step % 2 == 0) == hs->initiator;
}

bool noise_hs_done(const struct noise_hs *hs)
{
    return !hs->failed && hs->step == 3;
}

static void ensure_ephemeral(struct noise_hs *hs)
{
    if (!hs->e_set) {
        x25519_generate(hs->e_priv, hs->e_pub);
        hs->e_set = true;
    }
}

static int fail_hs(struct noise_hs *hs)
{
    hs->failed = true;
    return -1;
}

int noise_hs_write(struct noise_hs *hs, const uint8_t *payload, size_t plen, uint8_t *out,
                   size_t cap, size_t *outlen)
{
    static const size_t overhead[3] = {NOISE_MSG1_OVERHEAD, NOISE_MSG2_OVERHEAD,
                                       NOISE_MSG3_OVERHEAD};
    if (hs->failed || !noise_hs_my_turn(hs))
        return fail_hs(hs);
    size_t need = overhead[hs->step] + plen;
    if (need > cap || need > NOISE_MAX_MSG)
        return fail_hs(hs);
    size_t off = 0;
    switch (hs->step) {
    case 0: /* -> e */
        ensure_ephemeral(hs);
        memcpy(out, hs->e_pub, NOISE_KEY_LEN);
        mix_hash(hs, hs->e_pub, NOISE_KEY_LEN);
        off = NOISE_KEY_LEN;
        break;
    case 1: /* <- e, ee, s, es */
        ensure_ephemeral(hs);
        memcpy(out, hs->e_pub, NOISE_KEY_LEN);
        mix_hash(hs, hs->e_pub, NOISE_KEY_LEN);
        off = NOISE_KEY_LEN;
        if (mix_dh(hs, hs->e_priv, hs->e_pub, hs->re) < 0 ||
            encrypt_and_hash(hs, hs->s_pub, NOISE_KEY_LEN, out + off) < 0)
            return fail_hs(hs);
        off += NOISE_KEY_LEN + NOISE_TAG_LEN;
        if (mix_dh(hs, hs->s_priv, hs->s_pub, hs->re) < 0)
            return fail_hs(hs);
        break;
    case 2: /* -> s, se */
        if (encrypt_and_hash(hs, hs->s_pub, NOISE_KEY_LEN, out) < 0)
            return fail_hs(hs);
        off = NOISE_KEY_LEN + NOISE_TAG_LEN;
        if (mix_dh(hs, hs->s_priv, hs->s_pub, hs->re) < 0)
            return fail_hs(hs);
        break;
    }
    if (encrypt_and_hash(hs, payload, plen, out + off) < 0)
        return fail_hs(hs);
    *outlen = off + sealed_len(hs, plen);
    hs->step++;
    return 0;
}

int noise_hs_read(struct noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *payload, size_t cap,
                  size_t *plen)
{
    static const size_t overhead[3] = {NOISE_MSG1_OVERHEAD, NOISE_MSG2_OVERHEAD,
                                       NOISE_MSG3_OVERHEAD};
    uint8_t rs[NOISE_KEY_LEN];
    if (hs->failed || hs->step >= 3 || noise_hs_my_turn(hs))
        return fail_hs(hs);
    if (len < overhead[hs->step] || len > NOISE_MAX_MSG)
        return fail_hs(hs);
    size_t off = 0;
    switch (hs->step) {
    case 0: /* -> e */
        memcpy(hs->re, msg, NOISE_KEY_LEN);
        mix_hash(hs, hs->re, NOISE_KEY_LEN);
        off = NOISE_KEY_LEN;
        break;
    case 1: /* <- e, ee, s, es */
        memcpy(hs->re, msg, NOISE_KEY_LEN);
        mix_hash(hs, hs->re, NOISE_KEY_LEN);
        off = NOISE_KEY_LEN;
        if (mix_dh(hs, hs->e_priv, hs->e_pub, hs->re) < 0 ||
            decrypt_and_hash(hs, msg + off, NOISE_KEY_LEN + NOISE_TAG_LEN, rs) < 0)
            return fail_hs(hs);
        memcpy(hs->rs, rs, NOISE_KEY_LEN);
        hs->rs_set = true;
        off += NOISE_KEY_LEN + NOISE_TAG_LEN;
        if (mix_dh(hs, hs->e_priv, hs->e_pub, hs->rs) < 0)
            return fail_hs(hs);
        break;
    case 2: /* -> s, se */
        if (decrypt_and_hash(hs, msg, NOISE_KEY_LEN + NOISE_TAG_LEN, rs) < 0)
            return fail_hs(hs);
        memcpy(hs->rs, rs, NOISE_KEY_LEN);
        hs->rs_set = true;
        off = NOISE_KEY_LEN + NOISE_TAG_LEN;
        if (mix_dh(hs, hs->e_priv, hs->e_pub, hs->rs) < 0)
            return fail_hs(hs);
        break;
    }
    size_t rest = len - off; /* the overhead check guarantees a tag's room when keyed */
    size_t out = hs->c.has_key ? rest - NOISE_TAG_LEN : rest;
    if (out > cap)
        return fail_hs(hs);
    /* Decrypt straight into the caller's buffer; it is at least as large as the plaintext. */
    if (hs->c.has_key) {
        if (decrypt_and_hash(hs, msg + off, rest, payload) < 0)
            return fail_hs(hs);
    } else {
        move(payload, msg + off, rest);
        mix_hash(hs, msg + off, rest);
    }
    *plen = out;
    hs->step++;
    return 0;
}

const uint8_t *noise_hs_remote_static(const struct noise_hs *hs)
{
    return hs->rs_set ? hs->rs : NULL;
}

const uint8_t *noise_hs_hash(const struct noise_hs *hs)
{
    return hs->h;
}

int noise_hs_split(struct noise_hs *hs, struct noise_cipher *send, struct noise_cipher *recv)
{
    uint8_t k1[NOISE_HASH_LEN], k2[NOISE_HASH_LEN];
    if (!noise_hs_done(hs))
        return -1;
    hkdf2(hs->ck, NULL, 0, k1, k2);
    struct noise_cipher *c1 = hs->initiator ? send : recv, *c2 = hs->initiator ? recv : send;
    memset(c1, 0, sizeof(*c1));
    memset(c2, 0, sizeof(*c2));
    memcpy(c1->k, k1, NOISE_KEY_LEN);
    memcpy(c2->k, k2, NOISE_KEY_LEN);
    c1->has_key = c2->has_key = true;
    explicit_bzero(k1, sizeof(k1));
    explicit_bzero(k2, sizeof(k2));
    /* Keep what callers may still read (rs, h); wipe the secrets. */
    explicit_bzero(hs->ck, sizeof(hs->ck));
    explicit_bzero(&hs->c, sizeof(hs->c));
    explicit_bzero(hs->s_priv, sizeof(hs->s_priv));
    explicit_bzero(hs->e_priv, sizeof(hs->e_priv));
    return 0;
}

void noise_hs_wipe(struct noise_hs *hs)
{
    explicit_bzero(hs, sizeof(*hs));
}
