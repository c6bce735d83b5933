/*
 * qbft_engine: the engine object and the entry points of qbft.h, the top layer. A received
 * message is judged and recorded by the verifier (qbft_verify.h); the engine then runs what the
 * verifier asks for — the instance's upon rules, a decision from a DECIDED message, an answer to
 * a laggard — from the rules layer (qbft_rules.h). Instance storage is in qbft_table.c.
 */
#include "workers/qbft/qbft.h"
#include "lib/util.h"
#include "workers/qbft/qbft_rules.h"
#include "workers/qbft/qbft_table.h"
#include "workers/qbft/qbft_verify.h"

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
    cfg->decided_keep = 2048;
    cfg->decided_keep_ms = 300000;
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
    else if (c->decided_keep < 1 || c->decided_keep_ms < 1)
        why = "decided_keep and decided_keep_ms must be >= 1";
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

void qbft_engine_free(struct qbft_engine *e)
{
    if (!e)
        return;
    qtable_clear(e);
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

/* ---- entry points ---- */

static bool id_valid(const struct qbft_id *id)
{
    return id->duty < DUTY_TYPES && id->height <= QBFT_MAX_HEIGHT;
}

/* Judge one message, then do what the verifier asks for. */
static enum qbft_verdict receive_one(struct qbft_engine *e, const uint8_t *msg, size_t len,
                                     unsigned from, uint64_t now)
{
    struct qverify_out out;
    qverify_accept(e, msg, len, from, &out);
    switch (out.next) {
    case QVERIFY_DONE:
        break;
    case QVERIFY_STEP:
        qinst_step(e, out.in, now);
        break;
    case QVERIFY_DECIDE:
        qinst_decide_msg(e, out.in, e->rx);
        break;
    case QVERIFY_ANSWER:
        qanswer_decided(e, out.in, out.peer, now);
        break;
    }
    return out.verdict;
}

static int start(struct qbft_engine *e, const struct qbft_id *id, bool has_input,
                 const uint8_t *value, size_t len, uint64_t start_ms, uint64_t now);

int qbft_start(struct qbft_engine *e, const struct qbft_id *id, const uint8_t *value, size_t len,
               uint64_t start_ms, uint64_t now)
{
    return start(e, id, true, value, len, start_ms, now);
}

int qbft_join(struct qbft_engine *e, const struct qbft_id *id, uint64_t start_ms, uint64_t now)
{
    return start(e, id, false, NULL, 0, start_ms, now);
}

static int start(struct qbft_engine *e, const struct qbft_id *id, bool has_input,
                 const uint8_t *value, size_t len, uint64_t start_ms, uint64_t now)
{
    e->last_now = now;
    qdecided_evict(e, now);
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
    if (has_input) {
        uint8_t hash[QBFT_HASH_LEN];
        sha256(hash, value ? value : (const uint8_t *)"", len);
        qval_set(&in->input, hash, value, len);
    }
    in->has_input = has_input;
    in->start_ms = start_ms;
    qinst_run(e, in);
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
    struct qpend *p = qpend_take(e, in);
    while (p) {
        struct qpend *next = p->next;
        receive_one(e, p->bytes, p->len, p->from, now);
        free(p);
        p = next;
    }
    return 0;
}

int qbft_set_input(struct qbft_engine *e, const struct qbft_id *id, const uint8_t *value,
                   size_t len, uint64_t now)
{
    e->last_now = now;
    if (!id_valid(id) || (!value && len) || len > QBFT_MAX_VALUE) {
        errno = EINVAL;
        return -1;
    }
    struct qinst *in = qinst_find(e, id);
    if (!in || in->status != QBFT_RUNNING) {
        errno = ENOENT;
        return -1;
    }
    uint8_t hash[QBFT_HASH_LEN];
    sha256(hash, value ? value : (const uint8_t *)"", len);
    qval_replace_input(in, hash, value, len);
    qinst_step(e, in, now);
    return 0;
}

enum qbft_verdict qbft_receive(struct qbft_engine *e, const uint8_t *msg, size_t len,
                               unsigned from_peer, uint64_t now)
{
    e->last_now = now;
    qdecided_evict(e, now);
    return receive_one(e, msg, len, from_peer, now);
}

int qbft_value_checked(struct qbft_engine *e, const struct qbft_id *id,
                       const uint8_t value_hash[QBFT_HASH_LEN], bool valid, uint64_t now)
{
    e->last_now = now;
    struct qinst *in = id_valid(id) ? qinst_find(e, id) : NULL;
    unsigned found = 0;
    bool current = false;
    for (size_t r = 0; in && in->status == QBFT_RUNNING && r < in->nrounds; r++) {
        const struct qround *qr = &in->rounds[r];
        struct qmsg *pp =
            *qslot(e, qr, QBFT_PRE_PREPARE, qbft_leader(id->duty, id->height, qr->round, e->cfg.n));
        /* pending: judged now; valid: a value may stop being valid (a block on an old head) */
        if (pp && (pp->check == QCHECK_PENDING || (!valid && pp->check == QCHECK_VALID)) &&
            memcmp(pp->b.value_hash, value_hash, QBFT_HASH_LEN) == 0) {
            pp->check = valid ? QCHECK_VALID : QCHECK_INVALID;
            found++;
            current |= qr->round == in->round;
        }
    }
    if (!found) {
        errno = ENOENT;
        return -1;
    }
    qval_mark(in, value_hash, valid ? QCHECK_VALID : QCHECK_INVALID);
    if (!valid && current) {
        /* The leader of this round proposed what can never be decided: no reason to wait for
         * the timer (any node may leave a round early; safety does not depend on when). */
        qevent(e, in, QBFT_EV_TIMEOUT, "invalid_proposal", in->round);
        qinst_enter_round(e, in, in->round + 1, true, "invalid_proposal");
    }
    qinst_step(e, in, now);
    return 0;
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
    qdecided_evict(e, now);
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

static int decided_from_cert(struct qbft_engine *e, const struct qbft_id *id, const uint8_t *value,
                             size_t len, const uint8_t *cert, size_t cert_len, bool report);

int qbft_restore_decided(struct qbft_engine *e, const struct qbft_id *id, const uint8_t *value,
                         size_t len, const uint8_t *cert, size_t cert_len)
{
    return decided_from_cert(e, id, value, len, cert, cert_len, false);
}

int qbft_learn_decided(struct qbft_engine *e, const struct qbft_id *id, const uint8_t *value,
                       size_t len, const uint8_t *cert, size_t cert_len, uint64_t now)
{
    e->last_now = now;
    return decided_from_cert(e, id, value, len, cert, cert_len, true);
}

static int decided_from_cert(struct qbft_engine *e, const struct qbft_id *id, const uint8_t *value,
                             size_t len, const uint8_t *cert, size_t cert_len, bool report)
{
    uint8_t hash[QBFT_HASH_LEN];
    uint64_t round;
    size_t count = 0;
    qdecided_evict(e, e->last_now);
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
    qinst_decide(e, in, hash, round, value, len, entries, count, report);
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
    out->decided = e->ndecided;
}
