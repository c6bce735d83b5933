/* aequactl wal dump: print a node's vote intents, accepted duties and decided instances from its
 * database, read-only (works on a stopped node, or beside the running StateDB worker). */
#include "cli/aequactl.h"
#include "lib/db/dump.h"

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: aequactl wal dump (--data-dir DIR | --db PATH) [--hex]\n");
    return 2;
}

int cmd_wal(int argc, char **argv)
{
    const char *data_dir = NULL, *db = NULL;
    bool hex = false;
    static const struct option opts[] = {
        {"data-dir", required_argument, NULL, 'd'},
        {"db", required_argument, NULL, 'b'},
        {"hex", no_argument, NULL, 'x'},
        {NULL, 0, NULL, 0},
    };
    if (argc < 2 || strcmp(argv[1], "dump"))
        return usage();
    int c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
        if (c == 'd')
            data_dir = optarg;
        else if (c == 'b')
            db = optarg;
        else if (c == 'x')
            hex = true;
        else
            return usage();
    }
    if (optind != argc - 1 || (!data_dir == !db))
        return usage();
    char path[PATH_MAX], dbdir[PATH_MAX];
    if (db)
        snprintf(path, sizeof(path), "%s", db);
    else if (snprintf(dbdir, sizeof(dbdir), "%s/db", data_dir) >= (int)sizeof(dbdir) ||
             db_path(dbdir, path, sizeof(path)) < 0) {
        fprintf(stderr, "aequactl wal dump: data dir path too long\n");
        return 2;
    }
    struct db_reader *r;
    char err[2048];
    if (db_reader_open(&r, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "aequactl wal dump: %s\n", err);
        return 1;
    }
    int rc = db_dump(r, stdout, hex, err, sizeof(err));
    db_reader_close(r);
    if (rc < 0) {
        fprintf(stderr, "aequactl wal dump: %s\n", err);
        return 1;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
