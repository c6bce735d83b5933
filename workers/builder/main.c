/*
 * aequa-builder: the mempool and block builder (SPEC §9) — not built yet. The worker runs the
 * common lifecycle and takes what the P2P worker hands it for the transaction topic, counting and
 * dropping it (a peer's gossip must never be able to crash it), until the mempool exists.
 */
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "proto/p2p.h"
#include "proto/workers.h"
#include "workers/common/worker.h"

static void on_tx_gossip(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)mb;
    (void)ctx;
    struct p2p_msg m;
    if (p2p_msg_decode(&m, e->body, e->body_len) < 0) {
        mailbox_violation(mb, e, "malformed P2P_DELIVER");
        return;
    }
    metric_inc(metric("builder_reject_total", "tx", "not_implemented"));
    log_debug("consensus_builder", LS("result", "dropped"), LU("peer", m.peer),
              LS("err", "transaction gossip is not handled yet"));
}

static void on_peer_event(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)mb;
    (void)e;
    (void)ctx;
}

static const struct dispatch_entry rows[] = {
    {P2P_DELIVER, WBIT(W_P2P), 4, P2P_PAYLOAD_MAX + 64, on_tx_gossip},
    {P2P_PEER, WBIT(W_P2P), 2, 32, on_peer_event},
};

static int builder_init(struct worker *w)
{
    worker_ready(w);
    return 0;
}

static const struct worker_ops ops = {
    .name = "builder",
    .id = W_BUILDER,
    .does_not_yet = "mempool, plaintext_v1 plugin and block building are not built yet",
    .init = builder_init,
    .dispatch = rows,
    .ndispatch = ARRAY_LEN(rows),
};

int main(int argc, char **argv)
{
    return worker_main(argc, argv, &ops, NULL);
}
