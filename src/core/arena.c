/* A bump allocator: thousands of small graph and task records freed in one go (ggml). */
#include "core/arena.h"

#include <string.h>

typedef struct block {
    struct block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} block;

struct lpi_arena {
    block *head;
};

lpi_arena *lpi_arena_create(void) { return lp_calloc(1, sizeof(lpi_arena)); }

void lpi_arena_destroy(lpi_arena *a) {
    if (!a) return;
    for (block *b = a->head, *n; b; b = n) { n = b->next; lp_free(b); }
    lp_free(a);
}

void *lpi_arena_alloc(lpi_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    block *b = a->head;
    if (!b || b->cap - b->used < n) {
        /* blocks double from 16 KiB to 1 MiB: a small plan or batch (most of them) stays
         * in one small block */
        size_t cap = b ? (b->cap < (1u << 20) ? 2 * b->cap : b->cap) : (16u << 10);
        if (cap < n) cap = n;
        b = lp_malloc(sizeof(block) + cap);
        if (!b) return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}
