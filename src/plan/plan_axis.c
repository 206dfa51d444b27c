/* Planning of the ops along one axis: scans, sort/argsort and selection by rank. The output
 * keeps the input's chunk grid (a selection: one chunk along the axis). Chunks along the
 * other axes are independent lines of work; along the axis they cooperate:
 *
 *   scan    totals[c] = fold of chunk c along the axis            (one task per chunk)
 *           out[c]    = scan of chunk c started from the fold of totals[0..c)
 *   sort    run[c]    = chunk c sorted (stable)                    (one task per chunk)
 *           out[c]    = the part [lo, hi) of the merged runs: each task finds the co-ranks of
 *                       lo and hi in every run, then merges only its slices
 *   select  out       = the values at given ranks, found by the same co-rank search
 *
 * With one chunk along the axis the first level is the result (select still reads runs).
 *
 *   fft     out[c]    = the transform of the lines of chunk c, which spans the whole axis */
#include "plan/planner.h"

#include <string.h>

/* A pnode over the input's grid with one task per chunk reading that chunk. */
static lp_status per_chunk(planner *P, int pi, int src, bool keep_grid) {
    if (keep_grid) P->pn[pi].grid = P->pn[src].grid;
    return lpi_plan_unary_tasks(P, pi, src, NULL);
}

static lp_status plan_scan(planner *P, int gid) {
    lp_array *e = P->g.node[gid];
    const int src = P->pnode_of[P->g.in[gid][0]], ax = e->a.axis;
    const int64_t nck = P->pn[src].grid.nchunks[ax];
    lp_status st;
    int tot = -1;
    if (nck > 1) {
        /* totals: the input's shape with one element per chunk along the axis */
        int64_t shape[LP_MAX_NDIM];
        memcpy(shape, e->shape, sizeof shape);
        shape[ax] = nck;
        tot = lpi_new_pnode(P, LPI_K_SCAN, e->op, NULL, e->dtype, e->ndim, shape);
        if (tot < 0) return lpi_nomem(P->ctx);
        lpi_grid *g = &P->pn[tot].grid;
        *g = P->pn[src].grid;
        memcpy(g->shape, shape, sizeof g->shape);
        int64_t *b = lpi_arena_alloc(P->ar, (size_t)(nck + 1) * sizeof *b);
        if (!b) return lpi_nomem(P->ctx);
        for (int64_t k = 0; k <= nck; k++) b[k] = k;
        g->bounds[ax] = b;
        P->pn[tot].axis = ax;
        if ((st = per_chunk(P, tot, src, false))) return st;
    }
    int pi = lpi_new_pnode(P, LPI_K_SCAN, e->op, e, e->dtype, e->ndim, e->shape);
    if (pi < 0) return lpi_nomem(P->ctx);
    P->pnode_of[gid] = pi;
    lpi_pnode *p = &P->pn[pi];
    p->grid = P->pn[src].grid;
    p->final = true;
    p->axis = ax;
    p->nin = tot >= 0 ? 2 : 1;
    if (!(p->in = lpi_arena_alloc(P->ar, 2 * sizeof *p->in))) return lpi_nomem(P->ctx);
    p->in[0] = src;
    p->in[1] = tot;
    p->first_task = P->ntasks;
    p->ntasks = p->grid.total;
    for (int64_t c = 0; c < p->ntasks; c++) {
        lpi_task *t = lpi_new_task(P, pi, c);
        if (!t) return lpi_nomem(P->ctx);
        lpi_grid_chunk_box(&P->pn[pi].grid, c, &t->box);
        t->nops = tot >= 0 ? 2 : 1;
        if (!(t->ops = lpi_arena_alloc(P->ar, (size_t)t->nops * sizeof *t->ops))) return lpi_nomem(P->ctx);
        if ((st = lpi_add_operand(P, t, 0, src, &t->box, false))) return st;
        if (tot >= 0) {
            /* the totals of the chunks before this one along the axis (none for the first) */
            lpi_box r = t->box;
            r.lo[ax] = 0;
            r.hi[ax] = lpi_find_chunk(P->pn[src].grid.bounds[ax], nck, t->box.lo[ax]);
            if ((st = lpi_add_operand(P, t, 1, tot, &r, false))) return st;
        }
    }
    return LP_OK;
}

static lp_status plan_sort(planner *P, int gid) {
    lp_array *e = P->g.node[gid];
    const int src = P->pnode_of[P->g.in[gid][0]], ax = e->a.axis;
    const lpi_grid xg = P->pn[src].grid;
    const int64_t nck = xg.nchunks[ax];
    const bool select = e->op == LPI_OP_SORT_SELECT, arg = e->op == LPI_OP_ARGSORT;
    lp_status st;
    /* level 1: each chunk sorted along the axis (argsort: its global indices) */
    bool direct = nck == 1 && !select;
    int runs = lpi_new_pnode(P, LPI_K_SORT, e->op, direct ? e : NULL, arg ? LP_INT64 : e->in[0]->dtype, e->in[0]->ndim,
                             e->in[0]->shape);
    if (runs < 0) return lpi_nomem(P->ctx);
    P->pn[runs].axis = ax;
    P->pn[runs].final = direct;
    if (direct) P->pnode_of[gid] = runs;
    if ((st = per_chunk(P, runs, src, true)) || direct) return st;
    /* level 2: merge (sort, argsort) or select; operands: every run along the axis over the
     * task's lines (argsort: the values too), select: the ranks last */
    int rk = select ? P->pnode_of[P->g.in[gid][1]] : -1;
    int pi = lpi_new_pnode(P, LPI_K_SORT, e->op, e, e->dtype, e->ndim, e->shape);
    if (pi < 0) return lpi_nomem(P->ctx);
    P->pnode_of[gid] = pi;
    lpi_pnode *p = &P->pn[pi];
    p->grid = xg;
    memcpy(p->grid.shape, e->shape, sizeof p->grid.shape);
    if (select && (st = lpi_one_chunk_axis(P, &p->grid, ax, e->shape[ax]))) return st;
    lpi_grid_from_bounds(P->ar, &P->pn[pi].grid);
    p = &P->pn[pi];
    p->final = true;
    p->axis = ax;
    p->nin = select ? 2 : arg ? 2 : 1;
    if (!(p->in = lpi_arena_alloc(P->ar, 2 * sizeof *p->in))) return lpi_nomem(P->ctx);
    p->in[0] = runs;
    p->in[1] = select ? rk : src;
    p->first_task = P->ntasks;
    p->ntasks = p->grid.total;
    const int nops = (int)(arg ? 2 * nck : nck) + (select ? 1 : 0);
    for (int64_t c = 0; c < P->pn[pi].ntasks; c++) {
        lpi_task *t = lpi_new_task(P, pi, c);
        if (!t) return lpi_nomem(P->ctx);
        lpi_grid_chunk_box(&P->pn[pi].grid, c, &t->box);
        t->nops = nops;
        if (!(t->ops = lpi_arena_alloc(P->ar, (size_t)nops * sizeof *t->ops))) return lpi_nomem(P->ctx);
        for (int64_t k = 0; k < nck; k++) {
            lpi_box r = t->box;
            r.lo[ax] = xg.bounds[ax][k];
            r.hi[ax] = xg.bounds[ax][k + 1];
            if ((st = lpi_add_operand(P, t, (int)k, runs, &r, false))) return st;
            if (arg && (st = lpi_add_operand(P, t, (int)(nck + k), src, &r, false))) return st;
        }
        if (select) {
            lpi_box r = {1, {0}, {P->pn[rk].shape[0]}};
            if ((st = lpi_add_operand(P, t, nops - 1, rk, &r, false))) return st;
        }
    }
    return LP_OK;
}

/* Fourier transforms: the transform axis whole in each task (one chunk along it: a split axis
 * is gathered from its chunks by the operand's pieces), the other axes keep the input's chunks. */
static lp_status plan_fft(planner *P, int gid) {
    lp_array *e = P->g.node[gid];
    const int src = P->pnode_of[P->g.in[gid][0]], ax = e->a.axis;
    const int64_t nin = e->in[0]->shape[ax];
    int pi = lpi_new_pnode(P, LPI_K_FFT, e->op, e, e->dtype, e->ndim, e->shape);
    if (pi < 0) return lpi_nomem(P->ctx);
    P->pnode_of[gid] = pi;
    lp_status st;
    P->pn[pi].grid = P->pn[src].grid;
    memcpy(P->pn[pi].grid.shape, e->shape, sizeof P->pn[pi].grid.shape);
    if ((st = lpi_one_chunk_axis(P, &P->pn[pi].grid, ax, e->shape[ax]))) return st;
    lpi_grid_from_bounds(P->ar, &P->pn[pi].grid);
    lpi_pnode *p = &P->pn[pi];
    p->final = true;
    p->axis = ax;
    p->nin = 1;
    if (!(p->in = lpi_arena_alloc(P->ar, sizeof *p->in))) return lpi_nomem(P->ctx);
    p->in[0] = src;
    p->first_task = P->ntasks;
    p->ntasks = p->grid.total;
    for (int64_t c = 0; c < P->pn[pi].ntasks; c++) {
        lpi_task *t = lpi_new_task(P, pi, c);
        if (!t) return lpi_nomem(P->ctx);
        lpi_grid_chunk_box(&P->pn[pi].grid, c, &t->box);
        t->nops = 1;
        if (!(t->ops = lpi_arena_alloc(P->ar, sizeof *t->ops))) return lpi_nomem(P->ctx);
        lpi_box r = t->box;
        r.lo[ax] = 0;
        r.hi[ax] = nin;
        if ((st = lpi_add_operand(P, t, 0, src, &r, false))) return st;
    }
    return LP_OK;
}

lp_status lpi_plan_axis(planner *P, int gid) {
    lpi_opkind k = lpi_ops[P->g.node[gid]->op].kind;
    return k == LP_OPK_SCAN ? plan_scan(P, gid) : k == LP_OPK_FFT ? plan_fft(P, gid) : plan_sort(P, gid);
}
