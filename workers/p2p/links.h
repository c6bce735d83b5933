/*
 * links: the P2P link layer — one authenticated, encrypted TCP link to every other operator of
 * the cluster lock, driven by the caller's libev loop (non-blocking sockets, no threads).
 *
 * Who dials: the operator with the lower index dials the higher one; the higher one only
 * accepts. A link that drops is redialled by its lower end with capped exponential backoff
 * (reconnect_min_ms doubling to reconnect_max_ms, jittered), reset once a link is up. An
 * authenticated connection from an operator that already has a link replaces the old link (the
 * dialer only dials when it lost its link, so the newer connection is the live one); the peer
 * stays up across a replacement.
 *
 * A connection becomes a link in this order:
 *   1. Connection cap (inbound): when the node already holds max_connections connections
 *      (handshaking or up, either direction) an inbound one is closed at once: "limited".
 *   2. Handshake (handshake.h) within handshake_timeout_ms: AllowList — a key outside the lock
 *      is "denied", a member key with another lock_hash "dkg_denied". A handshake that does not
 *      authenticate or decode (either direction), and an incoming one that the peer abandons
 *      (it closed the connection, as a peer with another lock or key does once it has judged
 *      us) or that misses the deadline, is "handshake_failed". Handshake frames are at most
 *      P2P_HS_MSG_MAX bytes.
 *   3. Rate (accepted connections per peer: P2P_CONN_RATE/s, burst P2P_CONN_BURST) →
 *      "rate_limited"; Score → "scored_out"; else "allowed". The responder then sends ACCEPT;
 *      the initiator counts the link up when ACCEPT arrives.
 * Every received transport frame: a length outside [17, max_frame_bytes] closes the link
 * before its body is read; a body that does not authenticate closes it; then Rate (per peer:
 * rate_msgs/s with burst rate_burst, and rate_bytes/s of wire bytes with a burst of
 * max(rate_bytes, max_frame_bytes)) → "rate_limited", Score → "scored_out", both dropped and
 * counted in p2p_conn_attempts_total and p2p_msgs_total; an undecodable frame costs score; the
 * rest is delivered to on_message. Unknown keys never get a frame delivered: frames are read
 * only after the handshake accepted the peer.
 *
 * Sending never blocks and never closes a link: a message is dropped (counted with result
 * no_link, queue_full or too_large in p2p_msgs_total) when the peer has no link, when the
 * link's unsent bytes would exceed send_queue_bytes, or when it would exceed max_frame_bytes.
 * Links that are idle send a PING every ping_interval_ms; a link that received nothing for
 * idle_timeout_ms is closed.
 *
 * Metrics (SPEC §12.2): p2p_conn_attempts_total{result}, p2p_conn_open_total,
 * p2p_conn_close_total, p2p_conns_open, p2p_peers_joined_total, p2p_peers_left_total,
 * p2p_msgs_total{topic,direction,result} (result: ok, rate_limited, scored_out, undecodable,
 * no_link, queue_full, too_large, oversize), p2p_bytes_total{topic,direction} in wire bytes
 * (length prefix, ciphertext and tag; topics also "handshake", "control" and "invalid"),
 * p2p_peer_score{peer} (peer = operator index). Logs: p2p_peer (link up/down, denials, score
 * changes; denials are rate-limited; failed handshakes are logged once per remote address per
 * HS_LOG_PERIOD_MS, with how many were not logged since), p2p_dkg_cluster (a peer with another
 * cluster lock).
 */
#ifndef AEQUA_P2P_LINKS_H
#define AEQUA_P2P_LINKS_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/config.h"
#include "lib/lock.h"
#include "workers/p2p/frame.h"
#include "workers/p2p/gate.h"
#include "proto/p2p_identity.h"

#define P2P_CONN_RATE  1  /* accepted connections per second and peer */
#define P2P_CONN_BURST 10 /* ... with this burst */

struct p2p_links_config {
    char listen[CFG_STR]; /* host:port; "" = this operator's p2p_address in the lock */
    uint64_t max_connections;
    uint64_t handshake_timeout_ms;
    uint64_t max_frame_bytes;
    uint64_t send_queue_bytes;
    uint64_t reconnect_min_ms, reconnect_max_ms;
    uint64_t ping_interval_ms, idle_timeout_ms;
    struct p2p_gate_params gate;
};

/* The [p2p] section of a configuration. */
void p2p_links_config_from(struct p2p_links_config *lc, const struct config *cfg);

struct p2p_links_callbacks {
    void *ctx;
    /* A message on a data topic from an accepted operator; data is valid during the call. */
    void (*on_message)(void *ctx, uint32_t peer, enum p2p_topic topic, const uint8_t *data,
                       size_t len);
    /* The link to peer came up or went down (optional). */
    void (*on_peer)(void *ctx, uint32_t peer, bool up);
};

struct p2p_links;

/* lock (verified; see lock_precheck) and id must outlive the links. self is this operator's
 * index and id must carry its key. Returns NULL with a reason. */
struct p2p_links *p2p_links_new(struct ev_loop *loop, const struct p2p_links_config *cfg,
                                const struct lock *lock, uint32_t self,
                                const struct p2p_identity *id, const struct p2p_links_callbacks *cb,
                                char *err, size_t errsz);
/* Bind and listen, and start dialling. 0, or -1 with a reason (e.g. address in use). */
int p2p_links_start(struct p2p_links *l, char *err, size_t errsz);
/* Close every link and free (the loop is not stopped). */
void p2p_links_free(struct p2p_links *l);

/* Queue one message for peer; 0, or -1 when dropped (counted). topic is a data topic. */
int p2p_links_send(struct p2p_links *l, uint32_t peer, enum p2p_topic topic, const void *data,
                   size_t len);
/* Send to every peer with a link; returns how many accepted the message. */
unsigned p2p_links_broadcast(struct p2p_links *l, enum p2p_topic topic, const void *data,
                             size_t len);
/* Lower a peer's score (from QBFT: invalid signature, equivocation). */
void p2p_links_report(struct p2p_links *l, uint32_t peer, enum p2p_report r);

bool p2p_links_peer_up(const struct p2p_links *l, uint32_t peer);
/* Operators with a link up, counting this node. */
uint32_t p2p_links_up_count(const struct p2p_links *l);
/* A quorum (ceil(2n/3)) of the cluster is reachable, this node included: /ready. */
bool p2p_links_quorum(const struct p2p_links *l);

#endif
