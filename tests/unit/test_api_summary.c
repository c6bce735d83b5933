/*
 * Unit tests for workers/api/summary: the exposition line reader (names, labels with escapes,
 * histograms, comments and lines that do not parse), the history ring and its wrap, a block's
 * summary row, and the JSON of GET /summary (members, bounds, the peers' scores, the counters of
 * the validator API's routes only, nulls for what did not answer).
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/metrics.h"
#include "lib/util.h"
#include "proto/block.h"
#include "workers/api/summary.h"

static int next(const char **p, const char *e, struct summary_sample *s)
{
    return summary_sample_next(p, e, s);
}

START_TEST(sample_lines)
{
    static const char text[] = "# HELP x y\n"
                               "# TYPE x counter\n"
                               "plain 3\n"
                               "\n"
                               "with_labels{a=\"1\",b=\"x\\\"}y\"} 2.5\n"
                               "broken{a=\"1\" 7\n"
                               "novalue{a=\"1\"}\n"
                               "h_bucket{route=\"/v1/duty\",le=\"+Inf\"} 4\n"
                               "bad 1x\n"
                               "last -1e3";
    const char *p = text, *e = text + strlen(text);
    struct summary_sample s;
    char v[32];
    ck_assert_int_eq(next(&p, e, &s), 0);
    ck_assert_uint_eq(s.name_len, 5);
    ck_assert(!memcmp(s.name, "plain", 5));
    ck_assert_uint_eq(s.labels_len, 0);
    ck_assert(s.value == 3);
    ck_assert_int_eq(summary_sample_label(&s, "a", v, sizeof(v)), -1);

    ck_assert_int_eq(next(&p, e, &s), 0);
    ck_assert(!memcmp(s.name, "with_labels", s.name_len));
    ck_assert(s.value == 2.5);
    ck_assert_int_eq(summary_sample_label(&s, "a", v, sizeof(v)), 0);
    ck_assert_str_eq(v, "1");
    ck_assert_int_eq(summary_sample_label(&s, "b", v, sizeof(v)), 0);
    ck_assert_str_eq(v, "x\"}y"); /* an escaped quote and a brace inside the value */
    ck_assert_int_eq(summary_sample_label(&s, "b", v, 3), 0);
    ck_assert_str_eq(v, "x\""); /* cut to the room given */
    ck_assert_int_eq(summary_sample_label(&s, "c", v, sizeof(v)), -1);

    ck_assert_int_eq(next(&p, e, &s), 0); /* broken and novalue skipped */
    ck_assert(!memcmp(s.name, "h_bucket", s.name_len));
    ck_assert_int_eq(summary_sample_label(&s, "le", v, sizeof(v)), 0);
    ck_assert_str_eq(v, "+Inf");
    ck_assert(s.value == 4);

    ck_assert_int_eq(next(&p, e, &s), 0); /* bad skipped; the last line has no newline */
    ck_assert(!memcmp(s.name, "last", s.name_len));
    ck_assert(s.value == -1000);
    ck_assert_int_eq(next(&p, e, &s), -1);
    ck_assert_int_eq(next(&p, e, &s), -1);
}
END_TEST

static struct summary_point point(uint64_t t)
{
    return (struct summary_point){
        .t_ms = t, .decided_known = true, .decided = t * 2, .requests = t, .latency_sum_s = 0.5};
}

START_TEST(history_ring)
{
    struct summary_history *h = calloc(1, sizeof(*h));
    for (uint64_t t = 1; t <= 3; t++) {
        struct summary_point pt = point(t);
        summary_history_push(h, &pt);
    }
    ck_assert_uint_eq(h->n, 3);
    ck_assert_uint_eq(h->p[h->first].t_ms, 1);
    for (uint64_t t = 4; t <= SUMMARY_HISTORY + 5; t++) {
        struct summary_point pt = point(t);
        summary_history_push(h, &pt);
    }
    ck_assert_uint_eq(h->n, SUMMARY_HISTORY);
    for (size_t i = 0; i < h->n; i++)
        ck_assert_uint_eq(h->p[(h->first + i) % SUMMARY_HISTORY].t_ms, 6 + i); /* oldest first */

    struct summary_in in = {.history = h};
    json_t *j = summary_json(&in);
    json_t *pts = json_object_get(json_object_get(j, "history"), "points");
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(j, "history"), "interval_s")),
        SUMMARY_INTERVAL_MS / 1000);
    ck_assert_uint_eq(json_array_size(pts), SUMMARY_HISTORY);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(pts, 0), "t_ms")), 6);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_array_get(pts, SUMMARY_HISTORY - 1), "decided")),
        2 * (SUMMARY_HISTORY + 5));
    json_decref(j);
    free(h);
}
END_TEST

static void make_block(struct buf *b, uint64_t height, uint8_t parent_byte, uint32_t ntxs)
{
    struct block_header h = {.height = height, .proposer = 2};
    memset(h.parent_hash, parent_byte, SHA256_LEN);
    block_encode_begin(b, &h, ntxs);
    for (uint32_t i = 0; i < ntxs; i++)
        block_encode_tx(b, (const uint8_t *)"tx", 2);
}

START_TEST(block_rows)
{
    struct buf b = BUF_INIT;
    struct summary_block sb;
    make_block(&b, 42, 7, 3);
    ck_assert_int_eq(summary_block_from(&sb, b.data, b.len), 0);
    ck_assert_uint_eq(sb.height, 42);
    ck_assert_uint_eq(sb.proposer, 2);
    ck_assert_uint_eq(sb.ntxs, 3);
    ck_assert_uint_eq(sb.parent[31], 7);
    uint8_t want[SHA256_LEN];
    block_hash(want, b.data, b.len);
    ck_assert_mem_eq(sb.hash, want, SHA256_LEN);
    ck_assert_int_eq(summary_block_from(&sb, b.data, b.len - 1), -1);
    ck_assert_int_eq(summary_block_from(&sb, (const uint8_t *)"\x90", 1), -1);
    buf_free(&b);
}
END_TEST

/* A node of four operators (this one is 1) whose workers answered, but for P2P. */
START_TEST(summary_shape)
{
    metrics_reset();
    for (int i = 0; i < 3; i++)
        metric_inc(metric("qbft_decided_total", "attester"));
    metric_inc(metric("qbft_decided_total", "proposer"));
    metric_observe(metric("api_latency_seconds", "/v1/duty"), 0.25);
    metric_observe(metric("api_latency_seconds", "/v1/duty"), 0.25);
    metric_observe(metric("api_latency_seconds", "/v1/tx/plain"), 0.5);
    metric_observe(metric("api_latency_seconds", "proxy"), 1.0);
    metric_observe(metric("api_latency_seconds", "/summary"), 100); /* the page's own polling */
    metric_observe(metric("api_latency_seconds", "/health"), 100);
    metric_set(metric("p2p_peer_score", "0"), 1.5);
    metric_set(metric("p2p_peer_score", "3"), -2);
    metric_set(metric("p2p_peer_score", "1"), 9); /* this node: never a row */
    metric_set(metric("p2p_peer_score", "7"), 9); /* not an operator */
    metric_set(metric("mempool_size", "pending"), 4);
    metric_set(metric("mempool_size", "queued"), 1);
    struct metrics_text mt;
    metrics_text_init(&mt);
    metrics_text_add_local(&mt);

    struct summary_in *in = calloc(1, sizeof(*in));
    in->self = 1;
    in->n = 4;
    in->mt = &mt;
    in->decided_known = in->mempool_known = true;
    in->chain_known = true;
    struct buf b = BUF_INIT;
    make_block(&b, 9, 0, 1);
    ck_assert_int_eq(summary_block_from(&in->blocks[0], b.data, b.len), 0);
    buf_reset(&b);
    make_block(&b, 5, 0, 0);
    ck_assert_int_eq(summary_block_from(&in->blocks[1], b.data, b.len), 0);
    in->nblocks = 2;
    in->duties[0] = (struct duty_brief){
        .type = DUTY_SYNC, .height = 3, .decided = false, .round = 2, .age_ms = 1500};
    in->duties[1] =
        (struct duty_brief){.type = DUTY_PROPOSER, .height = 9, .decided = true, .round = 1};
    in->nduties = 2;
    in->unavailable[in->nunavailable++] = "p2p";

    json_t *j = summary_json(in);
    static const char *const members[] = {"chain", "duties",  "peers",   "decided_total",
                                          "api",   "mempool", "history", "unavailable"};
    ck_assert_uint_eq(json_object_size(j), ARRAY_LEN(members));
    for (size_t i = 0; i < ARRAY_LEN(members); i++)
        ck_assert_ptr_nonnull(json_object_get(j, members[i]));

    json_t *chain = json_object_get(j, "chain");
    ck_assert_int_eq(json_integer_value(json_object_get(chain, "height")), 9);
    json_t *blocks = json_object_get(chain, "blocks");
    ck_assert_uint_eq(json_array_size(blocks), 2);
    json_t *b0 = json_array_get(blocks, 0);
    ck_assert_uint_eq(json_object_size(b0), 5);
    ck_assert_int_eq(json_integer_value(json_object_get(b0, "txs")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(b0, "proposer")), 2);
    ck_assert_uint_eq(strlen(json_string_value(json_object_get(b0, "block_hash"))), 64);
    ck_assert_str_eq(json_string_value(json_object_get(b0, "parent_hash")),
                     "0000000000000000000000000000000000000000000000000000000000000000");

    json_t *d0 = json_array_get(json_object_get(j, "duties"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(d0, "id")), "sync/3");
    ck_assert_str_eq(json_string_value(json_object_get(d0, "type")), "sync");
    ck_assert_str_eq(json_string_value(json_object_get(d0, "status")), "pending");
    ck_assert_int_eq(json_integer_value(json_object_get(d0, "round")), 2);
    ck_assert(fabs(json_real_value(json_object_get(d0, "age_s")) - 1.5) < 1e-9);
    json_t *d1 = json_array_get(json_object_get(j, "duties"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(d1, "id")), "proposer/9");
    ck_assert_str_eq(json_string_value(json_object_get(d1, "status")), "decided");

    json_t *peers = json_object_get(j, "peers");
    ck_assert_uint_eq(json_array_size(peers), 3); /* 0, 2, 3: not this node */
    static const int idx[] = {0, 2, 3};
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(peers, i), "index")),
                         idx[i]);
    ck_assert(json_real_value(json_object_get(json_array_get(peers, 0), "score")) == 1.5);
    ck_assert(json_is_null(json_object_get(json_array_get(peers, 1), "score")));
    ck_assert(json_real_value(json_object_get(json_array_get(peers, 2), "score")) == -2);

    ck_assert_int_eq(json_integer_value(json_object_get(j, "decided_total")), 4);
    json_t *api = json_object_get(j, "api");
    ck_assert_int_eq(json_integer_value(json_object_get(api, "requests")), 4);
    ck_assert(fabs(json_real_value(json_object_get(api, "latency_sum_s")) - 2.0) < 1e-9);
    json_t *mp = json_object_get(j, "mempool");
    ck_assert_int_eq(json_integer_value(json_object_get(mp, "pending")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(mp, "queued")), 1);
    ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(j, "history"), "points")), 0);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "unavailable"), 0)),
                     "p2p");
    json_decref(j);

    /* what did not answer is null, never a guess */
    in->decided_known = in->mempool_known = in->chain_known = false;
    j = summary_json(in);
    ck_assert(json_is_null(json_object_get(j, "decided_total")));
    ck_assert(json_is_null(json_object_get(j, "mempool")));
    ck_assert(json_is_null(json_object_get(json_object_get(j, "chain"), "height")));
    json_decref(j);
    /* a chain that holds no block yet: height 0 */
    in->chain_known = in->chain_empty = true;
    in->nblocks = 0;
    j = summary_json(in);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "chain"), "height")), 0);
    json_decref(j);

    struct summary_point pt;
    summary_point_from(&pt, &mt, 1234, true);
    ck_assert_uint_eq(pt.t_ms, 1234);
    ck_assert_uint_eq(pt.decided, 4);
    ck_assert_uint_eq(pt.requests, 4);
    summary_point_from(&pt, &mt, 1, false);
    ck_assert(!pt.decided_known);
    ck_assert_uint_eq(pt.decided, 0);

    buf_free(&b);
    free(in);
    metrics_text_free(&mt);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api_summary");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, sample_lines);
    tcase_add_test(tc, history_ring);
    tcase_add_test(tc, block_rows);
    tcase_add_test(tc, summary_shape);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
