#include "lib/db/db.h"
#include "lib/db/dirutil.h"
#include "lib/util.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cf_names[DB_NCF] = {"default", "meta",    "wal",  "duties",
                                             "decided", "mempool", "chain"};
#define CF(cf) ((cf) + 1)

/* rocksdb WALRecoveryMode: a torn last record (a write cut short by a crash, never acknowledged)
 * is tolerated; corruption anywhere else fails the open instead of silently dropping what
 * follows it (kPointInTimeRecovery would). */
#define WAL_TOLERATE_CORRUPTED_TAIL 0
#define INFO_LOG_WARN               2

void db_seterr(char *err, size_t errsz, const char *fmt, ...)
{
    if (!err || !errsz)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

/* Move a RocksDB error into err (prefixed with what) and free it. */
static int take_err(char **e, char *err, size_t errsz, const char *what)
{
    db_seterr(err, errsz, "%s: %s", what, *e);
    rocksdb_free(*e);
    *e = NULL;
    return -1;
}

/* ---- open ---- */

/* Substrings of RocksDB statuses that mean the files are damaged or missing. Anything else (a
 * lock held by another process, permissions, a full disk) is not ours to repair. */
static const char *const damage_markers[] = {
    "Corruption",
    "No such file or directory",
    "does not exist (create_if_missing is false)",
    "checksum mismatch",
    "truncated",
};

bool db_error_is_damage(const char *msg)
{
    if (strstr(msg, "lock") && strstr(msg, "Resource temporarily unavailable"))
        return false;
    for (size_t i = 0; i < ARRAY_LEN(damage_markers); i++)
        if (strstr(msg, damage_markers[i]))
            return true;
    return false;
}

int db_path(const char *statedb_dir, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "%s/" DB_DIR_NAME, statedb_dir);
    return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

bool db_present(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return false;
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, "LOCK") || !strncmp(n, "LOG", 3))
            continue;
        found = true;
    }
    closedir(d);
    return found;
}

void db_close(struct db *h)
{
    for (int i = 0; i < DB_NCF; i++)
        if (h->cf[i])
            rocksdb_column_family_handle_destroy(h->cf[i]);
    if (h->rdb)
        rocksdb_close(h->rdb);
    if (h->opts)
        rocksdb_options_destroy(h->opts);
    if (h->ro)
        rocksdb_readoptions_destroy(h->ro);
    memset(h, 0, sizeof(*h));
}

/* Point deletes (a prune) in a window of this many entries of an SST file mark the file for
 * compaction once they reach the trigger, so pruned records leave the disk soon. */
#define DELETION_WINDOW  1024
#define DELETION_TRIGGER 256

static void set_memory(rocksdb_options_t *o, const struct db_memory *mem)
{
    if (mem->block_cache_bytes) {
        rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
        rocksdb_cache_t *cache = rocksdb_cache_create_lru(mem->block_cache_bytes);
        rocksdb_block_based_options_set_block_cache(t, cache);
        rocksdb_block_based_options_set_cache_index_and_filter_blocks(t, 1);
        rocksdb_options_set_block_based_table_factory(o, t); /* holds the cache from now on */
        rocksdb_cache_destroy(cache);
        rocksdb_block_based_options_destroy(t);
    }
    if (mem->write_buffer_bytes) {
        /* Each family's memtable is at most a quarter of the budget, two of them (one
         * flushing); the budget for all of them together flushes the largest when full. */
        size_t each = mem->write_buffer_bytes / 4;
        rocksdb_options_set_db_write_buffer_size(o, mem->write_buffer_bytes);
        rocksdb_options_set_write_buffer_size(o, each < (1u << 20) ? (1u << 20) : each);
        rocksdb_options_set_max_write_buffer_number(o, 2);
    }
    rocksdb_options_set_max_open_files(o, DB_MAX_OPEN_FILES);
    rocksdb_options_add_compact_on_deletion_collector_factory(o, DELETION_WINDOW, DELETION_TRIGGER);
}

int db_open(struct db *h, const char *path, bool create, bool read_only, const char *logdir,
            const struct db_memory *mem, char *err, size_t errsz)
{
    char *e = NULL;
    memset(h, 0, sizeof(*h));
    h->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(h->opts, create);
    rocksdb_options_set_create_missing_column_families(h->opts, !read_only);
    rocksdb_options_set_paranoid_checks(h->opts, 1);
    rocksdb_options_set_max_file_opening_threads(h->opts, 1);
    rocksdb_options_set_wal_recovery_mode(h->opts, WAL_TOLERATE_CORRUPTED_TAIL);
    rocksdb_options_set_info_log_level(h->opts, INFO_LOG_WARN);
    rocksdb_options_set_keep_log_file_num(h->opts, 3);
    rocksdb_options_set_max_log_file_size(h->opts, 1 << 20);
    if (logdir)
        rocksdb_options_set_db_log_dir(h->opts, logdir);
    if (mem)
        set_memory(h->opts, mem);
    h->ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_verify_checksums(h->ro, 1);
    const rocksdb_options_t *cfo[DB_NCF];
    for (int i = 0; i < DB_NCF; i++)
        cfo[i] = h->opts;
    if (read_only)
        h->rdb = rocksdb_open_for_read_only_column_families(h->opts, path, DB_NCF, cf_names, cfo,
                                                            h->cf, 0, &e);
    else
        h->rdb = rocksdb_open_column_families(h->opts, path, DB_NCF, cf_names, cfo, h->cf, &e);
    if (e) {
        memset(h->cf, 0, sizeof(h->cf));
        h->rdb = NULL;
        take_err(&e, err, errsz, "open");
        db_close(h);
        return -1;
    }
    return 0;
}

rocksdb_column_family_handle_t *db_cf(const struct db *h, enum sdb_cf cf)
{
    return h->cf[CF(cf)];
}

/* ---- reads ---- */

int db_get(const struct db *h, enum sdb_cf cf, const void *key, size_t klen, struct db_value *v,
           char *err, size_t errsz)
{
    char *e = NULL;
    v->p = (uint8_t *)rocksdb_get_cf(h->rdb, h->ro, h->cf[CF(cf)], key, klen, &v->len, &e);
    if (e)
        return take_err(&e, err, errsz, "get");
    return v->p ? 0 : 1;
}

void db_value_free(struct db_value *v)
{
    if (v->p)
        rocksdb_free(v->p);
    v->p = NULL;
    v->len = 0;
}

struct db_iter {
    rocksdb_iterator_t *it;
};

struct db_iter *db_iter_new(const struct db *h, enum sdb_cf cf)
{
    struct db_iter *it = xcalloc(1, sizeof(*it));
    it->it = rocksdb_create_iterator_cf(h->rdb, h->ro, h->cf[CF(cf)]);
    return it;
}

void db_iter_seek(struct db_iter *it, const void *key, size_t klen)
{
    rocksdb_iter_seek(it->it, key, klen);
}

void db_iter_seek_first(struct db_iter *it)
{
    rocksdb_iter_seek_to_first(it->it);
}

void db_iter_seek_for_prev(struct db_iter *it, const void *key, size_t klen)
{
    rocksdb_iter_seek_for_prev(it->it, key, klen);
}

bool db_iter_valid(const struct db_iter *it)
{
    return rocksdb_iter_valid(it->it);
}

void db_iter_next(struct db_iter *it)
{
    rocksdb_iter_next(it->it);
}

const uint8_t *db_iter_key(const struct db_iter *it, size_t *len)
{
    return (const uint8_t *)rocksdb_iter_key(it->it, len);
}

const uint8_t *db_iter_value(const struct db_iter *it, size_t *len)
{
    return (const uint8_t *)rocksdb_iter_value(it->it, len);
}

int db_iter_error(const struct db_iter *it, char *err, size_t errsz)
{
    char *e = NULL;
    rocksdb_iter_get_error(it->it, &e);
    return e ? take_err(&e, err, errsz, "iterate") : 0;
}

void db_iter_free(struct db_iter *it)
{
    if (!it)
        return;
    rocksdb_iter_destroy(it->it);
    free(it);
}

/* ---- meta ---- */

/* Read one fixed-size meta value: 0 ok, 1 absent, -1 damaged (why set). */
static int meta_fixed(const struct db *h, const char *key, void *out, size_t len, char *why,
                      size_t whysz)
{
    struct db_value v;
    char e[256];
    int rc = db_get(h, SDB_CF_META, key, strlen(key), &v, e, sizeof(e));
    if (rc < 0) {
        db_seterr(why, whysz, "meta %s: %s", key, e);
        return -1;
    }
    if (rc == 1)
        return 1;
    if (v.len != len) {
        db_seterr(why, whysz, "meta %s has %zu bytes, expected %zu", key, v.len, len);
        db_value_free(&v);
        return -1;
    }
    memcpy(out, v.p, len);
    db_value_free(&v);
    return 0;
}

enum db_meta_status db_meta_read(const struct db *h, struct db_meta *m, uint64_t records, char *why,
                                 size_t whysz)
{
    uint8_t b4[4], b8[8];
    memset(m, 0, sizeof(*m));
    why[0] = 0;
    int rc = meta_fixed(h, RECORD_META_SCHEMA, b4, 4, why, whysz);
    if (rc < 0)
        return DB_META_DAMAGED;
    if (rc == 1) {
        if (records == 0)
            return DB_META_FRESH;
        db_seterr(why, whysz, "meta has no schema version but the database holds %llu records",
                  (unsigned long long)records);
        return DB_META_DAMAGED;
    }
    m->schema = record_get_u32(b4);
    if (m->schema == 0) {
        db_seterr(why, whysz, "meta schema version is 0");
        return DB_META_DAMAGED;
    }
    if (meta_fixed(h, RECORD_META_LOCK_HASH, m->lock_hash, RECORD_LOCK_HASH, why, whysz) != 0 ||
        meta_fixed(h, RECORD_META_NODE_INDEX, b8, 8, why, whysz) != 0) {
        if (!why[0])
            db_seterr(why, whysz, "meta lock_hash or node_index missing");
        return DB_META_DAMAGED;
    }
    m->node_index = record_get_u64(b8);
    if (meta_fixed(h, RECORD_META_CREATED, b8, 8, why, whysz) == 0)
        m->created_ms = record_get_u64(b8);
    struct db_value v;
    char e[256];
    rc = db_get(h, SDB_CF_META, RECORD_META_FALLBACK, strlen(RECORD_META_FALLBACK), &v, e,
                sizeof(e));
    if (rc < 0) {
        db_seterr(why, whysz, "meta fallback: %s", e);
        return DB_META_DAMAGED;
    }
    if (rc == 0) {
        int bad = record_fallback_decode(&m->fallback, v.p, v.len);
        db_value_free(&v);
        if (bad) {
            db_seterr(why, whysz, "meta fallback record is malformed");
            return DB_META_DAMAGED;
        }
    }
    return DB_META_OK;
}

/* ---- the read-only reader ---- */

struct db_reader {
    struct db h;
    struct db_meta meta;
    char *path;
    char *logdir;
};

void db_reader_close(struct db_reader *r)
{
    if (!r)
        return;
    db_close(&r->h);
    if (r->logdir) {
        dir_remove(r->logdir);
        free(r->logdir);
    }
    free(r->path);
    free(r);
}

int db_reader_open(struct db_reader **out, const char *path, char *err, size_t errsz)
{
    char why[1024], e[1024];
    *out = NULL;
    if (!db_present(path)) {
        db_seterr(err, errsz, "no database at %s", path);
        return -1;
    }
    struct db_reader *r = xcalloc(1, sizeof(*r));
    r->path = xstrdup(path);
    /* RocksDB rotates the info log of the directory it opens, even read-only: keep the
     * running node's LOG untouched by writing ours elsewhere. */
    char tmpl[] = "/tmp/aequa-ro-XXXXXX";
    if (!mkdtemp(tmpl)) {
        db_seterr(err, errsz, "mkdtemp: %s", strerror(errno));
        db_reader_close(r);
        return -1;
    }
    r->logdir = xstrdup(tmpl);
    if (db_open(&r->h, path, false, true, r->logdir, NULL, e, sizeof(e)) < 0) {
        db_seterr(err, errsz, "%s: %s", path, e);
        db_reader_close(r);
        return -1;
    }
    if (db_meta_read(&r->h, &r->meta, 1, why, sizeof(why)) != DB_META_OK) {
        db_seterr(err, errsz, "%s: %s", path, why);
        db_reader_close(r);
        return -1;
    }
    *out = r;
    return 0;
}

const struct db *db_reader_db(const struct db_reader *r)
{
    return &r->h;
}

const struct db_meta *db_reader_meta(const struct db_reader *r)
{
    return &r->meta;
}

const char *db_reader_path(const struct db_reader *r)
{
    return r->path;
}
