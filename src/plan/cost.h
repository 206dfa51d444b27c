/* The cost model: per task, flops by op class (the op registry's coefficients) and bytes moved;
 * a machine profile turns them into seconds; a list-scheduling simulation of the executor turns
 * task times into a predicted wall time for W workers. */
#ifndef LP_PLAN_COST_H
#define LP_PLAN_COST_H

#include "plan/plan.h"

typedef enum lpi_cost_class {
    LPI_CC_ARITH = 0,       /* cheap elementwise ops (flop coefficient < 15) */
    LPI_CC_MATH = 1,        /* transcendental ops: exp log sin cos tanh power */
    LPI_CC_REDUCE = 2,      /* folding values into states, reducing the innermost axis */
    LPI_CC_REDUCE_AXIS = 3, /* folding along outer axes, the innermost axis kept (x.var(axis=0)) */
    LPI_CC_GEN = 4,         /* creation: arange, linspace, random */
    LPI_CC_BLAS = 5,        /* matrix products (BLAS-3) */
    LPI_CC_COUNT
} lpi_cost_class;

typedef struct lpi_profile lpi_profile;
struct lpi_profile {
    char machine[160];
    int cores;
    bool calibrated;
    double task_overhead;        /* s per task on its worker (scheduling, assembly, bookkeeping):
                                  * the probe's wall time per tiny task times the workers */
    double run_overhead;         /* s per run (waking the pool, result buffers, planning) */
    /* B/s of DRAM reads by Lampy's kernels from 1, 2 and 3+ input streams at once (several
     * streams are slower per byte than one), one core alone / all cores together */
    double mem_bw1[3], mem_bw[3];
    double write_factor;         /* a byte written to DRAM costs this many bytes read */
    double cache_bw1;            /* B/s of one core reading and writing chunks held in the LLC */
    double llc_bytes;            /* last-level cache */
    /* Per-worker rates with one worker active / with all of them active (page faults and the
     * kernel's copies contend for locks, so parallel workers can each be slower): */
    double load_bw1, load_bw;    /* B/s a load task reads .npy data from the page cache into a chunk */
    double fresh_bw1, fresh_bw;  /* B/s of first-touch faults writing newly mapped memory */
    double rate[LPI_CC_COUNT];   /* flop/s of one core per class: the fallback for ops below */
    /* Seconds per element on one core, measured by `lampy calibrate` (0 = not measured, use
     * the class rate and the op's flop coefficient): elementwise ops as a loop of the VM;
     * reductions folding the innermost axis (op_s) and outer axes (axis_s); creation ops. */
    double op_s[LPI_OP_COUNT];
    double axis_s[LPI_OP_COUNT];
    double axis_row_s;           /* outer-axis reductions: extra seconds per row of the kept axes
                                  * (axis_s is measured with rows of 16 elements) */
    /* Remote (the lambda executor; measured by `lampy calibrate --executor lambda` against
     * real workers and the store, else built-in guesses): */
    double net_bw;               /* B/s reading a chunk from the store (get + checksum) */
    double put_bw;               /* B/s writing a chunk to the store (checksum + put) */
    double rtt;                  /* s per store round trip (a tiny get) */
    double invoke;               /* s per invocation round trip (an empty batch) */
    double remote_par;           /* tasks the workers run at once at full speed (a fleet: its
                                  * size; loopback workers: about the cores they share) */
    double remote_over_par;      /* tasks whose round trips and coordination (completion
                                  * scripts, invocations) proceed at once: one store serves them */
    double orch_run_s;           /* orchestrated run: submit, start, wait, cleanup (beyond one
                                  * invocation and the tasks) */
    double orch_task_s;          /* orchestrated: per task in a chain (completion script, leases) */
    double orch_lambda_s;        /* orchestrated: per lambda the run spreads to beyond the first
                                  * (its invocation, the run planned on its worker): a run that
                                  * starts with more ready tasks than one lambda takes */
    double drv_run_s;            /* driver-centric run: setup and teardown */
    double drv_task_s;           /* driver-centric: the driver's own time per task (dispatch,
                                  * replies): tasks go out one after another at most this fast */
    double remote_first_s;       /* a process's first remote run: libcurl and its TLS library
                                  * start, the store's connection and scripts (`lampy eval` pays
                                  * it every time; measured as the first orchestrated run's excess) */
    bool remote_calibrated;
    /* Version 3: what the planner and the kernels choose on this machine, measured by the probe
     * (exec/probe.c: `lampy calibrate`, or automatically on first use): */
    bool probed;                 /* these fields were measured, not the built-in guesses */
    double chunk_bytes;          /* the automatic chunk size of a large array (its best streaming
                                  * chunk); smaller arrays are split into about 16 chunks */
    bool huge_pages;             /* back large chunks with transparent huge pages */
    bool nt_stores;              /* write large elementwise results with non-temporal stores */
    /* Version 4: saving a result into a .npy file (`lampy eval -o`, lp_save_array), measured by
     * `lampy calibrate` in $TMPDIR: the data is written into the page cache (by the driver, or
     * by the tasks of a result sink), then the commit syncs it to the disk, renames the file
     * into place and syncs its directory. */
    double file_write_bw;        /* B/s of write()/pwrite() into a file's page cache */
    double file_sync_bw;         /* B/s of fsync writing those pages to the disk */
    double file_commit_s;        /* s per file: fsync, rename and directory fsync of a tiny file */
    /* Version 5: */
    double file_drop_bw;         /* B/s of freeing a deleted file's pages and blocks: what the
                                  * rename costs that replaces an existing file */
    /* Version 6: */
    double orch_input_s;         /* orchestrated: per lambda of a run and per file input of it:
                                  * each function plans the run, opening every input's header
                                  * (orch_lambda_s and orch_run_s are measured without inputs) */
    /* Version 7: */
    double remote_load_bw;       /* B/s a function reads a file input's rows (a direct load) at
                                  * while the run's lambdas read at once, measured through the
                                  * workers (`lampy calibrate --executor lambda --load-dir`);
                                  * 0 = not measured: the local load_bw1 prices those reads */
    /* Version 8: */
    double remote_write_bw;      /* B/s a task writes its output into a result sink's file at
                                  * while the run's other lambdas compute, measured through the
                                  * workers (`lampy calibrate --executor lambda --load-dir`); one
                                  * task writes into a file at a time (the simulation serializes
                                  * them); 0 = not measured: the local file_write_bw prices them */
};

/* The automatic chunk size never goes below this (per-task overhead), nor above 1 GiB. */
#define LPI_CHUNK_MIN ((int64_t)256 << 10)
#define LPI_CHUNK_MAX ((int64_t)1 << 30)
/* Bytes per chunk of an array of total_bytes when the user did not say: about 16 chunks (enough
 * to keep every core busy and let reads stream), at least LPI_CHUNK_MIN, at most the profile's
 * chunk_bytes (pr may be NULL when total_bytes / 16 <= LPI_CHUNK_MIN: the profile is not
 * consulted then). */
int64_t lpi_cost_chunk_bytes(const lpi_profile *pr, int64_t total_bytes);
/* The automatic chunk size of p set to the built-in one: what every function of an
 * orchestrated run plans with (server/chain.c), whatever profile its host has, so that they
 * all plan the same tasks; an estimate of such a run plans with it too. */
void lpi_profile_pin_chunks(lpi_profile *p);

/* The profile of ctx: set, else loaded from the default location, else the built-in one. */
const lpi_profile *lpi_profile_get(lp_ctx *ctx);
/* The profile the planner chooses chunk sizes from: lpi_profile_get's, except that with no
 * profile anywhere (no file, LAMPY_PROFILE unset, none set on ctx) the machine is probed once
 * per process by the registered prober (exec/probe.c, which caches the result in the profile
 * file) and ctx gets the result. */
const lpi_profile *lpi_profile_planning(lp_ctx *ctx);
typedef lp_status (*lpi_profile_prober)(lp_ctx *ctx, lpi_profile *out);
void lpi_set_profile_prober(lpi_profile_prober fn);
void lpi_profile_default(lpi_profile *p);
/* p's figures for a machine whose cores work k times as long on every task as p says (the
 * remote calibration's paired fit of remote_par: the same graph timed on one local worker in
 * the same rounds as its remote runs gives k): the per-task overhead, the per-element op
 * costs, the class rates and the memory and cache rates. What is not a core's work is kept:
 * page-cache reads, first-touch pages, files, the per-run overhead, the remote figures. The
 * local model's time of a plan is then a + b * k (each task's time is linear in k). */
void lpi_profile_scale_cores(lpi_profile *p, double k);
/* B/s a remote task reads a file input's rows at (the workers' measured rate, else load_bw1). */
double lpi_remote_load_bw(const lpi_profile *pr);
/* B/s a remote task writes its output into a result sink's file at (the workers' measured
 * rate, else file_write_bw). */
double lpi_remote_write_bw(const lpi_profile *pr);
/* The remote fields of src into dst (a local calibration keeps the remote one, and back). */
void lpi_profile_copy_remote(lpi_profile *dst, const lpi_profile *src);
lp_status lpi_profile_from_json_text(lp_ctx *ctx, const char *where, const char *text, lpi_profile *out);
char *lpi_profile_to_json_text(const lpi_profile *p); /* free() */
lp_status lpi_profile_set(lp_ctx *ctx, const lpi_profile *p);

/* What one task does, given how many workers share the machine (which decides whether the
 * chunks it touches stay in the last-level cache). */
typedef struct lpi_task_cost {
    double flops[LPI_CC_COUNT];
    double bytes_dram;    /* read from memory: data that was there before, spilled chunks */
    int dram_streams;     /* operands read from memory at once */
    double bytes_dram_w;  /* written to memory: results, spilled chunks */
    double bytes_cache;   /* traffic to chunks that stay in the last-level cache */
    double bytes_load;    /* .npy bytes read out of the page cache */
    double bytes_fresh;   /* written into fresh result buffers (page faults) */
    double bytes_in, bytes_out; /* operands and output (reporting) */
    double compute_s;     /* one core's compute time (per-op costs, else flops / class rate) */
    double overlap_s;     /* the part of it that overlaps with memory traffic (reading the streams) */
} lpi_task_cost;

void lpi_task_cost_of(const lpi_plan *pl, int64_t t, const lpi_profile *pr, int active, lpi_task_cost *c);
/* Seconds of one task's work while `active` workers share the machine (remote: a function,
 * which has its machine to itself; store traffic and overheads are the plan's, below). */
double lpi_task_seconds(const lpi_profile *pr, const lpi_task_cost *c, int active, bool remote);

/* Which executor a plan is priced for. Remote: loads are read by their consumers (no task);
 * every output is put in the store; operands not held are fetched from it; the driver gathers
 * the results. Orchestrated: chains keep one operand of each task in memory ("become"), each
 * task costs a completion in Redis; the run one invocation. Driver-centric: invocations carry
 * batches of tasks, and the driver handles every task itself. */
typedef enum lpi_cost_mode {
    LPI_COST_LOCAL = 0,
    LPI_COST_DRIVER = 1,
    LPI_COST_ORCH = 2,
} lpi_cost_mode;

typedef struct lpi_cost_summary {
    int workers;
    double work, critical, total;      /* seconds */
    double fixed;                      /* of total: per run (overheads; remote: submitting,
                                        * gathering the results; saving them into files) */
    double save;                       /* of fixed: writing and committing the saved targets */
    int lambdas;                       /* orchestrated: the lambdas the run spreads to at its start */
    double flops, bytes_read, bytes_written;
    bool *critical_pnode;              /* [npnodes] when requested (caller frees with lp_free) */
} lpi_cost_summary;

/* Targets saved into .npy files are priced from pl->target_sink: a non-NULL entry is a target
 * saved into a file; `taken` says its tasks write it there (a result sink, remote executors;
 * lpi_plan_sinkable: the simulation lets one task at a time write into the file, at
 * lpi_remote_write_bw, while the others work on), else the driver writes the result after the
 * run (or after gathering it).
 * Either way the run ends with the file's commit.
 * Price every task, fill pnode->est_seconds, simulate the executor with `workers` workers
 * (0 = ctx's thread count; remote: the lambdas at once, of which the profile's remote_par run
 * at full speed). want_critical: fill summary->critical_pnode. */
lp_status lpi_cost_plan(lp_ctx *ctx, lpi_plan *pl, int workers, lpi_cost_mode mode, bool want_critical,
                        lpi_cost_summary *out);

#endif
