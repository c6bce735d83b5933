/*
 * statedb family (0x03xx): requests to the StateDB worker, the node's only database owner
 * (SPEC §7.5, §8), and its replies.
 *
 * Every request is answered by the reply type that follows it (request + 1). Every reply body is a
 * msgpack array that starts with [status, durable, ...]: status says what happened (enum
 * sdb_status) and durable is true when everything the reply depends on is synced to disk.
 *
 * Bodies are msgpack arrays of fixed shape (below, per type). Decoding is bounded and strict:
 * exact array lengths, every size and count checked before use, enumerations in range, no trailing
 * bytes. Decoded structures are zero-copy: their byte pointers point into the decoded body, which
 * must outlive them; arrays (certificates, seals, list entries) are allocated and released with
 * sdb_req_free() / sdb_reply_free().
 *
 *   request                         body
 *   HELLO                           [generation]
 *   APPEND_INTENT                   [dtype, height, round, mtype, msg bin]
 *   LOAD_INTENTS                    [after nil|[dtype, height, round, mtype], max_bytes]
 *   PUT_DUTY                        [dtype, height, payload bin, trace_id str, accepted_ms]
 *   GET_DUTY, GET_DECIDED           [dtype, height]
 *   LIST_DUTIES                     [after nil|[dtype, height], undecided_only, max_bytes]
 *   PUT_DECIDED                     [dtype, height, round, value bin, [cert bin...],
 *                                    [[index, sig bin64]...], tss bin, decided_ms]
 *   PRUNE                           [dtype, below_height, include_undecided]
 *   ITERATE                         [cf, after nil|bin, max_entries, max_bytes]
 *   PUT_TXS                         [[[hash bin32, record bin]...], [hash bin32...]]
 *   APPLY_BLOCK                     [height, hash bin32, parent bin32,
 *                                    [[from bin20, next nonce]...], [tx hash bin32...]]
 *   GET_BLOCK                       [mode, height]          enum sdb_block_mode
 *   GET_TX                          [hash bin32]
 *   CHAIN_HEAD                      []
 *   SET_TSS                         [dtype, height, tss bin]
 *
 *   reply (all start with status, durable)
 *   HELLO_REP            [.., fallback, recovered_ms, checkpoint_ms, detail str]
 *   APPEND_INTENT_REP    [.., stored nil|bin]       stored: the existing bytes when REFUSED
 *   LOAD_INTENTS_REP     [.., [intent...], more]
 *   PUT_DUTY_REP         [.., nil|duty]             the stored duty when DUPLICATE or CONFLICT
 *   GET_DUTY_REP         [.., nil|duty]
 *   LIST_DUTIES_REP      [.., [duty...], more]
 *   PUT_DECIDED_REP      [.., nil|decided]          the stored record when CONFLICT
 *   GET_DECIDED_REP      [.., nil|decided]
 *   PRUNE_REP            [.., records deleted, more]
 *   ITERATE_REP          [.., [[key bin, value bin]...], more]
 *   PUT_TXS_REP          [..]
 *   APPLY_BLOCK_REP      [.., nil|head]             head: after the apply, or as found (CONFLICT)
 *   GET_BLOCK_REP        [.., nil|[height, hash bin32, decided, in_chain]]
 *   GET_TX_REP           [.., nil|height]
 *   CHAIN_HEAD_REP       [.., nil|head]             head = [height, hash bin32]
 *   SET_TSS_REP          [..]
 *
 *   intent  = [dtype, height, round, mtype, msg bin]
 *   duty    = [dtype, height, payload bin, trace_id str, accepted_ms]
 *   decided = [dtype, height, round, value bin, [cert bin...], [[index, sig]...], tss bin,
 *              decided_ms]
 *
 * The sequencer's requests (SPEC §9). The builder owns the pool and the chain's rules; StateDB
 * stores them. PUT_TXS writes pool records (opaque bytes of the builder's plugin) and deletes
 * others in one batch. APPLY_BLOCK makes the decided block of (proposer, height) the chain's new
 * head: the decided record must exist and its value hash to `hash`, `parent` must be the current
 * head (32 zero bytes for the first block) and `height` above it; then the block index, the tx
 * index, the senders' next nonces and the removal of the included txs from the pool are one
 * batch. The block's bytes, certificate and seals stay in its decided record, which PRUNE never
 * removes once the block is in the chain.
 *
 * SET_TSS sets the threshold signature (proto/tss.h's record) of an existing decided record: OK
 * when it was set, DUPLICATE when the same bytes were there, CONFLICT when another signature is
 * there (the first one stays: both are valid signatures of the instance, made in two attempts),
 * NOT_FOUND without a decided record. PUT_DECIDED never replaces one either (record.h).
 *
 * List replies are paged: they stop before exceeding the requested byte budget (capped at
 * SDB_REPLY_MAX, far below IPC_MAX_MSG) but always carry at least one entry when one remains;
 * `more` says whether to ask again with the last entry as the new `after` (exclusive).
 */
#ifndef AEQUA_PROTO_STATEDB_H
#define AEQUA_PROTO_STATEDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "proto/duty.h"
#include "proto/envelope.h"
#include "proto/qbft.h"

enum sdb_type {
    SDB_HELLO = 0x0301,             /* qbft -> statedb (request): generation */
    SDB_HELLO_REP = 0x0302,         /* statedb -> qbft (reply): recovery status (SPEC §7.5) */
    SDB_APPEND_INTENT = 0x0303,     /* qbft -> statedb (request): one signed message */
    SDB_APPEND_INTENT_REP = 0x0304, /* statedb -> qbft (reply): ok | duplicate | refused+stored */
    SDB_LOAD_INTENTS = 0x0305,      /* qbft -> statedb (request): page of undecided intents */
    SDB_LOAD_INTENTS_REP = 0x0306,  /* statedb -> qbft (reply): intents, more */
    SDB_PUT_DUTY = 0x0307,          /* qbft -> statedb (request): an accepted duty */
    SDB_PUT_DUTY_REP = 0x0308,      /* statedb -> qbft (reply): ok | duplicate | conflict */
    SDB_GET_DUTY = 0x0309,          /* qbft, tool -> statedb (request): (type, height) */
    SDB_GET_DUTY_REP = 0x030a,      /* statedb -> qbft, tool (reply): duty | not found */
    SDB_LIST_DUTIES = 0x030b,       /* qbft, tool -> statedb (request): page of duties */
    SDB_LIST_DUTIES_REP = 0x030c,   /* statedb -> qbft, tool (reply): duties, more */
    SDB_PUT_DECIDED = 0x030d,       /* qbft -> statedb (request): value, certificate, seals */
    SDB_PUT_DECIDED_REP = 0x030e,   /* statedb -> qbft (reply): ok | duplicate | conflict */
    SDB_GET_DECIDED = 0x030f,       /* qbft, tool -> statedb (request): (type, height) */
    SDB_GET_DECIDED_REP = 0x0310,   /* statedb -> qbft, tool (reply): decided | not found */
    SDB_PRUNE = 0x0311,             /* qbft -> statedb (request): drop old instances */
    SDB_PRUNE_REP = 0x0312,         /* statedb -> qbft (reply): how many, more */
    SDB_ITERATE = 0x0313,           /* tool -> statedb (request): raw page of one column family */
    SDB_ITERATE_REP = 0x0314,       /* statedb -> tool (reply): key/value pairs, more */
    SDB_PUT_TXS = 0x0315,           /* builder -> statedb (request): pool records put, deleted */
    SDB_PUT_TXS_REP = 0x0316,       /* statedb -> builder (reply): ok */
    SDB_APPLY_BLOCK = 0x0317, /* builder -> statedb (request): a decided block joins the chain */
    SDB_APPLY_BLOCK_REP = 0x0318, /* statedb -> builder (reply): ok | duplicate | conflict, head */
    SDB_GET_BLOCK = 0x0319,       /* api, builder, qbft -> statedb (request): height or latest */
    SDB_GET_BLOCK_REP = 0x031a,   /* statedb -> api, builder, qbft (reply): block | not found */
    SDB_GET_TX = 0x031b,          /* api, builder -> statedb (request): tx hash */
    SDB_GET_TX_REP = 0x031c,      /* statedb -> api, builder (reply): including height */
    SDB_CHAIN_HEAD = 0x031d,      /* builder, qbft -> statedb (request): empty */
    SDB_CHAIN_HEAD_REP = 0x031e,  /* statedb -> builder, qbft (reply): head | none */
    SDB_SET_TSS = 0x031f,         /* qbft -> statedb (request): a decided record's signature */
    SDB_SET_TSS_REP = 0x0320,     /* statedb -> qbft (reply): ok | duplicate | conflict | none */
};

/* The reply type of a request type (0 if t is not a statedb request). */
uint16_t sdb_reply_type(uint16_t t);
/* "append_intent", ... for logs; NULL for an unknown type. */
const char *sdb_type_name(uint16_t t);

enum sdb_status {
    SDB_OK = 0,        /* done (written now, or read) */
    SDB_DUPLICATE = 1, /* identical data was already stored: nothing written, still a success */
    SDB_REFUSED = 2,   /* intent: different bytes exist under this key; the reply carries them */
    SDB_CONFLICT = 3,  /* duty/decided: a different payload/value exists; the reply carries it */
    SDB_NOT_FOUND = 4, /* get: nothing stored */
    SDB_ERROR = 5,     /* the database failed; nothing of this request is stored */
    SDB_STATUS_COUNT
};
const char *sdb_status_name(unsigned s);

/* Column families, as numbered on the wire (ITERATE). */
enum sdb_cf {
    SDB_CF_META,
    SDB_CF_WAL,
    SDB_CF_DUTIES,
    SDB_CF_DECIDED,
    SDB_CF_MEMPOOL,
    SDB_CF_CHAIN
};
#define SDB_CF_COUNT 6
const char *sdb_cf_name(unsigned cf); /* "meta" ... or NULL */

/* Bounds (inclusive). */
#define SDB_HEIGHT_MAX (1ull << 62)
#define SDB_INTENT_MAX                                                                             \
    (2u << 20) /* one signed consensus message (a PRE-PREPARE carries a value)                     \
                */
#define SDB_PAYLOAD_MAX    (1u << 20) /* a duty payload (the HTTP body is at most 1 MiB) */
#define SDB_VALUE_MAX      (2u << 20) /* a decided value */
#define SDB_CERT_MAX       256        /* messages in a commit certificate */
#define SDB_CERT_MSG_MAX   (64u << 10)
#define SDB_SEALS_MAX      256 /* one per operator; indices 0..255 */
#define SDB_SIG_LEN        64
#define SDB_TSS_MAX        128
#define SDB_KEY_MAX        64 /* raw keys in ITERATE */
#define SDB_DETAIL_MAX     1024
#define SDB_DECIDED_MAX    (3u << 20)                    /* a whole PUT_DECIDED body */
#define SDB_REPLY_MAX      (4u << 20)                    /* byte budget of one list reply */
#define SDB_BODY_MAX       (SDB_REPLY_MAX + (64u << 10)) /* no statedb body is larger */
#define SDB_ITER_MAX_ITEMS 100000
#define SDB_HASH_LEN       32
#define SDB_ADDR_LEN       20
#define SDB_TX_RECORD_MAX  (64u << 10) /* one pool record */
#define SDB_TXS_MAX        8192        /* puts plus deletes in one PUT_TXS */
#define SDB_BLOCK_TXS_MAX  65536       /* txs (and senders) of one block */

struct sdb_bytes {
    const uint8_t *p;
    uint32_t len;
};

struct sdb_intent_key {
    uint8_t dtype; /* enum duty_type (proto/duty.h) */
    uint64_t height;
    uint32_t round;
    uint8_t mtype; /* enum qbft_type (proto/qbft.h), or QBFT_INTENT_LOCK */
};

struct sdb_intent {
    struct sdb_intent_key k;
    struct sdb_bytes msg; /* the exact signed message bytes */
};

struct sdb_duty {
    uint8_t dtype;
    uint64_t height;
    struct sdb_bytes payload; /* canonical payload bytes */
    char trace_id[TRACE_ID_MAX + 1];
    uint64_t accepted_ms; /* wall clock when the node accepted it */
};

struct sdb_seal {
    uint32_t index; /* operator index */
    uint8_t sig[SDB_SIG_LEN];
};

struct sdb_decided {
    uint8_t dtype;
    uint64_t height;
    uint32_t round;
    struct sdb_bytes value;
    uint32_t ncert;
    struct sdb_bytes *cert; /* signed COMMIT messages */
    uint32_t nseals;
    struct sdb_seal *seals; /* strictly increasing index */
    struct sdb_bytes tss;   /* threshold signature; empty when none */
    uint64_t decided_ms;
};

struct sdb_kv {
    struct sdb_bytes key, value;
};

struct sdb_tx_put {
    uint8_t hash[SDB_HASH_LEN];
    struct sdb_bytes record;
};

struct sdb_nonce {
    uint8_t from[SDB_ADDR_LEN];
    uint64_t next; /* the sender's next nonce after the block */
};

/* The chain family's key prefixes (the layout is StateDB's; ITERATE shows raw keys, and the
 * builder reads the "n" records, one per account, at its start). */
#define SDB_CHAIN_HEAD_KEY  'h' /* "h" -> head: height u64 | block hash */
#define SDB_CHAIN_BLOCK_KEY 'b' /* "b" | height u64 -> block hash */
#define SDB_CHAIN_NONCE_KEY 'n' /* "n" | from (20) -> u64 next nonce */
#define SDB_CHAIN_TX_KEY    't' /* "t" | tx hash -> u64 height */

/* GET_BLOCK: which block. */
enum sdb_block_mode {
    SDB_BLOCK_AT = 0,           /* the chain's block at `height` */
    SDB_BLOCK_LATEST = 1,       /* the chain's head */
    SDB_BLOCK_NEXT = 2,         /* the chain's first block above `height` */
    SDB_BLOCK_DECIDED_NEXT = 3, /* the first decided proposer record above `height`, in the
                                 * chain or not (a builder finishing what it had not applied) */
    SDB_BLOCK_PREV = 4,         /* the chain's last block below `height` (the status page) */
};
#define SDB_BLOCK_MODES 5

struct sdb_head {
    uint64_t height;
    uint8_t hash[SDB_HASH_LEN];
};

struct sdb_block_apply {
    uint64_t height;
    uint8_t hash[SDB_HASH_LEN];
    uint8_t parent[SDB_HASH_LEN];
    uint32_t nnonces;
    struct sdb_nonce *nonces;
    uint32_t ntxs;
    uint8_t (*txs)[SDB_HASH_LEN]; /* included tx hashes (allocated by the decoder) */
};

struct sdb_req {
    uint16_t type;
    union {
        struct {
            uint64_t generation;
        } hello;
        struct sdb_intent append;
        struct {
            bool has_after;
            struct sdb_intent_key after;
            uint32_t max_bytes;
        } load;
        struct sdb_duty put_duty;
        struct {
            uint8_t dtype;
            uint64_t height;
        } get; /* GET_DUTY, GET_DECIDED */
        struct {
            bool has_after;
            uint8_t dtype;
            uint64_t height;
            bool undecided_only;
            uint32_t max_bytes;
        } list;
        struct sdb_decided put_decided;
        struct {
            uint8_t dtype;
            uint64_t below; /* instances with height < below */
            bool include_undecided;
        } prune;
        struct {
            uint8_t cf;
            bool has_after;
            struct sdb_bytes after;
            uint32_t max_entries;
            uint32_t max_bytes;
        } iter;
        struct {
            uint32_t nput;
            struct sdb_tx_put *put;
            uint32_t ndel;
            uint8_t (*del)[SDB_HASH_LEN]; /* allocated by the decoder */
        } txs;
        struct sdb_block_apply apply;
        struct {
            uint8_t mode; /* enum sdb_block_mode */
            uint64_t height;
        } block;
        struct {
            uint8_t hash[SDB_HASH_LEN];
        } tx;
        struct {
            uint8_t dtype;
            uint64_t height;
            struct sdb_bytes tss; /* 1..SDB_TSS_MAX bytes */
        } set_tss;
    } u;
};

struct sdb_hello_info {
    bool fallback;          /* this database was restored from a checkpoint (data may be missing) */
    uint64_t recovered_ms;  /* wall clock of that restore */
    uint64_t checkpoint_ms; /* when the restored checkpoint was taken */
    char detail[SDB_DETAIL_MAX + 1];
};

struct sdb_reply {
    uint16_t type;
    uint8_t status;
    bool durable;
    union {
        struct sdb_hello_info hello;
        struct {
            bool present;
            struct sdb_bytes msg;
        } stored; /* APPEND_INTENT_REP */
        struct {
            bool present;
            struct sdb_duty d;
        } duty; /* PUT_DUTY_REP, GET_DUTY_REP */
        struct {
            bool present;
            struct sdb_decided d;
        } decided; /* PUT_DECIDED_REP, GET_DECIDED_REP */
        struct {
            uint64_t pruned;
            bool more;
        } prune;
        struct {
            bool present;
            struct sdb_head h;
        } head; /* APPLY_BLOCK_REP, CHAIN_HEAD_REP */
        struct {
            bool present;
            uint64_t height;
            uint8_t hash[SDB_HASH_LEN];
            struct sdb_decided d; /* dtype proposer; value = the block's bytes */
            bool in_chain;        /* applied (always true but for DECIDED_NEXT) */
        } block;                  /* GET_BLOCK_REP */
        struct {
            bool present;
            uint64_t height;
        } tx; /* GET_TX_REP */
        struct {
            uint32_t n;
            bool more;
            union {
                struct sdb_intent *intents; /* LOAD_INTENTS_REP */
                struct sdb_duty *duties;    /* LIST_DUTIES_REP */
                struct sdb_kv *kvs;         /* ITERATE_REP */
            } v;
        } list;
    } u;
};

/* ---- requests ---- */
/* Encode r (r->type selects the body). */
void sdb_req_encode(struct buf *b, const struct sdb_req *r);
/* 0, or -1 if the body is not a well-formed request of this type. */
int sdb_req_decode(struct sdb_req *r, uint16_t type, const void *body, size_t len);
void sdb_req_free(struct sdb_req *r);

/* ---- replies ---- */
void sdb_reply_encode(struct buf *b, const struct sdb_reply *r);
int sdb_reply_decode(struct sdb_reply *r, uint16_t type, const void *body, size_t len);
void sdb_reply_free(struct sdb_reply *r);

/* Building blocks for replies assembled piece by piece (StateDB's list replies). */
void sdb_intent_encode(struct buf *b, const struct sdb_intent *in);
void sdb_duty_encode(struct buf *b, const struct sdb_duty *d);
void sdb_decided_encode(struct buf *b, const struct sdb_decided *d);
void sdb_kv_encode(struct buf *b, const struct sdb_kv *kv);
/* [status, durable, [n entries already encoded back to back in entries], more] */
void sdb_list_reply_encode(struct buf *b, uint8_t status, bool durable, uint32_t n,
                           const struct buf *entries, bool more);
/* The encoded size of an entry never exceeds this much more than its byte fields. */
#define SDB_ENTRY_OVERHEAD 64

#endif
