/*
 * qbft (proto): the QBFT consensus message family — wire codec, signing domain, certificates.
 *
 * These bytes travel between nodes (P2P topic aequa/qbft/v1, carried opaquely) and into the
 * vote-intent WAL; every decoder here is strict and bounded because the input is untrusted.
 *
 * A *body* is the signed part of a message, a msgpack array of 9:
 *   [version=1, type, duty, height, round, sender, value_hash|nil, prepared_round,
 * prepared_hash|nil] Bodies are canonical (the decoder re-encodes and compares), so a certificate
 * entry {index, round, sig} can be checked by re-encoding the COMMIT body it signs.
 *
 * The signature is ECDSA secp256k1, 64-byte compact low-S, over
 *   SHA-256("aequa/qbft/v1" || lock_hash || body bytes)            (qbft_signing_digest)
 *
 * A *wire message* is a msgpack array of 4: [body (bin), sig (bin 64), value (bin|nil),
 * justification (array of [body, sig])]. The value and the justification ride outside the
 * signature, as in the ConsenSys Dafny specification: votes carry SHA-256(value) in the body; the
 * value itself travels in PRE-PREPARE, in a prepared ROUND-CHANGE (so the next leader can
 * re-propose it) and in DECIDED. Justifications embed the original signed [body, sig] pairs
 * (never their own attachments), so a message carries at most 2n of them.
 *
 * Which attachments each type carries is one table in qbft.c. COMMIT is the one type whose
 * *intent* (the WAL record, QBFT_DECODE_INTENT) differs from its wire form: the intent keeps the
 * prepared value and the PREPARE quorum that justified the commit, so a restarted node can rebuild
 * its prepared state; on the wire a COMMIT carries neither (qbft_msg_strip).
 */
#ifndef AEQUA_PROTO_QBFT_H
#define AEQUA_PROTO_QBFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/crypto.h"
#include "proto/duty.h"

#define QBFT_DOMAIN     "aequa/qbft/v1"
#define QBFT_VERSION    1
#define QBFT_MAX_NODES  64
#define QBFT_MAX_JUST   (2 * QBFT_MAX_NODES) /* hard codec bound; the engine enforces 2n */
#define QBFT_BODY_MAX   128                  /* a canonical body is at most ~96 bytes */
#define QBFT_MAX_VALUE  (2u << 20)
#define QBFT_MAX_MSG    (QBFT_MAX_VALUE + (64u << 10))
#define QBFT_MAX_HEIGHT (1ull << 62)
#define QBFT_MAX_ROUND  UINT32_MAX
#define QBFT_HASH_LEN   SHA256_LEN

/* Message types: the node's one definition (StateDB's WAL keys use it too). The numbers are part
 * of the signed body and never change or get reused. */
enum qbft_type {
    QBFT_PRE_PREPARE = 1,  /* leader -> all */
    QBFT_PREPARE = 2,      /* any -> all */
    QBFT_COMMIT = 3,       /* any -> all */
    QBFT_ROUND_CHANGE = 4, /* any -> all */
    QBFT_DECIDED = 5,      /* decided node -> a peer still changing rounds */
};
#define QBFT_TYPE_MAX 5
/* Not a message: the type of a proposer lock's record in the vote-intent WAL (the parent and
 * value this node voted for in a block instance; workers/qbft/duties.h). */
#define QBFT_INTENT_LOCK 6
/* The largest type of a vote intent in the WAL, and its label ("lock" for the lock). */
#define QBFT_INTENT_TYPE_MAX QBFT_INTENT_LOCK
const char *qbft_intent_type_name(unsigned type);

/* Metric label of a type ("pre_prepare" ...), "unknown" for anything else. */
const char *qbft_type_name(unsigned type);

/* Quorum ceil(2n/3), tolerated faults floor((n-1)/3), leader (height + duty + round) % n. */
unsigned qbft_quorum(unsigned n);
unsigned qbft_faulty(unsigned n);
unsigned qbft_leader(unsigned duty, uint64_t height, uint64_t round, unsigned n);

struct qbft_body {
    uint8_t type; /* enum qbft_type */
    uint8_t duty; /* enum duty_type (proto/duty.h) */
    uint64_t height;
    uint64_t round;
    uint16_t sender;
    bool has_value_hash;
    uint8_t value_hash[QBFT_HASH_LEN];
    uint64_t prepared_round; /* ROUND-CHANGE only; 0 = nothing prepared */
    uint8_t prepared_hash[QBFT_HASH_LEN];
};

void qbft_body_encode(struct buf *out, const struct qbft_body *b);
/* Strict: canonical encoding, known type, per-type field rules, bounds. 0 or -1. */
int qbft_body_decode(struct qbft_body *b, const uint8_t *p, size_t len);

/* A signed body inside a decoded message (pointers into the input). */
struct qbft_signed {
    const uint8_t *body;
    uint32_t body_len;
    const uint8_t *sig; /* SIG_LEN bytes */
    struct qbft_body b;
};

struct qbft_msg {
    struct qbft_signed m;
    bool has_value;
    const uint8_t *value;
    uint32_t value_len;
    uint32_t njust;
    struct qbft_signed just[QBFT_MAX_JUST];
};

/* Reference to a signed body for encoding. */
struct qbft_sigref {
    const uint8_t *body;
    size_t body_len;
    const uint8_t *sig;
};

enum qbft_decode_mode {
    QBFT_DECODE_WIRE,   /* bytes from the network */
    QBFT_DECODE_INTENT, /* this node's own WAL record */
};

/* Decode a wire message (or an intent). 0 or -1; pointers in *m refer into p. */
int qbft_msg_decode(struct qbft_msg *m, const uint8_t *p, size_t len, enum qbft_decode_mode mode);
/* Encode a message; value may be NULL (nil). */
void qbft_msg_encode(struct buf *out, const struct qbft_sigref *self, const uint8_t *value,
                     size_t value_len, const struct qbft_sigref *just, size_t njust);
/* The wire form of a decoded intent: COMMIT loses its attachments, other types are unchanged. */
void qbft_msg_strip(struct buf *out, const struct qbft_msg *m, const uint8_t *raw, size_t raw_len);

/* SHA-256("aequa/qbft/v1" || lock_hash || body): what a QBFT signature signs. */
void qbft_signing_digest(uint8_t out[SHA256_LEN], const uint8_t lock_hash[SHA256_LEN],
                         const uint8_t *body, size_t body_len);

/* A certificate: msgpack array of [body, sig] COMMITs (a quorum for one round and value). */
void qbft_cert_encode(struct buf *out, const struct qbft_sigref *commits, size_t n);
/* Decode a certificate's entries (bodies decoded, signatures not checked). 0 or -1. */
int qbft_cert_decode(const uint8_t *cert, size_t len, struct qbft_signed *out, size_t max,
                     size_t *count);
/*
 * Check a certificate against the lock: at least a quorum of distinct members' COMMITs for
 * (duty, height), one round, one value hash (equal to value_hash when it is not NULL), each
 * signature valid. On success returns 0 and sets *round (and copies the hash to hash_out when
 * not NULL); -1 otherwise.
 */
int qbft_cert_verify(const uint8_t *cert, size_t len, unsigned n,
                     const uint8_t (*pubkeys)[PUBKEY_LEN], const uint8_t lock_hash[SHA256_LEN],
                     unsigned duty, uint64_t height, const uint8_t *value_hash, uint64_t *round,
                     uint8_t *hash_out);

#endif
