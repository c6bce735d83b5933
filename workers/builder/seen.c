#include "workers/builder/seen.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t *entry_key(const void *item)
{
    return item;
}

void seen_init(struct seen *s, uint64_t seed)
{
    memset(s, 0, sizeof(*s));
    s->ring = xcalloc(SEEN_MAX, SHA256_LEN);
    hmap_init(&s->set, entry_key, SHA256_LEN, seed);
}

void seen_free(struct seen *s)
{
    hmap_free(&s->set);
    free(s->ring);
    memset(s, 0, sizeof(*s));
}

bool seen_has(const struct seen *s, const uint8_t hash[SHA256_LEN])
{
    return hmap_get(&s->set, hash) != NULL;
}

void seen_add(struct seen *s, const uint8_t hash[SHA256_LEN])
{
    if (seen_has(s, hash))
        return;
    uint8_t *slot = s->ring[s->next];
    if (s->n == SEEN_MAX)
        hmap_del(&s->set, slot); /* the oldest goes */
    else
        s->n++;
    memcpy(slot, hash, SHA256_LEN);
    hmap_put(&s->set, slot);
    s->next = (s->next + 1) % SEEN_MAX;
}
