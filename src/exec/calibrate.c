/* `lampy calibrate`: measure this machine with Lampy's own kernels (so the profile describes
 * what Lampy achieves, not a theoretical peak) and fit the cost model's parameters:
 *
 *   the probe        chunk size, threads, non-temporal stores, huge pages, the overhead per
 *                    task (probe.c; kept as the probe measured them)
 *   overheads        a one-task expression many times (per run)
 *   per-op costs     every elementwise op, reduction (innermost and outer axes) and creation op
 *                    over 2 MiB arrays (in cache) on one worker, against a cheap reference op of
 *                    the same arity run in the same rounds; a chain of 16 adds for the VM's
 *                    cost per instruction
 *   DRAM             sums of 1, 2 and 3 arrays far larger than the caches, one worker and all;
 *                    plain C loops for the cost of a write against a read and for the cache
 *                    bandwidth (first-touch pages: the probe's, one worker and all at once)
 *   loads            a sum over a .npy file in the page cache, load tasks timed by the trace
 *   BLAS             dgemm
 *
 * Each number is the best of a few runs; about 5 s on a small machine (--quick: ~2 s). A busy
 * machine makes every number pessimistic: calibrate when it is idle. */
#include "plan/cost.h"
#include "exec/calibrate.h"
#include "exec/pool.h"
#include "exec/trace.h"
#include "io/npy.h"
#include "io/file.h"
#include "core/hmap.h"

#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <unistd.h>

typedef struct cal {
    lpi_cal_log out;
    double t0, budget;
} cal;

void lpi_cal_say(const lpi_cal_log *l, const char *fmt, ...) {
    if (!l || !l->log) return;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    l->log(l->arg, buf);
}
#define say(c, ...) lpi_cal_say(&(c)->out, __VA_ARGS__)

typedef lp_status (*build_fn)(lp_ctx *ctx, void *arg, lp_array **out);

/* Best time of `reps` runs of a freshly built expression (a computed node is not run again). */
static lp_status best_of(lp_ctx *ctx, build_fn fn, void *arg, int reps, double *best) {
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
    }
    return LP_OK;
}

typedef struct args {
    lp_array *a, *b, *c;
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

/* One node of op over the given inputs (sources: n elements), for the per-op probes. */
typedef struct node_args {
    lpi_op op;
    int nin;
    lp_array *in[3];
    lp_dtype dt;
    int64_t n;
    bool axis0;
} node_args;

static lp_status b_node(lp_ctx *ctx, void *p, lp_array **out) {
    node_args *A = p;
    const char *name = lpi_ops[A->op].name;
    static uint64_t seed = 7;
    switch (lpi_ops[A->op].kind) {
    case LP_OPK_ELEMWISE:
        if (A->op == LPI_OP_ASTYPE) return lp_astype(ctx, A->in[0], A->dt, out);
        return lp_elemwise(ctx, name, A->nin, A->in, out);
    case LP_OPK_REDUCE: {
        int ax = 0;
        bool var = A->op == LPI_OP_VAR || A->op == LPI_OP_STD;
        return lp_reduce_ddof(ctx, name, A->in[0], A->axis0 ? &ax : NULL, A->axis0 ? 1 : 0, false, var ? 1 : 0, out);
    }
    default: {
        int64_t n = A->n, side = (int64_t)sqrt((double)A->n), sq[2] = {side, side};
        switch (A->op) {
        case LPI_OP_FULL: return lp_full(ctx, LP_FLOAT64, 1, &n, lp_scalar_f(1.5), out);
        case LPI_OP_ARANGE: return lp_arange(ctx, 0, (double)n, 1, LP_FLOAT64, out);
        case LPI_OP_LINSPACE: return lp_linspace(ctx, 0, 1, n, true, LP_FLOAT64, out);
        case LPI_OP_EYE: return lp_eye(ctx, sq[0], sq[1], 0, LP_FLOAT64, out);
        case LPI_OP_RANDOM_UNIFORM: return lp_random_uniform(ctx, seed++, 0, 1, LP_FLOAT64, 1, &n, out);
        case LPI_OP_RANDOM_NORMAL: return lp_random_normal(ctx, seed++, 0, 1, LP_FLOAT64, 1, &n, out);
        default: return lpi_error(ctx, LP_ERR_VALUE, "no probe for %s", name);
        }
    }
    }
}

/* Best time of reps runs of a generic node (node_args). */
static lp_status t_node(lp_ctx *c, node_args *na, int reps, double *t) { return best_of(c, b_node, na, reps, t); }

/* An expression to measure against: how it is built, and its arguments. */
typedef struct reference {
    build_fn fn;
    void *arg;
} reference;

/* Best times of reps rounds of the node (*t) and its reference (*tref), one after the other in
 * each round: an op's cost is its difference from the reference, and both minimums then come
 * from the same stretch of time (measured apart, the reference at the start and the op seconds
 * later, a change of the machine's load between them went into the op's cost: `where` came out
 * 1.0 and 3.9 ns in two calibrations a minute apart on the loaded 2-core guest). */
static lp_status t_node_vs(lp_ctx *c, node_args *na, reference ref, int reps, double *t, double *tref) {
    *t = *tref = 1e30;
    for (int r = 0; r < reps; r++) {
        double a, b;
        lp_status st = best_of(c, ref.fn, ref.arg, 1, &b);
        if (!st) st = best_of(c, b_node, na, 1, &a);
        if (st) return st;
        *t = fmin(*t, a);
        *tref = fmin(*tref, b);
    }
    return LP_OK;
}

static lp_status b_sum_streams(lp_ctx *ctx, void *p, lp_array **out) {
    args *A = p;
    lp_array *x = A->a, *y = NULL, *z = NULL;
    lp_status st = LP_OK;
    if (A->kind >= 2 && !(st = lp_binary(ctx, "add", A->a, A->b, &y))) x = y;
    if (!st && A->kind >= 3 && !(st = lp_binary(ctx, "add", y, A->c, &z))) x = z;
    if (!st) st = lp_reduce(ctx, "sum", x, NULL, 0, false, out);
    lp_array_release(y);
    lp_array_release(z);
    return st;
}

/* x + 0.5, n times */
static lp_status b_chain(lp_ctx *ctx, void *p, lp_array **out) {
    args *A = p;
    lp_array *h, *x = A->a;
    lp_status st = lp_scalar_array(ctx, lp_scalar_f(0.5), &h);
    lp_array_retain(x);
    for (int i = 0; i < A->kind && !st; i++) {
        lp_array *y;
        st = lp_binary(ctx, "add", x, h, &y);
        lp_array_release(x);
        x = st ? NULL : y;
    }
    lp_array_release(h);
    if (st) { lp_array_release(x); return st; }
    *out = x;
    return LP_OK;
}

static int cmp_d(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

typedef struct file_writer {
    int fd;
    const char *data;
    size_t n, piece;
    atomic_size_t next;
    atomic_int err;
} file_writer;

/* One writer: pieces taken in turn, each pwritten at its place. */
static void *file_writer_main(void *arg) {
    file_writer *f = arg;
    for (;;) {
        size_t off = atomic_fetch_add(&f->next, f->piece);
        if (off >= f->n) break;
        size_t len = f->n - off < f->piece ? f->n - off : f->piece;
        if (lpi_pwrite_full(f->fd, f->data + off, len, (int64_t)off) != 0) { atomic_store(&f->err, errno ? errno : EIO); break; }
    }
    return NULL;
}

/* Saving n bytes into the file `path` the way a remote run's result sink is: the file created
 * beside it under a temporary name and sized (as the driver does), `threads` threads pwrite
 * pieces of `piece` bytes at their places at once (the tasks writing their chunks; one file,
 * whose writes the file system serializes), then lpi_file_finish (fsync, rename, the
 * directory's fsync); then the file is deleted, its pages and blocks freed (what replacing an
 * existing file costs its rename). Best of `reps` (a busy moment only adds time): the writes'
 * seconds (*w), the commit's (*c), the deletion's (*d). */
static lp_status file_times(lp_ctx *ctx, const char *path, const char *data, size_t n, size_t piece, int threads, int reps,
                            double *w, double *c, double *d) {
    enum { MAXT = 64 };
    if (threads < 1) threads = 1;
    if (threads > MAXT) threads = MAXT;
    *w = *c = *d = 1e30;
    for (int r = 0; r < reps; r++) {
        char *tmp;
        int slot, fd;
        lp_status st = lpi_file_temp(ctx, path, &tmp, &slot, &fd);
        if (st) return st;
        if (ftruncate(fd, (off_t)n) != 0) st = lpi_os_error(ctx, path, "cannot size the file", errno);
        file_writer f = {fd, data, n, piece ? piece : n, 0, 0};
        pthread_t th[MAXT];
        int started = 0;
        double t0 = lpi_now();
        for (int i = 1; !st && i < threads && !pthread_create(&th[i], NULL, file_writer_main, &f); i++) started = i;
        if (!st) file_writer_main(&f);
        for (int i = 1; i <= started; i++) pthread_join(th[i], NULL);
        double t1 = lpi_now();
        if (!st && atomic_load(&f.err)) st = lpi_os_error(ctx, path, "write failed", atomic_load(&f.err));
        st = lpi_file_finish(ctx, path, tmp, slot, fd, st);
        double t2 = lpi_now();
        if (st) return st;
        int gone = unlink(path);
        double t3 = lpi_now();
        if (gone != 0) return lpi_os_error(ctx, path, "cannot delete", errno);
        *w = fmin(*w, t1 - t0);
        *c = fmin(*c, t2 - t1);
        *d = fmin(*d, t3 - t2);
    }
    return LP_OK;
}

/* One commit of a tiny file in dir (no error: a sample is skipped) into v[*n] (at most 24).
 * A tiny file's fsync waits for whatever else the disk is writing at that moment, so
 * `lampy calibrate` takes samples between its parts and prices a commit with their median: a
 * few taken together only said what the disk did in that second (the best of 5 came out 1 and
 * 12 ms in calibrations minutes apart on the shared guest). */
static void commit_sample(lp_ctx *c, const char *dir, const double *data, double *v, int *n) {
    char path[2100];
    double w, cs, d;
    if (*n >= 24 || snprintf(path, sizeof path, "%s/commit.npy", dir) >= (int)sizeof path) return;
    char keep[LPI_ERRMSG_MAX];
    snprintf(keep, sizeof keep, "%s", lp_last_error(c));
    if (!file_times(c, path, (const char *)data, 136, 0, 1, 1, &w, &cs, &d)) v[(*n)++] = cs;
    else lpi_error(c, LP_ERR_IO, "%s", keep); /* the sample's error is not the calibration's */
}

lp_status lp_calibrate(lp_ctx *ctx, double max_seconds, void (*log)(void *, const char *), void *log_arg) {
    cal C = {{log, log_arg}, lpi_now(), max_seconds > 0 ? max_seconds : 30};
    const int W = lpi_ncores();
    lpi_profile P;
    lpi_profile_default(&P);
    P.cores = W;
    P.calibrated = true;
    machine_name(P.machine, sizeof P.machine, W);
    say(&C, "machine: %s, last-level cache %.0f MiB", P.machine, P.llc_bytes / (1 << 20));
    const bool quick = C.budget < 12;
    const int64_t N = quick ? (int64_t)8 << 20 : (int64_t)32 << 20; /* DRAM arrays: 64 or 256 MiB each */
    int64_t M = 256 << 10;                                              /* cache arrays: 2 MiB */
    const int reps = quick ? 5 : 15, dreps = quick ? 2 : 3;
    lp_ctx *c1 = NULL, *cw = NULL;
    double *a = NULL, *b = NULL, *d = NULL, *tiny = NULL;
    double *f1 = NULL, *f2 = NULL;
    int64_t *i1 = NULL, *i2 = NULL;
    uint8_t *bb = NULL;
    lp_array *T = NULL, *A = NULL, *B = NULL, *D = NULL, *X = NULL;
    lp_array *F1 = NULL, *F2 = NULL, *I1 = NULL, *I2 = NULL, *BB = NULL, *F8 = NULL, *F16 = NULL, *F64 = NULL, *two = NULL;
    /* files (loading, saving) in $TMPDIR, else /tmp */
    char dir[2048], path[2100] = "";
    {
        const char *td = getenv("TMPDIR");
        if (!td || td[0] != '/' || strlen(td) > 1900) td = "/tmp";
        snprintf(dir, sizeof dir, "%s/lampy-calibrate-XXXXXX", td);
    }
    bool have_dir = false;
    lp_status st;
    /* cw's worker count is explicit: the executor then never runs a memory-bound plan on fewer
     * threads (exec/local.c, plan_workers), so what is measured with all workers is that */
    if ((st = lp_ctx_create(&c1)) || (st = lp_ctx_create(&cw)) || (st = lp_ctx_set_threads(c1, 1)) ||
        (st = lp_ctx_set_threads(cw, lpi_ncores()))) {
        st = lpi_error(ctx, st, "calibrate: cannot create a context");
        goto done;
    }
    /* first what the planner chooses (chunk size, stores, huge pages); the runs below then
     * use those choices, as the user's runs will (and, having a profile, never probe) */
    if ((st = lpi_probe_machine(ctx, &P, quick, &C.out)) || (st = lpi_profile_set(c1, &P)) ||
        (st = lpi_profile_set(cw, &P)))
        goto done;
    a = lp_malloc_aligned((size_t)N * 8);
    b = lp_malloc_aligned((size_t)N * 8);
    d = lp_malloc_aligned((size_t)N * 8);
    tiny = lp_malloc_aligned(16 * 8);
    f1 = lp_malloc_aligned((size_t)M * 8);
    f2 = lp_malloc_aligned((size_t)M * 8);
    i1 = lp_malloc_aligned((size_t)M * 8);
    i2 = lp_malloc_aligned((size_t)M * 8);
    bb = lp_malloc_aligned((size_t)M);
    if (!a || !b || !d || !tiny || !f1 || !f2 || !i1 || !i2 || !bb) { st = lpi_nomem(ctx); goto done; }
    for (int64_t i = 0; i < N; i++) { a[i] = (double)(i & 1023) * 1e-3; b[i] = 1.0 - a[i]; d[i] = 0.5 * a[i]; }
    for (int64_t i = 0; i < 16; i++) tiny[i] = 1.0;
    /* random operands, like the data of real workloads: comparisons, where and min/max are
     * data-dependent (branch mispredictions), and regular patterns would flatter them */
    for (int64_t i = 0; i < M; i++) {
        uint64_t r = lpi_mix64((uint64_t)i + 0x9E3779B97F4A7C15ULL);
        f1[i] = 0.5 + (double)(r >> 11) * 0x1.0p-53;
        f2[i] = 0.5 + (double)((r * 0x2545F4914F6CDD1DULL) >> 11) * 0x1.0p-53;
        i1[i] = 1 + (int64_t)(r % 100);
        i2[i] = 1 + (int64_t)((r >> 20) % 37);
        bb[i] = (r >> 40) & 1;
    }
#define CK(call) do { if ((st = (call))) { st = lpi_error(ctx, st, "calibrate: %s", lp_last_error(c1)[0] ? lp_last_error(c1) : lp_last_error(cw)); goto done; } } while (0)
    double t;
    args ar = {0};
    /* files (loading, saving) in the temporary directory; samples of a tiny file's commit
     * between the parts below (commit_sample) */
    have_dir = mkdtemp(dir) != NULL;
    double commits[24];
    int ncommits = 0;
#define COMMIT_SAMPLE() do { if (have_dir) commit_sample(c1, dir, a, commits, &ncommits); } while (0)
    COMMIT_SAMPLE();

    /* ---- overheads ---- */
    {
        int64_t sixteen = 16;
        CK(lp_wrap(cw, tiny, LP_FLOAT64, 1, &sixteen, NULL, noop_release, NULL, &T));
        ar.a = T;
        CK(best_of(cw, b_add1, &ar, 300, &t));
        P.run_overhead = clampd(t, 1e-6, 1e-2);
        /* the overhead per task is the probe's (P.task_overhead, set above: the same sum over
         * ~10,000 tiny chunks, wall time times the workers, against one chunk), not measured
         * again; the probe reads that measurement's CPU time too, for its chunk bound */
        say(&C, "overheads           %8.1f us per run, %.2f us per task (the probe's)", P.run_overhead * 1e6,
            P.task_overhead * 1e6);
        lp_array_release(T);
        T = NULL;
    }
    const double base = P.run_overhead + P.task_overhead;
    COMMIT_SAMPLE();

    /* ---- per-op costs: one core, 2 MiB arrays (in cache), one chunk each ---- */
    CK(lp_ctx_set_chunk_bytes(c1, 64 << 20));
    {
        int64_t m8[2] = {M / 8, 8}, m16[2] = {M / 16, 16}, m64[2] = {M / 64, 64};
        CK(wrap(c1, f1, M, &F1));
        CK(wrap(c1, f2, M, &F2));
        CK(lp_wrap(c1, i1, LP_INT64, 1, &M, NULL, noop_release, NULL, &I1));
        CK(lp_wrap(c1, i2, LP_INT64, 1, &M, NULL, noop_release, NULL, &I2));
        CK(lp_wrap(c1, bb, LP_BOOL, 1, &M, NULL, noop_release, NULL, &BB));
        CK(lp_wrap(c1, f1, LP_FLOAT64, 2, m8, NULL, noop_release, NULL, &F8));
        CK(lp_wrap(c1, f1, LP_FLOAT64, 2, m16, NULL, noop_release, NULL, &F16));
        CK(lp_wrap(c1, f1, LP_FLOAT64, 2, m64, NULL, noop_release, NULL, &F64));
        CK(lp_scalar_array(c1, lp_scalar_i(2), &two));
        /* an instruction of the VM in a fused chain: 16 adds against 1 */
        double t1a, t16;
        ar.a = F1;
        ar.kind = 1;
        CK(best_of(c1, b_chain, &ar, reps, &t1a));
        ar.kind = 16;
        CK(best_of(c1, b_chain, &ar, reps, &t16));
        const double c_instr = clampd((t16 - t1a) / (15.0 * M), 1e-12, 1e-7);
        /* references: one cheap op of each arity over in-cache arrays */
        node_args na = {0}, na_bin = {0}, na_sum = {0}, na_axis = {0};
        args ar_un = {.a = F1, .kind = 1};
        double t_sum, t_axis;
        na_bin.op = LPI_OP_ADD; na_bin.nin = 2; na_bin.in[0] = F1; na_bin.in[1] = F2;
        na_sum.op = LPI_OP_SUM; na_sum.nin = 1; na_sum.in[0] = F1;
        na_axis.op = LPI_OP_MEAN; na_axis.nin = 1; na_axis.in[0] = F16; na_axis.axis0 = true;
        const reference r_un = {b_chain, &ar_un}, r_bin = {b_node, &na_bin}, r_sum = {b_node, &na_sum},
                        r_axis = {b_node, &na_axis};
        CK(t_node(c1, &na_sum, reps, &t_sum));
        CK(t_node(c1, &na_axis, reps, &t_axis));
        const double fold = clampd((t_sum - base) / M - c_instr, 1e-12, 1e-7);
        const double fold_axis = clampd((t_axis - base) / M - c_instr, 1e-12, 1e-7);
        {
            double t8, t64;
            na = na_axis;
            na.in[0] = F8;
            CK(t_node(c1, &na, reps, &t8));
            na.in[0] = F64;
            CK(t_node(c1, &na, reps, &t64));
            P.axis_row_s = clampd((t8 - t64) / M / (1.0 / 8 - 1.0 / 64), 1e-12, 1e-6);
        }
        say(&C, "fused VM            %8.3f ns per instruction and element; sum folds %.3f ns, outer-axis folds %.3f ns + %.2f ns per row",
            c_instr * 1e9, fold * 1e9, fold_axis * 1e9, P.axis_row_s * 1e9);
        double ratio[LPI_CC_COUNT][LPI_OP_COUNT];
        int nr[LPI_CC_COUNT] = {0};
        char line[200];
        size_t ll = 0;
        for (int k = 0; k < LPI_OP_COUNT; k++) {
            lpi_op op = (lpi_op)k;
            lpi_opkind kind = lpi_ops[op].kind;
            memset(&na, 0, sizeof na);
            na.op = op;
            na.nin = lpi_ops[op].nin;
            reference ref = {NULL, NULL};
            if (kind == LP_OPK_ELEMWISE) {
                bool logical = op == LPI_OP_LOGICAL_AND || op == LPI_OP_LOGICAL_OR || op == LPI_OP_LOGICAL_XOR || op == LPI_OP_LOGICAL_NOT;
                bool bitwise = op == LPI_OP_BITWISE_AND || op == LPI_OP_BITWISE_OR || op == LPI_OP_BITWISE_XOR || op == LPI_OP_INVERT ||
                               op == LPI_OP_LEFT_SHIFT || op == LPI_OP_RIGHT_SHIFT;
                na.in[0] = logical ? BB : bitwise ? I1 : F1;
                na.in[1] = logical ? BB : bitwise ? I2 : op == LPI_OP_POWER ? two : F2;
                if (op == LPI_OP_WHERE) { na.in[0] = BB; na.in[1] = F1; na.in[2] = F2; }
                if (op == LPI_OP_ASTYPE) { na.nin = 1; na.dt = LP_FLOAT32; }
                ref = na.nin == 1 || op == LPI_OP_POWER ? r_un : r_bin;
            } else if (kind == LP_OPK_REDUCE) {
                na.in[0] = F1;
                ref = r_sum;
            } else if (kind == LP_OPK_SOURCE && op != LPI_OP_LOAD && op != LPI_OP_WRAP && op != LPI_OP_SCALAR) {
                na.n = M;
            } else {
                continue;
            }
            /* no probe for it: the fallback applies */
            double tref = base;
            if (ref.fn ? t_node_vs(c1, &na, ref, reps, &t, &tref) : t_node(c1, &na, reps, &t)) continue;
            double per;
            if (kind == LP_OPK_SOURCE) per = (t - base) / M;
            else if (kind == LP_OPK_REDUCE) per = fold + fmax(t - tref, 0) / M;
            else per = c_instr + fmax(t - tref, 0) / M;
            P.op_s[op] = clampd(per, 1e-12, 1e-6);
            lpi_cost_class cls = kind == LP_OPK_SOURCE ? LPI_CC_GEN : kind == LP_OPK_REDUCE ? LPI_CC_REDUCE
                                 : lpi_ops[op].flops >= 15 ? LPI_CC_MATH : LPI_CC_ARITH;
            if (lpi_ops[op].flops > 0) ratio[cls][nr[cls]++] = lpi_ops[op].flops / P.op_s[op];
            if (kind == LP_OPK_REDUCE) {
                na.in[0] = F16;
                na.axis0 = true;
                if (!t_node_vs(c1, &na, r_axis, reps, &t, &tref)) {
                    P.axis_s[op] = clampd(fold_axis + fmax(t - tref, 0) / M, 1e-12, 1e-6);
                    if (lpi_ops[op].flops > 0) ratio[LPI_CC_REDUCE_AXIS][nr[LPI_CC_REDUCE_AXIS]++] = lpi_ops[op].flops / P.axis_s[op];
                }
            }
            int w = snprintf(line + ll, sizeof line - ll, "%s %.2f", lpi_ops[op].name, P.op_s[op] * 1e9);
            if (P.axis_s[op] > 0) w += snprintf(line + ll + w, sizeof line - ll - w, "/%.2f", P.axis_s[op] * 1e9);
            w += snprintf(line + ll + w, sizeof line - ll - w, "  ");
            ll += (size_t)w;
            if (ll > 80) { say(&C, "  ns/element: %s", line); ll = 0; line[0] = 0; }
            if (k % 16 == 0) COMMIT_SAMPLE();
        }
        if (ll) say(&C, "  ns/element: %s", line);
        /* class rates (the fallback for ops without a measurement): medians of flops / s */
        for (int k = 0; k < LPI_CC_COUNT; k++) {
            if (!nr[k]) continue;
            qsort(ratio[k], (size_t)nr[k], sizeof(double), cmp_d);
            P.rate[k] = clampd(ratio[k][nr[k] / 2], 1e7, 1e12);
        }
    }
    CK(lp_ctx_set_chunk_bytes(c1, 0));
    COMMIT_SAMPLE();

    /* ---- memory: Lampy's kernels over arrays far larger than the caches ---- */
    {
        CK(wrap(c1, a, N, &A));
        CK(wrap(c1, b, N, &B));
        CK(wrap(c1, d, N, &D));
        ar.a = A;
        ar.b = B;
        ar.c = D;
        for (int s = 1; s <= 3; s++) {
            double t1, tw;
            ar.kind = s;
            CK(best_of(c1, b_sum_streams, &ar, dreps, &t1));
            CK(best_of(cw, b_sum_streams, &ar, dreps, &tw));
            P.mem_bw1[s - 1] = clampd(8.0 * s * N / fmax(t1 - base, 1e-6), 1e8, 1e12);
            P.mem_bw[s - 1] = clampd(8.0 * s * N / fmax(tw - base, 1e-6), P.mem_bw1[s - 1], 1e12);
        }
        say(&C, "memory reads        %.2f / %.2f / %.2f GB/s one core, %.2f / %.2f / %.2f GB/s all %d  (1 / 2 / 3 streams)",
            P.mem_bw1[0] / 1e9, P.mem_bw1[1] / 1e9, P.mem_bw1[2] / 1e9, P.mem_bw[0] / 1e9, P.mem_bw[1] / 1e9,
            P.mem_bw[2] / 1e9, W);
        /* writes: a plain copy against plain reads (C, normal stores), all cores */
        double rr = probe_time(W, 0, NULL, a, N, 1), rc = probe_time(W, 1, b, a, N, 1);
        P.write_factor = clampd(rc / rr - 1, 0.5, 4);
        /* the last-level cache: reads of a 2 MiB array, over and over */
        double tc = probe_time(1, 0, NULL, a, M, 64);
        P.cache_bw1 = clampd(8.0 * M * 64 / tc, P.mem_bw1[0], 1e12);
        say(&C, "memory writes       %8.2f x a read; cache %.1f GB/s", P.write_factor, P.cache_bw1 / 1e9);
    }

    /* ---- load tasks, timed from the run's own trace: a .npy file in the page cache read in
     * 16 MiB chunks (the size big arrays get; after the first run the buffer cache hands the
     * same chunks back, as in a long run), by one worker and by all ---- */
    COMMIT_SAMPLE();
    if (have_dir) {
        snprintf(path, sizeof path, "%s/a.npy", dir);
        CK(lpi_npy_write(c1, path, LP_FLOAT64, 1, &N, a, NULL));
        CK(lp_load(c1, path, &X));
        double sums[2];
        for (int all = 0; all < 2 && !st; all++) {
            lp_ctx *c = all ? cw : c1;
            lp_ctx_set_trace(c, true);
            lp_ctx_set_chunk_bytes(c, 16 << 20);
            sums[all] = 1e30;
            ar.a = X;
            /* best of 5: a read's time only grows with the machine's load, and these figures
             * price the reads of every file input, remote ones too (3 rounds varied 2x between
             * calibrations a minute apart on a loaded machine) */
            for (int r = 0; r < 5 && !st; r++) {
                double tt;
                if ((st = best_of(c, b_sum, &ar, 1, &tt))) break;
                double sum = 0;
                const struct lpi_trace *tr = lpi_last_trace(c);
                for (int64_t i = 0; tr && i < tr->n; i++)
                    if (tr->spans[i].kernel == LPI_K_LOAD) sum += tr->spans[i].t1 - tr->spans[i].t0 - P.task_overhead;
                if (sum > 0 && sum < sums[all]) sums[all] = sum;
            }
            lp_ctx_set_trace(c, false);
            lp_ctx_set_chunk_bytes(c, 0);
        }
        CK(st);
        P.load_bw1 = clampd(8.0 * N / sums[0], 1e8, 1e12);
        P.load_bw = clampd(8.0 * N / sums[1], 1e8, 1e12);
        say(&C, "loading .npy        %8.2f GB/s per worker alone, %.2f GB/s each with %d", P.load_bw1 / 1e9, P.load_bw / 1e9, W);
    } else {
        say(&C, "loading .npy        (no temporary directory; defaults kept)");
    }

    /* ---- saving a result into a file (eval -o): a tiny .npy's commit is the fixed cost per
     * file; a large one, written as a remote run's tasks write it (chunk-sized pieces from
     * every core at once), gives the page-cache rate, the rest of its commit (beyond the tiny
     * one's) the disk's, and its deletion the cost of freeing a file's pages ---- */
    if (have_dir) {
        char wpath[2100];
        snprintf(wpath, sizeof wpath, "%s/saved.npy", dir);
        const size_t big = (size_t)N * 8 < ((size_t)128 << 20) ? (size_t)N * 8 : (size_t)128 << 20; /* 64 or 128 MiB */
        const size_t piece = (size_t)lpi_cost_chunk_bytes(&P, (int64_t)big);
        double w0, c0, d0, w1, c1s, d1;
        CK(file_times(c1, wpath, (const char *)a, 136, 0, 1, quick ? 3 : 5, &w0, &c0, &d0));
        CK(file_times(c1, wpath, (const char *)a, big, piece, W, quick ? 2 : 5, &w1, &c1s, &d1));
        commits[ncommits < 24 ? ncommits++ : 23] = c0;
        qsort(commits, (size_t)ncommits, sizeof *commits, cmp_d);
        P.file_commit_s = clampd(commits[ncommits / 2], 1e-6, 10);
        P.file_write_bw = clampd((double)big / fmax(w1 - w0, 1e-9), 1e7, 1e12);
        P.file_sync_bw = clampd((double)big / fmax(c1s - c0, 1e-9), 1e6, 1e12);
        P.file_drop_bw = clampd((double)big / fmax(d1 - d0, 1e-9), 1e7, 1e13);
        say(&C, "saving a file       %8.2f ms commit (fsync, rename; median of %d through the calibration); %.2f GB/s written (%d writers, %.0f MiB pieces), "
            "%.0f MB/s synced, %.2f GB/s freed (%.0f MiB)", P.file_commit_s * 1e3, ncommits, P.file_write_bw / 1e9, W,
            (double)piece / (1 << 20), P.file_sync_bw / 1e6, P.file_drop_bw / 1e9, (double)big / (1 << 20));
    }

    /* ---- BLAS ---- */
    {
        const int n = quick ? 256 : 512;
        double *m1 = lp_malloc_aligned((size_t)n * n * 8), *m2 = lp_malloc_aligned((size_t)n * n * 8),
               *m3 = lp_malloc_aligned((size_t)n * n * 8);
        if (m1 && m2 && m3) {
            for (int i = 0; i < n * n; i++) { m1[i] = 1.0 / (i + 1); m2[i] = (double)(i % 7); }
            double bt = 1e30;
            /* tasks call BLAS single-threaded (kernels/linalg.c): measure one core */
            int bthreads = openblas_get_num_threads();
            openblas_set_num_threads(1);
            for (int r = 0; r < 3; r++) {
                double s0 = lpi_now();
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, m1, n, m2, n, 0.0, m3, n);
                double dt = lpi_now() - s0;
                if (dt < bt) bt = dt;
            }
            openblas_set_num_threads(bthreads);
            P.rate[LPI_CC_BLAS] = clampd(2.0 * n * n * n / bt, 1e8, 1e13);
            say(&C, "BLAS (dgemm)        %8.2f Gflop/s per core", P.rate[LPI_CC_BLAS] / 1e9);
        }
        lp_free_aligned(m1);
        lp_free_aligned(m2);
        lp_free_aligned(m3);
    }
    say(&C, "calibrated in %.1f s", lpi_now() - C.t0);
    lpi_profile_copy_remote(&P, lpi_profile_get(ctx)); /* measured apart: lp_calibrate_remote */
    st = lpi_profile_set(ctx, &P);
#undef CK
#undef COMMIT_SAMPLE
done:
    {
        lp_array *all[] = {T, A, B, D, X, F1, F2, I1, I2, BB, F8, F16, F64, two};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) lp_array_release(all[i]);
    }
    lp_ctx_destroy(c1);
    lp_ctx_destroy(cw);
    lp_free_aligned(a);
    lp_free_aligned(b);
    lp_free_aligned(d);
    lp_free_aligned(tiny);
    lp_free_aligned(f1);
    lp_free_aligned(f2);
    lp_free_aligned(i1);
    lp_free_aligned(i2);
    lp_free_aligned(bb);
    if (*path) unlink(path);
    if (have_dir) rmdir(dir);
    return st;
}
