/* Unit tests for workers/statedb/commit: every request's behaviour through the group commit. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/metrics.h"
#include "statedb_testutil.h"

static struct sdb_req intent_req(uint8_t dtype, uint64_t h, uint32_t round, uint8_t mtype,
                                 const char *msg)
{
    struct sdb_req r = {.type = SDB_APPEND_INTENT};
    r.u.append.k = (struct sdb_intent_key){dtype, h, round, mtype};
    r.u.append.msg = (struct sdb_bytes){(const uint8_t *)msg, (uint32_t)strlen(msg)};
    return r;
}

static struct sdb_req duty_req(uint8_t dtype, uint64_t h, const char *payload, const char *trace)
{
    struct sdb_req r = {.type = SDB_PUT_DUTY};
    r.u.put_duty.dtype = dtype;
    r.u.put_duty.height = h;
    r.u.put_duty.payload = (struct sdb_bytes){(const uint8_t *)payload, (uint32_t)strlen(payload)};
    snprintf(r.u.put_duty.trace_id, sizeof(r.u.put_duty.trace_id), "%s", trace);
    r.u.put_duty.accepted_ms = 1000 + h;
    return r;
}

static struct sdb_seal seal_pool[8];

static struct sdb_req decided_req(uint8_t dtype, uint64_t h, const char *value, uint32_t nseals,
                                  uint32_t first_seal)
{
    struct sdb_req r = {.type = SDB_PUT_DECIDED};
    for (uint32_t i = 0; i < 8; i++) {
        seal_pool[i].index = i;
        memset(seal_pool[i].sig, (int)(0x10 + i), SDB_SIG_LEN);
    }
    r.u.put_decided =
        (struct sdb_decided){.dtype = dtype,
                             .height = h,
                             .round = 1,
                             .value = {(const uint8_t *)value, (uint32_t)strlen(value)},
                             .nseals = nseals,
                             .seals = seal_pool + first_seal,
                             .decided_ms = 5};
    return r;
}

static struct sdb_req get_req(uint16_t type, uint8_t dtype, uint64_t h)
{
    struct sdb_req r = {.type = type};
    r.u.get.dtype = dtype;
    r.u.get.height = h;
    return r;
}

/* Run several requests in ONE group commit; replies decoded into reps (bodies stay in ops). */
static void run_batch(struct store *st, const struct sdb_req *reqs, size_t n,
                      struct statedb_op *ops, struct sdb_reply *reps)
{
    memset(ops, 0, n * sizeof(*ops));
    for (size_t i = 0; i < n; i++) {
        sdb_req_encode(&ops[i].body, &reqs[i]);
        ck_assert_int_eq(
            sdb_req_decode(&ops[i].req, reqs[i].type, ops[i].body.data, ops[i].body.len), 0);
    }
    statedb_group_commit(st, ops, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(
            sdb_reply_decode(&reps[i], ops[i].out.type, ops[i].out.body.data, ops[i].out.body.len),
            0);
}

static void free_batch(struct statedb_op *ops, struct sdb_reply *reps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sdb_reply_free(&reps[i]);
        statedb_op_free(&ops[i]);
    }
}

static bool bytes_is(struct sdb_bytes b, const char *s)
{
    return b.len == strlen(s) && !memcmp(b.p, s, b.len);
}

START_TEST(intent_new_duplicate_refused)
{
    struct store *st = tu_open(tu_tmpdb());
    struct sdb_req r = intent_req(0, 10, 1, QBFT_PREPARE, "prepare-v1");
    struct sdb_reply rep;
    ck_assert_int_eq(tu_run(st, &r, &rep), SDB_OK);
    ck_assert(rep.durable);
    ck_assert(!rep.u.stored.present);
    sdb_reply_free(&rep);
    /* The same bytes again (a resend after a restart): fine, nothing written. */
    ck_assert_int_eq(tu_run(st, &r, &rep), SDB_DUPLICATE);
    ck_assert(rep.durable);
    sdb_reply_free(&rep);
    /* Different bytes under the same (instance, round, type): refused with the stored bytes. */
    struct sdb_req other = intent_req(0, 10, 1, QBFT_PREPARE, "prepare-v2");
    ck_assert_int_eq(tu_run(st, &other, &rep), SDB_REFUSED);
    ck_assert(rep.u.stored.present);
    ck_assert(bytes_is(rep.u.stored.msg, "prepare-v1"));
    sdb_reply_free(&rep);
    /* Another round or message type is another key. */
    struct sdb_req r2 = intent_req(0, 10, 2, QBFT_PREPARE, "prepare-v2");
    struct sdb_req c1 = intent_req(0, 10, 1, QBFT_COMMIT, "commit-v1");
    ck_assert_int_eq(tu_run(st, &r2, &rep), SDB_OK);
    sdb_reply_free(&rep);
    ck_assert_int_eq(tu_run(st, &c1, &rep), SDB_OK);
    sdb_reply_free(&rep);
    ck_assert_double_eq(metric_value(metric("qbft_wal_appends_total", "prepare")), 2);
    ck_assert_double_eq(metric_value(metric("qbft_wal_appends_total", "commit")), 1);
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(intents_in_one_batch)
{
    struct store *st = tu_open(tu_tmpdb());
    struct sdb_req reqs[] = {
        intent_req(1, 5, 1, QBFT_PRE_PREPARE, "first"),
        intent_req(1, 5, 1, QBFT_PRE_PREPARE, "second"), /* same key, other bytes */
        intent_req(1, 5, 1, QBFT_PRE_PREPARE, "first"),  /* same key, same bytes */
        intent_req(1, 6, 1, QBFT_PRE_PREPARE, "other instance"),
    };
    struct statedb_op ops[4];
    struct sdb_reply reps[4];
    run_batch(st, reqs, 4, ops, reps);
    ck_assert_uint_eq(reps[0].status, SDB_OK);
    ck_assert_uint_eq(reps[1].status, SDB_REFUSED);
    ck_assert(bytes_is(reps[1].u.stored.msg, "first"));
    ck_assert_uint_eq(reps[2].status, SDB_DUPLICATE);
    ck_assert_uint_eq(reps[3].status, SDB_OK);
    for (int i = 0; i < 4; i++)
        ck_assert(reps[i].durable);
    free_batch(ops, reps, 4);
    /* One fsync for the whole call. */
    struct store_stats s;
    store_get_stats(st, &s);
    ck_assert_uint_eq(s.synced_writes, 1);
    ck_assert_double_eq(metric_value(metric("statedb_batch_size")), 1);
    ck_assert_double_eq(metric_value(metric("state_persist_seconds")), 1);
    ck_assert_double_eq(metric_value(metric("qbft_wal_appends_total", "pre_prepare")), 2);
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(duty_put_get_conflict)
{
    struct store *st = tu_open(tu_tmpdb());
    struct sdb_reply rep;
    struct sdb_req put = duty_req(DUTY_ATTESTER, 100, "{\"slot\":100}", "trace-1");
    ck_assert_int_eq(tu_run(st, &put, &rep), SDB_OK);
    ck_assert(!rep.u.duty.present);
    sdb_reply_free(&rep);
    /* Re-posting the same payload (another trace id) is idempotent and returns the original. */
    struct sdb_req again = duty_req(DUTY_ATTESTER, 100, "{\"slot\":100}", "trace-2");
    ck_assert_int_eq(tu_run(st, &again, &rep), SDB_DUPLICATE);
    ck_assert(rep.u.duty.present);
    ck_assert_str_eq(rep.u.duty.d.trace_id, "trace-1");
    sdb_reply_free(&rep);
    struct sdb_req other = duty_req(DUTY_ATTESTER, 100, "{\"slot\":101}", "trace-3");
    ck_assert_int_eq(tu_run(st, &other, &rep), SDB_CONFLICT);
    ck_assert(bytes_is(rep.u.duty.d.payload, "{\"slot\":100}"));
    sdb_reply_free(&rep);
    /* Another type at the same height is another duty. */
    struct sdb_req sync = duty_req(DUTY_SYNC, 100, "{\"slot\":101}", "trace-4");
    ck_assert_int_eq(tu_run(st, &sync, &rep), SDB_OK);
    sdb_reply_free(&rep);
    struct sdb_req get = get_req(SDB_GET_DUTY, DUTY_ATTESTER, 100);
    ck_assert_int_eq(tu_run(st, &get, &rep), SDB_OK);
    ck_assert(rep.u.duty.present);
    ck_assert_uint_eq(rep.u.duty.d.height, 100);
    ck_assert_uint_eq(rep.u.duty.d.accepted_ms, 1100);
    ck_assert(bytes_is(rep.u.duty.d.payload, "{\"slot\":100}"));
    sdb_reply_free(&rep);
    get = get_req(SDB_GET_DUTY, DUTY_PROPOSER, 100);
    ck_assert_int_eq(tu_run(st, &get, &rep), SDB_NOT_FOUND);
    ck_assert(!rep.u.duty.present);
    sdb_reply_free(&rep);
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(duties_in_one_batch)
{
    struct store *st = tu_open(tu_tmpdb());
    struct sdb_req reqs[] = {
        duty_req(0, 1, "p1", "a"),
        duty_req(0, 1, "p2", "b"),
        duty_req(0, 1, "p1", "c"),
    };
    struct statedb_op ops[3];
    struct sdb_reply reps[3];
    run_batch(st, reqs, 3, ops, reps);
    ck_assert_uint_eq(reps[0].status, SDB_OK);
    ck_assert_uint_eq(reps[1].status, SDB_CONFLICT);
    ck_assert(bytes_is(reps[1].u.duty.d.payload, "p1"));
    ck_assert_str_eq(reps[1].u.duty.d.trace_id, "a");
    ck_assert_uint_eq(reps[2].status, SDB_DUPLICATE);
    free_batch(ops, reps, 3);
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(list_duties_paged_and_filtered)
{
    struct store *st = tu_open(tu_tmpdb());
    struct sdb_reply rep;
    char payload[64];
    for (uint64_t h = 1; h <= 20; h++) {
        snprintf(payload, sizeof(payload), "{\"h\":%llu,\"pad\":\"0123456789\"}",
                 (unsigned long long)h);
        struct sdb_req put = duty_req(h % 2 ? 0 : 2, h, payload, "t");
        ck_assert_int_eq(tu_run(st, &put, &rep), SDB_OK);
        sdb_reply_free(&rep);
    }
    for (uint64_t h = 1; h <= 5; h++) {
        struct sdb_req d = decided_req(h % 2 ? 0 : 2, h, "v", 0, 0);
        ck_assert_int_eq(tu_run(st, &d, &rep), SDB_OK);
        sdb_reply_free(&rep);
    }
    /* Page through everything with a small budget: each duty exactly once, in key order. */
    for (int undecided = 0; undecided < 2; undecided++) {
        struct sdb_req l = {.type = SDB_LIST_DUTIES};
        l.u.list.undecided_only = undecided;
        l.u.list.max_bytes = 200;
        int seen = 0, pages = 0;
        bool more = true;
        while (more) {
            ck_assert_int_eq(tu_run(st, &l, &rep), SDB_OK);
            ck_assert_uint_gt(rep.u.list.n, 0);
            for (uint32_t i = 0; i < rep.u.list.n; i++) {
                const struct sdb_duty *d = &rep.u.list.v.duties[i];
                if (undecided)
                    ck_assert_uint_gt(d->height, 5);
                seen++;
            }
            const struct sdb_duty *last = &rep.u.list.v.duties[rep.u.list.n - 1];
            l.u.list.has_after = true;
            l.u.list.dtype = last->dtype;
            l.u.list.height = last->height;
            more = rep.u.list.more;
            sdb_reply_free(&rep);
            pages++;
        }
        ck_assert_int_eq(seen, undecided ? 15 : 20);
        ck_assert_int_gt(pages, 2);
    }
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(decided_put_merge_conflict)
{
    struct store *st = tu_open(tu_tmpdb());
    struct sdb_reply rep;
    struct sdb_req d1 = decided_req(1, 9, "block-9", 2, 0); /* seals 0, 1 */
    ck_assert_int_eq(tu_run(st, &d1, &rep), SDB_OK);
    sdb_reply_free(&rep);
    ck_assert_int_eq(tu_run(st, &d1, &rep), SDB_DUPLICATE);
    sdb_reply_free(&rep);
    struct sdb_req d2 = decided_req(1, 9, "block-9", 3, 1); /* seals 1, 2, 3 */
    ck_assert_int_eq(tu_run(st, &d2, &rep), SDB_OK);
    sdb_reply_free(&rep);
    struct sdb_req get = get_req(SDB_GET_DECIDED, 1, 9);
    ck_assert_int_eq(tu_run(st, &get, &rep), SDB_OK);
    ck_assert(rep.u.decided.present);
    ck_assert_uint_eq(rep.u.decided.d.nseals, 4);
    ck_assert_uint_eq(rep.u.decided.d.seals[3].index, 3);
    ck_assert(bytes_is(rep.u.decided.d.value, "block-9"));
    sdb_reply_free(&rep);
    struct sdb_req bad = decided_req(1, 9, "block-X", 1, 5);
    ck_assert_int_eq(tu_run(st, &bad, &rep), SDB_CONFLICT);
    ck_assert(rep.u.decided.present);
    ck_assert(bytes_is(rep.u.decided.d.value, "block-9"));
    sdb_reply_free(&rep);
    get = get_req(SDB_GET_DECIDED, 1, 10);
    ck_assert_int_eq(tu_run(st, &get, &rep), SDB_NOT_FOUND);
    sdb_reply_free(&rep);
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(decided_in_one_batch)
{
    struct store *st = tu_open(tu_tmpdb());
    struct sdb_req reqs[] = {
        decided_req(0, 3, "v", 1, 0), decided_req(0, 3, "v", 1, 4), decided_req(0, 3, "w", 1, 6),
        get_req(SDB_GET_DECIDED, 0, 3), /* a read in the same call sees the merged result */
    };
    struct statedb_op ops[4];
    struct sdb_reply reps[4];
    run_batch(st, reqs, 4, ops, reps);
    ck_assert_uint_eq(reps[0].status, SDB_OK);
    ck_assert_uint_eq(reps[1].status, SDB_OK);
    ck_assert_uint_eq(reps[2].status, SDB_CONFLICT);
    ck_assert_uint_eq(reps[2].u.decided.d.nseals, 2);
    ck_assert_uint_eq(reps[3].status, SDB_OK);
    ck_assert_uint_eq(reps[3].u.decided.d.nseals, 2);
    free_batch(ops, reps, 4);
    store_close(st);
    tu_cleanup();
}
END_TEST

static struct sdb_req set_tss_req(uint8_t dtype, uint64_t h, const char *sig)
{
    struct sdb_req r = {.type = SDB_SET_TSS};
    r.u.set_tss.dtype = dtype;
    r.u.set_tss.height = h;
    r.u.set_tss.tss = (struct sdb_bytes){(const uint8_t *)sig, (uint32_t)strlen(sig)};
    return r;
}

START_TEST(set_tss_first_one_stays)
{
    struct store *st = tu_open(tu_tmpdb());
    struct sdb_reply rep;
    struct sdb_req none = set_tss_req(0, 4, "sig-a");
    ck_assert_int_eq(tu_run(st, &none, &rep), SDB_NOT_FOUND); /* no decided record */
    sdb_reply_free(&rep);
    struct sdb_req d = decided_req(0, 4, "v", 2, 0);
    ck_assert_int_eq(tu_run(st, &d, &rep), SDB_OK);
    sdb_reply_free(&rep);
    ck_assert_int_eq(tu_run(st, &none, &rep), SDB_OK);
    ck_assert(rep.durable);
    sdb_reply_free(&rep);
    ck_assert_int_eq(tu_run(st, &none, &rep), SDB_DUPLICATE);
    sdb_reply_free(&rep);
    struct sdb_req other = set_tss_req(0, 4, "sig-b");
    ck_assert_int_eq(tu_run(st, &other, &rep), SDB_CONFLICT);
    sdb_reply_free(&rep);
    /* a later PUT_DECIDED (new seals) keeps the signature; the record shows the first one */
    struct sdb_req d2 = decided_req(0, 4, "v", 1, 5);
    ck_assert_int_eq(tu_run(st, &d2, &rep), SDB_OK);
    sdb_reply_free(&rep);
    struct sdb_req get = get_req(SDB_GET_DECIDED, 0, 4);
    ck_assert_int_eq(tu_run(st, &get, &rep), SDB_OK);
    ck_assert(bytes_is(rep.u.decided.d.tss, "sig-a"));
    ck_assert_uint_eq(rep.u.decided.d.nseals, 3);
    sdb_reply_free(&rep);
    /* in one batch: the record and its signature together, a second signature refused */
    struct sdb_req reqs[] = {decided_req(2, 8, "w", 1, 0), set_tss_req(2, 8, "sig-c"),
                             set_tss_req(2, 8, "sig-d"), get_req(SDB_GET_DECIDED, 2, 8)};
    struct statedb_op ops[4];
    struct sdb_reply reps[4];
    run_batch(st, reqs, 4, ops, reps);
    ck_assert_uint_eq(reps[1].status, SDB_OK);
    ck_assert_uint_eq(reps[2].status, SDB_CONFLICT);
    ck_assert(bytes_is(reps[3].u.decided.d.tss, "sig-c"));
    free_batch(ops, reps, 4);
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(load_intents_skips_decided_and_pages)
{
    struct store *st = tu_open(tu_tmpdb());
    struct sdb_reply rep;
    char msg[256];
    memset(msg, 'x', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = 0;
    int expected = 0;
    for (uint64_t h = 1; h <= 10; h++)
        for (uint32_t round = 1; round <= 3; round++) {
            msg[0] = (char)('a' + h);
            msg[1] = (char)('0' + round);
            ck_assert_int_eq(tu_append(st, 0, h, round, QBFT_PREPARE, msg), SDB_OK);
            if (h % 3)
                expected++;
        }
    for (uint64_t h = 3; h <= 10; h += 3) {
        struct sdb_req d = decided_req(0, h, "v", 0, 0);
        ck_assert_int_eq(tu_run(st, &d, &rep), SDB_OK);
        sdb_reply_free(&rep);
    }
    struct sdb_req l = {.type = SDB_LOAD_INTENTS};
    l.u.load.max_bytes = 1000; /* about three intents per page */
    int seen = 0;
    bool more = true;
    while (more) {
        ck_assert_int_eq(tu_run(st, &l, &rep), SDB_OK);
        for (uint32_t i = 0; i < rep.u.list.n; i++) {
            const struct sdb_intent *in = &rep.u.list.v.intents[i];
            ck_assert_uint_ne(in->k.height % 3, 0);
            ck_assert_uint_eq(in->msg.len, 255);
            ck_assert_int_eq(in->msg.p[0], 'a' + (int)in->k.height);
            ck_assert_int_eq(in->msg.p[1], '0' + (int)in->k.round);
            seen++;
        }
        if (rep.u.list.n) {
            l.u.load.has_after = true;
            l.u.load.after = rep.u.list.v.intents[rep.u.list.n - 1].k;
        }
        more = rep.u.list.more;
        sdb_reply_free(&rep);
    }
    ck_assert_int_eq(seen, expected);
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(prune_decided_only_or_all)
{
    struct store *st = tu_open(tu_tmpdb());
    struct sdb_reply rep;
    for (uint64_t h = 1; h <= 6; h++) {
        struct sdb_req d = duty_req(0, h, "p", "t");
        ck_assert_int_eq(tu_run(st, &d, &rep), SDB_OK);
        sdb_reply_free(&rep);
        ck_assert_int_eq(tu_append(st, 0, h, 1, QBFT_PREPARE, "p"), SDB_OK);
        ck_assert_int_eq(tu_append(st, 0, h, 1, QBFT_COMMIT, "c"), SDB_OK);
    }
    /* Another duty type is untouched by a prune of type 0. */
    ck_assert_int_eq(tu_append(st, 1, 1, 1, QBFT_PREPARE, "p"), SDB_OK);
    for (uint64_t h = 1; h <= 4; h += 2) { /* decided: 1, 3 */
        struct sdb_req d = decided_req(0, h, "v", 0, 0);
        ck_assert_int_eq(tu_run(st, &d, &rep), SDB_OK);
        sdb_reply_free(&rep);
    }
    struct sdb_req p = {.type = SDB_PRUNE};
    p.u.prune.dtype = 0;
    p.u.prune.below = 5;
    p.u.prune.include_undecided = false;
    ck_assert_int_eq(tu_run(st, &p, &rep), SDB_OK);
    ck_assert_uint_eq(rep.u.prune.pruned, 8); /* 2 instances x (decided + duty + 2 intents) */
    ck_assert(!rep.u.prune.more);
    sdb_reply_free(&rep);
    struct sdb_req g = get_req(SDB_GET_DUTY, 0, 1);
    ck_assert_int_eq(tu_run(st, &g, &rep), SDB_NOT_FOUND);
    sdb_reply_free(&rep);
    g = get_req(SDB_GET_DUTY, 0, 2); /* undecided: kept */
    ck_assert_int_eq(tu_run(st, &g, &rep), SDB_OK);
    sdb_reply_free(&rep);
    /* The pruned intents are gone: appending different bytes there is accepted again. */
    ck_assert_int_eq(tu_append(st, 0, 1, 1, QBFT_PREPARE, "new"), SDB_OK);
    ck_assert_int_eq(tu_append(st, 0, 2, 1, QBFT_PREPARE, "new"), SDB_REFUSED);

    p.u.prune.include_undecided = true;
    ck_assert_int_eq(tu_run(st, &p, &rep), SDB_OK);
    /* heights 1 (1 new intent), 2 and 4 (duty + 2 intents each) */
    ck_assert_uint_eq(rep.u.prune.pruned, 7);
    sdb_reply_free(&rep);
    struct sdb_req l = {.type = SDB_LOAD_INTENTS};
    ck_assert_int_eq(tu_run(st, &l, &rep), SDB_OK);
    ck_assert_uint_eq(rep.u.list.n, 5); /* heights 5 and 6 (2 each) and type 1 */
    ck_assert_uint_eq(rep.u.list.v.intents[0].k.height, 5);
    sdb_reply_free(&rep);
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(prune_request_from_retention)
{
    struct store *st = tu_open(tu_tmpdb());
    struct sdb_reply rep;
    struct sdb_req p;
    ck_assert(!statedb_prune_request(st, 1, 10, &p)); /* nothing decided */
    for (uint64_t h = 100; h <= 130; h += 10) {
        struct sdb_req d = decided_req(1, h, "v", 0, 0);
        ck_assert_int_eq(tu_run(st, &d, &rep), SDB_OK);
        sdb_reply_free(&rep);
    }
    struct sdb_req other = decided_req(2, 5000, "v", 0, 0); /* another type's heights */
    ck_assert_int_eq(tu_run(st, &other, &rep), SDB_OK);
    sdb_reply_free(&rep);
    ck_assert(statedb_prune_request(st, 1, 15, &p));
    ck_assert_uint_eq(p.type, SDB_PRUNE);
    ck_assert_uint_eq(p.u.prune.below, 115);
    ck_assert(!p.u.prune.include_undecided);
    ck_assert_int_eq(tu_run(st, &p, &rep), SDB_OK);
    ck_assert_uint_eq(rep.u.prune.pruned, 2); /* heights 100 and 110 */
    sdb_reply_free(&rep);
    ck_assert(!statedb_prune_request(st, 1, 200, &p));
    ck_assert(!statedb_prune_request(st, 0, 1, &p));
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(iterate_raw_pages)
{
    struct store *st = tu_open(tu_tmpdb());
    struct sdb_reply rep;
    struct sdb_req it = {.type = SDB_ITERATE};
    it.u.iter.cf = SDB_CF_META;
    ck_assert_int_eq(tu_run(st, &it, &rep), SDB_OK);
    ck_assert_uint_eq(rep.u.list.n, 4); /* created_ms, lock_hash, node_index, schema */
    ck_assert(bytes_is(rep.u.list.v.kvs[3].key, "schema"));
    ck_assert_uint_eq(rep.u.list.v.kvs[1].value.len, RECORD_LOCK_HASH);
    sdb_reply_free(&rep);
    for (uint64_t h = 0; h < 7; h++)
        ck_assert_int_eq(tu_append(st, 2, h, 1, QBFT_ROUND_CHANGE, "rc"), SDB_OK);
    it.u.iter.cf = SDB_CF_WAL;
    it.u.iter.max_entries = 3;
    int total = 0;
    bool more = true;
    while (more) {
        ck_assert_int_eq(tu_run(st, &it, &rep), SDB_OK);
        ck_assert_uint_le(rep.u.list.n, 3);
        total += (int)rep.u.list.n;
        more = rep.u.list.more;
        if (rep.u.list.n) {
            it.u.iter.has_after = true;
            it.u.iter.after = rep.u.list.v.kvs[rep.u.list.n - 1].key;
        }
        for (uint32_t i = 0; i < rep.u.list.n; i++)
            ck_assert_uint_eq(rep.u.list.v.kvs[i].key.len, RECORD_WAL_KEY_LEN);
        /* `after` points into the reply body, which lives until tu_cleanup */
        sdb_reply_free(&rep);
    }
    ck_assert_int_eq(total, 7);
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(hello_reports_recovery)
{
    struct store *st = tu_open(tu_tmpdb());
    struct sdb_reply rep;
    struct sdb_req h = {.type = SDB_HELLO, .u.hello.generation = 1};
    ck_assert_int_eq(tu_run(st, &h, &rep), SDB_OK);
    ck_assert(!rep.u.hello.fallback);
    ck_assert(rep.durable);
    sdb_reply_free(&rep);
    store_close(st);
    tu_cleanup();
}
END_TEST

/* The disk fails the batch: whatever wrote, or leaned on a write of the same call, is ERROR and
 * not stored; answers against the database itself stand. */
START_TEST(write_failure_answers_error)
{
    struct store *st = tu_open(tu_tmpdb());
    ck_assert_int_eq(tu_append(st, 0, 1, 1, QBFT_PREPARE, "old"), SDB_OK);
    store_inject_write_errors(st, 1);
    struct sdb_req reqs[] = {
        intent_req(0, 2, 1, QBFT_PREPARE, "new"),
        intent_req(0, 2, 1, QBFT_PREPARE, "other"), /* refused against a staged write */
        intent_req(0, 1, 1, QBFT_PREPARE, "old"),   /* duplicate of the database */
        intent_req(0, 1, 1, QBFT_PREPARE, "bad"),   /* refused against the database */
    };
    struct statedb_op ops[4];
    struct sdb_reply reps[4];
    run_batch(st, reqs, 4, ops, reps);
    ck_assert_uint_eq(reps[0].status, SDB_ERROR);
    ck_assert_uint_eq(reps[1].status, SDB_ERROR);
    ck_assert_uint_eq(reps[2].status, SDB_DUPLICATE);
    ck_assert_uint_eq(reps[3].status, SDB_REFUSED);
    ck_assert(bytes_is(reps[3].u.stored.msg, "old"));
    for (int i = 0; i < 4; i++)
        ck_assert(!reps[i].durable);
    ck_assert_str_eq(ops[0].out.err, "write: injected failure");
    free_batch(ops, reps, 4);
    ck_assert_double_eq(metric_value(metric("state_persist_errors_total")), 1);
    ck_assert_double_eq(metric_value(metric("qbft_wal_appends_total", "prepare")), 1);
    /* Nothing of the failed batch is stored: the next attempt is a fresh append. */
    ck_assert_int_eq(tu_append(st, 0, 2, 1, QBFT_PREPARE, "other"), SDB_OK);
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(unsynced_replies_not_durable)
{
    const char *db = tu_tmpdb();
    struct store *st;
    char err[256];
    struct store_opts o = tu_opts(db);
    o.sync = false;
    ck_assert_int_eq(store_open(&st, &o, err, sizeof(err)), STORE_OK);
    struct sdb_req r = intent_req(0, 1, 1, QBFT_PREPARE, "x");
    struct sdb_reply rep;
    ck_assert_int_eq(tu_run(st, &r, &rep), SDB_OK);
    ck_assert(!rep.durable);
    sdb_reply_free(&rep);
    store_close(st);
    tu_cleanup();
}
END_TEST

START_TEST(queue_push_commit_clear)
{
    struct store *st = tu_open(tu_tmpdb());
    struct statedb_queue q = {0};
    for (int i = 0; i < 10; i++) {
        struct buf body = BUF_INIT, env = BUF_INIT;
        char msg[16];
        snprintf(msg, sizeof(msg), "m%d", i);
        struct sdb_req r = intent_req(0, (uint64_t)(i % 4), 1, QBFT_PREPARE, msg);
        sdb_req_encode(&body, &r);
        envelope_encode(&env, SDB_APPEND_INTENT, 0, 3, (uint64_t)(100 + i), "tr", body.data,
                        body.len);
        struct envelope e;
        ck_assert_int_eq(envelope_decode(&e, env.data, env.len), 0);
        ck_assert_int_eq(statedb_queue_push(&q, &e), 0);
        buf_free(&body);
        buf_free(&env);
    }
    /* A malformed body and a type that is not a statedb request are refused. */
    struct envelope bad = {
        .type = SDB_APPEND_INTENT, .body = (const uint8_t *)"\x91", .body_len = 1};
    ck_assert_int_eq(statedb_queue_push(&q, &bad), -1);
    bad.type = SDB_APPEND_INTENT_REP;
    ck_assert_int_eq(statedb_queue_push(&q, &bad), -1);
    ck_assert_uint_eq(q.n, 10);
    statedb_queue_commit(&q, st, 3); /* four group commits */
    for (size_t i = 0; i < q.n; i++) {
        ck_assert_uint_eq(q.ops[i].req_id, 100 + i);
        ck_assert_uint_eq(q.ops[i].source, 3);
        ck_assert_str_eq(q.ops[i].trace_id, "tr");
        ck_assert_uint_eq(q.ops[i].out.type, SDB_APPEND_INTENT_REP);
        ck_assert_uint_eq(q.ops[i].out.status, i < 4 ? SDB_OK : SDB_REFUSED);
    }
    ck_assert_double_eq(metric_value(metric("statedb_batch_size")), 4);
    statedb_queue_clear(&q);
    ck_assert_uint_eq(q.n, 0);
    statedb_queue_free(&q);
    store_close(st);
    tu_cleanup();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("statedb_commit");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, intent_new_duplicate_refused);
    tcase_add_test(tc, intents_in_one_batch);
    tcase_add_test(tc, duty_put_get_conflict);
    tcase_add_test(tc, duties_in_one_batch);
    tcase_add_test(tc, list_duties_paged_and_filtered);
    tcase_add_test(tc, decided_put_merge_conflict);
    tcase_add_test(tc, decided_in_one_batch);
    tcase_add_test(tc, set_tss_first_one_stays);
    tcase_add_test(tc, load_intents_skips_decided_and_pages);
    tcase_add_test(tc, prune_decided_only_or_all);
    tcase_add_test(tc, prune_request_from_retention);
    tcase_add_test(tc, iterate_raw_pages);
    tcase_add_test(tc, hello_reports_recovery);
    tcase_add_test(tc, write_failure_answers_error);
    tcase_add_test(tc, unsynced_replies_not_durable);
    tcase_add_test(tc, queue_push_commit_clear);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
