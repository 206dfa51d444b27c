/* Reductions. A PARTIAL task evaluates its (possibly fused) input program over slabs of its box
 * that fit in cache, folds each slab into per-output-element states, and either finalizes or
 * emits the states; COMBINE tasks merge states in a fixed order, so a given chunking gives the
 * same bits whatever the thread count. Float sums run in eight lanes per row (faster and more
 * accurate than one accumulator); var/std take an exact two-pass mean/M2 of each cache-resident
 * slab and merge slabs and tasks with Chan et al.'s parallel formula, never sum-of-squares
 * cancellation. States are structs of arrays: field f of element e at [f * nelem + e]; fields are
 * all doubles or all int64. */
#include "kernels/kernels.h"

#include <math.h>
#include <string.h>

#define SLAB_ELEMS 512
/* rows narrower than a VM block reduced along their length (einsum 'ij,ij->i', sum(axis=-1) of
 * a few columns): larger slabs amortize the per-slab setup over more rows */
#define ROW_SLAB_ELEMS 2048
/* var/std merge every slab into the running (n, mean, M2) with a division per output element:
 * larger slabs amortize it */
#define VAR_SLAB_ELEMS 4096

size_t lpi_partial_bytes(const lpi_reduce *r, int64_t nelem) { return (size_t)(r->nfields * nelem) * 8; }

static void state_init(const lpi_reduce *r, void *state, int64_t nelem) {
    double *d = state;
    int64_t *q = state;
    for (int64_t e = 0; e < nelem; e++) {
        switch (r->op) {
        case LPI_OP_PROD: if (r->acc_float) d[e] = 1; else q[e] = 1; break;
        case LPI_OP_ALL: q[e] = 1; break;
        case LPI_OP_MIN: case LPI_OP_ARGMIN:
            if (r->acc_float) d[e] = INFINITY; else q[e] = INT64_MAX;
            break;
        case LPI_OP_MAX: case LPI_OP_ARGMAX:
            if (r->acc_float) d[e] = -INFINITY; else q[e] = INT64_MIN;
            break;
        default: if (r->acc_float) d[e] = 0; else q[e] = 0;
        }
    }
    for (int f = 1; f < r->nfields; f++) {
        if (r->op == LPI_OP_ARGMIN || r->op == LPI_OP_ARGMAX) {
            /* index -1: "no element yet" so any real element wins the tie-break */
            for (int64_t e = 0; e < nelem; e++) {
                if (r->acc_float) d[f * nelem + e] = -1; else q[f * nelem + e] = -1;
            }
        } else {
            memset(d + f * nelem, 0, (size_t)nelem * 8);
        }
    }
}

static inline double sum8(const double *x, int64_t n) {
    double s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += x[i + j];
    for (int j = 0; i < n; i++, j++) s[j] += x[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* sum8 of a long run, compiled for AVX2/AVX-512 too (the same lanes, the same bits): the fold of
 * the streaming reductions */
LPI_CLONES double lpi_sum8(const double *x, int64_t n) { return sum8(x, n); }

/* acc + sum8(piece 0) + sum8(piece 1) + ... over consecutive pieces of x (the last one shorter),
 * added in that order: the bits of the one-piece-at-a-time loop. One piece's eight lanes are
 * two AVX2 vectors, each a chain of dependent adds (latency bound at a third of the adder's
 * throughput); four pieces summed side by side keep eight chains in flight. */
typedef double v4d __attribute__((vector_size(32)));
/* macros, not functions: a 32-byte vector argument or return value changes the baseline ABI */
#define LOAD4(p) __extension__({ v4d v_; memcpy(&v_, (p), sizeof v_); v_; })
#define LANES8(lo, hi) ((((lo)[0] + (lo)[1]) + ((lo)[2] + (lo)[3])) + (((hi)[0] + (hi)[1]) + ((hi)[2] + (hi)[3])))

LPI_CLONES double lpi_sum8_runs(double acc, const double *x, int64_t n, int64_t piece) {
    int64_t o = 0;
    if (piece % 8 == 0) {
        /* GCC's vectors (lanes j..j+3 and j+4..j+7 of each piece): elementwise IEEE adds, the
         * auto-vectorizer does not keep 4 x 8 scalar lanes in registers */
        for (; o + 4 * piece <= n; o += 4 * piece) {
            const double *x0 = x + o, *x1 = x0 + piece, *x2 = x1 + piece, *x3 = x2 + piece;
            v4d a0 = {0}, b0 = {0}, a1 = {0}, b1 = {0}, a2 = {0}, b2 = {0}, a3 = {0}, b3 = {0};
            for (int64_t i = 0; i < piece; i += 8) {
                a0 += LOAD4(x0 + i), b0 += LOAD4(x0 + i + 4);
                a1 += LOAD4(x1 + i), b1 += LOAD4(x1 + i + 4);
                a2 += LOAD4(x2 + i), b2 += LOAD4(x2 + i + 4);
                a3 += LOAD4(x3 + i), b3 += LOAD4(x3 + i + 4);
            }
            acc += LANES8(a0, b0);
            acc += LANES8(a1, b1);
            acc += LANES8(a2, b2);
            acc += LANES8(a3, b3);
        }
    }
    for (; o < n; o += piece) acc += sum8(x + o, n - o < piece ? n - o : piece);
    return acc;
}

/* lpi_sum8_runs' sum (the same lanes and order, so the same bits) with the pieces one after the
 * other: a long run from memory stays one sequential stream per thread (two dependent chains
 * per piece are enough to keep up with DRAM; the side-by-side form's four streams were slower
 * there, see docs/PERFORMANCE.md) -- the fold of a whole chunk read from memory. */
LPI_CLONES double lpi_sum8_seq(double acc, const double *x, int64_t n, int64_t piece) {
    int64_t o = 0;
    if (piece % 8 == 0) {
        for (; o + piece <= n; o += piece) {
            const double *p = x + o;
            v4d a = {0}, b = {0};
            for (int64_t i = 0; i < piece; i += 8) a += LOAD4(p + i), b += LOAD4(p + i + 4);
            acc += LANES8(a, b);
        }
    }
    for (; o < n; o += piece) acc += sum8(x + o, n - o < piece ? n - o : piece);
    return acc;
}

/* (value, index) better than the current one? NaN wins (first NaN), ties keep the lower index. */
static inline bool arg_better_f(bool is_min, double v, double i, double cv, double ci) {
    if (ci < 0) return true;
    if (cv != cv) return v != v && i < ci;
    if (v != v) return true;
    if (v == cv) return i < ci;
    return is_min ? v < cv : v > cv;
}
static inline bool arg_better_i(bool is_min, int64_t v, int64_t i, int64_t cv, int64_t ci) {
    if (ci < 0) return true;
    if (v == cv) return i < ci;
    return is_min ? v < cv : v > cv;
}

/* The element fold of min/max: a NaN state stays (the first NaN wins), a NaN value replaces a
 * number, and of equal values the state (the first) stays. Every min/max path gives its bits. */
static inline double minmax1_f(bool is_min, double c, double v) {
    return is_min ? ((c <= v || c != c) ? c : v) : ((c >= v || c != c) ? c : v);
}
static inline int64_t minmax1_i(bool is_min, int64_t c, int64_t v) {
    return is_min ? (v < c ? v : c) : (v > c ? v : c);
}

/* min/max of c and x[0..n), as the element-by-element fold `c = (c >= v || c != c) ? c : v`
 * computes it (the first NaN wins; among equal values the first): eight independent lanes that
 * ignore NaNs (maxpd/minpd), a NaN flag beside them, and the element loop again only when the
 * lanes cannot tell — a NaN was seen, or the extreme is a zero, whose sign depends on which of
 * the equal +0/-0 came first. Any other extreme value has one bit pattern, so the lanes' order
 * does not matter. */
typedef double v4d __attribute__((vector_size(32)));
typedef int64_t v4i __attribute__((vector_size(32)));

/* Lane-wise: the larger (smaller) of v and m, m where v is NaN; nan collects v's NaN lanes.
 * Written with vector types because the element-wise ternary does not vectorize under
 * -ftrapping-math (an ordered comparison may raise). */
#define MINMAX_STEP(IS_MIN, m, v, nan)                                                   \
    do {                                                                                \
        v4i take_ = (IS_MIN) ? (v4i)((v) < (m)) : (v4i)((v) > (m));                     \
        (m) = (v4d)(((v4i)(v) & take_) | ((v4i)(m) & ~take_));                          \
        (nan) |= (v4i)((v) != (v));                                                     \
    } while (0)

LPI_CLONES static double fold_minmax_f(bool is_min, double c, const double *restrict x, int64_t n) {
    if (c != c) return c;
    v4d m0 = {c, c, c, c}, m1 = m0;
    v4i nan = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        v4d a, b;
        memcpy(&a, x + i, sizeof a);
        memcpy(&b, x + i + 4, sizeof b);
        if (is_min) { MINMAX_STEP(1, m0, a, nan); MINMAX_STEP(1, m1, b, nan); }
        else { MINMAX_STEP(0, m0, a, nan); MINMAX_STEP(0, m1, b, nan); }
    }
    double r = c;
    bool anybad = false;
    for (int j = 0; j < 4; j++) {
        r = is_min ? (m0[j] < r ? m0[j] : r) : (m0[j] > r ? m0[j] : r);
        r = is_min ? (m1[j] < r ? m1[j] : r) : (m1[j] > r ? m1[j] : r);
        anybad |= nan[j] != 0;
    }
    for (; i < n; i++) { double v = x[i]; r = is_min ? (v < r ? v : r) : (v > r ? v : r); anybad |= v != v; }
    if (!anybad && r != 0) return r;
    for (i = 0; i < n; i++) c = minmax1_f(is_min, c, x[i]);
    return c;
}

LPI_CLONES static int64_t fold_minmax_i(bool is_min, int64_t c, const int64_t *restrict y, int64_t n) {
    v4i m0 = {c, c, c, c}, m1 = m0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        v4i a, b;
        memcpy(&a, y + i, sizeof a);
        memcpy(&b, y + i + 4, sizeof b);
        v4i ta = is_min ? (a < m0) : (a > m0), tb = is_min ? (b < m1) : (b > m1);
        m0 = (a & ta) | (m0 & ~ta);
        m1 = (b & tb) | (m1 & ~tb);
    }
    for (int j = 0; j < 4; j++) {
        c = is_min ? (m0[j] < c ? m0[j] : c) : (m0[j] > c ? m0[j] : c);
        c = is_min ? (m1[j] < c ? m1[j] : c) : (m1[j] > c ? m1[j] : c);
    }
    for (; i < n; i++) c = minmax1_i(is_min, c, y[i]);
    return c;
}

/* acc[i] = the min/max of acc[i] and x[i] for i < n, each as the element fold (acc's NaN stays;
 * a NaN of x replaces a number; among equal values acc's) */
LPI_CLONES static void minmax_each_f(bool is_min, double *restrict acc, const double *restrict x, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v4d c, v;
        memcpy(&c, acc + i, sizeof c);
        memcpy(&v, x + i, sizeof v);
        v4i take = ((is_min ? (v4i)(v < c) : (v4i)(v > c)) | (v4i)(v != v)) & (v4i)(c == c);
        c = (v4d)(((v4i)v & take) | ((v4i)c & ~take));
        memcpy(acc + i, &c, sizeof c);
    }
    for (; i < n; i++) acc[i] = minmax1_f(is_min, acc[i], x[i]);
}

LPI_CLONES static void minmax_each_i(bool is_min, int64_t *restrict acc, const int64_t *restrict y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v4i c, v;
        memcpy(&c, acc + i, sizeof c);
        memcpy(&v, y + i, sizeof v);
        v4i take = is_min ? (v < c) : (v > c);
        c = (v & take) | (c & ~take);
        memcpy(acc + i, &c, sizeof c);
    }
    for (; i < n; i++) acc[i] = minmax1_i(is_min, acc[i], y[i]);
}

/* min/max of n contiguous values into states acc[i * k] (k == 0: all into one state; k == 1: one
 * state per value, contiguous; else strided), doubles (accf) or int64 */
void lpi_fold_minmax(bool is_min, bool accf, void *acc, int64_t k, const void *vals, int64_t n) {
    double *A = acc;
    int64_t *Q = acc;
    const double *x = vals;
    const int64_t *y = vals;
    if (k == 0 && accf) *A = fold_minmax_f(is_min, *A, x, n);
    else if (k == 0) *Q = fold_minmax_i(is_min, *Q, y, n);
    else if (k == 1 && accf) minmax_each_f(is_min, A, x, n);
    else if (k == 1) minmax_each_i(is_min, Q, y, n);
    else if (accf) for (int64_t i = 0; i < n; i++) A[i * k] = minmax1_f(is_min, A[i * k], x[i]);
    else for (int64_t i = 0; i < n; i++) Q[i * k] = minmax1_i(is_min, Q[i * k], y[i]);
}

/* The first position of x[0..n)'s extreme with no NaN among them (-1 when there is a NaN: the
 * caller's element loop then finds the first NaN). Ties go to the first position, as in
 * arg_better_f: the extreme by lanes, then the first element equal to it (in L1 by then). */
static int64_t arg_extreme_f(bool is_min, const double *restrict x, int64_t n) {
    double r = fold_minmax_f(is_min, is_min ? INFINITY : -INFINITY, x, n);
    if (r != r) return -1;
    int64_t i = 0;
    while (i < n && x[i] != r) i++;
    return i < n ? i : 0; /* all +-inf equal to the start value: the first element */
}

static int64_t arg_extreme_i(bool is_min, const int64_t *restrict y, int64_t n) {
    int64_t r = fold_minmax_i(is_min, is_min ? INT64_MAX : INT64_MIN, y, n), i = 0;
    while (i < n && y[i] != r) i++;
    return i;
}

/* acc[r] += sum8(row r) for R contiguous rows of L: sum8 inlined with a constant L for the
 * narrow rows (einsum 'ij,ij->i') so each row is a few adds, not a loop; the same operations in
 * the same order as sum8, so the bits do not depend on the path. */
#define ROWSUM_CASE(W) case W: for (int64_t r = 0; r < R; r++) acc[r] += sum8(x + r * W, W); return;
static void rowsum(double *acc, const double *restrict x, int64_t R, int64_t L) {
    switch (L) {
    ROWSUM_CASE(1) ROWSUM_CASE(2) ROWSUM_CASE(3) ROWSUM_CASE(4)
    ROWSUM_CASE(5) ROWSUM_CASE(6) ROWSUM_CASE(7) ROWSUM_CASE(8)
    default: for (int64_t r = 0; r < R; r++) acc[r] += lpi_sum8(x + r * L, L);
    }
}
#undef ROWSUM_CASE

/* acc[j] += sum over r of x[r * L + j]: the accumulators live in a local array the compiler
 * keeps in registers/L1 (no aliasing with x), so the row loop vectorizes across j. */
static void colsum(double *acc, const double *restrict x, int64_t R, int64_t L) {
    double loc[64];
    for (int64_t j0 = 0; j0 < L; j0 += 64) {
        const int64_t m = L - j0 < 64 ? L - j0 : 64;
        for (int64_t j = 0; j < m; j++) loc[j] = 0;
        for (int64_t r = 0; r < R; r++) {
            const double *xr = x + r * L + j0;
            for (int64_t j = 0; j < m; j++) loc[j] += xr[j];
        }
        for (int64_t j = 0; j < m; j++) acc[j0 + j] += loc[j];
    }
}

/* Fold a contiguous slab of values into states (all ops but var/std). acc/idx strides are per
 * slab axis in elements; the slab itself is C-contiguous. */
static void fold_slab(const lpi_reduce *r, void *state, int64_t nelem, const void *vals, int nd,
                      const int64_t *shape_in, const int64_t *acc_st, const int64_t *idx_st,
                      int64_t acc0, int64_t idx0) {
    int64_t shape[LP_MAX_NDIM], st[3][LP_MAX_NDIM];
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        shape[i] = shape_in[i];
        st[0][i] = s;
        s *= shape[i];
        st[1][i] = acc_st[i];
        st[2][i] = idx_st[i];
    }
    if (s == 0) return;
    nd = lpi_coalesce(nd, shape, 3, st);
    const int64_t L = shape[nd - 1], va = st[1][nd - 1], vi = st[2][nd - 1];
    if (r->acc_float && (r->op == LPI_OP_SUM || r->op == LPI_OP_MEAN) && nd == 2 && va == 1 &&
        st[1][0] == 0 && st[0][0] == L) {
        /* rows folded into one row of sums (reduce over axis 0 of a (rows, L) slab) */
        colsum((double *)state + acc0, vals, shape[0], L);
        return;
    }
    if (r->acc_float && (r->op == LPI_OP_SUM || r->op == LPI_OP_MEAN) && nd == 2 && va == 0 &&
        st[1][0] == 1 && st[0][0] == L) {
        /* each row folded into its own sum (reduce over the last axis of a (rows, L) slab) */
        rowsum((double *)state + acc0, vals, shape[0], L);
        return;
    }
    int64_t pos[LP_MAX_NDIM] = {0};
    int64_t off = 0, acc = acc0, ix = idx0;
    double *D = state;
    int64_t *Q = state;
    const double *xd = vals;
    const int64_t *xq = vals;
    const bool is_min = r->op == LPI_OP_MIN || r->op == LPI_OP_ARGMIN;
    for (;;) {
        const double *x = xd + off;
        const int64_t *y = xq + off;
        switch (r->op) {
        case LPI_OP_SUM: case LPI_OP_MEAN:
            if (r->acc_float) {
                if (va == 0) D[acc] += lpi_sum8(x, L);
                else for (int64_t i = 0; i < L; i++) D[acc + i * va] += x[i];
            } else {
                uint64_t *U = (uint64_t *)Q;
                if (va == 0) { uint64_t t = 0; for (int64_t i = 0; i < L; i++) t += (uint64_t)y[i]; U[acc] += t; }
                else for (int64_t i = 0; i < L; i++) U[acc + i * va] += (uint64_t)y[i];
            }
            break;
        case LPI_OP_PROD:
            if (r->acc_float) for (int64_t i = 0; i < L; i++) D[acc + i * va] *= x[i];
            else { uint64_t *U = (uint64_t *)Q; for (int64_t i = 0; i < L; i++) U[acc + i * va] *= (uint64_t)y[i]; }
            break;
        case LPI_OP_MIN: case LPI_OP_MAX:
            lpi_fold_minmax(is_min, r->acc_float, D + acc, va, x, L); /* D + acc is Q + acc: one state array */
            break;
        case LPI_OP_ARGMIN: case LPI_OP_ARGMAX:
            if (va == 0 && L > 0) {
                /* one state for the whole row: its candidate, then the usual comparison */
                const int64_t k = r->acc_float ? arg_extreme_f(is_min, x, L) : arg_extreme_i(is_min, y, L);
                if (k >= 0) {
                    const int64_t id = ix + k * vi;
                    if (r->acc_float) {
                        if (arg_better_f(is_min, x[k], (double)id, D[acc], D[nelem + acc])) { D[acc] = x[k]; D[nelem + acc] = (double)id; }
                    } else if (arg_better_i(is_min, y[k], id, Q[acc], Q[nelem + acc])) {
                        Q[acc] = y[k];
                        Q[nelem + acc] = id;
                    }
                    break;
                }
            }
            for (int64_t i = 0; i < L; i++) {
                int64_t e = acc + i * va, id = ix + i * vi;
                if (r->acc_float) {
                    if (arg_better_f(is_min, x[i], (double)id, D[e], D[nelem + e])) { D[e] = x[i]; D[nelem + e] = (double)id; }
                } else {
                    if (arg_better_i(is_min, y[i], id, Q[e], Q[nelem + e])) { Q[e] = y[i]; Q[nelem + e] = id; }
                }
            }
            break;
        case LPI_OP_ANY: for (int64_t i = 0; i < L; i++) Q[acc + i * va] |= y[i] != 0; break;
        case LPI_OP_ALL: for (int64_t i = 0; i < L; i++) Q[acc + i * va] &= y[i] != 0; break;
        default: break;
        }
        int ax = nd - 2;
        for (; ax >= 0; ax--) {
            off += st[0][ax]; acc += st[1][ax]; ix += st[2][ax];
            if (++pos[ax] < shape[ax]) break;
            off -= st[0][ax] * shape[ax]; acc -= st[1][ax] * shape[ax]; ix -= st[2][ax] * shape[ax];
            pos[ax] = 0;
        }
        if (ax < 0) return;
    }
}

/* m2[j] += sum over r of (x[r * L + j] - mean[j])^2 */
static void colsqdev(double *m2, const double *restrict x, const double *restrict mean, int64_t R, int64_t L) {
    double loc[64], mu[64];
    for (int64_t j0 = 0; j0 < L; j0 += 64) {
        const int64_t m = L - j0 < 64 ? L - j0 : 64;
        for (int64_t j = 0; j < m; j++) { loc[j] = 0; mu[j] = mean[j0 + j]; }
        for (int64_t r = 0; r < R; r++) {
            const double *xr = x + r * L + j0;
            for (int64_t j = 0; j < m; j++) { double d = xr[j] - mu[j]; loc[j] += d * d; }
        }
        for (int64_t j = 0; j < m; j++) m2[j0 + j] += loc[j];
    }
}

/* var/std: the slab is in cache, so take its exact two-pass mean and M2 per output element
 * (relative index e - acc0 < the slab size: a slab spans whole inner axes and a range of one
 * more), then merge them into the running (n, mean, M2) with Chan's formula. One memory pass
 * over the data, and no sum-of-squares cancellation anywhere. */
static void fold_var_slab(void *state, int64_t nelem, const double *x, int nd, const int64_t *shape_in,
                          const int64_t *acc_st, int64_t acc0, double *lsum, double *lm2) {
    int64_t shape[LP_MAX_NDIM], st[2][LP_MAX_NDIM];
    int64_t s = 1, touched = 1;
    for (int i = nd - 1; i >= 0; i--) {
        shape[i] = shape_in[i];
        st[0][i] = s;
        s *= shape[i];
        st[1][i] = acc_st[i];
        if (acc_st[i]) touched *= shape[i];
    }
    if (s == 0) return;
    const double nb = (double)(s / touched);
    nd = lpi_coalesce(nd, shape, 2, st);
    const int64_t L = shape[nd - 1], va = st[1][nd - 1];
    int64_t span = 0; /* relative acc indices used: [0, span) */
    for (int i = 0; i < nd; i++) span += (shape[i] - 1) * st[1][i];
    span += 1;
    for (int64_t e = 0; e < span; e++) lsum[e] = lm2[e] = 0;
    if (nd == 2 && va == 1 && st[1][0] == 0 && st[0][0] == L) {
        /* (rows, L) slab reduced over rows: column means, then column M2, vectorized across j */
        colsum(lsum, x, shape[0], L);
        for (int64_t e = 0; e < L; e++) lsum[e] /= nb;
        colsqdev(lm2, x, lsum, shape[0], L);
        goto merge;
    }
    for (int pass = 0; pass < 2; pass++) {
        int64_t pos[LP_MAX_NDIM] = {0}, off = 0, rel = 0;
        for (;;) {
            const double *v = x + off;
            if (pass == 0) {
                if (va == 0) lsum[rel] += lpi_sum8(v, L);
                else for (int64_t i = 0; i < L; i++) lsum[rel + i * va] += v[i];
            } else if (va == 0) {
                double m = lsum[rel], q8[8] = {0};
                int64_t i = 0;
                for (; i + 8 <= L; i += 8)
                    for (int j = 0; j < 8; j++) { double d = v[i + j] - m; q8[j] += d * d; }
                for (int j = 0; i < L; i++, j++) { double d = v[i] - m; q8[j] += d * d; }
                lm2[rel] += ((q8[0] + q8[1]) + (q8[2] + q8[3])) + ((q8[4] + q8[5]) + (q8[6] + q8[7]));
            } else {
                for (int64_t i = 0; i < L; i++) {
                    double d = v[i] - lsum[rel + i * va];
                    lm2[rel + i * va] += d * d;
                }
            }
            int ax = nd - 2;
            for (; ax >= 0; ax--) {
                off += st[0][ax]; rel += st[1][ax];
                if (++pos[ax] < shape[ax]) break;
                off -= st[0][ax] * shape[ax]; rel -= st[1][ax] * shape[ax];
                pos[ax] = 0;
            }
            if (ax < 0) break;
        }
        if (pass == 0)
            for (int64_t e = 0; e < span; e++) lsum[e] /= nb; /* now the slab means */
    }
merge:;
    double *D = state;
    for (int64_t e = 0; e < span; e++) {
        int64_t k = acc0 + e;
        if (k >= nelem) break;
        double na = D[k];
        if (na == 0) { D[k] = nb; D[nelem + k] = lsum[e]; D[2 * nelem + k] = lm2[e]; continue; }
        double n = na + nb, d = lsum[e] - D[nelem + k];
        D[nelem + k] += d * (nb / n);
        D[2 * nelem + k] += lm2[e] + d * d * (na * nb / n);
        D[k] = n;
    }
}

/* Merge state b into a (element-wise), in that order. */
static void state_merge(const lpi_reduce *r, void *a_, const void *b_, int64_t nelem) {
    double *A = a_;
    const double *B = b_;
    int64_t *QA = a_;
    const int64_t *QB = b_;
    const bool is_min = r->op == LPI_OP_MIN || r->op == LPI_OP_ARGMIN;
    for (int64_t e = 0; e < nelem; e++) {
        switch (r->op) {
        case LPI_OP_SUM: case LPI_OP_MEAN:
            if (r->acc_float) A[e] += B[e]; else QA[e] = (int64_t)((uint64_t)QA[e] + (uint64_t)QB[e]);
            break;
        case LPI_OP_PROD:
            if (r->acc_float) A[e] *= B[e]; else QA[e] = (int64_t)((uint64_t)QA[e] * (uint64_t)QB[e]);
            break;
        case LPI_OP_MIN: case LPI_OP_MAX:
            if (r->acc_float) A[e] = minmax1_f(is_min, A[e], B[e]);
            else QA[e] = minmax1_i(is_min, QA[e], QB[e]);
            break;
        case LPI_OP_ARGMIN: case LPI_OP_ARGMAX:
            if (r->acc_float) {
                if (B[nelem + e] >= 0 && arg_better_f(is_min, B[e], B[nelem + e], A[e], A[nelem + e])) {
                    A[e] = B[e]; A[nelem + e] = B[nelem + e];
                }
            } else if (QB[nelem + e] >= 0 && arg_better_i(is_min, QB[e], QB[nelem + e], QA[e], QA[nelem + e])) {
                QA[e] = QB[e]; QA[nelem + e] = QB[nelem + e];
            }
            break;
        case LPI_OP_ANY: QA[e] |= QB[e]; break;
        case LPI_OP_ALL: QA[e] &= QB[e]; break;
        case LPI_OP_VAR: case LPI_OP_STD: {
            /* Chan, Golub, LeVeque: merge (n, mean, M2) pairs */
            double na = A[e], nb = B[e];
            if (nb == 0) break;
            if (na == 0) { A[e] = nb; A[nelem + e] = B[nelem + e]; A[2 * nelem + e] = B[2 * nelem + e]; break; }
            double n = na + nb, d = B[nelem + e] - A[nelem + e];
            A[nelem + e] += d * (nb / n);
            A[2 * nelem + e] += B[2 * nelem + e] + d * d * (na * nb / n);
            A[e] = n;
            break;
        }
        default: break;
        }
    }
}

/* Write final values (C order over the output box) into out. */
static lp_status finalize(lp_ctx *ctx, const lpi_reduce *r, const void *state, int64_t nelem,
                          const lpi_view *out) {
    const size_t isz = lp_dtype_size(out->dtype);
    char *tmp = lp_malloc_aligned((size_t)nelem * isz);
    if (!tmp && nelem) return lpi_nomem(ctx);
    const double *D = state;
    const int64_t *Q = state;
    const double N = (double)r->count;
    for (int64_t e = 0; e < nelem; e++) {
        double fv = 0;
        int64_t iv = 0;
        bool isf = r->acc_float;
        switch (r->op) {
        case LPI_OP_MEAN: fv = D[e] / N; break;
        case LPI_OP_VAR: case LPI_OP_STD: {
            double den = N - r->ddof;
            fv = D[2 * nelem + e] / (den > 0 ? den : 0);
            if (r->op == LPI_OP_STD) fv = sqrt(fv);
            break;
        }
        case LPI_OP_ARGMIN: case LPI_OP_ARGMAX:
            iv = r->acc_float ? (int64_t)D[nelem + e] : Q[nelem + e];
            isf = false;
            break;
        default:
            if (isf) fv = D[e];
            else iv = r->acc_unsigned ? (int64_t)((uint64_t)Q[e] ^ 0x8000000000000000ull) : Q[e];
        }
        char *p = tmp + (size_t)e * isz;
        if (isf && out->dtype == LP_FLOAT64) memcpy(p, &fv, 8); /* the common case, inline */
        else if (isf) lpi_store_f64(p, out->dtype, fv);
        else lpi_store_i64(p, out->dtype, iv);
    }
    lpi_view src = *out;
    src.data = tmp;
    int64_t s = (int64_t)isz;
    for (int i = out->ndim - 1; i >= 0; i--) { src.strides[i] = s; s *= out->shape[i]; }
    lpi_copy_view(out, &src);
    lp_free_aligned(tmp);
    return LP_OK;
}

/* A final sum/mean/prod/min/max into a packed float64 output keeps its states in the output
 * itself (the state of element e is its value): no scratch pages to fault in and no copy. */
static bool states_in_out(const lpi_reduce *r, const lpi_view *out, int64_t nelem) {
    if (!r->acc_float || r->nfields != 1 || out->dtype != LP_FLOAT64) return false;
    if (r->op != LPI_OP_SUM && r->op != LPI_OP_MEAN && r->op != LPI_OP_PROD && r->op != LPI_OP_MIN &&
        r->op != LPI_OP_MAX)
        return false;
    int64_t s = 8, n = 1;
    for (int i = out->ndim - 1; i >= 0; i--) {
        if (out->shape[i] != 1 && out->strides[i] != s) return false;
        s *= out->shape[i];
        n *= out->shape[i];
    }
    return n == nelem;
}

/* PARTIAL: ops are broadcast to the task box. */
static lp_status run_partial(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ops,
                             const lpi_view *out) {
    const lpi_reduce *r = pn->red;
    const lpi_box *box = &t->box;
    const int nd = box->ndim;
    int64_t shape[LP_MAX_NDIM], acc_st[LP_MAX_NDIM], idx_st[LP_MAX_NDIM];
    int64_t nelem = 1, gstride = 1, idx0 = 0;
    for (int i = nd - 1; i >= 0; i--) {
        shape[i] = box->hi[i] - box->lo[i];
        if (r->axes & (1u << i)) {
            acc_st[i] = 0;
            idx_st[i] = gstride;
            idx0 += box->lo[i] * gstride;
            gstride *= r->in_shape[i];
        } else {
            acc_st[i] = nelem;
            idx_st[i] = 0;
            nelem *= shape[i];
        }
    }
    const bool in_out = pn->final && states_in_out(r, out, nelem);
    void *state = pn->final && !in_out ? lp_malloc_aligned(lpi_partial_bytes(r, nelem)) : out->data;
    const bool is_var = r->op == LPI_OP_VAR || r->op == LPI_OP_STD;
    /* the reduced axes trailing and narrower than a VM block: rows of a few elements */
    int64_t red_inner = 1;
    int k_red = 0;
    for (int i = nd - 1; i >= 0 && ((r->axes >> i) & 1); i--) { red_inner *= shape[i]; k_red++; }
    const uint32_t all_axes = nd > 0 ? (1u << nd) - 1 : 0;
    const bool rows_last = k_red > 0 && k_red < nd && (r->axes & all_axes) == (all_axes ^ ((1u << (nd - k_red)) - 1));
    const int64_t slab = is_var ? VAR_SLAB_ELEMS : rows_last && red_inner < LPI_VM_BLOCK ? ROW_SLAB_ELEMS : SLAB_ELEMS;
    double *vals = lp_malloc_aligned((size_t)slab * 8 + 64);
    lp_status st = LP_OK;
    if ((!state && nelem) || !vals) { st = lpi_nomem(ctx); goto done; }
    state_init(r, state, nelem);

    /* slabs: the innermost axes whose product fits `slab`, and a range of the next one */
    int s_ax = nd;
    int64_t inner = 1;
    while (s_ax > 0 && inner * shape[s_ax - 1] <= slab) inner *= shape[--s_ax];
    /* s_ax == 0: the whole box is one slab; otherwise axis s_ax-1 is cut into ranges */
    const int cut = s_ax - 1;
    const int64_t step = cut >= 0 ? (slab / inner > 0 ? slab / inner : 1) : 1;
    const lpi_program *pg = pn->prog;
    const bool direct = pg->ninputs == 1 && pg->ninstr == 1 && pg->ins[0].op == LPI_OP_ASTYPE &&
                        pg->ins[0].src[0] == 0 && pg->reg_dt[0] == pg->reg_dt[pg->out_reg];
    if (direct && nd == 1 && nelem == 1 && !r->acc_unsigned && ops[0].strides[0] == 8 &&
        (r->op == LPI_OP_SUM || r->op == LPI_OP_MEAN || r->op == LPI_OP_MIN || r->op == LPI_OP_MAX)) {
        /* one contiguous 1-d run folded into one state (sum(a), max(a) of a chunk): the slab
         * loop's pieces straight from the input, without building its per-slab views, which
         * cost as much as streaming the piece from memory (the same pieces, so the same bits) */
        const int64_t n = shape[0], zero = 0, one = 1;
        if (r->acc_float && (r->op == LPI_OP_SUM || r->op == LPI_OP_MEAN)) {
            const double *x = (const double *)ops[0].data;
            *(double *)state = lpi_sum8_seq(*(double *)state, x, n, slab);
        } else { /* min/max and integer sums: the pieces do not change the result */
            fold_slab(r, state, 1, ops[0].data, 1, &n, &zero, &one, 0, idx0);
        }
        goto fin;
    }
    lpi_view *sops = lp_malloc((size_t)(pn->prog->ninputs + 1) * sizeof *sops);
    if (!sops) { st = lpi_nomem(ctx); goto done; }
    /* the run of trailing axes that all are (or all are not) reduced: the VM's inner loop */
    int64_t run = 1;
    for (int i = nd - 1; i >= 0 && (((r->axes >> i) & 1) == ((r->axes >> (nd - 1)) & 1)); i--) run *= shape[i];
    if (!direct && !is_var && !r->acc_unsigned && r->op != LPI_OP_ARGMIN && r->op != LPI_OP_ARGMAX && lpi_box_size(box) > 0 &&
        run >= LPI_VM_BLOCK) {
        /* a fused program over long runs: fold each VM block into the states while it is in L1
         * (narrow rows, e.g. a mean over axis 0 of 8 columns, go through slabs and colsum) */
        lpi_view accv = {(char *)state, r->acc_float ? LP_FLOAT64 : LP_INT64, nd, {0}, {0}};
        for (int i = 0; i < nd; i++) { accv.shape[i] = shape[i]; accv.strides[i] = acc_st[i] * 8; }
        st = lpi_vm_reduce(ctx, pn->prog, nd, shape, ops, &accv, r->op, r->acc_float);
        lp_free(sops);
        goto fin;
    }
    double *lsum = is_var ? lp_malloc_aligned((size_t)(2 * slab) * 8) : NULL;
    if (is_var && !lsum) { lp_free(sops); st = lpi_nomem(ctx); goto done; }
    int64_t pos[LP_MAX_NDIM] = {0}; /* slab origin, box-relative */
    while (lpi_box_size(box) > 0) {
        int64_t sshape[LP_MAX_NDIM];
        for (int i = 0; i < nd; i++) sshape[i] = i < cut ? 1 : shape[i];
        if (cut >= 0) sshape[cut] = shape[cut] - pos[cut] < step ? shape[cut] - pos[cut] : step;
        int64_t acc0 = 0, ix0 = idx0;
        for (int k = 0; k < pn->prog->ninputs; k++) {
            sops[k] = ops[k];
            sops[k].ndim = nd;
            for (int i = 0; i < nd; i++) { sops[k].shape[i] = sshape[i]; sops[k].data += pos[i] * ops[k].strides[i]; }
        }
        for (int i = 0; i < nd; i++) { acc0 += pos[i] * acc_st[i]; ix0 += pos[i] * idx_st[i]; }
        lpi_view tv = {(char *)vals, pn->prog->reg_dt[pn->prog->out_reg], nd, {0}, {0}};
        int64_t s = 8;
        bool contig = direct && !r->acc_unsigned;
        for (int i = nd - 1; i >= 0; i--) {
            tv.shape[i] = sshape[i];
            tv.strides[i] = s;
            contig &= sshape[i] == 1 || sops[0].strides[i] == s;
            s *= sshape[i];
        }
        /* a plain reduction of contiguous data of the accumulator's type folds it in place */
        const void *src = vals;
        if (contig) src = sops[0].data;
        else if ((st = lpi_vm_run(ctx, pn->prog, nd, sshape, sops, &tv))) break;
        if (r->acc_unsigned) {
            int64_t m = 1;
            for (int i = 0; i < nd; i++) m *= sshape[i];
            for (int64_t i = 0; i < m; i++) ((uint64_t *)vals)[i] ^= 0x8000000000000000ull;
        }
        if (is_var) fold_var_slab(state, nelem, src, nd, sshape, acc_st, acc0, lsum, lsum + slab);
        else fold_slab(r, state, nelem, src, nd, sshape, acc_st, idx_st, acc0, ix0);
        if (atomic_load_explicit(&ctx->cancel, memory_order_relaxed)) {
            st = lpi_error(ctx, LP_ERR_CANCELLED, "cancelled");
            break;
        }
        /* advance the slab origin over axes [0, cut] */
        int ax = cut;
        if (ax < 0) break;
        pos[ax] += sshape[ax];
        while (ax >= 0 && pos[ax] >= shape[ax]) {
            pos[ax] = 0;
            if (--ax >= 0) pos[ax]++;
        }
        if (ax < 0) break;
    }
    lp_free_aligned(lsum);
    lp_free(sops);
fin:
    if (!st && in_out && r->op == LPI_OP_MEAN) {
        double *D = state;
        const double N = (double)r->count;
        for (int64_t e = 0; e < nelem; e++) D[e] = D[e] / N;
    } else if (!st && pn->final && !in_out) {
        st = finalize(ctx, r, state, nelem, out);
    }
done:
    if (pn->final && !in_out) lp_free_aligned(state);
    lp_free_aligned(vals);
    return st;
}

static lp_status run_combine(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins,
                             const lpi_view *out) {
    const lpi_reduce *r = pn->red;
    int64_t nelem = ins[0].shape[1];
    size_t bytes = lpi_partial_bytes(r, nelem);
    void *state = pn->final ? lp_malloc_aligned(bytes) : out->data;
    if (!state && nelem) return lpi_nomem(ctx);
    memcpy(state, ins[0].data, bytes);
    for (int k = 1; k < t->nops; k++) state_merge(r, state, ins[k].data, nelem);
    lp_status st = LP_OK;
    if (pn->final) {
        st = finalize(ctx, r, state, nelem, out);
        lp_free_aligned(state);
    }
    return st;
}

lp_status lpi_reduce_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins,
                         const lpi_view *out) {
    return pn->kernel == LPI_K_PARTIAL ? run_partial(ctx, pn, t, ins, out) : run_combine(ctx, pn, t, ins, out);
}
