/* duties: see duties.h. */
#include "workers/qbft/duties.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "proto/p2p.h"
#include "workers/qbft/duties_int.h"
#include "workers/qbft/intents.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void duties_log(struct duties *d, enum log_level level, const char *event, const struct log_kv *kv)
{
    if (d->host.log)
        d->host.log(d->host.ctx, level, event, kv);
}

uint64_t duties_mono(const struct duties *d)
{
    return d->host.mono_ms(d->host.ctx);
}

static const char *type_label(uint8_t qbft_type)
{
    return qbft_type_name(qbft_type);
}

/* ---------------------------------------------------------------- instances */

static size_t inst_bucket(const struct qbft_id *id)
{
    uint64_t h = id->height * 0x9e3779b97f4a7c15ull ^ id->duty;
    return (size_t)(h ^ h >> 31) & (INST_BUCKETS - 1);
}

struct dinst *duties_inst_find(const struct duties *d, const struct qbft_id *id)
{
    for (struct dinst *i = d->inst[inst_bucket(id)]; i; i = i->next)
        if (i->id.duty == id->duty && i->id.height == id->height)
            return i;
    return NULL;
}

struct dinst *duties_inst_get(struct duties *d, const struct qbft_id *id)
{
    struct dinst *i = duties_inst_find(d, id);
    if (i)
        return i;
    i = xcalloc(1, sizeof(*i));
    i->id = *id;
    size_t b = inst_bucket(id);
    i->next = d->inst[b];
    d->inst[b] = i;
    return i;
}

void duties_inst_close(struct duties *d, struct dinst *in)
{
    if (in->open) {
        in->open = false;
        d->nopen--;
    }
}

/* Free an instance that no hash chain or decided list holds any more. */
static void inst_free(struct duties *d, struct dinst *x)
{
    while (x->early) {
        struct early_seal *e = x->early;
        x->early = e->next;
        free(e);
        d->nearly--;
    }
    blocks_forget(d, x);
    buf_free(&x->value);
    buf_free(&x->cert);
    buf_free(&x->dmsg);
    free(x->seals);
    free(x);
}

static void inst_remove(struct duties *d, struct dinst *x)
{
    struct dinst **pp = &d->inst[inst_bucket(&x->id)];
    while (*pp && *pp != x)
        pp = &(*pp)->next;
    if (*pp)
        *pp = x->next;
    duties_inst_close(d, x);
    if (x->decided) {
        if (x->older)
            x->older->newer = x->newer;
        else
            d->decided_head = x->newer;
        if (x->newer)
            x->newer->older = x->older;
        else
            d->decided_tail = x->older;
        d->ndecided--;
    }
    inst_free(d, x);
}

bool duties_builder_duty(const struct duties *d, uint8_t duty)
{
    return (d->cfg.builder_duties >> duty) & 1;
}

/* ---------------------------------------------------------------- StateDB requests */

void duties_arm_retry(struct duties *d)
{
    if (d->retry_at == UINT64_MAX)
        d->retry_at = duties_mono(d) + DUTIES_RETRY_MS;
}

struct dreq *duties_dreq_new(enum dreq_kind kind)
{
    struct dreq *q = xcalloc(1, sizeof(*q));
    q->kind = kind;
    return q;
}

static void dreq_unlink(struct duties *d, struct dreq *q)
{
    if (q == d->reqs)
        d->reqs = q->next;
    else
        q->prev->next = q->next;
    if (q->next)
        q->next->prev = q->prev;
}

static void dreq_free(struct dreq *q)
{
    buf_free(&q->payload);
    free(q);
}

/* Send a request; q is the token (freed here when it could not leave). */
int duties_request(struct duties *d, const struct sdb_req *r, struct dreq *q)
{
    q->next = d->reqs;
    if (d->reqs)
        d->reqs->prev = q;
    d->reqs = q;
    if (d->host.sdb_request(d->host.ctx, r, q) == 0)
        return 0;
    dreq_unlink(d, q);
    dreq_free(q);
    return -1;
}

void duties_sdb_status(struct duties *d, bool up)
{
    if (d->sdb_up != up)
        DLOG(d, LOG_WARN, "statedb_availability", LB("up", up),
             LS("effect", up ? "voting resumes" : "votes withheld until StateDB answers"));
    d->sdb_up = up;
    if (!up && d->loaded)
        duties_arm_retry(d); /* a HELLO probe: an answer resumes voting */
}

/* ---------------------------------------------------------------- intents and sends */

void duties_send_msg(struct duties *d, uint32_t peer, uint8_t type, const uint8_t *bytes,
                     size_t len)
{
    d->host.send(d->host.ctx, peer, QBFT_KIND_MSG, type, bytes, len);
}

void duties_append_intent(struct duties *d, struct ientry *e)
{
    struct sdb_req r = {.type = SDB_APPEND_INTENT};
    r.u.append.k = (struct sdb_intent_key){.dtype = e->k.duty,
                                           .height = e->k.height,
                                           .round = (uint32_t)e->k.round,
                                           .mtype = e->k.type};
    r.u.append.msg.p = e->intent.data;
    r.u.append.msg.len = (uint32_t)e->intent.len;
    struct dreq *q = duties_dreq_new(R_APPEND);
    q->k = e->k;
    if (duties_request(d, &r, q) == 0) {
        e->in_flight = true;
    } else {
        d->retry_intents = true;
        duties_arm_retry(d);
    }
}

static void on_append(struct duties *d, struct dreq *q, const struct sdb_reply *r)
{
    struct ientry *e = icache_get(d->intents, &q->k);
    if (!e)
        return;
    e->in_flight = false;
    if (!r) {
        duties_sdb_status(d, false);
        d->retry_intents = true;
        duties_arm_retry(d);
        return;
    }
    duties_sdb_status(d, true);
    if ((r->status == SDB_OK || r->status == SDB_DUPLICATE) && r->durable) {
        e->durable = true;
        if (e->k.type == QBFT_INTENT_LOCK) {
            blocks_lock_durable(d, e); /* the votes that waited for it may leave */
            return;
        }
        if (!blocks_may_send(d, e))
            return; /* its lock record is not durable yet */
        struct isend *s = ientry_take_sends(e);
        for (struct isend *x = s; x; x = x->next)
            duties_send_msg(d, x->peer, e->k.type, x->payload.data, x->payload.len);
        isend_free_list(s);
    } else if (r->status == SDB_REFUSED) {
        /* StateDB holds other bytes under this key: they were signed first and are the only
         * ones that may ever leave. What we held back is dropped. */
        DLOG(d, LOG_ERROR, "qbft_wal", LS("event", "refused"), LU("height", e->k.height),
             LU("round", e->k.round), LS("type", type_label(e->k.type)),
             LS("err", "StateDB holds a different intent; the new message is never sent"));
        isend_free_list(ientry_take_sends(e));
        buf_reset(&e->intent);
        if (r->u.stored.present)
            buf_append(&e->intent, r->u.stored.msg.p, r->u.stored.msg.len);
        e->durable = true;
        metric_inc(metric("qbft_wal_guard_drops_total"));
        if (e->k.type == QBFT_INTENT_LOCK)
            blocks_lock_durable(d, e);
    } else {
        d->retry_intents = true; /* not stored, or not synced: appended again */
        duties_arm_retry(d);
    }
}

/* Send (or hold until it may leave) one engine emission. */
static void emit(struct duties *d, uint32_t peer, uint8_t type, const uint8_t *msg, size_t len)
{
    struct ientry *e = NULL;
    struct dinst *in = NULL;
    if (qbft_msg_decode(d->scratch, msg, len, QBFT_DECODE_WIRE) == 0) {
        const struct qbft_body *b = &d->scratch->m.b;
        struct ikey k = {b->duty, b->height, b->round, b->type};
        struct qbft_id id = {b->duty, b->height};
        e = icache_get(d->intents, &k);
        in = type == QBFT_DECIDED ? duties_inst_find(d, &id) : NULL;
    }
    metric_inc(metric("qbft_msg_total", type_label(type)));
    if (in && in->decided && !in->persisted) {
        /* Nothing about a decision leaves before its record is durable (SPEC §7.5). The
         * DECIDED bytes are the same for every peer: hold one copy and who waits for it. */
        if (!in->dmsg.len)
            buf_append(&in->dmsg, msg, len);
        in->dmsg_to |= peer == P2P_BROADCAST ? ~(1ull << d->cfg.qbft.self) : 1ull << peer;
        metric_inc(metric("consensus_broadcast_total", type_label(type), "held"));
        return;
    }
    if (e && !e->durable) {
        ientry_hold(e, peer, msg, len);
        metric_inc(metric("consensus_broadcast_total", type_label(type), "held"));
        return;
    }
    duties_send_msg(d, peer, type, msg, len);
    metric_inc(metric("consensus_broadcast_total", type_label(type), "ok"));
}

/* ---------------------------------------------------------------- the engine's host */

static void h_broadcast(void *ctx, uint8_t type, const uint8_t *msg, size_t len)
{
    emit(ctx, P2P_BROADCAST, type, msg, len);
}

static void h_unicast(void *ctx, unsigned peer, uint8_t type, const uint8_t *msg, size_t len)
{
    emit(ctx, (uint32_t)peer, type, msg, len);
}

static int h_sign(void *ctx, const uint8_t digest[SHA256_LEN], uint8_t sig[SIG_LEN])
{
    struct duties *d = ctx;
    return d->host.sign(d->host.ctx, digest, sig);
}

static bool h_verify(void *ctx, unsigned signer, const uint8_t digest[SHA256_LEN],
                     const uint8_t sig[SIG_LEN])
{
    struct duties *d = ctx;
    return d->host.verify(d->host.ctx, signer, digest, sig);
}

static int h_intent_get(void *ctx, const struct qbft_id *id, uint64_t round, uint8_t type,
                        const uint8_t **bytes, size_t *len)
{
    struct duties *d = ctx;
    struct ikey k = {id->duty, id->height, round, type};
    struct ientry *e = icache_get(d->intents, &k);
    if (e) {
        *bytes = e->intent.data;
        *len = e->intent.len;
        return 1;
    }
    return d->sdb_up ? 0 : -1; /* cannot record a new vote now: withhold it */
}

static int h_intent_put(void *ctx, const struct qbft_id *id, uint64_t round, uint8_t type,
                        const uint8_t *bytes, size_t len)
{
    struct duties *d = ctx;
    struct ikey k = {id->duty, id->height, round, type};
    if (!d->sdb_up || icache_get(d->intents, &k))
        return -1;
    /* a vote in a block instance first takes the proposer lock (its record goes first) */
    if (blocks_duty(d, id->duty) && blocks_vote(d, id, round, type, bytes, len) < 0)
        return -1;
    duties_append_intent(d, icache_add(d->intents, &k, bytes, len, false));
    return 0;
}

static void persist_decided(struct duties *d, struct dinst *in);

/* The record is durable: this node's seal and the DECIDED messages held may leave. */
static void announce_decision(struct duties *d, struct dinst *in)
{
    unsigned self = d->cfg.qbft.self;
    if (in->seal_mask & (1ull << self)) {
        struct seal s = {.duty = in->id.duty, .height = in->id.height, .index = self};
        memcpy(s.value_hash, in->value_hash, SHA256_LEN);
        memcpy(s.sig, in->seals[self], SIG_LEN);
        struct buf b = BUF_INIT;
        seal_encode(&b, &s);
        d->host.send(d->host.ctx, P2P_BROADCAST, QBFT_KIND_SEAL, 0, b.data, b.len);
        buf_free(&b);
    }
    for (unsigned p = 0; p < d->cfg.qbft.n; p++) {
        if (in->dmsg_to & (1ull << p)) {
            duties_send_msg(d, p, QBFT_DECIDED, in->dmsg.data, in->dmsg.len);
            metric_inc(metric("consensus_broadcast_total", type_label(QBFT_DECIDED), "ok"));
        }
    }
    in->dmsg_to = 0;
    buf_free(&in->dmsg);
}

static void on_put_decided(struct duties *d, struct dreq *q, const struct sdb_reply *r)
{
    struct dinst *in = duties_inst_find(d, &q->id);
    if (in)
        in->persisting = false;
    if (!r) {
        duties_sdb_status(d, false);
        if (in && !in->persisted)
            persist_decided(d, in); /* try again */
        return;
    }
    duties_sdb_status(d, true);
    if (in && (r->status == SDB_OK || r->status == SDB_DUPLICATE) && r->durable) {
        if (!in->persisted) {
            in->persisted = true;
            announce_decision(d, in);
            if (blocks_duty(d, in->id.duty))
                blocks_decided(d, in); /* the builder applies it */
            if (d->host.decided)
                d->host.decided(d->host.ctx, &in->id, in->decided_round, in->value_hash);
        }
    } else if (r->status == SDB_CONFLICT) {
        DLOG(d, LOG_ERROR, "consensus_block", LU("height", q->id.height),
             LS("err", "StateDB holds a different decided value for this instance"));
    } else if (in && !in->persisted) {
        d->retry_decided = true;
        duties_arm_retry(d);
    }
}

/* Persist value + certificate + the seals we hold (StateDB merges seals). */
static void persist_decided(struct duties *d, struct dinst *in)
{
    struct sdb_req r = {.type = SDB_PUT_DECIDED};
    struct sdb_bytes cert = {in->cert.data, (uint32_t)in->cert.len};
    struct sdb_seal seals[QBFT_MAX_NODES];
    uint32_t ns = 0;
    for (unsigned i = 0; i < d->cfg.qbft.n; i++) {
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
                                           .decided_ms = d->host.wall_ms(d->host.ctx)};
    struct dreq *q = duties_dreq_new(R_PUT_DECIDED);
    q->id = in->id;
    if (duties_request(d, &r, q) == 0) {
        in->persisting = true;
    } else if (!in->persisted) {
        d->retry_decided = true;
        duties_arm_retry(d);
    }
}

static void h_decided(void *ctx, const struct qbft_id *id, const uint8_t *value, size_t len,
                      const uint8_t value_hash[QBFT_HASH_LEN], uint64_t round, const uint8_t *cert,
                      size_t cert_len)
{
    struct duties *d = ctx;
    unsigned self = d->cfg.qbft.self;
    struct dinst *in = duties_inst_get(d, id);
    if (in->decided)
        return;
    in->decided = true;
    memcpy(in->value_hash, value_hash, SHA256_LEN);
    buf_append(&in->value, value, len);
    buf_append(&in->cert, cert, cert_len);
    in->decided_round = round;
    in->seals = xcalloc(d->cfg.qbft.n, sizeof(*in->seals));
    /* Our seal: the node key over the decided value hash. */
    uint8_t dg[SHA256_LEN];
    seal_digest(dg, d->cfg.qbft.lock_hash, id->duty, id->height, value_hash);
    if (d->host.sign(d->host.ctx, dg, in->seals[self]) == 0) {
        in->seal_mask |= 1ull << self;
        metric_inc(metric("block_sign_total", "ok"));
    }
    while (in->early) {
        struct early_seal *e = in->early;
        in->early = e->next;
        d->nearly--;
        if (memcmp(e->s.value_hash, value_hash, SHA256_LEN) == 0) {
            memcpy(in->seals[e->s.index], e->s.sig, SIG_LEN);
            in->seal_mask |= 1ull << e->s.index;
        }
        free(e);
    }
    /* the decided list, for GET and pruning */
    in->decided_mono_ms = duties_mono(d);
    in->older = d->decided_tail;
    if (d->decided_tail)
        d->decided_tail->newer = in;
    else
        d->decided_head = in;
    d->decided_tail = in;
    d->ndecided++;
    duties_inst_close(d, in);

    const char *duty = duty_type_name(id->duty);
    metric_inc(metric("qbft_decided_total", duty));
    metric_observe(metric("qbft_decided_round"), (double)round);
    if (in->start_mono_ms)
        metric_observe(metric("qbft_decide_seconds", duty),
                       (double)(duties_mono(d) - in->start_mono_ms) / 1000.0);
    char hex[2 * SHA256_LEN + 1];
    hex_encode(hex, value_hash, SHA256_LEN);
    DLOG(d, LOG_INFO, "consensus_state", LS("duty", duty), LU("height", id->height),
         LS("state", "decided"), LU("round", round), LS("value_hash", hex));
    persist_decided(d, in);
}

static void h_verified(void *ctx, const char *type, const char *result)
{
    struct duties *d = ctx;
    metric_inc(metric("qbft_msg_verified_total", type, result));
    if (d->host.tap && d->host.tap->verified)
        d->host.tap->verified(d->host.tap->ctx, type, result);
}

static void h_equivocation(void *ctx, const struct qbft_id *id, unsigned sender,
                           const uint8_t a[SHA256_LEN], const uint8_t b[SHA256_LEN])
{
    struct duties *d = ctx;
    char ha[2 * SHA256_LEN + 1], hb[2 * SHA256_LEN + 1];
    hex_encode(ha, a, SHA256_LEN);
    hex_encode(hb, b, SHA256_LEN);
    metric_inc(metric("qbft_equivocations_total"));
    DLOG(d, LOG_WARN, "qbft_verify", LS("result", "equivocation"), LU("sender", sender),
         LS("duty", duty_type_name(id->duty)), LU("height", id->height), LS("hash_a", ha),
         LS("hash_b", hb));
    d->host.report(d->host.ctx, sender, DUTIES_REPORT_EQUIVOCATION);
    if (d->host.tap && d->host.tap->equivocation)
        d->host.tap->equivocation(d->host.tap->ctx, id, sender, a, b);
}

static void h_abstained(void *ctx, const struct qbft_id *id, uint8_t type)
{
    struct duties *d = ctx;
    metric_inc(metric("qbft_abstain_total", "recovery"));
    DLOG(d, LOG_DEBUG, "qbft_state", LS("event", "abstain"), LU("height", id->height),
         LS("type", type_label(type)));
    if (d->host.tap && d->host.tap->abstained)
        d->host.tap->abstained(d->host.tap->ctx, id, type);
}

static void h_event(void *ctx, const struct qbft_id *id, enum qbft_event ev, const char *label,
                    uint64_t round)
{
    struct duties *d = ctx;
    switch (ev) {
    case QBFT_EV_TIMEOUT:
        metric_inc(metric("qbft_timeouts_total", label));
        break;
    case QBFT_EV_ROUND_CHANGE:
        metric_inc(metric("qbft_view_changes_total"));
        DLOG(d, LOG_INFO, "qbft_state", LS("event", "round_change"), LS("cause", label),
             LS("duty", duty_type_name(id->duty)), LU("height", id->height), LU("round", round));
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
        DLOG(d, LOG_DEBUG, "qbft_state", LS("event", "buffer_drop"), LU("height", id->height));
        break;
    }
    if (d->host.tap && d->host.tap->event)
        d->host.tap->event(d->host.tap->ctx, id, ev, label, round);
}

static enum qbft_validity h_validate(void *ctx, const struct qbft_id *id,
                                     const uint8_t hash[QBFT_HASH_LEN], const uint8_t *value,
                                     size_t len)
{
    struct duties *d = ctx;
    if (blocks_duty(d, id->duty))
        return blocks_validate(d, id, hash, value, len);
    if (!duties_builder_duty(d, id->duty))
        return QBFT_VALUE_VALID;
    return d->host.validate(d->host.ctx, id, hash, value, len);
}

/* ---------------------------------------------------------------- starting instances */

void duties_engine_start(struct duties *d, struct dinst *in, const uint8_t *value, size_t len,
                         uint64_t start_mono)
{
    int rc = value ? qbft_start(d->eng, &in->id, value, len, start_mono, duties_mono(d))
                   : qbft_join(d->eng, &in->id, start_mono, duties_mono(d));
    if (rc == 0 || errno == EEXIST)
        in->started = true;
    if (rc == 0) {
        if (!in->decided && !in->open) {
            in->open = true;
            d->nopen++;
        }
    } else if (errno != EEXIST) {
        DLOG(d, LOG_WARN, "qbft_state", LS("event", "not_started"), LU("height", in->id.height),
             LS("err", strerror(errno)));
    }
}

void duties_start_instance(struct duties *d, const struct qbft_id *id, const uint8_t *payload,
                           size_t len, uint64_t start_mono)
{
    struct dinst *in = duties_inst_get(d, id);
    if (!in->start_mono_ms)
        in->start_mono_ms = start_mono;
    if (d->fallback && id->height < d->abstain_below[id->duty])
        qbft_abstain(d->eng, id);
    if (!d->has_max[id->duty] || id->height > d->max_height[id->duty]) {
        d->has_max[id->duty] = true;
        d->max_height[id->duty] = id->height;
    }
    if (duties_builder_duty(d, id->duty) && d->host.want_input) {
        /* The builder brings the input (duties_input); the instance counts as open now. */
        struct qbft_info info;
        bool known = qbft_info(d->eng, id, &info) == 0 && info.status != QBFT_PENDING_START;
        if (!known && !in->awaiting_input && !in->decided) {
            if (!in->open) {
                in->open = true;
                d->nopen++;
            }
            if (blocks_defer(d, in))
                return;
            in->awaiting_input = true;
            d->host.want_input(d->host.ctx, id, in->explicit_duty);
        }
        return;
    }
    duties_engine_start(d, in, payload, len, start_mono);
}

/* ---------------------------------------------------------------- DUTY_SUBMIT */

static void answer_submit(struct duties *d, const struct duties_asker *who, enum duty_result res)
{
    d->host.submitted(d->host.ctx, who, res);
}

/* A duty posted again whose instance this node no longer holds in memory (it was decided and
 * left, or the worker restarted since): if StateDB holds its decision, the engine gets the
 * decision back (late peers are answered) and the instance is not run a second time. True when
 * the question is out (on_repost answers the client). */
static bool repost(struct duties *d, struct dreq *put)
{
    struct qbft_info info;
    if (qbft_info(d->eng, &put->id, &info) == 0 && info.status != QBFT_PENDING_START)
        return false; /* the engine runs or holds it: start it as usual (EEXIST) */
    struct sdb_req g = {.type = SDB_GET_DECIDED};
    g.u.get.dtype = put->id.duty;
    g.u.get.height = put->id.height;
    struct dreq *q = duties_dreq_new(R_REPOST);
    q->id = put->id;
    q->who = put->who;
    buf_append(&q->payload, put->payload.data, put->payload.len);
    return duties_request(d, &g, q) == 0;
}

static void on_repost(struct duties *d, struct dreq *q, const struct sdb_reply *r)
{
    if (!r) {
        duties_sdb_status(d, false);
        answer_submit(d, &q->who, DUTY_UNAVAILABLE);
        return;
    }
    if (r->status == SDB_OK && r->u.decided.present && r->u.decided.d.ncert > 0) {
        const struct sdb_decided *dd = &r->u.decided.d;
        qbft_restore_decided(d->eng, &q->id, dd->value.p, dd->value.len, dd->cert[0].p,
                             dd->cert[0].len);
    } else {
        duties_start_instance(d, &q->id, q->payload.data, q->payload.len, duties_mono(d));
    }
    answer_submit(d, &q->who, DUTY_ACCEPTED);
    DLOG(d, LOG_INFO, "consensus_recv", LS("kind", "duty"), LS("duty", duty_type_name(q->id.duty)),
         LU("height", q->id.height), LB("repost", true),
         LB("decided", r->status == SDB_OK && r->u.decided.present));
}

static void on_put_duty(struct duties *d, struct dreq *q, const struct sdb_reply *r)
{
    if (!r) {
        duties_sdb_status(d, false);
        answer_submit(d, &q->who, DUTY_UNAVAILABLE);
        return;
    }
    duties_sdb_status(d, true);
    if (r->status == SDB_DUPLICATE && r->durable && !blocks_duty(d, q->id.duty) &&
        !duties_inst_find(d, &q->id) && repost(d, q))
        return;
    if ((r->status == SDB_OK || r->status == SDB_DUPLICATE) && r->durable) {
        if (blocks_duty(d, q->id.duty))
            duties_inst_get(d, &q->id)->explicit_duty = true; /* its block may be empty */
        duties_start_instance(d, &q->id, q->payload.data, q->payload.len, duties_mono(d));
        answer_submit(d, &q->who, DUTY_ACCEPTED);
        DLOG(d, LOG_INFO, "consensus_recv", LS("kind", "duty"),
             LS("duty", duty_type_name(q->id.duty)), LU("height", q->id.height),
             LB("repost", r->status == SDB_DUPLICATE));
    } else {
        answer_submit(d, &q->who, r->status == SDB_CONFLICT ? DUTY_CONFLICT : DUTY_UNAVAILABLE);
    }
}

/* Why a duty at this height cannot be accepted now (NULL: it can), and the answer. Heights
 * are judged against the highest accepted for the type, so no single request can move the
 * window far enough to lock out the heights that come after it. */
static const char *admission(const struct duties *d, const struct dinst *in, uint8_t t, uint64_t h,
                             enum duty_result *res)
{
    uint64_t top = d->max_height[t];
    *res = DUTY_UNAVAILABLE;
    if (!d->loaded)
        return "reload in progress";
    if (!in && blocks_duty(d, t)) {
        const char *why = blocks_admission(d, h, res);
        if (why)
            return why;
    }
    if (!in && d->has_max[t] && h > top && h - top > d->cfg.max_height_jump) {
        *res = DUTY_TOO_FAR_AHEAD;
        return "height more than [qbft] max_height_jump above the highest of this duty type";
    }
    if (!in && h + d->cfg.qbft.retention < top) {
        *res = DUTY_TOO_OLD;
        return "height below the retention window of this duty type";
    }
    if (!d->sdb_up)
        return "statedb unavailable";
    if (!in && d->nopen >= d->cfg.max_open)
        return "too many open instances";
    return NULL;
}

static const char *const result_labels[] = {
    [DUTY_ACCEPTED] = "accepted",           [DUTY_CONFLICT] = "conflict",
    [DUTY_UNAVAILABLE] = "unavailable",     [DUTY_NOT_FOUND] = "not_found",
    [DUTY_TOO_FAR_AHEAD] = "too_far_ahead", [DUTY_TOO_OLD] = "too_old",
};

void duties_submit(struct duties *d, const struct duties_asker *who, const struct duty_submit *s,
                   const char *trace_id)
{
    struct qbft_id id = {s->type, s->height};
    enum duty_result res;
    const char *why = admission(d, duties_inst_find(d, &id), s->type, s->height, &res);
    if (why) {
        DLOG(d, LOG_INFO, "consensus_recv", LS("kind", "duty"), LS("duty", duty_type_name(s->type)),
             LU("height", s->height), LS("result", result_labels[res]), LS("err", why));
        answer_submit(d, who, res);
        return;
    }
    /* A block duty's value is the builder's block: what the client posted is not kept (so a
     * slot this node started itself and the same duty posted later are one duty). */
    static const uint8_t null_payload[] = "null";
    struct duty_submit sub = *s;
    if (blocks_duty(d, s->type)) {
        sub.payload = null_payload;
        sub.payload_len = sizeof(null_payload) - 1;
    }
    s = &sub;
    struct sdb_req r = {.type = SDB_PUT_DUTY};
    r.u.put_duty = (struct sdb_duty){.dtype = s->type,
                                     .height = s->height,
                                     .payload = {s->payload, s->payload_len},
                                     .accepted_ms = d->host.wall_ms(d->host.ctx)};
    snprintf(r.u.put_duty.trace_id, sizeof(r.u.put_duty.trace_id), "%s", trace_id);
    struct dreq *q = duties_dreq_new(R_PUT_DUTY);
    q->who = *who;
    q->id = id;
    buf_append(&q->payload, s->payload, s->payload_len);
    if (duties_request(d, &r, q) < 0) {
        duties_sdb_status(d, false);
        answer_submit(d, who, DUTY_UNAVAILABLE);
    }
}

/* ---------------------------------------------------------------- DUTY_GET */

static void cert_to_view(struct duty_view *v, const uint8_t *cert, size_t len)
{
    struct qbft_signed *entries = xmalloc(QBFT_MAX_NODES * sizeof(*entries));
    size_t n = 0;
    if (len && qbft_cert_decode(cert, len, entries, QBFT_MAX_NODES, &n) == 0) {
        for (size_t i = 0; i < n && i < DUTY_MAX_NODES; i++) {
            v->cert[i].index = entries[i].b.sender;
            v->cert[i].round = entries[i].b.round;
            memcpy(v->cert[i].sig, entries[i].sig, SIG_LEN);
        }
        v->ncert = (uint32_t)(n < DUTY_MAX_NODES ? n : DUTY_MAX_NODES);
    }
    free(entries);
}

static void view_from_inst(const struct duties *d, struct duty_view *v, const struct dinst *in)
{
    v->decided = true;
    v->round = in->decided_round;
    v->has_value = true;
    memcpy(v->value_hash, in->value_hash, SHA256_LEN);
    v->value = in->value.data;
    v->value_len = (uint32_t)in->value.len;
    cert_to_view(v, in->cert.data, in->cert.len);
    for (unsigned i = 0; i < d->cfg.qbft.n; i++) {
        if (in->seal_mask & (1ull << i)) {
            v->seals[v->nseals].index = i;
            memcpy(v->seals[v->nseals].sig, in->seals[i], SIG_LEN);
            v->nseals++;
        }
    }
    v->has_tss = in->has_tss;
    v->tss = in->tss;
}

static void view(struct duties *d, const struct duties_asker *who, const struct duty_view *v)
{
    d->host.viewed(d->host.ctx, who, v);
}

/* Not decided in StateDB: is the duty known at all? */
static void on_view_decided(struct duties *d, struct dreq *q, const struct sdb_reply *r)
{
    if (!r) {
        view(d, &q->who, NULL);
        return;
    }
    if (r->status == SDB_OK && r->u.decided.present) {
        const struct sdb_decided *dd = &r->u.decided.d;
        struct duty_view *v = xcalloc(1, sizeof(*v));
        v->type = q->id.duty;
        v->height = q->id.height;
        v->result = DUTY_ACCEPTED;
        v->decided = true;
        v->round = dd->round;
        v->has_value = true;
        sha256(v->value_hash, dd->value.p, dd->value.len);
        v->value = dd->value.p;
        v->value_len = dd->value.len;
        if (dd->ncert > 0)
            cert_to_view(v, dd->cert[0].p, dd->cert[0].len);
        for (uint32_t i = 0; i < dd->nseals && i < DUTY_MAX_NODES; i++) {
            v->seals[i].index = dd->seals[i].index;
            memcpy(v->seals[i].sig, dd->seals[i].sig, SIG_LEN);
        }
        v->nseals = dd->nseals < DUTY_MAX_NODES ? dd->nseals : DUTY_MAX_NODES;
        v->has_tss = dd->tss.len > 0 && tss_record_decode(&v->tss, dd->tss.p, dd->tss.len) == 0;
        view(d, &q->who, v);
        free(v);
        return;
    }
    struct sdb_req g = {.type = SDB_GET_DUTY};
    g.u.get.dtype = q->id.duty;
    g.u.get.height = q->id.height;
    struct dreq *next = duties_dreq_new(R_VIEW_DUTY);
    next->who = q->who;
    next->id = q->id;
    if (duties_request(d, &g, next) < 0)
        view(d, &q->who, NULL);
}

static void on_view_duty(struct duties *d, struct dreq *q, const struct sdb_reply *r)
{
    if (!r) {
        view(d, &q->who, NULL);
        return;
    }
    struct duty_view v = {.type = q->id.duty, .height = q->id.height};
    v.result = r->status == SDB_OK && r->u.duty.present ? DUTY_ACCEPTED : DUTY_NOT_FOUND;
    view(d, &q->who, &v);
}

void duties_get(struct duties *d, const struct duties_asker *who, uint8_t type, uint64_t height)
{
    struct qbft_id id = {type, height};
    struct dinst *in = duties_inst_find(d, &id);
    struct qbft_info info;
    struct duty_view *v = xcalloc(1, sizeof(*v));
    v->type = type;
    v->height = height;
    v->result = DUTY_ACCEPTED;
    if (in && in->decided) {
        view_from_inst(d, v, in);
        view(d, who, v);
    } else if (qbft_info(d->eng, &id, &info) == 0 && info.status == QBFT_RUNNING) {
        v->round = info.round;
        view(d, who, v);
    } else {
        struct sdb_req g = {.type = SDB_GET_DECIDED};
        g.u.get.dtype = type;
        g.u.get.height = height;
        struct dreq *q = duties_dreq_new(R_VIEW_DECIDED);
        q->who = *who;
        q->id = id;
        if (duties_request(d, &g, q) < 0)
            view(d, who, NULL);
    }
    free(v);
}

/* Is a newer than b: started later, or the same start and higher (or a later type)? */
static bool brief_newer(const struct dinst *a, const struct dinst *b)
{
    if (a->start_mono_ms != b->start_mono_ms)
        return a->start_mono_ms > b->start_mono_ms;
    if (a->id.height != b->id.height)
        return a->id.height > b->id.height;
    return a->id.duty > b->id.duty;
}

size_t duties_recent(const struct duties *d, struct duty_brief *out, size_t max)
{
    const struct dinst *top[DUTY_RECENT_MAX] = {NULL};
    size_t n = 0;
    if (max > DUTY_RECENT_MAX)
        max = DUTY_RECENT_MAX;
    /* Keep the newest max in top[], newest first (insertion: max is small). Entries that
     * only hold early seals (neither started nor decided) are left out. */
    for (size_t b = 0; b < INST_BUCKETS && max > 0; b++) {
        for (const struct dinst *in = d->inst[b]; in; in = in->next) {
            if (!in->start_mono_ms && !in->decided)
                continue;
            size_t at = n;
            while (at > 0 && brief_newer(in, top[at - 1]))
                at--;
            if (at >= max)
                continue;
            size_t last = n < max ? n : max - 1;
            memmove(&top[at + 1], &top[at], (last - at) * sizeof(top[0]));
            top[at] = in;
            if (n < max)
                n++;
        }
    }
    uint64_t now = duties_mono(d);
    for (size_t i = 0; i < n; i++) {
        const struct dinst *in = top[i];
        struct qbft_info info;
        out[i] = (struct duty_brief){.type = (uint8_t)in->id.duty,
                                     .height = in->id.height,
                                     .decided = in->decided,
                                     .round = in->decided_round};
        if (!in->decided && qbft_info(d->eng, &in->id, &info) == 0)
            out[i].round = info.round;
        if (in->start_mono_ms && now > in->start_mono_ms)
            out[i].age_ms = now - in->start_mono_ms;
    }
    return n;
}

/* ---------------------------------------------------------------- from the network */

static bool seal_ok(struct duties *d, const struct seal *s)
{
    if (!d->host.verify_seal)
        return seal_verify(s, d->cfg.qbft.lock_hash, d->pubkeys[s->index]);
    uint8_t dg[SHA256_LEN];
    seal_digest(dg, d->cfg.qbft.lock_hash, s->duty, s->height, s->value_hash);
    return d->host.verify_seal(d->host.ctx, s->index, dg, s->sig);
}

static void on_seal(struct duties *d, unsigned from, const uint8_t *bytes, size_t len)
{
    struct seal s;
    if (seal_decode(&s, bytes, len) < 0 || s.index >= d->cfg.qbft.n) {
        d->host.report(d->host.ctx, from, DUTIES_REPORT_UNDECODABLE);
        return;
    }
    if (!seal_ok(d, &s)) {
        metric_inc(metric("block_sign_total", "invalid"));
        d->host.report(d->host.ctx, from, DUTIES_REPORT_INVALID_SIG);
        return;
    }
    struct qbft_id id = {s.duty, s.height};
    struct dinst *in = duties_inst_find(d, &id);
    if (!in || !in->decided) {
        /* It decided first: hold the seal until this node decides (bounded, one per operator). */
        if (d->nearly >= DUTIES_EARLY_SEALS ||
            s.height + d->cfg.qbft.height_window < d->max_height[s.duty])
            return;
        in = duties_inst_get(d, &id);
        for (struct early_seal *e = in->early; e; e = e->next)
            if (e->s.index == s.index)
                return;
        struct early_seal *e = xmalloc(sizeof(*e));
        e->s = s;
        e->next = in->early;
        in->early = e;
        d->nearly++;
        return;
    }
    if (memcmp(in->value_hash, s.value_hash, SHA256_LEN) != 0 ||
        (in->seal_mask & (1ull << s.index)))
        return; /* a seal of another value, or one already held */
    memcpy(in->seals[s.index], s.sig, SIG_LEN);
    in->seal_mask |= 1ull << s.index;
    if (in->persisted)
        persist_decided(d, in); /* StateDB merges the new seal into the record */
}

/* A peer still working on an instance this node decided but no longer holds in its engine (it
 * restarted since, for instance): bring the decision back from StateDB so the engine answers the
 * laggard with DECIDED. Looked up once per instance (the set is forgotten when it fills up). */
static void on_lookup(struct duties *d, struct dreq *q, const struct sdb_reply *r)
{
    if (!r || r->status != SDB_OK || !r->u.decided.present || r->u.decided.d.ncert == 0)
        return;
    const struct sdb_decided *dd = &r->u.decided.d;
    if (qbft_restore_decided(d->eng, &q->id, dd->value.p, dd->value.len, dd->cert[0].p,
                             dd->cert[0].len) == 0)
        DLOG(d, LOG_DEBUG, "qbft_state", LS("event", "decision_restored"),
             LS("duty", duty_type_name(q->id.duty)), LU("height", q->id.height));
}

static void lookup_decided(struct duties *d, const uint8_t *msg, size_t len)
{
    /* Only a peer changing rounds is stuck; fresh instances' messages often arrive first. */
    if (qbft_msg_decode(d->scratch, msg, len, QBFT_DECODE_WIRE) < 0 ||
        d->scratch->m.b.type != QBFT_ROUND_CHANGE)
        return;
    struct qbft_id id = {d->scratch->m.b.duty, d->scratch->m.b.height};
    for (size_t i = 0; i < d->nlookups; i++)
        if (d->lookups[i].duty == id.duty && d->lookups[i].height == id.height)
            return;
    struct dinst *in = duties_inst_find(d, &id);
    if (in && in->open)
        return;
    if (!d->lookups)
        d->lookups = xmalloc(DUTIES_LOOKUPS * sizeof(*d->lookups));
    if (d->nlookups == DUTIES_LOOKUPS)
        d->nlookups = 0;
    d->lookups[d->nlookups++] = id;
    struct sdb_req g = {.type = SDB_GET_DECIDED};
    g.u.get.dtype = id.duty;
    g.u.get.height = id.height;
    struct dreq *q = duties_dreq_new(R_LOOKUP);
    q->id = id;
    duties_request(d, &g, q);
}

int duties_deliver(struct duties *d, unsigned peer, enum qbft_topic_kind kind, const uint8_t *bytes,
                   size_t len)
{
    if (!d->loaded)
        return -1; /* peers resend; instances are rebuilt first */
    if (kind == QBFT_KIND_SEAL) {
        on_seal(d, peer, bytes, len);
        return -1;
    }
    enum qbft_verdict v = qbft_receive(d->eng, bytes, len, peer, duties_mono(d));
    blocks_flush(d);
    if (v == QBFT_SIG_INVALID)
        d->host.report(d->host.ctx, peer, DUTIES_REPORT_INVALID_SIG);
    else if (v == QBFT_BUFFERED) {
        lookup_decided(d, bytes, len);
        if (qbft_msg_decode(d->scratch, bytes, len, QBFT_DECODE_WIRE) == 0)
            blocks_join(d, &(struct qbft_id){d->scratch->m.b.duty, d->scratch->m.b.height});
    }
    return (int)v;
}

struct resend_ctx {
    struct duties *d;
    uint32_t peer;
};

static bool resend_one(struct ientry *e, void *arg)
{
    struct resend_ctx *c = arg;
    struct duties *d = c->d;
    struct qbft_id id = {e->k.duty, e->k.height};
    struct dinst *in = duties_inst_find(d, &id);
    if (!e->durable || (in && in->decided) || e->k.type == QBFT_INTENT_LOCK)
        return true;
    if (qbft_msg_decode(d->scratch, e->intent.data, e->intent.len, QBFT_DECODE_INTENT) == 0) {
        struct buf wire = BUF_INIT;
        qbft_msg_strip(&wire, d->scratch, e->intent.data, e->intent.len);
        duties_send_msg(d, c->peer, e->k.type, wire.data, wire.len);
        buf_free(&wire);
    }
    return true;
}

/* A peer (re)joined: give it what we said in every open instance, so it catches up at once. */
void duties_peer(struct duties *d, unsigned peer, bool up)
{
    if (!up || !d->loaded)
        return;
    struct resend_ctx c = {d, peer};
    icache_foreach(d->intents, resend_one, &c);
    blocks_peer_up(d, peer);
}

/* ---------------------------------------------------------------- start-up: reload */

static void sdb_hello(struct duties *d);
static void load_duties(struct duties *d, bool has_after, uint8_t dtype, uint64_t height);
static void load_intents(struct duties *d, bool has_after, struct sdb_intent_key after);

static void abstain_all_known(struct duties *d)
{
    for (unsigned t = 0; t < DUTY_TYPES; t++)
        d->abstain_below[t] = d->max_height[t] + 1 + d->cfg.qbft.height_window;
}

/* Rebuild every instance from its reloaded intents (grouped: they arrive in key order), then
 * start every undecided duty. After a StateDB fallback the node abstains from every instance at
 * a height it may have reached before the loss: up to the highest height it still knows of plus
 * [qbft] height_window (SPEC §7.5: when in doubt, abstain). */
static void finish_load(struct duties *d)
{
    uint64_t now_wall = d->host.wall_ms(d->host.ctx), now = duties_mono(d);
    size_t restored = 0, failed = 0, started = 0;
    struct qbft_intent *list = xcalloc(d->nreloaded ? d->nreloaded : 1, sizeof(*list));
    for (size_t i = 0; i < d->nreloaded;) {
        const struct ikey *k0 = &d->reloaded[i]->k;
        struct qbft_id id = {k0->duty, k0->height};
        size_t n = 0;
        for (; i < d->nreloaded && d->reloaded[i]->k.duty == id.duty &&
               d->reloaded[i]->k.height == id.height;
             i++) {
            struct ientry *e = d->reloaded[i];
            list[n++] = (struct qbft_intent){e->k.round, e->k.type, e->intent.data, e->intent.len};
        }
        if (qbft_restore(d->eng, &id, list, n) == 0) {
            restored++;
            metric_inc(metric("qbft_wal_recover_total", "ok"));
        } else {
            failed++;
            metric_inc(metric("qbft_wal_recover_total", "error"));
            DLOG(d, LOG_ERROR, "qbft_wal", LS("event", "restore_failed"), LU("height", id.height),
                 LS("err", strerror(errno)));
        }
        if (!d->has_max[id.duty] || id.height > d->max_height[id.duty]) {
            d->has_max[id.duty] = true;
            d->max_height[id.duty] = id.height;
        }
    }
    free(list);
    free(d->reloaded);
    d->reloaded = NULL;
    d->nreloaded = d->reloaded_cap = 0;
    for (struct loaded_duty *l = d->loaded_duties; l; l = l->next) {
        if (!d->has_max[l->id.duty] || l->id.height > d->max_height[l->id.duty]) {
            d->has_max[l->id.duty] = true;
            d->max_height[l->id.duty] = l->id.height;
        }
    }
    if (d->fallback)
        abstain_all_known(d);
    while (d->loaded_duties) {
        struct loaded_duty *l = d->loaded_duties;
        d->loaded_duties = l->next;
        uint64_t age = now_wall > l->accepted_ms ? now_wall - l->accepted_ms : 0;
        duties_start_instance(d, &l->id, l->payload.data, l->payload.len,
                              now > age ? now - age : 0);
        started++;
        buf_free(&l->payload);
        free(l);
    }
    d->loaded = true;
    DLOG(d, LOG_INFO, "qbft_wal", LS("event", "reloaded"), LU("duties", started),
         LU("restored", restored), LU("failed", failed), LU("intents", icache_count(d->intents)),
         LB("abstain", d->fallback));
    d->host.ready(d->host.ctx);
}

static void on_load_intents(struct duties *d, struct dreq *q, const struct sdb_reply *r)
{
    (void)q;
    if (!r || r->status != SDB_OK) {
        sdb_hello(d); /* start over: StateDB may have restarted (what was cached stays valid) */
        return;
    }
    struct sdb_intent_key last = {0};
    for (uint32_t i = 0; i < r->u.list.n; i++) {
        const struct sdb_intent *it = &r->u.list.v.intents[i];
        struct ikey k = {it->k.dtype, it->k.height, it->k.round, it->k.mtype};
        if (!icache_get(d->intents, &k) && k.type == QBFT_INTENT_LOCK) {
            /* not a message: a proposer lock (blocks.c) */
            blocks_reloaded(d, icache_add(d->intents, &k, it->msg.p, it->msg.len, true));
        } else if (!icache_get(d->intents, &k)) {
            if (d->nreloaded == d->reloaded_cap) {
                d->reloaded_cap = d->reloaded_cap ? 2 * d->reloaded_cap : 256;
                d->reloaded = xrealloc(d->reloaded, d->reloaded_cap * sizeof(*d->reloaded));
            }
            d->reloaded[d->nreloaded++] = icache_add(d->intents, &k, it->msg.p, it->msg.len, true);
            blocks_reloaded(d, d->reloaded[d->nreloaded - 1]);
        }
        last = it->k;
    }
    if (r->u.list.more && r->u.list.n > 0)
        load_intents(d, true, last);
    else
        finish_load(d);
}

static void load_intents(struct duties *d, bool has_after, struct sdb_intent_key after)
{
    struct sdb_req r = {.type = SDB_LOAD_INTENTS};
    r.u.load.has_after = has_after;
    r.u.load.after = after;
    r.u.load.max_bytes = DUTIES_LOAD_PAGE;
    if (duties_request(d, &r, duties_dreq_new(R_LOAD_INTENTS)) < 0)
        sdb_hello(d);
}

static void on_list_duties(struct duties *d, struct dreq *q, const struct sdb_reply *r)
{
    (void)q;
    if (!r || r->status != SDB_OK) {
        sdb_hello(d);
        return;
    }
    uint8_t dt = 0;
    uint64_t h = 0;
    for (uint32_t i = 0; i < r->u.list.n; i++) {
        const struct sdb_duty *du = &r->u.list.v.duties[i];
        struct loaded_duty *l = xcalloc(1, sizeof(*l));
        l->id = (struct qbft_id){du->dtype, du->height};
        buf_append(&l->payload, du->payload.p, du->payload.len);
        l->accepted_ms = du->accepted_ms;
        l->next = d->loaded_duties;
        d->loaded_duties = l;
        dt = du->dtype;
        h = du->height;
    }
    if (r->u.list.more && r->u.list.n > 0)
        load_duties(d, true, dt, h);
    else
        load_intents(d, false, (struct sdb_intent_key){0});
}

static void load_duties(struct duties *d, bool has_after, uint8_t dtype, uint64_t height)
{
    struct sdb_req r = {.type = SDB_LIST_DUTIES};
    r.u.list.has_after = has_after;
    r.u.list.dtype = dtype;
    r.u.list.height = height;
    r.u.list.undecided_only = true;
    r.u.list.max_bytes = DUTIES_LOAD_PAGE;
    if (duties_request(d, &r, duties_dreq_new(R_LIST_DUTIES)) < 0)
        sdb_hello(d);
}

static void free_loaded_duties(struct duties *d)
{
    while (d->loaded_duties) {
        struct loaded_duty *l = d->loaded_duties;
        d->loaded_duties = l->next;
        buf_free(&l->payload);
        free(l);
    }
}

static void on_hello(struct duties *d, struct dreq *q, const struct sdb_reply *r)
{
    (void)q;
    d->probing = false;
    if (!r) {
        duties_sdb_status(d, false);
        if (!d->loaded) {
            d->retry_hello = true;
            duties_arm_retry(d);
        }
        return;
    }
    duties_sdb_status(d, true);
    bool was = d->fallback;
    d->fallback = r->u.hello.fallback;
    d->recovered_ms = r->u.hello.recovered_ms;
    if (d->fallback && !was)
        DLOG(d, LOG_WARN, "qbft_wal", LS("event", "statedb_fallback"),
             LS("effect", "abstaining from every instance that may predate the loss"));
    if (d->loaded) {
        /* StateDB came back from a checkpoint while we run: what it lost may include votes of
         * an earlier incarnation of this worker. Abstain from every instance up to here. */
        if (d->fallback && !was) {
            abstain_all_known(d);
            for (size_t b = 0; b < INST_BUCKETS; b++)
                for (struct dinst *in = d->inst[b]; in; in = in->next)
                    if (!in->decided)
                        qbft_abstain(d->eng, &in->id);
        }
        return;
    }
    free_loaded_duties(d);
    load_duties(d, false, 0, 0);
}

static void sdb_hello(struct duties *d)
{
    struct sdb_req r = {.type = SDB_HELLO};
    r.u.hello.generation = d->cfg.generation;
    if (d->probing)
        return;
    if (duties_request(d, &r, duties_dreq_new(R_HELLO)) == 0) {
        d->probing = true;
    } else if (!d->loaded) {
        d->retry_hello = true;
        duties_arm_retry(d);
    }
}

/* ---------------------------------------------------------------- replies */

static void (*const on_reply[])(struct duties *, struct dreq *, const struct sdb_reply *) = {
    [R_HELLO] = on_hello,
    [R_LIST_DUTIES] = on_list_duties,
    [R_LOAD_INTENTS] = on_load_intents,
    [R_PUT_DUTY] = on_put_duty,
    [R_APPEND] = on_append,
    [R_PUT_DECIDED] = on_put_decided,
    [R_VIEW_DECIDED] = on_view_decided,
    [R_VIEW_DUTY] = on_view_duty,
    [R_LOOKUP] = on_lookup,
    [R_REPOST] = on_repost,
    [R_SELF_DUTY] = blocks_on_self_duty,
    [R_SYNC_SERVE] = blocks_on_sync_serve,
};

void duties_on_reply(struct duties *d, void *token, const struct sdb_reply *r)
{
    struct dreq *q = token;
    dreq_unlink(d, q);
    on_reply[q->kind](d, q, r);
    dreq_free(q);
}

/* ---------------------------------------------------------------- housekeeping */

static bool retry_intent(struct ientry *e, void *arg)
{
    struct duties *d = arg;
    if (!e->durable && !e->in_flight)
        duties_append_intent(d, e);
    return true;
}

/* What waits for StateDB: intents and decided records it has not taken, a HELLO. */
static void retry(struct duties *d)
{
    if (d->retry_intents) {
        d->retry_intents = false;
        icache_foreach(d->intents, retry_intent, d);
    }
    if (d->retry_decided) {
        d->retry_decided = false;
        for (size_t b = 0; b < INST_BUCKETS; b++)
            for (struct dinst *in = d->inst[b]; in; in = in->next)
                if (in->decided && !in->persisted && !in->persisting)
                    persist_decided(d, in);
    }
    if (d->retry_hello || (d->loaded && !d->sdb_up)) {
        d->retry_hello = false;
        sdb_hello(d); /* while loaded, a probe: an answer resumes voting */
    }
    if (d->loaded && !d->sdb_up)
        duties_arm_retry(d);
}

/* An instance that keeps changing rounds (it cannot decide) signs a ROUND-CHANGE each round:
 * intents of rounds more than round_window below its current round are never signed again
 * (rounds only grow; a restart rebuilds from the WAL and skips them too), so only StateDB
 * keeps them. */
static bool intent_needed(const struct ientry *e, void *arg)
{
    struct duties *d = arg;
    struct qbft_info info;
    if (e->k.type == QBFT_INTENT_LOCK ||
        qbft_info(d->eng, &(struct qbft_id){e->k.duty, e->k.height}, &info) < 0)
        return true;
    return info.status != QBFT_RUNNING || e->k.round + d->cfg.qbft.round_window >= info.round;
}

static void sweep(struct duties *d)
{
    /* An instance that cannot decide (too few nodes ever got its duty) must not hold an
     * admission slot forever: after instance_expire_ms it stops counting as open. The engine
     * keeps it until the retention window passes, so a late quorum still decides it. */
    uint64_t now = duties_mono(d), expire = d->cfg.instance_expire_ms;
    for (size_t b = 0; b < INST_BUCKETS && d->nopen > 0; b++) {
        for (struct dinst *in = d->inst[b]; in; in = in->next) {
            if (in->open && !in->deferred && now - in->start_mono_ms > expire) {
                duties_inst_close(d, in);
                metric_inc(metric("qbft_timeouts_total", "expired"));
                DLOG(d, LOG_WARN, "qbft_state", LS("event", "expired"),
                     LS("duty", duty_type_name(in->id.duty)), LU("height", in->id.height));
            }
        }
    }
    blocks_release(d); /* an expired block instance no longer holds the ones above it */
    icache_filter(d->intents, intent_needed, d);
    /* Instances more than the retention window below the highest one are forgotten by the
     * engine (their messages become "old") with their intents; StateDB keeps its own records
     * for [statedb] retention. */
    uint64_t keep = d->cfg.qbft.retention;
    for (unsigned t = 0; t < DUTY_TYPES; t++) {
        if (d->max_height[t] <= keep)
            continue;
        uint64_t below = d->max_height[t] - keep;
        qbft_prune(d->eng, t, below);
        icache_drop_below(d->intents, (uint8_t)t, below);
        for (size_t b = 0; b < INST_BUCKETS; b++) {
            struct dinst *in = d->inst[b];
            while (in) {
                struct dinst *next = in->next;
                if (in->id.duty == t && in->id.height < below && (!in->decided || in->persisted))
                    inst_remove(d, in);
                in = next;
            }
        }
    }
}

/* Decided instances leave memory beyond [qbft] decided_keep or decided_keep_s after their
 * decision, oldest first, once durable, with their intents (the engine keeps its own copy
 * for as long, qdecided_evict). GET then answers from StateDB, and so does a late peer's
 * ROUND-CHANGE (lookup_decided) or a duty posted again (repost). */
static void evict_decided(struct duties *d, uint64_t now)
{
    struct dinst *x;
    while ((x = d->decided_head) && x->persisted &&
           (d->ndecided > d->cfg.qbft.decided_keep ||
            now >= x->decided_mono_ms + d->cfg.qbft.decided_keep_ms)) {
        icache_drop_instance(d->intents, x->id.duty, x->id.height);
        inst_remove(d, x);
    }
}

void duties_tick(struct duties *d)
{
    uint64_t now = duties_mono(d);
    evict_decided(d, now);
    if (d->loaded) {
        qbft_tick(d->eng, now); /* round timers, and votes withheld before */
        blocks_flush(d);
        blocks_tick(d);
    }
    if (d->retry_at <= now) {
        d->retry_at = UINT64_MAX;
        retry(d);
    }
    if (d->sweep_at <= now) {
        d->sweep_at = now + DUTIES_SWEEP_MS;
        sweep(d);
    }
}

uint64_t duties_next_deadline(const struct duties *d)
{
    uint64_t t = d->loaded ? qbft_next_deadline(d->eng) : UINT64_MAX;
    if (d->loaded && blocks_deadline(d) < t)
        t = blocks_deadline(d);
    if (d->retry_at < t)
        t = d->retry_at;
    return d->sweep_at < t ? d->sweep_at : t;
}

/* ---------------------------------------------------------------- lifecycle */

struct duties *duties_new(const struct duties_config *cfg, const struct duties_host *host,
                          char *err, size_t errsz)
{
    struct duties *d = xcalloc(1, sizeof(*d));
    d->cfg = *cfg;
    d->host = *host;
    d->pubkeys = xmalloc(cfg->qbft.n * sizeof(*d->pubkeys));
    memcpy(d->pubkeys, cfg->qbft.pubkeys, cfg->qbft.n * sizeof(*d->pubkeys));
    d->cfg.qbft.pubkeys = (const uint8_t(*)[PUBKEY_LEN])d->pubkeys;
    struct qbft_host eh = {
        .ctx = d,
        .broadcast = h_broadcast,
        .unicast = h_unicast,
        .sign = h_sign,
        .verify = host->verify ? h_verify : NULL,
        .intent_get = h_intent_get,
        .intent_put = h_intent_put,
        .decided = h_decided,
        .verified = h_verified,
        .equivocation = h_equivocation,
        .abstained = h_abstained,
        .event = h_event,
        .validate_value = host->validate ? h_validate : NULL,
    };
    d->eng = qbft_engine_new(&d->cfg.qbft, &eh, err, errsz);
    if (!d->eng) {
        free(d->pubkeys);
        free(d);
        return NULL;
    }
    d->intents = icache_new();
    d->scratch = xmalloc(sizeof(*d->scratch));
    d->sdb_up = true;
    d->retry_at = UINT64_MAX;
    d->sync_deadline = UINT64_MAX;
    d->sweep_at = duties_mono(d) + DUTIES_SWEEP_MS;
    metric("qbft_equivocations_total");
    metric("qbft_wal_guard_drops_total");
    metric("qbft_view_changes_total");
    for (unsigned t = 0; t < DUTY_TYPES; t++)
        metric("qbft_decided_total", duty_type_name(t));
    if (cfg->block_duties) {
        metric("sync_blocks_total", "ok");
        metric("sync_blocks_total", "invalid");
    }
    return d;
}

void duties_start(struct duties *d)
{
    sdb_hello(d); /* ready once every duty and intent is reloaded */
}

bool duties_loaded(const struct duties *d)
{
    return d->loaded;
}

void duties_free(struct duties *d)
{
    if (!d)
        return;
    while (d->reqs) {
        struct dreq *q = d->reqs;
        d->reqs = q->next;
        dreq_free(q);
    }
    /* Everything goes: no list needs its links kept. */
    for (size_t b = 0; b < INST_BUCKETS; b++) {
        while (d->inst[b]) {
            struct dinst *in = d->inst[b];
            d->inst[b] = in->next;
            inst_free(d, in);
        }
    }
    free_loaded_duties(d);
    free(d->reloaded);
    free(d->lookups);
    free(d->abstain_q);
    free(d->scratch);
    icache_free(d->intents);
    qbft_engine_free(d->eng);
    free(d->pubkeys);
    free(d);
}

void duties_health(const struct duties *d, char *out, size_t n)
{
    out[0] = 0;
    if (d->loaded && !d->sdb_up)
        snprintf(out, n, "statedb unavailable: votes withheld");
}

int duties_input(struct duties *d, const struct qbft_id *id, const uint8_t *value, size_t len)
{
    struct dinst *in = duties_inst_find(d, id);
    if (in && in->refreshing)
        return blocks_new_input(d, in, value, len);
    if (!in || !in->awaiting_input) {
        errno = ENOENT;
        return -1;
    }
    in->awaiting_input = false;
    if (value && blocks_duty(d, id->duty))
        blocks_own_value(d, in, value, len);
    if (!in->started)
        duties_engine_start(d, in, value, len, in->start_mono_ms);
    else if (value) /* rebuilt on a new head: proposed from now on */
        qbft_set_input(d->eng, id, value, len, duties_mono(d));
    blocks_flush(d);
    return 0;
}

int duties_value_checked(struct duties *d, const struct qbft_id *id,
                         const uint8_t hash[QBFT_HASH_LEN], bool valid)
{
    return duties_value_judged(d, id, hash, valid ? DUTIES_VALID : DUTIES_INVALID);
}

void duties_set_tss(struct duties *d, const struct qbft_id *id, const struct tss_record *rec)
{
    struct dinst *in = duties_inst_find(d, id);
    if (in && in->decided && !in->has_tss) {
        in->has_tss = true;
        in->tss = *rec;
    }
}

size_t duties_intents_held(const struct duties *d)
{
    return icache_count(d->intents);
}

struct qbft_engine *duties_engine(struct duties *d)
{
    return d->eng;
}
