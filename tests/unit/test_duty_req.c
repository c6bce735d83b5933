/*
 * Unit tests for workers/api/duty_req: every row of SPEC §11.2 (checks 2-7) with its boundaries,
 * the order of the checks, the outcome table (status and body text), the canonical payload, duty
 * ids and the GET path parser.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "workers/api/duty_req.h"

struct req_case {
    const char *name;
    const char *body;
    size_t len;
    enum duty_req_result want;
};

#define R(name, s, want)                                                                           \
    {                                                                                              \
        name, s, sizeof(s) - 1, want                                                               \
    }
#define OKR(name, s) R(name, s, DUTY_REQ_OK)
#define JSN(name, s) R(name, s, DUTY_REQ_INVALID_JSON)
#define TYP(name, s) R(name, s, DUTY_REQ_INVALID_TYPE)
#define HGT(name, s) R(name, s, DUTY_REQ_HEIGHT_RANGE)
#define RND(name, s) R(name, s, DUTY_REQ_ROUND_RANGE)

static const struct req_case cases[] = {
    /* accepted */
    OKR("minimal", "{\"type\":\"attester\",\"height\":1}"),
    OKR("all fields", "{\"type\":\"proposer\",\"height\":0,\"round\":0,\"payload\":null}"),
    OKR("bounds inclusive",
        "{\"type\":\"sync\",\"height\":4611686018427387904,\"round\":1099511627776}"),
    OKR("any order", "{\"payload\":\"x\",\"round\":3,\"height\":7,\"type\":\"sync\"}"),
    OKR("surrounding whitespace", " \r\n\t{\"type\":\"attester\",\"height\":5}\n "),
    OKR("escaped type", "{\"type\":\"att\\u0065ster\",\"height\":1}"),
    OKR("payload any value", "{\"type\":\"attester\",\"height\":1,\"payload\":[1.5,-0,1e9,{}]}"),
    /* row 3 */
    R("empty", "", DUTY_REQ_EMPTY),
    /* row 4: not one JSON object */
    JSN("whitespace only", " \n"),
    JSN("array", "[]"),
    JSN("string", "\"x\""),
    JSN("null", "null"),
    JSN("number", "1"),
    JSN("truncated", "{\"type\":\"attester\",\"height\":1"),
    JSN("trailing object", "{} {}"),
    JSN("trailing garbage", "{}x"),
    JSN("trailing after valid", "{\"type\":\"attester\",\"height\":1}x"),
    JSN("two valid objects",
        "{\"type\":\"attester\",\"height\":1}{\"type\":\"sync\",\"height\":1}"),
    JSN("bom", "\xef\xbb\xbf{\"type\":\"attester\",\"height\":1}"),
    JSN("nul after", "{\"type\":\"attester\",\"height\":1}\0"),
    JSN("nul in type", "{\"type\":\"att\0ester\",\"height\":1}"),
    JSN("nul inside", "{\"type\":\"attester\",\0\"height\":1}"),
    /* row 4: invalid UTF-8 and escapes */
    JSN("invalid utf8 in key", "{\"ty\xffpe\":\"attester\",\"height\":1}"),
    JSN("overlong in payload", "{\"type\":\"attester\",\"height\":1,\"payload\":\"\xc0\x80\"}"),
    JSN("utf8 surrogate in payload",
        "{\"type\":\"attester\",\"height\":1,\"payload\":[\"\xed\xa0\x80\"]}"),
    JSN("truncated utf8 in payload",
        "{\"type\":\"attester\",\"height\":1,\"payload\":\"\xe2\x82\"}"),
    JSN("lone surrogate in payload",
        "{\"type\":\"attester\",\"height\":1,\"payload\":\"\\ud800\"}"),
    JSN("lone surrogate in key", "{\"type\":\"attester\",\"height\":1,\"\\udc00\":1}"),
    JSN("raw control char", "{\"type\":\"attester\",\"height\":1,\"payload\":\"a\tb\"}"),
    /* row 4: duplicate and unknown keys */
    JSN("duplicate type", "{\"type\":\"attester\",\"type\":\"attester\",\"height\":1}"),
    JSN("duplicate height", "{\"type\":\"attester\",\"height\":1,\"height\":1}"),
    JSN("duplicate by escape", "{\"type\":\"attester\",\"t\\u0079pe\":\"sync\",\"height\":1}"),
    JSN("duplicate in payload",
        "{\"type\":\"attester\",\"height\":1,\"payload\":{\"a\":1,\"a\":1}}"),
    JSN("duplicate deep in payload",
        "{\"type\":\"attester\",\"height\":1,\"payload\":[{\"x\":{\"k\":1,\"k\":2}}]}"),
    JSN("unknown key", "{\"type\":\"attester\",\"height\":1,\"extra\":1}"),
    JSN("key case", "{\"Type\":\"attester\",\"height\":1}"),
    JSN("key with space", "{\"type\":\"attester\",\"height\":1,\"round \":1}"),
    JSN("key with nul", "{\"type\":\"attester\",\"height\":1,\"round\\u0000\":1}"),
    /* row 4: height/round not a non-negative integer literal */
    JSN("height 1.0", "{\"type\":\"attester\",\"height\":1.0}"),
    JSN("height 1e0", "{\"type\":\"attester\",\"height\":1e0}"),
    JSN("height 1e3", "{\"type\":\"attester\",\"height\":1e3}"),
    JSN("height -1", "{\"type\":\"attester\",\"height\":-1}"),
    JSN("height -0", "{\"type\":\"attester\",\"height\":-0}"),
    JSN("height 01", "{\"type\":\"attester\",\"height\":01}"),
    JSN("height +1", "{\"type\":\"attester\",\"height\":+1}"),
    JSN("height string", "{\"type\":\"attester\",\"height\":\"1\"}"),
    JSN("height true", "{\"type\":\"attester\",\"height\":true}"),
    JSN("height null", "{\"type\":\"attester\",\"height\":null}"),
    JSN("height array", "{\"type\":\"attester\",\"height\":[1]}"),
    JSN("height negative huge", "{\"type\":\"attester\",\"height\":-18446744073709551616}"),
    JSN("round 1.0", "{\"type\":\"attester\",\"height\":1,\"round\":1.0}"),
    JSN("round -1", "{\"type\":\"attester\",\"height\":1,\"round\":-1}"),
    JSN("round string", "{\"type\":\"attester\",\"height\":1,\"round\":\"0\"}"),
    JSN("round null", "{\"type\":\"attester\",\"height\":1,\"round\":null}"),
    JSN("round NaN", "{\"type\":\"attester\",\"height\":1,\"round\":NaN}"),
    /* row 5 */
    TYP("type missing", "{\"height\":1}"),
    TYP("type capitalised", "{\"type\":\"Attester\",\"height\":1}"),
    TYP("type upper", "{\"type\":\"ATTESTER\",\"height\":1}"),
    TYP("type empty", "{\"type\":\"\",\"height\":1}"),
    TYP("type trailing space", "{\"type\":\"attester \",\"height\":1}"),
    TYP("type prefix", "{\"type\":\"attest\",\"height\":1}"),
    TYP("type escaped nul", "{\"type\":\"attester\\u0000\",\"height\":1}"),
    TYP("type unknown", "{\"type\":\"builder\",\"height\":1}"),
    TYP("type number", "{\"type\":0,\"height\":1}"),
    TYP("type null", "{\"type\":null,\"height\":1}"),
    TYP("type array", "{\"type\":[\"attester\"],\"height\":1}"),
    /* row 6 */
    HGT("height missing", "{\"type\":\"attester\"}"),
    HGT("height 2^62+1", "{\"type\":\"attester\",\"height\":4611686018427387905}"),
    HGT("height 2^63", "{\"type\":\"attester\",\"height\":9223372036854775808}"),
    HGT("height 2^64-1", "{\"type\":\"attester\",\"height\":18446744073709551615}"),
    HGT("height 2^64", "{\"type\":\"attester\",\"height\":18446744073709551616}"),
    HGT("height 10^30", "{\"type\":\"attester\",\"height\":1000000000000000000000000000000}"),
    /* row 7 */
    RND("round 2^40+1", "{\"type\":\"attester\",\"height\":1,\"round\":1099511627777}"),
    RND("round 2^64", "{\"type\":\"attester\",\"height\":1,\"round\":18446744073709551616}"),
    RND("round 10^30",
        "{\"type\":\"attester\",\"height\":1,\"round\":1000000000000000000000000000000}"),
    /* order of the checks: the first failing row decides */
    JSN("bad type and unknown key", "{\"type\":\"bogus\",\"height\":1,\"x\":1}"),
    JSN("bad type and float height", "{\"type\":\"bogus\",\"height\":1.5}"),
    JSN("bad type and trailing data", "{\"type\":\"bogus\",\"height\":1} x"),
    JSN("bad round and duplicate in payload", "{\"type\":\"attester\",\"height\":1,\"round\":"
                                              "1099511627777,\"payload\":{\"a\":1,\"a\":2}}"),
    JSN("missing type and float round", "{\"height\":1,\"round\":0.5}"),
    TYP("bad type and bad height", "{\"type\":\"bogus\",\"height\":99999999999999999999}"),
    TYP("no type and no height", "{}"),
    TYP("non-string type and bad round", "{\"type\":1,\"height\":1,\"round\":1099511627777}"),
    HGT("bad height and bad round",
        "{\"type\":\"sync\",\"height\":4611686018427387905,\"round\":1099511627777}"),
    HGT("missing height and bad round", "{\"type\":\"sync\",\"round\":18446744073709551616}"),
};

START_TEST(table_rows)
{
    const struct req_case *c = &cases[_i];
    struct duty_req r;
    enum duty_req_result got = duty_req_parse((const uint8_t *)c->body, c->len, &r);
    ck_assert_msg(got == c->want, "case '%s': got %d (%s at %zu), want %d", c->name, got,
                  r.detail ? r.detail : "-", r.detail_offset, c->want);
    if (got == DUTY_REQ_OK) {
        ck_assert_ptr_null(r.detail);
        ck_assert_uint_gt(r.payload.len, 0);
    } else {
        ck_assert_ptr_nonnull(r.detail);
        ck_assert_uint_eq(r.payload.len, 0);
    }
    duty_req_free(&r);
}
END_TEST

START_TEST(outcome_table)
{
    static const struct {
        enum duty_req_result r;
        unsigned order;
        int status;
        const char *body;
    } rows[] = {
        {DUTY_REQ_READ_ERROR, 2, 400, "read error"},
        {DUTY_REQ_EMPTY, 3, 400, "empty"},
        {DUTY_REQ_INVALID_JSON, 4, 400, "invalid json"},
        {DUTY_REQ_INVALID_TYPE, 5, 400, "invalid type"},
        {DUTY_REQ_HEIGHT_RANGE, 6, 400, "height out of range"},
        {DUTY_REQ_ROUND_RANGE, 7, 400, "round out of range"},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        const struct duty_req_outcome *o = duty_req_outcome(rows[i].r);
        ck_assert_ptr_nonnull(o);
        ck_assert_uint_eq(o->order, rows[i].order);
        ck_assert_int_eq(o->http_status, rows[i].status);
        ck_assert_str_eq(o->body, rows[i].body);
    }
    const struct duty_req_outcome *ok = duty_req_outcome(DUTY_REQ_OK);
    ck_assert_int_eq(ok->http_status, 202);
    ck_assert_ptr_null(ok->body);
    ck_assert_ptr_null(duty_req_outcome((enum duty_req_result)99));
}
END_TEST

static enum duty_req_result parse_str(const char *s, struct duty_req *r)
{
    return duty_req_parse((const uint8_t *)s, strlen(s), r);
}

START_TEST(accepted_fields)
{
    static const struct {
        const char *body;
        enum duty_type type;
        uint64_t height, round;
        const char *payload;
    } rows[] = {
        {"{\"type\":\"attester\",\"height\":1}", DUTY_ATTESTER, 1, 0, "null"},
        {"{\"type\":\"proposer\",\"height\":0,\"round\":0,\"payload\":null}", DUTY_PROPOSER, 0, 0,
         "null"},
        {"{\"type\":\"sync\",\"height\":4611686018427387904,\"round\":1099511627776,"
         "\"payload\":{\"z\":[1, 2],\"a\":\"\\u00e9\"}}",
         DUTY_SYNC, UINT64_C(1) << 62, UINT64_C(1) << 40, "{\"a\":\"\xc3\xa9\",\"z\":[1,2]}"},
        {"{\"payload\":\"x\",\"round\":3,\"height\":7,\"type\":\"sync\"}", DUTY_SYNC, 7, 3,
         "\"x\""},
        {"{\"type\":\"attester\",\"height\":1,\"payload\":[1.5,-0,1E9, {} ]}", DUTY_ATTESTER, 1, 0,
         "[1.5,-0,1E9,{}]"},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        struct duty_req r;
        ck_assert_int_eq(parse_str(rows[i].body, &r), DUTY_REQ_OK);
        ck_assert_int_eq(r.type, rows[i].type);
        ck_assert(r.height == rows[i].height);
        ck_assert(r.round == rows[i].round);
        ck_assert_uint_eq(r.payload.len, strlen(rows[i].payload));
        ck_assert(memcmp(r.payload.data, rows[i].payload, r.payload.len) == 0);
        duty_req_free(&r);
    }
}
END_TEST

/* The same duty written differently has the same canonical payload; a different one does not. */
START_TEST(payload_canonical_equivalence)
{
    const char *a = "{\"type\":\"attester\",\"height\":9,\"payload\":{\"b\":[1,\"\\/\"],\"a\":1}}";
    const char *b = " {\n \"payload\" : { \"a\" : 1 , \"\\u0062\" : [ 1 , \"/\" ] } ,"
                    " \"height\" : 9 , \"type\" : \"attester\" } ";
    const char *c = "{\"type\":\"attester\",\"height\":9,\"payload\":{\"b\":[1,\"/\"],\"a\":1.0}}";
    struct duty_req ra, rb, rc;
    ck_assert_int_eq(parse_str(a, &ra), DUTY_REQ_OK);
    ck_assert_int_eq(parse_str(b, &rb), DUTY_REQ_OK);
    ck_assert_int_eq(parse_str(c, &rc), DUTY_REQ_OK);
    ck_assert_uint_eq(ra.payload.len, rb.payload.len);
    ck_assert(memcmp(ra.payload.data, rb.payload.data, ra.payload.len) == 0);
    ck_assert_str_eq((const char *)ra.payload.data, "{\"a\":1,\"b\":[1,\"/\"]}");
    ck_assert_str_ne((const char *)ra.payload.data, (const char *)rc.payload.data);
    duty_req_free(&ra);
    duty_req_free(&rb);
    duty_req_free(&rc);
}
END_TEST

/* A body of exactly n bytes: a valid duty whose payload string is padded with 'x'. */
static uint8_t *body_of_size(size_t n)
{
    const char *head = "{\"type\":\"attester\",\"height\":1,\"payload\":\"";
    const char *tail = "\"}";
    size_t hl = strlen(head), tl = strlen(tail);
    ck_assert_uint_ge(n, hl + tl);
    uint8_t *b = xmalloc(n);
    memcpy(b, head, hl);
    memset(b + hl, 'x', n - hl - tl);
    memcpy(b + n - tl, tail, tl);
    return b;
}

START_TEST(size_boundary)
{
    struct duty_req r;
    uint8_t *b = body_of_size(DUTY_BODY_MAX);
    ck_assert_int_eq(duty_req_parse(b, DUTY_BODY_MAX, &r), DUTY_REQ_OK);
    ck_assert_uint_eq(r.payload.len, DUTY_BODY_MAX - strlen("{\"type\":\"attester\",\"height\":1,"
                                                            "\"payload\":}"));
    duty_req_free(&r);
    free(b);

    b = body_of_size(DUTY_BODY_MAX + 1);
    ck_assert_int_eq(duty_req_parse(b, DUTY_BODY_MAX + 1, &r), DUTY_REQ_READ_ERROR);
    duty_req_free(&r);
    free(b);

    /* row 2 comes before row 4: oversized garbage is a read error */
    b = xmalloc(DUTY_BODY_MAX + 1);
    memset(b, 0xff, DUTY_BODY_MAX + 1);
    ck_assert_int_eq(duty_req_parse(b, DUTY_BODY_MAX + 1, &r), DUTY_REQ_READ_ERROR);
    duty_req_free(&r);
    ck_assert_int_eq(duty_req_parse(b, DUTY_BODY_MAX, &r), DUTY_REQ_INVALID_JSON);
    duty_req_free(&r);
    free(b);

    /* exactly 1 MiB where whitespace is the padding */
    b = xmalloc(DUTY_BODY_MAX);
    memset(b, ' ', DUTY_BODY_MAX);
    const char *j = "{\"type\":\"sync\",\"height\":2}";
    memcpy(b, j, strlen(j));
    ck_assert_int_eq(duty_req_parse(b, DUTY_BODY_MAX, &r), DUTY_REQ_OK);
    ck_assert_str_eq((const char *)r.payload.data, "null");
    duty_req_free(&r);
    free(b);

    ck_assert_int_eq(duty_req_parse(NULL, 0, &r), DUTY_REQ_EMPTY);
    duty_req_free(&r);
}
END_TEST

/* The body object is depth 1: the payload may nest DUTY_JSON_DEPTH - 1 levels. */
static enum duty_req_result nested_payload(unsigned levels)
{
    struct buf b = BUF_INIT;
    buf_append_str(&b, "{\"type\":\"attester\",\"height\":1,\"payload\":");
    for (unsigned i = 0; i < levels; i++)
        buf_append_str(&b, "[");
    for (unsigned i = 0; i < levels; i++)
        buf_append_str(&b, "]");
    buf_append_str(&b, "}");
    struct duty_req r;
    enum duty_req_result res = duty_req_parse(b.data, b.len, &r);
    duty_req_free(&r);
    buf_free(&b);
    return res;
}

START_TEST(nesting_cap)
{
    ck_assert_int_eq(nested_payload(DUTY_JSON_DEPTH - 1), DUTY_REQ_OK);
    ck_assert_int_eq(nested_payload(DUTY_JSON_DEPTH), DUTY_REQ_INVALID_JSON);
    ck_assert_int_eq(nested_payload(100000), DUTY_REQ_INVALID_JSON);
}
END_TEST

START_TEST(detail_for_logs)
{
    struct duty_req r;
    ck_assert_int_eq(parse_str("{\"type\":\"attester\",\"height\":1,\"height\":2}", &r),
                     DUTY_REQ_INVALID_JSON);
    ck_assert_str_eq(r.detail, "duplicate key");
    ck_assert_uint_eq(r.detail_offset, 30);
    duty_req_free(&r);
    ck_assert_int_eq(parse_str("{\"type\":\"attester\",\"height\":1,\"extra\":2}", &r),
                     DUTY_REQ_INVALID_JSON);
    ck_assert_str_eq(r.detail, "unknown key");
    ck_assert_uint_eq(r.detail_offset, 30);
    duty_req_free(&r);
    ck_assert_int_eq(parse_str("{\"type\":\"attester\",\"height\":1.0}", &r),
                     DUTY_REQ_INVALID_JSON);
    ck_assert_str_eq(r.detail, "height not an integer literal");
    duty_req_free(&r);
}
END_TEST

START_TEST(type_names)
{
    static const char *const names[DUTY_TYPES] = {"attester", "proposer", "sync"};
    for (int t = 0; t < DUTY_TYPES; t++) {
        ck_assert_str_eq(duty_type_name((enum duty_type)t), names[t]);
        enum duty_type got;
        ck_assert_int_eq(duty_type_parse(names[t], strlen(names[t]), &got), 0);
        ck_assert_int_eq(got, t);
    }
    enum duty_type got;
    ck_assert_int_eq(duty_type_parse("syn", 3, &got), -1);
    ck_assert_int_eq(duty_type_parse("syncs", 5, &got), -1);
    ck_assert_int_eq(duty_type_parse("Sync", 4, &got), -1);
    ck_assert_int_eq(duty_type_parse("", 0, &got), -1);
    ck_assert_ptr_null(duty_type_name((enum duty_type)3));
}
END_TEST

START_TEST(id_format)
{
    char id[DUTY_ID_MAX];
    ck_assert_uint_eq(duty_id_format(DUTY_ATTESTER, 0, id), 10);
    ck_assert_str_eq(id, "attester/0");
    duty_id_format(DUTY_SYNC, 42, id);
    ck_assert_str_eq(id, "sync/42");
    size_t n = duty_id_format(DUTY_PROPOSER, DUTY_HEIGHT_MAX, id);
    ck_assert_str_eq(id, "proposer/4611686018427387904");
    ck_assert_uint_eq(n, strlen(id));
    ck_assert_uint_lt(n, DUTY_ID_MAX);
}
END_TEST

START_TEST(path_parse)
{
    static const struct {
        const char *path;
        int rc;
        enum duty_type type;
        uint64_t height;
    } rows[] = {
        {"/v1/duty/attester/0", 0, DUTY_ATTESTER, 0},
        {"/v1/duty/proposer/17", 0, DUTY_PROPOSER, 17},
        {"/v1/duty/sync/4611686018427387904", 0, DUTY_SYNC, UINT64_C(1) << 62},
        {"/v1/duty/attester/4611686018427387905", -1, 0, 0},
        {"/v1/duty/attester/9999999999999999999", -1, 0, 0},
        {"/v1/duty/attester/99999999999999999999", -1, 0, 0},
        {"/v1/duty/attester/01", -1, 0, 0},
        {"/v1/duty/attester/00", -1, 0, 0},
        {"/v1/duty/attester/", -1, 0, 0},
        {"/v1/duty/attester", -1, 0, 0},
        {"/v1/duty/", -1, 0, 0},
        {"/v1/duty", -1, 0, 0},
        {"/v1/duty/Attester/1", -1, 0, 0},
        {"/v1/duty/builder/1", -1, 0, 0},
        {"/v1/duty//1", -1, 0, 0},
        {"/v1/duty/attester//1", -1, 0, 0},
        {"/v1/duty/attester/1/", -1, 0, 0},
        {"/v1/duty/attester/1/2", -1, 0, 0},
        {"/v1/duty/attester/+1", -1, 0, 0},
        {"/v1/duty/attester/-1", -1, 0, 0},
        {"/v1/duty/attester/ 1", -1, 0, 0},
        {"/v1/duty/attester/1a", -1, 0, 0},
        {"/v1/duty/attester/0x1", -1, 0, 0},
        {"/v1/duty/attester/1?x=1", -1, 0, 0},
        {"/v1/dutyx/attester/1", -1, 0, 0},
        {"/v2/duty/attester/1", -1, 0, 0},
        {"v1/duty/attester/1", -1, 0, 0},
        {"", -1, 0, 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        enum duty_type t = DUTY_SYNC;
        uint64_t h = 12345;
        int rc = duty_path_parse(rows[i].path, &t, &h);
        ck_assert_msg(rc == rows[i].rc, "path '%s': rc %d", rows[i].path, rc);
        if (rc == 0) {
            ck_assert_int_eq(t, rows[i].type);
            ck_assert(h == rows[i].height);
        }
    }
}
END_TEST

START_TEST(id_path_round_trip)
{
    static const uint64_t heights[] = {0, 1, 9, 10, 1000000, DUTY_HEIGHT_MAX - 1, DUTY_HEIGHT_MAX};
    for (int t = 0; t < DUTY_TYPES; t++) {
        for (size_t i = 0; i < ARRAY_LEN(heights); i++) {
            char id[DUTY_ID_MAX], path[64];
            duty_id_format((enum duty_type)t, heights[i], id);
            snprintf(path, sizeof(path), "%s%s", DUTY_PATH_PREFIX, id);
            enum duty_type got;
            uint64_t h;
            ck_assert_int_eq(duty_path_parse(path, &got, &h), 0);
            ck_assert_int_eq(got, t);
            ck_assert(h == heights[i]);
        }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("duty_req");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, table_rows, 0, (int)ARRAY_LEN(cases));
    tcase_add_test(tc, outcome_table);
    tcase_add_test(tc, accepted_fields);
    tcase_add_test(tc, payload_canonical_equivalence);
    tcase_add_test(tc, size_boundary);
    tcase_add_test(tc, nesting_cap);
    tcase_add_test(tc, detail_for_logs);
    tcase_add_test(tc, type_names);
    tcase_add_test(tc, id_format);
    tcase_add_test(tc, path_parse);
    tcase_add_test(tc, id_path_round_trip);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
