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
 *
 *   intent  = [dtype, height, round, mtype, msg bin]
 *   duty    = [dtype, height, payload bin, trace_id str, accepted_ms]
 *   decided = [dtype, height, round, value bin, [cert bin...], [[index, sig]...], tss bin,
 *              decided_ms]
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

struct sdb_bytes {
    const uint8_t *p;
    uint32_t len;
};

struct sdb_intent_key {
    uint8_t dtype; /* enum duty_type (proto/duty.h) */
    uint64_t height;
    uint32_t round;
    uint8_t mtype; /* enum qbft_type (proto/qbft.h): QBFT_PRE_PREPARE .. QBFT_DECIDED */
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
