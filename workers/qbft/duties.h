/*
 * duties: the QBFT worker's core — every accepted duty as one consensus instance of the engine
 * (qbft.h), and everything around it that the node needs. Pure: no I/O, no globals, no clock of
 * its own. The world comes in through struct duties_host: the worker (main.c) maps it onto its
 * mailbox and one timer; the simulator (tests/sim/cluster.c) runs n of these against an
 * in-memory StateDB behind the same interface.
 *
 * What it does and owns:
 *  - Admission (DUTY_SUBMIT). Refused with 503 while the reload runs or StateDB does not answer,
 *    and when max_open undecided instances are open; with 409 "too far ahead" when the height is
 *    more than max_height_jump above the highest height accepted for its type (the first duty of
 *    a type is free), 409 "too old" when it is more than the retention window below it. Else the
 *    duty is persisted (PUT_DUTY) and, once StateDB says it is durable, the instance starts (or
 *    joins) and the answer is ACCEPTED (CONFLICT when another payload is stored).
 *  - The intent discipline (SPEC §7.5), with the intent cache (intents.h). The engine asks the
 *    cache before it signs; a new intent is appended (APPEND_INTENT) and every message of its
 *    key is held until StateDB acknowledges it durable. A refused append (StateDB holds other
 *    bytes) replaces the cached bytes with the stored ones and drops what was held. While
 *    StateDB does not answer, new votes are withheld (the engine retries them).
 *  - Decisions (SPEC §7.6). The value, certificate and the seals held are persisted
 *    (PUT_DECIDED); nothing about a decision leaves before that is acknowledged durable: not this
 *    node's seal, not a DECIDED message to a peer still changing rounds (held per instance, one
 *    per peer). Seals of other nodes are verified, held until this node decides (bounded) and
 *    merged into the record. A decision this node no longer holds is looked up in StateDB when a
 *    peer changes rounds in it, so the engine can answer.
 *  - Reload, before READY: HELLO, LIST_DUTIES and LOAD_INTENTS page by page; every instance is
 *    rebuilt from its intents and every undecided duty started again with its original start
 *    time. After StateDB fell back to a checkpoint the node abstains from every instance at a
 *    height up to the highest it knows plus the height window (SPEC §7.5: when in doubt,
 *    abstain).
 *  - Views (DUTY_GET): a decided instance from memory (with its group signature, duties_set_tss),
 *    a running one with its round, else StateDB's decided record or duty. DUTY_RECENT lists the
 *    instances in memory, newest first (the status page).
 *  - Housekeeping (duties_tick): retries — intents and decided records StateDB has not taken, a
 *    HELLO probe while it does not answer — every DUTIES_RETRY_MS while something waits; every
 *    DUTIES_SWEEP_MS, instances that could not decide within instance_expire_ms stop counting as
 *    open, what fell below the retention window is forgotten and so are the intents of rounds
 *    more than round_window below an instance's current round; on every tick, decided
 *    instances beyond [qbft] decided_keep or older than decided_keep_s leave memory with their
 *    intents (GET, a late peer's ROUND-CHANGE and a duty posted again then go to StateDB).
 *  - The sequencer's hooks, for the duty types in builder_duties: the input value is asked for
 *    with host->want_input and the instance starts when duties_input() brings it (or joins
 *    without one); fresh proposals are judged by host->validate, whose late verdicts come in
 *    through duties_value_judged(). Other types use the duty's payload and take every proposal.
 *  - Block instances, the types in block_duties (proposer in the worker; blocks.c): their values
 *    are blocks (proto/block.h) that the builder builds and judges against the chain's head,
 *    which it reports (duties_head). The proposer lock keeps two block instances from deciding
 *    two children of one parent: this node PREPAREs or COMMITs a block only when its parent is
 *    the head, and with one parent it votes in one instance at a time; a vote in a lower instance
 *    moves the lock down (the higher one is abstained from) unless this node has COMMITted in the
 *    higher one. The lock is a record in the WAL (QBFT_INTENT_LOCK: parent | value hash), durable
 *    before the vote leaves. Block instances start from a POSTed proposer duty (its block may be
 *    empty), at the builder's slot (duties_slot), or when a peer's message for one arrives
 *    (joining); when the head moves, a running one whose block no longer builds on it asks the
 *    builder for a new one, proposed from the next round on (qbft_set_input); a durable
 *    decision goes to the builder (host->decided_value). A node whose builder is behind asks a
 *    peer (aequa/sync/v1) for the chain's blocks after its head, verifies each certificate and
 *    decides them like its own.
 *
 * Fatal vs dropped: nothing here is fatal. A malformed message from another worker is the
 * caller's protocol violation (it decodes envelopes before calling in). Bytes from peers
 * (duties_deliver) are untrusted: consensus messages pass the engine's verifier, seals are
 * checked here; what fails is dropped, and a bad signature or an equivocation is reported for
 * the P2P score. Every table has a bound: instances (admission and the retention window),
 * early seals (DUTIES_EARLY_SEALS), decision lookups (DUTIES_LOOKUPS), held DECIDED messages
 * (one per peer and instance).
 */
#ifndef AEQUA_WORKERS_QBFT_DUTIES_H
#define AEQUA_WORKERS_QBFT_DUTIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/log.h"
#include "proto/duty.h"
#include "proto/seal.h"
#include "proto/statedb.h"
#include "proto/tss.h"
#include "workers/qbft/qbft.h"

#define DUTIES_RETRY_MS    250
#define DUTIES_SWEEP_MS    30000
#define DUTIES_EARLY_SEALS 65536      /* seals held for instances not decided here yet, in all */
#define DUTIES_LOOKUPS     16384      /* decisions looked up in StateDB, remembered (then reset) */
#define DUTIES_LOAD_PAGE   (1u << 20) /* bytes per LIST_DUTIES / LOAD_INTENTS page */

struct duties_config {
    struct qbft_config qbft;     /* the engine's: members, keys, lock hash, timers, windows */
    uint64_t max_open;           /* [api] max_open_duties */
    uint64_t max_height_jump;    /* [qbft] max_height_jump */
    uint64_t instance_expire_ms; /* [qbft] instance_expire_s */
    uint8_t builder_duties;      /* bit per duty type whose input and validation use the hooks */
    uint8_t block_duties;        /* bit per duty type whose values are blocks (a subset) */
    uint64_t slot_ms;            /* [builder] slot_ms: heights of block duties are slots (0: off) */
    uint64_t generation;         /* this worker's, sent with HELLO */
};

/* Who asked: the host's reply address, copied and handed back untouched. */
struct duties_asker {
    uint8_t source;
    uint64_t req_id;
    uint64_t t0; /* when the request arrived, the host's clock */
};

enum duties_report {
    DUTIES_REPORT_INVALID_SIG,  /* a consensus message or seal whose signature does not verify */
    DUTIES_REPORT_EQUIVOCATION, /* two different messages for one slot */
    DUTIES_REPORT_UNDECODABLE,  /* a seal that does not decode */
};

struct duties_host {
    void *ctx;
    uint64_t (*mono_ms)(void *ctx); /* the engine's time */
    uint64_t (*wall_ms)(void *ctx); /* stored with duties and decisions */
    /* P2P: one QBFT wire message (type = its QBFT type) or seal (type 0) to one member, or to
     * all (P2P_BROADCAST); a peer to score. */
    void (*send)(void *ctx, uint32_t peer, enum qbft_topic_kind kind, uint8_t type,
                 const uint8_t *bytes, size_t len);
    void (*report)(void *ctx, unsigned peer, enum duties_report why);
    /* StateDB: 0 when the request left (duties_on_reply(token) follows exactly once), -1 when
     * it could not (nothing follows). r and its bytes are valid during the call only. */
    int (*sdb_request)(void *ctx, const struct sdb_req *r, void *token);
    /* Answers: to a DUTY_SUBMIT; to a DUTY_GET (v NULL: unavailable now). */
    void (*submitted)(void *ctx, const struct duties_asker *who, enum duty_result res);
    void (*viewed)(void *ctx, const struct duties_asker *who, const struct duty_view *v);
    /* The node key (consensus messages and seals). Optional checks of a member's signature on
     * a consensus message (verify) and on a seal (verify_seal), NULL = libsecp256k1 against
     * the lock's key; the simulator stubs or shares them among its nodes. */
    int (*sign)(void *ctx, const uint8_t digest[SHA256_LEN], uint8_t sig[SIG_LEN]);
    bool (*verify)(void *ctx, unsigned signer, const uint8_t digest[SHA256_LEN],
                   const uint8_t sig[SIG_LEN]);
    bool (*verify_seal)(void *ctx, unsigned signer, const uint8_t digest[SHA256_LEN],
                        const uint8_t sig[SIG_LEN]);
    /* Every duty and intent is reloaded (once). */
    void (*ready)(void *ctx);
    /* Optional: one log line (kv ends with LOG_END). */
    void (*log)(void *ctx, enum log_level level, const char *event, const struct log_kv *kv);
    /* The sequencer's hooks (builder_duties types only). want_input: ask for the input value of
     * an instance (it comes back through duties_input). validate: judge a fresh proposal;
     * QBFT_VALUE_PENDING means the verdict comes through duties_value_checked. */
    void (*want_input)(void *ctx, const struct qbft_id *id, bool explicit_duty);
    enum qbft_validity (*validate)(void *ctx, const struct qbft_id *id,
                                   const uint8_t hash[QBFT_HASH_LEN], const uint8_t *value,
                                   size_t len);
    /* Block instances: a decision is durable (hand it to the builder; may come again); a
     * message of aequa/sync/v1 to one peer. */
    void (*decided_value)(void *ctx, const struct qbft_id *id, const uint8_t *value, size_t len);
    void (*send_sync)(void *ctx, uint32_t peer, const uint8_t *bytes, size_t len);
    /* Optional: this node's decision of an instance is durable (the threshold-signing
     * sessions start from it, workers/qbft/tss.h); called once per instance and incarnation. */
    void (*decided)(void *ctx, const struct qbft_id *id, uint64_t round,
                    const uint8_t value_hash[SHA256_LEN]);
    /* Optional: the engine's reports are also passed on to tap's verified, equivocation,
     * abstained and event callbacks (tests and the simulator observe through it). */
    const struct qbft_host *tap;
};

struct duties;

/* NULL with a reason in err when the engine's configuration is invalid. */
struct duties *duties_new(const struct duties_config *cfg, const struct duties_host *host,
                          char *err, size_t errsz);
void duties_free(struct duties *d);
/* Start the reload (HELLO ...); host->ready is called once it is done. */
void duties_start(struct duties *d);
bool duties_loaded(const struct duties *d);

/* DUTY_SUBMIT: answered through host->submitted, now or once StateDB replied. */
void duties_submit(struct duties *d, const struct duties_asker *who, const struct duty_submit *s,
                   const char *trace_id);
/* DUTY_GET: answered through host->viewed. */
void duties_get(struct duties *d, const struct duties_asker *who, uint8_t type, uint64_t height);
/* DUTY_RECENT: the at most max (<= DUTY_RECENT_MAX) instances in memory that started here or
 * decided, the most recently started first; returns how many were written. */
size_t duties_recent(const struct duties *d, struct duty_brief *out, size_t max);

/* One message from peer on the QBFT topic. The engine's verdict for a consensus message, or -1
 * when nothing was judged (a seal, or the reload still runs). */
int duties_deliver(struct duties *d, unsigned peer, enum qbft_topic_kind kind, const uint8_t *bytes,
                   size_t len);
/* A peer's link came up (up) or went down. */
void duties_peer(struct duties *d, unsigned peer, bool up);

/* StateDB's answer to the request of token; r NULL when it failed (timeout, undecodable). */
void duties_on_reply(struct duties *d, void *token, const struct sdb_reply *r);

/* Timers: call duties_tick at (or after) duties_next_deadline (host monotonic ms). */
void duties_tick(struct duties *d);
uint64_t duties_next_deadline(const struct duties *d);

/* "" when healthy, else why not. */
void duties_health(const struct duties *d, char *out, size_t n);

/* The sequencer's hooks: the input value asked for with want_input (value NULL: join without
 * one; -1 ENOENT when the instance does not wait for one), the verdict on a value validate
 * answered pending for (behind: the builder lacks the proposal's parent; asked again once the
 * head moves). */
int duties_input(struct duties *d, const struct qbft_id *id, const uint8_t *value, size_t len);
enum duties_verdict { DUTIES_VALID, DUTIES_INVALID, DUTIES_BEHIND };
int duties_value_judged(struct duties *d, const struct qbft_id *id,
                        const uint8_t hash[QBFT_HASH_LEN], enum duties_verdict v);
int duties_value_checked(struct duties *d, const struct qbft_id *id,
                         const uint8_t hash[QBFT_HASH_LEN], bool valid);
/* Block instances: the builder's head (behind: decided blocks are missing: catch up), its slot
 * (start the block instance of that height), a message from a peer on aequa/sync/v1. */
void duties_head(struct duties *d, uint64_t height, const uint8_t hash[SHA256_LEN], bool behind);
void duties_slot(struct duties *d, uint64_t height);
void duties_sync_deliver(struct duties *d, unsigned peer, const uint8_t *bytes, size_t len);

/* The group signature stored with a decided instance (proto/tss.h's record), for the views of
 * the instances still in memory (the others show StateDB's record). */
void duties_set_tss(struct duties *d, const struct qbft_id *id, const struct tss_record *rec);

/* The engine (tests and the simulator read its state; the worker never does). */
struct qbft_engine *duties_engine(struct duties *d);
/* Intents held in memory (the rest is in StateDB's WAL only). */
size_t duties_intents_held(const struct duties *d);

#endif
