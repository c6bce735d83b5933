/*
 * statedb_crash: SIGKILL a process that appends vote intents through the group commit, at random
 * moments, many times; after every restart every acknowledged append must be present and
 * byte-identical, and no record may be partial.
 *
 *   statedb_crash [--long] [--kills N] [--seed S] [--dir DIR]
 *
 * First it kills the very first open of fresh databases at moments spread over a creation's
 * duration (40 times, 400 with --long): the next open must find a clean database.
 * The parent never touches RocksDB (it forks and re-executes itself for every child, so that no
 * child inherits RocksDB's threads). A child:
 *   1. opens the store (a SIGKILL must never make it fall back or refuse: that fails the test),
 *   2. checks every key the parent recorded as acknowledged (file "acked"): present, and its
 *      bytes are exactly intent_bytes(key); then scans the whole WAL family: every record's
 *      bytes are exactly intent_bytes(its key) (nothing partial, nothing foreign),
 *   3. reports 'R' (ready) and appends batches of new intents forever, mixing in re-sends of
 *      acknowledged intents (must be DUPLICATE) and conflicting ones (must be REFUSED with the
 *      stored bytes); after each group commit it reports every OK append as 'A' + key.
 * The parent kills it after a random delay (most kills while it appends, some during its open),
 * records the acknowledged keys it received before the kill, and starts the next child. At the
 * end a last child only verifies.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"
#include "workers/statedb/commit.h"
#include "workers/statedb/store.h"

#define KEYLEN        RECORD_WAL_KEY_LEN
#define MSG_READY     'R'
#define MSG_ACK       'A'
#define MSG_VERIFIED  'V'
#define MSG_ERROR     'E'
#define MAX_BATCH     32
#define HEIGHT_STRIDE 1000000ull

static const uint8_t lock_hash[RECORD_LOCK_HASH] = {0xc0, 0xff, 0xee};

/* ---- deterministic content ---- */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static uint64_t key_seed(const uint8_t *key)
{
    uint64_t h = 0;
    for (int i = 0; i < KEYLEN; i++)
        h = mix(h ^ key[i]);
    return h;
}

/* The only bytes ever acceptable under key: 1..2048 pseudo-random bytes derived from it. */
static size_t intent_bytes(const uint8_t *key, uint8_t *out)
{
    uint64_t s = key_seed(key);
    size_t n = 1 + s % 2048;
    for (size_t i = 0; i < n; i++) {
        s = mix(s + i);
        out[i] = (uint8_t)s;
    }
    return n;
}

/* ---- child ---- */

static int out_fd = -1;

static void send_msg(char type, const void *p, size_t n)
{
    uint8_t m[1 + 255];
    m[0] = (uint8_t)type;
    memcpy(m + 1, p, n);
    /* At most 256 bytes: a pipe write this small is atomic. */
    if (write(out_fd, m, 1 + n) != (ssize_t)(1 + n))
        _exit(3);
}

static void child_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void child_fail(const char *fmt, ...)
{
    char msg[255];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(msg))
        n = sizeof(msg) - 1;
    uint8_t len = (uint8_t)n;
    uint8_t m[256];
    m[0] = len;
    memcpy(m + 1, msg, len);
    send_msg(MSG_ERROR, m, (size_t)len + 1);
    _exit(2);
}

static uint8_t *read_acked(const char *path, size_t *n)
{
    char *data;
    size_t len;
    if (read_file(path, 1u << 30, &data, &len) < 0) {
        if (errno == ENOENT) {
            *n = 0;
            return NULL;
        }
        child_fail("read %s: %s", path, strerror(errno));
    }
    if (len % KEYLEN)
        child_fail("acked file has %zu bytes", len);
    *n = len / KEYLEN;
    return (uint8_t *)data;
}

static void verify(struct store *st, const char *acked_path)
{
    static uint8_t want[2048];
    size_t nacked;
    uint8_t *acked = read_acked(acked_path, &nacked);
    for (size_t i = 0; i < nacked; i++) {
        const uint8_t *k = acked + i * KEYLEN;
        struct db_value v;
        char err[256];
        int rc = db_get(store_db(st), SDB_CF_WAL, k, KEYLEN, &v, err, sizeof(err));
        if (rc < 0)
            child_fail("get: %s", err);
        if (rc == 1)
            child_fail("acknowledged intent %zu of %zu is missing", i, nacked);
        size_t n = intent_bytes(k, want);
        if (v.len != n || memcmp(v.p, want, n))
            child_fail("acknowledged intent %zu has other bytes (%zu, want %zu)", i, v.len, n);
        db_value_free(&v);
    }
    free(acked);
    uint64_t records = 0;
    struct db_iter *it = db_iter_new(store_db(st), SDB_CF_WAL);
    for (db_iter_seek_first(it); db_iter_valid(it); db_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = db_iter_key(it, &kl);
        const uint8_t *v = db_iter_value(it, &vl);
        if (kl != KEYLEN)
            child_fail("record %llu: key of %zu bytes", (unsigned long long)records, kl);
        size_t n = intent_bytes(k, want);
        if (vl != n || memcmp(v, want, n))
            child_fail("record %llu is partial or foreign (%zu bytes, want %zu)",
                       (unsigned long long)records, vl, n);
        records++;
    }
    char err[256];
    if (db_iter_error(it, err, sizeof(err)) < 0)
        child_fail("scan: %s", err);
    db_iter_free(it);
    if (records < nacked)
        child_fail("%llu records but %zu acknowledged", (unsigned long long)records, nacked);
    send_msg(MSG_VERIFIED, &records, sizeof(records));
}

static void set_intent(struct statedb_op *op, const uint8_t *key, uint8_t *buf, bool conflict)
{
    memset(op, 0, sizeof(*op));
    op->req.type = SDB_APPEND_INTENT;
    if (record_wal_key_parse(&op->req.u.append.k, key, KEYLEN) < 0)
        child_fail("bad key");
    size_t n = intent_bytes(key, buf);
    if (conflict)
        buf[n++] = 0x5a; /* other bytes for the same key */
    op->req.u.append.msg = (struct sdb_bytes){buf, (uint32_t)n};
}

static int run_child(const char *dir, uint64_t generation, uint64_t seed, bool verify_only)
{
    char db[PATH_MAX], acked_path[PATH_MAX], err[2048];
    snprintf(db, sizeof(db), "%s/db", dir);
    snprintf(acked_path, sizeof(acked_path), "%s/acked", dir);
    struct store *st;
    struct store_opts o = {.path = db, .lock_hash = lock_hash, .sync = true, .checkpoints_keep = 3};
    int rc = store_open(&st, &o, err, sizeof(err));
    if (rc != STORE_OK)
        child_fail("open: %s", err);
    if (store_open_result(st) != STORE_RECOVERY_OK)
        child_fail("open after a crash was not clean: %s", store_meta(st)->fallback.detail);
    verify(st, acked_path);
    if (verify_only) {
        store_close(st);
        return 0;
    }
    /* Re-sends and conflicts target keys acknowledged earlier. */
    size_t nacked;
    uint8_t *acked = read_acked(acked_path, &nacked);
    send_msg(MSG_READY, "", 0);
    static uint8_t bufs[MAX_BATCH][2049];
    struct statedb_op ops[MAX_BATCH];
    uint8_t keys[MAX_BATCH][KEYLEN];
    uint64_t rng = mix(seed ^ generation), counter = 0;
    for (;;) {
        rng = mix(rng);
        size_t n = 1 + rng % MAX_BATCH;
        for (size_t i = 0; i < n; i++) {
            rng = mix(rng);
            int kind = nacked ? (int)(rng % 16) : 2; /* 0: re-send, 1: conflict, else new */
            if (kind < 2) {
                memcpy(keys[i], acked + (rng >> 8) % nacked * KEYLEN, KEYLEN);
            } else {
                struct sdb_intent_key k = {(uint8_t)(counter % 3),
                                           generation * HEIGHT_STRIDE + counter / 5, 1,
                                           (uint8_t)(QBFT_PRE_PREPARE + counter % 5)};
                counter++;
                record_wal_key(keys[i], &k);
            }
            set_intent(&ops[i], keys[i], bufs[i], kind == 1);
        }
        statedb_group_commit(st, ops, n);
        for (size_t i = 0; i < n; i++) {
            struct sdb_reply rep;
            if (sdb_reply_decode(&rep, ops[i].out.type, ops[i].out.body.data, ops[i].out.body.len) <
                0)
                child_fail("undecodable reply");
            bool conflict = ops[i].req.u.append.msg.len != intent_bytes(keys[i], bufs[i]);
            if (rep.status == SDB_OK && !conflict && rep.durable)
                send_msg(MSG_ACK, keys[i], KEYLEN);
            else if (rep.status == SDB_REFUSED && conflict) {
                size_t want = intent_bytes(keys[i], bufs[i]);
                if (rep.u.stored.msg.len != want || memcmp(rep.u.stored.msg.p, bufs[i], want))
                    child_fail("refusal carried other bytes than the stored ones");
            } else if (!(rep.status == SDB_DUPLICATE && !conflict))
                child_fail("append answered %s (conflict=%d)", sdb_status_name(rep.status),
                           conflict);
            sdb_reply_free(&rep);
            buf_free(&ops[i].out.body);
        }
    }
}

/* ---- parent ---- */

struct run {
    const char *self, *dir;
    uint64_t seed;
    FILE *acked;
    uint64_t acks, verified_records;
};

static pid_t spawn(struct run *r, uint64_t generation, bool verify_only, int *rfd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        fatal("pipe");
    pid_t pid = fork();
    if (pid < 0)
        fatal("fork");
    if (pid == 0) {
        char fd[16], gen[32], seed[32];
        snprintf(fd, sizeof(fd), "%d", p[1]);
        snprintf(gen, sizeof(gen), "%llu", (unsigned long long)generation);
        snprintf(seed, sizeof(seed), "%llu", (unsigned long long)r->seed);
        fcntl(p[1], F_SETFD, 0);
        execl(r->self, r->self, verify_only ? "--verify" : "--child", r->dir, gen, seed, fd,
              (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    *rfd = p[0];
    return pid;
}

static uint64_t now_us(void)
{
    return now_ns() / 1000;
}

struct reader {
    uint8_t buf[1 << 16];
    size_t len;
    bool ready, eof;
};

#define UNTIL_EOF   0
#define UNTIL_READY UINT64_MAX

/* Read the child's messages until deadline_us, UNTIL_READY or UNTIL_EOF. -1 on a child error. */
static int pump(struct run *r, struct reader *rd, int fd, uint64_t deadline_us)
{
    for (;;) {
        int timeout = -1;
        if (deadline_us == UNTIL_READY && rd->ready)
            return 0;
        if (deadline_us != UNTIL_EOF && deadline_us != UNTIL_READY) {
            uint64_t now = now_us();
            if (now >= deadline_us)
                return 0;
            timeout = (int)((deadline_us - now + 999) / 1000);
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, timeout) < 0) {
            if (errno == EINTR)
                continue;
            fatal("poll");
        }
        if (!pfd.revents)
            continue;
        ssize_t n = read(fd, rd->buf + rd->len, sizeof(rd->buf) - rd->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rd->eof = true;
            return 0;
        }
        rd->len += (size_t)n;
        size_t off = 0;
        while (off < rd->len) {
            uint8_t t = rd->buf[off];
            size_t need = t == MSG_ACK        ? 1 + KEYLEN
                          : t == MSG_VERIFIED ? 1 + 8
                          : t == MSG_READY    ? 1
                          : t == MSG_ERROR    ? (off + 1 < rd->len ? 2u + rd->buf[off + 1] : 2)
                                              : 0;
            if (need == 0) {
                fprintf(stderr, "statedb_crash: garbage from child\n");
                return -1;
            }
            if (rd->len - off < need)
                break;
            if (t == MSG_ACK) {
                if (fwrite(rd->buf + off + 1, KEYLEN, 1, r->acked) != 1)
                    fatal("write acked");
                r->acks++;
            } else if (t == MSG_VERIFIED)
                memcpy(&r->verified_records, rd->buf + off + 1, 8);
            else if (t == MSG_READY)
                rd->ready = true;
            else {
                fprintf(stderr, "statedb_crash: child failed: %.*s\n", rd->buf[off + 1],
                        (const char *)rd->buf + off + 2);
                return -1;
            }
            off += need;
        }
        memmove(rd->buf, rd->buf + off, rd->len - off);
        rd->len -= off;
    }
}

static int run_parent(struct run *r, int kills)
{
    char acked_path[PATH_MAX];
    snprintf(acked_path, sizeof(acked_path), "%s/acked", r->dir);
    r->acked = fopen(acked_path, "ab");
    if (!r->acked)
        fatal("open %s", acked_path);
    uint64_t rng = mix(r->seed), generation = 1;
    int during_appends = 0, during_open = 0;
    uint64_t verified_rounds = 0;
    while (during_appends < kills) {
        int fd;
        rng = mix(rng);
        bool early = rng % 5 == 0; /* one kill in five lands anywhere, often in the open */
        pid_t pid = spawn(r, generation++, false, &fd);
        struct reader rd = {.len = 0};
        uint64_t t0 = now_us();
        int rc;
        if (early)
            rc = pump(r, &rd, fd, t0 + (rng >> 8) % 60000);
        else {
            rc = pump(r, &rd, fd, UNTIL_READY); /* the child verified and appends */
            if (rc == 0 && !rd.eof)
                rc = pump(r, &rd, fd, now_us() + 2000 + (rng >> 8) % 50000);
        }
        bool was_ready = rd.ready;
        kill(pid, SIGKILL);
        if (rc == 0)
            rc = pump(r, &rd, fd, UNTIL_EOF); /* every ack written before the kill */
        close(fd);
        int status;
        waitpid(pid, &status, 0);
        if (fflush(r->acked) != 0)
            fatal("flush acked");
        if (rc < 0)
            return 1;
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
            fprintf(stderr, "statedb_crash: child exited on its own (status %d)\n", status);
            return 1;
        }
        if (was_ready) {
            during_appends++;
            verified_rounds++;
        } else
            during_open++;
    }
    /* The last child only verifies. */
    int fd;
    pid_t pid = spawn(r, generation, true, &fd);
    struct reader rd = {.len = 0};
    int rc = pump(r, &rd, fd, UNTIL_EOF);
    close(fd);
    int status;
    waitpid(pid, &status, 0);
    fclose(r->acked);
    if (rc < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "statedb_crash: final verification failed (status %d)\n", status);
        return 1;
    }
    printf("statedb_crash: seed %llu: %d kills while appending, %d during start-up; %llu "
           "acknowledged appends, all present and byte-identical after %llu restarts; %llu "
           "records, none partial\n",
           (unsigned long long)r->seed, during_appends, during_open, (unsigned long long)r->acks,
           (unsigned long long)verified_rounds + (unsigned long long)during_open,
           (unsigned long long)r->verified_records);
    if (r->acks == 0) {
        fprintf(stderr, "statedb_crash: no append was ever acknowledged\n");
        return 1;
    }
    return 0;
}

/* Run one verify-only child in dir, killing it after delay_us (0: let it finish). Returns the
 * child's status, or -1 when it reported an error. */
static int verify_child(struct run *r, uint64_t delay_us, int *status)
{
    int fd;
    pid_t pid = spawn(r, 0, true, &fd);
    struct reader rd = {.len = 0};
    int rc = pump(r, &rd, fd, delay_us ? now_us() + delay_us : UNTIL_EOF);
    if (delay_us)
        kill(pid, SIGKILL);
    if (rc == 0)
        rc = pump(r, &rd, fd, UNTIL_EOF);
    close(fd);
    waitpid(pid, status, 0);
    return rc;
}

/*
 * Kill the very first open of a database at moments spread over the time a creation takes
 * (measured first), each in a fresh directory: the next open must find a clean new database,
 * never a half-created one that looks damaged.
 */
static int run_creation(struct run *r, int trials)
{
    char sub[PATH_MAX];
    int status;
    struct run c = *r;
    c.dir = sub;
    snprintf(sub, sizeof(sub), "%s/create-measure", r->dir);
    if (mkdir(sub, 0700) < 0)
        fatal("mkdir %s", sub);
    uint64_t t0 = now_us();
    if (verify_child(&c, 0, &status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "statedb_crash: creating a database failed (status %d)\n", status);
        return 1;
    }
    uint64_t span = now_us() - t0;
    int interrupted = 0;
    for (int i = 0; i < trials; i++) {
        snprintf(sub, sizeof(sub), "%s/create-%d", r->dir, i);
        if (mkdir(sub, 0700) < 0)
            fatal("mkdir %s", sub);
        if (verify_child(&c, 1 + span * (uint64_t)i / (uint64_t)trials, &status) < 0)
            return 1;
        interrupted += WIFSIGNALED(status);
        if (verify_child(&c, 0, &status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "statedb_crash: open after a kill during creation failed in %s\n", sub);
            return 1;
        }
    }
    printf("statedb_crash: %d creations killed at 0..%llu us (%d before finishing), each "
           "reopened clean\n",
           trials, (unsigned long long)span, interrupted);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && (!strcmp(argv[1], "--child") || !strcmp(argv[1], "--verify"))) {
        uint64_t gen, seed, fd;
        if (parse_u64(argv[3], UINT64_MAX, &gen) < 0 || parse_u64(argv[4], UINT64_MAX, &seed) < 0 ||
            parse_u64(argv[5], INT32_MAX, &fd) < 0)
            return 2;
        out_fd = (int)fd;
        return run_child(argv[2], gen, seed, !strcmp(argv[1], "--verify"));
    }
    int kills = 50, creations = 40;
    uint64_t seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 16;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        uint64_t v;
        if (!strcmp(argv[i], "--long")) {
            kills = 500;
            creations = 400;
        } else if (!strcmp(argv[i], "--kills") && i + 1 < argc &&
                   parse_u64(argv[++i], 100000, &v) == 0)
            kills = (int)v;
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc &&
                 parse_u64(argv[++i], UINT64_MAX, &v) == 0)
            seed = v;
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else {
            fprintf(stderr, "usage: statedb_crash [--long] [--kills N] [--seed S] [--dir DIR]\n");
            return 2;
        }
    }
    char tmp[] = "/tmp/aequa-crash-XXXXXX";
    if (!dir && !(dir = mkdtemp(tmp)))
        fatal("mkdtemp");
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0)
        fatal("readlink /proc/self/exe");
    self[n] = 0;
    struct run r = {.self = self, .dir = dir, .seed = seed};
    printf("statedb_crash: seed %llu, dir %s, %d kills while appending\n", (unsigned long long)seed,
           dir, kills);
    fflush(stdout);
    int rc = run_creation(&r, creations);
    if (rc == 0)
        rc = run_parent(&r, kills);
    if (rc == 0 && dir == tmp) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "statedb_crash: could not remove %s\n", dir);
    } else if (rc != 0)
        fprintf(stderr, "statedb_crash: data kept in %s (rerun with --seed %llu)\n", dir,
                (unsigned long long)seed);
    return rc;
}
