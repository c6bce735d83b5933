/* Unit tests for lib/httpc against a one-shot server in a child process: status line, headers,
 * chunked bodies, and the malformed answers it must refuse without trusting their numbers. */
#include <arpa/inet.h>
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/httpc.h"

static pid_t server;

/* Listen on a free loopback port; a child answers one request with resp and exits. */
static void serve_once(const char *resp, char *hostport, size_t n)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, 1), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    snprintf(hostport, n, "127.0.0.1:%u", ntohs(a.sin_port));
    server = fork();
    ck_assert_int_ge(server, 0);
    if (server == 0) {
        int c = accept(fd, NULL, NULL);
        char req[4096];
        size_t got = 0;
        while (c >= 0 && got < sizeof(req) - 1) {
            ssize_t r = read(c, req + got, sizeof(req) - 1 - got);
            if (r <= 0)
                break;
            got += (size_t)r;
            req[got] = 0;
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        if (c >= 0 && write(c, resp, strlen(resp)) < 0)
            _exit(1);
        _exit(0);
    }
    close(fd);
}

static int get(const char *resp, struct http_response *r, char *err, size_t errsz)
{
    char hp[32];
    serve_once(resp, hp, sizeof(hp));
    memset(r, 0, sizeof(*r));
    int rc = http_request(hp, "GET", "/status", NULL, NULL, 0, 5000, r, err, errsz);
    int st;
    waitpid(server, &st, 0);
    return rc;
}

START_TEST(plain_and_chunked)
{
    struct http_response r;
    char err[256], v[64];
    ck_assert_int_eq(
        get("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n", &r, err, sizeof(err)), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body.len, 3);
    ck_assert_int_eq(memcmp(r.body.data, "ok\n", 3), 0);
    ck_assert_int_eq(http_header(&r, "content-type", v, sizeof(v)), 0);
    ck_assert_str_eq(v, "text/plain");
    ck_assert_int_eq(http_header(&r, "X-Missing", v, sizeof(v)), -1);
    http_response_free(&r);

    ck_assert_int_eq(get("HTTP/1.0 404\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                         &r, err, sizeof(err)),
                     0);
    ck_assert_int_eq(r.status, 404);
    ck_assert_uint_eq(r.body.len, 5);
    ck_assert_int_eq(memcmp(r.body.data, "abcde", 5), 0);
    http_response_free(&r);
}
END_TEST

START_TEST(malformed_answers)
{
    static const char *const bad[] = {
        "HTTP/1.1 99999999999999999999 Overflow\r\n\r\n", /* sscanf("%d") was undefined here */
        "HTTP/1.1 20 Short\r\n\r\n",
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno end of headers",
        "",
    };
    struct http_response r;
    char err[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(get(bad[i], &r, err, sizeof(err)) == -1, "accepted: %s", bad[i]);
        ck_assert_str_eq(err, "malformed response");
        http_response_free(&r);
    }
    /* A chunk size that wraps the bounds check (ULONG_MAX) or is no number at all. */
    static const char *const chunked[] = {
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nshort\r\n",
        /* the last chunk's data ends the body: the next size would be read past it */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(chunked) / sizeof(chunked[0]); i++) {
        ck_assert_msg(get(chunked[i], &r, err, sizeof(err)) == -1, "accepted: %s", chunked[i]);
        ck_assert_str_eq(err, "malformed chunked body");
        http_response_free(&r);
    }
}
END_TEST

START_TEST(connection_refused)
{
    struct http_response r;
    char err[256], hp[32];
    serve_once("", hp, sizeof(hp)); /* the port is free again once the child is done */
    int st;
    kill(server, SIGKILL);
    waitpid(server, &st, 0);
    memset(&r, 0, sizeof(r));
    ck_assert_int_eq(http_request(hp, "GET", "/", NULL, NULL, 0, 2000, &r, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, hp));
    http_response_free(&r);
    ck_assert_int_eq(http_request("no-port", "GET", "/", NULL, NULL, 0, 2000, &r, err, sizeof(err)),
                     -1);
    http_response_free(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("httpc");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, plain_and_chunked);
    tcase_add_test(tc, malformed_answers);
    tcase_add_test(tc, connection_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
