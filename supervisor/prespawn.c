/*
 * Work the supervisor does with the node key, the only process that holds it besides QBFT:
 * certify the P2P worker's Noise static key before each P2P spawn, and create the keys and the
 * one-operator lock of the embedded default.
 */
#include "lib/frost.h"
#include "lib/lock.h"
#include "lib/util.h"
#include "supervisor/supervisor.h"
#include "proto/p2p_identity.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int prespawn_p2p_identity(const struct config *cfg, char *err, size_t errsz)
{
    struct node_key key;
    struct p2p_identity id;
    char path[CFG_PATH + 32];
    if (node_key_load(&key, cfg->key, err, errsz) < 0)
        return -1;
    p2p_identity_make(&key, &id);
    node_key_wipe(&key);
    snprintf(path, sizeof(path), "%s/%s", cfg->runtime_dir, P2P_IDENTITY_FILE);
    int rc = p2p_identity_save(&id, path);
    p2p_identity_wipe(&id);
    if (rc < 0) {
        snprintf(err, errsz, "p2p identity %s: %s", path, strerror(errno));
        return -1;
    }
    if (geteuid() == 0) {
        const char *user = config_worker_user(cfg, "p2p");
        struct passwd *pw = getpwnam(user);
        if (!pw || chown(path, pw->pw_uid, pw->pw_gid) < 0) {
            snprintf(err, errsz, "p2p identity %s: chown to %s: %s", path, user,
                     pw ? strerror(errno) : "no such user");
            return -1;
        }
    }
    return 0;
}

/* The embedded cluster's threshold key, 1 of 1 (so --enable-tss works there too): tss.key as
 * found, or dealt and written. Its share is the group secret, so its public point is both the
 * group key and the one verification share. */
static int embedded_tss_ensure(const struct config *cfg, uint8_t pub[PUBKEY_LEN], char *err,
                               size_t errsz)
{
    uint8_t share[1][SECKEY_LEN], vshare[1][PUBKEY_LEN];
    int rc;
    if (access(cfg->tss_key, F_OK) == 0) {
        if (tss_key_load(share[0], cfg->tss_key, err, errsz) < 0)
            return -1;
        rc = frost_public(share[0], pub);
    } else {
        rc = frost_dealer_keygen(1, 1, pub, share, vshare, NULL);
        if (rc == 0 && tss_key_save(share[0], cfg->tss_key) < 0) {
            snprintf(err, errsz, "tss key %s: %s", cfg->tss_key, strerror(errno));
            explicit_bzero(share, sizeof(share));
            return -1;
        }
    }
    explicit_bzero(share, sizeof(share));
    if (rc < 0)
        snprintf(err, errsz, "tss key %s: FROST could not derive the threshold key", cfg->tss_key);
    return rc;
}

int embedded_cluster_ensure(const struct config *cfg, char *err, size_t errsz)
{
    uint8_t tss_pub[1][PUBKEY_LEN];
    struct node_key key;
    if (access(cfg->lock, F_OK) == 0)
        return 0;
    if (mkdir_p(cfg->data_dir, 0755) < 0) {
        snprintf(err, errsz, "data dir %s: %s", cfg->data_dir, strerror(errno));
        return -1;
    }
    if (access(cfg->key, F_OK) == 0) {
        if (node_key_load(&key, cfg->key, err, errsz) < 0)
            return -1;
    } else {
        node_key_generate(&key);
        if (node_key_save(&key, cfg->key) < 0) {
            snprintf(err, errsz, "node key %s: %s", cfg->key, strerror(errno));
            node_key_wipe(&key);
            return -1;
        }
    }
    if (embedded_tss_ensure(cfg, tss_pub[0], err, errsz) < 0) {
        node_key_wipe(&key);
        return -1;
    }
    const char *addr[] = {"127.0.0.1:4640"};
    struct buf lock = BUF_INIT;
    int rc = lock_create_tss(&lock, "embedded", 1, 1, &key, addr, tss_pub[0],
                             (const uint8_t(*)[PUBKEY_LEN])tss_pub, err, errsz);
    node_key_wipe(&key);
    if (rc == 0 && write_file_atomic(cfg->lock, lock.data, lock.len, 0644) < 0) {
        snprintf(err, errsz, "cluster lock %s: %s", cfg->lock, strerror(errno));
        rc = -1;
    }
    buf_free(&lock);
    return rc;
}
