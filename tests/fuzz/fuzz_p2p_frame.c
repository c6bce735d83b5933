/*
 * fuzz_p2p_frame: the P2P transport frame decoder, run the way the link layer runs it: length
 * prefix with bounds, then authenticated decryption in place and the topic/control decode.
 *
 * Input: byte 0 picks the mode and the max frame size; the rest is either a raw byte stream
 * (mostly frames that fail authentication) or, in "sealed" mode, chunks [n][n bytes] that are
 * first encrypted with the stream's key as topic ‖ payload, so the decode after a successful
 * decryption is reached with arbitrary topics and payloads.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "tests/fuzz/fuzz.h"
#include "workers/p2p/frame.h"

static volatile uint8_t sink; /* keeps the payload reads */

static void run_stream(uint8_t *s, size_t size, struct noise_cipher *rx, size_t max_body)
{
    size_t off = 0, body;
    for (;;) {
        enum p2p_frame_len fl =
            p2p_frame_length(s + off, size - off, P2P_FRAME_MIN_BODY, max_body, &body);
        if (fl != P2P_FRAME_HAVE_LEN || size - off < P2P_FRAME_HDR + body)
            return;
        uint8_t topic;
        const uint8_t *pl;
        size_t plen;
        enum p2p_frame_result r =
            p2p_frame_open(rx, s + off + P2P_FRAME_HDR, body, &topic, &pl, &plen);
        if (r == P2P_FRAME_BROKEN)
            return;
        if (r == P2P_FRAME_OK)
            for (size_t i = 0; i < plen; i++)
                sink ^= pl[i]; /* the payload must be readable in full */
        (void)p2p_topic_name(topic);
        off += P2P_FRAME_HDR + body;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct noise_cipher tx = {.has_key = true}, rx;
    struct buf s = BUF_INIT;
    if (size < 1)
        return 0;
    memset(tx.k, 0x5a, sizeof(tx.k));
    rx = tx;
    size_t max_body = P2P_FRAME_MIN_BODY + (size_t)(data[0] >> 1) * 8;
    if (data[0] & 1) {
        for (size_t off = 1; off < size;) {
            size_t n = data[off++];
            if (n > size - off)
                n = size - off;
            uint8_t topic = n ? data[off] : 0;
            if (p2p_frame_seal(&tx, &s, topic, n ? data + off + 1 : NULL, n ? n - 1 : 0) < 0)
                abort();
            off += n;
        }
    } else {
        buf_append(&s, data + 1, size - 1);
    }
    if (s.len)
        run_stream(s.data, s.len, &rx, max_body);
    buf_free(&s);
    return 0;
}
