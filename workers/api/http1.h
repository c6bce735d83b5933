/*
 * http1: the HTTP/1.x framing the API's connection front needs (front.h), as pure functions over
 * bytes: find and check a client's request head, write the head forwarded to civetweb, and find
 * where a response of the API's own civetweb ends. No I/O.
 *
 * A request head is untrusted: every malformed or oversized head is a result of the table
 * (http1_outcome: status and body text), never a crash. The front forwards only heads this
 * module accepted, rewritten in a normal form (CRLF lines, no hop-by-hop headers, one
 * Content-Length), so civetweb and the front cannot disagree about where a request ends.
 * Request bodies must declare their length: any Transfer-Encoding is refused (411).
 */
#ifndef AEQUA_API_HTTP1_H
#define AEQUA_API_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define HTTP1_HEAD_MAX 16384 /* bytes of a request head, blank line included */
/* Header lines of a request. civetweb reads 64 and ignores any beyond: with the Content-Length
 * line the front adds, a forwarded head stays within them. */
#define HTTP1_HEADERS_MAX 63

enum http1_result {
    HTTP1_INCOMPLETE,      /* the head has not ended yet */
    HTTP1_OK,              /* a complete, well-formed head */
    HTTP1_BAD,             /* 400: malformed request line or header */
    HTTP1_TOO_LARGE,       /* 431: head over HTTP1_HEAD_MAX bytes or HTTP1_HEADERS_MAX lines */
    HTTP1_VERSION,         /* 505: not HTTP/1.x */
    HTTP1_LENGTH_REQUIRED, /* 411: a Transfer-Encoding (chunked) body */
    HTTP1_EXPECTATION,     /* 417: an Expect other than 100-continue */
    HTTP1_RESULTS
};

struct http1_outcome {
    int status;
    const char *body; /* text/plain body, without the newline */
};

/* The answer for a result other than HTTP1_INCOMPLETE and HTTP1_OK. */
const struct http1_outcome *http1_outcome(enum http1_result r);

struct http1_span {
    uint32_t off, len; /* into the bytes given to the parser */
};

struct http1_request {
    size_t head_len;          /* bytes up to and including the blank line */
    struct http1_span method; /* "GET" */
    struct http1_span target; /* "/v1/duty/sync/1?x=1" */
    struct http1_span path;   /* the target up to '?' */
    unsigned minor;           /* HTTP/1.<minor> */
    uint64_t content_length;  /* 0 when absent */
    bool has_length;          /* a Content-Length was sent */
    bool keep_alive;          /* the client's wish (version default, Connection header) */
    bool expect_continue;     /* Expect: 100-continue */
    size_t nheaders;          /* lines kept for forwarding */
    struct http1_span name[HTTP1_HEADERS_MAX], value[HTTP1_HEADERS_MAX];
    size_t nconnection; /* Connection header values (their tokens are hop-by-hop names) */
    struct http1_span connection[HTTP1_HEADERS_MAX];
    const char *detail; /* why a head was refused (static text) */
};

/* Parse the request head at the start of p[0..n). Empty lines before the request line are
 * skipped (RFC 9112 §2.2); lines may end in CRLF or LF. */
enum http1_result http1_request_parse(const uint8_t *p, size_t n, struct http1_request *r);

/* Append the head to forward: "METHOD target HTTP/1.1", "Content-Length: N", the kept headers,
 * each line ending in CRLF, then the blank line. */
void http1_request_forward(const uint8_t *p, const struct http1_request *r, struct buf *out);

struct http1_response {
    size_t head_len;     /* bytes up to and including the blank line */
    size_t status_len;   /* bytes of the status line with its CRLF */
    int status;          /* 200..599 */
    uint64_t body_len;   /* 0 for HEAD, 204 and 304 */
    bool close;          /* "Connection: close" */
    bool has_connection; /* a Connection header was sent */
};

/* Parse the response head at the start of p[0..n). Only what the API's own civetweb writes is
 * accepted: CRLF lines, a final status (no 1xx), a Content-Length unless the answer has no body,
 * no Transfer-Encoding. HTTP1_INCOMPLETE, HTTP1_OK or HTTP1_BAD. */
enum http1_result http1_response_parse(const uint8_t *p, size_t n, bool head_request,
                                       struct http1_response *r);

/* Helpers shared with the reverse proxy's framing (proxy.h). */

/* Offset just past the blank line that ends a head starting at p[start], or 0 if none within
 * p[0..limit). crlf_only: lines must end in CRLF. */
size_t http1_head_end(const uint8_t *p, size_t start, size_t limit, bool crlf_only);
/* Next line of [*pos, end): its bytes without the terminator in [*s, *s + *len). -1 when a CR
 * stands anywhere but before the LF. */
int http1_next_line(const uint8_t *p, size_t *pos, size_t end, size_t *s, size_t *len);
/* Split the header line p[s..s+len) into name and value (without surrounding whitespace); -1 if
 * malformed. */
int http1_split_header(const uint8_t *p, size_t s, size_t len, struct http1_span *name,
                       struct http1_span *value);
/* Whether a comma-separated header value holds the token (case-insensitive). */
bool http1_has_token(const uint8_t *p, struct http1_span v, const char *token);
/* 1 to 18 decimal digits, nothing else: 0 and *out, or -1. */
int http1_digits(const uint8_t *p, size_t len, uint64_t *out);

#endif
