/*
 * Fuzz target: proto/tss — the decoders of aequa/tss/v1 messages and of the stored signature
 * record, on untrusted bytes. Invariants, checked with abort():
 *   - an accepted message, with every field in its range, re-encodes within TSS_MSG_MAX to
 *     bytes that decode to the same message and re-encode to themselves (one canonical form);
 *   - an accepted record likewise, within TSS_RECORD_MAX, and its JSON is one object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/duty.h"
#include "proto/tss.h"

#include "tests/fuzz/fuzz.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_tss_msg: invariant failed: %s (line %d)\n", #cond, __LINE__);    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_msg(const uint8_t *data, size_t size)
{
    static struct tss_msg m, again;
    if (tss_msg_decode(&m, data, size) < 0)
        return;
    CHECK(m.kind >= TSS_COMMIT && m.kind <= TSS_KIND_MAX && tss_kind_name(m.kind) != NULL);
    CHECK(m.dtype < DUTY_TYPES && m.height <= DUTY_HEIGHT_MAX && m.attempt < TSS_MAX_ATTEMPTS);
    CHECK(m.ncommits <= TSS_MAX_SIGNERS && m.nsigners <= TSS_MAX_SIGNERS);
    struct buf a = BUF_INIT, b = BUF_INIT;
    tss_msg_encode(&a, &m);
    CHECK(a.len <= TSS_MSG_MAX);
    CHECK(tss_msg_decode(&again, a.data, a.len) == 0);
    CHECK(again.kind == m.kind && again.height == m.height && again.attempt == m.attempt);
    tss_msg_encode(&b, &again);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    buf_free(&a);
    buf_free(&b);
}

static void check_record(const uint8_t *data, size_t size)
{
    struct tss_record r, again;
    if (tss_record_decode(&r, data, size) < 0)
        return;
    struct buf a = BUF_INIT, b = BUF_INIT, j = BUF_INIT;
    tss_record_encode(&a, &r);
    CHECK(a.len <= TSS_RECORD_MAX);
    CHECK(tss_record_decode(&again, a.data, a.len) == 0);
    tss_record_encode(&b, &again);
    CHECK(again.nsigners == r.nsigners && a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    tss_record_json(&j, &r);
    CHECK(j.len > 2 && j.data[0] == '{' && j.data[j.len - 1] == '}');
    buf_free(&a);
    buf_free(&b);
    buf_free(&j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_msg(data, size);
    check_record(data, size);
    return 0;
}
