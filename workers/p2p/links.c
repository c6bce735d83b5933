#include "workers/p2p/links.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "workers/p2p/handshake.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK       65536
#define READ_BUDGET      (1u << 20) /* bytes read per callback before yielding to other links */
#define ACCEPT_BATCH     64
#define BIG_BUFFER       (1u << 20) /* buffers above this are freed when drained */
#define LOG_RATE         10         /* denial log lines per second (burst 2x) */
#define SCORE_REFRESH    1.0        /* seconds between p2p_peer_score updates */
#define HS_LOG_ADDRS     32         /* remote addresses whose failed handshakes are logged ... */
#define HS_LOG_PERIOD_MS 10000      /* ... once per period each (the others are counted) */

enum conn_state {
    CONN_CONNECTING,  /* outbound TCP connect in progress */
    CONN_HANDSHAKE,   /* Noise handshake */
    CONN_WAIT_ACCEPT, /* initiator: handshake done, waiting for the responder's ACCEPT */
    CONN_UP,          /* the peer's link */
};

static const char *const state_names[] = {"connecting", "handshake", "wait_accept", "up"};

struct conn {
    struct p2p_links *l;
    struct conn *next;
    int fd;
    ev_io rio, wio;
    ev_timer timer; /* handshake deadline, then keep-alive */
    enum conn_state state;
    bool initiator;
    bool broken; /* close at the next write callback */
    int peer;    /* operator index: known when dialling, after the handshake when accepting */
    struct p2p_hs hs;
    struct noise_cipher tx, rx;
    struct buf in, out;
    size_t in_off, out_off;
    uint64_t last_rx_ms, last_tx_ms;
    char addr[64];
};

struct peer {
    uint32_t index;
    bool dialer; /* we dial this peer (our index is lower) */
    struct conn *link;
    struct conn *dialing;
    ev_timer redial;
    uint64_t backoff_ms;
    struct p2p_peer_gate gate;
    struct mseries *score_gauge;
    bool rate_logged, score_logged;
    struct p2p_links *l;
};

/* Label slots of p2p_msgs_total / p2p_bytes_total. */
/* The first P2P_TOPIC_COUNT slots are the topics, by number. */
enum mtopic { MT_CONTROL, MT_QBFT, MT_TX, MT_TSS, MT_SYNC, MT_HANDSHAKE, MT_INVALID, MT_COUNT };
static const char *const mtopic_names[MT_COUNT] = {"control",      "aequa/qbft/v1", "aequa/tx/v1",
                                                   "aequa/tss/v1", "aequa/sync/v1", "handshake",
                                                   "invalid"};
enum mresult {
    MR_OK,
    MR_RATE_LIMITED,
    MR_SCORED_OUT,
    MR_UNDECODABLE,
    MR_NO_LINK,
    MR_QUEUE_FULL,
    MR_TOO_LARGE,
    MR_OVERSIZE,
    MR_COUNT
};
static const char *const mresult_names[MR_COUNT] = {"ok",          "rate_limited", "scored_out",
                                                    "undecodable", "no_link",      "queue_full",
                                                    "too_large",   "oversize"};
enum mdir { MD_TX, MD_RX };
static const char *const mdir_names[2] = {"tx", "rx"};

/* Failed-handshake log lines by remote address (host, without the port). */
struct hs_log {
    char host[48];
    uint64_t last_ms;
    uint64_t not_logged;
};

struct p2p_links {
    struct ev_loop *loop;
    struct p2p_links_config cfg;
    const struct lock *lock;
    uint32_t self;
    const struct p2p_identity *id;
    struct p2p_links_callbacks cb;
    int lfd;
    ev_io lio;
    ev_timer lpause; /* re-arms lio after the process ran out of file descriptors */
    ev_timer score_timer;
    struct conn *conns;
    uint64_t nconns;
    uint32_t nup;
    struct peer peers[LOCK_MAX_OPERATORS];
    struct p2p_bucket log_bucket;
    struct hs_log hs_log[HS_LOG_ADDRS];
    uint64_t rng;
    /* cached series */
    struct mseries *m_attempts[P2P_GATE_COUNT];
    struct mseries *m_msgs[MT_COUNT][2][MR_COUNT];
    struct mseries *m_bytes[MT_COUNT][2];
    struct mseries *m_open, *m_close, *m_conns, *m_joined, *m_left;
};

/* ---- metrics and logs ---- */

static void count_attempt(struct p2p_links *l, enum p2p_gate_result r)
{
    metric_inc(l->m_attempts[r]);
}

static void count_msg(struct p2p_links *l, enum mtopic t, enum mdir d, enum mresult r)
{
    if (!l->m_msgs[t][d][r])
        l->m_msgs[t][d][r] =
            metric("p2p_msgs_total", mtopic_names[t], mdir_names[d], mresult_names[r]);
    metric_inc(l->m_msgs[t][d][r]);
}

static void count_bytes(struct p2p_links *l, enum mtopic t, enum mdir d, size_t n)
{
    metric_add(l->m_bytes[t][d], (double)n);
}

static enum mtopic mtopic_of(unsigned topic)
{
    return topic < P2P_TOPIC_COUNT ? (enum mtopic)topic : MT_INVALID;
}

static bool log_allowed(struct p2p_links *l)
{
    return p2p_bucket_take(&l->log_bucket, 1, now_ms());
}

static void log_conn(struct p2p_links *l, enum log_level lvl, const struct conn *c,
                     const char *result, const char *reason)
{
    const char *pid = c->peer >= 0 ? l->lock->ops[c->peer].peer_id : "";
    log_at(lvl, "p2p_peer", LI("peer", c->peer), LS("peer_id", pid), LS("addr", c->addr),
           LS("dir", c->initiator ? "out" : "in"), LS("result", result),
           LS("reason", reason ? reason : ""), LOG_END);
}

static void update_score(struct p2p_links *l, struct peer *p, uint64_t now)
{
    metric_set(p->score_gauge, p2p_score_value(&p->gate.score, &l->cfg.gate.score, now));
}

/* ---- connections ---- */

static void conn_on_read(struct ev_loop *loop, ev_io *w, int revents);
static void conn_on_write(struct ev_loop *loop, ev_io *w, int revents);
static void conn_on_timer(struct ev_loop *loop, ev_timer *w, int revents);
static void peer_schedule_dial(struct p2p_links *l, struct peer *p);

static uint64_t rng_next(struct p2p_links *l)
{
    /* xorshift64: jitter only, not security. */
    l->rng ^= l->rng << 13;
    l->rng ^= l->rng >> 7;
    l->rng ^= l->rng << 17;
    return l->rng;
}

static struct conn *conn_new(struct p2p_links *l, int fd, bool initiator, int peer,
                             const char *addr)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->l = l;
    c->fd = fd;
    c->initiator = initiator;
    c->peer = peer;
    c->state = initiator ? CONN_CONNECTING : CONN_HANDSHAKE;
    c->last_rx_ms = c->last_tx_ms = now_ms();
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    p2p_hs_init(&c->hs, initiator, l->id, l->lock, l->self, peer);
    ev_io_init(&c->rio, conn_on_read, fd, EV_READ);
    ev_io_init(&c->wio, conn_on_write, fd, EV_WRITE);
    ev_timer_init(&c->timer, conn_on_timer, (double)l->cfg.handshake_timeout_ms / 1000.0, 0);
    c->rio.data = c->wio.data = c->timer.data = c;
    ev_timer_start(l->loop, &c->timer);
    c->next = l->conns;
    l->conns = c;
    l->nconns++;
    return c;
}

static void conn_unlink(struct p2p_links *l, struct conn *c)
{
    for (struct conn **pp = &l->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            l->nconns--;
            return;
        }
}

static void set_conns_gauge(struct p2p_links *l)
{
    metric_set(l->m_conns, l->nup);
}

/* Close a connection. If it was its peer's link, the peer goes down (callback), and a peer we
 * dial is redialled after the backoff. */
static void conn_close(struct conn *c, const char *reason)
{
    struct p2p_links *l = c->l;
    ev_io_stop(l->loop, &c->rio);
    ev_io_stop(l->loop, &c->wio);
    ev_timer_stop(l->loop, &c->timer);
    close(c->fd);
    conn_unlink(l, c);
    struct peer *p = c->peer >= 0 ? &l->peers[c->peer] : NULL;
    bool was_link = p && p->link == c;
    if (p && p->dialing == c)
        p->dialing = NULL;
    if (was_link) {
        p->link = NULL;
        l->nup--;
        set_conns_gauge(l);
        metric_inc(l->m_close);
        metric_inc(l->m_left);
        log_conn(l, LOG_INFO, c, "down", reason);
    } else if (c->state == CONN_UP) {
        metric_inc(l->m_close); /* a replaced link */
    } else {
        log_at(LOG_DEBUG, "p2p_peer", LI("peer", c->peer), LS("addr", c->addr),
               LS("dir", c->initiator ? "out" : "in"), LS("result", "closed"),
               LS("state", state_names[c->state]), LS("reason", reason), LOG_END);
    }
    p2p_hs_wipe(&c->hs);
    noise_cipher_wipe(&c->tx);
    noise_cipher_wipe(&c->rx);
    buf_free(&c->in);
    buf_free(&c->out);
    free(c);
    if (p && was_link && l->cb.on_peer)
        l->cb.on_peer(l->cb.ctx, p->index, false);
    if (p && p->dialer && !p->link && !p->dialing && !ev_is_active(&p->redial))
        peer_schedule_dial(l, p);
}

static void conn_want_write(struct conn *c)
{
    if (!ev_is_active(&c->wio))
        ev_io_start(c->l->loop, &c->wio);
}

static void queue_handshake(struct conn *c, const uint8_t *msg, size_t len)
{
    p2p_frame_put_handshake(&c->out, msg, len);
    count_bytes(c->l, MT_HANDSHAKE, MD_TX, P2P_FRAME_HDR + len);
    conn_want_write(c);
}

/* Queue a transport frame; the caller checked the queue room. */
static int queue_frame(struct conn *c, uint8_t topic, const void *data, size_t len)
{
    if (p2p_frame_seal(&c->tx, &c->out, topic, data, len) < 0) {
        c->broken = true; /* nonces exhausted: closed at the next write callback */
        conn_want_write(c);
        return -1;
    }
    count_bytes(c->l, mtopic_of(topic), MD_TX, len + P2P_FRAME_OVERHEAD);
    c->last_tx_ms = now_ms();
    conn_want_write(c);
    return 0;
}

static void queue_control(struct conn *c, uint8_t kind)
{
    queue_frame(c, P2P_TOPIC_CONTROL, &kind, 1);
}

/* The connection becomes its peer's link. */
static void link_up(struct conn *c)
{
    struct p2p_links *l = c->l;
    struct peer *p = &l->peers[c->peer];
    struct conn *old = p->link;
    bool was_up = old != NULL;
    p->link = c;
    if (p->dialing == c)
        p->dialing = NULL;
    c->state = CONN_UP;
    p->backoff_ms = l->cfg.reconnect_min_ms;
    if (old)
        conn_close(old, "replaced by a new link");
    else
        l->nup++;
    set_conns_gauge(l);
    metric_inc(l->m_open);
    ev_timer_stop(l->loop, &c->timer);
    ev_timer_set(&c->timer, (double)l->cfg.ping_interval_ms / 1000.0,
                 (double)l->cfg.ping_interval_ms / 1000.0);
    ev_timer_start(l->loop, &c->timer);
    c->last_rx_ms = now_ms();
    log_conn(l, LOG_INFO, c, was_up ? "replaced" : "up", NULL);
    if (!was_up) {
        metric_inc(l->m_joined);
        if (l->cb.on_peer)
            l->cb.on_peer(l->cb.ctx, p->index, true);
    }
}

/* Refuse a connection at a gate: count, log (rate-limited), close. Returns -1. */
static int refuse(struct conn *c, enum p2p_gate_result r, const char *why)
{
    struct p2p_links *l = c->l;
    count_attempt(l, r);
    if (log_allowed(l))
        log_conn(l, LOG_WARN, c, p2p_gate_result_name(r), why);
    if (r == P2P_GATE_DKG_DENIED && log_allowed(l)) {
        char ours[2 * SHA256_LEN + 1];
        hex_encode(ours, l->lock->hash, SHA256_LEN);
        log_warn("p2p_dkg_cluster", LS("result", "dkg_denied"), LI("peer", c->hs.peer),
                 LS("addr", c->addr), LS("lock_hash", ours),
                 LS("reason", "peer runs a different cluster lock"));
    }
    conn_close(c, why);
    return -1;
}

/*
 * A handshake that failed or was abandoned: counted, logged at most once per remote address per
 * HS_LOG_PERIOD_MS (with how many were not logged since, so a peer running another lock or key
 * cannot flood the log), closed. Returns -1.
 */
static int handshake_failed(struct conn *c, const char *why)
{
    struct p2p_links *l = c->l;
    struct hs_log *slot = &l->hs_log[0];
    char host[sizeof(slot->host)];
    uint64_t now = now_ms();
    snprintf(host, sizeof(host), "%.*s", (int)strcspn(c->addr, ":"), c->addr);
    count_attempt(l, P2P_GATE_HANDSHAKE_FAILED);
    for (size_t i = 0; i < HS_LOG_ADDRS; i++) {
        struct hs_log *h = &l->hs_log[i];
        if (!strcmp(h->host, host)) {
            slot = h;
            break;
        }
        if (h->last_ms < slot->last_ms)
            slot = h; /* the address logged longest ago makes room */
    }
    if (strcmp(slot->host, host) != 0) {
        snprintf(slot->host, sizeof(slot->host), "%s", host);
        slot->last_ms = 0;
        slot->not_logged = 0;
    }
    if (slot->last_ms && now - slot->last_ms < HS_LOG_PERIOD_MS) {
        slot->not_logged++;
    } else {
        log_at(LOG_WARN, "p2p_peer", LS("addr", c->addr), LS("dir", c->initiator ? "out" : "in"),
               LS("result", p2p_gate_result_name(P2P_GATE_HANDSHAKE_FAILED)), LS("reason", why),
               LU("not_logged", slot->not_logged), LOG_END);
        slot->last_ms = now ? now : 1;
        slot->not_logged = 0;
    }
    conn_close(c, why);
    return -1;
}

/* A handshake message arrived. -1 if the connection was closed. */
static int on_handshake(struct conn *c, const uint8_t *body, size_t len)
{
    struct p2p_links *l = c->l;
    uint8_t out[P2P_HS_MSG_MAX];
    size_t outlen = 0;
    count_bytes(l, MT_HANDSHAKE, MD_RX, P2P_FRAME_HDR + len);
    enum p2p_hs_status st = p2p_hs_step(&c->hs, body, len, out, sizeof(out), &outlen);
    switch (st) {
    case P2P_HS_CONTINUE:
        if (outlen)
            queue_handshake(c, out, outlen);
        return 0;
    case P2P_HS_FAILED:
        return handshake_failed(c, c->hs.why);
    case P2P_HS_DENIED:
        return refuse(c, P2P_GATE_DENIED, c->hs.why);
    case P2P_HS_DKG_DENIED:
        return refuse(c, P2P_GATE_DKG_DENIED, c->hs.why);
    case P2P_HS_DONE:
        break;
    }
    /* AllowList passed; now Rate and Score for the connection. */
    c->peer = c->hs.peer;
    struct peer *p = &l->peers[c->peer];
    enum p2p_gate_result g = p2p_gate_connection(&p->gate, &l->cfg.gate, now_ms());
    if (g != P2P_GATE_ALLOWED)
        return refuse(c, g,
                      g == P2P_GATE_SCORED_OUT ? "peer is scored out"
                                               : "too many connections from peer");
    count_attempt(l, P2P_GATE_ALLOWED);
    if (outlen)
        queue_handshake(c, out, outlen);
    if (p2p_hs_split(&c->hs, &c->tx, &c->rx) < 0) {
        conn_close(c, "handshake split failed");
        return -1;
    }
    p2p_hs_wipe(&c->hs);
    if (c->initiator) {
        c->state = CONN_WAIT_ACCEPT;
        return 0;
    }
    queue_control(c, P2P_CTRL_ACCEPT);
    link_up(c);
    return 0;
}

static enum mresult mresult_of(enum p2p_gate_result g)
{
    return g == P2P_GATE_RATE_LIMITED ? MR_RATE_LIMITED : MR_SCORED_OUT;
}

/* A transport frame arrived. -1 if the connection was closed. */
static int on_transport(struct conn *c, uint8_t *body, size_t len)
{
    struct p2p_links *l = c->l;
    uint8_t topic;
    const uint8_t *pl;
    size_t plen, wire = P2P_FRAME_HDR + len;
    uint64_t now = now_ms();
    enum p2p_frame_result fr = p2p_frame_open(&c->rx, body, len, &topic, &pl, &plen);
    if (fr == P2P_FRAME_BROKEN) {
        count_bytes(l, MT_INVALID, MD_RX, wire);
        log_conn(l, LOG_WARN, c, "closed", "frame does not authenticate");
        conn_close(c, "frame does not authenticate");
        return -1;
    }
    enum mtopic mt = fr == P2P_FRAME_OK ? mtopic_of(topic) : MT_INVALID;
    count_bytes(l, mt, MD_RX, wire);
    c->last_rx_ms = now;
    if (c->state == CONN_WAIT_ACCEPT) {
        if (fr == P2P_FRAME_OK && topic == P2P_TOPIC_CONTROL && pl[0] == P2P_CTRL_ACCEPT) {
            link_up(c);
            return 0;
        }
        conn_close(c, "expected ACCEPT");
        return -1;
    }
    struct peer *p = &l->peers[c->peer];
    enum p2p_gate_result g = p2p_gate_message(&p->gate, &l->cfg.gate, wire, now);
    if (g != P2P_GATE_ALLOWED) {
        count_attempt(l, g);
        count_msg(l, mt, MD_RX, mresult_of(g));
        bool *logged = g == P2P_GATE_RATE_LIMITED ? &p->rate_logged : &p->score_logged;
        if (!*logged) {
            *logged = true;
            log_conn(l, LOG_WARN, c, p2p_gate_result_name(g), "messages dropped");
        }
        return 0;
    }
    p->rate_logged = p->score_logged = false;
    if (fr == P2P_FRAME_UNDECODABLE) {
        count_msg(l, MT_INVALID, MD_RX, MR_UNDECODABLE);
        p2p_links_report(l, p->index, P2P_REPORT_UNDECODABLE);
        return 0;
    }
    if (topic == P2P_TOPIC_CONTROL)
        return 0; /* PING, or a repeated ACCEPT: nothing to do */
    count_msg(l, mt, MD_RX, MR_OK);
    if (l->cb.on_message)
        l->cb.on_message(l->cb.ctx, p->index, (enum p2p_topic)topic, pl, plen);
    return 0;
}

/* Parse and handle every complete frame in the input buffer. -1 if closed. */
static int conn_process(struct conn *c)
{
    struct p2p_links *l = c->l;
    for (;;) {
        size_t avail = c->in.len - c->in_off, body;
        bool hs = c->state == CONN_HANDSHAKE;
        enum p2p_frame_len fl = p2p_frame_length(
            c->in.data + c->in_off, avail, hs ? P2P_HS_MIN_BODY : P2P_FRAME_MIN_BODY,
            hs ? P2P_HS_MSG_MAX : l->cfg.max_frame_bytes, &body);
        if (fl == P2P_FRAME_NEED_MORE)
            break;
        if (fl == P2P_FRAME_BAD_LEN) {
            if (hs)
                return handshake_failed(c, "handshake frame length out of bounds");
            count_msg(l, MT_INVALID, MD_RX, MR_OVERSIZE);
            log_conn(l, LOG_WARN, c, "closed", "frame length out of bounds");
            conn_close(c, "frame length out of bounds");
            return -1;
        }
        if (avail < P2P_FRAME_HDR + body)
            break;
        uint8_t *b = c->in.data + c->in_off + P2P_FRAME_HDR;
        c->in_off += P2P_FRAME_HDR + body;
        int rc = hs ? on_handshake(c, b, body) : on_transport(c, b, body);
        if (rc < 0)
            return -1;
    }
    if (c->in_off == c->in.len) {
        c->in.len = c->in_off = 0;
        if (c->in.cap > BIG_BUFFER)
            buf_free(&c->in);
    } else if (c->in_off > c->in.len / 2) {
        memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
    return 0;
}

static void conn_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *c = w->data;
    size_t budget = READ_BUDGET;
    (void)loop;
    (void)revents;
    while (budget > 0) {
        buf_reserve(&c->in, READ_CHUNK);
        ssize_t r = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1);
        if (r > 0) {
            c->in.len += (size_t)r;
            budget = (size_t)r >= budget ? 0 : budget - (size_t)r;
            if (conn_process(c) < 0)
                return;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        const char *why = r == 0 ? "closed by peer" : strerror(errno);
        if (c->state == CONN_HANDSHAKE && !c->initiator)
            handshake_failed(c, r == 0 ? "closed by peer during the handshake" : why);
        else
            conn_close(c, why);
        return;
    }
}

/* The outbound connect finished: start the handshake. -1 if closed. */
static int conn_connected(struct conn *c)
{
    struct p2p_links *l = c->l;
    int err = 0;
    socklen_t sl = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
        err = errno;
    if (err) {
        conn_close(c, strerror(err));
        return -1;
    }
    c->state = CONN_HANDSHAKE;
    ev_io_start(l->loop, &c->rio);
    uint8_t out[P2P_HS_MSG_MAX];
    size_t outlen;
    if (p2p_hs_start(&c->hs, out, sizeof(out), &outlen) != P2P_HS_CONTINUE) {
        conn_close(c, "cannot start handshake");
        return -1;
    }
    queue_handshake(c, out, outlen);
    return 0;
}

static void conn_on_write(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *c = w->data;
    (void)revents;
    if (c->state == CONN_CONNECTING && conn_connected(c) < 0)
        return;
    if (c->broken) {
        conn_close(c, "transport nonces exhausted");
        return;
    }
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        conn_close(c, n < 0 ? strerror(errno) : "write returned 0");
        return;
    }
    c->out.len = c->out_off = 0;
    if (c->out.cap > BIG_BUFFER)
        buf_free(&c->out);
    ev_io_stop(loop, w);
}

static void conn_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct conn *c = w->data;
    struct p2p_links *l = c->l;
    (void)loop;
    (void)revents;
    if (c->state == CONN_HANDSHAKE && !c->initiator) {
        handshake_failed(c, "handshake deadline");
        return;
    }
    if (c->state != CONN_UP) {
        conn_close(c, "handshake deadline");
        return;
    }
    uint64_t now = now_ms();
    if (now - c->last_rx_ms >= l->cfg.idle_timeout_ms) {
        conn_close(c, "idle timeout");
        return;
    }
    if (now - c->last_tx_ms + 5 >= l->cfg.ping_interval_ms &&
        c->out.len - c->out_off + P2P_FRAME_OVERHEAD + 1 <= l->cfg.send_queue_bytes)
        queue_control(c, P2P_CTRL_PING);
}

/* ---- listening and dialling ---- */

static void addr_string(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
    }
    snprintf(out, cap, "%s:%u", host, port);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    struct p2p_links *l = w->data;
    (void)loop;
    (void)revents;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        char addr[64];
        int fd = accept4(l->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (log_allowed(l))
                log_warn("p2p_peer", LS("result", "accept_failed"), LS("reason", strerror(errno)));
            /* Out of descriptors (or worse): the pending connection stays readable, so pause
             * accepting for a second instead of spinning. */
            ev_io_stop(l->loop, &l->lio);
            ev_timer_start(l->loop, &l->lpause);
            return;
        }
        addr_string(&ss, addr, sizeof(addr));
        if (l->nconns >= l->cfg.max_connections) {
            count_attempt(l, P2P_GATE_LIMITED);
            if (log_allowed(l))
                log_warn("p2p_peer", LS("addr", addr), LS("dir", "in"), LS("result", "limited"),
                         LS("reason", "connection cap reached"),
                         LU("max_connections", l->cfg.max_connections));
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct conn *c = conn_new(l, fd, false, -1, addr);
        ev_io_start(l->loop, &c->rio);
    }
}

static void on_accept_pause(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct p2p_links *l = w->data;
    (void)revents;
    ev_io_start(loop, &l->lio);
}

static int resolve(const char *host, uint16_t port, struct sockaddr_in *out)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    char ps[8];
    snprintf(ps, sizeof(ps), "%u", port);
    if (getaddrinfo(host, ps, &hints, &res) != 0 || !res)
        return -1;
    memcpy(out, res->ai_addr, sizeof(*out));
    freeaddrinfo(res);
    return 0;
}

static void peer_dial(struct p2p_links *l, struct peer *p)
{
    const struct lock_operator *op = &l->lock->ops[p->index];
    struct sockaddr_in sa;
    if (resolve(op->host, op->port, &sa) < 0) {
        log_debug("p2p_peer", LI("peer", p->index), LS("addr", op->p2p_address),
                  LS("result", "dial_failed"), LS("reason", "cannot resolve host"));
        peer_schedule_dial(l, p);
        return;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_warn("p2p_peer", LI("peer", p->index), LS("result", "dial_failed"),
                 LS("reason", strerror(errno)));
        peer_schedule_dial(l, p);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        log_debug("p2p_peer", LI("peer", p->index), LS("addr", op->p2p_address),
                  LS("result", "dial_failed"), LS("reason", strerror(errno)));
        close(fd);
        peer_schedule_dial(l, p);
        return;
    }
    struct conn *c = conn_new(l, fd, true, (int)p->index, op->p2p_address);
    p->dialing = c;
    ev_io_start(l->loop, &c->wio); /* writable = connected (or failed) */
}

static void on_redial(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct peer *p = w->data;
    (void)loop;
    (void)revents;
    if (!p->link && !p->dialing)
        peer_dial(p->l, p);
}

static void peer_schedule_dial(struct p2p_links *l, struct peer *p)
{
    uint64_t d = p->backoff_ms;
    /* Jitter in [d/2, d]: peers that lost each other at once do not redial in lockstep. */
    d = d / 2 + rng_next(l) % (d / 2 + 1);
    ev_timer_stop(l->loop, &p->redial);
    ev_timer_set(&p->redial, (double)d / 1000.0, 0);
    ev_timer_start(l->loop, &p->redial);
    p->backoff_ms =
        p->backoff_ms * 2 > l->cfg.reconnect_max_ms ? l->cfg.reconnect_max_ms : p->backoff_ms * 2;
}

static void on_score_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct p2p_links *l = w->data;
    uint64_t now = now_ms();
    (void)loop;
    (void)revents;
    for (uint32_t i = 0; i < l->lock->n; i++)
        if (i != l->self)
            update_score(l, &l->peers[i], now);
}

/* ---- public API ---- */

void p2p_links_config_from(struct p2p_links_config *lc, const struct config *cfg)
{
    memset(lc, 0, sizeof(*lc));
    snprintf(lc->listen, sizeof(lc->listen), "%s", cfg->p2p_listen);
    lc->max_connections = cfg->p2p_max_connections;
    lc->handshake_timeout_ms = cfg->p2p_handshake_timeout_ms;
    lc->max_frame_bytes = cfg->p2p_max_frame_bytes;
    lc->send_queue_bytes = cfg->p2p_send_queue_bytes;
    lc->reconnect_min_ms = cfg->p2p_reconnect_min_ms;
    lc->reconnect_max_ms = cfg->p2p_reconnect_max_ms;
    lc->ping_interval_ms = cfg->p2p_ping_interval_ms;
    lc->idle_timeout_ms = cfg->p2p_idle_timeout_ms;
    lc->gate.rate_msgs = cfg->p2p_rate_msgs;
    lc->gate.burst_msgs = cfg->p2p_rate_burst;
    lc->gate.rate_bytes = cfg->p2p_rate_bytes;
    lc->gate.burst_bytes = cfg->p2p_rate_bytes > cfg->p2p_max_frame_bytes + P2P_FRAME_HDR
                               ? cfg->p2p_rate_bytes
                               : cfg->p2p_max_frame_bytes + P2P_FRAME_HDR;
    lc->gate.conn_rate = P2P_CONN_RATE;
    lc->gate.conn_burst = P2P_CONN_BURST;
    lc->gate.score.threshold = cfg->p2p_score_threshold;
    lc->gate.score.cooldown_ms = cfg->p2p_score_cooldown_ms;
    lc->gate.score.recover_per_s = cfg->p2p_score_recover_per_s;
}

struct p2p_links *p2p_links_new(struct ev_loop *loop, const struct p2p_links_config *cfg,
                                const struct lock *lock, uint32_t self,
                                const struct p2p_identity *id, const struct p2p_links_callbacks *cb,
                                char *err, size_t errsz)
{
    if (self >= lock->n || memcmp(lock->ops[self].pubkey, id->node_pub, PUBKEY_LEN) != 0) {
        snprintf(err, errsz, "P2P identity is not operators[%u] of the lock", self);
        return NULL;
    }
    if (cfg->max_frame_bytes < P2P_FRAME_MIN_BODY + 1 || cfg->max_frame_bytes > UINT32_MAX) {
        snprintf(err, errsz, "[p2p] max_frame_bytes out of range");
        return NULL;
    }
    struct p2p_links *l = xcalloc(1, sizeof(*l));
    uint64_t now = now_ms();
    l->loop = loop;
    l->cfg = *cfg;
    l->lock = lock;
    l->self = self;
    l->id = id;
    if (cb)
        l->cb = *cb;
    l->lfd = -1;
    random_bytes(&l->rng, sizeof(l->rng));
    l->rng |= 1;
    p2p_bucket_init(&l->log_bucket, LOG_RATE, 2 * LOG_RATE, now);
    for (int r = 0; r < P2P_GATE_COUNT; r++)
        l->m_attempts[r] = metric("p2p_conn_attempts_total", p2p_gate_result_name(r));
    for (int t = 0; t < MT_COUNT; t++)
        for (int d = 0; d < 2; d++)
            l->m_bytes[t][d] = metric("p2p_bytes_total", mtopic_names[t], mdir_names[d]);
    l->m_open = metric("p2p_conn_open_total");
    l->m_close = metric("p2p_conn_close_total");
    l->m_conns = metric("p2p_conns_open");
    l->m_joined = metric("p2p_peers_joined_total");
    l->m_left = metric("p2p_peers_left_total");
    set_conns_gauge(l);
    for (uint32_t i = 0; i < lock->n; i++) {
        struct peer *p = &l->peers[i];
        char label[12];
        p->index = i;
        p->l = l;
        p->dialer = self < i;
        p->backoff_ms = cfg->reconnect_min_ms;
        ev_timer_init(&p->redial, on_redial, 0, 0);
        p->redial.data = p;
        p2p_gate_init(&p->gate, &cfg->gate, now);
        if (i != self) {
            snprintf(label, sizeof(label), "%u", i);
            p->score_gauge = metric("p2p_peer_score", label);
            metric_set(p->score_gauge, 0);
        }
    }
    ev_timer_init(&l->score_timer, on_score_timer, SCORE_REFRESH, SCORE_REFRESH);
    l->score_timer.data = l;
    ev_timer_init(&l->lpause, on_accept_pause, 1.0, 0);
    l->lpause.data = l;
    return l;
}

int p2p_links_start(struct p2p_links *l, char *err, size_t errsz)
{
    char host[CFG_STR];
    uint16_t port;
    const char *listen_at = l->cfg.listen[0] ? l->cfg.listen : l->lock->ops[l->self].p2p_address;
    struct sockaddr_in sa;
    if (parse_hostport(listen_at, host, sizeof(host), &port) < 0 || resolve(host, port, &sa) < 0) {
        snprintf(err, errsz, "[p2p] listen: cannot resolve '%s'", listen_at);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
        snprintf(err, errsz, "[p2p] listen %s: %s", listen_at, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    l->lfd = fd;
    ev_io_init(&l->lio, on_accept, fd, EV_READ);
    l->lio.data = l;
    ev_io_start(l->loop, &l->lio);
    ev_timer_start(l->loop, &l->score_timer);
    for (uint32_t i = 0; i < l->lock->n; i++)
        if (l->peers[i].dialer)
            peer_dial(l, &l->peers[i]);
    log_info("p2p_peer", LS("result", "listening"), LS("addr", listen_at),
             LU("operators", l->lock->n), LU("self", l->self));
    return 0;
}

void p2p_links_free(struct p2p_links *l)
{
    if (!l)
        return;
    l->cb.on_peer = NULL; /* no callbacks while tearing down */
    l->cb.on_message = NULL;
    for (uint32_t i = 0; i < l->lock->n; i++) {
        l->peers[i].dialer = false; /* no redial from conn_close */
        ev_timer_stop(l->loop, &l->peers[i].redial);
    }
    while (l->conns)
        conn_close(l->conns, "shutting down");
    if (l->lfd >= 0) {
        ev_io_stop(l->loop, &l->lio);
        ev_timer_stop(l->loop, &l->lpause);
        close(l->lfd);
    }
    ev_timer_stop(l->loop, &l->score_timer);
    free(l);
}

int p2p_links_send(struct p2p_links *l, uint32_t peer, enum p2p_topic topic, const void *data,
                   size_t len)
{
    if (topic == P2P_TOPIC_CONTROL || topic >= P2P_TOPIC_COUNT || peer >= l->lock->n ||
        peer == l->self)
        return -1;
    enum mtopic mt = (enum mtopic)topic;
    if (len + P2P_FRAME_MIN_BODY > l->cfg.max_frame_bytes) {
        count_msg(l, mt, MD_TX, MR_TOO_LARGE);
        return -1;
    }
    struct conn *c = l->peers[peer].link;
    if (!c || c->state != CONN_UP) {
        count_msg(l, mt, MD_TX, MR_NO_LINK);
        return -1;
    }
    if (c->out.len - c->out_off + len + P2P_FRAME_OVERHEAD > l->cfg.send_queue_bytes) {
        count_msg(l, mt, MD_TX, MR_QUEUE_FULL);
        return -1;
    }
    if (queue_frame(c, (uint8_t)topic, data, len) < 0)
        return -1;
    count_msg(l, mt, MD_TX, MR_OK);
    return 0;
}

unsigned p2p_links_broadcast(struct p2p_links *l, enum p2p_topic topic, const void *data,
                             size_t len)
{
    unsigned sent = 0;
    for (uint32_t i = 0; i < l->lock->n; i++)
        if (i != l->self && p2p_links_send(l, i, topic, data, len) == 0)
            sent++;
    return sent;
}

void p2p_links_report(struct p2p_links *l, uint32_t peer, enum p2p_report r)
{
    if (peer >= l->lock->n || peer == l->self)
        return;
    struct peer *p = &l->peers[peer];
    uint64_t now = now_ms();
    bool out = p2p_score_report(&p->gate.score, &l->cfg.gate.score, r, now);
    update_score(l, p, now);
    if (out)
        log_warn("p2p_peer", LI("peer", peer), LS("peer_id", l->lock->ops[peer].peer_id),
                 LS("result", "scored_out"), LS("reason", p2p_report_name(r)),
                 LF("score", p2p_score_value(&p->gate.score, &l->cfg.gate.score, now)),
                 LU("cooldown_ms", l->cfg.gate.score.cooldown_ms));
}

bool p2p_links_peer_up(const struct p2p_links *l, uint32_t peer)
{
    return peer < l->lock->n && l->peers[peer].link && l->peers[peer].link->state == CONN_UP;
}

uint32_t p2p_links_up_count(const struct p2p_links *l)
{
    return 1 + l->nup;
}

bool p2p_links_quorum(const struct p2p_links *l)
{
    return p2p_links_up_count(l) >= lock_quorum(l->lock->n);
}
