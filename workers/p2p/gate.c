#include "workers/p2p/gate.h"
#include "lib/util.h"

static const char *const result_names[P2P_GATE_COUNT] = {
    [P2P_GATE_ALLOWED] = "allowed",
    [P2P_GATE_DENIED] = "denied",
    [P2P_GATE_LIMITED] = "limited",
    [P2P_GATE_DKG_DENIED] = "dkg_denied",
    [P2P_GATE_RATE_LIMITED] = "rate_limited",
    [P2P_GATE_SCORED_OUT] = "scored_out",
    [P2P_GATE_HANDSHAKE_FAILED] = "handshake_failed",
};

const char *p2p_gate_result_name(enum p2p_gate_result r)
{
    return r < P2P_GATE_COUNT ? result_names[r] : "unknown";
}

/* ---- token bucket ---- */

/* Longest refill step considered: keeps rate × elapsed far from overflow. */
#define REFILL_MAX_MS 3600000ull

void p2p_bucket_init(struct p2p_bucket *b, uint64_t rate_per_s, uint64_t burst, uint64_t now_ms)
{
    b->rate = rate_per_s;
    b->cap_milli = burst * 1000;
    b->milli = b->cap_milli;
    b->last_ms = now_ms;
}

void p2p_bucket_refill(struct p2p_bucket *b, uint64_t now_ms)
{
    if (now_ms <= b->last_ms)
        return;
    uint64_t dt = now_ms - b->last_ms;
    if (dt > REFILL_MAX_MS)
        dt = REFILL_MAX_MS;
    uint64_t add = dt * b->rate;
    b->milli = b->cap_milli - b->milli < add ? b->cap_milli : b->milli + add;
    b->last_ms = now_ms;
}

bool p2p_bucket_take(struct p2p_bucket *b, uint64_t cost, uint64_t now_ms)
{
    p2p_bucket_refill(b, now_ms);
    if (cost > b->milli / 1000)
        return false;
    b->milli -= cost * 1000;
    return true;
}

uint64_t p2p_bucket_tokens(const struct p2p_bucket *b)
{
    return b->milli / 1000;
}

/* ---- score ---- */

static const struct {
    const char *name;
    int64_t penalty;
} reports[P2P_REPORT_COUNT] = {
    [P2P_REPORT_INVALID_SIG] = {"invalid_signature", 25},
    [P2P_REPORT_EQUIVOCATION] = {"equivocation", 50},
    [P2P_REPORT_UNDECODABLE] = {"undecodable", 10},
};

const char *p2p_report_name(enum p2p_report r)
{
    return r < P2P_REPORT_COUNT ? reports[r].name : "unknown";
}

int64_t p2p_report_penalty(enum p2p_report r)
{
    return r < P2P_REPORT_COUNT ? reports[r].penalty : 0;
}

void p2p_score_init(struct p2p_score *s, uint64_t now_ms)
{
    s->milli = 0;
    s->last_ms = now_ms;
    s->banned = false;
    s->banned_until_ms = 0;
}

static void recover(struct p2p_score *s, const struct p2p_score_params *p, uint64_t now_ms)
{
    if (now_ms <= s->last_ms)
        return;
    uint64_t dt = now_ms - s->last_ms;
    if (dt > REFILL_MAX_MS)
        dt = REFILL_MAX_MS;
    uint64_t gain = dt * p->recover_per_s; /* milli-points */
    s->milli = (uint64_t)-s->milli <= gain ? 0 : s->milli + (int64_t)gain;
    s->last_ms = now_ms;
}

double p2p_score_value(struct p2p_score *s, const struct p2p_score_params *p, uint64_t now_ms)
{
    recover(s, p, now_ms);
    return (double)s->milli / 1000.0;
}

bool p2p_score_report(struct p2p_score *s, const struct p2p_score_params *p, enum p2p_report r,
                      uint64_t now_ms)
{
    recover(s, p, now_ms);
    int64_t floor = 2 * p->threshold * 1000;
    s->milli -= p2p_report_penalty(r) * 1000;
    if (s->milli < floor)
        s->milli = floor;
    if (s->milli > p->threshold * 1000)
        return false;
    bool newly = !s->banned;
    s->banned = true;
    s->banned_until_ms = now_ms + p->cooldown_ms;
    return newly;
}

bool p2p_score_blocked(struct p2p_score *s, const struct p2p_score_params *p, uint64_t now_ms)
{
    recover(s, p, now_ms);
    if (s->banned && now_ms >= s->banned_until_ms && s->milli > p->threshold * 1000)
        s->banned = false;
    return s->banned;
}

/* ---- one peer's gates ---- */

void p2p_gate_init(struct p2p_peer_gate *g, const struct p2p_gate_params *p, uint64_t now_ms)
{
    p2p_bucket_init(&g->msgs, p->rate_msgs, p->burst_msgs, now_ms);
    p2p_bucket_init(&g->bytes, p->rate_bytes, p->burst_bytes, now_ms);
    p2p_bucket_init(&g->conns, p->conn_rate, p->conn_burst, now_ms);
    p2p_score_init(&g->score, now_ms);
}

enum p2p_gate_result p2p_gate_message(struct p2p_peer_gate *g, const struct p2p_gate_params *p,
                                      uint64_t wire_bytes, uint64_t now_ms)
{
    p2p_bucket_refill(&g->msgs, now_ms);
    p2p_bucket_refill(&g->bytes, now_ms);
    if (p2p_bucket_tokens(&g->msgs) < 1 || p2p_bucket_tokens(&g->bytes) < wire_bytes)
        return P2P_GATE_RATE_LIMITED;
    p2p_bucket_take(&g->msgs, 1, now_ms);
    p2p_bucket_take(&g->bytes, wire_bytes, now_ms);
    if (p2p_score_blocked(&g->score, &p->score, now_ms))
        return P2P_GATE_SCORED_OUT;
    return P2P_GATE_ALLOWED;
}

enum p2p_gate_result p2p_gate_connection(struct p2p_peer_gate *g, const struct p2p_gate_params *p,
                                         uint64_t now_ms)
{
    if (!p2p_bucket_take(&g->conns, 1, now_ms))
        return P2P_GATE_RATE_LIMITED;
    if (p2p_score_blocked(&g->score, &p->score, now_ms))
        return P2P_GATE_SCORED_OUT;
    return P2P_GATE_ALLOWED;
}
