#include "proto/p2p.h"
#include "lib/mp.h"

void p2p_msg_encode(struct buf *b, const struct p2p_msg *m)
{
    mp_w_array(b, 3);
    mp_w_uint(b, m->peer);
    mp_w_uint(b, m->topic);
    mp_w_bin(b, m->payload, m->len);
}

int p2p_msg_decode(struct p2p_msg *m, const void *p, size_t n)
{
    struct mp_reader r;
    mp_reader_init(&r, p, n);
    mp_expect_array(&r, 3);
    mp_read_u32(&r, &m->peer);
    mp_read_u8(&r, &m->topic);
    mp_read_bin(&r, &m->payload, &m->len, P2P_PAYLOAD_MAX);
    return mp_reader_done(&r) ? 0 : -1;
}

void p2p_event_encode(struct buf *b, uint32_t peer, uint32_t value)
{
    mp_w_array(b, 2);
    mp_w_uint(b, peer);
    mp_w_uint(b, value);
}

int p2p_event_decode(uint32_t *peer, uint32_t *value, const void *p, size_t n)
{
    struct mp_reader r;
    mp_reader_init(&r, p, n);
    mp_expect_array(&r, 2);
    mp_read_u32(&r, peer);
    mp_read_u32(&r, value);
    return mp_reader_done(&r) ? 0 : -1;
}
