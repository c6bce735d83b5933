/*
 * frame: the P2P wire format, pure (no sockets).
 *
 * Every frame on a link is a 32-bit big-endian body length, then the body. During the
 * handshake the body is one Noise handshake message (P2P_HS_MIN..P2P_HS_MSG_MAX bytes). After
 * it, the body is the transport CipherState's ChaCha20-Poly1305 encryption of
 *
 *   topic (1 byte) ‖ payload
 *
 * so a body has at least 1 + 16 bytes and at most the configured max_frame_bytes. A length
 * outside those bounds is a broken link (close it before reading the body); so is a body that
 * does not authenticate. A body that authenticates but carries an unknown topic, an empty data
 * payload or a malformed control message is "undecodable": the peer loses score, the link
 * stays.
 *
 * Topic 0 is the link's own control channel: a 1-byte payload, ACCEPT (the responder's first
 * frame: the initiator counts the link up only when it arrives) or PING (keep-alive).
 */
#ifndef AEQUA_P2P_FRAME_H
#define AEQUA_P2P_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "proto/p2p.h"
#include "workers/p2p/noise.h"

enum p2p_control {
    P2P_CTRL_ACCEPT = 1,
    P2P_CTRL_PING = 2,
};

#define P2P_FRAME_HDR      4
#define P2P_FRAME_MIN_BODY (1 + NOISE_TAG_LEN)
/* Wire bytes of a transport frame beyond its payload. */
#define P2P_FRAME_OVERHEAD (P2P_FRAME_HDR + 1 + NOISE_TAG_LEN)
#define P2P_HS_MIN_BODY    32

/* Topic name ("aequa/qbft/v1", …, "control"), or NULL if t is unknown. */
const char *p2p_topic_name(unsigned t);
/* Topic number of a name, or -1. */
int p2p_topic_parse(const char *name);

enum p2p_frame_len {
    P2P_FRAME_NEED_MORE, /* fewer than 4 bytes */
    P2P_FRAME_HAVE_LEN,  /* *body_len is valid */
    P2P_FRAME_BAD_LEN,   /* outside [min_body, max_body]: close the link */
};
enum p2p_frame_len p2p_frame_length(const uint8_t *p, size_t avail, size_t min_body,
                                    size_t max_body, size_t *body_len);

/* Append a handshake frame (length ‖ message). */
void p2p_frame_put_handshake(struct buf *out, const uint8_t *msg, size_t len);
/* Append a transport frame; -1 only when the cipher's nonces are exhausted. */
int p2p_frame_seal(struct noise_cipher *tx, struct buf *out, uint8_t topic, const uint8_t *payload,
                   size_t len);

enum p2p_frame_result {
    P2P_FRAME_OK,
    P2P_FRAME_BROKEN,      /* does not authenticate: close the link */
    P2P_FRAME_UNDECODABLE, /* authentic but meaningless: penalize the peer */
};
/* Decrypt a transport body in place; on OK, *topic and payload point into body. */
enum p2p_frame_result p2p_frame_open(struct noise_cipher *rx, uint8_t *body, size_t len,
                                     uint8_t *topic, const uint8_t **payload, size_t *plen);

#endif
