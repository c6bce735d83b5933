/*
 * frost: FROST(secp256k1, SHA-256) threshold Schnorr signatures exactly as RFC 9591 specifies
 * them (context string "FROST-secp256k1-SHA256-v1"), with the RFC's trusted dealer (Shamir
 * shares of a group secret with Feldman VSS commitments).
 *
 * A pure module: no I/O, no logging, no state of its own (it uses the process-wide libsecp256k1
 * context of lib/crypto.c, and random_bytes() in the two functions that say "fresh
 * randomness"). Every function returns 0 on success and -1 on invalid input or a failed check;
 * nothing aborts on bad input, so bytes from a peer can be passed straight in.
 *
 * Encodings are the ciphersuite's: a scalar is 32 bytes big-endian and must be < n (the group
 * order); an element is a 33-byte compressed SEC1 point, never the identity (which has no such
 * encoding); a signature is R (33) || z (32), 65 bytes.
 *
 * Identifiers are 1..FROST_MAX_PARTICIPANTS. In Aequa, operator index i (0-based in the lock)
 * has identifier i + 1. Commitment lists are sorted by strictly ascending identifier (so no
 * duplicates), hold 1..FROST_MAX_PARTICIPANTS entries, and every point in them must parse; a
 * list that breaks any of this is rejected with -1 by every function taking one. That the list
 * has at least t entries and only identifiers of the cluster (<= n) is the caller's business:
 * with fewer signers the signature does not verify, and a stranger has no verification share.
 *
 * Secrets (shares, nonces, coefficients, intermediate secret scalars) are wiped before return.
 * Secret-dependent arithmetic runs in libsecp256k1's constant-time key functions.
 *
 * Cost (scripts/bench tss, t = 3): frost_sign, frost_share_verify and frost_aggregate each derive
 * the binding factors and group commitment from the list again (one point multiplication per
 * signer), about 200 us each here; frost_verify about 60 us; a whole 3-of-4 session about 1.7 ms
 * of CPU, some 26 ECDSA sign + verify pairs.
 */
#ifndef AEQUA_FROST_H
#define AEQUA_FROST_H

#include <stddef.h>
#include <stdint.h>

#define FROST_SCALAR_LEN       32
#define FROST_POINT_LEN        33
#define FROST_SIG_LEN          65
#define FROST_MAX_PARTICIPANTS 16
#define FROST_SCHEME           "FROST(secp256k1, SHA-256)"

/* A signer's round-one nonces: secret, used by at most one frost_sign (which wipes them). */
struct frost_nonces {
    uint8_t hiding[FROST_SCALAR_LEN];
    uint8_t binding[FROST_SCALAR_LEN];
};

/* A signer's round-one commitments (public): hiding = hiding_nonce * G, binding likewise. */
struct frost_commitment {
    uint16_t id;
    uint8_t hiding[FROST_POINT_LEN];
    uint8_t binding[FROST_POINT_LEN];
};

/* ---- keys (trusted dealer) ------------------------------------------------------------------ */

/*
 * Trusted dealer with fresh randomness: a random group secret and t - 1 random coefficients,
 * 1 <= t <= n <= FROST_MAX_PARTICIPANTS. Outputs the group public key, the n secret shares
 * (shares[i] belongs to identifier i + 1), their n public verification shares (share * G) and
 * the t Feldman commitments (vss[0] == group_pub; vss may be NULL). The group secret and the
 * coefficients are wiped; the caller wipes shares after handing them out.
 */
int frost_dealer_keygen(unsigned t, unsigned n, uint8_t group_pub[FROST_POINT_LEN],
                        uint8_t shares[][FROST_SCALAR_LEN], uint8_t vshares[][FROST_POINT_LEN],
                        uint8_t vss[][FROST_POINT_LEN]);

/*
 * The same, deterministic: the polynomial is secret + coeffs[0] x + ... + coeffs[t-2] x^(t-1)
 * (RFC secret_share_shard and vss_commit). -1 if the secret or a coefficient is zero or >= n,
 * or if a share or verification share would be zero/the identity. For test vectors and tests.
 */
int frost_dealer_split(const uint8_t secret[FROST_SCALAR_LEN],
                       const uint8_t coeffs[][FROST_SCALAR_LEN], unsigned t, unsigned n,
                       uint8_t group_pub[FROST_POINT_LEN], uint8_t shares[][FROST_SCALAR_LEN],
                       uint8_t vshares[][FROST_POINT_LEN], uint8_t vss[][FROST_POINT_LEN]);

/* RFC vss_verify: 0 if share * G == sum over k < t of vss[k] * id^k. */
int frost_vss_verify(uint16_t id, const uint8_t share[FROST_SCALAR_LEN],
                     const uint8_t vss[][FROST_POINT_LEN], unsigned t);

/* point = scalar * G: a share's verification share (the precheck compares it with the lock's).
 * -1 if the scalar is zero or >= n. */
int frost_public(const uint8_t scalar[FROST_SCALAR_LEN], uint8_t point[FROST_POINT_LEN]);

/*
 * 0 if the n verification shares (vshares[i] of identifier i + 1) all lie on one polynomial of
 * degree < t whose value at 0 is group_pub, i.e. every t of them interpolate, in the exponent,
 * to group_pub. Checked as: identifiers 1..t interpolate to group_pub at 0, and to vshares[j] at
 * every other identifier j. Used by `aequactl cluster verify`.
 */
int frost_group_check(unsigned t, unsigned n, const uint8_t vshares[][FROST_POINT_LEN],
                      const uint8_t group_pub[FROST_POINT_LEN]);

/* ---- round one: commit ---------------------------------------------------------------------- */

/* Fresh nonces for signer id (RFC nonce_generate with 32 random bytes each) and their
 * commitments. */
int frost_commit(uint16_t id, const uint8_t share[FROST_SCALAR_LEN], struct frost_nonces *nonces,
                 struct frost_commitment *commitment);

/* The same from given randomness (RFC test vectors); -1 if a nonce would be zero. */
int frost_commit_with(uint16_t id, const uint8_t share[FROST_SCALAR_LEN],
                      const uint8_t hiding_rand[32], const uint8_t binding_rand[32],
                      struct frost_nonces *nonces, struct frost_commitment *commitment);

/* Wipe nonces that will not be used (a session that ends before round two). */
void frost_nonces_wipe(struct frost_nonces *nonces);

/* 0 if a commitment received from a peer is well formed: identifier in range, both points parse
 * (on the curve, compressed, not the identity). */
int frost_commitment_check(const struct frost_commitment *commitment);

/* ---- round two: sign, verify shares, aggregate ---------------------------------------------- */

/*
 * RFC sign: signer id's signature share over msg for the signing package (list, count). The
 * nonces are wiped in every case, success or not, so a nonce never signs twice. -1 if the list
 * is invalid, or does not hold id with exactly the commitments of these nonces (RFC 5.2).
 */
int frost_sign(uint16_t id, const uint8_t share[FROST_SCALAR_LEN], struct frost_nonces *nonces,
               const struct frost_commitment *list, size_t count, const uint8_t *msg, size_t mlen,
               const uint8_t group_pub[FROST_POINT_LEN], uint8_t sig_share[FROST_SCALAR_LEN]);

/* RFC verify_signature_share: 0 if signer id's share is valid under its verification share. */
int frost_share_verify(uint16_t id, const uint8_t vshare[FROST_POINT_LEN],
                       const uint8_t sig_share[FROST_SCALAR_LEN],
                       const struct frost_commitment *list, size_t count, const uint8_t *msg,
                       size_t mlen, const uint8_t group_pub[FROST_POINT_LEN]);

/*
 * RFC aggregate: sig = R || sum of shares, shares[i] being list[i].id's. Does not check the
 * shares (frost_share_verify names a bad signer; frost_verify checks the result).
 */
int frost_aggregate(const struct frost_commitment *list, size_t count,
                    const uint8_t shares[][FROST_SCALAR_LEN], const uint8_t *msg, size_t mlen,
                    const uint8_t group_pub[FROST_POINT_LEN], uint8_t sig[FROST_SIG_LEN]);

/* ---- signatures ----------------------------------------------------------------------------- */

/* 0 if sig is a valid signature of msg under group_pub: z * G == R + H2(R || PK || msg) * PK. */
int frost_verify(const uint8_t group_pub[FROST_POINT_LEN], const uint8_t *msg, size_t mlen,
                 const uint8_t sig[FROST_SIG_LEN]);

#endif
