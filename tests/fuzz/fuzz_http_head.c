/*
 * Fuzz target: workers/api/http1, the request heads the API's connection front reads from
 * clients (and, second, the answer framing it applies to civetweb). Invariants, checked with
 * abort():
 *   - a result is one of the table; a refusal has an outcome (status, body) and a reason;
 *   - an accepted head lies within the input and the cap, its spans within the head, and the
 *     same bytes cut at its end parse to the same head;
 *   - "incomplete" is only said below the cap;
 *   - the head forwarded to civetweb parses again, to the same target, length and header count,
 *     with its Content-Length among the 64 header lines civetweb reads;
 *   - an accepted answer lies within the input and has a final status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "workers/api/http1.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_http_head: invariant failed: %s (line %d)\n", #cond, __LINE__);  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int within(struct http1_span s, size_t end)
{
    return (size_t)s.off + s.len <= end;
}

static void fuzz_request(const uint8_t *data, size_t size)
{
    struct http1_request r, r2;
    enum http1_result res = http1_request_parse(data, size, &r);
    CHECK(res >= HTTP1_INCOMPLETE && res < HTTP1_RESULTS);
    if (res == HTTP1_INCOMPLETE) {
        CHECK(size < HTTP1_HEAD_MAX);
        return;
    }
    if (res != HTTP1_OK) {
        const struct http1_outcome *o = http1_outcome(res);
        CHECK(o && o->status >= 400 && o->body && r.detail);
        return;
    }
    CHECK(r.head_len <= size && r.head_len <= HTTP1_HEAD_MAX);
    CHECK(r.nheaders + 1 <= 64 && r.method.len > 0 && r.target.len > 0);
    CHECK(within(r.method, r.head_len) && within(r.target, r.head_len));
    CHECK(r.path.off == r.target.off && r.path.len <= r.target.len);
    for (size_t i = 0; i < r.nheaders; i++)
        CHECK(within(r.name[i], r.head_len) && within(r.value[i], r.head_len));
    CHECK(http1_request_parse(data, r.head_len, &r2) == HTTP1_OK && r2.head_len == r.head_len);

    struct buf b = BUF_INIT;
    http1_request_forward(data, &r, &b);
    const char *first = memchr(b.data, '\n', b.len);
    CHECK(first && b.len - (size_t)(first + 1 - (const char *)b.data) >= 16 &&
          memcmp(first + 1, "Content-Length: ", 16) == 0);
    /* (a head at the caps may come out over them: the length line, CRLF for LF) */
    if (b.len <= HTTP1_HEAD_MAX && r.nheaders < HTTP1_HEADERS_MAX) {
        CHECK(http1_request_parse(b.data, b.len, &r2) == HTTP1_OK);
        CHECK(r2.head_len == b.len && r2.content_length == r.content_length);
        CHECK(r2.nheaders == r.nheaders && r2.target.len == r.target.len);
        CHECK(memcmp(b.data + r2.target.off, data + r.target.off, r.target.len) == 0);
    }
    buf_free(&b);
}

static void fuzz_response(const uint8_t *data, size_t size)
{
    struct http1_response r;
    enum http1_result res = http1_response_parse(data, size, size & 1, &r);
    CHECK(res == HTTP1_INCOMPLETE || res == HTTP1_OK || res == HTTP1_BAD);
    if (res == HTTP1_OK)
        CHECK(r.head_len <= size && r.status_len <= r.head_len && r.status >= 200 &&
              r.status <= 599);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_request(data, size);
    fuzz_response(data, size);
    return 0;
}
