/* aequa-statedb: runs the worker lifecycle only; RocksDB storage is not wired yet (issue 3). */
#include "proto/workers.h"
#include "workers/common/idle.h"

int main(int argc, char **argv)
{
    return worker_idle_main(argc, argv, "statedb", W_STATEDB,
                            "RocksDB storage is not wired yet (issue 3)");
}
