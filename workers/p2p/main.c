/*
 * aequa-p2p: the node's links to the other operators (SPEC §6), wired to the node's IPC.
 *
 * Start: read the cluster lock and the identity the supervisor certified (runtime dir), run the
 * DKG gate (a lock or identity it cannot verify is exit 78), drop privileges, open the links.
 * Messages from accepted peers go to the worker that owns their topic (QBFT, builder);
 * workers' P2P_SEND go out on the links; QBFT's reports lower a peer's score. The worker is
 * healthy (/ready) only while links to a quorum of the cluster, itself included, are up.
 * A one-operator cluster has no links to make and listens on nothing.
 */
#include "lib/lock.h"
#include "lib/log.h"
#include "lib/util.h"
#include "proto/p2p.h"
#include "proto/workers.h"
#include "workers/common/worker.h"
#include "workers/p2p/handshake.h"
#include "workers/p2p/links.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    struct worker *w;
    struct lock lock;
    struct p2p_identity id;
    struct p2p_links *links;
} P;

/* Which worker receives each data topic. */
static const unsigned topic_owner[P2P_TOPIC_COUNT] = {
    [P2P_TOPIC_QBFT] = W_QBFT,
    [P2P_TOPIC_TX] = W_BUILDER,
    [P2P_TOPIC_TSS] = W_QBFT,
    [P2P_TOPIC_SYNC] = W_QBFT,
};

static void on_message(void *ctx, uint32_t peer, enum p2p_topic topic, const uint8_t *data,
                       size_t len)
{
    (void)ctx;
    if (topic <= P2P_TOPIC_CONTROL || topic >= P2P_TOPIC_COUNT || len > P2P_PAYLOAD_MAX)
        return;
    struct buf b = BUF_INIT;
    struct p2p_msg m = {
        .peer = peer, .topic = (uint8_t)topic, .payload = data, .len = (uint32_t)len};
    p2p_msg_encode(&b, &m);
    int rc = mailbox_send(P.w->mb, topic_owner[topic], P2P_DELIVER, b.data, b.len);
    if (rc < 0)
        log_debug("p2p_deliver_drop", LU("peer", peer), LS("err", strerror(-rc)));
    buf_free(&b);
}

static void on_peer(void *ctx, uint32_t peer, bool up)
{
    (void)ctx;
    struct buf b = BUF_INIT;
    p2p_event_encode(&b, peer, up);
    /* Both consumers resend what a peer that just (re)joined may have missed. */
    mailbox_send(P.w->mb, W_QBFT, P2P_PEER, b.data, b.len);
    mailbox_send(P.w->mb, W_BUILDER, P2P_PEER, b.data, b.len);
    buf_free(&b);
}

static void on_send(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    struct p2p_msg m;
    if (p2p_msg_decode(&m, e->body, e->body_len) < 0 || m.topic <= P2P_TOPIC_CONTROL ||
        m.topic >= P2P_TOPIC_COUNT) {
        mailbox_violation(mb, e, "malformed P2P_SEND");
        return;
    }
    if (topic_owner[m.topic] != e->source) {
        mailbox_violation(mb, e, "P2P_SEND on a topic another worker owns");
        return;
    }
    if (!P.links)
        return; /* one-operator cluster: nobody to send to */
    if (m.peer == P2P_BROADCAST)
        p2p_links_broadcast(P.links, (enum p2p_topic)m.topic, m.payload, m.len);
    else if (m.peer < P.lock.n)
        p2p_links_send(P.links, m.peer, (enum p2p_topic)m.topic, m.payload, m.len);
    else
        mailbox_violation(mb, e, "P2P_SEND to an unknown peer");
}

static void on_report(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    uint32_t peer, reason;
    if (p2p_event_decode(&peer, &reason, e->body, e->body_len) < 0 || peer >= P.lock.n ||
        reason >= P2P_REPORT_COUNT) {
        mailbox_violation(mb, e, "malformed P2P_REPORT");
        return;
    }
    if (P.links)
        p2p_links_report(P.links, peer, (enum p2p_report)reason);
}

static const struct dispatch_entry rows[] = {
    /* Each sends on the topics it owns (topic_owner): QBFT consensus, catch-up and TSS, the
     * builder transactions; both report peers whose bytes were bad. */
    {P2P_SEND, WBIT(W_QBFT) | WBIT(W_BUILDER), 4, P2P_PAYLOAD_MAX + 64, on_send},
    {P2P_REPORT, WBIT(W_QBFT) | WBIT(W_BUILDER), 2, 32, on_report},
};

static int p2p_preinit(struct worker *w)
{
    char err[1024], path[CFG_PATH + 32];
    snprintf(path, sizeof(path), "%s/%s", w->cfg.runtime_dir, P2P_IDENTITY_FILE);
    if (p2p_identity_load(&P.id, path, err, sizeof(err)) < 0 ||
        p2p_dkg_gate(&P.lock, w->cfg.lock, w->cfg.index, &P.id, err, sizeof(err)) < 0) {
        log_error("p2p_dkg_cluster", LS("result", "refused"), LS("err", err));
        exit(EXIT_CONFIG);
    }
    log_info("p2p_dkg_cluster", LS("result", "ok"), LS("cluster", P.lock.name),
             LU("operators", P.lock.n), LU("index", w->cfg.index));
    return 0;
}

static int p2p_init(struct worker *w)
{
    char err[512];
    P.w = w;
    if (P.lock.n > 1) {
        struct p2p_links_config lc;
        struct p2p_links_callbacks cb = {.on_message = on_message, .on_peer = on_peer};
        p2p_links_config_from(&lc, &w->cfg);
        P.links = p2p_links_new(w->loop, &lc, &P.lock, (uint32_t)w->cfg.index, &P.id, &cb, err,
                                sizeof(err));
        if (!P.links || p2p_links_start(P.links, err, sizeof(err)) < 0) {
            log_error("p2p_listen", LS("err", err));
            return -1;
        }
    }
    worker_ready(w);
    return 0;
}

static void p2p_health(struct worker *w, char *out, size_t n)
{
    (void)w;
    out[0] = 0;
    if (P.links && !p2p_links_quorum(P.links))
        snprintf(out, n, "no p2p quorum: %u of %u operators reachable, %u needed",
                 p2p_links_up_count(P.links), P.lock.n, lock_quorum(P.lock.n));
}

static void p2p_stop(struct worker *w)
{
    if (P.links)
        p2p_links_free(P.links);
    P.links = NULL;
    p2p_identity_wipe(&P.id);
    worker_exit_loop(w);
}

static const char *const p2p_syscalls[] = {NULL};
static const struct seccomp_profile p2p_profile = {p2p_syscalls};

static const struct worker_ops ops = {
    .name = "p2p",
    .id = W_P2P,
    .seccomp = &p2p_profile,
    .preinit = p2p_preinit,
    .init = p2p_init,
    .stop = p2p_stop,
    .health = p2p_health,
    .dispatch = rows,
    .ndispatch = ARRAY_LEN(rows),
};

int main(int argc, char **argv)
{
    return worker_main(argc, argv, &ops, &P);
}
