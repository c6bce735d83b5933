/*
 * qbft_timer: the round schedule of an instance.
 *
 * T(r) grows with the round (exponential by default, linear configurable) up to a cap. Round r
 * ends at start + T(1) + ... + T(r): the schedule is absolute, counted from the instance's start
 * time, rather than "T(r) after this node entered round r". A node that entered a round late (it
 * restarted, or jumped, or its messages were slow) therefore does not drift behind the others:
 * with a capped timer, drift that reaches one full period would otherwise never close again, and
 * a node alone ahead of the others could block a quorum forever. Arithmetic saturates.
 */
#include "workers/qbft/qbft_table.h"

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    if (a != 0 && b > UINT64_MAX / a)
        return UINT64_MAX;
    return a * b;
}

uint64_t qbft_round_timeout(const struct qbft_config *c, uint64_t round)
{
    uint64_t base = c->round_timeout_ms, cap = c->round_timeout_max_ms, t;
    if (round == 0)
        round = 1;
    if (c->timer == QBFT_TIMER_LINEAR)
        t = sat_mul(base, round);
    else
        t = round - 1 >= 63 ? UINT64_MAX : sat_mul(base, 1ull << (round - 1));
    return t < cap ? t : cap;
}

/* start + sum of T(1..round), in closed form past the cap. */
uint64_t qbft_round_end(const struct qbft_config *c, uint64_t start, uint64_t round)
{
    uint64_t base = c->round_timeout_ms, cap = c->round_timeout_max_ms, sum = 0, below;
    if (c->timer == QBFT_TIMER_LINEAR) {
        /* T(j) = base * j for j <= cap / base, then cap. */
        below = cap / base;
        if (below > round)
            below = round;
        sum = sat_mul(base,
                      below % 2 ? sat_mul(below, (below + 1) / 2) : sat_mul(below / 2, below + 1));
    } else {
        below = 0;
        while (below < round && below < 63 && (base << below) < cap &&
               (base << below) >> below == base) {
            sum = sat_add(sum, base << below);
            below++;
        }
    }
    sum = sat_add(sum, sat_mul(round - below, cap));
    return sat_add(start, sum);
}

/* The round the schedule is in at `now`: the smallest r >= 1 whose end is after now. */
uint64_t qbft_round_at(const struct qbft_config *c, uint64_t start, uint64_t now)
{
    uint64_t lo = 1, hi = QBFT_MAX_ROUND;
    if (qbft_round_end(c, start, lo) > now)
        return lo;
    while (hi - lo > 1) { /* end(lo) <= now < end(hi) */
        uint64_t mid = lo + (hi - lo) / 2;
        if (qbft_round_end(c, start, mid) > now)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}
