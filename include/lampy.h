/*
 * lampy.h — NumPy for serverless functions: lazy array expressions, run in parallel.
 *
 * Usage:
 *
 *     lp_ctx *ctx;  lp_array *a, *b, *c, *s;  lp_buffer *out;
 *     lp_ctx_create(&ctx);
 *     lp_load(ctx, "a.npy", &a);                       // nothing is read yet
 *     lp_load(ctx, "b.npy", &b);
 *     lp_binary(ctx, "mul", a, b, &c);                  // c = a * b   (lazy)
 *     lp_reduce(ctx, "sum", c, NULL, 0, false, &s);     // s = c.sum() (lazy)
 *     if (lp_run(ctx, &s, 1, &out) != LP_OK)            // plan, chunk, run on threads
 *         fprintf(stderr, "%s\n", lp_last_error(ctx));
 *     printf("%g\n", *(double *)lp_buffer_data(out));
 *     lp_buffer_release(out);  lp_array_release(s);  lp_array_release(c);
 *     lp_array_release(b);  lp_array_release(a);  lp_ctx_destroy(ctx);
 *
 * Conventions: every fallible call returns lp_status and leaves a one-line message on the
 * context (lp_last_error). Handles are opaque and reference counted; an `**out` parameter
 * always receives a NEW reference, which the caller releases. Release functions accept NULL.
 * Ops are named as in NumPy ("add", "sqrt", "sum", ...); the names are the op registry's and
 * also what graph dumps and the task wire format carry.
 */
#ifndef LAMPY_H
#define LAMPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LP_VERSION_STRING "0.1.0"
#define LP_MAX_NDIM 8

/* ---- status ------------------------------------------------------------------------ */

/* X(name, number, description). Numbers reach the wire: append only. */
#define LP_STATUS_MAP(X)                                                   \
    X(OK, 0, "ok")                                                         \
    X(ERR_NOMEM, 1, "out of memory")                                       \
    X(ERR_VALUE, 2, "invalid value")                                       \
    X(ERR_TYPE, 3, "invalid type")                                         \
    X(ERR_SHAPE, 4, "shape mismatch")                                      \
    X(ERR_IO, 5, "I/O error")                                              \
    X(ERR_NOTFOUND, 6, "not found")                                        \
    X(ERR_FORMAT, 7, "malformed input")                                    \
    X(ERR_CANCELLED, 8, "cancelled")                                       \
    X(ERR_LINALG, 9, "linear algebra error")                               \
    X(ERR_REMOTE, 10, "remote execution error")                            \
    X(ERR_LIMIT, 11, "limit exceeded")                                     \
    X(ERR_INTERNAL, 12, "internal error")

typedef enum lp_status {
#define LP_X_(name, num, desc) LP_##name = num,
    LP_STATUS_MAP(LP_X_)
#undef LP_X_
    LP_STATUS_COUNT
} lp_status;

/* Short description of a status ("shape mismatch"). */
const char *lp_status_str(lp_status st);

/* ---- dtypes ------------------------------------------------------------------------ */

/* Numbers reach disk and the wire: append only. */
typedef enum lp_dtype {
    LP_BOOL = 0,
    LP_INT32 = 1,
    LP_INT64 = 2,
    LP_FLOAT32 = 3,
    LP_FLOAT64 = 4,
    LP_DTYPE_COUNT
} lp_dtype;

const char *lp_dtype_name(lp_dtype dt);               /* "float64" */
bool lp_dtype_from_name(const char *name, lp_dtype *out); /* accepts NumPy spellings */
size_t lp_dtype_size(lp_dtype dt);
/* NumPy's promotion of two array dtypes (np.result_type). */
lp_dtype lp_promote(lp_dtype a, lp_dtype b);

/* A Python-style scalar: "weak" in promotion (NumPy 2 / NEP 50): int32_array + 3 is int32. */
typedef struct lp_scalar {
    lp_dtype dtype; /* LP_BOOL, LP_INT64 or LP_FLOAT64 give the scalar's kind */
    union {
        bool b;
        int64_t i;
        double f;
    } v;
} lp_scalar;

static inline lp_scalar lp_scalar_f(double f) { lp_scalar s; s.dtype = LP_FLOAT64; s.v.f = f; return s; }
static inline lp_scalar lp_scalar_i(int64_t i) { lp_scalar s; s.dtype = LP_INT64; s.v.i = i; return s; }
static inline lp_scalar lp_scalar_b(bool b) { lp_scalar s; s.dtype = LP_BOOL; s.v.b = b; return s; }

/* ---- context ----------------------------------------------------------------------- */

typedef struct lp_ctx lp_ctx;

lp_status lp_ctx_create(lp_ctx **out);
void lp_ctx_destroy(lp_ctx *ctx);
/* The message of the last failure on this context ("" if none). Valid until the next call. */
const char *lp_last_error(const lp_ctx *ctx);
lp_status lp_last_status(const lp_ctx *ctx);

/* Worker threads for lp_run; 0 = one per core (the default). */
lp_status lp_ctx_set_threads(lp_ctx *ctx, int nthreads);
int lp_ctx_threads(const lp_ctx *ctx);
/* Target bytes per chunk; 0 = chosen from the array and the machine (the default). */
lp_status lp_ctx_set_chunk_bytes(lp_ctx *ctx, size_t bytes);
size_t lp_ctx_chunk_bytes(const lp_ctx *ctx);
/* Graph optimisations (CSE, fusion); on by default. Off is for tests and comparisons. */
lp_status lp_ctx_set_fusion(lp_ctx *ctx, bool on);

/* Ask the run in progress on ctx (from any thread) to stop; it returns LP_ERR_CANCELLED. */
void lp_cancel(lp_ctx *ctx);

/* ---- buffers: computed, dense, C-contiguous results -------------------------------- */

typedef struct lp_buffer lp_buffer;

void lp_buffer_retain(lp_buffer *b);
void lp_buffer_release(lp_buffer *b);
void *lp_buffer_data(const lp_buffer *b);
lp_dtype lp_buffer_dtype(const lp_buffer *b);
int lp_buffer_ndim(const lp_buffer *b);
const int64_t *lp_buffer_shape(const lp_buffer *b);
int64_t lp_buffer_size(const lp_buffer *b);   /* elements */
size_t lp_buffer_nbytes(const lp_buffer *b);

/* ---- lazy arrays ------------------------------------------------------------------- */

typedef struct lp_array lp_array;

void lp_array_retain(lp_array *a);
void lp_array_release(lp_array *a);
lp_dtype lp_array_dtype(const lp_array *a);
int lp_array_ndim(const lp_array *a);
const int64_t *lp_array_shape(const lp_array *a);
int64_t lp_array_size(const lp_array *a);
/* Override the chunk shape used for this array (0 in an axis = automatic). */
lp_status lp_array_set_chunks(lp_ctx *ctx, lp_array *a, int ndim, const int64_t *chunk);
/* The chunk shape the planner would use for this array alone. */
lp_status lp_array_chunks(lp_ctx *ctx, const lp_array *a, int64_t *chunk_out);
/* The result, if this array has been computed by lp_run (borrowed; NULL otherwise). */
lp_buffer *lp_array_result(const lp_array *a);

/* Sources. */
lp_status lp_load(lp_ctx *ctx, const char *path, lp_array **out);
/* Wrap caller memory without copying. strides in bytes (NULL = C order). release(arg) is
 * called when the last reference to the data is gone (may be NULL). */
lp_status lp_wrap(lp_ctx *ctx, void *data, lp_dtype dt, int ndim, const int64_t *shape,
                  const int64_t *strides, void (*release)(void *), void *release_arg,
                  lp_array **out);
lp_status lp_from_buffer(lp_ctx *ctx, lp_buffer *buf, lp_array **out);
lp_status lp_full(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, lp_scalar value,
                  lp_array **out);
lp_status lp_zeros(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, lp_array **out);
lp_status lp_ones(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, lp_array **out);
/* A 0-d weak scalar operand (a Python number in an expression). */
lp_status lp_scalar_array(lp_ctx *ctx, lp_scalar value, lp_array **out);
lp_status lp_arange(lp_ctx *ctx, double start, double stop, double step, lp_dtype dt,
                    lp_array **out);
lp_status lp_linspace(lp_ctx *ctx, double start, double stop, int64_t num, bool endpoint,
                      lp_dtype dt, lp_array **out);
lp_status lp_eye(lp_ctx *ctx, int64_t n, int64_t m, int64_t k, lp_dtype dt, lp_array **out);
/* Counter-based (Philox4x32-10): element i of the result depends only on (seed, i). */
lp_status lp_random_uniform(lp_ctx *ctx, uint64_t seed, double low, double high, lp_dtype dt,
                            int ndim, const int64_t *shape, lp_array **out);
lp_status lp_random_normal(lp_ctx *ctx, uint64_t seed, double mean, double stddev, lp_dtype dt,
                           int ndim, const int64_t *shape, lp_array **out);

/* Elementwise ops by name: "add" "subtract" "multiply" "divide" "floor_divide" "remainder"
 * "power" "negative" "abs" "equal" "not_equal" "less" "less_equal" "greater"
 * "greater_equal" "logical_and" "logical_or" "logical_xor" "logical_not" "bitwise_and"
 * "bitwise_or" "bitwise_xor" "invert" "where" "maximum" "minimum" "sqrt" "exp" "log" "sin"
 * "cos" "tanh". Operands broadcast as in NumPy. */
lp_status lp_elemwise(lp_ctx *ctx, const char *op, int nin, lp_array *const *in, lp_array **out);
lp_status lp_unary(lp_ctx *ctx, const char *op, lp_array *a, lp_array **out);
lp_status lp_binary(lp_ctx *ctx, const char *op, lp_array *a, lp_array *b, lp_array **out);
lp_status lp_where(lp_ctx *ctx, lp_array *cond, lp_array *a, lp_array *b, lp_array **out);
lp_status lp_astype(lp_ctx *ctx, lp_array *a, lp_dtype dt, lp_array **out);

/* Reductions: "sum" "prod" "mean" "min" "max" "argmin" "argmax" "var" "std" "any" "all".
 * axes == NULL: over all axes (argmin/argmax: over the flattened array). Negative axes count
 * from the end. var/std use lp_reduce_ddof. */
lp_status lp_reduce(lp_ctx *ctx, const char *op, lp_array *a, const int *axes, int naxes,
                    bool keepdims, lp_array **out);
lp_status lp_reduce_ddof(lp_ctx *ctx, const char *op, lp_array *a, const int *axes, int naxes,
                         bool keepdims, int ddof, lp_array **out);

/* Shape manipulation. One -1 in a reshape is inferred. perm == NULL reverses the axes. */
lp_status lp_reshape(lp_ctx *ctx, lp_array *a, int ndim, const int64_t *shape, lp_array **out);
lp_status lp_transpose(lp_ctx *ctx, lp_array *a, const int *perm, lp_array **out);

typedef enum lp_index_kind {
    LP_IDX_SLICE = 0,   /* start:stop:step; has_start/has_stop false = omitted */
    LP_IDX_INT = 1,     /* a single integer (negative counts from the end); drops the axis */
    LP_IDX_NEWAXIS = 2, /* inserts an axis of length 1 */
    LP_IDX_ELLIPSIS = 3
} lp_index_kind;

typedef struct lp_index {
    lp_index_kind kind;
    bool has_start, has_stop;
    int64_t start, stop, step; /* step 0 means 1; for LP_IDX_INT the index is start */
} lp_index;

lp_status lp_slice(lp_ctx *ctx, lp_array *a, int nidx, const lp_index *idx, lp_array **out);
lp_status lp_concatenate(lp_ctx *ctx, int n, lp_array *const *in, int axis, lp_array **out);
lp_status lp_stack(lp_ctx *ctx, int n, lp_array *const *in, int axis, lp_array **out);

/* ---- run --------------------------------------------------------------------------- */

/* Compute the targets in one pass (shared subexpressions computed once). results may be NULL;
 * otherwise results[i] receives a new reference to target i's data. Computed targets keep
 * their result (lp_array_result) so later expressions reuse it. */
lp_status lp_run(lp_ctx *ctx, lp_array *const *targets, int n, lp_buffer **results);

/* Statistics of the last run on ctx. */
typedef struct lp_run_stats {
    int64_t tasks;
    int64_t bytes_read;    /* from sources (files) */
    int64_t bytes_alloc;   /* intermediate and output chunks allocated */
    int64_t peak_bytes;    /* peak of live chunk memory */
    double plan_seconds;
    double run_seconds;
    int threads;
} lp_run_stats;
void lp_last_run_stats(const lp_ctx *ctx, lp_run_stats *out);

/* ---- .npy files -------------------------------------------------------------------- */

typedef struct lp_npy_info {
    int major, minor;   /* format version */
    lp_dtype dtype;
    bool big_endian;
    bool fortran_order;
    int ndim;
    int64_t shape[LP_MAX_NDIM];
    int64_t data_offset; /* bytes before the data */
    int64_t data_bytes;
} lp_npy_info;

lp_status lp_npy_info_read(lp_ctx *ctx, const char *path, lp_npy_info *out);
/* Write a computed result atomically (temp file + rename), format 1.0 unless the header needs more. */
lp_status lp_save(lp_ctx *ctx, const char *path, const lp_buffer *buf);
/* Compute `a` and stream it into a .npy file. */
lp_status lp_save_array(lp_ctx *ctx, const char *path, lp_array *a);

/* Make a buffer (C order) from caller memory, copying it. */
lp_status lp_buffer_create(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape,
                           const void *data, lp_buffer **out);

#ifdef __cplusplus
}
#endif
#endif /* LAMPY_H */
