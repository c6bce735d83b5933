/* Unit tests for the pure P2P modules: identity, handshake (identity binding and AllowList),
 * frame codec bounds, token bucket, score decay and the gate order. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/lock.h"
#include "lib/mp.h"
#include "lib/util.h"
#include "workers/p2p/frame.h"
#include "workers/p2p/gate.h"
#include "workers/p2p/handshake.h"
#include "proto/p2p_identity.h"

#define N 4

static struct node_key keys[N + 1]; /* keys[N] is outside the lock */
static struct p2p_identity ids[N + 1];
static struct lock lock, other_lock;

static void setup(void)
{
    static const char *const addrs[N] = {"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3",
                                         "127.0.0.1:4"};
    struct buf b = BUF_INIT;
    char err[256];
    for (int i = 0; i <= N; i++) {
        node_key_generate(&keys[i]);
        p2p_identity_make(&keys[i], &ids[i]);
    }
    ck_assert_int_eq(lock_create(&b, "one", 3, N, keys, addrs, err, sizeof(err)), 0);
    ck_assert_int_eq(lock_parse(&lock, (char *)b.data, b.len, err, sizeof(err)), 0);
    buf_reset(&b);
    /* The same operators under another cluster definition. */
    ck_assert_int_eq(lock_create(&b, "two", 3, N, keys, addrs, err, sizeof(err)), 0);
    ck_assert_int_eq(lock_parse(&other_lock, (char *)b.data, b.len, err, sizeof(err)), 0);
    buf_free(&b);
}

/* ---- identity ---- */

START_TEST(identity_blob)
{
    uint8_t blob[P2P_IDENTITY_BLOB_LEN];
    struct p2p_identity back;
    char err[200];
    p2p_identity_encode(&ids[1], blob);
    ck_assert_mem_eq(blob, P2P_IDENTITY_MAGIC, 8);
    ck_assert_int_eq(p2p_identity_decode(&back, blob, sizeof(blob), err, sizeof(err)), 0);
    ck_assert_mem_eq(&back, &ids[1], sizeof(back));
    ck_assert(p2p_identity_verify(keys[1].pub, back.static_pub, back.sig));
    ck_assert(!p2p_identity_verify(keys[2].pub, back.static_pub, back.sig));

    /* The signature is over SHA-256(domain ‖ static key) by the node key. */
    uint8_t d[SHA256_LEN];
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, "aequa-noise-static-key:", 23);
    sha256_update(&c, back.static_pub, 32);
    sha256_final(&c, d);
    ck_assert(ecdsa_verify(keys[1].pub, d, back.sig));

    ck_assert_int_eq(p2p_identity_decode(&back, blob, sizeof(blob) - 1, err, sizeof(err)), -1);
    blob[0] ^= 1;
    ck_assert_int_eq(p2p_identity_decode(&back, blob, sizeof(blob), err, sizeof(err)), -1);
    blob[0] ^= 1;
    blob[10] ^= 1; /* another static key: the signature no longer certifies it */
    ck_assert_int_eq(p2p_identity_decode(&back, blob, sizeof(blob), err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "does not certify"), "%s", err);

    char path[] = "/tmp/aequa-test-identity-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(p2p_identity_save(&ids[2], path), 0);
    ck_assert_int_eq(p2p_identity_load(&back, path, err, sizeof(err)), 0);
    ck_assert_mem_eq(&back, &ids[2], sizeof(back));
    /* The next spawn's identity replaces it whole (owner-only, no temporary file left). */
    ck_assert_int_eq(p2p_identity_save(&ids[1], path), 0);
    ck_assert_int_eq(p2p_identity_load(&back, path, err, sizeof(err)), 0);
    ck_assert_mem_eq(&back, &ids[1], sizeof(back));
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    char tmp[sizeof(path) + 32];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    ck_assert_int_eq(access(tmp, F_OK), -1);
    unlink(path);
    ck_assert_int_eq(p2p_identity_load(&back, path, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, path), "%s", err);
}
END_TEST

/* ---- handshake ---- */

struct run {
    enum p2p_hs_status a, b; /* final status of initiator, responder */
    struct p2p_hs ha, hb;
};

/* Drive a handshake between initiator a and responder b until one side stops. */
static void run_hs(struct run *r, const struct p2p_identity *ida, const struct lock *la,
                   uint32_t self_a, int expect, const struct p2p_identity *idb,
                   const struct lock *lb, uint32_t self_b)
{
    uint8_t m[P2P_HS_MSG_MAX], reply[P2P_HS_MSG_MAX];
    size_t len, rlen;
    p2p_hs_init(&r->ha, true, ida, la, self_a, expect);
    p2p_hs_init(&r->hb, false, idb, lb, self_b, -1);
    r->a = p2p_hs_start(&r->ha, m, sizeof(m), &len);
    ck_assert_int_eq(r->a, P2P_HS_CONTINUE);
    r->b = p2p_hs_step(&r->hb, m, len, reply, sizeof(reply), &rlen); /* msg 1 -> msg 2 */
    if (r->b != P2P_HS_CONTINUE)
        return;
    r->a = p2p_hs_step(&r->ha, reply, rlen, m, sizeof(m), &len); /* msg 2 -> msg 3 */
    if (r->a != P2P_HS_DONE) {
        ck_assert_uint_eq(len, 0); /* nothing is sent to a rejected responder */
        return;
    }
    r->b = p2p_hs_step(&r->hb, m, len, reply, sizeof(reply), &rlen);
}

START_TEST(handshake_members)
{
    struct run r;
    run_hs(&r, &ids[0], &lock, 0, 3, &ids[3], &lock, 3);
    ck_assert_int_eq(r.a, P2P_HS_DONE);
    ck_assert_int_eq(r.b, P2P_HS_DONE);
    ck_assert_int_eq(r.ha.peer, 3);
    ck_assert_int_eq(r.hb.peer, 0);
    struct noise_cipher atx, arx, btx, brx;
    ck_assert_int_eq(p2p_hs_split(&r.ha, &atx, &arx), 0);
    ck_assert_int_eq(p2p_hs_split(&r.hb, &btx, &brx), 0);
    struct buf f = BUF_INIT;
    ck_assert_int_eq(p2p_frame_seal(&atx, &f, P2P_TOPIC_QBFT, (const uint8_t *)"vote", 4), 0);
    uint8_t topic;
    const uint8_t *pl;
    size_t plen;
    ck_assert_int_eq(p2p_frame_open(&brx, f.data + 4, f.len - 4, &topic, &pl, &plen), P2P_FRAME_OK);
    ck_assert_uint_eq(topic, P2P_TOPIC_QBFT);
    ck_assert_mem_eq(pl, "vote", 4);
    buf_free(&f);
}
END_TEST

START_TEST(handshake_outsiders)
{
    struct run r;
    /* An outsider dials a member: the member denies it on message 3. */
    run_hs(&r, &ids[N], &lock, 0, 1, &ids[1], &lock, 1);
    ck_assert_int_eq(r.a, P2P_HS_DONE);
    ck_assert_int_eq(r.b, P2P_HS_DENIED);
    ck_assert_int_eq(r.hb.peer, -1);
    ck_assert_str_eq(r.hb.why, "key is not an operator of the cluster lock");
    struct noise_cipher tx, rx;
    ck_assert_int_eq(p2p_hs_split(&r.hb, &tx, &rx), -1);

    /* A member dials an outsider listening at operator 1's address. */
    run_hs(&r, &ids[0], &lock, 0, 1, &ids[N], &lock, 1);
    ck_assert_int_eq(r.a, P2P_HS_DENIED);

    /* The peer is a member, but not the one dialled. */
    run_hs(&r, &ids[0], &lock, 0, 2, &ids[1], &lock, 1);
    ck_assert_int_eq(r.a, P2P_HS_DENIED);
    ck_assert_str_eq(r.ha.why, "peer is not the operator dialled");

    /* Our own key on the other side. */
    run_hs(&r, &ids[0], &lock, 0, 1, &ids[0], &lock, 1);
    ck_assert_int_eq(r.a, P2P_HS_DENIED);
    ck_assert_str_eq(r.ha.why, "peer presented this node's own key");

    /* A member key that runs another lock: dkg_denied, peer known. */
    run_hs(&r, &ids[2], &other_lock, 2, 1, &ids[1], &lock, 1);
    ck_assert_int_eq(r.a, P2P_HS_DKG_DENIED); /* the initiator sees the mismatch first */
    ck_assert_int_eq(r.ha.peer, 1);
    run_hs(&r, &ids[2], &lock, 2, 1, &ids[1], &other_lock, 1);
    ck_assert_int_eq(r.a, P2P_HS_DKG_DENIED);

    /* A forged identity: operator 2's public key over a static key it never certified. */
    struct p2p_identity forged = ids[N];
    memcpy(forged.node_pub, keys[2].pub, PUBKEY_LEN);
    run_hs(&r, &forged, &lock, 2, 1, &ids[1], &lock, 1);
    ck_assert_int_eq(r.b, P2P_HS_DENIED);
    ck_assert_str_eq(r.hb.why, "identity signature does not certify the Noise key");
}
END_TEST

START_TEST(handshake_malformed)
{
    struct p2p_hs a, b;
    uint8_t m[P2P_HS_MSG_MAX], reply[P2P_HS_MSG_MAX];
    size_t len, rlen;

    /* A tampered message 2. */
    p2p_hs_init(&a, true, &ids[0], &lock, 0, 1);
    p2p_hs_init(&b, false, &ids[1], &lock, 1, -1);
    ck_assert_int_eq(p2p_hs_start(&a, m, sizeof(m), &len), P2P_HS_CONTINUE);
    ck_assert_int_eq(p2p_hs_step(&b, m, len, reply, sizeof(reply), &rlen), P2P_HS_CONTINUE);
    reply[rlen - 1] ^= 1;
    ck_assert_int_eq(p2p_hs_step(&a, reply, rlen, m, sizeof(m), &len), P2P_HS_FAILED);
    ck_assert_int_eq(p2p_hs_step(&a, reply, rlen, m, sizeof(m), &len), P2P_HS_FAILED);

    /* Message 1 with a payload; oversized and undersized messages. */
    struct noise_hs raw;
    noise_hs_init(&raw, true, ids[0].static_priv, P2P_PROLOGUE, strlen(P2P_PROLOGUE));
    ck_assert_int_eq(noise_hs_write(&raw, (const uint8_t *)"x", 1, m, sizeof(m), &len), 0);
    p2p_hs_init(&b, false, &ids[1], &lock, 1, -1);
    ck_assert_int_eq(p2p_hs_step(&b, m, len, reply, sizeof(reply), &rlen), P2P_HS_FAILED);
    p2p_hs_init(&b, false, &ids[1], &lock, 1, -1);
    ck_assert_int_eq(p2p_hs_step(&b, m, P2P_HS_MSG_MAX + 1, reply, sizeof(reply), &rlen),
                     P2P_HS_FAILED);
    p2p_hs_init(&b, false, &ids[1], &lock, 1, -1);
    ck_assert_int_eq(p2p_hs_step(&b, m, 31, reply, sizeof(reply), &rlen), P2P_HS_FAILED);

    /* The responder cannot start. */
    p2p_hs_init(&b, false, &ids[1], &lock, 1, -1);
    ck_assert_int_eq(p2p_hs_start(&b, m, sizeof(m), &len), P2P_HS_FAILED);
}
END_TEST

START_TEST(handshake_payload_codec)
{
    struct p2p_hs_payload p, q;
    struct buf b = BUF_INIT;
    memcpy(p.node_pub, keys[0].pub, PUBKEY_LEN);
    memcpy(p.sig, ids[0].sig, SIG_LEN);
    memcpy(p.lock_hash, lock.hash, SHA256_LEN);
    p2p_hs_payload_encode(&p, &b);
    ck_assert_uint_le(b.len, P2P_HS_PAYLOAD_MAX);
    ck_assert_int_eq(p2p_hs_payload_decode(&q, b.data, b.len), 0);
    ck_assert_mem_eq(&p, &q, sizeof(p));
    /* Every strict prefix fails; a trailing byte fails. */
    for (size_t i = 0; i < b.len; i++)
        ck_assert_int_eq(p2p_hs_payload_decode(&q, b.data, i), -1);
    buf_append(&b, "", 1);
    ck_assert_int_eq(p2p_hs_payload_decode(&q, b.data, b.len), -1);
    /* Another version, a short key. */
    buf_reset(&b);
    mp_w_array(&b, 4);
    mp_w_uint(&b, 2);
    mp_w_bin(&b, p.node_pub, PUBKEY_LEN);
    mp_w_bin(&b, p.sig, SIG_LEN);
    mp_w_bin(&b, p.lock_hash, SHA256_LEN);
    ck_assert_int_eq(p2p_hs_payload_decode(&q, b.data, b.len), -1);
    buf_reset(&b);
    mp_w_array(&b, 4);
    mp_w_uint(&b, 1);
    mp_w_bin(&b, p.node_pub, PUBKEY_LEN - 1);
    mp_w_bin(&b, p.sig, SIG_LEN);
    mp_w_bin(&b, p.lock_hash, SHA256_LEN);
    ck_assert_int_eq(p2p_hs_payload_decode(&q, b.data, b.len), -1);
    buf_free(&b);
}
END_TEST

START_TEST(dkg_gate)
{
    char path[] = "/tmp/aequa-test-dkg-XXXXXX", err[600];
    struct buf b = BUF_INIT;
    static const char *const addrs[N] = {"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3",
                                         "127.0.0.1:4"};
    struct lock l;
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(lock_create(&b, "one", 3, N, keys, addrs, err, sizeof(err)), 0);
    ck_assert_int_eq(write_file_atomic(path, b.data, b.len, 0644), 0);
    ck_assert_msg(p2p_dkg_gate(&l, path, 2, &ids[2], err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(p2p_dkg_gate(&l, path, 1, &ids[2], err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "operators[1].pubkey: does not match"), "%s", err);
    ck_assert_int_eq(p2p_dkg_gate(&l, path, 0, &ids[N], err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "not in the lock"), "%s", err);
    struct p2p_identity bad = ids[2];
    bad.sig[5] ^= 1;
    ck_assert_int_eq(p2p_dkg_gate(&l, path, 2, &bad, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "does not certify"), "%s", err);
    /* A tampered lock fails first, naming the field. */
    char *p = strstr((char *)b.data, "\"threshold\": 3");
    ck_assert_ptr_nonnull(p);
    p[13] = '4';
    ck_assert_int_eq(write_file_atomic(path, b.data, b.len, 0644), 0);
    ck_assert_int_eq(p2p_dkg_gate(&l, path, 2, &ids[2], err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "lock_hash: does not match"), "%s", err);
    unlink(path);
    buf_free(&b);
}
END_TEST

/* ---- frames ---- */

START_TEST(frame_length_bounds)
{
    uint8_t h[4] = {0};
    size_t n;
    ck_assert_int_eq(p2p_frame_length(h, 3, 17, 1000, &n), P2P_FRAME_NEED_MORE);
    static const struct {
        uint32_t len;
        enum p2p_frame_len want;
    } rows[] = {
        {0, P2P_FRAME_BAD_LEN},
        {16, P2P_FRAME_BAD_LEN},
        {17, P2P_FRAME_HAVE_LEN},
        {1000, P2P_FRAME_HAVE_LEN},
        {1001, P2P_FRAME_BAD_LEN},
        {0xffffffffu, P2P_FRAME_BAD_LEN},
        {0x01000000u + 17, P2P_FRAME_BAD_LEN},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        h[0] = (uint8_t)(rows[i].len >> 24);
        h[1] = (uint8_t)(rows[i].len >> 16);
        h[2] = (uint8_t)(rows[i].len >> 8);
        h[3] = (uint8_t)rows[i].len;
        n = 0;
        ck_assert_int_eq(p2p_frame_length(h, 4, 17, 1000, &n), rows[i].want);
        if (rows[i].want == P2P_FRAME_HAVE_LEN)
            ck_assert_uint_eq(n, rows[i].len);
    }
}
END_TEST

static void pair(struct noise_cipher *tx, struct noise_cipher *rx)
{
    memset(tx, 0, sizeof(*tx));
    random_bytes(tx->k, sizeof(tx->k));
    tx->has_key = true;
    *rx = *tx;
}

START_TEST(frame_seal_open)
{
    struct noise_cipher tx, rx;
    struct buf f = BUF_INIT;
    uint8_t topic;
    const uint8_t *pl;
    size_t plen, blen;
    pair(&tx, &rx);
    for (unsigned t = 1; t < P2P_TOPIC_COUNT; t++) {
        buf_reset(&f);
        ck_assert_int_eq(p2p_frame_seal(&tx, &f, (uint8_t)t, (const uint8_t *)"abc", 3), 0);
        ck_assert_uint_eq(f.len, 3 + P2P_FRAME_OVERHEAD);
        ck_assert_int_eq(p2p_frame_length(f.data, f.len, P2P_FRAME_MIN_BODY, 100, &blen),
                         P2P_FRAME_HAVE_LEN);
        ck_assert_uint_eq(blen, f.len - 4);
        ck_assert_int_eq(p2p_frame_open(&rx, f.data + 4, blen, &topic, &pl, &plen), P2P_FRAME_OK);
        ck_assert_uint_eq(topic, t);
        ck_assert_uint_eq(plen, 3);
        ck_assert_mem_eq(pl, "abc", 3);
    }
    static const struct {
        uint8_t topic;
        const char *payload;
        size_t len;
        enum p2p_frame_result want;
    } rows[] = {
        {P2P_TOPIC_CONTROL, "\x01", 1, P2P_FRAME_OK},
        {P2P_TOPIC_CONTROL, "\x02", 1, P2P_FRAME_OK},
        {P2P_TOPIC_CONTROL, "\x03", 1, P2P_FRAME_UNDECODABLE},
        {P2P_TOPIC_CONTROL, "\x01\x01", 2, P2P_FRAME_UNDECODABLE},
        {P2P_TOPIC_CONTROL, "", 0, P2P_FRAME_UNDECODABLE},
        {P2P_TOPIC_QBFT, "", 0, P2P_FRAME_UNDECODABLE},
        {P2P_TOPIC_COUNT, "x", 1, P2P_FRAME_UNDECODABLE},
        {0xff, "x", 1, P2P_FRAME_UNDECODABLE},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        buf_reset(&f);
        ck_assert_int_eq(
            p2p_frame_seal(&tx, &f, rows[i].topic, (const uint8_t *)rows[i].payload, rows[i].len),
            0);
        ck_assert_int_eq(p2p_frame_open(&rx, f.data + 4, f.len - 4, &topic, &pl, &plen),
                         rows[i].want);
    }
    /* Tampered, truncated, replayed: broken. */
    buf_reset(&f);
    ck_assert_int_eq(p2p_frame_seal(&tx, &f, P2P_TOPIC_TX, (const uint8_t *)"tx", 2), 0);
    uint8_t copy[64];
    memcpy(copy, f.data, f.len);
    f.data[5] ^= 1;
    ck_assert_int_eq(p2p_frame_open(&rx, f.data + 4, f.len - 4, &topic, &pl, &plen),
                     P2P_FRAME_BROKEN);
    ck_assert_int_eq(p2p_frame_open(&rx, copy + 4, 16, &topic, &pl, &plen), P2P_FRAME_BROKEN);
    memcpy(f.data, copy, f.len);
    ck_assert_int_eq(p2p_frame_open(&rx, f.data + 4, f.len - 4, &topic, &pl, &plen), P2P_FRAME_OK);
    memcpy(f.data, copy, f.len);
    ck_assert_int_eq(p2p_frame_open(&rx, f.data + 4, f.len - 4, &topic, &pl, &plen),
                     P2P_FRAME_BROKEN);
    buf_free(&f);

    ck_assert_str_eq(p2p_topic_name(P2P_TOPIC_QBFT), "aequa/qbft/v1");
    ck_assert_str_eq(p2p_topic_name(P2P_TOPIC_TX), "aequa/tx/v1");
    ck_assert_str_eq(p2p_topic_name(P2P_TOPIC_TSS), "aequa/tss/v1");
    ck_assert_ptr_null(p2p_topic_name(P2P_TOPIC_COUNT));
    ck_assert_int_eq(p2p_topic_parse("aequa/tss/v1"), P2P_TOPIC_TSS);
    ck_assert_int_eq(p2p_topic_parse("aequa/qbft/v2"), -1);
}
END_TEST

/* ---- gates ---- */

START_TEST(token_bucket)
{
    struct p2p_bucket b;
    p2p_bucket_init(&b, 10, 5, 1000); /* 10/s, burst 5, starts full */
    for (int i = 0; i < 5; i++)
        ck_assert(p2p_bucket_take(&b, 1, 1000));
    ck_assert(!p2p_bucket_take(&b, 1, 1000));
    ck_assert(!p2p_bucket_take(&b, 1, 1099)); /* 0.99 tokens */
    ck_assert(p2p_bucket_take(&b, 1, 1100));
    ck_assert(!p2p_bucket_take(&b, 1, 1100));
    ck_assert(!p2p_bucket_take(&b, 6, 100000)); /* never more than the burst */
    ck_assert(p2p_bucket_take(&b, 5, 100000));
    /* A clock that goes backwards refills nothing. */
    ck_assert(!p2p_bucket_take(&b, 1, 50));
    /* A take larger than what is there takes nothing. */
    p2p_bucket_init(&b, 1000, 100, 0);
    ck_assert(!p2p_bucket_take(&b, 101, 0));
    ck_assert_uint_eq(p2p_bucket_tokens(&b), 100);
    /* Large rates and long idle periods do not overflow. */
    p2p_bucket_init(&b, 10000000000ull, 10000000000ull, 0);
    ck_assert(p2p_bucket_take(&b, 10000000000ull, 0));
    ck_assert(p2p_bucket_take(&b, 10000000000ull, UINT64_MAX / 2));
}
END_TEST

static const struct p2p_score_params sp = {
    .threshold = -100, .cooldown_ms = 1000, .recover_per_s = 10};

START_TEST(score_decay)
{
    struct p2p_score s;
    p2p_score_init(&s, 0);
    for (int i = 0; i < 9; i++)
        ck_assert(!p2p_score_report(&s, &sp, P2P_REPORT_UNDECODABLE, 0));
    ck_assert(!p2p_score_blocked(&s, &sp, 0));
    ck_assert(p2p_score_report(&s, &sp, P2P_REPORT_UNDECODABLE, 0)); /* -100: out */
    ck_assert(p2p_score_blocked(&s, &sp, 0));
    ck_assert(p2p_score_blocked(&s, &sp, 999));
    ck_assert(!p2p_score_blocked(&s, &sp, 1000)); /* cool-down over, score -90 */
    ck_assert(p2p_score_value(&s, &sp, 1000) == -90.0);
    ck_assert(p2p_score_value(&s, &sp, 10000) == 0.0); /* recovers up to 0, never above */
    ck_assert(p2p_score_value(&s, &sp, 20000) == 0.0);

    /* The score bottoms out at 2 x threshold; the ban lasts until it recovers above it. */
    p2p_score_init(&s, 0);
    for (int i = 0; i < 100; i++)
        p2p_score_report(&s, &sp, P2P_REPORT_EQUIVOCATION, 0);
    ck_assert(p2p_score_value(&s, &sp, 0) == -200.0);
    ck_assert(p2p_score_blocked(&s, &sp, 1000));   /* -190 */
    ck_assert(p2p_score_blocked(&s, &sp, 10000));  /* -100: not above the threshold yet */
    ck_assert(!p2p_score_blocked(&s, &sp, 10100)); /* -99 */

    /* A report while scored out restarts the cool-down. */
    p2p_score_init(&s, 0);
    for (int i = 0; i < 4; i++)
        p2p_score_report(&s, &sp, P2P_REPORT_INVALID_SIG, 0);
    ck_assert(p2p_score_blocked(&s, &sp, 0));
    ck_assert(!p2p_score_report(&s, &sp, P2P_REPORT_INVALID_SIG, 900)); /* not newly */
    ck_assert(p2p_score_blocked(&s, &sp, 1500));
    ck_assert(!p2p_score_blocked(&s, &sp, 12000));

    ck_assert_str_eq(p2p_report_name(P2P_REPORT_INVALID_SIG), "invalid_signature");
    ck_assert_str_eq(p2p_report_name(P2P_REPORT_EQUIVOCATION), "equivocation");
    ck_assert_int_gt(p2p_report_penalty(P2P_REPORT_UNDECODABLE), 0);
}
END_TEST

START_TEST(gate_order_and_labels)
{
    struct p2p_gate_params p = {.rate_msgs = 1,
                                .burst_msgs = 3,
                                .rate_bytes = 1000,
                                .burst_bytes = 1000,
                                .conn_rate = 1,
                                .conn_burst = 2,
                                .score = sp};
    struct p2p_peer_gate g;
    p2p_gate_init(&g, &p, 0);
    ck_assert_int_eq(p2p_gate_message(&g, &p, 100, 0), P2P_GATE_ALLOWED);
    ck_assert_int_eq(p2p_gate_message(&g, &p, 2000, 0), P2P_GATE_RATE_LIMITED); /* bytes */
    ck_assert_uint_eq(p2p_bucket_tokens(&g.msgs), 2); /* a refused message takes nothing */
    ck_assert_int_eq(p2p_gate_message(&g, &p, 100, 0), P2P_GATE_ALLOWED);
    /* Score out the peer: with tokens left the Score gate answers; without, Rate does. */
    for (int i = 0; i < 10; i++)
        p2p_score_report(&g.score, &p.score, P2P_REPORT_UNDECODABLE, 0);
    ck_assert_int_eq(p2p_gate_message(&g, &p, 100, 0), P2P_GATE_SCORED_OUT);
    ck_assert_int_eq(p2p_gate_message(&g, &p, 100, 0), P2P_GATE_RATE_LIMITED);
    ck_assert_int_eq(p2p_gate_connection(&g, &p, 0), P2P_GATE_SCORED_OUT);
    ck_assert_int_eq(p2p_gate_connection(&g, &p, 0), P2P_GATE_SCORED_OUT);
    ck_assert_int_eq(p2p_gate_connection(&g, &p, 0), P2P_GATE_RATE_LIMITED);
    ck_assert_int_eq(p2p_gate_connection(&g, &p, 2000), P2P_GATE_ALLOWED);

    static const char *const labels[] = {"allowed",         "denied",       "limited",
                                         "dkg_denied",      "rate_limited", "scored_out",
                                         "handshake_failed"};
    ck_assert_uint_eq(ARRAY_LEN(labels), P2P_GATE_COUNT);
    for (int r = 0; r < P2P_GATE_COUNT; r++)
        ck_assert_str_eq(p2p_gate_result_name((enum p2p_gate_result)r), labels[r]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("p2p_core");
    TCase *tc = tcase_create("p2p_core");
    tcase_set_timeout(tc, 30);
    tcase_add_unchecked_fixture(tc, setup, NULL);
    tcase_add_test(tc, identity_blob);
    tcase_add_test(tc, handshake_members);
    tcase_add_test(tc, handshake_outsiders);
    tcase_add_test(tc, handshake_malformed);
    tcase_add_test(tc, handshake_payload_codec);
    tcase_add_test(tc, dkg_gate);
    tcase_add_test(tc, frame_length_bounds);
    tcase_add_test(tc, frame_seal_open);
    tcase_add_test(tc, token_bucket);
    tcase_add_test(tc, score_decay);
    tcase_add_test(tc, gate_order_and_labels);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
