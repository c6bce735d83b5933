#include "proto/p2p_identity.h"
#include "lib/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void p2p_identity_digest(const uint8_t static_pub[X25519_LEN], uint8_t out[SHA256_LEN])
{
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, P2P_IDENTITY_DOMAIN, strlen(P2P_IDENTITY_DOMAIN));
    sha256_update(&c, static_pub, X25519_LEN);
    sha256_final(&c, out);
}

void p2p_identity_make(const struct node_key *k, struct p2p_identity *out)
{
    uint8_t d[SHA256_LEN];
    x25519_generate(out->static_priv, out->static_pub);
    memcpy(out->node_pub, k->pub, PUBKEY_LEN);
    p2p_identity_digest(out->static_pub, d);
    ecdsa_sign(k, d, out->sig);
}

bool p2p_identity_verify(const uint8_t node_pub[PUBKEY_LEN], const uint8_t static_pub[X25519_LEN],
                         const uint8_t sig[SIG_LEN])
{
    uint8_t d[SHA256_LEN];
    p2p_identity_digest(static_pub, d);
    return ecdsa_verify(node_pub, d, sig);
}

void p2p_identity_encode(const struct p2p_identity *id, uint8_t out[P2P_IDENTITY_BLOB_LEN])
{
    uint8_t *p = out;
    memcpy(p, P2P_IDENTITY_MAGIC, 8);
    p += 8;
    memcpy(p, id->static_priv, X25519_LEN);
    p += X25519_LEN;
    memcpy(p, id->node_pub, PUBKEY_LEN);
    p += PUBKEY_LEN;
    memcpy(p, id->sig, SIG_LEN);
}

int p2p_identity_decode(struct p2p_identity *id, const uint8_t *blob, size_t len, char *err,
                        size_t errsz)
{
    if (len != P2P_IDENTITY_BLOB_LEN || memcmp(blob, P2P_IDENTITY_MAGIC, 8) != 0) {
        snprintf(err, errsz, "not a P2P identity blob (%zu bytes, want %d starting with %s)", len,
                 P2P_IDENTITY_BLOB_LEN, P2P_IDENTITY_MAGIC);
        return -1;
    }
    const uint8_t *p = blob + 8;
    memcpy(id->static_priv, p, X25519_LEN);
    p += X25519_LEN;
    memcpy(id->node_pub, p, PUBKEY_LEN);
    p += PUBKEY_LEN;
    memcpy(id->sig, p, SIG_LEN);
    if (x25519_public(id->static_priv, id->static_pub) < 0) {
        p2p_identity_wipe(id);
        snprintf(err, errsz, "P2P identity: invalid X25519 secret");
        return -1;
    }
    if (!p2p_identity_verify(id->node_pub, id->static_pub, id->sig)) {
        p2p_identity_wipe(id);
        snprintf(err, errsz, "P2P identity: the signature does not certify the static key");
        return -1;
    }
    return 0;
}

int p2p_identity_save(const struct p2p_identity *id, const char *path)
{
    uint8_t blob[P2P_IDENTITY_BLOB_LEN];
    p2p_identity_encode(id, blob);
    /* In the runtime directory, and made anew before every P2P start: no fsync. */
    int rc = write_file_replace(path, blob, sizeof(blob), 0600);
    explicit_bzero(blob, sizeof(blob));
    return rc;
}

int p2p_identity_load(struct p2p_identity *id, const char *path, char *err, size_t errsz)
{
    char *data = NULL;
    size_t len = 0;
    char why[160];
    if (read_file(path, P2P_IDENTITY_BLOB_LEN, &data, &len) < 0) {
        snprintf(err, errsz, "P2P identity %s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    int rc = p2p_identity_decode(id, (const uint8_t *)data, len, why, sizeof(why));
    explicit_bzero(data, len);
    free(data);
    if (rc < 0)
        snprintf(err, errsz, "P2P identity %s: %s", path, why);
    return rc;
}

void p2p_identity_wipe(struct p2p_identity *id)
{
    explicit_bzero(id, sizeof(*id));
}
