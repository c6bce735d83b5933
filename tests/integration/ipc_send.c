/*
 * ipc_send: a test tool that speaks the IPC protocol as any worker would, so integration tests
 * can check how the node treats messages it must not trust. The envelopes declare SOURCE as
 * their sender, whatever this process is.
 *
 *   ipc_send RUNTIME_DIR SOURCE DEST beat GENERATION COUNT INTERVAL_MS
 *       sends COUNT HEARTBEATs claiming SOURCE and GENERATION, one every INTERVAL_MS
 *   ipc_send RUNTIME_DIR SOURCE DEST garbage COUNT
 *       sends COUNT envelopes whose bodies do not decode
 *   ipc_send RUNTIME_DIR SOURCE statedb request get_duty|put_duty
 *       sends one StateDB request (GET_DUTY attester/1, or PUT_DUTY attester/999999). When
 *       SOURCE is "tool" it listens on the tool's mailbox for the reply and prints
 *       "reply TYPE status S" (exit 0) or "no reply" (exit 1); otherwise the reply would go to
 *       the worker it claims to be, and it only sends.
 */
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/supplemental/util/platform.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "proto/control.h"
#include "proto/envelope.h"
#include "proto/statedb.h"
#include "proto/workers.h"

#define REQ_ID     0x5eed
#define REPLY_WAIT 5000 /* ms */

static nng_socket sock;

static void send_raw(int src, uint16_t type, uint64_t req_id, const void *body, size_t len)
{
    struct buf b = BUF_INIT;
    nng_msg *m;
    envelope_encode(&b, type, 0, (uint8_t)src, req_id, "ipc-send", body, len);
    if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, b.data, b.len) != 0 ||
        nng_sendmsg(sock, m, 0) != 0)
        fprintf(stderr, "ipc_send: send failed\n");
    buf_free(&b);
}

/* One StateDB request; with a tool's mailbox to listen on, wait for its reply. */
static int statedb_request(const char *rtdir, int src, const char *what)
{
    struct sdb_req r = {.type = SDB_GET_DUTY, .u.get = {DUTY_ATTESTER, 1}};
    static const uint8_t payload[] = "{}";
    char url[256];
    nng_socket pull;
    if (!strcmp(what, "put_duty")) {
        r.type = SDB_PUT_DUTY;
        r.u.put_duty = (struct sdb_duty){DUTY_ATTESTER, 999999, {payload, 2}, "", 1};
    } else if (strcmp(what, "get_duty")) {
        fprintf(stderr, "ipc_send: unknown request %s\n", what);
        return 2;
    }
    snprintf(url, sizeof(url), "ipc://%s/tool.ipc", rtdir);
    nng_listener l;
    /* Workers that dropped privileges must be able to connect (as to every mailbox). */
    if (src == W_TOOL && (nng_pull0_open(&pull) != 0 || nng_listener_create(&l, pull, url) != 0 ||
                          nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0666) != 0 ||
                          nng_listener_start(l, 0) != 0)) {
        fprintf(stderr, "ipc_send: cannot listen on %s\n", url);
        return 1;
    }
    struct buf b = BUF_INIT;
    sdb_req_encode(&b, &r);
    send_raw(src, r.type, REQ_ID, b.data, b.len);
    buf_free(&b);
    if (src != W_TOOL) {
        nng_msleep(200); /* let the queue drain before the socket closes */
        return 0;
    }
    nng_socket_set_ms(pull, NNG_OPT_RECVTIMEO, REPLY_WAIT);
    nng_msg *m;
    while (nng_recvmsg(pull, &m, 0) == 0) {
        const uint8_t *p = nng_msg_body(m);
        size_t left = nng_msg_len(m);
        struct envelope e;
        while (envelope_next(&e, &p, &left) == 1) {
            struct sdb_reply rep;
            if (!(e.flags & ENVELOPE_FLAG_REPLY) || e.req_id != REQ_ID ||
                sdb_reply_decode(&rep, e.type, e.body, e.body_len) < 0)
                continue;
            printf("reply 0x%04x status %u\n", e.type, rep.status);
            sdb_reply_free(&rep);
            return 0;
        }
        nng_msg_free(m);
    }
    printf("no reply\n");
    return 1;
}

int main(int argc, char **argv)
{
    char url[256];
    if (argc < 6) {
        fprintf(stderr, "usage: see the header of ipc_send.c\n");
        return 2;
    }
    int src = strcmp(argv[2], "tool") ? worker_id(argv[2]) : W_TOOL, dst = worker_id(argv[3]);
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
            send_raw(src, CTL_HEARTBEAT, 0, b.data, b.len);
            nng_msleep(every);
        }
    } else if (!strcmp(argv[4], "garbage")) {
        int n = atoi(argv[5]);
        for (int i = 0; i < n; i++)
            send_raw(src, CTL_HEARTBEAT, 0, "\xc1\xc1\xc1", 3);
        nng_msleep(200); /* let the queue drain before the socket closes */
    } else if (!strcmp(argv[4], "request") && dst == W_STATEDB) {
        return statedb_request(argv[1], src, argv[5]);
    } else {
        fprintf(stderr, "ipc_send: unknown command %s\n", argv[4]);
        return 2;
    }
    buf_free(&b);
    nng_close(sock);
    return 0;
}
