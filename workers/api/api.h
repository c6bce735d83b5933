/*
 * The API worker (aequa-api): civetweb serves the validator API and the monitoring endpoint
 * (SPEC §11). Handlers run on civetweb's threads and reach the rest of the node through the
 * bridge. Routes are one table (routes.c); every answer is written in one call, counted in
 * api_requests_total{route,code} and api_latency_seconds{route}, and logged as api_request.
 */
#ifndef AEQUA_API_API_H
#define AEQUA_API_API_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "workers/api/bridge.h"
#include "workers/common/worker.h"

struct mg_connection;
struct mg_request_info;

enum listener { L_API = 1, L_MON = 2 };

struct api {
    struct worker *w;
    struct bridge *bridge;
    struct mg_context *api_ctx, *mon_ctx;
    ev_async stopped;
    volatile bool stopping;
};

struct http_reply {
    int status;
    const char *ctype;
    struct buf body;
    char headers[256]; /* extra header lines, each ending in \r\n */
};

struct route {
    unsigned listeners; /* L_API | L_MON */
    const char *path;
    bool prefix;       /* path is a prefix ("/v1/duty/") */
    const char *label; /* the route label of the metrics */
    void (*handler)(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                    struct http_reply *out);
};

extern const struct route api_routes[];
extern const size_t api_routes_len;

/* Find the route for a path on a listener, or NULL. */
const struct route *api_route_find(unsigned listener, const char *path);

/* Fill out as a text/plain body "text\n". */
void reply_text(struct http_reply *out, int status, const char *text);

#endif
