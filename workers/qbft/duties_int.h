/*
 * duties_int: the state of the duties module (duties.h), shared by its two files:
 *   duties.c  admission, the intent discipline, decisions, seals, views, the reload, timers
 *   blocks.c  what only block instances (the builder's duty types) do: input values from the
 *             builder, proposals judged by it, the proposer lock, decided blocks handed to it,
 *             and catching up on blocks from peers (aequa/sync/v1)
 * Not part of the module's interface.
 */
#ifndef AEQUA_WORKERS_QBFT_DUTIES_INT_H
#define AEQUA_WORKERS_QBFT_DUTIES_INT_H

#include "workers/qbft/duties.h"
#include "workers/qbft/intents.h"

#define INST_BUCKETS 4096

#define DLOG(d, level, event, ...)                                                                 \
    duties_log((d), (level), (event), (const struct log_kv[]){__VA_ARGS__, LOG_END})

#define DUTIES_VALS       8    /* block values judged per instance */
#define DUTIES_SYNC_MS    2000 /* a sync request unanswered this long goes to the next peer */
#define DUTIES_SYNC_SERVE 16   /* sync requests of peers served at once */

/* A block value judged (or built) here: the builder's verdict and the block's parent. */
enum dval_verdict { DV_PENDING, DV_BEHIND, DV_VALID, DV_INVALID };
struct dval {
    uint8_t hash[SHA256_LEN];
    uint8_t parent[SHA256_LEN];
    uint8_t verdict;  /* enum dval_verdict */
    struct buf bytes; /* kept while the verdict is pending or behind (asked again) */
    struct dval *next;
};

struct early_seal {
    struct seal s;
    struct early_seal *next;
};

/* An instance as the node sees it (the engine keeps the protocol state). */
struct dinst {
    struct qbft_id id;
    uint64_t start_mono_ms;
    uint64_t decided_mono_ms; /* when it decided here (the decided list's age) */
    bool decided;
    bool persisted;      /* PUT_DECIDED acknowledged durable */
    bool persisting;     /* a PUT_DECIDED is in flight */
    bool open;           /* counted in nopen */
    bool awaiting_input; /* a builder duty: its input value was asked for */
    uint8_t value_hash[SHA256_LEN];
    struct buf value; /* once decided */
    struct buf cert;
    uint64_t decided_round;
    uint64_t seal_mask;          /* operators whose seal we hold (verified) */
    uint8_t (*seals)[SIG_LEN];   /* once decided: one per operator */
    struct early_seal *early;    /* verified seals that arrived before this node decided */
    struct buf dmsg;             /* this node's DECIDED, held until the decision is durable */
    uint64_t dmsg_to;            /* peers it waits for */
    bool has_tss;                /* the group signature stored with it (duties_set_tss) */
    struct tss_record tss;       /* (has_tss) */
    struct dinst *next;          /* hash chain */
    struct dinst *older, *newer; /* decided list, oldest first */
    /* block instances (blocks.c) */
    bool explicit_duty; /* a POSTed duty: its block may be empty */
    bool started;       /* the engine runs it (with an input or joined) */
    bool deferred;      /* waits for the block instance below it (blocks_defer) */
    bool self_pending;  /* a duty of our own (slot, join) is being persisted */
    struct dval *vals;  /* values judged or built here, newest first */
    unsigned nvals;
    bool has_own;                    /* the builder gave it an input block (own_*) */
    uint8_t own_hash[SHA256_LEN];    /* that block */
    uint8_t own_parent[SHA256_LEN];  /* its parent: the builder's head when it built it */
    bool refreshing;                 /* the head moved past own_parent: a new input is asked */
    bool voted;                      /* this node PREPAREd or COMMITted here: its lock */
    bool committed;                  /* this node COMMITted here: the lock cannot move down */
    bool abandoned;                  /* the lock moved to a lower instance: abstains here */
    uint8_t vote_parent[SHA256_LEN]; /* the parent of the block it voted for */
    struct dinst *vnext;             /* the voted list */
};

/* What a StateDB request was for (its token). */
enum dreq_kind {
    R_HELLO,
    R_LIST_DUTIES,
    R_LOAD_INTENTS,
    R_PUT_DUTY,
    R_APPEND,
    R_PUT_DECIDED,
    R_VIEW_DECIDED,
    R_VIEW_DUTY,
    R_LOOKUP,
    R_REPOST,     /* a duty posted again that no instance in memory holds: decided already? */
    R_SELF_DUTY,  /* a block duty of our own (slot, join) */
    R_SYNC_SERVE, /* the next block of the chain, for a peer catching up */
};

struct dreq {
    enum dreq_kind kind;
    struct dreq *prev, *next; /* outstanding requests */
    struct ikey k;            /* R_APPEND */
    struct qbft_id id;        /* R_PUT_DUTY, R_PUT_DECIDED, views, R_LOOKUP */
    struct duties_asker who;  /* R_PUT_DUTY, views */
    struct buf payload;       /* R_PUT_DUTY */
    unsigned peer;            /* R_SYNC_SERVE */
};

struct loaded_duty {
    struct qbft_id id;
    struct buf payload;
    uint64_t accepted_ms;
    struct loaded_duty *next;
};

struct duties {
    struct duties_config cfg;
    struct duties_host host;
    uint8_t (*pubkeys)[PUBKEY_LEN];
    struct qbft_engine *eng;
    struct icache *intents;
    struct qbft_msg *scratch; /* decoding this node's and peers' messages */
    struct dinst *inst[INST_BUCKETS];
    struct dinst *decided_head, *decided_tail;
    size_t ndecided, nopen, nearly;
    struct dreq *reqs;
    /* StateDB and the reload */
    bool loaded;   /* every duty and intent reloaded: READY */
    bool sdb_up;   /* StateDB answered the last request */
    bool fallback; /* StateDB recovered from a checkpoint (SPEC §7.5) */
    bool probing;  /* a HELLO is in flight */
    uint64_t recovered_ms;
    uint64_t abstain_below[DUTY_TYPES]; /* abstain for heights < this after a fallback */
    uint64_t max_height[DUTY_TYPES];    /* highest instance started or reloaded */
    bool has_max[DUTY_TYPES];
    struct ientry **reloaded; /* intents reloaded at start, in key order */
    size_t nreloaded, reloaded_cap;
    struct loaded_duty *loaded_duties;
    struct qbft_id *lookups; /* decisions looked up in StateDB */
    size_t nlookups;
    /* timers */
    bool retry_intents, retry_decided, retry_hello;
    uint64_t retry_at, sweep_at;
    /* block instances (blocks.c) */
    bool head_known, behind;
    uint64_t head_height;
    uint8_t head[SHA256_LEN];
    struct dinst *voted;       /* instances holding this node's lock (undecided or not yet) */
    struct qbft_id *abstain_q; /* abstentions decided inside an engine call, done after it */
    size_t nabstain, abstain_cap;
    bool sync_on; /* a sync request is out */
    unsigned sync_peer;
    uint64_t sync_deadline; /* UINT64_MAX when none */
    unsigned serving;       /* peers' sync requests in StateDB */
};

/* ---- blocks.c ---- */
bool blocks_duty(const struct duties *d, uint8_t duty);
/* the engine's validate_value for block instances */
enum qbft_validity blocks_validate(struct duties *d, const struct qbft_id *id,
                                   const uint8_t hash[QBFT_HASH_LEN], const uint8_t *value,
                                   size_t len);
/* intent_put of a PREPARE or COMMIT in a block instance: 0 may vote (the lock is recorded), -1
 * not now (withheld: the engine asks again) */
int blocks_vote(struct duties *d, const struct qbft_id *id, uint64_t round, uint8_t type,
                const uint8_t *bytes, size_t len);
/* May the sends held behind this durable intent leave (its lock record is durable too)? */
bool blocks_may_send(struct duties *d, const struct ientry *e);
/* A lock record became durable: release the votes of its round that waited for it. */
void blocks_lock_durable(struct duties *d, const struct ientry *lock);
/* A reloaded intent of a block instance (the lock, a COMMIT). */
void blocks_reloaded(struct duties *d, const struct ientry *e);
/* This node's own input value (built by its builder). */
void blocks_own_value(struct duties *d, struct dinst *in, const uint8_t *value, size_t len);
/* duties_input for an instance whose input is being refreshed (in->refreshing). */
int blocks_new_input(struct duties *d, struct dinst *in, const uint8_t *value, size_t len);
/* Should this block instance wait for a lower one before it is built and started? (It then is
 * marked deferred, and blocks_release starts it when its turn comes.) */
bool blocks_defer(struct duties *d, struct dinst *in);
/* Start the lowest deferred block instance when nothing below it runs any more. */
void blocks_release(struct duties *d);
/* A decision is durable. */
void blocks_decided(struct duties *d, struct dinst *in);
/* A peer's message for a block instance that does not run here: join it. */
void blocks_join(struct duties *d, const struct qbft_id *id);
/* Admission of a POSTed block duty: NULL, or why not (and the answer). */
const char *blocks_admission(const struct duties *d, uint64_t height, enum duty_result *res);
/* An instance leaves memory. */
void blocks_forget(struct duties *d, struct dinst *in);
void blocks_flush(struct duties *d); /* deferred abstentions (after every engine call) */
/* A peer (re)joined: ask it for blocks this node missed. */
void blocks_peer_up(struct duties *d, unsigned peer);
void blocks_tick(struct duties *d); /* sync deadlines */
uint64_t blocks_deadline(const struct duties *d);
void blocks_on_self_duty(struct duties *d, struct dreq *q, const struct sdb_reply *r);
void blocks_on_sync_serve(struct duties *d, struct dreq *q, const struct sdb_reply *r);

void duties_log(struct duties *d, enum log_level level, const char *event, const struct log_kv *kv);
uint64_t duties_mono(const struct duties *d);
struct dinst *duties_inst_find(const struct duties *d, const struct qbft_id *id);
struct dinst *duties_inst_get(struct duties *d, const struct qbft_id *id);
void duties_inst_close(struct duties *d, struct dinst *in);
bool duties_builder_duty(const struct duties *d, uint8_t duty);
void duties_arm_retry(struct duties *d);
struct dreq *duties_dreq_new(enum dreq_kind kind);
/* Send a StateDB request; q is the token (freed when it could not leave: -1). */
int duties_request(struct duties *d, const struct sdb_req *r, struct dreq *q);
void duties_sdb_status(struct duties *d, bool up);
void duties_send_msg(struct duties *d, uint32_t peer, uint8_t type, const uint8_t *bytes,
                     size_t len);
void duties_append_intent(struct duties *d, struct ientry *e);
void duties_engine_start(struct duties *d, struct dinst *in, const uint8_t *value, size_t len,
                         uint64_t start_mono);
void duties_start_instance(struct duties *d, const struct qbft_id *id, const uint8_t *payload,
                           size_t len, uint64_t start_mono);

#endif
