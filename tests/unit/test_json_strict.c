/*
 * Unit tests for lib/json_strict: a conformance table in the spirit of JSONTestSuite (our own
 * cases), number literal facts, errors and offsets, limits, duplicate keys at scale, and the
 * canonical form (equivalence, difference, escaping, key order, fixed point).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json_strict.h"
#include "lib/util.h"

#define T(s) (const uint8_t *)(s), sizeof(s) - 1

struct conf_case {
    const char *name;
    const uint8_t *text;
    size_t len;
    bool valid;
};

#define OK(name, s)                                                                                \
    {                                                                                              \
        name, T(s), true                                                                           \
    }
#define BAD(name, s)                                                                               \
    {                                                                                              \
        name, T(s), false                                                                          \
    }

static const struct conf_case conformance[] = {
    /* valid */
    OK("empty object", "{}"),
    OK("empty array", "[]"),
    OK("zero", "0"),
    OK("minus zero", "-0"),
    OK("fraction exponent", "1.5e10"),
    OK("negative fraction upper E minus", "-1.0E-2"),
    OK("exponent plus", "1E+2"),
    OK("exponent zero padded", "1e007"),
    OK("huge exponent", "1e999"),
    OK("big integer", "123456789012345678901234567890"),
    OK("string", "\"abc\""),
    OK("empty string", "\"\""),
    OK("null", "null"),
    OK("true", "true"),
    OK("false", "false"),
    OK("whitespace everywhere", " \t\r\n[ 1 ,\n\t2 ,\r3 ]\n "),
    OK("nested", "{\"a\":{\"b\":[{\"c\":null}]}}"),
    OK("escape u latin", "\"\\u00e9\""),
    OK("escape u upper hex", "\"\\u00E9\\uABCD\""),
    OK("surrogate pair", "\"\\ud83d\\ude00\""),
    OK("max surrogate pair", "\"\\uDBFF\\uDFFF\""),
    OK("short escapes", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""),
    OK("escaped nul", "\"\\u0000\""),
    OK("raw utf8 2 bytes", "\"\xc3\xa9\""),
    OK("raw utf8 3 bytes", "\"\xe2\x82\xac\""),
    OK("raw utf8 4 bytes", "\"\xf0\x9f\x98\x80\""),
    OK("raw U+10FFFF", "\"\xf4\x8f\xbf\xbf\""),
    OK("raw U+D7FF", "\"\xed\x9f\xbf\""),
    OK("raw U+E000", "\"\xee\x80\x80\""),
    OK("raw U+FFFF", "\"\xef\xbf\xbf\""),
    OK("raw DEL", "\"\x7f\""),
    OK("empty key", "{\"\":0}"),
    OK("case distinct keys", "{\"a\":1,\"A\":1}"),
    OK("same key in different objects", "{\"a\":{\"a\":1},\"b\":{\"a\":1}}"),
    OK("key prefix of other key", "{\"a\":1,\"ab\":2,\"a\\u0000\":3}"),
    OK("nested empty arrays", "[[[]]]"),
    OK("array of mixed", "[null,true,false,0,\"\",[],{}]"),
    OK("bom inside string", "\"\xef\xbb\xbf\""),
    /* invalid: structure */
    BAD("empty text", ""),
    BAD("whitespace only", " \n\t "),
    BAD("open brace", "{"),
    BAD("close brace", "}"),
    BAD("open bracket", "["),
    BAD("close bracket", "]"),
    BAD("array trailing comma", "[1,]"),
    BAD("array leading comma", "[,1]"),
    BAD("array missing comma", "[1 2]"),
    BAD("object trailing comma", "{\"a\":1,}"),
    BAD("object key only", "{\"a\"}"),
    BAD("object missing colon", "{\"a\" 1}"),
    BAD("object unquoted key", "{a:1}"),
    BAD("object number key", "{1:1}"),
    BAD("single quotes", "{'a':1}"),
    BAD("single quoted string", "['a']"),
    BAD("two values", "1 2"),
    BAD("trailing object", "{} {}"),
    BAD("trailing garbage", "{}x"),
    BAD("trailing bracket", "[] ]"),
    BAD("bom", "\xef\xbb\xbf{}"),
    BAD("nul after value", "{}\0"),
    BAD("nul alone", "\0"),
    BAD("nul before value", "\0{}"),
    BAD("comment line", "// x\n1"),
    BAD("comment block", "/* */1"),
    BAD("raw utf8 outside string", "\xc3\xa9"),
    BAD("form feed whitespace", "\f1"),
    BAD("nbsp whitespace", "\xc2\xa0"
                           "1"),
    /* invalid: literals and numbers */
    BAD("truncated true", "tru"),
    BAD("capital True", "True"),
    BAD("null extra letter", "nulll"),
    BAD("leading zero", "01"),
    BAD("negative leading zero", "-01"),
    BAD("double zero", "00"),
    BAD("leading plus", "+1"),
    BAD("leading dot", ".5"),
    BAD("trailing dot", "1."),
    BAD("dot exponent", "1.e1"),
    BAD("bare exponent", "1e"),
    BAD("exponent sign only", "1e+"),
    BAD("minus only", "-"),
    BAD("minus space", "- 1"),
    BAD("NaN", "NaN"),
    BAD("Infinity", "Infinity"),
    BAD("minus Infinity", "-Infinity"),
    BAD("hex", "0x10"),
    BAD("underscore", "1_000"),
    BAD("two dots", "1.2.3"),
    /* invalid: strings */
    BAD("unterminated", "\"abc"),
    BAD("unterminated escaped quote", "\"abc\\\""),
    BAD("raw newline", "\"a\nb\""),
    BAD("raw tab", "\"\t\""),
    BAD("raw nul", "\"a\0b\""),
    BAD("raw 0x1f", "\"\x1f\""),
    BAD("unknown escape x", "\"\\x41\""),
    BAD("escape apostrophe", "\"\\'\""),
    BAD("escape upper U", "\"\\U0041\""),
    BAD("short u escape", "\"\\u12\""),
    BAD("bad hex u escape", "\"\\u12G4\""),
    BAD("escaped newline", "\"\\\n\""),
    BAD("lone high surrogate", "\"\\ud800\""),
    BAD("lone low surrogate", "\"\\udc00\""),
    BAD("high then letter", "\"\\ud800\\u0041\""),
    BAD("high then raw", "\"\\ud800x\""),
    BAD("reversed pair", "\"\\udc00\\ud800\""),
    BAD("two highs", "\"\\ud800\\ud800\""),
    BAD("overlong nul", "\"\xc0\x80\""),
    BAD("overlong C1", "\"\xc1\xbf\""),
    BAD("overlong 3 bytes", "\"\xe0\x80\xaf\""),
    BAD("overlong 4 bytes", "\"\xf0\x80\x80\xaf\""),
    BAD("utf8 surrogate", "\"\xed\xa0\x80\""),
    BAD("utf8 low surrogate", "\"\xed\xbf\xbf\""),
    BAD("above 10FFFF", "\"\xf4\x90\x80\x80\""),
    BAD("lead F5", "\"\xf5\x80\x80\x80\""),
    BAD("byte FF", "\"\xff\""),
    BAD("lone continuation", "\"\x80\""),
    BAD("truncated 3 bytes", "\"\xe2\x82\""),
    BAD("truncated 4 bytes", "\"\xf0\x9f\x98\""),
    BAD("bad continuation", "\"\xe2\x28\xa1\""),
    /* invalid: duplicate keys */
    BAD("duplicate key", "{\"a\":1,\"a\":2}"),
    BAD("duplicate key same value", "{\"a\":1,\"b\":0,\"a\":1}"),
    BAD("duplicate nested", "{\"x\":{\"a\":1,\"a\":1}}"),
    BAD("duplicate in array", "[{\"a\":1,\"a\":1}]"),
    BAD("duplicate after unescape", "{\"a\":1,\"\\u0061\":2}"),
    BAD("duplicate empty key", "{\"\":1,\"\":2}"),
    BAD("duplicate key with nul", "{\"a\\u0000\":1,\"a\\u0000\":2}"),
};

START_TEST(conformance_table)
{
    const struct conf_case *c = &conformance[_i];
    struct jstrict_doc d;
    struct jstrict_error e;
    int rc = jstrict_parse(&d, c->text, c->len, NULL, &e);
    ck_assert_msg((rc == 0) == c->valid, "case '%s': rc %d reason %s", c->name, rc,
                  e.reason ? e.reason : "-");
    if (c->valid)
        ck_assert_ptr_null(e.reason);
    else
        ck_assert_ptr_nonnull(e.reason);
    jstrict_doc_free(&d);
}
END_TEST

static void parse_ok(struct jstrict_doc *d, const char *s)
{
    struct jstrict_error e;
    int rc = jstrict_parse(d, (const uint8_t *)s, strlen(s), NULL, &e);
    ck_assert_msg(rc == 0, "'%s': %s at %zu", s, e.reason, e.offset);
}

static void expect_error(const char *s, size_t len, const char *reason, size_t offset)
{
    struct jstrict_doc d;
    struct jstrict_error e;
    ck_assert_int_eq(jstrict_parse(&d, (const uint8_t *)s, len, NULL, &e), -1);
    ck_assert_str_eq(e.reason, reason);
    ck_assert_uint_eq(e.offset, offset);
    jstrict_doc_free(&d);
}

START_TEST(number_facts)
{
    static const struct {
        const char *text;
        bool is_uint, fits;
        uint64_t v;
    } rows[] = {
        {"0", true, true, 0},
        {"7", true, true, 7},
        {"4611686018427387904", true, true, UINT64_C(1) << 62},
        {"18446744073709551615", true, true, UINT64_MAX},
        {"18446744073709551616", true, false, 0},
        {"100000000000000000000000000000", true, false, 0},
        {"-0", false, false, 0},
        {"-1", false, false, 0},
        {"1.0", false, false, 0},
        {"1e0", false, false, 0},
        {"1E3", false, false, 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        struct jstrict_doc d;
        parse_ok(&d, rows[i].text);
        ck_assert_int_eq(d.root.kind, JSTRICT_NUMBER);
        ck_assert_str_eq(d.root.num, rows[i].text);
        ck_assert_uint_eq(d.root.len, strlen(rows[i].text));
        ck_assert_msg(d.root.is_uint == rows[i].is_uint, "%s is_uint", rows[i].text);
        uint64_t v = 12345;
        ck_assert_msg(jstrict_uint64(&d.root, &v) == rows[i].fits, "%s fits", rows[i].text);
        if (rows[i].fits)
            ck_assert(v == rows[i].v);
        jstrict_doc_free(&d);
    }
}
END_TEST

START_TEST(tree_shape)
{
    struct jstrict_doc d;
    parse_ok(&d, " {\"b\": [1, \"x\\u00e9\", true, null], \"a\": {\"k\\n\": false}} ");
    const struct jstrict_node *r = &d.root;
    ck_assert_int_eq(r->kind, JSTRICT_OBJECT);
    ck_assert_uint_eq(r->len, 2);
    ck_assert_uint_eq(r->offset, 1);
    /* members keep input order, sorted gives key order */
    ck_assert_str_eq((const char *)r->members[0].key, "b");
    ck_assert_str_eq((const char *)r->members[1].key, "a");
    ck_assert_ptr_eq(jstrict_member_in_key_order(r, 0), &r->members[1]);
    ck_assert_ptr_eq(jstrict_member_in_key_order(r, 1), &r->members[0]);
    ck_assert_uint_eq(r->members[0].key_offset, 2);

    const struct jstrict_node *b = jstrict_object_get(r, "b", 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(b->kind, JSTRICT_ARRAY);
    ck_assert_uint_eq(b->len, 4);
    ck_assert_int_eq(b->items[0].kind, JSTRICT_NUMBER);
    ck_assert_int_eq(b->items[1].kind, JSTRICT_STRING);
    ck_assert_uint_eq(b->items[1].len, 3);
    ck_assert(memcmp(b->items[1].str, "x\xc3\xa9", 3) == 0);
    ck_assert_int_eq(b->items[2].kind, JSTRICT_BOOL);
    ck_assert(b->items[2].boolean);
    ck_assert_int_eq(b->items[3].kind, JSTRICT_NULL);

    const struct jstrict_node *a = jstrict_object_get(r, "a", 1);
    ck_assert_ptr_nonnull(a);
    const struct jstrict_node *k = jstrict_object_get(a, "k\n", 2);
    ck_assert_ptr_nonnull(k);
    ck_assert_int_eq(k->kind, JSTRICT_BOOL);
    ck_assert(!k->boolean);
    ck_assert_ptr_null(jstrict_object_get(r, "c", 1));
    ck_assert_ptr_null(jstrict_object_get(r, "", 0));
    ck_assert_ptr_null(jstrict_object_get(b, "b", 1)); /* not an object */
    ck_assert(jstrict_string_is(&b->items[1], "x\xc3\xa9"));
    ck_assert(!jstrict_string_is(&b->items[1], "x"));
    ck_assert(!jstrict_string_is(&b->items[0], "1"));
    uint64_t v;
    ck_assert(jstrict_uint64(&b->items[0], &v) && v == 1);
    ck_assert(!jstrict_uint64(&b->items[1], &v)); /* a string */
    ck_assert(!jstrict_uint64(&b->items[3], &v)); /* null */
    jstrict_doc_free(&d);
    jstrict_doc_free(&d); /* idempotent */
}
END_TEST

START_TEST(string_with_nul)
{
    struct jstrict_doc d;
    parse_ok(&d, "{\"a\\u0000b\":\"\\u0000\"}");
    ck_assert_uint_eq(d.root.members[0].key_len, 3);
    ck_assert(memcmp(d.root.members[0].key, "a\0b", 3) == 0);
    ck_assert_ptr_nonnull(jstrict_object_get(&d.root, "a\0b", 3));
    ck_assert_ptr_null(jstrict_object_get(&d.root, "a", 1));
    ck_assert_uint_eq(d.root.members[0].value.len, 1);
    ck_assert_uint_eq(d.root.members[0].value.str[0], 0);
    jstrict_doc_free(&d);
}
END_TEST

START_TEST(error_reasons_and_offsets)
{
    expect_error("{\"a\":1,\"a\":2}", 13, "duplicate key", 7);
    expect_error("{\"a\":1,\"b\":{\"c\":1,\"c\":2}}", 25, "duplicate key", 18);
    expect_error("{} {}", 5, "trailing data", 3);
    expect_error("\xef\xbb\xbf{}", 5, "byte order mark", 0);
    expect_error("01", 2, "leading zero", 1);
    expect_error("\"\\ud800\"", 8, "lone surrogate", 1);
    expect_error("\"ab\xc0\x80\"", 6, "invalid utf-8", 3);
    expect_error("\"a\nb\"", 5, "control character in string", 2);
    expect_error("\"abc", 4, "unterminated string", 0);
    expect_error("[1 2]", 5, "expected ',' or ']'", 3);
    expect_error("", 0, "expected value", 0);
    expect_error("{}\0", 3, "trailing data", 2);
}
END_TEST

static char *nested(unsigned depth, char open, char close)
{
    char *s = xmalloc(2 * (size_t)depth + 1);
    memset(s, open, depth);
    memset(s + depth, close, depth);
    s[2 * depth] = 0;
    return s;
}

START_TEST(depth_limit)
{
    struct jstrict_doc d;
    struct jstrict_error e;
    char *s = nested(JSTRICT_DEFAULT_DEPTH, '[', ']');
    ck_assert_int_eq(jstrict_parse(&d, (const uint8_t *)s, strlen(s), NULL, &e), 0);
    jstrict_doc_free(&d);
    free(s);

    s = nested(JSTRICT_DEFAULT_DEPTH + 1, '[', ']');
    ck_assert_int_eq(jstrict_parse(&d, (const uint8_t *)s, strlen(s), NULL, &e), -1);
    ck_assert_str_eq(e.reason, "nesting too deep");
    ck_assert_uint_eq(e.offset, JSTRICT_DEFAULT_DEPTH);
    free(s);

    /* objects count too, and a custom limit applies */
    const char *o = "{\"a\":{\"b\":[]}}";
    struct jstrict_limits lim = {1024, 2};
    ck_assert_int_eq(jstrict_parse(&d, (const uint8_t *)o, strlen(o), &lim, &e), -1);
    ck_assert_str_eq(e.reason, "nesting too deep");
    lim.max_depth = 3;
    ck_assert_int_eq(jstrict_parse(&d, (const uint8_t *)o, strlen(o), &lim, &e), 0);
    jstrict_doc_free(&d);

    /* far beyond the cap: rejected at the cap, no stack exhaustion */
    size_t n = 1u << 20;
    char *deep = xmalloc(n);
    memset(deep, '[', n);
    ck_assert_int_eq(jstrict_parse(&d, (const uint8_t *)deep, n, NULL, &e), -1);
    ck_assert_str_eq(e.reason, "nesting too deep");
    lim = (struct jstrict_limits){SIZE_MAX, 100000};
    ck_assert_int_eq(jstrict_parse(&d, (const uint8_t *)deep, n, &lim, &e), -1);
    ck_assert_str_eq(e.reason, "nesting too deep");
    ck_assert_uint_eq(e.offset, JSTRICT_DEPTH_LIMIT); /* clamped */
    free(deep);
}
END_TEST

START_TEST(length_limit)
{
    struct jstrict_doc d;
    struct jstrict_error e;
    struct jstrict_limits lim = {4, 8};
    ck_assert_int_eq(jstrict_parse(&d, T("[11]"), &lim, &e), 0);
    jstrict_doc_free(&d);
    ck_assert_int_eq(jstrict_parse(&d, T("[111]"), &lim, &e), -1);
    ck_assert_str_eq(e.reason, "input too large");
}
END_TEST

/* Many keys: duplicate detection stays n log n and finds a single duplicate among them. */
static char *many_keys(size_t n, bool dup)
{
    struct buf b = BUF_INIT;
    buf_append_str(&b, "{");
    for (size_t i = 0; i < n; i++)
        buf_printf(&b, "%s\"k%zu\":%zu", i ? "," : "", (i * 7919) % n, i);
    if (dup)
        buf_printf(&b, ",\"k%zu\":0", n / 2);
    buf_append_str(&b, "}");
    return buf_steal_str(&b);
}

START_TEST(many_keys_and_duplicate)
{
    struct jstrict_doc d;
    struct jstrict_error e;
    char *s = many_keys(100000, false);
    ck_assert_int_eq(jstrict_parse(&d, (const uint8_t *)s, strlen(s), NULL, &e), 0);
    ck_assert_uint_eq(d.root.len, 100000);
    const struct jstrict_node *v = jstrict_object_get(&d.root, "k0", 2);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v->num, "0");
    for (uint32_t i = 1; i < d.root.len; i++) {
        const struct jstrict_member *p = jstrict_member_in_key_order(&d.root, i - 1);
        const struct jstrict_member *q = jstrict_member_in_key_order(&d.root, i);
        size_t m = p->key_len < q->key_len ? p->key_len : q->key_len;
        int c = memcmp(p->key, q->key, m);
        ck_assert(c < 0 || (c == 0 && p->key_len < q->key_len));
    }
    jstrict_doc_free(&d);
    free(s);

    s = many_keys(100000, true);
    ck_assert_int_eq(jstrict_parse(&d, (const uint8_t *)s, strlen(s), NULL, &e), -1);
    ck_assert_str_eq(e.reason, "duplicate key");
    ck_assert_uint_eq(e.offset, strrchr(s, ',') + 1 - s);
    free(s);
}
END_TEST

START_TEST(large_flat_array)
{
    size_t n = 500000;
    struct buf b = BUF_INIT;
    buf_append_str(&b, "[");
    for (size_t i = 0; i < n; i++)
        buf_append_str(&b, i ? ",0" : "0");
    buf_append_str(&b, "]");
    struct jstrict_doc d;
    struct jstrict_error e;
    ck_assert_int_eq(jstrict_parse(&d, b.data, b.len, NULL, &e), 0);
    ck_assert_uint_eq(d.root.len, n);
    struct buf c = BUF_INIT;
    jstrict_canonical(&d.root, &c);
    ck_assert_uint_eq(c.len, b.len);
    ck_assert(memcmp(c.data, b.data, b.len) == 0);
    jstrict_doc_free(&d);
    buf_free(&b);
    buf_free(&c);
}
END_TEST

static char *canon(const char *s, size_t len)
{
    struct jstrict_doc d;
    struct jstrict_error e;
    int rc = jstrict_parse(&d, (const uint8_t *)s, len, NULL, &e);
    ck_assert_msg(rc == 0, "'%s': %s", s, e.reason);
    struct buf b = BUF_INIT;
    jstrict_canonical(&d.root, &b);
    jstrict_doc_free(&d);
    /* a fixed point, and never longer than its source */
    ck_assert_uint_le(b.len, len);
    ck_assert_int_eq(jstrict_parse(&d, b.data, b.len, NULL, &e), 0);
    struct buf b2 = BUF_INIT;
    jstrict_canonical(&d.root, &b2);
    ck_assert_uint_eq(b2.len, b.len);
    ck_assert(memcmp(b2.data, b.data, b.len) == 0);
    jstrict_doc_free(&d);
    buf_free(&b2);
    return buf_steal_str(&b);
}

static void canon_is(const char *in, const char *want)
{
    char *got = canon(in, strlen(in));
    ck_assert_str_eq(got, want);
    free(got);
}

START_TEST(canonical_equivalence)
{
    /* whitespace, member order and string escaping do not change the canonical bytes */
    static const char *const same[] = {
        "{\"a\":{\"c\":\"/\",\"d\":1},\"b\":[1,\"x\xc3\xa9\"]}",
        " { \"b\" : [ 1 , \"x\\u00e9\" ] ,\n\t\"a\" : { \"d\" : 1 , \"c\" : \"\\/\" } } ",
        "{\"\\u0062\":[1,\"\\u0078\\u00E9\"],\"a\":{\"\\u0064\":1,\"c\":\"\\u002f\"}}",
        "{\"a\":{\"d\":1,\"c\":\"/\"},\"b\":[1,\"x\xc3\xa9\"]}",
    };
    for (size_t i = 0; i < ARRAY_LEN(same); i++)
        canon_is(same[i], same[0]);

    canon_is("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"");
    canon_is(" [ ] ", "[]");
    canon_is(" { } ", "{}");
    canon_is(" true ", "true");
}
END_TEST

START_TEST(canonical_difference)
{
    static const char *const pairs[][2] = {
        {"1", "1.0"},
        {"1e0", "1"},
        {"-0", "0"},
        {"1E2", "1e2"},
        {"[1,2]", "[2,1]"},
        {"\"a\"", "\"b\""},
        {"{\"a\":1}", "{\"A\":1}"},
        {"null", "false"},
        {"{\"a\":[]}", "{\"a\":{}}"},
        {"\"\\u0000\"", "\"\""},
    };
    for (size_t i = 0; i < ARRAY_LEN(pairs); i++) {
        char *a = canon(pairs[i][0], strlen(pairs[i][0]));
        char *b = canon(pairs[i][1], strlen(pairs[i][1]));
        ck_assert_msg(strcmp(a, b) != 0, "%s vs %s", pairs[i][0], pairs[i][1]);
        free(a);
        free(b);
    }
}
END_TEST

START_TEST(canonical_escaping)
{
    canon_is("\"\\u0001\\u001F\\\"\\\\\\b\\f\\n\\r\\t\\/\x7f\\u007f\\u0000\"",
             "\"\\u0001\\u001f\\\"\\\\\\b\\f\\n\\r\\t/\x7f\x7f\\u0000\"");
    canon_is("\"\\u0008\\u000c\\u000A\\u000d\\u0009\"", "\"\\b\\f\\n\\r\\t\"");
    canon_is("\"\\u20ac\\uD800\\uDC00\"", "\"\xe2\x82\xac\xf0\x90\x80\x80\"");
    canon_is("{\"\\n\":\"\\\"\"}", "{\"\\n\":\"\\\"\"}");
}
END_TEST

START_TEST(canonical_key_order)
{
    /* bytewise: "" < "Z" < "a" < "a\0" < "aa" < "b" < "é" (0xC3 0xA9) */
    canon_is("{\"\xc3\xa9\":6,\"b\":5,\"aa\":4,\"a\\u0000\":3,\"a\":2,\"Z\":1,\"\":0}",
             "{\"\":0,\"Z\":1,\"a\":2,\"a\\u0000\":3,\"aa\":4,\"b\":5,\"\xc3\xa9\":6}");
    /* nested objects are sorted too, arrays keep their order */
    canon_is("[{\"b\":{\"y\":1,\"x\":2},\"a\":0},{\"d\":1,\"c\":2}]",
             "[{\"a\":0,\"b\":{\"x\":2,\"y\":1}},{\"c\":2,\"d\":1}]");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_strict");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, conformance_table, 0, (int)ARRAY_LEN(conformance));
    tcase_add_test(tc, number_facts);
    tcase_add_test(tc, tree_shape);
    tcase_add_test(tc, string_with_nul);
    tcase_add_test(tc, error_reasons_and_offsets);
    tcase_add_test(tc, depth_limit);
    tcase_add_test(tc, length_limit);
    tcase_add_test(tc, many_keys_and_duplicate);
    tcase_add_test(tc, large_flat_array);
    tcase_add_test(tc, canonical_equivalence);
    tcase_add_test(tc, canonical_difference);
    tcase_add_test(tc, canonical_escaping);
    tcase_add_test(tc, canonical_key_order);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
