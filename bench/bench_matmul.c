/* lampy-bench-matmul: Lampy's matmul against the same OpenBLAS called directly.
 *
 *     lampy-bench-matmul [--n 4096] [--rows 2000000] [--cols 64] [--reps 3] [--threads 0] [--json]
 *
 * Two products, each best of --reps (wall time of lp_run, planning included; Lampy and the
 * reference alternate so both see the same machine):
 *   gemm  C = A @ B, A and B n x n float64 (wrapped memory, zero copy);
 *         reference: one cblas_dgemm on all cores.
 *   gram  G = X.T @ X, X rows x cols float64 (Lampy: blocks of syrk, partial sums in a tree);
 *         reference: one cblas_dsyrk on all cores (plus the mirror into the lower triangle).
 * bench/bench_matmul.py adds NumPy (its own bundled OpenBLAS) and prints the table. */
#include "lampy.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void fill(double *x, int64_t n, uint64_t seed) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        x[i] = (double)(s >> 11) / 9007199254740992.0 - 0.5;
    }
}

static double maxdiff(const double *a, const double *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

/* Wall time of one lp_run for op(A) @ B; *out keeps the result. */
static double time_lampy(lp_ctx *ctx, double *a, const int64_t *sa, double *b, const int64_t *sb, int transa,
                         lp_buffer **out, int64_t *tasks) {
    lp_array *A, *B, *AT = NULL, *C;
    lp_buffer *res = NULL;
    lp_wrap(ctx, a, LP_FLOAT64, 2, sa, NULL, NULL, NULL, &A);
    if (b == a && transa) { B = A; lp_array_retain(B); }
    else lp_wrap(ctx, b, LP_FLOAT64, 2, sb, NULL, NULL, NULL, &B);
    if (transa) lp_transpose(ctx, A, NULL, &AT);
    if (lp_matmul(ctx, transa ? AT : A, B, &C) != LP_OK) {
        fprintf(stderr, "lampy: %s\n", lp_last_error(ctx));
        exit(1);
    }
    double t0 = now();
    lp_status st = lp_run(ctx, &C, 1, &res);
    double t = now() - t0;
    if (st != LP_OK) {
        fprintf(stderr, "lampy: %s\n", lp_last_error(ctx));
        exit(1);
    }
    lp_run_stats rs;
    lp_last_run_stats(ctx, &rs);
    *tasks = rs.tasks;
    lp_buffer_release(*out);
    *out = res;
    lp_array_release(C);
    lp_array_release(AT);
    lp_array_release(B);
    lp_array_release(A);
    return t;
}

int main(int argc, char **argv) {
    int64_t n = 4096, rows = 2000000, cols = 64;
    int reps = 3, threads = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc) n = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc) rows = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--cols") && i + 1 < argc) cols = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json")) json = 1;
        else {
            fprintf(stderr, "usage: %s [--n N] [--rows R] [--cols C] [--reps K] [--threads T] [--json]\n", argv[0]);
            return 2;
        }
    }
    const int cores = threads > 0 ? threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    lp_ctx *ctx;
    lp_ctx_create(&ctx);
    lp_ctx_set_threads(ctx, threads);

    /* gemm */
    double *a = malloc((size_t)(n * n) * 8), *b = malloc((size_t)(n * n) * 8), *c = malloc((size_t)(n * n) * 8);
    if (!a || !b || !c) { fprintf(stderr, "out of memory\n"); return 1; }
    fill(a, n * n, 1);
    fill(b, n * n, 2);
    const int64_t sq[2] = {n, n};
    lp_buffer *res = NULL;
    int64_t gemm_tasks = 0;
    /* Lampy and OpenBLAS alternate, so both see the same machine (others' load varies) */
    double t_lp = INFINITY, t_ob = INFINITY;
    for (int r = 0; r < reps; r++) {
        usleep(500000); /* OpenBLAS's threads busy-wait a while after a call: let them sleep */
        t_lp = fmin(t_lp, time_lampy(ctx, a, sq, b, sq, 0, &res, &gemm_tasks));
        openblas_set_num_threads(cores);
        double t0 = now();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0, a, (int)n, b, (int)n, 0.0, c, (int)n);
        t_ob = fmin(t_ob, now() - t0);
        openblas_set_num_threads(1); /* as Lampy keeps it */
    }
    double gemm_err = maxdiff(lp_buffer_data(res), c, n * n);
    lp_buffer_release(res);
    res = NULL;
    free(a);
    free(b);
    free(c);

    /* gram */
    double *x = malloc((size_t)(rows * cols) * 8), *g = calloc((size_t)(cols * cols), 8);
    if (!x || !g) { fprintf(stderr, "out of memory\n"); return 1; }
    fill(x, rows * cols, 3);
    const int64_t sx[2] = {rows, cols};
    int64_t gram_tasks = 0;
    double g_lp = INFINITY, g_ob = INFINITY;
    for (int r = 0; r < reps; r++) {
        usleep(500000);
        g_lp = fmin(g_lp, time_lampy(ctx, x, sx, x, sx, 1, &res, &gram_tasks));
        openblas_set_num_threads(cores);
        double t0 = now();
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)cols, (int)rows, 1.0, x, (int)cols, 0.0, g, (int)cols);
        for (int64_t i = 0; i < cols; i++)
            for (int64_t j = i + 1; j < cols; j++) g[j * cols + i] = g[i * cols + j];
        g_ob = fmin(g_ob, now() - t0);
        openblas_set_num_threads(1);
    }
    double gram_err = maxdiff(lp_buffer_data(res), g, cols * cols) / (double)rows;
    lp_buffer_release(res);
    free(x);
    free(g);
    lp_ctx_destroy(ctx);

    const double gf = 2.0 * (double)n * (double)n * (double)n * 1e-9;
    const double gg = (double)rows * (double)cols * (double)(cols + 1) * 1e-9; /* syrk: half */
    if (json) {
        printf("{\"n\": %lld, \"rows\": %lld, \"cols\": %lld, \"threads\": %d, \"openblas\": \"%s\", "
               "\"gemm\": {\"lampy_s\": %.6f, \"openblas_s\": %.6f, \"tasks\": %lld, \"max_abs_diff\": %.3g}, "
               "\"gram\": {\"lampy_s\": %.6f, \"openblas_s\": %.6f, \"tasks\": %lld, \"max_rel_diff\": %.3g}}\n",
               (long long)n, (long long)rows, (long long)cols, cores, openblas_get_config(), t_lp, t_ob,
               (long long)gemm_tasks, gemm_err, g_lp, g_ob, (long long)gram_tasks, gram_err);
        return 0;
    }
    printf("OpenBLAS %s, %d threads\n", openblas_get_config(), cores);
    printf("%-26s %10s %10s %8s %7s\n", "product", "Lampy s", "OpenBLAS s", "ratio", "tasks");
    char l1[64], l2[64];
    snprintf(l1, sizeof l1, "A @ B, %lld^2", (long long)n);
    snprintf(l2, sizeof l2, "X.T @ X, %lld x %lld", (long long)rows, (long long)cols);
    printf("%-26s %10.3f %10.3f %8.2f %7lld   (%.1f vs %.1f GFLOP/s)\n", l1, t_lp, t_ob, t_lp / t_ob,
           (long long)gemm_tasks, gf / t_lp, gf / t_ob);
    printf("%-26s %10.3f %10.3f %8.2f %7lld   (%.1f vs %.1f GFLOP/s)\n", l2, g_lp, g_ob, g_lp / g_ob,
           (long long)gram_tasks, gg / g_lp, gg / g_ob);
    return 0;
}
