#include "workers/builder/chain.h"
#include "lib/util.h"
#include "proto/block.h"
#include "proto/tx.h"

#include <stdlib.h>
#include <string.h>

struct chain_nonce {
    uint8_t from[SDB_ADDR_LEN];
    uint64_t next;
};

static const uint8_t *nonce_key(const void *item)
{
    return ((const struct chain_nonce *)item)->from;
}

void chain_init(struct chain *c, const uint8_t lock_hash[SHA256_LEN], uint64_t seed)
{
    memset(c, 0, sizeof(*c));
    hmap_init(&c->nonces, nonce_key, SDB_ADDR_LEN, seed);
    memcpy(c->lock_hash, lock_hash, SHA256_LEN);
    c->waiting = xcalloc(CHAIN_WAITING_MAX, sizeof(*c->waiting));
}

void chain_free(struct chain *c)
{
    for (size_t i = 0; i < c->nonces.cap; i++)
        free(hmap_slot(&c->nonces, i));
    hmap_free(&c->nonces);
    for (size_t i = 0; i < c->nwaiting; i++)
        buf_free(&c->waiting[i].bytes);
    free(c->waiting);
    memset(c, 0, sizeof(*c));
}

uint64_t chain_nonce(const struct chain *c, const uint8_t from[SDB_ADDR_LEN])
{
    const struct chain_nonce *e = hmap_get(&c->nonces, from);
    return e ? e->next : 0;
}

void chain_set_nonce(struct chain *c, const uint8_t from[SDB_ADDR_LEN], uint64_t next)
{
    struct chain_nonce *e = hmap_get(&c->nonces, from);
    if (!e) {
        e = xcalloc(1, sizeof(*e));
        memcpy(e->from, from, SDB_ADDR_LEN);
        hmap_put(&c->nonces, e);
    }
    e->next = next;
}

static void remember(struct chain *c, const uint8_t hash[SHA256_LEN])
{
    memcpy(c->recent[c->next_recent], hash, SHA256_LEN);
    c->next_recent = (c->next_recent + 1) % CHAIN_RECENT;
    if (c->nrecent < CHAIN_RECENT)
        c->nrecent++;
}

bool chain_recent(const struct chain *c, const uint8_t hash[SHA256_LEN])
{
    for (unsigned i = 0; i < c->nrecent; i++)
        if (!memcmp(c->recent[i], hash, SHA256_LEN))
            return true;
    return false;
}

void chain_set_head(struct chain *c, bool present, const struct sdb_head *h)
{
    c->has_head = present;
    memset(&c->head, 0, sizeof(c->head));
    if (present) {
        c->head = *h;
        remember(c, h->hash);
    }
}

struct sender_nonce {
    uint8_t from[SDB_ADDR_LEN];
    uint64_t nonce;
};

static int by_sender(const void *a, const void *b)
{
    return memcmp(((const struct sender_nonce *)a)->from, ((const struct sender_nonce *)b)->from,
                  SDB_ADDR_LEN);
}

int chain_plan(const struct chain *c, const uint8_t *bytes, size_t n, struct sdb_block_apply *out)
{
    struct block b;
    memset(out, 0, sizeof(*out));
    if (block_decode(&b, bytes, n, SDB_BLOCK_TXS_MAX) != BLOCK_DECODE_OK)
        return -1;
    out->height = b.h.height;
    block_hash(out->hash, bytes, n);
    memcpy(out->parent, b.h.parent_hash, SDB_HASH_LEN);
    struct sender_nonce *sn = b.ntxs ? xcalloc(b.ntxs, sizeof(*sn)) : NULL;
    out->txs = b.ntxs ? xcalloc(b.ntxs, SDB_HASH_LEN) : NULL;
    out->ntxs = b.ntxs;
    for (uint32_t i = 0; i < b.ntxs; i++) {
        struct tx *tx;
        struct tx_error err;
        if (tx_decode(b.txs[i].p, b.txs[i].len, TX_DATA_LIMIT, c->lock_hash, &tx, &err) < 0) {
            free(sn);
            block_free(&b);
            chain_plan_free(out);
            return -1;
        }
        memcpy(out->txs[i], tx->hash, SDB_HASH_LEN);
        memcpy(sn[i].from, tx->from, SDB_ADDR_LEN);
        sn[i].nonce = tx->nonce;
        tx_free(tx);
    }
    uint32_t ntxs = b.ntxs;
    block_free(&b);
    /* one entry per sender: its highest nonce in the block, + 1 */
    if (sn)
        qsort(sn, ntxs, sizeof(*sn), by_sender);
    out->nonces = NULL;
    out->nnonces = 0;
    if (ntxs)
        out->nonces = xcalloc(ntxs, sizeof(*out->nonces));
    for (uint32_t i = 0; i < ntxs && out->nonces; i++) {
        struct sdb_nonce *last = out->nnonces ? &out->nonces[out->nnonces - 1] : NULL;
        if (!last || memcmp(last->from, sn[i].from, SDB_ADDR_LEN) != 0) {
            last = &out->nonces[out->nnonces++];
            memcpy(last->from, sn[i].from, SDB_ADDR_LEN);
            last->next = chain_nonce(c, sn[i].from);
        }
        if (sn[i].nonce != UINT64_MAX && sn[i].nonce + 1 > last->next)
            last->next = sn[i].nonce + 1;
    }
    free(sn);
    return 0;
}

void chain_plan_free(struct sdb_block_apply *a)
{
    free(a->nonces);
    free(a->txs);
    memset(a, 0, sizeof(*a));
}

void chain_applied(struct chain *c, const struct sdb_block_apply *a)
{
    c->has_head = true;
    c->head.height = a->height;
    memcpy(c->head.hash, a->hash, SDB_HASH_LEN);
    remember(c, a->hash);
    for (uint32_t i = 0; i < a->nnonces; i++)
        chain_set_nonce(c, a->nonces[i].from, a->nonces[i].next);
}

static bool is_stale(const struct chain *c, uint64_t height)
{
    return c->has_head && height <= c->head.height;
}

enum chain_wait_result chain_wait(struct chain *c, uint64_t height, const uint8_t *bytes, size_t n)
{
    struct block b;
    if (block_decode(&b, bytes, n, SDB_BLOCK_TXS_MAX) != BLOCK_DECODE_OK)
        return CHAIN_WAIT_INVALID;
    bool same = b.h.height == height;
    uint8_t parent[SDB_HASH_LEN];
    memcpy(parent, b.h.parent_hash, SDB_HASH_LEN);
    block_free(&b);
    if (!same)
        return CHAIN_WAIT_INVALID;
    if (is_stale(c, height))
        return CHAIN_WAIT_STALE;
    size_t at = 0;
    while (at < c->nwaiting && c->waiting[at].height < height)
        at++;
    if (at < c->nwaiting && c->waiting[at].height == height)
        return CHAIN_WAIT_QUEUED;
    if (c->nwaiting == CHAIN_WAITING_MAX)
        return CHAIN_WAIT_FULL;
    memmove(&c->waiting[at + 1], &c->waiting[at], (c->nwaiting - at) * sizeof(*c->waiting));
    c->nwaiting++;
    struct chain_waiting *w = &c->waiting[at];
    memset(w, 0, sizeof(*w));
    w->height = height;
    memcpy(w->parent, parent, SDB_HASH_LEN);
    block_hash(w->hash, bytes, n);
    buf_append(&w->bytes, bytes, n);
    return CHAIN_WAIT_QUEUED;
}

static void drop_at(struct chain *c, size_t i)
{
    buf_free(&c->waiting[i].bytes);
    memmove(&c->waiting[i], &c->waiting[i + 1], (c->nwaiting - i - 1) * sizeof(*c->waiting));
    c->nwaiting--;
}

const struct chain_waiting *chain_next(struct chain *c)
{
    while (c->nwaiting && is_stale(c, c->waiting[0].height))
        drop_at(c, 0);
    for (size_t i = 0; i < c->nwaiting; i++)
        if (memcmp(c->waiting[i].parent, c->head.hash, SDB_HASH_LEN) == 0)
            return &c->waiting[i];
    return NULL;
}

void chain_done_waiting(struct chain *c, uint64_t height)
{
    for (size_t i = 0; i < c->nwaiting; i++)
        if (c->waiting[i].height == height) {
            drop_at(c, i);
            return;
        }
}

bool chain_behind(struct chain *c)
{
    return c->nwaiting > 0 && !chain_next(c);
}
