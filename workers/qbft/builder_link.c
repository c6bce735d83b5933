/*
 * builder_link: the QBFT worker's side of block instances (proposer duties, SPEC §9) — the
 * duties module's sequencer hooks mapped onto the builder worker and the aequa/sync/v1 topic:
 *
 *   want_input  --BUILD-->     builder --> duties_input (no block: the instance is joined)
 *   validate    --VALIDATE-->  builder --> duties_value_judged (no answer: asked again later)
 *   decided     --DECIDED-->   builder (one-way; handed again while the builder lags)
 *   builder --SLOT/HEAD-->     duties_slot / duties_head
 *   send_sync   --P2P_SEND-->  a peer on aequa/sync/v1
 *
 * A malformed SLOT or HEAD from the builder is a protocol violation.
 */
#include "workers/qbft/builder_link.h"
#include "lib/log.h"
#include "lib/util.h"
#include "proto/builder.h"
#include "proto/p2p.h"
#include "proto/workers.h"

#include <stdlib.h>
#include <string.h>

#define BUILDER_TIMEOUT_MS 2000

static struct {
    struct worker *w;
    struct duties *d;
} L;

void builder_link_init(struct worker *w, struct duties *d)
{
    L.w = w;
    L.d = d;
}

struct bld_ask {
    struct qbft_id id;
    uint8_t hash[QBFT_HASH_LEN];
};

static void on_built(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    struct bld_ask *a = arg;
    struct bld_block r;
    if (status == 0 && bld_build_rep_decode(&r, env->body, env->body_len) == 0 &&
        r.result == BLD_BUILD_OK)
        duties_input(L.d, &a->id, r.block, r.block_len);
    else
        duties_input(L.d, &a->id, NULL, 0); /* nothing of its own to propose: it joins */
    free(a);
}

void builder_link_want_input(void *ctx, const struct qbft_id *id, bool explicit_duty)
{
    (void)ctx;
    struct bld_ask *a = xcalloc(1, sizeof(*a));
    a->id = *id;
    struct buf b = BUF_INIT;
    bld_build_encode(&b, id->height, explicit_duty);
    if (mailbox_request(L.w->mb, W_BUILDER, BLD_BUILD, BLD_BUILD_REP, b.data, b.len,
                        BUILDER_TIMEOUT_MS, on_built, a) < 0) {
        duties_input(L.d, id, NULL, 0);
        free(a);
    }
    buf_free(&b);
}

static void on_judged(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    struct bld_ask *a = arg;
    struct bld_verdict_rep r;
    enum duties_verdict v = DUTIES_BEHIND; /* no answer: asked again once the head moves */
    if (status == 0 && bld_verdict_decode(&r, env->body, env->body_len) == 0)
        v = r.verdict == BLD_VALID     ? DUTIES_VALID
            : r.verdict == BLD_INVALID ? DUTIES_INVALID
                                       : DUTIES_BEHIND;
    duties_value_judged(L.d, &a->id, a->hash, v);
    free(a);
}

enum qbft_validity builder_link_validate(void *ctx, const struct qbft_id *id,
                                         const uint8_t hash[QBFT_HASH_LEN], const uint8_t *value,
                                         size_t len)
{
    (void)ctx;
    struct bld_ask *a = xcalloc(1, sizeof(*a));
    a->id = *id;
    memcpy(a->hash, hash, QBFT_HASH_LEN);
    struct buf b = BUF_INIT;
    struct bld_block v = {.height = id->height, .block = value, .block_len = (uint32_t)len};
    bld_block_encode(&b, &v);
    int rc = mailbox_request(L.w->mb, W_BUILDER, BLD_VALIDATE, BLD_VALIDATE_REP, b.data, b.len,
                             BUILDER_TIMEOUT_MS, on_judged, a);
    buf_free(&b);
    if (rc < 0) {
        free(a);
        return QBFT_VALUE_INVALID; /* the builder is not there: this round is not ours */
    }
    return QBFT_VALUE_PENDING;
}

void builder_link_decided(void *ctx, const struct qbft_id *id, const uint8_t *value, size_t len)
{
    (void)ctx;
    struct buf b = BUF_INIT;
    struct bld_block v = {.height = id->height, .block = value, .block_len = (uint32_t)len};
    bld_block_encode(&b, &v);
    if (mailbox_send(L.w->mb, W_BUILDER, BLD_DECIDED, b.data, b.len) < 0)
        log_debug("consensus_block", LS("event", "decided_not_sent"), LU("height", id->height));
    buf_free(&b);
}

void builder_link_send_sync(void *ctx, uint32_t peer, const uint8_t *bytes, size_t len)
{
    (void)ctx;
    struct buf body = BUF_INIT;
    struct p2p_msg m = {
        .peer = peer, .topic = P2P_TOPIC_SYNC, .payload = bytes, .len = (uint32_t)len};
    p2p_msg_encode(&body, &m);
    if (mailbox_send(L.w->mb, W_P2P, P2P_SEND, body.data, body.len) < 0)
        log_debug("p2p_send", LS("topic", "aequa/sync/v1"));
    buf_free(&body);
}

void builder_link_on_slot(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    uint64_t height;
    if (bld_height_decode(&height, e->body, e->body_len) < 0) {
        mailbox_violation(mb, e, "malformed SLOT");
        return;
    }
    duties_slot(L.d, height);
}

void builder_link_on_head(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    struct bld_head h;
    if (bld_head_decode(&h, e->body, e->body_len) < 0) {
        mailbox_violation(mb, e, "malformed HEAD");
        return;
    }
    duties_head(L.d, h.height, h.hash, h.behind);
}
