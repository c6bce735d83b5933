/*
 * metrics: the node's metric catalogue, a registry of series, and the Prometheus text exposition.
 *
 * Every family the node exports is one row of metric_catalog[] (name, type, help, label names,
 * buckets): a family or label name that is not in the catalogue cannot be created, so names and
 * labels cannot drift. Each worker keeps its own registry; the API worker merges the workers'
 * samples family by family into one exposition with a single HELP/TYPE per family.
 *
 *   struct mseries *s = metric("api_requests_total", "duty", "202");
 *   metric_inc(s);
 *
 * Series pointers stay valid for the life of the process, so hot paths may cache them.
 * All functions are thread-safe (one mutex); a wrong family name or label count is a programming
 * error and fatal.
 */
#ifndef AEQUA_METRICS_H
#define AEQUA_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

#define METRIC_MAX_LABELS 3

struct metric_def {
    const char *name;
    enum metric_type type;
    const char *help;
    const char *labels[METRIC_MAX_LABELS + 1]; /* NULL-terminated */
    const double *buckets;                     /* histograms: upper bounds, ascending */
    size_t nbuckets;
};

extern const struct metric_def metric_catalog[];
extern const size_t metric_catalog_len;

/* Index of a family in the catalogue, or -1. */
int metric_catalog_find(const char *name);

struct mseries;

/* Get or create the series of family with the given label values (exactly as many as the
 * family has labels). */
struct mseries *metric_series(const char *family, ...);
#define metric(...) metric_series(__VA_ARGS__, (const char *)NULL)

void metric_inc(struct mseries *s);
void metric_add(struct mseries *s, double v);
void metric_set(struct mseries *s, double v);
void metric_observe(struct mseries *s, double v);
double metric_value(struct mseries *s); /* counter/gauge value; histogram count */

/* Drop every series of this process (tests). */
void metrics_reset(void);

/* ---- exposition ---- */

/* This process's samples, encoded for the metrics reply: msgpack array of [family, text]. */
void metrics_encode(struct buf *out);

/* Collects samples from several processes, then renders one exposition. */
struct metrics_text {
    struct buf *fam; /* one buffer per catalogue row */
};
void metrics_text_init(struct metrics_text *t);
void metrics_text_free(struct metrics_text *t);
void metrics_text_add_local(struct metrics_text *t);
/* Add another process's encoded samples; -1 if malformed. */
int metrics_text_add_encoded(struct metrics_text *t, const void *data, size_t len);
/* HELP and TYPE once per family that has samples, then its samples. */
void metrics_text_render(const struct metrics_text *t, struct buf *out);

/* Convenience: render this process's registry alone. */
void metrics_render_local(struct buf *out);

#endif
