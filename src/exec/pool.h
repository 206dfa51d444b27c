/* A persistent thread pool: lpi_pool_run runs fn on every pool thread and on the caller. */
#ifndef LP_POOL_H
#define LP_POOL_H

#include "core/core.h"

typedef struct lpi_pool lpi_pool;

/* nworkers counts the caller: nworkers - 1 threads are started. */
lp_status lpi_pool_create(lp_ctx *ctx, int nworkers, lpi_pool **out);
void lpi_pool_destroy(lpi_pool *p);
/* The context's pool (in its slot), created on first use with lpi_ctx_workers(ctx) workers;
 * NULL when that fails (the message is on ctx). */
lpi_pool *lpi_ctx_pool(lp_ctx *ctx);
int lpi_pool_size(const lpi_pool *p);
/* fn(arg, worker) for worker in [0, size); returns when every call has returned. */
void lpi_pool_run(lpi_pool *p, void (*fn)(void *arg, int worker), void *arg);

#endif
