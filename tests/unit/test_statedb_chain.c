/* Unit tests for the sequencer's StateDB requests (proto/statedb.h): the pool records (PUT_TXS),
 * the chain (APPLY_BLOCK, GET_BLOCK, GET_TX, CHAIN_HEAD), their codecs, and what PRUNE keeps. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/metrics.h"
#include "statedb_testutil.h"

static const uint8_t zero[SDB_HASH_LEN];

/* A "block" for the tests: any bytes; its hash is what the chain records. */
struct tblock {
    uint64_t height;
    char bytes[64];
    uint8_t hash[SDB_HASH_LEN];
    uint8_t parent[SDB_HASH_LEN];
};

static void tblock_make(struct tblock *b, uint64_t height, const uint8_t *parent)
{
    b->height = height;
    snprintf(b->bytes, sizeof(b->bytes), "block-%llu", (unsigned long long)height);
    sha256(b->hash, b->bytes, strlen(b->bytes));
    memcpy(b->parent, parent, SDB_HASH_LEN);
}

static void put_decided_block(struct store *st, const struct tblock *b)
{
    struct sdb_req r = {.type = SDB_PUT_DECIDED};
    r.u.put_decided = (struct sdb_decided){
        .dtype = DUTY_PROPOSER,
        .height = b->height,
        .round = 1,
        .value = {(const uint8_t *)b->bytes, (uint32_t)strlen(b->bytes)},
        .decided_ms = 7,
    };
    struct sdb_reply rep;
    ck_assert_int_eq(tu_run(st, &r, &rep), SDB_OK);
    sdb_reply_free(&rep);
}

static uint8_t txh[4][SDB_HASH_LEN];
static struct sdb_nonce nonces[2];

static struct sdb_req apply_req(const struct tblock *b, uint32_t ntx)
{
    struct sdb_req r = {.type = SDB_APPLY_BLOCK};
    r.u.apply.height = b->height;
    memcpy(r.u.apply.hash, b->hash, SDB_HASH_LEN);
    memcpy(r.u.apply.parent, b->parent, SDB_HASH_LEN);
    for (int i = 0; i < 4; i++)
        memset(txh[i], 0xa0 + i, SDB_HASH_LEN);
    memset(nonces[0].from, 0x11, SDB_ADDR_LEN);
    nonces[0].next = b->height;
    memset(nonces[1].from, 0x22, SDB_ADDR_LEN);
    nonces[1].next = 2 * b->height;
    r.u.apply.ntxs = ntx;
    r.u.apply.txs = txh;
    r.u.apply.nnonces = 2;
    r.u.apply.nonces = nonces;
    return r;
}

static int mempool_count(struct store *st)
{
    struct sdb_req it = {.type = SDB_ITERATE};
    struct sdb_reply rep;
    it.u.iter.cf = SDB_CF_MEMPOOL;
    ck_assert_int_eq(tu_run(st, &it, &rep), SDB_OK);
    int n = (int)rep.u.list.n;
    sdb_reply_free(&rep);
    return n;
}

static uint64_t chain_nonce(struct store *st, uint8_t fill)
{
    uint8_t key[RECORD_KEY_MAX], from[SDB_ADDR_LEN];
    struct db_value v;
    memset(from, fill, sizeof(from));
    size_t kl = record_chain_nonce_key(key, from);
    ck_assert_int_eq(db_get(store_db(st), SDB_CF_CHAIN, key, kl, &v, NULL, 0), 0);
    ck_assert_uint_eq(v.len, 8);
    uint64_t n = record_get_u64(v.p);
    db_value_free(&v);
    return n;
}

START_TEST(put_txs_puts_and_deletes)
{
    const char *path = tu_tmpdb();
    struct store *st = tu_open(path);
    struct sdb_tx_put puts[3];
    for (int i = 0; i < 3; i++) {
        memset(puts[i].hash, 0xa0 + i, SDB_HASH_LEN);
        puts[i].record = (struct sdb_bytes){(const uint8_t *)"rec", 3};
    }
    struct sdb_req r = {.type = SDB_PUT_TXS};
    r.u.txs.nput = 3;
    r.u.txs.put = puts;
    struct sdb_reply rep;
    ck_assert_int_eq(tu_run(st, &r, &rep), SDB_OK);
    ck_assert(rep.durable);
    sdb_reply_free(&rep);
    ck_assert_int_eq(mempool_count(st), 3);
    /* one in, one out, in one batch */
    uint8_t del[1][SDB_HASH_LEN];
    memcpy(del[0], puts[0].hash, SDB_HASH_LEN);
    memset(puts[0].hash, 0xb0, SDB_HASH_LEN);
    r.u.txs.nput = 1;
    r.u.txs.ndel = 1;
    r.u.txs.del = del;
    ck_assert_int_eq(tu_run(st, &r, &rep), SDB_OK);
    sdb_reply_free(&rep);
    ck_assert_int_eq(mempool_count(st), 3);
    struct db_value v;
    ck_assert_int_eq(db_get(store_db(st), SDB_CF_MEMPOOL, del[0], SDB_HASH_LEN, &v, NULL, 0), 1);
    ck_assert_int_eq(db_get(store_db(st), SDB_CF_MEMPOOL, puts[0].hash, SDB_HASH_LEN, &v, NULL, 0),
                     0);
    db_value_free(&v);
    /* what was written passes the open's verification */
    store_close(st);
    st = tu_open(path);
    ck_assert_int_eq(mempool_count(st), 3);
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(apply_block_builds_the_chain)
{
    const char *path = tu_tmpdb();
    struct store *st = tu_open(path);
    struct sdb_reply rep;
    struct sdb_req head = {.type = SDB_CHAIN_HEAD};
    ck_assert_int_eq(tu_run(st, &head, &rep), SDB_OK);
    ck_assert(!rep.u.head.present);
    sdb_reply_free(&rep);

    /* txs 0 and 1 are pooled; the block includes them */
    struct sdb_tx_put puts[3];
    for (int i = 0; i < 3; i++) {
        memset(puts[i].hash, 0xa0 + i, SDB_HASH_LEN);
        puts[i].record = (struct sdb_bytes){(const uint8_t *)"rec", 3};
    }
    struct sdb_req p = {.type = SDB_PUT_TXS};
    p.u.txs.nput = 3;
    p.u.txs.put = puts;
    ck_assert_int_eq(tu_run(st, &p, &rep), SDB_OK);
    sdb_reply_free(&rep);

    struct tblock b1, b2;
    tblock_make(&b1, 5, zero);
    /* no decided record yet: nothing is applied */
    struct sdb_req a = apply_req(&b1, 2);
    ck_assert_int_eq(tu_run(st, &a, &rep), SDB_NOT_FOUND);
    sdb_reply_free(&rep);
    put_decided_block(st, &b1);
    ck_assert_int_eq(tu_run(st, &a, &rep), SDB_OK);
    ck_assert(rep.durable);
    ck_assert(rep.u.head.present);
    ck_assert_uint_eq(rep.u.head.h.height, 5);
    ck_assert_mem_eq(rep.u.head.h.hash, b1.hash, SDB_HASH_LEN);
    sdb_reply_free(&rep);
    ck_assert_int_eq(mempool_count(st), 1); /* the included txs left the pool */
    ck_assert_uint_eq(chain_nonce(st, 0x11), 5);
    ck_assert_uint_eq(chain_nonce(st, 0x22), 10);
    /* again: a duplicate, nothing changes */
    ck_assert_int_eq(tu_run(st, &a, &rep), SDB_DUPLICATE);
    sdb_reply_free(&rep);

    /* the tx index */
    struct sdb_req gt = {.type = SDB_GET_TX};
    memset(gt.u.tx.hash, 0xa1, SDB_HASH_LEN);
    ck_assert_int_eq(tu_run(st, &gt, &rep), SDB_OK);
    ck_assert(rep.u.tx.present);
    ck_assert_uint_eq(rep.u.tx.height, 5);
    sdb_reply_free(&rep);
    memset(gt.u.tx.hash, 0xa2, SDB_HASH_LEN);
    ck_assert_int_eq(tu_run(st, &gt, &rep), SDB_NOT_FOUND);
    sdb_reply_free(&rep);

    /* a child whose parent is not the head, or whose height is not above it: conflict */
    tblock_make(&b2, 9, zero);
    put_decided_block(st, &b2);
    a = apply_req(&b2, 0);
    ck_assert_int_eq(tu_run(st, &a, &rep), SDB_CONFLICT);
    ck_assert(rep.u.head.present);
    ck_assert_uint_eq(rep.u.head.h.height, 5);
    sdb_reply_free(&rep);
    struct tblock low;
    tblock_make(&low, 4, b1.hash);
    put_decided_block(st, &low);
    a = apply_req(&low, 0);
    ck_assert_int_eq(tu_run(st, &a, &rep), SDB_CONFLICT);
    sdb_reply_free(&rep);
    /* a decided value that is not the block named: conflict */
    tblock_make(&b2, 9, b1.hash);
    memset(b2.hash, 0x77, SDB_HASH_LEN);
    a = apply_req(&b2, 0);
    ck_assert_int_eq(tu_run(st, &a, &rep), SDB_CONFLICT);
    sdb_reply_free(&rep);
    /* the right child */
    tblock_make(&b2, 9, b1.hash);
    a = apply_req(&b2, 1);
    ck_assert_int_eq(tu_run(st, &a, &rep), SDB_OK);
    ck_assert_uint_eq(rep.u.head.h.height, 9);
    sdb_reply_free(&rep);

    /* GET_BLOCK: latest, by height, a height that is not a block */
    struct sdb_req gb = {.type = SDB_GET_BLOCK};
    gb.u.block.mode = SDB_BLOCK_LATEST;
    ck_assert_int_eq(tu_run(st, &gb, &rep), SDB_OK);
    ck_assert(rep.u.block.present);
    ck_assert(rep.u.block.in_chain);
    ck_assert_uint_eq(rep.u.block.height, 9);
    ck_assert_mem_eq(rep.u.block.hash, b2.hash, SDB_HASH_LEN);
    ck_assert_uint_eq(rep.u.block.d.value.len, strlen(b2.bytes));
    ck_assert_mem_eq(rep.u.block.d.value.p, b2.bytes, strlen(b2.bytes));
    sdb_reply_free(&rep);
    gb.u.block.mode = SDB_BLOCK_AT;
    gb.u.block.height = 5;
    ck_assert_int_eq(tu_run(st, &gb, &rep), SDB_OK);
    ck_assert_mem_eq(rep.u.block.hash, b1.hash, SDB_HASH_LEN);
    sdb_reply_free(&rep);
    gb.u.block.height = 4; /* decided, but not a block of the chain */
    ck_assert_int_eq(tu_run(st, &gb, &rep), SDB_NOT_FOUND);
    sdb_reply_free(&rep);
    /* the chain after a height skips what is not a block of it; the decided records do not */
    gb.u.block.mode = SDB_BLOCK_NEXT;
    gb.u.block.height = 0;
    ck_assert_int_eq(tu_run(st, &gb, &rep), SDB_OK);
    ck_assert_uint_eq(rep.u.block.height, 5);
    sdb_reply_free(&rep);
    gb.u.block.height = 5;
    ck_assert_int_eq(tu_run(st, &gb, &rep), SDB_OK);
    ck_assert_uint_eq(rep.u.block.height, 9);
    sdb_reply_free(&rep);
    gb.u.block.height = 9;
    ck_assert_int_eq(tu_run(st, &gb, &rep), SDB_NOT_FOUND);
    sdb_reply_free(&rep);
    gb.u.block.mode = SDB_BLOCK_DECIDED_NEXT;
    gb.u.block.height = 3;
    ck_assert_int_eq(tu_run(st, &gb, &rep), SDB_OK);
    ck_assert_uint_eq(rep.u.block.height, 4);
    ck_assert(!rep.u.block.in_chain);
    ck_assert_mem_eq(rep.u.block.hash, low.hash, SDB_HASH_LEN);
    sdb_reply_free(&rep);
    gb.u.block.height = 4;
    ck_assert_int_eq(tu_run(st, &gb, &rep), SDB_OK);
    ck_assert_uint_eq(rep.u.block.height, 5);
    ck_assert(rep.u.block.in_chain);
    sdb_reply_free(&rep);
    /* the chain below a height, skipping what is not a block of it */
    gb.u.block.mode = SDB_BLOCK_PREV;
    static const uint64_t below[][2] = {{100, 9}, {9, 5}, {6, 5}};
    for (size_t i = 0; i < sizeof(below) / sizeof(below[0]); i++) {
        gb.u.block.height = below[i][0];
        ck_assert_int_eq(tu_run(st, &gb, &rep), SDB_OK);
        ck_assert_uint_eq(rep.u.block.height, below[i][1]);
        ck_assert(rep.u.block.in_chain);
        sdb_reply_free(&rep);
    }
    gb.u.block.height = 5;
    ck_assert_int_eq(tu_run(st, &gb, &rep), SDB_NOT_FOUND);
    sdb_reply_free(&rep);
    gb.u.block.height = 0;
    ck_assert_int_eq(tu_run(st, &gb, &rep), SDB_NOT_FOUND);
    sdb_reply_free(&rep);

    /* the chain survives a reopen (and passes its verification) */
    store_close(st);
    st = tu_open(path);
    ck_assert_int_eq(tu_run(st, &head, &rep), SDB_OK);
    ck_assert_uint_eq(rep.u.head.h.height, 9);
    sdb_reply_free(&rep);
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(apply_blocks_in_one_batch)
{
    struct store *st = tu_open(tu_tmpdb());
    struct tblock b1, b2, bad;
    tblock_make(&b1, 1, zero);
    tblock_make(&b2, 2, b1.hash);
    tblock_make(&bad, 3, b1.hash); /* a sibling of b2: refused once b2 is staged */
    put_decided_block(st, &b1);
    put_decided_block(st, &b2);
    put_decided_block(st, &bad);
    struct sdb_req reqs[4] = {apply_req(&b1, 0), apply_req(&b2, 0), apply_req(&bad, 0),
                              apply_req(&b1, 0)};
    struct statedb_op ops[4];
    struct sdb_reply reps[4];
    memset(ops, 0, sizeof(ops));
    for (int i = 0; i < 4; i++) {
        sdb_req_encode(&ops[i].body, &reqs[i]);
        ck_assert_int_eq(
            sdb_req_decode(&ops[i].req, reqs[i].type, ops[i].body.data, ops[i].body.len), 0);
    }
    store_inject_write_errors(st, 1);
    statedb_group_commit(st, ops, 4);
    /* the write failed: every apply that wrote or relied on a staged one is an error */
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(
            sdb_reply_decode(&reps[i], ops[i].out.type, ops[i].out.body.data, ops[i].out.body.len),
            0);
        ck_assert_int_eq(reps[i].status, SDB_ERROR);
        sdb_reply_free(&reps[i]);
    }
    statedb_group_commit(st, ops, 4);
    int want[4] = {SDB_OK, SDB_OK, SDB_CONFLICT, SDB_DUPLICATE};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(
            sdb_reply_decode(&reps[i], ops[i].out.type, ops[i].out.body.data, ops[i].out.body.len),
            0);
        ck_assert_int_eq(reps[i].status, want[i]);
        if (i < 3)
            ck_assert_uint_eq(reps[i].u.head.h.height, 2 - (i == 0));
        sdb_reply_free(&reps[i]);
        statedb_op_free(&ops[i]);
    }
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(prune_keeps_blocks_of_the_chain)
{
    struct store *st = tu_open(tu_tmpdb());
    struct tblock b1, b3;
    struct sdb_reply rep;
    tblock_make(&b1, 1, zero);
    put_decided_block(st, &b1);
    struct sdb_req a = apply_req(&b1, 0);
    ck_assert_int_eq(tu_run(st, &a, &rep), SDB_OK);
    sdb_reply_free(&rep);
    tblock_make(&b3, 3, b1.hash); /* decided, never applied */
    for (int undecided = 0; undecided < 2; undecided++) {
        /* a decided block outside the chain goes with the decided-only prune; the prune of
         * everything below a height keeps every proposer record (it cannot tell blocks apart
         * in a range delete) */
        put_decided_block(st, &b3);
        struct sdb_req p = {.type = SDB_PRUNE};
        p.u.prune.dtype = DUTY_PROPOSER;
        p.u.prune.below = 10;
        p.u.prune.include_undecided = undecided;
        ck_assert_int_eq(tu_run(st, &p, &rep), SDB_OK);
        sdb_reply_free(&rep);
        struct sdb_req g = {.type = SDB_GET_DECIDED};
        g.u.get.dtype = DUTY_PROPOSER;
        g.u.get.height = 1;
        ck_assert_int_eq(tu_run(st, &g, &rep), SDB_OK); /* the block stays */
        sdb_reply_free(&rep);
        g.u.get.height = 3;
        ck_assert_int_eq(tu_run(st, &g, &rep), undecided ? SDB_OK : SDB_NOT_FOUND);
        sdb_reply_free(&rep);
    }
    struct sdb_req gb = {.type = SDB_GET_BLOCK};
    gb.u.block.mode = SDB_BLOCK_LATEST;
    ck_assert_int_eq(tu_run(st, &gb, &rep), SDB_OK);
    ck_assert_uint_eq(rep.u.block.height, 1);
    sdb_reply_free(&rep);
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(chain_records_checked)
{
    uint8_t k[RECORD_KEY_MAX], v[RECORD_HEAD_LEN] = {0};
    uint8_t addr[SDB_ADDR_LEN] = {0}, hash[SDB_HASH_LEN] = {0};
    k[0] = RECORD_CHAIN_HEAD;
    ck_assert_int_eq(record_chain_check(k, 1, v, sizeof(v)), 0);
    ck_assert_int_eq(record_chain_check(k, 1, v, sizeof(v) - 1), -1);
    size_t kl = record_chain_block_key(k, 7);
    ck_assert_int_eq(record_chain_check(k, kl, hash, SDB_HASH_LEN), 0);
    ck_assert_int_eq(record_chain_check(k, kl - 1, hash, SDB_HASH_LEN), -1);
    kl = record_chain_nonce_key(k, addr);
    ck_assert_int_eq(record_chain_check(k, kl, v, 8), 0);
    ck_assert_int_eq(record_chain_check(k, kl, v, 9), -1);
    kl = record_chain_tx_key(k, hash);
    ck_assert_int_eq(record_chain_check(k, kl, v, 8), 0);
    k[0] = 'z';
    ck_assert_int_eq(record_chain_check(k, kl, v, 8), -1);
    ck_assert_int_eq(record_chain_check(k, 0, v, 8), -1);
    ck_assert_int_eq(record_mempool_check(hash, SDB_HASH_LEN, v, 1), 0);
    ck_assert_int_eq(record_mempool_check(hash, SDB_HASH_LEN, v, 0), -1);
    ck_assert_int_eq(record_mempool_check(hash, 31, v, 1), -1);
}
END_TEST

/* Every new request and reply survives encode/decode; truncations and count bombs are refused. */
START_TEST(codecs_round_trip_and_refuse)
{
    struct tblock b;
    tblock_make(&b, 42, zero);
    struct sdb_tx_put put = {.record = {(const uint8_t *)"r", 1}};
    memset(put.hash, 3, SDB_HASH_LEN);
    uint8_t del[2][SDB_HASH_LEN];
    memset(del, 4, sizeof(del));
    struct sdb_req reqs[5];
    memset(reqs, 0, sizeof(reqs));
    reqs[0].type = SDB_PUT_TXS;
    reqs[0].u.txs.nput = 1;
    reqs[0].u.txs.put = &put;
    reqs[0].u.txs.ndel = 2;
    reqs[0].u.txs.del = del;
    reqs[1] = apply_req(&b, 3);
    reqs[2].type = SDB_GET_BLOCK;
    reqs[2].u.block.mode = SDB_BLOCK_NEXT;
    reqs[2].u.block.height = 9;
    reqs[3].type = SDB_GET_TX;
    memset(reqs[3].u.tx.hash, 5, SDB_HASH_LEN);
    reqs[4].type = SDB_CHAIN_HEAD;
    for (int i = 0; i < 5; i++) {
        struct buf body = BUF_INIT;
        struct sdb_req out;
        sdb_req_encode(&body, &reqs[i]);
        ck_assert_int_eq(sdb_req_decode(&out, reqs[i].type, body.data, body.len), 0);
        struct buf again = BUF_INIT;
        sdb_req_encode(&again, &out);
        ck_assert_uint_eq(again.len, body.len);
        ck_assert_mem_eq(again.data, body.data, body.len);
        sdb_req_free(&out); /* before out is decoded into again */
        for (size_t cut = 0; cut < body.len; cut++)
            ck_assert_int_eq(sdb_req_decode(&out, reqs[i].type, body.data, cut), -1);
        buf_free(&again);
        buf_free(&body);
    }
    ck_assert_uint_eq(sdb_reply_type(SDB_CHAIN_HEAD), SDB_CHAIN_HEAD_REP);
    ck_assert_str_eq(sdb_type_name(SDB_APPLY_BLOCK_REP), "apply_block_rep");
    /* [[], [<huge array>]]: a declared count the body cannot hold */
    static const uint8_t bomb[] = {0x92, 0x90, 0xdd, 0x7f, 0xff, 0xff, 0xff};
    struct sdb_req out;
    ck_assert_int_eq(sdb_req_decode(&out, SDB_PUT_TXS, bomb, sizeof(bomb)), -1);
    /* a hash of the wrong length */
    static const uint8_t shorthash[] = {0x91, 0xc4, 0x01, 0x00};
    ck_assert_int_eq(sdb_req_decode(&out, SDB_GET_TX, shorthash, sizeof(shorthash)), -1);

    struct sdb_reply rep = {.type = SDB_GET_BLOCK_REP, .status = SDB_OK, .durable = true};
    rep.u.block.present = true;
    rep.u.block.height = 42;
    memcpy(rep.u.block.hash, b.hash, SDB_HASH_LEN);
    rep.u.block.d =
        (struct sdb_decided){.dtype = DUTY_PROPOSER,
                             .height = 42,
                             .round = 2,
                             .value = {(const uint8_t *)b.bytes, (uint32_t)strlen(b.bytes)}};
    struct buf body = BUF_INIT;
    sdb_reply_encode(&body, &rep);
    struct sdb_reply back;
    ck_assert_int_eq(sdb_reply_decode(&back, SDB_GET_BLOCK_REP, body.data, body.len), 0);
    ck_assert(back.u.block.present);
    ck_assert_uint_eq(back.u.block.height, 42);
    ck_assert_uint_eq(back.u.block.d.round, 2);
    sdb_reply_free(&back);
    buf_free(&body);
    rep = (struct sdb_reply){.type = SDB_APPLY_BLOCK_REP, .status = SDB_CONFLICT};
    rep.u.head.present = true;
    rep.u.head.h.height = 8;
    sdb_reply_encode(&body, &rep);
    ck_assert_int_eq(sdb_reply_decode(&back, SDB_APPLY_BLOCK_REP, body.data, body.len), 0);
    ck_assert_uint_eq(back.status, SDB_CONFLICT);
    ck_assert_uint_eq(back.u.head.h.height, 8);
    buf_free(&body);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("statedb_chain");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, put_txs_puts_and_deletes);
    tcase_add_test(tc, apply_block_builds_the_chain);
    tcase_add_test(tc, apply_blocks_in_one_batch);
    tcase_add_test(tc, prune_keeps_blocks_of_the_chain);
    tcase_add_test(tc, chain_records_checked);
    tcase_add_test(tc, codecs_round_trip_and_refuse);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
