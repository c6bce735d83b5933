/*
 * blocks: what the duties module does only for block instances (duties.h, "Block instances"):
 * the builder's verdicts on proposals, the proposer lock, the instances it starts itself (slots,
 * joining), new input blocks when the head moves (refresh_inputs), decided blocks handed to the
 * builder, and catching up over aequa/sync/v1.
 *
 * Why the lock. A block names its parent, and each honest node PREPAREs a proposal only when its
 * parent is the node's head. Two block instances running at once (a slow slot and the next one)
 * could still decide two different children of one parent: each quorum would have validated its
 * block against the same head. Every quorum of one instance and every quorum of another share an
 * honest node; the lock makes that node vote in at most one of them for a given parent, so at
 * most one child of a parent is ever decided and the chain never forks:
 *   - a vote (PREPARE or COMMIT) in instance h for a block with parent P needs P = the head, and
 *     no other live instance of this node holding a vote for a child of P at a lower height;
 *   - a vote at a lower height than the instance holding the lock moves the lock down — the
 *     higher instance is abstained from for good — unless this node COMMITted there (a COMMIT
 *     may already count towards a decision);
 *   - the lock of a decided instance, or one whose parent is no longer the head, binds nothing.
 *   - lowest first: no vote in an instance while a lower block instance above the head runs
 *     here, undecided (unless it is older than instance_expire_ms: a dead one must not stop the
 *     chain), so nodes that know the same instances vote in the same one.
 * Moving down (never up) lets nodes that split between two instances converge on the lower one
 * (a node that voted before it learnt of a lower instance).
 * The lock is a WAL record (QBFT_INTENT_LOCK: parent | value hash) appended before the vote's
 * own intent, and the vote leaves only once both are durable; after a restart the records
 * rebuild the lock.
 *
 * Untrusted input: proposals (judged by the builder; a block that does not even decode is
 * invalid here), sync messages from peers (decoded strictly; a certificate is verified by the
 * engine against the lock's keys before anything is believed; a bad one is reported for the P2P
 * score). Bounds: DUTIES_VALS values per instance, one sync request out, DUTIES_SYNC_SERVE peers'
 * requests served at once.
 */
#include "lib/metrics.h"
#include "lib/util.h"
#include "proto/block.h"
#include "proto/sync.h"
#include "workers/qbft/duties_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t null_payload[] = "null"; /* the stored payload of every block duty */

bool blocks_duty(const struct duties *d, uint8_t duty)
{
    return (d->cfg.block_duties >> duty) & 1;
}

/* ---------------------------------------------------------------- values */

static struct dval *val_find(struct dinst *in, const uint8_t hash[SHA256_LEN])
{
    for (struct dval *v = in->vals; v; v = v->next)
        if (!memcmp(v->hash, hash, SHA256_LEN))
            return v;
    return NULL;
}

static struct dval *val_add(struct dinst *in, const uint8_t hash[SHA256_LEN],
                            const uint8_t parent[SHA256_LEN], uint8_t verdict)
{
    struct dval *v = xcalloc(1, sizeof(*v));
    memcpy(v->hash, hash, SHA256_LEN);
    memcpy(v->parent, parent, SHA256_LEN);
    v->verdict = verdict;
    v->next = in->vals;
    in->vals = v;
    in->nvals++;
    return v;
}

/* The parent of a block, or -1 when the bytes are not a block (of this height). */
static int block_parent(const uint8_t *value, size_t len, uint64_t height,
                        uint8_t parent[SHA256_LEN])
{
    struct block b;
    if (block_decode(&b, value, len, UINT32_MAX) != BLOCK_DECODE_OK)
        return -1;
    int rc = b.h.height == height ? 0 : -1;
    memcpy(parent, b.h.parent_hash, SHA256_LEN);
    block_free(&b);
    return rc;
}

enum qbft_validity blocks_validate(struct duties *d, const struct qbft_id *id,
                                   const uint8_t hash[QBFT_HASH_LEN], const uint8_t *value,
                                   size_t len)
{
    struct dinst *in = duties_inst_get(d, id);
    struct dval *v = val_find(in, hash);
    if (v)
        return v->verdict == DV_VALID     ? QBFT_VALUE_VALID
               : v->verdict == DV_INVALID ? QBFT_VALUE_INVALID
                                          : QBFT_VALUE_PENDING;
    uint8_t parent[SHA256_LEN];
    if (in->nvals >= DUTIES_VALS || block_parent(value, len, id->height, parent) < 0) {
        if (in->nvals < DUTIES_VALS)
            val_add(in, hash, parent, DV_INVALID);
        metric_inc(metric("builder_reject_total", "block", "decode"));
        return QBFT_VALUE_INVALID;
    }
    v = val_add(in, hash, parent, DV_PENDING);
    buf_append(&v->bytes, value, len);
    enum qbft_validity r = d->host.validate(d->host.ctx, id, hash, value, len);
    if (r != QBFT_VALUE_PENDING) {
        v->verdict = r == QBFT_VALUE_VALID ? DV_VALID : DV_INVALID;
        buf_free(&v->bytes);
    }
    return r;
}

int duties_value_judged(struct duties *d, const struct qbft_id *id,
                        const uint8_t hash[QBFT_HASH_LEN], enum duties_verdict verdict)
{
    struct dinst *in = duties_inst_find(d, id);
    struct dval *v = in && blocks_duty(d, id->duty) ? val_find(in, hash) : NULL;
    if (in && blocks_duty(d, id->duty) && !v) {
        errno = ENOENT;
        return -1;
    }
    if (v && verdict == DUTIES_BEHIND) {
        /* The builder lacks the proposal's parent: catch up, then ask again (the engine keeps
         * the proposal pending meanwhile). */
        v->verdict = DV_BEHIND;
        d->behind = true;
        if (!d->sync_on)
            d->sync_deadline = 0; /* a request goes out at the next tick */
        return 0;
    }
    if (v) {
        v->verdict = verdict == DUTIES_VALID ? DV_VALID : DV_INVALID;
        buf_free(&v->bytes);
    }
    int rc = qbft_value_checked(d->eng, id, hash, verdict == DUTIES_VALID, duties_mono(d));
    blocks_flush(d);
    return rc;
}

static void val_drop(struct dinst *in, const uint8_t hash[SHA256_LEN])
{
    for (struct dval **pp = &in->vals; *pp; pp = &(*pp)->next)
        if (!memcmp((*pp)->hash, hash, SHA256_LEN)) {
            struct dval *v = *pp;
            *pp = v->next;
            buf_free(&v->bytes);
            free(v);
            in->nvals--;
            return;
        }
}

void blocks_own_value(struct duties *d, struct dinst *in, const uint8_t *value, size_t len)
{
    uint8_t hash[SHA256_LEN], parent[SHA256_LEN];
    (void)d;
    sha256(hash, value, len);
    if (block_parent(value, len, in->id.height, parent) < 0)
        return;
    /* A block of ours that this one replaces builds on a head that has moved on since: no
     * one can vote for it any more (heads only move up). */
    if (in->has_own && memcmp(in->own_hash, hash, SHA256_LEN) != 0)
        val_drop(in, in->own_hash);
    in->has_own = true;
    memcpy(in->own_hash, hash, SHA256_LEN);
    memcpy(in->own_parent, parent, SHA256_LEN);
    if (!val_find(in, hash) && in->nvals < DUTIES_VALS)
        val_add(in, hash, parent, DV_VALID);
}

int blocks_new_input(struct duties *d, struct dinst *in, const uint8_t *value, size_t len)
{
    in->refreshing = false;
    if (!value || in->decided)
        return 0; /* the builder is behind: asked again when the head moves */
    blocks_own_value(d, in, value, len);
    int rc = qbft_set_input(d->eng, &in->id, value, len, duties_mono(d));
    blocks_flush(d);
    return rc;
}

/*
 * Why inputs are refreshed. An instance's input is the block the builder built on its head when
 * the instance started. A slot that needs a round change (its leader is down, or Byzantine)
 * decides after the next slot's instance started, so that instance's block names a parent that
 * is no longer the head once the slow one is applied: no honest node can vote for it, every
 * round proposes it again, and, being the lowest instance, it kept every higher one from voting
 * until it expired (instance_expire_s: one block a minute with one node down). So whenever the
 * head moves, every running block instance above it whose own block does not build on the new
 * head (or that has none: it joined while the builder was behind) asks the builder for a new
 * one; the engine proposes it from the next round on (qbft_set_input). A builder with nothing
 * pending has none to give (the slow slot took every transaction): it is asked again at its
 * next SLOT, which it sends only once it holds pending transactions.
 */
static void refresh_inputs(struct duties *d)
{
    if (!d->host.want_input)
        return;
    for (size_t b = 0; b < INST_BUCKETS; b++)
        for (struct dinst *in = d->inst[b]; in; in = in->next)
            if (blocks_duty(d, in->id.duty) && in->started && !in->decided && !in->abandoned &&
                !in->awaiting_input && !in->refreshing && in->id.height > d->head_height &&
                (!in->has_own || memcmp(in->own_parent, d->head, SHA256_LEN) != 0)) {
                in->refreshing = true;
                d->host.want_input(d->host.ctx, &in->id, in->explicit_duty);
            }
}

/* ---------------------------------------------------------------- the lock */

static void abstain_later(struct duties *d, const struct qbft_id *id)
{
    if (d->nabstain == d->abstain_cap) {
        d->abstain_cap = d->abstain_cap ? 2 * d->abstain_cap : 8;
        d->abstain_q = xrealloc(d->abstain_q, d->abstain_cap * sizeof(*d->abstain_q));
    }
    d->abstain_q[d->nabstain++] = *id;
}

void blocks_flush(struct duties *d)
{
    for (size_t i = 0; i < d->nabstain; i++)
        qbft_abstain(d->eng, &d->abstain_q[i]);
    d->nabstain = 0;
}

static bool lock_binds(const struct duties *d, const struct dinst *l, const uint8_t parent[32])
{
    return l->voted && !l->decided && !l->abandoned &&
           !memcmp(l->vote_parent, parent, SHA256_LEN) &&
           !memcmp(l->vote_parent, d->head, SHA256_LEN);
}

static void voted_link(struct duties *d, struct dinst *in)
{
    for (struct dinst *l = d->voted; l; l = l->vnext)
        if (l == in)
            return;
    in->vnext = d->voted;
    d->voted = in;
}

static void voted_unlink(struct duties *d, struct dinst *in)
{
    for (struct dinst **pp = &d->voted; *pp; pp = &(*pp)->vnext)
        if (*pp == in) {
            *pp = in->vnext;
            in->vnext = NULL;
            return;
        }
}

/* A block instance below in and above the head that runs here, undecided and not expired. */
static bool lower_runs(struct duties *d, const struct dinst *in)
{
    uint64_t now = duties_mono(d);
    for (size_t b = 0; b < INST_BUCKETS; b++)
        for (const struct dinst *l = d->inst[b]; l; l = l->next)
            if (l != in && l->id.duty == in->id.duty && l->started && !l->decided &&
                !l->abandoned && l->id.height < in->id.height && l->id.height > d->head_height &&
                now - l->start_mono_ms < d->cfg.instance_expire_ms)
                return true;
    return false;
}

/*
 * Block instances start one at a time, lowest first. A block names its parent, so the block of
 * height h can only be built once h-1 is decided (or has given up); an instance started before
 * that proposes a block that goes stale when the head moves, and every round it spends on stale
 * proposals makes its next round timer longer (ten proposer duties POSTed at once left the last
 * ones at round 10, tens of seconds per round, until they expired). So an instance with a lower
 * one still running above the head waits, unbuilt and not started: its peers' messages wait in
 * the engine's buffer, its round schedule has not begun and it does not expire. When the head
 * moves or the lower instance expires, the lowest waiting one is built on the new head and starts
 * at round 1. Every honest node follows the same rule, so they start it within moments of each
 * other (when each applies the block below).
 */
static bool lower_pending(struct duties *d, const struct dinst *in)
{
    uint64_t now = duties_mono(d);
    for (size_t b = 0; b < INST_BUCKETS; b++)
        for (const struct dinst *l = d->inst[b]; l; l = l->next)
            if (l != in && l->id.duty == in->id.duty && !l->decided && !l->abandoned &&
                l->id.height < in->id.height && l->id.height > d->head_height &&
                (l->deferred || ((l->started || l->awaiting_input) && l->open &&
                                 now - l->start_mono_ms < d->cfg.instance_expire_ms)))
                return true;
    return false;
}

bool blocks_defer(struct duties *d, struct dinst *in)
{
    in->deferred = lower_pending(d, in);
    return in->deferred;
}

void blocks_release(struct duties *d)
{
    for (uint8_t t = 0; t < DUTY_TYPES; t++) {
        if (!blocks_duty(d, t))
            continue;
        struct dinst *low = NULL;
        for (size_t b = 0; b < INST_BUCKETS; b++)
            for (struct dinst *in = d->inst[b]; in; in = in->next) {
                if (!in->deferred || in->id.duty != t)
                    continue;
                if (in->id.height <= d->head_height || in->decided) {
                    /* decided meanwhile (learnt from peers), or the chain went past it: it can
                     * never be decided here */
                    in->deferred = false;
                    duties_inst_close(d, in);
                    if (!in->decided)
                        DLOG(d, LOG_INFO, "consensus_block", LS("event", "slot_passed"),
                             LU("height", in->id.height));
                } else if (!low || in->id.height < low->id.height) {
                    low = in;
                }
            }
        if (low && !lower_pending(d, low)) {
            low->deferred = false;
            low->start_mono_ms = duties_mono(d); /* its round schedule starts now */
            duties_start_instance(d, &low->id, NULL, 0, low->start_mono_ms);
        }
    }
}

int blocks_vote(struct duties *d, const struct qbft_id *id, uint64_t round, uint8_t type,
                const uint8_t *bytes, size_t len)
{
    if (type != QBFT_PREPARE && type != QBFT_COMMIT)
        return 0;
    if (qbft_msg_decode(d->scratch, bytes, len, QBFT_DECODE_INTENT) < 0)
        return -1;
    uint8_t hash[SHA256_LEN];
    memcpy(hash, d->scratch->m.b.value_hash, SHA256_LEN);
    struct dinst *in = duties_inst_get(d, id);
    struct dval *v = val_find(in, hash);
    /* Only a block the builder found valid, on the head as it is now. */
    if (!v || v->verdict != DV_VALID || !d->head_known ||
        memcmp(v->parent, d->head, SHA256_LEN) != 0)
        return -1;
    if (lower_runs(d, in))
        return -1; /* the lower instance goes first */
    for (struct dinst *l = d->voted; l; l = l->vnext) {
        if (l == in || !lock_binds(d, l, v->parent))
            continue;
        if (l->id.height < id->height || l->committed)
            return -1; /* the lock holds: a lower instance, or a COMMIT there */
    }
    for (struct dinst *l = d->voted; l; l = l->vnext) {
        if (l == in || !lock_binds(d, l, v->parent))
            continue;
        l->abandoned = true; /* the lock moves down to this instance */
        abstain_later(d, &l->id);
        DLOG(d, LOG_INFO, "consensus_block", LS("event", "lock_moved"), LU("from", l->id.height),
             LU("to", id->height));
    }
    struct ikey k = {id->duty, id->height, round, QBFT_INTENT_LOCK};
    if (!icache_get(d->intents, &k)) {
        uint8_t rec[2 * SHA256_LEN];
        memcpy(rec, v->parent, SHA256_LEN);
        memcpy(rec + SHA256_LEN, hash, SHA256_LEN);
        duties_append_intent(d, icache_add(d->intents, &k, rec, sizeof(rec), false));
    }
    in->voted = true;
    memcpy(in->vote_parent, v->parent, SHA256_LEN);
    if (type == QBFT_COMMIT)
        in->committed = true;
    voted_link(d, in);
    return 0;
}

static const struct ientry *lock_of(struct duties *d, const struct ikey *k)
{
    struct ikey lk = {k->duty, k->height, k->round, QBFT_INTENT_LOCK};
    return icache_get(d->intents, &lk);
}

bool blocks_may_send(struct duties *d, const struct ientry *e)
{
    if (!blocks_duty(d, e->k.duty) || (e->k.type != QBFT_PREPARE && e->k.type != QBFT_COMMIT))
        return true;
    const struct ientry *l = lock_of(d, &e->k);
    return !l || l->durable;
}

void blocks_lock_durable(struct duties *d, const struct ientry *lock)
{
    static const uint8_t votes[] = {QBFT_PREPARE, QBFT_COMMIT};
    for (size_t i = 0; i < sizeof(votes); i++) {
        struct ikey k = {lock->k.duty, lock->k.height, lock->k.round, votes[i]};
        struct ientry *e = icache_get(d->intents, &k);
        if (!e || !e->durable)
            continue;
        struct isend *s = ientry_take_sends(e);
        for (struct isend *x = s; x; x = x->next)
            duties_send_msg(d, x->peer, e->k.type, x->payload.data, x->payload.len);
        isend_free_list(s);
    }
}

void blocks_reloaded(struct duties *d, const struct ientry *e)
{
    if (!blocks_duty(d, e->k.duty))
        return;
    struct qbft_id id = {e->k.duty, e->k.height};
    if (e->k.type == QBFT_INTENT_LOCK && e->intent.len == 2 * SHA256_LEN) {
        struct dinst *in = duties_inst_get(d, &id);
        in->voted = true;
        memcpy(in->vote_parent, e->intent.data, SHA256_LEN);
        voted_link(d, in);
    } else if (e->k.type == QBFT_COMMIT) {
        duties_inst_get(d, &id)->committed = true;
    }
}

/* ---------------------------------------------------------------- instances of our own */

const char *blocks_admission(const struct duties *d, uint64_t height, enum duty_result *res)
{
    if (d->head_known && height <= d->head_height) {
        *res = DUTY_TOO_OLD;
        return "height not above the chain's head";
    }
    if (d->cfg.slot_ms) {
        uint64_t slot = d->host.wall_ms(d->host.ctx) / d->cfg.slot_ms;
        if (height > slot && height - slot > d->cfg.max_height_jump) {
            *res = DUTY_TOO_FAR_AHEAD;
            return "height more than [qbft] max_height_jump slots after the current one";
        }
    }
    return NULL;
}

/* Persist a block duty of our own (a slot, a join), then start it. */
static void self_duty(struct duties *d, const struct qbft_id *id)
{
    struct dinst *in = duties_inst_find(d, id);
    if (!d->loaded || (in && (in->self_pending || in->open || in->decided)) ||
        d->nopen >= d->cfg.max_open || (d->head_known && id->height <= d->head_height))
        return;
    in = duties_inst_get(d, id);
    in->self_pending = true;
    struct sdb_req r = {.type = SDB_PUT_DUTY};
    r.u.put_duty = (struct sdb_duty){.dtype = id->duty,
                                     .height = id->height,
                                     .payload = {null_payload, sizeof(null_payload) - 1},
                                     .accepted_ms = d->host.wall_ms(d->host.ctx)};
    struct dreq *q = duties_dreq_new(R_SELF_DUTY);
    q->id = *id;
    if (duties_request(d, &r, q) < 0)
        in->self_pending = false;
}

void blocks_on_self_duty(struct duties *d, struct dreq *q, const struct sdb_reply *r)
{
    struct dinst *in = duties_inst_find(d, &q->id);
    if (in)
        in->self_pending = false;
    if (!r) {
        duties_sdb_status(d, false);
        return;
    }
    duties_sdb_status(d, true);
    if ((r->status == SDB_OK || r->status == SDB_DUPLICATE) && r->durable)
        duties_start_instance(d, &q->id, null_payload, sizeof(null_payload) - 1, duties_mono(d));
}

void duties_slot(struct duties *d, uint64_t height)
{
    /* A SLOT says the builder holds pending transactions: instances whose block went stale
     * while it had none to offer (or that never had one) can get one now. */
    if (d->head_known && !d->behind)
        refresh_inputs(d);
    for (uint8_t t = 0; t < DUTY_TYPES; t++)
        if (blocks_duty(d, t))
            self_duty(d, &(struct qbft_id){t, height});
}

void blocks_join(struct duties *d, const struct qbft_id *id)
{
    if (blocks_duty(d, id->duty) && !duties_inst_find(d, id))
        self_duty(d, id);
}

/* ---------------------------------------------------------------- decisions and the head */

void blocks_decided(struct duties *d, struct dinst *in)
{
    voted_unlink(d, in);
    if (d->host.decided_value)
        d->host.decided_value(d->host.ctx, &in->id, in->value.data, in->value.len);
}

void blocks_forget(struct duties *d, struct dinst *in)
{
    voted_unlink(d, in);
    while (in->vals) {
        struct dval *v = in->vals;
        in->vals = v->next;
        buf_free(&v->bytes);
        free(v);
    }
    in->nvals = 0;
}

static void sync_request(struct duties *d);
static void sync_send(struct duties *d, unsigned peer, const struct sync_msg *m);

/* Proposals found stale while walking the instances. */
struct stale {
    struct {
        struct qbft_id id;
        uint8_t hash[SHA256_LEN];
    } * v;
    size_t n;
};

static void stale_add(struct stale *s, const struct qbft_id *id, const uint8_t hash[SHA256_LEN])
{
    s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
    s->v[s->n].id = *id;
    memcpy(s->v[s->n].hash, hash, SHA256_LEN);
    s->n++;
}

void duties_head(struct duties *d, uint64_t height, const uint8_t hash[SHA256_LEN], bool behind)
{
    bool first = !d->head_known;
    bool moved = first || height != d->head_height || memcmp(hash, d->head, SHA256_LEN);
    bool caught_up = d->behind && !behind;
    d->head_known = true;
    d->head_height = height;
    memcpy(d->head, hash, SHA256_LEN);
    d->behind = behind;
    struct stale stale = {0};
    /* What the builder has not applied although it is decided here (a message it missed):
     * handed to it again. Proposals it could not judge: asked again. */
    for (size_t b = 0; b < INST_BUCKETS; b++) {
        for (struct dinst *in = d->inst[b]; in; in = in->next) {
            if (!blocks_duty(d, in->id.duty))
                continue;
            if (in->decided && in->persisted && in->id.height > height)
                blocks_decided(d, in);
            for (struct dval *v = in->vals; moved && v; v = v->next) {
                if ((v->verdict == DV_VALID || v->verdict == DV_PENDING) &&
                    memcmp(v->parent, hash, SHA256_LEN) != 0) {
                    /* built on an old head: it can never be decided now (the engine is told
                     * after this walk, which its answers must not disturb) */
                    v->verdict = DV_INVALID;
                    buf_free(&v->bytes);
                    stale_add(&stale, &in->id, v->hash);
                    continue;
                }
                if (v->verdict != DV_BEHIND)
                    continue;
                v->verdict = DV_PENDING;
                enum qbft_validity r =
                    d->host.validate(d->host.ctx, &in->id, v->hash, v->bytes.data, v->bytes.len);
                if (r != QBFT_VALUE_PENDING)
                    duties_value_judged(d, &in->id, v->hash,
                                        r == QBFT_VALUE_VALID ? DUTIES_VALID : DUTIES_INVALID);
            }
        }
    }
    for (size_t i = 0; i < stale.n; i++)
        qbft_value_checked(d->eng, &stale.v[i].id, stale.v[i].hash, false, duties_mono(d));
    free(stale.v);
    if ((moved || caught_up) && !behind)
        refresh_inputs(d);
    if (moved)
        blocks_release(d);
    blocks_flush(d);
    /* Behind, or just started (blocks may have been decided while this node was down): ask. */
    if ((behind || first) && !d->sync_on)
        sync_request(d);
}

void blocks_peer_up(struct duties *d, unsigned peer)
{
    if (!d->head_known || d->sync_on || !d->host.send_sync || d->cfg.block_duties == 0)
        return;
    /* A peer that just (re)joined may hold blocks this node missed: ask it. */
    d->sync_peer = peer;
    d->sync_on = true;
    struct sync_msg m = {.kind = SYNC_REQ, .height = d->head_height};
    sync_send(d, peer, &m);
    d->sync_deadline = duties_mono(d) + DUTIES_SYNC_MS;
}

/* ---------------------------------------------------------------- catching up */

static void sync_send(struct duties *d, unsigned peer, const struct sync_msg *m)
{
    struct buf b = BUF_INIT;
    sync_encode(&b, m);
    d->host.send_sync(d->host.ctx, peer, b.data, b.len);
    buf_free(&b);
}

/* Ask the next peer for the chain's block after our head. */
static void sync_request(struct duties *d)
{
    unsigned n = d->cfg.qbft.n, self = d->cfg.qbft.self;
    if (n < 2 || !d->host.send_sync || !d->head_known) {
        d->sync_on = false;
        d->sync_deadline = UINT64_MAX;
        return;
    }
    do
        d->sync_peer = (d->sync_peer + 1) % n;
    while (d->sync_peer == self);
    struct sync_msg m = {.kind = SYNC_REQ, .height = d->head_height};
    sync_send(d, d->sync_peer, &m);
    d->sync_on = true;
    d->sync_deadline = duties_mono(d) + DUTIES_SYNC_MS;
}

static void sync_next(struct duties *d, uint64_t after)
{
    struct sync_msg m = {.kind = SYNC_REQ, .height = after};
    sync_send(d, d->sync_peer, &m);
    d->sync_deadline = duties_mono(d) + DUTIES_SYNC_MS;
}

void blocks_tick(struct duties *d)
{
    if (d->sync_deadline > duties_mono(d))
        return;
    d->sync_deadline = UINT64_MAX;
    if (d->behind || d->sync_on)
        sync_request(d); /* unanswered (or due): the next peer */
    else
        d->sync_on = false;
}

uint64_t blocks_deadline(const struct duties *d)
{
    return d->sync_deadline;
}

static void serve(struct duties *d, unsigned peer, uint64_t after)
{
    if (d->serving >= DUTIES_SYNC_SERVE)
        return; /* the peer asks again */
    struct sdb_req r = {.type = SDB_GET_BLOCK};
    r.u.block.mode = SDB_BLOCK_NEXT;
    r.u.block.height = after;
    struct dreq *q = duties_dreq_new(R_SYNC_SERVE);
    q->peer = peer;
    q->id.height = after;
    if (duties_request(d, &r, q) == 0)
        d->serving++;
}

void blocks_on_sync_serve(struct duties *d, struct dreq *q, const struct sdb_reply *r)
{
    d->serving--;
    if (!r)
        return;
    struct sync_msg m = {.kind = SYNC_NONE, .height = q->id.height};
    if (r->status == SDB_OK && r->u.block.present && r->u.block.d.ncert > 0) {
        m.kind = SYNC_BLOCK;
        m.height = r->u.block.height;
        m.block = r->u.block.d.value.p;
        m.block_len = r->u.block.d.value.len;
        m.cert = r->u.block.d.cert[0].p;
        m.cert_len = r->u.block.d.cert[0].len;
    } else if (r->status != SDB_NOT_FOUND) {
        return;
    }
    sync_send(d, q->peer, &m);
}

/* A block from the peer we asked: believed only with a certificate of a quorum. */
static void sync_block(struct duties *d, unsigned peer, const struct sync_msg *m)
{
    if (!d->sync_on || peer != d->sync_peer)
        return; /* not asked for */
    struct qbft_id id = {0, m->height};
    for (uint8_t t = 0; t < DUTY_TYPES; t++)
        if (blocks_duty(d, t)) {
            id.duty = t;
            break;
        }
    int rc = qbft_learn_decided(d->eng, &id, m->block, m->block_len, m->cert, m->cert_len,
                                duties_mono(d));
    blocks_flush(d);
    if (rc < 0 && errno != EEXIST) {
        metric_inc(metric("sync_blocks_total", "invalid"));
        DLOG(d, LOG_WARN, "consensus_block", LS("event", "sync_invalid"), LU("peer", peer),
             LU("height", m->height), LS("err", "the certificate does not verify"));
        d->host.report(d->host.ctx, peer, DUTIES_REPORT_INVALID_SIG);
        sync_request(d); /* another peer */
        return;
    }
    if (rc == 0) {
        metric_inc(metric("sync_blocks_total", "ok"));
        DLOG(d, LOG_INFO, "consensus_block", LS("event", "synced"), LU("peer", peer),
             LU("height", m->height));
    } else {
        struct dinst *in = duties_inst_find(d, &id);
        if (in && in->decided && in->persisted)
            blocks_decided(d, in); /* decided here already: the builder gets it again */
    }
    sync_next(d, m->height);
}

void duties_sync_deliver(struct duties *d, unsigned peer, const uint8_t *bytes, size_t len)
{
    struct sync_msg m;
    if (!d->loaded || peer >= d->cfg.qbft.n || peer == d->cfg.qbft.self)
        return;
    if (sync_decode(&m, bytes, len) < 0) {
        d->host.report(d->host.ctx, peer, DUTIES_REPORT_UNDECODABLE);
        return;
    }
    switch (m.kind) {
    case SYNC_REQ:
        serve(d, peer, m.height);
        break;
    case SYNC_BLOCK:
        sync_block(d, peer, &m);
        break;
    default: /* SYNC_NONE: that peer has nothing after our head */
        if (d->sync_on && peer == d->sync_peer) {
            d->sync_on = false;
            d->sync_deadline = UINT64_MAX;
        }
        break;
    }
}
