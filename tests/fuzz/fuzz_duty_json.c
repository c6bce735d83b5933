/*
 * Fuzz target: lib/json_strict (parse + canonical form) and workers/api/duty_req (POST /v1/duty
 * validation, GET path parser). Invariants, checked with abort():
 *   - canonical bytes are never longer than the input, re-parse, and are a fixed point;
 *   - whenever jansson (strict flags) accepts a text without NUL bytes, json_strict accepts it
 *     too, unless it nests deeper than our cap (not conversely: jansson rejects integers beyond
 *     int64, 1e999 and \u0000 in keys, which are valid JSON; and it stops reading at a NUL);
 *   - duty_req: an accepted request has its fields in bounds and a canonical payload; a body
 *     json_strict rejects is "invalid json"; a result is always a row of the table;
 *   - the GET path parser accepts only strings that duty_id_format gives back byte for byte.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json_strict.h"
#include "workers/api/duty_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_duty_json: invariant failed: %s (line %d)\n", #cond, __LINE__);  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* canonical(text) must re-parse and be its own canonical form. */
static void check_canonical(const struct jstrict_node *n, size_t src_len)
{
    struct buf c = BUF_INIT, c2 = BUF_INIT;
    jstrict_canonical(n, &c);
    CHECK(c.len <= src_len);
    struct jstrict_doc d;
    CHECK(jstrict_parse(&d, c.data, c.len, NULL, NULL) == 0);
    jstrict_canonical(&d.root, &c2);
    CHECK(c2.len == c.len && memcmp(c2.data, c.data, c.len) == 0);
    jstrict_doc_free(&d);
    buf_free(&c);
    buf_free(&c2);
}

static void fuzz_json(const uint8_t *data, size_t size)
{
    struct jstrict_doc d;
    struct jstrict_error e;
    int rc = jstrict_parse(&d, data, size, NULL, &e);
    if (rc == 0) {
        CHECK(e.reason == NULL);
        check_canonical(&d.root, size);
    } else {
        CHECK(e.reason != NULL && e.offset <= size);
    }
    jstrict_doc_free(&d);

    /* jansson reads a NUL byte as the end of the input ("4\0" parses): no oracle there */
    if (memchr(data, 0, size))
        return;
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size,
                           JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (j) {
        CHECK(rc == 0 || strcmp(e.reason, "nesting too deep") == 0);
        json_decref(j);
    }
}

static void fuzz_duty(const uint8_t *data, size_t size)
{
    struct duty_req r;
    enum duty_req_result res = duty_req_parse(data, size, &r);
    const struct duty_req_outcome *o = duty_req_outcome(res);
    CHECK(o != NULL);
    if (res == DUTY_REQ_OK) {
        CHECK((unsigned)r.type < DUTY_TYPES);
        CHECK(r.height <= DUTY_HEIGHT_MAX && r.round <= DUTY_ROUND_MAX);
        CHECK(r.payload.len > 0 && r.payload.len <= size);
        struct jstrict_doc d;
        CHECK(jstrict_parse(&d, r.payload.data, r.payload.len, NULL, NULL) == 0);
        check_canonical(&d.root, r.payload.len);
        jstrict_doc_free(&d);
    } else {
        CHECK(o->http_status == 400 && o->body != NULL && r.detail != NULL);
        CHECK(r.payload.len == 0);
    }
    if (size > 0 && size <= DUTY_BODY_MAX) {
        const struct jstrict_limits lim = {DUTY_BODY_MAX, DUTY_JSON_DEPTH};
        struct jstrict_doc d;
        if (jstrict_parse(&d, data, size, &lim, NULL) < 0)
            CHECK(res == DUTY_REQ_INVALID_JSON);
        jstrict_doc_free(&d);
    }
    duty_req_free(&r);
}

static void fuzz_path(const uint8_t *data, size_t size)
{
    if (size > 256)
        return;
    char path[257];
    memcpy(path, data, size);
    path[size] = 0;
    enum duty_type t;
    uint64_t h;
    if (duty_path_parse(path, &t, &h) == 0) {
        char id[DUTY_ID_MAX], back[64];
        CHECK(h <= DUTY_HEIGHT_MAX);
        duty_id_format(t, h, id);
        snprintf(back, sizeof(back), "%s%s", DUTY_PATH_PREFIX, id);
        CHECK(strcmp(back, path) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_json(data, size);
    fuzz_duty(data, size);
    fuzz_path(data, size);
    return 0;
}
