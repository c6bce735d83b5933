/* Unit tests for the builder core: the mempool container and the plaintext_v1 plugin (every
 * pool rule, restore, decided blocks), deterministic selection (a property test) and proposal
 * validation (one test per rejection reason). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mp.h"
#include "lib/util.h"
#include "workers/builder/mempool.h"

#define NKEYS 40

static uint8_t lock[SHA256_LEN];
static struct node_key keys[NKEYS];
static uint8_t addr[NKEYS][ADDR_LEN];

/* The host's chain state: the next nonce per address (0 when absent). */
static struct {
    uint8_t from[NKEYS][ADDR_LEN];
    uint64_t next[NKEYS];
    size_t n;
} chain;

static uint64_t chain_nonce(void *ctx, const uint8_t from[TX_ADDR_LEN])
{
    (void)ctx;
    for (size_t i = 0; i < chain.n; i++)
        if (memcmp(chain.from[i], from, ADDR_LEN) == 0)
            return chain.next[i];
    return 0;
}

static void chain_set(int sender, uint64_t next)
{
    for (size_t i = 0; i < chain.n; i++) {
        if (memcmp(chain.from[i], addr[sender], ADDR_LEN) == 0) {
            chain.next[i] = next;
            return;
        }
    }
    memcpy(chain.from[chain.n], addr[sender], ADDR_LEN);
    chain.next[chain.n++] = next;
}

static const struct mempool_host host = {chain_nonce, NULL};

static void setup(void)
{
    memset(lock, 0x42, sizeof(lock));
    memset(&chain, 0, sizeof(chain));
    for (int i = 0; i < NKEYS; i++) {
        uint8_t sec[SECKEY_LEN];
        char seed[16];
        snprintf(seed, sizeof(seed), "key %d", i);
        sha256(sec, seed, strlen(seed));
        ck_assert_int_eq(node_key_from_secret(&keys[i], sec), 0);
        pubkey_address(keys[i].pub, addr[i]);
    }
}

static struct mempool_config small_cfg(void)
{
    struct mempool_config c = {
        .max_tx_data = 4096,
        .price_bump_pct = 10,
        .account_slots = 4,
        .account_queue = 4,
        .global_slots = 8,
        .global_queue = 4,
        .max_block_txs = 1000,
        .max_block_gas = 1000000000,
        .max_block_bytes = 1 << 20,
        .seed = 1,
    };
    memcpy(c.lock_hash, lock, SHA256_LEN);
    return c;
}

/* A tx of sender i; tag makes otherwise equal txs differ (it is the data). */
static struct tx *mk(int i, uint64_t nonce, uint64_t fee, uint8_t tag)
{
    return tx_plain_sign(lock, &keys[i], nonce, 1, fee, &tag, tag ? 1 : 0);
}

static struct mempool_outcome last;
static struct mempool_removed rm;

static enum mempool_result admit(struct mempool *mp, const struct tx *tx)
{
    return mempool_admit(mp, tx->wire, tx->wire_len, &last, &rm);
}

static void expect_state(struct mempool *mp, const struct tx *tx, enum mempool_state want)
{
    enum mempool_state st;
    const struct tx *found = mempool_find(mp, tx->hash, &st);
    ck_assert_ptr_nonnull(found);
    ck_assert_int_eq(st, want);
}

static void expect_gone(struct mempool *mp, const struct tx *tx)
{
    ck_assert_ptr_null(mempool_find(mp, tx->hash, NULL));
}

static void expect_size(struct mempool *mp, size_t pending, size_t queued)
{
    size_t p, q;
    mempool_size(mp, &p, &q);
    ck_assert_uint_eq(p, pending);
    ck_assert_uint_eq(q, queued);
}

static bool removed(const struct tx *tx, enum mempool_removal why)
{
    for (size_t i = 0; i < rm.n; i++)
        if (memcmp(rm.v[i].hash, tx->hash, SHA256_LEN) == 0)
            return rm.v[i].why == why;
    return false;
}

static void free_txs(struct tx **t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tx_free(t[i]);
}

/* ---- admission rules ---- */

START_TEST(names)
{
    static const char *const want[] = {"ok",          "future", "dup",     "replaced",
                                       "underpriced", "old",    "invalid", "full"};
    for (int i = 0; i < MEMPOOL_RESULT_COUNT; i++)
        ck_assert_str_eq(mempool_result_name((enum mempool_result)i), want[i]);
    ck_assert_ptr_null(mempool_result_name(MEMPOOL_RESULT_COUNT));
    ck_assert_str_eq(mempool_state_name(MEMPOOL_PENDING), "pending");
    ck_assert_str_eq(mempool_state_name(MEMPOOL_QUEUED), "queued");
}
END_TEST

START_TEST(old_and_next)
{
    struct mempool_config c = small_cfg();
    struct mempool *mp = mempool_new(&c, &host);
    chain_set(0, 5);
    struct tx *t[3] = {mk(0, 4, 10, 0), mk(0, 5, 10, 0), mk(0, 0, 10, 0)};
    ck_assert_int_eq(admit(mp, t[0]), MEMPOOL_OLD);
    ck_assert_int_eq(admit(mp, t[2]), MEMPOOL_OLD);
    ck_assert_int_eq(admit(mp, t[1]), MEMPOOL_OK);
    ck_assert_int_eq(last.state, MEMPOOL_PENDING);
    ck_assert(last.has_hash && memcmp(last.hash, t[1]->hash, SHA256_LEN) == 0);
    expect_gone(mp, t[0]);
    expect_state(mp, t[1], MEMPOOL_PENDING);
    /* an account the chain never saw starts at nonce 0 */
    struct tx *fresh = mk(1, 0, 1, 0);
    ck_assert_int_eq(admit(mp, fresh), MEMPOOL_OK);
    expect_size(mp, 2, 0);
    tx_free(fresh);
    free_txs(t, 3);
    mempool_free(mp);
}
END_TEST

START_TEST(dup)
{
    struct mempool_config c = small_cfg();
    struct mempool *mp = mempool_new(&c, &host);
    struct tx *a = mk(0, 0, 10, 0), *q = mk(0, 3, 10, 0);
    ck_assert_int_eq(admit(mp, a), MEMPOOL_OK);
    ck_assert_int_eq(admit(mp, a), MEMPOOL_DUP);
    ck_assert_int_eq(admit(mp, q), MEMPOOL_FUTURE);
    ck_assert_int_eq(admit(mp, q), MEMPOOL_DUP);
    expect_size(mp, 1, 1);
    ck_assert_uint_eq(rm.n, 0);
    tx_free(a);
    tx_free(q);
    mempool_free(mp);
}
END_TEST

START_TEST(future_and_promotion)
{
    struct mempool_config c = small_cfg();
    struct mempool *mp = mempool_new(&c, &host);
    struct tx *t[4] = {mk(0, 0, 1, 0), mk(0, 1, 1, 0), mk(0, 2, 1, 0), mk(0, 3, 1, 0)};
    ck_assert_int_eq(admit(mp, t[3]), MEMPOOL_FUTURE);
    ck_assert_int_eq(last.state, MEMPOOL_QUEUED);
    ck_assert_int_eq(admit(mp, t[1]), MEMPOOL_FUTURE);
    expect_size(mp, 0, 2);
    expect_state(mp, t[1], MEMPOOL_QUEUED);
    /* nonce 0 fills the gap: 1 becomes contiguous and is promoted; 3 still waits for 2 */
    ck_assert_int_eq(admit(mp, t[0]), MEMPOOL_OK);
    expect_size(mp, 2, 1);
    expect_state(mp, t[1], MEMPOOL_PENDING);
    expect_state(mp, t[3], MEMPOOL_QUEUED);
    ck_assert_int_eq(admit(mp, t[2]), MEMPOOL_OK);
    expect_size(mp, 4, 0);
    expect_state(mp, t[3], MEMPOOL_PENDING);
    free_txs(t, 4);
    mempool_free(mp);
}
END_TEST

START_TEST(replacement_and_underpriced)
{
    struct mempool_config c = small_cfg();
    struct mempool *mp = mempool_new(&c, &host);
    struct tx *base = mk(0, 0, 100, 0);
    struct tx *same_fee = mk(0, 0, 100, 1), *lower = mk(0, 0, 50, 2);
    struct tx *plus9 = mk(0, 0, 109, 3), *plus10 = mk(0, 0, 110, 4);
    ck_assert_int_eq(admit(mp, base), MEMPOOL_OK);
    ck_assert_int_eq(admit(mp, same_fee), MEMPOOL_DUP);
    ck_assert_int_eq(admit(mp, lower), MEMPOOL_DUP);
    ck_assert_int_eq(admit(mp, plus9), MEMPOOL_UNDERPRICED);
    ck_assert_uint_eq(rm.n, 0);
    ck_assert_int_eq(admit(mp, plus10), MEMPOOL_REPLACED);
    ck_assert_int_eq(last.state, MEMPOOL_PENDING);
    ck_assert(removed(base, MEMPOOL_RM_REPLACED));
    expect_gone(mp, base);
    expect_state(mp, plus10, MEMPOOL_PENDING);
    expect_size(mp, 1, 0);
    /* a queued tx is replaced in place and stays queued */
    struct tx *q = mk(0, 5, 1000, 0), *q2 = mk(0, 5, 1100, 1);
    ck_assert_int_eq(admit(mp, q), MEMPOOL_FUTURE);
    ck_assert_int_eq(admit(mp, q2), MEMPOOL_REPLACED);
    ck_assert_int_eq(last.state, MEMPOOL_QUEUED);
    ck_assert(removed(q, MEMPOOL_RM_REPLACED));
    expect_size(mp, 1, 1);
    /* the bump is computed without overflow at the top of the range */
    struct tx *huge = mk(1, 0, UINT64_MAX - 1, 0), *huge2 = mk(1, 0, UINT64_MAX, 0);
    ck_assert_int_eq(admit(mp, huge), MEMPOOL_OK);
    ck_assert_int_eq(admit(mp, huge2), MEMPOOL_UNDERPRICED);
    free_txs((struct tx *[]){base, same_fee, lower, plus9, plus10, q, q2, huge, huge2}, 9);
    mempool_free(mp);

    /* price_bump_pct 0: any higher fee replaces */
    c.price_bump_pct = 0;
    mp = mempool_new(&c, &host);
    struct tx *x = mk(2, 0, 100, 0), *y = mk(2, 0, 101, 1);
    ck_assert_int_eq(admit(mp, x), MEMPOOL_OK);
    ck_assert_int_eq(admit(mp, y), MEMPOOL_REPLACED);
    tx_free(x);
    tx_free(y);
    mempool_free(mp);
}
END_TEST

START_TEST(per_sender_caps)
{
    struct mempool_config c = small_cfg(); /* 4 pending, 4 queued per sender */
    struct mempool *mp = mempool_new(&c, &host);
    struct tx *t[10];
    for (int i = 0; i < 10; i++)
        t[i] = mk(0, (uint64_t)(i < 5 ? i : i + 5), 1000, 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(admit(mp, t[i]), MEMPOOL_OK);
    /* the next nonce, but the sender has account_slots pending: full, nothing evicted */
    ck_assert_int_eq(admit(mp, t[4]), MEMPOOL_FULL);
    for (int i = 5; i < 9; i++)
        ck_assert_int_eq(admit(mp, t[i]), MEMPOOL_FUTURE);
    ck_assert_int_eq(admit(mp, t[9]), MEMPOOL_FULL);
    expect_size(mp, 4, 4);
    ck_assert_uint_eq(rm.n, 0);
    free_txs(t, 10);
    mempool_free(mp);
}
END_TEST

START_TEST(global_pending_eviction)
{
    struct mempool_config c = small_cfg(); /* 8 pending in all */
    struct mempool *mp = mempool_new(&c, &host);
    struct tx *t[8];
    for (int i = 0; i < 8; i++) {
        t[i] = mk(i, 0, (uint64_t)(10 * (i + 1)), 0); /* fees 10..80 */
        ck_assert_int_eq(admit(mp, t[i]), MEMPOOL_OK);
    }
    struct tx *cheap = mk(8, 0, 5, 0), *equal = mk(8, 0, 10, 1), *better = mk(8, 0, 15, 2);
    ck_assert_int_eq(admit(mp, cheap), MEMPOOL_FULL);
    ck_assert_int_eq(admit(mp, equal), MEMPOOL_FULL); /* must pay strictly more */
    ck_assert_uint_eq(rm.n, 0);
    ck_assert_int_eq(admit(mp, better), MEMPOOL_OK);
    ck_assert(removed(t[0], MEMPOOL_RM_EVICTED));
    expect_gone(mp, t[0]);
    expect_size(mp, 8, 0);
    /* ties on the lowest fee: the higher address goes first */
    struct mempool_config c2 = small_cfg();
    c2.global_slots = 2;
    struct mempool *m2 = mempool_new(&c2, &host);
    struct tx *u = mk(10, 0, 7, 0), *v = mk(11, 0, 7, 0), *w = mk(12, 0, 8, 0);
    ck_assert_int_eq(admit(m2, u), MEMPOOL_OK);
    ck_assert_int_eq(admit(m2, v), MEMPOOL_OK);
    rm.n = 0;
    ck_assert_int_eq(admit(m2, w), MEMPOOL_OK);
    const struct tx *high = memcmp(addr[10], addr[11], ADDR_LEN) > 0 ? u : v;
    const struct tx *low = high == u ? v : u;
    ck_assert(removed(high, MEMPOOL_RM_EVICTED));
    expect_state(m2, low, MEMPOOL_PENDING);
    free_txs(t, 8);
    free_txs((struct tx *[]){cheap, equal, better, u, v, w}, 6);
    mempool_free(m2);
    mempool_free(mp);
}
END_TEST

START_TEST(eviction_only_takes_tails)
{
    struct mempool_config c = small_cfg();
    c.global_slots = 3;
    struct mempool *mp = mempool_new(&c, &host);
    /* X: nonce 0 pays 1, nonce 1 pays 100 (it depends on nonce 0); Y: nonce 0 pays 60 */
    struct tx *x0 = mk(0, 0, 1, 0), *x1 = mk(0, 1, 100, 0), *y0 = mk(1, 0, 60, 0);
    struct tx *z50 = mk(2, 0, 50, 0), *z70 = mk(2, 0, 70, 1);
    ck_assert_int_eq(admit(mp, x0), MEMPOOL_OK);
    ck_assert_int_eq(admit(mp, x1), MEMPOOL_OK);
    ck_assert_int_eq(admit(mp, y0), MEMPOOL_OK);
    /* x0 is the cheapest tx but x1 depends on it: the candidates are x1 (100) and y0 (60) */
    ck_assert_int_eq(admit(mp, z50), MEMPOOL_FULL);
    expect_state(mp, x0, MEMPOOL_PENDING);
    ck_assert_int_eq(admit(mp, z70), MEMPOOL_OK);
    ck_assert(removed(y0, MEMPOOL_RM_EVICTED));
    expect_state(mp, x0, MEMPOOL_PENDING);
    expect_state(mp, x1, MEMPOOL_PENDING);
    free_txs((struct tx *[]){x0, x1, y0, z50, z70}, 5);
    mempool_free(mp);
}
END_TEST

START_TEST(own_sender_never_evicted)
{
    struct mempool_config c = small_cfg();
    c.global_slots = 2;
    struct mempool *mp = mempool_new(&c, &host);
    struct tx *a0 = mk(0, 0, 1, 0), *b0 = mk(1, 0, 100, 0), *a1 = mk(0, 1, 50, 0);
    ck_assert_int_eq(admit(mp, a0), MEMPOOL_OK);
    ck_assert_int_eq(admit(mp, b0), MEMPOOL_OK);
    /* a0 is cheaper, but a1 needs it: only b0 (100) is a candidate, and 50 does not beat it */
    ck_assert_int_eq(admit(mp, a1), MEMPOOL_FULL);
    expect_size(mp, 2, 0);
    free_txs((struct tx *[]){a0, b0, a1}, 3);
    mempool_free(mp);
}
END_TEST

START_TEST(queued_never_evicts_pending)
{
    struct mempool_config c = small_cfg(); /* 8 pending, 4 queued in all */
    struct mempool *mp = mempool_new(&c, &host);
    struct tx *p[8], *q[4];
    for (int i = 0; i < 8; i++) { /* cheap pending txs of senders 0..7 */
        p[i] = mk(i, 0, 1, 0);
        ck_assert_int_eq(admit(mp, p[i]), MEMPOOL_OK);
    }
    for (int i = 0; i < 4; i++) { /* queued txs paying 50 of senders 8..11 */
        q[i] = mk(8 + i, 5, 50, 0);
        ck_assert_int_eq(admit(mp, q[i]), MEMPOOL_FUTURE);
    }
    /* a rich queued newcomer: the pending cheap txs are out of its reach */
    struct tx *rich_low = mk(20, 9, 40, 0), *rich = mk(20, 9, 1000, 1);
    ck_assert_int_eq(admit(mp, rich_low), MEMPOOL_FULL);
    expect_size(mp, 8, 4);
    ck_assert_int_eq(admit(mp, rich), MEMPOOL_FUTURE);
    expect_size(mp, 8, 4);
    for (int i = 0; i < 8; i++)
        expect_state(mp, p[i], MEMPOOL_PENDING);
    ck_assert_uint_eq(rm.n, 1);
    ck_assert_int_eq(rm.v[0].why, MEMPOOL_RM_EVICTED);
    /* a sender with queued txs is no pending candidate even if its pending tx is cheap */
    struct mempool_config c2 = small_cfg();
    c2.global_slots = 2;
    struct mempool *m2 = mempool_new(&c2, &host);
    struct tx *a0 = mk(0, 0, 1, 0), *a5 = mk(0, 5, 1, 0), *b0 = mk(1, 0, 90, 0);
    struct tx *c0 = mk(2, 0, 50, 0);
    ck_assert_int_eq(admit(m2, a0), MEMPOOL_OK);
    ck_assert_int_eq(admit(m2, a5), MEMPOOL_FUTURE);
    ck_assert_int_eq(admit(m2, b0), MEMPOOL_OK);
    ck_assert_int_eq(admit(m2, c0), MEMPOOL_FULL); /* only b0 (90) could go */
    free_txs(p, 8);
    free_txs(q, 4);
    free_txs((struct tx *[]){rich_low, rich, a0, a5, b0, c0}, 6);
    mempool_free(m2);
    mempool_free(mp);
}
END_TEST

START_TEST(invalid_transactions)
{
    struct mempool_config c = small_cfg();
    c.max_block_gas = 1000;
    struct mempool *mp = mempool_new(&c, &host);
    struct tx *good = mk(0, 0, 1, 0);
    uint8_t sig[TX_SIG_LEN];
    memcpy(sig, good->sig, TX_SIG_LEN);
    sig[10] ^= 1;
    struct tx *bad = tx_plain_new(lock, good->from, 0, 1, 1, NULL, 0, sig);
    ck_assert_int_eq(admit(mp, bad), MEMPOOL_INVALID);
    ck_assert_int_eq(last.err.code, TX_ERR_BAD_SIGNATURE);
    ck_assert(last.has_hash);
    struct tx *heavy = tx_plain_sign(lock, &keys[0], 0, 1001, 1, NULL, 0);
    ck_assert_int_eq(admit(mp, heavy), MEMPOOL_INVALID);
    ck_assert_int_eq(last.err.code, TX_ERR_INVALID_TX);
    ck_assert_str_eq(last.err.detail, "gas: above max_block_gas");
    struct tx *last_nonce = mk(1, UINT64_MAX, 1, 0);
    ck_assert_int_eq(admit(mp, last_nonce), MEMPOOL_INVALID);
    ck_assert_int_eq(last.err.code, TX_ERR_INVALID_TX);
    /* another lock's tx: its signature is over other bytes */
    uint8_t other[SHA256_LEN] = {1};
    struct tx *foreign = tx_plain_sign(other, &keys[0], 0, 1, 1, NULL, 0);
    ck_assert_int_eq(admit(mp, foreign), MEMPOOL_INVALID);
    ck_assert_int_eq(last.err.code, TX_ERR_BAD_SIGNATURE);
    /* bytes of an unknown type, and garbage */
    struct buf w = BUF_INIT;
    mp_w_array(&w, 2);
    mp_w_uint(&w, 9);
    mp_w_nil(&w);
    ck_assert_int_eq(mempool_admit(mp, w.data, w.len, &last, &rm), MEMPOOL_INVALID);
    ck_assert_str_eq(last.err.detail, "unknown tx type");
    ck_assert(!last.has_hash);
    ck_assert_int_eq(mempool_admit(mp, (const uint8_t *)"\xc1", 1, &last, &rm), MEMPOOL_INVALID);
    ck_assert_int_eq(mempool_admit(mp, (const uint8_t *)"", 0, &last, &rm), MEMPOOL_INVALID);
    /* data above max_tx_data */
    c.max_tx_data = 0;
    struct mempool *strict = mempool_new(&c, &host);
    struct tx *with_data = mk(0, 0, 1, 7);
    ck_assert_int_eq(admit(strict, with_data), MEMPOOL_INVALID);
    ck_assert_int_eq(last.err.code, TX_ERR_TOO_LARGE);
    expect_size(mp, 0, 0);
    buf_free(&w);
    free_txs((struct tx *[]){good, bad, heavy, last_nonce, foreign, with_data}, 6);
    mempool_free(strict);
    mempool_free(mp);
}
END_TEST

/* ---- the chain moving on ---- */

static void block_of(struct buf *out, uint64_t height, struct tx **txs, size_t n)
{
    struct block_header h = {.height = height};
    block_encode_begin(out, &h, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        block_encode_tx(out, txs[i]->wire, txs[i]->wire_len);
}

START_TEST(decided_block_prunes)
{
    struct mempool_config c = small_cfg();
    struct mempool *mp = mempool_new(&c, &host);
    struct tx *a[5] = {mk(0, 0, 5, 0), mk(0, 1, 5, 0), mk(0, 2, 5, 0), mk(0, 3, 5, 0),
                       mk(0, 4, 5, 0)};
    struct tx *b0 = mk(1, 0, 5, 0), *b0_other = mk(1, 0, 9, 1);
    ck_assert_int_eq(admit(mp, a[0]), MEMPOOL_OK);
    ck_assert_int_eq(admit(mp, a[1]), MEMPOOL_OK);
    ck_assert_int_eq(admit(mp, a[2]), MEMPOOL_OK);
    ck_assert_int_eq(admit(mp, a[4]), MEMPOOL_FUTURE);
    ck_assert_int_eq(admit(mp, b0), MEMPOOL_OK);
    /* decided: a0, a1 (ours) and b's nonce 0 from another node's pool */
    struct buf blk = BUF_INIT;
    block_of(&blk, 1, (struct tx *[]){a[0], a[1], b0_other}, 3);
    chain_set(0, 2);
    chain_set(1, 1);
    rm.n = 0;
    ck_assert_int_eq(mempool_on_decided(mp, blk.data, blk.len, &rm), 0);
    ck_assert(removed(a[0], MEMPOOL_RM_INCLUDED));
    ck_assert(removed(a[1], MEMPOOL_RM_INCLUDED));
    ck_assert(removed(b0, MEMPOOL_RM_OLD));
    ck_assert_uint_eq(rm.n, 3);
    expect_size(mp, 1, 1);
    ck_assert_int_eq(admit(mp, a[3]), MEMPOOL_OK); /* promotes a4 */
    expect_size(mp, 3, 0);
    expect_state(mp, a[4], MEMPOOL_PENDING);
    /* the pool advances past a block's nonces even if the host has not yet */
    struct buf blk2 = BUF_INIT;
    block_of(&blk2, 2, (struct tx *[]){a[2], a[3]}, 2);
    rm.n = 0;
    ck_assert_int_eq(mempool_on_decided(mp, blk2.data, blk2.len, &rm), 0);
    expect_size(mp, 1, 0);
    expect_state(mp, a[4], MEMPOOL_PENDING);
    ck_assert_int_eq(mempool_on_decided(mp, blk2.data, blk2.len - 1, &rm), -1);
    buf_free(&blk);
    buf_free(&blk2);
    free_txs(a, 5);
    free_txs((struct tx *[]){b0, b0_other}, 2);
    mempool_free(mp);
}
END_TEST

START_TEST(waiting_promotion_after_decided)
{
    struct mempool_config c = small_cfg();
    c.global_slots = 3;
    struct mempool *mp = mempool_new(&c, &host);
    struct tx *a0 = mk(0, 0, 50, 0), *a1 = mk(0, 1, 50, 0), *a2 = mk(0, 2, 100, 0);
    struct tx *b0 = mk(1, 0, 1, 0), *c0 = mk(2, 0, 100, 0);
    ck_assert_int_eq(admit(mp, a0), MEMPOOL_OK);
    ck_assert_int_eq(admit(mp, b0), MEMPOOL_OK);
    ck_assert_int_eq(admit(mp, c0), MEMPOOL_OK);
    ck_assert_int_eq(admit(mp, a2), MEMPOOL_FUTURE);
    /* a1 evicts b0 (fee 1), becomes pending, and a2 finds no global slot: it waits queued */
    ck_assert_int_eq(admit(mp, a1), MEMPOOL_OK);
    ck_assert(removed(b0, MEMPOOL_RM_EVICTED));
    expect_size(mp, 3, 1);
    expect_state(mp, a2, MEMPOOL_QUEUED);
    struct buf blk = BUF_INIT;
    block_of(&blk, 1, &c0, 1);
    chain_set(2, 1);
    ck_assert_int_eq(mempool_on_decided(mp, blk.data, blk.len, &rm), 0);
    expect_size(mp, 3, 0);
    expect_state(mp, a2, MEMPOOL_PENDING);
    buf_free(&blk);
    free_txs((struct tx *[]){a0, a1, a2, b0, c0}, 5);
    mempool_free(mp);
}
END_TEST

/* ---- restore ---- */

struct stored {
    struct tx *tx;
    bool live;
};

static void store_apply(struct stored *s, size_t n)
{
    for (size_t k = 0; k < rm.n; k++)
        for (size_t i = 0; i < n; i++)
            if (memcmp(s[i].tx->hash, rm.v[k].hash, SHA256_LEN) == 0)
                s[i].live = false;
    rm.n = 0;
}

START_TEST(restore_same_pool)
{
    struct mempool_config c = small_cfg();
    c.global_slots = 100;
    c.global_queue = 100;
    struct mempool *mp = mempool_new(&c, &host);
    struct stored st[64];
    size_t n = 0;
    chain_set(3, 2);
    /* pending, queued, replaced, gaps, several senders */
    static const struct {
        int sender;
        uint64_t nonce, fee;
    } plan[] = {{0, 0, 5}, {0, 1, 5},  {0, 3, 5},  {1, 4, 9},  {1, 0, 9},  {2, 0, 1},
                {2, 0, 3}, {3, 2, 4},  {3, 3, 4},  {3, 7, 4},  {4, 1, 1},  {4, 2, 1},
                {0, 2, 5}, {5, 0, 10}, {5, 1, 10}, {5, 2, 10}, {5, 3, 10}, {5, 4, 10}};
    for (size_t i = 0; i < ARRAY_LEN(plan); i++) {
        struct tx *tx = mk(plan[i].sender, plan[i].nonce, plan[i].fee, (uint8_t)i);
        enum mempool_result r = admit(mp, tx);
        st[n++] =
            (struct stored){tx, r == MEMPOOL_OK || r == MEMPOOL_FUTURE || r == MEMPOOL_REPLACED};
        store_apply(st, n);
    }
    /* restore in reverse order into a pool with another seed */
    struct mempool_config c2 = c;
    c2.seed = 99;
    struct mempool *back = mempool_new(&c2, &host);
    for (size_t i = n; i-- > 0;)
        if (st[i].live)
            ck_assert_int_eq(mempool_restore(back, st[i].tx->wire, st[i].tx->wire_len, &rm), 0);
    mempool_restore_done(back, &rm);
    ck_assert_uint_eq(rm.n, 0);
    size_t p1, q1, p2, q2;
    mempool_size(mp, &p1, &q1);
    mempool_size(back, &p2, &q2);
    ck_assert_uint_eq(p1, p2);
    ck_assert_uint_eq(q1, q2);
    for (size_t i = 0; i < n; i++) {
        enum mempool_state s1, s2;
        const struct tx *f1 = mempool_find(mp, st[i].tx->hash, &s1);
        const struct tx *f2 = mempool_find(back, st[i].tx->hash, &s2);
        ck_assert_int_eq(f1 != NULL, st[i].live);
        ck_assert_int_eq(f2 != NULL, st[i].live);
        if (f1)
            ck_assert_int_eq(s1, s2);
    }
    struct buf b1 = BUF_INIT, b2 = BUF_INIT;
    struct block_header h = {.height = 1};
    mempool_build(mp, &h, &b1, NULL);
    mempool_build(back, &h, &b2, NULL);
    ck_assert_uint_eq(b1.len, b2.len);
    ck_assert(memcmp(b1.data, b2.data, b1.len) == 0);

    /* restoring after the chain moved: what is below it is reported old */
    chain_set(0, 2);
    struct mempool *later = mempool_new(&c, &host);
    for (size_t i = 0; i < n; i++)
        if (st[i].live)
            mempool_restore(later, st[i].tx->wire, st[i].tx->wire_len, &rm);
    mempool_restore_done(later, &rm);
    ck_assert_uint_eq(rm.n, 2);
    ck_assert_int_eq(rm.v[0].why, MEMPOOL_RM_OLD);
    /* bytes that no longer decode (max_tx_data lowered) are for the host to delete */
    struct mempool_config c3 = c;
    c3.max_tx_data = 0;
    struct mempool *strict = mempool_new(&c3, &host);
    ck_assert_int_eq(mempool_restore(strict, st[1].tx->wire, st[1].tx->wire_len, &rm), -1);
    buf_free(&b1);
    buf_free(&b2);
    for (size_t i = 0; i < n; i++)
        tx_free(st[i].tx);
    mempool_free(strict);
    mempool_free(later);
    mempool_free(back);
    mempool_free(mp);
}
END_TEST

START_TEST(restore_trims_to_caps)
{
    struct mempool_config big = small_cfg();
    big.account_queue = 10;
    big.global_queue = 10;
    struct mempool *mp = mempool_new(&big, &host);
    struct tx *t[8];
    for (int i = 0; i < 8; i++) { /* sender 0: queued nonces 1..6; sender 1: queued 1, 2 */
        t[i] = i < 6 ? mk(0, (uint64_t)i + 1, (uint64_t)(10 + i), 0) : mk(1, (uint64_t)i - 5, 1, 0);
        ck_assert_int_eq(admit(mp, t[i]), MEMPOOL_FUTURE);
    }
    /* the operator lowered the caps: 4 queued per sender, 5 in all */
    struct mempool_config c = small_cfg();
    c.global_queue = 5;
    struct mempool *back = mempool_new(&c, &host);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(mempool_restore(back, t[i]->wire, t[i]->wire_len, &rm), 0);
    mempool_restore_done(back, &rm);
    /* sender 0 loses nonces 5, 6 (per-sender cap); then the cheapest queued tail, sender 1's
     * nonce 2 (fee 1), goes for the global cap */
    expect_size(back, 0, 5);
    ck_assert(removed(t[4], MEMPOOL_RM_EVICTED));
    ck_assert(removed(t[5], MEMPOOL_RM_EVICTED));
    ck_assert(removed(t[7], MEMPOOL_RM_EVICTED));
    ck_assert_uint_eq(rm.n, 3);
    free_txs(t, 8);
    mempool_free(back);
    mempool_free(mp);
}
END_TEST

/* ---- selection ---- */

static uint64_t rnd_state;

static uint64_t rnd(void)
{
    rnd_state = rnd_state * 6364136223846793005ull + 1442695040888963407ull;
    return rnd_state >> 33;
}

/* A random pool: for each of nsenders senders, a chain nonce and a few txs with fees from a
 * small range (ties happen), some with gaps (those stay queued). */
static size_t random_txs(struct tx **out, size_t max, int nsenders)
{
    size_t n = 0;
    for (int s = 0; s < nsenders; s++) {
        uint64_t base = rnd() % 3;
        chain_set(s, base);
        int k = (int)(rnd() % 7);
        uint64_t shift = 0;
        for (int j = 0; j < k && n < max; j++) {
            shift += rnd() % 8 == 0 ? 2 : 0; /* a gap: this one and the rest stay queued */
            out[n++] = mk(s, base + (uint64_t)j + shift, 1 + rnd() % 5, (uint8_t)j);
        }
    }
    return n;
}

static void shuffle(struct tx **t, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rnd() % i;
        struct tx *x = t[i - 1];
        t[i - 1] = t[j];
        t[j] = x;
    }
}

static struct mempool_config roomy_cfg(uint64_t seed)
{
    struct mempool_config c = small_cfg();
    c.account_slots = c.account_queue = 100;
    c.global_slots = c.global_queue = 10000;
    c.seed = seed;
    return c;
}

/* Decode the block's txs (they stay in the block buffer's order). */
static size_t block_txs(const struct buf *b, struct tx **out, size_t max)
{
    struct block d;
    ck_assert_int_eq(block_decode(&d, b->data, b->len, (uint32_t)max), BLOCK_DECODE_OK);
    for (uint32_t i = 0; i < d.ntxs; i++)
        ck_assert_int_eq(tx_decode(d.txs[i].p, d.txs[i].len, 4096, lock, &out[i], NULL), 0);
    size_t n = d.ntxs;
    block_free(&d);
    return n;
}

START_TEST(selection_property)
{
    rnd_state = 12345;
    for (int round = 0; round < 25; round++) {
        struct tx *t[NKEYS * 7];
        memset(&chain, 0, sizeof(chain));
        size_t n = random_txs(t, ARRAY_LEN(t), 12);
        struct buf blocks[3] = {BUF_INIT, BUF_INIT, BUF_INIT};
        struct mempool *pools[3];
        for (int k = 0; k < 3; k++) {
            struct mempool_config c = roomy_cfg((uint64_t)k * 7919 + 1);
            pools[k] = mempool_new(&c, &host);
            shuffle(t, n);
            for (size_t i = 0; i < n; i++)
                admit(pools[k], t[i]);
            struct block_header h = {.height = 7, .proposer = 1};
            mempool_build(pools[k], &h, &blocks[k], NULL);
        }
        /* byte-identical whatever the insertion order and hash seeds */
        for (int k = 1; k < 3; k++) {
            ck_assert_uint_eq(blocks[k].len, blocks[0].len);
            ck_assert(memcmp(blocks[k].data, blocks[0].data, blocks[0].len) == 0);
        }
        struct tx *sel[NKEYS * 7];
        size_t m = block_txs(&blocks[0], sel, ARRAY_LEN(sel));
        size_t pending, queued;
        mempool_size(pools[0], &pending, &queued);
        ck_assert_uint_eq(m, pending); /* no cap binds: every pending tx is in */
        /* per sender: nonces consecutive from the chain nonce; the chosen head always pays at
         * least every other sender's head (ties: lower address first) */
        uint64_t next[NKEYS];
        for (int s = 0; s < NKEYS; s++)
            next[s] = chain_nonce(NULL, addr[s]);
        for (size_t i = 0; i < m; i++) {
            int s = 0;
            while (memcmp(addr[s], sel[i]->from, ADDR_LEN) != 0)
                s++;
            ck_assert_uint_eq(sel[i]->nonce, next[s]);
            /* heads at step i: for every other sender, its first tx not yet taken */
            for (size_t j = i + 1; j < m; j++) {
                int o = 0;
                while (memcmp(addr[o], sel[j]->from, ADDR_LEN) != 0)
                    o++;
                if (o == s || sel[j]->nonce != next[o])
                    continue;
                ck_assert(sel[j]->fee < sel[i]->fee ||
                          (sel[j]->fee == sel[i]->fee &&
                           memcmp(sel[i]->from, sel[j]->from, ADDR_LEN) < 0));
            }
            next[s]++;
        }
        /* with caps, the block is the longest prefix of the uncapped order that fits */
        struct mempool_config capped = roomy_cfg(5);
        capped.max_block_txs = m / 2 + 1;
        capped.max_block_gas = m / 3 + 1; /* every tx has gas 1 */
        struct mempool *cp = mempool_new(&capped, &host);
        for (size_t i = 0; i < n; i++)
            admit(cp, t[i]);
        struct buf cb = BUF_INIT;
        struct block_header h = {.height = 7, .proposer = 1};
        struct mempool_build_info info;
        mempool_build(cp, &h, &cb, &info);
        struct tx *pre[NKEYS * 7];
        size_t pn = block_txs(&cb, pre, ARRAY_LEN(pre));
        size_t want = m;
        if (want > capped.max_block_txs)
            want = capped.max_block_txs;
        if (want > capped.max_block_gas)
            want = capped.max_block_gas;
        ck_assert_uint_eq(pn, want);
        ck_assert_uint_eq(info.txs, pn);
        ck_assert_uint_eq(info.gas, pn);
        ck_assert_uint_eq(info.bytes, cb.len);
        for (size_t i = 0; i < pn; i++)
            ck_assert(memcmp(pre[i]->hash, sel[i]->hash, SHA256_LEN) == 0);
        free_txs(pre, pn);
        buf_free(&cb);
        mempool_free(cp);
        free_txs(sel, m);
        for (int k = 0; k < 3; k++) {
            buf_free(&blocks[k]);
            mempool_free(pools[k]);
        }
        free_txs(t, n);
    }
}
END_TEST

START_TEST(selection_stops_at_byte_cap)
{
    /* three senders; the highest fee tx is large: the block stops there although smaller ones
     * would fit after it */
    struct mempool_config c = roomy_cfg(1);
    struct tx *small1 = mk(0, 0, 30, 1), *big = NULL, *small2 = mk(2, 0, 10, 1);
    uint8_t data[2000] = {0};
    big = tx_plain_sign(lock, &keys[1], 0, 1, 20, data, sizeof(data));
    struct block_header h = {.height = 3};
    struct block_budget probe;
    block_budget_init(&probe, &c, &h);
    block_budget_take(&probe, small1->wire_len, 1);
    /* room for small2 after small1, not for big (which alone fits an empty block) */
    c.max_block_bytes = probe.bytes + block_tx_item_size(big->wire_len) - 1;
    struct mempool *mp = mempool_new(&c, &host);
    ck_assert_int_eq(admit(mp, small1), MEMPOOL_OK);
    ck_assert_int_eq(admit(mp, big), MEMPOOL_OK);
    ck_assert_int_eq(admit(mp, small2), MEMPOOL_OK);
    struct buf b = BUF_INIT;
    struct mempool_build_info info;
    mempool_build(mp, &h, &b, &info);
    ck_assert_uint_eq(info.txs, 1);
    ck_assert_uint_eq(b.len, probe.bytes);
    ck_assert_uint_le(b.len, c.max_block_bytes);
    buf_free(&b);
    free_txs((struct tx *[]){small1, big, small2}, 3);
    mempool_free(mp);
}
END_TEST

START_TEST(budget_matches_encoding)
{
    struct mempool_config c = roomy_cfg(1);
    struct tx *t[20];
    struct block_header h = {.height = 300, .proposer = 5};
    struct block_budget b;
    block_budget_init(&b, &c, &h);
    struct buf enc = BUF_INIT;
    for (uint32_t n = 0; n < 20; n++) {
        uint8_t data[300] = {0};
        t[n] = tx_plain_sign(lock, &keys[n], 0, 1, 1, data, n * 29 % 300);
        buf_reset(&enc);
        block_encode_begin(&enc, &h, n);
        for (uint32_t i = 0; i < n; i++)
            block_encode_tx(&enc, t[i]->wire, t[i]->wire_len);
        ck_assert_uint_eq(b.bytes, enc.len);
        block_budget_take(&b, t[n]->wire_len, 1);
    }
    buf_free(&enc);
    free_txs(t, 20);
}
END_TEST

/* ---- proposal validation ---- */

struct vctx {
    struct mempool_config cfg;
    struct block_expect e;
    struct block_header h;
};

static void vctx_init(struct vctx *v)
{
    v->cfg = roomy_cfg(3);
    memset(&v->e, 0, sizeof(v->e));
    memset(v->e.parent_hash, 0xaa, SHA256_LEN);
    v->e.parent_height = 10;
    v->e.height = 12;
    v->e.operators = 4;
    v->h = (struct block_header){.height = 12, .proposer = 3};
    memcpy(v->h.parent_hash, v->e.parent_hash, SHA256_LEN);
}

static enum block_reject validate_txs(struct vctx *v, struct tx **txs, size_t n)
{
    struct buf b = BUF_INIT;
    block_encode_begin(&b, &v->h, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        block_encode_tx(&b, txs[i]->wire, txs[i]->wire_len);
    struct mempool *mp = mempool_new(&v->cfg, &host);
    enum block_reject r = mempool_validate_block(mp, b.data, b.len, &v->e);
    mempool_free(mp);
    buf_free(&b);
    return r;
}

START_TEST(validate_accepts_built_block)
{
    struct vctx v;
    vctx_init(&v);
    chain_set(1, 3);
    struct tx *t[6] = {mk(0, 0, 5, 0), mk(0, 1, 50, 0), mk(1, 3, 7, 0),
                       mk(1, 4, 7, 0), mk(2, 0, 7, 0),  mk(2, 1, 1, 0)};
    struct mempool *leader = mempool_new(&v.cfg, &host);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(admit(leader, t[i]), MEMPOOL_OK);
    struct buf b = BUF_INIT;
    mempool_build(leader, &v.h, &b, NULL);
    /* a node with an empty pool verifies every signature; the leader's own pool skips them */
    struct mempool *other = mempool_new(&v.cfg, &host);
    ck_assert_int_eq(mempool_validate_block(other, b.data, b.len, &v.e), BLOCK_OK);
    ck_assert_int_eq(mempool_validate_block(leader, b.data, b.len, &v.e), BLOCK_OK);
    /* e.height 0 accepts any height above the parent's */
    v.e.height = 0;
    ck_assert_int_eq(mempool_validate_block(other, b.data, b.len, &v.e), BLOCK_OK);
    /* an empty block is valid too */
    buf_reset(&b);
    block_encode_begin(&b, &v.h, 0);
    ck_assert_int_eq(mempool_validate_block(other, b.data, b.len, &v.e), BLOCK_OK);
    buf_free(&b);
    free_txs(t, 6);
    mempool_free(other);
    mempool_free(leader);
}
END_TEST

START_TEST(reject_header_reasons)
{
    struct vctx v;
    vctx_init(&v);
    struct tx *a = mk(0, 0, 5, 0);
    ck_assert_int_eq(validate_txs(&v, &a, 1), BLOCK_OK);
    struct vctx w = v;
    w.cfg.max_block_bytes = 60;
    ck_assert_int_eq(validate_txs(&w, &a, 1), BLOCK_REJECT_TOO_MANY_BYTES);
    w = v;
    w.cfg.max_block_txs = 1;
    struct tx *two[2] = {a, mk(1, 0, 5, 0)};
    ck_assert_int_eq(validate_txs(&w, two, 2), BLOCK_REJECT_TOO_MANY_TXS);
    w = v;
    w.h.height = 11; /* above the parent, but not the instance's height */
    ck_assert_int_eq(validate_txs(&w, &a, 1), BLOCK_REJECT_HEIGHT);
    w = v;
    w.e.height = 0;
    w.h.height = 10; /* not above the parent */
    ck_assert_int_eq(validate_txs(&w, &a, 1), BLOCK_REJECT_HEIGHT);
    w = v;
    w.h.parent_hash[31] ^= 1;
    ck_assert_int_eq(validate_txs(&w, &a, 1), BLOCK_REJECT_PARENT);
    w = v;
    w.h.proposer = 4;
    ck_assert_int_eq(validate_txs(&w, &a, 1), BLOCK_REJECT_PROPOSER);
    struct mempool *mp = mempool_new(&v.cfg, &host);
    ck_assert_int_eq(mempool_validate_block(mp, (const uint8_t *)"\x94\x01", 2, &v.e),
                     BLOCK_REJECT_DECODE);
    ck_assert_int_eq(mempool_validate_block(mp, (const uint8_t *)"", 0, &v.e), BLOCK_REJECT_DECODE);
    mempool_free(mp);
    tx_free(two[1]);
    tx_free(a);
}
END_TEST

START_TEST(reject_tx_reasons)
{
    struct vctx v;
    vctx_init(&v);
    struct mempool *mp = mempool_new(&v.cfg, &host);
    struct tx *a = mk(0, 0, 5, 0);
    struct buf b = BUF_INIT, item = BUF_INIT;
    /* a tx of an unknown type */
    mp_w_array(&item, 2);
    mp_w_uint(&item, 7);
    mp_w_nil(&item);
    block_encode_begin(&b, &v.h, 2);
    block_encode_tx(&b, a->wire, a->wire_len);
    block_encode_tx(&b, item.data, (uint32_t)item.len);
    ck_assert_int_eq(mempool_validate_block(mp, b.data, b.len, &v.e), BLOCK_REJECT_TX_TYPE);
    /* a plaintext_v1 tx that does not decode (one byte short, or not canonical) */
    buf_reset(&b);
    block_encode_begin(&b, &v.h, 1);
    block_encode_tx(&b, a->wire, a->wire_len - 1);
    ck_assert_int_eq(mempool_validate_block(mp, b.data, b.len, &v.e), BLOCK_REJECT_TX_DECODE);
    buf_reset(&b);
    block_encode_begin(&b, &v.h, 1);
    block_encode_tx(&b, (const uint8_t *)"\xc1", 1);
    ck_assert_int_eq(mempool_validate_block(mp, b.data, b.len, &v.e), BLOCK_REJECT_TX_DECODE);
    buf_free(&b);
    buf_free(&item);
    mempool_free(mp);

    struct vctx w = v;
    struct tx *g[2] = {tx_plain_sign(lock, &keys[0], 0, 600, 6, NULL, 0),
                       tx_plain_sign(lock, &keys[1], 0, 600, 5, NULL, 0)};
    w.cfg.max_block_gas = 1199;
    ck_assert_int_eq(validate_txs(&w, g, 2), BLOCK_REJECT_TOO_MUCH_GAS);
    w.cfg.max_block_gas = 1200;
    ck_assert_int_eq(validate_txs(&w, g, 2), BLOCK_OK);

    struct tx *twice[2] = {a, a};
    ck_assert_int_eq(validate_txs(&v, twice, 2), BLOCK_REJECT_DUPLICATE_TX);

    /* nonces: a gap, a wrong start, a sender's two txs in the wrong order, the same nonce
     * twice (different txs), the 2^64-1 nonce */
    struct tx *a1 = mk(0, 1, 5, 0), *a2 = mk(0, 2, 5, 0), *a0b = mk(0, 0, 4, 1);
    ck_assert_int_eq(validate_txs(&v, (struct tx *[]){a, a2}, 2), BLOCK_REJECT_NONCE);
    ck_assert_int_eq(validate_txs(&v, (struct tx *[]){a1}, 1), BLOCK_REJECT_NONCE);
    ck_assert_int_eq(validate_txs(&v, (struct tx *[]){a1, a}, 2), BLOCK_REJECT_NONCE);
    ck_assert_int_eq(validate_txs(&v, (struct tx *[]){a, a0b}, 2), BLOCK_REJECT_NONCE);
    chain_set(3, UINT64_MAX);
    struct tx *last_nonce = mk(3, UINT64_MAX, 5, 0);
    ck_assert_int_eq(validate_txs(&v, &last_nonce, 1), BLOCK_REJECT_NONCE);
    ck_assert_int_eq(validate_txs(&v, (struct tx *[]){a, a1, a2}, 3), BLOCK_OK);

    /* order: the cheaper head first; equal fees with the higher address first */
    struct tx *rich = mk(1, 0, 9, 0);
    ck_assert_int_eq(validate_txs(&v, (struct tx *[]){a, rich}, 2), BLOCK_REJECT_ORDER);
    ck_assert_int_eq(validate_txs(&v, (struct tx *[]){rich, a}, 2), BLOCK_OK);
    struct tx *e0 = mk(4, 0, 5, 0), *e1 = mk(5, 0, 5, 0);
    bool e0_first = memcmp(addr[4], addr[5], ADDR_LEN) < 0;
    ck_assert_int_eq(
        validate_txs(&v, e0_first ? (struct tx *[]){e1, e0} : (struct tx *[]){e0, e1}, 2),
        BLOCK_REJECT_ORDER);
    ck_assert_int_eq(
        validate_txs(&v, e0_first ? (struct tx *[]){e0, e1} : (struct tx *[]){e1, e0}, 2),
        BLOCK_OK);
    /* a later tx of a sender may pay more than another sender's head: still canonical */
    struct tx *a1_rich = mk(0, 1, 100, 1), *mid = mk(1, 0, 6, 1);
    ck_assert_int_eq(validate_txs(&v, (struct tx *[]){mid, a, a1_rich}, 3), BLOCK_OK);
    ck_assert_int_eq(validate_txs(&v, (struct tx *[]){a, a1_rich, mid}, 3), BLOCK_REJECT_ORDER);

    /* a signature that does not verify */
    uint8_t sig[TX_SIG_LEN];
    memcpy(sig, a->sig, TX_SIG_LEN);
    sig[5] ^= 0x40;
    struct tx *forged = tx_plain_new(lock, a->from, 0, 1, 5, NULL, 0, sig);
    ck_assert_int_eq(validate_txs(&v, &forged, 1), BLOCK_REJECT_SIGNATURE);

    free_txs(g, 2);
    free_txs((struct tx *[]){a, a1, a2, a0b, last_nonce, rich, e0, e1, a1_rich, mid, forged}, 11);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mempool");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, names);
    tcase_add_test(tc, old_and_next);
    tcase_add_test(tc, dup);
    tcase_add_test(tc, future_and_promotion);
    tcase_add_test(tc, replacement_and_underpriced);
    tcase_add_test(tc, per_sender_caps);
    tcase_add_test(tc, global_pending_eviction);
    tcase_add_test(tc, eviction_only_takes_tails);
    tcase_add_test(tc, own_sender_never_evicted);
    tcase_add_test(tc, queued_never_evicts_pending);
    tcase_add_test(tc, invalid_transactions);
    tcase_add_test(tc, decided_block_prunes);
    tcase_add_test(tc, waiting_promotion_after_decided);
    tcase_add_test(tc, restore_same_pool);
    tcase_add_test(tc, restore_trims_to_caps);
    tcase_add_test(tc, selection_property);
    tcase_add_test(tc, selection_stops_at_byte_cap);
    tcase_add_test(tc, budget_matches_encoding);
    tcase_add_test(tc, validate_accepts_built_block);
    tcase_add_test(tc, reject_header_reasons);
    tcase_add_test(tc, reject_tx_reasons);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    mempool_removed_free(&rm);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
