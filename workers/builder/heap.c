#include "workers/builder/heap.h"
#include "lib/util.h"

#include <stdlib.h>

void heap_init(struct heap *h, bool (*before)(const void *a, const void *b), size_t pos_off)
{
    *h = (struct heap){.before = before, .pos_off = pos_off};
}

void heap_free(struct heap *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

static void place(struct heap *h, size_t i, void *e)
{
    h->v[i] = e;
    if (h->pos_off != HEAP_NO_POS)
        *(size_t *)((char *)e + h->pos_off) = i;
}

static void sift_up(struct heap *h, size_t i)
{
    void *e = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!h->before(e, h->v[parent]))
            break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, e);
}

static void sift_down(struct heap *h, size_t i)
{
    void *e = h->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->before(h->v[c + 1], h->v[c]))
            c++;
        if (!h->before(h->v[c], e))
            break;
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, e);
}

void heap_push(struct heap *h, void *e)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 64;
        h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
    }
    h->v[h->n++] = e;
    sift_up(h, h->n - 1);
}

void *heap_top(const struct heap *h)
{
    return h->n ? h->v[0] : NULL;
}

void *heap_top_except(const struct heap *h, const void *skip)
{
    if (h->n == 0)
        return NULL;
    if (h->v[0] != skip)
        return h->v[0];
    /* The second in order is one of the top's children. */
    if (h->n == 1)
        return NULL;
    if (h->n == 2 || h->before(h->v[1], h->v[2]))
        return h->v[1];
    return h->v[2];
}

static void take_out(struct heap *h, size_t i)
{
    void *gone = h->v[i];
    if (h->pos_off != HEAP_NO_POS)
        *(size_t *)((char *)gone + h->pos_off) = HEAP_ABSENT;
    h->n--;
    if (i == h->n)
        return;
    place(h, i, h->v[h->n]);
    if (i > 0 && h->before(h->v[i], h->v[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

void *heap_pop(struct heap *h)
{
    if (h->n == 0)
        return NULL;
    void *top = h->v[0];
    take_out(h, 0);
    return top;
}

void heap_fix_top(struct heap *h)
{
    if (h->n)
        sift_down(h, 0);
}

void heap_remove(struct heap *h, void *e)
{
    take_out(h, *(size_t *)((char *)e + h->pos_off));
}
