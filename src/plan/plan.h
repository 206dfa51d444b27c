/* The planned task graph: the planner's output, made of the task representation of
 * kernels/task.h (pnodes and tasks) plus what executors need to schedule them. */
#ifndef LP_PLAN_H
#define LP_PLAN_H

#include "core/arena.h"
#include "kernels/task.h"

#include <stdlib.h>
#include <string.h>

/* A target written straight into a .npy file by the tasks that produce it (remote executors;
 * docs/ORCHESTRATION.md, "Results into a file"): the file the driver created and sized (an
 * absolute path: workers open it too) and where its data starts. An executor that writes the
 * target there sets `taken`; the target then has no result buffer. */
typedef struct lpi_result_sink {
    const char *path;
    int64_t offset;
    bool taken;
    double replaced;             /* the cost model: bytes of the file its commit replaces */
} lpi_result_sink;

typedef struct lpi_plan {
    lpi_arena *arena;
    int npnodes;
    lpi_pnode *pnodes;
    int64_t ntasks;
    lpi_task *tasks;
    int ntargets;
    int *target_pnode;         /* per target */
    lp_buffer **target_buf;    /* per target: the result buffer tasks write into */
    lpi_result_sink **target_sink; /* NULL, or per target: its sink (NULL: none) */
    int64_t *chunk_refs;       /* per (pnode, chunk): consumer tasks + 1 if a target chunk */
    int64_t *chunk_base;       /* per pnode: index of its chunk 0 in chunk_refs */
    int64_t nchunks;
    int nbind;                 /* lpi_plan_build_bound: bound nodes ... */
    int *bind_pnode;           /* ... and the NONE pnode reading each (-1: not used); its
                                * `prefilled` is set before each run */
} lpi_plan;

/* The sink an executor took for pnode p's chunks, if p is such a target (else NULL). */
static inline const lpi_result_sink *lpi_plan_sink(const lpi_plan *pl, int p) {
    int t = pl->pnodes[p].target;
    return t >= 0 && pl->target_sink && pl->target_sink[t] && pl->target_sink[t]->taken ? pl->target_sink[t] : NULL;
}

/* LAMPY_RESULT_SINK=0 turns result sinks off: a remote run's results go through the store and
 * the driver, which writes the file (workers without the driver's file system). */
static inline bool lpi_result_sinks_on(void) {
    const char *e = getenv("LAMPY_RESULT_SINK");
    return !(e && !strcmp(e, "0"));
}

/* Can target t be written into a result sink by the tasks that compute it: a target of its own
 * pnode (no other target shares it), computed by tasks (not data the driver holds, not a load
 * its consumers read directly: loads that are targets are tasks), one task per chunk. The one
 * rule for the driver-centric executor (exec/run.c), the workers of an orchestrated run
 * (server/chain.c) and the cost model (an estimate with LP_ESTIMATE_SAVE). */
static inline bool lpi_plan_sinkable(const lpi_plan *pl, int t) {
    const int p = pl->target_pnode[t];
    const lpi_pnode *pn = &pl->pnodes[p];
    if (pn->target != t || pn->kernel == LPI_K_NONE || pn->ntasks != pn->grid.total) return false;
    for (int u = 0; u < pl->ntargets; u++)
        if (u != t && pl->target_pnode[u] == p) return false;
    return true;
}

/* Is view m (output shape out_shape) a valid way to read a stored array of shape lshape?
 * Every read inside, each stored axis read once or fixed (plan_load.c; decoders use it). */
lp_status lpi_load_view_check(lp_ctx *ctx, const char *where, const lpi_axismap *m, int out_nd,
                              const int64_t *out_shape, int lnd, const int64_t *lshape);

/* Plan targets: graph passes (CSE, fusion) and task generation. */
lp_status lpi_plan_build(lp_ctx *ctx, lp_array *const *targets, int n, lpi_plan **out);
/* The same with nodes bound to values given later (a loop's parameters): each becomes a
 * NONE pnode (C-contiguous data) whose `prefilled` the caller sets before each run, so one
 * plan serves every iteration. */
lp_status lpi_plan_build_bound(lp_ctx *ctx, lp_array *const *targets, int n, int nbind, lp_array *const *bind,
                               lpi_plan **out);
void lpi_plan_destroy(lpi_plan *p);

/* grids */
lp_status lpi_grid_auto(lp_ctx *ctx, lpi_arena *ar, int ndim, const int64_t *shape, size_t itemsize,
                        const int64_t *hint, lpi_grid *g);
lp_status lpi_grid_from_bounds(lpi_arena *ar, lpi_grid *g); /* fills nchunks/total from bounds */
void lpi_grid_chunk_box(const lpi_grid *g, int64_t chunk, lpi_box *box);
size_t lpi_target_chunk_bytes(lp_ctx *ctx, int64_t total_bytes);

#endif
