/* The machine probe (issue 16): what the planner and the kernels should choose on this machine,
 * measured with Lampy's own kernels over an array far larger than the caches.
 *
 *   task overhead    sum(a) over 10,000 tiny chunks against one chunk, on two clocks of the
 *                    same runs: CPU time for the bound below, wall time for the profile's
 *                    task_overhead (the cost model's term per task; `lampy calibrate` keeps it)
 *   chunk size       sum(a) and a * 1.5 + 0.5 with every chunk size of a sweep, all workers;
 *                    the sizes within the sweep's own noise of the best are ties, and the
 *                    smallest tie whose measured per-task overhead stays under 2% of a task's
 *                    streaming time becomes the profile's chunk_bytes (lpi_probe_pick_chunk)
 *   threads          sum(a) with one worker against all: read bandwidth per thread count
 *   non-temporal     a * 1.5 + 0.5 with and without the VM's streaming stores
 *   page faults      first touch of a fresh 64 MiB allocation, with and without huge pages,
 *                    against writing the same memory again (the fault cost per byte); the
 *                    first round's, of memory the probe has not just freed, decides
 *                    (lpi_probe_pick_fresh); then every worker touching its own 64 MiB at once
 *                    (faults contend)
 *
 * `lampy calibrate` runs it first (full: 256 MiB, more repetitions); a process that plans a large
 * array with no profile anywhere runs it once, quickly (~1 s: 128 MiB, two or three rounds), and caches
 * the result where `lampy calibrate` would save its profile. Runs are interleaved (round by
 * round over the sizes) so a busy moment does not favour one setting. */
#include "plan/cost.h"
#include "exec/calibrate.h"
#include "kernels/kernels.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void noop_release(void *p) { (void)p; }

static double cpu_now(void);

/* a * 1.5 + 0.5 (op 1) or sum(a) (op 0), run once: wall seconds; *cpu (may be NULL): the
 * process's CPU seconds over the run */
static lp_status time_op_cpu(lp_ctx *c, lp_array *a, int op, double *t, double *cpu) {
    lp_array *x = NULL, *k1 = NULL, *k2 = NULL, *y = NULL;
    lp_status st;
    if (op == 0) st = lp_reduce(c, "sum", a, NULL, 0, false, &x);
    else if (!(st = lp_scalar_array(c, lp_scalar_f(1.5), &k1)) && !(st = lp_scalar_array(c, lp_scalar_f(0.5), &k2)) &&
             !(st = lp_binary(c, "multiply", a, k1, &y)))
        st = lp_binary(c, "add", y, k2, &x);
    lp_array_release(k1);
    lp_array_release(k2);
    lp_array_release(y);
    if (st) return st;
    double c0 = cpu ? cpu_now() : 0, t0 = lpi_now();
    lp_buffer *b = NULL;
    st = lp_run(c, &x, 1, &b);
    *t = lpi_now() - t0;
    if (cpu) *cpu = cpu_now() - c0;
    lp_buffer_release(b);
    lp_array_release(x);
    return st;
}

static lp_status time_op(lp_ctx *c, lp_array *a, int op, double *t) { return time_op_cpu(c, a, op, t, NULL); }

double lpi_probe_run_time(double wall, double cpu, int workers) {
    return workers > 0 && cpu > 0 ? fmin(wall, cpu / workers) : wall;
}

typedef struct fresh_job {
    size_t n;
    char *p;
    double t_fresh, t_again;
} fresh_job;

/* One thread's part: the first write of its fresh memory (faults, the kernel's zeroing), then a
 * second write of the same memory (the stores alone). */
static void *fresh_main(void *arg) {
    fresh_job *j = arg;
    double t0 = lpi_now();
    memset(j->p, 1, j->n);
    double t1 = lpi_now();
    memset(j->p, 2, j->n);
    double t2 = lpi_now();
    __asm__ volatile("" ::"r"(j->p) : "memory");
    j->t_fresh = t1 - t0;
    j->t_again = t2 - t1;
    return NULL;
}

void lpi_fresh_pages(size_t n, int threads, bool huge, double *t_fresh, double *t_again) {
    enum { MAXT = 64 };
    if (threads < 1) threads = 1;
    if (threads > MAXT) threads = MAXT;
    fresh_job job[MAXT];
    pthread_t th[MAXT];
    *t_fresh = *t_again = 0;
    bool keep = lpi_alloc_huge();
    lpi_alloc_set_huge(huge);
    int k = 0;
    for (; k < threads; k++) {
        job[k] = (fresh_job){n, lp_malloc_aligned(n), 0, 0};
        if (!job[k].p) break;
    }
    lpi_alloc_set_huge(keep);
    int started = 0;
    if (k == threads) {
        for (int i = 1; i < threads; i++) {
            if (pthread_create(&th[i], NULL, fresh_main, &job[i])) break;
            started = i;
        }
        fresh_main(&job[0]);
        for (int i = 1; i <= started; i++) pthread_join(th[i], NULL);
        /* the slowest thread's: workers contend for the page allocator and the mm's locks */
        if (started == threads - 1)
            for (int i = 0; i < threads; i++) {
                *t_fresh = fmax(*t_fresh, job[i].t_fresh);
                *t_again = fmax(*t_again, job[i].t_again);
            }
    }
    for (int i = 0; i < k; i++) lp_free_aligned(job[i].p);
}

/* B/s of first-touch faults: n bytes, the first write's seconds against a second write's (a
 * fault-free write no faster than 1e11 B/s). */
static double fresh_rate(size_t n, double t_fresh, double t_again) {
    double fault = t_fresh - t_again;
    return fmin(fmax((double)n / fmax(fault, (double)n / 1e11), 1e8), 1e11);
}

bool lpi_probe_pick_fresh(const lpi_fresh_trial *tr, int n, size_t bytes, double *bw1) {
    double again = tr[0].again;
    for (int r = 1; r < n; r++) again = fmin(again, tr[r].again);
    const bool huge = !(tr[0].huge > 1.10 * tr[0].small);
    *bw1 = fresh_rate(bytes, huge ? tr[0].huge : tr[0].small, again);
    return huge;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int lpi_probe_pick_chunk(const lpi_chunk_trial *tr, int n, int64_t array_bytes, int workers, double task_s,
                         double max_share, double *noise_out) {
    enum { MAXN = 64 };
    if (n > MAXN) n = MAXN;
    double best[2] = {1e30, 1e30}, spreads[2 * MAXN];
    for (int s = 0; s < n; s++)
        for (int k = 0; k < 2; k++) {
            best[k] = fmin(best[k], tr[s].best[k]);
            spreads[2 * s + k] = fmax(tr[s].spread[k], 0);
        }
    /* the noise: the median spread between rounds of one size (the same setting timed again),
     * or the fastest size's own spread if larger (a lucky run is no evidence that the other
     * sizes are slower), at least 1% (a size within 1% of the best is no measurable loss) */
    qsort(spreads, (size_t)(2 * n), sizeof *spreads, cmp_double);
    double noise = n ? 0.5 * (spreads[(2 * n - 1) / 2] + spreads[n]) : 0;
    double score[MAXN], smin = 1e30;
    int fastest_size = 0;
    for (int s = 0; s < n; s++) {
        score[s] = tr[s].best[0] / best[0] + tr[s].best[1] / best[1];
        if (score[s] < smin) { smin = score[s]; fastest_size = s; }
    }
    const lpi_chunk_trial *f = &tr[fastest_size];
    const double second = f->best[0] * (1 + fmax(f->spread[0], 0)) / best[0] + f->best[1] * (1 + fmax(f->spread[1], 0)) / best[1];
    noise = fmax(fmax(noise, second / smin - 1), 0.01);
    /* a task's streaming time on one thread: its share of the array at the typical speed (the
     * median over the sizes: robust to a lucky run) of the cheaper op per byte (sum: the one
     * whose overhead weighs most) */
    double speeds[MAXN];
    for (int s = 0; s < n; s++) speeds[s] = fmin(tr[s].best[0], tr[s].best[1]);
    qsort(speeds, (size_t)n, sizeof *speeds, cmp_double);
    const double fastest = n ? 0.5 * (speeds[(n - 1) / 2] + speeds[n / 2]) : 1;
    int pick = -1, least = -1;
    double least_share = 1e30;
    for (int s = 0; s < n; s++) {
        if (score[s] > smin * (1 + noise)) continue;
        double task_time = fastest * (workers > 0 ? workers : 1) * (double)tr[s].bytes / (double)array_bytes;
        double share = task_s / fmax(task_time, 1e-12);
        if (share <= max_share && (pick < 0 || tr[s].bytes < tr[pick].bytes)) pick = s;
        if (share < least_share) { least_share = share; least = s; }
    }
    if (noise_out) *noise_out = noise;
    return pick >= 0 ? pick : least >= 0 ? least : 0;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The fixed cost per task: sum(a) over tiny chunks (10,000 tasks of 8 elements) against the
 * same data in one chunk, on all W workers, best of five of each. The one measurement of it, read
 * on two clocks because its two uses differ:
 *   *cpu_s   the process's CPU time per task: what the chunk-size bound weighs against a task's
 *            streaming time on its worker. CPU time counts the workers' work, not the moments
 *            other tenants hold the cores, so a busy host (the automatic probe runs whenever a
 *            process first plans a large array) does not move the chunk choice.
 *   *wall_s  wall time per task times W: the cost model's task_overhead, which it adds to each
 *            task and spreads over W workers to predict a run's wall time. Tiny tasks do not keep
 *            W workers busy (the driver plans them one after the other, they share the ready
 *            queue's lock): with 2 workers the CPU time per task was half of wall × W (rev17,
 *            docs/PERFORMANCE.md), and a model fed CPU time would halve what a run of many
 *            small tasks costs. */
static lp_status task_overhead(lp_ctx *c, int W, double *cpu_s, double *wall_s) {
    enum { N = 80000 };
    static double tiny[N];
    lp_array *T = NULL;
    const int64_t n = N;
    lp_status st = lp_wrap(c, tiny, LP_FLOAT64, 1, &n, NULL, noop_release, NULL, &T);
    double cpu[2] = {1e30, 1e30}, wall[2] = {1e30, 1e30};
    int64_t tasks[2] = {0, 0};
    for (int r = 0; r < 5 && !st; r++)
        for (int k = 0; k < 2 && !st; k++) {
            double t, c0 = cpu_now();
            if ((st = lp_ctx_set_chunk_bytes(c, k == 0 ? 64 : (size_t)N * 8)) || (st = time_op(c, T, 0, &t))) break;
            cpu[k] = fmin(cpu[k], cpu_now() - c0);
            wall[k] = fmin(wall[k], t);
            lp_run_stats rs;
            lp_last_run_stats(c, &rs);
            tasks[k] = rs.tasks;
        }
    lp_array_release(T);
    const double dt = (double)(tasks[0] > tasks[1] ? tasks[0] - tasks[1] : 1);
    if (!st) {
        *cpu_s = fmin(fmax((cpu[0] - cpu[1]) / dt, 1e-8), 1e-3);
        *wall_s = fmin(fmax((wall[0] - wall[1]) * (W > 0 ? W : 1) / dt, 1e-8), 1e-3);
    }
    return st;
}

lp_status lpi_probe_machine(lp_ctx *ctx, lpi_profile *P, bool quick, const lpi_cal_log *log) {
    static const int64_t SIZES[] = {256 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20, 8 << 20, 16 << 20, 32 << 20};
    enum { NS = sizeof SIZES / sizeof SIZES[0] };
    const int first = quick ? 2 : 0;                 /* quick: from 1 MiB (fewer runs) */
    const int64_t n = quick ? (int64_t)16 << 20 : (int64_t)32 << 20; /* doubles: 128 / 256 MiB */
    const int rounds = quick ? 3 : 5;
    const double budget = quick ? 1.0 : 8, t_start = lpi_now();
    const int W = lpi_ncores();
    lp_ctx *c = NULL, *c1 = NULL;
    lp_array *A = NULL;
    double *a = NULL;
    lpi_profile def;
    lpi_profile_default(&def);
    lp_status st;
    /* the probe's own contexts carry a profile, so they never probe in turn */
    if ((st = lp_ctx_create(&c)) || (st = lp_ctx_create(&c1)) || (st = lp_ctx_set_threads(c1, 1)) ||
        (st = lpi_profile_set(c, &def)) || (st = lpi_profile_set(c1, &def))) {
        st = lpi_error(ctx, st, "probe: cannot create a context");
        goto done;
    }
    const bool huge0 = lpi_alloc_huge(), nt0 = lpi_vm_stream();
    if (!(a = lp_malloc_aligned((size_t)n * 8))) { st = lpi_nomem(ctx); goto done; }
    for (int64_t i = 0; i < n; i++) a[i] = (double)(i & 1023) * 1e-3;
    if ((st = lp_wrap(c, a, LP_FLOAT64, 1, &n, NULL, noop_release, NULL, &A))) goto fail;

    /* ---- chunk size: rounds over the sizes (each round in another order), best and second
     * best time of each; then the tie rule ---- */
    double task_s = 0;
    if ((st = task_overhead(c, W, &task_s, &P->task_overhead))) goto fail;
    lpi_cal_say(log, "task overhead       %.2f us per task in CPU time (the chunk bound), %.2f us wall x %d workers "
                "(the cost model)", task_s * 1e6, P->task_overhead * 1e6, W);
    double ts[NS][2][2]; /* [size][op][best, second best] */
    for (int s = 0; s < NS; s++)
        for (int op = 0; op < 2; op++) ts[s][op][0] = ts[s][op][1] = 1e30;
    int done_rounds = 0;
    for (int r = 0; r < rounds && (r < 2 || lpi_now() - t_start < budget * 0.6); r++, done_rounds++)
        for (int i = 0; i < NS - first; i++) {
            const int s = first + (r & 1 ? NS - first - 1 - i : i);
            for (int op = 0; op < 2; op++) {
                double t;
                if ((st = lp_ctx_set_chunk_bytes(c, (size_t)SIZES[s])) || (st = time_op(c, A, op, &t))) goto fail;
                if (t < ts[s][op][0]) { ts[s][op][1] = ts[s][op][0]; ts[s][op][0] = t; }
                else if (t < ts[s][op][1]) ts[s][op][1] = t;
            }
        }
    lpi_chunk_trial tr[NS];
    for (int s = first; s < NS; s++) {
        lpi_chunk_trial *x = &tr[s - first];
        x->bytes = SIZES[s];
        for (int op = 0; op < 2; op++) {
            x->best[op] = ts[s][op][0];
            x->spread[op] = ts[s][op][1] < 1e30 ? ts[s][op][1] / ts[s][op][0] - 1 : 0;
        }
    }
    double noise = 0;
    const int pick = first + lpi_probe_pick_chunk(tr, NS - first, n * 8, W, task_s, 0.02, &noise);
    double best[2] = {1e30, 1e30};
    for (int s = first; s < NS; s++)
        for (int op = 0; op < 2; op++) best[op] = fmin(best[op], ts[s][op][0]);
    P->chunk_bytes = (double)SIZES[pick];
    lpi_cal_say(log, "chunk size          %lld KiB (sum %.1f ms, a*1.5+0.5 %.1f ms over %lld MiB; best alone: %.1f / %.1f ms; "
                "%d rounds, ties within %.1f%%, %.2f us per task)",
                (long long)(SIZES[pick] >> 10), ts[pick][0][0] * 1e3, ts[pick][1][0] * 1e3, (long long)(n * 8 >> 20),
                best[0] * 1e3, best[1] * 1e3, done_rounds, noise * 100, task_s * 1e6);
    if ((st = lp_ctx_set_chunk_bytes(c, (size_t)SIZES[pick])) || (st = lp_ctx_set_chunk_bytes(c1, (size_t)SIZES[pick])))
        goto fail;

    /* ---- threads and non-temporal stores, interleaved ---- */
    /* both on the time the workers held their cores (lpi_probe_run_time): the probe runs
     * whenever a process first plans a large array, often beside a compile; tw_wall is only
     * logged, what the wall clock alone would have said */
    double t1 = 1e30, tw = 1e30, tw_wall = 1e30, tnt[2] = {1e30, 1e30};
    for (int r = 0; r < rounds && (r == 0 || lpi_now() - t_start < budget * 0.85); r++) {
        double t, cpu;
        if ((st = time_op_cpu(c1, A, 0, &t, &cpu))) goto fail;
        t1 = fmin(t1, lpi_probe_run_time(t, cpu, 1));
        if ((st = time_op_cpu(c, A, 0, &t, &cpu))) goto fail;
        tw = fmin(tw, lpi_probe_run_time(t, cpu, W));
        tw_wall = fmin(tw_wall, t);
        for (int nt = 0; nt < 2; nt++) {
            lpi_vm_set_stream(nt);
            st = time_op(c, A, 1, &t);
            lpi_vm_set_stream(nt0);
            if (st) goto fail;
            tnt[nt] = fmin(tnt[nt], t);
        }
    }
    P->mem_bw1[0] = fmin(fmax(8.0 * n / t1, 1e8), 1e12);
    P->mem_bw[0] = fmin(fmax(8.0 * n / tw, P->mem_bw1[0]), 1e12);
    /* non-temporal stores stay on unless they clearly lose (they save the write-allocate reads;
     * 10%: a noisy probe must not undo a choice measured on a quiet machine) */
    P->nt_stores = !(tnt[1] > 1.10 * tnt[0]);
    lpi_cal_say(log, "threads             sum reads %.2f GB/s with 1 worker, %.2f GB/s with %d (%.2fx; wall clock alone: %.2fx)",
                P->mem_bw1[0] / 1e9, P->mem_bw[0] / 1e9, W, P->mem_bw[0] / P->mem_bw1[0], t1 / tw_wall);
    lpi_cal_say(log, "non-temporal stores %s (a*1.5+0.5: %.1f ms with, %.1f ms without)", P->nt_stores ? "yes" : "no",
                tnt[1] * 1e3, tnt[0] * 1e3);

    /* ---- page faults of fresh results, huge pages or not (lpi_probe_pick_fresh: round 0, the
     * memory this probe has not just freed, decides); then with every worker faulting at once,
     * as parallel tasks writing their results do ---- */
    {
        enum { MAXR = 8 };
        const size_t fb = (size_t)64 << 20;
        lpi_fresh_trial tr[MAXR];
        int nr = 0;
        for (int r = 0; r < rounds && r < MAXR && (r == 0 || lpi_now() - t_start < budget); r++) {
            double f, g, f2, g2;
            /* huge pages first: 4 KiB pages freed just before merge into blocks a huge page
             * would take while they are still backed (see lpi_probe_pick_fresh) */
            lpi_fresh_pages(fb, 1, true, &f, &g);
            lpi_fresh_pages(fb, 1, false, &f2, &g2);
            if (f > 0 && f2 > 0) tr[nr++] = (lpi_fresh_trial){f, f2, fmin(g, g2)};
        }
        if (nr) {
            P->huge_pages = lpi_probe_pick_fresh(tr, nr, fb, &P->fresh_bw1);
            double hot[2] = {1e30, 1e30};
            for (int r = 1; r < nr; r++) { hot[0] = fmin(hot[0], tr[r].huge); hot[1] = fmin(hot[1], tr[r].small); }
            double tw = 1e30, aw = 1e30;
            for (int r = 0; r < rounds && (r == 0 || lpi_now() - t_start < budget); r++) {
                double f, g;
                lpi_fresh_pages(fb, W, P->huge_pages, &f, &g);
                if (f > 0) { tw = fmin(tw, f); aw = fmin(aw, g); }
            }
            /* per worker, never above one worker alone */
            if (tw < 1e30) P->fresh_bw = fmin(fresh_rate(fb, tw, aw), P->fresh_bw1);
            const double ms_gib = 1e3 * (1 << 30) / (double)fb;
            char later[96] = "";
            if (nr > 1)
                snprintf(later, sizeof later, " (the later rounds, just freed: %.1f / %.1f ms)", hot[0] * ms_gib,
                         hot[1] * ms_gib);
            lpi_cal_say(log, "fresh pages         %.1f ms per GiB first touch with huge pages, %.1f ms without%s: "
                        "huge pages %s; %.2f GB/s per worker alone, %.2f GB/s each with %d",
                        tr[0].huge * ms_gib, tr[0].small * ms_gib, later, P->huge_pages ? "yes" : "no",
                        P->fresh_bw1 / 1e9, P->fresh_bw / 1e9, W);
        }
    }
    P->probed = true;
    lpi_cal_say(log, "probed in %.1f s", lpi_now() - t_start);
fail:
    if (st && st != LP_ERR_NOMEM) st = lpi_error(ctx, st, "probe: %s", lp_last_error(c));
    lpi_alloc_set_huge(huge0);
    lpi_vm_set_stream(nt0);
done:
    lp_array_release(A);
    lp_free_aligned(a);
    lp_ctx_destroy(c);
    lp_ctx_destroy(c1);
    return st;
}

/* ---- the automatic probe: once per process, cached in the profile file ---- */

static pthread_mutex_t auto_mu = PTHREAD_MUTEX_INITIALIZER;
static bool auto_done;
static lp_status auto_status;
static lpi_profile auto_profile;

lp_status lpi_probe_auto(lp_ctx *ctx, lpi_profile *out) {
    pthread_mutex_lock(&auto_mu);
    if (!auto_done) {
        auto_done = true;
        lpi_profile_default(&auto_profile);
        lp_ctx *tmp = NULL;
        lpi_cal_log quiet = {0};
        /* measured on a context of its own: ctx's error slot is not touched */
        if (!(auto_status = lp_ctx_create(&tmp)) &&
            !(auto_status = lpi_probe_machine(tmp, &auto_profile, true, &quiet))) {
            snprintf(auto_profile.machine, sizeof auto_profile.machine, "probed automatically (run `lampy calibrate`)");
            /* cached where `lampy calibrate` saves (best effort: a read-only home probes again
             * in the next process, never fails a run) */
            if (!lpi_profile_set(tmp, &auto_profile)) (void)lp_profile_save(tmp, NULL);
        }
        lp_ctx_destroy(tmp);
    }
    lp_status st = auto_status;
    if (!st) *out = auto_profile;
    pthread_mutex_unlock(&auto_mu);
    (void)ctx;
    return st;
}
