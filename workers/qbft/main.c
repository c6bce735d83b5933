/*
 * aequa-qbft: runs the QBFT engine (qbft.h) for every accepted duty, wired to the node.
 *
 *   API  --DUTY_SUBMIT-->  QBFT  --PUT_DUTY-->  StateDB     (202 only once the duty is durable)
 *   engine emits  -->  intent cached, APPEND_INTENT --> StateDB  -->  durable  -->  P2P_SEND
 *   P2P_DELIVER  -->  engine (verifier)      decided  -->  PUT_DECIDED (+ own seal)  -->  seal out
 *
 * Safety (SPEC §7.5): every message this node signs is appended to the WAL and synced before it
 * leaves; the engine consults the intent cache before signing, so an (instance, round, type) is
 * never signed twice with different bytes; on start every undecided duty and every intent is
 * loaded and each instance rebuilt before the worker is READY. While StateDB does not answer the
 * node withholds new votes (timers keep running). After StateDB had to fall back to a checkpoint
 * the node abstains from every instance that may have existed before the loss.
 *
 * The node key is read before privileges are dropped and used only to sign consensus messages
 * and seals.
 */
#include "lib/lock.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "proto/duty.h"
#include "proto/p2p.h"
#include "proto/qbft.h"
#include "proto/seal.h"
#include "proto/statedb.h"
#include "proto/workers.h"
#include "workers/common/worker.h"
#include "workers/qbft/intents.h"
#include "workers/qbft/qbft.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SDB_TIMEOUT_MS  2000
#define SDB_RETRY_S     0.25
#define LOAD_PAGE_BYTES (1u << 20)
#define SWEEP_PERIOD_S  30.0
#define DECIDED_KEEP    4096 /* decided instances kept in memory for GET and late seals */

/* An instance as the host sees it (the engine keeps the protocol state). */
struct inst {
    struct qbft_id id;
    uint64_t start_mono_ms;
    bool decided;
    bool persisted; /* PUT_DECIDED acknowledged */
    uint8_t value_hash[SHA256_LEN];
    struct buf value; /* once decided */
    struct buf cert;
    uint64_t decided_round;
    bool open;          /* counted in Q.nopen */
    uint64_t seal_mask; /* operators whose seal we hold (verified) */
    uint8_t seals[QBFT_MAX_NODES][SIG_LEN];
    struct early_seal *early;   /* verified seals that arrived before this node decided */
    struct inst *next;          /* hash chain */
    struct inst *older, *newer; /* decided list, oldest first */
};

#define INST_BUCKETS    4096
#define EARLY_SEALS_MAX 65536 /* seals held for instances not decided here yet, in all */

struct early_seal {
    struct seal s;
    struct early_seal *next;
};

static struct {
    struct worker *w;
    struct lock lock;
    struct node_key key;
    uint8_t pubkeys[QBFT_MAX_NODES][PUBKEY_LEN];
    struct qbft_engine *eng;
    struct icache *intents;
    struct inst *inst[INST_BUCKETS];
    struct inst *decided_head, *decided_tail;
    size_t ndecided, nopen, nearly;
    ev_timer timer, retry, sweep;
    /* start-up */
    bool loaded;   /* every duty and intent reloaded: READY */
    bool sdb_up;   /* StateDB answered the last request */
    bool fallback; /* StateDB recovered from a checkpoint (SPEC §7.5) */
    uint64_t recovered_ms;
    uint64_t abstain_below[DUTY_TYPES]; /* abstain for heights < this after a fallback */
    uint64_t max_height[DUTY_TYPES];    /* highest instance started or reloaded */
    bool probing;                       /* a HELLO probe is in flight */
    struct ientry **reloaded;           /* intents reloaded at start, in key order */
    size_t nreloaded, reloaded_cap;
} Q;

static void arm_timer(void);
static void sdb_hello(void);

/* ---------------------------------------------------------------- small helpers */

static uint64_t mono_ms(void)
{
    return now_ms();
}

static size_t inst_bucket(const struct qbft_id *id)
{
    uint64_t h = id->height * 0x9e3779b97f4a7c15ull ^ id->duty;
    return (size_t)(h ^ h >> 31) & (INST_BUCKETS - 1);
}

static struct inst *inst_find(const struct qbft_id *id)
{
    for (struct inst *i = Q.inst[inst_bucket(id)]; i; i = i->next)
        if (i->id.duty == id->duty && i->id.height == id->height)
            return i;
    return NULL;
}

static struct inst *inst_get(const struct qbft_id *id)
{
    struct inst *i = inst_find(id);
    if (i)
        return i;
    i = xcalloc(1, sizeof(*i));
    i->id = *id;
    size_t b = inst_bucket(id);
    i->next = Q.inst[b];
    Q.inst[b] = i;
    return i;
}

static void inst_remove(struct inst *x)
{
    struct inst **pp = &Q.inst[inst_bucket(&x->id)];
    while (*pp && *pp != x)
        pp = &(*pp)->next;
    if (*pp)
        *pp = x->next;
    if (x->decided) {
        if (x->older)
            x->older->newer = x->newer;
        else
            Q.decided_head = x->newer;
        if (x->newer)
            x->newer->older = x->older;
        else
            Q.decided_tail = x->older;
        Q.ndecided--;
    }
    while (x->early) {
        struct early_seal *e = x->early;
        x->early = e->next;
        free(e);
        Q.nearly--;
    }
    buf_free(&x->value);
    buf_free(&x->cert);
    free(x);
}

static const char *msg_label(uint8_t qbft_type)
{
    return qbft_type_name(qbft_type);
}

static void send_p2p(uint32_t peer, enum qbft_topic_kind kind, const void *bytes, size_t len)
{
    struct buf inner = BUF_INIT, body = BUF_INIT;
    qbft_topic_encode(&inner, kind, bytes, len);
    struct p2p_msg m = {
        .peer = peer, .topic = 1, .payload = inner.data, .len = (uint32_t)inner.len};
    p2p_msg_encode(&body, &m);
    int rc = mailbox_send(Q.w->mb, W_P2P, P2P_SEND, body.data, body.len);
    if (rc < 0)
        log_debug("p2p_send", LS("err", strerror(-rc)));
    buf_free(&inner);
    buf_free(&body);
}

static void report_peer(unsigned peer, enum p2p_report why)
{
    struct buf b = BUF_INIT;
    p2p_event_encode(&b, peer, why);
    mailbox_send(Q.w->mb, W_P2P, P2P_REPORT, b.data, b.len);
    buf_free(&b);
}

static int sdb_request(uint16_t type, const struct sdb_req *r, mailbox_reply_cb cb, void *arg)
{
    struct buf b = BUF_INIT;
    sdb_req_encode(&b, r);
    int rc = mailbox_request(Q.w->mb, W_STATEDB, type, sdb_reply_type(type), b.data, b.len,
                             SDB_TIMEOUT_MS, cb, arg);
    buf_free(&b);
    return rc;
}

static void sdb_status(bool up)
{
    if (Q.sdb_up != up)
        log_warn("statedb_availability", LB("up", up),
                 LS("effect", up ? "voting resumes" : "votes withheld until StateDB answers"));
    Q.sdb_up = up;
}

/* ---------------------------------------------------------------- intents and sends */

static void append_intent(struct ientry *e);

static void on_append(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    struct ikey *k = arg;
    struct ientry *e = icache_get(Q.intents, k);
    free(k);
    if (!e)
        return;
    e->in_flight = false;
    struct sdb_reply r;
    if (status != 0 || sdb_reply_decode(&r, SDB_APPEND_INTENT_REP, env->body, env->body_len) < 0) {
        sdb_status(false);
        return; /* retried by the retry timer */
    }
    sdb_status(true);
    if ((r.status == SDB_OK || r.status == SDB_DUPLICATE) && r.durable) {
        e->durable = true;
        struct isend *s = ientry_take_sends(e);
        for (struct isend *x = s; x; x = x->next) {
            struct buf body = BUF_INIT;
            struct p2p_msg m = {.peer = x->peer,
                                .topic = 1,
                                .payload = x->payload.data,
                                .len = (uint32_t)x->payload.len};
            p2p_msg_encode(&body, &m);
            mailbox_send(Q.w->mb, W_P2P, P2P_SEND, body.data, body.len);
            buf_free(&body);
        }
        isend_free_list(s);
    } else if (r.status == SDB_REFUSED) {
        /* StateDB holds other bytes under this key: they were signed first and are the only
         * ones that may ever leave. What we held back is dropped. */
        log_error("qbft_wal", LS("event", "refused"), LU("height", e->k.height),
                  LU("round", e->k.round), LS("type", msg_label(e->k.type)),
                  LS("err", "StateDB holds a different intent; the new message is never sent"));
        isend_free_list(ientry_take_sends(e));
        buf_reset(&e->intent);
        if (r.u.stored.present)
            buf_append(&e->intent, r.u.stored.msg.p, r.u.stored.msg.len);
        e->durable = true;
        metric_inc(metric("qbft_wal_guard_drops_total"));
    }
    sdb_reply_free(&r);
}

static void append_intent(struct ientry *e)
{
    struct sdb_req r = {.type = SDB_APPEND_INTENT};
    r.u.append.k = (struct sdb_intent_key){.dtype = e->k.duty,
                                           .height = e->k.height,
                                           .round = (uint32_t)e->k.round,
                                           .mtype = e->k.type};
    r.u.append.msg.p = e->intent.data;
    r.u.append.msg.len = (uint32_t)e->intent.len;
    struct ikey *k = xmalloc(sizeof(*k));
    *k = e->k;
    if (sdb_request(SDB_APPEND_INTENT, &r, on_append, k) == 0)
        e->in_flight = true;
    else
        free(k);
}

static bool retry_one(struct ientry *e, void *arg)
{
    (void)arg;
    if (!e->durable && !e->in_flight)
        append_intent(e);
    return true;
}

static void on_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)t;
    (void)revents;
    icache_foreach(Q.intents, retry_one, NULL);
    if (!Q.sdb_up && Q.loaded)
        sdb_hello(); /* a probe: an answer resumes voting */
    if (Q.eng && Q.loaded) {
        qbft_tick(Q.eng, mono_ms()); /* withheld votes are retried by the engine */
        arm_timer();
    }
}

/* Send (or hold until its intent is durable) one engine emission. */
static void emit(uint32_t peer, uint8_t type, const uint8_t *msg, size_t len)
{
    struct qbft_msg *m = xmalloc(sizeof(*m));
    struct ientry *e = NULL;
    if (qbft_msg_decode(m, msg, len, QBFT_DECODE_WIRE) == 0) {
        struct ikey k = {m->m.b.duty, m->m.b.height, m->m.b.round, m->m.b.type};
        e = icache_get(Q.intents, &k);
    }
    free(m);
    metric_inc(metric("qbft_msg_total", msg_label(type)));
    if (e && !e->durable) {
        struct buf inner = BUF_INIT;
        qbft_topic_encode(&inner, QBFT_KIND_MSG, msg, len);
        ientry_hold(e, peer, inner.data, inner.len);
        buf_free(&inner);
        metric_inc(metric("consensus_broadcast_total", msg_label(type), "held"));
        return;
    }
    send_p2p(peer, QBFT_KIND_MSG, msg, len);
    metric_inc(metric("consensus_broadcast_total", msg_label(type), "ok"));
}

/* ---------------------------------------------------------------- engine host */

static void h_broadcast(void *ctx, uint8_t type, const uint8_t *msg, size_t len)
{
    (void)ctx;
    emit(P2P_BROADCAST, type, msg, len);
}

static void h_unicast(void *ctx, unsigned peer, uint8_t type, const uint8_t *msg, size_t len)
{
    (void)ctx;
    emit((uint32_t)peer, type, msg, len);
}

static int h_sign(void *ctx, const uint8_t digest[SHA256_LEN], uint8_t sig[SIG_LEN])
{
    (void)ctx;
    ecdsa_sign(&Q.key, digest, sig);
    return 0;
}

static int h_intent_get(void *ctx, const struct qbft_id *id, uint64_t round, uint8_t type,
                        const uint8_t **bytes, size_t *len)
{
    (void)ctx;
    struct ikey k = {id->duty, id->height, round, type};
    struct ientry *e = icache_get(Q.intents, &k);
    if (e) {
        *bytes = e->intent.data;
        *len = e->intent.len;
        return 1;
    }
    return Q.sdb_up ? 0 : -1; /* cannot record a new vote now: withhold it */
}

static int h_intent_put(void *ctx, const struct qbft_id *id, uint64_t round, uint8_t type,
                        const uint8_t *bytes, size_t len)
{
    (void)ctx;
    struct ikey k = {id->duty, id->height, round, type};
    if (!Q.sdb_up || icache_get(Q.intents, &k))
        return -1;
    append_intent(icache_add(Q.intents, &k, bytes, len, false));
    return 0;
}

static void persist_decided(struct inst *in);

static void on_put_decided(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    struct qbft_id *id = arg;
    struct inst *in = inst_find(id);
    free(id);
    struct sdb_reply r;
    if (status != 0 || sdb_reply_decode(&r, SDB_PUT_DECIDED_REP, env->body, env->body_len) < 0) {
        sdb_status(false);
        if (in && !in->persisted)
            persist_decided(in); /* try again */
        return;
    }
    sdb_status(true);
    if (in && (r.status == SDB_OK || r.status == SDB_DUPLICATE)) {
        if (!in->persisted) {
            in->persisted = true;
            /* Persisted, so it may be reported: our seal goes out now (SPEC §7.6). */
            struct seal s = {.duty = in->id.duty, .height = in->id.height, .index = Q.w->cfg.index};
            memcpy(s.value_hash, in->value_hash, SHA256_LEN);
            memcpy(s.sig, in->seals[Q.w->cfg.index], SIG_LEN);
            struct buf b = BUF_INIT;
            seal_encode(&b, &s);
            send_p2p(P2P_BROADCAST, QBFT_KIND_SEAL, b.data, b.len);
            buf_free(&b);
        }
    } else if (r.status == SDB_CONFLICT) {
        log_error("consensus_block", LU("height", in ? in->id.height : 0),
                  LS("err", "StateDB holds a different decided value for this instance"));
    }
    sdb_reply_free(&r);
}

/* Persist value + certificate + the seals we hold (StateDB merges seals). */
static void persist_decided(struct inst *in)
{
    struct sdb_req r = {.type = SDB_PUT_DECIDED};
    struct sdb_bytes cert = {in->cert.data, (uint32_t)in->cert.len};
    struct sdb_seal seals[QBFT_MAX_NODES];
    uint32_t ns = 0;
    for (unsigned i = 0; i < Q.lock.n; i++) {
        if (in->seal_mask & (1ull << i)) {
            seals[ns].index = i;
            memcpy(seals[ns].sig, in->seals[i], SIG_LEN);
            ns++;
        }
    }
    r.u.put_decided = (struct sdb_decided){.dtype = in->id.duty,
                                           .height = in->id.height,
                                           .round = (uint32_t)in->decided_round,
                                           .value = {in->value.data, (uint32_t)in->value.len},
                                           .ncert = in->cert.len ? 1 : 0,
                                           .cert = &cert,
                                           .nseals = ns,
                                           .seals = seals,
                                           .decided_ms = wall_ms()};
    struct qbft_id *id = xmalloc(sizeof(*id));
    *id = in->id;
    if (sdb_request(SDB_PUT_DECIDED, &r, on_put_decided, id) < 0)
        free(id);
}

static void h_decided(void *ctx, const struct qbft_id *id, const uint8_t *value, size_t len,
                      const uint8_t value_hash[QBFT_HASH_LEN], uint64_t round, const uint8_t *cert,
                      size_t cert_len)
{
    (void)ctx;
    struct inst *in = inst_get(id);
    if (in->decided)
        return;
    in->decided = true;
    memcpy(in->value_hash, value_hash, SHA256_LEN);
    buf_append(&in->value, value, len);
    buf_append(&in->cert, cert, cert_len);
    in->decided_round = round;
    /* Our seal: the node key over the decided value hash. */
    uint8_t d[SHA256_LEN];
    seal_digest(d, Q.lock.hash, id->duty, id->height, value_hash);
    ecdsa_sign(&Q.key, d, in->seals[Q.w->cfg.index]);
    in->seal_mask |= 1ull << Q.w->cfg.index;
    metric_inc(metric("block_sign_total", "ok"));
    while (in->early) {
        struct early_seal *e = in->early;
        in->early = e->next;
        Q.nearly--;
        if (memcmp(e->s.value_hash, value_hash, SHA256_LEN) == 0) {
            memcpy(in->seals[e->s.index], e->s.sig, SIG_LEN);
            in->seal_mask |= 1ull << e->s.index;
        }
        free(e);
    }
    /* the decided list, for GET and pruning */
    in->older = Q.decided_tail;
    if (Q.decided_tail)
        Q.decided_tail->newer = in;
    else
        Q.decided_head = in;
    Q.decided_tail = in;
    Q.ndecided++;
    if (in->open) {
        in->open = false;
        Q.nopen--;
    }

    const char *duty = duty_type_name(id->duty);
    metric_inc(metric("qbft_decided_total", duty));
    metric_observe(metric("qbft_decided_round"), (double)round);
    if (in->start_mono_ms)
        metric_observe(metric("qbft_decide_seconds", duty),
                       (double)(mono_ms() - in->start_mono_ms) / 1000.0);
    char hex[2 * SHA256_LEN + 1];
    hex_encode(hex, value_hash, SHA256_LEN);
    log_info("consensus_state", LS("duty", duty), LU("height", id->height), LS("state", "decided"),
             LU("round", round), LS("value_hash", hex));
    persist_decided(in);
}

static void h_verified(void *ctx, const char *type, const char *result)
{
    (void)ctx;
    metric_inc(metric("qbft_msg_verified_total", type, result));
}

static void h_equivocation(void *ctx, const struct qbft_id *id, unsigned sender,
                           const uint8_t a[SHA256_LEN], const uint8_t b[SHA256_LEN])
{
    (void)ctx;
    char ha[2 * SHA256_LEN + 1], hb[2 * SHA256_LEN + 1];
    hex_encode(ha, a, SHA256_LEN);
    hex_encode(hb, b, SHA256_LEN);
    metric_inc(metric("qbft_equivocations_total"));
    log_warn("qbft_verify", LS("result", "equivocation"), LU("sender", sender),
             LS("duty", duty_type_name(id->duty)), LU("height", id->height), LS("hash_a", ha),
             LS("hash_b", hb));
    report_peer(sender, P2P_REPORT_EQUIVOCATION);
}

static void h_abstained(void *ctx, const struct qbft_id *id, uint8_t type)
{
    (void)ctx;
    metric_inc(metric("qbft_abstain_total", "recovery"));
    log_debug("qbft_state", LS("event", "abstain"), LU("height", id->height),
              LS("type", msg_label(type)));
}

static void h_event(void *ctx, const struct qbft_id *id, enum qbft_event ev, const char *label,
                    uint64_t round)
{
    (void)ctx;
    switch (ev) {
    case QBFT_EV_TIMEOUT:
        metric_inc(metric("qbft_timeouts_total", label));
        break;
    case QBFT_EV_ROUND_CHANGE:
        metric_inc(metric("qbft_view_changes_total"));
        log_info("qbft_state", LS("event", "round_change"), LS("cause", label),
                 LS("duty", duty_type_name(id->duty)), LU("height", id->height),
                 LU("round", round));
        break;
    case QBFT_EV_QC:
        metric_inc(metric("qbft_qc_built_total", label));
        break;
    case QBFT_EV_STATE:
        metric_inc(metric("qbft_state_transitions_total", label));
        break;
    case QBFT_EV_WAL_GUARD:
        metric_inc(metric("qbft_wal_guard_drops_total"));
        break;
    case QBFT_EV_INTENT: /* counted by StateDB (qbft_wal_appends_total) once durable */
        break;
    case QBFT_EV_BUFFER_DROP:
        log_debug("qbft_state", LS("event", "buffer_drop"), LU("height", id->height));
        break;
    }
}

static const struct qbft_host host = {
    .broadcast = h_broadcast,
    .unicast = h_unicast,
    .sign = h_sign,
    .intent_get = h_intent_get,
    .intent_put = h_intent_put,
    .decided = h_decided,
    .verified = h_verified,
    .equivocation = h_equivocation,
    .abstained = h_abstained,
    .event = h_event,
};

/* ---------------------------------------------------------------- timers */

static void on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)t;
    (void)revents;
    qbft_tick(Q.eng, mono_ms());
    arm_timer();
}

static void arm_timer(void)
{
    uint64_t next = qbft_next_deadline(Q.eng);
    ev_timer_stop(Q.w->loop, &Q.timer);
    if (next == UINT64_MAX)
        return;
    uint64_t now = mono_ms();
    ev_timer_set(&Q.timer, next > now ? (double)(next - now) / 1000.0 : 0.0, 0);
    ev_timer_start(Q.w->loop, &Q.timer);
}

/* ---------------------------------------------------------------- starting instances */

static void start_instance(const struct qbft_id *id, const uint8_t *payload, size_t len,
                           uint64_t start_mono)
{
    struct inst *in = inst_get(id);
    if (!in->start_mono_ms)
        in->start_mono_ms = start_mono;
    if (Q.fallback && id->height < Q.abstain_below[id->duty])
        qbft_abstain(Q.eng, id);
    if (id->height > Q.max_height[id->duty])
        Q.max_height[id->duty] = id->height;
    if (qbft_start(Q.eng, id, payload, len, start_mono, mono_ms()) == 0) {
        if (!in->decided) {
            in->open = true;
            Q.nopen++;
        }
    } else if (errno != EEXIST)
        log_warn("qbft_state", LS("event", "not_started"), LU("height", id->height),
                 LS("err", strerror(errno)));
    arm_timer();
}

/* ---------------------------------------------------------------- DUTY_SUBMIT */

struct pending_reply {
    uint8_t source;
    uint64_t req_id;
    char trace[TRACE_ID_MAX + 1];
    struct qbft_id id;
    uint64_t t0;
    struct buf payload;
};

static struct pending_reply *pending_new(const struct envelope *e)
{
    struct pending_reply *p = xcalloc(1, sizeof(*p));
    p->source = e->source;
    p->req_id = e->req_id;
    snprintf(p->trace, sizeof(p->trace), "%s", e->trace_id);
    p->t0 = now_ns();
    return p;
}

static void pending_answer(struct pending_reply *p, uint16_t type, const struct buf *body)
{
    struct envelope req = {.source = p->source, .req_id = p->req_id};
    mailbox_reply(Q.w->mb, &req, type, body->data, body->len);
}

static void pending_free(struct pending_reply *p)
{
    buf_free(&p->payload);
    free(p);
}

static void answer_submit(struct pending_reply *p, enum duty_result res)
{
    struct buf b = BUF_INIT;
    duty_result_encode(&b, res);
    pending_answer(p, DUTY_SUBMIT_REP, &b);
    buf_free(&b);
    metric_inc(metric("consensus_events_total", "duty"));
    metric_observe(metric("consensus_proc_seconds", "duty"), (double)(now_ns() - p->t0) / 1e9);
}

static void on_put_duty(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    struct pending_reply *p = arg;
    struct sdb_reply r;
    if (status != 0 || sdb_reply_decode(&r, SDB_PUT_DUTY_REP, env->body, env->body_len) < 0) {
        sdb_status(false);
        answer_submit(p, DUTY_UNAVAILABLE);
        pending_free(p);
        return;
    }
    sdb_status(true);
    if ((r.status == SDB_OK || r.status == SDB_DUPLICATE) && r.durable) {
        start_instance(&p->id, p->payload.data, p->payload.len, mono_ms());
        answer_submit(p, DUTY_ACCEPTED);
        log_info("consensus_recv", LS("kind", "duty"), LS("duty", duty_type_name(p->id.duty)),
                 LU("height", p->id.height), LB("repost", r.status == SDB_DUPLICATE));
    } else {
        answer_submit(p, r.status == SDB_CONFLICT ? DUTY_CONFLICT : DUTY_UNAVAILABLE);
    }
    sdb_reply_free(&r);
    pending_free(p);
}

static void on_duty_submit(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    struct duty_submit d;
    if (duty_submit_decode(&d, e->body, e->body_len) < 0) {
        mailbox_violation(mb, e, "malformed DUTY_SUBMIT");
        return;
    }
    struct pending_reply *p = pending_new(e);
    p->id = (struct qbft_id){d.type, d.height};
    struct inst *in = inst_find(&p->id);
    const char *why = NULL;
    if (!Q.loaded || !Q.sdb_up)
        why = "statedb unavailable or reload in progress";
    else if (!in && Q.nopen >= Q.w->cfg.api_max_open_duties)
        why = "too many open instances";
    else if (!in && d.height + Q.w->cfg.qbft_retention < Q.max_height[d.type])
        why = "height below the retention window of this duty type";
    if (why) {
        log_info("consensus_recv", LS("kind", "duty"), LS("duty", duty_type_name(d.type)),
                 LU("height", d.height), LS("result", "unavailable"), LS("err", why));
        answer_submit(p, DUTY_UNAVAILABLE);
        pending_free(p);
        return;
    }
    buf_append(&p->payload, d.payload, d.payload_len);
    struct sdb_req r = {.type = SDB_PUT_DUTY};
    r.u.put_duty = (struct sdb_duty){.dtype = d.type,
                                     .height = d.height,
                                     .payload = {d.payload, d.payload_len},
                                     .accepted_ms = wall_ms()};
    snprintf(r.u.put_duty.trace_id, sizeof(r.u.put_duty.trace_id), "%s", e->trace_id);
    if (sdb_request(SDB_PUT_DUTY, &r, on_put_duty, p) < 0) {
        sdb_status(false);
        answer_submit(p, DUTY_UNAVAILABLE);
        pending_free(p);
    }
}

/* ---------------------------------------------------------------- DUTY_GET */

static void cert_to_view(struct duty_view *v, const uint8_t *cert, size_t len)
{
    static struct qbft_signed entries[QBFT_MAX_NODES];
    size_t n = 0;
    if (!len || qbft_cert_decode(cert, len, entries, QBFT_MAX_NODES, &n) < 0)
        return;
    for (size_t i = 0; i < n && i < DUTY_MAX_NODES; i++) {
        v->cert[i].index = entries[i].b.sender;
        v->cert[i].round = entries[i].b.round;
        memcpy(v->cert[i].sig, entries[i].sig, SIG_LEN);
    }
    v->ncert = (uint32_t)(n < DUTY_MAX_NODES ? n : DUTY_MAX_NODES);
}

static void answer_view(struct pending_reply *p, const struct duty_view *v)
{
    struct buf b = BUF_INIT;
    duty_view_encode(&b, v);
    pending_answer(p, DUTY_GET_REP, &b);
    buf_free(&b);
}

static void view_from_inst(struct duty_view *v, const struct inst *in)
{
    v->decided = true;
    v->round = in->decided_round;
    v->has_value = true;
    memcpy(v->value_hash, in->value_hash, SHA256_LEN);
    v->value = in->value.data;
    v->value_len = (uint32_t)in->value.len;
    cert_to_view(v, in->cert.data, in->cert.len);
    for (unsigned i = 0; i < Q.lock.n; i++) {
        if (in->seal_mask & (1ull << i)) {
            v->seals[v->nseals].index = i;
            memcpy(v->seals[v->nseals].sig, in->seals[i], SIG_LEN);
            v->nseals++;
        }
    }
}

static void on_get_duty(struct mailbox *mb, int status, const struct envelope *env, void *arg);

static void on_get_decided(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    struct pending_reply *p = arg;
    struct sdb_reply r;
    struct duty_view *v = xcalloc(1, sizeof(*v));
    v->type = p->id.duty;
    v->height = p->id.height;
    if (status != 0 || sdb_reply_decode(&r, SDB_GET_DECIDED_REP, env->body, env->body_len) < 0) {
        /* unavailable: the API answers 503 when the reply does not decode */
        struct buf empty = BUF_INIT;
        pending_answer(p, DUTY_GET_REP, &empty);
        free(v);
        pending_free(p);
        return;
    }
    if (r.status == SDB_OK && r.u.decided.present) {
        const struct sdb_decided *d = &r.u.decided.d;
        v->result = DUTY_ACCEPTED;
        v->decided = true;
        v->round = d->round;
        v->has_value = true;
        sha256(v->value_hash, d->value.p, d->value.len);
        v->value = d->value.p;
        v->value_len = d->value.len;
        if (d->ncert > 0)
            cert_to_view(v, d->cert[0].p, d->cert[0].len);
        for (uint32_t i = 0; i < d->nseals && i < DUTY_MAX_NODES; i++) {
            v->seals[i].index = d->seals[i].index;
            memcpy(v->seals[i].sig, d->seals[i].sig, SIG_LEN);
        }
        v->nseals = d->nseals < DUTY_MAX_NODES ? d->nseals : DUTY_MAX_NODES;
        answer_view(p, v);
        sdb_reply_free(&r);
        free(v);
        pending_free(p);
        return;
    }
    sdb_reply_free(&r);
    free(v);
    /* Not decided: is the duty known at all? */
    struct sdb_req q = {.type = SDB_GET_DUTY};
    q.u.get.dtype = p->id.duty;
    q.u.get.height = p->id.height;
    if (sdb_request(SDB_GET_DUTY, &q, on_get_duty, p) < 0) {
        struct buf empty = BUF_INIT;
        pending_answer(p, DUTY_GET_REP, &empty);
        pending_free(p);
    }
}

static void on_get_duty(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    struct pending_reply *p = arg;
    struct sdb_reply r;
    struct duty_view v = {.type = p->id.duty, .height = p->id.height};
    if (status != 0 || sdb_reply_decode(&r, SDB_GET_DUTY_REP, env->body, env->body_len) < 0) {
        struct buf empty = BUF_INIT;
        pending_answer(p, DUTY_GET_REP, &empty);
        pending_free(p);
        return;
    }
    v.result = r.status == SDB_OK && r.u.duty.present ? DUTY_ACCEPTED : DUTY_NOT_FOUND;
    answer_view(p, &v);
    sdb_reply_free(&r);
    pending_free(p);
}

static void on_duty_get(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    struct duty_key k;
    if (duty_key_decode(&k, e->body, e->body_len) < 0) {
        mailbox_violation(mb, e, "malformed DUTY_GET");
        return;
    }
    struct qbft_id id = {k.type, k.height};
    struct duty_view *v = xcalloc(1, sizeof(*v));
    v->type = k.type;
    v->height = k.height;
    v->result = DUTY_ACCEPTED;
    struct inst *in = inst_find(&id);
    struct qbft_info info;
    struct pending_reply *p = pending_new(e);
    p->id = id;
    if (in && in->decided) {
        view_from_inst(v, in);
        answer_view(p, v);
        pending_free(p);
    } else if (Q.eng && qbft_info(Q.eng, &id, &info) == 0 && info.status == QBFT_RUNNING) {
        v->round = info.round;
        answer_view(p, v);
        pending_free(p);
    } else {
        struct sdb_req q = {.type = SDB_GET_DECIDED};
        q.u.get.dtype = k.type;
        q.u.get.height = k.height;
        if (sdb_request(SDB_GET_DECIDED, &q, on_get_decided, p) < 0) {
            struct buf empty = BUF_INIT;
            pending_answer(p, DUTY_GET_REP, &empty);
            pending_free(p);
        }
    }
    free(v);
}

/* ---------------------------------------------------------------- from the network */

static void on_seal(unsigned from, const uint8_t *bytes, size_t len)
{
    struct seal s;
    if (seal_decode(&s, bytes, len) < 0 || s.index >= Q.lock.n) {
        report_peer(from, P2P_REPORT_UNDECODABLE);
        return;
    }
    if (!seal_verify(&s, Q.lock.hash, Q.pubkeys[s.index])) {
        metric_inc(metric("block_sign_total", "invalid"));
        report_peer(from, P2P_REPORT_INVALID_SIG);
        return;
    }
    struct qbft_id id = {s.duty, s.height};
    struct inst *in = inst_find(&id);
    if (!in || !in->decided) {
        /* It decided first: hold the seal until this node decides (bounded, one per operator). */
        if (Q.nearly >= EARLY_SEALS_MAX ||
            s.height + Q.w->cfg.qbft_height_window < Q.max_height[s.duty])
            return;
        in = inst_get(&id);
        for (struct early_seal *e = in->early; e; e = e->next)
            if (e->s.index == s.index)
                return;
        struct early_seal *e = xmalloc(sizeof(*e));
        e->s = s;
        e->next = in->early;
        in->early = e;
        Q.nearly++;
        return;
    }
    if (memcmp(in->value_hash, s.value_hash, SHA256_LEN) != 0 ||
        (in->seal_mask & (1ull << s.index)))
        return; /* a seal of another value, or one already held */
    memcpy(in->seals[s.index], s.sig, SIG_LEN);
    in->seal_mask |= 1ull << s.index;
    if (in->persisted)
        persist_decided(in); /* StateDB merges the new seal into the record */
}

/* A peer still working on an instance this node decided but no longer holds in its engine (it
 * restarted since, for instance): bring the decision back from StateDB so the engine answers the
 * laggard with DECIDED. Looked up once per instance (the set is forgotten when it fills up). */
#define LOOKUPS_MAX 16384
static struct qbft_id lookups[LOOKUPS_MAX];
static size_t nlookups;

static void on_lookup_decided(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    struct qbft_id *id = arg;
    struct sdb_reply r;
    if (status == 0 && sdb_reply_decode(&r, SDB_GET_DECIDED_REP, env->body, env->body_len) == 0) {
        if (r.status == SDB_OK && r.u.decided.present && r.u.decided.d.ncert > 0) {
            const struct sdb_decided *d = &r.u.decided.d;
            if (qbft_restore_decided(Q.eng, id, d->value.p, d->value.len, d->cert[0].p,
                                     d->cert[0].len) == 0)
                log_debug("qbft_state", LS("event", "decision_restored"),
                          LS("duty", duty_type_name(id->duty)), LU("height", id->height));
        }
        sdb_reply_free(&r);
    }
    free(id);
}

static void lookup_decided(const uint8_t *msg, size_t len)
{
    struct qbft_msg *m = xmalloc(sizeof(*m));
    /* Only a peer changing rounds is stuck; fresh instances' messages often arrive first. */
    if (qbft_msg_decode(m, msg, len, QBFT_DECODE_WIRE) == 0 && m->m.b.type == QBFT_ROUND_CHANGE) {
        struct qbft_id id = {m->m.b.duty, m->m.b.height};
        bool seen = false;
        for (size_t i = 0; i < nlookups && !seen; i++)
            seen = lookups[i].duty == id.duty && lookups[i].height == id.height;
        struct inst *in = inst_find(&id);
        if (!seen && !(in && in->open)) {
            if (nlookups == LOOKUPS_MAX)
                nlookups = 0;
            lookups[nlookups++] = id;
            struct sdb_req q = {.type = SDB_GET_DECIDED};
            q.u.get.dtype = id.duty;
            q.u.get.height = id.height;
            struct qbft_id *arg = xmalloc(sizeof(*arg));
            *arg = id;
            if (sdb_request(SDB_GET_DECIDED, &q, on_lookup_decided, arg) < 0)
                free(arg);
        }
    }
    free(m);
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
    if (!Q.loaded)
        return; /* peers resend; instances are rebuilt first */
    if (qbft_topic_decode(&kind, &bytes, &len, m.payload, m.len) < 0) {
        report_peer(m.peer, P2P_REPORT_UNDECODABLE);
        return;
    }
    if (kind == QBFT_KIND_SEAL) {
        on_seal(m.peer, bytes, len);
        return;
    }
    uint64_t t0 = now_ns();
    enum qbft_verdict v = qbft_receive(Q.eng, bytes, len, m.peer, mono_ms());
    if (v == QBFT_SIG_INVALID)
        report_peer(m.peer, P2P_REPORT_INVALID_SIG);
    else if (v == QBFT_BUFFERED)
        lookup_decided(bytes, len);
    metric_inc(metric("consensus_events_total", "consensus"));
    metric_observe(metric("consensus_proc_seconds", "consensus"), (double)(now_ns() - t0) / 1e9);
    arm_timer();
}

struct resend_ctx {
    uint32_t peer;
};

static bool resend_one(struct ientry *e, void *arg)
{
    struct resend_ctx *c = arg;
    struct qbft_id id = {e->k.duty, e->k.height};
    struct inst *in = inst_find(&id);
    if (!e->durable || (in && in->decided))
        return true;
    struct qbft_msg *m = xmalloc(sizeof(*m));
    if (qbft_msg_decode(m, e->intent.data, e->intent.len, QBFT_DECODE_INTENT) == 0) {
        struct buf wire = BUF_INIT;
        qbft_msg_strip(&wire, m, e->intent.data, e->intent.len);
        send_p2p(c->peer, QBFT_KIND_MSG, wire.data, wire.len);
        buf_free(&wire);
    }
    free(m);
    return true;
}

/* A peer (re)joined: give it what we said in every open instance, so it catches up at once. */
static void on_peer(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    uint32_t peer, up;
    if (p2p_event_decode(&peer, &up, e->body, e->body_len) < 0 || peer >= Q.lock.n) {
        mailbox_violation(mb, e, "malformed P2P_PEER");
        return;
    }
    if (!up || !Q.loaded)
        return;
    struct resend_ctx c = {peer};
    icache_foreach(Q.intents, resend_one, &c);
}

/* ---------------------------------------------------------------- start-up: reload */

struct loaded_duty {
    struct qbft_id id;
    struct buf payload;
    uint64_t accepted_ms;
    struct loaded_duty *next;
};

static struct loaded_duty *loaded_duties;
static void load_duties(bool has_after, uint8_t dtype, uint64_t height);
static void load_intents(bool has_after, struct sdb_intent_key after);
static void sdb_hello(void);

/* Rebuild every instance from its reloaded intents (grouped: they arrive in key order), then
 * start every undecided duty. After a StateDB fallback the node abstains from every instance at
 * a height it may have reached before the loss: up to the highest height it still knows of plus
 * [qbft] height_window (SPEC §7.5: when in doubt, abstain). */
static void finish_load(void)
{
    uint64_t now_wall = wall_ms(), now = mono_ms();
    size_t restored = 0, failed = 0, started = 0;
    struct qbft_intent *list = xcalloc(Q.nreloaded ? Q.nreloaded : 1, sizeof(*list));
    for (size_t i = 0; i < Q.nreloaded;) {
        const struct ikey *k0 = &Q.reloaded[i]->k;
        struct qbft_id id = {k0->duty, k0->height};
        size_t n = 0;
        for (; i < Q.nreloaded && Q.reloaded[i]->k.duty == id.duty &&
               Q.reloaded[i]->k.height == id.height;
             i++) {
            struct ientry *e = Q.reloaded[i];
            list[n++] = (struct qbft_intent){e->k.round, e->k.type, e->intent.data, e->intent.len};
        }
        if (qbft_restore(Q.eng, &id, list, n) == 0) {
            restored++;
            metric_inc(metric("qbft_wal_recover_total", "ok"));
        } else {
            failed++;
            metric_inc(metric("qbft_wal_recover_total", "error"));
            log_error("qbft_wal", LS("event", "restore_failed"), LU("height", id.height),
                      LS("err", strerror(errno)));
        }
        if (id.height > Q.max_height[id.duty])
            Q.max_height[id.duty] = id.height;
    }
    free(list);
    free(Q.reloaded);
    Q.reloaded = NULL;
    Q.nreloaded = Q.reloaded_cap = 0;
    for (struct loaded_duty *d = loaded_duties; d; d = d->next)
        if (d->id.height > Q.max_height[d->id.duty])
            Q.max_height[d->id.duty] = d->id.height;
    if (Q.fallback)
        for (unsigned t = 0; t < DUTY_TYPES; t++)
            Q.abstain_below[t] = Q.max_height[t] + 1 + Q.w->cfg.qbft_height_window;
    while (loaded_duties) {
        struct loaded_duty *d = loaded_duties;
        loaded_duties = d->next;
        uint64_t age = now_wall > d->accepted_ms ? now_wall - d->accepted_ms : 0;
        start_instance(&d->id, d->payload.data, d->payload.len, now > age ? now - age : 0);
        started++;
        buf_free(&d->payload);
        free(d);
    }
    Q.loaded = true;
    log_info("qbft_wal", LS("event", "reloaded"), LU("duties", started), LU("restored", restored),
             LU("failed", failed), LU("intents", icache_count(Q.intents)),
             LB("abstain", Q.fallback));
    worker_ready(Q.w);
    arm_timer();
}

static void on_load_intents(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    (void)arg;
    struct sdb_reply r;
    if (status != 0 || sdb_reply_decode(&r, SDB_LOAD_INTENTS_REP, env->body, env->body_len) < 0 ||
        r.status != SDB_OK) {
        if (status == 0)
            sdb_reply_free(&r);
        sdb_hello(); /* start over: StateDB may have restarted (what was cached stays valid) */
        return;
    }
    struct sdb_intent_key last = {0};
    for (uint32_t i = 0; i < r.u.list.n; i++) {
        const struct sdb_intent *it = &r.u.list.v.intents[i];
        struct ikey k = {it->k.dtype, it->k.height, it->k.round, it->k.mtype};
        if (!icache_get(Q.intents, &k)) {
            if (Q.nreloaded == Q.reloaded_cap) {
                Q.reloaded_cap = Q.reloaded_cap ? 2 * Q.reloaded_cap : 256;
                Q.reloaded = xrealloc(Q.reloaded, Q.reloaded_cap * sizeof(*Q.reloaded));
            }
            Q.reloaded[Q.nreloaded++] = icache_add(Q.intents, &k, it->msg.p, it->msg.len, true);
        }
        last = it->k;
    }
    bool more = r.u.list.more && r.u.list.n > 0;
    sdb_reply_free(&r);
    if (more)
        load_intents(true, last);
    else
        finish_load();
}

static void load_intents(bool has_after, struct sdb_intent_key after)
{
    struct sdb_req r = {.type = SDB_LOAD_INTENTS};
    r.u.load.has_after = has_after;
    r.u.load.after = after;
    r.u.load.max_bytes = LOAD_PAGE_BYTES;
    if (sdb_request(SDB_LOAD_INTENTS, &r, on_load_intents, NULL) < 0)
        sdb_hello();
}

static void on_list_duties(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    (void)arg;
    struct sdb_reply r;
    if (status != 0 || sdb_reply_decode(&r, SDB_LIST_DUTIES_REP, env->body, env->body_len) < 0 ||
        r.status != SDB_OK) {
        if (status == 0)
            sdb_reply_free(&r);
        sdb_hello();
        return;
    }
    uint8_t dt = 0;
    uint64_t h = 0;
    for (uint32_t i = 0; i < r.u.list.n; i++) {
        const struct sdb_duty *d = &r.u.list.v.duties[i];
        struct loaded_duty *ld = xcalloc(1, sizeof(*ld));
        ld->id = (struct qbft_id){d->dtype, d->height};
        buf_append(&ld->payload, d->payload.p, d->payload.len);
        ld->accepted_ms = d->accepted_ms;
        ld->next = loaded_duties;
        loaded_duties = ld;
        dt = d->dtype;
        h = d->height;
    }
    bool more = r.u.list.more && r.u.list.n > 0;
    sdb_reply_free(&r);
    if (more)
        load_duties(true, dt, h);
    else
        load_intents(false, (struct sdb_intent_key){0});
}

static void load_duties(bool has_after, uint8_t dtype, uint64_t height)
{
    struct sdb_req r = {.type = SDB_LIST_DUTIES};
    r.u.list.has_after = has_after;
    r.u.list.dtype = dtype;
    r.u.list.height = height;
    r.u.list.undecided_only = true;
    r.u.list.max_bytes = LOAD_PAGE_BYTES;
    if (sdb_request(SDB_LIST_DUTIES, &r, on_list_duties, NULL) < 0)
        sdb_hello();
}

static ev_timer hello_timer;

static void on_hello_reply(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    (void)arg;
    struct sdb_reply r;
    if (status != 0 || sdb_reply_decode(&r, SDB_HELLO_REP, env->body, env->body_len) < 0) {
        sdb_status(false);
        Q.probing = false;
        if (!Q.loaded) {
            ev_timer_set(&hello_timer, SDB_RETRY_S, 0);
            ev_timer_start(Q.w->loop, &hello_timer);
        }
        return;
    }
    sdb_status(true);
    Q.probing = false;
    bool was = Q.fallback;
    Q.fallback = r.u.hello.fallback;
    Q.recovered_ms = r.u.hello.recovered_ms;
    sdb_reply_free(&r);
    if (Q.fallback && !was)
        log_warn("qbft_wal", LS("event", "statedb_fallback"),
                 LS("effect", "abstaining from every instance that may predate the loss"));
    if (Q.loaded) {
        /* StateDB came back from a checkpoint while we run: what it lost may include votes of
         * an earlier incarnation of this worker. Abstain from every instance up to here. */
        if (Q.fallback && !was) {
            for (unsigned d = 0; d < DUTY_TYPES; d++)
                Q.abstain_below[d] = Q.max_height[d] + 1 + Q.w->cfg.qbft_height_window;
            for (size_t b = 0; b < INST_BUCKETS; b++)
                for (struct inst *in = Q.inst[b]; in; in = in->next)
                    if (!in->decided)
                        qbft_abstain(Q.eng, &in->id);
        }
        return;
    }
    while (loaded_duties) {
        struct loaded_duty *d = loaded_duties;
        loaded_duties = d->next;
        buf_free(&d->payload);
        free(d);
    }
    load_duties(false, 0, 0);
}

static void sdb_hello(void)
{
    struct sdb_req r = {.type = SDB_HELLO};
    r.u.hello.generation = Q.w->generation;
    if (Q.probing)
        return;
    if (sdb_request(SDB_HELLO, &r, on_hello_reply, NULL) == 0) {
        Q.probing = true;
    } else if (!Q.loaded) {
        ev_timer_set(&hello_timer, SDB_RETRY_S, 0);
        ev_timer_start(Q.w->loop, &hello_timer);
    }
}

static void on_hello_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)t;
    (void)revents;
    sdb_hello();
}

/* ---------------------------------------------------------------- housekeeping */

static void on_sweep(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)t;
    (void)revents;
    /* Instances more than [qbft] retention heights below the highest one are forgotten by the
     * engine (their messages become "old") with their intents; StateDB keeps its own records
     * for [statedb] retention. Decided instances beyond DECIDED_KEEP leave memory; GET then
     * answers from StateDB. */
    /* An instance that cannot decide (too few nodes ever got its duty) must not hold an
     * admission slot forever: after [qbft] instance_expire_s it stops counting as open. The
     * engine keeps it until the retention window passes, so a late quorum still decides it. */
    uint64_t now = mono_ms(), expire = Q.w->cfg.qbft_instance_expire_s * 1000;
    for (size_t b = 0; b < INST_BUCKETS && Q.nopen > 0; b++) {
        for (struct inst *in = Q.inst[b]; in; in = in->next) {
            if (in->open && now - in->start_mono_ms > expire) {
                in->open = false;
                Q.nopen--;
                metric_inc(metric("qbft_timeouts_total", "expired"));
                log_warn("qbft_state", LS("event", "expired"),
                         LS("duty", duty_type_name(in->id.duty)), LU("height", in->id.height));
            }
        }
    }
    uint64_t keep = Q.w->cfg.qbft_retention;
    for (unsigned d = 0; d < DUTY_TYPES; d++) {
        if (Q.max_height[d] <= keep)
            continue;
        uint64_t below = Q.max_height[d] - keep;
        qbft_prune(Q.eng, d, below);
        icache_drop_below(Q.intents, (uint8_t)d, below);
        for (size_t b = 0; b < INST_BUCKETS; b++) {
            struct inst *in = Q.inst[b];
            while (in) {
                struct inst *next = in->next;
                if (in->id.duty == d && in->id.height < below && (!in->decided || in->persisted)) {
                    if (in->open) {
                        in->open = false;
                        Q.nopen--;
                    }
                    inst_remove(in);
                }
                in = next;
            }
        }
    }
    while (Q.ndecided > DECIDED_KEEP && Q.decided_head && Q.decided_head->persisted)
        inst_remove(Q.decided_head);
}

/* ---------------------------------------------------------------- lifecycle */

static const struct dispatch_entry rows[] = {
    {DUTY_SUBMIT, WBIT(W_API) | TOOL_WRITES, 4, DUTY_PAYLOAD_MAX + 64, on_duty_submit},
    {DUTY_GET, WBIT(W_API) | WBIT(W_TOOL), 2, 64, on_duty_get},
    {P2P_DELIVER, WBIT(W_P2P), 4, P2P_PAYLOAD_MAX + 64, on_deliver},
    {P2P_PEER, WBIT(W_P2P), 2, 32, on_peer},
};

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
    return 0;
}

static int qbft_init(struct worker *w)
{
    char err[256];
    Q.w = w;
    struct qbft_config c;
    qbft_config_defaults(&c);
    c.n = Q.lock.n;
    c.self = (unsigned)w->cfg.index;
    for (unsigned i = 0; i < Q.lock.n; i++)
        memcpy(Q.pubkeys[i], Q.lock.ops[i].pubkey, PUBKEY_LEN);
    c.pubkeys = (const uint8_t(*)[PUBKEY_LEN])Q.pubkeys;
    memcpy(c.lock_hash, Q.lock.hash, SHA256_LEN);
    c.round_timeout_ms = w->cfg.qbft_round_timeout_ms;
    c.round_timeout_max_ms = w->cfg.qbft_round_timeout_max_ms;
    c.timer = strcmp(w->cfg.qbft_timer, "linear") == 0 ? QBFT_TIMER_LINEAR : QBFT_TIMER_EXPONENTIAL;
    c.round_window = w->cfg.qbft_round_window;
    c.height_window = w->cfg.qbft_height_window;
    c.retention = w->cfg.qbft_retention;
    c.decided_resends = (unsigned)w->cfg.qbft_decided_resends;
    Q.eng = qbft_engine_new(&c, &host, err, sizeof(err));
    if (!Q.eng) {
        log_error("config_error", LS("err", err));
        exit(EXIT_CONFIG);
    }
    Q.intents = icache_new();
    Q.sdb_up = true;
    metric("qbft_equivocations_total");
    metric("qbft_wal_guard_drops_total");
    metric("qbft_view_changes_total");
    for (unsigned d = 0; d < DUTY_TYPES; d++)
        metric("qbft_decided_total", duty_type_name(d));
    ev_timer_init(&Q.timer, on_timer, 0, 0);
    ev_timer_init(&Q.retry, on_retry, SDB_RETRY_S, SDB_RETRY_S);
    ev_timer_start(w->loop, &Q.retry);
    ev_timer_init(&Q.sweep, on_sweep, SWEEP_PERIOD_S, SWEEP_PERIOD_S);
    ev_timer_start(w->loop, &Q.sweep);
    ev_timer_init(&hello_timer, on_hello_timer, SDB_RETRY_S, 0);
    sdb_hello(); /* READY once every duty and intent is reloaded */
    return 0;
}

static void qbft_health(struct worker *w, char *out, size_t n)
{
    (void)w;
    out[0] = 0;
    if (Q.loaded && !Q.sdb_up)
        snprintf(out, n, "statedb unavailable: votes withheld");
}

static void qbft_stop(struct worker *w)
{
    node_key_wipe(&Q.key);
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
