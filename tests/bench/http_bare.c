/*
 * http_bare: the neighbour of `scripts/bench http` — civetweb 1.15 facing clients itself, as
 * Aequa's API did before its connection front: a thread per connection, keep-alive, tcp_nodelay,
 * a 10 s request timeout, and /health answered with headers and body in one write.
 *
 *   http_bare PORT THREADS      (runs until SIGTERM or SIGINT)
 */
#include <civetweb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int on_health(struct mg_connection *c, void *cbdata)
{
    (void)cbdata;
    static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                "Content-Length: 3\r\n\r\nok\n";
    mg_write(c, reply, sizeof(reply) - 1);
    return 200;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: http_bare PORT THREADS\n");
        return 2;
    }
    char port[32];
    snprintf(port, sizeof(port), "127.0.0.1:%s", argv[1]);
    const char *opts[] = {
        "listening_ports",
        port,
        "num_threads",
        argv[2],
        "request_timeout_ms",
        "10000",
        "keep_alive_timeout_ms",
        "10000",
        "enable_keep_alive",
        "yes",
        "tcp_nodelay",
        "1",
        "connection_queue",
        "256",
        "listen_backlog",
        "256",
        NULL,
    };
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    mg_init_library(0);
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    struct mg_context *ctx = mg_start(&cb, NULL, opts);
    if (!ctx) {
        fprintf(stderr, "http_bare: cannot listen on %s\n", port);
        return 1;
    }
    mg_set_request_handler(ctx, "/health", on_health, NULL);
    printf("listening %s\n", port);
    fflush(stdout);
    while (!stop)
        sleep(1);
    mg_stop(ctx);
    mg_exit_library();
    return 0;
}
