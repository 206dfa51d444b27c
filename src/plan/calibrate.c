/* `lampy calibrate`: measure this machine with Lampy's own kernels (so the profile describes
 * what Lampy achieves, not a theoretical peak) and fit the cost model's parameters:
 *
 *   run overhead     a one-task expression, many times
 *   task overhead    a sum over ~10,000 tiny chunks, on all workers
 *   memory           sum(a*b) (reads only) and a*b (reads, plus writes into a fresh result)
 *                    over arrays far larger than the caches, on one worker and on all
 *   files            sum(x) of a .npy file in the page cache, one worker and all
 *   flop rates       chains of arithmetic / transcendental ops, a sum and random numbers over
 *                    arrays that fit in cache, one worker; dgemm for BLAS
 *
 * Each number is the best of a few runs. The whole takes about 5-15 s on a small machine. */
#include "plan/cost.h"
#include "exec/pool.h"

#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct cal {
    void (*log)(void *, const char *);
    void *arg;
    double t0, budget;
} cal;

static void say(cal *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(cal *c, const char *fmt, ...) {
    if (!c->log) return;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    c->log(c->arg, buf);
}

typedef lp_status (*build_fn)(lp_ctx *ctx, void *arg, lp_array **out);

/* Best time of `reps` runs of a freshly built expression (a computed node is not run again). */
static lp_status best_of(lp_ctx *ctx, build_fn fn, void *arg, int reps, double *best, int64_t *tasks) {
    *best = 1e30;
    for (int r = 0; r < reps; r++) {
        lp_array *x;
        lp_status st = fn(ctx, arg, &x);
        if (st) return st;
        double t0 = lpi_now();
        lp_buffer *b;
        st = lp_run(ctx, &x, 1, &b);
        double t = lpi_now() - t0;
        lp_buffer_release(b);
        lp_array_release(x);
        if (st) return st;
        if (t < *best) *best = t;
        if (tasks) { lp_run_stats s; lp_last_run_stats(ctx, &s); *tasks = s.tasks; }
    }
    return LP_OK;
}

typedef struct args {
    lp_array *a, *b;
    int kind;
    int64_t n;
} args;

static lp_status b_add1(lp_ctx *ctx, void *p, lp_array **out) {
    args *A = p;
    lp_array *one;
    lp_status st = lp_scalar_array(ctx, lp_scalar_f(1.0), &one);
    if (!st) st = lp_binary(ctx, "add", A->a, one, out);
    lp_array_release(one);
    return st;
}

static lp_status b_sum(lp_ctx *ctx, void *p, lp_array **out) {
    return lp_reduce(ctx, "sum", ((args *)p)->a, NULL, 0, false, out);
}

static lp_status b_sum_mul(lp_ctx *ctx, void *p, lp_array **out) {
    args *A = p;
    lp_array *m;
    lp_status st = lp_binary(ctx, "multiply", A->a, A->b, &m);
    if (!st) st = lp_reduce(ctx, "sum", m, NULL, 0, false, out);
    lp_array_release(m);
    return st;
}

static lp_status b_mul(lp_ctx *ctx, void *p, lp_array **out) {
    args *A = p;
    return lp_binary(ctx, "multiply", A->a, A->b, out);
}

/* 16 cheap ops (x * 1.0000001 + 1e-9, eight times) */
static lp_status b_arith(lp_ctx *ctx, void *p, lp_array **out) {
    args *A = p;
    lp_array *x = A->a, *m, *s;
    lp_status st = lp_scalar_array(ctx, lp_scalar_f(1.0000001), &m);
    if (!st) st = lp_scalar_array(ctx, lp_scalar_f(1e-9), &s);
    lp_array_retain(x);
    for (int i = 0; i < 8 && !st; i++) {
        lp_array *y, *z;
        if ((st = lp_binary(ctx, "multiply", x, m, &y))) break;
        st = lp_binary(ctx, "add", y, s, &z);
        lp_array_release(y);
        lp_array_release(x);
        x = z;
        if (st) x = NULL;
    }
    lp_array_release(m);
    lp_array_release(s);
    if (st) { lp_array_release(x); return st; }
    *out = x;
    return LP_OK;
}

/* exp(sin(exp(sin(a)))): 4 transcendental ops */
static lp_status b_math(lp_ctx *ctx, void *p, lp_array **out) {
    args *A = p;
    lp_array *x = A->a;
    lp_array_retain(x);
    const char *ops[4] = {"sin", "exp", "sin", "exp"};
    for (int i = 0; i < 4; i++) {
        lp_array *y;
        lp_status st = lp_unary(ctx, ops[i], x, &y);
        lp_array_release(x);
        if (st) return st;
        x = y;
    }
    *out = x;
    return LP_OK;
}

static lp_status b_random(lp_ctx *ctx, void *p, lp_array **out) {
    args *A = p;
    static uint64_t seed = 1;
    return A->kind ? lp_random_normal(ctx, seed++, 0, 1, LP_FLOAT64, 1, &A->n, out)
                   : lp_random_uniform(ctx, seed++, 0, 1, LP_FLOAT64, 1, &A->n, out);
}

static void noop_release(void *p) { (void)p; }

static lp_status wrap(lp_ctx *ctx, double *d, int64_t n, lp_array **out) {
    return lp_wrap(ctx, d, LP_FLOAT64, 1, &n, NULL, noop_release, NULL, out);
}

static void machine_name(char *buf, size_t cap, int cores) {
    char model[128] = "unknown CPU", line[256];
    long long memkb = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        char *c = strchr(line, ':');
        if (!strncmp(line, "model name", 10) && c) {
            snprintf(model, sizeof model, "%s", c + 2);
            model[strcspn(model, "\n")] = 0;
            break;
        }
    }
    if (f) fclose(f);
    f = fopen("/proc/meminfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemTotal: %lld kB", &memkb) == 1) break;
    if (f) fclose(f);
    snprintf(buf, cap, "%s, %d cores, %.0f GiB", model, cores, (double)memkb / (1 << 20));
}

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

lp_status lp_calibrate(lp_ctx *ctx, double max_seconds, void (*log)(void *, const char *), void *log_arg) {
    cal C = {log, log_arg, lpi_now(), max_seconds > 0 ? max_seconds : 30};
    const int W = lpi_ncores();
    lpi_profile P;
    lpi_profile_default(&P);
    P.cores = W;
    P.calibrated = true;
    machine_name(P.machine, sizeof P.machine, W);
    say(&C, "machine: %s", P.machine);
    const bool quick = C.budget < 12;
    const int64_t N = quick ? (int64_t)4 << 20 : (int64_t)16 << 20; /* big arrays: 32 or 128 MiB each */
    const int64_t M = 32 << 10;                                         /* in-cache arrays: 256 KiB */
    lp_ctx *c1 = NULL, *cw = NULL;
    double *a = NULL, *b = NULL, *small = NULL, *tiny = NULL;
    lp_array *A = NULL, *B = NULL, *S = NULL, *T = NULL, *X = NULL;
    char dir[] = "/tmp/lampy-calibrate-XXXXXX", path[64] = "";
    bool have_dir = false;
    lp_status st;
    if ((st = lp_ctx_create(&c1)) || (st = lp_ctx_create(&cw)) || (st = lp_ctx_set_threads(c1, 1))) {
        st = lpi_error(ctx, st, "calibrate: cannot create a context");
        goto done;
    }
    a = lp_malloc_aligned((size_t)N * 8);
    b = lp_malloc_aligned((size_t)N * 8);
    small = lp_malloc_aligned((size_t)M * 8);
    tiny = lp_malloc_aligned(80000 * 8);
    if (!a || !b || !small || !tiny) { st = lpi_nomem(ctx); goto done; }
    for (int64_t i = 0; i < N; i++) { a[i] = (double)(i & 1023) * 1e-3; b[i] = 1.0 - a[i]; }
    for (int64_t i = 0; i < M; i++) small[i] = (double)i / (double)M;
    for (int64_t i = 0; i < 80000; i++) tiny[i] = 1.0;
#define CK(call) do { if ((st = (call))) { st = lpi_error(ctx, st, "calibrate: %s", lp_last_error(c1)[0] ? lp_last_error(c1) : lp_last_error(cw)); goto done; } } while (0)
    double t, t1, tw;
    int64_t ntasks = 0;
    args ar = {0};

    /* run overhead */
    {
        int64_t sixteen = 16;
        CK(lp_wrap(cw, tiny, LP_FLOAT64, 1, &sixteen, NULL, noop_release, NULL, &T));
        ar.a = T;
        CK(best_of(cw, b_add1, &ar, 300, &t, NULL));
        P.run_overhead = clampd(t, 1e-6, 1e-2);
        say(&C, "run overhead        %8.1f us", P.run_overhead * 1e6);
        lp_array_release(T);
        T = NULL;
    }
    /* task overhead: ~10,000 chunks of 8 elements */
    {
        int64_t n = 80000, ch = 8;
        CK(wrap(cw, tiny, n, &T));
        CK(lp_array_set_chunks(cw, T, 1, &ch));
        ar.a = T;
        CK(best_of(cw, b_sum, &ar, 5, &t, &ntasks));
        P.task_overhead = clampd((t - P.run_overhead) * W / (double)(ntasks ? ntasks : 1), 1e-8, 1e-3);
        say(&C, "task overhead       %8.2f us  (%lld tasks in %.2f ms)", P.task_overhead * 1e6, (long long)ntasks, t * 1e3);
        lp_array_release(T);
        T = NULL;
    }
    /* memory traffic: sum(a*b) reads 16 B per element */
    CK(wrap(c1, a, N, &A));
    CK(wrap(c1, b, N, &B));
    ar.a = A;
    ar.b = B;
    CK(best_of(c1, b_sum_mul, &ar, 3, &t1, NULL));
    CK(best_of(cw, b_sum_mul, &ar, 3, &tw, NULL));
    P.mem_bw1 = clampd(16.0 * N / (t1 - P.run_overhead), 1e8, 1e12);
    P.mem_bw = clampd(16.0 * N / (tw - P.run_overhead), P.mem_bw1, 1e12);
    say(&C, "memory bandwidth    %8.2f GB/s one core, %.2f GB/s all %d  (sum(a*b), %lld MiB: %.1f ms, %.1f ms)",
        P.mem_bw1 / 1e9, P.mem_bw / 1e9, W, (long long)(16 * N >> 20), t1 * 1e3, tw * 1e3);
    /* fresh result memory: a*b writes 8 B per element into a new buffer */
    CK(best_of(c1, b_mul, &ar, 3, &t1, NULL));
    CK(best_of(cw, b_mul, &ar, 3, &tw, NULL));
    {
        double f1 = t1 - P.run_overhead - 24.0 * N / P.mem_bw1, fw = tw - P.run_overhead - 24.0 * N / P.mem_bw;
        P.fresh_bw1 = clampd(8.0 * N / (f1 > 1e-6 ? f1 : 1e-6), 1e8, 1e12);
        P.fresh_bw = clampd(8.0 * N / (fw > 1e-6 ? fw : 1e-6), 1e8, 1e12);
        say(&C, "fresh result pages  %8.2f GB/s one core, %.2f GB/s all", P.fresh_bw1 / 1e9, P.fresh_bw / 1e9);
    }
    lp_array_release(B);
    B = NULL;
    /* .npy files in the page cache */
    if (mkdtemp(dir)) {
        have_dir = true;
        snprintf(path, sizeof path, "%s/a.npy", dir);
        lp_buffer *buf;
        CK(lp_buffer_create(c1, LP_FLOAT64, 1, &N, a, &buf));
        st = lp_save(c1, path, buf);
        lp_buffer_release(buf);
        CK(st);
        CK(lp_load(c1, path, &X));
        ar.a = X;
        CK(best_of(c1, b_sum, &ar, 3, &t1, NULL));
        CK(best_of(cw, b_sum, &ar, 3, &tw, NULL));
        double f1 = t1 - P.run_overhead - 8.0 * N / P.mem_bw1, fw = tw - P.run_overhead - 8.0 * N / P.mem_bw;
        P.file_bw1 = clampd(8.0 * N / (f1 > 1e-6 ? f1 : 1e-6), 1e8, 1e12);
        P.file_bw = clampd(8.0 * N / (fw > 1e-6 ? fw : 1e-6), P.file_bw1, 1e12);
        say(&C, "file read           %8.2f GB/s one core, %.2f GB/s all", P.file_bw1 / 1e9, P.file_bw / 1e9);
        lp_array_release(X);
        X = NULL;
    } else {
        say(&C, "file read           (no temporary directory; defaults kept)");
    }
    lp_array_release(A);
    A = NULL;
    /* flop rates, one core, in cache */
    CK(wrap(c1, small, M, &S));
    ar.a = S;
    int reps = quick ? 20 : 60;
    CK(best_of(c1, b_arith, &ar, reps, &t, NULL));
    double mem_small = 16.0 * M / P.mem_bw1 * 0.25; /* in cache: a quarter of the DRAM time, roughly */
    double base = P.run_overhead + P.task_overhead;
    P.rate[LPI_CC_ARITH] = clampd(16.0 * M / fmax(t - base - mem_small * 0, 1e-7), 1e7, 1e12);
    say(&C, "arithmetic          %8.2f Gflop/s per core", P.rate[LPI_CC_ARITH] / 1e9);
    CK(best_of(c1, b_math, &ar, reps, &t, NULL));
    P.rate[LPI_CC_MATH] = clampd(80.0 * M / fmax(t - base, 1e-7), 1e7, 1e12);
    say(&C, "transcendental      %8.2f Gflop/s per core (exp/sin count 20)", P.rate[LPI_CC_MATH] / 1e9);
    {
        /* a bigger in-cache array for the sum: it is fast */
        int64_t m4 = M;
        CK(best_of(c1, b_sum, &ar, reps, &t, NULL));
        double cast = 0.25 * m4 / P.rate[LPI_CC_ARITH];
        P.rate[LPI_CC_REDUCE] = clampd((double)m4 / fmax(t - base - cast, 2e-7), 1e7, 1e12);
        say(&C, "reduction           %8.2f Gflop/s per core", P.rate[LPI_CC_REDUCE] / 1e9);
    }
    {
        ar.n = M;
        ar.kind = 0;
        double tu, tn;
        CK(best_of(c1, b_random, &ar, reps, &tu, NULL));
        ar.kind = 1;
        CK(best_of(c1, b_random, &ar, reps, &tn, NULL));
        double ru = 20.0 * M / fmax(tu - base, 1e-7), rn = 40.0 * M / fmax(tn - base, 1e-7);
        P.rate[LPI_CC_GEN] = clampd(sqrt(ru * rn), 1e7, 1e12);
        say(&C, "creation (random)   %8.2f Gflop/s per core (uniform counts 20, normal 40)", P.rate[LPI_CC_GEN] / 1e9);
    }
    {
        const int n = quick ? 256 : 512;
        double *m1 = lp_malloc_aligned((size_t)n * n * 8), *m2 = lp_malloc_aligned((size_t)n * n * 8),
               *m3 = lp_malloc_aligned((size_t)n * n * 8);
        if (m1 && m2 && m3) {
            for (int i = 0; i < n * n; i++) { m1[i] = 1.0 / (i + 1); m2[i] = (double)(i % 7); }
            double bt = 1e30;
            for (int r = 0; r < 3; r++) {
                double s0 = lpi_now();
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, m1, n, m2, n, 0.0, m3, n);
                double d = lpi_now() - s0;
                if (d < bt) bt = d;
            }
            P.rate[LPI_CC_BLAS] = clampd(2.0 * n * n * n / bt / W, 1e8, 1e13);
            say(&C, "BLAS (dgemm)        %8.2f Gflop/s per core", P.rate[LPI_CC_BLAS] / 1e9);
        }
        lp_free_aligned(m1);
        lp_free_aligned(m2);
        lp_free_aligned(m3);
    }
    say(&C, "calibrated in %.1f s", lpi_now() - C.t0);
    lpi_profile_set(ctx, &P);
    if (!ctx->profile) st = lpi_nomem(ctx);
#undef CK
done:
    lp_array_release(A);
    lp_array_release(B);
    lp_array_release(S);
    lp_array_release(T);
    lp_array_release(X);
    lp_ctx_destroy(c1);
    lp_ctx_destroy(cw);
    lp_free_aligned(a);
    lp_free_aligned(b);
    lp_free_aligned(small);
    lp_free_aligned(tiny);
    if (*path) unlink(path);
    if (have_dir) rmdir(dir);
    return st;
}
