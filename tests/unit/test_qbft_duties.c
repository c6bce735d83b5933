/*
 * Unit tests for the QBFT worker's core (workers/qbft/duties.h), without processes: a scripted
 * host records what the module sends, asks StateDB and answers, and the tests answer StateDB
 * themselves (late, never, wrongly). Covers admission (the open-instance cap, the height rules
 * of issue 10), the WAL-before-send discipline, decisions that wait for their durable record,
 * seals, the reload (pages, rebuilt instances, fallback), DUTY_GET views, expiry and pruning,
 * decided instances bounded in memory by count and age (answered from StateDB after), decision
 * lookups, and the sequencer's hooks (block inputs that follow the chain's head).
 *
 * Cluster: n = 4, this node is 1. Instance attester/7: leader of round 1 is node 0.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "proto/p2p.h"
#include "proto/block.h"
#include "workers/qbft/duties.h"
#include "workers/qbft/qbft_table.h"

#define N    4
#define SELF 1

static const struct qbft_id ID = {0, 7};

struct req {
    struct sdb_req r; /* the request (pointers cleared) */
    struct buf bytes; /* APPEND_INTENT: msg; PUT_DUTY: payload; PUT_DECIDED: value */
    uint32_t seals;   /* PUT_DECIDED: seal indices as a bit mask */
    void *token;
    bool done;
};

struct sent {
    uint32_t peer;
    enum qbft_topic_kind kind;
    uint8_t type;
    struct buf bytes;
};

struct fake {
    struct duties *d;
    struct duties_config cfg;
    struct node_key keys[N];
    uint8_t pubkeys[N][PUBKEY_LEN];
    uint64_t now, wall;
    bool down; /* StateDB unreachable */
    struct req reqs[256];
    size_t nreqs;
    struct sent sent[256];
    size_t nsent;
    int submitted; /* last answer, -1 none */
    size_t nsubmitted;
    struct duty_view view; /* last view (value not kept) */
    int viewed;            /* -1 none, 0 unavailable, 1 a view */
    bool ready;
    uint64_t reports[DUTIES_REPORT_UNDECODABLE + 1];
    unsigned want_input, validated;
    enum qbft_validity validity;
    char last_log[64];
    unsigned decided_calls; /* the decided hook (threshold signing starts from it) */
    uint8_t decided_hash[SHA256_LEN];
};

/* ---- the host ---- */

static uint64_t h_mono(void *ctx)
{
    return ((struct fake *)ctx)->now;
}

static uint64_t h_wall(void *ctx)
{
    return ((struct fake *)ctx)->wall + ((struct fake *)ctx)->now;
}

static void h_send(void *ctx, uint32_t peer, enum qbft_topic_kind kind, uint8_t type,
                   const uint8_t *bytes, size_t len)
{
    struct fake *f = ctx;
    ck_assert_uint_lt(f->nsent, ARRAY_LEN(f->sent));
    struct sent *s = &f->sent[f->nsent++];
    s->peer = peer;
    s->kind = kind;
    s->type = type;
    s->bytes = (struct buf)BUF_INIT;
    buf_append(&s->bytes, bytes, len);
}

static void h_report(void *ctx, unsigned peer, enum duties_report why)
{
    (void)peer;
    ((struct fake *)ctx)->reports[why]++;
}

static int h_sdb(void *ctx, const struct sdb_req *r, void *token)
{
    struct fake *f = ctx;
    if (f->down)
        return -1;
    ck_assert_uint_lt(f->nreqs, ARRAY_LEN(f->reqs));
    struct req *q = &f->reqs[f->nreqs++];
    memset(q, 0, sizeof(*q));
    q->r = *r;
    q->token = token;
    if (r->type == SDB_APPEND_INTENT)
        buf_append(&q->bytes, r->u.append.msg.p, r->u.append.msg.len);
    if (r->type == SDB_PUT_DUTY)
        buf_append(&q->bytes, r->u.put_duty.payload.p, r->u.put_duty.payload.len);
    if (r->type == SDB_PUT_DECIDED) {
        buf_append(&q->bytes, r->u.put_decided.value.p, r->u.put_decided.value.len);
        for (uint32_t i = 0; i < r->u.put_decided.nseals; i++)
            q->seals |= 1u << r->u.put_decided.seals[i].index;
        q->r.u.put_decided.cert = NULL;
        q->r.u.put_decided.seals = NULL;
    }
    return 0;
}

static void h_submitted(void *ctx, const struct duties_asker *who, enum duty_result res)
{
    struct fake *f = ctx;
    (void)who;
    f->submitted = (int)res;
    f->nsubmitted++;
}

static void h_viewed(void *ctx, const struct duties_asker *who, const struct duty_view *v)
{
    struct fake *f = ctx;
    (void)who;
    f->viewed = v != NULL;
    if (v) {
        f->view = *v;
        f->view.value = NULL;
    }
}

static int h_sign(void *ctx, const uint8_t digest[SHA256_LEN], uint8_t sig[SIG_LEN])
{
    ecdsa_sign(&((struct fake *)ctx)->keys[SELF], digest, sig);
    return 0;
}

static void h_ready(void *ctx)
{
    ((struct fake *)ctx)->ready = true;
}

static void h_log(void *ctx, enum log_level level, const char *event, const struct log_kv *kv)
{
    struct fake *f = ctx;
    (void)level;
    snprintf(f->last_log, sizeof(f->last_log), "%s", event);
    for (; kv->k; kv++)
        if (strcmp(kv->k, "event") == 0 && kv->t == 's')
            snprintf(f->last_log, sizeof(f->last_log), "%s/%s", event, kv->v.s);
}

static void h_decided(void *ctx, const struct qbft_id *id, uint64_t round,
                      const uint8_t value_hash[SHA256_LEN])
{
    struct fake *f = ctx;
    (void)id;
    (void)round;
    f->decided_calls++;
    memcpy(f->decided_hash, value_hash, SHA256_LEN);
}

static void h_want_input(void *ctx, const struct qbft_id *id, bool explicit_duty)
{
    (void)id;
    (void)explicit_duty;
    ((struct fake *)ctx)->want_input++;
}

static enum qbft_validity h_validate(void *ctx, const struct qbft_id *id,
                                     const uint8_t hash[QBFT_HASH_LEN], const uint8_t *value,
                                     size_t len)
{
    struct fake *f = ctx;
    (void)id;
    (void)hash;
    (void)value;
    (void)len;
    f->validated++;
    return f->validity;
}

/* ---- setup ---- */

static struct fake *fake_new(void (*tune)(struct fake *))
{
    struct fake *f = calloc(1, sizeof(*f));
    f->now = 1000;
    f->wall = 1700000000000ull;
    f->submitted = f->viewed = -1;
    for (unsigned i = 0; i < N; i++) {
        uint8_t sec[SECKEY_LEN];
        memset(sec, 0x11 * (i + 1), sizeof(sec));
        ck_assert_int_eq(node_key_from_secret(&f->keys[i], sec), 0);
        memcpy(f->pubkeys[i], f->keys[i].pub, PUBKEY_LEN);
    }
    qbft_config_defaults(&f->cfg.qbft);
    f->cfg.qbft.n = N;
    f->cfg.qbft.self = SELF;
    f->cfg.qbft.pubkeys = (const uint8_t(*)[PUBKEY_LEN])f->pubkeys;
    sha256(f->cfg.qbft.lock_hash, "duties test lock", 16);
    f->cfg.max_open = 512;
    f->cfg.max_height_jump = 1000000;
    f->cfg.instance_expire_ms = 60000;
    f->cfg.generation = 3;
    f->validity = QBFT_VALUE_VALID;
    if (tune)
        tune(f);
    struct duties_host host = {
        .ctx = f,
        .mono_ms = h_mono,
        .wall_ms = h_wall,
        .send = h_send,
        .report = h_report,
        .sdb_request = h_sdb,
        .submitted = h_submitted,
        .viewed = h_viewed,
        .sign = h_sign,
        .ready = h_ready,
        .log = h_log,
        .want_input = f->cfg.builder_duties ? h_want_input : NULL,
        .validate = f->cfg.builder_duties ? h_validate : NULL,
        .decided = h_decided,
    };
    char err[128];
    f->d = duties_new(&f->cfg, &host, err, sizeof(err));
    ck_assert_msg(f->d != NULL, "%s", err);
    return f;
}

static void fake_free(struct fake *f)
{
    duties_free(f->d);
    for (size_t i = 0; i < f->nreqs; i++)
        buf_free(&f->reqs[i].bytes);
    for (size_t i = 0; i < f->nsent; i++)
        buf_free(&f->sent[i].bytes);
    free(f);
}

/* The first unanswered request of a type (NULL: none). */
static struct req *pending(struct fake *f, uint16_t type)
{
    for (size_t i = 0; i < f->nreqs; i++)
        if (!f->reqs[i].done && f->reqs[i].r.type == type)
            return &f->reqs[i];
    return NULL;
}

static size_t npending(struct fake *f, uint16_t type)
{
    size_t n = 0;
    for (size_t i = 0; i < f->nreqs; i++)
        n += !f->reqs[i].done && f->reqs[i].r.type == type;
    return n;
}

static void answer(struct fake *f, struct req *q, const struct sdb_reply *r)
{
    ck_assert_ptr_nonnull(q);
    q->done = true;
    duties_on_reply(f->d, q->token, r);
}

static void answer_status(struct fake *f, struct req *q, uint8_t status, bool durable)
{
    struct sdb_reply r = {.type = sdb_reply_type(q->r.type), .status = status, .durable = durable};
    answer(f, q, &r);
}

/* Answer every APPEND_INTENT: ok and durable. */
static void ack_appends(struct fake *f)
{
    struct req *q;
    while ((q = pending(f, SDB_APPEND_INTENT)))
        answer_status(f, q, SDB_OK, true);
}

static void empty_list(struct fake *f, uint16_t type)
{
    struct req *q = pending(f, type);
    struct sdb_reply r = {.type = sdb_reply_type(type), .status = SDB_OK, .durable = true};
    answer(f, q, &r);
}

/* The reload of an empty store. */
static void up(struct fake *f, bool fallback)
{
    duties_start(f->d);
    struct req *q = pending(f, SDB_HELLO);
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_eq(q->r.u.hello.generation, 3);
    struct sdb_reply r = {.type = SDB_HELLO_REP, .status = SDB_OK, .durable = true};
    r.u.hello.fallback = fallback;
    answer(f, q, &r);
    empty_list(f, SDB_LIST_DUTIES);
    empty_list(f, SDB_LOAD_INTENTS);
    ck_assert(f->ready && duties_loaded(f->d));
}

static int submit(struct fake *f, uint8_t type, uint64_t height, const char *payload)
{
    struct duty_submit s = {.type = type,
                            .height = height,
                            .payload = (const uint8_t *)payload,
                            .payload_len = (uint32_t)strlen(payload)};
    struct duties_asker who = {.source = 2, .req_id = 9};
    f->submitted = -1;
    duties_submit(f->d, &who, &s, "trace");
    return f->submitted;
}

/* Submit and have StateDB take the duty. */
static void accept_duty(struct fake *f, uint8_t type, uint64_t height, const char *payload)
{
    ck_assert_int_eq(submit(f, type, height, payload), -1);
    answer_status(f, pending(f, SDB_PUT_DUTY), SDB_OK, true);
    ck_assert_int_eq(f->submitted, DUTY_ACCEPTED);
}

static size_t count_sent(struct fake *f, enum qbft_topic_kind kind, uint8_t type)
{
    size_t n = 0;
    for (size_t i = 0; i < f->nsent; i++)
        n += f->sent[i].kind == kind && f->sent[i].type == type;
    return n;
}

/* ---- crafting peers' messages ---- */

static void craft(struct fake *f, unsigned signer, const struct qbft_body *b, const char *value,
                  const struct qbft_sigref *just, size_t nj, struct buf *out)
{
    struct buf enc = BUF_INIT;
    uint8_t digest[SHA256_LEN], sig[SIG_LEN];
    qbft_body_encode(&enc, b);
    qbft_signing_digest(digest, f->cfg.qbft.lock_hash, enc.data, enc.len);
    ecdsa_sign(&f->keys[signer], digest, sig);
    struct qbft_sigref self = {enc.data, enc.len, sig};
    qbft_msg_encode(out, &self, (const uint8_t *)value, value ? strlen(value) : 0, just, nj);
    buf_free(&enc);
}

static struct qbft_body body(const struct qbft_id *id, uint8_t type, unsigned sender,
                             uint64_t round, const char *value)
{
    struct qbft_body b = {.type = type,
                          .duty = id->duty,
                          .height = id->height,
                          .round = round,
                          .sender = (uint16_t)sender};
    if (value) {
        b.has_value_hash = true;
        sha256(b.value_hash, value, strlen(value));
    }
    return b;
}

static int deliver(struct fake *f, unsigned from, const struct qbft_body *b, const char *value,
                   const struct qbft_sigref *just, size_t nj)
{
    struct buf out = BUF_INIT;
    craft(f, from, b, value, just, nj, &out);
    int v = duties_deliver(f->d, from, QBFT_KIND_MSG, out.data, out.len);
    buf_free(&out);
    return v;
}

/* A DECIDED from node 0 with COMMITs of 0, 2 and 3 for value in round 1. */
static int deliver_decided(struct fake *f, const struct qbft_id *id, const char *value)
{
    struct buf bodies[3];
    uint8_t sigs[3][SIG_LEN];
    struct qbft_sigref j[3];
    const unsigned from[] = {0, 2, 3};
    for (unsigned i = 0; i < 3; i++) {
        struct qbft_body c = body(id, QBFT_COMMIT, from[i], 1, value);
        uint8_t digest[SHA256_LEN];
        bodies[i] = (struct buf)BUF_INIT;
        qbft_body_encode(&bodies[i], &c);
        qbft_signing_digest(digest, f->cfg.qbft.lock_hash, bodies[i].data, bodies[i].len);
        ecdsa_sign(&f->keys[from[i]], digest, sigs[i]);
        j[i] = (struct qbft_sigref){bodies[i].data, bodies[i].len, sigs[i]};
    }
    struct qbft_body dd = body(id, QBFT_DECIDED, 0, 1, value);
    int v = deliver(f, 0, &dd, value, j, 3);
    for (unsigned i = 0; i < 3; i++)
        buf_free(&bodies[i]);
    return v;
}

static void seal_of(struct fake *f, unsigned signer, const struct qbft_id *id, const char *value,
                    struct buf *out)
{
    struct seal s = {.duty = id->duty, .height = id->height, .index = signer};
    uint8_t dg[SHA256_LEN];
    sha256(s.value_hash, value, strlen(value));
    seal_digest(dg, f->cfg.qbft.lock_hash, id->duty, id->height, s.value_hash);
    ecdsa_sign(&f->keys[signer], dg, s.sig);
    seal_encode(out, &s);
}

static void deliver_seal(struct fake *f, unsigned from, const struct buf *seal)
{
    ck_assert_int_eq(duties_deliver(f->d, from, QBFT_KIND_SEAL, seal->data, seal->len), -1);
}

static struct qbft_info info_of(struct fake *f, const struct qbft_id *id)
{
    struct qbft_info in;
    qbft_info(duties_engine(f->d), id, &in);
    return in;
}

/* ================= admission ================= */

static void small_retention(struct fake *f)
{
    f->cfg.qbft.retention = 100;
    f->cfg.max_height_jump = 1000;
}

/* Issue 10: a height far above the highest of its type is refused (409), so one request cannot
 * move the window and lock out the normal heights after it; too old is 409, never 503. */
START_TEST(admission_heights)
{
    struct fake *f = fake_new(small_retention);
    up(f, false);
    ck_assert_int_eq(submit(f, 0, 1ull << 53, "x"), -1); /* the first of a type is free */
    answer_status(f, pending(f, SDB_PUT_DUTY), SDB_OK, true);
    ck_assert_int_eq(f->submitted, DUTY_ACCEPTED);
    ck_assert_int_eq(submit(f, 0, 5, "x"), DUTY_TOO_OLD);
    ck_assert_str_eq(f->last_log, "consensus_recv");

    struct fake *g = fake_new(small_retention);
    up(g, false);
    accept_duty(g, 0, 500, "a");
    ck_assert_int_eq(submit(g, 0, 1501, "b"), DUTY_TOO_FAR_AHEAD);
    ck_assert_int_eq(submit(g, 0, 1ull << 53, "b"), DUTY_TOO_FAR_AHEAD);
    ck_assert_uint_eq(npending(g, SDB_PUT_DUTY), 0); /* refused without asking StateDB */
    ck_assert_int_eq(submit(g, 0, 399, "c"), DUTY_TOO_OLD);
    accept_duty(g, 0, 400, "c");        /* exactly retention below: still inside */
    accept_duty(g, 0, 501, "d");        /* normal heights go on */
    accept_duty(g, 0, 1501, "e");       /* exactly max_height_jump above the highest (501) */
    accept_duty(g, 2, 1ull << 62, "f"); /* another type has its own window */
    ck_assert_int_eq(info_of(g, &(struct qbft_id){0, 1501}).status, QBFT_RUNNING);
    fake_free(g);
    fake_free(f);
}
END_TEST

static void cap_two(struct fake *f)
{
    f->cfg.max_open = 2;
    f->cfg.instance_expire_ms = 5000;
}

/* At most max_open undecided instances; one that cannot decide stops counting after
 * instance_expire_ms (the sweep), a decided one at once. Re-posts of open ones still pass. */
START_TEST(admission_open_cap_and_expiry)
{
    struct fake *f = fake_new(cap_two);
    up(f, false);
    accept_duty(f, 0, 7, "a");
    accept_duty(f, 0, 8, "b");
    ck_assert_int_eq(submit(f, 0, 9, "c"), DUTY_UNAVAILABLE);
    ck_assert_int_eq(submit(f, 0, 8, "b"), -1); /* a re-post of an open instance */
    answer_status(f, pending(f, SDB_PUT_DUTY), SDB_DUPLICATE, true);
    ck_assert_int_eq(f->submitted, DUTY_ACCEPTED);
    ck_assert_int_eq(deliver_decided(f, &ID, "a"), QBFT_OK);
    accept_duty(f, 0, 9, "c"); /* attester/7 decided: its slot is free */
    ck_assert_int_eq(submit(f, 0, 10, "d"), DUTY_UNAVAILABLE);
    f->now = 1000 + DUTIES_SWEEP_MS; /* the sweep: both open instances are older than 5 s */
    duties_tick(f->d);
    ack_appends(f);
    ck_assert_str_eq(f->last_log, "qbft_state/expired");
    accept_duty(f, 0, 10, "d");
    fake_free(f);
}
END_TEST

/* Unavailable while the reload runs, when StateDB cannot be reached or fails; conflicts. */
START_TEST(admission_unavailable_and_conflict)
{
    struct fake *f = fake_new(NULL);
    duties_start(f->d);
    ck_assert_int_eq(submit(f, 0, 7, "a"), DUTY_UNAVAILABLE); /* reload in progress */
    struct req *hello = pending(f, SDB_HELLO);
    answer(f, hello, NULL); /* StateDB did not answer: HELLO again later */
    ck_assert(!f->ready);
    ck_assert_uint_eq(duties_next_deadline(f->d), f->now + DUTIES_RETRY_MS);
    f->now += DUTIES_RETRY_MS;
    duties_tick(f->d);
    answer_status(f, pending(f, SDB_HELLO), SDB_OK, true);
    empty_list(f, SDB_LIST_DUTIES);
    empty_list(f, SDB_LOAD_INTENTS);
    ck_assert(f->ready);
    ck_assert_int_eq(submit(f, 0, 7, "a"), -1);
    answer(f, pending(f, SDB_PUT_DUTY), NULL); /* timed out */
    ck_assert_int_eq(f->submitted, DUTY_UNAVAILABLE);
    char health[128];
    duties_health(f->d, health, sizeof(health));
    ck_assert_str_eq(health, "statedb unavailable: votes withheld");
    ck_assert_int_eq(submit(f, 0, 7, "a"), DUTY_UNAVAILABLE); /* until StateDB answers */
    f->now += DUTIES_RETRY_MS;
    duties_tick(f->d); /* the probe */
    answer_status(f, pending(f, SDB_HELLO), SDB_OK, true);
    duties_health(f->d, health, sizeof(health));
    ck_assert_str_eq(health, "");
    ck_assert_int_eq(submit(f, 0, 7, "b"), -1);
    answer_status(f, pending(f, SDB_PUT_DUTY), SDB_CONFLICT, true);
    ck_assert_int_eq(f->submitted, DUTY_CONFLICT);
    ck_assert_int_eq(submit(f, 0, 7, "a"), -1);
    answer_status(f, pending(f, SDB_PUT_DUTY), SDB_OK, false); /* not synced: not accepted */
    ck_assert_int_eq(f->submitted, DUTY_UNAVAILABLE);
    f->down = true;
    ck_assert_int_eq(submit(f, 0, 7, "a"), DUTY_UNAVAILABLE);
    fake_free(f);
}
END_TEST

/* ================= the WAL before every send ================= */

/* Nothing leaves before StateDB acknowledged its intent durable: not on OK without sync, not
 * while the append is outstanding; a failed append is retried; a refused one never leaves. */
START_TEST(wal_before_send)
{
    struct fake *f = fake_new(NULL);
    up(f, false);
    accept_duty(f, 0, 7, "a");
    struct qbft_body pp = body(&ID, QBFT_PRE_PREPARE, 0, 1, "A");
    ck_assert_int_eq(deliver(f, 0, &pp, "A", NULL, 0), QBFT_OK);
    struct req *q = pending(f, SDB_APPEND_INTENT);
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_eq(q->r.u.append.k.mtype, QBFT_PREPARE);
    ck_assert_uint_eq(f->nsent, 0);
    answer_status(f, q, SDB_OK, false); /* stored but not synced */
    ck_assert_uint_eq(f->nsent, 0);
    ck_assert_uint_eq(duties_next_deadline(f->d), f->now + DUTIES_RETRY_MS);
    f->now += DUTIES_RETRY_MS;
    duties_tick(f->d);
    q = pending(f, SDB_APPEND_INTENT); /* appended again */
    ck_assert_ptr_nonnull(q);
    answer(f, q, NULL); /* and that one timed out */
    ck_assert_uint_eq(f->nsent, 0);
    f->now += DUTIES_RETRY_MS;
    duties_tick(f->d);
    q = pending(f, SDB_APPEND_INTENT);
    struct buf intent = BUF_INIT;
    buf_append(&intent, q->bytes.data, q->bytes.len);
    answer_status(f, q, SDB_OK, true);
    ck_assert_uint_eq(f->nsent, 1);
    ck_assert_uint_eq(f->sent[0].type, QBFT_PREPARE);
    ck_assert_uint_eq(f->sent[0].peer, P2P_BROADCAST);
    ck_assert(f->sent[0].bytes.len == intent.len &&
              memcmp(f->sent[0].bytes.data, intent.data, intent.len) == 0);

    /* Refused: StateDB holds other bytes under the key. The new message never leaves; what
     * StateDB holds is what a rejoining peer gets. */
    struct qbft_id id8 = {0, 8};
    size_t before = f->nsent;
    accept_duty(f, 0, 8, "b");
    /* This node leads attester/8 round 1 ((8 + 0 + 1) % 4 = 1): its PRE-PREPARE waits. */
    ck_assert_uint_eq(f->nsent, before);
    q = pending(f, SDB_APPEND_INTENT);
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_eq(q->r.u.append.k.mtype, QBFT_PRE_PREPARE);
    struct buf other = BUF_INIT;
    struct qbft_body old = body(&id8, QBFT_PRE_PREPARE, SELF, 1, "OLD");
    craft(f, SELF, &old, "OLD", NULL, 0, &other);
    struct sdb_reply r = {.type = SDB_APPEND_INTENT_REP, .status = SDB_REFUSED, .durable = true};
    r.u.stored.present = true;
    r.u.stored.msg = (struct sdb_bytes){other.data, (uint32_t)other.len};
    answer(f, q, &r);
    ck_assert_uint_eq(f->nsent, before);
    ck_assert_str_eq(f->last_log, "qbft_wal/refused");
    duties_peer(f->d, 3, true);
    bool old_out = false;
    for (size_t i = before; i < f->nsent; i++)
        old_out |= f->sent[i].peer == 3 && f->sent[i].type == QBFT_PRE_PREPARE &&
                   f->sent[i].bytes.len == other.len &&
                   memcmp(f->sent[i].bytes.data, other.data, other.len) == 0;
    ck_assert(old_out);
    buf_free(&other);
    buf_free(&intent);
    fake_free(f);
}
END_TEST

/* Issue 10 / SPEC §7.5: nothing about a decision — a DECIDED answer to a peer changing rounds,
 * this node's seal — leaves before PUT_DECIDED is acknowledged durable. */
START_TEST(decided_waits_for_durable_record)
{
    struct fake *f = fake_new(NULL);
    up(f, false);
    accept_duty(f, 0, 7, "a");
    ck_assert_int_eq(deliver_decided(f, &ID, "A"), QBFT_OK);
    struct req *q = pending(f, SDB_PUT_DECIDED);
    ck_assert_ptr_nonnull(q);
    ck_assert(q->bytes.len == 1 && q->bytes.data[0] == 'A');
    ck_assert_uint_eq(q->seals, 1u << SELF);
    /* A peer still changing rounds: the engine answers with DECIDED, which waits. */
    struct qbft_body rc = body(&ID, QBFT_ROUND_CHANGE, 3, 2, NULL);
    ck_assert_int_eq(deliver(f, 3, &rc, NULL, NULL, 0), QBFT_OK);
    struct qbft_body rc2 = body(&ID, QBFT_ROUND_CHANGE, 2, 2, NULL);
    ck_assert_int_eq(deliver(f, 2, &rc2, NULL, NULL, 0), QBFT_OK);
    ck_assert_uint_eq(f->nsent, 0);
    answer(f, q, NULL); /* failed: persisted again at once */
    ck_assert_uint_eq(f->nsent, 0);
    q = pending(f, SDB_PUT_DECIDED);
    answer_status(f, q, SDB_OK, false); /* not synced: still nothing */
    ck_assert_uint_eq(f->nsent, 0);
    ck_assert_uint_eq(f->decided_calls, 0); /* threshold signing waits for the record too */
    f->now += DUTIES_RETRY_MS;
    duties_tick(f->d);
    q = pending(f, SDB_PUT_DECIDED);
    ck_assert_ptr_nonnull(q);
    answer_status(f, q, SDB_OK, true);
    uint8_t ha[SHA256_LEN];
    sha256(ha, "A", 1);
    ck_assert_uint_eq(f->decided_calls, 1);
    ck_assert(memcmp(f->decided_hash, ha, SHA256_LEN) == 0);
    /* its group signature, once stored, shows in the view from memory */
    struct duties_asker who = {0};
    duties_get(f->d, &who, ID.duty, ID.height);
    ck_assert(f->viewed == 1 && f->view.decided && !f->view.has_tss);
    struct tss_record rec = {.nsigners = 3, .signers = {0, 1, 3}, .sig = {2}};
    duties_set_tss(f->d, &ID, &rec);
    duties_get(f->d, &who, ID.duty, ID.height);
    ck_assert(f->view.has_tss && f->view.tss.nsigners == 3 && f->view.tss.signers[2] == 3);
    ck_assert_uint_eq(count_sent(f, QBFT_KIND_MSG, QBFT_DECIDED), 2);
    ck_assert_uint_eq(count_sent(f, QBFT_KIND_SEAL, 0), 1);
    for (size_t i = 0; i < f->nsent; i++)
        ck_assert(f->sent[i].kind == QBFT_KIND_SEAL ? f->sent[i].peer == P2P_BROADCAST
                                                    : f->sent[i].peer == 2 || f->sent[i].peer == 3);
    /* Once durable, answers leave at once. */
    struct qbft_body rc3 = body(&ID, QBFT_ROUND_CHANGE, 3, 3, NULL);
    ck_assert_int_eq(deliver(f, 3, &rc3, NULL, NULL, 0), QBFT_OK);
    ck_assert_uint_eq(count_sent(f, QBFT_KIND_MSG, QBFT_DECIDED), 3);
    fake_free(f);
}
END_TEST

/* StateDB holds another decided value: nothing is ever announced. */
START_TEST(decided_conflict_never_announced)
{
    struct fake *f = fake_new(NULL);
    up(f, false);
    accept_duty(f, 0, 7, "a");
    ck_assert_int_eq(deliver_decided(f, &ID, "A"), QBFT_OK);
    answer_status(f, pending(f, SDB_PUT_DECIDED), SDB_CONFLICT, true);
    ck_assert_str_eq(f->last_log, "consensus_block");
    struct qbft_body rc = body(&ID, QBFT_ROUND_CHANGE, 3, 2, NULL);
    ck_assert_int_eq(deliver(f, 3, &rc, NULL, NULL, 0), QBFT_OK);
    ck_assert_uint_eq(f->nsent, 0);
    fake_free(f);
}
END_TEST

/* ================= seals ================= */

START_TEST(seals_early_bad_merged)
{
    struct fake *f = fake_new(NULL);
    up(f, false);
    accept_duty(f, 0, 7, "a");
    struct buf s2 = BUF_INIT, s3 = BUF_INIT, bad = BUF_INIT, other = BUF_INIT;
    seal_of(f, 2, &ID, "A", &s2);
    deliver_seal(f, 2, &s2); /* before this node decided: held */
    deliver_seal(f, 2, &s2); /* once per operator */
    seal_of(f, 3, &ID, "A", &bad);
    bad.data[bad.len - 1] ^= 1; /* the signature no longer verifies */
    deliver_seal(f, 3, &bad);
    ck_assert_uint_eq(f->reports[DUTIES_REPORT_INVALID_SIG], 1);
    struct buf junk = BUF_INIT;
    buf_append(&junk, "\x91\x01", 2);
    deliver_seal(f, 3, &junk);
    buf_free(&junk);
    ck_assert_uint_eq(f->reports[DUTIES_REPORT_UNDECODABLE], 1);
    ck_assert_int_eq(deliver_decided(f, &ID, "A"), QBFT_OK);
    struct req *q = pending(f, SDB_PUT_DECIDED);
    ck_assert_uint_eq(q->seals, (1u << SELF) | (1u << 2)); /* own + the early one */
    ck_assert_uint_eq(count_sent(f, QBFT_KIND_SEAL, 0), 0);
    answer_status(f, q, SDB_OK, true);
    ck_assert_uint_eq(count_sent(f, QBFT_KIND_SEAL, 0), 1);
    /* The seal that left is this node's and verifies. */
    const struct sent *mine = NULL;
    for (size_t i = 0; i < f->nsent; i++)
        if (f->sent[i].kind == QBFT_KIND_SEAL)
            mine = &f->sent[i];
    ck_assert_ptr_nonnull(mine);
    struct seal out;
    ck_assert_int_eq(seal_decode(&out, mine->bytes.data, mine->bytes.len), 0);
    ck_assert_uint_eq(out.index, SELF);
    ck_assert(seal_verify(&out, f->cfg.qbft.lock_hash, f->pubkeys[SELF]));
    /* A late seal is merged into the record; one of another value is not. */
    seal_of(f, 3, &ID, "B", &other);
    deliver_seal(f, 3, &other);
    ck_assert_uint_eq(npending(f, SDB_PUT_DECIDED), 0);
    seal_of(f, 3, &ID, "A", &s3);
    deliver_seal(f, 3, &s3);
    q = pending(f, SDB_PUT_DECIDED);
    ck_assert_uint_eq(q->seals, (1u << SELF) | (1u << 2) | (1u << 3));
    answer_status(f, q, SDB_OK, true);
    /* The view shows the decision with its certificate and seals. */
    struct duties_asker who = {0};
    duties_get(f->d, &who, ID.duty, ID.height);
    ck_assert_int_eq(f->viewed, 1);
    ck_assert(f->view.decided && f->view.has_value && f->view.round == 1);
    ck_assert_uint_eq(f->view.ncert, 3);
    ck_assert_uint_eq(f->view.nseals, 3);
    buf_free(&s2);
    buf_free(&s3);
    buf_free(&bad);
    buf_free(&other);
    fake_free(f);
}
END_TEST

/* ================= reload ================= */

static struct sdb_intent intent_of(struct fake *f, const struct qbft_id *id, uint8_t type,
                                   uint64_t round, const char *value, struct buf *store)
{
    struct qbft_body b = body(id, type, SELF, round, value);
    craft(f, SELF, &b, type == QBFT_PRE_PREPARE ? value : NULL, NULL, 0, store);
    return (struct sdb_intent){{id->duty, id->height, (uint32_t)round, type},
                               {store->data, (uint32_t)store->len}};
}

/* Duties and intents come back page by page; each instance is rebuilt from its intents and
 * started again with its original start time; READY only once all of it is done. */
START_TEST(reload_pages_and_rebuilds)
{
    struct fake *f = fake_new(NULL);
    f->now = 100000;
    duties_start(f->d);
    answer_status(f, pending(f, SDB_HELLO), SDB_OK, true);
    struct sdb_duty d1 = {.dtype = 0, .height = 7, .payload = {(const uint8_t *)"a", 1}};
    struct sdb_duty d2 = {.dtype = 0, .height = 9, .payload = {(const uint8_t *)"b", 1}};
    d1.accepted_ms = f->wall + f->now - 2500; /* 2.5 s ago: round 2 by the schedule */
    d2.accepted_ms = f->wall + f->now;
    struct sdb_reply r = {.type = SDB_LIST_DUTIES_REP, .status = SDB_OK, .durable = true};
    r.u.list.n = 1;
    r.u.list.more = true;
    r.u.list.v.duties = &d1;
    answer(f, pending(f, SDB_LIST_DUTIES), &r);
    struct req *q = pending(f, SDB_LIST_DUTIES);
    ck_assert(q->r.u.list.has_after && q->r.u.list.height == 7 && q->r.u.list.undecided_only);
    r.u.list.more = false;
    r.u.list.v.duties = &d2;
    answer(f, q, &r);
    /* This node prepared "A" in round 1 of attester/9 (PREPARE, COMMIT intents). */
    struct qbft_id id9 = {0, 9};
    struct buf b1 = BUF_INIT, b2 = BUF_INIT;
    struct sdb_intent its[2] = {intent_of(f, &id9, QBFT_PREPARE, 1, "A", &b1),
                                intent_of(f, &id9, QBFT_ROUND_CHANGE, 2, NULL, &b2)};
    struct sdb_reply li = {.type = SDB_LOAD_INTENTS_REP, .status = SDB_OK, .durable = true};
    li.u.list.n = 1;
    li.u.list.more = true;
    li.u.list.v.intents = &its[0];
    answer(f, pending(f, SDB_LOAD_INTENTS), &li);
    ck_assert(!f->ready);
    q = pending(f, SDB_LOAD_INTENTS);
    ck_assert(q->r.u.load.has_after && q->r.u.load.after.height == 9);
    li.u.list.more = false;
    li.u.list.v.intents = &its[1];
    answer(f, q, &li);
    ck_assert(f->ready);
    struct qbft_info a = info_of(f, &ID), b = info_of(f, &id9);
    ck_assert_int_eq(a.status, QBFT_RUNNING);
    ck_assert_uint_eq(a.round, 2); /* its original start time: 2.5 s ago */
    ck_assert_int_eq(b.status, QBFT_RUNNING);
    ck_assert_uint_eq(b.round, 2); /* never lowered: its ROUND-CHANGE for 2 */
    /* What it said in its current round goes out again, as stored. */
    bool rc_out = false;
    for (size_t i = 0; i < f->nsent; i++)
        rc_out |= f->sent[i].type == QBFT_ROUND_CHANGE && f->sent[i].bytes.len == b2.len &&
                  memcmp(f->sent[i].bytes.data, b2.data, b2.len) == 0;
    ck_assert(rc_out);
    /* The reloaded intents are never signed again: a PRE-PREPARE for round 1 of 0/9 finds its
     * stored PREPARE (round 1 is past, and the stored vote stands). */
    ck_assert_uint_eq(npending(f, SDB_APPEND_INTENT), 1); /* only attester/7's round change */
    buf_free(&b1);
    buf_free(&b2);
    fake_free(f);
}
END_TEST

/* After StateDB fell back to a checkpoint: abstain from every instance up to the highest height
 * known plus the height window; new votes above it are cast. */
static void window_ten(struct fake *f)
{
    f->cfg.qbft.height_window = 10;
}

START_TEST(reload_fallback_abstains)
{
    struct fake *f = fake_new(window_ten);
    duties_start(f->d);
    struct sdb_reply h = {.type = SDB_HELLO_REP, .status = SDB_OK, .durable = true};
    h.u.hello.fallback = true;
    answer(f, pending(f, SDB_HELLO), &h);
    struct sdb_duty d1 = {.dtype = 0, .height = 7, .payload = {(const uint8_t *)"a", 1}};
    d1.accepted_ms = f->wall + f->now;
    struct sdb_reply r = {.type = SDB_LIST_DUTIES_REP, .status = SDB_OK, .durable = true};
    r.u.list.n = 1;
    r.u.list.v.duties = &d1;
    answer(f, pending(f, SDB_LIST_DUTIES), &r);
    empty_list(f, SDB_LOAD_INTENTS);
    ck_assert(info_of(f, &ID).abstain);
    accept_duty(f, 0, 17, "b"); /* 7 + 10: may have existed before the loss */
    ck_assert(info_of(f, &(struct qbft_id){0, 17}).abstain);
    accept_duty(f, 0, 18, "c");
    ck_assert(!info_of(f, &(struct qbft_id){0, 18}).abstain);
    /* A PRE-PREPARE for an abstained instance draws no vote. */
    struct qbft_body pp = body(&ID, QBFT_PRE_PREPARE, 0, 1, "A");
    ck_assert_int_eq(deliver(f, 0, &pp, "A", NULL, 0), QBFT_OK);
    ck_assert_uint_eq(npending(f, SDB_APPEND_INTENT), 0);
    fake_free(f);
}
END_TEST

/* A fallback reported while running (a HELLO probe after StateDB was away) makes the node
 * abstain from its undecided instances. */
START_TEST(fallback_while_running)
{
    struct fake *f = fake_new(NULL);
    up(f, false);
    accept_duty(f, 0, 7, "a");
    ck_assert(!info_of(f, &ID).abstain);
    ck_assert_int_eq(submit(f, 0, 8, "b"), -1);
    answer(f, pending(f, SDB_PUT_DUTY), NULL); /* StateDB is away */
    f->now += DUTIES_RETRY_MS;
    duties_tick(f->d);
    struct sdb_reply h = {.type = SDB_HELLO_REP, .status = SDB_OK, .durable = true};
    h.u.hello.fallback = true;
    answer(f, pending(f, SDB_HELLO), &h);
    ck_assert_str_eq(f->last_log, "qbft_wal/statedb_fallback");
    ck_assert(info_of(f, &ID).abstain);
    fake_free(f);
}
END_TEST

/* ================= views ================= */

START_TEST(views_memory_and_statedb)
{
    struct fake *f = fake_new(NULL);
    up(f, false);
    struct duties_asker who = {0};
    accept_duty(f, 0, 7, "a");
    duties_get(f->d, &who, 0, 7); /* running: its round, from memory */
    ck_assert_int_eq(f->viewed, 1);
    ck_assert(!f->view.decided && f->view.round == 1 && f->view.result == DUTY_ACCEPTED);
    ck_assert_uint_eq(npending(f, SDB_GET_DECIDED), 0);

    duties_get(f->d, &who, 1, 5); /* unknown here: StateDB's decided record */
    struct req *q = pending(f, SDB_GET_DECIDED);
    ck_assert(q && q->r.u.get.dtype == 1 && q->r.u.get.height == 5);
    struct sdb_seal seals[2] = {{.index = 0}, {.index = 3}};
    struct tss_record rec = {.nsigners = 3, .signers = {1, 2, 3}};
    struct buf rb = BUF_INIT;
    tss_record_encode(&rb, &rec);
    struct sdb_decided dd = {.dtype = 1,
                             .height = 5,
                             .round = 2,
                             .value = {(const uint8_t *)"V", 1},
                             .nseals = 2,
                             .seals = seals,
                             .tss = {rb.data, (uint32_t)rb.len}};
    struct sdb_reply r = {.type = SDB_GET_DECIDED_REP, .status = SDB_OK, .durable = true};
    r.u.decided.present = true;
    r.u.decided.d = dd;
    f->viewed = -1;
    answer(f, q, &r);
    ck_assert_int_eq(f->viewed, 1);
    ck_assert(f->view.decided && f->view.round == 2 && f->view.nseals == 2);
    ck_assert(f->view.has_tss && f->view.tss.signers[0] == 1); /* the record's signature */
    buf_free(&rb);
    uint8_t hv[SHA256_LEN];
    sha256(hv, "V", 1);
    ck_assert(memcmp(f->view.value_hash, hv, SHA256_LEN) == 0);

    duties_get(f->d, &who, 1, 6); /* not decided: is the duty known? */
    answer_status(f, pending(f, SDB_GET_DECIDED), SDB_NOT_FOUND, true);
    q = pending(f, SDB_GET_DUTY);
    ck_assert_ptr_nonnull(q);
    struct sdb_reply g = {.type = SDB_GET_DUTY_REP, .status = SDB_OK, .durable = true};
    g.u.duty.present = true;
    f->viewed = -1;
    answer(f, q, &g);
    ck_assert(f->viewed == 1 && !f->view.decided && f->view.result == DUTY_ACCEPTED);

    duties_get(f->d, &who, 1, 8);
    answer_status(f, pending(f, SDB_GET_DECIDED), SDB_NOT_FOUND, true);
    answer_status(f, pending(f, SDB_GET_DUTY), SDB_NOT_FOUND, true);
    ck_assert(f->viewed == 1 && f->view.result == DUTY_NOT_FOUND);

    duties_get(f->d, &who, 1, 9);
    answer(f, pending(f, SDB_GET_DECIDED), NULL);
    ck_assert_int_eq(f->viewed, 0); /* unavailable */
    f->down = true;
    f->viewed = -1;
    duties_get(f->d, &who, 1, 9);
    ck_assert_int_eq(f->viewed, 0);
    fake_free(f);
}
END_TEST

/* DUTY_RECENT: the instances in memory, the most recently started first, bounded. */
START_TEST(recent_newest_first)
{
    struct fake *f = fake_new(NULL);
    up(f, false);
    struct duty_brief out[DUTY_RECENT_MAX];
    ck_assert_uint_eq(duties_recent(f->d, out, DUTY_RECENT_MAX), 0);
    f->now = 1000;
    accept_duty(f, 0, 7, "a");
    f->now = 2000;
    accept_duty(f, 2, 3, "s");
    f->now = 3000;
    accept_duty(f, 0, 2, "b");
    ck_assert_int_eq(deliver_decided(f, &ID, "a"), QBFT_OK); /* attester/7 decides */
    f->now = 3500;
    size_t n = duties_recent(f->d, out, DUTY_RECENT_MAX);
    ck_assert_uint_eq(n, 3);
    static const uint8_t types[] = {0, 2, 0};
    static const uint64_t heights[] = {2, 3, 7}, ages[] = {500, 1500, 2500};
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(out[i].type, types[i]);
        ck_assert_uint_eq(out[i].height, heights[i]);
        ck_assert_uint_eq(out[i].age_ms, ages[i]);
        ck_assert_uint_eq(out[i].round, 1);
        ck_assert(out[i].decided == (i == 2));
    }
    ck_assert_uint_eq(duties_recent(f->d, out, 2), 2); /* bounded: the newest two */
    ck_assert_uint_eq(out[0].height, 2);
    ck_assert_uint_eq(out[1].height, 3);
    fake_free(f);
}
END_TEST

/* ================= pruning, lookups ================= */

static void retention_ten(struct fake *f)
{
    f->cfg.qbft.retention = 10;
}

/* Below the retention window an instance leaves memory (engine, intents, decided cache): GET
 * then asks StateDB, and its messages are old. */
START_TEST(prune_below_retention)
{
    struct fake *f = fake_new(retention_ten);
    up(f, false);
    accept_duty(f, 0, 7, "a");
    ck_assert_int_eq(deliver_decided(f, &ID, "A"), QBFT_OK);
    answer_status(f, pending(f, SDB_PUT_DECIDED), SDB_OK, true);
    accept_duty(f, 0, 30, "b");
    f->now += DUTIES_SWEEP_MS;
    duties_tick(f->d);
    ack_appends(f);
    ck_assert_int_eq(info_of(f, &ID).status, QBFT_UNKNOWN);
    struct duties_asker who = {0};
    duties_get(f->d, &who, 0, 7);
    ck_assert_ptr_nonnull(pending(f, SDB_GET_DECIDED));
    struct qbft_body rc = body(&ID, QBFT_ROUND_CHANGE, 3, 2, NULL);
    ck_assert_int_eq(deliver(f, 3, &rc, NULL, NULL, 0), QBFT_OLD);
    fake_free(f);
}
END_TEST

/* StateDB's decided record of id: value and the certificate of COMMITs by 0, 2 and 3. */
struct record {
    struct buf bodies[3], cert;
    uint8_t sigs[3][SIG_LEN];
    struct sdb_bytes cb;
    struct sdb_reply r;
};

static void record_of(struct fake *f, struct record *rec, const struct qbft_id *id,
                      const char *value)
{
    struct qbft_sigref j[3];
    const unsigned from[] = {0, 2, 3};
    for (unsigned i = 0; i < 3; i++) {
        struct qbft_body c = body(id, QBFT_COMMIT, from[i], 1, value);
        uint8_t digest[SHA256_LEN];
        rec->bodies[i] = (struct buf)BUF_INIT;
        qbft_body_encode(&rec->bodies[i], &c);
        qbft_signing_digest(digest, f->cfg.qbft.lock_hash, rec->bodies[i].data, rec->bodies[i].len);
        ecdsa_sign(&f->keys[from[i]], digest, rec->sigs[i]);
        j[i] = (struct qbft_sigref){rec->bodies[i].data, rec->bodies[i].len, rec->sigs[i]};
    }
    rec->cert = (struct buf)BUF_INIT;
    qbft_cert_encode(&rec->cert, j, 3);
    rec->cb = (struct sdb_bytes){rec->cert.data, (uint32_t)rec->cert.len};
    rec->r = (struct sdb_reply){.type = SDB_GET_DECIDED_REP, .status = SDB_OK, .durable = true};
    rec->r.u.decided.present = true;
    rec->r.u.decided.d = (struct sdb_decided){.dtype = id->duty,
                                              .height = id->height,
                                              .round = 1,
                                              .value = {(const uint8_t *)value, strlen(value)},
                                              .ncert = 1,
                                              .cert = &rec->cb};
}

static void record_free(struct record *rec)
{
    for (unsigned i = 0; i < 3; i++)
        buf_free(&rec->bodies[i]);
    buf_free(&rec->cert);
}

/* Decide id here from a peer's DECIDED; StateDB takes the record. */
static void decide(struct fake *f, const struct qbft_id *id, const char *value)
{
    accept_duty(f, id->duty, id->height, "p");
    ck_assert_int_eq(deliver_decided(f, id, value), QBFT_OK);
    answer_status(f, pending(f, SDB_PUT_DECIDED), SDB_OK, true);
}

static void keep_two(struct fake *f)
{
    f->cfg.qbft.decided_keep = 2;
}

/* At most decided_keep decided instances stay in memory, the oldest decision leaves first (in
 * the engine and here): GET then asks StateDB. */
START_TEST(decided_evicted_by_count)
{
    struct fake *f = fake_new(keep_two);
    up(f, false);
    const struct qbft_id a = {0, 7}, b = {0, 9}, c = {0, 8};
    decide(f, &a, "A");
    decide(f, &b, "B");
    ck_assert_int_eq(info_of(f, &a).status, QBFT_DECIDED_STATUS);
    decide(f, &c, "C");
    duties_tick(f->d);
    ck_assert_int_eq(info_of(f, &a).status, QBFT_UNKNOWN);
    ck_assert_int_eq(info_of(f, &b).status, QBFT_DECIDED_STATUS);
    ck_assert_int_eq(info_of(f, &c).status, QBFT_DECIDED_STATUS);
    struct qbft_stats st;
    qbft_stats(duties_engine(f->d), &st);
    ck_assert_uint_eq(st.decided, 2);
    struct duties_asker who = {0};
    duties_get(f->d, &who, 0, 9); /* from memory */
    ck_assert(f->viewed == 1 && f->view.decided);
    ck_assert_uint_eq(npending(f, SDB_GET_DECIDED), 0);
    f->viewed = -1;
    duties_get(f->d, &who, 0, 7); /* from StateDB */
    ck_assert_int_eq(f->viewed, -1);
    ck_assert_uint_eq(pending(f, SDB_GET_DECIDED)->r.u.get.height, 7);
    fake_free(f);
}
END_TEST

static void keep_one_second(struct fake *f)
{
    f->cfg.qbft.decided_keep_ms = 1000;
}

/* A decided instance leaves memory decided_keep_ms after its decision, whatever the count. */
START_TEST(decided_evicted_by_age)
{
    struct fake *f = fake_new(keep_one_second);
    up(f, false);
    decide(f, &ID, "A");
    f->now += 999;
    duties_tick(f->d);
    ck_assert_int_eq(info_of(f, &ID).status, QBFT_DECIDED_STATUS);
    struct duties_asker who = {0};
    duties_get(f->d, &who, ID.duty, ID.height);
    ck_assert(f->viewed == 1 && f->view.decided);
    f->now += 1;
    duties_tick(f->d);
    ck_assert_int_eq(info_of(f, &ID).status, QBFT_UNKNOWN);
    f->viewed = -1;
    duties_get(f->d, &who, ID.duty, ID.height);
    ck_assert_int_eq(f->viewed, -1);
    ck_assert_ptr_nonnull(pending(f, SDB_GET_DECIDED));
    fake_free(f);
}
END_TEST

static void keep_one(struct fake *f)
{
    f->cfg.qbft.decided_keep = 1;
}

/* A late peer changing rounds in an instance evicted from memory gets its DECIDED from the
 * record in StateDB. */
START_TEST(evicted_decision_answers_late_peer)
{
    struct fake *f = fake_new(keep_one);
    up(f, false);
    const struct qbft_id next = {0, 8};
    decide(f, &ID, "A");
    decide(f, &next, "B");
    duties_tick(f->d);
    ck_assert_int_eq(info_of(f, &ID).status, QBFT_UNKNOWN);
    struct qbft_body rc = body(&ID, QBFT_ROUND_CHANGE, 3, 2, NULL);
    ck_assert_int_eq(deliver(f, 3, &rc, NULL, NULL, 0), QBFT_BUFFERED);
    struct req *q = pending(f, SDB_GET_DECIDED);
    ck_assert(q && q->r.u.get.height == 7);
    struct record rec;
    record_of(f, &rec, &ID, "A");
    size_t before = count_sent(f, QBFT_KIND_MSG, QBFT_DECIDED);
    answer(f, q, &rec.r);
    ck_assert_int_eq(info_of(f, &ID).status, QBFT_DECIDED_STATUS);
    struct qbft_body rc3 = body(&ID, QBFT_ROUND_CHANGE, 3, 3, NULL);
    ck_assert_int_eq(deliver(f, 3, &rc3, NULL, NULL, 0), QBFT_OK);
    ck_assert_uint_eq(count_sent(f, QBFT_KIND_MSG, QBFT_DECIDED), before + 1);
    record_free(&rec);
    fake_free(f);
}
END_TEST

/* The same duty posted again after its decision left memory: StateDB's record brings the
 * decision back and the instance does not run a second time (no new vote is signed). */
START_TEST(repost_of_evicted_decision)
{
    struct fake *f = fake_new(keep_one);
    up(f, false);
    const struct qbft_id next = {0, 8};
    decide(f, &ID, "A");
    decide(f, &next, "B");
    duties_tick(f->d);
    ck_assert_int_eq(info_of(f, &ID).status, QBFT_UNKNOWN);
    ck_assert_int_eq(submit(f, 0, 7, "p"), -1);
    answer_status(f, pending(f, SDB_PUT_DUTY), SDB_DUPLICATE, true);
    ck_assert_int_eq(f->submitted, -1); /* first: is it decided? */
    struct req *q = pending(f, SDB_GET_DECIDED);
    ck_assert(q && q->r.u.get.height == 7);
    struct record rec;
    record_of(f, &rec, &ID, "A");
    size_t appends = npending(f, SDB_APPEND_INTENT);
    answer(f, q, &rec.r);
    ck_assert_int_eq(f->submitted, DUTY_ACCEPTED);
    ck_assert_int_eq(info_of(f, &ID).status, QBFT_DECIDED_STATUS);
    f->now += 5 * f->cfg.qbft.round_timeout_ms;
    duties_tick(f->d);
    ck_assert_uint_eq(npending(f, SDB_APPEND_INTENT), appends);
    /* Not decided in StateDB: the duty starts as usual. */
    const struct qbft_id other = {0, 9};
    ck_assert_int_eq(submit(f, 0, 9, "p"), -1);
    answer_status(f, pending(f, SDB_PUT_DUTY), SDB_DUPLICATE, true);
    answer_status(f, pending(f, SDB_GET_DECIDED), SDB_OK, true);
    ck_assert_int_eq(f->submitted, DUTY_ACCEPTED);
    ck_assert_int_eq(info_of(f, &other).status, QBFT_RUNNING);
    record_free(&rec);
    fake_free(f);
}
END_TEST

static void fast_rounds(struct fake *f)
{
    f->cfg.qbft.round_timeout_ms = 100;
    f->cfg.qbft.round_timeout_max_ms = 100;
}

/* An instance that cannot decide changes rounds for as long as it lives: only the intents of
 * its last round_window rounds stay in memory (the others are in StateDB's WAL). */
START_TEST(stuck_instance_intents_bounded)
{
    struct fake *f = fake_new(fast_rounds);
    up(f, false);
    accept_duty(f, 0, 7, "a"); /* leader of round 1 is node 0: nobody proposes */
    for (int i = 0; i < 40; i++) {
        f->now += 100;
        duties_tick(f->d);
        ack_appends(f);
    }
    ck_assert_uint_ge(duties_intents_held(f->d), 30);
    f->now += DUTIES_SWEEP_MS;
    duties_tick(f->d);
    ack_appends(f);
    struct qbft_info in = info_of(f, &ID);
    ck_assert_int_eq(in.status, QBFT_RUNNING);
    ck_assert_uint_gt(in.round, 40);
    ck_assert_uint_le(duties_intents_held(f->d), f->cfg.qbft.round_window + 1);
    fake_free(f);
}
END_TEST

/* A peer changing rounds in an instance this node decided but no longer holds: the decision
 * comes back from StateDB once (durable by definition), and the next ROUND-CHANGE is answered. */
START_TEST(lookup_decided_answers_laggard)
{
    struct fake *f = fake_new(NULL);
    up(f, false);
    accept_duty(f, 0, 3, "x"); /* something started: heights near 7 are in the window */
    struct qbft_body rc = body(&ID, QBFT_ROUND_CHANGE, 3, 2, NULL);
    ck_assert_int_eq(deliver(f, 3, &rc, NULL, NULL, 0), QBFT_BUFFERED);
    struct req *q = pending(f, SDB_GET_DECIDED);
    ck_assert(q && q->r.u.get.height == 7);
    /* The record: value and the certificate of three COMMITs. */
    struct buf bodies[3];
    uint8_t sigs[3][SIG_LEN];
    struct qbft_sigref j[3];
    const unsigned from[] = {0, 2, 3};
    for (unsigned i = 0; i < 3; i++) {
        struct qbft_body c = body(&ID, QBFT_COMMIT, from[i], 1, "A");
        uint8_t digest[SHA256_LEN];
        bodies[i] = (struct buf)BUF_INIT;
        qbft_body_encode(&bodies[i], &c);
        qbft_signing_digest(digest, f->cfg.qbft.lock_hash, bodies[i].data, bodies[i].len);
        ecdsa_sign(&f->keys[from[i]], digest, sigs[i]);
        j[i] = (struct qbft_sigref){bodies[i].data, bodies[i].len, sigs[i]};
    }
    struct buf cert = BUF_INIT;
    qbft_cert_encode(&cert, j, 3);
    struct sdb_bytes cb = {cert.data, (uint32_t)cert.len};
    struct sdb_reply r = {.type = SDB_GET_DECIDED_REP, .status = SDB_OK, .durable = true};
    r.u.decided.present = true;
    r.u.decided.d = (struct sdb_decided){
        .dtype = 0, .height = 7, .round = 1, .value = {(const uint8_t *)"A", 1}, .ncert = 1};
    r.u.decided.d.cert = &cb;
    answer(f, q, &r);
    ck_assert_int_eq(info_of(f, &ID).status, QBFT_DECIDED_STATUS);
    struct qbft_body rc3 = body(&ID, QBFT_ROUND_CHANGE, 3, 3, NULL);
    ck_assert_int_eq(deliver(f, 3, &rc3, NULL, NULL, 0), QBFT_OK);
    ck_assert_uint_eq(count_sent(f, QBFT_KIND_MSG, QBFT_DECIDED), 1);
    /* Looked up once per instance. */
    struct qbft_id id11 = {0, 11};
    struct qbft_body rc11 = body(&id11, QBFT_ROUND_CHANGE, 3, 2, NULL);
    ck_assert_int_eq(deliver(f, 3, &rc11, NULL, NULL, 0), QBFT_BUFFERED);
    answer_status(f, pending(f, SDB_GET_DECIDED), SDB_NOT_FOUND, true);
    struct qbft_body rc11b = body(&id11, QBFT_ROUND_CHANGE, 2, 2, NULL);
    ck_assert_int_eq(deliver(f, 2, &rc11b, NULL, NULL, 0), QBFT_BUFFERED);
    ck_assert_uint_eq(npending(f, SDB_GET_DECIDED), 0);
    for (unsigned i = 0; i < 3; i++)
        buf_free(&bodies[i]);
    buf_free(&cert);
    fake_free(f);
}
END_TEST

/* ================= the sequencer's hooks ================= */

static void builder_proposer(struct fake *f)
{
    f->cfg.builder_duties = 1u << DUTY_PROPOSER;
}

/* Proposer instances start when the builder brings the input and prepare a proposal only once
 * the builder found it valid; attester duties use their payload and take every proposal. */
START_TEST(builder_hooks)
{
    struct fake *f = fake_new(builder_proposer);
    f->validity = QBFT_VALUE_PENDING;
    up(f, false);
    struct qbft_id p = {DUTY_PROPOSER, 6}; /* leader of round 1: (6 + 1 + 1) % 4 = 0 */
    accept_duty(f, DUTY_PROPOSER, 6, "slot");
    ck_assert_uint_eq(f->want_input, 1);
    ck_assert_int_ne(info_of(f, &p).status, QBFT_RUNNING);
    accept_duty(f, DUTY_PROPOSER, 6, "slot"); /* a re-post asks nothing more */
    ck_assert_uint_eq(f->want_input, 1);
    ck_assert_int_eq(duties_input(f->d, &(struct qbft_id){DUTY_PROPOSER, 5}, NULL, 0), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(duties_input(f->d, &p, (const uint8_t *)"block", 5), 0);
    ck_assert_int_eq(info_of(f, &p).status, QBFT_RUNNING);
    ck_assert_int_eq(duties_input(f->d, &p, (const uint8_t *)"block", 5), -1);

    struct qbft_body pp = body(&p, QBFT_PRE_PREPARE, 0, 1, "their block");
    ck_assert_int_eq(deliver(f, 0, &pp, "their block", NULL, 0), QBFT_OK);
    ck_assert_uint_eq(f->validated, 1);
    ck_assert_uint_eq(npending(f, SDB_APPEND_INTENT), 0); /* no PREPARE while pending */
    uint8_t h[SHA256_LEN];
    sha256(h, "their block", 11);
    ck_assert_int_eq(duties_value_checked(f->d, &p, h, true), 0);
    struct req *q = pending(f, SDB_APPEND_INTENT);
    ck_assert(q && q->r.u.append.k.mtype == QBFT_PREPARE);

    accept_duty(f, 0, 7, "a"); /* attester: no hooks */
    ck_assert_uint_eq(f->want_input, 1);
    ck_assert_int_eq(info_of(f, &ID).status, QBFT_RUNNING);
    struct qbft_body pa = body(&ID, QBFT_PRE_PREPARE, 0, 1, "A");
    ck_assert_int_eq(deliver(f, 0, &pa, "A", NULL, 0), QBFT_OK);
    ck_assert_uint_eq(f->validated, 1);
    ck_assert_uint_eq(npending(f, SDB_APPEND_INTENT), 2);
    fake_free(f);
}
END_TEST

static void block_proposer(struct fake *f)
{
    f->cfg.builder_duties = f->cfg.block_duties = 1u << DUTY_PROPOSER;
}

/* An empty block of this height on parent (proto/block.h). */
static void block_on(struct buf *out, uint64_t height, const uint8_t parent[SHA256_LEN])
{
    struct block_header h = {.height = height, .proposer = SELF};
    memcpy(h.parent_hash, parent, SHA256_LEN);
    buf_reset(out);
    block_encode_begin(out, &h, 0);
}

static bool input_is(struct fake *f, const struct qbft_id *id, const struct buf *block)
{
    uint8_t h[SHA256_LEN];
    sha256(h, block->data, block->len);
    const struct qinst *in = qinst_find(duties_engine(f->d), id);
    return in && in->has_input && memcmp(in->input.hash, h, SHA256_LEN) == 0;
}

/* Block instances start lowest first: one with a lower instance still running above the head
 * waits, unbuilt and not started (its round schedule has not begun), until the head moves past
 * the lower one or the lower one expires; then it is built on the new head and starts at round 1.
 * One that went past the head while waiting is dropped. */
START_TEST(block_instances_wait_for_the_lower_one)
{
    struct fake *f = fake_new(block_proposer);
    up(f, false);
    uint8_t h10[SHA256_LEN], h12[SHA256_LEN], h14[SHA256_LEN];
    sha256(h10, "block 10", 8);
    sha256(h12, "block 12", 8);
    sha256(h14, "block 14", 8);
    duties_head(f->d, 10, h10, false);
    struct qbft_id p12 = {DUTY_PROPOSER, 12}, p13 = {DUTY_PROPOSER, 13}, p14 = {DUTY_PROPOSER, 14},
                   p15 = {DUTY_PROPOSER, 15};
    struct buf b = BUF_INIT;

    accept_duty(f, DUTY_PROPOSER, 12, "null");
    ck_assert_uint_eq(f->want_input, 1);
    block_on(&b, 12, h10);
    ck_assert_int_eq(duties_input(f->d, &p12, b.data, b.len), 0);
    ck_assert_int_eq(info_of(f, &p12).status, QBFT_RUNNING);
    accept_duty(f, DUTY_PROPOSER, 14, "null");
    accept_duty(f, DUTY_PROPOSER, 13, "null");
    ck_assert_uint_eq(f->want_input, 1); /* 13 and 14 wait for 12 */
    ck_assert_int_ne(info_of(f, &p13).status, QBFT_RUNNING);
    ck_assert_int_ne(info_of(f, &p14).status, QBFT_RUNNING);
    ck_assert_int_eq(duties_input(f->d, &p13, b.data, b.len), -1); /* nothing asked */

    f->now += 10 * 60000;              /* waiting instances do not expire */
    duties_head(f->d, 12, h12, false); /* 12 decided: 13 is next, 14 still waits */
    ck_assert_uint_eq(f->want_input, 2);
    block_on(&b, 13, h12);
    ck_assert_int_eq(duties_input(f->d, &p13, b.data, b.len), 0);
    ck_assert(input_is(f, &p13, &b));
    struct qbft_info i13 = info_of(f, &p13);
    ck_assert_int_eq(i13.status, QBFT_RUNNING);
    ck_assert_uint_eq(i13.round, 1); /* a fresh schedule, not one that began 10 minutes ago */
    ck_assert_int_ne(info_of(f, &p14).status, QBFT_RUNNING);

    accept_duty(f, DUTY_PROPOSER, 15, "null");
    ck_assert_uint_eq(f->want_input, 2);
    f->now += 60000 + DUTIES_SWEEP_MS; /* 13 expires: 14 goes (it did not expire waiting) */
    duties_tick(f->d);
    ck_assert_uint_eq(f->want_input, 3);
    block_on(&b, 14, h12);
    ck_assert_int_eq(duties_input(f->d, &p14, b.data, b.len), 0);
    ck_assert_int_eq(info_of(f, &p14).status, QBFT_RUNNING);

    duties_head(f->d, 15, h14, false); /* caught up past 15: it is never started */
    ck_assert_uint_eq(f->want_input, 3);
    ck_assert_int_ne(info_of(f, &p15).status, QBFT_RUNNING);
    buf_free(&b);
    fake_free(f);
}
END_TEST

/* A block instance's input is the block the builder built on its head at the start; when the
 * head moves past that block's parent (a lower slot decided late, or catch-up), no one can vote
 * for it any more: the builder is asked for a new one, which becomes the engine's input. An
 * instance that joined without a block (the builder was behind) gets one the same way; nothing is
 * asked while the builder reports itself behind. A builder that had no block to give is asked
 * again at its next SLOT. */
START_TEST(block_inputs_follow_the_head)
{
    struct fake *f = fake_new(block_proposer);
    up(f, false);
    uint8_t h10[SHA256_LEN], h11[SHA256_LEN], h12[SHA256_LEN];
    sha256(h10, "block 10", 8);
    sha256(h11, "block 11", 8);
    sha256(h12, "block 12", 8);
    duties_head(f->d, 10, h10, false);
    struct qbft_id p13 = {DUTY_PROPOSER, 13};
    struct buf b = BUF_INIT;

    accept_duty(f, DUTY_PROPOSER, 13, "null");
    ck_assert_uint_eq(f->want_input, 1);
    ck_assert_int_eq(duties_input(f->d, &p13, NULL, 0), 0); /* joined: the builder was behind */
    ck_assert_int_eq(info_of(f, &p13).status, QBFT_RUNNING);

    duties_head(f->d, 11, h11, true); /* behind: nothing asked */
    ck_assert_uint_eq(f->want_input, 1);
    duties_head(f->d, 11, h11, false); /* caught up: a block on 11 */
    ck_assert_uint_eq(f->want_input, 2);
    duties_head(f->d, 11, h11, false); /* asked already */
    ck_assert_uint_eq(f->want_input, 2);
    block_on(&b, 13, h11);
    ck_assert_int_eq(duties_input(f->d, &p13, b.data, b.len), 0);
    ck_assert(input_is(f, &p13, &b));
    ck_assert_int_eq(duties_input(f->d, &p13, b.data, b.len), -1); /* nothing asked now */
    ck_assert_int_eq(errno, ENOENT);
    duties_head(f->d, 11, h11, false); /* no move */
    ck_assert_uint_eq(f->want_input, 2);

    duties_head(f->d, 12, h12, false); /* 12 decided elsewhere: 13's block is stale */
    ck_assert_uint_eq(f->want_input, 3);
    ck_assert_int_eq(duties_input(f->d, &p13, NULL, 0), 0); /* the builder had none: kept */
    ck_assert(input_is(f, &p13, &b));
    duties_slot(f->d, 20); /* the builder holds pending txs again: 13 is asked again */
    ck_assert_uint_ge(f->want_input, 4);
    block_on(&b, 13, h12);
    ck_assert_int_eq(duties_input(f->d, &p13, b.data, b.len), 0);
    ck_assert(input_is(f, &p13, &b));
    buf_free(&b);
    fake_free(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("qbft_duties");
    TCase *a = tcase_create("admission");
    tcase_add_test(a, admission_heights);
    tcase_add_test(a, admission_open_cap_and_expiry);
    tcase_add_test(a, admission_unavailable_and_conflict);
    suite_add_tcase(s, a);
    TCase *w = tcase_create("wal");
    tcase_add_test(w, wal_before_send);
    tcase_add_test(w, decided_waits_for_durable_record);
    tcase_add_test(w, decided_conflict_never_announced);
    tcase_add_test(w, seals_early_bad_merged);
    suite_add_tcase(s, w);
    TCase *r = tcase_create("reload");
    tcase_add_test(r, reload_pages_and_rebuilds);
    tcase_add_test(r, reload_fallback_abstains);
    tcase_add_test(r, fallback_while_running);
    suite_add_tcase(s, r);
    TCase *v = tcase_create("views");
    tcase_add_test(v, views_memory_and_statedb);
    tcase_add_test(v, recent_newest_first);
    tcase_add_test(v, prune_below_retention);
    tcase_add_test(v, lookup_decided_answers_laggard);
    tcase_add_test(v, decided_evicted_by_count);
    tcase_add_test(v, decided_evicted_by_age);
    tcase_add_test(v, evicted_decision_answers_late_peer);
    tcase_add_test(v, repost_of_evicted_decision);
    tcase_add_test(v, stuck_instance_intents_bounded);
    tcase_add_test(v, builder_hooks);
    tcase_add_test(v, block_inputs_follow_the_head);
    tcase_add_test(v, block_instances_wait_for_the_lower_one);
    suite_add_tcase(s, v);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
