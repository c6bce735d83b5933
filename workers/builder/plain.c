/*
 * plain: the plaintext_v1 pool. See plain.h for the rules; this file keeps them in one place per
 * rule: admission (plain_admit), eviction (evict), promotion (promote), the chain moving on
 * (advance), selection (select_runs, shared by building and validation).
 */
#include "workers/builder/plain.h"
#include "lib/util.h"
#include "workers/builder/heap.h"
#include "workers/builder/hmap.h"

#include <stdlib.h>
#include <string.h>

enum evict_kind {
    EVICT_PENDING = 0, /* senders whose tail is pending (nothing queued) */
    EVICT_QUEUED = 1,  /* senders whose tail is queued */
    EVICT_NONE = 2,
};

struct sender {
    uint8_t from[TX_ADDR_LEN];
    uint64_t base;     /* the chain's next nonce as last seen; pend[0] has this nonce */
    struct tx **pend;  /* nonces base, base + 1, ... */
    struct tx **queue; /* ascending nonces, all >= base + npend */
    uint32_t npend, cap_pend;
    uint32_t nqueue, cap_queue;
    enum evict_kind heap; /* which eviction heap holds the sender */
    size_t heap_pos;
};

struct plain_pool {
    struct mempool_config cfg;
    struct mempool_host host;
    struct hmap txs;     /* struct tx, by hash */
    struct hmap senders; /* struct sender, by address */
    struct heap evict[2];
    size_t npending, nqueued;
    bool promotion_waits; /* a contiguous queued tx found no global pending slot */
};

/* ---- keys, heaps ---- */

static const uint8_t *tx_key(const void *item)
{
    return ((const struct tx *)item)->hash;
}

static const uint8_t *sender_key(const void *item)
{
    return ((const struct sender *)item)->from;
}

static const struct tx *sender_tail(const struct sender *s)
{
    return s->nqueue ? s->queue[s->nqueue - 1] : s->npend ? s->pend[s->npend - 1] : NULL;
}

/* Eviction order: the lowest tail fee first; ties: the higher address first. */
static bool evict_before(const void *a, const void *b)
{
    const struct sender *x = a, *y = b;
    uint64_t fx = sender_tail(x)->fee, fy = sender_tail(y)->fee;
    if (fx != fy)
        return fx < fy;
    return memcmp(x->from, y->from, TX_ADDR_LEN) > 0;
}

/* Put s in the eviction heap its tail belongs to now (after any change to its lists). */
static void reindex(struct plain_pool *p, struct sender *s)
{
    if (s->heap != EVICT_NONE)
        heap_remove(&p->evict[s->heap], s);
    s->heap = s->nqueue ? EVICT_QUEUED : s->npend ? EVICT_PENDING : EVICT_NONE;
    if (s->heap != EVICT_NONE)
        heap_push(&p->evict[s->heap], s);
}

/* ---- senders ---- */

static struct sender *sender_new(struct plain_pool *p, const uint8_t from[TX_ADDR_LEN],
                                 uint64_t base)
{
    struct sender *s = xcalloc(1, sizeof(*s));
    memcpy(s->from, from, TX_ADDR_LEN);
    s->base = base;
    s->heap = EVICT_NONE;
    s->heap_pos = HEAP_ABSENT;
    hmap_put(&p->senders, s);
    return s;
}

/* Drop a sender with nothing pooled (it must be out of the eviction heaps: reindex first). */
static void release_if_empty(struct plain_pool *p, struct sender *s)
{
    if (s->npend || s->nqueue)
        return;
    hmap_del(&p->senders, s->from);
    free(s->pend);
    free(s->queue);
    free(s);
}

static void grow(struct tx ***v, uint32_t *cap, uint32_t need)
{
    if (need <= *cap)
        return;
    *cap = *cap ? 2 * *cap : 4;
    if (*cap < need)
        *cap = need;
    *v = xrealloc(*v, *cap * sizeof(**v));
}

/* Remove the first k entries of a list of n. */
static void remove_front(struct tx **v, uint32_t *n, uint32_t k)
{
    if (k == 0)
        return;
    memmove(v, v + k, (*n - k) * sizeof(*v));
    *n -= k;
}

/* Index of the first queued tx with nonce >= n. */
static uint32_t queue_lower_bound(const struct sender *s, uint64_t n)
{
    uint32_t lo = 0, hi = s->nqueue;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->queue[mid]->nonce < n)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The place of the pooled tx with this nonce, or NULL; *pending says which list. */
static struct tx **sender_slot(struct sender *s, uint64_t nonce, bool *pending)
{
    if (nonce >= s->base && nonce - s->base < s->npend) {
        *pending = true;
        return &s->pend[nonce - s->base];
    }
    uint32_t i = queue_lower_bound(s, nonce);
    *pending = false;
    return i < s->nqueue && s->queue[i]->nonce == nonce ? &s->queue[i] : NULL;
}

static void queue_insert(struct sender *s, struct tx *tx)
{
    grow(&s->queue, &s->cap_queue, s->nqueue + 1);
    uint32_t i = queue_lower_bound(s, tx->nonce);
    memmove(s->queue + i + 1, s->queue + i, (s->nqueue - i) * sizeof(*s->queue));
    s->queue[i] = tx;
    s->nqueue++;
}

/* A tx leaves the pool for good: reported (unless already reported) and freed. */
static void drop(struct plain_pool *p, struct tx *tx, enum mempool_removal why,
                 struct mempool_removed *rm)
{
    if (hmap_get(&p->txs, tx->hash) == tx) {
        hmap_del(&p->txs, tx->hash);
        mempool_removed_add(rm, tx->hash, why);
    }
    tx_free(tx);
}

/* ---- promotion, the chain moving on, eviction ---- */

/* Move s's queued txs that are contiguous with its pending ones to pending, while the per-sender
 * and global caps allow. */
static void promote(struct plain_pool *p, struct sender *s)
{
    uint32_t k = 0;
    while (k < s->nqueue && s->queue[k]->nonce == s->base + s->npend &&
           s->npend < p->cfg.account_slots) {
        if (p->npending >= p->cfg.global_slots) {
            p->promotion_waits = true;
            break;
        }
        grow(&s->pend, &s->cap_pend, s->npend + 1);
        s->pend[s->npend++] = s->queue[k++];
        p->npending++;
        p->nqueued--;
    }
    remove_front(s->queue, &s->nqueue, k);
}

/* The chain's next nonce for s is now target: drop what is below it, promote what follows. */
static void advance(struct plain_pool *p, struct sender *s, uint64_t target,
                    struct mempool_removed *rm)
{
    if (target <= s->base)
        return;
    uint64_t gone = target - s->base;
    uint32_t k = gone < s->npend ? (uint32_t)gone : s->npend;
    for (uint32_t i = 0; i < k; i++)
        drop(p, s->pend[i], MEMPOOL_RM_OLD, rm);
    remove_front(s->pend, &s->npend, k);
    p->npending -= k;
    uint32_t q = queue_lower_bound(s, target);
    for (uint32_t i = 0; i < q; i++)
        drop(p, s->queue[i], MEMPOOL_RM_OLD, rm);
    remove_front(s->queue, &s->nqueue, q);
    p->nqueued -= q;
    s->base = target;
    promote(p, s);
}

/* Make room in one global list for a newcomer of sender self paying fee: evict the cheapest
 * candidate tail if the newcomer pays strictly more. True if room was made. */
static bool evict(struct plain_pool *p, enum evict_kind kind, const struct sender *self,
                  uint64_t fee, struct mempool_removed *rm)
{
    struct sender *v = heap_top_except(&p->evict[kind], self);
    if (!v || fee <= sender_tail(v)->fee)
        return false;
    struct tx *tail;
    if (kind == EVICT_PENDING) {
        tail = v->pend[--v->npend];
        p->npending--;
    } else {
        tail = v->queue[--v->nqueue];
        p->nqueued--;
    }
    drop(p, tail, MEMPOOL_RM_EVICTED, rm);
    reindex(p, v);
    release_if_empty(p, v);
    return true;
}

/* Promotions that waited for a global slot, sender by sender in address order. */
static int cmp_sender_from(const void *a, const void *b)
{
    return memcmp((*(struct sender *const *)a)->from, (*(struct sender *const *)b)->from,
                  TX_ADDR_LEN);
}

static void promote_waiting(struct plain_pool *p)
{
    if (!p->promotion_waits || p->npending >= p->cfg.global_slots)
        return;
    p->promotion_waits = false;
    struct sender **w = xcalloc(p->senders.n + 1, sizeof(*w));
    size_t n = 0;
    for (size_t i = 0; i < p->senders.cap; i++) {
        struct sender *s = hmap_slot(&p->senders, i);
        if (s && s->nqueue && s->queue[0]->nonce == s->base + s->npend &&
            s->npend < p->cfg.account_slots)
            w[n++] = s;
    }
    qsort(w, n, sizeof(*w), cmp_sender_from);
    for (size_t i = 0; i < n; i++) {
        promote(p, w[i]);
        reindex(p, w[i]);
    }
    free(w);
}

/* ---- plugin: lifecycle, decode, validate, find, size ---- */

static void *plain_create(const struct mempool_config *cfg, const struct mempool_host *host)
{
    struct plain_pool *p = xcalloc(1, sizeof(*p));
    p->cfg = *cfg;
    p->host = *host;
    hmap_init(&p->txs, tx_key, SHA256_LEN, cfg->seed);
    hmap_init(&p->senders, sender_key, TX_ADDR_LEN, cfg->seed ^ UINT64_C(0x9e3779b97f4a7c15));
    heap_init(&p->evict[EVICT_PENDING], evict_before, offsetof(struct sender, heap_pos));
    heap_init(&p->evict[EVICT_QUEUED], evict_before, offsetof(struct sender, heap_pos));
    return p;
}

static void plain_destroy(void *pp)
{
    struct plain_pool *p = pp;
    for (size_t i = 0; i < p->senders.cap; i++) {
        struct sender *s = hmap_slot(&p->senders, i);
        if (!s)
            continue;
        for (uint32_t k = 0; k < s->npend; k++)
            tx_free(s->pend[k]);
        for (uint32_t k = 0; k < s->nqueue; k++)
            tx_free(s->queue[k]);
        free(s->pend);
        free(s->queue);
        free(s);
    }
    hmap_free(&p->txs);
    hmap_free(&p->senders);
    heap_free(&p->evict[EVICT_PENDING]);
    heap_free(&p->evict[EVICT_QUEUED]);
    free(p);
}

static int plain_decode(const struct mempool_config *cfg, const uint8_t *b, size_t n,
                        struct tx **out, struct tx_error *err)
{
    return tx_decode(b, n, cfg->max_tx_data, cfg->lock_hash, out, err);
}

static int plain_validate(const struct mempool_config *cfg, const struct tx *tx,
                          struct tx_error *err)
{
    const struct block_header biggest = {.height = BLOCK_HEIGHT_MAX, .proposer = UINT32_MAX};
    if (tx->nonce == UINT64_MAX) {
        *err = (struct tx_error){TX_ERR_INVALID_TX, "nonce: at most 2^64-2", 0};
        return -1;
    }
    if (tx->gas > cfg->max_block_gas) {
        *err = (struct tx_error){TX_ERR_INVALID_TX, "gas: above max_block_gas", 0};
        return -1;
    }
    if (block_fixed_size(&biggest) + block_txs_header_size(1) + block_tx_item_size(tx->wire_len) >
        cfg->max_block_bytes) {
        *err = (struct tx_error){TX_ERR_TOO_LARGE, "larger than max_block_bytes allows", 0};
        return -1;
    }
    return tx_verify(tx, cfg->lock_hash, err);
}

static const struct tx *plain_find(const void *pp, const uint8_t hash[SHA256_LEN],
                                   enum mempool_state *state)
{
    const struct plain_pool *p = pp;
    const struct tx *tx = hmap_get(&p->txs, hash);
    if (tx && state) {
        const struct sender *s = hmap_get(&p->senders, tx->from);
        *state = tx->nonce - s->base < s->npend ? MEMPOOL_PENDING : MEMPOOL_QUEUED;
    }
    return tx;
}

static void plain_size(const void *pp, size_t *pending, size_t *queued)
{
    const struct plain_pool *p = pp;
    *pending = p->npending;
    *queued = p->nqueued;
}

/* ---- plugin: admission ---- */

/* new.fee * 100 >= old.fee * (100 + bump), without overflow */
static bool bumped_enough(uint64_t old_fee, uint64_t new_fee, uint64_t bump_pct)
{
    return (unsigned __int128)new_fee * 100 >= (unsigned __int128)old_fee * (100 + bump_pct);
}

static enum mempool_result replace(struct plain_pool *p, struct sender *s, struct tx **slot,
                                   bool pending, struct tx *tx, struct mempool_outcome *o,
                                   struct mempool_removed *rm)
{
    struct tx *old = *slot;
    if (memcmp(old->hash, tx->hash, SHA256_LEN) == 0 || tx->fee <= old->fee)
        return MEMPOOL_DUP;
    if (!bumped_enough(old->fee, tx->fee, p->cfg.price_bump_pct))
        return MEMPOOL_UNDERPRICED;
    *slot = tx;
    hmap_put(&p->txs, tx);
    drop(p, old, MEMPOOL_RM_REPLACED, rm);
    reindex(p, s);
    o->state = pending ? MEMPOOL_PENDING : MEMPOOL_QUEUED;
    return MEMPOOL_REPLACED;
}

/* Rules 3 and 4 of plain.h for a tx that has no pooled tx at its nonce. */
static enum mempool_result insert(struct plain_pool *p, struct sender *s, struct tx *tx,
                                  struct mempool_outcome *o, struct mempool_removed *rm)
{
    if (tx->nonce == s->base + s->npend) {
        if (s->npend >= p->cfg.account_slots)
            return MEMPOOL_FULL;
        if (p->npending >= p->cfg.global_slots && !evict(p, EVICT_PENDING, s, tx->fee, rm))
            return MEMPOOL_FULL;
        grow(&s->pend, &s->cap_pend, s->npend + 1);
        s->pend[s->npend++] = tx;
        p->npending++;
        hmap_put(&p->txs, tx);
        promote(p, s);
        reindex(p, s);
        o->state = MEMPOOL_PENDING;
        return MEMPOOL_OK;
    }
    if (s->nqueue >= p->cfg.account_queue)
        return MEMPOOL_FULL;
    if (p->nqueued >= p->cfg.global_queue && !evict(p, EVICT_QUEUED, s, tx->fee, rm))
        return MEMPOOL_FULL;
    queue_insert(s, tx);
    p->nqueued++;
    hmap_put(&p->txs, tx);
    reindex(p, s);
    o->state = MEMPOOL_QUEUED;
    return MEMPOOL_FUTURE;
}

static enum mempool_result plain_admit(void *pp, struct tx *tx, struct mempool_outcome *o,
                                       struct mempool_removed *rm)
{
    struct plain_pool *p = pp;
    uint64_t chain = p->host.chain_nonce(p->host.ctx, tx->from);
    struct sender *s = hmap_get(&p->senders, tx->from);
    if (s) {
        advance(p, s, chain, rm);
        reindex(p, s);
    } else {
        s = sender_new(p, tx->from, chain);
    }
    enum mempool_result r;
    bool pending;
    struct tx **slot;
    if (tx->nonce < s->base)
        r = MEMPOOL_OLD;
    else if ((slot = sender_slot(s, tx->nonce, &pending)))
        r = replace(p, s, slot, pending, tx, o, rm);
    else
        r = insert(p, s, tx, o, rm);
    if (r != MEMPOOL_OK && r != MEMPOOL_FUTURE && r != MEMPOOL_REPLACED)
        tx_free(tx);
    release_if_empty(p, s);
    return r;
}

/* ---- plugin: restore ---- */

static void plain_restore(void *pp, struct tx *tx, struct mempool_removed *rm)
{
    struct plain_pool *p = pp;
    if (hmap_get(&p->txs, tx->hash)) {
        tx_free(tx); /* stored twice under one hash: one copy is pooled */
        return;
    }
    struct sender *s = hmap_get(&p->senders, tx->from);
    if (!s)
        s = sender_new(p, tx->from, p->host.chain_nonce(p->host.ctx, tx->from));
    bool pending;
    struct tx **slot = sender_slot(s, tx->nonce, &pending);
    if (tx->nonce < s->base) {
        mempool_removed_add(rm, tx->hash, MEMPOOL_RM_OLD);
        tx_free(tx);
    } else if (slot) {
        /* two stored txs with one nonce: the higher fee stays (ties: the one already here) */
        struct tx *loser = tx;
        if (tx->fee > (*slot)->fee) {
            loser = *slot;
            hmap_del(&p->txs, loser->hash);
            *slot = tx;
            hmap_put(&p->txs, tx);
        }
        mempool_removed_add(rm, loser->hash, MEMPOOL_RM_REPLACED);
        tx_free(loser);
    } else {
        queue_insert(s, tx);
        p->nqueued++;
        hmap_put(&p->txs, tx);
    }
    reindex(p, s);
    release_if_empty(p, s);
}

static void plain_restore_done(void *pp, struct mempool_removed *rm)
{
    struct plain_pool *p = pp;
    struct sender **all = xcalloc(p->senders.n + 1, sizeof(*all));
    size_t n = 0;
    for (size_t i = 0; i < p->senders.cap; i++)
        if (hmap_slot(&p->senders, i))
            all[n++] = hmap_slot(&p->senders, i);
    qsort(all, n, sizeof(*all), cmp_sender_from);
    for (size_t i = 0; i < n; i++) {
        struct sender *s = all[i];
        promote(p, s);
        while (s->nqueue > p->cfg.account_queue) {
            drop(p, s->queue[--s->nqueue], MEMPOOL_RM_EVICTED, rm);
            p->nqueued--;
        }
        reindex(p, s);
        release_if_empty(p, s);
    }
    free(all);
    while (p->nqueued > p->cfg.global_queue) {
        struct sender *v = heap_top(&p->evict[EVICT_QUEUED]);
        drop(p, v->queue[--v->nqueue], MEMPOOL_RM_EVICTED, rm);
        p->nqueued--;
        reindex(p, v);
        release_if_empty(p, v);
    }
}

/* ---- plugin: selection ---- */

/* One sender's includable transactions, in nonce order, and how many are taken. */
struct run {
    const uint8_t *from;
    struct tx *const *txs;
    uint32_t n, cur;
};

/* The canonical order: the highest fee among the heads, then the lower address. */
static bool run_before(const void *a, const void *b)
{
    const struct run *x = a, *y = b;
    uint64_t fx = x->txs[x->cur]->fee, fy = y->txs[y->cur]->fee;
    if (fx != fy)
        return fx > fy;
    return memcmp(x->from, y->from, TX_ADDR_LEN) < 0;
}

/* Take transactions in canonical order from the runs until the budget (NULL: none) stops it. */
static void select_runs(struct run *runs, size_t nruns, struct block_budget *b, struct tx_list *out)
{
    struct heap h;
    heap_init(&h, run_before, HEAP_NO_POS);
    for (size_t i = 0; i < nruns; i++)
        if (runs[i].n)
            heap_push(&h, &runs[i]);
    struct run *r;
    while ((r = heap_top(&h))) {
        const struct tx *tx = r->txs[r->cur];
        if (b) {
            if (!block_budget_fits(b, tx->wire_len, tx->gas))
                break;
            block_budget_take(b, tx->wire_len, tx->gas);
        }
        tx_list_push(out, tx);
        if (++r->cur == r->n)
            heap_pop(&h);
        else
            heap_fix_top(&h);
    }
    heap_free(&h);
}

static void plain_select(void *pp, struct block_budget *b, struct tx_list *out)
{
    struct plain_pool *p = pp;
    struct run *runs = xcalloc(p->senders.n + 1, sizeof(*runs));
    size_t n = 0;
    for (size_t i = 0; i < p->senders.cap; i++) {
        struct sender *s = hmap_slot(&p->senders, i);
        if (s && s->npend)
            runs[n++] = (struct run){s->from, s->pend, s->npend, 0};
    }
    select_runs(runs, n, b, out);
    free(runs);
}

/* ---- plugin: proposal validation ---- */

static int cmp_tx_hash(const void *a, const void *b)
{
    return memcmp((*(struct tx *const *)a)->hash, (*(struct tx *const *)b)->hash, SHA256_LEN);
}

/* A block's tx and its position in the block. */
struct placed {
    struct tx *tx;
    size_t pos;
};

/* By sender, then by position in the block. */
static int cmp_placed(const void *a, const void *b)
{
    const struct placed *x = a, *y = b;
    int c = memcmp(x->tx->from, y->tx->from, TX_ADDR_LEN);
    return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

static enum block_reject check_gas(struct tx *const *txs, size_t n, struct block_budget *b)
{
    for (size_t i = 0; i < n; i++) {
        if (txs[i]->gas > b->max_gas - b->gas)
            return BLOCK_REJECT_TOO_MUCH_GAS;
        b->gas += txs[i]->gas;
    }
    return BLOCK_OK;
}

static enum block_reject check_duplicates(struct tx *const *txs, size_t n, struct tx **scratch)
{
    memcpy(scratch, txs, n * sizeof(*scratch));
    qsort(scratch, n, sizeof(*scratch), cmp_tx_hash);
    for (size_t i = 1; i < n; i++)
        if (memcmp(scratch[i - 1]->hash, scratch[i]->hash, SHA256_LEN) == 0)
            return BLOCK_REJECT_DUPLICATE_TX;
    return BLOCK_OK;
}

/*
 * Nonces, then order. In block order, each sender's nonces must run from its chain nonce up by
 * one (never reaching 2^64-1, which no tx may carry: the next nonce must stay representable).
 * Then the block must be exactly what the canonical selection takes from these runs.
 */
static enum block_reject check_nonces_and_order(struct plain_pool *p, struct tx *const *txs,
                                                size_t n, struct tx **scratch)
{
    struct placed *by_sender = xcalloc(n + 1, sizeof(*by_sender));
    for (size_t i = 0; i < n; i++)
        by_sender[i] = (struct placed){txs[i], i};
    qsort(by_sender, n, sizeof(*by_sender), cmp_placed);
    struct run *runs = xcalloc(n + 1, sizeof(*runs));
    size_t nruns = 0;
    enum block_reject r = BLOCK_OK;
    uint64_t want = 0;
    for (size_t i = 0; i < n && r == BLOCK_OK; i++) {
        const struct tx *tx = by_sender[i].tx;
        scratch[i] = by_sender[i].tx;
        if (i == 0 || memcmp(scratch[i - 1]->from, tx->from, TX_ADDR_LEN) != 0) {
            runs[nruns++] = (struct run){tx->from, &scratch[i], 0, 0};
            want = p->host.chain_nonce(p->host.ctx, tx->from);
        }
        if (tx->nonce != want || want == UINT64_MAX)
            r = BLOCK_REJECT_NONCE;
        want++;
        runs[nruns - 1].n++;
    }
    if (r == BLOCK_OK) {
        struct tx_list canonical = {0};
        select_runs(runs, nruns, NULL, &canonical);
        for (size_t i = 0; i < n && r == BLOCK_OK; i++)
            if (canonical.v[i] != txs[i])
                r = BLOCK_REJECT_ORDER;
        tx_list_free(&canonical);
    }
    free(runs);
    free(by_sender);
    return r;
}

static enum block_reject plain_validate_selection(void *pp, struct tx *const *txs, size_t n,
                                                  struct block_budget *b)
{
    struct plain_pool *p = pp;
    struct tx **scratch = xcalloc(n + 1, sizeof(*scratch));
    enum block_reject r = check_gas(txs, n, b);
    if (r == BLOCK_OK)
        r = check_duplicates(txs, n, scratch);
    if (r == BLOCK_OK)
        r = check_nonces_and_order(p, txs, n, scratch);
    free(scratch);
    for (size_t i = 0; i < n && r == BLOCK_OK; i++)
        if (!hmap_get(&p->txs, txs[i]->hash) && tx_verify(txs[i], p->cfg.lock_hash, NULL) < 0)
            r = BLOCK_REJECT_SIGNATURE;
    return r;
}

/* ---- plugin: decided blocks ---- */

static void plain_on_decided(void *pp, struct tx *const *txs, size_t n, struct mempool_removed *rm)
{
    struct plain_pool *p = pp;
    for (size_t i = 0; i < n; i++) {
        struct tx *pooled = hmap_get(&p->txs, txs[i]->hash);
        if (pooled) {
            hmap_del(&p->txs, pooled->hash); /* advance below frees it without a report */
            mempool_removed_add(rm, pooled->hash, MEMPOOL_RM_INCLUDED);
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct sender *s = hmap_get(&p->senders, txs[i]->from);
        if (!s)
            continue;
        uint64_t chain = p->host.chain_nonce(p->host.ctx, s->from);
        /* past its nonce in the block (a decided tx's nonce is below 2^64-1) */
        uint64_t past = txs[i]->nonce < UINT64_MAX ? txs[i]->nonce + 1 : UINT64_MAX;
        advance(p, s, chain > past ? chain : past, rm);
        reindex(p, s);
        release_if_empty(p, s);
    }
    promote_waiting(p);
}

const struct mempool_plugin plain_plugin = {
    .name = "plaintext_v1",
    .type = TX_PLAINTEXT_V1,
    .create = plain_create,
    .destroy = plain_destroy,
    .decode = plain_decode,
    .validate = plain_validate,
    .find = plain_find,
    .admit = plain_admit,
    .restore = plain_restore,
    .restore_done = plain_restore_done,
    .select = plain_select,
    .validate_selection = plain_validate_selection,
    .on_decided = plain_on_decided,
    .size = plain_size,
};
