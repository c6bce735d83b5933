/*
 * conn_limit: who may hold a connection to one HTTP listener, as a pure table (no sockets, no
 * clock): a cap per source address and one in total. When a cap is reached, an idle keep-alive
 * connection gives way first — the oldest of that address for the per-address cap, the oldest of
 * all for the total cap; with none idle, the newcomer is refused.
 *
 * The connection front (front.c) embeds a conn_slot in each client connection, asks
 * conn_limit_admit() before it keeps an accepted socket, and says when a connection goes idle,
 * works again or goes away. It owns the table; the table's size is fixed at init (one address
 * entry per connection at most), so nothing a client does makes it grow.
 */
#ifndef AEQUA_API_CONN_LIMIT_H
#define AEQUA_API_CONN_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct conn_slot {
    uint32_t addr;                   /* IPv4 address, host order */
    uint32_t entry;                  /* its row in the address table */
    bool idle;                       /* an idle keep-alive connection */
    struct conn_slot *prev, *next;   /* all idle connections, oldest first */
    struct conn_slot *aprev, *anext; /* this address's idle connections, oldest first */
};

enum conn_admit {
    CONN_ADMIT,              /* keep it: conn_limit_add() */
    CONN_EVICT,              /* close *victim first (conn_limit_remove), then ask again */
    CONN_REJECT_PER_ADDRESS, /* its address holds max_per_address connections, none idle */
    CONN_REJECT_TOTAL,       /* the listener holds max_total connections, none idle */
};

struct conn_addr_entry;

struct conn_limit {
    uint32_t max_total, max_per_address;
    uint32_t open; /* connections held */
    struct conn_addr_entry *entries;
    uint32_t *buckets, nbuckets; /* hash chains of entries; nbuckets a power of two */
    uint32_t free_entry;         /* head of the free entries */
    struct conn_slot *idle_head, *idle_tail;
};

/* max_per_address <= max_total, both >= 1. */
void conn_limit_init(struct conn_limit *cl, uint32_t max_total, uint32_t max_per_address);
void conn_limit_free(struct conn_limit *cl);

enum conn_admit conn_limit_admit(const struct conn_limit *cl, uint32_t addr,
                                 struct conn_slot **victim);
/* Count a connection admitted with CONN_ADMIT (busy: not idle). */
void conn_limit_add(struct conn_limit *cl, struct conn_slot *s, uint32_t addr);
void conn_limit_remove(struct conn_limit *cl, struct conn_slot *s);
/* An idle keep-alive connection (true), or one that works on a request again (false). */
void conn_limit_set_idle(struct conn_limit *cl, struct conn_slot *s, bool idle);
/* Connections held by an address. */
uint32_t conn_limit_count(const struct conn_limit *cl, uint32_t addr);

#endif
