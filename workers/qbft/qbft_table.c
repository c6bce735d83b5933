/*
 * qbft_table: see qbft_table.h.
 *
 * Instances live in a hash table keyed by (duty, height); running ones are also on a list that
 * the timer functions walk. Each instance keeps a window of rounds (current ± round_window), and
 * in each round one slot per (type, sender): a second, different message for an occupied slot is
 * an equivocation, the same one a replay. Messages for instances that have not started wait in a
 * per-instance list, bounded per peer in count and bytes.
 */
#include "workers/qbft/qbft_table.h"
#include "lib/util.h"

#include <secp256k1.h>
#include <stdlib.h>
#include <string.h>

void qevent(struct qbft_engine *e, const struct qinst *in, enum qbft_event ev, const char *label,
            uint64_t round)
{
    if (e->host.event)
        e->host.event(e->host.ctx, &in->id, ev, label, round);
}

static void val_free(struct qval *v)
{
    free(v->data);
    memset(v, 0, sizeof(*v));
}

static void msg_free(struct qmsg *m)
{
    if (m) {
        free(m->just);
        free(m);
    }
}

static void round_free(const struct qbft_engine *e, struct qround *qr)
{
    for (unsigned i = 0; i < QSLOT_TYPES * e->cfg.n; i++)
        msg_free(qr->m[i]);
    free(qr->m);
}

static void active_unlink(struct qbft_engine *e, struct qinst *in)
{
    if (in->aprev)
        in->aprev->anext = in->anext;
    else if (e->active == in)
        e->active = in->anext;
    if (in->anext)
        in->anext->aprev = in->aprev;
    in->anext = in->aprev = NULL;
}

static void pend_clear(struct qbft_engine *e, struct qinst *in)
{
    struct qpend *p = in->pend;
    while (p) {
        struct qpend *next = p->next;
        e->pend_msgs[p->from]--;
        e->pend_bytes[p->from] -= p->len;
        free(p);
        p = next;
    }
    in->pend = NULL;
    in->pend_tail = &in->pend;
}

static void decided_unlink(struct qbft_engine *e, struct qinst *in)
{
    if (in->status != QBFT_DECIDED_STATUS)
        return;
    if (in->dprev)
        in->dprev->dnext = in->dnext;
    else
        e->dhead = in->dnext;
    if (in->dnext)
        in->dnext->dprev = in->dprev;
    else
        e->dtail = in->dprev;
    in->dnext = in->dprev = NULL;
    e->ndecided--;
}

static void inst_free(struct qbft_engine *e, struct qinst *in)
{
    active_unlink(e, in);
    decided_unlink(e, in);
    pend_clear(e, in);
    for (size_t i = 0; i < in->nrounds; i++)
        round_free(e, &in->rounds[i]);
    free(in->rounds);
    for (unsigned i = 0; i < in->nvals; i++)
        val_free(&in->vals[i]);
    val_free(&in->input);
    val_free(&in->dvalue);
    free(in->pjust);
    free(in->far_rc);
    free(in->dcert);
    buf_free(&in->cert);
    buf_free(&in->dmsg);
    free(in->dseen);
    free(in->rcseen);
    free(in->answers);
    free(in->answer_ms);
    free(in);
}

void qtable_clear(struct qbft_engine *e)
{
    for (size_t b = 0; b < e->nbuckets; b++) {
        struct qinst *in = e->buckets[b];
        while (in) {
            struct qinst *next = in->hnext;
            inst_free(e, in);
            in = next;
        }
        e->buckets[b] = NULL;
    }
    e->ninst = 0;
    e->dhead = e->dtail = NULL;
    e->ndecided = 0;
}

/* ---- instance table ---- */

static size_t id_hash(const struct qbft_id *id, size_t nbuckets)
{
    uint64_t x = id->height * 4 + id->duty;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)(x & (nbuckets - 1));
}

struct qinst *qinst_find(const struct qbft_engine *e, const struct qbft_id *id)
{
    for (struct qinst *in = e->buckets[id_hash(id, e->nbuckets)]; in; in = in->hnext)
        if (in->id.duty == id->duty && in->id.height == id->height)
            return in;
    return NULL;
}

static void table_grow(struct qbft_engine *e)
{
    size_t nb = e->nbuckets * 2;
    struct qinst **b = xcalloc(nb, sizeof(*b));
    for (size_t i = 0; i < e->nbuckets; i++) {
        struct qinst *in = e->buckets[i];
        while (in) {
            struct qinst *next = in->hnext;
            size_t h = id_hash(&in->id, nb);
            in->hnext = b[h];
            b[h] = in;
            in = next;
        }
    }
    free(e->buckets);
    e->buckets = b;
    e->nbuckets = nb;
}

struct qinst *qinst_get(struct qbft_engine *e, const struct qbft_id *id)
{
    struct qinst *in = qinst_find(e, id);
    if (in)
        return in;
    if (e->ninst + 1 > e->nbuckets)
        table_grow(e);
    in = xcalloc(1, sizeof(*in));
    in->id = *id;
    in->status = QBFT_PENDING_START;
    in->round = 1;
    in->pend_tail = &in->pend;
    size_t h = id_hash(id, e->nbuckets);
    in->hnext = e->buckets[h];
    e->buckets[h] = in;
    e->ninst++;
    return in;
}

void qinst_remove(struct qbft_engine *e, struct qinst *in)
{
    struct qinst **pp = &e->buckets[id_hash(&in->id, e->nbuckets)];
    while (*pp != in)
        pp = &(*pp)->hnext;
    *pp = in->hnext;
    e->ninst--;
    inst_free(e, in);
}

void qdecided_add(struct qbft_engine *e, struct qinst *in, uint64_t now)
{
    in->decided_ms = now;
    in->dnext = NULL;
    in->dprev = e->dtail;
    if (e->dtail)
        e->dtail->dnext = in;
    else
        e->dhead = in;
    e->dtail = in;
    e->ndecided++;
}

void qdecided_evict(struct qbft_engine *e, uint64_t now)
{
    while (e->dhead && (e->ndecided > e->cfg.decided_keep ||
                        now >= e->dhead->decided_ms + e->cfg.decided_keep_ms))
        qinst_remove(e, e->dhead);
}

/* ---- rounds and slots ---- */

struct qround *qround_find(const struct qinst *in, uint64_t round)
{
    size_t lo = 0, hi = in->nrounds;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (in->rounds[mid].round < round)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < in->nrounds && in->rounds[lo].round == round ? &in->rounds[lo] : NULL;
}

struct qround *qround_get(struct qbft_engine *e, struct qinst *in, uint64_t round)
{
    struct qround *qr = qround_find(in, round);
    if (qr)
        return qr;
    if (in->nrounds == in->caprounds) {
        in->caprounds = in->caprounds ? in->caprounds * 2 : 4;
        in->rounds = xrealloc(in->rounds, in->caprounds * sizeof(*in->rounds));
    }
    size_t pos = in->nrounds;
    while (pos > 0 && in->rounds[pos - 1].round > round)
        pos--;
    memmove(&in->rounds[pos + 1], &in->rounds[pos], (in->nrounds - pos) * sizeof(*in->rounds));
    in->nrounds++;
    qr = &in->rounds[pos];
    memset(qr, 0, sizeof(*qr));
    qr->round = round;
    qr->m = xcalloc(QSLOT_TYPES * e->cfg.n, sizeof(*qr->m));
    return qr;
}

struct qmsg **qslot(const struct qbft_engine *e, const struct qround *qr, uint8_t type,
                    unsigned sender)
{
    return &qr->m[(size_t)(type - 1) * e->cfg.n + sender];
}

/* Drop rounds that fell out of the window behind the current round. */
static void rounds_trim(struct qbft_engine *e, struct qinst *in)
{
    uint64_t w = e->cfg.round_window;
    uint64_t low = in->round > w ? in->round - w : 1;
    size_t drop = 0;
    while (drop < in->nrounds && in->rounds[drop].round < low)
        round_free(e, &in->rounds[drop++]);
    if (drop) {
        memmove(in->rounds, in->rounds + drop, (in->nrounds - drop) * sizeof(*in->rounds));
        in->nrounds -= drop;
    }
}

void qinst_enter_round(struct qbft_engine *e, struct qinst *in, uint64_t round, bool want_rc,
                       const char *cause)
{
    bool higher = round > in->round;
    in->round = round;
    in->deadline = qbft_round_end(&e->cfg, in->start_ms, round);
    struct qround *qr = qround_get(e, in, round);
    if (want_rc)
        qr->want_rc = true;
    rounds_trim(e, in);
    if (higher)
        qevent(e, in, QBFT_EV_ROUND_CHANGE, cause, round);
}

/* ---- values ---- */

const struct qval *qval_find(const struct qinst *in, const uint8_t hash[QBFT_HASH_LEN])
{
    if (in->has_input && memcmp(in->input.hash, hash, QBFT_HASH_LEN) == 0)
        return &in->input;
    for (unsigned i = 0; i < in->nvals; i++)
        if (memcmp(in->vals[i].hash, hash, QBFT_HASH_LEN) == 0)
            return &in->vals[i];
    return NULL;
}

void qval_set(struct qval *v, const uint8_t hash[QBFT_HASH_LEN], const uint8_t *data, size_t len)
{
    memcpy(v->hash, hash, QBFT_HASH_LEN);
    v->data = xmalloc(len ? len : 1);
    if (len)
        memcpy(v->data, data, len);
    v->len = (uint32_t)len;
}

/*
 * Remember a value (its hash was checked by the caller), with the latest round that referred to
 * it. When full, the value referred to longest ago makes room, never the prepared one: values
 * come only from leaders' proposals (one per round) and prepared ROUND-CHANGEs, so what the
 * current round needs (its proposal, the values its ROUND-CHANGEs carry) is never evicted.
 */
void qval_add(struct qinst *in, const uint8_t hash[QBFT_HASH_LEN], const uint8_t *data, size_t len,
              uint64_t round)
{
    struct qval *victim = NULL;
    for (unsigned i = 0; i < in->nvals; i++) {
        struct qval *v = &in->vals[i];
        if (memcmp(v->hash, hash, QBFT_HASH_LEN) == 0) {
            if (round > v->round)
                v->round = round;
            return;
        }
        if ((!in->pr || memcmp(v->hash, in->ph, QBFT_HASH_LEN) != 0) &&
            (!victim || v->round < victim->round))
            victim = v;
    }
    if (in->nvals < QBFT_VALUES)
        victim = &in->vals[in->nvals++];
    else
        val_free(victim);
    qval_set(victim, hash, data, len);
    victim->round = round;
}

void qval_replace_input(struct qinst *in, const uint8_t hash[QBFT_HASH_LEN], const uint8_t *data,
                        size_t len)
{
    if (in->has_input && memcmp(in->input.hash, hash, QBFT_HASH_LEN) == 0)
        return;
    if (in->has_input) {
        struct qval old = in->input;
        memset(&in->input, 0, sizeof(in->input));
        qval_add(in, old.hash, old.data, old.len, in->round);
        for (unsigned i = 0; i < in->nvals; i++)
            if (memcmp(in->vals[i].hash, old.hash, QBFT_HASH_LEN) == 0)
                in->vals[i].check = old.check;
        val_free(&old);
    }
    qval_set(&in->input, hash, data, len);
    in->has_input = true;
}

void qval_mark(struct qinst *in, const uint8_t hash[QBFT_HASH_LEN], enum qcheck check)
{
    if (in->has_input && memcmp(in->input.hash, hash, QBFT_HASH_LEN) == 0)
        in->input.check = (uint8_t)check;
    for (unsigned i = 0; i < in->nvals; i++)
        if (memcmp(in->vals[i].hash, hash, QBFT_HASH_LEN) == 0)
            in->vals[i].check = (uint8_t)check;
}

void qsig_set(struct qsig *s, const uint8_t *body, size_t body_len, const uint8_t *sig)
{
    memcpy(s->body, body, body_len);
    s->body_len = (uint8_t)body_len;
    memcpy(s->sig, sig, SIG_LEN);
}

void qinst_set_prepared(struct qinst *in, uint64_t round, const uint8_t hash[QBFT_HASH_LEN],
                        const struct qsig *prepares, size_t n)
{
    in->pr = round;
    memcpy(in->ph, hash, QBFT_HASH_LEN);
    free(in->pjust);
    in->pjust = xmalloc((n ? n : 1) * sizeof(*in->pjust));
    memcpy(in->pjust, prepares, n * sizeof(*in->pjust));
    in->npjust = (uint16_t)n;
}

void qinst_run(struct qbft_engine *e, struct qinst *in)
{
    in->status = QBFT_RUNNING;
    in->anext = e->active;
    if (e->active)
        e->active->aprev = in;
    e->active = in;
}

void qinst_stop(struct qbft_engine *e, struct qinst *in)
{
    active_unlink(e, in);
    pend_clear(e, in);
    in->blocked = false;
    for (unsigned i = 0; i < in->nvals; i++)
        val_free(&in->vals[i]);
    in->nvals = 0;
}

/* ---- signatures ---- */

static size_t cache_index(const struct qbft_engine *e, const uint8_t digest[SHA256_LEN])
{
    uint64_t x;
    memcpy(&x, digest, sizeof(x));
    return (size_t)(x & e->cache_mask);
}

void qsig_remember(struct qbft_engine *e, const uint8_t digest[SHA256_LEN],
                   const uint8_t sig[SIG_LEN])
{
    struct sigc_entry *c = &e->cache[cache_index(e, digest)];
    memcpy(c->digest, digest, SHA256_LEN);
    memcpy(c->sig, sig, SIG_LEN);
    c->used = true;
}

/* The digest covers the body, which names the signer; an entry matches only the same digest
 * with the same signature bytes, so a cached "valid" is never lent to another signature. */
bool qsig_check(struct qbft_engine *e, unsigned signer, const uint8_t digest[SHA256_LEN],
                const uint8_t sig[SIG_LEN])
{
    const struct sigc_entry *c = &e->cache[cache_index(e, digest)];
    if (c->used && memcmp(c->digest, digest, SHA256_LEN) == 0 &&
        memcmp(c->sig, sig, SIG_LEN) == 0) {
        e->stats.sig_cached++;
        return true;
    }
    bool ok;
    e->stats.sig_verified++;
    if (e->host.verify) {
        ok = e->host.verify(e->host.ctx, signer, digest, sig);
    } else {
        const secp256k1_pubkey *pk = (const secp256k1_pubkey *)e->parsed + signer;
        secp256k1_ecdsa_signature s;
        ok = secp256k1_ecdsa_signature_parse_compact(secp_ctx(), &s, sig) &&
             secp256k1_ecdsa_verify(secp_ctx(), &s, digest, pk) == 1; /* rejects high S */
    }
    if (ok)
        qsig_remember(e, digest, sig);
    return ok;
}

/* ---- buffer for instances that have not started ---- */

int qpend_add(struct qbft_engine *e, struct qinst *in, const uint8_t *msg, size_t len,
              unsigned from)
{
    unsigned b = from < e->cfg.n ? from : e->cfg.n;
    if (e->pend_msgs[b] + 1 > e->cfg.buffer_msgs_per_peer ||
        e->pend_bytes[b] + len > e->cfg.buffer_bytes_per_peer) {
        e->stats.buffer_drops++;
        qevent(e, in, QBFT_EV_BUFFER_DROP, "full", 0);
        return -1;
    }
    struct qpend *p = xmalloc(sizeof(*p) + len);
    p->next = NULL;
    p->from = b;
    p->len = len;
    memcpy(p->bytes, msg, len);
    *in->pend_tail = p;
    in->pend_tail = &p->next;
    e->pend_msgs[b]++;
    e->pend_bytes[b] += len;
    e->stats.buffered++;
    return 0;
}

struct qpend *qpend_take(struct qbft_engine *e, struct qinst *in)
{
    struct qpend *p = in->pend;
    for (struct qpend *x = p; x; x = x->next) {
        e->pend_msgs[x->from]--;
        e->pend_bytes[x->from] -= x->len;
    }
    in->pend = NULL;
    in->pend_tail = &in->pend;
    return p;
}

bool qid_stale(const struct qbft_engine *e, const struct qbft_id *id)
{
    unsigned d = id->duty;
    if (id->height < e->pruned_below[d])
        return true;
    return e->has_max[d] && id->height + e->cfg.retention < e->max_height[d];
}
