/*
 * tx: one row per transaction type (name, JSON keys, decoders); the plaintext_v1 codecs and
 * signature. Canonical binary form is checked by re-encoding the decoded fields and comparing
 * bytes, so "canonical" means exactly what tx_plain_new writes.
 */
#include "proto/tx.h"
#include "lib/json_strict.h"
#include "lib/mp.h"
#include "lib/util.h"

#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <stdlib.h>
#include <string.h>

#define TX_JSON_DEPTH 8
#define SIG_ITEM_LEN  (2 + TX_SIG_LEN) /* bin 8 header + 65 bytes: the last item of the wire */

static const struct {
    int http_status;
    const char *body;
} err_rows[] = {
    [TX_OK] = {202, NULL},
    [TX_ERR_INVALID_JSON] = {400, "invalid json"},
    [TX_ERR_INVALID_TX] = {400, "invalid tx"},
    [TX_ERR_TOO_LARGE] = {413, "tx too large"},
    [TX_ERR_BAD_SIGNATURE] = {400, "bad signature"},
};

int tx_err_http_status(enum tx_err e)
{
    return (size_t)e < ARRAY_LEN(err_rows) ? err_rows[e].http_status : 500;
}

const char *tx_err_body(enum tx_err e)
{
    return (size_t)e < ARRAY_LEN(err_rows) ? err_rows[e].body : NULL;
}

static int fail(struct tx_error *err, enum tx_err code, const char *detail, size_t offset)
{
    if (err) {
        err->code = code;
        err->detail = detail;
        err->offset = offset;
    }
    return -1;
}

void tx_free(struct tx *tx)
{
    free(tx);
}

/* ---- plaintext_v1: signing bytes, construction ---- */

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

void tx_plain_signing_bytes(struct buf *out, const uint8_t lock_hash[SHA256_LEN],
                            const uint8_t from[TX_ADDR_LEN], uint64_t nonce, uint64_t gas,
                            uint64_t fee, const void *data, uint32_t data_len)
{
    uint8_t ints[3 * 8 + 4];
    put_be(ints, nonce, 8);
    put_be(ints + 8, gas, 8);
    put_be(ints + 16, fee, 8);
    put_be(ints + 24, data_len, 4);
    buf_append_str(out, TX_PLAINTEXT_DOMAIN);
    buf_append(out, lock_hash, SHA256_LEN);
    buf_append(out, from, TX_ADDR_LEN);
    buf_append(out, ints, sizeof(ints));
    buf_append(out, data, data_len);
}

static void tx_signing_digest(const struct tx *tx, const uint8_t lock_hash[SHA256_LEN],
                              uint8_t out[SHA256_LEN])
{
    struct buf b = BUF_INIT;
    tx_plain_signing_bytes(&b, lock_hash, tx->from, tx->nonce, tx->gas, tx->fee, tx->data,
                           tx->data_len);
    sha256(out, b.data, b.len);
    buf_free(&b);
}

struct tx *tx_plain_new(const uint8_t lock_hash[SHA256_LEN], const uint8_t from[TX_ADDR_LEN],
                        uint64_t nonce, uint64_t gas, uint64_t fee, const void *data,
                        uint32_t data_len, const uint8_t sig[TX_SIG_LEN])
{
    struct buf w = BUF_INIT;
    mp_w_array(&w, 7);
    mp_w_uint(&w, TX_PLAINTEXT_V1);
    mp_w_bin(&w, from, TX_ADDR_LEN);
    mp_w_uint(&w, nonce);
    mp_w_uint(&w, gas);
    mp_w_uint(&w, fee);
    mp_w_bin(&w, data, data_len);
    mp_w_bin(&w, sig, TX_SIG_LEN);

    struct tx *tx = xmalloc(sizeof(*tx) + w.len);
    tx->type = TX_PLAINTEXT_V1;
    memcpy(tx->from, from, TX_ADDR_LEN);
    tx->nonce = nonce;
    tx->gas = gas;
    tx->fee = fee;
    memcpy(tx->sig, sig, TX_SIG_LEN);
    tx->wire_len = (uint32_t)w.len;
    memcpy(tx->wire, w.data, w.len);
    tx->data_len = data_len;
    tx->data = tx->wire + w.len - SIG_ITEM_LEN - data_len; /* data is the item before sig */
    buf_free(&w);

    struct buf s = BUF_INIT;
    tx_plain_signing_bytes(&s, lock_hash, from, nonce, gas, fee, data, data_len);
    buf_append(&s, sig, TX_SIG_LEN);
    sha256(tx->hash, s.data, s.len);
    buf_free(&s);
    return tx;
}

struct tx *tx_plain_sign(const uint8_t lock_hash[SHA256_LEN], const struct node_key *key,
                         uint64_t nonce, uint64_t gas, uint64_t fee, const void *data,
                         uint32_t data_len)
{
    uint8_t from[TX_ADDR_LEN], digest[SHA256_LEN], sig[TX_SIG_LEN];
    int recid;
    struct buf b = BUF_INIT;
    secp256k1_ecdsa_recoverable_signature rs;
    pubkey_address(key->pub, from);
    tx_plain_signing_bytes(&b, lock_hash, from, nonce, gas, fee, data, data_len);
    sha256(digest, b.data, b.len);
    buf_free(&b);
    /* libsecp256k1 signs with low S (RFC 6979 nonces). */
    if (!secp256k1_ecdsa_sign_recoverable(secp_ctx(), &rs, digest, key->sec, NULL, NULL))
        fatalx("secp256k1_ecdsa_sign_recoverable failed");
    if (!secp256k1_ecdsa_recoverable_signature_serialize_compact(secp_ctx(), sig, &recid, &rs))
        fatalx("secp256k1_ecdsa_recoverable_signature_serialize_compact failed");
    sig[64] = (uint8_t)recid;
    return tx_plain_new(lock_hash, from, nonce, gas, fee, data, data_len, sig);
}

int tx_verify(const struct tx *tx, const uint8_t lock_hash[SHA256_LEN], struct tx_error *err)
{
    secp256k1_ecdsa_recoverable_signature rs;
    secp256k1_ecdsa_signature plain;
    secp256k1_pubkey pk;
    uint8_t digest[SHA256_LEN], pub[PUBKEY_LEN], addr[ADDR_LEN];
    size_t publen = PUBKEY_LEN;
    void *ctx = secp_ctx();

    /* libsecp256k1 aborts on a recovery id above 3: check it first. */
    if (tx->sig[64] > 3)
        return fail(err, TX_ERR_BAD_SIGNATURE, "sig: recovery id above 3", 0);
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &rs, tx->sig, tx->sig[64]))
        return fail(err, TX_ERR_BAD_SIGNATURE, "sig: r or s out of range", 0);
    if (!secp256k1_ecdsa_recoverable_signature_convert(ctx, &plain, &rs))
        return fail(err, TX_ERR_BAD_SIGNATURE, "sig: r or s out of range", 0);
    /* normalize returns 1 when it had to lower S: the signature was high-S. */
    if (secp256k1_ecdsa_signature_normalize(ctx, NULL, &plain))
        return fail(err, TX_ERR_BAD_SIGNATURE, "sig: high S", 0);
    tx_signing_digest(tx, lock_hash, digest);
    if (!secp256k1_ecdsa_recover(ctx, &pk, &rs, digest))
        return fail(err, TX_ERR_BAD_SIGNATURE, "sig: no key recovers", 0);
    if (!secp256k1_ec_pubkey_serialize(ctx, pub, &publen, &pk, SECP256K1_EC_COMPRESSED))
        return fail(err, TX_ERR_BAD_SIGNATURE, "sig: no key recovers", 0);
    pubkey_address(pub, addr);
    if (memcmp(addr, tx->from, TX_ADDR_LEN) != 0)
        return fail(err, TX_ERR_BAD_SIGNATURE, "sig: signer is not from", 0);
    return 0;
}

/* ---- binary ---- */

static int plain_decode(struct mp_reader *r, uint32_t count, const uint8_t *p, size_t n,
                        uint32_t max_data, const uint8_t lock_hash[SHA256_LEN], struct tx **out,
                        struct tx_error *err)
{
    uint8_t from[TX_ADDR_LEN], sig[TX_SIG_LEN];
    uint64_t nonce = 0, gas = 0, fee = 0;
    const uint8_t *data = NULL;
    uint32_t data_len = 0;
    if (count != 7)
        return fail(err, TX_ERR_INVALID_TX, "plaintext_v1: expected 7 fields", 0);
    mp_read_bin_exact(r, from, TX_ADDR_LEN);
    mp_read_uint(r, &nonce);
    mp_read_uint(r, &gas);
    mp_read_uint(r, &fee);
    if (mp_read_bin(r, &data, &data_len, UINT32_MAX) == 0 && data_len > max_data)
        return fail(err, TX_ERR_TOO_LARGE, "data: above max_tx_data", 0);
    mp_read_bin_exact(r, sig, TX_SIG_LEN);
    if (!mp_reader_done(r))
        return fail(err, TX_ERR_INVALID_TX, "plaintext_v1: malformed encoding", 0);
    struct tx *tx = tx_plain_new(lock_hash, from, nonce, gas, fee, data, data_len, sig);
    if (tx->wire_len != n || memcmp(tx->wire, p, n) != 0) {
        tx_free(tx);
        return fail(err, TX_ERR_INVALID_TX, "plaintext_v1: not the canonical encoding", 0);
    }
    *out = tx;
    return 0;
}

/* ---- JSON ---- */

static const struct jstrict_node *get(const struct jstrict_node *o, const char *k)
{
    return jstrict_object_get(o, k, strlen(k));
}

/* A required u64 field: missing, or an integer literal too large, is an invalid tx (the
 * literal check itself was made with the keys). */
static int json_u64(const struct jstrict_node *root, const char *key, const char *missing,
                    const char *too_large, uint64_t *out, struct tx_error *err)
{
    const struct jstrict_node *n = get(root, key);
    if (!n)
        return fail(err, TX_ERR_INVALID_TX, missing, 0);
    if (!jstrict_uint64(n, out))
        return fail(err, TX_ERR_INVALID_TX, too_large, n->offset);
    return 0;
}

static int json_hex(const struct jstrict_node *root, const char *key, uint8_t *out, size_t len,
                    const char *missing, const char *bad, struct tx_error *err)
{
    const struct jstrict_node *n = get(root, key);
    if (!n)
        return fail(err, TX_ERR_INVALID_TX, missing, 0);
    if (n->kind != JSTRICT_STRING || hex_decode(out, len, (const char *)n->str, n->len) < 0)
        return fail(err, TX_ERR_INVALID_TX, bad, n->offset);
    return 0;
}

static int plain_json(const struct jstrict_node *root, uint32_t max_data,
                      const uint8_t lock_hash[SHA256_LEN], struct tx **out, struct tx_error *err)
{
    uint8_t from[TX_ADDR_LEN], sig[TX_SIG_LEN];
    uint64_t nonce, gas, fee;
    if (json_hex(root, "from", from, sizeof(from), "from missing",
                 "from: expected 40 hex characters", err) < 0 ||
        json_u64(root, "nonce", "nonce missing", "nonce: above 2^64-1", &nonce, err) < 0 ||
        json_u64(root, "gas", "gas missing", "gas: above 2^64-1", &gas, err) < 0 ||
        json_u64(root, "fee", "fee missing", "fee: above 2^64-1", &fee, err) < 0)
        return -1;
    const struct jstrict_node *d = get(root, "data");
    uint32_t data_len = 0;
    if (d && d->kind != JSTRICT_STRING)
        return fail(err, TX_ERR_INVALID_TX, "data: expected a hex string", d->offset);
    if (d && d->len / 2 > max_data)
        return fail(err, TX_ERR_TOO_LARGE, "data: above max_tx_data", d->offset);
    if (d)
        data_len = d->len / 2;
    uint8_t *data = xmalloc(data_len + 1);
    if (d && hex_decode(data, data_len, (const char *)d->str, d->len) < 0) {
        free(data);
        return fail(err, TX_ERR_INVALID_TX, "data: expected a hex string", d->offset);
    }
    if (json_hex(root, "sig", sig, sizeof(sig), "sig missing", "sig: expected 130 hex characters",
                 err) < 0) {
        free(data);
        return -1;
    }
    *out = tx_plain_new(lock_hash, from, nonce, gas, fee, data, data_len, sig);
    free(data);
    return 0;
}

/* ---- the type table ---- */

static const char *const plain_keys[] = {"type", "from", "nonce", "gas",
                                         "fee",  "data", "sig",   NULL};
static const char *const plain_int_keys[] = {"nonce", "gas", "fee", NULL};

static const struct tx_type_row {
    unsigned type;
    const char *name;
    const char *const *keys;     /* every key its JSON may have */
    const char *const *int_keys; /* keys whose values must be integer literals */
    int (*json)(const struct jstrict_node *root, uint32_t max_data,
                const uint8_t lock_hash[SHA256_LEN], struct tx **out, struct tx_error *err);
    int (*wire)(struct mp_reader *r, uint32_t count, const uint8_t *p, size_t n, uint32_t max_data,
                const uint8_t lock_hash[SHA256_LEN], struct tx **out, struct tx_error *err);
} tx_types[] = {
    {TX_PLAINTEXT_V1, "plaintext_v1", plain_keys, plain_int_keys, plain_json, plain_decode},
};

static const struct tx_type_row *row_by_type(uint64_t type)
{
    for (size_t i = 0; i < ARRAY_LEN(tx_types); i++)
        if (tx_types[i].type == type)
            return &tx_types[i];
    return NULL;
}

const char *tx_type_name(unsigned type)
{
    const struct tx_type_row *row = row_by_type(type);
    return row ? row->name : NULL;
}

int tx_wire_type(const uint8_t *p, size_t n, unsigned *type)
{
    struct mp_reader r;
    uint32_t count;
    uint64_t t;
    mp_reader_init(&r, p, n);
    if (mp_read_array(&r, &count) < 0 || count < 1 || mp_read_uint_max(&r, UINT32_MAX, &t) < 0)
        return -1;
    *type = (unsigned)t;
    return 0;
}

int tx_decode(const uint8_t *p, size_t n, uint32_t max_data, const uint8_t lock_hash[SHA256_LEN],
              struct tx **out, struct tx_error *err)
{
    struct mp_reader r;
    uint32_t count;
    uint64_t type;
    *out = NULL;
    mp_reader_init(&r, p, n);
    if (mp_read_array(&r, &count) < 0 || count < 1 || mp_read_uint(&r, &type) < 0)
        return fail(err, TX_ERR_INVALID_TX, "not a transaction", 0);
    const struct tx_type_row *row = row_by_type(type);
    if (!row)
        return fail(err, TX_ERR_INVALID_TX, "unknown tx type", 0);
    if (row->wire(&r, count, p, n, max_data, lock_hash, out, err) < 0)
        return -1;
    if (err)
        *err = (struct tx_error){TX_OK, NULL, 0};
    return 0;
}

size_t tx_json_max(uint32_t max_data)
{
    return 2 * (size_t)max_data + TX_JSON_SLACK;
}

static bool key_listed(const char *const *keys, const struct jstrict_member *m)
{
    for (; *keys; keys++)
        if (strlen(*keys) == m->key_len && memcmp(*keys, m->key, m->key_len) == 0)
            return true;
    return false;
}

int tx_json_decode(const uint8_t *in, size_t len, uint32_t max_data,
                   const uint8_t lock_hash[SHA256_LEN], struct tx **out, struct tx_error *err)
{
    *out = NULL;
    if (len > tx_json_max(max_data))
        return fail(err, TX_ERR_TOO_LARGE, "body too large", tx_json_max(max_data));
    const struct jstrict_limits lim = {tx_json_max(max_data), TX_JSON_DEPTH};
    struct jstrict_doc doc;
    struct jstrict_error jerr;
    int rc = -1;
    if (jstrict_parse(&doc, in, len, &lim, &jerr) < 0)
        return fail(err, TX_ERR_INVALID_JSON, jerr.reason, jerr.offset);
    const struct jstrict_node *root = &doc.root;
    if (root->kind != JSTRICT_OBJECT) {
        fail(err, TX_ERR_INVALID_JSON, "not an object", root->offset);
        goto out;
    }
    const struct jstrict_node *t = get(root, "type");
    if (!t || t->kind != JSTRICT_STRING) {
        fail(err, TX_ERR_INVALID_TX, t ? "type: expected a string" : "type missing",
             t ? t->offset : 0);
        goto out;
    }
    const struct tx_type_row *row = NULL;
    for (size_t i = 0; i < ARRAY_LEN(tx_types) && !row; i++)
        if (jstrict_string_is(t, tx_types[i].name))
            row = &tx_types[i];
    if (!row) {
        fail(err, TX_ERR_INVALID_TX, "unknown tx type", t->offset);
        goto out;
    }
    for (uint32_t i = 0; i < root->len; i++) {
        if (!key_listed(row->keys, &root->members[i])) {
            fail(err, TX_ERR_INVALID_JSON, "unknown key", root->members[i].key_offset);
            goto out;
        }
    }
    for (const char *const *k = row->int_keys; *k; k++) {
        const struct jstrict_node *n = get(root, *k);
        if (n && (n->kind != JSTRICT_NUMBER || !n->is_uint)) {
            fail(err, TX_ERR_INVALID_JSON, "not a non-negative integer literal", n->offset);
            goto out;
        }
    }
    rc = row->json(root, max_data, lock_hash, out, err);
    if (rc == 0 && err)
        *err = (struct tx_error){TX_OK, NULL, 0};
out:
    jstrict_doc_free(&doc);
    return rc;
}

static void append_hex(struct buf *out, const void *p, size_t n)
{
    buf_reserve(out, 2 * n + 1);
    hex_encode((char *)out->data + out->len, p, n);
    out->len += 2 * n;
}

void tx_json(const struct tx *tx, unsigned flags, struct buf *out)
{
    buf_append_str(out, "{");
    if (flags & TX_JSON_HASH) {
        buf_append_str(out, "\"hash\":\"");
        append_hex(out, tx->hash, SHA256_LEN);
        buf_append_str(out, "\",");
    }
    buf_printf(out, "\"type\":\"%s\",\"from\":\"", tx_type_name(tx->type));
    append_hex(out, tx->from, TX_ADDR_LEN);
    buf_printf(out, "\",\"nonce\":%llu,\"gas\":%llu,\"fee\":%llu,\"data\":\"",
               (unsigned long long)tx->nonce, (unsigned long long)tx->gas,
               (unsigned long long)tx->fee);
    append_hex(out, tx->data, tx->data_len);
    buf_append_str(out, "\",\"sig\":\"");
    append_hex(out, tx->sig, TX_SIG_LEN);
    buf_append_str(out, "\"}");
}
