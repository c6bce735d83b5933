/* Unit tests for workers/p2p/noise: the Noise_XX_25519_ChaChaPoly_SHA256 test vector, a full
 * handshake with transport in both directions, and every way a handshake must fail. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "workers/p2p/noise.h"

static void unhex(uint8_t *out, size_t n, const char *hex)
{
    ck_assert_uint_eq(strlen(hex), 2 * n);
    ck_assert_int_eq(hex_decode(out, n, hex, 2 * n), 0);
}

/*
 * The "Noise_XX_25519_ChaChaPoly_SHA256" entry of the cacophony test vectors
 * (haskell-cryptography/cacophony, vectors/cacophony.txt, commit 36c1e5c3): prologue "John Galt",
 * fixed static and ephemeral keys; three handshake messages, then transport messages that
 * alternate responder → initiator, initiator → responder, ...
 */
static const char *const v_prologue = "4a6f686e2047616c74";
static const char *const v_init_static =
    "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1";
static const char *const v_init_ephemeral =
    "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a";
static const char *const v_resp_static =
    "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893";
static const char *const v_resp_ephemeral =
    "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b";
static const struct {
    const char *payload, *ciphertext;
} v_messages[] = {
    {"4c756477696720766f6e204d69736573",
     "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d6973"
     "6573"},
    {"4d757272617920526f746862617264",
     "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f14480884381cbad1f276e038c48378ffce2b6"
     "5285e08d6b68aaa3629a5a8639392490e5b9bd5269c2f1e4f488ed8831161f19b7815528f8982ffe09be9b5c412f"
     "8a0db50f8814c7194e83f23dbd8d162c9326ad"},
    {"462e20412e20486179656b",
     "c7195ffacac1307ff99046f219750fc47693e23c3cb08b89c2af808b444850a80ae475b9df0f169ae80a89be0865"
     "b57f58c9fea0d4ec82a286427402f113e4b6ae769a1d95941d49b25030"},
    {"4361726c204d656e676572", "96763ed773f8e47bb3712f0e29b3060ffc956ffc146cee53d5e1df"},
    {"4a65616e2d426170746973746520536179",
     "3e40f15f6f3a46ae446b253bf8b1d9ffb6ed9b174d272328ff91a7e2e5c79c07f5"},
    {"457567656e2042f6686d20766f6e2042617765726b",
     "eb3f3515110702e047a6c9da4478b6ead94873c11c0f2d710ddb3f09fce024b3a58502ae3f"},
};

static size_t unhex_var(uint8_t *out, size_t cap, const char *hex)
{
    size_t n = strlen(hex) / 2;
    ck_assert_uint_le(n, cap);
    unhex(out, n, hex);
    return n;
}

START_TEST(cacophony_vector)
{
    uint8_t prologue[9], is[32], ie[32], rs[32], re[32];
    unhex(prologue, sizeof(prologue), v_prologue);
    unhex(is, 32, v_init_static);
    unhex(ie, 32, v_init_ephemeral);
    unhex(rs, 32, v_resp_static);
    unhex(re, 32, v_resp_ephemeral);

    struct noise_hs init, resp;
    noise_hs_init(&init, true, is, prologue, sizeof(prologue));
    noise_hs_init(&resp, false, rs, prologue, sizeof(prologue));
    noise_hs_set_ephemeral(&init, ie);
    noise_hs_set_ephemeral(&resp, re);

    uint8_t payload[256], want[512], got[512], back[512];
    size_t plen, wlen, glen, blen;
    for (int i = 0; i < 3; i++) {
        struct noise_hs *w = i % 2 == 0 ? &init : &resp, *r = i % 2 == 0 ? &resp : &init;
        plen = unhex_var(payload, sizeof(payload), v_messages[i].payload);
        wlen = unhex_var(want, sizeof(want), v_messages[i].ciphertext);
        ck_assert(noise_hs_my_turn(w));
        ck_assert(!noise_hs_my_turn(r));
        ck_assert_int_eq(noise_hs_write(w, payload, plen, got, sizeof(got), &glen), 0);
        ck_assert_uint_eq(glen, wlen);
        ck_assert_mem_eq(got, want, wlen);
        ck_assert_int_eq(noise_hs_read(r, got, glen, back, sizeof(back), &blen), 0);
        ck_assert_uint_eq(blen, plen);
        ck_assert_mem_eq(back, payload, plen);
    }
    ck_assert(noise_hs_done(&init) && noise_hs_done(&resp));
    ck_assert_mem_eq(noise_hs_hash(&init), noise_hs_hash(&resp), NOISE_HASH_LEN);
    ck_assert_mem_eq(noise_hs_remote_static(&init), resp.s_pub, 32);
    ck_assert_mem_eq(noise_hs_remote_static(&resp), init.s_pub, 32);

    struct noise_cipher i_tx, i_rx, r_tx, r_rx;
    ck_assert_int_eq(noise_hs_split(&init, &i_tx, &i_rx), 0);
    ck_assert_int_eq(noise_hs_split(&resp, &r_tx, &r_rx), 0);
    for (size_t i = 3; i < ARRAY_LEN(v_messages); i++) {
        bool from_resp = i % 2 == 1;
        struct noise_cipher *tx = from_resp ? &r_tx : &i_tx, *rx = from_resp ? &i_rx : &r_rx;
        plen = unhex_var(payload, sizeof(payload), v_messages[i].payload);
        wlen = unhex_var(want, sizeof(want), v_messages[i].ciphertext);
        ck_assert_int_eq(noise_cipher_encrypt(tx, NULL, 0, payload, plen, got), 0);
        ck_assert_uint_eq(plen + NOISE_TAG_LEN, wlen);
        ck_assert_mem_eq(got, want, wlen);
        ck_assert_int_eq(noise_cipher_decrypt(rx, NULL, 0, got, wlen, back), 0);
        ck_assert_mem_eq(back, payload, plen);
    }
}
END_TEST

/* Run a handshake between two fresh states; returns the split ciphers. */
static void handshake(struct noise_hs *a, struct noise_hs *b, struct noise_cipher *a_tx,
                      struct noise_cipher *a_rx, struct noise_cipher *b_tx,
                      struct noise_cipher *b_rx)
{
    uint8_t sa[32], sb[32], pa[32], pb[32], msg[256], pl[256];
    size_t len, plen;
    x25519_generate(sa, pa);
    x25519_generate(sb, pb);
    noise_hs_init(a, true, sa, "p", 1);
    noise_hs_init(b, false, sb, "p", 1);
    for (int i = 0; i < 3; i++) {
        struct noise_hs *w = i % 2 == 0 ? a : b, *r = i % 2 == 0 ? b : a;
        ck_assert_int_eq(noise_hs_write(w, (const uint8_t *)"hi", 2, msg, sizeof(msg), &len), 0);
        ck_assert_int_eq(noise_hs_read(r, msg, len, pl, sizeof(pl), &plen), 0);
        ck_assert_uint_eq(plen, 2);
    }
    ck_assert_mem_eq(noise_hs_remote_static(a), pb, 32);
    ck_assert_mem_eq(noise_hs_remote_static(b), pa, 32);
    ck_assert_int_eq(noise_hs_split(a, a_tx, a_rx), 0);
    ck_assert_int_eq(noise_hs_split(b, b_tx, b_rx), 0);
}

START_TEST(transport_both_ways)
{
    struct noise_hs a, b;
    struct noise_cipher a_tx, a_rx, b_tx, b_rx;
    handshake(&a, &b, &a_tx, &a_rx, &b_tx, &b_rx);
    uint8_t ct[2000], pt[2000], big[1500];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)i;
    for (int round = 0; round < 5; round++) {
        ck_assert_int_eq(noise_cipher_encrypt(&a_tx, NULL, 0, big, sizeof(big), ct), 0);
        ck_assert_int_eq(noise_cipher_decrypt(&b_rx, NULL, 0, ct, sizeof(big) + 16, pt), 0);
        ck_assert_mem_eq(pt, big, sizeof(big));
        /* Two-part encryption equals one-part; decryption in place. */
        uint8_t head = 7;
        ck_assert_int_eq(noise_cipher_encrypt2(&b_tx, &head, 1, big, 100, ct), 0);
        ck_assert_int_eq(noise_cipher_decrypt(&a_rx, NULL, 0, ct, 101 + 16, ct), 0);
        ck_assert_uint_eq(ct[0], 7);
        ck_assert_mem_eq(ct + 1, big, 100);
    }
    /* A flipped bit, a replay and a truncated message fail. */
    ck_assert_int_eq(noise_cipher_encrypt(&a_tx, NULL, 0, big, 10, ct), 0);
    ct[3] ^= 1;
    ck_assert_int_eq(noise_cipher_decrypt(&b_rx, NULL, 0, ct, 26, pt), -1);
    ct[3] ^= 1;
    ck_assert_int_eq(noise_cipher_decrypt(&b_rx, NULL, 0, ct, 26, pt), 0);
    ck_assert_int_eq(noise_cipher_decrypt(&b_rx, NULL, 0, ct, 26, pt), -1); /* replay */
    ck_assert_int_eq(noise_cipher_decrypt(&b_rx, NULL, 0, ct, 15, pt), -1);
    /* Nonce exhaustion: 2^64-1 is never used. */
    a_tx.n = UINT64_MAX - 1;
    ck_assert_int_eq(noise_cipher_encrypt(&a_tx, NULL, 0, big, 10, ct), 0);
    ck_assert_int_eq(noise_cipher_encrypt(&a_tx, NULL, 0, big, 10, ct), -1);
}
END_TEST

START_TEST(handshake_failures)
{
    uint8_t sa[32], pa[32], sb[32], pb[32], m1[256], m2[256], m3[256], pl[256];
    size_t l1, l2, l3, plen;
    struct noise_hs a, b;
    x25519_generate(sa, pa);
    x25519_generate(sb, pb);

    /* Out of turn: the responder cannot write first, the initiator cannot read first. */
    noise_hs_init(&b, false, sb, NULL, 0);
    ck_assert_int_eq(noise_hs_write(&b, NULL, 0, m1, sizeof(m1), &l1), -1);
    ck_assert_int_eq(noise_hs_read(&b, pa, 32, pl, sizeof(pl), &plen), -1); /* stays failed */
    noise_hs_init(&a, true, sa, NULL, 0);
    ck_assert_int_eq(noise_hs_read(&a, pa, 32, pl, sizeof(pl), &plen), -1);

    /* Short message 1; message 2 tampered; different prologues. */
    noise_hs_init(&b, false, sb, NULL, 0);
    ck_assert_int_eq(noise_hs_read(&b, pa, 31, pl, sizeof(pl), &plen), -1);
    noise_hs_init(&a, true, sa, NULL, 0);
    noise_hs_init(&b, false, sb, NULL, 0);
    ck_assert_int_eq(noise_hs_write(&a, NULL, 0, m1, sizeof(m1), &l1), 0);
    ck_assert_int_eq(noise_hs_read(&b, m1, l1, pl, sizeof(pl), &plen), 0);
    ck_assert_int_eq(noise_hs_write(&b, NULL, 0, m2, sizeof(m2), &l2), 0);
    m2[40] ^= 0x80;
    ck_assert_int_eq(noise_hs_read(&a, m2, l2, pl, sizeof(pl), &plen), -1);
    ck_assert(!noise_hs_done(&a));
    ck_assert_int_eq(noise_hs_write(&a, NULL, 0, m3, sizeof(m3), &l3), -1);

    noise_hs_init(&a, true, sa, "x", 1);
    noise_hs_init(&b, false, sb, "y", 1);
    ck_assert_int_eq(noise_hs_write(&a, NULL, 0, m1, sizeof(m1), &l1), 0);
    ck_assert_int_eq(noise_hs_read(&b, m1, l1, pl, sizeof(pl), &plen), 0);
    ck_assert_int_eq(noise_hs_write(&b, NULL, 0, m2, sizeof(m2), &l2), 0);
    ck_assert_int_eq(noise_hs_read(&a, m2, l2, pl, sizeof(pl), &plen), -1);

    /* A low-order ephemeral key (all zeros) makes DH fail. */
    noise_hs_init(&b, false, sb, NULL, 0);
    memset(m1, 0, 32);
    ck_assert_int_eq(noise_hs_read(&b, m1, 32, pl, sizeof(pl), &plen), 0);
    ck_assert_int_eq(noise_hs_write(&b, NULL, 0, m2, sizeof(m2), &l2), -1);

    /* A payload larger than the caller's buffer, and an output buffer too small. */
    noise_hs_init(&a, true, sa, NULL, 0);
    noise_hs_init(&b, false, sb, NULL, 0);
    ck_assert_int_eq(noise_hs_write(&a, pl, 100, m1, sizeof(m1), &l1), 0);
    ck_assert_int_eq(noise_hs_read(&b, m1, l1, pl, 50, &plen), -1);
    noise_hs_init(&a, true, sa, NULL, 0);
    ck_assert_int_eq(noise_hs_write(&a, pl, 100, m1, 100, &l1), -1);

    /* Split before the end fails; nothing is readable after the third message. */
    noise_hs_init(&a, true, sa, NULL, 0);
    struct noise_cipher tx, rx;
    ck_assert_int_eq(noise_hs_split(&a, &tx, &rx), -1);
    ck_assert_ptr_null(noise_hs_remote_static(&a));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("noise");
    TCase *tc = tcase_create("noise");
    tcase_add_test(tc, cacophony_vector);
    tcase_add_test(tc, transport_both_ways);
    tcase_add_test(tc, handshake_failures);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
