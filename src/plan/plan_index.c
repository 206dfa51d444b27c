/* Planning of indexing by data. Which elements a task reads depends on index values known only
 * when it runs, so a task lists as operands every chunk that may hold them, each chunk its own
 * operand (a view, never a copy):
 *
 *   take      out chunk (over idx's grid along the taken axes, x's grid elsewhere) reads its
 *             part of idx and every chunk of x along the axis (over its lines)
 *   scatter   out chunk = x chunk with the assigned values that fall into it: reads its x chunk
 *             and every chunk of the flat indices and of the values
 *   bincount  row blocks of the (P, L) counts read their elements of x (and of the weights) */
#include "plan/planner.h"

#include <string.h>

static lpi_task *task_with_ops(planner *P, int pi, int64_t c, int nops) {
    lpi_task *t = lpi_new_task(P, pi, c);
    if (!t) return NULL;
    lpi_grid_chunk_box(&P->pn[pi].grid, c, &t->box);
    t->nops = nops;
    if (!(t->ops = lpi_arena_alloc(P->ar, (size_t)nops * sizeof *t->ops))) return NULL;
    return t;
}

static int set_inputs(planner *P, int pi, int n, const int *in) {
    lpi_pnode *p = &P->pn[pi];
    p->nin = n;
    if (!(p->in = lpi_arena_alloc(P->ar, (size_t)n * sizeof *p->in))) return -1;
    memcpy(p->in, in, (size_t)n * sizeof *in);
    p->first_task = P->ntasks;
    p->ntasks = p->grid.total;
    return 0;
}

static lp_status plan_take(planner *P, int gid, int pi) {
    lp_array *e = P->g.node[gid];
    const int x = P->pnode_of[P->g.in[gid][0]], ix = P->pnode_of[P->g.in[gid][1]], ax = e->a.axis;
    const lpi_grid xg = P->pn[x].grid, ig = P->pn[ix].grid;
    const int ni = ig.ndim, K = (int)xg.nchunks[ax];
    lpi_grid *g = &P->pn[pi].grid;
    memset(g, 0, sizeof *g);
    g->ndim = e->ndim;
    memcpy(g->shape, e->shape, sizeof g->shape);
    for (int i = 0, j = 0; i < xg.ndim; i++) {
        if (i == ax) {
            for (int q = 0; q < ni; q++, j++) { g->bounds[j] = ig.bounds[q]; g->nchunks[j] = ig.nchunks[q]; }
            continue;
        }
        g->bounds[j] = xg.bounds[i];
        g->nchunks[j++] = xg.nchunks[i];
    }
    lpi_grid_from_bounds(P->ar, g);
    int in[2] = {x, ix};
    if (set_inputs(P, pi, 2, in)) return lpi_nomem(P->ctx);
    P->pn[pi].axis = ax;
    lp_status st;
    for (int64_t c = 0; c < P->pn[pi].ntasks; c++) {
        lpi_task *t = task_with_ops(P, pi, c, 1 + K);
        if (!t) return lpi_nomem(P->ctx);
        lpi_box ib = {ni, {0}, {0}}, xb = {xg.ndim, {0}, {0}};
        for (int q = 0; q < ni; q++) { ib.lo[q] = t->box.lo[ax + q]; ib.hi[q] = t->box.hi[ax + q]; }
        if ((st = lpi_add_operand(P, t, 0, ix, &ib, false))) return st;
        for (int i = 0, j = 0; i < xg.ndim; i++) {
            if (i == ax) { j += ni; continue; }
            xb.lo[i] = t->box.lo[j];
            xb.hi[i] = t->box.hi[j++];
        }
        for (int k = 0; k < K; k++) {
            xb.lo[ax] = xg.bounds[ax][k];
            xb.hi[ax] = xg.bounds[ax][k + 1];
            if ((st = lpi_add_operand(P, t, 1 + k, x, &xb, false))) return st;
        }
    }
    return LP_OK;
}

static lp_status plan_scatter(planner *P, int gid, int pi) {
    const int x = P->pnode_of[P->g.in[gid][0]], fl = P->pnode_of[P->g.in[gid][1]], v = P->pnode_of[P->g.in[gid][2]];
    P->pn[pi].grid = P->pn[x].grid;
    const lpi_grid fg = P->pn[fl].grid;
    const int J = (int)fg.nchunks[0];
    int in[3] = {x, fl, v};
    if (set_inputs(P, pi, 3, in)) return lpi_nomem(P->ctx);
    lp_status st;
    for (int64_t c = 0; c < P->pn[pi].ntasks; c++) {
        lpi_task *t = task_with_ops(P, pi, c, 1 + 2 * J);
        if (!t) return lpi_nomem(P->ctx);
        if ((st = lpi_add_operand(P, t, 0, x, &t->box, false))) return st;
        for (int j = 0; j < J; j++) {
            lpi_box b = {1, {fg.bounds[0][j]}, {fg.bounds[0][j + 1]}};
            if ((st = lpi_add_operand(P, t, 1 + j, fl, &b, false)) || (st = lpi_add_operand(P, t, 1 + J + j, v, &b, false)))
                return st;
        }
    }
    return LP_OK;
}

static lp_status plan_bincount(planner *P, int gid, int pi) {
    lp_array *e = P->g.node[gid];
    const int x = P->pnode_of[P->g.in[gid][0]], w = P->pnode_of[P->g.in[gid][1]];
    const int64_t B = e->a.i0, n = e->in[0]->shape[0];
    /* rows per chunk: about one chunk of x per task */
    const lpi_grid *xg = &P->pn[x].grid;
    int64_t xc = xg->nchunks[0] ? (n + xg->nchunks[0] - 1) / xg->nchunks[0] : 1;
    int64_t hint[2] = {xc / B > 0 ? xc / B : 1, 0};
    lp_status st = lpi_grid_auto(P->ctx, P->ar, 2, e->shape, lp_dtype_size(e->dtype), hint, &P->pn[pi].grid);
    if (st) return st;
    int in[2] = {x, w};
    if (set_inputs(P, pi, 2, in)) return lpi_nomem(P->ctx);
    P->pn[pi].block = B;
    for (int64_t c = 0; c < P->pn[pi].ntasks; c++) {
        lpi_task *t = task_with_ops(P, pi, c, 2);
        if (!t) return lpi_nomem(P->ctx);
        int64_t lo = t->box.lo[0] * B, hi = t->box.hi[0] * B;
        lpi_box xb = {1, {lo < n ? lo : n}, {hi < n ? hi : n}};
        lpi_box wb = P->pn[w].ndim ? xb : (lpi_box){0, {0}, {0}};
        if ((st = lpi_add_operand(P, t, 0, x, &xb, false)) || (st = lpi_add_operand(P, t, 1, w, &wb, false))) return st;
    }
    return LP_OK;
}

/* compress and nonzero: tasks over whole blocks of mask rows, grouped so that every task but
 * an all-false whole has elements; output chunk k = the elements of task k, in order */
static lp_status plan_compress(planner *P, int gid, int pi) {
    lp_array *e = P->g.node[gid];
    const bool nz = e->op == LPI_OP_NONZERO;
    lp_array *mask = e->in[nz ? 0 : 1], *cnt = e->in[nz ? 1 : 2];
    const int x = nz ? -1 : P->pnode_of[P->g.in[gid][0]], mk = P->pnode_of[P->g.in[gid][nz ? 0 : 1]];
    const int64_t B = e->a.i0, rows = mask->ndim ? mask->shape[0] : 1;
    const int64_t *c = lpi_known_int64(cnt);
    const int64_t nb = cnt->shape[0];
    if (!c) return lpi_error(P->ctx, LP_ERR_INTERNAL, "compress: counts unknown when planning");
    /* task boundaries in blocks: a task ends after each block with elements (all-false blocks
     * join the next task) */
    int64_t *tb = lpi_arena_alloc(P->ar, (size_t)(nb + 2) * sizeof *tb), *ob = lpi_arena_alloc(P->ar, (size_t)(nb + 2) * sizeof *ob);
    if (!tb || !ob) return lpi_nomem(P->ctx);
    int64_t nt = 0, acc = 0;
    tb[0] = 0;
    ob[0] = 0;
    for (int64_t k = 0; k < nb; k++) {
        acc += c[k];
        if (c[k] > 0) { nt++; tb[nt] = k + 1; ob[nt] = acc; }
    }
    if (nt == 0) { nt = 1; ob[1] = 0; } /* nothing is true: one empty task */
    tb[nt] = nb;                          /* trailing all-false blocks join the last task */
    lpi_grid *g = &P->pn[pi].grid;
    memset(g, 0, sizeof *g);
    g->ndim = e->ndim;
    memcpy(g->shape, e->shape, sizeof g->shape);
    g->bounds[0] = ob;
    g->nchunks[0] = nt;
    for (int i = 1; i < e->ndim; i++) {
        lp_status st = lpi_one_chunk_axis(P, g, i, e->shape[i]);
        if (st) return st;
    }
    lpi_grid_from_bounds(P->ar, g);
    int in[2] = {mk, x};
    if (set_inputs(P, pi, nz ? 1 : 2, in)) return lpi_nomem(P->ctx);
    P->pn[pi].block = B;
    lp_status st;
    for (int64_t k = 0; k < nt; k++) {
        lpi_task *t = task_with_ops(P, pi, k, nz ? 1 : 2);
        if (!t) return lpi_nomem(P->ctx);
        int64_t r0 = tb[k] * B, r1 = tb[k + 1] * B < rows ? tb[k + 1] * B : rows;
        lpi_box mb = {mask->ndim, {0}, {0}};
        for (int i = 0; i < mask->ndim; i++) mb.hi[i] = mask->shape[i];
        if (mask->ndim) { mb.lo[0] = r0; mb.hi[0] = r1; }
        if ((st = lpi_add_operand(P, t, 0, mk, &mb, false))) return st;
        if (!nz) {
            lpi_box xb = {e->in[0]->ndim, {0}, {0}};
            for (int i = 0; i < xb.ndim; i++) xb.hi[i] = e->in[0]->shape[i];
            if (xb.ndim) { xb.lo[0] = r0; xb.hi[0] = r1; }
            if ((st = lpi_add_operand(P, t, 1, x, &xb, false))) return st;
        }
    }
    return LP_OK;
}

/* searchsorted: one task per chunk of v, reading every chunk of a */
static lp_status plan_searchsorted(planner *P, int gid, int pi) {
    const int a = P->pnode_of[P->g.in[gid][0]], v = P->pnode_of[P->g.in[gid][1]];
    const lpi_grid ag = P->pn[a].grid;
    const int K = (int)ag.nchunks[0];
    P->pn[pi].grid = P->pn[v].grid;
    int in[2] = {a, v};
    if (set_inputs(P, pi, 2, in)) return lpi_nomem(P->ctx);
    P->pn[pi].block = P->g.node[gid]->a.axis; /* the side: 1 = right (the axis parameter is a real axis) */
    lp_status st;
    for (int64_t c = 0; c < P->pn[pi].ntasks; c++) {
        lpi_task *t = task_with_ops(P, pi, c, 1 + K);
        if (!t) return lpi_nomem(P->ctx);
        if ((st = lpi_add_operand(P, t, 0, v, &t->box, false))) return st;
        for (int k = 0; k < K; k++) {
            lpi_box b = {1, {ag.bounds[0][k]}, {ag.bounds[0][k + 1]}};
            if ((st = lpi_add_operand(P, t, 1 + k, a, &b, false))) return st;
        }
    }
    return LP_OK;
}

lp_status lpi_plan_index(planner *P, int gid) {
    lp_array *e = P->g.node[gid];
    int pi = lpi_new_pnode(P, LPI_K_INDEX, e->op, e, e->dtype, e->ndim, e->shape);
    if (pi < 0) return lpi_nomem(P->ctx);
    P->pnode_of[gid] = pi;
    P->pn[pi].final = true;
    switch (e->op) {
    case LPI_OP_TAKE: return plan_take(P, gid, pi);
    case LPI_OP_SCATTER: return plan_scatter(P, gid, pi);
    case LPI_OP_BINCOUNT_BLOCKS: return plan_bincount(P, gid, pi);
    case LPI_OP_COMPRESS: case LPI_OP_NONZERO: return plan_compress(P, gid, pi);
    case LPI_OP_SEARCHSORTED: return plan_searchsorted(P, gid, pi);
    default: return lpi_error(P->ctx, LP_ERR_INTERNAL, "op %s cannot be planned", lpi_ops[e->op].name);
    }
}
