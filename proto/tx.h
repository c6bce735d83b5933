/*
 * tx: transactions (SPEC §9) — their types, the canonical binary encoding used for gossip,
 * storage and blocks, the JSON of the API, the signing bytes, the tx hash, and the recoverable
 * ECDSA signature that binds a transaction to its sender's address.
 *
 * Types. A transaction's type is a number on the wire and a name in JSON; one row of the table
 * in tx.c each. Only plaintext_v1 (1) exists.
 *
 * plaintext_v1.
 *   - Signing bytes: "aequa/tx/plaintext_v1" || lock_hash (32) || from (20) || nonce || gas || fee
 *     (8-byte big-endian each) || data length (4-byte big-endian) || data. The signature is over
 *     SHA-256 of the signing bytes; the tx hash is SHA-256(signing bytes || sig). Both depend on
 *     lock_hash, so a transaction is valid on one cluster only, and decoding needs it.
 *   - sig: r (32) || s (32) || recovery id (1). Accepted: recovery id 0-3 and low S only; the key
 *     recovered from it, as a 33-byte compressed point, must hash to from: from is the first 20
 *     bytes of SHA-256 of the key (the lock's peer_id derivation, lib/crypto pubkey_address).
 *     tx_sign produces recovery ids 0/1 (libsecp256k1 gives 2/3 only for r >= n - p, which no
 *     one has ever seen).
 *   - Binary (msgpack): [1, from (bin 20), nonce, gas, fee, data (bin), sig (bin 65)]. Decoding is
 *     strict and bounded: exact array length, every length checked against the remaining bytes
 *     before use, data at most max_data bytes, no trailing bytes, and the bytes must be exactly
 *     what tx_encode writes (shortest integer and length forms), so one transaction has exactly
 *     one encoding.
 *   - JSON in (POST /v1/tx/plain): {"type":"plaintext_v1","from":"<40 hex>","nonce":u64,
 *     "gas":u64,"fee":u64,"data":"<hex, optional>","sig":"<130 hex>"}, one object, strict like
 *     POST /v1/duty (lib/json_strict). Hex is accepted in either case, without "0x".
 *   - JSON out: the same object with lower-case hex and "data" always present ("" when empty);
 *     with TX_JSON_HASH it starts with "hash" (the API's GET answers and block "txs").
 *
 * Errors. Every failure is one of the enum tx_err classes (the API's answer, SPEC §11.1) plus a
 * static detail naming the field, e.g. {TX_ERR_INVALID_TX, "from: expected 40 hex characters"}:
 *   - invalid json (400): not one JSON object, invalid UTF-8, duplicate or unknown keys, nonce/
 *     gas/fee present but not a non-negative integer literal, nesting deeper than 8;
 *   - invalid tx (400): "type" missing, not a string or unknown ("unknown tx type"); a field
 *     missing or of the wrong kind; bad hex or length; an integer literal above 2^64-1; any
 *     malformed binary encoding; and, in the mempool, stateless rules such as gas above
 *     max_block_gas;
 *   - tx too large (413): data above max_data bytes, or a JSON body longer than
 *     tx_json_max(max_data) (twice the data's hex plus 4096 bytes of room for the rest);
 *   - bad signature (400): high S, recovery id above 3, no key recovers, or the key's address is
 *     not from.
 *
 * Pure: no I/O, no logging; allocation failure is fatal (lib/buf). A struct tx is one heap block
 * holding its fields and its canonical bytes; release it with tx_free.
 */
#ifndef AEQUA_PROTO_TX_H
#define AEQUA_PROTO_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/crypto.h"

#define TX_ADDR_LEN           ADDR_LEN
#define TX_SIG_LEN            65
#define TX_PLAINTEXT_DOMAIN   "aequa/tx/plaintext_v1"
#define TX_DATA_LIMIT         (1u << 20) /* no max_data may exceed this ([builder] max_tx_data) */
#define TX_JSON_SLACK         4096u      /* room for a JSON body's fields besides data's hex */
#define TX_PLAINTEXT_OVERHEAD 123u       /* wire bytes of a plaintext_v1 tx besides data, at most */

enum tx_type {
    TX_PLAINTEXT_V1 = 1,
};

/* The name of a type ("plaintext_v1"), or NULL if it is not one. */
const char *tx_type_name(unsigned type);

struct tx {
    enum tx_type type;
    uint8_t hash[SHA256_LEN];
    uint8_t from[TX_ADDR_LEN];
    uint64_t nonce;
    uint64_t gas;
    uint64_t fee;
    uint8_t sig[TX_SIG_LEN];
    const uint8_t *data; /* data_len bytes inside wire */
    uint32_t data_len;
    uint32_t wire_len;
    uint8_t wire[]; /* the canonical binary encoding */
};

void tx_free(struct tx *tx);

enum tx_err {
    TX_OK = 0,
    TX_ERR_INVALID_JSON,
    TX_ERR_INVALID_TX,
    TX_ERR_TOO_LARGE,
    TX_ERR_BAD_SIGNATURE,
};

struct tx_error {
    enum tx_err code;
    const char *detail; /* static text naming the field or rule; NULL when code is TX_OK */
    size_t offset;      /* JSON: byte offset of the offending value (0 when not known) */
};

/* The HTTP status (400, 413; 202 for TX_OK) and body text ("invalid json", "invalid tx",
 * "tx too large", "bad signature") of an error class. */
int tx_err_http_status(enum tx_err e);
const char *tx_err_body(enum tx_err e);

/* ---- building and signing ---- */

/* A plaintext_v1 transaction from its fields and signature (not verified); hash computed. */
struct tx *tx_plain_new(const uint8_t lock_hash[SHA256_LEN], const uint8_t from[TX_ADDR_LEN],
                        uint64_t nonce, uint64_t gas, uint64_t fee, const void *data,
                        uint32_t data_len, const uint8_t sig[TX_SIG_LEN]);

/* A plaintext_v1 transaction from key's address, signed by key. */
struct tx *tx_plain_sign(const uint8_t lock_hash[SHA256_LEN], const struct node_key *key,
                         uint64_t nonce, uint64_t gas, uint64_t fee, const void *data,
                         uint32_t data_len);

/* Append the signing bytes of a plaintext_v1 transaction to out. */
void tx_plain_signing_bytes(struct buf *out, const uint8_t lock_hash[SHA256_LEN],
                            const uint8_t from[TX_ADDR_LEN], uint64_t nonce, uint64_t gas,
                            uint64_t fee, const void *data, uint32_t data_len);

/* Check the signature: low S, recovery id 0-3, the recovered key's address is tx->from.
 * 0, or -1 with TX_ERR_BAD_SIGNATURE and a detail in err. */
int tx_verify(const struct tx *tx, const uint8_t lock_hash[SHA256_LEN], struct tx_error *err);

/* ---- binary ---- */

/* The type number of wire bytes (the first item of their array), or -1 if they do not start
 * like a transaction. Only a peek: tx_decode still checks everything. */
int tx_wire_type(const uint8_t *p, size_t n, unsigned *type);

/* Strict decode of untrusted wire bytes (see above). 0 and *out, or -1 with err filled. */
int tx_decode(const uint8_t *p, size_t n, uint32_t max_data, const uint8_t lock_hash[SHA256_LEN],
              struct tx **out, struct tx_error *err);

/* ---- JSON ---- */

/* The longest JSON body tx_json_decode reads for this max_data (longer: TX_ERR_TOO_LARGE). */
size_t tx_json_max(uint32_t max_data);

/* Strict decode of an untrusted JSON body (see above); the signature is not checked here.
 * 0 and *out, or -1 with err filled. */
int tx_json_decode(const uint8_t *in, size_t len, uint32_t max_data,
                   const uint8_t lock_hash[SHA256_LEN], struct tx **out, struct tx_error *err);

#define TX_JSON_HASH 1u /* start the object with "hash" */

/* Append the JSON object of tx to out (see above). */
void tx_json(const struct tx *tx, unsigned flags, struct buf *out);

#endif
