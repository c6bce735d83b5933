#include "proto/duty.h"
#include "lib/mp.h"

#include <string.h>

static const char *const type_names[DUTY_TYPES] = {"attester", "proposer", "sync"};

const char *duty_type_name(unsigned type)
{
    return type < DUTY_TYPES ? type_names[type] : NULL;
}

void duty_submit_encode(struct buf *b, const struct duty_submit *d)
{
    mp_w_array(b, 4);
    mp_w_uint(b, d->type);
    mp_w_uint(b, d->height);
    mp_w_uint(b, d->round);
    mp_w_bin(b, d->payload, d->payload_len);
}

int duty_submit_decode(struct duty_submit *d, const void *p, size_t n)
{
    struct mp_reader r;
    memset(d, 0, sizeof(*d));
    mp_reader_init(&r, p, n);
    mp_expect_array(&r, 4);
    if (mp_read_u8(&r, &d->type) == 0 && d->type >= DUTY_TYPES)
        mp_fail(&r);
    mp_read_uint_max(&r, DUTY_HEIGHT_MAX, &d->height);
    mp_read_uint_max(&r, DUTY_ROUND_MAX, &d->round);
    mp_read_bin(&r, &d->payload, &d->payload_len, DUTY_PAYLOAD_MAX);
    return mp_reader_done(&r) ? 0 : -1;
}

void duty_result_encode(struct buf *b, enum duty_result res)
{
    mp_w_uint(b, (uint64_t)res);
}

int duty_result_decode(enum duty_result *res, const void *p, size_t n)
{
    struct mp_reader r;
    uint64_t v = 0;
    mp_reader_init(&r, p, n);
    mp_read_uint_max(&r, DUTY_RESULT_MAX, &v);
    *res = (enum duty_result)v;
    return mp_reader_done(&r) ? 0 : -1;
}

void duty_key_encode(struct buf *b, const struct duty_key *k)
{
    mp_w_array(b, 2);
    mp_w_uint(b, k->type);
    mp_w_uint(b, k->height);
}

int duty_key_decode(struct duty_key *k, const void *p, size_t n)
{
    struct mp_reader r;
    memset(k, 0, sizeof(*k));
    mp_reader_init(&r, p, n);
    mp_expect_array(&r, 2);
    if (mp_read_u8(&r, &k->type) == 0 && k->type >= DUTY_TYPES)
        mp_fail(&r);
    mp_read_uint_max(&r, DUTY_HEIGHT_MAX, &k->height);
    return mp_reader_done(&r) ? 0 : -1;
}

void duty_view_encode(struct buf *b, const struct duty_view *v)
{
    mp_w_array(b, 10);
    mp_w_uint(b, v->result);
    mp_w_uint(b, v->type);
    mp_w_uint(b, v->height);
    mp_w_bool(b, v->decided);
    mp_w_uint(b, v->round);
    if (v->has_value) {
        mp_w_bin(b, v->value_hash, 32);
        mp_w_bin(b, v->value, v->value_len);
    } else {
        mp_w_nil(b);
        mp_w_nil(b);
    }
    mp_w_array(b, v->ncert);
    for (uint32_t i = 0; i < v->ncert; i++) {
        mp_w_array(b, 3);
        mp_w_uint(b, v->cert[i].index);
        mp_w_uint(b, v->cert[i].round);
        mp_w_bin(b, v->cert[i].sig, 64);
    }
    mp_w_array(b, v->nseals);
    for (uint32_t i = 0; i < v->nseals; i++) {
        mp_w_array(b, 2);
        mp_w_uint(b, v->seals[i].index);
        mp_w_bin(b, v->seals[i].sig, 64);
    }
    if (v->has_tss) { /* the record's bytes (proto/tss.h) */
        struct buf rec = BUF_INIT;
        tss_record_encode(&rec, &v->tss);
        mp_w_bin(b, rec.data, rec.len);
        buf_free(&rec);
    } else {
        mp_w_nil(b);
    }
}

int duty_view_decode(struct duty_view *v, const void *p, size_t n)
{
    struct mp_reader r;
    uint64_t res = 0;
    memset(v, 0, sizeof(*v));
    mp_reader_init(&r, p, n);
    mp_expect_array(&r, 10);
    mp_read_uint_max(&r, DUTY_NOT_FOUND, &res);
    v->result = (enum duty_result)res;
    if (mp_read_u8(&r, &v->type) == 0 && v->type >= DUTY_TYPES)
        mp_fail(&r);
    mp_read_uint_max(&r, DUTY_HEIGHT_MAX, &v->height);
    mp_read_bool(&r, &v->decided);
    mp_read_uint(&r, &v->round);
    if (mp_try_nil(&r)) {
        mp_read_nil(&r);
    } else {
        v->has_value = true;
        mp_read_bin_exact(&r, v->value_hash, 32);
        mp_read_bin(&r, &v->value, &v->value_len, DUTY_PAYLOAD_MAX);
    }
    if (mp_read_array(&r, &v->ncert) == 0 && v->ncert > DUTY_MAX_NODES)
        mp_fail(&r);
    for (uint32_t i = 0; i < v->ncert && !r.err; i++) {
        mp_expect_array(&r, 3);
        mp_read_u32(&r, &v->cert[i].index);
        mp_read_uint(&r, &v->cert[i].round);
        mp_read_bin_exact(&r, v->cert[i].sig, 64);
    }
    if (mp_read_array(&r, &v->nseals) == 0 && v->nseals > DUTY_MAX_NODES)
        mp_fail(&r);
    for (uint32_t i = 0; i < v->nseals && !r.err; i++) {
        mp_expect_array(&r, 2);
        mp_read_u32(&r, &v->seals[i].index);
        mp_read_bin_exact(&r, v->seals[i].sig, 64);
    }
    if (!mp_try_nil(&r)) {
        const uint8_t *rec = NULL;
        uint32_t len = 0;
        v->has_tss = true;
        if (mp_read_bin(&r, &rec, &len, TSS_RECORD_MAX) == 0 &&
            tss_record_decode(&v->tss, rec, len) < 0)
            mp_fail(&r);
    }
    return mp_reader_done(&r) ? 0 : -1;
}

void duty_recent_req_encode(struct buf *b, uint32_t max)
{
    mp_w_uint(b, max);
}

int duty_recent_req_decode(uint32_t *max, const void *p, size_t n)
{
    struct mp_reader r;
    uint64_t v = 0;
    mp_reader_init(&r, p, n);
    mp_read_uint_max(&r, DUTY_RECENT_MAX, &v);
    if (v == 0)
        mp_fail(&r);
    *max = (uint32_t)v;
    return mp_reader_done(&r) ? 0 : -1;
}

void duty_recent_encode(struct buf *b, const struct duty_brief *d, size_t n)
{
    mp_w_array(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        mp_w_array(b, 5);
        mp_w_uint(b, d[i].type);
        mp_w_uint(b, d[i].height);
        mp_w_bool(b, d[i].decided);
        mp_w_uint(b, d[i].round);
        mp_w_uint(b, d[i].age_ms);
    }
}

int duty_recent_decode(struct duty_brief *out, size_t cap, size_t *n, const void *p, size_t len)
{
    struct mp_reader r;
    uint32_t count = 0;
    *n = 0;
    mp_reader_init(&r, p, len);
    if (mp_read_array(&r, &count) < 0 || count > cap || count > DUTY_RECENT_MAX)
        return -1;
    for (uint32_t i = 0; i < count; i++) {
        struct duty_brief *d = &out[i];
        memset(d, 0, sizeof(*d));
        mp_expect_array(&r, 5);
        if (mp_read_u8(&r, &d->type) == 0 && d->type >= DUTY_TYPES)
            mp_fail(&r);
        mp_read_uint_max(&r, DUTY_HEIGHT_MAX, &d->height);
        mp_read_bool(&r, &d->decided);
        mp_read_uint_max(&r, DUTY_ROUND_MAX, &d->round);
        mp_read_uint(&r, &d->age_ms);
    }
    if (!mp_reader_done(&r))
        return -1;
    *n = count;
    return 0;
}
