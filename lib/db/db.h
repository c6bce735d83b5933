/*
 * db: a StateDB database as RocksDB holds it (SPEC §8; layout in record.h) — its column
 * families opened together, point reads, iterators, the meta record — and the read-only reader
 * that `aequactl wal dump` uses, on a stopped node's data or beside the running StateDB worker.
 *
 * This library is shared by aequa-statedb and aequactl; it writes nothing but the meta of a
 * database being created. What only the database's owner does (the verified open, recovery,
 * checkpoints, batches) is the StateDB worker's store (workers/statedb/store.h), built on a
 * struct db from here. Functions return errors with a message and never log. Not thread-safe.
 */
#ifndef AEQUA_DB_DB_H
#define AEQUA_DB_DB_H

#include <rocksdb/c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/db/record.h"
#include "proto/statedb.h"

/* RocksDB requires its "default" family to be opened; ours follow in enum sdb_cf order. */
#define DB_NCF (1 + SDB_CF_COUNT)

/* An open database: every column family, reads verifying checksums. */
struct db {
    rocksdb_t *rdb;
    rocksdb_options_t *opts;
    rocksdb_readoptions_t *ro;
    rocksdb_column_family_handle_t *cf[DB_NCF];
};

/* The RocksDB directory inside the StateDB's own directory ([statedb] path, default
 * <data-dir>/db): "<dir>/rocksdb". Its sibling files (.lock, .seqno, .checkpoints/, .corrupt-*)
 * live in the same directory, which belongs to the StateDB worker's user. 0, or -1 if too long. */
#define DB_DIR_NAME "rocksdb"
int db_path(const char *statedb_dir, char *out, size_t outsz);

/* RocksDB's memory for one open database ([statedb] block_cache_mb, write_buffer_mb). The
 * block cache holds data blocks and the SST files' index and filter blocks, so what reads keep
 * does not grow with the number of files; the write buffers are the memtables of every column
 * family together (a full budget flushes the largest). */
struct db_memory {
    size_t block_cache_bytes;  /* 0: RocksDB's default */
    size_t write_buffer_bytes; /* 0: RocksDB's default */
};
/* SST files held open at once (RocksDB's table cache): a bound on the worker's descriptors. */
#define DB_MAX_OPEN_FILES 256

/* Open path with every column family (paranoid checks; a torn last WAL record is tolerated,
 * corruption anywhere else fails the open). create: a new database may be made. read_only: no
 * writes at all, not even by RocksDB. logdir: where RocksDB's info log goes (NULL: inside
 * path). mem: the memory caps (NULL: RocksDB's defaults, for short-lived readers). 0, or -1
 * with RocksDB's reason; h is then closed. */
int db_open(struct db *h, const char *path, bool create, bool read_only, const char *logdir,
            const struct db_memory *mem, char *err, size_t errsz);
void db_close(struct db *h);
rocksdb_column_family_handle_t *db_cf(const struct db *h, enum sdb_cf cf);

/* True when path holds database files (RocksDB's own LOCK and info logs do not count). */
bool db_present(const char *path);

/* True when a RocksDB open error means the files are damaged or missing (as opposed to a lock
 * held by another process, a permission or a full disk). */
bool db_error_is_damage(const char *rocksdb_error);

/* ---- reads ---- */
struct db_value {
    uint8_t *p;
    size_t len;
};
/* 0 found (release with db_value_free), 1 not found, -1 error. */
int db_get(const struct db *h, enum sdb_cf cf, const void *key, size_t klen, struct db_value *v,
           char *err, size_t errsz);
void db_value_free(struct db_value *v);

struct db_iter;
/* Iterates one column family in key order, verifying checksums. */
struct db_iter *db_iter_new(const struct db *h, enum sdb_cf cf);
void db_iter_seek(struct db_iter *it, const void *key, size_t klen); /* first >= key */
void db_iter_seek_first(struct db_iter *it);
void db_iter_seek_for_prev(struct db_iter *it, const void *key, size_t klen); /* last <= key */
bool db_iter_valid(const struct db_iter *it);
void db_iter_next(struct db_iter *it);
const uint8_t *db_iter_key(const struct db_iter *it, size_t *len);
const uint8_t *db_iter_value(const struct db_iter *it, size_t *len);
/* 0, or -1 with the iterator's error (check after the loop). */
int db_iter_error(const struct db_iter *it, char *err, size_t errsz);
void db_iter_free(struct db_iter *it);

/* ---- meta ---- */
struct db_meta {
    uint32_t schema;
    uint8_t lock_hash[RECORD_LOCK_HASH];
    uint64_t node_index;
    uint64_t created_ms;
    struct sdb_hello_info fallback; /* fallback.fallback is false when never restored */
};

enum db_meta_status {
    DB_META_OK,
    DB_META_FRESH,   /* no meta and no records (records = 0): a database never used */
    DB_META_DAMAGED, /* meta missing or malformed; why says what */
};
/* Read the meta family. records: how many records the other families hold (a database with
 * records but no meta is damaged). */
enum db_meta_status db_meta_read(const struct db *h, struct db_meta *m, uint64_t records, char *why,
                                 size_t whysz);

/* ---- the read-only reader ---- */
struct db_reader;
/* Open the database at path read-only, beside its owner if it runs (RocksDB's info log goes to
 * a private temporary directory, removed at close, so the owner's LOG is untouched), and read
 * its meta. Nothing is verified beyond that and nothing is ever written. 0, or -1 with err. */
int db_reader_open(struct db_reader **out, const char *path, char *err, size_t errsz);
void db_reader_close(struct db_reader *r);
const struct db *db_reader_db(const struct db_reader *r);
const struct db_meta *db_reader_meta(const struct db_reader *r);
const char *db_reader_path(const struct db_reader *r);

/* Format an error into err (nothing when err is NULL or errsz 0): the database code's and the
 * StateDB store's messages. */
void db_seterr(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
