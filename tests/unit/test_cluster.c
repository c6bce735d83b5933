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
    ck_assert_int_eq(RUN("create", "--nodes", "4", "--out", out, "--tss"), 2);
    ck_assert_int_eq(access(out, F_OK), -1); /* nothing written by a refused command */
    ck_assert_int_eq(RUN("frobnicate"), 2);
    ck_assert_int_eq(RUN("verify"), 2);
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
    tcase_add_test(tc, long_dir_uses_short_runtime_dir);
    tcase_add_test(tc, verify_failures_exit_78);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
