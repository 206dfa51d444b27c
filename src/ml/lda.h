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

/* Allocate a model with all arrays for the given sizes (zeroed). */
lp_lda_model *lpi_lda_model_new(int64_t K, int64_t D, int64_t m, int64_t C);

#endif
