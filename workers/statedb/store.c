#include "workers/statedb/store.h"
#include "lib/db/dirutil.h"
#include "lib/metrics.h"
#include "lib/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <rocksdb/c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct store {
    struct db h;
    rocksdb_writeoptions_t *wo;
    char *path;
    int lockfd; /* flock on "<path>.lock" for the store's lifetime */
    bool sync;
    unsigned keep;
    enum store_recovery result;
    struct db_meta meta;
    struct store_stats stats;
    unsigned inject;
};

/* Paths: every one is derived from the database path, whose length store_open bounds, so a
 * truncation here is a programming error. */
static void pathf(char *out, size_t outsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t outsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, outsz, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= outsz)
        fatalx("store: path too long: %s", out);
}

/* The database path leaves room for every name derived from it. */
#define STORE_PATH_MAX (PATH_MAX - 128)

/* Move a RocksDB error into err (prefixed with what) and free it. */
static int take_err(char **e, char *err, size_t errsz, const char *what)
{
    db_seterr(err, errsz, "%s: %s", what, *e);
    rocksdb_free(*e);
    *e = NULL;
    return -1;
}

const char *store_recovery_name(enum store_recovery r)
{
    static const char *const names[] = {"ok", "fallback", "fail"};
    return names[r];
}

static void count_recovery(enum store_recovery r)
{
    metric_inc(metric("state_recovery_total", store_recovery_name(r)));
}

/* ---- meta ---- */

enum verdict { V_OK, V_FRESH, V_DAMAGED, V_BINDING, V_IO };

static enum verdict check_binding(const struct db_meta *m, const struct store_opts *o,
                                  const char *path, char *why, size_t whysz)
{
    char have[2 * RECORD_LOCK_HASH + 1], want[2 * RECORD_LOCK_HASH + 1];
    if (m->schema > RECORD_SCHEMA) {
        db_seterr(why, whysz, "database %s has schema version %u, newer than this build's %u", path,
                  m->schema, RECORD_SCHEMA);
        return V_BINDING;
    }
    if (memcmp(m->lock_hash, o->lock_hash, RECORD_LOCK_HASH) || m->node_index != o->node_index) {
        hex_encode(have, m->lock_hash, RECORD_LOCK_HASH);
        hex_encode(want, o->lock_hash, RECORD_LOCK_HASH);
        db_seterr(why, whysz,
                  "database %s belongs to cluster %s node %llu, but this node is cluster %s node "
                  "%llu",
                  path, have, (unsigned long long)m->node_index, want,
                  (unsigned long long)o->node_index);
        return V_BINDING;
    }
    return V_OK;
}

static int write_meta(struct db *h, const struct store_opts *o, char *err, size_t errsz)
{
    uint8_t b4[4], idx[8], created[8];
    char *e = NULL;
    record_put_u32(b4, RECORD_SCHEMA);
    record_put_u64(idx, o->node_index);
    record_put_u64(created, wall_ms());
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_column_family_handle_t *meta = db_cf(h, SDB_CF_META);
    rocksdb_writebatch_put_cf(wb, meta, RECORD_META_SCHEMA, strlen(RECORD_META_SCHEMA),
                              (const char *)b4, 4);
    rocksdb_writebatch_put_cf(wb, meta, RECORD_META_LOCK_HASH, strlen(RECORD_META_LOCK_HASH),
                              (const char *)o->lock_hash, RECORD_LOCK_HASH);
    rocksdb_writebatch_put_cf(wb, meta, RECORD_META_NODE_INDEX, strlen(RECORD_META_NODE_INDEX),
                              (const char *)idx, 8);
    rocksdb_writebatch_put_cf(wb, meta, RECORD_META_CREATED, strlen(RECORD_META_CREATED),
                              (const char *)created, 8);
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(wo, 1);
    rocksdb_write(h->rdb, wo, wb, &e);
    rocksdb_writeoptions_destroy(wo);
    rocksdb_writebatch_destroy(wb);
    return e ? take_err(&e, err, errsz, "write meta") : 0;
}

static int write_fallback(struct db *h, uint64_t recovered_ms, uint64_t checkpoint_ms,
                          const char *detail, char *err, size_t errsz)
{
    struct buf b = BUF_INIT;
    char *e = NULL;
    record_fallback_encode(&b, recovered_ms, checkpoint_ms, detail);
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(wo, 1);
    rocksdb_put_cf(h->rdb, wo, db_cf(h, SDB_CF_META), RECORD_META_FALLBACK,
                   strlen(RECORD_META_FALLBACK), (const char *)b.data, b.len, &e);
    rocksdb_writeoptions_destroy(wo);
    buf_free(&b);
    return e ? take_err(&e, err, errsz, "write fallback record") : 0;
}

/* ---- verification pass ---- */

/* Shape of one record of a family we own; -1 if malformed. */
static int check_record(enum sdb_cf cf, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct sdb_intent_key ik;
    uint8_t dtype;
    uint64_t height;
    switch (cf) {
    case SDB_CF_WAL:
        return record_wal_key_parse(&ik, k, kl) == 0 && vl > 0 && vl <= SDB_INTENT_MAX ? 0 : -1;
    case SDB_CF_DUTIES: {
        struct sdb_duty d;
        if (record_inst_key_parse(&dtype, &height, k, kl) < 0)
            return -1;
        return record_duty_decode(&d, dtype, height, v, vl);
    }
    case SDB_CF_DECIDED: {
        struct sdb_decided d;
        if (record_inst_key_parse(&dtype, &height, k, kl) < 0 ||
            record_decided_decode(&d, dtype, height, v, vl) < 0)
            return -1;
        record_decided_free(&d);
        return 0;
    }
    case SDB_CF_MEMPOOL:
        return record_mempool_check(k, kl, v, vl);
    case SDB_CF_CHAIN:
        return record_chain_check(k, kl, v, vl);
    default:
        return 0;
    }
}

/* Read every record of every family with checksums verified; *records counts those outside
 * meta. */
static enum verdict verify_records(struct db *h, uint64_t *records, char *why, size_t whysz)
{
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_verify_checksums(ro, 1);
    rocksdb_readoptions_set_fill_cache(ro, 0);
    enum verdict v = V_OK;
    *records = 0;
    for (unsigned cf = 0; cf < SDB_CF_COUNT && v == V_OK; cf++) {
        rocksdb_iterator_t *it = rocksdb_create_iterator_cf(h->rdb, ro, db_cf(h, cf));
        uint64_t n = 0;
        for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
            size_t kl, vl;
            const char *k = rocksdb_iter_key(it, &kl);
            const char *val = rocksdb_iter_value(it, &vl);
            if (check_record(cf, (const uint8_t *)k, kl, (const uint8_t *)val, vl) < 0) {
                db_seterr(why, whysz, "column family %s: record %llu is malformed", sdb_cf_name(cf),
                          (unsigned long long)n);
                v = V_DAMAGED;
                break;
            }
            n++;
        }
        char *e = NULL;
        rocksdb_iter_get_error(it, &e);
        if (e) {
            db_seterr(why, whysz, "column family %s: %s", sdb_cf_name(cf), e);
            rocksdb_free(e);
            v = V_DAMAGED;
        }
        rocksdb_iter_destroy(it);
        if (cf != SDB_CF_META)
            *records += n;
    }
    rocksdb_readoptions_destroy(ro);
    return v;
}

/* ---- the witness ---- */

/*
 * "<path>.seqno" records, at every clean open, checkpoint and close, the database's latest
 * sequence number and its MANIFEST's name and size. RocksDB tolerates a MANIFEST cut short (it
 * recovers the older version the remaining records describe and silently forgets newer files)
 * and a WAL whose synced records were lost: a database found behind its witness has lost
 * acknowledged writes and is treated as damaged. A MANIFEST only grows until RocksDB replaces it
 * at the next open, after which the witness is rewritten.
 */
struct witness {
    uint64_t seq;
    char manifest[64];
    uint64_t manifest_size;
};

static void witness_path(const char *path, char *out, size_t outsz)
{
    pathf(out, outsz, "%s.seqno", path);
}

/* The MANIFEST named by CURRENT and its size; -1 if unreadable. */
static int current_manifest(const char *path, char *name, size_t namesz, uint64_t *size)
{
    char p[PATH_MAX], *text;
    struct stat sb;
    pathf(p, sizeof(p), "%s/CURRENT", path);
    if (read_file(p, 128, &text, NULL) < 0)
        return -1;
    text[strcspn(text, "\n")] = 0;
    int ok = strncmp(text, "MANIFEST-", 9) == 0 && strlen(text) < namesz && !strchr(text, '/');
    if (ok)
        snprintf(name, namesz, "%s", text);
    free(text);
    if (!ok)
        return -1;
    pathf(p, sizeof(p), "%s/%s", path, name);
    if (stat(p, &sb) < 0)
        return -1;
    *size = (uint64_t)sb.st_size;
    return 0;
}

/* 0 with w filled, or 1 when there is no (readable) witness. */
static int witness_read(const char *path, struct witness *w)
{
    char wp[PATH_MAX], *text;
    witness_path(path, wp, sizeof(wp));
    if (read_file(wp, 256, &text, NULL) < 0)
        return 1;
    char *save = NULL, *seq = strtok_r(text, " \n", &save);
    char *man = strtok_r(NULL, " \n", &save), *size = strtok_r(NULL, " \n", &save);
    int rc = seq && man && size && parse_u64(seq, UINT64_MAX, &w->seq) == 0 &&
                     parse_u64(size, UINT64_MAX, &w->manifest_size) == 0 &&
                     strlen(man) < sizeof(w->manifest)
                 ? 0
                 : 1;
    if (rc == 0)
        snprintf(w->manifest, sizeof(w->manifest), "%s", man);
    free(text);
    return rc;
}

static int witness_write(const char *path, rocksdb_t *db)
{
    char wp[PATH_MAX], text[160], man[64];
    uint64_t size;
    if (current_manifest(path, man, sizeof(man), &size) < 0) {
        errno = EIO;
        return -1;
    }
    witness_path(path, wp, sizeof(wp));
    int n = snprintf(text, sizeof(text), "%llu %s %llu\n",
                     (unsigned long long)rocksdb_get_latest_sequence_number(db), man,
                     (unsigned long long)size);
    return write_file_atomic(wp, text, (size_t)n, 0600);
}

/* Before any open: V_DAMAGED when the MANIFEST the witness names is shorter than recorded. */
static enum verdict witness_check_manifest(const char *path, const struct witness *w, char *why,
                                           size_t whysz)
{
    char man[64];
    uint64_t size;
    if (current_manifest(path, man, sizeof(man), &size) == 0 && !strcmp(man, w->manifest) &&
        size < w->manifest_size) {
        db_seterr(why, whysz, "%s/%s is truncated (%llu bytes, %llu recorded in %s.seqno)", path,
                  man, (unsigned long long)size, (unsigned long long)w->manifest_size, path);
        return V_DAMAGED;
    }
    return V_OK;
}

/* On the open database: V_DAMAGED when it is behind the witness's sequence number. */
static enum verdict witness_check_seq(struct db *h, const char *path, const struct witness *w,
                                      char *why, size_t whysz)
{
    uint64_t seq = rocksdb_get_latest_sequence_number(h->rdb);
    if (seq < w->seq) {
        db_seterr(why, whysz,
                  "database is behind its last recorded state (sequence %llu < %llu in %s.seqno): "
                  "acknowledged writes were lost",
                  (unsigned long long)seq, (unsigned long long)w->seq, path);
        return V_DAMAGED;
    }
    return V_OK;
}

/* ---- verified open ---- */

/* Checks that need only a read-only view: witness, every record, meta, binding. */
static enum verdict verify(struct db *h, const char *path, const struct witness *w,
                           const struct store_opts *o, struct db_meta *m, char *why, size_t whysz)
{
    uint64_t records;
    if (w && witness_check_seq(h, path, w, why, whysz) != V_OK)
        return V_DAMAGED;
    enum verdict v = verify_records(h, &records, why, whysz);
    if (v == V_OK)
        switch (db_meta_read(h, m, records, why, whysz)) {
        case DB_META_OK:
            break;
        case DB_META_FRESH:
            v = V_FRESH;
            break;
        case DB_META_DAMAGED:
            v = V_DAMAGED;
            break;
        }
    if (v == V_OK)
        v = check_binding(m, o, path, why, whysz);
    return v;
}

/*
 * Open path read-write after verifying it. The verification runs on a read-only open first:
 * unlike a read-write open, it neither deletes files RocksDB believes obsolete nor writes a new
 * MANIFEST, so a damaged database is moved aside exactly as it was found. create: a new,
 * empty database that gets its meta (only create_fresh); an existing database without meta is
 * damaged. check_witness: compare with "<path>.seqno". On V_OK h is open read-write and m
 * filled; otherwise h is closed and why explains.
 */
static enum verdict open_verified(struct db *h, const char *path, bool create, bool check_witness,
                                  const struct store_opts *o, struct db_meta *m, char *why,
                                  size_t whysz)
{
    char e[1024];
    struct witness w;
    const struct witness *wp = NULL;
    enum verdict v = V_FRESH;
    why[0] = 0;
    if (check_witness && witness_read(path, &w) == 0) {
        wp = &w;
        if (witness_check_manifest(path, wp, why, whysz) != V_OK)
            return V_DAMAGED;
    }
    if (!create) {
        /* A database is created whole (create_fresh), so a missing column family is
         * damage like any other. */
        if (db_open(h, path, false, true, NULL, &o->mem, e, sizeof(e)) < 0) {
            db_seterr(why, whysz, "%s", e);
            return db_error_is_damage(e) || strstr(e, "Column family not found") ? V_DAMAGED : V_IO;
        }
        v = verify(h, path, wp, o, m, why, whysz);
        db_close(h);
        if (v == V_FRESH)
            db_seterr(why, whysz, "meta column family is empty%s",
                      wp ? " but the .seqno witness records the database in use" : "");
        if (v != V_OK)
            return v == V_FRESH ? V_DAMAGED : v;
    }
    if (db_open(h, path, create, false, NULL, &o->mem, e, sizeof(e)) < 0) {
        db_seterr(why, whysz, "%s", e);
        return db_error_is_damage(e) ? V_DAMAGED : V_IO;
    }
    if (create) {
        if (write_meta(h, o, e, sizeof(e)) < 0) {
            db_seterr(why, whysz, "%s", e);
            v = V_IO;
        } else
            v = verify(h, path, NULL, o, m, why, whysz);
    }
    if (v != V_OK)
        db_close(h);
    return v;
}

/* ---- checkpoints ---- */

void store_checkpoint_dir(const char *path, char *out, size_t outsz)
{
    pathf(out, outsz, "%s.checkpoints", path);
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Every complete checkpoint name (all digits; a crash leaves "<ms>.tmp", ignored). */
static int list_all(const char *path, uint64_t **names, size_t *n)
{
    char dir[PATH_MAX];
    store_checkpoint_dir(path, dir, sizeof(dir));
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        uint64_t v;
        if (parse_u64(de->d_name, UINT64_MAX, &v) < 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *names = xrealloc(*names, cap * sizeof(**names));
        }
        (*names)[(*n)++] = v;
    }
    closedir(d);
    if (*n)
        qsort(*names, *n, sizeof(**names), cmp_desc);
    return 0;
}

int store_checkpoint_list(const char *path, uint64_t *names, size_t max)
{
    uint64_t *all;
    size_t n;
    if (list_all(path, &all, &n) < 0)
        return -1;
    size_t k = n < max ? n : max;
    if (k)
        memcpy(names, all, k * sizeof(*names));
    free(all);
    return (int)k;
}

/* Remove leftovers of interrupted checkpoints ("<ms>.tmp"): they are ours and incomplete. */
static void remove_partial_checkpoints(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char names[16][NAME_MAX + 1];
    int n = 0;
    struct dirent *de;
    while (n < 16 && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > 4 && !strcmp(de->d_name + l - 4, ".tmp"))
            snprintf(names[n++], sizeof(names[0]), "%s", de->d_name);
    }
    closedir(d);
    for (int i = 0; i < n; i++) {
        char p[PATH_MAX];
        pathf(p, sizeof(p), "%s/%s", dir, names[i]);
        dir_remove(p);
    }
}

int store_checkpoint(struct store *st, uint64_t *taken_ms, char *err, size_t errsz)
{
    char dir[PATH_MAX], tmp[PATH_MAX], fin[PATH_MAX];
    char *e = NULL;
    store_checkpoint_dir(st->path, dir, sizeof(dir));
    if (mkdir_p(dir, 0700) < 0) {
        db_seterr(err, errsz, "checkpoint: mkdir %s: %s", dir, strerror(errno));
        return -1;
    }
    remove_partial_checkpoints(dir);
    /* Names must sort in creation order even if the wall clock stepped back. */
    uint64_t *all;
    size_t n;
    if (list_all(st->path, &all, &n) < 0) {
        db_seterr(err, errsz, "checkpoint: list %s: %s", dir, strerror(errno));
        return -1;
    }
    uint64_t ms = wall_ms();
    if (n && ms <= all[0])
        ms = all[0] + 1;
    pathf(tmp, sizeof(tmp), "%s/%llu.tmp", dir, (unsigned long long)ms);
    pathf(fin, sizeof(fin), "%s/%llu", dir, (unsigned long long)ms);

    rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(st->h.rdb, &e);
    if (!e)
        rocksdb_checkpoint_create(cp, tmp, 0 /* always flush: the checkpoint holds SSTs */, &e);
    if (cp)
        rocksdb_checkpoint_object_destroy(cp);
    if (e) {
        free(all);
        dir_remove(tmp);
        return take_err(&e, err, errsz, "checkpoint");
    }
    if (dir_unshare_sync(tmp) < 0 || rename(tmp, fin) < 0 || dir_fsync(dir) < 0) {
        db_seterr(err, errsz, "checkpoint %s: %s", fin, strerror(errno));
        free(all);
        dir_remove(tmp);
        return -1;
    }
    /* Keep the newest `keep`, counting the one just taken. */
    for (size_t i = st->keep ? st->keep - 1 : 0; i < n; i++) {
        char old[PATH_MAX];
        pathf(old, sizeof(old), "%s/%llu", dir, (unsigned long long)all[i]);
        dir_remove(old);
    }
    free(all);
    dir_fsync(dir);
    witness_write(st->path, st->h.rdb);
    if (taken_ms)
        *taken_ms = ms;
    return 0;
}

/* ---- recovery ---- */

/* A free name to move a damaged database to: "<path>.corrupt-<ms>[-k]". */
static int aside_name(const char *path, char *out, size_t outsz)
{
    uint64_t ms = wall_ms();
    for (int k = 0; k < 100; k++) {
        if (k == 0)
            pathf(out, outsz, "%s.corrupt-%llu", path, (unsigned long long)ms);
        else
            pathf(out, outsz, "%s.corrupt-%llu-%d", path, (unsigned long long)ms, k);
        if (!path_exists(out))
            return 0;
    }
    errno = EEXIST;
    return -1;
}

static int recover(struct store *st, const struct store_opts *o, const char *damage, char *err,
                   size_t errsz)
{
    char ckdir[PATH_MAX], tmp[PATH_MAX], ck[PATH_MAX], why[1024], e[1024];
    char aside[PATH_MAX] = "";
    struct buf tried = BUF_INIT;
    uint64_t *names;
    size_t n;
    store_checkpoint_dir(o->path, ckdir, sizeof(ckdir));
    pathf(tmp, sizeof(tmp), "%s.restore", o->path);
    if (list_all(o->path, &names, &n) < 0) {
        buf_printf(&tried, "cannot list: %s", strerror(errno));
        n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        struct db h;
        struct db_meta m;
        pathf(ck, sizeof(ck), "%s/%llu", ckdir, (unsigned long long)names[i]);
        if (dir_remove(tmp) < 0 || dir_copy(ck, tmp) < 0) {
            buf_printf(&tried, "%s%llu: copy: %s", tried.len ? "; " : "",
                       (unsigned long long)names[i], strerror(errno));
            dir_remove(tmp);
            continue;
        }
        enum verdict v = open_verified(&h, tmp, false, false, o, &m, why, sizeof(why));
        if (v != V_OK) {
            buf_printf(&tried, "%s%llu: %s", tried.len ? "; " : "", (unsigned long long)names[i],
                       why);
            dir_remove(tmp);
            continue;
        }
        /* Usable. Record the fallback inside the copy before it becomes the database: a crash
         * anywhere below either finds the record or redoes the recovery. */
        uint64_t now = wall_ms();
        bool had_db = path_exists(o->path);
        char detail[SDB_DETAIL_MAX + 1];
        if (had_db && aside_name(o->path, aside, sizeof(aside)) < 0) {
            db_seterr(err, errsz, "no name to move %s aside: %s", o->path, strerror(errno));
            db_close(&h);
            goto fail_io;
        }
        db_seterr(detail, sizeof(detail), "database damaged (%s); %s%s; restored checkpoint %llu",
                  damage, had_db ? "moved aside to " : "nothing to move aside", had_db ? aside : "",
                  (unsigned long long)names[i]);
        int wrc = write_fallback(&h, now, names[i], detail, e, sizeof(e));
        db_close(&h);
        if (wrc < 0) {
            db_seterr(err, errsz, "checkpoint %llu: %s", (unsigned long long)names[i], e);
            goto fail_io;
        }
        if ((had_db && (rename(o->path, aside) < 0 || dir_fsync_parent(aside) < 0)) ||
            rename(tmp, o->path) < 0 || dir_fsync_parent(o->path) < 0) {
            db_seterr(err, errsz, "install checkpoint %llu at %s: %s", (unsigned long long)names[i],
                      o->path, strerror(errno));
            goto fail_io;
        }
        v = open_verified(&st->h, o->path, false, false, o, &st->meta, why, sizeof(why));
        if (v != V_OK) {
            db_seterr(err, errsz, "restored checkpoint %llu does not reopen: %s",
                      (unsigned long long)names[i], why);
            goto fail_io;
        }
        st->result = STORE_RECOVERY_FALLBACK;
        count_recovery(STORE_RECOVERY_FALLBACK);
        free(names);
        buf_free(&tried);
        return STORE_OK;
    }
    count_recovery(STORE_RECOVERY_FAIL);
    db_seterr(err, errsz,
              "database %s is damaged: %s; no usable checkpoint in %s (%s); nothing was moved",
              o->path, damage, ckdir, tried.len ? (const char *)tried.data : "none found");
    free(names);
    buf_free(&tried);
    return STORE_E_DAMAGED;
fail_io:
    free(names);
    buf_free(&tried);
    return STORE_E_IO;
}

/* ---- open / close ---- */

static struct store *store_alloc(const struct store_opts *o)
{
    struct store *st = xcalloc(1, sizeof(*st));
    st->path = xstrdup(o->path);
    st->sync = o->sync;
    st->keep = o->checkpoints_keep ? o->checkpoints_keep : 1;
    st->lockfd = -1;
    st->wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(st->wo, o->sync);
    return st;
}

/*
 * A new database is built in "<path>.new" and renamed into place once its meta is written and
 * synced. A crash during creation leaves only that directory, which never answered a request
 * and is removed here, instead of a half-created database that looks damaged (RocksDB writes
 * CURRENT last).
 */
static enum verdict create_fresh(struct db *h, const struct store_opts *o, struct db_meta *m,
                                 char *why, size_t whysz)
{
    char tmp[PATH_MAX];
    pathf(tmp, sizeof(tmp), "%s.new", o->path);
    if (dir_remove(tmp) < 0 || mkdir_p(tmp, 0700) < 0) {
        db_seterr(why, whysz, "prepare %s: %s", tmp, strerror(errno));
        return V_IO;
    }
    enum verdict v = open_verified(h, tmp, true, false, o, m, why, whysz);
    if (v != V_OK)
        return v;
    db_close(h);
    /* o->path holds no database files (db_present): at most an empty directory. */
    if (dir_remove(o->path) < 0 || rename(tmp, o->path) < 0 || dir_fsync_parent(o->path) < 0) {
        db_seterr(why, whysz, "install new database %s at %s: %s", tmp, o->path, strerror(errno));
        return V_IO;
    }
    return open_verified(h, o->path, false, false, o, m, why, whysz);
}

static int open_read_write(struct store *st, const struct store_opts *o, char *err, size_t errsz)
{
    char why[1024];
    uint64_t newest;
    if (!o->lock_hash) {
        db_seterr(err, errsz, "store_open: no lock hash to bind the database to");
        return STORE_E_IO;
    }
    /* One owner at a time, for the whole open and recovery (RocksDB's own LOCK lives inside
     * the directory that recovery may move). */
    char lp[PATH_MAX], parent[PATH_MAX];
    pathf(parent, sizeof(parent), "%s", o->path);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = 0;
        if (mkdir_p(parent, 0700) < 0) {
            db_seterr(err, errsz, "mkdir %s: %s", parent, strerror(errno));
            return STORE_E_IO;
        }
    }
    pathf(lp, sizeof(lp), "%s.lock", o->path);
    st->lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (st->lockfd < 0) {
        db_seterr(err, errsz, "open %s: %s", lp, strerror(errno));
        return STORE_E_IO;
    }
    if (flock(st->lockfd, LOCK_EX | LOCK_NB) < 0) {
        db_seterr(err, errsz, "database %s is in use by another process (%s: %s)", o->path, lp,
                  strerror(errno));
        return STORE_E_IO;
    }
    enum verdict v;
    if (db_present(o->path))
        v = open_verified(&st->h, o->path, false, true, o, &st->meta, why, sizeof(why));
    else if (store_checkpoint_list(o->path, &newest, 1) > 0) {
        snprintf(why, sizeof(why), "the database directory is missing or empty");
        v = V_DAMAGED;
    } else
        v = create_fresh(&st->h, o, &st->meta, why, sizeof(why));
    switch (v) {
    case V_OK:
        st->result = STORE_RECOVERY_OK;
        count_recovery(STORE_RECOVERY_OK);
        return STORE_OK;
    case V_BINDING:
        db_seterr(err, errsz, "%s", why);
        return STORE_E_BINDING;
    case V_DAMAGED:
        return recover(st, o, why, err, errsz);
    default:
        db_seterr(err, errsz, "%s: %s", o->path, why);
        return STORE_E_IO;
    }
}

int store_open(struct store **out, const struct store_opts *o, char *err, size_t errsz)
{
    *out = NULL;
    if (strlen(o->path) > STORE_PATH_MAX) {
        db_seterr(err, errsz, "database path too long (max %d bytes): %s", STORE_PATH_MAX, o->path);
        return STORE_E_IO;
    }
    struct store *st = store_alloc(o);
    int rc = open_read_write(st, o, err, errsz);
    if (rc == STORE_OK && witness_write(o->path, st->h.rdb) < 0) {
        db_seterr(err, errsz, "write %s.seqno: %s", o->path, strerror(errno));
        rc = STORE_E_IO;
    }
    if (rc != STORE_OK) {
        store_close(st);
        return rc;
    }
    *out = st;
    return STORE_OK;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    if (st->h.rdb)
        witness_write(st->path, st->h.rdb);
    db_close(&st->h);
    if (st->lockfd >= 0)
        close(st->lockfd);
    rocksdb_writeoptions_destroy(st->wo);
    free(st->path);
    free(st);
}

enum store_recovery store_open_result(const struct store *st)
{
    return st->result;
}

const struct db_meta *store_meta(const struct store *st)
{
    return &st->meta;
}

const char *store_path(const struct store *st)
{
    return st->path;
}

bool store_sync(const struct store *st)
{
    return st->sync;
}

/* ---- reads: the database's own (db.h) ---- */

const struct db *store_db(const struct store *st)
{
    return &st->h;
}

/* ---- writes ---- */

struct store_batch {
    struct store *st;
    rocksdb_writebatch_t *wb;
};

struct store_batch *store_batch_new(struct store *st)
{
    struct store_batch *b = xcalloc(1, sizeof(*b));
    b->st = st;
    b->wb = rocksdb_writebatch_create();
    return b;
}

void store_batch_put(struct store_batch *b, enum sdb_cf cf, const void *key, size_t klen,
                     const void *val, size_t vlen)
{
    rocksdb_writebatch_put_cf(b->wb, db_cf(&b->st->h, cf), key, klen, val, vlen);
}

void store_batch_delete(struct store_batch *b, enum sdb_cf cf, const void *key, size_t klen)
{
    rocksdb_writebatch_delete_cf(b->wb, db_cf(&b->st->h, cf), key, klen);
}

void store_batch_delete_range(struct store_batch *b, enum sdb_cf cf, const void *start, size_t slen,
                              const void *end, size_t elen)
{
    rocksdb_writebatch_delete_range_cf(b->wb, db_cf(&b->st->h, cf), start, slen, end, elen);
}

int store_batch_count(const struct store_batch *b)
{
    return rocksdb_writebatch_count(b->wb);
}

int store_batch_write(struct store_batch *b, char *err, size_t errsz)
{
    struct store *st = b->st;
    char *e = NULL;
    if (st->inject) {
        st->inject--;
        st->stats.write_errors++;
        db_seterr(err, errsz, "write: injected failure");
        return -1;
    }
    rocksdb_write(st->h.rdb, st->wo, b->wb, &e);
    if (e) {
        st->stats.write_errors++;
        return take_err(&e, err, errsz, "write");
    }
    st->stats.writes++;
    if (st->sync)
        st->stats.synced_writes++;
    return 0;
}

void store_batch_free(struct store_batch *b)
{
    if (!b)
        return;
    rocksdb_writebatch_destroy(b->wb);
    free(b);
}

void store_get_stats(const struct store *st, struct store_stats *s)
{
    *s = st->stats;
}

void store_inject_write_errors(struct store *st, unsigned n)
{
    st->inject = n;
}
