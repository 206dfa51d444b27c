/* Loads, and slices/transposes/reshapes of loads (the graph's push-down, graph.c push_loads):
 * one LOAD pnode per materialized chain node, reading the stored array through the chain's
 * composed affine map, so a task reads the byte ranges of its own output and nothing else.
 * Chunks follow the stored order: the output axis that walks the stored array's slowest
 * dimension is split first, so every task reads one contiguous stretch of the object (Zarr
 * arrays: whole stored chunks). */
#include "plan/planner.h"

#include <string.h>

/* R = V after m: m maps an output index of a move node to its input's index; V maps that
 * input's index to the stored (logical) index; both read the same way (see lpi_axismap). */
static void compose(const lpi_axismap *V, int lnd, const lpi_axismap *m, int out_nd, lpi_axismap *R) {
    memset(R, 0, sizeof *R);
    for (int i = 0; i < lnd; i++) { R->dropped[i] = V->dropped[i]; R->fixed[i] = V->fixed[i]; }
    for (int j = 0; j < out_nd; j++) {
        int s2 = m->src[j], s1 = s2 >= 0 ? V->src[s2] : -1;
        if (s1 < 0) { R->src[j] = -1; continue; }
        R->src[j] = (int8_t)s1;
        R->off[j] = V->off[s2] + V->step[s2] * m->off[j];
        R->step[j] = V->step[s2] * m->step[j];
    }
    /* input axes of the move that it fixes (integer indexing) fix the stored axis behind them */
    for (int i = 0; i < LP_MAX_NDIM; i++) {
        if (!m->dropped[i]) continue;
        int s1 = V->src[i];
        if (s1 < 0) continue;
        R->dropped[s1] = true;
        R->fixed[s1] = V->off[i] + V->step[i] * m->fixed[i];
    }
}

/* The grid in the stored order (see the top of the file). */
static lp_status load_grid(planner *P, lpi_pnode *p) {
    const lp_array *e = p->expr;
    if (e && e->has_chunk_hint && e->ndim == p->ndim) return lpi_auto_grid(P, p, p->ndim, p->shape, p->dtype);
    const lpi_dataset *d = p->src->a.ds;
    int lnd = p->lndim >= 0 ? p->lndim : d->ndim;
    const int64_t *lshape = p->lndim >= 0 ? p->lshape : d->shape;
    /* bytes a step along each logical axis moves in the object */
    int64_t lstride[LP_MAX_NDIM], s = 1;
    bool fortran = d->fmt == LPI_FMT_NPY && d->npy.fortran_order;
    for (int k = 0; k < lnd; k++) {
        int i = fortran ? k : lnd - 1 - k;
        lstride[i] = s;
        s *= lshape[i] > 0 ? lshape[i] : 1;
    }
    int order[LP_MAX_NDIM];
    int64_t key[LP_MAX_NDIM], pshape[LP_MAX_NDIM];
    for (int j = 0; j < p->ndim; j++) {
        int src = p->view ? p->view->src[j] : j;
        int64_t step = p->view ? p->view->step[j] : 1;
        key[j] = src < 0 ? -1 : lstride[src] * (step < 0 ? -step : step);
        order[j] = j;
    }
    /* stable insertion sort, slowest first; unit axes stay where they are relative to others */
    for (int a = 1; a < p->ndim; a++)
        for (int b = a; b > 0 && key[order[b]] > key[order[b - 1]]; b--) {
            int t = order[b]; order[b] = order[b - 1]; order[b - 1] = t;
        }
    lpi_grid g;
    lp_status st;
    memset(&p->grid, 0, sizeof p->grid);
    p->grid.ndim = p->ndim;
    memcpy(p->grid.shape, p->shape, sizeof p->grid.shape);
    if (d->fmt == LPI_FMT_NPY) {
        for (int a = 0; a < p->ndim; a++) pshape[a] = p->shape[order[a]];
        if ((st = lpi_grid_auto(P->ctx, P->ar, p->ndim, pshape, lp_dtype_size(p->dtype), NULL, &g))) return st;
        for (int a = 0; a < p->ndim; a++) {
            p->grid.bounds[order[a]] = g.bounds[a];
            p->grid.nchunks[order[a]] = g.nchunks[a];
        }
        return lpi_grid_from_bounds(P->ar, &p->grid);
    }
    /* Zarr: the units are the stored chunks (where an output axis walks a stored axis with step
     * 1; other axes are one unit), grouped so a task reads about the target size */
    int64_t zc[LP_MAX_NDIM], *ub[LP_MAX_NDIM], nu[LP_MAX_NDIM], unit_bytes = (int64_t)lp_dtype_size(p->dtype);
    lpi_dataset_chunks(d, zc);
    for (int j = 0; j < p->ndim; j++) {
        int src = p->view ? p->view->src[j] : j;
        int64_t step = p->view ? p->view->step[j] : 1, off = p->view ? p->view->off[j] : 0, n = p->shape[j];
        int64_t c = src >= 0 && step == 1 && d->fmt == LPI_FMT_ZARR ? zc[src] : 0;
        int64_t first = c ? (c - off % c) % c : 0, k = 0;
        int64_t cnt = n == 0 ? 1 : c ? 2 + (n - first) / c : 2;
        if (!(ub[j] = lpi_arena_alloc(P->ar, (size_t)(cnt + 1) * sizeof **ub))) return lpi_nomem(P->ctx);
        ub[j][k++] = 0;
        if (c) {
            for (int64_t b = first ? first : c; b < n; b += c) ub[j][k++] = b;
            unit_bytes *= c;
        } else {
            unit_bytes *= n > 0 ? n : 1; /* read whole: one unit */
        }
        if (n > 0) ub[j][k++] = n;
        nu[j] = k - 1 > 0 ? k - 1 : 1;
        if (n == 0) { ub[j][1] = 0; nu[j] = 1; }
    }
    for (int a = 0; a < p->ndim; a++) pshape[a] = nu[order[a]];
    if ((st = lpi_grid_auto(P->ctx, P->ar, p->ndim, pshape, (size_t)unit_bytes, NULL, &g))) return st;
    for (int a = 0; a < p->ndim; a++) {
        int j = order[a];
        int64_t *b = lpi_arena_alloc(P->ar, (size_t)(g.nchunks[a] + 1) * sizeof *b);
        if (!b) return lpi_nomem(P->ctx);
        for (int64_t k = 0; k <= g.nchunks[a]; k++) b[k] = ub[j][g.bounds[a][k]];
        p->grid.bounds[j] = b;
        p->grid.nchunks[j] = g.nchunks[a];
    }
    return lpi_grid_from_bounds(P->ar, &p->grid);
}

lp_status lpi_plan_load(planner *P, int gid) {
    lp_array *e = P->g.node[gid];
    int root = P->g.vroot[gid];
    /* the chain, from the node down to the load */
    int chain[64], n = 0;
    for (int v = gid; v != root; v = P->g.in[v][0]) {
        if (n == 64) return lpi_error(P->ctx, LP_ERR_LIMIT, "more than 64 slices of one load in a row");
        chain[n++] = v;
    }
    int pi = lpi_new_pnode(P, LPI_K_LOAD, LPI_OP_LOAD, e, e->dtype, e->ndim, e->shape);
    if (pi < 0) return lpi_nomem(P->ctx);
    P->pnode_of[gid] = pi;
    lpi_pnode *p = &P->pn[pi];
    p->src = P->g.node[root];
    int lnd = p->src->ndim;
    lpi_axismap *view = NULL;
    for (int k = n - 1; k >= 0; k--) {
        const lp_array *c = P->g.node[chain[k]];
        if (c->op == LPI_OP_RESHAPE && !c->a.affine) { /* whole rows of a C-order file: the same bytes */
            p->lndim = lnd = c->ndim;
            memcpy(p->lshape, c->shape, sizeof p->lshape);
            continue;
        }
        const lp_array *in = P->g.node[P->g.in[chain[k]][0]];
        lpi_axismap *r = lpi_arena_alloc(P->ar, sizeof *r);
        if (!r) return lpi_nomem(P->ctx);
        if (view) {
            compose(view, lnd, &c->a.map, c->ndim, r);
        } else {
            lpi_axismap id;
            memset(&id, 0, sizeof id);
            for (int i = 0; i < in->ndim; i++) { id.src[i] = (int8_t)i; id.step[i] = 1; }
            compose(&id, lnd, &c->a.map, c->ndim, r);
        }
        view = r;
    }
    p->view = view;
    lp_status st = load_grid(P, p);
    if (st) return st;
    return lpi_plan_simple_tasks(P, pi);
}

lp_status lpi_load_view_check(lp_ctx *ctx, const char *where, const lpi_axismap *m, int out_nd,
                              const int64_t *out_shape, int lnd, const int64_t *lshape) {
    bool used[LP_MAX_NDIM] = {false};
    bool empty = false;
    for (int j = 0; j < out_nd; j++) empty |= out_shape[j] == 0;
    for (int j = 0; j < out_nd; j++) {
        int s = m->src[j];
        if (s < 0) {
            if (out_shape[j] != 1) return lpi_error(ctx, LP_ERR_VALUE, "%s: view axis %d is new but not of length 1", where, j);
            continue;
        }
        if (s >= lnd || used[s] || m->dropped[s])
            return lpi_error(ctx, LP_ERR_VALUE, "%s: view axis %d reads a stored axis twice or out of range", where, j);
        used[s] = true;
        if (empty) continue;
        int64_t a = m->off[j], b;
        if (__builtin_mul_overflow(m->step[j], out_shape[j] - 1, &b) || __builtin_add_overflow(a, b, &b) || a < 0 ||
            a >= lshape[s] || b < 0 || b >= lshape[s])
            return lpi_error(ctx, LP_ERR_VALUE, "%s: view axis %d reads outside stored axis %d", where, j, s);
    }
    for (int i = 0; i < lnd; i++) {
        if (m->dropped[i] && (m->fixed[i] < 0 || m->fixed[i] >= lshape[i]) && !empty)
            return lpi_error(ctx, LP_ERR_VALUE, "%s: fixed index of stored axis %d is out of range", where, i);
        if (!m->dropped[i] && !used[i] && lshape[i] != 1)
            return lpi_error(ctx, LP_ERR_VALUE, "%s: stored axis %d is neither read nor fixed", where, i);
    }
    return LP_OK;
}
