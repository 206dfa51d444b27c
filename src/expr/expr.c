/* Lazy nodes: creation, reference counting, type and shape inference for every op. */
#include "expr/expr.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const lpi_opinfo lpi_ops[LPI_OP_COUNT] = {
#define X(id, name, nin, kind, flops) [LPI_OP_##id] = {name, nin, kind, flops},
#include "expr/ops.def"
#undef X
};

bool lpi_op_lookup(const char *name, lpi_op *out) {
    for (int i = 0; i < LPI_OP_COUNT; i++)
        if (strcmp(lpi_ops[i].name, name) == 0) { *out = (lpi_op)i; return true; }
    return false;
}

static atomic_ulong next_id;

lp_status lpi_node_new(lp_ctx *ctx, lpi_op op, lp_dtype dt, int ndim, const int64_t *shape,
                       int nin, lp_array *const *in, lp_array **out) {
    *out = NULL;
    if (ndim < 0 || ndim > LP_MAX_NDIM)
        return lpi_error(ctx, LP_ERR_VALUE, "%s: result would have %d dimensions; at most %d are supported",
                         lpi_ops[op].name, ndim, LP_MAX_NDIM);
    int64_t size;
    if (!lpi_shape_fits(ndim, shape, &size))
        return lpi_error(ctx, LP_ERR_VALUE, "%s: array is too big or has a negative dimension",
                         lpi_ops[op].name);
    lp_array *a = lp_calloc(1, sizeof *a);
    if (!a) return lpi_nomem(ctx);
    if (nin) {
        a->in = lp_calloc((size_t)nin, sizeof *a->in);
        if (!a->in) { lp_free(a); return lpi_nomem(ctx); }
    }
    atomic_init(&a->refcnt, 1);
    a->op = op;
    a->dtype = dt;
    a->ndim = ndim;
    if (ndim) memcpy(a->shape, shape, (size_t)ndim * sizeof *shape);
    a->size = size;
    a->nin = nin;
    for (int i = 0; i < nin; i++) { a->in[i] = in[i]; lp_array_retain(in[i]); }
    pthread_mutex_init(&a->result_lock, NULL);
    a->id = atomic_fetch_add(&next_id, 1);
    *out = a;
    return LP_OK;
}

void lp_array_retain(lp_array *a) {
    if (a) atomic_fetch_add_explicit(&a->refcnt, 1, memory_order_relaxed);
}

/* Iterative so a chain of a million nodes cannot overflow the stack. */
void lp_array_release(lp_array *a) {
    if (!a) return;
    lp_array *stack_local[64];
    lp_array **stack = stack_local;
    size_t cap = 64, n = 0;
    stack[n++] = a;
    while (n) {
        lp_array *x = stack[--n];
        if (atomic_fetch_sub_explicit(&x->refcnt, 1, memory_order_acq_rel) != 1) continue;
        for (int i = 0; i < x->nin; i++) {
            if (n == cap) {
                size_t ncap = cap * 2;
                lp_array **ns = lp_malloc(ncap * sizeof *ns);
                if (!ns) { lp_array_release(x->in[i]); continue; } /* fall back to recursion */
                memcpy(ns, stack, n * sizeof *ns);
                if (stack != stack_local) lp_free(stack);
                stack = ns;
                cap = ncap;
            }
            stack[n++] = x->in[i];
        }
        lp_free(x->in);
        lp_free(x->a.path);
        lpi_dataset_release(x->a.ds);
        lp_buffer_release(x->a.buf);
        lpi_loop_release(x->a.loop);
        lp_buffer_release(x->result);
        pthread_mutex_destroy(&x->result_lock);
        lp_free(x);
    }
    if (stack != stack_local) lp_free(stack);
}

lp_dtype lp_array_dtype(const lp_array *a) { return a->dtype; }
int lp_array_ndim(const lp_array *a) { return a->ndim; }
const int64_t *lp_array_shape(const lp_array *a) { return a->shape; }
int64_t lp_array_size(const lp_array *a) { return a->size; }

lp_buffer *lp_array_result(const lp_array *a) {
    lp_array *m = (lp_array *)a;
    pthread_mutex_lock(&m->result_lock);
    lp_buffer *r = m->result;
    pthread_mutex_unlock(&m->result_lock);
    return r;
}

lp_status lp_array_set_chunks(lp_ctx *ctx, lp_array *a, int ndim, const int64_t *chunk) {
    if (ndim != a->ndim)
        return lpi_error(ctx, LP_ERR_VALUE, "chunks have %d dimensions but the array has %d", ndim, a->ndim);
    bool any = false;
    for (int i = 0; i < ndim; i++) {
        if (chunk[i] < 0) return lpi_error(ctx, LP_ERR_VALUE, "chunk size %lld along axis %d is negative",
                                           (long long)chunk[i], i);
        any |= chunk[i] > 0;
    }
    if (ndim) memcpy(a->chunk_hint, chunk, (size_t)ndim * sizeof *chunk);
    a->has_chunk_hint = any;
    return LP_OK;
}

/* ---- sources ---------------------------------------------------------------------- */

static lp_status check_shape(lp_ctx *ctx, const char *what, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > LP_MAX_NDIM)
        return lpi_error(ctx, LP_ERR_VALUE, "%s: %d dimensions requested; at most %d are supported",
                         what, ndim, LP_MAX_NDIM);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return lpi_error(ctx, LP_ERR_VALUE, "%s: negative dimensions are not allowed", what);
    return LP_OK;
}

static lp_status check_dtype(lp_ctx *ctx, lp_dtype dt) {
    if ((unsigned)dt >= LP_DTYPE_COUNT) return lpi_error(ctx, LP_ERR_TYPE, "invalid dtype code %d", (int)dt);
    return LP_OK;
}

lp_status lp_load(lp_ctx *ctx, const char *path, lp_array **out) {
    *out = NULL;
    lpi_dataset *d;
    lp_status st = lpi_dataset_open(ctx, path, &d);
    if (st) return st;
    lp_array *a;
    if ((st = lpi_node_new(ctx, LPI_OP_LOAD, d->dtype, d->ndim, d->shape, 0, NULL, &a))) {
        lpi_dataset_release(d);
        return st;
    }
    a->a.ds = d;
    if (!(a->a.path = lp_strdup(path))) { lp_array_release(a); return lpi_nomem(ctx); }
    *out = a;
    return LP_OK;
}

lp_status lp_wrap(lp_ctx *ctx, void *data, lp_dtype dt, int ndim, const int64_t *shape,
                  const int64_t *strides, void (*release)(void *), void *release_arg, lp_array **out) {
    *out = NULL;
    lp_status st;
    if ((st = check_dtype(ctx, dt)) || (st = check_shape(ctx, "wrap", ndim, shape))) return st;
    int64_t size;
    if (!lpi_shape_size(ndim, shape, &size)) return lpi_error(ctx, LP_ERR_VALUE, "wrap: shape too large");
    int64_t st_[LP_MAX_NDIM];
    int64_t isz = (int64_t)lp_dtype_size(dt);
    if (!strides) {
        int64_t s = isz;
        for (int i = ndim - 1; i >= 0; i--) { st_[i] = s; s *= shape[i] ? shape[i] : 1; }
    } else {
        memcpy(st_, strides, (size_t)ndim * sizeof *strides);
    }
    if (size && !data) return lpi_error(ctx, LP_ERR_VALUE, "wrap: NULL data for a non-empty array");
    lp_buffer *buf = lpi_buffer_wrap(data, (size_t)(size * isz), dt, ndim, shape, release, release_arg);
    if (!buf) return lpi_nomem(ctx);
    lp_array *a;
    if ((st = lpi_node_new(ctx, LPI_OP_WRAP, dt, ndim, shape, 0, NULL, &a))) {
        buf->release = NULL; /* the caller keeps ownership when we fail */
        lp_buffer_release(buf);
        return st;
    }
    a->a.buf = buf;
    a->a.offset = 0;
    memcpy(a->a.strides, st_, sizeof st_);
    *out = a;
    return LP_OK;
}

static void release_buffer_ref(void *p) { lp_buffer_release(p); }

lp_status lp_from_buffer(lp_ctx *ctx, lp_buffer *buf, lp_array **out) {
    lp_buffer_retain(buf);
    lp_status st = lp_wrap(ctx, buf->data, buf->dtype, buf->ndim, buf->shape, NULL, release_buffer_ref,
                           buf, out);
    if (st) lp_buffer_release(buf);
    return st;
}

static lp_status cast_scalar(lp_ctx *ctx, lp_scalar v, lp_dtype dt, lp_scalar *out) {
    memset(out, 0, sizeof *out); /* graphs compare attributes bytewise */
    if (lpi_dtype_is_complex(dt) || v.dtype == LP_COMPLEX128) {
        /* a complex value or dtype: through the dtype's storage (a complex value to a real dtype
         * keeps its real part, as NumPy's cast) */
        double c[2] = {v.dtype == LP_COMPLEX128 ? v.v.c[0] : v.dtype == LP_FLOAT64 ? v.v.f : v.dtype == LP_INT64 ? (double)v.v.i : v.v.b,
                       v.dtype == LP_COMPLEX128 ? v.v.c[1] : 0};
        if (lpi_dtype_is_complex(dt)) {
            lpi_raw raw;
            lpi_store_c(&raw, dt, c[0], c[1]);
            lpi_load_c(&raw, dt, c);
            *out = lp_scalar_c(c[0], c[1]);
            out->dtype = dt;
            return LP_OK;
        }
        if (dt == LP_BOOL) { *out = lp_scalar_b(c[0] != 0 || c[1] != 0); return LP_OK; }
        v = lp_scalar_f(c[0]);
    }
    out->dtype = dt;
    double f = v.dtype == LP_FLOAT64 ? v.v.f : v.dtype == LP_INT64 ? (double)v.v.i : (double)v.v.b;
    int64_t i = v.dtype == LP_FLOAT64 ? 0 : v.dtype == LP_INT64 ? v.v.i : v.v.b;
    switch (dt) {
    case LP_BOOL: out->v.b = v.dtype == LP_FLOAT64 ? f != 0 : i != 0; break;
    default: {
        uint64_t raw = 0; /* the value stored in dt and read back: wrapped or rounded as dt holds it */
        if (lpi_dtype_kind(dt) == LPI_KIND_INT) {
            if (v.dtype == LP_FLOAT64) {
                if (!isfinite(f) || f >= 9.2233720368547758e18 || f < -9.2233720368547758e18)
                    return lpi_error(ctx, LP_ERR_VALUE, "cannot convert float %g to integer", f);
                i = (int64_t)f;
            }
            /* NumPy 2: np.full(3, 300, dtype=uint8) is an OverflowError (a uint64 may come as its
             * int64 bits: graph documents keep values past INT64_MAX so) */
            int64_t lo, hi;
            lpi_int_range(dt, &lo, &hi);
            if (v.dtype == LP_INT64 && dt != LP_UINT64 && (i < lo || i > hi))
                return lpi_error(ctx, LP_ERR_VALUE, "Python integer %lld out of bounds for %s", (long long)i,
                                 lp_dtype_name(dt));
            lpi_store_i64(&raw, dt, i);
            out->v.i = lpi_load_i64(&raw, dt);
        } else {
            lpi_store_f64(&raw, dt, v.dtype == LP_FLOAT64 ? f : (double)i);
            out->v.f = lpi_load_f64(&raw, dt);
        }
    }
    }
    return LP_OK;
}

lp_status lp_full(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, lp_scalar value, lp_array **out) {
    *out = NULL;
    lp_status st;
    if ((st = check_dtype(ctx, dt)) || (st = check_shape(ctx, "full", ndim, shape))) return st;
    lp_scalar v;
    if ((st = cast_scalar(ctx, value, dt, &v))) return st;
    lp_array *a;
    if ((st = lpi_node_new(ctx, LPI_OP_FULL, dt, ndim, shape, 0, NULL, &a))) return st;
    memcpy(&a->a.value, &v, sizeof v); /* v zeroed whole by cast_scalar */
    *out = a;
    return LP_OK;
}

lp_status lp_zeros(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, lp_array **out) {
    return lp_full(ctx, dt, ndim, shape, lp_scalar_i(0), out);
}
lp_status lp_ones(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, lp_array **out) {
    return lp_full(ctx, dt, ndim, shape, lp_scalar_i(1), out);
}

lp_status lp_scalar_array(lp_ctx *ctx, lp_scalar value, lp_array **out) {
    *out = NULL;
    if (value.dtype != LP_BOOL && value.dtype != LP_INT64 && value.dtype != LP_FLOAT64 && value.dtype != LP_COMPLEX128)
        return lpi_error(ctx, LP_ERR_TYPE, "a scalar operand must be bool, int64, float64 or complex128");
    lp_array *a;
    lp_status st = lpi_node_new(ctx, LPI_OP_SCALAR, value.dtype, 0, NULL, 0, NULL, &a);
    if (st) return st;
    /* only the bytes of the value's kind: graphs compare attributes bytewise */
    memset(&a->a.value, 0, sizeof a->a.value);
    a->a.value.dtype = value.dtype;
    if (value.dtype == LP_COMPLEX128) memcpy(a->a.value.v.c, value.v.c, sizeof value.v.c);
    else if (value.dtype == LP_FLOAT64) a->a.value.v.f = value.v.f;
    else if (value.dtype == LP_INT64) a->a.value.v.i = value.v.i;
    else a->a.value.v.b = value.v.b;
    a->a.weak = true;
    *out = a;
    return LP_OK;
}

lp_status lp_arange(lp_ctx *ctx, double start, double stop, double step, lp_dtype dt, lp_array **out) {
    *out = NULL;
    lp_status st;
    if ((st = check_dtype(ctx, dt))) return st;
    if (step == 0) return lpi_error(ctx, LP_ERR_ZERO_DIVISION, "arange(): step must not be zero (division by zero)");
    if (!isfinite(start) || !isfinite(stop) || !isfinite(step))
        return lpi_error(ctx, LP_ERR_VALUE, "arange: start, stop and step must be finite");
    double len = ceil((stop - start) / step);
    if (!(len > 0)) len = 0;
    if (len > 1e15) return lpi_error(ctx, LP_ERR_VALUE, "Maximum allowed size exceeded");
    int64_t n = (int64_t)len;
    lp_array *a;
    if ((st = lpi_node_new(ctx, LPI_OP_ARANGE, dt, 1, &n, 0, NULL, &a))) return st;
    a->a.f0 = start;
    a->a.f1 = step;
    *out = a;
    return LP_OK;
}

lp_status lp_linspace(lp_ctx *ctx, double start, double stop, int64_t num, bool endpoint, lp_dtype dt,
                      lp_array **out) {
    *out = NULL;
    lp_status st;
    if ((st = check_dtype(ctx, dt))) return st;
    if (num < 0) return lpi_error(ctx, LP_ERR_VALUE, "Number of samples, %lld, must be non-negative.", (long long)num);
    lp_array *a;
    if ((st = lpi_node_new(ctx, LPI_OP_LINSPACE, dt, 1, &num, 0, NULL, &a))) return st;
    a->a.f0 = start;
    a->a.f1 = stop;
    a->a.i0 = num;
    a->a.endpoint = endpoint;
    *out = a;
    return LP_OK;
}

lp_status lp_eye(lp_ctx *ctx, int64_t n, int64_t m, int64_t k, lp_dtype dt, lp_array **out) {
    *out = NULL;
    lp_status st;
    if ((st = check_dtype(ctx, dt))) return st;
    if (m < 0) m = n;
    int64_t shape[2] = {n, m};
    if ((st = check_shape(ctx, "eye", 2, shape))) return st;
    lp_array *a;
    if ((st = lpi_node_new(ctx, LPI_OP_EYE, dt, 2, shape, 0, NULL, &a))) return st;
    a->a.i0 = k;
    *out = a;
    return LP_OK;
}

static lp_status random_node(lp_ctx *ctx, lpi_op op, uint64_t seed, double p0, double p1, lp_dtype dt,
                             int ndim, const int64_t *shape, lp_array **out) {
    *out = NULL;
    lp_status st;
    if ((st = check_dtype(ctx, dt)) || (st = check_shape(ctx, lpi_ops[op].name, ndim, shape))) return st;
    if (dt != LP_FLOAT32 && dt != LP_FLOAT64)
        return lpi_error(ctx, LP_ERR_TYPE, "%s: dtype must be float32 or float64, not %s",
                         lpi_ops[op].name, lp_dtype_name(dt));
    lp_array *a;
    if ((st = lpi_node_new(ctx, op, dt, ndim, shape, 0, NULL, &a))) return st;
    a->a.seed = seed;
    a->a.f0 = p0;
    a->a.f1 = p1;
    *out = a;
    return LP_OK;
}

lp_status lp_random_uniform(lp_ctx *ctx, uint64_t seed, double low, double high, lp_dtype dt, int ndim,
                            const int64_t *shape, lp_array **out) {
    return random_node(ctx, LPI_OP_RANDOM_UNIFORM, seed, low, high, dt, ndim, shape, out);
}
lp_status lp_random_integers(lp_ctx *ctx, uint64_t seed, int64_t low, int64_t high, lp_dtype dt, int ndim,
                             const int64_t *shape, lp_array **out) {
    *out = NULL;
    lp_status st;
    if ((st = check_dtype(ctx, dt)) || (st = check_shape(ctx, "random_integers", ndim, shape))) return st;
    int64_t lo, hi;
    if (lpi_dtype_kind(dt) == LPI_KIND_FLOAT)
        return lpi_error(ctx, LP_ERR_TYPE, "Unsupported dtype dtype('%s') for randint", lp_dtype_name(dt));
    lpi_int_range(dt, &lo, &hi);
    if (low < lo) return lpi_error(ctx, LP_ERR_VALUE, "low is out of bounds for %s", lp_dtype_name(dt));
    if (high != INT64_MIN && high - 1 > hi) return lpi_error(ctx, LP_ERR_VALUE, "high is out of bounds for %s", lp_dtype_name(dt));
    if (low >= high) return lpi_error(ctx, LP_ERR_VALUE, "low >= high");
    lp_array *a;
    if ((st = lpi_node_new(ctx, LPI_OP_RANDOM_INTEGERS, dt, ndim, shape, 0, NULL, &a))) return st;
    a->a.seed = seed;
    a->a.i0 = low;
    a->a.span = (uint64_t)high - (uint64_t)low;
    *out = a;
    return LP_OK;
}
lp_status lp_random_normal(lp_ctx *ctx, uint64_t seed, double mean, double stddev, lp_dtype dt, int ndim,
                           const int64_t *shape, lp_array **out) {
    if (stddev < 0) return lpi_error(ctx, LP_ERR_VALUE, "scale < 0");
    return random_node(ctx, LPI_OP_RANDOM_NORMAL, seed, mean, stddev, dt, ndim, shape, out);
}
