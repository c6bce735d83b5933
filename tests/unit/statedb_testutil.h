/* Helpers shared by the StateDB unit tests: temporary databases, file damage, one-shot ops. */
#ifndef AEQUA_TESTS_STATEDB_TESTUTIL_H
#define AEQUA_TESTS_STATEDB_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "proto/statedb.h"
#include "workers/statedb/commit.h"
#include "workers/statedb/store.h"

extern const uint8_t tu_lock[RECORD_LOCK_HASH];

/* A fresh temporary directory; returns "<dir>/db" (static storage, valid until the next call). */
const char *tu_tmpdb(void);
/* rm -rf the temporary directory made by tu_tmpdb (and everything beside the db in it), and
 * release the reply bodies tu_run handed out. */
void tu_cleanup(void);
struct store_opts tu_opts(const char *path);
/* Open read-write with tu_lock, node 0; fails the test on error. */
struct store *tu_open(const char *path);

/* Name of the newest *.sst file in dir (full path), or "" if none. */
void tu_newest_sst(const char *dir, char *out, size_t outsz);
/* Full path of the MANIFEST named by dir/CURRENT. */
void tu_manifest(const char *dir, char *out, size_t outsz);
/* The newest *.log (write-ahead log) file in dir. */
void tu_newest_log(const char *dir, char *out, size_t outsz);
void tu_truncate(const char *path, long size);
long tu_file_size(const char *path);
int tu_count_entries(const char *dir, const char *prefix);
int tu_count_suffix(const char *dir, const char *suffix);

/* Run one request through the group commit and decode its reply (caller frees with
 * sdb_reply_free; the body it points into lives until tu_cleanup). Returns the reply status. */
int tu_run(struct store *st, const struct sdb_req *req, struct sdb_reply *rep);
int tu_append(struct store *st, uint8_t dtype, uint64_t height, uint32_t round, uint8_t mtype,
              const char *msg);

#endif
