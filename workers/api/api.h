/*
 * The API worker (aequa-api): civetweb serves the validator API and the monitoring endpoint
 * (SPEC §11), each behind a connection front (front.h) that faces the clients and hands civetweb
 * only complete requests. Handlers run on civetweb's threads and reach the rest of the node
 * through the bridge. Routes are one table (routes.c); every answer is written in one call,
 * counted in api_requests_total{route,code} and api_latency_seconds{route}, and logged as
 * api_request. With --upstream, the validator API's front proxies every path no route serves to
 * the upstream itself (front_proxy in front.h, route label "proxy"); civetweb never sees those.
 */
#ifndef AEQUA_API_API_H
#define AEQUA_API_API_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "lib/lock.h"
#include "workers/api/bridge.h"
#include "workers/common/worker.h"

struct mg_connection;
struct mg_request_info;

enum listener { L_API = 1, L_MON = 2 };

struct front;

struct api {
    struct worker *w;
    struct lock lock; /* the cluster lock (public): its hash binds transactions */
    struct bridge *bridge;
    struct mg_context *api_ctx, *mon_ctx;
    struct front *api_front, *mon_front;
    ev_async stopped;
    volatile bool stopping;
};

struct http_reply {
    int status;
    const char *ctype;
    struct buf body;
    char headers[256];  /* extra header lines, each ending in \r\n */
    const char *detail; /* why, for the log line of an error answer (static text) */
};

/* One row per route. The pattern is the path with {name} for one segment of any value; it is
 * also the route label of the metrics (SPEC §12.2). Rows are tried in order: put a literal row
 * (/v1/block/latest) before the pattern it would also match (/v1/block/{height}). */
struct route {
    unsigned listeners; /* L_API | L_MON */
    const char *pattern;
    void (*handler)(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                    struct http_reply *out);
};

extern const struct route api_routes[];
extern const size_t api_routes_len;

/* Find the route for a path (len bytes, no query) on a listener, or NULL. */
const struct route *api_route_find(unsigned listener, const char *path, size_t len);

/* The route label of a path: its route's pattern, "proxy" for what goes to --upstream on the
 * validator API, "other" for the rest (one value, so that clients cannot grow the series). */
const char *api_route_label(unsigned listener, const char *path, size_t len);

/* Count and log one answer (SPEC §11.3): api_requests_total{route,code},
 * api_latency_seconds{route} and an api_request line. Any thread. */
void api_account(const char *route, const char *method, const char *path, int status, double secs,
                 const char *detail);

/* Route handlers (one row each in routes.c). */
struct api;
void route_duty_post(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                     struct http_reply *out);
void route_duty_get(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                    struct http_reply *out);
void route_tx_post(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                   struct http_reply *out);
void route_tx_get(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                  struct http_reply *out);
void route_block_get(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                     struct http_reply *out);
void route_status_page(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                       struct http_reply *out);
void route_summary(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                   struct http_reply *out);

/* Loop thread: start sampling the status page's chart history (status_routes.c). */
void status_sampler_start(struct api *a);

/* Read a request body of at most max bytes: 0, or -1 when it is larger or cannot be read. */
int api_read_body(struct mg_connection *c, const struct mg_request_info *ri, size_t max,
                  struct buf *out);
struct sdb_decided;
/* "certificate":[...],"seals":[...],"tss_signature":null of a decided record (SPEC §7.6). */
void api_decided_members(struct buf *b, const struct sdb_decided *d);

/* Fill out as a text/plain body "text\n". */
void reply_text(struct http_reply *out, int status, const char *text);

#endif
