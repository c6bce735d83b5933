/* reach: see reach.h. */
#include "supervisor/reach.h"
#include "lib/util.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct reach_need {
    const char *worker; /* NULL: every worker */
    const char *what;   /* how the operator names the directory */
    size_t off;         /* its path: a field of struct config */
    int mode;           /* access(2) rights the worker needs on the directory itself */
};

static const struct reach_need needs[] = {
    /* every worker listens on its socket there and connects to the others' */
    {NULL, "[node] runtime_dir", offsetof(struct config, runtime_dir), W_OK | X_OK},
    /* RocksDB, its checkpoints and its lock file */
    {"statedb", "[statedb] path", offsetof(struct config, statedb_path), R_OK | W_OK | X_OK},
};

static const struct {
    int bit;
    const char *name;
} right_names[] = {{R_OK, "read"}, {W_OK, "write"}, {X_OK, "search"}};

int reach_walk(const char *path, int mode, bool final, char *blocker, size_t blockersz, char *why,
               size_t whysz)
{
    char p[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(p)) {
        snprintf(blocker, blockersz, "%.200s", path);
        snprintf(why, whysz, "needs a path of 1 to %d bytes, not", PATH_MAX - 1);
        return -1;
    }
    memcpy(p, path, n + 1);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = 0;
    for (size_t i = 1; i <= n; i++) {
        if ((i < n && p[i] != '/') || p[i - 1] == '/')
            continue;
        char save = p[i];
        p[i] = 0;
        int want = i < n ? X_OK : final ? mode : 0;
        struct stat st;
        why[0] = 0;
        if (stat(p, &st) < 0) {
            if (errno == ENOENT) /* created later, by the supervisor */
                return 0;
            snprintf(why, whysz, "gets '%s' looking up", strerror(errno));
        } else if (!S_ISDIR(st.st_mode)) {
            snprintf(why, whysz, "finds no directory but a file at");
        } else {
            const char *miss[ARRAY_LEN(right_names)];
            size_t nm = 0;
            for (size_t r = 0; r < ARRAY_LEN(right_names); r++)
                if ((want & right_names[r].bit) && access(p, right_names[r].bit) < 0)
                    miss[nm++] = right_names[r].name;
            if (nm)
                snprintf(why, whysz, "has no %s%s%s%s%s permission on", miss[0],
                         nm == 3   ? ", "
                         : nm == 2 ? " and "
                                   : "",
                         nm > 1 ? miss[1] : "", nm == 3 ? " and " : "", nm == 3 ? miss[2] : "");
        }
        if (why[0]) {
            snprintf(blocker, blockersz, "%s", p);
            return -1;
        }
        p[i] = save;
    }
    return 0;
}

/* Run reach_walk as uid/gid (groups exactly as privdrop sets them) in a child; the result comes
 * back as "blocker\nwhy" over a pipe. 0, -1 (blocked), or -2 with the failure in why. */
static int walk_as(uid_t uid, gid_t gid, const char *path, int mode, bool final, char *blocker,
                   size_t blockersz, char *why, size_t whysz)
{
    int fds[2];
    if (pipe(fds) < 0) {
        snprintf(why, whysz, "pipe: %s", strerror(errno));
        return -2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, whysz, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -2;
    }
    if (pid == 0) {
        char b[PATH_MAX], l[128], out[PATH_MAX + 130];
        int rc = 2;
        close(fds[0]);
        if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
            setresuid(uid, uid, uid) < 0) {
            snprintf(out, sizeof(out), "\ntaking the user: %s", strerror(errno));
        } else {
            rc = reach_walk(path, mode, final, b, sizeof(b), l, sizeof(l)) < 0;
            snprintf(out, sizeof(out), "%s\n%s", rc ? b : "", rc ? l : "");
        }
        ssize_t w = write(fds[1], out, strlen(out));
        _exit(w < 0 ? 2 : rc);
    }
    close(fds[1]);
    char buf[PATH_MAX + 130];
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fds[0], buf + got, sizeof(buf) - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || (got += (size_t)r) == sizeof(buf) - 1)
            break;
    }
    close(fds[0]);
    buf[got] = 0;
    int status = 0;
    pid_t r;
    while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    char *nl = strchr(buf, '\n');
    int code = r == pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 0)
        return 0;
    if (code != 1 || !nl || blockersz == 0) {
        snprintf(why, whysz, "%s", nl && code == 2 ? nl + 1 : "the check did not finish");
        return -2;
    }
    size_t bl = (size_t)(nl - buf) < blockersz ? (size_t)(nl - buf) : blockersz - 1;
    memcpy(blocker, buf, bl);
    blocker[bl] = 0;
    snprintf(why, whysz, "%s", nl + 1);
    return -1;
}

static void describe_owner(const char *dir, char *out, size_t n)
{
    struct stat st;
    if (stat(dir, &st) < 0) {
        out[0] = 0;
        return;
    }
    struct passwd *pw = getpwuid(st.st_uid);
    struct group *gr = getgrgid(st.st_gid);
    char u[32], g[32];
    snprintf(u, sizeof(u), "%u", (unsigned)st.st_uid);
    snprintf(g, sizeof(g), "%u", (unsigned)st.st_gid);
    snprintf(out, n, " (mode %04o, owner %s:%s)", (unsigned)(st.st_mode & 07777),
             pw ? pw->pw_name : u, gr ? gr->gr_name : g);
}

static int check_one(const struct config *cfg, const char *worker, const struct reach_need *need,
                     bool final, char *err, size_t errsz)
{
    const char *path = (const char *)cfg + need->off;
    const char *user = config_worker_user(cfg, worker);
    char blocker[PATH_MAX], why[160], owner[128];
    int rc;
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam(user);
        if (!pw) {
            snprintf(err, errsz, "[supervisor] %s%s of the %s worker: no such user '%s'",
                     user == cfg->user ? "user" : "user_", user == cfg->user ? "" : worker, worker,
                     user);
            return -1;
        }
        rc = walk_as(pw->pw_uid, pw->pw_gid, path, need->mode, final, blocker, sizeof(blocker), why,
                     sizeof(why));
    } else {
        struct passwd *self = getpwuid(geteuid());
        user = self ? self->pw_name : "?";
        rc = reach_walk(path, need->mode, final, blocker, sizeof(blocker), why, sizeof(why));
    }
    if (rc == -2) {
        snprintf(err, errsz, "%s %s: cannot check what user '%s' of the %s worker may do: %s",
                 need->what, path, user, worker, why);
        return -1;
    }
    if (rc < 0) {
        describe_owner(blocker, owner, sizeof(owner));
        snprintf(err, errsz, "%s %s: user '%s' of the %s worker %s %s%s", need->what, path, user,
                 worker, why, blocker, owner);
        return -1;
    }
    return 0;
}

int reach_check(const struct config *cfg, const char *const *workers, bool final, char *err,
                size_t errsz)
{
    for (size_t w = 0; workers[w]; w++)
        for (size_t i = 0; i < ARRAY_LEN(needs); i++)
            if ((!needs[i].worker || !strcmp(needs[i].worker, workers[w])) &&
                check_one(cfg, workers[w], &needs[i], final, err, errsz) < 0)
                return -1;
    return 0;
}
