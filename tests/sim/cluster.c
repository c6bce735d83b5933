/* cluster: see cluster.h. */
#include "tests/sim/cluster.h"
#include "lib/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cl_emit {
    struct cl_emit *next;
    unsigned node;
    struct qbft_id id;
    uint64_t round;
    uint8_t type;
    uint8_t digest[SHA256_LEN];
};

void cl_opts_default(struct cl_opts *o, unsigned n)
{
    memset(o, 0, sizeof(*o));
    o->n = n;
    o->round_timeout_ms = 1000;
    o->round_timeout_max_ms = 8000;
    o->timer = QBFT_TIMER_EXPONENTIAL;
    o->decided_resends = 3;
    o->round_window = 10;
    o->sig_cache = 1024;
}

static void violation(struct cluster *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void violation(struct cluster *c, const char *fmt, ...)
{
    if (c->violations++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->violation, sizeof(c->violation), fmt, ap);
        va_end(ap);
    }
}

static uint64_t key_hash(unsigned node, const struct qbft_id *id, uint64_t round, uint8_t type)
{
    uint64_t x = ((id->height * 3 + id->duty) * 0x9e3779b97f4a7c15ull) ^ (round << 8) ^ type ^
                 ((uint64_t)node << 40);
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return x;
}

static bool id_eq(const struct qbft_id *a, const struct qbft_id *b)
{
    return a->duty == b->duty && a->height == b->height;
}

/* ---- checker ---- */

static void check_emission(struct cluster *c, unsigned node, const uint8_t *bytes, size_t len)
{
    struct qbft_msg *m = xmalloc(sizeof(*m));
    if (qbft_msg_decode(m, bytes, len, QBFT_DECODE_WIRE) < 0) {
        violation(c, "node %u emitted a message that does not decode", node);
        free(m);
        return;
    }
    const struct qbft_body *b = &m->m.b;
    struct qbft_id id = {b->duty, b->height};
    uint8_t digest[SHA256_LEN];
    qbft_signing_digest(digest, c->lock_hash, m->m.body, m->m.body_len);
    if (b->sender != node)
        violation(c, "node %u emitted a message signed as %u", node, b->sender);
    if (c->nemits + 1 > c->nebuckets) {
        size_t nb = c->nebuckets ? c->nebuckets * 2 : 1024;
        struct cl_emit **nbk = xcalloc(nb, sizeof(*nbk));
        for (size_t i = 0; i < c->nebuckets; i++) {
            struct cl_emit *x = c->ebuckets[i];
            while (x) {
                struct cl_emit *next = x->next;
                size_t h = key_hash(x->node, &x->id, x->round, x->type) & (nb - 1);
                x->next = nbk[h];
                nbk[h] = x;
                x = next;
            }
        }
        free(c->ebuckets);
        c->ebuckets = nbk;
        c->nebuckets = nb;
    }
    size_t h = key_hash(node, &id, b->round, b->type) & (c->nebuckets - 1);
    for (struct cl_emit *x = c->ebuckets[h]; x; x = x->next) {
        if (x->node == node && id_eq(&x->id, &id) && x->round == b->round && x->type == b->type) {
            if (memcmp(x->digest, digest, SHA256_LEN) != 0)
                violation(c, "node %u emitted two different %s messages for %s/%llu round %llu",
                          node, qbft_type_name(b->type), duty_type_name(id.duty),
                          (unsigned long long)id.height, (unsigned long long)b->round);
            free(m);
            return;
        }
    }
    struct cl_emit *x = xcalloc(1, sizeof(*x));
    x->node = node;
    x->id = id;
    x->round = b->round;
    x->type = b->type;
    memcpy(x->digest, digest, SHA256_LEN);
    x->next = c->ebuckets[h];
    c->ebuckets[h] = x;
    c->nemits++;
    free(m);
}

void cl_register_value(struct cluster *c, const void *value, size_t len)
{
    uint8_t h[SHA256_LEN];
    if (c->o.no_checks)
        return;
    sha256(h, len ? value : "", len);
    for (size_t i = 0; i < c->nvalues; i++)
        if (memcmp(c->values[i], h, SHA256_LEN) == 0)
            return;
    if (c->nvalues == c->capvalues) {
        c->capvalues = c->capvalues ? c->capvalues * 2 : 64;
        c->values = xrealloc(c->values, c->capvalues * sizeof(*c->values));
    }
    memcpy(c->values[c->nvalues++], h, SHA256_LEN);
}

static bool value_known(const struct cluster *c, const uint8_t h[SHA256_LEN])
{
    for (size_t i = 0; i < c->nvalues; i++)
        if (memcmp(c->values[i], h, SHA256_LEN) == 0)
            return true;
    return false;
}

static void check_decision(struct cluster *c, struct cl_node *nd, const struct cl_decision *d)
{
    uint64_t round;
    if (!c->o.stub_crypto &&
        qbft_cert_verify(d->cert, d->cert_len, c->n, (const uint8_t(*)[PUBKEY_LEN])c->pubkeys,
                         c->lock_hash, d->id.duty, d->id.height, d->hash, &round, NULL) < 0)
        violation(c, "node %u reported a certificate that does not verify", nd->index);
    if (!value_known(c, d->hash))
        violation(c, "validity: node %u decided a value nobody proposed for %s/%llu", nd->index,
                  duty_type_name(d->id.duty), (unsigned long long)d->id.height);
    for (size_t i = 0; i < c->nfirst; i++) {
        if (!id_eq(&c->first[i].id, &d->id))
            continue;
        if (memcmp(c->first[i].hash, d->hash, SHA256_LEN) != 0)
            violation(c, "agreement: node %u decided another value for %s/%llu", nd->index,
                      duty_type_name(d->id.duty), (unsigned long long)d->id.height);
        return;
    }
    if (c->nfirst == c->capfirst) {
        c->capfirst = c->capfirst ? c->capfirst * 2 : 16;
        c->first = xrealloc(c->first, c->capfirst * sizeof(*c->first));
    }
    struct cl_decision *f = &c->first[c->nfirst++];
    memset(f, 0, sizeof(*f));
    f->id = d->id;
    memcpy(f->hash, d->hash, SHA256_LEN);
}

/* ---- intent store (survives crashes) ---- */

const struct cl_intent *cl_intent_find(const struct cl_node *nd, const struct qbft_id *id,
                                       uint64_t round, uint8_t type)
{
    if (!nd->nibuckets)
        return NULL;
    size_t h = key_hash(0, id, round, type) & (nd->nibuckets - 1);
    for (const struct cl_intent *x = nd->ibuckets[h]; x; x = x->next)
        if (id_eq(&x->id, id) && x->round == round && x->type == type)
            return x;
    return NULL;
}

static void intent_insert(struct cl_node *nd, struct cl_intent *x)
{
    if (nd->nintents + 1 > nd->nibuckets) {
        size_t nb = nd->nibuckets ? nd->nibuckets * 2 : 256;
        struct cl_intent **b = xcalloc(nb, sizeof(*b));
        for (size_t i = 0; i < nd->nibuckets; i++) {
            struct cl_intent *y = nd->ibuckets[i];
            while (y) {
                struct cl_intent *next = y->next;
                size_t h = key_hash(0, &y->id, y->round, y->type) & (nb - 1);
                y->next = b[h];
                b[h] = y;
                y = next;
            }
        }
        free(nd->ibuckets);
        nd->ibuckets = b;
        nd->nibuckets = nb;
    }
    size_t h = key_hash(0, &x->id, x->round, x->type) & (nd->nibuckets - 1);
    x->next = nd->ibuckets[h];
    nd->ibuckets[h] = x;
    nd->nintents++;
}

/* ---- host callbacks ---- */

static void outbox_push(struct cl_node *nd, unsigned to, uint8_t type, const uint8_t *msg,
                        size_t len)
{
    if (nd->honest && !nd->c->o.no_checks)
        check_emission(nd->c, nd->index, msg, len);
    if (nd->nout == nd->capout) {
        nd->capout = nd->capout ? nd->capout * 2 : 16;
        nd->outbox = xrealloc(nd->outbox, nd->capout * sizeof(*nd->outbox));
    }
    struct cl_out *o = &nd->outbox[nd->nout++];
    o->to = to;
    o->type = type;
    o->len = len;
    o->bytes = xmalloc(len);
    memcpy(o->bytes, msg, len);
}

static void h_broadcast(void *ctx, uint8_t type, const uint8_t *msg, size_t len)
{
    outbox_push(ctx, CL_ALL, type, msg, len);
}

static void h_unicast(void *ctx, unsigned peer, uint8_t type, const uint8_t *msg, size_t len)
{
    outbox_push(ctx, peer, type, msg, len);
}

void cl_sign(const struct cluster *c, unsigned i, const uint8_t *body, size_t len,
             uint8_t sig[SIG_LEN])
{
    uint8_t digest[SHA256_LEN];
    qbft_signing_digest(digest, c->lock_hash, body, len);
    if (c->o.stub_crypto) {
        memcpy(sig, digest, SHA256_LEN);
        memset(sig + SHA256_LEN, (int)i, SIG_LEN - SHA256_LEN);
        return;
    }
    ecdsa_sign(&c->nodes[i].key, digest, sig);
}

static int h_sign(void *ctx, const uint8_t digest[SHA256_LEN], uint8_t sig[SIG_LEN])
{
    struct cl_node *nd = ctx;
    nd->signs++;
    if (nd->c->o.stub_crypto) {
        memcpy(sig, digest, SHA256_LEN);
        memset(sig + SHA256_LEN, (int)nd->index, SIG_LEN - SHA256_LEN);
        return 0;
    }
    ecdsa_sign(&nd->key, digest, sig);
    return 0;
}

static bool h_verify_stub(void *ctx, unsigned signer, const uint8_t digest[SHA256_LEN],
                          const uint8_t sig[SIG_LEN])
{
    (void)ctx;
    uint8_t tail[SIG_LEN - SHA256_LEN];
    memset(tail, (int)signer, sizeof(tail));
    return memcmp(sig, digest, SHA256_LEN) == 0 &&
           memcmp(sig + SHA256_LEN, tail, sizeof(tail)) == 0;
}

static bool h_verify_shared(void *ctx, unsigned signer, const uint8_t digest[SHA256_LEN],
                            const uint8_t sig[SIG_LEN])
{
    struct cluster *c = ((struct cl_node *)ctx)->c;
    uint64_t x;
    memcpy(&x, digest, sizeof(x));
    struct cl_verified *v = &c->verified[x & (CL_VERIFIED - 1)];
    if (v->used && v->signer == signer && memcmp(v->digest, digest, SHA256_LEN) == 0 &&
        memcmp(v->sig, sig, SIG_LEN) == 0)
        return v->ok;
    memcpy(v->digest, digest, SHA256_LEN);
    memcpy(v->sig, sig, SIG_LEN);
    v->signer = (uint8_t)signer;
    v->used = true;
    v->ok = signer < c->n && ecdsa_verify(c->pubkeys[signer], digest, sig);
    return v->ok;
}

static int h_intent_get(void *ctx, const struct qbft_id *id, uint64_t round, uint8_t type,
                        const uint8_t **bytes, size_t *len)
{
    struct cl_node *nd = ctx;
    if (nd->store_down)
        return -1;
    const struct cl_intent *x = cl_intent_find(nd, id, round, type);
    if (!x)
        return 0;
    *bytes = x->bytes;
    *len = x->len;
    return 1;
}

static int h_intent_put(void *ctx, const struct qbft_id *id, uint64_t round, uint8_t type,
                        const uint8_t *bytes, size_t len)
{
    struct cl_node *nd = ctx;
    if (nd->store_down)
        return -1;
    if (cl_intent_find(nd, id, round, type)) {
        violation(nd->c, "node %u put a second intent for one key", nd->index);
        return -1;
    }
    cl_intent_put(nd, id, round, type, bytes, len);
    if (nd->crash_after_put == type) {
        nd->crash_after_put = 0;
        nd->crash_before_send = true;
    }
    return 0;
}

void cl_intent_put(struct cl_node *nd, const struct qbft_id *id, uint64_t round, uint8_t type,
                   const uint8_t *bytes, size_t len)
{
    struct cl_intent *x = xcalloc(1, sizeof(*x));
    x->id = *id;
    x->round = round;
    x->type = type;
    x->len = len;
    x->bytes = xmalloc(len);
    memcpy(x->bytes, bytes, len);
    intent_insert(nd, x);
}

static void h_decided(void *ctx, const struct qbft_id *id, const uint8_t *value, size_t len,
                      const uint8_t value_hash[QBFT_HASH_LEN], uint64_t round, const uint8_t *cert,
                      size_t cert_len)
{
    struct cl_node *nd = ctx;
    struct cluster *c = nd->c;
    uint8_t h[SHA256_LEN];
    sha256(h, len ? value : (const uint8_t *)"", len);
    if (memcmp(h, value_hash, SHA256_LEN) != 0)
        violation(c, "node %u decided a value that does not match its hash", nd->index);
    for (size_t i = 0; i < nd->ndecisions; i++) {
        if (id_eq(&nd->decisions[i].id, id)) {
            if (memcmp(nd->decisions[i].hash, value_hash, SHA256_LEN) != 0)
                violation(c, "node %u decided %s/%llu twice, differently", nd->index,
                          duty_type_name(id->duty), (unsigned long long)id->height);
            return;
        }
    }
    nd->decisions = xrealloc(nd->decisions, (nd->ndecisions + 1) * sizeof(*nd->decisions));
    struct cl_decision *d = &nd->decisions[nd->ndecisions++];
    d->id = *id;
    memcpy(d->hash, value_hash, SHA256_LEN);
    d->round = round;
    d->value = xmalloc(len ? len : 1);
    memcpy(d->value, value, len);
    d->len = len;
    d->cert = xmalloc(cert_len);
    memcpy(d->cert, cert, cert_len);
    d->cert_len = cert_len;
    if (nd->honest) {
        c->decisions++;
        if (!c->o.no_checks)
            check_decision(c, nd, d);
    }
}

static void h_verified(void *ctx, const char *type, const char *result)
{
    struct cl_node *nd = ctx;
    snprintf(nd->last_type, sizeof(nd->last_type), "%s", type);
    snprintf(nd->last_result, sizeof(nd->last_result), "%s", result);
    for (unsigned v = 0; v < CL_LABELS; v++)
        if (strcmp(qbft_verdict_name((enum qbft_verdict)v), result) == 0)
            nd->verdicts[v]++;
}

static void h_equivocation(void *ctx, const struct qbft_id *id, unsigned sender,
                           const uint8_t a[SHA256_LEN], const uint8_t b[SHA256_LEN])
{
    struct cl_node *nd = ctx;
    (void)id;
    (void)sender;
    nd->equivocations++;
    memcpy(nd->evidence[0], a, SHA256_LEN);
    memcpy(nd->evidence[1], b, SHA256_LEN);
}

static void h_abstained(void *ctx, const struct qbft_id *id, uint8_t type)
{
    struct cl_node *nd = ctx;
    (void)id;
    (void)type;
    nd->abstains++;
}

static void h_event(void *ctx, const struct qbft_id *id, enum qbft_event ev, const char *label,
                    uint64_t round)
{
    struct cl_node *nd = ctx;
    (void)id;
    (void)round;
    if (ev == QBFT_EV_WAL_GUARD)
        nd->wal_guards++;
    nd->events[ev]++;
    snprintf(nd->event_labels[ev], sizeof(nd->event_labels[ev]), "%s", label);
}

static bool h_validate(void *ctx, const struct qbft_id *id, const uint8_t *value, size_t len)
{
    struct cl_node *nd = ctx;
    struct cluster *c = nd->c;
    return !c->validate || c->validate(c->validate_ctx, id, value, len);
}

/* ---- nodes ---- */

static void engine_up(struct cluster *c, struct cl_node *nd)
{
    struct qbft_config cfg;
    struct qbft_host host = {
        .ctx = nd,
        .broadcast = h_broadcast,
        .unicast = h_unicast,
        .sign = h_sign,
        .verify = c->o.stub_crypto     ? h_verify_stub
                  : c->o.shared_verify ? h_verify_shared
                                       : NULL,
        .intent_get = h_intent_get,
        .intent_put = h_intent_put,
        .decided = h_decided,
        .verified = h_verified,
        .equivocation = h_equivocation,
        .abstained = h_abstained,
        .event = h_event,
        .validate_value = h_validate,
    };
    char err[256];
    qbft_config_defaults(&cfg);
    cfg.n = c->n;
    cfg.self = nd->index;
    cfg.pubkeys = (const uint8_t(*)[PUBKEY_LEN])c->pubkeys;
    memcpy(cfg.lock_hash, c->lock_hash, SHA256_LEN);
    cfg.round_timeout_ms = c->o.round_timeout_ms;
    cfg.round_timeout_max_ms = c->o.round_timeout_max_ms;
    cfg.timer = c->o.timer;
    cfg.decided_resends = c->o.decided_resends;
    cfg.round_window = c->o.round_window;
    cfg.sig_cache = c->o.sig_cache;
    if (c->o.retention)
        cfg.retention = c->o.retention;
    if (c->o.height_window)
        cfg.height_window = c->o.height_window;
    if (c->o.buffer_msgs_per_peer)
        cfg.buffer_msgs_per_peer = c->o.buffer_msgs_per_peer;
    nd->eng = qbft_engine_new(&cfg, &host, err, sizeof(err));
    if (!nd->eng)
        fatalx("cluster: %s", err);
    nd->alive = true;
}

struct cluster *cl_new(const struct cl_opts *o)
{
    struct cluster *c = xcalloc(1, sizeof(*c));
    c->o = *o;
    c->n = o->n;
    c->pubkeys = xcalloc(c->n, sizeof(*c->pubkeys));
    if (o->shared_verify)
        c->verified = xcalloc(CL_VERIFIED, sizeof(*c->verified));
    c->nodes = xcalloc(c->n, sizeof(*c->nodes));
    uint8_t seed[8 + 4];
    for (int i = 0; i < 8; i++)
        seed[i] = (uint8_t)(o->seed >> (8 * i));
    sha256(c->lock_hash, seed, 8);
    for (unsigned i = 0; i < c->n; i++) {
        struct cl_node *nd = &c->nodes[i];
        uint8_t sec[SECKEY_LEN];
        nd->c = c;
        nd->index = i;
        nd->honest = true;
        for (uint32_t k = 0;; k++) {
            memcpy(seed + 8, &k, 4);
            sec[0] = (uint8_t)i;
            uint8_t tmp[sizeof(seed) + 1];
            memcpy(tmp, seed, sizeof(seed));
            tmp[sizeof(seed)] = (uint8_t)i;
            sha256(sec, tmp, sizeof(tmp));
            if (node_key_from_secret(&nd->key, sec) == 0)
                break;
        }
        memcpy(c->pubkeys[i], nd->key.pub, PUBKEY_LEN);
    }
    for (unsigned i = 0; i < c->n; i++)
        engine_up(c, &c->nodes[i]);
    return c;
}

static void outbox_clear(struct cl_node *nd)
{
    for (size_t i = 0; i < nd->nout; i++)
        free(nd->outbox[i].bytes);
    nd->nout = 0;
}

void cl_free(struct cluster *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->n; i++) {
        struct cl_node *nd = &c->nodes[i];
        qbft_engine_free(nd->eng);
        outbox_clear(nd);
        free(nd->outbox);
        for (size_t b = 0; b < nd->nibuckets; b++) {
            struct cl_intent *x = nd->ibuckets[b];
            while (x) {
                struct cl_intent *next = x->next;
                free(x->bytes);
                free(x);
                x = next;
            }
        }
        free(nd->ibuckets);
        for (size_t k = 0; k < nd->ndecisions; k++) {
            free(nd->decisions[k].value);
            free(nd->decisions[k].cert);
        }
        free(nd->decisions);
        for (size_t k = 0; k < nd->nduties; k++)
            free(nd->duties[k].value);
        free(nd->duties);
    }
    for (size_t b = 0; b < c->nebuckets; b++) {
        struct cl_emit *x = c->ebuckets[b];
        while (x) {
            struct cl_emit *next = x->next;
            free(x);
            x = next;
        }
    }
    free(c->ebuckets);
    cl_drain(c);
    free(c->q);
    free(c->values);
    free(c->first);
    free(c->nodes);
    free(c->pubkeys);
    free(c->verified);
    free(c);
}

static void queue_push(struct cluster *c, unsigned from, unsigned to, uint8_t type,
                       const uint8_t *bytes, size_t len)
{
    if (c->qhead + c->qlen == c->qcap) {
        if (c->qhead > c->qcap / 2) {
            memmove(c->q, c->q + c->qhead, c->qlen * sizeof(*c->q));
            c->qhead = 0;
        } else {
            c->qcap = c->qcap ? c->qcap * 2 : 256;
            c->q = xrealloc(c->q, c->qcap * sizeof(*c->q));
        }
    }
    struct cl_msg *m = &c->q[c->qhead + c->qlen++];
    m->from = from;
    m->to = to;
    m->type = type;
    m->len = len;
    m->bytes = xmalloc(len);
    memcpy(m->bytes, bytes, len);
}

static void send_one(struct cluster *c, unsigned from, unsigned to, uint8_t type,
                     const uint8_t *bytes, size_t len)
{
    if (c->send)
        c->send(c->send_ctx, c, from, to, type, bytes, len);
    else
        queue_push(c, from, to, type, bytes, len);
}

/* After an engine call: the intents are durable, the messages leave (or a crash loses them). */
static void flush(struct cluster *c, struct cl_node *nd)
{
    if (nd->crash_before_send) {
        nd->crash_before_send = false;
        outbox_clear(nd);
        cl_crash(c, nd->index);
        return;
    }
    /* Sending may re-enter (a hook that delivers at once): take the outbox first. */
    size_t nout = nd->nout;
    struct cl_out *out = nd->outbox;
    nd->outbox = NULL;
    nd->nout = nd->capout = 0;
    for (size_t i = 0; i < nout; i++) {
        struct cl_out *o = &out[i];
        if (o->to == CL_ALL) {
            for (unsigned j = 0; j < c->n; j++)
                if (j != nd->index)
                    send_one(c, nd->index, j, o->type, o->bytes, o->len);
        } else {
            send_one(c, nd->index, o->to, o->type, o->bytes, o->len);
        }
        free(o->bytes);
    }
    free(out);
}

int cl_start(struct cluster *c, unsigned i, const struct qbft_id *id, const void *value, size_t len)
{
    struct cl_node *nd = &c->nodes[i];
    cl_register_value(c, value, len);
    nd->duties = xrealloc(nd->duties, (nd->nduties + 1) * sizeof(*nd->duties));
    struct cl_duty *d = &nd->duties[nd->nduties++];
    d->id = *id;
    d->value = xmalloc(len ? len : 1);
    memcpy(d->value, value, len);
    d->len = len;
    d->start_ms = c->now;
    if (!nd->alive)
        return 0; /* persisted; the engine starts it at restart */
    int rc = qbft_start(nd->eng, id, value, len, c->now, c->now);
    flush(c, nd);
    return rc;
}

enum qbft_verdict cl_deliver(struct cluster *c, unsigned to, unsigned from, const uint8_t *bytes,
                             size_t len)
{
    struct cl_node *nd = &c->nodes[to];
    if (!nd->alive)
        return QBFT_ERROR;
    enum qbft_verdict v = qbft_receive(nd->eng, bytes, len, from, c->now);
    flush(c, nd);
    return v;
}

void cl_tick(struct cluster *c, unsigned i)
{
    struct cl_node *nd = &c->nodes[i];
    if (!nd->alive)
        return;
    qbft_tick(nd->eng, c->now);
    flush(c, nd);
}

uint64_t cl_next_deadline(const struct cluster *c, unsigned i)
{
    const struct cl_node *nd = &c->nodes[i];
    return nd->alive ? qbft_next_deadline(nd->eng) : UINT64_MAX;
}

void cl_crash(struct cluster *c, unsigned i)
{
    struct cl_node *nd = &c->nodes[i];
    (void)c;
    if (!nd->alive)
        return;
    qbft_engine_free(nd->eng);
    nd->eng = NULL;
    nd->alive = false;
    outbox_clear(nd);
}

const struct cl_decision *cl_decision(const struct cluster *c, unsigned i, const struct qbft_id *id)
{
    const struct cl_node *nd = &c->nodes[i];
    for (size_t k = 0; k < nd->ndecisions; k++)
        if (id_eq(&nd->decisions[k].id, id))
            return &nd->decisions[k];
    return NULL;
}

/* A restarted node: decided instances from the decision store, the others rebuilt from their
 * intents and started again with the persisted duty and its original start time. */
void cl_restart(struct cluster *c, unsigned i)
{
    struct cl_node *nd = &c->nodes[i];
    if (nd->alive)
        return;
    engine_up(c, nd);
    nd->restarts++;
    for (size_t k = 0; k < nd->nduties; k++) {
        const struct cl_duty *d = &nd->duties[k];
        const struct cl_decision *dec = cl_decision(c, i, &d->id);
        if (dec) {
            if (qbft_restore_decided(nd->eng, &d->id, dec->value, dec->len, dec->cert,
                                     dec->cert_len) < 0)
                violation(c, "node %u could not restore a decided instance", i);
            continue;
        }
        struct qbft_intent *its = NULL;
        size_t nits = 0;
        for (size_t b = 0; b < nd->nibuckets; b++)
            for (const struct cl_intent *x = nd->ibuckets[b]; x; x = x->next)
                if (id_eq(&x->id, &d->id)) {
                    its = xrealloc(its, (nits + 1) * sizeof(*its));
                    its[nits++] = (struct qbft_intent){x->round, x->type, x->bytes, x->len};
                }
        if (nits && qbft_restore(nd->eng, &d->id, its, nits) < 0)
            violation(c, "node %u could not restore its intents", i);
        free(its);
        if (qbft_start(nd->eng, &d->id, d->value, d->len, d->start_ms, c->now) < 0)
            violation(c, "node %u could not restart an instance", i);
        flush(c, nd);
    }
}

void cl_craft(const struct cluster *c, unsigned i, const struct qbft_body *b, const void *value,
              size_t vlen, const struct qbft_sigref *just, size_t njust, struct buf *out)
{
    struct buf body = BUF_INIT;
    uint8_t sig[SIG_LEN];
    qbft_body_encode(&body, b);
    cl_sign(c, i, body.data, body.len, sig);
    struct qbft_sigref self = {body.data, body.len, sig};
    qbft_msg_encode(out, &self, value, vlen, just, njust);
    buf_free(&body);
}

/* ---- FIFO delivery ---- */

size_t cl_run(struct cluster *c, cl_filter_fn filter, void *ctx, size_t max)
{
    size_t done = 0;
    while (c->qlen > 0 && done < max) {
        struct cl_msg m = c->q[c->qhead++];
        c->qlen--;
        if (!c->qlen)
            c->qhead = 0;
        if (!filter || filter(ctx, &m))
            cl_deliver(c, m.to, m.from, m.bytes, m.len);
        free(m.bytes);
        done++;
    }
    return done;
}

void cl_drain(struct cluster *c)
{
    for (size_t i = 0; i < c->qlen; i++)
        free(c->q[c->qhead + i].bytes);
    c->qhead = c->qlen = 0;
}

bool cl_advance(struct cluster *c, uint64_t until, cl_filter_fn filter, void *ctx)
{
    uint64_t t = UINT64_MAX;
    for (unsigned i = 0; i < c->n; i++) {
        uint64_t d = cl_next_deadline(c, i);
        if (d < t)
            t = d;
    }
    if (t > until)
        return false;
    if (t > c->now)
        c->now = t;
    for (unsigned i = 0; i < c->n; i++)
        if (cl_next_deadline(c, i) <= c->now)
            cl_tick(c, i);
    cl_run(c, filter, ctx, SIZE_MAX);
    return true;
}

bool cl_all_decided(const struct cluster *c, const struct qbft_id *id)
{
    for (unsigned i = 0; i < c->n; i++)
        if (c->nodes[i].honest && !cl_decision(c, i, id))
            return false;
    return true;
}
