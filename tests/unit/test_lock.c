/* Unit tests for lib/lock: canonical encoding, lock_hash, signatures, the tss object, and every
 * precheck row. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/frost.h"
#include "lib/lock.h"
#include "lib/util.h"

#define N 4

static struct node_key keys[N + 1]; /* keys[N] is outside the lock */
static const char *const addrs[N] = {"127.0.0.1:4640", "127.0.0.1:4641", "127.0.0.1:4642",
                                     "127.0.0.1:4643"};

static void make_keys(void)
{
    for (int i = 0; i <= N; i++) {
        uint8_t sec[SECKEY_LEN];
        memset(sec, 0x11 * (i + 1), sizeof(sec));
        ck_assert_int_eq(node_key_from_secret(&keys[i], sec), 0);
    }
}

/* A valid 4-operator lock, as JSON text (caller frees). */
static char *good_lock(void)
{
    struct buf b = BUF_INIT;
    char err[256];
    make_keys();
    ck_assert_msg(lock_create(&b, "test", 3, N, keys, addrs, err, sizeof(err)) == 0, "%s", err);
    return buf_steal_str(&b);
}

/* Apply an edit to the lock's JSON, then (optionally) seal it again so that only the edit is
 * wrong. */
typedef void (*edit_fn)(json_t *root);

static char *edit_text(char *text, edit_fn edit, bool reseal, const struct node_key *signers)
{
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    ck_assert_ptr_nonnull(root);
    free(text);
    edit(root);
    text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    if (!reseal)
        return text;
    struct buf b = BUF_INIT;
    char err[256];
    ck_assert_msg(
        lock_reseal(&b, text, strlen(text), signers ? signers : keys, N, err, sizeof(err)) == 0,
        "%s", err);
    free(text);
    return buf_steal_str(&b);
}

static char *edited(edit_fn edit, bool reseal, const struct node_key *signers)
{
    return edit_text(good_lock(), edit, reseal, signers);
}

static json_t *op(json_t *root, size_t k)
{
    return json_array_get(json_object_get(root, "operators"), k);
}

/* Parse text and expect failure with a message that starts with want. */
static void expect_fail(const char *text, const char *want)
{
    struct lock l;
    char err[512];
    ck_assert_int_eq(lock_parse(&l, text, strlen(text), err, sizeof(err)), -1);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got '%s', want prefix '%s'", err, want);
}

START_TEST(quorum)
{
    ck_assert_uint_eq(lock_quorum(1), 1);
    ck_assert_uint_eq(lock_quorum(3), 2);
    ck_assert_uint_eq(lock_quorum(4), 3);
    ck_assert_uint_eq(lock_quorum(6), 4);
    ck_assert_uint_eq(lock_quorum(7), 5);
}
END_TEST

START_TEST(canonical_bytes)
{
    /* Keys sorted bytewise (prefix first), seal members dropped at the top level only, every
     * item in its shortest msgpack form. */
    const char *text = "{ \"b\": 200, \"ab\": -1, \"a\": [true, null, \"x\", {\"lock_hash\": 0}],"
                       " \"lock_hash\": \"zz\", \"signatures\": [] }";
    static const uint8_t want[] = {0x83, 0xa1, 'a', 0x94, 0xc3, 0xc0, 0xa1, 'x', 0x81, 0xa9,
                                   'l',  'o',  'c', 'k',  '_',  'h',  'a',  's', 'h',  0x00,
                                   0xa2, 'a',  'b', 0xff, 0xa1, 'b',  0xcc, 0xc8};
    struct buf b = BUF_INIT;
    char err[256];
    ck_assert_int_eq(lock_canonical(text, strlen(text), &b, err, sizeof(err)), 0);
    ck_assert_uint_eq(b.len, sizeof(want));
    ck_assert_mem_eq(b.data, want, sizeof(want));

    /* Member order and whitespace do not matter. */
    const char *same = "{\"signatures\":[1],\"a\":[true,null,\"x\",{\"lock_hash\":0}],"
                       "\"ab\":-1,\"b\":200}";
    struct buf c = BUF_INIT;
    ck_assert_int_eq(lock_canonical(same, strlen(same), &c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.len, b.len);
    ck_assert_mem_eq(c.data, b.data, b.len);

    /* Reals have no canonical form. */
    buf_reset(&c);
    ck_assert_int_eq(lock_canonical("{\"a\": 1.5}", 10, &c, err, sizeof(err)), -1);
    buf_free(&b);
    buf_free(&c);
}
END_TEST

START_TEST(hash_covers_canonical)
{
    char *text = good_lock();
    struct lock l;
    struct buf c = BUF_INIT;
    char err[256];
    uint8_t h[SHA256_LEN];
    ck_assert_msg(lock_parse(&l, text, strlen(text), err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(lock_canonical(text, strlen(text), &c, err, sizeof(err)), 0);
    sha256(h, c.data, c.len);
    ck_assert_mem_eq(h, l.hash, SHA256_LEN);
    ck_assert_uint_eq(l.n, N);
    ck_assert_uint_eq(l.threshold, 3);
    ck_assert_str_eq(l.name, "test");
    for (int i = 0; i < N; i++) {
        char pid[PEER_ID_HEX + 1];
        lock_peer_id(keys[i].pub, pid);
        ck_assert_uint_eq(l.ops[i].index, (uint32_t)i);
        ck_assert_mem_eq(l.ops[i].pubkey, keys[i].pub, PUBKEY_LEN);
        ck_assert_str_eq(l.ops[i].peer_id, pid);
        ck_assert_uint_eq(l.ops[i].port, 4640 + i);
        ck_assert_str_eq(l.ops[i].host, "127.0.0.1");
        ck_assert(ecdsa_verify(keys[i].pub, l.hash, l.sigs[i]));
    }
    ck_assert(!l.has_tss);
    buf_free(&c);
    free(text);
}
END_TEST

START_TEST(peer_id_derivation)
{
    uint8_t h[SHA256_LEN];
    char pid[PEER_ID_HEX + 1], want[2 * SHA256_LEN + 1];
    make_keys();
    lock_peer_id(keys[0].pub, pid);
    sha256(h, keys[0].pub, PUBKEY_LEN);
    hex_encode(want, h, SHA256_LEN);
    want[PEER_ID_HEX] = 0;
    ck_assert_str_eq(pid, want);
}
END_TEST

/* Operators may be listed in any order; signatures follow the array positions. */
static void swap_ops(json_t *root)
{
    json_t *ops = json_object_get(root, "operators");
    json_t *a = json_incref(json_array_get(ops, 0));
    json_array_remove(ops, 0);
    json_array_append_new(ops, a);
}

START_TEST(any_operator_order)
{
    struct node_key rotated[N];
    make_keys();
    for (int i = 0; i < N; i++)
        rotated[i] = keys[(i + 1) % N];
    char *text = edited(swap_ops, true, rotated);
    struct lock l;
    char err[256];
    ck_assert_msg(lock_parse(&l, text, strlen(text), err, sizeof(err)) == 0, "%s", err);
    ck_assert_mem_eq(l.ops[0].pubkey, keys[0].pub, PUBKEY_LEN);
    ck_assert_int_eq(lock_find_pubkey(&l, keys[3].pub), 3);
    ck_assert_int_eq(lock_find_pubkey(&l, keys[N].pub), -1);
    free(text);
}
END_TEST

/* ---- one test per failure row ---- */

static void set_name(json_t *root)
{
    json_object_set_new(root, "name", json_string("tampered"));
}

START_TEST(bad_hash)
{
    char *text = edited(set_name, false, NULL);
    expect_fail(text, "lock_hash: does not match the lock's contents");
    free(text);
}
END_TEST

static void noop(json_t *root)
{
    (void)root;
}

START_TEST(bad_signature)
{
    struct node_key wrong[N];
    make_keys();
    memcpy(wrong, keys, sizeof(wrong));
    wrong[2] = keys[N];
    char *text = edited(noop, true, wrong);
    expect_fail(text, "signatures[2]: does not verify against operators[2].pubkey");
    free(text);
}
END_TEST

static void dup_index(json_t *root)
{
    json_object_set_new(op(root, 2), "index", json_integer(0));
}

START_TEST(duplicate_index)
{
    char *text = edited(dup_index, true, NULL);
    expect_fail(text, "operators[2].index: duplicate of operators[0].index");
    free(text);
}
END_TEST

static void big_index(json_t *root)
{
    json_object_set_new(op(root, 1), "index", json_integer(4));
}

START_TEST(index_out_of_range)
{
    char *text = edited(big_index, true, NULL);
    expect_fail(text, "operators[1].index: 4 out of range [0, 3]");
    free(text);
}
END_TEST

static void dup_pubkey(json_t *root)
{
    json_object_set(op(root, 3), "pubkey", json_object_get(op(root, 1), "pubkey"));
    json_object_set(op(root, 3), "peer_id", json_object_get(op(root, 1), "peer_id"));
}

START_TEST(duplicate_pubkey)
{
    char *text = edited(dup_pubkey, true, NULL);
    expect_fail(text, "operators[3].pubkey: duplicate of operators[1].pubkey");
    free(text);
}
END_TEST

static void dup_peer_id(json_t *root)
{
    json_object_set(op(root, 3), "peer_id", json_object_get(op(root, 0), "peer_id"));
}

START_TEST(duplicate_peer_id)
{
    char *text = edited(dup_peer_id, true, NULL);
    expect_fail(text, "operators[3].peer_id: duplicate of operators[0].peer_id");
    free(text);
}
END_TEST

static void wrong_peer_id(json_t *root)
{
    json_object_set_new(op(root, 1), "peer_id",
                        json_string("00112233445566778899aabbccddeeff00112233"));
}

START_TEST(peer_id_mismatch)
{
    char *text = edited(wrong_peer_id, true, NULL);
    expect_fail(text, "operators[1].peer_id: does not match pubkey");
    free(text);
}
END_TEST

static void low_threshold(json_t *root)
{
    json_object_set_new(root, "threshold", json_integer(2));
}

static void high_threshold(json_t *root)
{
    json_object_set_new(root, "threshold", json_integer(5));
}

static void real_threshold(json_t *root)
{
    json_object_set_new(root, "threshold", json_real(3.0));
}

START_TEST(threshold_out_of_range)
{
    char *text = edited(low_threshold, true, NULL);
    expect_fail(text, "threshold: 2 out of range [3, 4] for 4 operators");
    free(text);
    text = edited(high_threshold, true, NULL);
    expect_fail(text, "threshold: 5 out of range [3, 4] for 4 operators");
    free(text);
    text = edited(real_threshold, false, NULL);
    expect_fail(text, "threshold: expected an integer");
    free(text);
}
END_TEST

static void bad_address(json_t *root)
{
    json_object_set_new(op(root, 2), "p2p_address", json_string("127.0.0.1"));
}

static void bad_port(json_t *root)
{
    json_object_set_new(op(root, 0), "p2p_address", json_string("node0:99999"));
}

START_TEST(unparsable_address)
{
    char *text = edited(bad_address, true, NULL);
    expect_fail(text, "operators[2].p2p_address: cannot parse '127.0.0.1' as host:port");
    free(text);
    text = edited(bad_port, true, NULL);
    expect_fail(text, "operators[0].p2p_address: cannot parse 'node0:99999'");
    free(text);
}
END_TEST

static void bad_point(json_t *root)
{
    json_object_set_new(op(root, 1), "pubkey",
                        json_string("02ffffffffffffffffffffffffffffffffffffffffffffffffffffff"
                                    "fffffffffe"));
}

static void upper_hex(json_t *root)
{
    char *s = xstrdup(json_string_value(json_object_get(op(root, 1), "pubkey")));
    for (char *p = s; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    json_object_set_new(op(root, 1), "pubkey", json_string(s));
    free(s);
}

START_TEST(bad_pubkey)
{
    char *text = edited(bad_point, true, NULL);
    expect_fail(text, "operators[1].pubkey: not a valid compressed secp256k1 public key");
    free(text);
    text = edited(upper_hex, true, NULL);
    expect_fail(text, "operators[1].pubkey: expected 66 lower-case hex characters");
    free(text);
}
END_TEST

static void unknown_top(json_t *root)
{
    json_object_set_new(root, "extra", json_true());
}

static void unknown_op(json_t *root)
{
    json_object_set_new(op(root, 3), "role", json_string("leader"));
}

static void missing_name(json_t *root)
{
    json_object_del(root, "name");
}

static void missing_addr(json_t *root)
{
    json_object_del(op(root, 1), "p2p_address");
}

static void wrong_version(json_t *root)
{
    json_object_set_new(root, "version", json_string("aequa/lock/v2"));
}

static void short_sigs(json_t *root)
{
    json_array_remove(json_object_get(root, "signatures"), 3);
}

START_TEST(strict_schema)
{
    static const struct {
        edit_fn edit;
        bool reseal;
        const char *want;
    } rows[] = {
        {unknown_top, true, "unknown key 'extra'"},
        {unknown_op, true, "operators[3]: unknown key 'role'"},
        {missing_name, true, "name: missing"},
        {missing_addr, true, "operators[1].p2p_address: missing"},
        {wrong_version, true, "version: expected \"aequa/lock/v1\""},
        {short_sigs, false, "signatures: expected an array of 4 signatures"},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        char *text = edited(rows[i].edit, rows[i].reseal, NULL);
        expect_fail(text, rows[i].want);
        free(text);
    }
}
END_TEST

START_TEST(strict_json)
{
    char *text = good_lock();
    size_t len = strlen(text);
    struct buf b = BUF_INIT;
    /* Trailing data. */
    buf_append(&b, text, len);
    buf_append_str(&b, "{}");
    buf_append(&b, "", 1);
    expect_fail((const char *)b.data, "invalid JSON");
    /* A duplicate key: insert a second "name" right after the opening brace. */
    buf_reset(&b);
    buf_append_str(&b, "{\"name\": \"x\",");
    buf_append(&b, text + 1, len);
    expect_fail((const char *)b.data, "invalid JSON");
    expect_fail("[1, 2]", "not a JSON object");
    expect_fail("\"x\"", "invalid JSON");
    expect_fail("{}", "version: missing");
    buf_free(&b);
    free(text);

    /* Larger than the bound. */
    char *big = xmalloc(LOCK_MAX_FILE + 2);
    memset(big, ' ', LOCK_MAX_FILE + 1);
    big[LOCK_MAX_FILE + 1] = 0;
    big[0] = '{';
    big[LOCK_MAX_FILE] = '}';
    expect_fail(big, "larger than");
    free(big);
}
END_TEST

/* ---- the tss object ---- */

/* A trusted dealer's output for the N operators, from a fixed polynomial of degree t - 1. */
struct dealt {
    uint8_t group_pub[PUBKEY_LEN];
    uint8_t shares[N][SECKEY_LEN];
    uint8_t vshares[N][PUBKEY_LEN];
};

static void deal(struct dealt *d, unsigned t, uint8_t seed)
{
    uint8_t secret[SECKEY_LEN], coeffs[N][SECKEY_LEN];
    memset(secret, seed, sizeof(secret));
    for (unsigned i = 0; i < N; i++)
        memset(coeffs[i], seed + 1 + i, sizeof(coeffs[i]));
    ck_assert_int_eq(frost_dealer_split(secret, (const uint8_t(*)[FROST_SCALAR_LEN])coeffs, t, N,
                                        d->group_pub, d->shares, d->vshares, NULL),
                     0);
}

static struct dealt dealt; /* what tss_lock() put in the lock */

/* A valid 4-operator lock, threshold 3, with a tss object dealt for t = 3 (caller frees). */
static char *tss_lock(void)
{
    struct buf b = BUF_INIT;
    char err[256];
    make_keys();
    deal(&dealt, 3, 0x21);
    ck_assert_msg(lock_create_tss(&b, "test", 3, N, keys, addrs, dealt.group_pub,
                                  (const uint8_t(*)[PUBKEY_LEN])dealt.vshares, err,
                                  sizeof(err)) == 0,
                  "%s", err);
    return buf_steal_str(&b);
}

static char *tss_edited(edit_fn edit, bool reseal)
{
    return edit_text(tss_lock(), edit, reseal, NULL);
}

static json_t *tss(json_t *root)
{
    return json_object_get(root, "tss");
}

static json_t *vshares(json_t *root)
{
    return json_object_get(tss(root), "verification_shares");
}

START_TEST(tss_valid)
{
    struct lock l;
    char err[256];
    char *text = tss_lock();
    ck_assert_msg(lock_parse(&l, text, strlen(text), err, sizeof(err)) == 0, "%s", err);
    ck_assert(l.has_tss);
    ck_assert_mem_eq(l.tss_group_pub, dealt.group_pub, PUBKEY_LEN);
    for (int i = 0; i < N; i++) {
        ck_assert_mem_eq(l.tss_vshares[i], dealt.vshares[i], PUBKEY_LEN);
        ck_assert_int_eq(lock_find_tss_share(&l, dealt.shares[i]), i);
        ck_assert_msg(lock_check_tss_share(&l, (uint64_t)i, dealt.shares[i], err, sizeof(err)) == 0,
                      "%s", err);
    }
    /* The file says exactly what the lock header documents. */
    json_error_t je;
    json_t *root = json_loads(text, 0, &je), *t = tss(root);
    ck_assert_str_eq(json_string_value(json_object_get(t, "scheme")), "FROST(secp256k1, SHA-256)");
    ck_assert_uint_eq(json_object_size(t), 3);
    char hex[2 * PUBKEY_LEN + 1];
    hex_encode(hex, dealt.vshares[2], PUBKEY_LEN);
    ck_assert_str_eq(json_string_value(json_array_get(vshares(root), 2)), hex);
    json_decref(root);
    free(text);

    /* Without a tss object there is no share to find. */
    text = good_lock();
    ck_assert_msg(lock_parse(&l, text, strlen(text), err, sizeof(err)) == 0, "%s", err);
    ck_assert(!l.has_tss);
    ck_assert_int_eq(lock_find_tss_share(&l, dealt.shares[0]), -1);
    ck_assert_int_eq(lock_check_tss_share(&l, 0, dealt.shares[0], err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "tss: missing"), "%s", err);
    free(text);
}
END_TEST

/* Operators listed in another order: verification shares stay by operator index. */
START_TEST(tss_any_operator_order)
{
    struct node_key rotated[N];
    struct lock l;
    char err[256];
    char *text = tss_lock();
    for (int i = 0; i < N; i++)
        rotated[i] = keys[(i + 1) % N];
    text = edit_text(text, swap_ops, true, rotated);
    ck_assert_msg(lock_parse(&l, text, strlen(text), err, sizeof(err)) == 0, "%s", err);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(lock_find_tss_share(&l, dealt.shares[i]), i);
    free(text);
}
END_TEST

static void tss_array(json_t *root)
{
    json_object_set_new(root, "tss", json_array());
}

static void tss_extra(json_t *root)
{
    json_object_set_new(tss(root), "dkg", json_true());
}

static void tss_no_scheme(json_t *root)
{
    json_object_del(tss(root), "scheme");
}

static void tss_no_group(json_t *root)
{
    json_object_del(tss(root), "group_pubkey");
}

static void tss_no_shares(json_t *root)
{
    json_object_del(tss(root), "verification_shares");
}

static void tss_other_scheme(json_t *root)
{
    json_object_set_new(tss(root), "scheme", json_string("FROST(Ed25519, SHA-512)"));
}

static void tss_scheme_space(json_t *root)
{
    json_object_set_new(tss(root), "scheme", json_string("FROST(secp256k1, SHA-256) "));
}

static void tss_scheme_number(json_t *root)
{
    json_object_set_new(tss(root), "scheme", json_integer(1));
}

static void upper(json_t *obj, const char *key)
{
    char *v = xstrdup(json_string_value(json_object_get(obj, key)));
    for (char *p = v; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    json_object_set_new(obj, key, json_string(v));
    free(v);
}

static void tss_group_upper(json_t *root)
{
    upper(tss(root), "group_pubkey");
}

static const char not_on_curve[] =
    "02fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe";

static void tss_group_bad_point(json_t *root)
{
    json_object_set_new(tss(root), "group_pubkey", json_string(not_on_curve));
}

/* The right x coordinate with an uncompressed-form prefix. */
static void tss_group_prefix(json_t *root)
{
    char *v = xstrdup(json_string_value(json_object_get(tss(root), "group_pubkey")));
    v[1] = '4';
    json_object_set_new(tss(root), "group_pubkey", json_string(v));
    free(v);
}

static void tss_shares_string(json_t *root)
{
    json_object_set(tss(root), "verification_shares", json_object_get(tss(root), "group_pubkey"));
}

static void tss_three_shares(json_t *root)
{
    json_array_remove(vshares(root), 3);
}

static void tss_five_shares(json_t *root)
{
    json_array_append(vshares(root), json_array_get(vshares(root), 0));
}

static void tss_share_bad_point(json_t *root)
{
    json_array_set_new(vshares(root), 2, json_string(not_on_curve));
}

static void tss_share_number(json_t *root)
{
    json_array_set_new(vshares(root), 1, json_integer(7));
}

static void tss_shares_swapped(json_t *root)
{
    json_t *a = json_incref(json_array_get(vshares(root), 0));
    json_array_set(vshares(root), 0, json_array_get(vshares(root), 1));
    json_array_set_new(vshares(root), 1, a);
}

static void tss_group_is_operator(json_t *root)
{
    json_object_set(tss(root), "group_pubkey", json_object_get(op(root, 0), "pubkey"));
}

static void tss_share_is_group(json_t *root)
{
    json_array_set(vshares(root), 3, json_object_get(tss(root), "group_pubkey"));
}

START_TEST(tss_malformed)
{
    static const struct {
        edit_fn edit;
        const char *want;
    } rows[] = {
        {tss_array, "tss: expected an object"},
        {tss_extra, "tss: unknown key 'dkg'"},
        {tss_no_scheme, "tss.scheme: missing"},
        {tss_no_group, "tss.group_pubkey: missing"},
        {tss_no_shares, "tss.verification_shares: missing"},
        {tss_other_scheme, "tss.scheme: expected \"FROST(secp256k1, SHA-256)\""},
        {tss_scheme_space, "tss.scheme: expected \"FROST(secp256k1, SHA-256)\""},
        {tss_scheme_number, "tss.scheme: expected \"FROST(secp256k1, SHA-256)\""},
        {tss_group_upper, "tss.group_pubkey: expected 66 lower-case hex characters"},
        {tss_group_bad_point, "tss.group_pubkey: not a valid point"},
        {tss_group_prefix, "tss.group_pubkey: not a valid point"},
        {tss_shares_string, "tss.verification_shares: expected an array of 4 points"},
        {tss_three_shares, "tss.verification_shares: expected an array of 4 points"},
        {tss_five_shares, "tss.verification_shares: expected an array of 4 points"},
        {tss_share_bad_point, "tss.verification_shares[2]: not a valid point"},
        {tss_share_number, "tss.verification_shares[1]: expected 66 lower-case hex characters"},
        {tss_shares_swapped, "tss: verification shares do not match group_pubkey for threshold 3"},
        {tss_group_is_operator,
         "tss: verification shares do not match group_pubkey for threshold 3"},
        {tss_share_is_group, "tss: verification shares do not match group_pubkey for threshold 3"},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        char *text = tss_edited(rows[i].edit, true);
        expect_fail(text, rows[i].want);
        free(text);
    }
}
END_TEST

/* Shares dealt for 4 of 4 do not let 3 operators sign: refused for a threshold-3 lock, and
 * lock_create_tss refuses to write such a lock. */
START_TEST(tss_wrong_threshold)
{
    struct dealt d;
    struct buf b = BUF_INIT;
    char err[256];
    make_keys();
    deal(&d, 4, 0x31);
    ck_assert_int_eq(lock_create_tss(&b, "test", 3, N, keys, addrs, d.group_pub,
                                     (const uint8_t(*)[PUBKEY_LEN])d.vshares, err, sizeof(err)),
                     -1);
    ck_assert_str_eq(err, "tss: verification shares do not match group_pubkey for threshold 3");
    ck_assert_uint_eq(b.len, 0);
    /* The same shares in a threshold-4 lock are fine. */
    ck_assert_msg(lock_create_tss(&b, "test", 4, N, keys, addrs, d.group_pub,
                                  (const uint8_t(*)[PUBKEY_LEN])d.vshares, err, sizeof(err)) == 0,
                  "%s", err);
    buf_free(&b);
}
END_TEST

/* FROST here has at most FROST_MAX_PARTICIPANTS signers: a tss object for more is refused. */
START_TEST(tss_too_many_operators)
{
    enum { M = FROST_MAX_PARTICIPANTS + 1 };
    static struct node_key many[M];
    static char addr_text[M][32];
    const char *many_addrs[M];
    uint8_t vs[M][PUBKEY_LEN];
    struct buf b = BUF_INIT;
    char err[256];
    for (int i = 0; i < M; i++) {
        node_key_generate(&many[i]);
        snprintf(addr_text[i], sizeof(addr_text[i]), "127.0.0.1:%d", 5000 + i);
        many_addrs[i] = addr_text[i];
        memcpy(vs[i], many[i].pub, PUBKEY_LEN);
    }
    ck_assert_int_eq(lock_create_tss(&b, "many", lock_quorum(M), M, many, many_addrs, many[0].pub,
                                     (const uint8_t(*)[PUBKEY_LEN])vs, err, sizeof(err)),
                     -1);
    ck_assert_str_eq(err, "tss: threshold signing supports at most 16 operators, not 17");
    /* Without tss the same operators make a valid lock. */
    ck_assert_msg(lock_create(&b, "many", lock_quorum(M), M, many, many_addrs, err, sizeof(err)) ==
                      0,
                  "%s", err);
    buf_free(&b);
}
END_TEST

static void tss_scheme_edit(json_t *root)
{
    json_object_set_new(tss(root), "scheme", json_string("FROST(secp256k1, SHA-256)x"));
}

static void tss_group_edit(json_t *root)
{
    json_object_set(tss(root), "group_pubkey", json_array_get(vshares(root), 0));
}

static void tss_share_edit_0(json_t *root)
{
    json_array_set(vshares(root), 0, json_array_get(vshares(root), 1));
}

static void tss_share_edit_3(json_t *root)
{
    json_array_set(vshares(root), 3, json_array_get(vshares(root), 2));
}

static void tss_drop(json_t *root)
{
    json_object_del(root, "tss");
}

static char *other_tss; /* the tss object of another dealing, as JSON */

static void tss_replace(json_t *root)
{
    json_error_t je;
    json_object_set_new(root, "tss", json_loads(other_tss, 0, &je));
}

START_TEST(tss_covered_by_hash)
{
    struct lock l;
    struct buf c = BUF_INIT;
    char err[256];
    uint8_t h[SHA256_LEN];
    char *text = tss_lock();
    ck_assert_msg(lock_parse(&l, text, strlen(text), err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(lock_canonical(text, strlen(text), &c, err, sizeof(err)), 0);
    sha256(h, c.data, c.len);
    ck_assert_mem_eq(h, l.hash, SHA256_LEN);
    free(text);

    /* Any change of any tss member (or dropping the object) changes the hashed encoding. */
    static const edit_fn edits[] = {tss_scheme_edit, tss_group_edit, tss_share_edit_0,
                                    tss_share_edit_3, tss_drop};
    for (size_t i = 0; i < ARRAY_LEN(edits); i++) {
        text = tss_edited(edits[i], false);
        buf_reset(&c);
        ck_assert_int_eq(lock_canonical(text, strlen(text), &c, err, sizeof(err)), 0);
        sha256(h, c.data, c.len);
        ck_assert_msg(memcmp(h, l.hash, SHA256_LEN) != 0, "edit %zu left the hash unchanged", i);
        free(text);
    }
    buf_free(&c);

    /* A whole, valid tss object of another dealing, without resealing: the hash says so. */
    struct dealt d;
    deal(&d, 3, 0x41);
    char g[2 * PUBKEY_LEN + 1], v[N][2 * PUBKEY_LEN + 1];
    hex_encode(g, d.group_pub, PUBKEY_LEN);
    for (int i = 0; i < N; i++)
        hex_encode(v[i], d.vshares[i], PUBKEY_LEN);
    json_t *o = json_pack("{s:s, s:s, s:[s,s,s,s]}", "scheme", FROST_SCHEME, "group_pubkey", g,
                          "verification_shares", v[0], v[1], v[2], v[3]);
    other_tss = json_dumps(o, 0);
    json_decref(o);
    text = tss_edited(tss_replace, false);
    expect_fail(text, "lock_hash: does not match the lock's contents");
    free(text);
    /* Sealed again by every operator, it is a valid lock. */
    text = tss_edited(tss_replace, true);
    ck_assert_msg(lock_parse(&l, text, strlen(text), err, sizeof(err)) == 0, "%s", err);
    ck_assert_mem_eq(l.tss_group_pub, d.group_pub, PUBKEY_LEN);
    free(text);
    free(other_tss);
}
END_TEST

static char tmpdir[64];

static void write_tmp(const char *name, const char *text, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", tmpdir, name);
    ck_assert_int_eq(write_file_atomic(path, text, strlen(text), 0600), 0);
}

START_TEST(precheck_rows)
{
    char lock_path[128], key_path[128], bad_path[128], err[512];
    struct lock l;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/aequa-test-lock-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    char *text = good_lock();
    write_tmp("cluster-lock.json", text, lock_path, sizeof(lock_path));
    snprintf(key_path, sizeof(key_path), "%s/node.key", tmpdir);

    /* The right key at the right index passes. */
    ck_assert_int_eq(node_key_save(&keys[1], key_path), 0);
    ck_assert_msg(lock_precheck(&l, lock_path, key_path, 1, err, sizeof(err)) == 0, "%s", err);

    /* Wrong node key: another member's key, then a key outside the lock. */
    ck_assert_int_eq(lock_precheck(&l, lock_path, key_path, 2, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "operators[2].pubkey: does not match this node's key (which is "
                              "operators[1]"),
                  "%s", err);
    ck_assert_msg(strncmp(err, "cluster lock ", 13) == 0 && strstr(err, lock_path), "%s", err);
    ck_assert_int_eq(node_key_save(&keys[N], key_path), 0);
    ck_assert_int_eq(lock_precheck(&l, lock_path, key_path, 0, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "operators[0].pubkey: does not match this node's key (not in the "
                              "lock)"),
                  "%s", err);

    /* Index outside the lock. */
    ck_assert_int_eq(lock_precheck(&l, lock_path, key_path, 7, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "[node] index 7: not an operator"), "%s", err);

    /* Unreadable key file and lock file name the file. */
    snprintf(bad_path, sizeof(bad_path), "%s/missing.key", tmpdir);
    ck_assert_int_eq(lock_precheck(&l, lock_path, bad_path, 0, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, bad_path), "%s", err);
    ck_assert_int_eq(lock_precheck(&l, bad_path, key_path, 0, err, sizeof(err)), -1);
    ck_assert_msg(strncmp(err, "cluster lock ", 13) == 0 && strstr(err, bad_path), "%s", err);

    /* A lock failure is prefixed with the lock's path. */
    free(text);
    text = edited(set_name, false, NULL);
    write_tmp("cluster-lock.json", text, lock_path, sizeof(lock_path));
    ck_assert_int_eq(lock_precheck(&l, lock_path, key_path, 0, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, ": lock_hash: does not match"), "%s", err);

    unlink(lock_path);
    unlink(key_path);
    rmdir(tmpdir);
    free(text);
}
END_TEST

START_TEST(tss_key_files)
{
    uint8_t share[SECKEY_LEN], back[SECKEY_LEN];
    char path[128], err[512];
    struct stat st;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/aequa-test-lock-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(path, sizeof(path), "%s/tss.key", tmpdir);
    memset(share, 0xab, sizeof(share));
    ck_assert_int_eq(tss_key_save(share, path), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    char *text;
    size_t len;
    ck_assert_int_eq(read_file(path, 256, &text, &len), 0);
    ck_assert_uint_eq(len, 65);
    ck_assert_mem_eq(text, "abababababababababababababababababababababababababababababababab\n",
                     65);
    free(text);
    ck_assert_msg(tss_key_load(back, path, err, sizeof(err)) == 0, "%s", err);
    ck_assert_mem_eq(back, share, SECKEY_LEN);

    static const struct {
        const char *text, *want;
    } bad[] = {
        {"0000000000000000000000000000000000000000000000000000000000000000\n",
         "not a valid secp256k1 scalar"},
        /* the group order itself */
        {"fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141\n",
         "not a valid secp256k1 scalar"},
        {"abab\n", "expected 64 hex characters"},
        {"", "expected 64 hex characters"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        write_tmp("tss.key", bad[i].text, path, sizeof(path));
        ck_assert_int_eq(tss_key_load(back, path, err, sizeof(err)), -1);
        ck_assert_msg(strncmp(err, "tss key ", 8) == 0 && strstr(err, path) &&
                          strstr(err, bad[i].want),
                      "%s", err);
    }
    unlink(path);
    ck_assert_int_eq(tss_key_load(back, path, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "cannot read tss key") && strstr(err, path), "%s", err);
    rmdir(tmpdir);
}
END_TEST

START_TEST(precheck_tss_rows)
{
    char lock_path[128], key_path[128], tss_path[128], err[512];
    struct lock l;
    struct dealt other;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/aequa-test-lock-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    char *text = tss_lock();
    write_tmp("cluster-lock.json", text, lock_path, sizeof(lock_path));
    free(text);
    snprintf(key_path, sizeof(key_path), "%s/node.key", tmpdir);
    snprintf(tss_path, sizeof(tss_path), "%s/tss.key", tmpdir);
    ck_assert_int_eq(node_key_save(&keys[1], key_path), 0);
    ck_assert_msg(lock_precheck(&l, lock_path, key_path, 1, err, sizeof(err)) == 0, "%s", err);

    /* Node 1's share passes. */
    ck_assert_int_eq(tss_key_save(dealt.shares[1], tss_path), 0);
    ck_assert_msg(lock_precheck_tss(&l, lock_path, tss_path, 1, err, sizeof(err)) == 0, "%s", err);

    /* Another operator's share (swapped files): names the field, the other share and the file. */
    ck_assert_int_eq(tss_key_save(dealt.shares[2], tss_path), 0);
    ck_assert_int_eq(lock_precheck_tss(&l, lock_path, tss_path, 1, err, sizeof(err)), -1);
    ck_assert_msg(strncmp(err, "cluster lock ", 13) == 0 && strstr(err, lock_path) &&
                      strstr(err, "tss.verification_shares[1]: does not match this node's tss "
                                  "key (which is tss.verification_shares[2]") &&
                      strstr(err, tss_path),
                  "%s", err);

    /* A share of another dealing. */
    deal(&other, 3, 0x51);
    ck_assert_int_eq(tss_key_save(other.shares[1], tss_path), 0);
    ck_assert_int_eq(lock_precheck_tss(&l, lock_path, tss_path, 1, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "tss.verification_shares[1]: does not match this node's tss key "
                              "(not in the lock)") &&
                      strstr(err, tss_path),
                  "%s", err);

    /* A corrupted and a missing tss.key name the file. */
    write_tmp("tss.key", "not hex\n", tss_path, sizeof(tss_path));
    ck_assert_int_eq(lock_precheck_tss(&l, lock_path, tss_path, 1, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "tss key ") && strstr(err, tss_path), "%s", err);
    unlink(tss_path);
    ck_assert_int_eq(lock_precheck_tss(&l, lock_path, tss_path, 1, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "cannot read tss key") && strstr(err, tss_path), "%s", err);

    /* A lock without a tss object cannot run TSS (its key is not even read). */
    text = good_lock();
    write_tmp("cluster-lock.json", text, lock_path, sizeof(lock_path));
    free(text);
    ck_assert_msg(lock_precheck(&l, lock_path, key_path, 1, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(lock_precheck_tss(&l, lock_path, tss_path, 1, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "tss: --enable-tss needs a lock with a tss object (aequactl cluster "
                              "create --tss)") &&
                      strstr(err, lock_path),
                  "%s", err);

    unlink(lock_path);
    unlink(key_path);
    rmdir(tmpdir);
}
END_TEST

START_TEST(create_rejects_bad_input)
{
    struct buf b = BUF_INIT;
    char err[256];
    const char *bad[N] = {"127.0.0.1:1", "127.0.0.1:2", "nope", "127.0.0.1:4"};
    make_keys();
    ck_assert_int_eq(lock_create(&b, "x", 2, N, keys, addrs, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "threshold"), "%s", err);
    ck_assert_int_eq(lock_create(&b, "x", 3, N, keys, bad, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "operators[2].p2p_address"), "%s", err);
    ck_assert_uint_eq(b.len, 0);
    buf_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lock");
    TCase *tc = tcase_create("lock");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, quorum);
    tcase_add_test(tc, canonical_bytes);
    tcase_add_test(tc, hash_covers_canonical);
    tcase_add_test(tc, peer_id_derivation);
    tcase_add_test(tc, any_operator_order);
    tcase_add_test(tc, bad_hash);
    tcase_add_test(tc, bad_signature);
    tcase_add_test(tc, duplicate_index);
    tcase_add_test(tc, index_out_of_range);
    tcase_add_test(tc, duplicate_pubkey);
    tcase_add_test(tc, duplicate_peer_id);
    tcase_add_test(tc, peer_id_mismatch);
    tcase_add_test(tc, threshold_out_of_range);
    tcase_add_test(tc, unparsable_address);
    tcase_add_test(tc, bad_pubkey);
    tcase_add_test(tc, strict_schema);
    tcase_add_test(tc, strict_json);
    tcase_add_test(tc, tss_valid);
    tcase_add_test(tc, tss_any_operator_order);
    tcase_add_test(tc, tss_malformed);
    tcase_add_test(tc, tss_wrong_threshold);
    tcase_add_test(tc, tss_too_many_operators);
    tcase_add_test(tc, tss_covered_by_hash);
    tcase_add_test(tc, precheck_rows);
    tcase_add_test(tc, tss_key_files);
    tcase_add_test(tc, precheck_tss_rows);
    tcase_add_test(tc, create_rejects_bad_input);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
