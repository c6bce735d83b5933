#include "proto/workers.h"

#include <string.h>

static const char *const names[W_COUNT] = {
    [W_SUPERVISOR] = "supervisor", [W_API] = "api",         [W_P2P] = "p2p", [W_QBFT] = "qbft",
    [W_STATEDB] = "statedb",       [W_BUILDER] = "builder",
};

const char *worker_name(unsigned id)
{
    if (id < W_COUNT)
        return names[id];
    if (id == W_TOOL)
        return "tool";
    return NULL;
}

int worker_id(const char *name)
{
    for (unsigned i = 0; i < W_COUNT; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}
