#include "workers/qbft/intents.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096

struct icache {
    struct ientry *b[BUCKETS];
    size_t n;
};

/* Every key of one instance falls in one bucket, so an instance's intents go at once. */
static size_t bucket_of_instance(uint8_t duty, uint64_t height)
{
    uint64_t h = height * 0x9e3779b97f4a7c15ull ^ duty;
    return (size_t)(h ^ h >> 29) & (BUCKETS - 1);
}

static size_t bucket_of(const struct ikey *k)
{
    return bucket_of_instance(k->duty, k->height);
}

static bool key_eq(const struct ikey *a, const struct ikey *b)
{
    return a->duty == b->duty && a->height == b->height && a->round == b->round &&
           a->type == b->type;
}

struct icache *icache_new(void)
{
    return xcalloc(1, sizeof(struct icache));
}

static void entry_free(struct ientry *e)
{
    buf_free(&e->intent);
    isend_free_list(e->sends);
    free(e);
}

void icache_free(struct icache *c)
{
    for (size_t i = 0; i < BUCKETS; i++) {
        while (c->b[i]) {
            struct ientry *e = c->b[i];
            c->b[i] = e->next;
            entry_free(e);
        }
    }
    free(c);
}

struct ientry *icache_get(struct icache *c, const struct ikey *k)
{
    for (struct ientry *e = c->b[bucket_of(k)]; e; e = e->next)
        if (key_eq(&e->k, k))
            return e;
    return NULL;
}

struct ientry *icache_add(struct icache *c, const struct ikey *k, const uint8_t *bytes, size_t n,
                          bool durable)
{
    struct ientry *e = xcalloc(1, sizeof(*e));
    size_t b = bucket_of(k);
    e->k = *k;
    buf_append(&e->intent, bytes, n);
    e->durable = durable;
    e->sends_tail = &e->sends;
    e->next = c->b[b];
    c->b[b] = e;
    c->n++;
    return e;
}

void ientry_hold(struct ientry *e, uint32_t peer, const void *payload, size_t len)
{
    struct isend *s = xcalloc(1, sizeof(*s));
    s->peer = peer;
    buf_append(&s->payload, payload, len);
    *e->sends_tail = s;
    e->sends_tail = &s->next;
}

struct isend *ientry_take_sends(struct ientry *e)
{
    struct isend *s = e->sends;
    e->sends = NULL;
    e->sends_tail = &e->sends;
    return s;
}

void isend_free_list(struct isend *s)
{
    while (s) {
        struct isend *next = s->next;
        buf_free(&s->payload);
        free(s);
        s = next;
    }
}

void icache_foreach(struct icache *c, bool (*fn)(struct ientry *e, void *arg), void *arg)
{
    for (size_t i = 0; i < BUCKETS; i++)
        for (struct ientry *e = c->b[i]; e; e = e->next)
            if (!fn(e, arg))
                return;
}

void icache_drop(struct icache *c, const struct ikey *k)
{
    struct ientry **pp = &c->b[bucket_of(k)];
    while (*pp && !key_eq(&(*pp)->k, k))
        pp = &(*pp)->next;
    struct ientry *e = *pp;
    if (e && !e->in_flight) {
        *pp = e->next;
        entry_free(e);
        c->n--;
    }
}

void icache_drop_below(struct icache *c, uint8_t duty, uint64_t below_height)
{
    for (size_t i = 0; i < BUCKETS; i++) {
        struct ientry **pp = &c->b[i];
        while (*pp) {
            struct ientry *e = *pp;
            if (e->k.duty == duty && e->k.height < below_height && !e->in_flight) {
                *pp = e->next;
                entry_free(e);
                c->n--;
            } else {
                pp = &e->next;
            }
        }
    }
}

void icache_drop_instance(struct icache *c, uint8_t duty, uint64_t height)
{
    struct ientry **pp = &c->b[bucket_of_instance(duty, height)];
    while (*pp) {
        struct ientry *e = *pp;
        if (e->k.duty == duty && e->k.height == height && !e->in_flight) {
            *pp = e->next;
            entry_free(e);
            c->n--;
        } else {
            pp = &e->next;
        }
    }
}

void icache_filter(struct icache *c, bool (*keep)(const struct ientry *e, void *arg), void *arg)
{
    for (size_t i = 0; i < BUCKETS; i++) {
        struct ientry **pp = &c->b[i];
        while (*pp) {
            struct ientry *e = *pp;
            if (e->durable && !e->in_flight && !e->sends && !keep(e, arg)) {
                *pp = e->next;
                entry_free(e);
                c->n--;
            } else {
                pp = &e->next;
            }
        }
    }
}

size_t icache_count(const struct icache *c)
{
    return c->n;
}
