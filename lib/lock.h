/*
 * lock: the cluster lock (SPEC §5) — strict parse, canonical encoding, lock_hash, operator
 * signatures, and the precheck every node runs before it starts a worker.
 *
 * File format (JSON, strict: duplicate keys, unknown keys, reals, upper-case hex and trailing
 * data are errors; the file is at most LOCK_MAX_FILE bytes):
 *
 *   {"version": "aequa/lock/v1", "name": "…", "threshold": T,
 *    "operators": [{"index": i, "peer_id": "<40 hex>", "pubkey": "<66 hex>",
 *                   "p2p_address": "host:port"}, …],
 *    "tss": {"scheme": "FROST(secp256k1, SHA-256)", "group_pubkey": "<66 hex>",
 *            "verification_shares": ["<66 hex>", …]}        (optional, SPEC §10)
 *    "lock_hash": "<64 hex>", "signatures": ["<128 hex>", …]}
 *
 * - operators: 1..LOCK_MAX_OPERATORS entries in any order; their indices are exactly 0..n-1.
 *   pubkey is a 33-byte compressed secp256k1 point. peer_id is derived from pubkey (below).
 * - threshold is within [ceil(2n/3), n].
 * - Peer id: the lower-case hex of the first 20 bytes of SHA-256(pubkey) (40 characters).
 * - Canonical encoding (what lock_hash covers): the lock object without its top-level
 *   "lock_hash" and "signatures" members, transcoded to msgpack: objects become maps whose keys
 *   are sorted by bytewise comparison of their UTF-8 bytes (a shorter key that is a prefix of a
 *   longer one sorts first), arrays keep their order, strings become str, integers >= 0 uint and
 *   negative integers int, true/false/null bool/nil — every item in the shortest form msgpack
 *   allows (msgpack-c's packer). Whitespace and member order of the file therefore do not change
 *   the hash; any change of a value does. lock_hash = SHA-256(canonical encoding).
 * - signatures[k] is the 64-byte compact low-S ECDSA signature by operators[k].pubkey (same
 *   array position) over the 32 bytes of lock_hash used directly as the digest.
 * - tss (threshold signing keys, made by `aequactl cluster create --tss`, the trusted dealer):
 *   exactly these three members; scheme exactly "FROST(secp256k1, SHA-256)"; group_pubkey and
 *   verification_shares[i] (operator index i's share times G; its FROST identifier is i + 1)
 *   33-byte compressed points; one share per operator, by operator index; the shares lie on one
 *   polynomial of degree < threshold whose value at 0 is group_pubkey (frost_group_check), so any
 *   threshold of the operators can sign for group_pubkey. At most FROST_MAX_PARTICIPANTS
 *   operators. Like every member, it is covered by lock_hash. A lock without it is valid: TSS
 *   then cannot be enabled (lock_precheck_tss).
 *
 * Errors are one line that names the field, e.g. "operators[2].pubkey: duplicate of
 * operators[0].pubkey"; lock_load, lock_precheck and lock_precheck_tss prefix "cluster lock
 * PATH: ". Callers exit 78 (EX_CONFIG). Pure except for lock_load and the two prechecks, which
 * read files; nothing here logs.
 */
#ifndef AEQUA_LOCK_H
#define AEQUA_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/crypto.h"

#define LOCK_VERSION       "aequa/lock/v1"
#define LOCK_MAX_OPERATORS 64
#define LOCK_MAX_FILE      (1u << 20)
#define LOCK_NAME_MAX      64
#define LOCK_ADDR_MAX      255
#define PEER_ID_HEX        40

struct lock_operator {
    uint32_t index;
    char peer_id[PEER_ID_HEX + 1];
    uint8_t pubkey[PUBKEY_LEN];
    char p2p_address[LOCK_ADDR_MAX + 1];
    char host[LOCK_ADDR_MAX + 1]; /* p2p_address split */
    uint16_t port;
};

/* A lock that lock_parse accepted: every check of SPEC §5 that does not need a node key holds. */
struct lock {
    char name[LOCK_NAME_MAX + 1];
    uint32_t threshold;
    uint32_t n;
    struct lock_operator ops[LOCK_MAX_OPERATORS];        /* by index: ops[i].index == i */
    uint8_t sigs[LOCK_MAX_OPERATORS][SIG_LEN];           /* by operator index */
    uint8_t hash[SHA256_LEN];                            /* lock_hash */
    bool has_tss;                                        /* the tss object, when present: */
    uint8_t tss_group_pub[PUBKEY_LEN];                   /* group_pubkey */
    uint8_t tss_vshares[LOCK_MAX_OPERATORS][PUBKEY_LEN]; /* verification_shares, by index */
};

/* ceil(2n/3): the QBFT quorum and the smallest valid threshold. */
uint32_t lock_quorum(uint32_t n);

void lock_peer_id(const uint8_t pub[PUBKEY_LEN], char out[PEER_ID_HEX + 1]);

/* Parse and verify a lock held in memory (strict JSON, schema, bounds, uniqueness, threshold,
 * lock_hash, every signature). 0, or -1 with one line naming the field. */
int lock_parse(struct lock *l, const char *text, size_t len, char *err, size_t errsz);

/* lock_parse of a file; errors start with "cluster lock PATH: ". */
int lock_load(struct lock *l, const char *path, char *err, size_t errsz);

/* This node is operators[index] and holds pubkey. */
int lock_check_member(const struct lock *l, uint64_t index, const uint8_t pub[PUBKEY_LEN],
                      char *err, size_t errsz);

/* The precheck of SPEC §5: lock_load, then load the node key file and lock_check_member.
 * 0, or -1 with one line (the caller exits 78). */
int lock_precheck(struct lock *l, const char *lock_path, const char *key_path, uint64_t index,
                  char *err, size_t errsz);

/* This node's TSS secret share belongs to operators[index]: the lock has a tss object and the
 * share's public point is tss.verification_shares[index]. 0, or -1 with one line naming the
 * field. */
int lock_check_tss_share(const struct lock *l, uint64_t index, const uint8_t share[SECKEY_LEN],
                         char *err, size_t errsz);

/* The TSS part of the precheck (SPEC §5, §10), run after lock_precheck when TSS is enabled: the
 * lock (read from lock_path, named in errors) has a tss object, tss_key_path loads
 * (tss_key_load) and lock_check_tss_share holds. 0, or -1 with one line (the caller exits 78). */
int lock_precheck_tss(const struct lock *l, const char *lock_path, const char *tss_key_path,
                      uint64_t index, char *err, size_t errsz);

/* Operator index whose pubkey is pub, or -1. */
int lock_find_pubkey(const struct lock *l, const uint8_t pub[PUBKEY_LEN]);
/* Operator index whose verification share is the public point of share, or -1 (also without a
 * tss object). */
int lock_find_tss_share(const struct lock *l, const uint8_t share[SECKEY_LEN]);

/* Canonical encoding of a lock text (see above). Only the JSON is checked here, not the schema. */
int lock_canonical(const char *text, size_t len, struct buf *out, char *err, size_t errsz);

/* Build a sealed lock: operator i has keys[i] and addresses[i]; writes indented JSON text. */
int lock_create(struct buf *out, const char *name, uint32_t threshold, uint32_t n,
                const struct node_key *keys, const char *const *addresses, char *err, size_t errsz);

/* lock_create with a tss object: group_pub and vshares[i] for operator i (frost_dealer_keygen
 * with t = threshold, n operators). */
int lock_create_tss(struct buf *out, const char *name, uint32_t threshold, uint32_t n,
                    const struct node_key *keys, const char *const *addresses,
                    const uint8_t group_pub[PUBKEY_LEN], const uint8_t vshares[][PUBKEY_LEN],
                    char *err, size_t errsz);

/* Recompute lock_hash of a lock text and sign it again, signatures[k] by keys[k] (nkeys must be
 * the number of operators). For tooling and tests that edit a lock. */
int lock_reseal(struct buf *out, const char *text, size_t len, const struct node_key *keys,
                size_t nkeys, char *err, size_t errsz);

#endif
