/*
 * hmap: a hash set of pointers to items that carry their own fixed-length binary key (a tx hash,
 * an address), found through the caller's key function. Open addressing with linear probing and
 * backward-shift deletion; the table doubles when half full.
 *
 * The keys are digests an attacker can grind (an address is SHA-256 of a key anyone can make), so
 * the slot of a key is a seeded mix of its first 8 bytes: without the seed no one can aim many
 * keys at one run of slots. Nothing observable depends on the iteration order.
 *
 * Owns only its slot array; the items are the caller's. Allocation failure is fatal.
 */
#ifndef AEQUA_BUILDER_HMAP_H
#define AEQUA_BUILDER_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap {
    void **slot;
    size_t cap; /* a power of two, or 0 */
    size_t n;
    const uint8_t *(*key)(const void *item);
    size_t key_len; /* at least 8 */
    uint64_t seed;
};

void hmap_init(struct hmap *m, const uint8_t *(*key)(const void *item), size_t key_len,
               uint64_t seed);
void hmap_free(struct hmap *m);

void *hmap_get(const struct hmap *m, const uint8_t *key);
/* Add an item whose key is not in the map yet. */
void hmap_put(struct hmap *m, void *item);
/* Remove and return the item with this key, or NULL. */
void *hmap_del(struct hmap *m, const uint8_t *key);

/* Iteration: slot i in [0, cap) holds an item or NULL. No put or del while iterating. */
static inline void *hmap_slot(const struct hmap *m, size_t i)
{
    return m->slot[i];
}

#endif
