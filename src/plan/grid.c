/* Chunk grids: per-axis boundaries (irregular allowed, as in Dask), and the automatic choice. */
#include "plan/plan.h"
#include "plan/cost.h"

#include <string.h>

/* Bytes per chunk when the user did not say: large enough that per-task overhead (~µs) is
 * noise against the memory traffic, small enough that a big array yields enough tasks to keep
 * every core busy and to stream through memory; a large array gets the machine profile's best
 * streaming chunk (plan/cost.c). Independent of the thread count, and results are the same bits
 * for any chunking, so the pool size and the profile never change a result. */
size_t lpi_target_chunk_bytes(lp_ctx *ctx, int64_t total_bytes) {
    if (ctx->chunk_bytes) return ctx->chunk_bytes;
    /* small arrays do not read the profile (nor load it) */
    if (total_bytes / 16 <= LPI_CHUNK_MIN) return (size_t)LPI_CHUNK_MIN;
    return (size_t)lpi_cost_chunk_bytes(lpi_profile_planning(ctx), total_bytes);
}

lp_status lpi_grid_from_bounds(lpi_arena *ar, lpi_grid *g) {
    (void)ar;
    g->total = 1;
    for (int i = 0; i < g->ndim; i++) g->total *= g->nchunks[i];
    return LP_OK;
}

static lp_status regular_axis(lp_ctx *ctx, lpi_arena *ar, lpi_grid *g, int ax, int64_t n, int64_t c) {
    if (c <= 0 || c > n) c = n;
    /* written so that nothing exceeds n: an axis may be near 2**63 long */
    int64_t k = n == 0 ? 1 : (n - 1) / c + 1;
    int64_t *b = lpi_arena_alloc(ar, (size_t)(k + 1) * sizeof *b);
    if (!b) return lpi_nomem(ctx);
    for (int64_t i = 0; i <= k; i++) b[i] = i < k ? i * c : n;
    g->nchunks[ax] = k;
    g->bounds[ax] = b;
    return LP_OK;
}

/* Leading axes are split first: rows of a C-order array are contiguous, and a .npy file is
 * read by rows. */
lp_status lpi_grid_auto(lp_ctx *ctx, lpi_arena *ar, int ndim, const int64_t *shape, size_t itemsize,
                        const int64_t *hint, lpi_grid *g) {
    memset(g, 0, sizeof *g);
    g->ndim = ndim;
    memcpy(g->shape, shape, (size_t)ndim * sizeof *shape);
    lp_status st;
    /* an empty array is one (empty) chunk, whatever the other dimensions or hints say:
     * zeros((10**12, 0)) must not plan 10**12 / k tasks that have nothing to do */
    bool empty = false;
    for (int i = 0; i < ndim; i++) empty |= shape[i] == 0;
    if (empty) {
        for (int i = 0; i < ndim; i++)
            if ((st = regular_axis(ctx, ar, g, i, shape[i], shape[i]))) return st;
        return lpi_grid_from_bounds(ar, g);
    }
    /* a non-empty array's bytes fit: lpi_node_new bounds its size */
    int64_t total = (int64_t)itemsize;
    for (int i = 0; i < ndim; i++) total *= shape[i];
    int64_t target = (int64_t)lpi_target_chunk_bytes(ctx, total);
    int64_t chunk[LP_MAX_NDIM];
    /* trailing axes whole as long as one "row" fits the target */
    int64_t inner = (int64_t)itemsize;
    for (int i = ndim - 1; i >= 0; i--) {
        int64_t n = shape[i];
        if (inner * n <= target) { chunk[i] = n; inner *= n; continue; }
        int64_t c = target / inner;
        chunk[i] = c < 1 ? 1 : c;
        inner *= chunk[i];
        for (int j = i - 1; j >= 0; j--) chunk[j] = 1;
        break;
    }
    for (int i = 0; i < ndim; i++) {
        int64_t c = hint && hint[i] > 0 ? hint[i] : chunk[i];
        if ((st = regular_axis(ctx, ar, g, i, shape[i], c))) return st;
    }
    return lpi_grid_from_bounds(ar, g);
}

void lpi_grid_chunk_box(const lpi_grid *g, int64_t chunk, lpi_box *box) {
    box->ndim = g->ndim;
    for (int i = g->ndim - 1; i >= 0; i--) {
        int64_t k = chunk % g->nchunks[i];
        chunk /= g->nchunks[i];
        box->lo[i] = g->bounds[i][k];
        box->hi[i] = g->bounds[i][k + 1];
    }
}
