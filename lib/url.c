#include "lib/url.h"
#include "lib/util.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-';
}

static bool path_char(char c)
{
    return c > 0x20 && c < 0x7f && c != '?' && c != '#';
}

static int fail(char *err, size_t errsz, const char *why)
{
    snprintf(err, errsz, "%s; expected http://HOST[:PORT][/PATH]", why);
    return -1;
}

int url_parse_http(const char *s, struct http_url *u, char *err, size_t errsz)
{
    static const char scheme[] = "http://";
    memset(u, 0, sizeof(*u));
    if (strncasecmp(s, scheme, sizeof(scheme) - 1) != 0)
        return fail(err, errsz,
                    strncasecmp(s, "https://", 8) == 0
                        ? "https is not supported (terminate TLS in front of the upstream)"
                        : "not an http:// URL");
    const char *h = s + sizeof(scheme) - 1;
    size_t auth_len = strcspn(h, "/?#");
    if (memchr(h, '@', auth_len))
        return fail(err, errsz, "user info is not supported");
    const char *colon = memchr(h, ':', auth_len);
    size_t host_len = colon ? (size_t)(colon - h) : auth_len;
    if (host_len == 0 || host_len >= sizeof(u->host))
        return fail(err, errsz, "missing or too long host");
    for (size_t i = 0; i < host_len; i++)
        if (!host_char(h[i]))
            return fail(err, errsz, "the host must be a name or an IPv4 address");
    memcpy(u->host, h, host_len);
    u->port = 80;
    if (colon) {
        char port[8];
        size_t plen = auth_len - host_len - 1;
        uint64_t p;
        if (plen == 0 || plen >= sizeof(port))
            return fail(err, errsz, "bad port");
        memcpy(port, colon + 1, plen);
        port[plen] = 0;
        if (parse_u64(port, 65535, &p) < 0 || p == 0)
            return fail(err, errsz, "bad port");
        u->port = (uint16_t)p;
    }
    memcpy(u->authority, h, auth_len);
    const char *path = h + auth_len;
    if (*path == '?' || *path == '#')
        return fail(err, errsz, "a query or fragment is not supported");
    size_t path_len = strlen(path);
    for (size_t i = 0; i < path_len; i++)
        if (!path_char(path[i]))
            return fail(err, errsz,
                        path[i] == '?' || path[i] == '#'
                            ? "a query or fragment is not supported"
                            : "the path holds a space or a control byte");
    while (path_len > 0 && path[path_len - 1] == '/')
        path_len--;
    if (path_len >= sizeof(u->base))
        return fail(err, errsz, "path too long");
    memcpy(u->base, path, path_len);
    return 0;
}
