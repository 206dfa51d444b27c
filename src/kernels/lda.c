/* Fisher LDA kernels (layouts in kernels/lda.h).
 *
 * lda_stats works on blocks of rows small enough for L2: a first pass over the block gives each
 * class's block mean, a second copies the rows, centered on their class's block mean and sorted
 * by class (a counting sort), into one double buffer; dsyrk adds each class's scatter from it,
 * and the block joins the running per-class state with Chan et al.'s update generalized to
 * matrices,
 *     M2 = M2_a + M2_b + d d^T * n_a n_b / n,   mean = mean_a + d * n_b / n,   d = mean_b - mean_a,
 * the same formula that merges task states in the combine tree. Scatter is never formed as
 * X^T X - n mu mu^T, whose cancellation loses every digit when the mean dominates the spread. */
#include "kernels/lda.h"
#include "kernels/kernels.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

/* ---- BLAS threads ---- */

/* Tasks already fill the cores: every BLAS call here is single-threaded (OpenBLAS's count is
 * process-wide; kernels/linalg.c keeps it at 1 too and raises it only for its own calls under
 * an exclusive lock). Multi-threaded calls on blocks of a few hundred rows would also spin
 * OpenBLAS's workers between calls, a tenth of the fit's CPU time. */
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single(void) { openblas_set_num_threads(1); }
void lpi_lda_blas_init(void) { pthread_once(&blas_once, blas_single); }

/* ---- labels and classes ---- */

/* Labels of every supported dtype as int64 (bool is 0/1). */
#define LABEL_AT(p, dt) ((dt) == LP_INT64 ? *(const int64_t *)(p) : (dt) == LP_BOOL ? (int64_t)(*(const uint8_t *)(p) != 0) \
                                                                                   : lpi_load_i64((p), (dt)))

typedef struct classmap {
    const int64_t *v; /* sorted, distinct */
    int64_t K;
    bool range;       /* v[k] == v[0] + k: the index is a subtraction */
} classmap;

static void classmap_init(classmap *m, const lpi_view *cls) {
    m->v = (const int64_t *)cls->data;
    m->K = cls->shape[0];
    m->range = m->K > 0 && (uint64_t)m->v[m->K - 1] - (uint64_t)m->v[0] == (uint64_t)(m->K - 1);
}

static inline int64_t class_index(const classmap *m, int64_t v) {
    if (m->range) {
        uint64_t d = (uint64_t)v - (uint64_t)m->v[0];
        return d < (uint64_t)m->K ? (int64_t)d : -1;
    }
    int64_t lo = 0, hi = m->K - 1;
    while (lo <= hi) {
        int64_t mid = (lo + hi) >> 1;
        if (m->v[mid] < v) lo = mid + 1;
        else if (m->v[mid] > v) hi = mid - 1;
        else return mid;
    }
    return -1;
}

/* Class indices of rows [r0, r0+n) of y. */
static lp_status block_classes(lp_ctx *ctx, const classmap *m, const lpi_view *y, int64_t r0, int64_t n,
                               int32_t *ci) {
    const char *p = y->data + r0 * y->strides[0];
    const int64_t s = y->strides[0];
    const lp_dtype dt = y->dtype;
    for (int64_t i = 0; i < n; i++, p += s) {
        int64_t v = LABEL_AT(p, dt), k = class_index(m, v);
        if (k < 0)
            return lpi_error(ctx, LP_ERR_VALUE, "label %lld is not one of the %lld classes found in y (did y change "
                             "during the fit?)", (long long)v, (long long)m->K);
        ci[i] = (int32_t)k;
    }
    return LP_OK;
}

/* Row r of X as doubles into dst (D values). */
static inline void load_row(const lpi_view *X, int64_t r, int64_t D, double *dst) {
    const char *p = X->data + r * X->strides[0];
    const int64_t cs = X->strides[1];
    if (X->dtype == LP_FLOAT64) {
        if (cs == 8) memcpy(dst, p, (size_t)D * 8);
        else for (int64_t j = 0; j < D; j++) dst[j] = *(const double *)(p + j * cs);
    } else {
        if (cs == 4) { const float *f = (const float *)p; for (int64_t j = 0; j < D; j++) dst[j] = f[j]; }
        else for (int64_t j = 0; j < D; j++) dst[j] = *(const float *)(p + j * cs);
    }
}

/* Rows per block: the block's doubles stay in L2 (which dsyrk then streams from). */
static int64_t block_rows(int64_t D) {
    int64_t b = (256 << 10) / (8 * (D ? D : 1));
    return b < 16 ? 16 : b > 4096 ? 4096 : b;
}

/* Rows per block of lda_stats: also about 64 rows per class on average, else each class's
 * dsyrk is too thin to run well and the rank-1 merge of every block (D^2/2 per class) costs as
 * much as the scatter itself; bounded so the block stays under 8 MiB. */
static int64_t stats_block_rows(int64_t D, int64_t K) {
    int64_t b = block_rows(D), want = 64 * K, cap = (8 << 20) / (8 * (D ? D : 1));
    if (want > b) b = want < cap ? want : cap;
    return b < 16 ? 16 : b;
}

/* ---- lda_labels ---- */

/* Insert v into the sorted set s[0..*n) (capacity LPI_LDA_LABELS_CAP; full sets ignore new values:
 * their count already says "too many"). */
static void set_insert(int64_t *s, int64_t *n, int64_t v) {
    int64_t lo = 0, hi = *n;
    while (lo < hi) {
        int64_t mid = (lo + hi) >> 1;
        if (s[mid] < v) lo = mid + 1; else hi = mid;
    }
    if (lo < *n && s[lo] == v) return;
    if (*n == LPI_LDA_LABELS_CAP) return;
    memmove(s + lo + 1, s + lo, (size_t)(*n - lo) * sizeof *s);
    s[lo] = v;
    (*n)++;
}

static lp_status labels_partial(lp_ctx *ctx, const lpi_view *y, int64_t *state) {
    const int64_t n = y->shape[0], s = y->strides[0];
    const lp_dtype dt = y->dtype;
    int64_t *set = state + 1, cnt = 0;
    memset(state, 0, LPI_LDA_LABELS_SIZE * sizeof *state);
    if (n == 0) return LP_OK;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    const char *p = y->data;
    for (int64_t i = 0; i < n; i++, p += s) {
        int64_t v = LABEL_AT(p, dt);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    if (span < (1u << 16)) {
        /* small range (the usual case): a byte map, collected in order */
        uint8_t *seen = lp_calloc((size_t)span + 1, 1);
        if (!seen) return lpi_nomem(ctx);
        p = y->data;
        for (int64_t i = 0; i < n; i++, p += s) seen[(uint64_t)LABEL_AT(p, dt) - (uint64_t)lo] = 1;
        for (uint64_t d = 0; d <= span; d++)
            if (seen[d]) {
                if (cnt < LPI_LDA_LABELS_CAP) set[cnt] = (int64_t)((uint64_t)lo + d);
                cnt++;
            }
        lp_free(seen);
        state[0] = cnt < LPI_LDA_LABELS_CAP ? cnt : LPI_LDA_LABELS_CAP;
        return LP_OK;
    }
    int64_t last = 0;
    bool have_last = false;
    p = y->data;
    for (int64_t i = 0; i < n; i++, p += s) {
        int64_t v = LABEL_AT(p, dt);
        if (have_last && v == last) continue;
        set_insert(set, &cnt, v);
        last = v;
        have_last = true;
    }
    state[0] = cnt;
    return LP_OK;
}

static void labels_merge(int64_t *a, const int64_t *b) {
    int64_t n = a[0];
    for (int64_t i = 0; i < b[0]; i++) set_insert(a + 1, &n, b[1 + i]);
    /* a saturated input stays saturated */
    a[0] = b[0] == LPI_LDA_LABELS_CAP ? LPI_LDA_LABELS_CAP : n;
}

/* ---- lda_stats ---- */

typedef struct stats_ptrs {
    double *cnt, *mean, *m2;
} stats_ptrs;

static stats_ptrs stats_at(double *s, int64_t K, int64_t D) {
    stats_ptrs p = {s, s + K, s + K + K * D};
    return p;
}

/* Join (nb, mb, Mb) into class k of a: Chan et al. for a mean vector and a scatter matrix. Mb
 * may be NULL when the caller already added it (the block path adds it with dsyrk). */
static void chan_join(stats_ptrs a, int64_t k, int64_t D, double nb, const double *mb, const double *Mb,
                      double *delta) {
    double na = a.cnt[k], n = na + nb;
    double *mu = a.mean + k * D, *M = a.m2 + k * D * D;
    if (nb == 0) return;
    if (Mb) {
        /* only the upper triangle is meaningful; the lower stays zero in every state */
        for (int64_t i = 0; i < D * D; i++) M[i] += Mb[i];
    }
    if (na == 0) {
        memcpy(mu, mb, (size_t)D * sizeof *mu);
    } else {
        for (int64_t j = 0; j < D; j++) {
            delta[j] = mb[j] - mu[j];
            mu[j] += delta[j] * (nb / n);
        }
        cblas_dsyr(CblasRowMajor, CblasUpper, (int)D, na * nb / n, delta, 1, M, (int)D);
    }
    a.cnt[k] = n;
}

/* Row i of X as doubles: a pointer into X when it already is one, else converted into tmp. */
static inline const double *row_f64(const lpi_view *X, int64_t i, int64_t D, double *tmp) {
    if (X->dtype == LP_FLOAT64 && X->strides[1] == 8) return (const double *)(X->data + i * X->strides[0]);
    load_row(X, i, D, tmp);
    return tmp;
}

static lp_status stats_partial(lp_ctx *ctx, const lpi_view *ins, double *state) {
    const lpi_view *X = &ins[0], *y = &ins[1];
    const int64_t n = X->shape[0], D = X->shape[1];
    classmap cm;
    classmap_init(&cm, &ins[2]);
    const int64_t K = cm.K;
    stats_ptrs S = stats_at(state, K, D);
    memset(state, 0, (size_t)lpi_lda_stats_size(K, D) * sizeof *state);
    if (n == 0) return LP_OK;
    const int64_t B = stats_block_rows(D, K);
    /* Z: the block's rows, centered and grouped by class; bm: per-class block means */
    double *Z = lp_malloc_aligned((size_t)(B * D + K * D + 2 * D) * sizeof *Z);
    int32_t *ci = lp_malloc((size_t)B * sizeof *ci);
    int64_t *start = lp_malloc((size_t)(2 * K + 1) * sizeof *start);
    lp_status st = LP_OK;
    if (!Z || !ci || !start) { st = lpi_nomem(ctx); goto done; }
    double *bm = Z + B * D, *delta = bm + K * D, *tmp = delta + D;
    int64_t *fill = start + K + 1;
    for (int64_t r0 = 0; r0 < n && !st; r0 += B) {
        const int64_t nb = n - r0 < B ? n - r0 : B;
        if ((st = block_classes(ctx, &cm, y, r0, nb, ci))) break;
        memset(start, 0, (size_t)(K + 1) * sizeof *start);
        for (int64_t i = 0; i < nb; i++) start[ci[i] + 1]++;
        for (int64_t k = 0; k < K; k++) {
            if (start[k + 1]) memset(bm + k * D, 0, (size_t)D * sizeof *bm);
            start[k + 1] += start[k];
        }
        /* pass 1: the classes' block means (the block stays in L2 for pass 2) */
        for (int64_t i = 0; i < nb; i++) {
            const double *x = row_f64(X, r0 + i, D, tmp);
            double *s = bm + ci[i] * D;
            for (int64_t j = 0; j < D; j++) s[j] += x[j];
        }
        for (int64_t k = 0; k < K; k++) {
            const int64_t c = start[k + 1] - start[k];
            if (c) for (int64_t j = 0; j < D; j++) bm[k * D + j] /= (double)c;
        }
        /* pass 2: centered rows, sorted by class (a counting sort) */
        memcpy(fill, start, (size_t)K * sizeof *fill);
        for (int64_t i = 0; i < nb; i++) {
            const double *x = row_f64(X, r0 + i, D, tmp), *m = bm + ci[i] * D;
            double *z = Z + (fill[ci[i]]++) * D;
            for (int64_t j = 0; j < D; j++) z[j] = x[j] - m[j];
        }
        for (int64_t k = 0; k < K; k++) {
            const int64_t c = start[k + 1] - start[k];
            if (c == 0) continue;
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)D, (int)c, 1.0, Z + start[k] * D, (int)D, 1.0,
                        S.m2 + k * D * D, (int)D);
            chan_join(S, k, D, (double)c, bm + k * D, NULL, delta);
        }
    }
done:
    lp_free_aligned(Z);
    lp_free(ci);
    lp_free(start);
    return st;
}

static lp_status stats_merge(lp_ctx *ctx, double *a, const double *b, int64_t K, int64_t D) {
    double *delta = lp_malloc((size_t)(D ? D : 1) * sizeof *delta);
    if (!delta) return lpi_nomem(ctx);
    stats_ptrs A = stats_at(a, K, D), Bp = stats_at((double *)b, K, D);
    for (int64_t k = 0; k < K; k++)
        chan_join(A, k, D, Bp.cnt[k], Bp.mean + k * D, Bp.m2 + k * D * D, delta);
    lp_free(delta);
    return LP_OK;
}

/* ---- lda_lw: sum over rows of the squared norm (in the standardized metric) squared ---- */

static lp_status lw_partial(lp_ctx *ctx, const lpi_view *ins, double *state) {
    const lpi_view *X = &ins[0], *y = &ins[1];
    const int64_t n = X->shape[0], D = X->shape[1];
    classmap cm;
    classmap_init(&cm, &ins[2]);
    const int64_t K = cm.K;
    const double *prm = (const double *)ins[3].data; /* [(K+1)][2][D] */
    memset(state, 0, (size_t)(K + 1) * sizeof *state);
    const int64_t B = block_rows(D);
    double *row = lp_malloc_aligned((size_t)(D ? D : 1) * sizeof *row);
    int32_t *ci = lp_malloc((size_t)B * sizeof *ci);
    double *bs = lp_calloc((size_t)(K + 1), sizeof *bs);
    lp_status st = LP_OK;
    if (!row || !ci || !bs) { st = lpi_nomem(ctx); goto done; }
    const double *mg = prm + K * 2 * D, *wg = mg + D;
    for (int64_t r0 = 0; r0 < n && !st; r0 += B) {
        const int64_t nb = n - r0 < B ? n - r0 : B;
        if ((st = block_classes(ctx, &cm, y, r0, nb, ci))) break;
        for (int64_t i = 0; i < nb; i++) {
            load_row(X, r0 + i, D, row);
            const double *mk = prm + ci[i] * 2 * D, *wk = mk + D;
            double s1 = 0, s2 = 0;
            for (int64_t j = 0; j < D; j++) {
                double a = row[j] - mk[j], b = row[j] - mg[j];
                s1 += wk[j] * a * a;
                s2 += wg[j] * b * b;
            }
            bs[ci[i]] += s1 * s1;
            bs[K] += s2 * s2;
        }
        /* per-block sums keep the running totals' rounding independent of the row count */
        for (int64_t k = 0; k <= K; k++) { state[k] += bs[k]; bs[k] = 0; }
    }
done:
    lp_free_aligned(row);
    lp_free(ci);
    lp_free(bs);
    return st;
}

/* ---- lda_project and lda_predict: X @ W (+ b) by row blocks ---- */

/* Rows [r0, r0+nb) of X as a C-contiguous double matrix: X's own memory when it already is one. */
static const double *rows_as_f64(const lpi_view *X, int64_t r0, int64_t nb, int64_t D, double *tmp) {
    if (X->dtype == LP_FLOAT64 && X->strides[1] == 8 && (X->strides[0] == 8 * D || nb == 1))
        return (const double *)(X->data + r0 * X->strides[0]);
    for (int64_t i = 0; i < nb; i++) load_row(X, r0 + i, D, tmp + i * D);
    return tmp;
}

static lp_status project_map(lp_ctx *ctx, const lpi_view *ins, const lpi_view *out) {
    const lpi_view *X = &ins[0];
    const int64_t n = X->shape[0], D = X->shape[1], m = ins[1].shape[1];
    const double *W = (const double *)ins[1].data, *b = (const double *)ins[2].data;
    const double *center = (const double *)ins[3].data;
    bool centered = false;
    for (int64_t j = 0; j < D; j++) centered |= center[j] != 0;
    const int64_t B = block_rows(D);
    double *tmp = lp_malloc_aligned((size_t)(B * (D + m) + 1) * sizeof *tmp);
    if (!tmp) return lpi_nomem(ctx);
    double *res = tmp + B * D;
    /* out: (rows, m), or (rows,) when m == 1 */
    const int64_t os0 = out->strides[0], os1 = out->ndim > 1 ? out->strides[1] : 8;
    const bool direct = m == 0 || os1 == 8;
    for (int64_t r0 = 0; r0 < n; r0 += B) {
        const int64_t nb = n - r0 < B ? n - r0 : B;
        const double *A = centered ? tmp : rows_as_f64(X, r0, nb, D, tmp);
        if (centered)
            for (int64_t i = 0; i < nb; i++) {
                load_row(X, r0 + i, D, tmp + i * D);
                for (int64_t j = 0; j < D; j++) tmp[i * D + j] -= center[j];
            }
        const bool rows_contig = direct && (os0 == 8 * m || nb == 1);
        double *C = rows_contig ? (double *)(out->data + r0 * os0) : res;
        if (m && D)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)m, (int)D, 1.0, A, (int)D, W,
                        (int)m, 0.0, C, (int)m);
        else
            memset(C, 0, (size_t)(nb * m) * sizeof *C);
        for (int64_t i = 0; i < nb; i++)
            for (int64_t j = 0; j < m; j++) C[i * m + j] += b[j];
        if (!rows_contig)
            for (int64_t i = 0; i < nb; i++)
                for (int64_t j = 0; j < m; j++)
                    *(double *)(out->data + (r0 + i) * os0 + j * os1) = C[i * m + j];
    }
    lp_free_aligned(tmp);
    return LP_OK;
}

static lp_status predict_map(lp_ctx *ctx, const lpi_view *ins, const lpi_view *out) {
    const lpi_view *X = &ins[0];
    const int64_t n = X->shape[0], D = X->shape[1], C = ins[1].shape[0];
    const double *coef = (const double *)ins[1].data, *b = (const double *)ins[2].data;
    const int64_t *cls = (const int64_t *)ins[3].data;
    const double *center = (const double *)ins[4].data;
    const int64_t B = block_rows(D);
    double *tmp = lp_malloc_aligned((size_t)(B * (D + C) + 1) * sizeof *tmp);
    if (!tmp) return lpi_nomem(ctx);
    double *sc = tmp + B * D;
    for (int64_t r0 = 0; r0 < n; r0 += B) {
        const int64_t nb = n - r0 < B ? n - r0 : B;
        /* centered first: far from the origin, x . coef and intercept would cancel */
        for (int64_t i = 0; i < nb; i++) {
            double *row = tmp + i * D;
            load_row(X, r0 + i, D, row);
            for (int64_t j = 0; j < D; j++) row[j] -= center[j];
        }
        const double *A = tmp;
        if (D)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)C, (int)D, 1.0, A, (int)D, coef,
                        (int)D, 0.0, sc, (int)C);
        else
            memset(sc, 0, (size_t)(nb * C) * sizeof *sc);
        for (int64_t i = 0; i < nb; i++) {
            const double *s = sc + i * C;
            int64_t best = 0;
            if (C == 1) {
                best = s[0] + b[0] > 0;
            } else {
                /* np.argmax: the first maximum; a NaN is the maximum */
                double bv = s[0] + b[0];
                for (int64_t k = 1; k < C && bv == bv; k++) {
                    double v = s[k] + b[k];
                    if (v > bv || v != v) { bv = v; best = k; }
                }
            }
            char *p = out->data + (r0 + i) * out->strides[0];
            int64_t lab = cls[best];
            lpi_store_i64(p, out->dtype, lab);
        }
    }
    lp_free_aligned(tmp);
    return LP_OK;
}

/* ---- dispatch ---- */

lp_status lpi_lda_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins,
                      const lpi_view *out) {
    lpi_lda_blas_init();
    if (pn->kernel == LPI_K_MAP)
        return pn->op == LPI_OP_LDA_PROJECT ? project_map(ctx, ins, out) : predict_map(ctx, ins, out);
    /* partial states and final results share one contiguous layout */
    void *state = out->data;
    if (pn->kernel == LPI_K_PARTIAL) {
        switch (pn->op) {
        case LPI_OP_LDA_LABELS: return labels_partial(ctx, &ins[0], state);
        case LPI_OP_LDA_STATS: return stats_partial(ctx, ins, state);
        case LPI_OP_LDA_LW: return lw_partial(ctx, ins, state);
        default: break;
        }
    } else if (pn->kernel == LPI_K_COMBINE) {
        const size_t bytes = (size_t)t->pelems * 8;
        memcpy(state, ins[0].data, bytes);
        lp_status st = LP_OK;
        for (int k = 1; k < t->nops && !st; k++) {
            switch (pn->op) {
            case LPI_OP_LDA_LABELS: labels_merge(state, (const int64_t *)ins[k].data); break;
            case LPI_OP_LDA_STATS:
            {
                /* the state size says K: pelems = K (1 + D + D^2), D from X's shape */
                const int64_t D = pn->red->in_shape[1];
                st = stats_merge(ctx, state, (const double *)ins[k].data, t->pelems / (1 + D + D * D), D);
                break;
            }
            case LPI_OP_LDA_LW: {
                double *a = state;
                const double *b = (const double *)ins[k].data;
                for (int64_t i = 0; i < t->pelems; i++) a[i] += b[i];
                break;
            }
            default: return lpi_error(ctx, LP_ERR_INTERNAL, "lda: no combine for %s", lpi_ops[pn->op].name);
            }
        }
        return st;
    }
    return lpi_error(ctx, LP_ERR_INTERNAL, "lda: no kernel for %s (%d)", lpi_ops[pn->op].name, (int)pn->kernel);
}
