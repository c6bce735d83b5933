/*
 * worker: the lifecycle every worker binary shares (SPEC §3.2, §3.4).
 *
 *   options + config (exit 78 on error) -> preinit (still root: read secrets) -> privilege drop
 *   (when root) -> mailbox -> HELLO to the supervisor -> init -> READY (worker_ready) ->
 *   HEARTBEAT every [supervisor] heartbeat_ms -> SIGTERM: stop -> exit 0.
 *
 * The worker exits when its supervisor is gone (parent changed, or the supervisor pid from the
 * HELLO ACK no longer exists for a worker started by hand). Its mailbox checks every sender
 * against the supervisor's peer table and sends to the other workers only once the HELLO is
 * accepted (MAILBOX_WORKER, ipc/mailbox.h). The common dispatch rows answer
 * METRICS_REQ with this process's registry; a worker adds its own rows in ops->dispatch. Handlers
 * receive the struct worker as ctx; the worker's own state is w->ctx.
 *
 * Every WORKER_TRIM_S (worker.c) the worker gives the heap memory it freed back to the kernel
 * (malloc_trim): glibc keeps freed pages otherwise, and a worker's resident set would stay at
 * its highest point instead of following what it holds (decided instances leaving the QBFT
 * worker, memtables flushed in StateDB).
 */
#ifndef AEQUA_WORKERS_WORKER_H
#define AEQUA_WORKERS_WORKER_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc/mailbox.h"
#include "lib/config.h"
#include "lib/options.h"
#include "workers/common/privdrop.h"

struct worker;

struct worker_ops {
    const char *name;         /* "qbft" */
    unsigned id;              /* W_QBFT */
    const char *does_not_yet; /* logged at start while a worker's domain work is missing */
    const struct seccomp_profile *seccomp;
    /* Before privileges are dropped: read secrets, open privileged files. 0 or -1 (exit 1). */
    int (*preinit)(struct worker *w);
    /* After the mailbox is open: bind, load state; call worker_ready() (now or later). */
    int (*init)(struct worker *w);
    /* SIGTERM/SIGINT: stop accepting work; return when the loop may end. */
    void (*stop)(struct worker *w);
    /* Optional: fill health ("" when healthy) for READY/HEARTBEAT and /ready. */
    void (*health)(struct worker *w, char *out, size_t outsz);
    const struct dispatch_entry *dispatch;
    size_t ndispatch;
    void (*on_drained)(struct mailbox *mb, void *ctx);
};

struct worker {
    const struct worker_ops *ops;
    struct options opt;
    struct config cfg;
    struct ev_loop *loop;
    struct mailbox *mb;
    uint64_t generation;
    bool ready;
    bool hello_acked;
    bool ready_sent;
    bool stopping;
    pid_t parent;         /* the spawning supervisor, 1 if started by hand */
    pid_t supervisor_pid; /* from HELLO ACK */
    ev_timer beat;
    ev_timer trim; /* gives freed heap memory back to the kernel (WORKER_TRIM_S) */
    ev_signal sigterm, sigint;
    void *ctx; /* the worker's own state */
};

/* Run a worker; returns the process exit code. */
int worker_main(int argc, char **argv, const struct worker_ops *ops, void *ctx);

/* Mark READY (sent once the supervisor acknowledged HELLO). */
void worker_ready(struct worker *w);

/* End the loop (after stop work is done). */
void worker_exit_loop(struct worker *w);

#endif
