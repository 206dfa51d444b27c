/* `lampy fisher` (fit Fisher's linear discriminant on .npy files) and `lampy predict` (apply a
 * saved model). Both run chunked on the local executor through the public API. */
#include "cli.h"

#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char cli_fisher_help[] =
    "usage: lampy fisher X.npy y.npy [--method lda|qda|rda] [--save MODEL.npy] [--threads T]\n"
    "                    [--chunk-rows R] [--shrinkage none|auto|S] [--n-components N]\n"
    "                    [--alpha A] [--gamma G] [--reg-param R] [--no-accuracy]\n"
    "\n"
    "Fit a discriminant analysis on X (samples x features, float) and y (labels: int or bool,\n"
    "any values), reading X in chunks on all cores:\n"
    "  lda  Fisher's linear discriminant (scikit-learn's LinearDiscriminantAnalysis with\n"
    "       solver='eigen'), the default: prints the discriminant components too\n"
    "  qda  quadratic discriminant analysis (scikit-learn's QuadraticDiscriminantAnalysis;\n"
    "       --shrinkage S and --reg-param R as its shrinkage and reg_param)\n"
    "  rda  Friedman's regularized discriminant analysis: class covariances\n"
    "       alpha S_k + (1 - alpha) S blend QDA (alpha 1) and LDA (alpha 0), shrunk by gamma\n"
    "       toward a multiple of the identity\n"
    "All read X once for the per-class statistics. Prints the classes, the fit time and\n"
    "throughput, and the training accuracy (one more pass over X).\n"
    "\n"
    "Options:\n"
    "  --method M         lda (default), qda or rda\n"
    "  --alpha A          rda: in [0, 1] (default 1)\n"
    "  --gamma G          rda: in [0, 1] (default 0)\n"
    "  --reg-param R      qda, rda: in [0, 1] (default 0)\n"
    "  --save MODEL.npy   lda: write the model (for `lampy predict`, or np.load)\n"
    "  --threads T        worker threads (0 = one per core, the default)\n"
    "  --chunk-rows R     rows of X per task (default: about 4 MiB of X)\n"
    "  --shrinkage S      none (default), auto (Ledoit-Wolf; one more pass over X), or a\n"
    "                     number in [0, 1]\n"
    "  --n-components N   discriminant components to keep (default: classes - 1)\n"
    "  --no-accuracy      skip the training accuracy pass\n"
    CLI_REMOTE_HELP
    "  -h, --help         show this help\n";

const char cli_predict_help[] =
    "usage: lampy predict MODEL.npy X.npy -o YHAT.npy [--threads T] [--chunk-rows R]\n"
    "\n"
    "Predict the class of every row of X with a model saved by `lampy fisher --save`, and\n"
    "write the labels (in the training labels' dtype) to YHAT.npy, chunk by chunk.\n"
    "\n"
    "Options:\n"
    "  -o YHAT.npy        output file (required)\n"
    "  --threads T        worker threads (0 = one per core, the default)\n"
    "  --chunk-rows R     rows of X per task (default: about 4 MiB of X)\n"
    CLI_REMOTE_HELP
    "  -h, --help         show this help\n";

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const char *human(double bytes, char *buf, size_t cap) {
    const char *u[] = {"B", "kB", "MB", "GB", "TB"};
    int k = 0;
    while (bytes >= 1000 && k < 4) { bytes /= 1000; k++; }
    snprintf(buf, cap, k ? "%.2f %s" : "%.0f %s", bytes, u[k]);
    return buf;
}


/* --threads, --chunk-rows and the lambda executor's options: both commands take them. */
#define FISHER_COMMON_OPTS(threads, chunk_rows, remote)                                             \
    {.name = "--threads", .kind = CLI_INT, .dst = threads, .lo = 0, .hi = 1024},                    \
    {.name = "--chunk-rows", .kind = CLI_INT, .dst = chunk_rows, .lo = 1, .hi = (long)1 << 40},     \
    CLI_REMOTE_OPTS(remote)

static int parse_shrinkage(const char *cmd, const char *opt, const char *v, void *dst) {
    lp_lda_opts *o = dst;
    if (strcmp(v, "none") == 0) o->shrinkage_kind = LP_LDA_SHRINKAGE_NONE;
    else if (strcmp(v, "auto") == 0) o->shrinkage_kind = LP_LDA_SHRINKAGE_AUTO;
    else {
        char *end;
        double s = strtod(v, &end);
        if (*end || end == v || !(s >= 0 && s <= 1))
            return cli_usage_error("%s: %s needs none, auto or a number in [0, 1], got '%s'", cmd, opt, v);
        o->shrinkage_kind = LP_LDA_SHRINKAGE_FIXED;
        o->shrinkage = s;
    }
    return 0;
}

/* The allocator keeps freed chunk buffers for the next task instead of unmapping them and
 * faulting fresh zeroed pages in (a tenth of the fit's time on large inputs otherwise). */
static void keep_freed_memory(void) {
    mallopt(M_MMAP_THRESHOLD, 32 << 20); /* glibc's largest allowed value */
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

/* Default rows per task: chunks of about 4 MiB. A chunk is read from the file by one task and
 * consumed by the next while it is still in the cache; with the library's default (up to 16 MiB)
 * it has partly left L3 by then, which costs about 8% of the fit's CPU time (2 cores, 32 MiB L3). */
#define DEFAULT_CHUNK_BYTES (4 << 20)

static lp_status setup(lp_ctx *ctx, long threads, long chunk_rows, lp_array *X) {
    lp_status st = LP_OK;
    if (threads >= 0) st = lp_ctx_set_threads(ctx, (int)threads);
    if (chunk_rows <= 0 && lp_array_ndim(X) == 2) {
        int64_t rowb = lp_array_shape(X)[1] * (int64_t)lp_dtype_size(lp_array_dtype(X));
        chunk_rows = rowb > 0 && DEFAULT_CHUNK_BYTES / rowb > 0 ? DEFAULT_CHUNK_BYTES / rowb : 1;
    }
    if (!st && chunk_rows > 0 && lp_array_ndim(X) == 2) {
        int64_t c[2] = {chunk_rows, 0};
        st = lp_array_set_chunks(ctx, X, 2, c);
    }
    return st;
}

static void print_vec(const double *v, int64_t n, int64_t stride, int64_t show) {
    printf("[");
    for (int64_t j = 0; j < n && j < show; j++) printf("%s% .6g", j ? " " : "", v[j * stride]);
    if (n > show) printf(" ...");
    printf("]");
}

static void print_label(const lp_buffer *cls, int64_t k) {
    const void *d = lp_buffer_data(cls);
    switch (lp_buffer_dtype(cls)) {
    case LP_BOOL: printf("%s", ((const uint8_t *)d)[k] ? "True" : "False"); break;
    case LP_INT32: printf("%d", ((const int32_t *)d)[k]); break;
    default: printf("%lld", (long long)((const int64_t *)d)[k]); break;
    }
}

static int report(lp_ctx *ctx, const lp_lda_model *m, const char *xpath, lp_array *X, double fit_s) {
    const int64_t K = lp_lda_n_classes(m), D = lp_lda_n_features(m), nc = lp_lda_n_components(m);
    const int64_t N = lp_array_shape(X)[0];
    lp_buffer *cls = NULL, *pri = NULL, *sc = NULL, *evr = NULL, *coef = NULL, *icpt = NULL;
    lp_status st;
    if ((st = lp_lda_attr(ctx, m, "classes_", &cls)) || (st = lp_lda_attr(ctx, m, "priors_", &pri)) ||
        (st = lp_lda_attr(ctx, m, "scalings_", &sc)) || (st = lp_lda_attr(ctx, m, "explained_variance_ratio_", &evr)) ||
        (st = lp_lda_attr(ctx, m, "coef_", &coef)) || (st = lp_lda_attr(ctx, m, "intercept_", &icpt))) {
        int rc = cli_lib_error(ctx, st);
        lp_buffer_release(cls); lp_buffer_release(pri); lp_buffer_release(sc);
        lp_buffer_release(evr); lp_buffer_release(coef); lp_buffer_release(icpt);
        return rc;
    }
    const int64_t show = D <= 10 ? D : 8;
    const double *p = lp_buffer_data(pri), *S = lp_buffer_data(sc), *r = lp_buffer_data(evr);
    printf("classes     %lld: ", (long long)K);
    for (int64_t k = 0; k < K && k < 10; k++) { if (k) printf(" "); print_label(cls, k); }
    if (K > 10) printf(" ...");
    printf("   priors ");
    for (int64_t k = 0; k < K && k < 10; k++) printf("%s%.4f", k ? " " : "", p[k]);
    if (K > 10) printf(" ...");
    printf("\n");
    char b1[32], b2[32];
    lp_run_stats rs;
    lp_last_run_stats(ctx, &rs);
    double bytes = (double)N * (double)D * (double)lp_dtype_size(lp_array_dtype(X));
    printf("fit         %.3f s   %.2f M rows/s, %s/s   (%s of %s, %d threads, %lld tasks)\n", fit_s, (double)N / fit_s / 1e6,
           human(bytes / fit_s, b1, sizeof b1), human(bytes, b2, sizeof b2), xpath, rs.threads, (long long)rs.tasks);
    printf("components  %lld%s\n", (long long)nc, D > show ? "   (first entries of each)" : "");
    for (int64_t c = 0; c < nc && c < 10; c++) {
        printf("  %2lld  ratio %-9.4g ", (long long)(c + 1), r[c]);
        print_vec(S + c, D, D, show);
        printf("\n");
    }
    if (nc > 10) printf("  ... %lld more\n", (long long)(nc - 10));
    if (K == 2) {
        printf("rule        class ");
        print_label(cls, 1);
        printf(" if w.x + b > 0   b = %.6g\n  w = Sw^-1 (mu_1 - mu_0) ", ((const double *)lp_buffer_data(icpt))[0]);
        print_vec(lp_buffer_data(coef), D, 1, show);
        printf("\n");
    }
    lp_buffer_release(cls); lp_buffer_release(pri); lp_buffer_release(sc);
    lp_buffer_release(evr); lp_buffer_release(coef); lp_buffer_release(icpt);
    return CLI_EXIT_OK;
}

static int accuracy(lp_ctx *ctx, const lp_lda_model *m, lp_array *X, lp_array *y) {
    lp_array *yhat = NULL, *eq = NULL, *acc = NULL;
    lp_buffer *res = NULL;
    double t0 = now_s();
    lp_status st = lp_lda_predict(ctx, m, X, &yhat);
    if (!st) st = lp_binary(ctx, "equal", yhat, y, &eq);
    if (!st) st = lp_reduce(ctx, "mean", eq, NULL, 0, false, &acc);
    if (!st) st = lp_run(ctx, &acc, 1, &res);
    int rc = CLI_EXIT_OK;
    if (st) rc = cli_lib_error(ctx, st);
    else printf("accuracy    %.6f on the training set   (predict %.3f s)\n", *(double *)lp_buffer_data(res), now_s() - t0);
    lp_buffer_release(res);
    lp_array_release(acc);
    lp_array_release(eq);
    lp_array_release(yhat);
    return rc;
}

static int parse_unit(const char *cmd, const char *opt, const char *v, void *dst) {
    char *end;
    double x = strtod(v, &end);
    if (*end || end == v || !(x >= 0 && x <= 1))
        return cli_usage_error("%s: %s needs a number in [0, 1], got '%s'", cmd, opt, v);
    *(double *)dst = x;
    return 0;
}

static const char *const methods[] = {"lda", "qda", "rda", NULL};

/* qda / rda: fit, the classes, the fit time, the training accuracy */
static int fit_rda(lp_ctx *ctx, lp_array *X, lp_array *y, const char *xpath, const lp_rda_opts *o, bool want_acc) {
    lp_rda_model *m = NULL;
    lp_buffer *cls = NULL, *pri = NULL, *res = NULL;
    lp_array *yhat = NULL, *eq = NULL, *acc = NULL;
    int rc = CLI_EXIT_OK;
    double t0 = now_s();
    lp_status st = lp_rda_fit(ctx, X, y, o, &m);
    double fit_s = now_s() - t0;
    if (!st) st = lp_rda_attr(ctx, m, "classes_", &cls);
    if (!st) st = lp_rda_attr(ctx, m, "priors_", &pri);
    if (st) { rc = cli_lib_error(ctx, st); goto done; }
    const int64_t K = lp_rda_n_classes(m), N = lp_array_shape(X)[0], D = lp_rda_n_features(m);
    printf("classes     %lld: ", (long long)K);
    for (int64_t k = 0; k < K && k < 10; k++) { if (k) printf(" "); print_label(cls, k); }
    printf("%s   priors", K > 10 ? " ..." : "");
    for (int64_t k = 0; k < K && k < 10; k++) printf(" %.4f", ((const double *)lp_buffer_data(pri))[k]);
    printf("%s\n", K > 10 ? " ..." : "");
    printf("model       alpha %g  gamma %g  reg_param %g   (%s)\n", o->alpha, o->gamma, o->reg_param,
           o->alpha == 1 && o->gamma == 0 ? "QDA" : o->alpha == 0 ? "the LDA covariance" : "RDA");
    char b1[32], b2[32];
    lp_run_stats rs;
    lp_last_run_stats(ctx, &rs);
    double bytes = (double)N * (double)D * (double)lp_dtype_size(lp_array_dtype(X));
    printf("fit         %.3f s   %.2f M rows/s, %s/s   (%s of %s, %d threads)\n", fit_s, (double)N / fit_s / 1e6,
           human(bytes / fit_s, b1, sizeof b1), human(bytes, b2, sizeof b2), xpath, rs.threads);
    fflush(stdout);
    if (want_acc) {
        t0 = now_s();
        if ((st = lp_rda_predict(ctx, m, X, &yhat)) || (st = lp_binary(ctx, "equal", yhat, y, &eq)) ||
            (st = lp_reduce(ctx, "mean", eq, NULL, 0, false, &acc)) || (st = lp_run(ctx, &acc, 1, &res))) {
            rc = cli_lib_error(ctx, st);
            goto done;
        }
        printf("accuracy    %.6f on the training set   (predict %.3f s)\n", *(double *)lp_buffer_data(res), now_s() - t0);
    }
done:
    lp_buffer_release(res);
    lp_buffer_release(cls);
    lp_buffer_release(pri);
    lp_array_release(acc);
    lp_array_release(eq);
    lp_array_release(yhat);
    lp_rda_model_destroy(m);
    return rc;
}

int cli_fisher(int argc, char **argv) {
    const char *save = NULL;
    long threads = -1, chunk_rows = 0, ncomp = 0;
    bool no_acc = false, alpha_set = false, gamma_set = false, reg_set = false, shr_set = false;
    int method = 0;
    cli_remote remote = CLI_REMOTE_INIT;
    lp_lda_opts o;
    memset(&o, 0, sizeof o);
    lp_rda_opts ro = {.alpha = 1};
    const cli_opt opts[] = {
        {.name = "--method", .kind = CLI_CHOICE, .dst = &method, .choices = methods},
        {.name = "--alpha", .kind = CLI_FN, .dst = &ro.alpha, .fn = parse_unit, .seen = &alpha_set},
        {.name = "--gamma", .kind = CLI_FN, .dst = &ro.gamma, .fn = parse_unit, .seen = &gamma_set},
        {.name = "--reg-param", .kind = CLI_FN, .dst = &ro.reg_param, .fn = parse_unit, .seen = &reg_set},
        {.name = "--save", .kind = CLI_STR, .dst = &save},
        {.name = "--shrinkage", .kind = CLI_FN, .dst = &o, .fn = parse_shrinkage, .seen = &shr_set},
        {.name = "--n-components", .kind = CLI_INT, .dst = &ncomp, .lo = 1, .hi = LP_LDA_MAX_CLASSES},
        {.name = "--no-accuracy", .kind = CLI_FLAG, .dst = &no_acc},
        FISHER_COMMON_OPTS(&threads, &chunk_rows, &remote),
        {0},
    };
    const char *files[argc > 0 ? argc : 1];
    int nfiles = 0, prc;
    if ((prc = cli_parse_args("fisher", argc, argv, opts, 0, files, &nfiles))) return prc;
    if (nfiles > 2) return cli_usage_error("fisher: too many arguments ('%s'); see 'lampy fisher --help'", files[2]);
    if (nfiles < 2) return cli_usage_error("fisher: needs X.npy and y.npy; see 'lampy fisher --help'");
    o.n_components = (int)ncomp;
    bool want_acc = !no_acc;
    if (method != 0) {
        const char *mn = methods[method];
        if (save) return cli_usage_error("fisher: --save is for --method lda (qda and rda models are not saved)");
        if (ncomp) return cli_usage_error("fisher: --n-components is for --method lda");
        if (method == 1 && (alpha_set || gamma_set))
            return cli_usage_error("fisher: --alpha and --gamma are for --method rda (qda: --shrinkage, --reg-param)");
        if (shr_set && method == 2) return cli_usage_error("fisher: --method rda takes --gamma, not --shrinkage");
        if (shr_set && o.shrinkage_kind == LP_LDA_SHRINKAGE_AUTO)
            return cli_usage_error("fisher: --method %s: --shrinkage takes a number in [0, 1]", mn);
        if (shr_set) ro.gamma = o.shrinkage_kind == LP_LDA_SHRINKAGE_FIXED ? o.shrinkage : 0;
    } else if (alpha_set || gamma_set || reg_set) {
        return cli_usage_error("fisher: --alpha, --gamma and --reg-param are for --method qda and rda");
    }
    keep_freed_memory();
    lp_ctx *ctx;
    lp_status st = lp_ctx_create(&ctx);
    if (st) return cli_error("%s", lp_status_str(st));
    int rrc = cli_remote_apply(ctx, &remote);
    if (rrc) { lp_ctx_destroy(ctx); return rrc; }
    lp_array *X = NULL, *y = NULL;
    lp_lda_model *m = NULL;
    int rc = CLI_EXIT_OK;
    if ((st = lp_load(ctx, files[0], &X)) || (st = lp_load(ctx, files[1], &y)) ||
        (st = setup(ctx, threads, chunk_rows, X))) {
        rc = cli_lib_error(ctx, st);
        goto done;
    }
    char shape[64];
    if (lp_array_ndim(X) == 2)
        snprintf(shape, sizeof shape, "%lld x %lld", (long long)lp_array_shape(X)[0], (long long)lp_array_shape(X)[1]);
    else
        snprintf(shape, sizeof shape, "%d-d", lp_array_ndim(X));
    printf("data        %s: %s %s   %s: %s\n", files[0], shape, lp_dtype_name(lp_array_dtype(X)), files[1],
           lp_dtype_name(lp_array_dtype(y)));
    fflush(stdout);
    if (method != 0) {
        rc = fit_rda(ctx, X, y, files[0], &ro, want_acc);
        goto done;
    }
    double t0 = now_s();
    if ((st = lp_fisher_lda_fit(ctx, X, y, &o, &m))) { rc = cli_lib_error(ctx, st); goto done; }
    double fit_s = now_s() - t0;
    if ((rc = report(ctx, m, files[0], X, fit_s))) goto done;
    fflush(stdout);
    if (want_acc && (rc = accuracy(ctx, m, X, y))) goto done;
    if (save) {
        if ((st = lp_lda_save(ctx, m, save))) { rc = cli_lib_error(ctx, st); goto done; }
        printf("saved       %s\n", save);
    }
done:
    lp_lda_model_destroy(m);
    lp_array_release(X);
    lp_array_release(y);
    lp_ctx_destroy(ctx);
    return rc;
}

int cli_predict(int argc, char **argv) {
    const char *outp = NULL;
    long threads = -1, chunk_rows = 0;
    cli_remote remote = CLI_REMOTE_INIT;
    const cli_opt opts[] = {
        {.name = "--output", .alias = "-o", .kind = CLI_STR, .dst = &outp},
        FISHER_COMMON_OPTS(&threads, &chunk_rows, &remote),
        {0},
    };
    const char *files[argc > 0 ? argc : 1];
    int nfiles = 0, prc;
    if ((prc = cli_parse_args("predict", argc, argv, opts, 0, files, &nfiles))) return prc;
    if (nfiles > 2) return cli_usage_error("predict: too many arguments ('%s'); see 'lampy predict --help'", files[2]);
    if (nfiles < 2 || !outp)
        return cli_usage_error("predict: needs MODEL.npy, X.npy and -o YHAT.npy; see 'lampy predict --help'");
    keep_freed_memory();
    lp_ctx *ctx;
    lp_status st = lp_ctx_create(&ctx);
    if (st) return cli_error("%s", lp_status_str(st));
    int rrc = cli_remote_apply(ctx, &remote);
    if (rrc) { lp_ctx_destroy(ctx); return rrc; }
    lp_lda_model *m = NULL;
    lp_array *X = NULL, *yhat = NULL;
    int rc = CLI_EXIT_OK;
    double t0 = now_s();
    if ((st = lp_lda_load(ctx, files[0], &m)) || (st = lp_load(ctx, files[1], &X)) ||
        (st = setup(ctx, threads, chunk_rows, X)) || (st = lp_lda_predict(ctx, m, X, &yhat)) ||
        (st = lp_save_array(ctx, outp, yhat))) {
        rc = cli_lib_error(ctx, st);
        goto done;
    }
    double dt = now_s() - t0;
    int64_t N = lp_array_shape(X)[0];
    printf("wrote %s (%lld %s labels) in %.3f s (%.2f M rows/s)\n", outp, (long long)N,
           lp_dtype_name(lp_array_dtype(yhat)), dt, dt > 0 ? (double)N / dt / 1e6 : 0.0);
done:
    lp_array_release(yhat);
    lp_array_release(X);
    lp_lda_model_destroy(m);
    lp_ctx_destroy(ctx);
    return rc;
}
