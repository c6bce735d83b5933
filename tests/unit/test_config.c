/* Unit tests for lib/config and lib/options: strict INI, errors naming file/line/key, flags. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/options.h"

static char path[64];

static void write_conf(const char *text)
{
    snprintf(path, sizeof(path), "/tmp/aequa-test-config-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static int load(const char *text, struct config *cfg, char *err, size_t errsz)
{
    write_conf(text);
    config_defaults(cfg);
    int rc = config_load_file(cfg, path, err, errsz);
    unlink(path);
    return rc;
}

START_TEST(defaults)
{
    struct config cfg;
    char err[256];
    config_defaults(&cfg);
    ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.api_listen, "127.0.0.1:4600");
    ck_assert_str_eq(cfg.monitoring_listen, "127.0.0.1:4620");
    ck_assert_uint_eq(cfg.watchdog_ms, 5000);
    ck_assert_str_eq(cfg.statedb_path, "/var/lib/aequa/db");
    ck_assert(cfg.statedb_sync);
    ck_assert(!cfg.tss_enabled);
}
END_TEST

START_TEST(valid_file)
{
    struct config cfg;
    char err[256];
    ck_assert_int_eq(load("[node]\ndata_dir = /srv/a\n; comment\n[api]\nlisten = 0.0.0.0:5000\n"
                          "[qbft]\ntimer = linear\n[tss]\nenabled = yes\n",
                          &cfg, err, sizeof(err)),
                     0);
    ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.data_dir, "/srv/a");
    ck_assert_str_eq(cfg.statedb_path, "/srv/a/db");
    ck_assert_str_eq(cfg.api_listen, "0.0.0.0:5000");
    ck_assert_str_eq(cfg.qbft_timer, "linear");
    ck_assert(cfg.tss_enabled);
}
END_TEST

START_TEST(unknown_key_names_file_line_key)
{
    struct config cfg;
    char err[512];
    ck_assert_int_eq(load("[api]\nlisten = 127.0.0.1:1\nlisen = x\n", &cfg, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_nonnull(strstr(err, ":3:"));
    ck_assert_ptr_nonnull(strstr(err, "unknown key 'lisen'"));
}
END_TEST

START_TEST(unknown_section)
{
    struct config cfg;
    char err[512];
    /* The header's line is named, with or without keys after it (issue 10: "[bogus]" alone). */
    ck_assert_int_eq(load("[nodes]\nindex = 1\n", &cfg, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, ":1:"));
    ck_assert_ptr_nonnull(strstr(err, "unknown section [nodes]"));
    ck_assert_int_eq(
        load("[api]\nthreads = 4\n\n  [bogus] ; nothing here\n", &cfg, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_nonnull(strstr(err, ":4: unknown section [bogus]"));
    ck_assert_int_eq(load("[bogus]\n[node]\nindex = 1\n", &cfg, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, ":1: unknown section [bogus]"));
    /* A byte-order mark before the first header is skipped, as inih does. */
    ck_assert_int_eq(load("\xEF\xBB\xBF[node]\nindex = 1\n", &cfg, err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.index, 1);
    /* A syntax error before the unknown section is the one reported. */
    ck_assert_int_eq(load("[node\n[bogus]\n", &cfg, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, ":1: syntax error"));
}
END_TEST

START_TEST(long_line)
{
    struct config cfg;
    char err[512], text[600], dir[400];
    /* inih's buffer holds 199 bytes: a longer line is refused, never cut in two. */
    memset(dir, 'a', sizeof(dir));
    dir[0] = '/';
    dir[sizeof(dir) - 1] = 0;
    snprintf(text, sizeof(text), "[node]\ndata_dir = %s\nindex = 2\n", dir);
    ck_assert_int_eq(load(text, &cfg, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, ":2: line longer than 199 bytes"));
    /* Exactly 199 bytes and its newline fit; the line count stays right. */
    snprintf(text, sizeof(text), "[node]\ndata_dir = %.188s\nindex = 2\nbogus = 1\n", dir);
    ck_assert_uint_eq(strchr(strchr(text, '\n') + 1, '\n') - strchr(text, '\n') - 1, 199);
    ck_assert_int_eq(load(text, &cfg, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, ":4: unknown key 'bogus'"));
    ck_assert_uint_eq(cfg.index, 2);
    ck_assert_uint_eq(strlen(cfg.data_dir), 188);
}
END_TEST

START_TEST(load_text)
{
    struct config cfg;
    char err[512];
    static const char text[] = "[node]\nindex = 3\n[api]\nthreads = 7"; /* no final newline */
    config_defaults(&cfg);
    ck_assert_int_eq(config_load_text(&cfg, "mem.conf", text, strlen(text), err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.index, 3);
    ck_assert_uint_eq(cfg.api_threads, 7);
    ck_assert_str_eq(cfg.config_path, "mem.conf");
    /* Only len bytes are read: the rest of the buffer is not part of the file. */
    ck_assert_int_eq(
        config_load_text(&cfg, "mem.conf", "[node]\nindex = 5\nbogus", 17, err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.index, 5);
    ck_assert_int_eq(config_load_text(&cfg, "mem.conf", "", 0, err, sizeof(err)), 0);
}
END_TEST

START_TEST(file_errors)
{
    struct config cfg;
    char err[512];
    config_defaults(&cfg);
    ck_assert_int_eq(config_load_file(&cfg, "/nonexistent/a.conf", err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/a.conf: cannot read config file"));
    /* A file over the cap is refused before it is parsed. */
    snprintf(path, sizeof(path), "/tmp/aequa-test-config-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, CONFIG_MAX_FILE + 1), 0);
    close(fd);
    ck_assert_int_eq(config_load_file(&cfg, path, err, sizeof(err)), -1);
    unlink(path);
    ck_assert_ptr_nonnull(strstr(err, "larger than 1 MiB"));
}
END_TEST

START_TEST(single_node)
{
    struct config cfg;
    char err[512];
    /* Neither lock nor key: the one-operator default under the data dir (issue 10). */
    ck_assert_int_eq(load("[supervisor]\nheartbeat_ms = 500\n", &cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 0);
    ck_assert(cfg.single_node);
    ck_assert_str_eq(cfg.lock, "/var/lib/aequa/cluster-lock.json");
    ck_assert_str_eq(cfg.key, "/var/lib/aequa/node.key");
    /* Either one named: a real cluster, whose other file is looked for in the data dir. */
    ck_assert_int_eq(load("[node]\nlock = /etc/aequa/lock.json\n", &cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 0);
    ck_assert(!cfg.single_node);
    ck_assert_str_eq(cfg.key, "/var/lib/aequa/node.key");
    ck_assert_int_eq(load("[node]\nkey = /etc/aequa/node.key\n", &cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 0);
    ck_assert(!cfg.single_node);
}
END_TEST

START_TEST(tss_key_default_and_explicit)
{
    struct config cfg;
    char err[512];
    /* Default: tss.key in the directory of [node] key (issue 12). */
    config_defaults(&cfg);
    ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.tss_key, "/var/lib/aequa/tss.key");
    ck_assert_int_eq(load("[node]\nkey = /etc/aequa/keys/node.key\n", &cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.tss_key, "/etc/aequa/keys/tss.key");
    ck_assert_int_eq(load("[node]\nkey = node.key\n", &cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.tss_key, "tss.key");
    /* Named: used as written, and shown by the dump (-n). */
    ck_assert_int_eq(load("[node]\nkey = /etc/aequa/node.key\n[tss]\nkey = /secrets/share.key\n",
                          &cfg, err, sizeof(err)),
                     0);
    ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.tss_key, "/secrets/share.key");
    struct buf b = BUF_INIT;
    config_dump_section(&cfg, "tss", &b);
    char *dump = buf_steal_str(&b);
    ck_assert_str_eq(dump, "[tss]\nenabled = false\nkey = /secrets/share.key\n");
    free(dump);
}
END_TEST

START_TEST(duplicate_key)
{
    struct config cfg;
    char err[512];
    ck_assert_int_eq(load("[node]\nindex = 1\nindex = 2\n", &cfg, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "duplicate key 'index'"));
}
END_TEST

START_TEST(bad_values)
{
    struct config cfg;
    char err[512];
    ck_assert_int_eq(load("[node]\nindex = 64\n", &cfg, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "[node] index"));
    ck_assert_int_eq(load("[api]\nlisten = nope\n", &cfg, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "HOST:PORT"));
    ck_assert_int_eq(load("[api]\nlisten = 1.2.3.4:70000\n", &cfg, err, sizeof(err)), -1);
    ck_assert_int_eq(load("[statedb]\nsync = maybe\n", &cfg, err, sizeof(err)), -1);
    ck_assert_int_eq(load("[qbft]\ntimer = random\n", &cfg, err, sizeof(err)), -1);
    ck_assert_int_eq(load("[qbft]\nround_timeout_ms = -5\n", &cfg, err, sizeof(err)), -1);
    ck_assert_int_eq(load("[qbft]\nround_timeout_ms = 12abc\n", &cfg, err, sizeof(err)), -1);
    /* "key =;x" would be read back from -n's "key = ;x" as an empty value (found by fuzzing) */
    ck_assert_int_eq(load("[supervisor]\nuser =;x\n", &cfg, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, ":2: [supervisor] user: a value cannot start with ';'"));
    ck_assert_int_eq(load("[api]\nupstream = ; a comment, no value\n", &cfg, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.api_upstream, "");
    /* the upstream: http://HOST[:PORT][/PATH] only (lib/url.h), named like any bad value */
    ck_assert_int_eq(load("[api]\nupstream = http://bn:5052/eth\n", &cfg, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.api_upstream, "http://bn:5052/eth");
    ck_assert_int_eq(load("[api]\nupstream = https://bn:5052\n", &cfg, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, ":2: [api] upstream: https is not supported"));
    ck_assert_ptr_nonnull(strstr(err, "got 'https://bn:5052'"));
    ck_assert_int_eq(load("[api]\nupstream = bn:5052\n", &cfg, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "expected http://HOST[:PORT][/PATH]"));
    ck_assert_int_eq(load("[api]\nupstream_timeout_ms = 0\n", &cfg, err, sizeof(err)), -1);
}
END_TEST

START_TEST(syntax_error)
{
    struct config cfg;
    char err[512];
    ck_assert_int_eq(load("[node\nindex = 1\n", &cfg, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, ":1:"));
}
END_TEST

START_TEST(cross_field_rules)
{
    struct config cfg;
    char err[512];
    ck_assert_int_eq(
        load("[supervisor]\nheartbeat_ms = 5000\nwatchdog_ms = 1000\n", &cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "watchdog_ms"));
    /* An empty data dir put the lock, the key and the database at the file system's root. */
    static const char *const empty[] = {"[node]\ndata_dir =\n", "[node]\nruntime_dir =\n",
                                        "[supervisor]\nuser =\n"};
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        ck_assert_int_eq(load(empty[i], &cfg, err, sizeof(err)), 0);
        ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), -1);
        ck_assert_ptr_nonnull(strstr(err, "must not be empty"));
    }

    static const struct {
        const char *text, *want;
    } p2p[] = {
        {"[p2p]\nscore_threshold = 0\n", "score_threshold"},
        {"[p2p]\nreconnect_min_ms = 9000\n", "reconnect_max_ms"},
        {"[p2p]\nping_interval_ms = 20000\n", "idle_timeout_ms"},
    };
    for (size_t i = 0; i < sizeof(p2p) / sizeof(p2p[0]); i++) {
        ck_assert_int_eq(load(p2p[i].text, &cfg, err, sizeof(err)), 0);
        ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), -1);
        ck_assert_ptr_nonnull(strstr(err, p2p[i].want));
    }
}
END_TEST

START_TEST(builder_keys)
{
    struct config cfg;
    char err[512];
    config_defaults(&cfg);
    ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.builder_max_block_txs, 1000);
    ck_assert_uint_eq(cfg.builder_max_block_gas, 30000000);
    ck_assert_uint_eq(cfg.builder_max_block_bytes, 1048576);
    ck_assert_uint_eq(cfg.builder_max_tx_data, 4096);
    ck_assert_uint_eq(cfg.builder_price_bump_pct, 10);
    ck_assert_uint_eq(cfg.builder_account_slots, 16);
    ck_assert_uint_eq(cfg.builder_account_queue, 64);
    ck_assert_uint_eq(cfg.builder_global_slots, 5120);
    ck_assert_uint_eq(cfg.builder_global_queue, 1024);
    ck_assert_uint_eq(cfg.builder_slot_ms, 1000);
    ck_assert(!cfg.builder_empty_blocks);

    ck_assert_int_eq(load("[builder]\nmax_block_txs = 10\nmax_block_gas = 99\nmax_block_bytes = "
                          "8192\nmax_tx_data = 100\nprice_bump_pct = 0\naccount_slots = 2\n"
                          "account_queue = 0\nglobal_slots = 4\nglobal_queue = 0\nslot_ms = 0\n"
                          "empty_blocks = true\n",
                          &cfg, err, sizeof(err)),
                     0);
    ck_assert_msg(config_finish(&cfg, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(cfg.builder_max_block_txs, 10);
    ck_assert_uint_eq(cfg.builder_global_slots, 4);
    ck_assert_uint_eq(cfg.builder_slot_ms, 0);
    ck_assert(cfg.builder_empty_blocks);

    /* the old keys are gone */
    static const char *const gone[] = {"max_items", "max_gas", "max_bytes", "pool_max",
                                       "pool_per_sender"};
    for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
        char text[64];
        snprintf(text, sizeof(text), "[builder]\n%s = 1\n", gone[i]);
        ck_assert_int_eq(load(text, &cfg, err, sizeof(err)), -1);
        ck_assert_ptr_nonnull(strstr(err, "unknown key"));
    }
    ck_assert_int_eq(load("[builder]\nmax_tx_data = 1048577\n", &cfg, err, sizeof(err)), -1);
    /* a transaction and a block must fit the messages that carry them between workers */
    ck_assert_int_eq(load("[builder]\nmax_tx_data = 65414\n", &cfg, err, sizeof(err)), -1);
    ck_assert_int_eq(load("[builder]\nmax_tx_data = 65413\n", &cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(load("[builder]\nmax_block_bytes = 2097153\n", &cfg, err, sizeof(err)), -1);
    ck_assert_int_eq(load("[builder]\nmax_block_bytes = 2097152\n", &cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(load("[builder]\naccount_slots = 0\n", &cfg, err, sizeof(err)), -1);
    ck_assert_int_eq(load("[builder]\nempty_blocks = sometimes\n", &cfg, err, sizeof(err)), -1);

    static const struct {
        const char *text, *want;
    } rules[] = {
        {"[builder]\naccount_slots = 6000\n", "account_slots"},
        {"[builder]\naccount_queue = 2000\n", "account_queue"},
        {"[builder]\nmax_block_bytes = 4000\n", "max_block_bytes"},
    };
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        ck_assert_int_eq(load(rules[i].text, &cfg, err, sizeof(err)), 0);
        ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), -1);
        ck_assert_ptr_nonnull(strstr(err, rules[i].want));
    }
}
END_TEST

/* The connection fronts' limits (workers/api/front.h): defaults, file, bounds, cross rules. */
START_TEST(front_limits)
{
    struct config cfg;
    char err[512];
    config_defaults(&cfg);
    ck_assert_uint_eq(cfg.api_max_connections, 256);
    ck_assert_uint_eq(cfg.api_max_connections_per_address, 64);
    ck_assert_uint_eq(cfg.api_header_timeout_ms, 5000);
    ck_assert_uint_eq(cfg.api_body_timeout_ms, 10000);
    ck_assert_uint_eq(cfg.api_idle_timeout_ms, 10000);
    ck_assert_uint_eq(cfg.api_body_buffer_bytes, 64u << 20);
    ck_assert_uint_eq(cfg.monitoring_threads, 4);
    ck_assert_uint_eq(cfg.monitoring_max_connections, 64);
    ck_assert_uint_eq(cfg.monitoring_max_connections_per_address, 16);
    ck_assert_uint_eq(cfg.api_upstream_connect_timeout_ms, 5000);
    ck_assert_uint_eq(cfg.api_upstream_timeout_ms, 30000);
    ck_assert_uint_eq(cfg.api_upstream_max_connections, 64);
    ck_assert_int_eq(load("[api]\nmax_connections = 2000\nmax_connections_per_address = 1500\n"
                          "header_timeout_ms = 1000\nbody_timeout_ms = 2000\n"
                          "idle_timeout_ms = 3000\nbody_buffer_bytes = 4194304\n"
                          "[monitoring]\nthreads = 2\nmax_connections = 8\n"
                          "max_connections_per_address = 8\nheader_timeout_ms = 700\n"
                          "body_timeout_ms = 800\nidle_timeout_ms = 900\n",
                          &cfg, err, sizeof(err)),
                     0);
    ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.api_max_connections_per_address, 1500);
    ck_assert_uint_eq(cfg.api_header_timeout_ms, 1000);
    ck_assert_uint_eq(cfg.api_body_buffer_bytes, 4194304);
    ck_assert_uint_eq(cfg.monitoring_idle_timeout_ms, 900);

    static const char *const out_of_bounds[] = {
        "[api]\nheader_timeout_ms = 99\n",    "[api]\nmax_connections = 0\n",
        "[api]\nmax_connections = 65537\n",   "[api]\nbody_buffer_bytes = 2097151\n",
        "[monitoring]\nthreads = 65\n",       "[monitoring]\nmax_connections = 4097\n",
        "[api]\nrequest_timeout_ms = 1000\n", /* replaced by the front's deadlines */
    };
    for (size_t i = 0; i < sizeof(out_of_bounds) / sizeof(out_of_bounds[0]); i++)
        ck_assert_int_eq(load(out_of_bounds[i], &cfg, err, sizeof(err)), -1);

    ck_assert_int_eq(load("[api]\nmax_connections = 10\nmax_connections_per_address = 11\n", &cfg,
                          err, sizeof(err)),
                     0);
    ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "[api] max_connections_per_address"));
    ck_assert_int_eq(load("[monitoring]\nmax_connections = 10\n", &cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(config_finish(&cfg, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "[monitoring] max_connections_per_address"));
}
END_TEST

START_TEST(worker_user)
{
    struct config cfg;
    char err[512];
    ck_assert_int_eq(load("[supervisor]\nuser = svc\nuser_p2p = net\n", &cfg, err, sizeof(err)), 0);
    ck_assert_str_eq(config_worker_user(&cfg, "p2p"), "net");
    ck_assert_str_eq(config_worker_user(&cfg, "qbft"), "svc");
}
END_TEST

START_TEST(flags_override_file)
{
    write_conf("[api]\nlisten = 127.0.0.1:1111\n[node]\ndata_dir = /srv/x\n");
    char *argv[] = {"aequa", "--config", path, "--validator-api", "127.0.0.1:2222", "--enable-tss",
                    "-v",    "-v",       NULL};
    struct options o;
    struct config cfg;
    char err[512];
    ck_assert_int_eq(options_parse(&o, 8, argv, err, sizeof(err)), 0);
    ck_assert_int_eq(o.verbose, 2);
    ck_assert_int_eq(options_load_config(&o, &cfg, err, sizeof(err)), 0);
    unlink(path);
    ck_assert_str_eq(cfg.api_listen, "127.0.0.1:2222");
    ck_assert_str_eq(cfg.data_dir, "/srv/x");
    ck_assert(cfg.tss_enabled);
    ck_assert(!cfg.embedded);

    const char *fw[32];
    int n = options_forward(&o, fw, 0, 32);
    ck_assert_int_eq(n, 7);
    ck_assert_str_eq(fw[0], "--config");
    ck_assert_str_eq(fw[2], "--validator-api");
}
END_TEST

START_TEST(bad_flags)
{
    char *a1[] = {"aequa", "--bogus", NULL};
    char *a2[] = {"aequa", "--config", NULL};
    char *a3[] = {"aequa", "--validator-api", "x", NULL};
    struct options o;
    struct config cfg;
    char err[512];
    ck_assert_int_eq(options_parse(&o, 2, a1, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "--bogus"));
    ck_assert_int_eq(options_parse(&o, 2, a2, err, sizeof(err)), -1);
    ck_assert_int_eq(options_parse(&o, 3, a3, err, sizeof(err)), 0);
    ck_assert_int_eq(options_load_config(&o, &cfg, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "[api] listen"));
}
END_TEST

START_TEST(missing_config_file)
{
    char *argv[] = {"aequa", "--config", "/nonexistent/aequa.conf", NULL};
    struct options o;
    struct config cfg;
    char err[512];
    ck_assert_int_eq(options_parse(&o, 3, argv, err, sizeof(err)), 0);
    ck_assert_int_eq(options_load_config(&o, &cfg, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/aequa.conf"));
}
END_TEST

/* [qbft] max_height_jump (issue 10): default 1000000, bounds [1, 2^62]. */
START_TEST(qbft_max_height_jump)
{
    struct config cfg;
    char err[256];
    ck_assert_int_eq(load("[qbft]\nretention = 5\n", &cfg, err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.qbft_max_height_jump, 1000000);
    ck_assert_int_eq(load("[qbft]\nmax_height_jump = 1\n", &cfg, err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.qbft_max_height_jump, 1);
    ck_assert_int_eq(
        load("[qbft]\nmax_height_jump = 4611686018427387904\n", &cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(load("[qbft]\nmax_height_jump = 0\n", &cfg, err, sizeof(err)), -1);
    ck_assert_int_eq(
        load("[qbft]\nmax_height_jump = 4611686018427387905\n", &cfg, err, sizeof(err)), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, valid_file);
    tcase_add_test(tc, unknown_key_names_file_line_key);
    tcase_add_test(tc, unknown_section);
    tcase_add_test(tc, long_line);
    tcase_add_test(tc, load_text);
    tcase_add_test(tc, file_errors);
    tcase_add_test(tc, single_node);
    tcase_add_test(tc, tss_key_default_and_explicit);
    tcase_add_test(tc, duplicate_key);
    tcase_add_test(tc, bad_values);
    tcase_add_test(tc, syntax_error);
    tcase_add_test(tc, cross_field_rules);
    tcase_add_test(tc, builder_keys);
    tcase_add_test(tc, front_limits);
    tcase_add_test(tc, worker_user);
    tcase_add_test(tc, flags_override_file);
    tcase_add_test(tc, bad_flags);
    tcase_add_test(tc, missing_config_file);
    tcase_add_test(tc, qbft_max_height_jump);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
