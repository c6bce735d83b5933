#include "workers/common/idle.h"
#include "workers/common/worker.h"

static int idle_init(struct worker *w)
{
    worker_ready(w);
    return 0;
}

int worker_idle_main(int argc, char **argv, const char *name, unsigned id, const char *not_yet)
{
    static struct worker_ops ops;
    ops.name = name;
    ops.id = id;
    ops.does_not_yet = not_yet;
    ops.init = idle_init;
    return worker_main(argc, argv, &ops, NULL);
}
