/* The planner's internals, shared by the files that plan one family of ops (plan.c for the
 * core ops; further plan_*.c files hook into lpi_plan_node's switch). */
#ifndef LP_PLANNER_H
#define LP_PLANNER_H

#include "graph/graph.h"
#include "plan/plan.h"

typedef struct planner {
    lp_ctx *ctx;
    lpi_arena *ar;
    lpi_graph g;
    int *pnode_of;        /* gid -> pnode */
    lpi_pnode *pn;
    int npn, cappn;
    lpi_task *tasks;
    int64_t ntasks, captasks;
} planner;

/* New pnode / task; indices stay valid, pointers into P->pn / P->tasks do not (arrays grow). */
int lpi_new_pnode(planner *P, lpi_kernel k, lpi_op op, lp_array *e, lp_dtype dt, int ndim, const int64_t *shape);
lpi_task *lpi_new_task(planner *P, int pnode, int64_t chunk);
/* Operand k of task t: the region of pnode prod it reads; pieces are found from prod's grid. */
lp_status lpi_add_operand(planner *P, lpi_task *t, int k, int prod, const lpi_box *region, bool contig);
/* The region of a producer (right-aligned, broadcasting) that a consumer's box reads. */
void lpi_project(const lpi_pnode *pp, const lpi_box *box, lpi_box *r);
lp_status lpi_auto_grid(planner *P, lpi_pnode *p, int ndim, const int64_t *shape, lp_dtype dt);
/* The grid of a full-shaped input (so chunks are read without reassembly), else automatic. */
lp_status lpi_operand_grid(planner *P, lpi_pnode *p, int ndim, const int64_t *shape, lp_dtype dt,
                           const int *inputs, int nin, lpi_grid *out);
lp_status lpi_one_chunk_axis(planner *P, lpi_grid *g, int ax, int64_t n);
/* One task per chunk of pnode pi's grid, without operands (sources). */
lp_status lpi_plan_simple_tasks(planner *P, int pi);
int64_t lpi_find_chunk(const int64_t *bounds, int64_t nchunks, int64_t x);
/* An affine-copy pnode pi reading pnode src through map m (grid derived from src's). */
lp_status lpi_plan_copy_from(planner *P, int pi, int src, const lpi_axismap *m);
/* Which region of the source a task of lpi_plan_unary_tasks reads; each caller states it. */
typedef enum {
    LPI_READ_CHUNK, /* src's chunk c, c the task's own chunk index: grids with as many chunks
                     * but another shape (scan totals, select histograms) */
    LPI_READ_BOX,   /* the task's own box in src's coordinates, spanning as many of src's chunks
                     * as it covers (sort's runs: groups of chunks along the axis) */
    LPI_READ_MAP,   /* the region the axis map sends the box to (affine copies) */
    LPI_READ_LINES, /* the box with `axis` whole, src's full length along it (fft: that length
                     * may differ from the output's) */
} lpi_read_kind;

typedef struct {
    lpi_read_kind kind;
    const lpi_axismap *map; /* LPI_READ_MAP; also set as the tasks' map */
    int axis;               /* LPI_READ_LINES */
} lpi_read_rule;

/* One task per chunk c of pi's (set) grid with one operand: the region of src `rule` names. */
lp_status lpi_plan_unary_tasks(planner *P, int pi, int src, lpi_read_rule rule);
/* The combine tree of a reduction: pnode `prev` holds nout * per partial states (`per`
 * consecutive states per output chunk of `fin`); adds COMBINE levels of fan-in 8 merging them
 * in a fixed order, the last level being `fin` (its kernel becomes COMBINE, it writes fin's
 * chunks). Shared by reductions and anything whose partial results are reduction states. */
lp_status lpi_plan_combine(planner *P, int fin, int prev, lpi_reduce *r, int64_t nout, int64_t per);

/* Per-family planners hooked into plan_node. */
lp_status lpi_plan_lda(planner *P, int gid);         /* plan_lda.c: Fisher LDA ops */
lp_status lpi_plan_linalg(planner *P, int gid);      /* plan_linalg.c: matmul, solve, inv, ... */
lp_status lpi_plan_load(planner *P, int gid);        /* plan_load.c: loads and slices of loads */
lp_status lpi_plan_axis(planner *P, int gid);        /* plan_axis.c: scans, sort, argsort, selection */
lp_status lpi_plan_index(planner *P, int gid);       /* plan_index.c: take, scatter, bincount blocks */

#endif
