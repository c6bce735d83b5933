/*
 * bridge: lets civetweb's handler threads make IPC requests, which only the libev loop thread
 * may do (the mailbox is single-threaded). A handler queues calls and blocks until every one has
 * completed; the loop thread, woken by an ev_async, issues them with mailbox_request and completes
 * each from its reply or its deadline. Every call completes exactly once, also at shutdown.
 */
#ifndef AEQUA_API_BRIDGE_H
#define AEQUA_API_BRIDGE_H

#include <ev.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ipc/mailbox.h"
#include "lib/buf.h"

struct bridge_call {
    /* in */
    unsigned dest;
    uint16_t type, reply_type;
    const void *body;
    size_t len;
    unsigned timeout_ms;
    /* out */
    int status; /* 0, or -ETIMEDOUT / -EAGAIN / -ECANCELED / ... */
    struct buf reply;
    /* private */
    char trace[80];
    struct bridge_batch *batch;
    struct bridge_call *next;
};

struct bridge;

struct bridge *bridge_new(struct ev_loop *loop, struct mailbox *mb);
/* Loop thread: complete every queued call with -ECANCELED and refuse new ones. */
void bridge_shutdown(struct bridge *b);
void bridge_free(struct bridge *b);

/* Handler thread: run n calls concurrently and wait for all. Frees nothing of the caller's. */
void bridge_call_all(struct bridge *b, struct bridge_call *calls, size_t n);
void bridge_call_release(struct bridge_call *calls, size_t n);

#endif
