#include "workers/api/proxy.h"
#include "lib/util.h"

#include <string.h>
#include <strings.h>

#define CHUNK_LINE_MAX    4096  /* bytes of a chunk size line with its extensions */
#define CHUNK_TRAILER_MAX 16384 /* bytes of the trailer section */
#define CHUNK_SIZE_DIGITS 15    /* hex digits of a chunk size: below 2^60 */

/* Hop-by-hop headers by name; every name that starts with "proxy-" is one too. */
static const char *const hop_by_hop[] = {
    "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
};

static bool span_eq(const uint8_t *p, struct http1_span s, const char *name)
{
    return strlen(name) == s.len && strncasecmp((const char *)p + s.off, name, s.len) == 0;
}

/* Whether the comma-separated values list the header name as a token. */
static bool named_in(const uint8_t *p, const struct http1_span *values, size_t n,
                     struct http1_span name)
{
    for (size_t k = 0; k < n; k++) {
        size_t i = values[k].off, end = (size_t)values[k].off + values[k].len;
        while (i < end) {
            while (i < end && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
                i++;
            size_t s = i;
            while (i < end && p[i] != ',' && p[i] != ' ' && p[i] != '\t')
                i++;
            if (i - s == name.len &&
                strncasecmp((const char *)p + s, (const char *)p + name.off, name.len) == 0)
                return true;
        }
    }
    return false;
}

static bool is_hop_by_hop(const uint8_t *p, struct http1_span name,
                          const struct http1_span *connection, size_t nconnection)
{
    if (name.len >= 6 && strncasecmp((const char *)p + name.off, "proxy-", 6) == 0)
        return true;
    for (size_t i = 0; i < ARRAY_LEN(hop_by_hop); i++)
        if (span_eq(p, name, hop_by_hop[i]))
            return true;
    return named_in(p, connection, nconnection, name);
}

static void append_header(struct buf *out, const uint8_t *p, struct http1_span name,
                          struct http1_span value)
{
    buf_append(out, p + name.off, name.len);
    buf_append(out, ": ", 2);
    buf_append(out, p + value.off, value.len);
    buf_append(out, "\r\n", 2);
}

/* ---- the request upstream ---- */

void proxy_request_head(const uint8_t *p, const struct http1_request *r, const struct http_url *up,
                        const char *client_addr, struct buf *out)
{
    struct http1_span host = {0, 0};
    bool have_host = false, have_proto = false, have_fwd_host = false;
    buf_append(out, p + r->method.off, r->method.len);
    buf_printf(out, " %s", up->base);
    buf_append(out, p + r->target.off, r->target.len);
    buf_printf(out, " HTTP/1.1\r\nHost: %s\r\n", up->authority);
    buf_append_str(out, "X-Forwarded-For: ");
    for (size_t i = 0; i < r->nheaders; i++) {
        if (span_eq(p, r->name[i], "x-forwarded-for") && r->value[i].len) {
            buf_append(out, p + r->value[i].off, r->value[i].len);
            buf_append(out, ", ", 2);
        }
    }
    buf_printf(out, "%s\r\n", client_addr);
    for (size_t i = 0; i < r->nheaders; i++) {
        struct http1_span n = r->name[i];
        if (is_hop_by_hop(p, n, r->connection, r->nconnection) || span_eq(p, n, "x-forwarded-for"))
            continue;
        if (span_eq(p, n, "host")) {
            if (!have_host)
                host = r->value[i];
            have_host = true;
            continue;
        }
        have_proto |= span_eq(p, n, "x-forwarded-proto");
        have_fwd_host |= span_eq(p, n, "x-forwarded-host");
        append_header(out, p, n, r->value[i]);
    }
    if (!have_proto)
        buf_append_str(out, "X-Forwarded-Proto: http\r\n");
    if (!have_fwd_host && host.len) {
        buf_append_str(out, "X-Forwarded-Host: ");
        buf_append(out, p + host.off, host.len);
        buf_append(out, "\r\n", 2);
    }
    if (r->has_length)
        buf_printf(out, "Content-Length: %llu\r\n", (unsigned long long)r->content_length);
    buf_append_str(out, "Connection: close\r\n\r\n");
}

/* ---- the response ---- */

static enum proxy_result bad(struct proxy_response *r, const char *why)
{
    r->detail = why;
    return PROXY_BAD;
}

/* "HTTP/1.x SSS[ reason]" */
static enum proxy_result parse_status_line(const uint8_t *p, size_t s, size_t len,
                                           struct proxy_response *r)
{
    const uint8_t *l = p + s;
    uint64_t status;
    if (len < 12 || memcmp(l, "HTTP/1.", 7) != 0 || l[7] < '0' || l[7] > '9' || l[8] != ' ' ||
        http1_digits(l + 9, 3, &status) < 0 || (len > 12 && l[12] != ' '))
        return bad(r, "malformed status line");
    if (status < 100 || status > 599)
        return bad(r, "status out of range");
    for (size_t i = 13; i < len; i++)
        if ((l[i] < 0x20 && l[i] != '\t') || l[i] == 0x7f)
            return bad(r, "control byte in the reason phrase");
    r->status = (int)status;
    r->reason = len > 13 ? (struct http1_span){(uint32_t)(s + 13), (uint32_t)(len - 13)}
                         : (struct http1_span){(uint32_t)s, 0};
    return PROXY_OK;
}

/* Whether the last transfer coding of a Transfer-Encoding value is chunked. */
static bool ends_chunked(const uint8_t *p, struct http1_span v)
{
    struct http1_span last = v;
    for (uint32_t i = 0; i < v.len; i++) {
        if (p[v.off + i] == ',')
            last = (struct http1_span){v.off + i + 1, v.len - i - 1};
    }
    while (last.len > 0 && (p[last.off] == ' ' || p[last.off] == '\t')) {
        last.off++;
        last.len--;
    }
    return span_eq(p, last, "chunked");
}

enum proxy_result proxy_response_parse(const uint8_t *p, size_t n, bool head_request,
                                       struct proxy_response *r)
{
    memset(r, 0, sizeof(*r));
    size_t limit = n < PROXY_HEAD_MAX ? n : PROXY_HEAD_MAX;
    size_t end = http1_head_end(p, 0, limit, false);
    if (end == 0)
        return n < PROXY_HEAD_MAX ? PROXY_INCOMPLETE : bad(r, "response head too large");
    r->head_len = end;
    size_t pos = 0, s, len;
    if (http1_next_line(p, &pos, end, &s, &len) < 0)
        return bad(r, "stray CR in the status line");
    enum proxy_result res = parse_status_line(p, s, len, r);
    if (res != PROXY_OK)
        return res;
    if (r->status == 101)
        return bad(r, "101 Switching Protocols (upgrades are not proxied)");
    if (r->status < 200)
        return PROXY_INTERIM;

    bool chunked = false, have_te = false, have_length = false;
    for (;;) {
        if (http1_next_line(p, &pos, end, &s, &len) < 0)
            return bad(r, "stray CR in a header line");
        if (len == 0)
            break;
        if (r->nheaders == PROXY_HEADERS_MAX)
            return bad(r, "too many header lines");
        struct http1_span name, value;
        if (p[s] == ' ' || p[s] == '\t' || http1_split_header(p, s, len, &name, &value) < 0)
            return bad(r, "malformed header line");
        r->name[r->nheaders] = name;
        r->value[r->nheaders] = value;
        r->nheaders++;
        if (span_eq(p, name, "connection")) {
            r->connection[r->nconnection++] = value;
        } else if (span_eq(p, name, "transfer-encoding")) {
            have_te = true;
            chunked = ends_chunked(p, value);
        } else if (span_eq(p, name, "content-length")) {
            uint64_t v;
            if (http1_digits(p + value.off, value.len, &v) < 0 || (have_length && v != r->length))
                return bad(r, "malformed or conflicting Content-Length");
            r->length = v;
            have_length = true;
        }
    }
    if (head_request || r->status == 204 || r->status == 304)
        r->body = PROXY_BODY_NONE;
    else if (have_te)
        r->body = chunked ? PROXY_BODY_CHUNKED : PROXY_BODY_EOF;
    else if (have_length)
        r->body = r->length ? PROXY_BODY_LENGTH : PROXY_BODY_NONE;
    else
        r->body = PROXY_BODY_EOF;
    return PROXY_OK;
}

enum proxy_out proxy_response_head(const uint8_t *p, const struct proxy_response *r,
                                   unsigned client_minor, bool keep_alive, struct buf *out,
                                   bool *close)
{
    enum proxy_out mode = PROXY_OUT_AS_IS;
    if (r->body == PROXY_BODY_CHUNKED || r->body == PROXY_BODY_EOF)
        mode = client_minor >= 1 ? PROXY_OUT_CHUNKED : PROXY_OUT_CLOSE;
    *close = !keep_alive || mode == PROXY_OUT_CLOSE;
    buf_printf(out, "HTTP/1.1 %d ", r->status);
    buf_append(out, p + r->reason.off, r->reason.len);
    buf_append(out, "\r\n", 2);
    for (size_t i = 0; i < r->nheaders; i++) {
        if (is_hop_by_hop(p, r->name[i], r->connection, r->nconnection))
            continue;
        /* a length the client gets only with the bytes as they came */
        if (mode != PROXY_OUT_AS_IS && span_eq(p, r->name[i], "content-length"))
            continue;
        append_header(out, p, r->name[i], r->value[i]);
    }
    if (mode == PROXY_OUT_CHUNKED)
        buf_append_str(out, "Transfer-Encoding: chunked\r\n");
    if (*close)
        buf_append_str(out, "Connection: close\r\n");
    else if (client_minor == 0)
        buf_append_str(out, "Connection: keep-alive\r\n");
    buf_append(out, "\r\n", 2);
    return mode;
}

/* ---- chunked bodies ---- */

enum chunk_state {
    CS_SIZE,         /* the first hex digit of a chunk size */
    CS_SIZE_MORE,    /* more digits, an extension, or the line end */
    CS_EXT,          /* a chunk extension, up to the line end */
    CS_SIZE_LF,      /* the LF after the size line's CR */
    CS_DATA,         /* left bytes of data */
    CS_DATA_END,     /* the CRLF after the data */
    CS_DATA_LF,      /* its LF */
    CS_TRAILER,      /* the start of a trailer line, or the final line end */
    CS_TRAILER_LINE, /* a trailer line, up to its end */
    CS_END_LF,       /* the LF of the final line end */
    CS_DONE,
};

/* The size line ended: data follows, or the trailer section after the last chunk. */
static void size_line_done(struct proxy_chunked *c)
{
    c->state = c->left ? CS_DATA : CS_TRAILER;
    c->line = 0;
}

int proxy_chunked_decode(struct proxy_chunked *c, uint8_t *p, size_t n, size_t *data)
{
    size_t i = 0, o = 0;
    while (i < n && c->state != CS_DONE) {
        uint8_t b = p[i];
        switch (c->state) {
        case CS_DATA: {
            size_t take = n - i < c->left ? n - i : (size_t)c->left;
            memmove(p + o, p + i, take);
            o += take;
            i += take;
            c->left -= take;
            if (c->left == 0)
                c->state = CS_DATA_END;
            continue;
        }
        case CS_SIZE:
        case CS_SIZE_MORE:
            if (hex_digit(b) >= 0) {
                if (++c->line > CHUNK_SIZE_DIGITS)
                    return -1;
                c->left = c->left * 16 + (uint64_t)hex_digit(b);
                c->state = CS_SIZE_MORE;
            } else if (c->state == CS_SIZE_MORE && (b == ';' || b == ' ' || b == '\t')) {
                c->state = CS_EXT;
            } else if (c->state == CS_SIZE_MORE && b == '\r') {
                c->state = CS_SIZE_LF;
            } else if (c->state == CS_SIZE_MORE && b == '\n') {
                size_line_done(c);
            } else {
                return -1;
            }
            break;
        case CS_EXT:
            if (++c->line > CHUNK_LINE_MAX)
                return -1;
            if (b == '\r')
                c->state = CS_SIZE_LF;
            else if (b == '\n')
                size_line_done(c);
            break;
        case CS_SIZE_LF:
            if (b != '\n')
                return -1;
            size_line_done(c);
            break;
        case CS_DATA_END:
        case CS_DATA_LF:
            if (b == '\r' && c->state == CS_DATA_END)
                c->state = CS_DATA_LF;
            else if (b == '\n')
                c->state = CS_SIZE;
            else
                return -1;
            break;
        case CS_TRAILER:
        case CS_TRAILER_LINE:
            if (++c->trailers > CHUNK_TRAILER_MAX)
                return -1;
            if (c->state == CS_TRAILER && b == '\r')
                c->state = CS_END_LF;
            else if (c->state == CS_TRAILER && b == '\n')
                c->state = CS_DONE;
            else
                c->state = b == '\n' ? CS_TRAILER : CS_TRAILER_LINE;
            break;
        case CS_END_LF:
            if (b != '\n')
                return -1;
            c->state = CS_DONE;
            break;
        default:
            return -1;
        }
        i++;
    }
    c->done = c->state == CS_DONE;
    *data = o;
    return 0;
}
