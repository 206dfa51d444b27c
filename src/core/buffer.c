/* Reference-counted dense buffers: computed chunks and results. */
#include "core/core.h"

#include <string.h>
#include <unistd.h>

/* A small cache of large chunk buffers. A run frees and allocates chunks of the same few sizes
 * over and over; handing a freed chunk to the next task of the same size skips the page faults
 * and the kernel's zeroing of fresh memory (5-15% of a bandwidth-bound run). Bounded, shared by
 * all contexts, emptied when the last context is destroyed (lpi_buffer_cache_trim); a long-lived
 * process (a worker) drops what has not been reused for a while (lpi_buffer_cache_trim_idle). */
#define CACHE_MIN ((size_t)1 << 20)
/* slots for every run's chunks of a large sort (256 runs of a 64M sort with 2 MiB chunks are
 * all live until the merges end; with 32 slots the next sort faulted 7/8 of them in again);
 * the byte cap is what bounds the memory kept */
#define CACHE_SLOTS 1024

/* The bytes kept: 2 GiB, at most a quarter of the machine's memory. A 64M float64 sort frees
 * 1.25 GiB (its runs, its scratch, then the 512 MiB result); with 1 GiB the result's pages were
 * faulted in and zeroed again by the next sort, a fifth of its CPU time. */
static size_t cache_cap(void) {
    static size_t cap;
    if (!cap) {
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        size_t c = (size_t)2 << 30;
        if (pages > 0 && psz > 0 && (size_t)pages / 4 * (size_t)psz < c) c = (size_t)pages / 4 * (size_t)psz;
        cap = c;
    }
    return cap;
}

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct { void *p; size_t sz; double t; } cache[CACHE_SLOTS];
static int ncache;
static size_t cache_bytes;

static void *cache_get(size_t sz) {
    void *p = NULL;
    pthread_mutex_lock(&cache_mu);
    for (int i = ncache - 1; i >= 0; i--)
        if (cache[i].sz == sz) {
            p = cache[i].p;
            cache_bytes -= sz;
            cache[i] = cache[--ncache];
            break;
        }
    pthread_mutex_unlock(&cache_mu);
    return p;
}

static void cache_put(void *p, size_t sz) {
    if (sz >= CACHE_MIN) {
        pthread_mutex_lock(&cache_mu);
        bool kept = ncache < CACHE_SLOTS && cache_bytes + sz <= cache_cap();
        if (kept) {
            cache[ncache].p = p;
            cache[ncache].t = lpi_now();
            cache[ncache++].sz = sz;
            cache_bytes += sz;
        }
        pthread_mutex_unlock(&cache_mu);
        if (kept) return;
    }
    lp_free_aligned(p);
}

void lpi_buffer_cache_trim(void) { lpi_buffer_cache_trim_idle(-1); }

size_t lpi_buffer_cache_trim_idle(double idle_sec) {
    void *drop[CACHE_SLOTS];
    int nd = 0;
    size_t freed = 0;
    double now = lpi_now();
    pthread_mutex_lock(&cache_mu);
    for (int i = 0; i < ncache;) {
        if (now - cache[i].t > idle_sec) {
            drop[nd++] = cache[i].p;
            freed += cache[i].sz;
            cache_bytes -= cache[i].sz;
            cache[i] = cache[--ncache];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&cache_mu);
    for (int i = 0; i < nd; i++) lp_free_aligned(drop[i]);
    return freed;
}

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
    b->data = bytes >= CACHE_MIN ? cache_get(bytes) : NULL;
    if (!b->data) b->data = lp_malloc_aligned(bytes);
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
    if (b->owned) cache_put(b->data, b->nbytes);
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
