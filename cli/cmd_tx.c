/*
 * aequactl tx: transactions for operators and tests (SPEC §9, §11.1).
 *
 *   tx key --out FILE                      a new secp256k1 key (node.key's format, mode 0600;
 *                                          an existing file is never overwritten); prints the
 *                                          key's address
 *   tx sign --key FILE [--lock LOCK] --nonce N --gas G --fee F [--data HEX]
 *                                          prints the signed plaintext_v1 JSON (POST's body)
 *   tx submit [--api HOST:PORT] [--wait [--timeout S]] (FILE | - | signing flags as for sign)
 *                                          POST /v1/tx/plain; prints the answer; with --wait
 *                                          polls GET /v1/tx/{hash} until the tx is included and
 *                                          prints "included <height>"
 *   tx status [--api HOST:PORT] HASH       prints GET /v1/tx/{hash}
 *
 * Defaults fit the embedded single node: --api 127.0.0.1:4600, --lock
 * aequa-data/cluster-lock.json, --timeout 30. Exit codes: 0 ok, 1 failure (the node's answer
 * is printed on stderr), 2 usage, 78 a lock or key that cannot be used.
 */
#include "cli/aequactl.h"
#include "lib/httpc.h"
#include "lib/json_strict.h"
#include "lib/lock.h"
#include "lib/util.h"
#include "proto/tx.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_API     "127.0.0.1:4600"
#define DEFAULT_LOCK    "aequa-data/cluster-lock.json"
#define HTTP_TIMEOUT_MS 10000
#define POLL_MS         200

enum tx_opt {
    OPT_OUT = 1 << 0,
    OPT_KEY = 1 << 1,
    OPT_LOCK = 1 << 2,
    OPT_NONCE = 1 << 3,
    OPT_GAS = 1 << 4,
    OPT_FEE = 1 << 5,
    OPT_DATA = 1 << 6,
    OPT_API = 1 << 7,
    OPT_WAIT = 1 << 8,
    OPT_TIMEOUT = 1 << 9,
};

#define SIGNING_FLAGS (OPT_KEY | OPT_LOCK | OPT_NONCE | OPT_GAS | OPT_FEE | OPT_DATA)

struct tx_opts {
    unsigned seen;
    const char *out, *key, *lock, *data, *api;
    uint64_t nonce, gas, fee, timeout_s;
    const char *arg; /* the one positional argument, if any */
};

static const struct option long_opts[] = {
    {"out", required_argument, NULL, OPT_OUT},
    {"key", required_argument, NULL, OPT_KEY},
    {"lock", required_argument, NULL, OPT_LOCK},
    {"nonce", required_argument, NULL, OPT_NONCE},
    {"gas", required_argument, NULL, OPT_GAS},
    {"fee", required_argument, NULL, OPT_FEE},
    {"data", required_argument, NULL, OPT_DATA},
    {"api", required_argument, NULL, OPT_API},
    {"wait", no_argument, NULL, OPT_WAIT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {NULL, 0, NULL, 0},
};

static int usage_err(const char *sub, const char *why)
{
    fprintf(stderr, "aequactl tx %s: %s (see aequactl --help)\n", sub, why);
    return 2;
}

/* Parse argv[1..] (argv[0] is the subcommand) allowing only the flags in allowed. */
static int parse(int argc, char **argv, unsigned allowed, struct tx_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->lock = DEFAULT_LOCK;
    o->api = DEFAULT_API;
    o->timeout_s = 30;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        uint64_t *num = c == OPT_NONCE ? &o->nonce
                        : c == OPT_GAS ? &o->gas
                        : c == OPT_FEE ? &o->fee
                                       : NULL;
        if (c == '?' || !(allowed & (unsigned)c))
            return usage_err(argv[0], "unknown or misplaced option");
        o->seen |= (unsigned)c;
        if (num && parse_u64(optarg, UINT64_MAX, num) < 0)
            return usage_err(argv[0], "--nonce, --gas and --fee take a decimal integer");
        if (c == OPT_TIMEOUT && parse_u64(optarg, 86400, &o->timeout_s) < 0)
            return usage_err(argv[0], "--timeout takes seconds (at most 86400)");
        if (c == OPT_OUT)
            o->out = optarg;
        else if (c == OPT_KEY)
            o->key = optarg;
        else if (c == OPT_LOCK)
            o->lock = optarg;
        else if (c == OPT_DATA)
            o->data = optarg;
        else if (c == OPT_API)
            o->api = optarg;
    }
    if (optind < argc)
        o->arg = argv[optind++];
    if (optind < argc)
        return usage_err(argv[0], "too many arguments");
    return 0;
}

/* Sign from the flags: a JSON body in out. 0, 2 (usage) or 78 (lock, key). */
static int sign_from_flags(const char *sub, const struct tx_opts *o, struct buf *out)
{
    const unsigned need = OPT_KEY | OPT_NONCE | OPT_GAS | OPT_FEE;
    if ((o->seen & need) != need)
        return usage_err(sub, "--key, --nonce, --gas and --fee are required");
    size_t hexlen = o->data ? strlen(o->data) : 0;
    if (hexlen % 2 || hexlen / 2 > TX_DATA_LIMIT)
        return usage_err(sub, "--data takes an even number of hex digits (at most 1 MiB)");
    uint8_t *data = xmalloc(hexlen / 2 + 1);
    if (hexlen && hex_decode(data, hexlen / 2, o->data, hexlen) < 0) {
        free(data);
        return usage_err(sub, "--data takes an even number of hex digits (at most 1 MiB)");
    }
    char err[1024];
    struct node_key k;
    struct lock *l = xcalloc(1, sizeof(*l));
    int rc = 78;
    if (node_key_load(&k, o->key, err, sizeof(err)) < 0 ||
        lock_load(l, o->lock, err, sizeof(err)) < 0) {
        fprintf(stderr, "aequactl tx %s: %s\n", sub, err);
    } else {
        struct tx *tx =
            tx_plain_sign(l->hash, &k, o->nonce, o->gas, o->fee, data, (uint32_t)(hexlen / 2));
        tx_json(tx, 0, out);
        tx_free(tx);
        rc = 0;
    }
    node_key_wipe(&k);
    free(l);
    free(data);
    return rc;
}

static int tx_key(int argc, char **argv)
{
    struct tx_opts o;
    int rc = parse(argc, argv, OPT_OUT, &o);
    if (rc)
        return rc;
    if (!o.out || o.arg)
        return usage_err("key", "--out FILE is required");
    if (access(o.out, F_OK) == 0) {
        fprintf(stderr, "aequactl tx key: %s exists; not overwritten\n", o.out);
        return 1;
    }
    struct node_key k;
    node_key_generate(&k);
    if (node_key_save(&k, o.out) < 0) {
        fprintf(stderr, "aequactl tx key: cannot write %s\n", o.out);
        node_key_wipe(&k);
        return 1;
    }
    uint8_t a[ADDR_LEN];
    char hex[2 * ADDR_LEN + 1];
    pubkey_address(k.pub, a);
    hex_encode(hex, a, ADDR_LEN);
    node_key_wipe(&k);
    printf("%s\n", hex);
    return 0;
}

static int tx_sign(int argc, char **argv)
{
    struct tx_opts o;
    int rc = parse(argc, argv, SIGNING_FLAGS, &o);
    if (rc)
        return rc;
    if (o.arg)
        return usage_err("sign", "no arguments besides the flags");
    struct buf b = BUF_INIT;
    rc = sign_from_flags("sign", &o, &b);
    if (rc == 0)
        printf("%s\n", (char *)b.data);
    buf_free(&b);
    return rc;
}

/* The string value of a top-level key of a JSON answer, copied into out; -1 if absent. */
static int answer_field(const struct buf *body, const char *key, char *out, size_t outsz)
{
    struct jstrict_doc doc;
    int rc = -1;
    if (jstrict_parse(&doc, body->data, body->len, NULL, NULL) < 0)
        return -1;
    const struct jstrict_node *n = jstrict_object_get(&doc.root, key, strlen(key));
    if (n && n->kind == JSTRICT_STRING && n->len < outsz) {
        memcpy(out, n->str, n->len);
        out[n->len] = 0;
        rc = 0;
    } else if (n && n->kind == JSTRICT_NUMBER && n->len < outsz) {
        memcpy(out, n->num, n->len);
        out[n->len] = 0;
        rc = 0;
    }
    jstrict_doc_free(&doc);
    return rc;
}

static void print_body(FILE *f, const struct buf *body)
{
    if (body->len)
        fprintf(f, "%.*s%s", (int)body->len, (const char *)body->data,
                body->data[body->len - 1] == '\n' ? "" : "\n");
}

/* Poll GET /v1/tx/{hash} until its status is "included"; prints "included <height>". */
static int wait_included(const char *api, const char *hash, uint64_t timeout_s)
{
    char path[128], status[32], height[32], err[256];
    snprintf(path, sizeof(path), "/v1/tx/%s", hash);
    uint64_t deadline = now_ms() + timeout_s * 1000;
    do {
        struct http_response r;
        if (http_request(api, "GET", path, NULL, NULL, 0, HTTP_TIMEOUT_MS, &r, err, sizeof(err)) ==
            0) {
            bool done = r.status == 200 &&
                        answer_field(&r.body, "status", status, sizeof(status)) == 0 &&
                        strcmp(status, "included") == 0 &&
                        answer_field(&r.body, "height", height, sizeof(height)) == 0;
            http_response_free(&r);
            if (done) {
                printf("included %s\n", height);
                return 0;
            }
        }
        nanosleep(&(struct timespec){0, POLL_MS * 1000000L}, NULL);
    } while (now_ms() < deadline);
    fprintf(stderr, "aequactl tx submit: %s not included within %llu s\n", hash,
            (unsigned long long)timeout_s);
    return 1;
}

static int tx_submit(int argc, char **argv)
{
    struct tx_opts o;
    int rc = parse(argc, argv, SIGNING_FLAGS | OPT_API | OPT_WAIT | OPT_TIMEOUT, &o);
    if (rc)
        return rc;
    struct buf body = BUF_INIT;
    if (o.arg && (o.seen & SIGNING_FLAGS))
        return usage_err("submit", "give a file or the signing flags, not both");
    if (o.arg) {
        char *text;
        size_t len;
        const char *path = strcmp(o.arg, "-") == 0 ? "/dev/stdin" : o.arg;
        if (read_file(path, tx_json_max(TX_DATA_LIMIT), &text, &len) < 0) {
            fprintf(stderr, "aequactl tx submit: cannot read %s (or longer than a tx can be)\n",
                    o.arg);
            return 1;
        }
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
            len--;
        buf_append(&body, text, len);
        free(text);
    } else if ((rc = sign_from_flags("submit", &o, &body)) != 0) {
        buf_free(&body);
        return rc;
    }
    struct http_response r;
    char err[256], hash[2 * SHA256_LEN + 1];
    rc = 1;
    if (http_request(o.api, "POST", "/v1/tx/plain", "Content-Type: application/json\r\n", body.data,
                     body.len, HTTP_TIMEOUT_MS, &r, err, sizeof(err)) < 0) {
        fprintf(stderr, "aequactl tx submit: %s: %s\n", o.api, err);
        buf_free(&body);
        return 1;
    }
    if (r.status != 202) {
        fprintf(stderr, "aequactl tx submit: %s answered %d: ", o.api, r.status);
        print_body(stderr, &r.body);
    } else {
        print_body(stdout, &r.body);
        rc = 0;
        if (o.seen & OPT_WAIT) {
            if (answer_field(&r.body, "hash", hash, sizeof(hash)) < 0) {
                fprintf(stderr, "aequactl tx submit: the answer has no hash\n");
                rc = 1;
            } else {
                fflush(stdout);
                rc = wait_included(o.api, hash, o.timeout_s);
            }
        }
    }
    http_response_free(&r);
    buf_free(&body);
    return rc;
}

static int tx_status(int argc, char **argv)
{
    struct tx_opts o;
    uint8_t h[SHA256_LEN];
    int rc = parse(argc, argv, OPT_API, &o);
    if (rc)
        return rc;
    if (!o.arg || hex_decode(h, sizeof(h), o.arg, strlen(o.arg)) < 0)
        return usage_err("status", "HASH (64 hex digits) is required");
    char path[128], err[256], hex[2 * SHA256_LEN + 1];
    hex_encode(hex, h, SHA256_LEN); /* lower case, as the node writes it */
    snprintf(path, sizeof(path), "/v1/tx/%s", hex);
    struct http_response r;
    if (http_request(o.api, "GET", path, NULL, NULL, 0, HTTP_TIMEOUT_MS, &r, err, sizeof(err)) <
        0) {
        fprintf(stderr, "aequactl tx status: %s: %s\n", o.api, err);
        return 1;
    }
    rc = r.status == 200 ? 0 : 1;
    if (rc)
        fprintf(stderr, "aequactl tx status: %s answered %d: ", o.api, r.status);
    print_body(rc ? stderr : stdout, &r.body);
    http_response_free(&r);
    return rc;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} subcommands[] = {
    {"key", tx_key},
    {"sign", tx_sign},
    {"submit", tx_submit},
    {"status", tx_status},
};

int cmd_tx(int argc, char **argv)
{
    for (size_t i = 0; argc >= 2 && i < ARRAY_LEN(subcommands); i++)
        if (strcmp(argv[1], subcommands[i].name) == 0)
            return subcommands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "usage: aequactl tx key|sign|submit|status ... (see aequactl --help)\n");
    return 2;
}
