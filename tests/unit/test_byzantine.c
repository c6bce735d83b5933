/* Unit tests for the test builds' Byzantine builder (workers/builder/byzantine.h): each mode
 * turns an honest block into one that an honest validator (mempool_validate_block) refuses for
 * exactly that mode's reason, and blocks that cannot be made wrong that way are left alone. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "lib/util.h"
#include "workers/builder/byzantine.h"
#include "workers/builder/mempool.h"

static uint8_t lock[SHA256_LEN];
static struct node_key keys[3];

static uint64_t chain_nonce(void *ctx, const uint8_t from[TX_ADDR_LEN])
{
    (void)ctx;
    (void)from;
    return 0;
}

static const struct mempool_host host = {chain_nonce, NULL};

static struct mempool_config cfg(void)
{
    struct mempool_config c = {
        .max_tx_data = 4096,
        .price_bump_pct = 10,
        .account_slots = 16,
        .account_queue = 16,
        .global_slots = 64,
        .global_queue = 64,
        .max_block_txs = 1000,
        .max_block_gas = 1000000000,
        .max_block_bytes = 1 << 20,
        .seed = 7,
    };
    memcpy(c.lock_hash, lock, SHA256_LEN);
    return c;
}

static void setup(void)
{
    memset(lock, 0x5a, sizeof(lock));
    for (int i = 0; i < 3; i++) {
        uint8_t sec[SECKEY_LEN];
        memset(sec, 0x21 + i, sizeof(sec));
        ck_assert_int_eq(node_key_from_secret(&keys[i], sec), 0);
    }
}

/* A pool of txs (sender, nonce, fee) and the block it builds at height 10 on the genesis. */
static struct mempool *pool_of(const int (*txs)[3], size_t n, struct buf *block)
{
    struct mempool_config c = cfg();
    struct mempool *mp = mempool_new(&c, &host);
    for (size_t i = 0; i < n; i++) {
        struct tx *tx = tx_plain_sign(lock, &keys[txs[i][0]], (uint64_t)txs[i][1], 21000,
                                      (uint64_t)txs[i][2], NULL, 0);
        struct mempool_outcome o;
        struct mempool_removed rm = {0};
        ck_assert_int_eq(mempool_admit(mp, tx->wire, tx->wire_len, &o, &rm), MEMPOOL_OK);
        mempool_removed_free(&rm);
        tx_free(tx);
    }
    struct block_header h = {.height = 10, .proposer = 2};
    memcpy(h.parent_hash, BLOCK_GENESIS_PARENT, SHA256_LEN);
    struct mempool_build_info info;
    buf_reset(block);
    mempool_build(mp, &h, block, &info);
    ck_assert_uint_eq(info.txs, n);
    return mp;
}

static enum block_reject judge(struct mempool *mp, const struct buf *block)
{
    struct block_expect x = {.parent_height = 0, .height = 10, .operators = 4};
    memcpy(x.parent_hash, BLOCK_GENESIS_PARENT, SHA256_LEN);
    return mempool_validate_block(mp, block->data, block->len, &x);
}

START_TEST(each_mode_its_reason)
{
    static const int txs[][3] = {{0, 0, 50}, {0, 1, 40}, {1, 0, 30}, {2, 0, 20}};
    static const enum block_reject want[BYZ_MODE_COUNT] = {
        [BYZ_BAD_SIGNATURE] = BLOCK_REJECT_SIGNATURE,
        [BYZ_NONCE_GAP] = BLOCK_REJECT_NONCE,
        [BYZ_WRONG_ORDER] = BLOCK_REJECT_ORDER,
    };
    struct buf block = BUF_INIT, bad = BUF_INIT;
    struct mempool *mp = pool_of(txs, 4, &block);
    ck_assert_int_eq(judge(mp, &block), BLOCK_OK);
    for (unsigned m = 0; m < BYZ_MODE_COUNT; m++) {
        ck_assert_int_eq(byzantine_corrupt(m, block.data, block.len, lock, &bad), 0);
        ck_assert_int_eq(judge(mp, &bad), want[m]);
        /* and a validator whose pool never saw these txs refuses it the same way */
        struct mempool_config c = cfg();
        struct mempool *other = mempool_new(&c, &host);
        ck_assert_int_eq(judge(other, &bad), want[m]);
        mempool_free(other);
    }
    mempool_free(mp);
    buf_free(&block);
    buf_free(&bad);
}
END_TEST

START_TEST(blocks_it_cannot_spoil)
{
    struct buf block = BUF_INIT, bad = BUF_INIT;
    struct mempool *mp = pool_of(NULL, 0, &block); /* empty */
    for (unsigned m = 0; m < BYZ_MODE_COUNT; m++)
        ck_assert_int_eq(byzantine_corrupt(m, block.data, block.len, lock, &bad), -1);
    mempool_free(mp);
    static const int one_sender[][3] = {{1, 0, 9}, {1, 1, 9}};
    mp = pool_of(one_sender, 2, &block);
    ck_assert_int_eq(byzantine_corrupt(BYZ_WRONG_ORDER, block.data, block.len, lock, &bad), -1);
    ck_assert_int_eq(byzantine_corrupt(BYZ_NONCE_GAP, block.data, block.len, lock, &bad), 0);
    ck_assert_int_eq(judge(mp, &bad), BLOCK_REJECT_NONCE);
    ck_assert_int_eq(byzantine_corrupt(BYZ_BAD_SIGNATURE, (const uint8_t *)"x", 1, lock, &bad), -1);
    mempool_free(mp);
    buf_free(&block);
    buf_free(&bad);
}
END_TEST

START_TEST(parse_and_rotation)
{
    struct byzantine z;
    ck_assert_int_eq(byzantine_parse(&z, "bad_signature,nonce_gap,wrong_order"), 0);
    ck_assert_uint_eq(z.n, 3);
    /* n = 4: heights 2, 6, 10, 14 (one node's round-1 turns) go through the three modes */
    ck_assert_int_eq(byzantine_mode_at(&z, 2, 4), BYZ_BAD_SIGNATURE);
    ck_assert_int_eq(byzantine_mode_at(&z, 6, 4), BYZ_NONCE_GAP);
    ck_assert_int_eq(byzantine_mode_at(&z, 10, 4), BYZ_WRONG_ORDER);
    ck_assert_int_eq(byzantine_mode_at(&z, 14, 4), BYZ_BAD_SIGNATURE);
    ck_assert_int_eq(byzantine_parse(&z, "wrong_order"), 0);
    ck_assert_int_eq(byzantine_mode_at(&z, 99, 4), BYZ_WRONG_ORDER);
    const char *bad[] = {
        "", "nonce", "wrong_order,", ",wrong_order", "nonce_gap,,nonce_gap", "a,a,a,a,a,a,a,a,a"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        ck_assert_msg(byzantine_parse(&z, bad[i]) == -1, "%s", bad[i]);
    ck_assert_int_eq(byzantine_parse(&z, "nonce_gap,nonce_gap,nonce_gap,nonce_gap,nonce_gap,"
                                         "nonce_gap,nonce_gap,nonce_gap,nonce_gap"),
                     -1);
    ck_assert_str_eq(byzantine_mode_name(BYZ_NONCE_GAP), "nonce_gap");
    ck_assert_ptr_null(byzantine_mode_name(BYZ_MODE_COUNT));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("byzantine");
    TCase *t = tcase_create("modes");
    tcase_add_checked_fixture(t, setup, NULL);
    tcase_add_test(t, each_mode_its_reason);
    tcase_add_test(t, blocks_it_cannot_spoil);
    tcase_add_test(t, parse_and_rotation);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
