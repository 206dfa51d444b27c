/* Executors: run a plan's tasks. Targets' buffers are allocated by the caller (lp_run). */
#ifndef LP_EXEC_H
#define LP_EXEC_H

#include "plan/plan.h"

lp_status lpi_exec_local(lp_ctx *ctx, lpi_plan *plan);

#endif
