/*
 * mempool_bench: the builder core in process (scripts/bench mempool).
 *
 *   mempool_bench [--txs N] [--senders S] [--repeat R]
 *
 * 1. Admission: N transactions from S senders, signed here, admitted one by one as canonical
 *    bytes into one pool (decode, hash, signature recovery, pool rules): CPU per tx and rate.
 *    Then the same transactions' signature checks alone (tx_verify: signing bytes, SHA-256,
 *    recovery, address) and the libsecp256k1 calls alone (parse, normalize, recover,
 *    serialize), as shares of the admission's CPU.
 * 2. Building: pools of 10,000 and 100,000 pending transactions over S senders (restored, so no
 *    signature work; random fees), R builds each: with the default caps (a block of at most
 *    1,000 transactions) and with no cap binding (every pending tx in one block).
 * 3. Validation of a default-capped block built from the admission pool: on that pool (its
 *    signatures were checked at admission) and on an empty pool (every signature checked);
 *    the median CPU time of 5 runs each.
 * Timings are printed, never asserted. Defaults: N 20000, S 1000, R 21.
 */
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/util.h"
#include "workers/builder/mempool.h"

static uint8_t lock[SHA256_LEN];

static uint64_t zero_nonce(void *ctx, const uint8_t from[TX_ADDR_LEN])
{
    (void)ctx;
    (void)from;
    return 0;
}

static const struct mempool_host host = {zero_nonce, NULL};

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rnd_state = 88172645463325252ull;

static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static struct mempool_config bench_cfg(uint64_t per_sender, uint64_t total)
{
    struct mempool_config c = {
        .max_tx_data = 4096,
        .price_bump_pct = 10,
        .account_slots = per_sender,
        .account_queue = 64,
        .global_slots = total,
        .global_queue = 1024,
        .max_block_txs = 1000,
        .max_block_gas = 30000000,
        .max_block_bytes = 1048576,
        .seed = 7,
    };
    memcpy(c.lock_hash, lock, SHA256_LEN);
    return c;
}

static void key_of(struct node_key *k, unsigned i)
{
    char seed[32];
    uint8_t sec[SECKEY_LEN];
    snprintf(seed, sizeof(seed), "bench key %u", i);
    sha256(sec, seed, strlen(seed));
    if (node_key_from_secret(k, sec) < 0)
        fatalx("bad bench key");
}

/* Tx i: sender i % s, nonce i / s (so every sender's nonces arrive in order), random fee,
 * 32 bytes of data, gas 21000. */
static struct tx **signed_txs(size_t n, unsigned s, double *sign_us)
{
    struct node_key *keys = xcalloc(s, sizeof(*keys));
    for (unsigned i = 0; i < s; i++)
        key_of(&keys[i], i);
    struct tx **t = xcalloc(n, sizeof(*t));
    uint8_t data[32] = {1};
    uint64_t c0 = cpu_ns();
    for (size_t i = 0; i < n; i++)
        t[i] =
            tx_plain_sign(lock, &keys[i % s], i / s, 21000, 1 + rnd() % 1000, data, sizeof(data));
    *sign_us = (double)(cpu_ns() - c0) / 1e3 / (double)n;
    free(keys);
    return t;
}

static void bench_admission(size_t n, unsigned s, struct mempool **pool_out, struct tx ***txs_out)
{
    double sign_us;
    struct tx **t = signed_txs(n, s, &sign_us);
    printf("sign (aequactl's side): %zu txs, %.1f us/tx CPU\n", n, sign_us);

    struct mempool_config c = bench_cfg(n / s + 1, n);
    struct mempool *mp = mempool_new(&c, &host);
    struct mempool_outcome o;
    struct mempool_removed rm = {0};
    size_t ok = 0;
    uint64_t w0 = now_ns(), c0 = cpu_ns();
    for (size_t i = 0; i < n; i++) {
        ok += mempool_admit(mp, t[i]->wire, t[i]->wire_len, &o, &rm) == MEMPOOL_OK;
        rm.n = 0;
    }
    uint64_t adm_cpu = cpu_ns() - c0, adm_wall = now_ns() - w0;
    double adm_us = (double)adm_cpu / 1e3 / (double)n;
    printf("admission: %zu txs (%zu ok) into one pool: %.1f us/tx CPU, %.0f tx/s wall\n", n, ok,
           adm_us, (double)n / ((double)adm_wall / 1e9));

    c0 = cpu_ns();
    for (size_t i = 0; i < n; i++)
        if (tx_verify(t[i], lock, NULL) < 0)
            fatalx("bench tx does not verify");
    double verify_us = (double)(cpu_ns() - c0) / 1e3 / (double)n;

    /* the libsecp256k1 calls of tx_verify, on precomputed digests */
    uint8_t(*digest)[SHA256_LEN] = xcalloc(n, sizeof(*digest));
    for (size_t i = 0; i < n; i++) {
        struct buf b = BUF_INIT;
        tx_plain_signing_bytes(&b, lock, t[i]->from, t[i]->nonce, t[i]->gas, t[i]->fee, t[i]->data,
                               t[i]->data_len);
        sha256(digest[i], b.data, b.len);
        buf_free(&b);
    }
    secp256k1_context *ctx = secp_ctx();
    c0 = cpu_ns();
    for (size_t i = 0; i < n; i++) {
        secp256k1_ecdsa_recoverable_signature rs;
        secp256k1_ecdsa_signature plain;
        secp256k1_pubkey pk;
        uint8_t pub[PUBKEY_LEN];
        size_t publen = PUBKEY_LEN;
        if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &rs, t[i]->sig,
                                                                 t[i]->sig[64]) ||
            !secp256k1_ecdsa_recoverable_signature_convert(ctx, &plain, &rs) ||
            secp256k1_ecdsa_signature_normalize(ctx, NULL, &plain) ||
            !secp256k1_ecdsa_recover(ctx, &pk, &rs, digest[i]) ||
            !secp256k1_ec_pubkey_serialize(ctx, pub, &publen, &pk, SECP256K1_EC_COMPRESSED))
            fatalx("bench recovery failed");
    }
    double secp_us = (double)(cpu_ns() - c0) / 1e3 / (double)n;
    printf("  signature check alone (tx_verify): %.1f us/tx = %.0f%% of admission CPU\n", verify_us,
           100 * verify_us / adm_us);
    printf("  libsecp256k1 calls alone: %.1f us/tx = %.0f%% of admission CPU\n", secp_us,
           100 * secp_us / adm_us);
    free(digest);
    mempool_removed_free(&rm);
    *pool_out = mp;
    *txs_out = t;
}

/* A pool of n pending txs over s senders (restored: unsigned, random fees). */
static struct mempool *restored_pool(size_t n, unsigned s, struct mempool_config *c)
{
    uint8_t sig[TX_SIG_LEN] = {0}, data[32] = {2};
    struct mempool *mp = mempool_new(c, &host);
    struct mempool_removed rm = {0};
    for (size_t i = 0; i < n; i++) {
        uint8_t from[TX_ADDR_LEN] = {0};
        unsigned who = (unsigned)(i % s);
        memcpy(from, &who, sizeof(who));
        struct tx *tx =
            tx_plain_new(lock, from, i / s, 21000, 1 + rnd() % 1000000, data, sizeof(data), sig);
        if (mempool_restore(mp, tx->wire, tx->wire_len, &rm) < 0)
            fatalx("restore failed");
        tx_free(tx);
    }
    mempool_restore_done(mp, &rm);
    size_t p, q;
    mempool_size(mp, &p, &q);
    if (p != n || rm.n)
        fatalx("restored pool: %zu pending of %zu", p, n);
    mempool_removed_free(&rm);
    return mp;
}

static void bench_build(size_t n, unsigned s, unsigned repeat)
{
    struct mempool_config c = bench_cfg(n / s + 1, n);
    struct mempool *mp = restored_pool(n, s, &c);
    struct mempool_config all = c;
    all.max_block_txs = n;
    all.max_block_gas = UINT64_MAX;
    all.max_block_bytes = UINT64_MAX;
    struct mempool *mp_all = restored_pool(n, s, &all);
    struct mempool *pools[2] = {mp, mp_all};
    const char *what[2] = {"default caps", "no cap binds"};
    uint64_t *t = xcalloc(repeat, sizeof(*t));
    for (int k = 0; k < 2; k++) {
        struct mempool_build_info info = {0};
        for (unsigned r = 0; r < repeat; r++) {
            struct buf b = BUF_INIT;
            struct block_header h = {.height = r + 1};
            uint64_t t0 = now_ns();
            mempool_build(pools[k], &h, &b, &info);
            t[r] = now_ns() - t0;
            buf_free(&b);
        }
        qsort(t, repeat, sizeof(*t), cmp_u64);
        printf("build: %zu pending over %u senders, %s: block of %llu txs (%llu bytes) in p50 "
               "%.2f ms (min %.2f, max %.2f; %u builds)\n",
               n, s, what[k], (unsigned long long)info.txs, (unsigned long long)info.bytes,
               (double)t[repeat / 2] / 1e6, (double)t[0] / 1e6, (double)t[repeat - 1] / 1e6,
               repeat);
    }
    free(t);
    mempool_free(mp_all);
    mempool_free(mp);
}

static void bench_validate(struct mempool *mp, unsigned repeat)
{
    struct mempool_config c = bench_cfg(1000, 1000000);
    struct block_header h = {.height = 1};
    struct buf b = BUF_INIT;
    struct mempool_build_info info;
    mempool_build(mp, &h, &b, &info);
    struct block_expect e = {.height = 1, .operators = 4};
    struct mempool *empty = mempool_new(&c, &host);
    struct mempool *pools[2] = {mp, empty};
    uint64_t *t = xcalloc(repeat, sizeof(*t));
    double ms[2];
    for (int k = 0; k < 2; k++) {
        for (unsigned r = 0; r < repeat; r++) {
            uint64_t c0 = cpu_ns();
            enum block_reject rej = mempool_validate_block(pools[k], b.data, b.len, &e);
            t[r] = cpu_ns() - c0;
            if (rej != BLOCK_OK)
                fatalx("bench block refused: %s", block_reject_name(rej));
        }
        qsort(t, repeat, sizeof(*t), cmp_u64);
        ms[k] = (double)t[repeat / 2] / 1e6;
    }
    printf("validate a block of %llu txs (p50 CPU of %u): %.2f ms when the pool holds them (no "
           "signature checks), %.2f ms with every signature checked\n",
           (unsigned long long)info.txs, repeat, ms[0], ms[1]);
    free(t);
    mempool_free(empty);
    buf_free(&b);
}

static unsigned long arg(const char *s)
{
    uint64_t v;
    if (parse_u64(s, 100000000, &v) < 0 || v == 0) {
        fprintf(stderr, "usage: mempool_bench [--txs N] [--senders S] [--repeat R]\n");
        exit(2);
    }
    return (unsigned long)v;
}

int main(int argc, char **argv)
{
    size_t n = 20000;
    unsigned s = 1000, repeat = 21;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--txs"))
            n = arg(argv[i + 1]);
        else if (!strcmp(argv[i], "--senders"))
            s = (unsigned)arg(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeat"))
            repeat = (unsigned)arg(argv[i + 1]);
        else
            arg("");
    }
    if (argc % 2 == 0)
        arg("");
    memset(lock, 0x5a, sizeof(lock));
    struct mempool *mp;
    struct tx **t;
    bench_admission(n, s, &mp, &t);
    bench_build(10000, s, repeat);
    bench_build(100000, s, repeat);
    bench_validate(mp, repeat < 5 ? repeat : 5);
    for (size_t i = 0; i < n; i++)
        tx_free(t[i]);
    free(t);
    mempool_free(mp);
    return 0;
}
