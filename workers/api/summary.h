/*
 * summary: the JSON of GET /summary on the monitoring listener (SPEC §12.3), what the status page
 * (GET /) draws besides the worker table of GET /status. Pure: the route (status_routes.c)
 * gathers the parts from the workers over IPC and hands them in; nothing here does I/O.
 *
 *   {"chain": {"height": H|null, "blocks": [{"height","block_hash","parent_hash","proposer",
 *              "txs"}]},                      newest first, at most SUMMARY_BLOCKS; txs = count
 *    "duties": [{"id","type","height","status","round","age_s"}],
 *                                             newest first, at most SUMMARY_DUTIES
 *    "peers": [{"index","score"}],            every other operator of the lock; score null when
 *                                             the P2P worker has not scored it
 *    "decided_total": N|null,                 qbft_decided_total, every duty type
 *    "api": {"requests": N, "latency_sum_s": S},
 *                                             api_latency_seconds of the validator API's routes
 *                                             (/v1/..., proxy) since the API worker started
 *    "mempool": {"pending": N, "queued": N}|null,
 *    "history": {"interval_s": 2, "points": [{"t_ms","decided","requests","latency_sum_s"}]},
 *                                             the counters above (decided null when QBFT did not
 *                                             answer), sampled every interval by the API worker
 *                                             since it started, oldest first, at most
 *                                             SUMMARY_HISTORY; t_ms is the node's wall clock
 *    "unavailable": ["qbft", ...]}            the workers that did not answer now
 *
 * Counters are totals: the page derives its charts' rates from successive history points, so
 * they are there as soon as it opens. Metric samples come from the node's own workers
 * (trusted); a line that does not parse is skipped, never fatal.
 */
#ifndef AEQUA_API_SUMMARY_H
#define AEQUA_API_SUMMARY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/crypto.h"
#include "lib/metrics.h"
#include "proto/duty.h"

#define SUMMARY_BLOCKS      8
#define SUMMARY_DUTIES      16
#define SUMMARY_UNAVAILABLE 8
#define SUMMARY_HISTORY     90   /* points: 3 minutes */
#define SUMMARY_INTERVAL_MS 2000 /* between two points */

/* One history point: the counters at t_ms. */
struct summary_point {
    uint64_t t_ms;
    bool decided_known;
    uint64_t decided;
    uint64_t requests;
    double latency_sum_s;
};

/* The last SUMMARY_HISTORY points, a ring (the caller serialises access). */
struct summary_history {
    struct summary_point p[SUMMARY_HISTORY];
    size_t first, n;
};

void summary_history_push(struct summary_history *h, const struct summary_point *pt);

/* A point from the samples in mt (the API worker's own, and QBFT's when decided_known). */
void summary_point_from(struct summary_point *pt, const struct metrics_text *mt, uint64_t t_ms,
                        bool decided_known);

struct summary_block {
    uint64_t height;
    uint8_t hash[SHA256_LEN];
    uint8_t parent[SHA256_LEN];
    uint32_t proposer;
    uint32_t ntxs;
};

struct summary_in {
    uint32_t self, n; /* this node's operator index, the cluster's size */
    bool chain_known; /* the chain could be read (else height and blocks are null / empty) */
    bool chain_empty; /* ... and holds no block yet */
    struct summary_block blocks[SUMMARY_BLOCKS];
    size_t nblocks; /* newest first */
    struct duty_brief duties[SUMMARY_DUTIES];
    size_t nduties; /* newest first */
    /* The merged samples of this worker, qbft, p2p and the builder (those that answered). */
    const struct metrics_text *mt;
    bool decided_known, mempool_known; /* qbft's, the builder's samples are in mt */
    const struct summary_history *history;
    const char *unavailable[SUMMARY_UNAVAILABLE];
    size_t nunavailable;
};

/* One exposition line: name{labels} value. The spans point into the parsed text. */
struct summary_sample {
    const char *name;
    size_t name_len;
    const char *labels; /* between the braces; "" when there are none */
    size_t labels_len;
    double value;
};

/* The next sample line of [*pos, end), skipping comments, blanks and lines that do not parse;
 * advances *pos. 0, or -1 at the end. */
int summary_sample_next(const char **pos, const char *end, struct summary_sample *s);

/* The value of label key in s, unescaped into out (NUL-terminated, cut at n - 1): 0, or -1
 * when s has no such label. */
int summary_sample_label(const struct summary_sample *s, const char *key, char *out, size_t n);

/* A decided block's canonical bytes into its summary row: 0, or -1 when they are not a block. */
int summary_block_from(struct summary_block *sb, const uint8_t *p, size_t n);

/* The summary JSON (a new reference). */
json_t *summary_json(const struct summary_in *in);

#endif
