/*
 * aequa-api: wiring of civetweb, the bridge and the route table (see api.h).
 */
#include "workers/api/api.h"
#include "lib/crypto.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "proto/workers.h"

#include <civetweb.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static struct api A;

static const char *const api_syscalls[] = {NULL};
static const struct seccomp_profile api_profile = {api_syscalls};

/* X-Trace-ID when it is a sane token, else a fresh random id. */
static void trace_id_for(const struct mg_connection *c, char *out, size_t n)
{
    const char *h = mg_get_header(c, "X-Trace-ID");
    size_t len = h ? strlen(h) : 0;
    bool ok = len > 0 && len <= 64;
    for (size_t i = 0; ok && i < len; i++)
        ok = h[i] > 0x20 && h[i] < 0x7f && h[i] != '"' && h[i] != '\\';
    if (ok) {
        snprintf(out, n, "%s", h);
        return;
    }
    uint8_t r[16];
    random_bytes(r, sizeof(r));
    hex_encode(out, r, sizeof(r));
}

/* Status line, headers and body in one write (no Nagle stall, no split responses). */
static void send_reply(struct mg_connection *c, const struct http_reply *r, const char *trace)
{
    struct buf b = BUF_INIT;
    buf_printf(&b,
               "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nX-Trace-ID: %s\r\n"
               "%s\r\n",
               r->status, mg_get_response_code_text(c, r->status), r->ctype, r->body.len, trace,
               r->headers);
    buf_append(&b, r->body.data, r->body.len);
    mg_write(c, b.data, b.len);
    buf_free(&b);
}

static int on_request(struct mg_connection *c, void *cbdata)
{
    unsigned listener = (unsigned)(uintptr_t)cbdata;
    const struct mg_request_info *ri = mg_get_request_info(c);
    uint64_t t0 = now_ns();
    char trace[80];
    trace_id_for(c, trace, sizeof(trace));
    log_set_trace(trace);

    const char *path = ri->local_uri ? ri->local_uri : "/";
    const struct route *rt = api_route_find(listener, path);
    struct http_reply out = {.status = 500, .ctype = "text/plain; charset=utf-8"};
    const char *label = rt ? rt->label : "other";
    if (A.stopping && rt && strcmp(rt->label, "health") != 0)
        reply_text(&out, 503, "unavailable");
    else if (rt)
        rt->handler(&A, c, ri, &out);
    else if (listener == L_API && A.w->cfg.api_upstream[0]) {
        label = "proxy";
        reply_text(&out, 501, "not implemented");
        out.detail = "reverse proxying to --upstream is not built yet";
    } else
        reply_text(&out, 404, "not found");
    send_reply(c, &out, trace);

    double secs = (double)(now_ns() - t0) / 1e9;
    char code[8];
    snprintf(code, sizeof(code), "%d", out.status);
    metric_inc(metric("api_requests_total", label, code));
    metric_observe(metric("api_latency_seconds", label), secs);
    log_at(out.status >= 500 ? LOG_WARN : LOG_INFO, "api_request", LS("route", label),
           LS("method", ri->request_method), LS("path", path), LI("code", out.status),
           LS("result", out.status < 400 ? "ok" : "error"), LF("latency_ms", secs * 1000.0),
           LS("err", out.detail ? out.detail : ""), LOG_END);
    buf_free(&out.body);
    log_set_trace(NULL);
    return out.status;
}

static int on_log(const struct mg_connection *c, const char *message)
{
    (void)c;
    log_warn("http_server", LS("err", message));
    return 1;
}

static struct mg_context *start_listener(struct worker *w, const char *addr, unsigned listener)
{
    char threads[16], timeout[24];
    snprintf(threads, sizeof(threads), "%llu", (unsigned long long)w->cfg.api_threads);
    snprintf(timeout, sizeof(timeout), "%llu", (unsigned long long)w->cfg.api_request_timeout_ms);
    char queue[16];
    snprintf(queue, sizeof(queue), "%llu", (unsigned long long)w->cfg.api_max_connections);
    const char *opts[] = {
        "listening_ports",
        addr,
        "num_threads",
        threads,
        "request_timeout_ms",
        timeout,
        "keep_alive_timeout_ms",
        timeout,
        "enable_keep_alive",
        "yes",
        "tcp_nodelay",
        "1",
        "connection_queue",
        queue,
        "listen_backlog",
        queue,
        NULL,
    };
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.log_message = on_log;
    struct mg_context *ctx = mg_start(&cb, NULL, opts);
    if (!ctx) {
        log_error("http_listen", LS("addr", addr), LS("err", "cannot listen (address in use?)"));
        return NULL;
    }
    mg_set_request_handler(ctx, "/", on_request, (void *)(uintptr_t)listener);
    log_info("http_listen", LS("addr", addr),
             LS("listener", listener == L_API ? "validator-api" : "monitoring"));
    return ctx;
}

static int api_init(struct worker *w)
{
    A.w = w;
    A.bridge = bridge_new(w->loop, w->mb);
    mg_init_library(0);
    A.api_ctx = start_listener(w, w->cfg.api_listen, L_API);
    A.mon_ctx = A.api_ctx ? start_listener(w, w->cfg.monitoring_listen, L_MON) : NULL;
    if (!A.api_ctx || !A.mon_ctx)
        return -1;
    worker_ready(w);
    return 0;
}

static void on_stopped(struct ev_loop *loop, ev_async *a, int revents)
{
    (void)loop;
    (void)a;
    (void)revents;
    worker_exit_loop(A.w);
}

/* mg_stop waits for handler threads, which may wait on the loop: stop from another thread. */
static void *stop_thread(void *arg)
{
    (void)arg;
    mg_stop(A.api_ctx);
    mg_stop(A.mon_ctx);
    ev_async_send(A.w->loop, &A.stopped);
    return NULL;
}

static void api_stop(struct worker *w)
{
    pthread_t t;
    A.stopping = true;
    ev_async_init(&A.stopped, on_stopped);
    ev_async_start(w->loop, &A.stopped);
    if (pthread_create(&t, NULL, stop_thread, NULL) != 0)
        fatalx("pthread_create failed");
    pthread_detach(t);
}

static const struct worker_ops ops = {
    .name = "api",
    .id = W_API,
    .does_not_yet = "transaction and block routes (/v1/tx, /v1/block) and --upstream proxying "
                    "answer 501",
    .seccomp = &api_profile,
    .init = api_init,
    .stop = api_stop,
};

int main(int argc, char **argv)
{
    int rc = worker_main(argc, argv, &ops, &A);
    if (A.bridge) {
        bridge_shutdown(A.bridge);
        bridge_free(A.bridge);
    }
    return rc;
}
