/*
 * idle: the whole main of a worker whose domain work has not been built yet. It runs the common
 * lifecycle (HELLO, READY, HEARTBEAT, metrics, SIGTERM) and says in its log what it does not do.
 */
#ifndef AEQUA_WORKERS_IDLE_H
#define AEQUA_WORKERS_IDLE_H

int worker_idle_main(int argc, char **argv, const char *name, unsigned id, const char *not_yet);

#endif
