/* Unit tests for ipc/peers: the verdict on a frame's declared source against the peer table,
 * retired incarnations, the test tool, ids bound at their HELLO; and the CTL_PEERS codec. */
#include <check.h>
#include <stdlib.h>

#include "ipc/peers.h"
#include "lib/buf.h"

#define SELF_PID 100

static struct peer_table table(void)
{
    struct peer_table pt;
    peers_init(&pt, W_STATEDB, SELF_PID);
    peers_set(&pt, W_SUPERVISOR, 10, 0);
    peers_set(&pt, W_QBFT, 31, 1);
    peers_set(&pt, W_API, 51, 1);
    return pt;
}

START_TEST(declared_source_is_the_sender)
{
    struct peer_table pt = table();
    ck_assert_int_eq(peers_check(&pt, W_QBFT, 31), PEER_OK);
    ck_assert_int_eq(peers_check(&pt, W_SUPERVISOR, 10), PEER_OK);
    ck_assert_int_eq(peers_check(&pt, W_STATEDB, SELF_PID), PEER_OK); /* its own probes */
    /* The API's process declaring QBFT, and anyone declaring this process. */
    ck_assert_int_eq(peers_check(&pt, W_QBFT, 51), PEER_FORGED);
    ck_assert_int_eq(peers_check(&pt, W_STATEDB, 31), PEER_FORGED);
    ck_assert_int_eq(peers_check(&pt, W_QBFT, SELF_PID), PEER_FORGED);
    /* A process the table does not know: decided by the supervisor's answer. */
    ck_assert_int_eq(peers_check(&pt, W_QBFT, 77), PEER_UNKNOWN);
    ck_assert_int_eq(peers_check(&pt, W_BUILDER, 77), PEER_UNKNOWN);
    /* No such worker. */
    ck_assert_int_eq(peers_check(&pt, W_COUNT, 77), PEER_FORGED);
    ck_assert_int_eq(peers_check(&pt, 200, 31), PEER_FORGED);
    ck_assert_int_eq(peers_who(&pt, 51), W_API);
    ck_assert_int_eq(peers_who(&pt, 77), -1);
}
END_TEST

START_TEST(earlier_incarnations_are_stale)
{
    struct peer_table pt = table();
    peers_set(&pt, W_QBFT, 32, 2); /* restarted */
    ck_assert_int_eq(peers_check(&pt, W_QBFT, 32), PEER_OK);
    ck_assert_int_eq(peers_check(&pt, W_QBFT, 31), PEER_STALE);
    ck_assert_int_eq(peers_check(&pt, W_API, 31), PEER_UNKNOWN); /* stale for QBFT only */
    peers_set(&pt, W_QBFT, 0, 2);                                /* died */
    ck_assert_int_eq(peers_check(&pt, W_QBFT, 32), PEER_STALE);
    ck_assert_uint_eq(pt.t.w[W_QBFT].retired[0], 32);
    ck_assert_uint_eq(pt.t.w[W_QBFT].retired[1], 31);
    for (uint32_t pid = 33; pid < 33 + CTL_PEERS_RETIRED; pid++)
        peers_set(&pt, W_QBFT, pid, 3);
    ck_assert_int_eq(peers_check(&pt, W_QBFT, 31), PEER_UNKNOWN); /* forgotten */
    peers_set(&pt, W_QBFT, 33 + CTL_PEERS_RETIRED - 1, 3);        /* same pid: nothing retired */
    ck_assert_uint_eq(pt.t.w[W_QBFT].retired[0], 33 + CTL_PEERS_RETIRED - 2);
}
END_TEST

START_TEST(tool_is_any_other_process)
{
    struct peer_table pt = table();
    ck_assert_int_eq(peers_check(&pt, W_TOOL, 900), PEER_OK);
    ck_assert_int_eq(peers_check(&pt, W_TOOL, 31), PEER_FORGED); /* a worker posing as a tool */
    ck_assert_int_eq(peers_check(&pt, W_TOOL, 10), PEER_FORGED);
    ck_assert_int_eq(peers_check(&pt, W_TOOL, SELF_PID), PEER_FORGED);
}
END_TEST

START_TEST(open_ids_until_bound)
{
    struct peer_table pt = table();
    pt.open = WBIT(W_P2P);
    ck_assert_int_eq(peers_check(&pt, W_P2P, 61), PEER_OK);
    ck_assert_int_eq(peers_check(&pt, W_P2P, 31), PEER_FORGED); /* still QBFT's process */
    ck_assert_int_eq(peers_check(&pt, W_BUILDER, 61), PEER_UNKNOWN);
}
END_TEST

START_TEST(ctl_peers_codec)
{
    struct peer_table pt = table();
    peers_set(&pt, W_QBFT, 0, 1);
    struct buf b = BUF_INIT;
    struct ctl_peers got;
    ctl_peers_encode(&b, &pt.t);
    ck_assert_int_eq(ctl_peers_decode(&got, b.data, b.len), 0);
    ck_assert_mem_eq(&got, &pt.t, sizeof(got));
    ck_assert_int_eq(ctl_peers_decode(&got, b.data, b.len - 1), -1);
    buf_append(&b, "", 1);
    ck_assert_int_eq(ctl_peers_decode(&got, b.data, b.len), -1); /* trailing byte */
    buf_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("peers");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, declared_source_is_the_sender);
    tcase_add_test(tc, earlier_incarnations_are_stale);
    tcase_add_test(tc, tool_is_any_other_process);
    tcase_add_test(tc, open_ids_until_bound);
    tcase_add_test(tc, ctl_peers_codec);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
