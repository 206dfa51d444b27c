/* See memref.h. The loops are bench/triad.c's, compiled for AVX2/AVX-512 too where the compiler
 * can (the reference should be the best plain C does, not a baseline SSE2 build). */
#include "memref.h"

#include <pthread.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MEMREF_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MEMREF_CLONES
#endif

MEMREF_CLONES static double read_slice(const double *restrict a, const double *restrict b, int64_t lo, int64_t hi) {
    double s[8] = {0};
    int64_t i = lo;
    if (b)
        for (; i + 8 <= hi; i += 8)
            for (int j = 0; j < 8; j++) s[j] += a[i + j] - b[i + j];
    else
        for (; i + 8 <= hi; i += 8)
            for (int j = 0; j < 8; j++) s[j] += a[i + j];
    for (; i < hi; i++) s[0] += b ? a[i] - b[i] : a[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

MEMREF_CLONES static void triad_slice(double *restrict o, const double *restrict a, const double *restrict b,
                                      int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) o[i] = a[i] + 3.0 * b[i];
}

typedef struct {
    double *o;
    const double *a, *b;
    int64_t lo, hi;
    double s;
} job;

static void *work(void *p) {
    job *j = p;
    if (j->o) triad_slice(j->o, j->a, j->b, j->lo, j->hi);
    else j->s = read_slice(j->a, j->b, j->lo, j->hi);
    return NULL;
}

enum { MAXT = 64 };

static double run(double *o, const double *a, const double *b, int64_t n, int nt) {
    pthread_t th[MAXT];
    job J[MAXT];
    if (nt < 1) nt = 1;
    if (nt > MAXT) nt = MAXT;
    for (int t = 0; t < nt; t++) J[t] = (job){o, a, b, n * t / nt, n * (t + 1) / nt, 0};
    int started = 1;
    for (; started < nt; started++)
        if (pthread_create(&th[started], NULL, work, &J[started])) break;
    work(&J[0]);
    for (int t = started; t < nt; t++) work(&J[t]); /* a thread that could not start: done here */
    double s = J[0].s;
    for (int t = 1; t < nt; t++) {
        if (t < started) pthread_join(th[t], NULL);
        s += J[t].s;
    }
    return s;
}

double lpb_read(const double *a, const double *b, int64_t n, int threads) { return run(NULL, a, b, n, threads); }

void lpb_triad(double *o, const double *a, const double *b, int64_t n, int threads) { run(o, a, b, n, threads); }
