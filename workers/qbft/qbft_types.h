/*
 * qbft_types: the QBFT engine's vocabulary — instance ids, the configuration, the host interface,
 * verdicts and reports. Every layer of the engine and every host includes this header; only the
 * engine's public face (qbft.h) declares entry points. How the engine behaves is documented in
 * qbft.h; how its files are layered, in qbft_table.h.
 */
#ifndef AEQUA_WORKERS_QBFT_TYPES_H
#define AEQUA_WORKERS_QBFT_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/qbft.h"

struct qbft_id {
    uint8_t duty; /* 0 attester, 1 proposer, 2 sync */
    uint64_t height;
};

enum qbft_timer_kind {
    QBFT_TIMER_EXPONENTIAL, /* T(r) = min(base * 2^(r-1), max) */
    QBFT_TIMER_LINEAR,      /* T(r) = min(base * r, max) */
};

/* Reports for metrics and logs (host maps them to qbft_* families). */
enum qbft_event {
    QBFT_EV_TIMEOUT,      /* round timer expired; label = phase reached ("pre_prepare", ...) */
    QBFT_EV_ROUND_CHANGE, /* entered a higher round (timeout or f+1 jump); label = cause */
    QBFT_EV_QC,           /* quorum certificate built; label = "prepare"|"commit"|"round_change" */
    QBFT_EV_STATE,        /* state transition; label = "prepared"|"decided" */
    QBFT_EV_WAL_GUARD,    /* an emission was replaced by the stored intent; label = type */
    QBFT_EV_INTENT,       /* a new intent was stored (qbft_wal_appends_total); label = type */
    QBFT_EV_BUFFER_DROP,  /* a message for a not-started instance did not fit the buffer */
};

/* What the host says about a freshly proposed value (validate_value). */
enum qbft_validity {
    QBFT_VALUE_INVALID, /* not prepared: the node waits for the round change */
    QBFT_VALUE_VALID,
    QBFT_VALUE_PENDING, /* the verdict comes later, through qbft_value_checked() */
};

struct qbft_host {
    void *ctx;
    /* Send signed bytes to every other member / to one member. */
    void (*broadcast)(void *ctx, uint8_t type, const uint8_t *msg, size_t len);
    void (*unicast)(void *ctx, unsigned peer, uint8_t type, const uint8_t *msg, size_t len);
    /* Sign a 32-byte digest with the node key (64-byte compact, low-S). 0 or -1. */
    int (*sign)(void *ctx, const uint8_t digest[SHA256_LEN], uint8_t sig[SIG_LEN]);
    /* Optional: verify a member's signature (benchmarks stub it). NULL = libsecp256k1. */
    bool (*verify)(void *ctx, unsigned signer, const uint8_t digest[SHA256_LEN],
                   const uint8_t sig[SIG_LEN]);
    /*
     * Vote intents, keyed by (instance, round, type). intent_get returns 1 and the stored bytes
     * (valid until the next host call), 0 if there is none, -1 if the store cannot answer (the
     * engine then does not vote). intent_put records bytes under a key that had none: 0, or -1
     * (not recorded: the engine does not send). The host holds every outgoing message until the
     * put is durable; a crash between put and send is safe.
     */
    int (*intent_get)(void *ctx, const struct qbft_id *id, uint64_t round, uint8_t type,
                      const uint8_t **bytes, size_t *len);
    int (*intent_put)(void *ctx, const struct qbft_id *id, uint64_t round, uint8_t type,
                      const uint8_t *bytes, size_t len);
    /* The instance decided: value, its hash, the round, and the certificate (qbft_cert_*). */
    void (*decided)(void *ctx, const struct qbft_id *id, const uint8_t *value, size_t len,
                    const uint8_t value_hash[QBFT_HASH_LEN], uint64_t round, const uint8_t *cert,
                    size_t cert_len);
    /* Optional reports. */
    void (*verified)(void *ctx, const char *type, const char *result);
    void (*equivocation)(void *ctx, const struct qbft_id *id, unsigned sender,
                         const uint8_t hash_a[SHA256_LEN], const uint8_t hash_b[SHA256_LEN]);
    void (*abstained)(void *ctx, const struct qbft_id *id, uint8_t type);
    void (*event)(void *ctx, const struct qbft_id *id, enum qbft_event ev, const char *label,
                  uint64_t round);
    /*
     * Optional: is a freshly proposed value (round 1, or a round where nobody prepared)
     * acceptable? NULL = every value is. An invalid proposal is not prepared; a pending one is
     * stored (its slot is taken, nothing is counted as an error) and prepared only once
     * qbft_value_checked() reports it valid.
     */
    enum qbft_validity (*validate_value)(void *ctx, const struct qbft_id *id,
                                         const uint8_t hash[QBFT_HASH_LEN], const uint8_t *value,
                                         size_t len);
};

struct qbft_config {
    unsigned n;    /* members, 1..QBFT_MAX_NODES */
    unsigned self; /* this node's index */
    const uint8_t (*pubkeys)[PUBKEY_LEN];
    uint8_t lock_hash[SHA256_LEN];
    uint64_t round_timeout_ms;     /* T(1) */
    uint64_t round_timeout_max_ms; /* cap */
    enum qbft_timer_kind timer;
    uint64_t round_window;       /* accepted rounds: [current - w, current + w] */
    uint64_t height_window;      /* not-started instances accepted up to max started + w */
    uint64_t retention;          /* heights below max started - retention are "old" */
    size_t decided_keep;         /* decided instances kept (answers to late peers), at most */
    uint64_t decided_keep_ms;    /* ... and for at most this long after their decision */
    unsigned decided_resends;    /* DECIDED answers per peer and instance, burst */
    size_t buffer_msgs_per_peer; /* messages for not-started instances, per peer */
    size_t buffer_bytes_per_peer;
    size_t sig_cache; /* verified-signature cache entries (power of two) */
};

/* Verifier outcome of one received message (the SPEC §7.4 result labels, plus buffered). */
enum qbft_verdict {
    QBFT_OK,
    QBFT_BUFFERED, /* passed rules 1-5 for an instance not started yet; judged when it starts */
    QBFT_ERROR,
    QBFT_UNAUTHORIZED,
    QBFT_SIG_INVALID,
    QBFT_OLD,
    QBFT_ROUND_OOB,
    QBFT_REPLAY,
    QBFT_EQUIVOCATION,
};

/* One stored intent, as intent_put received it. */
struct qbft_intent {
    uint64_t round;
    uint8_t type;
    const uint8_t *bytes;
    size_t len;
};

enum qbft_status { QBFT_UNKNOWN, QBFT_PENDING_START, QBFT_RUNNING, QBFT_DECIDED_STATUS };

struct qbft_info {
    enum qbft_status status;
    uint64_t round;
    bool abstain;
    uint64_t prepared_round;
    uint8_t prepared_hash[QBFT_HASH_LEN];
    /* decided */
    uint8_t value_hash[QBFT_HASH_LEN];
    uint64_t decided_round;
    const uint8_t *value; /* valid until the next engine call */
    size_t value_len;
    const uint8_t *cert;
    size_t cert_len;
};

struct qbft_stats {
    uint64_t sig_verified; /* signatures checked with libsecp256k1 (or host->verify) */
    uint64_t sig_cached;   /* signatures found in the cache */
    uint64_t signed_msgs;  /* host->sign calls */
    uint64_t buffered;     /* messages held for not-started instances */
    uint64_t buffer_drops;
    uint64_t instances; /* instances held now */
    uint64_t decided;   /* of which decided (bounded by decided_keep) */
};

#endif
