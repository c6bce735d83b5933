#include "statedb_testutil.h"
#include "lib/util.h"

#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const uint8_t tu_lock[RECORD_LOCK_HASH] = {0xaa, 0xbb, 0xcc, 1, 2, 3};

static char tmpdir[256];
static char dbpath[PATH_MAX];
/* Reply bodies handed out by tu_run, released by tu_cleanup. */
static void **kept;
static size_t nkept;

const char *tu_tmpdb(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/aequa-sdb-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(dbpath, sizeof(dbpath), "%s/db", tmpdir);
    return dbpath;
}

void tu_cleanup(void)
{
    char cmd[PATH_MAX + 16];
    for (size_t i = 0; i < nkept; i++)
        free(kept[i]);
    free(kept);
    kept = NULL;
    nkept = 0;
    if (!tmpdir[0])
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    tmpdir[0] = 0;
}

struct store_opts tu_opts(const char *path)
{
    return (struct store_opts){
        .path = path, .lock_hash = tu_lock, .node_index = 0, .sync = true, .checkpoints_keep = 3};
}

struct store *tu_open(const char *path)
{
    struct store *st;
    char err[2048];
    struct store_opts o = tu_opts(path);
    int rc = store_open(&st, &o, err, sizeof(err));
    ck_assert_msg(rc == STORE_OK, "store_open: %s", err);
    return st;
}

/* Newest file in dir with the given suffix, by its number (RocksDB numbers files upward). */
static void newest(const char *dir, const char *suffix, char *out, size_t outsz)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    long best = -1;
    char name[256] = "";
    struct dirent *de;
    size_t sl = strlen(suffix);
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l <= sl || strcmp(de->d_name + l - sl, suffix))
            continue;
        long n = strtol(de->d_name, NULL, 10);
        if (n > best) {
            best = n;
            snprintf(name, sizeof(name), "%s", de->d_name);
        }
    }
    closedir(d);
    if (best < 0)
        out[0] = 0;
    else
        snprintf(out, outsz, "%s/%s", dir, name);
}

void tu_newest_sst(const char *dir, char *out, size_t outsz)
{
    newest(dir, ".sst", out, outsz);
}

void tu_newest_log(const char *dir, char *out, size_t outsz)
{
    newest(dir, ".log", out, outsz);
}

void tu_manifest(const char *dir, char *out, size_t outsz)
{
    char p[PATH_MAX], name[256] = "";
    snprintf(p, sizeof(p), "%s/CURRENT", dir);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(name, sizeof(name), f));
    fclose(f);
    name[strcspn(name, "\n")] = 0;
    snprintf(out, outsz, "%s/%s", dir, name);
}

void tu_truncate(const char *path, long size)
{
    ck_assert_msg(truncate(path, size) == 0, "truncate %s", path);
}

long tu_file_size(const char *path)
{
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    return (long)sb.st_size;
}

int tu_count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (!strncmp(de->d_name, prefix, strlen(prefix)))
            n++;
    closedir(d);
    return n;
}

int tu_count_suffix(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    size_t sl = strlen(suffix);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > sl && !strcmp(de->d_name + l - sl, suffix))
            n++;
    }
    closedir(d);
    return n;
}

int tu_run(struct store *st, const struct sdb_req *req, struct sdb_reply *rep)
{
    struct statedb_op op;
    memset(&op, 0, sizeof(op));
    sdb_req_encode(&op.body, req);
    ck_assert_int_eq(sdb_req_decode(&op.req, req->type, op.body.data, op.body.len), 0);
    statedb_group_commit(st, &op, 1);
    struct sdb_reply tmp;
    ck_assert_int_eq(sdb_reply_decode(&tmp, op.out.type, op.out.body.data, op.out.body.len), 0);
    ck_assert_uint_eq(tmp.status, op.out.status);
    /* The reply points into op.out.body: hand the caller a body that lives on. */
    uint8_t *keep = malloc(op.out.body.len);
    memcpy(keep, op.out.body.data, op.out.body.len);
    sdb_reply_free(&tmp);
    ck_assert_int_eq(sdb_reply_decode(rep, op.out.type, keep, op.out.body.len), 0);
    statedb_op_free(&op);
    kept = xrealloc(kept, (nkept + 1) * sizeof(*kept));
    kept[nkept++] = keep;
    return rep->status;
}

int tu_append(struct store *st, uint8_t dtype, uint64_t height, uint32_t round, uint8_t mtype,
              const char *msg)
{
    struct sdb_req r = {.type = SDB_APPEND_INTENT};
    r.u.append.k = (struct sdb_intent_key){dtype, height, round, mtype};
    r.u.append.msg = (struct sdb_bytes){(const uint8_t *)msg, (uint32_t)strlen(msg)};
    struct sdb_reply rep;
    int status = tu_run(st, &r, &rep);
    sdb_reply_free(&rep);
    return status;
}
