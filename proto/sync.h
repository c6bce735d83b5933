/*
 * sync: catching up on blocks (SPEC §9), the messages of the P2P topic aequa/sync/v1 between the
 * QBFT workers of two nodes. A node that misses decided blocks asks a peer for the chain's next
 * block after a height; the peer answers with that block and its commit certificate, or with
 * "none" when it has nothing after that height. The asker verifies the certificate against the
 * lock's keys before it treats the block as decided (workers/qbft/duties.h).
 *
 *   REQ    [0, after height]
 *   BLOCK  [1, height, block bin, certificate bin]   (the certificate: proto/qbft.h qbft_cert_*)
 *   NONE   [2, after height]
 *
 * Peer input: decoding is bounded and strict (exact shape, no trailing bytes); the block and
 * certificate are zero-copy pointers into the message.
 */
#ifndef AEQUA_PROTO_SYNC_H
#define AEQUA_PROTO_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

enum sync_kind { SYNC_REQ = 0, SYNC_BLOCK = 1, SYNC_NONE = 2 };

#define SYNC_HEIGHT_MAX (UINT64_C(1) << 62)
#define SYNC_BLOCK_MAX  (2u << 20)
#define SYNC_CERT_MAX   (256u << 10)

struct sync_msg {
    uint8_t kind;    /* enum sync_kind */
    uint64_t height; /* REQ, NONE: the height asked after; BLOCK: the block's */
    const uint8_t *block, *cert;
    uint32_t block_len, cert_len;
};

void sync_encode(struct buf *b, const struct sync_msg *m);
/* 0, or -1 when the bytes are not exactly one well-formed message. */
int sync_decode(struct sync_msg *m, const void *p, size_t n);

#endif
