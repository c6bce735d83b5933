/*
 * cluster: n QBFT nodes in one process, each the QBFT worker's own core (workers/qbft/duties.h:
 * the engine with real keys and signatures, the intent discipline, decisions, seals, reload)
 * behind the same host interface the worker wires to its mailbox. StateDB is an in-memory
 * stand-in that survives a crash: it applies every request when the node sends it (a separate
 * process would) and answers it when the node's call returns, in order — so a node holds its
 * messages until their intents are acknowledged durable, as the worker does. A crash can be
 * injected between an intent's append and its acknowledgement: the messages are lost, the
 * intent is not. A restarted node reloads through HELLO, LIST_DUTIES and LOAD_INTENTS.
 *
 * The cluster also checks the safety properties as things happen:
 *   - no honest node emits two different signed bodies for one (instance, round, type), across
 *     crashes, nor appends a second, different intent for one;
 *   - agreement: honest nodes decide one value per instance;
 *   - validity: a decided value was proposed by some node (honest input or Byzantine value);
 *   - every certificate reported verifies against the cluster's keys.
 * Violations are counted and the first one described.
 *
 * Delivery is pluggable: the simulator schedules messages with delays and faults; unit tests
 * and the benchmark use the built-in FIFO queue (cl_run). Seals travel like consensus messages,
 * with type CL_SEAL.
 */
#ifndef AEQUA_TESTS_SIM_CLUSTER_H
#define AEQUA_TESTS_SIM_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/crypto.h"
#include "workers/qbft/duties.h"

#define CL_LABELS 9 /* verdict names, by enum qbft_verdict */
#define CL_SEAL   0 /* the type of a seal on the wire (QBFT message types start at 1) */

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
    /* Fresh proposals judged by validate (every duty type: builder_duties = all); NULL: none. */
    enum qbft_validity (*validate)(void *ctx, const struct qbft_id *id, const uint8_t *v,
                                   size_t len);
    void *validate_ctx;
    uint32_t sdb_page; /* StateDB stand-in: entries per list page (0: one page) */
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
    uint64_t seal_mask; /* seals merged into the record */
    uint8_t (*seals)[SIG_LEN];
};

struct cl_duty {
    struct qbft_id id;
    uint8_t *value;
    size_t len;
    uint64_t start_ms; /* accepted_ms */
};

struct cl_out {
    unsigned to;  /* CL_ALL: every other node */
    uint8_t type; /* CL_SEAL for a seal */
    size_t len;
    uint8_t *bytes;
};
#define CL_ALL UINT32_MAX

struct cl_reply; /* a StateDB answer waiting for the node's call to return */

struct cl_node {
    struct cluster *c;
    unsigned index;
    struct node_key key;
    struct duties *d;
    struct qbft_engine *eng; /* duties_engine(d), for tests */
    struct qbft_host tap;    /* the engine's reports, observed below */
    bool alive;
    bool ready; /* the reload finished */
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
    struct cl_reply *replies; /* FIFO */
    size_t rhead, nrep, caprep;
    int submitted;           /* the last DUTY_SUBMIT's answer (enum duty_result), -1 none */
    bool crash_before_send;  /* crash at the next flush: put done, messages lost */
    bool store_down;         /* StateDB unreachable: requests cannot leave */
    bool store_fallback;     /* StateDB says it fell back to a checkpoint (HELLO) */
    uint8_t crash_after_put; /* a type: crash between the append of such an intent and its ack */
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
    uint64_t reports[DUTIES_REPORT_UNDECODABLE + 1];
};

/* type: the QBFT message type, or CL_SEAL. */
typedef void (*cl_send_fn)(void *ctx, struct cluster *c, unsigned from, unsigned to, uint8_t type,
                           const uint8_t *bytes, size_t len);

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
    struct cl_verified *verified; /* seals, and shared_verify: direct-mapped, CL_VERIFIED */
};

struct cluster *cl_new(const struct cl_opts *o);
void cl_free(struct cluster *c);

/* Node operations; each answers the node's StateDB requests, then flushes its outbox through
 * the send hook. cl_start posts a duty (DUTY_SUBMIT): 0 when accepted; a node that is down gets
 * it straight into its store (as if accepted just before the crash). */
int cl_start(struct cluster *c, unsigned i, const struct qbft_id *id, const void *value,
             size_t len);
/* A consensus message: the engine's verdict (QBFT_ERROR when the node is down or reloading). */
enum qbft_verdict cl_deliver(struct cluster *c, unsigned to, unsigned from, const uint8_t *bytes,
                             size_t len);
void cl_deliver_seal(struct cluster *c, unsigned to, unsigned from, const uint8_t *bytes,
                     size_t len);
void cl_tick(struct cluster *c, unsigned i);
/* The host's late verdict on a proposed value (cl_opts.validate answered pending). */
int cl_value_checked(struct cluster *c, unsigned i, const struct qbft_id *id,
                     const uint8_t hash[QBFT_HASH_LEN], bool valid);
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
/* Store an intent directly in the node's StateDB (tests). */
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
