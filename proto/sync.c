#include "proto/sync.h"
#include "lib/mp.h"

#include <string.h>

void sync_encode(struct buf *b, const struct sync_msg *m)
{
    mp_w_array(b, m->kind == SYNC_BLOCK ? 4 : 2);
    mp_w_uint(b, m->kind);
    mp_w_uint(b, m->height);
    if (m->kind == SYNC_BLOCK) {
        mp_w_bin(b, m->block, m->block_len);
        mp_w_bin(b, m->cert, m->cert_len);
    }
}

int sync_decode(struct sync_msg *m, const void *p, size_t n)
{
    struct mp_reader rd;
    uint32_t items = 0;
    uint64_t kind = 0;
    memset(m, 0, sizeof(*m));
    mp_reader_init(&rd, p, n);
    if (mp_read_array(&rd, &items) < 0 || (items != 2 && items != 4))
        return -1;
    mp_read_uint_max(&rd, SYNC_NONE, &kind);
    m->kind = (uint8_t)kind;
    mp_read_uint_max(&rd, SYNC_HEIGHT_MAX, &m->height);
    if (rd.err || (items == 4) != (m->kind == SYNC_BLOCK))
        return -1;
    if (m->kind == SYNC_BLOCK) {
        mp_read_bin(&rd, &m->block, &m->block_len, SYNC_BLOCK_MAX);
        mp_read_bin(&rd, &m->cert, &m->cert_len, SYNC_CERT_MAX);
        if (!rd.err && (m->block_len == 0 || m->cert_len == 0))
            mp_fail(&rd);
    }
    return mp_reader_done(&rd) ? 0 : -1;
}
