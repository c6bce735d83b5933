/*
 * front: the connection front of one HTTP listener of the API worker (validator API or
 * monitoring), so that no client can starve it (SPEC §11.3, issue 15).
 *
 * civetweb gives a thread to a connection for as long as the connection lasts, and its timeout
 * is per read: sixteen clients that send nothing, or a few hundred that trickle a header line
 * now and then, held every thread. So civetweb no longer faces clients. The front owns the public
 * socket and, on a libev loop in a thread of its own:
 *   - admits each accepted connection (conn_limit.h: a cap per source address and one in total;
 *     idle keep-alive connections give way first; otherwise the newcomer is refused at once
 *     with a 503, never queued behind the slow ones);
 *   - reads a request's whole head within header_timeout_ms and its whole body within
 *     body_timeout_ms, however slowly the bytes come, and checks the head (http1.h);
 *   - hands the complete request to civetweb over one of its own loopback connections to a
 *     civetweb listener on 127.0.0.1 (one per civetweb thread, kept open; requests wait in the
 *     front when all are busy), reads the answer whole and writes it to the client in one call.
 * A civetweb thread therefore only ever works on a complete request, and a client that sends or
 * reads nothing costs a socket and a timer until its deadline.
 *
 * Untrusted input is never fatal. A refused or timed-out connection is closed and counted in
 * api_connections_rejected_total{listener,reason} (reasons per_address, total, header_timeout,
 * body_timeout, send_timeout) and logged at most once a second per reason; a request the front
 * refuses (400, 411, 413, 417, 431, 503, 505) is answered, counted and logged like every answer
 * (api_account). Owns its thread, loop, listening socket, connections and their buffers.
 */
#ifndef AEQUA_API_FRONT_H
#define AEQUA_API_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/url.h"

/* The reverse proxy of the validator API (SPEC §11.1): a request for a path no route serves goes
 * to the upstream on a connection of its own, on the front's loop; its answer is streamed to the
 * client through a bounded buffer (the upstream is read only when the client has taken what came
 * before). No civetweb thread is involved, so a slow upstream cannot starve the node's routes.
 * An upstream that refuses, resets, or answers what is not HTTP/1.x gets the client a 502; one
 * that does not connect within connect_timeout_ms or stays silent for timeout_ms before its
 * answer's head, a 504; after the head, either cuts the client connection (the client sees a
 * short body). At most max_connections requests are proxied at once; beyond, 503 busy. */
struct front_proxy {
    struct http_url url;
    bool resolved; /* url.host resolved (at start); if not, every proxied request is a 502 */
    uint32_t addr; /* IPv4, host order */
    uint64_t connect_timeout_ms;
    uint64_t timeout_ms; /* the longest the upstream may stay silent */
    uint64_t max_connections;
};

struct front_limits {
    uint64_t max_connections; /* client connections held at once */
    uint64_t max_per_address; /* ... from one source address */
    uint64_t header_timeout_ms;
    uint64_t body_timeout_ms;        /* also the deadline for a client to take its answer */
    uint64_t idle_timeout_ms;        /* keep-alive connection without a request */
    uint64_t body_max;               /* the largest request body forwarded; larger: 413 */
    uint64_t body_budget;            /* request body bytes held at once; beyond it: 503 */
    unsigned upstreams;              /* loopback connections to civetweb (its thread count) */
    const struct front_proxy *proxy; /* NULL: paths no route serves are civetweb's 404 */
};

struct front;

/* Bind addr ("host:port") and start the front's thread, handing requests to civetweb on
 * 127.0.0.1:upstream_port. name is the listener label of the metrics ("api", "monitoring");
 * listener is L_API or L_MON (api.h), for route labels. NULL with err on failure. */
struct front *front_start(const char *name, unsigned listener, const char *addr,
                          uint16_t upstream_port, const struct front_limits *lim, char *err,
                          size_t errsz);

/* Stop accepting, let the requests in flight finish (2 s at most, each answer with
 * "Connection: close"), then close every connection and end the thread. Returns at once. */
void front_stop(struct front *f);
/* Wait for the thread to end, free. */
void front_free(struct front *f);

#endif
