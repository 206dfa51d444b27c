/* Executors: run a plan's tasks. Targets' buffers are allocated by the caller (lp_run). */
#ifndef LP_EXEC_H
#define LP_EXEC_H

#include "plan/plan.h"

lp_status lpi_exec_local(lp_ctx *ctx, lpi_plan *plan);
/* Descriptors of the plan's load nodes for their kernels (checked against the headers read
 * when the nodes were built), and closing them. */
lp_status lpi_open_loads(lp_ctx *ctx, lpi_plan *plan);
void lpi_close_loads(lpi_plan *plan);
/* The lambda executor (exec/remote.c): tasks over HTTP to workers, chunks in a store. */
lp_status lpi_exec_remote(lp_ctx *ctx, lpi_plan *plan);
/* Does ctx ask for the lambda executor? */
bool lpi_remote_enabled(const lp_ctx *ctx);

/* The lambda executor's settings (false when ctx does not ask for it); pointers stay valid until
 * the settings change. */
typedef struct lpi_remote_view {
    const char *const *urls;
    int nurls;
    const char *store, *lambda;
    const lp_remote_config *cfg;
} lpi_remote_view;
bool lpi_remote_view_get(const lp_ctx *ctx, lpi_remote_view *v);
/* A fresh run id: 12 random hex digits. */
void lpi_run_id_new(char *out, size_t cap);
/* The context's open connection to its store (kept between runs). */
struct lpi_store;
lp_status lpi_remote_store(lp_ctx *ctx, struct lpi_store **out);

#endif
