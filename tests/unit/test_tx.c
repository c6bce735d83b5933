/* Unit tests for proto/tx (plaintext_v1: signing bytes, signature, codecs, strict JSON) and
 * proto/block (codec, size arithmetic, JSON, reason names). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mp.h"
#include "lib/util.h"
#include "proto/block.h"
#include "proto/tx.h"

/*
 * An independent vector, made with Debian's python3-ecdsa (RFC 6979 deterministic signing, S
 * lowered): secret key 01 02 ... 20, lock_hash 32 x 0x11, nonce 1, gas 21000, fee 7, data abcd.
 */
#define VEC_FROM "d136e9438ef1b044c2f3afb450f3104d3e4a15cd"
#define VEC_SIG                                                                                    \
    "6ada64d9880d1057a2b67a69631579d5db3c4a02d118ac36149d200208883c55"                             \
    "02b1396cf9c6d6b94e91d3e8d6233f9aee9d7ca26fbbe8785fdff34c3691cf8a00"
#define VEC_HASH "ef72f2319dcf1a977324eb127fa1ed3fedf43f424ce1a40fad2ada7358562d3b"
#define VEC_JSON                                                                                   \
    "{\"type\":\"plaintext_v1\",\"from\":\"" VEC_FROM "\",\"nonce\":1,\"gas\":21000,\"fee\":7,"    \
    "\"data\":\"abcd\",\"sig\":\"" VEC_SIG "\"}"

static uint8_t lock_a[SHA256_LEN], lock_b[SHA256_LEN];

static void setup(void)
{
    memset(lock_a, 0x11, sizeof(lock_a));
    memset(lock_b, 0x22, sizeof(lock_b));
}

static void vec_key(struct node_key *k)
{
    uint8_t sec[SECKEY_LEN];
    for (int i = 0; i < SECKEY_LEN; i++)
        sec[i] = (uint8_t)(i + 1);
    ck_assert_int_eq(node_key_from_secret(k, sec), 0);
}

static struct tx *json_ok(const char *text)
{
    struct tx *tx = NULL;
    struct tx_error err;
    int rc = tx_json_decode((const uint8_t *)text, strlen(text), 4096, lock_a, &tx, &err);
    ck_assert_msg(rc == 0, "%s: %s", text, err.detail);
    ck_assert_int_eq(err.code, TX_OK);
    return tx;
}

static char *hex_of(const void *p, size_t n)
{
    char *s = xmalloc(2 * n + 1);
    hex_encode(s, p, n);
    return s;
}

START_TEST(signing_bytes_by_hand)
{
    /* "aequa/tx/plaintext_v1" || lock 11.. || from 22.. || nonce 1 || gas 0102..08 || fee ff
     * || u32 length 2 || ab cd, written out field by field */
    static const char want[] = "61657175612f74782f706c61696e746578745f7631"
                               "1111111111111111111111111111111111111111111111111111111111111111"
                               "2222222222222222222222222222222222222222"
                               "0000000000000001"
                               "0102030405060708"
                               "00000000000000ff"
                               "00000002"
                               "abcd";
    uint8_t from[TX_ADDR_LEN];
    memset(from, 0x22, sizeof(from));
    struct buf b = BUF_INIT;
    tx_plain_signing_bytes(&b, lock_a, from, 1, 0x0102030405060708ull, 0xff, "\xab\xcd", 2);
    char *got = hex_of(b.data, b.len);
    ck_assert_str_eq(got, want);
    free(got);
    buf_free(&b);
}
END_TEST

START_TEST(independent_vector)
{
    struct tx *tx = json_ok(VEC_JSON);
    char *h = hex_of(tx->hash, SHA256_LEN);
    ck_assert_str_eq(h, VEC_HASH);
    free(h);
    ck_assert_int_eq(tx_verify(tx, lock_a, NULL), 0);
    /* libsecp256k1 signs with RFC 6979 too: the same key signs the same bytes */
    struct node_key k;
    vec_key(&k);
    struct tx *mine = tx_plain_sign(lock_a, &k, 1, 21000, 7, "\xab\xcd", 2);
    ck_assert_uint_eq(mine->wire_len, tx->wire_len);
    ck_assert(memcmp(mine->wire, tx->wire, tx->wire_len) == 0);
    /* JSON out: the same text back, and with the hash first */
    struct buf b = BUF_INIT;
    tx_json(tx, 0, &b);
    ck_assert_str_eq((char *)b.data, VEC_JSON);
    buf_reset(&b);
    tx_json(tx, TX_JSON_HASH, &b);
    char want[1024];
    snprintf(want, sizeof(want), "{\"hash\":\"%s\",%s", VEC_HASH, &VEC_JSON[1]);
    ck_assert_str_eq((char *)b.data, want);
    buf_free(&b);
    tx_free(mine);
    tx_free(tx);
}
END_TEST

START_TEST(sign_verify_and_bind_to_lock)
{
    for (int i = 0; i < 32; i++) {
        struct node_key k;
        node_key_generate(&k);
        uint8_t data[40];
        random_bytes(data, sizeof(data));
        struct tx *tx = tx_plain_sign(lock_a, &k, (uint64_t)i, 1, 2, data, (uint32_t)i);
        struct tx_error err;
        ck_assert_int_eq(tx_verify(tx, lock_a, &err), 0);
        ck_assert_uint_le(tx->sig[64], 1);
        uint8_t addr[ADDR_LEN];
        pubkey_address(k.pub, addr);
        ck_assert(memcmp(addr, tx->from, ADDR_LEN) == 0);
        ck_assert_int_eq(tx_verify(tx, lock_b, &err), -1);
        ck_assert_int_eq(err.code, TX_ERR_BAD_SIGNATURE);
        tx_free(tx);
    }
}
END_TEST

/* s -> n - s (big-endian 256-bit) */
static void negate_s(uint8_t s[32])
{
    static const uint8_t n[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                  0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48,
                                  0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41};
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = n[i] - s[i] - borrow;
        borrow = d < 0;
        s[i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
}

static struct tx *with_sig(const struct tx *tx, const uint8_t sig[TX_SIG_LEN])
{
    return tx_plain_new(lock_a, tx->from, tx->nonce, tx->gas, tx->fee, tx->data, tx->data_len, sig);
}

static void expect_bad_sig(const struct tx *tx, const char *detail)
{
    struct tx_error err;
    ck_assert_int_eq(tx_verify(tx, lock_a, &err), -1);
    ck_assert_int_eq(err.code, TX_ERR_BAD_SIGNATURE);
    ck_assert_str_eq(err.detail, detail);
    ck_assert_str_eq(tx_err_body(err.code), "bad signature");
    ck_assert_int_eq(tx_err_http_status(err.code), 400);
}

START_TEST(high_s_rejected)
{
    struct tx *tx = json_ok(VEC_JSON);
    /* (r, n - s) with the other recovery parity is the same signature mathematically: it
     * recovers the same key, so only the low-S rule refuses it */
    uint8_t sig[TX_SIG_LEN];
    memcpy(sig, tx->sig, TX_SIG_LEN);
    negate_s(sig + 32);
    sig[64] ^= 1;
    struct tx *high = with_sig(tx, sig);
    expect_bad_sig(high, "sig: high S");
    tx_free(high);
    tx_free(tx);
}
END_TEST

START_TEST(recovery_id_rules)
{
    struct tx *tx = json_ok(VEC_JSON);
    uint8_t sig[TX_SIG_LEN];
    memcpy(sig, tx->sig, TX_SIG_LEN);
    sig[64] ^= 1; /* the other parity recovers another key */
    struct tx *t = with_sig(tx, sig);
    expect_bad_sig(t, "sig: signer is not from");
    tx_free(t);
    sig[64] = 4;
    t = with_sig(tx, sig);
    expect_bad_sig(t, "sig: recovery id above 3");
    tx_free(t);
    for (uint8_t id = 2; id <= 3; id++) { /* r + n is beyond the field: no point */
        sig[64] = id;
        t = with_sig(tx, sig);
        expect_bad_sig(t, "sig: no key recovers");
        tx_free(t);
    }
    memset(sig, 0, 64); /* r = s = 0 */
    sig[64] = 0;
    t = with_sig(tx, sig);
    struct tx_error err;
    ck_assert_int_eq(tx_verify(t, lock_a, &err), -1);
    ck_assert_int_eq(err.code, TX_ERR_BAD_SIGNATURE);
    tx_free(t);
    tx_free(tx);
}
END_TEST

START_TEST(address_mismatch)
{
    struct node_key k, other;
    node_key_generate(&k);
    node_key_generate(&other);
    struct tx *tx = tx_plain_sign(lock_a, &k, 3, 4, 5, NULL, 0);
    uint8_t from[ADDR_LEN];
    pubkey_address(other.pub, from);
    struct tx *forged = tx_plain_new(lock_a, from, 3, 4, 5, NULL, 0, tx->sig);
    expect_bad_sig(forged, "sig: signer is not from");
    /* any field changed after signing: the recovered key is another one */
    struct tx *bumped = tx_plain_new(lock_a, tx->from, 3, 4, 6, NULL, 0, tx->sig);
    expect_bad_sig(bumped, "sig: signer is not from");
    tx_free(bumped);
    tx_free(forged);
    tx_free(tx);
}
END_TEST

START_TEST(json_strict_cases)
{
    static const char sig[] = VEC_SIG;
    static const char from[] = VEC_FROM;
    static char big[9000];
    static struct {
        char text[9400];
        enum tx_err code;
        const char *detail; /* substring; NULL: any */
    } cases[40];
    size_t n = 0;
#define CASE(c, d, ...)                                                                            \
    do {                                                                                           \
        snprintf(cases[n].text, sizeof(cases[n].text), __VA_ARGS__);                               \
        cases[n].code = (c);                                                                       \
        cases[n++].detail = (d);                                                                   \
    } while (0)
#define BODY(extra)                                                                                \
    "{\"type\":\"plaintext_v1\",\"from\":\"%s\",\"nonce\":1,\"gas\":2,\"fee\":3," extra            \
    "\"sig\":\"%s\"}",                                                                             \
        from, sig
    CASE(TX_ERR_INVALID_JSON, "expected value", "%s", "");
    CASE(TX_ERR_INVALID_JSON, NULL, "%s", "nope");
    CASE(TX_ERR_INVALID_JSON, "not an object", "%s", "[1]");
    CASE(TX_ERR_INVALID_JSON, "trailing data",
         "{\"type\":\"plaintext_v1\",\"from\":\"%s\",\"nonce\":1,\"gas\":2,\"fee\":3,"
         "\"sig\":\"%s\"} x",
         from, sig);
    CASE(TX_ERR_INVALID_JSON, "duplicate key",
         "{\"type\":\"plaintext_v1\",\"type\":\"plaintext_v1\"}");
    CASE(TX_ERR_INVALID_JSON, "unknown key", BODY("\"memo\":\"x\","));
    CASE(TX_ERR_INVALID_JSON, "integer literal",
         "{\"type\":\"plaintext_v1\",\"from\":\"%s\",\"nonce\":1.0,\"gas\":2,\"fee\":3,"
         "\"sig\":\"%s\"}",
         from, sig);
    CASE(TX_ERR_INVALID_JSON, "integer literal",
         "{\"type\":\"plaintext_v1\",\"from\":\"%s\",\"nonce\":-1,\"gas\":2,\"fee\":3,"
         "\"sig\":\"%s\"}",
         from, sig);
    CASE(TX_ERR_INVALID_JSON, "integer literal",
         "{\"type\":\"plaintext_v1\",\"from\":\"%s\",\"nonce\":1,\"gas\":\"2\",\"fee\":3,"
         "\"sig\":\"%s\"}",
         from, sig);
    CASE(TX_ERR_INVALID_JSON, "integer literal",
         "{\"type\":\"plaintext_v1\",\"from\":\"%s\",\"nonce\":1,\"gas\":2,\"fee\":3e0,"
         "\"sig\":\"%s\"}",
         from, sig);
    CASE(TX_ERR_INVALID_JSON, "leading zero",
         "{\"type\":\"plaintext_v1\",\"from\":\"%s\",\"nonce\":01,\"gas\":2,\"fee\":3,"
         "\"sig\":\"%s\"}",
         from, sig);
    CASE(TX_ERR_INVALID_JSON, "invalid utf-8", "{\"type\":\"plaintext_v1\",\"data\":\"\xff\"}");
    CASE(TX_ERR_INVALID_JSON, "byte order mark", "\xef\xbb\xbf" BODY(""));
    CASE(TX_ERR_INVALID_TX, "type missing", "{\"from\":\"%s\"}", from);
    CASE(TX_ERR_INVALID_TX, "type: expected a string", "{\"type\":1}");
    CASE(TX_ERR_INVALID_TX, "unknown tx type", "{\"type\":\"plaintext_v2\",\"x\":1}");
    CASE(TX_ERR_INVALID_TX, "unknown tx type", "{\"type\":\"PLAINTEXT_V1\"}");
    CASE(TX_ERR_INVALID_TX, "from missing", "{\"type\":\"plaintext_v1\",\"sig\":\"%s\"}", sig);
    CASE(TX_ERR_INVALID_TX, "from: expected 40 hex",
         "{\"type\":\"plaintext_v1\",\"from\":\"%.39s\",\"nonce\":1,\"gas\":2,\"fee\":3,"
         "\"sig\":\"%s\"}",
         from, sig);
    CASE(TX_ERR_INVALID_TX, "from: expected 40 hex",
         "{\"type\":\"plaintext_v1\",\"from\":\"0x%.38s\",\"nonce\":1,\"gas\":2,\"fee\":3,"
         "\"sig\":\"%s\"}",
         from, sig);
    CASE(TX_ERR_INVALID_TX, "nonce missing",
         "{\"type\":\"plaintext_v1\",\"from\":\"%s\",\"gas\":2,\"fee\":3,\"sig\":\"%s\"}", from,
         sig);
    CASE(TX_ERR_INVALID_TX, "nonce: above 2^64-1",
         "{\"type\":\"plaintext_v1\",\"from\":\"%s\",\"nonce\":18446744073709551616,\"gas\":2,"
         "\"fee\":3,\"sig\":\"%s\"}",
         from, sig);
    CASE(TX_ERR_INVALID_TX, "fee missing",
         "{\"type\":\"plaintext_v1\",\"from\":\"%s\",\"nonce\":1,\"gas\":2,\"sig\":\"%s\"}", from,
         sig);
    CASE(TX_ERR_INVALID_TX, "data: expected a hex string", BODY("\"data\":\"abc\","));
    CASE(TX_ERR_INVALID_TX, "data: expected a hex string", BODY("\"data\":\"zz\","));
    CASE(TX_ERR_INVALID_TX, "data: expected a hex string", BODY("\"data\":null,"));
    CASE(TX_ERR_INVALID_TX, "sig missing",
         "{\"type\":\"plaintext_v1\",\"from\":\"%s\",\"nonce\":1,\"gas\":2,\"fee\":3}", from);
    CASE(TX_ERR_INVALID_TX, "sig: expected 130 hex",
         "{\"type\":\"plaintext_v1\",\"from\":\"%s\",\"nonce\":1,\"gas\":2,\"fee\":3,"
         "\"sig\":\"%.128s\"}",
         from, sig);
    memset(big, 'a', 2 * 4097);
    big[2 * 4097] = 0;
    CASE(TX_ERR_TOO_LARGE, "data: above max_tx_data",
         "{\"type\":\"plaintext_v1\",\"from\":\"%s\",\"nonce\":1,\"gas\":2,\"fee\":3,"
         "\"data\":\"%s\",\"sig\":\"%s\"}",
         from, big, sig);
    for (size_t i = 0; i < n; i++) {
        struct tx *tx = (struct tx *)1;
        struct tx_error err;
        int rc = tx_json_decode((const uint8_t *)cases[i].text, strlen(cases[i].text), 4096, lock_a,
                                &tx, &err);
        ck_assert_msg(rc == -1, "case %zu accepted: %s", i, cases[i].text);
        ck_assert_ptr_null(tx);
        ck_assert_msg(err.code == cases[i].code, "case %zu: code %d, want %d (%s)", i, err.code,
                      cases[i].code, err.detail);
        if (cases[i].detail)
            ck_assert_msg(err.detail && strstr(err.detail, cases[i].detail), "case %zu: '%s'", i,
                          err.detail);
    }
}
END_TEST

START_TEST(json_accepts_and_normalises)
{
    /* upper-case hex, whitespace, another key order, no data */
    char text[512], up_from[41], up_sig[131];
    for (int i = 0; i < 40; i++)
        up_from[i] = (char)(VEC_FROM[i] >= 'a' ? VEC_FROM[i] - 32 : VEC_FROM[i]);
    up_from[40] = 0;
    for (int i = 0; i < 130; i++)
        up_sig[i] = (char)(VEC_SIG[i] >= 'a' ? VEC_SIG[i] - 32 : VEC_SIG[i]);
    up_sig[130] = 0;
    snprintf(text, sizeof(text),
             " {\"sig\" : \"%s\", \"fee\":7,\"gas\":21000,\"nonce\":1,\"from\":\"%s\",\n"
             "\"data\":\"ABCD\",\"type\":\"plaintext_v1\"}\r\n",
             up_sig, up_from);
    struct tx *tx = json_ok(text);
    struct buf b = BUF_INIT;
    tx_json(tx, 0, &b);
    ck_assert_str_eq((char *)b.data, VEC_JSON);
    buf_free(&b);
    tx_free(tx);

    /* data absent and "" are the same empty data; "data" is always written */
    struct node_key k;
    vec_key(&k);
    struct tx *empty = tx_plain_sign(lock_a, &k, 0, 0, 0, NULL, 0);
    char sighex[131];
    hex_encode(sighex, empty->sig, TX_SIG_LEN);
    snprintf(text, sizeof(text),
             "{\"type\":\"plaintext_v1\",\"from\":\"%s\",\"nonce\":0,\"gas\":0,\"fee\":0,"
             "\"sig\":\"%s\"}",
             VEC_FROM, sighex);
    struct tx *a = json_ok(text);
    ck_assert_uint_eq(a->data_len, 0);
    ck_assert(memcmp(a->hash, empty->hash, SHA256_LEN) == 0);
    b = (struct buf)BUF_INIT;
    tx_json(a, 0, &b);
    ck_assert_ptr_nonnull(strstr((char *)b.data, "\"data\":\"\""));
    struct tx *c = json_ok((char *)b.data);
    ck_assert(memcmp(c->hash, a->hash, SHA256_LEN) == 0);
    buf_free(&b);
    tx_free(c);
    tx_free(a);
    tx_free(empty);

    /* u64 bounds inclusive; data exactly max_tx_data */
    uint8_t data[4096];
    memset(data, 0x5a, sizeof(data));
    struct tx *max = tx_plain_sign(lock_a, &k, UINT64_MAX, UINT64_MAX, UINT64_MAX, data, 4096);
    b = (struct buf)BUF_INIT;
    tx_json(max, 0, &b);
    struct tx *back = json_ok((char *)b.data);
    ck_assert(memcmp(back->hash, max->hash, SHA256_LEN) == 0);
    ck_assert_uint_le(b.len, tx_json_max(4096));
    buf_free(&b);
    tx_free(back);
    tx_free(max);
}
END_TEST

START_TEST(json_body_size_limit)
{
    size_t n = tx_json_max(16) + 1;
    uint8_t *body = xmalloc(n);
    memset(body, ' ', n);
    struct tx *tx;
    struct tx_error err;
    ck_assert_int_eq(tx_json_decode(body, n, 16, lock_a, &tx, &err), -1);
    ck_assert_int_eq(err.code, TX_ERR_TOO_LARGE);
    ck_assert_int_eq(tx_err_http_status(err.code), 413);
    ck_assert_str_eq(tx_err_body(err.code), "tx too large");
    /* one byte less is read (and is whitespace only: invalid json) */
    ck_assert_int_eq(tx_json_decode(body, n - 1, 16, lock_a, &tx, &err), -1);
    ck_assert_int_eq(err.code, TX_ERR_INVALID_JSON);
    free(body);
}
END_TEST

START_TEST(wire_roundtrip_and_strictness)
{
    struct node_key k;
    vec_key(&k);
    uint8_t data[300];
    memset(data, 7, sizeof(data));
    struct tx *tx = tx_plain_sign(lock_a, &k, 5, 70000, 1ull << 40, data, sizeof(data));
    struct tx *back;
    struct tx_error err;
    ck_assert_int_eq(tx_decode(tx->wire, tx->wire_len, 4096, lock_a, &back, &err), 0);
    ck_assert(memcmp(back->hash, tx->hash, SHA256_LEN) == 0);
    ck_assert_uint_eq(back->nonce, 5);
    ck_assert_uint_eq(back->data_len, 300);
    ck_assert(memcmp(back->data, data, 300) == 0);
    unsigned type;
    ck_assert_int_eq(tx_wire_type(tx->wire, tx->wire_len, &type), 0);
    ck_assert_uint_eq(type, TX_PLAINTEXT_V1);
    ck_assert_str_eq(tx_type_name(type), "plaintext_v1");
    ck_assert_ptr_null(tx_type_name(2));
    tx_free(back);

    /* every truncation, and a trailing byte */
    for (uint32_t n = 0; n < tx->wire_len; n++)
        ck_assert_int_eq(tx_decode(tx->wire, n, 4096, lock_a, &back, &err), -1);
    uint8_t *longer = xmalloc(tx->wire_len + 1);
    memcpy(longer, tx->wire, tx->wire_len);
    longer[tx->wire_len] = 0xc0;
    ck_assert_int_eq(tx_decode(longer, tx->wire_len + 1, 4096, lock_a, &back, &err), -1);
    free(longer);
    /* data above the limit */
    ck_assert_int_eq(tx_decode(tx->wire, tx->wire_len, 299, lock_a, &back, &err), -1);
    ck_assert_int_eq(err.code, TX_ERR_TOO_LARGE);

    /* the same fields in longer forms are refused */
    struct buf w = BUF_INIT;
    mp_w_array(&w, 7);
    mp_w_uint(&w, 1);
    mp_w_bin(&w, tx->from, TX_ADDR_LEN);
    buf_append(&w, "\xcf\0\0\0\0\0\0\0\x05", 9); /* nonce 5 as uint 64 */
    mp_w_uint(&w, tx->gas);
    mp_w_uint(&w, tx->fee);
    mp_w_bin(&w, tx->data, tx->data_len);
    mp_w_bin(&w, tx->sig, TX_SIG_LEN);
    ck_assert_int_eq(tx_decode(w.data, w.len, 4096, lock_a, &back, &err), -1);
    ck_assert_str_eq(err.detail, "plaintext_v1: not the canonical encoding");
    buf_reset(&w);
    mp_w_array(&w, 2);
    mp_w_uint(&w, 2);
    mp_w_nil(&w);
    ck_assert_int_eq(tx_decode(w.data, w.len, 4096, lock_a, &back, &err), -1);
    ck_assert_str_eq(err.detail, "unknown tx type");
    /* a count the bytes cannot hold is no transaction at all */
    buf_reset(&w);
    mp_w_array(&w, 7);
    mp_w_uint(&w, 1);
    ck_assert_int_eq(tx_decode(w.data, w.len, 4096, lock_a, &back, &err), -1);
    ck_assert_str_eq(err.detail, "not a transaction");
    buf_reset(&w);
    mp_w_array(&w, 6);
    mp_w_uint(&w, 1);
    ck_assert_int_eq(tx_decode(w.data, w.len, 4096, lock_a, &back, &err), -1);
    ck_assert_int_eq(err.code, TX_ERR_INVALID_TX);
    buf_free(&w);
    tx_free(tx);
}
END_TEST

START_TEST(wire_overhead_bound)
{
    struct node_key k;
    vec_key(&k);
    uint32_t len = 70000; /* a bin 32 header: the longest */
    uint8_t *data = xcalloc(1, len);
    struct tx *tx = tx_plain_sign(lock_a, &k, UINT64_MAX, UINT64_MAX, UINT64_MAX, data, len);
    ck_assert_uint_eq(tx->wire_len - tx->data_len, TX_PLAINTEXT_OVERHEAD);
    tx_free(tx);
    free(data);
}
END_TEST

/* ---- blocks ---- */

static struct tx *some_tx(int i)
{
    struct node_key k;
    node_key_generate(&k);
    uint8_t data[300] = {0};
    return tx_plain_sign(lock_a, &k, (uint64_t)i, 10, 20, data, (uint32_t)(i * 37 % 300));
}

static void encode_block(struct buf *out, const struct block_header *h, struct tx **txs, uint32_t n)
{
    block_encode_begin(out, h, n);
    for (uint32_t i = 0; i < n; i++)
        block_encode_tx(out, txs[i]->wire, txs[i]->wire_len);
}

START_TEST(block_roundtrip_and_sizes)
{
    struct tx *txs[20];
    for (int i = 0; i < 20; i++)
        txs[i] = some_tx(i);
    static const uint64_t heights[] = {1, 127, 128, 255, 256, 65536, 1ull << 33, BLOCK_HEIGHT_MAX};
    for (size_t hi = 0; hi < ARRAY_LEN(heights); hi++) {
        static const uint32_t counts[] = {0, 1, 2, 15, 16, 17, 20};
        for (size_t ci = 0; ci < ARRAY_LEN(counts); ci++) {
            uint32_t n = counts[ci];
            struct block_header h = {.height = heights[hi], .proposer = (uint32_t)(hi * 40)};
            memset(h.parent_hash, (int)hi, SHA256_LEN);
            struct buf b = BUF_INIT;
            encode_block(&b, &h, txs, n);
            size_t want = block_fixed_size(&h) + block_txs_header_size(n);
            for (uint32_t i = 0; i < n; i++)
                want += block_tx_item_size(txs[i]->wire_len);
            ck_assert_uint_eq(b.len, want);
            struct block d;
            ck_assert_int_eq(block_decode(&d, b.data, b.len, 1000), BLOCK_DECODE_OK);
            ck_assert_uint_eq(d.h.height, h.height);
            ck_assert_uint_eq(d.h.proposer, h.proposer);
            ck_assert(memcmp(d.h.parent_hash, h.parent_hash, SHA256_LEN) == 0);
            ck_assert_uint_eq(d.ntxs, n);
            for (uint32_t i = 0; i < n; i++) {
                ck_assert_uint_eq(d.txs[i].len, txs[i]->wire_len);
                ck_assert(memcmp(d.txs[i].p, txs[i]->wire, d.txs[i].len) == 0);
            }
            block_free(&d);
            if (n > 0)
                ck_assert_int_eq(block_decode(&d, b.data, b.len, n - 1), BLOCK_DECODE_TOO_MANY_TXS);
            for (size_t cut = 0; cut < b.len; cut += 1 + cut / 8)
                ck_assert_int_eq(block_decode(&d, b.data, cut, 1000), BLOCK_DECODE_MALFORMED);
            buf_free(&b);
        }
    }
    /* the count's header grows at 16 and at 65536 */
    ck_assert_uint_eq(block_txs_header_size(15), 1);
    ck_assert_uint_eq(block_txs_header_size(16), 3);
    ck_assert_uint_eq(block_txs_header_size(65535), 3);
    ck_assert_uint_eq(block_txs_header_size(65536), 5);
    ck_assert_uint_eq(block_tx_item_size(255), 257);
    ck_assert_uint_eq(block_tx_item_size(256), 259);
    ck_assert_uint_eq(block_tx_item_size(65536), 65541);
    for (int i = 0; i < 20; i++)
        tx_free(txs[i]);
}
END_TEST

START_TEST(block_not_canonical)
{
    struct tx *tx = some_tx(1);
    struct block d;
    struct buf b = BUF_INIT;
    /* height 5 as uint 16 */
    mp_w_array(&b, 4);
    buf_append(&b, "\xcd\x00\x05", 3);
    mp_w_bin(&b, BLOCK_GENESIS_PARENT, SHA256_LEN);
    mp_w_uint(&b, 0);
    mp_w_array(&b, 0);
    ck_assert_int_eq(block_decode(&d, b.data, b.len, 10), BLOCK_DECODE_MALFORMED);
    /* one tx in a bin 16 although it is shorter than 256 bytes */
    buf_reset(&b);
    struct block_header h = {.height = 5};
    block_encode_begin(&b, &h, 1);
    ck_assert_uint_lt(tx->wire_len, 256);
    buf_append(&b, "\xc5", 1);
    uint8_t len16[2] = {0, (uint8_t)tx->wire_len};
    buf_append(&b, len16, 2);
    buf_append(&b, tx->wire, tx->wire_len);
    ck_assert_int_eq(block_decode(&d, b.data, b.len, 10), BLOCK_DECODE_MALFORMED);
    /* a count of 0 as array 16; a trailing byte; a fifth field; a tx as str */
    buf_reset(&b);
    block_encode_begin(&b, &h, 0);
    b.data[b.len - 1] = 0xdc;
    buf_append(&b, "\0\0", 2);
    ck_assert_int_eq(block_decode(&d, b.data, b.len, 10), BLOCK_DECODE_MALFORMED);
    buf_reset(&b);
    block_encode_begin(&b, &h, 0);
    buf_append(&b, "\xc0", 1);
    ck_assert_int_eq(block_decode(&d, b.data, b.len, 10), BLOCK_DECODE_MALFORMED);
    buf_reset(&b);
    mp_w_array(&b, 5);
    mp_w_uint(&b, 5);
    mp_w_bin(&b, BLOCK_GENESIS_PARENT, SHA256_LEN);
    mp_w_uint(&b, 0);
    mp_w_array(&b, 0);
    mp_w_nil(&b);
    ck_assert_int_eq(block_decode(&d, b.data, b.len, 10), BLOCK_DECODE_MALFORMED);
    buf_reset(&b);
    block_encode_begin(&b, &h, 1);
    mp_w_str(&b, (const char *)tx->wire, tx->wire_len);
    ck_assert_int_eq(block_decode(&d, b.data, b.len, 10), BLOCK_DECODE_MALFORMED);
    /* a count that the bytes cannot hold: refused before any allocation */
    buf_reset(&b);
    block_encode_begin(&b, &h, 0);
    b.data[b.len - 1] = 0xdd;
    buf_append(&b, "\xff\xff\xff\xff", 4);
    ck_assert_int_eq(block_decode(&d, b.data, b.len, UINT32_MAX), BLOCK_DECODE_MALFORMED);
    /* height above 2^62 */
    buf_reset(&b);
    h.height = BLOCK_HEIGHT_MAX + 1;
    block_encode_begin(&b, &h, 0);
    ck_assert_int_eq(block_decode(&d, b.data, b.len, 10), BLOCK_DECODE_MALFORMED);
    buf_free(&b);
    tx_free(tx);
}
END_TEST

START_TEST(block_json)
{
    struct node_key k;
    vec_key(&k);
    struct tx *tx = tx_plain_sign(lock_a, &k, 1, 21000, 7, "\xab\xcd", 2);
    struct block_header h = {.height = 9, .proposer = 2};
    struct buf b = BUF_INIT, j = BUF_INIT;
    encode_block(&b, &h, &tx, 1);
    uint8_t hash[SHA256_LEN];
    block_hash(hash, b.data, b.len);
    char hex[65], want[1024];
    hex_encode(hex, hash, SHA256_LEN);
    snprintf(want, sizeof(want),
             "\"height\":9,\"block_hash\":\"%s\",\"parent_hash\":\"%064d\",\"proposer\":2,"
             "\"txs\":[{\"hash\":\"" VEC_HASH "\",%s]",
             hex, 0, &VEC_JSON[1]);
    ck_assert_int_eq(block_json_members(b.data, b.len, lock_a, &j), 0);
    ck_assert_str_eq((char *)j.data, want);
    /* bytes that are no block leave out as it was */
    buf_reset(&j);
    buf_append_str(&j, "x");
    ck_assert_int_eq(block_json_members(b.data, b.len - 1, lock_a, &j), -1);
    ck_assert_str_eq((char *)j.data, "x");
    buf_free(&j);
    buf_free(&b);
    tx_free(tx);
}
END_TEST

START_TEST(reject_names)
{
    static const char *const want[] = {
        "ok",           "too_many_bytes", "decode",  "too_many_txs", "height",
        "parent",       "proposer",       "tx_type", "tx_decode",    "too_much_gas",
        "duplicate_tx", "nonce",          "order",   "signature",
    };
    ck_assert_uint_eq(ARRAY_LEN(want), BLOCK_REJECT_COUNT);
    for (unsigned i = 0; i < BLOCK_REJECT_COUNT; i++)
        ck_assert_str_eq(block_reject_name((enum block_reject)i), want[i]);
    ck_assert_ptr_null(block_reject_name(BLOCK_REJECT_COUNT));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tx");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, signing_bytes_by_hand);
    tcase_add_test(tc, independent_vector);
    tcase_add_test(tc, sign_verify_and_bind_to_lock);
    tcase_add_test(tc, high_s_rejected);
    tcase_add_test(tc, recovery_id_rules);
    tcase_add_test(tc, address_mismatch);
    tcase_add_test(tc, json_strict_cases);
    tcase_add_test(tc, json_accepts_and_normalises);
    tcase_add_test(tc, json_body_size_limit);
    tcase_add_test(tc, wire_roundtrip_and_strictness);
    tcase_add_test(tc, wire_overhead_bound);
    tcase_add_test(tc, block_roundtrip_and_sizes);
    tcase_add_test(tc, block_not_canonical);
    tcase_add_test(tc, block_json);
    tcase_add_test(tc, reject_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
