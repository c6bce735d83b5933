/*
 * aequa-qbft: the QBFT worker — wiring only. Every decision about duties, instances, intents,
 * decisions, seals and the reload is made by the duties module (duties.h) around the engine
 * (qbft.h); this file maps its host interface onto the node:
 *
 *   API  --DUTY_SUBMIT/DUTY_GET-->  duties_submit/duties_get  --submitted/viewed-->  reply
 *   API  --DUTY_RECENT-->  duties_recent  -->  reply (the status page)
 *   P2P  --P2P_DELIVER/P2P_PEER-->  duties_deliver/duties_peer --send/report-->  P2P_SEND/REPORT
 *   duties --sdb_request--> mailbox_request(StateDB) --reply or timeout--> duties_on_reply
 *   block instances (proposer): the builder and aequa/sync/v1, builder_link.c
 *   threshold signatures (--enable-tss): decided instances and aequa/tss/v1, tss_link.c
 *   one ev_timer, re-armed from duties_next_deadline() before the loop blocks --> duties_tick
 *
 * Fatal: a malformed envelope body from another worker (a protocol violation, the worker exits
 * and is restarted), a lock or key that does not load (exit 78). A QBFT topic payload that does
 * not decode comes from a peer: it is reported for the P2P score and dropped.
 *
 * The node key is read before privileges are dropped and used only to sign consensus messages
 * and seals.
 */
#include "lib/lock.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "proto/builder.h"
#include "proto/duty.h"
#include "proto/p2p.h"
#include "proto/seal.h"
#include "proto/statedb.h"
#include "proto/workers.h"
#include "workers/common/worker.h"
#include "workers/qbft/builder_link.h"
#include "workers/qbft/duties.h"
#include "workers/qbft/tss_link.h"

#include <stdlib.h>
#include <string.h>

#define SDB_TIMEOUT_MS 2000

static struct {
    struct worker *w;
    struct lock lock;
    struct node_key key;
    uint8_t pubkeys[QBFT_MAX_NODES][PUBKEY_LEN];
    struct duties *d;
    ev_timer timer;
    ev_prepare arm;
} Q;

/* ---------------------------------------------------------------- the duties module's host */

static uint64_t h_mono_ms(void *ctx)
{
    (void)ctx;
    return now_ms();
}

static uint64_t h_wall_ms(void *ctx)
{
    (void)ctx;
    return wall_ms();
}

static void h_send(void *ctx, uint32_t peer, enum qbft_topic_kind kind, uint8_t type,
                   const uint8_t *bytes, size_t len)
{
    (void)ctx;
    (void)type;
    struct buf inner = BUF_INIT, body = BUF_INIT;
    qbft_topic_encode(&inner, kind, bytes, len);
    struct p2p_msg m = {
        .peer = peer, .topic = P2P_TOPIC_QBFT, .payload = inner.data, .len = (uint32_t)inner.len};
    p2p_msg_encode(&body, &m);
    int rc = mailbox_send(Q.w->mb, W_P2P, P2P_SEND, body.data, body.len);
    if (rc < 0)
        log_debug("p2p_send", LS("err", strerror(-rc)));
    buf_free(&inner);
    buf_free(&body);
}

static const enum p2p_report reports[] = {
    [DUTIES_REPORT_INVALID_SIG] = P2P_REPORT_INVALID_SIG,
    [DUTIES_REPORT_EQUIVOCATION] = P2P_REPORT_EQUIVOCATION,
    [DUTIES_REPORT_UNDECODABLE] = P2P_REPORT_UNDECODABLE,
};

static void report_peer(unsigned peer, enum p2p_report why)
{
    struct buf b = BUF_INIT;
    p2p_event_encode(&b, peer, why);
    mailbox_send(Q.w->mb, W_P2P, P2P_REPORT, b.data, b.len);
    buf_free(&b);
}

static void h_report(void *ctx, unsigned peer, enum duties_report why)
{
    (void)ctx;
    report_peer(peer, reports[why]);
}

static void on_sdb_reply(struct mailbox *mb, int status, const struct envelope *env, void *token)
{
    (void)mb;
    struct sdb_reply r;
    if (status != 0) {
        duties_on_reply(Q.d, token, NULL);
        return;
    }
    bool ok = sdb_reply_decode(&r, env->type, env->body, env->body_len) == 0;
    duties_on_reply(Q.d, token, ok ? &r : NULL);
    sdb_reply_free(&r);
}

static int h_sdb_request(void *ctx, const struct sdb_req *r, void *token)
{
    (void)ctx;
    struct buf b = BUF_INIT;
    sdb_req_encode(&b, r);
    int rc = mailbox_request(Q.w->mb, W_STATEDB, r->type, sdb_reply_type(r->type), b.data, b.len,
                             SDB_TIMEOUT_MS, on_sdb_reply, token);
    buf_free(&b);
    return rc < 0 ? -1 : 0;
}

static void reply(const struct duties_asker *who, uint16_t type, const struct buf *body)
{
    struct envelope req = {.source = who->source, .req_id = who->req_id};
    mailbox_reply(Q.w->mb, &req, type, body->data, body->len);
}

static void h_submitted(void *ctx, const struct duties_asker *who, enum duty_result res)
{
    (void)ctx;
    struct buf b = BUF_INIT;
    duty_result_encode(&b, res);
    reply(who, DUTY_SUBMIT_REP, &b);
    buf_free(&b);
    metric_inc(metric("consensus_events_total", "duty"));
    metric_observe(metric("consensus_proc_seconds", "duty"), (double)(now_ns() - who->t0) / 1e9);
}

/* An empty body tells the API that the view is unavailable (503). */
static void h_viewed(void *ctx, const struct duties_asker *who, const struct duty_view *v)
{
    (void)ctx;
    struct buf b = BUF_INIT;
    if (v)
        duty_view_encode(&b, v);
    reply(who, DUTY_GET_REP, &b);
    buf_free(&b);
}

static int h_sign(void *ctx, const uint8_t digest[SHA256_LEN], uint8_t sig[SIG_LEN])
{
    (void)ctx;
    ecdsa_sign(&Q.key, digest, sig);
    return 0;
}

static void h_ready(void *ctx)
{
    (void)ctx;
    worker_ready(Q.w);
}

static void h_log(void *ctx, enum log_level level, const char *event, const struct log_kv *kv)
{
    (void)ctx;
    log_kv_at(level, event, kv);
}

static const struct duties_host host = {
    .mono_ms = h_mono_ms,
    .wall_ms = h_wall_ms,
    .send = h_send,
    .report = h_report,
    .sdb_request = h_sdb_request,
    .submitted = h_submitted,
    .viewed = h_viewed,
    .sign = h_sign,
    .ready = h_ready,
    .log = h_log,
    .want_input = builder_link_want_input,
    .validate = builder_link_validate,
    .decided_value = builder_link_decided,
    .send_sync = builder_link_send_sync,
    .decided = tss_link_decided,
};

/* ---------------------------------------------------------------- timer */

static void on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)t;
    (void)revents;
    duties_tick(Q.d);
}

/* Before the loop blocks: the one timer goes off at the module's next deadline. */
static void on_prepare(struct ev_loop *loop, ev_prepare *p, int revents)
{
    (void)p;
    (void)revents;
    uint64_t next = duties_next_deadline(Q.d), now = now_ms();
    ev_timer_stop(loop, &Q.timer);
    if (next == UINT64_MAX)
        return;
    ev_timer_set(&Q.timer, next > now ? (double)(next - now) / 1000.0 : 0.0, 0);
    ev_timer_start(loop, &Q.timer);
}

/* ---------------------------------------------------------------- mailbox */

static struct duties_asker asker(const struct envelope *e)
{
    return (struct duties_asker){.source = e->source, .req_id = e->req_id, .t0 = now_ns()};
}

static void on_duty_submit(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    struct duty_submit s;
    if (duty_submit_decode(&s, e->body, e->body_len) < 0) {
        mailbox_violation(mb, e, "malformed DUTY_SUBMIT");
        return;
    }
    struct duties_asker who = asker(e);
    duties_submit(Q.d, &who, &s, e->trace_id);
}

static void on_duty_get(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    struct duty_key k;
    if (duty_key_decode(&k, e->body, e->body_len) < 0) {
        mailbox_violation(mb, e, "malformed DUTY_GET");
        return;
    }
    struct duties_asker who = asker(e);
    duties_get(Q.d, &who, k.type, k.height);
}

static void on_duty_recent(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    uint32_t max;
    struct duty_brief list[DUTY_RECENT_MAX];
    if (duty_recent_req_decode(&max, e->body, e->body_len) < 0) {
        mailbox_violation(mb, e, "malformed DUTY_RECENT");
        return;
    }
    size_t n = duties_recent(Q.d, list, max);
    struct buf b = BUF_INIT;
    duty_recent_encode(&b, list, n);
    mailbox_reply(mb, e, DUTY_RECENT_REP, b.data, b.len);
    buf_free(&b);
}

static void on_deliver(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    struct p2p_msg m;
    enum qbft_topic_kind kind;
    const uint8_t *bytes;
    size_t len;
    if (p2p_msg_decode(&m, e->body, e->body_len) < 0 || m.peer >= Q.lock.n) {
        mailbox_violation(mb, e, "malformed P2P_DELIVER");
        return;
    }
    if (!duties_loaded(Q.d))
        return; /* peers resend; instances are rebuilt first */
    if (m.topic == P2P_TOPIC_SYNC) {
        duties_sync_deliver(Q.d, m.peer, m.payload, m.len);
        return;
    }
    if (m.topic == P2P_TOPIC_TSS) {
        tss_link_deliver(m.peer, m.payload, m.len);
        return;
    }
    if (qbft_topic_decode(&kind, &bytes, &len, m.payload, m.len) < 0) {
        report_peer(m.peer, P2P_REPORT_UNDECODABLE);
        return;
    }
    uint64_t t0 = now_ns();
    if (duties_deliver(Q.d, m.peer, kind, bytes, len) < 0)
        return;
    metric_inc(metric("consensus_events_total", "consensus"));
    metric_observe(metric("consensus_proc_seconds", "consensus"), (double)(now_ns() - t0) / 1e9);
}

/* A peer (re)joined: the module gives it what this node said in every open instance. */
static void on_peer(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    uint32_t peer, up;
    if (p2p_event_decode(&peer, &up, e->body, e->body_len) < 0 || peer >= Q.lock.n) {
        mailbox_violation(mb, e, "malformed P2P_PEER");
        return;
    }
    duties_peer(Q.d, peer, up != 0);
}

static const struct dispatch_entry rows[] = {
    {DUTY_SUBMIT, WBIT(W_API) | WBIT(W_TOOL), 4, DUTY_PAYLOAD_MAX + 64, on_duty_submit},
    {DUTY_GET, WBIT(W_API) | WBIT(W_TOOL), 2, 64, on_duty_get},
    {DUTY_RECENT, WBIT(W_API) | WBIT(W_TOOL), 1, 16, on_duty_recent},
    {P2P_DELIVER, WBIT(W_P2P), 4, P2P_PAYLOAD_MAX + 64, on_deliver},
    {P2P_PEER, WBIT(W_P2P), 2, 32, on_peer},
    {BLD_SLOT, WBIT(W_BUILDER), 2, 16, builder_link_on_slot},
    {BLD_HEAD, WBIT(W_BUILDER), 4, 64, builder_link_on_head},
};

/* ---------------------------------------------------------------- lifecycle */

static int qbft_preinit(struct worker *w)
{
    char err[1024];
    if (lock_precheck(&Q.lock, w->cfg.lock, w->cfg.key, w->cfg.index, err, sizeof(err)) < 0) {
        log_error("config_error", LS("err", err));
        exit(EXIT_CONFIG);
    }
    if (node_key_load(&Q.key, w->cfg.key, err, sizeof(err)) < 0) {
        log_error("config_error", LS("err", err));
        exit(EXIT_CONFIG);
    }
    tss_link_preinit(w, &Q.lock);
    return 0;
}

static int qbft_init(struct worker *w)
{
    char err[256];
    struct duties_config c = {
        .max_open = w->cfg.api_max_open_duties,
        .max_height_jump = w->cfg.qbft_max_height_jump,
        .instance_expire_ms = w->cfg.qbft_instance_expire_s * 1000,
        .generation = w->generation,
        /* proposer instances carry the builder's blocks (SPEC §7.1, §9) */
        .builder_duties = 1u << DUTY_PROPOSER,
        .block_duties = 1u << DUTY_PROPOSER,
        .slot_ms = w->cfg.builder_slot_ms,
    };
    Q.w = w;
    qbft_config_defaults(&c.qbft);
    c.qbft.n = Q.lock.n;
    c.qbft.self = (unsigned)w->cfg.index;
    for (unsigned i = 0; i < Q.lock.n; i++)
        memcpy(Q.pubkeys[i], Q.lock.ops[i].pubkey, PUBKEY_LEN);
    c.qbft.pubkeys = (const uint8_t(*)[PUBKEY_LEN])Q.pubkeys;
    memcpy(c.qbft.lock_hash, Q.lock.hash, SHA256_LEN);
    c.qbft.round_timeout_ms = w->cfg.qbft_round_timeout_ms;
    c.qbft.round_timeout_max_ms = w->cfg.qbft_round_timeout_max_ms;
    c.qbft.timer =
        strcmp(w->cfg.qbft_timer, "linear") == 0 ? QBFT_TIMER_LINEAR : QBFT_TIMER_EXPONENTIAL;
    c.qbft.round_window = w->cfg.qbft_round_window;
    c.qbft.height_window = w->cfg.qbft_height_window;
    c.qbft.retention = w->cfg.qbft_retention;
    c.qbft.decided_keep = w->cfg.qbft_decided_keep;
    c.qbft.decided_keep_ms = w->cfg.qbft_decided_keep_s * 1000;
    c.qbft.decided_resends = (unsigned)w->cfg.qbft_decided_resends;
    Q.d = duties_new(&c, &host, err, sizeof(err));
    if (!Q.d) {
        log_error("config_error", LS("err", err));
        exit(EXIT_CONFIG);
    }
    ev_timer_init(&Q.timer, on_timer, 0, 0);
    ev_prepare_init(&Q.arm, on_prepare);
    ev_prepare_start(w->loop, &Q.arm);
    builder_link_init(w, Q.d);
    tss_link_init(w, &Q.lock, Q.d);
    duties_start(Q.d); /* READY once every duty and intent is reloaded */
    return 0;
}

static void qbft_health(struct worker *w, char *out, size_t n)
{
    (void)w;
    out[0] = 0;
    if (Q.d)
        duties_health(Q.d, out, n);
}

static void qbft_stop(struct worker *w)
{
    node_key_wipe(&Q.key);
    tss_link_stop();
    worker_exit_loop(w);
}

static const char *const qbft_syscalls[] = {NULL};
static const struct seccomp_profile qbft_profile = {qbft_syscalls};

static const struct worker_ops ops = {
    .name = "qbft",
    .id = W_QBFT,
    .seccomp = &qbft_profile,
    .preinit = qbft_preinit,
    .init = qbft_init,
    .stop = qbft_stop,
    .health = qbft_health,
    .dispatch = rows,
    .ndispatch = ARRAY_LEN(rows),
};

int main(int argc, char **argv)
{
    return worker_main(argc, argv, &ops, &Q);
}
