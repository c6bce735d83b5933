#include "lib/options.h"
#include "lib/util.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    OPT_CONFIG = 256,
    OPT_DATA_DIR,
    OPT_RUNTIME_DIR,
    OPT_VALIDATOR_API,
    OPT_MONITORING,
    OPT_UPSTREAM,
    OPT_ENABLE_TSS,
    OPT_EXTERNAL,
    OPT_DEBUG_WORKER,
    OPT_GENERATION,
    OPT_VERSION,
};

static const struct option long_opts[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR},
    {"validator-api", required_argument, NULL, OPT_VALIDATOR_API},
    {"monitoring", required_argument, NULL, OPT_MONITORING},
    {"upstream", required_argument, NULL, OPT_UPSTREAM},
    {"enable-tss", no_argument, NULL, OPT_ENABLE_TSS},
    {"foreground", no_argument, NULL, 'd'},
    {"check-config", no_argument, NULL, 'n'},
    {"verbose", no_argument, NULL, 'v'},
    {"external", required_argument, NULL, OPT_EXTERNAL},
    {"debug-worker", required_argument, NULL, OPT_DEBUG_WORKER},
    {"generation", required_argument, NULL, OPT_GENERATION},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int options_parse(struct options *o, int argc, char **argv, char *err, size_t errsz)
{
    memset(o, 0, sizeof(*o));
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":dnvh", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_CONFIG:
            o->config_path = optarg;
            break;
        case OPT_DATA_DIR:
            o->data_dir = optarg;
            break;
        case OPT_RUNTIME_DIR:
            o->runtime_dir = optarg;
            break;
        case OPT_VALIDATOR_API:
            o->validator_api = optarg;
            break;
        case OPT_MONITORING:
            o->monitoring = optarg;
            break;
        case OPT_UPSTREAM:
            o->upstream = optarg;
            break;
        case OPT_ENABLE_TSS:
            o->enable_tss = true;
            break;
        case 'd':
            o->foreground = true;
            break;
        case 'n':
            o->check_config = true;
            break;
        case 'v':
            o->verbose++;
            break;
        case OPT_EXTERNAL:
            if (o->nexternal == OPT_MAX_EXTERNAL) {
                snprintf(err, errsz, "--external: too many workers");
                return -1;
            }
            o->external[o->nexternal++] = optarg;
            break;
        case OPT_DEBUG_WORKER:
            o->debug_worker = optarg;
            break;
        case OPT_GENERATION:
            if (parse_u64(optarg, UINT32_MAX, &o->generation) < 0) {
                snprintf(err, errsz, "--generation: expected a number, got '%s'", optarg);
                return -1;
            }
            break;
        case OPT_VERSION:
            o->version = true;
            break;
        case 'h':
            o->help = true;
            break;
        case ':':
            snprintf(err, errsz, "option %s needs an argument", argv[optind - 1]);
            return -1;
        default:
            snprintf(err, errsz, "unknown option %s", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        snprintf(err, errsz, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    return 0;
}

static int absolute(const char *in, char *out, size_t outsz)
{
    if (in[0] == '/') {
        if (strlen(in) >= outsz)
            return -1;
        memcpy(out, in, strlen(in) + 1);
        return 0;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        return -1;
    if (snprintf(out, outsz, "%s/%s", cwd, in) >= (int)outsz)
        return -1;
    return 0;
}

int options_load_config(const struct options *o, struct config *cfg, char *err, size_t errsz)
{
    config_defaults(cfg);
    const char *path = o->config_path;
    if (!path && access(DEFAULT_CONFIG_PATH, F_OK) == 0)
        path = DEFAULT_CONFIG_PATH;
    if (path) {
        if (config_load_file(cfg, path, err, errsz) < 0)
            return -1;
    } else {
        /* Embedded single-node default (SPEC §2). */
        cfg->embedded = true;
        if (absolute("aequa-data", cfg->data_dir, sizeof(cfg->data_dir)) < 0 ||
            snprintf(cfg->runtime_dir, sizeof(cfg->runtime_dir), "%s/run", cfg->data_dir) >=
                (int)sizeof(cfg->runtime_dir)) {
            snprintf(err, errsz, "embedded default: working directory path too long");
            return -1;
        }
    }

    struct {
        const char *val, *section, *key;
    } flags[] = {
        {o->validator_api, "api", "listen"},
        {o->monitoring, "monitoring", "listen"},
        {o->upstream, "api", "upstream"},
        {o->enable_tss ? "true" : NULL, "tss", "enabled"},
    };
    char why[300];
    for (size_t i = 0; i < ARRAY_LEN(flags); i++) {
        if (flags[i].val &&
            config_set(cfg, flags[i].section, flags[i].key, flags[i].val, why, sizeof(why)) < 0) {
            snprintf(err, errsz, "command line: %s", why);
            return -1;
        }
    }
    if (o->data_dir) {
        if (absolute(o->data_dir, cfg->data_dir, sizeof(cfg->data_dir)) < 0) {
            snprintf(err, errsz, "--data-dir: path too long");
            return -1;
        }
        if (cfg->embedded && !o->runtime_dir)
            snprintf(cfg->runtime_dir, sizeof(cfg->runtime_dir), "%.1000s/run", cfg->data_dir);
    }
    if (o->runtime_dir &&
        absolute(o->runtime_dir, cfg->runtime_dir, sizeof(cfg->runtime_dir)) < 0) {
        snprintf(err, errsz, "--runtime-dir: path too long");
        return -1;
    }
    return config_finish(cfg, err, errsz);
}

int options_forward(const struct options *o, const char **argv, int argc, int max)
{
    struct {
        const char *flag, *val;
    } fw[] = {
        {"--config", o->config_path},      {"--data-dir", o->data_dir},
        {"--runtime-dir", o->runtime_dir}, {"--validator-api", o->validator_api},
        {"--monitoring", o->monitoring},   {"--upstream", o->upstream},
    };
    for (size_t i = 0; i < ARRAY_LEN(fw); i++) {
        if (fw[i].val && argc + 2 < max) {
            argv[argc++] = fw[i].flag;
            argv[argc++] = fw[i].val;
        }
    }
    if (o->enable_tss && argc + 1 < max)
        argv[argc++] = "--enable-tss";
    for (int i = 0; i < o->verbose && argc + 1 < max; i++)
        argv[argc++] = "-v";
    argv[argc] = NULL;
    return argc;
}

void options_usage(const char *prog, bool supervisor)
{
    fprintf(stderr,
            "usage: %s [options]\n"
            "  --config PATH          INI configuration (default " DEFAULT_CONFIG_PATH
            "; none: embedded single-node default)\n"
            "  --data-dir DIR         data directory\n"
            "  --runtime-dir DIR      runtime directory (IPC sockets)\n"
            "  --validator-api H:P    validator API listen address (default 127.0.0.1:4600)\n"
            "  --monitoring H:P       monitoring listen address (default 127.0.0.1:4620)\n"
            "  --upstream URL         reverse-proxy the API paths the node does not serve to URL\n"
            "                         (http://HOST[:PORT][/PATH])\n"
            "  --enable-tss           enable threshold signing\n"
            "  -d, --foreground       stay in the foreground (the default; for systemd)\n"
            "  -v, --verbose          debug logging (repeatable)\n"
            "  --version, --help\n",
            prog);
    if (supervisor)
        fprintf(stderr,
                "  -n, --check-config     validate config and cluster lock, print the effective "
                "config, exit\n"
                "  --external NAME        do not spawn worker NAME; it is started by hand\n"
                "  --debug-worker NAME    spawn worker NAME under $AEQUA_DEBUGGER\n");
    else
        fprintf(stderr, "  --generation N         spawn generation (set by the supervisor)\n");
}
