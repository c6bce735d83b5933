/*
 * Fuzz target: proto/tx — the strict JSON decoder of POST /v1/tx/plain and the binary decoder
 * (the same bytes through both), plus the signature check. Invariants, checked with abort():
 *   - every failure is one of the error classes, with a detail and an HTTP status of 400/413;
 *   - an accepted JSON body's transaction writes JSON that decodes again to the same canonical
 *     bytes and hash, never longer than tx_json_max; its canonical bytes decode to the same;
 *   - accepted binary input is exactly the canonical encoding of what it decoded to;
 *   - tx_verify returns 0, or -1 with "bad signature", never crashes.
 * The lock hash is fixed (32 x 0x11), as in the corpus.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/tx.h"

#include "tests/fuzz/fuzz.h"

#define MAX_DATA 4096

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_tx_json: invariant failed: %s (line %d)\n", #cond, __LINE__);    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const uint8_t lock_hash[SHA256_LEN] = {
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
};

static void check_error(const struct tx_error *e)
{
    CHECK(e->code != TX_OK && e->detail != NULL);
    int status = tx_err_http_status(e->code);
    CHECK(status == 400 || status == 413);
    CHECK(tx_err_body(e->code) != NULL);
}

static void check_verify(const struct tx *tx)
{
    struct tx_error e;
    if (tx_verify(tx, lock_hash, &e) < 0)
        CHECK(e.code == TX_ERR_BAD_SIGNATURE && e.detail != NULL);
}

static void same_tx(const struct tx *a, const struct tx *b)
{
    CHECK(a->wire_len == b->wire_len && memcmp(a->wire, b->wire, a->wire_len) == 0);
    CHECK(memcmp(a->hash, b->hash, SHA256_LEN) == 0);
}

static void fuzz_json(const uint8_t *data, size_t size)
{
    struct tx *tx = NULL, *again = NULL, *bin = NULL;
    struct tx_error e;
    if (tx_json_decode(data, size, MAX_DATA, lock_hash, &tx, &e) < 0) {
        CHECK(tx == NULL);
        check_error(&e);
        return;
    }
    CHECK(e.code == TX_OK && tx->data_len <= MAX_DATA);
    struct buf j = BUF_INIT;
    tx_json(tx, 0, &j);
    CHECK(j.len <= tx_json_max(MAX_DATA));
    CHECK(tx_json_decode(j.data, j.len, MAX_DATA, lock_hash, &again, &e) == 0);
    same_tx(tx, again);
    CHECK(tx_decode(tx->wire, tx->wire_len, MAX_DATA, lock_hash, &bin, &e) == 0);
    same_tx(tx, bin);
    buf_reset(&j);
    tx_json(tx, TX_JSON_HASH, &j); /* the API's form: not a valid POST body (unknown key) */
    struct tx *with_hash = NULL;
    CHECK(tx_json_decode(j.data, j.len, MAX_DATA, lock_hash, &with_hash, &e) < 0);
    CHECK(e.code == TX_ERR_INVALID_JSON);
    check_verify(tx);
    buf_free(&j);
    tx_free(bin);
    tx_free(again);
    tx_free(tx);
}

static void fuzz_wire(const uint8_t *data, size_t size)
{
    struct tx *tx = NULL;
    struct tx_error e;
    unsigned type;
    int peek = tx_wire_type(data, size, &type);
    if (tx_decode(data, size, MAX_DATA, lock_hash, &tx, &e) < 0) {
        CHECK(tx == NULL);
        check_error(&e);
        return;
    }
    CHECK(peek == 0 && type == tx->type && tx_type_name(type) != NULL);
    CHECK(tx->wire_len == size && memcmp(tx->wire, data, size) == 0);
    CHECK(tx->wire_len - tx->data_len <= TX_PLAINTEXT_OVERHEAD);
    check_verify(tx);
    tx_free(tx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_json(data, size);
    fuzz_wire(data, size);
    return 0;
}
