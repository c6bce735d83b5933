/*
 * gate: the P2P gates — AllowList → Rate → Score (SPEC §6) — as pure state machines driven by
 * an explicit clock (milliseconds), so they are tested without sleeping.
 *
 * - AllowList is decided by the handshake (handshake.h): only lock members get a link, so every
 *   message on a link already passed it. Its results here are only names for metrics.
 * - Rate: token buckets per peer, one for messages/s and one for bytes/s, each starting full
 *   with its burst; a message takes one token from the first and its wire size from the second,
 *   or nothing at all if either is short. A third bucket limits accepted connections per peer.
 * - Score: a peer starts at 0 and loses points for reports (table in gate.c: invalid signature
 *   and equivocation from QBFT, undecodable frames from the link layer). It regains
 *   recover_per_s points per second up to 0 and never falls below 2 × threshold. A report that
 *   leaves the score at or below threshold (a negative number) scores the peer out: its
 *   messages and connections are refused until the cool-down has passed *and* the score has
 *   recovered above the threshold; every report while at or below it restarts the cool-down.
 *
 * The result names are the `result` labels of p2p_conn_attempts_total, as SPEC §12.2 has them,
 * and handshake_failed: a connection whose handshake failed or was abandoned (links.h).
 */
#ifndef AEQUA_P2P_GATE_H
#define AEQUA_P2P_GATE_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/p2p.h"

enum p2p_gate_result {
    P2P_GATE_ALLOWED,
    P2P_GATE_DENIED,           /* not a lock member (or failed to prove it) */
    P2P_GATE_LIMITED,          /* a resource limit: connection cap */
    P2P_GATE_DKG_DENIED,       /* a member key with another cluster lock */
    P2P_GATE_RATE_LIMITED,     /* token bucket empty */
    P2P_GATE_SCORED_OUT,       /* score below threshold, in cool-down */
    P2P_GATE_HANDSHAKE_FAILED, /* no identity established: the handshake failed or was left */
    P2P_GATE_COUNT,
};

const char *p2p_gate_result_name(enum p2p_gate_result r);

/* ---- token bucket ---- */
struct p2p_bucket {
    uint64_t milli;     /* tokens × 1000 */
    uint64_t cap_milli; /* burst × 1000 */
    uint64_t rate;      /* tokens per second (= milli-tokens per ms) */
    uint64_t last_ms;
};

void p2p_bucket_init(struct p2p_bucket *b, uint64_t rate_per_s, uint64_t burst, uint64_t now_ms);
void p2p_bucket_refill(struct p2p_bucket *b, uint64_t now_ms);
/* Take cost tokens if there are that many (after refilling to now). */
bool p2p_bucket_take(struct p2p_bucket *b, uint64_t cost, uint64_t now_ms);
/* Whole tokens available (no refill). */
uint64_t p2p_bucket_tokens(const struct p2p_bucket *b);

/* ---- score (reports: enum p2p_report, proto/p2p.h) ---- */
const char *p2p_report_name(enum p2p_report r);
/* Points a report costs (positive). */
int64_t p2p_report_penalty(enum p2p_report r);

struct p2p_score_params {
    int64_t threshold; /* points, negative (config [p2p] score_threshold) */
    uint64_t cooldown_ms;
    uint64_t recover_per_s; /* points regained per second */
};

struct p2p_score {
    int64_t milli; /* points × 1000, in [2 × threshold, 0] */
    uint64_t last_ms;
    uint64_t banned_until_ms;
    bool banned;
};

void p2p_score_init(struct p2p_score *s, uint64_t now_ms);
/* Current score in points, after recovery up to now. */
double p2p_score_value(struct p2p_score *s, const struct p2p_score_params *p, uint64_t now_ms);
/* Apply a report; returns true if this report scored the peer out (it was not before). */
bool p2p_score_report(struct p2p_score *s, const struct p2p_score_params *p, enum p2p_report r,
                      uint64_t now_ms);
/* True while the peer is scored out. */
bool p2p_score_blocked(struct p2p_score *s, const struct p2p_score_params *p, uint64_t now_ms);

/* ---- one peer's gates ---- */
struct p2p_gate_params {
    uint64_t rate_msgs, burst_msgs;   /* messages per second, bucket size */
    uint64_t rate_bytes, burst_bytes; /* wire bytes per second, bucket size */
    uint64_t conn_rate, conn_burst;   /* accepted connections per second, bucket size */
    struct p2p_score_params score;
};

struct p2p_peer_gate {
    struct p2p_bucket msgs, bytes, conns;
    struct p2p_score score;
};

void p2p_gate_init(struct p2p_peer_gate *g, const struct p2p_gate_params *p, uint64_t now_ms);
/* Rate, then Score, for one received message of wire_bytes. */
enum p2p_gate_result p2p_gate_message(struct p2p_peer_gate *g, const struct p2p_gate_params *p,
                                      uint64_t wire_bytes, uint64_t now_ms);
/* Rate, then Score, for a connection from an authenticated member. */
enum p2p_gate_result p2p_gate_connection(struct p2p_peer_gate *g, const struct p2p_gate_params *p,
                                         uint64_t now_ms);

#endif
