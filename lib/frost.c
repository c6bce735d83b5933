/*
 * frost: FROST(secp256k1, SHA-256), see frost.h. NOT IMPLEMENTED YET: every function returns -1
 * (the header is committed first so that the key and session work can build against it).
 */
#include "frost.h"

#include <string.h>

int frost_dealer_keygen(unsigned t, unsigned n, uint8_t group_pub[FROST_POINT_LEN],
                        uint8_t shares[][FROST_SCALAR_LEN], uint8_t vshares[][FROST_POINT_LEN],
                        uint8_t vss[][FROST_POINT_LEN])
{
    (void)t, (void)n, (void)group_pub, (void)shares, (void)vshares, (void)vss;
    return -1; /* not implemented yet */
}

int frost_dealer_split(const uint8_t secret[FROST_SCALAR_LEN],
                       const uint8_t coeffs[][FROST_SCALAR_LEN], unsigned t, unsigned n,
                       uint8_t group_pub[FROST_POINT_LEN], uint8_t shares[][FROST_SCALAR_LEN],
                       uint8_t vshares[][FROST_POINT_LEN], uint8_t vss[][FROST_POINT_LEN])
{
    (void)secret, (void)coeffs, (void)t, (void)n, (void)group_pub, (void)shares, (void)vshares,
        (void)vss;
    return -1; /* not implemented yet */
}

int frost_vss_verify(uint16_t id, const uint8_t share[FROST_SCALAR_LEN],
                     const uint8_t vss[][FROST_POINT_LEN], unsigned t)
{
    (void)id, (void)share, (void)vss, (void)t;
    return -1; /* not implemented yet */
}

int frost_public(const uint8_t scalar[FROST_SCALAR_LEN], uint8_t point[FROST_POINT_LEN])
{
    (void)scalar, (void)point;
    return -1; /* not implemented yet */
}

int frost_group_check(unsigned t, unsigned n, const uint8_t vshares[][FROST_POINT_LEN],
                      const uint8_t group_pub[FROST_POINT_LEN])
{
    (void)t, (void)n, (void)vshares, (void)group_pub;
    return -1; /* not implemented yet */
}

int frost_commit(uint16_t id, const uint8_t share[FROST_SCALAR_LEN], struct frost_nonces *nonces,
                 struct frost_commitment *commitment)
{
    (void)id, (void)share, (void)nonces, (void)commitment;
    return -1; /* not implemented yet */
}

int frost_commit_with(uint16_t id, const uint8_t share[FROST_SCALAR_LEN],
                      const uint8_t hiding_rand[32], const uint8_t binding_rand[32],
                      struct frost_nonces *nonces, struct frost_commitment *commitment)
{
    (void)id, (void)share, (void)hiding_rand, (void)binding_rand, (void)nonces, (void)commitment;
    return -1; /* not implemented yet */
}

void frost_nonces_wipe(struct frost_nonces *nonces)
{
    memset(nonces, 0, sizeof(*nonces));
}

int frost_commitment_check(const struct frost_commitment *commitment)
{
    (void)commitment;
    return -1; /* not implemented yet */
}

int frost_sign(uint16_t id, const uint8_t share[FROST_SCALAR_LEN], struct frost_nonces *nonces,
               const struct frost_commitment *list, size_t count, const uint8_t *msg, size_t mlen,
               const uint8_t group_pub[FROST_POINT_LEN], uint8_t sig_share[FROST_SCALAR_LEN])
{
    (void)id, (void)share, (void)list, (void)count, (void)msg, (void)mlen, (void)group_pub,
        (void)sig_share;
    frost_nonces_wipe(nonces);
    return -1; /* not implemented yet */
}

int frost_share_verify(uint16_t id, const uint8_t vshare[FROST_POINT_LEN],
                       const uint8_t sig_share[FROST_SCALAR_LEN],
                       const struct frost_commitment *list, size_t count, const uint8_t *msg,
                       size_t mlen, const uint8_t group_pub[FROST_POINT_LEN])
{
    (void)id, (void)vshare, (void)sig_share, (void)list, (void)count, (void)msg, (void)mlen,
        (void)group_pub;
    return -1; /* not implemented yet */
}

int frost_aggregate(const struct frost_commitment *list, size_t count,
                    const uint8_t shares[][FROST_SCALAR_LEN], const uint8_t *msg, size_t mlen,
                    const uint8_t group_pub[FROST_POINT_LEN], uint8_t sig[FROST_SIG_LEN])
{
    (void)list, (void)count, (void)shares, (void)msg, (void)mlen, (void)group_pub, (void)sig;
    return -1; /* not implemented yet */
}

int frost_verify(const uint8_t group_pub[FROST_POINT_LEN], const uint8_t *msg, size_t mlen,
                 const uint8_t sig[FROST_SIG_LEN])
{
    (void)group_pub, (void)msg, (void)mlen, (void)sig;
    return -1; /* not implemented yet */
}
