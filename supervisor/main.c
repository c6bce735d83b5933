/*
 * aequa-supervisor: see supervisor.h. This file wires the loop: signals, child reaping, the
 * mailbox (HELLO/READY/HEARTBEAT/STATUS/METRICS), the watchdog tick and the shutdown sequence.
 */
#include "supervisor/supervisor.h"
#include "ipc/mailbox.h"
#include "lib/crypto.h"
#include "lib/lock.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/options.h"
#include "lib/util.h"
#include "proto/control.h"
#include "proto/metrics.h"
#include "proto/workers.h"
#include "supervisor/notify.h"
#include "supervisor/policy.h"
#include "supervisor/reach.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_WORKERS 8
#define MAX_ARGS    64

enum wstate { WS_STOPPED, WS_STARTING, WS_READY, WS_BACKOFF, WS_EXTERNAL };
static const char *const wstate_names[] = {"stopped", "starting", "ready", "backoff", "external"};

struct wslot {
    const struct worker_def *def;
    enum wstate state;
    bool external; /* --external: started by hand */
    bool attached; /* external worker said HELLO */
    bool debug;    /* --debug-worker: spawned under $AEQUA_DEBUGGER */
    bool admitted; /* its HELLO was accepted: it gets the peer table */
    pid_t pid;     /* the process spawned (a debugger), or an external worker's */
    uint64_t generation;
    uint64_t started_ms;
    uint64_t stopping_ms; /* when it was sent SIGTERM to stop (shutdown, reload); 0: not */
    uint64_t last_beat_ms;
    bool ready;
    bool watchdog_killed;
    uint64_t restarts;
    char last_exit[48];
    char health[CTL_HEALTH_MAX + 1];
    char binary[PATH_MAX];
    struct restart_history hist;
    ev_timer restart;
};

static struct {
    struct ev_loop *loop;
    struct options opt;
    struct config cfg;
    struct mailbox *mb;
    struct lock lock;
    struct wslot w[MAX_WORKERS];
    struct restart_policy policy;
    ev_signal sigterm, sigint, sighup;
    ev_child child;
    ev_timer tick;
    ev_timer grace;
    ev_timer sd_watchdog;
    bool notified_ready;
    bool shutting_down;
    int exit_code;
    int stop_index;                       /* next worker to stop, counting down */
    const char *spawned[MAX_WORKERS + 1]; /* names of the workers not --external, NULL-ended */
} S;

static void spawn(struct wslot *w);
static void begin_shutdown(int code, const char *why);

/* ---------------------------------------------------------------- metrics and status */

static void update_up_metrics(void)
{
    for (size_t i = 0; i < worker_table_len; i++) {
        struct wslot *w = &S.w[i];
        bool up = w->state == WS_READY || (w->state == WS_EXTERNAL && w->attached && w->ready);
        metric_set(metric("aequa_worker_up", w->def->name), up ? 1 : 0);
    }
}

static bool all_required_ready(void)
{
    for (size_t i = 0; i < worker_table_len; i++) {
        const struct wslot *w = &S.w[i];
        if (w->def->required && !w->ready)
            return false;
    }
    return true;
}

static void status_line(char *out, size_t n)
{
    size_t ready = 0;
    for (size_t i = 0; i < worker_table_len; i++)
        ready += S.w[i].ready;
    snprintf(out, n, "%zu/%zu workers ready", ready, worker_table_len);
}

static void check_ready(void)
{
    update_up_metrics();
    char msg[128], line[160];
    status_line(msg, sizeof(msg));
    if (all_required_ready() && !S.notified_ready && !S.shutting_down) {
        S.notified_ready = true;
        snprintf(line, sizeof(line), "READY=1\nSTATUS=%s", msg);
        sd_notify_send(line);
        log_info("node_ready", LS("status", msg));
    } else {
        snprintf(line, sizeof(line), "STATUS=%s", msg);
        sd_notify_send(line);
    }
}

static void fill_status(struct status_report *r)
{
    memset(r, 0, sizeof(*r));
    r->index = S.cfg.index;
    snprintf(r->version, sizeof(r->version), "%s", AEQUA_VERSION);
    snprintf(r->peer_id, sizeof(r->peer_id), "%s", S.lock.ops[S.cfg.index].peer_id);
    snprintf(r->cluster, sizeof(r->cluster), "%s", S.lock.name);
    uint64_t now = now_ms();
    for (size_t i = 0; i < worker_table_len && i < STATUS_MAX_WORKERS; i++) {
        const struct wslot *w = &S.w[i];
        struct status_worker *o = &r->workers[r->nworkers++];
        snprintf(o->name, sizeof(o->name), "%s", w->def->name);
        snprintf(o->state, sizeof(o->state), "%s", wstate_names[w->state]);
        o->pid = w->pid;
        o->generation = w->generation;
        o->restarts = w->restarts;
        snprintf(o->last_exit, sizeof(o->last_exit), "%s", w->last_exit);
        o->uptime_s = w->pid > 0 ? (double)(now - w->started_ms) / 1000.0 : 0;
        snprintf(o->health, sizeof(o->health), "%s", w->health);
        o->required = w->def->required;
    }
}

/* ---------------------------------------------------------------- the peer table */

/* Every admitted worker gets the table the supervisor's mailbox checks senders against. */
static void send_peers(const struct wslot *w)
{
    struct buf b = BUF_INIT;
    ctl_peers_encode(&b, mailbox_peers(S.mb));
    int rc = mailbox_send(S.mb, w->def->id, CTL_PEERS, b.data, b.len);
    if (rc < 0)
        log_debug("peers_send", LS("child", w->def->name), LS("err", strerror(-rc)));
    buf_free(&b);
}

/*
 * Record who worker w is and tell every admitted worker. A spawned worker is its pid from the
 * spawn on (before it can send anything); a worker under a debugger or started by hand is
 * unknown (open) until its HELLO binds the pid it comes from.
 */
static void peers_update(struct wslot *w, uint32_t pid, bool open)
{
    mailbox_peers_set(S.mb, w->def->id, pid, w->generation, open);
    for (size_t i = 0; i < worker_table_len; i++)
        if (S.w[i].admitted)
            send_peers(&S.w[i]);
}

/* ---------------------------------------------------------------- mailbox handlers */

static struct wslot *slot_by_id(unsigned id)
{
    for (size_t i = 0; i < worker_table_len; i++)
        if (S.w[i].def->id == id)
            return &S.w[i];
    return NULL;
}

static void on_hello(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    struct ctl_hello h;
    struct ctl_hello_ack ack = {.supervisor_pid = (uint32_t)getpid()};
    if (ctl_hello_decode(&h, e->body, e->body_len) < 0) {
        mailbox_violation(mb, e, "malformed HELLO");
        return;
    }
    struct wslot *w = slot_by_id(e->source);
    if (!w || strcmp(w->def->name, h.name) != 0) {
        mailbox_violation(mb, e, "HELLO names another worker than its sender");
        return;
    }
    if (h.pid != e->pid) {
        mailbox_violation(mb, e, "HELLO names another pid than its sender's");
        return;
    }
    if (w->external) {
        ack.accepted = !S.shutting_down;
        w->attached = w->admitted = true;
        w->pid = (pid_t)h.pid;
        w->generation = h.generation;
        w->started_ms = w->last_beat_ms = now_ms();
        log_info("worker_attached", LS("child", w->def->name), LI("child_pid", h.pid));
        peers_update(w, h.pid, false);
    } else if (h.generation == w->generation && w->state == WS_STARTING &&
               (w->debug || (pid_t)h.pid == w->pid)) {
        ack.accepted = true;
        w->admitted = true;
        w->last_beat_ms = now_ms();
        if (w->debug)
            peers_update(w, h.pid, false); /* the process under the debugger, not the debugger */
        else
            send_peers(w);
    } else {
        log_debug("stale_hello", LS("child", h.name), LU("generation", h.generation),
                  LU("current", w->generation));
    }
    struct buf b = BUF_INIT;
    ctl_hello_ack_encode(&b, &ack);
    mailbox_reply(mb, e, CTL_HELLO_ACK, b.data, b.len);
    buf_free(&b);
}

/* READY and HEARTBEAT: both carry generation and health. */
static void on_beat(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    struct ctl_beat b;
    if (ctl_beat_decode(&b, e->body, e->body_len) < 0) {
        mailbox_violation(mb, e, "malformed READY/HEARTBEAT");
        return;
    }
    struct wslot *w = slot_by_id(e->source);
    if (!w || b.generation != w->generation || w->pid <= 0 ||
        (w->external ? !w->attached : w->state != WS_STARTING && w->state != WS_READY)) {
        log_debug("stale_beat", LS("child", worker_name(e->source)),
                  LU("generation", b.generation));
        return;
    }
    w->last_beat_ms = now_ms();
    snprintf(w->health, sizeof(w->health), "%s", b.health);
    if (e->type == CTL_READY && !w->ready) {
        double startup_s = (double)(now_ms() - w->started_ms) / 1000.0;
        w->ready = true;
        if (!w->external)
            w->state = WS_READY;
        metric_observe(metric("service_op_seconds", w->def->name, "start"), startup_s);
        log_info("worker_ready", LS("child", w->def->name), LI("child_pid", w->pid),
                 LU("generation", w->generation), LF("startup_s", startup_s));
        check_ready();
    }
}

static void on_peers_req(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    struct buf b = BUF_INIT;
    ctl_peers_encode(&b, mailbox_peers(mb));
    mailbox_reply(mb, e, CTL_PEERS, b.data, b.len);
    buf_free(&b);
}

static void on_status_req(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    struct status_report r;
    struct buf b = BUF_INIT;
    fill_status(&r);
    status_encode(&b, &r);
    mailbox_reply(mb, e, CTL_STATUS_REP, b.data, b.len);
    buf_free(&b);
}

static void on_metrics_req(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    struct buf b = BUF_INIT;
    update_up_metrics();
    metrics_encode(&b);
    mailbox_reply(mb, e, METRICS_REP, b.data, b.len);
    buf_free(&b);
}

#define FROM_WORKERS (WBIT(W_API) | WBIT(W_P2P) | WBIT(W_QBFT) | WBIT(W_STATEDB) | WBIT(W_BUILDER))

static const struct dispatch_entry sup_rows[] = {
    {CTL_HELLO, FROM_WORKERS, 1, 256, on_hello},
    {CTL_READY, FROM_WORKERS, 1, 512, on_beat},
    {CTL_HEARTBEAT, FROM_WORKERS, 1, 512, on_beat},
    {CTL_PEERS_REQ, FROM_WORKERS, 0, 0, on_peers_req},
    {CTL_STATUS_REQ, WBIT(W_API) | WBIT(W_TOOL), 0, 16, on_status_req},
    {METRICS_REQ, WBIT(W_API) | WBIT(W_TOOL), 0, 16, on_metrics_req},
};

/* ---------------------------------------------------------------- spawning */

static int find_binary(const struct worker_def *d, char *out, size_t n)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0)
        return -1;
    self[len] = 0;
    const char *dir = dirname(self);
    /* Installed side by side, in libexec, or in the meson build tree. */
    snprintf(out, n, "%s/%s", dir, d->binary);
    if (access(out, X_OK) == 0)
        return 0;
    snprintf(out, n, "%s/../libexec/aequa/%s", dir, d->binary);
    if (access(out, X_OK) == 0)
        return 0;
    snprintf(out, n, "%s/../workers/%s/%s", dir, d->name, d->binary);
    return access(out, X_OK) == 0 ? 0 : -1;
}

static void spawn(struct wslot *w)
{
    char gen[24];
    const char *argv[MAX_ARGS];
    int argc = 0;
    char *dbg = NULL;

    char err[512];
    if (w->def->prespawn && w->def->prespawn(&S.cfg, err, sizeof(err)) < 0) {
        log_error("prespawn_failed", LS("child", w->def->name), LS("err", err));
        w->state = WS_BACKOFF;
        ev_timer_set(&w->restart, 1.0, 0);
        ev_timer_start(S.loop, &w->restart);
        return;
    }
    w->generation++;
    snprintf(gen, sizeof(gen), "%llu", (unsigned long long)w->generation);
    if (w->debug && getenv("AEQUA_DEBUGGER")) {
        dbg = xstrdup(getenv("AEQUA_DEBUGGER"));
        for (char *tok = strtok(dbg, " \t"); tok && argc < MAX_ARGS - 16; tok = strtok(NULL, " \t"))
            argv[argc++] = tok;
    }
    argv[argc++] = w->binary;
    argv[argc++] = "--generation";
    argv[argc++] = gen;
    options_forward(&S.opt, argv, argc, MAX_ARGS);

    /* posix_spawn, not fork: glibc's vfork-style clone copies no page tables and the parent
     * takes no copy-on-write faults until the child has exec'd (a fork here cost ~3 ms of each
     * restart). The child gets an empty signal mask, its own process group (a terminal's ^C
     * goes to the supervisor, which stops workers in order) and no descriptor above stderr. */
    pid_t pid;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t fa;
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    int rc = posix_spawn(&pid, argv[0], &fa, &attr, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    bool debugger = dbg != NULL;
    free(dbg);
    if (rc != 0) {
        log_error("spawn_failed", LS("child", w->def->name), LS("binary", argv[0]),
                  LS("err", strerror(rc)));
        w->pid = 0;
        w->state = WS_BACKOFF;
        ev_timer_set(&w->restart, 1.0, 0);
        ev_timer_start(S.loop, &w->restart);
        return;
    }
    w->pid = pid;
    w->state = WS_STARTING;
    w->admitted = false;
    w->ready = false;
    w->watchdog_killed = false;
    w->health[0] = 0;
    w->started_ms = w->last_beat_ms = now_ms();
    log_info("worker_spawn", LS("child", w->def->name), LI("child_pid", pid),
             LU("generation", w->generation), LB("debugger", debugger));
    peers_update(w, w->debug ? 0 : (uint32_t)pid, w->debug);
    update_up_metrics();
}

static void on_restart_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    struct wslot *w = t->data;
    if (!S.shutting_down && w->state == WS_BACKOFF)
        spawn(w);
}

/* ---------------------------------------------------------------- deaths */

static void stop_next(void);

static const char *const action_names[] = {"restart", "permanent", "give_up"};

/* libev reaps terminated children (not stopped ones) and calls this once per child. */
static void on_child(struct ev_loop *loop, ev_child *c, int revents)
{
    (void)loop;
    (void)revents;
    int status = c->rstatus;
    pid_t pid = c->rpid;
    struct wslot *w = NULL;
    for (size_t i = 0; i < worker_table_len; i++)
        if (!S.w[i].external && S.w[i].pid == pid)
            w = &S.w[i];
    if (!w || pid <= 0)
        return;

    uint64_t uptime = now_ms() - w->started_ms;
    const char *reason;
    int code = -1;
    if (w->watchdog_killed) {
        reason = "watchdog";
        snprintf(w->last_exit, sizeof(w->last_exit), "watchdog");
    } else if (WIFSIGNALED(status)) {
        reason = "signal";
        snprintf(w->last_exit, sizeof(w->last_exit), "signal %d", WTERMSIG(status));
    } else {
        reason = "exit";
        code = WEXITSTATUS(status);
        snprintf(w->last_exit, sizeof(w->last_exit), "exit %d", code);
    }
    bool was_ready = w->ready;
    if (w->stopping_ms)
        metric_observe(metric("service_op_seconds", w->def->name, "stop"),
                       (double)(now_ms() - w->stopping_ms) / 1000.0);
    w->stopping_ms = 0;
    w->pid = 0;
    w->ready = w->admitted = false;
    w->state = WS_STOPPED;
    peers_update(w, 0, false);
    if (S.shutting_down) {
        log_info("worker_stopped", LS("child", w->def->name), LI("child_pid", pid),
                 LU("generation", w->generation), LS("exit", w->last_exit),
                 LF("uptime_s", (double)uptime / 1000.0));
        update_up_metrics();
        stop_next();
        return;
    }
    /* The next incarnation gets a fresh socket. The old one goes now (on a thread of its own,
     * see mailbox.c), milliseconds before the next incarnation listens, so that its dialer does
     * not reach the new listener only to be closed in the middle of a handshake. (Closed at the
     * next spawn, as before, nng_close also cost ~3 ms of every restart.) */
    mailbox_reset_dest(S.mb, w->def->id);
    struct death d = {now_ms(), uptime, was_ready, code};
    struct restart_decision dec = restart_policy_next_delay(&S.policy, &w->hist, &d);
    log_warn("worker_exit", LS("child", w->def->name), LU("generation", w->generation),
             LI("child_pid", pid), LS("exit", w->last_exit), LS("reason", reason),
             LF("uptime_s", (double)uptime / 1000.0), LS("action", action_names[dec.action]),
             LF("next_delay_s", (double)dec.delay_ms / 1000.0));
    switch (dec.action) {
    case PERMANENT:
        begin_shutdown(EXIT_CONFIG, "a worker exited 78 (configuration error)");
        break;
    case GIVE_UP:
        begin_shutdown(1, "a worker died too often; giving up");
        break;
    case RESTART:
        w->restarts++;
        metric_inc(metric("aequa_worker_restarts_total", w->def->name, reason));
        w->state = WS_BACKOFF;
        ev_timer_set(&w->restart, (double)dec.delay_ms / 1000.0, 0);
        ev_timer_start(S.loop, &w->restart);
        break;
    }
    check_ready();
}

/* ---------------------------------------------------------------- watchdog */

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)t;
    (void)revents;
    uint64_t now = now_ms();
    for (size_t i = 0; i < worker_table_len; i++) {
        struct wslot *w = &S.w[i];
        /* An external worker that exited is detached at once: its next incarnation may say
         * HELLO from another pid. */
        bool gone = w->external && w->pid > 0 && kill(w->pid, 0) < 0 && errno == ESRCH;
        if (w->pid <= 0 || (!gone && now - w->last_beat_ms <= S.cfg.watchdog_ms))
            continue;
        if (w->external) {
            if (w->attached) {
                log_warn(gone ? "external_gone" : "external_silent", LS("child", w->def->name),
                         LI("child_pid", w->pid));
                w->attached = w->ready = w->admitted = false;
                w->pid = 0;
                peers_update(w, 0, true);
                check_ready();
            }
            continue;
        }
        if (w->watchdog_killed || S.shutting_down)
            continue;
        log_warn("watchdog_kill", LS("child", w->def->name), LI("child_pid", w->pid),
                 LU("generation", w->generation),
                 LF("silent_s", (double)(now - w->last_beat_ms) / 1000.0));
        w->watchdog_killed = true;
        kill(w->pid, SIGKILL);
    }
}

static void on_sd_watchdog(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)t;
    (void)revents;
    if (!S.shutting_down)
        sd_notify_send("WATCHDOG=1");
}

/* ---------------------------------------------------------------- shutdown and reload */

static void finish(void)
{
    log_info("supervisor_exit", LI("code", S.exit_code));
    ev_break(S.loop, EVBREAK_ALL);
}

/* Stop workers one by one in reverse table order: SIGTERM, then SIGKILL after the grace. */
static void stop_next(void)
{
    ev_timer_stop(S.loop, &S.grace);
    while (S.stop_index >= 0) {
        struct wslot *w = &S.w[S.stop_index];
        if (!w->external && w->pid > 0) {
            kill(w->pid, SIGTERM);
            w->stopping_ms = now_ms();
            ev_timer_set(&S.grace, (double)S.cfg.grace_ms / 1000.0, 0);
            ev_timer_start(S.loop, &S.grace);
            return;
        }
        S.stop_index--;
    }
    finish();
}

static void on_grace(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)t;
    (void)revents;
    struct wslot *w = &S.w[S.stop_index];
    if (w->pid > 0) {
        log_warn("grace_expired", LS("child", w->def->name), LI("child_pid", w->pid));
        kill(w->pid, SIGKILL);
    }
}

static void begin_shutdown(int code, const char *why)
{
    if (S.shutting_down) {
        if (code > S.exit_code)
            S.exit_code = code;
        return;
    }
    S.shutting_down = true;
    S.exit_code = code;
    sd_notify_send("STOPPING=1");
    log_info("supervisor_stopping", LS("why", why), LI("code", code));
    for (size_t i = 0; i < worker_table_len; i++)
        ev_timer_stop(S.loop, &S.w[i].restart);
    S.stop_index = (int)worker_table_len - 1;
    stop_next();
}

static void on_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
    (void)loop;
    (void)revents;
    if (s->signum == SIGHUP)
        return;
    if (S.shutting_down && s->signum == SIGINT) {
        /* second ^C: no more grace */
        for (size_t i = 0; i < worker_table_len; i++)
            if (!S.w[i].external && S.w[i].pid > 0)
                kill(S.w[i].pid, SIGKILL);
        return;
    }
    begin_shutdown(0, s->signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* The precheck of SPEC §5: the lock, this node's key and, with TSS on, its threshold share. */
static int node_precheck(const struct config *cfg, struct lock *l, char *err, size_t errsz)
{
    if (lock_precheck(l, cfg->lock, cfg->key, cfg->index, err, errsz) < 0)
        return -1;
    if (cfg->tss_enabled &&
        lock_precheck_tss(l, cfg->lock, cfg->tss_key, cfg->index, err, errsz) < 0)
        return -1;
    return 0;
}

static bool sections_changed(const struct config *a, const struct config *b,
                             const char *const *sections)
{
    bool changed = false;
    for (size_t i = 0; sections[i] && !changed; i++) {
        struct buf x = BUF_INIT, y = BUF_INIT;
        config_dump_section(a, sections[i], &x);
        config_dump_section(b, sections[i], &y);
        changed = x.len != y.len || (x.len && memcmp(x.data, y.data, x.len) != 0);
        buf_free(&x);
        buf_free(&y);
    }
    return changed;
}

static void on_sighup(struct ev_loop *loop, ev_signal *s, int revents)
{
    (void)loop;
    (void)s;
    (void)revents;
    struct config next;
    char err[2560];
    if (S.shutting_down)
        return;
    sd_notify_send("RELOADING=1");
    /* A directory the new users cannot reach would make the restarted workers crash-loop; a
     * lock, key or TSS share that fails the precheck would stop them (exit 78). */
    struct lock *check = xmalloc(sizeof(*check));
    if (options_load_config(&S.opt, &next, err, sizeof(err)) < 0 ||
        reach_check(&next, S.spawned, true, err, sizeof(err)) < 0 ||
        node_precheck(&next, check, err, sizeof(err)) < 0) {
        log_error("reload_failed", LS("err", err));
    } else {
        bool all = sections_changed(&S.cfg, &next, node_wide_sections);
        for (size_t i = 0; i < worker_table_len; i++) {
            struct wslot *w = &S.w[i];
            if (w->external || !(all || sections_changed(&S.cfg, &next, w->def->reload_sections)))
                continue;
            log_info("reload_restart", LS("child", w->def->name));
            if (w->pid > 0) {
                /* counts as a death; the policy restarts a READY worker at once */
                kill(w->pid, SIGTERM);
                w->stopping_ms = now_ms();
            }
        }
        S.cfg = next;
        log_info("reloaded", LS("config", S.cfg.config_path));
    }
    free(check);
    char line[160], msg[128];
    status_line(msg, sizeof(msg));
    snprintf(line, sizeof(line), "READY=1\nSTATUS=%s", msg);
    sd_notify_send(line);
}

/* ---------------------------------------------------------------- start */

/* One node per runtime dir: a second supervisor would fight over its sockets (and nng's check
 * for a stale socket, run when listening fails, breaks the first one's listener). The lock is
 * held until exit; workers do not inherit it (close_range before exec). */
static int claim_runtime_dir(char *err, size_t errsz)
{
    char path[CFG_PATH + 32];
    snprintf(path, sizeof(path), "%s/supervisor.lock", S.cfg.runtime_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errsz, "runtime dir lock %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(err, errsz, "another aequa-supervisor is running on runtime dir %s (%s is locked)",
                 S.cfg.runtime_dir, path);
        close(fd);
        return -1;
    }
    return 0; /* fd stays open: the lock lasts as long as this process */
}

static int prepare_dirs(char *err, size_t errsz)
{
    if (mkdir_p(S.cfg.runtime_dir, 0770) < 0) {
        snprintf(err, errsz, "runtime dir %s: %s", S.cfg.runtime_dir, strerror(errno));
        return -1;
    }
    if (mkdir_p(S.cfg.data_dir, 0755) < 0) {
        snprintf(err, errsz, "data dir %s: %s", S.cfg.data_dir, strerror(errno));
        return -1;
    }
    if (geteuid() != 0)
        return 0;
    /* Root: the runtime dir belongs to root and the workers' group; the database directory to
     * the StateDB worker's user. Secrets in the data dir stay root's. */
    struct passwd *pw = getpwnam(S.cfg.user);
    struct passwd *db = getpwnam(config_worker_user(&S.cfg, "statedb"));
    if (!pw || !db) {
        snprintf(err, errsz, "[supervisor] user: no such user '%s' (scripts/setup creates 'aequa')",
                 pw ? config_worker_user(&S.cfg, "statedb") : S.cfg.user);
        return -1;
    }
    if (chown(S.cfg.runtime_dir, 0, pw->pw_gid) < 0 || chmod(S.cfg.runtime_dir, 0770) < 0) {
        snprintf(err, errsz, "runtime dir %s: %s", S.cfg.runtime_dir, strerror(errno));
        return -1;
    }
    if (mkdir_p(S.cfg.statedb_path, 0750) < 0 ||
        chown(S.cfg.statedb_path, db->pw_uid, db->pw_gid) < 0) {
        snprintf(err, errsz, "[statedb] path %s: %s", S.cfg.statedb_path, strerror(errno));
        return -1;
    }
    return 0;
}

static void usage_exit(const char *err)
{
    if (err)
        fprintf(stderr, "aequa-supervisor: %s\n", err);
    options_usage("aequa-supervisor", true);
    exit(err ? EXIT_CONFIG : 0);
}

int main(int argc, char **argv)
{
    char err[2560];
    crypto_init();
    if (options_parse(&S.opt, argc, argv, err, sizeof(err)) < 0)
        usage_exit(err);
    if (S.opt.help)
        usage_exit(NULL);
    if (S.opt.version) {
        printf("aequa-supervisor %s\n", AEQUA_VERSION);
        return 0;
    }
    log_init("supervisor", S.opt.verbose);
    if (options_load_config(&S.opt, &S.cfg, err, sizeof(err)) < 0) {
        log_error("config_error", LS("err", err));
        return EXIT_CONFIG;
    }
    for (int i = 0; i < S.opt.nexternal; i++)
        if (worker_id(S.opt.external[i]) <= 0) {
            log_error("config_error", LS("err", "--external: unknown worker"),
                      LS("child", S.opt.external[i]));
            return EXIT_CONFIG;
        }
    if (S.opt.debug_worker && worker_id(S.opt.debug_worker) <= 0) {
        log_error("config_error", LS("err", "--debug-worker: unknown worker"),
                  LS("child", S.opt.debug_worker));
        return EXIT_CONFIG;
    }
    /* Fail fast (SPEC §5): the lock and this node's key (and TSS share, with TSS on) are checked
     * before any worker starts.
     * With neither named, the node is a one-operator cluster whose key and lock live in the data
     * dir (created at the first start; -n only looks). */
    bool lock_exists = access(S.cfg.lock, F_OK) == 0;
    if (S.cfg.single_node && !S.opt.check_config) {
        if (embedded_cluster_ensure(&S.cfg, err, sizeof(err)) < 0) {
            log_error("config_error", LS("err", err));
            return EXIT_CONFIG;
        }
        log_info("single_node", LS("lock", S.cfg.lock), LS("key", S.cfg.key),
                 LS("lock_file", lock_exists ? "reused" : "created"));
    }
    if ((lock_exists || !S.cfg.single_node || !S.opt.check_config) &&
        node_precheck(&S.cfg, &S.lock, err, sizeof(err)) < 0) {
        log_error("config_error", LS("err", err));
        return EXIT_CONFIG;
    }
    size_t nspawned = 0;
    for (size_t i = 0; i < worker_table_len; i++) {
        bool external = false;
        for (int e = 0; e < S.opt.nexternal; e++)
            external |= !strcmp(S.opt.external[e], worker_table[i].name);
        if (!external)
            S.spawned[nspawned++] = worker_table[i].name;
    }
    if (S.opt.check_config) {
        if (reach_check(&S.cfg, S.spawned, false, err, sizeof(err)) < 0) {
            log_error("config_error", LS("err", err));
            return EXIT_CONFIG;
        }
        struct buf b = BUF_INIT;
        config_dump(&S.cfg, &b);
        printf("# effective configuration (%s)\n",
               S.cfg.embedded ? "embedded single-node default" : S.cfg.config_path);
        if (S.cfg.single_node)
            printf("# single-node default: no [node] lock or key is set, so this node is a "
                   "one-operator cluster\n# whose key and lock are in the data dir (%s): %s, %s\n",
                   lock_exists ? "there: reused" : "not there yet: created at the first start",
                   S.cfg.key, S.cfg.lock);
        printf("%s", (const char *)b.data);
        buf_free(&b);
        return 0;
    }
    /* Before any worker: a directory a worker's user cannot reach would make it crash-loop. */
    if (prepare_dirs(err, sizeof(err)) < 0 ||
        reach_check(&S.cfg, S.spawned, true, err, sizeof(err)) < 0 ||
        claim_runtime_dir(err, sizeof(err)) < 0) {
        log_error("config_error", LS("err", err));
        return EXIT_CONFIG;
    }
    if (geteuid() != 0)
        log_warn("privdrop_skipped", LS("err", "not running as root: workers keep this user"));

    S.policy = (struct restart_policy){
        .backoff_min_ms = S.cfg.backoff_min_ms,
        .backoff_max_ms = S.cfg.backoff_max_ms,
        .stable_ms = S.cfg.backoff_stable_s * 1000,
        .give_up_deaths = S.cfg.give_up_deaths,
        .give_up_window_ms = S.cfg.give_up_window_s * 1000,
    };
    metric_set(metric("dvt_up"), 1);
    metric_set(metric("aequa_build_info", AEQUA_VERSION), 1);
    static const char *const reasons[] = {"exit", "signal", "watchdog"};

    S.loop = ev_default_loop(EVFLAG_AUTO);
    for (size_t i = 0; i < worker_table_len; i++) {
        struct wslot *w = &S.w[i];
        w->def = &worker_table[i];
        for (size_t r = 0; r < ARRAY_LEN(reasons); r++)
            metric("aequa_worker_restarts_total", w->def->name, reasons[r]);
        for (int e = 0; e < S.opt.nexternal; e++)
            w->external |= !strcmp(S.opt.external[e], w->def->name);
        w->debug = S.opt.debug_worker && !strcmp(S.opt.debug_worker, w->def->name);
        ev_timer_init(&w->restart, on_restart_timer, 0, 0);
        w->restart.data = w;
        if (!w->external && find_binary(w->def, w->binary, sizeof(w->binary)) < 0) {
            log_error("config_error", LS("err", "worker binary not found"),
                      LS("binary", w->def->binary));
            return EXIT_CONFIG;
        }
    }
    update_up_metrics();

    struct dispatch_table table = {sup_rows, ARRAY_LEN(sup_rows)};
    struct mailbox_opts mo = {
        .runtime_dir = S.cfg.runtime_dir,
        .self = W_SUPERVISOR,
        .tables = &table,
        .ntables = 1,
        .flags = MAILBOX_DROP_VIOLATIONS | MAILBOX_AUTHORITY,
    };
    S.mb = mailbox_open(S.loop, &mo, err, sizeof(err));
    if (!S.mb) {
        log_error("mailbox_open", LS("err", err));
        return 1;
    }

    signal(SIGPIPE, SIG_IGN);
    ev_signal_init(&S.sigterm, on_signal, SIGTERM);
    ev_signal_init(&S.sigint, on_signal, SIGINT);
    ev_signal_init(&S.sighup, on_sighup, SIGHUP);
    ev_signal_start(S.loop, &S.sigterm);
    ev_signal_start(S.loop, &S.sigint);
    ev_signal_start(S.loop, &S.sighup);
    ev_child_init(&S.child, on_child, 0, 0);
    ev_child_start(S.loop, &S.child);
    ev_timer_init(&S.tick, on_tick, 0.25, 0.25);
    ev_timer_start(S.loop, &S.tick);
    ev_timer_init(&S.grace, on_grace, 0, 0);
    uint64_t wd = sd_watchdog_period_ms();
    if (wd) {
        ev_timer_init(&S.sd_watchdog, on_sd_watchdog, 0, (double)wd / 1000.0);
        ev_timer_start(S.loop, &S.sd_watchdog);
    }

    log_info("supervisor_start", LS("version", AEQUA_VERSION),
             LS("config", S.cfg.embedded ? "embedded default" : S.cfg.config_path),
             LS("data_dir", S.cfg.data_dir), LS("runtime_dir", S.cfg.runtime_dir));
    for (size_t i = 0; i < worker_table_len; i++) {
        struct wslot *w = &S.w[i];
        if (w->external) {
            w->state = WS_EXTERNAL;
            peers_update(w, 0, true);
            if (w->def->prespawn && w->def->prespawn(&S.cfg, err, sizeof(err)) < 0) {
                log_error("config_error", LS("child", w->def->name), LS("err", err));
                return EXIT_CONFIG;
            }
            log_info("worker_external", LS("child", w->def->name),
                     LS("hint", "start it by hand with the same --config; it joins the node"));
        } else {
            spawn(w);
        }
    }
    check_ready();
    ev_run(S.loop, 0);
    mailbox_abandon(S.mb); /* not nng_close: it can hang, and the process ends here */
    return S.exit_code;
}
