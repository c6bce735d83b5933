/*
 * Unit tests for the threshold-signing sessions (workers/qbft/tss.h): four in-process nodes
 * (n = 4, t = 3, FROST keys from lib/frost's dealer) wired through a fake host — a FIFO network
 * that can lose a node or tamper with what one sends, a shared clock, counted random bytes.
 * Covers: signatures made and verified (independently of the module, with frost_verify over
 * m computed here); 3 of 4 live; 2 of 4 (timeout, nothing stored); a bad share (the signer named,
 * reported, left out, the next attempt signs, and left out of that coordinator's later sessions);
 * ABORTs arriving out of order; a dead coordinator (rotation); duplicate, late,
 * misdirected and malformed messages; a late decider answered with the signature; a restarted
 * coordinator that looks its decision up; the session cap. Every test also checks, on all
 * traffic, that no node ever committed the same nonce twice nor made two shares in one attempt.
 *
 * attester/7 decided in round 1: coordinator of attempt a is (7 + 0 + 1 + a) % 4 = (a) % 4.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/metrics.h"
#include "lib/util.h"
#include "proto/p2p.h"
#include "proto/tss.h"
#include "workers/qbft/tss.h"

#define N          4
#define T          3
#define ATTEMPT_MS 1000
#define MAXPKT     4096
#define MAXSEEN    1024

static const uint8_t DUTY = 0; /* attester */
static const uint64_t HEIGHT = 7;

struct pkt {
    unsigned from, to;
    struct buf bytes;
};

struct node {
    unsigned index;
    struct tss *t;
    bool dead;
    bool byzantine; /* its SHAREs leave with one bit of z flipped */
    uint64_t rnd;   /* random bytes handed out */
    unsigned nstored;
    struct tss_record stored;
    uint64_t stored_height;
    unsigned reports[N][TSS_REPORT_UNDECODABLE + 1]; /* by peer, why */
    unsigned lookups;
    char last_result[32];
    int last_signer;    /* "signer" of the last tss_session line, -1 none */
    int commit_attempt; /* "attempt" of the last commit (debug line), -1 none */
};

/* What left any node, for the invariants. */
struct seen_commit {
    unsigned node;
    uint8_t hiding[FROST_POINT_LEN], binding[FROST_POINT_LEN];
};
struct seen_share {
    unsigned node;
    uint64_t height;
    uint32_t attempt;
};

static struct {
    struct node nodes[N];
    struct pkt q[MAXPKT];
    size_t head, tail;
    uint64_t now;
    uint8_t lock_hash[SHA256_LEN];
    uint8_t group_pub[FROST_POINT_LEN];
    uint8_t shares[N][FROST_SCALAR_LEN];
    uint8_t vshares[N][FROST_POINT_LEN];
    struct seen_commit commits[MAXSEEN];
    size_t ncommits;
    struct seen_share sharesent[MAXSEEN];
    size_t nsharesent;
    struct tss_msg *scratch;
} W;

/* ---- the host ---- */

static uint64_t h_mono(void *ctx)
{
    (void)ctx;
    return W.now;
}

static void h_random(void *ctx, uint8_t *out, size_t n)
{
    struct node *nd = ctx;
    for (size_t i = 0; i < n; i += SHA256_LEN) {
        uint8_t seed[16], h[SHA256_LEN];
        memset(seed, 0, sizeof(seed));
        seed[0] = (uint8_t)nd->index;
        memcpy(seed + 8, &nd->rnd, sizeof(nd->rnd));
        nd->rnd++;
        sha256(h, seed, sizeof(seed));
        memcpy(out + i, h, n - i < SHA256_LEN ? n - i : SHA256_LEN);
    }
}

/* Every message is recorded for the invariants, then queued (broadcast: to every other node). */
static void observe(unsigned from, const uint8_t *bytes, size_t len)
{
    struct tss_msg *m = W.scratch;
    ck_assert_int_eq(tss_msg_decode(m, bytes, len), 0);
    if (m->kind == TSS_COMMIT) {
        for (size_t i = 0; i < W.ncommits; i++)
            ck_assert_msg(memcmp(W.commits[i].hiding, m->commit.hiding, FROST_POINT_LEN) != 0 &&
                              memcmp(W.commits[i].binding, m->commit.binding, FROST_POINT_LEN) != 0,
                          "a nonce commitment was sent twice");
        ck_assert_uint_lt(W.ncommits, MAXSEEN);
        struct seen_commit *c = &W.commits[W.ncommits++];
        c->node = from;
        memcpy(c->hiding, m->commit.hiding, FROST_POINT_LEN);
        memcpy(c->binding, m->commit.binding, FROST_POINT_LEN);
    } else if (m->kind == TSS_SHARE) {
        for (size_t i = 0; i < W.nsharesent; i++)
            ck_assert_msg(!(W.sharesent[i].node == from && W.sharesent[i].height == m->height &&
                            W.sharesent[i].attempt == m->attempt),
                          "node %u made two shares in one attempt", from);
        ck_assert_uint_lt(W.nsharesent, MAXSEEN);
        W.sharesent[W.nsharesent++] = (struct seen_share){from, m->height, m->attempt};
    }
}

static void enqueue(unsigned from, unsigned to, const uint8_t *bytes, size_t len)
{
    ck_assert_uint_lt(W.tail - W.head, MAXPKT);
    struct pkt *p = &W.q[W.tail++ % MAXPKT];
    p->from = from;
    p->to = to;
    p->bytes = (struct buf)BUF_INIT;
    buf_append(&p->bytes, bytes, len);
}

static void h_send(void *ctx, uint32_t peer, const uint8_t *bytes, size_t len)
{
    struct node *nd = ctx;
    struct buf b = BUF_INIT;
    buf_append(&b, bytes, len);
    if (nd->byzantine && tss_msg_decode(W.scratch, bytes, len) == 0 &&
        W.scratch->kind == TSS_SHARE) {
        W.scratch->z[FROST_SCALAR_LEN - 1] ^= 1;
        buf_reset(&b);
        tss_msg_encode(&b, W.scratch);
    }
    observe(nd->index, b.data, b.len);
    ck_assert(peer == P2P_BROADCAST || (peer < N && peer != nd->index));
    for (unsigned to = 0; to < N; to++)
        if (to != nd->index && (peer == P2P_BROADCAST || peer == to))
            enqueue(nd->index, to, b.data, b.len);
    buf_free(&b);
}

static void h_report(void *ctx, unsigned peer, enum tss_report why)
{
    struct node *nd = ctx;
    ck_assert_uint_lt(peer, N);
    nd->reports[peer][why]++;
}

static void h_store(void *ctx, uint8_t dtype, uint64_t height, const struct tss_record *rec)
{
    struct node *nd = ctx;
    ck_assert_uint_eq(dtype, DUTY);
    nd->nstored++;
    nd->stored = *rec;
    nd->stored_height = height;
}

static void h_lookup(void *ctx, uint8_t dtype, uint64_t height)
{
    (void)dtype;
    (void)height;
    ((struct node *)ctx)->lookups++;
}

static void h_log(void *ctx, enum log_level level, const char *event, const struct log_kv *kv)
{
    struct node *nd = ctx;
    (void)level;
    bool commit = false;
    if (strcmp(event, "tss_session") != 0)
        return;
    for (; kv->k; kv++) {
        if (!strcmp(kv->k, "event") && kv->t == 's' && !strcmp(kv->v.s, "commit"))
            commit = true;
        if (commit && !strcmp(kv->k, "attempt") && kv->t == 'u')
            nd->commit_attempt = (int)kv->v.u;
        if (!strcmp(kv->k, "result") && kv->t == 's')
            snprintf(nd->last_result, sizeof(nd->last_result), "%s", kv->v.s);
        if (!strcmp(kv->k, "signer") && kv->t == 'u')
            nd->last_signer = (int)kv->v.u;
    }
}

/* ---- the world ---- */

static struct tss_config config_of(unsigned i)
{
    struct tss_config c = {.n = N, .t = T, .self = i, .attempt_ms = ATTEMPT_MS, .max_sessions = 16};
    memcpy(c.lock_hash, W.lock_hash, SHA256_LEN);
    memcpy(c.group_pub, W.group_pub, FROST_POINT_LEN);
    memcpy(c.vshares, W.vshares, sizeof(W.vshares));
    memcpy(c.share, W.shares[i], FROST_SCALAR_LEN);
    return c;
}

static struct tss *node_new(unsigned i, bool with_lookup)
{
    char err[128];
    struct tss_host h = {
        .ctx = &W.nodes[i],
        .mono_ms = h_mono,
        .random = h_random,
        .send = h_send,
        .report = h_report,
        .store = h_store,
        .lookup = with_lookup ? h_lookup : NULL,
        .log = h_log,
    };
    struct tss_config c = config_of(i);
    struct tss *t = tss_new(&c, &h, err, sizeof(err));
    ck_assert_msg(t != NULL, "%s", err);
    return t;
}

static void world_setup(void)
{
    static const uint8_t secret[FROST_SCALAR_LEN] = {
        0x0d, 0x00, 0x4c, 0x5c, 0x26, 0x1a, 0x1b, 0x37, 0x1c, 0x4b, 0x15,
        0x2e, 0x0b, 0x31, 0x62, 0x11, 0x0c, 0x7e, 0x2a, 0x4f, 0x06, 0x1d,
        0x2c, 0x3b, 0x44, 0x59, 0x10, 0x33, 0x21, 0x7a, 0x6c, 0x05,
    };
    static const uint8_t coeffs[T - 1][FROST_SCALAR_LEN] = {{0x3f, 0x21, 0x09, 0x77, 0x1e},
                                                            {0x12, 0x6a, 0x5d, 0x02, 0x48}};
    memset(&W, 0, sizeof(W));
    W.now = 5000;
    W.scratch = malloc(sizeof(*W.scratch));
    sha256(W.lock_hash, "tss session test lock", 21);
    ck_assert_int_eq(
        frost_dealer_split(secret, coeffs, T, N, W.group_pub, W.shares, W.vshares, NULL), 0);
    for (unsigned i = 0; i < N; i++) {
        W.nodes[i].index = i;
        W.nodes[i].last_signer = -1;
        W.nodes[i].commit_attempt = -1;
        W.nodes[i].t = node_new(i, false);
    }
}

static void world_teardown(void)
{
    for (unsigned i = 0; i < N; i++)
        tss_free(W.nodes[i].t);
    while (W.head < W.tail)
        buf_free(&W.q[W.head++ % MAXPKT].bytes);
    free(W.scratch);
}

/* Deliver everything queued (and what that makes), but to and from dead nodes. */
static void pump(void)
{
    while (W.head < W.tail) {
        struct pkt p = W.q[W.head++ % MAXPKT];
        if (!W.nodes[p.to].dead && !W.nodes[p.from].dead)
            tss_deliver(W.nodes[p.to].t, p.from, p.bytes.data, p.bytes.len);
        buf_free(&p.bytes);
    }
}

static void advance(uint64_t ms)
{
    W.now += ms;
    for (unsigned i = 0; i < N; i++)
        if (!W.nodes[i].dead && tss_next_deadline(W.nodes[i].t) <= W.now)
            tss_tick(W.nodes[i].t);
    pump();
}

static void value_hash_of(uint64_t height, uint8_t out[SHA256_LEN])
{
    char v[32];
    int n = snprintf(v, sizeof(v), "value %llu", (unsigned long long)height);
    sha256(out, v, (size_t)n);
}

static void decide(unsigned i, uint64_t height)
{
    uint8_t vh[SHA256_LEN];
    value_hash_of(height, vh);
    tss_decided(W.nodes[i].t, DUTY, height, 1, vh);
}

static void decide_live(uint64_t height)
{
    for (unsigned i = 0; i < N; i++)
        if (!W.nodes[i].dead)
            decide(i, height);
    pump();
}

/* The stored signature verifies under the group key, over m computed here. */
static void assert_signed(unsigned i, uint64_t height)
{
    uint8_t vh[SHA256_LEN], m[SHA256_LEN];
    struct node *nd = &W.nodes[i];
    ck_assert_msg(nd->nstored == 1, "node %u stored %u signatures", i, nd->nstored);
    ck_assert_uint_eq(nd->stored_height, height);
    value_hash_of(height, vh);
    tss_message(m, W.lock_hash, vh);
    ck_assert_int_eq(frost_verify(W.group_pub, m, SHA256_LEN, nd->stored.sig), 0);
    ck_assert_uint_eq(nd->stored.nsigners, T);
    ck_assert_int_eq(tss_open(nd->t), 0);
}

static double counter(const char *result)
{
    return metric_value(metric("tss_sessions_total", result));
}

/* ---- tests ---- */

START_TEST(all_four_sign)
{
    double ok0 = counter("ok");
    decide_live(HEIGHT);
    for (unsigned i = 0; i < N; i++)
        assert_signed(i, HEIGHT);
    /* the coordinator of attempt 0 (node 0) took its own commitment and the first two */
    ck_assert_uint_eq(W.nodes[1].stored.signers[0], 0);
    ck_assert(memcmp(W.nodes[1].stored.sig, W.nodes[3].stored.sig, FROST_SIG_LEN) == 0);
    ck_assert_double_eq(counter("ok") - ok0, N);
    ck_assert_uint_eq(W.nodes[0].reports[1][TSS_REPORT_INVALID], 0);
    ck_assert_uint_eq(tss_next_deadline(W.nodes[0].t), UINT64_MAX); /* nothing held, none open */
    /* a decision reported again changes nothing */
    decide(2, HEIGHT);
    pump();
    ck_assert_uint_eq(W.nodes[2].nstored, 1);
}
END_TEST

START_TEST(three_of_four)
{
    W.nodes[3].dead = true;
    decide_live(HEIGHT);
    for (unsigned i = 0; i < 3; i++) {
        assert_signed(i, HEIGHT);
        ck_assert_uint_eq(W.nodes[i].stored.signers[2], 2); /* signers 0, 1, 2 */
    }
    ck_assert_uint_eq(W.nodes[3].nstored, 0);
}
END_TEST

START_TEST(two_of_four_time_out)
{
    double timeout0 = counter("timeout");
    W.nodes[2].dead = W.nodes[3].dead = true;
    decide_live(HEIGHT);
    ck_assert_uint_eq(tss_open(W.nodes[0].t), 1);
    for (unsigned a = 0; a < N; a++)
        advance(ATTEMPT_MS);
    for (unsigned i = 0; i < 2; i++) {
        ck_assert_uint_eq(W.nodes[i].nstored, 0);
        ck_assert_uint_eq(tss_open(W.nodes[i].t), 0);
        ck_assert_str_eq(W.nodes[i].last_result, "timeout");
    }
    ck_assert_double_eq(counter("timeout") - timeout0, 2);
    /* every attempt had fresh commitments: 2 nodes x 4 attempts, minus the coordinators' own */
    ck_assert_uint_ge(W.ncommits, 4);
}
END_TEST

START_TEST(bad_share_named_and_left_out)
{
    double invalid0 = counter("invalid");
    W.nodes[2].byzantine = true;
    decide_live(HEIGHT);
    /* attempt 0: coordinator 0 took {0, 1, 2}; node 2's share failed, it was named and reported,
     * and every node moved to attempt 1, whose coordinator (1) left node 2 out */
    ck_assert_double_eq(counter("invalid") - invalid0, 1);
    ck_assert_int_eq(W.nodes[0].last_signer, 2);
    ck_assert_uint_eq(W.nodes[0].reports[2][TSS_REPORT_INVALID], 1);
    for (unsigned i = 0; i < N; i++) {
        assert_signed(i, HEIGHT);
        for (uint32_t k = 0; k < W.nodes[i].stored.nsigners; k++)
            ck_assert_uint_ne(W.nodes[i].stored.signers[k], 2);
    }
}
END_TEST

/* The coordinator that caught a bad share leaves its signer out of its later sessions too. */
START_TEST(bad_signer_left_out_of_later_sessions)
{
    W.nodes[2].byzantine = true;
    decide_live(HEIGHT); /* attempt 0: coordinator 0 takes node 2 and catches it */
    double invalid0 = counter("invalid");
    ck_assert_double_ge(invalid0, 1);
    /* attester/11 and /15, round 1: node 0 coordinates attempt 0 again ((11 + 1) % 4 = 0) */
    decide_live(11);
    ck_assert_double_eq(counter("invalid"), invalid0);
    for (unsigned i = 0; i < N; i++) {
        ck_assert_uint_eq(W.nodes[i].nstored, 2);
        ck_assert_uint_eq(W.nodes[i].stored_height, 11);
        const uint8_t want[T] = {0, 1, 3};
        ck_assert_mem_eq(W.nodes[i].stored.signers, want, T);
    }
    /* the suspicion ends: node 0 takes the first commitments again, and catches node 2 again */
    advance(TSS_SUSPECT_MS);
    decide_live(15);
    ck_assert_double_eq(counter("invalid"), invalid0 + 1);
    ck_assert_uint_eq(W.nodes[1].nstored, 3);
}
END_TEST

static void deliver_abort(unsigned from, unsigned to, uint32_t attempt, unsigned blamed)
{
    struct tss_msg *m = W.scratch;
    struct buf b = BUF_INIT;
    memset(m, 0, sizeof(*m));
    m->kind = TSS_ABORT;
    m->dtype = DUTY;
    m->height = HEIGHT;
    m->attempt = attempt;
    m->id = (uint16_t)(blamed + 1);
    tss_msg_encode(&b, m);
    tss_deliver(W.nodes[to].t, from, b.data, b.len);
    buf_free(&b);
}

/* ABORTs of two coordinators arrive in either order: a node that hears attempt 1's first moves
 * on to attempt 2 at once, and attempt 0's, late, blames but does not move it back. */
START_TEST(aborts_in_either_order)
{
    decide(2, HEIGHT);
    ck_assert_int_eq(W.nodes[2].commit_attempt, 0);
    deliver_abort(1, 2, 1, 3); /* from attempt 1's coordinator */
    ck_assert_int_eq(W.nodes[2].commit_attempt, 2);
    deliver_abort(0, 2, 0, 3); /* attempt 0's, late */
    ck_assert_int_eq(W.nodes[2].commit_attempt, 2);
    deliver_abort(3, 2, 1, 0); /* not attempt 1's coordinator: nothing */
    ck_assert_int_eq(W.nodes[2].commit_attempt, 2);
    /* the others sign without node 2 (at attempt 0, 1 or 2, whichever has three), node 2 gets
     * the signature */
    for (unsigned i = 0; i < N; i++)
        if (i != 2)
            decide(i, HEIGHT);
    pump();
    for (unsigned a = 0; a < N && W.nodes[2].nstored == 0; a++)
        advance(ATTEMPT_MS);
    for (unsigned i = 0; i < N; i++)
        assert_signed(i, HEIGHT);
}
END_TEST

START_TEST(dead_coordinator_rotates)
{
    W.nodes[0].dead = true; /* coordinator of attempt 0 */
    decide_live(HEIGHT);
    for (unsigned i = 1; i < N; i++)
        ck_assert_uint_eq(W.nodes[i].nstored, 0);
    advance(ATTEMPT_MS); /* attempt 1: node 1 coordinates */
    for (unsigned i = 1; i < N; i++) {
        assert_signed(i, HEIGHT);
        ck_assert_uint_eq(W.nodes[i].stored.signers[0], 1);
    }
}
END_TEST

/* Capture what node `from` sends to `to` of one kind, instead of delivering it. */
static int take(unsigned from, unsigned to, uint8_t kind, struct buf *out)
{
    for (size_t i = W.head; i < W.tail; i++) {
        struct pkt *p = &W.q[i % MAXPKT];
        if (p->from == from && p->to == to &&
            tss_msg_decode(W.scratch, p->bytes.data, p->bytes.len) == 0 &&
            W.scratch->kind == kind) {
            buf_append(out, p->bytes.data, p->bytes.len);
            return 0;
        }
    }
    return -1;
}

START_TEST(duplicate_late_and_malformed_dropped)
{
    struct buf sign = BUF_INIT, commit = BUF_INIT, share = BUF_INIT, sig = BUF_INIT;
    for (unsigned i = 0; i < N; i++)
        decide(i, HEIGHT);
    ck_assert_int_eq(take(1, 0, TSS_COMMIT, &commit), 0);
    /* step by step: node 0 gets the COMMITs and sends SIGN to 1 and 2 */
    while (take(0, 1, TSS_SIGN, &sign) < 0) {
        struct pkt p = W.q[W.head++ % MAXPKT];
        tss_deliver(W.nodes[p.to].t, p.from, p.bytes.data, p.bytes.len);
        buf_free(&p.bytes);
    }
    /* the same SIGN again, at once: node 1 signs once only (its nonces are gone) */
    size_t shares_before = W.nsharesent;
    tss_deliver(W.nodes[1].t, 0, sign.data, sign.len);
    tss_deliver(W.nodes[1].t, 0, sign.data, sign.len);
    ck_assert_uint_eq(W.nsharesent, shares_before + 1);
    /* a SIGN from a node that is not the coordinator: nothing */
    tss_deliver(W.nodes[2].t, 3, sign.data, sign.len);
    ck_assert_uint_eq(W.nsharesent, shares_before + 1);
    ck_assert_int_eq(take(1, 0, TSS_SHARE, &share), 0);
    pump();
    for (unsigned i = 0; i < N; i++)
        assert_signed(i, HEIGHT);
    /* late: the share again, the COMMIT again (answered with the SIG once), none reported */
    size_t queued = W.tail;
    tss_deliver(W.nodes[0].t, 1, share.data, share.len);
    tss_deliver(W.nodes[0].t, 1, commit.data, commit.len);
    tss_deliver(W.nodes[0].t, 1, commit.data, commit.len);
    ck_assert_uint_eq(W.tail, queued + 1);
    ck_assert_int_eq(take(0, 1, TSS_SIG, &sig), 0);
    pump();
    ck_assert_uint_eq(W.nodes[1].nstored, 1); /* a done session takes no second signature */
    for (unsigned p = 0; p < N; p++)
        ck_assert_uint_eq(W.nodes[0].reports[p][TSS_REPORT_INVALID] +
                              W.nodes[0].reports[p][TSS_REPORT_UNDECODABLE],
                          0);
    /* malformed bytes, a truncated message, a message from itself or no member */
    static const uint8_t junk[] = {0x93, 0x01, 0x02};
    tss_deliver(W.nodes[0].t, 3, junk, sizeof(junk));
    tss_deliver(W.nodes[0].t, 3, sig.data, sig.len - 1);
    ck_assert_uint_eq(W.nodes[0].reports[3][TSS_REPORT_UNDECODABLE], 2);
    tss_deliver(W.nodes[0].t, 0, junk, sizeof(junk));
    tss_deliver(W.nodes[0].t, N, junk, sizeof(junk));
    ck_assert_uint_eq(W.nodes[0].reports[0][TSS_REPORT_UNDECODABLE], 0);
    buf_free(&sign);
    buf_free(&commit);
    buf_free(&share);
    buf_free(&sig);
}
END_TEST

START_TEST(forged_commit_and_signature_reported)
{
    for (unsigned i = 0; i < N; i++)
        decide(i, HEIGHT);
    /* node 3 sends a COMMIT claiming node 1's identifier, and one whose point is not on the
     * curve: both reported, neither taken */
    struct buf b = BUF_INIT;
    ck_assert_int_eq(take(3, 0, TSS_COMMIT, &b), 0);
    ck_assert_int_eq(tss_msg_decode(W.scratch, b.data, b.len), 0);
    struct tss_msg m = *W.scratch;
    m.commit.id = 2;
    buf_reset(&b);
    tss_msg_encode(&b, &m);
    tss_deliver(W.nodes[0].t, 3, b.data, b.len);
    m.commit.id = 4;
    memset(m.commit.hiding + 1, 0xff, FROST_POINT_LEN - 1); /* x >= p: no point */
    buf_reset(&b);
    tss_msg_encode(&b, &m);
    tss_deliver(W.nodes[0].t, 3, b.data, b.len);
    ck_assert_uint_eq(W.nodes[0].reports[3][TSS_REPORT_UNDECODABLE], 2);
    /* a SIG that does not verify: reported, not stored */
    memset(&m, 0, sizeof(m));
    m.kind = TSS_SIG;
    m.dtype = DUTY;
    m.height = HEIGHT;
    m.nsigners = T;
    m.signers[0] = 0;
    m.signers[1] = 1;
    m.signers[2] = 3;
    memcpy(m.sig, W.group_pub, FROST_POINT_LEN); /* a point, and z = 1 */
    m.sig[FROST_SIG_LEN - 1] = 1;
    buf_reset(&b);
    tss_msg_encode(&b, &m);
    tss_deliver(W.nodes[2].t, 3, b.data, b.len);
    ck_assert_uint_eq(W.nodes[2].reports[3][TSS_REPORT_INVALID], 1);
    ck_assert_uint_eq(W.nodes[2].nstored, 0);
    buf_free(&b);
    pump(); /* the honest COMMIT of node 3 is still queued: the session completes */
    for (unsigned i = 0; i < N; i++)
        assert_signed(i, HEIGHT);
}
END_TEST

START_TEST(late_decider_gets_the_signature)
{
    /* node 3 decides after the others finished: its COMMIT to the coordinator is answered with
     * the SIG; a SIG that came before it decided is held and taken once it decides */
    for (unsigned i = 0; i < 3; i++)
        decide(i, HEIGHT);
    pump();
    for (unsigned i = 0; i < 3; i++)
        assert_signed(i, HEIGHT);
    ck_assert_uint_eq(W.nodes[3].nstored, 0); /* the broadcast SIG is held */
    decide(3, HEIGHT);
    pump();
    assert_signed(3, HEIGHT);
    /* a node that decides late and saw nothing: answered by the coordinator */
    decide(0, HEIGHT + 4); /* coordinator of attempt 0 is node (11 + 1) % 4 = 0 */
    decide(1, HEIGHT + 4);
    decide(2, HEIGHT + 4);
    W.nodes[3].dead = true;
    pump();
    W.nodes[3].dead = false;
    decide(3, HEIGHT + 4);
    pump();
    ck_assert_uint_eq(W.nodes[3].nstored, 2);
    ck_assert_uint_eq(W.nodes[3].stored_height, HEIGHT + 4);
}
END_TEST

START_TEST(restarted_coordinator_looks_up)
{
    /* node 0 restarted: its sessions are gone. The others' COMMITs for attempt 0 reach it; it
     * holds them, asks once whether it decided the instance, and coordinates with fresh
     * nonces once it hears it did. */
    tss_free(W.nodes[0].t);
    W.nodes[0].t = node_new(0, true);
    for (unsigned i = 1; i < N; i++)
        decide(i, HEIGHT);
    pump();
    ck_assert_uint_eq(W.nodes[0].lookups, 0); /* it may just be about to decide */
    advance(ATTEMPT_MS / 4);
    ck_assert_uint_eq(W.nodes[0].lookups, 1);
    ck_assert_uint_eq(W.nodes[1].nstored, 0);
    uint8_t vh[SHA256_LEN];
    value_hash_of(HEIGHT, vh);
    tss_lookup_done(W.nodes[0].t, DUTY, HEIGHT, false, 0, NULL, NULL); /* not (yet) */
    ck_assert_uint_eq(tss_open(W.nodes[0].t), 0);
    tss_lookup_done(W.nodes[0].t, DUTY, HEIGHT, true, 1, vh, NULL);
    pump();
    for (unsigned i = 0; i < N; i++)
        assert_signed(i, HEIGHT);
    /* decided here and signed already: a late COMMIT is answered from the stored record */
    tss_free(W.nodes[1].t);
    W.nodes[1].t = node_new(1, true);
    struct tss_record rec = W.nodes[0].stored;
    tss_free(W.nodes[0].t);
    W.nodes[0].t = node_new(0, true);
    W.nodes[0].lookups = 0;
    decide(3, HEIGHT + 4); /* coordinator 0 */
    pump();
    advance(ATTEMPT_MS / 4);
    ck_assert_uint_eq(W.nodes[0].lookups, 1);
    value_hash_of(HEIGHT + 4, vh);
    tss_lookup_done(W.nodes[0].t, DUTY, HEIGHT + 4, true, 1, vh, &rec);
    pump();
    ck_assert_uint_eq(W.nodes[3].nstored, 1); /* rec is of HEIGHT: it does not verify there */
    ck_assert_uint_eq(W.nodes[3].reports[0][TSS_REPORT_INVALID], 1);
}
END_TEST

START_TEST(sessions_capped_and_held_expire)
{
    double timeout0 = counter("timeout"); /* a session crowded out is counted as a timeout */
    W.nodes[1].dead = W.nodes[2].dead = W.nodes[3].dead = true;
    for (uint64_t h = 0; h < 20; h++)
        decide(0, 100 + h);
    ck_assert_uint_eq(tss_open(W.nodes[0].t), 16);
    ck_assert_double_eq(counter("timeout") - timeout0, 4);
    ck_assert_str_eq(W.nodes[0].last_result, "dropped");
    for (unsigned a = 0; a < N; a++)
        advance(ATTEMPT_MS);
    ck_assert_uint_eq(tss_open(W.nodes[0].t), 0);
    ck_assert_uint_eq(tss_next_deadline(W.nodes[0].t), UINT64_MAX);
    /* messages of sessions unknown here are held, then forgotten */
    W.nodes[1].dead = false;
    decide(1, 503); /* coordinator of attempt 0: node (503 + 1) % 4 = 0 */
    pump();
    ck_assert_uint_lt(tss_next_deadline(W.nodes[0].t), UINT64_MAX); /* its COMMIT is held */
    /* node 1 gives up after its four attempts; node 0 forgets the COMMIT it held */
    for (unsigned a = 0; a < 2 * N; a++)
        advance(ATTEMPT_MS);
    ck_assert_uint_eq(tss_open(W.nodes[1].t), 0);
    ck_assert_uint_eq(tss_next_deadline(W.nodes[0].t), UINT64_MAX);
}
END_TEST

START_TEST(config_checked)
{
    char err[128];
    struct tss_host h = {.mono_ms = h_mono, .random = h_random, .send = h_send};
    struct tss_config c = config_of(0);
    c.t = N + 1;
    ck_assert_ptr_null(tss_new(&c, &h, err, sizeof(err)));
    ck_assert(strstr(err, "invalid configuration") != NULL);
    c = config_of(0);
    c.n = TSS_MAX_SIGNERS + 1;
    ck_assert_ptr_null(tss_new(&c, &h, err, sizeof(err)));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tss_session");
    TCase *c = tcase_create("sessions");
    tcase_add_checked_fixture(c, world_setup, world_teardown);
    tcase_set_timeout(c, 30);
    tcase_add_test(c, all_four_sign);
    tcase_add_test(c, three_of_four);
    tcase_add_test(c, two_of_four_time_out);
    tcase_add_test(c, bad_share_named_and_left_out);
    tcase_add_test(c, bad_signer_left_out_of_later_sessions);
    tcase_add_test(c, aborts_in_either_order);
    tcase_add_test(c, dead_coordinator_rotates);
    tcase_add_test(c, duplicate_late_and_malformed_dropped);
    tcase_add_test(c, forged_commit_and_signature_reported);
    tcase_add_test(c, late_decider_gets_the_signature);
    tcase_add_test(c, restarted_coordinator_looks_up);
    tcase_add_test(c, sessions_capped_and_held_expire);
    tcase_add_test(c, config_checked);
    suite_add_tcase(s, c);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
