/*
 * tss: the threshold-signing sessions of the QBFT worker (SPEC §10) — after every instance this
 * node decided (duties and blocks alike), the cluster makes one FROST(secp256k1, SHA-256) group
 * signature over m = SHA-256("aequa/tss/v1" || lock_hash || value_hash) (proto/tss.h), t of n
 * operators signing. Pure: no I/O, no globals, no clock or randomness of its own; the world comes
 * in through struct tss_host (the worker wires it in tss_link.c; the unit tests run four of these
 * against each other through a fake host).
 *
 * A session is (duty type, height); it runs in attempts 0, 1, ... n-1. The coordinator of
 * attempt a is (L + a) mod n, L being the leader of the round in which the instance was decided
 * (qbft_leader). In each attempt:
 *   1. every node makes fresh nonces (host->random into frost_commit_with) and sends its COMMIT
 *      to the coordinator (the coordinator keeps its own);
 *   2. the coordinator, once it holds t commitments of signers not blamed in this session (its
 *      own and the first that arrive), sends the SIGN package (exactly t, by identifier) to the
 *      chosen signers and computes its own share;
 *   3. a signer signs only a SIGN of the current attempt from its coordinator that holds its own
 *      commitment unchanged, for an instance it decided itself (m is always computed from this
 *      node's own decision, never taken from a peer); frost_sign wipes the nonces, so a second
 *      SIGN of the attempt gets no second share;
 *   4. the coordinator verifies every SHARE against the signer's verification share. A bad one
 *      is counted (tss_sessions_total{result="invalid"}), logged naming the signer, reported
 *      (host->report), and ABORT {attempt, blamed} is broadcast: every node moves to the next
 *      attempt at once, and no later coordinator of the session takes the blamed signer. The
 *      coordinator that caught it also leaves the signer out of every package it makes for
 *      TSS_SUSPECT_MS (a bad share is proof; a peer's ABORT is only a claim, trusted for one
 *      session), so a Byzantine signer costs each coordinator one attempt, not one per session;
 *   5. with t good shares it aggregates, verifies the group signature, stores it (host->store)
 *      and broadcasts SIG; every node verifies a SIG under the group key with its own m before it
 *      stores it.
 * An attempt without a signature after attempt_ms moves on (next coordinator, fresh nonces);
 * after n attempts the session ends "timeout". Nodes' attempts drift apart (decisions a moment
 * apart, ABORTs of two coordinators arriving in either order), so a node behind catches up: a
 * COMMIT for the next attempt, coordinated here, or an ABORT from a later attempt's coordinator
 * moves it on (to the attempt after the ABORT's); nothing moves it back, and a late ABORT still
 * blames.
 *
 * Nonces live only in this module's memory: wiped when used, when their attempt ends and when the
 * module is freed; never persisted. A restarted worker therefore cannot reuse one — and does not
 * resume its earlier sessions. It does answer for instances decided before it started: a message
 * of an unknown session is held (bounded) and, if host->lookup is set and it is still held after
 * a quarter of an attempt (this node did not decide the instance meanwhile), StateDB is asked
 * once whether the instance is decided here (tss_lookup_done); if so the session opens at the
 * attempt the messages show (a COMMIT to this node as coordinator, or the attempt after an
 * ABORT) with fresh nonces, or, when a signature is stored already, answers with it.
 *
 * Sessions never touch consensus: the engine knows nothing of them. Bounds: at most
 * cfg.max_sessions run at once (the oldest is dropped beyond: logged "dropped", counted as a
 * timeout), as many finished ones are kept (to answer a late COMMIT with the SIG, once per peer),
 * TSS_HELD messages of unknown sessions are held for at most n attempts, TSS_LOOKUPS lookups
 * remembered.
 *
 * Fatal vs dropped: nothing here is fatal. Peer bytes are untrusted: a message that does not
 * decode, or a commitment whose points do not parse, is reported (TSS_REPORT_UNDECODABLE) and
 * dropped; a bad share or a bad group signature is reported (TSS_REPORT_INVALID); a message that
 * is merely late, duplicate, for another attempt or from the wrong sender is dropped silently.
 *
 * Metrics: tss_sessions_total{result} (SPEC's ok, timeout, invalid), tss_round_seconds{round}
 * (commit: an attempt's start to its SIGN package, sign: the package to the verified signature; at
 * the coordinator), tss_sessions_open. Created only by tss_new, so a node without TSS exports none
 * of them. Log: tss_session, one line per finished session (and one per attempt aborted on a bad
 * share).
 */
#ifndef AEQUA_WORKERS_QBFT_TSS_H
#define AEQUA_WORKERS_QBFT_TSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/log.h"
#include "proto/tss.h"

#define TSS_ATTEMPT_MS   2000 /* an attempt's timeout (the worker's; tests choose their own) */
#define TSS_MAX_SESSIONS 256  /* sessions running at once (the worker's) */
#define TSS_HELD         1024 /* messages of sessions unknown here, held */
#define TSS_LOOKUPS      64   /* instances asked for (the set is forgotten when it fills up) */
#define TSS_SUSPECT_MS   (10 * 60 * 1000) /* a signer caught with a bad share, left out here */

struct tss_config {
    unsigned n;    /* operators, at most TSS_MAX_SIGNERS */
    unsigned t;    /* signers needed: the lock's threshold */
    unsigned self; /* this node's operator index (FROST identifier self + 1) */
    uint8_t lock_hash[SHA256_LEN];
    uint8_t group_pub[FROST_POINT_LEN];
    uint8_t vshares[TSS_MAX_SIGNERS][FROST_POINT_LEN]; /* by operator index */
    uint8_t share[FROST_SCALAR_LEN];                   /* this node's secret share */
    uint64_t attempt_ms;
    unsigned max_sessions;
};

enum tss_report {
    TSS_REPORT_INVALID,     /* a signature share or group signature that does not verify */
    TSS_REPORT_UNDECODABLE, /* a message that does not decode, or a malformed commitment */
};

struct tss_host {
    void *ctx;
    uint64_t (*mono_ms)(void *ctx);
    void (*random)(void *ctx, uint8_t *out, size_t n); /* fresh secret randomness */
    /* One message (proto/tss.h) to one operator, or to all others (peer P2P_BROADCAST). */
    void (*send)(void *ctx, uint32_t peer, const uint8_t *bytes, size_t len);
    void (*report)(void *ctx, unsigned peer, enum tss_report why);
    /* A verified group signature of a decided instance: store it with the instance. */
    void (*store)(void *ctx, uint8_t dtype, uint64_t height, const struct tss_record *rec);
    /* Optional: is (dtype, height) decided here? tss_lookup_done answers (once, maybe later). */
    void (*lookup)(void *ctx, uint8_t dtype, uint64_t height);
    /* Optional: one log line (kv ends with LOG_END). */
    void (*log)(void *ctx, enum log_level level, const char *event, const struct log_kv *kv);
};

struct tss;

/* NULL with a reason in err when the configuration is invalid. The share is copied (the caller
 * wipes its copy); the module wipes its own in tss_free. */
struct tss *tss_new(const struct tss_config *cfg, const struct tss_host *host, char *err,
                    size_t errsz);
void tss_free(struct tss *t);

/* This node decided (dtype, height) in round `round` with value_hash, durably: sign it. */
void tss_decided(struct tss *t, uint8_t dtype, uint64_t height, uint64_t round,
                 const uint8_t value_hash[SHA256_LEN]);
/* The answer to host->lookup: decided here (round, value_hash) or not (decided false); rec: the
 * signature stored with it, NULL when none. */
void tss_lookup_done(struct tss *t, uint8_t dtype, uint64_t height, bool decided, uint64_t round,
                     const uint8_t value_hash[SHA256_LEN], const struct tss_record *rec);

/* One payload from peer on aequa/tss/v1. */
void tss_deliver(struct tss *t, unsigned peer, const uint8_t *bytes, size_t len);

/* Timers: call tss_tick at (or after) tss_next_deadline (host monotonic ms; UINT64_MAX: none). */
void tss_tick(struct tss *t);
uint64_t tss_next_deadline(const struct tss *t);

/* Sessions running now. */
size_t tss_open(const struct tss *t);

#endif
