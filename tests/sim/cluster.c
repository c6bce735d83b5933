/* cluster: see cluster.h. */
#include "tests/sim/cluster.h"
#include "lib/util.h"
#include "proto/p2p.h"

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

/* ---- the node's host: outbox, keys, reports ---- */

static void outbox_push(struct cl_node *nd, unsigned to, uint8_t type, const uint8_t *msg,
                        size_t len)
{
    if (type != CL_SEAL && nd->honest && !nd->c->o.no_checks)
        check_emission(nd->c, nd->index, msg, len);
    if (nd->nout == nd->capout) {
        nd->capout = nd->capout ? nd->capout * 2 : 16;
        nd->outbox = xrealloc(nd->outbox, nd->capout * sizeof(*nd->outbox));
    }
    struct cl_out *o = &nd->outbox[nd->nout++];
    o->to = to;
    o->type = type;
    o->len = len;
    o->bytes = xmalloc(len ? len : 1);
    memcpy(o->bytes, msg, len);
}

static void h_send(void *ctx, uint32_t peer, enum qbft_topic_kind kind, uint8_t type,
                   const uint8_t *bytes, size_t len)
{
    outbox_push(ctx, peer == P2P_BROADCAST ? CL_ALL : peer, kind == QBFT_KIND_SEAL ? CL_SEAL : type,
                bytes, len);
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

/* Seals: checked once per (digest, signature, signer) for all nodes — they do not steer
 * consensus, and every node checking each one would be most of the simulator's time. */
static bool h_verify_seal(void *ctx, unsigned signer, const uint8_t digest[SHA256_LEN],
                          const uint8_t sig[SIG_LEN])
{
    return ((struct cl_node *)ctx)->c->o.stub_crypto ? h_verify_stub(ctx, signer, digest, sig)
                                                     : h_verify_shared(ctx, signer, digest, sig);
}

static void h_report(void *ctx, unsigned peer, enum duties_report why)
{
    struct cl_node *nd = ctx;
    (void)peer;
    nd->reports[why]++;
}

static uint64_t h_now(void *ctx)
{
    return ((struct cl_node *)ctx)->c->now;
}

static void h_submitted(void *ctx, const struct duties_asker *who, enum duty_result res)
{
    (void)who;
    ((struct cl_node *)ctx)->submitted = (int)res;
}

static void h_viewed(void *ctx, const struct duties_asker *who, const struct duty_view *v)
{
    (void)ctx;
    (void)who;
    (void)v;
}

static void h_ready(void *ctx)
{
    ((struct cl_node *)ctx)->ready = true;
}

static enum qbft_validity h_validate(void *ctx, const struct qbft_id *id,
                                     const uint8_t hash[QBFT_HASH_LEN], const uint8_t *value,
                                     size_t len)
{
    struct cluster *c = ((struct cl_node *)ctx)->c;
    (void)hash;
    return c->o.validate(c->o.validate_ctx, id, value, len);
}

/* The engine's reports, tapped. */

static void t_verified(void *ctx, const char *type, const char *result)
{
    struct cl_node *nd = ctx;
    snprintf(nd->last_type, sizeof(nd->last_type), "%s", type);
    snprintf(nd->last_result, sizeof(nd->last_result), "%s", result);
    for (unsigned v = 0; v < CL_LABELS; v++)
        if (strcmp(qbft_verdict_name((enum qbft_verdict)v), result) == 0)
            nd->verdicts[v]++;
}

static void t_equivocation(void *ctx, const struct qbft_id *id, unsigned sender,
                           const uint8_t a[SHA256_LEN], const uint8_t b[SHA256_LEN])
{
    struct cl_node *nd = ctx;
    (void)id;
    (void)sender;
    nd->equivocations++;
    memcpy(nd->evidence[0], a, SHA256_LEN);
    memcpy(nd->evidence[1], b, SHA256_LEN);
}

static void t_abstained(void *ctx, const struct qbft_id *id, uint8_t type)
{
    struct cl_node *nd = ctx;
    (void)id;
    (void)type;
    nd->abstains++;
}

static void t_event(void *ctx, const struct qbft_id *id, enum qbft_event ev, const char *label,
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

/* ---- StateDB stand-in: applied when asked, answered when the node's call returns ---- */

struct cl_reply {
    void *token;
    struct sdb_reply r;
    void *own; /* what the reply's arrays point to */
};

static void reply_push(struct cl_node *nd, void *token, const struct sdb_reply *r, void *own)
{
    if (nd->rhead + nd->nrep == nd->caprep && nd->rhead > 0) {
        memmove(nd->replies, nd->replies + nd->rhead, nd->nrep * sizeof(*nd->replies));
        nd->rhead = 0;
    } else if (nd->nrep == nd->caprep) {
        nd->caprep = nd->caprep ? 2 * nd->caprep : 16;
        nd->replies = xrealloc(nd->replies, nd->caprep * sizeof(*nd->replies));
    }
    nd->replies[nd->rhead + nd->nrep++] = (struct cl_reply){token, *r, own};
}

static void replies_clear(struct cl_node *nd)
{
    for (size_t i = 0; i < nd->nrep; i++)
        free(nd->replies[nd->rhead + i].own);
    nd->rhead = nd->nrep = 0;
}

void cl_intent_put(struct cl_node *nd, const struct qbft_id *id, uint64_t round, uint8_t type,
                   const uint8_t *bytes, size_t len)
{
    struct cl_intent *x = xcalloc(1, sizeof(*x));
    x->id = *id;
    x->round = round;
    x->type = type;
    x->len = len;
    x->bytes = xmalloc(len ? len : 1);
    memcpy(x->bytes, bytes, len);
    intent_insert(nd, x);
}

static struct cl_duty *duty_find(struct cl_node *nd, const struct qbft_id *id)
{
    for (size_t k = 0; k < nd->nduties; k++)
        if (id_eq(&nd->duties[k].id, id))
            return &nd->duties[k];
    return NULL;
}

static void duty_store(struct cl_node *nd, const struct qbft_id *id, const void *value, size_t len,
                       uint64_t accepted_ms)
{
    nd->duties = xrealloc(nd->duties, (nd->nduties + 1) * sizeof(*nd->duties));
    struct cl_duty *d = &nd->duties[nd->nduties++];
    d->id = *id;
    d->value = xmalloc(len ? len : 1);
    memcpy(d->value, value, len);
    d->len = len;
    d->start_ms = accepted_ms;
}

static struct cl_decision *decision_find(const struct cl_node *nd, const struct qbft_id *id)
{
    for (size_t k = 0; k < nd->ndecisions; k++)
        if (id_eq(&nd->decisions[k].id, id))
            return &nd->decisions[k];
    return NULL;
}

static void sdb_duty_of(struct sdb_duty *out, const struct cl_duty *d)
{
    memset(out, 0, sizeof(*out));
    out->dtype = d->id.duty;
    out->height = d->id.height;
    out->payload = (struct sdb_bytes){d->value, (uint32_t)d->len};
    out->accepted_ms = d->start_ms;
}

/* The stored record as a reply's decided (cert and seals allocated in *own). */
static void sdb_decided_of(const struct cl_node *nd, struct sdb_decided *out,
                           const struct cl_decision *d, void **own)
{
    struct {
        struct sdb_bytes cert;
        struct sdb_seal seals[QBFT_MAX_NODES];
    } *o = xcalloc(1, sizeof(*o));
    memset(out, 0, sizeof(*out));
    out->dtype = d->id.duty;
    out->height = d->id.height;
    out->round = (uint32_t)d->round;
    out->value = (struct sdb_bytes){d->value, (uint32_t)d->len};
    o->cert = (struct sdb_bytes){d->cert, (uint32_t)d->cert_len};
    out->ncert = 1;
    out->cert = &o->cert;
    for (unsigned i = 0; i < nd->c->n; i++) {
        if (d->seal_mask & (1ull << i)) {
            o->seals[out->nseals].index = i;
            memcpy(o->seals[out->nseals].sig, d->seals[i], SIG_LEN);
            out->nseals++;
        }
    }
    out->seals = o->seals;
    *own = o;
}

static void put_decided(struct cl_node *nd, const struct sdb_decided *in, struct sdb_reply *rep)
{
    struct cluster *c = nd->c;
    struct qbft_id id = {in->dtype, in->height};
    uint8_t h[SHA256_LEN];
    sha256(h, in->value.len ? in->value.p : (const uint8_t *)"", in->value.len);
    struct cl_decision *d = decision_find(nd, &id);
    if (d && memcmp(d->hash, h, SHA256_LEN) != 0) {
        violation(c, "node %u decided %s/%llu twice, differently", nd->index,
                  duty_type_name(id.duty), (unsigned long long)id.height);
        rep->status = SDB_CONFLICT;
        return;
    }
    rep->status = d ? SDB_DUPLICATE : SDB_OK;
    if (!d) {
        nd->decisions = xrealloc(nd->decisions, (nd->ndecisions + 1) * sizeof(*nd->decisions));
        d = &nd->decisions[nd->ndecisions++];
        memset(d, 0, sizeof(*d));
        d->id = id;
        memcpy(d->hash, h, SHA256_LEN);
        d->round = in->round;
        d->value = xmalloc(in->value.len ? in->value.len : 1);
        memcpy(d->value, in->value.p, in->value.len);
        d->len = in->value.len;
        d->cert_len = in->ncert ? in->cert[0].len : 0;
        d->cert = xmalloc(d->cert_len ? d->cert_len : 1);
        memcpy(d->cert, in->cert[0].p, d->cert_len);
        d->seals = xcalloc(c->n, sizeof(*d->seals));
        if (nd->honest) {
            c->decisions++;
            if (!c->o.no_checks)
                check_decision(c, nd, d);
        }
    }
    for (uint32_t i = 0; i < in->nseals; i++) {
        if (in->seals[i].index < c->n && !(d->seal_mask & (1ull << in->seals[i].index))) {
            memcpy(d->seals[in->seals[i].index], in->seals[i].sig, SIG_LEN);
            d->seal_mask |= 1ull << in->seals[i].index;
            rep->status = SDB_OK;
        }
    }
}

static int intent_key_cmp(const void *a, const void *b)
{
    const struct cl_intent *x = *(const struct cl_intent *const *)a;
    const struct cl_intent *y = *(const struct cl_intent *const *)b;
    if (x->id.duty != y->id.duty)
        return x->id.duty < y->id.duty ? -1 : 1;
    if (x->id.height != y->id.height)
        return x->id.height < y->id.height ? -1 : 1;
    if (x->round != y->round)
        return x->round < y->round ? -1 : 1;
    return x->type < y->type ? -1 : x->type > y->type;
}

static bool after_intent(const struct cl_intent *x, const struct sdb_intent_key *k)
{
    struct cl_intent y = {.id = {k->dtype, k->height}, .round = k->round, .type = k->mtype};
    const struct cl_intent *px = x, *py = &y;
    return intent_key_cmp(&px, &py) > 0;
}

/* LOAD_INTENTS: the intents of undecided instances after the key, in key order, paged. */
static void *load_intents(struct cl_node *nd, const struct sdb_req *r, struct sdb_reply *rep)
{
    struct cl_intent **all = xmalloc((nd->nintents ? nd->nintents : 1) * sizeof(*all));
    size_t n = 0;
    for (size_t b = 0; b < nd->nibuckets; b++)
        for (struct cl_intent *x = nd->ibuckets[b]; x; x = x->next)
            if (!decision_find(nd, &x->id) &&
                (!r->u.load.has_after || after_intent(x, &r->u.load.after)))
                all[n++] = x;
    qsort(all, n, sizeof(*all), intent_key_cmp);
    size_t page = nd->c->o.sdb_page && nd->c->o.sdb_page < n ? nd->c->o.sdb_page : n;
    struct sdb_intent *out = xcalloc(page ? page : 1, sizeof(*out));
    for (size_t i = 0; i < page; i++) {
        const struct cl_intent *x = all[i];
        out[i].k = (struct sdb_intent_key){x->id.duty, x->id.height, (uint32_t)x->round, x->type};
        out[i].msg = (struct sdb_bytes){x->bytes, (uint32_t)x->len};
    }
    rep->u.list.n = (uint32_t)page;
    rep->u.list.more = page < n;
    rep->u.list.v.intents = out;
    free(all);
    return out;
}

static int duty_key_cmp(const void *a, const void *b)
{
    const struct cl_duty *x = *(const struct cl_duty *const *)a;
    const struct cl_duty *y = *(const struct cl_duty *const *)b;
    if (x->id.duty != y->id.duty)
        return x->id.duty < y->id.duty ? -1 : 1;
    return x->id.height < y->id.height ? -1 : x->id.height > y->id.height;
}

/* LIST_DUTIES (undecided only, as the QBFT worker asks): after the key, in key order, paged. */
static void *list_duties(struct cl_node *nd, const struct sdb_req *r, struct sdb_reply *rep)
{
    struct cl_duty **all = xmalloc((nd->nduties ? nd->nduties : 1) * sizeof(*all));
    struct cl_duty key = {.id = {r->u.list.dtype, r->u.list.height}};
    const struct cl_duty *pk = &key;
    size_t n = 0;
    for (size_t k = 0; k < nd->nduties; k++) {
        struct cl_duty *d = &nd->duties[k];
        if ((!r->u.list.undecided_only || !decision_find(nd, &d->id)) &&
            (!r->u.list.has_after || duty_key_cmp(&d, &pk) > 0))
            all[n++] = d;
    }
    qsort(all, n, sizeof(*all), duty_key_cmp);
    size_t page = nd->c->o.sdb_page && nd->c->o.sdb_page < n ? nd->c->o.sdb_page : n;
    struct sdb_duty *out = xcalloc(page ? page : 1, sizeof(*out));
    for (size_t i = 0; i < page; i++)
        sdb_duty_of(&out[i], all[i]);
    rep->u.list.n = (uint32_t)page;
    rep->u.list.more = page < n;
    rep->u.list.v.duties = out;
    free(all);
    return out;
}

static void *append_intent(struct cl_node *nd, const struct sdb_req *r, struct sdb_reply *rep)
{
    const struct sdb_intent *a = &r->u.append;
    struct qbft_id id = {a->k.dtype, a->k.height};
    uint8_t type = a->k.mtype;
    const struct cl_intent *x = cl_intent_find(nd, &id, a->k.round, type);
    if (x && (x->len != a->msg.len || memcmp(x->bytes, a->msg.p, x->len) != 0)) {
        if (nd->honest)
            violation(nd->c, "node %u appended a second, different intent for one key", nd->index);
        rep->status = SDB_REFUSED;
        rep->u.stored.present = true;
        rep->u.stored.msg = (struct sdb_bytes){x->bytes, (uint32_t)x->len};
        return NULL;
    }
    rep->status = x ? SDB_DUPLICATE : SDB_OK;
    if (!x)
        cl_intent_put(nd, &id, a->k.round, type, a->msg.p, a->msg.len);
    if (nd->crash_after_put == type) {
        nd->crash_after_put = 0;
        nd->crash_before_send = true; /* durable, but the node dies before it hears so */
    }
    return NULL;
}

static void *put_duty(struct cl_node *nd, const struct sdb_req *r, struct sdb_reply *rep)
{
    const struct sdb_duty *in = &r->u.put_duty;
    struct qbft_id id = {in->dtype, in->height};
    struct cl_duty *d = duty_find(nd, &id);
    if (!d) {
        duty_store(nd, &id, in->payload.p, in->payload.len, in->accepted_ms);
        rep->status = SDB_OK;
        return NULL;
    }
    bool same = d->len == in->payload.len && memcmp(d->value, in->payload.p, d->len) == 0;
    rep->status = same ? SDB_DUPLICATE : SDB_CONFLICT;
    rep->u.duty.present = true;
    sdb_duty_of(&rep->u.duty.d, d);
    return NULL;
}

static void *get(struct cl_node *nd, const struct sdb_req *r, struct sdb_reply *rep)
{
    struct qbft_id id = {r->u.get.dtype, r->u.get.height};
    void *own = NULL;
    if (r->type == SDB_GET_DUTY) {
        struct cl_duty *d = duty_find(nd, &id);
        rep->status = d ? SDB_OK : SDB_NOT_FOUND;
        rep->u.duty.present = d != NULL;
        if (d)
            sdb_duty_of(&rep->u.duty.d, d);
    } else {
        struct cl_decision *d = decision_find(nd, &id);
        rep->status = d ? SDB_OK : SDB_NOT_FOUND;
        rep->u.decided.present = d != NULL;
        if (d)
            sdb_decided_of(nd, &rep->u.decided.d, d, &own);
    }
    return own;
}

static void *hello(struct cl_node *nd, const struct sdb_req *r, struct sdb_reply *rep)
{
    (void)r;
    rep->status = SDB_OK;
    rep->u.hello.fallback = nd->store_fallback;
    return NULL;
}

static void *put_decided_req(struct cl_node *nd, const struct sdb_req *r, struct sdb_reply *rep)
{
    put_decided(nd, &r->u.put_decided, rep);
    return NULL;
}

static void *(*const sdb_ops[])(struct cl_node *, const struct sdb_req *, struct sdb_reply *) = {
    [SDB_HELLO - SDB_HELLO] = hello,
    [SDB_APPEND_INTENT - SDB_HELLO] = append_intent,
    [SDB_LOAD_INTENTS - SDB_HELLO] = load_intents,
    [SDB_PUT_DUTY - SDB_HELLO] = put_duty,
    [SDB_GET_DUTY - SDB_HELLO] = get,
    [SDB_LIST_DUTIES - SDB_HELLO] = list_duties,
    [SDB_PUT_DECIDED - SDB_HELLO] = put_decided_req,
    [SDB_GET_DECIDED - SDB_HELLO] = get,
};

static int h_sdb_request(void *ctx, const struct sdb_req *r, void *token)
{
    struct cl_node *nd = ctx;
    size_t op = (size_t)(r->type - SDB_HELLO);
    if (nd->store_down)
        return -1;
    if (op >= ARRAY_LEN(sdb_ops) || !sdb_ops[op])
        fatalx("cluster: StateDB request %s not handled", sdb_type_name(r->type));
    struct sdb_reply rep = {.type = sdb_reply_type(r->type), .durable = true};
    void *own = sdb_ops[op](nd, r, &rep);
    reply_push(nd, token, &rep, own);
    return 0;
}

/* ---- nodes ---- */

static void node_up(struct cluster *c, struct cl_node *nd)
{
    static const struct qbft_host tap = {
        .verified = t_verified,
        .equivocation = t_equivocation,
        .abstained = t_abstained,
        .event = t_event,
    };
    struct duties_host host = {
        .ctx = nd,
        .mono_ms = h_now,
        .wall_ms = h_now,
        .send = h_send,
        .report = h_report,
        .sdb_request = h_sdb_request,
        .submitted = h_submitted,
        .viewed = h_viewed,
        .sign = h_sign,
        .verify = c->o.stub_crypto     ? h_verify_stub
                  : c->o.shared_verify ? h_verify_shared
                                       : NULL,
        .verify_seal = h_verify_seal,
        .ready = h_ready,
        .validate = c->o.validate ? h_validate : NULL,
        .tap = &nd->tap,
    };
    struct duties_config cfg = {
        .max_open = 512,
        .max_height_jump = 1000000,
        .instance_expire_ms = 60000,
        .builder_duties = c->o.validate ? (1u << DUTY_TYPES) - 1 : 0,
        .generation = nd->restarts + 1,
    };
    char err[256];
    nd->tap = tap;
    nd->tap.ctx = nd;
    qbft_config_defaults(&cfg.qbft);
    cfg.qbft.n = c->n;
    cfg.qbft.self = nd->index;
    cfg.qbft.pubkeys = (const uint8_t(*)[PUBKEY_LEN])c->pubkeys;
    memcpy(cfg.qbft.lock_hash, c->lock_hash, SHA256_LEN);
    cfg.qbft.round_timeout_ms = c->o.round_timeout_ms;
    cfg.qbft.round_timeout_max_ms = c->o.round_timeout_max_ms;
    cfg.qbft.timer = c->o.timer;
    cfg.qbft.decided_resends = c->o.decided_resends;
    cfg.qbft.round_window = c->o.round_window;
    cfg.qbft.sig_cache = c->o.sig_cache;
    if (c->o.retention)
        cfg.qbft.retention = c->o.retention;
    if (c->o.height_window)
        cfg.qbft.height_window = c->o.height_window;
    if (c->o.buffer_msgs_per_peer)
        cfg.qbft.buffer_msgs_per_peer = c->o.buffer_msgs_per_peer;
    nd->d = duties_new(&cfg, &host, err, sizeof(err));
    if (!nd->d)
        fatalx("cluster: %s", err);
    nd->eng = duties_engine(nd->d);
    nd->alive = true;
    nd->ready = false;
    nd->submitted = -1;
}

static void flush(struct cluster *c, struct cl_node *nd);

struct cluster *cl_new(const struct cl_opts *o)
{
    struct cluster *c = xcalloc(1, sizeof(*c));
    c->o = *o;
    c->n = o->n;
    c->pubkeys = xcalloc(c->n, sizeof(*c->pubkeys));
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
    for (unsigned i = 0; i < c->n; i++) {
        node_up(c, &c->nodes[i]);
        duties_start(c->nodes[i].d);
        flush(c, &c->nodes[i]);
    }
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
        duties_free(nd->d);
        outbox_clear(nd);
        free(nd->outbox);
        replies_clear(nd);
        free(nd->replies);
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
            free(nd->decisions[k].seals);
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
    m->bytes = xmalloc(len ? len : 1);
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

/* After a node call: StateDB answers what the node asked (which may ask more), then what the
 * node released leaves — unless the node dies first (an injected crash: its intents are stored,
 * its messages lost). */
static void flush(struct cluster *c, struct cl_node *nd)
{
    while (nd->alive) {
        if (nd->crash_before_send) {
            nd->crash_before_send = false;
            cl_crash(c, nd->index);
            return;
        }
        if (!nd->nrep)
            break;
        struct cl_reply r = nd->replies[nd->rhead++];
        if (!--nd->nrep)
            nd->rhead = 0;
        duties_on_reply(nd->d, r.token, &r.r);
        free(r.own);
    }
    if (!nd->alive)
        return;
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
    if (!nd->alive) {
        if (!duty_find(nd, id))
            duty_store(nd, id, value, len, c->now); /* the node reloads it at restart */
        return 0;
    }
    struct duty_submit s = {
        .type = id->duty, .height = id->height, .payload = value, .payload_len = (uint32_t)len};
    struct duties_asker who = {0};
    nd->submitted = -1;
    duties_submit(nd->d, &who, &s, "");
    flush(c, nd);
    return nd->submitted == DUTY_ACCEPTED ? 0 : -1;
}

enum qbft_verdict cl_deliver(struct cluster *c, unsigned to, unsigned from, const uint8_t *bytes,
                             size_t len)
{
    struct cl_node *nd = &c->nodes[to];
    if (!nd->alive)
        return QBFT_ERROR;
    int v = duties_deliver(nd->d, from, QBFT_KIND_MSG, bytes, len);
    flush(c, nd);
    return v < 0 ? QBFT_ERROR : (enum qbft_verdict)v;
}

void cl_deliver_seal(struct cluster *c, unsigned to, unsigned from, const uint8_t *bytes,
                     size_t len)
{
    struct cl_node *nd = &c->nodes[to];
    if (!nd->alive)
        return;
    duties_deliver(nd->d, from, QBFT_KIND_SEAL, bytes, len);
    flush(c, nd);
}

void cl_tick(struct cluster *c, unsigned i)
{
    struct cl_node *nd = &c->nodes[i];
    if (!nd->alive)
        return;
    duties_tick(nd->d);
    flush(c, nd);
}

int cl_value_checked(struct cluster *c, unsigned i, const struct qbft_id *id,
                     const uint8_t hash[QBFT_HASH_LEN], bool valid)
{
    struct cl_node *nd = &c->nodes[i];
    if (!nd->alive)
        return -1;
    int rc = duties_value_checked(nd->d, id, hash, valid);
    flush(c, nd);
    return rc;
}

uint64_t cl_next_deadline(const struct cluster *c, unsigned i)
{
    const struct cl_node *nd = &c->nodes[i];
    return nd->alive ? duties_next_deadline(nd->d) : UINT64_MAX;
}

void cl_crash(struct cluster *c, unsigned i)
{
    struct cl_node *nd = &c->nodes[i];
    (void)c;
    if (!nd->alive)
        return;
    duties_free(nd->d);
    nd->d = NULL;
    nd->eng = NULL;
    nd->alive = false;
    outbox_clear(nd);
    replies_clear(nd);
}

const struct cl_decision *cl_decision(const struct cluster *c, unsigned i, const struct qbft_id *id)
{
    return decision_find(&c->nodes[i], id);
}

/* A restarted node reloads as the worker does (HELLO, LIST_DUTIES, LOAD_INTENTS): undecided
 * instances are rebuilt from their intents and started again with their original start time;
 * decided ones come back from StateDB when a peer still needs them. */
void cl_restart(struct cluster *c, unsigned i)
{
    struct cl_node *nd = &c->nodes[i];
    if (nd->alive)
        return;
    node_up(c, nd);
    nd->restarts++;
    duties_start(nd->d);
    flush(c, nd);
    if (!nd->alive)
        return;
    if (!nd->ready)
        violation(c, "node %u did not finish its reload", i);
    for (size_t k = 0; k < nd->nduties; k++) {
        struct qbft_info info;
        const struct qbft_id *id = &nd->duties[k].id;
        if (!decision_find(nd, id) &&
            (qbft_info(nd->eng, id, &info) < 0 || info.status == QBFT_PENDING_START))
            violation(c, "node %u did not restart %s/%llu", i, duty_type_name(id->duty),
                      (unsigned long long)id->height);
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
        bool pass = !filter || filter(ctx, &m);
        if (pass && m.type == CL_SEAL)
            cl_deliver_seal(c, m.to, m.from, m.bytes, m.len);
        else if (pass)
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
