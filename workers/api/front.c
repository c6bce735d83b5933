/*
 * The connection front (see front.h): one thread and libev loop per listener.
 *
 * A client connection goes HEAD -> BODY -> WAIT (queued for, or in flight on, an upstream
 * connection to civetweb) -> SEND -> IDLE (keep-alive) -> HEAD ..., or LINGER when it is to be
 * closed: the write side is shut and what the client still sends is read and dropped for a
 * moment, so that a client still sending a refused body gets the answer rather than a reset.
 * One timer per connection holds the deadline of its state.
 */
#include "workers/api/front.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "workers/api/api.h"
#include "workers/api/conn_limit.h"
#include "workers/api/http1.h"
#include "workers/api/proxy.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define LISTEN_BACKLOG 4096
#define ACCEPT_BURST   256 /* accepts per loop turn, so that timers and I/O still run */
#define READ_CHUNK     65536
#define RESPONSE_MAX   (64u << 20) /* an answer of civetweb larger than this is a fault */
#define LINGER_S       1.0
#define LINGER_DROP    (1u << 20) /* bytes read and dropped while lingering */
#define ACCEPT_RETRY_S 0.1        /* out of file descriptors: try accepting again after */
#define STOP_GRACE_S   2.0        /* requests in flight when the front stops may finish within */

enum reject_reason {
    R_PER_ADDRESS,
    R_TOTAL,
    R_HEADER_TIMEOUT,
    R_BODY_TIMEOUT,
    R_SEND_TIMEOUT,
    R_N
};

static const char *const reject_names[R_N] = {"per_address", "total", "header_timeout",
                                              "body_timeout", "send_timeout"};

static const char refuse_503[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                 "Content-Type: text/plain; charset=utf-8\r\n"
                                 "Content-Length: 21\r\nRetry-After: 1\r\nConnection: close\r\n"
                                 "\r\ntoo many connections\n";
static const char timeout_408[] =
    "HTTP/1.1 408 Request Timeout\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 16\r\nConnection: close\r\n\r\nrequest timeout\n";
static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

enum cstate { C_HEAD, C_BODY, C_WAIT, C_SEND, C_IDLE, C_LINGER, C_PROXY };
enum ustate { U_CLOSED, U_CONNECTING, U_IDLE, U_BUSY };

struct upstream;
struct proxy_conn;

struct client {
    struct front *f;
    int fd;
    uint32_t addr;
    enum cstate state;
    ev_io io;
    ev_timer timer;
    struct conn_slot slot;
    struct buf in;            /* bytes read, from the current request's head on */
    struct http1_request req; /* the current request's head, once parsed */
    struct buf fwd;           /* that head as forwarded to civetweb */
    uint64_t reserved;        /* body bytes held in the budget */
    uint64_t t0;              /* start of the current request (ns) */
    struct buf out;           /* the answer being written */
    size_t out_off;
    size_t dropped; /* bytes dropped while lingering */
    bool close_after;
    struct upstream *up;        /* in flight on */
    struct proxy_conn *px;      /* C_PROXY: the request at the --upstream */
    struct client *prev, *next; /* every client */
    struct client *wait_next;   /* queued for an upstream */
};

struct upstream {
    struct front *f;
    int fd;
    enum ustate state;
    ev_io io;
    struct client *c; /* the request in flight */
    size_t sent;      /* bytes of the request written */
    struct buf in;    /* the answer so far */
};

struct front {
    const char *name;
    unsigned listener;
    struct front_limits lim;
    struct sockaddr_in upstream_addr;
    int lfd, spare_fd;
    struct ev_loop *loop;
    pthread_t thread;
    ev_io accept_io;
    ev_timer accept_retry;
    ev_async stop_async;
    ev_timer stop_grace;
    bool stopping, finished;
    struct conn_limit limit;
    struct client *clients;
    struct client *wait_head, **wait_tail;
    struct upstream *ups;
    unsigned nproxied; /* proxy_conns open */
    uint64_t budget_used;
    struct mseries *open_gauge, *rejected[R_N];
    uint64_t reject_logged_ns[R_N], reject_suppressed[R_N];
};

static void client_on_io(struct ev_loop *loop, ev_io *w, int revents);
static void client_on_timer(struct ev_loop *loop, ev_timer *w, int revents);
static void client_advance(struct client *c);
static void client_flush(struct client *c);
static void upstream_on_io(struct ev_loop *loop, ev_io *w, int revents);
static void upstream_close(struct upstream *u);
static void dispatch(struct front *f, struct client *c);
static void front_finish(struct front *f);
static void proxy_start(struct client *c);
static void proxy_pump(struct proxy_conn *px);
static void proxy_abort(struct proxy_conn *px, const char *why);
static void proxy_free(struct proxy_conn *px);

/* ---- small helpers ---- */

static void addr_text(uint32_t addr, char *out, size_t n)
{
    struct in_addr a = {.s_addr = htonl(addr)};
    if (!inet_ntop(AF_INET, &a, out, (socklen_t)n))
        snprintf(out, n, "?");
}

static void watch(struct ev_loop *loop, ev_io *io, int fd, int events)
{
    ev_io_stop(loop, io);
    if (events) {
        ev_io_set(io, fd, events);
        ev_io_start(loop, io);
    }
}

static void deadline(struct client *c, double seconds)
{
    ev_timer_stop(c->f->loop, &c->timer);
    if (seconds > 0) {
        ev_timer_set(&c->timer, seconds, 0);
        ev_timer_start(c->f->loop, &c->timer);
    }
}

static double ms(uint64_t v)
{
    return (double)v / 1000.0;
}

/* Give back what a large body or answer made a buffer grow to, once it holds little. */
static void trim(struct buf *b)
{
    if (b->cap <= 2 * READ_CHUNK || b->len > READ_CHUNK)
        return;
    struct buf nb = BUF_INIT;
    if (b->len)
        buf_append(&nb, b->data, b->len);
    buf_free(b);
    *b = nb;
}

/* Count a refused or cut connection; log it at most once a second per reason. */
static void count_reject(struct front *f, enum reject_reason r, uint32_t addr)
{
    metric_inc(f->rejected[r]);
    uint64_t now = now_ns();
    if (f->reject_logged_ns[r] && now - f->reject_logged_ns[r] < 1000000000ull) {
        f->reject_suppressed[r]++;
        return;
    }
    char a[INET_ADDRSTRLEN];
    addr_text(addr, a, sizeof(a));
    log_warn("api_conn_rejected", LS("listener", f->name), LS("reason", reject_names[r]),
             LS("addr", a), LU("suppressed", f->reject_suppressed[r]));
    f->reject_logged_ns[r] = now;
    f->reject_suppressed[r] = 0;
}

static void gauge(struct front *f)
{
    metric_set(f->open_gauge, (double)f->limit.open);
}

/* Best effort, for answers to a connection about to close: never waits. */
static void send_now(int fd, const char *p, size_t n)
{
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
}

/* ---- client connections ---- */

static void budget_release(struct client *c)
{
    c->f->budget_used -= c->reserved;
    c->reserved = 0;
}

static void wait_unlink(struct front *f, struct client *c)
{
    struct client **p = &f->wait_head;
    while (*p && *p != c)
        p = &(*p)->wait_next;
    if (!*p)
        return;
    *p = c->wait_next;
    if (f->wait_tail == &c->wait_next)
        f->wait_tail = p;
}

static void client_close(struct client *c)
{
    struct front *f = c->f;
    ev_io_stop(f->loop, &c->io);
    ev_timer_stop(f->loop, &c->timer);
    /* A request in flight has no watcher or timer: it ends here only when the front stops. */
    if (c->up)
        upstream_close(c->up);
    else if (c->px)
        proxy_free(c->px);
    else if (c->state == C_WAIT)
        wait_unlink(f, c);
    budget_release(c);
    close(c->fd);
    conn_limit_remove(&f->limit, &c->slot);
    *(c->prev ? &c->prev->next : &f->clients) = c->next;
    if (c->next)
        c->next->prev = c->prev;
    buf_free(&c->in);
    buf_free(&c->fwd);
    buf_free(&c->out);
    free(c);
    gauge(f);
    if (f->stopping && !f->clients && !f->finished)
        front_finish(f);
}

/* Stop answering this connection: shut the write side, read and drop for a moment. */
static void client_linger(struct client *c)
{
    c->state = C_LINGER;
    c->dropped = 0;
    shutdown(c->fd, SHUT_WR);
    watch(c->f->loop, &c->io, c->fd, EV_READ);
    deadline(c, LINGER_S);
}

static void span_text(const struct client *c, struct http1_span s, char *out, size_t n)
{
    size_t len = s.len < n - 1 ? s.len : n - 1;
    memcpy(out, c->in.data + s.off, len);
    out[len] = 0;
}

/* Answer a request the front refuses itself, then close. */
static void client_answer(struct client *c, int status, const char *text, const char *detail,
                          bool parsed)
{
    char method[33] = "", path[257] = "";
    const char *route = "other";
    if (parsed) {
        span_text(c, c->req.method, method, sizeof(method));
        span_text(c, c->req.path, path, sizeof(path));
        route = api_route_label(c->f->listener, (const char *)c->in.data + c->req.path.off,
                                c->req.path.len);
    }
    buf_reset(&c->out);
    buf_printf(&c->out,
               "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Length: %zu\r\n%sConnection: close\r\n\r\n%s\n",
               status, mg_get_response_code_text(NULL, status), strlen(text) + 1,
               status == 503 ? "Retry-After: 1\r\n" : "", text);
    c->out_off = 0;
    c->close_after = true;
    budget_release(c);
    api_account(route, method, path, status, (double)(now_ns() - c->t0) / 1e9, detail);
    c->state = C_SEND;
    ev_timer_stop(c->f->loop, &c->timer);
    client_flush(c);
}

/* Write the answer; then keep the connection for the next request, or close it. */
static void client_flush(struct client *c)
{
    struct front *f = c->f;
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!ev_is_active(&c->timer))
                deadline(c, ms(f->lim.body_timeout_ms));
            watch(f->loop, &c->io, c->fd, EV_WRITE);
            return;
        }
        if (n <= 0) {
            client_close(c);
            return;
        }
        c->out_off += (size_t)n;
    }
    buf_reset(&c->out);
    trim(&c->out);
    c->out_off = 0;
    if (f->stopping) {
        client_close(c);
        return;
    }
    if (c->close_after) {
        client_linger(c);
        return;
    }
    c->state = c->in.len ? C_HEAD : C_IDLE;
    if (c->state == C_IDLE) {
        conn_limit_set_idle(&f->limit, &c->slot, true);
        deadline(c, ms(f->lim.idle_timeout_ms));
        watch(f->loop, &c->io, c->fd, EV_READ);
        return;
    }
    /* a pipelined request is already here */
    c->t0 = now_ns();
    deadline(c, ms(f->lim.header_timeout_ms));
    watch(f->loop, &c->io, c->fd, EV_READ);
    client_advance(c);
}

static bool is_head_request(const struct client *c)
{
    return c->req.method.len == 4 && memcmp(c->in.data + c->req.method.off, "HEAD", 4) == 0;
}

/* The head is in: check it, reserve the body, then wait for the body. */
static void client_on_head(struct client *c)
{
    struct front *f = c->f;
    const struct http1_request *r = &c->req;
    if (r->content_length > f->lim.body_max) {
        client_answer(c, 413, "request too large", "body larger than the front accepts", true);
        return;
    }
    if (r->content_length > f->lim.body_budget - f->budget_used) {
        client_answer(c, 503, "busy", "request body buffer full", true);
        return;
    }
    c->reserved = r->content_length;
    f->budget_used += c->reserved;
    c->state = C_BODY;
    if (c->in.len < r->head_len + r->content_length) {
        deadline(c, ms(f->lim.body_timeout_ms));
        if (r->expect_continue)
            send_now(c->fd, continue_100, sizeof(continue_100) - 1);
    }
}

static void client_advance(struct client *c)
{
    if (c->state == C_HEAD) {
        enum http1_result res = http1_request_parse(c->in.data, c->in.len, &c->req);
        if (res == HTTP1_INCOMPLETE)
            return;
        if (res != HTTP1_OK) {
            const struct http1_outcome *o = http1_outcome(res);
            client_answer(c, o->status, o->body, c->req.detail, c->req.method.len > 0);
            return;
        }
        client_on_head(c);
        if (c->state != C_BODY)
            return;
    }
    if (c->state == C_BODY && c->in.len >= c->req.head_len + c->req.content_length) {
        ev_timer_stop(c->f->loop, &c->timer);
        watch(c->f->loop, &c->io, c->fd, 0);
        buf_reset(&c->fwd);
        http1_request_forward(c->in.data, &c->req, &c->fwd);
        const struct front_proxy *px = c->f->lim.proxy;
        if (px && !api_route_find(c->f->listener, (const char *)c->in.data + c->req.path.off,
                                  c->req.path.len)) {
            proxy_start(c);
            return;
        }
        c->state = C_WAIT;
        dispatch(c->f, c);
    }
}

/* Read what the state may take: the rest of a head (up to its cap) or of the body. */
static void client_read(struct client *c)
{
    struct front *f = c->f;
    size_t room = READ_CHUNK;
    if (c->state == C_HEAD || c->state == C_IDLE)
        room = c->in.len < HTTP1_HEAD_MAX ? HTTP1_HEAD_MAX - c->in.len : 0;
    else if (c->state == C_BODY)
        room = c->req.head_len + c->req.content_length - c->in.len;
    if (room > READ_CHUNK)
        room = READ_CHUNK;
    if (room == 0)
        return;
    buf_reserve(&c->in, room);
    ssize_t n = recv(c->fd, c->in.data + c->in.len, room, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        client_close(c);
        return;
    }
    if (c->state == C_LINGER) {
        c->dropped += (size_t)n;
        if (c->dropped > LINGER_DROP)
            client_close(c);
        return;
    }
    c->in.len += (size_t)n;
    if (c->state == C_IDLE) {
        conn_limit_set_idle(&f->limit, &c->slot, false);
        c->state = C_HEAD;
        c->t0 = now_ns();
        deadline(c, ms(f->lim.header_timeout_ms));
    }
    client_advance(c);
}

static void client_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    struct client *c = w->data;
    if (c->state == C_PROXY && (revents & EV_WRITE))
        proxy_pump(c->px);
    else if (c->state == C_SEND && (revents & EV_WRITE))
        client_flush(c);
    else if (revents & EV_READ)
        client_read(c);
}

static void client_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct client *c = w->data;
    switch (c->state) {
    case C_HEAD:
        count_reject(c->f, R_HEADER_TIMEOUT, c->addr);
        if (c->in.len)
            send_now(c->fd, timeout_408, sizeof(timeout_408) - 1);
        break;
    case C_BODY:
        count_reject(c->f, R_BODY_TIMEOUT, c->addr);
        send_now(c->fd, timeout_408, sizeof(timeout_408) - 1);
        break;
    case C_SEND:
        count_reject(c->f, R_SEND_TIMEOUT, c->addr);
        break;
    case C_PROXY: /* streaming an upstream's answer: the client took none of it in time */
        count_reject(c->f, R_SEND_TIMEOUT, c->addr);
        proxy_abort(c->px, "the client did not take the answer in time");
        return;
    default: /* C_IDLE: keep-alive over; C_LINGER: done */
        break;
    }
    client_close(c);
}

/* ---- accepting ---- */

static void refuse(struct front *f, int fd, enum reject_reason r, uint32_t addr)
{
    char drop[4096];
    count_reject(f, r, addr);
    send_now(fd, refuse_503, sizeof(refuse_503) - 1);
    /* a request already sent would turn the close into a reset that can eat the 503 */
    ssize_t n = recv(fd, drop, sizeof(drop), MSG_DONTWAIT);
    (void)n;
    close(fd);
}

static void client_new(struct front *f, int fd, uint32_t addr)
{
    struct conn_slot *victim;
    enum conn_admit d;
    while ((d = conn_limit_admit(&f->limit, addr, &victim)) == CONN_EVICT)
        client_close((struct client *)((char *)victim - offsetof(struct client, slot)));
    if (d != CONN_ADMIT) {
        refuse(f, fd, d == CONN_REJECT_PER_ADDRESS ? R_PER_ADDRESS : R_TOTAL, addr);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct client *c = xcalloc(1, sizeof(*c));
    c->f = f;
    c->fd = fd;
    c->addr = addr;
    c->state = C_HEAD;
    c->t0 = now_ns();
    conn_limit_add(&f->limit, &c->slot, addr);
    ev_io_init(&c->io, client_on_io, fd, EV_READ);
    c->io.data = c;
    ev_init(&c->timer, client_on_timer);
    c->timer.data = c;
    c->next = f->clients;
    if (c->next)
        c->next->prev = c;
    f->clients = c;
    ev_io_start(f->loop, &c->io);
    deadline(c, ms(f->lim.header_timeout_ms));
    gauge(f);
}

static void on_accept_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct front *f = w->data;
    ev_io_start(loop, &f->accept_io);
}

/* Accept one connection; *addr is its IPv4 address in host order (0 if the kernel reported
 * another kind of address, which an AF_INET listener never does). */
static int accept_one(const struct front *f, uint32_t *addr)
{
    struct sockaddr_in sa = {0};
    socklen_t sl = sizeof(sa);
    int fd = accept4(f->lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    bool inet = fd >= 0 && sl == sizeof(sa) && sa.sin_family == AF_INET;
    *addr = inet ? ntohl(sa.sin_addr.s_addr) : 0;
    return fd;
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct front *f = w->data;
    for (int i = 0; i < ACCEPT_BURST; i++) {
        uint32_t addr;
        int fd = accept_one(f, &addr);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE) && f->spare_fd >= 0) {
            /* out of descriptors: give up the spare one to refuse this connection */
            close(f->spare_fd);
            fd = accept_one(f, &addr);
            if (fd >= 0)
                refuse(f, fd, R_TOTAL, addr);
            f->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            continue;
        }
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                ev_io_stop(loop, &f->accept_io);
                ev_timer_set(&f->accept_retry, ACCEPT_RETRY_S, 0);
                ev_timer_start(loop, &f->accept_retry);
            }
            return; /* EAGAIN, or an aborted connection */
        }
        client_new(f, fd, addr);
    }
}

/* ---- upstream connections to civetweb ---- */

static void upstream_close(struct upstream *u)
{
    if (u->c)
        u->c->up = NULL;
    ev_io_stop(u->f->loop, &u->io);
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
    u->state = U_CLOSED;
    u->c = NULL;
    buf_reset(&u->in);
}

/* Give the upstream the next queued request, if any. */
static void upstream_next(struct upstream *u)
{
    struct front *f = u->f;
    struct client *c = f->wait_head;
    if (!c)
        return;
    f->wait_head = c->wait_next;
    if (!f->wait_head)
        f->wait_tail = &f->wait_head;
    dispatch(f, c);
}

static void upstream_begin(struct upstream *u, struct client *c)
{
    u->c = c;
    c->up = u;
    u->sent = 0;
    u->state = U_BUSY;
    buf_reset(&u->in);
    watch(u->f->loop, &u->io, u->fd, EV_READ | EV_WRITE);
}

/* Connect for a request (c), or ahead of any (c NULL: at start, so that civetweb's threads are
 * the front's from the outset). */
static void upstream_connect(struct upstream *u, struct client *c)
{
    struct front *f = u->f;
    u->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (u->fd >= 0) {
        int one = 1;
        setsockopt(u->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(u->fd, (struct sockaddr *)&f->upstream_addr, sizeof(f->upstream_addr)) == 0 ||
            errno == EINPROGRESS) {
            u->state = U_CONNECTING;
            u->c = c;
            if (c)
                c->up = u;
            watch(f->loop, &u->io, u->fd, EV_WRITE);
            return;
        }
        close(u->fd);
        u->fd = -1;
    }
    log_error("api_upstream", LS("listener", f->name), LS("err", strerror(errno)));
    if (c)
        client_answer(c, 503, "unavailable", "cannot connect to civetweb", true);
}

static void dispatch(struct front *f, struct client *c)
{
    struct upstream *closed = NULL;
    for (unsigned i = 0; i < f->lim.upstreams; i++) {
        struct upstream *u = &f->ups[i];
        if (u->state == U_IDLE) {
            upstream_begin(u, c);
            return;
        }
        if (u->state == U_CLOSED && !closed)
            closed = u;
    }
    if (closed) {
        upstream_connect(closed, c);
        return;
    }
    c->wait_next = NULL;
    *f->wait_tail = c;
    f->wait_tail = &c->wait_next;
}

/* The connection to civetweb failed: drop it, and answer 503 to its request if it had one. */
static void upstream_fail(struct upstream *u, const char *why)
{
    struct client *c = u->c;
    log_error("api_upstream", LS("listener", u->f->name), LS("err", why));
    upstream_close(u);
    if (c)
        client_answer(c, 503, "unavailable", why, true);
    upstream_next(u);
}

/* A whole answer is in u->in: hand it to the client (with the Connection header it needs). */
static void upstream_done(struct upstream *u, const struct http1_response *resp)
{
    size_t total = resp->head_len + resp->body_len;
    struct client *c = u->c;
    /* reusable only if the stream is where both sides think it is */
    bool reusable =
        !resp->close && u->in.len == total && u->sent == c->fwd.len + c->req.content_length;
    c->up = NULL;
    u->c = NULL;
    budget_release(c);
    c->close_after = !c->req.keep_alive || resp->close || u->f->stopping;
    const char *extra = "";
    if (!resp->has_connection)
        extra = c->close_after ? "Connection: close\r\n"
                               : (c->req.minor == 0 ? "Connection: keep-alive\r\n" : "");
    buf_reset(&c->out);
    buf_append(&c->out, u->in.data, resp->status_len);
    buf_append_str(&c->out, extra);
    buf_append(&c->out, u->in.data + resp->status_len, total - resp->status_len);
    c->out_off = 0;
    size_t used = c->req.head_len + c->req.content_length;
    memmove(c->in.data, c->in.data + used, c->in.len - used);
    c->in.len -= used;
    trim(&c->in);
    c->state = C_SEND;
    if (reusable) {
        u->state = U_IDLE;
        buf_reset(&u->in);
        trim(&u->in);
        watch(u->f->loop, &u->io, u->fd, EV_READ);
    } else {
        upstream_close(u);
    }
    client_flush(c);
    upstream_next(u);
}

/* Send head then the client's request body (c->in after its head) on fd, from *sent on, without
 * blocking: 1 when all is sent, 0 when fd is full, -1 when the connection broke. *sent moves on
 * by what was written. Both forwarding paths (to civetweb, to --upstream) use it. */
static int send_head_body(int fd, const struct buf *head, const struct client *c, size_t *sent)
{
    size_t hlen = head->len, blen = c->req.content_length;
    while (*sent < hlen + blen) {
        struct iovec iov[2];
        int n = 0;
        if (*sent < hlen)
            iov[n++] = (struct iovec){head->data + *sent, hlen - *sent};
        size_t boff = *sent > hlen ? *sent - hlen : 0;
        if (blen > boff)
            iov[n++] = (struct iovec){c->in.data + c->req.head_len + boff, blen - boff};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (w <= 0)
            return -1;
        *sent += (size_t)w;
    }
    return 1;
}

static void upstream_send(struct upstream *u)
{
    int rc = send_head_body(u->fd, &u->c->fwd, u->c, &u->sent);
    if (rc < 0)
        upstream_fail(u, "civetweb connection broke while sending");
    else if (rc > 0)
        watch(u->f->loop, &u->io, u->fd, EV_READ);
}

/* Read civetweb's answer; hand it on once whole. */
static void upstream_recv(struct upstream *u)
{
    buf_reserve(&u->in, READ_CHUNK);
    ssize_t n = recv(u->fd, u->in.data + u->in.len, READ_CHUNK, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        upstream_fail(u, "civetweb closed the connection before answering");
        return;
    }
    u->in.len += (size_t)n;
    struct http1_response resp;
    enum http1_result res =
        http1_response_parse(u->in.data, u->in.len, is_head_request(u->c), &resp);
    if (res == HTTP1_BAD || u->in.len > RESPONSE_MAX) {
        upstream_fail(u, "malformed or oversized answer from civetweb");
        return;
    }
    if (res == HTTP1_OK && u->in.len >= resp.head_len + resp.body_len)
        upstream_done(u, &resp);
}

static void upstream_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    struct upstream *u = w->data;
    switch (u->state) {
    case U_CONNECTING: {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
            upstream_fail(u, "cannot connect to civetweb");
            return;
        }
        if (u->c) {
            upstream_begin(u, u->c);
            return;
        }
        u->state = U_IDLE;
        watch(u->f->loop, &u->io, u->fd, EV_READ);
        upstream_next(u);
        return;
    }
    case U_IDLE: /* civetweb closed a kept connection, or wrote what nobody asked for */
        upstream_close(u);
        return;
    case U_BUSY:
        if (revents & EV_WRITE)
            upstream_send(u);
        if (u->state == U_BUSY && (revents & EV_READ))
            upstream_recv(u);
        return;
    case U_CLOSED:
        return;
    }
}

/* ---- the reverse proxy to --upstream (front_proxy in front.h) ---- */

enum pstate { P_CONNECTING, P_SENDING, P_HEAD, P_BODY };

struct proxy_conn {
    struct client *c;
    int fd;
    enum pstate state;
    ev_io io;
    ev_timer timer; /* connect_timeout_ms, then timeout_ms of silence */
    struct buf req; /* the head sent upstream; the body is the client's, in c->in */
    size_t sent;    /* bytes of head and body written */
    struct buf in;  /* the answer's head, then one read of its body */
    int status;     /* the upstream's, once its head is in */
    enum proxy_body body;
    uint64_t left; /* PROXY_BODY_LENGTH: bytes still to come */
    struct proxy_chunked chunked;
    enum proxy_out out; /* how the client gets the body */
};

static void proxy_account(struct proxy_conn *px, int status, const char *detail)
{
    struct client *c = px->c;
    char method[33], path[257];
    span_text(c, c->req.method, method, sizeof(method));
    span_text(c, c->req.path, path, sizeof(path));
    api_account("proxy", method, path, status, (double)(now_ns() - c->t0) / 1e9, detail);
}

static void proxy_free(struct proxy_conn *px)
{
    struct front *f = px->c->f;
    ev_io_stop(f->loop, &px->io);
    ev_timer_stop(f->loop, &px->timer);
    if (px->fd >= 0)
        close(px->fd);
    buf_free(&px->req);
    buf_free(&px->in);
    px->c->px = NULL;
    f->nproxied--;
    free(px);
}

/* Before the answer's head: the client gets status (502 or 504), and the connection closes. */
static void proxy_fail(struct proxy_conn *px, int status, const char *why)
{
    struct client *c = px->c;
    char a[INET_ADDRSTRLEN];
    addr_text(c->addr, a, sizeof(a));
    log_warn("api_proxy", LS("upstream", c->f->lim.proxy->url.authority), LS("addr", a),
             LI("code", status), LS("err", why));
    proxy_free(px);
    client_answer(c, status, status == 504 ? "gateway timeout" : "bad gateway", why, true);
}

/* After the answer's head: the client connection is cut, so that it sees a short body. */
static void proxy_abort(struct proxy_conn *px, const char *why)
{
    struct client *c = px->c;
    log_warn("api_proxy", LS("upstream", c->f->lim.proxy->url.authority), LI("code", px->status),
             LS("err", why));
    proxy_account(px, px->status, why);
    client_close(c);
}

static void proxy_wait(struct proxy_conn *px, int events, uint64_t timeout_ms)
{
    struct front *f = px->c->f;
    watch(f->loop, &px->io, px->fd, events);
    ev_timer_stop(f->loop, &px->timer);
    ev_timer_set(&px->timer, ms(timeout_ms), 0);
    ev_timer_start(f->loop, &px->timer);
}

/* The whole answer is in c->out: the upstream goes, the client connection goes on as after any
 * answer (client_flush). */
static void proxy_done(struct proxy_conn *px)
{
    struct client *c = px->c;
    struct front *f = c->f;
    if (px->out == PROXY_OUT_CHUNKED)
        buf_append_str(&c->out, "0\r\n\r\n");
    proxy_account(px, px->status, NULL);
    proxy_free(px);
    budget_release(c);
    c->close_after |= f->stopping;
    size_t used = c->req.head_len + c->req.content_length;
    memmove(c->in.data, c->in.data + used, c->in.len - used);
    c->in.len -= used;
    trim(&c->in);
    ev_timer_stop(f->loop, &c->timer);
    c->state = C_SEND;
    client_flush(c);
}

/* Body bytes of the upstream's answer, framed for the client. */
static void proxy_emit(struct proxy_conn *px, const uint8_t *p, size_t n)
{
    struct buf *out = &px->c->out;
    if (n == 0)
        return;
    if (px->out == PROXY_OUT_CHUNKED)
        buf_printf(out, "%zx\r\n", n);
    buf_append(out, p, n);
    if (px->out == PROXY_OUT_CHUNKED)
        buf_append(out, "\r\n", 2);
}

/* Body bytes read (p[0..n), decoded in place when chunked); 1 when the body is whole, -1 when
 * it is malformed. */
static int proxy_body(struct proxy_conn *px, uint8_t *p, size_t n)
{
    size_t data;
    switch (px->body) {
    case PROXY_BODY_NONE:
        return 1;
    case PROXY_BODY_LENGTH:
        data = n < px->left ? n : (size_t)px->left;
        proxy_emit(px, p, data);
        px->left -= data;
        return px->left == 0;
    case PROXY_BODY_CHUNKED:
        if (proxy_chunked_decode(&px->chunked, p, n, &data) < 0)
            return -1;
        proxy_emit(px, p, data);
        return px->chunked.done;
    case PROXY_BODY_EOF:
        proxy_emit(px, p, n);
        return 0;
    }
    return -1;
}

/* The answer's head is in px->in: the client's head goes to c->out, then what followed it. */
static void proxy_on_head(struct proxy_conn *px, const struct proxy_response *r)
{
    struct client *c = px->c;
    bool close;
    px->status = r->status;
    px->body = r->body;
    px->left = r->length;
    buf_reset(&c->out);
    c->out_off = 0;
    px->out = proxy_response_head(px->in.data, r, c->req.minor,
                                  c->req.keep_alive && !c->f->stopping, &c->out, &close);
    c->close_after = close;
    px->state = P_BODY;
    int rc = proxy_body(px, px->in.data + r->head_len, px->in.len - r->head_len);
    buf_reset(&px->in);
    if (rc < 0)
        proxy_abort(px, "malformed chunked body from the upstream");
    else if (rc > 0)
        proxy_done(px);
    else
        proxy_pump(px);
}

/* Find the answer's head in what came so far; skip interim (1xx) heads. */
static void proxy_parse_head(struct proxy_conn *px)
{
    for (;;) {
        struct proxy_response r;
        enum proxy_result res =
            proxy_response_parse(px->in.data, px->in.len, is_head_request(px->c), &r);
        if (res == PROXY_INCOMPLETE)
            return;
        if (res == PROXY_BAD) {
            proxy_fail(px, 502, r.detail);
            return;
        }
        if (res == PROXY_OK) {
            proxy_on_head(px, &r);
            return;
        }
        memmove(px->in.data, px->in.data + r.head_len, px->in.len - r.head_len);
        px->in.len -= r.head_len;
    }
}

static void proxy_recv(struct proxy_conn *px)
{
    buf_reserve(&px->in, READ_CHUNK);
    ssize_t n = recv(px->fd, px->in.data + px->in.len, READ_CHUNK, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n < 0 && px->state == P_HEAD) {
        proxy_fail(px, 502,
                   errno == ECONNRESET ? "the upstream reset the connection"
                                       : "cannot read from the upstream");
        return;
    }
    if (n <= 0 && px->state == P_HEAD) {
        proxy_fail(px, 502, "the upstream closed the connection without an answer");
        return;
    }
    if (n <= 0) {
        if (n == 0 && px->body == PROXY_BODY_EOF)
            proxy_done(px);
        else
            proxy_abort(px, "the upstream closed the connection before the end of the body");
        return;
    }
    px->in.len += (size_t)n;
    if (px->state == P_HEAD) {
        proxy_wait(px, EV_READ, px->c->f->lim.proxy->timeout_ms);
        proxy_parse_head(px);
        return;
    }
    int rc = proxy_body(px, px->in.data, px->in.len);
    buf_reset(&px->in);
    if (rc < 0)
        proxy_abort(px, "malformed chunked body from the upstream");
    else if (rc > 0)
        proxy_done(px);
    else
        proxy_pump(px);
}

static void proxy_send(struct proxy_conn *px)
{
    struct client *c = px->c;
    size_t before = px->sent;
    int rc = send_head_body(px->fd, &px->req, c, &px->sent);
    if (rc < 0) {
        proxy_fail(px, 502, "the upstream connection broke while sending the request");
        return;
    }
    if (rc == 0) {
        if (px->sent > before)
            proxy_wait(px, EV_WRITE, c->f->lim.proxy->timeout_ms);
        return;
    }
    px->state = P_HEAD;
    proxy_wait(px, EV_READ, c->f->lim.proxy->timeout_ms);
}

/* Write what the client has of the answer; once it has taken all, read the upstream again. The
 * client gets body_timeout_ms for each stall, the upstream timeout_ms of silence. */
static void proxy_pump(struct proxy_conn *px)
{
    struct client *c = px->c;
    struct front *f = c->f;
    bool progress = false;
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (progress || !ev_is_active(&c->timer))
                deadline(c, ms(f->lim.body_timeout_ms));
            watch(f->loop, &c->io, c->fd, EV_WRITE);
            ev_io_stop(f->loop, &px->io);
            ev_timer_stop(f->loop, &px->timer);
            return;
        }
        if (n <= 0) {
            proxy_abort(px, "the client connection broke");
            return;
        }
        c->out_off += (size_t)n;
        progress = true;
    }
    buf_reset(&c->out);
    c->out_off = 0;
    ev_timer_stop(f->loop, &c->timer);
    watch(f->loop, &c->io, c->fd, 0);
    proxy_wait(px, EV_READ, f->lim.proxy->timeout_ms);
}

static void proxy_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct proxy_conn *px = w->data;
    if (px->state == P_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(px->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err) {
            proxy_fail(px, 502,
                       err == ECONNREFUSED ? "the upstream refused the connection"
                                           : "cannot connect to the upstream");
            return;
        }
        px->state = P_SENDING;
        proxy_wait(px, EV_WRITE, px->c->f->lim.proxy->timeout_ms);
    }
    if (px->state == P_SENDING)
        proxy_send(px);
    else
        proxy_recv(px);
}

static void proxy_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct proxy_conn *px = w->data;
    if (px->state == P_CONNECTING)
        proxy_fail(px, 504, "the upstream did not accept the connection in time");
    else if (px->state != P_BODY)
        proxy_fail(px, 504, "the upstream did not answer in time");
    else
        proxy_abort(px, "the upstream stopped sending the body");
}

/* The client's request is whole: open a connection to the upstream for it. */
static void proxy_start(struct client *c)
{
    struct front *f = c->f;
    const struct front_proxy *cfg = f->lim.proxy;
    if (!cfg->resolved) {
        client_answer(c, 502, "bad gateway", "the upstream's host did not resolve at start", true);
        return;
    }
    if (f->nproxied >= cfg->max_connections) {
        client_answer(c, 503, "busy", "upstream connections at their cap", true);
        return;
    }
    struct proxy_conn *px = xcalloc(1, sizeof(*px));
    px->fd = -1;
    px->c = c;
    c->px = px;
    c->state = C_PROXY;
    f->nproxied++;
    ev_init(&px->io, proxy_on_io);
    px->io.data = px;
    ev_init(&px->timer, proxy_on_timer);
    px->timer.data = px;
    char a[INET_ADDRSTRLEN];
    addr_text(c->addr, a, sizeof(a));
    proxy_request_head(c->in.data, &c->req, &cfg->url, a, &px->req);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(cfg->url.port),
                             .sin_addr.s_addr = htonl(cfg->addr)};
    px->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (px->fd < 0) {
        proxy_fail(px, 502, "no socket for the upstream connection");
        return;
    }
    int one = 1;
    setsockopt(px->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(px->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        proxy_fail(px, 502,
                   errno == ECONNREFUSED ? "the upstream refused the connection"
                                         : "cannot connect to the upstream");
        return;
    }
    px->state = P_CONNECTING;
    proxy_wait(px, EV_WRITE, cfg->connect_timeout_ms);
}

/* ---- thread, start and stop ---- */

/* Close everything and leave the loop. */
static void front_finish(struct front *f)
{
    f->finished = true;
    ev_timer_stop(f->loop, &f->stop_grace);
    /* client_close frees its own client and no other: the next one is still there. */
    struct client *next;
    for (struct client *c = f->clients; c; c = next) {
        next = c->next;
        client_close(c);
    }
    for (unsigned i = 0; i < f->lim.upstreams; i++)
        upstream_close(&f->ups[i]);
    ev_break(f->loop, EVBREAK_ALL);
}

static void on_stop_grace(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    front_finish(w->data);
}

/* Stop accepting; requests in flight (queued, at civetweb or the upstream, being written) may
 * finish, each on a connection closed after its answer, for STOP_GRACE_S at most; every other
 * connection goes now. */
static void on_stop(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)revents;
    struct front *f = w->data;
    f->stopping = true;
    ev_io_stop(loop, &f->accept_io);
    ev_timer_stop(loop, &f->accept_retry);
    struct client *next;
    for (struct client *c = f->clients; c && !f->finished; c = next) {
        next = c->next;
        if (c->state != C_WAIT && c->state != C_SEND && c->state != C_PROXY)
            client_close(c);
    }
    if (f->finished)
        return;
    if (!f->clients) {
        front_finish(f);
        return;
    }
    ev_timer_set(&f->stop_grace, STOP_GRACE_S, 0);
    ev_timer_start(loop, &f->stop_grace);
}

static void *front_thread(void *arg)
{
    struct front *f = arg;
    for (unsigned i = 0; i < f->lim.upstreams; i++)
        upstream_connect(&f->ups[i], NULL);
    ev_run(f->loop, 0);
    return NULL;
}

static int listen_on(const char *addr, char *err, size_t errsz)
{
    char host[256];
    uint16_t port;
    if (parse_hostport(addr, host, sizeof(host), &port) < 0) {
        snprintf(err, errsz, "%s: expected HOST:PORT", addr);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(host, NULL, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errsz, "%s: %s", addr, gai_strerror(rc));
        return -1;
    }
    struct sockaddr_in sa = *(struct sockaddr_in *)ai->ai_addr;
    freeaddrinfo(ai);
    sa.sin_port = htons(port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        snprintf(err, errsz, "%s: %s", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

struct front *front_start(const char *name, unsigned listener, const char *addr,
                          uint16_t upstream_port, const struct front_limits *lim, char *err,
                          size_t errsz)
{
    int lfd = listen_on(addr, err, errsz);
    if (lfd < 0)
        return NULL;
    struct front *f = xcalloc(1, sizeof(*f));
    f->name = name;
    f->listener = listener;
    f->lim = *lim;
    f->lfd = lfd;
    f->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    f->upstream_addr = (struct sockaddr_in){.sin_family = AF_INET,
                                            .sin_port = htons(upstream_port),
                                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    conn_limit_init(&f->limit, (uint32_t)lim->max_connections, (uint32_t)lim->max_per_address);
    f->wait_tail = &f->wait_head;
    f->ups = xcalloc(lim->upstreams, sizeof(*f->ups));
    f->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV);
    if (!f->loop)
        fatalx("ev_loop_new failed");
    for (unsigned i = 0; i < lim->upstreams; i++) {
        struct upstream *u = &f->ups[i];
        u->f = f;
        u->fd = -1;
        ev_init(&u->io, upstream_on_io);
        u->io.data = u;
    }
    f->open_gauge = metric("api_connections_open", name);
    for (int r = 0; r < R_N; r++)
        f->rejected[r] = metric("api_connections_rejected_total", name, reject_names[r]);
    gauge(f);
    ev_io_init(&f->accept_io, on_accept, lfd, EV_READ);
    f->accept_io.data = f;
    ev_io_start(f->loop, &f->accept_io);
    ev_init(&f->accept_retry, on_accept_retry);
    f->accept_retry.data = f;
    ev_async_init(&f->stop_async, on_stop);
    f->stop_async.data = f;
    ev_init(&f->stop_grace, on_stop_grace);
    f->stop_grace.data = f;
    ev_async_start(f->loop, &f->stop_async);

    /* the loop thread takes no signals: the worker's main loop handles them */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&f->thread, NULL, front_thread, f);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        fatalx("pthread_create failed");
    return f;
}

void front_stop(struct front *f)
{
    ev_async_send(f->loop, &f->stop_async);
}

void front_free(struct front *f)
{
    pthread_join(f->thread, NULL);
    for (unsigned i = 0; i < f->lim.upstreams; i++)
        buf_free(&f->ups[i].in);
    free(f->ups);
    close(f->lfd);
    if (f->spare_fd >= 0)
        close(f->spare_fd);
    conn_limit_free(&f->limit);
    ev_loop_destroy(f->loop);
    free(f);
}
