#include "proto/control.h"
#include "lib/mp.h"

#include <string.h>

void ctl_hello_encode(struct buf *b, const struct ctl_hello *h)
{
    mp_w_array(b, 4);
    mp_w_cstr(b, h->name);
    mp_w_uint(b, h->generation);
    mp_w_uint(b, h->pid);
    mp_w_cstr(b, h->version);
}

int ctl_hello_decode(struct ctl_hello *h, const void *p, size_t n)
{
    struct mp_reader r;
    memset(h, 0, sizeof(*h));
    mp_reader_init(&r, p, n);
    mp_expect_array(&r, 4);
    mp_read_str_copy(&r, h->name, sizeof(h->name));
    mp_read_uint(&r, &h->generation);
    mp_read_u32(&r, &h->pid);
    mp_read_str_copy(&r, h->version, sizeof(h->version));
    return mp_reader_done(&r) ? 0 : -1;
}

void ctl_hello_ack_encode(struct buf *b, const struct ctl_hello_ack *a)
{
    mp_w_array(b, 2);
    mp_w_uint(b, a->supervisor_pid);
    mp_w_bool(b, a->accepted);
}

int ctl_hello_ack_decode(struct ctl_hello_ack *a, const void *p, size_t n)
{
    struct mp_reader r;
    memset(a, 0, sizeof(*a));
    mp_reader_init(&r, p, n);
    mp_expect_array(&r, 2);
    mp_read_u32(&r, &a->supervisor_pid);
    mp_read_bool(&r, &a->accepted);
    return mp_reader_done(&r) ? 0 : -1;
}

void ctl_beat_encode(struct buf *b, const struct ctl_beat *h)
{
    mp_w_array(b, 2);
    mp_w_uint(b, h->generation);
    mp_w_cstr(b, h->health);
}

int ctl_beat_decode(struct ctl_beat *h, const void *p, size_t n)
{
    struct mp_reader r;
    memset(h, 0, sizeof(*h));
    mp_reader_init(&r, p, n);
    mp_expect_array(&r, 2);
    mp_read_uint(&r, &h->generation);
    mp_read_str_copy(&r, h->health, sizeof(h->health));
    return mp_reader_done(&r) ? 0 : -1;
}

void ctl_peers_encode(struct buf *b, const struct ctl_peers *p)
{
    mp_w_array(b, W_COUNT);
    for (unsigned i = 0; i < W_COUNT; i++) {
        const struct ctl_peer *w = &p->w[i];
        mp_w_array(b, 3);
        mp_w_uint(b, w->pid);
        mp_w_uint(b, w->generation);
        mp_w_array(b, CTL_PEERS_RETIRED);
        for (unsigned k = 0; k < CTL_PEERS_RETIRED; k++)
            mp_w_uint(b, w->retired[k]);
    }
}

int ctl_peers_decode(struct ctl_peers *p, const void *body, size_t n)
{
    struct mp_reader r;
    memset(p, 0, sizeof(*p));
    mp_reader_init(&r, body, n);
    mp_expect_array(&r, W_COUNT);
    for (unsigned i = 0; i < W_COUNT && !r.err; i++) {
        struct ctl_peer *w = &p->w[i];
        mp_expect_array(&r, 3);
        mp_read_u32(&r, &w->pid);
        mp_read_uint(&r, &w->generation);
        mp_expect_array(&r, CTL_PEERS_RETIRED);
        for (unsigned k = 0; k < CTL_PEERS_RETIRED; k++)
            mp_read_u32(&r, &w->retired[k]);
    }
    return mp_reader_done(&r) ? 0 : -1;
}

void status_encode(struct buf *b, const struct status_report *s)
{
    mp_w_array(b, 5);
    mp_w_uint(b, s->index);
    mp_w_cstr(b, s->peer_id);
    mp_w_cstr(b, s->version);
    mp_w_cstr(b, s->cluster);
    mp_w_array(b, s->nworkers);
    for (uint32_t i = 0; i < s->nworkers; i++) {
        const struct status_worker *w = &s->workers[i];
        mp_w_array(b, 9);
        mp_w_cstr(b, w->name);
        mp_w_cstr(b, w->state);
        mp_w_int(b, w->pid);
        mp_w_uint(b, w->generation);
        mp_w_uint(b, w->restarts);
        mp_w_cstr(b, w->last_exit);
        mp_w_uint(b, (uint64_t)(w->uptime_s * 1000.0));
        mp_w_cstr(b, w->health);
        mp_w_bool(b, w->required);
    }
}

int status_decode(struct status_report *s, const void *p, size_t n)
{
    struct mp_reader r;
    memset(s, 0, sizeof(*s));
    mp_reader_init(&r, p, n);
    mp_expect_array(&r, 5);
    mp_read_uint(&r, &s->index);
    mp_read_str_copy(&r, s->peer_id, sizeof(s->peer_id));
    mp_read_str_copy(&r, s->version, sizeof(s->version));
    mp_read_str_copy(&r, s->cluster, sizeof(s->cluster));
    if (mp_read_array(&r, &s->nworkers) < 0 || s->nworkers > STATUS_MAX_WORKERS)
        return -1;
    for (uint32_t i = 0; i < s->nworkers; i++) {
        struct status_worker *w = &s->workers[i];
        uint64_t ms = 0;
        mp_expect_array(&r, 9);
        mp_read_str_copy(&r, w->name, sizeof(w->name));
        mp_read_str_copy(&r, w->state, sizeof(w->state));
        mp_read_int(&r, &w->pid);
        mp_read_uint(&r, &w->generation);
        mp_read_uint(&r, &w->restarts);
        mp_read_str_copy(&r, w->last_exit, sizeof(w->last_exit));
        mp_read_uint(&r, &ms);
        mp_read_str_copy(&r, w->health, sizeof(w->health));
        mp_read_bool(&r, &w->required);
        w->uptime_s = (double)ms / 1000.0;
    }
    return mp_reader_done(&r) ? 0 : -1;
}
