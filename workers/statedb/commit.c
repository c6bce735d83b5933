#include "workers/statedb/commit.h"
#include "lib/crypto.h"
#include "lib/metrics.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prune deletes at most this many decided instances per request (then answers more = true),
 * so that one slice keeps the loop about as long as a group commit does. */
#define PRUNE_MAX_INSTANCES 512

/* ---- writes staged in this call, by (family, key) ---- */

struct staged {
    int op; /* the op whose write is staged; -1 = empty slot */
    uint8_t cf;
    uint8_t klen;
    uint8_t key[RECORD_KEY_MAX];
    const uint8_t *val;
    size_t vlen;
};

struct stage_map {
    struct staged *slots;
    size_t mask;
};

static void map_init(struct stage_map *m, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    m->slots = xcalloc(cap, sizeof(*m->slots));
    m->mask = cap - 1;
    for (size_t i = 0; i < cap; i++)
        m->slots[i].op = -1;
}

static size_t map_hash(uint8_t cf, const uint8_t *key, size_t klen)
{
    uint64_t h = 1469598103934665603ull ^ cf; /* FNV-1a */
    for (size_t i = 0; i < klen; i++)
        h = (h ^ key[i]) * 1099511628211ull;
    return (size_t)h;
}

/* The slot of (cf, key): the occupied one, or the empty one where it would go. */
static struct staged *map_slot(struct stage_map *m, uint8_t cf, const uint8_t *key, size_t klen)
{
    for (size_t i = map_hash(cf, key, klen) & m->mask;; i = (i + 1) & m->mask) {
        struct staged *s = &m->slots[i];
        if (s->op < 0 || (s->cf == cf && s->klen == klen && !memcmp(s->key, key, klen)))
            return s;
    }
}

static void map_set(struct staged *s, int op, uint8_t cf, const uint8_t *key, size_t klen,
                    const uint8_t *val, size_t vlen)
{
    s->op = op;
    s->cf = cf;
    s->klen = (uint8_t)klen;
    memcpy(s->key, key, klen);
    s->val = val;
    s->vlen = vlen;
}

/* ---- per-call state ---- */

struct opst {
    int dep;                /* op whose staged write this answer relies on; -1 none */
    bool wrote;             /* this op put something in the batch */
    struct db_value val;    /* database value the reply points into */
    struct buf rec;         /* record this op staged (or decoded from) */
    struct sdb_decided dec; /* decoded stored decided record (owns arrays) */
    struct sdb_seal *seals; /* merge output space */
    struct sdb_reply rep;   /* the reply, encoded after the write */
};

struct gc {
    struct store *st;
    struct statedb_op *ops;
    struct opst *os;
    struct stage_map map;
    struct store_batch *batch;
    /* the chain's head as this call sees it (loaded at the first APPLY_BLOCK) */
    bool head_loaded, head_present;
    struct sdb_head head;
    int head_op; /* the op that staged it; -1 when it is the stored one */
};

static void op_error(struct statedb_op *op, struct opst *s, const char *why)
{
    s->rep.status = SDB_ERROR;
    snprintf(op->out.err, sizeof(op->out.err), "%s", why);
}

/*
 * What op i sees under (cf, key): the value an earlier op of this call staged there (op i then
 * waits for it), or the database's, read into s->val. 0 found (*v, *vl), 1 none, -1 error (op
 * answered with it).
 */
static int staged_get(struct gc *g, int i, struct staged *slot, uint8_t cf, const uint8_t *key,
                      size_t kl, const uint8_t **v, size_t *vl)
{
    struct opst *s = &g->os[i];
    char e[160];
    if (slot->op >= 0) {
        s->dep = slot->op;
        *v = slot->val;
        *vl = slot->vlen;
        return 0;
    }
    int rc = db_get(store_db(g->st), cf, key, kl, &s->val, e, sizeof(e));
    if (rc < 0)
        op_error(&g->ops[i], s, e);
    else if (rc == 0) {
        *v = s->val.p;
        *vl = s->val.len;
    }
    return rc;
}

static void do_append(struct gc *g, int i)
{
    struct statedb_op *op = &g->ops[i];
    struct opst *s = &g->os[i];
    const struct sdb_intent *in = &op->req.u.append;
    uint8_t key[RECORD_WAL_KEY_LEN];
    char e[160];
    record_wal_key(key, &in->k);
    struct staged *slot = map_slot(&g->map, SDB_CF_WAL, key, sizeof(key));
    struct sdb_bytes have;
    if (slot->op >= 0) {
        s->dep = slot->op;
        have = (struct sdb_bytes){slot->val, (uint32_t)slot->vlen};
    } else {
        int rc = db_get(store_db(g->st), SDB_CF_WAL, key, sizeof(key), &s->val, e, sizeof(e));
        if (rc < 0) {
            op_error(op, s, e);
            return;
        }
        if (rc == 1) {
            store_batch_put(g->batch, SDB_CF_WAL, key, sizeof(key), in->msg.p, in->msg.len);
            map_set(slot, i, SDB_CF_WAL, key, sizeof(key), in->msg.p, in->msg.len);
            s->wrote = true;
            s->rep.status = SDB_OK;
            return;
        }
        have = (struct sdb_bytes){s->val.p, (uint32_t)s->val.len};
    }
    if (have.len == in->msg.len && !memcmp(have.p, in->msg.p, have.len)) {
        s->rep.status = SDB_DUPLICATE;
        return;
    }
    s->rep.status = SDB_REFUSED;
    s->rep.u.stored.present = true;
    s->rep.u.stored.msg = have;
}

static void do_put_duty(struct gc *g, int i)
{
    struct statedb_op *op = &g->ops[i];
    struct opst *s = &g->os[i];
    const struct sdb_duty *d = &op->req.u.put_duty;
    uint8_t key[RECORD_INST_KEY_LEN];
    const uint8_t *v = NULL;
    size_t vl = 0;
    record_inst_key(key, d->dtype, d->height);
    struct staged *slot = map_slot(&g->map, SDB_CF_DUTIES, key, sizeof(key));
    int rc = staged_get(g, i, slot, SDB_CF_DUTIES, key, sizeof(key), &v, &vl);
    if (rc < 0)
        return;
    if (rc == 1) {
        record_duty_encode(&s->rec, d);
        store_batch_put(g->batch, SDB_CF_DUTIES, key, sizeof(key), s->rec.data, s->rec.len);
        map_set(slot, i, SDB_CF_DUTIES, key, sizeof(key), s->rec.data, s->rec.len);
        s->wrote = true;
        s->rep.status = SDB_OK;
        return;
    }
    struct sdb_duty *have = &s->rep.u.duty.d;
    if (record_duty_decode(have, d->dtype, d->height, v, vl) < 0) {
        op_error(op, s, "stored duty record is malformed");
        return;
    }
    s->rep.u.duty.present = true;
    s->rep.status = record_duty_same(have, d) ? SDB_DUPLICATE : SDB_CONFLICT;
}

static void do_put_decided(struct gc *g, int i)
{
    struct statedb_op *op = &g->ops[i];
    struct opst *s = &g->os[i];
    const struct sdb_decided *d = &op->req.u.put_decided;
    uint8_t key[RECORD_INST_KEY_LEN];
    const uint8_t *v = NULL;
    size_t vl = 0;
    record_inst_key(key, d->dtype, d->height);
    struct staged *slot = map_slot(&g->map, SDB_CF_DECIDED, key, sizeof(key));
    int rc = staged_get(g, i, slot, SDB_CF_DECIDED, key, sizeof(key), &v, &vl);
    if (rc < 0)
        return;
    if (rc == 1) {
        record_decided_encode(&s->rec, d);
        store_batch_put(g->batch, SDB_CF_DECIDED, key, sizeof(key), s->rec.data, s->rec.len);
        map_set(slot, i, SDB_CF_DECIDED, key, sizeof(key), s->rec.data, s->rec.len);
        s->wrote = true;
        s->rep.status = SDB_OK;
        return;
    }
    if (record_decided_decode(&s->dec, d->dtype, d->height, v, vl) < 0) {
        op_error(op, s, "stored decided record is malformed");
        return;
    }
    struct sdb_decided merged;
    s->seals = xcalloc(SDB_SEALS_MAX, sizeof(*s->seals));
    switch (record_decided_merge(&s->dec, d, &merged, s->seals)) {
    case RECORD_MERGE_CONFLICT:
        s->rep.status = SDB_CONFLICT;
        s->rep.u.decided.present = true;
        s->rep.u.decided.d = s->dec; /* arrays stay owned by s->dec */
        return;
    case RECORD_MERGE_SAME:
        s->rep.status = SDB_DUPLICATE;
        return;
    case RECORD_MERGE_CHANGED:
        record_decided_encode(&s->rec, &merged);
        store_batch_put(g->batch, SDB_CF_DECIDED, key, sizeof(key), s->rec.data, s->rec.len);
        map_set(slot, i, SDB_CF_DECIDED, key, sizeof(key), s->rec.data, s->rec.len);
        s->wrote = true;
        s->rep.status = SDB_OK;
        return;
    }
}

/* SET_TSS: the threshold signature of an existing decided record. The first one stays: another
 * is a valid signature too (made in another attempt), answered CONFLICT. */
static void do_set_tss(struct gc *g, int i)
{
    struct statedb_op *op = &g->ops[i];
    struct opst *s = &g->os[i];
    uint8_t dtype = op->req.u.set_tss.dtype;
    uint64_t height = op->req.u.set_tss.height;
    struct sdb_bytes tss = op->req.u.set_tss.tss;
    uint8_t key[RECORD_INST_KEY_LEN];
    const uint8_t *v = NULL;
    size_t vl = 0;
    record_inst_key(key, dtype, height);
    struct staged *slot = map_slot(&g->map, SDB_CF_DECIDED, key, sizeof(key));
    int rc = staged_get(g, i, slot, SDB_CF_DECIDED, key, sizeof(key), &v, &vl);
    if (rc != 0) {
        if (rc == 1)
            s->rep.status = SDB_NOT_FOUND;
        return;
    }
    if (record_decided_decode(&s->dec, dtype, height, v, vl) < 0) {
        op_error(op, s, "stored decided record is malformed");
        return;
    }
    if (s->dec.tss.len > 0) {
        bool same = s->dec.tss.len == tss.len && !memcmp(s->dec.tss.p, tss.p, tss.len);
        s->rep.status = same ? SDB_DUPLICATE : SDB_CONFLICT;
        return;
    }
    s->dec.tss = tss;
    record_decided_encode(&s->rec, &s->dec);
    store_batch_put(g->batch, SDB_CF_DECIDED, key, sizeof(key), s->rec.data, s->rec.len);
    map_set(slot, i, SDB_CF_DECIDED, key, sizeof(key), s->rec.data, s->rec.len);
    s->wrote = true;
    s->rep.status = SDB_OK;
}

/* PUT_TXS: pool records in and out, no checks (the builder owns the pool's rules). */
static void do_put_txs(struct gc *g, int i)
{
    const struct sdb_req *r = &g->ops[i].req;
    for (uint32_t k = 0; k < r->u.txs.nput; k++)
        store_batch_put(g->batch, SDB_CF_MEMPOOL, r->u.txs.put[k].hash, SDB_HASH_LEN,
                        r->u.txs.put[k].record.p, r->u.txs.put[k].record.len);
    for (uint32_t k = 0; k < r->u.txs.ndel; k++)
        store_batch_delete(g->batch, SDB_CF_MEMPOOL, r->u.txs.del[k], SDB_HASH_LEN);
    g->os[i].wrote = r->u.txs.nput + r->u.txs.ndel > 0;
    g->os[i].rep.status = SDB_OK;
}

/* The chain's head: 1 present, 0 none (empty chain), -1 error. */
static int chain_head_read(struct store *st, struct sdb_head *h, char *e, size_t esz)
{
    struct db_value v;
    uint8_t k = RECORD_CHAIN_HEAD;
    int rc = db_get(store_db(st), SDB_CF_CHAIN, &k, 1, &v, e, esz);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    rc = record_head_decode(h, v.p, v.len);
    db_value_free(&v);
    if (rc < 0) {
        snprintf(e, esz, "stored chain head is malformed");
        return -1;
    }
    return 1;
}

/* The block hash stored (or staged) at a height: 1 found, 0 none, -1 error. */
static int chain_block_at(struct gc *g, int i, uint64_t height, uint8_t hash[SDB_HASH_LEN], char *e,
                          size_t esz)
{
    uint8_t key[RECORD_KEY_MAX];
    size_t kl = record_chain_block_key(key, height);
    struct staged *slot = map_slot(&g->map, SDB_CF_CHAIN, key, kl);
    if (slot->op >= 0) {
        g->os[i].dep = slot->op;
        memcpy(hash, slot->val, SDB_HASH_LEN);
        return 1;
    }
    struct db_value v;
    int rc = db_get(store_db(g->st), SDB_CF_CHAIN, key, kl, &v, e, esz);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    bool ok = v.len == SDB_HASH_LEN;
    if (ok)
        memcpy(hash, v.p, SDB_HASH_LEN);
    else
        snprintf(e, esz, "stored chain block record is malformed");
    db_value_free(&v);
    return ok ? 1 : -1;
}

/* Does the decided record of (proposer, height) hold a value that hashes to hash? 1 yes, 0 no
 * record, -2 another value, -1 error. */
static int decided_block_is(struct gc *g, int i, uint64_t height, const uint8_t *hash, char *e,
                            size_t esz)
{
    uint8_t key[RECORD_INST_KEY_LEN];
    struct db_value v = {0};
    const uint8_t *val;
    size_t vlen;
    record_inst_key(key, DUTY_PROPOSER, height);
    struct staged *slot = map_slot(&g->map, SDB_CF_DECIDED, key, sizeof(key));
    if (slot->op >= 0) {
        g->os[i].dep = slot->op;
        val = slot->val;
        vlen = slot->vlen;
    } else {
        int rc = db_get(store_db(g->st), SDB_CF_DECIDED, key, sizeof(key), &v, e, esz);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
        val = v.p;
        vlen = v.len;
    }
    struct sdb_decided d;
    int rc = record_decided_decode(&d, DUTY_PROPOSER, height, val, vlen);
    if (rc == 0) {
        uint8_t h[SHA256_LEN];
        sha256(h, d.value.p, d.value.len);
        rc = memcmp(h, hash, SHA256_LEN) == 0 ? 1 : -2;
        record_decided_free(&d);
    } else
        snprintf(e, esz, "stored decided record is malformed");
    db_value_free(&v);
    return rc;
}

/*
 * APPLY_BLOCK (record.h, proto/statedb.h): DUPLICATE when the block already is the chain's at its
 * height, CONFLICT (with the head as found) when its parent is not the head or its height not
 * above it, or another block holds its height; NOT_FOUND without its decided record.
 */
static void do_apply_block(struct gc *g, int i)
{
    struct statedb_op *op = &g->ops[i];
    struct opst *s = &g->os[i];
    const struct sdb_block_apply *a = &op->req.u.apply;
    static const uint8_t zero[SDB_HASH_LEN];
    uint8_t have[SDB_HASH_LEN], key[RECORD_KEY_MAX];
    char e[160];
    if (!g->head_loaded) {
        int rc = chain_head_read(g->st, &g->head, e, sizeof(e));
        if (rc < 0) {
            op_error(op, s, e);
            return;
        }
        g->head_loaded = true;
        g->head_present = rc == 1;
        g->head_op = -1;
    }
    if (g->head_op >= 0)
        s->dep = g->head_op;
    s->rep.u.head.present = g->head_present;
    s->rep.u.head.h = g->head;
    int rc = chain_block_at(g, i, a->height, have, e, sizeof(e));
    if (rc < 0) {
        op_error(op, s, e);
        return;
    }
    if (rc == 1) {
        s->rep.status = memcmp(have, a->hash, SDB_HASH_LEN) ? SDB_CONFLICT : SDB_DUPLICATE;
        return;
    }
    bool parent_ok = g->head_present ? memcmp(a->parent, g->head.hash, SDB_HASH_LEN) == 0 &&
                                           a->height > g->head.height
                                     : memcmp(a->parent, zero, SDB_HASH_LEN) == 0;
    if (!parent_ok) {
        s->rep.status = SDB_CONFLICT;
        return;
    }
    rc = decided_block_is(g, i, a->height, a->hash, e, sizeof(e));
    if (rc == -1) {
        op_error(op, s, e);
        return;
    }
    if (rc != 1) {
        s->rep.status = rc == 0 ? SDB_NOT_FOUND : SDB_CONFLICT;
        return;
    }
    /* the block, the head, the tx index, the nonces, and the pool without its txs */
    size_t kl = record_chain_block_key(key, a->height);
    store_batch_put(g->batch, SDB_CF_CHAIN, key, kl, a->hash, SDB_HASH_LEN);
    map_set(map_slot(&g->map, SDB_CF_CHAIN, key, kl), i, SDB_CF_CHAIN, key, kl, a->hash,
            SDB_HASH_LEN);
    buf_reset(&s->rec);
    uint8_t hv[8];
    record_put_u64(hv, a->height);
    for (uint32_t k = 0; k < a->ntxs; k++) {
        kl = record_chain_tx_key(key, a->txs[k]);
        store_batch_put(g->batch, SDB_CF_CHAIN, key, kl, hv, sizeof(hv));
        store_batch_delete(g->batch, SDB_CF_MEMPOOL, a->txs[k], SDB_HASH_LEN);
    }
    for (uint32_t k = 0; k < a->nnonces; k++) {
        uint8_t nv[8];
        record_put_u64(nv, a->nonces[k].next);
        kl = record_chain_nonce_key(key, a->nonces[k].from);
        store_batch_put(g->batch, SDB_CF_CHAIN, key, kl, nv, sizeof(nv));
    }
    g->head = (struct sdb_head){.height = a->height};
    memcpy(g->head.hash, a->hash, SDB_HASH_LEN);
    g->head_present = true;
    g->head_op = i;
    uint8_t head[RECORD_HEAD_LEN], hk = RECORD_CHAIN_HEAD;
    record_head_encode(head, &g->head);
    store_batch_put(g->batch, SDB_CF_CHAIN, &hk, 1, head, sizeof(head));
    s->rep.u.head.present = true;
    s->rep.u.head.h = g->head;
    s->wrote = true;
    s->rep.status = SDB_OK;
}

static bool in_chain(struct store *st, uint64_t height)
{
    uint8_t key[RECORD_KEY_MAX];
    struct db_value v;
    size_t kl = record_chain_block_key(key, height);
    if (db_get(store_db(st), SDB_CF_CHAIN, key, kl, &v, NULL, 0) != 0)
        return false;
    db_value_free(&v);
    return true;
}

/* Delete one instance's duty, decided record and intents; returns the records deleted. Blocks of
 * the chain keep their decided record. */
static uint64_t prune_instance(struct gc *g, uint8_t dtype, uint64_t height)
{
    uint8_t ik[RECORD_INST_KEY_LEN], lo[RECORD_WAL_KEY_LEN], hi[RECORD_WAL_KEY_LEN];
    uint64_t n = 1; /* the decided record we were called for */
    struct db_value v;
    record_inst_key(ik, dtype, height);
    if (dtype == DUTY_PROPOSER && in_chain(g->st, height))
        n = 0; /* a block of the chain: its decided record is the block, kept for good */
    else
        store_batch_delete(g->batch, SDB_CF_DECIDED, ik, sizeof(ik));
    store_batch_delete(g->batch, SDB_CF_DUTIES, ik, sizeof(ik));
    if (db_get(store_db(g->st), SDB_CF_DUTIES, ik, sizeof(ik), &v, NULL, 0) == 0) {
        db_value_free(&v);
        n++;
    }
    /* Point deletes, not a range delete per instance: RocksDB 7.8 re-fragments every range
     * tombstone of the memtable for each new iterator, and thousands of them (one pass at
     * 300 duties/s) made each read slower than the last until the loop stalled. */
    record_wal_first(lo, dtype, height);
    record_wal_first(hi, dtype, height + 1);
    struct db_iter *it = db_iter_new(store_db(g->st), SDB_CF_WAL);
    for (db_iter_seek(it, lo, sizeof(lo)); db_iter_valid(it); db_iter_next(it)) {
        size_t kl;
        const uint8_t *k = db_iter_key(it, &kl);
        if (kl != sizeof(hi) || memcmp(k, hi, kl) >= 0)
            break;
        store_batch_delete(g->batch, SDB_CF_WAL, k, kl);
        n++;
    }
    db_iter_free(it);
    return n;
}

/* Count the records of [lo, hi) in one family. */
static uint64_t count_range(struct gc *g, enum sdb_cf cf, const uint8_t *lo, const uint8_t *hi,
                            size_t klen, char *e, size_t esz, int *err)
{
    uint64_t n = 0;
    struct db_iter *it = db_iter_new(store_db(g->st), cf);
    for (db_iter_seek(it, lo, klen); db_iter_valid(it); db_iter_next(it)) {
        size_t kl;
        const uint8_t *k = db_iter_key(it, &kl);
        if (kl != klen || memcmp(k, hi, klen) >= 0)
            break;
        n++;
    }
    if (db_iter_error(it, e, esz) < 0)
        *err = 1;
    db_iter_free(it);
    return n;
}

static void do_prune(struct gc *g, int i)
{
    struct statedb_op *op = &g->ops[i];
    struct opst *s = &g->os[i];
    uint8_t dtype = op->req.u.prune.dtype;
    uint64_t below = op->req.u.prune.below;
    uint8_t lo[RECORD_INST_KEY_LEN], hi[RECORD_INST_KEY_LEN];
    char e[160];
    int err = 0;
    record_inst_key(lo, dtype, 0);
    record_inst_key(hi, dtype, below);
    s->rep.status = SDB_OK;
    if (below == 0)
        return;
    if (op->req.u.prune.include_undecided) {
        uint8_t wlo[RECORD_WAL_KEY_LEN], whi[RECORD_WAL_KEY_LEN];
        record_wal_first(wlo, dtype, 0);
        record_wal_first(whi, dtype, below);
        uint64_t n = count_range(g, SDB_CF_WAL, wlo, whi, sizeof(wlo), e, sizeof(e), &err);
        n += count_range(g, SDB_CF_DUTIES, lo, hi, sizeof(lo), e, sizeof(e), &err);
        n += count_range(g, SDB_CF_DECIDED, lo, hi, sizeof(lo), e, sizeof(e), &err);
        if (err) {
            op_error(op, s, e);
            return;
        }
        store_batch_delete_range(g->batch, SDB_CF_WAL, wlo, sizeof(wlo), whi, sizeof(whi));
        store_batch_delete_range(g->batch, SDB_CF_DUTIES, lo, sizeof(lo), hi, sizeof(hi));
        if (dtype == DUTY_PROPOSER)
            n -= count_range(g, SDB_CF_DECIDED, lo, hi, sizeof(lo), e, sizeof(e), &err);
        else
            store_batch_delete_range(g->batch, SDB_CF_DECIDED, lo, sizeof(lo), hi, sizeof(hi));
        s->rep.u.prune.pruned = n;
        s->wrote = n > 0;
        return;
    }
    /* Decided instances only: their keys, then everything of each. */
    uint64_t *heights = NULL;
    size_t nh = 0, cap = 0;
    bool more = false;
    struct db_iter *it = db_iter_new(store_db(g->st), SDB_CF_DECIDED);
    for (db_iter_seek(it, lo, sizeof(lo)); db_iter_valid(it); db_iter_next(it)) {
        size_t kl;
        uint8_t dt;
        uint64_t h;
        const uint8_t *k = db_iter_key(it, &kl);
        if (record_inst_key_parse(&dt, &h, k, kl) < 0 || dt != dtype || h >= below)
            break;
        if (nh == PRUNE_MAX_INSTANCES) {
            more = true;
            break;
        }
        if (nh == cap) {
            cap = cap ? cap * 2 : 64;
            heights = xrealloc(heights, cap * sizeof(*heights));
        }
        heights[nh++] = h;
    }
    if (db_iter_error(it, e, sizeof(e)) < 0)
        err = 1;
    db_iter_free(it);
    if (err) {
        free(heights);
        op_error(op, s, e);
        return;
    }
    for (size_t k = 0; k < nh; k++)
        s->rep.u.prune.pruned += prune_instance(g, dtype, heights[k]);
    s->rep.u.prune.more = more;
    s->wrote = nh > 0;
    free(heights);
}

/* ---- reads (after the write) ---- */

static bool is_decided(struct store *st, uint8_t dtype, uint64_t height)
{
    uint8_t k[RECORD_INST_KEY_LEN];
    struct db_value v;
    record_inst_key(k, dtype, height);
    if (db_get(store_db(st), SDB_CF_DECIDED, k, sizeof(k), &v, NULL, 0) != 0)
        return false;
    db_value_free(&v);
    return true;
}

static uint32_t budget(uint32_t asked)
{
    return asked == 0 || asked > SDB_REPLY_MAX ? SDB_REPLY_MAX : asked;
}

/* Position it just after `after` (exclusive cursor), or at the first key. */
static void seek_after(struct db_iter *it, const uint8_t *after, size_t alen, bool has)
{
    if (!has) {
        db_iter_seek_first(it);
        return;
    }
    db_iter_seek(it, after, alen);
    size_t kl;
    if (db_iter_valid(it)) {
        const uint8_t *k = db_iter_key(it, &kl);
        if (kl == alen && !memcmp(k, after, alen))
            db_iter_next(it);
    }
}

static void read_load_intents(struct store *st, struct statedb_op *op, bool durable)
{
    const struct sdb_req *r = &op->req;
    uint8_t after[RECORD_WAL_KEY_LEN];
    struct buf entries = BUF_INIT;
    uint32_t n = 0, max = budget(r->u.load.max_bytes);
    bool more = false, bad = false, have_last = false, last_decided = false;
    uint8_t last_dtype = 0;
    uint64_t last_height = 0;
    if (r->u.load.has_after)
        record_wal_key(after, &r->u.load.after);
    struct db_iter *it = db_iter_new(store_db(st), SDB_CF_WAL);
    for (seek_after(it, after, sizeof(after), r->u.load.has_after); db_iter_valid(it);
         db_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = db_iter_key(it, &kl);
        const uint8_t *v = db_iter_value(it, &vl);
        struct sdb_intent in;
        if (record_wal_key_parse(&in.k, k, kl) < 0 || vl == 0 || vl > SDB_INTENT_MAX) {
            bad = true;
            break;
        }
        /* Intents of one instance are contiguous: one decided lookup per instance. */
        if (!have_last || last_dtype != in.k.dtype || last_height != in.k.height) {
            have_last = true;
            last_dtype = in.k.dtype;
            last_height = in.k.height;
            last_decided = is_decided(st, in.k.dtype, in.k.height);
        }
        if (last_decided)
            continue;
        if (n > 0 && entries.len + vl + SDB_ENTRY_OVERHEAD > max) {
            more = true;
            break;
        }
        in.msg = (struct sdb_bytes){v, (uint32_t)vl};
        sdb_intent_encode(&entries, &in);
        n++;
    }
    if (db_iter_error(it, op->out.err, sizeof(op->out.err)) < 0)
        bad = true;
    else if (bad)
        snprintf(op->out.err, sizeof(op->out.err), "malformed record in wal");
    db_iter_free(it);
    op->out.status = bad ? SDB_ERROR : SDB_OK;
    sdb_list_reply_encode(&op->out.body, op->out.status, durable && !bad, bad ? 0 : n,
                          bad ? NULL : &entries, bad ? false : more);
    buf_free(&entries);
}

static void read_list_duties(struct store *st, struct statedb_op *op, bool durable)
{
    const struct sdb_req *r = &op->req;
    uint8_t after[RECORD_INST_KEY_LEN];
    struct buf entries = BUF_INIT;
    uint32_t n = 0, max = budget(r->u.list.max_bytes);
    bool more = false, bad = false;
    if (r->u.list.has_after)
        record_inst_key(after, r->u.list.dtype, r->u.list.height);
    struct db_iter *it = db_iter_new(store_db(st), SDB_CF_DUTIES);
    for (seek_after(it, after, sizeof(after), r->u.list.has_after); db_iter_valid(it);
         db_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = db_iter_key(it, &kl);
        const uint8_t *v = db_iter_value(it, &vl);
        uint8_t dtype;
        uint64_t height;
        struct sdb_duty d;
        if (record_inst_key_parse(&dtype, &height, k, kl) < 0 ||
            record_duty_decode(&d, dtype, height, v, vl) < 0) {
            bad = true;
            break;
        }
        if (r->u.list.undecided_only && is_decided(st, dtype, height))
            continue;
        if (n > 0 && entries.len + d.payload.len + SDB_ENTRY_OVERHEAD > max) {
            more = true;
            break;
        }
        sdb_duty_encode(&entries, &d);
        n++;
    }
    if (db_iter_error(it, op->out.err, sizeof(op->out.err)) < 0)
        bad = true;
    else if (bad)
        snprintf(op->out.err, sizeof(op->out.err), "malformed record in duties");
    db_iter_free(it);
    op->out.status = bad ? SDB_ERROR : SDB_OK;
    sdb_list_reply_encode(&op->out.body, op->out.status, durable && !bad, bad ? 0 : n,
                          bad ? NULL : &entries, bad ? false : more);
    buf_free(&entries);
}

static void read_iterate(struct store *st, struct statedb_op *op, bool durable)
{
    const struct sdb_req *r = &op->req;
    struct buf entries = BUF_INIT;
    uint32_t n = 0, max = budget(r->u.iter.max_bytes);
    uint32_t max_n = r->u.iter.max_entries ? r->u.iter.max_entries : SDB_ITER_MAX_ITEMS;
    bool more = false, bad = false;
    struct db_iter *it = db_iter_new(store_db(st), (enum sdb_cf)r->u.iter.cf);
    for (seek_after(it, r->u.iter.after.p, r->u.iter.after.len, r->u.iter.has_after);
         db_iter_valid(it); db_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = db_iter_key(it, &kl);
        const uint8_t *v = db_iter_value(it, &vl);
        if (kl > SDB_KEY_MAX || vl > SDB_REPLY_MAX) {
            bad = true;
            snprintf(op->out.err, sizeof(op->out.err), "oversized record in %s",
                     sdb_cf_name(r->u.iter.cf));
            break;
        }
        if (n == max_n || (n > 0 && entries.len + kl + vl + SDB_ENTRY_OVERHEAD > max)) {
            more = true;
            break;
        }
        struct sdb_kv kv = {{k, (uint32_t)kl}, {v, (uint32_t)vl}};
        sdb_kv_encode(&entries, &kv);
        n++;
    }
    if (db_iter_error(it, op->out.err, sizeof(op->out.err)) < 0)
        bad = true;
    db_iter_free(it);
    op->out.status = bad ? SDB_ERROR : SDB_OK;
    sdb_list_reply_encode(&op->out.body, op->out.status, durable && !bad, bad ? 0 : n,
                          bad ? NULL : &entries, bad ? false : more);
    buf_free(&entries);
}

/* GET_DUTY / GET_DECIDED: one record or not found. */
static void read_get(struct store *st, struct statedb_op *op, struct opst *s)
{
    uint8_t key[RECORD_INST_KEY_LEN];
    uint8_t dtype = op->req.u.get.dtype;
    uint64_t height = op->req.u.get.height;
    bool duty = op->req.type == SDB_GET_DUTY;
    record_inst_key(key, dtype, height);
    int rc = db_get(store_db(st), duty ? SDB_CF_DUTIES : SDB_CF_DECIDED, key, sizeof(key), &s->val,
                    op->out.err, sizeof(op->out.err));
    if (rc < 0) {
        s->rep.status = SDB_ERROR;
        return;
    }
    if (rc == 1) {
        s->rep.status = SDB_NOT_FOUND;
        return;
    }
    int bad = duty ? record_duty_decode(&s->rep.u.duty.d, dtype, height, s->val.p, s->val.len)
                   : record_decided_decode(&s->dec, dtype, height, s->val.p, s->val.len);
    if (bad) {
        s->rep.status = SDB_ERROR;
        snprintf(op->out.err, sizeof(op->out.err), "stored %s record is malformed",
                 duty ? "duty" : "decided");
        return;
    }
    s->rep.status = SDB_OK;
    if (duty)
        s->rep.u.duty.present = true;
    else {
        s->rep.u.decided.present = true;
        s->rep.u.decided.d = s->dec;
    }
}

/* The first key of a family at or after (mode NEXT: after) a key with prefix p, still with that
 * prefix: 1 and its height, 0 none, -1 error. */
static int first_height_after(struct store *st, enum sdb_cf cf, const uint8_t *lo, size_t klen,
                              uint64_t *height, char *e, size_t esz)
{
    int rc = 0;
    struct db_iter *it = db_iter_new(store_db(st), cf);
    db_iter_seek(it, lo, klen);
    if (db_iter_valid(it)) {
        size_t kl;
        const uint8_t *k = db_iter_key(it, &kl);
        if (kl == klen && k[0] == lo[0]) {
            *height = record_get_u64(k + 1);
            rc = 1;
        }
    }
    if (db_iter_error(it, e, esz) < 0)
        rc = -1;
    db_iter_free(it);
    return rc;
}

/* The last key of a family at or before a key with prefix p, still with that prefix: 1 and its
 * height, 0 none, -1 error. */
static int last_height_before(struct store *st, enum sdb_cf cf, const uint8_t *hi, size_t klen,
                              uint64_t *height, char *e, size_t esz)
{
    int rc = 0;
    struct db_iter *it = db_iter_new(store_db(st), cf);
    db_iter_seek_for_prev(it, hi, klen);
    if (db_iter_valid(it)) {
        size_t kl;
        const uint8_t *k = db_iter_key(it, &kl);
        if (kl == klen && k[0] == hi[0]) {
            *height = record_get_u64(k + 1);
            rc = 1;
        }
    }
    if (db_iter_error(it, e, esz) < 0)
        rc = -1;
    db_iter_free(it);
    return rc;
}

/* GET_BLOCK (enum sdb_block_mode): a block with its decided record. */
static void read_get_block(struct store *st, struct statedb_op *op, struct opst *s)
{
    const struct sdb_req *r = &op->req;
    uint64_t height = r->u.block.height;
    uint8_t key[RECORD_KEY_MAX];
    char *e = op->out.err;
    size_t esz = sizeof(op->out.err);
    int rc = 1;
    s->rep.status = SDB_NOT_FOUND;
    switch (r->u.block.mode) {
    case SDB_BLOCK_LATEST: {
        struct sdb_head h = {0};
        rc = chain_head_read(st, &h, e, esz);
        height = h.height;
        break;
    }
    case SDB_BLOCK_NEXT:
        if (height >= SDB_HEIGHT_MAX)
            rc = 0;
        else {
            size_t kl = record_chain_block_key(key, height + 1);
            rc = first_height_after(st, SDB_CF_CHAIN, key, kl, &height, e, esz);
        }
        break;
    case SDB_BLOCK_DECIDED_NEXT:
        if (height >= SDB_HEIGHT_MAX)
            rc = 0;
        else {
            record_inst_key(key, DUTY_PROPOSER, height + 1);
            rc = first_height_after(st, SDB_CF_DECIDED, key, RECORD_INST_KEY_LEN, &height, e, esz);
        }
        break;
    case SDB_BLOCK_PREV:
        if (height == 0)
            rc = 0;
        else {
            size_t kl = record_chain_block_key(key, height - 1);
            rc = last_height_before(st, SDB_CF_CHAIN, key, kl, &height, e, esz);
        }
        break;
    default: /* SDB_BLOCK_AT */
        break;
    }
    if (rc <= 0) {
        s->rep.status = rc < 0 ? SDB_ERROR : SDB_NOT_FOUND;
        return;
    }
    size_t kl = record_chain_block_key(key, height);
    rc = db_get(store_db(st), SDB_CF_CHAIN, key, kl, &s->val, e, esz);
    if (rc < 0 || (rc == 0 && s->val.len != SDB_HASH_LEN)) {
        s->rep.status = SDB_ERROR;
        if (rc == 0)
            snprintf(e, esz, "stored chain block record is malformed");
        return;
    }
    s->rep.u.block.in_chain = rc == 0;
    if (!s->rep.u.block.in_chain && r->u.block.mode != SDB_BLOCK_DECIDED_NEXT)
        return; /* not a block of the chain */
    db_value_free(&s->val);
    uint8_t ik[RECORD_INST_KEY_LEN];
    record_inst_key(ik, DUTY_PROPOSER, height);
    rc = db_get(store_db(st), SDB_CF_DECIDED, ik, sizeof(ik), &s->val, e, esz);
    if (rc != 0 ||
        record_decided_decode(&s->dec, DUTY_PROPOSER, height, s->val.p, s->val.len) < 0) {
        s->rep.status = SDB_ERROR;
        if (rc >= 0)
            snprintf(e, esz, "block %llu has no valid decided record", (unsigned long long)height);
        return;
    }
    sha256(s->rep.u.block.hash, s->dec.value.p, s->dec.value.len);
    s->rep.status = SDB_OK;
    s->rep.u.block.present = true;
    s->rep.u.block.height = height;
    s->rep.u.block.d = s->dec;
}

/* GET_TX: the height of the block that includes a tx. */
static void read_get_tx(struct store *st, struct statedb_op *op, struct opst *s)
{
    uint8_t key[RECORD_KEY_MAX];
    size_t kl = record_chain_tx_key(key, op->req.u.tx.hash);
    int rc = db_get(store_db(st), SDB_CF_CHAIN, key, kl, &s->val, op->out.err, sizeof(op->out.err));
    if (rc != 0) {
        s->rep.status = rc < 0 ? SDB_ERROR : SDB_NOT_FOUND;
        return;
    }
    if (s->val.len != 8) {
        s->rep.status = SDB_ERROR;
        snprintf(op->out.err, sizeof(op->out.err), "stored tx index record is malformed");
        return;
    }
    s->rep.status = SDB_OK;
    s->rep.u.tx.present = true;
    s->rep.u.tx.height = record_get_u64(s->val.p);
}

static void read_chain_head(struct store *st, struct statedb_op *op, struct opst *s)
{
    int rc = chain_head_read(st, &s->rep.u.head.h, op->out.err, sizeof(op->out.err));
    s->rep.status = rc < 0 ? SDB_ERROR : SDB_OK;
    s->rep.u.head.present = rc == 1;
}

/* ---- the group commit ---- */

static bool is_write(uint16_t t)
{
    return t == SDB_APPEND_INTENT || t == SDB_PUT_DUTY || t == SDB_PUT_DECIDED ||
           t == SDB_PUT_TXS || t == SDB_APPLY_BLOCK || t == SDB_SET_TSS;
}

void statedb_group_commit(struct store *st, struct statedb_op *ops, size_t n)
{
    if (n == 0)
        return;
    struct gc g = {.st = st, .ops = ops};
    g.os = xcalloc(n, sizeof(*g.os));
    map_init(&g.map, n);
    g.batch = store_batch_new(st);
    for (size_t i = 0; i < n; i++) {
        buf_free(&ops[i].out.body);
        memset(&ops[i].out, 0, sizeof(ops[i].out));
        ops[i].out.type = sdb_reply_type(ops[i].req.type);
        g.os[i].dep = -1;
        g.os[i].rep.type = ops[i].out.type;
    }

    /* 1. writes in request order, then prunes */
    for (size_t i = 0; i < n; i++) {
        switch (ops[i].req.type) {
        case SDB_APPEND_INTENT:
            do_append(&g, (int)i);
            break;
        case SDB_PUT_DUTY:
            do_put_duty(&g, (int)i);
            break;
        case SDB_PUT_DECIDED:
            do_put_decided(&g, (int)i);
            break;
        case SDB_PUT_TXS:
            do_put_txs(&g, (int)i);
            break;
        case SDB_APPLY_BLOCK:
            do_apply_block(&g, (int)i);
            break;
        case SDB_SET_TSS:
            do_set_tss(&g, (int)i);
            break;
        default:
            break;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (ops[i].req.type == SDB_PRUNE)
            do_prune(&g, (int)i);

    /* 2. one write */
    bool failed = false;
    char werr[200] = "";
    if (store_batch_count(g.batch) > 0) {
        uint64_t t0 = now_ns();
        failed = store_batch_write(g.batch, werr, sizeof(werr)) < 0;
        if (failed)
            metric_inc(metric("state_persist_errors_total"));
        else
            metric_observe(metric("state_persist_seconds"), (double)(now_ns() - t0) / 1e9);
    }
    bool durable = store_sync(st) && !failed;
    metric_observe(metric("statedb_batch_size"), (double)n);

    /* 3. answers: writes as decided above (or failed), then reads from the database */
    for (size_t i = 0; i < n; i++) {
        struct statedb_op *op = &ops[i];
        struct opst *s = &g.os[i];
        uint16_t t = op->req.type;
        if (is_write(t) || t == SDB_PRUNE) {
            if (failed && (s->wrote || s->dep >= 0)) {
                memset(&s->rep.u, 0, sizeof(s->rep.u));
                s->rep.status = SDB_ERROR;
                snprintf(op->out.err, sizeof(op->out.err), "%s", werr);
            } else if (t == SDB_APPEND_INTENT && s->wrote)
                metric_inc(metric("qbft_wal_appends_total",
                                  qbft_intent_type_name(op->req.u.append.k.mtype)));
        } else if (t == SDB_HELLO) {
            s->rep.status = SDB_OK;
            s->rep.u.hello = store_meta(st)->fallback;
        } else if (t == SDB_GET_DUTY || t == SDB_GET_DECIDED)
            read_get(st, op, s);
        else if (t == SDB_GET_BLOCK)
            read_get_block(st, op, s);
        else if (t == SDB_GET_TX)
            read_get_tx(st, op, s);
        else if (t == SDB_CHAIN_HEAD)
            read_chain_head(st, op, s);
        else {
            if (t == SDB_LOAD_INTENTS)
                read_load_intents(st, op, durable);
            else if (t == SDB_LIST_DUTIES)
                read_list_duties(st, op, durable);
            else
                read_iterate(st, op, durable);
            op->out.durable = durable && op->out.status != SDB_ERROR;
            continue;
        }
        s->rep.durable = durable && s->rep.status != SDB_ERROR;
        op->out.status = s->rep.status;
        op->out.durable = s->rep.durable;
        sdb_reply_encode(&op->out.body, &s->rep);
    }

    for (size_t i = 0; i < n; i++) {
        db_value_free(&g.os[i].val);
        buf_free(&g.os[i].rec);
        record_decided_free(&g.os[i].dec);
        free(g.os[i].seals);
    }
    store_batch_free(g.batch);
    free(g.map.slots);
    free(g.os);
}

bool statedb_prune_request(struct store *st, uint8_t dtype, uint64_t retention, struct sdb_req *out)
{
    uint8_t k[RECORD_INST_KEY_LEN], dt;
    uint64_t highest;
    bool found = false;
    record_inst_key(k, dtype, SDB_HEIGHT_MAX);
    struct db_iter *it = db_iter_new(store_db(st), SDB_CF_DECIDED);
    db_iter_seek_for_prev(it, k, sizeof(k));
    if (db_iter_valid(it)) {
        size_t kl;
        const uint8_t *key = db_iter_key(it, &kl);
        found = record_inst_key_parse(&dt, &highest, key, kl) == 0 && dt == dtype;
    }
    db_iter_free(it);
    if (!found || highest <= retention)
        return false;
    memset(out, 0, sizeof(*out));
    out->type = SDB_PRUNE;
    out->u.prune.dtype = dtype;
    out->u.prune.below = highest - retention;
    return true;
}

int statedb_prune_compact(struct store *st, const struct sdb_req *prune, char *err, size_t errsz)
{
    uint8_t lo[RECORD_INST_KEY_LEN], hi[RECORD_INST_KEY_LEN];
    uint8_t wlo[RECORD_WAL_KEY_LEN], whi[RECORD_WAL_KEY_LEN];
    uint8_t dtype = prune->u.prune.dtype;
    record_inst_key(lo, dtype, 0);
    record_inst_key(hi, dtype, prune->u.prune.below);
    record_wal_first(wlo, dtype, 0);
    record_wal_first(whi, dtype, prune->u.prune.below);
    const struct db *h = store_db(st);
    char *e = NULL;
    rocksdb_suggest_compact_range_cf(h->rdb, db_cf(h, SDB_CF_WAL), (const char *)wlo, sizeof(wlo),
                                     (const char *)whi, sizeof(whi), &e);
    static const enum sdb_cf inst_cfs[] = {SDB_CF_DUTIES, SDB_CF_DECIDED};
    for (size_t i = 0; i < ARRAY_LEN(inst_cfs) && !e; i++)
        rocksdb_suggest_compact_range_cf(h->rdb, db_cf(h, inst_cfs[i]), (const char *)lo,
                                         sizeof(lo), (const char *)hi, sizeof(hi), &e);
    if (!e)
        return 0;
    snprintf(err, errsz, "suggest compaction: %s", e);
    rocksdb_free(e);
    return -1;
}

/* ---- queue ---- */

int statedb_queue_push(struct statedb_queue *q, const struct envelope *e)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->ops = xrealloc(q->ops, q->cap * sizeof(*q->ops));
    }
    struct statedb_op *op = &q->ops[q->n];
    memset(op, 0, sizeof(*op));
    buf_append(&op->body, e->body, e->body_len);
    if (sdb_reply_type(e->type) == 0 ||
        sdb_req_decode(&op->req, e->type, op->body.data, e->body_len) < 0) {
        buf_free(&op->body);
        return -1;
    }
    op->req_id = e->req_id;
    op->source = e->source;
    memcpy(op->trace_id, e->trace_id, sizeof(op->trace_id));
    q->n++;
    return 0;
}

void statedb_queue_commit(struct statedb_queue *q, struct store *st, size_t max_batch)
{
    size_t step = max_batch ? max_batch : q->n;
    for (size_t i = 0; i < q->n; i += step)
        statedb_group_commit(st, q->ops + i, q->n - i < step ? q->n - i : step);
}

void statedb_op_free(struct statedb_op *op)
{
    sdb_req_free(&op->req);
    buf_free(&op->body);
    buf_free(&op->out.body);
}

void statedb_queue_clear(struct statedb_queue *q)
{
    for (size_t i = 0; i < q->n; i++)
        statedb_op_free(&q->ops[i]);
    q->n = 0;
}

void statedb_queue_free(struct statedb_queue *q)
{
    statedb_queue_clear(q);
    free(q->ops);
    q->ops = NULL;
    q->cap = 0;
}
