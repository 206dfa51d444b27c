/* Two-input streaming reductions, one process, variants interleaved round by round (issue 16,
 * w3 behind JAX): where does sum(a-b) lose against the same loop in C? Inputs are mmap'd
 * (madvise(MADV_HUGEPAGE) unless -H 0), so the Python layer is out of the picture. With -w w1
 * the same rows for the elementwise w1 `a*b + c*2 - a` (three inputs, a streamed output; see
 * below). Rows:
 *
 *   c      a hand-written loop: subtract (or w3: subtract, square) into an L1 block of 1024,
 *          then lpi_sum8_runs (the VM's fold before the fold loops, the same bits)
 *   vm     lpi_vm_reduce over the whole array in one call (the VM, no tasks)
 *   vm0    the same with the fold as its own loop over a staging block (lpi_vm_set_fold(false))
 *   lp     lp_run of sum(a-b) (w3: sum((a-b)**2)) with the context's threads and chunk size
 *   lp0    the same with the fold as its own loop
 *   sum    lp_run of sum(a) (one input, the single-stream reference)
 *   rd     a plain C read of a on THREADS pthreads, each its contiguous slice (bench/memref.c,
 *          triad.c's read kernel): the memory's rate at this moment, beside sum
 *   rd2    the same over a and b together (sum of a - b): the floor beside lp/vm
 * When rd and sum (or rd2 and lp) both run, the median of the per-round ratios is printed too:
 * the host's memory rate moves from minute to minute (1.7x within one on this VM), so only a
 * ratio taken in the same round says how far Lampy is from what the memory gives.
 *
 * -w w1: c is one fused loop with non-temporal stores (the floor); vm is lpi_vm_run into an
 * output mapping faulted in beforehand, its last step `- a` storing non-temporally itself (the
 * stream loops); vm0 the same with that step into the staging block and its non-temporal copy
 * (lpi_vm_set_stream_last(false)); lp and lp0 the same two through lp_run (a fresh output
 * each run, as the harness has it). The VM's outputs with and without the stream loops are
 * checked bit for bit against each other and the C expression first.
 *
 * Wall time per row: best and median over the rounds; GB/s counts the input bytes (w1: and the
 * output's).
 * Every row runs on a pair of inputs at their page start and, with -o OFF > 0 (default 16), on
 * the same memory OFF bytes further on (@OFF): an offset A/B on the same pages.
 * Usage: lampy-bench-stream2 [-n ELEMS] [-o OFFSET_BYTES] [-H 0|1] [-c CHUNK_BYTES] [-t THREADS]
 *                            [-r ROUNDS] [-w sub|w3|w1] [-x ROWS (comma list)]
 * Links liblampy.a (the VM is an internal entry point). Not a test: timings only. */
#include "lampy.h"
#include "kernels/kernels.h"
#include "kernels/loops.h"
#include "vm_w1.h"
#include "memref.h"

#include <emmintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double *map_input(int64_t n, int64_t off, bool huge) {
    size_t bytes = (size_t)(n * 8 + off + 4096);
    char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    if (huge) madvise(m, bytes, MADV_HUGEPAGE);
    return (double *)(m + off);
}

enum { W_SUB, W_SQ, W_W1 };

/* the VM's work by hand: block of 1024 from both inputs, then the eight-lane fold of 256-pieces */
LPI_CLONES static double c_loop(int w, const double *restrict a, const double *restrict b, int64_t n) {
    static double blk[1024] __attribute__((aligned(64)));
    double acc = 0;
    for (int64_t o = 0; o < n; o += 1024) {
        int64_t m = n - o < 1024 ? n - o : 1024;
        const double *x = a + o, *y = b + o;
        if (w == W_SUB) for (int64_t i = 0; i < m; i++) blk[i] = x[i] - y[i];
        else for (int64_t i = 0; i < m; i++) { double d = x[i] - y[i]; blk[i] = d * d; }
        acc = lpi_sum8_runs(acc, blk, m, LPI_VM_BLOCK);
    }
    return acc;
}

/* w1 as one loop: ordinary stores up to the output's first cache line, then non-temporal ones */
LPI_CLONES static void c_w1(const double *a, const double *b, const double *c, double *o, int64_t n) {
    int64_t i = 0;
    for (; i < n && ((uintptr_t)(o + i) & 63) != 0; i++) o[i] = a[i] * b[i] + c[i] * 2.0 - a[i];
    const __m128d two = _mm_set1_pd(2.0);
    for (; i + 2 <= n; i += 2) {
        const __m128d x = _mm_loadu_pd(a + i), y = _mm_loadu_pd(b + i), z = _mm_loadu_pd(c + i);
        _mm_stream_pd(o + i, _mm_sub_pd(_mm_add_pd(_mm_mul_pd(x, y), _mm_mul_pd(z, two)), x));
    }
    for (; i < n; i++) o[i] = a[i] * b[i] + c[i] * 2.0 - a[i];
    _mm_sfence();
}

typedef struct {
    const char *name;
    double t[64];
} row;

int main(int argc, char **argv) {
    int64_t n = 64 << 20, off = 16, chunk = 0;
    int huge = 1, threads = 1, rounds = 7, w = W_SUB;
    const char *rows_sel = "c,vm,vm0,lp,lp0,sum";
    /* rd, rd2: plain C reads beside sum and lp (not in the default rows) */
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-n")) n = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "-o")) off = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "-H")) huge = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-c")) chunk = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "-t")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-r")) rounds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-w")) w = !strcmp(argv[i + 1], "w3") ? W_SQ : !strcmp(argv[i + 1], "w1") ? W_W1 : W_SUB;
        else if (!strcmp(argv[i], "-x")) rows_sel = argv[i + 1];
        else {
            fprintf(stderr, "usage: lampy-bench-stream2 [-n ELEMS] [-o OFF] [-H 0|1] [-c CHUNK_BYTES] [-t THREADS] "
                            "[-r ROUNDS] [-w sub|w3|w1] [-x c,vm,vm0,lp,lp0,sum,rd,rd2]\n");
            return 2;
        }
    }
    if (n < 1024 || off < 0 || off % 8 || rounds < 1 || rounds > 64) {
        fprintf(stderr, "lampy-bench-stream2: bad -n/-o/-r\n");
        return 2;
    }
    /* pair 0 starts at its page; pair 1 (when OFF > 0) is the same memory OFF bytes further on.
     * The same pages matter: two mappings of the same size streamed 10-25% apart on this VM
     * whatever their offset (where the host placed them), which once looked like an alignment
     * effect. */
    const int npairs = off ? 2 : 1;
    double *pa[2], *pb[2], *pc[2] = {NULL, NULL}, *po[2] = {NULL, NULL};
    const int64_t extra = (off + 7) / 8;
    pa[0] = map_input(n + extra, 0, huge);
    pb[0] = map_input(n + extra, 0, huge);
    if (w == W_W1) {
        pc[0] = map_input(n + extra, 0, huge);
        po[0] = map_input(n + extra, 0, huge);
        if (!pc[0] || !po[0]) { fprintf(stderr, "mmap failed\n"); return 1; }
    }
    if (!pa[0] || !pb[0]) { fprintf(stderr, "mmap failed\n"); return 1; }
    for (int64_t i = 0; i < n + extra; i++) {
        pa[0][i] = (double)(i % 1000) * 0.001;
        pb[0][i] = (double)(i % 777) * 0.002;
        if (pc[0]) pc[0][i] = (double)(i % 333) * 0.003;
        if (po[0]) po[0][i] = 0; /* faulted in before the rounds */
    }
    pa[1] = (double *)((char *)pa[0] + off);
    pb[1] = (double *)((char *)pb[0] + off);
    if (w == W_W1) {
        pc[1] = (double *)((char *)pc[0] + off);
        po[1] = (double *)((char *)po[0] + off);
    }
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) || lp_ctx_set_threads(ctx, threads) || (chunk && lp_ctx_set_chunk_bytes(ctx, (size_t)chunk))) {
        fprintf(stderr, "context: %s\n", lp_last_error(ctx));
        return 1;
    }
    lp_array *A[2] = {NULL, NULL}, *B[2] = {NULL, NULL}, *C[2] = {NULL, NULL}, *two = NULL;
    for (int p = 0; p < npairs; p++)
        if (lp_wrap(ctx, pa[p], LP_FLOAT64, 1, &n, NULL, NULL, NULL, &A[p]) ||
            lp_wrap(ctx, pb[p], LP_FLOAT64, 1, &n, NULL, NULL, NULL, &B[p]) ||
            (w == W_W1 && lp_wrap(ctx, pc[p], LP_FLOAT64, 1, &n, NULL, NULL, NULL, &C[p]))) {
            fprintf(stderr, "wrap: %s\n", lp_last_error(ctx));
            return 1;
        }
    if (w == W_W1 && lp_scalar_array(ctx, lp_scalar_f(2.0), &two)) return 1;
    /* the program the planner fuses: inputs 0, 1; temporaries from 2 */
    lp_dtype dt[4] = {LP_FLOAT64, LP_FLOAT64, LP_FLOAT64, LP_FLOAT64};
    lpi_instr ins[2] = {
        {LPI_OP_SUBTRACT, LP_FLOAT64, 2, 2, {0, 1, 0}},
        {LPI_OP_MULTIPLY, LP_FLOAT64, 2, 3, {2, 2, 0}},
    };
    lpi_program prog = {2, 0, w == W_SQ ? 4 : 3, w == W_SQ ? 2 : 1, w == W_SQ ? 3 : 2, dt, NULL, ins};
    bench_w1 w1;
    bench_w1_init(&w1);
    /* w1's VM run: last step storing non-temporally itself (stream_last) or through the block */
#define W1_VM(p, stream_last)                                                                          \
    do {                                                                                               \
        lpi_view ops1[3] = {{(char *)pa[p], LP_FLOAT64, 1, {n}, {8}}, {(char *)pb[p], LP_FLOAT64, 1, {n}, {8}}, \
                            {(char *)pc[p], LP_FLOAT64, 1, {n}, {8}}};                                 \
        lpi_view o1 = {(char *)po[p], LP_FLOAT64, 1, {n}, {8}};                                         \
        lpi_vm_set_stream_last(stream_last);                                                           \
        if (lpi_vm_run(ctx, &w1.p, 1, &n, ops1, &o1)) return 1;                                        \
    } while (0)
    if (w == W_W1) {
        /* the bits: the stream loops' output, the staging block's, and C's expression */
        for (int p = 0; p < npairs; p++) {
            W1_VM(p, false);
            double *keep = malloc((size_t)n * 8);
            if (!keep) return 1;
            memcpy(keep, po[p], (size_t)n * 8);
            W1_VM(p, true);
            for (int64_t i = 0; i < n; i++) {
                const double e = pa[p][i] * pb[p][i] + pc[p][i] * 2.0 - pa[p][i];
                if (memcmp(&po[p][i], &keep[i], 8) || memcmp(&e, &keep[i], 8)) {
                    fprintf(stderr, "w1 @%lld: element %lld differs\n", (long long)(p ? off : 0), (long long)i);
                    return 1;
                }
            }
            free(keep);
        }
    }
    /* the chunk the planner picks for a-b */
    int64_t ch[1];
    {
        lp_array *D;
        if (lp_binary(ctx, "subtract", A[0], B[0], &D) || lp_array_chunks(ctx, D, ch)) return 1;
        lp_array_release(D);
    }

    const char *names[8] = {"c", "vm", "vm0", "lp", "lp0", "sum", "rd", "rd2"};
    row rows[16];
    int nrows = 0, which[16], pair[16];
    char sel[256];
    snprintf(sel, sizeof sel, ",%s,", rows_sel);
    for (int k = 0; k < 8; k++) {
        char pat[16];
        snprintf(pat, sizeof pat, ",%s,", names[k]);
        if (!strstr(sel, pat)) continue;
        for (int p = 0; p < npairs; p++) {
            which[nrows] = k;
            pair[nrows] = p;
            rows[nrows++].name = names[k];
        }
    }
    double results[16] = {0};
    for (int r = 0; r < rounds; r++) {
        for (int q = 0; q < nrows; q++) {
            /* rotate the order each round: no row always follows the same one */
            const int k = (q + r) % nrows, p = pair[k];
            const double *a = pa[p], *b = pb[p];
            /* vm0, lp0: the last step and the fold (w1: the output's store) as two loops (the
             * staging block) */
            const bool two_loops = which[k] == 2 || which[k] == 4;
            lpi_vm_set_fold(!two_loops);
            lpi_vm_set_stream_last(!two_loops);
            double t0 = now(), v = 0;
            if (which[k] >= 6) {
                v = lpb_read(a, which[k] == 7 ? b : NULL, n, threads);
                rows[k].t[r] = now() - t0;
                results[k] = v;
                continue;
            }
            if (w == W_W1 && which[k] != 5) {
                if (which[k] == 0) c_w1(a, b, pc[p], po[p], n);
                else if (which[k] <= 2) W1_VM(p, !two_loops);
                else {
                    lp_array *t1 = NULL, *t2 = NULL, *t3 = NULL, *T = NULL;
                    lp_buffer *out;
                    if (lp_binary(ctx, "multiply", A[p], B[p], &t1) || lp_binary(ctx, "multiply", C[p], two, &t2) ||
                        lp_binary(ctx, "add", t1, t2, &t3) || lp_binary(ctx, "subtract", t3, A[p], &T))
                        return 1;
                    lp_status rs = lp_run(ctx, &T, 1, &out);
                    lp_array_release(T);
                    lp_array_release(t3);
                    lp_array_release(t2);
                    lp_array_release(t1);
                    if (rs) {
                        fprintf(stderr, "run: %s\n", lp_last_error(ctx));
                        return 1;
                    }
                    v = ((double *)lp_buffer_data(out))[n / 3];
                    lp_buffer_release(out);
                }
                if (which[k] <= 2) v = po[p][n / 3];
                rows[k].t[r] = now() - t0;
                results[k] = v;
                continue;
            }
            switch (which[k]) {
            case 0: v = c_loop(w, a, b, n); break;
            case 1: case 2: {
                lpi_view ops[2] = {{(char *)a, LP_FLOAT64, 1, {n}, {8}}, {(char *)b, LP_FLOAT64, 1, {n}, {8}}};
                lpi_view acc = {(char *)&v, LP_FLOAT64, 1, {n}, {0}};
                if (lpi_vm_reduce(ctx, &prog, 1, &n, ops, &acc, LPI_OP_SUM, true)) return 1;
                break;
            }
            case 3: case 4: case 5: {
                /* a fresh expression each time: a computed array keeps its result */
                lp_array *D = NULL, *E = NULL, *T = NULL;
                lp_buffer *out;
                if (which[k] == 5) {
                    if (lp_reduce(ctx, "sum", A[p], NULL, 0, false, &T)) return 1;
                } else if (lp_binary(ctx, "subtract", A[p], B[p], &D) ||
                           (w == W_SQ && lp_binary(ctx, "multiply", D, D, &E)) ||
                           lp_reduce(ctx, "sum", E ? E : D, NULL, 0, false, &T)) {
                    return 1;
                }
                lp_status rs = lp_run(ctx, &T, 1, &out);
                lp_array_release(T);
                lp_array_release(E);
                lp_array_release(D);
                if (rs) {
                    fprintf(stderr, "run: %s\n", lp_last_error(ctx));
                    return 1;
                }
                v = *(double *)lp_buffer_data(out);
                lp_buffer_release(out);
                break;
            }
            }
            rows[k].t[r] = now() - t0;
            results[k] = v;
        }
    }
    lpi_vm_set_fold(true);
    lpi_vm_set_stream_last(true);
    printf("n=%lld huge %d threads %d chunk %lld elems, %s, %d rounds interleaved\n", (long long)n, huge, threads,
           (long long)ch[0], w == W_SQ ? "sum((a-b)**2)" : w == W_W1 ? "a*b + c*2 - a" : "sum(a-b)", rounds);
    /* same-round ratios: sum against rd, lp against rd2 (per offset) */
    for (int k = 0; k < nrows; k++) {
        const int ref = which[k] == 5 ? 6 : which[k] == 3 && w != W_W1 ? 7 : -1;
        for (int k2 = 0; ref >= 0 && k2 < nrows; k2++) {
            if (which[k2] != ref || pair[k2] != pair[k]) continue;
            double ratio[64];
            for (int r = 0; r < rounds; r++) ratio[r] = rows[k2].t[r] / rows[k].t[r];
            qsort(ratio, (size_t)rounds, sizeof(double), cmp_d);
            printf("%s/%s @%lld: the memory's rate reached, same round: median %.2f  (min %.2f, max %.2f)\n",
                   names[ref], names[which[k]], (long long)(pair[k] ? off : 0), ratio[rounds / 2], ratio[0],
                   ratio[rounds - 1]);
        }
    }
    for (int k = 0; k < nrows; k++) {
        qsort(rows[k].t, (size_t)rounds, sizeof(double), cmp_d);
        double best = rows[k].t[0], med = rows[k].t[rounds / 2];
        double gb = (which[k] == 5 || which[k] == 6 ? 8.0 : w == W_W1 ? 32.0 : 16.0) * (double)n / 1e9;
        printf("%-4s @%-4lld best %7.1f ms  median %7.1f ms  %5.1f GB/s  (%.17g)\n", rows[k].name,
               (long long)(pair[k] ? off : 0), best * 1e3, med * 1e3, gb / best, results[k]);
    }
    for (int p = 0; p < npairs; p++) {
        lp_array_release(A[p]);
        lp_array_release(B[p]);
        lp_array_release(C[p]);
    }
    lp_array_release(two);
    lp_ctx_destroy(ctx);
    return 0;
}
