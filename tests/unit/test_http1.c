/*
 * Unit tests for workers/api/http1: the request heads the connection front accepts, refuses
 * (each result with its status) or waits on; the head it forwards to civetweb; and the answers of
 * civetweb it can frame.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "workers/api/http1.h"

struct head_case {
    const char *name;
    const char *head;
    enum http1_result want;
};

static const struct head_case cases[] = {
    {"minimal", "GET /health HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_OK},
    {"no headers", "GET / HTTP/1.1\r\n\r\n", HTTP1_OK},
    {"LF lines", "GET /health HTTP/1.1\nHost: a\n\n", HTTP1_OK},
    {"mixed line ends", "GET /health HTTP/1.1\r\nHost: a\n\r\n", HTTP1_OK},
    {"leading empty lines", "\r\n\nGET /health HTTP/1.1\r\n\r\n", HTTP1_OK},
    {"HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", HTTP1_OK},
    {"HTTP/1.9 is 1.x", "GET / HTTP/1.9\r\n\r\n", HTTP1_OK},
    {"obs-text in a value", "GET / HTTP/1.1\r\nX-A: caf\xc3\xa9\r\n\r\n", HTTP1_OK},
    {"empty value", "GET / HTTP/1.1\r\nX-A:\r\n\r\n", HTTP1_OK},
    {"tab in a value", "GET / HTTP/1.1\r\nX-A: a\tb\r\n\r\n", HTTP1_OK},
    {"content length", "POST /v1/duty HTTP/1.1\r\nContent-Length: 12\r\n\r\n", HTTP1_OK},
    {"content length with spaces", "POST / HTTP/1.1\r\nContent-Length:  7 \r\n\r\n", HTTP1_OK},
    {"expect 100-continue", "POST / HTTP/1.1\r\nExpect: 100-Continue\r\n\r\n", HTTP1_OK},
    /* request line */
    {"HTTP/0.9", "GET /\r\n\r\n", HTTP1_BAD},
    {"no target", "GET HTTP/1.1\r\n\r\n", HTTP1_BAD},
    {"two spaces", "GET  / HTTP/1.1\r\n\r\n", HTTP1_BAD},
    {"trailing space", "GET / HTTP/1.1 \r\n\r\n", HTTP1_BAD},
    {"absolute form", "GET http://a/ HTTP/1.1\r\n\r\n", HTTP1_BAD},
    {"asterisk form", "OPTIONS * HTTP/1.1\r\n\r\n", HTTP1_BAD},
    {"method not a token", "G(T / HTTP/1.1\r\n\r\n", HTTP1_BAD},
    {"control byte in target", "GET /a\x01 HTTP/1.1\r\n\r\n", HTTP1_BAD},
    {"lower-case version", "GET / http/1.1\r\n\r\n", HTTP1_BAD},
    {"version with 3 digits", "GET / HTTP/1.10\r\n\r\n", HTTP1_BAD},
    {"HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", HTTP1_VERSION},
    {"HTTP/0.9 spelled out", "GET / HTTP/0.9\r\n\r\n", HTTP1_VERSION},
    /* header lines */
    {"no colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", HTTP1_BAD},
    {"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", HTTP1_BAD},
    {"empty name", "GET / HTTP/1.1\r\n: a\r\n\r\n", HTTP1_BAD},
    {"obs-fold", "GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", HTTP1_BAD},
    {"control byte in a value", "GET / HTTP/1.1\r\nX-A: a\x01\r\n\r\n", HTTP1_BAD},
    {"DEL in a value", "GET / HTTP/1.1\r\nX-A: a\x7f\r\n\r\n", HTTP1_BAD},
    {"stray CR", "GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", HTTP1_BAD},
    {"stray CR in the request line", "GET /\r HTTP/1.1\r\n\r\n", HTTP1_BAD},
    /* framing */
    {"two content lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\n",
     HTTP1_BAD},
    {"negative content length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", HTTP1_BAD},
    {"signed content length", "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", HTTP1_BAD},
    {"content length list", "POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n", HTTP1_BAD},
    {"content length 1e3", "POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", HTTP1_BAD},
    {"empty content length", "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", HTTP1_BAD},
    {"19-digit content length", "POST / HTTP/1.1\r\nContent-Length: 1000000000000000000\r\n\r\n",
     HTTP1_BAD},
    {"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP1_LENGTH_REQUIRED},
    {"chunked with a length",
     "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
     HTTP1_LENGTH_REQUIRED},
    {"identity transfer coding", "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n",
     HTTP1_LENGTH_REQUIRED},
    {"unknown expectation", "POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", HTTP1_EXPECTATION},
};

static enum http1_result parse(const char *s, struct http1_request *r)
{
    return http1_request_parse((const uint8_t *)s, strlen(s), r);
}

static char *span(const char *s, struct http1_span sp)
{
    static char out[4][256];
    static int k;
    char *o = out[k++ % 4];
    snprintf(o, sizeof(out[0]), "%.*s", (int)sp.len, s + sp.off);
    return o;
}

START_TEST(table_rows)
{
    const struct head_case *c = &cases[_i];
    struct http1_request r;
    enum http1_result got = parse(c->head, &r);
    ck_assert_msg(got == c->want, "%s: got %d, want %d", c->name, got, c->want);
    if (got == HTTP1_OK) {
        ck_assert_uint_eq(r.head_len, strlen(c->head));
        ck_assert_ptr_null(r.detail);
    } else {
        ck_assert_msg(r.detail != NULL, "%s: a refusal says why", c->name);
    }
    /* every strict prefix of a head that parses is incomplete, not refused */
    if (got == HTTP1_OK)
        for (size_t n = 0; n < strlen(c->head); n++)
            ck_assert_msg(http1_request_parse((const uint8_t *)c->head, n, &r) == HTTP1_INCOMPLETE,
                          "%s: prefix %zu", c->name, n);
}
END_TEST

START_TEST(outcome_table)
{
    ck_assert_ptr_null(http1_outcome(HTTP1_INCOMPLETE));
    ck_assert_ptr_null(http1_outcome(HTTP1_OK));
    ck_assert_ptr_null(http1_outcome(HTTP1_RESULTS));
    const int want[HTTP1_RESULTS] = {[HTTP1_BAD] = 400,
                                     [HTTP1_TOO_LARGE] = 431,
                                     [HTTP1_VERSION] = 505,
                                     [HTTP1_LENGTH_REQUIRED] = 411,
                                     [HTTP1_EXPECTATION] = 417};
    for (int r = HTTP1_BAD; r < HTTP1_RESULTS; r++) {
        const struct http1_outcome *o = http1_outcome((enum http1_result)r);
        ck_assert_ptr_nonnull(o);
        ck_assert_int_eq(o->status, want[r]);
        ck_assert(o->body && o->body[0]);
    }
}
END_TEST

START_TEST(fields)
{
    struct http1_request r;
    const char *h = "\r\nPOST /v1/duty?x=1 HTTP/1.1\r\nHost: a\r\nX-Trace-ID:  t1 \r\n"
                    "Content-Length: 12\r\nExpect: 100-continue\r\n\r\nbody";
    ck_assert_int_eq(parse(h, &r), HTTP1_OK);
    ck_assert_uint_eq(r.head_len, strlen(h) - 4);
    ck_assert_str_eq(span(h, r.method), "POST");
    ck_assert_str_eq(span(h, r.target), "/v1/duty?x=1");
    ck_assert_str_eq(span(h, r.path), "/v1/duty");
    ck_assert_uint_eq(r.minor, 1);
    ck_assert(r.content_length == 12);
    ck_assert(r.keep_alive && r.expect_continue);
    ck_assert_uint_eq(r.nheaders, 2);
    ck_assert_str_eq(span(h, r.name[1]), "X-Trace-ID");
    ck_assert_str_eq(span(h, r.value[1]), "t1");
}
END_TEST

struct alive_case {
    const char *head;
    bool keep_alive;
};

START_TEST(keep_alive)
{
    static const struct alive_case kc[] = {
        {"GET / HTTP/1.1\r\n\r\n", true},
        {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", true},
        {"GET / HTTP/1.0\r\n\r\n", false},
        {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false},
    };
    for (size_t i = 0; i < ARRAY_LEN(kc); i++) {
        struct http1_request r;
        ck_assert_int_eq(parse(kc[i].head, &r), HTTP1_OK);
        ck_assert_msg(r.keep_alive == kc[i].keep_alive, "%s", kc[i].head);
    }
}
END_TEST

/* A head of exactly `size` bytes: request line, padding header, blank line. */
static char *head_of(size_t size)
{
    const char *pre = "GET / HTTP/1.1\r\nX-Pad: ";
    char *h = malloc(size + 1);
    size_t fill = size - strlen(pre) - 4;
    memcpy(h, pre, strlen(pre));
    memset(h + strlen(pre), 'a', fill);
    memcpy(h + strlen(pre) + fill, "\r\n\r\n", 5);
    return h;
}

START_TEST(size_caps)
{
    struct http1_request r;
    char *h = head_of(HTTP1_HEAD_MAX);
    ck_assert_int_eq(parse(h, &r), HTTP1_OK);
    ck_assert_uint_eq(r.head_len, HTTP1_HEAD_MAX);
    free(h);
    h = head_of(HTTP1_HEAD_MAX + 1);
    ck_assert_int_eq(parse(h, &r), HTTP1_TOO_LARGE);
    /* without its end, the head waits until the cap, then is refused */
    ck_assert_int_eq(http1_request_parse((const uint8_t *)h, HTTP1_HEAD_MAX - 1, &r),
                     HTTP1_INCOMPLETE);
    ck_assert_int_eq(http1_request_parse((const uint8_t *)h, HTTP1_HEAD_MAX, &r), HTTP1_TOO_LARGE);
    free(h);
    /* empty lines alone count too */
    char blank[HTTP1_HEAD_MAX];
    memset(blank, '\n', sizeof(blank));
    ck_assert_int_eq(http1_request_parse((const uint8_t *)blank, sizeof(blank), &r),
                     HTTP1_TOO_LARGE);

    struct buf b = BUF_INIT;
    buf_append_str(&b, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HTTP1_HEADERS_MAX; i++)
        buf_printf(&b, "X-%d: v\r\n", i);
    buf_append_str(&b, "\r\n");
    ck_assert_int_eq(http1_request_parse(b.data, b.len, &r), HTTP1_OK);
    ck_assert_uint_eq(r.nheaders, HTTP1_HEADERS_MAX);
    b.len -= 2;
    buf_append_str(&b, "X-last: v\r\n\r\n");
    ck_assert_int_eq(http1_request_parse(b.data, b.len, &r), HTTP1_TOO_LARGE);
    buf_free(&b);
}
END_TEST

START_TEST(forward_form)
{
    struct http1_request r;
    const char *h = "POST /v1/duty?x HTTP/1.0\nHost: a\nConnection: keep-alive\nKeep-Alive: 5\n"
                    "X-Trace-ID: t\nExpect: 100-continue\nTE: trailers\nUpgrade: h2c\n"
                    "Content-Length: 2\n\n";
    ck_assert_int_eq(parse(h, &r), HTTP1_OK);
    struct buf b = BUF_INIT;
    http1_request_forward((const uint8_t *)h, &r, &b);
    buf_append(&b, "", 1);
    /* the length first: civetweb ignores header lines beyond its 64th */
    ck_assert_str_eq((char *)b.data, "POST /v1/duty?x HTTP/1.1\r\nContent-Length: 2\r\nHost: a\r\n"
                                     "X-Trace-ID: t\r\n\r\n");
    buf_free(&b);

    ck_assert_int_eq(parse("GET /health HTTP/1.1\r\n\r\n", &r), HTTP1_OK);
    http1_request_forward((const uint8_t *)"GET /health HTTP/1.1\r\n\r\n", &r, &b);
    buf_append(&b, "", 1);
    ck_assert_str_eq((char *)b.data, "GET /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    buf_free(&b);
}
END_TEST

/* What is forwarded parses again to the same request. */
START_TEST(forward_reparses)
{
    const struct head_case *c = &cases[_i];
    struct http1_request r, r2;
    if (parse(c->head, &r) != HTTP1_OK)
        return;
    struct buf b = BUF_INIT;
    http1_request_forward((const uint8_t *)c->head, &r, &b);
    ck_assert_int_eq(http1_request_parse(b.data, b.len, &r2), HTTP1_OK);
    ck_assert_uint_eq(r2.head_len, b.len);
    ck_assert_uint_le(r2.nheaders + 1, 64); /* civetweb's limit, the length line included */
    ck_assert(r2.content_length == r.content_length);
    ck_assert_uint_eq(r2.nheaders, r.nheaders);
    ck_assert_str_eq(span((char *)b.data, r2.target), span(c->head, r.target));
    ck_assert(!r2.expect_continue && r2.keep_alive);
    buf_free(&b);
}
END_TEST

struct resp_case {
    const char *name;
    const char *text;
    bool head;
    enum http1_result want;
    int status;
    uint64_t body_len;
    bool close;
};

static const struct resp_case resp_cases[] = {
    {"ok", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n", false, HTTP1_OK, 200, 3, false},
    {"no reason", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", false, HTTP1_OK, 404, 0, false},
    {"answer to HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", true, HTTP1_OK, 200, 0,
     false},
    {"204 without length", "HTTP/1.1 204 No Content\r\n\r\n", false, HTTP1_OK, 204, 0, false},
    {"close", "HTTP/1.1 400 Bad\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", false,
     HTTP1_OK, 400, 1, true},
    {"no length", "HTTP/1.1 200 OK\r\n\r\nok", false, HTTP1_BAD, 0, 0, false},
    {"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, HTTP1_BAD, 0, 0,
     false},
    {"interim", "HTTP/1.1 100 Continue\r\n\r\n", false, HTTP1_BAD, 0, 0, false},
    {"status 600", "HTTP/1.1 600 X\r\nContent-Length: 0\r\n\r\n", false, HTTP1_BAD, 0, 0, false},
    {"status 2000", "HTTP/1.1 2000 X\r\nContent-Length: 0\r\n\r\n", false, HTTP1_BAD, 0, 0, false},
    {"not http", "HTTX/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, HTTP1_BAD, 0, 0, false},
    {"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", false,
     HTTP1_BAD, 0, 0, false},
};

START_TEST(responses)
{
    const struct resp_case *c = &resp_cases[_i];
    struct http1_response r;
    size_t n = strlen(c->text);
    enum http1_result got = http1_response_parse((const uint8_t *)c->text, n, c->head, &r);
    ck_assert_msg(got == c->want, "%s: got %d", c->name, got);
    if (got != HTTP1_OK)
        return;
    ck_assert_int_eq(r.status, c->status);
    ck_assert(r.body_len == c->body_len);
    ck_assert(r.close == c->close && r.has_connection == c->close);
    ck_assert_uint_eq(r.status_len, (size_t)(strstr(c->text, "\r\n") - c->text) + 2);
    ck_assert_uint_eq(r.head_len, (size_t)(strstr(c->text, "\r\n\r\n") - c->text) + 4);
    for (size_t k = 0; k < r.head_len; k++)
        ck_assert_int_eq(http1_response_parse((const uint8_t *)c->text, k, c->head, &r),
                         HTTP1_INCOMPLETE);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http1");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, table_rows, 0, (int)ARRAY_LEN(cases));
    tcase_add_test(tc, outcome_table);
    tcase_add_test(tc, fields);
    tcase_add_test(tc, keep_alive);
    tcase_add_test(tc, size_caps);
    tcase_add_test(tc, forward_form);
    tcase_add_loop_test(tc, forward_reparses, 0, (int)ARRAY_LEN(cases));
    tcase_add_loop_test(tc, responses, 0, (int)ARRAY_LEN(resp_cases));
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
