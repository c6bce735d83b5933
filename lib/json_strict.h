/*
 * json_strict: a bounded, strict JSON (RFC 8259) parser for untrusted bytes, and the canonical
 * form of a parsed value.
 *
 * Why not jansson: it rejects integers >= 2^63, normalises numbers and forgets their literal text;
 * the duty API needs the literal (1 and 1.0 are different payloads, 2^64 is a valid but
 * out-of-range height) and a byte-exact canonical form.
 *
 * Accepted: exactly one JSON value with optional whitespace (space, tab, LF, CR) around it.
 * Rejected, with a short reason and the byte offset: anything after the value; a leading UTF-8
 * BOM; NUL or any byte outside the grammar; strings with invalid UTF-8 (overlong forms, UTF-8
 * encoded surrogates, code points above U+10FFFF, truncated sequences), unescaped control
 * characters (< 0x20), unknown escapes, \u escapes that are lone or mispaired surrogates;
 * numbers outside the RFC grammar (leading zeros, leading '+', '.5', '1.', '1e', NaN, Infinity,
 * hex); duplicate keys in any object at any depth (compared after unescaping); nesting deeper than
 * max_depth; input longer than max_len.
 *
 * Cost: linear time in the input, except duplicate-key detection which sorts each object's keys
 * (O(k log k) comparisons, bytewise). The recursion depth is bounded by max_depth (clamped to
 * JSTRICT_DEPTH_LIMIT). Memory: one arena per document holding 24 bytes per value, 44 per
 * object member and the unescaped bytes of strings and number literals (never more than the
 * input), plus transient scratch of the same order while containers are open (worst case seen:
 * 1 MiB of "[0,0,...]" peaks near 26 MB). Allocation failure is fatal (as for lib/buf).
 *
 * The module is pure: it never logs or prints. Its names use the prefix jstrict_ (JSTRICT_)
 * because json_ and JSON_ are jansson's, which the API worker includes too.
 */
#ifndef AEQUA_JSON_STRICT_H
#define AEQUA_JSON_STRICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define JSTRICT_DEFAULT_DEPTH 64
#define JSTRICT_DEPTH_LIMIT   1024 /* max_depth is clamped to this (stack bound) */

enum jstrict_kind {
    JSTRICT_NULL,
    JSTRICT_BOOL,
    JSTRICT_NUMBER,
    JSTRICT_STRING,
    JSTRICT_ARRAY,
    JSTRICT_OBJECT,
};

struct jstrict_member;

struct jstrict_node {
    enum jstrict_kind kind;
    /* STRING: unescaped bytes; NUMBER: literal characters; ARRAY: items; OBJECT: members. */
    uint32_t len;
    uint32_t offset; /* byte offset of the value's first character in the input */
    bool boolean;    /* BOOL */
    bool is_uint;    /* NUMBER: a non-negative integer literal (no '-', no fraction, no exponent) */
    union {
        const uint8_t *str;                   /* STRING: UTF-8, may contain NUL; NUL-terminated */
        const char *num;                      /* NUMBER: the literal text; NUL-terminated */
        const struct jstrict_node *items;     /* ARRAY: len items in input order */
        const struct jstrict_member *members; /* OBJECT: len members in input order */
    };
};

struct jstrict_member {
    const uint8_t *key; /* unescaped UTF-8, may contain NUL; NUL-terminated */
    uint32_t key_len;
    uint32_t key_offset; /* byte offset of the key's opening quote */
    struct jstrict_node value;
};

struct jstrict_limits {
    size_t max_len;     /* longest accepted input (at most UINT32_MAX) */
    unsigned max_depth; /* deepest nesting of arrays/objects; a top-level container is depth 1 */
};

struct jstrict_error {
    const char *reason; /* static string, e.g. "duplicate key"; NULL when there is no error */
    size_t offset;      /* byte offset where the problem was detected */
};

struct jstrict_block;

/* A parsed document: the root value and the arena that owns every node and string in it. */
struct jstrict_doc {
    struct jstrict_node root;
    struct jstrict_block *blocks;
};

/*
 * Parse len bytes of untrusted input. lim NULL means {UINT32_MAX, JSTRICT_DEFAULT_DEPTH}.
 * Returns 0 and fills doc, or -1 and fills err (if not NULL). In both cases doc must later be
 * released with jstrict_doc_free (after an error it holds nothing, but freeing it is always safe).
 */
int jstrict_parse(struct jstrict_doc *doc, const uint8_t *in, size_t len,
                  const struct jstrict_limits *lim, struct jstrict_error *err);
void jstrict_doc_free(struct jstrict_doc *doc);

/* The member value of an object with this exact key (bytes), or NULL (also if obj is no object). */
const struct jstrict_node *jstrict_object_get(const struct jstrict_node *obj, const void *key,
                                              size_t key_len);

/* The i-th member of an object (i < obj->len) in bytewise key order (see jstrict_canonical). */
const struct jstrict_member *jstrict_member_in_key_order(const struct jstrict_node *obj,
                                                         uint32_t i);

/*
 * True if n is a non-negative integer literal whose value fits in uint64_t; the value goes to
 * *out. False for anything else, including integer literals of 2^64 and beyond (n->is_uint tells
 * those apart from non-integers).
 */
bool jstrict_uint64(const struct jstrict_node *n, uint64_t *out);

/* True if n is a string whose bytes are exactly the C string s. */
bool jstrict_string_is(const struct jstrict_node *n, const char *s);

/*
 * Append the canonical bytes of a value to out:
 *   - minified: no whitespace at all;
 *   - object members sorted by the bytewise (memcmp, then shorter first) order of their
 *     unescaped UTF-8 keys (keys are unique, so the order is total);
 *   - strings (keys and values) re-escaped minimally and deterministically: '"' as \", '\' as \\,
 *     the control characters 0x08 0x0C 0x0A 0x0D 0x09 as \b \f \n \r \t, every other byte below
 *     0x20 as \u00xx (lower-case hex); every other byte, including DEL and non-ASCII UTF-8,
 *     written raw;
 *   - numbers written exactly as their literal text in the input (1, 1.0 and 1e0 stay distinct);
 *   - true, false, null as themselves.
 * Two texts that differ only in whitespace, member order or string escaping have identical
 * canonical bytes; the canonical bytes parse again to the same canonical bytes, and are never
 * longer than the input they came from.
 */
void jstrict_canonical(const struct jstrict_node *n, struct buf *out);

#endif
