/* The loop driver: runs while_loop / fori_loop nodes (expr/loop.h) by planning each body and
 * cond once and running the plan once per iteration with the carried values bound.
 *
 * Three pieces, smallest first:
 *
 *  - lpi_executor: how one plan runs (the local pool or the lambda executor by default; an
 *    orchestrating function can supply its own). The driver never runs a task itself.
 *  - lpi_eval: a compiled evaluation of some targets given values for some parameter nodes,
 *    as a sequence of stages: plans (built once, with the parameters as bound leaves) and
 *    loops (each with its own compiled body and cond). Loops nest: a body with a loop is an
 *    eval with a loop stage. Values die after the last stage that reads them.
 *  - lpi_loop_state: one run of one loop, a step at a time (begin / step / end): a step
 *    decides the condition (reads cond's 0-d result) and runs the body once. An orchestrator
 *    that hosts the loop elsewhere (in a function, with no round trip to the driver's host
 *    per iteration) steps the same state with its own executor.
 *
 * lp_run calls lpi_loops_prepare first: the loops its targets need run to completion and their
 * final values stay on their loop_output nodes (like computed targets), so the plan that
 * follows reads them as data and a later run does not iterate again. An orchestrated run
 * (orchestrate = "lambda") skips that: the function that starts the run calls
 * lpi_loops_prepare on its own graph (server/chain.c, docs/ORCHESTRATION.md "Loops"). */
#ifndef LP_EXEC_LOOP_H
#define LP_EXEC_LOOP_H

#include "expr/loop.h"
#include "plan/plan.h"

typedef struct lpi_executor {
    /* Run every task of plan; its target buffers are allocated (plan->target_buf). */
    lp_status (*run)(void *arg, lp_ctx *ctx, lpi_plan *plan);
    void *arg;
} lpi_executor;

/* The executor ctx asks for (lp_ctx_set_executor): local pool or lambda. */
extern const lpi_executor lpi_default_executor;

typedef struct lpi_eval lpi_eval;

/* Compile targets over parameter nodes (bound at each run). Nothing runs. */
lp_status lpi_eval_compile(lp_ctx *ctx, lp_array *const *targets, int nt, lp_array *const *params, int np,
                           lpi_eval **out);
/* Run it: params[np] are C-contiguous buffers of the parameters' dtypes and shapes (borrowed);
 * outs[nt] receive new references. */
lp_status lpi_eval_run(lp_ctx *ctx, lpi_eval *ev, const lpi_executor *ex, lp_buffer *const *params, lp_buffer **outs);
void lpi_eval_destroy(lpi_eval *ev);

/* A loop compiled for running. A while_loop's body eval also computes the condition on the
 * values it produces (cond_next: cond's graph over the body outputs), in the same plan, so an
 * iteration is one plan run and a condition over large data reads it while it is still in
 * cache; the cond eval alone decides the first iteration. */
typedef struct lpi_loop_exec {
    const lpi_loop *loop;
    lpi_eval *body, *cond;
    lp_array *cond_next;
} lpi_loop_exec;

lp_status lpi_loop_exec_compile(lp_ctx *ctx, const lpi_loop *l, lpi_loop_exec **out);
void lpi_loop_exec_destroy(lpi_loop_exec *lx);

/* One run of a loop. */
typedef struct lpi_loop_state {
    const lpi_loop_exec *lx;
    lp_buffer **carry;        /* [ncarry] the current carried values (owned references) */
    lp_buffer **params;       /* [index] carry free: what the body is run with */
    int64_t iter;             /* body runs so far */
    bool have_go, go;         /* while_loop: the condition on the current values, once known */
    bool done;
} lpi_loop_state;

/* inputs: the loop node's inputs' values (init then free values; borrowed). */
lp_status lpi_loop_begin(lp_ctx *ctx, const lpi_loop_exec *lx, lp_buffer *const *inputs, lpi_loop_state *s);
/* Decide the condition and, when it holds, run the body once (s->done once it does not). */
lp_status lpi_loop_step(lp_ctx *ctx, lpi_loop_state *s, const lpi_executor *ex);
/* outs (may be NULL) receive the final carried values (new references); frees the state. */
void lpi_loop_end(lpi_loop_state *s, lp_buffer **outs);

/* Run every loop the targets reach that has not run yet, each plan with ex (NULL: the
 * default); keep the final values on their loop_output nodes. */
lp_status lpi_loops_prepare(lp_ctx *ctx, lp_array *const *targets, int n, const lpi_executor *ex);

#endif
