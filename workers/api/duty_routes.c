/*
 * POST /v1/duty and GET /v1/duty/{type}/{height} (SPEC §7.6, §11.2).
 *
 * The request is validated here (duty_req.h: rows 2-7 of the table); QBFT, which owns the duty
 * lifecycle, answers rows 8-9 after persisting the duty in StateDB (proto/duty.h). A QBFT
 * worker that is down or restarting is "unavailable" (503), never a hang.
 */
#include "lib/log.h"
#include "lib/util.h"
#include "proto/block.h"
#include "proto/duty.h"
#include "proto/workers.h"
#include "workers/api/api.h"
#include "workers/api/duty_req.h"

#include <civetweb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUTY_IPC_TIMEOUT_MS 3000

/* Read the body, at most max + 1 bytes (one more than allowed tells "too large"). */
int api_read_body(struct mg_connection *c, const struct mg_request_info *ri, size_t max,
                  struct buf *out)
{
    if (ri->content_length > (long long)max)
        return -1;
    buf_reserve(out, ri->content_length > 0 ? (size_t)ri->content_length + 1 : 4096);
    for (;;) {
        if (out->len > max)
            return -1;
        buf_reserve(out, 65536);
        size_t room = out->cap - out->len - 1;
        if (room > max + 1 - out->len)
            room = max + 1 - out->len;
        int n = mg_read(c, out->data + out->len, room);
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        out->len += (size_t)n;
    }
}

void route_duty_post(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                     struct http_reply *out)
{
    struct buf body = BUF_INIT;
    struct duty_req req;
    if (strcmp(ri->request_method, "POST") != 0) {
        reply_text(out, 405, "method not allowed");
        return;
    }
    enum duty_req_result res;
    if (api_read_body(c, ri, DUTY_BODY_MAX, &body) < 0) {
        res = DUTY_REQ_READ_ERROR;
        memset(&req, 0, sizeof(req));
    } else {
        res = duty_req_parse(body.data, body.len, &req);
    }
    buf_free(&body);
    if (res != DUTY_REQ_OK) {
        const struct duty_req_outcome *o = duty_req_outcome(res);
        reply_text(out, o->http_status, o->body);
        out->detail = req.detail;
        duty_req_free(&req);
        return;
    }

    struct duty_submit sub = {.type = (uint8_t)req.type,
                              .height = req.height,
                              .round = req.round,
                              .payload = req.payload.data,
                              .payload_len = (uint32_t)req.payload.len};
    struct buf msg = BUF_INIT;
    duty_submit_encode(&msg, &sub);
    duty_req_free(&req);
    struct bridge_call call = {.dest = W_QBFT,
                               .type = DUTY_SUBMIT,
                               .reply_type = DUTY_SUBMIT_REP,
                               .body = msg.data,
                               .len = msg.len,
                               .timeout_ms = DUTY_IPC_TIMEOUT_MS};
    bridge_call_all(a->bridge, &call, 1);
    buf_free(&msg);
    enum duty_result r = DUTY_UNAVAILABLE;
    if (call.status == 0 && duty_result_decode(&r, call.reply.data, call.reply.len) < 0)
        r = DUTY_UNAVAILABLE;
    bridge_call_release(&call, 1);

    char id[DUTY_ID_MAX];
    duty_id_format((enum duty_type)sub.type, sub.height, id);
    switch (r) {
    case DUTY_ACCEPTED:
        out->status = 202;
        out->ctype = "application/json";
        buf_reset(&out->body);
        buf_printf(&out->body, "{\"id\":\"%s\",\"trace_id\":\"%s\"}\n", id, log_get_trace());
        snprintf(out->headers, sizeof(out->headers), "Location: %s%s\r\n", DUTY_PATH_PREFIX, id);
        break;
    case DUTY_CONFLICT:
        reply_text(out, 409, "duty conflict");
        break;
    case DUTY_TOO_FAR_AHEAD:
        reply_text(out, 409, "height too far ahead");
        break;
    case DUTY_TOO_OLD:
        reply_text(out, 409, "height too old");
        break;
    default:
        reply_text(out, 503, "unavailable");
        out->detail = call.status ? "qbft unreachable" : "qbft cannot accept now";
        break;
    }
}

static void put_hex(struct buf *b, const uint8_t *p, size_t n)
{
    char hex[2 * 64 + 1];
    while (n > 0) {
        size_t k = n > 64 ? 64 : n;
        hex_encode(hex, p, k);
        buf_append(b, hex, 2 * k);
        p += k;
        n -= k;
    }
}

/* The instance as JSON (SPEC §7.6); value is canonical JSON and is embedded as is, but for a
 * proposer duty, whose value is a block: that block's JSON (as GET /v1/block shows it). */
static void render_view(const struct api *a, struct buf *b, const struct duty_view *v)
{
    char id[DUTY_ID_MAX];
    duty_id_format((enum duty_type)v->type, v->height, id);
    buf_printf(b,
               "{\"id\":\"%s\",\"type\":\"%s\",\"height\":%llu,\"status\":\"%s\",\"round\":%llu,",
               id, duty_type_name(v->type), (unsigned long long)v->height,
               v->decided ? "decided" : "pending", (unsigned long long)v->round);
    buf_append_str(b, "\"value_hash\":");
    if (v->has_value) {
        buf_append_str(b, "\"");
        put_hex(b, v->value_hash, 32);
        buf_append_str(b, "\",\"value\":");
        if (v->type == DUTY_PROPOSER) {
            buf_append_str(b, "{");
            if (block_json_members(v->value, v->value_len, a->lock.hash, b) < 0)
                buf_append_str(b, "\"error\":\"not a block\"");
            buf_append_str(b, "}");
        } else {
            buf_append(b, v->value, v->value_len);
        }
    } else {
        buf_append_str(b, "null,\"value\":null");
    }
    buf_append_str(b, ",\"certificate\":");
    if (v->decided) {
        buf_append_str(b, "[");
        for (uint32_t i = 0; i < v->ncert; i++) {
            buf_printf(b, "%s{\"index\":%u,\"round\":%llu,\"sig\":\"", i ? "," : "",
                       v->cert[i].index, (unsigned long long)v->cert[i].round);
            put_hex(b, v->cert[i].sig, 64);
            buf_append_str(b, "\"}");
        }
        buf_append_str(b, "]");
    } else {
        buf_append_str(b, "null");
    }
    buf_append_str(b, ",\"seals\":");
    if (v->decided) {
        buf_append_str(b, "[");
        for (uint32_t i = 0; i < v->nseals; i++) {
            buf_printf(b, "%s{\"index\":%u,\"sig\":\"", i ? "," : "", v->seals[i].index);
            put_hex(b, v->seals[i].sig, 64);
            buf_append_str(b, "\"}");
        }
        buf_append_str(b, "]");
    } else {
        buf_append_str(b, "null");
    }
    buf_append_str(b, ",\"tss_signature\":");
    if (v->has_tss)
        tss_record_json(b, &v->tss);
    else
        buf_append_str(b, "null");
    buf_append_str(b, "}\n");
}

void route_duty_get(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                    struct http_reply *out)
{
    (void)c;
    enum duty_type type;
    uint64_t height;
    if (strcmp(ri->request_method, "GET") != 0) {
        reply_text(out, 405, "method not allowed");
        return;
    }
    if (duty_path_parse(ri->local_uri, &type, &height) < 0) {
        reply_text(out, 404, "not found");
        return;
    }
    struct duty_key k = {.type = (uint8_t)type, .height = height};
    struct buf msg = BUF_INIT;
    duty_key_encode(&msg, &k);
    struct bridge_call call = {.dest = W_QBFT,
                               .type = DUTY_GET,
                               .reply_type = DUTY_GET_REP,
                               .body = msg.data,
                               .len = msg.len,
                               .timeout_ms = DUTY_IPC_TIMEOUT_MS};
    bridge_call_all(a->bridge, &call, 1);
    buf_free(&msg);
    struct duty_view *v = xcalloc(1, sizeof(*v));
    if (call.status != 0 || duty_view_decode(v, call.reply.data, call.reply.len) < 0) {
        reply_text(out, 503, "unavailable");
    } else if (v->result == DUTY_NOT_FOUND || v->type != type || v->height != height) {
        reply_text(out, 404, "not found");
    } else {
        out->status = 200;
        out->ctype = "application/json";
        buf_reset(&out->body);
        render_view(a, &out->body, v);
    }
    free(v);
    bridge_call_release(&call, 1);
}
