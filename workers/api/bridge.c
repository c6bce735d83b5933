#include "workers/api/bridge.h"
#include "lib/log.h"
#include "lib/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bridge_batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t left;
};

struct bridge {
    struct ev_loop *loop;
    struct mailbox *mb;
    ev_async wake;
    pthread_mutex_t mu;
    struct bridge_call *head, **tail;
    bool closed;
};

static void complete(struct bridge_call *c, int status)
{
    struct bridge_batch *bb = c->batch;
    c->status = status;
    pthread_mutex_lock(&bb->mu);
    if (--bb->left == 0)
        pthread_cond_signal(&bb->cv);
    pthread_mutex_unlock(&bb->mu);
}

static void on_reply(struct mailbox *mb, int status, const struct envelope *e, void *arg)
{
    (void)mb;
    struct bridge_call *c = arg;
    if (status == 0)
        buf_append(&c->reply, e->body, e->body_len);
    complete(c, status);
}

static void on_wake(struct ev_loop *loop, ev_async *a, int revents)
{
    (void)loop;
    (void)revents;
    struct bridge *b = a->data;
    pthread_mutex_lock(&b->mu);
    struct bridge_call *c = b->head;
    b->head = NULL;
    b->tail = &b->head;
    pthread_mutex_unlock(&b->mu);
    while (c) {
        struct bridge_call *next = c->next;
        log_set_trace(c->trace[0] ? c->trace : NULL);
        int rc = mailbox_request(b->mb, c->dest, c->type, c->reply_type, c->body, c->len,
                                 c->timeout_ms, on_reply, c);
        log_set_trace(NULL);
        if (rc < 0)
            complete(c, rc);
        c = next;
    }
}

struct bridge *bridge_new(struct ev_loop *loop, struct mailbox *mb)
{
    struct bridge *b = xcalloc(1, sizeof(*b));
    b->loop = loop;
    b->mb = mb;
    b->tail = &b->head;
    pthread_mutex_init(&b->mu, NULL);
    ev_async_init(&b->wake, on_wake);
    b->wake.data = b;
    ev_async_start(loop, &b->wake);
    return b;
}

void bridge_shutdown(struct bridge *b)
{
    pthread_mutex_lock(&b->mu);
    b->closed = true;
    struct bridge_call *c = b->head;
    b->head = NULL;
    b->tail = &b->head;
    pthread_mutex_unlock(&b->mu);
    while (c) {
        struct bridge_call *next = c->next;
        complete(c, -ECANCELED);
        c = next;
    }
}

void bridge_free(struct bridge *b)
{
    ev_async_stop(b->loop, &b->wake);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

void bridge_call_all(struct bridge *b, struct bridge_call *calls, size_t n)
{
    struct bridge_batch bb = {.left = n};
    pthread_mutex_init(&bb.mu, NULL);
    pthread_cond_init(&bb.cv, NULL);
    const char *trace = log_get_trace();
    pthread_mutex_lock(&b->mu);
    bool closed = b->closed;
    for (size_t i = 0; i < n; i++) {
        struct bridge_call *c = &calls[i];
        c->batch = &bb;
        c->next = NULL;
        c->status = 0;
        snprintf(c->trace, sizeof(c->trace), "%s", trace ? trace : "");
        if (!closed) {
            *b->tail = c;
            b->tail = &c->next;
        }
    }
    pthread_mutex_unlock(&b->mu);
    if (closed) {
        for (size_t i = 0; i < n; i++)
            complete(&calls[i], -ECANCELED);
    } else {
        ev_async_send(b->loop, &b->wake);
    }
    pthread_mutex_lock(&bb.mu);
    while (bb.left > 0)
        pthread_cond_wait(&bb.cv, &bb.mu);
    pthread_mutex_unlock(&bb.mu);
    pthread_cond_destroy(&bb.cv);
    pthread_mutex_destroy(&bb.mu);
}

void bridge_call_release(struct bridge_call *calls, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_free(&calls[i].reply);
}
