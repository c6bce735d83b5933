/*
 * Unit tests for workers/api/conn_limit: the caps per address and in total, which idle
 * keep-alive connection gives way, and the table against a plain model over random operations.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "workers/api/conn_limit.h"

#define A1 0x7f000001u
#define A2 0x7f000002u
#define A3 0x0a000003u

static void add(struct conn_limit *cl, struct conn_slot *s, uint32_t addr)
{
    struct conn_slot *v;
    ck_assert_int_eq(conn_limit_admit(cl, addr, &v), CONN_ADMIT);
    ck_assert_ptr_null(v);
    conn_limit_add(cl, s, addr);
}

START_TEST(per_address_cap)
{
    struct conn_limit cl;
    struct conn_slot s[4], *v;
    conn_limit_init(&cl, 10, 3);
    for (int i = 0; i < 3; i++)
        add(&cl, &s[i], A1);
    ck_assert_uint_eq(conn_limit_count(&cl, A1), 3);
    ck_assert_int_eq(conn_limit_admit(&cl, A1, &v), CONN_REJECT_PER_ADDRESS);
    ck_assert_ptr_null(v);
    add(&cl, &s[3], A2); /* another address is not held back */
    conn_limit_remove(&cl, &s[1]);
    ck_assert_uint_eq(conn_limit_count(&cl, A1), 2);
    add(&cl, &s[1], A1);
    ck_assert_uint_eq(cl.open, 4);
    conn_limit_free(&cl);
}
END_TEST

START_TEST(total_cap)
{
    struct conn_limit cl;
    struct conn_slot s[3], *v;
    conn_limit_init(&cl, 3, 2);
    add(&cl, &s[0], A1);
    add(&cl, &s[1], A2);
    add(&cl, &s[2], A3);
    ck_assert_int_eq(conn_limit_admit(&cl, A1, &v), CONN_REJECT_TOTAL);
    ck_assert_int_eq(conn_limit_admit(&cl, 0x01020304u, &v), CONN_REJECT_TOTAL);
    conn_limit_remove(&cl, &s[2]);
    ck_assert_uint_eq(conn_limit_count(&cl, A3), 0);
    add(&cl, &s[2], 0x01020304u);
    conn_limit_free(&cl);
}
END_TEST

START_TEST(idle_gives_way)
{
    struct conn_limit cl;
    struct conn_slot s[4], *v;
    conn_limit_init(&cl, 4, 2);
    add(&cl, &s[0], A1);
    add(&cl, &s[1], A2);
    add(&cl, &s[2], A1);
    add(&cl, &s[3], A2);
    /* full everywhere, nothing idle */
    ck_assert_int_eq(conn_limit_admit(&cl, A3, &v), CONN_REJECT_TOTAL);
    ck_assert_int_eq(conn_limit_admit(&cl, A1, &v), CONN_REJECT_PER_ADDRESS);
    conn_limit_set_idle(&cl, &s[1], true); /* A2 idle first */
    conn_limit_set_idle(&cl, &s[2], true); /* then A1 */
    /* the address cap takes that address's own idle connection, not the oldest of all */
    ck_assert_int_eq(conn_limit_admit(&cl, A1, &v), CONN_EVICT);
    ck_assert_ptr_eq(v, &s[2]);
    /* the total cap takes the oldest idle of all */
    ck_assert_int_eq(conn_limit_admit(&cl, A3, &v), CONN_EVICT);
    ck_assert_ptr_eq(v, &s[1]);
    /* busy again: out of the idle lists; idle again: the youngest */
    conn_limit_set_idle(&cl, &s[1], false);
    conn_limit_set_idle(&cl, &s[1], true);
    ck_assert_int_eq(conn_limit_admit(&cl, A3, &v), CONN_EVICT);
    ck_assert_ptr_eq(v, &s[2]);
    conn_limit_remove(&cl, v);
    ck_assert_int_eq(conn_limit_admit(&cl, A3, &v), CONN_ADMIT);
    conn_limit_set_idle(&cl, &s[1], false);
    conn_limit_set_idle(&cl, &s[1], false); /* twice is once */
    ck_assert_ptr_null(cl.idle_head);
    conn_limit_free(&cl);
}
END_TEST

START_TEST(table_reuse)
{
    /* every entry used by a distinct address, freed, used again: the free list holds */
    enum { N = 257 };
    struct conn_limit cl;
    struct conn_slot *s = calloc(N, sizeof(*s));
    conn_limit_init(&cl, N, 1);
    for (int round = 0; round < 3; round++) {
        for (uint32_t i = 0; i < N; i++)
            add(&cl, &s[i], 0x0a000000u + i * 977u + (uint32_t)round);
        struct conn_slot *v;
        ck_assert_int_eq(conn_limit_admit(&cl, 0xffffffffu, &v), CONN_REJECT_TOTAL);
        for (uint32_t i = 0; i < N; i++)
            conn_limit_remove(&cl, &s[(i * 7) % N]);
        ck_assert_uint_eq(cl.open, 0);
    }
    conn_limit_free(&cl);
    free(s);
}
END_TEST

/* A plain model: an array of live connections with their address, idle flag and idle time. */
struct model_conn {
    bool live, idle;
    uint32_t addr;
    uint64_t idle_since;
};

/* xorshift32 from a fixed seed: the same operations on every run, so a failure reproduces. */
static uint32_t pick(uint32_t *s, uint32_t n)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s % n;
}

START_TEST(random_against_model)
{
    enum { N = 64, TOTAL = 24, PER = 5 };
    static const uint32_t addrs[] = {A1, A2, A3, 0x01010101u, 0x02020202u, 0x03030303u};
    struct conn_limit cl;
    struct conn_slot slots[N];
    struct model_conn m[N];
    memset(m, 0, sizeof(m));
    conn_limit_init(&cl, TOTAL, PER);
    uint32_t seed = 7;
    uint64_t clock = 0;
    for (int step = 0; step < 200000; step++) {
        int op = (int)pick(&seed, 3);
        int i = (int)pick(&seed, N);
        clock++;
        if (op == 0 && !m[i].live) {
            uint32_t a = addrs[pick(&seed, ARRAY_LEN(addrs))];
            /* the model's decision */
            int per = 0, total = 0, oldest_a = -1, oldest = -1;
            for (int k = 0; k < N; k++) {
                if (!m[k].live)
                    continue;
                total++;
                per += m[k].addr == a;
                if (m[k].idle && (oldest < 0 || m[k].idle_since < m[oldest].idle_since))
                    oldest = k;
                if (m[k].idle && m[k].addr == a &&
                    (oldest_a < 0 || m[k].idle_since < m[oldest_a].idle_since))
                    oldest_a = k;
            }
            enum conn_admit want = CONN_ADMIT;
            int victim = -1;
            if (per >= PER) {
                victim = oldest_a;
                want = victim >= 0 ? CONN_EVICT : CONN_REJECT_PER_ADDRESS;
            } else if (total >= TOTAL) {
                victim = oldest;
                want = victim >= 0 ? CONN_EVICT : CONN_REJECT_TOTAL;
            }
            struct conn_slot *v;
            ck_assert_int_eq(conn_limit_admit(&cl, a, &v), want);
            if (want == CONN_EVICT) {
                ck_assert_ptr_eq(v, &slots[victim]);
                conn_limit_remove(&cl, v);
                m[victim].live = false;
            } else if (want == CONN_ADMIT) {
                conn_limit_add(&cl, &slots[i], a);
                m[i] = (struct model_conn){.live = true, .addr = a};
            }
        } else if (op == 1 && m[i].live) {
            conn_limit_remove(&cl, &slots[i]);
            m[i].live = false;
        } else if (op == 2 && m[i].live) {
            bool idle = pick(&seed, 2);
            conn_limit_set_idle(&cl, &slots[i], idle);
            if (idle && !m[i].idle)
                m[i].idle_since = clock;
            m[i].idle = idle;
        }
        uint32_t open = 0;
        for (int k = 0; k < N; k++)
            open += m[k].live;
        ck_assert_uint_eq(cl.open, open);
    }
    for (size_t k = 0; k < ARRAY_LEN(addrs); k++) {
        uint32_t per = 0;
        for (int j = 0; j < N; j++)
            per += m[j].live && m[j].addr == addrs[k];
        ck_assert_uint_eq(conn_limit_count(&cl, addrs[k]), per);
    }
    conn_limit_free(&cl);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conn_limit");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, per_address_cap);
    tcase_add_test(tc, total_cap);
    tcase_add_test(tc, idle_gives_way);
    tcase_add_test(tc, table_reuse);
    tcase_add_test(tc, random_against_model);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
