/*
 * mempool: the plugin table and the container's routing. A block's transactions are grouped by
 * plugin in table order (each type one run); within a run the plugin decides.
 */
#include "workers/builder/mempool.h"
#include "lib/util.h"
#include "workers/builder/plain.h"

#include <stdlib.h>
#include <string.h>

/* One row per transaction type; a block lists the types' runs in this order. */
static const struct mempool_plugin *const plugins[] = {
    &plain_plugin,
};

#define NPLUGINS ARRAY_LEN(plugins)

struct mempool {
    struct mempool_config cfg;
    void *pools[NPLUGINS];
};

static const char *const result_names[MEMPOOL_RESULT_COUNT] = {
    [MEMPOOL_OK] = "ok",
    [MEMPOOL_FUTURE] = "future",
    [MEMPOOL_DUP] = "dup",
    [MEMPOOL_REPLACED] = "replaced",
    [MEMPOOL_UNDERPRICED] = "underpriced",
    [MEMPOOL_OLD] = "old",
    [MEMPOOL_INVALID] = "invalid",
    [MEMPOOL_FULL] = "full",
};

const char *mempool_result_name(enum mempool_result r)
{
    return (unsigned)r < MEMPOOL_RESULT_COUNT ? result_names[r] : NULL;
}

const char *mempool_state_name(enum mempool_state s)
{
    return s == MEMPOOL_PENDING ? "pending" : s == MEMPOOL_QUEUED ? "queued" : NULL;
}

void mempool_config_from(struct mempool_config *mc, const struct config *cfg,
                         const uint8_t lock_hash[SHA256_LEN], uint64_t seed)
{
    *mc = (struct mempool_config){
        .max_tx_data = (uint32_t)cfg->builder_max_tx_data,
        .price_bump_pct = cfg->builder_price_bump_pct,
        .account_slots = cfg->builder_account_slots,
        .account_queue = cfg->builder_account_queue,
        .global_slots = cfg->builder_global_slots,
        .global_queue = cfg->builder_global_queue,
        .max_block_txs = cfg->builder_max_block_txs,
        .max_block_gas = cfg->builder_max_block_gas,
        .max_block_bytes = cfg->builder_max_block_bytes,
        .seed = seed,
    };
    memcpy(mc->lock_hash, lock_hash, SHA256_LEN);
}

/* ---- small lists ---- */

void mempool_removed_add(struct mempool_removed *rm, const uint8_t hash[SHA256_LEN],
                         enum mempool_removal why)
{
    if (rm->n == rm->cap) {
        rm->cap = rm->cap ? 2 * rm->cap : 8;
        rm->v = xrealloc(rm->v, rm->cap * sizeof(*rm->v));
    }
    memcpy(rm->v[rm->n].hash, hash, SHA256_LEN);
    rm->v[rm->n++].why = why;
}

void mempool_removed_free(struct mempool_removed *rm)
{
    free(rm->v);
    *rm = (struct mempool_removed){0};
}

void tx_list_push(struct tx_list *l, const struct tx *tx)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = tx;
}

void tx_list_free(struct tx_list *l)
{
    free(l->v);
    *l = (struct tx_list){0};
}

/* ---- budget ---- */

void block_budget_init(struct block_budget *b, const struct mempool_config *cfg,
                       const struct block_header *h)
{
    *b = (struct block_budget){
        .max_txs = cfg->max_block_txs,
        .max_gas = cfg->max_block_gas,
        .max_bytes = cfg->max_block_bytes,
        .bytes = block_fixed_size(h) + block_txs_header_size(0),
    };
}

bool block_budget_fits(const struct block_budget *b, uint32_t tx_len, uint64_t gas)
{
    /* the count's header may grow by a form as the count does */
    uint64_t bytes = b->bytes - block_txs_header_size(b->txs) + block_txs_header_size(b->txs + 1) +
                     block_tx_item_size(tx_len);
    return b->txs < b->max_txs && gas <= b->max_gas - b->gas && bytes <= b->max_bytes;
}

void block_budget_take(struct block_budget *b, uint32_t tx_len, uint64_t gas)
{
    b->bytes += block_txs_header_size(b->txs + 1) - block_txs_header_size(b->txs) +
                block_tx_item_size(tx_len);
    b->txs++;
    b->gas += gas;
}

/* ---- lifecycle ---- */

struct mempool *mempool_new(const struct mempool_config *cfg, const struct mempool_host *host)
{
    struct mempool *mp = xcalloc(1, sizeof(*mp));
    mp->cfg = *cfg;
    for (size_t i = 0; i < NPLUGINS; i++)
        mp->pools[i] = plugins[i]->create(cfg, host);
    return mp;
}

void mempool_free(struct mempool *mp)
{
    if (!mp)
        return;
    for (size_t i = 0; i < NPLUGINS; i++)
        plugins[i]->destroy(mp->pools[i]);
    free(mp);
}

/* The table index of the plugin for the type of these bytes, -1 if they do not start like a
 * transaction, -2 for an unknown type. */
static int route(const uint8_t *p, size_t n)
{
    unsigned type;
    if (tx_wire_type(p, n, &type) < 0)
        return -1;
    for (size_t i = 0; i < NPLUGINS; i++)
        if (plugins[i]->type == type)
            return (int)i;
    return -2;
}

/* Route and decode: 0 and *out, or -1 with err filled. */
static int route_decode(const struct mempool *mp, const uint8_t *p, size_t n, size_t *plugin,
                        struct tx **out, struct tx_error *err)
{
    int k = route(p, n);
    if (k < 0) {
        *err = (struct tx_error){TX_ERR_INVALID_TX,
                                 k == -1 ? "not a transaction" : "unknown tx type", 0};
        return -1;
    }
    *plugin = (size_t)k;
    return plugins[k]->decode(&mp->cfg, p, n, out, err);
}

/* ---- admission ---- */

enum mempool_result mempool_admit(struct mempool *mp, const uint8_t *p, size_t n,
                                  struct mempool_outcome *o, struct mempool_removed *rm)
{
    size_t k;
    struct tx *tx;
    memset(o, 0, sizeof(*o));
    o->result = MEMPOOL_INVALID;
    if (route_decode(mp, p, n, &k, &tx, &o->err) < 0)
        return o->result;
    o->has_hash = true;
    memcpy(o->hash, tx->hash, SHA256_LEN);
    if (plugins[k]->find(mp->pools[k], tx->hash, NULL)) {
        tx_free(tx); /* already verified and pooled: no second signature check */
        return o->result = MEMPOOL_DUP;
    }
    if (plugins[k]->validate(&mp->cfg, tx, &o->err) < 0) {
        tx_free(tx);
        return o->result;
    }
    return o->result = plugins[k]->admit(mp->pools[k], tx, o, rm);
}

int mempool_restore(struct mempool *mp, const uint8_t *p, size_t n, struct mempool_removed *rm)
{
    size_t k;
    struct tx *tx;
    struct tx_error err;
    if (route_decode(mp, p, n, &k, &tx, &err) < 0)
        return -1;
    plugins[k]->restore(mp->pools[k], tx, rm);
    return 0;
}

void mempool_restore_done(struct mempool *mp, struct mempool_removed *rm)
{
    for (size_t i = 0; i < NPLUGINS; i++)
        plugins[i]->restore_done(mp->pools[i], rm);
}

const struct tx *mempool_find(const struct mempool *mp, const uint8_t hash[SHA256_LEN],
                              enum mempool_state *state)
{
    for (size_t i = 0; i < NPLUGINS; i++) {
        const struct tx *tx = plugins[i]->find(mp->pools[i], hash, state);
        if (tx)
            return tx;
    }
    return NULL;
}

void mempool_size(const struct mempool *mp, size_t *pending, size_t *queued)
{
    *pending = *queued = 0;
    for (size_t i = 0; i < NPLUGINS; i++) {
        size_t p, q;
        plugins[i]->size(mp->pools[i], &p, &q);
        *pending += p;
        *queued += q;
    }
}

/* ---- blocks ---- */

void mempool_build(struct mempool *mp, const struct block_header *h, struct buf *out,
                   struct mempool_build_info *info)
{
    struct block_budget b;
    struct tx_list sel = {0};
    block_budget_init(&b, &mp->cfg, h);
    for (size_t i = 0; i < NPLUGINS; i++)
        plugins[i]->select(mp->pools[i], &b, &sel);
    size_t start = out->len;
    block_encode_begin(out, h, (uint32_t)sel.n);
    for (size_t i = 0; i < sel.n; i++)
        block_encode_tx(out, sel.v[i]->wire, sel.v[i]->wire_len);
    if (info)
        *info = (struct mempool_build_info){b.txs, b.gas, out->len - start};
    tx_list_free(&sel);
}

/* A block's transactions decoded, with the plugin of each. */
struct decoded {
    struct tx **txs;
    size_t *plugin;
    size_t n;
};

static void decoded_free(struct decoded *d)
{
    for (size_t i = 0; i < d->n; i++)
        tx_free(d->txs[i]);
    free(d->txs);
    free(d->plugin);
}

/* Decode every transaction of b; the first failure's reason, or BLOCK_OK. */
static enum block_reject decode_txs(const struct mempool_config *cfg, const struct block *b,
                                    struct decoded *d)
{
    d->txs = xcalloc(b->ntxs + 1, sizeof(*d->txs));
    d->plugin = xcalloc(b->ntxs + 1, sizeof(*d->plugin));
    d->n = 0;
    for (uint32_t i = 0; i < b->ntxs; i++) {
        int k = route(b->txs[i].p, b->txs[i].len);
        if (k == -2)
            return BLOCK_REJECT_TX_TYPE;
        if (k < 0 || plugins[k]->decode(cfg, b->txs[i].p, b->txs[i].len, &d->txs[d->n],
                                        &(struct tx_error){0}) < 0)
            return BLOCK_REJECT_TX_DECODE;
        d->plugin[d->n++] = (size_t)k;
    }
    return BLOCK_OK;
}

static enum block_reject check_header(const struct block *b, const struct block_expect *e)
{
    if (b->h.height <= e->parent_height || (e->height && b->h.height != e->height))
        return BLOCK_REJECT_HEIGHT;
    if (memcmp(b->h.parent_hash, e->parent_hash, SHA256_LEN) != 0)
        return BLOCK_REJECT_PARENT;
    if (b->h.proposer >= e->operators)
        return BLOCK_REJECT_PROPOSER;
    return BLOCK_OK;
}

enum block_reject mempool_validate_block(struct mempool *mp, const uint8_t *p, size_t n,
                                         const struct block_expect *e)
{
    static const enum block_reject decode_reason[] = {
        [BLOCK_DECODE_OK] = BLOCK_OK,
        [BLOCK_DECODE_MALFORMED] = BLOCK_REJECT_DECODE,
        [BLOCK_DECODE_TOO_MANY_TXS] = BLOCK_REJECT_TOO_MANY_TXS,
    };
    if (n > mp->cfg.max_block_bytes)
        return BLOCK_REJECT_TOO_MANY_BYTES;
    struct block b;
    uint32_t max_txs =
        mp->cfg.max_block_txs > UINT32_MAX ? UINT32_MAX : (uint32_t)mp->cfg.max_block_txs;
    enum block_reject r = decode_reason[block_decode(&b, p, n, max_txs)];
    if (r != BLOCK_OK)
        return r;
    struct decoded d = {0};
    r = check_header(&b, e);
    if (r == BLOCK_OK)
        r = decode_txs(&mp->cfg, &b, &d);
    /* each type's transactions form one run, the runs in plugin table order */
    for (size_t i = 1; i < d.n && r == BLOCK_OK; i++)
        if (d.plugin[i] < d.plugin[i - 1])
            r = BLOCK_REJECT_ORDER;
    struct block_budget budget;
    block_budget_init(&budget, &mp->cfg, &b.h);
    for (size_t start = 0; start < d.n && r == BLOCK_OK;) {
        size_t end = start;
        while (end < d.n && d.plugin[end] == d.plugin[start])
            end++;
        size_t k = d.plugin[start];
        r = plugins[k]->validate_selection(mp->pools[k], d.txs + start, end - start, &budget);
        start = end;
    }
    decoded_free(&d);
    block_free(&b);
    return r;
}

int mempool_on_decided(struct mempool *mp, const uint8_t *p, size_t n, struct mempool_removed *rm)
{
    struct block b;
    if (block_decode(&b, p, n, UINT32_MAX) != BLOCK_DECODE_OK)
        return -1;
    /* A decided block was valid under its leader's configuration, which may allow more data
     * than ours: decode with the protocol's limit. */
    struct mempool_config loose = mp->cfg;
    loose.max_tx_data = TX_DATA_LIMIT;
    struct decoded d = {0};
    int rc = -1;
    if (decode_txs(&loose, &b, &d) == BLOCK_OK) {
        struct tx **mine = xcalloc(d.n + 1, sizeof(*mine));
        for (size_t k = 0; k < NPLUGINS; k++) {
            size_t m = 0;
            for (size_t i = 0; i < d.n; i++)
                if (d.plugin[i] == k)
                    mine[m++] = d.txs[i];
            plugins[k]->on_decided(mp->pools[k], mine, m, rm);
        }
        free(mine);
        rc = 0;
    }
    decoded_free(&d);
    block_free(&b);
    return rc;
}
