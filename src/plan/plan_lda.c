/* Planning of the Fisher LDA ops (layouts in kernels/lda.h). All of them follow the row
 * chunks of their first input (X, or y for lda_labels), so a chunk of X is read once, by one
 * task, wherever its rows go:
 *   - reductions (labels, stats, lw): one PARTIAL task per row chunk, then a combine tree of
 *     fan-in 8 over consecutive states in a fixed order (the shape of plan_reduce's tree), so
 *     the result has the same bits for any thread count and any executor;
 *   - maps (project, predict): one MAP task per row chunk.
 * Every other input is a small parameter array read whole by each task. */
#include "kernels/lda.h"
#include "plan/planner.h"

#include <string.h>

#define FANIN 8

/* The region of input k a task over rows [r0, r1) reads: the rows (all columns) of the row
 * source and of y, the whole of every parameter. */
static void lda_region(const lpi_pnode *in, int k, int nrowops, int64_t r0, int64_t r1, lpi_box *r) {
    r->ndim = in->ndim;
    for (int i = 0; i < in->ndim; i++) { r->lo[i] = 0; r->hi[i] = in->shape[i]; }
    if (k < nrowops && in->ndim) { r->lo[0] = r0; r->hi[0] = r1; }
}

static lp_status add_operands(planner *P, int64_t ti, const int *inputs, int nin, int nrowops, int64_t r0,
                              int64_t r1) {
    lpi_task *t = &P->tasks[ti];
    t->nops = nin;
    if (!(t->ops = lpi_arena_alloc(P->ar, (size_t)nin * sizeof *t->ops))) return lpi_nomem(P->ctx);
    for (int k = 0; k < nin; k++) {
        lpi_box reg;
        lda_region(&P->pn[inputs[k]], k, nrowops, r0, r1, &reg);
        lp_status st = lpi_add_operand(P, &P->tasks[ti], k, inputs[k], &reg, false);
        if (st) return st;
    }
    return LP_OK;
}

static lp_status plan_lda_reduce(planner *P, int gid, const int *inputs, int nin) {
    lp_array *e = P->g.node[gid];
    const int nrowops = e->op == LPI_OP_LDA_LABELS ? 1 : 2; /* X and y, or y alone */
    const lpi_pnode *src = &P->pn[inputs[0]];
    const int64_t *rb = src->grid.bounds[0];
    const int64_t nred = src->grid.nchunks[0] > 0 ? src->grid.nchunks[0] : 1;
    const int64_t S = e->shape[0];
    lpi_reduce *r = lpi_arena_alloc(P->ar, sizeof *r);
    if (!r) return lpi_nomem(P->ctx);
    r->op = e->op;
    r->axes = 1;
    r->in_ndim = src->ndim;
    memcpy(r->in_shape, src->shape, sizeof r->in_shape);
    r->acc_float = e->dtype == LP_FLOAT64;
    r->nfields = 1;
    r->count = src->ndim ? src->shape[0] : 1;

    int fin = lpi_new_pnode(P, LPI_K_PARTIAL, e->op, e, e->dtype, 1, e->shape);
    if (fin < 0) return lpi_nomem(P->ctx);
    P->pnode_of[gid] = fin;
    lpi_grid *og = &P->pn[fin].grid;
    memset(og, 0, sizeof *og);
    og->ndim = 1;
    og->shape[0] = S;
    lp_status st = lpi_one_chunk_axis(P, og, 0, S);
    if (st) return st;
    lpi_grid_from_bounds(P->ar, og);

    int level = fin;
    if (nred > 1) {
        level = lpi_new_pnode(P, LPI_K_PARTIAL, e->op, NULL, e->dtype, 1, &nred);
        if (level < 0) return lpi_nomem(P->ctx);
        if ((st = lpi_grid_auto(P->ctx, P->ar, 1, &nred, 1, &(int64_t){1}, &P->pn[level].grid))) return st;
    }
    lpi_pnode *lp0 = &P->pn[level];
    lp0->in = (int *)inputs;
    lp0->nin = nin;
    lp0->red = r;
    lp0->final = nred == 1;
    lp0->first_task = P->ntasks;
    lp0->ntasks = nred;
    for (int64_t rc = 0; rc < nred; rc++) {
        lpi_task *t = lpi_new_task(P, level, rc);
        if (!t) return lpi_nomem(P->ctx);
        int64_t ti = P->ntasks - 1;
        int64_t r0 = src->ndim ? rb[rc] : 0, r1 = src->ndim ? rb[rc + 1] : 1;
        lda_region(&P->pn[inputs[0]], 0, 1, r0, r1, &t->box);
        t->pelems = S;
        if ((st = add_operands(P, ti, inputs, nin, nrowops, r0, r1))) return st;
    }
    /* the shared fixed-order combine tree (one output chunk: the whole state) */
    return lpi_plan_combine(P, fin, level, r, 1, nred);
}

static lp_status plan_lda_map(planner *P, int gid, const int *inputs, int nin) {
    lp_array *e = P->g.node[gid];
    const lpi_pnode *src = &P->pn[inputs[0]];
    int pi = lpi_new_pnode(P, LPI_K_MAP, e->op, e, e->dtype, e->ndim, e->shape);
    if (pi < 0) return lpi_nomem(P->ctx);
    P->pnode_of[gid] = pi;
    lpi_grid *g = &P->pn[pi].grid;
    memset(g, 0, sizeof *g);
    g->ndim = e->ndim;
    memcpy(g->shape, e->shape, sizeof g->shape);
    g->bounds[0] = src->grid.bounds[0];
    g->nchunks[0] = src->grid.nchunks[0];
    lp_status st;
    for (int i = 1; i < e->ndim; i++)
        if ((st = lpi_one_chunk_axis(P, g, i, e->shape[i]))) return st;
    lpi_grid_from_bounds(P->ar, g);
    lpi_pnode *p = &P->pn[pi];
    p->in = (int *)inputs;
    p->nin = nin;
    p->first_task = P->ntasks;
    p->ntasks = g->total;
    for (int64_t c = 0; c < P->pn[pi].grid.total; c++) {
        lpi_task *t = lpi_new_task(P, pi, c);
        if (!t) return lpi_nomem(P->ctx);
        int64_t ti = P->ntasks - 1;
        lpi_grid_chunk_box(&P->pn[pi].grid, c, &t->box);
        if ((st = add_operands(P, ti, inputs, nin, 1, t->box.lo[0], t->box.hi[0]))) return st;
    }
    return LP_OK;
}

lp_status lpi_plan_lda(planner *P, int gid) {
    lp_array *e = P->g.node[gid];
    int nin = e->nin;
    int *inputs = lpi_arena_alloc(P->ar, (size_t)nin * sizeof *inputs);
    if (!inputs) return lpi_nomem(P->ctx);
    for (int k = 0; k < nin; k++) inputs[k] = P->pnode_of[P->g.in[gid][k]];
    switch (e->op) {
    case LPI_OP_LDA_LABELS:
    case LPI_OP_LDA_STATS:
    case LPI_OP_LDA_LW: return plan_lda_reduce(P, gid, inputs, nin);
    case LPI_OP_LDA_PROJECT:
    case LPI_OP_LDA_PREDICT: return plan_lda_map(P, gid, inputs, nin);
    default: return lpi_error(P->ctx, LP_ERR_INTERNAL, "op %s is not an LDA op", lpi_ops[e->op].name);
    }
}
