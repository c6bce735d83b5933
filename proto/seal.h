/*
 * seal: what travels on the aequa/qbft/v1 topic besides consensus messages, and the seal itself.
 *
 * Every P2P payload on the topic is a msgpack array [kind, bytes]: kind 0 carries a QBFT wire
 * message (proto/qbft.h), kind 1 a seal. A seal is one node's signature over a decided value
 * (SPEC §7.6): ECDSA secp256k1, 64-byte compact low-S, over
 *   SHA-256("aequa/seal/v1" || lock_hash || duty (1 byte) || height (8 bytes, big endian) ||
 *           value_hash (32 bytes))
 * so a seal verifies against the cluster lock alone. Seal body: [duty, height, value_hash (bin
 * 32), index, sig (bin 64)]. Decoding is strict and bounded.
 */
#ifndef AEQUA_PROTO_SEAL_H
#define AEQUA_PROTO_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/crypto.h"

#define SEAL_DOMAIN "aequa/seal/v1"

enum qbft_topic_kind {
    QBFT_KIND_MSG = 0,  /* a QBFT wire message */
    QBFT_KIND_SEAL = 1, /* a seal */
};

void qbft_topic_encode(struct buf *b, enum qbft_topic_kind kind, const void *bytes, size_t len);
/* 0, or -1 if malformed; *bytes points into p. */
int qbft_topic_decode(enum qbft_topic_kind *kind, const uint8_t **bytes, size_t *len, const void *p,
                      size_t n);

struct seal {
    uint8_t duty;
    uint64_t height;
    uint8_t value_hash[SHA256_LEN];
    uint32_t index;
    uint8_t sig[SIG_LEN];
};

void seal_digest(uint8_t out[SHA256_LEN], const uint8_t lock_hash[SHA256_LEN], uint8_t duty,
                 uint64_t height, const uint8_t value_hash[SHA256_LEN]);
void seal_encode(struct buf *b, const struct seal *s);
int seal_decode(struct seal *s, const void *p, size_t n);
/* The signature verifies against pub for this lock. */
bool seal_verify(const struct seal *s, const uint8_t lock_hash[SHA256_LEN],
                 const uint8_t pub[PUBKEY_LEN]);

#endif
