/* Unit tests for supervisor/policy: the restart decision table (SPEC §3.3). */
#include <check.h>
#include <stdlib.h>

#include "lib/util.h"
#include "supervisor/policy.h"

static const struct restart_policy P = {
    .backoff_min_ms = 100,
    .backoff_max_ms = 30000,
    .stable_ms = 60000,
    .give_up_deaths = 5,
    .give_up_window_ms = 10000,
};

struct row {
    const char *what;
    uint64_t at_ms;     /* death time */
    uint64_t uptime_ms; /* how long it had been up */
    bool was_ready;
    int exit_code;
    enum restart_action action;
    uint64_t delay_ms;
};

/* One worker's life, death by death, with the history carried from row to row. */
static void run_table(const struct row *rows, size_t n)
{
    struct restart_history h = {0};
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        struct death d = {r->at_ms, r->uptime_ms, r->was_ready, r->exit_code};
        struct restart_decision dec = restart_policy_next_delay(&P, &h, &d);
        ck_assert_msg(dec.action == r->action, "%s: action %d, want %d", r->what, dec.action,
                      r->action);
        if (dec.action == RESTART)
            ck_assert_msg(dec.delay_ms == r->delay_ms, "%s: delay %llu, want %llu", r->what,
                          (unsigned long long)dec.delay_ms, (unsigned long long)r->delay_ms);
    }
}

START_TEST(immediate_then_exponential_then_capped)
{
    const struct row rows[] = {
        {"first death after 5 s up, READY: immediate", 100000, 5000, true, -1, RESTART, 0},
        {"dies again 0.5 s later: min backoff x2", 100600, 500, true, -1, RESTART, 200},
        {"again: x4", 103000, 500, true, 1, RESTART, 400},
        {"again, after 2 s up (not stable): x8", 106000, 2000, true, -1, RESTART, 800},
    };
    run_table(rows, ARRAY_LEN(rows));
}
END_TEST

START_TEST(cap_reached)
{
    struct restart_history h = {0};
    struct restart_policy p = P;
    p.give_up_deaths = 60;
    p.give_up_window_ms = 1; /* never give up in this test */
    uint64_t last = 0;
    for (int i = 0; i < 40; i++) {
        struct death d = {1000000 + (uint64_t)i * 100000, 10, true, -1};
        struct restart_decision dec = restart_policy_next_delay(&p, &h, &d);
        ck_assert(dec.action == RESTART);
        ck_assert(dec.delay_ms >= last || dec.delay_ms == p.backoff_max_ms);
        ck_assert(dec.delay_ms <= p.backoff_max_ms);
        last = dec.delay_ms;
    }
    ck_assert_uint_eq(last, 30000);
}
END_TEST

START_TEST(reset_after_stable_uptime)
{
    const struct row rows[] = {
        {"quick death", 100000, 200, true, -1, RESTART, 100},
        {"quick death", 100500, 200, true, -1, RESTART, 200},
        {"death after a stable minute: immediate again", 200000, 61000, true, -1, RESTART, 0},
        {"quick death after that: x2", 200400, 300, true, -1, RESTART, 200},
    };
    run_table(rows, ARRAY_LEN(rows));
}
END_TEST

START_TEST(not_ready_backs_off_harder)
{
    const struct row rows[] = {
        {"died before READY though up 3 s: no immediate restart, x4", 100000, 3000, false, 1,
         RESTART, 400},
        {"again before READY: x2 x4", 104000, 100, false, 1, RESTART, 800},
        {"crash while READY but only up 0.2 s: x4 without the penalty", 110000, 200, true, -1,
         RESTART, 400},
    };
    run_table(rows, ARRAY_LEN(rows));
}
END_TEST

START_TEST(exit_78_is_permanent)
{
    const struct row rows[] = {
        {"exit 78 on the very first start", 100000, 50, false, 78, PERMANENT, 0},
    };
    run_table(rows, ARRAY_LEN(rows));
    const struct row later[] = {
        {"up and READY for an hour, then exit 78", 100000, 3600000, true, 78, PERMANENT, 0},
    };
    run_table(later, ARRAY_LEN(later));
}
END_TEST

START_TEST(give_up_after_k_deaths_in_window)
{
    /* K = 5 deaths allowed in 10 s; the sixth within the window gives up. */
    const struct row rows[] = {
        {"1", 100000, 5000, true, -1, RESTART, 0},
        {"2", 101000, 100, true, -1, RESTART, 200},
        {"3", 102000, 100, true, -1, RESTART, 400},
        {"4", 103000, 100, true, -1, RESTART, 800},
        {"5", 104000, 100, true, -1, RESTART, 1600},
        {"6 within 10 s", 105000, 100, true, -1, GIVE_UP, 0},
    };
    run_table(rows, ARRAY_LEN(rows));
}
END_TEST

START_TEST(old_deaths_leave_the_window)
{
    const struct row rows[] = {
        {"1", 100000, 5000, true, -1, RESTART, 0},
        {"2", 101000, 100, true, -1, RESTART, 200},
        {"3", 102000, 100, true, -1, RESTART, 400},
        {"4", 103000, 100, true, -1, RESTART, 800},
        {"5", 104000, 100, true, -1, RESTART, 1600},
        {"6, but 1-4 are older than 10 s", 113500, 100, true, -1, RESTART, 3200},
    };
    run_table(rows, ARRAY_LEN(rows));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, immediate_then_exponential_then_capped);
    tcase_add_test(tc, cap_reached);
    tcase_add_test(tc, reset_after_stable_uptime);
    tcase_add_test(tc, not_ready_backs_off_harder);
    tcase_add_test(tc, exit_78_is_permanent);
    tcase_add_test(tc, give_up_after_k_deaths_in_window);
    tcase_add_test(tc, old_deaths_leave_the_window);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
