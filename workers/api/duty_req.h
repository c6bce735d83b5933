/*
 * duty_req: the pure request validation of POST /v1/duty (SPEC §11.2 checks 2-7) and the duty
 * id / GET path forms (SPEC §7.6, §11.1). No I/O, no logging: the route handler checks the method
 * (row 1), reads at most DUTY_BODY_MAX + 1 bytes, calls duty_req_parse and answers with the
 * outcome's status and body; rows 8 and 9 (conflict, unavailable) need StateDB and stay with it.
 *
 * Decisions where the SPEC is silent:
 *   - "empty" means zero bytes; a whitespace-only body is "invalid json".
 *   - A missing "payload" is the JSON null: its canonical bytes are "null".
 *   - "type" present but not a string is "invalid type" (row 5), not "invalid json".
 *   - "height"/"round" present but not a non-negative integer literal (null, "1", 1.0, 1e3, -0,
 *     true) is "invalid json" (row 4); a valid integer literal too large for uint64 (2^64,
 *     10^30) is a literal, so it is "height/round out of range" (rows 6/7).
 *   - Nesting: the body object counts as depth 1, so the payload may nest 63 more levels.
 */
#ifndef AEQUA_API_DUTY_REQ_H
#define AEQUA_API_DUTY_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "proto/duty.h" /* enum duty_type, duty_type_name, bounds */

#define DUTY_BODY_MAX    1048576u /* bytes; exactly this many is accepted */
#define DUTY_JSON_DEPTH  64       /* arrays/objects, the body object included */
#define DUTY_ID_MAX      32       /* "proposer/4611686018427387904" + NUL fits */
#define DUTY_PATH_PREFIX "/v1/duty/"

/* The outcome of duty_req_parse; each failure is one row of the SPEC §11.2 table. */
enum duty_req_result {
    DUTY_REQ_OK = 0,
    DUTY_REQ_READ_ERROR,   /* row 2: body larger than DUTY_BODY_MAX */
    DUTY_REQ_EMPTY,        /* row 3: zero bytes */
    DUTY_REQ_INVALID_JSON, /* row 4 */
    DUTY_REQ_INVALID_TYPE, /* row 5 */
    DUTY_REQ_HEIGHT_RANGE, /* row 6 */
    DUTY_REQ_ROUND_RANGE,  /* row 7 */
};

struct duty_req_outcome {
    unsigned order;   /* row of the SPEC table (0 for OK) */
    int http_status;  /* 400 for every failure, 202 for OK */
    const char *body; /* text of the table without the newline ("invalid json"); NULL for OK */
};

/* The table row of a result (never NULL for a valid enumerator). */
const struct duty_req_outcome *duty_req_outcome(enum duty_req_result r);

struct duty_req {
    enum duty_type type;
    uint64_t height;
    uint64_t round;       /* 0 when absent */
    struct buf payload;   /* canonical bytes of "payload" (jstrict_canonical): the input value */
    const char *detail;   /* static text for logs on failure ("duplicate key", "unknown key") */
    size_t detail_offset; /* byte offset in the body the detail refers to */
};

/*
 * Validate a request body (len bytes, untrusted; body may be NULL when len is 0). Always
 * initialises *out; on DUTY_REQ_OK out->payload holds the canonical payload, on failure it is
 * empty. Release with duty_req_free in both cases.
 */
enum duty_req_result duty_req_parse(const uint8_t *body, size_t len, struct duty_req *out);
void duty_req_free(struct duty_req *r);

/* Exact, case-sensitive match of n bytes. Returns 0 or -1. */
int duty_type_parse(const char *s, size_t n, enum duty_type *out);

/* Write "<type>/<height>" (NUL-terminated) into out[DUTY_ID_MAX]; returns its length. */
size_t duty_id_format(enum duty_type t, uint64_t height, char out[DUTY_ID_MAX]);

/*
 * Parse a GET path "/v1/duty/{type}/{height}" (the whole path, no query string): a known type,
 * then a decimal height without sign or leading zeros (except "0" itself) and at most
 * DUTY_HEIGHT_MAX, then the end. Returns 0, or -1 for anything else (answer 404).
 */
int duty_path_parse(const char *path, enum duty_type *type, uint64_t *height);

#endif
