/*
 * mp: msgpack for Aequa's messages.
 *
 * Writing goes through msgpack-c's packer into a struct buf. Reading is a bounded, zero-copy
 * cursor written for untrusted input: every declared length and container count is checked
 * against the bytes that remain *before* anything is used (msgpack-c's own unpacker allocates the
 * declared size first: an 11-byte input asks it for 256 GiB). Errors are sticky: after the first
 * failure every read fails, so a decoder can read a whole structure and check once at the end.
 *
 * Readers return 0 on success and -1 on error. mp_reader_done() is true only when no error
 * happened and every byte was consumed (trailing bytes are an error for a strict decoder).
 */
#ifndef AEQUA_MP_H
#define AEQUA_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* ---- writer ---- */
void mp_w_array(struct buf *b, uint32_t n);
void mp_w_map(struct buf *b, uint32_t n);
void mp_w_uint(struct buf *b, uint64_t v);
void mp_w_int(struct buf *b, int64_t v);
void mp_w_bool(struct buf *b, bool v);
void mp_w_nil(struct buf *b);
void mp_w_str(struct buf *b, const char *s, size_t len);
void mp_w_cstr(struct buf *b, const char *s);
void mp_w_bin(struct buf *b, const void *p, size_t len);

/* ---- reader ---- */
struct mp_reader {
    const uint8_t *p;
    const uint8_t *end;
    int err;
};

enum mp_type {
    MP_NIL,
    MP_BOOL,
    MP_UINT,
    MP_INT, /* negative */
    MP_FLOAT,
    MP_STR,
    MP_BIN,
    MP_ARRAY,
    MP_MAP,
    MP_EXT,
    MP_INVALID,
};

void mp_reader_init(struct mp_reader *r, const void *data, size_t len);
size_t mp_reader_remaining(const struct mp_reader *r);
bool mp_reader_done(const struct mp_reader *r);
int mp_fail(struct mp_reader *r);
enum mp_type mp_peek(const struct mp_reader *r);

int mp_read_array(struct mp_reader *r, uint32_t *n);
int mp_read_map(struct mp_reader *r, uint32_t *n);
/* Exact array/map header: fails unless the count is exactly n. */
int mp_expect_array(struct mp_reader *r, uint32_t n);
int mp_read_uint(struct mp_reader *r, uint64_t *v);
/* Unsigned with an inclusive maximum. */
int mp_read_uint_max(struct mp_reader *r, uint64_t max, uint64_t *v);
int mp_read_u8(struct mp_reader *r, uint8_t *v);
int mp_read_u16(struct mp_reader *r, uint16_t *v);
int mp_read_u32(struct mp_reader *r, uint32_t *v);
int mp_read_int(struct mp_reader *r, int64_t *v);
int mp_read_bool(struct mp_reader *r, bool *v);
int mp_read_nil(struct mp_reader *r);
/* True (and consumed) when the next item is nil. */
bool mp_try_nil(struct mp_reader *r);
/* Zero-copy: *s points into the input. max bounds the length (inclusive). */
int mp_read_str(struct mp_reader *r, const char **s, uint32_t *len, uint32_t max);
int mp_read_bin(struct mp_reader *r, const uint8_t **p, uint32_t *len, uint32_t max);
/* A bin of exactly len bytes copied into out. */
int mp_read_bin_exact(struct mp_reader *r, void *out, uint32_t len);
/* Copy a str into out (NUL-terminated); fails if it does not fit in cap-1 bytes. */
int mp_read_str_copy(struct mp_reader *r, char *out, size_t cap);
/* Skip one item (nested up to depth levels). */
int mp_skip(struct mp_reader *r, int depth);

#endif
