#include "workers/api/summary.h"
#include "lib/util.h"
#include "proto/block.h"
#include "workers/api/duty_req.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- exposition lines */

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == ':';
}

/* One line [p, e): 0 with s filled, or -1. */
static int parse_line(const char *p, const char *e, struct summary_sample *s)
{
    const char *q = p;
    while (q < e && name_char(*q))
        q++;
    if (q == p)
        return -1;
    s->name = p;
    s->name_len = (size_t)(q - p);
    s->labels = "";
    s->labels_len = 0;
    if (q < e && *q == '{') {
        const char *l = ++q;
        bool quoted = false;
        for (; q < e && (quoted || *q != '}'); q++) {
            if (quoted && *q == '\\' && q + 1 < e)
                q++;
            else if (*q == '"')
                quoted = !quoted;
        }
        if (q == e)
            return -1;
        s->labels = l;
        s->labels_len = (size_t)(q - l);
        q++;
    }
    if (q == e || *q != ' ')
        return -1;
    char num[64];
    size_t len = (size_t)(e - q - 1);
    if (len == 0 || len >= sizeof(num))
        return -1;
    memcpy(num, q + 1, len);
    num[len] = '\0';
    char *end;
    s->value = strtod(num, &end);
    return *end == '\0' ? 0 : -1;
}

int summary_sample_next(const char **pos, const char *end, struct summary_sample *s)
{
    while (*pos < end) {
        const char *p = *pos;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        *pos = nl ? nl + 1 : end;
        if (p < e && *p != '#' && parse_line(p, e, s) == 0)
            return 0;
    }
    return -1;
}

int summary_sample_label(const struct summary_sample *s, const char *key, char *out, size_t n)
{
    const char *p = s->labels, *e = s->labels + s->labels_len;
    size_t klen = strlen(key);
    while (p < e) {
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (!eq || eq + 1 >= e || eq[1] != '"')
            return -1;
        bool match = (size_t)(eq - p) == klen && memcmp(p, key, klen) == 0;
        size_t o = 0;
        const char *q = eq + 2;
        for (; q < e && *q != '"'; q++) {
            char c = *q;
            if (c == '\\' && q + 1 < e) {
                c = *++q;
                if (c == 'n')
                    c = '\n';
            }
            if (match && o + 1 < n)
                out[o++] = c;
        }
        if (q >= e)
            return -1;
        if (match) {
            if (n > 0)
                out[o] = '\0';
            return 0;
        }
        p = q + 1;
        if (p < e && *p == ',')
            p++;
    }
    return -1;
}

/* The samples of one catalogue family as collected in mt. */
static void family_text(const struct metrics_text *mt, const char *family, const char **p,
                        const char **e)
{
    int i = metric_catalog_find(family);
    *p = *e = NULL;
    if (i < 0 || !mt || !mt->fam)
        return;
    *p = (const char *)mt->fam[i].data;
    *e = (const char *)mt->fam[i].data + mt->fam[i].len;
}

static bool name_is(const struct summary_sample *s, const char *name)
{
    return s->name_len == strlen(name) && memcmp(s->name, name, s->name_len) == 0;
}

/* Sum of the samples named name in family's text. */
static double family_sum(const struct metrics_text *mt, const char *family, const char *name,
                         bool (*keep)(const struct summary_sample *s))
{
    const char *p, *e;
    struct summary_sample s;
    double sum = 0;
    family_text(mt, family, &p, &e);
    while (p && summary_sample_next(&p, e, &s) == 0)
        if (name_is(&s, name) && (!keep || keep(&s)))
            sum += s.value;
    return sum;
}

/* The validator API's traffic: its routes (/v1/...) and what goes to the upstream. */
static bool validator_route(const struct summary_sample *s)
{
    char route[128];
    if (summary_sample_label(s, "route", route, sizeof(route)) < 0)
        return false;
    return strncmp(route, "/v1/", 4) == 0 || strcmp(route, "proxy") == 0;
}

/* ---------------------------------------------------------------- history */

void summary_history_push(struct summary_history *h, const struct summary_point *pt)
{
    if (h->n < SUMMARY_HISTORY) {
        h->p[(h->first + h->n) % SUMMARY_HISTORY] = *pt;
        h->n++;
    } else {
        h->p[h->first] = *pt;
        h->first = (h->first + 1) % SUMMARY_HISTORY;
    }
}

void summary_point_from(struct summary_point *pt, const struct metrics_text *mt, uint64_t t_ms,
                        bool decided_known)
{
    *pt = (struct summary_point){
        .t_ms = t_ms,
        .decided_known = decided_known,
        .decided = decided_known
                       ? (uint64_t)family_sum(mt, "qbft_decided_total", "qbft_decided_total", NULL)
                       : 0,
        .requests = (uint64_t)family_sum(mt, "api_latency_seconds", "api_latency_seconds_count",
                                         validator_route),
        .latency_sum_s =
            family_sum(mt, "api_latency_seconds", "api_latency_seconds_sum", validator_route),
    };
}

static json_t *history_json(const struct summary_history *h)
{
    json_t *points = json_array();
    for (size_t i = 0; h && i < h->n; i++) {
        const struct summary_point *pt = &h->p[(h->first + i) % SUMMARY_HISTORY];
        json_array_append_new(
            points,
            json_pack("{s:I,s:o,s:I,s:f}", "t_ms", (json_int_t)pt->t_ms, "decided",
                      pt->decided_known ? json_integer((json_int_t)pt->decided) : json_null(),
                      "requests", (json_int_t)pt->requests, "latency_sum_s", pt->latency_sum_s));
    }
    return json_pack("{s:i,s:o}", "interval_s", SUMMARY_INTERVAL_MS / 1000, "points", points);
}

/* ---------------------------------------------------------------- blocks */

int summary_block_from(struct summary_block *sb, const uint8_t *p, size_t n)
{
    struct block b;
    if (block_decode(&b, p, n, UINT32_MAX) != BLOCK_DECODE_OK) {
        block_free(&b);
        return -1;
    }
    sb->height = b.h.height;
    memcpy(sb->parent, b.h.parent_hash, SHA256_LEN);
    sb->proposer = b.h.proposer;
    sb->ntxs = b.ntxs;
    block_hash(sb->hash, p, n);
    block_free(&b);
    return 0;
}

/* ---------------------------------------------------------------- the JSON */

static json_t *hex_json(const uint8_t *p, size_t n)
{
    char hex[2 * SHA256_LEN + 1];
    hex_encode(hex, p, n);
    return json_stringn(hex, 2 * n);
}

static json_t *chain_json(const struct summary_in *in)
{
    json_t *blocks = json_array();
    for (size_t i = 0; i < in->nblocks; i++) {
        const struct summary_block *b = &in->blocks[i];
        json_array_append_new(blocks,
                              json_pack("{s:I,s:o,s:o,s:I,s:I}", "height", (json_int_t)b->height,
                                        "block_hash", hex_json(b->hash, SHA256_LEN), "parent_hash",
                                        hex_json(b->parent, SHA256_LEN), "proposer",
                                        (json_int_t)b->proposer, "txs", (json_int_t)b->ntxs));
    }
    json_t *height = json_null();
    if (in->chain_known && in->chain_empty)
        height = json_integer(0);
    else if (in->chain_known && in->nblocks > 0)
        height = json_integer((json_int_t)in->blocks[0].height);
    return json_pack("{s:o,s:o}", "height", height, "blocks", blocks);
}

static json_t *duties_json(const struct summary_in *in)
{
    json_t *a = json_array();
    for (size_t i = 0; i < in->nduties; i++) {
        const struct duty_brief *d = &in->duties[i];
        char id[DUTY_ID_MAX];
        duty_id_format((enum duty_type)d->type, d->height, id);
        json_array_append_new(a,
                              json_pack("{s:s,s:s,s:I,s:s,s:I,s:f}", "id", id, "type",
                                        duty_type_name(d->type), "height", (json_int_t)d->height,
                                        "status", d->decided ? "decided" : "pending", "round",
                                        (json_int_t)d->round, "age_s", (double)d->age_ms / 1000.0));
    }
    return a;
}

static json_t *peers_json(const struct summary_in *in)
{
    json_t *a = json_array();
    for (uint32_t i = 0; i < in->n; i++) {
        if (i == in->self)
            continue;
        json_array_append_new(a, json_pack("{s:I,s:n}", "index", (json_int_t)i, "score"));
    }
    const char *p, *e;
    struct summary_sample s;
    char peer[16];
    family_text(in->mt, "p2p_peer_score", &p, &e);
    while (p && summary_sample_next(&p, e, &s) == 0) {
        uint64_t idx;
        if (summary_sample_label(&s, "peer", peer, sizeof(peer)) < 0 ||
            parse_u64(peer, in->n, &idx) < 0 || idx >= in->n || idx == in->self)
            continue;
        /* Rows are in index order without this node's: idx's row is idx or idx - 1. */
        json_t *row = json_array_get(a, idx > in->self ? idx - 1 : idx);
        json_object_set_new(row, "score", json_real(s.value));
    }
    return a;
}

json_t *summary_json(const struct summary_in *in)
{
    json_t *unavailable = json_array();
    for (size_t i = 0; i < in->nunavailable; i++)
        json_array_append_new(unavailable, json_string(in->unavailable[i]));
    struct summary_point now;
    summary_point_from(&now, in->mt, 0, in->decided_known);
    json_t *decided = in->decided_known ? json_integer((json_int_t)now.decided) : json_null();
    json_t *mempool = json_null();
    if (in->mempool_known) {
        const char *p, *e;
        struct summary_sample s;
        char state[16];
        json_int_t pending = 0, queued = 0;
        family_text(in->mt, "mempool_size", &p, &e);
        while (p && summary_sample_next(&p, e, &s) == 0) {
            if (summary_sample_label(&s, "state", state, sizeof(state)) < 0)
                continue;
            if (!strcmp(state, "pending"))
                pending = (json_int_t)s.value;
            else if (!strcmp(state, "queued"))
                queued = (json_int_t)s.value;
        }
        mempool = json_pack("{s:I,s:I}", "pending", pending, "queued", queued);
    }
    json_t *api = json_pack("{s:I,s:f}", "requests", (json_int_t)now.requests, "latency_sum_s",
                            now.latency_sum_s);
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "chain", chain_json(in), "duties",
                     duties_json(in), "peers", peers_json(in), "decided_total", decided, "api", api,
                     "mempool", mempool, "history", history_json(in->history), "unavailable",
                     unavailable);
}
