#include "proto/qbft.h"
#include "lib/mp.h"

#include <string.h>

/* ---- names and arithmetic ---- */

/* Which attachments a message carries, per type. */
enum attach {
    A_NONE,          /* must be absent */
    A_ALWAYS,        /* must be present (a justification: at least one entry) */
    A_IF_PREPARED,   /* present exactly when the body names a prepared round */
    A_IF_ROUND_GT_1, /* present exactly when round > 1 */
};

#define BIT(t) (1u << (t))

struct attach_rule {
    enum attach value;
    enum attach just;
    unsigned just_types; /* bitmask of the types a justification may embed */
};

static const struct type_rule {
    const char *name;
    bool value_hash; /* the body carries a value hash (else prepared round/hash, ROUND-CHANGE) */
    uint64_t min_round;
    struct attach_rule wire;
    struct attach_rule intent; /* this node's WAL record of the message */
} type_rules[QBFT_TYPE_MAX + 1] = {
    [QBFT_PRE_PREPARE] = {"pre_prepare",
                          true,
                          1,
                          {A_ALWAYS, A_IF_ROUND_GT_1, BIT(QBFT_ROUND_CHANGE) | BIT(QBFT_PREPARE)},
                          {A_ALWAYS, A_IF_ROUND_GT_1, BIT(QBFT_ROUND_CHANGE) | BIT(QBFT_PREPARE)}},
    [QBFT_PREPARE] = {"prepare", true, 1, {A_NONE, A_NONE, 0}, {A_NONE, A_NONE, 0}},
    /* A COMMIT intent keeps the prepared value and its PREPARE quorum (see qbft.h). */
    [QBFT_COMMIT] =
        {"commit", true, 1, {A_NONE, A_NONE, 0}, {A_ALWAYS, A_ALWAYS, BIT(QBFT_PREPARE)}},
    [QBFT_ROUND_CHANGE] = {"round_change",
                           false,
                           2,
                           {A_IF_PREPARED, A_IF_PREPARED, BIT(QBFT_PREPARE)},
                           {A_IF_PREPARED, A_IF_PREPARED, BIT(QBFT_PREPARE)}},
    [QBFT_DECIDED] = {"decided",
                      true,
                      1,
                      {A_ALWAYS, A_ALWAYS, BIT(QBFT_COMMIT)},
                      {A_ALWAYS, A_ALWAYS, BIT(QBFT_COMMIT)}},
};

const char *qbft_type_name(unsigned type)
{
    if (type < 1 || type > QBFT_TYPE_MAX)
        return "unknown";
    return type_rules[type].name;
}

const char *qbft_intent_type_name(unsigned type)
{
    return type == QBFT_INTENT_LOCK ? "lock" : qbft_type_name(type);
}

unsigned qbft_quorum(unsigned n)
{
    return (2 * n + 2) / 3;
}

unsigned qbft_faulty(unsigned n)
{
    return n ? (n - 1) / 3 : 0;
}

unsigned qbft_leader(unsigned duty, uint64_t height, uint64_t round, unsigned n)
{
    /* height <= 2^62 and round <= 2^32: the sum cannot overflow. */
    return (unsigned)((height + duty + round) % n);
}

/* ---- body: a fixed canonical msgpack encoding ---- */

static size_t put_uint(uint8_t *p, uint64_t v)
{
    if (v <= 0x7f) {
        p[0] = (uint8_t)v;
        return 1;
    }
    int nbytes;
    uint8_t tag;
    if (v <= 0xff) {
        tag = 0xcc;
        nbytes = 1;
    } else if (v <= 0xffff) {
        tag = 0xcd;
        nbytes = 2;
    } else if (v <= 0xffffffffu) {
        tag = 0xce;
        nbytes = 4;
    } else {
        tag = 0xcf;
        nbytes = 8;
    }
    p[0] = tag;
    for (int i = 0; i < nbytes; i++)
        p[1 + i] = (uint8_t)(v >> (8 * (nbytes - 1 - i)));
    return 1 + (size_t)nbytes;
}

static size_t put_hash(uint8_t *p, bool present, const uint8_t h[QBFT_HASH_LEN])
{
    if (!present) {
        p[0] = 0xc0;
        return 1;
    }
    p[0] = 0xc4;
    p[1] = QBFT_HASH_LEN;
    memcpy(p + 2, h, QBFT_HASH_LEN);
    return 2 + QBFT_HASH_LEN;
}

/* Worst case: 1 + 1 + 1 + 1 + 9 + 9 + 3 + 34 + 9 + 34 = 102 bytes. */
static size_t body_pack(uint8_t out[QBFT_BODY_MAX], const struct qbft_body *b)
{
    size_t n = 0;
    out[n++] = 0x99; /* fixarray of 9 */
    n += put_uint(out + n, QBFT_VERSION);
    n += put_uint(out + n, b->type);
    n += put_uint(out + n, b->duty);
    n += put_uint(out + n, b->height);
    n += put_uint(out + n, b->round);
    n += put_uint(out + n, b->sender);
    n += put_hash(out + n, b->has_value_hash, b->value_hash);
    n += put_uint(out + n, b->prepared_round);
    n += put_hash(out + n, b->prepared_round != 0, b->prepared_hash);
    return n;
}

void qbft_body_encode(struct buf *out, const struct qbft_body *b)
{
    uint8_t tmp[QBFT_BODY_MAX];
    buf_append(out, tmp, body_pack(tmp, b));
}

static int read_hash(struct mp_reader *r, bool *present, uint8_t h[QBFT_HASH_LEN])
{
    *present = !mp_try_nil(r);
    if (!*present) {
        memset(h, 0, QBFT_HASH_LEN);
        return 0;
    }
    return mp_read_bin_exact(r, h, QBFT_HASH_LEN);
}

/* Field rules that depend on the type (the body half of type_rules). */
static int body_check(const struct qbft_body *b, bool has_prepared_hash)
{
    const struct type_rule *t = &type_rules[b->type];
    if (b->round < t->min_round || b->sender >= QBFT_MAX_NODES)
        return -1;
    if (t->value_hash)
        return b->has_value_hash && b->prepared_round == 0 && !has_prepared_hash ? 0 : -1;
    if (b->has_value_hash || (b->prepared_round != 0) != has_prepared_hash)
        return -1;
    return b->prepared_round < b->round ? 0 : -1;
}

int qbft_body_decode(struct qbft_body *b, const uint8_t *p, size_t len)
{
    struct mp_reader r;
    uint8_t version = 0;
    uint64_t v = 0;
    bool has_ph = false;
    memset(b, 0, sizeof(*b));
    if (len > QBFT_BODY_MAX)
        return -1;
    mp_reader_init(&r, p, len);
    mp_expect_array(&r, 9);
    mp_read_u8(&r, &version);
    mp_read_u8(&r, &b->type);
    mp_read_u8(&r, &b->duty);
    mp_read_uint_max(&r, QBFT_MAX_HEIGHT, &b->height);
    mp_read_uint_max(&r, QBFT_MAX_ROUND, &b->round);
    mp_read_uint_max(&r, QBFT_MAX_NODES - 1, &v);
    b->sender = (uint16_t)v;
    read_hash(&r, &b->has_value_hash, b->value_hash);
    mp_read_uint_max(&r, QBFT_MAX_ROUND, &b->prepared_round);
    read_hash(&r, &has_ph, b->prepared_hash);
    if (!mp_reader_done(&r) || version != QBFT_VERSION || b->type < 1 || b->type > QBFT_TYPE_MAX ||
        b->duty >= DUTY_TYPES)
        return -1;
    if (body_check(b, has_ph) < 0)
        return -1;
    /* Canonical form only: one body, one digest, one signature to check. */
    uint8_t again[QBFT_BODY_MAX];
    size_t n = body_pack(again, b);
    return n == len && memcmp(again, p, len) == 0 ? 0 : -1;
}

/* ---- messages ---- */

static int read_signed(struct mp_reader *r, struct qbft_signed *s)
{
    uint32_t siglen = 0;
    mp_read_bin(r, &s->body, &s->body_len, QBFT_BODY_MAX);
    mp_read_bin(r, &s->sig, &siglen, SIG_LEN);
    if (r->err || siglen != SIG_LEN)
        return mp_fail(r);
    return 0;
}

static bool attach_ok(enum attach a, bool present, const struct qbft_body *b)
{
    switch (a) {
    case A_NONE:
        return !present;
    case A_ALWAYS:
        return present;
    case A_IF_PREPARED:
        return present == (b->prepared_round != 0);
    case A_IF_ROUND_GT_1:
        return present == (b->round > 1);
    }
    return false;
}

int qbft_msg_decode(struct qbft_msg *m, const uint8_t *p, size_t len, enum qbft_decode_mode mode)
{
    struct mp_reader r;
    m->has_value = false;
    m->value = NULL;
    m->value_len = 0;
    m->njust = 0;
    if (len > QBFT_MAX_MSG)
        return -1;
    mp_reader_init(&r, p, len);
    mp_expect_array(&r, 4);
    read_signed(&r, &m->m);
    if (!mp_try_nil(&r)) {
        m->has_value = true;
        mp_read_bin(&r, &m->value, &m->value_len, QBFT_MAX_VALUE);
    }
    uint32_t nj = 0;
    mp_read_array(&r, &nj);
    if (r.err || nj > QBFT_MAX_JUST)
        return -1;
    for (uint32_t i = 0; i < nj; i++) {
        mp_expect_array(&r, 2);
        if (read_signed(&r, &m->just[i]) < 0)
            return -1;
    }
    if (!mp_reader_done(&r))
        return -1;
    m->njust = nj;
    if (qbft_body_decode(&m->m.b, m->m.body, m->m.body_len) < 0)
        return -1;
    const struct type_rule *t = &type_rules[m->m.b.type];
    const struct attach_rule *a = mode == QBFT_DECODE_INTENT ? &t->intent : &t->wire;
    if (!attach_ok(a->value, m->has_value, &m->m.b) || !attach_ok(a->just, nj > 0, &m->m.b))
        return -1;
    for (uint32_t i = 0; i < nj; i++) {
        struct qbft_signed *s = &m->just[i];
        if (qbft_body_decode(&s->b, s->body, s->body_len) < 0 || !(a->just_types & BIT(s->b.type)))
            return -1;
    }
    return 0;
}

static void put_signed(struct buf *out, const struct qbft_sigref *s)
{
    mp_w_array(out, 2);
    mp_w_bin(out, s->body, s->body_len);
    mp_w_bin(out, s->sig, SIG_LEN);
}

void qbft_msg_encode(struct buf *out, const struct qbft_sigref *self, const uint8_t *value,
                     size_t value_len, const struct qbft_sigref *just, size_t njust)
{
    mp_w_array(out, 4);
    mp_w_bin(out, self->body, self->body_len);
    mp_w_bin(out, self->sig, SIG_LEN);
    if (value)
        mp_w_bin(out, value, value_len);
    else
        mp_w_nil(out);
    mp_w_array(out, (uint32_t)njust);
    for (size_t i = 0; i < njust; i++)
        put_signed(out, &just[i]);
}

void qbft_msg_strip(struct buf *out, const struct qbft_msg *m, const uint8_t *raw, size_t raw_len)
{
    if (m->m.b.type != QBFT_COMMIT) {
        buf_append(out, raw, raw_len);
        return;
    }
    struct qbft_sigref self = {m->m.body, m->m.body_len, m->m.sig};
    qbft_msg_encode(out, &self, NULL, 0, NULL, 0);
}

void qbft_signing_digest(uint8_t out[SHA256_LEN], const uint8_t lock_hash[SHA256_LEN],
                         const uint8_t *body, size_t body_len)
{
    /* One shot over a stack copy: bodies are small (QBFT_BODY_MAX). */
    uint8_t tmp[sizeof(QBFT_DOMAIN) - 1 + SHA256_LEN + QBFT_BODY_MAX];
    if (body_len > QBFT_BODY_MAX) {
        struct sha256_ctx c;
        sha256_init(&c);
        sha256_update(&c, QBFT_DOMAIN, sizeof(QBFT_DOMAIN) - 1);
        sha256_update(&c, lock_hash, SHA256_LEN);
        sha256_update(&c, body, body_len);
        sha256_final(&c, out);
        return;
    }
    memcpy(tmp, QBFT_DOMAIN, sizeof(QBFT_DOMAIN) - 1);
    memcpy(tmp + sizeof(QBFT_DOMAIN) - 1, lock_hash, SHA256_LEN);
    memcpy(tmp + sizeof(QBFT_DOMAIN) - 1 + SHA256_LEN, body, body_len);
    sha256(out, tmp, sizeof(QBFT_DOMAIN) - 1 + SHA256_LEN + body_len);
}

/* ---- certificates ---- */

void qbft_cert_encode(struct buf *out, const struct qbft_sigref *commits, size_t n)
{
    mp_w_array(out, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        put_signed(out, &commits[i]);
}

int qbft_cert_decode(const uint8_t *cert, size_t len, struct qbft_signed *out, size_t max,
                     size_t *count)
{
    struct mp_reader r;
    uint32_t n = 0;
    mp_reader_init(&r, cert, len);
    if (mp_read_array(&r, &n) < 0 || n > max || n > QBFT_MAX_JUST)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        if (mp_expect_array(&r, 2) < 0 || read_signed(&r, &out[i]) < 0 ||
            qbft_body_decode(&out[i].b, out[i].body, out[i].body_len) < 0)
            return -1;
    }
    if (!mp_reader_done(&r))
        return -1;
    *count = n;
    return 0;
}

int qbft_cert_verify(const uint8_t *cert, size_t len, unsigned n,
                     const uint8_t (*pubkeys)[PUBKEY_LEN], const uint8_t lock_hash[SHA256_LEN],
                     unsigned duty, uint64_t height, const uint8_t *value_hash, uint64_t *round,
                     uint8_t *hash_out)
{
    struct mp_reader r;
    uint32_t count = 0;
    uint64_t seen = 0; /* one bit per sender: QBFT_MAX_NODES == 64 */
    uint64_t cround = 0;
    uint8_t chash[QBFT_HASH_LEN];
    if (n == 0 || n > QBFT_MAX_NODES)
        return -1;
    mp_reader_init(&r, cert, len);
    if (mp_read_array(&r, &count) < 0 || count > QBFT_MAX_JUST || count < qbft_quorum(n))
        return -1;
    for (uint32_t i = 0; i < count; i++) {
        struct qbft_signed s;
        uint8_t digest[SHA256_LEN];
        if (mp_expect_array(&r, 2) < 0 || read_signed(&r, &s) < 0)
            return -1;
        if (qbft_body_decode(&s.b, s.body, s.body_len) < 0)
            return -1;
        const struct qbft_body *b = &s.b;
        if (b->type != QBFT_COMMIT || b->duty != duty || b->height != height || b->sender >= n ||
            (seen & (1ull << b->sender)))
            return -1;
        if (i == 0) {
            cround = b->round;
            memcpy(chash, b->value_hash, QBFT_HASH_LEN);
        }
        if (b->round != cround || memcmp(b->value_hash, chash, QBFT_HASH_LEN) != 0)
            return -1;
        seen |= 1ull << b->sender;
        qbft_signing_digest(digest, lock_hash, s.body, s.body_len);
        if (!ecdsa_verify(pubkeys[b->sender], digest, s.sig))
            return -1;
    }
    if (!mp_reader_done(&r))
        return -1;
    if (value_hash && memcmp(value_hash, chash, QBFT_HASH_LEN) != 0)
        return -1;
    *round = cround;
    if (hash_out)
        memcpy(hash_out, chash, QBFT_HASH_LEN);
    return 0;
}
