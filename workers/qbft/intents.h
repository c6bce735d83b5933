/*
 * intents: the QBFT worker's in-memory view of its vote-intent WAL (SPEC §7.5).
 *
 * One entry per (instance, round, message type) this node ever signed for an open instance:
 * the exact intent bytes, whether StateDB has acknowledged them as durable, and the sends that
 * wait for that acknowledgement. The engine asks this cache (synchronously) before it signs; the
 * cache is filled from StateDB at start and by every new intent, so a key that has an entry is
 * never signed again with other bytes. Pure bookkeeping: no I/O.
 */
#ifndef AEQUA_QBFT_INTENTS_H
#define AEQUA_QBFT_INTENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

struct ikey {
    uint8_t duty;
    uint64_t height;
    uint64_t round;
    uint8_t type; /* proto/qbft.h enum qbft_type */
};

struct isend {
    uint32_t peer; /* P2P_BROADCAST for all */
    struct buf payload;
    struct isend *next;
};

struct ientry {
    struct ikey k;
    struct buf intent;                 /* the WAL record */
    bool durable;                      /* StateDB acknowledged it (synced) */
    bool in_flight;                    /* an append request is outstanding */
    struct isend *sends, **sends_tail; /* held until durable */
    struct ientry *next;               /* hash chain */
};

struct icache;

struct icache *icache_new(void);
void icache_free(struct icache *c);
struct ientry *icache_get(struct icache *c, const struct ikey *k);
/* A new entry (the key must not exist). */
struct ientry *icache_add(struct icache *c, const struct ikey *k, const uint8_t *bytes, size_t n,
                          bool durable);
/* Queue a send behind a non-durable entry (takes a copy of payload). */
void ientry_hold(struct ientry *e, uint32_t peer, const void *payload, size_t len);
/* Detach the held sends (caller sends and frees them with isend_free_list). */
struct isend *ientry_take_sends(struct ientry *e);
void isend_free_list(struct isend *s);
/* Visit every entry; stop early when fn returns false. */
void icache_foreach(struct icache *c, bool (*fn)(struct ientry *e, void *arg), void *arg);
/* Forget one key, or every key of a duty type below a height (entries with an append in
 * flight stay until it is answered). */
void icache_drop(struct icache *c, const struct ikey *k);
void icache_drop_below(struct icache *c, uint8_t duty, uint64_t below_height);
void icache_drop_instance(struct icache *c, uint8_t duty, uint64_t height);
/* Forget every durable entry that keep() refuses (none with held sends or an append in
 * flight). */
void icache_filter(struct icache *c, bool (*keep)(const struct ientry *e, void *arg), void *arg);
size_t icache_count(const struct icache *c);

#endif
