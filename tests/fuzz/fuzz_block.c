/*
 * Fuzz target: proto/block (the canonical block decoder, JSON) and the builder's proposal
 * validation and decided-block pruning (workers/builder/mempool) on untrusted block bytes.
 * Invariants, checked with abort():
 *   - an accepted block re-encodes to exactly its input, and its size is what the size
 *     arithmetic says;
 *   - block_json_members either appends nothing (-1) or something;
 *   - validation returns a listed reason; a block that does not decode is "decode" or
 *     "too_many_bytes"; pruning a pool with such bytes fails cleanly.
 * The lock hash is fixed (32 x 0x11), as in the corpus; every account's chain nonce is 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/block.h"
#include "workers/builder/mempool.h"

#include "tests/fuzz/fuzz.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_block: invariant failed: %s (line %d)\n", #cond, __LINE__);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static uint64_t chain_nonce(void *ctx, const uint8_t from[TX_ADDR_LEN])
{
    (void)ctx;
    (void)from;
    return 0;
}

static void check_codec(const uint8_t *data, size_t size, bool *decodes)
{
    struct block b;
    enum block_decode_err r = block_decode(&b, data, size, UINT32_MAX);
    *decodes = r == BLOCK_DECODE_OK;
    if (!*decodes) {
        CHECK(b.txs == NULL && b.ntxs == 0);
        return;
    }
    struct buf out = BUF_INIT;
    size_t want = block_fixed_size(&b.h) + block_txs_header_size(b.ntxs);
    block_encode_begin(&out, &b.h, b.ntxs);
    for (uint32_t i = 0; i < b.ntxs; i++) {
        block_encode_tx(&out, b.txs[i].p, b.txs[i].len);
        want += block_tx_item_size(b.txs[i].len);
    }
    CHECK(out.len == size && memcmp(out.data, data, size) == 0 && want == size);
    CHECK(b.h.height <= BLOCK_HEIGHT_MAX);
    buf_free(&out);
    block_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t lock_hash[SHA256_LEN] = {
        0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
        0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
        0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    };
    bool decodes;
    check_codec(data, size, &decodes);

    struct buf j = BUF_INIT;
    buf_append_str(&j, "x");
    if (block_json_members(data, size, lock_hash, &j) < 0)
        CHECK(j.len == 1);
    else
        CHECK(decodes && j.len > 1);
    buf_free(&j);

    struct mempool_config cfg = {
        .max_tx_data = 4096,
        .price_bump_pct = 10,
        .account_slots = 16,
        .account_queue = 64,
        .global_slots = 5120,
        .global_queue = 1024,
        .max_block_txs = 1000,
        .max_block_gas = 30000000,
        .max_block_bytes = 1 << 20,
        .seed = 1,
    };
    memcpy(cfg.lock_hash, lock_hash, SHA256_LEN);
    const struct mempool_host host = {chain_nonce, NULL};
    struct mempool *mp = mempool_new(&cfg, &host);
    struct block_expect e = {.parent_height = 0, .height = 0, .operators = 4};
    enum block_reject r = mempool_validate_block(mp, data, size, &e);
    CHECK(block_reject_name(r) != NULL);
    if (!decodes)
        CHECK(r == BLOCK_REJECT_DECODE || r == BLOCK_REJECT_TOO_MANY_BYTES);
    struct mempool_removed rm = {0};
    int rc = mempool_on_decided(mp, data, size, &rm);
    if (!decodes)
        CHECK(rc == -1);
    CHECK(rm.n == 0); /* the pool was empty */
    mempool_removed_free(&rm);
    mempool_free(mp);
    return 0;
}
