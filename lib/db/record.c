#include "lib/db/record.h"
#include "lib/mp.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

void record_put_u32(uint8_t out[4], uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

void record_put_u64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

uint32_t record_get_u32(const uint8_t p[4])
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t record_get_u64(const uint8_t p[8])
{
    return (uint64_t)record_get_u32(p) << 32 | record_get_u32(p + 4);
}

/* ---- keys ---- */

/*
 * The type byte of a WAL key keeps schema 1's numbering, PRE-PREPARE 0 to DECIDED 4: one below
 * enum qbft_type (PRE-PREPARE 1 to DECIDED 5). The byte was written so before the node had one
 * numbering, and existing databases must read back unchanged; the key order is the same.
 */
#define WAL_TYPE_BYTE(mtype) ((uint8_t)((mtype)-QBFT_PRE_PREPARE))

void record_wal_key(uint8_t out[RECORD_WAL_KEY_LEN], const struct sdb_intent_key *k)
{
    out[0] = k->dtype;
    record_put_u64(out + 1, k->height);
    record_put_u32(out + 9, k->round);
    out[13] = WAL_TYPE_BYTE(k->mtype);
}

void record_wal_first(uint8_t out[RECORD_WAL_KEY_LEN], uint8_t dtype, uint64_t height)
{
    memset(out, 0, RECORD_WAL_KEY_LEN);
    out[0] = dtype;
    record_put_u64(out + 1, height);
}

int record_wal_key_parse(struct sdb_intent_key *k, const void *key, size_t len)
{
    const uint8_t *p = key;
    if (len != RECORD_WAL_KEY_LEN || p[0] >= DUTY_TYPES ||
        p[13] > WAL_TYPE_BYTE(QBFT_INTENT_TYPE_MAX))
        return -1;
    k->dtype = p[0];
    k->height = record_get_u64(p + 1);
    k->round = record_get_u32(p + 9);
    k->mtype = (uint8_t)(p[13] + QBFT_PRE_PREPARE);
    return k->height <= SDB_HEIGHT_MAX ? 0 : -1;
}

void record_inst_key(uint8_t out[RECORD_INST_KEY_LEN], uint8_t dtype, uint64_t height)
{
    out[0] = dtype;
    record_put_u64(out + 1, height);
}

int record_inst_key_parse(uint8_t *dtype, uint64_t *height, const void *key, size_t len)
{
    const uint8_t *p = key;
    if (len != RECORD_INST_KEY_LEN || p[0] >= DUTY_TYPES)
        return -1;
    *dtype = p[0];
    *height = record_get_u64(p + 1);
    return *height <= SDB_HEIGHT_MAX ? 0 : -1;
}

/* ---- chain and mempool ---- */

size_t record_chain_block_key(uint8_t out[RECORD_KEY_MAX], uint64_t height)
{
    out[0] = RECORD_CHAIN_BLOCK;
    record_put_u64(out + 1, height);
    return 9;
}

size_t record_chain_nonce_key(uint8_t out[RECORD_KEY_MAX], const uint8_t from[SDB_ADDR_LEN])
{
    out[0] = RECORD_CHAIN_NONCE;
    memcpy(out + 1, from, SDB_ADDR_LEN);
    return 1 + SDB_ADDR_LEN;
}

size_t record_chain_tx_key(uint8_t out[RECORD_KEY_MAX], const uint8_t hash[SDB_HASH_LEN])
{
    out[0] = RECORD_CHAIN_TX;
    memcpy(out + 1, hash, SDB_HASH_LEN);
    return 1 + SDB_HASH_LEN;
}

void record_head_encode(uint8_t out[RECORD_HEAD_LEN], const struct sdb_head *h)
{
    record_put_u64(out, h->height);
    memcpy(out + 8, h->hash, SDB_HASH_LEN);
}

int record_head_decode(struct sdb_head *h, const void *val, size_t len)
{
    if (len != RECORD_HEAD_LEN)
        return -1;
    h->height = record_get_u64(val);
    memcpy(h->hash, (const uint8_t *)val + 8, SDB_HASH_LEN);
    return h->height <= SDB_HEIGHT_MAX ? 0 : -1;
}

int record_chain_check(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct sdb_head h;
    if (kl == 0)
        return -1;
    switch (k[0]) {
    case RECORD_CHAIN_HEAD:
        return kl == 1 ? record_head_decode(&h, v, vl) : -1;
    case RECORD_CHAIN_BLOCK:
        return kl == 9 && record_get_u64(k + 1) <= SDB_HEIGHT_MAX && vl == SDB_HASH_LEN ? 0 : -1;
    case RECORD_CHAIN_NONCE:
        return kl == 1 + SDB_ADDR_LEN && vl == 8 ? 0 : -1;
    case RECORD_CHAIN_TX:
        return kl == 1 + SDB_HASH_LEN && vl == 8 && record_get_u64(v) <= SDB_HEIGHT_MAX ? 0 : -1;
    default:
        return -1;
    }
}

int record_mempool_check(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    (void)k;
    (void)v;
    return kl == SDB_HASH_LEN && vl > 0 && vl <= SDB_TX_RECORD_MAX ? 0 : -1;
}

/* ---- duties ---- */

void record_duty_encode(struct buf *b, const struct sdb_duty *d)
{
    mp_w_array(b, 3);
    mp_w_bin(b, d->payload.p, d->payload.len);
    mp_w_cstr(b, d->trace_id);
    mp_w_uint(b, d->accepted_ms);
}

int record_duty_decode(struct sdb_duty *d, uint8_t dtype, uint64_t height, const void *val,
                       size_t len)
{
    struct mp_reader r;
    memset(d, 0, sizeof(*d));
    d->dtype = dtype;
    d->height = height;
    mp_reader_init(&r, val, len);
    mp_expect_array(&r, 3);
    mp_read_bin(&r, &d->payload.p, &d->payload.len, SDB_PAYLOAD_MAX);
    mp_read_str_copy(&r, d->trace_id, sizeof(d->trace_id));
    mp_read_uint(&r, &d->accepted_ms);
    return mp_reader_done(&r) && d->payload.len > 0 ? 0 : -1;
}

bool record_duty_same(const struct sdb_duty *a, const struct sdb_duty *b)
{
    return a->payload.len == b->payload.len && !memcmp(a->payload.p, b->payload.p, a->payload.len);
}

/* ---- decided ---- */

void record_decided_encode(struct buf *b, const struct sdb_decided *d)
{
    mp_w_array(b, 6);
    mp_w_uint(b, d->round);
    mp_w_bin(b, d->value.p, d->value.len);
    mp_w_array(b, d->ncert);
    for (uint32_t i = 0; i < d->ncert; i++)
        mp_w_bin(b, d->cert[i].p, d->cert[i].len);
    mp_w_array(b, d->nseals);
    for (uint32_t i = 0; i < d->nseals; i++) {
        mp_w_array(b, 2);
        mp_w_uint(b, d->seals[i].index);
        mp_w_bin(b, d->seals[i].sig, SDB_SIG_LEN);
    }
    mp_w_bin(b, d->tss.p, d->tss.len);
    mp_w_uint(b, d->decided_ms);
}

void record_decided_free(struct sdb_decided *d)
{
    free(d->cert);
    free(d->seals);
    d->cert = NULL;
    d->seals = NULL;
    d->ncert = d->nseals = 0;
}

int record_decided_decode(struct sdb_decided *d, uint8_t dtype, uint64_t height, const void *val,
                          size_t len)
{
    struct mp_reader r;
    uint32_t n = 0;
    memset(d, 0, sizeof(*d));
    d->dtype = dtype;
    d->height = height;
    mp_reader_init(&r, val, len);
    mp_expect_array(&r, 6);
    mp_read_u32(&r, &d->round);
    mp_read_bin(&r, &d->value.p, &d->value.len, SDB_VALUE_MAX);
    if (mp_read_array(&r, &n) == 0 && n <= SDB_CERT_MAX) {
        d->cert = n ? xcalloc(n, sizeof(*d->cert)) : NULL;
        d->ncert = n;
        for (uint32_t i = 0; i < n; i++)
            mp_read_bin(&r, &d->cert[i].p, &d->cert[i].len, SDB_CERT_MSG_MAX);
    } else
        mp_fail(&r);
    n = 0;
    if (mp_read_array(&r, &n) == 0 && n <= SDB_SEALS_MAX) {
        d->seals = n ? xcalloc(n, sizeof(*d->seals)) : NULL;
        d->nseals = n;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t idx = 0;
            mp_expect_array(&r, 2);
            mp_read_uint_max(&r, SDB_SEALS_MAX - 1, &idx);
            mp_read_bin_exact(&r, d->seals[i].sig, SDB_SIG_LEN);
            if (i > 0 && idx <= d->seals[i - 1].index)
                mp_fail(&r);
            d->seals[i].index = (uint32_t)idx;
        }
    } else
        mp_fail(&r);
    mp_read_bin(&r, &d->tss.p, &d->tss.len, SDB_TSS_MAX);
    mp_read_uint(&r, &d->decided_ms);
    if (!mp_reader_done(&r) || d->value.len == 0) {
        record_decided_free(d);
        return -1;
    }
    return 0;
}

static bool bytes_eq(struct sdb_bytes a, struct sdb_bytes b)
{
    return a.len == b.len && (a.len == 0 || !memcmp(a.p, b.p, a.len));
}

enum record_merge record_decided_merge(const struct sdb_decided *stored,
                                       const struct sdb_decided *in, struct sdb_decided *out,
                                       struct sdb_seal *seal_space)
{
    if (!bytes_eq(stored->value, in->value))
        return RECORD_MERGE_CONFLICT;
    *out = *stored;
    bool changed = false;
    if (stored->ncert == 0 && in->ncert > 0) {
        out->cert = in->cert;
        out->ncert = in->ncert;
        out->round = in->round;
        changed = true;
    }
    if (stored->tss.len == 0 && in->tss.len > 0) {
        out->tss = in->tss;
        changed = true;
    }
    /* Both seal lists are sorted by index: merge them, the stored seal winning a tie. */
    uint32_t i = 0, j = 0, n = 0;
    while (i < stored->nseals || j < in->nseals) {
        if (j == in->nseals ||
            (i < stored->nseals && stored->seals[i].index <= in->seals[j].index)) {
            if (j < in->nseals && stored->seals[i].index == in->seals[j].index)
                j++;
            seal_space[n++] = stored->seals[i++];
        } else {
            seal_space[n++] = in->seals[j++];
            changed = true;
        }
    }
    out->seals = seal_space;
    out->nseals = n;
    return changed ? RECORD_MERGE_CHANGED : RECORD_MERGE_SAME;
}

/* ---- meta ---- */

void record_fallback_encode(struct buf *b, uint64_t recovered_ms, uint64_t checkpoint_ms,
                            const char *detail)
{
    mp_w_array(b, 3);
    mp_w_uint(b, recovered_ms);
    mp_w_uint(b, checkpoint_ms);
    mp_w_str(b, detail, strnlen(detail, SDB_DETAIL_MAX));
}

int record_fallback_decode(struct sdb_hello_info *h, const void *val, size_t len)
{
    struct mp_reader r;
    memset(h, 0, sizeof(*h));
    mp_reader_init(&r, val, len);
    mp_expect_array(&r, 3);
    mp_read_uint(&r, &h->recovered_ms);
    mp_read_uint(&r, &h->checkpoint_ms);
    mp_read_str_copy(&r, h->detail, sizeof(h->detail));
    if (!mp_reader_done(&r))
        return -1;
    h->fallback = true;
    return 0;
}
