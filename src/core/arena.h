/* A bump allocator: graph- and plan-internal data lives in one arena freed in one go (ggml). */
#ifndef LP_CORE_ARENA_H
#define LP_CORE_ARENA_H

#include "core/core.h"

typedef struct lpi_arena lpi_arena;
lpi_arena *lpi_arena_create(void);
void lpi_arena_destroy(lpi_arena *a);
void *lpi_arena_alloc(lpi_arena *a, size_t n); /* zeroed, 16-aligned; NULL on OOM */

#endif
