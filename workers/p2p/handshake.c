#include "workers/p2p/handshake.h"
#include "lib/mp.h"

#include <stdio.h>
#include <string.h>

void p2p_hs_payload_encode(const struct p2p_hs_payload *p, struct buf *out)
{
    mp_w_array(out, 4);
    mp_w_uint(out, P2P_HS_VERSION);
    mp_w_bin(out, p->node_pub, PUBKEY_LEN);
    mp_w_bin(out, p->sig, SIG_LEN);
    mp_w_bin(out, p->lock_hash, SHA256_LEN);
}

int p2p_hs_payload_decode(struct p2p_hs_payload *p, const uint8_t *data, size_t len)
{
    struct mp_reader r;
    uint64_t version;
    if (len > P2P_HS_PAYLOAD_MAX)
        return -1;
    mp_reader_init(&r, data, len);
    mp_expect_array(&r, 4);
    mp_read_uint_max(&r, P2P_HS_VERSION, &version);
    mp_read_bin_exact(&r, p->node_pub, PUBKEY_LEN);
    mp_read_bin_exact(&r, p->sig, SIG_LEN);
    mp_read_bin_exact(&r, p->lock_hash, SHA256_LEN);
    return mp_reader_done(&r) && version == P2P_HS_VERSION ? 0 : -1;
}

int p2p_dkg_gate(struct lock *l, const char *lock_path, uint64_t index,
                 const struct p2p_identity *id, char *err, size_t errsz)
{
    char why[400];
    if (lock_load(l, lock_path, err, errsz) < 0)
        return -1;
    if (!p2p_identity_verify(id->node_pub, id->static_pub, id->sig)) {
        snprintf(err, errsz, "P2P identity: the signature does not certify its Noise key");
        return -1;
    }
    if (lock_check_member(l, index, id->node_pub, why, sizeof(why)) < 0) {
        snprintf(err, errsz, "cluster lock %s: %s (P2P identity)", lock_path, why);
        return -1;
    }
    return 0;
}

void p2p_hs_init(struct p2p_hs *hs, bool initiator, const struct p2p_identity *id,
                 const struct lock *lock, uint32_t self, int expect)
{
    memset(hs, 0, sizeof(*hs));
    noise_hs_init(&hs->noise, initiator, id->static_priv, P2P_PROLOGUE, strlen(P2P_PROLOGUE));
    hs->id = id;
    hs->lock = lock;
    hs->self = self;
    hs->expect = initiator ? expect : -1;
    hs->peer = -1;
    hs->status = P2P_HS_CONTINUE;
}

static enum p2p_hs_status verdict(struct p2p_hs *hs, enum p2p_hs_status s, const char *why)
{
    hs->status = s;
    hs->why = why;
    return s;
}

/* Our own payload, written into the next handshake message. */
static int write_ours(struct p2p_hs *hs, uint8_t *out, size_t cap, size_t *outlen)
{
    struct p2p_hs_payload mine;
    struct buf b = BUF_INIT;
    memcpy(mine.node_pub, hs->id->node_pub, PUBKEY_LEN);
    memcpy(mine.sig, hs->id->sig, SIG_LEN);
    memcpy(mine.lock_hash, hs->lock->hash, SHA256_LEN);
    p2p_hs_payload_encode(&mine, &b);
    int rc = noise_hs_write(&hs->noise, b.data, b.len, out, cap, outlen);
    buf_free(&b);
    return rc;
}

/* The AllowList for a handshake: see the header for the order of checks. */
static enum p2p_hs_status judge(struct p2p_hs *hs, const uint8_t *payload, size_t plen)
{
    struct p2p_hs_payload p;
    if (p2p_hs_payload_decode(&p, payload, plen) < 0)
        return verdict(hs, P2P_HS_FAILED, "malformed handshake payload");
    const uint8_t *rs = noise_hs_remote_static(&hs->noise);
    if (!rs || !p2p_identity_verify(p.node_pub, rs, p.sig))
        return verdict(hs, P2P_HS_DENIED, "identity signature does not certify the Noise key");
    int idx = lock_find_pubkey(hs->lock, p.node_pub);
    if (idx < 0)
        return verdict(hs, P2P_HS_DENIED, "key is not an operator of the cluster lock");
    if ((uint32_t)idx == hs->self)
        return verdict(hs, P2P_HS_DENIED, "peer presented this node's own key");
    hs->peer = idx;
    if (memcmp(p.lock_hash, hs->lock->hash, SHA256_LEN) != 0)
        return verdict(hs, P2P_HS_DKG_DENIED, "peer runs a different cluster lock");
    if (hs->expect >= 0 && idx != hs->expect)
        return verdict(hs, P2P_HS_DENIED, "peer is not the operator dialled");
    return P2P_HS_CONTINUE;
}

enum p2p_hs_status p2p_hs_start(struct p2p_hs *hs, uint8_t *out, size_t cap, size_t *outlen)
{
    if (!hs->noise.initiator || hs->noise.step != 0 || hs->status != P2P_HS_CONTINUE)
        return verdict(hs, P2P_HS_FAILED, "handshake started twice or by the responder");
    if (noise_hs_write(&hs->noise, NULL, 0, out, cap, outlen) < 0)
        return verdict(hs, P2P_HS_FAILED, "cannot write handshake message 1");
    return P2P_HS_CONTINUE;
}

enum p2p_hs_status p2p_hs_step(struct p2p_hs *hs, const uint8_t *in, size_t len, uint8_t *out,
                               size_t cap, size_t *outlen)
{
    uint8_t payload[P2P_HS_MSG_MAX];
    size_t plen;
    *outlen = 0;
    if (hs->status != P2P_HS_CONTINUE)
        return hs->status;
    if (len > P2P_HS_MSG_MAX ||
        noise_hs_read(&hs->noise, in, len, payload, sizeof(payload), &plen) < 0)
        return verdict(hs, P2P_HS_FAILED, "handshake message does not authenticate");
    switch (hs->noise.step) {
    case 1: /* responder read message 1: empty payload; answer with message 2 */
        if (plen != 0)
            return verdict(hs, P2P_HS_FAILED, "handshake message 1 carries a payload");
        if (write_ours(hs, out, cap, outlen) < 0)
            return verdict(hs, P2P_HS_FAILED, "cannot write handshake message 2");
        return P2P_HS_CONTINUE;
    case 2: /* initiator read message 2: judge, then message 3 */
        if (judge(hs, payload, plen) != P2P_HS_CONTINUE)
            return hs->status;
        if (write_ours(hs, out, cap, outlen) < 0)
            return verdict(hs, P2P_HS_FAILED, "cannot write handshake message 3");
        return verdict(hs, P2P_HS_DONE, NULL);
    case 3: /* responder read message 3 */
        if (judge(hs, payload, plen) != P2P_HS_CONTINUE)
            return hs->status;
        return verdict(hs, P2P_HS_DONE, NULL);
    default:
        return verdict(hs, P2P_HS_FAILED, "unexpected handshake message");
    }
}

int p2p_hs_split(struct p2p_hs *hs, struct noise_cipher *tx, struct noise_cipher *rx)
{
    if (hs->status != P2P_HS_DONE)
        return -1;
    return noise_hs_split(&hs->noise, tx, rx);
}

void p2p_hs_wipe(struct p2p_hs *hs)
{
    noise_hs_wipe(&hs->noise);
}
