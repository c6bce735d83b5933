#include "workers/api/http1.h"
#include "lib/util.h"

#include <string.h>
#include <strings.h>

static const struct http1_outcome outcomes[HTTP1_RESULTS] = {
    [HTTP1_BAD] = {400, "bad request"},
    [HTTP1_TOO_LARGE] = {431, "request header fields too large"},
    [HTTP1_VERSION] = {505, "http version not supported"},
    [HTTP1_LENGTH_REQUIRED] = {411, "length required"},
    [HTTP1_EXPECTATION] = {417, "expectation failed"},
};

const struct http1_outcome *http1_outcome(enum http1_result r)
{
    return (unsigned)r < HTTP1_RESULTS && outcomes[r].status ? &outcomes[r] : NULL;
}

/* What the front does with a request header; every other header is forwarded as it came. */
enum hdr_kind { H_DROP, H_LENGTH, H_TRANSFER, H_CONNECTION, H_EXPECT };

static const struct {
    const char *name;
    enum hdr_kind kind;
} special_headers[] = {
    {"content-length", H_LENGTH},
    {"transfer-encoding", H_TRANSFER},
    {"connection", H_CONNECTION},
    {"expect", H_EXPECT},
    {"keep-alive", H_DROP},
    {"proxy-connection", H_DROP},
    {"te", H_DROP},
    {"trailer", H_DROP},
    {"upgrade", H_DROP},
};

static bool is_tchar(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool span_is(const uint8_t *p, size_t len, const char *s)
{
    return strlen(s) == len && strncasecmp((const char *)p, s, len) == 0;
}

/* Offset just past the blank line that ends a head starting at p[start], or 0 if none within
 * p[0..limit). crlf_only: a response (civetweb always writes CRLF). */
size_t http1_head_end(const uint8_t *p, size_t start, size_t limit, bool crlf_only)
{
    for (size_t i = start; i < limit; i++) {
        if (p[i] != '\n')
            continue;
        if (crlf_only && (i == 0 || p[i - 1] != '\r'))
            continue;
        if (i + 1 < limit && p[i + 1] == '\n' && !crlf_only)
            return i + 2;
        if (i + 2 < limit && p[i + 1] == '\r' && p[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* Next line of [*pos, end): its bytes without the terminator in [*s, *s + *len). -1 when a CR
 * stands anywhere but before the LF. */
int http1_next_line(const uint8_t *p, size_t *pos, size_t end, size_t *s, size_t *len)
{
    const uint8_t *nl = memchr(p + *pos, '\n', end - *pos);
    size_t e = nl ? (size_t)(nl - p) : end;
    *s = *pos;
    *len = e - *pos;
    *pos = e + 1;
    if (*len > 0 && p[*s + *len - 1] == '\r')
        (*len)--;
    return memchr(p + *s, '\r', *len) ? -1 : 0;
}

int http1_digits(const uint8_t *p, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 18)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    *out = v;
    return 0;
}

/* "METHOD SP target SP HTTP/x.y" */
static enum http1_result parse_request_line(const uint8_t *p, size_t s, size_t len,
                                            struct http1_request *r)
{
    size_t i = s, end = s + len;
    while (i < end && is_tchar(p[i]))
        i++;
    if (i == s || i == end || p[i] != ' ') {
        r->detail = "malformed method";
        return HTTP1_BAD;
    }
    r->method = (struct http1_span){(uint32_t)s, (uint32_t)(i - s)};
    size_t t = ++i;
    while (i < end && p[i] > 0x20 && p[i] < 0x7f)
        i++;
    if (i == t || i == end || p[i] != ' ' || p[t] != '/') {
        r->detail = "malformed request target";
        return HTTP1_BAD;
    }
    r->target = (struct http1_span){(uint32_t)t, (uint32_t)(i - t)};
    const uint8_t *q = memchr(p + t, '?', i - t);
    r->path = (struct http1_span){(uint32_t)t, (uint32_t)(q ? (size_t)(q - p) - t : i - t)};
    i++;
    if (end - i != 8 || memcmp(p + i, "HTTP/", 5) != 0 || p[i + 5] < '0' || p[i + 5] > '9' ||
        p[i + 6] != '.' || p[i + 7] < '0' || p[i + 7] > '9') {
        r->detail = "malformed http version";
        return HTTP1_BAD;
    }
    if (p[i + 5] != '1') {
        r->detail = "not http/1.x";
        return HTTP1_VERSION;
    }
    r->minor = (unsigned)(p[i + 7] - '0');
    return HTTP1_OK;
}

/* Split "name: value" (value without surrounding whitespace); -1 if malformed. */
int http1_split_header(const uint8_t *p, size_t s, size_t len, struct http1_span *name,
                       struct http1_span *value)
{
    size_t i = s, end = s + len;
    while (i < end && is_tchar(p[i]))
        i++;
    if (i == s || i == end || p[i] != ':')
        return -1;
    *name = (struct http1_span){(uint32_t)s, (uint32_t)(i - s)};
    i++;
    while (i < end && (p[i] == ' ' || p[i] == '\t'))
        i++;
    size_t e = end;
    while (e > i && (p[e - 1] == ' ' || p[e - 1] == '\t'))
        e--;
    for (size_t k = i; k < e; k++)
        if ((p[k] < 0x20 && p[k] != '\t') || p[k] == 0x7f)
            return -1;
    *value = (struct http1_span){(uint32_t)i, (uint32_t)(e - i)};
    return 0;
}

/* Whether a comma-separated header value holds the token (case-insensitive). */
bool http1_has_token(const uint8_t *p, struct http1_span v, const char *token)
{
    size_t i = v.off, end = (size_t)v.off + v.len;
    while (i < end) {
        while (i < end && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
            i++;
        size_t s = i;
        while (i < end && p[i] != ',' && p[i] != ' ' && p[i] != '\t')
            i++;
        if (i > s && span_is(p + s, i - s, token))
            return true;
    }
    return false;
}

static int special_kind(const uint8_t *p, struct http1_span name)
{
    for (size_t k = 0; k < ARRAY_LEN(special_headers); k++)
        if (span_is(p + name.off, name.len, special_headers[k].name))
            return (int)special_headers[k].kind;
    return -1;
}

/* Length of the empty lines (LF or CRLF) that lead [0, limit): RFC 9112 §2.2 has a server ignore
 * them before the request line. */
static size_t empty_lines_len(const uint8_t *p, size_t limit)
{
    size_t i = 0;
    for (;;) {
        if (i < limit && p[i] == '\n')
            i += 1;
        else if (i + 1 < limit && p[i] == '\r' && p[i + 1] == '\n')
            i += 2;
        else
            return i;
    }
}

enum http1_result http1_request_parse(const uint8_t *p, size_t n, struct http1_request *r)
{
    memset(r, 0, sizeof(*r));
    size_t limit = n < HTTP1_HEAD_MAX ? n : HTTP1_HEAD_MAX;
    size_t start = empty_lines_len(p, limit);
    size_t end = http1_head_end(p, start, limit, false);
    if (end == 0) {
        if (n < HTTP1_HEAD_MAX)
            return HTTP1_INCOMPLETE;
        r->detail = "request head too large";
        return HTTP1_TOO_LARGE;
    }
    if (memchr(p, 0, end)) {
        r->detail = "NUL byte in the request head";
        return HTTP1_BAD;
    }
    r->head_len = end;

    size_t pos = start, s, len;
    if (http1_next_line(p, &pos, end, &s, &len) < 0) {
        r->detail = "stray CR in the request line";
        return HTTP1_BAD;
    }
    enum http1_result res = parse_request_line(p, s, len, r);
    if (res != HTTP1_OK)
        return res;

    bool conn_close = false, conn_keep = false, have_length = false;
    size_t lines = 0;
    for (;;) {
        if (http1_next_line(p, &pos, end, &s, &len) < 0) {
            r->detail = "stray CR in a header line";
            return HTTP1_BAD;
        }
        if (len == 0)
            break;
        if (++lines > HTTP1_HEADERS_MAX) {
            r->detail = "too many header lines";
            return HTTP1_TOO_LARGE;
        }
        struct http1_span name, value;
        if (p[s] == ' ' || p[s] == '\t' || http1_split_header(p, s, len, &name, &value) < 0) {
            r->detail = "malformed header line";
            return HTTP1_BAD;
        }
        switch (special_kind(p, name)) {
        case -1:
            r->name[r->nheaders] = name;
            r->value[r->nheaders] = value;
            r->nheaders++;
            break;
        case H_LENGTH:
            if (have_length || http1_digits(p + value.off, value.len, &r->content_length) < 0) {
                r->detail =
                    have_length ? "more than one Content-Length" : "malformed Content-Length";
                return HTTP1_BAD;
            }
            have_length = true;
            break;
        case H_TRANSFER:
            r->detail = "Transfer-Encoding bodies are not accepted: send Content-Length";
            return HTTP1_LENGTH_REQUIRED;
        case H_CONNECTION:
            r->connection[r->nconnection++] = value;
            conn_close |= http1_has_token(p, value, "close");
            conn_keep |= http1_has_token(p, value, "keep-alive");
            break;
        case H_EXPECT:
            if (!span_is(p + value.off, value.len, "100-continue")) {
                r->detail = "unknown Expect";
                return HTTP1_EXPECTATION;
            }
            r->expect_continue = true;
            break;
        default: /* H_DROP: hop-by-hop, the front's own business */
            break;
        }
    }
    r->has_length = have_length;
    r->keep_alive = !conn_close && (r->minor >= 1 || conn_keep);
    return HTTP1_OK;
}

void http1_request_forward(const uint8_t *p, const struct http1_request *r, struct buf *out)
{
    buf_append(out, p + r->method.off, r->method.len);
    buf_append(out, " ", 1);
    buf_append(out, p + r->target.off, r->target.len);
    buf_printf(out, " HTTP/1.1\r\nContent-Length: %llu\r\n", (unsigned long long)r->content_length);
    for (size_t i = 0; i < r->nheaders; i++) {
        buf_append(out, p + r->name[i].off, r->name[i].len);
        buf_append(out, ": ", 2);
        buf_append(out, p + r->value[i].off, r->value[i].len);
        buf_append(out, "\r\n", 2);
    }
    buf_append(out, "\r\n", 2);
}

enum http1_result http1_response_parse(const uint8_t *p, size_t n, bool head_request,
                                       struct http1_response *r)
{
    memset(r, 0, sizeof(*r));
    size_t end = http1_head_end(p, 0, n, true);
    if (end == 0)
        return HTTP1_INCOMPLETE;
    r->head_len = end;
    size_t pos = 0, s, len;
    if (http1_next_line(p, &pos, end, &s, &len) < 0 || len < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
        p[7] < '0' || p[7] > '9' || p[8] != ' ' || (len > 12 && p[12] != ' '))
        return HTTP1_BAD;
    uint64_t status;
    if (http1_digits(p + 9, 3, &status) < 0 || status < 200 || status > 599)
        return HTTP1_BAD;
    r->status = (int)status;
    r->status_len = pos;
    bool have_length = false;
    uint64_t length = 0;
    for (;;) {
        if (http1_next_line(p, &pos, end, &s, &len) < 0)
            return HTTP1_BAD;
        if (len == 0)
            break;
        struct http1_span name, value;
        if (http1_split_header(p, s, len, &name, &value) < 0)
            return HTTP1_BAD;
        if (span_is(p + name.off, name.len, "content-length")) {
            if (have_length || http1_digits(p + value.off, value.len, &length) < 0)
                return HTTP1_BAD;
            have_length = true;
        } else if (span_is(p + name.off, name.len, "transfer-encoding")) {
            return HTTP1_BAD;
        } else if (span_is(p + name.off, name.len, "connection")) {
            r->has_connection = true;
            r->close |= http1_has_token(p, value, "close");
        }
    }
    if (head_request || r->status == 204 || r->status == 304)
        length = 0;
    else if (!have_length)
        return HTTP1_BAD;
    r->body_len = length;
    return HTTP1_OK;
}
