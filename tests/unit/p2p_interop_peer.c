/*
 * p2p_interop_peer: one side of an Aequa P2P link over an inherited file descriptor, for the
 * interoperability test against python3-dissononce (noise_interop.py drives it).
 *
 *   p2p_interop_peer LOCK KEY INDEX initiator|responder EXPECT FD
 *
 * Runs the handshake (the C side judges the peer exactly as a node does), then exchanges
 * transport frames: sends aequa/qbft/v1 "hello from C", expects aequa/tx/v1 "hello from
 * python", then sends aequa/qbft/v1 carrying its handshake hash so the peer can compare.
 * Exit: 0 ok, 1 error, 2 handshake failed, 3 denied, 4 dkg_denied, 5 bad transport frame.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lock.h"
#include "lib/util.h"
#include "workers/p2p/frame.h"
#include "workers/p2p/handshake.h"

static int fd;

static void write_all(const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            perror("write");
            exit(1);
        }
        b += w;
        n -= (size_t)w;
    }
}

static void read_all(void *p, size_t n)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            fprintf(stderr, "peer closed the link\n");
            exit(1);
        }
        b += r;
        n -= (size_t)r;
    }
}

/* One frame body into buf (cap bytes); exits on a bad length. */
static size_t read_frame(uint8_t *buf, size_t cap, size_t min)
{
    uint8_t hdr[P2P_FRAME_HDR];
    size_t len;
    read_all(hdr, sizeof(hdr));
    if (p2p_frame_length(hdr, sizeof(hdr), min, cap, &len) != P2P_FRAME_HAVE_LEN) {
        fprintf(stderr, "bad frame length\n");
        exit(5);
    }
    read_all(buf, len);
    return len;
}

static void send_frame(struct noise_cipher *tx, uint8_t topic, const void *p, size_t n)
{
    struct buf b = BUF_INIT;
    if (p2p_frame_seal(tx, &b, topic, p, n) < 0)
        exit(1);
    write_all(b.data, b.len);
    buf_free(&b);
}

int main(int argc, char **argv)
{
    struct lock *l = xmalloc(sizeof(*l));
    struct node_key key;
    struct p2p_identity id;
    char err[512];
    uint64_t index, expect, ufd;
    if (argc != 7 || parse_u64(argv[3], 63, &index) < 0 || parse_u64(argv[5], 63, &expect) < 0 ||
        parse_u64(argv[6], 1024, &ufd) < 0) {
        fprintf(stderr, "usage: p2p_interop_peer LOCK KEY INDEX initiator|responder EXPECT FD\n");
        return 1;
    }
    fd = (int)ufd;
    bool initiator = !strcmp(argv[4], "initiator");
    if (lock_precheck(l, argv[1], argv[2], index, err, sizeof(err)) < 0 ||
        node_key_load(&key, argv[2], err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    p2p_identity_make(&key, &id);

    struct p2p_hs hs;
    uint8_t in[P2P_HS_MSG_MAX], out[P2P_HS_MSG_MAX];
    size_t inlen, outlen;
    struct buf b = BUF_INIT;
    enum p2p_hs_status st = P2P_HS_CONTINUE;
    p2p_hs_init(&hs, initiator, &id, l, (uint32_t)index, initiator ? (int)expect : -1);
    if (initiator) {
        st = p2p_hs_start(&hs, out, sizeof(out), &outlen);
        p2p_frame_put_handshake(&b, out, outlen);
        write_all(b.data, b.len);
    }
    while (st == P2P_HS_CONTINUE) {
        inlen = read_frame(in, sizeof(in), P2P_HS_MIN_BODY);
        st = p2p_hs_step(&hs, in, inlen, out, sizeof(out), &outlen);
        if (outlen) {
            buf_reset(&b);
            p2p_frame_put_handshake(&b, out, outlen);
            write_all(b.data, b.len);
        }
    }
    buf_free(&b);
    if (st != P2P_HS_DONE) {
        fprintf(stderr, "handshake: %s\n", hs.why);
        free(l);
        return st == P2P_HS_DENIED ? 3 : st == P2P_HS_DKG_DENIED ? 4 : 2;
    }
    free(l);
    if (hs.peer != (int)expect) {
        fprintf(stderr, "handshake: peer %d, expected %llu\n", hs.peer, (unsigned long long)expect);
        return 3;
    }
    uint8_t hash[NOISE_HASH_LEN];
    memcpy(hash, noise_hs_hash(&hs.noise), sizeof(hash));
    struct noise_cipher tx, rx;
    if (p2p_hs_split(&hs, &tx, &rx) < 0)
        return 2;

    static const char hello[] = "hello from C", reply[] = "hello from python";
    send_frame(&tx, P2P_TOPIC_QBFT, hello, strlen(hello));
    uint8_t body[256], topic;
    const uint8_t *pl;
    size_t plen, blen = read_frame(body, sizeof(body), P2P_FRAME_MIN_BODY);
    if (p2p_frame_open(&rx, body, blen, &topic, &pl, &plen) != P2P_FRAME_OK ||
        topic != P2P_TOPIC_TX || plen != strlen(reply) || memcmp(pl, reply, plen) != 0) {
        fprintf(stderr, "transport: unexpected frame from the peer\n");
        return 5;
    }
    send_frame(&tx, P2P_TOPIC_QBFT, hash, sizeof(hash));
    return 0;
}
