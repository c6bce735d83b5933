/*
 * mailbox: a process's IPC endpoint (SPEC §4).
 *
 * Each process of a node listens on one nng PULL socket at ipc://<runtime-dir>/<name>.ipc (its
 * mailbox) and sends through one PUSH socket per destination, dialled lazily and non-blocking
 * and redialled every 10 ms while the destination is down. Two faults of nng 1.5.2 are worked
 * around here: a dialer that stops redialling gets a new one after 300 ms without a connection,
 * and a listener that stopped accepting (found by the mailbox's own probe, once a second) is
 * started again. Messages in flight to a peer that dies are lost; requests time out.
 * What a process sends to one destination during one turn of its loop travels as one nng message
 * (a frame of envelopes), flushed just before the loop sleeps (ev_prepare): each nng message
 * costs several thread hand-offs, so under load this is what lets StateDB see a whole batch of
 * requests in one drain. Send errors of a frame are logged; requests in it time out.
 * Every message is an envelope (proto/envelope.h). The receive fd (NNG_OPT_RECVFD) is watched
 * with a libev ev_io and drained without blocking; after each drain the owner's on_drained hook
 * runs (StateDB turns one drain into one group commit).
 *
 * Request/reply: a request carries a fresh request id; the reply is a message with the REPLY flag
 * and the same id, sent back to the requester's mailbox. Each request has a deadline (ev_timer):
 * the callback runs exactly once, with the reply or with a timeout. A destination that is down or
 * full makes the send fail at once (-EAGAIN) rather than hang.
 *
 * Senders are checked, not declared (ipc/peers.h). Every connection is bound to the process at
 * its other end: the pid of its IPC peer credentials, taken when nng accepts it. A frame carries
 * envelopes of one declared source; before any envelope is handled, that source is checked
 * against the peer table:
 *   - The supervisor (MAILBOX_AUTHORITY) keeps the table itself (mailbox_peers_set, at every
 *     spawn, HELLO and death): a frame from a process that is not its declared source is a
 *     violation, one from an earlier incarnation of it is dropped.
 *   - A worker (MAILBOX_WORKER) gets the table from the supervisor (CTL_PEERS, with its HELLO
 *     ACK and at every change; the supervisor is the process listening on its mailbox). A frame
 *     from a process the table does not know is held (at most HOLD_MAX frames) and the
 *     supervisor is asked (CTL_PEERS_REQ): a restarted worker's first frames may arrive before
 *     the table that names it. Its answer decides: the declared source, or an earlier
 *     incarnation (dropped), or a forgery (violation). Without an answer in time the held frames
 *     are dropped and logged, never fatal. A worker's own sends to other workers wait until the
 *     supervisor has accepted its HELLO (mailbox_admit), so a worker's pid is in the table before
 *     anyone receives its frames, and an answer that does not name it is certain.
 *   - Other processes (tools, tests) check nothing: they trust whoever answers them.
 * A frame whose connection closed before its credentials were read is dropped (unverifiable).
 *
 * Dispatch: each incoming envelope is looked up in the owner's dispatch tables by type; sender
 * and body size are checked against the row before the handler decodes anything. What fails
 * these checks (or does not decode, or forges its source) is a protocol violation: by default
 * the process logs it and exits 1 so the supervisor restarts it; the supervisor opens its
 * mailbox with MAILBOX_DROP_VIOLATIONS because it never dies for a child's mistake.
 *
 * A peer that is heard from while the socket back to it has no connection gets a new dialer
 * once HEARD_REDIAL_MS have passed (nng 1.5.2's dialer can stop redialling: nanomsg/nng#970);
 * otherwise only the REDIAL_AFTER_MS check would find it.
 *
 * Single-threaded: every function must be called from the loop's thread.
 */
#ifndef AEQUA_IPC_MAILBOX_H
#define AEQUA_IPC_MAILBOX_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc/peers.h"
#include "proto/envelope.h"

struct mailbox;

typedef void (*mailbox_handler)(struct mailbox *mb, const struct envelope *e, void *ctx);

struct dispatch_entry {
    uint16_t type;
    uint32_t senders;  /* WBIT(W_x) mask of allowed sources */
    uint32_t min_size; /* body bytes, inclusive */
    uint32_t max_size;
    mailbox_handler handler;
};

struct dispatch_table {
    const struct dispatch_entry *rows;
    size_t n;
};

/* status: 0 with the reply envelope, or -ETIMEDOUT (deadline passed) / -ECANCELED (closing). */
typedef void (*mailbox_reply_cb)(struct mailbox *mb, int status, const struct envelope *reply,
                                 void *arg);

enum mailbox_flags {
    MAILBOX_DROP_VIOLATIONS = 1, /* log and drop malformed messages instead of exiting */
    MAILBOX_AUTHORITY = 2,       /* the supervisor: checks senders against its own table */
    MAILBOX_WORKER = 4,          /* checks senders against the supervisor's table; sends to
                                    other workers wait for mailbox_admit */
};

struct mailbox_opts {
    const char *runtime_dir;
    unsigned self; /* worker id (proto/workers.h) */
    const struct dispatch_table *tables;
    size_t ntables;
    void *ctx;                                         /* handed to handlers and on_drained */
    void (*on_drained)(struct mailbox *mb, void *ctx); /* optional */
    unsigned flags;
};

/* Listen on this process's mailbox. Returns NULL with a reason in err. */
struct mailbox *mailbox_open(struct ev_loop *loop, const struct mailbox_opts *o, char *err,
                             size_t errsz);
/* Cancels pending requests (callbacks get -ECANCELED), closes sockets. */
void mailbox_close(struct mailbox *mb);
/*
 * For a process about to exit: sends what is gathered, cancels pending requests and stops the
 * watchers, but leaves nng's sockets, and the mailbox's memory that nng's threads may still
 * touch, to the kernel. nng 1.5.2's nng_close can wait forever (nanomsg/nng#1543): seen here
 * as a worker that outlived its killed supervisor, blocked in nng_close while its dialer leaked
 * 20 000 sockets. nng keeps nothing a close would have delivered (it has no linger).
 */
void mailbox_abandon(struct mailbox *mb);

/* One-way message. The trace id is the calling thread's current one (log_set_trace).
 * 0, or -EAGAIN (destination not connected or its queue is full), -EMSGSIZE, -EINVAL. */
int mailbox_send(struct mailbox *mb, unsigned dest, uint16_t type, const void *body, size_t len);

/* Request with a deadline; cb runs exactly once unless this returns an error. */
int mailbox_request(struct mailbox *mb, unsigned dest, uint16_t type, uint16_t reply_type,
                    const void *body, size_t len, unsigned timeout_ms, mailbox_reply_cb cb,
                    void *arg);

/* Answer a request envelope. */
int mailbox_reply(struct mailbox *mb, const struct envelope *req, uint16_t type, const void *body,
                  size_t len);

/* Drop the sending socket to dest (and what is gathered for it); the next send dials afresh.
 * Done by the supervisor when it spawns a worker. */
void mailbox_reset_dest(struct mailbox *mb, unsigned dest);

/* Send everything gathered now (mailbox_close does it too). */
void mailbox_flush(struct mailbox *mb);

/* A worker: the supervisor accepted its HELLO; sends to the other workers flow from now on. */
void mailbox_admit(struct mailbox *mb);

/* MAILBOX_AUTHORITY: record id's process (pid 0: none) and generation; open: until a pid is
 * bound, accept id from any process the table does not know (workers started by hand or
 * under a debugger, bound at their HELLO). */
void mailbox_peers_set(struct mailbox *mb, unsigned id, uint32_t pid, uint64_t generation,
                       bool open);
/* The table this mailbox checks senders against (what the supervisor sends as CTL_PEERS). */
const struct ctl_peers *mailbox_peers(struct mailbox *mb);

/* Report a protocol violation found while decoding a body: exits, or logs and returns. */
void mailbox_violation(struct mailbox *mb, const struct envelope *e, const char *why);

void *mailbox_ctx(struct mailbox *mb);
struct ev_loop *mailbox_loop(struct mailbox *mb);
unsigned mailbox_self(struct mailbox *mb);
size_t mailbox_pending(struct mailbox *mb);
/* Whether the socket that sends to dest has a connection (nng connects and notices a closed
 * connection on its own threads, so this changes between loop iterations too). */
bool mailbox_connected(struct mailbox *mb, unsigned dest);
/* Protocol violations seen (dropped or, by default, fatal). */
size_t mailbox_violations(struct mailbox *mb);

/* Pure check used before decoding: 0 if the envelope may be handled by row, else a reason. */
const char *dispatch_check(const struct dispatch_entry *row, const struct envelope *e);
/* Find the row for type in tables, or NULL. */
const struct dispatch_entry *dispatch_find(const struct dispatch_table *tables, size_t ntables,
                                           uint16_t type);

#endif
