#include "lib/crypto.h"
#include "lib/util.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <secp256k1.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

void crypto_init(void)
{
    if (!OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
                                 OPENSSL_INIT_NO_ADD_ALL_DIGESTS,
                             NULL))
        fatalx("OPENSSL_init_crypto failed");
}

void sha256(uint8_t out[SHA256_LEN], const void *data, size_t len)
{
    unsigned int n = SHA256_LEN;
    if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL))
        fatalx("EVP_Digest(sha256) failed");
}

void sha256_init(struct sha256_ctx *c)
{
    c->md = EVP_MD_CTX_new();
    if (!c->md || !EVP_DigestInit_ex(c->md, EVP_sha256(), NULL))
        fatalx("EVP_DigestInit(sha256) failed");
}

void sha256_update(struct sha256_ctx *c, const void *data, size_t len)
{
    if (!EVP_DigestUpdate(c->md, data, len))
        fatalx("EVP_DigestUpdate failed");
}

void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_LEN])
{
    unsigned int n = SHA256_LEN;
    if (!EVP_DigestFinal_ex(c->md, out, &n))
        fatalx("EVP_DigestFinal failed");
    EVP_MD_CTX_free(c->md);
    c->md = NULL;
}

void random_bytes(void *out, size_t n)
{
    uint8_t *p = out;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fatal("getrandom");
        }
        p += r;
        n -= (size_t)r;
    }
}

int x25519_public(const uint8_t priv[X25519_LEN], uint8_t pub[X25519_LEN])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, X25519_LEN);
    size_t len = X25519_LEN;
    int ok = k && EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == X25519_LEN;
    EVP_PKEY_free(k);
    return ok ? 0 : -1;
}

void x25519_generate(uint8_t priv[X25519_LEN], uint8_t pub[X25519_LEN])
{
    random_bytes(priv, X25519_LEN);
    if (x25519_public(priv, pub) < 0)
        fatalx("X25519 key generation failed");
}

void *secp_ctx(void)
{
    static secp256k1_context *ctx;
    if (!ctx) {
        uint8_t seed[32];
        ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
        if (!ctx)
            fatalx("secp256k1_context_create failed");
        random_bytes(seed, sizeof(seed));
        if (!secp256k1_context_randomize(ctx, seed))
            fatalx("secp256k1_context_randomize failed");
    }
    return ctx;
}

int node_key_from_secret(struct node_key *k, const uint8_t sec[SECKEY_LEN])
{
    secp256k1_pubkey pk;
    size_t len = PUBKEY_LEN;
    if (!secp256k1_ec_seckey_verify(secp_ctx(), sec))
        return -1;
    if (!secp256k1_ec_pubkey_create(secp_ctx(), &pk, sec))
        return -1;
    if (!secp256k1_ec_pubkey_serialize(secp_ctx(), k->pub, &len, &pk, SECP256K1_EC_COMPRESSED))
        return -1;
    memcpy(k->sec, sec, SECKEY_LEN);
    return 0;
}

void node_key_generate(struct node_key *k)
{
    uint8_t sec[SECKEY_LEN];
    do
        random_bytes(sec, sizeof(sec));
    while (node_key_from_secret(k, sec) < 0);
    memset(sec, 0, sizeof(sec));
}

/* A secret file: 64 hex characters (trailing newline, CR or blanks allowed), a valid non-zero
 * scalar below the group order. what names the file in errors ("node key", "tss key"). */
static int secret_load(uint8_t sec[SECKEY_LEN], const char *path, const char *what, char *err,
                       size_t errsz)
{
    char *text = NULL;
    size_t len = 0;
    if (read_file(path, 256, &text, &len) < 0) {
        snprintf(err, errsz, "cannot read %s %s: %s", what, path, strerror(errno));
        return -1;
    }
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    int rc = hex_decode(sec, SECKEY_LEN, text, len);
    explicit_bzero(text, len);
    free(text);
    if (rc < 0) {
        snprintf(err, errsz, "%s %s: expected 64 hex characters", what, path);
        return -1;
    }
    if (!secp256k1_ec_seckey_verify(secp_ctx(), sec)) {
        explicit_bzero(sec, SECKEY_LEN);
        snprintf(err, errsz,
                 "%s %s: not a valid secp256k1 scalar (zero, or not below the group order)", what,
                 path);
        return -1;
    }
    return 0;
}

/* 64 lower-case hex characters and a newline, mode 0600, replaced atomically. */
static int secret_save(const uint8_t sec[SECKEY_LEN], const char *path)
{
    char hex[2 * SECKEY_LEN + 2];
    hex_encode(hex, sec, SECKEY_LEN);
    hex[2 * SECKEY_LEN] = '\n';
    int rc = write_file_atomic(path, hex, 2 * SECKEY_LEN + 1, 0600);
    explicit_bzero(hex, sizeof(hex));
    return rc;
}

int node_key_load(struct node_key *k, const char *path, char *err, size_t errsz)
{
    uint8_t sec[SECKEY_LEN];
    if (secret_load(sec, path, "node key", err, errsz) < 0)
        return -1;
    int rc = node_key_from_secret(k, sec);
    explicit_bzero(sec, sizeof(sec));
    if (rc < 0)
        snprintf(err, errsz, "node key %s: not a valid secp256k1 secret key", path);
    return rc;
}

int node_key_save(const struct node_key *k, const char *path)
{
    return secret_save(k->sec, path);
}

int tss_key_load(uint8_t share[SECKEY_LEN], const char *path, char *err, size_t errsz)
{
    return secret_load(share, path, "tss key", err, errsz);
}

int tss_key_save(const uint8_t share[SECKEY_LEN], const char *path)
{
    return secret_save(share, path);
}

void node_key_wipe(struct node_key *k)
{
    explicit_bzero(k, sizeof(*k));
}

void ecdsa_sign(const struct node_key *k, const uint8_t digest[SHA256_LEN], uint8_t sig[SIG_LEN])
{
    secp256k1_ecdsa_signature s;
    /* libsecp256k1 always produces the low-S form. */
    if (!secp256k1_ecdsa_sign(secp_ctx(), &s, digest, k->sec, NULL, NULL))
        fatalx("secp256k1_ecdsa_sign failed");
    if (!secp256k1_ecdsa_signature_serialize_compact(secp_ctx(), sig, &s))
        fatalx("secp256k1_ecdsa_signature_serialize_compact failed");
}

bool ecdsa_verify(const uint8_t pub[PUBKEY_LEN], const uint8_t digest[SHA256_LEN],
                  const uint8_t sig[SIG_LEN])
{
    secp256k1_pubkey pk;
    secp256k1_ecdsa_signature s;
    if (!secp256k1_ec_pubkey_parse(secp_ctx(), &pk, pub, PUBKEY_LEN))
        return false;
    if (!secp256k1_ecdsa_signature_parse_compact(secp_ctx(), &s, sig))
        return false;
    /* secp256k1_ecdsa_verify rejects high-S signatures. */
    return secp256k1_ecdsa_verify(secp_ctx(), &s, digest, &pk) == 1;
}

void pubkey_address(const uint8_t pub[PUBKEY_LEN], uint8_t out[ADDR_LEN])
{
    uint8_t h[SHA256_LEN];
    sha256(h, pub, PUBKEY_LEN);
    memcpy(out, h, ADDR_LEN);
}

bool pubkey_valid(const uint8_t pub[PUBKEY_LEN])
{
    secp256k1_pubkey pk;
    if (pub[0] != 0x02 && pub[0] != 0x03)
        return false;
    return secp256k1_ec_pubkey_parse(secp_ctx(), &pk, pub, PUBKEY_LEN) == 1;
}
