#include "workers/common/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* What glibc, libev, nng, civetweb, msgpack and libsecp256k1 need in any worker. */
static const char *const base_syscalls[] = {
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "close",
    "close_range",
    "fstat",
    "stat",
    "lstat",
    "newfstatat",
    "statx",
    "lseek",
    "mmap",
    "munmap",
    "mremap",
    "mprotect",
    "madvise",
    "brk",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sigaltstack",
    "rt_sigtimedwait",
    "futex",
    "set_robust_list",
    "get_robust_list",
    "clone",
    "clone3",
    "exit",
    "exit_group",
    "gettid",
    "getpid",
    "getppid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "nanosleep",
    "alarm",
    "setitimer",
    "gettimeofday",
    "time",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "pipe",
    "pipe2",
    "eventfd",
    "eventfd2",
    "socket",
    "socketpair",
    "connect",
    "accept",
    "accept4",
    "bind",
    "listen",
    "getsockopt",
    "setsockopt",
    "getsockname",
    "getpeername",
    "sendmsg",
    "recvmsg",
    "sendto",
    "recvfrom",
    "sendmmsg",
    "recvmmsg",
    "shutdown",
    "open",
    "openat",
    "unlink",
    "unlinkat",
    "fcntl",
    "dup",
    "dup2",
    "dup3",
    "getrandom",
    "sched_yield",
    "sched_getaffinity",
    "prctl",
    "rseq",
    "kill",
    "tgkill",
    "tkill",
    "ioctl",
    "uname",
    "sysinfo",
    "getrlimit",
    "prlimit64",
    "getrusage",
    "readlink",
    "readlinkat",
    "access",
    "faccessat",
    "faccessat2",
    "membarrier",
    "restart_syscall",
    "getcwd",
    "getdents64",
    "mincore",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
    "signalfd4",
    "fchmod",
    "chmod",
    "fchmodat",
    NULL,
};

static void write_num(char *buf, size_t *len, long v)
{
    char tmp[24];
    int n = 0;
    unsigned long u = v < 0 ? (unsigned long)-v : (unsigned long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        buf[(*len)++] = '-';
    while (n)
        buf[(*len)++] = tmp[--n];
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    /* Async-signal-safe: build the line by hand and write it once. */
    static const char head[] = "{\"level\":\"error\",\"msg\":\"seccomp_violation\",\"syscall\":";
    char line[160];
    size_t len = sizeof(head) - 1;
    memcpy(line, head, len);
    write_num(line, &len, si->si_syscall);
    memcpy(line + len, ",\"pid\":", 7);
    len += 7;
    write_num(line, &len, (long)getpid());
    line[len++] = '}';
    line[len++] = '\n';
    ssize_t w = write(2, line, len);
    (void)w;
    _exit(159);
}

static int add_rules(scmp_filter_ctx ctx, const char *const *names, char *err, size_t errsz)
{
    for (size_t i = 0; names && names[i]; i++) {
        int nr = seccomp_syscall_resolve_name(names[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not a syscall on this architecture */
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
        if (rc < 0) {
            snprintf(err, errsz, "seccomp_rule_add(%s): %s", names[i], strerror(-rc));
            return -1;
        }
    }
    return 0;
}

int seccomp_install(const struct seccomp_profile *profile, char *err, size_t errsz)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    if (sigaction(SIGSYS, &sa, NULL) < 0) {
        snprintf(err, errsz, "sigaction(SIGSYS): %s", strerror(errno));
        return -1;
    }
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    if (!ctx) {
        snprintf(err, errsz, "seccomp_init failed");
        return -1;
    }
    int rc;
    if (add_rules(ctx, base_syscalls, err, errsz) < 0 ||
        add_rules(ctx, profile ? profile->extra : NULL, err, errsz) < 0) {
        seccomp_release(ctx);
        return -1;
    }
    /* TSYNC: threads started before the filter (none should exist) get it too. */
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if ((rc = seccomp_load(ctx)) < 0) {
        snprintf(err, errsz, "seccomp_load: %s", strerror(-rc));
        seccomp_release(ctx);
        return -1;
    }
    seccomp_release(ctx);
    return 0;
}

int privdrop(const char *user, const struct seccomp_profile *profile, char *err, size_t errsz)
{
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(err, errsz, "getpwnam(%s): no such user (scripts/setup creates 'aequa')", user);
        return -1;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (uid == 0) {
        snprintf(err, errsz, "user %s has uid 0: refusing to run a worker as root", user);
        return -1;
    }
    /* Empty the bounding set so that nothing can regain a capability. */
    for (int cap = 0; cap <= 63; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
            snprintf(err, errsz, "prctl(PR_CAPBSET_DROP, %d): %s", cap, strerror(errno));
            return -1;
        }
    }
    if (setgroups(1, &gid) < 0) {
        snprintf(err, errsz, "setgroups(%u): %s", (unsigned)gid, strerror(errno));
        return -1;
    }
    if (setresgid(gid, gid, gid) < 0) {
        snprintf(err, errsz, "setresgid(%u): %s", (unsigned)gid, strerror(errno));
        return -1;
    }
    if (setresuid(uid, uid, uid) < 0) {
        snprintf(err, errsz, "setresuid(%u): %s", (unsigned)uid, strerror(errno));
        return -1;
    }
    uid_t r, e, s;
    if (getresuid(&r, &e, &s) < 0 || r != uid || e != uid || s != uid || setuid(0) == 0) {
        snprintf(err, errsz, "setresuid(%u) did not stick", (unsigned)uid);
        return -1;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        snprintf(err, errsz, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
        return -1;
    }
    return seccomp_install(profile, err, errsz);
}
