/*
 * frost_int: intermediate values of lib/frost.c that the RFC 9591 test vectors check, exposed
 * for tests/unit/test_frost.c only. Nothing else includes this header.
 */
#ifndef AEQUA_FROST_INT_H
#define AEQUA_FROST_INT_H

#include "lib/frost.h"

/* SerializeElement(PK) || H4(msg) || H5(encoded commitment list) || SerializeScalar(id) */
#define FROST_RHO_INPUT_LEN (FROST_POINT_LEN + 32 + 32 + FROST_SCALAR_LEN)

/* For a signing package: each participant's binding_factor_input and binding factor (in list
 * order), the group commitment R and the challenge c. */
int frost_binding_factors(const uint8_t group_pub[FROST_POINT_LEN],
                          const struct frost_commitment *list, size_t count, const uint8_t *msg,
                          size_t mlen, uint8_t inputs[][FROST_RHO_INPUT_LEN],
                          uint8_t factors[][FROST_SCALAR_LEN],
                          uint8_t group_commitment[FROST_POINT_LEN],
                          uint8_t chal[FROST_SCALAR_LEN]);

/* derive_interpolating_value(ids, id); ids sorted ascending. */
int frost_lagrange(uint16_t id, const uint16_t *ids, size_t count,
                   uint8_t lambda[FROST_SCALAR_LEN]);

/* A 48-byte big-endian integer mod n (hash_to_field's reduction). */
int frost_scalar_reduce48(const uint8_t in[48], uint8_t out[FROST_SCALAR_LEN]);

/* in^-1 mod n; -1 for 0 or in >= n. */
int frost_scalar_inverse(const uint8_t in[FROST_SCALAR_LEN], uint8_t out[FROST_SCALAR_LEN]);

#endif
