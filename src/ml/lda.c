/* Fisher LDA: the driver. Planned passes over the data (kernels/lda.c), then the small D x D
 * problem here, written to reproduce scikit-learn's LinearDiscriminantAnalysis(solver='eigen')
 * step by step (its _class_cov, _cov, ledoit_wolf_shrinkage and _solve_eigen), so that the
 * fitted attributes agree to rounding and predictions are the same:
 *
 *   Sw = sum_k priors_k cov_k          cov_k: class covariance (biased), shrunk as asked
 *   St = cov(X)                        the total covariance, shrunk the same way
 *   Sb = St - Sw
 *   Sb v = lambda Sw v                 LAPACK dsygvd (scipy.linalg.eigh's driver), descending
 *   coef_ = means_ V V^T,  intercept_ = -1/2 diag(means_ coef_^T) + log(priors_)
 *
 * Two classes reduce to scikit-learn's binary rule: w = coef_1 - coef_0 = Sw^-1 (mu_1 - mu_0)
 * and the threshold b = intercept_1 - intercept_0, i.e. from the projected class means and the
 * priors; the class is 1 when w.x + b > 0.
 *
 * Nothing here reads X: the per-class counts, means and scatter matrices come from lda_stats
 * (and the total from merging them), the Ledoit-Wolf fourth moments from lda_lw. */
#include "ml/lda.h"
#include "expr/expr.h"
#include "kernels/lda.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Below this reciprocal condition number (of Sw scaled to a unit diagonal) the directions
 * would carry fewer than ~4 correct digits: refuse and suggest shrinkage rather than answer. */
#define LDA_RCOND_MIN 1e-12

static const char shrink_hint[] =
    "use shrinkage (lp_lda_opts.shrinkage_kind = LP_LDA_SHRINKAGE_AUTO, or `lampy fisher --shrinkage auto`)";

/* A small constant array (copied). */
lp_status lpi_const_array(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, const void *data,
                             lp_array **out) {
    lp_buffer *b;
    lp_status st = lp_buffer_create(ctx, dt, ndim, shape, data, &b);
    if (st) return st;
    st = lp_from_buffer(ctx, b, out);
    lp_buffer_release(b);
    return st;
}

/* Compute one node; *buf receives its result. */
static lp_status run_one(lp_ctx *ctx, lp_array *node, lp_buffer **buf) {
    return lp_run(ctx, &node, 1, buf);
}

/* ---- the model ---- */

lp_lda_model *lpi_lda_model_new(int64_t K, int64_t D, int64_t m, int64_t C) {
    lp_lda_model *md = lp_calloc(1, sizeof *md);
    if (!md) return NULL;
    size_t n = (size_t)(2 * K + K * D + C * D + C + 2 * D * D + m + D + C * D + C);
    if (!(md->data = lp_calloc(n ? n : 1, sizeof(double)))) { lp_free(md); return NULL; }
    md->K = K; md->D = D; md->m = m; md->C = C;
    double *p = md->data;
    md->classes = (int64_t *)p; p += K;
    md->priors = p; p += K;
    md->means = p; p += K * D;
    md->coef = p; p += C * D;
    md->intercept = p; p += C;
    md->scalings = p; p += D * D;
    md->evr = p; p += m;
    md->covariance = p; p += D * D;
    md->center = p; p += D;
    md->pcoef = p; p += C * D;
    md->pintercept = p;
    return md;
}

void lp_lda_model_destroy(lp_lda_model *m) {
    if (!m) return;
    lp_free(m->data);
    lp_free(m);
}

int64_t lp_lda_n_classes(const lp_lda_model *m) { return m ? m->K : 0; }
int64_t lp_lda_n_features(const lp_lda_model *m) { return m ? m->D : 0; }
int64_t lp_lda_n_components(const lp_lda_model *m) { return m ? m->m : 0; }
int64_t lp_lda_n_samples(const lp_lda_model *m) { return m ? m->n_samples : 0; }

/* ---- covariance estimates (scikit-learn's _cov on one group's statistics) ---- */

/* sklearn.preprocessing._data._is_constant_feature: the variance is within the rounding error
 * bound of the two-pass algorithm. */
static bool constant_feature(double var, double mean, double n) {
    const double eps = DBL_EPSILON, ub = n * eps * var + (n * mean * eps) * (n * mean * eps);
    return var <= ub;
}

/* StandardScaler's scale_: the standard deviation, 1 for constant features. */
static void lw_scales(const double *M2, const double *mean, double n, int64_t D, double *sc) {
    for (int64_t j = 0; j < D; j++) {
        double var = M2[j * D + j] / n;
        sc[j] = constant_feature(var, mean[j], n) ? 1.0 : sqrt(var);
    }
}

/* _cov(X_group, shrinkage) from the group's count n, mean, centered scatter M2 (symmetric)
 * and, for "auto", q = sum over its rows of ||(x - mean) / scale||^4. cov: D x D out. */
static void group_cov(const double *M2, const double *mean, double n, int64_t D, lp_lda_shrinkage kind,
                      double s, double q, double *sc, double *cov) {
    const int64_t DD = D * D;
    if (kind != LP_LDA_SHRINKAGE_AUTO) {
        for (int64_t i = 0; i < DD; i++) cov[i] = M2[i] / n;
        if (kind == LP_LDA_SHRINKAGE_FIXED) {
            /* shrunk_covariance: (1 - s) S + s mu I, mu = tr(S) / D */
            double tr = 0;
            for (int64_t j = 0; j < D; j++) tr += cov[j * D + j];
            double mu = tr / (double)D;
            for (int64_t i = 0; i < DD; i++) cov[i] *= 1.0 - s;
            for (int64_t j = 0; j < D; j++) cov[j * D + j] += s * mu;
        }
        return;
    }
    /* StandardScaler, then ledoit_wolf on the standardized rows Z, then scale back:
     * E = emp_cov(Z), alpha = ledoit_wolf_shrinkage(Z), cov = sc (1 - alpha) E + alpha mu I) sc */
    lw_scales(M2, mean, n, D, sc);
    double trace = 0, delta_ = 0;
    for (int64_t i = 0; i < D; i++)
        for (int64_t j = 0; j < D; j++) {
            double e = M2[i * D + j] / n / (sc[i] * sc[j]);
            cov[i * D + j] = e;
            delta_ += e * e;
            if (i == j) trace += e;
        }
    const double Df = (double)D, mu = trace / Df;
    double alpha = 0;
    if (D > 1) {
        /* ledoit_wolf_shrinkage: beta_ = sum <Z2^T, Z2> = sum_rows ||z||^4 = q,
         * delta_ = sum (Z^T Z)^2 / n^2 = ||E||_F^2 */
        double beta = 1.0 / (Df * n) * (q / n - delta_);
        double delta = (delta_ - 2.0 * mu * trace + Df * mu * mu) / Df;
        beta = beta < delta ? beta : delta;
        alpha = beta == 0 ? 0 : beta / delta;
    }
    for (int64_t i = 0; i < D; i++)
        for (int64_t j = 0; j < D; j++) {
            double e = (1.0 - alpha) * cov[i * D + j];
            if (i == j) e += alpha * mu;
            cov[i * D + j] = sc[i] * e * sc[j];
        }
}

/* ---- checks on Sw ---- */

static void list_features(char *buf, size_t cap, const int64_t *idx, int64_t n) {
    size_t len = 0;
    buf[0] = 0;
    for (int64_t i = 0; i < n && i < 8 && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", i ? ", " : "", (long long)idx[i]);
    if (n > 8 && len < cap) snprintf(buf + len, cap - len, ", ... (%lld in all)", (long long)n);
}

/* Sw must be positive definite and not so ill-conditioned that its inverse is noise. The
 * condition is measured after scaling Sw to a unit diagonal, so features in different units
 * are not mistaken for trouble. On success work holds the Cholesky factor (lower, column-major)
 * of diag(d) Sw diag(d) and d the scaling, for sw_solve. constant (may be NULL) marks features
 * whose within-class variances are all rounding noise (see fit). */
static lp_status check_within(lp_ctx *ctx, const double *Sw, int64_t D, const bool *constant, double *work,
                              double *d) {
    int64_t *bad = lp_malloc((size_t)D * sizeof *bad), nbad = 0;
    if (!bad) return lpi_nomem(ctx);
    for (int64_t j = 0; j < D; j++)
        if (!(Sw[j * D + j] > 0) || (constant && constant[j])) bad[nbad++] = j;
    char list[160];
    if (nbad) {
        list_features(list, sizeof list, bad, nbad);
        lp_free(bad);
        return lpi_error(ctx, LP_ERR_LINALG,
                         "Fisher LDA: feature%s %s %s constant within every class, so the within-class "
                         "covariance is singular; drop %s or %s",
                         nbad > 1 ? "s" : "", list, nbad > 1 ? "are" : "is", nbad > 1 ? "them" : "it", shrink_hint);
    }
    lp_free(bad);
    for (int64_t j = 0; j < D; j++) d[j] = 1.0 / sqrt(Sw[j * D + j]);
    double anorm = 0;
    for (int64_t j = 0; j < D; j++) {
        double colsum = 0;
        for (int64_t i = 0; i < D; i++) {
            work[i * D + j] = d[i] * Sw[i * D + j] * d[j];
            colsum += fabs(work[i * D + j]);
        }
        anorm = colsum > anorm ? colsum : anorm;
    }
    lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', (lapack_int)D, work, (lapack_int)D);
    if (info > 0)
        return lpi_error(ctx, LP_ERR_LINALG,
                         "Fisher LDA: the within-class covariance is singular: feature %lld is a linear "
                         "combination of features 0..%lld within classes; %s",
                         (long long)(info - 1), (long long)(info - 2), shrink_hint);
    if (info < 0) return lpi_error(ctx, LP_ERR_INTERNAL, "dpotrf: argument %d", (int)-info);
    double rcond = 0;
    info = LAPACKE_dpocon(LAPACK_COL_MAJOR, 'L', (lapack_int)D, work, (lapack_int)D, anorm, &rcond);
    if (info < 0) return lpi_error(ctx, LP_ERR_INTERNAL, "dpocon: argument %d", (int)-info);
    if (!(rcond >= LDA_RCOND_MIN))
        return lpi_error(ctx, LP_ERR_LINALG,
                         "Fisher LDA: the within-class covariance is ill-conditioned (reciprocal condition "
                         "number %.2g after scaling): features are nearly linearly dependent within classes; %s",
                         rcond, shrink_hint);
    return LP_OK;
}

/* Rows b_r of B (nrhs x D, row-major) := Sw^-1 b_r, from check_within's factor:
 * Sw^-1 = diag(d) C^-1 diag(d). */
static lp_status sw_solve(lp_ctx *ctx, const double *L, const double *d, int64_t D, double *B, int64_t nrhs) {
    for (int64_t r = 0; r < nrhs; r++)
        for (int64_t j = 0; j < D; j++) B[r * D + j] *= d[j];
    lapack_int info = LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', (lapack_int)D, (lapack_int)nrhs, L, (lapack_int)D, B,
                                     (lapack_int)D);
    if (info) return lpi_error(ctx, LP_ERR_INTERNAL, "dpotrs: %d", (int)info);
    for (int64_t r = 0; r < nrhs; r++)
        for (int64_t j = 0; j < D; j++) B[r * D + j] *= d[j];
    return LP_OK;
}

/* ---- fit ---- */

static lp_status check_opts(lp_ctx *ctx, const lp_lda_opts *o) {
    if ((int)o->shrinkage_kind < 0 || o->shrinkage_kind >= LP_LDA_SHRINKAGE_COUNT)
        return lpi_error(ctx, LP_ERR_VALUE, "Fisher LDA: unknown shrinkage kind %d", (int)o->shrinkage_kind);
    if (o->shrinkage_kind == LP_LDA_SHRINKAGE_FIXED && !(o->shrinkage >= 0 && o->shrinkage <= 1))
        return lpi_error(ctx, LP_ERR_VALUE, "Fisher LDA: shrinkage must be in [0, 1], got %g", o->shrinkage);
    if (o->n_components < 0)
        return lpi_error(ctx, LP_ERR_VALUE, "Fisher LDA: n_components must be >= 0, got %d", o->n_components);
    if (o->priors && o->n_priors <= 0)
        return lpi_error(ctx, LP_ERR_VALUE, "Fisher LDA: priors given with n_priors = %d", o->n_priors);
    for (int k = 0; o->priors && k < o->n_priors; k++)
        if (!(o->priors[k] >= 0) || isinf(o->priors[k]))
            return lpi_error(ctx, LP_ERR_VALUE, "Fisher LDA: priors must be non-negative and finite (prior %d is %g)", k,
                             o->priors[k]);
    return LP_OK;
}

lp_status lpi_da_check_inputs(lp_ctx *ctx, const char *who, lp_array *X, lp_array *y) {
    char s1[96], s2[96];
    if (X->ndim != 2)
        return lpi_error(ctx, LP_ERR_SHAPE, "%s: X must be 2-D (samples, features), got shape %s", who,
                         lpi_shape_str(s1, sizeof s1, X->ndim, X->shape));
    if (y->ndim != 1)
        return lpi_error(ctx, LP_ERR_SHAPE, "%s: y must be 1-D (samples,), got shape %s", who,
                         lpi_shape_str(s2, sizeof s2, y->ndim, y->shape));
    if (lpi_dtype_kind(y->dtype) == LPI_KIND_FLOAT)
        return lpi_error(ctx, LP_ERR_TYPE, "%s: labels must be bool or integers, got %s", who, lp_dtype_name(y->dtype));
    if (y->shape[0] != X->shape[0])
        return lpi_error(ctx, LP_ERR_SHAPE, "%s: X has %lld samples but y has %lld labels", who,
                         (long long)X->shape[0], (long long)y->shape[0]);
    if (X->shape[0] < 2)
        return lpi_error(ctx, LP_ERR_VALUE, "%s: found %lld sample(s) while a minimum of 2 is required", who,
                         (long long)X->shape[0]);
    if (X->shape[1] < 1) return lpi_error(ctx, LP_ERR_VALUE, "%s: X has no features", who);
    return LP_OK;
}

lp_status lpi_da_float_X(lp_ctx *ctx, lp_array *X, lp_array **out) {
    if (X->dtype == LP_FLOAT64 || X->dtype == LP_FLOAT32) {
        lp_array_retain(X);
        *out = X;
        return LP_OK;
    }
    return lp_astype(ctx, X, LP_FLOAT64, out);
}

lp_status lpi_da_classes(lp_ctx *ctx, const char *who, lp_array *y, int64_t N, lp_array **labels, lp_buffer **lb,
                         int64_t *K_out, lp_array **classes) {
    lp_status st = lpi_lda_labels_node(ctx, y, labels);
    if (!st) st = run_one(ctx, *labels, lb);
    if (st) return st;
    const int64_t *L = lp_buffer_data(*lb), K = L[0];
    if (K > LPI_LDA_MAX_CLASSES)
        return lpi_error(ctx, LP_ERR_LIMIT, "%s: y has more than %d distinct labels (%s supports at most %d classes)", who,
                         LPI_LDA_MAX_CLASSES, who, LPI_LDA_MAX_CLASSES);
    if (K < 2)
        return lpi_error(ctx, LP_ERR_VALUE, "%s: y has a single class (label %lld); at least 2 classes are needed", who,
                         (long long)L[1]);
    if (N == K) return lpi_error(ctx, LP_ERR_VALUE, "%s: the number of samples must be more than the number of classes", who);
    *K_out = K;
    return lpi_const_array(ctx, LP_INT64, 1, &K, L + 1, classes);
}

lp_status lpi_da_stats(lp_ctx *ctx, const char *who, lp_array *Xf, lp_array *y, lp_array *classes, int64_t K,
                       lp_array **node, lp_buffer **sb) {
    const int64_t D = Xf->shape[1];
    /* every task in flight holds one state of K (1 + D + D^2) doubles */
    if ((double)K * (double)(1 + D + D * D) * 8 > (double)(512 << 20))
        return lpi_error(ctx, LP_ERR_LIMIT, "%s: %lld classes x %lld features need %.2f GiB of statistics per task "
                         "(at most 0.5 GiB)", who, (long long)K, (long long)D, (double)K * (double)(1 + D + D * D) * 8 / (1 << 30));
    lp_status st = lpi_lda_stats_node(ctx, Xf, y, classes, node);
    if (!st) st = run_one(ctx, *node, sb);
    if (st) return st;
    double *S = lp_buffer_data(*sb);
    double *M2 = S + K + K * D;
    for (int64_t k = 0; k < K; k++) {
        double *M = M2 + k * D * D;
        for (int64_t i = 0; i < D; i++)
            for (int64_t j = 0; j < i; j++) M[i * D + j] = M[j * D + i];
    }
    for (int64_t i = 0; i < K + K * D; i++)
        if (!isfinite(S[i])) return lpi_error(ctx, LP_ERR_VALUE, "%s: X contains NaN or infinity", who);
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < D; j++)
            if (!isfinite(M2[k * D * D + j * D + j]))
                return lpi_error(ctx, LP_ERR_VALUE, "%s: X contains NaN or infinity (or values whose squares overflow)", who);
    return LP_OK;
}

typedef struct fit_ws {
    lp_array *Xf, *labels, *classes, *stats, *lwn, *lwp;
    lp_buffer *lb, *sb, *qb;
    double *buf;  /* scratch, freed at the end */
    lp_lda_model *md;
} fit_ws;

static void fit_ws_free(fit_ws *w) {
    lp_array_release(w->Xf);
    lp_array_release(w->labels);
    lp_array_release(w->classes);
    lp_array_release(w->stats);
    lp_array_release(w->lwn);
    lp_array_release(w->lwp);
    lp_buffer_release(w->lb);
    lp_buffer_release(w->sb);
    lp_buffer_release(w->qb);
    lp_free(w->buf);
    lp_lda_model_destroy(w->md);
}

/* Pass 3 (shrinkage "auto"): per class and overall, sum over rows of ||(x - mean) / scale||^4. */
static lp_status fit_lw(lp_ctx *ctx, fit_ws *w, lp_array *y, int64_t K, int64_t D, const double *cnt,
                        const double *mean, const double *M2, double N, const double *tmean, const double *tM2,
                        double *sc) {
    double *p = lp_malloc((size_t)((K + 1) * 2 * D) * sizeof *p);
    if (!p) return lpi_nomem(ctx);
    for (int64_t k = 0; k <= K; k++) {
        const double *mu = k < K ? mean + k * D : tmean, *M = k < K ? M2 + k * D * D : tM2;
        double n = k < K ? cnt[k] : N;
        lw_scales(M, mu, n, D, sc);
        memcpy(p + k * 2 * D, mu, (size_t)D * sizeof *p);
        for (int64_t j = 0; j < D; j++) p[k * 2 * D + D + j] = 1.0 / (sc[j] * sc[j]);
    }
    int64_t shape[2] = {K + 1, 2 * D};
    lp_status st = lpi_const_array(ctx, LP_FLOAT64, 2, shape, p, &w->lwp);
    lp_free(p);
    if (!st) st = lpi_lda_lw_node(ctx, w->Xf, y, w->classes, w->lwp, &w->lwn);
    if (!st) st = run_one(ctx, w->lwn, &w->qb);
    return st;
}

lp_status lp_fisher_lda_fit(lp_ctx *ctx, lp_array *X, lp_array *y, const lp_lda_opts *opts_in,
                            lp_lda_model **out) {
    if (!ctx) return LP_ERR_VALUE;
    if (!out) return lpi_error(ctx, LP_ERR_VALUE, "lp_fisher_lda_fit: out is NULL");
    *out = NULL;
    if (!X || !y) return lpi_error(ctx, LP_ERR_VALUE, "lp_fisher_lda_fit: X and y are required");
    lp_lda_opts o;
    memset(&o, 0, sizeof o);
    if (opts_in) o = *opts_in;
    lp_status st;
    if ((st = lpi_da_check_inputs(ctx, "Fisher LDA", X, y)) || (st = check_opts(ctx, &o))) return st;
    lpi_lda_blas_init();
    const int64_t N = X->shape[0], D = X->shape[1];
    fit_ws w;
    memset(&w, 0, sizeof w);
    int64_t K = 0;
    if ((st = lpi_da_float_X(ctx, X, &w.Xf)) ||
        (st = lpi_da_classes(ctx, "Fisher LDA", y, N, &w.labels, &w.lb, &K, &w.classes)))
        goto done;
    const int64_t mmax = K - 1 < D ? K - 1 : D;
    if (o.n_components > mmax) {
        st = lpi_error(ctx, LP_ERR_VALUE,
                       "Fisher LDA: n_components (%d) cannot be larger than min(n_features, n_classes - 1) = %lld",
                       o.n_components, (long long)mmax);
        goto done;
    }
    if (o.priors && o.n_priors != K) {
        st = lpi_error(ctx, LP_ERR_VALUE, "Fisher LDA: %d priors given for %lld classes", o.n_priors, (long long)K);
        goto done;
    }
    /* pass 2: per class count, mean, centered scatter */
    if ((st = lpi_da_stats(ctx, "Fisher LDA", w.Xf, y, w.classes, K, &w.stats, &w.sb))) goto done;
    double *S = lp_buffer_data(w.sb);
    double *cnt = S, *mean = S + K, *M2 = S + K + K * D;

    const int64_t m = o.n_components ? o.n_components : mmax, C = K == 2 ? 1 : K, DD = D * D;
    if (!(w.md = lpi_lda_model_new(K, D, m, C))) { st = lpi_nomem(ctx); goto done; }
    lp_lda_model *md = w.md;
    md->n_samples = N;
    md->label_dtype = y->dtype;
    md->shrinkage_kind = o.shrinkage_kind;
    md->shrinkage = o.shrinkage_kind == LP_LDA_SHRINKAGE_FIXED ? o.shrinkage : 0;
    memcpy(md->classes, (const int64_t *)lp_buffer_data(w.lb) + 1, (size_t)K * sizeof(int64_t));
    memcpy(md->means, mean, (size_t)(K * D) * sizeof(double));
    double psum = 0;
    for (int64_t k = 0; k < K; k++) psum += md->priors[k] = o.priors ? o.priors[k] : cnt[k] / (double)N;
    if (fabs(psum - 1.0) > 1e-5)
        for (int64_t k = 0; k < K; k++) md->priors[k] /= psum;

    /* scratch: total mean, total M2, Sw, St, one group's covariance, eigen work */
    if (!(w.buf = lp_malloc((size_t)(7 * DD + 5 * D + 3 * K * D + K + 1) * sizeof(double)))) { st = lpi_nomem(ctx); goto done; }
    double *tM2 = w.buf, *Sw = tM2 + DD, *St = Sw + DD, *cov = St + DD, *A = cov + DD, *B = A + DD, *Lf = B + DD;
    double *tmean = Lf + DD, *sc = tmean + D, *evals = sc + D, *dsc = evals + D, *dwork = dsc + D;
    double *R = dwork + D + K + 1; /* [2K][D] right-hand sides */
    /* the total scatter from the classes' (Chan's merge again): M2 = sum M2_k + n_k d_k d_k^T */
    for (int64_t j = 0; j < D; j++) {
        double s = 0;
        for (int64_t k = 0; k < K; k++) s += cnt[k] * mean[k * D + j];
        tmean[j] = s / (double)N;
    }
    memset(tM2, 0, (size_t)DD * sizeof *tM2);
    for (int64_t k = 0; k < K; k++) {
        for (int64_t i = 0; i < DD; i++) tM2[i] += M2[k * DD + i];
        for (int64_t j = 0; j < D; j++) dwork[j] = mean[k * D + j] - tmean[j];
        cblas_dsyr(CblasRowMajor, CblasUpper, (int)D, cnt[k], dwork, 1, tM2, (int)D);
    }
    for (int64_t i = 0; i < D; i++)
        for (int64_t j = 0; j < i; j++) tM2[i * D + j] = tM2[j * D + i];

    const double *q = NULL;
    if (o.shrinkage_kind == LP_LDA_SHRINKAGE_AUTO) {
        if ((st = fit_lw(ctx, &w, y, K, D, cnt, mean, M2, (double)N, tmean, tM2, sc))) goto done;
        q = lp_buffer_data(w.qb);
    }
    memset(Sw, 0, (size_t)DD * sizeof *Sw);
    for (int64_t k = 0; k < K; k++) {
        group_cov(M2 + k * DD, mean + k * D, cnt[k], D, o.shrinkage_kind, o.shrinkage, q ? q[k] : 0, sc, cov);
        for (int64_t i = 0; i < DD; i++) Sw[i] += md->priors[k] * cov[i];
    }
    group_cov(tM2, tmean, (double)N, D, o.shrinkage_kind, o.shrinkage, q ? q[K] : 0, sc, St);
    memcpy(md->covariance, Sw, (size_t)DD * sizeof *Sw);
    /* Without shrinkage, a feature constant within every class makes Sw singular even when
     * rounding left its variances a hair above zero: the bound is the two-pass algorithm's
     * error (scikit-learn's _is_constant_feature) */
    bool *constant = NULL;
    if (o.shrinkage_kind == LP_LDA_SHRINKAGE_NONE || (o.shrinkage_kind == LP_LDA_SHRINKAGE_FIXED && o.shrinkage == 0)) {
        if (!(constant = lp_malloc((size_t)D * sizeof *constant))) { st = lpi_nomem(ctx); goto done; }
        for (int64_t j = 0; j < D; j++) {
            constant[j] = true;
            for (int64_t k = 0; k < K && constant[j]; k++)
                constant[j] = constant_feature(M2[k * DD + j * D + j] / cnt[k], mean[k * D + j], cnt[k]);
        }
    }
    st = check_within(ctx, Sw, D, constant, Lf, dsc);
    lp_free(constant);
    if (st) goto done;

    /* Sb v = lambda Sw v; the matrices are symmetric, so row or column order is the same */
    for (int64_t i = 0; i < DD; i++) { A[i] = St[i] - Sw[i]; B[i] = Sw[i]; }
    lapack_int info = LAPACKE_dsygvd(LAPACK_COL_MAJOR, 1, 'V', 'L', (lapack_int)D, A, (lapack_int)D, B,
                                     (lapack_int)D, evals);
    if (info > D) {
        st = lpi_error(ctx, LP_ERR_LINALG, "Fisher LDA: the within-class covariance is not positive definite "
                       "(leading minor of order %d); %s", (int)(info - D), shrink_hint);
        goto done;
    }
    if (info > 0) { st = lpi_error(ctx, LP_ERR_LINALG, "Fisher LDA: the eigenvalue solver did not converge (dsygvd %d)", (int)info); goto done; }
    if (info < 0) { st = lpi_error(ctx, LP_ERR_INTERNAL, "dsygvd: argument %d", (int)-info); goto done; }
    /* descending eigenvalues; column c of scalings_ is eigenvector D-1-c (A is column-major) */
    double esum = 0;
    for (int64_t j = 0; j < D; j++) esum += evals[j];
    for (int64_t c = 0; c < D; c++) {
        const double *v = A + (D - 1 - c) * D;
        for (int64_t i = 0; i < D; i++) md->scalings[i * D + c] = v[i];
    }
    /* np.sort(evals / sum(evals))[::-1]: with shrinkage Sb is indefinite, the sum may be
     * negative and then the largest ratios are those of the most negative eigenvalues */
    for (int64_t j = 0; j < D; j++) dwork[j] = evals[j] / esum;
    for (int64_t c = 0; c < m; c++) {
        int64_t best = c;
        for (int64_t j = c + 1; j < D; j++)
            if (dwork[j] > dwork[best]) best = j;
        double t = dwork[c]; dwork[c] = dwork[best]; dwork[best] = t;
        md->evr[c] = dwork[c];
    }
    /* coef_ = means_ V V^T = means_ Sw^-1 (V is Sw-orthonormal), solved with Sw's factor rather
     * than formed from V: the same in exact arithmetic, a little more accurate */
    memcpy(md->center, tmean, (size_t)D * sizeof *tmean);
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < D; j++) {
            R[k * D + j] = mean[k * D + j];
            R[(K + k) * D + j] = mean[k * D + j] - tmean[j];
        }
    if (K == 2)
        for (int64_t j = 0; j < D; j++) R[j] = mean[D + j] - mean[j]; /* binary: w = Sw^-1 (mu_1 - mu_0) */
    if ((st = sw_solve(ctx, Lf, dsc, D, R, 2 * K))) goto done;
    double *Rc = R + K * D; /* Sw^-1 (mu_k - center) */
    if (K == 2) {
        /* scikit-learn's binary rule: coef_1 - coef_0 and intercept_1 - intercept_0, which are
         * w and -1/2 w.(mu_0 + mu_1) + log(p_1 / p_0) */
        memcpy(md->coef, R, (size_t)D * sizeof *R);
        memcpy(md->pcoef, R, (size_t)D * sizeof *R);
        const double lr = log(md->priors[1]) - log(md->priors[0]);
        double s = 0, sc2 = 0;
        for (int64_t j = 0; j < D; j++) {
            s += R[j] * (mean[j] + mean[D + j]);
            sc2 += R[j] * ((mean[j] - tmean[j]) + (mean[D + j] - tmean[j]));
        }
        md->intercept[0] = -0.5 * s + lr;
        md->pintercept[0] = -0.5 * sc2 + lr;
    } else {
        memcpy(md->coef, R, (size_t)(K * D) * sizeof *R);
        memcpy(md->pcoef, Rc, (size_t)(K * D) * sizeof *R);
        for (int64_t k = 0; k < K; k++) {
            const double lp = log(md->priors[k]);
            double s = 0, sc2 = 0;
            for (int64_t j = 0; j < D; j++) {
                s += mean[k * D + j] * R[k * D + j];
                sc2 += (mean[k * D + j] - tmean[j]) * Rc[k * D + j];
            }
            md->intercept[k] = -0.5 * s + lp;
            md->pintercept[k] = -0.5 * sc2 + lp;
        }
    }
    *out = md;
    w.md = NULL;
done:
    fit_ws_free(&w);
    return st;
}

/* ---- predict, transform, decision_function ---- */

static lp_status check_predict_X(lp_ctx *ctx, const lp_lda_model *m, lp_array *X, const char *what, lp_array **Xf) {
    char s[96];
    if (!ctx) return LP_ERR_VALUE;
    if (!m || !X) return lpi_error(ctx, LP_ERR_VALUE, "%s: model and X are required", what);
    if (X->ndim != 2)
        return lpi_error(ctx, LP_ERR_SHAPE, "%s: X must be 2-D (samples, features), got shape %s", what,
                         lpi_shape_str(s, sizeof s, X->ndim, X->shape));
    if (X->shape[1] != m->D)
        return lpi_error(ctx, LP_ERR_SHAPE, "%s: X has %lld features, but the model was fitted on %lld", what,
                         (long long)X->shape[1], (long long)m->D);
    return lpi_da_float_X(ctx, X, Xf);
}

lp_status lp_lda_predict(lp_ctx *ctx, const lp_lda_model *m, lp_array *X, lp_array **out) {
    if (!out) return ctx ? lpi_error(ctx, LP_ERR_VALUE, "lp_lda_predict: out is NULL") : LP_ERR_VALUE;
    *out = NULL;
    lp_array *Xf = NULL, *coef = NULL, *b = NULL, *cls = NULL, *cen = NULL;
    lp_status st = check_predict_X(ctx, m, X, "lp_lda_predict", &Xf);
    if (st) return st;
    int64_t cs[2] = {m->C, m->D};
    if (!(st = lpi_const_array(ctx, LP_FLOAT64, 2, cs, m->pcoef, &coef)) &&
        !(st = lpi_const_array(ctx, LP_FLOAT64, 1, &m->C, m->pintercept, &b)) &&
        !(st = lpi_const_array(ctx, LP_INT64, 1, &m->K, m->classes, &cls)) &&
        !(st = lpi_const_array(ctx, LP_FLOAT64, 1, &m->D, m->center, &cen)))
        st = lpi_lda_predict_node(ctx, Xf, coef, b, cls, cen, m->label_dtype, out);
    lp_array_release(cen);
    lp_array_release(Xf);
    lp_array_release(coef);
    lp_array_release(b);
    lp_array_release(cls);
    return st;
}

/* (X - center) @ W + bias; center NULL: zero */
static lp_status project(lp_ctx *ctx, const lp_lda_model *m, lp_array *X, const char *what, const double *W,
                         int64_t ncols, const double *bias, const double *center, bool flat, lp_array **out) {
    if (!out) return ctx ? lpi_error(ctx, LP_ERR_VALUE, "%s: out is NULL", what) : LP_ERR_VALUE;
    *out = NULL;
    lp_array *Xf = NULL, *Wa = NULL, *ba = NULL, *ca = NULL;
    lp_status st = check_predict_X(ctx, m, X, what, &Xf);
    if (st) return st;
    int64_t ws[2] = {m->D, ncols};
    double *zero = center ? NULL : lp_calloc((size_t)m->D, sizeof *zero);
    if (!center && !zero) st = lpi_nomem(ctx);
    if (!st && !(st = lpi_const_array(ctx, LP_FLOAT64, 2, ws, W, &Wa)) &&
        !(st = lpi_const_array(ctx, LP_FLOAT64, 1, &ncols, bias, &ba)) &&
        !(st = lpi_const_array(ctx, LP_FLOAT64, 1, &m->D, center ? center : zero, &ca)))
        st = lpi_lda_project_node(ctx, Xf, Wa, ba, ca, flat, out);
    lp_free(zero);
    lp_array_release(ca);
    lp_array_release(Xf);
    lp_array_release(Wa);
    lp_array_release(ba);
    return st;
}

lp_status lp_lda_transform(lp_ctx *ctx, const lp_lda_model *m, lp_array *X, lp_array **out) {
    if (!ctx) return LP_ERR_VALUE;
    if (!m) return lpi_error(ctx, LP_ERR_VALUE, "lp_lda_transform: model is NULL");
    const int64_t D = m->D, k = m->m;
    double *W = lp_malloc((size_t)(D * k + k + 1) * sizeof *W);
    if (!W) return lpi_nomem(ctx);
    for (int64_t i = 0; i < D; i++)
        for (int64_t j = 0; j < k; j++) W[i * k + j] = m->scalings[i * D + j];
    memset(W + D * k, 0, (size_t)(k + 1) * sizeof *W);
    lp_status st = project(ctx, m, X, "lp_lda_transform", W, k, W + D * k, NULL, false, out);
    lp_free(W);
    return st;
}

lp_status lp_lda_decision_function(lp_ctx *ctx, const lp_lda_model *m, lp_array *X, lp_array **out) {
    if (!ctx) return LP_ERR_VALUE;
    if (!m) return lpi_error(ctx, LP_ERR_VALUE, "lp_lda_decision_function: model is NULL");
    const int64_t D = m->D, C = m->C;
    double *W = lp_malloc((size_t)(D * C) * sizeof *W);
    if (!W) return lpi_nomem(ctx);
    /* two classes: the log-likelihood ratio, evaluated centered (the same value as
     * X @ coef_.T + intercept_, without its cancellation far from the origin); K classes:
     * scikit-learn's per-class scores as they are defined */
    const double *coef = C == 1 ? m->pcoef : m->coef;
    for (int64_t i = 0; i < D; i++)
        for (int64_t c = 0; c < C; c++) W[i * C + c] = coef[c * D + i];
    lp_status st = C == 1 ? project(ctx, m, X, "lp_lda_decision_function", W, C, m->pintercept, m->center, true, out)
                          : project(ctx, m, X, "lp_lda_decision_function", W, C, m->intercept, NULL, false, out);
    lp_free(W);
    return st;
}

/* ---- attributes ---- */

lp_status lp_lda_attr(lp_ctx *ctx, const lp_lda_model *m, const char *name, lp_buffer **out) {
    if (!ctx) return LP_ERR_VALUE;
    if (!m || !name || !out) return lpi_error(ctx, LP_ERR_VALUE, "lp_lda_attr: model, name and out are required");
    *out = NULL;
    const int64_t K = m->K, D = m->D;
    int64_t sh[2];
    if (strcmp(name, "classes_") == 0) {
        lp_buffer *b = lpi_buffer_new(m->label_dtype, 1, &K);
        if (!b) return lpi_nomem(ctx);
        for (int64_t k = 0; k < K; k++) {
            char *p = (char *)b->data + (size_t)k * lp_dtype_size(m->label_dtype);
            lpi_store_i64(p, m->label_dtype, m->classes[k]);
        }
        *out = b;
        return LP_OK;
    }
    if (strcmp(name, "priors_") == 0) return lp_buffer_create(ctx, LP_FLOAT64, 1, &K, m->priors, out);
    if (strcmp(name, "means_") == 0) { sh[0] = K; sh[1] = D; return lp_buffer_create(ctx, LP_FLOAT64, 2, sh, m->means, out); }
    if (strcmp(name, "coef_") == 0) { sh[0] = m->C; sh[1] = D; return lp_buffer_create(ctx, LP_FLOAT64, 2, sh, m->coef, out); }
    if (strcmp(name, "intercept_") == 0) return lp_buffer_create(ctx, LP_FLOAT64, 1, &m->C, m->intercept, out);
    if (strcmp(name, "scalings_") == 0) { sh[0] = D; sh[1] = D; return lp_buffer_create(ctx, LP_FLOAT64, 2, sh, m->scalings, out); }
    if (strcmp(name, "covariance_") == 0) { sh[0] = D; sh[1] = D; return lp_buffer_create(ctx, LP_FLOAT64, 2, sh, m->covariance, out); }
    if (strcmp(name, "explained_variance_ratio_") == 0) return lp_buffer_create(ctx, LP_FLOAT64, 1, &m->m, m->evr, out);
    return lpi_error(ctx, LP_ERR_NOTFOUND,
                     "lp_lda_attr: no attribute '%s' (classes_, priors_, means_, coef_, intercept_, scalings_, "
                     "explained_variance_ratio_, covariance_)", name);
}
