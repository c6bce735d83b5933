/*
 * handshake: the P2P link handshake — Noise XX (noise.h) plus identity binding and the
 * AllowList gate. Pure: bytes in, bytes out, a verdict.
 *
 * Prologue "aequa/p2p/v1". Message 1 (initiator) carries an empty payload; messages 2
 * (responder) and 3 (initiator) carry the sender's handshake payload, msgpack (strict, at most
 * P2P_HS_PAYLOAD_MAX bytes):
 *
 *   [1, node_pub (bin 33), sig (bin 64), lock_hash (bin 32)]
 *
 * where sig certifies the sender's Noise static key (identity.h). A peer is accepted only if,
 * in this order: the payload decodes (else FAILED); sig verifies against node_pub for the
 * static key the Noise handshake authenticated (else DENIED); node_pub is an operator of our
 * lock (else DENIED: unknown keys never get a message through); it is not our own key (else
 * DENIED); its lock_hash is ours (else DKG_DENIED: a member key running another cluster
 * definition); and, on the initiator, it is the operator we dialled (else DENIED).
 *
 * The initiator learns the verdict on message 2 and sends message 3 only to an accepted peer;
 * the responder learns it on message 3. Any decryption or length failure is FAILED. The lock
 * and identity must outlive the handshake.
 */
#ifndef AEQUA_P2P_HANDSHAKE_H
#define AEQUA_P2P_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/lock.h"
#include "proto/p2p_identity.h"
#include "workers/p2p/noise.h"

#define P2P_PROLOGUE       "aequa/p2p/v1"
#define P2P_HS_VERSION     1
#define P2P_HS_PAYLOAD_MAX 160
/* The largest handshake message either side sends or accepts. */
#define P2P_HS_MSG_MAX (NOISE_MSG2_OVERHEAD + P2P_HS_PAYLOAD_MAX)

enum p2p_hs_status {
    P2P_HS_CONTINUE,   /* send out (if any) and wait for the next message */
    P2P_HS_DONE,       /* peer identified and accepted; send out (if any), then split */
    P2P_HS_FAILED,     /* malformed or unauthenticated message */
    P2P_HS_DENIED,     /* valid handshake, but not an acceptable lock member */
    P2P_HS_DKG_DENIED, /* a lock member's key with a different lock_hash */
};

struct p2p_hs_payload {
    uint8_t node_pub[PUBKEY_LEN];
    uint8_t sig[SIG_LEN];
    uint8_t lock_hash[SHA256_LEN];
};

void p2p_hs_payload_encode(const struct p2p_hs_payload *p, struct buf *out);
/* Strict decode; 0 or -1. */
int p2p_hs_payload_decode(struct p2p_hs_payload *p, const uint8_t *data, size_t len);

struct p2p_hs {
    struct noise_hs noise;
    const struct p2p_identity *id;
    const struct lock *lock;
    uint32_t self;
    int expect; /* initiator: the operator dialled; responder: -1 */
    int peer;   /* the identified operator (valid when DONE, and for DKG_DENIED) */
    enum p2p_hs_status status;
    const char *why; /* static text for FAILED / DENIED / DKG_DENIED */
};

/* The P2P worker's start-up check, the DKG gate of SPEC §6: the lock at lock_path verifies
 * (lock_load), id's signature certifies its Noise key, and id carries operators[index].pubkey.
 * 0, or -1 with one line naming the field (the worker exits 78). */
int p2p_dkg_gate(struct lock *l, const char *lock_path, uint64_t index,
                 const struct p2p_identity *id, char *err, size_t errsz);

void p2p_hs_init(struct p2p_hs *hs, bool initiator, const struct p2p_identity *id,
                 const struct lock *lock, uint32_t self, int expect);
/* Initiator only: message 1 into out (cap >= P2P_HS_MSG_MAX). */
enum p2p_hs_status p2p_hs_start(struct p2p_hs *hs, uint8_t *out, size_t cap, size_t *outlen);
/* Consume the peer's next handshake message; *outlen is the reply's length (0 for none). */
enum p2p_hs_status p2p_hs_step(struct p2p_hs *hs, const uint8_t *in, size_t len, uint8_t *out,
                               size_t cap, size_t *outlen);
/* After DONE: the transport ciphers (secrets in hs are wiped). */
int p2p_hs_split(struct p2p_hs *hs, struct noise_cipher *tx, struct noise_cipher *rx);
void p2p_hs_wipe(struct p2p_hs *hs);

#endif
