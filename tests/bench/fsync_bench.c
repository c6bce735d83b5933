/*
 * fsync_bench: what one synced write costs on this disk when 1 and when K processes sync at
 * once (scripts/bench fsync). A devnet puts every node's StateDB on the same disk, so each
 * synced step of a duty waits behind the other nodes' syncs; on separate machines it would not.
 *
 *   fsync_bench --dir DIR [--procs K] [--writes N] [--bytes B]
 *
 * Each process appends B bytes to its own preallocated file and fdatasyncs, N times, then
 * prints "procs=K proc=I writes=N p50_ms=… p99_ms=… max_ms=…".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/util.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void usage(void)
{
    fprintf(stderr, "usage: fsync_bench --dir DIR [--procs K] [--writes N] [--bytes B]\n");
    exit(2);
}

static unsigned long arg_num(const char *s, unsigned long max)
{
    uint64_t v;
    if (parse_u64(s, max, &v) < 0 || v == 0)
        usage();
    return (unsigned long)v;
}

/* One syncing process: returns its exit status. */
static int run(const char *dir, unsigned procs, unsigned idx, unsigned long writes,
               unsigned long bytes)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/sync.%u", dir, idx);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || posix_fallocate(fd, 0, (off_t)(writes * bytes)) != 0) {
        fprintf(stderr, "fsync_bench: %s: %s\n", path, strerror(errno));
        return 1;
    }
    uint8_t *b = xcalloc(1, bytes);
    uint64_t *ns = xcalloc(writes, sizeof(*ns));
    for (unsigned long i = 0; i < writes; i++) {
        uint64_t t = now_ns();
        if (pwrite(fd, b, bytes, (off_t)(i * bytes)) != (ssize_t)bytes || fdatasync(fd) < 0) {
            fprintf(stderr, "fsync_bench: %s: %s\n", path, strerror(errno));
            return 1;
        }
        ns[i] = now_ns() - t;
    }
    close(fd);
    unlink(path);
    qsort(ns, writes, sizeof(*ns), cmp_u64);
    printf("procs=%u proc=%u writes=%lu p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", procs, idx, writes,
           (double)ns[writes / 2] / 1e6, (double)ns[writes * 99 / 100] / 1e6,
           (double)ns[writes - 1] / 1e6);
    fflush(stdout);
    free(ns);
    free(b);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    unsigned long procs = 1, writes = 500, bytes = 200;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (!strcmp(argv[i], "--dir"))
            dir = argv[++i];
        else if (!strcmp(argv[i], "--procs"))
            procs = arg_num(argv[++i], 64);
        else if (!strcmp(argv[i], "--writes"))
            writes = arg_num(argv[++i], 1000000);
        else if (!strcmp(argv[i], "--bytes"))
            bytes = arg_num(argv[++i], 1 << 20);
        else
            usage();
    }
    if (!dir)
        usage();
    for (unsigned i = 0; i < procs; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fsync_bench: fork");
            return 1;
        }
        if (pid == 0)
            _exit(run(dir, (unsigned)procs, i, writes, bytes));
    }
    int status, rc = 0;
    while (wait(&status) > 0)
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            rc = 1;
    return rc;
}
