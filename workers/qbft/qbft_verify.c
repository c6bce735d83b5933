/*
 * qbft_verify: every received message passes the checks of SPEC §7.4, in order, one table row
 * each; the first that fails names the `result` label and the message is dropped. Nothing is
 * recorded before the last check passes, so a message rejected for one rule consumes nothing
 * (a corrected message is not a replay). Valid signatures are cached by digest, which is not
 * consumption: the cache only saves work. A fresh proposal whose value the host is still
 * checking (validate_value answered pending) passes and is recorded with its check pending: the
 * rules prepare it only once the verdict is valid.
 *
 * Two places where the table needed a decision the SPEC leaves open:
 *  - round window (rule 5): a running instance accepts rounds in [current - w, current + w]
 *    (slots behind the window are freed); an instance that has not started accepts rounds up to
 *    1 + w (or its restored round + w) and heights up to the highest started height + the
 *    height window, and a full buffer also answers round_oob. DECIDED messages are exempt from
 *    the round window (a quorum certificate is worth taking from any round), and a decided
 *    instance takes ROUND-CHANGEs from any round, to answer laggards. A ROUND-CHANGE above the
 *    window is dropped (round_oob) but its signed round is remembered, one number per sender:
 *    f+1 of them still make a node that is far behind (it started late) jump ahead.
 *  - the type label of a message that does not decode is "unknown".
 */
#include "workers/qbft/qbft_verify.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

enum vstep { V_PASS, V_FAIL, V_HOLD };

struct vctx {
    struct qbft_engine *e;
    const uint8_t *raw;
    size_t len;
    unsigned from;
    struct qbft_msg *m;
    const struct qbft_body *b;
    uint8_t digest[SHA256_LEN];
    struct qinst *in;
    struct qmsg *existing; /* the message in this (round, type, sender) slot */
    bool far_rc;           /* a ROUND-CHANGE above the window was noted */
    bool pending;          /* a fresh proposal whose value the host is still checking */
};

static bool same_instance(const struct qbft_body *a, const struct qbft_body *b)
{
    return a->duty == b->duty && a->height == b->height;
}

static bool value_matches(const struct qbft_msg *m, const uint8_t hash[QBFT_HASH_LEN])
{
    uint8_t h[QBFT_HASH_LEN];
    if (!m->has_value)
        return false;
    sha256(h, m->value_len ? m->value : (const uint8_t *)"", m->value_len);
    return memcmp(h, hash, QBFT_HASH_LEN) == 0;
}

/* ---- rules 1-7 ---- */

static enum vstep rule_decodes(struct vctx *c)
{
    if (qbft_msg_decode(c->m, c->raw, c->len, QBFT_DECODE_WIRE) < 0)
        return V_FAIL;
    c->b = &c->m->m.b; /* from here on the type is known (metric label) */
    return c->m->njust <= 2 * c->e->cfg.n ? V_PASS : V_FAIL;
}

static enum vstep rule_member(struct vctx *c)
{
    unsigned n = c->e->cfg.n;
    if (c->b->sender >= n)
        return V_FAIL;
    for (uint32_t i = 0; i < c->m->njust; i++)
        if (c->m->just[i].b.sender >= n)
            return V_FAIL;
    return V_PASS;
}

static enum vstep rule_signatures(struct vctx *c)
{
    struct qbft_engine *e = c->e;
    qbft_signing_digest(c->digest, e->cfg.lock_hash, c->m->m.body, c->m->m.body_len);
    if (!qsig_check(e, c->b->sender, c->digest, c->m->m.sig))
        return V_FAIL;
    for (uint32_t i = 0; i < c->m->njust; i++) {
        const struct qbft_signed *s = &c->m->just[i];
        uint8_t d[SHA256_LEN];
        qbft_signing_digest(d, e->cfg.lock_hash, s->body, s->body_len);
        if (!qsig_check(e, s->b.sender, d, s->sig))
            return V_FAIL;
    }
    return V_PASS;
}

static enum vstep rule_not_old(struct vctx *c)
{
    struct qbft_id id = {c->b->duty, c->b->height};
    return qid_stale(c->e, &id) ? V_FAIL : V_PASS;
}

/* Not started: hold it (bounded) until qbft_start. */
static enum vstep hold(struct vctx *c)
{
    struct qbft_engine *e = c->e;
    const struct qbft_body *b = c->b;
    if (e->has_max[b->duty] && b->height > e->max_height[b->duty] + e->cfg.height_window)
        return V_FAIL;
    if (b->type != QBFT_DECIDED && b->round > (c->in ? c->in->round : 1) + e->cfg.round_window)
        return V_FAIL;
    struct qbft_id id = {b->duty, b->height};
    bool created = !c->in;
    struct qinst *in = qinst_get(e, &id);
    if (qpend_add(e, in, c->raw, c->len, c->from) < 0) {
        if (created)
            qinst_remove(e, in);
        return V_FAIL;
    }
    return V_HOLD;
}

static enum vstep rule_round_window(struct vctx *c)
{
    struct qbft_id id = {c->b->duty, c->b->height};
    c->in = qinst_find(c->e, &id);
    if (!c->in || c->in->status == QBFT_PENDING_START)
        return hold(c);
    if (c->in->status == QBFT_DECIDED_STATUS || c->b->type == QBFT_DECIDED)
        return V_PASS;
    struct qinst *in = c->in;
    const struct qbft_body *b = c->b;
    uint64_t w = c->e->cfg.round_window, cur = in->round;
    uint64_t low = cur > w ? cur - w : 1;
    if (b->round >= low && b->round <= cur + w)
        return V_PASS;
    if (b->type == QBFT_ROUND_CHANGE && b->round > cur + w) {
        if (!in->far_rc)
            in->far_rc = xcalloc(c->e->cfg.n, sizeof(*in->far_rc));
        if (b->round > in->far_rc[b->sender])
            in->far_rc[b->sender] = b->round;
        c->far_rc = true;
    }
    return V_FAIL;
}

static enum vstep rule_not_replay(struct vctx *c)
{
    const struct qinst *in = c->in;
    const struct qbft_body *b = c->b;
    if (b->type == QBFT_DECIDED)
        return (in->dseen_mask & (1ull << b->sender)) &&
                       memcmp(in->dseen[b->sender], c->digest, SHA256_LEN) == 0
                   ? V_FAIL
                   : V_PASS;
    /* A decided instance stores nothing more; it remembers each sender's last ROUND-CHANGE so a
     * replayed one does not draw another DECIDED. */
    if (in->status == QBFT_DECIDED_STATUS && b->type == QBFT_ROUND_CHANGE &&
        (in->rcseen_mask & (1ull << b->sender)) &&
        memcmp(in->rcseen[b->sender], c->digest, SHA256_LEN) == 0)
        return V_FAIL;
    const struct qround *qr = qround_find(in, b->round);
    c->existing = qr ? *qslot(c->e, qr, b->type, b->sender) : NULL;
    return c->existing && memcmp(c->existing->digest, c->digest, SHA256_LEN) == 0 ? V_FAIL : V_PASS;
}

static enum vstep rule_no_equivocation(struct vctx *c)
{
    if (!c->existing) /* DECIDED never has a slot: any valid certificate will do */
        return V_PASS;
    if (c->e->host.equivocation)
        c->e->host.equivocation(c->e->host.ctx, &c->in->id, c->b->sender, c->existing->digest,
                                c->digest);
    return V_FAIL;
}

/* ---- rule 8: protocol semantics, per type ---- */

/*
 * Entries of a justification that must all be `type` for (round, hash) of this instance, from
 * distinct senders: returns how many, or -1 if any entry does not fit.
 */
static int quorum_count(const struct vctx *c, uint8_t type, uint64_t round,
                        const uint8_t hash[QBFT_HASH_LEN])
{
    uint64_t seen = 0;
    int count = 0;
    for (uint32_t i = 0; i < c->m->njust; i++) {
        const struct qbft_body *j = &c->m->just[i].b;
        if (j->type != type || !same_instance(j, c->b) || j->round != round ||
            memcmp(j->value_hash, hash, QBFT_HASH_LEN) != 0 || (seen & (1ull << j->sender)))
            return -1;
        seen |= 1ull << j->sender;
        count++;
    }
    return count;
}

/* A value nobody prepared: the host judges it (once per value and instance, see qval.check). */
static enum vstep fresh_value(struct vctx *c)
{
    const struct qbft_host *h = &c->e->host;
    struct qbft_id id = {c->b->duty, c->b->height};
    const struct qval *known = qval_find(c->in, c->b->value_hash);
    enum qbft_validity v;
    if (!h->validate_value)
        return V_PASS;
    if (known && known->check == QCHECK_VALID)
        v = QBFT_VALUE_VALID;
    else if (known && known->check == QCHECK_INVALID)
        v = QBFT_VALUE_INVALID;
    else
        v = h->validate_value(h->ctx, &id, c->b->value_hash, c->m->value, c->m->value_len);
    c->pending = v == QBFT_VALUE_PENDING;
    return v == QBFT_VALUE_INVALID ? V_FAIL : V_PASS;
}

/*
 * A PRE-PREPARE for round r > 1 is justified by a quorum of ROUND-CHANGEs for r and, when any of
 * them reports a prepared round, by a quorum of PREPAREs for the highest prepared (round, value)
 * among them, which must be the value proposed (Moniz Alg. 4, J1/J2). Nothing else may ride along.
 */
static enum vstep sem_pre_prepare(struct vctx *c)
{
    const struct qbft_engine *e = c->e;
    const struct qbft_body *b = c->b;
    if (b->sender != qbft_leader(b->duty, b->height, b->round, e->cfg.n) ||
        !value_matches(c->m, b->value_hash))
        return V_FAIL;
    if (b->round == 1)
        return fresh_value(c);
    uint64_t rcs = 0, preps = 0, maxpr = 0;
    unsigned nrc = 0, nprep = 0;
    bool proposes_highest = false;
    for (uint32_t i = 0; i < c->m->njust; i++) {
        const struct qbft_body *j = &c->m->just[i].b;
        if (!same_instance(j, b) || j->type != QBFT_ROUND_CHANGE)
            continue;
        if (j->round != b->round || (rcs & (1ull << j->sender)))
            return V_FAIL;
        rcs |= 1ull << j->sender;
        nrc++;
        if (j->prepared_round > maxpr)
            maxpr = j->prepared_round;
    }
    if (nrc < e->q)
        return V_FAIL;
    for (uint32_t i = 0; i < c->m->njust; i++) {
        const struct qbft_body *j = &c->m->just[i].b;
        if (!same_instance(j, b))
            return V_FAIL;
        if (j->type == QBFT_ROUND_CHANGE) {
            if (maxpr && j->prepared_round == maxpr &&
                memcmp(j->prepared_hash, b->value_hash, QBFT_HASH_LEN) == 0)
                proposes_highest = true;
            continue;
        }
        /* PREPARE: only for the highest prepared round and the proposed value. */
        if (!maxpr || j->round != maxpr || memcmp(j->value_hash, b->value_hash, QBFT_HASH_LEN) ||
            (preps & (1ull << j->sender)))
            return V_FAIL;
        preps |= 1ull << j->sender;
        nprep++;
    }
    if (maxpr == 0) /* J1: nobody prepared, any valid value */
        return fresh_value(c);
    return proposes_highest && nprep >= e->q ? V_PASS : V_FAIL; /* J2 */
}

static enum vstep sem_vote(struct vctx *c)
{
    (void)c; /* PREPARE and COMMIT carry no attachments (the codec checked) */
    return V_PASS;
}

static enum vstep sem_round_change(struct vctx *c)
{
    const struct qbft_body *b = c->b;
    if (b->prepared_round == 0)
        return V_PASS;
    if (!value_matches(c->m, b->prepared_hash))
        return V_FAIL;
    int k = quorum_count(c, QBFT_PREPARE, b->prepared_round, b->prepared_hash);
    return k >= (int)c->e->q ? V_PASS : V_FAIL;
}

static enum vstep sem_decided(struct vctx *c)
{
    const struct qbft_body *b = c->b;
    if (!value_matches(c->m, b->value_hash))
        return V_FAIL;
    int k = quorum_count(c, QBFT_COMMIT, b->round, b->value_hash);
    return k >= (int)c->e->q ? V_PASS : V_FAIL;
}

static enum vstep (*const semantics[QBFT_TYPE_MAX + 1])(struct vctx *) = {
    [QBFT_PRE_PREPARE] = sem_pre_prepare,   [QBFT_PREPARE] = sem_vote,    [QBFT_COMMIT] = sem_vote,
    [QBFT_ROUND_CHANGE] = sem_round_change, [QBFT_DECIDED] = sem_decided,
};

static enum vstep rule_semantics(struct vctx *c)
{
    return semantics[c->b->type](c);
}

/* SPEC §7.4, in this order. */
static const struct vrule {
    const char *result;
    enum qbft_verdict verdict;
    enum vstep (*check)(struct vctx *);
} vrules[] = {
    {"error", QBFT_ERROR, rule_decodes},
    {"unauthorized", QBFT_UNAUTHORIZED, rule_member},
    {"sig_invalid", QBFT_SIG_INVALID, rule_signatures},
    {"old", QBFT_OLD, rule_not_old},
    {"round_oob", QBFT_ROUND_OOB, rule_round_window},
    {"replay", QBFT_REPLAY, rule_not_replay},
    {"equivocation", QBFT_EQUIVOCATION, rule_no_equivocation},
    {"error", QBFT_ERROR, rule_semantics},
};

/* ---- acceptance ---- */

static void seen_decided(struct qbft_engine *e, struct qinst *in, const struct vctx *c)
{
    if (!in->dseen)
        in->dseen = xcalloc(e->cfg.n, sizeof(*in->dseen));
    memcpy(in->dseen[c->b->sender], c->digest, SHA256_LEN);
    in->dseen_mask |= 1ull << c->b->sender;
}

static void store(struct qbft_engine *e, struct qinst *in, const struct vctx *c)
{
    const struct qbft_body *b = c->b;
    struct qround *qr = qround_get(e, in, b->round);
    struct qmsg *q = xcalloc(1, sizeof(*q));
    q->b = *b;
    memcpy(q->digest, c->digest, SHA256_LEN);
    qsig_set(&q->s, c->m->m.body, c->m->m.body_len, c->m->m.sig);
    q->check = c->pending ? QCHECK_PENDING : QCHECK_NONE;
    if (b->type == QBFT_ROUND_CHANGE && b->prepared_round) {
        q->just = xmalloc(c->m->njust * sizeof(*q->just));
        for (uint32_t i = 0; i < c->m->njust; i++)
            qsig_set(&q->just[i], c->m->just[i].body, c->m->just[i].body_len, c->m->just[i].sig);
        q->njust = (uint16_t)c->m->njust;
        qval_add(in, b->prepared_hash, c->m->value, c->m->value_len, b->round);
    }
    if (b->type == QBFT_PRE_PREPARE)
        qval_add(in, b->value_hash, c->m->value, c->m->value_len, b->round);
    if (b->type == QBFT_COMMIT)
        qr->ncommit++;
    *qslot(e, qr, b->type, b->sender) = q;
}

/* Record an accepted message; say what the engine does next. */
static void accept(struct vctx *c, struct qverify_out *out)
{
    struct qbft_engine *e = c->e;
    struct qinst *in = c->in;
    uint8_t type = c->b->type;
    out->in = in;
    if (type == QBFT_DECIDED)
        seen_decided(e, in, c);
    if (in->status == QBFT_DECIDED_STATUS) {
        if (type == QBFT_ROUND_CHANGE) {
            if (!in->rcseen)
                in->rcseen = xcalloc(e->cfg.n, sizeof(*in->rcseen));
            memcpy(in->rcseen[c->b->sender], c->digest, SHA256_LEN);
            in->rcseen_mask |= 1ull << c->b->sender;
            out->next = QVERIFY_ANSWER;
            out->peer = c->b->sender;
        }
        return;
    }
    if (type == QBFT_DECIDED) {
        out->next = QVERIFY_DECIDE;
        return;
    }
    store(e, in, c);
    out->next = QVERIFY_STEP;
}

void qverify_accept(struct qbft_engine *e, const uint8_t *msg, size_t len, unsigned from,
                    struct qverify_out *out)
{
    struct vctx c = {.e = e, .raw = msg, .len = len, .from = from, .m = e->rx};
    const char *type = "unknown";
    *out = (struct qverify_out){.verdict = QBFT_OK, .next = QVERIFY_DONE};
    for (size_t i = 0; i < ARRAY_LEN(vrules); i++) {
        enum vstep s = vrules[i].check(&c);
        if (c.b)
            type = qbft_type_name(c.b->type);
        if (s == V_HOLD) {
            out->verdict = QBFT_BUFFERED;
            return;
        }
        if (s == V_FAIL) {
            if (e->host.verified)
                e->host.verified(e->host.ctx, type, vrules[i].result);
            out->verdict = vrules[i].verdict;
            if (c.far_rc) { /* the far ROUND-CHANGE it noted may make f+1 */
                out->next = QVERIFY_STEP;
                out->in = c.in;
            }
            return;
        }
    }
    if (e->host.verified)
        e->host.verified(e->host.ctx, type, "ok");
    accept(&c, out);
}
