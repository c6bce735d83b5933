#include "lib/config.h"
#include "lib/url.h"
#include "lib/util.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ctype { T_STR, T_PATH, T_U64, T_I64, T_BOOL, T_HOSTPORT, T_TIMER, T_URL };

struct key_def {
    const char *section;
    const char *key;
    enum ctype type;
    size_t off;
    const char *def; /* default as text; NULL = empty / derived */
    uint64_t min, max;
};

#define F(field) offsetof(struct config, field)
#define U(s, k, field, d, lo, hi)                                                                  \
    {                                                                                              \
        s, k, T_U64, F(field), d, lo, hi                                                           \
    }

static const struct key_def keys[] = {
    {"node", "data_dir", T_PATH, F(data_dir), "/var/lib/aequa", 0, 0},
    {"node", "runtime_dir", T_PATH, F(runtime_dir), "/run/aequa", 0, 0},
    {"node", "lock", T_PATH, F(lock), NULL, 0, 0},
    {"node", "key", T_PATH, F(key), NULL, 0, 0},
    U("node", "index", index, "0", 0, 63),

    {"api", "listen", T_HOSTPORT, F(api_listen), "127.0.0.1:4600", 0, 0},
    U("api", "threads", api_threads, "16", 1, 256),
    /* the connection front (workers/api/front.h) */
    U("api", "max_connections", api_max_connections, "256", 1, 65536),
    U("api", "max_connections_per_address", api_max_connections_per_address, "64", 1, 65536),
    U("api", "header_timeout_ms", api_header_timeout_ms, "5000", 100, 600000),
    U("api", "body_timeout_ms", api_body_timeout_ms, "10000", 100, 600000),
    U("api", "idle_timeout_ms", api_idle_timeout_ms, "10000", 100, 3600000),
    /* at least one largest body (2 MiB, workers/api/main.c) */
    U("api", "body_buffer_bytes", api_body_buffer_bytes, "67108864", 2097152, 1ull << 40),
    U("api", "max_open_duties", api_max_open_duties, "512", 1, 10000000),
    {"api", "upstream", T_URL, F(api_upstream), NULL, 0, 0},
    /* the reverse proxy to the upstream (workers/api/front.c) */
    U("api", "upstream_connect_timeout_ms", api_upstream_connect_timeout_ms, "5000", 10, 600000),
    U("api", "upstream_timeout_ms", api_upstream_timeout_ms, "30000", 10, 3600000),
    U("api", "upstream_max_connections", api_upstream_max_connections, "64", 1, 65536),

    {"monitoring", "listen", T_HOSTPORT, F(monitoring_listen), "127.0.0.1:4620", 0, 0},
    U("monitoring", "threads", monitoring_threads, "4", 1, 64),
    U("monitoring", "max_connections", monitoring_max_connections, "64", 1, 4096),
    U("monitoring", "max_connections_per_address", monitoring_max_connections_per_address, "16", 1,
      4096),
    U("monitoring", "header_timeout_ms", monitoring_header_timeout_ms, "5000", 100, 600000),
    U("monitoring", "body_timeout_ms", monitoring_body_timeout_ms, "5000", 100, 600000),
    U("monitoring", "idle_timeout_ms", monitoring_idle_timeout_ms, "10000", 100, 3600000),

    {"p2p", "listen", T_STR, F(p2p_listen), NULL, 0, 0},
    U("p2p", "max_connections", p2p_max_connections, "64", 1, 4096),
    U("p2p", "handshake_timeout_ms", p2p_handshake_timeout_ms, "5000", 10, 600000),
    U("p2p", "max_frame_bytes", p2p_max_frame_bytes, "4194304", 1024, 67108864),
    U("p2p", "send_queue_bytes", p2p_send_queue_bytes, "33554432", 65536, 1073741824),
    U("p2p", "rate_msgs", p2p_rate_msgs, "20000", 1, 10000000),
    U("p2p", "rate_bytes", p2p_rate_bytes, "67108864", 1024, 10000000000ull),
    U("p2p", "rate_burst", p2p_rate_burst, "40000", 1, 100000000),
    {"p2p", "score_threshold", T_I64, F(p2p_score_threshold), "-100", 0, 0},
    U("p2p", "score_cooldown_ms", p2p_score_cooldown_ms, "30000", 0, 86400000),
    U("p2p", "score_recover_per_s", p2p_score_recover_per_s, "5", 0, 1000000),
    U("p2p", "reconnect_min_ms", p2p_reconnect_min_ms, "100", 1, 600000),
    U("p2p", "reconnect_max_ms", p2p_reconnect_max_ms, "5000", 10, 600000),
    U("p2p", "ping_interval_ms", p2p_ping_interval_ms, "1000", 10, 600000),
    U("p2p", "idle_timeout_ms", p2p_idle_timeout_ms, "10000", 50, 3600000),

    U("qbft", "round_timeout_ms", qbft_round_timeout_ms, "1000", 1, 3600000),
    U("qbft", "round_timeout_max_ms", qbft_round_timeout_max_ms, "30000", 1, 3600000),
    {"qbft", "timer", T_TIMER, F(qbft_timer), "exponential", 0, 0},
    U("qbft", "round_window", qbft_round_window, "10", 1, 1000),
    U("qbft", "height_window", qbft_height_window, "1000", 1, 1000000000),
    U("qbft", "retention", qbft_retention, "100000", 1, 1ull << 62),
    U("qbft", "decided_keep", qbft_decided_keep, "2048", 1, 1000000),
    U("qbft", "decided_keep_s", qbft_decided_keep_s, "300", 1, 86400),
    U("qbft", "decided_resends", qbft_decided_resends, "3", 0, 100),
    U("qbft", "instance_expire_s", qbft_instance_expire_s, "60", 1, 86400),
    U("qbft", "max_height_jump", qbft_max_height_jump, "1000000", 1, 1ull << 62),

    {"statedb", "path", T_PATH, F(statedb_path), NULL, 0, 0},
    {"statedb", "sync", T_BOOL, F(statedb_sync), "true", 0, 0},
    U("statedb", "checkpoint_interval_s", statedb_checkpoint_interval_s, "300", 0, 7 * 86400ull),
    U("statedb", "checkpoints_keep", statedb_checkpoints_keep, "3", 1, 100),
    U("statedb", "max_batch", statedb_max_batch, "1024", 1, 1000000),
    U("statedb", "retention", statedb_retention, "100000", 1, 1ull << 62),
    U("statedb", "prune_interval_s", statedb_prune_interval_s, "60", 1, 86400),
    U("statedb", "block_cache_mb", statedb_block_cache_mb, "8", 1, 65536),
    U("statedb", "write_buffer_mb", statedb_write_buffer_mb, "16", 2, 65536),

    U("builder", "max_block_txs", builder_max_block_txs, "1000", 1, 1000000),
    U("builder", "max_block_gas", builder_max_block_gas, "30000000", 1, 1ull << 62),
    U("builder", "max_block_bytes", builder_max_block_bytes, "1048576", 1024,
      CONFIG_MAX_BLOCK_BYTES),
    U("builder", "max_tx_data", builder_max_tx_data, "4096", 0, CONFIG_MAX_TX_DATA),
    U("builder", "price_bump_pct", builder_price_bump_pct, "10", 0, 1000),
    /* pool caps, named and sized after go-ethereum's transaction pool */
    U("builder", "account_slots", builder_account_slots, "16", 1, 1000000),
    U("builder", "account_queue", builder_account_queue, "64", 0, 1000000),
    U("builder", "global_slots", builder_global_slots, "5120", 1, 10000000),
    U("builder", "global_queue", builder_global_queue, "1024", 0, 10000000),
    U("builder", "slot_ms", builder_slot_ms, "1000", 0, 3600000),
    {"builder", "empty_blocks", T_BOOL, F(builder_empty_blocks), "false", 0, 0},

    {"supervisor", "user", T_STR, F(user), "aequa", 0, 0},
    {"supervisor", "user_api", T_STR, F(user_api), NULL, 0, 0},
    {"supervisor", "user_p2p", T_STR, F(user_p2p), NULL, 0, 0},
    {"supervisor", "user_qbft", T_STR, F(user_qbft), NULL, 0, 0},
    {"supervisor", "user_statedb", T_STR, F(user_statedb), NULL, 0, 0},
    {"supervisor", "user_builder", T_STR, F(user_builder), NULL, 0, 0},
    U("supervisor", "heartbeat_ms", heartbeat_ms, "1000", 10, 60000),
    U("supervisor", "watchdog_ms", watchdog_ms, "5000", 100, 600000),
    U("supervisor", "grace_ms", grace_ms, "5000", 0, 600000),
    U("supervisor", "backoff_min_ms", backoff_min_ms, "100", 1, 600000),
    U("supervisor", "backoff_max_ms", backoff_max_ms, "30000", 1, 3600000),
    U("supervisor", "backoff_stable_s", backoff_stable_s, "60", 1, 86400),
    U("supervisor", "give_up_deaths", give_up_deaths, "20", 1, 60),
    U("supervisor", "give_up_window_s", give_up_window_s, "60", 1, 86400),

    {"tss", "enabled", T_BOOL, F(tss_enabled), "false", 0, 0},
    {"tss", "key", T_PATH, F(tss_key), NULL, 0, 0}, /* default: tss.key beside [node] key */
};

static size_t field_size(enum ctype t)
{
    switch (t) {
    case T_PATH:
        return CFG_PATH;
    case T_STR:
    case T_HOSTPORT:
    case T_TIMER:
    case T_URL:
        return CFG_STR;
    default:
        return 0;
    }
}

static int set_value(struct config *cfg, const struct key_def *k, const char *v, char *err,
                     size_t errsz)
{
    void *field = (char *)cfg + k->off;
    switch (k->type) {
    case T_STR:
    case T_PATH:
    case T_HOSTPORT:
    case T_TIMER:
    case T_URL: {
        size_t cap = field_size(k->type);
        /* inih keeps "key =;x" as ";x" but reads "key = ;x" as an empty value and a comment:
         * such a value would not mean the same once written out again (-n). */
        if (v[0] == ';') {
            snprintf(err, errsz, "a value cannot start with ';' (for a comment: 'key = ; ...')");
            return -1;
        }
        if (strlen(v) >= cap) {
            snprintf(err, errsz, "value too long (max %zu bytes)", cap - 1);
            return -1;
        }
        if (k->type == T_HOSTPORT) {
            char host[CFG_STR];
            uint16_t port;
            if (parse_hostport(v, host, sizeof(host), &port) < 0) {
                snprintf(err, errsz, "expected HOST:PORT, got '%s'", v);
                return -1;
            }
        }
        struct http_url url;
        char why[160];
        /* empty: no upstream */
        if (k->type == T_URL && v[0] && url_parse_http(v, &url, why, sizeof(why)) < 0) {
            snprintf(err, errsz, "%s, got '%.80s'", why, v);
            return -1;
        }
        /* %.32s: gcc -O3 (release builds) cannot see that v fits and fails -Wformat-truncation. */
        if (k->type == T_TIMER && strcmp(v, "exponential") != 0 && strcmp(v, "linear") != 0) {
            snprintf(err, errsz, "expected 'exponential' or 'linear', got '%.32s'", v);
            return -1;
        }
        memcpy(field, v, strlen(v) + 1);
        return 0;
    }
    case T_U64: {
        uint64_t x;
        if (parse_u64(v, UINT64_MAX, &x) < 0 || x < k->min || x > k->max) {
            snprintf(err, errsz, "expected an integer in [%llu, %llu], got '%s'",
                     (unsigned long long)k->min, (unsigned long long)k->max, v);
            return -1;
        }
        *(uint64_t *)field = x;
        return 0;
    }
    case T_I64: {
        uint64_t x;
        bool neg = v[0] == '-';
        if (parse_u64(v + neg, (uint64_t)INT64_MAX, &x) < 0) {
            snprintf(err, errsz, "expected an integer, got '%s'", v);
            return -1;
        }
        *(int64_t *)field = neg ? -(int64_t)x : (int64_t)x;
        return 0;
    }
    case T_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1") || !strcmp(v, "on"))
            *(bool *)field = true;
        else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0") || !strcmp(v, "off"))
            *(bool *)field = false;
        else {
            snprintf(err, errsz, "expected true or false, got '%s'", v);
            return -1;
        }
        return 0;
    }
    return -1;
}

void config_defaults(struct config *cfg)
{
    char err[256];
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < ARRAY_LEN(keys); i++)
        if (keys[i].def && set_value(cfg, &keys[i], keys[i].def, err, sizeof(err)) < 0)
            fatalx("config: bad default for [%s] %s: %s", keys[i].section, keys[i].key, err);
}

static const struct key_def *find_key(const char *section, const char *key, bool *section_known)
{
    *section_known = false;
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        if (strcmp(keys[i].section, section) != 0)
            continue;
        *section_known = true;
        if (strcmp(keys[i].key, key) == 0)
            return &keys[i];
    }
    return NULL;
}

int config_set(struct config *cfg, const char *section, const char *key, const char *value,
               char *err, size_t errsz)
{
    bool known;
    const struct key_def *k = find_key(section, key, &known);
    if (!k) {
        if (!known)
            snprintf(err, errsz, "unknown section [%s] (key '%s')", section, key);
        else
            snprintf(err, errsz, "unknown key '%s' in section [%s]", key, section);
        return -1;
    }
    char why[200];
    if (set_value(cfg, k, value, why, sizeof(why)) < 0) {
        snprintf(err, errsz, "[%s] %s: %s", section, key, why);
        return -1;
    }
    return 0;
}

struct parse_ctx {
    struct config *cfg;
    const char *path;
    char *err;
    size_t errsz;
    bool failed;
    const char *text; /* the whole file, read line by line by text_reader */
    size_t len, pos;
    int lineno;
    int fail_line;
    unsigned char seen[ARRAY_LEN(keys)];
};

__attribute__((format(printf, 2, 3))) static void parse_fail(struct parse_ctx *c, const char *fmt,
                                                             ...)
{
    va_list ap;
    size_t n = (size_t)snprintf(c->err, c->errsz, "%s:%d: ", c->path, c->lineno);
    va_start(ap, fmt);
    if (n < c->errsz)
        vsnprintf(c->err + n, c->errsz - n, fmt, ap);
    va_end(ap);
    c->failed = true;
    c->fail_line = c->lineno;
}

static bool section_known(const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_LEN(keys); i++)
        if (strlen(keys[i].section) == len && !memcmp(keys[i].section, name, len))
            return true;
    return false;
}

/* A section header that names no section of the table is an error even when no key follows
 * (inih calls the handler only for keys). The line is looked at exactly as inih will see it. */
static void check_section_line(struct parse_ctx *c, const char *line)
{
    if (c->lineno == 1 && !strncmp(line, "\xEF\xBB\xBF", 3))
        line += 3;
    while (*line == ' ' || *line == '\t' || *line == '\r' || *line == '\n')
        line++;
    const char *end = line[0] == '[' ? strchr(line, ']') : NULL;
    if (!end || section_known(line + 1, (size_t)(end - line - 1)))
        return;
    char name[64];
    snprintf(name, sizeof(name), "%.*s", (int)(end - line - 1), line + 1);
    parse_fail(c, "unknown section [%s]", name);
}

/* inih's reader over the file held in memory: one line per call, newline kept. Debian's inih
 * does not pass line numbers to the handler: they are counted here; the handler runs right
 * after the line that holds its key was read. inih's line buffer is fixed (num bytes); fgets
 * would cut a longer line in two and inih would parse the rest as a line of its own, so such a
 * line is an error here. */
static char *text_reader(char *str, int num, void *stream)
{
    struct parse_ctx *c = stream;
    if (c->pos >= c->len || num < 2)
        return NULL;
    size_t n = 0, max = (size_t)num - 1;
    while (n < max && c->pos < c->len) {
        char ch = c->text[c->pos++];
        str[n++] = ch;
        if (ch == '\n')
            break;
    }
    str[n] = 0;
    c->lineno++;
    if (n == max && str[n - 1] != '\n' && c->pos < c->len) {
        if (c->text[c->pos] == '\n') {
            c->pos++; /* the line fits without its newline */
        } else {
            if (!c->failed)
                parse_fail(c, "line longer than %zu bytes", max);
            while (c->pos < c->len && c->text[c->pos] != '\n')
                c->pos++; /* the rest is not a line of its own */
        }
    }
    if (!c->failed)
        check_section_line(c, str);
    return str;
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
    struct parse_ctx *c = user;
    char why[300];
    bool known;
    if (c->failed)
        return 0;
    const struct key_def *k = find_key(section, key ? key : "", &known);
    if (k && c->seen[k - keys]) {
        parse_fail(c, "duplicate key '%s' in section [%s]", key, section);
        return 0;
    }
    if (config_set(c->cfg, section, key ? key : "", value ? value : "", why, sizeof(why)) < 0) {
        parse_fail(c, "%s", why);
        return 0;
    }
    c->seen[k - keys] = 1;
    return 1;
}

int config_load_text(struct config *cfg, const char *path, const char *text, size_t len, char *err,
                     size_t errsz)
{
    struct parse_ctx c = {
        .cfg = cfg, .path = path, .err = err, .errsz = errsz, .text = text, .len = len};
    ini_allow_multiline = false;
    int rc = ini_parse_stream(text_reader, &c, on_key, &c);
    /* inih reports the first syntax error's line; ours may come later in the file. */
    if (c.failed && (rc <= 0 || rc >= c.fail_line))
        return -1;
    if (rc != 0) {
        snprintf(err, errsz, "%s:%d: syntax error", path, rc);
        return -1;
    }
    snprintf(cfg->config_path, sizeof(cfg->config_path), "%s", path);
    return 0;
}

int config_load_file(struct config *cfg, const char *path, char *err, size_t errsz)
{
    char *text;
    size_t len;
    if (read_file(path, CONFIG_MAX_FILE, &text, &len) < 0) {
        snprintf(err, errsz, "%s: cannot read config file: %s", path,
                 errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
        return -1;
    }
    int rc = config_load_text(cfg, path, text, len, err, errsz);
    free(text);
    return rc;
}

int config_finish(struct config *cfg, char *err, size_t errsz)
{
    static const struct {
        const char *name;
        size_t off;
    } required[] = {
        {"[node] data_dir", F(data_dir)},
        {"[node] runtime_dir", F(runtime_dir)},
        {"[supervisor] user", F(user)},
    };
    for (size_t i = 0; i < ARRAY_LEN(required); i++) {
        if (!((const char *)cfg + required[i].off)[0]) {
            snprintf(err, errsz, "%s: must not be empty", required[i].name);
            return -1;
        }
    }
    cfg->single_node = !cfg->lock[0] && !cfg->key[0];
    if (!cfg->statedb_path[0] &&
        snprintf(cfg->statedb_path, CFG_PATH, "%s/db", cfg->data_dir) >= CFG_PATH)
        goto toolong;
    if (!cfg->lock[0] &&
        snprintf(cfg->lock, CFG_PATH, "%s/cluster-lock.json", cfg->data_dir) >= CFG_PATH)
        goto toolong;
    if (!cfg->key[0] && snprintf(cfg->key, CFG_PATH, "%s/node.key", cfg->data_dir) >= CFG_PATH)
        goto toolong;
    if (!cfg->tss_key[0]) {
        const char *slash = strrchr(cfg->key, '/');
        int dirlen = slash ? (int)(slash - cfg->key + 1) : 0;
        if (snprintf(cfg->tss_key, CFG_PATH, "%.*stss.key", dirlen, cfg->key) >= CFG_PATH) {
            snprintf(err, errsz, "[tss] key: the default beside [node] key is too long");
            return -1;
        }
    }
    if (cfg->qbft_round_timeout_max_ms < cfg->qbft_round_timeout_ms) {
        snprintf(err, errsz, "[qbft] round_timeout_max_ms must be >= round_timeout_ms");
        return -1;
    }
    if (cfg->p2p_score_threshold >= 0) {
        snprintf(err, errsz, "[p2p] score_threshold must be negative");
        return -1;
    }
    if (cfg->p2p_reconnect_max_ms < cfg->p2p_reconnect_min_ms) {
        snprintf(err, errsz, "[p2p] reconnect_max_ms must be >= reconnect_min_ms");
        return -1;
    }
    if (cfg->p2p_idle_timeout_ms <= cfg->p2p_ping_interval_ms) {
        snprintf(err, errsz, "[p2p] idle_timeout_ms must be > ping_interval_ms");
        return -1;
    }
    if (cfg->api_max_connections_per_address > cfg->api_max_connections) {
        snprintf(err, errsz, "[api] max_connections_per_address must be <= max_connections");
        return -1;
    }
    if (cfg->monitoring_max_connections_per_address > cfg->monitoring_max_connections) {
        snprintf(err, errsz, "[monitoring] max_connections_per_address must be <= max_connections");
        return -1;
    }
    if (cfg->backoff_max_ms < cfg->backoff_min_ms) {
        snprintf(err, errsz, "[supervisor] backoff_max_ms must be >= backoff_min_ms");
        return -1;
    }
    if (cfg->watchdog_ms <= cfg->heartbeat_ms) {
        snprintf(err, errsz, "[supervisor] watchdog_ms must be > heartbeat_ms");
        return -1;
    }
    if (cfg->builder_account_slots > cfg->builder_global_slots) {
        snprintf(err, errsz, "[builder] account_slots must be <= global_slots");
        return -1;
    }
    if (cfg->builder_account_queue > cfg->builder_global_queue) {
        snprintf(err, errsz, "[builder] account_queue must be <= global_queue");
        return -1;
    }
    /* A block must hold one transaction with max_tx_data bytes of data: the block's header and
     * the transaction's other fields take less than 256 bytes. */
    if (cfg->builder_max_block_bytes < cfg->builder_max_tx_data + 256) {
        snprintf(err, errsz, "[builder] max_block_bytes must be >= max_tx_data + 256");
        return -1;
    }
    /* nng ipc:// paths are limited to 107 bytes: "ipc://" + dir + "/statedb.ipc". */
    if (strlen(cfg->runtime_dir) > 80) {
        snprintf(err, errsz, "[node] runtime_dir: path longer than 80 bytes (nng ipc limit)");
        return -1;
    }
    return 0;
toolong:
    snprintf(err, errsz, "[node] data_dir: path too long");
    return -1;
}

void config_dump(const struct config *cfg, struct buf *out)
{
    config_dump_section(cfg, NULL, out);
}

void config_dump_section(const struct config *cfg, const char *only, struct buf *out)
{
    const char *section = "";
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        const struct key_def *k = &keys[i];
        const void *field = (const char *)cfg + k->off;
        if (only && strcmp(only, k->section) != 0)
            continue;
        if (strcmp(section, k->section) != 0) {
            buf_printf(out, "%s[%s]\n", out->len ? "\n" : "", k->section);
            section = k->section;
        }
        switch (k->type) {
        case T_U64:
            buf_printf(out, "%s = %llu\n", k->key, (unsigned long long)*(const uint64_t *)field);
            break;
        case T_I64:
            buf_printf(out, "%s = %lld\n", k->key, (long long)*(const int64_t *)field);
            break;
        case T_BOOL:
            buf_printf(out, "%s = %s\n", k->key, *(const bool *)field ? "true" : "false");
            break;
        default:
            buf_printf(out, "%s = %s\n", k->key, (const char *)field);
            break;
        }
    }
}

const char *config_worker_user(const struct config *cfg, const char *worker)
{
    char key[64];
    bool known;
    snprintf(key, sizeof(key), "user_%s", worker);
    const struct key_def *k = find_key("supervisor", key, &known);
    const char *u = k ? (const char *)cfg + k->off : "";
    return u[0] ? u : cfg->user;
}
