/* Fisher LDA models on disk: one float64 .npy vector, readable by NumPy as is.
 *
 *   [0]  magic 4998209 ("LDA" as a number)      [1]  format version (1)
 *   [2]  K classes   [3] D features   [4] n_components   [5] C rows of coef_ (1 or K)
 *   [6]  label dtype (lp_dtype number)          [7]  samples fitted on
 *   [8]  shrinkage kind (lp_lda_shrinkage)      [9]  shrinkage value (fixed kind)
 *   [10..15] zero (reserved)
 *   then classes_[K], priors_[K], means_[K][D], coef_[C][D], intercept_[C], scalings_[D][D],
 *   explained_variance_ratio_[n_components], covariance_[D][D], and what predict evaluates:
 *   center[D], pcoef[C][D], pintercept[C] (see ml/lda.h)
 *
 * Labels are stored as float64, exact for |label| <= 2^53 (larger labels cannot be saved). */
#include "ml/lda.h"
#include "io/npy.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#define LDA_MAGIC 4998209.0
#define LDA_VERSION 1
#define LDA_HEADER 16

static int64_t file_values(int64_t K, int64_t D, int64_t m, int64_t C) {
    return LDA_HEADER + 2 * K + K * D + C * D + C + 2 * D * D + m + D + C * D + C;
}

lp_status lp_lda_save(lp_ctx *ctx, const lp_lda_model *md, const char *path) {
    if (!ctx) return LP_ERR_VALUE;
    if (!md || !path) return lpi_error(ctx, LP_ERR_VALUE, "lp_lda_save: model and path are required");
    const int64_t K = md->K, D = md->D, m = md->m, C = md->C;
    int64_t n = file_values(K, D, m, C);
    double *v = lp_calloc((size_t)n, sizeof *v);
    if (!v) return lpi_nomem(ctx);
    double h[LDA_HEADER] = {LDA_MAGIC, LDA_VERSION, (double)K, (double)D, (double)m, (double)C,
                            (double)md->label_dtype, (double)md->n_samples, (double)md->shrinkage_kind,
                            md->shrinkage};
    memcpy(v, h, sizeof h);
    double *p = v + LDA_HEADER;
    for (int64_t k = 0; k < K; k++) {
        if (md->classes[k] > (1LL << 53) || md->classes[k] < -(1LL << 53)) {
            lp_free(v);
            return lpi_error(ctx, LP_ERR_VALUE, "%s: label %lld is too large to be saved exactly (|label| > 2^53)", path,
                             (long long)md->classes[k]);
        }
        *p++ = (double)md->classes[k];
    }
    /* the rest of the model's arrays are contiguous doubles in file order */
    memcpy(p, md->priors, (size_t)(n - LDA_HEADER - K) * sizeof *p);
    lp_status st = lpi_npy_write(ctx, path, LP_FLOAT64, 1, &n, v, NULL);
    lp_free(v);
    return st;
}

static bool is_count(double x, double lo, double hi) { return x >= lo && x <= hi && x == floor(x); }

lp_status lp_lda_load(lp_ctx *ctx, const char *path, lp_lda_model **out) {
    if (!ctx) return LP_ERR_VALUE;
    if (!path || !out) return lpi_error(ctx, LP_ERR_VALUE, "lp_lda_load: path and out are required");
    *out = NULL;
    lpi_src *fd;
    lp_npy_info info;
    lp_status st = lpi_npy_open(ctx, path, &fd, &info);
    if (st) return st;
    double h[LDA_HEADER];
    if (info.dtype != LP_FLOAT64 || info.ndim != 1 || info.shape[0] < LDA_HEADER) {
        lpi_src_close(fd);
        return lpi_error(ctx, LP_ERR_FORMAT, "%s: not a Lampy LDA model (expected a float64 vector)", path);
    }
    if ((st = lpi_npy_read_rows(ctx, fd, &info, 0, LDA_HEADER, h))) { lpi_src_close(fd); return st; }
    if (h[0] != LDA_MAGIC) { lpi_src_close(fd); return lpi_error(ctx, LP_ERR_FORMAT, "%s: not a Lampy LDA model (bad magic)", path); }
    if (h[1] != LDA_VERSION) {
        lpi_src_close(fd);
        return lpi_error(ctx, LP_ERR_FORMAT, "%s: LDA model format version %g is not supported (this is version %d)", path,
                         h[1], LDA_VERSION);
    }
    const char *bad = NULL;
    if (!is_count(h[2], 2, LP_LDA_MAX_CLASSES)) bad = "number of classes";
    else if (!is_count(h[3], 1, 1 << 20)) bad = "number of features";
    else if (!is_count(h[4], 0, fmin(h[2] - 1, h[3]))) bad = "number of components";
    else if (!(h[5] == (h[2] == 2 ? 1 : h[2]))) bad = "rows of coef_";
    else if (!(h[6] >= 0 && h[6] < LP_DTYPE_COUNT && h[6] == floor(h[6]) &&
               lpi_dtype_kind((lp_dtype)(int)h[6]) != LPI_KIND_FLOAT)) bad = "label dtype";
    else if (!is_count(h[7], 0, 9.007199254740992e15)) bad = "sample count";
    else if (!is_count(h[8], 0, LP_LDA_SHRINKAGE_COUNT - 1)) bad = "shrinkage kind";
    if (bad) { lpi_src_close(fd); return lpi_error(ctx, LP_ERR_FORMAT, "%s: invalid LDA model header (%s)", path, bad); }
    const int64_t K = (int64_t)h[2], D = (int64_t)h[3], m = (int64_t)h[4], C = (int64_t)h[5];
    const int64_t n = file_values(K, D, m, C);
    if (info.shape[0] != n) {
        lpi_src_close(fd);
        return lpi_error(ctx, LP_ERR_FORMAT, "%s: LDA model has %lld values, its header says %lld", path,
                         (long long)info.shape[0], (long long)n);
    }
    double *v = lp_malloc((size_t)n * sizeof *v);
    lp_lda_model *md = lpi_lda_model_new(K, D, m, C);
    if (!v || !md) { lpi_src_close(fd); lp_free(v); lp_lda_model_destroy(md); return lpi_nomem(ctx); }
    st = lpi_npy_read_rows(ctx, fd, &info, 0, n, v);
    lpi_src_close(fd);
    if (st) { lp_free(v); lp_lda_model_destroy(md); return st; }
    md->label_dtype = (lp_dtype)(int)h[6];
    md->n_samples = (int64_t)h[7];
    md->shrinkage_kind = (lp_lda_shrinkage)(int)h[8];
    md->shrinkage = h[9];
    const double *p = v + LDA_HEADER;
    for (int64_t k = 0; k < K && !bad; k++) {
        double c = p[k];
        if (!(c == floor(c) && fabs(c) <= 9.007199254740992e15)) bad = "a label is not an integer";
        else if (k && !(c > p[k - 1])) bad = "labels are not sorted and distinct";
        else if (md->label_dtype == LP_BOOL && !(c == 0 || c == 1)) bad = "a bool label is not 0 or 1";
        else if (lpi_dtype_is_int(md->label_dtype)) {
            int64_t lo, hi;
            lpi_int_range(md->label_dtype, &lo, &hi);
            if (!(c >= (double)lo && c <= (double)hi)) bad = "a label is out of its dtype's range";
        }
        md->classes[k] = (int64_t)c;
    }
    memcpy(md->priors, p + K, (size_t)(n - LDA_HEADER - K) * sizeof *v);
    for (int64_t i = LDA_HEADER + K; i < n && !bad; i++)
        if (isnan(v[i])) bad = "NaN in the model";
    lp_free(v);
    if (bad) {
        lp_lda_model_destroy(md);
        return lpi_error(ctx, LP_ERR_FORMAT, "%s: invalid LDA model (%s)", path, bad);
    }
    *out = md;
    return LP_OK;
}
