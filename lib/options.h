/*
 * options: the command line shared by aequa-supervisor and every worker binary (SPEC §2), and
 * the one place that turns flags + file (or the embedded default) into a struct config.
 *
 * Flags override the file. Without --config and without /etc/aequa/aequa.conf the node runs its
 * embedded single-node default with data under ./aequa-data (made absolute here, so a worker
 * spawned with the forwarded flags sees the same paths).
 */
#ifndef AEQUA_OPTIONS_H
#define AEQUA_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/config.h"

#define OPT_MAX_EXTERNAL 8

struct options {
    const char *config_path;
    const char *data_dir;
    const char *runtime_dir;
    const char *validator_api;
    const char *monitoring;
    const char *upstream;
    bool enable_tss;
    bool foreground;
    bool check_config;
    bool version;
    bool help;
    int verbose;
    const char *external[OPT_MAX_EXTERNAL];
    int nexternal;
    const char *debug_worker;
    uint64_t generation;
};

/* Parse argv. Returns 0, or -1 with a message (usage error: exit 78). */
int options_parse(struct options *o, int argc, char **argv, char *err, size_t errsz);

/* defaults -> file or embedded default -> flags -> derived fields. */
int options_load_config(const struct options *o, struct config *cfg, char *err, size_t errsz);

/* Append the flags a worker needs to see the same configuration to argv (NULL-terminated,
 * strings owned by o or static). Returns the new argc. */
int options_forward(const struct options *o, const char **argv, int argc, int max);

void options_usage(const char *prog, bool supervisor);

#endif
