/* Unit tests for supervisor/reach: the walk to a directory as an unprivileged user, and the
 * check of every worker's directories with the messages an operator reads. Run as root (as in
 * CI), the tests that need a denial take user nobody first, in their own forked test process. */
#include <check.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <grp.h>

#include "lib/config.h"
#include "supervisor/reach.h"

static char base[64];

static void mk(const char *rel, mode_t mode)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", base, rel);
    ck_assert_int_eq(mkdir(p, mode), 0);
    ck_assert_int_eq(chmod(p, mode), 0); /* not narrowed by the umask */
}

static void setup(void)
{
    snprintf(base, sizeof(base), "/tmp/aequa-test-reach-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(base));
    ck_assert_int_eq(chmod(base, 0755), 0);
    mk("open", 0777);
    mk("open/run", 0777);
    mk("closed", 0); /* nobody may search it, its owner neither (root may) */
    mk("closed/run", 0777);
    mk("ro", 0555);
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/file", base);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
}

static void teardown(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s'; rm -rf '%s'", base, base);
    ck_assert_int_eq(system(cmd), 0);
}

/* Root cannot be denied a search: the test process becomes nobody (it is a fork of its own). */
static void unprivileged(void)
{
    if (geteuid() != 0)
        return;
    struct passwd *pw = getpwnam("nobody");
    ck_assert_ptr_nonnull(pw);
    ck_assert_int_eq(setgroups(1, &pw->pw_gid), 0);
    ck_assert_int_eq(setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid), 0);
    ck_assert_int_eq(setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid), 0);
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0); /* LeakSanitizer reads /proc/self at exit */
}

static int walk(const char *rel, int mode, bool final, char *blocker, char *why)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", base, rel);
    return reach_walk(p, mode, final, blocker, PATH_MAX, why, 160);
}

START_TEST(walk_reachable)
{
    char blocker[PATH_MAX], why[160];
    unprivileged();
    ck_assert_int_eq(walk("open/run", W_OK | X_OK, true, blocker, why), 0);
    ck_assert_int_eq(walk("open/run/", R_OK | W_OK | X_OK, true, blocker, why), 0);
    /* A missing part ends the walk: the supervisor creates it later. */
    ck_assert_int_eq(walk("open/not/yet", W_OK | X_OK, true, blocker, why), 0);
    /* Without final only the directories above count. */
    ck_assert_int_eq(walk("ro", W_OK | X_OK, false, blocker, why), 0);
}
END_TEST

START_TEST(walk_denied)
{
    char blocker[PATH_MAX], why[160], want[PATH_MAX];
    unprivileged();
    ck_assert_int_eq(walk("closed/run", W_OK | X_OK, true, blocker, why), -1);
    snprintf(want, sizeof(want), "%s/closed", base);
    ck_assert_str_eq(blocker, want);
    ck_assert_str_eq(why, "has no search permission on");
    /* Even the part that is only looked above is named (the -n check). */
    ck_assert_int_eq(walk("closed/run", W_OK | X_OK, false, blocker, why), -1);
    ck_assert_str_eq(blocker, want);

    ck_assert_int_eq(walk("ro", R_OK | W_OK | X_OK, true, blocker, why), -1);
    snprintf(want, sizeof(want), "%s/ro", base);
    ck_assert_str_eq(blocker, want);
    ck_assert_str_eq(why, "has no write permission on");
    ck_assert_int_eq(walk("closed", R_OK | W_OK | X_OK, true, blocker, why), -1);
    ck_assert_str_eq(why, "has no read, write and search permission on");
}
END_TEST

START_TEST(walk_through_a_file)
{
    char blocker[PATH_MAX], why[160], want[PATH_MAX];
    ck_assert_int_eq(walk("file/run", W_OK | X_OK, true, blocker, why), -1);
    snprintf(want, sizeof(want), "%s/file", base);
    ck_assert_str_eq(blocker, want);
    ck_assert_str_eq(why, "finds no directory but a file at");
    ck_assert_int_eq(reach_walk("", X_OK, true, blocker, sizeof(blocker), why, sizeof(why)), -1);
}
END_TEST

static void config_for(struct config *cfg, const char *run, const char *db, const char *user)
{
    char err[256];
    config_defaults(cfg);
    snprintf(cfg->runtime_dir, sizeof(cfg->runtime_dir), "%s/%s", base, run);
    snprintf(cfg->statedb_path, sizeof(cfg->statedb_path), "%s/%s", base, db);
    ck_assert_int_eq(config_set(cfg, "supervisor", "user", user, err, sizeof(err)), 0);
}

static const char *const workers[] = {"statedb", "api", NULL};

START_TEST(check_names_directory_worker_and_user)
{
    struct config cfg;
    char err[1024], want[PATH_MAX + 64];
    /* As root the check takes user nobody in a child; unprivileged it asks for this process. */
    config_for(&cfg, "open/run", "open/db", "nobody");
    ck_assert_msg(reach_check(&cfg, workers, true, err, sizeof(err)) == 0, "%s", err);

    config_for(&cfg, "closed/run", "open/db", "nobody");
    ck_assert_int_eq(reach_check(&cfg, workers, true, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "[node] runtime_dir %s/closed/run: user '", base);
    ck_assert_msg(strstr(err, want) == err, "%s", err);
    snprintf(want, sizeof(want),
             "' of the statedb worker has no search permission on %s/closed (mode 0000, owner ",
             base);
    ck_assert_msg(strstr(err, want) != NULL, "%s", err);

    /* Only the StateDB worker needs its database directory. */
    config_for(&cfg, "open/run", "ro", "nobody");
    ck_assert_int_eq(reach_check(&cfg, workers, true, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "[statedb] path ") == err && strstr(err, "of the statedb worker") &&
                      strstr(err, "has no write permission on"),
                  "%s", err);
    static const char *const api_only[] = {"api", NULL};
    ck_assert_int_eq(reach_check(&cfg, api_only, true, err, sizeof(err)), 0);
}
END_TEST

START_TEST(check_unknown_user)
{
    struct config cfg;
    char err[1024];
    if (geteuid() != 0)
        return; /* unprivileged, the workers keep this process's user: no user is looked up */
    config_for(&cfg, "open/run", "open/db", "no-such-user-aequa");
    ck_assert_int_eq(reach_check(&cfg, workers, true, err, sizeof(err)), -1);
    ck_assert_str_eq(err,
                     "[supervisor] user of the statedb worker: no such user 'no-such-user-aequa'");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reach");
    TCase *tc = tcase_create("core");
    tcase_add_unchecked_fixture(tc, setup, teardown); /* the tests may drop to nobody */
    tcase_add_test(tc, walk_reachable);
    tcase_add_test(tc, walk_denied);
    tcase_add_test(tc, walk_through_a_file);
    tcase_add_test(tc, check_names_directory_worker_and_user);
    tcase_add_test(tc, check_unknown_user);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
