#include "cli/aequactl.h"
#include "lib/crypto.h"
#include "lib/log.h"
#include "lib/util.h"

#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
    const char *usage;
};

static const struct command commands[] = {
    {"status", cmd_status, "status [--monitoring HOST:PORT]   print the node's worker table"},
    {"cluster", cmd_cluster,
     "cluster create --nodes N [--threshold T] --out DIR [--base-port P] [--hosts h1,...] "
     "[--name NAME]\n  aequactl cluster verify LOCK [--key FILE [--index I]]"},
    {"duty", cmd_duty,
     "duty verify --lock LOCK [FILE]   check a GET /v1/duty answer against the lock"},
    {"wal", cmd_wal,
     "wal dump (--data-dir DIR | --db PATH) [--hex]   print intents, duties, decided"},
    {"tx", cmd_tx,
     "tx key --out FILE   a new sender key; prints its address\n"
     "  aequactl tx sign --key FILE [--lock LOCK] --nonce N --gas G --fee F [--data HEX]\n"
     "  aequactl tx submit [--api HOST:PORT] [--wait [--timeout S]] (FILE | - | signing flags)\n"
     "  aequactl tx status [--api HOST:PORT] HASH"},
};

static void usage(void)
{
    fprintf(stderr, "usage: aequactl COMMAND [args]\n");
    for (size_t i = 0; i < ARRAY_LEN(commands); i++)
        fprintf(stderr, "  aequactl %s\n", commands[i].usage);
}

int main(int argc, char **argv)
{
    crypto_init();
    log_init("aequactl", 0);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("aequactl %s\n", AEQUA_VERSION);
        return 0;
    }
    for (size_t i = 0; i < ARRAY_LEN(commands); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "aequactl: unknown command '%s'\n", argv[1]);
    usage();
    return 2;
}
