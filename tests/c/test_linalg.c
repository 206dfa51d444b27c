/* Linear algebra: matmul (blocks, k-splitting, syrk, folded transposes), dot/outer/tensordot and
 * numpy.linalg ops against NumPy's results (tests/data/linalg, made by tests/data/gen_linalg.py),
 * over several chunk sizes and 1/2 threads; plus plan-level checks (X.T never materialized, the
 * syrk path chosen, BLAS thread policy), strided and Fortran-ordered operands, allocation failures.
 *
 * Remote mode (tests/integration/test_remote.py): with LP_OPS_EXECUTOR=lambda, LP_OPS_WORKERS
 * and LP_OPS_STORE (as test_ops) only the corpus runs, each case once locally and once on the
 * workers, which must give NumPy's answer and the local run's bits. */
#include "lampy.h"
#include "lpt.h"
#include "plan/plan.h"

#include <cblas.h>
#include <stdint.h>

void lpi_alloc_fail_after(long n); /* core/alloc.c: test hook */

#define MAXIO 4

/* ---- helpers ---- */

static lp_buffer *read_npy(const char *path) {
    lp_ctx *c;
    lp_array *a = NULL;
    lp_buffer *b = NULL;
    if (lp_ctx_create(&c)) return NULL;
    if (lp_load(c, path, &a) == LP_OK) lp_run(c, &a, 1, &b);
    lp_array_release(a);
    lp_ctx_destroy(c);
    return b;
}

static double getd(const lp_buffer *b, int64_t i) {
    const void *d = lp_buffer_data(b);
    switch (lp_buffer_dtype(b)) {
    case LP_BOOL: return ((const uint8_t *)d)[i];
    case LP_INT32: return ((const int32_t *)d)[i];
    case LP_INT64: return (double)((const int64_t *)d)[i];
    case LP_FLOAT32: return ((const float *)d)[i];
    default: return ((const double *)d)[i];
    }
}

static bool same_meta(const lp_buffer *g, const lp_buffer *w, char *why, size_t cap) {
    if (lp_buffer_dtype(g) != lp_buffer_dtype(w)) {
        snprintf(why, cap, "dtype %s, want %s", lp_dtype_name(lp_buffer_dtype(g)), lp_dtype_name(lp_buffer_dtype(w)));
        return false;
    }
    if (lp_buffer_ndim(g) != lp_buffer_ndim(w) ||
        memcmp(lp_buffer_shape(g), lp_buffer_shape(w), (size_t)lp_buffer_ndim(w) * sizeof(int64_t))) {
        snprintf(why, cap, "shape ndim %d, want ndim %d (or a different extent)", lp_buffer_ndim(g), lp_buffer_ndim(w));
        return false;
    }
    return true;
}

/* tol: "exact" or "rel:R" (|got - want| <= R * max(1, max|want|)); evec: columns of the last two
 * axes may differ in sign. */
static bool compare(const lp_buffer *g, const lp_buffer *w, const char *tol, bool evec, char *why, size_t cap) {
    if (!same_meta(g, w, why, cap)) return false;
    const int64_t n = lp_buffer_size(w);
    if (!strcmp(tol, "exact")) {
        if (memcmp(lp_buffer_data(g), lp_buffer_data(w), lp_buffer_nbytes(w))) {
            for (int64_t i = 0; i < n; i++)
                if (getd(g, i) != getd(w, i)) {
                    snprintf(why, cap, "element %lld: %.17g, want %.17g", (long long)i, getd(g, i), getd(w, i));
                    return false;
                }
            snprintf(why, cap, "bytes differ");
            return false;
        }
        return true;
    }
    double r = strtod(tol + 4, NULL), scale = 1;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(getd(w, i)) && fabs(getd(w, i)) > scale) scale = fabs(getd(w, i));
    int64_t m = 1, sign_block = 1;
    if (evec) { m = lp_buffer_shape(w)[lp_buffer_ndim(w) - 1]; sign_block = m * m; }
    for (int64_t i = 0; i < n; i++) {
        double gv = getd(g, i), wv = getd(w, i);
        if (evec) {
            /* sign of column j of this matrix: from its largest reference entry */
            int64_t base = i / sign_block * sign_block, j = i % m, best = base + j;
            for (int64_t k = 0; k < m; k++)
                if (fabs(getd(w, base + k * m + j)) > fabs(getd(w, best))) best = base + k * m + j;
            if ((getd(g, best) < 0) != (getd(w, best) < 0)) gv = -gv;
        }
        bool ok = isfinite(wv) ? fabs(gv - wv) <= r * scale : (isnan(wv) ? isnan(gv) : gv == wv);
        if (!ok) {
            snprintf(why, cap, "element %lld: %.17g, want %.17g (tol %g)", (long long)i, gv, wv, r * scale);
            return false;
        }
    }
    return true;
}

static bool same_bits(const lp_buffer *a, const lp_buffer *b) {
    return a && b && lp_buffer_nbytes(a) == lp_buffer_nbytes(b) && !memcmp(lp_buffer_data(a), lp_buffer_data(b), lp_buffer_nbytes(a));
}

static int parse_axes(const char *s, int *ax) {
    int n = 0;
    while (*s && *s != ':') {
        ax[n++] = (int)strtol(s, (char **)&s, 10);
        if (*s == ',') s++;
    }
    return n;
}

/* Build the case's expression; outs receives nout arrays. */
static lp_status build(lp_ctx *c, const char *op, lp_array **x, int nin, const char *path0, lp_array **outs) {
    lp_status st = LP_OK;
    lp_array *t = NULL, *u = NULL;
    (void)nin;
    if (!strcmp(op, "mm")) st = lp_matmul(c, x[0], x[1], &outs[0]);
    else if (!strcmp(op, "mmTA")) {
        if (!(st = lp_transpose(c, x[0], NULL, &t))) st = lp_matmul(c, t, x[1], &outs[0]);
    } else if (!strcmp(op, "mmTB")) {
        if (!(st = lp_transpose(c, x[1], NULL, &t))) st = lp_matmul(c, x[0], t, &outs[0]);
    } else if (!strcmp(op, "syrkT") || !strcmp(op, "syrkN")) {
        int nd = lp_array_ndim(x[0]), perm[LP_MAX_NDIM];
        for (int i = 0; i < nd; i++) perm[i] = i;
        perm[nd - 2] = nd - 1;
        perm[nd - 1] = nd - 2;
        if (!(st = lp_transpose(c, x[0], perm, &t)))
            st = op[4] == 'T' ? lp_matmul(c, t, x[0], &outs[0]) : lp_matmul(c, x[0], t, &outs[0]);
    } else if (!strcmp(op, "syrkT2")) {
        if (!(st = lp_load(c, path0, &u)) && !(st = lp_transpose(c, x[0], NULL, &t))) st = lp_matmul(c, t, u, &outs[0]);
    } else if (!strcmp(op, "dot")) st = lp_dot(c, x[0], x[1], &outs[0]);
    else if (!strcmp(op, "outer")) st = lp_outer(c, x[0], x[1], &outs[0]);
    else if (!strncmp(op, "tdot:", 5)) {
        const char *s = op + 5;
        if (!strchr(s, ':')) st = lp_tensordot(c, x[0], x[1], atoi(s), NULL, NULL, &outs[0]);
        else {
            int aa[LP_MAX_NDIM], ab[LP_MAX_NDIM];
            int na = parse_axes(s, aa);
            parse_axes(strchr(s, ':') + 1, ab);
            st = lp_tensordot(c, x[0], x[1], na, aa, ab, &outs[0]);
        }
    } else if (!strcmp(op, "solve")) st = lp_linalg_solve(c, x[0], x[1], &outs[0]);
    else if (!strcmp(op, "inv")) st = lp_linalg_inv(c, x[0], &outs[0]);
    else if (!strcmp(op, "cholesky")) st = lp_linalg_cholesky(c, x[0], &outs[0]);
    else if (!strcmp(op, "det")) st = lp_linalg_det(c, x[0], &outs[0]);
    else if (!strcmp(op, "slogdet")) st = lp_linalg_slogdet(c, x[0], &outs[0], &outs[1]);
    else if (!strcmp(op, "eigh")) st = lp_linalg_eigh(c, x[0], &outs[0], &outs[1]);
    else if (!strcmp(op, "eigvalsh")) st = lp_linalg_eigh(c, x[0], &outs[0], NULL);
    else if (!strcmp(op, "lstsq")) st = lp_linalg_lstsq(c, x[0], x[1], -1, &outs[0]);
    else if (!strncmp(op, "norm:", 5)) st = lp_linalg_norm(c, x[0], strcmp(op + 5, "None") ? op + 5 : NULL, &outs[0]);
    else {
        fprintf(stderr, "unknown op %s\n", op);
        st = LP_ERR_INTERNAL;
    }
    lp_array_release(t);
    lp_array_release(u);
    return st;
}

static bool status_named(lp_status st, const char *name) {
    static const char *names[] = {
#define X(n, num, d) [num] = #n,
        LP_STATUS_MAP(X)
#undef X
    };
    return (unsigned)st < sizeof names / sizeof names[0] && names[st] && !strcmp(names[st], name);
}

static int ncases;
static const char *remote_exec;

/* The second run of each case on the executor the environment names (remote mode). */
static void use_remote(lp_ctx *c) {
    LPT_OK(c, lp_ctx_set_executor(c, remote_exec));
    if (getenv("LP_OPS_WORKERS")) LPT_OK(c, lp_ctx_set_workers(c, getenv("LP_OPS_WORKERS")));
    if (getenv("LP_OPS_STORE")) LPT_OK(c, lp_ctx_set_store(c, getenv("LP_OPS_STORE")));
    if (getenv("LP_OPS_ORCHESTRATE")) {
        lp_remote_config rc = {.orchestrate = getenv("LP_OPS_ORCHESTRATE")};
        LPT_OK(c, lp_ctx_set_remote_config(c, &rc));
    }
}

static void run_case(char *line) {
    char name[128], op[64], tol[32];
    int nin, nout, used = 0;
    if (sscanf(line, "%127s %63s %31s %d %d%n", name, op, tol, &nin, &nout, &used) != 5) {
        LPT_CHECKF(0, "bad MANIFEST line: %s", line);
        return;
    }
    char *err = strchr(line + used, '|'), errstatus[32] = "", *errmsg = NULL;
    if (err) {
        err++;
        int k = 0;
        sscanf(err, "%31s %n", errstatus, &k);
        errmsg = err + k;
        errmsg[strcspn(errmsg, "\n")] = 0;
    }
    char path[MAXIO][600], opath[MAXIO][600];
    lp_buffer *want[MAXIO] = {0};
    for (int i = 0; i < nin; i++) snprintf(path[i], sizeof path[i], "%s/linalg/%s.in%d.npy", lpt_data_dir(), name, i);
    for (int j = 0; j < nout; j++) {
        snprintf(opath[j], sizeof opath[j], "%s/linalg/%s.out%d.npy", lpt_data_dir(), name, j);
        if (!(want[j] = read_npy(opath[j]))) { LPT_CHECKF(0, "%s: cannot read %s", name, opath[j]); return; }
    }
    const bool chunky = !strncmp(op, "mm", 2) || !strncmp(op, "syrk", 4) || !strcmp(op, "dot") ||
                        !strcmp(op, "outer") || !strncmp(op, "tdot", 4) || !strncmp(op, "norm", 4);
    static const size_t chunk_all[] = {0, 512, 4096, 65536};
    const int nchunk = chunky ? 4 : 2;
    ncases++;
    for (int ci = 0; ci < nchunk; ci++) {
        lp_buffer *first[MAXIO] = {0};
        for (int th = 1; th <= 2; th++) {
            lp_ctx *c;
            lp_ctx_create(&c);
            lp_ctx_set_threads(c, remote_exec ? 1 : th);
            lp_ctx_set_chunk_bytes(c, chunk_all[ci]);
            if (remote_exec && th == 2) use_remote(c);
            lp_array *x[MAXIO] = {0}, *outs[MAXIO] = {0};
            lp_buffer *got[MAXIO] = {0};
            lp_status st = LP_OK;
            for (int i = 0; i < nin && !st; i++) st = lp_load(c, path[i], &x[i]);
            if (!st) st = build(c, op, x, nin, path[0], outs);
            if (!st && nout) st = lp_run(c, outs, nout, got);
            else if (!st && err) {
                /* errors found when running: run the single output */
                lp_buffer *g = NULL;
                st = lp_run(c, outs, 1, &g);
                lp_buffer_release(g);
            }
            char where[200];
            if (remote_exec) snprintf(where, sizeof where, "%s (chunk_bytes %zu, %s)", name, chunk_all[ci], th == 1 ? "local" : remote_exec);
            else snprintf(where, sizeof where, "%s (chunk_bytes %zu, %d threads)", name, chunk_all[ci], th);
            if (err) {
                LPT_CHECKF(st != LP_OK && status_named(st, errstatus), "%s: status %s, want %s (%s)", where,
                           lp_status_str(st), errstatus, lp_last_error(c));
                LPT_CHECKF(strstr(lp_last_error(c), errmsg) != NULL, "%s: message '%s', want '%s'", where,
                           lp_last_error(c), errmsg);
            } else if (st != LP_OK) {
                LPT_CHECKF(0, "%s: %s: %s", where, lp_status_str(st), lp_last_error(c));
            } else {
                for (int j = 0; j < nout; j++) {
                    char why[300];
                    bool evec = !strcmp(op, "eigh") && j == 1;
                    LPT_CHECKF(compare(got[j], want[j], tol, evec, why, sizeof why), "%s output %d: %s", where, j, why);
                    if (th == 1) { first[j] = got[j]; lp_buffer_retain(got[j]); }
                    else LPT_CHECKF(same_bits(first[j], got[j]), "%s output %d: bits differ from %s", where, j,
                                    remote_exec ? "the local run" : "1 thread");
                }
            }
            for (int j = 0; j < MAXIO; j++) { lp_buffer_release(got[j]); lp_array_release(outs[j]); lp_array_release(x[j]); }
            lp_ctx_destroy(c);
        }
        for (int j = 0; j < MAXIO; j++) lp_buffer_release(first[j]);
    }
    for (int j = 0; j < MAXIO; j++) lp_buffer_release(want[j]);
}

static void test_corpus(void) {
    char mpath[600];
    snprintf(mpath, sizeof mpath, "%s/linalg/MANIFEST", lpt_data_dir());
    FILE *f = fopen(mpath, "r");
    LPT_CHECKF(f != NULL, "cannot open %s", mpath);
    if (!f) return;
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        run_case(line);
    }
    fclose(f);
    LPT_CHECK(ncases >= 100);
}

/* ---- plan-level and layout checks ---- */

static double *randn(int64_t n, uint64_t seed) {
    double *d = malloc((size_t)n * sizeof *d);
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        d[i] = (double)(s >> 11) / 9007199254740992.0 - 0.5;
    }
    return d;
}

/* C = op(A) op(B) by definition, for strided A, B (element strides). */
static void naive(int64_t m, int64_t n, int64_t k, const double *a, int64_t ars, int64_t acs, const double *b,
                  int64_t brs, int64_t bcs, double *c) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t q = 0; q < k; q++) s += a[i * ars + q * acs] * b[q * brs + j * bcs];
            c[i * n + j] = s;
        }
}

static bool close_to(const double *g, const double *w, int64_t n, double tol) {
    for (int64_t i = 0; i < n; i++)
        if (fabs(g[i] - w[i]) > tol * (1 + fabs(w[i]))) {
            fprintf(stderr, "  element %lld: %.17g want %.17g\n", (long long)i, g[i], w[i]);
            return false;
        }
    return true;
}

static int count_kernel(const lpi_plan *p, lpi_kernel k) {
    int n = 0;
    for (int i = 0; i < p->npnodes; i++) n += p->pnodes[i].kernel == k;
    return n;
}

static const lpi_linalg_params *find_mm(const lpi_plan *p) {
    for (int i = 0; i < p->npnodes; i++)
        if (p->pnodes[i].kernel == LPI_K_MATMUL) return p->pnodes[i].la;
    return NULL;
}

/* X.T @ X on wrapped memory: no copy of X.T (bytes allocated are the partial states and the
 * output only), the syrk path, an exactly symmetric result equal to the definition. */
static void test_gram_no_copy(void) {
    const int64_t n = 3000, d = 16, shape[2] = {n, d};
    double *x = randn(n * d, 1);
    lp_ctx *c;
    lp_ctx_create(&c);
    lp_ctx_set_chunk_bytes(c, 8192);
    lp_ctx_set_threads(c, 2);
    lp_array *X, *XT, *G;
    lp_buffer *r = NULL;
    LPT_OK(c, lp_wrap(c, x, LP_FLOAT64, 2, shape, NULL, NULL, NULL, &X));
    LPT_OK(c, lp_transpose(c, X, NULL, &XT));
    LPT_OK(c, lp_matmul(c, XT, X, &G));
    lpi_plan *p = NULL;
    LPT_OK(c, lpi_plan_build(c, &G, 1, &p));
    if (p) {
        const lpi_linalg_params *la = find_mm(p);
        LPT_CHECK(la && la->syrk && (la->flags & LPI_MM_TA));
        LPT_CHECK(count_kernel(p, LPI_K_COPY) == 0);
        LPT_CHECK(count_kernel(p, LPI_K_COMBINE) >= 1); /* the contraction is split */
        lpi_plan_destroy(p);
    }
    LPT_OK(c, lp_run(c, &G, 1, &r));
    lp_run_stats rs;
    lp_last_run_stats(c, &rs);
    LPT_CHECKF(rs.bytes_alloc < n * d * 8 / 8, "bytes_alloc %lld", (long long)rs.bytes_alloc);
    if (r) {
        const double *g = lp_buffer_data(r);
        double *w = malloc((size_t)(d * d) * sizeof *w);
        naive(d, d, n, x, 1, d, x, d, 1, w);
        LPT_CHECK(close_to(g, w, d * d, 1e-12));
        bool sym = true;
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) sym &= g[i * d + j] == g[j * d + i];
        LPT_CHECK(sym);
        free(w);
    }
    /* X.T @ Y: BLAS Trans, no copy either */
    double *y = randn(n * 3, 2);
    const int64_t ys[2] = {n, 3};
    lp_array *Y, *P;
    lp_buffer *rp = NULL;
    LPT_OK(c, lp_wrap(c, y, LP_FLOAT64, 2, ys, NULL, NULL, NULL, &Y));
    LPT_OK(c, lp_matmul(c, XT, Y, &P));
    p = NULL;
    LPT_OK(c, lpi_plan_build(c, &P, 1, &p));
    if (p) {
        const lpi_linalg_params *la = find_mm(p);
        LPT_CHECK(la && !la->syrk && la->flags == LPI_MM_TA);
        LPT_CHECK(count_kernel(p, LPI_K_COPY) == 0);
        lpi_plan_destroy(p);
    }
    LPT_OK(c, lp_run(c, &P, 1, &rp));
    if (rp) {
        double *w = malloc((size_t)(d * 3) * sizeof *w);
        naive(d, 3, n, x, 1, d, y, 3, 1, w);
        LPT_CHECK(close_to(lp_buffer_data(rp), w, d * 3, 1e-12));
        free(w);
    }
    lp_buffer_release(r);
    lp_buffer_release(rp);
    lp_array_release(P);
    lp_array_release(Y);
    lp_array_release(G);
    lp_array_release(XT);
    lp_array_release(X);
    lp_ctx_destroy(c);
    free(x);
    free(y);
}

/* Operands BLAS cannot take as they are (every other column) and Fortran-ordered ones (read
 * with Trans): both give the definition's answer. */
static void test_strided_operands(void) {
    const int64_t m = 37, k = 29, n = 23;
    double *a = randn(m * k * 2, 3), *b = randn(k * n, 4);
    lp_ctx *c;
    lp_ctx_create(&c);
    lp_ctx_set_chunk_bytes(c, 1024);
    const int64_t as[2] = {m, k}, bs[2] = {k, n};
    const int64_t astr[2] = {2 * k * 8, 16};      /* every other column of an m x 2k array */
    const int64_t bstr[2] = {8, k * 8};           /* Fortran order */
    lp_array *A, *B, *C;
    lp_buffer *r = NULL;
    LPT_OK(c, lp_wrap(c, a, LP_FLOAT64, 2, as, astr, NULL, NULL, &A));
    LPT_OK(c, lp_wrap(c, b, LP_FLOAT64, 2, bs, bstr, NULL, NULL, &B));
    LPT_OK(c, lp_matmul(c, A, B, &C));
    LPT_OK(c, lp_run(c, &C, 1, &r));
    if (r) {
        double *w = malloc((size_t)(m * n) * sizeof *w);
        naive(m, n, k, a, 2 * k, 2, b, 1, k, w);
        LPT_CHECK(close_to(lp_buffer_data(r), w, m * n, 1e-12));
        free(w);
    }
    lp_buffer_release(r);
    lp_array_release(C);
    lp_array_release(B);
    lp_array_release(A);
    lp_ctx_destroy(c);
    free(a);
    free(b);
}

/* A product hinted into one chunk: one task with every pool thread inside BLAS (restored to 1
 * after); an unhinted big product: cut into >= 16 blocks, each single-threaded BLAS, with the
 * same bits for 1 and 2 pool threads. */
static void test_blas_threads(void) {
    const int64_t nn = 512, shape[2] = {nn, nn};
    double *a = randn(nn * nn, 5);
    lp_ctx *c;
    lp_ctx_create(&c);
    lp_ctx_set_threads(c, 2);
    lp_array *A, *C;
    lp_buffer *r = NULL;
    LPT_OK(c, lp_wrap(c, a, LP_FLOAT64, 2, shape, NULL, NULL, NULL, &A));
    LPT_OK(c, lp_array_set_chunks(c, A, 2, shape));
    LPT_OK(c, lp_matmul(c, A, A, &C));
    LPT_OK(c, lp_array_set_chunks(c, C, 2, shape));
    lpi_plan *p = NULL;
    LPT_OK(c, lpi_plan_build(c, &C, 1, &p));
    if (p) {
        const lpi_linalg_params *la = find_mm(p);
        LPT_CHECK(p->ntasks == 1 && la && la->blas_threads == 2);
        lpi_plan_destroy(p);
    }
    LPT_OK(c, lp_run(c, &C, 1, &r));
    LPT_CHECK(openblas_get_num_threads() == 1);
    lp_buffer_release(r);
    lp_array_release(C);
    /* no hint: at least 16 blocks, each single-threaded BLAS, bits independent of the pool */
    lp_array *A2, *C2;
    lp_buffer *r1 = NULL;
    r = NULL;
    LPT_OK(c, lp_wrap(c, a, LP_FLOAT64, 2, shape, NULL, NULL, NULL, &A2));
    LPT_OK(c, lp_matmul(c, A2, A2, &C2));
    p = NULL;
    LPT_OK(c, lpi_plan_build(c, &C2, 1, &p));
    if (p) {
        const lpi_linalg_params *la = find_mm(p);
        LPT_CHECKF(p->ntasks >= 16 && la && la->blas_threads == 1, "%lld tasks", (long long)p->ntasks);
        lpi_plan_destroy(p);
    }
    LPT_OK(c, lp_run(c, &C2, 1, &r));
    LPT_CHECK(openblas_get_num_threads() == 1);
    lp_ctx_set_threads(c, 1);
    LPT_OK(c, lp_run(c, &C2, 1, &r1));
    LPT_CHECK(same_bits(r, r1));
    lp_buffer_release(r1);
    if (r) {
        double *w = malloc((size_t)(nn * nn) * sizeof *w);
        naive(nn, nn, nn, a, nn, 1, a, nn, 1, w);
        LPT_CHECK(close_to(lp_buffer_data(r), w, nn * nn, 1e-12));
        free(w);
    }
    lp_buffer_release(r);
    lp_array_release(C2);
    lp_array_release(A2);
    lp_array_release(A);
    lp_ctx_destroy(c);
    free(a);
}

/* Big products (the planner's compute-bound mode: near-square blocks, whole-K panels assembled
 * across chunks): X.T @ X with syrk diagonal blocks, and a batched product with a broadcast
 * right operand, against the definition. */
static void test_big_blocks(void) {
    lp_ctx *c;
    lp_ctx_create(&c);
    lp_ctx_set_chunk_bytes(c, 100000);
    const int64_t n = 700, d = 600, xs[2] = {n, d};
    double *x = randn(n * d, 7);
    lp_array *X, *XT, *G;
    lp_buffer *r = NULL;
    LPT_OK(c, lp_wrap(c, x, LP_FLOAT64, 2, xs, NULL, NULL, NULL, &X));
    LPT_OK(c, lp_transpose(c, X, NULL, &XT));
    LPT_OK(c, lp_matmul(c, XT, X, &G));
    lpi_plan *p = NULL;
    LPT_OK(c, lpi_plan_build(c, &G, 1, &p));
    if (p) {
        const lpi_linalg_params *la = find_mm(p);
        LPT_CHECKF(p->ntasks >= 16 && la && la->syrk, "%lld tasks", (long long)p->ntasks);
        lpi_plan_destroy(p);
    }
    LPT_OK(c, lp_run(c, &G, 1, &r));
    if (r) {
        double *w = malloc((size_t)(d * d) * sizeof *w);
        naive(d, d, n, x, 1, d, x, d, 1, w);
        LPT_CHECK(close_to(lp_buffer_data(r), w, d * d, 1e-12));
        free(w);
    }
    lp_buffer_release(r);
    r = NULL;
    /* (2, 520, 300) @ (300, 530) */
    const int64_t as[3] = {2, 520, 300}, bs[2] = {300, 530};
    double *a = randn(2 * 520 * 300, 8), *b = randn(300 * 530, 9);
    lp_array *A, *B, *C;
    LPT_OK(c, lp_wrap(c, a, LP_FLOAT64, 3, as, NULL, NULL, NULL, &A));
    LPT_OK(c, lp_wrap(c, b, LP_FLOAT64, 2, bs, NULL, NULL, NULL, &B));
    LPT_OK(c, lp_matmul(c, A, B, &C));
    LPT_OK(c, lp_run(c, &C, 1, &r));
    lp_run_stats rs;
    lp_last_run_stats(c, &rs);
    LPT_CHECKF(rs.tasks >= 16, "%lld tasks", (long long)rs.tasks);
    if (r) {
        double *w = malloc((size_t)(520 * 530) * sizeof *w);
        bool ok = true;
        for (int q = 0; q < 2; q++) {
            naive(520, 530, 300, a + q * 520 * 300, 300, 1, b, 530, 1, w);
            ok &= close_to((double *)lp_buffer_data(r) + q * 520 * 530, w, 520 * 530, 1e-12);
        }
        LPT_CHECK(ok);
        free(w);
    }
    lp_buffer_release(r);
    lp_array_release(C);
    lp_array_release(B);
    lp_array_release(A);
    lp_array_release(G);
    lp_array_release(XT);
    lp_array_release(X);
    lp_ctx_destroy(c);
    free(x);
    free(a);
    free(b);
}

/* Results reused: a computed matmul is data for the next expression; lp_linalg by name. */
static void test_reuse_and_names(void) {
    lp_ctx *c;
    lp_ctx_create(&c);
    const int64_t s[2] = {3, 3};
    double av[9] = {4, 1, 0, 1, 3, 1, 0, 1, 2};
    lp_array *A, *G, *L, *Ai, *D;
    lp_buffer *r[3] = {0};
    LPT_OK(c, lp_wrap(c, av, LP_FLOAT64, 2, s, NULL, NULL, NULL, &A));
    LPT_OK(c, lp_matmul(c, A, A, &G));
    LPT_OK(c, lp_run(c, &G, 1, NULL));
    LPT_OK(c, lp_linalg(c, "cholesky", 1, &G, &L));
    LPT_OK(c, lp_linalg(c, "inv", 1, &A, &Ai));
    LPT_OK(c, lp_linalg(c, "det", 1, &A, &D));
    lp_array *t[3] = {L, Ai, D};
    LPT_OK(c, lp_run(c, t, 3, r));
    if (r[0] && r[1] && r[2]) {
        const double *l = lp_buffer_data(r[0]), *inv = lp_buffer_data(r[1]);
        /* L L^T == A A (A symmetric) and A inv(A) == I */
        bool ok = true;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                double ll = 0, aa = 0, ai = 0;
                for (int q = 0; q < 3; q++) { ll += l[i * 3 + q] * l[j * 3 + q]; aa += av[i * 3 + q] * av[q * 3 + j]; ai += av[i * 3 + q] * inv[q * 3 + j]; }
                ok &= fabs(ll - aa) < 1e-12 && fabs(ai - (i == j)) < 1e-12;
            }
        LPT_CHECK(ok);
        LPT_CHECK(fabs(*(double *)lp_buffer_data(r[2]) - 18.0) < 1e-12);
    }
    lp_array *bad = NULL;
    LPT_CHECK(lp_linalg(c, "qr", 1, &A, &bad) == LP_ERR_VALUE && bad == NULL);
    for (int i = 0; i < 3; i++) lp_buffer_release(r[i]);
    lp_array_release(D);
    lp_array_release(Ai);
    lp_array_release(L);
    lp_array_release(G);
    lp_array_release(A);
    lp_ctx_destroy(c);
}

/* Fail the k-th allocation for every k, through the k-split matmul and a LAPACK op: each run
 * fails with LP_ERR_NOMEM or gives the right answer (sanitizer builds check for leaks). */
static void test_alloc_failures(void) {
    int failures = 0, ok = 0;
    for (long k = 1; k < 600; k++) {
        lp_ctx *c;
        if (lp_ctx_create(&c) != LP_OK) continue;
        lp_ctx_set_threads(c, 2);
        lp_ctx_set_chunk_bytes(c, 512);
        int64_t sh[2] = {600, 2};
        lp_array *a = NULL, *x = NULL, *xt = NULL, *g = NULL, *gi = NULL;
        lp_buffer *r[2] = {0};
        lp_arange(c, 0, 1200, 1, LP_FLOAT64, &a);
        if (a) lp_reshape(c, a, 2, sh, &x);
        if (x) lp_transpose(c, x, NULL, &xt);
        if (xt) lp_matmul(c, xt, x, &g);
        if (g) lp_linalg_inv(c, g, &gi);
        lp_array *t[2] = {g, gi};
        lpi_alloc_fail_after(k);
        lp_status st = gi ? lp_run(c, t, 2, r) : LP_ERR_NOMEM;
        lpi_alloc_fail_after(0);
        if (st == LP_OK) {
            ok++;
            /* sum_i (2i)^2 for i < 600 */
            double want = 0;
            for (int i = 0; i < 600; i++) want += 4.0 * i * i;
            LPT_CHECK(((double *)lp_buffer_data(r[0]))[0] == want);
        } else {
            failures++;
            LPT_CHECKF(st == LP_ERR_NOMEM, "k=%ld: %s", k, lp_last_error(c));
        }
        for (int i = 0; i < 2; i++) lp_buffer_release(r[i]);
        lp_array_release(gi); lp_array_release(g); lp_array_release(xt); lp_array_release(x); lp_array_release(a);
        lp_ctx_destroy(c);
    }
    LPT_CHECK(failures > 0 && ok > 0);
}

int main(void) {
    remote_exec = getenv("LP_OPS_EXECUTOR");
    if (remote_exec && (!*remote_exec || !strcmp(remote_exec, "local"))) remote_exec = NULL;
    LPT_RUN(test_corpus);
    if (remote_exec) return lpt_done("test_linalg (remote)");
    LPT_RUN(test_gram_no_copy);
    LPT_RUN(test_strided_operands);
    LPT_RUN(test_blas_threads);
    LPT_RUN(test_big_blocks);
    LPT_RUN(test_reuse_and_names);
    LPT_RUN(test_alloc_failures);
    return lpt_done("test_linalg");
}
