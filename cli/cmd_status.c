/* aequactl status: fetch /status from the monitoring endpoint and print the worker table. */
#include "cli/aequactl.h"
#include "lib/httpc.h"

#include <getopt.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char *str_or(json_t *o, const char *k, const char *def)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : def;
}

int cmd_status(int argc, char **argv)
{
    const char *mon = "127.0.0.1:4620";
    bool json = false;
    static const struct option opts[] = {
        {"monitoring", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'm')
            mon = optarg;
        else if (c == 'j')
            json = true;
        else {
            fprintf(stderr, "usage: aequactl status [--monitoring HOST:PORT] [--json]\n");
            return 2;
        }
    }
    struct http_response r;
    char err[256];
    if (http_request(mon, "GET", "/status", NULL, NULL, 0, 5000, &r, err, sizeof(err)) < 0) {
        fprintf(stderr, "aequactl status: %s: %s\n", mon, err);
        return 1;
    }
    if (r.status != 200) {
        fprintf(stderr, "aequactl status: %s answered %d\n", mon, r.status);
        http_response_free(&r);
        return 1;
    }
    if (json) {
        fwrite(r.body.data, 1, r.body.len, stdout);
        http_response_free(&r);
        return 0;
    }
    json_error_t jerr;
    json_t *root = json_loadb((const char *)r.body.data, r.body.len, 0, &jerr);
    http_response_free(&r);
    if (!root) {
        fprintf(stderr, "aequactl status: invalid JSON: %s\n", jerr.text);
        return 1;
    }
    json_t *node = json_object_get(root, "node");
    printf("node %lld  version %s  cluster %s  peer %s\n",
           (long long)json_integer_value(json_object_get(node, "index")),
           str_or(node, "version", "?"), str_or(node, "cluster", "-"),
           str_or(node, "peer_id", "-"));
    printf("%-10s %-9s %8s %5s %8s %10s  %s\n", "WORKER", "STATE", "PID", "GEN", "RESTARTS",
           "UPTIME_S", "LAST_EXIT");
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(root, "workers"), i, w)
    {
        printf("%-10s %-9s %8lld %5lld %8lld %10.1f  %s\n", str_or(w, "name", "?"),
               str_or(w, "state", "?"), (long long)json_integer_value(json_object_get(w, "pid")),
               (long long)json_integer_value(json_object_get(w, "generation")),
               (long long)json_integer_value(json_object_get(w, "restarts")),
               json_number_value(json_object_get(w, "uptime_s")), str_or(w, "last_exit", "-"));
    }
    json_decref(root);
    return 0;
}
