/* STREAM-style memory bandwidth reference for the benchmark harness (bench/harness.py).
 *
 *   triad:  a[i] = b[i] + s * c[i]     counted as 24 bytes per element (STREAM's convention:
 *                                      2 reads + 1 write, write-allocate traffic not counted)
 *   read:   s += a[i]                  8 bytes per element (the ceiling of a full reduction)
 *
 * Plain C, no OpenMP: each kernel runs on 1..T pthreads over disjoint contiguous slices, the
 * arrays are first touched by the thread that later uses its slice, and the best of R
 * repetitions is reported, as STREAM does. Output, one line per (kernel, threads):
 *
 *   triad threads=2 elems=67108864 bytes=1610612736 best_s=0.0421 gbps=38.25
 *
 * Usage: lampy-triad [-n ELEMS] [-r REPS] [-t MAXTHREADS]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

enum { K_INIT, K_TRIAD, K_READ };

typedef struct {
    double *a, *b, *c;
    int64_t lo, hi;
    int kind;
    double sum;
    pthread_barrier_t *bar;
    double t0, t1;
} job;

static void *work(void *arg) {
    job *j = arg;
    double *restrict a = j->a;
    const double *restrict b = j->b, *restrict c = j->c;
    const double s = 3.0;
    pthread_barrier_wait(j->bar);
    j->t0 = now();
    switch (j->kind) {
    case K_INIT:
        for (int64_t i = j->lo; i < j->hi; i++) { j->a[i] = 1.0; j->b[i] = 2.0; j->c[i] = 0.5; }
        break;
    case K_TRIAD:
        for (int64_t i = j->lo; i < j->hi; i++) a[i] = b[i] + s * c[i];
        break;
    case K_READ: {
        double acc[8] = {0};
        int64_t i = j->lo;
        for (; i + 8 <= j->hi; i += 8)
            for (int k = 0; k < 8; k++) acc[k] += a[i + k];
        for (; i < j->hi; i++) acc[0] += a[i];
        j->sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        break;
    }
    }
    j->t1 = now();
    return NULL;
}

/* Runs one kernel on nt threads (the caller is thread 0); returns wall seconds from the common
 * start to the last finish. */
static double run(int kind, int nt, double *a, double *b, double *c, int64_t n, double *sum) {
    pthread_t th[64];
    job jobs[64];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)nt);
    for (int t = 0; t < nt; t++) {
        jobs[t] = (job){a, b, c, n * t / nt, n * (t + 1) / nt, kind, 0, &bar, 0, 0};
        if (t && pthread_create(&th[t], NULL, work, &jobs[t]) != 0) {
            fprintf(stderr, "triad: cannot create thread %d\n", t);
            exit(1);
        }
    }
    work(&jobs[0]);
    double t0 = jobs[0].t0, t1 = jobs[0].t1, s = jobs[0].sum;
    for (int t = 1; t < nt; t++) {
        pthread_join(th[t], NULL);
        if (jobs[t].t0 < t0) t0 = jobs[t].t0;
        if (jobs[t].t1 > t1) t1 = jobs[t].t1;
        s += jobs[t].sum;
    }
    pthread_barrier_destroy(&bar);
    if (sum) *sum = s;
    return t1 - t0;
}

static double *alloc(int64_t n) {
    size_t bytes = (size_t)n * sizeof(double);
    size_t al = (size_t)2 << 20;
    void *p = NULL;
    if (posix_memalign(&p, al, (bytes + al - 1) & ~(al - 1)) != 0) return NULL;
    madvise(p, bytes, MADV_HUGEPAGE); /* as NumPy and Lampy do for large arrays */
    return p;
}

int main(int argc, char **argv) {
    int64_t n = (int64_t)64 << 20;
    int reps = 10, maxt = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc) n = atoll(argv[++i]);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc) maxt = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [-n ELEMS] [-r REPS] [-t MAXTHREADS]\n", argv[0]);
            return 2;
        }
    }
    if (n < 1024 || reps < 1 || maxt < 1 || maxt > 64) {
        fprintf(stderr, "triad: bad arguments\n");
        return 2;
    }
    double *a = alloc(n), *b = alloc(n), *c = alloc(n);
    if (!a || !b || !c) {
        fprintf(stderr, "triad: cannot allocate 3 x %lld doubles\n", (long long)n);
        return 1;
    }
    run(K_INIT, maxt, a, b, c, n, NULL);
    for (int nt = 1; nt <= maxt; nt++) {
        double best = 1e30, sum = 0;
        for (int r = 0; r < reps; r++) {
            double t = run(K_TRIAD, nt, a, b, c, n, NULL);
            if (t < best) best = t;
        }
        double bytes = 24.0 * (double)n;
        printf("triad threads=%d elems=%lld bytes=%.0f best_s=%.6f gbps=%.2f\n", nt, (long long)n,
               bytes, best, bytes / best / 1e9);
        best = 1e30;
        for (int r = 0; r < reps; r++) {
            double t = run(K_READ, nt, a, b, c, n, &sum);
            if (t < best) best = t;
        }
        bytes = 8.0 * (double)n;
        printf("read threads=%d elems=%lld bytes=%.0f best_s=%.6f gbps=%.2f check=%g\n", nt,
               (long long)n, bytes, best, bytes / best / 1e9, sum / (double)n);
        fflush(stdout);
    }
    free(a);
    free(b);
    free(c);
    return 0;
}
