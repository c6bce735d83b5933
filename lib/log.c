#include "lib/log.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192

static char log_worker[32] = "aequa";
static enum log_level log_min = LOG_INFO;
static _Thread_local char log_trace[72];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *worker, int verbosity)
{
    snprintf(log_worker, sizeof(log_worker), "%s", worker);
    log_min = verbosity > 0 ? LOG_DEBUG : LOG_INFO;
}

void log_set_level(enum log_level min)
{
    log_min = min;
}

int log_enabled(enum log_level level)
{
    return level >= log_min;
}

void log_set_trace(const char *trace_id)
{
    if (!trace_id)
        log_trace[0] = 0;
    else
        snprintf(log_trace, sizeof(log_trace), "%s", trace_id);
}

const char *log_get_trace(void)
{
    return log_trace[0] ? log_trace : NULL;
}

size_t log_json_escape(char *out, size_t cap, size_t len, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[7];
        size_t n;
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            n = 2;
        } else if (c == '\n') {
            memcpy(esc, "\\n", 2);
            n = 2;
        } else if (c == '\t') {
            memcpy(esc, "\\t", 2);
            n = 2;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        } else {
            esc[0] = (char)c;
            n = 1;
        }
        if (len + n >= cap)
            break;
        memcpy(out + len, esc, n);
        len += n;
    }
    return len;
}

static size_t append(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static size_t append(char *out, size_t len, const char *fmt, ...)
{
    if (len >= LOG_LINE_MAX - 2)
        return len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + len, LOG_LINE_MAX - 2 - len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return len;
    len += (size_t)n;
    return len > LOG_LINE_MAX - 2 ? LOG_LINE_MAX - 2 : len;
}

static size_t append_str(char *out, size_t len, const char *key, const char *val)
{
    len = append(out, len, ",\"");
    len = log_json_escape(out, LOG_LINE_MAX - 2, len, key);
    len = append(out, len, "\":\"");
    len = log_json_escape(out, LOG_LINE_MAX - 4, len, val ? val : "");
    return append(out, len, "\"");
}

void log_kv_at(enum log_level level, const char *event, const struct log_kv *kv)
{
    if (level < log_min)
        return;
    int saved = errno;
    char line[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t len =
        append(line, 0, "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ\",\"level\":\"%s\"",
               tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
               ts.tv_nsec / 1000, level_names[level]);
    len = append_str(line, len, "msg", event);
    len = append_str(line, len, "worker", log_worker);
    len = append(line, len, ",\"pid\":%d", (int)getpid());
    if (log_trace[0])
        len = append_str(line, len, "trace_id", log_trace);

    for (; kv->k; kv++) {
        switch (kv->t) {
        case 's':
            len = append_str(line, len, kv->k, kv->v.s);
            break;
        case 'i':
            len = append(line, len, ",\"%s\":%lld", kv->k, (long long)kv->v.i);
            break;
        case 'u':
            len = append(line, len, ",\"%s\":%llu", kv->k, (unsigned long long)kv->v.u);
            break;
        case 'f':
            if (isfinite(kv->v.f))
                len = append(line, len, ",\"%s\":%.6g", kv->k, kv->v.f);
            else
                len = append(line, len, ",\"%s\":null", kv->k);
            break;
        case 'b':
            len = append(line, len, ",\"%s\":%s", kv->k, kv->v.i ? "true" : "false");
            break;
        }
    }
    line[len++] = '}';
    line[len++] = '\n';
    /* One write per line; a short write on a pipe to journald is not retried (it would split). */
    ssize_t w = write(2, line, len);
    (void)w;
    errno = saved;
}

void log_at(enum log_level level, const char *event, ...)
{
    struct log_kv kv[LOG_KV_MAX + 1];
    size_t n = 0;
    if (level < log_min)
        return;
    va_list ap;
    va_start(ap, event);
    for (;;) {
        struct log_kv x = va_arg(ap, struct log_kv);
        if (!x.k || n == LOG_KV_MAX)
            break;
        kv[n++] = x;
    }
    va_end(ap);
    kv[n] = LOG_END;
    log_kv_at(level, event, kv);
}
