/*
 * heap: a binary heap of pointers in the order of a caller's "before" function (the element that
 * comes first is at the top). Optionally indexed: with pos_off other than HEAP_NO_POS, every
 * element holds its position (a size_t at that offset; HEAP_ABSENT when not in the heap), so it
 * can be removed from the middle in O(log n).
 *
 * Owns only its array; the elements are the caller's. Allocation failure is fatal (lib/util).
 */
#ifndef AEQUA_BUILDER_HEAP_H
#define AEQUA_BUILDER_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEAP_NO_POS SIZE_MAX
#define HEAP_ABSENT SIZE_MAX

struct heap {
    void **v;
    size_t n, cap;
    bool (*before)(const void *a, const void *b);
    size_t pos_off;
};

void heap_init(struct heap *h, bool (*before)(const void *a, const void *b), size_t pos_off);
void heap_free(struct heap *h);

void heap_push(struct heap *h, void *e);
/* The top element, or NULL when empty. */
void *heap_top(const struct heap *h);
/* The first element in heap order that is not skip, or NULL (looks at the top and its children). */
void *heap_top_except(const struct heap *h, const void *skip);
void *heap_pop(struct heap *h);
/* Restore the order after the top element's key changed. */
void heap_fix_top(struct heap *h);
/* Indexed heaps only: remove e (which must be in the heap). */
void heap_remove(struct heap *h, void *e);

#endif
