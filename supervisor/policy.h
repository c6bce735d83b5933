/*
 * policy: when to restart a dead worker (SPEC §3.3). A pure function of the policy, the worker's
 * death history and the facts of this death; unit-tested as a table.
 *
 *  - exit 78 (EX_CONFIG) is permanent: never restarted, the supervisor exits 78;
 *  - more than give_up_deaths deaths within give_up_window_ms: give up (supervisor exits 1);
 *  - a worker that was READY and up >= 1 s is restarted at once the first time;
 *  - otherwise capped exponential backoff from backoff_min_ms to backoff_max_ms, reset after an
 *    uptime of stable_ms; a worker that died before READY backs off four times harder.
 */
#ifndef AEQUA_SUPERVISOR_POLICY_H
#define AEQUA_SUPERVISOR_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#define POLICY_HISTORY_MAX         64
#define POLICY_IMMEDIATE_UPTIME_MS 1000
#define POLICY_NOT_READY_FACTOR    4

struct restart_policy {
    uint64_t backoff_min_ms;
    uint64_t backoff_max_ms;
    uint64_t stable_ms;
    uint64_t give_up_deaths;    /* K */
    uint64_t give_up_window_ms; /* T */
};

struct restart_history {
    uint64_t deaths[POLICY_HISTORY_MAX]; /* recent death times (ms), oldest first */
    unsigned ndeaths;
    unsigned consecutive; /* quick deaths in a row (uptime < stable) */
};

struct death {
    uint64_t now_ms;
    uint64_t uptime_ms;
    bool was_ready;
    int exit_code; /* -1 when killed by a signal */
};

enum restart_action { RESTART, PERMANENT, GIVE_UP };

struct restart_decision {
    enum restart_action action;
    uint64_t delay_ms;
};

/* Decide, and record the death in h. */
struct restart_decision restart_policy_next_delay(const struct restart_policy *p,
                                                  struct restart_history *h, const struct death *d);

#endif
