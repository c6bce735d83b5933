/*
 * config: the node's configuration — defaults, then the INI file (inih, strict), then flags.
 *
 * Every key is one row of the table in config.c (section, key, type, bounds, default, field).
 * Unknown sections or keys, duplicates, and values out of bounds are errors that name the file,
 * the line and the key; callers exit 78 (EX_CONFIG) on them. The supervisor and every worker use
 * the same loader and the same flags, so a worker started by hand sees what a spawned one sees.
 */
#ifndef AEQUA_CONFIG_H
#define AEQUA_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"

#define CFG_STR             256
#define CFG_PATH            1024
#define DEFAULT_CONFIG_PATH "/etc/aequa/aequa.conf"
#define CONFIG_MAX_FILE     (1u << 20)

/*
 * Upper bounds of the [builder] keys that size messages between workers: a transaction (its
 * data and at most 123 bytes more, proto/tx.h) must fit one message to the builder
 * (proto/builder.h BLD_TX_MAX, 64 KiB), a block one QBFT value and one builder message
 * (QBFT_MAX_VALUE, BLD_BLOCK_MAX: 2 MiB). Above them, one client's transaction or one leader's
 * block was a protocol violation that stopped the worker receiving it. Checked against those
 * limits at compile time (workers/builder/main.c).
 */
#define CONFIG_MAX_TX_DATA     65413u
#define CONFIG_MAX_BLOCK_BYTES (2u << 20)

struct config {
    /* [node] */
    char data_dir[CFG_PATH];
    char runtime_dir[CFG_PATH];
    char lock[CFG_PATH];
    char key[CFG_PATH];
    uint64_t index;
    /* [api] */
    char api_listen[CFG_STR];
    uint64_t api_threads;
    uint64_t api_max_connections;
    uint64_t api_max_connections_per_address;
    uint64_t api_header_timeout_ms;
    uint64_t api_body_timeout_ms;
    uint64_t api_idle_timeout_ms;
    uint64_t api_body_buffer_bytes;
    uint64_t api_max_open_duties;
    char api_upstream[CFG_STR];
    uint64_t api_upstream_connect_timeout_ms;
    uint64_t api_upstream_timeout_ms;
    uint64_t api_upstream_max_connections;
    /* [monitoring] */
    char monitoring_listen[CFG_STR];
    uint64_t monitoring_threads;
    uint64_t monitoring_max_connections;
    uint64_t monitoring_max_connections_per_address;
    uint64_t monitoring_header_timeout_ms;
    uint64_t monitoring_body_timeout_ms;
    uint64_t monitoring_idle_timeout_ms;
    /* [p2p] */
    char p2p_listen[CFG_STR];
    uint64_t p2p_max_connections;
    uint64_t p2p_handshake_timeout_ms;
    uint64_t p2p_max_frame_bytes;
    uint64_t p2p_send_queue_bytes;
    uint64_t p2p_rate_msgs;
    uint64_t p2p_rate_bytes;
    uint64_t p2p_rate_burst;
    int64_t p2p_score_threshold;
    uint64_t p2p_score_cooldown_ms;
    uint64_t p2p_reconnect_min_ms;
    uint64_t p2p_reconnect_max_ms;
    uint64_t p2p_score_recover_per_s;
    uint64_t p2p_ping_interval_ms;
    uint64_t p2p_idle_timeout_ms;
    /* [qbft] */
    uint64_t qbft_round_timeout_ms;
    uint64_t qbft_round_timeout_max_ms;
    char qbft_timer[CFG_STR]; /* exponential | linear */
    uint64_t qbft_round_window;
    uint64_t qbft_height_window;
    uint64_t qbft_retention;
    uint64_t qbft_decided_keep;   /* decided instances kept in memory, at most */
    uint64_t qbft_decided_keep_s; /* ... and for at most this long after their decision */
    uint64_t qbft_decided_resends;
    uint64_t qbft_instance_expire_s; /* an undecided instance stops counting as open after this */
    uint64_t qbft_max_height_jump;   /* a duty this far above its type's highest is refused */
    /* [statedb] */
    char statedb_path[CFG_PATH];
    bool statedb_sync;
    uint64_t statedb_checkpoint_interval_s;
    uint64_t statedb_checkpoints_keep;
    uint64_t statedb_max_batch;
    uint64_t statedb_retention;
    uint64_t statedb_prune_interval_s; /* between prune passes (a pass runs in slices) */
    uint64_t statedb_block_cache_mb;   /* RocksDB's block cache (reads) */
    uint64_t statedb_write_buffer_mb;  /* RocksDB's memtables, all column families together */
    /* [builder] */
    uint64_t builder_max_block_txs;
    uint64_t builder_max_block_gas;
    uint64_t builder_max_block_bytes; /* at most CONFIG_MAX_BLOCK_BYTES */
    uint64_t builder_max_tx_data;     /* at most CONFIG_MAX_TX_DATA */
    uint64_t builder_price_bump_pct;
    uint64_t builder_account_slots; /* pending per sender */
    uint64_t builder_account_queue; /* queued per sender */
    uint64_t builder_global_slots;  /* pending in all */
    uint64_t builder_global_queue;  /* queued in all */
    uint64_t builder_slot_ms;       /* 0: no slot clock */
    bool builder_empty_blocks;
    /* [supervisor] */
    char user[CFG_STR];
    char user_api[CFG_STR];
    char user_p2p[CFG_STR];
    char user_qbft[CFG_STR];
    char user_statedb[CFG_STR];
    char user_builder[CFG_STR];
    uint64_t heartbeat_ms;
    uint64_t watchdog_ms;
    uint64_t grace_ms;
    uint64_t backoff_min_ms;
    uint64_t backoff_max_ms;
    uint64_t backoff_stable_s;
    uint64_t give_up_deaths;
    uint64_t give_up_window_s;
    /* [tss] */
    bool tss_enabled;
    char tss_key[CFG_PATH]; /* this node's FROST share; default tss.key beside [node] key */

    /* Derived, not in the file. */
    char config_path[CFG_PATH]; /* "" for the embedded default */
    bool embedded;              /* no file: running the embedded single-node default */
    /* Neither [node] lock nor [node] key was given (file or not): like the embedded default,
     * the node creates or reuses its key and a one-operator lock under data_dir. */
    bool single_node;
};

/* Fill cfg with defaults for the given data dir. */
void config_defaults(struct config *cfg);

/* Parse an INI file (at most CONFIG_MAX_FILE bytes) over cfg. Returns 0, or -1 with a message
 * naming file, line and key (or section: a section header the table does not know is an error
 * even when no key follows it). */
int config_load_file(struct config *cfg, const char *path, char *err, size_t errsz);
/* The same over text held in memory; path only names it in errors. */
int config_load_text(struct config *cfg, const char *path, const char *text, size_t len, char *err,
                     size_t errsz);

/* Set one key by name ("section", "key", "value") as the file would; used by flags and tests. */
int config_set(struct config *cfg, const char *section, const char *key, const char *value,
               char *err, size_t errsz);

/* Fill in paths derived from data_dir when they were not set (single_node when neither lock nor
 * key was), and check cross-field rules. */
int config_finish(struct config *cfg, char *err, size_t errsz);

/* Write the effective configuration as INI. */
void config_dump(const struct config *cfg, struct buf *out);
/* One section (header and keys), or every section when only is NULL. */
void config_dump_section(const struct config *cfg, const char *only, struct buf *out);

/* The user a worker runs as ([supervisor] user_<name>, else user). */
const char *config_worker_user(const struct config *cfg, const char *worker);

#endif
