/* Unit tests for aequactl tx (cli/cmd_tx.c, called in-process): key files, signatures that the
 * node's decoder accepts, and submit/status against a scripted HTTP peer on loopback (the
 * node's routes are tested end to end with the builder). */
#include <arpa/inet.h>
#include <check.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/aequactl.h"
#include "lib/lock.h"
#include "lib/util.h"
#include "proto/tx.h"

static char dir[64], lock_path[PATH_MAX], key_path[PATH_MAX];
static struct lock lk;

static void setup(void)
{
    char err[512];
    snprintf(dir, sizeof(dir), "/tmp/aequa-test-txcli-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct node_key op;
    node_key_generate(&op);
    const char *addrs[] = {"127.0.0.1:4640"};
    struct buf text = BUF_INIT;
    ck_assert_int_eq(lock_create(&text, "txcli", 1, 1, &op, addrs, err, sizeof(err)), 0);
    snprintf(lock_path, sizeof(lock_path), "%s/cluster-lock.json", dir);
    ck_assert_int_eq(write_file_atomic(lock_path, text.data, text.len, 0644), 0);
    ck_assert_msg(lock_load(&lk, lock_path, err, sizeof(err)) == 0, "%s", err);
    buf_free(&text);
    snprintf(key_path, sizeof(key_path), "%s/sender.key", dir);
}

static void teardown(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Run cmd_tx with stdout captured into out (NUL-terminated, caller frees). */
static int run(char **out, int argc, char **argv)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/stdout", dir);
    fflush(stdout);
    int saved = dup(1);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    dup2(fileno(f), 1);
    int rc = cmd_tx(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(f);
    size_t len;
    ck_assert_int_eq(read_file(path, 1 << 20, out, &len), 0);
    return rc;
}

#define RUN(out, ...)                                                                              \
    ({                                                                                             \
        char *argv_[] = {"tx", __VA_ARGS__, NULL};                                                 \
        run(out, (int)ARRAY_LEN(argv_) - 1, argv_);                                                \
    })

START_TEST(key_file_and_address)
{
    char *out, err[256];
    ck_assert_int_eq(RUN(&out, "key", "--out", key_path), 0);
    struct node_key k;
    ck_assert_msg(node_key_load(&k, key_path, err, sizeof(err)) == 0, "%s", err);
    struct stat st;
    ck_assert_int_eq(stat(key_path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    uint8_t a[ADDR_LEN];
    char hex[2 * ADDR_LEN + 2];
    pubkey_address(k.pub, a);
    hex_encode(hex, a, ADDR_LEN);
    hex[2 * ADDR_LEN] = '\n';
    hex[2 * ADDR_LEN + 1] = '\0';
    ck_assert_str_eq(out, hex);
    free(out);
    /* never over an existing file */
    ck_assert_int_eq(RUN(&out, "key", "--out", key_path), 1);
    free(out);
    struct node_key again;
    ck_assert_int_eq(node_key_load(&again, key_path, err, sizeof(err)), 0);
    ck_assert(memcmp(again.sec, k.sec, SECKEY_LEN) == 0);
}
END_TEST

START_TEST(sign_verifies_with_the_decoder)
{
    char *out;
    ck_assert_int_eq(RUN(&out, "key", "--out", key_path), 0);
    free(out);
    ck_assert_int_eq(RUN(&out, "sign", "--key", key_path, "--lock", lock_path, "--nonce", "42",
                         "--gas", "21000", "--fee", "18446744073709551615", "--data", "00FFab"),
                     0);
    size_t n = strlen(out);
    ck_assert(n > 0 && out[n - 1] == '\n');
    struct tx *tx;
    struct tx_error e;
    ck_assert_msg(tx_json_decode((uint8_t *)out, n - 1, 4096, lk.hash, &tx, &e) == 0, "%s",
                  e.detail);
    ck_assert_int_eq(tx_verify(tx, lk.hash, &e), 0);
    ck_assert_uint_eq(tx->nonce, 42);
    ck_assert_uint_eq(tx->gas, 21000);
    ck_assert_uint_eq(tx->fee, UINT64_MAX);
    ck_assert_uint_eq(tx->data_len, 3);
    ck_assert(memcmp(tx->data, "\x00\xff\xab", 3) == 0);
    /* bound to this lock */
    uint8_t other[SHA256_LEN] = {0};
    ck_assert_int_eq(tx_verify(tx, other, &e), -1);
    tx_free(tx);
    free(out);
}
END_TEST

START_TEST(usage_and_lock_errors)
{
    char *out;
    ck_assert_int_eq(RUN(&out, "key", "--out", key_path), 0);
    free(out);
    ck_assert_int_eq(RUN(&out, "sign", "--key", key_path, "--lock", lock_path, "--nonce", "1"), 2);
    free(out);
    ck_assert_int_eq(RUN(&out, "sign", "--key", key_path, "--lock", lock_path, "--nonce", "-1",
                         "--gas", "1", "--fee", "1"),
                     2);
    free(out);
    ck_assert_int_eq(RUN(&out, "sign", "--key", key_path, "--lock", lock_path, "--nonce", "1",
                         "--gas", "1", "--fee", "1", "--data", "abc"),
                     2);
    free(out);
    ck_assert_int_eq(RUN(&out, "sign", "--key", key_path, "--lock", "/nonexistent", "--nonce", "1",
                         "--gas", "1", "--fee", "1"),
                     78);
    free(out);
    ck_assert_int_eq(RUN(&out, "key", "--out", key_path, "--fee", "1"), 2);
    free(out);
    ck_assert_int_eq(RUN(&out, "status", "xyz"), 2);
    free(out);
    ck_assert_int_eq(RUN(&out, "nope"), 2);
    free(out);
}
END_TEST

/* ---- a scripted HTTP peer ---- */

#define PEER_MAX 8

struct peer {
    int fd;
    uint16_t port;
    int nscript;
    struct {
        int status;
        char body[512];
    } script[PEER_MAX];
    struct {
        char method[8], path[128];
        char body[16384];
    } seen[PEER_MAX];
    int nseen;
};

/* Answer one connection per script row; the first row's body may contain "%H", replaced by the
 * hash of the tx posted (computed as the node would). */
static void *peer_main(void *arg)
{
    struct peer *p = arg;
    for (int i = 0; i < p->nscript; i++) {
        int c = accept(p->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char req[20000];
        size_t n = 0;
        char *end = NULL;
        while (n < sizeof(req) - 1 && !end) {
            ssize_t r = recv(c, req + n, sizeof(req) - 1 - n, 0);
            if (r <= 0)
                break;
            n += (size_t)r;
            req[n] = 0;
            end = strstr(req, "\r\n\r\n");
        }
        const char *cl = strcasestr(req, "Content-Length:");
        size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
        while (end && n < sizeof(req) - 1 && (size_t)(req + n - (end + 4)) < want) {
            ssize_t r = recv(c, req + n, sizeof(req) - 1 - n, 0);
            if (r <= 0)
                break;
            n += (size_t)r;
            req[n] = 0;
        }
        sscanf(req, "%7s %127s", p->seen[i].method, p->seen[i].path);
        snprintf(p->seen[i].body, sizeof(p->seen[i].body), "%s", end ? end + 4 : "");
        p->nseen++;
        char body[1024];
        const char *h = strstr(p->script[i].body, "%H");
        if (h) {
            struct tx *tx;
            char hex[2 * SHA256_LEN + 1] = "none";
            if (tx_json_decode((uint8_t *)p->seen[i].body, strlen(p->seen[i].body), 4096, lk.hash,
                               &tx, NULL) == 0) {
                hex_encode(hex, tx->hash, SHA256_LEN);
                tx_free(tx);
            }
            snprintf(body, sizeof(body), "%.*s%s%s", (int)(h - p->script[i].body),
                     p->script[i].body, hex, h + 2);
        } else {
            snprintf(body, sizeof(body), "%s", p->script[i].body);
        }
        char resp[2048];
        int len = snprintf(resp, sizeof(resp),
                           "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: "
                           "%zu\r\nConnection: close\r\n\r\n%s",
                           p->script[i].status, strlen(body), body);
        ck_assert_int_eq(send(c, resp, (size_t)len, MSG_NOSIGNAL), len);
        close(c);
    }
    return NULL;
}

static void peer_start(struct peer *p, pthread_t *t)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    p->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(p->fd, 0);
    ck_assert_int_eq(bind(p->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(p->fd, 8), 0);
    ck_assert_int_eq(getsockname(p->fd, (struct sockaddr *)&sa, &sl), 0);
    p->port = ntohs(sa.sin_port);
    ck_assert_int_eq(pthread_create(t, NULL, peer_main, p), 0);
}

START_TEST(submit_wait_and_status)
{
    char *out, api[32], tx_hash[2 * SHA256_LEN + 1];
    ck_assert_int_eq(RUN(&out, "key", "--out", key_path), 0);
    free(out);
    static struct peer p = {
        .nscript = 4,
        .script = {{202, "{\"hash\":\"%H\",\"status\":\"pending\"}"},
                   {404, "unknown"},
                   {200, "{\"status\":\"pending\"}"},
                   {200, "{\"status\":\"included\",\"height\":7}"}},
    };
    pthread_t t;
    peer_start(&p, &t);
    snprintf(api, sizeof(api), "127.0.0.1:%u", p.port);
    ck_assert_int_eq(RUN(&out, "submit", "--api", api, "--wait", "--timeout", "60", "--key",
                         key_path, "--lock", lock_path, "--nonce", "0", "--gas", "1", "--fee", "2"),
                     0);
    pthread_join(t, NULL);
    close(p.fd);
    ck_assert_int_eq(p.nseen, 4);
    ck_assert_str_eq(p.seen[0].method, "POST");
    ck_assert_str_eq(p.seen[0].path, "/v1/tx/plain");
    struct tx *tx;
    ck_assert_int_eq(
        tx_json_decode((uint8_t *)p.seen[0].body, strlen(p.seen[0].body), 4096, lk.hash, &tx, NULL),
        0);
    ck_assert_int_eq(tx_verify(tx, lk.hash, NULL), 0);
    hex_encode(tx_hash, tx->hash, SHA256_LEN);
    tx_free(tx);
    char want_path[128], want_out[256];
    snprintf(want_path, sizeof(want_path), "/v1/tx/%s", tx_hash);
    for (int i = 1; i < 4; i++) {
        ck_assert_str_eq(p.seen[i].method, "GET");
        ck_assert_str_eq(p.seen[i].path, want_path);
    }
    snprintf(want_out, sizeof(want_out), "{\"hash\":\"%s\",\"status\":\"pending\"}\nincluded 7\n",
             tx_hash);
    ck_assert_str_eq(out, want_out);
    free(out);

    /* a refusal is a failure with the node's answer; status of a known and an unknown hash */
    static struct peer q = {
        .nscript = 3,
        .script = {{409, "underpriced\n"}, {200, "{\"status\":\"queued\"}"}, {404, "unknown\n"}},
    };
    peer_start(&q, &t);
    snprintf(api, sizeof(api), "127.0.0.1:%u", q.port);
    ck_assert_int_eq(RUN(&out, "submit", "--api", api, "--key", key_path, "--lock", lock_path,
                         "--nonce", "0", "--gas", "1", "--fee", "2"),
                     1);
    ck_assert_str_eq(out, "");
    free(out);
    ck_assert_int_eq(RUN(&out, "status", "--api", api, tx_hash), 0);
    ck_assert_str_eq(out, "{\"status\":\"queued\"}\n");
    free(out);
    ck_assert_int_eq(RUN(&out, "status", "--api", api, tx_hash), 1);
    free(out);
    pthread_join(t, NULL);
    close(q.fd);
    ck_assert_str_eq(q.seen[1].path, want_path);
}
END_TEST

START_TEST(submit_a_file)
{
    char *out, *signed_json, api[32], path[PATH_MAX];
    ck_assert_int_eq(RUN(&out, "key", "--out", key_path), 0);
    free(out);
    ck_assert_int_eq(RUN(&signed_json, "sign", "--key", key_path, "--lock", lock_path, "--nonce",
                         "3", "--gas", "1", "--fee", "1"),
                     0);
    snprintf(path, sizeof(path), "%s/tx.json", dir);
    ck_assert_int_eq(write_file_atomic(path, signed_json, strlen(signed_json), 0644), 0);
    static struct peer p = {.nscript = 1, .script = {{202, "{\"hash\":\"%H\"}"}}};
    pthread_t t;
    peer_start(&p, &t);
    snprintf(api, sizeof(api), "127.0.0.1:%u", p.port);
    ck_assert_int_eq(RUN(&out, "submit", "--api", api, path), 0);
    free(out);
    pthread_join(t, NULL);
    close(p.fd);
    /* the file is sent as it is, without its final newline */
    signed_json[strlen(signed_json) - 1] = 0;
    ck_assert_str_eq(p.seen[0].body, signed_json);
    ck_assert_int_eq(RUN(&out, "submit", "--api", api, path, "--nonce", "1"), 2);
    free(out);
    free(signed_json);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tx_cli");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, key_file_and_address);
    tcase_add_test(tc, sign_verifies_with_the_decoder);
    tcase_add_test(tc, usage_and_lock_errors);
    tcase_add_test(tc, submit_wait_and_status);
    tcase_add_test(tc, submit_a_file);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
