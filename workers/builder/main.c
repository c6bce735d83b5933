/* aequa-builder: runs the worker lifecycle only; mempool, plaintext_v1 plugin and block building
 * are not built yet. */
#include "proto/workers.h"
#include "workers/common/idle.h"

int main(int argc, char **argv)
{
    return worker_idle_main(argc, argv, "builder", W_BUILDER,
                            "mempool, plaintext_v1 plugin and block building are not built yet");
}
