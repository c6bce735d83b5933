#include "workers/builder/hmap.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

#define HMAP_FIRST_CAP 64

void hmap_init(struct hmap *m, const uint8_t *(*key)(const void *item), size_t key_len,
               uint64_t seed)
{
    *m = (struct hmap){.key = key, .key_len = key_len, .seed = seed};
}

void hmap_free(struct hmap *m)
{
    free(m->slot);
    m->slot = NULL;
    m->cap = m->n = 0;
}

/* splitmix64's finalizer over the seeded first 8 bytes of the key */
static size_t home(const struct hmap *m, const uint8_t *key)
{
    uint64_t x;
    memcpy(&x, key, sizeof(x));
    x += m->seed;
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return (size_t)x & (m->cap - 1);
}

static size_t find_slot(const struct hmap *m, const uint8_t *key)
{
    size_t i = home(m, key);
    while (m->slot[i] && memcmp(m->key(m->slot[i]), key, m->key_len) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

void *hmap_get(const struct hmap *m, const uint8_t *key)
{
    return m->cap ? m->slot[find_slot(m, key)] : NULL;
}

static void grow(struct hmap *m)
{
    struct hmap old = *m;
    m->cap = old.cap ? 2 * old.cap : HMAP_FIRST_CAP;
    m->slot = xcalloc(m->cap, sizeof(*m->slot));
    for (size_t i = 0; i < old.cap; i++)
        if (old.slot[i])
            m->slot[find_slot(m, m->key(old.slot[i]))] = old.slot[i];
    free(old.slot);
}

void hmap_put(struct hmap *m, void *item)
{
    if (2 * (m->n + 1) > m->cap)
        grow(m);
    m->slot[find_slot(m, m->key(item))] = item;
    m->n++;
}

void *hmap_del(struct hmap *m, const uint8_t *key)
{
    if (!m->cap)
        return NULL;
    size_t i = find_slot(m, key);
    void *item = m->slot[i];
    if (!item)
        return NULL;
    /* Backward shift: move later members of the probe run into the hole when their home slot
     * does not lie cyclically within (hole, their slot]. */
    size_t mask = m->cap - 1;
    for (size_t j = (i + 1) & mask; m->slot[j]; j = (j + 1) & mask) {
        size_t k = home(m, m->key(m->slot[j]));
        if (((j - k) & mask) >= ((j - i) & mask)) {
            m->slot[i] = m->slot[j];
            i = j;
        }
    }
    m->slot[i] = NULL;
    m->n--;
    return item;
}
