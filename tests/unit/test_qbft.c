/*
 * Unit tests for the QBFT engine (workers/qbft): every verifier row, each upon rule, the intent
 * discipline, restore, buffering, abstention, timers, validation verdicts that come late, and
 * the named scenarios, on the in-process cluster harness (tests/sim/cluster.c: each node is the
 * worker's duties module around an engine, with real keys and signatures).
 *
 * Instance under test: attester/7 with n = 4, so the leaders are node 0 in round 1, node 1 in
 * round 2, node 2 in round 3, node 3 in round 4 (leader = (height + duty + round) % n).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "tests/sim/cluster.h"
#include "workers/qbft/qbft_table.h"

static const struct qbft_id ID = {0, 7};

static struct cluster *mk_opts(unsigned n, struct cl_opts *o)
{
    o->n = n;
    o->seed = 42;
    return cl_new(o);
}

static struct cluster *mk(unsigned n)
{
    struct cl_opts o;
    cl_opts_default(&o, n);
    return mk_opts(n, &o);
}

static void hash_of(uint8_t h[SHA256_LEN], const char *v)
{
    sha256(h, v, strlen(v));
}

static struct qbft_body body(uint8_t type, unsigned sender, uint64_t round, const char *value)
{
    struct qbft_body b = {.type = type,
                          .duty = ID.duty,
                          .height = ID.height,
                          .round = round,
                          .sender = (uint16_t)sender};
    if (value) {
        b.has_value_hash = true;
        hash_of(b.value_hash, value);
    }
    return b;
}

static struct qbft_body rc_body(unsigned sender, uint64_t round, uint64_t pr, const char *pv)
{
    struct qbft_body b = body(QBFT_ROUND_CHANGE, sender, round, NULL);
    b.prepared_round = pr;
    if (pv)
        hash_of(b.prepared_hash, pv);
    return b;
}

/* A signed body for justifications. */
struct sb {
    struct buf body;
    uint8_t sig[SIG_LEN];
};

static struct qbft_sigref sb_make(struct sb *s, struct cluster *c, unsigned signer,
                                  const struct qbft_body *b)
{
    s->body = (struct buf)BUF_INIT;
    qbft_body_encode(&s->body, b);
    cl_sign(c, signer, s->body.data, s->body.len, s->sig);
    return (struct qbft_sigref){s->body.data, s->body.len, s->sig};
}

static void sb_free(struct sb *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_free(&s[i].body);
}

/* Craft, deliver to node `to`, return the verdict. */
static enum qbft_verdict send_as(struct cluster *c, unsigned signer, unsigned to,
                                 const struct qbft_body *b, const char *value,
                                 const struct qbft_sigref *just, size_t nj)
{
    struct buf out = BUF_INIT;
    cl_craft(c, signer, b, value, value ? strlen(value) : 0, just, nj, &out);
    enum qbft_verdict v = cl_deliver(c, to, b->sender < c->n ? b->sender : 0, out.data, out.len);
    buf_free(&out);
    return v;
}

static enum qbft_verdict vote(struct cluster *c, uint8_t type, unsigned from, unsigned to,
                              uint64_t round, const char *value)
{
    struct qbft_body b = body(type, from, round, value);
    return send_as(c, from, to, &b, NULL, NULL, 0);
}

/* A justified ROUND-CHANGE: prepared on `pv` in round pr with PREPAREs from nodes 0..2. */
static enum qbft_verdict send_rc(struct cluster *c, unsigned from, unsigned to, uint64_t round,
                                 uint64_t pr, const char *pv)
{
    struct sb s[3];
    struct qbft_sigref j[3];
    size_t nj = 0;
    if (pr)
        for (unsigned i = 0; i < 3; i++) {
            struct qbft_body p = body(QBFT_PREPARE, i, pr, pv);
            j[nj++] = sb_make(&s[i], c, i, &p);
        }
    struct qbft_body b = rc_body(from, round, pr, pv);
    enum qbft_verdict v = send_as(c, from, to, &b, pv, j, nj);
    sb_free(s, nj);
    return v;
}

/* Commits for `value` in `round` from the given senders, as a certificate. */
static size_t commits(struct cluster *c, struct sb *s, struct qbft_sigref *j, const unsigned *from,
                      size_t n, uint64_t round, const char *value)
{
    for (size_t i = 0; i < n; i++) {
        struct qbft_body b = body(QBFT_COMMIT, from[i], round, value);
        j[i] = sb_make(&s[i], c, from[i] < c->n ? from[i] : 0, &b);
    }
    return n;
}

/* Messages node `from` put on the queue (each broadcast counted once, by its copy to `probe`). */
static int sent(struct cluster *c, unsigned from, uint8_t type, uint64_t round,
                struct qbft_msg *out)
{
    unsigned probe = (from + 1) % c->n;
    int count = 0;
    struct qbft_msg *m = malloc(sizeof(*m));
    for (size_t i = 0; i < c->qlen; i++) {
        const struct cl_msg *q = &c->q[c->qhead + i];
        if (q->from != from || (q->to != probe && type != QBFT_DECIDED) || q->type != type)
            continue;
        ck_assert_int_eq(qbft_msg_decode(m, q->bytes, q->len, QBFT_DECODE_WIRE), 0);
        if (m->m.b.round != round)
            continue;
        count++;
        if (out)
            memcpy(out, m, sizeof(*m));
    }
    free(m);
    return count;
}

static uint64_t verdicts(const struct cluster *c, unsigned node, enum qbft_verdict v)
{
    return c->nodes[node].verdicts[v];
}

static void start(struct cluster *c, unsigned i)
{
    char v[16];
    snprintf(v, sizeof(v), "in%u", i);
    ck_assert_int_eq(cl_start(c, i, &ID, v, strlen(v)), 0);
}

/* ================= verifier rows (SPEC §7.4) ================= */

START_TEST(verify_ok_then_replay)
{
    struct cluster *c = mk(4);
    start(c, 1);
    ck_assert_int_eq(vote(c, QBFT_PREPARE, 2, 1, 1, "A"), QBFT_OK);
    ck_assert_str_eq(c->nodes[1].last_type, "prepare");
    ck_assert_str_eq(c->nodes[1].last_result, "ok");
    ck_assert_int_eq(vote(c, QBFT_PREPARE, 2, 1, 1, "A"), QBFT_REPLAY);
    ck_assert_str_eq(c->nodes[1].last_result, "replay");
    ck_assert_uint_eq(c->nodes[1].equivocations, 0);
    /* The replay did not count twice: one more PREPARE is not a quorum with it. */
    struct qbft_info in;
    qbft_info(c->nodes[1].eng, &ID, &in);
    ck_assert_uint_eq(in.prepared_round, 0);
    cl_free(c);
}
END_TEST

START_TEST(verify_garbage_is_error_unknown)
{
    struct cluster *c = mk(4);
    start(c, 1);
    const uint8_t junk[] = {0x94, 0xc4, 0x01, 0x00, 0xc0};
    ck_assert_int_eq(cl_deliver(c, 1, 2, junk, sizeof(junk)), QBFT_ERROR);
    ck_assert_str_eq(c->nodes[1].last_type, "unknown");
    ck_assert_str_eq(c->nodes[1].last_result, "error");
    ck_assert_int_eq(cl_deliver(c, 1, 2, junk, 0), QBFT_ERROR);
    cl_free(c);
}
END_TEST

/* More than 2n justification entries: rejected by rule 1, before any signature is checked. */
START_TEST(verify_justification_over_2n)
{
    struct cluster *c = mk(4);
    start(c, 1);
    struct sb s[9];
    struct qbft_sigref j[9];
    const unsigned from[] = {0, 1, 2, 3, 0, 1, 2, 3, 0};
    commits(c, s, j, from, 9, 1, "A");
    static uint8_t badsig[SIG_LEN];
    j[8].sig = badsig;
    struct qbft_body d = body(QBFT_DECIDED, 2, 1, "A");
    ck_assert_int_eq(send_as(c, 2, 1, &d, "A", j, 9), QBFT_ERROR);
    ck_assert_str_eq(c->nodes[1].last_type, "decided");
    /* Exactly 2n is decodable (and then judged on its merits: duplicates are an error too). */
    ck_assert_int_eq(send_as(c, 2, 1, &d, "A", j, 8), QBFT_ERROR);
    ck_assert_uint_eq(c->nodes[1].ndecisions, 0);
    ck_assert_int_eq(send_as(c, 2, 1, &d, "A", j, 3), QBFT_OK);
    ck_assert_uint_eq(c->nodes[1].ndecisions, 1);
    sb_free(s, 9);
    cl_free(c);
}
END_TEST

START_TEST(verify_unauthorized)
{
    struct cluster *c = mk(4);
    start(c, 1);
    struct qbft_body b = body(QBFT_PREPARE, 4, 1, "A"); /* index 4 in a cluster of 4 */
    ck_assert_int_eq(send_as(c, 2, 1, &b, NULL, NULL, 0), QBFT_UNAUTHORIZED);
    ck_assert_str_eq(c->nodes[1].last_result, "unauthorized");
    /* A justification entry from a non-member. */
    struct sb s[3];
    struct qbft_sigref j[3];
    const unsigned from[] = {0, 2, 5};
    commits(c, s, j, from, 3, 1, "A");
    struct qbft_body d = body(QBFT_DECIDED, 2, 1, "A");
    ck_assert_int_eq(send_as(c, 2, 1, &d, "A", j, 3), QBFT_UNAUTHORIZED);
    sb_free(s, 3);
    cl_free(c);
}
END_TEST

/* s' = order - s: the high-S twin of a valid signature. */
static void high_s(uint8_t sig[SIG_LEN])
{
    static const uint8_t order[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
                                      0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b,
                                      0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = order[i] - sig[32 + i] - borrow;
        borrow = d < 0;
        sig[32 + i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
}

START_TEST(verify_sig_invalid)
{
    struct cluster *c = mk(4);
    start(c, 1);
    struct qbft_body b = body(QBFT_PREPARE, 2, 1, "A");
    ck_assert_int_eq(send_as(c, 3, 1, &b, NULL, NULL, 0), QBFT_SIG_INVALID); /* 3 signs as 2 */
    ck_assert_str_eq(c->nodes[1].last_result, "sig_invalid");
    /* High-S form of node 2's own valid signature. */
    struct sb s;
    struct qbft_sigref r = sb_make(&s, c, 2, &b);
    high_s(s.sig);
    struct buf out = BUF_INIT;
    qbft_msg_encode(&out, &r, NULL, 0, NULL, 0);
    ck_assert_int_eq(cl_deliver(c, 1, 2, out.data, out.len), QBFT_SIG_INVALID);
    buf_free(&out);
    sb_free(&s, 1);
    /* An embedded justification with a bad signature. */
    struct sb cs[3];
    struct qbft_sigref j[3];
    const unsigned from[] = {0, 2, 3};
    commits(c, cs, j, from, 3, 1, "A");
    cs[1].sig[5] ^= 1;
    struct qbft_body d = body(QBFT_DECIDED, 2, 1, "A");
    ck_assert_int_eq(send_as(c, 2, 1, &d, "A", j, 3), QBFT_SIG_INVALID);
    sb_free(cs, 3);
    /* Nothing was consumed: the correct PREPARE from 2 is still accepted. */
    ck_assert_int_eq(vote(c, QBFT_PREPARE, 2, 1, 1, "A"), QBFT_OK);
    cl_free(c);
}
END_TEST

START_TEST(verify_old)
{
    struct cl_opts o;
    cl_opts_default(&o, 4);
    o.retention = 5;
    struct cluster *c = mk_opts(4, &o);
    struct qbft_id hi = {0, 20};
    ck_assert_int_eq(cl_start(c, 1, &hi, "x", 1), 0);
    struct qbft_body b = body(QBFT_PREPARE, 2, 1, "A");
    b.height = 14; /* 14 + 5 < 20 */
    ck_assert_int_eq(send_as(c, 2, 1, &b, NULL, NULL, 0), QBFT_OLD);
    ck_assert_str_eq(c->nodes[1].last_result, "old");
    b.height = 15;
    ck_assert_int_eq(send_as(c, 2, 1, &b, NULL, NULL, 0), QBFT_BUFFERED);
    /* Pruned heights are old, and cannot be started again. */
    qbft_prune(c->nodes[1].eng, 0, 18);
    ck_assert_int_eq(send_as(c, 2, 1, &b, NULL, NULL, 0), QBFT_OLD);
    struct qbft_id pruned = {0, 17};
    ck_assert_int_eq(qbft_start(c->nodes[1].eng, &pruned, (const uint8_t *)"v", 1, 0, 0), -1);
    ck_assert_int_eq(errno, ESTALE);
    cl_free(c);
}
END_TEST

START_TEST(verify_round_oob)
{
    struct cl_opts o;
    cl_opts_default(&o, 4);
    o.height_window = 10;
    struct cluster *c = mk_opts(4, &o);
    start(c, 1);
    ck_assert_int_eq(vote(c, QBFT_PREPARE, 2, 1, 11, "A"), QBFT_OK);
    ck_assert_int_eq(vote(c, QBFT_PREPARE, 2, 1, 12, "A"), QBFT_ROUND_OOB);
    ck_assert_str_eq(c->nodes[1].last_result, "round_oob");
    /* Not started: rounds up to 1 + window, heights up to the highest started + window. */
    struct qbft_body b = body(QBFT_PREPARE, 2, 11, "A");
    b.height = 17;
    ck_assert_int_eq(send_as(c, 2, 1, &b, NULL, NULL, 0), QBFT_BUFFERED);
    b.round = 12;
    ck_assert_int_eq(send_as(c, 2, 1, &b, NULL, NULL, 0), QBFT_ROUND_OOB);
    b.round = 1;
    b.height = 18;
    ck_assert_int_eq(send_as(c, 2, 1, &b, NULL, NULL, 0), QBFT_ROUND_OOB);
    cl_free(c);
}
END_TEST

START_TEST(verify_equivocation_with_evidence)
{
    struct cluster *c = mk(4);
    start(c, 1);
    struct qbft_body a = body(QBFT_PREPARE, 2, 1, "A"), b = body(QBFT_PREPARE, 2, 1, "B");
    ck_assert_int_eq(send_as(c, 2, 1, &a, NULL, NULL, 0), QBFT_OK);
    ck_assert_int_eq(send_as(c, 2, 1, &b, NULL, NULL, 0), QBFT_EQUIVOCATION);
    ck_assert_str_eq(c->nodes[1].last_result, "equivocation");
    ck_assert_uint_eq(c->nodes[1].equivocations, 1);
    struct buf ba = BUF_INIT, bb = BUF_INIT;
    uint8_t da[SHA256_LEN], db[SHA256_LEN];
    qbft_body_encode(&ba, &a);
    qbft_body_encode(&bb, &b);
    qbft_signing_digest(da, c->lock_hash, ba.data, ba.len);
    qbft_signing_digest(db, c->lock_hash, bb.data, bb.len);
    ck_assert(memcmp(c->nodes[1].evidence[0], da, SHA256_LEN) == 0);
    ck_assert(memcmp(c->nodes[1].evidence[1], db, SHA256_LEN) == 0);
    buf_free(&ba);
    buf_free(&bb);
    cl_free(c);
}
END_TEST

/* DECIDED is exempt: two different valid certificates from one sender are both fine. */
START_TEST(verify_decided_exempt_from_equivocation)
{
    struct cluster *c = mk(4);
    start(c, 1);
    struct sb s1[3], s2[3];
    struct qbft_sigref j1[3], j2[3];
    const unsigned f1[] = {0, 1, 2}, f2[] = {1, 2, 3};
    commits(c, s1, j1, f1, 3, 1, "A");
    commits(c, s2, j2, f2, 3, 2, "A");
    struct qbft_body d1 = body(QBFT_DECIDED, 3, 1, "A"), d2 = body(QBFT_DECIDED, 3, 2, "A");
    ck_assert_int_eq(send_as(c, 3, 1, &d1, "A", j1, 3), QBFT_OK);
    ck_assert_int_eq(send_as(c, 3, 1, &d2, "A", j2, 3), QBFT_OK);
    ck_assert_int_eq(send_as(c, 3, 1, &d2, "A", j2, 3), QBFT_REPLAY);
    ck_assert_uint_eq(c->nodes[1].equivocations, 0);
    ck_assert_uint_eq(c->nodes[1].ndecisions, 1);
    sb_free(s1, 3);
    sb_free(s2, 3);
    cl_free(c);
}
END_TEST

START_TEST(verify_non_leader_pre_prepare)
{
    struct cluster *c = mk(4);
    start(c, 1);
    struct qbft_body pp = body(QBFT_PRE_PREPARE, 2, 1, "A"); /* leader of round 1 is 0 */
    ck_assert_int_eq(send_as(c, 2, 1, &pp, "A", NULL, 0), QBFT_ERROR);
    ck_assert_str_eq(c->nodes[1].last_type, "pre_prepare");
    ck_assert_int_eq(sent(c, 1, QBFT_PREPARE, 1, NULL), 0);
    /* Value that does not match its hash. */
    pp = body(QBFT_PRE_PREPARE, 0, 1, "A");
    ck_assert_int_eq(send_as(c, 0, 1, &pp, "B", NULL, 0), QBFT_ERROR);
    /* The leader's proper one still goes through (nothing was consumed). */
    ck_assert_int_eq(send_as(c, 0, 1, &pp, "A", NULL, 0), QBFT_OK);
    ck_assert_int_eq(sent(c, 1, QBFT_PREPARE, 1, NULL), 1);
    cl_free(c);
}
END_TEST

/* Round-2 proposals (leader 1), judged at node 2. */
START_TEST(verify_pre_prepare_justifications)
{
    struct cluster *c = mk(4);
    start(c, 2);
    struct sb rs[4], ps[3];
    struct qbft_sigref j[8];
    struct qbft_body r0 = rc_body(0, 2, 1, "A"), r1 = rc_body(1, 2, 0, NULL),
                     r3 = rc_body(3, 2, 0, NULL), r3w = rc_body(3, 3, 0, NULL);
    j[0] = sb_make(&rs[0], c, 0, &r0);
    j[1] = sb_make(&rs[1], c, 1, &r1);
    j[2] = sb_make(&rs[2], c, 3, &r3);
    for (unsigned i = 0; i < 3; i++) {
        struct qbft_body p = body(QBFT_PREPARE, i, 1, "A");
        j[3 + i] = sb_make(&ps[i], c, i, &p);
    }
    struct qbft_body ppB = body(QBFT_PRE_PREPARE, 1, 2, "B"),
                     ppA = body(QBFT_PRE_PREPARE, 1, 2, "A");
    /* Two ROUND-CHANGEs: no quorum. */
    struct qbft_sigref two[2] = {j[1], j[2]};
    ck_assert_int_eq(send_as(c, 1, 2, &ppB, "B", two, 2), QBFT_ERROR);
    /* A ROUND-CHANGE for another round inside the quorum. */
    struct qbft_sigref wrong[3] = {j[1], j[2], sb_make(&rs[3], c, 3, &r3w)};
    ck_assert_int_eq(send_as(c, 1, 2, &ppB, "B", wrong, 3), QBFT_ERROR);
    /* Node 0 prepared A in round 1: proposing B is not justified (J2) ... */
    ck_assert_int_eq(send_as(c, 1, 2, &ppB, "B", j, 6), QBFT_ERROR);
    /* ... nor A without the PREPARE quorum, or with only two PREPAREs ... */
    ck_assert_int_eq(send_as(c, 1, 2, &ppA, "A", j, 3), QBFT_ERROR);
    ck_assert_int_eq(send_as(c, 1, 2, &ppA, "A", j, 5), QBFT_ERROR);
    ck_assert_int_eq(sent(c, 2, QBFT_PREPARE, 2, NULL), 0);
    /* ... A with it is (and the earlier rejections consumed nothing: not a replay). */
    ck_assert_int_eq(send_as(c, 1, 2, &ppA, "A", j, 6), QBFT_OK);
    ck_assert_int_eq(sent(c, 2, QBFT_PREPARE, 2, NULL), 1);
    sb_free(rs, 4);
    sb_free(ps, 3);
    cl_free(c);
}
END_TEST

START_TEST(verify_round_change_and_decided_justifications)
{
    struct cluster *c = mk(4);
    start(c, 2);
    struct sb ps[3];
    struct qbft_sigref j[3];
    for (unsigned i = 0; i < 3; i++) {
        struct qbft_body p = body(QBFT_PREPARE, i, 1, "A");
        j[i] = sb_make(&ps[i], c, i, &p);
    }
    struct qbft_body rc = rc_body(3, 2, 1, "A");
    ck_assert_int_eq(send_as(c, 3, 2, &rc, "A", j, 2), QBFT_ERROR); /* two PREPAREs */
    ck_assert_int_eq(send_as(c, 3, 2, &rc, "B", j, 3), QBFT_ERROR); /* value not the prepared */
    struct qbft_body rc2 = rc_body(3, 3, 2, "A");                   /* PREPAREs of round 1 */
    ck_assert_int_eq(send_as(c, 3, 2, &rc2, "A", j, 3), QBFT_ERROR);
    ck_assert_int_eq(send_as(c, 3, 2, &rc, "A", j, 3), QBFT_OK);
    sb_free(ps, 3);
    struct sb cs[3];
    struct qbft_sigref cj[3];
    const unsigned f[] = {0, 1, 3};
    commits(c, cs, cj, f, 3, 1, "A");
    struct qbft_body d = body(QBFT_DECIDED, 0, 1, "A"), d2 = body(QBFT_DECIDED, 0, 2, "A");
    ck_assert_int_eq(send_as(c, 0, 2, &d, "A", cj, 2), QBFT_ERROR);  /* two COMMITs */
    ck_assert_int_eq(send_as(c, 0, 2, &d2, "A", cj, 3), QBFT_ERROR); /* COMMITs of round 1 */
    ck_assert_int_eq(send_as(c, 0, 2, &d, "B", cj, 3), QBFT_ERROR);
    ck_assert_uint_eq(c->nodes[2].ndecisions, 0);
    ck_assert_int_eq(send_as(c, 0, 2, &d, "A", cj, 3), QBFT_OK);
    ck_assert_uint_eq(c->nodes[2].ndecisions, 1);
    sb_free(cs, 3);
    cl_free(c);
}
END_TEST

static enum qbft_validity reject_bad(void *ctx, const struct qbft_id *id, const uint8_t *v,
                                     size_t len)
{
    (void)ctx;
    (void)id;
    return len >= 3 && memcmp(v, "bad", 3) == 0 ? QBFT_VALUE_INVALID : QBFT_VALUE_VALID;
}

START_TEST(verify_validate_value)
{
    struct cl_opts o;
    cl_opts_default(&o, 4);
    o.validate = reject_bad;
    struct cluster *c = mk_opts(4, &o);
    start(c, 1);
    struct qbft_body pp = body(QBFT_PRE_PREPARE, 0, 1, "bad block");
    ck_assert_int_eq(send_as(c, 0, 1, &pp, "bad block", NULL, 0), QBFT_ERROR);
    ck_assert_int_eq(sent(c, 1, QBFT_PREPARE, 1, NULL), 0);
    cl_free(c);
}
END_TEST

/* The host's verdict may come later (the builder's round trip). A pending proposal takes its
 * slot (the same message again is a replay, another one an equivocation), is not prepared and
 * counts as no error; it is prepared once reported valid. */
static enum qbft_validity always_pending(void *ctx, const struct qbft_id *id, const uint8_t *v,
                                         size_t len)
{
    (void)id;
    (void)v;
    (void)len;
    (*(unsigned *)ctx)++;
    return QBFT_VALUE_PENDING;
}

START_TEST(verify_validate_value_pending_then_valid)
{
    unsigned asked = 0;
    struct cl_opts o;
    cl_opts_default(&o, 4);
    o.validate = always_pending;
    o.validate_ctx = &asked;
    struct cluster *c = mk_opts(4, &o);
    start(c, 1);
    struct qbft_body pp = body(QBFT_PRE_PREPARE, 0, 1, "A");
    ck_assert_int_eq(send_as(c, 0, 1, &pp, "A", NULL, 0), QBFT_OK);
    ck_assert_uint_eq(asked, 1);
    ck_assert_int_eq(sent(c, 1, QBFT_PREPARE, 1, NULL), 0);
    ck_assert_uint_eq(verdicts(c, 1, QBFT_ERROR), 0);
    ck_assert_int_eq(send_as(c, 0, 1, &pp, "A", NULL, 0), QBFT_REPLAY);
    struct qbft_body pb = body(QBFT_PRE_PREPARE, 0, 1, "B");
    ck_assert_int_eq(send_as(c, 0, 1, &pb, "B", NULL, 0), QBFT_EQUIVOCATION);
    uint8_t ha[SHA256_LEN], hb[SHA256_LEN];
    hash_of(ha, "A");
    hash_of(hb, "B");
    ck_assert_int_eq(cl_value_checked(c, 1, &ID, hb, true), -1); /* nothing pending for B */
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(sent(c, 1, QBFT_PREPARE, 1, NULL), 0);
    ck_assert_int_eq(cl_value_checked(c, 1, &ID, ha, true), 0);
    struct qbft_msg *m = malloc(sizeof(*m));
    ck_assert_int_eq(sent(c, 1, QBFT_PREPARE, 1, m), 1);
    ck_assert(memcmp(m->m.b.value_hash, ha, SHA256_LEN) == 0);
    ck_assert_int_eq(cl_value_checked(c, 1, &ID, ha, true), -1); /* already judged */
    free(m);
    cl_free(c);
}
END_TEST

/* Invalid after all: not prepared; the node waits for the round change, and the same value
 * proposed again in this instance is refused without asking again. */
START_TEST(verify_validate_value_pending_then_invalid)
{
    unsigned asked = 0;
    struct cl_opts o;
    cl_opts_default(&o, 4);
    o.validate = always_pending;
    o.validate_ctx = &asked;
    struct cluster *c = mk_opts(4, &o);
    start(c, 2);
    struct qbft_body pp = body(QBFT_PRE_PREPARE, 0, 1, "A");
    ck_assert_int_eq(send_as(c, 0, 2, &pp, "A", NULL, 0), QBFT_OK);
    uint8_t ha[SHA256_LEN];
    hash_of(ha, "A");
    ck_assert_int_eq(cl_value_checked(c, 2, &ID, ha, false), 0);
    ck_assert_int_eq(sent(c, 2, QBFT_PREPARE, 1, NULL), 0);
    c->now = cl_next_deadline(c, 2);
    cl_tick(c, 2);
    ck_assert_int_eq(sent(c, 2, QBFT_ROUND_CHANGE, 2, NULL), 1);
    /* Round 2 (leader 1), nobody prepared: J1, the same value A again. */
    struct sb rs[3];
    struct qbft_sigref j[3];
    for (unsigned i = 0; i < 3; i++) {
        struct qbft_body r = rc_body(i, 2, 0, NULL);
        j[i] = sb_make(&rs[i], c, i, &r);
    }
    struct qbft_body p2 = body(QBFT_PRE_PREPARE, 1, 2, "A");
    ck_assert_int_eq(send_as(c, 1, 2, &p2, "A", j, 3), QBFT_ERROR);
    ck_assert_uint_eq(asked, 1);
    ck_assert_int_eq(sent(c, 2, QBFT_PREPARE, 2, NULL), 0);
    sb_free(rs, 3);
    cl_free(c);
}
END_TEST

/* ================= upon rules ================= */

START_TEST(upon_pre_prepare_then_prepares_then_commits)
{
    struct cluster *c = mk(4);
    start(c, 1);
    struct qbft_body pp = body(QBFT_PRE_PREPARE, 0, 1, "A");
    ck_assert_int_eq(send_as(c, 0, 1, &pp, "A", NULL, 0), QBFT_OK);
    struct qbft_msg *m = malloc(sizeof(*m));
    ck_assert_int_eq(sent(c, 1, QBFT_PREPARE, 1, m), 1);
    uint8_t ha[SHA256_LEN];
    hash_of(ha, "A");
    ck_assert(memcmp(m->m.b.value_hash, ha, SHA256_LEN) == 0);
    ck_assert_int_eq(vote(c, QBFT_PREPARE, 0, 1, 1, "A"), QBFT_OK);
    ck_assert_int_eq(sent(c, 1, QBFT_COMMIT, 1, NULL), 0);
    ck_assert_int_eq(vote(c, QBFT_PREPARE, 2, 1, 1, "A"), QBFT_OK);
    ck_assert_int_eq(sent(c, 1, QBFT_COMMIT, 1, m), 1); /* quorum 3 with its own */
    ck_assert(!m->has_value && m->njust == 0);          /* the wire COMMIT is bare */
    struct qbft_info in;
    qbft_info(c->nodes[1].eng, &ID, &in);
    ck_assert_uint_eq(in.prepared_round, 1);
    ck_assert(memcmp(in.prepared_hash, ha, SHA256_LEN) == 0);
    /* Once per round: another PREPARE adds nothing. */
    uint64_t signs = c->nodes[1].signs;
    ck_assert_int_eq(vote(c, QBFT_PREPARE, 3, 1, 1, "A"), QBFT_OK);
    ck_assert_uint_eq(c->nodes[1].signs, signs);
    ck_assert_int_eq(vote(c, QBFT_COMMIT, 0, 1, 1, "A"), QBFT_OK);
    ck_assert_uint_eq(c->nodes[1].ndecisions, 0);
    ck_assert_int_eq(vote(c, QBFT_COMMIT, 3, 1, 1, "A"), QBFT_OK);
    ck_assert_uint_eq(c->nodes[1].ndecisions, 1);
    const struct cl_decision *d = cl_decision(c, 1, &ID);
    ck_assert_uint_eq(d->len, 1);
    ck_assert(memcmp(d->value, "A", 1) == 0);
    ck_assert_uint_eq(d->round, 1);
    uint64_t round;
    ck_assert_int_eq(qbft_cert_verify(d->cert, d->cert_len, 4,
                                      (const uint8_t(*)[PUBKEY_LEN])c->pubkeys, c->lock_hash, 0, 7,
                                      ha, &round, NULL),
                     0);
    qbft_info(c->nodes[1].eng, &ID, &in);
    ck_assert_int_eq(in.status, QBFT_DECIDED_STATUS);
    ck_assert_uint_eq(in.cert_len, d->cert_len);
    free(m);
    cl_free(c);
}
END_TEST

/* PREPAREs before the PRE-PREPARE: no COMMIT while the value is unknown. */
START_TEST(upon_prepares_wait_for_the_value)
{
    struct cluster *c = mk(4);
    start(c, 1);
    for (unsigned i = 0; i < 4; i++)
        if (i != 1)
            ck_assert_int_eq(vote(c, QBFT_PREPARE, i, 1, 1, "A"), QBFT_OK);
    ck_assert_int_eq(sent(c, 1, QBFT_COMMIT, 1, NULL), 0);
    struct qbft_body pp = body(QBFT_PRE_PREPARE, 0, 1, "A");
    ck_assert_int_eq(send_as(c, 0, 1, &pp, "A", NULL, 0), QBFT_OK);
    ck_assert_int_eq(sent(c, 1, QBFT_PREPARE, 1, NULL), 1);
    ck_assert_int_eq(sent(c, 1, QBFT_COMMIT, 1, NULL), 1);
    cl_free(c);
}
END_TEST

START_TEST(upon_timeout_sends_round_change)
{
    struct cluster *c = mk(4);
    start(c, 1);
    uint64_t d = cl_next_deadline(c, 1);
    ck_assert_uint_eq(d, c->o.round_timeout_ms);
    c->now = d - 1;
    cl_tick(c, 1);
    ck_assert_int_eq(sent(c, 1, QBFT_ROUND_CHANGE, 2, NULL), 0);
    c->now = d;
    cl_tick(c, 1);
    struct qbft_msg *m = malloc(sizeof(*m));
    ck_assert_int_eq(sent(c, 1, QBFT_ROUND_CHANGE, 2, m), 1);
    ck_assert_uint_eq(m->m.b.prepared_round, 0);
    ck_assert(!m->has_value && m->njust == 0);
    ck_assert_uint_eq(cl_next_deadline(c, 1), 3 * c->o.round_timeout_ms);
    /* Prepared in round 2, timed out: the ROUND-CHANGE for 3 carries value and PREPAREs. */
    struct sb rs[3];
    struct qbft_sigref j[3];
    for (unsigned i = 0; i < 3; i++) {
        struct qbft_body r = rc_body(i == 1 ? 3 : i, 2, 0, NULL);
        j[i] = sb_make(&rs[i], c, i == 1 ? 3 : i, &r);
    }
    /* Node 1 leads round 2: with the others' ROUND-CHANGEs it proposes. */
    for (unsigned i = 0; i < 3; i++) {
        struct buf out = BUF_INIT;
        struct qbft_sigref r = j[i];
        qbft_msg_encode(&out, &r, NULL, 0, NULL, 0);
        ck_assert_int_eq(cl_deliver(c, 1, 0, out.data, out.len), QBFT_OK);
        buf_free(&out);
    }
    ck_assert_int_eq(sent(c, 1, QBFT_PRE_PREPARE, 2, m), 1);
    ck_assert(m->has_value && m->value_len == 3 && memcmp(m->value, "in1", 3) == 0);
    ck_assert_uint_eq(m->njust, 3); /* J1: a quorum of ROUND-CHANGEs, nothing prepared */
    ck_assert_int_eq(vote(c, QBFT_PREPARE, 0, 1, 2, "in1"), QBFT_OK);
    ck_assert_int_eq(vote(c, QBFT_PREPARE, 2, 1, 2, "in1"), QBFT_OK);
    ck_assert_int_eq(sent(c, 1, QBFT_COMMIT, 2, NULL), 1);
    c->now = cl_next_deadline(c, 1);
    cl_tick(c, 1);
    ck_assert_int_eq(sent(c, 1, QBFT_ROUND_CHANGE, 3, m), 1);
    ck_assert_uint_eq(m->m.b.prepared_round, 2);
    ck_assert(m->has_value && m->value_len == 3 && memcmp(m->value, "in1", 3) == 0);
    ck_assert_uint_eq(m->njust, 3);
    sb_free(rs, 3);
    free(m);
    cl_free(c);
}
END_TEST

/* f+1 ROUND-CHANGEs above: jump to the smallest of the f+1 highest; f alone is not enough. */
START_TEST(upon_f_plus_1_round_change_jump)
{
    struct cluster *c = mk(4); /* f = 1 */
    start(c, 1);
    ck_assert_int_eq(send_rc(c, 2, 1, 5, 0, NULL), QBFT_OK);
    struct qbft_info in;
    qbft_info(c->nodes[1].eng, &ID, &in);
    ck_assert_uint_eq(in.round, 1);
    ck_assert_int_eq(send_rc(c, 3, 1, 7, 0, NULL), QBFT_OK);
    qbft_info(c->nodes[1].eng, &ID, &in);
    ck_assert_uint_eq(in.round, 5);
    ck_assert_int_eq(sent(c, 1, QBFT_ROUND_CHANGE, 5, NULL), 1);
    ck_assert_int_eq(sent(c, 1, QBFT_ROUND_CHANGE, 7, NULL), 0);
    cl_free(c);
}
END_TEST

/* A node far behind (beyond the round window) still jumps on f+1 signed ROUND-CHANGEs. */
START_TEST(upon_jump_beyond_window)
{
    struct cluster *c = mk(4);
    start(c, 1);
    ck_assert_int_eq(send_rc(c, 2, 1, 30, 0, NULL), QBFT_ROUND_OOB);
    ck_assert_int_eq(send_rc(c, 3, 1, 31, 0, NULL), QBFT_ROUND_OOB);
    struct qbft_info in;
    qbft_info(c->nodes[1].eng, &ID, &in);
    ck_assert_uint_eq(in.round, 30);
    ck_assert_int_eq(sent(c, 1, QBFT_ROUND_CHANGE, 30, NULL), 1);
    cl_free(c);
}
END_TEST

/* The leader of round 2 re-proposes the value prepared in round 1, not its own input. */
START_TEST(upon_leader_reproposes_prepared_value)
{
    struct cluster *c = mk(4);
    start(c, 1); /* leader of round 2, input "in1" */
    c->now = cl_next_deadline(c, 1);
    cl_tick(c, 1); /* its own ROUND-CHANGE for 2 */
    ck_assert_int_eq(send_rc(c, 0, 1, 2, 1, "A"), QBFT_OK);
    ck_assert_int_eq(sent(c, 1, QBFT_PRE_PREPARE, 2, NULL), 0);
    ck_assert_int_eq(send_rc(c, 3, 1, 2, 0, NULL), QBFT_OK);
    struct qbft_msg *m = malloc(sizeof(*m));
    ck_assert_int_eq(sent(c, 1, QBFT_PRE_PREPARE, 2, m), 1);
    ck_assert(m->value_len == 1 && memcmp(m->value, "A", 1) == 0);
    ck_assert_uint_eq(m->njust, 6); /* 3 ROUND-CHANGEs + 3 PREPAREs */
    /* And the other nodes accept it. */
    start(c, 2);
    for (size_t i = 0; i < c->qlen; i++) {
        struct cl_msg *q = &c->q[c->qhead + i];
        if (q->to == 2 && q->type == QBFT_PRE_PREPARE)
            ck_assert_int_eq(cl_deliver(c, 2, 1, q->bytes, q->len), QBFT_OK);
    }
    free(m);
    cl_free(c);
}
END_TEST

/* A new input (qbft_set_input): the PRE-PREPARE already sent for round 1 stays the only one; as
 * the leader of round 2 the node proposes the new value; the old one stays known (it could be
 * prepared). */
START_TEST(set_input_proposed_from_the_next_round)
{
    struct cluster *c = mk(4);
    start(c, 0); /* leader of round 1, input "in0" */
    start(c, 1); /* leader of round 2, input "in1" */
    ck_assert_int_eq(sent(c, 0, QBFT_PRE_PREPARE, 1, NULL), 1);
    ck_assert_int_eq(qbft_set_input(c->nodes[0].eng, &ID, (const uint8_t *)"new0", 4, c->now), 0);
    ck_assert_int_eq(sent(c, 0, QBFT_PRE_PREPARE, 1, NULL), 1); /* no second one in round 1 */
    uint8_t h[SHA256_LEN];
    hash_of(h, "in0");
    struct qinst *in0 = qinst_find(c->nodes[0].eng, &ID);
    ck_assert_ptr_nonnull(qval_find(in0, h)); /* the old input is still a known value */
    ck_assert_int_eq(qbft_set_input(c->nodes[1].eng, &ID, (const uint8_t *)"new1", 4, c->now), 0);
    ck_assert_int_eq(
        qbft_set_input(c->nodes[1].eng, &(struct qbft_id){0, 8}, (const uint8_t *)"x", 1, c->now),
        -1);
    ck_assert_int_eq(errno, ENOENT);
    c->now = cl_next_deadline(c, 1);
    cl_tick(c, 1); /* its ROUND-CHANGE for 2 */
    ck_assert_int_eq(send_rc(c, 0, 1, 2, 0, NULL), QBFT_OK);
    ck_assert_int_eq(send_rc(c, 3, 1, 2, 0, NULL), QBFT_OK);
    struct qbft_msg *m = malloc(sizeof(*m));
    ck_assert_int_eq(sent(c, 1, QBFT_PRE_PREPARE, 2, m), 1);
    ck_assert(m->has_value && m->value_len == 4 && memcmp(m->value, "new1", 4) == 0);
    free(m);
    cl_free(c);
}
END_TEST

START_TEST(upon_decided_answers_round_changes_capped)
{
    struct cl_opts o;
    cl_opts_default(&o, 4);
    o.decided_resends = 2;
    struct cluster *c = mk_opts(4, &o);
    start(c, 1);
    struct sb cs[3];
    struct qbft_sigref cj[3];
    const unsigned f[] = {0, 2, 3};
    commits(c, cs, cj, f, 3, 1, "A");
    struct qbft_body d = body(QBFT_DECIDED, 0, 1, "A");
    ck_assert_int_eq(send_as(c, 0, 1, &d, "A", cj, 3), QBFT_OK);
    ck_assert_uint_eq(c->nodes[1].ndecisions, 1);
    cl_drain(c);
    ck_assert_int_eq(send_rc(c, 3, 1, 2, 0, NULL), QBFT_OK);
    ck_assert_int_eq(send_rc(c, 3, 1, 3, 0, NULL), QBFT_OK);
    ck_assert_int_eq(send_rc(c, 3, 1, 4, 0, NULL), QBFT_OK);
    ck_assert_int_eq(send_rc(c, 3, 1, 4, 0, NULL), QBFT_REPLAY);
    size_t answers = 0;
    struct qbft_msg *m = malloc(sizeof(*m));
    for (size_t i = 0; i < c->qlen; i++) {
        struct cl_msg *q = &c->q[c->qhead + i];
        if (q->from == 1 && q->type == QBFT_DECIDED) {
            ck_assert_uint_eq(q->to, 3);
            ck_assert_int_eq(qbft_msg_decode(m, q->bytes, q->len, QBFT_DECODE_WIRE), 0);
            ck_assert(m->value_len == 1 && m->njust == 3);
            answers++;
        }
    }
    ck_assert_uint_eq(answers, 2);
    /* One more per round_timeout_ms after the burst. */
    c->now += c->o.round_timeout_ms;
    ck_assert_int_eq(send_rc(c, 3, 1, 5, 0, NULL), QBFT_OK);
    ck_assert_int_eq(send_rc(c, 3, 1, 6, 0, NULL), QBFT_OK);
    answers = 0;
    for (size_t i = 0; i < c->qlen; i++)
        answers += c->q[c->qhead + i].from == 1 && c->q[c->qhead + i].type == QBFT_DECIDED;
    ck_assert_uint_eq(answers, 3);
    /* The answer finishes the laggard. */
    start(c, 3);
    for (size_t i = 0; i < c->qlen; i++) {
        struct cl_msg *q = &c->q[c->qhead + i];
        if (q->type == QBFT_DECIDED)
            cl_deliver(c, 3, 1, q->bytes, q->len);
    }
    ck_assert_uint_eq(c->nodes[3].ndecisions, 1);
    free(m);
    sb_free(cs, 3);
    cl_free(c);
}
END_TEST

/* Reports for metrics: timeouts by phase, round changes, quorum certificates, states, intents. */
START_TEST(events_reported)
{
    struct cluster *c = mk(4);
    start(c, 1);
    struct cl_node *nd = &c->nodes[1];
    c->now = cl_next_deadline(c, 1);
    cl_tick(c, 1);
    ck_assert_uint_eq(nd->events[QBFT_EV_TIMEOUT], 1);
    ck_assert_str_eq(nd->event_labels[QBFT_EV_TIMEOUT], "pre_prepare");
    ck_assert_uint_eq(nd->events[QBFT_EV_ROUND_CHANGE], 1);
    ck_assert_str_eq(nd->event_labels[QBFT_EV_ROUND_CHANGE], "timeout");
    ck_assert_uint_eq(nd->events[QBFT_EV_INTENT], 1); /* its ROUND-CHANGE */
    ck_assert_str_eq(nd->event_labels[QBFT_EV_INTENT], "round_change");
    ck_assert_int_eq(send_rc(c, 0, 1, 2, 0, NULL), QBFT_OK);
    ck_assert_int_eq(send_rc(c, 2, 1, 2, 0, NULL), QBFT_OK); /* quorum: it proposes */
    ck_assert_uint_eq(nd->events[QBFT_EV_QC], 1);
    ck_assert_str_eq(nd->event_labels[QBFT_EV_QC], "round_change");
    vote(c, QBFT_PREPARE, 0, 1, 2, "in1");
    vote(c, QBFT_PREPARE, 2, 1, 2, "in1");
    ck_assert_str_eq(nd->event_labels[QBFT_EV_QC], "prepare");
    ck_assert_str_eq(nd->event_labels[QBFT_EV_STATE], "prepared");
    vote(c, QBFT_COMMIT, 0, 1, 2, "in1");
    vote(c, QBFT_COMMIT, 2, 1, 2, "in1");
    ck_assert_str_eq(nd->event_labels[QBFT_EV_QC], "commit");
    ck_assert_str_eq(nd->event_labels[QBFT_EV_STATE], "decided");
    struct qbft_stats st; /* every vote the engine signed was put (the seal is not a vote) */
    qbft_stats(nd->eng, &st);
    ck_assert_uint_eq(nd->events[QBFT_EV_INTENT], st.signed_msgs);
    cl_free(c);
}
END_TEST

/* ================= intent discipline, restore ================= */

/* An intent the node holds while its engine does not know it was sent (the instance could not
 * be rebuilt at the restart: another of its intents is damaged) goes out again as stored; the
 * engine never signs another message for that key. */
START_TEST(intent_reemitted_never_resigned)
{
    struct cluster *c = mk(4);
    start(c, 1);
    cl_crash(c, 1);
    struct buf stored = BUF_INIT;
    struct qbft_body px = body(QBFT_PREPARE, 1, 1, "X");
    cl_craft(c, 1, &px, NULL, 0, NULL, 0, &stored);
    cl_intent_put(&c->nodes[1], &ID, 1, QBFT_PREPARE, stored.data, stored.len);
    cl_intent_put(&c->nodes[1], &ID, 1, QBFT_COMMIT, (const uint8_t *)"junk", 4);
    cl_restart(c, 1);
    uint64_t signs = c->nodes[1].signs;
    struct qbft_body pp = body(QBFT_PRE_PREPARE, 0, 1, "A");
    ck_assert_int_eq(send_as(c, 0, 1, &pp, "A", NULL, 0), QBFT_OK);
    ck_assert_uint_eq(c->nodes[1].signs, signs);
    ck_assert_uint_eq(c->nodes[1].wal_guards, 1);
    bool found = false;
    for (size_t i = 0; i < c->qlen; i++) {
        struct cl_msg *q = &c->q[c->qhead + i];
        if (q->from == 1 && q->type == QBFT_PREPARE) {
            ck_assert_uint_eq(q->len, stored.len);
            ck_assert(memcmp(q->bytes, stored.data, stored.len) == 0);
            found = true;
        }
    }
    ck_assert(found);
    buf_free(&stored);
    cl_free(c);
}
END_TEST

/* StateDB unreachable when a vote is due: it is signed once and held; it leaves only after
 * StateDB took it. While StateDB does not answer at all, new votes are withheld (the engine
 * retries them) and nothing is signed. */
START_TEST(intent_store_down_holds_then_withholds)
{
    struct cluster *c = mk(4);
    start(c, 1);
    c->nodes[1].store_down = true;
    struct qbft_body pp = body(QBFT_PRE_PREPARE, 0, 1, "A");
    ck_assert_int_eq(send_as(c, 0, 1, &pp, "A", NULL, 0), QBFT_OK);
    ck_assert_int_eq(sent(c, 1, QBFT_PREPARE, 1, NULL), 0);
    uint64_t signs = c->nodes[1].signs;
    ck_assert_uint_eq(signs, 1);
    ck_assert_uint_eq(cl_next_deadline(c, 1), c->now + DUTIES_RETRY_MS);
    c->now += DUTIES_RETRY_MS;
    cl_tick(c, 1);
    ck_assert_int_eq(sent(c, 1, QBFT_PREPARE, 1, NULL), 0);
    c->nodes[1].store_down = false;
    c->now = cl_next_deadline(c, 1);
    cl_tick(c, 1);
    ck_assert_int_eq(sent(c, 1, QBFT_PREPARE, 1, NULL), 1);
    ck_assert_uint_eq(c->nodes[1].signs, signs);
    ck_assert_ptr_nonnull(cl_intent_find(&c->nodes[1], &ID, 1, QBFT_PREPARE));

    /* A duty StateDB cannot take marks it unavailable: the next vote is withheld. */
    struct qbft_id other = {ID.duty, ID.height + 1};
    c->nodes[2].store_down = true;
    ck_assert_int_eq(cl_start(c, 2, &ID, "in2", 3), -1);
    ck_assert_int_eq(c->nodes[2].submitted, DUTY_UNAVAILABLE);
    c->nodes[2].store_down = false;
    c->now = cl_next_deadline(c, 2); /* the probe: StateDB answers again */
    cl_tick(c, 2);
    start(c, 2);
    c->nodes[2].store_down = true;
    ck_assert_int_eq(cl_start(c, 2, &other, "x", 1), -1);
    ck_assert_int_eq(send_as(c, 0, 2, &pp, "A", NULL, 0), QBFT_OK);
    ck_assert_uint_eq(c->nodes[2].signs, 0);
    ck_assert_int_eq(sent(c, 2, QBFT_PREPARE, 1, NULL), 0);
    ck_assert_uint_eq(cl_next_deadline(c, 2), c->now + QBFT_RETRY_MS);
    c->nodes[2].store_down = false;
    for (int k = 0; k < 10 && !sent(c, 2, QBFT_PREPARE, 1, NULL); k++) {
        c->now = cl_next_deadline(c, 2);
        cl_tick(c, 2);
    }
    ck_assert_int_eq(sent(c, 2, QBFT_PREPARE, 1, NULL), 1);
    ck_assert_uint_eq(c->nodes[2].signs, 1);
    cl_free(c);
}
END_TEST

START_TEST(restore_rebuilds_prepared_state)
{
    struct cluster *c = mk(4);
    start(c, 1);
    struct qbft_body pp = body(QBFT_PRE_PREPARE, 0, 1, "A");
    send_as(c, 0, 1, &pp, "A", NULL, 0);
    vote(c, QBFT_PREPARE, 0, 1, 1, "A");
    vote(c, QBFT_PREPARE, 2, 1, 1, "A");
    ck_assert_int_eq(sent(c, 1, QBFT_COMMIT, 1, NULL), 1);
    cl_drain(c);
    cl_crash(c, 1);
    c->now = 1500; /* past round 1's end: the restart moves on to round 2 */
    cl_restart(c, 1);
    struct qbft_info in;
    ck_assert_int_eq(qbft_info(c->nodes[1].eng, &ID, &in), 0);
    ck_assert_uint_eq(in.round, 2);
    ck_assert_uint_eq(in.prepared_round, 1);
    struct qbft_msg *m = malloc(sizeof(*m));
    ck_assert_int_eq(sent(c, 1, QBFT_ROUND_CHANGE, 2, m), 1);
    ck_assert_uint_eq(m->m.b.prepared_round, 1);
    ck_assert(m->has_value && m->value_len == 1 && memcmp(m->value, "A", 1) == 0);
    ck_assert_uint_eq(m->njust, 3);
    free(m);
    /* Intents that are not this node's are refused. */
    struct buf other = BUF_INIT;
    struct qbft_body p2 = body(QBFT_PREPARE, 2, 1, "A");
    cl_craft(c, 2, &p2, NULL, 0, NULL, 0, &other);
    struct qbft_intent it = {1, QBFT_PREPARE, other.data, other.len};
    struct qbft_id fresh = {1, 99};
    ck_assert_int_eq(qbft_restore(c->nodes[1].eng, &fresh, &it, 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    buf_free(&other);
    cl_free(c);
}
END_TEST

/* Restarted in its round: re-sends exactly the stored bytes. */
START_TEST(restore_resends_same_bytes)
{
    struct cluster *c = mk(4);
    start(c, 0); /* leader of round 1: PRE-PREPARE out */
    const struct cl_intent *x = cl_intent_find(&c->nodes[0], &ID, 1, QBFT_PRE_PREPARE);
    ck_assert_ptr_nonnull(x);
    struct buf copy = BUF_INIT;
    buf_append(&copy, x->bytes, x->len);
    cl_drain(c);
    uint64_t signs = c->nodes[0].signs;
    cl_crash(c, 0);
    c->now = 10;
    cl_restart(c, 0);
    ck_assert_uint_eq(c->nodes[0].signs, signs);
    bool found = false;
    for (size_t i = 0; i < c->qlen; i++) {
        struct cl_msg *q = &c->q[c->qhead + i];
        found |= q->from == 0 && q->type == QBFT_PRE_PREPARE && q->len == copy.len &&
                 memcmp(q->bytes, copy.data, copy.len) == 0;
    }
    ck_assert(found);
    buf_free(&copy);
    cl_free(c);
}
END_TEST

/* ================= buffering, abstention, info ================= */

START_TEST(buffered_until_started)
{
    struct cluster *c = mk(4);
    struct qbft_body pp = body(QBFT_PRE_PREPARE, 0, 1, "A");
    ck_assert_int_eq(send_as(c, 0, 3, &pp, "A", NULL, 0), QBFT_BUFFERED);
    for (unsigned i = 0; i < 3; i++)
        ck_assert_int_eq(vote(c, QBFT_COMMIT, i, 3, 1, "A"), QBFT_BUFFERED);
    ck_assert_uint_eq(verdicts(c, 3, QBFT_OK), 0);
    struct qbft_info in;
    ck_assert_int_eq(qbft_info(c->nodes[3].eng, &ID, &in), 0);
    ck_assert_int_eq(in.status, QBFT_PENDING_START);
    start(c, 3);
    ck_assert_uint_eq(verdicts(c, 3, QBFT_OK), 4);
    const struct cl_decision *d = cl_decision(c, 3, &ID);
    ck_assert_ptr_nonnull(d);
    ck_assert(d->len == 1 && d->value[0] == 'A');
    cl_free(c);
}
END_TEST

START_TEST(buffer_bounded_per_peer)
{
    struct cl_opts o;
    cl_opts_default(&o, 4);
    o.buffer_msgs_per_peer = 2;
    struct cluster *c = mk_opts(4, &o);
    ck_assert_int_eq(vote(c, QBFT_PREPARE, 2, 3, 1, "A"), QBFT_BUFFERED);
    ck_assert_int_eq(vote(c, QBFT_COMMIT, 2, 3, 1, "A"), QBFT_BUFFERED);
    ck_assert_int_eq(vote(c, QBFT_PREPARE, 2, 3, 2, "A"), QBFT_ROUND_OOB);
    ck_assert_int_eq(vote(c, QBFT_PREPARE, 1, 3, 1, "A"), QBFT_BUFFERED); /* another peer */
    struct qbft_stats st;
    qbft_stats(c->nodes[3].eng, &st);
    ck_assert_uint_eq(st.buffer_drops, 1);
    cl_free(c);
}
END_TEST

START_TEST(abstain_emits_nothing_but_decides)
{
    struct cluster *c = mk(4);
    ck_assert_int_eq(qbft_abstain(c->nodes[1].eng, &ID), 0);
    start(c, 1);
    struct qbft_body pp = body(QBFT_PRE_PREPARE, 0, 1, "A");
    send_as(c, 0, 1, &pp, "A", NULL, 0);
    for (unsigned i = 0; i < 4; i++)
        if (i != 1)
            vote(c, QBFT_PREPARE, i, 1, 1, "A");
    c->now = cl_next_deadline(c, 1);
    cl_tick(c, 1);
    ck_assert_uint_eq(c->qlen, 0);
    ck_assert_uint_eq(c->nodes[1].signs, 0);
    ck_assert_uint_eq(c->nodes[1].abstains, 3); /* PREPARE, COMMIT, ROUND-CHANGE */
    for (unsigned i = 0; i < 4; i++)
        if (i != 1)
            vote(c, QBFT_COMMIT, i, 1, 1, "A");
    ck_assert_uint_eq(c->nodes[1].ndecisions, 1);
    cl_free(c);
}
END_TEST

START_TEST(info_prune_and_restore_decided)
{
    struct cluster *c = mk(4);
    for (unsigned i = 0; i < 4; i++)
        start(c, i);
    cl_run(c, NULL, NULL, SIZE_MAX);
    ck_assert(cl_all_decided(c, &ID));
    ck_assert_uint_eq(c->violations, 0);
    struct qbft_info in;
    ck_assert_int_eq(qbft_info(c->nodes[2].eng, &ID, &in), 0);
    ck_assert_int_eq(in.status, QBFT_DECIDED_STATUS);
    ck_assert(in.value_len == 3 && memcmp(in.value, "in0", 3) == 0); /* round-1 leader 0 */
    uint64_t round;
    ck_assert_int_eq(qbft_cert_verify(in.cert, in.cert_len, 4,
                                      (const uint8_t(*)[PUBKEY_LEN])c->pubkeys, c->lock_hash, 0, 7,
                                      in.value_hash, &round, NULL),
                     0);
    /* A restarted decided node still answers laggards: the first ROUND-CHANGE brings the
     * decision back from StateDB, the next is answered. */
    cl_crash(c, 2);
    cl_restart(c, 2);
    cl_drain(c);
    ck_assert_int_eq(send_rc(c, 3, 2, 2, 0, NULL), QBFT_BUFFERED);
    ck_assert_int_eq(sent(c, 2, QBFT_DECIDED, 1, NULL), 0);
    ck_assert_int_eq(send_rc(c, 3, 2, 3, 0, NULL), QBFT_OK);
    ck_assert_int_eq(sent(c, 2, QBFT_DECIDED, 1, NULL), 1);
    qbft_prune(c->nodes[2].eng, 0, 8);
    ck_assert_int_eq(qbft_info(c->nodes[2].eng, &ID, &in), -1);
    ck_assert_int_eq(in.status, QBFT_UNKNOWN);
    ck_assert_int_eq(send_rc(c, 3, 2, 4, 0, NULL), QBFT_OLD);
    cl_free(c);
}
END_TEST

START_TEST(timer_schedule)
{
    struct qbft_config cfg;
    qbft_config_defaults(&cfg);
    cfg.round_timeout_ms = 100;
    cfg.round_timeout_max_ms = 800;
    ck_assert_uint_eq(qbft_round_timeout(&cfg, 1), 100);
    ck_assert_uint_eq(qbft_round_timeout(&cfg, 3), 400);
    ck_assert_uint_eq(qbft_round_timeout(&cfg, 4), 800);
    ck_assert_uint_eq(qbft_round_timeout(&cfg, 70), 800);
    ck_assert_uint_eq(qbft_round_end(&cfg, 1000, 3), 1700);
    ck_assert_uint_eq(qbft_round_end(&cfg, 1000, 6), 1000 + 700 + 3 * 800);
    ck_assert_uint_eq(qbft_round_at(&cfg, 1000, 1000), 1);
    ck_assert_uint_eq(qbft_round_at(&cfg, 1000, 1699), 3);
    ck_assert_uint_eq(qbft_round_at(&cfg, 1000, 1700), 4);
    ck_assert_uint_eq(qbft_round_end(&cfg, 0, QBFT_MAX_ROUND), 700 + (QBFT_MAX_ROUND - 3) * 800ull);
    cfg.timer = QBFT_TIMER_LINEAR;
    cfg.round_timeout_max_ms = 350;
    ck_assert_uint_eq(qbft_round_timeout(&cfg, 3), 300);
    ck_assert_uint_eq(qbft_round_timeout(&cfg, 4), 350);
    ck_assert_uint_eq(qbft_round_end(&cfg, 0, 5), 100 + 200 + 300 + 350 + 350);
    ck_assert_uint_eq(qbft_round_at(&cfg, 0, 600), 4);
    cfg.round_timeout_max_ms = UINT64_MAX / 2;
    ck_assert_uint_eq(qbft_round_end(&cfg, UINT64_MAX - 5, 10), UINT64_MAX);
}
END_TEST

/* Values: the one referred to longest ago makes room, never the prepared value. */
START_TEST(values_evict_oldest_reference_not_prepared)
{
    struct qinst *in = calloc(1, sizeof(*in));
    uint8_t h[QBFT_VALUES + 2][SHA256_LEN];
    char v[16];
    for (unsigned i = 0; i < QBFT_VALUES + 2; i++) {
        snprintf(v, sizeof(v), "v%u", i);
        hash_of(h[i], v);
    }
    for (unsigned i = 0; i < QBFT_VALUES; i++)
        qval_add(in, h[i], (const uint8_t *)"x", 1, i + 1);
    in->pr = 1;
    memcpy(in->ph, h[0], SHA256_LEN);                /* prepared: round 1's value */
    qval_add(in, h[1], (const uint8_t *)"x", 1, 50); /* referred to again */
    qval_add(in, h[QBFT_VALUES], (const uint8_t *)"x", 1, 60);
    ck_assert_ptr_nonnull(qval_find(in, h[0]));
    ck_assert_ptr_nonnull(qval_find(in, h[1]));
    ck_assert_ptr_null(qval_find(in, h[2])); /* round 3: the oldest reference left */
    ck_assert_ptr_nonnull(qval_find(in, h[QBFT_VALUES]));
    qval_add(in, h[QBFT_VALUES + 1], (const uint8_t *)"x", 1, 61);
    ck_assert_ptr_null(qval_find(in, h[3]));
    ck_assert_ptr_nonnull(qval_find(in, h[0]));
    for (unsigned i = 0; i < in->nvals; i++)
        free(in->vals[i].data);
    free(in);
}
END_TEST

/* ================= named scenarios (FIFO network) ================= */

static bool drop_node(void *ctx, const struct cl_msg *m)
{
    unsigned x = *(unsigned *)ctx;
    return m->from != x && m->to != x;
}

/* Run the cluster until every honest, live node decided (or virtual time runs out). */
static void settle(struct cluster *c, cl_filter_fn filter, void *ctx)
{
    cl_run(c, filter, ctx, SIZE_MAX);
    for (int guard = 0; guard < 200; guard++) {
        bool all = true;
        for (unsigned i = 0; i < c->n; i++)
            all &= !c->nodes[i].honest || !c->nodes[i].alive || cl_decision(c, i, &ID);
        if (all || !cl_advance(c, c->now + 60000, filter, ctx))
            break;
    }
}

START_TEST(scenario_leader_down_in_round_1)
{
    struct cluster *c = mk(4);
    cl_crash(c, 0); /* leader of round 1 */
    for (unsigned i = 1; i < 4; i++)
        start(c, i);
    settle(c, NULL, NULL);
    for (unsigned i = 1; i < 4; i++) {
        const struct cl_decision *d = cl_decision(c, i, &ID);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(d->round, 2);
        ck_assert(d->len == 3 && memcmp(d->value, "in1", 3) == 0); /* leader of round 2 */
    }
    ck_assert_uint_eq(c->violations, 0);
    cl_free(c);
}
END_TEST

static bool drop_commits_round_1(void *ctx, const struct cl_msg *m)
{
    (void)ctx;
    return !(m->type == QBFT_COMMIT);
}

/* Everyone prepares in round 1 but no COMMIT gets through: round 2 must carry the value. */
START_TEST(scenario_prepared_value_carried_into_next_round)
{
    struct cluster *c = mk(4);
    for (unsigned i = 0; i < 4; i++)
        start(c, i);
    cl_run(c, drop_commits_round_1, NULL, SIZE_MAX);
    for (unsigned i = 0; i < 4; i++) {
        struct qbft_info in;
        qbft_info(c->nodes[i].eng, &ID, &in);
        ck_assert_uint_eq(in.prepared_round, 1);
        ck_assert_uint_eq(c->nodes[i].ndecisions, 0);
    }
    settle(c, NULL, NULL);
    for (unsigned i = 0; i < 4; i++) {
        const struct cl_decision *d = cl_decision(c, i, &ID);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(d->round, 2);
        ck_assert(d->len == 3 && memcmp(d->value, "in0", 3) == 0); /* not node 1's "in1" */
    }
    ck_assert_uint_eq(c->violations, 0);
    cl_free(c);
}
END_TEST

START_TEST(scenario_lagging_node_finishes_from_decided)
{
    struct cluster *c = mk(4);
    unsigned lag = 3;
    for (unsigned i = 0; i < 4; i++)
        start(c, i);
    cl_run(c, drop_node, &lag, SIZE_MAX);
    for (unsigned i = 0; i < 3; i++)
        ck_assert_ptr_nonnull(cl_decision(c, i, &ID));
    ck_assert_ptr_null(cl_decision(c, 3, &ID));
    settle(c, NULL, NULL); /* node 3 times out, sends ROUND-CHANGE, gets DECIDED */
    const struct cl_decision *d = cl_decision(c, 3, &ID);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(d->round, 1);
    ck_assert(d->len == 3 && memcmp(d->value, "in0", 3) == 0);
    ck_assert_uint_eq(c->violations, 0);
    cl_free(c);
}
END_TEST

START_TEST(scenario_f_plus_1_jump_in_cluster)
{
    struct cluster *c = mk(4);
    unsigned lag = 3;
    for (unsigned i = 0; i < 3; i++)
        start(c, i);
    /* Nodes 0-2 go through rounds without node 3 (it never started): no quorum of 3 without
     * node 3 once node 0 (leader of round 1) is cut off too. */
    unsigned cut = 0;
    cl_run(c, drop_node, &cut, SIZE_MAX);
    for (int k = 0; k < 3; k++)
        cl_advance(c, c->now + 60000, drop_node, &cut);
    struct qbft_info in;
    qbft_info(c->nodes[1].eng, &ID, &in);
    uint64_t ahead = in.round;
    ck_assert_uint_ge(ahead, 3);
    /* Node 3 starts late, at round 1 of its own schedule: f+1 ROUND-CHANGEs pull it up. */
    c->now += 1;
    start(c, lag);
    cl_advance(c, c->now + 60000, drop_node, &cut);
    qbft_info(c->nodes[3].eng, &ID, &in);
    ck_assert_uint_ge(in.round, ahead);
    settle(c, drop_node, &cut);
    for (unsigned i = 1; i < 4; i++)
        ck_assert_ptr_nonnull(cl_decision(c, i, &ID));
    ck_assert_uint_eq(c->violations, 0);
    cl_free(c);
}
END_TEST

/* n = 4, f = 1: the round-1 leader (node 0, Byzantine) sends A to 1 and 2, B to 3. */
START_TEST(scenario_equivocating_leader)
{
    struct cluster *c = mk(4);
    c->nodes[0].honest = false;
    for (unsigned i = 1; i < 4; i++)
        start(c, i);
    cl_register_value(c, "A", 1);
    cl_register_value(c, "B", 1);
    struct qbft_body pa = body(QBFT_PRE_PREPARE, 0, 1, "A"), pb = body(QBFT_PRE_PREPARE, 0, 1, "B");
    ck_assert_int_eq(send_as(c, 0, 1, &pa, "A", NULL, 0), QBFT_OK);
    ck_assert_int_eq(send_as(c, 0, 2, &pa, "A", NULL, 0), QBFT_OK);
    ck_assert_int_eq(send_as(c, 0, 3, &pb, "B", NULL, 0), QBFT_OK);
    /* Node 1 also sees B: evidence reported. */
    ck_assert_int_eq(send_as(c, 0, 1, &pb, "B", NULL, 0), QBFT_EQUIVOCATION);
    ck_assert_uint_eq(c->nodes[1].equivocations, 1);
    settle(c, NULL, NULL);
    const struct cl_decision *d1 = cl_decision(c, 1, &ID);
    ck_assert_ptr_nonnull(d1);
    for (unsigned i = 2; i < 4; i++) {
        const struct cl_decision *d = cl_decision(c, i, &ID);
        ck_assert_ptr_nonnull(d);
        ck_assert(memcmp(d->hash, d1->hash, SHA256_LEN) == 0);
    }
    ck_assert_uint_eq(c->violations, 0);
    cl_free(c);
}
END_TEST

static bool drop_pre_prepares(void *ctx, const struct cl_msg *m)
{
    (void)ctx;
    return m->type != QBFT_PRE_PREPARE;
}

/* Crash between the intent_put and the send, in each phase; restart; everyone decides. */
static void crash_in_phase(uint8_t type, unsigned victim, bool round_change)
{
    struct cluster *c = mk(4);
    c->nodes[victim].crash_after_put = type;
    for (unsigned i = 0; i < 4; i++)
        start(c, i);
    if (round_change) {
        cl_run(c, drop_pre_prepares, NULL, SIZE_MAX);
        c->now = cl_next_deadline(c, (victim + 1) % 4);
        for (unsigned i = 0; i < 4; i++)
            cl_tick(c, i);
    }
    cl_run(c, NULL, NULL, SIZE_MAX);
    ck_assert_msg(!c->nodes[victim].alive, "victim did not crash in phase %s",
                  qbft_type_name(type));
    ck_assert_ptr_nonnull(cl_intent_find(&c->nodes[victim], &ID, round_change ? 2 : 1, type));
    c->now += 50;
    cl_restart(c, victim);
    settle(c, NULL, NULL);
    const struct cl_decision *d0 = cl_decision(c, 0, &ID);
    ck_assert_ptr_nonnull(d0);
    for (unsigned i = 0; i < 4; i++) {
        const struct cl_decision *d = cl_decision(c, i, &ID);
        ck_assert_msg(d != NULL, "node %u undecided after a crash in phase %s", i,
                      qbft_type_name(type));
        ck_assert(memcmp(d->hash, d0->hash, SHA256_LEN) == 0);
    }
    ck_assert_msg(c->violations == 0, "%s", c->violation);
    ck_assert_uint_eq(c->nodes[victim].restarts, 1);
    cl_free(c);
}

/* Pessimistic recovery: a node restarted on a StateDB that fell back to a checkpoint abstains
 * from the instance it had joined; the others decide, and it learns the decision. */
START_TEST(scenario_fallback_abstains_after_restart)
{
    struct cluster *c = mk(4);
    for (unsigned i = 0; i < 4; i++)
        start(c, i);
    cl_crash(c, 1);
    c->nodes[1].store_fallback = true;
    cl_restart(c, 1);
    struct qbft_info in;
    ck_assert_int_eq(qbft_info(c->nodes[1].eng, &ID, &in), 0);
    ck_assert(in.abstain);
    uint64_t signs = c->nodes[1].signs;
    settle(c, NULL, NULL);
    for (unsigned i = 0; i < 4; i++)
        ck_assert_ptr_nonnull(cl_decision(c, i, &ID));
    ck_assert_uint_ge(c->nodes[1].abstains, 2);      /* its PREPARE and COMMIT */
    ck_assert_uint_eq(c->nodes[1].signs, signs + 1); /* only its seal */
    ck_assert_uint_eq(c->violations, 0);
    cl_free(c);
}
END_TEST

START_TEST(scenario_crash_restart_each_phase)
{
    crash_in_phase(QBFT_PRE_PREPARE, 0, false); /* the leader, before its proposal left */
    crash_in_phase(QBFT_PREPARE, 2, false);
    crash_in_phase(QBFT_COMMIT, 2, false);
    crash_in_phase(QBFT_COMMIT, 0, false);
    crash_in_phase(QBFT_ROUND_CHANGE, 3, true);
    crash_in_phase(QBFT_PRE_PREPARE, 1, true); /* leader of round 2 */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("qbft");
    TCase *v = tcase_create("verifier");
    tcase_add_test(v, verify_ok_then_replay);
    tcase_add_test(v, verify_garbage_is_error_unknown);
    tcase_add_test(v, verify_justification_over_2n);
    tcase_add_test(v, verify_unauthorized);
    tcase_add_test(v, verify_sig_invalid);
    tcase_add_test(v, verify_old);
    tcase_add_test(v, verify_round_oob);
    tcase_add_test(v, verify_equivocation_with_evidence);
    tcase_add_test(v, verify_decided_exempt_from_equivocation);
    tcase_add_test(v, verify_non_leader_pre_prepare);
    tcase_add_test(v, verify_pre_prepare_justifications);
    tcase_add_test(v, verify_round_change_and_decided_justifications);
    tcase_add_test(v, verify_validate_value);
    tcase_add_test(v, verify_validate_value_pending_then_valid);
    tcase_add_test(v, verify_validate_value_pending_then_invalid);
    suite_add_tcase(s, v);
    TCase *u = tcase_create("upon");
    tcase_add_test(u, upon_pre_prepare_then_prepares_then_commits);
    tcase_add_test(u, upon_prepares_wait_for_the_value);
    tcase_add_test(u, upon_timeout_sends_round_change);
    tcase_add_test(u, upon_f_plus_1_round_change_jump);
    tcase_add_test(u, upon_jump_beyond_window);
    tcase_add_test(u, upon_leader_reproposes_prepared_value);
    tcase_add_test(u, set_input_proposed_from_the_next_round);
    tcase_add_test(u, upon_decided_answers_round_changes_capped);
    tcase_add_test(u, events_reported);
    suite_add_tcase(s, u);
    TCase *i = tcase_create("intents");
    tcase_add_test(i, intent_reemitted_never_resigned);
    tcase_add_test(i, intent_store_down_holds_then_withholds);
    tcase_add_test(i, restore_rebuilds_prepared_state);
    tcase_add_test(i, restore_resends_same_bytes);
    tcase_add_test(i, buffered_until_started);
    tcase_add_test(i, buffer_bounded_per_peer);
    tcase_add_test(i, abstain_emits_nothing_but_decides);
    tcase_add_test(i, info_prune_and_restore_decided);
    tcase_add_test(i, timer_schedule);
    tcase_add_test(i, values_evict_oldest_reference_not_prepared);
    suite_add_tcase(s, i);
    TCase *sc = tcase_create("scenarios");
    tcase_set_timeout(sc, 30);
    tcase_add_test(sc, scenario_leader_down_in_round_1);
    tcase_add_test(sc, scenario_prepared_value_carried_into_next_round);
    tcase_add_test(sc, scenario_lagging_node_finishes_from_decided);
    tcase_add_test(sc, scenario_f_plus_1_jump_in_cluster);
    tcase_add_test(sc, scenario_equivocating_leader);
    tcase_add_test(sc, scenario_crash_restart_each_phase);
    tcase_add_test(sc, scenario_fallback_abstains_after_restart);
    suite_add_tcase(s, sc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
