/*
 * supervisor: the node's root process. Owns the worker table, spawns each worker (fork + exec),
 * restarts the ones that die according to supervisor/policy.h, kills the ones that stop
 * heartbeating, serves its worker table to the API, and talks to systemd.
 *
 * It never trusts a child: a malformed message from a worker is logged and dropped, a stale
 * generation is ignored, a frame whose declared source is not the process that sent it is
 * dropped as forged (its mailbox checks every sender against the peer table it keeps and sends
 * to the workers, ipc/peers.h), and nothing a worker sends can make the supervisor exit.
 */
#ifndef AEQUA_SUPERVISOR_SUPERVISOR_H
#define AEQUA_SUPERVISOR_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/config.h"

struct worker_def {
    const char *name;
    unsigned id;
    const char *binary;
    bool required; /* must be READY for the node to be ready */
    const char *const *reload_sections;
    /* Optional, run by the supervisor before every spawn (e.g. the P2P identity). 0 or -1. */
    int (*prespawn)(const struct config *cfg, char *err, size_t errsz);
};

/* Certify a fresh Noise static key with the node key for the P2P worker (supervisor/prespawn.c). */
int prespawn_p2p_identity(const struct config *cfg, char *err, size_t errsz);

/* Embedded single-node default: create this node's key, its 1-of-1 threshold key ([tss] key) and
 * a one-operator lock on first run. */
int embedded_cluster_ensure(const struct config *cfg, char *err, size_t errsz);

extern const struct worker_def worker_table[];
extern const size_t worker_table_len;
extern const char *const node_wide_sections[];

#endif
