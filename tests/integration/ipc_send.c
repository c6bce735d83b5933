/*
 * ipc_send: a test tool that speaks the IPC protocol as any worker would, so integration tests
 * can check how the supervisor treats messages it must not trust.
 *
 *   ipc_send RUNTIME_DIR SOURCE DEST beat GENERATION COUNT INTERVAL_MS
 *       sends COUNT HEARTBEATs claiming SOURCE and GENERATION, one every INTERVAL_MS
 *   ipc_send RUNTIME_DIR SOURCE DEST garbage COUNT
 *       sends COUNT envelopes whose bodies do not decode
 */
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/supplemental/util/platform.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "proto/control.h"
#include "proto/envelope.h"
#include "proto/workers.h"

static nng_socket sock;

static void send_raw(int src, uint16_t type, const void *body, size_t len)
{
    struct buf b = BUF_INIT;
    nng_msg *m;
    envelope_encode(&b, type, 0, (uint8_t)src, 0, "ipc-send", body, len);
    if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, b.data, b.len) != 0 ||
        nng_sendmsg(sock, m, 0) != 0)
        fprintf(stderr, "ipc_send: send failed\n");
    buf_free(&b);
}

int main(int argc, char **argv)
{
    char url[256];
    if (argc < 6) {
        fprintf(stderr, "usage: see the header of ipc_send.c\n");
        return 2;
    }
    int src = worker_id(argv[2]), dst = worker_id(argv[3]);
    if (src < 0 || dst < 0) {
        fprintf(stderr, "unknown worker name\n");
        return 2;
    }
    snprintf(url, sizeof(url), "ipc://%s/%s.ipc", argv[1], argv[3]);
    if (nng_push0_open(&sock) != 0 || nng_dial(sock, url, NULL, 0) != 0) {
        fprintf(stderr, "ipc_send: cannot dial %s\n", url);
        return 1;
    }
    struct buf b = BUF_INIT;
    if (!strcmp(argv[4], "beat") && argc == 8) {
        struct ctl_beat beat = {.generation = strtoull(argv[5], NULL, 10)};
        ctl_beat_encode(&b, &beat);
        int n = atoi(argv[6]), every = atoi(argv[7]);
        for (int i = 0; i < n; i++) {
            send_raw(src, CTL_HEARTBEAT, b.data, b.len);
            nng_msleep(every);
        }
    } else if (!strcmp(argv[4], "garbage")) {
        int n = atoi(argv[5]);
        for (int i = 0; i < n; i++)
            send_raw(src, CTL_HEARTBEAT, "\xc1\xc1\xc1", 3);
        nng_msleep(200); /* let the queue drain before the socket closes */
    } else {
        fprintf(stderr, "ipc_send: unknown command %s\n", argv[4]);
        return 2;
    }
    buf_free(&b);
    nng_close(sock);
    return 0;
}
