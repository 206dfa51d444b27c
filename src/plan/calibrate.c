/* `lampy calibrate`: measure this machine with Lampy's own kernels (so the profile describes
 * what Lampy achieves, not a theoretical peak) and fit the cost model's parameters:
 *
 *   run overhead     a one-task expression, many times
 *   task overhead    a sum over ~10,000 tiny chunks, on all workers
 *   DRAM             sum(a*b) over arrays far larger than the caches, one worker and all
 *   fresh pages      a*b into a new result buffer (page faults), one worker and all
 *   cache            sum(a*b) over 2 MiB arrays, one worker
 *   file copy        sum(x) of a .npy file in the page cache, chunks small enough to stay cached
 *   flop rates       chains of arithmetic / transcendental ops, sums, outer-axis mean and var,
 *                    random numbers over 2 MiB arrays, one worker; dgemm for BLAS
 *
 * Each number is the best of a few runs; about 5-10 s on a small machine (--quick: ~2 s). A
 * busy machine makes every number pessimistic: calibrate when it is idle. */
#include "plan/cost.h"
#include "exec/pool.h"

#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
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

/* ---- raw memory probes (plain C on threads): what the memory system gives ---- */

typedef struct probe {
    double *dst;
    const double *src;
    int64_t n;
    int kind;      /* 0 read (sum), 1 copy with normal stores, 2 write with normal stores */
    int reps;
    double sink;
} probe;

static void *probe_main(void *arg) {
    probe *p = arg;
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int r = 0; r < p->reps; r++) {
        if (p->kind == 0) {
            const double *x = p->src;
            for (int64_t i = 0; i + 4 <= p->n; i += 4) { s0 += x[i]; s1 += x[i + 1]; s2 += x[i + 2]; s3 += x[i + 3]; }
        } else if (p->kind == 1) {
            /* the multiply keeps the compiler from turning this into memcpy (streaming stores) */
            for (int64_t i = 0; i < p->n; i++) p->dst[i] = p->src[i] * 1.0000001;
        } else {
            for (int64_t i = 0; i < p->n; i++) p->dst[i] = (double)i;
        }
        __asm__ volatile("" ::: "memory");
    }
    p->sink = s0 + s1 + s2 + s3;
    return NULL;
}

/* Seconds for nt threads each doing `kind` over its slice of n elements (best of 3). */
static double probe_time(int nt, int kind, double *dst, const double *src, int64_t n, int reps) {
    double best = 1e30;
    for (int k = 0; k < 3; k++) {
        pthread_t th[64];
        probe pr[64];
        if (nt > 64) nt = 64;
        int64_t per = n / nt;
        double t0 = lpi_now();
        int started = 0;
        for (int i = 0; i < nt; i++) {
            pr[i] = (probe){dst ? dst + i * per : NULL, src ? src + i * per : NULL, per, kind, reps, 0};
            if (i == 0 || pthread_create(&th[i], NULL, probe_main, &pr[i]) == 0) started = i + 1;
            else break;
        }
        probe_main(&pr[0]);
        for (int i = 1; i < started; i++) pthread_join(th[i], NULL);
        double t = lpi_now() - t0;
        if (t < best) best = t;
    }
    return best;
}

static lp_status b_mean_axis(lp_ctx *ctx, void *p, lp_array **out) {
    args *A = p;
    int ax = 0;
    return lp_reduce_ddof(ctx, A->kind ? "var" : "mean", A->a, &ax, 1, false, 0, out);
}

lp_status lp_calibrate(lp_ctx *ctx, double max_seconds, void (*log)(void *, const char *), void *log_arg) {
    cal C = {log, log_arg, lpi_now(), max_seconds > 0 ? max_seconds : 30};
    const int W = lpi_ncores();
    lpi_profile P;
    lpi_profile_default(&P);
    P.cores = W;
    P.calibrated = true;
    machine_name(P.machine, sizeof P.machine, W);
    say(&C, "machine: %s, last-level cache %.0f MiB", P.machine, P.llc_bytes / (1 << 20));
    const bool quick = C.budget < 12;
    const int64_t N = quick ? (int64_t)8 << 20 : (int64_t)32 << 20; /* DRAM arrays: 64 or 256 MiB each */
    const int64_t M = 256 << 10;                                        /* cache arrays: 2 MiB */
    lp_ctx *c1 = NULL, *cw = NULL;
    double *a = NULL, *b = NULL, *tiny = NULL;
    lp_array *S = NULL, *T = NULL;
    char dir[] = "/tmp/lampy-calibrate-XXXXXX", path[64] = "";
    bool have_dir = false;
    lp_status st;
    if ((st = lp_ctx_create(&c1)) || (st = lp_ctx_create(&cw)) || (st = lp_ctx_set_threads(c1, 1))) {
        st = lpi_error(ctx, st, "calibrate: cannot create a context");
        goto done;
    }
    a = lp_malloc_aligned((size_t)N * 8);
    b = lp_malloc_aligned((size_t)N * 8);
    tiny = lp_malloc_aligned(80000 * 8);
    if (!a || !b || !tiny) { st = lpi_nomem(ctx); goto done; }
    for (int64_t i = 0; i < N; i++) { a[i] = (double)(i & 1023) * 1e-3; b[i] = 1.0 - a[i]; }
    for (int64_t i = 0; i < 80000; i++) tiny[i] = 1.0;
#define CK(call) do { if ((st = (call))) { st = lpi_error(ctx, st, "calibrate: %s", lp_last_error(c1)[0] ? lp_last_error(c1) : lp_last_error(cw)); goto done; } } while (0)
    double t;
    int64_t ntasks = 0;
    args ar = {0};
    const int reps = quick ? 5 : 15;

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
        say(&C, "task overhead       %8.2f us  (%lld tasks in %.2f ms on %d workers)", P.task_overhead * 1e6,
            (long long)ntasks, t * 1e3, W);
        lp_array_release(T);
        T = NULL;
    }
    /* DRAM: plain reads, copies and first writes over arrays far larger than the caches */
    {
        double r1 = probe_time(1, 0, NULL, a, N, 1), rw = probe_time(W, 0, NULL, a, N, 1);
        P.mem_bw1 = clampd(8.0 * N / r1, 1e8, 1e12);
        P.mem_bw = clampd(8.0 * N / rw, P.mem_bw1, 1e12);
        say(&C, "memory reads        %8.2f GB/s one core, %.2f GB/s all %d", P.mem_bw1 / 1e9, P.mem_bw / 1e9, W);
        double cw_ = probe_time(W, 1, b, a, N, 1);
        P.write_factor = clampd((cw_ * P.mem_bw / (8.0 * N)) - 1, 0.5, 4);
        say(&C, "memory writes       %8.2f x the cost of a read (copy %.1f ms)", P.write_factor, cw_ * 1e3);
        /* fresh pages: the first write into new memory (as a result buffer is) against a second one */
        for (int pass = 0; pass < 2; pass++) {
            int nt = pass ? W : 1;
            double *f = lp_malloc_aligned((size_t)N * 8);
            if (!f) { st = lpi_nomem(ctx); goto done; }
            double t0 = lpi_now();
            probe_time(1, 2, f, NULL, 0, 0); /* warm the thread start-up path */
            pthread_t th[64];
            probe pr[64];
            int64_t per = N / nt;
            t0 = lpi_now();
            for (int i = 1; i < nt && i < 64; i++) {
                pr[i] = (probe){f + i * per, NULL, per, 2, 1, 0};
                pthread_create(&th[i], NULL, probe_main, &pr[i]);
            }
            pr[0] = (probe){f, NULL, per, 2, 1, 0};
            probe_main(&pr[0]);
            for (int i = 1; i < nt && i < 64; i++) pthread_join(th[i], NULL);
            double tf = lpi_now() - t0, tw2 = probe_time(nt, 2, f, NULL, N, 1);
            lp_free_aligned(f);
            double fb = clampd(8.0 * N / fmax(tf - tw2, 8.0 * N / 1e11), 1e8, 1e11);
            if (pass) P.fresh_bw = fmax(fb, P.fresh_bw1);
            else P.fresh_bw1 = fb;
        }
        say(&C, "fresh pages         %8.2f GB/s one core, %.2f GB/s all", P.fresh_bw1 / 1e9, P.fresh_bw / 1e9);
        /* the last-level cache: reads of a 2 MiB array, over and over */
        double tc = probe_time(1, 0, NULL, a, M, 64);
        P.cache_bw1 = clampd(8.0 * M * 64 / tc, P.mem_bw1, 1e12);
        say(&C, "cache reads         %8.2f GB/s one core", P.cache_bw1 / 1e9);
    }
    /* .npy data out of the page cache: pread into a cache-sized buffer */
    if (mkdtemp(dir)) {
        have_dir = true;
        snprintf(path, sizeof path, "%s/a.bin", dir);
        int64_t nf = N / 4;
        FILE *f = fopen(path, "wb");
        bool ok = f && fwrite(a, 8, (size_t)nf, f) == (size_t)nf;
        if (f) ok &= fclose(f) == 0;
        int fd = ok ? open(path, O_RDONLY) : -1;
        double *buf = lp_malloc_aligned(512 << 10);
        if (fd >= 0 && buf) {
            double best = 1e30;
            for (int r = 0; r < 3; r++) {
                double t0 = lpi_now();
                for (off_t o = 0; o < (off_t)nf * 8; o += 512 << 10)
                    if (pread(fd, buf, 512 << 10, o) <= 0) break;
                double d = lpi_now() - t0;
                if (d < best) best = d;
            }
            P.copy_bw1 = clampd(8.0 * nf / best, 1e8, 1e12);
            say(&C, "file copy           %8.2f GB/s one core (pread from the page cache)", P.copy_bw1 / 1e9);
        }
        if (fd >= 0) close(fd);
        lp_free_aligned(buf);
    } else {
        say(&C, "file copy           (no temporary directory; default kept)");
    }
    /* the in-cache arrays of the flop-rate runs, one chunk each */
    CK(wrap(c1, a, M, &S));
    CK(lp_ctx_set_chunk_bytes(c1, 64 << 20));
    double base = P.run_overhead + P.task_overhead;
    /* flop rates: one core, 2 MiB arrays (in cache) */
    ar.a = S;
    CK(best_of(c1, b_arith, &ar, reps, &t, NULL));
    P.rate[LPI_CC_ARITH] = clampd(16.0 * M / fmax(t - base, 1e-7), 1e7, 1e12);
    say(&C, "arithmetic          %8.2f Gflop/s per core", P.rate[LPI_CC_ARITH] / 1e9);
    CK(best_of(c1, b_math, &ar, reps, &t, NULL));
    P.rate[LPI_CC_MATH] = clampd(80.0 * M / fmax(t - base, 1e-7), 1e7, 1e12);
    say(&C, "transcendental      %8.2f Gflop/s per core (exp, sin count 20)", P.rate[LPI_CC_MATH] / 1e9);
    CK(best_of(c1, b_sum, &ar, reps * 4, &t, NULL));
    P.rate[LPI_CC_REDUCE] = clampd((double)M / fmax(t - base - 0.25 * M / P.rate[LPI_CC_ARITH], 1e-7), 1e7, 1e12);
    say(&C, "reduction           %8.2f Gflop/s per core (sum)", P.rate[LPI_CC_REDUCE] / 1e9);
    {
        /* outer-axis reductions: mean over (M/8, 8) (1 flop) and var over (M/64, 64) (4 flops) */
        lp_array *R8 = NULL, *R64 = NULL;
        int64_t s8[2] = {M / 8, 8}, s64[2] = {M / 64, 64};
        double tm, tv;
        CK(lp_reshape(c1, S, 2, s8, &R8));
        st = lp_reshape(c1, S, 2, s64, &R64);
        if (st) { lp_array_release(R8); CK(st); }
        /* the reshapes are flat copies: compute them once */
        lp_buffer *rb8 = NULL, *rb64 = NULL;
        lp_array *W8 = NULL, *W64 = NULL;
        lp_array *both[2] = {R8, R64};
        lp_buffer *rbs[2];
        st = lp_run(c1, both, 2, rbs);
        if (!st) { rb8 = rbs[0]; rb64 = rbs[1]; st = lp_from_buffer(c1, rb8, &W8); }
        if (!st) st = lp_from_buffer(c1, rb64, &W64);
        lp_array_release(R8);
        lp_array_release(R64);
        lp_buffer_release(rb8);
        lp_buffer_release(rb64);
        if (!st) { ar.a = W8; ar.kind = 0; st = best_of(c1, b_mean_axis, &ar, reps, &tm, NULL); }
        if (!st) { ar.a = W64; ar.kind = 1; st = best_of(c1, b_mean_axis, &ar, reps, &tv, NULL); }
        lp_array_release(W8);
        lp_array_release(W64);
        CK(st);
        double rm = (double)M / fmax(tm - base, 1e-7), rv = 4.0 * M / fmax(tv - base, 1e-7);
        P.rate[LPI_CC_REDUCE_AXIS] = clampd(sqrt(rm * rv), 1e7, 1e12);
        say(&C, "axis reduction      %8.2f Gflop/s per core (mean(axis=0) %.2f, var(axis=0) %.2f)",
            P.rate[LPI_CC_REDUCE_AXIS] / 1e9, rm / 1e9, rv / 1e9);
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
    lp_array_release(S);
    lp_array_release(T);
    lp_ctx_destroy(c1);
    lp_ctx_destroy(cw);
    lp_free_aligned(a);
    lp_free_aligned(b);
    lp_free_aligned(tiny);
    if (*path) unlink(path);
    if (have_dir) rmdir(dir);
    return st;
}
