/*
 * p2p_identity: the certificate the P2P worker holds instead of the node key (SPEC §3.2, §6),
 * and its codec. Shared by the supervisor, which makes it (it holds the node key), and the P2P
 * worker, which loads it; the handshake checks peers' certificates with p2p_identity_verify.
 *
 * At start the supervisor (which reads the node's secp256k1 key) makes a fresh X25519 Noise
 * static key pair and certifies it: sig = ECDSA_node_key(SHA-256("aequa-noise-static-key:" ‖
 * X25519 static public key)), compact 64 bytes, low S — the libp2p-noise binding of
 * "noise-libp2p-static-key:" with our own domain string. The P2P worker receives the X25519
 * secret, the node's public key and sig; it can prove "operator j owns this Noise key" but can
 * sign nothing else.
 *
 * Blob (P2P_IDENTITY_BLOB_LEN = 137 bytes, passed by file or pipe; keep it 0600):
 *   "AQP2PID1" (8) ‖ X25519 static secret (32) ‖ secp256k1 compressed public key (33) ‖ sig (64)
 * p2p_identity_decode verifies the signature, so a worker never starts with an identity that
 * peers would reject.
 */
#ifndef AEQUA_PROTO_P2P_IDENTITY_H
#define AEQUA_PROTO_P2P_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/crypto.h"

#define P2P_IDENTITY_DOMAIN   "aequa-noise-static-key:"
#define P2P_IDENTITY_MAGIC    "AQP2PID1"
#define P2P_IDENTITY_BLOB_LEN (8 + X25519_LEN + PUBKEY_LEN + SIG_LEN)
/* Where the supervisor leaves the blob for the P2P worker, inside the runtime dir. */
#define P2P_IDENTITY_FILE "p2p.identity"

struct p2p_identity {
    uint8_t static_priv[X25519_LEN];
    uint8_t static_pub[X25519_LEN];
    uint8_t node_pub[PUBKEY_LEN];
    uint8_t sig[SIG_LEN];
};

/* Fresh X25519 static key certified by the node key (supervisor side). */
void p2p_identity_make(const struct node_key *k, struct p2p_identity *out);
/* The digest the node key signs: SHA-256(domain ‖ static_pub). */
void p2p_identity_digest(const uint8_t static_pub[X25519_LEN], uint8_t out[SHA256_LEN]);
/* sig by node_pub certifies static_pub. */
bool p2p_identity_verify(const uint8_t node_pub[PUBKEY_LEN], const uint8_t static_pub[X25519_LEN],
                         const uint8_t sig[SIG_LEN]);

void p2p_identity_encode(const struct p2p_identity *id, uint8_t out[P2P_IDENTITY_BLOB_LEN]);
/* Decode and verify a blob. 0, or -1 with a reason. */
int p2p_identity_decode(struct p2p_identity *id, const uint8_t *blob, size_t len, char *err,
                        size_t errsz);
/* Write the blob to path (mode 0600, atomically) / read and decode it. */
int p2p_identity_save(const struct p2p_identity *id, const char *path);
int p2p_identity_load(struct p2p_identity *id, const char *path, char *err, size_t errsz);
void p2p_identity_wipe(struct p2p_identity *id);

#endif
