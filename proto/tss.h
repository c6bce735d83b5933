/*
 * tss (proto): the threshold-signing messages of topic aequa/tss/v1 (SPEC §10), the record of a
 * group signature stored with a decided instance, and the message a cluster signs.
 *
 * After an instance (duty type, height) is decided, the nodes sign
 *   m = SHA-256("aequa/tss/v1" || lock_hash || value_hash)                  (tss_message)
 * with FROST(secp256k1, SHA-256) (lib/frost.h). A session is (duty type, height) plus an attempt
 * number; each attempt has its own coordinator and fresh nonces (workers/qbft/tss.h). Every
 * payload on the topic is one msgpack array whose first four items say what it is about:
 *
 *   COMMIT  [1, dtype, height, attempt, id, hiding bin33, binding bin33]   signer -> coordinator
 *   SIGN    [2, dtype, height, attempt, [[id, hiding bin33, binding bin33]...]]
 *                                                                coordinator -> chosen signers
 *   SHARE   [3, dtype, height, attempt, id, z bin32]                       signer -> coordinator
 *   ABORT   [4, dtype, height, attempt, blamed id]                         coordinator -> all
 *   SIG     [5, dtype, height, attempt, [signer index...], sig bin65]      coordinator -> all
 *
 * id is a FROST identifier (operator index + 1); SIG names its signers by operator index, as the
 * JSON does. Decoding is strict and bounded (the bytes come from peers): exact shapes, every
 * number in range (dtype < DUTY_TYPES, height <= DUTY_HEIGHT_MAX, attempt < TSS_MAX_ATTEMPTS,
 * ids 1..TSS_MAX_SIGNERS), lists of 1..TSS_MAX_SIGNERS entries in strictly increasing order,
 * points with a compressed-point prefix, no trailing bytes. Whether a point is on the curve and
 * a scalar below the group order is lib/frost's check (frost_commitment_check, frost_sign,
 * frost_share_verify, frost_verify).
 *
 * The stored record (StateDB's decided record, field tss; the duty view) is
 *   [[signer index...], sig bin65]
 * and shows in JSON as {"scheme":"FROST(secp256k1, SHA-256)","signers":[i...],"sig":"<130 hex>"}.
 */
#ifndef AEQUA_PROTO_TSS_H
#define AEQUA_PROTO_TSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/crypto.h"
#include "lib/frost.h"

#define TSS_DOMAIN       "aequa/tss/v1"
#define TSS_MAX_SIGNERS  FROST_MAX_PARTICIPANTS /* operators of a TSS cluster */
#define TSS_MAX_ATTEMPTS TSS_MAX_SIGNERS        /* one per coordinator */
#define TSS_MSG_MAX      2048                   /* no encoded message is larger */
#define TSS_RECORD_MAX   (TSS_MAX_SIGNERS + 80) /* an encoded record */

enum tss_kind {
    TSS_COMMIT = 1, /* signer -> coordinator: round-one commitment of this attempt */
    TSS_SIGN = 2,   /* coordinator -> the chosen signers: the signing package */
    TSS_SHARE = 3,  /* signer -> coordinator: its signature share */
    TSS_ABORT = 4,  /* coordinator -> all: a share did not verify; move to the next attempt */
    TSS_SIG = 5,    /* coordinator -> all: the group signature */
};
#define TSS_KIND_MAX TSS_SIG

/* "commit", ... for logs; NULL when unknown. */
const char *tss_kind_name(unsigned kind);

struct tss_msg {
    uint8_t kind; /* enum tss_kind */
    uint8_t dtype;
    uint64_t height;
    uint32_t attempt;
    struct frost_commitment commit; /* COMMIT (its id is the signer's) */
    uint32_t ncommits;              /* SIGN */
    struct frost_commitment commits[TSS_MAX_SIGNERS];
    uint16_t id;                      /* SHARE: the signer; ABORT: the blamed signer */
    uint8_t z[FROST_SCALAR_LEN];      /* SHARE */
    uint32_t nsigners;                /* SIG */
    uint8_t signers[TSS_MAX_SIGNERS]; /* SIG: operator indices, increasing */
    uint8_t sig[FROST_SIG_LEN];       /* SIG */
};

void tss_msg_encode(struct buf *b, const struct tss_msg *m);
/* 0, or -1 if the bytes are not one well-formed message (m is then unspecified). */
int tss_msg_decode(struct tss_msg *m, const void *p, size_t n);

/* m = SHA-256("aequa/tss/v1" || lock_hash || value_hash) */
void tss_message(uint8_t out[SHA256_LEN], const uint8_t lock_hash[SHA256_LEN],
                 const uint8_t value_hash[SHA256_LEN]);

/* A group signature and who made it. */
struct tss_record {
    uint32_t nsigners;
    uint8_t signers[TSS_MAX_SIGNERS]; /* operator indices, increasing */
    uint8_t sig[FROST_SIG_LEN];
};

void tss_record_encode(struct buf *b, const struct tss_record *r);
int tss_record_decode(struct tss_record *r, const void *p, size_t n);
/* The record as the JSON object of SPEC §10 (appended to b). */
void tss_record_json(struct buf *b, const struct tss_record *r);

#endif
