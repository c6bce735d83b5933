/*
 * envelope: the frame around every IPC message between the processes of one node (SPEC §4).
 *
 * msgpack array of 7: [version, type, flags, source, request id, trace id, body]. The body is
 * itself msgpack (bin), decoded by the family that owns the type only after the dispatch table
 * has checked sender and size. Decoding is bounded and strict (no trailing bytes).
 *
 * One nng message (a "frame") carries one or more envelopes back to back: a mailbox gathers what
 * it sends to one destination during one turn of its loop, because every nng message costs
 * several thread hand-offs; envelope_next walks a frame.
 */
#ifndef AEQUA_PROTO_ENVELOPE_H
#define AEQUA_PROTO_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define ENVELOPE_VERSION    1
#define ENVELOPE_FLAG_REPLY 0x01u
#define TRACE_ID_MAX        64
/* Largest message on any IPC socket (a 1 MiB duty payload plus its certificate fits easily). */
#define IPC_MAX_MSG (8u << 20)

struct envelope {
    uint8_t version;
    uint16_t type;
    uint8_t flags;
    uint8_t source;
    uint64_t req_id; /* 0 for one-way messages */
    char trace_id[TRACE_ID_MAX + 1];
    const uint8_t *body; /* points into the decoded buffer */
    uint32_t body_len;
    uint32_t pid; /* not on the wire: the sending process, when the receiver checked it */
};

void envelope_encode(struct buf *out, uint16_t type, uint8_t flags, uint8_t source, uint64_t req_id,
                     const char *trace_id, const void *body, size_t body_len);

/* 0 on success; -1 if the bytes are not exactly one well-formed envelope of this version. */
int envelope_decode(struct envelope *e, const void *data, size_t len);

/* The next envelope of a frame: 1 and advances *p, 0 at the end, -1 if malformed. */
int envelope_next(struct envelope *e, const uint8_t **p, size_t *remaining);

#endif
