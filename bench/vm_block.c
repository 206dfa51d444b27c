/* The fused VM's cost per element in cache (issue 16): vm_exec (lpi_vm_run / lpi_vm_reduce)
 * called directly on 1-d float64 operands of N elements (default 128K: 1 MiB per operand, in
 * L2/LLC), one thread, CPU time (process_time) over many repetitions, best of R trials — numbers
 * that depend little on the shared machine's memory bandwidth. Beside each program: the same
 * arithmetic as one hand-written C loop over the data (the "loop work" floor; for the sums one
 * accumulator chain per 256-block, like the VM's fold).
 *
 *   w1   a*b + c*2 - a          (4 instructions, 3 inputs, 1 constant); w1-c: the same with
 *        ordinary stores (non-temporal ones, the default for outputs >= 1 MiB, leave the cache)
 *   w3   sum((a-b)**2)          (a-b, t*t, folded per block)
 *   sum2 sum(a*2)               (one instruction, folded per block)
 *
 * Usage: lampy-bench-vm [-n ELEMS] [-r TRIALS] [-m MIN_SECONDS_PER_TRIAL] [-w ONLY_THIS_ROW]
 * Links liblampy.a: the VM is an internal (lpi_) entry point. */
#include "lampy.h"
#include "kernels/kernels.h"
#include "kernels/loops.h"
#include "vm_w1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static lpi_view view1(void *data, int64_t n, int64_t stride) {
    lpi_view v = {(char *)data, LP_FLOAT64, 1, {n}, {stride}};
    return v;
}

typedef struct {
    lp_ctx *ctx;
    const lpi_program *p;
    lpi_view ops[3];
    lpi_view out;
    bool reduce;
    int64_t n;
} job;

static double sink;

static void run_job(const job *j) {
    lp_status st = j->reduce ? lpi_vm_reduce(j->ctx, j->p, 1, &j->n, j->ops, &j->out, LPI_OP_SUM, true)
                             : lpi_vm_run(j->ctx, j->p, 1, &j->n, j->ops, &j->out);
    if (st) { fprintf(stderr, "vm: %s\n", lp_last_error(j->ctx)); exit(1); }
}

/* ns per element: best of `trials` trials, each >= min_s of CPU time */
static double time_vm(const job *j, int trials, double min_s) {
    double best = 1e30;
    for (int t = 0; t < trials; t++) {
        int64_t reps = 0;
        double t0 = cpu_now(), t1;
        do {
            for (int k = 0; k < 16; k++) run_job(j);
            reps += 16;
        } while ((t1 = cpu_now()) - t0 < min_s);
        double ns = (t1 - t0) * 1e9 / ((double)reps * (double)j->n);
        if (ns < best) best = ns;
    }
    return best;
}

enum { R_W1, R_W3, R_SUM2 };

LPI_CLONES static void ref_loop(int which, const double *a, const double *b, const double *c, double *o, int64_t n) {
    if (which == R_W1) {
        for (int64_t i = 0; i < n; i++) o[i] = a[i] * b[i] + c[i] * 2.0 - a[i];
        return;
    }
    double acc = 0;
    for (int64_t b0 = 0; b0 < n; b0 += LPI_VM_BLOCK) {
        int64_t m = n - b0 < LPI_VM_BLOCK ? n - b0 : LPI_VM_BLOCK;
        double s[8] = {0};
        const double *x = a + b0, *y = b + b0;
        int64_t i = 0;
        if (which == R_W3) {
            for (; i + 8 <= m; i += 8)
                for (int k = 0; k < 8; k++) { double d = x[i + k] - y[i + k]; s[k] += d * d; }
            for (int k = 0; i < m; i++, k++) { double d = x[i] - y[i]; s[k] += d * d; }
        } else {
            for (; i + 8 <= m; i += 8)
                for (int k = 0; k < 8; k++) s[k] += x[i + k] * 2.0;
            for (int k = 0; i < m; i++, k++) s[k] += x[i] * 2.0;
        }
        acc += ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    }
    o[0] = acc;
}

static double time_ref(int which, const double *a, const double *b, const double *c, double *o, int64_t n,
                       int trials, double min_s) {
    double best = 1e30;
    for (int t = 0; t < trials; t++) {
        int64_t reps = 0;
        double t0 = cpu_now(), t1;
        do {
            for (int k = 0; k < 16; k++) ref_loop(which, a, b, c, o, n);
            reps += 16;
            sink += o[0];
        } while ((t1 = cpu_now()) - t0 < min_s);
        double ns = (t1 - t0) * 1e9 / ((double)reps * (double)n);
        if (ns < best) best = ns;
    }
    return best;
}

int main(int argc, char **argv) {
    int64_t n = 128 * 1024;
    int trials = 7;
    double min_s = 0.2;
    const char *only = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-n")) n = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "-r")) trials = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-m")) min_s = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "-w")) only = argv[i + 1];
        else { fprintf(stderr, "usage: lampy-bench-vm [-n ELEMS] [-r TRIALS] [-m MIN_S] [-w w1|w1-c|w3|sum2]\n"); return 2; }
    }
    if (n < 1 || trials < 1) { fprintf(stderr, "lampy-bench-vm: -n and -r must be positive\n"); return 2; }
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx)) return 1;
    double *a = lp_malloc_aligned((size_t)n * 8), *b = lp_malloc_aligned((size_t)n * 8);
    double *c = lp_malloc_aligned((size_t)n * 8), *o = lp_malloc_aligned((size_t)n * 8);
    if (!a || !b || !c || !o) return 1;
    for (int64_t i = 0; i < n; i++) {
        a[i] = (double)(i % 1000) * 0.001;
        b[i] = (double)(i % 777) * 0.002;
        c[i] = (double)(i % 333) * 0.003;
    }
    double acc = 0;

    /* w1 (bench/vm_w1.h) */
    bench_w1 w1;
    bench_w1_init(&w1);
    const lpi_program *p1 = &w1.p;
    /* w3: inputs 0..1, temps 2..3 (3 the output) */
    lpi_instr i3[2] = {
        {LPI_OP_SUBTRACT, LP_FLOAT64, 2, 2, {0, 1, 0}},
        {LPI_OP_MULTIPLY, LP_FLOAT64, 2, 3, {2, 2, 0}},
    };
    lpi_program p3 = {2, 0, 4, 2, 3, w1.dt, NULL, i3};
    /* sum(a*2): input 0, constant 1, temp 2 */
    lpi_instr i2[1] = {{LPI_OP_MULTIPLY, LP_FLOAT64, 2, 2, {0, 1, 0}}};
    lpi_program p2 = {1, 1, 3, 1, 2, w1.dt, w1.k, i2};

    job jw1 = {ctx, p1, {view1(a, n, 8), view1(b, n, 8), view1(c, n, 8)}, view1(o, n, 8), false, n};
    job jw3 = {ctx, &p3, {view1(a, n, 8), view1(b, n, 8)}, view1(&acc, n, 0), true, n};
    job js2 = {ctx, &p2, {view1(a, n, 8)}, view1(&acc, n, 0), true, n};

    /* check the VM against the reference loops once (the same bits) */
    double ref[1];
    run_job(&jw1);
    ref_loop(R_W1, a, b, c, ref, 1);
    for (int64_t i = 0; i < n; i++) {
        double e = a[i] * b[i] + c[i] * 2.0 - a[i];
        if (memcmp(&e, &o[i], 8)) { fprintf(stderr, "w1 mismatch at %lld\n", (long long)i); return 1; }
    }
    acc = 0;
    run_job(&jw3);
    ref_loop(R_W3, a, b, c, ref, n);
    if (memcmp(&acc, ref, 8)) { fprintf(stderr, "w3 mismatch: %.17g vs %.17g\n", acc, ref[0]); return 1; }
    acc = 0;
    run_job(&js2);
    ref_loop(R_SUM2, a, b, c, ref, n);
    if (memcmp(&acc, ref, 8)) { fprintf(stderr, "sum2 mismatch: %.17g vs %.17g\n", acc, ref[0]); return 1; }

    printf("n=%lld, 1 thread, CPU time, best of %d trials of >= %.2f s; ns/element\n", (long long)n, trials, min_s);
    printf("%-6s %8s %8s %8s\n", "prog", "vm", "c-loop", "vm/c");
    /* w1 twice: as it runs (non-temporal stores once the output is >= 1 MiB, which sends it to
     * memory) and with ordinary stores (the output stays in cache: the VM's own cost) */
    const job *jobs[4] = {&jw1, &jw1, &jw3, &js2};
    const char *names[4] = {"w1", "w1-c", "w3", "sum2"};
    const int refs[4] = {R_W1, R_W1, R_W3, R_SUM2};
    for (int w = 0; w < 4; w++) {
        if (only && strcmp(only, names[w])) continue;
        lpi_vm_set_stream(w != 1);
        double v = time_vm(jobs[w], trials, min_s);
        double r = time_ref(refs[w], a, b, c, o, n, trials, min_s);
        printf("%-6s %8.3f %8.3f %8.2f\n", names[w], v, r, v / r);
    }
    lpi_vm_set_stream(true);
    if (sink == 12345.0) printf("%g\n", acc);
    lp_free_aligned(a);
    lp_free_aligned(b);
    lp_free_aligned(c);
    lp_free_aligned(o);
    lp_ctx_destroy(ctx);
    return 0;
}
