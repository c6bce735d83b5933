/* aequa-p2p: runs the worker lifecycle only; links to other nodes are not built yet (issue 5). */
#include "proto/workers.h"
#include "workers/common/idle.h"

int main(int argc, char **argv)
{
    return worker_idle_main(argc, argv, "p2p", W_P2P,
                            "links to other nodes are not built yet (issue 5)");
}
