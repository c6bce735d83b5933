/*
 * Fuzz target: the cluster-lock parser (lib/lock.c), the file every node checks before it
 * starts. Invariants, checked with abort():
 *   - a lock that parses has n in [1, 64], a threshold in [ceil(2n/3), n], operators by index,
 *     peer ids derived from their keys, unique keys, signatures that verify, a lock_hash
 *     equal to SHA-256 of lock_canonical() of the same text, and, with a tss object, at most
 *     FROST_MAX_PARTICIPANTS operators whose verification shares pass frost_group_check;
 *   - an input that gets as far as its seal ("lock_hash: ...") is sealed again with fixed keys
 *     (lock_reseal, which must succeed) and parsed once more: it must parse when its operators
 *     at positions 0..n-1 hold those keys' pubkeys, and fail on a signature otherwise. This is
 *     what lets the fuzzer past the hash and the signatures into the rest of the parser.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/frost.h"
#include "lib/lock.h"
#include "lib/util.h"

#include "tests/fuzz/fuzz.h"

#define NKEYS 7 /* the seed corpus uses these keys, secrets 0x11.., 0x22.., ... */

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_lock: invariant failed: %s (line %d)\n", #cond, __LINE__);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static struct node_key keys[NKEYS];

static void keys_init(void)
{
    static bool done;
    for (int i = 0; i < NKEYS && !done; i++) {
        uint8_t sec[SECKEY_LEN];
        memset(sec, 0x11 * (i + 1), sizeof(sec));
        CHECK(node_key_from_secret(&keys[i], sec) == 0);
    }
    done = true;
}

static void check_accepted(const struct lock *l, const char *text, size_t len)
{
    CHECK(l->n >= 1 && l->n <= LOCK_MAX_OPERATORS);
    CHECK(l->threshold >= lock_quorum(l->n) && l->threshold <= l->n);
    for (uint32_t i = 0; i < l->n; i++) {
        char pid[PEER_ID_HEX + 1];
        CHECK(l->ops[i].index == i);
        lock_peer_id(l->ops[i].pubkey, pid);
        CHECK(strcmp(pid, l->ops[i].peer_id) == 0);
        CHECK(lock_find_pubkey(l, l->ops[i].pubkey) == (int)i);
        CHECK(ecdsa_verify(l->ops[i].pubkey, l->hash, l->sigs[i]));
        CHECK(l->ops[i].port > 0);
    }
    struct buf canon = BUF_INIT;
    char err[512];
    uint8_t h[SHA256_LEN];
    CHECK(lock_canonical(text, len, &canon, err, sizeof(err)) == 0);
    sha256(h, canon.data, canon.len);
    CHECK(memcmp(h, l->hash, SHA256_LEN) == 0);
    buf_free(&canon);
    CHECK(lock_check_member(l, l->n, l->ops[0].pubkey, err, sizeof(err)) < 0);
    if (l->has_tss) {
        CHECK(l->n <= FROST_MAX_PARTICIPANTS);
        CHECK(frost_group_check(l->threshold, l->n, (const uint8_t(*)[PUBKEY_LEN])l->tss_vshares,
                                l->tss_group_pub) == 0);
    }
}

/* operators[k].pubkey (array position k, where signatures[k] belongs) is keys[k]'s. */
static bool signed_by_our_keys(const char *text, size_t len, uint32_t n)
{
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *ops = json_object_get(root, "operators");
    bool ours = json_array_size(ops) == n;
    for (uint32_t k = 0; ours && k < n; k++) {
        char hex[2 * PUBKEY_LEN + 1];
        hex_encode(hex, keys[k].pub, PUBKEY_LEN);
        const char *s = json_string_value(json_object_get(json_array_get(ops, k), "pubkey"));
        ours = s && !strcmp(s, hex);
    }
    json_decref(root);
    return ours;
}

static void check_resealed(uint32_t n, const char *text, size_t len)
{
    struct buf sealed = BUF_INIT;
    char err[512];
    struct lock *l = xmalloc(sizeof(*l));
    CHECK(lock_reseal(&sealed, text, len, keys, n, err, sizeof(err)) == 0);
    int rc = lock_parse(l, (const char *)sealed.data, sealed.len, err, sizeof(err));
    CHECK((rc == 0) == signed_by_our_keys(text, len, n));
    if (rc == 0) {
        check_accepted(l, (const char *)sealed.data, sealed.len);
        for (uint32_t i = 0; i < l->n; i++)
            CHECK(lock_check_member(l, i, l->ops[i].pubkey, err, sizeof(err)) == 0);
    } else {
        CHECK(!strncmp(err, "signatures[", 11));
    }
    buf_free(&sealed);
    free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lock *l = xmalloc(sizeof(*l));
    char err[512];
    keys_init();
    const char *text = (const char *)data;
    int rc = lock_parse(l, text, size, err, sizeof(err));
    if (rc == 0)
        check_accepted(l, text, size);
    else
        CHECK(err[0] != 0);
    /* "lock_hash: missing" comes before the operators are read (n is still 0) */
    if (rc < 0 && !strncmp(err, "lock_hash:", 10) && l->n > 0 && l->n <= NKEYS)
        check_resealed(l->n, text, size);
    free(l);
    return 0;
}
