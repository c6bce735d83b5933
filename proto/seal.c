#include "proto/seal.h"
#include "lib/mp.h"

#include <string.h>

void qbft_topic_encode(struct buf *b, enum qbft_topic_kind kind, const void *bytes, size_t len)
{
    mp_w_array(b, 2);
    mp_w_uint(b, kind);
    mp_w_bin(b, bytes, len);
}

int qbft_topic_decode(enum qbft_topic_kind *kind, const uint8_t **bytes, size_t *len, const void *p,
                      size_t n)
{
    struct mp_reader r;
    uint8_t k = 0;
    uint32_t l = 0;
    mp_reader_init(&r, p, n);
    mp_expect_array(&r, 2);
    if (mp_read_u8(&r, &k) == 0 && k > QBFT_KIND_SEAL)
        mp_fail(&r);
    mp_read_bin(&r, bytes, &l, UINT32_MAX);
    *kind = (enum qbft_topic_kind)k;
    *len = l;
    return mp_reader_done(&r) ? 0 : -1;
}

void seal_digest(uint8_t out[SHA256_LEN], const uint8_t lock_hash[SHA256_LEN], uint8_t duty,
                 uint64_t height, const uint8_t value_hash[SHA256_LEN])
{
    struct sha256_ctx c;
    uint8_t h[8];
    for (int i = 0; i < 8; i++)
        h[i] = (uint8_t)(height >> (56 - 8 * i));
    sha256_init(&c);
    sha256_update(&c, SEAL_DOMAIN, strlen(SEAL_DOMAIN));
    sha256_update(&c, lock_hash, SHA256_LEN);
    sha256_update(&c, &duty, 1);
    sha256_update(&c, h, sizeof(h));
    sha256_update(&c, value_hash, SHA256_LEN);
    sha256_final(&c, out);
}

void seal_encode(struct buf *b, const struct seal *s)
{
    mp_w_array(b, 5);
    mp_w_uint(b, s->duty);
    mp_w_uint(b, s->height);
    mp_w_bin(b, s->value_hash, SHA256_LEN);
    mp_w_uint(b, s->index);
    mp_w_bin(b, s->sig, SIG_LEN);
}

int seal_decode(struct seal *s, const void *p, size_t n)
{
    struct mp_reader r;
    memset(s, 0, sizeof(*s));
    mp_reader_init(&r, p, n);
    mp_expect_array(&r, 5);
    if (mp_read_u8(&r, &s->duty) == 0 && s->duty > 2)
        mp_fail(&r);
    mp_read_uint_max(&r, 1ull << 62, &s->height);
    mp_read_bin_exact(&r, s->value_hash, SHA256_LEN);
    mp_read_u32(&r, &s->index);
    mp_read_bin_exact(&r, s->sig, SIG_LEN);
    return mp_reader_done(&r) ? 0 : -1;
}

bool seal_verify(const struct seal *s, const uint8_t lock_hash[SHA256_LEN],
                 const uint8_t pub[PUBKEY_LEN])
{
    uint8_t d[SHA256_LEN];
    seal_digest(d, lock_hash, s->duty, s->height, s->value_hash);
    return ecdsa_verify(pub, d, s->sig);
}
