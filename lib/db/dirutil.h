/*
 * dirutil: the few file-system operations a StateDB database needs on flat directories (a RocksDB
 * database or checkpoint has no subdirectories): copy with fsync, remove, fsync, list.
 * Functions return 0 or -1 with errno set; they never log.
 */
#ifndef AEQUA_DB_DIRUTIL_H
#define AEQUA_DB_DIRUTIL_H

#include <stdbool.h>
#include <stddef.h>

/* fsync a directory (after creating, renaming or removing entries in it). */
int dir_fsync(const char *dir);
/* fsync the directory that contains path. */
int dir_fsync_parent(const char *path);
/* Copy one regular file (created with mode 0600, data fsynced). dst must not exist. */
int file_copy(const char *src, const char *dst);
/* Copy every regular file of src into dst (created, must not exist), fsync all. Fails on
 * anything that is not a regular file. */
int dir_copy(const char *src, const char *dst);
/* Remove a flat directory and its regular files. Missing is not an error. */
int dir_remove(const char *dir);
/* Replace every hard-linked file in dir by a private copy (checkpoints must not share inodes
 * with the live database) and fsync every file and the directory. */
int dir_unshare_sync(const char *dir);
/* True when path exists (any type). */
bool path_exists(const char *path);

#endif
