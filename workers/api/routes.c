/*
 * The route table and the operator routes: /health, /ready, /metrics, /status (SPEC §3.5, §11.1);
 * the status page and /summary are in status_routes.c.
 */
#include "workers/api/api.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "proto/control.h"
#include "proto/metrics.h"
#include "proto/workers.h"

#include <civetweb.h>
#include <jansson.h>
#include <string.h>

#define STATUS_TIMEOUT_MS  1000
#define METRICS_TIMEOUT_MS 1000

void reply_text(struct http_reply *out, int status, const char *text)
{
    out->status = status;
    out->ctype = "text/plain; charset=utf-8";
    buf_reset(&out->body);
    buf_printf(&out->body, "%s\n", text);
}

static void reply_json(struct http_reply *out, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
    out->status = status;
    out->ctype = "application/json";
    buf_reset(&out->body);
    buf_append_str(&out->body, s ? s : "{}");
    buf_append_str(&out->body, "\n");
    free(s);
    json_decref(j);
}

static bool method_is(const struct mg_request_info *ri, const char *m)
{
    return strcmp(ri->request_method, m) == 0;
}

/* Ask the supervisor for the worker table. */
static int fetch_status(struct api *a, struct status_report *r)
{
    struct bridge_call c = {.dest = W_SUPERVISOR,
                            .type = CTL_STATUS_REQ,
                            .reply_type = CTL_STATUS_REP,
                            .timeout_ms = STATUS_TIMEOUT_MS};
    bridge_call_all(a->bridge, &c, 1);
    int rc = c.status;
    if (rc == 0 && status_decode(r, c.reply.data, c.reply.len) < 0)
        rc = -1;
    bridge_call_release(&c, 1);
    return rc;
}

static void route_health(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                         struct http_reply *out)
{
    (void)a;
    (void)c;
    (void)ri;
    reply_text(out, 200, "ok");
}

/* Why the node is not ready, or NULL when it is. */
static const char *not_ready_reason(const struct status_report *r, char *buf, size_t n)
{
    for (uint32_t i = 0; i < r->nworkers; i++) {
        const struct status_worker *w = &r->workers[i];
        if (!w->required)
            continue;
        if (strcmp(w->state, "ready") != 0 && !(strcmp(w->state, "external") == 0 && w->pid)) {
            snprintf(buf, n, "worker %s is %s", w->name, w->state);
            return buf;
        }
        if (w->health[0]) {
            snprintf(buf, n, "worker %s: %s", w->name, w->health);
            return buf;
        }
    }
    return NULL;
}

static void route_ready(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                        struct http_reply *out)
{
    (void)c;
    struct status_report r;
    char why[256];
    const char *reason = NULL;
    if (!method_is(ri, "GET")) {
        reply_text(out, 405, "method not allowed");
        return;
    }
    if (a->stopping)
        reason = "node is stopping";
    else if (fetch_status(a, &r) < 0)
        reason = "supervisor unreachable";
    else
        reason = not_ready_reason(&r, why, sizeof(why));
    if (reason)
        reply_json(out, 503, json_pack("{s:b,s:s}", "ready", 0, "reason", reason));
    else
        reply_json(out, 200, json_pack("{s:b}", "ready", 1));
}

static json_t *str_or_null(const char *s)
{
    return s && s[0] ? json_string(s) : json_null();
}

static void route_status(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                         struct http_reply *out)
{
    (void)c;
    struct status_report r;
    if (!method_is(ri, "GET")) {
        reply_text(out, 405, "method not allowed");
        return;
    }
    if (fetch_status(a, &r) < 0) {
        reply_text(out, 503, "supervisor unreachable");
        return;
    }
    json_t *workers = json_array();
    for (uint32_t i = 0; i < r.nworkers; i++) {
        const struct status_worker *w = &r.workers[i];
        json_array_append_new(
            workers,
            json_pack("{s:s,s:s,s:I,s:I,s:I,s:o,s:f,s:o}", "name", w->name, "state", w->state,
                      "pid", (json_int_t)w->pid, "generation", (json_int_t)w->generation,
                      "restarts", (json_int_t)w->restarts, "last_exit", str_or_null(w->last_exit),
                      "uptime_s", w->uptime_s, "health", str_or_null(w->health)));
    }
    json_t *node =
        json_pack("{s:I,s:o,s:s,s:o}", "index", (json_int_t)r.index, "peer_id",
                  str_or_null(r.peer_id), "version", r.version, "cluster", str_or_null(r.cluster));
    reply_json(out, 200, json_pack("{s:o,s:o}", "node", node, "workers", workers));
}

static void route_metrics(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                          struct http_reply *out)
{
    (void)c;
    struct status_report r;
    struct bridge_call calls[STATUS_MAX_WORKERS + 1];
    size_t n = 0;
    if (!method_is(ri, "GET")) {
        reply_text(out, 405, "method not allowed");
        return;
    }
    memset(calls, 0, sizeof(calls));
    calls[n++] = (struct bridge_call){.dest = W_SUPERVISOR};
    /* Only running workers are asked; a worker that is down is absent from the exposition and
     * aequa_worker_up says so. */
    if (fetch_status(a, &r) == 0) {
        for (uint32_t i = 0; i < r.nworkers; i++) {
            int id = worker_id(r.workers[i].name);
            if (id > 0 && id != W_API && r.workers[i].pid > 0 &&
                strcmp(r.workers[i].state, "backoff") != 0)
                calls[n++] = (struct bridge_call){.dest = (unsigned)id};
        }
    }
    for (size_t i = 0; i < n; i++) {
        calls[i].type = METRICS_REQ;
        calls[i].reply_type = METRICS_REP;
        calls[i].timeout_ms = METRICS_TIMEOUT_MS;
    }
    bridge_call_all(a->bridge, calls, n);

    struct metrics_text mt;
    metrics_text_init(&mt);
    metrics_text_add_local(&mt);
    for (size_t i = 0; i < n; i++)
        if (calls[i].status == 0)
            metrics_text_add_encoded(&mt, calls[i].reply.data, calls[i].reply.len);
    bridge_call_release(calls, n);
    out->status = 200;
    out->ctype = "text/plain; version=0.0.4; charset=utf-8";
    buf_reset(&out->body);
    metrics_text_render(&mt, &out->body);
    metrics_text_free(&mt);
}

const struct route api_routes[] = {
    {L_API | L_MON, "/health", route_health},
    {L_API | L_MON, "/ready", route_ready},
    {L_MON, "/metrics", route_metrics},
    {L_MON, "/status", route_status},
    {L_MON, "/summary", route_summary},
    {L_MON, "/", route_status_page},
    {L_API, "/v1/duty", route_duty_post},
    {L_API, "/v1/duty/{type}/{height}", route_duty_get},
    {L_API, "/v1/tx/plain", route_tx_post},
    {L_API, "/v1/tx/{hash}", route_tx_get},
    {L_API, "/v1/block/latest", route_block_get},
    {L_API, "/v1/block/{height}", route_block_get},
};

const size_t api_routes_len = ARRAY_LEN(api_routes);

/* Whether path[0..len) matches the pattern: literal segments byte for byte, {name} any one
 * non-empty segment. */
static bool pattern_match(const char *pat, const char *path, size_t len)
{
    const char *end = path + len;
    while (*pat) {
        if (*pat == '{') {
            const char *close = strchr(pat, '}');
            const char *seg = path;
            while (path < end && *path != '/')
                path++;
            if (path == seg)
                return false;
            pat = close + 1;
        } else if (path < end && *pat == *path) {
            pat++;
            path++;
        } else {
            return false;
        }
    }
    return path == end;
}

const struct route *api_route_find(unsigned listener, const char *path, size_t len)
{
    for (size_t i = 0; i < api_routes_len; i++) {
        const struct route *r = &api_routes[i];
        if ((r->listeners & listener) && pattern_match(r->pattern, path, len))
            return r;
    }
    return NULL;
}
