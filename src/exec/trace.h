/* Run timelines (Chrome trace events) and the progress bar. The executor records one event per
 * task into a buffer sized before the run, only when tracing is on (ctx->trace); the no-trace
 * path costs one NULL test per task. */
#ifndef LP_EXEC_TRACE_H
#define LP_EXEC_TRACE_H

#include "plan/plan.h"

/* Recorded by a worker, under the run's lock. */
typedef struct lpi_trace_ev {
    double t0, t1;      /* lpi_now() */
    int64_t task;
    int32_t worker;
} lpi_trace_ev;

/* A finished span, self-contained (the plan is gone when the trace is written). */
typedef struct lpi_span {
    double t0, t1;      /* seconds from the run's start */
    int32_t worker;
    int32_t pnode;
    int64_t task, chunk;
    int64_t bytes_in, bytes_out;
    uint16_t op;
    uint8_t kernel;
    char label[40];     /* "add+3", "sum" */
} lpi_span;

struct lpi_trace {
    int64_t n;
    int threads;
    double run_seconds;
    double predicted_seconds;
    lpi_span *spans;
};

/* Turn the events of a finished run into the context's last trace and fill ctx->report's busy time and
 * utilisation. t_start: lpi_now() when the run started. */
lp_status lpi_trace_finish(lp_ctx *ctx, const lpi_plan *pl, const lpi_trace_ev *ev, int64_t nev, int threads,
                           double t_start, double t_end);
/* The last traced run's timeline (NULL if none); kept in the context's LPI_SLOT_TRACE. */
const struct lpi_trace *lpi_last_trace(const lp_ctx *ctx);

/* Bytes of a task's operands and output (the trace's and the report's numbers). */
void lpi_task_bytes(const lpi_plan *pl, int64_t t, int64_t *in, int64_t *out);

/* A progress bar on stderr, drawn from a helper thread every 100 ms once a run has lasted
 * ~1 s, only when stderr is a terminal. `done` is read under `mu`. NULL when not shown. */
typedef struct lpi_progress lpi_progress;
lpi_progress *lpi_progress_start(lp_ctx *ctx, int64_t total, const int64_t *done, pthread_mutex_t *mu);
void lpi_progress_stop(lpi_progress *p);

#endif
