/* The memory's rate on the caller's own arrays, in plain C on pthreads (no Lampy): a reference
 * taken in the same round, on the same pages, as the run it is compared with (the host's rate
 * moves within a minute; see docs/PERFORMANCE.md). Used by lampy-bench-stream2 and, through
 * ctypes (build/bench/liblampy-bench-mem.so), by bench/harness.py. */
#ifndef LAMPY_BENCH_MEMREF_H
#define LAMPY_BENCH_MEMREF_H
#include <stdint.h>

/* sum of a[0..n) (b NULL) or of a - b, eight lanes, on `threads` threads (each a contiguous
 * slice; the caller is one of them) */
double lpb_read(const double *a, const double *b, int64_t n, int threads);
/* STREAM's triad o = a + 3 b on `threads` threads (plain stores, as bench/triad.c) */
void lpb_triad(double *o, const double *a, const double *b, int64_t n, int threads);

#endif
