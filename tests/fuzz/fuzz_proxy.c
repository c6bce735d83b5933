/*
 * Fuzz target: workers/api/proxy, what the reverse proxy reads from an upstream (its answer's
 * head and a chunked body) and the request head it writes upstream from a client's. Invariants,
 * checked with abort():
 *   - a result is one of the four; a refusal has a reason; "incomplete" only below the cap;
 *   - an accepted head lies within the input, its spans within the head, its status final
 *     (or 1xx for an interim head), and the same bytes cut at its end parse to the same head;
 *   - the head written for the client parses again as an answer with the same status, holds
 *     no hop-by-hop header, and at most one framing of the body;
 *   - a chunked body decodes to no more bytes than it holds, the same whether it comes whole or
 *     in two pieces;
 *   - the head written upstream for an accepted client request parses again as a request with
 *     the same method and no Connection header but its "close".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/fuzz/fuzz.h"
#include "workers/api/http1.h"
#include "workers/api/proxy.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_proxy: invariant failed: %s (line %d)\n", #cond, __LINE__);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int within(struct http1_span s, size_t end)
{
    return (size_t)s.off + s.len <= end;
}

static const char *const hop_by_hop[] = {"connection", "keep-alive",        "te",
                                         "trailer",    "transfer-encoding", "upgrade"};

static void fuzz_answer(const uint8_t *data, size_t size)
{
    struct proxy_response r, r2;
    bool head = size & 1;
    enum proxy_result res = proxy_response_parse(data, size, head, &r);
    CHECK(res == PROXY_INCOMPLETE || res == PROXY_OK || res == PROXY_INTERIM || res == PROXY_BAD);
    if (res == PROXY_INCOMPLETE) {
        CHECK(size < PROXY_HEAD_MAX);
        return;
    }
    if (res == PROXY_BAD) {
        CHECK(r.detail);
        return;
    }
    CHECK(r.head_len <= size && r.head_len <= PROXY_HEAD_MAX);
    CHECK(res == PROXY_INTERIM ? r.status >= 100 && r.status < 200 && r.status != 101
                               : r.status >= 200 && r.status <= 599);
    if (res == PROXY_INTERIM)
        return;
    CHECK(within(r.reason, r.head_len) && r.nheaders <= PROXY_HEADERS_MAX);
    for (size_t i = 0; i < r.nheaders; i++)
        CHECK(within(r.name[i], r.head_len) && within(r.value[i], r.head_len));
    CHECK(proxy_response_parse(data, r.head_len, head, &r2) == PROXY_OK &&
          r2.head_len == r.head_len && r2.body == r.body);

    for (unsigned minor = 0; minor < 2; minor++) {
        struct buf b = BUF_INIT;
        bool close;
        enum proxy_out mode = proxy_response_head(data, &r, minor, size & 2, &b, &close);
        CHECK(mode == PROXY_OUT_AS_IS || mode == PROXY_OUT_CHUNKED || mode == PROXY_OUT_CLOSE);
        /* (a head at the caps may come out over them: CRLF for LF, the lines added) */
        if (b.len > PROXY_HEAD_MAX || r.nheaders + 2 > PROXY_HEADERS_MAX) {
            buf_free(&b);
            continue;
        }
        CHECK(proxy_response_parse(b.data, b.len, head, &r2) == PROXY_OK);
        CHECK(r2.head_len == b.len && r2.status == r.status);
        bool te = false, cl = false;
        for (size_t i = 0; i < r2.nheaders; i++) {
            const char *n = (const char *)b.data + r2.name[i].off;
            size_t len = r2.name[i].len;
            te |= len == 17 && strncasecmp(n, "transfer-encoding", 17) == 0;
            cl |= len == 14 && strncasecmp(n, "content-length", 14) == 0;
            CHECK(!(len >= 6 && strncasecmp(n, "proxy-", 6) == 0));
            for (size_t k = 0; k < sizeof(hop_by_hop) / sizeof(hop_by_hop[0]); k++)
                if (strlen(hop_by_hop[k]) == len && strncasecmp(n, hop_by_hop[k], len) == 0)
                    CHECK(k <= 1 || (k == 4 && mode == PROXY_OUT_CHUNKED)); /* ours */
        }
        CHECK(!(te && cl) && te == (mode == PROXY_OUT_CHUNKED));
        buf_free(&b);
    }
}

static void fuzz_chunked(const uint8_t *data, size_t size)
{
    uint8_t *whole = malloc(size + 1), *parts = malloc(size + 1);
    memcpy(whole, data, size);
    memcpy(parts, data, size);
    struct proxy_chunked a = {0}, b = {0};
    size_t n1, n2, n3;
    int rc1 = proxy_chunked_decode(&a, whole, size, &n1);
    size_t cut = size / 2;
    int rc2 = proxy_chunked_decode(&b, parts, cut, &n2);
    if (rc1 == 0) {
        CHECK(n1 <= size && rc2 == 0);
        if (b.done) {
            CHECK(a.done && n2 == n1 && memcmp(whole, parts, n1) == 0);
        } else {
            CHECK(proxy_chunked_decode(&b, parts + cut, size - cut, &n3) == 0);
            CHECK(b.done == a.done && n2 + n3 == n1);
            CHECK(memcmp(whole, parts, n2) == 0 && memcmp(whole + n2, parts + cut, n3) == 0);
        }
    } else if (rc2 == 0 && !b.done) {
        CHECK(proxy_chunked_decode(&b, parts + cut, size - cut, &n3) == -1);
    }
    free(whole);
    free(parts);
}

static void fuzz_request(const uint8_t *data, size_t size)
{
    struct http1_request r, r2;
    if (http1_request_parse(data, size, &r) != HTTP1_OK)
        return;
    struct http_url u;
    char err[128];
    CHECK(url_parse_http("http://bn:5052/base", &u, err, sizeof(err)) == 0);
    struct buf b = BUF_INIT;
    proxy_request_head(data, &r, &u, "192.0.2.1", &b);
    if (b.len <= HTTP1_HEAD_MAX && r.nheaders + 4 < HTTP1_HEADERS_MAX) {
        CHECK(http1_request_parse(b.data, b.len, &r2) == HTTP1_OK && r2.head_len == b.len);
        CHECK(r2.method.len == r.method.len &&
              memcmp(b.data + r2.method.off, data + r.method.off, r.method.len) == 0);
        CHECK(!r2.keep_alive && r2.nconnection == 1);
        CHECK(r2.content_length == r.content_length);
    }
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_answer(data, size);
    fuzz_chunked(data, size);
    fuzz_request(data, size);
    return 0;
}
