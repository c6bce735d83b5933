/* Unit tests for lib/metrics: catalogue enforcement, exposition format, merging. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/metrics.h"

static char *render(void)
{
    struct buf b = BUF_INIT;
    metrics_render_local(&b);
    return buf_steal_str(&b);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

START_TEST(counter_and_labels)
{
    metrics_reset();
    struct mseries *a = metric("api_requests_total", "duty", "202");
    metric_inc(a);
    metric_add(a, 2);
    metric_inc(metric("api_requests_total", "health", "200"));
    ck_assert_ptr_eq(a, metric("api_requests_total", "duty", "202"));
    char *t = render();
    ck_assert_ptr_nonnull(strstr(t, "# HELP api_requests_total "));
    ck_assert_ptr_nonnull(strstr(t, "# TYPE api_requests_total counter\n"));
    ck_assert_ptr_nonnull(strstr(t, "api_requests_total{route=\"duty\",code=\"202\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(t, "api_requests_total{route=\"health\",code=\"200\"} 1\n"));
    ck_assert_int_eq(count(t, "# TYPE api_requests_total"), 1);
    free(t);
}
END_TEST

START_TEST(histogram_cumulative)
{
    metrics_reset();
    struct mseries *h = metric("statedb_batch_size");
    metric_observe(h, 1);
    metric_observe(h, 3);
    metric_observe(h, 3);
    metric_observe(h, 5000);
    char *t = render();
    ck_assert_ptr_nonnull(strstr(t, "# TYPE statedb_batch_size histogram\n"));
    ck_assert_ptr_nonnull(strstr(t, "statedb_batch_size_bucket{le=\"1\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(t, "statedb_batch_size_bucket{le=\"2\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(t, "statedb_batch_size_bucket{le=\"4\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(t, "statedb_batch_size_bucket{le=\"1024\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(t, "statedb_batch_size_bucket{le=\"+Inf\"} 4\n"));
    ck_assert_ptr_nonnull(strstr(t, "statedb_batch_size_sum 5007\n"));
    ck_assert_ptr_nonnull(strstr(t, "statedb_batch_size_count 4\n"));
    free(t);
}
END_TEST

START_TEST(histogram_with_label_and_fraction)
{
    metrics_reset();
    metric_observe(metric("api_latency_seconds", "duty"), 0.0015);
    char *t = render();
    ck_assert_ptr_nonnull(strstr(t, "api_latency_seconds_bucket{route=\"duty\",le=\"0.001\"} 0\n"));
    ck_assert_ptr_nonnull(
        strstr(t, "api_latency_seconds_bucket{route=\"duty\",le=\"0.0025\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(t, "api_latency_seconds_sum{route=\"duty\"} 0.0015"));
    free(t);
}
END_TEST

START_TEST(label_escaping)
{
    metrics_reset();
    metric_set(metric("p2p_peer_score", "a\"b\\c\nd"), -3.5);
    char *t = render();
    ck_assert_ptr_nonnull(strstr(t, "p2p_peer_score{peer=\"a\\\"b\\\\c\\nd\"} -3.5\n"));
    free(t);
}
END_TEST

START_TEST(unknown_family_is_fatal)
{
    metric_inc(metric("no_such_metric_total"));
}
END_TEST

START_TEST(wrong_label_count_is_fatal)
{
    metric_inc(metric("api_requests_total", "duty"));
}
END_TEST

START_TEST(set_on_counter_is_fatal)
{
    metric_set(metric("qbft_equivocations_total"), 1);
}
END_TEST

START_TEST(merge_two_processes)
{
    metrics_reset();
    metric_inc(metric("aequa_worker_up", "api"));
    struct buf enc = BUF_INIT;
    metrics_encode(&enc);
    metrics_reset();
    metric_set(metric("aequa_worker_up", "qbft"), 0);
    metric_set(metric("dvt_up"), 1);

    struct metrics_text mt;
    metrics_text_init(&mt);
    metrics_text_add_local(&mt);
    ck_assert_int_eq(metrics_text_add_encoded(&mt, enc.data, enc.len), 0);
    struct buf out = BUF_INIT;
    metrics_text_render(&mt, &out);
    char *t = buf_steal_str(&out);
    ck_assert_int_eq(count(t, "# TYPE aequa_worker_up gauge"), 1);
    ck_assert_ptr_nonnull(strstr(t, "aequa_worker_up{worker=\"qbft\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(t, "aequa_worker_up{worker=\"api\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(t, "dvt_up 1\n"));
    /* catalogue order: dvt_up comes before aequa_worker_up */
    ck_assert(strstr(t, "dvt_up") < strstr(t, "aequa_worker_up"));
    free(t);
    /* a family not in the catalogue, or truncated input, is rejected */
    ck_assert_int_eq(metrics_text_add_encoded(&mt, enc.data, enc.len - 1), -1);
    metrics_text_free(&mt);
    buf_free(&enc);
}
END_TEST

START_TEST(every_catalogue_row_is_well_formed)
{
    for (size_t i = 0; i < metric_catalog_len; i++) {
        const struct metric_def *d = &metric_catalog[i];
        ck_assert_ptr_nonnull(d->help);
        ck_assert(strlen(d->help) > 0);
        if (d->type == METRIC_COUNTER) {
            size_t n = strlen(d->name);
            ck_assert_msg(n > 6 && strcmp(d->name + n - 6, "_total") == 0,
                          "counter %s must end in _total", d->name);
        }
        if (d->type == METRIC_HISTOGRAM) {
            ck_assert(d->nbuckets > 0);
            for (size_t b = 1; b < d->nbuckets; b++)
                ck_assert(d->buckets[b] > d->buckets[b - 1]);
        }
        for (size_t j = i + 1; j < metric_catalog_len; j++)
            ck_assert_str_ne(d->name, metric_catalog[j].name);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, counter_and_labels);
    tcase_add_test(tc, histogram_cumulative);
    tcase_add_test(tc, histogram_with_label_and_fraction);
    tcase_add_test(tc, label_escaping);
    tcase_add_exit_test(tc, unknown_family_is_fatal, 1);
    tcase_add_exit_test(tc, wrong_label_count_is_fatal, 1);
    tcase_add_exit_test(tc, set_on_counter_is_fatal, 1);
    tcase_add_test(tc, merge_two_processes);
    tcase_add_test(tc, every_catalogue_row_is_well_formed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
