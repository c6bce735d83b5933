/*
 * Fuzz target: the QBFT message decoder (wire and intent forms), the certificate decoder, and the
 * engine's verifier behind it. Signatures are accepted by a stub so the fuzzer reaches the rules
 * after the signature check (windows, replay, equivocation, justification semantics, upon rules).
 * A fresh engine per input keeps runs reproducible.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "proto/qbft.h"
#include "workers/qbft/qbft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void f_send(void *ctx, uint8_t type, const uint8_t *msg, size_t len)
{
    (void)ctx;
    (void)type;
    (void)msg;
    (void)len;
}

static void f_unicast(void *ctx, unsigned peer, uint8_t type, const uint8_t *msg, size_t len)
{
    (void)peer;
    f_send(ctx, type, msg, len);
}

static int f_sign(void *ctx, const uint8_t digest[SHA256_LEN], uint8_t sig[SIG_LEN])
{
    (void)ctx;
    memcpy(sig, digest, SHA256_LEN);
    memset(sig + SHA256_LEN, 0, SIG_LEN - SHA256_LEN);
    return 0;
}

static bool f_verify(void *ctx, unsigned signer, const uint8_t digest[SHA256_LEN],
                     const uint8_t sig[SIG_LEN])
{
    (void)ctx;
    (void)signer;
    (void)digest;
    (void)sig;
    return true;
}

static int f_get(void *ctx, const struct qbft_id *id, uint64_t round, uint8_t type,
                 const uint8_t **bytes, size_t *len)
{
    (void)ctx;
    (void)id;
    (void)round;
    (void)type;
    (void)bytes;
    (void)len;
    return 0;
}

static int f_put(void *ctx, const struct qbft_id *id, uint64_t round, uint8_t type,
                 const uint8_t *bytes, size_t len)
{
    (void)ctx;
    (void)id;
    (void)round;
    (void)type;
    (void)bytes;
    (void)len;
    return 0;
}

static void f_decided(void *ctx, const struct qbft_id *id, const uint8_t *value, size_t len,
                      const uint8_t value_hash[QBFT_HASH_LEN], uint64_t round, const uint8_t *cert,
                      size_t cert_len)
{
    (void)ctx;
    (void)id;
    (void)value;
    (void)len;
    (void)value_hash;
    (void)round;
    (void)cert;
    (void)cert_len;
}

static uint8_t pubkeys[4][PUBKEY_LEN];

static void keys_once(void)
{
    if (pubkeys[0][0])
        return;
    for (int i = 0; i < 4; i++) {
        struct node_key k;
        uint8_t sec[SECKEY_LEN];
        memset(sec, i + 1, sizeof(sec));
        if (node_key_from_secret(&k, sec) < 0)
            abort();
        memcpy(pubkeys[i], k.pub, PUBKEY_LEN);
    }
}

static void codec(const uint8_t *data, size_t size)
{
    struct qbft_msg *m = xmalloc(sizeof(*m));
    for (int mode = QBFT_DECODE_WIRE; mode <= QBFT_DECODE_INTENT; mode++) {
        if (qbft_msg_decode(m, data, size, (enum qbft_decode_mode)mode) < 0)
            continue;
        /* Re-encoding a decoded message decodes to the same message. (The outer framing may
         * use longer msgpack forms than ours; the signed body is canonical.) */
        struct buf out = BUF_INIT;
        struct qbft_sigref self = {m->m.body, m->m.body_len, m->m.sig};
        struct qbft_sigref *just = xmalloc((m->njust + 1) * sizeof(*just));
        for (uint32_t i = 0; i < m->njust; i++)
            just[i] = (struct qbft_sigref){m->just[i].body, m->just[i].body_len, m->just[i].sig};
        qbft_msg_encode(&out, &self, m->has_value ? m->value : NULL, m->value_len, just, m->njust);
        struct qbft_msg *again = xmalloc(sizeof(*again));
        if (qbft_msg_decode(again, out.data, out.len, (enum qbft_decode_mode)mode) < 0 ||
            again->m.body_len != m->m.body_len ||
            memcmp(again->m.body, m->m.body, m->m.body_len) != 0 || again->njust != m->njust ||
            again->has_value != m->has_value || again->value_len != m->value_len ||
            (m->value_len && memcmp(again->value, m->value, m->value_len) != 0))
            abort();
        free(again);
        struct buf body = BUF_INIT;
        qbft_body_encode(&body, &m->m.b);
        if (body.len != m->m.body_len || memcmp(body.data, m->m.body, body.len) != 0)
            abort();
        buf_free(&body);
        buf_free(&out);
        free(just);
    }
    size_t count;
    qbft_cert_decode(data, size, m->just, QBFT_MAX_JUST, &count);
    uint64_t round;
    qbft_cert_verify(data, size, 4, (const uint8_t(*)[PUBKEY_LEN])pubkeys, pubkeys[0], 0, 7, NULL,
                     &round, NULL);
    free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    keys_once();
    codec(data, size);

    struct qbft_config cfg;
    qbft_config_defaults(&cfg);
    cfg.n = 4;
    cfg.self = 1;
    cfg.pubkeys = (const uint8_t(*)[PUBKEY_LEN])pubkeys;
    cfg.sig_cache = 16;
    struct qbft_host host = {.broadcast = f_send,
                             .unicast = f_unicast,
                             .sign = f_sign,
                             .verify = f_verify,
                             .intent_get = f_get,
                             .intent_put = f_put,
                             .decided = f_decided};
    char err[128];
    struct qbft_engine *e = qbft_engine_new(&cfg, &host, err, sizeof(err));
    if (!e)
        abort();
    struct qbft_id a = {0, 7}, b = {1, 8};
    qbft_start(e, &a, (const uint8_t *)"A", 1, 0, 0);
    qbft_start(e, &b, (const uint8_t *)"B", 1, 0, 0);
    /* The input twice (the second is a replay or an equivocation), then split in two at its
     * first byte's position, and a timer tick in between. */
    qbft_receive(e, data, size, 0, 10);
    qbft_receive(e, data, size, 2, 20);
    qbft_tick(e, 5000);
    if (size > 1) {
        size_t cut = data[0] % size;
        qbft_receive(e, data, cut, 3, 5001);
        qbft_receive(e, data + cut, size - cut, 3, 5002);
    }
    qbft_engine_free(e);
    return 0;
}
