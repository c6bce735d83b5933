#include "lib/db/dump.h"
#include "lib/crypto.h"
#include "lib/util.h"

#include <string.h>
#include <time.h>

#define PAYLOAD_INLINE_MAX 256

static void fmt_time(char *out, size_t outsz, uint64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char base[32];
    if (!gmtime_r(&t, &tm) || !strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm)) {
        snprintf(out, outsz, "%llu", (unsigned long long)ms);
        return;
    }
    snprintf(out, outsz, "%s.%03uZ", base, (unsigned)(ms % 1000));
}

static void put_hex(FILE *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%02x", p[i]);
}

static void put_sha(FILE *out, const char *label, const uint8_t *p, size_t n)
{
    uint8_t d[SHA256_LEN];
    sha256(d, p, n);
    fprintf(out, " %s=", label);
    put_hex(out, d, sizeof(d));
}

static bool printable(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x21 || p[i] > 0x7e)
            return false;
    return n > 0;
}

static void put_instance(FILE *out, const char *kind, uint8_t dtype, uint64_t height)
{
    fprintf(out, "%s %s/%llu", kind, duty_type_name(dtype), (unsigned long long)height);
}

static void header(const struct db_reader *r, FILE *out)
{
    const struct db_meta *m = db_reader_meta(r);
    char lock[2 * RECORD_LOCK_HASH + 1], t1[48], t2[48];
    hex_encode(lock, m->lock_hash, RECORD_LOCK_HASH);
    fmt_time(t1, sizeof(t1), m->created_ms);
    fprintf(out, "# statedb %s: schema %u, cluster %s, node %llu, created %s\n", db_reader_path(r),
            m->schema, lock, (unsigned long long)m->node_index, t1);
    if (m->fallback.fallback) {
        fmt_time(t1, sizeof(t1), m->fallback.recovered_ms);
        fmt_time(t2, sizeof(t2), m->fallback.checkpoint_ms);
        fprintf(out, "# fallback: restored at %s from checkpoint taken %s: %s\n", t1, t2,
                m->fallback.detail);
    }
}

static bool decided(const struct db *h, uint8_t dtype, uint64_t height)
{
    uint8_t k[RECORD_INST_KEY_LEN];
    struct db_value v;
    record_inst_key(k, dtype, height);
    if (db_get(h, SDB_CF_DECIDED, k, sizeof(k), &v, NULL, 0) != 0)
        return false;
    db_value_free(&v);
    return true;
}

/* One line for one record of cf; -1 if the record is malformed. */
static int line(const struct db *h, FILE *out, enum sdb_cf cf, const uint8_t *k, size_t kl,
                const uint8_t *v, size_t vl, bool hex)
{
    struct sdb_intent_key ik;
    uint8_t dtype;
    uint64_t height;
    char t[48];
    if (cf == SDB_CF_WAL) {
        if (record_wal_key_parse(&ik, k, kl) < 0)
            return -1;
        put_instance(out, "intent", ik.dtype, ik.height);
        fprintf(out, " round=%u type=%s len=%zu", ik.round, qbft_type_name(ik.mtype), vl);
        put_sha(out, "sha256", v, vl);
        fprintf(out, " decided=%s", decided(h, ik.dtype, ik.height) ? "yes" : "no");
        if (hex) {
            fputs(" hex=", out);
            put_hex(out, v, vl);
        }
        fputc('\n', out);
        return 0;
    }
    if (record_inst_key_parse(&dtype, &height, k, kl) < 0)
        return -1;
    if (cf == SDB_CF_DUTIES) {
        struct sdb_duty d;
        if (record_duty_decode(&d, dtype, height, v, vl) < 0)
            return -1;
        fmt_time(t, sizeof(t), d.accepted_ms);
        put_instance(out, "duty", dtype, height);
        fprintf(out, " accepted=%s trace=%s len=%u", t, d.trace_id[0] ? d.trace_id : "-",
                d.payload.len);
        put_sha(out, "sha256", d.payload.p, d.payload.len);
        if (d.payload.len <= PAYLOAD_INLINE_MAX && printable(d.payload.p, d.payload.len))
            fprintf(out, " payload=%.*s", (int)d.payload.len, (const char *)d.payload.p);
        if (hex) {
            fputs(" hex=", out);
            put_hex(out, d.payload.p, d.payload.len);
        }
        fputc('\n', out);
        return 0;
    }
    struct sdb_decided d;
    if (record_decided_decode(&d, dtype, height, v, vl) < 0)
        return -1;
    fmt_time(t, sizeof(t), d.decided_ms);
    put_instance(out, "decided", dtype, height);
    fprintf(out, " round=%u at=%s value_len=%u", d.round, t, d.value.len);
    put_sha(out, "value_sha256", d.value.p, d.value.len);
    fprintf(out, " cert=%u seals=", d.ncert);
    for (uint32_t i = 0; i < d.nseals; i++)
        fprintf(out, "%s%u", i ? "," : "", d.seals[i].index);
    if (!d.nseals)
        fputc('-', out);
    fprintf(out, " tss=%s", d.tss.len ? "yes" : "no");
    if (hex) {
        fputs(" hex=", out);
        put_hex(out, d.value.p, d.value.len);
    }
    fputc('\n', out);
    record_decided_free(&d);
    return 0;
}

int db_dump(const struct db_reader *r, FILE *out, bool hex, char *err, size_t errsz)
{
    static const enum sdb_cf order[] = {SDB_CF_WAL, SDB_CF_DUTIES, SDB_CF_DECIDED};
    uint64_t count[3] = {0};
    const struct db *h = db_reader_db(r);
    header(r, out);
    for (size_t c = 0; c < ARRAY_LEN(order); c++) {
        struct db_iter *it = db_iter_new(h, order[c]);
        int rc = 0;
        for (db_iter_seek_first(it); db_iter_valid(it); db_iter_next(it)) {
            size_t kl, vl;
            const uint8_t *k = db_iter_key(it, &kl);
            const uint8_t *v = db_iter_value(it, &vl);
            if (line(h, out, order[c], k, kl, v, vl, hex) < 0) {
                snprintf(err, errsz, "malformed record %llu in %s", (unsigned long long)count[c],
                         sdb_cf_name(order[c]));
                rc = -1;
                break;
            }
            count[c]++;
        }
        if (rc == 0 && db_iter_error(it, err, errsz) < 0)
            rc = -1;
        db_iter_free(it);
        if (rc < 0)
            return -1;
    }
    fprintf(out, "# totals: intents=%llu duties=%llu decided=%llu\n", (unsigned long long)count[0],
            (unsigned long long)count[1], (unsigned long long)count[2]);
    return 0;
}
