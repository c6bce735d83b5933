/*
 * The sequencer's routes (SPEC §9, §11.1): POST /v1/tx/plain, GET /v1/tx/{hash},
 * GET /v1/block/{height} and GET /v1/block/latest, and a proposer duty's value shown as its block.
 *
 * A transaction's JSON is checked strictly here (proto/tx.h: shape, bounds, hex, size) and goes
 * to the builder in its canonical bytes; the builder checks the signature (once per node),
 * admits it and answers only once it is durable. Reads go through the builder, which reads the
 * chain from StateDB (the network-facing API never talks to the database worker). A builder that
 * is down or restarting is "unavailable" (503), never a hang.
 *
 * Answers: 202 {"hash","status"}; 400 "invalid json" / "invalid tx" / "bad signature"; 409 "old"
 * / "dup" / "underpriced"; 413 "tx too large"; 503 "pool full" (Retry-After) or "unavailable".
 */
#include "lib/log.h"
#include "lib/util.h"
#include "proto/block.h"
#include "proto/builder.h"
#include "proto/qbft.h"
#include "proto/statedb.h"
#include "proto/tss.h"
#include "proto/tx.h"
#include "proto/workers.h"
#include "workers/api/api.h"

#include <civetweb.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUILDER_IPC_TIMEOUT_MS 3000

static bool method_is(const struct mg_request_info *ri, const char *m)
{
    return strcmp(ri->request_method, m) == 0;
}

static void reply_json_buf(struct http_reply *out, int status, struct buf *json)
{
    out->status = status;
    out->ctype = "application/json";
    buf_reset(&out->body);
    buf_append(&out->body, json->data, json->len);
    buf_append_str(&out->body, "\n");
}

/* One request to the builder; 0 with the reply body in c->reply (release it), or -1. */
static int ask_builder(struct api *a, struct bridge_call *c, uint16_t type, uint16_t reply_type,
                       const struct buf *body)
{
    *c = (struct bridge_call){.dest = W_BUILDER,
                              .type = type,
                              .reply_type = reply_type,
                              .body = body->data,
                              .len = body->len,
                              .timeout_ms = BUILDER_IPC_TIMEOUT_MS};
    bridge_call_all(a->bridge, c, 1);
    return c->status == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- POST /v1/tx/plain */

static const char *const submit_status[] = {
    [BLD_TX_OK] = "pending",
    [BLD_TX_FUTURE] = "queued",
    [BLD_TX_REPLACED] = "replaced",
};

void route_tx_post(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                   struct http_reply *out)
{
    if (!method_is(ri, "POST")) {
        reply_text(out, 405, "method not allowed");
        return;
    }
    uint32_t max_data = (uint32_t)a->w->cfg.builder_max_tx_data;
    struct buf body = BUF_INIT;
    if (api_read_body(c, ri, tx_json_max(max_data), &body) < 0) {
        buf_free(&body);
        reply_text(out, 413, tx_err_body(TX_ERR_TOO_LARGE));
        out->detail = "body above the largest transaction";
        return;
    }
    struct tx *tx = NULL;
    struct tx_error err;
    if (body.len == 0) {
        buf_free(&body);
        reply_text(out, 400, tx_err_body(TX_ERR_INVALID_JSON));
        out->detail = "empty body";
        return;
    }
    int rc = tx_json_decode(body.data, body.len, max_data, a->lock.hash, &tx, &err);
    buf_free(&body);
    if (rc < 0) {
        reply_text(out, tx_err_http_status(err.code), tx_err_body(err.code));
        out->detail = err.detail;
        return;
    }
    struct buf msg = BUF_INIT;
    bld_bytes_encode(&msg, tx->wire, tx->wire_len);
    tx_free(tx);
    struct bridge_call call;
    struct bld_tx_submit_rep r;
    bool ok = ask_builder(a, &call, BLD_TX_SUBMIT, BLD_TX_SUBMIT_REP, &msg) == 0 &&
              bld_tx_submit_rep_decode(&r, call.reply.data, call.reply.len) == 0;
    bridge_call_release(&call, 1);
    buf_free(&msg);
    if (!ok) {
        reply_text(out, 503, "unavailable");
        out->detail = "builder unreachable";
        return;
    }
    switch (r.result) {
    case BLD_TX_OK:
    case BLD_TX_FUTURE:
    case BLD_TX_REPLACED: {
        char hex[2 * BLD_HASH_LEN + 1];
        hex_encode(hex, r.hash, BLD_HASH_LEN);
        struct buf j = BUF_INIT;
        buf_printf(&j, "{\"hash\":\"%s\",\"status\":\"%s\"}", hex, submit_status[r.result]);
        reply_json_buf(out, 202, &j);
        buf_free(&j);
        break;
    }
    case BLD_TX_DUP:
    case BLD_TX_OLD:
    case BLD_TX_UNDERPRICED:
        reply_text(out, 409, bld_tx_result_name(r.result));
        break;
    case BLD_TX_INVALID:
        reply_text(out, tx_err_http_status((enum tx_err)r.err), tx_err_body((enum tx_err)r.err));
        break;
    case BLD_TX_FULL:
        reply_text(out, 503, "pool full");
        snprintf(out->headers, sizeof(out->headers), "Retry-After: 1\r\n");
        break;
    default:
        reply_text(out, 503, "unavailable");
        out->detail = "the pool cannot persist now";
        break;
    }
}

/* ---------------------------------------------------------------- GET /v1/tx/{hash} */

static const char *const tx_states[] = {
    [BLD_TX_PENDING] = "pending",
    [BLD_TX_QUEUED] = "queued",
    [BLD_TX_INCLUDED] = "included",
};

/* The last path segment as a 32-byte hash (64 hex). */
static int path_hash(const char *path, uint8_t out[BLD_HASH_LEN])
{
    const char *seg = strrchr(path, '/');
    return seg && strlen(seg + 1) == 2 * BLD_HASH_LEN &&
                   hex_decode(out, BLD_HASH_LEN, seg + 1, 2 * BLD_HASH_LEN) == 0
               ? 0
               : -1;
}

void route_tx_get(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                  struct http_reply *out)
{
    (void)c;
    uint8_t hash[BLD_HASH_LEN];
    if (!method_is(ri, "GET")) {
        reply_text(out, 405, "method not allowed");
        return;
    }
    if (path_hash(ri->local_uri, hash) < 0) {
        reply_text(out, 404, "not found");
        out->detail = "not a transaction hash";
        return;
    }
    struct buf msg = BUF_INIT;
    bld_hash_encode(&msg, hash);
    struct bridge_call call;
    struct bld_tx_get_rep r;
    struct tx *tx = NULL;
    struct tx_error err;
    bool ok = ask_builder(a, &call, BLD_TX_GET, BLD_TX_GET_REP, &msg) == 0 &&
              bld_tx_get_rep_decode(&r, call.reply.data, call.reply.len) == 0;
    buf_free(&msg);
    if (!ok || r.state == BLD_TX_LOOKUP_FAILED) {
        reply_text(out, 503, "unavailable");
        out->detail = ok ? "the chain cannot be read now" : "builder unreachable";
    } else if (r.state == BLD_TX_UNKNOWN ||
               tx_decode(r.tx, r.tx_len, TX_DATA_LIMIT, a->lock.hash, &tx, &err) < 0) {
        reply_text(out, 404, "not found");
    } else {
        char hex[2 * BLD_HASH_LEN + 1];
        hex_encode(hex, hash, BLD_HASH_LEN);
        struct buf j = BUF_INIT;
        buf_printf(&j, "{\"hash\":\"%s\",\"status\":\"%s\",", hex, tx_states[r.state]);
        if (r.state == BLD_TX_INCLUDED)
            buf_printf(&j, "\"height\":%llu,", (unsigned long long)r.height);
        buf_append_str(&j, "\"tx\":");
        tx_json(tx, 0, &j);
        buf_append_str(&j, "}");
        reply_json_buf(out, 200, &j);
        buf_free(&j);
        tx_free(tx);
    }
    bridge_call_release(&call, 1);
}

/* ---------------------------------------------------------------- GET /v1/block/... */

static void put_hex(struct buf *b, const uint8_t *p, size_t n)
{
    char hex[2 * 64 + 1];
    hex_encode(hex, p, n);
    buf_append(b, hex, 2 * n);
}

/* "certificate":[...],"seals":[...],"tss_signature":{...}|null of a decided record. */
void api_decided_members(struct buf *b, const struct sdb_decided *d)
{
    struct qbft_signed *entries = xmalloc(QBFT_MAX_NODES * sizeof(*entries));
    size_t n = 0;
    buf_append_str(b, "\"certificate\":[");
    if (d->ncert > 0 &&
        qbft_cert_decode(d->cert[0].p, d->cert[0].len, entries, QBFT_MAX_NODES, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            buf_printf(b, "%s{\"index\":%u,\"round\":%llu,\"sig\":\"", i ? "," : "",
                       entries[i].b.sender, (unsigned long long)entries[i].b.round);
            put_hex(b, entries[i].sig, SIG_LEN);
            buf_append_str(b, "\"}");
        }
    }
    free(entries);
    buf_append_str(b, "],\"seals\":[");
    for (uint32_t i = 0; i < d->nseals; i++) {
        buf_printf(b, "%s{\"index\":%u,\"sig\":\"", i ? "," : "", d->seals[i].index);
        put_hex(b, d->seals[i].sig, SDB_SIG_LEN);
        buf_append_str(b, "\"}");
    }
    buf_append_str(b, "],\"tss_signature\":");
    struct tss_record rec;
    if (d->tss.len > 0 && tss_record_decode(&rec, d->tss.p, d->tss.len) == 0)
        tss_record_json(b, &rec);
    else
        buf_append_str(b, "null");
}

void route_block_get(struct api *a, struct mg_connection *c, const struct mg_request_info *ri,
                     struct http_reply *out)
{
    (void)c;
    if (!method_is(ri, "GET")) {
        reply_text(out, 405, "method not allowed");
        return;
    }
    const char *seg = strrchr(ri->local_uri, '/') + 1;
    uint8_t mode = SDB_BLOCK_AT;
    uint64_t height = 0;
    if (!strcmp(seg, "latest"))
        mode = SDB_BLOCK_LATEST;
    else if (parse_u64(seg, SDB_HEIGHT_MAX, &height) < 0) {
        reply_text(out, 404, "not found");
        out->detail = "not a block height";
        return;
    }
    struct buf msg = BUF_INIT;
    bld_block_get_encode(&msg, mode, height);
    struct bridge_call call;
    struct sdb_reply r;
    bool asked = ask_builder(a, &call, BLD_BLOCK_GET, BLD_BLOCK_GET_REP, &msg) == 0;
    buf_free(&msg);
    bool ok = asked && call.reply.len > 0 &&
              sdb_reply_decode(&r, SDB_GET_BLOCK_REP, call.reply.data, call.reply.len) == 0;
    if (!ok || r.status == SDB_ERROR) {
        reply_text(out, 503, "unavailable");
        out->detail = asked ? "the chain cannot be read now" : "builder unreachable";
    } else if (r.status != SDB_OK || !r.u.block.present) {
        reply_text(out, 404, "not found");
    } else {
        struct buf j = BUF_INIT;
        buf_append_str(&j, "{");
        if (block_json_members(r.u.block.d.value.p, r.u.block.d.value.len, a->lock.hash, &j) < 0) {
            reply_text(out, 500, "internal error");
            out->detail = "a stored block that does not decode";
        } else {
            buf_append_str(&j, ",");
            api_decided_members(&j, &r.u.block.d);
            buf_append_str(&j, "}");
            reply_json_buf(out, 200, &j);
        }
        buf_free(&j);
    }
    if (ok)
        sdb_reply_free(&r);
    bridge_call_release(&call, 1);
}
