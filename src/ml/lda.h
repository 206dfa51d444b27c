/* Fisher LDA's model (private layout), shared by lda.c (fit, predict) and lda_io.c (save/load). */
#ifndef LP_ML_LDA_H
#define LP_ML_LDA_H

#include "core/core.h"

struct lp_lda_model {
    int64_t K, D;          /* classes, features */
    int64_t m;             /* n_components: columns of transform's output */
    int64_t C;             /* rows of coef_: 1 for two classes (scikit-learn's binary rule), else K */
    int64_t n_samples;
    lp_dtype label_dtype;  /* classes_ is returned in y's dtype */
    lp_lda_shrinkage shrinkage_kind;
    double shrinkage;
    /* one allocation, in this order (also the order of the saved file's sections) */
    int64_t *classes;      /* [K] sorted */
    double *priors;        /* [K] */
    double *means;         /* [K][D] */
    double *coef;          /* [C][D] */
    double *intercept;     /* [C] */
    double *scalings;      /* [D][D] row-major; column j is the j-th discriminant direction */
    double *evr;           /* [m] explained_variance_ratio_ */
    double *covariance;    /* [D][D] within-class covariance (shrunk as asked) */
    /* what predict evaluates: argmax_k (x - center) . pcoef_k + pintercept_k, the same scores
     * as x . coef_k + intercept_k up to a term common to all classes, without the cancellation
     * of large coef_ and intercept_ when the data sit far from the origin */
    double *center;        /* [D] the mean of the training data */
    double *pcoef;         /* [C][D] */
    double *pintercept;    /* [C] */
    double *data;
};

/* A small constant array (the data copied). */
lp_status lpi_const_array(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, const void *data, lp_array **out);
/* The passes discriminant analyses share (lda.c; rda.c uses them too). who prefixes messages. */
lp_status lpi_da_check_inputs(lp_ctx *ctx, const char *who, lp_array *X, lp_array *y);
/* X as a float array (other dtypes cast lazily to float64, as scikit-learn converts them). */
lp_status lpi_da_float_X(lp_ctx *ctx, lp_array *X, lp_array **out);
/* Pass 1: the sorted distinct labels (labels: the node, lb: its result; classes: an int64 array
 * of the K labels). */
lp_status lpi_da_classes(lp_ctx *ctx, const char *who, lp_array *y, int64_t N, lp_array **labels, lp_buffer **lb,
                         int64_t *K, lp_array **classes);
/* Pass 2: per class count, mean and centered scatter (kernels/lda.h layout; the scatter made
 * symmetric), checked for NaN and infinity. */
lp_status lpi_da_stats(lp_ctx *ctx, const char *who, lp_array *Xf, lp_array *y, lp_array *classes, int64_t K,
                       lp_array **node, lp_buffer **sb);

/* Allocate a model with all arrays for the given sizes (zeroed). */
lp_lda_model *lpi_lda_model_new(int64_t K, int64_t D, int64_t m, int64_t C);

#endif
