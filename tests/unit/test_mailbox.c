/* Unit tests for ipc/mailbox: dispatch checks, request/reply, deadlines, queued sends, sender
 * checks and admission, redials, over real nng ipc:// sockets in a temporary runtime dir, two
 * mailboxes on one libev loop. Linked with -Wl,--wrap=nng_dial (see __wrap_nng_dial). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <nng/nng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/mailbox.h"
#include "lib/log.h"
#include "lib/util.h"
#include "proto/workers.h"

#define T_PING   0x7001
#define T_PONG   0x7002
#define T_SILENT 0x7003

static char rtdir[64];
static struct ev_loop *loop;

/*
 * With stuck_p2p_dials set, every dialer to the P2P mailbox reaches it through a symlink of its
 * own ("p2p.ipc.dial-N"); removing a dialer's link leaves that dialer retrying a path that is not
 * there, never connecting again, as nng 1.5.2's dialer can after its peer died in the middle of
 * a connection (nanomsg/nng#970). A new dialer gets a new link that works.
 */
static bool stuck_p2p_dials;
static int p2p_dials;
int __real_nng_dial(nng_socket s, const char *url, nng_dialer *d, int flags);
int __wrap_nng_dial(nng_socket s, const char *url, nng_dialer *d, int flags);
int __wrap_nng_dial(nng_socket s, const char *url, nng_dialer *d, int flags)
{
    const char *tail = "/p2p.ipc";
    size_t n = strlen(url), t = strlen(tail);
    if (!stuck_p2p_dials || n < t || strcmp(url + n - t, tail) != 0)
        return __real_nng_dial(s, url, d, flags);
    char link[160], alias[180];
    snprintf(link, sizeof(link), "%s/p2p.ipc.dial-%d", rtdir, p2p_dials++);
    ck_assert_int_eq(symlink("p2p.ipc", link), 0);
    snprintf(alias, sizeof(alias), "ipc://%s", link);
    return __real_nng_dial(s, alias, d, flags);
}

struct state {
    int pings;
    int silent;
    int replies;
    int timeouts;
    int drained;
    char last_body[64];
    char last_trace[72];
};

static void on_ping(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    struct state *s = ctx;
    s->pings++;
    snprintf(s->last_trace, sizeof(s->last_trace), "%s", e->trace_id);
    mailbox_reply(mb, e, T_PONG, e->body, e->body_len);
}

static void on_silent(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)mb;
    (void)e;
    ((struct state *)ctx)->silent++;
}

static const struct dispatch_entry rows[] = {
    {T_PING, WBIT(W_API), 1, 16, on_ping},
    {T_SILENT, WBIT(W_API) | WBIT(W_P2P), 0, 1024, on_silent},
};
static const struct dispatch_table table = {rows, 2};

static void on_drained(struct mailbox *mb, void *ctx)
{
    (void)mb;
    ((struct state *)ctx)->drained++;
}

static void on_reply(struct mailbox *mb, int status, const struct envelope *e, void *arg)
{
    (void)mb;
    struct state *s = arg;
    if (status == 0) {
        s->replies++;
        snprintf(s->last_body, sizeof(s->last_body), "%.*s", (int)e->body_len, e->body);
    } else if (status == -ETIMEDOUT) {
        s->timeouts++;
    }
    ev_break(loop, EVBREAK_ALL);
}

static struct mailbox *open_mb(unsigned self, struct state *s, unsigned flags)
{
    char err[256];
    struct mailbox_opts o = {.runtime_dir = rtdir,
                             .self = self,
                             .tables = &table,
                             .ntables = 1,
                             .ctx = s,
                             .on_drained = on_drained,
                             .flags = flags};
    struct mailbox *mb = mailbox_open(loop, &o, err, sizeof(err));
    ck_assert_msg(mb != NULL, "%s", err);
    return mb;
}

/* Run the loop until cond or a generous safety limit (the test fails on the limit). */
static void run_until(int *counter, int target)
{
    for (int i = 0; i < 5000 && *counter < target; i++)
        ev_run(loop, EVRUN_ONCE);
}

/* Send T_SILENT to W_QBFT every `every` loop wakeups (at least every 100 ms) until *counter
 * moves or the tries run out: what reaches a dead or deaf incarnation is lost, so the sender
 * retries, as the workers do. */
static void resend_until(struct mailbox *from, int *counter, int tries, int every)
{
    for (int i = 0; i < tries && *counter == 0; i++) {
        if (i % every == 0)
            mailbox_send(from, W_QBFT, T_SILENT, "again", 5);
        ev_run(loop, EVRUN_ONCE);
    }
}

static void setup(void)
{
    snprintf(rtdir, sizeof(rtdir), "/tmp/aequa-mbtest-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(rtdir));
    loop = ev_loop_new(EVFLAG_AUTO);
}

static void teardown(void)
{
    ev_loop_destroy(loop);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", rtdir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(dispatch_checks)
{
    struct envelope e = {.type = T_PING, .source = W_API, .body_len = 4};
    const struct dispatch_entry *r = dispatch_find(&table, 1, T_PING);
    ck_assert_ptr_eq(r, &rows[0]);
    ck_assert_ptr_null(dispatch_find(&table, 1, 0x7fff));
    ck_assert_ptr_null(dispatch_check(r, &e));
    e.source = W_QBFT;
    ck_assert_str_eq(dispatch_check(r, &e), "sender not allowed for this type");
    e.source = W_API;
    e.body_len = 0;
    ck_assert_str_eq(dispatch_check(r, &e), "body too small");
    e.body_len = 17;
    ck_assert_str_eq(dispatch_check(r, &e), "body too large");
    e.body_len = 16;
    ck_assert_ptr_null(dispatch_check(r, &e));
    e.source = 200;
    ck_assert_ptr_nonnull(dispatch_check(r, &e));
}
END_TEST

START_TEST(request_reply_with_trace)
{
    struct state a = {0}, b = {0};
    struct mailbox *ma = open_mb(W_API, &a, 0);
    struct mailbox *mb = open_mb(W_QBFT, &b, 0);
    log_set_trace("trace-xyz");
    ck_assert_int_eq(mailbox_request(ma, W_QBFT, T_PING, T_PONG, "hello", 5, 5000, on_reply, &a),
                     0);
    log_set_trace(NULL);
    ck_assert_uint_eq(mailbox_pending(ma), 1);
    run_until(&a.replies, 1);
    ck_assert_int_eq(a.replies, 1);
    ck_assert_int_eq(b.pings, 1);
    ck_assert_str_eq(a.last_body, "hello");
    ck_assert_str_eq(b.last_trace, "trace-xyz");
    ck_assert_uint_eq(mailbox_pending(ma), 0);
    ck_assert_int_ge(b.drained, 1);
    mailbox_close(ma);
    mailbox_close(mb);
}
END_TEST

START_TEST(deadline_fires_once)
{
    struct state a = {0}, b = {0};
    struct mailbox *ma = open_mb(W_API, &a, 0);
    struct mailbox *mb = open_mb(W_QBFT, &b, 0);
    ck_assert_int_eq(mailbox_request(ma, W_QBFT, T_SILENT, T_PONG, "x", 1, 50, on_reply, &a), 0);
    run_until(&a.timeouts, 1);
    ck_assert_int_eq(a.timeouts, 1);
    ck_assert_int_eq(a.replies, 0);
    ck_assert_uint_eq(mailbox_pending(ma), 0);
    mailbox_close(ma);
    mailbox_close(mb);
}
END_TEST

START_TEST(queued_until_destination_listens)
{
    /* The destination starts after the message was sent: the send is queued, not lost. */
    struct state a = {0}, b = {0};
    struct mailbox *ma = open_mb(W_API, &a, 0);
    ck_assert_int_eq(mailbox_send(ma, W_QBFT, T_SILENT, "early", 5), 0);
    struct mailbox *mb = open_mb(W_QBFT, &b, 0);
    run_until(&b.silent, 1);
    ck_assert_int_eq(b.silent, 1);
    mailbox_close(ma);
    mailbox_close(mb);
}
END_TEST

START_TEST(disallowed_sender_dropped)
{
    struct state a = {0}, b = {0};
    struct mailbox *ma = open_mb(W_BUILDER, &a, 0);
    struct mailbox *mb = open_mb(W_QBFT, &b, MAILBOX_DROP_VIOLATIONS);
    ck_assert_int_eq(mailbox_send(ma, W_QBFT, T_PING, "x", 1), 0); /* builder may not ping */
    ck_assert_int_eq(mailbox_send(ma, W_QBFT, 0x7777, "x", 1), 0); /* unknown type */
    ck_assert_int_eq(mailbox_send(ma, W_QBFT, T_PING, "toolongforthisrow", 17), 0);
    int seen = 0;
    for (int i = 0; i < 5000 && seen < 3; i++) {
        ev_run(loop, EVRUN_ONCE);
        seen = (int)mailbox_violations(mb);
    }
    ck_assert_int_eq(seen, 3);
    ck_assert_int_eq(b.pings, 0);
    /* The receiver is still alive and serving an allowed sender. */
    struct state c = {0};
    struct mailbox *mc = open_mb(W_API, &c, 0);
    ck_assert_int_eq(mailbox_send(mc, W_QBFT, T_SILENT, "ok", 2), 0);
    run_until(&b.silent, 1);
    ck_assert_int_eq(b.silent, 1);
    mailbox_close(ma);
    mailbox_close(mb);
    mailbox_close(mc);
}
END_TEST

START_TEST(violation_is_fatal_by_default)
{
    struct state a = {0}, b = {0};
    struct mailbox *ma = open_mb(W_BUILDER, &a, 0);
    struct mailbox *mb = open_mb(W_QBFT, &b, 0);
    ck_assert_int_eq(mailbox_send(ma, W_QBFT, T_PING, "x", 1), 0);
    for (int i = 0; i < 5000; i++)
        ev_run(loop, EVRUN_ONCE); /* exits(1) on receipt */
    (void)mb;
}
END_TEST

START_TEST(oversize_body_refused)
{
    struct state a = {0};
    struct mailbox *ma = open_mb(W_API, &a, 0);
    size_t n = IPC_MAX_MSG;
    char *big = calloc(1, n);
    ck_assert_int_eq(mailbox_send(ma, W_QBFT, T_SILENT, big, n), -EMSGSIZE);
    free(big);
    mailbox_close(ma);
}
END_TEST

START_TEST(close_cancels_pending)
{
    struct state a = {0};
    struct mailbox *ma = open_mb(W_API, &a, 0);
    ck_assert_int_eq(mailbox_request(ma, W_QBFT, T_PING, T_PONG, "x", 1, 5000, on_reply, &a), 0);
    mailbox_close(ma);
    ck_assert_int_eq(a.replies, 0);
    ck_assert_int_eq(a.timeouts, 0);
}
END_TEST

START_TEST(destination_restarts)
{
    /* The receiving process goes away and a new incarnation listens on the same path: messages
     * reach the new one (the sender redials a socket that lost its connection). */
    struct state a = {0}, b = {0}, c = {0};
    struct mailbox *ma = open_mb(W_API, &a, 0);
    struct mailbox *mb = open_mb(W_QBFT, &b, 0);
    ck_assert_int_eq(mailbox_send(ma, W_QBFT, T_SILENT, "1", 1), 0);
    run_until(&b.silent, 1);
    ck_assert_int_eq(b.silent, 1);
    mailbox_close(mb);
    struct mailbox *mc = open_mb(W_QBFT, &c, 0);
    /* What is sent before the sender sees the old connection close is lost. */
    resend_until(ma, &c.silent, 2000, 1);
    ck_assert_int_ge(c.silent, 1);
    mailbox_close(ma);
    mailbox_close(mc);
}
END_TEST

START_TEST(timeouts_keep_queued_sends)
{
    /* Requests to a destination that is down time out; what was queued for it after them must
     * still reach it when it comes up (a timeout is no reason to throw a socket away). */
    struct state a = {0}, b = {0};
    struct mailbox *ma = open_mb(W_API, &a, 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(mailbox_request(ma, W_QBFT, T_PING, T_PONG, "x", 1, 20, on_reply, &a), 0);
    ck_assert_int_eq(mailbox_send(ma, W_QBFT, T_SILENT, "kept", 4), 0);
    run_until(&a.timeouts, 4);
    ck_assert_int_eq(a.timeouts, 4);
    struct mailbox *mb = open_mb(W_QBFT, &b, 0);
    run_until(&b.silent, 1);
    ck_assert_int_eq(b.silent, 1);
    mailbox_close(ma);
    mailbox_close(mb);
}
END_TEST

/* A child process that, once told to through fd, opens the API's mailbox, pings the QBFT
 * mailbox and exits 0 when the answer came back (1 if not). Forked before this test touches nng:
 * nng is not fork-safe. */
static pid_t ping_child(int *go)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char c;
        close(fds[1]);
        if (read(fds[0], &c, 1) != 1)
            _exit(2);
        loop = ev_loop_new(EVFLAG_AUTO);
        struct state s = {0};
        struct mailbox *m = open_mb(W_API, &s, 0);
        /* Like any requester, it retries: a reply sent just before the sender noticed that the
         * previous incarnation's connection closed goes to that connection and is lost. */
        for (int i = 0; i < 6 && s.replies == 0; i++) {
            mailbox_request(m, W_QBFT, T_PING, T_PONG, "hi", 2, 500, on_reply, &s);
            ev_run(loop, 0); /* on_reply breaks, with the answer or at the deadline */
        }
        _exit(s.replies >= 1 ? 0 : 1);
    }
    close(fds[0]);
    *go = fds[1];
    return pid;
}

START_TEST(restarted_peer_gets_replies)
{
    /* The API "process" restarts between two requests: the sender's socket finds the second
     * incarnation at the same address and the replies reach it. */
    int go1, go2, status;
    pid_t c1 = ping_child(&go1), c2 = ping_child(&go2);
    struct state q = {0};
    struct mailbox *mq = open_mb(W_QBFT, &q, 0);
    ck_assert_int_eq(write(go1, "x", 1), 1);
    run_until(&q.pings, 1);
    mailbox_flush(mq);
    ck_assert_int_eq(waitpid(c1, &status, 0), c1);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "first child got no reply");
    ck_assert_int_eq(write(go2, "x", 1), 1);
    /* Serve its (possibly repeated) pings until it exits. */
    pid_t done = 0;
    for (int i = 0; i < 20000 && done == 0; i++) {
        ev_run(loop, EVRUN_NOWAIT);
        mailbox_flush(mq);
        if ((done = waitpid(c2, &status, WNOHANG)) == 0)
            usleep(500);
    }
    ck_assert_int_eq(done, c2);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "second child got no reply");
    mailbox_close(mq);
}
END_TEST

/* Connect to a mailbox's socket and close at once, before nng's handshake: with nng 1.5.2 this
 * leaves the listener accepting nothing more (nanomsg/nng#1518). */
static void connect_and_close(unsigned id)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s/%s.ipc", rtdir, worker_name(id));
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    close(fd);
}

/* What this test process logged to log.txt (its stderr, redirected): static storage. */
static const char *logged(void)
{
    static char text[1 << 16];
    FILE *f = fopen("log.txt", "r");
    size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
    text[n] = 0;
    if (f)
        fclose(f);
    return text;
}

START_TEST(stuck_dialer_redialled_when_peer_heard)
{
    /* The P2P "process" restarts while the API's dialer to it is stuck. The new incarnation
     * speaks first: the API, hearing from a peer it cannot reach, replaces its dialer at once
     * (ipc_redial reason peer_heard), not only at the REDIAL_AFTER_MS check. */
    struct state a = {0}, b = {0}, c = {0};
    ck_assert_int_eq(chdir(rtdir), 0);
    int fd = open("log.txt", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_eq(dup2(fd, 2), 2);
    stuck_p2p_dials = true;
    struct mailbox *ma = open_mb(W_API, &a, 0);
    struct mailbox *mb = open_mb(W_P2P, &b, 0);
    ck_assert_int_eq(mailbox_send(ma, W_P2P, T_SILENT, "1", 1), 0);
    run_until(&b.silent, 1);
    ck_assert_int_eq(b.silent, 1);
    mailbox_close(mb);
    ck_assert_int_eq(unlink("p2p.ipc.dial-0"), 0); /* that dialer is stuck from now on */
    /* Only a peer heard while the socket to it has no connection is a sign of a stuck dialer:
     * wait until the API's socket has seen the old connection close (nng notices on its own
     * thread), or the new incarnation's first words are taken for the old one's. */
    for (int i = 0; i < 5000 && mailbox_connected(ma, W_P2P); i++)
        usleep(1000);
    ck_assert(!mailbox_connected(ma, W_P2P));
    struct mailbox *mc = open_mb(W_P2P, &c, 0);
    /* Both keep speaking until the API's messages reach the new incarnation. */
    for (int i = 0; i < 2000 && c.silent == 0; i++) {
        if (i % 10 == 0) {
            mailbox_send(mc, W_API, T_SILENT, "back", 4);
            mailbox_send(ma, W_P2P, T_SILENT, "again", 5);
        }
        ev_run(loop, EVRUN_ONCE);
    }
    ck_assert_int_ge(a.silent, 1);
    ck_assert_int_ge(c.silent, 1);
    ck_assert_msg(strstr(logged(), "\"reason\":\"peer_heard\"") != NULL, "log: %s", logged());
    mailbox_close(ma);
    mailbox_close(mc);
}
END_TEST

START_TEST(worker_sends_once_admitted)
{
    /* A worker's mailbox sends to other workers only once the supervisor accepted it. */
    struct state a = {0}, b = {0};
    struct mailbox *mw = open_mb(W_API, &a, MAILBOX_WORKER);
    struct mailbox *mq = open_mb(W_QBFT, &b, 0);
    ck_assert_int_eq(mailbox_send(mw, W_QBFT, T_SILENT, "held", 4), 0);
    for (int i = 0; i < 50; i++)
        ev_run(loop, EVRUN_NOWAIT);
    ck_assert_int_eq(b.silent, 0);
    mailbox_admit(mw);
    run_until(&b.silent, 1);
    ck_assert_int_eq(b.silent, 1);
    mailbox_close(mw);
    mailbox_close(mq);
}
END_TEST

START_TEST(forged_source_is_a_violation)
{
    /* The supervisor's mailbox checks senders: a frame that declares the API but comes from
     * this process (the supervisor itself) is forged. */
    struct state a = {0}, s = {0};
    struct mailbox *ms = open_mb(W_SUPERVISOR, &s, MAILBOX_AUTHORITY | MAILBOX_DROP_VIOLATIONS);
    mailbox_peers_set(ms, W_API, 1, 1, false);
    struct mailbox *ma = open_mb(W_API, &a, 0);
    ck_assert_int_eq(mailbox_send(ma, W_SUPERVISOR, T_SILENT, "x", 1), 0);
    for (int i = 0; i < 5000 && mailbox_violations(ms) == 0; i++)
        ev_run(loop, EVRUN_ONCE);
    ck_assert_uint_eq(mailbox_violations(ms), 1);
    ck_assert_int_eq(s.silent, 0);
    ck_assert_uint_eq(mailbox_peers(ms)->w[W_API].pid, 1);
    mailbox_close(ma);
    mailbox_close(ms);
}
END_TEST

START_TEST(listener_survives_aborted_handshake)
{
    /* A new peer reaches a mailbox even after someone broke the handshake on its listener: the
     * mailbox notices with its own probe and listens again (what was sent into the dead
     * listener is lost, as with a peer that died: the sender retries). */
    struct state a = {0}, b = {0};
    struct mailbox *mb = open_mb(W_QBFT, &b, 0);
    for (int i = 0; i < 3; i++)
        connect_and_close(W_QBFT);
    struct mailbox *ma = open_mb(W_API, &a, 0);
    resend_until(ma, &b.silent, 400, 5);
    ck_assert_int_ge(b.silent, 1);
    mailbox_close(ma);
    mailbox_close(mb);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mailbox");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, dispatch_checks);
    tcase_add_test(tc, request_reply_with_trace);
    tcase_add_test(tc, deadline_fires_once);
    tcase_add_test(tc, queued_until_destination_listens);
    tcase_add_test(tc, disallowed_sender_dropped);
    tcase_add_exit_test(tc, violation_is_fatal_by_default, 1);
    tcase_add_test(tc, oversize_body_refused);
    tcase_add_test(tc, close_cancels_pending);
    tcase_add_test(tc, destination_restarts);
    tcase_add_test(tc, timeouts_keep_queued_sends);
    tcase_add_test(tc, restarted_peer_gets_replies);
    tcase_add_test(tc, listener_survives_aborted_handshake);
    tcase_add_test(tc, stuck_dialer_redialled_when_peer_heard);
    tcase_add_test(tc, worker_sends_once_admitted);
    tcase_add_test(tc, forged_source_is_a_violation);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
