#include "workers/api/conn_limit.h"
#include "lib/util.h"

#include <stdlib.h>

#define NONE UINT32_MAX

struct conn_addr_entry {
    uint32_t addr;
    uint32_t count;
    uint32_t next; /* hash chain, or free list */
    struct conn_slot *idle_head, *idle_tail;
};

void conn_limit_init(struct conn_limit *cl, uint32_t max_total, uint32_t max_per_address)
{
    *cl = (struct conn_limit){.max_total = max_total, .max_per_address = max_per_address};
    cl->nbuckets = 1;
    while (cl->nbuckets < 2 * max_total)
        cl->nbuckets <<= 1;
    cl->buckets = xcalloc(cl->nbuckets, sizeof(*cl->buckets));
    for (uint32_t i = 0; i < cl->nbuckets; i++)
        cl->buckets[i] = NONE;
    cl->entries = xcalloc(max_total, sizeof(*cl->entries));
    for (uint32_t i = 0; i < max_total; i++)
        cl->entries[i].next = i + 1 < max_total ? i + 1 : NONE;
    cl->free_entry = 0;
}

void conn_limit_free(struct conn_limit *cl)
{
    free(cl->buckets);
    free(cl->entries);
    *cl = (struct conn_limit){0};
}

static uint32_t bucket_of(const struct conn_limit *cl, uint32_t addr)
{
    uint32_t h = addr * 2654435761u;
    return (h ^ h >> 16) & (cl->nbuckets - 1);
}

static uint32_t find(const struct conn_limit *cl, uint32_t addr)
{
    for (uint32_t e = cl->buckets[bucket_of(cl, addr)]; e != NONE; e = cl->entries[e].next)
        if (cl->entries[e].addr == addr)
            return e;
    return NONE;
}

uint32_t conn_limit_count(const struct conn_limit *cl, uint32_t addr)
{
    uint32_t e = find(cl, addr);
    return e == NONE ? 0 : cl->entries[e].count;
}

enum conn_admit conn_limit_admit(const struct conn_limit *cl, uint32_t addr,
                                 struct conn_slot **victim)
{
    uint32_t e = find(cl, addr);
    *victim = NULL;
    if (e != NONE && cl->entries[e].count >= cl->max_per_address) {
        *victim = cl->entries[e].idle_head;
        return *victim ? CONN_EVICT : CONN_REJECT_PER_ADDRESS;
    }
    if (cl->open >= cl->max_total) {
        *victim = cl->idle_head;
        return *victim ? CONN_EVICT : CONN_REJECT_TOTAL;
    }
    return CONN_ADMIT;
}

void conn_limit_add(struct conn_limit *cl, struct conn_slot *s, uint32_t addr)
{
    uint32_t e = find(cl, addr);
    if (e == NONE) {
        /* admit() said there is room, so open < max_total and a free entry exists */
        e = cl->free_entry;
        if (e == NONE)
            fatalx("conn_limit_add without room");
        struct conn_addr_entry *a = &cl->entries[e];
        cl->free_entry = a->next;
        uint32_t b = bucket_of(cl, addr);
        *a = (struct conn_addr_entry){.addr = addr, .next = cl->buckets[b]};
        cl->buckets[b] = e;
    }
    cl->entries[e].count++;
    cl->open++;
    *s = (struct conn_slot){.addr = addr, .entry = e};
}

void conn_limit_set_idle(struct conn_limit *cl, struct conn_slot *s, bool idle)
{
    if (s->idle == idle)
        return;
    struct conn_addr_entry *a = &cl->entries[s->entry];
    s->idle = idle;
    if (idle) {
        s->next = NULL;
        s->prev = cl->idle_tail;
        *(cl->idle_tail ? &cl->idle_tail->next : &cl->idle_head) = s;
        cl->idle_tail = s;
        s->anext = NULL;
        s->aprev = a->idle_tail;
        *(a->idle_tail ? &a->idle_tail->anext : &a->idle_head) = s;
        a->idle_tail = s;
        return;
    }
    *(s->prev ? &s->prev->next : &cl->idle_head) = s->next;
    *(s->next ? &s->next->prev : &cl->idle_tail) = s->prev;
    *(s->aprev ? &s->aprev->anext : &a->idle_head) = s->anext;
    *(s->anext ? &s->anext->aprev : &a->idle_tail) = s->aprev;
    s->prev = s->next = s->aprev = s->anext = NULL;
}

void conn_limit_remove(struct conn_limit *cl, struct conn_slot *s)
{
    conn_limit_set_idle(cl, s, false);
    struct conn_addr_entry *a = &cl->entries[s->entry];
    cl->open--;
    if (--a->count > 0)
        return;
    uint32_t *link = &cl->buckets[bucket_of(cl, a->addr)];
    while (*link != s->entry)
        link = &cl->entries[*link].next;
    *link = a->next;
    a->next = cl->free_entry;
    cl->free_entry = s->entry;
}
