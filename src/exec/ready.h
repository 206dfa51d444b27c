/* The scheduling state both executors share: which tasks are ready to run (a min-heap on the
 * planner's depth-first priorities, so a consumer runs right after its producers and
 * intermediate chunks die young), how many producers each task still waits for, and how many
 * consumers each chunk still has. Not thread safe: the executor serializes calls (the local
 * executor under its mutex, the lambda executor in its one driver thread). */
#ifndef LP_EXEC_READY_H
#define LP_EXEC_READY_H

#include "plan/plan.h"

typedef struct lpi_ready {
    const lpi_plan *plan;
    int64_t *heap, n;     /* ready tasks */
    int32_t *pending;     /* per task: producers not yet done */
    int64_t *crefs;       /* per global chunk: consumers left (+1 for a target's chunks) */
} lpi_ready;

/* Counters from the plan; no task is pushed yet (lpi_ready_push_roots does that). */
lp_status lpi_ready_init(lp_ctx *ctx, lpi_ready *q, const lpi_plan *plan);
void lpi_ready_free(lpi_ready *q);
void lpi_ready_push(lpi_ready *q, int64_t task);
int64_t lpi_ready_pop(lpi_ready *q);              /* the task of lowest priority value; n > 0 */
static inline int64_t lpi_ready_top(const lpi_ready *q) { return q->heap[0]; }
/* Push every task that waits for no producer. */
void lpi_ready_push_roots(lpi_ready *q);
/* Task t is done: consumers whose last producer it was are pushed (push = false: only counted
 * down, for an executor that marks tasks done without running them). Returns how many became
 * ready. */
int lpi_ready_done(lpi_ready *q, int64_t t, bool push);
/* Drop one reference to chunk gc; true when it was the last (the chunk can go). */
static inline bool lpi_ready_unref(lpi_ready *q, int64_t gc) { return --q->crefs[gc] == 0; }
/* Task t has read its inputs: one release per distinct chunk it read; dead(arg, gc) is called
 * for each chunk whose last consumer it was. */
void lpi_ready_release_inputs(lpi_ready *q, int64_t t, void (*dead)(void *arg, int64_t gc), void *arg);

#endif
