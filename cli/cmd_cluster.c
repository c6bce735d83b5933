/*
 * aequactl cluster create | verify (SPEC §5).
 *
 * create writes DIR/cluster-lock.json and, per node i, DIR/node<i>/node.key (0600) and
 * DIR/node<i>/aequa.conf: [node] data_dir DIR/node<i>/data, lock and key by absolute path,
 * index i; ports as scripts/devnet uses them: API P+i, monitoring P+20+i, P2P P+40+i (default
 * P = 4600, host 127.0.0.1 or the i-th of --hosts). The runtime dir (nng ipc endpoints, whose
 * paths nng limits to 107 bytes) is DIR/node<i>/run when that path is at most 80 bytes, else
 * /tmp/aequa-<first 8 hex of lock_hash>-<i>. An existing lock in DIR is never overwritten.
 *
 * create --tss is the trusted dealer of SPEC §10: FROST keys for t = the lock's threshold of n =
 * --nodes (at most FROST_MAX_PARTICIPANTS), the lock's tss object, DIR/node<i>/tss.key (0600,
 * operator i's secret share, FROST identifier i + 1) and [tss] key in each aequa.conf (TSS stays
 * off until the node is started with --enable-tss or [tss] enabled = true). The group secret
 * never leaves frost_dealer_keygen; the shares are wiped once written.
 *
 * verify runs the precheck of SPEC §5 on a lock (its tss object too, when it has one), a node
 * key and a tss key: exit 78 with one line naming the field on failure.
 */
#include "cli/aequactl.h"
#include "lib/config.h"
#include "lib/frost.h"
#include "lib/lock.h"
#include "lib/util.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CREATE_MAX_NODES 20 /* ports P+i, P+20+i, P+40+i must not overlap */
#define DEFAULT_BASE     4600
#define RUNTIME_DIR_MAX  80  /* the config loader's limit */
#define CONF_DIR_MAX     150 /* inih reads lines of at most 199 bytes */

#define EXIT_USAGE 2

struct create_opts {
    uint64_t nodes;
    uint64_t threshold; /* 0 = default */
    uint64_t base;
    const char *out;
    const char *hosts;
    const char *name;
    bool tss;
};

/* The dealer's output (create --tss): wiped before create_run returns. */
struct dealt {
    uint8_t group_pub[PUBKEY_LEN];
    uint8_t shares[FROST_MAX_PARTICIPANTS][SECKEY_LEN];
    uint8_t vshares[FROST_MAX_PARTICIPANTS][PUBKEY_LEN];
};

#define CREATE_USAGE                                                                               \
    "aequactl cluster create --nodes N [--threshold T] --out DIR [--base-port P] "                 \
    "[--hosts h1,h2,...] [--name NAME] [--tss]\n"
#define VERIFY_USAGE "aequactl cluster verify LOCK [--key FILE [--index I]] [--tss-key FILE]\n"

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "aequactl cluster: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return EXIT_USAGE;
}

/* Format a path into a PATH_MAX buffer; a path that does not fit is fatal for this command. */
__attribute__((format(printf, 2, 3))) static void pathf(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, PATH_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= PATH_MAX)
        fatalx("cluster create: path too long: %s", out);
}

/* Split --hosts into exactly n names. */
static int split_hosts(const char *list, uint64_t n, char hosts[][LOCK_ADDR_MAX + 1])
{
    const char *p = list;
    for (uint64_t i = 0; i < n; i++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char probe[LOCK_ADDR_MAX + 8], host[LOCK_ADDR_MAX + 1];
        uint16_t port;
        if (len == 0 || len > 200)
            return -1;
        snprintf(probe, sizeof(probe), "%.*s:1", (int)len, p);
        if (parse_hostport(probe, host, sizeof(host), &port) < 0)
            return -1;
        memcpy(hosts[i], p, len);
        hosts[i][len] = 0;
        if (!end)
            return i + 1 == n ? 0 : -1;
        p = end + 1;
    }
    return -1; /* more names than nodes */
}

static int write_conf(const char *dir, uint64_t i, const char *host, uint64_t base,
                      const char *lock_hex, bool tss)
{
    char path[PATH_MAX], run[PATH_MAX];
    struct buf b = BUF_INIT;
    pathf(run, "%s/node%llu/run", dir, (unsigned long long)i);
    if (strlen(run) > RUNTIME_DIR_MAX)
        pathf(run, "/tmp/aequa-%.8s-%llu", lock_hex, (unsigned long long)i);
    buf_printf(&b,
               "# Node %llu of cluster lock_hash %s.\n"
               "# Written by aequactl cluster create; start with aequa-supervisor --config.\n\n",
               (unsigned long long)i, lock_hex);
    buf_printf(&b,
               "[node]\ndata_dir = %s/node%llu/data\nruntime_dir = %s\nlock = "
               "%s/cluster-lock.json\nkey = %s/node%llu/node.key\nindex = %llu\n\n",
               dir, (unsigned long long)i, run, dir, dir, (unsigned long long)i,
               (unsigned long long)i);
    buf_printf(&b, "[api]\nlisten = %s:%llu\n\n", host, (unsigned long long)(base + i));
    buf_printf(&b, "[monitoring]\nlisten = %s:%llu\n\n", host, (unsigned long long)(base + 20 + i));
    buf_printf(&b, "[p2p]\nlisten = %s:%llu\n", host, (unsigned long long)(base + 40 + i));
    if (tss)
        buf_printf(&b,
                   "\n[tss]\n# TSS is off unless the node runs with --enable-tss or has "
                   "'enabled = true' here.\nkey = %s/node%llu/tss.key\n",
                   dir, (unsigned long long)i);
    pathf(path, "%s/node%llu/aequa.conf", dir, (unsigned long long)i);
    int rc = write_file_atomic(path, b.data, b.len, 0644);
    buf_free(&b);
    return rc;
}

static int create_run(const struct create_opts *o)
{
    char dir[PATH_MAX], path[PATH_MAX], err[512];
    char(*hosts)[LOCK_ADDR_MAX + 1] = xcalloc(o->nodes, sizeof(*hosts));
    char(*addr_buf)[LOCK_ADDR_MAX + 1] = xcalloc(o->nodes, sizeof(*addr_buf));
    const char **addrs = xcalloc(o->nodes, sizeof(*addrs));
    struct node_key *keys = xcalloc(o->nodes, sizeof(*keys));
    struct dealt *tss = o->tss ? xcalloc(1, sizeof(*tss)) : NULL;
    struct buf lock_text = BUF_INIT;
    int rc = 1;

    if (o->hosts && split_hosts(o->hosts, o->nodes, hosts) < 0) {
        rc = usage_error("--hosts: expected exactly --nodes comma-separated host names, got '%s'",
                         o->hosts);
        goto out;
    }
    for (uint64_t i = 0; i < o->nodes; i++) {
        if (!o->hosts)
            snprintf(hosts[i], sizeof(hosts[i]), "127.0.0.1");
        snprintf(addr_buf[i], sizeof(addr_buf[i]), "%s:%llu", hosts[i],
                 (unsigned long long)(o->base + 40 + i));
        addrs[i] = addr_buf[i];
        node_key_generate(&keys[i]);
    }
    if (mkdir_p(o->out, 0755) < 0 || !realpath(o->out, dir)) {
        fprintf(stderr, "aequactl cluster create: %s: %s\n", o->out, strerror(errno));
        goto out;
    }
    if (strlen(dir) > CONF_DIR_MAX) {
        fprintf(stderr,
                "aequactl cluster create: %s: longer than %d bytes (the config file's lines are "
                "limited to 199 bytes)\n",
                dir, CONF_DIR_MAX);
        goto out;
    }
    pathf(path, "%s/cluster-lock.json", dir);
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "aequactl cluster create: %s exists; refusing to overwrite a cluster\n",
                path);
        goto out;
    }
    if (tss && frost_dealer_keygen((unsigned)o->threshold, (unsigned)o->nodes, tss->group_pub,
                                   tss->shares, tss->vshares, NULL) < 0) {
        fprintf(stderr, "aequactl cluster create: --tss: threshold key generation failed\n");
        goto out;
    }
    if ((tss ? lock_create_tss(&lock_text, o->name, (uint32_t)o->threshold, (uint32_t)o->nodes,
                               keys, addrs, tss->group_pub,
                               (const uint8_t(*)[PUBKEY_LEN])tss->vshares, err, sizeof(err))
             : lock_create(&lock_text, o->name, (uint32_t)o->threshold, (uint32_t)o->nodes, keys,
                           addrs, err, sizeof(err))) < 0) {
        fprintf(stderr, "aequactl cluster create: %s\n", err);
        rc = EXIT_CONFIG;
        goto out;
    }
    struct lock *l = xmalloc(sizeof(*l));
    if (lock_parse(l, (const char *)lock_text.data, lock_text.len, err, sizeof(err)) < 0)
        fatalx("cluster create: the lock just built does not parse: %s", err);
    /* Every share must pass the precheck its node will run. */
    for (uint64_t i = 0; tss && i < o->nodes; i++)
        if (lock_check_tss_share(l, i, tss->shares[i], err, sizeof(err)) < 0)
            fatalx("cluster create: node %llu's tss key fails the precheck: %s",
                   (unsigned long long)i, err);
    char lock_hex[2 * SHA256_LEN + 1];
    hex_encode(lock_hex, l->hash, SHA256_LEN);
    free(l);

    for (uint64_t i = 0; i < o->nodes; i++) {
        pathf(path, "%s/node%llu", dir, (unsigned long long)i);
        if (mkdir_p(path, 0755) < 0) {
            fprintf(stderr, "aequactl cluster create: %s: %s\n", path, strerror(errno));
            goto out;
        }
        pathf(path, "%s/node%llu/node.key", dir, (unsigned long long)i);
        if (node_key_save(&keys[i], path) < 0)
            goto node_failed;
        if (tss) {
            pathf(path, "%s/node%llu/tss.key", dir, (unsigned long long)i);
            if (tss_key_save(tss->shares[i], path) < 0)
                goto node_failed;
        }
        pathf(path, "%s/node%llu/aequa.conf", dir, (unsigned long long)i);
        if (write_conf(dir, i, hosts[i], o->base, lock_hex, tss != NULL) < 0)
            goto node_failed;
    }
    /* The lock last: its presence means the cluster directory is complete. */
    pathf(path, "%s/cluster-lock.json", dir);
    if (write_file_atomic(path, lock_text.data, lock_text.len, 0644) < 0) {
        fprintf(stderr, "aequactl cluster create: %s: %s\n", path, strerror(errno));
        goto out;
    }
    printf("cluster '%s': %llu nodes, threshold %llu, lock_hash %s\n", o->name,
           (unsigned long long)o->nodes, (unsigned long long)o->threshold, lock_hex);
    printf("lock: %s\n", path);
    if (tss) {
        char gpk[2 * PUBKEY_LEN + 1];
        hex_encode(gpk, tss->group_pub, PUBKEY_LEN);
        printf("tss: %s, %llu of %llu, group_pubkey %s (node<i>/tss.key; start the nodes with "
               "--enable-tss)\n",
               FROST_SCHEME, (unsigned long long)o->threshold, (unsigned long long)o->nodes, gpk);
    }
    for (uint64_t i = 0; i < o->nodes; i++)
        printf("node %llu: %s/node%llu/aequa.conf (api %s:%llu, monitoring %s:%llu, p2p %s)\n",
               (unsigned long long)i, dir, (unsigned long long)i, hosts[i],
               (unsigned long long)(o->base + i), hosts[i], (unsigned long long)(o->base + 20 + i),
               addrs[i]);
    rc = 0;
    goto out;
node_failed:
    fprintf(stderr, "aequactl cluster create: %s: %s\n", path, strerror(errno));
out:
    for (uint64_t i = 0; i < o->nodes; i++)
        node_key_wipe(&keys[i]);
    if (tss)
        explicit_bzero(tss, sizeof(*tss));
    free(tss);
    free(keys);
    free(addrs);
    free(addr_buf);
    free(hosts);
    buf_free(&lock_text);
    return rc;
}

static int cluster_create(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"nodes", required_argument, NULL, 'n'},
        {"threshold", required_argument, NULL, 't'},
        {"out", required_argument, NULL, 'o'},
        {"base-port", required_argument, NULL, 'p'},
        {"hosts", required_argument, NULL, 'H'},
        {"name", required_argument, NULL, 'N'},
        {"tss", no_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct create_opts o = {.base = DEFAULT_BASE, .name = "aequa"};
    int c;
    optind = 0;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (parse_u64(optarg, CREATE_MAX_NODES, &o.nodes) < 0 || o.nodes == 0)
                return usage_error("--nodes: expected 1 to 20, got '%s'", optarg);
            break;
        case 't':
            if (parse_u64(optarg, LOCK_MAX_OPERATORS, &o.threshold) < 0 || o.threshold == 0)
                return usage_error("--threshold: expected a positive integer, got '%s'", optarg);
            break;
        case 'o':
            o.out = optarg;
            break;
        case 'p':
            if (parse_u64(optarg, 65535, &o.base) < 0 || o.base == 0)
                return usage_error("--base-port: expected a port number, got '%s'", optarg);
            break;
        case 'H':
            o.hosts = optarg;
            break;
        case 'N':
            o.name = optarg;
            break;
        case 'T':
            o.tss = true;
            break;
        case 'h':
            printf("usage: " CREATE_USAGE);
            return 0;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind != argc)
        return usage_error("create: unexpected argument '%s'", argv[optind]);
    if (!o.nodes || !o.out)
        return usage_error("create: --nodes and --out are required");
    if (o.tss && o.nodes > FROST_MAX_PARTICIPANTS)
        return usage_error("--tss: threshold signing supports at most %d nodes, not %llu",
                           FROST_MAX_PARTICIPANTS, (unsigned long long)o.nodes);
    if (o.base + 40 + o.nodes - 1 > 65535)
        return usage_error("--base-port %llu: the P2P ports P+40+i exceed 65535",
                           (unsigned long long)o.base);
    uint32_t q = lock_quorum((uint32_t)o.nodes);
    if (!o.threshold)
        o.threshold = q;
    if (o.threshold < q || o.threshold > o.nodes)
        return usage_error("--threshold: %llu out of range [%u, %llu]",
                           (unsigned long long)o.threshold, q, (unsigned long long)o.nodes);
    return create_run(&o);
}

struct verify_opts {
    const char *lock;
    const char *key;     /* NULL: no node key to check */
    const char *tss_key; /* NULL: no tss key to check */
    uint64_t index;
    bool have_index; /* --index, or found from the node key */
};

/* The node key is operators[index] (--index), or some operator's (found: sets index). */
static int verify_node_key(const struct lock *l, struct verify_opts *o, char *err, size_t errsz)
{
    struct node_key k;
    char why[400];
    if (node_key_load(&k, o->key, err, errsz) < 0)
        return -1;
    int found = o->have_index ? (int)o->index : lock_find_pubkey(l, k.pub);
    int rc = found < 0 ? -1 : lock_check_member(l, (uint64_t)found, k.pub, why, sizeof(why));
    node_key_wipe(&k);
    if (found < 0)
        snprintf(err, errsz, "cluster lock %s: node key %s: not an operator of this lock", o->lock,
                 o->key);
    else if (rc < 0)
        snprintf(err, errsz, "cluster lock %s: %s (node key %s)", o->lock, why, o->key);
    if (rc == 0) {
        o->index = (uint64_t)found;
        o->have_index = true;
    }
    return rc;
}

/* The tss key is the share of operators[index] (when known), or of some operator (sets index). */
static int verify_tss_key(const struct lock *l, struct verify_opts *o, char *err, size_t errsz)
{
    uint8_t share[SECKEY_LEN];
    char why[400];
    if (!l->has_tss) {
        snprintf(err, errsz,
                 "cluster lock %s: tss: --tss-key needs a lock with a tss object (aequactl "
                 "cluster create --tss)",
                 o->lock);
        return -1;
    }
    if (tss_key_load(share, o->tss_key, err, errsz) < 0)
        return -1;
    int found = o->have_index ? (int)o->index : lock_find_tss_share(l, share);
    int rc = found < 0 ? -1 : lock_check_tss_share(l, (uint64_t)found, share, why, sizeof(why));
    explicit_bzero(share, sizeof(share));
    if (found < 0)
        snprintf(err, errsz,
                 "cluster lock %s: tss key %s: not the share of an operator of this lock", o->lock,
                 o->tss_key);
    else if (rc < 0)
        snprintf(err, errsz, "cluster lock %s: %s (tss key %s)", o->lock, why, o->tss_key);
    if (rc == 0) {
        o->index = (uint64_t)found;
        o->have_index = true;
    }
    return rc;
}

static int cluster_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"index", required_argument, NULL, 'i'},
        {"tss-key", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct verify_opts o = {0};
    int c;
    optind = 0;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            o.key = optarg;
            break;
        case 'i':
            if (parse_u64(optarg, LOCK_MAX_OPERATORS - 1, &o.index) < 0)
                return usage_error("--index: expected 0 to 63, got '%s'", optarg);
            o.have_index = true;
            break;
        case 'T':
            o.tss_key = optarg;
            break;
        case 'h':
            printf("usage: " VERIFY_USAGE);
            return 0;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc)
        return usage_error("verify: expected one LOCK path");
    if (o.have_index && !o.key && !o.tss_key)
        return usage_error("verify: --index needs --key or --tss-key");
    o.lock = argv[optind];
    struct lock *l = xmalloc(sizeof(*l));
    char err[1200];
    if (lock_load(l, o.lock, err, sizeof(err)) < 0 ||
        (o.key && verify_node_key(l, &o, err, sizeof(err)) < 0) ||
        (o.tss_key && verify_tss_key(l, &o, err, sizeof(err)) < 0)) {
        fprintf(stderr, "%s\n", err);
        free(l);
        return EXIT_CONFIG;
    }
    char hex[2 * SHA256_LEN + 1];
    hex_encode(hex, l->hash, SHA256_LEN);
    printf("cluster lock %s: ok: '%s', %u operators, threshold %u, lock_hash %s\n", o.lock, l->name,
           l->n, l->threshold, hex);
    if (l->has_tss) {
        char gpk[2 * PUBKEY_LEN + 1];
        hex_encode(gpk, l->tss_group_pub, PUBKEY_LEN);
        printf("tss: %s, %u of %u, group_pubkey %s\n", FROST_SCHEME, l->threshold, l->n, gpk);
    }
    if (o.key)
        printf("node key %s: operators[%llu], peer_id %s, p2p %s\n", o.key,
               (unsigned long long)o.index, l->ops[o.index].peer_id, l->ops[o.index].p2p_address);
    if (o.tss_key)
        printf("tss key %s: tss.verification_shares[%llu]\n", o.tss_key,
               (unsigned long long)o.index);
    free(l);
    return 0;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} subcommands[] = {
    {"create", cluster_create},
    {"verify", cluster_verify},
};

int cmd_cluster(int argc, char **argv)
{
    if (argc >= 2)
        for (size_t i = 0; i < ARRAY_LEN(subcommands); i++)
            if (!strcmp(argv[1], subcommands[i].name))
                return subcommands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "usage: " CREATE_USAGE "       " VERIFY_USAGE);
    return EXIT_USAGE;
}
