/*
 * qbft_rules: the upon rules of one instance (Moniz 2020, Algorithms 2 and 3), evaluated in a
 * fixed order after every event until none fires, plus emission under the intent discipline.
 *
 * Each rule fires at most once per round: emitting sets the round's `sent` bit for the type, and
 * the rule checks it first. Rules look at state, not at the last message, so the order in which
 * messages arrive does not matter (PREPAREs before their PRE-PREPARE, a quorum reached by a
 * message buffered long ago).
 *
 * A node acts on a PREPARE quorum, and decides on a COMMIT quorum, only once it holds the value
 * whose hash was voted (from the PRE-PREPARE, a prepared ROUND-CHANGE or a DECIDED). So every
 * node that is prepared can put the value in its ROUND-CHANGE, and the next leader can re-propose
 * it; a node that missed the value catches up through a later round or a DECIDED answer.
 *
 * A PRE-PREPARE whose value the host is still checking (or found invalid) moves nobody and is not
 * prepared: see enum qcheck.
 *
 * Emission (emit): ask the intent store first. If (instance, round, type) has an intent, its
 * bytes go out again unchanged and nothing is signed. Otherwise: build, sign, intent_put, then
 * send. If the store cannot answer, the vote is withheld and the rule retried later.
 */
#include "workers/qbft/qbft_rules.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

static unsigned leader_of(const struct qbft_engine *e, const struct qinst *in, uint64_t round)
{
    return qbft_leader(in->id.duty, in->id.height, round, e->cfg.n);
}

static struct qbft_sigref ref_of(const struct qsig *s)
{
    return (struct qbft_sigref){s->body, s->body_len, s->sig};
}

/* ---- storing this node's own messages ---- */

void qown_accept(struct qbft_engine *e, struct qinst *in, const struct qbft_msg *m,
                 const uint8_t digest[SHA256_LEN])
{
    const struct qbft_body *b = &m->m.b;
    struct qround *qr = qround_get(e, in, b->round);
    struct qmsg **slot = qslot(e, qr, b->type, e->cfg.self);
    qsig_remember(e, digest, m->m.sig);
    qr->sent |= TYPE_BIT(b->type);
    if (!*slot) {
        struct qmsg *q = xcalloc(1, sizeof(*q));
        q->b = *b;
        memcpy(q->digest, digest, SHA256_LEN);
        qsig_set(&q->s, m->m.body, m->m.body_len, m->m.sig);
        if (b->type == QBFT_ROUND_CHANGE && m->njust) {
            q->just = xmalloc(m->njust * sizeof(*q->just));
            for (uint32_t i = 0; i < m->njust; i++)
                qsig_set(&q->just[i], m->just[i].body, m->just[i].body_len, m->just[i].sig);
            q->njust = (uint16_t)m->njust;
        }
        if (b->type == QBFT_COMMIT)
            qr->ncommit++;
        *slot = q;
    }
    /* What the message says about this node's state: the value it proposed or prepared, its
     * prepared round and PREPARE quorum (a COMMIT intent carries them, see proto/qbft.h). */
    const uint8_t *ph = NULL;
    uint64_t pr = 0;
    if (b->type == QBFT_PRE_PREPARE)
        qval_add(in, b->value_hash, m->value, m->value_len, b->round);
    else if (b->type == QBFT_COMMIT && m->has_value)
        pr = b->round, ph = b->value_hash;
    else if (b->type == QBFT_ROUND_CHANGE) {
        qr->want_rc = true;
        pr = b->prepared_round, ph = b->prepared_hash;
    }
    if (pr && pr >= in->pr && m->has_value) {
        struct qsig *prep = xmalloc(m->njust * sizeof(*prep));
        for (uint32_t i = 0; i < m->njust; i++)
            qsig_set(&prep[i], m->just[i].body, m->just[i].body_len, m->just[i].sig);
        qinst_set_prepared(in, pr, ph, prep, m->njust);
        free(prep);
        qval_add(in, ph, m->value, m->value_len, b->round);
    }
}

/* ---- emission ---- */

static void send_msg(struct qbft_engine *e, const struct qbft_msg *m, const uint8_t *raw,
                     size_t len)
{
    buf_reset(&e->out2);
    qbft_msg_strip(&e->out2, m, raw, len);
    e->host.broadcast(e->host.ctx, m->m.b.type, e->out2.data, e->out2.len);
}

/* Is this stored record this node's message for (instance, round, type)? */
static bool intent_fits(const struct qbft_engine *e, const struct qinst *in,
                        const struct qbft_body *want, const struct qbft_msg *m)
{
    const struct qbft_body *b = &m->m.b;
    return b->sender == e->cfg.self && b->duty == in->id.duty && b->height == in->id.height &&
           b->round == want->round && b->type == want->type && m->njust <= 2 * e->cfg.n;
}

/* Re-send a stored intent as it is. 1 sent, 0 no intent, -1 the store failed or is corrupt. */
static int resend_intent(struct qbft_engine *e, struct qinst *in, const struct qbft_body *want)
{
    const uint8_t *stored = NULL;
    size_t slen = 0;
    uint8_t digest[SHA256_LEN];
    int rc = e->host.intent_get(e->host.ctx, &in->id, want->round, want->type, &stored, &slen);
    if (rc <= 0)
        return rc;
    buf_reset(&e->out);
    buf_append(&e->out, stored, slen);
    if (qbft_msg_decode(e->tx, e->out.data, e->out.len, QBFT_DECODE_INTENT) < 0 ||
        !intent_fits(e, in, want, e->tx))
        return -1;
    qbft_signing_digest(digest, e->cfg.lock_hash, e->tx->m.body, e->tx->m.body_len);
    qown_accept(e, in, e->tx, digest);
    send_msg(e, e->tx, e->out.data, e->out.len);
    return 1;
}

static int emit(struct qbft_engine *e, struct qinst *in, const struct qbft_body *b,
                const uint8_t *value, size_t vlen, const struct qbft_sigref *just, size_t njust)
{
    struct qround *qr = qround_get(e, in, b->round);
    if (in->abstain) {
        qr->sent |= TYPE_BIT(b->type);
        if (e->host.abstained)
            e->host.abstained(e->host.ctx, &in->id, b->type);
        return 1;
    }
    int rc = resend_intent(e, in, b);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        qevent(e, in, QBFT_EV_WAL_GUARD, qbft_type_name(b->type), b->round);
        return 1;
    }
    uint8_t digest[SHA256_LEN], sig[SIG_LEN];
    struct buf body = BUF_INIT;
    qbft_body_encode(&body, b);
    qbft_signing_digest(digest, e->cfg.lock_hash, body.data, body.len);
    if (e->host.sign(e->host.ctx, digest, sig) < 0) {
        buf_free(&body);
        return -1;
    }
    e->stats.signed_msgs++;
    struct qbft_sigref self = {body.data, body.len, sig};
    buf_reset(&e->out);
    qbft_msg_encode(&e->out, &self, value, vlen, just, njust);
    buf_free(&body);
    if (e->host.intent_put(e->host.ctx, &in->id, b->round, b->type, e->out.data, e->out.len) < 0)
        return -1;
    qbft_msg_decode(e->tx, e->out.data, e->out.len, QBFT_DECODE_INTENT);
    qown_accept(e, in, e->tx, digest);
    send_msg(e, e->tx, e->out.data, e->out.len);
    qevent(e, in, QBFT_EV_INTENT, qbft_type_name(b->type), b->round);
    return 1;
}

static struct qbft_body body_of(const struct qbft_engine *e, const struct qinst *in, uint8_t type,
                                uint64_t round, const uint8_t *hash)
{
    struct qbft_body b = {.type = type,
                          .duty = in->id.duty,
                          .height = in->id.height,
                          .round = round,
                          .sender = (uint16_t)e->cfg.self};
    if (hash) {
        b.has_value_hash = true;
        memcpy(b.value_hash, hash, QBFT_HASH_LEN);
    }
    return b;
}

/* Re-send what this node already sent in its current round (after a restart). */
void qresend_round(struct qbft_engine *e, struct qinst *in)
{
    const struct qround *qr = qround_find(in, in->round);
    static const uint8_t order[] = {QBFT_PRE_PREPARE, QBFT_PREPARE, QBFT_COMMIT, QBFT_ROUND_CHANGE};
    if (!qr || in->abstain)
        return;
    for (size_t i = 0; i < ARRAY_LEN(order); i++) {
        if (!(qr->sent & TYPE_BIT(order[i])))
            continue;
        struct qbft_body want = body_of(e, in, order[i], in->round, NULL);
        if (resend_intent(e, in, &want) < 0)
            in->blocked = true;
    }
}

/* ---- quorum helpers ---- */

/*
 * Find a value hash with at least a quorum of `type` messages in this round; fill out[] with
 * the first quorum of them (ascending sender) and return true.
 */
static bool find_quorum(const struct qbft_engine *e, const struct qround *qr, uint8_t type,
                        const struct qmsg **out)
{
    unsigned n = e->cfg.n;
    for (unsigned i = 0; i < n; i++) {
        const struct qmsg *a = *qslot(e, qr, type, i);
        if (!a)
            continue;
        unsigned k = 0;
        for (unsigned j = i; j < n && k < e->q; j++) {
            const struct qmsg *m = *qslot(e, qr, type, j);
            if (m && memcmp(m->b.value_hash, a->b.value_hash, QBFT_HASH_LEN) == 0)
                out[k++] = m;
        }
        if (k >= e->q)
            return true;
        if (n - i < e->q)
            break;
    }
    return false;
}

/* ---- upon rules: each returns 1 fired, 0 nothing, -1 withheld (intent store failed) ---- */

/* Alg. 2:8 — a quorum of COMMITs for one round and value (any round in the window): decide. */
static int rule_quorum_commits(struct qbft_engine *e, struct qinst *in, uint64_t now)
{
    const struct qmsg *q[QBFT_MAX_NODES];
    (void)now;
    for (size_t r = 0; r < in->nrounds; r++) {
        const struct qround *qr = &in->rounds[r];
        if (qr->ncommit < e->q || !find_quorum(e, qr, QBFT_COMMIT, q))
            continue;
        const struct qval *v = qval_find(in, q[0]->b.value_hash);
        if (!v)
            continue; /* decided on a value not seen yet: a DECIDED answer will bring it */
        struct qsig cert[QBFT_MAX_NODES];
        for (unsigned i = 0; i < e->q; i++)
            cert[i] = q[i]->s;
        qevent(e, in, QBFT_EV_QC, "commit", qr->round);
        qinst_decide(e, in, q[0]->b.value_hash, qr->round, v->data, v->len, cert, e->q, true);
        return 1;
    }
    return 0;
}

/* Alg. 3:5 — f+1 ROUND-CHANGEs above the current round: jump to the highest round that f+1
 * distinct senders have reached (the smallest round of the f+1 highest). */
static int rule_round_change_jump(struct qbft_engine *e, struct qinst *in, uint64_t now)
{
    uint64_t hi[QBFT_MAX_NODES] = {0};
    unsigned k = 0;
    (void)now;
    for (size_t r = in->nrounds; r-- > 0 && in->rounds[r].round > in->round;) {
        const struct qround *qr = &in->rounds[r];
        for (unsigned s = 0; s < e->cfg.n; s++)
            if (!hi[s] && *qslot(e, qr, QBFT_ROUND_CHANGE, s))
                hi[s] = qr->round;
    }
    for (unsigned s = 0; in->far_rc && s < e->cfg.n; s++)
        if (in->far_rc[s] > hi[s])
            hi[s] = in->far_rc[s];
    uint64_t ahead[QBFT_MAX_NODES];
    for (unsigned s = 0; s < e->cfg.n; s++)
        if (hi[s] > in->round)
            ahead[k++] = hi[s];
    if (k < e->f + 1)
        return 0;
    /* The (f+1)-th highest: partial selection, n is small. */
    for (unsigned i = 0; i <= e->f; i++)
        for (unsigned j = i + 1; j < k; j++)
            if (ahead[j] > ahead[i]) {
                uint64_t t = ahead[i];
                ahead[i] = ahead[j];
                ahead[j] = t;
            }
    qinst_enter_round(e, in, ahead[e->f], true, "jump");
    return 1;
}

/* The leader's PRE-PREPARE of a round, if its value may be prepared. */
static const struct qmsg *usable_proposal(const struct qbft_engine *e, const struct qinst *in,
                                          const struct qround *qr)
{
    const struct qmsg *pp = *qslot(e, qr, QBFT_PRE_PREPARE, leader_of(e, in, qr->round));
    return pp && (pp->check == QCHECK_NONE || pp->check == QCHECK_VALID) ? pp : NULL;
}

/* Alg. 2:1 for a higher round — a justified PRE-PREPARE (checked on receipt) moves us there. */
static int rule_pre_prepare_ahead(struct qbft_engine *e, struct qinst *in, uint64_t now)
{
    (void)now;
    for (size_t r = in->nrounds; r-- > 0 && in->rounds[r].round > in->round;) {
        const struct qround *qr = &in->rounds[r];
        if (usable_proposal(e, in, qr)) {
            qinst_enter_round(e, in, qr->round, false, "pre_prepare");
            return 1;
        }
    }
    return 0;
}

/* Alg. 3:1/3:5 — the ROUND-CHANGE of a round entered by timeout or jump, with the prepared
 * round, value and PREPARE quorum. */
static int rule_round_change_due(struct qbft_engine *e, struct qinst *in, uint64_t now)
{
    const struct qround *qr = qround_find(in, in->round);
    (void)now;
    if (!qr || !qr->want_rc || (qr->sent & TYPE_BIT(QBFT_ROUND_CHANGE)))
        return 0;
    struct qbft_body b = body_of(e, in, QBFT_ROUND_CHANGE, in->round, NULL);
    const struct qval *v = NULL;
    struct qbft_sigref just[QBFT_MAX_JUST];
    size_t nj = 0;
    if (in->pr) {
        v = qval_find(in, in->ph);
        if (!v)
            return 0; /* cannot happen: a node prepares only holding the value */
        b.prepared_round = in->pr;
        memcpy(b.prepared_hash, in->ph, QBFT_HASH_LEN);
        for (nj = 0; nj < in->npjust; nj++)
            just[nj] = ref_of(&in->pjust[nj]);
    }
    return emit(e, in, &b, v ? v->data : NULL, v ? v->len : 0, just, nj);
}

/* Alg. 2:1 — the leader's justified PRE-PREPARE for the current round: PREPARE its value. */
static int rule_justified_pre_prepare(struct qbft_engine *e, struct qinst *in, uint64_t now)
{
    const struct qround *qr = qround_find(in, in->round);
    (void)now;
    if (!qr || (qr->sent & TYPE_BIT(QBFT_PREPARE)))
        return 0;
    const struct qmsg *pp = usable_proposal(e, in, qr);
    if (!pp)
        return 0;
    struct qbft_body b = body_of(e, in, QBFT_PREPARE, in->round, pp->b.value_hash);
    return emit(e, in, &b, NULL, 0, NULL, 0);
}

/* Alg. 2:4 — a quorum of PREPAREs in the current round: prepared; COMMIT. */
static int rule_quorum_prepares(struct qbft_engine *e, struct qinst *in, uint64_t now)
{
    const struct qround *qr = qround_find(in, in->round);
    const struct qmsg *q[QBFT_MAX_NODES];
    (void)now;
    if (!qr || (qr->sent & TYPE_BIT(QBFT_COMMIT)) || !find_quorum(e, qr, QBFT_PREPARE, q))
        return 0;
    const struct qval *v = qval_find(in, q[0]->b.value_hash);
    if (!v)
        return 0;
    struct qbft_sigref just[QBFT_MAX_NODES];
    for (unsigned i = 0; i < e->q; i++)
        just[i] = ref_of(&q[i]->s);
    struct qbft_body b = body_of(e, in, QBFT_COMMIT, in->round, q[0]->b.value_hash);
    int rc = emit(e, in, &b, v->data, v->len, just, e->q);
    if (rc > 0) {
        qevent(e, in, QBFT_EV_QC, "prepare", in->round);
        qevent(e, in, QBFT_EV_STATE, "prepared", in->round);
    }
    return rc;
}

/*
 * Alg. 1:11 and 3:11 — the leader proposes: its input in round 1; later, with a quorum of
 * ROUND-CHANGEs for the round (each justified on receipt), the highest prepared value among
 * them with its PREPARE quorum, or its input when none was prepared. The justification is
 * exactly a quorum of ROUND-CHANGEs (the highest first) plus a quorum of PREPAREs: <= 2n.
 */
static int rule_leader_proposes(struct qbft_engine *e, struct qinst *in, uint64_t now)
{
    const struct qround *qr = qround_find(in, in->round);
    (void)now;
    if (!qr || leader_of(e, in, in->round) != e->cfg.self ||
        (qr->sent & TYPE_BIT(QBFT_PRE_PREPARE)))
        return 0;
    if (in->round == 1) {
        if (!in->has_input)
            return 0; /* joined without a value: silent, the round changes */
        struct qbft_body b = body_of(e, in, QBFT_PRE_PREPARE, 1, in->input.hash);
        return emit(e, in, &b, in->input.data, in->input.len, NULL, 0);
    }
    const struct qmsg *best = NULL;
    unsigned nrc = 0;
    for (unsigned s = 0; s < e->cfg.n; s++) {
        const struct qmsg *rc = *qslot(e, qr, QBFT_ROUND_CHANGE, s);
        if (!rc)
            continue;
        nrc++;
        if (!best || rc->b.prepared_round > best->b.prepared_round)
            best = rc;
    }
    if (nrc < e->q)
        return 0;
    const struct qval *v = &in->input;
    if (best->b.prepared_round) {
        v = qval_find(in, best->b.prepared_hash);
        if (!v)
            return 0;
    } else if (!in->has_input) {
        return 0; /* nothing prepared and no value of its own to propose */
    }
    struct qbft_sigref just[QBFT_MAX_JUST];
    size_t nj = 0;
    just[nj++] = ref_of(&best->s);
    for (unsigned s = 0; s < e->cfg.n && nj < e->q; s++) {
        const struct qmsg *rc = *qslot(e, qr, QBFT_ROUND_CHANGE, s);
        if (rc && rc != best)
            just[nj++] = ref_of(&rc->s);
    }
    for (unsigned i = 0; best->b.prepared_round && i < best->njust && i < e->q; i++)
        just[nj++] = ref_of(&best->just[i]);
    struct qbft_body b = body_of(e, in, QBFT_PRE_PREPARE, in->round, v->hash);
    int rc = emit(e, in, &b, v->data, v->len, just, nj);
    if (rc > 0)
        qevent(e, in, QBFT_EV_QC, "round_change", in->round);
    return rc;
}

/* In this order: deciding first, then moving to a higher round, then the current round. */
static int (*const upon_rules[])(struct qbft_engine *, struct qinst *, uint64_t) = {
    rule_quorum_commits,   rule_round_change_jump,     rule_pre_prepare_ahead,
    rule_round_change_due, rule_justified_pre_prepare, rule_quorum_prepares,
    rule_leader_proposes,
};

void qinst_step(struct qbft_engine *e, struct qinst *in, uint64_t now)
{
    in->blocked = false;
    /* Every firing sends a message or moves to a higher round; the bound only guards bugs. */
    for (unsigned guard = 0; guard < 4096 && in->status == QBFT_RUNNING; guard++) {
        int fired = 0;
        for (size_t i = 0; i < ARRAY_LEN(upon_rules) && !fired; i++) {
            int rc = upon_rules[i](e, in, now);
            if (rc < 0) {
                in->blocked = true;
                return;
            }
            fired = rc;
        }
        if (!fired)
            return;
    }
}

/* ---- decision ---- */

void qinst_decide(struct qbft_engine *e, struct qinst *in, const uint8_t hash[QBFT_HASH_LEN],
                  uint64_t round, const uint8_t *value, size_t len, const struct qsig *cert,
                  size_t ncert, bool report)
{
    struct qval dv = {{0}, NULL, 0};
    memcpy(dv.hash, hash, QBFT_HASH_LEN);
    dv.data = xmalloc(len ? len : 1);
    if (len)
        memcpy(dv.data, value, len); /* value may live in in->vals, freed by qinst_stop */
    dv.len = (uint32_t)len;
    in->dvalue = dv;
    in->status = QBFT_DECIDED_STATUS;
    memcpy(in->dhash, hash, QBFT_HASH_LEN);
    in->dround = round;
    in->dcert = xmalloc(ncert * sizeof(*in->dcert));
    memcpy(in->dcert, cert, ncert * sizeof(*in->dcert));
    in->ndcert = (uint16_t)ncert;
    struct qbft_sigref refs[QBFT_MAX_JUST];
    for (size_t i = 0; i < ncert; i++)
        refs[i] = ref_of(&in->dcert[i]);
    buf_reset(&in->cert);
    qbft_cert_encode(&in->cert, refs, ncert);
    qinst_stop(e, in);
    qdecided_add(e, in, e->last_now);
    if (!report)
        return;
    qevent(e, in, QBFT_EV_STATE, "decided", round);
    e->host.decided(e->host.ctx, &in->id, in->dvalue.data, in->dvalue.len, in->dhash, round,
                    in->cert.data, in->cert.len);
}

void qinst_decide_msg(struct qbft_engine *e, struct qinst *in, const struct qbft_msg *m)
{
    size_t n = m->njust < e->q ? m->njust : e->q;
    struct qsig *cert = xmalloc((n ? n : 1) * sizeof(*cert));
    for (size_t i = 0; i < n; i++)
        qsig_set(&cert[i], m->just[i].body, m->just[i].body_len, m->just[i].sig);
    qinst_decide(e, in, m->m.b.value_hash, m->m.b.round, m->value, m->value_len, cert, n, true);
    free(cert);
}

/*
 * A peer still changing rounds after we decided gets our DECIDED (value + certificate). Answers
 * are capped per peer: decided_resends at once, then one per round_timeout_ms, so a Byzantine
 * peer cannot turn a stream of new ROUND-CHANGEs into a stream of certificates, while an honest
 * laggard whose answers were lost still finishes.
 */
void qanswer_decided(struct qbft_engine *e, struct qinst *in, unsigned peer, uint64_t now)
{
    if (peer == e->cfg.self)
        return;
    if (!in->answers) {
        in->answers = xcalloc(e->cfg.n, sizeof(*in->answers));
        in->answer_ms = xcalloc(e->cfg.n, sizeof(*in->answer_ms));
    }
    if (in->answers[peer] >= e->cfg.decided_resends &&
        now < in->answer_ms[peer] + e->cfg.round_timeout_ms)
        return;
    if (in->dmsg.len == 0) {
        uint8_t digest[SHA256_LEN], sig[SIG_LEN];
        struct qbft_body b = body_of(e, in, QBFT_DECIDED, in->dround, in->dhash);
        struct buf body = BUF_INIT;
        qbft_body_encode(&body, &b);
        qbft_signing_digest(digest, e->cfg.lock_hash, body.data, body.len);
        if (e->host.sign(e->host.ctx, digest, sig) < 0) {
            buf_free(&body);
            return;
        }
        e->stats.signed_msgs++;
        struct qbft_sigref self = {body.data, body.len, sig};
        struct qbft_sigref refs[QBFT_MAX_JUST];
        for (size_t i = 0; i < in->ndcert; i++)
            refs[i] = ref_of(&in->dcert[i]);
        qbft_msg_encode(&in->dmsg, &self, in->dvalue.data, in->dvalue.len, refs, in->ndcert);
        buf_free(&body);
    }
    in->answers[peer]++;
    in->answer_ms[peer] = now;
    e->host.unicast(e->host.ctx, peer, QBFT_DECIDED, in->dmsg.data, in->dmsg.len);
}
