/*
 * url: the one URL form the node takes, the --upstream / [api] upstream of the validator API
 * (SPEC §11.1): http://HOST[:PORT][/BASE-PATH]. Pure; the config check (config.c) and the API
 * worker's reverse proxy both read URLs through it, so what starts is what was checked.
 *
 * HOST is a name or an IPv4 address (letters, digits, '.', '-'; the API worker is IPv4 only),
 * PORT 1..65535 (default 80), BASE-PATH printable ASCII without '?', '#' or spaces. Anything else
 * (https, user info, a query or fragment, IPv6 literals) is refused with a reason.
 */
#ifndef AEQUA_URL_H
#define AEQUA_URL_H

#include <stddef.h>
#include <stdint.h>

#define URL_HOST_MAX 254
#define URL_PATH_MAX 256

struct http_url {
    char host[URL_HOST_MAX];
    uint16_t port;
    char authority[URL_HOST_MAX + 8]; /* HOST[:PORT] as written, for a Host header */
    char base[URL_PATH_MAX];          /* "" or "/base", without a trailing '/' */
};

/* 0, or -1 with the reason in err. */
int url_parse_http(const char *s, struct http_url *u, char *err, size_t errsz);

#endif
