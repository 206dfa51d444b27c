/* The cost model: per task, flops by op class (the op registry's coefficients) and bytes moved;
 * a machine profile turns them into seconds; a list-scheduling simulation of the executor turns
 * task times into a predicted wall time for W workers. */
#ifndef LP_PLAN_COST_H
#define LP_PLAN_COST_H

#include "plan/plan.h"

typedef enum lpi_cost_class {
    LPI_CC_ARITH = 0,   /* cheap elementwise ops (flop coefficient < 15) */
    LPI_CC_MATH = 1,    /* transcendental ops: exp log sin cos tanh power */
    LPI_CC_REDUCE = 2,  /* folding values into reduction states */
    LPI_CC_GEN = 3,     /* creation: arange, linspace, random */
    LPI_CC_BLAS = 4,    /* matrix products (BLAS-3) */
    LPI_CC_COUNT
} lpi_cost_class;

struct lpi_profile {
    char machine[160];
    int cores;
    bool calibrated;
    double task_overhead;        /* s per task on its worker (scheduling, assembly, bookkeeping) */
    double run_overhead;         /* s per run (waking the pool, result buffers, planning) */
    double mem_bw1, mem_bw;      /* B/s of memory traffic: one core alone / all cores together */
    double fresh_bw1, fresh_bw;  /* B/s writing never-touched result memory (page faults) */
    double file_bw1, file_bw;    /* B/s reading .npy data (page cache) into chunks */
    double rate[LPI_CC_COUNT];   /* flop/s of one core per class */
    double net_bw, rtt, invoke;  /* remote: B/s per function, round trip s, invocation s */
};

/* The profile of ctx: set, else loaded from the default location, else the built-in one. */
const lpi_profile *lpi_profile_get(lp_ctx *ctx);
void lpi_profile_default(lpi_profile *p);
lp_status lpi_profile_from_json_text(lp_ctx *ctx, const char *where, const char *text, lpi_profile *out);
char *lpi_profile_to_json_text(const lpi_profile *p); /* free() */
void lpi_profile_set(lp_ctx *ctx, const lpi_profile *p);

/* What one task does. */
typedef struct lpi_task_cost {
    double flops[LPI_CC_COUNT];
    double bytes_read;    /* operands from memory (and reassembly copies) */
    double bytes_written; /* output chunk or states */
    double bytes_file;    /* read from .npy files */
    double bytes_fresh;   /* written into fresh result buffers */
} lpi_task_cost;

void lpi_task_cost_of(const lpi_plan *pl, int64_t t, lpi_task_cost *c);
/* Seconds for one task while `active` workers share the machine (remote: a function). */
double lpi_task_seconds(const lpi_profile *pr, const lpi_task_cost *c, int active, bool remote);

typedef struct lpi_cost_summary {
    int workers;
    double work, critical, total;      /* seconds */
    double flops, bytes_read, bytes_written;
    bool *critical_pnode;              /* [npnodes] when requested (caller frees with lp_free) */
} lpi_cost_summary;

/* Price every task, fill pnode->est_seconds, simulate the executor with `workers` workers
 * (0 = ctx's thread count). want_critical: fill summary->critical_pnode. */
lp_status lpi_cost_plan(lp_ctx *ctx, lpi_plan *pl, int workers, bool remote, bool want_critical,
                        lpi_cost_summary *out);

#endif
