/* Quadratic and regularized discriminant analysis (Friedman 1989), from the same one pass over
 * X as Fisher LDA: per class count, mean and centered scatter M2_k (kernels/lda.c's lda_stats).
 * The covariance of class k is
 *
 *     S_k   = M2_k / n_k                            scikit-learn's QDA covariance_ (biased)
 *     S     = sum_k priors_k M2_k / n_k             scikit-learn's LDA covariance_ (lsqr/eigen)
 *     C_k   = alpha S_k + (1 - alpha) S             alpha = 1: QDA, alpha = 0: LDA
 *     C_k  := (1 - gamma) C_k + gamma tr(C_k)/D I   shrinkage toward a multiple of I
 *     C_k  := (1 - reg) C_k + reg I                 scikit-learn's QDA reg_param
 *
 * (gamma is scikit-learn's QDA(solver='eigen', shrinkage=gamma) for alpha 1) and the rule is Gaussian: argmax_k -1/2 (x - mu_k)' C_k^-1 (x - mu_k) - 1/2 log|C_k| + log
 * priors_k, computed as scikit-learn's QDA does, from the eigendecomposition C_k = R_k diag(s_k)
 * R_k': ||(x - mu_k) R_k diag(s_k)^-1/2||^2. With alpha = 0 the covariance is common, so the
 * rule is LDA's linear one; with alpha = 1, gamma = reg = 0 it is QDA's.
 *
 * predict is lazy and chunked: per class a matmul of the centered rows with its whitening
 * matrix, squared and summed by a fused reduction; argmax over the classes. */
#include "ml/lda.h"
#include "expr/expr.h"
#include "kernels/lda.h"

#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

struct lp_rda_model {
    int64_t K, D, n_samples;
    lp_dtype label_dtype;
    double alpha, gamma, reg;
    int64_t *classes;   /* [K] */
    double *priors;     /* [K] */
    double *means;      /* [K][D] */
    double *cov;        /* [K][D][D] the covariances the rule uses */
    double *rot;        /* [K][D][D] eigenvectors as columns, eigenvalues descending */
    double *scal;       /* [K][D] eigenvalues, descending */
    double *logdet;     /* [K] */
    double *center;     /* [D] the mean of the training data (rows are centered first) */
    double *data;
};

static const char WHO[] = "RDA";

void lp_rda_model_destroy(lp_rda_model *m) {
    if (!m) return;
    lp_free(m->data);
    lp_free(m);
}

int64_t lp_rda_n_classes(const lp_rda_model *m) { return m ? m->K : 0; }
int64_t lp_rda_n_features(const lp_rda_model *m) { return m ? m->D : 0; }

static lp_rda_model *model_new(int64_t K, int64_t D) {
    lp_rda_model *m = lp_calloc(1, sizeof *m);
    if (!m) return NULL;
    size_t n = (size_t)(K + K + K * D + 3 * K * D * D + K * D + K + D);
    if (!(m->data = lp_calloc(n, sizeof(double)))) { lp_free(m); return NULL; }
    m->K = K;
    m->D = D;
    double *p = m->data;
    m->classes = (int64_t *)p; p += K;
    m->priors = p; p += K;
    m->means = p; p += K * D;
    m->cov = p; p += K * D * D;
    m->rot = p; p += K * D * D;
    m->scal = p; p += K * D;
    m->logdet = p; p += K;
    m->center = p;
    return m;
}

static lp_status check_opts(lp_ctx *ctx, const lp_rda_opts *o) {
    if (!(o->alpha >= 0 && o->alpha <= 1)) return lpi_error(ctx, LP_ERR_VALUE, "%s: alpha must be in [0, 1], got %g", WHO, o->alpha);
    if (!(o->gamma >= 0 && o->gamma <= 1)) return lpi_error(ctx, LP_ERR_VALUE, "%s: gamma must be in [0, 1], got %g", WHO, o->gamma);
    if (!(o->reg_param >= 0 && o->reg_param <= 1))
        return lpi_error(ctx, LP_ERR_VALUE, "%s: reg_param must be in [0, 1], got %g", WHO, o->reg_param);
    if (o->priors && o->n_priors <= 0) return lpi_error(ctx, LP_ERR_VALUE, "%s: priors given with n_priors = %d", WHO, o->n_priors);
    for (int k = 0; o->priors && k < o->n_priors; k++)
        if (!(o->priors[k] >= 0) || isinf(o->priors[k]))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: priors must be non-negative and finite (prior %d is %g)", WHO, k, o->priors[k]);
    return LP_OK;
}

/* The covariances, their eigendecompositions and log-determinants (model fields). */
static lp_status class_covariances(lp_ctx *ctx, lp_rda_model *m, const double *cnt, const double *M2, const lp_rda_opts *o) {
    const int64_t K = m->K, D = m->D, DD = D * D;
    double *pooled = lp_calloc((size_t)DD, sizeof *pooled), *w = lp_malloc((size_t)D * sizeof *w);
    if (!pooled || !w) { lp_free(pooled); lp_free(w); return lpi_nomem(ctx); }
    for (int64_t k = 0; k < K; k++)
        for (int64_t i = 0; i < DD; i++) pooled[i] += m->priors[k] * M2[k * DD + i] / cnt[k];
    lp_status st = LP_OK;
    for (int64_t k = 0; k < K && !st; k++) {
        double *C = m->cov + k * DD, *R = m->rot + k * DD;
        if (o->alpha > 0 && cnt[k] < 2) {
            st = lpi_error(ctx, LP_ERR_VALUE, "%s: class %lld has %g sample(s); its covariance is ill defined (alpha = 0 "
                           "uses the pooled covariance only)", WHO, (long long)m->classes[k], cnt[k]);
            break;
        }
        for (int64_t i = 0; i < DD; i++)
            C[i] = (o->alpha > 0 ? o->alpha * M2[k * DD + i] / cnt[k] : 0) + (1 - o->alpha) * pooled[i];
        if (o->gamma > 0) {
            double tr = 0;
            for (int64_t j = 0; j < D; j++) tr += C[j * D + j];
            for (int64_t i = 0; i < DD; i++) C[i] *= 1 - o->gamma;
            for (int64_t j = 0; j < D; j++) C[j * D + j] += o->gamma * tr / (double)D;
        }
        if (o->reg_param > 0) {
            for (int64_t i = 0; i < DD; i++) C[i] *= 1 - o->reg_param;
            for (int64_t j = 0; j < D; j++) C[j * D + j] += o->reg_param;
        }
        memcpy(R, C, (size_t)DD * sizeof *R);
        lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)D, R, (lapack_int)D, w);
        if (info) { st = lpi_error(ctx, LP_ERR_LINALG, "%s: eigendecomposition of class %lld's covariance failed (%d)", WHO,
                                   (long long)m->classes[k], (int)info); break; }
        /* descending, as scikit-learn's scalings_ */
        for (int64_t a = 0, b = D - 1; a < b; a++, b--) {
            double t = w[a]; w[a] = w[b]; w[b] = t;
            for (int64_t i = 0; i < D; i++) { t = R[i * D + a]; R[i * D + a] = R[i * D + b]; R[i * D + b] = t; }
        }
        double ld = 0;
        for (int64_t j = 0; j < D; j++) {
            if (!(w[j] > 1e-13 * w[0]) || !(w[0] > 0)) {
                st = lpi_error(ctx, LP_ERR_LINALG, "%s: the covariance of class %lld is singular (variables are collinear "
                               "within the class); regularize with gamma or reg_param > 0", WHO, (long long)m->classes[k]);
                break;
            }
            m->scal[k * D + j] = w[j];
            ld += log(w[j]);
        }
        m->logdet[k] = ld;
    }
    lp_free(pooled);
    lp_free(w);
    return st;
}

lp_status lp_rda_fit(lp_ctx *ctx, lp_array *X, lp_array *y, const lp_rda_opts *opts_in, lp_rda_model **out) {
    if (!ctx) return LP_ERR_VALUE;
    if (!out) return lpi_error(ctx, LP_ERR_VALUE, "lp_rda_fit: out is NULL");
    *out = NULL;
    if (!X || !y) return lpi_error(ctx, LP_ERR_VALUE, "lp_rda_fit: X and y are required");
    lp_rda_opts o = {.alpha = 1};
    if (opts_in) o = *opts_in;
    lp_status st;
    if ((st = lpi_da_check_inputs(ctx, WHO, X, y)) || (st = check_opts(ctx, &o))) return st;
    lpi_lda_blas_init();
    const int64_t N = X->shape[0], D = X->shape[1];
    lp_array *Xf = NULL, *labels = NULL, *classes = NULL, *stats = NULL;
    lp_buffer *lb = NULL, *sb = NULL;
    lp_rda_model *m = NULL;
    int64_t K = 0;
    if ((st = lpi_da_float_X(ctx, X, &Xf)) || (st = lpi_da_classes(ctx, WHO, y, N, &labels, &lb, &K, &classes))) goto done;
    if (o.priors && o.n_priors != K) {
        st = lpi_error(ctx, LP_ERR_VALUE, "%s: %d priors given for %lld classes", WHO, o.n_priors, (long long)K);
        goto done;
    }
    if ((st = lpi_da_stats(ctx, WHO, Xf, y, classes, K, &stats, &sb))) goto done;
    if (!(m = model_new(K, D))) { st = lpi_nomem(ctx); goto done; }
    const double *S = lp_buffer_data(sb), *cnt = S, *mean = S + K, *M2 = S + K + K * D;
    memcpy(m->classes, (const int64_t *)lp_buffer_data(lb) + 1, (size_t)K * sizeof *m->classes);
    memcpy(m->means, mean, (size_t)(K * D) * sizeof *m->means);
    m->n_samples = N;
    m->label_dtype = y->dtype;
    m->alpha = o.alpha;
    m->gamma = o.gamma;
    m->reg = o.reg_param;
    double psum = 0;
    for (int64_t k = 0; k < K; k++) psum += o.priors ? o.priors[k] : cnt[k];
    if (!(psum > 0)) { st = lpi_error(ctx, LP_ERR_VALUE, "%s: the priors sum to 0", WHO); goto done; }
    for (int64_t k = 0; k < K; k++) m->priors[k] = (o.priors ? o.priors[k] : cnt[k]) / psum;
    for (int64_t j = 0; j < D; j++) {
        double s = 0;
        for (int64_t k = 0; k < K; k++) s += cnt[k] * mean[k * D + j];
        m->center[j] = s / (double)N;
    }
    if ((st = class_covariances(ctx, m, cnt, M2, &o))) goto done;
    *out = m;
    m = NULL;
done:
    lp_rda_model_destroy(m);
    lp_array_release(Xf);
    lp_array_release(labels);
    lp_array_release(classes);
    lp_array_release(stats);
    lp_buffer_release(lb);
    lp_buffer_release(sb);
    return st;
}

/* ---- the lazy rule ---- */

static lp_status check_X(lp_ctx *ctx, const lp_rda_model *m, const lp_array *X) {
    char s[96];
    if (X->ndim != 2 || X->shape[1] != m->D)
        return lpi_error(ctx, LP_ERR_SHAPE, "%s: X must have shape (n_samples, %lld), got %s", WHO, (long long)m->D,
                         lpi_shape_str(s, sizeof s, X->ndim, X->shape));
    return LP_OK;
}

/* (N, K): -1/2 Mahalanobis distance - 1/2 log|C_k| + log priors_k. Per class one matmul of
 * the centered rows with the class's whitening matrix, whose result a fused reduction squares
 * and sums, so no (N, K D) intermediate is made. */
static lp_status scores(lp_ctx *ctx, const lp_rda_model *m, lp_array *X, lp_array **out) {
    const int64_t K = m->K, D = m->D;
    lp_status st = check_X(ctx, m, X);
    if (st) return st;
    double *W = lp_malloc((size_t)(D * D + D + K) * sizeof *W), *bias = W + D * D, *cst = bias + D;
    lp_array **dk = lp_calloc((size_t)K, sizeof *dk);
    if (!W || !dk) { lp_free(W); lp_free(dk); return lpi_nomem(ctx); }
    int64_t ws[2] = {D, D};
    int ax = 1;
    lp_array *Xf = NULL, *c = NULL, *xc = NULL, *ca = NULL, *st2 = NULL, *h = NULL, *dh = NULL;
    if (!(st = lpi_da_float_X(ctx, X, &Xf)) && !(st = lpi_const_array(ctx, LP_FLOAT64, 1, &D, m->center, &c)))
        st = lp_binary(ctx, "subtract", Xf, c, &xc);
    for (int64_t k = 0; k < K && !st; k++) {
        for (int64_t j = 0; j < D; j++) {
            double f = 1.0 / sqrt(m->scal[k * D + j]), b = 0;
            for (int64_t i = 0; i < D; i++) {
                double wij = m->rot[k * D * D + i * D + j] * f;
                W[i * D + j] = wij;
                b += (m->means[k * D + i] - m->center[i]) * wij;
            }
            bias[j] = b;
        }
        cst[k] = -0.5 * m->logdet[k] + log(m->priors[k]);
        lp_array *Wa = NULL, *ba = NULL, *z = NULL, *zb = NULL, *z2 = NULL;
        if (!(st = lpi_const_array(ctx, LP_FLOAT64, 2, ws, W, &Wa)) && !(st = lpi_const_array(ctx, LP_FLOAT64, 1, &D, bias, &ba)) &&
            !(st = lp_matmul(ctx, xc, Wa, &z)) && !(st = lp_binary(ctx, "subtract", z, ba, &zb)) &&
            !(st = lp_binary(ctx, "multiply", zb, zb, &z2)))
            st = lp_reduce(ctx, "sum", z2, &ax, 1, false, &dk[k]);
        lp_array *tmp[] = {Wa, ba, z, zb, z2};
        for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) lp_array_release(tmp[i]);
    }
    if (!st && !(st = lpi_const_array(ctx, LP_FLOAT64, 1, &K, cst, &ca)) && !(st = lp_stack(ctx, (int)K, dk, 1, &st2)) &&
        !(st = lp_scalar_array(ctx, lp_scalar_f(-0.5), &h)) && !(st = lp_binary(ctx, "multiply", st2, h, &dh)))
        st = lp_binary(ctx, "add", dh, ca, out);
    lp_free(W);
    for (int64_t k = 0; k < K; k++) lp_array_release(dk[k]);
    lp_free(dk);
    lp_array *all[] = {Xf, c, xc, ca, st2, h, dh};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) lp_array_release(all[i]);
    return st;
}

lp_status lp_rda_decision_function(lp_ctx *ctx, const lp_rda_model *m, lp_array *X, lp_array **out) {
    *out = NULL;
    lp_array *s;
    lp_status st = scores(ctx, m, X, &s);
    if (st || m->K > 2) { if (!st) *out = s; return st; }
    /* two classes: the log-likelihood ratio of the second (scikit-learn's convention) */
    lp_index i0[2] = {{LP_IDX_SLICE, false, false, 0, 0, 1}, {LP_IDX_INT, false, false, 0, 0, 0}}, i1[2];
    memcpy(i1, i0, sizeof i1);
    i1[1].start = 1;
    lp_array *a = NULL, *b = NULL;
    if (!(st = lp_slice(ctx, s, 2, i1, &a)) && !(st = lp_slice(ctx, s, 2, i0, &b))) st = lp_binary(ctx, "subtract", a, b, out);
    lp_array_release(a);
    lp_array_release(b);
    lp_array_release(s);
    return st;
}

lp_status lp_rda_predict(lp_ctx *ctx, const lp_rda_model *m, lp_array *X, lp_array **out) {
    *out = NULL;
    const int64_t K = m->K;
    int ax = 1;
    lp_array *s = NULL, *idx = NULL;
    lp_status st = scores(ctx, m, X, &s);
    if (!st) st = lp_reduce(ctx, "argmax", s, &ax, 1, false, &idx);
    bool arange = true;
    for (int64_t k = 0; k < K; k++) arange &= m->classes[k] == k;
    if (!st && arange) {
        st = lp_astype(ctx, idx, m->label_dtype, out);
    } else if (!st) {
        /* labels[argmax]: sum_k (idx == k) * label_k */
        int64_t ks[2] = {1, K};
        lp_array *ar = NULL, *ar2 = NULL, *cl = NULL, *ix = NULL, *eq = NULL, *pr = NULL, *sm = NULL;
        lp_index sl[2] = {{LP_IDX_SLICE, false, false, 0, 0, 1}, {LP_IDX_NEWAXIS, false, false, 0, 0, 0}};
        if (!(st = lp_arange(ctx, 0, (double)K, 1, LP_INT64, &ar)) && !(st = lp_reshape(ctx, ar, 2, ks, &ar2)) &&
            !(st = lpi_const_array(ctx, LP_INT64, 2, ks, m->classes, &cl)) && !(st = lp_slice(ctx, idx, 2, sl, &ix)) &&
            !(st = lp_binary(ctx, "equal", ix, ar2, &eq)) && !(st = lp_binary(ctx, "multiply", eq, cl, &pr)) &&
            !(st = lp_reduce(ctx, "sum", pr, &ax, 1, false, &sm)))
            st = lp_astype(ctx, sm, m->label_dtype, out);
        lp_array *all[] = {ar, ar2, cl, ix, eq, pr, sm};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) lp_array_release(all[i]);
    }
    lp_array_release(s);
    lp_array_release(idx);
    return st;
}

lp_status lp_rda_attr(lp_ctx *ctx, const lp_rda_model *m, const char *name, lp_buffer **out) {
    *out = NULL;
    const int64_t K = m->K, D = m->D;
    if (!name) return lpi_error(ctx, LP_ERR_VALUE, "lp_rda_attr: NULL name");
    if (!strcmp(name, "classes_")) {
        lp_status st = lp_buffer_create(ctx, m->label_dtype, 1, &K, NULL, out);
        if (st) return st;
        for (int64_t k = 0; k < K; k++) {
            void *p = lp_buffer_data(*out);
            lpi_store_i64((char *)p + k * (int64_t)lp_dtype_size(m->label_dtype), m->label_dtype, m->classes[k]);
        }
        return LP_OK;
    }
    int64_t s3[3] = {K, D, D};
    if (!strcmp(name, "priors_")) return lp_buffer_create(ctx, LP_FLOAT64, 1, &K, m->priors, out);
    if (!strcmp(name, "means_")) return lp_buffer_create(ctx, LP_FLOAT64, 2, s3, m->means, out);
    if (!strcmp(name, "covariance_")) return lp_buffer_create(ctx, LP_FLOAT64, 3, s3, m->cov, out);
    if (!strcmp(name, "rotations_")) return lp_buffer_create(ctx, LP_FLOAT64, 3, s3, m->rot, out);
    if (!strcmp(name, "scalings_")) return lp_buffer_create(ctx, LP_FLOAT64, 2, s3, m->scal, out);
    return lpi_error(ctx, LP_ERR_NOTFOUND, "%s has no attribute '%.40s' (classes_, priors_, means_, covariance_, rotations_, "
                     "scalings_)", WHO, name);
}
