#include "supervisor/policy.h"
#include "lib/util.h"

#include <string.h>

static void record(struct restart_history *h, uint64_t now, uint64_t window)
{
    unsigned keep = 0;
    for (unsigned i = 0; i < h->ndeaths; i++)
        if (now - h->deaths[i] < window)
            h->deaths[keep++] = h->deaths[i];
    h->ndeaths = keep;
    if (h->ndeaths == POLICY_HISTORY_MAX) {
        memmove(h->deaths, h->deaths + 1, (POLICY_HISTORY_MAX - 1) * sizeof(h->deaths[0]));
        h->ndeaths--;
    }
    h->deaths[h->ndeaths++] = now;
}

struct restart_decision restart_policy_next_delay(const struct restart_policy *p,
                                                  struct restart_history *h, const struct death *d)
{
    struct restart_decision out = {RESTART, 0};
    if (d->exit_code == EXIT_CONFIG) {
        out.action = PERMANENT;
        return out;
    }
    record(h, d->now_ms, p->give_up_window_ms);
    if (h->ndeaths > p->give_up_deaths) {
        out.action = GIVE_UP;
        return out;
    }
    unsigned k = d->uptime_ms >= p->stable_ms ? 0 : h->consecutive;
    if (k == 0 && d->was_ready && d->uptime_ms >= POLICY_IMMEDIATE_UPTIME_MS) {
        out.delay_ms = 0;
    } else {
        uint64_t delay = p->backoff_min_ms << (k < 20 ? k : 20);
        if (!d->was_ready)
            delay *= POLICY_NOT_READY_FACTOR;
        out.delay_ms = delay < p->backoff_max_ms ? delay : p->backoff_max_ms;
    }
    h->consecutive = k + 1;
    return out;
}
