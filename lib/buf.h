/*
 * buf: a growable byte buffer.
 *
 * Owns its memory. Allocation failure is fatal (the node cannot make progress without memory and
 * a half-built message is worse than a clean restart by the supervisor).
 */
#ifndef AEQUA_BUF_H
#define AEQUA_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_append_str(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Detach the data (NUL-terminated) and leave the buffer empty. Caller frees. */
char *buf_steal_str(struct buf *b);

#endif
