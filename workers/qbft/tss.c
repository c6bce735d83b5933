/* tss: see tss.h. */
#include "workers/qbft/tss.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "proto/duty.h"
#include "proto/p2p.h"
#include "proto/qbft.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLOG(t, level, event, ...)                                                                 \
    tss_log((t), (level), (event), (const struct log_kv[]){__VA_ARGS__, LOG_END})

#define BIT(i) (1u << (i))

/* One session: (duty type, height) of an instance this node decided. */
struct sess {
    uint8_t dtype;
    uint64_t height;
    uint8_t m[SHA256_LEN]; /* the message signed, from this node's own decision */
    unsigned base;         /* coordinator of attempt 0: the deciding round's leader */
    bool done;
    uint32_t attempt;
    uint64_t opened_ms, attempt_ms, deadline;
    uint32_t blamed; /* operators no coordinator of this session takes any more */
    /* this node as a signer of the current attempt */
    bool has_nonces;
    struct frost_nonces nonces;
    struct frost_commitment mine;
    /* this node as the coordinator of the current attempt */
    uint32_t commit_mask;
    struct frost_commitment commits[TSS_MAX_SIGNERS]; /* by operator index */
    uint8_t order[TSS_MAX_SIGNERS];                   /* operators in the order they committed */
    unsigned norder;
    bool sign_sent;
    uint64_t sign_ms;
    struct frost_commitment package[TSS_MAX_SIGNERS]; /* the t chosen, by identifier */
    uint32_t npackage, chosen, share_mask;
    uint8_t shares[TSS_MAX_SIGNERS][FROST_SCALAR_LEN]; /* by operator index */
    /* finished with a signature */
    bool has_rec;
    struct tss_record rec;
    uint32_t answered; /* peers whose late COMMIT was answered with the SIG (a broadcast to a
                        * peer whose link was down is lost) */
};

/* A message of a session unknown here (not decided yet, or decided before a restart). */
struct held {
    uint8_t dtype;
    uint64_t height;
    unsigned peer;
    uint64_t expire_ms;
    uint64_t ask_ms; /* when to ask host->lookup about it; UINT64_MAX: not (any more) */
    struct buf bytes;
    struct held *next;
};

struct tss {
    struct tss_config cfg;
    struct tss_host host;
    struct sess **sess; /* oldest first: at most 2 * max_sessions (running and finished) */
    size_t nsess, nrunning, ndone;
    struct held *held;
    size_t nheld;
    unsigned held_by[TSS_MAX_SIGNERS];
    struct {
        uint8_t dtype;
        uint64_t height;
    } lookups[TSS_LOOKUPS];
    size_t nlookups;
    /* Signers whose share failed this node's own verification: as a coordinator it takes none of
     * their commitments until then (host ms). A bad share is proof, not a peer's claim. */
    uint64_t suspect_until[TSS_MAX_SIGNERS];
    struct tss_msg *in, *out; /* decoding and encoding scratch */
    struct mseries *m_open;
};

/* ---------------------------------------------------------------- small helpers */

static void tss_log(struct tss *t, enum log_level level, const char *event, const struct log_kv *kv)
{
    if (t->host.log)
        t->host.log(t->host.ctx, level, event, kv);
}

static uint64_t now(const struct tss *t)
{
    return t->host.mono_ms(t->host.ctx);
}

static unsigned coordinator(const struct tss *t, const struct sess *s, uint32_t attempt)
{
    return (s->base + attempt) % t->cfg.n;
}

/* Left out of this coordinator's packages: blamed in this session, or suspected here. */
static bool left_out(const struct tss *t, const struct sess *s, unsigned op)
{
    return (s->blamed & BIT(op)) || t->suspect_until[op] > now(t);
}

static void wipe(void *p, size_t n)
{
    OPENSSL_cleanse(p, n);
}

static void set_open_gauge(struct tss *t)
{
    metric_set(t->m_open, (double)t->nrunning);
}

/* "0,2,3" */
static void signers_text(char *out, size_t cap, const struct tss_record *r)
{
    size_t len = 0;
    out[0] = 0;
    for (uint32_t i = 0; i < r->nsigners && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%u", i ? "," : "", r->signers[i]);
}

static void send_msg(struct tss *t, uint32_t peer, const struct tss_msg *m)
{
    struct buf b = BUF_INIT;
    tss_msg_encode(&b, m);
    t->host.send(t->host.ctx, peer, b.data, b.len);
    buf_free(&b);
}

static struct tss_msg *out_msg(struct tss *t, const struct sess *s, uint8_t kind)
{
    struct tss_msg *m = t->out;
    memset(m, 0, sizeof(*m));
    m->kind = kind;
    m->dtype = s->dtype;
    m->height = s->height;
    m->attempt = s->attempt;
    return m;
}

/* ---------------------------------------------------------------- the session table */

static struct sess *find(const struct tss *t, uint8_t dtype, uint64_t height)
{
    for (size_t i = t->nsess; i-- > 0;)
        if (t->sess[i]->dtype == dtype && t->sess[i]->height == height)
            return t->sess[i];
    return NULL;
}

/* The oldest session that is (done) finished or (!done) running; NULL when none. */
static struct sess *oldest(const struct tss *t, bool done, size_t *at)
{
    for (size_t i = 0; i < t->nsess; i++) {
        if (t->sess[i]->done == done) {
            *at = i;
            return t->sess[i];
        }
    }
    return NULL;
}

static void free_sess(struct tss *t, size_t at)
{
    struct sess *s = t->sess[at];
    if (s->done)
        t->ndone--;
    else
        t->nrunning--;
    wipe(s, sizeof(*s)); /* nonces and shares */
    free(s);
    memmove(&t->sess[at], &t->sess[at + 1], (t->nsess - at - 1) * sizeof(t->sess[0]));
    t->nsess--;
}

static void wipe_nonces(struct sess *s)
{
    if (s->has_nonces)
        frost_nonces_wipe(&s->nonces);
    s->has_nonces = false;
}

static void finish(struct tss *t, struct sess *s, const char *result);

/* Finished sessions are freed here only, never inside a session's own call chain. */
static struct sess *sess_new(struct tss *t, uint8_t dtype, uint64_t height)
{
    size_t at;
    struct sess *o;
    while (t->ndone >= t->cfg.max_sessions && oldest(t, true, &at))
        free_sess(t, at);
    if (t->nrunning >= t->cfg.max_sessions && (o = oldest(t, false, &at)) != NULL)
        finish(t, o, "dropped");
    struct sess *s = xcalloc(1, sizeof(*s));
    s->dtype = dtype;
    s->height = height;
    s->opened_ms = now(t);
    t->sess[t->nsess++] = s;
    t->nrunning++;
    set_open_gauge(t);
    return s;
}

/* A session ends: with a signature (ok), or without one. Finished sessions are kept (bounded,
 * sess_new frees the oldest) to answer late COMMITs and to ignore what still arrives for them. */
static void finish(struct tss *t, struct sess *s, const char *result)
{
    char signers[4 * TSS_MAX_SIGNERS] = "";
    if (s->has_rec)
        signers_text(signers, sizeof(signers), &s->rec);
    wipe_nonces(s);
    wipe(s->shares, sizeof(s->shares));
    s->done = true;
    s->deadline = UINT64_MAX;
    t->nrunning--;
    t->ndone++;
    set_open_gauge(t);
    /* SPEC's results are ok, timeout and invalid: a session crowded out by newer ones ends
     * without a signature like one that timed out, and is counted so (its log line says why). */
    metric_inc(metric("tss_sessions_total", strcmp(result, "dropped") ? result : "timeout"));
    TLOG(t, s->has_rec ? LOG_INFO : LOG_WARN, "tss_session", LS("duty", duty_type_name(s->dtype)),
         LU("height", s->height), LS("result", result), LU("attempt", s->attempt),
         LU("coordinator", coordinator(t, s, s->attempt)), LS("signers", signers),
         LU("ms", now(t) - s->opened_ms));
}

/* ---------------------------------------------------------------- attempts */

static void try_package(struct tss *t, struct sess *s);

/* Enter an attempt: fresh nonces, and the commitment goes to its coordinator. */
static void begin_attempt(struct tss *t, struct sess *s, uint32_t attempt)
{
    uint8_t rnd[2 * FROST_SCALAR_LEN];
    unsigned self = t->cfg.self, c = coordinator(t, s, attempt);
    wipe_nonces(s);
    wipe(s->shares, sizeof(s->shares));
    s->attempt = attempt;
    s->attempt_ms = now(t);
    s->deadline = s->attempt_ms + t->cfg.attempt_ms;
    s->commit_mask = s->chosen = s->share_mask = 0;
    s->norder = s->npackage = 0;
    s->sign_sent = false;
    t->host.random(t->host.ctx, rnd, sizeof(rnd));
    s->has_nonces = frost_commit_with((uint16_t)(self + 1), t->cfg.share, rnd,
                                      rnd + FROST_SCALAR_LEN, &s->nonces, &s->mine) == 0;
    wipe(rnd, sizeof(rnd));
    if (!s->has_nonces) {
        TLOG(t, LOG_ERROR, "tss_session", LS("duty", duty_type_name(s->dtype)),
             LU("height", s->height), LU("attempt", attempt),
             LS("err", "no nonces: this node does not sign in this attempt"));
        return;
    }
    /* Debug (-v): the commitment's points, so a test can see that no nonce is ever used twice. */
    char hiding[2 * FROST_POINT_LEN + 1], binding[2 * FROST_POINT_LEN + 1];
    hex_encode(hiding, s->mine.hiding, FROST_POINT_LEN);
    hex_encode(binding, s->mine.binding, FROST_POINT_LEN);
    TLOG(t, LOG_DEBUG, "tss_session", LS("event", "commit"), LS("duty", duty_type_name(s->dtype)),
         LU("height", s->height), LU("attempt", attempt), LU("coordinator", c),
         LS("hiding", hiding), LS("binding", binding));
    if (c != self) {
        struct tss_msg *m = out_msg(t, s, TSS_COMMIT);
        m->commit = s->mine;
        send_msg(t, c, m);
        return;
    }
    if (!left_out(t, s, self)) {
        s->commits[self] = s->mine;
        s->commit_mask |= BIT(self);
        s->order[s->norder++] = (uint8_t)self;
    }
    try_package(t, s);
}

/* Attempts before `attempt` failed (time ran out, a share was bad, or the cluster moved on
 * without this node): that one, or the end after n. */
static void move_to(struct tss *t, struct sess *s, uint32_t attempt)
{
    if (attempt < t->cfg.n)
        begin_attempt(t, s, attempt);
    else
        finish(t, s, "timeout");
}

static void next_attempt(struct tss *t, struct sess *s)
{
    move_to(t, s, s->attempt + 1);
}

static int by_id(const void *a, const void *b)
{
    const struct frost_commitment *x = a, *y = b;
    return (int)x->id - (int)y->id;
}

static void add_share(struct tss *t, struct sess *s, unsigned op,
                      const uint8_t z[FROST_SCALAR_LEN]);

/* The coordinator holds t commitments: the first t to arrive (its own first) sign. */
static void try_package(struct tss *t, struct sess *s)
{
    unsigned self = t->cfg.self;
    if (s->sign_sent || s->norder < t->cfg.t)
        return;
    for (unsigned i = 0; i < t->cfg.t; i++) {
        s->package[i] = s->commits[s->order[i]];
        s->chosen |= BIT(s->order[i]);
    }
    s->npackage = t->cfg.t;
    qsort(s->package, s->npackage, sizeof(s->package[0]), by_id);
    s->sign_sent = true;
    s->sign_ms = now(t);
    metric_observe(metric("tss_round_seconds", "commit"),
                   (double)(s->sign_ms - s->attempt_ms) / 1000.0);
    struct tss_msg *m = out_msg(t, s, TSS_SIGN);
    m->ncommits = s->npackage;
    memcpy(m->commits, s->package, s->npackage * sizeof(s->package[0]));
    for (unsigned op = 0; op < t->cfg.n; op++)
        if (op != self && (s->chosen & BIT(op)))
            send_msg(t, op, m);
    if (!(s->chosen & BIT(self)))
        return;
    uint8_t z[FROST_SCALAR_LEN];
    int rc = frost_sign((uint16_t)(self + 1), t->cfg.share, &s->nonces, s->package, s->npackage,
                        s->m, SHA256_LEN, t->cfg.group_pub, z);
    s->has_nonces = false; /* frost_sign wiped them */
    if (rc == 0)
        add_share(t, s, self, z);
    wipe(z, sizeof(z));
}

/* Every chosen signer's share is in and verified: the group signature. */
static void aggregate(struct tss *t, struct sess *s)
{
    uint8_t shares[TSS_MAX_SIGNERS][FROST_SCALAR_LEN];
    struct tss_record rec = {0};
    for (uint32_t i = 0; i < s->npackage; i++) {
        unsigned op = s->package[i].id - 1u;
        memcpy(shares[i], s->shares[op], FROST_SCALAR_LEN);
        rec.signers[rec.nsigners++] = (uint8_t)op;
    }
    int rc = frost_aggregate(s->package, s->npackage, (const uint8_t(*)[FROST_SCALAR_LEN])shares,
                             s->m, SHA256_LEN, t->cfg.group_pub, rec.sig);
    wipe(shares, sizeof(shares));
    if (rc < 0 || frost_verify(t->cfg.group_pub, s->m, SHA256_LEN, rec.sig) < 0) {
        /* Every share verified, so this cannot happen unless the key material is wrong. */
        TLOG(t, LOG_ERROR, "tss_session", LS("duty", duty_type_name(s->dtype)),
             LU("height", s->height), LU("attempt", s->attempt),
             LS("err", "the aggregate of verified shares does not verify"));
        next_attempt(t, s);
        return;
    }
    metric_observe(metric("tss_round_seconds", "sign"), (double)(now(t) - s->sign_ms) / 1000.0);
    s->rec = rec;
    s->has_rec = true;
    t->host.store(t->host.ctx, s->dtype, s->height, &s->rec);
    struct tss_msg *m = out_msg(t, s, TSS_SIG);
    m->nsigners = rec.nsigners;
    memcpy(m->signers, rec.signers, rec.nsigners);
    memcpy(m->sig, rec.sig, FROST_SIG_LEN);
    send_msg(t, P2P_BROADCAST, m);
    finish(t, s, "ok");
}

static void add_share(struct tss *t, struct sess *s, unsigned op, const uint8_t z[FROST_SCALAR_LEN])
{
    uint16_t id = (uint16_t)(op + 1);
    if (frost_share_verify(id, t->cfg.vshares[op], z, s->package, s->npackage, s->m, SHA256_LEN,
                           t->cfg.group_pub) < 0) {
        metric_inc(metric("tss_sessions_total", "invalid"));
        TLOG(t, LOG_WARN, "tss_session", LS("duty", duty_type_name(s->dtype)),
             LU("height", s->height), LS("result", "invalid"), LU("attempt", s->attempt),
             LU("coordinator", t->cfg.self), LU("signer", op),
             LS("err", "signature share does not verify: signer left out of the next attempts, "
                       "and of this coordinator's packages for 10 min"));
        if (op != t->cfg.self)
            t->host.report(t->host.ctx, op, TSS_REPORT_INVALID);
        s->blamed |= BIT(op);
        t->suspect_until[op] = now(t) + TSS_SUSPECT_MS;
        struct tss_msg *m = out_msg(t, s, TSS_ABORT);
        m->id = id;
        send_msg(t, P2P_BROADCAST, m);
        next_attempt(t, s);
        return;
    }
    memcpy(s->shares[op], z, FROST_SCALAR_LEN);
    s->share_mask |= BIT(op);
    if (s->share_mask == s->chosen)
        aggregate(t, s);
}

/* ---------------------------------------------------------------- held messages, lookups */

static void hold(struct tss *t, unsigned peer, const struct tss_msg *m, const uint8_t *bytes,
                 size_t len)
{
    if (m->kind == TSS_SIGN || m->kind == TSS_SHARE)
        return; /* only for a session this node committed in, or coordinates */
    if (t->nheld >= TSS_HELD || t->held_by[peer] >= TSS_HELD / t->cfg.n)
        return;
    struct held *h = xcalloc(1, sizeof(*h));
    h->dtype = m->dtype;
    h->height = m->height;
    h->peer = peer;
    h->expire_ms = now(t) + t->cfg.n * t->cfg.attempt_ms;
    /* Usually this node decides a moment later; only a message still held after a quarter of an
     * attempt makes it ask whether it decided the instance before it (re)started. */
    h->ask_ms = t->host.lookup ? now(t) + t->cfg.attempt_ms / 4 : UINT64_MAX;
    buf_append(&h->bytes, bytes, len);
    h->next = t->held;
    t->held = h;
    t->nheld++;
    t->held_by[peer]++;
}

/* Ask host->lookup about a held message's instance, once (while the set remembers it). */
static void ask(struct tss *t, struct held *h)
{
    h->ask_ms = UINT64_MAX;
    for (size_t i = 0; i < t->nlookups; i++)
        if (t->lookups[i].dtype == h->dtype && t->lookups[i].height == h->height)
            return;
    if (t->nlookups == TSS_LOOKUPS)
        t->nlookups = 0;
    t->lookups[t->nlookups].dtype = h->dtype;
    t->lookups[t->nlookups].height = h->height;
    t->nlookups++;
    t->host.lookup(t->host.ctx, h->dtype, h->height);
}

static void drop_held(struct tss *t, struct held **pp)
{
    struct held *h = *pp;
    *pp = h->next;
    t->nheld--;
    t->held_by[h->peer]--;
    buf_free(&h->bytes);
    free(h);
}

/* The attempt a session that opens now starts at: what the held messages show of the running
 * one (a COMMIT to this node as its coordinator, or the attempt after an ABORT), else 0. */
static uint32_t start_attempt(struct tss *t, const struct sess *s)
{
    uint32_t a = 0;
    for (struct held *h = t->held; h; h = h->next) {
        if (h->dtype != s->dtype || h->height != s->height ||
            tss_msg_decode(t->in, h->bytes.data, h->bytes.len) < 0)
            continue;
        const struct tss_msg *m = t->in;
        if (m->kind == TSS_COMMIT && m->attempt < t->cfg.n &&
            coordinator(t, s, m->attempt) == t->cfg.self && m->attempt > a)
            a = m->attempt;
        else if (m->kind == TSS_ABORT && m->attempt + 1 < t->cfg.n && m->attempt + 1 > a &&
                 h->peer == coordinator(t, s, m->attempt))
            a = m->attempt + 1;
    }
    return a;
}

static void deliver(struct tss *t, unsigned peer, const uint8_t *bytes, size_t len);

/* A session opened: what was held for it is delivered now. */
static void replay(struct tss *t, uint8_t dtype, uint64_t height)
{
    struct held *mine = NULL, **pp = &t->held;
    while (*pp) {
        struct held *h = *pp;
        if (h->dtype == dtype && h->height == height) {
            *pp = h->next;
            t->nheld--;
            t->held_by[h->peer]--;
            h->next = mine;
            mine = h;
        } else {
            pp = &h->next;
        }
    }
    while (mine) { /* oldest first: the list was built newest first, then reversed */
        struct held *h = mine;
        mine = h->next;
        deliver(t, h->peer, h->bytes.data, h->bytes.len);
        buf_free(&h->bytes);
        free(h);
    }
}

static struct sess *open_decided(struct tss *t, uint8_t dtype, uint64_t height, uint64_t round,
                                 const uint8_t value_hash[SHA256_LEN])
{
    struct sess *s = sess_new(t, dtype, height);
    tss_message(s->m, t->cfg.lock_hash, value_hash);
    s->base = qbft_leader(dtype, height, round, t->cfg.n);
    return s;
}

void tss_decided(struct tss *t, uint8_t dtype, uint64_t height, uint64_t round,
                 const uint8_t value_hash[SHA256_LEN])
{
    if (find(t, dtype, height))
        return;
    struct sess *s = open_decided(t, dtype, height, round, value_hash);
    begin_attempt(t, s, start_attempt(t, s));
    replay(t, dtype, height);
}

void tss_lookup_done(struct tss *t, uint8_t dtype, uint64_t height, bool decided, uint64_t round,
                     const uint8_t value_hash[SHA256_LEN], const struct tss_record *rec)
{
    if (!decided || find(t, dtype, height))
        return; /* not decided here (yet): what is held waits for tss_decided, or expires */
    struct sess *s = open_decided(t, dtype, height, round, value_hash);
    if (rec) {
        /* Signed already: a finished session that answers late COMMITs with the signature. */
        s->rec = *rec;
        s->has_rec = true;
        s->done = true;
        s->deadline = UINT64_MAX;
        t->nrunning--;
        t->ndone++;
        set_open_gauge(t);
    } else {
        begin_attempt(t, s, start_attempt(t, s));
    }
    replay(t, dtype, height);
}

/* ---------------------------------------------------------------- messages from peers */

static void on_commit(struct tss *t, unsigned peer, struct sess *s, const struct tss_msg *m)
{
    unsigned self = t->cfg.self;
    if (s->done) {
        /* A late signer: it gets the signature instead (once). */
        if (s->has_rec && !(s->answered & BIT(peer))) {
            s->answered |= BIT(peer);
            struct tss_msg *o = out_msg(t, s, TSS_SIG);
            o->nsigners = s->rec.nsigners;
            memcpy(o->signers, s->rec.signers, s->rec.nsigners);
            memcpy(o->sig, s->rec.sig, FROST_SIG_LEN);
            send_msg(t, peer, o);
        }
        return;
    }
    if (m->commit.id != peer + 1 || frost_commitment_check(&m->commit) < 0) {
        t->host.report(t->host.ctx, peer, TSS_REPORT_UNDECODABLE);
        return;
    }
    /* This node is a step behind the signer (its clock, or an ABORT it has not seen yet): the
     * next attempt is its own to coordinate. Only one step: a node far ahead (its attempts
     * timed out while others signed) must not pull a coordinator out of a running attempt. */
    if (m->attempt == s->attempt + 1 && m->attempt < t->cfg.n &&
        coordinator(t, s, m->attempt) == self && !left_out(t, s, peer))
        begin_attempt(t, s, m->attempt);
    if (m->attempt != s->attempt || coordinator(t, s, m->attempt) != self || s->sign_sent ||
        left_out(t, s, peer) || (s->commit_mask & BIT(peer)))
        return;
    s->commits[peer] = m->commit;
    s->commit_mask |= BIT(peer);
    s->order[s->norder++] = (uint8_t)peer;
    try_package(t, s);
}

static void on_sign(struct tss *t, unsigned peer, struct sess *s, const struct tss_msg *m)
{
    unsigned self = t->cfg.self;
    if (s->done || m->attempt != s->attempt || peer != coordinator(t, s, m->attempt) ||
        !s->has_nonces || m->ncommits != t->cfg.t)
        return; /* late, early, not the coordinator's, or answered already */
    bool mine = false;
    for (uint32_t i = 0; i < m->ncommits; i++) {
        if (m->commits[i].id > t->cfg.n)
            return;
        if (m->commits[i].id == self + 1)
            mine = !memcmp(&m->commits[i], &s->mine, sizeof(s->mine));
    }
    if (!mine)
        return; /* this node's commitment is not in it, or not unchanged */
    struct tss_msg *o = out_msg(t, s, TSS_SHARE);
    o->id = (uint16_t)(self + 1);
    int rc = frost_sign(o->id, t->cfg.share, &s->nonces, m->commits, m->ncommits, s->m, SHA256_LEN,
                        t->cfg.group_pub, o->z);
    s->has_nonces = false; /* frost_sign wiped them, whatever it answered */
    if (rc == 0)
        send_msg(t, peer, o);
    wipe(o->z, sizeof(o->z));
}

static void on_share(struct tss *t, unsigned peer, struct sess *s, const struct tss_msg *m)
{
    if (s->done || m->attempt != s->attempt || coordinator(t, s, m->attempt) != t->cfg.self ||
        !s->sign_sent || !(s->chosen & BIT(peer)) || (s->share_mask & BIT(peer)))
        return;
    if (m->id != peer + 1) {
        t->host.report(t->host.ctx, peer, TSS_REPORT_UNDECODABLE);
        return;
    }
    add_share(t, s, peer, m->z);
}

/* An ABORT counts from its attempt's coordinator only. ABORTs of different coordinators can
 * arrive in any order: a late one still blames, an early one (of a later attempt than this node's)
 * moves this node on to the attempt after it, where the rest of the cluster is. */
static void on_abort(struct tss *t, unsigned peer, struct sess *s, const struct tss_msg *m)
{
    unsigned blamed = m->id - 1u;
    if (s->done || m->attempt >= t->cfg.n || peer != coordinator(t, s, m->attempt) ||
        blamed >= t->cfg.n || blamed == peer)
        return;
    s->blamed |= BIT(blamed);
    if (m->attempt >= s->attempt)
        move_to(t, s, m->attempt + 1);
}

static void on_sig(struct tss *t, unsigned peer, struct sess *s, const struct tss_msg *m)
{
    if (s->done)
        return;
    if (m->nsigners < t->cfg.t || m->signers[m->nsigners - 1] >= t->cfg.n ||
        frost_verify(t->cfg.group_pub, s->m, SHA256_LEN, m->sig) < 0) {
        t->host.report(t->host.ctx, peer, TSS_REPORT_INVALID);
        return;
    }
    s->rec.nsigners = m->nsigners;
    memcpy(s->rec.signers, m->signers, m->nsigners);
    memcpy(s->rec.sig, m->sig, FROST_SIG_LEN);
    s->has_rec = true;
    t->host.store(t->host.ctx, s->dtype, s->height, &s->rec);
    finish(t, s, "ok");
}

static void (*const handlers[TSS_KIND_MAX + 1])(struct tss *, unsigned, struct sess *,
                                                const struct tss_msg *) = {
    [TSS_COMMIT] = on_commit, [TSS_SIGN] = on_sign, [TSS_SHARE] = on_share,
    [TSS_ABORT] = on_abort,   [TSS_SIG] = on_sig,
};

static void deliver(struct tss *t, unsigned peer, const uint8_t *bytes, size_t len)
{
    if (tss_msg_decode(t->in, bytes, len) < 0) {
        t->host.report(t->host.ctx, peer, TSS_REPORT_UNDECODABLE);
        return;
    }
    struct sess *s = find(t, t->in->dtype, t->in->height);
    if (!s) {
        hold(t, peer, t->in, bytes, len);
        return;
    }
    handlers[t->in->kind](t, peer, s, t->in);
}

void tss_deliver(struct tss *t, unsigned peer, const uint8_t *bytes, size_t len)
{
    if (peer >= t->cfg.n || peer == t->cfg.self)
        return;
    deliver(t, peer, bytes, len);
}

/* ---------------------------------------------------------------- timers */

void tss_tick(struct tss *t)
{
    uint64_t n = now(t);
    for (size_t i = 0; i < t->nsess; i++) /* sessions finish here, they are freed in sess_new */
        if (!t->sess[i]->done && t->sess[i]->deadline <= n)
            next_attempt(t, t->sess[i]);
    struct held **pp = &t->held;
    while (*pp) {
        if ((*pp)->expire_ms <= n) {
            drop_held(t, pp);
            continue;
        }
        if ((*pp)->ask_ms <= n)
            ask(t, *pp); /* its answer comes later (tss_lookup_done): the list stays as is */
        pp = &(*pp)->next;
    }
}

uint64_t tss_next_deadline(const struct tss *t)
{
    uint64_t d = UINT64_MAX;
    for (size_t i = 0; i < t->nsess; i++)
        if (!t->sess[i]->done && t->sess[i]->deadline < d)
            d = t->sess[i]->deadline;
    for (const struct held *h = t->held; h; h = h->next) {
        if (h->expire_ms < d)
            d = h->expire_ms;
        if (h->ask_ms < d)
            d = h->ask_ms;
    }
    return d;
}

size_t tss_open(const struct tss *t)
{
    return t->nrunning;
}

/* ---------------------------------------------------------------- lifecycle */

static const char *const results[] = {"ok", "timeout", "invalid"};
static const char *const rounds[] = {"commit", "sign"};

struct tss *tss_new(const struct tss_config *cfg, const struct tss_host *host, char *err,
                    size_t errsz)
{
    if (cfg->n == 0 || cfg->n > TSS_MAX_SIGNERS || cfg->t == 0 || cfg->t > cfg->n ||
        cfg->self >= cfg->n || cfg->attempt_ms == 0 || cfg->max_sessions == 0) {
        snprintf(err, errsz, "tss: invalid configuration (n %u, t %u, self %u)", cfg->n, cfg->t,
                 cfg->self);
        return NULL;
    }
    struct tss *t = xcalloc(1, sizeof(*t));
    t->cfg = *cfg;
    t->host = *host;
    t->sess = xcalloc(2 * cfg->max_sessions, sizeof(*t->sess));
    t->in = xmalloc(sizeof(*t->in));
    t->out = xmalloc(sizeof(*t->out));
    for (size_t i = 0; i < ARRAY_LEN(results); i++)
        metric("tss_sessions_total", results[i]);
    for (size_t i = 0; i < ARRAY_LEN(rounds); i++)
        metric("tss_round_seconds", rounds[i]);
    t->m_open = metric("tss_sessions_open");
    set_open_gauge(t);
    return t;
}

void tss_free(struct tss *t)
{
    if (!t)
        return;
    while (t->nsess > 0)
        free_sess(t, t->nsess - 1);
    free(t->sess);
    while (t->held)
        drop_held(t, &t->held);
    wipe(&t->cfg.share, sizeof(t->cfg.share));
    wipe(t->out, sizeof(*t->out));
    free(t->in);
    free(t->out);
    free(t);
}
