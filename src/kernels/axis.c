/* Kernels along one axis (plan/plan_axis.c gives the task layout).
 *
 * A box is seen as lines along the axis: every combination of the other coordinates is one
 * line, read and written through the views' strides.
 *
 * Scans run sequentially along each line from a carry, so one chunk along the axis gives
 * NumPy's bits exactly; with several, the carry is the fold of the earlier chunks' totals.
 * Complex values fold with the elementwise loops' product and order (complex_ops.h): the
 * complex prod/max/min reductions are these scans' last elements (expr/elemwise.c).
 *
 * Sorting compares order-preserving unsigned keys: integers with the sign bit flipped, floats
 * with the IEEE trick (negatives inverted), NaN after +inf (all NaNs equal). A chunk is sorted
 * per line by partitions of its key range into buckets of about 16K keys (a histogram of equal
 * slices, one stable scatter), each bucket scattered again into about one slice per key while
 * it sits in L2 and finished by an insertion pass (crowded slices: LSD radix passes). Runs of
 * 8-byte numbers are written as their keys (uint64), so the merges read them as they are. A merge task finds,
 * per line, the co-rank of its first and last output position in every run: a selection over
 * the runs in the order (key, run, position) — runs are in index order and each is stable, so
 * the merge is stable — with pivots that shrink a window per run. Then it merges only those
 * slices, as keys, in rounds of branch-free pairwise merges. Selection by rank sorts nothing: a
 * histogram of each chunk's top key bits, then per line the wanted buckets gathered and a radix
 * select within them. argsort keys treat -0.0 and 0.0 as equal (stability orders them); sort
 * keeps them distinct (-0.0 first), which lets values be rebuilt from keys. */
#include "kernels/kernels.h"
#include "kernels/keys.h"
#include "kernels/complex_ops.h"

#include <math.h>
#include <string.h>


/* ---- lines ---- */

/* Iterate the lines of a view along axis ax: calls fn(arg, line index, base pointers) for each
 * combination of the other coordinates, C order. nv views of the same shape except along ax. */
typedef struct lines {
    int nd, ax, nv;
    int64_t shape[LP_MAX_NDIM];
    char *base[8];
    int64_t strides[8][LP_MAX_NDIM];
} lines;

static int64_t count_lines(const lines *L) {
    int64_t n = 1;
    for (int i = 0; i < L->nd; i++)
        if (i != L->ax) n *= L->shape[i];
    return n;
}

/* Base pointers of line `li` (C order over the non-axis coordinates). */
static void line_at(const lines *L, int64_t li, char **out) {
    for (int v = 0; v < L->nv; v++) out[v] = L->base[v];
    for (int i = L->nd - 1; i >= 0; i--) {
        if (i == L->ax) continue;
        int64_t k = li % L->shape[i];
        li /= L->shape[i];
        for (int v = 0; v < L->nv; v++) out[v] += k * L->strides[v][i];
    }
}

/* The non-axis coordinates of line `li` (C order; offs[ax] = 0), and a view's line there:
 * for operands whose number exceeds the 8 views of `lines`. */
static void line_coords(const lines *L, int64_t li, int64_t *offs) {
    for (int i = L->nd - 1; i >= 0; i--) {
        offs[i] = 0;
        if (i == L->ax) continue;
        offs[i] = li % L->shape[i];
        li /= L->shape[i];
    }
}

static char *view_line(const lpi_view *v, const lines *L, const int64_t *offs) {
    char *p = v->data;
    for (int i = 0; i < L->nd; i++)
        if (i != L->ax) p += offs[i] * v->strides[i];
    return p;
}

static void add_view(lines *L, const lpi_view *v) {
    L->base[L->nv] = v->data;
    memcpy(L->strides[L->nv], v->strides, sizeof L->strides[0]);
    L->nv++;
}

/* v has nd axes and out's extents except along ax (and dtype dt unless dt < 0). Tasks come
 * from the wire too: the kernels check what they rely on. */
static bool same_lines(const lpi_view *v, const lpi_view *out, int ax, int dt) {
    if (v->ndim != out->ndim || (dt >= 0 && v->dtype != (lp_dtype)dt)) return false;
    for (int i = 0; i < out->ndim; i++)
        if (i != ax && v->shape[i] != out->shape[i]) return false;
    return true;
}

/* ---- scans ---- */

#define SCAN_TYPES(X)                                                                                   \
    X(LP_BOOL, uint8_t, b) X(LP_INT8, int8_t, i8) X(LP_INT16, int16_t, i16) X(LP_INT32, int32_t, i32)   \
    X(LP_INT64, int64_t, i64) X(LP_UINT8, uint8_t, u8) X(LP_UINT16, uint16_t, u16)                     \
    X(LP_UINT32, uint32_t, u32) X(LP_UINT64, uint64_t, u64) X(LP_FLOAT16, uint16_t, f16)                \
    X(LP_FLOAT32, float, f32) X(LP_FLOAT64, double, f64)                                             \
    X(LP_COMPLEX64, float _Complex, c64) X(LP_COMPLEX128, double _Complex, c128)

/* acc = acc op x, NumPy's semantics: wrapping integer sums and products, NaN-propagating
 * maximum/minimum; bool: or / and (maximum / minimum of bools). */
#define DEF_STEP(S, T, SUM, PROD, GE, LE)                                                   \
    static inline T step_##S(lpi_op op, T a, T x) {                                         \
        switch (op) {                                                                       \
        case LPI_OP_CUMSUM: return SUM;                                                     \
        case LPI_OP_CUMPROD: return PROD;                                                   \
        case LPI_OP_CUMMAX: return GE ? a : x;                                              \
        default: return LE ? a : x;                                                         \
        }                                                                                   \
    }
/* integer sums and products wrap (computed in an unsigned type at least as wide as unsigned
 * int); bool: or / and; floats: NaN wins */
#define DEF_ISTEP(S, T, W) DEF_STEP(S, T, (T)((W)a + (W)x), (T)((W)a * (W)x), a >= x, a <= x)
DEF_STEP(b, uint8_t, (uint8_t)(a | x), (uint8_t)(a & x), a >= x, a <= x)
DEF_ISTEP(i8, int8_t, uint32_t)
DEF_ISTEP(i16, int16_t, uint32_t)
DEF_ISTEP(i32, int32_t, uint32_t)
DEF_ISTEP(i64, int64_t, uint64_t)
DEF_ISTEP(u8, uint8_t, uint32_t)
DEF_ISTEP(u16, uint16_t, uint32_t)
DEF_ISTEP(u32, uint32_t, uint32_t)
DEF_ISTEP(u64, uint64_t, uint64_t)
DEF_STEP(f32, float, a + x, a * x, (a >= x || a != a), (a <= x || a != a))
DEF_STEP(f64, double, a + x, a * x, (a >= x || a != a), (a <= x || a != a))
/* complex: the elementwise add, multiply, maximum and minimum (NumPy's product and order) */
DEF_STEP(c64, float _Complex, mk_c64(crealf(a) + crealf(x), cimagf(a) + cimagf(x)), mul_c64(a, x),
         CNAN(a, c64) || CGE_(a, x, c64), CNAN(a, c64) || CLE_(a, x, c64))
DEF_STEP(c128, double _Complex, mk_c128(creal(a) + creal(x), cimag(a) + cimag(x)), mul_c128(a, x),
         CNAN(a, c128) || CGE_(a, x, c128), CNAN(a, c128) || CLE_(a, x, c128))
/* float16 as NumPy's half loops: in float, each result rounded to float16 */
static inline uint16_t step_f16(lpi_op op, uint16_t a, uint16_t x) {
    return lpi_d2h(step_f32(op, lpi_h2f(a), lpi_h2f(x)));
}

/* One line: out[i] = carry op x[0] op ... op x[i] (has_carry false: starts at x[0]). With
 * out NULL only the fold is computed into *carry. */
#define DEF_SCAN_LINE(DT, T, S)                                                               \
    static void scan_line_##S(lpi_op op, const char *x, int64_t sx, char *o, int64_t so, int64_t n, \
                              bool has_carry, T *carry) {                                     \
        T acc = *carry;                                                                       \
        for (int64_t i = 0; i < n; i++) {                                                     \
            T v = *(const T *)(x + i * sx);                                                   \
            acc = (i == 0 && !has_carry) ? v : step_##S(op, acc, v);                          \
            if (o) *(T *)(o + i * so) = acc;                                                  \
        }                                                                                     \
        if (n > 0 || has_carry) *carry = acc;                                                 \
    }
#define X(DT, T, S) DEF_SCAN_LINE(DT, T, S)
SCAN_TYPES(X)
#undef X

/* The identity-free carry: the fold of the totals line (count k), or "none". */
#define DEF_SCAN_TASK(DT, T, S)                                                                \
    static void scan_task_##S(lpi_op op, const lines *L, int64_t n, int64_t ntot, bool totals_only) { \
        const int64_t nl = count_lines(L);                                                     \
        for (int64_t li = 0; li < nl; li++) {                                                  \
            char *p[8];                                                                        \
            line_at(L, li, p);                                                                 \
            T carry = 0;                                                                       \
            bool has = false;                                                                  \
            if (ntot > 0) { /* operand 2: the earlier chunks' totals */                        \
                scan_line_##S(op, p[2], L->strides[2][L->ax], NULL, 0, ntot, false, &carry);   \
                has = true;                                                                    \
            }                                                                                  \
            if (totals_only) {                                                                 \
                T f = 0;                                                                       \
                scan_line_##S(op, p[0], L->strides[0][L->ax], NULL, 0, n, false, &f);          \
                *(T *)p[1] = f;                                                                \
            } else {                                                                           \
                scan_line_##S(op, p[0], L->strides[0][L->ax], p[1], L->strides[1][L->ax], n, has, &carry); \
            }                                                                                  \
        }                                                                                      \
    }
#define X(DT, T, S) DEF_SCAN_TASK(DT, T, S)
SCAN_TYPES(X)
#undef X

lp_status lpi_scan_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins, const lpi_view *out) {
    const int ax = pn->axis, nd = out->ndim;
    if (lpi_box_size(&t->box) == 0 && pn->final) return LP_OK; /* nothing to write (nor a dtype for empty operands) */
    bool ok = ax >= 0 && ax < nd && (t->nops == 1 || t->nops == 2) && out->dtype == pn->dtype &&
              same_lines(&ins[0], out, ax, pn->dtype) &&
              /* an empty operand (the first chunk's carries) has no chunk to give it a dtype */
              (t->nops == 1 || same_lines(&ins[1], out, ax, ins[1].shape[ax] ? (int)pn->dtype : -1)) &&
              (pn->final ? ins[0].shape[ax] == out->shape[ax] : out->shape[ax] == 1);
    if (!ok) return lpi_error(ctx, LP_ERR_VALUE, "scan: the operands do not match the output");
    lines L = {.nd = nd, .ax = ax};
    memcpy(L.shape, out->shape, sizeof L.shape);
    L.shape[ax] = 1;
    add_view(&L, &ins[0]);
    add_view(&L, out);
    int64_t ntot = 0;
    if (t->nops > 1) {
        ntot = ins[1].shape[ax];
        add_view(&L, &ins[1]);
    }
    const int64_t n = ins[0].shape[ax];
    const bool totals = !pn->final;
    if (lpi_box_size(&t->box) == 0 && !totals) return LP_OK;
    switch (pn->dtype) {
#define X(DT, T, S) case DT: scan_task_##S(pn->op, &L, n, ntot, totals); break;
        SCAN_TYPES(X)
#undef X
    default: return lpi_error(ctx, LP_ERR_INTERNAL, "scan: no loop for %s", lp_dtype_name(pn->dtype));
    }
    return LP_OK;
}

/* ---- keys (kernels/keys.h) ---- */

/* The value of a (non-canonical) key. */
static inline void value_of(lp_dtype dt, uint64_t k, char *p) {
    switch (dt) {
    case LP_BOOL: case LP_UINT8: case LP_UINT16: case LP_UINT32: case LP_UINT64: lpi_store_i64(p, dt, (int64_t)k); return;
    case LP_INT8: case LP_INT16: lpi_store_i64(p, dt, (int64_t)(k ^ SIGN64)); return;
    case LP_INT32: { int32_t v = (int32_t)((uint32_t)k ^ 0x80000000u); memcpy(p, &v, 4); return; }
    case LP_INT64: { uint64_t v = k ^ SIGN64; memcpy(p, &v, 8); return; }
    case LP_FLOAT16: case LP_FLOAT32: {
        uint32_t b = (uint32_t)k;
        float f = NAN;
        if (b != UINT32_MAX) {
            b = (b & 0x80000000u) ? (b & 0x7FFFFFFFu) : ~b;
            memcpy(&f, &b, 4);
        }
        if (dt == LP_FLOAT16) { uint16_t h = lpi_d2h(f); memcpy(p, &h, 2); }
        else memcpy(p, &f, 4);
        return;
    }
    default: {
        if (k == UINT64_MAX) { double f = NAN; memcpy(p, &f, 8); return; }
        uint64_t b = (k & SIGN64) ? (k & ~SIGN64) : ~k;
        memcpy(p, &b, 8);
        return;
    }
    }
}

/* The loops below inline key_of/value_of for a constant dtype (the switch folds away). */
#define KEY_DTYPES(X)                                                                                 \
    X(LP_BOOL) X(LP_INT8) X(LP_INT16) X(LP_INT32) X(LP_INT64) X(LP_UINT8) X(LP_UINT16) X(LP_UINT32) \
    X(LP_UINT64) X(LP_FLOAT16) X(LP_FLOAT32) X(LP_FLOAT64)

static inline __attribute__((always_inline)) void keys_of_t(lp_dtype dt, const char *x, int64_t sx, int64_t n, bool canon,
                                                           uint64_t *k) {
    for (int64_t i = 0; i < n; i++) k[i] = key_of(dt, x + i * sx, canon);
}
static void keys_of(lp_dtype dt, const char *x, int64_t sx, int64_t n, bool canon, uint64_t *k) {
    switch (dt) {
#define X(DT) case DT: keys_of_t(DT, x, sx, n, canon, k); break;
        KEY_DTYPES(X)
#undef X
    default: keys_of_t(dt, x, sx, n, canon, k);
    }
}

/* keys_of with the keys' bounds, which the sort's first partition needs (a pass fewer) */
static inline __attribute__((always_inline)) void keys_bounds_t(lp_dtype dt, const char *x, int64_t sx, int64_t n, bool canon,
                                                               uint64_t *k, uint64_t *lh) {
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        const uint64_t v = key_of(dt, x + i * sx, canon);
        k[i] = v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    lh[0] = lo;
    lh[1] = hi;
}
static void keys_bounds(lp_dtype dt, const char *x, int64_t sx, int64_t n, bool canon, uint64_t *k, uint64_t *lh) {
    switch (dt) {
#define X(DT) case DT: keys_bounds_t(DT, x, sx, n, canon, k, lh); break;
        KEY_DTYPES(X)
#undef X
    default: keys_bounds_t(dt, x, sx, n, canon, k, lh);
    }
}

static inline __attribute__((always_inline)) void values_of_t(lp_dtype dt, const uint64_t *k, int64_t n, char *o, int64_t so) {
    for (int64_t i = 0; i < n; i++) value_of(dt, k[i], o + i * so);
}
static void values_of(lp_dtype dt, const uint64_t *k, int64_t n, char *o, int64_t so) {
    switch (dt) {
#define X(DT) case DT: values_of_t(DT, k, n, o, so); break;
        KEY_DTYPES(X)
#undef X
    default: values_of_t(dt, k, n, o, so);
    }
}

/* ---- local sort ----
 *
 * A line of keys larger than a leaf is partitioned (MSD: a stable scatter into buckets of
 * consecutive key ranges, each about a leaf, from a histogram of 2^16 equal slices of its
 * range, so skewed keys need no extra level); a leaf is scattered again into about one slice
 * per key while it sits in L2, and an insertion pass finishes it. A 4M-key chunk is streamed
 * three times (bounds, histogram, scatter) and each leaf about three times in L2, where LSD
 * blocks of 64K keys took 5-6 passes each and bottom-up merges streamed the chunk once per
 * merge level (about 30% more CPU time for a chunk of floats of [0, 1)). */

#define SORT_LEAF (1 << 14)  /* keys and scratch (argsort: and indices) in the 512 KiB L2 */
#define RADIX_BITS 11
#define RADIX_SIZE (1 << RADIX_BITS)
#define RADIX_MASK (RADIX_SIZE - 1)
#define RADIX_PASSES ((64 + RADIX_BITS - 1) / RADIX_BITS)
#define MSD_BITS 16          /* a partition's histogram: at most 2^16 slices of the key range */

/* A sort's tables, one per task (a partition step is done with its tables before its buckets
 * are sorted; thread-local arrays cost a __tls_get_addr call per key in a shared library). */
typedef struct sort_ws {
    uint32_t hist[1 << MSD_BITS], pos[1 << MSD_BITS];   /* partition */
    uint16_t tab[1 << MSD_BITS];
    uint32_t slice[2 * SORT_LEAF + 2];                   /* leaf */
    uint32_t cnt[RADIX_PASSES][RADIX_SIZE];              /* LSD */
} sort_ws;

static void copy_keys(uint64_t *dk, int64_t *di, const uint64_t *sk, const int64_t *si, int64_t n) {
    memcpy(dk, sk, (size_t)n * sizeof *dk);
    if (di) memcpy(di, si, (size_t)n * sizeof *di);
}

/* Stable insertion sort of n keys a (payload ai, may be NULL) in place. */
static void insertion_sort(uint64_t *a, int64_t *ai, int64_t n) {
    for (int64_t i = 1; i < n; i++) {
        uint64_t k = a[i];
        int64_t j = i;
        if (a[j - 1] <= k) continue;
        if (ai) {
            int64_t v = ai[i];
            while (j > 0 && a[j - 1] > k) { a[j] = a[j - 1]; ai[j] = ai[j - 1]; j--; }
            ai[j] = v;
        } else {
            while (j > 0 && a[j - 1] > k) { a[j] = a[j - 1]; j--; }
        }
        a[j] = k;
    }
}

/* Stable LSD radix sort of n <= SORT_LEAF keys a (payload ai, may be NULL) with scratch b/bi;
 * the result ends in b if to_b, else in a. The digits cover only the low bits in which the
 * keys differ, in as few passes of at most RADIX_BITS as they need (a partition bucket's keys
 * share their upper bits), and a pass whose digit is the same for every key is skipped. */
static void lsd_sort(uint64_t *a, int64_t *ai, uint64_t *b, int64_t *bi, int64_t n, bool to_b, sort_ws *ws) {
    if (n < 48) {
        insertion_sort(a, ai, n);
        if (to_b) copy_keys(b, bi, a, ai, n);
        return;
    }
    uint64_t diff = 0;
    for (int64_t i = 0; i < n; i++) diff |= a[i] ^ a[0];
    if (!diff) {
        if (to_b) copy_keys(b, bi, a, ai, n);
        return;
    }
    const int L = 64 - __builtin_clzll(diff), P = (L + RADIX_BITS - 1) / RADIX_BITS, w = (L + P - 1) / P;
    const uint64_t mask = ((uint64_t)1 << w) - 1;
    uint32_t (*cnt)[RADIX_SIZE] = ws->cnt;
    for (int p = 0; p < P; p++) memset(cnt[p], 0, (size_t)(mask + 1) * sizeof cnt[p][0]);
    for (int64_t i = 0; i < n; i++) {
        uint64_t k = a[i];
        for (int p = 0; p < P; p++) cnt[p][(k >> (w * p)) & mask]++;
    }
    uint64_t *sk = a, *dk = b;
    int64_t *si = ai, *di = bi;
    for (int p = 0; p < P; p++) {
        uint32_t *c = cnt[p];
        const int sh = w * p;
        if (c[(sk[0] >> sh) & mask] == (uint32_t)n) continue; /* one value of this digit: order kept */
        uint32_t sum = 0;
        for (uint64_t d = 0; d <= mask; d++) { uint32_t x = c[d]; c[d] = sum; sum += x; }
        if (si) {
            for (int64_t i = 0; i < n; i++) {
                uint32_t pos = c[(sk[i] >> sh) & mask]++;
                dk[pos] = sk[i];
                di[pos] = si[i];
            }
        } else {
            for (int64_t i = 0; i < n; i++) {
                uint64_t k = sk[i];
                dk[c[(k >> sh) & mask]++] = k;
            }
        }
        uint64_t *t1 = sk; sk = dk; dk = t1;
        int64_t *t2 = si; si = di; di = t2;
    }
    if ((sk == b) != to_b) copy_keys(dk, di, sk, si, n);
}

/* Stable sort of n <= SORT_LEAF keys a (payload ai, may be NULL) with scratch b/bi; the result
 * ends in b if to_b, else in a. One stable scatter into n to 2n equal slices of [min, max]
 * (counts in L1/L2), then each slice sorted where it lies: a few keys by insertion, a crowded
 * slice (clustered keys) by LSD radix passes over the bits its keys differ in. Random keys
 * are placed after about two passes, where LSD digits need one pass per 11 bits of the
 * range (5 for the floats of [0, 1) in a bucket). lo and hi bound the keys (a partition's
 * bucket knows them from its slices: no pass to find them). */
static void leaf_sort(uint64_t *a, int64_t *ai, uint64_t *b, int64_t *bi, int64_t n, bool to_b, sort_ws *ws,
                      uint64_t lo, uint64_t hi) {
    if (n < 48 || lo == hi) {
        if (lo != hi) insertion_sort(a, ai, n);
        if (to_b) copy_keys(b, bi, a, ai, n);
        return;
    }
    const int L = 64 - __builtin_clzll(hi - lo);
    int hb = 1;
    while (hb < L && ((int64_t)1 << hb) <= n) hb++; /* 2^hb slices: n < 2^hb <= 2n, fewer for a narrow range */
    const int sh = L - hb;
    const int64_t ns = (int64_t)((hi - lo) >> sh) + 1;
    uint32_t *pos = ws->slice;
    memset(pos, 0, (size_t)(ns + 1) * sizeof *pos);
    for (int64_t i = 0; i < n; i++) pos[((a[i] - lo) >> sh) + 1]++;
    for (int64_t s = 0; s < ns; s++) pos[s + 1] += pos[s];
    /* pos[s]: slice s's start; the scatter advances it to the slice's end */
    if (ai) {
        for (int64_t i = 0; i < n; i++) {
            const uint32_t p = pos[(a[i] - lo) >> sh]++;
            b[p] = a[i];
            bi[p] = ai[i];
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            const uint64_t k = a[i];
            b[pos[(k - lo) >> sh]++] = k;
        }
    }
    /* a crowded slice by LSD passes; then one insertion pass over the leaf places the keys
     * of the small slices (each moves only within its slice: a call per slice cost more) */
    for (int64_t s = 0, st = 0; s < ns; st = pos[s++])
        if (pos[s] - st > 32) lsd_sort(b + st, bi ? bi + st : NULL, a + st, ai ? ai + st : NULL, pos[s] - st, false, ws);
    insertion_sort(b, bi, n);
    if (!to_b) copy_keys(a, ai, b, bi, n);
}

/* Stable sort of n < 2^32 keys a (payload ai, may be NULL) with scratch b/bi of n; the result
 * ends in b if to_b, else in a. Above a leaf: a histogram of 2^hb equal slices of [min, max],
 * the slices grouped in order into buckets of at most SORT_LEAF keys (a slice holding more is
 * a bucket of its own), one stable scatter into b, then each bucket sorted back towards the
 * buffer the result must end in. Skewed keys (floats' exponents) still give buckets of about
 * a leaf in one step; a crowded slice is partitioned again over its own, narrower range.
 * lh: the keys' bounds if known (NULL: found here). False: no memory for the bucket ends. */
static bool sort_to(uint64_t *a, int64_t *ai, uint64_t *b, int64_t *bi, int64_t n, bool to_b, sort_ws *ws, const uint64_t *lh) {
    uint64_t lo = n ? a[0] : 0, hi = lo;
    if (lh) {
        lo = lh[0];
        hi = lh[1];
    } else {
        for (int64_t i = 1; i < n; i++) {
            uint64_t k = a[i];
            lo = k < lo ? k : lo;
            hi = k > hi ? k : hi;
        }
    }
    if (n <= SORT_LEAF) {
        leaf_sort(a, ai, b, bi, n, to_b, ws, lo, hi);
        return true;
    }
    if (lo == hi) { /* one key: sorted, and stable as it is */
        if (to_b) copy_keys(b, bi, a, ai, n);
        return true;
    }
    const int L = 64 - __builtin_clzll(hi - lo);
    int hb = L < MSD_BITS ? L : MSD_BITS;
    while (hb > 8 && ((int64_t)1 << hb) > n / 4) hb--; /* no more slices than a quarter of the keys */
    const int sh = L - hb;
    const int64_t ns = (int64_t)((hi - lo) >> sh) + 1;
    uint32_t *hist = ws->hist, *pos = ws->pos;
    uint16_t *tab = ws->tab;
    memset(hist, 0, (size_t)ns * sizeof *hist);
    for (int64_t i = 0; i < n; i++) hist[(a[i] - lo) >> sh]++;
    int64_t nbk = 0, cur = 0;
    for (int64_t s = 0; s < ns; s++) {
        const int64_t c = hist[s];
        if (cur > 0 && cur + c > SORT_LEAF) { pos[nbk++] = (uint32_t)cur; cur = 0; }
        if (cur == 0) hist[nbk] = (uint32_t)s; /* bucket nbk's first slice (hist[0..s) is read) */
        tab[s] = (uint16_t)nbk;
        cur += c;
    }
    pos[nbk++] = (uint32_t)cur;
    uint32_t sum = 0;
    for (int64_t j = 0; j < nbk; j++) { uint32_t x = pos[j]; pos[j] = sum; sum += x; }
    if (ai) {
        for (int64_t i = 0; i < n; i++) {
            const uint32_t p = pos[tab[(a[i] - lo) >> sh]]++;
            b[p] = a[i];
            bi[p] = ai[i];
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            const uint64_t k = a[i];
            b[pos[tab[(k - lo) >> sh]]++] = k;
        }
    }
    /* pos[j] is now bucket j's end, hist[j] its first slice; the tables are free again once
     * these are kept. A leaf's keys lie within its slices: [lo + first << sh, lo + (last + 1) << sh) */
    int64_t *ends = lp_malloc((size_t)(2 * nbk + 1) * sizeof *ends), *first = ends + nbk;
    if (!ends) return false;
    for (int64_t j = 0; j < nbk; j++) {
        ends[j] = pos[j];
        first[j] = hist[j];
    }
    first[nbk] = ns;
    bool ok = true;
    for (int64_t j = 0, s = 0; j < nbk && ok; s = ends[j++]) {
        const int64_t m = ends[j] - s;
        if (m > SORT_LEAF) {
            ok = sort_to(b + s, bi ? bi + s : NULL, a + s, ai ? ai + s : NULL, m, !to_b, ws, NULL);
            continue;
        }
        const uint64_t off = ((uint64_t)(first[j + 1] - 1) << sh) | (((uint64_t)1 << sh) - 1);
        leaf_sort(b + s, bi ? bi + s : NULL, a + s, ai ? ai + s : NULL, m, !to_b, ws, lo + ((uint64_t)first[j] << sh),
                  off > hi - lo ? hi : lo + off);
    }
    lp_free(ends);
    return ok;
}

/* One merge of sk[i..ea) and sk[j..eb) into dk from o (ties: the first range first, stable). */
static void merge_one(const uint64_t *sk, const int64_t *si, uint64_t *dk, int64_t *di, int64_t i, int64_t ea, int64_t j,
                      int64_t eb, int64_t o) {
    if (si) {
        while (i < ea && j < eb) {
            bool right = sk[j] < sk[i];
            int64_t from = right ? j : i;
            dk[o] = sk[from];
            di[o++] = si[from];
            j += right;
            i += !right;
        }
    } else {
        while (i < ea && j < eb) { /* branch-free: the comparison picks the source */
            uint64_t x = sk[i], y = sk[j];
            bool right = y < x;
            dk[o++] = right ? y : x;
            j += right;
            i += !right;
        }
    }
    memcpy(dk + o, sk + i, (size_t)(ea - i) * sizeof *dk);
    if (si) memcpy(di + o, si + i, (size_t)(ea - i) * sizeof *di);
    o += ea - i;
    memcpy(dk + o, sk + j, (size_t)(eb - j) * sizeof *dk);
    if (si) memcpy(di + o, si + j, (size_t)(eb - j) * sizeof *di);
}

/* Merge sk[lo..mid) and sk[mid..hi) into dk[lo..hi). The output is cut in two at its middle
 * (the co-rank: how many of the first half come from each range) and both halves are merged in
 * one loop: two independent dependency chains, where one merge waits on each load-compare-step
 * in turn. */
static void merge2(const uint64_t *sk, const int64_t *si, uint64_t *dk, int64_t *di, int64_t lo, int64_t mid, int64_t hi) {
    const int64_t na = mid - lo, nb = hi - mid, h = (hi - lo) / 2;
    if (na == 0 || nb == 0 || hi - lo < 64) { merge_one(sk, si, dk, di, lo, mid, mid, hi, lo); return; }
    /* the smallest a (b = h - a) such that A[a] does not belong before B[b - 1] */
    int64_t alo = h > nb ? h - nb : 0, ahi = h < na ? h : na;
    while (alo < ahi) {
        int64_t am = alo + (ahi - alo) / 2, bm = h - am;
        if (bm > 0 && sk[lo + am] <= sk[mid + bm - 1]) alo = am + 1;
        else ahi = am;
    }
    int64_t i1 = lo, e1 = lo + alo, j1 = mid, f1 = mid + (h - alo), o1 = lo;
    int64_t i2 = e1, j2 = f1, o2 = lo + h;
    if (!si) {
        while (i1 < e1 && j1 < f1 && i2 < mid && j2 < hi) {
            uint64_t x1 = sk[i1], y1 = sk[j1], x2 = sk[i2], y2 = sk[j2];
            bool r1 = y1 < x1, r2 = y2 < x2;
            dk[o1++] = r1 ? y1 : x1;
            dk[o2++] = r2 ? y2 : x2;
            j1 += r1; i1 += !r1;
            j2 += r2; i2 += !r2;
        }
    }
    merge_one(sk, si, dk, di, i1, e1, j1, f1, o1);
    merge_one(sk, si, dk, di, i2, mid, j2, hi, o2);
}

/* Merge the m sorted runs that start at b[0] < ... (b[m] the end) of key (with payload idx,
 * may be NULL) in place: rounds of adjacent pairwise merges (stable: ties from the left run),
 * each a branch-free sequential stream between key/idx and tk/ti; returns where the result
 * ends (its payload in *idx_out). b is overwritten. */
static uint64_t *merge_runs(uint64_t *key, int64_t *idx, int64_t *b, int m, uint64_t *tk, int64_t *ti, int64_t **idx_out) {
    uint64_t *sk = key, *dk = tk;
    int64_t *si = idx, *di = ti;
    while (m > 1) {
        int h = 0;
        for (int q = 0; q < m; q += 2) {
            if (q + 1 < m) merge2(sk, si, dk, di, b[q], b[q + 1], b[q + 2]);
            else {
                memcpy(dk + b[q], sk + b[q], (size_t)(b[q + 1] - b[q]) * sizeof *dk);
                if (si) memcpy(di + b[q], si + b[q], (size_t)(b[q + 1] - b[q]) * sizeof *di);
            }
            b[h++] = b[q];
        }
        b[h] = b[m];
        m = h;
        uint64_t *t1 = sk; sk = dk; dk = t1;
        int64_t *t2 = si; si = di; di = t2;
    }
    *idx_out = si;
    return sk;
}

static lp_status sort_local(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *in, const lpi_view *out) {
    const int ax = pn->axis;
    const bool arg = pn->op == LPI_OP_ARGSORT;
    const lp_dtype dt = in->dtype;
    const int64_t n = in->shape[ax], off = t->box.lo[ax];
    lines L = {.nd = in->ndim, .ax = ax};
    memcpy(L.shape, in->shape, sizeof L.shape);
    L.shape[ax] = 1;
    add_view(&L, in);
    add_view(&L, out);
    const int64_t nl = count_lines(&L);
    if (n == 0 || nl == 0) return LP_OK;
    /* scratch (keys and their temporaries) from the buffer cache: chunks of one size reuse it
     * without page faults (a fresh 32 MiB every task was 13% of a large sort, the kernel
     * zeroing pages) */
    int64_t n2 = 2 * n;
    if (n > UINT32_MAX) return lpi_error(ctx, LP_ERR_VALUE, "sort: a chunk's line has more than 2^32 elements");
    lp_buffer *kb = lpi_buffer_new(LP_UINT64, 1, &n2), *ib = arg ? lpi_buffer_new(LP_INT64, 1, &n2) : NULL;
    sort_ws *ws = lp_malloc(sizeof *ws);
    lp_status st = LP_OK;
    if (!kb || (arg && !ib) || !ws) { st = lpi_nomem(ctx); goto done; }
    uint64_t *key = lp_buffer_data(kb);
    int64_t *idx = arg ? lp_buffer_data(ib) : NULL;
    const int64_t sx = in->strides[ax], so = out->strides[ax];
    const bool keyed = !arg && out->dtype == LP_UINT64; /* runs of 8-byte values kept as keys */
    for (int64_t li = 0; li < nl; li++) {
        char *p[8] = {0};
        line_at(&L, li, p);
        uint64_t lh[2];
        keys_bounds(dt, p[0], sx, n, arg, key, lh);
        if (arg) for (int64_t i = 0; i < n; i++) idx[i] = off + i;
        if (!sort_to(key, idx, key + n, arg ? idx + n : NULL, n, false, ws, lh)) { st = lpi_nomem(ctx); break; }
        const uint64_t *sk = key;
        const int64_t *si = idx;
        if (arg) for (int64_t i = 0; i < n; i++) *(int64_t *)(p[1] + i * so) = si[i];
        else if (keyed) for (int64_t i = 0; i < n; i++) *(uint64_t *)(p[1] + i * so) = sk[i];
        else values_of(dt, sk, n, p[1], so);
        if (atomic_load_explicit(&ctx->cancel, memory_order_relaxed)) break;
    }
done:
    lp_free(ws);
    lp_buffer_release(kb);
    lp_buffer_release(ib);
    return st;
}

/* ---- runs: merge and select ---- */

/* Sorts of these keep their runs as keys (plan/plan_axis.c): the same 8 bytes, and neither the
 * chunk sort nor the merges turn keys into values and back. */
static inline bool keyed_dtype(lp_dtype dt) { return dt == LP_INT64 || dt == LP_UINT64 || dt == LP_FLOAT64; }

typedef struct run {
    const char *p;          /* the run's line (sorted values, or argsort indices) */
    int64_t s, n;           /* stride, length */
    const char *v;          /* argsort: the values of the run's chunk (line), and stride */
    int64_t vs, off;        /* off: the chunk's first index along the axis */
} run;

typedef struct runs {
    lp_dtype dt;            /* of the values */
    lp_dtype kdt;           /* of a sort's runs: dt, or uint64 for runs kept as keys (key_of
                             * of a uint64 is the number itself) */
    bool arg;
    bool bad;               /* an argsort index outside its run's chunk (a malformed task) */
    int k;
    run r[];
} runs;

static inline uint64_t run_key(const runs *R, int k, int64_t i) {
    const run *r = &R->r[k];
    if (!R->arg) return key_of(R->kdt, r->p + i * r->s, false);
    int64_t g = *(const int64_t *)(r->p + i * r->s) - r->off;
    if (g < 0 || g >= r->n) {
        ((runs *)R)->bad = true;
        return 0;
    }
    return key_of(R->dt, r->v + g * r->vs, true);
}

/* The first position in [lo, hi) of run k whose key is > v (le) or >= v (!le); hi if none. */
static int64_t bound(const runs *R, int k, int64_t lo, int64_t hi, uint64_t v, bool le) {
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        uint64_t km = run_key(R, k, mid);
        if (le ? km <= v : km < v) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* A key with its run: the stable merge's order, up to the position inside the run. */
typedef struct runkey {
    uint64_t key;
    int64_t run;
} runkey;

static inline bool rk_less(runkey a, runkey b) { return a.key < b.key || (a.key == b.key && a.run < b.run); }

/* The q-th smallest (0 <= q < n) of a[0..n) (reordered): quickselect with three-way partitions
 * (equal keys of one run are common) around pseudo-random pivots. */
static runkey rk_select(runkey *a, int64_t n, int64_t q) {
    uint64_t z = (uint64_t)n * 0x9E3779B97F4A7C15ULL;
    while (n > 1) {
        z ^= z >> 29;
        z *= 0xBF58476D1CE4E5B9ULL;
        const runkey piv = a[(z >> 11) % (uint64_t)n];
        int64_t lt = 0, i = 0, gt = n;
        while (i < gt) {
            runkey x = a[i];
            if (rk_less(x, piv)) { a[i++] = a[lt]; a[lt++] = x; }
            else if (rk_less(piv, x)) { a[i] = a[--gt]; a[gt] = x; }
            else i++;
        }
        if (q < lt) n = lt;
        else if (q < gt) return piv;
        else { a += gt; n -= gt; q -= gt; }
    }
    return a[0];
}

/* corank's last step: q more of the windows' elements [cut[k], hi[k]) belong before p (0 <= q
 * <= their number): the q smallest by (key, run), those of one run and key by position. */
static void corank_tail(const runs *R, int64_t q, int64_t *cut, const int64_t *hi, runkey *a) {
    int64_t n = 0;
    for (int k = 0; k < R->k; k++)
        for (int64_t i = cut[k]; i < hi[k]; i++) a[n++] = (runkey){run_key(R, k, i), k};
    if (q >= n) {
        for (int k = 0; k < R->k; k++) cut[k] = hi[k];
        return;
    }
    if (q <= 0) return; /* (below 0 only for runs that are not sorted: a malformed task) */
    /* the first element not taken (select reorders a: counting does not mind) */
    const runkey piv = rk_select(a, n, q);
    int64_t less = 0;
    for (int64_t i = 0; i < n; i++)
        if (rk_less(a[i], piv)) { cut[a[i].run]++; less++; }
    cut[piv.run] += q - less; /* equal to the pivot: the first of its run */
}

/* cut[k]: how many elements of run k come before merged position p (0 <= p <= total) in the
 * stable merge's order (key, then run, then position). A quickselect over the runs: cut[k] stays
 * in the window [cut[k], hi[k]]; a pivot drawn at random from the elements still inside the
 * windows is counted in every window and each window keeps the side of the pivot that holds
 * its cut, so O(log total) rounds of K binary searches in shrinking windows, whatever the data
 * (a bisection over the 64-bit key space paid 64 rounds of full searches: a third of a large
 * sort). Counting only inside the windows decides exactly: if the pivot is among the first p,
 * each run's clamped count is at most its cut and the pivot's own run counts fewer, so the sum
 * stays below p; if not, each count is at least its cut. Once at most cap elements are left
 * in the windows (spread over many runs, a round settles only a few of them), they are selected
 * at once (corank_tail). hi and cnt: K scratch each; tail: cap. */
static void corank(const runs *R, int64_t p, int64_t *cut, int64_t *hi, int64_t *cnt, runkey *tail, int64_t cap) {
    const int K = R->k;
    int64_t total = 0;
    for (int k = 0; k < K; k++) {
        cut[k] = 0;
        hi[k] = R->r[k].n;
        total += hi[k];
    }
    if (p <= 0 || p >= total) {
        for (int k = 0; k < K; k++) cut[k] = p <= 0 ? 0 : hi[k];
        return;
    }
    uint64_t seed = (uint64_t)p;
    for (int round = 0;; round++) {
        int64_t w = 0, wmax = 0, before = 0;
        int j = 0;
        for (int k = 0; k < K; k++) {
            w += hi[k] - cut[k];
            before += cut[k];
            if (hi[k] - cut[k] > wmax) { wmax = hi[k] - cut[k]; j = k; }
        }
        if (w == 0) return;
        if (w <= cap) { /* the last few: selected among the windows' elements at once */
            corank_tail(R, p - before, cut, hi, tail);
            return;
        }
        int64_t r;
        if (round % 3 == 2) {
            /* splitmix64: a pivot at a random rank among the window elements (the bound on
             * the rounds, also for sorted or skewed runs) */
            uint64_t z = (seed += 0x9E3779B97F4A7C15ULL);
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
            r = (int64_t)((z ^ (z >> 31)) % (uint64_t)w);
            j = 0;
            while (r >= hi[j] - cut[j]) {
                r -= hi[j] - cut[j];
                j++;
            }
        } else {
            /* interpolation: in the widest window, as far in as p is into the windows' total
             * (runs of similar data put their cuts near there), a little below it, then a
             * little above it, so both ends of every window close in */
            const int64_t d = (int64_t)sqrt((double)wmax) + 1;
            r = (int64_t)((double)(p - before) / (double)w * (double)wmax) + (round % 3 ? d : -d);
            if (r >= wmax) r = wmax - 1;
            if (r < 0) r = 0;
        }
        const int64_t ip = cut[j] + r;
        const uint64_t v = run_key(R, j, ip);
        int64_t s = 0;
        for (int k = 0; k < K; k++) {
            /* elements before the pivot: runs before j up to keys <= v, runs after j below v */
            cnt[k] = k == j ? ip : bound(R, k, cut[k], hi[k], v, k < j);
            s += cnt[k];
        }
        if (s < p) { /* the pivot is among the first p: so is everything before it */
            memcpy(cut, cnt, (size_t)K * sizeof *cut);
            cut[j] = ip + 1;
        } else {
            memcpy(hi, cnt, (size_t)K * sizeof *hi);
        }
    }
}

/* out[0..hi-lo) along the line: the merged positions [lo, hi). The slices of the runs are
 * gathered as keys (argsort: with their indices) into key/idx (2 (hi - lo) each, the second
 * half scratch) and merged in rounds of pairwise merges: each round a sequential branch-free
 * stream, where a K-way tournament pays log2(K) unpredictable branches per element. */
static void merge_line(const runs *R, int64_t lo, int64_t hi, char *o, int64_t so, int64_t *c0, int64_t *c1,
                       uint64_t *key, int64_t *idx, int64_t *b) {
    const int K = R->k;
    const int64_t m = hi - lo;
    /* key's 2 m words hold the selection's last m elements (16 bytes each) */
    const int64_t cap = m < 8 * K + 1024 ? m : 8 * K + 1024;
    corank(R, lo, c0, b, b + K, (runkey *)key, cap);
    corank(R, hi, c1, b, b + K, (runkey *)key, cap);
    /* runs that are not sorted (a malformed task) can give co-ranks that do not add up */
    int64_t tot = 0;
    for (int k = 0; k < K; k++) {
        if (c1[k] < c0[k]) { ((runs *)R)->bad = true; return; }
        tot += c1[k] - c0[k];
    }
    if (tot != m) { ((runs *)R)->bad = true; return; }
    int64_t j = 0;
    for (int k = 0; k < K; k++) {
        const run *r = &R->r[k];
        b[k] = j;
        if (R->arg) {
            for (int64_t i = c0[k]; i < c1[k]; i++, j++) {
                key[j] = run_key(R, k, i);
                idx[j] = *(const int64_t *)(r->p + i * r->s);
            }
        } else {
            keys_of(R->kdt, r->p + c0[k] * r->s, r->s, c1[k] - c0[k], false, key + j);
            j += c1[k] - c0[k];
        }
    }
    b[K] = j; /* == m: the co-ranks of lo and hi are m apart */
    int64_t *si;
    const uint64_t *sk = merge_runs(key, R->arg ? idx : NULL, b, K, key + m, R->arg ? idx + m : NULL, &si);
    if (R->arg) for (int64_t i = 0; i < m; i++) *(int64_t *)(o + i * so) = si[i];
    else values_of(R->dt, sk, m, o, so);
}

static lp_status sort_runs(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins, const lpi_view *out) {
    const int ax = pn->axis;
    const bool arg = pn->op == LPI_OP_ARGSORT;
    const int K = arg ? t->nops / 2 : t->nops;
    if (K < 1 || K > 6 * 1024) return lpi_error(ctx, LP_ERR_INTERNAL, "sort: bad operand count");
    runs *R = lp_malloc(sizeof *R + (size_t)K * sizeof(run));
    int64_t *c0 = lp_malloc((size_t)(4 * K + 1) * sizeof *c0); /* c0, c1, the K + 1 run starts (corank's 2 K scratch) */
    lp_buffer *kb = NULL, *ib = NULL;
    lp_status st = LP_OK;
    if (!R || !c0) { st = lpi_nomem(ctx); goto done; }
    R->dt = arg ? ins[K].dtype : out->dtype;
    R->kdt = arg || ins[0].dtype != LP_UINT64 ? R->dt : LP_UINT64;
    R->arg = arg;
    R->bad = false;
    R->k = K;
    /* what the loops below rely on */
    int64_t len = 0;
    bool ok = true;
    for (int k = 0; k < K && ok; k++) {
        ok = same_lines(&ins[k], out, ax, arg ? LP_INT64 : (int)R->kdt) &&
             (!arg || (same_lines(&ins[K + k], out, ax, R->dt) && ins[K + k].shape[ax] == ins[k].shape[ax]));
        len += ins[k].shape[ax];
    }
    if (ok) ok = t->box.ndim == out->ndim && t->box.lo[ax] >= 0 && t->box.lo[ax] + out->shape[ax] <= len &&
                            out->dtype == (arg ? LP_INT64 : R->dt) && (R->kdt == R->dt || keyed_dtype(R->dt));
    if (!ok) { st = lpi_error(ctx, LP_ERR_VALUE, "sort: the operands do not match the output"); goto done; }
    /* merge scratch from the buffer cache (tasks of one size reuse it without page faults) */
    int64_t n2 = out->shape[ax] > 0 ? 2 * out->shape[ax] : 2;
    kb = lpi_buffer_new(LP_UINT64, 1, &n2);
    ib = arg ? lpi_buffer_new(LP_INT64, 1, &n2) : NULL;
    if (!kb || (arg && !ib)) { st = lpi_nomem(ctx); goto done; }
    /* the lines: every operand view has the task's lines; walk them with one index */
    lines L = {.nd = out->ndim, .ax = ax};
    memcpy(L.shape, out->shape, sizeof L.shape);
    L.shape[ax] = 1;
    const int64_t nl = count_lines(&L);
    for (int64_t li = 0; li < nl && !st; li++) {
        /* base pointers of this line in each operand: same non-axis coordinates */
        int64_t offs[LP_MAX_NDIM];
        line_coords(&L, li, offs);
        int64_t run_off = 0;
        for (int k = 0; k < K; k++) {
            run *r = &R->r[k];
            r->p = view_line(&ins[k], &L, offs);
            r->s = ins[k].strides[ax];
            r->n = ins[k].shape[ax];
            r->off = run_off;
            if (arg) {
                r->v = view_line(&ins[K + k], &L, offs);
                r->vs = ins[K + k].strides[ax];
            }
            run_off += r->n;
        }
        char *o = view_line(out, &L, offs);
        const int64_t first = t->box.lo[ax];
        merge_line(R, first, first + out->shape[ax], o, out->strides[ax], c0, c0 + K, lp_buffer_data(kb),
                   arg ? lp_buffer_data(ib) : NULL, c0 + 2 * K);
        if (R->bad) {
            st = lpi_error(ctx, LP_ERR_VALUE, arg ? "argsort: an index is outside its chunk or the runs are not sorted"
                                                  : "sort: the runs are not sorted");
            break;
        }
        if (atomic_load_explicit(&ctx->cancel, memory_order_relaxed)) break;
    }
done:
    lp_free(R);
    lp_free(c0);
    lp_buffer_release(kb);
    lp_buffer_release(ib);
    return st;
}

/* ---- selection by histogram ---- */

/* Keys narrowed to the dtype's width (key_of widens int8/int16 to 64 bits), still order-
 * preserving: a histogram's buckets are their top bits, the radix select their lower ones. */
static inline int key_bits(lp_dtype dt) {
    switch (dt) {
    case LP_BOOL: case LP_UINT8: case LP_INT8: return 8;
    case LP_UINT16: case LP_INT16: return 16;
    case LP_FLOAT16: case LP_FLOAT32: case LP_INT32: case LP_UINT32: return 32; /* float16: float32 keys */
    default: return 64;
    }
}

static inline uint64_t narrow_key(lp_dtype dt, uint64_t k) {
    if (dt == LP_INT8) return (uint64_t)((int64_t)(k ^ SIGN64) + 128);
    if (dt == LP_INT16) return (uint64_t)((int64_t)(k ^ SIGN64) + 32768);
    return k;
}

static inline uint64_t widen_key(lp_dtype dt, uint64_t k) {
    if (dt == LP_INT8) return (uint64_t)((int64_t)k - 128) ^ SIGN64;
    if (dt == LP_INT16) return (uint64_t)((int64_t)k - 32768) ^ SIGN64;
    return k;
}


static inline __attribute__((always_inline)) void count_keys_t(lp_dtype dt, const char *x, int64_t sx, int64_t n, int sh,
                                                              int64_t *h) {
    for (int64_t i = 0; i < n; i++) h[narrow_key(dt, key_of(dt, x + i * sx, false)) >> sh]++;
}

static void count_keys(lp_dtype dt, const char *x, int64_t sx, int64_t n, int sh, int64_t *h) {
    switch (dt) {
#define X(DT) case DT: count_keys_t(DT, x, sx, n, sh, h); break;
        KEY_DTYPES(X)
#undef X
    default: break;
    }
}

/* The wanted buckets [bmin, bmax] (slot[b] >= 0): their keys appended to g[off[s] + fill[s]],
 * at most cap[s] of each (the histograms come from tasks: a mismatch is found by the caller). */
typedef struct gather {
    int64_t bmin, bmax;
    const int32_t *slot;
    const int64_t *off, *cap;
    int64_t *fill;
    uint64_t *g;
} gather;

static inline __attribute__((always_inline)) void gather_keys_t(lp_dtype dt, const char *x, int64_t sx, int64_t n, int sh,
                                                               const gather *G) {
    const uint64_t span = (uint64_t)(G->bmax - G->bmin);
    for (int64_t i = 0; i < n; i++) {
        uint64_t k = narrow_key(dt, key_of(dt, x + i * sx, false));
        int64_t b = (int64_t)(k >> sh);
        if ((uint64_t)(b - G->bmin) > span) continue;
        int32_t sl = G->slot[b];
        if (sl >= 0 && G->fill[sl] < G->cap[sl]) G->g[G->off[sl] + G->fill[sl]++] = k;
    }
}

static void gather_keys(lp_dtype dt, const char *x, int64_t sx, int64_t n, int sh, const gather *G) {
    switch (dt) {
#define X(DT) case DT: gather_keys_t(DT, x, sx, n, sh, G); break;
        KEY_DTYPES(X)
#undef X
    default: break;
    }
}

/* The r-th smallest of m keys that agree above their `low` lowest bits: MSD radix steps of 11
 * bits, each counting the remaining keys' next digit and keeping only the rank's digit (at
 * most 6 steps whatever the data; k is reordered). */
static uint64_t radix_select(uint64_t *k, int64_t m, int64_t r, int low) {
    static __thread int64_t cnt[RADIX_SIZE];
    while (m > 1 && low > 0) {
        const int d = low < RADIX_BITS ? low : RADIX_BITS, sh = low - d;
        const uint64_t mask = ((uint64_t)1 << d) - 1;
        memset(cnt, 0, (size_t)(mask + 1) * sizeof *cnt);
        for (int64_t i = 0; i < m; i++) cnt[(k[i] >> sh) & mask]++;
        uint64_t b = 0;
        while (r >= cnt[b]) r -= cnt[b++];
        int64_t j = 0;
        for (int64_t i = 0; i < m; i++)
            if (((k[i] >> sh) & mask) == b) k[j++] = k[i];
        m = j;
        low = sh;
    }
    return k[r]; /* m == 1, or every remaining key equal */
}

/* Level 1: per line, the counts of the chunk's keys by their top log2(nb) bits. */
static lp_status select_hist(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *in, const lpi_view *out) {
    const int ax = pn->axis;
    const int64_t nb = out->shape[ax];
    if (t->nops != 1 || out->dtype != LP_INT64 || !same_lines(in, out, ax, -1) || nb < 2 || nb > (1 << 16) || (nb & (nb - 1)))
        return lpi_error(ctx, LP_ERR_VALUE, "sort_select: the histogram does not match its chunk");
    int bits = 0;
    while (((int64_t)1 << bits) < nb) bits++;
    const int kw = key_bits(in->dtype), sh = kw > bits ? kw - bits : 0;
    lines L = {.nd = in->ndim, .ax = ax};
    memcpy(L.shape, in->shape, sizeof L.shape);
    L.shape[ax] = 1;
    add_view(&L, in);
    add_view(&L, out);
    const int64_t nl = count_lines(&L), n = in->shape[ax], so = out->strides[ax];
    int64_t *h = lp_malloc((size_t)nb * sizeof *h);
    if (!h) return lpi_nomem(ctx);
    for (int64_t li = 0; li < nl; li++) {
        char *p[8];
        line_at(&L, li, p);
        memset(h, 0, (size_t)nb * sizeof *h);
        count_keys(in->dtype, p[0], in->strides[ax], n, sh, h);
        for (int64_t b = 0; b < nb; b++) *(int64_t *)(p[1] + b * so) = h[b];
        if (atomic_load_explicit(&ctx->cancel, memory_order_relaxed)) break;
    }
    lp_free(h);
    return LP_OK;
}

/* Level 2: operands the K chunks along the axis, their K histograms, the ranks. Per line the
 * summed histogram gives each rank's bucket; one pass over the chunks gathers the wanted
 * buckets' keys; a radix select finds each rank within its bucket. */
static lp_status select_ranks_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins, const lpi_view *out) {
    const int ax = pn->axis;
    const int K = (t->nops - 1) / 2;
    if (K < 1 || t->nops != 2 * K + 1) return lpi_error(ctx, LP_ERR_VALUE, "sort_select: bad operand count");
    const lpi_view *rk = &ins[2 * K];
    const lp_dtype dt = ins[0].dtype;
    const int64_t nb = ins[K].shape[ax], m = out->shape[ax];
    bool ok = rk->ndim == 1 && rk->dtype == LP_INT64 && rk->shape[0] == m && out->dtype == dt && nb >= 2 && nb <= (1 << 16) &&
              !(nb & (nb - 1));
    int64_t total = 0;
    for (int k = 0; k < K && ok; k++) {
        ok = same_lines(&ins[k], out, ax, dt) && same_lines(&ins[K + k], out, ax, LP_INT64) && ins[K + k].shape[ax] == nb;
        total += ins[k].shape[ax];
    }
    if (!ok) return lpi_error(ctx, LP_ERR_VALUE, "sort_select: the operands do not match the output");
    int bits = 0;
    while (((int64_t)1 << bits) < nb) bits++;
    const int kw = key_bits(dt), sh = kw > bits ? kw - bits : 0;
    lines L = {.nd = out->ndim, .ax = ax};
    memcpy(L.shape, out->shape, sizeof L.shape);
    L.shape[ax] = 1;
    const int64_t nl = count_lines(&L);
    /* per line: cum[nb + 1] bucket starts; slot[nb] (-1: not wanted); per rank its bucket; per
     * wanted bucket (at most m) its offset, size and fill */
    int64_t *cum = lp_malloc((size_t)(nb + 1) * sizeof *cum), *rb = lp_malloc((size_t)(m + 1) * sizeof *rb);
    int64_t *off = lp_malloc((size_t)(4 * m + 1) * sizeof *off);
    int32_t *slot = lp_malloc((size_t)nb * sizeof *slot);
    uint64_t *g = NULL, *scratch = NULL;
    lp_status st = LP_OK;
    if (!cum || !rb || !off || !slot) { st = lpi_nomem(ctx); goto done; }
    int64_t *cap = off + m, *fill = off + 2 * m, *uses = off + 3 * m; /* uses: ranks in the bucket */
    for (int64_t b = 0; b < nb; b++) slot[b] = -1;
    for (int64_t li = 0; li < nl && !st; li++) {
        int64_t offs[LP_MAX_NDIM];
        line_coords(&L, li, offs);
        memset(cum, 0, (size_t)(nb + 1) * sizeof *cum);
        for (int k = 0; k < K; k++) {
            const char *h = view_line(&ins[K + k], &L, offs);
            const int64_t hs = ins[K + k].strides[ax];
            for (int64_t b = 0; b < nb; b++) {
                int64_t c = *(const int64_t *)(h + b * hs);
                if (c < 0 || c > total) { st = lpi_error(ctx, LP_ERR_VALUE, "sort_select: a histogram does not match its chunk"); goto done; }
                cum[b + 1] += c;
            }
        }
        for (int64_t b = 0; b < nb; b++) cum[b + 1] += cum[b];
        if (cum[nb] != total) { st = lpi_error(ctx, LP_ERR_VALUE, "sort_select: the histograms do not match the chunks"); goto done; }
        /* each rank's bucket: the last b with cum[b] <= p (then cum[b + 1] > p) */
        int64_t ns = 0, bmin = nb, bmax = -1, need = 0;
        for (int64_t j = 0; j < m; j++) {
            int64_t p = *(const int64_t *)(rk->data + j * rk->strides[0]);
            if (p < 0 || p >= total) {
                st = lpi_error(ctx, LP_ERR_INDEX, "sort_select: rank %lld is out of bounds for axis %d with size %lld",
                               (long long)p, ax, (long long)total);
                goto done;
            }
            int64_t lo = 0, hi = nb - 1;
            while (lo < hi) {
                int64_t mid = lo + (hi - lo + 1) / 2;
                if (cum[mid] <= p) lo = mid;
                else hi = mid - 1;
            }
            rb[j] = lo;
            if (slot[lo] < 0) {
                slot[lo] = (int32_t)ns;
                off[ns] = need;
                cap[ns] = cum[lo + 1] - cum[lo];
                fill[ns] = 0;
                uses[ns] = 0;
                need += cap[ns++];
                if (lo < bmin) bmin = lo;
                if (lo > bmax) bmax = lo;
            }
            uses[slot[lo]]++;
        }
        if (m > 0) {
            /* a bucket with one rank is selected in place; one with several is copied first */
            int64_t shared = 0;
            for (int64_t s2 = 0; s2 < ns; s2++)
                if (uses[s2] > 1 && cap[s2] > shared) shared = cap[s2];
            uint64_t *ng = lp_realloc(g, (size_t)need * sizeof *g);
            if (ng) g = ng;
            uint64_t *nsc = ng && shared ? lp_realloc(scratch, (size_t)shared * sizeof *scratch) : scratch;
            if (nsc) scratch = nsc;
            if (!ng || (shared && !nsc)) { st = lpi_nomem(ctx); goto done; }
            gather G = {bmin, bmax, slot, off, cap, fill, g};
            for (int k = 0; k < K; k++) gather_keys(dt, view_line(&ins[k], &L, offs), ins[k].strides[ax], ins[k].shape[ax], sh, &G);
            for (int64_t s2 = 0; s2 < ns; s2++)
                if (fill[s2] != cap[s2]) { st = lpi_error(ctx, LP_ERR_VALUE, "sort_select: the histograms do not match the chunks"); goto done; }
            char *o = view_line(out, &L, offs);
            for (int64_t j = 0; j < m; j++) {
                int64_t p = *(const int64_t *)(rk->data + j * rk->strides[0]);
                int32_t s2 = slot[rb[j]];
                uint64_t *keys = g + off[s2];
                if (uses[s2] > 1) keys = memcpy(scratch, keys, (size_t)cap[s2] * sizeof *g);
                uint64_t k = radix_select(keys, cap[s2], p - cum[rb[j]], sh);
                value_of(dt, widen_key(dt, k), o + j * out->strides[ax]);
            }
            for (int64_t j = 0; j < m; j++) slot[rb[j]] = -1;
        }
        if (atomic_load_explicit(&ctx->cancel, memory_order_relaxed)) break;
    }
done:
    lp_free(cum);
    lp_free(rb);
    lp_free(off);
    lp_free(slot);
    lp_free(g);
    lp_free(scratch);
    return st;
}

lp_status lpi_sort_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins, const lpi_view *out) {
    if (pn->axis < 0 || pn->axis >= out->ndim || t->nops < 1) return lpi_error(ctx, LP_ERR_VALUE, "sort: bad axis or operands");
    if (pn->op == LPI_OP_SORT_SELECT) {
        if (lpi_box_size(&t->box) == 0) return LP_OK; /* no lines (nor a dtype for empty operands) */
        return pn->final ? select_ranks_run(ctx, pn, t, ins, out) : select_hist(ctx, pn, t, &ins[0], out);
    }
    /* level 1 (runs) sorts its chunk; so does a direct sort with one chunk along the axis */
    if (!pn->final || t->nops == 1) {
        bool arg = pn->op == LPI_OP_ARGSORT;
        if (lpi_box_size(&t->box) == 0) return LP_OK; /* nothing to sort (an empty operand has no dtype on a worker) */
        if (t->nops != 1 || !same_lines(&ins[0], out, pn->axis, -1) || ins[0].shape[pn->axis] != out->shape[pn->axis] ||
            (out->dtype != (arg ? LP_INT64 : ins[0].dtype) && (arg || pn->final || out->dtype != LP_UINT64 || !keyed_dtype(ins[0].dtype))) ||
            t->box.ndim != out->ndim)
            return lpi_error(ctx, LP_ERR_VALUE, "sort: the operand does not match the output");
        return sort_local(ctx, pn, t, &ins[0], out);
    }
    return sort_runs(ctx, pn, t, ins, out);
}
