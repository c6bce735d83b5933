/*
 * log: one JSON object per line on stderr, written with a single write(2) so that lines of
 * different processes (and threads) never interleave.
 *
 *   log_info("worker_exit", LS("worker", "qbft"), LI("pid", pid), LF("uptime_s", 1.5));
 *
 * Keys: ts (RFC 3339 UTC, microseconds), level, msg (the event name), worker, pid, trace_id (when
 * the calling thread handles a traced request, see log_set_trace) and the event's fields.
 * Safe to call from any thread; never allocates.
 */
#ifndef AEQUA_LOG_H
#define AEQUA_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

struct log_kv {
    const char *k; /* NULL ends the list */
    char t;        /* 's' string, 'i' signed, 'u' unsigned, 'f' double, 'b' bool */
    union {
        const char *s;
        int64_t i;
        uint64_t u;
        double f;
    } v;
};

#define LS(key, val) ((struct log_kv){(key), 's', {.s = (val)}})
#define LI(key, val) ((struct log_kv){(key), 'i', {.i = (int64_t)(val)}})
#define LU(key, val) ((struct log_kv){(key), 'u', {.u = (uint64_t)(val)}})
#define LF(key, val) ((struct log_kv){(key), 'f', {.f = (double)(val)}})
#define LB(key, val) ((struct log_kv){(key), 'b', {.i = (val) ? 1 : 0}})
#define LOG_END      ((struct log_kv){0})

void log_init(const char *worker, int verbosity);
void log_set_level(enum log_level min);
int log_enabled(enum log_level level);
/* Trace id attached to every line this thread logs until cleared with NULL. */
void log_set_trace(const char *trace_id);
const char *log_get_trace(void);

void log_at(enum log_level level, const char *event, ...);
/* The same with the fields in an array ended by LOG_END (at most LOG_KV_MAX are written by
 * log_at). */
#define LOG_KV_MAX 32
void log_kv_at(enum log_level level, const char *event, const struct log_kv *kv);

#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__, LOG_END)
#define log_info(...)  log_at(LOG_INFO, __VA_ARGS__, LOG_END)
#define log_warn(...)  log_at(LOG_WARN, __VA_ARGS__, LOG_END)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__, LOG_END)

/* Append s as a JSON string body (without quotes), escaped, truncated to fit. Returns new len. */
size_t log_json_escape(char *out, size_t cap, size_t len, const char *s);

#endif
