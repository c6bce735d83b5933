/*
 * aequa-builder: the mempool and the chain's rules (SPEC §9), wired to the node.
 *
 *   api   --TX_SUBMIT-->  admit (signature once)  --PUT_TXS-->  StateDB  -- durable -->  answer,
 *                                                                        gossip on aequa/tx/v1
 *   p2p   --DELIVER(tx)-->  admit  --PUT_TXS-->  StateDB                (a bad tx: P2P_REPORT)
 *   qbft  --BUILD-->  this node's block for the height, on the chain's head
 *   qbft  --VALIDATE-->  a leader's proposal checked against the head and the chain's nonces
 *   qbft  --DECIDED-->  wait for its turn  --APPLY_BLOCK-->  StateDB  -->  head, nonces, pool
 *   slot timer  --SLOT-->  qbft      (when this node holds pending transactions)
 *   every change of head  --HEAD-->  qbft      (behind: decided blocks are missing, catch up)
 *                         and before every answer to BUILD and VALIDATE (a restarted QBFT)
 *
 * Start: the chain's head, every account's nonce and the pool are loaded from StateDB, then any
 * decided block that was not applied before a crash is applied; only then READY. Until READY
 * the builder answers TX_SUBMIT "unavailable" and BUILD/VALIDATE "behind". One load runs at a
 * time; one that StateDB does not answer within SDB_TIMEOUT_MS starts over from nothing (two
 * loads at once would write what each read, at different moments, into one pool and chain).
 *
 * Durability: a transaction is answered 202 only once its record is synced. When StateDB does
 * not answer, the client gets 503 and the record is written again every PERSIST_RETRY_S until
 * it is durable (the transaction stays in the pool meanwhile). A decided block is applied only
 * on its parent; the apply is retried until StateDB answers.
 *
 * Untrusted input (a client's or a peer's transaction, a leader's proposal) is never fatal: it
 * gets a result, a rejection reason and a count. A malformed message from another worker is a
 * protocol violation.
 */
#include "lib/lock.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "proto/builder.h"
#include "proto/p2p.h"
#include "proto/qbft.h"
#include "proto/statedb.h"
#include "proto/workers.h"
#ifdef AEQUA_TEST_TOOLS
#include "workers/builder/byzantine.h"
#endif
#include "workers/builder/chain.h"
#include "workers/builder/mempool.h"
#include "workers/builder/seen.h"
#include "workers/common/worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(CONFIG_MAX_TX_DATA + TX_PLAINTEXT_OVERHEAD <= BLD_TX_MAX,
               "[builder] max_tx_data: a transaction must fit one TX_SUBMIT");
_Static_assert(CONFIG_MAX_BLOCK_BYTES <= BLD_BLOCK_MAX && CONFIG_MAX_BLOCK_BYTES <= QBFT_MAX_VALUE,
               "[builder] max_block_bytes: a block must fit one builder message and QBFT value");

#define SDB_TIMEOUT_MS  2000
#define LOAD_PAGE_BYTES (1u << 20)
#define RETRY_S         0.25

/* A PUT_TXS that must become durable: written again until it is. */
struct persist {
    struct buf body;     /* the encoded request */
    bool in_flight;      /* a request is outstanding */
    bool answer;         /* an API request waits for it */
    struct envelope req; /* source and req_id of that API request */
    struct bld_tx_submit_rep rep;
    struct buf wire; /* the admitted tx, gossiped once durable (empty: nothing to gossip) */
    struct persist *next;
};

static struct {
    struct worker *w;
    struct lock lock;
    struct mempool_config mc;
    struct mempool *pool;
    struct chain chain;
    struct seen seen;
    bool loaded;
    bool loading; /* a load's request is out: the retry timer starts no second one */
    bool applying;
    bool told_behind; /* HEAD(behind) sent since the head last moved */
    uint64_t last_slot;
    struct persist *persists, **persists_tail;
    size_t npersists;
    ev_timer retry;
    ev_periodic slot;
#ifdef AEQUA_TEST_TOOLS
    struct byzantine byz; /* AEQUA_TEST_BYZANTINE: wrong blocks on purpose (test builds) */
#endif
} B;

static void try_apply(void);
static void load_nonces(bool has_after, const uint8_t *after, size_t alen);

/* ---------------------------------------------------------------- small helpers */

static int sdb_request(const struct sdb_req *r, mailbox_reply_cb cb, void *arg)
{
    struct buf b = BUF_INIT;
    sdb_req_encode(&b, r);
    int rc = mailbox_request(B.w->mb, W_STATEDB, r->type, sdb_reply_type(r->type), b.data, b.len,
                             SDB_TIMEOUT_MS, cb, arg);
    buf_free(&b);
    return rc;
}

static uint64_t host_nonce(void *ctx, const uint8_t from[TX_ADDR_LEN])
{
    (void)ctx;
    return chain_nonce(&B.chain, from);
}

static void update_sizes(void)
{
    size_t pending, queued;
    mempool_size(B.pool, &pending, &queued);
    metric_set(metric("mempool_size", "pending"), (double)pending);
    metric_set(metric("mempool_size", "queued"), (double)queued);
}

static void send_head(bool behind)
{
    struct bld_head h = {.height = B.chain.head.height, .behind = behind};
    memcpy(h.hash, B.chain.head.hash, BLD_HASH_LEN);
    struct buf b = BUF_INIT;
    bld_head_encode(&b, &h);
    if (mailbox_send(B.w->mb, W_QBFT, BLD_HEAD, b.data, b.len) < 0)
        log_debug("consensus_builder", LS("event", "head_not_sent"));
    buf_free(&b);
}

/* The head as last told, told again: a QBFT worker keeps no head across its restarts and votes
 * for no block before it knows one, so it hears it before every answer to BUILD and VALIDATE
 * (one frame: HEAD arrives first). */
static void tell_head_again(void)
{
    if (B.loaded)
        send_head(B.told_behind);
}

static void report_peer(uint32_t peer, enum p2p_report why)
{
    struct buf b = BUF_INIT;
    p2p_event_encode(&b, peer, why);
    mailbox_send(B.w->mb, W_P2P, P2P_REPORT, b.data, b.len);
    buf_free(&b);
}

static void gossip(const struct buf *wire)
{
    struct buf body = BUF_INIT;
    struct p2p_msg m = {.peer = P2P_BROADCAST,
                        .topic = P2P_TOPIC_TX,
                        .payload = wire->data,
                        .len = (uint32_t)wire->len};
    p2p_msg_encode(&body, &m);
    if (mailbox_send(B.w->mb, W_P2P, P2P_SEND, body.data, body.len) < 0)
        log_debug("consensus_builder", LS("event", "gossip_not_sent"));
    buf_free(&body);
}

/* ---------------------------------------------------------------- persistence of the pool */

static void persist_send(struct persist *p);

static void answer_submit(struct persist *p, uint8_t result)
{
    struct buf b = BUF_INIT;
    p->rep.result = result;
    bld_tx_submit_rep_encode(&b, &p->rep);
    mailbox_reply(B.w->mb, &p->req, BLD_TX_SUBMIT_REP, b.data, b.len);
    buf_free(&b);
    p->answer = false;
}

static void persist_free(struct persist *p)
{
    buf_free(&p->body);
    buf_free(&p->wire);
    free(p);
}

static void on_put_txs(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    struct persist *p = arg;
    struct sdb_reply r;
    p->in_flight = false;
    bool ok = status == 0 && sdb_reply_decode(&r, SDB_PUT_TXS_REP, env->body, env->body_len) == 0 &&
              r.status == SDB_OK && r.durable;
    if (!ok) {
        /* StateDB is restarting or failed: the client hears 503 now; the record is written
         * again by the retry timer until it is durable. */
        if (p->answer)
            answer_submit(p, BLD_TX_UNAVAILABLE);
        return;
    }
    if (p->answer)
        answer_submit(p, p->rep.result);
    if (p->wire.len)
        gossip(&p->wire);
    /* unlink */
    struct persist **pp = &B.persists;
    while (*pp && *pp != p)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = p->next;
        if (!*pp)
            B.persists_tail = pp;
        B.npersists--;
    }
    persist_free(p);
}

static void persist_send(struct persist *p)
{
    if (p->in_flight)
        return;
    if (mailbox_request(B.w->mb, W_STATEDB, SDB_PUT_TXS, SDB_PUT_TXS_REP, p->body.data, p->body.len,
                        SDB_TIMEOUT_MS, on_put_txs, p) == 0)
        p->in_flight = true;
    else if (p->answer)
        answer_submit(p, BLD_TX_UNAVAILABLE);
}

/* Queue a PUT_TXS of (at most one) new record and the removed hashes; sends it now. */
static struct persist *persist_new(const struct tx *added, const struct mempool_removed *rm)
{
    struct sdb_req r = {.type = SDB_PUT_TXS};
    struct sdb_tx_put put;
    uint8_t(*del)[SDB_HASH_LEN] = rm->n ? xcalloc(rm->n, SDB_HASH_LEN) : NULL;
    if (added) {
        memcpy(put.hash, added->hash, SDB_HASH_LEN);
        put.record = (struct sdb_bytes){added->wire, added->wire_len};
        r.u.txs.put = &put;
        r.u.txs.nput = 1;
    }
    for (size_t i = 0; i < rm->n; i++)
        memcpy(del[i], rm->v[i].hash, SDB_HASH_LEN);
    r.u.txs.del = del;
    r.u.txs.ndel = (uint32_t)rm->n;
    struct persist *p = xcalloc(1, sizeof(*p));
    sdb_req_encode(&p->body, &r);
    free(del);
    *B.persists_tail = p;
    B.persists_tail = &p->next;
    B.npersists++;
    return p;
}

static void on_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)t;
    (void)revents;
    for (struct persist *p = B.persists; p; p = p->next)
        persist_send(p);
    if (B.loaded)
        try_apply();
}

/* ---------------------------------------------------------------- admission */

static const char *source_name(bool api)
{
    return api ? "api" : "gossip";
}

static uint8_t bld_result_of(enum mempool_result r)
{
    static const uint8_t map[MEMPOOL_RESULT_COUNT] = {
        [MEMPOOL_OK] = BLD_TX_OK,
        [MEMPOOL_FUTURE] = BLD_TX_FUTURE,
        [MEMPOOL_DUP] = BLD_TX_DUP,
        [MEMPOOL_REPLACED] = BLD_TX_REPLACED,
        [MEMPOOL_UNDERPRICED] = BLD_TX_UNDERPRICED,
        [MEMPOOL_OLD] = BLD_TX_OLD,
        [MEMPOOL_INVALID] = BLD_TX_INVALID,
        [MEMPOOL_FULL] = BLD_TX_FULL,
    };
    return map[r];
}

/*
 * Admit one transaction's canonical bytes. req is the API's request (NULL for gossip). Returns
 * the persist that will answer, or NULL when the answer is in *rep already.
 */
static struct persist *admit(const uint8_t *wire, size_t len, const struct envelope *req,
                             struct bld_tx_submit_rep *rep)
{
    struct mempool_outcome o;
    struct mempool_removed rm = {0};
    memset(rep, 0, sizeof(*rep));
    enum mempool_result res = mempool_admit(B.pool, wire, len, &o, &rm);
    metric_inc(metric("mempool_in_total", mempool_result_name(res), source_name(req != NULL)));
    rep->result = bld_result_of(res);
    rep->err = (uint8_t)o.err.code;
    if (o.has_hash)
        memcpy(rep->hash, o.hash, BLD_HASH_LEN);
    if (o.err.detail)
        snprintf(rep->detail, sizeof(rep->detail), "%s", o.err.detail);
    if (o.has_hash && res != MEMPOOL_DUP)
        seen_add(&B.seen, o.hash);
    bool admitted = res == MEMPOOL_OK || res == MEMPOOL_FUTURE || res == MEMPOOL_REPLACED;
    struct persist *p = NULL;
    if (admitted || rm.n) {
        const struct tx *tx = admitted ? mempool_find(B.pool, o.hash, NULL) : NULL;
        p = persist_new(tx, &rm);
        if (tx && req) /* gossip what clients gave us; a peer's tx reached every node already */
            buf_append(&p->wire, tx->wire, tx->wire_len);
        if (admitted && req) {
            p->answer = true;
            p->req = *req;
            p->rep = *rep;
        }
        persist_send(p);
        update_sizes();
    }
    mempool_removed_free(&rm);
    log_debug("consensus_builder", LS("event", "tx"), LS("source", source_name(req != NULL)),
              LS("result", mempool_result_name(res)), LS("err", o.err.detail ? o.err.detail : ""));
    return p && p->answer ? p : NULL;
}

static void on_tx_submit(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    const uint8_t *wire;
    uint32_t len;
    if (bld_bytes_decode(&wire, &len, BLD_TX_MAX, e->body, e->body_len) < 0) {
        mailbox_violation(mb, e, "malformed TX_SUBMIT");
        return;
    }
    struct bld_tx_submit_rep rep;
    if (!B.loaded) {
        memset(&rep, 0, sizeof(rep));
        rep.result = BLD_TX_UNAVAILABLE;
        snprintf(rep.detail, sizeof(rep.detail), "the pool is loading");
    } else if (admit(wire, len, e, &rep))
        return; /* answered once durable */
    struct buf b = BUF_INIT;
    bld_tx_submit_rep_encode(&b, &rep);
    mailbox_reply(mb, e, BLD_TX_SUBMIT_REP, b.data, b.len);
    buf_free(&b);
}

/* ---------------------------------------------------------------- reads for the API */

/* An API request waiting for StateDB. */
struct api_read {
    struct envelope req; /* source, req_id */
    uint8_t hash[BLD_HASH_LEN];
    uint64_t height;
};

static void reply_tx(const struct envelope *req, const struct bld_tx_get_rep *r)
{
    struct buf b = BUF_INIT;
    bld_tx_get_rep_encode(&b, r);
    mailbox_reply(B.w->mb, req, BLD_TX_GET_REP, b.data, b.len);
    buf_free(&b);
}

/* The block that includes the tx: find the tx's bytes in it. */
static void on_tx_block(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    struct api_read *a = arg;
    struct bld_tx_get_rep r = {.state = BLD_TX_LOOKUP_FAILED};
    struct sdb_reply sr;
    struct block blk;
    bool decoded = false, have_block = false;
    if (status == 0 && sdb_reply_decode(&sr, SDB_GET_BLOCK_REP, env->body, env->body_len) == 0) {
        decoded = true;
        have_block = sr.status == SDB_OK && sr.u.block.present &&
                     block_decode(&blk, sr.u.block.d.value.p, sr.u.block.d.value.len, UINT32_MAX) ==
                         BLOCK_DECODE_OK;
    }
    for (uint32_t i = 0; have_block && i < blk.ntxs && r.state != BLD_TX_INCLUDED; i++) {
        struct tx *tx;
        struct tx_error err;
        if (tx_decode(blk.txs[i].p, blk.txs[i].len, TX_DATA_LIMIT, B.mc.lock_hash, &tx, &err) < 0)
            continue;
        if (!memcmp(tx->hash, a->hash, BLD_HASH_LEN)) {
            r = (struct bld_tx_get_rep){.state = BLD_TX_INCLUDED,
                                        .height = a->height,
                                        .tx = blk.txs[i].p,
                                        .tx_len = blk.txs[i].len};
        }
        tx_free(tx);
    }
    reply_tx(&a->req, &r);
    if (have_block)
        block_free(&blk);
    if (decoded)
        sdb_reply_free(&sr);
    free(a);
}

static void on_tx_index(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    struct api_read *a = arg;
    struct sdb_reply sr;
    struct bld_tx_get_rep r = {.state = BLD_TX_LOOKUP_FAILED};
    if (status == 0 && sdb_reply_decode(&sr, SDB_GET_TX_REP, env->body, env->body_len) == 0) {
        if (sr.status == SDB_NOT_FOUND)
            r.state = BLD_TX_UNKNOWN;
        if (sr.status == SDB_OK && sr.u.tx.present) {
            struct sdb_req q = {.type = SDB_GET_BLOCK};
            q.u.block.mode = SDB_BLOCK_AT;
            q.u.block.height = a->height = sr.u.tx.height;
            sdb_reply_free(&sr);
            if (sdb_request(&q, on_tx_block, a) == 0)
                return;
            reply_tx(&a->req, &r);
            free(a);
            return;
        }
        sdb_reply_free(&sr);
    }
    reply_tx(&a->req, &r);
    free(a);
}

static void on_tx_get(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    uint8_t hash[BLD_HASH_LEN];
    if (bld_hash_decode(hash, e->body, e->body_len) < 0) {
        mailbox_violation(mb, e, "malformed TX_GET");
        return;
    }
    struct bld_tx_get_rep r = {.state = BLD_TX_LOOKUP_FAILED};
    enum mempool_state st;
    const struct tx *tx = B.loaded ? mempool_find(B.pool, hash, &st) : NULL;
    if (tx) {
        r.state = st == MEMPOOL_PENDING ? BLD_TX_PENDING : BLD_TX_QUEUED;
        r.tx = tx->wire;
        r.tx_len = tx->wire_len;
    } else {
        /* not pooled: included in a block, or unknown */
        struct api_read *a = xcalloc(1, sizeof(*a));
        a->req = (struct envelope){.source = e->source, .req_id = e->req_id};
        memcpy(a->hash, hash, BLD_HASH_LEN);
        struct sdb_req q = {.type = SDB_GET_TX};
        memcpy(q.u.tx.hash, hash, BLD_HASH_LEN);
        if (sdb_request(&q, on_tx_index, a) == 0)
            return;
        free(a);
    }
    reply_tx(e, &r);
}

static void on_block_read(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    struct api_read *a = arg;
    /* StateDB's answer goes to the API as it is; an empty body: could not be read */
    mailbox_reply(B.w->mb, &a->req, BLD_BLOCK_GET_REP, status == 0 ? env->body : NULL,
                  status == 0 ? env->body_len : 0);
    free(a);
}

static void on_block_get(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    uint8_t mode;
    uint64_t height;
    if (bld_block_get_decode(&mode, &height, e->body, e->body_len) < 0) {
        mailbox_violation(mb, e, "malformed BLOCK_GET");
        return;
    }
    struct api_read *a = xcalloc(1, sizeof(*a));
    a->req = (struct envelope){.source = e->source, .req_id = e->req_id};
    struct sdb_req q = {.type = SDB_GET_BLOCK};
    q.u.block.mode = mode;
    q.u.block.height = height;
    if (sdb_request(&q, on_block_read, a) < 0) {
        mailbox_reply(mb, e, BLD_BLOCK_GET_REP, NULL, 0);
        free(a);
    }
}

static void on_gossip(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    struct p2p_msg m;
    if (p2p_msg_decode(&m, e->body, e->body_len) < 0) {
        mailbox_violation(mb, e, "malformed P2P_DELIVER");
        return;
    }
    if (!B.loaded || m.topic != P2P_TOPIC_TX)
        return;
    /* Judged already (here or in a block): no second signature check. */
    struct tx *tx;
    struct tx_error err;
    if (tx_decode(m.payload, m.len, B.mc.max_tx_data, B.mc.lock_hash, &tx, &err) < 0) {
        metric_inc(metric("mempool_in_total", "invalid", "gossip"));
        report_peer(m.peer, P2P_REPORT_UNDECODABLE);
        return;
    }
    bool known = seen_has(&B.seen, tx->hash);
    tx_free(tx);
    if (known) {
        metric_inc(metric("mempool_in_total", "dup", "gossip"));
        return;
    }
    struct bld_tx_submit_rep rep;
    admit(m.payload, m.len, NULL, &rep);
    if (rep.result == BLD_TX_INVALID)
        report_peer(m.peer, rep.err == TX_ERR_BAD_SIGNATURE ? P2P_REPORT_INVALID_SIG
                                                            : P2P_REPORT_UNDECODABLE);
}

static void on_peer_event(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    uint32_t peer, up;
    if (p2p_event_decode(&peer, &up, e->body, e->body_len) < 0)
        mailbox_violation(mb, e, "malformed P2P_PEER");
}

/* ---------------------------------------------------------------- blocks */

static void reply_build(const struct envelope *e, uint8_t result, const struct buf *block)
{
    struct bld_block r = {.result = result};
    if (block) {
        r.block = block->data;
        r.block_len = (uint32_t)block->len;
    }
    struct buf b = BUF_INIT;
    bld_build_rep_encode(&b, &r);
    mailbox_reply(B.w->mb, e, BLD_BUILD_REP, b.data, b.len);
    buf_free(&b);
}

#ifdef AEQUA_TEST_TOOLS
/* A test build's Byzantine leader (byzantine.h): the block made wrong, when it can be. */
static void byzantine_build(uint64_t height, struct buf *block)
{
    if (!B.byz.n)
        return;
    enum byzantine_mode m = byzantine_mode_at(&B.byz, height, B.lock.n);
    struct buf bad = BUF_INIT;
    if (byzantine_corrupt(m, block->data, block->len, B.mc.lock_hash, &bad) < 0) {
        buf_free(&bad);
        return;
    }
    buf_free(block);
    *block = bad;
    log_warn("consensus_builder", LS("event", "byzantine_block"), LU("height", height),
             LS("mode", byzantine_mode_name(m)));
}
#endif

static bool behind(void)
{
    return !B.loaded || B.chain.nwaiting > 0;
}

static void on_build(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    uint64_t height;
    bool explicit_duty;
    if (bld_build_decode(&height, &explicit_duty, e->body, e->body_len) < 0) {
        mailbox_violation(mb, e, "malformed BUILD");
        return;
    }
    tell_head_again();
    size_t pending, queued;
    if (behind() || (B.chain.has_head && height <= B.chain.head.height)) {
        reply_build(e, BLD_BUILD_BEHIND, NULL);
        return;
    }
    mempool_size(B.pool, &pending, &queued);
    if (pending == 0 && !explicit_duty && !B.w->cfg.builder_empty_blocks) {
        reply_build(e, BLD_BUILD_EMPTY, NULL);
        return;
    }
    struct block_header h = {.height = height, .proposer = (uint32_t)B.w->cfg.index};
    memcpy(h.parent_hash, B.chain.head.hash, SHA256_LEN);
    struct buf block = BUF_INIT;
    struct mempool_build_info info;
    uint64_t t0 = now_ns();
    mempool_build(B.pool, &h, &block, &info);
    metric_observe(metric("block_build_seconds"), (double)(now_ns() - t0) / 1e9);
#ifdef AEQUA_TEST_TOOLS
    byzantine_build(height, &block);
#endif
    metric_add(metric("builder_selected_total", "plaintext_v1"), (double)info.txs);
    log_info("consensus_builder", LS("event", "built"), LU("height", height), LU("txs", info.txs),
             LU("gas", info.gas), LU("bytes", info.bytes));
    reply_build(e, BLD_BUILD_OK, &block);
    buf_free(&block);
}

static void reply_verdict(const struct envelope *e, uint8_t verdict, const char *reason)
{
    struct bld_verdict_rep r = {.verdict = verdict};
    snprintf(r.reason, sizeof(r.reason), "%s", reason ? reason : "");
    struct buf b = BUF_INIT;
    bld_verdict_encode(&b, &r);
    mailbox_reply(B.w->mb, e, BLD_VALIDATE_REP, b.data, b.len);
    buf_free(&b);
}

static void on_validate(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    struct bld_block v;
    if (bld_block_decode(&v, e->body, e->body_len) < 0) {
        mailbox_violation(mb, e, "malformed VALIDATE");
        return;
    }
    tell_head_again();
    if (behind()) {
        reply_verdict(e, BLD_BEHIND, "catching up");
        return;
    }
    /* A proposal on a parent this node does not know, above its head: it may be behind. (On a
     * parent it applied before the head, it is stale: refused below, reason "parent".) */
    struct block blk;
    if (block_decode(&blk, v.block, v.block_len, (uint32_t)B.mc.max_block_txs) == BLOCK_DECODE_OK &&
        blk.h.height == v.height && blk.h.height > B.chain.head.height &&
        memcmp(blk.h.parent_hash, B.chain.head.hash, SHA256_LEN) != 0 &&
        !chain_recent(&B.chain, blk.h.parent_hash) &&
        memcmp(blk.h.parent_hash, BLOCK_GENESIS_PARENT, SHA256_LEN) != 0) {
        block_free(&blk);
        reply_verdict(e, BLD_BEHIND, "unknown parent");
        return;
    }
    block_free(&blk);
    struct block_expect x = {
        .parent_height = B.chain.head.height, .height = v.height, .operators = B.lock.n};
    memcpy(x.parent_hash, B.chain.head.hash, SHA256_LEN);
    enum block_reject why = mempool_validate_block(B.pool, v.block, v.block_len, &x);
    if (why != BLOCK_OK) {
        metric_inc(metric("builder_reject_total", "block", block_reject_name(why)));
        log_warn("consensus_builder", LS("event", "proposal_refused"), LU("height", v.height),
                 LS("reason", block_reject_name(why)));
    }
    reply_verdict(e, why == BLOCK_OK ? BLD_VALID : BLD_INVALID,
                  why == BLOCK_OK ? "" : block_reject_name(why));
}

/* ---------------------------------------------------------------- applying decided blocks */

struct applying {
    struct sdb_block_apply plan;
    struct buf bytes;
};

static void applied(struct applying *a)
{
    struct mempool_removed rm = {0};
    chain_applied(&B.chain, &a->plan);
    if (mempool_on_decided(B.pool, a->bytes.data, a->bytes.len, &rm) < 0)
        log_error("consensus_block", LU("height", a->plan.height),
                  LS("err", "the applied block does not decode"));
    for (uint32_t i = 0; i < a->plan.ntxs; i++)
        seen_add(&B.seen, a->plan.txs[i]);
    if (rm.n) /* what fell below the chain's nonces: out of the database too */
        persist_send(persist_new(NULL, &rm));
    mempool_removed_free(&rm);
    update_sizes();
    metric_set(metric("chain_height"), (double)B.chain.head.height);
    char hex[2 * SHA256_LEN + 1];
    hex_encode(hex, a->plan.hash, SHA256_LEN);
    log_info("consensus_block", LS("event", "applied"), LU("height", a->plan.height),
             LU("txs", a->plan.ntxs), LS("block_hash", hex));
    B.told_behind = false;
    send_head(false);
}

static void on_apply(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    struct applying *a = arg;
    struct sdb_reply r;
    B.applying = false;
    if (status != 0 || sdb_reply_decode(&r, SDB_APPLY_BLOCK_REP, env->body, env->body_len) < 0) {
        /* retried by the retry timer (a second apply of the same block is a duplicate) */
    } else {
        if (r.status == SDB_OK || r.status == SDB_DUPLICATE) {
            chain_done_waiting(&B.chain, a->plan.height);
            applied(a);
        } else if (r.status == SDB_CONFLICT || r.status == SDB_NOT_FOUND) {
            log_error("consensus_block", LU("height", a->plan.height),
                      LS("err", r.status == SDB_CONFLICT
                                    ? "StateDB's chain does not end where the builder's does"
                                    : "no decided record for the block"),
                      LU("statedb_head", r.u.head.present ? r.u.head.h.height : 0));
            chain_done_waiting(&B.chain, a->plan.height);
        }
        sdb_reply_free(&r);
    }
    chain_plan_free(&a->plan);
    buf_free(&a->bytes);
    free(a);
    try_apply();
}

static void try_apply(void)
{
    if (B.applying)
        return;
    const struct chain_waiting *w;
    while ((w = chain_next(&B.chain))) {
        struct applying *a = xcalloc(1, sizeof(*a));
        if (chain_plan(&B.chain, w->bytes.data, w->bytes.len, &a->plan) < 0) {
            log_error("consensus_block", LU("height", w->height),
                      LS("err", "a decided block that does not decode is dropped"));
            chain_done_waiting(&B.chain, w->height);
            free(a);
            continue;
        }
        buf_append(&a->bytes, w->bytes.data, w->bytes.len);
        struct sdb_req r = {.type = SDB_APPLY_BLOCK, .u.apply = a->plan};
        if (sdb_request(&r, on_apply, a) == 0) {
            B.applying = true;
        } else {
            chain_plan_free(&a->plan);
            buf_free(&a->bytes);
            free(a);
        }
        return;
    }
    if (chain_behind(&B.chain) && !B.told_behind) {
        B.told_behind = true;
        log_info("consensus_block", LS("event", "behind"), LU("head", B.chain.head.height),
                 LU("waiting_from", B.chain.waiting[0].height));
        send_head(true);
    }
}

static void on_decided(struct mailbox *mb, const struct envelope *e, void *ctx)
{
    (void)ctx;
    struct bld_block d;
    if (bld_block_decode(&d, e->body, e->body_len) < 0) {
        mailbox_violation(mb, e, "malformed DECIDED");
        return;
    }
    enum chain_wait_result res = chain_wait(&B.chain, d.height, d.block, d.block_len);
    if (res == CHAIN_WAIT_INVALID)
        log_error("consensus_block", LU("height", d.height),
                  LS("err", "a decided value that is not a block of this height"));
    else if (res == CHAIN_WAIT_FULL)
        log_warn("consensus_block", LU("height", d.height),
                 LS("err", "too many decided blocks wait for missing ones; dropped"));
    if (B.loaded)
        try_apply();
}

/* ---------------------------------------------------------------- slots */

static void on_slot(struct ev_loop *loop, ev_periodic *p, int revents)
{
    (void)loop;
    (void)p;
    (void)revents;
    size_t pending, queued;
    uint64_t slot = wall_ms() / B.w->cfg.builder_slot_ms;
    if (!B.loaded || behind() || slot <= B.last_slot ||
        (B.chain.has_head && slot <= B.chain.head.height))
        return;
    mempool_size(B.pool, &pending, &queued);
    if (pending == 0 && !B.w->cfg.builder_empty_blocks)
        return; /* an idle cluster stays idle */
    B.last_slot = slot;
    struct buf b = BUF_INIT;
    bld_height_encode(&b, slot);
    if (mailbox_send(B.w->mb, W_QBFT, BLD_SLOT, b.data, b.len) < 0)
        log_debug("consensus_builder", LS("event", "slot_not_sent"), LU("slot", slot));
    buf_free(&b);
}

/* ---------------------------------------------------------------- start-up */

static void load_failed(const char *what)
{
    /* StateDB is not up yet (or restarting): start over shortly */
    log_debug("consensus_builder", LS("event", "load_retry"), LS("step", what));
    B.loading = false;
    ev_timer_stop(B.w->loop, &B.retry);
    ev_timer_set(&B.retry, RETRY_S, RETRY_S);
    ev_timer_start(B.w->loop, &B.retry);
}

static void load_head(void);

static void finish_load(void)
{
    B.loaded = true;
    B.loading = false;
    update_sizes();
    metric_set(metric("chain_height"), (double)B.chain.head.height);
    size_t pending, queued;
    mempool_size(B.pool, &pending, &queued);
    log_info("consensus_builder", LS("event", "loaded"), LU("head", B.chain.head.height),
             LU("accounts", B.chain.nonces.n), LU("pending", pending), LU("queued", queued));
    worker_ready(B.w);
    send_head(false);
    try_apply();
}

/* Decided blocks above the head that a crash kept from being applied. */
static void on_decided_next(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    (void)arg;
    struct sdb_reply r;
    if (status != 0 || sdb_reply_decode(&r, SDB_GET_BLOCK_REP, env->body, env->body_len) < 0) {
        load_failed("decided blocks");
        return;
    }
    if (r.status == SDB_OK && r.u.block.present) {
        chain_wait(&B.chain, r.u.block.height, r.u.block.d.value.p, r.u.block.d.value.len);
        struct sdb_req q = {.type = SDB_GET_BLOCK};
        q.u.block.mode = SDB_BLOCK_DECIDED_NEXT;
        q.u.block.height = r.u.block.height;
        sdb_reply_free(&r);
        if (sdb_request(&q, on_decided_next, NULL) < 0)
            load_failed("decided blocks");
        return;
    }
    bool ok = r.status == SDB_NOT_FOUND;
    sdb_reply_free(&r);
    if (ok)
        finish_load();
    else
        load_failed("decided blocks");
}

static void load_decided(void)
{
    struct sdb_req q = {.type = SDB_GET_BLOCK};
    q.u.block.mode = SDB_BLOCK_DECIDED_NEXT;
    q.u.block.height = B.chain.head.height;
    if (sdb_request(&q, on_decided_next, NULL) < 0)
        load_failed("decided blocks");
}

/* A loading step's StateDB reply: decoded into r with status OK, or false (r freed). */
static bool load_reply(int status, const struct envelope *env, uint16_t type, struct sdb_reply *r)
{
    if (status != 0) {
        memset(r, 0, sizeof(*r));
        return false;
    }
    if (sdb_reply_decode(r, type, env->body, env->body_len) == 0 && r->status == SDB_OK)
        return true;
    sdb_reply_free(r);
    return false;
}

static void load_pool(bool has_after, const uint8_t *after, size_t alen);

static void on_pool_page(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    (void)arg;
    struct sdb_reply r;
    if (!load_reply(status, env, SDB_ITERATE_REP, &r)) {
        load_failed("pool");
        return;
    }
    struct mempool_removed rm = {0};
    for (uint32_t i = 0; i < r.u.list.n; i++) {
        const struct sdb_kv *kv = &r.u.list.v.kvs[i];
        if (mempool_restore(B.pool, kv->value.p, kv->value.len, &rm) < 0 &&
            kv->key.len == SHA256_LEN)
            mempool_removed_add(&rm, kv->key.p, MEMPOOL_RM_OLD);
    }
    bool more = r.u.list.more && r.u.list.n > 0;
    uint8_t last[SDB_KEY_MAX];
    size_t llen = 0;
    if (more) {
        llen = r.u.list.v.kvs[r.u.list.n - 1].key.len;
        memcpy(last, r.u.list.v.kvs[r.u.list.n - 1].key.p, llen);
    }
    sdb_reply_free(&r);
    if (more) {
        if (rm.n)
            persist_send(persist_new(NULL, &rm));
        mempool_removed_free(&rm);
        load_pool(true, last, llen);
        return;
    }
    mempool_restore_done(B.pool, &rm);
    if (rm.n)
        persist_send(persist_new(NULL, &rm));
    mempool_removed_free(&rm);
    load_decided();
}

static void load_pool(bool has_after, const uint8_t *after, size_t alen)
{
    struct sdb_req q = {.type = SDB_ITERATE};
    q.u.iter.cf = SDB_CF_MEMPOOL;
    q.u.iter.has_after = has_after;
    q.u.iter.after = (struct sdb_bytes){after, (uint32_t)alen};
    q.u.iter.max_bytes = LOAD_PAGE_BYTES;
    if (sdb_request(&q, on_pool_page, NULL) < 0)
        load_failed("pool");
}

static void on_nonce_page(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    (void)arg;
    struct sdb_reply r;
    if (!load_reply(status, env, SDB_ITERATE_REP, &r)) {
        load_failed("nonces");
        return;
    }
    bool done = !r.u.list.more || r.u.list.n == 0;
    uint8_t last[SDB_KEY_MAX];
    size_t llen = 0;
    for (uint32_t i = 0; i < r.u.list.n; i++) {
        const struct sdb_kv *kv = &r.u.list.v.kvs[i];
        if (kv->key.len != 1 + SDB_ADDR_LEN || kv->key.p[0] != SDB_CHAIN_NONCE_KEY ||
            kv->value.len != 8) {
            done = true; /* past the nonce records */
            break;
        }
        uint64_t next = 0;
        for (int k = 0; k < 8; k++)
            next = next << 8 | kv->value.p[k];
        chain_set_nonce(&B.chain, kv->key.p + 1, next);
        llen = kv->key.len;
        memcpy(last, kv->key.p, llen);
    }
    sdb_reply_free(&r);
    if (done)
        load_pool(false, NULL, 0);
    else
        load_nonces(true, last, llen);
}

static void load_nonces(bool has_after, const uint8_t *after, size_t alen)
{
    static const uint8_t prefix = SDB_CHAIN_NONCE_KEY;
    struct sdb_req q = {.type = SDB_ITERATE};
    q.u.iter.cf = SDB_CF_CHAIN;
    q.u.iter.has_after = true; /* the nonce records are the keys after "n" */
    q.u.iter.after =
        has_after ? (struct sdb_bytes){after, (uint32_t)alen} : (struct sdb_bytes){&prefix, 1};
    q.u.iter.max_bytes = LOAD_PAGE_BYTES;
    if (sdb_request(&q, on_nonce_page, NULL) < 0)
        load_failed("nonces");
}

static void on_head(struct mailbox *mb, int status, const struct envelope *env, void *arg)
{
    (void)mb;
    (void)arg;
    struct sdb_reply r;
    if (!load_reply(status, env, SDB_CHAIN_HEAD_REP, &r)) {
        load_failed("head");
        return;
    }
    chain_set_head(&B.chain, r.u.head.present, &r.u.head.h);
    sdb_reply_free(&r);
    load_nonces(false, NULL, 0);
}

/* A load starts from nothing (a load cut short by a StateDB restart is started over). */
static void reset_state(void)
{
    uint64_t seed;
    random_bytes(&seed, sizeof(seed));
    if (B.pool)
        mempool_free(B.pool);
    chain_free(&B.chain);
    mempool_config_from(&B.mc, &B.w->cfg, B.lock.hash, seed);
    struct mempool_host host = {.chain_nonce = host_nonce};
    B.pool = mempool_new(&B.mc, &host);
    chain_init(&B.chain, B.lock.hash, seed ^ UINT64_C(0x5bd1e995));
}

static void load_head(void)
{
    reset_state();
    B.loading = true;
    ev_timer_stop(B.w->loop, &B.retry);
    ev_timer_set(&B.retry, RETRY_S, RETRY_S);
    ev_timer_start(B.w->loop, &B.retry);
    struct sdb_req q = {.type = SDB_CHAIN_HEAD};
    if (sdb_request(&q, on_head, NULL) < 0)
        load_failed("head");
}

static void on_load_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
    if (B.loaded) {
        on_retry(loop, t, revents);
        return;
    }
    if (B.loading)
        return; /* its request answers or times out (SDB_TIMEOUT_MS), then load_failed */
    ev_timer_stop(loop, t);
    load_head();
}

/* ---------------------------------------------------------------- lifecycle */

static const struct dispatch_entry rows[] = {
    {BLD_TX_SUBMIT, WBIT(W_API), 2, BLD_TX_MAX + 16, on_tx_submit},
    {BLD_TX_GET, WBIT(W_API), 2, 64, on_tx_get},
    {BLD_BLOCK_GET, WBIT(W_API), 2, 32, on_block_get},
    {BLD_BUILD, WBIT(W_QBFT), 2, 16, on_build},
    {BLD_VALIDATE, WBIT(W_QBFT), 4, BLD_BLOCK_MAX + 32, on_validate},
    {BLD_DECIDED, WBIT(W_QBFT), 4, BLD_BLOCK_MAX + 32, on_decided},
    {P2P_DELIVER, WBIT(W_P2P), 4, P2P_PAYLOAD_MAX + 64, on_gossip},
    {P2P_PEER, WBIT(W_P2P), 2, 32, on_peer_event},
};

static int builder_preinit(struct worker *w)
{
    char err[1024];
    if (lock_load(&B.lock, w->cfg.lock, err, sizeof(err)) < 0) {
        log_error("config_error", LS("err", err));
        exit(EXIT_CONFIG);
    }
    return 0;
}

static int builder_init(struct worker *w)
{
    B.w = w;
    uint64_t seed;
    random_bytes(&seed, sizeof(seed));
    seen_init(&B.seen, seed);
    B.persists_tail = &B.persists;
    /* every series the builder may count, at zero, so a dashboard sees it before it moves */
    metric("mempool_size", "pending");
    metric("mempool_size", "queued");
    metric("chain_height");
    metric("block_build_seconds");
    metric("builder_selected_total", "plaintext_v1");
    for (unsigned r = 0; r < MEMPOOL_RESULT_COUNT; r++) {
        metric("mempool_in_total", mempool_result_name(r), "api");
        metric("mempool_in_total", mempool_result_name(r), "gossip");
    }
    for (unsigned r = BLOCK_OK + 1; r < BLOCK_REJECT_COUNT; r++)
        metric("builder_reject_total", "block", block_reject_name(r));
    ev_timer_init(&B.retry, on_load_retry, RETRY_S, RETRY_S);
    if (w->cfg.builder_slot_ms) {
        ev_periodic_init(&B.slot, on_slot, 0, (double)w->cfg.builder_slot_ms / 1000.0, NULL);
        ev_periodic_start(w->loop, &B.slot);
    }
#ifdef AEQUA_TEST_TOOLS
    const char *byz = getenv(BYZANTINE_ENV);
    if (byz && byzantine_parse(&B.byz, byz) < 0) {
        log_error("config_error", LS("err", BYZANTINE_ENV ": expected bad_signature, nonce_gap "
                                                          "or wrong_order, comma-separated"));
        exit(EXIT_CONFIG);
    }
    if (byz)
        log_warn("consensus_builder", LS("event", "byzantine"), LS("modes", byz));
#endif
    load_head(); /* READY once the chain and the pool are loaded */
    return 0;
}

static void builder_health(struct worker *w, char *out, size_t n)
{
    (void)w;
    out[0] = 0;
    if (B.loaded && B.npersists > 0)
        snprintf(out, n, "%zu pool writes wait for StateDB", B.npersists);
}

static const char *const builder_syscalls[] = {NULL};
static const struct seccomp_profile builder_profile = {builder_syscalls};

static const struct worker_ops ops = {
    .name = "builder",
    .id = W_BUILDER,
    .seccomp = &builder_profile,
    .preinit = builder_preinit,
    .init = builder_init,
    .health = builder_health,
    .dispatch = rows,
    .ndispatch = ARRAY_LEN(rows),
};

int main(int argc, char **argv)
{
    return worker_main(argc, argv, &ops, &B);
}
