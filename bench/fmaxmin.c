/* fmax/fmin's loops in cache (rev17): Lampy's float64 and float32 loops (lpi_loops: compares and
 * a select) against the same loop calling libm's fmax per element (what they were before), in
 * one process, interleaved trial by trial, one thread, CPU time — an A/B that the shared
 * machine's memory bandwidth and load move little. Operands: N elements (default 64K: 512 KiB
 * per float64 operand) with NaNs and pairs of -0.0 and +0.0 sprinkled in; the results must be
 * equal as values. (Not in a zero's sign: GCC treats fmax as commutative and may pass the
 * operands to libm swapped, so the old loops' sign of fmax(-0.0, +0.0) was the compiler's.)
 *
 * Usage: lampy-bench-fmax [-n ELEMS] [-r TRIALS] [-m MIN_SECONDS_PER_TRIAL]
 * Links liblampy.a: the loop table is internal (lpi_). */
#include "lampy.h"
#include "kernels/loops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* the loops as they were: a libm call per element (contiguous case only) */
#define LIBM_LOOP(NAME, T, F)                                                  \
    static void NAME(char **a, int64_t n, const int64_t *s, int *e) {          \
        (void)s, (void)e;                                                      \
        const T *x = (const T *)a[0], *y = (const T *)a[1];                    \
        T *o = (T *)a[2];                                                      \
        for (int64_t i = 0; i < n; i++) o[i] = F(x[i], y[i]);                  \
    }
LIBM_LOOP(libm_fmax_f64, double, fmax)
LIBM_LOOP(libm_fmin_f64, double, fmin)
LIBM_LOOP(libm_fmax_f32, float, fmaxf)
LIBM_LOOP(libm_fmin_f32, float, fminf)

/* ns per element of one trial: repetitions until min_s of CPU time */
static double trial(lpi_loop_fn f, char **args, int64_t n, const int64_t *steps, double min_s) {
    int err = 0;
    int64_t reps = 0;
    double t0 = cpu_now(), t;
    do {
        for (int k = 0; k < 16; k++) f(args, n, steps, &err);
        reps += 16;
    } while ((t = cpu_now() - t0) < min_s);
    return t / (double)reps / (double)n * 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int64_t n = 64 << 10;
    int trials = 9;
    double min_s = 0.05;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc) n = atoll(argv[++i]);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc) trials = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-m") && i + 1 < argc) min_s = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [-n ELEMS] [-r TRIALS] [-m MIN_SECONDS_PER_TRIAL]\n", argv[0]);
            return 2;
        }
    }
    if (n < 16 || trials < 1 || trials > 99 || !(min_s > 0)) return 2;
    double *x = malloc((size_t)n * 8), *y = malloc((size_t)n * 8), *o1 = malloc((size_t)n * 8), *o2 = malloc((size_t)n * 8);
    if (!x || !y || !o1 || !o2) return 1;
    uint64_t r = 88172645463325252ULL;
    for (int64_t i = 0; i < n; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        x[i] = (double)(r >> 11) * 0x1.0p-53 - 0.5;
        y[i] = (double)((r * 0x2545F4914F6CDD1DULL) >> 11) * 0x1.0p-53 - 0.5;
        if (i % 97 == 0) x[i] = NAN;
        if (i % 89 == 0) { x[i] = -0.0; y[i] = 0.0; }
    }
    static const struct { const char *name; lpi_op op; lp_dtype dt; lpi_loop_fn libm; } ROWS[] = {
        {"fmax f64", LPI_OP_FMAX, LP_FLOAT64, libm_fmax_f64}, {"fmin f64", LPI_OP_FMIN, LP_FLOAT64, libm_fmin_f64},
        {"fmax f32", LPI_OP_FMAX, LP_FLOAT32, libm_fmax_f32}, {"fmin f32", LPI_OP_FMIN, LP_FLOAT32, libm_fmin_f32},
    };
    printf("%lld elements, %d trials of >= %.2f s CPU each, interleaved; ns/element best / median\n", (long long)n,
           trials, min_s);
    for (size_t k = 0; k < sizeof ROWS / sizeof ROWS[0]; k++) {
        const bool f32 = ROWS[k].dt == LP_FLOAT32;
        const int64_t es = f32 ? 4 : 8, steps[3] = {es, es, es};
        char *xs = (char *)x, *ys = (char *)y;
        float *xf = NULL, *yf = NULL;
        if (f32) {
            xf = malloc((size_t)n * 4), yf = malloc((size_t)n * 4);
            if (!xf || !yf) return 1;
            for (int64_t i = 0; i < n; i++) xf[i] = (float)x[i], yf[i] = (float)y[i];
            xs = (char *)xf, ys = (char *)yf;
        }
        char *a1[3] = {xs, ys, (char *)o1}, *a2[3] = {xs, ys, (char *)o2};
        lpi_loop_fn mine = lpi_loops[ROWS[k].op][ROWS[k].dt];
        double tm[99], tl[99];
        for (int t = 0; t < trials; t++) {
            tm[t] = trial(mine, a1, n, steps, min_s);
            tl[t] = trial(ROWS[k].libm, a2, n, steps, min_s);
        }
        for (int64_t i = 0; i < n; i++) {
            double a = f32 ? xf[i] : x[i], b = f32 ? yf[i] : y[i], g = f32 ? ((float *)o1)[i] : o1[i],
                   w = f32 ? ((float *)o2)[i] : o2[i];
            if (!(g == w || (g != g && w != w))) {
                fprintf(stderr, "fmaxmin: %s(%g, %g): lampy %g, libm %g (element %lld)\n", ROWS[k].name, a, b, g, w,
                        (long long)i);
                return 1;
            }
        }
        qsort(tm, (size_t)trials, sizeof *tm, cmp_double);
        qsort(tl, (size_t)trials, sizeof *tl, cmp_double);
        printf("%-9s  lampy %.3f / %.3f   libm call %.3f / %.3f   (%.1fx by medians)\n", ROWS[k].name, tm[0],
               tm[trials / 2], tl[0], tl[trials / 2], tl[trials / 2] / tm[trials / 2]);
        free(xf);
        free(yf);
    }
    free(x), free(y), free(o1), free(o2);
    return 0;
}
