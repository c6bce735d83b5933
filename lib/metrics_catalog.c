/*
 * The metric catalogue: every family Aequa exports (SPEC §12.2). Adding a metric is adding a row.
 * Names and labels are stable: dashboards and alerts depend on them.
 */
#include "lib/metrics.h"
#include "lib/util.h"

#include <string.h>

static const double seconds_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                         0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                         1,      2.5,     5,      10,    30};
static const double batch_buckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
static const double round_buckets[] = {1, 2, 3, 4, 5, 6, 8, 10, 15, 20};

#define C(n, h, ...)                                                                               \
    {                                                                                              \
        n, METRIC_COUNTER, h, {__VA_ARGS__}, NULL, 0                                               \
    }
#define G(n, h, ...)                                                                               \
    {                                                                                              \
        n, METRIC_GAUGE, h, {__VA_ARGS__}, NULL, 0                                                 \
    }
#define H(n, b, h, ...)                                                                            \
    {                                                                                              \
        n, METRIC_HISTOGRAM, h, {__VA_ARGS__}, b, ARRAY_LEN(b)                                     \
    }
#define SECS seconds_buckets

const struct metric_def metric_catalog[] = {
    /* supervisor */
    G("dvt_up", "1 while the node's supervisor runs.", NULL),
    G("aequa_worker_up", "1 when the worker is running and READY.", "worker", NULL),
    C("aequa_worker_restarts_total", "Worker restarts by cause.", "worker", "reason", NULL),
    G("aequa_build_info", "Build information; always 1.", "version", NULL),
    /* API */
    C("api_requests_total", "HTTP requests answered, by route and status code.", "route", "code",
      NULL),
    H("api_latency_seconds", SECS, "HTTP request latency.", "route", NULL),
    G("api_connections_open", "Client connections held by an HTTP listener.", "listener", NULL),
    C("api_connections_rejected_total",
      "Client connections refused (caps) or cut (deadlines) by an HTTP listener, by reason.",
      "listener", "reason", NULL),
    H("service_op_seconds", SECS, "Duration of service start and stop operations.", "service", "op",
      NULL),
    /* consensus */
    C("consensus_events_total", "Duties and consensus messages processed.", "kind", NULL),
    H("consensus_proc_seconds", SECS, "Processing time of duties and consensus messages.", "kind",
      NULL),
    C("qbft_msg_total", "QBFT messages emitted, by type.", "type", NULL),
    C("qbft_msg_verified_total", "QBFT messages received, by type and verification result.", "type",
      "result", NULL),
    C("qbft_state_transitions_total", "QBFT instance state transitions.", "type", NULL),
    C("qbft_qc_built_total", "Quorum certificates built.", "kind", NULL),
    C("qbft_view_changes_total", "Round changes (view changes) entered.", NULL),
    C("qbft_timeouts_total", "Round timer expiries, by phase.", "phase", NULL),
    C("qbft_decided_total", "Instances decided, by duty type.", "duty", NULL),
    H("qbft_decide_seconds", SECS, "Time from instance start to decision.", "duty", NULL),
    H("qbft_decided_round", round_buckets, "Round in which instances decided.", NULL),
    C("qbft_wal_appends_total", "Vote intents appended to the WAL, by message type.", "type", NULL),
    C("qbft_wal_recover_total", "Instances rebuilt from the WAL at start, by result.", "result",
      NULL),
    C("qbft_wal_guard_drops_total", "Emissions replaced by an existing intent (never re-signed).",
      NULL),
    C("qbft_abstain_total", "Votes withheld, by reason.", "reason", NULL),
    C("qbft_equivocations_total", "Equivocating messages received from peers.", NULL),
    C("consensus_broadcast_total", "Consensus broadcasts, by message type and result.", "type",
      "result", NULL),
    /* StateDB */
    H("state_persist_seconds", SECS, "Duration of one synced group commit.", NULL),
    C("state_persist_errors_total", "Failed database writes.", NULL),
    C("state_recovery_total", "Database opens by recovery result.", "result", NULL),
    H("statedb_batch_size", batch_buckets, "Requests served by one group commit.", NULL),
    /* signing, builder */
    C("block_sign_total", "Seals and threshold signatures produced, by result.", "result", NULL),
    C("mempool_in_total", "Transactions offered to the mempool, by result and source.", "result",
      "source", NULL),
    G("mempool_size", "Transactions in the mempool, by state.", "state", NULL),
    G("chain_height", "Height of the chain's last applied block.", NULL),
    H("block_build_seconds", SECS, "Duration of building this node's block for a slot.", NULL),
    C("sync_blocks_total", "Blocks fetched from peers while catching up, by result.", "result",
      NULL),
    C("builder_selected_total", "Transactions selected into blocks, by type.", "type", NULL),
    C("builder_reject_total", "Transactions or proposals rejected by the builder.", "type",
      "reason", NULL),
    /* P2P */
    C("p2p_conn_attempts_total",
      "Connection and message gate decisions, by result: allowed, denied, limited, dkg_denied, "
      "rate_limited, scored_out, handshake_failed (an incoming handshake that failed or was "
      "abandoned).",
      "result", NULL),
    C("p2p_conn_open_total", "Authenticated links opened.", NULL),
    C("p2p_conn_close_total", "Links closed.", NULL),
    G("p2p_conns_open", "Authenticated links currently open.", NULL),
    C("p2p_peers_joined_total", "Peers that joined (link established).", NULL),
    C("p2p_peers_left_total", "Peers that left (link lost).", NULL),
    C("p2p_msgs_total", "P2P messages by topic, direction and result.", "topic", "direction",
      "result", NULL),
    C("p2p_bytes_total", "P2P bytes on the wire by topic and direction.", "topic", "direction",
      NULL),
    G("p2p_peer_score", "Current gate score of each peer.", "peer", NULL),
    /* TSS */
    C("tss_sessions_total", "Threshold signing sessions, by result.", "result", NULL),
    H("tss_round_seconds", SECS, "Duration of threshold signing rounds.", "round", NULL),
    G("tss_sessions_open", "Threshold signing sessions in progress.", NULL),
};

const size_t metric_catalog_len = ARRAY_LEN(metric_catalog);

int metric_catalog_find(const char *name)
{
    for (size_t i = 0; i < metric_catalog_len; i++)
        if (strcmp(metric_catalog[i].name, name) == 0)
            return (int)i;
    return -1;
}
