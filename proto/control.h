/*
 * control family (0x01xx): lifecycle between the supervisor and its workers, the worker table
 * the API serves at /status, and the peer table by which every mailbox checks who sent a frame
 * (ipc/peers.h).
 */
#ifndef AEQUA_PROTO_CONTROL_H
#define AEQUA_PROTO_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "proto/workers.h"

enum control_type {
    CTL_HELLO = 0x0101,        /* worker -> supervisor (request): name, generation, pid, version */
    CTL_HELLO_ACK = 0x0102,    /* supervisor -> worker (reply): supervisor pid, accepted */
    CTL_READY = 0x0103,        /* worker -> supervisor: generation */
    CTL_HEARTBEAT = 0x0104,    /* worker -> supervisor: generation, health ("" = healthy) */
    CTL_STATUS_REQ = 0x0105,   /* api -> supervisor (request): empty */
    CTL_STATUS_REP = 0x0106,   /* supervisor -> api (reply): node and worker table */
    CTL_LISTEN_PROBE = 0x0107, /* any process -> itself: its mailbox still accepts (ipc/) */
    CTL_PEERS_REQ = 0x0108,    /* worker -> supervisor (request): empty */
    CTL_PEERS = 0x0109,        /* supervisor -> worker: the peer table (struct ctl_peers); the
                                  reply to PEERS_REQ, and sent on every change */
};

#define CTL_NAME_MAX    16
#define CTL_VERSION_MAX 32
#define CTL_HEALTH_MAX  200

struct ctl_hello {
    char name[CTL_NAME_MAX + 1];
    uint64_t generation;
    uint32_t pid;
    char version[CTL_VERSION_MAX + 1];
};

struct ctl_hello_ack {
    uint32_t supervisor_pid;
    bool accepted; /* false: stale generation or unknown worker; the worker exits */
};

struct ctl_beat {
    uint64_t generation;
    char health[CTL_HEALTH_MAX + 1]; /* READY/HEARTBEAT; empty = healthy */
};

/* The node's processes as the supervisor knows them, by worker id (W_SUPERVISOR included). */
#define CTL_PEERS_RETIRED 4
struct ctl_peer {
    uint32_t pid; /* 0: not running, or not known yet */
    uint64_t generation;
    uint32_t retired[CTL_PEERS_RETIRED]; /* earlier incarnations' pids, newest first; 0 = none */
};

struct ctl_peers {
    struct ctl_peer w[W_COUNT];
};

void ctl_peers_encode(struct buf *b, const struct ctl_peers *p);
int ctl_peers_decode(struct ctl_peers *p, const void *body, size_t n);

void ctl_hello_encode(struct buf *b, const struct ctl_hello *h);
int ctl_hello_decode(struct ctl_hello *h, const void *p, size_t n);
void ctl_hello_ack_encode(struct buf *b, const struct ctl_hello_ack *a);
int ctl_hello_ack_decode(struct ctl_hello_ack *a, const void *p, size_t n);
void ctl_beat_encode(struct buf *b, const struct ctl_beat *h);
int ctl_beat_decode(struct ctl_beat *h, const void *p, size_t n);

/* /status: SPEC §3.5. */
#define STATUS_MAX_WORKERS 8
struct status_worker {
    char name[CTL_NAME_MAX + 1];
    char state[16]; /* starting | ready | backoff | stopped | external */
    int64_t pid;    /* 0 when not running */
    uint64_t generation;
    uint64_t restarts;
    char last_exit[48]; /* "", "exit 1", "signal 9", "watchdog" */
    double uptime_s;
    char health[CTL_HEALTH_MAX + 1];
    bool required;
};

struct status_report {
    uint64_t index;
    char peer_id[80];
    char version[CTL_VERSION_MAX + 1];
    char cluster[80];
    uint32_t nworkers;
    struct status_worker workers[STATUS_MAX_WORKERS];
};

void status_encode(struct buf *b, const struct status_report *s);
int status_decode(struct status_report *s, const void *p, size_t n);

#endif
