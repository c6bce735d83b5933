/*
 * cluster: n QBFT nodes in one process, each a real engine with real keys and signatures, with
 * the host side a worker would provide: a persistent intent store and decision store (they
 * survive a crash), accepted duties, and an outbox that holds a node's messages until the engine
 * call returns (what the real worker does until the WAL append is durable). A crash can be
 * injected between the intent_put and the send: the messages are lost, the intents are not.
 *
 * The cluster also checks the safety properties as things happen:
 *   - no honest node emits two different signed bodies for one (instance, round, type), across
 *     crashes;
 *   - agreement: honest nodes decide one value per instance;
 *   - validity: a decided value was proposed by some node (honest input or Byzantine value);
 *   - every certificate reported verifies against the cluster's keys.
 * Violations are counted and the first one described.
 *
 * Delivery is pluggable: the simulator schedules messages with delays and faults; unit tests
 * and the benchmark use the built-in FIFO queue (cl_run).
 */
#ifndef AEQUA_TESTS_SIM_CLUSTER_H
#define AEQUA_TESTS_SIM_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/crypto.h"
#include "workers/qbft/qbft.h"

#define CL_LABELS 9 /* verdict names, by enum qbft_verdict */

struct cluster;

struct cl_opts {
    unsigned n;
    uint64_t seed;
    bool stub_crypto; /* sign/verify replaced by a digest copy (benchmark) */
    /* Real signatures, each (digest, signature, signer) verified once for all nodes: the same
     * verdicts as every node verifying for itself, several times faster for long runs. */
    bool shared_verify;
    bool no_checks; /* skip the property checks (benchmark) */
    uint64_t round_timeout_ms;
    uint64_t round_timeout_max_ms;
    enum qbft_timer_kind timer;
    unsigned decided_resends;
    uint64_t round_window;
    size_t sig_cache;
    /* 0: the engine's default */
    uint64_t retention;
    uint64_t height_window;
    size_t buffer_msgs_per_peer;
};
void cl_opts_default(struct cl_opts *o, unsigned n);

struct cl_intent {
    struct cl_intent *next; /* hash chain */
    struct qbft_id id;
    uint64_t round;
    uint8_t type;
    size_t len;
    uint8_t *bytes;
};

struct cl_decision {
    struct qbft_id id;
    uint8_t hash[QBFT_HASH_LEN];
    uint64_t round;
    uint8_t *value;
    size_t len;
    uint8_t *cert;
    size_t cert_len;
};

struct cl_duty {
    struct qbft_id id;
    uint8_t *value;
    size_t len;
    uint64_t start_ms;
};

struct cl_out {
    unsigned to; /* CL_ALL: every other node */
    uint8_t type;
    size_t len;
    uint8_t *bytes;
};
#define CL_ALL UINT32_MAX

struct cl_node {
    struct cluster *c;
    unsigned index;
    struct node_key key;
    struct qbft_engine *eng;
    bool alive;
    bool honest;
    /* persistent ("disk") */
    struct cl_intent **ibuckets;
    size_t nibuckets, nintents;
    struct cl_decision *decisions;
    size_t ndecisions;
    struct cl_duty *duties;
    size_t nduties;
    /* volatile */
    struct cl_out *outbox;
    size_t nout, capout;
    bool crash_before_send;  /* crash at the next flush: put done, messages lost */
    bool store_down;         /* intent store unavailable */
    bool abstain_restored;   /* pessimistic recovery on restart */
    uint8_t crash_after_put; /* a type: crash between the put of such an intent and its send */
    /* observations */
    uint64_t verdicts[CL_LABELS];
    char last_type[16], last_result[16];
    uint64_t equivocations;
    uint8_t evidence[2][SHA256_LEN];
    uint64_t abstains;
    uint64_t signs;
    uint64_t restarts;
    uint64_t wal_guards;
    uint64_t events[QBFT_EV_BUFFER_DROP + 1];
    char event_labels[QBFT_EV_BUFFER_DROP + 1][16]; /* the last label of each kind */
};

typedef void (*cl_send_fn)(void *ctx, struct cluster *c, unsigned from, unsigned to, uint8_t type,
                           const uint8_t *bytes, size_t len);
typedef bool (*cl_validate_fn)(void *ctx, const struct qbft_id *id, const uint8_t *v, size_t len);

struct cl_msg {
    unsigned from, to;
    uint8_t type;
    size_t len;
    uint8_t *bytes;
};

#define CL_VERIFIED 4096
struct cl_verified {
    uint8_t digest[SHA256_LEN];
    uint8_t sig[SIG_LEN];
    uint8_t signer;
    bool used, ok;
};

struct cluster {
    struct cl_opts o;
    unsigned n;
    uint8_t (*pubkeys)[PUBKEY_LEN];
    uint8_t lock_hash[SHA256_LEN];
    struct cl_node *nodes;
    uint64_t now;
    cl_send_fn send; /* NULL: the FIFO queue below */
    void *send_ctx;
    cl_validate_fn validate;
    void *validate_ctx;
    /* FIFO queue */
    struct cl_msg *q;
    size_t qhead, qlen, qcap;
    /* checker state */
    struct cl_emit **ebuckets;
    size_t nebuckets, nemits;
    uint8_t (*values)[SHA256_LEN]; /* every proposed value's hash */
    size_t nvalues, capvalues;
    struct cl_decision *first; /* first honest decision per instance */
    size_t nfirst, capfirst;
    uint64_t violations;
    char violation[512];
    uint64_t decisions;           /* honest decisions reported */
    struct cl_verified *verified; /* shared_verify: direct-mapped, CL_VERIFIED entries */
};

struct cluster *cl_new(const struct cl_opts *o);
void cl_free(struct cluster *c);

/* Node operations; each flushes the node's outbox through the send hook afterwards. */
int cl_start(struct cluster *c, unsigned i, const struct qbft_id *id, const void *value,
             size_t len);
enum qbft_verdict cl_deliver(struct cluster *c, unsigned to, unsigned from, const uint8_t *bytes,
                             size_t len);
void cl_tick(struct cluster *c, unsigned i);
void cl_crash(struct cluster *c, unsigned i);
void cl_restart(struct cluster *c, unsigned i);
uint64_t cl_next_deadline(const struct cluster *c, unsigned i);

/* Sign a body with node i's key (Byzantine crafting, tests). */
void cl_sign(const struct cluster *c, unsigned i, const uint8_t *body, size_t len,
             uint8_t sig[SIG_LEN]);
/* Record a value some node proposes (validity). */
void cl_register_value(struct cluster *c, const void *value, size_t len);

const struct cl_decision *cl_decision(const struct cluster *c, unsigned i,
                                      const struct qbft_id *id);
const struct cl_intent *cl_intent_find(const struct cl_node *nd, const struct qbft_id *id,
                                       uint64_t round, uint8_t type);
/* Store an intent directly (tests: an intent the engine must honour). */
void cl_intent_put(struct cl_node *nd, const struct qbft_id *id, uint64_t round, uint8_t type,
                   const uint8_t *bytes, size_t len);

/* FIFO delivery: deliver queued messages in order until the queue is empty or max messages
 * were handled; filter (may be NULL) returns false to drop one. Returns messages handled. */
typedef bool (*cl_filter_fn)(void *ctx, const struct cl_msg *m);
size_t cl_run(struct cluster *c, cl_filter_fn filter, void *ctx, size_t max);
/* Drop everything queued. */
void cl_drain(struct cluster *c);
/* Advance time to the earliest deadline among live nodes (at most `until`), tick, run. Returns
 * false when no node has a deadline before `until`. */
bool cl_advance(struct cluster *c, uint64_t until, cl_filter_fn filter, void *ctx);
/* Do all honest nodes (crashed ones included) hold a decision for id? */
bool cl_all_decided(const struct cluster *c, const struct qbft_id *id);

/* Build, sign and encode a message as node i (tests and Byzantine nodes). */
void cl_craft(const struct cluster *c, unsigned i, const struct qbft_body *b, const void *value,
              size_t vlen, const struct qbft_sigref *just, size_t njust, struct buf *out);

#endif
