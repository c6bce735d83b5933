/*
 * duty_req: SPEC §11.2 checks 2-7 as a table of steps run in order; the first failing step's
 * row is the answer. The JSON is parsed once (lib/json_strict) by step 4, and the later steps
 * read the parsed fields.
 */
#include "workers/api/duty_req.h"
#include "lib/json_strict.h"
#include "lib/util.h"

#include <stdio.h>
#include <string.h>

static const struct duty_req_outcome outcomes[] = {
    [DUTY_REQ_OK] = {0, 202, NULL},
    [DUTY_REQ_READ_ERROR] = {2, 400, "read error"},
    [DUTY_REQ_EMPTY] = {3, 400, "empty"},
    [DUTY_REQ_INVALID_JSON] = {4, 400, "invalid json"},
    [DUTY_REQ_INVALID_TYPE] = {5, 400, "invalid type"},
    [DUTY_REQ_HEIGHT_RANGE] = {6, 400, "height out of range"},
    [DUTY_REQ_ROUND_RANGE] = {7, 400, "round out of range"},
};

const struct duty_req_outcome *duty_req_outcome(enum duty_req_result r)
{
    if ((size_t)r >= ARRAY_LEN(outcomes))
        return NULL;
    return &outcomes[r];
}

int duty_type_parse(const char *s, size_t n, enum duty_type *out)
{
    for (size_t i = 0; i < DUTY_TYPES; i++) {
        const char *name = duty_type_name((unsigned)i);
        if (strlen(name) == n && memcmp(name, s, n) == 0) {
            *out = (enum duty_type)i;
            return 0;
        }
    }
    return -1;
}

/* ---- the checks ---- */

/* The keys a body may have; anything else is row 4. */
static const char *const body_keys[] = {"type", "height", "round", "payload"};

struct duty_ctx {
    const uint8_t *body;
    size_t len;
    struct jstrict_doc doc;
    const struct jstrict_node *type, *height, *round, *payload;
    struct duty_req *out;
};

static bool fail_at(struct duty_ctx *c, const char *detail, size_t offset)
{
    c->out->detail = detail;
    c->out->detail_offset = offset;
    return false;
}

static bool check_size(struct duty_ctx *c)
{
    return c->len <= DUTY_BODY_MAX || fail_at(c, "body too large", DUTY_BODY_MAX);
}

static bool check_empty(struct duty_ctx *c)
{
    return c->len > 0 || fail_at(c, "empty body", 0);
}

/* A present height/round must be a non-negative integer literal (its size is checked later). */
static bool integer_literal_or_absent(const struct jstrict_node *n)
{
    return !n || (n->kind == JSTRICT_NUMBER && n->is_uint);
}

static bool check_json(struct duty_ctx *c)
{
    const struct jstrict_limits lim = {DUTY_BODY_MAX, DUTY_JSON_DEPTH};
    struct jstrict_error err;
    if (jstrict_parse(&c->doc, c->body, c->len, &lim, &err) < 0)
        return fail_at(c, err.reason, err.offset);
    const struct jstrict_node *root = &c->doc.root;
    if (root->kind != JSTRICT_OBJECT)
        return fail_at(c, "not an object", root->offset);
    for (uint32_t i = 0; i < root->len; i++) {
        const struct jstrict_member *m = &root->members[i];
        bool known = false;
        for (size_t k = 0; k < ARRAY_LEN(body_keys) && !known; k++)
            known =
                strlen(body_keys[k]) == m->key_len && memcmp(body_keys[k], m->key, m->key_len) == 0;
        if (!known)
            return fail_at(c, "unknown key", m->key_offset);
    }
    c->type = jstrict_object_get(root, "type", 4);
    c->height = jstrict_object_get(root, "height", 6);
    c->round = jstrict_object_get(root, "round", 5);
    c->payload = jstrict_object_get(root, "payload", 7);
    if (!integer_literal_or_absent(c->height))
        return fail_at(c, "height not an integer literal", c->height->offset);
    if (!integer_literal_or_absent(c->round))
        return fail_at(c, "round not an integer literal", c->round->offset);
    return true;
}

static bool check_type(struct duty_ctx *c)
{
    if (!c->type)
        return fail_at(c, "type missing", 0);
    if (c->type->kind != JSTRICT_STRING ||
        duty_type_parse((const char *)c->type->str, c->type->len, &c->out->type) < 0)
        return fail_at(c, "unknown type", c->type->offset);
    return true;
}

static bool check_height(struct duty_ctx *c)
{
    if (!c->height)
        return fail_at(c, "height missing", 0);
    if (!jstrict_uint64(c->height, &c->out->height) || c->out->height > DUTY_HEIGHT_MAX)
        return fail_at(c, "height above 2^62", c->height->offset);
    return true;
}

static bool check_round(struct duty_ctx *c)
{
    if (!c->round)
        return true;
    if (!jstrict_uint64(c->round, &c->out->round) || c->out->round > DUTY_ROUND_MAX)
        return fail_at(c, "round above 2^40", c->round->offset);
    return true;
}

/* SPEC §11.2 rows 2-7, in this order. */
static const struct {
    enum duty_req_result fails_with;
    bool (*check)(struct duty_ctx *c);
} duty_checks[] = {
    {DUTY_REQ_READ_ERROR, check_size},     {DUTY_REQ_EMPTY, check_empty},
    {DUTY_REQ_INVALID_JSON, check_json},   {DUTY_REQ_INVALID_TYPE, check_type},
    {DUTY_REQ_HEIGHT_RANGE, check_height}, {DUTY_REQ_ROUND_RANGE, check_round},
};

enum duty_req_result duty_req_parse(const uint8_t *body, size_t len, struct duty_req *out)
{
    memset(out, 0, sizeof(*out));
    struct duty_ctx c = {.body = body, .len = len, .out = out};
    enum duty_req_result r = DUTY_REQ_OK;
    for (size_t i = 0; i < ARRAY_LEN(duty_checks) && r == DUTY_REQ_OK; i++)
        if (!duty_checks[i].check(&c))
            r = duty_checks[i].fails_with;
    if (r == DUTY_REQ_OK) {
        if (c.payload)
            jstrict_canonical(c.payload, &out->payload);
        else
            buf_append_str(&out->payload, "null");
    } else {
        out->type = DUTY_ATTESTER;
        out->height = out->round = 0;
    }
    jstrict_doc_free(&c.doc);
    return r;
}

void duty_req_free(struct duty_req *r)
{
    buf_free(&r->payload);
}

/* ---- ids and paths ---- */

size_t duty_id_format(enum duty_type t, uint64_t height, char out[DUTY_ID_MAX])
{
    const char *name = duty_type_name(t);
    int n = snprintf(out, DUTY_ID_MAX, "%s/%llu", name ? name : "?", (unsigned long long)height);
    return n < 0 ? 0 : (size_t)n;
}

int duty_path_parse(const char *path, enum duty_type *type, uint64_t *height)
{
    size_t plen = strlen(DUTY_PATH_PREFIX);
    if (strncmp(path, DUTY_PATH_PREFIX, plen) != 0)
        return -1;
    const char *t = path + plen;
    const char *slash = strchr(t, '/');
    if (!slash || duty_type_parse(t, (size_t)(slash - t), type) < 0)
        return -1;
    const char *d = slash + 1;
    size_t nd = strlen(d);
    /* 2^62 has 19 digits; "0" is the only number that may start with 0 */
    if (nd == 0 || nd > 19 || (d[0] == '0' && nd > 1))
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < nd; i++) {
        if (d[i] < '0' || d[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(d[i] - '0'); /* <= 19 digits: no overflow */
    }
    if (v > DUTY_HEIGHT_MAX)
        return -1;
    *height = v;
    return 0;
}
