/*
 * statedb_client: appends vote intents to a running node's StateDB worker over IPC, like QBFT
 * does, while a test kills that worker at random moments; then checks what it was promised.
 *
 *   statedb_client RUNTIME_DIR INFLIGHT [SECONDS]
 *
 * With SECONDS it is a benchmark instead: appends for that long, prints "appends_per_s=X" and
 * exits without the check.
 *
 * It keeps INFLIGHT appends outstanding (key i -> deterministic pseudo-random bytes of varying
 * length). An append whose reply says OK or DUPLICATE with durable=true is acknowledged; a
 * timeout (the worker died) is retried with the same bytes. On SIGTERM it stops appending, waits
 * for the worker to answer again and reads every intent back with LOAD_INTENTS: every
 * acknowledged append must be present and byte-identical, and every stored intent must be exactly
 * the bytes sent for its key (no partial or foreign record). Prints one summary line and exits 0,
 * or 1 naming the first violation.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/mailbox.h"
#include "lib/log.h"
#include "lib/util.h"
#include "proto/statedb.h"
#include "proto/workers.h"

#define MAX_KEYS   200000
#define TIMEOUT_MS 400

static struct ev_loop *loop;
static struct mailbox *mb;
static unsigned inflight_max, inflight;
static uint64_t next_key, acked_count, retries, timeouts;
static uint8_t *acked;    /* per key: 1 once acknowledged durable */
static uint64_t *retry_q; /* keys to resend */
static size_t nretry;
static bool stopping, verifying;
static double bench_s, bench_t0;
static ev_signal sigterm;
static ev_timer kick;

/* The bytes for key k: 16..1040 bytes from a tiny PRNG seeded by k (the same every time). */
static size_t intent_bytes(uint64_t k, uint8_t *out)
{
    uint64_t x = k * 0x9e3779b97f4a7c15ull + 1;
    size_t n = 16 + (size_t)(x % 1025);
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[i] = (uint8_t)x;
    }
    return n;
}

static struct sdb_intent_key key_of(uint64_t k)
{
    return (struct sdb_intent_key){.dtype = (uint8_t)(k % 3),
                                   .height = k / 3,
                                   .round = 1,
                                   .mtype = (uint8_t)(QBFT_PRE_PREPARE + k % 4)};
}

static void send_append(uint64_t k);

static void on_append(struct mailbox *m, int status, const struct envelope *e, void *arg)
{
    (void)m;
    uint64_t k = (uint64_t)(uintptr_t)arg;
    struct sdb_reply r;
    inflight--;
    if (status == 0 && sdb_reply_decode(&r, SDB_APPEND_INTENT_REP, e->body, e->body_len) == 0) {
        if ((r.status == SDB_OK || r.status == SDB_DUPLICATE) && r.durable) {
            if (!acked[k])
                acked_count++;
            acked[k] = 1;
        } else if (r.status == SDB_REFUSED) {
            printf("FAIL: key %llu refused: the worker holds other bytes for it\n",
                   (unsigned long long)k);
            exit(1);
        } else {
            retry_q[nretry++] = k;
        }
        sdb_reply_free(&r);
    } else {
        timeouts += status != 0;
        retry_q[nretry++] = k;
    }
    ev_feed_event(loop, &kick, EV_TIMER);
}

static void send_append(uint64_t k)
{
    static uint8_t bytes[2048];
    struct sdb_req req = {.type = SDB_APPEND_INTENT};
    struct buf b = BUF_INIT;
    req.u.append.k = key_of(k);
    req.u.append.msg.p = bytes;
    req.u.append.msg.len = (uint32_t)intent_bytes(k, bytes);
    sdb_req_encode(&b, &req);
    if (mailbox_request(mb, W_STATEDB, SDB_APPEND_INTENT, SDB_APPEND_INTENT_REP, b.data, b.len,
                        TIMEOUT_MS, on_append, (void *)(uintptr_t)k) == 0)
        inflight++;
    else
        retry_q[nretry++] = k;
    buf_free(&b);
}

static void verify(void);

static void on_kick(struct ev_loop *l, ev_timer *t, int revents)
{
    (void)l;
    (void)t;
    (void)revents;
    if (verifying)
        return;
    if (bench_s > 0 && now_s() - bench_t0 >= bench_s) {
        printf("appends_per_s=%.0f acked=%llu timeouts=%llu\n",
               (double)acked_count / (now_s() - bench_t0), (unsigned long long)acked_count,
               (unsigned long long)timeouts);
        exit(0);
    }
    if (stopping && inflight == 0 && nretry == 0) {
        verifying = true;
        verify();
        return;
    }
    while (inflight < inflight_max && nretry > 0) {
        retries++;
        send_append(retry_q[--nretry]);
    }
    while (!stopping && inflight < inflight_max && next_key < MAX_KEYS)
        send_append(next_key++);
}

/* ---- verification: page through LOAD_INTENTS ---- */

static uint64_t seen, verified_acked;
static uint8_t *present;
static struct sdb_intent_key after;
static bool has_after;

static void load_page(void);

static uint64_t key_index(const struct sdb_intent_key *k)
{
    return k->height * 3 + k->dtype;
}

static void on_page(struct mailbox *m, int status, const struct envelope *e, void *arg)
{
    (void)m;
    (void)arg;
    struct sdb_reply r;
    static uint8_t want[2048];
    if (status != 0 || sdb_reply_decode(&r, SDB_LOAD_INTENTS_REP, e->body, e->body_len) < 0 ||
        r.status != SDB_OK) {
        load_page(); /* the worker may still be restarting: ask again */
        return;
    }
    for (uint32_t i = 0; i < r.u.list.n; i++) {
        const struct sdb_intent *it = &r.u.list.v.intents[i];
        uint64_t k = key_index(&it->k);
        struct sdb_intent_key exp = key_of(k);
        size_t n = k < next_key ? intent_bytes(k, want) : 0;
        if (k >= next_key || exp.height != it->k.height || exp.dtype != it->k.dtype ||
            exp.round != it->k.round || exp.mtype != it->k.mtype || it->msg.len != n ||
            memcmp(it->msg.p, want, n) != 0) {
            printf("FAIL: stored intent for key %llu is not the bytes that were sent\n",
                   (unsigned long long)k);
            exit(1);
        }
        present[k] = 1;
        seen++;
        after = it->k;
        has_after = true;
    }
    bool more = r.u.list.more;
    sdb_reply_free(&r);
    if (more) {
        load_page();
        return;
    }
    for (uint64_t k = 0; k < next_key; k++) {
        if (acked[k] && !present[k]) {
            printf("FAIL: acknowledged intent %llu is missing\n", (unsigned long long)k);
            exit(1);
        }
        verified_acked += acked[k];
    }
    printf("statedb_client: sent=%llu acked=%llu stored=%llu retries=%llu timeouts=%llu ok\n",
           (unsigned long long)next_key, (unsigned long long)verified_acked,
           (unsigned long long)seen, (unsigned long long)retries, (unsigned long long)timeouts);
    fflush(stdout);
    exit(0);
}

static void load_page(void)
{
    struct sdb_req req = {.type = SDB_LOAD_INTENTS};
    struct buf b = BUF_INIT;
    req.u.load.has_after = has_after;
    req.u.load.after = after;
    req.u.load.max_bytes = 1u << 20;
    sdb_req_encode(&b, &req);
    while (mailbox_request(mb, W_STATEDB, SDB_LOAD_INTENTS, SDB_LOAD_INTENTS_REP, b.data, b.len,
                           2000, on_page, NULL) < 0)
        ev_run(loop, EVRUN_NOWAIT);
    buf_free(&b);
}

static void verify(void)
{
    present = xcalloc(MAX_KEYS, 1);
    load_page();
}

static void on_term(struct ev_loop *l, ev_signal *s, int revents)
{
    (void)l;
    (void)s;
    (void)revents;
    stopping = true;
    ev_feed_event(loop, &kick, EV_TIMER);
}

int main(int argc, char **argv)
{
    char err[256];
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: statedb_client RUNTIME_DIR INFLIGHT [SECONDS]\n");
        return 2;
    }
    if (argc == 4) {
        bench_s = atof(argv[3]);
        bench_t0 = now_s();
    }
    log_init("statedb_client", 0);
    inflight_max = (unsigned)atoi(argv[2]);
    acked = xcalloc(MAX_KEYS, 1);
    retry_q = xcalloc(MAX_KEYS, sizeof(uint64_t));
    loop = ev_default_loop(0);
    struct mailbox_opts o = {.runtime_dir = argv[1], .self = W_TOOL};
    mb = mailbox_open(loop, &o, err, sizeof(err));
    if (!mb) {
        fprintf(stderr, "statedb_client: %s\n", err);
        return 1;
    }
    ev_signal_init(&sigterm, on_term, SIGTERM);
    ev_signal_start(loop, &sigterm);
    /* A periodic kick as well: retries after a timeout must go out even if nothing else runs. */
    ev_timer_init(&kick, on_kick, 0.0, 0.05);
    ev_timer_start(loop, &kick);
    ev_run(loop, 0);
    return 1;
}
