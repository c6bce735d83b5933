/*
 * util: small helpers every binary uses: fatal exits, checked allocation, clocks, hex.
 *
 * fatal()/fatalx() log one error line naming what failed and exit 1 (fatal adds strerror(errno));
 * they are for the process's own invariants, never for untrusted input.
 */
#ifndef AEQUA_UTIL_H
#define AEQUA_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Exit codes shared by every binary. */
#define EXIT_CONFIG 78 /* EX_CONFIG: permanent, never restarted */

void fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void fatalx(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Monotonic clock. */
uint64_t now_ms(void);
uint64_t now_ns(void);
double now_s(void);
/* Wall clock, for logs and records. */
uint64_t wall_ms(void);

/* Lower-case hex. hex_encode writes 2n+1 bytes (NUL-terminated). */
void hex_encode(char *out, const void *in, size_t n);
/* Value of one hex digit (either case), or -1. */
int hex_digit(int c);
/* Decodes exactly n bytes from a 2n-character string; returns 0 or -1. */
int hex_decode(void *out, size_t n, const char *in, size_t inlen);

/* Parse "host:port" (IPv4 dotted quad or name, port 1..65535). Returns 0 or -1. */
int parse_hostport(const char *s, char *host, size_t hostsz, uint16_t *port);

/* Strict unsigned decimal parse of the whole string, with an inclusive maximum. */
int parse_u64(const char *s, uint64_t max, uint64_t *out);

/* mkdir -p: the last component is created with mode, missing parents with 0755. */
int mkdir_p(const char *path, unsigned mode);

/* Write a whole file atomically (tmp + fsync + rename + fsync dir). */
int write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);
/* The same without the fsyncs, for files that are made anew at every start (the runtime
 * directory's): readers see the old or the new file whole, and a crash may lose both. */
int write_file_replace(const char *path, const void *data, size_t len, unsigned mode);
/* Read a whole small file (max bytes); caller frees *out (NUL-terminated). */
int read_file(const char *path, size_t max, char **out, size_t *len);

#endif
