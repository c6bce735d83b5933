/*
 * Unit tests for the reverse proxy's pure parts: lib/url (the --upstream URL) and
 * workers/api/proxy (the head sent upstream, the upstream's answer checked and rewritten for the
 * client, chunked bodies decoded in place).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/url.h"
#include "lib/util.h"
#include "workers/api/http1.h"
#include "workers/api/proxy.h"

/* ---- URLs ---- */

static const struct {
    const char *url, *host, *authority, *base;
    unsigned port;
} good_urls[] = {
    {"http://127.0.0.1:5052", "127.0.0.1", "127.0.0.1:5052", "", 5052},
    {"http://beacon", "beacon", "beacon", "", 80},
    {"HTTP://Beacon-1.lan:1/", "Beacon-1.lan", "Beacon-1.lan:1", "", 1},
    {"http://bn:65535/eth/v1", "bn", "bn:65535", "/eth/v1", 65535},
    {"http://bn/a/b//", "bn", "bn", "/a/b", 80},
};

static const struct {
    const char *url, *why;
} bad_urls[] = {
    {"https://bn", "https is not supported"},
    {"bn:5052", "not an http:// URL"},
    {"", "not an http:// URL"},
    {"http://", "missing or too long host"},
    {"http://:80", "missing or too long host"},
    {"http://u:p@bn", "user info"},
    {"http://[::1]:80", "IPv4"},
    {"http://bn_1", "IPv4"},
    {"http://bn:", "bad port"},
    {"http://bn:0", "bad port"},
    {"http://bn:65536", "bad port"},
    {"http://bn:80a", "bad port"},
    {"http://bn:123456789", "bad port"},
    {"http://bn?x", "query or fragment"},
    {"http://bn/a?x", "query or fragment"},
    {"http://bn/a#f", "query or fragment"},
    {"http://bn/a b", "space or a control byte"},
    {"http://bn/a\x01", "space or a control byte"},
};

START_TEST(url_good)
{
    struct http_url u;
    char err[256];
    ck_assert_msg(url_parse_http(good_urls[_i].url, &u, err, sizeof(err)) == 0, "%s: %s",
                  good_urls[_i].url, err);
    ck_assert_str_eq(u.host, good_urls[_i].host);
    ck_assert_str_eq(u.authority, good_urls[_i].authority);
    ck_assert_str_eq(u.base, good_urls[_i].base);
    ck_assert_uint_eq(u.port, good_urls[_i].port);
}
END_TEST

START_TEST(url_bad)
{
    struct http_url u;
    char err[256];
    ck_assert_int_eq(url_parse_http(bad_urls[_i].url, &u, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, bad_urls[_i].why) && strstr(err, "expected http://HOST[:PORT]"),
                  "%s: %s", bad_urls[_i].url, err);
}
END_TEST

START_TEST(url_bounds)
{
    struct http_url u;
    char err[256], s[600];
    memset(s, 'h', sizeof(s));
    memcpy(s, "http://", 7);
    s[7 + URL_HOST_MAX - 1] = 0; /* the longest host */
    ck_assert_int_eq(url_parse_http(s, &u, err, sizeof(err)), 0);
    s[7 + URL_HOST_MAX - 1] = 'h';
    s[7 + URL_HOST_MAX] = 0;
    ck_assert_int_eq(url_parse_http(s, &u, err, sizeof(err)), -1);
    memcpy(s, "http://h/", 9);
    memset(s + 9, 'p', sizeof(s) - 9);
    s[8 + URL_PATH_MAX - 1] = 0; /* the longest base path */
    ck_assert_int_eq(url_parse_http(s, &u, err, sizeof(err)), 0);
    ck_assert_uint_eq(strlen(u.base), URL_PATH_MAX - 1);
    s[8 + URL_PATH_MAX - 1] = 'p';
    s[8 + URL_PATH_MAX] = 0;
    ck_assert_int_eq(url_parse_http(s, &u, err, sizeof(err)), -1);
}
END_TEST

/* ---- the request sent upstream ---- */

static char *upstream_head(const char *client_head, const char *url)
{
    struct http1_request r;
    struct http_url u;
    char err[256];
    ck_assert_int_eq(url_parse_http(url, &u, err, sizeof(err)), 0);
    ck_assert_int_eq(http1_request_parse((const uint8_t *)client_head, strlen(client_head), &r),
                     HTTP1_OK);
    struct buf out = BUF_INIT;
    proxy_request_head((const uint8_t *)client_head, &r, &u, "192.0.2.7", &out);
    return buf_steal_str(&out);
}

START_TEST(request_head)
{
    char *h = upstream_head("POST /eth/v1/x?a=1 HTTP/1.1\r\n"
                            "Host: node:4600\r\n"
                            "Content-Type: application/json\r\n"
                            "Connection: keep-alive, X-Hop\r\n"
                            "X-Hop: secret\r\n"
                            "Keep-Alive: 300\r\n"
                            "Proxy-Authorization: Basic eDp5\r\n"
                            "TE: trailers\r\n"
                            "Upgrade: websocket\r\n"
                            "X-Forwarded-For: 10.0.0.1\r\n"
                            "x-forwarded-for: 10.0.0.2\r\n"
                            "Content-Length: 2\r\n"
                            "Accept: */*\r\n\r\n{}",
                            "http://bn:5052/base/");
    ck_assert_str_eq(h, "POST /base/eth/v1/x?a=1 HTTP/1.1\r\n"
                        "Host: bn:5052\r\n"
                        "X-Forwarded-For: 10.0.0.1, 10.0.0.2, 192.0.2.7\r\n"
                        "Content-Type: application/json\r\n"
                        "Accept: */*\r\n"
                        "X-Forwarded-Proto: http\r\n"
                        "X-Forwarded-Host: node:4600\r\n"
                        "Content-Length: 2\r\n"
                        "Connection: close\r\n\r\n");
    free(h);
}
END_TEST

START_TEST(request_head_forwarded)
{
    /* behind another proxy: its -Proto and -Host stand; no Host, no body */
    char *h = upstream_head("GET / HTTP/1.0\r\n"
                            "X-Forwarded-Proto: https\r\n"
                            "X-Forwarded-Host: api.example\r\n\r\n",
                            "http://10.1.2.3");
    ck_assert_str_eq(h, "GET / HTTP/1.1\r\n"
                        "Host: 10.1.2.3\r\n"
                        "X-Forwarded-For: 192.0.2.7\r\n"
                        "X-Forwarded-Proto: https\r\n"
                        "X-Forwarded-Host: api.example\r\n"
                        "Connection: close\r\n\r\n");
    free(h);
    /* an explicit empty body is passed on as one */
    h = upstream_head("POST /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "http://bn");
    ck_assert_ptr_nonnull(strstr(h, "\r\nContent-Length: 0\r\n"));
    free(h);
}
END_TEST

/* ---- the upstream's answer ---- */

struct resp_case {
    const char *name;
    const char *text;
    bool head; /* the request was HEAD */
    enum proxy_result want;
    int status;
    enum proxy_body body;
    uint64_t length;
};

static const struct resp_case resp_cases[] = {
    {"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, PROXY_OK, 200,
     PROXY_BODY_LENGTH, 5},
    {"zero length", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, PROXY_OK, 200,
     PROXY_BODY_NONE, 0},
    {"equal lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", false,
     PROXY_OK, 200, PROXY_BODY_LENGTH, 5},
    {"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, PROXY_OK, 200,
     PROXY_BODY_CHUNKED, 0},
    {"gzip then chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n", false,
     PROXY_OK, 200, PROXY_BODY_CHUNKED, 0},
    {"chunked wins over length",
     "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", false, PROXY_OK,
     200, PROXY_BODY_CHUNKED, 3},
    {"not chunked last", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", false,
     PROXY_OK, 200, PROXY_BODY_EOF, 0},
    {"no framing", "HTTP/1.0 200 OK\r\n\r\n", false, PROXY_OK, 200, PROXY_BODY_EOF, 0},
    {"HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, PROXY_OK, 200, PROXY_BODY_NONE,
     5},
    {"204", "HTTP/1.1 204 No Content\r\n\r\n", false, PROXY_OK, 204, PROXY_BODY_NONE, 0},
    {"304", "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", false, PROXY_OK, 304,
     PROXY_BODY_NONE, 9},
    {"no reason", "HTTP/1.1 418\r\nContent-Length: 0\r\n\r\n", false, PROXY_OK, 418,
     PROXY_BODY_NONE, 0},
    {"LF lines", "HTTP/1.1 502 Bad\nContent-Length: 1\n\n", false, PROXY_OK, 502, PROXY_BODY_LENGTH,
     1},
    {"100 continue", "HTTP/1.1 100 Continue\r\n\r\n", false, PROXY_INTERIM, 100, 0, 0},
    {"103 early hints", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", false, PROXY_INTERIM, 103,
     0, 0},
    {"101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", false, PROXY_BAD, 0, 0, 0},
    {"not http", "SSH-2.0-OpenSSH_9.2\r\n\r\n", false, PROXY_BAD, 0, 0, 0},
    {"HTTP/2", "HTTP/2 200\r\n\r\n", false, PROXY_BAD, 0, 0, 0},
    {"status 99", "HTTP/1.1 099 X\r\n\r\n", false, PROXY_BAD, 0, 0, 0},
    {"status 600", "HTTP/1.1 600 X\r\n\r\n", false, PROXY_BAD, 0, 0, 0},
    {"status letters", "HTTP/1.1 2xx X\r\n\r\n", false, PROXY_BAD, 0, 0, 0},
    {"no space after status", "HTTP/1.1 200OK\r\n\r\n", false, PROXY_BAD, 0, 0, 0},
    {"control byte in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", false, PROXY_BAD, 0, 0, 0},
    {"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
     false, PROXY_BAD, 0, 0, 0},
    {"length list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", false, PROXY_BAD, 0, 0, 0},
    {"negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, PROXY_BAD, 0, 0, 0},
    {"huge length", "HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456789\r\n\r\n", false,
     PROXY_BAD, 0, 0, 0},
    {"obs-fold", "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n", false, PROXY_BAD, 0, 0, 0},
    {"no colon", "HTTP/1.1 200 OK\r\nX-A a\r\n\r\n", false, PROXY_BAD, 0, 0, 0},
    {"stray CR", "HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n", false, PROXY_BAD, 0, 0, 0},
};

START_TEST(responses)
{
    const struct resp_case *c = &resp_cases[_i];
    struct proxy_response r;
    size_t n = strlen(c->text);
    enum proxy_result got = proxy_response_parse((const uint8_t *)c->text, n, c->head, &r);
    ck_assert_msg(got == c->want, "%s: got %d (%s)", c->name, got, r.detail ? r.detail : "");
    if (got == PROXY_BAD) {
        ck_assert_ptr_nonnull(r.detail);
        return;
    }
    ck_assert_int_eq(r.status, c->status);
    ck_assert_uint_eq(r.head_len, n);
    if (got == PROXY_OK) {
        ck_assert_msg(r.body == c->body, "%s: body %d", c->name, r.body);
        ck_assert_uint_eq(r.length, c->length);
    }
    for (size_t k = 0; k + 1 < n; k++)
        ck_assert_int_eq(proxy_response_parse((const uint8_t *)c->text, k, c->head, &r),
                         PROXY_INCOMPLETE);
}
END_TEST

START_TEST(response_bounds)
{
    struct proxy_response r;
    struct buf b = BUF_INIT;
    buf_append_str(&b, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < PROXY_HEADERS_MAX; i++)
        buf_printf(&b, "X-%d: v\r\n", i);
    buf_append_str(&b, "\r\n");
    ck_assert_int_eq(proxy_response_parse(b.data, b.len, false, &r), PROXY_OK);
    ck_assert_uint_eq(r.nheaders, PROXY_HEADERS_MAX);
    b.len -= 2;
    buf_append_str(&b, "X-last: v\r\n\r\n");
    ck_assert_int_eq(proxy_response_parse(b.data, b.len, false, &r), PROXY_BAD);
    /* a head that has not ended within PROXY_HEAD_MAX bytes */
    buf_reset(&b);
    buf_append_str(&b, "HTTP/1.1 200 OK\r\nX-A: ");
    while (b.len < PROXY_HEAD_MAX)
        buf_append_str(&b, "aaaaaaaa");
    ck_assert_int_eq(proxy_response_parse(b.data, PROXY_HEAD_MAX - 1, false, &r), PROXY_INCOMPLETE);
    ck_assert_int_eq(proxy_response_parse(b.data, b.len, false, &r), PROXY_BAD);
    buf_free(&b);
}
END_TEST

static char *client_head(const char *upstream, bool head_request, unsigned minor, bool keep_alive,
                         enum proxy_out *mode, bool *close)
{
    struct proxy_response r;
    ck_assert_int_eq(
        proxy_response_parse((const uint8_t *)upstream, strlen(upstream), head_request, &r),
        PROXY_OK);
    struct buf out = BUF_INIT;
    *mode = proxy_response_head((const uint8_t *)upstream, &r, minor, keep_alive, &out, close);
    return buf_steal_str(&out);
}

START_TEST(response_head_filtered)
{
    enum proxy_out mode;
    bool close;
    char *h = client_head("HTTP/1.1 201 Created here\r\n"
                          "Content-Type: application/json\r\n"
                          "Connection: keep-alive, X-Hop\r\n"
                          "X-Hop: 1\r\n"
                          "Keep-Alive: timeout=5\r\n"
                          "Proxy-Authenticate: Basic\r\n"
                          "Trailer: X-Sum\r\n"
                          "Upgrade: h2c\r\n"
                          "Set-Cookie: a=1\r\n"
                          "Set-Cookie: b=2\r\n"
                          "Content-Length: 2\r\n\r\n",
                          false, 1, true, &mode, &close);
    ck_assert_int_eq(mode, PROXY_OUT_AS_IS);
    ck_assert(!close);
    ck_assert_str_eq(h, "HTTP/1.1 201 Created here\r\n"
                        "Content-Type: application/json\r\n"
                        "Set-Cookie: a=1\r\n"
                        "Set-Cookie: b=2\r\n"
                        "Content-Length: 2\r\n\r\n");
    free(h);
}
END_TEST

START_TEST(response_head_framing)
{
    enum proxy_out mode;
    bool close;
    static const char chunked[] =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n";
    /* HTTP/1.1 client: re-chunked, no length */
    char *h = client_head(chunked, false, 1, true, &mode, &close);
    ck_assert_int_eq(mode, PROXY_OUT_CHUNKED);
    ck_assert(!close);
    ck_assert_str_eq(h, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    free(h);
    /* HTTP/1.0 client: the close ends the body */
    h = client_head(chunked, false, 0, true, &mode, &close);
    ck_assert_int_eq(mode, PROXY_OUT_CLOSE);
    ck_assert(close);
    ck_assert_str_eq(h, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    free(h);
    /* close-delimited upstream answer, HTTP/1.1 client that wants to close */
    h = client_head("HTTP/1.0 200 OK\r\n\r\n", false, 1, false, &mode, &close);
    ck_assert_int_eq(mode, PROXY_OUT_CHUNKED);
    ck_assert(close);
    ck_assert_str_eq(h,
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    free(h);
    /* HTTP/1.0 keep-alive client with a length */
    h = client_head("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\n", false, 0, true, &mode,
                    &close);
    ck_assert_int_eq(mode, PROXY_OUT_AS_IS);
    ck_assert(!close);
    ck_assert_str_eq(
        h, "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n");
    free(h);
    /* HEAD: the upstream's length stands, no body */
    h = client_head("HTTP/1.1 200 OK\r\nContent-Length: 8388608\r\n\r\n", true, 1, true, &mode,
                    &close);
    ck_assert_int_eq(mode, PROXY_OUT_AS_IS);
    ck_assert_str_eq(h, "HTTP/1.1 200 OK\r\nContent-Length: 8388608\r\n\r\n");
    free(h);
}
END_TEST

/* ---- chunked bodies ---- */

static const char chunked_body[] = "5;name=val\r\nhello\r\n"
                                   "6\r\n world\r\n"
                                   "A \n0123456789\n"
                                   "0\r\n"
                                   "X-Sum: 1\r\n"
                                   "\r\n"
                                   "after the end";

START_TEST(chunked_whole)
{
    struct proxy_chunked c = {0};
    uint8_t p[sizeof(chunked_body)];
    size_t data;
    memcpy(p, chunked_body, sizeof(chunked_body) - 1);
    ck_assert_int_eq(proxy_chunked_decode(&c, p, sizeof(chunked_body) - 1, &data), 0);
    ck_assert(c.done);
    ck_assert_uint_eq(data, 21);
    ck_assert_int_eq(memcmp(p, "hello world0123456789", 21), 0);
}
END_TEST

/* The same body in pieces of every size decodes to the same bytes. */
static void chunked_in_pieces(size_t piece)
{
    size_t n = strlen(chunked_body);
    struct proxy_chunked c = {0};
    char got[64] = "";
    size_t got_len = 0;
    for (size_t off = 0; off < n && !c.done; off += piece) {
        uint8_t p[sizeof(chunked_body)];
        size_t len = n - off < piece ? n - off : piece, data;
        memcpy(p, chunked_body + off, len);
        ck_assert_int_eq(proxy_chunked_decode(&c, p, len, &data), 0);
        memcpy(got + got_len, p, data);
        got_len += data;
    }
    ck_assert(c.done);
    ck_assert_uint_eq(got_len, 21);
    ck_assert_int_eq(memcmp(got, "hello world0123456789", 21), 0);
}

START_TEST(chunked_pieces)
{
    for (size_t piece = 1; piece <= strlen(chunked_body); piece++)
        chunked_in_pieces(piece);
}
END_TEST

START_TEST(chunked_bad)
{
    static const char *const bad[] = {
        "\r\n",                 /* no size */
        "g\r\n",                /* not hex */
        "-1\r\n",               /* signed */
        "1000000000000000\r\n", /* 16 hex digits */
        "1\rx",                 /* CR without LF */
        "1\r\nab",              /* more data than the size */
        "1\r\na\rb",            /* CR without LF after the data */
        "0\r\n\rx",             /* CR without LF at the end */
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct proxy_chunked c = {0};
        uint8_t p[64];
        size_t data, n = strlen(bad[i]);
        memcpy(p, bad[i], n);
        ck_assert_msg(proxy_chunked_decode(&c, p, n, &data) == -1, "accepted: %s", bad[i]);
    }
    /* an extension or a trailer section beyond its bound */
    struct buf b = BUF_INIT;
    buf_append_str(&b, "1;");
    for (int i = 0; i < 5000; i++)
        buf_append_str(&b, "x");
    struct proxy_chunked c = {0};
    size_t data;
    ck_assert_int_eq(proxy_chunked_decode(&c, b.data, b.len, &data), -1);
    buf_reset(&b);
    buf_append_str(&b, "0\r\n");
    for (int i = 0; i < 2000; i++)
        buf_append_str(&b, "X-Trailer: 12345\r\n");
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(proxy_chunked_decode(&c, b.data, b.len, &data), -1);
    buf_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proxy");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, url_good, 0, (int)ARRAY_LEN(good_urls));
    tcase_add_loop_test(tc, url_bad, 0, (int)ARRAY_LEN(bad_urls));
    tcase_add_test(tc, url_bounds);
    tcase_add_test(tc, request_head);
    tcase_add_test(tc, request_head_forwarded);
    tcase_add_loop_test(tc, responses, 0, (int)ARRAY_LEN(resp_cases));
    tcase_add_test(tc, response_bounds);
    tcase_add_test(tc, response_head_filtered);
    tcase_add_test(tc, response_head_framing);
    tcase_add_test(tc, chunked_whole);
    tcase_add_test(tc, chunked_pieces);
    tcase_add_test(tc, chunked_bad);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
