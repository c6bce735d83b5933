/* tss (proto): see tss.h. */
#include "proto/tss.h"
#include "lib/mp.h"
#include "lib/util.h"
#include "proto/duty.h"

#include <string.h>

static const char *const kind_names[TSS_KIND_MAX + 1] = {
    [TSS_COMMIT] = "commit", [TSS_SIGN] = "sign", [TSS_SHARE] = "share",
    [TSS_ABORT] = "abort",   [TSS_SIG] = "sig",
};

/* Items after the four common ones, by kind. */
static const uint32_t kind_items[TSS_KIND_MAX + 1] = {
    [TSS_COMMIT] = 3, [TSS_SIGN] = 1, [TSS_SHARE] = 2, [TSS_ABORT] = 1, [TSS_SIG] = 2,
};

const char *tss_kind_name(unsigned kind)
{
    return kind >= TSS_COMMIT && kind <= TSS_KIND_MAX ? kind_names[kind] : NULL;
}

void tss_message(uint8_t out[SHA256_LEN], const uint8_t lock_hash[SHA256_LEN],
                 const uint8_t value_hash[SHA256_LEN])
{
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, TSS_DOMAIN, strlen(TSS_DOMAIN));
    sha256_update(&c, lock_hash, SHA256_LEN);
    sha256_update(&c, value_hash, SHA256_LEN);
    sha256_final(&c, out);
}

/* ---- encoding ---- */

static void w_commitment(struct buf *b, const struct frost_commitment *c)
{
    mp_w_uint(b, c->id);
    mp_w_bin(b, c->hiding, FROST_POINT_LEN);
    mp_w_bin(b, c->binding, FROST_POINT_LEN);
}

static void w_indices(struct buf *b, const uint8_t *v, uint32_t n)
{
    mp_w_array(b, n);
    for (uint32_t i = 0; i < n; i++)
        mp_w_uint(b, v[i]);
}

void tss_msg_encode(struct buf *b, const struct tss_msg *m)
{
    mp_w_array(b, 4 + kind_items[m->kind]);
    mp_w_uint(b, m->kind);
    mp_w_uint(b, m->dtype);
    mp_w_uint(b, m->height);
    mp_w_uint(b, m->attempt);
    switch (m->kind) {
    case TSS_COMMIT:
        w_commitment(b, &m->commit);
        break;
    case TSS_SIGN:
        mp_w_array(b, m->ncommits);
        for (uint32_t i = 0; i < m->ncommits; i++) {
            mp_w_array(b, 3);
            w_commitment(b, &m->commits[i]);
        }
        break;
    case TSS_SHARE:
        mp_w_uint(b, m->id);
        mp_w_bin(b, m->z, FROST_SCALAR_LEN);
        break;
    case TSS_ABORT:
        mp_w_uint(b, m->id);
        break;
    case TSS_SIG:
        w_indices(b, m->signers, m->nsigners);
        mp_w_bin(b, m->sig, FROST_SIG_LEN);
        break;
    }
}

void tss_record_encode(struct buf *b, const struct tss_record *r)
{
    mp_w_array(b, 2);
    w_indices(b, r->signers, r->nsigners);
    mp_w_bin(b, r->sig, FROST_SIG_LEN);
}

/* ---- decoding ---- */

static void r_id(struct mp_reader *r, uint16_t *id)
{
    uint64_t v = 0;
    if (mp_read_uint_max(r, TSS_MAX_SIGNERS, &v) == 0 && v == 0)
        mp_fail(r);
    *id = (uint16_t)v;
}

/* A compressed SEC1 point: 0x02 or 0x03, then x. */
static void r_point(struct mp_reader *r, uint8_t out[FROST_POINT_LEN])
{
    if (mp_read_bin_exact(r, out, FROST_POINT_LEN) == 0 && out[0] != 0x02 && out[0] != 0x03)
        mp_fail(r);
}

static void r_commitment(struct mp_reader *r, struct frost_commitment *c)
{
    r_id(r, &c->id);
    r_point(r, c->hiding);
    r_point(r, c->binding);
}

/* 1..TSS_MAX_SIGNERS operator indices, strictly increasing. */
static void r_indices(struct mp_reader *r, uint8_t *v, uint32_t *n)
{
    if (mp_read_array(r, n) == 0 && (*n == 0 || *n > TSS_MAX_SIGNERS))
        mp_fail(r);
    for (uint32_t i = 0; i < *n && !r->err; i++) {
        uint64_t x = 0;
        if (mp_read_uint_max(r, TSS_MAX_SIGNERS - 1, &x) == 0 && i > 0 && x <= v[i - 1])
            mp_fail(r);
        v[i] = (uint8_t)x;
    }
}

static void r_commit_list(struct mp_reader *r, struct tss_msg *m)
{
    if (mp_read_array(r, &m->ncommits) == 0 && (m->ncommits == 0 || m->ncommits > TSS_MAX_SIGNERS))
        mp_fail(r);
    for (uint32_t i = 0; i < m->ncommits && !r->err; i++) {
        mp_expect_array(r, 3);
        r_commitment(r, &m->commits[i]);
        if (i > 0 && m->commits[i].id <= m->commits[i - 1].id)
            mp_fail(r);
    }
}

int tss_msg_decode(struct tss_msg *m, const void *p, size_t n)
{
    struct mp_reader r;
    uint32_t items = 0;
    uint64_t v = 0;
    memset(m, 0, sizeof(*m));
    if (n > TSS_MSG_MAX)
        return -1;
    mp_reader_init(&r, p, n);
    mp_read_array(&r, &items);
    if (mp_read_uint_max(&r, TSS_KIND_MAX, &v) == 0 &&
        (v < TSS_COMMIT || items != 4 + kind_items[v]))
        mp_fail(&r);
    m->kind = (uint8_t)v;
    if (mp_read_uint_max(&r, DUTY_TYPES - 1, &v) == 0)
        m->dtype = (uint8_t)v;
    mp_read_uint_max(&r, DUTY_HEIGHT_MAX, &m->height);
    if (mp_read_uint_max(&r, TSS_MAX_ATTEMPTS - 1, &v) == 0)
        m->attempt = (uint32_t)v;
    if (r.err)
        return -1;
    switch (m->kind) {
    case TSS_COMMIT:
        r_commitment(&r, &m->commit);
        break;
    case TSS_SIGN:
        r_commit_list(&r, m);
        break;
    case TSS_SHARE:
        r_id(&r, &m->id);
        mp_read_bin_exact(&r, m->z, FROST_SCALAR_LEN);
        break;
    case TSS_ABORT:
        r_id(&r, &m->id);
        break;
    case TSS_SIG:
        r_indices(&r, m->signers, &m->nsigners);
        mp_read_bin_exact(&r, m->sig, FROST_SIG_LEN);
        break;
    }
    return mp_reader_done(&r) ? 0 : -1;
}

int tss_record_decode(struct tss_record *rec, const void *p, size_t n)
{
    struct mp_reader r;
    memset(rec, 0, sizeof(*rec));
    mp_reader_init(&r, p, n);
    mp_expect_array(&r, 2);
    r_indices(&r, rec->signers, &rec->nsigners);
    mp_read_bin_exact(&r, rec->sig, FROST_SIG_LEN);
    return mp_reader_done(&r) ? 0 : -1;
}

void tss_record_json(struct buf *b, const struct tss_record *r)
{
    char hex[2 * FROST_SIG_LEN + 1];
    buf_append_str(b, "{\"scheme\":\"" FROST_SCHEME "\",\"signers\":[");
    for (uint32_t i = 0; i < r->nsigners; i++)
        buf_printf(b, "%s%u", i ? "," : "", r->signers[i]);
    hex_encode(hex, r->sig, FROST_SIG_LEN);
    buf_printf(b, "],\"sig\":\"%s\"}", hex);
}
