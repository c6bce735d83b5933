#include "proto/statedb.h"
#include "lib/mp.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

/* ---- names ---- */

static const struct {
    uint16_t type;
    const char *name;
} type_names[] = {
    {SDB_HELLO, "hello"},
    {SDB_HELLO_REP, "hello_rep"},
    {SDB_APPEND_INTENT, "append_intent"},
    {SDB_APPEND_INTENT_REP, "append_intent_rep"},
    {SDB_LOAD_INTENTS, "load_intents"},
    {SDB_LOAD_INTENTS_REP, "load_intents_rep"},
    {SDB_PUT_DUTY, "put_duty"},
    {SDB_PUT_DUTY_REP, "put_duty_rep"},
    {SDB_GET_DUTY, "get_duty"},
    {SDB_GET_DUTY_REP, "get_duty_rep"},
    {SDB_LIST_DUTIES, "list_duties"},
    {SDB_LIST_DUTIES_REP, "list_duties_rep"},
    {SDB_PUT_DECIDED, "put_decided"},
    {SDB_PUT_DECIDED_REP, "put_decided_rep"},
    {SDB_GET_DECIDED, "get_decided"},
    {SDB_GET_DECIDED_REP, "get_decided_rep"},
    {SDB_PRUNE, "prune"},
    {SDB_PRUNE_REP, "prune_rep"},
    {SDB_ITERATE, "iterate"},
    {SDB_ITERATE_REP, "iterate_rep"},
    {SDB_PUT_TXS, "put_txs"},
    {SDB_PUT_TXS_REP, "put_txs_rep"},
    {SDB_APPLY_BLOCK, "apply_block"},
    {SDB_APPLY_BLOCK_REP, "apply_block_rep"},
    {SDB_GET_BLOCK, "get_block"},
    {SDB_GET_BLOCK_REP, "get_block_rep"},
    {SDB_GET_TX, "get_tx"},
    {SDB_GET_TX_REP, "get_tx_rep"},
    {SDB_CHAIN_HEAD, "chain_head"},
    {SDB_CHAIN_HEAD_REP, "chain_head_rep"},
    {SDB_SET_TSS, "set_tss"},
    {SDB_SET_TSS_REP, "set_tss_rep"},
};

const char *sdb_type_name(uint16_t t)
{
    for (size_t i = 0; i < ARRAY_LEN(type_names); i++)
        if (type_names[i].type == t)
            return type_names[i].name;
    return NULL;
}

uint16_t sdb_reply_type(uint16_t t)
{
    /* Requests are the odd numbers of the family; each reply is the next number. */
    if (t < SDB_HELLO || t > SDB_SET_TSS || !(t & 1))
        return 0;
    return (uint16_t)(t + 1);
}

static const char *const status_names[SDB_STATUS_COUNT] = {
    "ok", "duplicate", "refused", "conflict", "not_found", "error",
};
static const char *const cf_names[SDB_CF_COUNT] = {"meta",    "wal",     "duties",
                                                   "decided", "mempool", "chain"};

const char *sdb_status_name(unsigned s)
{
    return s < SDB_STATUS_COUNT ? status_names[s] : NULL;
}

const char *sdb_cf_name(unsigned cf)
{
    return cf < SDB_CF_COUNT ? cf_names[cf] : NULL;
}

/* ---- shared pieces ---- */

static void w_bytes(struct buf *b, struct sdb_bytes x)
{
    mp_w_bin(b, x.p, x.len);
}

static int r_bytes(struct mp_reader *r, struct sdb_bytes *x, uint32_t min, uint32_t max)
{
    if (mp_read_bin(r, &x->p, &x->len, max) < 0)
        return -1;
    if (x->len < min)
        return mp_fail(r);
    return 0;
}

static int r_dtype(struct mp_reader *r, uint8_t *v)
{
    uint64_t x;
    if (mp_read_uint_max(r, DUTY_TYPES - 1, &x) < 0)
        return -1;
    *v = (uint8_t)x;
    return 0;
}

static int r_height(struct mp_reader *r, uint64_t *v)
{
    return mp_read_uint_max(r, SDB_HEIGHT_MAX, v);
}

static void w_intent_key(struct buf *b, const struct sdb_intent_key *k)
{
    mp_w_uint(b, k->dtype);
    mp_w_uint(b, k->height);
    mp_w_uint(b, k->round);
    mp_w_uint(b, k->mtype);
}

static void r_intent_key(struct mp_reader *r, struct sdb_intent_key *k)
{
    uint64_t m = 0;
    r_dtype(r, &k->dtype);
    r_height(r, &k->height);
    mp_read_u32(r, &k->round);
    if (mp_read_uint_max(r, QBFT_INTENT_TYPE_MAX, &m) == 0 && m < QBFT_PRE_PREPARE)
        mp_fail(r);
    k->mtype = (uint8_t)m;
}

void sdb_intent_encode(struct buf *b, const struct sdb_intent *in)
{
    mp_w_array(b, 5);
    w_intent_key(b, &in->k);
    w_bytes(b, in->msg);
}

static void r_intent(struct mp_reader *r, struct sdb_intent *in)
{
    mp_expect_array(r, 5);
    r_intent_key(r, &in->k);
    r_bytes(r, &in->msg, 1, SDB_INTENT_MAX);
}

static void w_duty_fields(struct buf *b, const struct sdb_duty *d)
{
    mp_w_uint(b, d->dtype);
    mp_w_uint(b, d->height);
    w_bytes(b, d->payload);
    mp_w_cstr(b, d->trace_id);
    mp_w_uint(b, d->accepted_ms);
}

static void r_duty_fields(struct mp_reader *r, struct sdb_duty *d)
{
    r_dtype(r, &d->dtype);
    r_height(r, &d->height);
    r_bytes(r, &d->payload, 1, SDB_PAYLOAD_MAX);
    mp_read_str_copy(r, d->trace_id, sizeof(d->trace_id));
    mp_read_uint(r, &d->accepted_ms);
}

void sdb_duty_encode(struct buf *b, const struct sdb_duty *d)
{
    mp_w_array(b, 5);
    w_duty_fields(b, d);
}

static void r_duty(struct mp_reader *r, struct sdb_duty *d)
{
    mp_expect_array(r, 5);
    r_duty_fields(r, d);
}

static void w_decided_fields(struct buf *b, const struct sdb_decided *d)
{
    mp_w_uint(b, d->dtype);
    mp_w_uint(b, d->height);
    mp_w_uint(b, d->round);
    w_bytes(b, d->value);
    mp_w_array(b, d->ncert);
    for (uint32_t i = 0; i < d->ncert; i++)
        w_bytes(b, d->cert[i]);
    mp_w_array(b, d->nseals);
    for (uint32_t i = 0; i < d->nseals; i++) {
        mp_w_array(b, 2);
        mp_w_uint(b, d->seals[i].index);
        mp_w_bin(b, d->seals[i].sig, SDB_SIG_LEN);
    }
    w_bytes(b, d->tss);
    mp_w_uint(b, d->decided_ms);
}

static void decided_free(struct sdb_decided *d)
{
    free(d->cert);
    free(d->seals);
    d->cert = NULL;
    d->seals = NULL;
    d->ncert = d->nseals = 0;
}

static void r_decided_fields(struct mp_reader *r, struct sdb_decided *d)
{
    uint32_t n = 0;
    r_dtype(r, &d->dtype);
    r_height(r, &d->height);
    mp_read_u32(r, &d->round);
    r_bytes(r, &d->value, 1, SDB_VALUE_MAX);
    if (mp_read_array(r, &n) == 0 && n > SDB_CERT_MAX)
        mp_fail(r);
    if (r->err)
        return;
    d->cert = n ? xcalloc(n, sizeof(*d->cert)) : NULL;
    d->ncert = n;
    for (uint32_t i = 0; i < n; i++)
        r_bytes(r, &d->cert[i], 1, SDB_CERT_MSG_MAX);
    n = 0;
    if (mp_read_array(r, &n) == 0 && n > SDB_SEALS_MAX)
        mp_fail(r);
    if (r->err)
        return;
    d->seals = n ? xcalloc(n, sizeof(*d->seals)) : NULL;
    d->nseals = n;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t idx = 0;
        mp_expect_array(r, 2);
        mp_read_uint_max(r, SDB_SEALS_MAX - 1, &idx);
        mp_read_bin_exact(r, d->seals[i].sig, SDB_SIG_LEN);
        /* Canonical: one seal per operator, in index order. */
        if (i > 0 && idx <= d->seals[i - 1].index)
            mp_fail(r);
        d->seals[i].index = (uint32_t)idx;
    }
    r_bytes(r, &d->tss, 0, SDB_TSS_MAX);
    mp_read_uint(r, &d->decided_ms);
}

void sdb_decided_encode(struct buf *b, const struct sdb_decided *d)
{
    mp_w_array(b, 8);
    w_decided_fields(b, d);
}

void sdb_kv_encode(struct buf *b, const struct sdb_kv *kv)
{
    mp_w_array(b, 2);
    w_bytes(b, kv->key);
    w_bytes(b, kv->value);
}

static void r_decided(struct mp_reader *r, struct sdb_decided *d)
{
    mp_expect_array(r, 8);
    r_decided_fields(r, d);
}

static void w_head(struct buf *b, bool present, const struct sdb_head *h)
{
    if (!present) {
        mp_w_nil(b);
        return;
    }
    mp_w_array(b, 2);
    mp_w_uint(b, h->height);
    mp_w_bin(b, h->hash, SDB_HASH_LEN);
}

static void r_head(struct mp_reader *r, bool *present, struct sdb_head *h)
{
    *present = !mp_try_nil(r);
    if (!*present)
        return;
    mp_expect_array(r, 2);
    r_height(r, &h->height);
    mp_read_bin_exact(r, h->hash, SDB_HASH_LEN);
}

/* An array of at most max hashes, copied out: a count that the remaining bytes cannot hold (each
 * entry takes at least SDB_HASH_LEN + 2 bytes) is refused before anything is allocated. */
static uint8_t (*r_hashes(struct mp_reader *r, uint32_t max, uint32_t *n))[SDB_HASH_LEN]
{
    uint8_t(*out)[SDB_HASH_LEN] = NULL;
    *n = 0;
    if (mp_read_array(r, n) < 0)
        return NULL;
    if (*n > max || *n > mp_reader_remaining(r) / (SDB_HASH_LEN + 2)) {
        mp_fail(r);
        *n = 0;
        return NULL;
    }
    if (*n)
        out = xcalloc(*n, SDB_HASH_LEN);
    for (uint32_t i = 0; i < *n; i++)
        mp_read_bin_exact(r, out[i], SDB_HASH_LEN);
    return out;
}

static void w_put_txs(struct buf *b, const struct sdb_req *r)
{
    mp_w_array(b, 2);
    mp_w_array(b, r->u.txs.nput);
    for (uint32_t i = 0; i < r->u.txs.nput; i++) {
        mp_w_array(b, 2);
        mp_w_bin(b, r->u.txs.put[i].hash, SDB_HASH_LEN);
        w_bytes(b, r->u.txs.put[i].record);
    }
    mp_w_array(b, r->u.txs.ndel);
    for (uint32_t i = 0; i < r->u.txs.ndel; i++)
        mp_w_bin(b, r->u.txs.del[i], SDB_HASH_LEN);
}

static void r_put_txs(struct mp_reader *rd, struct sdb_req *r)
{
    uint32_t n = 0;
    mp_expect_array(rd, 2);
    if (mp_read_array(rd, &n) == 0 &&
        (n > SDB_TXS_MAX || n > mp_reader_remaining(rd) / (SDB_HASH_LEN + 5)))
        mp_fail(rd);
    if (rd->err)
        return;
    r->u.txs.put = n ? xcalloc(n, sizeof(*r->u.txs.put)) : NULL;
    r->u.txs.nput = n;
    for (uint32_t i = 0; i < n && !rd->err; i++) {
        mp_expect_array(rd, 2);
        mp_read_bin_exact(rd, r->u.txs.put[i].hash, SDB_HASH_LEN);
        r_bytes(rd, &r->u.txs.put[i].record, 1, SDB_TX_RECORD_MAX);
    }
    r->u.txs.del = r_hashes(rd, SDB_TXS_MAX, &r->u.txs.ndel);
    if (!rd->err && n + r->u.txs.ndel > SDB_TXS_MAX)
        mp_fail(rd);
}

static void w_apply(struct buf *b, const struct sdb_block_apply *a)
{
    mp_w_array(b, 5);
    mp_w_uint(b, a->height);
    mp_w_bin(b, a->hash, SDB_HASH_LEN);
    mp_w_bin(b, a->parent, SDB_HASH_LEN);
    mp_w_array(b, a->nnonces);
    for (uint32_t i = 0; i < a->nnonces; i++) {
        mp_w_array(b, 2);
        mp_w_bin(b, a->nonces[i].from, SDB_ADDR_LEN);
        mp_w_uint(b, a->nonces[i].next);
    }
    mp_w_array(b, a->ntxs);
    for (uint32_t i = 0; i < a->ntxs; i++)
        mp_w_bin(b, a->txs[i], SDB_HASH_LEN);
}

static void r_apply(struct mp_reader *rd, struct sdb_block_apply *a)
{
    uint32_t n = 0;
    mp_expect_array(rd, 5);
    r_height(rd, &a->height);
    mp_read_bin_exact(rd, a->hash, SDB_HASH_LEN);
    mp_read_bin_exact(rd, a->parent, SDB_HASH_LEN);
    if (mp_read_array(rd, &n) == 0 &&
        (n > SDB_BLOCK_TXS_MAX || n > mp_reader_remaining(rd) / (SDB_ADDR_LEN + 4)))
        mp_fail(rd);
    if (rd->err)
        return;
    a->nonces = n ? xcalloc(n, sizeof(*a->nonces)) : NULL;
    a->nnonces = n;
    for (uint32_t i = 0; i < n && !rd->err; i++) {
        mp_expect_array(rd, 2);
        mp_read_bin_exact(rd, a->nonces[i].from, SDB_ADDR_LEN);
        mp_read_uint(rd, &a->nonces[i].next);
    }
    a->txs = r_hashes(rd, SDB_BLOCK_TXS_MAX, &a->ntxs);
}

/* ---- requests ---- */

void sdb_req_encode(struct buf *b, const struct sdb_req *r)
{
    switch (r->type) {
    case SDB_HELLO:
        mp_w_array(b, 1);
        mp_w_uint(b, r->u.hello.generation);
        break;
    case SDB_APPEND_INTENT:
        sdb_intent_encode(b, &r->u.append);
        break;
    case SDB_LOAD_INTENTS:
        mp_w_array(b, 2);
        if (r->u.load.has_after) {
            mp_w_array(b, 4);
            w_intent_key(b, &r->u.load.after);
        } else
            mp_w_nil(b);
        mp_w_uint(b, r->u.load.max_bytes);
        break;
    case SDB_PUT_DUTY:
        sdb_duty_encode(b, &r->u.put_duty);
        break;
    case SDB_GET_DUTY:
    case SDB_GET_DECIDED:
        mp_w_array(b, 2);
        mp_w_uint(b, r->u.get.dtype);
        mp_w_uint(b, r->u.get.height);
        break;
    case SDB_LIST_DUTIES:
        mp_w_array(b, 3);
        if (r->u.list.has_after) {
            mp_w_array(b, 2);
            mp_w_uint(b, r->u.list.dtype);
            mp_w_uint(b, r->u.list.height);
        } else
            mp_w_nil(b);
        mp_w_bool(b, r->u.list.undecided_only);
        mp_w_uint(b, r->u.list.max_bytes);
        break;
    case SDB_PUT_DECIDED:
        sdb_decided_encode(b, &r->u.put_decided);
        break;
    case SDB_PRUNE:
        mp_w_array(b, 3);
        mp_w_uint(b, r->u.prune.dtype);
        mp_w_uint(b, r->u.prune.below);
        mp_w_bool(b, r->u.prune.include_undecided);
        break;
    case SDB_ITERATE:
        mp_w_array(b, 4);
        mp_w_uint(b, r->u.iter.cf);
        if (r->u.iter.has_after)
            w_bytes(b, r->u.iter.after);
        else
            mp_w_nil(b);
        mp_w_uint(b, r->u.iter.max_entries);
        mp_w_uint(b, r->u.iter.max_bytes);
        break;
    case SDB_PUT_TXS:
        w_put_txs(b, r);
        break;
    case SDB_APPLY_BLOCK:
        w_apply(b, &r->u.apply);
        break;
    case SDB_GET_BLOCK:
        mp_w_array(b, 2);
        mp_w_uint(b, r->u.block.mode);
        mp_w_uint(b, r->u.block.height);
        break;
    case SDB_GET_TX:
        mp_w_array(b, 1);
        mp_w_bin(b, r->u.tx.hash, SDB_HASH_LEN);
        break;
    case SDB_CHAIN_HEAD:
        mp_w_array(b, 0);
        break;
    case SDB_SET_TSS:
        mp_w_array(b, 3);
        mp_w_uint(b, r->u.set_tss.dtype);
        mp_w_uint(b, r->u.set_tss.height);
        w_bytes(b, r->u.set_tss.tss);
        break;
    default:
        fatalx("sdb_req_encode: type 0x%04x is not a statedb request", r->type);
    }
}

int sdb_req_decode(struct sdb_req *r, uint16_t type, const void *body, size_t len)
{
    struct mp_reader rd;
    uint64_t x = 0;
    memset(r, 0, sizeof(*r));
    r->type = type;
    mp_reader_init(&rd, body, len);
    switch (type) {
    case SDB_HELLO:
        mp_expect_array(&rd, 1);
        mp_read_uint(&rd, &r->u.hello.generation);
        break;
    case SDB_APPEND_INTENT:
        r_intent(&rd, &r->u.append);
        break;
    case SDB_LOAD_INTENTS:
        mp_expect_array(&rd, 2);
        if (!mp_try_nil(&rd)) {
            r->u.load.has_after = true;
            mp_expect_array(&rd, 4);
            r_intent_key(&rd, &r->u.load.after);
        }
        mp_read_u32(&rd, &r->u.load.max_bytes);
        break;
    case SDB_PUT_DUTY:
        r_duty(&rd, &r->u.put_duty);
        break;
    case SDB_GET_DUTY:
    case SDB_GET_DECIDED:
        mp_expect_array(&rd, 2);
        r_dtype(&rd, &r->u.get.dtype);
        r_height(&rd, &r->u.get.height);
        break;
    case SDB_LIST_DUTIES:
        mp_expect_array(&rd, 3);
        if (!mp_try_nil(&rd)) {
            r->u.list.has_after = true;
            mp_expect_array(&rd, 2);
            r_dtype(&rd, &r->u.list.dtype);
            r_height(&rd, &r->u.list.height);
        }
        mp_read_bool(&rd, &r->u.list.undecided_only);
        mp_read_u32(&rd, &r->u.list.max_bytes);
        break;
    case SDB_PUT_DECIDED:
        if (len > SDB_DECIDED_MAX)
            return -1;
        r_decided(&rd, &r->u.put_decided);
        break;
    case SDB_PRUNE:
        mp_expect_array(&rd, 3);
        r_dtype(&rd, &r->u.prune.dtype);
        mp_read_uint_max(&rd, SDB_HEIGHT_MAX + 1, &r->u.prune.below);
        mp_read_bool(&rd, &r->u.prune.include_undecided);
        break;
    case SDB_ITERATE:
        mp_expect_array(&rd, 4);
        mp_read_uint_max(&rd, SDB_CF_COUNT - 1, &x);
        r->u.iter.cf = (uint8_t)x;
        if (!mp_try_nil(&rd)) {
            r->u.iter.has_after = true;
            r_bytes(&rd, &r->u.iter.after, 0, SDB_KEY_MAX);
        }
        mp_read_uint_max(&rd, SDB_ITER_MAX_ITEMS, &x);
        r->u.iter.max_entries = (uint32_t)x;
        mp_read_u32(&rd, &r->u.iter.max_bytes);
        break;
    case SDB_PUT_TXS:
        r_put_txs(&rd, r);
        break;
    case SDB_APPLY_BLOCK:
        r_apply(&rd, &r->u.apply);
        break;
    case SDB_GET_BLOCK:
        mp_expect_array(&rd, 2);
        mp_read_uint_max(&rd, SDB_BLOCK_MODES - 1, &x);
        r->u.block.mode = (uint8_t)x;
        r_height(&rd, &r->u.block.height);
        break;
    case SDB_GET_TX:
        mp_expect_array(&rd, 1);
        mp_read_bin_exact(&rd, r->u.tx.hash, SDB_HASH_LEN);
        break;
    case SDB_CHAIN_HEAD:
        mp_expect_array(&rd, 0);
        break;
    case SDB_SET_TSS:
        mp_expect_array(&rd, 3);
        r_dtype(&rd, &r->u.set_tss.dtype);
        r_height(&rd, &r->u.set_tss.height);
        r_bytes(&rd, &r->u.set_tss.tss, 1, SDB_TSS_MAX);
        break;
    default:
        return -1;
    }
    if (!mp_reader_done(&rd)) {
        sdb_req_free(r);
        return -1;
    }
    return 0;
}

void sdb_req_free(struct sdb_req *r)
{
    if (r->type == SDB_PUT_DECIDED)
        decided_free(&r->u.put_decided);
    else if (r->type == SDB_PUT_TXS) {
        free(r->u.txs.put);
        free(r->u.txs.del);
        r->u.txs.put = NULL;
        r->u.txs.del = NULL;
        r->u.txs.nput = r->u.txs.ndel = 0;
    } else if (r->type == SDB_APPLY_BLOCK) {
        free(r->u.apply.nonces);
        free(r->u.apply.txs);
        r->u.apply.nonces = NULL;
        r->u.apply.txs = NULL;
        r->u.apply.nnonces = r->u.apply.ntxs = 0;
    }
}

/* ---- replies ---- */

void sdb_list_reply_encode(struct buf *b, uint8_t status, bool durable, uint32_t n,
                           const struct buf *entries, bool more)
{
    mp_w_array(b, 4);
    mp_w_uint(b, status);
    mp_w_bool(b, durable);
    mp_w_array(b, n);
    if (entries)
        buf_append(b, entries->data, entries->len);
    mp_w_bool(b, more);
}

static void encode_list(struct buf *b, const struct sdb_reply *r)
{
    struct buf e = BUF_INIT;
    for (uint32_t i = 0; i < r->u.list.n; i++) {
        if (r->type == SDB_LOAD_INTENTS_REP)
            sdb_intent_encode(&e, &r->u.list.v.intents[i]);
        else if (r->type == SDB_LIST_DUTIES_REP)
            sdb_duty_encode(&e, &r->u.list.v.duties[i]);
        else
            sdb_kv_encode(&e, &r->u.list.v.kvs[i]);
    }
    sdb_list_reply_encode(b, r->status, r->durable, r->u.list.n, &e, r->u.list.more);
    buf_free(&e);
}

void sdb_reply_encode(struct buf *b, const struct sdb_reply *r)
{
    switch (r->type) {
    case SDB_LOAD_INTENTS_REP:
    case SDB_LIST_DUTIES_REP:
    case SDB_ITERATE_REP:
        encode_list(b, r);
        return;
    case SDB_HELLO_REP:
    case SDB_PRUNE_REP:
        mp_w_array(b, r->type == SDB_HELLO_REP ? 6 : 4);
        break;
    case SDB_PUT_TXS_REP:
    case SDB_SET_TSS_REP:
        mp_w_array(b, 2);
        break;
    case SDB_APPLY_BLOCK_REP:
    case SDB_CHAIN_HEAD_REP:
    case SDB_GET_BLOCK_REP:
    case SDB_GET_TX_REP:
    case SDB_APPEND_INTENT_REP:
    case SDB_PUT_DUTY_REP:
    case SDB_GET_DUTY_REP:
    case SDB_PUT_DECIDED_REP:
    case SDB_GET_DECIDED_REP:
        mp_w_array(b, 3);
        break;
    default:
        fatalx("sdb_reply_encode: type 0x%04x is not a statedb reply", r->type);
    }
    mp_w_uint(b, r->status);
    mp_w_bool(b, r->durable);
    switch (r->type) {
    case SDB_HELLO_REP:
        mp_w_bool(b, r->u.hello.fallback);
        mp_w_uint(b, r->u.hello.recovered_ms);
        mp_w_uint(b, r->u.hello.checkpoint_ms);
        mp_w_cstr(b, r->u.hello.detail);
        break;
    case SDB_PRUNE_REP:
        mp_w_uint(b, r->u.prune.pruned);
        mp_w_bool(b, r->u.prune.more);
        break;
    case SDB_APPEND_INTENT_REP:
        if (r->u.stored.present)
            w_bytes(b, r->u.stored.msg);
        else
            mp_w_nil(b);
        break;
    case SDB_PUT_DUTY_REP:
    case SDB_GET_DUTY_REP:
        if (r->u.duty.present)
            sdb_duty_encode(b, &r->u.duty.d);
        else
            mp_w_nil(b);
        break;
    case SDB_PUT_TXS_REP:
    case SDB_SET_TSS_REP:
        break;
    case SDB_APPLY_BLOCK_REP:
    case SDB_CHAIN_HEAD_REP:
        w_head(b, r->u.head.present, &r->u.head.h);
        break;
    case SDB_GET_BLOCK_REP:
        if (r->u.block.present) {
            mp_w_array(b, 4);
            mp_w_uint(b, r->u.block.height);
            mp_w_bin(b, r->u.block.hash, SDB_HASH_LEN);
            sdb_decided_encode(b, &r->u.block.d);
            mp_w_bool(b, r->u.block.in_chain);
        } else
            mp_w_nil(b);
        break;
    case SDB_GET_TX_REP:
        if (r->u.tx.present)
            mp_w_uint(b, r->u.tx.height);
        else
            mp_w_nil(b);
        break;
    default: /* PUT_DECIDED_REP, GET_DECIDED_REP */
        if (r->u.decided.present)
            sdb_decided_encode(b, &r->u.decided.d);
        else
            mp_w_nil(b);
        break;
    }
}

/* Entries of a list reply: the count was checked against the remaining bytes by the reader. */
static void decode_list(struct mp_reader *rd, struct sdb_reply *r)
{
    /* Smallest encoding of one entry: bounds the allocation to a small multiple of the input. */
    size_t min_entry = r->type == SDB_LOAD_INTENTS_REP ? 7 : r->type == SDB_LIST_DUTIES_REP ? 8 : 5;
    uint32_t n = 0;
    if (mp_read_array(rd, &n) < 0)
        return;
    if (n > SDB_ITER_MAX_ITEMS || n > mp_reader_remaining(rd) / min_entry) {
        mp_fail(rd);
        return;
    }
    r->u.list.n = n;
    if (r->type == SDB_LOAD_INTENTS_REP) {
        r->u.list.v.intents = n ? xcalloc(n, sizeof(struct sdb_intent)) : NULL;
        for (uint32_t i = 0; i < n && !rd->err; i++)
            r_intent(rd, &r->u.list.v.intents[i]);
    } else if (r->type == SDB_LIST_DUTIES_REP) {
        r->u.list.v.duties = n ? xcalloc(n, sizeof(struct sdb_duty)) : NULL;
        for (uint32_t i = 0; i < n && !rd->err; i++)
            r_duty(rd, &r->u.list.v.duties[i]);
    } else {
        r->u.list.v.kvs = n ? xcalloc(n, sizeof(struct sdb_kv)) : NULL;
        for (uint32_t i = 0; i < n && !rd->err; i++) {
            mp_expect_array(rd, 2);
            r_bytes(rd, &r->u.list.v.kvs[i].key, 0, SDB_KEY_MAX);
            r_bytes(rd, &r->u.list.v.kvs[i].value, 0, SDB_REPLY_MAX);
        }
    }
    mp_read_bool(rd, &r->u.list.more);
}

int sdb_reply_decode(struct sdb_reply *r, uint16_t type, const void *body, size_t len)
{
    struct mp_reader rd;
    uint64_t st = 0;
    uint32_t n;
    memset(r, 0, sizeof(*r));
    r->type = type;
    mp_reader_init(&rd, body, len);
    if (mp_read_array(&rd, &n) < 0)
        return -1;
    mp_read_uint_max(&rd, SDB_STATUS_COUNT - 1, &st);
    r->status = (uint8_t)st;
    mp_read_bool(&rd, &r->durable);
    switch (type) {
    case SDB_HELLO_REP:
        if (n != 6)
            return -1;
        mp_read_bool(&rd, &r->u.hello.fallback);
        mp_read_uint(&rd, &r->u.hello.recovered_ms);
        mp_read_uint(&rd, &r->u.hello.checkpoint_ms);
        mp_read_str_copy(&rd, r->u.hello.detail, sizeof(r->u.hello.detail));
        break;
    case SDB_PRUNE_REP:
        if (n != 4)
            return -1;
        mp_read_uint(&rd, &r->u.prune.pruned);
        mp_read_bool(&rd, &r->u.prune.more);
        break;
    case SDB_LOAD_INTENTS_REP:
    case SDB_LIST_DUTIES_REP:
    case SDB_ITERATE_REP:
        if (n != 4)
            return -1;
        decode_list(&rd, r);
        break;
    case SDB_APPEND_INTENT_REP:
        if (n != 3)
            return -1;
        if (!mp_try_nil(&rd)) {
            r->u.stored.present = true;
            r_bytes(&rd, &r->u.stored.msg, 1, SDB_INTENT_MAX);
        }
        break;
    case SDB_PUT_DUTY_REP:
    case SDB_GET_DUTY_REP:
        if (n != 3)
            return -1;
        if (!mp_try_nil(&rd)) {
            r->u.duty.present = true;
            r_duty(&rd, &r->u.duty.d);
        }
        break;
    case SDB_PUT_DECIDED_REP:
    case SDB_GET_DECIDED_REP:
        if (n != 3)
            return -1;
        if (!mp_try_nil(&rd)) {
            r->u.decided.present = true;
            r_decided(&rd, &r->u.decided.d);
        }
        break;
    case SDB_PUT_TXS_REP:
    case SDB_SET_TSS_REP:
        if (n != 2)
            return -1;
        break;
    case SDB_APPLY_BLOCK_REP:
    case SDB_CHAIN_HEAD_REP:
        if (n != 3)
            return -1;
        r_head(&rd, &r->u.head.present, &r->u.head.h);
        break;
    case SDB_GET_BLOCK_REP:
        if (n != 3)
            return -1;
        if (!mp_try_nil(&rd)) {
            r->u.block.present = true;
            mp_expect_array(&rd, 4);
            r_height(&rd, &r->u.block.height);
            mp_read_bin_exact(&rd, r->u.block.hash, SDB_HASH_LEN);
            r_decided(&rd, &r->u.block.d);
            mp_read_bool(&rd, &r->u.block.in_chain);
        }
        break;
    case SDB_GET_TX_REP:
        if (n != 3)
            return -1;
        if (!mp_try_nil(&rd)) {
            r->u.tx.present = true;
            r_height(&rd, &r->u.tx.height);
        }
        break;
    default:
        return -1;
    }
    if (!mp_reader_done(&rd)) {
        sdb_reply_free(r);
        return -1;
    }
    return 0;
}

void sdb_reply_free(struct sdb_reply *r)
{
    switch (r->type) {
    case SDB_LOAD_INTENTS_REP:
        free(r->u.list.v.intents);
        break;
    case SDB_LIST_DUTIES_REP:
        free(r->u.list.v.duties);
        break;
    case SDB_ITERATE_REP:
        free(r->u.list.v.kvs);
        break;
    case SDB_PUT_DECIDED_REP:
    case SDB_GET_DECIDED_REP:
        decided_free(&r->u.decided.d);
        break;
    case SDB_GET_BLOCK_REP:
        decided_free(&r->u.block.d);
        break;
    default:
        break;
    }
    memset(&r->u, 0, sizeof(r->u));
}
