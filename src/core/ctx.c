/* The context: settings, the error slot, and the slots where upper layers keep their state. */
#include "core/core.h"

#include <sched.h>
#include <string.h>
#include <unistd.h>

static atomic_int live_contexts;

lp_status lp_ctx_create(lp_ctx **out) {
    lp_ctx *ctx = lp_calloc(1, sizeof *ctx);
    *out = NULL;
    if (!ctx) return LP_ERR_NOMEM;
    atomic_fetch_add(&live_contexts, 1);
    pthread_mutex_init(&ctx->err_lock, NULL);
    ctx->fusion = true;
    atomic_init(&ctx->cancel, 0);
    *out = ctx;
    return LP_OK;
}

void lp_ctx_destroy(lp_ctx *ctx) {
    if (!ctx) return;
    for (int s = 0; s < LPI_SLOT_COUNT; s++) lpi_ctx_set_slot(ctx, (lpi_slot)s, NULL, NULL);
    pthread_mutex_destroy(&ctx->err_lock);
    lp_free(ctx);
    /* recycled chunk memory is kept only while Lampy is in use */
    if (atomic_fetch_sub(&live_contexts, 1) == 1) lpi_buffer_cache_trim();
}

lp_status lp_ctx_set_threads(lp_ctx *ctx, int n) {
    if (n < 0 || n > 1024) return lpi_error(ctx, LP_ERR_VALUE, "threads must be 0..1024, got %d", n);
    if (n != ctx->nthreads) lpi_ctx_set_slot(ctx, LPI_SLOT_POOL, NULL, NULL); /* resized on the next run */
    ctx->nthreads = n;
    return LP_OK;
}
int lp_ctx_threads(const lp_ctx *ctx) { return ctx->nthreads; }

lp_status lp_ctx_set_chunk_bytes(lp_ctx *ctx, size_t bytes) {
    if (bytes != 0 && bytes < 64)
        return lpi_error(ctx, LP_ERR_VALUE, "chunk_bytes must be 0 (automatic) or at least 64");
    ctx->chunk_bytes = bytes;
    return LP_OK;
}
size_t lp_ctx_chunk_bytes(const lp_ctx *ctx) { return ctx->chunk_bytes; }

lp_status lp_ctx_set_fusion(lp_ctx *ctx, bool on) { ctx->fusion = on; return LP_OK; }

void lp_cancel(lp_ctx *ctx) { if (ctx) atomic_store(&ctx->cancel, 1); }

void lp_last_run_stats(const lp_ctx *ctx, lp_run_stats *out) { *out = ctx->stats; }

void lpi_ctx_set_slot(lp_ctx *ctx, lpi_slot s, void *p, void (*destroy)(void *)) {
    if (ctx->slot[s].ptr && ctx->slot[s].ptr != p && ctx->slot[s].destroy) ctx->slot[s].destroy(ctx->slot[s].ptr);
    ctx->slot[s].ptr = p;
    ctx->slot[s].destroy = destroy;
}

int lpi_ncores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int lpi_ctx_workers(const lp_ctx *ctx) { return ctx->nthreads ? ctx->nthreads : lpi_ncores(); }

/* Set once, by a library constructor, before any context exists: no lock needed. */
static lpi_run_now_fn run_now;

void lpi_set_run_now(lpi_run_now_fn fn) { run_now = fn; }

lp_status lpi_run_now(lp_ctx *ctx, lp_array *const *targets, int n) {
    if (!run_now) return lpi_error(ctx, LP_ERR_INTERNAL, "no executor is linked to compute a value while building");
    return run_now(ctx, targets, n, NULL);
}
