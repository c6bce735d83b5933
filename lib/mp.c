#include "lib/mp.h"

#include <msgpack.h>
#include <string.h>

/* ---- writer: msgpack-c packer writing into a struct buf ---- */

static int buf_write_cb(void *data, const char *p, size_t n)
{
    buf_append(data, p, n);
    return 0;
}

#define PACKER(b)                                                                                  \
    msgpack_packer pk;                                                                             \
    msgpack_packer_init(&pk, (b), buf_write_cb)

void mp_w_array(struct buf *b, uint32_t n)
{
    PACKER(b);
    msgpack_pack_array(&pk, n);
}

void mp_w_map(struct buf *b, uint32_t n)
{
    PACKER(b);
    msgpack_pack_map(&pk, n);
}

void mp_w_uint(struct buf *b, uint64_t v)
{
    PACKER(b);
    msgpack_pack_uint64(&pk, v);
}

void mp_w_int(struct buf *b, int64_t v)
{
    PACKER(b);
    msgpack_pack_int64(&pk, v);
}

void mp_w_bool(struct buf *b, bool v)
{
    PACKER(b);
    if (v)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
}

void mp_w_nil(struct buf *b)
{
    PACKER(b);
    msgpack_pack_nil(&pk);
}

void mp_w_str(struct buf *b, const char *s, size_t len)
{
    PACKER(b);
    msgpack_pack_str(&pk, len);
    msgpack_pack_str_body(&pk, s, len);
}

void mp_w_cstr(struct buf *b, const char *s)
{
    mp_w_str(b, s, strlen(s));
}

void mp_w_bin(struct buf *b, const void *p, size_t len)
{
    PACKER(b);
    msgpack_pack_bin(&pk, len);
    msgpack_pack_bin_body(&pk, p, len);
}

/* ---- reader ---- */

void mp_reader_init(struct mp_reader *r, const void *data, size_t len)
{
    r->p = data;
    r->end = r->p + len;
    r->err = 0;
}

size_t mp_reader_remaining(const struct mp_reader *r)
{
    return (size_t)(r->end - r->p);
}

bool mp_reader_done(const struct mp_reader *r)
{
    return !r->err && r->p == r->end;
}

int mp_fail(struct mp_reader *r)
{
    r->err = 1;
    return -1;
}

static int need(struct mp_reader *r, size_t n)
{
    if (r->err || mp_reader_remaining(r) < n)
        return mp_fail(r);
    return 0;
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Read a big-endian length of n bytes after the tag. */
static int read_len(struct mp_reader *r, int n, uint64_t *v)
{
    if (need(r, (size_t)n) < 0)
        return -1;
    *v = be(r->p, n);
    r->p += n;
    return 0;
}

enum mp_type mp_peek(const struct mp_reader *r)
{
    if (r->err || r->p >= r->end)
        return MP_INVALID;
    uint8_t c = *r->p;
    if (c <= 0x7f)
        return MP_UINT;
    if (c <= 0x8f)
        return MP_MAP;
    if (c <= 0x9f)
        return MP_ARRAY;
    if (c <= 0xbf)
        return MP_STR;
    if (c >= 0xe0)
        return MP_INT;
    switch (c) {
    case 0xc0:
        return MP_NIL;
    case 0xc2:
    case 0xc3:
        return MP_BOOL;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        return MP_BIN;
    case 0xc7:
    case 0xc8:
    case 0xc9:
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        return MP_EXT;
    case 0xca:
    case 0xcb:
        return MP_FLOAT;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        return MP_UINT;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3:
        return MP_INT; /* may be non-negative: mp_read_uint accepts those */
    case 0xd9:
    case 0xda:
    case 0xdb:
        return MP_STR;
    case 0xdc:
    case 0xdd:
        return MP_ARRAY;
    case 0xde:
    case 0xdf:
        return MP_MAP;
    default:
        return MP_INVALID; /* 0xc1 is never used */
    }
}

static int read_container(struct mp_reader *r, uint32_t *n, uint8_t fix_lo, uint8_t fix_hi,
                          uint8_t tag16, uint8_t tag32, size_t per_item)
{
    if (need(r, 1) < 0)
        return -1;
    uint8_t c = *r->p++;
    uint64_t v;
    if (c >= fix_lo && c <= fix_hi)
        v = c & 0x0f;
    else if (c == tag16) {
        if (read_len(r, 2, &v) < 0)
            return -1;
    } else if (c == tag32) {
        if (read_len(r, 4, &v) < 0)
            return -1;
    } else
        return mp_fail(r);
    /* Every item takes at least one byte: a count beyond the remaining bytes is a lie. */
    if (v > mp_reader_remaining(r) / per_item)
        return mp_fail(r);
    *n = (uint32_t)v;
    return 0;
}

int mp_read_array(struct mp_reader *r, uint32_t *n)
{
    return read_container(r, n, 0x90, 0x9f, 0xdc, 0xdd, 1);
}

int mp_read_map(struct mp_reader *r, uint32_t *n)
{
    return read_container(r, n, 0x80, 0x8f, 0xde, 0xdf, 2);
}

int mp_expect_array(struct mp_reader *r, uint32_t n)
{
    uint32_t got;
    if (mp_read_array(r, &got) < 0)
        return -1;
    if (got != n)
        return mp_fail(r);
    return 0;
}

int mp_read_int(struct mp_reader *r, int64_t *v)
{
    if (need(r, 1) < 0)
        return -1;
    uint8_t c = *r->p;
    if (c <= 0x7f || c >= 0xe0) {
        r->p++;
        *v = (int8_t)c;
        if (c <= 0x7f)
            *v = c;
        return 0;
    }
    int n;
    bool sign;
    switch (c) {
    case 0xcc:
        n = 1;
        sign = false;
        break;
    case 0xcd:
        n = 2;
        sign = false;
        break;
    case 0xce:
        n = 4;
        sign = false;
        break;
    case 0xcf:
        n = 8;
        sign = false;
        break;
    case 0xd0:
        n = 1;
        sign = true;
        break;
    case 0xd1:
        n = 2;
        sign = true;
        break;
    case 0xd2:
        n = 4;
        sign = true;
        break;
    case 0xd3:
        n = 8;
        sign = true;
        break;
    default:
        return mp_fail(r);
    }
    if (need(r, 1 + (size_t)n) < 0)
        return -1;
    uint64_t u = be(r->p + 1, n);
    if (sign) {
        int shift = 64 - 8 * n;
        *v = shift ? (int64_t)(u << shift) >> shift : (int64_t)u;
    } else {
        if (u > INT64_MAX)
            return mp_fail(r);
        *v = (int64_t)u;
    }
    r->p += 1 + n;
    return 0;
}

int mp_read_uint(struct mp_reader *r, uint64_t *v)
{
    if (need(r, 1) < 0)
        return -1;
    uint8_t c = *r->p;
    if (c >= 0xcc && c <= 0xcf) {
        int n = 1 << (c - 0xcc);
        if (need(r, 1 + (size_t)n) < 0)
            return -1;
        *v = be(r->p + 1, n);
        r->p += 1 + n;
        return 0;
    }
    int64_t s;
    if (mp_read_int(r, &s) < 0)
        return -1;
    if (s < 0)
        return mp_fail(r);
    *v = (uint64_t)s;
    return 0;
}

int mp_read_uint_max(struct mp_reader *r, uint64_t max, uint64_t *v)
{
    uint64_t x;
    if (mp_read_uint(r, &x) < 0)
        return -1;
    if (x > max)
        return mp_fail(r);
    *v = x;
    return 0;
}

int mp_read_u8(struct mp_reader *r, uint8_t *v)
{
    uint64_t x;
    if (mp_read_uint_max(r, UINT8_MAX, &x) < 0)
        return -1;
    *v = (uint8_t)x;
    return 0;
}

int mp_read_u16(struct mp_reader *r, uint16_t *v)
{
    uint64_t x;
    if (mp_read_uint_max(r, UINT16_MAX, &x) < 0)
        return -1;
    *v = (uint16_t)x;
    return 0;
}

int mp_read_u32(struct mp_reader *r, uint32_t *v)
{
    uint64_t x;
    if (mp_read_uint_max(r, UINT32_MAX, &x) < 0)
        return -1;
    *v = (uint32_t)x;
    return 0;
}

int mp_read_bool(struct mp_reader *r, bool *v)
{
    if (need(r, 1) < 0)
        return -1;
    if (*r->p != 0xc2 && *r->p != 0xc3)
        return mp_fail(r);
    *v = *r->p++ == 0xc3;
    return 0;
}

int mp_read_nil(struct mp_reader *r)
{
    if (need(r, 1) < 0)
        return -1;
    if (*r->p != 0xc0)
        return mp_fail(r);
    r->p++;
    return 0;
}

bool mp_try_nil(struct mp_reader *r)
{
    if (!r->err && r->p < r->end && *r->p == 0xc0) {
        r->p++;
        return true;
    }
    return false;
}

static int read_bytes(struct mp_reader *r, bool str, const uint8_t **p, uint32_t *len, uint32_t max)
{
    if (need(r, 1) < 0)
        return -1;
    uint8_t c = *r->p++;
    uint64_t n;
    if (str && c >= 0xa0 && c <= 0xbf)
        n = c & 0x1f;
    else if ((str && c == 0xd9) || (!str && c == 0xc4)) {
        if (read_len(r, 1, &n) < 0)
            return -1;
    } else if ((str && c == 0xda) || (!str && c == 0xc5)) {
        if (read_len(r, 2, &n) < 0)
            return -1;
    } else if ((str && c == 0xdb) || (!str && c == 0xc6)) {
        if (read_len(r, 4, &n) < 0)
            return -1;
    } else
        return mp_fail(r);
    if (n > max || need(r, n) < 0)
        return mp_fail(r);
    *p = r->p;
    *len = (uint32_t)n;
    r->p += n;
    return 0;
}

int mp_read_str(struct mp_reader *r, const char **s, uint32_t *len, uint32_t max)
{
    const uint8_t *p;
    if (read_bytes(r, true, &p, len, max) < 0)
        return -1;
    *s = (const char *)p;
    return 0;
}

int mp_read_bin(struct mp_reader *r, const uint8_t **p, uint32_t *len, uint32_t max)
{
    return read_bytes(r, false, p, len, max);
}

int mp_read_bin_exact(struct mp_reader *r, void *out, uint32_t len)
{
    const uint8_t *p;
    uint32_t n;
    if (read_bytes(r, false, &p, &n, len) < 0)
        return -1;
    if (n != len)
        return mp_fail(r);
    memcpy(out, p, n);
    return 0;
}

int mp_read_str_copy(struct mp_reader *r, char *out, size_t cap)
{
    const char *s;
    uint32_t n;
    if (cap == 0 ||
        mp_read_str(r, &s, &n, (uint32_t)(cap - 1 > UINT32_MAX ? UINT32_MAX : cap - 1)) < 0)
        return mp_fail(r);
    if (memchr(s, 0, n))
        return mp_fail(r);
    memcpy(out, s, n);
    out[n] = 0;
    return 0;
}

int mp_skip(struct mp_reader *r, int depth)
{
    if (depth < 0)
        return mp_fail(r);
    const uint8_t *p;
    uint32_t n;
    uint64_t u;
    int64_t i;
    switch (mp_peek(r)) {
    case MP_NIL:
    case MP_BOOL:
        r->p++;
        return 0;
    case MP_UINT:
        return mp_read_uint(r, &u);
    case MP_INT:
        return mp_read_int(r, &i);
    case MP_FLOAT: {
        size_t sz = *r->p == 0xca ? 4 : 8;
        if (need(r, 1 + sz) < 0)
            return -1;
        r->p += 1 + sz;
        return 0;
    }
    case MP_STR:
        return read_bytes(r, true, &p, &n, UINT32_MAX);
    case MP_BIN:
        return read_bytes(r, false, &p, &n, UINT32_MAX);
    case MP_ARRAY:
        if (mp_read_array(r, &n) < 0)
            return -1;
        for (uint32_t k = 0; k < n; k++)
            if (mp_skip(r, depth - 1) < 0)
                return -1;
        return 0;
    case MP_MAP:
        if (mp_read_map(r, &n) < 0)
            return -1;
        for (uint32_t k = 0; k < 2 * n; k++)
            if (mp_skip(r, depth - 1) < 0)
                return -1;
        return 0;
    default:
        return mp_fail(r); /* ext types are never part of Aequa messages */
    }
}
