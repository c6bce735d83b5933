/*
 * tss_link: the threshold-signing sessions (tss.h) mapped onto the node:
 *
 *   duties --decided (durable)-->  tss_decided
 *   P2P --P2P_DELIVER on aequa/tss/v1-->  tss_deliver;  send --P2P_SEND-->  P2P (aequa/tss/v1)
 *   report --P2P_REPORT-->  the P2P Score gate (a bad share or signature, a malformed message)
 *   store --SET_TSS-->  StateDB (the decided record's tss field) --> duties_set_tss (views)
 *   lookup --GET_DECIDED-->  StateDB --> tss_lookup_done
 *   one ev_timer, re-armed from tss_next_deadline() before the loop blocks --> tss_tick
 *
 * The share is read before privileges drop and wiped at stop; nonces come from random_bytes()
 * (the kernel's generator) and never leave the sessions' memory.
 *
 * StateDB answers SET_TSS with CONFLICT when it holds another valid signature of the instance
 * (two attempts both finished): the first stays; the second is logged (store_conflict), not
 * counted again (its session was counted ok). A SET_TSS that gets no answer is sent again, at most
 * STORE_TRIES times.
 *
 * Test builds (AEQUA_TEST_TOOLS) only: AEQUA_TEST_TSS_BYZANTINE=bad_share makes this node send
 * every signature share with one bit of z flipped, so that coordinators name it.
 */
#include "workers/qbft/tss_link.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "proto/p2p.h"
#include "proto/statedb.h"
#include "proto/workers.h"
#include "workers/qbft/tss.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define SDB_TIMEOUT_MS 2000
#define STORE_TRIES    3

static struct {
    struct worker *w;
    struct duties *d;
    struct tss *t;
    struct tss_config cfg; /* the share until tss_link_init, then wiped */
    ev_timer timer;
    ev_prepare arm;
#ifdef AEQUA_TEST_TOOLS
    bool bad_share; /* AEQUA_TEST_TSS_BYZANTINE=bad_share */
#endif
} T;

static void config_error(const char *err)
{
    log_error("config_error", LS("err", err));
    exit(EXIT_CONFIG);
}

/* ---------------------------------------------------------------- the sessions' host */

static uint64_t h_mono_ms(void *ctx)
{
    (void)ctx;
    return now_ms();
}

static void h_random(void *ctx, uint8_t *out, size_t n)
{
    (void)ctx;
    random_bytes(out, n);
}

#ifdef AEQUA_TEST_TOOLS
#define BYZANTINE_ENV "AEQUA_TEST_TSS_BYZANTINE"

/* A SHARE leaves with one bit of z flipped. */
static void corrupt_share(struct buf *b)
{
    struct tss_msg m;
    if (tss_msg_decode(&m, b->data, b->len) < 0 || m.kind != TSS_SHARE)
        return;
    m.z[FROST_SCALAR_LEN - 1] ^= 1;
    buf_reset(b);
    tss_msg_encode(b, &m);
    log_warn("tss_session", LS("event", "byzantine_share"), LS("duty", duty_type_name(m.dtype)),
             LU("height", m.height), LU("attempt", m.attempt));
}
#endif

static void h_send(void *ctx, uint32_t peer, const uint8_t *bytes, size_t len)
{
    (void)ctx;
    struct buf payload = BUF_INIT, body = BUF_INIT;
    buf_append(&payload, bytes, len);
#ifdef AEQUA_TEST_TOOLS
    if (T.bad_share)
        corrupt_share(&payload);
#endif
    struct p2p_msg m = {.peer = peer,
                        .topic = P2P_TOPIC_TSS,
                        .payload = payload.data,
                        .len = (uint32_t)payload.len};
    p2p_msg_encode(&body, &m);
    int rc = mailbox_send(T.w->mb, W_P2P, P2P_SEND, body.data, body.len);
    if (rc < 0)
        log_debug("p2p_send", LS("topic", "aequa/tss/v1"), LS("err", strerror(-rc)));
    buf_free(&payload);
    buf_free(&body);
}

static const enum p2p_report reports[] = {
    [TSS_REPORT_INVALID] = P2P_REPORT_INVALID_SIG,
    [TSS_REPORT_UNDECODABLE] = P2P_REPORT_UNDECODABLE,
};

static void h_report(void *ctx, unsigned peer, enum tss_report why)
{
    (void)ctx;
    struct buf b = BUF_INIT;
    p2p_event_encode(&b, peer, reports[why]);
    mailbox_send(T.w->mb, W_P2P, P2P_REPORT, b.data, b.len);
    buf_free(&b);
}

struct store_req {
    struct qbft_id id;
    struct tss_record rec;
    unsigned tries;
};

static void store_send(struct store_req *s);

static void on_stored(struct mailbox *mb, int status, const struct envelope *env, void *token)
{
    (void)mb;
    struct store_req *s = token;
    struct sdb_reply r;
    if (status != 0 || sdb_reply_decode(&r, env->type, env->body, env->body_len) < 0 ||
        r.status == SDB_ERROR) {
        if (s->tries < STORE_TRIES) {
            store_send(s);
            return;
        }
        log_warn("tss_session", LS("event", "store_failed"), LS("duty", duty_type_name(s->id.duty)),
                 LU("height", s->id.height), LS("err", "StateDB did not take the signature"));
    } else if (r.status == SDB_CONFLICT) {
        log_info("tss_session", LS("event", "store_conflict"),
                 LS("duty", duty_type_name(s->id.duty)), LU("height", s->id.height),
                 LS("effect", "another valid signature is stored for this instance: kept"));
    } else if (r.status == SDB_NOT_FOUND) {
        log_warn("tss_session", LS("event", "store_failed"), LS("duty", duty_type_name(s->id.duty)),
                 LU("height", s->id.height), LS("err", "no decided record"));
    } else {
        duties_set_tss(T.d, &s->id, &s->rec);
    }
    free(s);
}

static void store_send(struct store_req *s)
{
    struct buf rec = BUF_INIT, body = BUF_INIT;
    tss_record_encode(&rec, &s->rec);
    struct sdb_req r = {.type = SDB_SET_TSS};
    r.u.set_tss.dtype = s->id.duty;
    r.u.set_tss.height = s->id.height;
    r.u.set_tss.tss = (struct sdb_bytes){rec.data, (uint32_t)rec.len};
    sdb_req_encode(&body, &r);
    s->tries++;
    if (mailbox_request(T.w->mb, W_STATEDB, SDB_SET_TSS, SDB_SET_TSS_REP, body.data, body.len,
                        SDB_TIMEOUT_MS, on_stored, s) < 0) {
        log_warn("tss_session", LS("event", "store_failed"), LS("duty", duty_type_name(s->id.duty)),
                 LU("height", s->id.height), LS("err", "StateDB unreachable"));
        free(s);
    }
    buf_free(&rec);
    buf_free(&body);
}

static void h_store(void *ctx, uint8_t dtype, uint64_t height, const struct tss_record *rec)
{
    (void)ctx;
    struct store_req *s = xcalloc(1, sizeof(*s));
    s->id = (struct qbft_id){dtype, height};
    s->rec = *rec;
    store_send(s);
}

static void on_looked_up(struct mailbox *mb, int status, const struct envelope *env, void *token)
{
    (void)mb;
    struct qbft_id *id = token;
    struct sdb_reply r;
    if (T.t && status == 0 && sdb_reply_decode(&r, env->type, env->body, env->body_len) == 0) {
        const struct sdb_decided *dd = &r.u.decided.d;
        struct tss_record rec;
        bool decided = r.status == SDB_OK && r.u.decided.present;
        bool has_rec =
            decided && dd->tss.len > 0 && tss_record_decode(&rec, dd->tss.p, dd->tss.len) == 0;
        uint8_t value_hash[SHA256_LEN] = {0};
        if (decided)
            sha256(value_hash, dd->value.p, dd->value.len);
        tss_lookup_done(T.t, id->duty, id->height, decided, decided ? dd->round : 0, value_hash,
                        has_rec ? &rec : NULL);
        sdb_reply_free(&r);
    }
    free(id);
}

static void h_lookup(void *ctx, uint8_t dtype, uint64_t height)
{
    (void)ctx;
    struct qbft_id *id = xcalloc(1, sizeof(*id));
    *id = (struct qbft_id){dtype, height};
    struct buf b = BUF_INIT;
    struct sdb_req r = {.type = SDB_GET_DECIDED};
    r.u.get.dtype = dtype;
    r.u.get.height = height;
    sdb_req_encode(&b, &r);
    if (mailbox_request(T.w->mb, W_STATEDB, SDB_GET_DECIDED, SDB_GET_DECIDED_REP, b.data, b.len,
                        SDB_TIMEOUT_MS, on_looked_up, id) < 0)
        free(id);
    buf_free(&b);
}

static void h_log(void *ctx, enum log_level level, const char *event, const struct log_kv *kv)
{
    (void)ctx;
    log_kv_at(level, event, kv);
}

static const struct tss_host host = {
    .mono_ms = h_mono_ms,
    .random = h_random,
    .send = h_send,
    .report = h_report,
    .store = h_store,
    .lookup = h_lookup,
    .log = h_log,
};

/* ---------------------------------------------------------------- timer */

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    if (T.t)
        tss_tick(T.t);
}

static void on_prepare(struct ev_loop *loop, ev_prepare *p, int revents)
{
    (void)p;
    (void)revents;
    uint64_t next = T.t ? tss_next_deadline(T.t) : UINT64_MAX, now = now_ms();
    ev_timer_stop(loop, &T.timer);
    if (next == UINT64_MAX)
        return;
    ev_timer_set(&T.timer, next > now ? (double)(next - now) / 1000.0 : 0.0, 0);
    ev_timer_start(loop, &T.timer);
}

/* ---------------------------------------------------------------- lifecycle */

void tss_link_preinit(struct worker *w, const struct lock *lock)
{
    char err[1024];
    if (!w->cfg.tss_enabled)
        return;
    if (!lock->has_tss)
        config_error("--enable-tss: the cluster lock has no tss object (create the cluster "
                     "with aequactl cluster create --tss)");
    if (tss_key_load(T.cfg.share, w->cfg.tss_key, err, sizeof(err)) < 0 ||
        lock_check_tss_share(lock, w->cfg.index, T.cfg.share, err, sizeof(err)) < 0)
        config_error(err);
}

void tss_link_init(struct worker *w, const struct lock *lock, struct duties *d)
{
    char err[256];
    T.w = w;
    T.d = d;
    if (!w->cfg.tss_enabled)
        return;
    T.cfg.n = lock->n;
    T.cfg.t = lock->threshold;
    T.cfg.self = (unsigned)w->cfg.index;
    memcpy(T.cfg.lock_hash, lock->hash, SHA256_LEN);
    memcpy(T.cfg.group_pub, lock->tss_group_pub, FROST_POINT_LEN);
    for (unsigned i = 0; i < lock->n; i++)
        memcpy(T.cfg.vshares[i], lock->tss_vshares[i], FROST_POINT_LEN);
    T.cfg.attempt_ms = TSS_ATTEMPT_MS;
    T.cfg.max_sessions = TSS_MAX_SESSIONS;
    T.t = tss_new(&T.cfg, &host, err, sizeof(err));
    OPENSSL_cleanse(T.cfg.share, sizeof(T.cfg.share));
    if (!T.t)
        config_error(err);
#ifdef AEQUA_TEST_TOOLS
    const char *byz = getenv(BYZANTINE_ENV);
    if (byz && strcmp(byz, "bad_share") != 0)
        config_error(BYZANTINE_ENV ": expected bad_share");
    T.bad_share = byz != NULL;
    if (byz)
        log_warn("tss_session", LS("event", "byzantine"), LS("mode", byz));
#endif
    ev_timer_init(&T.timer, on_timer, 0, 0);
    ev_prepare_init(&T.arm, on_prepare);
    ev_prepare_start(w->loop, &T.arm);
}

void tss_link_stop(void)
{
    OPENSSL_cleanse(T.cfg.share, sizeof(T.cfg.share));
    tss_free(T.t); /* wipes its nonces and its copy of the share */
    T.t = NULL;
}

void tss_link_decided(void *ctx, const struct qbft_id *id, uint64_t round,
                      const uint8_t value_hash[SHA256_LEN])
{
    (void)ctx;
    if (T.t)
        tss_decided(T.t, id->duty, id->height, round, value_hash);
}

void tss_link_deliver(unsigned peer, const uint8_t *bytes, size_t len)
{
    if (T.t)
        tss_deliver(T.t, peer, bytes, len);
}
