/*
 * qbft: the QBFT consensus engine — a pure state machine, no I/O, no clocks, no globals.
 *
 * One engine per node; one instance per (duty type, height). The protocol is Moniz 2020 ("The
 * Istanbul BFT Consensus Algorithm") with explicit justifications as in the ConsenSys Dafny
 * specification; the wire format is proto/qbft.h. Everything outside the algorithm comes in
 * through struct qbft_host: sending, signing, the vote-intent store, and reports upward.
 *
 * Owned here: every instance's state (rounds, received messages, prepared state, values,
 * decision), the buffers for future rounds and not-yet-started instances (bounded), and a cache
 * of verified signatures (keyed by signing digest and signature).
 *
 * Untrusted bytes (qbft_receive) are never fatal: every message passes the verifier of SPEC §7.4
 * (rules and order in qbft_verify.c), is reported through host->verified(type, result) and is
 * dropped when a rule fails, without consuming anything. A host callback that fails (the intent
 * store is unavailable) makes the engine withhold that vote and retry on the next call; it never
 * signs a second, different message for an (instance, round, type) that has an intent.
 *
 * Time: every entry point takes `now` in milliseconds of the host's monotonic clock. Round r of
 * an instance ends at start + T(1) + ... + T(r) (an absolute schedule from the instance's start
 * time, see qbft_timer.c); qbft_next_deadline() tells the host when to call qbft_tick(), so a
 * libev host arms a single ev_timer.
 *
 * Callbacks run synchronously inside engine calls and must not call back into the engine.
 * Pointers passed to callbacks are valid only for the duration of the callback.
 */
#ifndef AEQUA_WORKERS_QBFT_H
#define AEQUA_WORKERS_QBFT_H

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
    /* Optional: is a fresh proposal acceptable? An invalid proposal is not prepared. */
    bool (*validate_value)(void *ctx, const struct qbft_id *id, const uint8_t *value, size_t len);
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
    unsigned decided_resends;    /* DECIDED answers per peer and instance, burst */
    size_t buffer_msgs_per_peer; /* messages for not-started instances, per peer */
    size_t buffer_bytes_per_peer;
    size_t sig_cache; /* verified-signature cache entries (power of two) */
};

/* Defaults matching the [qbft] section of the configuration. */
void qbft_config_defaults(struct qbft_config *cfg);

struct qbft_engine;

/* NULL with a reason in err when the configuration is invalid (bad n/self/pubkeys/bounds). */
struct qbft_engine *qbft_engine_new(const struct qbft_config *cfg, const struct qbft_host *host,
                                    char *err, size_t errsz);
void qbft_engine_free(struct qbft_engine *e);

/*
 * Start (or join) an instance with this node's input value. start_ms is the instance's start
 * time (the round schedule is counted from it: pass the time the duty was accepted, also after a
 * restart). Messages buffered for the instance are processed now. -1 with errno: EEXIST already
 * started, ESTALE below the retention window or pruned, EINVAL bad id or value.
 */
int qbft_start(struct qbft_engine *e, const struct qbft_id *id, const uint8_t *value, size_t len,
               uint64_t start_ms, uint64_t now);

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
const char *qbft_verdict_name(enum qbft_verdict v);

/* One message from the network; from_peer is the member index of the link it came on. */
enum qbft_verdict qbft_receive(struct qbft_engine *e, const uint8_t *msg, size_t len,
                               unsigned from_peer, uint64_t now);

/* Fire due round timers and retry withheld votes. */
void qbft_tick(struct qbft_engine *e, uint64_t now);
/* Earliest time qbft_tick has work (UINT64_MAX when none). */
uint64_t qbft_next_deadline(const struct qbft_engine *e);

/* One stored intent, as intent_put received it. */
struct qbft_intent {
    uint64_t round;
    uint8_t type;
    const uint8_t *bytes;
    size_t len;
};
/*
 * Rebuild an instance from its intents before qbft_start (after a restart): its round, its
 * prepared round/value and their PREPARE quorum, and what it already sent. -1 with errno EINVAL
 * if an intent does not decode or is not this node's message for this instance, EEXIST if the
 * instance already runs.
 */
int qbft_restore(struct qbft_engine *e, const struct qbft_id *id, const struct qbft_intent *intents,
                 size_t count);
/* Mark an instance decided from its persisted certificate (answers late peers). 0 or -1. */
int qbft_restore_decided(struct qbft_engine *e, const struct qbft_id *id, const uint8_t *value,
                         size_t len, const uint8_t *cert, size_t cert_len);

/* Pessimistic recovery: emit no PRE-PREPARE, PREPARE, COMMIT or ROUND-CHANGE for this instance. */
int qbft_abstain(struct qbft_engine *e, const struct qbft_id *id);

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
int qbft_info(const struct qbft_engine *e, const struct qbft_id *id, struct qbft_info *out);

/* Forget every instance of this duty type below height (their messages become "old"). */
void qbft_prune(struct qbft_engine *e, unsigned duty, uint64_t below_height);

struct qbft_stats {
    uint64_t sig_verified; /* signatures checked with libsecp256k1 (or host->verify) */
    uint64_t sig_cached;   /* signatures found in the cache */
    uint64_t signed_msgs;  /* host->sign calls */
    uint64_t buffered;     /* messages held for not-started instances */
    uint64_t buffer_drops;
    uint64_t instances; /* instances held now */
};
void qbft_stats(const struct qbft_engine *e, struct qbft_stats *out);

#endif
