/*
 * qbft_engine: the engine object and the entry points of qbft.h; instance storage.
 *
 * Instances live in a hash table keyed by (duty, height); running ones are also on a list that
 * the timer functions walk. Each instance keeps a window of rounds (current ± round_window), and
 * in each round one slot per (type, sender): a second, different message for an occupied slot is
 * an equivocation, the same one a replay. Messages for instances that have not started wait in a
 * per-instance list, bounded per peer in count and bytes.
 */
#include "workers/qbft/qbft_int.h"
#include "lib/util.h"

#include <errno.h>
#include <secp256k1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qbft_config_defaults(struct qbft_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->n = 1;
    cfg->round_timeout_ms = 1000;
    cfg->round_timeout_max_ms = 30000;
    cfg->timer = QBFT_TIMER_EXPONENTIAL;
    cfg->round_window = 10;
    cfg->height_window = 1000;
    cfg->retention = 100000;
    cfg->decided_resends = 3;
    cfg->buffer_msgs_per_peer = 1024;
    cfg->buffer_bytes_per_peer = 16u << 20;
    cfg->sig_cache = 4096;
}

static const char *const verdict_names[] = {
    [QBFT_OK] = "ok",
    [QBFT_BUFFERED] = "buffered",
    [QBFT_ERROR] = "error",
    [QBFT_UNAUTHORIZED] = "unauthorized",
    [QBFT_SIG_INVALID] = "sig_invalid",
    [QBFT_OLD] = "old",
    [QBFT_ROUND_OOB] = "round_oob",
    [QBFT_REPLAY] = "replay",
    [QBFT_EQUIVOCATION] = "equivocation",
};

const char *qbft_verdict_name(enum qbft_verdict v)
{
    return (unsigned)v < ARRAY_LEN(verdict_names) ? verdict_names[v] : "unknown";
}

void qevent(struct qbft_engine *e, const struct qinst *in, enum qbft_event ev, const char *label,
            uint64_t round)
{
    if (e->host.event)
        e->host.event(e->host.ctx, &in->id, ev, label, round);
}

/* ---- engine ---- */

static int cfg_check(const struct qbft_config *c, char *err, size_t errsz)
{
    const char *why = NULL;
    if (c->n < 1 || c->n > QBFT_MAX_NODES)
        why = "n must be 1..64";
    else if (c->self >= c->n)
        why = "self must be < n";
    else if (!c->pubkeys)
        why = "pubkeys missing";
    else if (c->round_timeout_ms < 1 || c->round_timeout_max_ms < c->round_timeout_ms)
        why = "round timeouts: need 1 <= round_timeout_ms <= round_timeout_max_ms";
    else if (c->timer != QBFT_TIMER_EXPONENTIAL && c->timer != QBFT_TIMER_LINEAR)
        why = "unknown timer kind";
    else if (c->round_window < 1 || c->round_window > QBFT_MAX_ROUND)
        why = "round_window out of range";
    else if (c->height_window < 1 || c->retention < 1)
        why = "height_window and retention must be >= 1";
    else if (c->sig_cache < 1 || (c->sig_cache & (c->sig_cache - 1)))
        why = "sig_cache must be a power of two";
    if (why)
        snprintf(err, errsz, "qbft: %s", why);
    return why ? -1 : 0;
}

struct qbft_engine *qbft_engine_new(const struct qbft_config *cfg, const struct qbft_host *host,
                                    char *err, size_t errsz)
{
    if (cfg_check(cfg, err, errsz) < 0)
        return NULL;
    if (!host->broadcast || !host->unicast || !host->sign || !host->intent_get ||
        !host->intent_put || !host->decided) {
        snprintf(err, errsz, "qbft: host callbacks missing");
        return NULL;
    }
    secp256k1_pubkey *parsed = xcalloc(cfg->n, sizeof(*parsed));
    for (unsigned i = 0; i < cfg->n; i++) {
        if (!secp256k1_ec_pubkey_parse(secp_ctx(), &parsed[i], cfg->pubkeys[i], PUBKEY_LEN)) {
            snprintf(err, errsz, "qbft: pubkey %u is not a valid secp256k1 point", i);
            free(parsed);
            return NULL;
        }
    }
    struct qbft_engine *e = xcalloc(1, sizeof(*e));
    e->cfg = *cfg;
    e->host = *host;
    e->pubkeys = xmalloc(cfg->n * sizeof(*e->pubkeys));
    memcpy(e->pubkeys, cfg->pubkeys, cfg->n * sizeof(*e->pubkeys));
    e->cfg.pubkeys = (const uint8_t(*)[PUBKEY_LEN])e->pubkeys;
    e->parsed = parsed;
    e->q = qbft_quorum(cfg->n);
    e->f = qbft_faulty(cfg->n);
    e->nbuckets = 64;
    e->buckets = xcalloc(e->nbuckets, sizeof(*e->buckets));
    e->pend_msgs = xcalloc(cfg->n + 1, sizeof(size_t));
    e->pend_bytes = xcalloc(cfg->n + 1, sizeof(size_t));
    e->cache = xcalloc(cfg->sig_cache, sizeof(*e->cache));
    e->cache_mask = cfg->sig_cache - 1;
    e->rx = xmalloc(sizeof(*e->rx));
    e->tx = xmalloc(sizeof(*e->tx));
    return e;
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

static void inst_free(struct qbft_engine *e, struct qinst *in)
{
    active_unlink(e, in);
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

void qbft_engine_free(struct qbft_engine *e)
{
    if (!e)
        return;
    for (size_t b = 0; b < e->nbuckets; b++) {
        struct qinst *in = e->buckets[b];
        while (in) {
            struct qinst *next = in->hnext;
            inst_free(e, in);
            in = next;
        }
    }
    free(e->buckets);
    free(e->pend_msgs);
    free(e->pend_bytes);
    free(e->cache);
    free(e->rx);
    free(e->tx);
    free(e->parsed);
    free(e->pubkeys);
    buf_free(&e->out);
    buf_free(&e->out2);
    free(e);
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

static void val_set(struct qval *v, const uint8_t hash[QBFT_HASH_LEN], const uint8_t *data,
                    size_t len)
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
    val_set(victim, hash, data, len);
    victim->round = round;
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

/* Leave the running list and drop what only a running instance needs. */
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

/* ---- entry points ---- */

static bool id_valid(const struct qbft_id *id)
{
    return id->duty < DUTY_TYPES && id->height <= QBFT_MAX_HEIGHT;
}

bool qid_stale(const struct qbft_engine *e, const struct qbft_id *id)
{
    unsigned d = id->duty;
    if (id->height < e->pruned_below[d])
        return true;
    return e->has_max[d] && id->height + e->cfg.retention < e->max_height[d];
}

int qbft_start(struct qbft_engine *e, const struct qbft_id *id, const uint8_t *value, size_t len,
               uint64_t start_ms, uint64_t now)
{
    e->last_now = now;
    if (!id_valid(id) || (!value && len) || len > QBFT_MAX_VALUE) {
        errno = EINVAL;
        return -1;
    }
    if (qid_stale(e, id)) {
        errno = ESTALE;
        return -1;
    }
    struct qinst *in = qinst_get(e, id);
    if (in->status != QBFT_PENDING_START) {
        errno = EEXIST;
        return -1;
    }
    uint8_t hash[QBFT_HASH_LEN];
    sha256(hash, value ? value : (const uint8_t *)"", len);
    val_set(&in->input, hash, value, len);
    in->has_input = true;
    in->status = QBFT_RUNNING;
    in->start_ms = start_ms;
    in->anext = e->active;
    if (e->active)
        e->active->aprev = in;
    e->active = in;
    if (!e->has_max[id->duty] || id->height > e->max_height[id->duty]) {
        e->has_max[id->duty] = true;
        e->max_height[id->duty] = id->height;
    }

    /* The schedule may be past round 1 already (a restart, or a late start). */
    uint64_t sched = qbft_round_at(&e->cfg, start_ms, now);
    uint64_t restored = in->restored ? in->round : 0;
    if (sched > in->round || !in->restored) {
        uint64_t r = sched > in->round ? sched : in->round;
        qinst_enter_round(e, in, r, r > 1 && r > restored, "timeout");
    } else {
        qinst_enter_round(e, in, in->round, false, "restore");
        qresend_round(e, in);
    }
    qinst_step(e, in, now);

    /* Judge what arrived before the start, in arrival order. */
    struct qpend *p = in->pend;
    in->pend = NULL;
    in->pend_tail = &in->pend;
    while (p) {
        struct qpend *next = p->next;
        e->pend_msgs[p->from]--;
        e->pend_bytes[p->from] -= p->len;
        qverify_accept(e, p->bytes, p->len, p->from, now);
        free(p);
        p = next;
    }
    return 0;
}

enum qbft_verdict qbft_receive(struct qbft_engine *e, const uint8_t *msg, size_t len,
                               unsigned from_peer, uint64_t now)
{
    e->last_now = now;
    return qverify_accept(e, msg, len, from_peer, now);
}

static const char *timeout_phase(const struct qbft_engine *e, const struct qinst *in)
{
    const struct qround *qr = qround_find(in, in->round);
    if (in->pr == in->round)
        return "commit";
    if (qr && *qslot(e, qr, QBFT_PRE_PREPARE,
                     qbft_leader(in->id.duty, in->id.height, in->round, e->cfg.n)))
        return "prepare";
    return qr && qr->want_rc ? "round_change" : "pre_prepare";
}

void qbft_tick(struct qbft_engine *e, uint64_t now)
{
    e->last_now = now;
    struct qinst *in = e->active;
    while (in) {
        struct qinst *next = in->anext;
        if (in->deadline <= now) {
            uint64_t r = qbft_round_at(&e->cfg, in->start_ms, now);
            qevent(e, in, QBFT_EV_TIMEOUT, timeout_phase(e, in), in->round);
            qinst_enter_round(e, in, r > in->round ? r : in->round + 1, true, "timeout");
            qinst_step(e, in, now);
        } else if (in->blocked) {
            qinst_step(e, in, now);
        }
        in = next;
    }
}

uint64_t qbft_next_deadline(const struct qbft_engine *e)
{
    uint64_t best = UINT64_MAX;
    for (const struct qinst *in = e->active; in; in = in->anext) {
        uint64_t d = in->deadline;
        if (in->blocked && e->last_now + QBFT_RETRY_MS < d)
            d = e->last_now + QBFT_RETRY_MS;
        if (d < best)
            best = d;
    }
    return best;
}

int qbft_restore(struct qbft_engine *e, const struct qbft_id *id, const struct qbft_intent *intents,
                 size_t count)
{
    if (!id_valid(id)) {
        errno = EINVAL;
        return -1;
    }
    /* Check every intent before touching the instance. */
    for (size_t i = 0; i < count; i++) {
        const struct qbft_intent *it = &intents[i];
        const struct qbft_body *b = &e->tx->m.b;
        if (qbft_msg_decode(e->tx, it->bytes, it->len, QBFT_DECODE_INTENT) < 0 ||
            b->sender != e->cfg.self || b->duty != id->duty || b->height != id->height ||
            b->type != it->type || b->round != it->round || b->type == QBFT_DECIDED ||
            e->tx->njust > 2 * e->cfg.n) {
            errno = EINVAL;
            return -1;
        }
    }
    struct qinst *in = qinst_get(e, id);
    if (in->status != QBFT_PENDING_START) {
        errno = EEXIST;
        return -1;
    }
    uint64_t top = in->restored ? in->round : 0;
    for (size_t i = 0; i < count; i++)
        if (intents[i].round > top)
            top = intents[i].round;
    for (size_t i = 0; i < count; i++) {
        uint8_t digest[SHA256_LEN];
        if (top > e->cfg.round_window && intents[i].round < top - e->cfg.round_window)
            continue; /* outside the window: its round can never matter again */
        qbft_msg_decode(e->tx, intents[i].bytes, intents[i].len, QBFT_DECODE_INTENT);
        qbft_signing_digest(digest, e->cfg.lock_hash, e->tx->m.body, e->tx->m.body_len);
        qown_accept(e, in, e->tx, digest);
    }
    if (top > 0)
        in->round = top;
    in->restored = true;
    return 0;
}

int qbft_restore_decided(struct qbft_engine *e, const struct qbft_id *id, const uint8_t *value,
                         size_t len, const uint8_t *cert, size_t cert_len)
{
    uint8_t hash[QBFT_HASH_LEN];
    uint64_t round;
    size_t count = 0;
    if (!id_valid(id) || (!value && len) || len > QBFT_MAX_VALUE) {
        errno = EINVAL;
        return -1;
    }
    sha256(hash, value ? value : (const uint8_t *)"", len);
    if (qbft_cert_verify(cert, cert_len, e->cfg.n, e->cfg.pubkeys, e->cfg.lock_hash, id->duty,
                         id->height, hash, &round, NULL) < 0 ||
        qbft_cert_decode(cert, cert_len, e->tx->just, QBFT_MAX_JUST, &count) < 0) {
        errno = EINVAL;
        return -1;
    }
    struct qinst *in = qinst_get(e, id);
    if (in->status == QBFT_DECIDED_STATUS) {
        errno = EEXIST;
        return -1;
    }
    if (count > e->q)
        count = e->q;
    struct qsig *entries = xmalloc(count * sizeof(*entries));
    for (size_t i = 0; i < count; i++)
        qsig_set(&entries[i], e->tx->just[i].body, e->tx->just[i].body_len, e->tx->just[i].sig);
    qinst_decide(e, in, hash, round, value, len, entries, count, false);
    free(entries);
    return 0;
}

int qbft_abstain(struct qbft_engine *e, const struct qbft_id *id)
{
    if (!id_valid(id)) {
        errno = EINVAL;
        return -1;
    }
    qinst_get(e, id)->abstain = true;
    return 0;
}

int qbft_info(const struct qbft_engine *e, const struct qbft_id *id, struct qbft_info *out)
{
    memset(out, 0, sizeof(*out));
    const struct qinst *in = id_valid(id) ? qinst_find(e, id) : NULL;
    if (!in) {
        out->status = QBFT_UNKNOWN;
        return -1;
    }
    out->status = in->status;
    out->round = in->round;
    out->abstain = in->abstain;
    out->prepared_round = in->pr;
    memcpy(out->prepared_hash, in->ph, QBFT_HASH_LEN);
    if (in->status == QBFT_DECIDED_STATUS) {
        memcpy(out->value_hash, in->dhash, QBFT_HASH_LEN);
        out->decided_round = in->dround;
        out->value = in->dvalue.data;
        out->value_len = in->dvalue.len;
        out->cert = in->cert.data;
        out->cert_len = in->cert.len;
    }
    return 0;
}

void qbft_prune(struct qbft_engine *e, unsigned duty, uint64_t below_height)
{
    if (duty >= DUTY_TYPES)
        return;
    if (below_height > e->pruned_below[duty])
        e->pruned_below[duty] = below_height;
    for (size_t b = 0; b < e->nbuckets; b++) {
        struct qinst *in = e->buckets[b];
        while (in) {
            struct qinst *next = in->hnext;
            if (in->id.duty == duty && in->id.height < below_height)
                qinst_remove(e, in);
            in = next;
        }
    }
}

void qbft_stats(const struct qbft_engine *e, struct qbft_stats *out)
{
    *out = e->stats;
    out->instances = e->ninst;
}
