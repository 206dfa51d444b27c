/* `lampy calibrate --executor lambda`: measure what the lambda executor costs against the
 * context's real workers and store, and fit the remote figures of the cost model (cost.h) so
 * that the model predicts the measured runs:
 *
 *   store            a tiny chunk's get (the round trip); 1 MiB and 16 MiB chunks put and got,
 *                    with the checksums a worker computes (bandwidth: the slope between them)
 *   invocation       an empty batch POSTed to each worker in turn (the protocol's round trip)
 *   orchestrated     a 2-task and a ~550-task graph of tiny tasks, one lambda at a time: the
 *                    run's fixed cost and a chain's cost per task beyond the modelled store
 *                    traffic; with the default budget (2 lambdas per worker) the large one and
 *                    a compute-bound graph: how many tasks' coordination overlaps (one store
 *                    serves it) and how many tasks really compute at once (loopback workers
 *                    share the cores); the 16-root graph with one lambda and with the full
 *                    budget, on arange and (--load-dir) on a small .npy file: what each lambda
 *                    a run spreads to costs, and what it costs more when the run has a file
 *                    input (each function opens the input's header planning the run)
 *   driver-centric   the same two graphs dispatched by this process: its fixed cost and its
 *                    own time per task
 *
 * Each figure is found by inverting the model on the measured times (the prediction is
 * monotone in each), so measured and predicted agree on these graphs by construction and the
 * model carries the figures to other plans. Times are medians of a few runs; what spreading a
 * run costs, the median of differences of runs taken in pairs (spread_rounds); how many tasks
 * compute at once, the median over rounds that pair each remote run of the compute-bound graph
 * with its work on one local worker (heavy_round, lpi_cal_paired_par); the rate the lambdas read
 * a file's rows at (--load-dir), the median of paired differences between the sum of a 32 MiB
 * and of a 4 KiB file (read_round); the rate a task writes its output into a result sink's file at
 * while the others compute (--load-dir, which the workers must also be allowed to write: their
 * --write-dir), the median of paired differences between that file's x * 2 + 1 saved into a file
 * beside it by the tasks and its sum (write_round); a run's fixed cost and a chain's cost per task, the 2-task
 * and the ~550-task runs with one lambda in pairs (chain_round: orch_run_s from the first's
 * median, orch_task_s from the median of their differences). Those three moved most between
 * calibrations a minute apart when their rounds ran back to back (each
 * sampled one minute of a shared host: the read rate came out 7.58 and 1.36 GB/s): their rounds
 * are spread through the whole calibration instead (lpi_cal_sampler, calibrate_rounds.c; a tick
 * before the store, after it, after the invocations, after the other runs of the ~550-task graph,
 * after each of spread_rounds' rounds and after the driver-centric runs; the fits come last). */
#include "plan/cost.h"
#include "exec/calibrate.h"
#include "exec/exec.h"
#include "exec/orchestrate.h"
#include "io/npy.h"
#include "store/store.h"
#include "store/auth.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

typedef struct rcal {
    lpi_cal_log out;
    lp_ctx *ctx;
    int reps;
    lpi_cal_ticks ticks; /* the samplers spread through the calibration (calibrate.h) */
} rcal;
#define say(c, ...) lpi_cal_say(&(c)->out, __VA_ARGS__)

static int cmp_d(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- the store ---- */

/* Median seconds of a put (with the producer's checksum) and of a get (with the consumer's)
 * of a chunk of n float64, each under a key of its own (a run's chunks are distinct values:
 * the store allocates each anew); the keys are deleted afterwards. */
static lp_status store_times(rcal *C, lpi_store *s, const char *prefix, int64_t n, int reps, double *put, double *get) {
    lp_buffer *b = lpi_buffer_new(LP_FLOAT64, 1, &n);
    double tp[64], tg[64];
    lp_status st = b ? LP_OK : lpi_nomem(C->ctx);
    for (int64_t i = 0; !st && i < n; i++) ((double *)b->data)[i] = (double)(i & 255);
    if (reps > 64) reps = 64;
    volatile uint64_t sink = 0;
    char key[128];
    int r = 0;
    for (; r < reps && !st; r++) {
        snprintf(key, sizeof key, "%s/%d", prefix, r);
        double t0 = lpi_now();
        sink ^= XXH3_64bits(b->data, b->nbytes);
        st = lpi_store_put_buffer(C->ctx, s, key, b);
        double t1 = lpi_now();
        lp_buffer *g = NULL;
        if (!st) st = lpi_store_get(C->ctx, s, key, &g);
        if (!st) sink ^= XXH3_64bits(g->data, g->nbytes);
        double t2 = lpi_now();
        lp_buffer_release(g);
        tp[r] = t1 - t0;
        tg[r] = t2 - t1;
    }
    (void)sink;
    lp_buffer_release(b);
    for (int i = 0; i < r; i++) {
        snprintf(key, sizeof key, "%s/%d", prefix, i);
        if (st) lpi_store_del(C->ctx, s, key); /* keeps the first error's message */
        else st = lpi_store_del(C->ctx, s, key);
    }
    if (st) return st;
    *put = median(tp, reps);
    *get = median(tg, reps);
    return LP_OK;
}

/* ---- graphs: (arange(n) * 0.5 + 1).sum(): a generated array (no file), a fused map into
 * partial sums, the combine tree; with 256-byte chunks every task is tiny. With `input` (a .npy
 * file of n float64 the workers may read) the same graph on the file's data instead: what a
 * run with a file input costs beyond it (each function opens the input's header) ---- */

static lp_status graph(lp_ctx *ctx, const char *input, int64_t n, lp_array **out) {
    lp_array *a = NULL, *h = NULL, *one = NULL, *m = NULL, *p = NULL;
    lp_status st = input ? lp_load(ctx, input, &a) : lp_arange(ctx, 0, (double)n, 1, LP_FLOAT64, &a);
    if (!st) st = lp_scalar_array(ctx, lp_scalar_f(0.5), &h);
    if (!st) st = lp_scalar_array(ctx, lp_scalar_f(1.0), &one);
    if (!st) st = lp_binary(ctx, "multiply", a, h, &m);
    if (!st) st = lp_binary(ctx, "add", m, one, &p);
    if (!st) st = lp_reduce(ctx, "sum", p, NULL, 0, false, out);
    lp_array *all[] = {a, h, one, m, p};
    for (int i = 0; i < 5; i++) lp_array_release(all[i]);
    return st;
}

/* sum(x) of the .npy file `input` of n float64: reading the rows is most of its work. */
static lp_status sum_graph(lp_ctx *ctx, const char *input, int64_t n, lp_array **out) {
    (void)n;
    lp_array *a;
    lp_status st = lp_load(ctx, input, &a);
    if (!st) st = lp_reduce(ctx, "sum", a, NULL, 0, false, out);
    lp_array_release(a);
    return st;
}

/* x * 2 + 1 of the .npy file `input`: an elementwise graph whose output is as large as its
 * input (saved into a file: the tasks' writes), and (sum = true) its sum: the same tasks' reads
 * and compute with a partial sum each instead of an output. (A file, not arange: remotely a
 * generated array is a task of its own whose chunks go through the store, a file's rows are
 * read by the tasks that use them, as the saved results of a bench's workload are computed.) */
static lp_status scaled(lp_ctx *ctx, const char *input, bool sum, lp_array **out) {
    lp_array *a = NULL, *two = NULL, *one = NULL, *m = NULL, *p = NULL;
    lp_status st = lp_load(ctx, input, &a);
    if (!st) st = lp_scalar_array(ctx, lp_scalar_f(2.0), &two);
    if (!st) st = lp_scalar_array(ctx, lp_scalar_f(1.0), &one);
    if (!st) st = lp_binary(ctx, "multiply", a, two, &m);
    if (!st) st = lp_binary(ctx, "add", m, one, sum ? &p : out);
    if (!st && sum) st = lp_reduce(ctx, "sum", p, NULL, 0, false, out);
    lp_array *all[] = {a, two, one, m, p};
    for (int i = 0; i < 5; i++) lp_array_release(all[i]);
    return st;
}

static lp_status scaled_graph(lp_ctx *ctx, const char *input, int64_t n, lp_array **out) {
    (void)n;
    return scaled(ctx, input, false, out);
}

static lp_status scaled_sum_graph(lp_ctx *ctx, const char *input, int64_t n, lp_array **out) {
    (void)n;
    return scaled(ctx, input, true, out);
}

/* A compute-bound graph: twelve transcendental ops per element fused into the partial sums
 * of arange(n) * 1e-6 (with 64 KiB chunks a task computes for about a millisecond and moves
 * a small fraction of that through the store). */
static lp_status heavy_graph(lp_ctx *ctx, const char *input, int64_t n, lp_array **out) {
    (void)input;
    lp_array *a = NULL, *k = NULL, *y = NULL;
    lp_status st = lp_arange(ctx, 0, (double)n, 1, LP_FLOAT64, &a);
    if (!st) st = lp_scalar_array(ctx, lp_scalar_f(1e-6), &k);
    if (!st) st = lp_binary(ctx, "multiply", a, k, &y);
    for (int i = 0; i < 12 && !st; i++) {
        lp_array *z;
        st = lp_unary(ctx, i % 2 ? "exp" : "sin", y, &z);
        lp_array_release(y);
        y = st ? NULL : z;
    }
    if (!st) st = lp_reduce(ctx, "sum", y, NULL, 0, false, out);
    lp_array_release(a);
    lp_array_release(k);
    lp_array_release(y);
    return st;
}

typedef lp_status (*graph_fn)(lp_ctx *ctx, const char *input, int64_t n, lp_array **out);

/* The wall time of one lp_run of the graph on ctx, as a user's run sees it. */
static lp_status run_once(lp_ctx *ctx, graph_fn graph, const char *input, int64_t n, double *t) {
    lp_array *x;
    lp_status st = graph(ctx, input, n, &x);
    if (st) return st;
    lp_buffer *b = NULL;
    double t0 = lpi_now();
    st = lp_run(ctx, &x, 1, &b);
    *t = lpi_now() - t0;
    lp_buffer_release(b);
    lp_array_release(x);
    return st;
}

/* Median wall time of lp_run on the graph, as a user's run sees it (*first: the first run's,
 * *slowest: the slowest of the others'; reps: at least C->reps). */
static lp_status time_runs(rcal *C, graph_fn graph, const char *input, int64_t n, int reps, double *med, double *first,
                           double *slowest) {
    double t[16] = {0};
    if (reps < C->reps) reps = C->reps;
    if (reps > 16) reps = 16;
    for (int r = 0; r < reps; r++) {
        lp_status st = run_once(C->ctx, graph, input, n, &t[r]);
        if (st) return st;
    }
    if (first) *first = t[0];
    if (slowest) {
        *slowest = 0;
        for (int r = 1; r < reps; r++) *slowest = fmax(*slowest, t[r]);
    }
    *med = median(t, reps);
    return LP_OK;
}

static lp_status time_run(rcal *C, graph_fn graph, const char *input, int64_t n, double *med) {
    return time_runs(C, graph, input, n, 0, med, NULL, NULL);
}

typedef struct planned {
    lpi_plan *pl;
    int64_t tasks; /* tasks a remote run executes (loads excepted) */
} planned;

static lp_status plan_graph(lp_ctx *ctx, graph_fn graph, const char *input, int64_t n, planned *out) {
    lp_array *x;
    lp_status st = graph(ctx, input, n, &x);
    if (!st) st = lpi_plan_build(ctx, &x, 1, &out->pl);
    lp_array_release(x);
    if (st) return st;
    out->tasks = 0;
    for (int64_t t = 0; t < out->pl->ntasks; t++) out->tasks += out->pl->pnodes[out->pl->tasks[t].pnode].kernel != LPI_K_LOAD;
    return LP_OK;
}

/* The model's prediction for a planned graph with profile P (*lambdas: the lambdas it spreads
 * to, orchestrated; may be NULL). */
static lp_status predict_spread(lp_ctx *ctx, const lpi_profile *P, planned *g, int workers, lpi_cost_mode mode, double *total,
                                int *lambdas, double *save) {
    lp_status st = lpi_profile_set(ctx, P);
    lpi_cost_summary s;
    if (!st) st = lpi_cost_plan(ctx, g->pl, workers, mode, false, &s);
    if (!st) *total = s.total;
    if (!st && lambdas) *lambdas = s.lambdas;
    if (!st && save) *save = s.save;
    return st;
}

static lp_status predict(lp_ctx *ctx, const lpi_profile *P, planned *g, int workers, lpi_cost_mode mode, double *total) {
    return predict_spread(ctx, P, g, workers, mode, total, NULL, NULL);
}

/* The value of *field in [lo, hi] for which the model predicts `want` (bisection: the
 * prediction is monotone in every remote figure; `falling`: it falls as the figure grows). */
static lp_status fit(lp_ctx *ctx, lpi_profile *P, double *field, double lo, double hi, bool falling, planned *g,
                     int workers, lpi_cost_mode mode, double want) {
    double p;
    lp_status st;
    for (int i = 0; i < 60; i++) {
        double mid = 0.5 * (lo + hi);
        *field = mid;
        if ((st = predict(ctx, P, g, workers, mode, &p))) return st;
        if ((p > want) == falling) lo = mid;
        else hi = mid;
    }
    *field = 0.5 * (lo + hi);
    return LP_OK;
}

/* The context's chunk size and remote mode: a sampler's round sets its own and puts back those
 * of the phase it interrupts. */
typedef struct setting {
    size_t chunk;
    const char *orch;
    int budget;
} setting;

static setting setting_get(lp_ctx *ctx) {
    lpi_remote_view rv;
    setting s = {lp_ctx_chunk_bytes(ctx), NULL, 0};
    if (lpi_remote_view_get(ctx, &rv)) s.orch = rv.cfg->orchestrate, s.budget = rv.cfg->max_lambdas;
    return s;
}

static lp_status setting_put(lp_ctx *ctx, const setting *s, lp_status st) {
    lp_status st2 = lp_ctx_set_chunk_bytes(ctx, s->chunk);
    if (!st2) st2 = lpi_remote_set_mode(ctx, s->orch, s->budget);
    return st ? st : st2;
}

/* ---- the samplers' rounds (lpi_cal_sampler: spread through the calibration) ---- */

/* The 2-task graph (v[0]) and the ~550-task one (v[1]) with one lambda, one right after the
 * other: a run's fixed cost (orch_run_s) and, from their paired difference, a chain's cost per
 * task (orch_task_s). */
typedef struct chain_arg {
    rcal *C;
    int64_t na, nb;
} chain_arg;

static lp_status chain_round(void *arg, int r, double *v) {
    chain_arg *a = arg;
    setting keep = setting_get(a->C->ctx);
    (void)r;
    lp_status st = lp_ctx_set_chunk_bytes(a->C->ctx, 256);
    if (!st) st = lpi_remote_set_mode(a->C->ctx, "lambda", 1);
    if (!st) st = run_once(a->C->ctx, graph, NULL, a->na, &v[0]);
    if (!st) st = run_once(a->C->ctx, graph, NULL, a->nb, &v[1]);
    return setting_put(a->C->ctx, &keep, st);
}

/* The compute-bound graph (remote_par): its work on one local worker (loc: this process's own
 * executor with one thread; v[0]) and its remote run with the full budget (v[1]), one right
 * after the other, so that both see the machine's load of that moment (before the first round
 * an untimed local run: the pool's thread and buffers start). */
typedef struct heavy_arg {
    rcal *C;
    lp_ctx *loc;
    int64_t n;
    int full;
} heavy_arg;

static lp_status heavy_round(void *arg, int r, double *v) {
    heavy_arg *a = arg;
    double warm;
    lp_status st = r ? LP_OK : run_once(a->loc, heavy_graph, NULL, a->n, &warm);
    if (!st) st = run_once(a->loc, heavy_graph, NULL, a->n, &v[0]);
    if (st) return lpi_error(a->C->ctx, st, "the compute-bound graph on one local worker: %s", lp_last_error(a->loc));
    setting keep = setting_get(a->C->ctx);
    st = lp_ctx_set_chunk_bytes(a->C->ctx, 65536);
    if (!st) st = lpi_remote_set_mode(a->C->ctx, "lambda", a->full);
    if (!st) st = run_once(a->C->ctx, heavy_graph, NULL, a->n, &v[1]);
    return setting_put(a->C->ctx, &keep, st);
}

/* Reading a file input through the workers (remote_load_bw): sum_graph on the large file `big`
 * (n float64 in chunks of `chunk` bytes) and on the small one `small` (ns in 256-byte chunks:
 * the same 16 roots and combine tree, tasks of next to no work) with the full budget, one right
 * after the other (in turn first), so that both see the machine's load of that moment: v[0],
 * their difference, is what the large file's rows cost the run. */
typedef struct read_arg {
    rcal *C;
    const char *big, *small;
    int64_t n, ns;
    size_t chunk;
    int full;
} read_arg;

static lp_status read_round(void *arg, int r, double *v) {
    read_arg *a = arg;
    setting keep = setting_get(a->C->ctx);
    double t[2] = {0, 0};
    lp_status st = lpi_remote_set_mode(a->C->ctx, "lambda", a->full);
    for (int k = 0; !st && k < 2; k++) {
        const int large = (k + r) % 2;
        st = lp_ctx_set_chunk_bytes(a->C->ctx, large ? a->chunk : 256);
        if (!st) st = run_once(a->C->ctx, sum_graph, large ? a->big : a->small, large ? a->n : a->ns, &t[large]);
    }
    v[0] = t[1] - t[0];
    return setting_put(a->C->ctx, &keep, st);
}

/* Writing a run's output into a file through the workers (remote_write_bw): scaled_graph of the
 * file `in` (n float64) saved by its tasks into the file `out` (a result sink, as `lampy eval -o` does; the
 * commit left out, the file removed: the driver's fsync is file_sync_bw's) and scaled_sum_graph,
 * both with the full budget and `chunk`-byte chunks, one right after the other (in turn first),
 * so that both see the machine's load of that moment: v[0], their difference, is what the tasks'
 * writes into the one file add to the same work. Workers that may not write there (no
 * --write-dir over it) end the sampling with the reason in `why`: the figure is not measured. */
typedef struct write_arg {
    rcal *C;
    const char *in, *out;
    int64_t n;
    size_t chunk;
    int full;
    char why[256];
} write_arg;

static lp_status save_once(write_arg *a, double *t) {
    lp_ctx *ctx = a->C->ctx;
    lp_array *x;
    lp_status st = scaled_graph(ctx, a->in, a->n, &x);
    if (st) return st;
    lpi_npy_writer *w = NULL;
    st = lpi_npy_writer_open(ctx, a->out, x->dtype, x->ndim, x->shape, &w);
    lpi_result_sink sink = {w ? lpi_npy_writer_temp(w) : NULL, w ? lpi_npy_writer_data_offset(w) : 0, false, 0};
    if (!st) {
        double t0 = lpi_now();
        st = lpi_run_sunk(ctx, x, &sink);
        *t = lpi_now() - t0;
    }
    if (!st && !sink.taken) st = lpi_error(ctx, LP_ERR_VALUE, "the run did not write its result into the file (LAMPY_RESULT_SINK=0?)");
    lpi_npy_writer_abort(w);
    lp_array_release(x);
    return st;
}

static lp_status write_round(void *arg, int r, double *v) {
    write_arg *a = arg;
    v[0] = NAN;
    if (a->why[0]) return LP_OK;
    setting keep = setting_get(a->C->ctx);
    double t[2] = {0, 0};
    lp_status st = lpi_remote_set_mode(a->C->ctx, "lambda", a->full);
    if (!st) st = lp_ctx_set_chunk_bytes(a->C->ctx, a->chunk);
    for (int k = 0; !st && k < 2; k++) {
        if ((k + r) % 2 == 0) {
            st = run_once(a->C->ctx, scaled_sum_graph, a->in, a->n, &t[0]);
            continue;
        }
        if ((st = save_once(a, &t[1]))) {
            snprintf(a->why, sizeof a->why, "%s", lp_last_error(a->C->ctx));
            return setting_put(a->C->ctx, &keep, LP_OK);
        }
    }
    v[0] = t[1] - t[0];
    return setting_put(a->C->ctx, &keep, st);
}

lp_status lpi_cal_paired_par(lp_ctx *ctx, const lpi_profile *P, lpi_plan *pl, int workers, lpi_cost_mode mode, double hi,
                             const double *t_local, const double *t_remote, int rounds, double *par, double *speed) {
    double pars[16], ks[16], m1 = 0, m2 = 0;
    planned g = {pl, 0};
    lpi_profile Q = *P;
    if (rounds < 1 || rounds > 16) return lpi_error(ctx, LP_ERR_VALUE, "paired parallelism: 1..16 rounds");
    if (hi < 1) hi = 1;
    /* the local model of one worker is a + b k in the cores' slowness k (a sum of task times,
     * each linear in k): two evaluations give a and b */
    lp_status st = predict(ctx, &Q, &g, 1, LPI_COST_LOCAL, &m1);
    lpi_profile_scale_cores(&Q, 2);
    if (!st) st = predict(ctx, &Q, &g, 1, LPI_COST_LOCAL, &m2);
    const double b = m2 - m1, a = m1 - b;
    for (int r = 0; !st && r < rounds; r++) {
        ks[r] = clampd(b > 0 ? (t_local[r] - a) / b : 1, 1e-3, 1e3);
        Q = *P;
        lpi_profile_scale_cores(&Q, ks[r]);
        st = fit(ctx, &Q, &Q.remote_par, 1, hi, true, &g, workers, mode, t_remote[r]);
        pars[r] = Q.remote_par;
    }
    if (st) return st;
    *par = median(pars, rounds);
    if (speed) *speed = median(ks, rounds);
    return LP_OK;
}

/* Workers on this machine (127.x.y.z, localhost, [::1]): they share its cores. */
static bool loopback_url(const char *url) {
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    return !strncmp(h, "127.", 4) || !strncmp(h, "localhost", 9) || !strncmp(h, "[::1]", 5);
}

/* Spreading a run: the 16-root graph (on arange, and on the file `input` when there is one)
 * with one lambda and with `full`, in rounds of one run each, one after the other; per graph
 * the median of the rounds' differences (full minus one lambda: a change of the machine's load
 * between rounds cancels, and the difference is what spreading adds, measured on the same
 * tasks) and the median time with `full`; for the file, also the median of its difference less
 * arange's in the same round (vs_gen: what the file input adds, paired as well; the difference
 * of the two medians moved 0.8 to 3.2 ms per lambda between calibrations a minute apart).
 * After each round the samplers take their rounds due (lpi_cal_tick). */
typedef struct spread_times {
    double diff, t_full, vs_gen;
} spread_times;

static lp_status spread_rounds(rcal *C, const char *input, int64_t n, int rounds, int full, spread_times *gen,
                               spread_times *file) {
    double d[2][16], tf[2][16], dv[16];
    if (rounds > 16) rounds = 16;
    for (int r = 0; r < rounds; r++) {
        for (int g = 0; g < (input ? 2 : 1); g++) {
            double t1, tn;
            const char *in = g ? input : NULL;
            lp_status st = lpi_remote_set_mode(C->ctx, "lambda", 1);
            if (!st) st = run_once(C->ctx, graph, in, n, &t1);
            if (!st) st = lpi_remote_set_mode(C->ctx, "lambda", full);
            if (!st) st = run_once(C->ctx, graph, in, n, &tn);
            if (st) return st;
            d[g][r] = tn - t1;
            tf[g][r] = tn;
        }
        lp_status st = lpi_cal_tick(&C->ticks);
        if (st) return st;
    }
    for (int r = 0; input && r < rounds; r++) dv[r] = d[1][r] - d[0][r];
    if (input) file->vs_gen = median(dv, rounds);
    gen->diff = median(d[0], rounds);
    gen->t_full = median(tf[0], rounds);
    if (input) {
        file->diff = median(d[1], rounds);
        file->t_full = median(tf[1], rounds);
    }
    return LP_OK;
}

/* What each lambda beyond the first costs on graph g: its measured spreading difference less
 * the model's for it without any per-lambda cost, over those lambdas (*lambdas: how many the
 * run spreads to). */
static lp_status per_lambda(lp_ctx *ctx, const lpi_profile *P, planned *g, int full, double diff, double *out, int *lambdas) {
    lpi_profile Q = *P;
    Q.orch_lambda_s = Q.orch_input_s = 0;
    double m1, mf;
    lp_status st = predict(ctx, &Q, g, 1, LPI_COST_ORCH, &m1);
    if (!st) st = predict_spread(ctx, &Q, g, full, LPI_COST_ORCH, &mf, lambdas, NULL);
    if (!st) *out = *lambdas > 1 ? (diff - (mf - m1)) / (*lambdas - 1) : 0;
    return st;
}

/* A .npy file of n float64 (0, 1, ...) in dir, which the workers may read: its absolute path
 * into path (the workers refuse relative ones). */
static lp_status write_input(lp_ctx *ctx, const char *dir, int64_t n, char *path, size_t cap) {
    char real[PATH_MAX], run[32];
    if (!realpath(dir, real)) return lpi_error(ctx, LP_ERR_NOTFOUND, "input directory %.300s: %s", dir, strerror(errno));
    lpi_run_id_new(run, sizeof run);
    if ((size_t)snprintf(path, cap, "%s/lampy-calibrate-%s.npy", real, run) >= cap)
        return lpi_error(ctx, LP_ERR_VALUE, "input directory %.300s: path too long", dir);
    lp_buffer *b = lpi_buffer_new(LP_FLOAT64, 1, &n);
    if (!b) return lpi_nomem(ctx);
    for (int64_t i = 0; i < n; i++) ((double *)b->data)[i] = (double)i;
    lp_status st = lp_save(ctx, path, b);
    lp_buffer_release(b);
    if (st) path[0] = 0;
    return st;
}

lp_status lp_calibrate_remote(lp_ctx *ctx, bool quick, const char *load_dir, void (*log)(void *, const char *), void *log_arg) {
    rcal C = {{log, log_arg}, ctx, quick ? 3 : 5, {{0}, 0, 0, 0}};
    lpi_remote_view rv;
    if (!lpi_remote_view_get(ctx, &rv) || !rv.nurls)
        return lpi_error(ctx, LP_ERR_VALUE, "remote calibration needs the lambda executor's workers (lp_ctx_set_workers, --workers)");
    const double t_start = lpi_now();
    const char *orch0 = rv.cfg->orchestrate;
    const int budget0 = rv.cfg->max_lambdas, nw = rv.nurls;
    const size_t chunk0 = lp_ctx_chunk_bytes(ctx);
    lpi_profile P = *lpi_profile_get(ctx), keep = P;
    planned A = {0}, B = {0}, H = {0}, S = {0}, I = {0}, F = {0}, G = {0}, E = {0}, U = {0};
    lp_ctx *loc = NULL; /* the compute-bound graph on one local worker */
    char input[PATH_MAX] = "", big[PATH_MAX] = "", wbig[PATH_MAX] = "", saved[PATH_MAX] = "";
    const int64_t na = 32, ns = 512, nb = quick ? 4096 : 8192, nc = quick ? (int64_t)1 << 18 : (int64_t)1 << 19;
    /* the file the workers read rows of: 16 chunks (16 roots, as a large input has), 1 or 2 MiB
     * each (a 64 MiB file in 4 MiB chunks, tried, left the rounds about as noisy and the figure
     * as unsteady: docs/PERFORMANCE.md, "Rounds spread through the remote calibration") */
    const int64_t nr = quick ? (int64_t)1 << 21 : (int64_t)1 << 22;
    const size_t rchunk = (size_t)nr * 8 / 16;
    /* the output the tasks write into a file: 16 chunks (as a large result has), 4 or 8 MiB each
     * (the bench's 16M-element result, written by its tasks into one file, has 8 MiB chunks; 1
     * MiB chunks of a 16 MiB one, tried, wrote next to nothing to measure: 1.0 ms more than the
     * sum, less than the model's other terms) */
    const int64_t nout = quick ? (int64_t)1 << 23 : (int64_t)1 << 24;
    const size_t wchunk = (size_t)nout * 8 / 16;
    const int full = 2 * nw; /* the default budget, and the driver's invocations in flight */
    const bool redis = !strncmp(rv.store, "redis://", 8);
    const int srounds = quick ? 5 : 9; /* spread_rounds' */
    /* the samplers' ticks: before the store, after it, after the invocations, after the runs of
     * the large graph with the full budget, after each of spread_rounds' rounds, after the
     * driver-centric runs */
    C.ticks.ticks = 4 + srounds + 1;
    lpi_cal_sampler chain = {chain_round, NULL, quick ? 9 : 15, 0, {{0}}};
    lpi_cal_sampler heavy = {heavy_round, NULL, quick ? 5 : 9, 0, {{0}}};
    lpi_cal_sampler reads = {read_round, NULL, C.ticks.ticks, 0, {{0}}}; /* one round at each tick */
    lpi_cal_sampler writes = {write_round, NULL, C.ticks.ticks, 0, {{0}}};
    chain_arg ca = {&C, na, nb};
    heavy_arg ha = {&C, NULL, nc, full};
    read_arg ra = {&C, big, input, nr, ns, rchunk, full};
    write_arg wa = {&C, wbig, saved, nout, wchunk, full, ""};
    chain.arg = &ca, heavy.arg = &ha, reads.arg = &ra, writes.arg = &wa;
    lpi_store *s = NULL;
    lp_status st = LP_OK;
    say(&C, "remote: %d worker%s, store %.*s", nw, nw == 1 ? "" : "s", (int)strcspn(rv.store, "@"), rv.store);
    /* the runs below are warm (this process has its libraries started, its connections and
     * scripts); what the first remote run of a process pays on top is measured first, before
     * anything else here touches the store or a worker: the first of a few orchestrated runs of
     * the small graph against the slowest of the others (`lampy eval` is such a first run, every
     * time; one sample, so a hiccup of the machine must not count as the libraries' cost) */
    double first_excess = 0, first_t = 0, later_t = 0;
    P.remote_first_s = 0; /* the fits below price warm runs */
    if (redis) {
        double tf, tm, ts;
        if ((st = lp_ctx_set_chunk_bytes(ctx, 256)) || (st = lpi_remote_set_mode(ctx, "lambda", 1)) ||
            (st = time_runs(&C, graph, NULL, na, 8, &tm, &tf, &ts)))
            goto done;
        first_excess = fmax(tf - ts, 0);
        first_t = tf;
        later_t = ts;
    }
    if ((st = lpi_remote_store(ctx, &s))) goto done;
    if ((st = lp_ctx_set_chunk_bytes(ctx, 65536)) || (st = plan_graph(ctx, heavy_graph, NULL, nc, &H))) goto done;
    if ((st = lp_ctx_set_chunk_bytes(ctx, 256))) goto done;
    /* orchestrated runs need a redis:// store: the samplers of its figures, spread through the
     * calibration from here on (the figures that moved most between calibrations a minute apart
     * when their rounds ran back to back: the one-lambda runs, orch_run_s and orch_task_s; the
     * compute-bound graph, remote_par; the file's rows, remote_load_bw, 7.58 and 1.36 GB/s) */
    if (redis) {
        if ((st = lp_ctx_create(&loc)) || (st = lp_ctx_set_threads(loc, 1)) || (st = lpi_profile_set(loc, &P)) ||
            (st = lp_ctx_set_chunk_bytes(loc, 65536))) {
            st = lpi_error(ctx, st, "a local context: %s", loc ? lp_last_error(loc) : "out of memory");
            goto done;
        }
        ha.loc = loc;
        C.ticks.s[C.ticks.ns++] = &chain;
        C.ticks.s[C.ticks.ns++] = &heavy;
        if (load_dir) {
            if ((st = write_input(ctx, load_dir, ns, input, sizeof input)) || (st = write_input(ctx, load_dir, nr, big, sizeof big)))
                goto done;
            /* and the file the tasks write x * 2 + 1 of into another beside it (only its
             * temporary twin is ever created) */
            if ((st = write_input(ctx, load_dir, nout, wbig, sizeof wbig))) goto done;
            if ((size_t)snprintf(saved, sizeof saved, "%.*s-out.npy", (int)(strlen(wbig) - 4), wbig) >= sizeof saved) {
                st = lpi_error(ctx, LP_ERR_VALUE, "input directory %.300s: path too long", load_dir);
                goto done;
            }
            C.ticks.s[C.ticks.ns++] = &reads;
            C.ticks.s[C.ticks.ns++] = &writes;
        }
    }
    if ((st = lpi_cal_tick(&C.ticks))) goto done;

    /* ---- the store ---- */
    char run[32], key[96];
    lpi_run_id_new(run, sizeof run);
    snprintf(key, sizeof key, "lampy/calibrate-%s", run);
    {
        double tp, tg, p1, g1, p16, g16;
        if ((st = store_times(&C, s, key, 1, quick ? 50 : 64, &tp, &tg))) goto done;
        if ((st = store_times(&C, s, key, (int64_t)1 << 17, quick ? 5 : 9, &p1, &g1))) goto done;
        if ((st = store_times(&C, s, key, (int64_t)1 << 21, quick ? 3 : 5, &p16, &g16))) goto done;
        const double db = 15.0 * (1 << 20);
        P.rtt = clampd(tg, 1e-6, 1);
        P.put_bw = clampd(db / fmax(p16 - p1, 1e-9), 1e6, 1e12);
        P.net_bw = clampd(db / fmax(g16 - g1, 1e-9), 1e6, 1e12);
        say(&C, "store               %8.1f us round trip; put %.0f MB/s, get %.0f MB/s (1 to 16 MiB chunks)", P.rtt * 1e6,
            P.put_bw / 1e6, P.net_bw / 1e6);
    }
    if ((st = lpi_cal_tick(&C.ticks))) goto done;

    /* ---- invocations: an empty batch to each worker in turn ---- */
    {
        const lpi_key *k = NULL;
        if ((st = lpi_remote_key(ctx, &k))) goto done;
        lpi_orch_auth auth = {k, "", rv.ca_file};
        const char *body = "{\"format\": \"lampy.tasks\", \"version\": 1, \"stores\": [], \"tasks\": []}";
        double t[64];
        int n = quick ? 24 : 64;
        for (int i = 0; i < n; i++) {
            double t0 = lpi_now();
            if ((st = lpi_orch_invoke(ctx, rv.urls, nw, i, rv.lambda, body, "lampy-calibrate/1", 10, &auth, NULL))) goto done;
            t[i] = lpi_now() - t0;
        }
        P.invoke = clampd(median(t, n), 1e-6, 10);
        say(&C, "invocation          %8.1f us round trip (an empty batch)", P.invoke * 1e6);
    }
    if ((st = lpi_cal_tick(&C.ticks))) goto done;

    /* ---- runs of the graphs ---- */
    if ((st = plan_graph(ctx, graph, NULL, na, &A)) || (st = plan_graph(ctx, graph, NULL, nb, &B)) || (st = plan_graph(ctx, graph, NULL, ns, &S)))
        goto done;
    double tp = 0;
    spread_times sg = {0}, sf = {0};
    if (redis) {
        /* medians (the estimate prices a typical run, and a bench takes the median of its runs) */
        if ((st = lpi_remote_set_mode(ctx, "lambda", full)) || (st = time_run(&C, graph, NULL, nb, &tp))) goto done;
        if ((st = lpi_cal_tick(&C.ticks))) goto done;
        if (load_dir && (st = plan_graph(ctx, graph, input, ns, &I))) goto done;
        if ((st = spread_rounds(&C, load_dir ? input : NULL, ns, srounds, full, &sg, &sf))) goto done;
    }
    /* driver-centric: the two graphs dispatched by this process (fitted below) */
    double tda = 0, tdb = 0;
    if ((st = lpi_remote_set_mode(ctx, NULL, 0)) || (st = time_run(&C, graph, NULL, na, &tda)) || (st = time_run(&C, graph, NULL, nb, &tdb)))
        goto done;
    /* the samplers' last tick, and the rounds a shorter calibration did not reach */
    if ((st = lpi_cal_tick(&C.ticks)) || (st = lpi_cal_finish(&C.ticks))) goto done;

    if (redis) {
        double ta, tb, dab, th, speed = 1, v[LPI_CAL_ROUNDS];
        const int hrounds = heavy.n;
        memcpy(v, chain.v[0], sizeof v);
        ta = median(v, chain.n);
        memcpy(v, chain.v[1], sizeof v);
        tb = median(v, chain.n);
        for (int r = 0; r < chain.n; r++) v[r] = chain.v[1][r] - chain.v[0][r];
        dab = median(v, chain.n);
        memcpy(v, heavy.v[1], sizeof v);
        th = median(v, hrounds);
        /* one lambda: the prediction is the run's fixed cost plus the sum of its tasks */
        lpi_profile Q = P;
        Q.orch_run_s = Q.orch_task_s = 0;
        Q.remote_par = Q.remote_over_par = 1;
        double ma, mb;
        if ((st = predict(ctx, &Q, &A, 1, LPI_COST_ORCH, &ma)) || (st = predict(ctx, &Q, &B, 1, LPI_COST_ORCH, &mb))) goto done;
        P.orch_task_s = clampd((dab - (mb - ma)) / (double)(B.tasks - A.tasks), 1e-6, 1);
        P.orch_run_s = clampd(ta - ma - (double)A.tasks * P.orch_task_s, 1e-5, 10);
        /* the full budget: a few tiny tasks (16 ready at the start) say what spreading a run
         * over more lambdas costs (their invocations, each worker planning the run), many tiny
         * tasks how many tasks' coordination overlaps, the compute-bound ones how many tasks
         * compute at once; each fit given the others. The last is a ratio of paired timings:
         * each round's local run says how fast the cores work at that moment against the local
         * calibration's op costs (measured earlier, under another load), and the remote run of
         * the same round is inverted with the cores at that speed, so the parallelism is what
         * the remote run gained over one worker, not the two calibrations' difference in load.
         * At most the budget, and workers on this machine at most its cores. */
        bool here = true;
        for (int i = 0; i < nw; i++) here &= loopback_url(rv.urls[i]);
        const double par_hi = here ? fmin(full, lpi_ncores()) : full;
        Q = P;
        Q.remote_par = par_hi;
        Q.orch_lambda_s = 0;
        for (int round = 0; round < 3; round++) {
            double e;
            int used = 1;
            if ((st = per_lambda(ctx, &Q, &S, full, sg.diff, &e, &used))) goto done;
            Q.orch_lambda_s = clampd(e, 1e-6, 1);
            if ((st = fit(ctx, &Q, &Q.remote_over_par, 1, full, true, &B, full, LPI_COST_ORCH, tp)) ||
                (st = lpi_cal_paired_par(ctx, &Q, H.pl, full, LPI_COST_ORCH, par_hi, heavy.v[0], heavy.v[1], hrounds,
                                         &Q.remote_par, &speed)))
                goto done;
        }
        P.remote_par = Q.remote_par;
        P.remote_over_par = Q.remote_over_par;
        P.orch_lambda_s = Q.orch_lambda_s;
        /* the same 16 roots on a file (one input): each lambda opens its header planning the run;
         * its spreading difference is arange's plus the paired median of what the file adds */
        if (load_dir) {
            double e;
            int used = 1;
            if ((st = per_lambda(ctx, &Q, &I, full, sg.diff + sf.vs_gen, &e, &used))) goto done;
            P.orch_input_s = clampd(e - P.orch_lambda_s, 1e-7, 1);
        }
        /* the rows of a large file input, read by the lambdas of a run while they all read (the
         * local load_bw1 is one reader alone, best of 5, on the driver's machine): the model's
         * difference between the sum of the large file and of the small one is mostly the reads,
         * so the rate for which it matches the paired median difference is what they read at */
        double rdiff = 0, rq1 = 0, rq3 = 0;
        if (load_dir) {
            double mg;
            Q = P;
            memcpy(v, reads.v[0], sizeof v);
            rdiff = median(v, reads.n); /* sorts v: its quartiles for the log */
            rq1 = v[reads.n / 4], rq3 = v[(3 * reads.n) / 4];
            if ((st = lp_ctx_set_chunk_bytes(ctx, rchunk)) || (st = plan_graph(ctx, sum_graph, big, nr, &F)) ||
                (st = lp_ctx_set_chunk_bytes(ctx, 256)) || (st = plan_graph(ctx, sum_graph, input, ns, &G)) ||
                (st = predict(ctx, &Q, &G, full, LPI_COST_ORCH, &mg)) ||
                (st = fit(ctx, &Q, &Q.remote_load_bw, 1e8, 1e12, true, &F, full, LPI_COST_ORCH, mg + rdiff)))
                goto done;
            P.remote_load_bw = Q.remote_load_bw;
        }
        /* the tasks' writes of an output into the one file while the others compute (the local
         * file_write_bw is one writer's best on an idle machine): the model's difference between
         * the saved run (less its commit, which the rounds leave out) and the sum is mostly those
         * writes, one at a time, so the rate for which it matches the paired median difference is
         * what one writes at */
        double wdiff = 0, wq1 = 0, wq3 = 0;
        if (load_dir && !wa.why[0]) {
            double ms, me, save;
            Q = P;
            memcpy(v, writes.v[0], sizeof v);
            wdiff = median(v, writes.n);
            wq1 = v[writes.n / 4], wq3 = v[(3 * writes.n) / 4];
            lpi_result_sink sink = {NULL, 0, true, 0}, *sinkp = &sink;
            if ((st = lp_ctx_set_chunk_bytes(ctx, wchunk)) || (st = plan_graph(ctx, scaled_graph, wbig, nout, &E)) ||
                (st = plan_graph(ctx, scaled_sum_graph, wbig, nout, &U)) || (st = lp_ctx_set_chunk_bytes(ctx, 256)))
                goto done;
            if (!lpi_plan_sinkable(E.pl, 0)) {
                st = lpi_error(ctx, LP_ERR_VALUE, "the saved graph cannot be written by its tasks");
                goto done;
            }
            E.pl->target_sink = &sinkp;
            st = predict(ctx, &Q, &U, full, LPI_COST_ORCH, &ms);
            if (!st) st = predict_spread(ctx, &Q, &E, full, LPI_COST_ORCH, &me, NULL, &save);
            if (!st) st = fit(ctx, &Q, &Q.remote_write_bw, 1e7, 1e12, true, &E, full, LPI_COST_ORCH, ms + wdiff + save);
            E.pl->target_sink = NULL;
            if (st) goto done;
            P.remote_write_bw = Q.remote_write_bw;
        }
        say(&C, "orchestrated        %8.2f ms per run, %.1f us per task in a chain (%lld tasks: %.1f ms with 1 lambda",
            P.orch_run_s * 1e3, P.orch_task_s * 1e6, (long long)A.tasks, ta * 1e3);
        say(&C, "                    and %lld in %.1f ms, medians of %d rounds spread through the calibration; those",
            (long long)B.tasks, tb * 1e3, chain.n);
        say(&C, "                    in %.1f ms with %d: coordination of %.2f tasks at once; %lld compute-bound tasks in",
            tp * 1e3, full, P.remote_over_par, (long long)H.tasks);
        say(&C, "                    %.1f ms with %d: %.2f tasks at once at full speed, paired with one local worker",
            th * 1e3, full, P.remote_par);
        say(&C, "                    working %.2fx as long as the profile's op costs say, medians of %d rounds spread",
            speed, hrounds);
        say(&C, "                    through the calibration); %.2f ms per lambda a run spreads to", P.orch_lambda_s * 1e3);
        say(&C, "                    (%lld tasks in %.1f ms with %d, %.1f ms more than with 1: medians of %d rounds)",
            (long long)S.tasks, sg.t_full * 1e3, full, sg.diff * 1e3, srounds);
        if (load_dir)
            say(&C, "                    %.2f ms per lambda and file input (%lld tasks on a file in %.1f ms with %d, %.1f ms more",
                P.orch_input_s * 1e3, (long long)I.tasks, sf.t_full * 1e3, full, sf.diff * 1e3);
        if (load_dir) {
            say(&C, "                    than with 1)");
            say(&C, "                    file rows read at %.2f GB/s per lambda, all reading (sum of %lld MiB in %d chunks: %.1f ms",
                P.remote_load_bw / 1e9, (long long)(nr >> 17), 16, rdiff * 1e3);
            say(&C, "                    more than of 4 KiB, median of %d rounds spread through the calibration, quartiles",
                reads.n);
            say(&C, "                    %.1f and %.1f ms; %.2f GB/s one local reader alone)", rq1 * 1e3, rq3 * 1e3, P.load_bw1 / 1e9);
            if (wa.why[0])
                say(&C, "                    file output writes not measured (%s): %s kept", wa.why,
                    P.remote_write_bw > 0 ? "the measured write rate" : "the local write rate");
            else {
                say(&C, "                    file output written at %.2f GB/s by one task at a time, the others computing (%lld MiB",
                    P.remote_write_bw / 1e9, (long long)(nout >> 17));
                say(&C, "                    saved in %d chunks: %.1f ms more than their sum, median of %d rounds spread through", 16,
                    wdiff * 1e3, writes.n);
                say(&C, "                    the calibration, quartiles %.1f and %.1f ms; %.2f GB/s written locally)", wq1 * 1e3,
                    wq3 * 1e3, P.file_write_bw / 1e9);
            }
        } else
            say(&C, "                    per lambda and file input, file rows not measured (no --load-dir): %.2f ms and",
                P.orch_input_s * 1e3);
        if (!load_dir)
            say(&C, "                    %s and %s kept", P.remote_load_bw > 0 ? "the measured read rate" : "the local read rate",
                P.remote_write_bw > 0 ? "the measured write rate" : "the local write rate");
        say(&C, "first run           %8.2f ms more than later ones (%.2f ms, the slowest later %.2f ms: libraries, connections, scripts)",
            first_excess * 1e3, first_t * 1e3, later_t * 1e3);
    } else {
        say(&C, "orchestrated        not measured: orchestration needs a redis:// store");
    }
    {
        lpi_profile Q = P;
        Q.drv_run_s = Q.drv_task_s = 0;
        double ma;
        if ((st = predict(ctx, &Q, &A, full, LPI_COST_DRIVER, &ma))) goto done;
        Q.drv_run_s = P.drv_run_s = clampd(tda - ma, 1e-5, 10);
        if ((st = fit(ctx, &Q, &Q.drv_task_s, 0, tdb / (double)B.tasks, false, &B, full, LPI_COST_DRIVER, tdb))) goto done;
        P.drv_task_s = clampd(Q.drv_task_s, 1e-7, 1);
        say(&C, "driver-centric      %8.2f ms per run, %.1f us of the driver per task (%lld tasks in %.1f ms)",
            P.drv_run_s * 1e3, P.drv_task_s * 1e6, (long long)B.tasks, tdb * 1e3);
    }
    P.remote_first_s = redis ? clampd(first_excess, 1e-6, 10) : keep.remote_first_s;
    P.remote_calibrated = true;
    say(&C, "remote calibrated in %.1f s", lpi_now() - t_start);
done:;
    char msg[LPI_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "remote calibration: %s", lp_last_error(ctx));
    if (A.pl) lpi_plan_destroy(A.pl);
    if (B.pl) lpi_plan_destroy(B.pl);
    if (H.pl) lpi_plan_destroy(H.pl);
    if (S.pl) lpi_plan_destroy(S.pl);
    if (I.pl) lpi_plan_destroy(I.pl);
    if (F.pl) lpi_plan_destroy(F.pl);
    if (G.pl) lpi_plan_destroy(G.pl);
    if (E.pl) lpi_plan_destroy(E.pl);
    if (U.pl) lpi_plan_destroy(U.pl);
    if (input[0]) unlink(input);
    if (big[0]) unlink(big);
    if (wbig[0]) unlink(wbig);
    lp_ctx_destroy(loc);
    lp_ctx_set_chunk_bytes(ctx, chunk0);
    lpi_remote_set_mode(ctx, orch0, budget0);
    /* the context keeps its profile on failure; on success the measured remote figures */
    if (st) {
        lpi_profile_set(ctx, &keep);
        return lpi_error(ctx, st, "%s", msg);
    }
    return lpi_profile_set(ctx, &P);
}
