#include "workers/common/worker.h"
#include "lib/crypto.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "proto/control.h"
#include "proto/metrics.h"
#include "proto/workers.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define HELLO_TIMEOUT_MS 1000

static void send_hello(struct worker *w);

static void on_metrics_req(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    struct buf b = BUF_INIT;
    metrics_encode(&b);
    mailbox_reply(mb, e, METRICS_REP, b.data, b.len);
    buf_free(&b);
}

static const struct dispatch_entry common_rows[] = {
    {METRICS_REQ, WBIT(W_API) | WBIT(W_TOOL), 0, 16, on_metrics_req},
};

static void send_beat(struct worker *w, uint16_t type)
{
    struct ctl_beat b = {.generation = w->generation};
    struct buf body = BUF_INIT;
    if (w->ops->health)
        w->ops->health(w, b.health, sizeof(b.health));
    ctl_beat_encode(&body, &b);
    int rc = mailbox_send(w->mb, W_SUPERVISOR, type, body.data, body.len);
    if (rc < 0)
        log_debug("heartbeat_send", LS("err", strerror(-rc)));
    buf_free(&body);
}

static void maybe_send_ready(struct worker *w)
{
    if (w->ready && w->hello_acked && !w->ready_sent) {
        send_beat(w, CTL_READY);
        w->ready_sent = true;
        log_info("worker_ready", LU("generation", w->generation));
    }
}

void worker_ready(struct worker *w)
{
    w->ready = true;
    maybe_send_ready(w);
}

void worker_exit_loop(struct worker *w)
{
    ev_break(w->loop, EVBREAK_ALL);
}

static void on_hello_ack(struct mailbox *mb, int status, const struct envelope *e, void *arg)
{
    (void)mb;
    struct worker *w = arg;
    struct ctl_hello_ack ack;
    if (status < 0)
        return; /* retried on the next heartbeat */
    if (ctl_hello_ack_decode(&ack, e->body, e->body_len) < 0) {
        mailbox_violation(w->mb, e, "malformed HELLO ACK");
        return;
    }
    if (!ack.accepted) {
        log_error("hello_refused", LU("generation", w->generation),
                  LS("err", "the supervisor does not expect this worker (stale generation, or "
                            "not started with --external)"));
        exit(1);
    }
    w->hello_acked = true;
    w->supervisor_pid = (pid_t)ack.supervisor_pid;
    mailbox_admit(w->mb);
    maybe_send_ready(w);
}

static void send_hello(struct worker *w)
{
    struct ctl_hello h = {.generation = w->generation, .pid = (uint32_t)getpid()};
    snprintf(h.name, sizeof(h.name), "%s", w->ops->name);
    snprintf(h.version, sizeof(h.version), "%s", AEQUA_VERSION);
    struct buf body = BUF_INIT;
    ctl_hello_encode(&body, &h);
    int rc = mailbox_request(w->mb, W_SUPERVISOR, CTL_HELLO, CTL_HELLO_ACK, body.data, body.len,
                             HELLO_TIMEOUT_MS, on_hello_ack, w);
    if (rc < 0)
        log_debug("hello_send", LS("err", strerror(-rc)));
    buf_free(&body);
}

/*
 * A stopping worker is gone soon, whatever hangs on the way (a library's close, a peer that
 * never answers): the supervisor SIGKILLs it after its grace, but when the supervisor is the
 * one that died nobody else would, and an orphan keeps its sockets and its CPU. SIGALRM's
 * default action ends the process; the deadline is the supervisor's grace and a second.
 */
static unsigned stop_deadline_s;

static void stop_deadline(void)
{
    alarm(stop_deadline_s);
}

/* The parent-death signal (the supervisor died): arm the deadline here, in the handler, so it
 * holds even when the loop is stuck and never sees the SIGTERM this asks for (the normal stop). */
static void on_parent_death(int sig)
{
    (void)sig;
    int saved = errno;
    alarm(stop_deadline_s);
    kill(getpid(), SIGTERM);
    errno = saved;
}

static bool supervisor_gone(struct worker *w)
{
    if (w->parent > 1)
        return getppid() != w->parent;
    /* Started by hand: the supervisor told us its pid. EPERM means it exists (it is root). */
    return w->supervisor_pid > 0 && kill(w->supervisor_pid, 0) < 0 && errno == ESRCH;
}

#define WORKER_TRIM_S 10.0

static void on_trim(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)t;
    (void)revents;
    malloc_trim(0);
}

static void on_beat(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    struct worker *w = t->data;
    if (supervisor_gone(w)) {
        log_warn("supervisor_gone", LS("err", "the supervisor exited; stopping"));
        stop_deadline();
        if (w->ops->stop)
            w->ops->stop(w);
        worker_exit_loop(w);
        return;
    }
    if (!w->hello_acked) {
        send_hello(w);
        return;
    }
    send_beat(w, CTL_HEARTBEAT);
}

static void on_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
    (void)loop;
    (void)revents;
    struct worker *w = s->data;
    if (w->stopping) {
        worker_exit_loop(w);
        return;
    }
    w->stopping = true;
    stop_deadline();
    log_info("worker_stopping", LI("signal", s->signum));
    if (w->ops->stop)
        w->ops->stop(w);
    else
        worker_exit_loop(w);
}

static void usage_exit(const char *prog, const char *err)
{
    if (err)
        fprintf(stderr, "%s: %s\n", prog, err);
    options_usage(prog, false);
    exit(err ? EXIT_CONFIG : 0);
}

int worker_main(int argc, char **argv, const struct worker_ops *ops, void *ctx)
{
    struct worker *w = xcalloc(1, sizeof(*w));
    char err[512];
    w->ops = ops;
    w->ctx = ctx;
    w->parent = getppid();
    crypto_init();

    if (options_parse(&w->opt, argc, argv, err, sizeof(err)) < 0)
        usage_exit(argv[0], err);
    if (w->opt.help)
        usage_exit(argv[0], NULL);
    if (w->opt.version) {
        printf("aequa-%s %s\n", ops->name, AEQUA_VERSION);
        return 0;
    }
    log_init(ops->name, w->opt.verbose);
    if (options_load_config(&w->opt, &w->cfg, err, sizeof(err)) < 0) {
        log_error("config_error", LS("err", err));
        return EXIT_CONFIG;
    }
    w->generation = w->opt.generation;
    if (w->generation == 0)
        w->parent = 1; /* started by hand (--external): the supervisor is not our parent */
    if (ops->does_not_yet)
        log_info("worker_scope", LS("not_yet", ops->does_not_yet));

    if (ops->preinit && ops->preinit(w) < 0)
        return 1;
    if (geteuid() == 0) {
        const char *user = config_worker_user(&w->cfg, ops->name);
        if (privdrop(user, ops->seccomp, err, sizeof(err)) < 0) {
            log_error("privdrop_failed", LS("user", user), LS("err", err));
            return 1;
        }
        log_info("privdrop", LS("user", user));
    } else {
        log_warn("privdrop_skipped", LS("err", "not running as root: privileges not dropped"));
    }
    /* Credentials changed: the parent-death signal must be set after the drop. */
    stop_deadline_s = (unsigned)(w->cfg.grace_ms / 1000) + 1;
    struct sigaction sa = {.sa_handler = on_parent_death};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, NULL);
    prctl(PR_SET_PDEATHSIG, SIGUSR2, 0, 0, 0);
    if (w->parent > 1 && getppid() != w->parent)
        return 0;

    w->loop = ev_default_loop(EVFLAG_AUTO);
    struct dispatch_table tables[2] = {
        {common_rows, ARRAY_LEN(common_rows)},
        {ops->dispatch, ops->ndispatch},
    };
    struct mailbox_opts mo = {
        .runtime_dir = w->cfg.runtime_dir,
        .self = ops->id,
        .tables = tables,
        .ntables = ops->dispatch ? 2 : 1,
        .ctx = w,
        .on_drained = ops->on_drained,
        .flags = MAILBOX_WORKER,
    };
    w->mb = mailbox_open(w->loop, &mo, err, sizeof(err));
    if (!w->mb) {
        log_error("mailbox_open", LS("err", err));
        return 1;
    }
    send_hello(w);

    ev_signal_init(&w->sigterm, on_signal, SIGTERM);
    ev_signal_init(&w->sigint, on_signal, SIGINT);
    w->sigterm.data = w->sigint.data = w;
    ev_signal_start(w->loop, &w->sigterm);
    ev_signal_start(w->loop, &w->sigint);
    signal(SIGPIPE, SIG_IGN);
    double period = (double)w->cfg.heartbeat_ms / 1000.0;
    ev_timer_init(&w->beat, on_beat, period, period);
    w->beat.data = w;
    ev_timer_start(w->loop, &w->beat);
    ev_timer_init(&w->trim, on_trim, WORKER_TRIM_S, WORKER_TRIM_S);
    ev_timer_start(w->loop, &w->trim);

    log_info("worker_start", LU("generation", w->generation), LS("version", AEQUA_VERSION));
    if (ops->init && ops->init(w) < 0)
        return 1;
    ev_run(w->loop, 0);

    mailbox_abandon(w->mb); /* not nng_close: it can hang, and the process ends here */
    log_info("worker_exit", LU("generation", w->generation));
    return 0;
}
