#include "proto/envelope.h"
#include "lib/mp.h"

#include <string.h>

void envelope_encode(struct buf *out, uint16_t type, uint8_t flags, uint8_t source, uint64_t req_id,
                     const char *trace_id, const void *body, size_t body_len)
{
    mp_w_array(out, 7);
    mp_w_uint(out, ENVELOPE_VERSION);
    mp_w_uint(out, type);
    mp_w_uint(out, flags);
    mp_w_uint(out, source);
    mp_w_uint(out, req_id);
    size_t tl = trace_id ? strnlen(trace_id, TRACE_ID_MAX) : 0;
    mp_w_str(out, trace_id ? trace_id : "", tl);
    mp_w_bin(out, body, body_len);
}

/* Decode one envelope at the start of data; *used is its length. */
static int decode_one(struct envelope *e, const void *data, size_t len, size_t *used)
{
    struct mp_reader r;
    const uint8_t *body;
    uint32_t blen;
    memset(e, 0, sizeof(*e));
    if (len > IPC_MAX_MSG)
        return -1;
    mp_reader_init(&r, data, len);
    mp_expect_array(&r, 7);
    mp_read_u8(&r, &e->version);
    mp_read_u16(&r, &e->type);
    mp_read_u8(&r, &e->flags);
    mp_read_u8(&r, &e->source);
    mp_read_uint(&r, &e->req_id);
    mp_read_str_copy(&r, e->trace_id, sizeof(e->trace_id));
    mp_read_bin(&r, &body, &blen, IPC_MAX_MSG);
    if (r.err || e->version != ENVELOPE_VERSION || (e->flags & ~ENVELOPE_FLAG_REPLY))
        return -1;
    /* Trace ids are printable ASCII: they end up in every log line. */
    for (const char *p = e->trace_id; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            return -1;
    e->body = body;
    e->body_len = blen;
    *used = len - mp_reader_remaining(&r);
    return 0;
}

int envelope_decode(struct envelope *e, const void *data, size_t len)
{
    size_t used;
    if (decode_one(e, data, len, &used) < 0 || used != len)
        return -1;
    return 0;
}

int envelope_next(struct envelope *e, const uint8_t **p, size_t *remaining)
{
    size_t used;
    if (*remaining == 0)
        return 0;
    if (decode_one(e, *p, *remaining, &used) < 0)
        return -1;
    *p += used;
    *remaining -= used;
    return 1;
}
