#include "lib/lock.h"
#include "lib/frost.h"
#include "lib/mp.h"
#include "lib/util.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CANON_MAX_DEPTH 32

_Static_assert(FROST_POINT_LEN == PUBKEY_LEN && FROST_SCALAR_LEN == SECKEY_LEN,
               "the lock keeps FROST points as compressed public keys");

uint32_t lock_quorum(uint32_t n)
{
    return (2 * n + 2) / 3;
}

void lock_peer_id(const uint8_t pub[PUBKEY_LEN], char out[PEER_ID_HEX + 1])
{
    uint8_t a[ADDR_LEN];
    pubkey_address(pub, a);
    hex_encode(out, a, ADDR_LEN);
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- canonical encoding ---- */

static int key_cmp(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t lx = strlen(x), ly = strlen(y);
    int c = memcmp(x, y, lx < ly ? lx : ly);
    if (c)
        return c;
    return (lx > ly) - (lx < ly);
}

static bool is_seal_key(const char *k)
{
    return !strcmp(k, "lock_hash") || !strcmp(k, "signatures");
}

/* Transcode one JSON value; top drops the seal members of the root object. */
static int canon_value(json_t *v, struct buf *out, int depth, bool top)
{
    if (depth > CANON_MAX_DEPTH)
        return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), m = 0;
        const char **keys = xcalloc(n, sizeof(*keys));
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            if (!(top && is_seal_key(k)))
                keys[m++] = k;
        }
        qsort(keys, m, sizeof(*keys), key_cmp);
        mp_w_map(out, (uint32_t)m);
        for (size_t i = 0; i < m; i++) {
            mp_w_str(out, keys[i], strlen(keys[i]));
            if (canon_value(json_object_get(v, keys[i]), out, depth + 1, false) < 0) {
                free(keys);
                return -1;
            }
        }
        free(keys);
        return 0;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *x;
        mp_w_array(out, (uint32_t)json_array_size(v));
        json_array_foreach(v, i, x)
        {
            if (canon_value(x, out, depth + 1, false) < 0)
                return -1;
        }
        return 0;
    }
    case JSON_STRING:
        mp_w_str(out, json_string_value(v), json_string_length(v));
        return 0;
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(v);
        if (i >= 0)
            mp_w_uint(out, (uint64_t)i);
        else
            mp_w_int(out, (int64_t)i);
        return 0;
    }
    case JSON_TRUE:
        mp_w_bool(out, true);
        return 0;
    case JSON_FALSE:
        mp_w_bool(out, false);
        return 0;
    case JSON_NULL:
        mp_w_nil(out);
        return 0;
    case JSON_REAL:
    default:
        return -1;
    }
}

static json_t *load_json(const char *text, size_t len, char *err, size_t errsz)
{
    json_error_t je;
    if (len > LOCK_MAX_FILE) {
        fail(err, errsz, "larger than %u bytes", LOCK_MAX_FILE);
        return NULL;
    }
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        fail(err, errsz, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        fail(err, errsz, "not a JSON object");
        return NULL;
    }
    return root;
}

static int canon_root(json_t *root, struct buf *out, char *err, size_t errsz)
{
    if (canon_value(root, out, 0, true) < 0)
        return fail(err, errsz, "no canonical encoding (real number or nesting deeper than %d)",
                    CANON_MAX_DEPTH);
    return 0;
}

int lock_canonical(const char *text, size_t len, struct buf *out, char *err, size_t errsz)
{
    json_t *root = load_json(text, len, err, errsz);
    if (!root)
        return -1;
    int rc = canon_root(root, out, err, errsz);
    json_decref(root);
    return rc;
}

/* ---- strict parse ---- */

/* A string of exactly 2n lower-case hex characters. */
static int get_hex(json_t *v, uint8_t *out, size_t n)
{
    if (!json_is_string(v) || json_string_length(v) != 2 * n)
        return -1;
    const char *s = json_string_value(v);
    for (size_t i = 0; i < 2 * n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return -1;
    return hex_decode(out, n, s, 2 * n);
}

/* Every key of obj is in allowed (NULL-terminated); else names the first stranger. */
static int only_keys(json_t *obj, const char *const *allowed, const char *where, char *err,
                     size_t errsz)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        size_t i;
        for (i = 0; allowed[i]; i++)
            if (!strcmp(allowed[i], k))
                break;
        if (!allowed[i])
            return fail(err, errsz, "%s%sunknown key '%.64s'", where, where[0] ? ": " : "", k);
    }
    return 0;
}

static const char *const root_keys[] = {"version", "name",      "threshold",  "operators",
                                        "tss",     "lock_hash", "signatures", NULL};
static const char *const op_keys[] = {"index", "peer_id", "pubkey", "p2p_address", NULL};
static const char *const tss_keys[] = {"scheme", "group_pubkey", "verification_shares", NULL};

/* Position k of the operators array → its index, filled while parsing. */
struct op_pos {
    uint32_t index;
};

static int parse_operator(struct lock *l, json_t *o, size_t k, size_t n, int *by_index,
                          struct op_pos *pos, char *err, size_t errsz)
{
    char where[32];
    snprintf(where, sizeof(where), "operators[%zu]", k);
    if (!json_is_object(o))
        return fail(err, errsz, "%s: expected an object", where);
    if (only_keys(o, op_keys, where, err, errsz) < 0)
        return -1;
    for (size_t i = 0; op_keys[i]; i++)
        if (!json_object_get(o, op_keys[i]))
            return fail(err, errsz, "%s.%s: missing", where, op_keys[i]);

    json_t *jidx = json_object_get(o, "index");
    if (!json_is_integer(jidx))
        return fail(err, errsz, "%s.index: expected an integer", where);
    json_int_t idx = json_integer_value(jidx);
    if (idx < 0 || (size_t)idx >= n)
        return fail(err, errsz, "%s.index: %lld out of range [0, %zu]", where, (long long)idx,
                    n - 1);
    if (by_index[idx] >= 0)
        return fail(err, errsz, "%s.index: duplicate of operators[%d].index", where, by_index[idx]);
    by_index[idx] = (int)k;
    pos[k].index = (uint32_t)idx;
    struct lock_operator *op = &l->ops[idx];
    op->index = (uint32_t)idx;

    if (get_hex(json_object_get(o, "pubkey"), op->pubkey, PUBKEY_LEN) < 0)
        return fail(err, errsz, "%s.pubkey: expected %d lower-case hex characters", where,
                    2 * PUBKEY_LEN);
    if (!pubkey_valid(op->pubkey))
        return fail(err, errsz, "%s.pubkey: not a valid compressed secp256k1 public key", where);

    json_t *jpid = json_object_get(o, "peer_id");
    uint8_t pid[PEER_ID_HEX / 2];
    if (get_hex(jpid, pid, sizeof(pid)) < 0)
        return fail(err, errsz, "%s.peer_id: expected %d lower-case hex characters", where,
                    PEER_ID_HEX);
    memcpy(op->peer_id, json_string_value(jpid), PEER_ID_HEX + 1);

    json_t *jaddr = json_object_get(o, "p2p_address");
    if (!json_is_string(jaddr) || json_string_length(jaddr) > LOCK_ADDR_MAX)
        return fail(err, errsz, "%s.p2p_address: expected a host:port string of at most %d bytes",
                    where, LOCK_ADDR_MAX);
    const char *addr = json_string_value(jaddr);
    if (parse_hostport(addr, op->host, sizeof(op->host), &op->port) < 0)
        return fail(err, errsz, "%s.p2p_address: cannot parse '%s' as host:port", where, addr);
    snprintf(op->p2p_address, sizeof(op->p2p_address), "%s", addr);
    return 0;
}

/* Uniqueness and derivation checks once every operator is parsed (names the later duplicate). */
static int check_operators(const struct lock *l, const struct op_pos *pos, size_t n, char *err,
                           size_t errsz)
{
    for (size_t k = 0; k < n; k++) {
        const struct lock_operator *a = &l->ops[pos[k].index];
        for (size_t j = 0; j < k; j++) {
            const struct lock_operator *b = &l->ops[pos[j].index];
            if (!memcmp(a->pubkey, b->pubkey, PUBKEY_LEN))
                return fail(err, errsz, "operators[%zu].pubkey: duplicate of operators[%zu].pubkey",
                            k, j);
            if (!strcmp(a->peer_id, b->peer_id))
                return fail(err, errsz,
                            "operators[%zu].peer_id: duplicate of operators[%zu].peer_id", k, j);
        }
        char want[PEER_ID_HEX + 1];
        lock_peer_id(a->pubkey, want);
        if (strcmp(want, a->peer_id) != 0)
            return fail(err, errsz, "operators[%zu].peer_id: does not match pubkey (expected %s)",
                        k, want);
    }
    return 0;
}

/* The tss object (after threshold and operators: it needs t and n). */
static int parse_tss(struct lock *l, json_t *t, char *err, size_t errsz)
{
    if (!json_is_object(t))
        return fail(err, errsz, "tss: expected an object");
    if (only_keys(t, tss_keys, "tss", err, errsz) < 0)
        return -1;
    for (size_t i = 0; tss_keys[i]; i++)
        if (!json_object_get(t, tss_keys[i]))
            return fail(err, errsz, "tss.%s: missing", tss_keys[i]);

    json_t *v = json_object_get(t, "scheme");
    if (!json_is_string(v) || json_string_length(v) != strlen(FROST_SCHEME) ||
        strcmp(json_string_value(v), FROST_SCHEME) != 0)
        return fail(err, errsz, "tss.scheme: expected \"%s\"", FROST_SCHEME);
    if (l->n > FROST_MAX_PARTICIPANTS)
        return fail(err, errsz, "tss: threshold signing supports at most %d operators, not %u",
                    FROST_MAX_PARTICIPANTS, l->n);

    if (get_hex(json_object_get(t, "group_pubkey"), l->tss_group_pub, PUBKEY_LEN) < 0)
        return fail(err, errsz, "tss.group_pubkey: expected %d lower-case hex characters",
                    2 * PUBKEY_LEN);
    if (!pubkey_valid(l->tss_group_pub))
        return fail(err, errsz, "tss.group_pubkey: not a valid point");

    v = json_object_get(t, "verification_shares");
    if (!json_is_array(v) || json_array_size(v) != l->n)
        return fail(err, errsz,
                    "tss.verification_shares: expected an array of %u points (one per operator, "
                    "by index)",
                    l->n);
    for (size_t i = 0; i < l->n; i++) {
        if (get_hex(json_array_get(v, i), l->tss_vshares[i], PUBKEY_LEN) < 0)
            return fail(err, errsz,
                        "tss.verification_shares[%zu]: expected %d lower-case hex characters", i,
                        2 * PUBKEY_LEN);
        if (!pubkey_valid(l->tss_vshares[i]))
            return fail(err, errsz, "tss.verification_shares[%zu]: not a valid point", i);
    }
    if (frost_group_check(l->threshold, l->n, (const uint8_t(*)[FROST_POINT_LEN])l->tss_vshares,
                          l->tss_group_pub) < 0)
        return fail(err, errsz,
                    "tss: verification shares do not match group_pubkey for threshold %u",
                    l->threshold);
    l->has_tss = true;
    return 0;
}

static int parse_root(struct lock *l, json_t *root, char *err, size_t errsz)
{
    if (only_keys(root, root_keys, "", err, errsz) < 0)
        return -1;
    static const char *const required[] = {"version",   "name",      "threshold",
                                           "operators", "lock_hash", "signatures"};
    for (size_t i = 0; i < ARRAY_LEN(required); i++)
        if (!json_object_get(root, required[i]))
            return fail(err, errsz, "%s: missing", required[i]);

    json_t *v = json_object_get(root, "version");
    if (!json_is_string(v) || strcmp(json_string_value(v), LOCK_VERSION) != 0)
        return fail(err, errsz, "version: expected \"%s\"", LOCK_VERSION);

    v = json_object_get(root, "name");
    size_t nl = json_is_string(v) ? json_string_length(v) : 0;
    if (nl == 0 || nl > LOCK_NAME_MAX)
        return fail(err, errsz, "name: expected 1 to %d printable ASCII characters", LOCK_NAME_MAX);
    for (size_t i = 0; i < nl; i++) {
        char c = json_string_value(v)[i];
        if (c < 0x20 || c > 0x7e)
            return fail(err, errsz, "name: expected 1 to %d printable ASCII characters",
                        LOCK_NAME_MAX);
    }
    memcpy(l->name, json_string_value(v), nl + 1);

    json_t *ops = json_object_get(root, "operators");
    size_t n = json_is_array(ops) ? json_array_size(ops) : 0;
    if (n == 0 || n > LOCK_MAX_OPERATORS)
        return fail(err, errsz, "operators: expected an array of 1 to %d operators",
                    LOCK_MAX_OPERATORS);
    l->n = (uint32_t)n;
    int by_index[LOCK_MAX_OPERATORS];
    struct op_pos pos[LOCK_MAX_OPERATORS];
    for (size_t i = 0; i < n; i++)
        by_index[i] = -1;
    for (size_t k = 0; k < n; k++)
        if (parse_operator(l, json_array_get(ops, k), k, n, by_index, pos, err, errsz) < 0)
            return -1;
    if (check_operators(l, pos, n, err, errsz) < 0)
        return -1;

    v = json_object_get(root, "threshold");
    if (!json_is_integer(v))
        return fail(err, errsz, "threshold: expected an integer");
    json_int_t t = json_integer_value(v);
    if (t < (json_int_t)lock_quorum(l->n) || t > (json_int_t)l->n)
        return fail(err, errsz, "threshold: %lld out of range [%u, %u] for %u operators",
                    (long long)t, lock_quorum(l->n), l->n, l->n);
    l->threshold = (uint32_t)t;

    v = json_object_get(root, "tss");
    if (v && parse_tss(l, v, err, errsz) < 0)
        return -1;

    if (get_hex(json_object_get(root, "lock_hash"), l->hash, SHA256_LEN) < 0)
        return fail(err, errsz, "lock_hash: expected %d lower-case hex characters", 2 * SHA256_LEN);
    struct buf canon = BUF_INIT;
    if (canon_root(root, &canon, err, errsz) < 0) {
        buf_free(&canon);
        return -1;
    }
    uint8_t want[SHA256_LEN];
    sha256(want, canon.data, canon.len);
    buf_free(&canon);
    if (memcmp(want, l->hash, SHA256_LEN) != 0) {
        char hex[2 * SHA256_LEN + 1];
        hex_encode(hex, want, SHA256_LEN);
        return fail(err, errsz, "lock_hash: does not match the lock's contents (computed %s)", hex);
    }

    json_t *sigs = json_object_get(root, "signatures");
    if (!json_is_array(sigs) || json_array_size(sigs) != n)
        return fail(err, errsz,
                    "signatures: expected an array of %zu signatures (one per operator)", n);
    for (size_t k = 0; k < n; k++) {
        uint32_t idx = pos[k].index;
        if (get_hex(json_array_get(sigs, k), l->sigs[idx], SIG_LEN) < 0)
            return fail(err, errsz, "signatures[%zu]: expected %d lower-case hex characters", k,
                        2 * SIG_LEN);
        if (!ecdsa_verify(l->ops[idx].pubkey, l->hash, l->sigs[idx]))
            return fail(err, errsz,
                        "signatures[%zu]: does not verify against operators[%zu].pubkey", k, k);
    }
    return 0;
}

int lock_parse(struct lock *l, const char *text, size_t len, char *err, size_t errsz)
{
    memset(l, 0, sizeof(*l));
    json_t *root = load_json(text, len, err, errsz);
    if (!root)
        return -1;
    int rc = parse_root(l, root, err, errsz);
    json_decref(root);
    return rc;
}

int lock_load(struct lock *l, const char *path, char *err, size_t errsz)
{
    char *text = NULL;
    size_t len = 0;
    char why[400];
    if (read_file(path, LOCK_MAX_FILE, &text, &len) < 0) {
        if (errno == EFBIG)
            return fail(err, errsz, "cluster lock %s: larger than %u bytes", path, LOCK_MAX_FILE);
        return fail(err, errsz, "cluster lock %s: cannot read: %s", path, strerror(errno));
    }
    int rc = lock_parse(l, text, len, why, sizeof(why));
    free(text);
    if (rc < 0)
        return fail(err, errsz, "cluster lock %s: %s", path, why);
    return 0;
}

int lock_find_pubkey(const struct lock *l, const uint8_t pub[PUBKEY_LEN])
{
    for (uint32_t i = 0; i < l->n; i++)
        if (!memcmp(l->ops[i].pubkey, pub, PUBKEY_LEN))
            return (int)i;
    return -1;
}

static int index_check(const struct lock *l, uint64_t index, char *err, size_t errsz)
{
    if (index >= l->n)
        return fail(err, errsz, "[node] index %llu: not an operator of this lock (it has %u)",
                    (unsigned long long)index, l->n);
    return 0;
}

/* A key of this node that is not the lock's at its index: where it is instead (other >= 0), or
 * that it is not in the lock. list[index]field names the entry; hint what to check. */
static int not_ours(char *err, size_t errsz, const char *list, const char *field, uint64_t index,
                    const char *key, int other, const char *hint)
{
    if (other >= 0)
        return fail(err, errsz,
                    "%s[%llu]%s: does not match this node's %s (which is %s[%d]; check %s)", list,
                    (unsigned long long)index, field, key, list, other, hint);
    return fail(err, errsz, "%s[%llu]%s: does not match this node's %s (not in the lock)", list,
                (unsigned long long)index, field, key);
}

int lock_check_member(const struct lock *l, uint64_t index, const uint8_t pub[PUBKEY_LEN],
                      char *err, size_t errsz)
{
    if (index_check(l, index, err, errsz) < 0)
        return -1;
    if (memcmp(l->ops[index].pubkey, pub, PUBKEY_LEN) != 0)
        return not_ours(err, errsz, "operators", ".pubkey", index, "key", lock_find_pubkey(l, pub),
                        "[node] index");
    return 0;
}

int lock_precheck(struct lock *l, const char *lock_path, const char *key_path, uint64_t index,
                  char *err, size_t errsz)
{
    struct node_key k;
    char why[400];
    if (lock_load(l, lock_path, err, errsz) < 0)
        return -1;
    if (node_key_load(&k, key_path, err, errsz) < 0)
        return -1;
    int rc = lock_check_member(l, index, k.pub, why, sizeof(why));
    node_key_wipe(&k);
    if (rc < 0)
        return fail(err, errsz, "cluster lock %s: %s (node key %s)", lock_path, why, key_path);
    return 0;
}

int lock_find_tss_share(const struct lock *l, const uint8_t share[SECKEY_LEN])
{
    uint8_t pub[PUBKEY_LEN];
    if (!l->has_tss || frost_public(share, pub) < 0)
        return -1;
    for (uint32_t i = 0; i < l->n; i++)
        if (!memcmp(l->tss_vshares[i], pub, PUBKEY_LEN))
            return (int)i;
    return -1;
}

int lock_check_tss_share(const struct lock *l, uint64_t index, const uint8_t share[SECKEY_LEN],
                         char *err, size_t errsz)
{
    uint8_t pub[PUBKEY_LEN];
    if (!l->has_tss)
        return fail(err, errsz, "tss: missing (the lock has no threshold signing keys)");
    if (index_check(l, index, err, errsz) < 0)
        return -1;
    if (frost_public(share, pub) < 0)
        return fail(err, errsz, "tss key: not a valid share");
    if (!memcmp(l->tss_vshares[index], pub, PUBKEY_LEN))
        return 0;
    return not_ours(err, errsz, "tss.verification_shares", "", index, "tss key",
                    lock_find_tss_share(l, share), "[node] index and [tss] key");
}

int lock_precheck_tss(const struct lock *l, const char *lock_path, const char *tss_key_path,
                      uint64_t index, char *err, size_t errsz)
{
    uint8_t share[SECKEY_LEN];
    char why[400];
    if (!l->has_tss)
        return fail(err, errsz,
                    "cluster lock %s: tss: --enable-tss needs a lock with a tss object (aequactl "
                    "cluster create --tss)",
                    lock_path);
    if (tss_key_load(share, tss_key_path, err, errsz) < 0)
        return -1;
    int rc = lock_check_tss_share(l, index, share, why, sizeof(why));
    explicit_bzero(share, sizeof(share));
    if (rc < 0)
        return fail(err, errsz, "cluster lock %s: %s (tss key %s)", lock_path, why, tss_key_path);
    return 0;
}

/* ---- building and sealing ---- */

/* Replace the seal of root: lock_hash over the canonical encoding, signatures by keys[k]. */
static int seal(json_t *root, const struct node_key *keys, size_t nkeys, struct buf *out, char *err,
                size_t errsz)
{
    struct buf canon = BUF_INIT;
    uint8_t hash[SHA256_LEN];
    char hex[2 * SIG_LEN + 1];
    if (canon_root(root, &canon, err, errsz) < 0) {
        buf_free(&canon);
        return -1;
    }
    sha256(hash, canon.data, canon.len);
    buf_free(&canon);
    hex_encode(hex, hash, SHA256_LEN);
    json_object_del(root, "lock_hash");
    json_object_del(root, "signatures");
    json_object_set_new(root, "lock_hash", json_string(hex));
    json_t *sigs = json_array();
    for (size_t k = 0; k < nkeys; k++) {
        uint8_t sig[SIG_LEN];
        ecdsa_sign(&keys[k], hash, sig);
        hex_encode(hex, sig, SIG_LEN);
        json_array_append_new(sigs, json_string(hex));
    }
    json_object_set_new(root, "signatures", sigs);
    char *text = json_dumps(root, JSON_INDENT(2));
    if (!text)
        return fail(err, errsz, "cannot encode the lock as JSON");
    buf_append_str(out, text);
    buf_append_str(out, "\n");
    free(text);
    return 0;
}

/* lock_create and lock_create_tss: group_pub NULL makes a lock without a tss object. */
static int create(struct buf *out, const char *name, uint32_t threshold, uint32_t n,
                  const struct node_key *keys, const char *const *addresses,
                  const uint8_t *group_pub, const uint8_t vshares[][PUBKEY_LEN], char *err,
                  size_t errsz)
{
    struct lock *check = xmalloc(sizeof(*check));
    size_t start = out->len;
    char hex[2 * PUBKEY_LEN + 1];
    json_t *jname = json_string(name);
    if (!jname) {
        free(check);
        return fail(err, errsz, "name: not valid UTF-8");
    }
    json_t *root = json_object();
    json_object_set_new(root, "version", json_string(LOCK_VERSION));
    json_object_set_new(root, "name", jname);
    json_object_set_new(root, "threshold", json_integer(threshold));
    json_t *ops = json_array();
    for (uint32_t i = 0; i < n; i++) {
        char pid[PEER_ID_HEX + 1];
        json_t *o = json_object();
        lock_peer_id(keys[i].pub, pid);
        hex_encode(hex, keys[i].pub, PUBKEY_LEN);
        json_object_set_new(o, "index", json_integer(i));
        json_object_set_new(o, "peer_id", json_string(pid));
        json_object_set_new(o, "pubkey", json_string(hex));
        json_t *a = json_string(addresses[i]);
        json_object_set_new(o, "p2p_address", a ? a : json_null());
        json_array_append_new(ops, o);
    }
    json_object_set_new(root, "operators", ops);
    if (group_pub) {
        json_t *tss = json_object(), *vs = json_array();
        json_object_set_new(tss, "scheme", json_string(FROST_SCHEME));
        hex_encode(hex, group_pub, PUBKEY_LEN);
        json_object_set_new(tss, "group_pubkey", json_string(hex));
        for (uint32_t i = 0; i < n; i++) {
            hex_encode(hex, vshares[i], PUBKEY_LEN);
            json_array_append_new(vs, json_string(hex));
        }
        json_object_set_new(tss, "verification_shares", vs);
        json_object_set_new(root, "tss", tss);
    }
    int rc = seal(root, keys, n, out, err, errsz);
    json_decref(root);
    /* What we wrote must pass the same checks every node will run. */
    if (rc == 0)
        rc = lock_parse(check, (const char *)out->data + start, out->len - start, err, errsz);
    if (rc < 0)
        out->len = start;
    free(check);
    return rc;
}

int lock_create(struct buf *out, const char *name, uint32_t threshold, uint32_t n,
                const struct node_key *keys, const char *const *addresses, char *err, size_t errsz)
{
    return create(out, name, threshold, n, keys, addresses, NULL, NULL, err, errsz);
}

int lock_create_tss(struct buf *out, const char *name, uint32_t threshold, uint32_t n,
                    const struct node_key *keys, const char *const *addresses,
                    const uint8_t group_pub[PUBKEY_LEN], const uint8_t vshares[][PUBKEY_LEN],
                    char *err, size_t errsz)
{
    return create(out, name, threshold, n, keys, addresses, group_pub, vshares, err, errsz);
}

int lock_reseal(struct buf *out, const char *text, size_t len, const struct node_key *keys,
                size_t nkeys, char *err, size_t errsz)
{
    json_t *root = load_json(text, len, err, errsz);
    if (!root)
        return -1;
    int rc = seal(root, keys, nkeys, out, err, errsz);
    json_decref(root);
    return rc;
}
