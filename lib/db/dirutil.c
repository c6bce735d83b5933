#include "lib/db/dirutil.h"
#include "lib/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int join(char *out, const char *dir, const char *name)
{
    if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* fsync what path names (opened with flags); errno is fsync's or open's. */
static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int dir_fsync(const char *dir)
{
    return fsync_path(dir, O_DIRECTORY);
}

int dir_fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    char *slash = strrchr(dir, '/');
    if (!slash)
        return dir_fsync(".");
    if (slash == dir)
        slash[1] = 0;
    else
        *slash = 0;
    return dir_fsync(dir);
}

bool path_exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

int file_copy(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        int e = errno;
        close(in);
        errno = e;
        return -1;
    }
    char buf[1 << 16];
    int rc = 0;
    for (;;) {
        ssize_t r = read(in, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? -1 : 0;
            break;
        }
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = -1;
                break;
            }
            off += w;
        }
        if (rc < 0)
            break;
    }
    if (rc == 0 && fsync(out) < 0)
        rc = -1;
    int e = errno;
    close(in);
    if (close(out) < 0 && rc == 0) {
        e = errno;
        rc = -1;
    }
    errno = e;
    return rc;
}

/* Call fn for each entry of dir except . and .. ; stops at the first error. The names are read
 * first, so fn may create, rename or remove entries. */
static int dir_each(const char *dir, int (*fn)(const char *dir, const char *name, void *arg),
                    void *arg)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            names = xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    int rc = 0, e = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && fn(dir, names[i], arg) < 0) {
            rc = -1;
            e = errno;
        }
        free(names[i]);
    }
    free(names);
    errno = e;
    return rc;
}

static int copy_one(const char *dir, const char *name, void *arg)
{
    char src[PATH_MAX], dst[PATH_MAX];
    struct stat sb;
    if (join(src, dir, name) < 0 || join(dst, arg, name) < 0)
        return -1;
    if (lstat(src, &sb) < 0)
        return -1;
    if (!S_ISREG(sb.st_mode)) {
        errno = EINVAL;
        return -1;
    }
    return file_copy(src, dst);
}

int dir_copy(const char *src, const char *dst)
{
    if (mkdir(dst, 0700) < 0)
        return -1;
    if (dir_each(src, copy_one, (void *)dst) < 0)
        return -1;
    if (dir_fsync(dst) < 0)
        return -1;
    return dir_fsync_parent(dst);
}

static int remove_one(const char *dir, const char *name, void *arg)
{
    (void)arg;
    char p[PATH_MAX];
    if (join(p, dir, name) < 0)
        return -1;
    return unlink(p);
}

int dir_remove(const char *dir)
{
    if (!path_exists(dir))
        return 0;
    if (dir_each(dir, remove_one, NULL) < 0)
        return -1;
    return rmdir(dir);
}

static int unshare_one(const char *dir, const char *name, void *arg)
{
    (void)arg;
    char p[PATH_MAX], tmp[PATH_MAX];
    struct stat sb;
    if (join(p, dir, name) < 0 || lstat(p, &sb) < 0)
        return -1;
    if (!S_ISREG(sb.st_mode))
        return 0;
    if (sb.st_nlink <= 1)
        return fsync_path(p, 0);
    if (snprintf(tmp, sizeof(tmp), "%s.copy", p) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    unlink(tmp);
    if (file_copy(p, tmp) < 0)
        return -1;
    return rename(tmp, p);
}

int dir_unshare_sync(const char *dir)
{
    if (dir_each(dir, unshare_one, NULL) < 0)
        return -1;
    return dir_fsync(dir);
}
