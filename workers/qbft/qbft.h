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
 *
 * Files, bottom up (tests/check_qbft_layers.py keeps the include graph this way):
 *   qbft_types.h                 the vocabulary (ids, configuration, host interface)
 *   qbft_table.{h,c}, qbft_timer.c   instance and round tables, slots, values, buffers, the
 *                                signature cache, the round schedule
 *   qbft_verify.{h,c}            the verifier (SPEC §7.4): judges and records a message
 *   qbft_rules.{h,c}             the upon rules, emission, decision
 *   qbft_engine.c                this header: verifies, then runs the rules it calls for
 * The verifier and the rules call only the tables, never each other or the entry points.
 */
#ifndef AEQUA_WORKERS_QBFT_H
#define AEQUA_WORKERS_QBFT_H

#include "workers/qbft/qbft_types.h"

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
/* Start (or join) an instance without an input value: the node votes on what leaders propose,
 * and as a leader it proposes only a value a ROUND-CHANGE quorum carries as prepared (else it
 * stays silent and the round changes). Errors as qbft_start. */
int qbft_join(struct qbft_engine *e, const struct qbft_id *id, uint64_t start_ms, uint64_t now);
/*
 * Give a running instance a new input value (or a first one, if it joined without): what this
 * node proposes as a leader from now on, in round 1 or in a later round in which nothing was
 * prepared. A PRE-PREPARE already sent is never changed (one per round, SPEC §7.5), and the old
 * input stays known as a value (it may be proposed or prepared). Safe: a leader may propose any
 * value when no value is prepared. -1 with errno EINVAL (bad id or value) or ENOENT (the
 * instance does not run).
 */
int qbft_set_input(struct qbft_engine *e, const struct qbft_id *id, const uint8_t *value,
                   size_t len, uint64_t now);

const char *qbft_verdict_name(enum qbft_verdict v);

/* One message from the network; from_peer is the member index of the link it came on. */
enum qbft_verdict qbft_receive(struct qbft_engine *e, const uint8_t *msg, size_t len,
                               unsigned from_peer, uint64_t now);

/*
 * The host's verdict on a proposed value it answered QBFT_VALUE_PENDING for: every pending
 * PRE-PREPARE of this running instance with that value hash becomes valid (it is prepared now,
 * if its round is current) or invalid (if it is the current round's proposal, the node moves to
 * the next round at once instead of waiting for the timer). A value found valid before may be
 * declared invalid (a block built on a head that has moved on). The verdict is remembered for
 * the value, so it is not asked for again in this instance. -1 with errno ENOENT when the
 * instance does not run or holds no proposal of that value to judge.
 */
int qbft_value_checked(struct qbft_engine *e, const struct qbft_id *id,
                       const uint8_t value_hash[QBFT_HASH_LEN], bool valid, uint64_t now);

/* Fire due round timers and retry withheld votes. */
void qbft_tick(struct qbft_engine *e, uint64_t now);
/* Earliest time qbft_tick has work (UINT64_MAX when none). */
uint64_t qbft_next_deadline(const struct qbft_engine *e);

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
/* A decision learned from elsewhere (catch-up): the certificate is verified against the lock's
 * keys, the instance is decided and reported through host->decided like one decided here.
 * -1 with errno EINVAL (bad value or certificate) or EEXIST (decided already). */
int qbft_learn_decided(struct qbft_engine *e, const struct qbft_id *id, const uint8_t *value,
                       size_t len, const uint8_t *cert, size_t cert_len, uint64_t now);

/* Pessimistic recovery: emit no PRE-PREPARE, PREPARE, COMMIT or ROUND-CHANGE for this instance. */
int qbft_abstain(struct qbft_engine *e, const struct qbft_id *id);

int qbft_info(const struct qbft_engine *e, const struct qbft_id *id, struct qbft_info *out);

/* Forget every instance of this duty type below height (their messages become "old"). */
void qbft_prune(struct qbft_engine *e, unsigned duty, uint64_t below_height);

void qbft_stats(const struct qbft_engine *e, struct qbft_stats *out);

#endif
