/*
 * supervisor: the node's root process. Owns the worker table, spawns each worker (fork + exec),
 * restarts the ones that die according to supervisor/policy.h, kills the ones that stop
 * heartbeating, serves its worker table to the API, and talks to systemd.
 *
 * It never trusts a child: a malformed message from a worker is logged and dropped, a stale
 * generation is ignored, and nothing a worker sends can make the supervisor exit.
 */
#ifndef AEQUA_SUPERVISOR_SUPERVISOR_H
#define AEQUA_SUPERVISOR_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>

struct worker_def {
    const char *name;
    unsigned id;
    const char *binary;
    bool required; /* must be READY for the node to be ready */
    const char *const *reload_sections;
};

extern const struct worker_def worker_table[];
extern const size_t worker_table_len;
extern const char *const node_wide_sections[];

#endif
