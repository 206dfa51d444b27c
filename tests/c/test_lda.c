/* Fisher LDA against scikit-learn's LinearDiscriminantAnalysis(solver='eigen'), whose outputs
 * are stored in tests/data/lda (tests/data/gen_lda.py): attributes to rounding, directions to a
 * cosine > 0.999999, identical predictions; the chunked fit independent of the thread count;
 * clear errors for singular, ill-conditioned and invalid inputs. */
#include "lampy.h"
#include "lpt.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static lp_ctx *ctx;
static char dir[1024];

static const char *path_of(const char *cs, const char *file) {
    static char p[1200];
    snprintf(p, sizeof p, "%s/lda/%s/%s", lpt_data_dir(), cs, file);
    return p;
}

static bool exists(const char *cs, const char *file) { return access(path_of(cs, file), R_OK) == 0; }

/* A computed .npy file (NULL on failure, reported). */
static lp_buffer *load_buf(const char *cs, const char *file) {
    lp_array *a;
    lp_buffer *b = NULL;
    if (lp_load(ctx, path_of(cs, file), &a) != LP_OK) {
        fprintf(stderr, "cannot load %s: %s\n", path_of(cs, file), lp_last_error(ctx));
        lpt_fail_++;
        return NULL;
    }
    if (lp_run(ctx, &a, 1, &b) != LP_OK) { lpt_fail_++; b = NULL; }
    lp_array_release(a);
    return b;
}

static double maxabs(const double *v, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fabs(v[i]) > m ? fabs(v[i]) : m;
    return m;
}

/* max |a - b| / max(|b|) */
static double relerr(const double *a, const double *b, int64_t n) {
    double e = 0, s = maxabs(b, n);
    for (int64_t i = 0; i < n; i++) e = fabs(a[i] - b[i]) > e ? fabs(a[i] - b[i]) : e;
    return s > 0 ? e / s : e;
}

static lp_buffer *attr(lp_lda_model *m, const char *name) {
    lp_buffer *b = NULL;
    LPT_OK(ctx, lp_lda_attr(ctx, m, name, &b));
    return b;
}

static lp_buffer *run_lazy(lp_status st, lp_array *a) {
    lp_buffer *b = NULL;
    if (st != LP_OK) { fprintf(stderr, "build: %s\n", lp_last_error(ctx)); lpt_fail_++; return NULL; }
    if (lp_run(ctx, &a, 1, &b) != LP_OK) { fprintf(stderr, "run: %s\n", lp_last_error(ctx)); lpt_fail_++; }
    lp_array_release(a);
    return b;
}

static bool same_bytes(const lp_buffer *a, const lp_buffer *b) {
    return a && b && lp_buffer_dtype(a) == lp_buffer_dtype(b) && lp_buffer_size(a) == lp_buffer_size(b) &&
           memcmp(lp_buffer_data(a), lp_buffer_data(b), lp_buffer_nbytes(a)) == 0;
}

typedef struct lcase {
    const char *name;
    lp_lda_shrinkage kind;
    double shrinkage;
    const double *priors;
    int npriors;
    int ncomp;
    lp_status expect;     /* LP_OK, or the error */
    const char *msg[2];   /* substrings of the error message */
} lcase;

static const double priors3[3] = {0.2, 0.5, 0.3};

static const lcase cases[] = {
    {"bin", LP_LDA_SHRINKAGE_NONE, 0, NULL, 0, 0, LP_OK, {0}},
    {"bin_labels_i32_shrink", LP_LDA_SHRINKAGE_FIXED, 0.3, NULL, 0, 0, LP_OK, {0}},
    {"bool", LP_LDA_SHRINKAGE_NONE, 0, NULL, 0, 0, LP_OK, {0}},
    {"multi", LP_LDA_SHRINKAGE_NONE, 0, NULL, 0, 0, LP_OK, {0}},
    {"multi_auto", LP_LDA_SHRINKAGE_AUTO, 0, NULL, 0, 0, LP_OK, {0}},
    {"bin_auto", LP_LDA_SHRINKAGE_AUTO, 0, NULL, 0, 0, LP_OK, {0}},
    {"multi_priors", LP_LDA_SHRINKAGE_NONE, 0, priors3, 3, 1, LP_OK, {0}},
    {"f32", LP_LDA_SHRINKAGE_NONE, 0, NULL, 0, 0, LP_OK, {0}},
    {"offset", LP_LDA_SHRINKAGE_NONE, 0, NULL, 0, 0, LP_OK, {0}},
    {"const", LP_LDA_SHRINKAGE_NONE, 0, NULL, 0, 0, LP_ERR_LINALG, {"feature 2 is constant", "shrinkage"}},
    {"const_auto", LP_LDA_SHRINKAGE_AUTO, 0, NULL, 0, 0, LP_OK, {0}},
    {"collinear", LP_LDA_SHRINKAGE_NONE, 0, NULL, 0, 0, LP_ERR_LINALG, {"linear", "shrinkage"}},
    {"collinear_auto", LP_LDA_SHRINKAGE_AUTO, 0, NULL, 0, 0, LP_OK, {0}},
    {"one_feature", LP_LDA_SHRINKAGE_AUTO, 0, NULL, 0, 0, LP_OK, {0}},
    {"wide", LP_LDA_SHRINKAGE_FIXED, 0.05, NULL, 0, 0, LP_OK, {0}},
};

static lp_lda_opts opts_of(const lcase *c) {
    lp_lda_opts o;
    memset(&o, 0, sizeof o);
    o.shrinkage_kind = c->kind;
    o.shrinkage = c->shrinkage;
    o.priors = c->priors;
    o.n_priors = c->npriors;
    o.n_components = c->ncomp;
    return o;
}

static void check_predictions(lp_lda_model *m, lp_array *Xa, const char *cs, const char *ref) {
    lp_array *p;
    lp_status st = lp_lda_predict(ctx, m, Xa, &p);
    lp_buffer *got = run_lazy(st, p), *want = load_buf(cs, ref);
    LPT_CHECKF(same_bytes(got, want), "%s: predictions differ from scikit-learn's (%s)", cs, ref);
    if (got && want && !same_bytes(got, want) && lp_buffer_nbytes(got) == lp_buffer_nbytes(want)) {
        int64_t nd = 0, esz = (int64_t)lp_dtype_size(lp_buffer_dtype(got));
        for (int64_t i = 0; i < lp_buffer_size(got); i++)
            nd += memcmp((char *)lp_buffer_data(got) + i * esz, (char *)lp_buffer_data(want) + i * esz, (size_t)esz) != 0;
        fprintf(stderr, "  %lld of %lld differ\n", (long long)nd, (long long)lp_buffer_size(got));
    }
    lp_buffer_release(got);
    lp_buffer_release(want);
}

static void check_case(const lcase *c) {
    const char *cs = c->name;
    lp_array *X, *y, *Xt;
    LPT_OK(ctx, lp_load(ctx, path_of(cs, "X.npy"), &X));
    LPT_OK(ctx, lp_load(ctx, path_of(cs, "y.npy"), &y));
    LPT_OK(ctx, lp_load(ctx, path_of(cs, "Xt.npy"), &Xt));
    lp_lda_opts o = opts_of(c);
    lp_lda_model *m = NULL;
    lp_status st = lp_fisher_lda_fit(ctx, X, y, &o, &m);
    if (c->expect != LP_OK) {
        LPT_CHECKF(st == c->expect, "%s: expected %s, got %s (%s)", cs, lp_status_str(c->expect), lp_status_str(st),
                   lp_last_error(ctx));
        for (int k = 0; k < 2 && c->msg[k]; k++)
            LPT_CHECKF(strstr(lp_last_error(ctx), c->msg[k]) != NULL, "%s: message '%s' lacks '%s'", cs,
                       lp_last_error(ctx), c->msg[k]);
        LPT_CHECKF(exists(cs, "error.txt"), "%s: scikit-learn did not fail either", cs);
        LPT_CHECK(m == NULL);
        goto out;
    }
    LPT_CHECKF(st == LP_OK, "%s: fit failed: %s", cs, lp_last_error(ctx));
    if (st != LP_OK) goto out;
    lp_buffer *cl = attr(m, "classes_"), *rcl = load_buf(cs, "classes.npy");
    LPT_CHECKF(same_bytes(cl, rcl), "%s: classes_", cs);
    lp_buffer_release(cl);
    lp_buffer_release(rcl);
    static const struct { const char *attr, *file; double tol; } num[] = {
        {"priors_", "priors.npy", 1e-12},         {"means_", "means.npy", 1e-9},
        {"coef_", "coef.npy", 1e-6},              {"intercept_", "intercept.npy", 1e-6},
        {"explained_variance_ratio_", "evr.npy", 1e-7},
    };
    for (size_t k = 0; k < sizeof num / sizeof *num; k++) {
        lp_buffer *a = attr(m, num[k].attr), *r = load_buf(cs, num[k].file);
        if (!a || !r) { lp_buffer_release(a); lp_buffer_release(r); continue; }
        LPT_CHECKF(lp_buffer_size(a) == lp_buffer_size(r), "%s: %s has %lld values, scikit-learn %lld", cs, num[k].attr,
                   (long long)lp_buffer_size(a), (long long)lp_buffer_size(r));
        if (lp_buffer_size(a) == lp_buffer_size(r)) {
            double e = relerr(lp_buffer_data(a), lp_buffer_data(r), lp_buffer_size(a));
            LPT_CHECKF(e <= num[k].tol, "%s: %s relative error %.3g > %.1g", cs, num[k].attr, e, num[k].tol);
        }
        lp_buffer_release(a);
        lp_buffer_release(r);
    }
    /* the discriminant directions, one by one (eigenvectors are defined up to sign) */
    lp_buffer *S = attr(m, "scalings_"), *rS = load_buf(cs, "scalings.npy");
    const int64_t D = lp_lda_n_features(m), nc = lp_lda_n_components(m);
    if (S && rS && lp_buffer_size(S) == D * D && lp_buffer_size(rS) == D * D) {
        const double *a = lp_buffer_data(S), *b = lp_buffer_data(rS);
        for (int64_t c2 = 0; c2 < nc; c2++) {
            double ab = 0, aa = 0, bb = 0;
            for (int64_t i = 0; i < D; i++) {
                ab += a[i * D + c2] * b[i * D + c2];
                aa += a[i * D + c2] * a[i * D + c2];
                bb += b[i * D + c2] * b[i * D + c2];
            }
            double cosv = fabs(ab) / sqrt(aa * bb);
            LPT_CHECKF(cosv > 0.999999, "%s: component %lld cosine %.9f", cs, (long long)c2, cosv);
            /* scalings_ are Sw-normalized like scipy's eigh(Sb, Sw): the same length too */
            LPT_CHECKF(fabs(sqrt(aa / bb) - 1) < 1e-6, "%s: component %lld length ratio %.9f", cs, (long long)c2,
                       sqrt(aa / bb));
        }
    } else {
        LPT_CHECKF(0, "%s: scalings_ shape", cs);
    }
    lp_buffer_release(S);
    lp_buffer_release(rS);
    check_predictions(m, X, cs, "pred.npy");
    check_predictions(m, Xt, cs, "predt.npy");
    /* transform (up to each component's sign) and decision_function */
    lp_array *t;
    lp_status st2 = lp_lda_transform(ctx, m, Xt, &t);
    lp_buffer *T = run_lazy(st2, t), *rT = load_buf(cs, "transform.npy");
    if (T && rT && lp_buffer_size(T) == lp_buffer_size(rT) && lp_buffer_ndim(T) == 2) {
        const int64_t n = lp_buffer_shape(T)[0], k = lp_buffer_shape(T)[1];
        const double *a = lp_buffer_data(T), *b = lp_buffer_data(rT);
        double worst = 0, scale = maxabs(b, n * k);
        for (int64_t j = 0; j < k; j++) {
            double sgn = 0;
            for (int64_t i = 0; i < n && sgn == 0; i++) sgn = a[i * k + j] * b[i * k + j] >= 0 ? 1 : -1;
            for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(a[i * k + j] - sgn * b[i * k + j]));
        }
        LPT_CHECKF(worst <= 1e-6 * scale, "%s: transform error %.3g (scale %.3g)", cs, worst, scale);
    } else {
        LPT_CHECKF(0, "%s: transform shape", cs);
    }
    lp_buffer_release(T);
    lp_buffer_release(rT);
    lp_array *dfa;
    st2 = lp_lda_decision_function(ctx, m, Xt, &dfa);
    /* where scikit-learn's own scores cancel (data far from the origin), an extended-precision
     * reference */
    lp_buffer *F = run_lazy(st2, dfa),
              *rF = load_buf(cs, exists(cs, "decision_exact.npy") ? "decision_exact.npy" : "decision.npy");
    LPT_CHECKF(F && rF && lp_buffer_size(F) == lp_buffer_size(rF) && lp_buffer_ndim(F) == lp_buffer_ndim(rF) &&
                   relerr(lp_buffer_data(F), lp_buffer_data(rF), lp_buffer_size(F)) < 1e-6,
               "%s: decision_function", cs);
    lp_buffer_release(F);
    lp_buffer_release(rF);
    /* save + load: the same model, the same predictions */
    char mp[1100];
    snprintf(mp, sizeof mp, "%s/model_%s.npy", dir, cs);
    LPT_OK(ctx, lp_lda_save(ctx, m, mp));
    lp_lda_model *m2 = NULL;
    LPT_OK(ctx, lp_lda_load(ctx, mp, &m2));
    if (m2) {
        static const char *names[] = {"classes_", "priors_", "means_", "coef_", "intercept_", "scalings_",
                                      "explained_variance_ratio_", "covariance_"};
        for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
            lp_buffer *a = attr(m, names[k]), *b = attr(m2, names[k]);
            LPT_CHECKF(same_bytes(a, b), "%s: %s after save/load", cs, names[k]);
            lp_buffer_release(a);
            lp_buffer_release(b);
        }
        check_predictions(m2, Xt, cs, "predt.npy");
    }
    unlink(mp);
    lp_lda_model_destroy(m2);
    lp_lda_model_destroy(m);
out:
    lp_array_release(X);
    lp_array_release(y);
    lp_array_release(Xt);
}

static void test_sklearn_cases(void) {
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int f0 = lpt_fail_;
        check_case(&cases[i]);
        if (lpt_fail_ != f0) fprintf(stderr, "  in case %s\n", cases[i].name);
    }
}

/* The same chunking gives the same bits whatever the thread count; another chunking agrees to
 * rounding (Chan's merges in a different tree). */
static void test_chunking(void) {
    lp_array *X, *y;
    LPT_OK(ctx, lp_load(ctx, path_of("multi", "X.npy"), &X));
    LPT_OK(ctx, lp_load(ctx, path_of("multi", "y.npy"), &y));
    lp_buffer *coef[4] = {0};
    const int threads[4] = {1, 2, 3, 0};
    const size_t chunk[4] = {4096, 4096, 4096, 0};
    for (int r = 0; r < 4; r++) {
        LPT_OK(ctx, lp_ctx_set_threads(ctx, threads[r]));
        LPT_OK(ctx, lp_ctx_set_chunk_bytes(ctx, chunk[r]));
        lp_lda_model *m = NULL;
        LPT_OK(ctx, lp_fisher_lda_fit(ctx, X, y, NULL, &m));
        if (r == 0) {
            lp_run_stats s;
            lp_last_run_stats(ctx, &s);
            LPT_CHECKF(s.tasks > 20, "small chunks: only %lld tasks", (long long)s.tasks);
        }
        if (m) coef[r] = attr(m, "coef_");
        lp_lda_model_destroy(m);
    }
    LPT_CHECK(same_bytes(coef[0], coef[1]));
    LPT_CHECK(same_bytes(coef[0], coef[2]));
    if (coef[0] && coef[3])
        LPT_CHECK(relerr(lp_buffer_data(coef[0]), lp_buffer_data(coef[3]), lp_buffer_size(coef[0])) < 1e-10);
    for (int r = 0; r < 4; r++) lp_buffer_release(coef[r]);
    LPT_OK(ctx, lp_ctx_set_threads(ctx, 0));
    LPT_OK(ctx, lp_ctx_set_chunk_bytes(ctx, 0));
    lp_array_release(X);
    lp_array_release(y);
}

/* Labels far apart (not a small range, not 0..K-1) give the model of the relabelled data. */
static void test_sparse_labels(void) {
    lp_array *X, *y0;
    LPT_OK(ctx, lp_load(ctx, path_of("multi_auto", "X.npy"), &X));
    LPT_OK(ctx, lp_load(ctx, path_of("multi_auto", "y.npy"), &y0));   /* 0..4 */
    lp_buffer *yb = NULL;
    LPT_OK(ctx, lp_run(ctx, &y0, 1, &yb));
    if (!yb) return;
    const int64_t n = lp_buffer_size(yb), map[5] = {-(1LL << 40), -3, 5, 1LL << 50, INT64_MAX};
    int64_t *lab = malloc((size_t)n * sizeof *lab);
    for (int64_t i = 0; i < n; i++) lab[i] = map[((int64_t *)lp_buffer_data(yb))[i]];
    lp_array *y1;
    LPT_OK(ctx, lp_wrap(ctx, lab, LP_INT64, 1, &n, NULL, NULL, NULL, &y1));
    LPT_OK(ctx, lp_ctx_set_chunk_bytes(ctx, 8192));
    lp_lda_model *a = NULL, *b = NULL;
    LPT_OK(ctx, lp_fisher_lda_fit(ctx, X, y0, NULL, &a));
    LPT_OK(ctx, lp_fisher_lda_fit(ctx, X, y1, NULL, &b));
    if (a && b) {
        lp_buffer *ca = attr(a, "coef_"), *cb = attr(b, "coef_"), *cl = attr(b, "classes_");
        LPT_CHECK(same_bytes(ca, cb));
        LPT_CHECK(cl && lp_buffer_size(cl) == 5 && memcmp(lp_buffer_data(cl), map, sizeof map) == 0);
        lp_buffer_release(ca);
        lp_buffer_release(cb);
        lp_buffer_release(cl);
        /* predictions come back in the original labels */
        lp_array *p;
        lp_status st = lp_lda_predict(ctx, b, X, &p);
        lp_buffer *pb = run_lazy(st, p);
        int64_t bad = 0;
        for (int64_t i = 0; pb && i < n; i++) {
            int64_t v = ((int64_t *)lp_buffer_data(pb))[i];
            bad += v != map[0] && v != map[1] && v != map[2] && v != map[3] && v != map[4];
        }
        LPT_CHECK(pb && bad == 0);
        char mp[1100];
        snprintf(mp, sizeof mp, "%s/model_sparse.npy", dir);
        LPT_CHECK(lp_lda_save(ctx, b, mp) == LP_ERR_VALUE); /* INT64_MAX is not exact in float64 */
        lp_buffer_release(pb);
    }
    LPT_OK(ctx, lp_ctx_set_chunk_bytes(ctx, 0));
    lp_lda_model_destroy(a);
    lp_lda_model_destroy(b);
    lp_array_release(y1);
    free(lab);
    lp_buffer_release(yb);
    lp_array_release(X);
    lp_array_release(y0);
}

static lp_array *wrap_copy(lp_dtype dt, int nd, const int64_t *shape, const void *data) {
    lp_buffer *b;
    lp_array *a = NULL;
    if (lp_buffer_create(ctx, dt, nd, shape, data, &b) == LP_OK) {
        lp_from_buffer(ctx, b, &a);
        lp_buffer_release(b);
    }
    return a;
}

static void expect_fit(lp_array *X, lp_array *y, const lp_lda_opts *o, lp_status want, const char *msg) {
    lp_lda_model *m = (lp_lda_model *)1;
    lp_status st = lp_fisher_lda_fit(ctx, X, y, o, &m);
    LPT_CHECKF(st == want, "expected %s, got %s: %s", lp_status_str(want), lp_status_str(st), lp_last_error(ctx));
    LPT_CHECKF(strstr(lp_last_error(ctx), msg) != NULL, "message '%s' lacks '%s'", lp_last_error(ctx), msg);
    LPT_CHECK(m == NULL);
}

static void test_errors(void) {
    enum { N = 3000, D = 3 };
    static double x[N * D];
    static int64_t lab[N];
    static double fl[N];
    for (int i = 0; i < N * D; i++) x[i] = sin(i * 0.37) + cos(i * 1.91);
    int64_t sx[2] = {N, D}, sy = N, sy2 = N - 1;
    lp_array *X = wrap_copy(LP_FLOAT64, 2, sx, x);
    /* 1024 classes is the most; one more is a clear error */
    for (int i = 0; i < N; i++) lab[i] = (i % 1024) * 3 - 7;
    lp_array *y = wrap_copy(LP_INT64, 1, &sy, lab);
    lp_lda_model *big = NULL;
    LPT_OK(ctx, lp_fisher_lda_fit(ctx, X, y, NULL, &big));
    LPT_CHECK(lp_lda_n_classes(big) == 1024 && lp_lda_n_components(big) == 3);
    lp_lda_model_destroy(big);
    lp_array_release(y);
    for (int i = 0; i < N; i++) lab[i] = i % 1025;
    y = wrap_copy(LP_INT64, 1, &sy, lab);
    expect_fit(X, y, NULL, LP_ERR_LIMIT, "at most 1024 classes");
    lp_array_release(y);
    for (int i = 0; i < N; i++) lab[i] = (int64_t)i << 40; /* all distinct, far apart */
    y = wrap_copy(LP_INT64, 1, &sy, lab);
    expect_fit(X, y, NULL, LP_ERR_LIMIT, "at most 1024 classes");
    lp_array_release(y);
    /* one class */
    for (int i = 0; i < N; i++) lab[i] = 7;
    y = wrap_copy(LP_INT64, 1, &sy, lab);
    expect_fit(X, y, NULL, LP_ERR_VALUE, "single class (label 7)");
    lp_array_release(y);
    /* float labels, wrong length */
    y = wrap_copy(LP_FLOAT64, 1, &sy, fl);
    expect_fit(X, y, NULL, LP_ERR_TYPE, "bool or integers");
    lp_array_release(y);
    for (int i = 0; i < N; i++) lab[i] = i % 3;
    y = wrap_copy(LP_INT64, 1, &sy2, lab);
    expect_fit(X, y, NULL, LP_ERR_SHAPE, "3000 samples but y has 2999");
    lp_array_release(y);
    y = wrap_copy(LP_INT64, 1, &sy, lab);
    /* options */
    lp_lda_opts o;
    memset(&o, 0, sizeof o);
    o.n_components = 3;
    expect_fit(X, y, &o, LP_ERR_VALUE, "n_components (3) cannot be larger");
    memset(&o, 0, sizeof o);
    o.shrinkage_kind = LP_LDA_SHRINKAGE_FIXED;
    o.shrinkage = 1.5;
    expect_fit(X, y, &o, LP_ERR_VALUE, "shrinkage must be in [0, 1]");
    double pr[2] = {0.5, 0.5};
    memset(&o, 0, sizeof o);
    o.priors = pr;
    o.n_priors = 2;
    expect_fit(X, y, &o, LP_ERR_VALUE, "2 priors given for 3 classes");
    /* a feature constant up to rounding (0.3 and 0.1 * 3 differ in the last bit) */
    static double xc[N * D];
    memcpy(xc, x, sizeof xc);
    for (int i = 0; i < N; i++) xc[i * D + 1] = i % 2 ? 0.3 : 0.1 * 3;
    lp_array *Xc = wrap_copy(LP_FLOAT64, 2, sx, xc);
    expect_fit(Xc, y, NULL, LP_ERR_LINALG, "feature 1 is constant within every class");
    lp_array_release(Xc);
    /* NaN */
    x[5] = NAN;
    lp_array *Xn = wrap_copy(LP_FLOAT64, 2, sx, x);
    expect_fit(Xn, y, NULL, LP_ERR_VALUE, "NaN");
    lp_array_release(Xn);
    /* priors that do not sum to 1 are renormalized, as in scikit-learn */
    x[5] = 0.5;
    lp_array_release(X);
    X = wrap_copy(LP_FLOAT64, 2, sx, x);
    double pr3[3] = {1, 1, 2};
    memset(&o, 0, sizeof o);
    o.priors = pr3;
    o.n_priors = 3;
    lp_lda_model *m = NULL;
    LPT_OK(ctx, lp_fisher_lda_fit(ctx, X, y, &o, &m));
    if (m) {
        lp_buffer *p = attr(m, "priors_");
        LPT_CHECK(p && ((double *)lp_buffer_data(p))[2] == 0.5);
        lp_buffer_release(p);
        lp_buffer *b;
        LPT_CHECK(lp_lda_attr(ctx, m, "nope_", &b) == LP_ERR_NOTFOUND);
        /* predict on data of another width */
        int64_t s4[2] = {2, 4};
        double z[8] = {0};
        lp_array *X4 = wrap_copy(LP_FLOAT64, 2, s4, z), *p4 = NULL;
        LPT_CHECK(lp_lda_predict(ctx, m, X4, &p4) == LP_ERR_SHAPE);
        LPT_CHECK(strstr(lp_last_error(ctx), "X has 4 features, but the model was fitted on 3") != NULL);
        lp_array_release(X4);
        /* no rows: an empty prediction */
        int64_t s0[2] = {0, 3};
        lp_array *X0 = wrap_copy(LP_FLOAT64, 2, s0, z), *p0 = NULL;
        lp_status st0 = lp_lda_predict(ctx, m, X0, &p0);
        lp_buffer *b0 = run_lazy(st0, p0);
        LPT_CHECK(b0 && lp_buffer_size(b0) == 0 && lp_buffer_dtype(b0) == LP_INT64);
        lp_buffer_release(b0);
        lp_array_release(X0);
    }
    lp_lda_model_destroy(m);
    /* not a model */
    lp_lda_model *bad = NULL;
    char p[1200];
    snprintf(p, sizeof p, "%s/lda/bin/X.npy", lpt_data_dir());
    LPT_CHECK(lp_lda_load(ctx, p, &bad) == LP_ERR_FORMAT && bad == NULL);
    lp_array_release(X);
    lp_array_release(y);
}

/* Integer X is cast to float64 (scikit-learn converts it too). */
static void test_int_X(void) {
    enum { N = 400, D = 2 };
    int32_t xi[N * D];
    uint8_t lab[N];
    for (int i = 0; i < N; i++) {
        lab[i] = (uint8_t)(i % 2);
        xi[i * D] = (int32_t)(lab[i] * 3 + (i * 7919) % 5);
        xi[i * D + 1] = (int32_t)((i * 104729) % 11 - lab[i]);
    }
    int64_t sx[2] = {N, D}, sy = N;
    lp_array *X = wrap_copy(LP_INT32, 2, sx, xi), *y = wrap_copy(LP_BOOL, 1, &sy, lab), *Xf, *p;
    lp_lda_model *a = NULL, *b = NULL;
    LPT_OK(ctx, lp_fisher_lda_fit(ctx, X, y, NULL, &a));
    LPT_OK(ctx, lp_astype(ctx, X, LP_FLOAT64, &Xf));
    LPT_OK(ctx, lp_fisher_lda_fit(ctx, Xf, y, NULL, &b));
    if (a && b) {
        lp_buffer *ca = attr(a, "coef_"), *cb = attr(b, "coef_"), *cl = attr(a, "classes_");
        LPT_CHECK(same_bytes(ca, cb));
        LPT_CHECK(cl && lp_buffer_dtype(cl) == LP_BOOL && lp_buffer_size(cl) == 2);
        lp_buffer_release(ca);
        lp_buffer_release(cb);
        lp_buffer_release(cl);
        lp_status st = lp_lda_predict(ctx, a, X, &p);
        lp_buffer *pb = run_lazy(st, p);
        LPT_CHECK(pb && lp_buffer_dtype(pb) == LP_BOOL);
        lp_buffer_release(pb);
    }
    lp_lda_model_destroy(a);
    lp_lda_model_destroy(b);
    lp_array_release(X);
    lp_array_release(Xf);
    lp_array_release(y);
}

int main(void) {
    if (lp_ctx_create(&ctx) != LP_OK) return 1;
    snprintf(dir, sizeof dir, "/tmp/lampy_test_lda_%d", (int)getpid());
    if (mkdir(dir, 0700) != 0) { perror(dir); return 1; }
    LPT_RUN(test_sklearn_cases);
    LPT_RUN(test_chunking);
    LPT_RUN(test_sparse_labels);
    LPT_RUN(test_errors);
    LPT_RUN(test_int_X);
    rmdir(dir);
    lp_ctx_destroy(ctx);
    return lpt_done("lda");
}
