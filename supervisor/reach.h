/*
 * reach: before any worker is spawned, check that every worker's user will be able to reach the
 * directories it needs once it has dropped privileges, so that a directory it cannot traverse
 * stops the node with one line (exit 78) instead of a crash-looping worker.
 *
 * Which worker needs what is one table in reach.c. Secrets (node key, cluster lock, the P2P
 * identity) are read by the workers while they are still root, so only the directories they use
 * after the drop are checked: the runtime dir (every worker creates its socket there and
 * connects to the others') and the StateDB worker's own directory. Run as root, the check forks
 * one child per worker that takes the worker's user and groups exactly as privdrop does and asks
 * the kernel (access(2)), so ACLs and mount options count; unprivileged, the workers keep the
 * supervisor's user and it asks for itself. Workers started by hand (--external) are not checked.
 */
#ifndef AEQUA_SUPERVISOR_REACH_H
#define AEQUA_SUPERVISOR_REACH_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/config.h"

/* The first directory on the way to path (every existing ancestor needs search permission;
 * with final, path itself needs mode) that the calling process cannot use. 0 when there is
 * none, else -1 with that directory in blocker and in why what stops the process there, as a
 * phrase that the directory completes ("has no search permission on"). A missing component
 * ends the walk: the supervisor creates it later. */
int reach_walk(const char *path, int mode, bool final, char *blocker, size_t blockersz, char *why,
               size_t whysz);

/* Check every worker named in workers (NULL-terminated). final: the directories exist and are
 * prepared (owner, mode), check them too; without it (-n) only their ancestors. 0, or -1 with
 * one line naming the directory, the rights, the worker and its user. */
int reach_check(const struct config *cfg, const char *const *workers, bool final, char *err,
                size_t errsz);

#endif
