/*
 * crypto: SHA-256 and X25519 key pairs (OpenSSL libcrypto), secp256k1 ECDSA node keys
 * (libsecp256k1), randomness.
 *
 * Signatures are 64-byte compact (r || s) with low S; verification rejects high-S forms, so a
 * signature is not malleable. Public keys travel as 33-byte compressed points. Node key files
 * (node.key) and threshold-signing share files (tss.key, SPEC §10) hold the 32-byte secret as 64
 * lower-case hex characters and a newline, mode 0600; a loaded secret must be a non-zero scalar
 * below the group order.
 */
#ifndef AEQUA_CRYPTO_H
#define AEQUA_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32
#define SECKEY_LEN 32
#define PUBKEY_LEN 33
#define SIG_LEN    64
#define ADDR_LEN   20 /* an address: the first 20 bytes of SHA-256 of a compressed key */
#define X25519_LEN 32

/*
 * Start OpenSSL without its configuration file and without the legacy tables of cipher and
 * digest names: Aequa names its algorithms by function (EVP_sha256) or fetches them from the
 * default provider (ChaCha20-Poly1305), so neither is needed, and the two cost ~4 ms of CPU in
 * every process start (perf stat of a worker start: 19.5 -> 15.7 ms), which is most of a
 * worker's restart time on two busy cores. Called first thing by every program.
 */
void crypto_init(void);

struct sha256_ctx {
    void *md; /* EVP_MD_CTX */
};

void sha256(uint8_t out[SHA256_LEN], const void *data, size_t len);
void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_LEN]);

/* Cryptographically secure random bytes (getrandom); fatal on failure. */
void random_bytes(void *out, size_t n);

/* A node key pair. */
struct node_key {
    uint8_t sec[SECKEY_LEN];
    uint8_t pub[PUBKEY_LEN];
};

void node_key_generate(struct node_key *k);
/* Derive pub from sec; -1 if sec is not a valid secret key. */
int node_key_from_secret(struct node_key *k, const uint8_t sec[SECKEY_LEN]);
/* Load a key file; on error returns -1 and a reason in err. */
int node_key_load(struct node_key *k, const char *path, char *err, size_t errsz);
int node_key_save(const struct node_key *k, const char *path);
void node_key_wipe(struct node_key *k);

/* This node's FROST secret share (tss.key; its FROST identifier is the operator index + 1).
 * Load: 0, or -1 with a reason naming the file in err; the caller wipes share after use. */
int tss_key_load(uint8_t share[SECKEY_LEN], const char *path, char *err, size_t errsz);
int tss_key_save(const uint8_t share[SECKEY_LEN], const char *path);

/* ECDSA over a 32-byte digest. */
void ecdsa_sign(const struct node_key *k, const uint8_t digest[SHA256_LEN], uint8_t sig[SIG_LEN]);
bool ecdsa_verify(const uint8_t pub[PUBKEY_LEN], const uint8_t digest[SHA256_LEN],
                  const uint8_t sig[SIG_LEN]);
/* The address of a key: the first ADDR_LEN bytes of SHA-256(pub) (the lock's peer_id, the
 * transactions' from). */
void pubkey_address(const uint8_t pub[PUBKEY_LEN], uint8_t out[ADDR_LEN]);
/* True if pub is a valid compressed secp256k1 point. */
bool pubkey_valid(const uint8_t pub[PUBKEY_LEN]);

/* X25519 (the P2P worker's Noise static keys, made by the supervisor): the public key of a
 * 32-byte secret (clamped by X25519); 0, or -1 if OpenSSL refuses it. */
int x25519_public(const uint8_t priv[X25519_LEN], uint8_t pub[X25519_LEN]);
/* A fresh random key pair; fatal on failure. */
void x25519_generate(uint8_t priv[X25519_LEN], uint8_t pub[X25519_LEN]);

/* The process-wide randomized libsecp256k1 context (secp256k1_context *). */
void *secp_ctx(void);

#endif
