/*
 * fuzz_p2p_handshake: the P2P handshake message parser (Noise XX read path, the identity
 * payload decoder and the AllowList judgement) with fixed keys, so runs are deterministic.
 *
 * Input: byte 0 picks where the fuzzed bytes go, the rest is them:
 *   0 message 1 to a responder          1 message 2 to an initiator
 *   2 message 3 to a responder that answered a genuine message 1
 *   3 the payload of a genuine, correctly encrypted message 3 (reaches the judgement)
 *   4 the handshake payload decoder alone
 *   5 the payload of a genuine message 2 (the initiator's judgement)
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lock.h"
#include "tests/fuzz/fuzz.h"
#include "workers/p2p/handshake.h"

static struct lock lock;
static struct p2p_identity ids[2];
static const uint8_t eph[2][NOISE_KEY_LEN] = {{0x71, 0x72, 0x73}, {0x81, 0x82, 0x83}};

static void init(void)
{
    static bool done;
    static const char *const addrs[2] = {"127.0.0.1:1", "127.0.0.1:2"};
    struct node_key keys[2];
    struct buf b = BUF_INIT;
    char err[256];
    if (done)
        return;
    for (int i = 0; i < 2; i++) {
        uint8_t sec[SECKEY_LEN], d[SHA256_LEN];
        memset(sec, 0x11 * (i + 1), sizeof(sec));
        if (node_key_from_secret(&keys[i], sec) < 0)
            abort();
        /* A fixed identity (p2p_identity_make would draw a random Noise key). */
        memset(ids[i].static_priv, 0x33 + i, NOISE_KEY_LEN);
        if (x25519_public(ids[i].static_priv, ids[i].static_pub) < 0)
            abort();
        memcpy(ids[i].node_pub, keys[i].pub, PUBKEY_LEN);
        p2p_identity_digest(ids[i].static_pub, d);
        ecdsa_sign(&keys[i], d, ids[i].sig);
    }
    if (lock_create(&b, "fuzz", 2, 2, keys, addrs, err, sizeof(err)) < 0 ||
        lock_parse(&lock, (const char *)b.data, b.len, err, sizeof(err)) < 0)
        abort();
    buf_free(&b);
    done = true;
}

static void setup(struct p2p_hs *hs, bool initiator)
{
    int me = initiator ? 0 : 1;
    p2p_hs_init(hs, initiator, &ids[me], &lock, (uint32_t)me, initiator ? 1 : -1);
    noise_hs_set_ephemeral(&hs->noise, eph[me]);
}

/* A raw Noise peer that writes whatever payload it is given. */
static void raw_setup(struct noise_hs *n, bool initiator)
{
    int me = initiator ? 0 : 1;
    noise_hs_init(n, initiator, ids[me].static_priv, P2P_PROLOGUE, strlen(P2P_PROLOGUE));
    noise_hs_set_ephemeral(n, eph[me]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t m1[P2P_HS_MSG_MAX], m2[P2P_HS_MSG_MAX], m3[P2P_HS_MSG_MAX + 64],
        pl[P2P_HS_MSG_MAX + 64];
    size_t l1, l2, l3, plen;
    struct p2p_hs a, b;
    struct noise_hs raw;
    struct p2p_hs_payload p;
    if (size < 1)
        return 0;
    init();
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    switch (data[0] % 6) {
    case 0:
        setup(&b, false);
        p2p_hs_step(&b, in, n, m2, sizeof(m2), &l2);
        break;
    case 1:
        setup(&a, true);
        p2p_hs_start(&a, m1, sizeof(m1), &l1);
        p2p_hs_step(&a, in, n, m3, sizeof(m3), &l3);
        break;
    case 2:
        setup(&a, true);
        setup(&b, false);
        p2p_hs_start(&a, m1, sizeof(m1), &l1);
        if (p2p_hs_step(&b, m1, l1, m2, sizeof(m2), &l2) != P2P_HS_CONTINUE)
            abort(); /* a genuine message 1 must be answered */
        p2p_hs_step(&b, in, n, m3, sizeof(m3), &l3);
        break;
    case 3:
        raw_setup(&raw, true);
        setup(&b, false);
        if (noise_hs_write(&raw, NULL, 0, m1, sizeof(m1), &l1) < 0 ||
            p2p_hs_step(&b, m1, l1, m2, sizeof(m2), &l2) != P2P_HS_CONTINUE ||
            noise_hs_read(&raw, m2, l2, pl, sizeof(pl), &plen) < 0)
            abort();
        if (noise_hs_write(&raw, in, n, m3, sizeof(m3), &l3) == 0)
            p2p_hs_step(&b, m3, l3, m2, sizeof(m2), &l2);
        break;
    case 4:
        p2p_hs_payload_decode(&p, in, n);
        break;
    case 5:
        setup(&a, true);
        raw_setup(&raw, false);
        p2p_hs_start(&a, m1, sizeof(m1), &l1);
        if (noise_hs_read(&raw, m1, l1, pl, sizeof(pl), &plen) < 0)
            abort();
        if (noise_hs_write(&raw, in, n, m2, sizeof(m2), &l2) == 0)
            p2p_hs_step(&a, m2, l2, m3, sizeof(m3), &l3);
        break;
    }
    return 0;
}
