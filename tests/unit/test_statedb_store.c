/* Unit tests for workers/statedb/store (binding, checkpoints, pessimistic recovery) and the
 * read-only reader of lib/db/db.h. */
#include <check.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/metrics.h"
#include "statedb_testutil.h"
#include "lib/db/dirutil.h"

static double recoveries(const char *result)
{
    return metric_value(metric("state_recovery_total", result));
}

static bool has_intent(const struct db *h, uint64_t height, const char *msg)
{
    uint8_t k[RECORD_WAL_KEY_LEN];
    struct db_value v;
    record_wal_key(k, &(struct sdb_intent_key){0, height, 1, QBFT_PREPARE});
    int rc = db_get(h, SDB_CF_WAL, k, sizeof(k), &v, NULL, 0);
    ck_assert_int_ge(rc, 0);
    if (rc == 1)
        return false;
    bool same = v.len == strlen(msg) && !memcmp(v.p, msg, v.len);
    db_value_free(&v);
    ck_assert_msg(same, "intent at height %llu has other bytes", (unsigned long long)height);
    return true;
}

static void append(struct store *st, uint64_t height, const char *msg)
{
    ck_assert_int_eq(tu_append(st, 0, height, 1, QBFT_PREPARE, msg), SDB_OK);
}

static uint64_t checkpoint(struct store *st)
{
    uint64_t ms;
    char err[512];
    ck_assert_msg(store_checkpoint(st, &ms, err, sizeof(err)) == 0, "checkpoint: %s", err);
    return ms;
}

static void ckpath(const char *db, uint64_t name, char *out, size_t outsz)
{
    char dir[PATH_MAX / 2];
    store_checkpoint_dir(db, dir, sizeof(dir));
    snprintf(out, outsz, "%s/%llu", dir, (unsigned long long)name);
}

START_TEST(fresh_open_binds_meta)
{
    const char *db = tu_tmpdb();
    struct store *st = tu_open(db);
    const struct db_meta *m = store_meta(st);
    ck_assert_uint_eq(m->schema, RECORD_SCHEMA);
    ck_assert(!memcmp(m->lock_hash, tu_lock, RECORD_LOCK_HASH));
    ck_assert_uint_eq(m->node_index, 0);
    ck_assert_uint_gt(m->created_ms, 0);
    ck_assert(!m->fallback.fallback);
    ck_assert_int_eq(store_open_result(st), STORE_RECOVERY_OK);
    append(st, 1, "a");
    store_close(st);
    st = tu_open(db);
    ck_assert(has_intent(store_db(st), 1, "a"));
    store_close(st);
    ck_assert_double_eq(recoveries("ok"), 2);
    tu_cleanup();
}
END_TEST

START_TEST(creates_missing_parents)
{
    char deep[PATH_MAX];
    snprintf(deep, sizeof(deep), "%s/a/b/db", tu_tmpdb());
    struct store *st = tu_open(deep);
    ck_assert_int_eq(store_open_result(st), STORE_RECOVERY_OK);
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(other_cluster_or_node_refused)
{
    const char *db = tu_tmpdb();
    store_close(tu_open(db));
    struct store *st;
    char err[1024];
    uint8_t other[RECORD_LOCK_HASH] = {0x11};
    struct store_opts o = tu_opts(db);
    o.lock_hash = other;
    ck_assert_int_eq(store_open(&st, &o, err, sizeof(err)), STORE_E_BINDING);
    ck_assert_ptr_null(st);
    ck_assert_ptr_nonnull(strstr(err, "belongs to cluster aabbcc010203"));
    o = tu_opts(db);
    o.node_index = 1;
    ck_assert_int_eq(store_open(&st, &o, err, sizeof(err)), STORE_E_BINDING);
    ck_assert_ptr_nonnull(strstr(err, "node 0, but this node is cluster"));
    /* Refusing touched nothing: the right node still opens it cleanly. */
    st = tu_open(db);
    ck_assert_int_eq(store_open_result(st), STORE_RECOVERY_OK);
    store_close(st);
    ck_assert_double_eq(recoveries("fallback"), 0);
    tu_cleanup();
}
END_TEST

START_TEST(newer_schema_refused)
{
    const char *db = tu_tmpdb();
    struct store *st = tu_open(db);
    uint8_t v[4];
    char err[512];
    record_put_u32(v, RECORD_SCHEMA + 1);
    struct store_batch *b = store_batch_new(st);
    store_batch_put(b, SDB_CF_META, RECORD_META_SCHEMA, strlen(RECORD_META_SCHEMA), v, 4);
    ck_assert_int_eq(store_batch_write(b, err, sizeof(err)), 0);
    store_batch_free(b);
    store_close(st);
    struct store_opts o = tu_opts(db);
    ck_assert_int_eq(store_open(&st, &o, err, sizeof(err)), STORE_E_BINDING);
    ck_assert_ptr_nonnull(strstr(err, "schema version 2, newer than this build's 1"));
    tu_cleanup();
}
END_TEST

START_TEST(read_only_open_beside_writer)
{
    const char *db = tu_tmpdb();
    struct store *st = tu_open(db);
    struct db_reader *ro;
    append(st, 7, "seven");
    char err[512];
    ck_assert_msg(db_reader_open(&ro, db, err, sizeof(err)) == 0, "%s", err);
    ck_assert(has_intent(db_reader_db(ro), 7, "seven"));
    ck_assert(!memcmp(db_reader_meta(ro)->lock_hash, tu_lock, RECORD_LOCK_HASH));
    /* The writer goes on beside it. */
    append(st, 8, "eight");
    ck_assert(has_intent(store_db(st), 8, "eight"));
    db_reader_close(ro);
    store_close(st);
    /* The read-only open counted no recovery. */
    ck_assert_double_eq(recoveries("ok"), 1);
    ck_assert_int_eq(db_reader_open(&ro, "/nonexistent/aequa/db", err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "no database at"));
    tu_cleanup();
}
END_TEST

START_TEST(checkpoints_kept_and_private)
{
    const char *db = tu_tmpdb();
    struct store *st = tu_open(db);
    uint64_t names[8], taken[5];
    for (int i = 0; i < 5; i++) {
        char msg[16];
        snprintf(msg, sizeof(msg), "m%d", i);
        append(st, (uint64_t)i, msg);
        taken[i] = checkpoint(st);
        if (i)
            ck_assert_uint_gt(taken[i], taken[i - 1]);
    }
    ck_assert_int_eq(store_checkpoint_list(db, names, 8), 3);
    ck_assert_uint_eq(names[0], taken[4]);
    ck_assert_uint_eq(names[2], taken[2]);
    /* No file of a checkpoint shares its inode with the live database. */
    char ck[PATH_MAX], sst[PATH_MAX];
    ckpath(db, names[0], ck, sizeof(ck));
    tu_newest_sst(ck, sst, sizeof(sst));
    ck_assert(sst[0]);
    struct stat sb;
    ck_assert_int_eq(stat(sst, &sb), 0);
    ck_assert_uint_eq(sb.st_nlink, 1);
    store_close(st);
    tu_cleanup();
}
END_TEST

/* A: before checkpoint 1; B: between 1 and 2 (the newest SST); C: after 2 (WAL only). */
static uint64_t build_history(const char *db, uint64_t *first)
{
    struct store *st = tu_open(db);
    append(st, 1, "A");
    *first = checkpoint(st);
    append(st, 2, "B");
    uint64_t second = checkpoint(st);
    append(st, 3, "C");
    store_close(st);
    return second;
}

static void assert_fallback_to(const char *db, uint64_t ck, const char *needle)
{
    struct store *st = tu_open(db);
    ck_assert_int_eq(store_open_result(st), STORE_RECOVERY_FALLBACK);
    const struct sdb_hello_info *f = &store_meta(st)->fallback;
    ck_assert(f->fallback);
    ck_assert_uint_eq(f->checkpoint_ms, ck);
    ck_assert_msg(strstr(f->detail, needle), "detail lacks '%s': %s", needle, f->detail);
    ck_assert(has_intent(store_db(st), 1, "A"));
    ck_assert(has_intent(store_db(st), 2, "B"));
    ck_assert(
        !has_intent(store_db(st), 3, "C")); /* written after the checkpoint: lost, and reported */
    store_close(st);
    ck_assert_double_eq(recoveries("fallback"), 1);
    /* The damaged database was moved aside, not deleted. */
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", db);
    *strrchr(parent, '/') = 0;
    ck_assert_int_eq(tu_count_entries(parent, "db.corrupt-"), 1);
    /* The next open is clean but still reports the fallback (QBFT must keep abstaining). */
    st = tu_open(db);
    ck_assert_int_eq(store_open_result(st), STORE_RECOVERY_OK);
    ck_assert(store_meta(st)->fallback.fallback);
    store_close(st);
}

START_TEST(truncated_sst_falls_back)
{
    const char *db = tu_tmpdb();
    uint64_t first, second = build_history(db, &first);
    char sst[PATH_MAX];
    tu_newest_sst(db, sst, sizeof(sst));
    ck_assert(sst[0]);
    tu_truncate(sst, tu_file_size(sst) / 2);
    assert_fallback_to(db, second, strrchr(sst, '/') + 1);
    /* The truncated file is still there, in the moved-aside copy. */
    char parent[PATH_MAX], cmd[PATH_MAX * 2];
    snprintf(parent, sizeof(parent), "%s", db);
    *strrchr(parent, '/') = 0;
    snprintf(cmd, sizeof(cmd), "test -f %s/db.corrupt-*/%s", parent, strrchr(sst, '/') + 1);
    ck_assert_int_eq(system(cmd), 0);
    tu_cleanup();
}
END_TEST

START_TEST(truncated_manifest_falls_back)
{
    const char *db = tu_tmpdb();
    uint64_t first, second = build_history(db, &first);
    char man[PATH_MAX], parent[PATH_MAX];
    tu_manifest(db, man, sizeof(man));
    tu_truncate(man, tu_file_size(man) / 2);
    int ssts = tu_count_suffix(db, ".sst");
    ck_assert_int_gt(ssts, 0);
    assert_fallback_to(db, second, strrchr(man, '/') + 1);
    /* The verification ran read-only: RocksDB deleted none of the SST files the truncated
     * MANIFEST no longer lists, so the moved-aside copy has them all. */
    snprintf(parent, sizeof(parent), "%s", db);
    *strrchr(parent, '/') = 0;
    glob_t g;
    char pattern[PATH_MAX + 16];
    snprintf(pattern, sizeof(pattern), "%s/db.corrupt-*", parent);
    ck_assert_int_eq(glob(pattern, 0, NULL, &g), 0);
    ck_assert_uint_eq(g.gl_pathc, 1);
    ck_assert_int_eq(tu_count_suffix(g.gl_pathv[0], ".sst"), ssts);
    globfree(&g);
    tu_cleanup();
}
END_TEST

START_TEST(checksum_damage_found_by_verification)
{
    const char *db = tu_tmpdb();
    uint64_t first, second = build_history(db, &first);
    char sst[PATH_MAX];
    tu_newest_sst(db, sst, sizeof(sst));
    /* Flip bytes inside the first data block: the open succeeds, the read pass does not. */
    FILE *f = fopen(sst, "r+");
    ck_assert_ptr_nonnull(f);
    fseek(f, 8, SEEK_SET);
    fputs("\xff\xfe\xfd\xfc", f);
    fclose(f);
    assert_fallback_to(db, second, "checksum");
    tu_cleanup();
}
END_TEST

START_TEST(missing_database_with_checkpoints_falls_back)
{
    const char *db = tu_tmpdb();
    uint64_t first, second = build_history(db, &first);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", db);
    ck_assert_int_eq(system(cmd), 0);
    struct store *st = tu_open(db);
    ck_assert_int_eq(store_open_result(st), STORE_RECOVERY_FALLBACK);
    ck_assert_uint_eq(store_meta(st)->fallback.checkpoint_ms, second);
    ck_assert_ptr_nonnull(strstr(store_meta(st)->fallback.detail, "missing"));
    ck_assert(has_intent(store_db(st), 2, "B"));
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(damaged_newest_checkpoint_skipped)
{
    const char *db = tu_tmpdb();
    uint64_t first, second = build_history(db, &first);
    char sst[PATH_MAX], ck[PATH_MAX];
    tu_newest_sst(db, sst, sizeof(sst));
    tu_truncate(sst, 10);
    ckpath(db, second, ck, sizeof(ck));
    tu_newest_sst(ck, sst, sizeof(sst));
    tu_truncate(sst, 10);
    struct store *st = tu_open(db);
    ck_assert_int_eq(store_open_result(st), STORE_RECOVERY_FALLBACK);
    ck_assert_uint_eq(store_meta(st)->fallback.checkpoint_ms, first);
    ck_assert(has_intent(store_db(st), 1, "A"));
    ck_assert(!has_intent(store_db(st), 2, "B"));
    store_close(st);
    tu_cleanup();
}
END_TEST

/* Damage file (the newest SST or the MANIFEST) of a database that has no checkpoint: refused,
 * with a message naming it, and nothing moved. */
static void refuses_without_checkpoint(bool manifest)
{
    const char *db = tu_tmpdb();
    struct store *st = tu_open(db);
    append(st, 1, "A");
    checkpoint(st); /* flushes A into an SST ... */
    append(st, 2, "B");
    store_close(st);
    char dir[PATH_MAX], cmd[PATH_MAX + 16], victim[PATH_MAX], err[4096];
    store_checkpoint_dir(db, dir, sizeof(dir));
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir); /* ... then no checkpoint is left */
    ck_assert_int_eq(system(cmd), 0);
    if (manifest)
        tu_manifest(db, victim, sizeof(victim));
    else
        tu_newest_sst(db, victim, sizeof(victim));
    tu_truncate(victim, tu_file_size(victim) / 2);
    struct store_opts o = tu_opts(db);
    ck_assert_int_eq(store_open(&st, &o, err, sizeof(err)), STORE_E_DAMAGED);
    ck_assert_ptr_null(st);
    ck_assert_msg(strstr(err, "is damaged") && strstr(err, strrchr(victim, '/') + 1) &&
                      strstr(err, "no usable checkpoint") && strstr(err, "none found") &&
                      strstr(err, "nothing was moved"),
                  "message: %s", err);
    ck_assert_double_eq(recoveries("fail"), 1);
    ck_assert_double_eq(recoveries("fallback"), 0);
    /* Nothing moved: the damaged database is where it was, for the operator to inspect. */
    ck_assert(path_exists(victim));
    snprintf(dir, sizeof(dir), "%s", db);
    *strrchr(dir, '/') = 0;
    ck_assert_int_eq(tu_count_entries(dir, "db.corrupt-"), 0);
    /* Still refused on the next start (the supervisor's restart changes nothing). */
    ck_assert_int_eq(store_open(&st, &o, err, sizeof(err)), STORE_E_DAMAGED);
    tu_cleanup();
}

START_TEST(truncated_sst_without_checkpoint_refuses)
{
    refuses_without_checkpoint(false);
}
END_TEST

START_TEST(truncated_manifest_without_checkpoint_refuses)
{
    refuses_without_checkpoint(true);
}
END_TEST

START_TEST(lock_held_is_not_damage)
{
    const char *db = tu_tmpdb();
    struct store *st = tu_open(db), *st2;
    char err[1024];
    struct store_opts o = tu_opts(db);
    checkpoint(st);
    ck_assert_int_eq(store_open(&st2, &o, err, sizeof(err)), STORE_E_IO);
    ck_assert_ptr_nonnull(strstr(err, "in use by another process"));
    store_close(st);
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", db);
    *strrchr(parent, '/') = 0;
    ck_assert_int_eq(tu_count_entries(parent, "db.corrupt-"), 0);
    ck_assert_double_eq(recoveries("fallback"), 0);
    tu_cleanup();
}
END_TEST

/* A crash cut the last WAL record short: everything before it survives and the open is clean
 * (no fallback). The writer dies without closing, as in a crash. */
START_TEST(torn_wal_tail_tolerated)
{
    const char *db = tu_tmpdb();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct store *st = tu_open(db);
        append(st, 1, "first");
        append(st, 2, "second");
        append(st, 3, "third-record-with-some-length");
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char log[PATH_MAX];
    tu_newest_log(db, log, sizeof(log));
    tu_truncate(log, tu_file_size(log) - 5);
    struct store *st = tu_open(db);
    ck_assert_int_eq(store_open_result(st), STORE_RECOVERY_OK);
    ck_assert(has_intent(store_db(st), 1, "first"));
    ck_assert(has_intent(store_db(st), 2, "second"));
    ck_assert(!has_intent(store_db(st), 3, "third-record-with-some-length"));
    store_close(st);
    tu_cleanup();
}
END_TEST

/* The same loss after a clean close is not a torn write but lost acknowledged data. */
START_TEST(lost_acknowledged_write_is_damage)
{
    const char *db = tu_tmpdb();
    struct store *st = tu_open(db);
    append(st, 1, "first");
    checkpoint(st);
    append(st, 2, "second");
    store_close(st);
    char log[PATH_MAX];
    tu_newest_log(db, log, sizeof(log));
    tu_truncate(log, tu_file_size(log) - 3);
    st = tu_open(db);
    ck_assert_int_eq(store_open_result(st), STORE_RECOVERY_FALLBACK);
    ck_assert_ptr_nonnull(strstr(store_meta(st)->fallback.detail, "acknowledged writes were lost"));
    ck_assert(has_intent(store_db(st), 1, "first"));
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(damage_classification)
{
    ck_assert(db_error_is_damage("open: Corruption: file is too short"));
    ck_assert(db_error_is_damage(
        "open: IO error: No such file or directory: While opening a file for sequentially "
        "reading: db/MANIFEST-000025: No such file or directory"));
    ck_assert(db_error_is_damage(
        "open: Invalid argument: db/CURRENT: does not exist (create_if_missing is false)"));
    ck_assert(!db_error_is_damage(
        "open: IO error: While lock file: db/LOCK: Resource temporarily unavailable"));
    ck_assert(!db_error_is_damage(
        "open: IO error: lock hold by current process, acquire time 1 acquiring thread 2: "
        "db/LOCK: No locks available"));
    ck_assert(!db_error_is_damage("open: IO error: While open a file: Permission denied"));
    ck_assert(!db_error_is_damage("open: IO error: No space left on device"));
}
END_TEST

START_TEST(unsynced_store_counts_no_syncs)
{
    const char *db = tu_tmpdb();
    struct store *st;
    char err[512];
    struct store_opts o = tu_opts(db);
    o.sync = false;
    ck_assert_int_eq(store_open(&st, &o, err, sizeof(err)), STORE_OK);
    append(st, 1, "x");
    struct store_stats s;
    store_get_stats(st, &s);
    ck_assert_uint_eq(s.writes, 1);
    ck_assert_uint_eq(s.synced_writes, 0);
    ck_assert(!store_sync(st));
    store_close(st);
    tu_cleanup();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("statedb_store");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fresh_open_binds_meta);
    tcase_add_test(tc, creates_missing_parents);
    tcase_add_test(tc, other_cluster_or_node_refused);
    tcase_add_test(tc, newer_schema_refused);
    tcase_add_test(tc, read_only_open_beside_writer);
    tcase_add_test(tc, checkpoints_kept_and_private);
    tcase_add_test(tc, truncated_sst_falls_back);
    tcase_add_test(tc, truncated_manifest_falls_back);
    tcase_add_test(tc, checksum_damage_found_by_verification);
    tcase_add_test(tc, missing_database_with_checkpoints_falls_back);
    tcase_add_test(tc, damaged_newest_checkpoint_skipped);
    tcase_add_test(tc, truncated_sst_without_checkpoint_refuses);
    tcase_add_test(tc, truncated_manifest_without_checkpoint_refuses);
    tcase_add_test(tc, lock_held_is_not_damage);
    tcase_add_test(tc, torn_wal_tail_tolerated);
    tcase_add_test(tc, lost_acknowledged_write_is_damage);
    tcase_add_test(tc, damage_classification);
    tcase_add_test(tc, unsynced_store_counts_no_syncs);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
