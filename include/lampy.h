/*
 * lampy.h — NumPy for serverless functions: lazy array expressions, run in parallel.
 *
 * Usage:
 *
 *     lp_ctx *ctx;  lp_array *a, *b, *c, *s;  lp_buffer *out;
 *     lp_ctx_create(&ctx);
 *     lp_load(ctx, "a.npy", &a);                       // nothing is read yet
 *     lp_load(ctx, "b.npy", &b);
 *     lp_binary(ctx, "multiply", a, b, &c);             // c = a * b   (lazy)
 *     lp_reduce(ctx, "sum", c, NULL, 0, false, &s);     // s = c.sum() (lazy)
 *     if (lp_run(ctx, &s, 1, &out) != LP_OK) {          // plan, chunk, run on threads
 *         fprintf(stderr, "%s\n", lp_last_error(ctx));
 *         return 1;
 *     }
 *     printf("%.17g\n", *(double *)lp_buffer_data(out));
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

/* Every public declaration carries LP_API: liblampy is built with -fvisibility=hidden, so
 * these are the only symbols the shared library exports (lpi_ helpers stay private). */
#ifndef LP_API
#if defined(__GNUC__) || defined(__clang__)
#define LP_API __attribute__((visibility("default")))
#else
#define LP_API
#endif
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
    X(ERR_INTERNAL, 12, "internal error")                                  \
    X(ERR_DENIED, 13, "permission denied")                                 \
    X(ERR_AXIS, 14, "axis out of bounds")                                  \
    X(ERR_INDEX, 15, "index out of bounds")                                \
    X(ERR_ZERO_DIVISION, 16, "division by zero")

typedef enum lp_status {
#define LP_X_(name, num, desc) LP_##name = num,
    LP_STATUS_MAP(LP_X_)
#undef LP_X_
    LP_STATUS_COUNT
} lp_status;

/* Short description of a status ("shape mismatch"). */
LP_API const char *lp_status_str(lp_status st);

/* ---- dtypes ------------------------------------------------------------------------ */

/* Numbers reach disk and the wire: append only. */
typedef enum lp_dtype {
    LP_BOOL = 0,
    LP_INT32 = 1,
    LP_INT64 = 2,
    LP_FLOAT32 = 3,
    LP_FLOAT64 = 4,
    LP_INT8 = 5,
    LP_INT16 = 6,
    LP_UINT8 = 7,
    LP_UINT16 = 8,
    LP_UINT32 = 9,
    LP_UINT64 = 10,
    LP_FLOAT16 = 11, /* storage: ops compute in float32 and round each result, as NumPy does */
    LP_COMPLEX64 = 12,  /* two float32 (real, imaginary), as C's float _Complex and NumPy's */
    LP_COMPLEX128 = 13, /* two float64 */
    LP_DTYPE_COUNT
} lp_dtype;

LP_API const char *lp_dtype_name(lp_dtype dt);               /* "float64" */
LP_API bool lp_dtype_from_name(const char *name, lp_dtype *out); /* accepts NumPy spellings */
LP_API size_t lp_dtype_size(lp_dtype dt);
/* NumPy's promotion of two array dtypes (np.result_type). */
LP_API lp_dtype lp_promote(lp_dtype a, lp_dtype b);

/* A Python-style scalar: "weak" in promotion (NumPy 2 / NEP 50): int32_array + 3 is int32. */
typedef struct lp_scalar {
    lp_dtype dtype; /* LP_BOOL, LP_INT64, LP_FLOAT64 or LP_COMPLEX128 give the scalar's kind */
    union {
        bool b;
        int64_t i;
        double f;
        double c[2]; /* real, imaginary */
    } v;
} lp_scalar;

/* every byte of the value set (graphs compare attributes bytewise) */
static inline lp_scalar lp_scalar_f(double f) { lp_scalar s; s.dtype = LP_FLOAT64; s.v.c[0] = s.v.c[1] = 0; s.v.f = f; return s; }
static inline lp_scalar lp_scalar_i(int64_t i) { lp_scalar s; s.dtype = LP_INT64; s.v.c[0] = s.v.c[1] = 0; s.v.i = i; return s; }
static inline lp_scalar lp_scalar_b(bool b) { lp_scalar s; s.dtype = LP_BOOL; s.v.c[0] = s.v.c[1] = 0; s.v.b = b; return s; }
static inline lp_scalar lp_scalar_c(double re, double im) {
    lp_scalar s; s.dtype = LP_COMPLEX128; s.v.c[0] = re; s.v.c[1] = im; return s;
}

/* ---- context ----------------------------------------------------------------------- */

typedef struct lp_ctx lp_ctx;

LP_API lp_status lp_ctx_create(lp_ctx **out);
LP_API void lp_ctx_destroy(lp_ctx *ctx);
/* The message of the last failure on this context ("" if none). Valid until the next call. */
LP_API const char *lp_last_error(const lp_ctx *ctx);
LP_API lp_status lp_last_status(const lp_ctx *ctx);

/* Worker threads for lp_run; 0 = one per core (the default). */
LP_API lp_status lp_ctx_set_threads(lp_ctx *ctx, int nthreads);
LP_API int lp_ctx_threads(const lp_ctx *ctx);
/* Target bytes per chunk; 0 = chosen from the array and the machine (the default). */
LP_API lp_status lp_ctx_set_chunk_bytes(lp_ctx *ctx, size_t bytes);
LP_API size_t lp_ctx_chunk_bytes(const lp_ctx *ctx);
/* Graph optimisations (CSE, fusion); on by default. Off is for tests and comparisons. */
LP_API lp_status lp_ctx_set_fusion(lp_ctx *ctx, bool on);

/* Ask the run in progress on ctx (from any thread) to stop; it returns LP_ERR_CANCELLED. */
LP_API void lp_cancel(lp_ctx *ctx);

/* ---- buffers: computed, dense, C-contiguous results -------------------------------- */

typedef struct lp_buffer lp_buffer;

LP_API void lp_buffer_retain(lp_buffer *b);
LP_API void lp_buffer_release(lp_buffer *b);
LP_API void *lp_buffer_data(const lp_buffer *b);
LP_API lp_dtype lp_buffer_dtype(const lp_buffer *b);
LP_API int lp_buffer_ndim(const lp_buffer *b);
LP_API const int64_t *lp_buffer_shape(const lp_buffer *b);
LP_API int64_t lp_buffer_size(const lp_buffer *b);   /* elements */
LP_API size_t lp_buffer_nbytes(const lp_buffer *b);

/* ---- lazy arrays ------------------------------------------------------------------- */

typedef struct lp_array lp_array;

LP_API void lp_array_retain(lp_array *a);
LP_API void lp_array_release(lp_array *a);
LP_API lp_dtype lp_array_dtype(const lp_array *a);
LP_API int lp_array_ndim(const lp_array *a);
LP_API const int64_t *lp_array_shape(const lp_array *a);
LP_API int64_t lp_array_size(const lp_array *a);
/* Override the chunk shape used for this array (0 in an axis = automatic). */
LP_API lp_status lp_array_set_chunks(lp_ctx *ctx, lp_array *a, int ndim, const int64_t *chunk);
/* The chunk shape the planner would use for this array alone. */
LP_API lp_status lp_array_chunks(lp_ctx *ctx, const lp_array *a, int64_t *chunk_out);
/* The result, if this array has been computed by lp_run (borrowed; NULL otherwise). */
LP_API lp_buffer *lp_array_result(const lp_array *a);

/* Sources. */
/* A stored array, read lazily: a .npy file or a Zarr v3 array, given as a path or as a URL
 * (file://, http://, https://, s3://bucket/key; see README "Data anywhere"). Only its header or
 * metadata is read now; a run reads only the byte ranges its tasks need. */
LP_API lp_status lp_load(lp_ctx *ctx, const char *path, lp_array **out);
/* Wrap caller memory without copying. strides in bytes (NULL = C order). release(arg) is
 * called when the last reference to the data is gone (may be NULL). */
LP_API lp_status lp_wrap(lp_ctx *ctx, void *data, lp_dtype dt, int ndim, const int64_t *shape,
                  const int64_t *strides, void (*release)(void *), void *release_arg,
                  lp_array **out);
LP_API lp_status lp_from_buffer(lp_ctx *ctx, lp_buffer *buf, lp_array **out);
LP_API lp_status lp_full(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, lp_scalar value,
                  lp_array **out);
LP_API lp_status lp_zeros(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, lp_array **out);
LP_API lp_status lp_ones(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, lp_array **out);
/* A 0-d weak scalar operand (a Python number in an expression). */
LP_API lp_status lp_scalar_array(lp_ctx *ctx, lp_scalar value, lp_array **out);
LP_API lp_status lp_arange(lp_ctx *ctx, double start, double stop, double step, lp_dtype dt,
                    lp_array **out);
LP_API lp_status lp_linspace(lp_ctx *ctx, double start, double stop, int64_t num, bool endpoint,
                      lp_dtype dt, lp_array **out);
LP_API lp_status lp_eye(lp_ctx *ctx, int64_t n, int64_t m, int64_t k, lp_dtype dt, lp_array **out);
/* Counter-based (Philox4x32-10): element i of the result depends only on (seed, i). */
LP_API lp_status lp_random_uniform(lp_ctx *ctx, uint64_t seed, double low, double high, lp_dtype dt,
                            int ndim, const int64_t *shape, lp_array **out);
LP_API lp_status lp_random_normal(lp_ctx *ctx, uint64_t seed, double mean, double stddev, lp_dtype dt,
                           int ndim, const int64_t *shape, lp_array **out);
/* Integers uniform in [low, high) (bool, int32 or int64; exact: Lemire's bounded draws with
 * rejection, the retries also keyed by the element index). */
LP_API lp_status lp_random_integers(lp_ctx *ctx, uint64_t seed, int64_t low, int64_t high, lp_dtype dt,
                             int ndim, const int64_t *shape, lp_array **out);

/* Elementwise ops by name: "add" "subtract" "multiply" "divide" "floor_divide" "remainder"
 * "power" "negative" "abs" "equal" "not_equal" "less" "less_equal" "greater"
 * "greater_equal" "logical_and" "logical_or" "logical_xor" "logical_not" "bitwise_and"
 * "bitwise_or" "bitwise_xor" "invert" "where" "maximum" "minimum" "sqrt" "exp" "log" "sin"
 * "cos" "tanh". Operands broadcast as in NumPy. */
LP_API lp_status lp_elemwise(lp_ctx *ctx, const char *op, int nin, lp_array *const *in, lp_array **out);
LP_API lp_status lp_unary(lp_ctx *ctx, const char *op, lp_array *a, lp_array **out);
LP_API lp_status lp_binary(lp_ctx *ctx, const char *op, lp_array *a, lp_array *b, lp_array **out);
LP_API lp_status lp_where(lp_ctx *ctx, lp_array *cond, lp_array *a, lp_array *b, lp_array **out);
LP_API lp_status lp_astype(lp_ctx *ctx, lp_array *a, lp_dtype dt, lp_array **out);

/* Reductions: "sum" "prod" "mean" "min" "max" "argmin" "argmax" "var" "std" "any" "all".
 * axes == NULL: over all axes (argmin/argmax: over the flattened array). Negative axes count
 * from the end. var/std use lp_reduce_ddof: the divisor is N - ddof (a real, >= 0: the array API's
 * correction=, e.g. 0.5). */
LP_API lp_status lp_reduce(lp_ctx *ctx, const char *op, lp_array *a, const int *axes, int naxes,
                    bool keepdims, lp_array **out);
LP_API lp_status lp_reduce_ddof(lp_ctx *ctx, const char *op, lp_array *a, const int *axes, int naxes,
                         bool keepdims, double ddof, lp_array **out);

/* Shape manipulation. One -1 in a reshape is inferred. perm == NULL reverses the axes. */
LP_API lp_status lp_reshape(lp_ctx *ctx, lp_array *a, int ndim, const int64_t *shape, lp_array **out);
LP_API lp_status lp_transpose(lp_ctx *ctx, lp_array *a, const int *perm, lp_array **out);

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

LP_API lp_status lp_slice(lp_ctx *ctx, lp_array *a, int nidx, const lp_index *idx, lp_array **out);
LP_API lp_status lp_concatenate(lp_ctx *ctx, int n, lp_array *const *in, int axis, lp_array **out);
LP_API lp_status lp_stack(lp_ctx *ctx, int n, lp_array *const *in, int axis, lp_array **out);
/* numpy.broadcast_to: a's values repeated to `shape` (NumPy's broadcasting rules). */
LP_API lp_status lp_broadcast_to(lp_ctx *ctx, lp_array *a, int ndim, const int64_t *shape, lp_array **out);

/* ---- the function catalogue: NumPy's functions by name ------------------------------
 *
 * One table in the library lists every function a NumPy user can call ("cumsum", "isnan",
 * "linalg.solve", ...) with its aliases, its Python-style signature and whether it is also an
 * Array method. lp_call binds arguments by Python's rules (positional, keyword, defaults,
 * NumPy's messages for bad ones), converts them (numbers and nested tuples become arrays where
 * an array is expected) and builds the lazy result. The CLI evaluator and the Python module
 * have no function lists of their own: they call through this table, so a function exists
 * everywhere at once with the same behaviour and messages.
 *
 *     lp_ctx *ctx;
 *     lp_array *x;
 *     lp_buffer *r;
 *     lp_ctx_create(&ctx);
 *     lp_arange(ctx, 0, 6, 1, LP_INT64, &x);                 // x = arange(6)
 *     lp_value args[2] = {lp_value_array(x), lp_value_int(0)};
 *     const char *kw[] = {"axis"};
 *     lp_value out = lp_value_none();                        // cumsum(x, axis=0)
 *     if (lp_call(ctx, "cumsum", 1, args, 1, kw, args + 1, &out) == LP_OK && out.kind == LP_VAL_ARRAY &&
 *         lp_run(ctx, &out.array, 1, &r) == LP_OK) {
 *         printf("%lld\n", (long long)((const int64_t *)lp_buffer_data(r))[5]); // 15
 *         lp_buffer_release(r);
 *     }
 *     lp_value_clear(&out);
 *     lp_array_release(x);
 *     lp_ctx_destroy(ctx);
 */

/* Numbers reach no disk or wire; kinds mirror Python's. */
typedef enum lp_value_kind {
    LP_VAL_NONE = 0,
    LP_VAL_BOOL = 1,
    LP_VAL_INT = 2,
    LP_VAL_FLOAT = 3,
    LP_VAL_STR = 4,
    LP_VAL_DTYPE = 5,
    LP_VAL_ARRAY = 6,
    LP_VAL_TUPLE = 7,    /* items[0..n) */
    LP_VAL_LIST = 8,     /* items[0..n) (results such as split's) */
    LP_VAL_SLICE = 9,    /* items[0..3): start, stop, step, each an int or None (indexing) */
    LP_VAL_ELLIPSIS = 10,
    LP_VAL_COMPLEX = 11, /* f + im j */
    LP_VAL_COUNT
} lp_value_kind;

/* An argument or a result. Arguments are borrowed by lp_call; a result owns its arrays (new
 * references) and items: release it with lp_value_clear. */
typedef struct lp_value {
    lp_value_kind kind;
    bool b;
    int64_t i;
    double f;
    const char *s;
    lp_dtype dtype;
    lp_array *array;
    struct lp_value *items;
    int n;
    double im; /* LP_VAL_COMPLEX: the imaginary part (f the real part) */
} lp_value;

static inline lp_value lp_value_none(void) { lp_value v = {LP_VAL_NONE, false, 0, 0, NULL, LP_BOOL, NULL, NULL, 0, 0}; return v; }
static inline lp_value lp_value_bool(bool b) { lp_value v = lp_value_none(); v.kind = LP_VAL_BOOL; v.b = b; return v; }
static inline lp_value lp_value_int(int64_t i) { lp_value v = lp_value_none(); v.kind = LP_VAL_INT; v.i = i; return v; }
static inline lp_value lp_value_float(double f) { lp_value v = lp_value_none(); v.kind = LP_VAL_FLOAT; v.f = f; return v; }
static inline lp_value lp_value_complex(double re, double im) {
    lp_value v = lp_value_none(); v.kind = LP_VAL_COMPLEX; v.f = re; v.im = im; return v;
}
static inline lp_value lp_value_str(const char *s) { lp_value v = lp_value_none(); v.kind = LP_VAL_STR; v.s = s; return v; }
static inline lp_value lp_value_dtype(lp_dtype dt) { lp_value v = lp_value_none(); v.kind = LP_VAL_DTYPE; v.dtype = dt; return v; }
static inline lp_value lp_value_array(lp_array *a) { lp_value v = lp_value_none(); v.kind = LP_VAL_ARRAY; v.array = a; return v; }
static inline lp_value lp_value_tuple(lp_value *items, int n) { lp_value v = lp_value_none(); v.kind = LP_VAL_TUPLE; v.items = items; v.n = n; return v; }

/* Release a result's arrays and items; leaves v as None. */
LP_API void lp_value_clear(lp_value *v);

/* One catalogue entry (static data). */
typedef struct lp_func {
    const char *name;       /* "cumsum", or "linalg.solve" / "random.uniform" in a namespace */
    const char *aliases;    /* space-separated other names ("absolute"), or "" */
    const char *signature;  /* Python-style: "cumsum(a, axis=None, dtype=None, out=None)" */
    const char *method;     /* as an Array method: "cumsum(axis=None, dtype=None, out=None)", or NULL */
    const char *doc;        /* one line */
    int ufunc_nin;          /* > 0: a NumPy ufunc of that many inputs (np.<name> dispatches here) */
    bool creates;           /* a creation function (front ends may offer chunks=) */
} lp_func;

LP_API int lp_func_count(void);
LP_API const lp_func *lp_func_at(int i);
/* By name or alias ("absolute" finds "abs"); NULL if there is none. */
LP_API const lp_func *lp_func_find(const char *name);
/* Call a function of the catalogue by name (or alias): npos positional arguments, nkw keyword
 * arguments named kwnames[k]. *out receives the result (usually LP_VAL_ARRAY; a tuple or list
 * for functions returning several arrays). Errors say what Python would ("sum() got an
 * unexpected keyword argument 'foo'") or what NumPy would for the values. */
LP_API lp_status lp_call(lp_ctx *ctx, const char *name, int npos, const lp_value *pos, int nkw,
                         const char *const *kwnames, const lp_value *kw, lp_value *out);
/* The same as the Array method `self.name(...)` (self is not among pos). */
LP_API lp_status lp_call_method(lp_ctx *ctx, const char *name, lp_array *self, int npos, const lp_value *pos,
                                int nkw, const char *const *kwnames, const lp_value *kw, lp_value *out);
/* Is `name` an Array method? */
LP_API bool lp_method_exists(const char *name);

/* x[key] with NumPy's rules: key[0..n) are ints, slices (LP_VAL_SLICE), None (a new axis),
 * LP_VAL_ELLIPSIS, and one integer or bool array (an lp_array, or nested tuples): an integer
 * array takes along the axis it stands for (lp_call "take"), a bool array selects where it is
 * true. A bool mask is computed here (the result's size depends on it) and kept on its node. */
LP_API lp_status lp_getitem(lp_ctx *ctx, lp_array *x, int n, const lp_value *key, lp_array **out);
/* x[key] = v, as a new array (lazy arrays are immutable; front ends rebind x to it): the
 * selected positions get v broadcast and cast to x's dtype; with repeated indices the last
 * value wins (NumPy's x[idx] += v is x[idx] = x[idx] + v). */
LP_API lp_status lp_setitem(lp_ctx *ctx, lp_array *x, int n, const lp_value *key, lp_array *v, lp_array **out);

/* ---- run --------------------------------------------------------------------------- */

/* Compute the targets in one pass (shared subexpressions computed once). results may be NULL;
 * otherwise results[i] receives a new reference to target i's data. Computed targets keep
 * their result (lp_array_result) so later expressions reuse it. */
LP_API lp_status lp_run(lp_ctx *ctx, lp_array *const *targets, int n, lp_buffer **results);

/* Statistics of the last run on ctx. */
typedef struct lp_run_stats {
    int64_t tasks;
    int64_t bytes_read;    /* moved from stored arrays (files, URLs) by load tasks */
    int64_t bytes_alloc;   /* intermediate and output chunks allocated */
    int64_t peak_bytes;    /* peak of live chunk memory */
    double plan_seconds;
    double run_seconds;
    int threads;
} lp_run_stats;
LP_API void lp_last_run_stats(const lp_ctx *ctx, lp_run_stats *out);

/* ---- loops: while_loop and fori_loop ----------------------------------------------- */

/* Loops that run inside the graph, with JAX's names and semantics (jax.lax.while_loop,
 * jax.lax.fori_loop) over a tuple of n carried arrays:
 *
 *   while_loop:  val = init;  while (cond(val)) val = body(val);        outs = val
 *   fori_loop:   val = init;  for (i = lower; i < upper; i++) val = body(i, val)
 *
 * body and cond are subgraphs: expressions built over placeholders (lp_placeholder), one per
 * carried value, that stand for the value of the current iteration. They may also read any
 * other array (data, files, expressions): expressions and random arrays are computed once
 * before the first iteration; files are read again each iteration (out-of-core data stays out
 * of core) and constants are folded into the body's kernels. Each
 * iteration is planned like any graph (chunked tasks, fusion, the same reductions) once per
 * loop run and reused; the condition is decided by the driver between iterations; the chunks
 * of an iteration are freed as the next one runs, so memory does not grow with iterations.
 *
 *     lp_ctx *ctx;  lp_array *x0, *px, *bx, *k100, *k3, *c, *b, *out;  lp_buffer *r;
 *     lp_ctx_create(&ctx);                                // x = 1; while (x < 100) x = x * 3
 *     lp_full(ctx, LP_FLOAT64, 0, NULL, lp_scalar_f(1), &x0);
 *     lp_placeholder(ctx, LP_FLOAT64, 0, NULL, &px);      // x inside cond
 *     lp_placeholder(ctx, LP_FLOAT64, 0, NULL, &bx);      // x inside body
 *     lp_scalar_array(ctx, lp_scalar_f(100), &k100);
 *     lp_scalar_array(ctx, lp_scalar_f(3), &k3);
 *     lp_binary(ctx, "less", px, k100, &c);
 *     lp_binary(ctx, "multiply", bx, k3, &b);
 *     lp_subgraph cond = {1, &px, 1, &c}, body = {1, &bx, 1, &b};
 *     lp_while_loop(ctx, &cond, &body, 1, &x0, 0, 0, &out); // lazy: nothing runs yet
 *     lp_run(ctx, &out, 1, &r);                            // the whole loop, one call
 *     printf("%g\n", *(double *)lp_buffer_data(r));        // 243
 *     lp_buffer_release(r);  lp_array_release(out);  lp_array_release(b);  lp_array_release(c);
 *     lp_array_release(k3);  lp_array_release(k100);  lp_array_release(bx);  lp_array_release(px);
 *     lp_array_release(x0);  lp_ctx_destroy(ctx);
 *
 * Carried values keep their dtype and shape: a body output that differs is an error when the
 * loop is built ("while_loop: body output 1 has dtype float32, carried state is float64"),
 * and cond must give a 0-d bool. outs receives n new references (lazy arrays: the final
 * carried values); running any of them runs the loop once, and its results are kept. */

/* A value a loop binds on each iteration: a carried value, or a fori_loop's index. It has a
 * dtype and shape but no data; running an expression over a placeholder outside its loop is
 * an error. */
LP_API lp_status lp_placeholder(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, lp_array **out);
/* The index placeholder of a fori_loop body: 0-d int64 that promotes like a Python int
 * (float32_array * i stays float32), as JAX's weakly typed index. */
LP_API lp_status lp_loop_index(lp_ctx *ctx, lp_array **out);

/* A subgraph: outputs built over inputs (placeholders). Borrowed by the builders. */
typedef struct lp_subgraph {
    int nin;
    lp_array *const *in;
    int nout;
    lp_array *const *out;
} lp_subgraph;

/* while_loop flags: reaching max_iter returns the state then instead of failing. */
#define LP_LOOP_LAST_STATE 1
/* max_iter 0: this many body runs at most. */
#define LP_LOOP_MAX_ITER_DEFAULT 1000000

/* cond: n inputs, 1 output (0-d bool); body: n inputs, n outputs. At most max_iter body runs
 * (0: LP_LOOP_MAX_ITER_DEFAULT): when cond is still true after them, running the loop fails
 * with LP_ERR_LIMIT, unless flags has LP_LOOP_LAST_STATE. */
LP_API lp_status lp_while_loop(lp_ctx *ctx, const lp_subgraph *cond, const lp_subgraph *body, int n,
                               lp_array *const *init, int64_t max_iter, int flags, lp_array **outs);
/* body: n + 1 inputs, the first the index (lp_loop_index), then the carried values; n outputs.
 * upper <= lower runs no iteration (outs are the initial values). */
LP_API lp_status lp_fori_loop(lp_ctx *ctx, int64_t lower, int64_t upper, const lp_subgraph *body, int n,
                              lp_array *const *init, lp_array **outs);

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

LP_API lp_status lp_npy_info_read(lp_ctx *ctx, const char *path, lp_npy_info *out);
/* Write a computed result atomically, format 1.0 unless the header needs more. path may be a
 * URL (s3:// objects are one PUT or a multipart upload; http(s):// one PUT); a path or URL
 * ending in ".zarr" is written as a Zarr v3 array (zstd, about 1 MiB chunks). */
LP_API lp_status lp_save(lp_ctx *ctx, const char *path, const lp_buffer *buf);
/* Compute `a` and stream it into a .npy file. */
LP_API lp_status lp_save_array(lp_ctx *ctx, const char *path, lp_array *a);

/* How lp_save_zarr lays out a Zarr v3 array; a zeroed struct (or NULL) gives the defaults. */
typedef struct lp_zarr_opts {
    const int64_t *chunks;  /* chunk shape (one entry per axis; 0 = automatic); NULL: about 1 MiB */
    const char *codec;      /* "none", "gzip", "zstd" (default), "blosc" */
    int level;              /* compression level; 0 = the codec's default */
    bool big_endian;        /* the bytes codec's byte order */
    bool fortran;           /* chunks stored in Fortran order (a transpose codec) */
} lp_zarr_opts;
/* Write a computed result as a Zarr v3 array at path or URL (a directory, or a prefix of S3
 * objects): chunks first, zarr.json last. */
LP_API lp_status lp_save_zarr(lp_ctx *ctx, const char *path, const lp_buffer *buf, const lp_zarr_opts *opts);

/* Make a buffer (C order) from caller memory, copying it. */
LP_API lp_status lp_buffer_create(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape,
                           const void *data, lp_buffer **out);

/* ---- see and estimate the graph: JSON, DOT, cost model, trace ---------------------- */

/* Strings returned by the functions below are released with lp_string_free. */
LP_API void lp_string_free(char *s);
/* Release n arrays and the list holding them (as returned by lp_graph_load). */
LP_API void lp_arrays_release(lp_array **arrays, int n);

/* The expression graph of the targets as JSON (docs/GRAPH_FORMAT.md, "lampy.graph" version 2
 * when it has loops, with their body and cond subgraphs, else version 1):
 * nodes with op, dtype, shape, inputs and attributes (floats bit-exact), file references for
 * loads. In-memory data (wrapped arrays, computed results) is inlined up to 64 elements; larger
 * data is an error unless data_dir is given, where it is written as node<ID>.npy files that the
 * dump references (lp_graph_dump is lp_graph_dump_to with data_dir NULL). */
LP_API lp_status lp_graph_dump(lp_ctx *ctx, lp_array *const *targets, int n, char **json_out);
LP_API lp_status lp_graph_dump_to(lp_ctx *ctx, lp_array *const *targets, int n, const char *data_dir,
                           char **json_out);
/* Validate a graph document and rebuild it with the ordinary builders (every shape and dtype
 * rule re-checked). *targets_out receives n_out new references in a new list (release with
 * lp_arrays_release). Errors say where: "node 7 (add): input 9 does not exist". */
LP_API lp_status lp_graph_load(lp_ctx *ctx, const char *json, lp_array ***targets_out, int *n_out);
/* The planned task graph (pnodes with kernels, grids, programs; tasks with operands, pieces
 * and dependencies) as JSON ("lampy.plan" version 1). Nothing is run. */
LP_API lp_status lp_plan_dump(lp_ctx *ctx, lp_array *const *targets, int n, char **json_out);

/* Graphviz DOT text: the expression graph (fused regions as clusters), or with LP_DOT_PLAN the
 * planned nodes with their chunk grids; labels carry op, shape, dtype and estimated time. */
#define LP_DOT_PLAN 1
LP_API lp_status lp_graph_dot(lp_ctx *ctx, lp_array *const *targets, int n, int flags, char **dot_out);

/* The cost model's machine profile. Unless set, the first estimate or plan loads it from
 * $LAMPY_PROFILE, else $XDG_CONFIG_HOME/lampy/profile.json (~/.config/lampy/profile.json),
 * else uses built-in defaults. With none of these and no chunk size set, the first plan of an
 * array over 4 MiB probes the machine once (~1 s: chunk size, non-temporal stores, huge pages)
 * and saves the result at the default location. path NULL = that default location. */
LP_API lp_status lp_profile_load(lp_ctx *ctx, const char *path);
LP_API lp_status lp_profile_save(lp_ctx *ctx, const char *path);
/* The profile in use as JSON. */
LP_API lp_status lp_profile_dump(lp_ctx *ctx, char **json_out);
/* Where the profile is looked for (buf of at least 4096 bytes is always enough). */
LP_API lp_status lp_profile_path(char *buf, size_t cap);
/* Measure this machine with microbenchmarks (about 10 s; at most max_seconds, 0 = default)
 * and use the result as ctx's profile. log (may be NULL) receives one line per measurement. */
LP_API lp_status lp_calibrate(lp_ctx *ctx, double max_seconds, void (*log)(void *arg, const char *line),
                       void *log_arg);
/* Measure the lambda executor against ctx's workers and store (lp_ctx_set_workers,
 * lp_ctx_set_store, lp_ctx_set_remote_config for the key): store round trip and bandwidth, an
 * invocation's round trip, orchestrated and driver-centric runs of small graphs (a few
 * seconds; quick: fewer repetitions). The figures become the remote part of ctx's profile; the
 * rest of it is kept (lp_calibrate keeps the remote part in turn). Orchestrated runs need a
 * redis:// store; with another the orchestrated figures keep their values. load_dir (may be
 * NULL): a directory the workers may read (one of their load roots), where a small .npy file is
 * written (and removed) to measure what a run with a file input costs per lambda; NULL keeps
 * the profile's figure for it. */
LP_API lp_status lp_calibrate_remote(lp_ctx *ctx, bool quick, const char *load_dir, void (*log)(void *arg, const char *line),
                                     void *log_arg);

/* Predicted cost of running the targets (nothing is run). */
typedef struct lp_estimate_node {
    int id;                  /* planned node id (as in lp_plan_dump) */
    char op[48];             /* op, or "op+N" for a fused region of N+1 ops */
    char kernel[12];         /* load gen map partial combine copy reshape ... */
    lp_dtype dtype;
    int ndim;
    int64_t shape[LP_MAX_NDIM];
    int64_t tasks;
    double flops;
    double bytes_read, bytes_written;
    double seconds;          /* all its tasks, one after another */
    bool critical;           /* on the critical path */
} lp_estimate_node;

typedef struct lp_estimate_result {
    int workers;
    bool remote;
    int64_t tasks;
    double flops, bytes_read, bytes_written;
    double work_seconds;     /* sum over tasks */
    double critical_seconds; /* the longest dependency chain */
    double total_seconds;    /* predicted wall time with `workers` workers */
    int nnodes;
    lp_estimate_node *nodes;
    double max_task_bytes;   /* the largest task's inputs and output: what one function holds */
    double save_seconds;     /* of total: saving into files (LP_ESTIMATE_SAVE): the writes the
                              * driver makes, each file's sync and rename */
} lp_estimate_result;

/* Remote: price tasks as the lambda executor runs them with the profile's remote figures
 * (`lampy calibrate --executor lambda`): workers = the lambdas at once; loads read by their
 * consumers, chunks through the store, the driver gathering the results. REMOTE: the driver
 * dispatches batches of tasks (orchestrate "driver"); ORCHESTRATE: one invocation, chains of
 * tasks in the functions (orchestrate "lambda"). */
#define LP_ESTIMATE_REMOTE 1
#define LP_ESTIMATE_ORCHESTRATE 2
/* The targets are saved into .npy files on this machine, as lp_save_array does (`lampy eval
 * -o`): remotely the tasks write them (result sinks; not with LAMPY_RESULT_SINK=0), else the
 * driver writes each result after the run; each file is synced and renamed into place. */
#define LP_ESTIMATE_SAVE 4
/* workers 0 = ctx's thread count. *out is released with lp_estimate_free. */
LP_API lp_status lp_estimate(lp_ctx *ctx, lp_array *const *targets, int n, int workers, int flags,
                      lp_estimate_result **out);
/* lp_estimate with LP_ESTIMATE_SAVE, target i saved into the .npy file paths[i] (NULL: a new
 * file): a file already there is replaced, and the rename that replaces it frees its pages and
 * blocks (priced with the profile's file_drop_bw). */
LP_API lp_status lp_estimate_save(lp_ctx *ctx, lp_array *const *targets, int n, int workers, int flags,
                                  const char *const *paths, lp_estimate_result **out);
LP_API void lp_estimate_free(lp_estimate_result *e);

/* Record a timeline of each run (one span per task: worker, op, chunk, bytes); also fills
 * lp_run_stats' predicted and busy times. Off by default; costs two clock reads per task. */
LP_API lp_status lp_ctx_set_trace(lp_ctx *ctx, bool on);
/* Write the last traced run as a Chrome trace-event file (opens in Perfetto, chrome://tracing). */
LP_API lp_status lp_trace_write(lp_ctx *ctx, const char *path);
/* A progress bar on stderr for runs longer than about a second, only when stderr is a
 * terminal. Off by default. */
LP_API lp_status lp_ctx_set_progress(lp_ctx *ctx, bool on);

/* Extended statistics of the last run (lp_run_stats plus the trace's numbers). */
typedef struct lp_run_report {
    lp_run_stats stats;
    int64_t bytes_written;     /* chunks and partial states written by tasks */
    double predicted_seconds;  /* the cost model's prediction (traced runs) */
    double busy_seconds;       /* sum of task durations (traced runs) */
    double utilisation;        /* busy / (threads * run time) (traced runs) */
} lp_run_report;
LP_API void lp_last_run_report(const lp_ctx *ctx, lp_run_report *out);

/* ---- Fisher LDA ---------------------------------------------------------------------- */

/* Fisher's linear discriminant with the semantics of scikit-learn's
 * LinearDiscriminantAnalysis(solver='eigen'): same attributes, same predictions.
 *
 *     lp_ctx *ctx;  lp_array *X, *y, *yhat;  lp_lda_model *m;  lp_buffer *pred;
 *     lp_ctx_create(&ctx);
 *     lp_load(ctx, "X.npy", &X);                        // X: (N, D) float
 *     lp_load(ctx, "y.npy", &y);                        // y: (N,) int or bool
 *     if (lp_fisher_lda_fit(ctx, X, y, NULL, &m) != LP_OK) {
 *         fprintf(stderr, "%s\n", lp_last_error(ctx));
 *         return 1;
 *     }
 *     lp_lda_predict(ctx, m, X, &yhat);                 // lazy: runs chunked with lp_run
 *     lp_run(ctx, &yhat, 1, &pred);
 *     lp_lda_save(ctx, m, "model.npy");
 *     lp_buffer_release(pred);  lp_array_release(yhat);  lp_lda_model_destroy(m);
 *     lp_array_release(y);  lp_array_release(X);  lp_ctx_destroy(ctx);
 *
 * The fit reads X once (twice with shrinkage "auto") in chunked tasks: the distinct labels
 * first (a pass over y only), then per class the count, the mean and the centered scatter of
 * each chunk, merged in a fixed-order tree with Chan's formula; then a small D x D generalized
 * eigenproblem (LAPACK dsygvd) in the calling thread. Labels need not be 0..K-1; classes_ is
 * sorted as np.unique sorts. Attributes are float64 whatever X's dtype. */

#define LP_LDA_MAX_CLASSES 1024

typedef struct lp_lda_model lp_lda_model;

/* Numbers reach saved models: append only. */
typedef enum lp_lda_shrinkage {
    LP_LDA_SHRINKAGE_NONE = 0,  /* empirical covariances */
    LP_LDA_SHRINKAGE_FIXED = 1, /* (1 - s) S + s tr(S)/D I, s = lp_lda_opts.shrinkage in [0, 1] */
    LP_LDA_SHRINKAGE_AUTO = 2,  /* Ledoit-Wolf on standardized features, as shrinkage='auto' */
    LP_LDA_SHRINKAGE_COUNT
} lp_lda_shrinkage;

/* Options; a zeroed struct (or NULL) is scikit-learn's defaults. */
typedef struct lp_lda_opts {
    int n_components;                 /* 0: min(n_classes - 1, n_features) */
    lp_lda_shrinkage shrinkage_kind;
    double shrinkage;                 /* LP_LDA_SHRINKAGE_FIXED only */
    const double *priors;             /* NULL: class frequencies; else n_priors values in
                                       * classes_ order (renormalized if they do not sum to 1) */
    int n_priors;
} lp_lda_opts;

/* Fit on X (N x D; float32/float64, other dtypes are cast to float64) and labels y (N; bool,
 * int32 or int64). Errors: LP_ERR_SHAPE (sizes), LP_ERR_TYPE (dtypes), LP_ERR_VALUE (fewer than
 * 2 classes, NaN/inf, bad options), LP_ERR_LIMIT (more than LP_LDA_MAX_CLASSES labels),
 * LP_ERR_LINALG (singular or ill-conditioned within-class covariance: the message names the
 * constant or dependent features and suggests shrinkage). *out receives a new model. */
LP_API lp_status lp_fisher_lda_fit(lp_ctx *ctx, lp_array *X, lp_array *y, const lp_lda_opts *opts,
                            lp_lda_model **out);
LP_API void lp_lda_model_destroy(lp_lda_model *m);

/* Lazy expressions over X (N x n_features), computed chunk by chunk when run:
 * predict: (N,) labels in y's dtype; transform: (N, n_components) float64 (X @ scalings_);
 * decision_function: (N,) for two classes, else (N, n_classes), float64. */
LP_API lp_status lp_lda_predict(lp_ctx *ctx, const lp_lda_model *m, lp_array *X, lp_array **out);
LP_API lp_status lp_lda_transform(lp_ctx *ctx, const lp_lda_model *m, lp_array *X, lp_array **out);
LP_API lp_status lp_lda_decision_function(lp_ctx *ctx, const lp_lda_model *m, lp_array *X, lp_array **out);

/* Fitted attributes by scikit-learn name, as new buffers (copies): "classes_" (K,) in y's
 * dtype; "priors_" (K,); "means_" (K, D); "coef_" and "intercept_" ((1, D) and (1,) for two
 * classes, else (K, D) and (K,)); "scalings_" (D, D); "explained_variance_ratio_"
 * (n_components,); "covariance_" (D, D). Unknown names: LP_ERR_NOTFOUND. */
LP_API lp_status lp_lda_attr(lp_ctx *ctx, const lp_lda_model *m, const char *name, lp_buffer **out);
LP_API int64_t lp_lda_n_classes(const lp_lda_model *m);
LP_API int64_t lp_lda_n_features(const lp_lda_model *m);
LP_API int64_t lp_lda_n_components(const lp_lda_model *m);
LP_API int64_t lp_lda_n_samples(const lp_lda_model *m);   /* rows the model was fitted on */

/* One float64 .npy file: a 16-value header then the attributes (layout in src/ml/lda_io.c);
 * written atomically. Loading validates every field and names the file in errors. */
LP_API lp_status lp_lda_save(lp_ctx *ctx, const lp_lda_model *m, const char *path);
LP_API lp_status lp_lda_load(lp_ctx *ctx, const char *path, lp_lda_model **out);

/* ---- quadratic and regularized discriminant analysis -------------------------------- */

/* Friedman's regularized discriminant analysis, which includes scikit-learn's
 * QuadraticDiscriminantAnalysis (alpha 1) and a Gaussian rule with LDA's covariance (alpha 0):
 * one pass over X (the same chunked per-class statistics as Fisher LDA), then per class
 *
 *   C_k = alpha S_k + (1 - alpha) S,   S_k = M2_k / n_k,   S = sum_k priors_k S_k
 *   C_k := (1 - gamma) C_k + gamma tr(C_k) / D I;   C_k := (1 - reg_param) C_k + reg_param I
 *
 * and predict gives argmax_k -1/2 (x - mu_k)' C_k^-1 (x - mu_k) - 1/2 log|C_k| + log priors_k
 * (M2_k: class k's centered scatter; alpha 1: scikit-learn's QuadraticDiscriminantAnalysis,
 * whose shrinkage (solver='eigen') is gamma and reg_param the same; alpha 0: the rule of LDA
 * with covariance_ S, as LinearDiscriminantAnalysis(solver='lsqr') and lp_fisher_lda_fit). */
typedef struct lp_rda_model lp_rda_model;

typedef struct lp_rda_opts {
    double alpha;           /* in [0, 1]: 1 class covariances (QDA), 0 the pooled one (LDA) */
    double gamma;           /* in [0, 1]: shrinkage toward tr(C)/D I */
    double reg_param;       /* in [0, 1]: scikit-learn QDA's reg_param */
    const double *priors;   /* NULL: class frequencies; else n_priors values (renormalized) */
    int n_priors;
} lp_rda_opts;

/* opts NULL: QDA (alpha 1, gamma 0, reg_param 0). X (N x D) float (other dtypes cast to
 * float64), y (N) bool or integers. Errors as lp_fisher_lda_fit's; LP_ERR_LINALG when a class
 * covariance is singular (regularize with gamma or reg_param). */
LP_API lp_status lp_rda_fit(lp_ctx *ctx, lp_array *X, lp_array *y, const lp_rda_opts *opts, lp_rda_model **out);
LP_API void lp_rda_model_destroy(lp_rda_model *m);
/* Lazy: predict (N,) labels in y's dtype; decision_function (N, K) per-class log posteriors up
 * to a common term, or for two classes (N,) the log-likelihood ratio of the second. */
LP_API lp_status lp_rda_predict(lp_ctx *ctx, const lp_rda_model *m, lp_array *X, lp_array **out);
LP_API lp_status lp_rda_decision_function(lp_ctx *ctx, const lp_rda_model *m, lp_array *X, lp_array **out);
/* "classes_" (K,), "priors_" (K,), "means_" (K, D), "covariance_" (K, D, D) the regularized
 * covariances, "rotations_" (K, D, D) their eigenvectors as columns and "scalings_" (K, D) the
 * eigenvalues (descending), as new buffers. */
LP_API lp_status lp_rda_attr(lp_ctx *ctx, const lp_rda_model *m, const char *name, lp_buffer **out);
LP_API int64_t lp_rda_n_classes(const lp_rda_model *m);
LP_API int64_t lp_rda_n_features(const lp_rda_model *m);

/* ---- linear algebra ---------------------------------------------------------------- */

/* Matrix product with numpy.matmul's semantics (the `@` operator): N-D operands are stacks of
 * matrices in their last two axes with the leading axes broadcast; a 1-D left (right) operand
 * is a row (column) vector whose axis is removed from the result; 0-d operands are an error.
 * dtype lp_promote(a, b). float32/float64 run on OpenBLAS (gemm, gemv, dot); integer and bool
 * products are exact in int64 with NumPy's wrapping (bool: any(a & b)).
 * Lazy and chunked: output blocks follow the operands' chunks, and when the output has few small
 * blocks the contraction is split across tasks whose partial products are summed in a fixed
 * order (results do not depend on the thread count). A transpose of the last two axes
 * (lp_transpose) is read in place by BLAS, never copied; X.T @ X and X @ X.T (the same array,
 * also after CSE) run as symmetric rank-k updates, half the flops. A single large block uses
 * every pool thread inside BLAS; otherwise each task runs single-threaded BLAS. */
LP_API lp_status lp_matmul(lp_ctx *ctx, lp_array *a, lp_array *b, lp_array **out);
/* numpy.dot: 0-d operands multiply; up to 2-D it is matmul; N-D sums over a's last axis and
 * b's second-to-last (b's only, if 1-D), as tensordot. */
LP_API lp_status lp_dot(lp_ctx *ctx, lp_array *a, lp_array *b, lp_array **out);
/* numpy.outer: out[i, j] = a.ravel()[i] * b.ravel()[j] (an elementwise multiply). */
LP_API lp_status lp_outer(lp_ctx *ctx, lp_array *a, lp_array *b, lp_array **out);
/* numpy.tensordot(a, b, axes=(axes_a, axes_b)): sums over naxes pairs of axes. axes_a and
 * axes_b NULL: the integer form, a's last naxes axes with b's first naxes. Built from
 * transpose, reshape and matmul (operands whose contracted axes are not already last / first
 * are copied once). */
LP_API lp_status lp_tensordot(lp_ctx *ctx, lp_array *a, lp_array *b, int naxes, const int *axes_a,
                       const int *axes_b, lp_array **out);

/* Small dense linear algebra (numpy.linalg), lazy like everything else but run as ONE task over
 * the whole operand with LAPACK (OpenBLAS's LAPACKE): meant for matrices that fit comfortably
 * in one machine (Gram and covariance matrices, normal equations). Operands may be stacks
 * (..., M, M) broadcast like NumPy's unless noted. dtype as numpy.linalg: complex if any operand
 * is complex (LAPACK's c / z routines), single precision (float32 / complex64) if every operand
 * is, else double (integers and bool are converted). The real results of a complex matrix
 * (slogdet's log|det|, eigh's eigenvalues, svd's singular values) are real arrays, as NumPy's.
 * Errors are LP_ERR_LINALG with numpy.linalg.LinAlgError's message: "Singular matrix",
 * "Matrix is not positive definite", "Last 2 dimensions of the array must be square", ...
 * Unlike NumPy, an operand containing inf or NaN is an error ("Array must not contain infs
 * or NaNs") rather than a result full of NaNs. */
LP_API lp_status lp_linalg_solve(lp_ctx *ctx, lp_array *a, lp_array *b, lp_array **x);   /* a x = b; b (M,) or (..., M, K) */
LP_API lp_status lp_linalg_inv(lp_ctx *ctx, lp_array *a, lp_array **out);
LP_API lp_status lp_linalg_cholesky(lp_ctx *ctx, lp_array *a, lp_array **l);           /* lower: a = l l^H */
LP_API lp_status lp_linalg_det(lp_ctx *ctx, lp_array *a, lp_array **out);              /* singular: 0 */
/* sign (complex: det / |det|) and log|det| (singular: 0 and -inf); either output may be NULL.
 * One factorization. */
LP_API lp_status lp_linalg_slogdet(lp_ctx *ctx, lp_array *a, lp_array **sign, lp_array **logabsdet);
/* Symmetric (Hermitian) eigendecomposition from a's lower triangle: eigenvalues ascending
 * (..., M), real, and eigenvectors as columns (..., M, M); either output may be NULL (NULL v:
 * numpy's eigvalsh). One LAPACK call (syevd / heevd) serves both. */
LP_API lp_status lp_linalg_eigh(lp_ctx *ctx, lp_array *a, lp_array **w, lp_array **v);
/* Least squares min |a x - b| by SVD (gelsd): a (M, N), b (M,) or (M, K) -> x (N,) or (N, K).
 * rcond < 0: NumPy 2's default eps * max(M, N). Only the solution is returned. */
LP_API lp_status lp_linalg_lstsq(lp_ctx *ctx, lp_array *a, lp_array *b, double rcond, lp_array **x);
/* numpy.linalg.norm(a, ord) of the whole array: ord NULL (the 2-norm of the flattened array),
 * "fro", "nuc" or a number ("1", "-2", "inf", "0.5", ...): a 1-d a as a vector (sum(|x|**p) **
 * (1/p), 0: the count of non-zeros, +-inf: max/min |x|), a 2-d a as a matrix (+-1/+-inf:
 * max/min column/row sums of |x|, +-2 and "nuc": from the singular values). Composed of chunked
 * elementwise ops and reductions (the catalogue's linalg.norm), so it streams over large arrays;
 * integer inputs give float64. */
LP_API lp_status lp_linalg_norm(lp_ctx *ctx, lp_array *a, const char *ord, lp_array **out);
/* QR of a 2-d a (M, N), K = min(M, N): q (M, K) and r (K, N) as numpy.linalg.qr's 'reduced'
 * mode; either may be NULL (NULL q: mode 'r'). A tall a is factored as TSQR over its row chunks
 * (a QR per chunk, one QR of the stacked R factors, then each chunk's Q times its block of the
 * small Q), so it streams; a wide one is one LAPACK task. Signs may differ from NumPy's (a
 * factorization is unique up to the signs of R's rows), but q @ r and |r| agree. No inf/NaN
 * check (NumPy has none either). */
LP_API lp_status lp_linalg_qr(lp_ctx *ctx, lp_array *a, lp_array **q, lp_array **r);
/* SVD of a 2-d a (M, N) as numpy.linalg.svd(full_matrices=False): u (M, K), s (K,) descending,
 * vt (K, N); u and vt may be NULL (compute_uv=False). Tall: the SVD (gesdd) of the TSQR's
 * small R, u = Q @ U_r (a chunked product); wide: the same on a's transpose. Singular vectors
 * are unique up to sign only. */
LP_API lp_status lp_linalg_svd(lp_ctx *ctx, lp_array *a, lp_array **u, lp_array **s, lp_array **vt);
/* Single-result ops by name (for the CLI and bindings): "solve" "inv" "cholesky" "det"
 * "lstsq" "eigvalsh" "norm" "matmul" "dot" "outer". */
LP_API lp_status lp_linalg(lp_ctx *ctx, const char *op, int nin, lp_array *const *in, lp_array **out);

/* ---- remote execution: HTTP functions (OpenLambda API) and a chunk store ----------------- */

/* Where lp_run executes: "local" (the thread pool, the default) or "lambda" (tasks are POSTed
 * to workers' /run/<name> and exchange chunks through the store; docs/PROTOCOL.md). */
LP_API lp_status lp_ctx_set_executor(lp_ctx *ctx, const char *executor);
/* Comma-separated worker base URLs: "http://127.0.0.1:5001,http://127.0.0.1:5002". Each is a
 * `lampy worker` or an OpenLambda worker with Lampy's lambda installed. */
LP_API lp_status lp_ctx_set_workers(lp_ctx *ctx, const char *urls);
/* The chunk store for intermediates and results (store URL as in `lampy store`; default
 * "redis://127.0.0.1:6379"). Workers must be able to reach it. */
LP_API lp_status lp_ctx_set_store(lp_ctx *ctx, const char *url);

/* Tuning of the lambda executor; zero fields keep the defaults. */
typedef struct lp_remote_config {
    const char *lambda;     /* lambda name: POST <worker>/run/<lambda>; default "lampy" */
    int inflight;           /* invocations in flight per worker; default 2 */
    int max_tries;          /* attempts per task before the run fails; default 5 */
    double timeout_sec;     /* per invocation (OpenLambda's runtime_sec is 30); default 35 */
    int batch;              /* most tasks per invocation; 1 = no batching; default 32 */
    /* Security (docs/SECURITY.md). key_file: a file holding the secret shared with the workers
     * and stores; every request to them is signed with it (default $LAMPY_KEY_FILE; none =
     * unsigned requests, which a worker or store started with a key refuses). ca_file: PEM
     * bundle that https:// workers and stores are verified against (default $LAMPY_CA_FILE,
     * else the system's). The key is read when the config is set. */
    const char *key_file;
    const char *ca_file;
    /* Who orchestrates (docs/ORCHESTRATION.md): "driver" (the default: this process sends every
     * task) or "lambda" (this process writes the graph to the store and makes ONE invocation;
     * the functions plan, run and start each other; lp_run only waits for the result). */
    const char *orchestrate;
    int max_lambdas;        /* orchestrate=lambda: invocations in flight at most; default 2 per worker */
    int lambda_mem_mb;      /* memory of one lambda (OpenLambda's mem_mb); 0 = not limited */
    double runtime_sec;     /* time limit of one invocation (OpenLambda's runtime_sec); default 30 */
    double deadline_sec;    /* the whole run, cleanup included (both modes); default 3600. Every
                             * key a driver-dispatched run writes to Redis expires 65 s after it
                             * (LAMPY_REMOTE_KEY_MARGIN sets the 60 s part), should the cleanup
                             * not reach the store */
} lp_remote_config;
LP_API lp_status lp_ctx_set_remote_config(lp_ctx *ctx, const lp_remote_config *cfg);

/* Orchestrated runs without waiting (orchestrate = "lambda"): lp_submit writes the run and
 * makes its one invocation, then returns its id (at most LP_RUN_ID_MAX - 1 characters) at once;
 * the process may exit. lp_wait(ctx, id, ...) — from this or any process whose context names
 * the same store and workers — waits for it, fetches the n results as new buffers (release each
 * with lp_buffer_release, the list with lp_free_results) and deletes the run's keys; a failed
 * run reports its error. timeout_sec 0 waits until the run's deadline. */
#define LP_RUN_ID_MAX 64
LP_API lp_status lp_submit(lp_ctx *ctx, lp_array *const *targets, int n, char *run_id_out);
LP_API lp_status lp_wait(lp_ctx *ctx, const char *run_id, double timeout_sec, lp_buffer ***results_out, int *n_out);
LP_API void lp_free_results(lp_buffer **results, int n);

/* The worker's entry point, for hosting Lampy in any HTTP function runtime (the OpenLambda
 * lambda calls it): run a batch of tasks given as the wire format's JSON and return the HTTP
 * status a worker would answer (200, 400, 413, 500, ...); *reply_out receives the JSON reply
 * (release it with lp_string_free). Stores allowed: $LAMPY_ALLOW_STORES (comma-separated
 * URLs, matched as lampy worker --allow-store does; none by default); what load tasks may
 * read: files below $LAMPY_LOAD_DIRS and URLs starting with $LAMPY_LOAD_URLS (comma-separated;
 * none by default). Requests to http(s) stores are signed with $LAMPY_KEY_FILE when it is
 * set. Thread safe. */
LP_API int lp_worker_run_json(const char *body, size_t len, char **reply_out);

#ifdef __cplusplus
}
#endif
#endif /* LAMPY_H */
