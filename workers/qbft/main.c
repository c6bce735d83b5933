/* aequa-qbft: runs the worker lifecycle only; consensus is not wired yet (engine: issue 4, duties:
 * issue 6). */
#include "proto/workers.h"
#include "workers/common/idle.h"

int main(int argc, char **argv)
{
    return worker_idle_main(argc, argv, "qbft", W_QBFT,
                            "consensus is not wired yet (engine: issue 4, duties: issue 6)");
}
