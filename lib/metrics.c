#include "lib/metrics.h"
#include "lib/mp.h"
#include "lib/util.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bound on series per family: a label value from input must never grow memory unbounded. */
#define SERIES_MAX 2048

struct mseries {
    const struct metric_def *def;
    char *labels[METRIC_MAX_LABELS];
    double value;   /* counter, gauge; histogram sum */
    uint64_t count; /* histogram */
    uint64_t *hist; /* histogram: per-bucket (non-cumulative) counts, nbuckets + 1 */
    struct mseries *next;
};

struct family {
    struct mseries *head, **tail;
    size_t n;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct family *families;          /* parallel to metric_catalog */
static struct mseries overflow_sink[64]; /* absorbs updates once a family is full */

static size_t nlabels(const struct metric_def *d)
{
    size_t n = 0;
    while (n < METRIC_MAX_LABELS && d->labels[n])
        n++;
    return n;
}

struct mseries *metric_series(const char *family, ...)
{
    int idx = metric_catalog_find(family);
    if (idx < 0)
        fatalx("metrics: family %s is not in the catalogue", family);
    const struct metric_def *d = &metric_catalog[idx];
    size_t nl = nlabels(d);
    const char *vals[METRIC_MAX_LABELS + 1];
    va_list ap;
    va_start(ap, family);
    size_t got = 0;
    for (;;) {
        const char *v = va_arg(ap, const char *);
        if (!v)
            break;
        if (got == METRIC_MAX_LABELS)
            fatalx("metrics: too many label values for %s", family);
        vals[got++] = v;
    }
    va_end(ap);
    if (got != nl)
        fatalx("metrics: %s takes %zu labels, got %zu", family, nl, got);

    pthread_mutex_lock(&mu);
    if (!families)
        families = xcalloc(metric_catalog_len, sizeof(*families));
    struct family *f = &families[idx];
    struct mseries *s;
    for (s = f->head; s; s = s->next) {
        size_t i;
        for (i = 0; i < nl; i++)
            if (strcmp(s->labels[i], vals[i]) != 0)
                break;
        if (i == nl)
            goto out;
    }
    if (f->n >= SERIES_MAX) {
        s = &overflow_sink[idx % ARRAY_LEN(overflow_sink)];
        s->def = d;
        goto out;
    }
    s = xcalloc(1, sizeof(*s));
    s->def = d;
    for (size_t i = 0; i < nl; i++)
        s->labels[i] = xstrdup(vals[i]);
    if (d->type == METRIC_HISTOGRAM)
        s->hist = xcalloc(d->nbuckets + 1, sizeof(uint64_t));
    if (!f->tail)
        f->tail = &f->head;
    *f->tail = s;
    f->tail = &s->next;
    f->n++;
out:
    pthread_mutex_unlock(&mu);
    return s;
}

void metric_inc(struct mseries *s)
{
    metric_add(s, 1);
}

void metric_add(struct mseries *s, double v)
{
    if (s->def->type == METRIC_HISTOGRAM)
        fatalx("metrics: add on histogram %s", s->def->name);
    if (s->def->type == METRIC_COUNTER && !(v >= 0))
        fatalx("metrics: negative increment of counter %s", s->def->name);
    pthread_mutex_lock(&mu);
    s->value += v;
    pthread_mutex_unlock(&mu);
}

void metric_set(struct mseries *s, double v)
{
    if (s->def->type != METRIC_GAUGE)
        fatalx("metrics: set on non-gauge %s", s->def->name);
    pthread_mutex_lock(&mu);
    s->value = v;
    pthread_mutex_unlock(&mu);
}

void metric_observe(struct mseries *s, double v)
{
    if (s->def->type != METRIC_HISTOGRAM)
        fatalx("metrics: observe on non-histogram %s", s->def->name);
    if (!isfinite(v))
        return;
    size_t b = 0;
    while (b < s->def->nbuckets && v > s->def->buckets[b])
        b++;
    pthread_mutex_lock(&mu);
    if (s->hist)
        s->hist[b]++;
    s->count++;
    s->value += v;
    pthread_mutex_unlock(&mu);
}

double metric_value(struct mseries *s)
{
    pthread_mutex_lock(&mu);
    double v = s->def->type == METRIC_HISTOGRAM ? (double)s->count : s->value;
    pthread_mutex_unlock(&mu);
    return v;
}

void metrics_reset(void)
{
    pthread_mutex_lock(&mu);
    if (families) {
        for (size_t i = 0; i < metric_catalog_len; i++) {
            struct mseries *s = families[i].head;
            while (s) {
                struct mseries *next = s->next;
                for (size_t l = 0; l < METRIC_MAX_LABELS; l++)
                    free(s->labels[l]);
                free(s->hist);
                free(s);
                s = next;
            }
        }
        free(families);
        families = NULL;
    }
    pthread_mutex_unlock(&mu);
}

/* ---- exposition ---- */

static void put_number(struct buf *b, double v)
{
    if (isnan(v))
        buf_append_str(b, "NaN");
    else if (isinf(v))
        buf_append_str(b, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        buf_printf(b, "%.0f", v);
    else
        buf_printf(b, "%.17g", v);
}

static void put_label_value(struct buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            buf_printf(b, "\\%c", *v);
        else if (*v == '\n')
            buf_append_str(b, "\\n");
        else
            buf_append(b, v, 1);
    }
}

/* name{labels[,le="x"]} */
static void put_series_name(struct buf *b, const struct mseries *s, const char *suffix,
                            const char *le)
{
    const struct metric_def *d = s->def;
    size_t nl = nlabels(d);
    buf_append_str(b, d->name);
    buf_append_str(b, suffix);
    if (nl == 0 && !le)
        return;
    buf_append_str(b, "{");
    for (size_t i = 0; i < nl; i++) {
        buf_printf(b, "%s%s=\"", i ? "," : "", d->labels[i]);
        put_label_value(b, s->labels[i]);
        buf_append_str(b, "\"");
    }
    if (le)
        buf_printf(b, "%sle=\"%s\"", nl ? "," : "", le);
    buf_append_str(b, "}");
}

static void render_series(struct buf *b, const struct mseries *s)
{
    const struct metric_def *d = s->def;
    if (d->type != METRIC_HISTOGRAM) {
        put_series_name(b, s, "", NULL);
        buf_append_str(b, " ");
        put_number(b, s->value);
        buf_append_str(b, "\n");
        return;
    }
    uint64_t cum = 0;
    char le[32];
    for (size_t i = 0; i <= d->nbuckets; i++) {
        cum += s->hist[i];
        if (i < d->nbuckets)
            snprintf(le, sizeof(le), "%g", d->buckets[i]);
        else
            snprintf(le, sizeof(le), "+Inf");
        put_series_name(b, s, "_bucket", le);
        buf_printf(b, " %llu\n", (unsigned long long)cum);
    }
    put_series_name(b, s, "_sum", NULL);
    buf_append_str(b, " ");
    put_number(b, s->value);
    buf_append_str(b, "\n");
    put_series_name(b, s, "_count", NULL);
    buf_printf(b, " %llu\n", (unsigned long long)s->count);
}

/* Append this process's samples of catalogue row idx to b. */
static void render_family_samples(size_t idx, struct buf *b)
{
    if (!families)
        return;
    for (struct mseries *s = families[idx].head; s; s = s->next)
        render_series(b, s);
}

void metrics_encode(struct buf *out)
{
    struct buf tmp = BUF_INIT;
    uint32_t n = 0;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; families && i < metric_catalog_len; i++)
        if (families[i].head)
            n++;
    mp_w_array(out, n);
    for (size_t i = 0; families && i < metric_catalog_len; i++) {
        if (!families[i].head)
            continue;
        buf_reset(&tmp);
        render_family_samples(i, &tmp);
        mp_w_array(out, 2);
        mp_w_cstr(out, metric_catalog[i].name);
        mp_w_str(out, (const char *)tmp.data, tmp.len);
    }
    pthread_mutex_unlock(&mu);
    buf_free(&tmp);
}

void metrics_text_init(struct metrics_text *t)
{
    t->fam = xcalloc(metric_catalog_len, sizeof(struct buf));
}

void metrics_text_free(struct metrics_text *t)
{
    for (size_t i = 0; i < metric_catalog_len; i++)
        buf_free(&t->fam[i]);
    free(t->fam);
    t->fam = NULL;
}

void metrics_text_add_local(struct metrics_text *t)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < metric_catalog_len; i++)
        render_family_samples(i, &t->fam[i]);
    pthread_mutex_unlock(&mu);
}

int metrics_text_add_encoded(struct metrics_text *t, const void *data, size_t len)
{
    struct mp_reader r;
    uint32_t n;
    mp_reader_init(&r, data, len);
    if (mp_read_array(&r, &n) < 0)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        char name[128];
        const char *text;
        uint32_t tlen;
        if (mp_expect_array(&r, 2) < 0 || mp_read_str_copy(&r, name, sizeof(name)) < 0 ||
            mp_read_str(&r, &text, &tlen, UINT32_MAX) < 0)
            return -1;
        int idx = metric_catalog_find(name);
        if (idx < 0)
            return -1;
        if (tlen > 0 && text[tlen - 1] != '\n')
            return -1;
        buf_append(&t->fam[idx], text, tlen);
    }
    return mp_reader_done(&r) ? 0 : -1;
}

static const char *const type_names[] = {"counter", "gauge", "histogram"};

void metrics_text_render(const struct metrics_text *t, struct buf *out)
{
    for (size_t i = 0; i < metric_catalog_len; i++) {
        if (t->fam[i].len == 0)
            continue;
        const struct metric_def *d = &metric_catalog[i];
        buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name,
                   type_names[d->type]);
        buf_append(out, t->fam[i].data, t->fam[i].len);
    }
}

void metrics_render_local(struct buf *out)
{
    struct metrics_text t;
    metrics_text_init(&t);
    metrics_text_add_local(&t);
    metrics_text_render(&t, out);
    metrics_text_free(&t);
}
