/*
 * qbft_table: the bottom layer of the engine — its state and the tables that hold it (not part of
 * the API). The instance table keyed by (duty, height) with the list of running instances; per
 * instance a window of rounds with one slot per (type, sender); the values an instance knows;
 * the buffer of messages for instances that have not started; the verified-signature cache; the
 * round schedule (qbft_timer.c). Functions here only look up, store and free: they decide
 * nothing about the protocol and call no other layer (reports go to the host through qevent).
 *
 * Above this layer: qbft_verify.h (judge and record a message) and qbft_rules.h (the upon
 * rules), which call only into this layer; qbft_engine.c (qbft.h) calls both.
 */
#ifndef AEQUA_WORKERS_QBFT_TABLE_H
#define AEQUA_WORKERS_QBFT_TABLE_H

#include "lib/buf.h"
#include "workers/qbft/qbft_types.h"

#define QBFT_VALUES   8   /* values remembered per instance (proposals, prepared, input) */
#define QBFT_RETRY_MS 100 /* retry delay for votes withheld because the intent store failed */
#define QSLOT_TYPES   4   /* PRE-PREPARE, PREPARE, COMMIT, ROUND-CHANGE have per-round slots */
#define TYPE_BIT(t)   (1u << (t))

/* A signed body, copied. */
struct qsig {
    uint8_t body[QBFT_BODY_MAX];
    uint8_t body_len;
    uint8_t sig[SIG_LEN];
};

/* What the host said about a freshly proposed value (validate_value), per PRE-PREPARE and per
 * value. A PRE-PREPARE may be prepared only when its check is NONE (no check needed) or VALID. */
enum qcheck {
    QCHECK_NONE,    /* not asked (no check needed, or no verdict recorded for the value) */
    QCHECK_PENDING, /* asked, the verdict comes through qbft_value_checked() */
    QCHECK_VALID,
    QCHECK_INVALID,
};

/* An accepted message in its (round, type, sender) slot. */
struct qmsg {
    struct qbft_body b;
    uint8_t check; /* PRE-PREPARE: enum qcheck */
    uint8_t digest[SHA256_LEN];
    struct qsig s;
    struct qsig *just; /* ROUND-CHANGE: the PREPARE quorum justifying its prepared round */
    uint16_t njust;
};

struct qround {
    uint64_t round;
    struct qmsg **m; /* [QSLOT_TYPES * n]: index (type - 1) * n + sender */
    uint8_t sent;    /* TYPE_BIT(type): this node's message of that type is out (or abstained) */
    bool want_rc;    /* entered by timeout or jump: a ROUND-CHANGE is due */
    uint16_t ncommit;
};

struct qval {
    uint8_t hash[QBFT_HASH_LEN];
    uint8_t *data;
    uint32_t len;
    uint64_t round; /* latest round that referred to it */
    uint8_t check;  /* enum qcheck: the host's verdict on it, NONE when not asked */
};

/* A message held for an instance that has not started. */
struct qpend {
    struct qpend *next;
    unsigned from;
    size_t len;
    uint8_t bytes[];
};

struct qinst {
    struct qbft_id id;
    struct qinst *hnext;         /* hash chain */
    struct qinst *anext, *aprev; /* running list (timers) */
    enum qbft_status status;
    bool abstain;
    bool restored;
    bool blocked; /* a vote was withheld: the intent store did not answer */
    uint64_t start_ms;
    uint64_t round;
    uint64_t deadline;

    struct qval input;
    bool has_input;

    uint64_t pr; /* prepared round, 0 = none */
    uint8_t ph[QBFT_HASH_LEN];
    struct qsig *pjust; /* the PREPARE quorum for (pr, ph) */
    uint16_t npjust;

    uint64_t *far_rc; /* per sender: highest ROUND-CHANGE round seen beyond the window */

    struct qround *rounds; /* ascending by round */
    size_t nrounds, caprounds;

    struct qval vals[QBFT_VALUES];
    unsigned nvals;

    struct qpend *pend, **pend_tail;

    /* decided */
    uint8_t dhash[QBFT_HASH_LEN];
    uint64_t dround;
    struct qval dvalue;
    struct qsig *dcert;
    uint16_t ndcert;
    struct buf cert;
    struct buf dmsg;              /* this node's DECIDED, built on first use */
    uint8_t (*dseen)[SHA256_LEN]; /* per sender: last DECIDED digest accepted */
    uint64_t dseen_mask;
    uint8_t (*rcseen)[SHA256_LEN]; /* decided: per sender, last ROUND-CHANGE digest */
    uint64_t rcseen_mask;
    uint32_t *answers;           /* per peer: DECIDED answers sent */
    uint64_t *answer_ms;         /* per peer: time of the last one */
    uint64_t decided_ms;         /* the engine's time of the decision */
    struct qinst *dnext, *dprev; /* the decided list, oldest first */
};

struct sigc_entry {
    uint8_t digest[SHA256_LEN];
    uint8_t sig[SIG_LEN];
    bool used;
};

struct qbft_engine {
    struct qbft_config cfg;
    struct qbft_host host;
    uint8_t (*pubkeys)[PUBKEY_LEN];
    void *parsed; /* secp256k1_pubkey[n] */
    unsigned q, f;

    struct qinst **buckets;
    size_t nbuckets, ninst;
    struct qinst *active;        /* running instances */
    struct qinst *dhead, *dtail; /* decided instances, oldest decision first */
    size_t ndecided;

    bool has_max[DUTY_TYPES];
    uint64_t max_height[DUTY_TYPES];
    uint64_t pruned_below[DUTY_TYPES];

    size_t *pend_msgs, *pend_bytes; /* per peer (index n: anything else) */

    struct sigc_entry *cache;
    size_t cache_mask;

    struct qbft_msg *rx; /* decode scratch: received messages */
    struct qbft_msg *tx; /* decode scratch: this node's intents */
    struct buf out, out2;
    uint64_t last_now;
    struct qbft_stats stats;
};

/* qbft_timer.c: the round schedule */
uint64_t qbft_round_timeout(const struct qbft_config *c, uint64_t round);
uint64_t qbft_round_end(const struct qbft_config *c, uint64_t start, uint64_t round);
uint64_t qbft_round_at(const struct qbft_config *c, uint64_t start, uint64_t now);

/* Instances (qinst_get creates one in QBFT_PENDING_START; qinst_remove frees it). */
struct qinst *qinst_find(const struct qbft_engine *e, const struct qbft_id *id);
struct qinst *qinst_get(struct qbft_engine *e, const struct qbft_id *id);
void qinst_remove(struct qbft_engine *e, struct qinst *in);
/* The decided list: qdecided_add when an instance becomes decided (at now); qdecided_evict
 * forgets the oldest decided instances beyond decided_keep or older than decided_keep_ms (a
 * later message for one is held like one for an instance not started; the host may bring the
 * decision back with qbft_restore_decided). */
void qdecided_add(struct qbft_engine *e, struct qinst *in, uint64_t now);
void qdecided_evict(struct qbft_engine *e, uint64_t now);
/* Below the retention window of its duty type, or pruned. */
bool qid_stale(const struct qbft_engine *e, const struct qbft_id *id);
/* Put a started instance on the running list; take one off it and drop what only a running
 * instance needs (buffered messages, known values). */
void qinst_run(struct qbft_engine *e, struct qinst *in);
void qinst_stop(struct qbft_engine *e, struct qinst *in);
void qinst_enter_round(struct qbft_engine *e, struct qinst *in, uint64_t round, bool want_rc,
                       const char *cause);
void qinst_set_prepared(struct qinst *in, uint64_t round, const uint8_t hash[QBFT_HASH_LEN],
                        const struct qsig *prepares, size_t n);
/* Free every instance (the engine is going away). */
void qtable_clear(struct qbft_engine *e);

/* Rounds and slots. */
struct qround *qround_find(const struct qinst *in, uint64_t round);
struct qround *qround_get(struct qbft_engine *e, struct qinst *in, uint64_t round);
struct qmsg **qslot(const struct qbft_engine *e, const struct qround *qr, uint8_t type,
                    unsigned sender);

/* Values. */
const struct qval *qval_find(const struct qinst *in, const uint8_t hash[QBFT_HASH_LEN]);
void qval_add(struct qinst *in, const uint8_t hash[QBFT_HASH_LEN], const uint8_t *data, size_t len,
              uint64_t round);
void qval_set(struct qval *v, const uint8_t hash[QBFT_HASH_LEN], const uint8_t *data, size_t len);
/* A new input (hash checked by the caller); the old one, if any, becomes a known value with its
 * verdict. */
void qval_replace_input(struct qinst *in, const uint8_t hash[QBFT_HASH_LEN], const uint8_t *data,
                        size_t len);
/* Record the host's verdict on a value the instance holds (nothing if it holds none). */
void qval_mark(struct qinst *in, const uint8_t hash[QBFT_HASH_LEN], enum qcheck check);

/* Signatures. */
void qsig_set(struct qsig *s, const uint8_t *body, size_t body_len, const uint8_t *sig);
bool qsig_check(struct qbft_engine *e, unsigned signer, const uint8_t digest[SHA256_LEN],
                const uint8_t sig[SIG_LEN]);
void qsig_remember(struct qbft_engine *e, const uint8_t digest[SHA256_LEN],
                   const uint8_t sig[SIG_LEN]);

/* Messages for instances that have not started: append (bounded per peer), or take them all
 * (in arrival order; the caller frees each with free()). */
int qpend_add(struct qbft_engine *e, struct qinst *in, const uint8_t *msg, size_t len,
              unsigned from);
struct qpend *qpend_take(struct qbft_engine *e, struct qinst *in);

void qevent(struct qbft_engine *e, const struct qinst *in, enum qbft_event ev, const char *label,
            uint64_t round);

#endif
