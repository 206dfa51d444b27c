/* Executors: run a plan's tasks. Targets' buffers are allocated by the caller (lp_run). */
#ifndef LP_EXEC_H
#define LP_EXEC_H

#include "plan/plan.h"

lp_status lpi_exec_local(lp_ctx *ctx, lpi_plan *plan);
/* The lambda executor (exec/remote.c): tasks over HTTP to workers, chunks in a store. */
lp_status lpi_exec_remote(lp_ctx *ctx, lpi_plan *plan);
/* Does ctx ask for the lambda executor? */
bool lpi_remote_enabled(const lp_ctx *ctx);
/* exec/run.c: a buffer per target (targets on one pnode share it) in plan->target_buf, and
 * running a plan on the executor ctx asks for. Statistics add up over the plans of a run. */
lp_status lpi_plan_alloc_targets(lp_ctx *ctx, lpi_plan *plan);
lp_status lpi_exec_plan(lp_ctx *ctx, lpi_plan *plan);

#endif
