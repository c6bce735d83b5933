/* Unit tests for the builder's chain view (workers/builder/chain) and its seen cache
 * (workers/builder/seen): apply plans from real blocks, the head and nonces they move, decided
 * blocks waiting for their parent, stale and full waits, and the seen ring's bound. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/block.h"
#include "proto/tx.h"
#include "workers/builder/chain.h"
#include "workers/builder/seen.h"

static uint8_t lock[SHA256_LEN];
static struct node_key keys[3];

static void setup(void)
{
    memset(lock, 0x42, sizeof(lock));
    for (int i = 0; i < 3; i++) {
        uint8_t sec[32];
        char seed[16];
        snprintf(seed, sizeof(seed), "chain key %d", i);
        sha256(sec, seed, strlen(seed));
        ck_assert_int_eq(node_key_from_secret(&keys[i], sec), 0);
    }
}

/* A block at height with these (sender, nonce) txs on parent. */
static void make_block(struct buf *out, uint64_t height, const uint8_t *parent, const int *senders,
                       const uint64_t *nonces, int n)
{
    struct block_header h = {.height = height, .proposer = 0};
    memcpy(h.parent_hash, parent, SHA256_LEN);
    block_encode_begin(out, &h, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        struct tx *tx = tx_plain_sign(lock, &keys[senders[i]], nonces[i], 21000, 5, "d", 1);
        block_encode_tx(out, tx->wire, tx->wire_len);
        tx_free(tx);
    }
}

START_TEST(plan_and_apply)
{
    struct chain c;
    chain_init(&c, lock, 7);
    uint8_t a0[ADDR_LEN], a1[ADDR_LEN];
    pubkey_address(keys[0].pub, a0);
    pubkey_address(keys[1].pub, a1);
    chain_set_nonce(&c, a1, 9); /* sender 1 had txs before */
    struct buf b = BUF_INIT;
    int senders[] = {0, 1, 0, 1};
    uint64_t nonces[] = {0, 9, 1, 10};
    make_block(&b, 5, BLOCK_GENESIS_PARENT, senders, nonces, 4);
    struct sdb_block_apply a;
    ck_assert_int_eq(chain_plan(&c, b.data, b.len, &a), 0);
    ck_assert_uint_eq(a.height, 5);
    ck_assert_uint_eq(a.ntxs, 4);
    ck_assert_uint_eq(a.nnonces, 2);
    for (uint32_t i = 0; i < a.nnonces; i++) {
        bool s0 = memcmp(a.nonces[i].from, a0, ADDR_LEN) == 0;
        ck_assert_uint_eq(a.nonces[i].next, s0 ? 2 : 11);
    }
    uint8_t h[SHA256_LEN];
    block_hash(h, b.data, b.len);
    ck_assert_mem_eq(a.hash, h, SHA256_LEN);
    ck_assert_mem_eq(a.parent, BLOCK_GENESIS_PARENT, SHA256_LEN);
    chain_applied(&c, &a);
    ck_assert(c.has_head);
    ck_assert_uint_eq(c.head.height, 5);
    ck_assert_uint_eq(chain_nonce(&c, a0), 2);
    ck_assert_uint_eq(chain_nonce(&c, a1), 11);
    chain_plan_free(&a);
    /* not a block */
    ck_assert_int_eq(chain_plan(&c, (const uint8_t *)"\x93\x01", 2, &a), -1);
    buf_free(&b);
    chain_free(&c);
}
END_TEST

START_TEST(waiting_blocks)
{
    struct chain c;
    chain_init(&c, lock, 7);
    struct buf b1 = BUF_INIT, b2 = BUF_INIT, b3 = BUF_INIT;
    int s[] = {0};
    uint64_t n0[] = {0}, n1[] = {1}, n2[] = {2};
    make_block(&b1, 10, BLOCK_GENESIS_PARENT, s, n0, 1);
    uint8_t h1[SHA256_LEN], h2[SHA256_LEN];
    block_hash(h1, b1.data, b1.len);
    make_block(&b2, 12, h1, s, n1, 1);
    block_hash(h2, b2.data, b2.len);
    make_block(&b3, 15, h2, s, n2, 1);
    /* the later blocks first: nothing builds on the (empty) head: behind */
    ck_assert_int_eq(chain_wait(&c, 15, b3.data, b3.len), CHAIN_WAIT_QUEUED);
    ck_assert_int_eq(chain_wait(&c, 12, b2.data, b2.len), CHAIN_WAIT_QUEUED);
    ck_assert_int_eq(chain_wait(&c, 12, b2.data, b2.len), CHAIN_WAIT_QUEUED); /* kept once */
    ck_assert_uint_eq(c.nwaiting, 2);
    ck_assert(chain_behind(&c));
    ck_assert_ptr_null(chain_next(&c));
    /* a height that does not match the block's: invalid */
    ck_assert_int_eq(chain_wait(&c, 11, b1.data, b1.len), CHAIN_WAIT_INVALID);
    ck_assert_int_eq(chain_wait(&c, 10, b1.data, b1.len), CHAIN_WAIT_QUEUED);
    ck_assert(!chain_behind(&c));
    /* applied in order, each on its parent */
    uint64_t want[] = {10, 12, 15};
    for (int i = 0; i < 3; i++) {
        const struct chain_waiting *w = chain_next(&c);
        ck_assert_ptr_nonnull(w);
        ck_assert_uint_eq(w->height, want[i]);
        struct sdb_block_apply a;
        ck_assert_int_eq(chain_plan(&c, w->bytes.data, w->bytes.len, &a), 0);
        chain_done_waiting(&c, w->height);
        chain_applied(&c, &a);
        chain_plan_free(&a);
    }
    ck_assert_uint_eq(c.nwaiting, 0);
    ck_assert(!chain_behind(&c));
    /* at or below the head: stale */
    ck_assert_int_eq(chain_wait(&c, 12, b2.data, b2.len), CHAIN_WAIT_STALE);
    buf_free(&b1);
    buf_free(&b2);
    buf_free(&b3);
    chain_free(&c);
}
END_TEST

START_TEST(waiting_is_bounded)
{
    struct chain c;
    chain_init(&c, lock, 7);
    uint8_t parent[SHA256_LEN];
    memset(parent, 9, sizeof(parent)); /* never the head: every block waits */
    for (uint64_t h = 1; h <= CHAIN_WAITING_MAX + 1; h++) {
        struct buf b = BUF_INIT;
        make_block(&b, h, parent, NULL, NULL, 0);
        ck_assert_int_eq(chain_wait(&c, h, b.data, b.len),
                         h <= CHAIN_WAITING_MAX ? CHAIN_WAIT_QUEUED : CHAIN_WAIT_FULL);
        buf_free(&b);
    }
    ck_assert_uint_eq(c.nwaiting, CHAIN_WAITING_MAX);
    chain_free(&c);
}
END_TEST

START_TEST(seen_ring)
{
    struct seen s;
    seen_init(&s, 3);
    uint8_t h[SHA256_LEN];
    for (uint32_t i = 0; i < SEEN_MAX + 10; i++) {
        memset(h, 0, sizeof(h));
        memcpy(h, &i, sizeof(i));
        seen_add(&s, h);
        seen_add(&s, h); /* twice: once */
    }
    ck_assert_uint_eq(s.n, SEEN_MAX);
    ck_assert_uint_eq(s.set.n, SEEN_MAX);
    for (uint32_t i = 0; i < 10; i++) { /* the oldest are forgotten */
        memset(h, 0, sizeof(h));
        memcpy(h, &i, sizeof(i));
        ck_assert(!seen_has(&s, h));
    }
    uint32_t last = SEEN_MAX + 9;
    memset(h, 0, sizeof(h));
    memcpy(h, &last, sizeof(last));
    ck_assert(seen_has(&s, h));
    seen_free(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("builder_chain");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, plan_and_apply);
    tcase_add_test(tc, waiting_blocks);
    tcase_add_test(tc, waiting_is_bounded);
    tcase_add_test(tc, seen_ring);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
