#include "lib/httpc.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define RESPONSE_MAX (64u << 20)

static int wait_fd(int fd, short ev, uint64_t deadline)
{
    for (;;) {
        uint64_t now = now_ms();
        if (now >= deadline)
            return -1;
        struct pollfd p = {.fd = fd, .events = ev};
        int r = poll(&p, 1, (int)(deadline - now));
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

static int dial(const char *hostport, uint64_t deadline, char *err, size_t errsz)
{
    char host[256];
    uint16_t port;
    if (parse_hostport(hostport, host, sizeof(host), &port) < 0) {
        snprintf(err, errsz, "bad address '%s'", hostport);
        return -1;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;
        if (getaddrinfo(host, NULL, &hints, &ai) != 0) {
            snprintf(err, errsz, "cannot resolve '%s'", host);
            return -1;
        }
        sa.sin_addr = ((struct sockaddr_in *)ai->ai_addr)->sin_addr;
        freeaddrinfo(ai);
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errsz, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        snprintf(err, errsz, "connect %s: %s", hostport, strerror(errno));
        close(fd);
        return -1;
    }
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    if (wait_fd(fd, POLLOUT, deadline) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
        snprintf(err, errsz, "connect %s: %s", hostport, soerr ? strerror(soerr) : "timeout");
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const void *p, size_t n, uint64_t deadline)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN && wait_fd(fd, POLLOUT, deadline) == 0)
                continue;
            return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* "HTTP/1.x NNN" (a reason phrase or the line end follows): the status, or -1. */
static int parse_status(const char *s, int *status)
{
    if (strncmp(s, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)s[7]) || s[8] != ' ')
        return -1;
    for (int i = 9; i < 12; i++)
        if (!isdigit((unsigned char)s[i]))
            return -1;
    if (s[12] != ' ' && s[12] != '\r')
        return -1;
    *status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    return 0;
}

int http_request(const char *hostport, const char *method, const char *path,
                 const char *extra_headers, const void *body, size_t body_len, int timeout_ms,
                 struct http_response *resp, char *err, size_t errsz)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    memset(resp, 0, sizeof(*resp));
    int fd = dial(hostport, deadline, err, errsz);
    if (fd < 0)
        return -1;
    struct buf req = BUF_INIT, in = BUF_INIT;
    buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, path, hostport);
    if (body || !strcmp(method, "POST"))
        buf_printf(&req, "Content-Length: %zu\r\n", body_len);
    if (extra_headers)
        buf_append_str(&req, extra_headers);
    buf_append_str(&req, "\r\n");
    if (body_len)
        buf_append(&req, body, body_len);
    int rc = -1;
    if (send_all(fd, req.data, req.len, deadline) < 0) {
        snprintf(err, errsz, "send: %s", strerror(errno));
        goto out;
    }
    for (;;) {
        buf_reserve(&in, 65536);
        ssize_t r = recv(fd, in.data + in.len, in.cap - in.len - 1, 0);
        if (r > 0) {
            in.len += (size_t)r;
            if (in.len > RESPONSE_MAX) {
                snprintf(err, errsz, "response too large");
                goto out;
            }
            continue;
        }
        if (r == 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN && wait_fd(fd, POLLIN, deadline) == 0)
            continue;
        snprintf(err, errsz, "recv: %s", errno == EAGAIN ? "timeout" : strerror(errno));
        goto out;
    }
    in.data[in.len] = 0;
    char *hdr_end = in.len ? strstr((char *)in.data, "\r\n\r\n") : NULL;
    if (!hdr_end || parse_status((const char *)in.data, &resp->status) < 0) {
        snprintf(err, errsz, "malformed response");
        goto out;
    }
    size_t hlen = (size_t)(hdr_end - (char *)in.data);
    buf_append(&resp->headers, in.data, hlen + 2);
    const uint8_t *b = (const uint8_t *)hdr_end + 4;
    size_t blen = in.len - hlen - 4;
    char te[64];
    if (http_header(resp, "Transfer-Encoding", te, sizeof(te)) == 0 && !strcasecmp(te, "chunked")) {
        /* de-chunk */
        size_t off = 0;
        for (;;) {
            char *endp;
            unsigned long n = strtoul((const char *)b + off, &endp, 16);
            const char *crlf = strstr((const char *)b + off, "\r\n");
            if (!crlf || endp == (const char *)b + off || n > blen) {
                snprintf(err, errsz, "malformed chunked body");
                goto out;
            }
            off = (size_t)(crlf - (const char *)b) + 2;
            if (n == 0)
                break;
            /* the chunk and the CRLF after it, within what was received */
            if (n + 2 > blen - off || memcmp(b + off + n, "\r\n", 2) != 0) {
                snprintf(err, errsz, "malformed chunked body");
                goto out;
            }
            buf_append(&resp->body, b + off, n);
            off += n + 2;
        }
    } else {
        buf_append(&resp->body, b, blen);
    }
    buf_reserve(&resp->body, 1);
    resp->body.data[resp->body.len] = 0;
    rc = 0;
out:
    if (rc < 0)
        http_response_free(resp);
    close(fd);
    buf_free(&req);
    buf_free(&in);
    return rc;
}

void http_response_free(struct http_response *resp)
{
    buf_free(&resp->headers);
    buf_free(&resp->body);
}

int http_header(const struct http_response *resp, const char *name, char *out, size_t outsz)
{
    const char *h = (const char *)resp->headers.data;
    size_t nl = strlen(name);
    if (!h)
        return -1;
    for (const char *line = strstr(h, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2;
        if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t n = e ? (size_t)(e - v) : strlen(v);
            if (n >= outsz)
                n = outsz - 1;
            memcpy(out, v, n);
            out[n] = 0;
            return 0;
        }
    }
    return -1;
}
