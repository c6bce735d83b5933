/*
 * seen: the hashes of the last SEEN_MAX transactions this node has judged (admitted, refused,
 * or found in a block), so that gossip of a transaction already judged costs no second signature
 * check (SPEC §9: "signature checked once per node"). A fixed ring: the oldest hash is forgotten
 * first; memory is SEEN_MAX hashes and a table of pointers. Pure, no I/O.
 */
#ifndef AEQUA_BUILDER_SEEN_H
#define AEQUA_BUILDER_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/crypto.h"
#include "workers/builder/hmap.h"

#define SEEN_MAX 65536

struct seen {
    uint8_t (*ring)[SHA256_LEN];
    size_t next, n;
    struct hmap set; /* pointers into ring */
};

void seen_init(struct seen *s, uint64_t seed);
void seen_free(struct seen *s);
bool seen_has(const struct seen *s, const uint8_t hash[SHA256_LEN]);
/* Remember a hash (a hash already remembered is not added twice). */
void seen_add(struct seen *s, const uint8_t hash[SHA256_LEN]);

#endif
