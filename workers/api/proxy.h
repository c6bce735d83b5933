/*
 * proxy: the HTTP/1.1 framing of the validator API's reverse proxy to --upstream (SPEC §11.1),
 * as pure functions over bytes; the connection front (front.c) does the I/O. It writes the
 * request head sent upstream, checks the upstream's response head and writes the one the client
 * gets, and decodes a chunked body in place. No I/O, no allocation beyond the output buffer.
 *
 * Hop-by-hop headers (RFC 9110 §7.6.1) go neither way: Connection, Keep-Alive, Proxy-*, TE,
 * Trailer, Transfer-Encoding, Upgrade, and every header the Connection header names; every other
 * header passes as it came. The upstream gets one connection per request (Connection: close), so
 * its answer always ends when it closes, whatever its framing. The upstream's bytes are untrusted
 * like a client's: anything malformed or beyond the bounds is PROXY_BAD (the front answers 502),
 * never a crash.
 */
#ifndef AEQUA_API_PROXY_H
#define AEQUA_API_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/url.h"
#include "workers/api/http1.h"

#define PROXY_HEAD_MAX    32768 /* bytes of an upstream response head */
#define PROXY_HEADERS_MAX 128   /* header lines of an upstream response head */

/* Append the head to send upstream for the client's request r (parsed from p): METHOD, the
 * upstream's base path then the client's target, HTTP/1.1; Host: the upstream's HOST[:PORT];
 * the client's end-to-end headers; X-Forwarded-For: the client's list (if any) then client_addr;
 * X-Forwarded-Proto and X-Forwarded-Host as the client sent them, else "http" and the client's
 * Host; Content-Length when the client sent one; Connection: close. */
void proxy_request_head(const uint8_t *p, const struct http1_request *r, const struct http_url *up,
                        const char *client_addr, struct buf *out);

enum proxy_result {
    PROXY_INCOMPLETE, /* the head has not ended yet */
    PROXY_OK,         /* a final response head */
    PROXY_INTERIM,    /* a 1xx head (not 101) to skip: head_len bytes */
    PROXY_BAD,        /* malformed, oversized, or 101 Switching Protocols */
};

/* How the upstream's body ends (RFC 9112 §6.3). */
enum proxy_body {
    PROXY_BODY_NONE,    /* HEAD, 1xx, 204, 304 */
    PROXY_BODY_LENGTH,  /* Content-Length bytes */
    PROXY_BODY_CHUNKED, /* Transfer-Encoding ending in chunked */
    PROXY_BODY_EOF,     /* when the upstream closes */
};

struct proxy_response {
    size_t head_len; /* bytes up to and including the blank line */
    int status;
    struct http1_span reason;
    enum proxy_body body;
    uint64_t length; /* PROXY_BODY_LENGTH */
    size_t nheaders;
    struct http1_span name[PROXY_HEADERS_MAX], value[PROXY_HEADERS_MAX];
    size_t nconnection; /* Connection header values */
    struct http1_span connection[PROXY_HEADERS_MAX];
    const char *detail; /* why a head is PROXY_BAD (static text) */
};

/* Parse the response head at the start of p[0..n). */
enum proxy_result proxy_response_parse(const uint8_t *p, size_t n, bool head_request,
                                       struct proxy_response *r);

/* How the front frames the body it passes to the client. */
enum proxy_out {
    PROXY_OUT_AS_IS,   /* the upstream's bytes (no body, or Content-Length passed on) */
    PROXY_OUT_CHUNKED, /* the decoded bytes in chunks of the front's own, then 0 CRLF CRLF */
    PROXY_OUT_CLOSE,   /* the decoded bytes, the end marked by closing (an HTTP/1.0 client) */
};

/* Append the head for the client: "HTTP/1.1 status reason", the end-to-end headers, the framing
 * for the client's version, and Connection: close (*close set) when the client asked for it or
 * the framing needs it, or keep-alive for an HTTP/1.0 client that keeps the connection. */
enum proxy_out proxy_response_head(const uint8_t *p, const struct proxy_response *r,
                                   unsigned client_minor, bool keep_alive, struct buf *out,
                                   bool *close);

/* A chunked body decoder (RFC 9112 §7.1). Chunk extensions and trailer fields are dropped. */
struct proxy_chunked {
    int state;
    uint64_t left;   /* bytes of the current chunk, or its size as read so far */
    size_t line;     /* bytes of the current size, extension or trailer line */
    size_t trailers; /* bytes of the trailer section */
    bool done;       /* the last chunk and the trailer section are through */
};

/* Decode p[0..n) in place: the data bytes end up in p[0..*data). Bytes after the end are
 * ignored. 0, or -1 when the body is malformed or over a bound. */
int proxy_chunked_decode(struct proxy_chunked *c, uint8_t *p, size_t n, size_t *data);

#endif
