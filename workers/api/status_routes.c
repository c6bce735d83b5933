/*
 * The status page (SPEC §12.3) on the monitoring listener: GET / answers the page
 * (status_page.html, embedded at build time: status_page.h) and GET /summary the JSON it draws
 * besides GET /status (summary.h has the shape).
 *
 * /summary gathers its parts concurrently over IPC: the recent instances from QBFT
 * (DUTY_RECENT), the latest block from the builder (which reads the chain from StateDB), and
 * the metric samples of QBFT, P2P and the builder; then the SUMMARY_BLOCKS - 1 blocks below the
 * latest, one after the other (SDB_BLOCK_PREV: heights are slots, the chain has gaps).
 * A worker that does not answer within SUMMARY_TIMEOUT_MS leaves its part empty and is named
 * in "unavailable": the page still renders, never a hang or an error.
 *
 * The charts' history is sampled by the loop thread every SUMMARY_INTERVAL_MS from the API
 * worker's own counters and QBFT's (one METRICS_REQ at a time), from the worker's start on, so
 * that a page opened now shows the last minutes at once.
 */
#include "lib/metrics.h"
#include "lib/util.h"
#include "proto/builder.h"
#include "proto/duty.h"
#include "proto/metrics.h"
#include "proto/statedb.h"
#include "proto/workers.h"
#include "workers/api/api.h"
#include "workers/api/status_page.h"
#include "workers/api/summary.h"

#include <civetweb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SUMMARY_TIMEOUT_MS 1000

/* The charts' history (summary.h): sampled on the loop thread, read by the handler threads. */
static struct {
    pthread_mutex_t mu;
    struct summary_history h;
    struct api *a;
    ev_timer timer;
    bool asking; /* one METRICS_REQ to QBFT at a time */
} S = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void on_sample_reply(struct mailbox *mb, int status, const struct envelope *reply, void *arg)
{
    (void)mb;
    (void)arg;
    struct metrics_text mt;
    metrics_text_init(&mt);
    metrics_text_add_local(&mt);
    bool known = status == 0 && metrics_text_add_encoded(&mt, reply->body, reply->body_len) == 0;
    struct summary_point pt;
    summary_point_from(&pt, &mt, wall_ms(), known);
    metrics_text_free(&mt);
    pthread_mutex_lock(&S.mu);
    summary_history_push(&S.h, &pt);
    pthread_mutex_unlock(&S.mu);
    S.asking = false;
}

static void on_sample(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)t;
    (void)revents;
    if (S.asking || S.a->stopping)
        return;
    S.asking = true;
    int rc = mailbox_request(S.a->w->mb, W_QBFT, METRICS_REQ, METRICS_REP, NULL, 0,
                             SUMMARY_TIMEOUT_MS, on_sample_reply, NULL);
    if (rc < 0)
        on_sample_reply(S.a->w->mb, rc, NULL, NULL);
}

void status_sampler_start(struct api *a)
{
    S.a = a;
    ev_timer_init(&S.timer, on_sample, 0.0, SUMMARY_INTERVAL_MS / 1000.0);
    ev_timer_start(a->w->loop, &S.timer);
}

void route_status_page(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                       struct http_reply *out)
{
    (void)a;
    (void)c;
    if (strcmp(ri->request_method, "GET") != 0) {
        reply_text(out, 405, "method not allowed");
        return;
    }
    out->status = 200;
    out->ctype = "text/html; charset=utf-8";
    buf_reset(&out->body);
    buf_append(&out->body, status_page_html, status_page_html_len);
    snprintf(out->headers, sizeof(out->headers), "Cache-Control: no-store\r\n");
}

static void mark_unavailable(struct summary_in *in, const char *worker)
{
    for (size_t i = 0; i < in->nunavailable; i++)
        if (!strcmp(in->unavailable[i], worker))
            return;
    if (in->nunavailable < SUMMARY_UNAVAILABLE)
        in->unavailable[in->nunavailable++] = worker;
}

static void block_call(struct bridge_call *c, struct buf *msg, uint8_t mode, uint64_t height)
{
    buf_reset(msg);
    bld_block_get_encode(msg, mode, height);
    *c = (struct bridge_call){.dest = W_BUILDER,
                              .type = BLD_BLOCK_GET,
                              .reply_type = BLD_BLOCK_GET_REP,
                              .body = msg->data,
                              .len = msg->len,
                              .timeout_ms = SUMMARY_TIMEOUT_MS};
}

/* A block answer: 1 with the block in sb, 0 when there is no such block, -1 when the chain
 * could not be read. */
static int block_answer(const struct bridge_call *c, struct summary_block *sb)
{
    struct sdb_reply r;
    if (c->status != 0 || c->reply.len == 0 ||
        sdb_reply_decode(&r, SDB_GET_BLOCK_REP, c->reply.data, c->reply.len) < 0)
        return -1;
    int rc = -1;
    if (r.status == SDB_NOT_FOUND || (r.status == SDB_OK && !r.u.block.present))
        rc = 0;
    else if (r.status == SDB_OK &&
             summary_block_from(sb, r.u.block.d.value.p, r.u.block.d.value.len) == 0)
        rc = 1;
    sdb_reply_free(&r);
    return rc;
}

/* The blocks below the latest one (in->blocks[0]), newest first: heights are slots, so the
 * chain has gaps and each block is asked for as the one below the last. */
static void gather_older_blocks(struct api *a, struct summary_in *in)
{
    struct buf msg = BUF_INIT;
    while (in->nblocks < SUMMARY_BLOCKS) {
        struct bridge_call call;
        block_call(&call, &msg, SDB_BLOCK_PREV, in->blocks[in->nblocks - 1].height);
        bridge_call_all(a->bridge, &call, 1);
        int rc = block_answer(&call, &in->blocks[in->nblocks]);
        bridge_call_release(&call, 1);
        if (rc < 0)
            mark_unavailable(in, "builder");
        if (rc <= 0)
            break;
        in->nblocks++;
    }
    buf_free(&msg);
}

enum { C_DUTIES, C_LATEST, C_QBFT_METRICS, C_P2P_METRICS, C_BUILDER_METRICS, C_COUNT };

void route_summary(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                   struct http_reply *out)
{
    (void)c;
    if (strcmp(ri->request_method, "GET") != 0) {
        reply_text(out, 405, "method not allowed");
        return;
    }
    struct buf recent = BUF_INIT, latest = BUF_INIT;
    duty_recent_req_encode(&recent, SUMMARY_DUTIES);
    struct bridge_call calls[C_COUNT];
    calls[C_DUTIES] = (struct bridge_call){.dest = W_QBFT,
                                           .type = DUTY_RECENT,
                                           .reply_type = DUTY_RECENT_REP,
                                           .body = recent.data,
                                           .len = recent.len};
    block_call(&calls[C_LATEST], &latest, SDB_BLOCK_LATEST, 0);
    static const unsigned metric_dest[] = {
        [C_QBFT_METRICS] = W_QBFT, [C_P2P_METRICS] = W_P2P, [C_BUILDER_METRICS] = W_BUILDER};
    for (size_t i = C_QBFT_METRICS; i < C_COUNT; i++)
        calls[i] = (struct bridge_call){
            .dest = metric_dest[i], .type = METRICS_REQ, .reply_type = METRICS_REP};
    for (size_t i = 0; i < C_COUNT; i++)
        calls[i].timeout_ms = SUMMARY_TIMEOUT_MS;
    bridge_call_all(a->bridge, calls, C_COUNT);

    struct summary_in *in = xcalloc(1, sizeof(*in));
    struct metrics_text mt;
    metrics_text_init(&mt);
    metrics_text_add_local(&mt);
    in->mt = &mt;
    struct summary_history *history = xmalloc(sizeof(*history));
    pthread_mutex_lock(&S.mu);
    *history = S.h;
    pthread_mutex_unlock(&S.mu);
    in->history = history;
    in->self = (uint32_t)a->w->cfg.index;
    in->n = a->lock.n;

    if (calls[C_DUTIES].status != 0 ||
        duty_recent_decode(in->duties, SUMMARY_DUTIES, &in->nduties, calls[C_DUTIES].reply.data,
                           calls[C_DUTIES].reply.len) < 0)
        mark_unavailable(in, "qbft");
    static const char *const metric_worker[] = {
        [C_QBFT_METRICS] = "qbft", [C_P2P_METRICS] = "p2p", [C_BUILDER_METRICS] = "builder"};
    for (size_t i = C_QBFT_METRICS; i < C_COUNT; i++) {
        bool ok = calls[i].status == 0 &&
                  metrics_text_add_encoded(&mt, calls[i].reply.data, calls[i].reply.len) == 0;
        if (!ok)
            mark_unavailable(in, metric_worker[i]);
        if (i == C_QBFT_METRICS)
            in->decided_known = ok;
        if (i == C_BUILDER_METRICS)
            in->mempool_known = ok;
    }
    int rc = block_answer(&calls[C_LATEST], &in->blocks[0]);
    bridge_call_release(calls, C_COUNT);
    buf_free(&recent);
    buf_free(&latest);
    in->chain_known = rc >= 0;
    in->chain_empty = rc == 0;
    if (rc < 0)
        mark_unavailable(in, "builder");
    if (rc == 1) {
        in->nblocks = 1;
        gather_older_blocks(a, in);
    }

    json_t *j = summary_json(in);
    metrics_text_free(&mt);
    free(history);
    free(in);
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(j);
    out->status = 200;
    out->ctype = "application/json";
    buf_reset(&out->body);
    buf_append_str(&out->body, s ? s : "{}");
    buf_append_str(&out->body, "\n");
    free(s);
}
