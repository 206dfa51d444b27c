/* Planning of the ops along one axis: scans, sort/argsort and selection by rank. The output
 * keeps the input's chunk grid (a selection: one chunk along the axis). Chunks along the
 * other axes are independent lines of work; along the axis they cooperate:
 *
 *   scan    totals[c] = fold of chunk c along the axis            (one task per chunk)
 *           out[c]    = scan of chunk c started from the fold of totals[0..c)
 *   sort    run[r]    = the chunks of group r sorted (stable)      (one task per group of
 *                       consecutive chunks along the axis: at most SORT_RUNS runs)
 *           out[c]    = the part [lo, hi) of the merged runs: each task finds the co-ranks of
 *                       lo and hi in every run, then merges only its slices
 *   select  hist[c]   = per line, counts of chunk c's keys by their top bits (one task per
 *                       chunk; 2^B buckets, B chosen so a histogram is no larger than its chunk)
 *           out       = per line: the histograms summed give each rank's bucket; one pass over
 *                       the chunks gathers the keys of those buckets, a radix select (the next
 *                       bits, narrowing) finds each rank in its bucket. Nothing is sorted.
 *
 * With one chunk along the axis the first level is the result (not for select).
 *
 *   fft     out[c]    = the transform of the lines of chunk c, which spans the whole axis */
#include "plan/planner.h"

#include <string.h>

/* One task per chunk of pi's grid reading the input's chunk of the same index (keep_grid: pi
 * takes the input's grid; else pi's grid has as many chunks, of another shape). */
static lp_status per_chunk(planner *P, int pi, int src, bool keep_grid) {
    if (keep_grid) P->pn[pi].grid = P->pn[src].grid;
    return lpi_plan_unary_tasks(P, pi, src, (lpi_read_rule){.kind = LPI_READ_CHUNK});
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

/* The last level over every chunk along the axis: the pnode of e (the input's grid with e's
 * shape; one_chunk: one chunk along the axis) whose task reads, for each pnode per[j] and each
 * of the nck ranges [b[k], b[k + 1]) along the axis (b: opb, or per[j]'s own chunk bounds if
 * opb is NULL), that range of per[j] over the task's lines (operand j * nck + k), then all of
 * the 1-d `tail` if tail >= 0. */
static lp_status final_level(planner *P, int gid, const lpi_grid *xg, bool one_chunk, const int *per, int nper, int tail,
                             const int64_t *opb, int64_t nck) {
    lp_array *e = P->g.node[gid];
    const int ax = e->a.axis;
    lp_status st;
    int pi = lpi_new_pnode(P, LPI_K_SORT, e->op, e, e->dtype, e->ndim, e->shape);
    if (pi < 0) return lpi_nomem(P->ctx);
    P->pnode_of[gid] = pi;
    lpi_pnode *p = &P->pn[pi];
    p->grid = *xg;
    memcpy(p->grid.shape, e->shape, sizeof p->grid.shape);
    if (one_chunk && (st = lpi_one_chunk_axis(P, &p->grid, ax, e->shape[ax]))) return st;
    lpi_grid_from_bounds(P->ar, &P->pn[pi].grid);
    p = &P->pn[pi];
    p->final = true;
    p->axis = ax;
    p->nin = nper + (tail >= 0);
    if (!(p->in = lpi_arena_alloc(P->ar, (size_t)p->nin * sizeof *p->in))) return lpi_nomem(P->ctx);
    for (int j = 0; j < nper; j++) p->in[j] = per[j];
    if (tail >= 0) p->in[nper] = tail;
    p->first_task = P->ntasks;
    p->ntasks = p->grid.total;
    const int nops = (int)(nper * nck) + (tail >= 0);
    for (int64_t c = 0; c < P->pn[pi].ntasks; c++) {
        lpi_task *t = lpi_new_task(P, pi, c);
        if (!t) return lpi_nomem(P->ctx);
        lpi_grid_chunk_box(&P->pn[pi].grid, c, &t->box);
        t->nops = nops;
        if (!(t->ops = lpi_arena_alloc(P->ar, (size_t)nops * sizeof *t->ops))) return lpi_nomem(P->ctx);
        for (int j = 0; j < nper; j++)
            for (int64_t k = 0; k < nck; k++) {
                const int64_t *b = opb ? opb : P->pn[per[j]].grid.bounds[ax];
                lpi_box r = t->box;
                r.lo[ax] = b[k];
                r.hi[ax] = b[k + 1];
                if ((st = lpi_add_operand(P, t, (int)(j * nck + k), per[j], &r, false))) return st;
            }
        if (tail >= 0) {
            lpi_box r = {1, {0}, {P->pn[tail].shape[0]}};
            if ((st = lpi_add_operand(P, t, nops - 1, tail, &r, false))) return st;
        }
    }
    return LP_OK;
}

/* Histogram bits for selection: 2^B int64 counts per line no larger than the longest chunk's
 * line, at most 16 bits and at most the key's width (kernels/axis.c, key_bits). */
static int select_bits(lp_dtype dt, const lpi_grid *g, int ax) {
    int64_t nmax = 1;
    for (int64_t k = 0; k < g->nchunks[ax]; k++) {
        int64_t len = g->bounds[ax][k + 1] - g->bounds[ax][k];
        if (len > nmax) nmax = len;
    }
    int64_t bytes = nmax * (int64_t)lp_dtype_size(dt);
    int b = 1;
    while (b < 16 && ((int64_t)8 << (b + 1)) <= bytes) b++;
    size_t w = dt == LP_FLOAT16 ? 4 : lp_dtype_size(dt); /* float16 keys are float32 ones */
    if (b > (int)(8 * w)) b = (int)(8 * w);
    return b;
}

static lp_status plan_select(planner *P, int gid) {
    lp_array *e = P->g.node[gid];
    const int src = P->pnode_of[P->g.in[gid][0]], rk = P->pnode_of[P->g.in[gid][1]], ax = e->a.axis;
    const lpi_grid xg = P->pn[src].grid;
    const int64_t nck = xg.nchunks[ax], nb = (int64_t)1 << select_bits(e->in[0]->dtype, &xg, ax);
    lp_status st;
    /* level 1: the input's shape with nb counts per chunk along the axis */
    int64_t shape[LP_MAX_NDIM];
    memcpy(shape, e->in[0]->shape, sizeof shape);
    shape[ax] = nck * nb;
    int hist = lpi_new_pnode(P, LPI_K_SORT, e->op, NULL, LP_INT64, e->in[0]->ndim, shape);
    if (hist < 0) return lpi_nomem(P->ctx);
    lpi_grid *hg = &P->pn[hist].grid;
    *hg = xg;
    memcpy(hg->shape, shape, sizeof hg->shape);
    int64_t *b = lpi_arena_alloc(P->ar, (size_t)(nck + 1) * sizeof *b);
    if (!b) return lpi_nomem(P->ctx);
    for (int64_t k = 0; k <= nck; k++) b[k] = k * nb;
    hg->bounds[ax] = b;
    P->pn[hist].axis = ax;
    if ((st = per_chunk(P, hist, src, false))) return st;
    /* level 2: operands every chunk of the input along the axis, then every histogram, the
     * ranks last */
    const int per[2] = {src, hist};
    return final_level(P, gid, &xg, true, per, 2, rk, NULL, nck);
}

/* Runs along the axis: at most SORT_RUNS, each a group of consecutive input chunks (the chunk
 * sort costs about the same per key at any length, while every run adds to the merge: a round
 * of pairwise merges per doubling, and co-ranks in every run). Small chunks (the probe's
 * choice moves between 2 and 32 MiB) would otherwise give hundreds of runs. */
#define SORT_RUNS 16

static lp_status plan_sort(planner *P, int gid) {
    lp_array *e = P->g.node[gid];
    const int src = P->pnode_of[P->g.in[gid][0]], ax = e->a.axis;
    const lpi_grid xg = P->pn[src].grid;
    const int64_t nck = xg.nchunks[ax];
    const bool arg = e->op == LPI_OP_ARGSORT;
    lp_status st;
    /* level 1: each run sorted along the axis (argsort: its global indices; runs of 8-byte
     * numbers as their order-preserving uint64 keys, which the merges read and compare as they
     * are: no conversion back and forth) */
    bool direct = nck == 1;
    const lp_dtype dt = e->in[0]->dtype;
    const bool keyed = !direct && !arg && (dt == LP_INT64 || dt == LP_UINT64 || dt == LP_FLOAT64);
    int runs = lpi_new_pnode(P, LPI_K_SORT, e->op, direct ? e : NULL, arg ? LP_INT64 : keyed ? LP_UINT64 : dt, e->in[0]->ndim,
                             e->in[0]->shape);
    if (runs < 0) return lpi_nomem(P->ctx);
    P->pn[runs].axis = ax;
    P->pn[runs].final = direct;
    if (direct) {
        P->pnode_of[gid] = runs;
        return per_chunk(P, runs, src, true);
    }
    /* the runs' grid: the input's, with groups of g chunks along the axis */
    const int64_t g = (nck + SORT_RUNS - 1) / SORT_RUNS, nr = (nck + g - 1) / g;
    int64_t *rb = lpi_arena_alloc(P->ar, (size_t)(nr + 1) * sizeof *rb);
    if (!rb) return lpi_nomem(P->ctx);
    for (int64_t k = 0; k < nr; k++) rb[k] = xg.bounds[ax][k * g];
    rb[nr] = xg.bounds[ax][nck];
    lpi_grid *rg = &P->pn[runs].grid;
    *rg = xg;
    rg->bounds[ax] = rb;
    rg->nchunks[ax] = nr;
    lpi_grid_from_bounds(P->ar, rg);
    /* a run reads its own box: all the input chunks of its group */
    if ((st = lpi_plan_unary_tasks(P, runs, src, (lpi_read_rule){.kind = LPI_READ_BOX}))) return st;
    /* level 2: merge; operands: every run along the axis over the task's lines (argsort: the
     * values of the same ranges too) */
    const int per[2] = {runs, src};
    return final_level(P, gid, &xg, false, per, arg ? 2 : 1, -1, rb, nr);
}

/* Fourier transforms: the transform axis whole in each task (one chunk along it: a split axis
 * is gathered from its chunks by the operand's pieces), the other axes keep the input's chunks. */
static lp_status plan_fft(planner *P, int gid) {
    lp_array *e = P->g.node[gid];
    const int src = P->pnode_of[P->g.in[gid][0]], ax = e->a.axis;
    int pi = lpi_new_pnode(P, LPI_K_FFT, e->op, e, e->dtype, e->ndim, e->shape);
    if (pi < 0) return lpi_nomem(P->ctx);
    P->pnode_of[gid] = pi;
    lp_status st;
    P->pn[pi].grid = P->pn[src].grid;
    memcpy(P->pn[pi].grid.shape, e->shape, sizeof P->pn[pi].grid.shape);
    if ((st = lpi_one_chunk_axis(P, &P->pn[pi].grid, ax, e->shape[ax]))) return st;
    lpi_grid_from_bounds(P->ar, &P->pn[pi].grid);
    P->pn[pi].final = true;
    P->pn[pi].axis = ax;
    /* a task reads its lines whole along the axis, over the input's length there */
    return lpi_plan_unary_tasks(P, pi, src, (lpi_read_rule){.kind = LPI_READ_LINES, .axis = ax});
}

lp_status lpi_plan_axis(planner *P, int gid) {
    lpi_op op = P->g.node[gid]->op;
    lpi_opkind k = lpi_ops[op].kind;
    return k == LP_OPK_SCAN ? plan_scan(P, gid)
         : k == LP_OPK_FFT ? plan_fft(P, gid)
         : op == LPI_OP_SORT_SELECT ? plan_select(P, gid)
                                    : plan_sort(P, gid);
}
