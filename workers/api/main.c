/*
 * aequa-api: wiring of the connection fronts, civetweb, the bridge and the route table (see
 * api.h). Each listener is a front (front.h) on the public address and a civetweb context on an
 * ephemeral port of 127.0.0.1 that only the front talks to. With --upstream, the validator API's
 * front proxies the paths no route serves itself (front_proxy in front.h), never through civetweb.
 */
#include "workers/api/api.h"
#include "lib/crypto.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "proto/workers.h"
#include "workers/api/front.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* The largest request body the front hands on: above the largest a route accepts (1 MiB,
 * SPEC §11.2), so that the route answers its own size error; beyond it the front answers 413. */
#define API_BODY_MAX (2u << 20)
/* The monitoring routes take no body. */
#define MON_BODY_MAX 65536
/* Descriptors beyond the connection caps: civetweb, IPC, logs, libraries. */
#define FD_SLACK 256

static struct api A;
static struct front_proxy proxy; /* with [api] upstream */

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

/* Status line, headers and body in one write (no Nagle stall, no split responses). The answer
 * to HEAD has the headers of the GET answer and no body. */
static void send_reply(struct mg_connection *c, const struct mg_request_info *ri,
                       const struct http_reply *r, const char *trace)
{
    struct buf b = BUF_INIT;
    buf_printf(&b,
               "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nX-Trace-ID: %s\r\n"
               "%s\r\n",
               r->status, mg_get_response_code_text(c, r->status), r->ctype, r->body.len, trace,
               r->headers);
    if (strcmp(ri->request_method, "HEAD") != 0)
        buf_append(&b, r->body.data, r->body.len);
    mg_write(c, b.data, b.len);
    buf_free(&b);
}

static bool goes_upstream(unsigned listener)
{
    return listener == L_API && A.w->cfg.api_upstream[0];
}

const char *api_route_label(unsigned listener, const char *path, size_t len)
{
    const struct route *rt = api_route_find(listener, path, len);
    return rt ? rt->pattern : goes_upstream(listener) ? "proxy" : "other";
}

void api_account(const char *route, const char *method, const char *path, int status, double secs,
                 const char *detail)
{
    char code[8];
    snprintf(code, sizeof(code), "%d", status);
    metric_inc(metric("api_requests_total", route, code));
    metric_observe(metric("api_latency_seconds", route), secs);
    log_at(status >= 500 ? LOG_WARN : LOG_INFO, "api_request", LS("route", route),
           LS("method", method), LS("path", path), LI("code", status),
           LS("result", status < 400 ? "ok" : "error"), LF("latency_ms", secs * 1000.0),
           LS("err", detail ? detail : ""), LOG_END);
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
    const struct route *rt = api_route_find(listener, path, strlen(path));
    const char *label = api_route_label(listener, path, strlen(path));
    struct http_reply out = {.status = 500, .ctype = "text/plain; charset=utf-8"};
    if (A.stopping && rt && strcmp(rt->pattern, "/health") != 0)
        reply_text(&out, 503, "unavailable");
    else if (rt)
        rt->handler(&A, c, ri, &out);
    else
        reply_text(&out, 404, "not found");
    send_reply(c, ri, &out, trace);
    /* A body the route did not read is here in full (the front sent it): read it, so that
     * civetweb keeps the front's connection for the next request. */
    char drain[4096];
    while (mg_read(c, drain, sizeof(drain)) > 0)
        ;

    api_account(label, ri->request_method, path, out.status, (double)(now_ns() - t0) / 1e9,
                out.detail);
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

/* civetweb on an ephemeral port of 127.0.0.1, for the front alone; its port in *port. The
 * front sends whole requests at once and keeps its connections (one per thread, opened at start)
 * open, so the read timeout never waits on a client and the keep-alive timeout is a day. */
static struct mg_context *start_civetweb(uint64_t nthreads, unsigned listener, uint16_t *port)
{
    char threads[24];
    snprintf(threads, sizeof(threads), "%llu", (unsigned long long)nthreads);
    const char *opts[] = {
        "listening_ports",
        "127.0.0.1:0",
        "num_threads",
        threads,
        "request_timeout_ms",
        "5000",
        "keep_alive_timeout_ms",
        "86400000",
        "enable_keep_alive",
        "yes",
        "tcp_nodelay",
        "1",
        "connection_queue",
        threads,
        "listen_backlog",
        threads,
        "max_request_size",
        "32768",
        NULL,
    };
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.log_message = on_log;
    struct mg_context *ctx = mg_start(&cb, NULL, opts);
    struct mg_server_port sp;
    if (!ctx || mg_get_server_ports(ctx, 1, &sp) != 1) {
        log_error("http_listen", LS("addr", "127.0.0.1:0"), LS("err", "civetweb cannot start"));
        if (ctx)
            mg_stop(ctx);
        return NULL;
    }
    *port = (uint16_t)sp.port;
    mg_set_request_handler(ctx, "/", on_request, (void *)(uintptr_t)listener);
    return ctx;
}

static struct front *start_front(const char *name, unsigned listener, const char *addr,
                                 uint16_t port, const struct front_limits *lim)
{
    char err[256];
    struct front *f = front_start(name, listener, addr, port, lim, err, sizeof(err));
    if (!f)
        log_error("http_listen", LS("addr", addr), LS("err", err));
    else
        log_info("http_listen", LS("addr", addr), LS("listener", name),
                 LU("max_connections", lim->max_connections),
                 LU("max_connections_per_address", lim->max_per_address),
                 LU("header_timeout_ms", lim->header_timeout_ms),
                 LU("body_timeout_ms", lim->body_timeout_ms));
    return f;
}

/* The upstream's address, once at start (the config check parsed its URL already). A host that
 * does not resolve is logged and makes every proxied request a 502 until the worker restarts:
 * the node's own routes do not depend on it. */
static void proxy_setup(const struct config *cfg)
{
    char err[256];
    if (url_parse_http(cfg->api_upstream, &proxy.url, err, sizeof(err)) < 0) {
        log_error("config_error", LS("err", err));
        exit(EXIT_CONFIG);
    }
    proxy.connect_timeout_ms = cfg->api_upstream_connect_timeout_ms;
    proxy.timeout_ms = cfg->api_upstream_timeout_ms;
    proxy.max_connections = cfg->api_upstream_max_connections;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(proxy.url.host, NULL, &hints, &ai);
    if (rc != 0) {
        log_error("api_proxy", LS("upstream", proxy.url.authority), LS("err", gai_strerror(rc)));
        return;
    }
    proxy.addr = ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr);
    proxy.resolved = true;
    freeaddrinfo(ai);
    char a[INET_ADDRSTRLEN];
    struct in_addr in = {.s_addr = htonl(proxy.addr)};
    log_info("api_proxy", LS("upstream", proxy.url.authority),
             LS("addr", inet_ntop(AF_INET, &in, a, sizeof(a)) ? a : "?"),
             LS("base_path", proxy.url.base));
}

/* Before the privilege drop: the upstream's address, and room for every connection the caps
 * allow. A hard limit below it (unprivileged) is logged; connections beyond it are refused like
 * those beyond the total cap. */
static int api_preinit(struct worker *w)
{
    const struct config *cfg = &w->cfg;
    char err[1024];
    if (lock_load(&A.lock, cfg->lock, err, sizeof(err)) < 0) {
        log_error("config_error", LS("err", err));
        exit(EXIT_CONFIG);
    }
    if (cfg->api_upstream[0])
        proxy_setup(cfg);
    rlim_t need = (rlim_t)(cfg->api_max_connections + cfg->monitoring_max_connections +
                           cfg->api_threads + cfg->monitoring_threads + FD_SLACK);
    if (cfg->api_upstream[0])
        need += (rlim_t)cfg->api_upstream_max_connections;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 0;
    if (rl.rlim_cur < need) {
        if (geteuid() == 0 && rl.rlim_max < need)
            rl.rlim_max = need;
        rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) < 0)
            return 0;
    }
    if (rl.rlim_cur < need)
        log_warn("api_fd_limit", LU("limit", rl.rlim_cur), LU("need", need),
                 LS("err", "file limit below the connection caps: the excess is refused"));
    return 0;
}

static int api_init(struct worker *w)
{
    const struct config *cfg = &w->cfg;
    uint16_t api_port = 0, mon_port = 0;
    A.w = w;
    A.bridge = bridge_new(w->loop, w->mb);
    status_sampler_start(&A);
    mg_init_library(0);
    A.api_ctx = start_civetweb(cfg->api_threads, L_API, &api_port);
    A.mon_ctx = start_civetweb(cfg->monitoring_threads, L_MON, &mon_port);
    if (!A.api_ctx || !A.mon_ctx)
        return -1;
    const struct front_limits api_lim = {
        .max_connections = cfg->api_max_connections,
        .max_per_address = cfg->api_max_connections_per_address,
        .header_timeout_ms = cfg->api_header_timeout_ms,
        .body_timeout_ms = cfg->api_body_timeout_ms,
        .idle_timeout_ms = cfg->api_idle_timeout_ms,
        .body_max = API_BODY_MAX,
        .body_budget = cfg->api_body_buffer_bytes,
        .upstreams = (unsigned)cfg->api_threads,
        .proxy = cfg->api_upstream[0] ? &proxy : NULL,
    };
    const struct front_limits mon_lim = {
        .max_connections = cfg->monitoring_max_connections,
        .max_per_address = cfg->monitoring_max_connections_per_address,
        .header_timeout_ms = cfg->monitoring_header_timeout_ms,
        .body_timeout_ms = cfg->monitoring_body_timeout_ms,
        .idle_timeout_ms = cfg->monitoring_idle_timeout_ms,
        .body_max = MON_BODY_MAX,
        .body_budget = MON_BODY_MAX * cfg->monitoring_max_connections,
        .upstreams = (unsigned)cfg->monitoring_threads,
    };
    A.api_front = start_front("api", L_API, cfg->api_listen, api_port, &api_lim);
    A.mon_front = A.api_front
                      ? start_front("monitoring", L_MON, cfg->monitoring_listen, mon_port, &mon_lim)
                      : NULL;
    if (!A.api_front || !A.mon_front)
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

/* mg_stop waits for handler threads, which may wait on the loop: stop from another thread. The
 * fronts go first (answering what is in flight), so that no request reaches civetweb any more. */
static void *stop_thread(void *arg)
{
    (void)arg;
    struct front *fronts[] = {A.api_front, A.mon_front};
    for (size_t i = 0; i < ARRAY_LEN(fronts); i++)
        if (fronts[i])
            front_stop(fronts[i]);
    for (size_t i = 0; i < ARRAY_LEN(fronts); i++)
        if (fronts[i])
            front_free(fronts[i]);
    if (A.api_ctx)
        mg_stop(A.api_ctx);
    if (A.mon_ctx)
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
    .seccomp = &api_profile,
    .preinit = api_preinit,
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
