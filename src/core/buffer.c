/* Reference-counted dense buffers: computed chunks and results. */
#include "core/core.h"

#include <string.h>

static lp_buffer *buffer_alloc(lp_dtype dt, int ndim, const int64_t *shape) {
    lp_buffer *b = lp_calloc(1, sizeof *b);
    if (!b) return NULL;
    atomic_init(&b->refcnt, 1);
    b->dtype = dt;
    b->ndim = ndim;
    if (ndim) memcpy(b->shape, shape, (size_t)ndim * sizeof *shape);
    return b;
}

lp_buffer *lpi_buffer_new(lp_dtype dt, int ndim, const int64_t *shape) {
    int64_t n;
    if (!lpi_shape_size(ndim, shape, &n)) return NULL;
    size_t bytes;
    if (__builtin_mul_overflow((size_t)n, lp_dtype_size(dt), &bytes)) return NULL;
    lp_buffer *b = buffer_alloc(dt, ndim, shape);
    if (!b) return NULL;
    b->nbytes = bytes;
    b->data = lp_malloc_aligned(bytes);
    if (!b->data) { lp_free(b); return NULL; }
    b->owned = true;
    return b;
}

lp_buffer *lpi_buffer_wrap(void *data, size_t nbytes, lp_dtype dt, int ndim, const int64_t *shape,
                           void (*release)(void *), void *arg) {
    lp_buffer *b = buffer_alloc(dt, ndim, shape);
    if (!b) return NULL;
    b->data = data;
    b->nbytes = nbytes;
    b->release = release;
    b->release_arg = arg;
    return b;
}

void lp_buffer_retain(lp_buffer *b) {
    if (b) atomic_fetch_add_explicit(&b->refcnt, 1, memory_order_relaxed);
}

void lp_buffer_release(lp_buffer *b) {
    if (!b) return;
    if (atomic_fetch_sub_explicit(&b->refcnt, 1, memory_order_acq_rel) != 1) return;
    if (b->owned) lp_free_aligned(b->data);
    else if (b->release) b->release(b->release_arg);
    lp_free(b);
}

void *lp_buffer_data(const lp_buffer *b) { return b->data; }
lp_dtype lp_buffer_dtype(const lp_buffer *b) { return b->dtype; }
int lp_buffer_ndim(const lp_buffer *b) { return b->ndim; }
const int64_t *lp_buffer_shape(const lp_buffer *b) { return b->shape; }
size_t lp_buffer_nbytes(const lp_buffer *b) { return b->nbytes; }
int64_t lp_buffer_size(const lp_buffer *b) {
    int64_t n = 1;
    for (int i = 0; i < b->ndim; i++) n *= b->shape[i];
    return n;
}

lp_status lp_buffer_create(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape,
                           const void *data, lp_buffer **out) {
    *out = NULL;
    if ((unsigned)dt >= LP_DTYPE_COUNT) return lpi_error(ctx, LP_ERR_TYPE, "invalid dtype %d", (int)dt);
    if (ndim < 0 || ndim > LP_MAX_NDIM)
        return lpi_error(ctx, LP_ERR_VALUE, "ndim %d is out of range 0..%d", ndim, LP_MAX_NDIM);
    int64_t n;
    if (!lpi_shape_size(ndim, shape, &n))
        return lpi_error(ctx, LP_ERR_VALUE, "invalid shape (negative dimension or too large)");
    lp_buffer *b = lpi_buffer_new(dt, ndim, shape);
    if (!b) return lpi_nomem(ctx);
    if (data && b->nbytes) memcpy(b->data, data, b->nbytes);
    *out = b;
    return LP_OK;
}
