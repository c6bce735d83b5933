#include "workers/p2p/frame.h"
#include "lib/util.h"

#include <string.h>

static const char *const topic_names[P2P_TOPIC_COUNT] = {
    [P2P_TOPIC_CONTROL] = "control",    [P2P_TOPIC_QBFT] = "aequa/qbft/v1",
    [P2P_TOPIC_TX] = "aequa/tx/v1",     [P2P_TOPIC_TSS] = "aequa/tss/v1",
    [P2P_TOPIC_SYNC] = "aequa/sync/v1",
};

const char *p2p_topic_name(unsigned t)
{
    return t < P2P_TOPIC_COUNT ? topic_names[t] : NULL;
}

int p2p_topic_parse(const char *name)
{
    for (unsigned t = 0; t < P2P_TOPIC_COUNT; t++)
        if (!strcmp(topic_names[t], name))
            return (int)t;
    return -1;
}

enum p2p_frame_len p2p_frame_length(const uint8_t *p, size_t avail, size_t min_body,
                                    size_t max_body, size_t *body_len)
{
    if (avail < P2P_FRAME_HDR)
        return P2P_FRAME_NEED_MORE;
    uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    if (n < min_body || n > max_body)
        return P2P_FRAME_BAD_LEN;
    *body_len = n;
    return P2P_FRAME_HAVE_LEN;
}

static void put_len(uint8_t *p, size_t n)
{
    p[0] = (uint8_t)(n >> 24);
    p[1] = (uint8_t)(n >> 16);
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
}

void p2p_frame_put_handshake(struct buf *out, const uint8_t *msg, size_t len)
{
    uint8_t hdr[P2P_FRAME_HDR];
    put_len(hdr, len);
    buf_append(out, hdr, sizeof(hdr));
    buf_append(out, msg, len);
}

int p2p_frame_seal(struct noise_cipher *tx, struct buf *out, uint8_t topic, const uint8_t *payload,
                   size_t len)
{
    size_t body = 1 + len + NOISE_TAG_LEN;
    if (body > UINT32_MAX)
        return -1;
    buf_reserve(out, P2P_FRAME_HDR + body);
    uint8_t *p = out->data + out->len;
    put_len(p, body);
    if (noise_cipher_encrypt2(tx, &topic, 1, payload, len, p + P2P_FRAME_HDR) < 0)
        return -1;
    out->len += P2P_FRAME_HDR + body;
    return 0;
}

enum p2p_frame_result p2p_frame_open(struct noise_cipher *rx, uint8_t *body, size_t len,
                                     uint8_t *topic, const uint8_t **payload, size_t *plen)
{
    if (len < P2P_FRAME_MIN_BODY || noise_cipher_decrypt(rx, NULL, 0, body, len, body) < 0)
        return P2P_FRAME_BROKEN;
    size_t n = len - NOISE_TAG_LEN - 1;
    *topic = body[0];
    *payload = body + 1;
    *plen = n;
    if (*topic >= P2P_TOPIC_COUNT)
        return P2P_FRAME_UNDECODABLE;
    if (*topic == P2P_TOPIC_CONTROL)
        return n == 1 && (body[1] == P2P_CTRL_ACCEPT || body[1] == P2P_CTRL_PING)
                   ? P2P_FRAME_OK
                   : P2P_FRAME_UNDECODABLE;
    return n > 0 ? P2P_FRAME_OK : P2P_FRAME_UNDECODABLE;
}
