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
 * verify runs the precheck of SPEC §5 on a lock (and a node key): exit 78 with one line naming
 * the field on failure.
 */
#include "cli/aequactl.h"
#include "lib/config.h"
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
};

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
                      const char *lock_hex)
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
    if (lock_create(&lock_text, o->name, (uint32_t)o->threshold, (uint32_t)o->nodes, keys, addrs,
                    err, sizeof(err)) < 0) {
        fprintf(stderr, "aequactl cluster create: %s\n", err);
        rc = EXIT_CONFIG;
        goto out;
    }
    struct lock *l = xmalloc(sizeof(*l));
    if (lock_parse(l, (const char *)lock_text.data, lock_text.len, err, sizeof(err)) < 0)
        fatalx("cluster create: the lock just built does not parse: %s", err);
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
        if (node_key_save(&keys[i], path) < 0 ||
            write_conf(dir, i, hosts[i], o->base, lock_hex) < 0) {
            fprintf(stderr, "aequactl cluster create: node %llu: %s\n", (unsigned long long)i,
                    strerror(errno));
            goto out;
        }
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
    for (uint64_t i = 0; i < o->nodes; i++)
        printf("node %llu: %s/node%llu/aequa.conf (api %s:%llu, monitoring %s:%llu, p2p %s)\n",
               (unsigned long long)i, dir, (unsigned long long)i, hosts[i],
               (unsigned long long)(o->base + i), hosts[i], (unsigned long long)(o->base + 20 + i),
               addrs[i]);
    rc = 0;
out:
    for (uint64_t i = 0; i < o->nodes; i++)
        node_key_wipe(&keys[i]);
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
            fprintf(stderr, "aequactl cluster create: --tss is not supported yet (threshold "
                            "signing keys arrive with the TSS work; create the cluster without "
                            "--tss)\n");
            return EXIT_USAGE;
        case 'h':
            printf("usage: aequactl cluster create --nodes N [--threshold T] --out DIR "
                   "[--base-port P] [--hosts h1,h2,...] [--name NAME]\n");
            return 0;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind != argc)
        return usage_error("create: unexpected argument '%s'", argv[optind]);
    if (!o.nodes || !o.out)
        return usage_error("create: --nodes and --out are required");
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

static int cluster_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"index", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *key_path = NULL;
    uint64_t index = 0;
    bool have_index = false;
    int c;
    optind = 0;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            key_path = optarg;
            break;
        case 'i':
            if (parse_u64(optarg, LOCK_MAX_OPERATORS - 1, &index) < 0)
                return usage_error("--index: expected 0 to 63, got '%s'", optarg);
            have_index = true;
            break;
        case 'h':
            printf("usage: aequactl cluster verify LOCK [--key FILE [--index I]]\n");
            return 0;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc)
        return usage_error("verify: expected one LOCK path");
    if (have_index && !key_path)
        return usage_error("verify: --index needs --key");
    const char *lock_path = argv[optind];
    struct lock *l = xmalloc(sizeof(*l));
    char err[600];
    int rc = EXIT_CONFIG;
    if (lock_load(l, lock_path, err, sizeof(err)) < 0)
        goto fail;
    if (key_path) {
        struct node_key k;
        if (node_key_load(&k, key_path, err, sizeof(err)) < 0)
            goto fail;
        if (!have_index) {
            int found = lock_find_pubkey(l, k.pub);
            if (found < 0) {
                snprintf(err, sizeof(err),
                         "cluster lock %s: node key %s: not an operator of this lock", lock_path,
                         key_path);
                node_key_wipe(&k);
                goto fail;
            }
            index = (uint64_t)found;
        }
        if (lock_check_member(l, index, k.pub, err, sizeof(err)) < 0) {
            fprintf(stderr, "cluster lock %s: %s (node key %s)\n", lock_path, err, key_path);
            node_key_wipe(&k);
            free(l);
            return EXIT_CONFIG;
        }
        node_key_wipe(&k);
    }
    char hex[2 * SHA256_LEN + 1];
    hex_encode(hex, l->hash, SHA256_LEN);
    printf("cluster lock %s: ok: '%s', %u operators, threshold %u, lock_hash %s\n", lock_path,
           l->name, l->n, l->threshold, hex);
    if (key_path)
        printf("node key %s: operators[%llu], peer_id %s, p2p %s\n", key_path,
               (unsigned long long)index, l->ops[index].peer_id, l->ops[index].p2p_address);
    free(l);
    return 0;
fail:
    fprintf(stderr, "%s\n", err);
    free(l);
    return rc;
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
    fprintf(stderr, "usage: aequactl cluster create --nodes N [--threshold T] --out DIR "
                    "[--base-port P] [--hosts h1,h2,...] [--name NAME]\n"
                    "       aequactl cluster verify LOCK [--key FILE [--index I]]\n");
    return EXIT_USAGE;
}
