/*
 * The worker table: every worker of a node as one row (SPEC §3.1). Spawn, readiness, status,
 * reload, shutdown and metrics loop over it; nothing is special-cased by name.
 *
 * Order is dependency order: workers start top to bottom and stop bottom to top (API first,
 * StateDB last), so nothing is left writing to a store that is already gone.
 */
#include "supervisor/supervisor.h"
#include "lib/util.h"
#include "proto/workers.h"

static const char *const statedb_sections[] = {"statedb", NULL};
static const char *const builder_sections[] = {"builder", NULL};
static const char *const qbft_sections[] = {"qbft", NULL};
static const char *const p2p_sections[] = {"p2p", NULL};
static const char *const api_sections[] = {"api", "monitoring", NULL};

const struct worker_def worker_table[] = {
    /* name, id, binary, required for ready, config sections that restart it on reload */
    {"statedb", W_STATEDB, "aequa-statedb", true, statedb_sections},
    {"builder", W_BUILDER, "aequa-builder", true, builder_sections},
    {"qbft", W_QBFT, "aequa-qbft", true, qbft_sections},
    {"p2p", W_P2P, "aequa-p2p", true, p2p_sections},
    {"api", W_API, "aequa-api", true, api_sections},
};

const size_t worker_table_len = ARRAY_LEN(worker_table);

/* Sections every worker reads: a change restarts all of them. */
const char *const node_wide_sections[] = {"node", "supervisor", "tss", NULL};
