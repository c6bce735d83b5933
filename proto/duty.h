/*
 * duty family (0x05xx): the validator API asks the QBFT worker to accept a duty and to show an
 * instance (SPEC §7.6, §11.2). QBFT owns the duty lifecycle: it persists the duty in StateDB
 * before answering ACCEPTED, and starts or joins the instance.
 */
#ifndef AEQUA_PROTO_DUTY_H
#define AEQUA_PROTO_DUTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "proto/tss.h"

enum duty_msg_type {
    DUTY_SUBMIT = 0x0501,     /* api -> qbft (request): struct duty_submit */
    DUTY_SUBMIT_REP = 0x0502, /* qbft -> api (reply): enum duty_result */
    DUTY_GET = 0x0503,        /* api -> qbft (request): type, height */
    DUTY_GET_REP = 0x0504,    /* qbft -> api (reply): struct duty_view */
    DUTY_RECENT = 0x0505,     /* api -> qbft (request): how many (1..DUTY_RECENT_MAX) */
    DUTY_RECENT_REP = 0x0506, /* qbft -> api (reply): struct duty_brief[], newest first */
};

enum duty_result {
    DUTY_ACCEPTED = 0,    /* persisted (or identical re-post) and the instance runs: 202 */
    DUTY_CONFLICT = 1,    /* same (type, height) already accepted with another payload: 409 */
    DUTY_UNAVAILABLE = 2, /* cannot persist now, or too many open instances: 503 */
    DUTY_NOT_FOUND = 3,   /* GET of an unknown instance: 404 */
    /* More than [qbft] max_height_jump above the highest height accepted for its type: 409. */
    DUTY_TOO_FAR_AHEAD = 4,
    /* More than [qbft] retention below the highest height accepted for its type: 409. */
    DUTY_TOO_OLD = 5,
};
#define DUTY_RESULT_MAX DUTY_TOO_OLD

/* Duty types and their indices (SPEC §7.1): the node's one definition, used by every family.
 * The index enters the leader formula, the signed QBFT body and the database keys. */
enum duty_type {
    DUTY_ATTESTER = 0,
    DUTY_PROPOSER = 1,
    DUTY_SYNC = 2,
};
#define DUTY_TYPES       3
#define DUTY_MAX_NODES   64
#define DUTY_PAYLOAD_MAX (1u << 20)
#define DUTY_HEIGHT_MAX  (UINT64_C(1) << 62) /* inclusive */
#define DUTY_ROUND_MAX   (UINT64_C(1) << 40) /* inclusive */

/* "attester", "proposer", "sync"; NULL when unknown. */
const char *duty_type_name(unsigned type);

struct duty_submit {
    uint8_t type;
    uint64_t height;
    uint64_t round;
    const uint8_t *payload; /* canonical JSON bytes; points into the decoded message */
    uint32_t payload_len;
};

void duty_submit_encode(struct buf *b, const struct duty_submit *d);
int duty_submit_decode(struct duty_submit *d, const void *p, size_t n);

void duty_result_encode(struct buf *b, enum duty_result r);
int duty_result_decode(enum duty_result *r, const void *p, size_t n);

struct duty_key {
    uint8_t type;
    uint64_t height;
};

void duty_key_encode(struct buf *b, const struct duty_key *k);
int duty_key_decode(struct duty_key *k, const void *p, size_t n);

struct duty_cert_entry {
    uint32_t index;
    uint64_t round;
    uint8_t sig[64];
};

struct duty_seal {
    uint32_t index;
    uint8_t sig[64];
};

struct duty_view {
    enum duty_result result; /* ACCEPTED (found) or NOT_FOUND */
    uint8_t type;
    uint64_t height;
    bool decided;
    uint64_t round;
    bool has_value; /* value and value_hash known */
    uint8_t value_hash[32];
    const uint8_t *value; /* canonical JSON bytes; points into the decoded message */
    uint32_t value_len;
    uint32_t ncert;
    struct duty_cert_entry cert[DUTY_MAX_NODES];
    uint32_t nseals;
    struct duty_seal seals[DUTY_MAX_NODES];
    bool has_tss; /* the group signature (SPEC §10) */
    struct tss_record tss;
};

void duty_view_encode(struct buf *b, const struct duty_view *v);
int duty_view_decode(struct duty_view *v, const void *p, size_t n);

/* DUTY_RECENT: the instances the QBFT worker holds in memory, the most recently started first
 * (the status page's "recent duties"). */
#define DUTY_RECENT_MAX 64
struct duty_brief {
    uint8_t type;
    uint64_t height;
    bool decided;
    uint64_t round;  /* the deciding round, or the round it runs in */
    uint64_t age_ms; /* since it started here (0 when it was decided without starting here) */
};

void duty_recent_req_encode(struct buf *b, uint32_t max);
int duty_recent_req_decode(uint32_t *max, const void *p, size_t n);
void duty_recent_encode(struct buf *b, const struct duty_brief *d, size_t n);
/* n entries into out[cap] (cap <= DUTY_RECENT_MAX); more than cap is an error. */
int duty_recent_decode(struct duty_brief *out, size_t cap, size_t *n, const void *p, size_t len);

#endif
