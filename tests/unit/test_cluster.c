/* Unit tests for aequactl cluster create/verify (cli/cmd_cluster.c, called in-process). */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/aequactl.h"
#include "lib/config.h"
#include "lib/frost.h"
#include "lib/lock.h"
#include "lib/util.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/aequa-test-cluster-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

#define RUN(...)                                                                                   \
    ({                                                                                             \
        char *argv_[] = {"cluster", __VA_ARGS__, NULL};                                            \
        cmd_cluster((int)ARRAY_LEN(argv_) - 1, argv_);                                             \
    })

START_TEST(create_layout_and_configs)
{
    char out[512], path[PATH_MAX], err[512];
    snprintf(out, sizeof(out), "%s/c", dir);
    ck_assert_int_eq(RUN("create", "--nodes", "4", "--out", out, "--base-port", "5000"), 0);

    struct lock l;
    snprintf(path, sizeof(path), "%s/cluster-lock.json", out);
    ck_assert_msg(lock_load(&l, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(l.n, 4);
    ck_assert_uint_eq(l.threshold, 3); /* ceil(2n/3) */
    for (uint32_t i = 0; i < 4; i++) {
        struct config cfg;
        struct stat st;
        char want[64];
        snprintf(path, sizeof(path), "%s/node%u/aequa.conf", out, i);
        config_defaults(&cfg);
        ck_assert_msg(config_load_file(&cfg, path, err, sizeof(err)) == 0, "%s", err);
        ck_assert_msg(config_finish(&cfg, err, sizeof(err)) == 0, "%s", err);
        ck_assert_uint_eq(cfg.index, i);
        snprintf(want, sizeof(want), "127.0.0.1:%u", 5000 + i);
        ck_assert_str_eq(cfg.api_listen, want);
        snprintf(want, sizeof(want), "127.0.0.1:%u", 5020 + i);
        ck_assert_str_eq(cfg.monitoring_listen, want);
        snprintf(want, sizeof(want), "127.0.0.1:%u", 5040 + i);
        ck_assert_str_eq(cfg.p2p_listen, want);
        ck_assert_str_eq(l.ops[i].p2p_address, want);
        snprintf(path, sizeof(path), "%s/node%u/data", out, i);
        ck_assert_str_eq(cfg.data_dir, path);
        snprintf(path, sizeof(path), "%s/node%u/run", out, i);
        ck_assert_str_eq(cfg.runtime_dir, path);
        /* The node's own precheck passes with the files create wrote. */
        struct lock mine;
        ck_assert_msg(lock_precheck(&mine, cfg.lock, cfg.key, cfg.index, err, sizeof(err)) == 0,
                      "%s", err);
        ck_assert_int_eq(stat(cfg.key, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0600);
        /* verify with and without an explicit index. */
        char idx[8];
        snprintf(idx, sizeof(idx), "%u", i);
        ck_assert_int_eq(RUN("verify", cfg.lock, "--key", cfg.key), 0);
        ck_assert_int_eq(RUN("verify", cfg.lock, "--key", cfg.key, "--index", idx), 0);
        snprintf(idx, sizeof(idx), "%u", (i + 1) % 4);
        ck_assert_int_eq(RUN("verify", cfg.lock, "--key", cfg.key, "--index", idx), EXIT_CONFIG);
    }
    /* Never overwrite an existing cluster. */
    ck_assert_int_eq(RUN("create", "--nodes", "4", "--out", out), 1);
}
END_TEST

START_TEST(create_hosts_threshold_and_usage)
{
    char out[512], path[PATH_MAX], err[512];
    struct lock l;
    snprintf(out, sizeof(out), "%s/h", dir);
    ck_assert_int_eq(RUN("create", "--nodes", "3", "--threshold", "3", "--out", out, "--hosts",
                         "10.0.0.1,node-b,10.0.0.3", "--name", "devnet-x"),
                     0);
    snprintf(path, sizeof(path), "%s/cluster-lock.json", out);
    ck_assert_msg(lock_load(&l, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(l.threshold, 3);
    ck_assert_str_eq(l.name, "devnet-x");
    ck_assert_str_eq(l.ops[1].p2p_address, "node-b:4641");
    ck_assert_str_eq(l.ops[2].p2p_address, "10.0.0.3:4642");

    snprintf(out, sizeof(out), "%s/bad", dir);
    ck_assert_int_eq(RUN("create", "--nodes", "4", "--threshold", "2", "--out", out), 2);
    ck_assert_int_eq(RUN("create", "--nodes", "4", "--threshold", "5", "--out", out), 2);
    ck_assert_int_eq(RUN("create", "--nodes", "3", "--out", out, "--hosts", "a,b"), 2);
    ck_assert_int_eq(RUN("create", "--nodes", "2", "--out", out, "--hosts", "a,b,c"), 2);
    ck_assert_int_eq(RUN("create", "--nodes", "2", "--out", out, "--hosts", "a,b c"), 2);
    ck_assert_int_eq(RUN("create", "--nodes", "0", "--out", out), 2);
    ck_assert_int_eq(RUN("create", "--nodes", "21", "--out", out), 2);
    ck_assert_int_eq(RUN("create", "--nodes", "4", "--out", out, "--base-port", "65500"), 2);
    ck_assert_int_eq(RUN("create", "--nodes", "4"), 2);
    ck_assert_int_eq(RUN("create", "--nodes", "17", "--out", out, "--tss"), 2); /* FROST: <= 16 */
    ck_assert_int_eq(access(out, F_OK), -1); /* nothing written by a refused command */
    ck_assert_int_eq(RUN("frobnicate"), 2);
    ck_assert_int_eq(RUN("verify"), 2);
    ck_assert_int_eq(RUN("verify", path, "--index", "1"), 2); /* needs --key or --tss-key */
}
END_TEST

/* t of the n shares (by operator index in mask) sign msg; 0 if the aggregate verifies. */
static int sign_with(const struct lock *l, uint8_t shares[][SECKEY_LEN], unsigned mask)
{
    static const uint8_t msg[] = "aequa/tss/v1 test message";
    struct frost_nonces nonces[FROST_MAX_PARTICIPANTS];
    struct frost_commitment list[FROST_MAX_PARTICIPANTS];
    uint8_t sig_shares[FROST_MAX_PARTICIPANTS][FROST_SCALAR_LEN], sig[FROST_SIG_LEN];
    size_t count = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        if (!(mask & (1u << i)))
            continue;
        ck_assert_int_eq(frost_commit((uint16_t)(i + 1), shares[i], &nonces[count], &list[count]),
                         0);
        count++;
    }
    for (size_t k = 0; k < count; k++) {
        uint16_t id = list[k].id;
        ck_assert_int_eq(frost_sign(id, shares[id - 1], &nonces[k], list, count, msg, sizeof(msg),
                                    l->tss_group_pub, sig_shares[k]),
                         0);
        ck_assert_int_eq(frost_share_verify(id, l->tss_vshares[id - 1], sig_shares[k], list, count,
                                            msg, sizeof(msg), l->tss_group_pub),
                         0);
    }
    ck_assert_int_eq(frost_aggregate(list, count, (const uint8_t(*)[FROST_SCALAR_LEN])sig_shares,
                                     msg, sizeof(msg), l->tss_group_pub, sig),
                     0);
    return frost_verify(l->tss_group_pub, msg, sizeof(msg), sig);
}

START_TEST(create_tss)
{
    char out[512], path[PATH_MAX], err[512];
    uint8_t shares[4][SECKEY_LEN];
    struct lock l;
    snprintf(out, sizeof(out), "%s/t", dir);
    ck_assert_int_eq(RUN("create", "--nodes", "4", "--out", out, "--tss"), 0);
    snprintf(path, sizeof(path), "%s/cluster-lock.json", out);
    ck_assert_msg(lock_load(&l, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert(l.has_tss);
    ck_assert_uint_eq(l.threshold, 3);
    ck_assert_int_eq(frost_group_check(l.threshold, l.n,
                                       (const uint8_t(*)[PUBKEY_LEN])l.tss_vshares,
                                       l.tss_group_pub),
                     0);
    for (uint32_t i = 0; i < 4; i++) {
        struct config cfg;
        struct stat st;
        char *text;
        size_t len;
        uint8_t pub[PUBKEY_LEN];
        snprintf(path, sizeof(path), "%s/node%u/aequa.conf", out, i);
        /* [tss] key is written, enabled is not: TSS is switched on when the node starts. */
        ck_assert_int_eq(read_file(path, CONFIG_MAX_FILE, &text, &len), 0);
        ck_assert_ptr_nonnull(strstr(text, "\n[tss]\n"));
        ck_assert_ptr_null(strstr(text, "\nenabled"));
        free(text);
        config_defaults(&cfg);
        ck_assert_msg(config_load_file(&cfg, path, err, sizeof(err)) == 0, "%s", err);
        ck_assert_msg(config_finish(&cfg, err, sizeof(err)) == 0, "%s", err);
        ck_assert(!cfg.tss_enabled);
        snprintf(path, sizeof(path), "%s/node%u/tss.key", out, i);
        ck_assert_str_eq(cfg.tss_key, path);
        ck_assert_int_eq(stat(cfg.tss_key, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0600);
        ck_assert_msg(tss_key_load(shares[i], cfg.tss_key, err, sizeof(err)) == 0, "%s", err);
        ck_assert_int_eq(frost_public(shares[i], pub), 0);
        ck_assert_mem_eq(pub, l.tss_vshares[i], PUBKEY_LEN);
        /* The node's precheck with TSS on passes. */
        struct lock mine;
        ck_assert_msg(lock_precheck(&mine, cfg.lock, cfg.key, cfg.index, err, sizeof(err)) == 0,
                      "%s", err);
        ck_assert_msg(
            lock_precheck_tss(&mine, cfg.lock, cfg.tss_key, cfg.index, err, sizeof(err)) == 0, "%s",
            err);
        /* verify with the tss key: with the node key, alone, with the right and a wrong index. */
        char idx[8];
        ck_assert_int_eq(RUN("verify", cfg.lock, "--key", cfg.key, "--tss-key", cfg.tss_key), 0);
        ck_assert_int_eq(RUN("verify", cfg.lock, "--tss-key", cfg.tss_key), 0);
        snprintf(idx, sizeof(idx), "%u", i);
        ck_assert_int_eq(RUN("verify", cfg.lock, "--tss-key", cfg.tss_key, "--index", idx), 0);
        snprintf(idx, sizeof(idx), "%u", (i + 1) % 4);
        ck_assert_int_eq(RUN("verify", cfg.lock, "--tss-key", cfg.tss_key, "--index", idx),
                         EXIT_CONFIG);
    }
    /* Node 0's node key with node 1's share. */
    char key0[PATH_MAX], tss1[PATH_MAX];
    snprintf(path, sizeof(path), "%s/cluster-lock.json", out);
    snprintf(key0, sizeof(key0), "%s/node0/node.key", out);
    snprintf(tss1, sizeof(tss1), "%s/node1/tss.key", out);
    ck_assert_int_eq(RUN("verify", path, "--key", key0, "--tss-key", tss1), EXIT_CONFIG);

    /* Any 3 of the 4 shares make a signature that verifies under group_pubkey; 2 do not. */
    static const unsigned quorums[] = {0x7, 0xb, 0xd, 0xe, 0xf};
    for (size_t q = 0; q < ARRAY_LEN(quorums); q++)
        ck_assert_msg(sign_with(&l, shares, quorums[q]) == 0, "signers mask %x", quorums[q]);
    ck_assert_int_eq(sign_with(&l, shares, 0x5), -1);
    explicit_bzero(shares, sizeof(shares));

    /* A lock without tss: --tss-key is refused, and create without --tss writes no tss.key. */
    snprintf(out, sizeof(out), "%s/plain", dir);
    ck_assert_int_eq(RUN("create", "--nodes", "4", "--out", out), 0);
    snprintf(path, sizeof(path), "%s/cluster-lock.json", out);
    ck_assert_int_eq(RUN("verify", path, "--tss-key", tss1), EXIT_CONFIG);
    snprintf(path, sizeof(path), "%s/node0/tss.key", out);
    ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

START_TEST(long_dir_uses_short_runtime_dir)
{
    char out[512], path[PATH_MAX], err[512];
    struct config cfg;
    snprintf(out, sizeof(out), "%s/%s", dir,
             "a-rather-long-directory-name-for-a-cluster/that-pushes-ipc-paths-past-the-limit");
    ck_assert_int_eq(RUN("create", "--nodes", "1", "--out", out), 0);
    snprintf(path, sizeof(path), "%s/node0/aequa.conf", out);
    config_defaults(&cfg);
    ck_assert_msg(config_load_file(&cfg, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(config_finish(&cfg, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(strncmp(cfg.runtime_dir, "/tmp/aequa-", 11) == 0, "%s", cfg.runtime_dir);
    ck_assert_uint_eq(strlen(cfg.runtime_dir), strlen("/tmp/aequa-01234567-0"));

    /* Longer than a config line can hold: refused. */
    snprintf(out, sizeof(out), "%s/%0160d", dir, 0);
    ck_assert_int_eq(RUN("create", "--nodes", "1", "--out", out), 1);
}
END_TEST

START_TEST(verify_failures_exit_78)
{
    char out[512], path[PATH_MAX], key[PATH_MAX], other[PATH_MAX];
    snprintf(out, sizeof(out), "%s/v", dir);
    ck_assert_int_eq(RUN("create", "--nodes", "4", "--out", out), 0);
    snprintf(path, sizeof(path), "%s/cluster-lock.json", out);
    snprintf(key, sizeof(key), "%s/node1/node.key", out);
    ck_assert_int_eq(RUN("verify", path), 0);

    /* A key that is not in the lock. */
    struct node_key k;
    node_key_generate(&k);
    snprintf(other, sizeof(other), "%s/outsider.key", dir);
    ck_assert_int_eq(node_key_save(&k, other), 0);
    ck_assert_int_eq(RUN("verify", path, "--key", other), EXIT_CONFIG);
    ck_assert_int_eq(RUN("verify", path, "--key", other, "--index", "1"), EXIT_CONFIG);

    /* A tampered lock. */
    char *text;
    size_t len;
    ck_assert_int_eq(read_file(path, LOCK_MAX_FILE, &text, &len), 0);
    char *p = strstr(text, "\"threshold\": 3");
    ck_assert_ptr_nonnull(p);
    p[13] = '4';
    ck_assert_int_eq(write_file_atomic(path, text, len, 0644), 0);
    free(text);
    ck_assert_int_eq(RUN("verify", path), EXIT_CONFIG);
    ck_assert_int_eq(RUN("verify", path, "--key", key), EXIT_CONFIG);
    ck_assert_int_eq(RUN("verify", other), EXIT_CONFIG); /* not a lock at all */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cluster");
    TCase *tc = tcase_create("cluster");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, create_layout_and_configs);
    tcase_add_test(tc, create_hosts_threshold_and_usage);
    tcase_add_test(tc, create_tss);
    tcase_add_test(tc, long_dir_uses_short_runtime_dir);
    tcase_add_test(tc, verify_failures_exit_78);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
