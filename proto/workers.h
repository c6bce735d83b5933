/*
 * workers: the processes of one node and their stable ids (used as the envelope's source).
 * The supervisor's worker table (supervisor/table.c) describes how each is run.
 */
#ifndef AEQUA_PROTO_WORKERS_H
#define AEQUA_PROTO_WORKERS_H

#include <stdint.h>

enum worker_id {
    W_SUPERVISOR = 0,
    W_API = 1,
    W_P2P = 2,
    W_QBFT = 3,
    W_STATEDB = 4,
    W_BUILDER = 5,
    W_COUNT,
    W_TOOL = 15, /* aequactl and tests talking to a mailbox directly */
};

#define WBIT(id) (1u << (id))
#define W_ANY    0xffffu

/*
 * What the test tool may write — StateDB appends and puts, duty submissions: the dispatch rows
 * of those writes name TOOL_WRITES. Only a test build (meson -Dtest_tools=true, which
 * scripts/test configures; AEQUA_TEST_TOOLS is defined for the workers that take tool writes)
 * lets them through; in a product build a tool's write is a protocol violation. The tool may
 * read in every build.
 */
#ifdef AEQUA_TEST_TOOLS
#define TOOL_WRITES WBIT(W_TOOL)
#else
#define TOOL_WRITES 0u
#endif

/* "supervisor", "api", ... ; NULL for an unknown id. */
const char *worker_name(unsigned id);
/* -1 for an unknown name. */
int worker_id(const char *name);

#endif
