/*
 * aequa-sim: the QBFT engine, inside the QBFT worker's own core, under seeded, adversarial
 * schedules.
 *
 *   aequa-sim --nodes N --byzantine B [--crash] --schedules K --seed S
 *             [--instances I] [--verbose] [--write-corpus DIR]
 *
 * Each schedule (seed S+k) runs n nodes — each the worker's duties module around a real engine,
 * real signatures, an in-memory StateDB (tests/sim/cluster.c) — on a simulated network driven by
 * one event queue: random delays (so reordering), loss, duplication and partitions until a
 * stabilisation time (GST), after which the network is timely; crashes of honest nodes, some
 * between an intent's append and its acknowledgement, with restarts that reload as the worker
 * does; seals travel on the same network; up to B Byzantine nodes that equivocate, vote for other
 * values, send bogus, oversized or forged justifications, replay, send garbage and messages for
 * other instances.
 *
 * Checked: agreement, validity (a decided value was proposed; in timely schedules with an honest
 * first leader, it is that leader's input), no honest node emitting two different messages for
 * one (instance, round, type) even across crashes, certificates that verify, and termination of
 * every honest node after GST. Prints one summary line; exits 1 on any violation after printing
 * the seed that reproduces it (run with --schedules 1 --seed <that seed>).
 *
 * Assumptions the schedules respect (see the report in BENCHMARKS.md / the engine header): at
 * most f = floor((n-1)/3) Byzantine nodes, and at least f+1 honest nodes start each instance
 * within a small jitter of each other (others may start much later: they catch up).
 */
#include "tests/sim/cluster.h"
#include "lib/util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- deterministic randomness ---- */

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi)
{
    return lo + rng_next(r) % (hi - lo + 1);
}

static bool rng_chance(struct rng *r, double p)
{
    return (double)(rng_next(r) >> 11) / 9007199254740992.0 < p;
}

/* ---- events ---- */

enum ev_kind { EV_DELIVER, EV_TICK, EV_START, EV_CRASH, EV_RESTART, EV_SEAL };

struct event {
    uint64_t time;
    uint64_t seq;
    enum ev_kind kind;
    unsigned node, from;
    unsigned inst;
    uint8_t *bytes;
    size_t len;
};

struct heap {
    struct event *v;
    size_t n, cap;
};

static bool ev_less(const struct event *a, const struct event *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static void heap_push(struct heap *h, const struct event *e)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 1024;
        h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
    }
    size_t i = h->n++;
    h->v[i] = *e;
    while (i > 0 && ev_less(&h->v[i], &h->v[(i - 1) / 2])) {
        struct event t = h->v[i];
        h->v[i] = h->v[(i - 1) / 2];
        h->v[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static struct event heap_pop(struct heap *h)
{
    struct event top = h->v[0];
    h->v[0] = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && ev_less(&h->v[l], &h->v[m]))
            m = l;
        if (r < h->n && ev_less(&h->v[r], &h->v[m]))
            m = r;
        if (m == i)
            break;
        struct event t = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = t;
        i = m;
    }
    return top;
}

/* ---- a schedule ---- */

#define MAX_INST    4
#define MAX_PART    3
#define REPLAY_KEEP 32

enum byz_act {
    B_FORWARD,
    B_DROP,
    B_EQUIVOCATE,
    B_OTHER_VOTE,
    B_BAD_JUST,
    B_OVERSIZE,
    B_GARBAGE,
    B_OTHER_INSTANCE,
    B_REPLAY,
    B_HIGH_ROUND,
    B_FORGE,
    B_ACTS
};

struct partition {
    uint64_t from, to;
    uint64_t side; /* bitmask of one side */
};

struct sched {
    uint64_t seed;
    struct rng rng;
    unsigned n, nbyz;
    bool crash;
    struct cluster *c;
    struct heap h;
    uint64_t seq;
    /* network */
    bool timely;
    uint64_t gst;
    uint64_t max_delay, stable_delay;
    double loss, dup;
    struct partition parts[MAX_PART];
    unsigned nparts;
    /* instances */
    struct qbft_id ids[MAX_INST];
    unsigned ninst;
    uint64_t t0[MAX_INST];
    /* per node */
    uint64_t *tick_at;
    unsigned weights[QBFT_MAX_NODES][B_ACTS];
    uint8_t *replay[QBFT_MAX_NODES][REPLAY_KEEP];
    size_t replay_len[QBFT_MAX_NODES][REPLAY_KEEP];
    unsigned replay_n[QBFT_MAX_NODES];
    /* results */
    uint64_t messages;
    const char *corpus_dir;
    unsigned corpus_written;
};

static void push(struct sched *s, uint64_t t, enum ev_kind k, unsigned node, unsigned from,
                 unsigned inst, const uint8_t *bytes, size_t len)
{
    struct event e = {
        .time = t, .seq = s->seq++, .kind = k, .node = node, .from = from, .inst = inst};
    if (bytes) {
        e.bytes = xmalloc(len ? len : 1);
        memcpy(e.bytes, bytes, len);
        e.len = len;
    }
    heap_push(&s->h, &e);
}

static bool partitioned(const struct sched *s, unsigned a, unsigned b, uint64_t now)
{
    for (unsigned i = 0; i < s->nparts; i++) {
        const struct partition *p = &s->parts[i];
        if (now >= p->from && now < p->to && ((p->side >> a) & 1) != ((p->side >> b) & 1))
            return true;
    }
    return false;
}

/* The network: one message (EV_DELIVER) or seal (EV_SEAL) from -> to. */
static void net_carry(struct sched *s, enum ev_kind k, unsigned from, unsigned to,
                      const uint8_t *bytes, size_t len)
{
    uint64_t now = s->c->now;
    if (to >= s->n || from == to)
        return;
    s->messages++;
    if (now >= s->gst) {
        push(s, now + rng_range(&s->rng, 1, s->stable_delay), k, to, from, 0, bytes, len);
        return;
    }
    if (partitioned(s, from, to, now) || rng_chance(&s->rng, s->loss))
        return;
    push(s, now + rng_range(&s->rng, 1, s->max_delay), k, to, from, 0, bytes, len);
    if (rng_chance(&s->rng, s->dup))
        push(s, now + rng_range(&s->rng, 1, s->max_delay), k, to, from, 0, bytes, len);
}

static void net_send(struct sched *s, unsigned from, unsigned to, const uint8_t *bytes, size_t len)
{
    net_carry(s, EV_DELIVER, from, to, bytes, len);
}

/* ---- Byzantine nodes: their engine's messages, mutated per destination ---- */

static unsigned pick_act(struct sched *s, unsigned node)
{
    unsigned total = 0;
    for (unsigned a = 0; a < B_ACTS; a++)
        total += s->weights[node][a];
    unsigned x = (unsigned)rng_range(&s->rng, 0, total - 1);
    for (unsigned a = 0; a < B_ACTS; a++) {
        if (x < s->weights[node][a])
            return a;
        x -= s->weights[node][a];
    }
    return B_FORWARD;
}

static void random_value(struct sched *s, unsigned node, char *out, size_t cap)
{
    snprintf(out, cap, "byz:%llu:n%u:%llu", (unsigned long long)s->seed, node,
             (unsigned long long)rng_range(&s->rng, 0, 3));
}

static void byz_send(struct sched *s, unsigned from, unsigned to, const uint8_t *bytes, size_t len)
{
    struct cluster *c = s->c;
    unsigned act = pick_act(s, from);
    struct qbft_msg *m = xmalloc(sizeof(*m));
    struct buf out = BUF_INIT;
    char val[64];
    if (qbft_msg_decode(m, bytes, len, QBFT_DECODE_WIRE) < 0)
        act = B_FORWARD;
    struct qbft_body b = m->m.b;
    struct qbft_sigref just[QBFT_MAX_JUST + 8];
    size_t nj = m->njust;
    for (size_t i = 0; i < nj && act != B_FORWARD; i++)
        just[i] = (struct qbft_sigref){m->just[i].body, m->just[i].body_len, m->just[i].sig};
    const uint8_t *value = m->has_value ? m->value : NULL;
    size_t vlen = m->value_len;
    switch (act) {
    case B_FORWARD:
        net_send(s, from, to, bytes, len);
        break;
    case B_DROP:
        break;
    case B_EQUIVOCATE: /* another value for the same slot, to this destination */
        random_value(s, from, val, sizeof(val));
        cl_register_value(c, val, strlen(val));
        if (b.type == QBFT_ROUND_CHANGE) {
            b.prepared_round = 0;
            nj = 0;
            value = NULL;
        } else {
            sha256(b.value_hash, val, strlen(val));
            if (value) {
                value = (const uint8_t *)val;
                vlen = strlen(val);
            }
        }
        cl_craft(c, from, &b, value, vlen, just, nj, &out);
        net_send(s, from, to, out.data, out.len);
        break;
    case B_OTHER_VOTE: { /* a PREPARE or COMMIT for some other value */
        random_value(s, from, val, sizeof(val));
        struct qbft_body v = {.type = rng_chance(&s->rng, 0.5) ? QBFT_PREPARE : QBFT_COMMIT,
                              .duty = b.duty,
                              .height = b.height,
                              .round = b.round,
                              .sender = (uint16_t)from,
                              .has_value_hash = true};
        sha256(v.value_hash, val, strlen(val));
        cl_craft(c, from, &v, NULL, 0, NULL, 0, &out);
        net_send(s, from, to, out.data, out.len);
        net_send(s, from, to, bytes, len);
        break;
    }
    case B_BAD_JUST: /* drop or corrupt justification entries */
        if (nj > 0 && rng_chance(&s->rng, 0.5)) {
            nj = rng_range(&s->rng, 0, nj - 1);
        } else if (nj > 0) {
            static uint8_t badsig[SIG_LEN];
            memset(badsig, 0x5a, sizeof(badsig));
            just[rng_range(&s->rng, 0, nj - 1)].sig = badsig;
        }
        cl_craft(c, from, &b, value, vlen, just, nj, &out);
        net_send(s, from, to, out.data, out.len);
        break;
    case B_OVERSIZE: /* more than 2n justification entries */
        if (nj == 0)
            break;
        while (nj <= 2 * s->n && nj < QBFT_MAX_JUST + 8)
            just[nj] = just[nj % m->njust], nj++;
        cl_craft(c, from, &b, value, vlen, just, nj, &out);
        net_send(s, from, to, out.data, out.len);
        break;
    case B_GARBAGE: {
        size_t gl = rng_range(&s->rng, 0, len + 8);
        uint8_t *g = xmalloc(gl + 1);
        for (size_t i = 0; i < gl; i++)
            g[i] = i < len && rng_chance(&s->rng, 0.9) ? bytes[i] : (uint8_t)rng_next(&s->rng);
        net_send(s, from, to, g, gl);
        free(g);
        break;
    }
    case B_OTHER_INSTANCE:
        if (rng_chance(&s->rng, 0.5))
            b.height += rng_range(&s->rng, 1, 50);
        else
            b.duty = (uint8_t)((b.duty + 1) % DUTY_TYPES);
        cl_craft(c, from, &b, value, vlen, NULL, 0, &out);
        net_send(s, from, to, out.data, out.len);
        break;
    case B_REPLAY: {
        unsigned k = s->replay_n[from] < REPLAY_KEEP ? s->replay_n[from] : REPLAY_KEEP;
        if (k) {
            unsigned i = (unsigned)rng_range(&s->rng, 0, k - 1);
            net_send(s, from, to, s->replay[from][i], s->replay_len[from][i]);
        }
        net_send(s, from, to, bytes, len);
        break;
    }
    case B_HIGH_ROUND: { /* a ROUND-CHANGE for a round ahead, alone (f+1 needs honest help) */
        struct qbft_body rc = {.type = QBFT_ROUND_CHANGE,
                               .duty = b.duty,
                               .height = b.height,
                               .round = b.round + rng_range(&s->rng, 1, 12),
                               .sender = (uint16_t)from};
        cl_craft(c, from, &rc, NULL, 0, NULL, 0, &out);
        net_send(s, from, to, out.data, out.len);
        net_send(s, from, to, bytes, len);
        break;
    }
    case B_FORGE: /* claim to be someone else (or no member at all), signed with our key */
        b.sender = (uint16_t)rng_range(&s->rng, 0, QBFT_MAX_NODES - 1);
        cl_craft(c, from, &b, value, vlen, just, nj, &out);
        net_send(s, from, to, out.data, out.len);
        break;
    }
    buf_free(&out);
    free(m);
}

static void send_hook(void *ctx, struct cluster *c, unsigned from, unsigned to, uint8_t type,
                      const uint8_t *bytes, size_t len)
{
    struct sched *s = ctx;
    if (type == CL_SEAL) /* Byzantine nodes' engines are honest: so are their seals */
        net_carry(s, EV_SEAL, from, to, bytes, len);
    else if (!c->nodes[from].honest)
        byz_send(s, from, to, bytes, len);
    else
        net_send(s, from, to, bytes, len);
}

/* ---- driving nodes ---- */

static void reschedule_tick(struct sched *s, unsigned i)
{
    uint64_t d = cl_next_deadline(s->c, i);
    if (d == UINT64_MAX)
        return;
    if (d < s->c->now)
        d = s->c->now;
    if (d < s->tick_at[i] || s->tick_at[i] < s->c->now) {
        s->tick_at[i] = d;
        push(s, d, EV_TICK, i, 0, 0, NULL, 0);
    }
}

static void write_corpus(struct sched *s, const uint8_t *bytes, size_t len)
{
    char path[1024];
    if (!s->corpus_dir || s->corpus_written >= 64 || s->rng.s % 7 != 0)
        return;
    snprintf(path, sizeof(path), "%s/sim-%llu-%u", s->corpus_dir, (unsigned long long)s->seed,
             s->corpus_written++);
    if (write_file_atomic(path, bytes, len, 0644) < 0)
        fprintf(stderr, "aequa-sim: cannot write %s\n", path);
}

static bool trace;
static bool shared_verify; /* --shared-verify: see struct cl_opts */

static void trace_event(const struct sched *s, const struct event *e, int verdict)
{
    static const char *const kinds[] = {"deliver", "tick", "start", "crash", "restart", "seal"};
    const struct cluster *c = s->c;
    printf("t=%llu %s node=%u%s", (unsigned long long)e->time, kinds[e->kind], e->node,
           c->nodes[e->node].honest ? "" : "(byz)");
    if (e->kind == EV_DELIVER) {
        struct qbft_msg *m = xmalloc(sizeof(*m));
        if (qbft_msg_decode(m, e->bytes, e->len, QBFT_DECODE_WIRE) == 0)
            printf(" from=%u %s %s/%llu r=%llu sender=%u vh=%02x pr=%llu nj=%u -> %s", e->from,
                   qbft_type_name(m->m.b.type), duty_type_name(m->m.b.duty),
                   (unsigned long long)m->m.b.height, (unsigned long long)m->m.b.round,
                   m->m.b.sender, m->m.b.value_hash[0], (unsigned long long)m->m.b.prepared_round,
                   m->njust, qbft_verdict_name((enum qbft_verdict)verdict));
        else
            printf(" from=%u (undecodable) -> %s", e->from,
                   qbft_verdict_name((enum qbft_verdict)verdict));
        free(m);
    }
    if (c->nodes[e->node].eng) {
        for (unsigned k = 0; k < s->ninst; k++) {
            struct qbft_info in;
            if (qbft_info(c->nodes[e->node].eng, &s->ids[k], &in) == 0)
                printf(" [%s/%llu st=%d r=%llu pr=%llu]", duty_type_name(s->ids[k].duty),
                       (unsigned long long)s->ids[k].height, in.status,
                       (unsigned long long)in.round, (unsigned long long)in.prepared_round);
        }
    }
    printf("\n");
}

static void handle(struct sched *s, struct event *e)
{
    struct cluster *c = s->c;
    unsigned i = e->node;
    int verdict = -1;
    switch (e->kind) {
    case EV_DELIVER:
        if (!c->nodes[i].honest && e->len) {
            unsigned k = s->replay_n[i]++ % REPLAY_KEEP;
            free(s->replay[i][k]);
            s->replay[i][k] = xmalloc(e->len);
            memcpy(s->replay[i][k], e->bytes, e->len);
            s->replay_len[i][k] = e->len;
        }
        write_corpus(s, e->bytes, e->len);
        verdict = cl_deliver(c, i, e->from, e->bytes, e->len);
        break;
    case EV_SEAL:
        cl_deliver_seal(c, i, e->from, e->bytes, e->len);
        break;
    case EV_TICK:
        if (e->time != s->tick_at[i] || !c->nodes[i].alive)
            return; /* superseded */
        s->tick_at[i] = UINT64_MAX;
        cl_tick(c, i);
        break;
    case EV_START: {
        char v[96];
        snprintf(v, sizeof(v), "%s:%llu:%s/%llu:node%u", c->nodes[i].honest ? "in" : "byz-in",
                 (unsigned long long)s->seed, duty_type_name(s->ids[e->inst].duty),
                 (unsigned long long)s->ids[e->inst].height, i);
        cl_start(c, i, &s->ids[e->inst], v, strlen(v));
        break;
    }
    case EV_CRASH:
        if (e->from) /* crash right after the next engine call: intents kept, sends lost */
            c->nodes[i].crash_before_send = c->nodes[i].alive;
        else
            cl_crash(c, i);
        break;
    case EV_RESTART:
        c->nodes[i].crash_before_send = false;
        if (!c->nodes[i].alive) {
            cl_restart(c, i);
            s->tick_at[i] = UINT64_MAX;
        }
        break;
    }
    if (trace)
        trace_event(s, e, verdict);
    if (c->nodes[i].alive)
        reschedule_tick(s, i);
}

/* ---- schedule construction ---- */

static void byz_profile(struct sched *s, unsigned node)
{
    static const unsigned profiles[][B_ACTS] = {
        /* fwd drop equiv vote just over garb inst replay high forge */
        {2, 0, 6, 1, 0, 0, 0, 0, 0, 0, 0}, /* equivocator */
        {2, 1, 0, 5, 0, 0, 0, 0, 0, 2, 0}, /* conflicting votes, high rounds */
        {1, 0, 0, 0, 4, 3, 0, 0, 0, 0, 1}, /* bogus and oversized justifications */
        {1, 0, 0, 0, 0, 0, 3, 2, 4, 0, 1}, /* garbage, other instances, replays */
        {0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, /* silent */
        {3, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1}, /* everything */
    };
    unsigned p = (unsigned)rng_range(&s->rng, 0, ARRAY_LEN(profiles) - 1);
    memcpy(s->weights[node], profiles[p], sizeof(profiles[p]));
}

static void build(struct sched *s, unsigned max_inst)
{
    struct cl_opts o;
    struct rng *r = &s->rng;
    cl_opts_default(&o, s->n);
    o.seed = s->seed;
    o.shared_verify = shared_verify;
    o.round_timeout_ms = rng_chance(r, 0.5) ? 100 : 200;
    o.round_timeout_max_ms = o.round_timeout_ms * (rng_chance(r, 0.5) ? 8 : 16);
    o.timer = rng_chance(r, 0.75) ? QBFT_TIMER_EXPONENTIAL : QBFT_TIMER_LINEAR;
    o.decided_resends = (unsigned)rng_range(r, 0, 3);
    o.round_window = rng_range(r, 4, 10);
    s->c = cl_new(&o);
    s->c->send = send_hook;
    s->c->send_ctx = s;
    s->tick_at = xmalloc(s->n * sizeof(*s->tick_at));
    for (unsigned i = 0; i < s->n; i++)
        s->tick_at[i] = UINT64_MAX;

    /* Byzantine members. */
    for (unsigned k = 0; k < s->nbyz;) {
        unsigned i = (unsigned)rng_range(r, 0, s->n - 1);
        if (!s->c->nodes[i].honest)
            continue;
        s->c->nodes[i].honest = false;
        byz_profile(s, i);
        k++;
    }

    /* The network. A quarter of the schedules are timely from the start. */
    s->timely = rng_chance(r, 0.25);
    s->stable_delay = o.round_timeout_ms / 20;
    if (s->timely) {
        s->gst = 0;
    } else {
        s->gst = rng_range(r, 500, 6000);
        s->max_delay = rng_range(r, 5, 3 * o.round_timeout_ms);
        s->loss = rng_chance(r, 0.7) ? (double)rng_range(r, 0, 40) / 100 : 0;
        s->dup = rng_chance(r, 0.5) ? (double)rng_range(r, 0, 20) / 100 : 0;
        s->nparts = (unsigned)rng_range(r, 0, MAX_PART);
        for (unsigned p = 0; p < s->nparts; p++) {
            s->parts[p].from = rng_range(r, 0, s->gst);
            s->parts[p].to = rng_range(r, s->parts[p].from, s->gst);
            s->parts[p].side = rng_next(r);
        }
    }

    /* Instances: distinct (duty, height); every node gets the duty. */
    s->ninst = (unsigned)rng_range(r, 1, max_inst);
    for (unsigned k = 0; k < s->ninst; k++) {
        bool dup;
        do {
            s->ids[k].duty = (uint8_t)rng_range(r, 0, DUTY_TYPES - 1);
            s->ids[k].height = rng_range(r, 1, 1000);
            dup = false;
            for (unsigned j = 0; j < k; j++)
                dup |= s->ids[j].duty == s->ids[k].duty && s->ids[j].height == s->ids[k].height;
        } while (dup);
        s->t0[k] = rng_range(r, 0, s->timely ? 50 : 2000);
        /* Honest late starters: at most as many as leave f+1 honest on time. */
        unsigned honest = s->n - s->nbyz, f = qbft_faulty(s->n);
        unsigned max_late = honest > f + 1 ? honest - f - 1 : 0;
        unsigned late = s->timely ? 0 : (unsigned)rng_range(r, 0, max_late < 2 ? max_late : 2);
        for (unsigned i = 0; i < s->n; i++) {
            uint64_t t = s->t0[k] + rng_range(r, 0, s->timely ? 5 : 20);
            if (late && s->c->nodes[i].honest && rng_chance(r, 0.5)) {
                t += rng_range(r, 100, 4000);
                late--;
            }
            push(s, t, EV_START, i, 0, k, NULL, 0);
        }
    }

    /* Crashes of honest nodes, mostly while an instance is busy; all restarted by GST. */
    if (s->crash && !s->timely) {
        unsigned ncrash = (unsigned)rng_range(r, 1, s->n < 6 ? s->n : 6);
        for (unsigned k = 0; k < ncrash; k++) {
            unsigned i = (unsigned)rng_range(r, 0, s->n - 1);
            if (!s->c->nodes[i].honest)
                continue;
            uint64_t at = rng_chance(r, 0.3) ? rng_range(r, 0, s->gst)
                                             : s->t0[rng_range(r, 0, s->ninst - 1)] +
                                                   rng_range(r, 0, 8 * o.round_timeout_ms);
            uint64_t back = at + rng_range(r, 1, rng_chance(r, 0.5) ? 300 : 3000);
            if (back > s->gst + 1)
                back = s->gst + 1;
            if (at >= back)
                at = back - 1;
            push(s, at, EV_CRASH, i, rng_chance(r, 0.5) ? 1 : 0, 0, NULL, 0);
            push(s, back, EV_RESTART, i, 0, 0, NULL, 0);
        }
    }
}

static void sched_free(struct sched *s)
{
    while (s->h.n) {
        struct event e = heap_pop(&s->h);
        free(e.bytes);
    }
    free(s->h.v);
    for (unsigned i = 0; i < QBFT_MAX_NODES; i++)
        for (unsigned k = 0; k < REPLAY_KEEP; k++)
            free(s->replay[i][k]);
    free(s->tick_at);
    cl_free(s->c);
}

static bool all_decided(const struct sched *s)
{
    for (unsigned k = 0; k < s->ninst; k++)
        if (!cl_all_decided(s->c, &s->ids[k]))
            return false;
    return true;
}

struct result {
    uint64_t decided, instances, messages, rounds_max, violations;
    uint64_t verdicts[CL_LABELS];
    char why[600];
};

/* Run one schedule. */
static void run(uint64_t seed, unsigned n, unsigned nbyz, bool crash, unsigned max_inst,
                const char *corpus, struct result *res)
{
    struct sched *s = xcalloc(1, sizeof(*s));
    s->seed = seed;
    s->rng.s = seed;
    s->n = n;
    s->nbyz = nbyz;
    s->crash = crash;
    s->corpus_dir = corpus;
    build(s, max_inst);
    struct cluster *c = s->c;
    uint64_t cap = c->o.round_timeout_max_ms;
    uint64_t limit = s->gst + 4000 + 40 * cap; /* termination bound after GST (virtual time) */
    uint64_t tail = UINT64_MAX;
    while (s->h.n) {
        struct event e = heap_pop(&s->h);
        if (e.time > limit || e.time > tail) {
            if (trace)
                printf("stop at event t=%llu kind=%d node=%u (limit %llu, tail %llu, gst %llu)\n",
                       (unsigned long long)e.time, e.kind, e.node, (unsigned long long)limit,
                       (unsigned long long)tail, (unsigned long long)s->gst);
            free(e.bytes);
            break;
        }
        c->now = e.time;
        handle(s, &e);
        free(e.bytes);
        if (tail == UINT64_MAX && c->now >= s->gst && all_decided(s))
            tail = c->now + 2 * cap; /* keep going a little: late messages must stay safe */
    }

    res->instances = s->ninst;
    res->messages = s->messages;
    for (unsigned i = 0; i < n; i++)
        for (unsigned v = 0; v < CL_LABELS; v++)
            if (c->nodes[i].honest)
                res->verdicts[v] += c->nodes[i].verdicts[v];
    res->violations = c->violations;
    if (c->violations)
        snprintf(res->why, sizeof(res->why), "%s", c->violation);
    for (unsigned k = 0; k < s->ninst; k++) {
        const struct qbft_id *id = &s->ids[k];
        bool all = cl_all_decided(c, id);
        res->decided += all;
        if (!all && !res->violations) {
            res->violations++;
            snprintf(res->why, sizeof(res->why),
                     "termination: %s/%llu not decided by every honest node %llu ms after GST",
                     duty_type_name(id->duty), (unsigned long long)id->height,
                     (unsigned long long)(limit - s->gst));
        }
        /* Strong validity: timely network, honest first leader => that leader's input. */
        unsigned l = qbft_leader(id->duty, id->height, 1, n);
        if (s->timely && c->nodes[l].honest) {
            char v[96];
            uint8_t h[SHA256_LEN];
            snprintf(v, sizeof(v), "in:%llu:%s/%llu:node%u", (unsigned long long)seed,
                     duty_type_name(id->duty), (unsigned long long)id->height, l);
            sha256(h, v, strlen(v));
            for (unsigned i = 0; i < n; i++) {
                const struct cl_decision *d = cl_decision(c, i, id);
                if (c->nodes[i].honest && d && memcmp(d->hash, h, SHA256_LEN) != 0 &&
                    !res->violations) {
                    res->violations++;
                    snprintf(res->why, sizeof(res->why),
                             "validity: timely schedule with honest leader %u, node %u decided "
                             "another value in round %llu",
                             l, i, (unsigned long long)d->round);
                }
                if (d && d->round > res->rounds_max)
                    res->rounds_max = d->round;
            }
        }
        for (unsigned i = 0; i < n; i++) {
            const struct cl_decision *d = cl_decision(c, i, id);
            if (d && d->round > res->rounds_max)
                res->rounds_max = d->round;
        }
    }
    sched_free(s);
    free(s);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: aequa-sim --nodes N --byzantine B [--crash] --schedules K --seed S\n"
               "                 [--instances I] [--verbose] [--write-corpus DIR] [--trace]\n"
               "                 [--shared-verify]   (verify each signature once for all nodes)\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"nodes", required_argument, NULL, 'n'},   {"byzantine", required_argument, NULL, 'b'},
        {"crash", no_argument, NULL, 'c'},         {"schedules", required_argument, NULL, 'k'},
        {"seed", required_argument, NULL, 's'},    {"instances", required_argument, NULL, 'i'},
        {"verbose", no_argument, NULL, 'v'},       {"write-corpus", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},          {"trace", no_argument, NULL, 't'},
        {"shared-verify", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0},
    };
    uint64_t n = 4, nbyz = 0, schedules = 100, seed = 1, inst = 3;
    bool crash = false, verbose = false;
    const char *corpus = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int bad = 0;
        switch (ch) {
        case 'n':
            bad = parse_u64(optarg, QBFT_MAX_NODES, &n) < 0 || n < 1;
            break;
        case 'b':
            bad = parse_u64(optarg, QBFT_MAX_NODES, &nbyz) < 0;
            break;
        case 'c':
            crash = true;
            break;
        case 'k':
            bad = parse_u64(optarg, UINT64_MAX, &schedules) < 0;
            break;
        case 's':
            bad = parse_u64(optarg, UINT64_MAX, &seed) < 0;
            break;
        case 'i':
            bad = parse_u64(optarg, MAX_INST, &inst) < 0 || inst < 1;
            break;
        case 'v':
            verbose = true;
            break;
        case 't':
            trace = true;
            break;
        case 'V':
            shared_verify = true;
            break;
        case 'w':
            corpus = optarg;
            if (mkdir_p(corpus, 0755) < 0)
                fatal("mkdir %s", corpus);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "aequa-sim: bad value: %s\n", optarg);
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (nbyz > qbft_faulty((unsigned)n)) {
        fprintf(stderr, "aequa-sim: --byzantine %llu exceeds f = %u for n = %llu\n",
                (unsigned long long)nbyz, qbft_faulty((unsigned)n), (unsigned long long)n);
        return 2;
    }
    struct result tot = {0};
    double t0 = now_s();
    uint64_t ran = 0;
    for (uint64_t k = 0; k < schedules; k++) {
        struct result r = {0};
        uint64_t sd = seed + k;
        run(sd, (unsigned)n, (unsigned)nbyz, crash, (unsigned)inst, corpus, &r);
        ran++;
        tot.decided += r.decided;
        tot.instances += r.instances;
        tot.messages += r.messages;
        for (unsigned v = 0; v < CL_LABELS; v++)
            tot.verdicts[v] += r.verdicts[v];
        if (r.rounds_max > tot.rounds_max)
            tot.rounds_max = r.rounds_max;
        if (verbose)
            printf("seed=%llu instances=%llu decided=%llu messages=%llu max_round=%llu %s\n",
                   (unsigned long long)sd, (unsigned long long)r.instances,
                   (unsigned long long)r.decided, (unsigned long long)r.messages,
                   (unsigned long long)r.rounds_max, r.violations ? r.why : "ok");
        if (r.violations) {
            tot.violations += r.violations;
            printf("VIOLATION seed=%llu: %s\n  reproduce: aequa-sim --nodes %llu --byzantine "
                   "%llu%s --schedules 1 --seed %llu --instances %llu\n",
                   (unsigned long long)sd, r.why, (unsigned long long)n, (unsigned long long)nbyz,
                   crash ? " --crash" : "", (unsigned long long)sd, (unsigned long long)inst);
            break;
        }
    }
    printf("schedules=%llu decided=%llu instances=%llu violations=%llu nodes=%llu byzantine=%llu "
           "crash=%s messages=%llu max_round=%llu seed=%llu wall_s=%.1f\n",
           (unsigned long long)ran, (unsigned long long)tot.decided,
           (unsigned long long)tot.instances, (unsigned long long)tot.violations,
           (unsigned long long)n, (unsigned long long)nbyz, crash ? "yes" : "no",
           (unsigned long long)tot.messages, (unsigned long long)tot.rounds_max,
           (unsigned long long)seed, now_s() - t0);
    if (verbose) {
        printf("verdicts at honest nodes:");
        for (unsigned v = 0; v < CL_LABELS; v++)
            if (v != QBFT_BUFFERED)
                printf(" %s=%llu", qbft_verdict_name((enum qbft_verdict)v),
                       (unsigned long long)tot.verdicts[v]);
        printf("\n");
    }
    return tot.violations ? 1 : 0;
}
