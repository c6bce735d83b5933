/*
 * httpc: a minimal blocking HTTP/1.1 client for loopback use by aequactl and tests
 * (one request per connection, Connection: close, bounded response size, deadline).
 */
#ifndef AEQUA_HTTPC_H
#define AEQUA_HTTPC_H

#include <stddef.h>

#include "lib/buf.h"

struct http_response {
    int status;
    struct buf headers; /* raw header block */
    struct buf body;
};

/* method "GET"/"POST"; hostport "127.0.0.1:4620"; extra_headers may be NULL ("K: V\r\n"...).
 * Returns 0 or -1 (connection failed, timeout, malformed response), with a reason in err. */
int http_request(const char *hostport, const char *method, const char *path,
                 const char *extra_headers, const void *body, size_t body_len, int timeout_ms,
                 struct http_response *resp, char *err, size_t errsz);
void http_response_free(struct http_response *resp);
/* Value of a response header (case-insensitive name) copied into out; -1 if absent. */
int http_header(const struct http_response *resp, const char *name, char *out, size_t outsz);

#endif
