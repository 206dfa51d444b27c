/* Executors: run a plan's tasks. Targets' buffers are allocated by the caller (lp_run). */
#ifndef LP_EXEC_H
#define LP_EXEC_H

#include "plan/plan.h"

lp_status lpi_exec_local(lp_ctx *ctx, lpi_plan *plan);
/* Every load of the plan reads through a reader opened for the run, which checks that the
 * stored object is still the version lp_load saw; closing returns the bytes they read. */
lp_status lpi_open_loads(lp_ctx *ctx, lpi_plan *plan);
int64_t lpi_close_loads(lpi_plan *plan);
/* The lambda executor (exec/remote.c): tasks over HTTP to workers, chunks in a store. */
lp_status lpi_exec_remote(lp_ctx *ctx, lpi_plan *plan);
/* Does ctx ask for the lambda executor? */
bool lpi_remote_enabled(const lp_ctx *ctx);
/* exec/run.c: a buffer per target (targets on one pnode share it) in plan->target_buf, and
 * running a plan on the executor ctx asks for. Statistics add up over the plans of a run. */
lp_status lpi_plan_alloc_targets(lp_ctx *ctx, lpi_plan *plan);
lp_status lpi_exec_plan(lp_ctx *ctx, lpi_plan *plan);
/* lp_run of `a` alone, its chunks written into the file of `sink` by the tasks that compute
 * them when the executor can (sink->taken says it did): lp_save_array's remote path, and the
 * remote calibration's writes into a file (its caller commits or removes the file). */
lp_status lpi_run_sunk(lp_ctx *ctx, lp_array *a, lpi_result_sink *sink);

/* The lambda executor's settings (false when ctx does not ask for it); pointers stay valid until
 * the settings change. */
typedef struct lpi_remote_view {
    const char *const *urls;
    int nurls;
    const char *store, *lambda;
    const lp_remote_config *cfg;
    const char *ca_file;           /* https: CA bundle (NULL = the system's) */
} lpi_remote_view;
bool lpi_remote_view_get(const lp_ctx *ctx, lpi_remote_view *v);
/* Change who orchestrates ("lambda", else the driver) and the lambda budget (0 = default) of
 * ctx's remote configuration, keeping the rest (its key, CA, deadline): the remote calibration
 * runs both modes. */
lp_status lpi_remote_set_mode(lp_ctx *ctx, const char *orchestrate, int max_lambdas);
/* The key requests are signed with (the configured key file, else $LAMPY_KEY_FILE; *out NULL
 * when there is none). Owned by the context. */
struct lpi_key;
lp_status lpi_remote_key(lp_ctx *ctx, const struct lpi_key **out);
/* A fresh run id: 12 random hex digits. */
void lpi_run_id_new(char *out, size_t cap);
/* The context's open connection to its store (kept between runs). */
struct lpi_store;
lp_status lpi_remote_store(lp_ctx *ctx, struct lpi_store **out);

#endif
