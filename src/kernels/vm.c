/* The elementwise VM: a fused region is a small register program; a task runs it over its box
 * in chunks of LPI_VM_BLOCK elements (reductions: up to four times that) so intermediates stay
 * in cache and are never materialized (the numexpr approach). Input registers point straight into the operands' memory with their
 * own strides; only temporaries use scratch. */
#include "kernels/kernels.h"
#include "kernels/loops.h"

#include <stdlib.h>
#include <string.h>

int lpi_coalesce(int nd, int64_t *shape, int nviews, int64_t (*strides)[LP_MAX_NDIM]) {
    if (nd == 0) {
        shape[0] = 1;
        for (int v = 0; v < nviews; v++) strides[v][0] = 0;
        return 1;
    }
    /* drop unit dimensions first (their strides are irrelevant) */
    int k = 0;
    for (int i = 0; i < nd; i++) {
        if (shape[i] == 1 && nd > 1) continue;
        shape[k] = shape[i];
        for (int v = 0; v < nviews; v++) strides[v][k] = strides[v][i];
        k++;
    }
    if (k == 0) {
        shape[0] = 1;
        for (int v = 0; v < nviews; v++) strides[v][0] = 0;
        return 1;
    }
    nd = k;
    int out = 0;
    for (int i = 1; i < nd; i++) {
        bool ok = true;
        for (int v = 0; v < nviews && ok; v++)
            ok = strides[v][out] == strides[v][i] * shape[i];
        if (ok) {
            shape[out] *= shape[i];
            for (int v = 0; v < nviews; v++) strides[v][out] = strides[v][i];
        } else {
            out++;
            shape[out] = shape[i];
            for (int v = 0; v < nviews; v++) strides[v][out] = strides[v][i];
        }
    }
    return out + 1;
}

void lpi_copy_view(const lpi_view *dst, const lpi_view *src) {
    int64_t shape[LP_MAX_NDIM], st[2][LP_MAX_NDIM];
    int nd = dst->ndim;
    for (int i = 0; i < nd; i++) {
        shape[i] = dst->shape[i];
        if (shape[i] == 0) return;
        st[0][i] = dst->strides[i];
        st[1][i] = src->strides[i];
    }
    nd = lpi_coalesce(nd, shape, 2, st);
    const int64_t isz = (int64_t)lp_dtype_size(dst->dtype);
    const int64_t n = shape[nd - 1], sd = st[0][nd - 1], ss = st[1][nd - 1];
    int64_t idx[LP_MAX_NDIM] = {0};
    char *d = dst->data;
    const char *s = src->data;
    for (;;) {
        if (sd == isz && ss == isz) memcpy(d, s, (size_t)(n * isz));
        else if (isz == 8) for (int64_t i = 0; i < n; i++) memcpy(d + i * sd, s + i * ss, 8);
        else if (isz == 4) for (int64_t i = 0; i < n; i++) memcpy(d + i * sd, s + i * ss, 4);
        else if (isz == 2) for (int64_t i = 0; i < n; i++) memcpy(d + i * sd, s + i * ss, 2);
        else if (isz == 16) for (int64_t i = 0; i < n; i++) memcpy(d + i * sd, s + i * ss, 16);
        else for (int64_t i = 0; i < n; i++) d[i * sd] = s[i * ss];
        int ax = nd - 2;
        for (; ax >= 0; ax--) {
            d += st[0][ax];
            s += st[1][ax];
            if (++idx[ax] < shape[ax]) break;
            d -= st[0][ax] * shape[ax];
            s -= st[1][ax] * shape[ax];
            idx[ax] = 0;
        }
        if (ax < 0) return;
    }
}

/* Scratch for temporaries, kept per thread: a reduction calls the VM once per cache-sized slab,
 * and a malloc/free pair per call showed up at 5% of bandwidth-bound runs. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
typedef struct { void *p; size_t cap; } scratch_t;

static void scratch_free(void *s_) {
    scratch_t *s = s_;
    lp_free_aligned(s->p);
    free(s);
}
static void scratch_init(void) { pthread_key_create(&scratch_key, scratch_free); }

static void *scratch_get(size_t bytes) {
    pthread_once(&scratch_once, scratch_init);
    scratch_t *s = pthread_getspecific(scratch_key);
    if (!s) {
        if (!(s = calloc(1, sizeof *s))) return NULL;
        if (pthread_setspecific(scratch_key, s) != 0) { free(s); return NULL; }
    }
    if (s->cap < bytes) {
        lp_free_aligned(s->p);
        s->cap = 0;
        if (!(s->p = lp_malloc_aligned(bytes))) return NULL;
        s->cap = bytes;
    }
    return s->p;
}

#if defined(__x86_64__) || defined(__SSE2__)
#include <emmintrin.h>
#define LPI_HAVE_STREAM 1
static void stream_copy(char *dst, const char *src, size_t bytes) {
    if (((uintptr_t)dst & 15) != 0 || (bytes & 15) != 0) { memcpy(dst, src, bytes); return; }
    for (size_t i = 0; i < bytes; i += 16)
        _mm_stream_si128((__m128i *)(dst + i), _mm_loadu_si128((const __m128i *)(src + i)));
}
/* non-temporal stores are weakly ordered: fence before the task's output is published */
static void stream_fence(void) { _mm_sfence(); }
#else
#define LPI_HAVE_STREAM 0
static void stream_copy(char *dst, const char *src, size_t bytes) { memcpy(dst, src, bytes); }
static void stream_fence(void) {}
#endif

/* A reduction's chunk: float sums fold LPI_VM_BLOCK pieces four at a time (lpi_sum8_runs), so a
 * chunk of four pieces runs the fold at the adder's throughput rather than its latency, when
 * the temporaries still take at most half of L1. Elementwise programs keep LPI_VM_BLOCK: larger
 * chunks measured slower for a*b + c*2 - a (bench/vm_block.c). Chunks are whole pieces, so a
 * sum has the same bits for either chunk. */
#define VM_FOLD_CHUNK (4 * LPI_VM_BLOCK)
#define VM_L1_TEMPS (16 * 1024)

static atomic_bool stream_on = true;
void lpi_vm_set_stream(bool on) { atomic_store_explicit(&stream_on, on, memory_order_relaxed); }
bool lpi_vm_stream(void) { return LPI_HAVE_STREAM && atomic_load_explicit(&stream_on, memory_order_relaxed); }

/* The whole output box is one C-contiguous run (so whole blocks are consecutive lines). */
static bool contiguous_out(const lpi_view *out, int nd, int64_t osz) {
    int64_t s = osz;
    for (int i = nd - 1; i >= 0; i--) {
        if (out->shape[i] != 1 && out->strides[i] != s) return false;
        s *= out->shape[i];
    }
    return true;
}

/* Fold one block of values into accumulators: acc_step 0 = all into one accumulator, else one
 * each (bytes). NaN propagates through min/max as in NumPy. */
static void fold_block(lpi_op op, bool accf, char *acc_, int64_t acc_step, const char *vals, int64_t n) {
    const int64_t k = acc_step / 8;
    double *A = (double *)acc_;
    int64_t *Q = (int64_t *)acc_;
    const double *x = (const double *)vals;
    const int64_t *y = (const int64_t *)vals;
    switch (op) {
    case LPI_OP_SUM: case LPI_OP_MEAN:
        if (accf) {
            if (k == 0) {
                /* eight-lane sums of LPI_VM_BLOCK pieces: the bits do not depend on the chunk */
                *A = lpi_sum8_runs(*A, x, n, LPI_VM_BLOCK);
            } else {
                for (int64_t i = 0; i < n; i++) A[i * k] += x[i];
            }
        } else {
            uint64_t *U = (uint64_t *)Q;
            for (int64_t i = 0; i < n; i++) U[i * k] += (uint64_t)y[i];
        }
        break;
    case LPI_OP_PROD:
        if (accf) for (int64_t i = 0; i < n; i++) A[i * k] *= x[i];
        else { uint64_t *U = (uint64_t *)Q; for (int64_t i = 0; i < n; i++) U[i * k] *= (uint64_t)y[i]; }
        break;
    case LPI_OP_MIN: case LPI_OP_MAX: lpi_fold_minmax(op == LPI_OP_MIN, accf, acc_, k, vals, n); break;
    case LPI_OP_ANY: for (int64_t i = 0; i < n; i++) Q[i * k] |= y[i] != 0; break;
    case LPI_OP_ALL: for (int64_t i = 0; i < n; i++) Q[i * k] &= y[i] != 0; break;
    default: break;
    }
}

static lp_status vm_exec(lp_ctx *ctx, const lpi_program *p, int nd, const int64_t *shape_in,
                         const lpi_view *ops, const lpi_view *out, lpi_op red, bool accf);

lp_status lpi_vm_run(lp_ctx *ctx, const lpi_program *p, int nd, const int64_t *shape_in,
                     const lpi_view *ops, const lpi_view *out) {
    return vm_exec(ctx, p, nd, shape_in, ops, out, LPI_OP_COUNT, false);
}

lp_status lpi_vm_reduce(lp_ctx *ctx, const lpi_program *p, int nd, const int64_t *shape,
                        const lpi_view *ops, const lpi_view *acc, lpi_op red, bool acc_float) {
    return vm_exec(ctx, p, nd, shape, ops, acc, red, acc_float);
}

/* One instruction as the block loop calls it: the loop, and for each argument (sources, then the
 * destination) its register and its step, fixed for the whole run. */
/* a step's fold loop (see op_folds) */
typedef double (*vm_fold_fn)(double acc, char **args, int64_t n, const int64_t *steps);

typedef struct {
    lpi_loop_fn fn;
    vm_fold_fn fold; /* the step and a float sum's fold as one loop (NULL: none) */
    lpi_loop_fn stream; /* the step storing its float64 values non-temporally (NULL: none) */
    int nargs;
    int16_t reg[4];
    int64_t step[4];
} vm_step;

/* Fused pairs (issue 16): a float64 add/subtract/multiply/divide whose result only the next
 * instruction reads, and that next one, another of the four, run as one loop: the temporary
 * stays in a register instead of a store and a reload per element. Each operation is still its
 * own IEEE operation, in the same order (the build never contracts to FMA: -ffp-contract=off),
 * so the bits are those of the two loops. Arguments: x, y (the first's), z (the second's other
 * operand), out; "tz": the temporary is the second's left operand (t op z), else its right
 * (z op t). Fast paths: contiguous, with at most one operand a broadcast constant. */
#define PAIR_CASE(KX, KY, KZ, E)                                                                          \
    if (sx == 8 * KX && sy == 8 * KY && sz == 8 * KZ) {                                                    \
        const double *restrict px = (const double *)args[0], *restrict py = (const double *)args[1];      \
        const double *restrict pz = (const double *)args[2];                                              \
        double *restrict po = (double *)args[3];                                                          \
        for (int64_t i = 0; i < n; i++) {                                                                 \
            const double x = px[i * KX], y = py[i * KY], z = pz[i * KZ];                                  \
            (void)z; /* t op t reads x and y only */                                                      \
            po[i] = (E);                                                                                  \
        }                                                                                                 \
        return;                                                                                           \
    }
#define PAIR_LOOP(NAME, NARGS, E)                                                                              \
    LPI_CLONES static void NAME(char **args, int64_t n, const int64_t *steps, int *err) {                \
        (void)err;                                                                                        \
        const int64_t sx = steps[0], sy = steps[1], sz = steps[2], so = steps[3];                         \
        if (so == 8) {                                                                                    \
            PAIR_CASE(1, 1, 1, E)                                                                         \
            PAIR_CASE(1, 0, 1, E)                                                                         \
            PAIR_CASE(1, 1, 0, E)                                                                         \
            PAIR_CASE(0, 1, 1, E)                                                                         \
            PAIR_CASE(1, 0, 0, E)                                                                         \
        }                                                                                                 \
        const char *x_ = args[0], *y_ = args[1], *z_ = args[2];                                           \
        char *o_ = args[3];                                                                               \
        for (int64_t i = 0; i < n; i++, x_ += sx, y_ += sy, z_ += sz, o_ += so) {                         \
            double x, y, z, r;                                                                            \
            memcpy(&x, x_, 8);                                                                            \
            memcpy(&y, y_, 8);                                                                            \
            memcpy(&z, z_, 8);                                                                            \
            r = (E);                                                                                      \
            memcpy(o_, &r, 8);                                                                            \
        }                                                                                                 \
    }
/* The four operations and their 48 pairs, for each kind of loop built on them (the pair loops
 * here, the fold and stream loops below): GEN(NAME, NARGS, E) defines P_<op> (NARGS 2: x op y)
 * or P_<first>_<second>_<tz|zt|tt> (NARGS 3, t = x op1 y: t op2 z, z op2 t, t op2 t);
 * VM_OP_TABLE and VM_PAIR_TABLE list them in their tables' order. */
#define VM_GEN_OPS(P, GEN) GEN(P##_add, 2, x + y) GEN(P##_sub, 2, x - y) GEN(P##_mul, 2, x * y) GEN(P##_div, 2, x / y)
#define VM_GEN_PAIRS2(P, GEN, N1, O1, N2, O2)                                                             \
    GEN(P##_##N1##_##N2##_tz, 3, (x O1 y) O2 z)                                                           \
    GEN(P##_##N1##_##N2##_zt, 3, z O2 (x O1 y))                                                           \
    GEN(P##_##N1##_##N2##_tt, 3, (x O1 y) O2 (x O1 y))
#define VM_GEN_PAIRS1(P, GEN, N1, O1)                                                                     \
    VM_GEN_PAIRS2(P, GEN, N1, O1, add, +) VM_GEN_PAIRS2(P, GEN, N1, O1, sub, -)                            \
    VM_GEN_PAIRS2(P, GEN, N1, O1, mul, *) VM_GEN_PAIRS2(P, GEN, N1, O1, div, /)
#define VM_GEN_PAIRS(P, GEN)                                                                              \
    VM_GEN_PAIRS1(P, GEN, add, +) VM_GEN_PAIRS1(P, GEN, sub, -) VM_GEN_PAIRS1(P, GEN, mul, *) VM_GEN_PAIRS1(P, GEN, div, /)
/* [op], in the order add, subtract, multiply, divide */
#define VM_OP_TABLE(P) {P##_add, P##_sub, P##_mul, P##_div}
#define VM_PAIR_ROW2(P, N1, N2) {P##_##N1##_##N2##_tz, P##_##N1##_##N2##_zt, P##_##N1##_##N2##_tt}
#define VM_PAIR_ROW(P, N1) {VM_PAIR_ROW2(P, N1, add), VM_PAIR_ROW2(P, N1, sub), VM_PAIR_ROW2(P, N1, mul), VM_PAIR_ROW2(P, N1, div)}
/* [first op][second op][tz, zt, tt], ops as VM_OP_TABLE's */
#define VM_PAIR_TABLE(P) {VM_PAIR_ROW(P, add), VM_PAIR_ROW(P, sub), VM_PAIR_ROW(P, mul), VM_PAIR_ROW(P, div)}
VM_GEN_PAIRS(pair, PAIR_LOOP)
static const lpi_loop_fn pair_loops[4][4][3] = VM_PAIR_TABLE(pair);

/* Fold loops (issue 16): a float sum into one accumulator runs its last step (one of the four
 * operations, or a fused pair) and the fold as one loop: acc + the eight-lane sum of each
 * consecutive LPI_VM_BLOCK piece of the step's values, pieces in order -- lpi_sum8_runs' bits
 * (lanes j and j + 4 of two vectors, the tail into lanes 0, 1, ..., lanes added pairwise), with
 * no staging block in between. Streaming two inputs, the step-then-fold pair of loops ran 15-25%
 * slower than one loop reading both inputs straight into the lanes (one thread, 64M float64
 * from NumPy: the fold's phase issues no loads, and the stores and reloads of the staging
 * block compete with the stream); the pieces go one after the other so each input stays one
 * sequential stream (four pieces side by side, as lpi_sum8_runs does in cache, made eight
 * streams of two inputs and ran slower still). Same arguments as the step's loop, without the
 * destination. */
typedef double v4d __attribute__((vector_size(32)));
/* a 4-vector of operand p at element i: contiguous (K = 1) or broadcast (K = 0) */
#define FOLD_LD(p, i, K) __extension__({ v4d v_; if (K) memcpy(&v_, (p) + (i), sizeof v_); else v_ = (v4d){(p)[0], (p)[0], (p)[0], (p)[0]}; v_; })
#define FOLD_PIECES(LOADV, LOADS, E)                                                                      \
    for (int64_t o = 0; o < n; o += LPI_VM_BLOCK) {                                                       \
        const int64_t end = n - o < LPI_VM_BLOCK ? n : o + LPI_VM_BLOCK;                                  \
        v4d lo = {0, 0, 0, 0}, hi = {0, 0, 0, 0};                                                         \
        int64_t i = o;                                                                                    \
        for (; i + 8 <= end; i += 8) {                                                                    \
            { LOADV(i); lo += (E); }                                                                      \
            { LOADV(i + 4); hi += (E); }                                                                  \
        }                                                                                                 \
        double s_[8];                                                                                     \
        memcpy(s_, &lo, sizeof lo);                                                                       \
        memcpy(s_ + 4, &hi, sizeof hi);                                                                   \
        for (int j = 0; i < end; i++, j++) { LOADS(i); s_[j] += (E); }                                   \
        acc += ((s_[0] + s_[1]) + (s_[2] + s_[3])) + ((s_[4] + s_[5]) + (s_[6] + s_[7]));                 \
    }                                                                                                     \
    return acc;
/* the fast paths of a fold or stream loop: BODY(LOADV, LOADS, E) over contiguous operands, at
 * most one of them a broadcast constant (the body returns) */
#define FOLD_CASE(BODY, KX, KY, KZ, E)                                                                    \
    if (sx == 8 * KX && sy == 8 * KY && sz == 8 * KZ) {                                                    \
        const double *px = (const double *)args[0], *py = (const double *)args[1];                        \
        const double *pz = (const double *)args[2];                                                       \
        _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wunused-variable\"")             \
        BODY(FOLD_V##KX##KY##KZ, FOLD_S##KX##KY##KZ, E)                                                   \
        _Pragma("GCC diagnostic pop")                                                                     \
    }
#define FOLD_CASES(BODY, E)                                                                               \
    FOLD_CASE(BODY, 1, 1, 1, E) FOLD_CASE(BODY, 1, 0, 1, E) FOLD_CASE(BODY, 1, 1, 0, E)                   \
    FOLD_CASE(BODY, 0, 1, 1, E) FOLD_CASE(BODY, 1, 0, 0, E)
#define FOLD_VARS_V(KX, KY, KZ, i) const v4d x = FOLD_LD(px, i, KX), y = FOLD_LD(py, i, KY), z = FOLD_LD(pz, i, KZ)
#define FOLD_VARS_S(KX, KY, KZ, i) const double x = px[(i) * KX], y = py[(i) * KY], z = pz[(i) * KZ]
#define FOLD_V111(i) FOLD_VARS_V(1, 1, 1, i)
#define FOLD_V101(i) FOLD_VARS_V(1, 0, 1, i)
#define FOLD_V110(i) FOLD_VARS_V(1, 1, 0, i)
#define FOLD_V011(i) FOLD_VARS_V(0, 1, 1, i)
#define FOLD_S111(i) FOLD_VARS_S(1, 1, 1, i)
#define FOLD_S101(i) FOLD_VARS_S(1, 0, 1, i)
#define FOLD_S110(i) FOLD_VARS_S(1, 1, 0, i)
#define FOLD_S011(i) FOLD_VARS_S(0, 1, 1, i)
#define FOLD_V100(i) FOLD_VARS_V(1, 0, 0, i)
#define FOLD_S100(i) FOLD_VARS_S(1, 0, 0, i)
/* any strides: element by element into the same lanes */
#define FOLD_VS(i) const double x = fold_at(args[0], sx, i), y = fold_at(args[1], sy, i), z = fold_at(args[2], sz, i)
static inline double fold_at(const char *p, int64_t step, int64_t i) {
    double v;
    memcpy(&v, p + i * step, 8);
    return v;
}
#define FOLD_PIECES_ANY(E)                                                                                \
    for (int64_t o = 0; o < n; o += LPI_VM_BLOCK) {                                                       \
        const int64_t end = n - o < LPI_VM_BLOCK ? n : o + LPI_VM_BLOCK;                                  \
        double s_[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                          \
        int64_t i = o;                                                                                    \
        for (; i + 8 <= end; i += 8)                                                                      \
            for (int j = 0; j < 8; j++) { FOLD_VS(i + j); s_[j] += (E); }                                 \
        for (int j = 0; i < end; i++, j++) { FOLD_VS(i); s_[j] += (E); }                                  \
        acc += ((s_[0] + s_[1]) + (s_[2] + s_[3])) + ((s_[4] + s_[5]) + (s_[6] + s_[7]));                 \
    }                                                                                                     \
    return acc;
/* NARGS 2: one operation (x, y; z is y again), 3: a pair (x, y, z) */
#define FOLD_LOOP(NAME, NARGS, E)                                                                         \
    LPI_CLONES static double NAME(double acc, char **args, int64_t n, const int64_t *steps) {            \
        const int64_t sx = steps[0], sy = steps[1], sz = steps[NARGS - 1];                                \
        char *a3[3] = {args[0], args[1], args[NARGS - 1]};                                                \
        args = a3;                                                                                        \
        FOLD_CASES(FOLD_PIECES, E)                                                                        \
        _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wunused-variable\"")             \
        FOLD_PIECES_ANY(E)                                                                                \
        _Pragma("GCC diagnostic pop")                                                                     \
    }
VM_GEN_OPS(fold, FOLD_LOOP)
VM_GEN_PAIRS(fold, FOLD_LOOP)
static const vm_fold_fn op_folds[4] = VM_OP_TABLE(fold);
static const vm_fold_fn pair_folds[4][4][3] = VM_PAIR_TABLE(fold);

/* Stream loops (issue 16), the fold loops' counterpart for a large contiguous float64 output:
 * the last step (one of the four operations, or a fused pair) stores its values straight into
 * the output with non-temporal stores, instead of into the L1 staging block that stream_copy
 * then copied out: the block's store, reload and second store per element competed with the
 * input streams (w1 `a*b + c*2 - a` in a C model, one thread, 64M: 154-171 ms staged, 117-142
 * direct). The same operations per element, so the same bits. The output's first elements up
 * to a cache line boundary, and a last part line, take ordinary stores, so every line is
 * written whole by one kind of store (an output not 8-byte aligned never reaches a boundary
 * and takes ordinary stores throughout). Same arguments as the step's loop; the destination's
 * step is 8. */
#if LPI_HAVE_STREAM
#ifdef __AVX__
#include <immintrin.h>
/* a native build with AVX: one 32-byte store */
#define STREAM_ST(p, v) _mm256_stream_pd((p), (__m256d)(v))
#else
/* the portable build's clones all share SSE2's 16-byte store (an AVX intrinsic cannot be
 * inlined into the baseline clone) */
#define STREAM_ST(p, v) __extension__({ const v4d v_ = (v); _mm_stream_pd((p), (__m128d){v_[0], v_[1]}); \
                                         _mm_stream_pd((p) + 2, (__m128d){v_[2], v_[3]}); })
#endif
#define STREAM_LINES(LOADV, LOADS, E)                                                                     \
    int64_t i = 0;                                                                                        \
    for (; i < n && ((uintptr_t)(po + i) & 63) != 0; i++) { LOADS(i); po[i] = (E); }                      \
    for (; i + 8 <= n; i += 8) {                                                                          \
        { LOADV(i); STREAM_ST(po + i, (E)); }                                                             \
        { LOADV(i + 4); STREAM_ST(po + i + 4, (E)); }                                                     \
    }                                                                                                     \
    for (; i < n; i++) { LOADS(i); po[i] = (E); }                                                         \
    return;
/* any strides: four elements gathered one by one */
#define STREAM_VA(i)                                                                                      \
    const v4d x = {fold_at(args[0], sx, i), fold_at(args[0], sx, (i) + 1), fold_at(args[0], sx, (i) + 2),  \
                   fold_at(args[0], sx, (i) + 3)},                                                        \
              y = {fold_at(args[1], sy, i), fold_at(args[1], sy, (i) + 1), fold_at(args[1], sy, (i) + 2),  \
                   fold_at(args[1], sy, (i) + 3)},                                                        \
              z = {fold_at(args[2], sz, i), fold_at(args[2], sz, (i) + 1), fold_at(args[2], sz, (i) + 2),  \
                   fold_at(args[2], sz, (i) + 3)}
/* NARGS as FOLD_LOOP's; args[NARGS] is the output */
#define STREAM_LOOP(NAME, NARGS, E)                                                                       \
    LPI_CLONES static void NAME(char **args, int64_t n, const int64_t *steps, int *err) {                \
        (void)err;                                                                                        \
        const int64_t sx = steps[0], sy = steps[1], sz = steps[NARGS - 1];                                \
        double *po = (double *)args[NARGS];                                                               \
        char *a3[3] = {args[0], args[1], args[NARGS - 1]};                                                \
        args = a3;                                                                                        \
        FOLD_CASES(STREAM_LINES, E)                                                                       \
        _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wunused-variable\"")             \
        STREAM_LINES(STREAM_VA, FOLD_VS, E)                                                               \
        _Pragma("GCC diagnostic pop")                                                                     \
    }
VM_GEN_OPS(stream, STREAM_LOOP)
VM_GEN_PAIRS(stream, STREAM_LOOP)
static const lpi_loop_fn op_streams[4] = VM_OP_TABLE(stream);
static const lpi_loop_fn pair_streams[4][4][3] = VM_PAIR_TABLE(stream);
#else
static const lpi_loop_fn op_streams[4];
static const lpi_loop_fn pair_streams[4][4][3];
#endif

static atomic_bool stream_last_on = true;
void lpi_vm_set_stream_last(bool on) { atomic_store_explicit(&stream_last_on, on, memory_order_relaxed); }

static atomic_bool fold_on = true;
void lpi_vm_set_fold(bool on) { atomic_store_explicit(&fold_on, on, memory_order_relaxed); }

static int pair_op(const lpi_program *p, const lpi_instr *in) {
    if (in->nsrc != 2 || in->dt != LP_FLOAT64 || p->reg_dt[in->dst] != LP_FLOAT64) return -1;
    switch (in->op) {
    case LPI_OP_ADD: return 0;
    case LPI_OP_SUBTRACT: return 1;
    case LPI_OP_MULTIPLY: return 2;
    case LPI_OP_DIVIDE: return 3;
    default: return -1;
    }
}

/* Whether instructions i and i + 1 fuse (see pair_loops); *form: 0 tz, 1 zt, 2 tt. */
static bool pair_fuses(const lpi_program *p, int i, int *form) {
    if (i + 1 >= p->ninstr) return false;
    const lpi_instr *a = &p->ins[i], *b = &p->ins[i + 1];
    const int t = a->dst;
    if (pair_op(p, a) < 0 || pair_op(p, b) < 0 || t == p->out_reg || t < p->ninputs + p->nconst) return false;
    if (b->src[0] != t && b->src[1] != t) return false;
    for (int j = i + 2; j < p->ninstr; j++)
        for (int k = 0; k < p->ins[j].nsrc; k++)
            if (p->ins[j].src[k] == t) return false;
    *form = b->src[0] == t ? (b->src[1] == t ? 2 : 0) : 1;
    return true;
}

static lp_status vm_exec(lp_ctx *ctx, const lpi_program *p, int nd, const int64_t *shape_in,
                         const lpi_view *ops, const lpi_view *out, lpi_op red, bool accf) {
    const bool reducing = red != LPI_OP_COUNT;
    int64_t shape[LP_MAX_NDIM];
    for (int i = 0; i < nd; i++) {
        if (shape_in[i] == 0) return LP_OK;
        shape[i] = shape_in[i];
    }
    /* strides: [0..ninputs) operands, [ninputs] output */
    const int nv = p->ninputs + 1;
    /* small programs (the common case) keep their bookkeeping on the stack: this runs once per
     * reduction slab, thousands of times per task */
    int64_t st_local[16][LP_MAX_NDIM];
    char *base_local[16], *regp_local[64];
    int64_t regs_local[64];
    vm_step steps_local[32];
    const bool small = nv <= 16 && p->nregs <= 64 && p->ninstr <= 32;
    int64_t (*st)[LP_MAX_NDIM] = small ? st_local : lp_malloc((size_t)nv * sizeof *st);
    char **base = small ? base_local : lp_malloc((size_t)nv * sizeof *base);
    char **regp = small ? regp_local : lp_malloc((size_t)p->nregs * sizeof *regp);
    int64_t *regs = small ? regs_local : lp_malloc((size_t)p->nregs * sizeof *regs);
    vm_step *prog = small ? steps_local : lp_malloc((size_t)p->ninstr * sizeof *prog);
    /* scratch for temporaries: one chunk of 16-byte slots (complex128's) per temp register */
    int ntemp = p->nregs - p->ninputs - p->nconst;
    /* A large contiguous output is written with non-temporal stores, by the last step itself
     * (its stream loop, see op_streams) or else from an L1 staging block: ordinary stores first
     * read every output line (write-allocate), a third of the traffic of a typical a*b+c
     * kernel. Small outputs (reduction slabs) stay in cache. */
    const int64_t osz = (int64_t)lp_dtype_size(out->dtype);
    int64_t total = 1;
    for (int i = 0; i < nd; i++) total *= shape_in[i];
    const bool stream = !reducing && lpi_vm_stream() && total * osz >= (1 << 20) && nd >= 1 &&
                        out->strides[nd - 1] == osz && contiguous_out(out, nd, osz);
    int64_t temp_bytes = osz;
    for (int r = p->ninputs + p->nconst; r < p->nregs; r++) temp_bytes += (int64_t)lp_dtype_size(p->reg_dt[r]);
    const int64_t chunk = reducing && temp_bytes * VM_FOLD_CHUNK <= VM_L1_TEMPS ? VM_FOLD_CHUNK : LPI_VM_BLOCK;
    char *scratch = scratch_get((size_t)((ntemp + 1) * chunk * 16));
    char *stage = scratch + (size_t)(ntemp * chunk * 16);
    lp_status status = LP_OK;
    if (!st || !base || !regp || !regs || !prog || !scratch) { status = lpi_nomem(ctx); goto done; }
    for (int k = 0; k < p->ninputs; k++) {
        for (int i = 0; i < nd; i++) st[k][i] = ops[k].strides[i];
        base[k] = ops[k].data;
    }
    for (int i = 0; i < nd; i++) st[p->ninputs][i] = out->strides[i];
    base[p->ninputs] = out->data;
    nd = lpi_coalesce(nd, shape, nv, st);

    for (int k = 0; k < p->ninputs; k++) regs[k] = st[k][nd - 1];
    for (int c = 0; c < p->nconst; c++) {
        regp[p->ninputs + c] = (char *)&p->consts[c];
        regs[p->ninputs + c] = 0;
    }
    for (int r = 0; r < ntemp; r++) {
        int reg = p->ninputs + p->nconst + r;
        regp[reg] = scratch + (size_t)(r * chunk * 16);
        regs[reg] = (int64_t)lp_dtype_size(p->reg_dt[reg]);
    }
    /* the output register: the output itself (strided), or the staging block that is streamed
     * out or folded into the accumulators */
    const bool direct = !stream && !reducing;
    const int64_t ostep = st[p->ninputs][nd - 1];
    regs[p->out_reg] = direct ? ostep : osz;
    if (!direct) regp[p->out_reg] = stage;
    int nsteps = 0;
    for (int i = 0; i < p->ninstr; i++) {
        const lpi_instr *in = &p->ins[i];
        vm_step *s = &prog[nsteps++];
        int form;
        if (pair_fuses(p, i, &form)) {
            const lpi_instr *b = &p->ins[i + 1];
            s->fn = pair_loops[pair_op(p, in)][pair_op(p, b)][form];
            s->fold = pair_folds[pair_op(p, in)][pair_op(p, b)][form];
            s->stream = pair_streams[pair_op(p, in)][pair_op(p, b)][form];
            s->nargs = 4;
            s->reg[0] = in->src[0];
            s->reg[1] = in->src[1];
            /* z: the second's other operand (t op t: y again, which the loop does not read) */
            s->reg[2] = form == 2 ? in->src[1] : b->src[form == 0 ? 1 : 0];
            s->reg[3] = b->dst;
            i++;
        } else {
            s->fn = in->op == LPI_OP_ASTYPE ? lpi_cast_loops[in->dt][p->reg_dt[in->dst]] : lpi_loops[in->op][in->dt];
            s->fold = pair_op(p, in) >= 0 ? op_folds[pair_op(p, in)] : NULL;
            s->stream = pair_op(p, in) >= 0 ? op_streams[pair_op(p, in)] : NULL;
            s->nargs = in->nsrc + 1;
            for (int a = 0; a < in->nsrc; a++) s->reg[a] = in->src[a];
            s->reg[in->nsrc] = in->dst;
        }
        for (int a = 0; a < s->nargs; a++) s->step[a] = regs[s->reg[a]];
    }
    /* a float sum into one accumulator per run (ostep 0) of float64 values: the last step
     * folds as it computes (see op_folds) */
    const vm_step *fold = NULL;
    if (reducing && accf && (red == LPI_OP_SUM || red == LPI_OP_MEAN) && ostep == 0 && nsteps > 0 &&
        p->reg_dt[p->out_reg] == LP_FLOAT64 && prog[nsteps - 1].fold && prog[nsteps - 1].reg[prog[nsteps - 1].nargs - 1] == p->out_reg &&
        atomic_load_explicit(&fold_on, memory_order_relaxed))
        fold = &prog[--nsteps];
    /* a streamed float64 output whose last step has a stream loop: that step stores into the
     * output itself (see op_streams), and no block is staged and copied */
    const vm_step *last = nsteps > 0 ? &prog[nsteps - 1] : NULL;
    const bool stream_last = stream && last && last->stream && last->reg[last->nargs - 1] == p->out_reg &&
                             out->dtype == LP_FLOAT64 && atomic_load_explicit(&stream_last_on, memory_order_relaxed);
    const int64_t inner = shape[nd - 1];
    int64_t idx[LP_MAX_NDIM] = {0};
    int err = 0;
    for (;;) {
        for (int64_t b0 = 0; b0 < inner; b0 += chunk) {
            int64_t n = inner - b0 < chunk ? inner - b0 : chunk;
            for (int k = 0; k < p->ninputs; k++) regp[k] = base[k] + b0 * regs[k];
            if (direct) regp[p->out_reg] = base[p->ninputs] + b0 * ostep;
            for (int i = 0; i < nsteps; i++) {
                const vm_step *s = &prog[i];
                char *args[4];
                for (int a = 0; a < s->nargs; a++) args[a] = regp[s->reg[a]];
                if (stream_last && s == last) {
                    args[s->nargs - 1] = base[p->ninputs] + b0 * osz;
                    s->stream(args, n, s->step, &err);
                } else {
                    s->fn(args, n, s->step, &err);
                }
            }
            if (err) { status = lpi_error(ctx, LP_ERR_VALUE, "%s", lpi_loop_errstr(err)); goto done; }
            if (stream && !stream_last) stream_copy(base[p->ninputs] + b0 * osz, stage, (size_t)(n * osz));
            if (fold) {
                char *args[3];
                for (int a = 0; a + 1 < fold->nargs; a++) args[a] = regp[fold->reg[a]];
                double *A = (double *)base[p->ninputs];
                *A = fold->fold(*A, args, n, fold->step);
            } else if (reducing) {
                fold_block(red, accf, base[p->ninputs] + b0 * ostep, ostep, stage, n);
            }
            /* a relaxed load per block: Ctrl-C stops a run within microseconds of work */
            if (atomic_load_explicit(&ctx->cancel, memory_order_relaxed)) {
                status = lpi_error(ctx, LP_ERR_CANCELLED, "cancelled");
                goto done;
            }
        }
        int ax = nd - 2;
        for (; ax >= 0; ax--) {
            for (int k = 0; k < nv; k++) base[k] += st[k][ax];
            if (++idx[ax] < shape[ax]) break;
            for (int k = 0; k < nv; k++) base[k] -= st[k][ax] * shape[ax];
            idx[ax] = 0;
        }
        if (ax < 0) break;
        if (atomic_load_explicit(&ctx->cancel, memory_order_relaxed)) {
            status = lpi_error(ctx, LP_ERR_CANCELLED, "cancelled");
            goto done;
        }
    }
done:
    if (stream) stream_fence();
    if (!small) {
        lp_free(st);
        lp_free(base);
        lp_free(regp);
        lp_free(regs);
        lp_free(prog);
    }
    return status;
}
