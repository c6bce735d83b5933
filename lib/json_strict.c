/*
 * json_strict: recursive descent with a depth cap, one arena per document, and two scratch stacks
 * (values of open arrays, members of open objects). A container's children sit contiguously on
 * top of their scratch stack while it is open (inner containers close first), and are copied into
 * the arena once when it closes, so every value is copied a bounded number of times.
 */
#include "lib/json_strict.h"
#include "lib/util.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ---- */

struct jstrict_block {
    struct jstrict_block *next;
    size_t cap, used;
    alignas(16) unsigned char data[];
};

#define ARENA_FIRST_BLOCK 4096

static void *arena_alloc(struct jstrict_doc *d, size_t n, size_t align)
{
    struct jstrict_block *b = d->blocks;
    if (b) {
        size_t at = (b->used + align - 1) & ~(align - 1);
        if (at <= b->cap && b->cap - at >= n) {
            b->used = at + n;
            return b->data + at;
        }
    }
    size_t cap = b ? b->cap * 2 : ARENA_FIRST_BLOCK;
    if (cap < n)
        cap = n;
    struct jstrict_block *nb = xmalloc(sizeof(*nb) + cap);
    nb->next = b;
    nb->cap = cap;
    nb->used = n;
    d->blocks = nb;
    return nb->data;
}

void jstrict_doc_free(struct jstrict_doc *d)
{
    struct jstrict_block *b = d->blocks;
    while (b) {
        struct jstrict_block *next = b->next;
        free(b);
        b = next;
    }
    d->blocks = NULL;
    memset(&d->root, 0, sizeof(d->root));
}

/* ---- parser state ---- */

struct parser {
    const uint8_t *in;
    size_t len, pos;
    unsigned max_depth;
    struct jstrict_doc *doc;
    struct jstrict_error err;
    /* scratch stacks */
    struct jstrict_node *vals;
    size_t nvals, capvals;
    struct jstrict_member *mems;
    size_t nmems, capmems;
    uint32_t *tmp; /* merge-sort buffer */
    size_t captmp;
};

static int fail(struct parser *p, size_t at, const char *reason)
{
    if (!p->err.reason) {
        p->err.reason = reason;
        p->err.offset = at;
    }
    return -1;
}

static void skip_ws(struct parser *p)
{
    while (p->pos < p->len) {
        uint8_t c = p->in[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static void push_val(struct parser *p, const struct jstrict_node *n)
{
    if (p->nvals == p->capvals) {
        p->capvals = p->capvals ? p->capvals * 2 : 64;
        p->vals = xrealloc(p->vals, p->capvals * sizeof(*p->vals));
    }
    p->vals[p->nvals++] = *n;
}

static struct jstrict_member *push_mem(struct parser *p)
{
    if (p->nmems == p->capmems) {
        p->capmems = p->capmems ? p->capmems * 2 : 32;
        p->mems = xrealloc(p->mems, p->capmems * sizeof(*p->mems));
    }
    return &p->mems[p->nmems++];
}

static int parse_value(struct parser *p, unsigned depth, struct jstrict_node *out);

/* ---- strings ---- */

/* Four hex digits at in[at..at+4) (bounds already checked by the caller's end). */
static int read_hex4(const uint8_t *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_digit(s[i]);
        if (h < 0)
            return -1;
        v = (v << 4) | (unsigned)h;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(uint8_t *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/*
 * Length of the well-formed UTF-8 sequence starting at s (n bytes available), or 0.
 * RFC 3629 table: the second byte's range depends on the lead byte, which excludes overlong
 * forms, surrogates (ED A0..BF) and code points above U+10FFFF (F4 90.., F5..FF).
 */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    static const struct {
        uint8_t lo, hi; /* lead byte range */
        uint8_t len;
        uint8_t lo2, hi2; /* second byte range */
    } rows[] = {
        {0xC2, 0xDF, 2, 0x80, 0xBF}, {0xE0, 0xE0, 3, 0xA0, 0xBF}, {0xE1, 0xEC, 3, 0x80, 0xBF},
        {0xED, 0xED, 3, 0x80, 0x9F}, {0xEE, 0xEF, 3, 0x80, 0xBF}, {0xF0, 0xF0, 4, 0x90, 0xBF},
        {0xF1, 0xF3, 4, 0x80, 0xBF}, {0xF4, 0xF4, 4, 0x80, 0x8F},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        if (s[0] < rows[i].lo || s[0] > rows[i].hi)
            continue;
        size_t l = rows[i].len;
        if (n < l || s[1] < rows[i].lo2 || s[1] > rows[i].hi2)
            return 0;
        for (size_t k = 2; k < l; k++)
            if (s[k] < 0x80 || s[k] > 0xBF)
                return 0;
        return l;
    }
    return 0;
}

/*
 * A string starting at the opening quote at p->pos. Pass 1 finds the closing quote (a backslash
 * always consumes the next byte); pass 2 validates and unescapes into the arena. The unescaped
 * form is never longer than the raw one.
 */
static int parse_string(struct parser *p, const uint8_t **str, uint32_t *slen)
{
    size_t start = p->pos + 1, end = start;
    while (end < p->len && p->in[end] != '"') {
        if (p->in[end] == '\\')
            end++;
        end++;
    }
    if (end >= p->len)
        return fail(p, p->pos, "unterminated string");

    uint8_t *o = arena_alloc(p->doc, end - start + 1, 1);
    size_t olen = 0;
    const uint8_t *in = p->in;
    size_t i = start;
    while (i < end) {
        uint8_t c = in[i];
        if (c < 0x20)
            return fail(p, i, "control character in string");
        if (c >= 0x80) {
            size_t l = utf8_seq(in + i, end - i);
            if (l == 0)
                return fail(p, i, "invalid utf-8");
            memcpy(o + olen, in + i, l);
            olen += l;
            i += l;
            continue;
        }
        if (c != '\\') {
            o[olen++] = c;
            i++;
            continue;
        }
        /* escape: in[i + 1] exists because pass 1 stopped at an unescaped quote */
        uint8_t e = in[i + 1];
        static const char esc_in[] = "\"\\/bfnrt";
        static const char esc_out[] = "\"\\/\b\f\n\r\t";
        const char *hit = e ? memchr(esc_in, e, sizeof(esc_in) - 1) : NULL;
        if (hit) {
            o[olen++] = (uint8_t)esc_out[hit - esc_in];
            i += 2;
            continue;
        }
        if (e != 'u')
            return fail(p, i, "invalid escape");
        unsigned cp;
        if (end - i < 6 || read_hex4(in + i + 2, &cp) < 0)
            return fail(p, i, "invalid \\u escape");
        size_t esc_len = 6;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return fail(p, i, "lone surrogate");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo;
            if (end - i < 12 || in[i + 6] != '\\' || in[i + 7] != 'u' ||
                read_hex4(in + i + 8, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
                return fail(p, i, "lone surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            esc_len = 12;
        }
        olen += put_utf8(o + olen, cp);
        i += esc_len;
    }
    o[olen] = 0;
    p->pos = end + 1;
    *str = o;
    *slen = (uint32_t)olen;
    return 0;
}

/* ---- numbers ---- */

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static int parse_number(struct parser *p, struct jstrict_node *out)
{
    const uint8_t *in = p->in;
    size_t start = p->pos, i = start;
    bool neg = false, frac = false, exp = false;
    if (i < p->len && in[i] == '-') {
        neg = true;
        i++;
    }
    if (i >= p->len || !is_digit(in[i]))
        return fail(p, i, "invalid number");
    if (in[i] == '0') {
        i++;
        if (i < p->len && is_digit(in[i]))
            return fail(p, i, "leading zero");
    } else {
        while (i < p->len && is_digit(in[i]))
            i++;
    }
    if (i < p->len && in[i] == '.') {
        frac = true;
        i++;
        if (i >= p->len || !is_digit(in[i]))
            return fail(p, i, "invalid number");
        while (i < p->len && is_digit(in[i]))
            i++;
    }
    if (i < p->len && (in[i] == 'e' || in[i] == 'E')) {
        exp = true;
        i++;
        if (i < p->len && (in[i] == '+' || in[i] == '-'))
            i++;
        if (i >= p->len || !is_digit(in[i]))
            return fail(p, i, "invalid number");
        while (i < p->len && is_digit(in[i]))
            i++;
    }
    out->kind = JSTRICT_NUMBER;
    out->len = (uint32_t)(i - start);
    char *t = arena_alloc(p->doc, out->len + 1, 1);
    memcpy(t, in + start, out->len);
    t[out->len] = 0;
    out->num = t;
    out->is_uint = !neg && !frac && !exp;
    p->pos = i;
    return 0;
}

/* ---- containers ---- */

static int key_cmp(const struct jstrict_member *a, const struct jstrict_member *b)
{
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = n ? memcmp(a->key, b->key, n) : 0;
    if (c)
        return c;
    return (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

/*
 * Bottom-up merge sort of member indices by key (stable, O(k log k) worst case, unlike a
 * quicksort an adversary could make quadratic).
 */
static void sort_members(struct parser *p, const struct jstrict_member *m, uint32_t *idx, size_t k)
{
    if (p->captmp < k) {
        p->captmp = k;
        p->tmp = xrealloc(p->tmp, k * sizeof(*p->tmp));
    }
    uint32_t *a = idx, *b = p->tmp;
    for (size_t w = 1; w < k; w *= 2) {
        for (size_t lo = 0; lo < k; lo += 2 * w) {
            size_t mid = lo + w < k ? lo + w : k;
            size_t hi = lo + 2 * w < k ? lo + 2 * w : k;
            size_t x = lo, y = mid, o = lo;
            while (x < mid && y < hi)
                b[o++] = key_cmp(&m[a[y]], &m[a[x]]) < 0 ? a[y++] : a[x++];
            while (x < mid)
                b[o++] = a[x++];
            while (y < hi)
                b[o++] = a[y++];
        }
        uint32_t *t = a;
        a = b;
        b = t;
    }
    if (a != idx)
        memcpy(idx, a, k * sizeof(*idx));
}

static int parse_array(struct parser *p, unsigned depth, struct jstrict_node *out)
{
    size_t base = p->nvals;
    p->pos++; /* '[' */
    skip_ws(p);
    if (p->pos < p->len && p->in[p->pos] == ']') {
        p->pos++;
    } else {
        for (;;) {
            struct jstrict_node v;
            if (parse_value(p, depth, &v) < 0)
                return -1;
            push_val(p, &v);
            skip_ws(p);
            if (p->pos >= p->len)
                return fail(p, p->pos, "unterminated array");
            uint8_t c = p->in[p->pos++];
            if (c == ']')
                break;
            if (c != ',')
                return fail(p, p->pos - 1, "expected ',' or ']'");
        }
    }
    size_t k = p->nvals - base;
    out->kind = JSTRICT_ARRAY;
    out->len = (uint32_t)k;
    if (k) {
        struct jstrict_node *items =
            arena_alloc(p->doc, k * sizeof(*items), alignof(struct jstrict_node));
        memcpy(items, p->vals + base, k * sizeof(*items));
        out->items = items;
    }
    p->nvals = base;
    return 0;
}

static int parse_object(struct parser *p, unsigned depth, struct jstrict_node *out)
{
    size_t base = p->nmems;
    p->pos++; /* '{' */
    skip_ws(p);
    if (p->pos < p->len && p->in[p->pos] == '}') {
        p->pos++;
    } else {
        for (;;) {
            if (p->pos >= p->len || p->in[p->pos] != '"')
                return fail(p, p->pos, "expected key");
            /* parse into locals: push_mem may move the scratch stack */
            const uint8_t *key;
            uint32_t key_len, key_offset = (uint32_t)p->pos;
            if (parse_string(p, &key, &key_len) < 0)
                return -1;
            skip_ws(p);
            if (p->pos >= p->len || p->in[p->pos] != ':')
                return fail(p, p->pos, "expected ':'");
            p->pos++;
            struct jstrict_node v;
            if (parse_value(p, depth, &v) < 0)
                return -1;
            struct jstrict_member *m = push_mem(p);
            m->key = key;
            m->key_len = key_len;
            m->key_offset = key_offset;
            m->value = v;
            skip_ws(p);
            if (p->pos >= p->len)
                return fail(p, p->pos, "unterminated object");
            uint8_t c = p->in[p->pos++];
            if (c == '}')
                break;
            if (c != ',')
                return fail(p, p->pos - 1, "expected ',' or '}'");
            skip_ws(p);
        }
    }
    size_t k = p->nmems - base;
    out->kind = JSTRICT_OBJECT;
    out->len = (uint32_t)k;
    if (k) {
        /* members, then their key order: one allocation (see sorted_of) */
        struct jstrict_member *m = arena_alloc(p->doc, k * (sizeof(*m) + sizeof(uint32_t)),
                                               alignof(struct jstrict_member));
        memcpy(m, p->mems + base, k * sizeof(*m));
        uint32_t *idx = (uint32_t *)(m + k);
        for (size_t i = 0; i < k; i++)
            idx[i] = (uint32_t)i;
        sort_members(p, m, idx, k);
        for (size_t i = 1; i < k; i++) {
            if (key_cmp(&m[idx[i - 1]], &m[idx[i]]) == 0) {
                uint32_t later = idx[i - 1] > idx[i] ? idx[i - 1] : idx[i];
                return fail(p, m[later].key_offset, "duplicate key");
            }
        }
        out->members = m;
    }
    p->nmems = base;
    return 0;
}

/* ---- values ---- */

static int parse_literal(struct parser *p, const char *word, struct jstrict_node *out,
                         enum jstrict_kind kind, bool b)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->in + p->pos, word, n) != 0)
        return fail(p, p->pos, "invalid value");
    out->kind = kind;
    out->boolean = b;
    p->pos += n;
    return 0;
}

static int parse_value(struct parser *p, unsigned depth, struct jstrict_node *out)
{
    skip_ws(p);
    memset(out, 0, sizeof(*out));
    if (p->pos >= p->len)
        return fail(p, p->pos, "expected value");
    out->offset = (uint32_t)p->pos;
    uint8_t c = p->in[p->pos];
    switch (c) {
    case '{':
    case '[':
        if (depth >= p->max_depth)
            return fail(p, p->pos, "nesting too deep");
        return c == '{' ? parse_object(p, depth + 1, out) : parse_array(p, depth + 1, out);
    case '"':
        out->kind = JSTRICT_STRING;
        return parse_string(p, &out->str, &out->len);
    case 't':
        return parse_literal(p, "true", out, JSTRICT_BOOL, true);
    case 'f':
        return parse_literal(p, "false", out, JSTRICT_BOOL, false);
    case 'n':
        return parse_literal(p, "null", out, JSTRICT_NULL, false);
    default:
        if (c == '-' || is_digit(c))
            return parse_number(p, out);
        return fail(p, p->pos, "invalid value");
    }
}

int jstrict_parse(struct jstrict_doc *doc, const uint8_t *in, size_t len,
                  const struct jstrict_limits *lim, struct jstrict_error *err)
{
    memset(doc, 0, sizeof(*doc));
    size_t max_len = lim ? lim->max_len : UINT32_MAX;
    unsigned max_depth = lim ? lim->max_depth : JSTRICT_DEFAULT_DEPTH;
    if (max_len > UINT32_MAX)
        max_len = UINT32_MAX;
    if (max_depth > JSTRICT_DEPTH_LIMIT)
        max_depth = JSTRICT_DEPTH_LIMIT;

    struct parser p = {.in = in, .len = len, .max_depth = max_depth, .doc = doc};
    int rc = -1;
    if (len > max_len) {
        fail(&p, max_len, "input too large");
    } else if (len >= 3 && in[0] == 0xEF && in[1] == 0xBB && in[2] == 0xBF) {
        fail(&p, 0, "byte order mark");
    } else if (parse_value(&p, 0, &doc->root) == 0) {
        skip_ws(&p);
        if (p.pos != p.len)
            fail(&p, p.pos, "trailing data");
        else
            rc = 0;
    }
    free(p.vals);
    free(p.mems);
    free(p.tmp);
    if (rc < 0)
        jstrict_doc_free(doc);
    if (err)
        *err = p.err;
    return rc;
}

/* ---- access ---- */

/* An object's key order is stored right after its members (parse_object). */
static const uint32_t *sorted_of(const struct jstrict_node *obj)
{
    return (const uint32_t *)(obj->members + obj->len);
}

const struct jstrict_member *jstrict_member_in_key_order(const struct jstrict_node *obj, uint32_t i)
{
    return &obj->members[sorted_of(obj)[i]];
}

bool jstrict_uint64(const struct jstrict_node *n, uint64_t *out)
{
    if (n->kind != JSTRICT_NUMBER || !n->is_uint)
        return false;
    uint64_t v = 0;
    for (uint32_t i = 0; i < n->len; i++) {
        unsigned d = (unsigned)(n->num[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

const struct jstrict_node *jstrict_object_get(const struct jstrict_node *obj, const void *key,
                                              size_t key_len)
{
    if (!obj || obj->kind != JSTRICT_OBJECT || key_len > UINT32_MAX)
        return NULL;
    struct jstrict_member want = {.key = key, .key_len = (uint32_t)key_len};
    size_t lo = 0, hi = obj->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct jstrict_member *m = &obj->members[sorted_of(obj)[mid]];
        int c = key_cmp(m, &want);
        if (c == 0)
            return &m->value;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

bool jstrict_string_is(const struct jstrict_node *n, const char *s)
{
    size_t l = strlen(s);
    return n && n->kind == JSTRICT_STRING && n->len == l && memcmp(n->str, s, l) == 0;
}

/* ---- canonical form ---- */

static void canon_string(const uint8_t *s, size_t n, struct buf *out)
{
    static const char hex[] = "0123456789abcdef";
    buf_append(out, "\"", 1);
    size_t run = 0; /* start of the pending run of bytes written raw */
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_append(out, s + run, i - run);
        run = i + 1;
        char e[6] = {'\\', 0};
        size_t el = 2;
        switch (c) {
        case '"':
            e[1] = '"';
            break;
        case '\\':
            e[1] = '\\';
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        default:
            memcpy(e + 1, "u00", 3);
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            el = 6;
        }
        buf_append(out, e, el);
    }
    buf_append(out, s + run, n - run);
    buf_append(out, "\"", 1);
}

void jstrict_canonical(const struct jstrict_node *n, struct buf *out)
{
    switch (n->kind) {
    case JSTRICT_NULL:
        buf_append(out, "null", 4);
        break;
    case JSTRICT_BOOL:
        buf_append_str(out, n->boolean ? "true" : "false");
        break;
    case JSTRICT_NUMBER:
        buf_append(out, n->num, n->len);
        break;
    case JSTRICT_STRING:
        canon_string(n->str, n->len, out);
        break;
    case JSTRICT_ARRAY:
        buf_append(out, "[", 1);
        for (uint32_t i = 0; i < n->len; i++) {
            if (i)
                buf_append(out, ",", 1);
            jstrict_canonical(&n->items[i], out);
        }
        buf_append(out, "]", 1);
        break;
    case JSTRICT_OBJECT:
        buf_append(out, "{", 1);
        for (uint32_t i = 0; i < n->len; i++) {
            const struct jstrict_member *m = &n->members[sorted_of(n)[i]];
            if (i)
                buf_append(out, ",", 1);
            canon_string(m->key, m->key_len, out);
            buf_append(out, ":", 1);
            jstrict_canonical(&m->value, out);
        }
        buf_append(out, "}", 1);
        break;
    }
}
