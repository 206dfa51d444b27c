/* What the two calibrations (calibrate.c: this machine; calibrate_remote.c: the lambda
 * executor) share: the log of their measurements, one line each. */
#ifndef LP_EXEC_CALIBRATE_H
#define LP_EXEC_CALIBRATE_H

#include "plan/cost.h"

typedef struct lpi_cal_log {
    void (*log)(void *arg, const char *line); /* NULL: no log */
    void *arg;
} lpi_cal_log;

void lpi_cal_say(const lpi_cal_log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The machine probe (probe.c): fills P's chunk_bytes, nt_stores, huge_pages, fresh_bw1, fresh_bw and the
 * one-stream read bandwidths (mem_bw1[0], mem_bw[0]) and sets P->probed; about 1 s when quick,
 * 5-8 s otherwise. Errors go on ctx. */
lp_status lpi_probe_machine(lp_ctx *ctx, lpi_profile *P, bool quick, const lpi_cal_log *log); /* log may be NULL */
/* One chunk size of the probe's sweep: the best time of each probe op (sum(a), a*1.5+0.5) over
 * its rounds, and the relative spread of those rounds (second best / best - 1; 0 after one). */
typedef struct lpi_chunk_trial {
    int64_t bytes;
    double best[2];
    double spread[2];
} lpi_chunk_trial;
/* The probe's chunk choice from its sweep (pure: the rule, apart from the timing). Sizes whose
 * combined time is within the sweep's own noise of the best are ties (the noise: the median
 * spread between rounds, or the fastest size's own spread if larger, at least 1%); of those,
 * the smallest whose per-task overhead (task_s, measured) costs at most max_share of a task's
 * streaming time (a task of `bytes` on one of `workers` threads at the sweep's median speed,
 * over an array of array_bytes) wins: the most tasks, hence the best balance when a thread is
 * slowed, for no measurable loss. None within the overhead bound: the tie with the least
 * overhead. Sets *noise to the tie band used. Returns the index into tr (n >= 1). */
int lpi_probe_pick_chunk(const lpi_chunk_trial *tr, int n, int64_t array_bytes, int workers, double task_s,
                         double max_share, double *noise);
/* The time a run of `workers` threads took while they held their cores: the wall time, or the
 * process's CPU time over the run spread over the workers if that is less (another process or
 * the host held a core for part of the run: the worker waiting for it counts no CPU time). The
 * probe's thread comparison reads this, so a core taken by a compile does not make a second
 * thread look useless, and the planner run every memory-bound plan on one thread for good
 * (the profile is cached). CPU time of other threads of the process only raises the second
 * term: never below what the wall clock says then. */
double lpi_probe_run_time(double wall, double cpu, int workers);
/* First-touch page faults (probe.c, shared by the probe and `lampy calibrate`): `threads`
 * threads at once each write n bytes of freshly allocated memory (huge pages or not) twice;
 * *t_fresh is the slowest thread's first write (faults, zeroing, the stores), *t_again its
 * second (the stores alone). Both 0 when the memory could not be allocated. */
void lpi_fresh_pages(size_t n, int threads, bool huge, double *t_fresh, double *t_again);
/* One round of the probe's first-touch measurement on one thread: seconds of the first write of
 * a fresh allocation with huge pages and without, and the least of their rewrites (the stores
 * alone). */
typedef struct lpi_fresh_trial {
    double huge, small, again;
} lpi_fresh_trial;
/* The probe's huge-page choice and one worker's fresh-page rate from its rounds (pure: the rule,
 * apart from the timing); n >= 1 rounds of `bytes` each. tr[0] is the first touch of memory the
 * probe has not itself just freed, huge pages first; the later rounds reuse what the round before
 * freed. On a VM that reports free memory to its host (virtio-balloon free page reporting, 2 MiB
 * blocks) the two differ by 10x and more for huge pages only: a huge page's first touch of a
 * reported block faults in 512 host pages (0.4 GB/s against 2 GB/s for 4 KiB pages), while a
 * block freed under ~1.5 s ago is still backed (8 GB/s). A process's results meet the first
 * kind (the buffer cache hands back what the process freed without any fault), so the choice
 * and the rate are round 0's: huge pages unless they lose there by more than 10%, the rate of
 * the chosen kind's first touch beyond its rewrite (the later rounds are only logged).
 * Returns whether to use huge pages; *bw1: B/s, 1e8..1e11. */
bool lpi_probe_pick_fresh(const lpi_fresh_trial *tr, int n, size_t bytes, double *bw1);
/* The planner's prober (lpi_set_profile_prober, registered by exec/run.c): the quick probe, once
 * per process, its result saved to the default profile location (best effort). */
lp_status lpi_probe_auto(lp_ctx *ctx, lpi_profile *out);

/* How many tasks the workers compute at once (remote_par), from paired timings of a
 * compute-bound plan (calibrate_remote.c): round r timed the plan's work on one local worker
 * (t_local[r]: this process's executor, one thread) and its remote run with `workers` lambdas
 * (t_remote[r]) one right after the other. Per round the local time says how long the cores
 * work against P's op costs (k: the local model's time of the plan is a + b k with P's core
 * figures scaled by k, lpi_profile_scale_cores); the round's parallelism is the value in
 * [1, hi] for which the remote model (`mode`) with the cores at that speed predicts
 * t_remote[r]. *par: the median over the rounds (1..16), *speed (may be NULL) the median k.
 * Both sides of a round see the same load, so a calibration under another load than the local
 * one's no longer shows up as a parallelism the cores cannot have. */
lp_status lpi_cal_paired_par(lp_ctx *ctx, const lpi_profile *P, lpi_plan *pl, int workers, lpi_cost_mode mode, double hi,
                             const double *t_local, const double *t_remote, int rounds, double *par, double *speed);

/* Figures sampled through a whole calibration. A shared host's speed changes from one minute to
 * the next, and rounds taken back to back describe one of those minutes: the workers' read rate
 * came out 7.58 and 1.36 GB/s in two remote calibrations, and the runs they priced met other
 * minutes. A sampler takes one round of its measurement at a time (round r's one or two values
 * into v[0], v[1]); the calibration calls lpi_cal_tick at `ticks` points spread over its span
 * (between its phases and inside the round loops of its other measurements), and each sampler
 * takes its rounds evenly over them, the first at the first tick and the last at the last
 * (lpi_cal_due). lpi_cal_finish takes what is missing (a calibration that ticked fewer times
 * than it planned); the figure is then the median of all its rounds. */
#define LPI_CAL_ROUNDS 32
typedef struct lpi_cal_sampler {
    lp_status (*round)(void *arg, int r, double *v);
    void *arg;
    int want, n; /* want <= LPI_CAL_ROUNDS */
    double v[2][LPI_CAL_ROUNDS];
} lpi_cal_sampler;
typedef struct lpi_cal_ticks {
    lpi_cal_sampler *s[4];
    int ns, tick, ticks;
} lpi_cal_ticks;
/* Rounds due at tick `tick` (0-based) of `ticks` for a sampler that wants `want` and has `have`
 * (pure: the schedule; 0 when it is ahead). */
int lpi_cal_due(int want, int have, int tick, int ticks);
lp_status lpi_cal_tick(lpi_cal_ticks *t);
lp_status lpi_cal_finish(lpi_cal_ticks *t);

#endif
