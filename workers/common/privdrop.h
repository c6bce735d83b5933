/*
 * privdrop: a worker's fixed sequence for giving up root (SPEC §3.2), in OpenBSD's order:
 * capability bounding set emptied -> setgroups -> setresgid -> setresuid (verified) ->
 * PR_SET_NO_NEW_PRIVS -> a libseccomp allow-list tailored to the worker.
 *
 * Every failing step is fatal for the worker and named in the error. A syscall outside the
 * allow-list raises SIGSYS; the handler writes one log line naming the syscall number and exits
 * 159, so the supervisor restarts the worker and the operator sees why.
 */
#ifndef AEQUA_WORKERS_PRIVDROP_H
#define AEQUA_WORKERS_PRIVDROP_H

#include <stddef.h>

/* Syscall names a worker needs beyond the common base (NULL-terminated). */
struct seccomp_profile {
    const char *const *extra;
};

/* As root: drop to user and install the filter. Returns 0 or -1 with the failed step in err. */
int privdrop(const char *user, const struct seccomp_profile *profile, char *err, size_t errsz);

/* Only the seccomp part (also used unprivileged in tests, after NO_NEW_PRIVS). */
int seccomp_install(const struct seccomp_profile *profile, char *err, size_t errsz);

#endif
