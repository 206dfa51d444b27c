/* Internal core: the context, errors, allocation hooks, dtypes, shapes and buffers. */
#ifndef LP_CORE_H
#define LP_CORE_H

#include "lampy.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <pthread.h>
#include <string.h>

#define LPI_ERRMSG_MAX 512

/* State that upper layers keep per context: the thread pool (exec/pool.c), the cost model's
 * machine profile (plan/cost.c), the last traced run (exec/trace.c), the lambda executor's
 * settings and connections (exec/remote.c). The context owns the slots and frees each with the
 * destructor its layer registered, so core depends on none of those layers. */
typedef enum lpi_slot {
    LPI_SLOT_POOL = 0,
    LPI_SLOT_PROFILE,
    LPI_SLOT_TRACE,
    LPI_SLOT_REMOTE,
    LPI_SLOT_COUNT
} lpi_slot;

struct lp_ctx {
    pthread_mutex_t err_lock;        /* the pool's threads report failures here too */
    lp_status last_status;
    char errmsg[LPI_ERRMSG_MAX];
    int nthreads;                    /* 0 = one per core */
    size_t chunk_bytes;              /* 0 = automatic */
    bool fusion;
    atomic_int cancel;               /* set by lp_cancel, cleared when a run starts */
    bool in_run;                     /* during a run the first failure's message is kept */
    lp_run_stats stats;
    bool trace;                      /* record a per-task timeline of each run */
    bool progress;                   /* progress bar on stderr (a tty, runs over ~1 s) */
    lp_run_report report;            /* lp_last_run_report's numbers beyond ctx->stats */
    struct {
        void *ptr;
        void (*destroy)(void *);
    } slot[LPI_SLOT_COUNT];
};

static inline void *lpi_ctx_slot(const lp_ctx *ctx, lpi_slot s) { return ctx->slot[s].ptr; }
/* Put p (NULL to empty the slot) in slot s; the state there before is destroyed first. */
void lpi_ctx_set_slot(lp_ctx *ctx, lpi_slot s, void *p, void (*destroy)(void *));
/* Threads a run uses: the context's setting, else one per core. */
int lpi_ctx_workers(const lp_ctx *ctx);
/* Cores available to this process (its CPU affinity). */
int lpi_ncores(void);
/* Compute targets now and keep their results on the nodes: for the layers below exec that need
 * a value while they build (a data-dependent size, expr/fn_index.c). The executor registers
 * itself (exec/run.c registers lp_run when the library loads); LP_ERR_INTERNAL when none is. */
typedef lp_status (*lpi_run_now_fn)(lp_ctx *ctx, lp_array *const *targets, int n, lp_buffer **results);
void lpi_set_run_now(lpi_run_now_fn fn);
lp_status lpi_run_now(lp_ctx *ctx, lp_array *const *targets, int n);

/* Record a failure on ctx and return st. The message is one line, no trailing newline. */
lp_status lpi_error(lp_ctx *ctx, lp_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
lp_status lpi_verror(lp_ctx *ctx, lp_status st, const char *fmt, va_list ap);
lp_status lpi_nomem(lp_ctx *ctx);
/* "ERR_VALUE" etc. (the enum's name without LP_), as replies and run documents carry it; and
 * back (an unknown name is LP_ERR_REMOTE). */
const char *lpi_status_name(lp_status st);
lp_status lpi_status_from_name(const char *s);

/* ---- allocation (hooks let tests inject failures) ---- */
void *lp_malloc(size_t n);
void *lp_calloc(size_t n, size_t size);
void *lp_realloc(void *p, size_t n);
void lp_free(void *p);
/* Aligned to 64 bytes (cache line, AVX-512); freed with lp_free_aligned. */
void *lp_malloc_aligned(size_t n);
void lp_free_aligned(void *p);
char *lp_strdup(const char *s);
/* Test hook: the nth allocation from now fails (0 = never). */
void lpi_alloc_fail_after(long n);
/* Whether large aligned allocations ask for transparent huge pages (default yes). A fact about
 * the machine, so process-wide: the machine profile sets it (plan/cost.c). */
void lpi_alloc_set_huge(bool on);
bool lpi_alloc_huge(void);

/* ---- dtypes ---- */
typedef enum { LPI_KIND_BOOL = 0, LPI_KIND_INT = 1, LPI_KIND_FLOAT = 2, LPI_KIND_COMPLEX = 3 } lpi_kind;
lpi_kind lpi_dtype_kind(lp_dtype dt);
/* Promotion with a weak (Python) scalar: NEP 50. */
lp_dtype lpi_promote_weak(lp_dtype array_dt, lp_dtype scalar_kind_dt);
/* v converted to dt, in the low bytes of a 16-byte slot (constants, fill values: complex128
 * is the widest dtype). */
typedef struct lpi_raw { uint64_t w[2]; } lpi_raw;
lpi_raw lpi_scalar_bits(lp_scalar v, lp_dtype dt);
/* float -> int as NumPy does on x86 (cvtt*): out of range and NaN give the minimum. A plain C
 * cast of such a value is undefined behaviour. Cast loops and constants both use these. */
static inline int64_t lpi_f2i64(double x) {
    return x >= -9223372036854775808.0 && x < 9223372036854775808.0 ? (int64_t)x : INT64_MIN;
}
static inline int32_t lpi_f2i32(double x) {
    return x >= -2147483648.0 && x < 2147483648.0 ? (int32_t)x : INT32_MIN;
}
/* float -> uint64 as x86-64 compilers do: below 2^63 through the signed conversion (so
 * negative values wrap), [2^63, 2^64) exactly; beyond, and NaN, 2^63. */
static inline uint64_t lpi_f2u64(double x) {
    if (x >= 9223372036854775808.0 && x < 18446744073709551616.0)
        return (uint64_t)(x - 9223372036854775808.0) ^ 0x8000000000000000ull;
    return (uint64_t)lpi_f2i64(x);
}
/* Every dtype with its C storage type and loop suffix; float16 is stored as its bits. */
#define LPI_DTYPES(X)                                                                           \
    X(LP_BOOL, uint8_t, b) X(LP_INT8, int8_t, i8) X(LP_INT16, int16_t, i16) X(LP_INT32, int32_t, i32) \
    X(LP_INT64, int64_t, i64) X(LP_UINT8, uint8_t, u8) X(LP_UINT16, uint16_t, u16)                 \
    X(LP_UINT32, uint32_t, u32) X(LP_UINT64, uint64_t, u64) X(LP_FLOAT16, uint16_t, f16)           \
    X(LP_FLOAT32, float, f32) X(LP_FLOAT64, double, f64) X(LP_COMPLEX64, float _Complex, c64)       \
    X(LP_COMPLEX128, double _Complex, c128)
bool lpi_dtype_unsigned(lp_dtype dt);
/* the unit a byte-order swap reverses: the item, or each part of a complex item */
static inline size_t lpi_swap_unit(lp_dtype dt) {
    size_t s = lp_dtype_size(dt);
    return dt == LP_COMPLEX64 || dt == LP_COMPLEX128 ? s / 2 : s;
}
/* true for every integer dtype (signed or not); bool is not an integer here */
static inline bool lpi_dtype_is_int(lp_dtype dt) { return lpi_dtype_kind(dt) == LPI_KIND_INT; }
static inline bool lpi_dtype_is_complex(lp_dtype dt) { return dt == LP_COMPLEX64 || dt == LP_COMPLEX128; }
/* complex64 -> float32, complex128 -> float64 (abs, real, imag, var); others unchanged */
static inline lp_dtype lpi_dtype_real(lp_dtype dt) {
    return dt == LP_COMPLEX64 ? LP_FLOAT32 : dt == LP_COMPLEX128 ? LP_FLOAT64 : dt;
}
/* a complex element as two doubles, and back (rounded to dt's parts) */
void lpi_load_c(const void *p, lp_dtype dt, double out[2]);
void lpi_store_c(void *p, lp_dtype dt, double re, double im);
/* float16 bits <-> float/double, rounding to nearest even as NumPy's npy_*_to_half do (in
 * integer arithmetic: compilers' _Float16 is not everywhere, e.g. clang 14 on x86-64). A NaN
 * keeps its sign and the top of its payload, quiet. */
static inline float lpi_h2f(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu, f;
    if (e == 0x1F) f = sign | 0x7F800000u | (m << 13);
    else if (e) f = sign | ((e + 112) << 23) | (m << 13);
    else if (!m) f = sign;
    else { /* subnormal: m * 2^-24, normalized */
        e = 113;
        while (!(m & 0x400u)) { m <<= 1; e--; }
        f = sign | (e << 23) | ((m & 0x3FFu) << 13);
    }
    float r;
    memcpy(&r, &f, 4);
    return r;
}
static inline uint16_t lpi_d2h(double v) {
    uint64_t d;
    memcpy(&d, &v, 8);
    const uint16_t sign = (uint16_t)((d >> 48) & 0x8000u);
    const uint64_t a = d & 0x7FFFFFFFFFFFFFFFull;
    if (a >= 0x7FF0000000000000ull) /* inf; NaN stays a (quiet) NaN */
        return a == 0x7FF0000000000000ull ? (uint16_t)(sign | 0x7C00u) : (uint16_t)(sign | 0x7E00u | ((a >> 42) & 0x3FFu));
    const int e = (int)(a >> 52) - 1023;
    if (e > 15) return (uint16_t)(sign | 0x7C00u);
    if (e < -25) return sign; /* below half the smallest subnormal */
    const uint64_t m = (a & 0xFFFFFFFFFFFFFull) | 0x10000000000000ull; /* 53 bits */
    const int shift = e < -14 ? 28 - e : 42; /* to units of 2^-24 (subnormal) or 10 fraction bits */
    uint64_t q = m >> shift;
    const uint64_t rem = m & ((1ull << shift) - 1), half = 1ull << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    /* normal: the exponent field plus the fraction (a carry out of the fraction bumps the
     * exponent, up to infinity); subnormal: q itself (0x400 is the smallest normal) */
    uint32_t h = e < -14 ? (uint32_t)q : ((uint32_t)(e + 15) << 10) + (uint32_t)(q - 0x400);
    return (uint16_t)(sign | (h >= 0x7C00u ? 0x7C00u : h));
}
/* One element at p (dtype dt) as a double, or as int64 bits (uint64 keeps its bits; floats
 * through lpi_f2i64), and a double / int64 stored into dt with the cast loops' semantics. These
 * are for the places that handle a few values (scalars, printing, bounds), not for loops. */
double lpi_load_f64(const void *p, lp_dtype dt);
int64_t lpi_load_i64(const void *p, lp_dtype dt);
void lpi_store_f64(void *p, lp_dtype dt, double v);
void lpi_store_i64(void *p, lp_dtype dt, int64_t v);
/* The representable range of an integer dtype (uint64's top as INT64_MAX: Python ints past it
 * are not supported as weak scalars). */
void lpi_int_range(lp_dtype dt, int64_t *lo, int64_t *hi);
double lpi_now(void); /* monotonic seconds */
/* qsort/bsearch comparator of int64_t values. */
int lpi_cmp_i64(const void *a, const void *b);
/* The calling thread's deadline for blocking operations (store requests honour it): absolute
 * lpi_now() seconds, 0 = none. set returns the previous one, to restore. */
double lpi_deadline_set(double t);
double lpi_deadline(void);
/* Seconds an operation may block: dflt, or less when the deadline is nearer; 0 once it has
 * passed. */
double lpi_op_budget(double dflt);

/* ---- shapes ---- */
/* Product of dims; false on a negative dim, or when the product of the dims other than 0
 * overflows int64 (whatever the order: (0, 2**62, 4) is refused like (2**62, 4, 0)). */
bool lpi_shape_size(int ndim, const int64_t *shape, int64_t *size);
/* The shape of an array: as lpi_shape_size, and the dims other than 0 multiply to at most
 * INT64_MAX / 16, so that the bytes, strides and chunk grids of any array — an empty one too:
 * zeros((2**62, 0)) is refused, as NumPy refuses it — fit in 64 bits. */
bool lpi_shape_fits(int ndim, const int64_t *shape, int64_t *size);
/* NumPy broadcasting of n shapes; on mismatch the NumPy message is left on ctx. */
lp_status lpi_broadcast_shapes(lp_ctx *ctx, int n, const int *ndims, const int64_t *const *shapes,
                               int *out_ndim, int64_t *out_shape);
/* "(3,4)" / "(5,)" / "()" into buf: NumPy's spelling in error messages. */
const char *lpi_shape_str(char *buf, size_t cap, int ndim, const int64_t *shape);
/* Normalise an axis (negative counts from the end); NumPy's AxisError wording on failure. */
lp_status lpi_norm_axis(lp_ctx *ctx, int axis, int ndim, int *out);

/* ---- buffers ---- */
struct lp_buffer {
    atomic_long refcnt;
    lp_dtype dtype;
    int ndim;
    int64_t shape[LP_MAX_NDIM];
    void *data;
    size_t nbytes;
    bool owned;               /* data came from lp_malloc_aligned */
    void (*release)(void *);  /* foreign data: called with release_arg when the last ref goes */
    void *release_arg;
};
/* New buffer owning fresh (uninitialised) aligned memory. */
lp_buffer *lpi_buffer_new(lp_dtype dt, int ndim, const int64_t *shape);
/* Free the cache of recycled chunk buffers (when the last context goes). */
void lpi_buffer_cache_trim(void);
/* Free the cached buffers nobody reused for idle_sec; returns the bytes freed. */
size_t lpi_buffer_cache_trim_idle(double idle_sec);
/* New buffer over foreign memory, release(arg) when the last reference goes. */
lp_buffer *lpi_buffer_wrap(void *data, size_t nbytes, lp_dtype dt, int ndim, const int64_t *shape,
                           void (*release)(void *), void *arg);

#endif
