/*
 * noise: the Noise protocol Noise_XX_25519_ChaChaPoly_SHA256 (revision 34 of the Noise spec):
 * the XX handshake state machine and the transport CipherStates, on OpenSSL libcrypto (X25519,
 * ChaCha20-Poly1305, SHA-256, HMAC-SHA256 for HKDF). Pure: no sockets, no logging; every
 * failure is a return value.
 *
 *   XX:  -> e
 *        <- e, ee, s, es
 *        -> s, se
 *
 * A handshake that failed once (bad length, authentication failure, a low-order DH result, a
 * message out of turn) stays failed: every later call fails too, so a caller cannot continue
 * by mistake. Secrets are wiped by noise_hs_wipe() and after noise_hs_split().
 *
 * Transport: noise_cipher_* is the Noise CipherState (64-bit counter nonce, little-endian in the
 * last 8 bytes of the 12-byte ChaCha20-Poly1305 nonce). The Noise framework limits messages to
 * 65535 bytes; the P2P frame layer uses the CipherState directly for larger frames (its own
 * 32-bit length prefix), which ChaCha20-Poly1305 permits. The nonce 2^64-1 is never used: the
 * cipher refuses to encrypt or decrypt once it is reached.
 */
#ifndef AEQUA_P2P_NOISE_H
#define AEQUA_P2P_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/crypto.h"

#define NOISE_PROTOCOL_NAME "Noise_XX_25519_ChaChaPoly_SHA256"
#define NOISE_KEY_LEN       X25519_LEN /* key pairs: x25519_generate / x25519_public */
#define NOISE_HASH_LEN      32
#define NOISE_TAG_LEN       16
#define NOISE_MAX_MSG       65535

struct noise_cipher {
    uint8_t k[NOISE_KEY_LEN];
    uint64_t n;
    bool has_key;
};

/* EncryptWithAd: out holds len + NOISE_TAG_LEN bytes (just len without a key). 0 or -1. */
int noise_cipher_encrypt(struct noise_cipher *c, const uint8_t *ad, size_t adlen, const uint8_t *pt,
                         size_t len, uint8_t *out);
/* Encrypt the concatenation head ‖ body without ad (a frame: topic byte ‖ payload). out holds
 * hlen + blen + NOISE_TAG_LEN bytes. 0 or -1. */
int noise_cipher_encrypt2(struct noise_cipher *c, const uint8_t *head, size_t hlen,
                          const uint8_t *body, size_t blen, uint8_t *out);
/* DecryptWithAd: out holds len - NOISE_TAG_LEN bytes and may equal ct (in place). 0 or -1
 * (authentication failure; the nonce does not advance). */
int noise_cipher_decrypt(struct noise_cipher *c, const uint8_t *ad, size_t adlen, const uint8_t *ct,
                         size_t len, uint8_t *out);
void noise_cipher_wipe(struct noise_cipher *c);

struct noise_hs {
    bool initiator;
    bool failed;
    int step; /* handshake messages done: 0..3 */
    uint8_t ck[NOISE_HASH_LEN], h[NOISE_HASH_LEN];
    struct noise_cipher c;
    uint8_t s_priv[NOISE_KEY_LEN], s_pub[NOISE_KEY_LEN];
    uint8_t e_priv[NOISE_KEY_LEN], e_pub[NOISE_KEY_LEN];
    bool e_set;
    uint8_t re[NOISE_KEY_LEN], rs[NOISE_KEY_LEN];
    bool rs_set;
};

/* Bytes a handshake message adds to its payload: index 0, 1, 2. */
#define NOISE_MSG1_OVERHEAD 32
#define NOISE_MSG2_OVERHEAD (32 + 32 + 16 + 16)
#define NOISE_MSG3_OVERHEAD (32 + 16 + 16)

void noise_hs_init(struct noise_hs *hs, bool initiator, const uint8_t s_priv[NOISE_KEY_LEN],
                   const void *prologue, size_t plen);
/* Use a fixed ephemeral key instead of a random one (test vectors only). */
void noise_hs_set_ephemeral(struct noise_hs *hs, const uint8_t e_priv[NOISE_KEY_LEN]);
/* True when the next handshake message is ours to write. */
bool noise_hs_my_turn(const struct noise_hs *hs);
bool noise_hs_done(const struct noise_hs *hs);
/* WriteMessage: the next handshake message carrying payload into out (cap bytes). 0 or -1. */
int noise_hs_write(struct noise_hs *hs, const uint8_t *payload, size_t plen, uint8_t *out,
                   size_t cap, size_t *outlen);
/* ReadMessage: the payload of the peer's next handshake message into payload (cap bytes). */
int noise_hs_read(struct noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *payload, size_t cap,
                  size_t *plen);
/* The peer's static key, once received (NULL before). */
const uint8_t *noise_hs_remote_static(const struct noise_hs *hs);
/* The handshake hash h (channel binding), valid once done. */
const uint8_t *noise_hs_hash(const struct noise_hs *hs);
/* After the last message: the two transport ciphers, then the handshake secrets are wiped. */
int noise_hs_split(struct noise_hs *hs, struct noise_cipher *send, struct noise_cipher *recv);
void noise_hs_wipe(struct noise_hs *hs);

#endif
