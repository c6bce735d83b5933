/*
 * p2p_node: a test and benchmark harness around the P2P link layer (workers/p2p/links.h), one
 * process per node, until the real P2P worker exists. Two modes:
 *
 *   p2p_node node CONFIG [-v]
 *     Runs the node's link manager from an aequa.conf (precheck first: exit 78 on failure, as
 *     the worker's DKG gate). Commands on stdin, one per line:
 *       broadcast TOPIC SIZE COUNT   COUNT messages of SIZE bytes (timestamped for latency)
 *       pace TOPIC SIZE COUNT US     the same, one every US microseconds ("paced N" at the end)
 *       expect N                     print "reached N" once N timestamped messages arrived
 *       bcast TOPIC TEXT             one message to every peer
 *       send PEER TOPIC TEXT         one message
 *       report PEER invalid_signature|equivocation
 *       qbft PEER|all TYPE DUTY HEIGHT ROUND [HASH]
 *                                    a QBFT vote of this operator, signed with its node key
 *                                    (TYPE prepare|commit|round_change, HASH 64 hex)
 *       status | metrics | stats | reset | quit
 *     Events on stdout: "up J", "down J", "msg J TOPIC LEN TEXT" (TEXT only for printable
 *     payloads), "status up=… quorum=0|1", "stats count=… p50_us=… p99_us=…", metrics text
 *     followed by "end"; for the QBFT topic also "qbft J TYPE DUTY HEIGHT ROUND HASH" and
 *     "seal J DUTY HEIGHT INDEX".
 *
 *   p2p_node evil LOCK MODE TARGET [KEY INDEX] [COUNT]
 *     A misbehaving client dialling operator TARGET, with a blocking socket and its own
 *     handshake (it does not judge the target): MODE is
 *       outsider  a key outside the lock (KEY "-"); sends frames right after its handshake
 *       dkg       KEY/INDEX of a member, but claims another lock_hash
 *       flood     COUNT small frames as fast as possible
 *       garbage   COUNT authentic frames with an unknown topic, then "after-garbage"
 *       oversize  a frame header announcing 2^31-1 bytes
 *       hold      COUNT plain TCP connections that never handshake
 *       abort     sends handshake message 1, reads message 2 and closes, as a peer with another
 *                 lock or key does once it has judged the target
 *       badhs     sends a handshake message 3 that does not authenticate
 *     It prints what it saw ("closed", "accepted", "held N closed M") and exits 0, or 1 when
 *     the target behaved unexpectedly for the mode.
 *
 *   p2p_node hsbench [RUNS]
 *     Times complete handshakes in-process (both sides, identity checks included).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "proto/qbft.h"
#include "proto/seal.h"
#include "workers/p2p/handshake.h"
#include "workers/p2p/links.h"

#define BENCH_MAGIC "AQBENCH1"
#define LAT_MAX     (1u << 22)

/* ---- node mode ---- */

static struct p2p_links *links;
static struct buf line;
static struct node_key qkey; /* signs the qbft command's votes */
static uint8_t qlock_hash[SHA256_LEN];
static uint32_t qself;
static uint64_t *lat;                     /* received bench latencies, ns */
static size_t nlat, nbench, expect_count; /* expect_count: print "reached" once there */

/* What travels on the QBFT topic, one line each. */
static void print_qbft(uint32_t peer, const uint8_t *data, size_t len)
{
    enum qbft_topic_kind kind;
    const uint8_t *bytes;
    size_t n;
    struct seal s;
    struct qbft_msg *m = xmalloc(sizeof(*m));
    char hex[2 * QBFT_HASH_LEN + 1];
    if (qbft_topic_decode(&kind, &bytes, &n, data, len) == 0) {
        if (kind == QBFT_KIND_MSG && qbft_msg_decode(m, bytes, n, QBFT_DECODE_WIRE) == 0) {
            hex_encode(hex, m->m.b.value_hash, QBFT_HASH_LEN);
            printf("qbft %u %s %u %llu %llu %s\n", peer, qbft_type_name(m->m.b.type), m->m.b.duty,
                   (unsigned long long)m->m.b.height, (unsigned long long)m->m.b.round, hex);
        } else if (kind == QBFT_KIND_SEAL && seal_decode(&s, bytes, n) == 0) {
            printf("seal %u %u %llu %u\n", peer, s.duty, (unsigned long long)s.height, s.index);
        }
    }
    free(m);
}

static const char *const vote_types[] = {
    [QBFT_PREPARE] = "prepare",
    [QBFT_COMMIT] = "commit",
    [QBFT_ROUND_CHANGE] = "round_change",
};

static void cmd_qbft(const char *to, const char *type, unsigned long duty,
                     unsigned long long height, unsigned long long round, const char *hash)
{
    struct qbft_body b = {
        .duty = (uint8_t)duty, .height = height, .round = round, .sender = (uint16_t)qself};
    for (size_t t = 0; t < ARRAY_LEN(vote_types); t++)
        if (vote_types[t] && !strcmp(type, vote_types[t]))
            b.type = (uint8_t)t;
    if (!b.type || (hash && hex_decode(b.value_hash, QBFT_HASH_LEN, hash, strlen(hash)) < 0)) {
        printf("error bad qbft\n");
        return;
    }
    b.has_value_hash = hash != NULL;
    struct buf body = BUF_INIT, msg = BUF_INIT, topic = BUF_INIT;
    uint8_t digest[SHA256_LEN], sig[SIG_LEN];
    qbft_body_encode(&body, &b);
    qbft_signing_digest(digest, qlock_hash, body.data, body.len);
    ecdsa_sign(&qkey, digest, sig);
    struct qbft_sigref self = {body.data, body.len, sig};
    qbft_msg_encode(&msg, &self, NULL, 0, NULL, 0);
    qbft_topic_encode(&topic, QBFT_KIND_MSG, msg.data, msg.len);
    unsigned sent =
        !strcmp(to, "all")
            ? p2p_links_broadcast(links, P2P_TOPIC_QBFT, topic.data, topic.len)
            : p2p_links_send(links, (uint32_t)atoi(to), P2P_TOPIC_QBFT, topic.data, topic.len) == 0;
    printf("sent %u\n", sent);
    buf_free(&body);
    buf_free(&msg);
    buf_free(&topic);
}

static void on_message(void *ctx, uint32_t peer, enum p2p_topic topic, const uint8_t *data,
                       size_t len)
{
    (void)ctx;
    if (topic == P2P_TOPIC_QBFT)
        print_qbft(peer, data, len);
    if (len >= 16 && !memcmp(data, BENCH_MAGIC, 8)) {
        uint64_t sent;
        memcpy(&sent, data + 8, 8);
        nbench++;
        if (nlat < LAT_MAX)
            lat[nlat++] = now_ns() - sent;
        if (expect_count && nbench >= expect_count) {
            expect_count = 0;
            printf("reached %zu\n", nbench);
        }
        return;
    }
    bool printable = len <= 200;
    for (size_t i = 0; i < len && printable; i++)
        printable = data[i] >= 0x20 && data[i] < 0x7f;
    printf("msg %u %s %zu %.*s\n", peer, p2p_topic_name(topic), len, printable ? (int)len : 0,
           (const char *)data);
}

static void on_peer(void *ctx, uint32_t peer, bool up)
{
    (void)ctx;
    printf("%s %u\n", up ? "up" : "down", peer);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void cmd_broadcast(const char *topic_name, size_t size, size_t count)
{
    int topic = p2p_topic_parse(topic_name);
    if (topic <= 0 || size < 16) {
        printf("error bad broadcast\n");
        return;
    }
    uint8_t *msg = xcalloc(1, size);
    size_t sent = 0;
    memcpy(msg, BENCH_MAGIC, 8);
    for (size_t i = 0; i < count; i++) {
        uint64_t t = now_ns();
        memcpy(msg + 8, &t, 8);
        sent += p2p_links_broadcast(links, (enum p2p_topic)topic, msg, size);
    }
    free(msg);
    printf("sent %zu\n", sent);
}

/* Paced broadcasts: one every interval, for latency without queueing. */
static struct {
    ev_timer timer;
    int topic;
    size_t size, left, sent;
} pace;

static void on_pace(struct ev_loop *loop, ev_timer *w, int revents)
{
    uint8_t msg[65536];
    (void)revents;
    memset(msg, 0, pace.size);
    memcpy(msg, BENCH_MAGIC, 8);
    uint64_t t = now_ns();
    memcpy(msg + 8, &t, 8);
    pace.sent += p2p_links_broadcast(links, (enum p2p_topic)pace.topic, msg, pace.size);
    if (--pace.left == 0) {
        ev_timer_stop(loop, w);
        printf("paced %zu\n", pace.sent);
    }
}

static void run_command(struct ev_loop *loop, char *cmd)
{
    char a[64], b[64], text[512];
    unsigned long x, y, z;
    unsigned long long h, r;
    int n;
    if (sscanf(cmd, "qbft %63s %63s %lu %llu %llu %n", a, b, &x, &h, &r, &n) == 5) {
        cmd_qbft(a, b, x, h, r, sscanf(cmd + n, "%511s", text) == 1 ? text : NULL);
    } else if (sscanf(cmd, "broadcast %63s %lu %lu", a, &x, &y) == 3) {
        cmd_broadcast(a, x, y);
    } else if (sscanf(cmd, "pace %63s %lu %lu %lu", a, &x, &y, &z) == 4) {
        pace.topic = p2p_topic_parse(a);
        if (pace.topic <= 0 || x < 16 || x > 65536 || y == 0 || ev_is_active(&pace.timer)) {
            printf("error bad pace\n");
            return;
        }
        pace.size = x;
        pace.left = y;
        pace.sent = 0;
        ev_timer_init(&pace.timer, on_pace, (double)z / 1e6, (double)z / 1e6);
        ev_timer_start(loop, &pace.timer);
    } else if (sscanf(cmd, "expect %lu", &x) == 1) {
        if (nbench >= x)
            printf("reached %zu\n", nbench);
        else
            expect_count = x;
    } else if (sscanf(cmd, "bcast %63s %511[^\n]", a, text) == 2) {
        int topic = p2p_topic_parse(a);
        printf("sent %u\n",
               topic > 0 ? p2p_links_broadcast(links, (enum p2p_topic)topic, text, strlen(text))
                         : 0);
    } else if (sscanf(cmd, "send %lu %63s %511[^\n]", &x, a, text) == 3) {
        int topic = p2p_topic_parse(a);
        int rc = topic > 0
                     ? p2p_links_send(links, (uint32_t)x, (enum p2p_topic)topic, text, strlen(text))
                     : -1;
        printf("sent %d\n", rc == 0);
    } else if (sscanf(cmd, "report %lu %63s", &x, b) == 2) {
        p2p_links_report(links, (uint32_t)x,
                         !strcmp(b, "equivocation") ? P2P_REPORT_EQUIVOCATION
                                                    : P2P_REPORT_INVALID_SIG);
        printf("reported\n");
    } else if (!strcmp(cmd, "status")) {
        struct buf s = BUF_INIT;
        for (uint32_t i = 0; i < LOCK_MAX_OPERATORS; i++)
            if (p2p_links_peer_up(links, i))
                buf_printf(&s, "%s%u", s.len ? "," : "", i);
        printf("status up=%s count=%u quorum=%d\n", s.len ? (char *)s.data : "-",
               p2p_links_up_count(links), p2p_links_quorum(links));
        buf_free(&s);
    } else if (!strcmp(cmd, "metrics")) {
        struct buf m = BUF_INIT;
        metrics_render_local(&m);
        printf("%.*send\n", (int)m.len, m.data ? (char *)m.data : "");
        buf_free(&m);
    } else if (!strcmp(cmd, "stats")) {
        qsort(lat, nlat, sizeof(*lat), cmp_u64);
        printf("stats count=%zu p50_us=%.1f p99_us=%.1f max_us=%.1f\n", nbench,
               nlat ? (double)lat[nlat / 2] / 1e3 : 0.0,
               nlat ? (double)lat[nlat * 99 / 100] / 1e3 : 0.0,
               nlat ? (double)lat[nlat - 1] / 1e3 : 0.0);
    } else if (!strcmp(cmd, "reset")) {
        nlat = nbench = 0;
        printf("reset\n");
    } else if (!strcmp(cmd, "quit")) {
        ev_break(loop, EVBREAK_ALL);
    } else {
        printf("error unknown command\n");
    }
}

static void on_stdin(struct ev_loop *loop, ev_io *w, int revents)
{
    char chunk[4096];
    (void)revents;
    ssize_t n = read(w->fd, chunk, sizeof(chunk));
    if (n <= 0) {
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    buf_append(&line, chunk, (size_t)n);
    char *start = (char *)line.data, *nl;
    while ((nl = memchr(start, '\n', line.len - (size_t)(start - (char *)line.data)))) {
        *nl = 0;
        run_command(loop, start);
        start = nl + 1;
    }
    size_t rest = line.len - (size_t)(start - (char *)line.data);
    memmove(line.data, start, rest);
    line.len = rest;
}

static int node_main(int argc, char **argv)
{
    struct config cfg;
    char err[600];
    int verbose = argc > 3 && !strcmp(argv[3], "-v");
    log_init("p2p", verbose);
    config_defaults(&cfg);
    if (config_load_file(&cfg, argv[2], err, sizeof(err)) < 0 ||
        config_finish(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return EXIT_CONFIG;
    }
    struct lock *lock = xmalloc(sizeof(*lock));
    if (lock_precheck(lock, cfg.lock, cfg.key, cfg.index, err, sizeof(err)) < 0) {
        log_error("p2p_dkg_cluster", LS("result", "fail"), LS("err", err));
        fprintf(stderr, "%s\n", err);
        free(lock);
        return EXIT_CONFIG;
    }
    char hex[2 * SHA256_LEN + 1];
    hex_encode(hex, lock->hash, SHA256_LEN);
    log_info("p2p_dkg_cluster", LS("result", "ok"), LS("lock_hash", hex), LU("operators", lock->n),
             LU("index", cfg.index));
    /* What the supervisor will do: certify a fresh Noise key with the node key. */
    struct node_key key;
    struct p2p_identity id;
    if (node_key_load(&key, cfg.key, err, sizeof(err)) < 0)
        fatalx("%s", err);
    p2p_identity_make(&key, &id);
    qkey = key; /* this tool plays the operator: it signs QBFT votes too */
    memcpy(qlock_hash, lock->hash, SHA256_LEN);
    qself = (uint32_t)cfg.index;
    node_key_wipe(&key);
    /* What the worker will do before it listens: the DKG gate, with the identity only. */
    if (p2p_dkg_gate(lock, cfg.lock, cfg.index, &id, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        free(lock);
        return EXIT_CONFIG;
    }

    struct p2p_links_config lc;
    struct p2p_links_callbacks cb = {.on_message = on_message, .on_peer = on_peer};
    struct ev_loop *loop = EV_DEFAULT;
    p2p_links_config_from(&lc, &cfg);
    links = p2p_links_new(loop, &lc, lock, (uint32_t)cfg.index, &id, &cb, err, sizeof(err));
    if (!links || p2p_links_start(links, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    lat = xmalloc(LAT_MAX * sizeof(*lat));
    setvbuf(stdout, NULL, _IOLBF, 0);
    ev_io in;
    ev_io_init(&in, on_stdin, 0, EV_READ);
    ev_io_start(loop, &in);
    printf("ready %llu\n", (unsigned long long)cfg.index);
    ev_run(loop, 0);
    p2p_links_free(links);
    node_key_wipe(&qkey);
    free(lat);
    free(lock);
    buf_free(&line);
    return 0;
}

/* ---- evil mode ---- */

static int efd = -1;

static void die(const char *what)
{
    printf("error %s\n", what);
    exit(1);
}

static void e_write(const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(efd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            printf("closed\n");
            exit(0); /* the target closed the link: reported by the caller's checks */
        }
        b += w;
        n -= (size_t)w;
    }
}

/* Wait up to ms for the peer to close the connection: true if it did. */
static bool closed_within(int fd, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    char buf[4096];
    for (;;) {
        uint64_t now = now_ms();
        if (now >= end)
            return false;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)(end - now));
        if (r == 0)
            return false;
        if (r < 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            return true;
    }
}

/* Read one frame body (blocking, 5 s timeout). NULL when the peer closed. */
static uint8_t *e_read_frame(size_t *len)
{
    uint8_t hdr[4];
    size_t got = 0;
    static uint8_t body[1 << 16];
    while (got < 4) {
        ssize_t n = recv(efd, hdr + got, 4 - got, 0);
        if (n <= 0)
            return NULL;
        got += (size_t)n;
    }
    if (p2p_frame_length(hdr, 4, 1, sizeof(body), len) != P2P_FRAME_HAVE_LEN)
        die("bad frame from target");
    for (got = 0; got < *len;) {
        ssize_t n = recv(efd, body + got, *len - got, 0);
        if (n <= 0)
            return NULL;
        got += (size_t)n;
    }
    return body;
}

static int e_connect(const struct lock_operator *op)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(op->port)};
    if (inet_pton(AF_INET, op->host, &sa.sin_addr) != 1)
        die("target host must be an IPv4 address");
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect");
    return fd;
}

/* An initiator handshake that presents (id, lock_hash) and never judges the target. */
static void e_handshake(const struct p2p_identity *id, const uint8_t lock_hash[SHA256_LEN],
                        struct noise_cipher *tx, struct noise_cipher *rx)
{
    struct noise_hs hs;
    uint8_t msg[P2P_HS_MSG_MAX], pl[P2P_HS_MSG_MAX];
    size_t len, plen;
    struct buf b = BUF_INIT;
    noise_hs_init(&hs, true, id->static_priv, P2P_PROLOGUE, strlen(P2P_PROLOGUE));
    if (noise_hs_write(&hs, NULL, 0, msg, sizeof(msg), &len) < 0)
        die("handshake write 1");
    p2p_frame_put_handshake(&b, msg, len);
    e_write(b.data, b.len);
    uint8_t *in = e_read_frame(&len);
    if (!in || noise_hs_read(&hs, in, len, pl, sizeof(pl), &plen) < 0)
        die("handshake message 2");
    struct p2p_hs_payload mine;
    memcpy(mine.node_pub, id->node_pub, PUBKEY_LEN);
    memcpy(mine.sig, id->sig, SIG_LEN);
    memcpy(mine.lock_hash, lock_hash, SHA256_LEN);
    buf_reset(&b);
    p2p_hs_payload_encode(&mine, &b);
    if (noise_hs_write(&hs, b.data, b.len, msg, sizeof(msg), &len) < 0)
        die("handshake write 3");
    buf_reset(&b);
    p2p_frame_put_handshake(&b, msg, len);
    e_write(b.data, b.len);
    if (noise_hs_split(&hs, tx, rx) < 0)
        die("split");
    buf_free(&b);
}

static void e_send(struct noise_cipher *tx, uint8_t topic, const char *text)
{
    struct buf b = BUF_INIT;
    if (p2p_frame_seal(tx, &b, topic, (const uint8_t *)text, strlen(text)) < 0)
        die("seal");
    e_write(b.data, b.len);
    buf_free(&b);
}

/* Wait for the responder's ACCEPT: true if accepted, false if it closed the link. */
static bool e_accepted(struct noise_cipher *rx)
{
    size_t len, plen;
    uint8_t topic;
    const uint8_t *pl;
    uint8_t *body = e_read_frame(&len);
    if (!body)
        return false;
    return p2p_frame_open(rx, body, len, &topic, &pl, &plen) == P2P_FRAME_OK &&
           topic == P2P_TOPIC_CONTROL && pl[0] == P2P_CTRL_ACCEPT;
}

static struct lock evil_lock; /* static: evil mode exits from nested calls */

static int evil_main(int argc, char **argv)
{
    char err[600];
    struct lock *lock = &evil_lock;
    uint64_t target = 0, index = 0, count = 1;
    if (argc < 5 || lock_load(lock, argv[2], err, sizeof(err)) < 0 ||
        parse_u64(argv[4], LOCK_MAX_OPERATORS - 1, &target) < 0 || target >= lock->n)
        die("usage: p2p_node evil LOCK MODE TARGET [KEY INDEX] [COUNT]");
    const char *mode = argv[3];
    if (argc > 7 && parse_u64(argv[7], 100000000, &count) < 0)
        die("bad COUNT");
    const struct lock_operator *op = &lock->ops[target];
    log_init("evil", 0);
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (!strcmp(mode, "hold")) {
        if (argc > 5 && parse_u64(argv[5], 1000, &count) < 0)
            die("bad COUNT");
        int fds[1000], closed = 0;
        for (uint64_t i = 0; i < count; i++)
            fds[i] = e_connect(op);
        for (uint64_t i = 0; i < count; i++)
            closed += closed_within(fds[i], 500);
        printf("held %llu closed %d\n", (unsigned long long)count, closed);
        for (uint64_t i = 0; i < count; i++)
            close(fds[i]);
        return 0;
    }

    if (!strcmp(mode, "abort") || !strcmp(mode, "badhs")) {
        struct noise_hs hs;
        uint8_t msg[P2P_HS_MSG_MAX], secret[NOISE_KEY_LEN];
        size_t len;
        struct buf b = BUF_INIT;
        random_bytes(secret, sizeof(secret));
        noise_hs_init(&hs, true, secret, P2P_PROLOGUE, strlen(P2P_PROLOGUE));
        efd = e_connect(op);
        if (noise_hs_write(&hs, NULL, 0, msg, sizeof(msg), &len) < 0)
            die("handshake write 1");
        p2p_frame_put_handshake(&b, msg, len);
        e_write(b.data, b.len);
        if (!e_read_frame(&len))
            die("no handshake message 2");
        if (!strcmp(mode, "abort")) {
            close(efd);
            printf("aborted\n");
            return 0;
        }
        random_bytes(msg, NOISE_MSG3_OVERHEAD + 100);
        buf_reset(&b);
        p2p_frame_put_handshake(&b, msg, NOISE_MSG3_OVERHEAD + 100);
        e_write(b.data, b.len);
        buf_free(&b);
        bool closed = closed_within(efd, 5000);
        printf("%s\n", closed ? "closed" : "still open");
        return closed ? 0 : 1;
    }

    struct node_key key;
    struct p2p_identity id;
    if (argc > 6 && strcmp(argv[5], "-") != 0) {
        if (node_key_load(&key, argv[5], err, sizeof(err)) < 0 ||
            parse_u64(argv[6], LOCK_MAX_OPERATORS - 1, &index) < 0)
            die(err);
    } else {
        node_key_generate(&key);
    }
    p2p_identity_make(&key, &id);
    uint8_t lock_hash[SHA256_LEN];
    memcpy(lock_hash, lock->hash, SHA256_LEN);
    if (!strcmp(mode, "dkg"))
        lock_hash[0] ^= 0xff;

    struct noise_cipher tx, rx;
    efd = e_connect(op);
    e_handshake(&id, lock_hash, &tx, &rx);

    if (!strcmp(mode, "outsider") || !strcmp(mode, "dkg")) {
        /* Frames sent right away must never be delivered; the target closes the link. */
        for (int i = 0; i < 3; i++)
            e_send(&tx, P2P_TOPIC_QBFT, "outsider-msg");
        bool closed = closed_within(efd, 5000);
        printf("%s\n", closed ? "closed" : "still open");
        return closed ? 0 : 1;
    }
    if (!e_accepted(&rx)) {
        printf("not accepted\n");
        return 1;
    }
    printf("accepted\n");
    if (!strcmp(mode, "flood")) {
        struct buf b = BUF_INIT;
        for (uint64_t i = 0; i < count; i++)
            if (p2p_frame_seal(&tx, &b, P2P_TOPIC_QBFT, (const uint8_t *)"flood", 5) < 0)
                die("seal");
        e_write(b.data, b.len);
        buf_free(&b);
        e_send(&tx, P2P_TOPIC_QBFT, "flood-end");
        printf("flooded %llu\n", (unsigned long long)count);
        return 0;
    }
    if (!strcmp(mode, "garbage")) {
        for (uint64_t i = 0; i < count; i++)
            e_send(&tx, 0x7f, "garbage");
        e_send(&tx, P2P_TOPIC_QBFT, "after-garbage");
        printf("garbage %llu\n", (unsigned long long)count);
        /* Give the target the frames before closing (it reads until EOF anyway). */
        shutdown(efd, SHUT_WR);
        closed_within(efd, 2000);
        return 0;
    }
    if (!strcmp(mode, "oversize")) {
        static const uint8_t hdr[4] = {0x7f, 0xff, 0xff, 0xff};
        e_write(hdr, sizeof(hdr));
        e_write("xxxxxxxxxxxxxxxx", 16);
        bool closed = closed_within(efd, 5000);
        printf("%s\n", closed ? "closed" : "still open");
        return closed ? 0 : 1;
    }
    die("unknown mode");
    return 1;
}

/* ---- hsbench mode: in-process handshakes, both sides, as a node runs them ---- */

static int hsbench_main(int argc, char **argv)
{
    static const char *const addrs[2] = {"127.0.0.1:1", "127.0.0.1:2"};
    struct node_key keys[2];
    struct p2p_identity ids[2];
    struct lock *lock = xmalloc(sizeof(*lock));
    struct buf b = BUF_INIT;
    char err[256];
    uint64_t runs = 1000;
    if (argc > 2 && parse_u64(argv[2], 1000000, &runs) < 0)
        runs = 1000;
    for (int i = 0; i < 2; i++) {
        node_key_generate(&keys[i]);
        p2p_identity_make(&keys[i], &ids[i]);
    }
    if (lock_create(&b, "bench", 2, 2, keys, addrs, err, sizeof(err)) < 0 ||
        lock_parse(lock, (const char *)b.data, b.len, err, sizeof(err)) < 0)
        fatalx("%s", err);
    uint64_t t0 = now_ns();
    for (uint64_t r = 0; r < runs; r++) {
        struct p2p_hs a, c;
        uint8_t m1[P2P_HS_MSG_MAX], m2[P2P_HS_MSG_MAX], m3[P2P_HS_MSG_MAX], x[P2P_HS_MSG_MAX];
        size_t l1, l2, l3, lx;
        struct noise_cipher tx, rx;
        p2p_hs_init(&a, true, &ids[0], lock, 0, 1);
        p2p_hs_init(&c, false, &ids[1], lock, 1, -1);
        if (p2p_hs_start(&a, m1, sizeof(m1), &l1) != P2P_HS_CONTINUE ||
            p2p_hs_step(&c, m1, l1, m2, sizeof(m2), &l2) != P2P_HS_CONTINUE ||
            p2p_hs_step(&a, m2, l2, m3, sizeof(m3), &l3) != P2P_HS_DONE ||
            p2p_hs_step(&c, m3, l3, x, sizeof(x), &lx) != P2P_HS_DONE ||
            p2p_hs_split(&a, &tx, &rx) < 0 || p2p_hs_split(&c, &tx, &rx) < 0)
            fatalx("hsbench: handshake failed");
    }
    double us = (double)(now_ns() - t0) / 1e3 / (double)runs;
    printf("handshake_us %.1f (both sides, in-process, %llu runs)\n", us, (unsigned long long)runs);
    buf_free(&b);
    free(lock);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "hsbench"))
        return hsbench_main(argc, argv);
    if (argc >= 3 && !strcmp(argv[1], "node"))
        return node_main(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "evil"))
        return evil_main(argc, argv);
    fprintf(stderr, "usage: p2p_node node CONFIG [-v] | p2p_node evil LOCK MODE TARGET [KEY "
                    "INDEX] [COUNT]\n");
    return 2;
}
