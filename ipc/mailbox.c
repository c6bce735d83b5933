#include "ipc/mailbox.h"
#include "lib/crypto.h"
#include "lib/log.h"
#include "lib/util.h"
#include "proto/control.h"
#include "proto/workers.h"

#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DEST        16
#define PENDING_BUCKETS 1024
#define DRAIN_MAX       4096 /* messages per wakeup, so timers still run under flood */
#define PUSH_SENDBUF    1024 /* messages queued per destination before -EAGAIN */
#define PULL_RECVBUF    4096 /* messages queued in the mailbox between drains */
#define URL_MAX         160
#define CFG_RTDIR_MAX   128

struct pending {
    uint64_t id;
    unsigned dest;
    uint16_t reply_type;
    mailbox_reply_cb cb;
    void *arg;
    ev_timer timer;
    struct mailbox *mb;
    struct pending *next;
};

/* Envelopes for one destination, sent as one nng message when the loop is about to sleep. */
struct outq {
    struct buf frame;
    unsigned count;
};

#define FRAME_FLUSH_BYTES (256u << 10) /* send at once beyond this */

#define RECONNECT_MS     10
#define REDIAL_CHECK_S   0.1
#define PROBE_PERIOD_S   1.0
#define PROBE_TIMEOUT_MS 1000 /* a probe not back by then: the listener stopped accepting */
#define REDIAL_AFTER_MS  300  /* a sending socket unconnected this long gets a new dialer */
#define HEARD_REDIAL_MS  20   /* ... or this long, when its peer was heard from meanwhile */

#define PIPE_PIDS        256 /* credentials of accepted connections, by pipe id */
#define HOLD_MAX         256 /* frames held from processes the peer table does not know */
#define HOLD_MAX_BYTES   (16u << 20)
#define QUERY_TIMEOUT_MS 1000 /* the supervisor's answer to CTL_PEERS_REQ */

/* The connections of one socket, counted on nng's threads (on_pipe_event). nng may call into a
 * counter for as long as its socket is open, so the counter lives with the socket, not with the
 * mailbox: it is freed only once nng_close of that socket has returned (close_later, or
 * mailbox_close), and is left allocated with a socket that is left open. */
struct pipe_count {
    atomic_int pipes;
    atomic_uint adds;     /* connections completed since counting began */
    atomic_uint peer_pid; /* the process listening at the other end (IPC credentials) */
};

/* A frame from a process the peer table does not know yet, waiting for the supervisor. */
struct held {
    nng_msg *m;
    uint32_t pid;
    uint64_t query; /* the first CTL_PEERS_REQ sent after it arrived (0: none yet) */
    struct held *next;
};

struct mailbox {
    struct ev_loop *loop;
    ev_prepare flush;
    ev_timer redial;
    ev_timer probe_timer;
    nng_listener listener;
    nng_socket probe; /* dials this process's own mailbox, while probe_pending */
    bool probe_pending;
    nng_socket retired; /* a probe that did not come back (see probe_end) */
    bool retired_open;
    struct pipe_count *retired_pipes;
    uint64_t probe_nonce, probe_sent_ms;
    atomic_uint_fast64_t accepts;    /* connections accepted, ever */
    uint64_t probe_accepts;          /* the count when the probe was sent */
    uint64_t nopipe_since[MAX_DEST]; /* when a sending socket was first seen unconnected */
    uint64_t dialed_at[MAX_DEST];    /* when its current dialer started */
    struct outq out[MAX_DEST];
    struct mailbox_opts o;
    char rtdir[CFG_RTDIR_MAX];
    nng_socket pull;
    ev_io rx;
    nng_socket push[MAX_DEST];
    nng_dialer dialer[MAX_DEST];
    struct pipe_count *push_pipes[MAX_DEST]; /* connections of each sending socket */
    bool push_open[MAX_DEST];
    struct pending *buckets[PENDING_BUCKETS];
    size_t npending;
    size_t violations;
    uint64_t next_id;
    /* senders (see the header) */
    bool checks;   /* AUTHORITY or WORKER */
    bool admitted; /* sends to other workers may leave */
    struct peer_table peers;
    pthread_mutex_t pid_mu; /* pipe_pids is written on nng's threads */
    struct {
        uint32_t pipe, pid;
    } pipe_pids[PIPE_PIDS];
    struct held *held;
    size_t nheld, held_bytes;
    uint64_t query_sent, query_answered; /* sequence numbers of CTL_PEERS_REQ */
    bool query_pending;
    bool peers_changed; /* held frames to look at again */
    ev_timer heard;
    uint64_t heard_at[MAX_DEST]; /* a peer heard from while the socket to it had no connection */
};

static const char *dest_name(unsigned id)
{
    const char *n = worker_name(id);
    return n ? n : "unknown";
}

static int mailbox_url(char *out, size_t n, const char *rtdir, unsigned id)
{
    const char *name = worker_name(id);
    if (!name)
        return -1;
    int w = snprintf(out, n, "ipc://%s/%s.ipc", rtdir, name);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

/* ---- dispatch ---- */

const struct dispatch_entry *dispatch_find(const struct dispatch_table *tables, size_t ntables,
                                           uint16_t type)
{
    for (size_t t = 0; t < ntables; t++)
        for (size_t i = 0; i < tables[t].n; i++)
            if (tables[t].rows[i].type == type)
                return &tables[t].rows[i];
    return NULL;
}

const char *dispatch_check(const struct dispatch_entry *row, const struct envelope *e)
{
    if (e->source >= 32 || !(row->senders & WBIT(e->source)))
        return "sender not allowed for this type";
    if (e->body_len < row->min_size)
        return "body too small";
    if (e->body_len > row->max_size)
        return "body too large";
    return NULL;
}

void mailbox_violation(struct mailbox *mb, const struct envelope *e, const char *why)
{
    log_error("ipc_violation", LS("from", e ? dest_name(e->source) : "?"),
              LU("type", e ? e->type : 0), LU("size", e ? e->body_len : 0),
              LU("sender_pid", e ? e->pid : 0), LS("err", why));
    mb->violations++;
    if (!(mb->o.flags & MAILBOX_DROP_VIOLATIONS))
        exit(1);
}

/* ---- pending requests ---- */

static struct pending **pending_slot(struct mailbox *mb, uint64_t id)
{
    struct pending **pp = &mb->buckets[id & (PENDING_BUCKETS - 1)];
    while (*pp && (*pp)->id != id)
        pp = &(*pp)->next;
    return pp;
}

static struct pending *pending_take(struct mailbox *mb, uint64_t id)
{
    struct pending **pp = pending_slot(mb, id);
    struct pending *p = *pp;
    if (p) {
        *pp = p->next;
        mb->npending--;
        ev_timer_stop(mb->loop, &p->timer);
    }
    return p;
}

/*
 * nng 1.5.2's nng_close can wait forever (nanomsg/nng#1543): seen in a chaos drill as two
 * supervisors blocked for good closing the socket of a worker that had just died, which left
 * their workers unreaped and unsupervised. A loop never waits for it: a socket that is done with
 * is closed on a detached thread of its own, and one that hangs costs that thread only. The
 * socket's connection counter (or NULL) goes with it, freed once no callback can reach it.
 */
struct closing {
    nng_socket s;
    struct pipe_count *pc;
};

static void *closer_main(void *arg)
{
    struct closing *c = arg;
    nng_close(c->s);
    free(c->pc);
    free(c);
    return NULL;
}

static void close_later(nng_socket s, struct pipe_count *pc)
{
    pthread_attr_t a;
    pthread_t t;
    struct closing *c = xmalloc(sizeof(*c));
    c->s = s;
    c->pc = pc;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 64 << 10);
    if (pthread_create(&t, &a, closer_main, c) != 0) {
        log_warn("ipc_close", LS("err", "no thread to close a socket on: left open"));
        free(c); /* the counter stays, with the socket */
    }
    pthread_attr_destroy(&a);
}

void mailbox_reset_dest(struct mailbox *mb, unsigned dest)
{
    if (dest >= MAX_DEST || !mb->push_open[dest])
        return;
    buf_reset(&mb->out[dest].frame);
    mb->out[dest].count = 0;
    close_later(mb->push[dest], mb->push_pipes[dest]);
    mb->push_pipes[dest] = NULL;
    mb->push_open[dest] = false;
    mb->nopipe_since[dest] = 0;
    mb->heard_at[dest] = 0;
}

/* Connections are counted from nng's pipe events, on nng's threads: one up at ADD_PRE, one
 * down at REM_POST (nng runs REM_POST only for pipes that went through ADD_PRE). */
static void on_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    struct pipe_count *pc = arg;
    uint64_t pid;
    if (ev == NNG_PIPE_EV_ADD_PRE && nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid) == 0)
        atomic_store(&pc->peer_pid, (unsigned)pid);
    atomic_fetch_add(&pc->pipes, ev == NNG_PIPE_EV_ADD_PRE ? 1 : -1);
    if (ev == NNG_PIPE_EV_ADD_PRE)
        atomic_fetch_add(&pc->adds, 1);
}

/* Count the connections of s from now on, in a counter of its own (see struct pipe_count). */
static struct pipe_count *count_pipes(nng_socket s)
{
    struct pipe_count *pc = xcalloc(1, sizeof(*pc));
    nng_pipe_notify(s, NNG_PIPE_EV_ADD_PRE, on_pipe_event, pc);
    nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, on_pipe_event, pc);
    return pc;
}

static int start_dialer(struct mailbox *mb, unsigned dest)
{
    char url[URL_MAX];
    int rv;
    if (mailbox_url(url, sizeof(url), mb->rtdir, dest) < 0)
        return -EINVAL;
    /* Non-blocking dial: the peer may not be up yet; nng keeps retrying. */
    if ((rv = nng_dial(mb->push[dest], url, &mb->dialer[dest], NNG_FLAG_NONBLOCK)) != 0) {
        log_error("ipc_dial", LS("url", url), LS("err", nng_strerror(rv)));
        return -EIO;
    }
    mb->dialed_at[dest] = now_ms();
    return 0;
}

/* nng 1.5.2's dialer can stop redialling for good when its peer dies during the connection
 * handshake (seen here when a worker is SIGKILLed at start-up; nanomsg/nng#970 describes the
 * same for TCP). The cure is a new dialer on the same socket: what is queued in the socket stays
 * queued and goes to the new incarnation. Closing the socket instead would throw that away, and
 * doing it on every request timeout made one wave of timeouts destroy the retries of the next. */
static void redial(struct mailbox *mb, unsigned dest)
{
    log_debug("ipc_redial", LS("dest", dest_name(dest)));
    nng_dialer_close(mb->dialer[dest]);
    if (start_dialer(mb, dest) < 0)
        mailbox_reset_dest(mb, dest); /* the next send opens a new socket */
}

/* Redial each sending socket that has been without a connection, and with the same dialer, for
 * REDIAL_AFTER_MS. Closing a dialer in the middle of a handshake would break the peer's listener
 * (see on_probe_timer), so this is done only when the peer has been unreachable that long. */
static void on_redial_check(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    struct mailbox *mb = t->data;
    uint64_t now = now_ms();
    for (unsigned d = 0; d < MAX_DEST; d++) {
        if (!mb->push_open[d])
            continue;
        if (atomic_load(&mb->push_pipes[d]->pipes) > 0) {
            mb->nopipe_since[d] = 0;
            continue;
        }
        if (!mb->nopipe_since[d])
            mb->nopipe_since[d] = now;
        if (now - mb->nopipe_since[d] >= REDIAL_AFTER_MS &&
            now - mb->dialed_at[d] >= REDIAL_AFTER_MS)
            redial(mb, d);
    }
}

static void on_deadline(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    struct pending *p = t->data;
    struct mailbox *mb = p->mb;
    p = pending_take(mb, p->id);
    if (!p)
        return;
    log_debug("ipc_timeout", LS("dest", dest_name(p->dest)), LU("req_id", p->id));
    p->cb(mb, -ETIMEDOUT, NULL, p->arg);
    free(p);
}

/* ---- listener health ---- */

static int listener_start(struct mailbox *mb, char *err, size_t errsz)
{
    char url[URL_MAX];
    int rv;
    mailbox_url(url, sizeof(url), mb->rtdir, mb->o.self);
    if ((rv = nng_listener_create(&mb->listener, mb->pull, url)) != 0) {
        snprintf(err, errsz, "mailbox %s: %s", url, nng_strerror(rv));
        return -1;
    }
    /* Access is decided by the runtime dir (0770, root and the workers' group, SPEC §4): the
     * supervisor's socket is root's, the workers' are their users', and all must connect. */
    nng_listener_set_int(mb->listener, NNG_OPT_IPC_PERMISSIONS, 0666);
    if ((rv = nng_listener_start(mb->listener, 0)) != 0) {
        snprintf(err, errsz, "mailbox %s: %s", url, nng_strerror(rv));
        nng_listener_close(mb->listener);
        return -1;
    }
    return 0;
}

/*
 * nng 1.5.2 stops accepting on an ipc listener for good when a connection closes during the
 * SP handshake (nanomsg/nng#1518, fixed in 1.6): a peer killed just after connect(), or nng's
 * own stale-socket check run by a second process trying to listen on the same path. Nothing
 * reports it; every new peer then hangs, connected but never read. So each mailbox checks its
 * own listener: once a period it dials itself from a new socket and sends a probe. A probe that
 * is not back in time while the listener has accepted nothing since it was sent means the
 * listener is dead: it is closed, which also disconnects the peers stuck on it so they redial,
 * and started again on the same path. (A busy loop may just not have read the probe yet; nng's
 * threads accept regardless, so the accept count tells the two apart.)
 */

/* A connection the mailbox's listener handed to the socket (on nng's threads): counted, and
 * the process at its other end recorded while the connection certainly exists. */
static void on_accepted(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    struct mailbox *mb = arg;
    uint64_t pid = 0;
    uint32_t id = (uint32_t)nng_pipe_id(p);
    (void)ev;
    atomic_fetch_add(&mb->accepts, 1);
    if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid) != 0)
        pid = 0;
    pthread_mutex_lock(&mb->pid_mu);
    mb->pipe_pids[id % PIPE_PIDS].pipe = id;
    mb->pipe_pids[id % PIPE_PIDS].pid = (uint32_t)pid;
    pthread_mutex_unlock(&mb->pid_mu);
}

/* The process that sent a message: recorded when its connection was accepted, or asked of the
 * connection now; 0 when neither is possible (the connection is gone). */
static uint32_t pipe_pid(struct mailbox *mb, nng_pipe p)
{
    uint32_t id = (uint32_t)nng_pipe_id(p), pid = 0;
    uint64_t v;
    pthread_mutex_lock(&mb->pid_mu);
    if (mb->pipe_pids[id % PIPE_PIDS].pipe == id)
        pid = mb->pipe_pids[id % PIPE_PIDS].pid;
    pthread_mutex_unlock(&mb->pid_mu);
    if (!pid && nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &v) == 0)
        pid = (uint32_t)v;
    return pid;
}

/*
 * A probe socket is closed at once only when its probe came back (its connection fully up):
 * closing a connection in the middle of nng's handshake is what breaks a listener, and nng_close
 * of a socket whose connection is stuck on a deaf listener can wait forever (seen here: workers
 * blocked in it for good, from heal_listener). Any other probe is retired: closed once its
 * dialer has connected again (to the restarted listener), or kept if it never does.
 */
static void retired_reap(struct mailbox *mb)
{
    if (mb->retired_open && atomic_load(&mb->retired_pipes->adds) > 0) {
        close_later(mb->retired, mb->retired_pipes);
        mb->retired_pipes = NULL;
        mb->retired_open = false;
    }
}

static void probe_end(struct mailbox *mb, bool answered)
{
    if (!mb->probe_pending)
        return;
    mb->probe_pending = false;
    if (answered) {
        close_later(mb->probe, NULL);
        return;
    }
    retired_reap(mb);
    if (mb->retired_open) {
        /* At most one is kept waiting; an older one is left as it is, its counter with it. */
        log_warn("ipc_probe_abandoned", LS("mailbox", dest_name(mb->o.self)),
                 LS("err", "a probe connection that never came back up is left open"));
    }
    mb->retired = mb->probe;
    mb->retired_open = true;
    mb->retired_pipes = count_pipes(mb->retired);
}

static void probe_start(struct mailbox *mb)
{
    char url[URL_MAX];
    struct buf b = BUF_INIT;
    nng_msg *m;
    /* A new socket each time: a message sent right after a dialer closed can go to its dying
     * connection and be lost (seen here, about one probe in 200 when one socket was reused). */
    if (nng_push0_open(&mb->probe) != 0)
        return;
    mailbox_url(url, sizeof(url), mb->rtdir, mb->o.self);
    random_bytes(&mb->probe_nonce, sizeof(mb->probe_nonce));
    envelope_encode(&b, CTL_LISTEN_PROBE, 0, (uint8_t)mb->o.self, 0, NULL, &mb->probe_nonce,
                    sizeof(mb->probe_nonce));
    if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, b.data, b.len) != 0)
        fatalx("ipc: out of memory");
    buf_free(&b);
    nng_socket_set_int(mb->probe, NNG_OPT_SENDBUF, 1);
    if (nng_dial(mb->probe, url, NULL, NNG_FLAG_NONBLOCK) != 0 ||
        nng_sendmsg(mb->probe, m, NNG_FLAG_NONBLOCK) != 0) {
        nng_msg_free(m);
        close_later(mb->probe, NULL);
        return;
    }
    mb->probe_pending = true;
    mb->probe_sent_ms = now_ms();
    mb->probe_accepts = atomic_load(&mb->accepts);
}

static void on_rx(struct ev_loop *loop, ev_io *w, int revents);

static void heal_listener(struct mailbox *mb)
{
    char err[256];
    log_warn("ipc_listener_restart", LS("mailbox", dest_name(mb->o.self)),
             LS("err", "own probe not received: the listener stopped accepting"));
    nng_listener_close(mb->listener); /* unlinks the path and closes its connections */
    if (listener_start(mb, err, sizeof(err)) < 0)
        log_error("ipc_listen", LS("err", err)); /* tried again at the next period */
    /* The probe's connection was stuck on the dead listener: retired, it redials the new one
     * and is closed then. The next period probes the new listener. */
    probe_end(mb, false);
}

static void on_probe_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    struct mailbox *mb = t->data;
    retired_reap(mb);
    if (!mb->probe_pending) {
        probe_start(mb);
        return;
    }
    on_rx(loop, &mb->rx, 0); /* a busy loop may simply not have read it yet */
    if (!mb->probe_pending || now_ms() - mb->probe_sent_ms < PROBE_TIMEOUT_MS)
        return;
    if (atomic_load(&mb->accepts) == mb->probe_accepts) {
        heal_listener(mb);
        return;
    }
    /* The listener accepts, yet the probe is not back: give this probe up and send another. */
    log_debug("ipc_probe_lost", LS("mailbox", dest_name(mb->o.self)));
    probe_end(mb, false);
    probe_start(mb);
}

static void probe_seen(struct mailbox *mb, const struct envelope *e)
{
    uint64_t nonce;
    if (e->source != mb->o.self || e->body_len != sizeof(nonce)) {
        mailbox_violation(mb, e, "listener probe from another process");
        return;
    }
    memcpy(&nonce, e->body, sizeof(nonce));
    if (mb->probe_pending && nonce == mb->probe_nonce)
        probe_end(mb, true);
}

/* ---- receive ---- */

static void peers_update(struct mailbox *mb, const struct envelope *e);

static void handle_one(struct mailbox *mb, const struct envelope *ep)
{
    struct envelope e = *ep;
    log_set_trace(e.trace_id[0] ? e.trace_id : NULL);
    if (e.flags & ENVELOPE_FLAG_REPLY) {
        struct pending *p = pending_take(mb, e.req_id);
        if (!p) {
            log_debug("ipc_late_reply", LS("from", dest_name(e.source)), LU("req_id", e.req_id));
        } else if (p->dest != e.source || p->reply_type != e.type) {
            p->cb(mb, -EPROTO, NULL, p->arg);
            free(p);
            mailbox_violation(mb, &e, "reply of the wrong type or from the wrong sender");
        } else {
            p->cb(mb, 0, &e, p->arg);
            free(p);
        }
    } else if (e.type == CTL_LISTEN_PROBE) {
        probe_seen(mb, &e);
    } else if (e.type == CTL_PEERS && (mb->o.flags & MAILBOX_WORKER)) {
        peers_update(mb, &e);
    } else {
        const struct dispatch_entry *row = dispatch_find(mb->o.tables, mb->o.ntables, e.type);
        const char *why = row ? dispatch_check(row, &e) : "unknown message type";
        if (why)
            mailbox_violation(mb, &e, why);
        else
            row->handler(mb, &e, mb->o.ctx);
    }
    log_set_trace(NULL);
}

static void note_heard(struct mailbox *mb, unsigned source);

/* Handle the envelopes of a frame whose sender was checked: all must declare its source. */
static void frame_dispatch(struct mailbox *mb, nng_msg *m, uint32_t pid, unsigned source)
{
    const uint8_t *p = nng_msg_body(m);
    size_t left = nng_msg_len(m);
    struct envelope e;
    int rc;
    note_heard(mb, source);
    while ((rc = envelope_next(&e, &p, &left)) == 1) {
        e.pid = pid;
        if (e.source != source) {
            mailbox_violation(mb, &e, "one frame, two declared sources");
            return;
        }
        handle_one(mb, &e);
    }
    if (rc < 0)
        mailbox_violation(mb, NULL, "undecodable envelope");
}

/* ---- senders: the peer table and the frames held for it ---- */

/* A worker knows the supervisor as the process listening on the supervisor's mailbox. */
static void refresh_supervisor(struct mailbox *mb)
{
    const struct pipe_count *pc = mb->push_open[W_SUPERVISOR] ? mb->push_pipes[W_SUPERVISOR] : NULL;
    unsigned pid = pc ? atomic_load(&pc->peer_pid) : 0;
    if ((mb->o.flags & MAILBOX_WORKER) && pid)
        mb->peers.t.w[W_SUPERVISOR].pid = pid;
}

static void forged(struct mailbox *mb, struct envelope *e, uint32_t pid)
{
    char why[160];
    int who = peers_who(&mb->peers, pid);
    e->pid = pid;
    snprintf(why, sizeof(why), "forged source: the frame came from %s (pid %u), not from %s",
             who >= 0 ? dest_name((unsigned)who) : "no process of this node", pid,
             dest_name(e->source));
    mailbox_violation(mb, e, why);
}

static bool held_from(const struct mailbox *mb, uint32_t pid)
{
    for (const struct held *h = mb->held; h; h = h->next)
        if (h->pid == pid)
            return true;
    return false;
}

static void held_free(struct mailbox *mb, struct held *h)
{
    mb->nheld--;
    mb->held_bytes -= nng_msg_len(h->m);
    nng_msg_free(h->m);
    free(h);
}

static void on_peers_answer(struct mailbox *mb, int status, const struct envelope *e, void *arg);

/* Ask the supervisor for its table; its answer decides every frame held until now. */
static void ask_supervisor(struct mailbox *mb)
{
    if (mailbox_request(mb, W_SUPERVISOR, CTL_PEERS_REQ, CTL_PEERS, NULL, 0, QUERY_TIMEOUT_MS,
                        on_peers_answer, NULL) < 0) {
        log_warn("ipc_sender_unverified", LU("held", mb->nheld),
                 LS("err", "cannot ask the supervisor: frames of unknown processes dropped"));
        while (mb->held) {
            struct held *h = mb->held;
            mb->held = h->next;
            held_free(mb, h);
        }
        return;
    }
    mb->query_sent++;
    mb->query_pending = true;
    for (struct held *h = mb->held; h; h = h->next)
        if (!h->query)
            h->query = mb->query_sent;
}

static void hold(struct mailbox *mb, nng_msg *m, uint32_t pid)
{
    size_t len = nng_msg_len(m);
    if (mb->nheld >= HOLD_MAX || mb->held_bytes + len > HOLD_MAX_BYTES) {
        log_warn("ipc_hold_full", LU("sender_pid", pid), LU("held", mb->nheld),
                 LS("err", "a frame from a process not in the peer table dropped"));
        nng_msg_free(m);
        return;
    }
    struct held *h = xcalloc(1, sizeof(*h)), **tail = &mb->held;
    h->m = m;
    h->pid = pid;
    while (*tail)
        tail = &(*tail)->next;
    *tail = h;
    mb->nheld++;
    mb->held_bytes += len;
    log_debug("ipc_hold", LU("sender_pid", pid), LU("held", mb->nheld));
    if (!mb->query_pending)
        ask_supervisor(mb);
}

/* Look at the held frames again with the table as it is now, in arrival order: dispatch those
 * of known processes, drop stale ones, and treat as forged those still unknown to an answer of
 * the supervisor that was asked after they arrived. A process's frames keep their order. */
static void release_once(struct mailbox *mb)
{
    struct held *list = mb->held, *keep = NULL, **tail = &keep;
    mb->held = NULL;
    mb->peers_changed = false;
    refresh_supervisor(mb);
    while (list) {
        struct held *h = list;
        list = h->next;
        h->next = NULL;
        struct envelope first;
        const uint8_t *p = nng_msg_body(h->m);
        size_t left = nng_msg_len(h->m);
        envelope_next(&first, &p, &left); /* decoded once already, when it was held */
        bool blocked = false;
        for (struct held *k = keep; k && !blocked; k = k->next)
            blocked = k->pid == h->pid;
        enum peer_verdict v =
            blocked ? PEER_UNKNOWN : peers_check(&mb->peers, first.source, h->pid);
        if (v == PEER_UNKNOWN && (blocked || !h->query || h->query > mb->query_answered)) {
            *tail = h;
            tail = &h->next;
            continue;
        }
        if (v == PEER_OK)
            frame_dispatch(mb, h->m, h->pid, first.source);
        else if (v == PEER_STALE)
            log_debug("ipc_stale_sender", LS("from", dest_name(first.source)),
                      LU("sender_pid", h->pid));
        else
            forged(mb, &first, h->pid);
        held_free(mb, h);
    }
    *tail = mb->held; /* none: frames are held only by frame_in */
    mb->held = keep;
}

static void release_held(struct mailbox *mb)
{
    do /* a table may arrive among the released frames */
        release_once(mb);
    while (mb->peers_changed);
    bool unasked = false;
    for (struct held *h = mb->held; h; h = h->next)
        unasked |= !h->query;
    if (unasked && !mb->query_pending)
        ask_supervisor(mb);
}

static void peers_apply(struct mailbox *mb, const struct ctl_peers *t)
{
    mb->peers.t = *t;
    if (mb->peers.self < W_COUNT)
        mb->peers.t.w[mb->peers.self].pid = mb->peers.self_pid;
    refresh_supervisor(mb);
    mb->peers_changed = true;
}

/* CTL_PEERS from the supervisor (its sender is checked like any other). */
static void peers_update(struct mailbox *mb, const struct envelope *e)
{
    struct ctl_peers t;
    if (e->source != W_SUPERVISOR || ctl_peers_decode(&t, e->body, e->body_len) < 0) {
        mailbox_violation(mb, e, "malformed CTL_PEERS or not from the supervisor");
        return;
    }
    peers_apply(mb, &t);
}

static void on_peers_answer(struct mailbox *mb, int status, const struct envelope *e, void *arg)
{
    (void)arg;
    struct ctl_peers t;
    uint64_t asked = mb->query_sent;
    mb->query_pending = false;
    if (status == -ECANCELED)
        return;
    if (status == 0 && ctl_peers_decode(&t, e->body, e->body_len) < 0) {
        mailbox_violation(mb, e, "malformed CTL_PEERS");
        return;
    }
    if (status == 0) {
        mb->query_answered = asked;
        peers_apply(mb, &t);
        return; /* the held frames are looked at once the drain is done */
    }
    /* No answer: what was held for this question is dropped, never judged. */
    struct held **pp = &mb->held;
    size_t dropped = 0;
    while (*pp) {
        struct held *h = *pp;
        if (h->query && h->query <= asked) {
            *pp = h->next;
            held_free(mb, h);
            dropped++;
        } else {
            pp = &h->next;
        }
    }
    log_warn("ipc_sender_unverified", LU("dropped", dropped),
             LS("err", "the supervisor did not answer: frames of unknown processes dropped"));
    release_held(mb);
}

/* One nng message: a frame of envelopes from one process. Takes m. */
static void frame_in(struct mailbox *mb, nng_msg *m, uint32_t pid)
{
    struct envelope first;
    const uint8_t *p = nng_msg_body(m);
    size_t left = nng_msg_len(m);
    int rc = envelope_next(&first, &p, &left);
    if (rc != 1) {
        mailbox_violation(mb, NULL, rc == 0 ? "empty frame" : "undecodable envelope");
        nng_msg_free(m);
        return;
    }
    if (!mb->checks) {
        frame_dispatch(mb, m, 0, first.source);
        nng_msg_free(m);
        return;
    }
    if (!pid) {
        log_warn("ipc_unverifiable", LS("from", dest_name(first.source)), LU("type", first.type),
                 LS("err", "the connection closed before its sender was known: frame dropped"));
        nng_msg_free(m);
        return;
    }
    uint32_t supervisor = mb->peers.t.w[W_SUPERVISOR].pid;
    refresh_supervisor(mb);
    if (mb->held && supervisor != mb->peers.t.w[W_SUPERVISOR].pid)
        release_held(mb);     /* the supervisor's connection just came up */
    if (held_from(mb, pid)) { /* behind its earlier frames */
        hold(mb, m, pid);
        return;
    }
    switch (peers_check(&mb->peers, first.source, pid)) {
    case PEER_OK:
        frame_dispatch(mb, m, pid, first.source);
        break;
    case PEER_STALE:
        log_debug("ipc_stale_sender", LS("from", dest_name(first.source)), LU("sender_pid", pid));
        break;
    case PEER_UNKNOWN:
        if (mb->o.flags & MAILBOX_WORKER) {
            hold(mb, m, pid);
            return;
        }
        forged(mb, &first, pid);
        break;
    case PEER_FORGED:
        forged(mb, &first, pid);
        break;
    }
    nng_msg_free(m);
}

static void on_rx(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct mailbox *mb = w->data;
    for (int i = 0; i < DRAIN_MAX; i++) {
        nng_msg *m;
        int rv = nng_recvmsg(mb->pull, &m, NNG_FLAG_NONBLOCK);
        if (rv == NNG_EAGAIN)
            break;
        if (rv != 0) {
            log_warn("ipc_recv", LS("err", nng_strerror(rv)));
            break;
        }
        frame_in(mb, m, mb->checks ? pipe_pid(mb, nng_msg_get_pipe(m)) : 0);
    }
    if (mb->peers_changed)
        release_held(mb);
    if (mb->o.on_drained)
        mb->o.on_drained(mb, mb->o.ctx);
}

/* ---- a peer heard from while the socket back to it has no connection ---- */

static void note_heard(struct mailbox *mb, unsigned source)
{
    if (source >= MAX_DEST || source == mb->o.self || !mb->push_open[source] ||
        mb->heard_at[source] || atomic_load(&mb->push_pipes[source]->pipes) > 0)
        return;
    mb->heard_at[source] = now_ms();
    if (!ev_is_active(&mb->heard)) {
        ev_timer_set(&mb->heard, HEARD_REDIAL_MS / 1000.0, 0);
        ev_timer_start(mb->loop, &mb->heard);
    }
}

/* The peer is up (it spoke), so a dialer that has not connected to it within a few of its
 * RECONNECT_MS attempts is stuck (nanomsg/nng#970): replace it now rather than at the
 * REDIAL_AFTER_MS check (that wait was the 300 ms tail of worker restarts). */
static void on_heard_check(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    struct mailbox *mb = t->data;
    uint64_t now = now_ms(), next = 0;
    for (unsigned d = 0; d < MAX_DEST; d++) {
        if (!mb->heard_at[d])
            continue;
        if (!mb->push_open[d] || atomic_load(&mb->push_pipes[d]->pipes) > 0) {
            mb->heard_at[d] = 0;
            continue;
        }
        uint64_t since = mb->heard_at[d] > mb->dialed_at[d] ? mb->heard_at[d] : mb->dialed_at[d];
        if (now >= since + HEARD_REDIAL_MS) {
            log_info("ipc_redial", LS("dest", dest_name(d)), LS("reason", "peer_heard"),
                     LU("unconnected_ms", mb->nopipe_since[d] ? now - mb->nopipe_since[d] : 0));
            mb->heard_at[d] = 0;
            redial(mb, d);
        } else if (!next || since + HEARD_REDIAL_MS - now < next) {
            next = since + HEARD_REDIAL_MS - now;
        }
    }
    if (next) {
        ev_timer_set(&mb->heard, (double)next / 1000.0, 0);
        ev_timer_start(mb->loop, &mb->heard);
    }
}

/* ---- sending: gather per destination, flush before the loop sleeps ---- */

static int ensure_push(struct mailbox *mb, unsigned dest);

static int flush_dest(struct mailbox *mb, unsigned dest)
{
    struct outq *q = &mb->out[dest];
    if (q->count == 0)
        return 0;
    nng_msg *m;
    if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, q->frame.data, q->frame.len) != 0)
        fatalx("ipc: out of memory");
    int rv = nng_sendmsg(mb->push[dest], m, NNG_FLAG_NONBLOCK);
    unsigned n = q->count;
    buf_reset(&q->frame);
    q->count = 0;
    if (rv != 0) {
        nng_msg_free(m);
        /* Requests among them fail by their deadline; one-way messages are lost, as they would
         * be if the destination had died a moment later. */
        log_warn("ipc_send", LS("dest", dest_name(dest)), LU("envelopes", n),
                 LS("err", nng_strerror(rv)));
        return -EAGAIN;
    }
    return 0;
}

/* A worker sends to the other workers only once admitted (see the header). */
static bool may_send(const struct mailbox *mb, unsigned dest)
{
    return mb->admitted || dest == W_SUPERVISOR;
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)loop;
    (void)revents;
    struct mailbox *mb = w->data;
    for (unsigned d = 0; d < MAX_DEST; d++)
        if (may_send(mb, d))
            flush_dest(mb, d);
}

void mailbox_flush(struct mailbox *mb)
{
    on_prepare(mb->loop, &mb->flush, 0);
}

/* ---- open/close ---- */

struct mailbox *mailbox_open(struct ev_loop *loop, const struct mailbox_opts *o, char *err,
                             size_t errsz)
{
    char url[URL_MAX];
    int rv, fd;
    if (strlen(o->runtime_dir) >= CFG_RTDIR_MAX ||
        mailbox_url(url, sizeof(url), o->runtime_dir, o->self) < 0 || strlen(url) > 107 + 6) {
        snprintf(err, errsz, "runtime dir path too long for an ipc:// endpoint");
        return NULL;
    }
    struct mailbox *mb = xcalloc(1, sizeof(*mb));
    mb->loop = loop;
    mb->o = *o;
    pthread_mutex_init(&mb->pid_mu, NULL);
    peers_init(&mb->peers, o->self, (uint32_t)getpid());
    mb->checks = o->flags & (MAILBOX_AUTHORITY | MAILBOX_WORKER);
    mb->admitted = !(o->flags & MAILBOX_WORKER);
    snprintf(mb->rtdir, sizeof(mb->rtdir), "%s", o->runtime_dir);
    mb->o.runtime_dir = mb->rtdir;
    /* A random first id: a late reply meant for an earlier incarnation never matches. */
    random_bytes(&mb->next_id, sizeof(mb->next_id));

    if ((rv = nng_pull0_open(&mb->pull)) != 0 ||
        (rv = nng_socket_set_size(mb->pull, NNG_OPT_RECVMAXSZ, IPC_MAX_MSG)) != 0 ||
        /* Queue what arrives between drains: without a receive buffer nng holds one message
         * per pipe, and a drain (one group commit in StateDB) would see one request per peer. */
        (rv = nng_socket_set_int(mb->pull, NNG_OPT_RECVBUF, PULL_RECVBUF)) != 0 ||
        (rv = nng_pipe_notify(mb->pull, NNG_PIPE_EV_ADD_PRE, on_accepted, mb)) != 0) {
        snprintf(err, errsz, "mailbox %s: %s", url, nng_strerror(rv));
        goto fail;
    }
    if (listener_start(mb, err, errsz) < 0)
        goto fail;
    if ((rv = nng_socket_get_int(mb->pull, NNG_OPT_RECVFD, &fd)) != 0) {
        snprintf(err, errsz, "mailbox %s: %s", url, nng_strerror(rv));
        goto fail;
    }
    ev_io_init(&mb->rx, on_rx, fd, EV_READ);
    mb->rx.data = mb;
    ev_io_start(loop, &mb->rx);
    ev_prepare_init(&mb->flush, on_prepare);
    mb->flush.data = mb;
    ev_prepare_start(loop, &mb->flush);
    ev_timer_init(&mb->redial, on_redial_check, REDIAL_CHECK_S, REDIAL_CHECK_S);
    mb->redial.data = mb;
    ev_timer_start(loop, &mb->redial);
    ev_timer_init(&mb->probe_timer, on_probe_timer, PROBE_PERIOD_S, PROBE_PERIOD_S);
    mb->probe_timer.data = mb;
    ev_timer_start(loop, &mb->probe_timer);
    ev_timer_init(&mb->heard, on_heard_check, 0, 0);
    mb->heard.data = mb;
    return mb;
fail:
    nng_close(mb->pull);
    pthread_mutex_destroy(&mb->pid_mu);
    free(mb);
    return NULL;
}

/* Send what is gathered, stop the watchers, cancel pending requests. */
static void quiesce(struct mailbox *mb)
{
    mailbox_flush(mb);
    ev_prepare_stop(mb->loop, &mb->flush);
    ev_timer_stop(mb->loop, &mb->redial);
    ev_timer_stop(mb->loop, &mb->probe_timer);
    ev_timer_stop(mb->loop, &mb->heard);
    ev_io_stop(mb->loop, &mb->rx);
    for (size_t b = 0; b < PENDING_BUCKETS; b++) {
        while (mb->buckets[b]) {
            struct pending *p = pending_take(mb, mb->buckets[b]->id);
            p->cb(mb, -ECANCELED, NULL, p->arg);
            free(p);
        }
    }
}

void mailbox_abandon(struct mailbox *mb)
{
    if (mb)
        quiesce(mb);
}

void mailbox_close(struct mailbox *mb)
{
    if (!mb)
        return;
    quiesce(mb);
    probe_end(mb, false);
    retired_reap(mb);
    nng_close(mb->pull);
    /* With the listener gone, closing a retired probe can break nothing (see probe_end). */
    if (mb->retired_open)
        close_later(mb->retired, mb->retired_pipes);
    for (unsigned d = 0; d < MAX_DEST; d++) {
        if (mb->push_open[d]) {
            nng_close(mb->push[d]);
            free(mb->push_pipes[d]); /* nng_close returned: no callback can reach it now */
        }
    }
    for (unsigned d = 0; d < MAX_DEST; d++)
        buf_free(&mb->out[d].frame);
    while (mb->held) {
        struct held *h = mb->held;
        mb->held = h->next;
        held_free(mb, h);
    }
    pthread_mutex_destroy(&mb->pid_mu);
    free(mb);
}

/* ---- send ---- */

static int ensure_push(struct mailbox *mb, unsigned dest)
{
    int rv;
    if (dest >= MAX_DEST || !worker_name(dest))
        return -EINVAL;
    if (mb->push_open[dest])
        return 0;
    nng_socket s;
    if ((rv = nng_push0_open(&s)) != 0) {
        log_error("ipc_open", LS("dest", dest_name(dest)), LS("err", nng_strerror(rv)));
        return -EIO;
    }
    /* Redial a peer that is down every RECONNECT_MS, without backing off (a refused ipc connect
     * costs microseconds): a restarted worker is reached within that of listening. */
    nng_socket_set_ms(s, NNG_OPT_RECONNMINT, RECONNECT_MS);
    nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, RECONNECT_MS);
    nng_socket_set_int(s, NNG_OPT_SENDBUF, PUSH_SENDBUF);
    struct pipe_count *pc = count_pipes(s);
    mb->push[dest] = s;
    if (start_dialer(mb, dest) < 0) {
        close_later(s, pc);
        return -EIO;
    }
    mb->push_pipes[dest] = pc;
    mb->push_open[dest] = true;
    mb->nopipe_since[dest] = 0;
    return 0;
}

static int send_envelope(struct mailbox *mb, unsigned dest, uint16_t type, uint8_t flags,
                         uint64_t req_id, const void *body, size_t len)
{
    int rv = ensure_push(mb, dest);
    if (rv < 0)
        return rv;
    if (len > IPC_MAX_MSG - 256)
        return -EMSGSIZE;
    struct outq *q = &mb->out[dest];
    /* A frame never exceeds the receiver's limit: send what is gathered first if needed (a
     * worker not admitted yet holds at most one frame's worth per destination). */
    if (q->count && q->frame.len + len + 256 > IPC_MAX_MSG &&
        (!may_send(mb, dest) || flush_dest(mb, dest) < 0))
        return -EAGAIN;
    envelope_encode(&q->frame, type, flags, (uint8_t)mb->o.self, req_id, log_get_trace(), body,
                    len);
    q->count++;
    if (q->frame.len >= FRAME_FLUSH_BYTES && may_send(mb, dest))
        return flush_dest(mb, dest);
    return 0;
}

int mailbox_send(struct mailbox *mb, unsigned dest, uint16_t type, const void *body, size_t len)
{
    return send_envelope(mb, dest, type, 0, 0, body, len);
}

int mailbox_request(struct mailbox *mb, unsigned dest, uint16_t type, uint16_t reply_type,
                    const void *body, size_t len, unsigned timeout_ms, mailbox_reply_cb cb,
                    void *arg)
{
    uint64_t id = mb->next_id++;
    if (id == 0)
        id = mb->next_id++;
    int rv = send_envelope(mb, dest, type, 0, id, body, len);
    if (rv < 0)
        return rv;
    struct pending *p = xcalloc(1, sizeof(*p));
    p->id = id;
    p->dest = dest;
    p->reply_type = reply_type;
    p->cb = cb;
    p->arg = arg;
    p->mb = mb;
    ev_timer_init(&p->timer, on_deadline, (double)timeout_ms / 1000.0, 0);
    p->timer.data = p;
    ev_timer_start(mb->loop, &p->timer);
    struct pending **slot = &mb->buckets[id & (PENDING_BUCKETS - 1)];
    p->next = *slot;
    *slot = p;
    mb->npending++;
    return 0;
}

int mailbox_reply(struct mailbox *mb, const struct envelope *req, uint16_t type, const void *body,
                  size_t len)
{
    return send_envelope(mb, req->source, type, ENVELOPE_FLAG_REPLY, req->req_id, body, len);
}

void *mailbox_ctx(struct mailbox *mb)
{
    return mb->o.ctx;
}

struct ev_loop *mailbox_loop(struct mailbox *mb)
{
    return mb->loop;
}

unsigned mailbox_self(struct mailbox *mb)
{
    return mb->o.self;
}

size_t mailbox_pending(struct mailbox *mb)
{
    return mb->npending;
}

bool mailbox_connected(struct mailbox *mb, unsigned dest)
{
    return dest < MAX_DEST && mb->push_open[dest] && atomic_load(&mb->push_pipes[dest]->pipes) > 0;
}

size_t mailbox_violations(struct mailbox *mb)
{
    return mb->violations;
}

void mailbox_admit(struct mailbox *mb)
{
    mb->admitted = true;
}

void mailbox_peers_set(struct mailbox *mb, unsigned id, uint32_t pid, uint64_t generation,
                       bool open)
{
    if (id >= W_COUNT)
        return;
    peers_set(&mb->peers, id, pid, generation);
    if (open && !pid)
        mb->peers.open |= WBIT(id);
    else
        mb->peers.open &= ~WBIT(id);
}

const struct ctl_peers *mailbox_peers(struct mailbox *mb)
{
    return &mb->peers.t;
}
