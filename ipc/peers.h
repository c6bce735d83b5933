/*
 * peers: who sent an IPC frame (SPEC §4, issue 10). An envelope's source is whatever its sender
 * wrote; the process at the other end of the connection is a fact (the IPC peer credentials of
 * the nng pipe it arrived on). The supervisor keeps a peer table — the pid of every process of
 * the node, by worker id, with the pids of earlier incarnations — and hands it to each worker
 * (proto/control.h, CTL_PEERS); peers_check compares a frame's declared source with the pid
 * that sent it. Pure: no I/O. How a mailbox acts on the verdict is in ipc/mailbox.h.
 *
 * The test-tool identity (W_TOOL) is any process that is not one of the node's: a worker that
 * declares itself a tool is forged. An id in the table's `open` set (the supervisor's workers
 * started by hand or under a debugger, until their HELLO binds a pid) is accepted from any
 * process the table does not know.
 */
#ifndef AEQUA_IPC_PEERS_H
#define AEQUA_IPC_PEERS_H

#include <stdint.h>

#include "proto/control.h"

enum peer_verdict {
    PEER_OK,      /* the declared source is the process that sent the frame */
    PEER_STALE,   /* an earlier incarnation of the declared source (dropped, never harmful) */
    PEER_UNKNOWN, /* a process the table does not know (yet) */
    PEER_FORGED,  /* a known process that is not the declared source, or no such source */
};

struct peer_table {
    struct ctl_peers t;
    unsigned self;
    uint32_t self_pid;
    uint32_t open; /* WBIT(id) of ids accepted from unknown processes until bound */
};

void peers_init(struct peer_table *pt, unsigned self, uint32_t self_pid);
/* Record id's current process (pid 0: none) and generation; a different pid it had before
 * becomes its newest retired one. */
void peers_set(struct peer_table *pt, unsigned id, uint32_t pid, uint64_t generation);
/* The verdict on a frame declaring `source` that came from process `pid` (not 0). */
enum peer_verdict peers_check(const struct peer_table *pt, unsigned source, uint32_t pid);
/* The worker id whose current process is pid, or -1. */
int peers_who(const struct peer_table *pt, uint32_t pid);

#endif
