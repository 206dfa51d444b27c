/* The planner: graph -> pnodes (materialized arrays with chunk grids) -> tasks (one per output
 * chunk) with the pieces of producer chunks each task reads, dependencies and chunk reference
 * counts. Reductions become a partial level plus a fixed-shape combine tree. */
#include "plan/plan.h"
#include "plan/planner.h"
#include "plan/program.h"
#include "kernels/lda.h"

#include <string.h>

#define FANIN 8



int lpi_new_pnode(planner *P, lpi_kernel k, lpi_op op, lp_array *e, lp_dtype dt, int ndim, const int64_t *shape) {
    if (P->npn == P->cappn) {
        int c = P->cappn ? P->cappn * 2 : 32;
        lpi_pnode *n = lp_realloc(P->pn, (size_t)c * sizeof *n);
        if (!n) return -1;
        P->pn = n;
        P->cappn = c;
    }
    lpi_pnode *p = &P->pn[P->npn];
    memset(p, 0, sizeof *p);
    p->kernel = k;
    p->op = op;
    p->expr = e;
    p->dtype = dt;
    p->ndim = ndim;
    if (ndim) memcpy(p->shape, shape, (size_t)ndim * sizeof *shape);
    p->target = -1;
    p->lndim = -1;
    return P->npn++;
}

lpi_task *lpi_new_task(planner *P, int pnode, int64_t chunk) {
    if (P->ntasks == P->captasks) {
        int64_t c = P->captasks ? P->captasks * 2 : 256;
        lpi_task *n = lp_realloc(P->tasks, (size_t)c * sizeof *n);
        if (!n) return NULL;
        P->tasks = n;
        P->captasks = c;
    }
    lpi_task *t = &P->tasks[P->ntasks++];
    memset(t, 0, sizeof *t);
    t->pnode = pnode;
    t->chunk = chunk;
    return t;
}

/* ---- operands and pieces ---- */

int64_t lpi_find_chunk(const int64_t *b, int64_t n, int64_t x) {
    /* largest k < n with b[k] <= x */
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int64_t mid = (lo + hi + 1) / 2;
        if (b[mid] <= x) lo = mid; else hi = mid - 1;
    }
    return lo;
}

lp_status lpi_add_operand(planner *P, lpi_task *t, int k, int prod, const lpi_box *region, bool contig) {
    lpi_operand *op = &t->ops[k];
    const lpi_pnode *pp = &P->pn[prod];
    const lpi_grid *gr = &pp->grid;
    op->pnode = prod;
    op->box = *region;
    op->contig = contig;
    int64_t k0[LP_MAX_NDIM], k1[LP_MAX_NDIM], n = 1;
    for (int i = 0; i < gr->ndim; i++) {
        if (region->hi[i] <= region->lo[i]) { op->npieces = 0; return LP_OK; }
        k0[i] = lpi_find_chunk(gr->bounds[i], gr->nchunks[i], region->lo[i]);
        k1[i] = lpi_find_chunk(gr->bounds[i], gr->nchunks[i], region->hi[i] - 1) + 1;
        n *= k1[i] - k0[i];
    }
    op->pieces = lpi_arena_alloc(P->ar, (size_t)n * sizeof *op->pieces);
    if (!op->pieces) return lpi_nomem(P->ctx);
    op->npieces = (int)n;
    int64_t idx[LP_MAX_NDIM];
    for (int i = 0; i < gr->ndim; i++) idx[i] = k0[i];
    for (int64_t q = 0; q < n; q++) {
        lpi_piece *pc = &op->pieces[q];
        int64_t c = 0;
        pc->pnode = prod;
        pc->box.ndim = gr->ndim;
        for (int i = 0; i < gr->ndim; i++) {
            c = c * gr->nchunks[i] + idx[i];
            int64_t lo = gr->bounds[i][idx[i]], hi = gr->bounds[i][idx[i] + 1];
            pc->box.lo[i] = lo > region->lo[i] ? lo : region->lo[i];
            pc->box.hi[i] = hi < region->hi[i] ? hi : region->hi[i];
        }
        pc->chunk = c;
        for (int i = gr->ndim - 1; i >= 0; i--) {
            if (++idx[i] < k1[i]) break;
            idx[i] = k0[i];
        }
    }
    return LP_OK;
}

/* The region of producer `prod` (right-aligned, broadcasting) that a box of the consumer reads. */
void lpi_project(const lpi_pnode *pp, const lpi_box *box, lpi_box *r) {
    int off = box->ndim - pp->ndim;
    r->ndim = pp->ndim;
    for (int i = 0; i < pp->ndim; i++) {
        if (pp->shape[i] == 1 && box->hi[i + off] - box->lo[i + off] != 1) { r->lo[i] = 0; r->hi[i] = 1; }
        else if (pp->shape[i] == 1) { r->lo[i] = 0; r->hi[i] = 1; }
        else { r->lo[i] = box->lo[i + off]; r->hi[i] = box->hi[i + off]; }
    }
}

/* ---- grids ---- */

lp_status lpi_auto_grid(planner *P, lpi_pnode *p, int ndim, const int64_t *shape, lp_dtype dt) {
    const lp_array *e = p->expr;
    return lpi_grid_auto(P->ctx, P->ar, ndim, shape, lp_dtype_size(dt),
                         e && e->has_chunk_hint && e->ndim == ndim ? e->chunk_hint : NULL, &p->grid);
}

/* The grid of a program's full-shaped operand, so its chunks are read without reassembly. */
lp_status lpi_operand_grid(planner *P, lpi_pnode *p, int ndim, const int64_t *shape, lp_dtype dt,
                              const int *inputs, int nin, lpi_grid *out) {
    const lp_array *e = p->expr;
    if (!(e && e->has_chunk_hint)) {
        int best = -1;
        for (int k = 0; k < nin; k++) {
            const lpi_pnode *q = &P->pn[inputs[k]];
            if (q->ndim == ndim && !memcmp(q->shape, shape, (size_t)ndim * sizeof *shape) &&
                (best < 0 || q->grid.total > P->pn[best].grid.total))
                best = inputs[k];
        }
        if (best >= 0 && ndim > 0) { *out = P->pn[best].grid; return LP_OK; }
    }
    return lpi_grid_auto(P->ctx, P->ar, ndim, shape, lp_dtype_size(dt),
                         e && e->has_chunk_hint && e->ndim == ndim ? e->chunk_hint : NULL, out);
}

lp_status lpi_one_chunk_axis(planner *P, lpi_grid *g, int ax, int64_t n) {
    int64_t *b = lpi_arena_alloc(P->ar, 2 * sizeof *b);
    if (!b) return lpi_nomem(P->ctx);
    b[0] = 0;
    b[1] = n;
    g->bounds[ax] = b;
    g->nchunks[ax] = 1;
    return LP_OK;
}

/* ---- per-kind planning ---- */

lp_status lpi_plan_simple_tasks(planner *P, int pi) {
    lpi_pnode *p = &P->pn[pi];
    p->first_task = P->ntasks;
    p->ntasks = p->grid.total;
    for (int64_t c = 0; c < p->grid.total; c++) {
        lpi_task *t = lpi_new_task(P, pi, c);
        if (!t) return lpi_nomem(P->ctx);
        lpi_grid_chunk_box(&P->pn[pi].grid, c, &t->box);
    }
    return LP_OK;
}

static lp_status plan_map(planner *P, int gid) {
    lp_array *e = P->g.node[gid];
    int pi = lpi_new_pnode(P, LPI_K_MAP, e->op, e, e->dtype, e->ndim, e->shape);
    if (pi < 0) return lpi_nomem(P->ctx);
    P->pnode_of[gid] = pi;
    lpi_program *prog;
    int *inputs, nin;
    lp_status st = lpi_program_build(P->ctx, P->ar, &P->g, P->pnode_of, gid, gid, NULL, 0, &prog, &inputs, &nin);
    if (st) return st;
    lpi_pnode *p = &P->pn[pi];
    p->prog = prog;
    p->in = inputs;
    p->nin = nin;
    if ((st = lpi_operand_grid(P, p, e->ndim, e->shape, e->dtype, inputs, nin, &p->grid))) return st;
    p->first_task = P->ntasks;
    p->ntasks = p->grid.total;
    for (int64_t c = 0; c < P->pn[pi].grid.total && !st; c++) {
        lpi_task *t = lpi_new_task(P, pi, c);
        if (!t) return lpi_nomem(P->ctx);
        p = &P->pn[pi];
        lpi_grid_chunk_box(&p->grid, c, &t->box);
        t->nops = nin;
        if (nin && !(t->ops = lpi_arena_alloc(P->ar, (size_t)nin * sizeof *t->ops))) return lpi_nomem(P->ctx);
        for (int k = 0; k < nin && !st; k++) {
            lpi_box r;
            lpi_project(&P->pn[inputs[k]], &t->box, &r);
            st = lpi_add_operand(P, t, k, inputs[k], &r, false);
        }
    }
    return st;
}

static int reduce_nfields(lpi_op op) {
    switch (op) {
    case LPI_OP_ARGMIN: case LPI_OP_ARGMAX: return 2;
    case LPI_OP_VAR: case LPI_OP_STD: return 3;
    default: return 1;
    }
}

static lp_status plan_reduce(planner *P, int gid) {
    lp_array *e = P->g.node[gid];
    lp_array *x = e->in[0];
    int xg = P->g.in[gid][0];
    lpi_reduce *r = lpi_arena_alloc(P->ar, sizeof *r);
    if (!r) return lpi_nomem(P->ctx);
    r->op = e->op;
    r->axes = e->a.axes;
    r->in_ndim = x->ndim;
    memcpy(r->in_shape, x->shape, sizeof r->in_shape);
    r->ddof = e->a.ddof;
    r->acc_float = lpi_dtype_kind(x->dtype) == LPI_KIND_FLOAT || e->op == LPI_OP_MEAN || e->op == LPI_OP_VAR ||
                   e->op == LPI_OP_STD;
    if (e->op == LPI_OP_ANY || e->op == LPI_OP_ALL) r->acc_float = false;
    r->acc_unsigned = x->dtype == LP_UINT64 && (e->op == LPI_OP_MIN || e->op == LPI_OP_MAX ||
                                                 e->op == LPI_OP_ARGMIN || e->op == LPI_OP_ARGMAX);
    r->nfields = reduce_nfields(e->op);
    r->count = 1;
    for (int i = 0; i < x->ndim; i++)
        if (r->axes & (1u << i)) r->count *= x->shape[i];

    lp_dtype casts[2];
    int ncasts = 0;
    if (e->op == LPI_OP_ANY || e->op == LPI_OP_ALL) { casts[ncasts++] = LP_BOOL; casts[ncasts++] = LP_INT64; }
    else casts[ncasts++] = r->acc_float ? LP_FLOAT64 : LP_INT64;
    lpi_program *prog;
    int *inputs, nin;
    /* the reduce absorbs its input's region when the input was inlined into it */
    lp_status st = lpi_program_build(P->ctx, P->ar, &P->g, P->pnode_of, xg, gid, casts, ncasts, &prog, &inputs, &nin);
    if (st) return st;

    int fin = lpi_new_pnode(P, LPI_K_PARTIAL, e->op, e, e->dtype, e->ndim, e->shape);
    if (fin < 0) return lpi_nomem(P->ctx);
    P->pnode_of[gid] = fin;
    /* the input's chunking (of the reduce input's index space) */
    lpi_grid xgrid;
    if ((st = lpi_operand_grid(P, &P->pn[fin], x->ndim, x->shape, x->dtype, inputs, nin, &xgrid))) return st;
    /* output grid: kept axes as in the input; reduced axes one chunk (of size 1 with keepdims) */
    lpi_grid *og = &P->pn[fin].grid;
    memset(og, 0, sizeof *og);
    og->ndim = e->ndim;
    memcpy(og->shape, e->shape, sizeof og->shape);
    int64_t nred = 1;
    for (int i = 0, j = 0; i < x->ndim; i++) {
        if (r->axes & (1u << i)) {
            nred *= xgrid.nchunks[i];
            if (e->a.keepdims && (st = lpi_one_chunk_axis(P, og, j++, 1))) return st;
        } else {
            og->bounds[j] = xgrid.bounds[i];
            og->nchunks[j++] = xgrid.nchunks[i];
        }
    }
    lpi_grid_from_bounds(P->ar, og);
    const int64_t nout = og->total;
    /* level 0: one partial task per (output chunk, reduced chunk combination) */
    int level = fin;
    if (nred > 1) {
        int64_t one = nout * nred;
        level = lpi_new_pnode(P, LPI_K_PARTIAL, e->op, NULL, r->acc_float ? LP_FLOAT64 : LP_INT64, 1, &one);
        if (level < 0) return lpi_nomem(P->ctx);
        if ((st = lpi_grid_auto(P->ctx, P->ar, 1, &one, 1, &(int64_t){1}, &P->pn[level].grid))) return st;
        og = &P->pn[fin].grid; /* new_pnode may have moved the array */
    }
    lpi_pnode *lp0 = &P->pn[level];
    lp0->prog = prog;
    lp0->in = inputs;
    lp0->nin = nin;
    lp0->red = r;
    lp0->final = nred == 1;
    lp0->first_task = P->ntasks;
    lp0->ntasks = nout * nred;
    int redax[LP_MAX_NDIM], nra = 0, keptax[LP_MAX_NDIM], nka = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (r->axes & (1u << i)) redax[nra++] = i;
        else keptax[nka++] = i;
    }
    for (int64_t oc = 0; oc < nout; oc++) {
        /* kept-axis chunk indices of this output chunk */
        int64_t kidx[LP_MAX_NDIM], rem = oc;
        for (int j = e->ndim - 1; j >= 0; j--) { kidx[j] = rem % og->nchunks[j]; rem /= og->nchunks[j]; }
        for (int64_t rc = 0; rc < nred; rc++) {
            lpi_task *t = lpi_new_task(P, level, oc * nred + rc);
            if (!t) return lpi_nomem(P->ctx);
            lpi_box *b = &t->box;
            b->ndim = x->ndim;
            int64_t rr = rc;
            for (int q = nra - 1; q >= 0; q--) {
                int i = redax[q];
                int64_t c = rr % xgrid.nchunks[i];
                rr /= xgrid.nchunks[i];
                b->lo[i] = xgrid.bounds[i][c];
                b->hi[i] = xgrid.bounds[i][c + 1];
            }
            int64_t pel = 1;
            for (int q = 0; q < nka; q++) {
                int i = keptax[q];
                int j = e->a.keepdims ? i : q;
                int64_t c = kidx[j];
                b->lo[i] = xgrid.bounds[i][c];
                b->hi[i] = xgrid.bounds[i][c + 1];
                pel *= b->hi[i] - b->lo[i];
            }
            t->pelems = pel;
            t->nops = nin;
            if (nin && !(t->ops = lpi_arena_alloc(P->ar, (size_t)nin * sizeof *t->ops))) return lpi_nomem(P->ctx);
            for (int k = 0; k < nin && !st; k++) {
                lpi_box reg;
                lpi_project(&P->pn[inputs[k]], b, &reg);
                st = lpi_add_operand(P, t, k, inputs[k], &reg, false);
            }
            if (st) return st;
        }
    }
    return lpi_plan_combine(P, fin, level, r, nout, nred);
}

/* Combine tree: groups of FANIN consecutive states of the same output chunk, in a fixed order. */
lp_status lpi_plan_combine(planner *P, int fin, int prev, lpi_reduce *r, int64_t nout, int64_t per) {
    lp_status st;
    while (per > 1) {
        int64_t next = (per + FANIN - 1) / FANIN;
        int lv;
        if (next == 1) {
            lv = fin;
            P->pn[fin].kernel = LPI_K_COMBINE;
        } else {
            int64_t cnt = nout * next;
            lv = lpi_new_pnode(P, LPI_K_COMBINE, P->pn[fin].op, NULL, r->acc_float ? LP_FLOAT64 : LP_INT64, 1, &cnt);
            if (lv < 0) return lpi_nomem(P->ctx);
            if ((st = lpi_grid_auto(P->ctx, P->ar, 1, &cnt, 1, &(int64_t){1}, &P->pn[lv].grid))) return st;
        }
        lpi_pnode *pl = &P->pn[lv];
        pl->red = r;
        pl->final = next == 1;
        pl->first_task = P->ntasks;
        pl->ntasks = nout * next;
        for (int64_t oc = 0; oc < nout; oc++) {
            int64_t pel = P->tasks[P->pn[prev].first_task + oc * per].pelems;
            for (int64_t q = 0; q < next; q++) {
                lpi_task *t = lpi_new_task(P, lv, oc * next + q);
                if (!t) return lpi_nomem(P->ctx);
                int64_t a = q * FANIN, z = a + FANIN < per ? a + FANIN : per;
                t->pelems = pel;
                t->nops = (int)(z - a);
                t->box.ndim = 1;
                if (!(t->ops = lpi_arena_alloc(P->ar, (size_t)t->nops * sizeof *t->ops))) return lpi_nomem(P->ctx);
                for (int64_t s = a; s < z; s++) {
                    lpi_box pb = {1, {oc * per + s}, {oc * per + s + 1}};
                    if ((st = lpi_add_operand(P, t, (int)(s - a), prev, &pb, false))) return st;
                }
                if (pl->final) lpi_grid_chunk_box(&P->pn[fin].grid, oc, &t->box);
            }
        }
        prev = lv;
        per = next;
    }
    return LP_OK;
}

/* Output grid of an affine copy, derived from the input grid where the map keeps unit steps. */
static lp_status copy_grid(planner *P, int pi, const lpi_pnode *src, const lpi_axismap *m) {
    lpi_pnode *p = &P->pn[pi];
    if (p->expr && p->expr->has_chunk_hint) return lpi_auto_grid(P, p, p->ndim, p->shape, p->dtype);
    lpi_grid *g = &p->grid;
    memset(g, 0, sizeof *g);
    g->ndim = p->ndim;
    memcpy(g->shape, p->shape, sizeof g->shape);
    for (int j = 0; j < p->ndim; j++) {
        int s = m->src[j];
        int64_t len = p->shape[j];
        lp_status st;
        if (s < 0 || len <= 1) { if ((st = lpi_one_chunk_axis(P, g, j, len))) return st; continue; }
        const lpi_grid *ig = &src->grid;
        int64_t *b = lpi_arena_alloc(P->ar, (size_t)(ig->nchunks[s] + 2) * sizeof *b);
        if (!b) return lpi_nomem(P->ctx);
        int64_t k = 0;
        b[k++] = 0;
        if (m->step[j] == 0) {
            /* a broadcast axis: chunked like a fresh array of the output's shape */
            lpi_grid ag;
            lp_status st2 = lpi_grid_auto(P->ctx, P->ar, p->ndim, p->shape, lp_dtype_size(p->dtype), NULL, &ag);
            if (st2) return st2;
            g->bounds[j] = ag.bounds[j];
            g->nchunks[j] = ag.nchunks[j];
            continue;
        } else if (m->step[j] == 1) {
            for (int64_t c = 1; c < ig->nchunks[s]; c++) {
                int64_t o = ig->bounds[s][c] - m->off[j];
                if (o > b[k - 1] && o < len) b[k++] = o;
            }
        } else {
            int64_t avg = (ig->shape[s] + ig->nchunks[s] - 1) / (ig->nchunks[s] ? ig->nchunks[s] : 1);
            int64_t step = m->step[j] < 0 ? -m->step[j] : m->step[j];
            int64_t c = avg / step > 0 ? avg / step : 1;
            int64_t nk = (len + c - 1) / c;
            b = lpi_arena_alloc(P->ar, (size_t)(nk + 2) * sizeof *b);
            if (!b) return lpi_nomem(P->ctx);
            k = 0;
            b[k++] = 0;
            for (int64_t o = c; o < len; o += c) b[k++] = o;
        }
        b[k++] = len;
        g->bounds[j] = b;
        g->nchunks[j] = k - 1;
    }
    return lpi_grid_from_bounds(P->ar, g);
}

/* Region of the input an affine-copy task reads for an output box. */
static void map_region(const lpi_axismap *m, int in_ndim, const lpi_box *box, lpi_box *r) {
    r->ndim = in_ndim;
    for (int i = 0; i < in_ndim; i++)
        if (m->dropped[i]) { r->lo[i] = m->fixed[i]; r->hi[i] = m->fixed[i] + 1; }
    for (int j = 0; j < box->ndim; j++) {
        int s = m->src[j];
        if (s < 0) continue;
        int64_t a = m->off[j] + m->step[j] * box->lo[j];
        int64_t z = m->off[j] + m->step[j] * (box->hi[j] - 1);
        if (box->hi[j] <= box->lo[j]) { r->lo[s] = r->hi[s] = 0; continue; }
        r->lo[s] = a < z ? a : z;
        r->hi[s] = (a < z ? z : a) + 1;
    }
}

lp_status lpi_plan_copy_from(planner *P, int pi, int src, const lpi_axismap *m) {
    lp_status st = copy_grid(P, pi, &P->pn[src], m);
    if (st) return st;
    P->pn[pi].map = m;
    return lpi_plan_unary_tasks(P, pi, src, (lpi_read_rule){.kind = LPI_READ_MAP, .map = m});
}

/* The operand region of one task of lpi_plan_unary_tasks. */
static void read_region(const planner *P, int src, lpi_read_rule rule, const lpi_task *t, lpi_box *r) {
    switch (rule.kind) {
    case LPI_READ_CHUNK: lpi_grid_chunk_box(&P->pn[src].grid, t->chunk, r); return;
    case LPI_READ_BOX: *r = t->box; return;
    case LPI_READ_MAP: map_region(rule.map, P->pn[src].ndim, &t->box, r); return;
    case LPI_READ_LINES:
        *r = t->box;
        r->lo[rule.axis] = 0;
        r->hi[rule.axis] = P->pn[src].shape[rule.axis];
        return;
    }
}

lp_status lpi_plan_unary_tasks(planner *P, int pi, int src, lpi_read_rule rule) {
    lp_status st;
    lpi_pnode *p = &P->pn[pi];
    p->nin = 1;
    if (!(p->in = lpi_arena_alloc(P->ar, sizeof *p->in))) return lpi_nomem(P->ctx);
    p->in[0] = src;
    p->first_task = P->ntasks;
    p->ntasks = p->grid.total;
    for (int64_t c = 0; c < P->pn[pi].grid.total; c++) {
        lpi_task *t = lpi_new_task(P, pi, c);
        if (!t) return lpi_nomem(P->ctx);
        lpi_grid_chunk_box(&P->pn[pi].grid, c, &t->box);
        t->map = rule.kind == LPI_READ_MAP ? rule.map : NULL;
        t->nops = 1;
        if (!(t->ops = lpi_arena_alloc(P->ar, sizeof *t->ops))) return lpi_nomem(P->ctx);
        lpi_box r;
        read_region(P, src, rule, t, &r);
        if ((st = lpi_add_operand(P, t, 0, src, &r, false))) return st;
    }
    return LP_OK;
}

static lp_status plan_concat(planner *P, int gid) {
    lp_array *e = P->g.node[gid];
    int pi = lpi_new_pnode(P, LPI_K_COPY, e->op, e, e->dtype, e->ndim, e->shape);
    if (pi < 0) return lpi_nomem(P->ctx);
    P->pnode_of[gid] = pi;
    const int ax = e->a.axis, n = e->nin;
    const lpi_pnode *first = &P->pn[P->pnode_of[P->g.in[gid][0]]];
    lpi_grid *g = &P->pn[pi].grid;
    memset(g, 0, sizeof *g);
    g->ndim = e->ndim;
    memcpy(g->shape, e->shape, sizeof g->shape);
    for (int i = 0; i < e->ndim; i++) {
        if (i == ax) continue;
        g->bounds[i] = first->grid.bounds[i];
        g->nchunks[i] = first->grid.nchunks[i];
    }
    int64_t total = 0;
    for (int k = 0; k < n; k++) total += P->pn[P->pnode_of[P->g.in[gid][k]]].grid.nchunks[ax] + 1;
    int64_t *b = lpi_arena_alloc(P->ar, (size_t)(total + 1) * sizeof *b);
    int *owner = lpi_arena_alloc(P->ar, (size_t)(total + 1) * sizeof *owner);
    lpi_axismap *maps = lpi_arena_alloc(P->ar, (size_t)n * sizeof *maps);
    if (!b || !owner || !maps) return lpi_nomem(P->ctx);
    int64_t nb = 0, start = 0;
    b[nb] = 0;
    for (int k = 0; k < n; k++) {
        const lpi_pnode *q = &P->pn[P->pnode_of[P->g.in[gid][k]]];
        for (int i = 0; i < e->ndim; i++) { maps[k].src[i] = (int8_t)i; maps[k].step[i] = 1; }
        maps[k].off[ax] = -start;
        for (int64_t c = 0; c < q->grid.nchunks[ax]; c++) {
            int64_t hi = start + q->grid.bounds[ax][c + 1];
            if (hi > b[nb]) { owner[nb] = k; b[++nb] = hi; }
        }
        start += q->shape[ax];
    }
    if (nb == 0) { owner[0] = 0; b[++nb] = 0; }
    g->bounds[ax] = b;
    g->nchunks[ax] = nb;
    lpi_grid_from_bounds(P->ar, g);
    lpi_pnode *p = &P->pn[pi];
    p->nin = n;
    if (!(p->in = lpi_arena_alloc(P->ar, (size_t)n * sizeof *p->in))) return lpi_nomem(P->ctx);
    for (int k = 0; k < n; k++) p->in[k] = P->pnode_of[P->g.in[gid][k]];
    p->first_task = P->ntasks;
    p->ntasks = g->total;
    for (int64_t c = 0; c < P->pn[pi].grid.total; c++) {
        lpi_task *t = lpi_new_task(P, pi, c);
        if (!t) return lpi_nomem(P->ctx);
        p = &P->pn[pi];
        lpi_grid_chunk_box(&p->grid, c, &t->box);
        int64_t kc = lpi_find_chunk(p->grid.bounds[ax], p->grid.nchunks[ax], t->box.lo[ax]);
        int k = owner[kc];
        t->map = &maps[k];
        t->nops = 1;
        if (!(t->ops = lpi_arena_alloc(P->ar, sizeof *t->ops))) return lpi_nomem(P->ctx);
        lpi_box r;
        map_region(&maps[k], e->ndim, &t->box, &r);
        lp_status st = lpi_add_operand(P, t, 0, P->pnode_of[P->g.in[gid][k]], &r, false);
        if (st) return st;
    }
    return LP_OK;
}

static lp_status plan_reshape(planner *P, int gid) {
    lp_array *e = P->g.node[gid];
    int src = P->pnode_of[P->g.in[gid][0]];
    if (e->a.affine) {
        int pi = lpi_new_pnode(P, LPI_K_COPY, e->op, e, e->dtype, e->ndim, e->shape);
        if (pi < 0) return lpi_nomem(P->ctx);
        P->pnode_of[gid] = pi;
        return lpi_plan_copy_from(P, pi, src, &e->a.map);
    }
    int pi = lpi_new_pnode(P, LPI_K_RESHAPE, e->op, e, e->dtype, e->ndim, e->shape);
    if (pi < 0) return lpi_nomem(P->ctx);
    P->pnode_of[gid] = pi;
    lpi_pnode *p = &P->pn[pi];
    /* whole output rows per chunk, so every chunk is one contiguous run of the flat order */
    int64_t hint[LP_MAX_NDIM];
    int64_t rowb = (int64_t)lp_dtype_size(e->dtype);
    for (int i = 1; i < e->ndim; i++) { hint[i] = e->shape[i]; rowb *= e->shape[i]; }
    if (e->ndim) {
        int64_t rows = (int64_t)lpi_target_chunk_bytes(P->ctx, e->size * (int64_t)lp_dtype_size(e->dtype)) /
                       (rowb ? rowb : 1);
        hint[0] = e->has_chunk_hint && e->chunk_hint[0] > 0 ? e->chunk_hint[0] : (rows > 0 ? rows : 1);
    }
    lp_status st = lpi_grid_auto(P->ctx, P->ar, e->ndim, e->shape, lp_dtype_size(e->dtype), hint, &p->grid);
    if (st) return st;
    p->nin = 1;
    if (!(p->in = lpi_arena_alloc(P->ar, sizeof *p->in))) return lpi_nomem(P->ctx);
    p->in[0] = src;
    p->first_task = P->ntasks;
    p->ntasks = p->grid.total;
    const lpi_pnode *sp = &P->pn[src];
    int64_t orow = 1, irow = 1;
    for (int i = 1; i < e->ndim; i++) orow *= e->shape[i];
    for (int i = 1; i < sp->ndim; i++) irow *= sp->shape[i];
    for (int64_t c = 0; c < P->pn[pi].grid.total; c++) {
        lpi_task *t = lpi_new_task(P, pi, c);
        if (!t) return lpi_nomem(P->ctx);
        lpi_grid_chunk_box(&P->pn[pi].grid, c, &t->box);
        t->nops = 1;
        if (!(t->ops = lpi_arena_alloc(P->ar, sizeof *t->ops))) return lpi_nomem(P->ctx);
        lpi_box r = {P->pn[src].ndim, {0}, {0}};
        for (int i = 0; i < r.ndim; i++) r.hi[i] = P->pn[src].shape[i];
        if (e->ndim && r.ndim && irow) {
            int64_t f0 = t->box.lo[0] * orow, f1 = t->box.hi[0] * orow;
            r.lo[0] = f0 / irow;
            r.hi[0] = (f1 + irow - 1) / irow;
            if (f1 == f0) r.hi[0] = r.lo[0];
        }
        if ((st = lpi_add_operand(P, t, 0, src, &r, true))) return st;
    }
    return LP_OK;
}

static lp_status plan_leaf(planner *P, int gid) {
    lp_array *e = P->g.node[gid];
    int pi = lpi_new_pnode(P, LPI_K_NONE, e->op, e, e->dtype, e->ndim, e->shape);
    if (pi < 0) return lpi_nomem(P->ctx);
    P->pnode_of[gid] = pi;
    lpi_pnode *p = &P->pn[pi];
    lp_buffer *res = lp_array_result(e);
    if (P->g.bound[gid] >= 0) {
        /* a loop parameter: C-contiguous data set by the loop driver before each run */
        int64_t s = (int64_t)lp_dtype_size(e->dtype);
        for (int i = e->ndim - 1; i >= 0; i--) { p->pre_strides[i] = s; s *= e->shape[i]; }
    } else if (res) {
        p->prefilled = res;
        int64_t s = (int64_t)lp_dtype_size(e->dtype);
        for (int i = e->ndim - 1; i >= 0; i--) { p->pre_strides[i] = s; s *= e->shape[i]; }
    } else {
        p->prefilled = e->a.buf;
        p->pre_offset = e->a.offset;
        memcpy(p->pre_strides, e->a.strides, sizeof p->pre_strides);
    }
    p->ntasks = 0;
    p->first_task = -1;
    return lpi_auto_grid(P, p, e->ndim, e->shape, e->dtype);
}

static lp_status plan_node(planner *P, int gid) {
    lp_array *e = P->g.node[gid];
    if (P->g.leaf[gid]) return plan_leaf(P, gid);
    if (P->g.vroot[gid] >= 0) return lpi_plan_load(P, gid);
    switch (lpi_ops[e->op].kind) {
    case LP_OPK_SOURCE: {
        int pi = lpi_new_pnode(P, LPI_K_GEN, e->op, e, e->dtype, e->ndim, e->shape); /* loads: plan_load.c */
        if (pi < 0) return lpi_nomem(P->ctx);
        P->pnode_of[gid] = pi;
        lp_status st = lpi_auto_grid(P, &P->pn[pi], e->ndim, e->shape, e->dtype);
        return st ? st : lpi_plan_simple_tasks(P, pi);
    }
    case LP_OPK_ELEMWISE: return plan_map(P, gid);
    case LP_OPK_REDUCE: return plan_reduce(P, gid);
    case LP_OPK_MOVE:
        if (e->op == LPI_OP_CONCATENATE) return plan_concat(P, gid);
        if (e->op == LPI_OP_RESHAPE) return plan_reshape(P, gid);
        {
            int pi = lpi_new_pnode(P, LPI_K_COPY, e->op, e, e->dtype, e->ndim, e->shape);
            if (pi < 0) return lpi_nomem(P->ctx);
            P->pnode_of[gid] = pi;
            return lpi_plan_copy_from(P, pi, P->pnode_of[P->g.in[gid][0]], &e->a.map);
        }
    case LP_OPK_SCAN: case LP_OPK_SORT: case LP_OPK_FFT: return lpi_plan_axis(P, gid); /* plan_axis.c */
    case LP_OPK_INDEX: return lpi_plan_index(P, gid);                 /* plan_index.c */
    case LP_OPK_LINALG:
        if (lpi_is_lda_op(e->op)) return lpi_plan_lda(P, gid);
        return lpi_plan_linalg(P, gid); /* plan_linalg.c */
    case LP_OPK_LOOP: {
        /* loops run before the plans that read their outputs (exec/loop.c), which bind them */
        char b[96];
        if (e->op == LPI_OP_PLACEHOLDER)
            return lpi_error(P->ctx, LP_ERR_VALUE, "a placeholder (%s %s) has no value outside its loop: placeholders stand "
                             "for a loop's carried values and index inside its body and cond", lp_dtype_name(e->dtype),
                             lpi_shape_str(b, sizeof b, e->ndim, e->shape));
        if (P->g.target[gid])
            return lpi_error(P->ctx, LP_ERR_VALUE, "a %s node has no value of its own (its loop_output nodes have)",
                             lpi_ops[e->op].name);
        return lpi_error(P->ctx, LP_ERR_VALUE, "%s: loops are planned one iteration at a time when they run; plans and "
                         "estimates of a graph with loops are made once its loops have run (lp_run)", lpi_ops[e->op].name);
    }
    default: return lpi_error(P->ctx, LP_ERR_INTERNAL, "op %s cannot be planned", lpi_ops[e->op].name);
    }
}

/* ---- dependencies ---- */

static lp_status link_tasks(planner *P, lpi_plan *plan) {
    lp_ctx *ctx = P->ctx;
    plan->chunk_base = lpi_arena_alloc(P->ar, (size_t)(P->npn + 1) * sizeof(int64_t));
    if (!plan->chunk_base) return lpi_nomem(ctx);
    int64_t nch = 0;
    for (int p = 0; p < P->npn; p++) { plan->chunk_base[p] = nch; nch += P->pn[p].grid.total; }
    plan->chunk_base[P->npn] = nch;
    plan->nchunks = nch;
    plan->chunk_refs = lpi_arena_alloc(P->ar, (size_t)(nch ? nch : 1) * sizeof(int64_t));
    int64_t *ncons = lp_calloc((size_t)(P->ntasks ? P->ntasks : 1), sizeof *ncons);
    int64_t *seen = lp_malloc((size_t)(P->ntasks ? P->ntasks : 1) * sizeof *seen);   /* producer -> last consumer */
    int64_t *cseen = lp_malloc((size_t)(nch ? nch : 1) * sizeof *cseen);
    lp_status st = LP_OK;
    if (!plan->chunk_refs || !ncons || !seen || !cseen) { st = lpi_nomem(ctx); goto done; }
    for (int64_t i = 0; i < P->ntasks; i++) seen[i] = -1;
    for (int64_t i = 0; i < nch; i++) cseen[i] = -1;
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t ti = 0; ti < P->ntasks; ti++) {
            lpi_task *t = &P->tasks[ti];
            if (pass == 0) t->ndeps = 0;
            for (int k = 0; k < t->nops; k++)
                for (int q = 0; q < t->ops[k].npieces; q++) {
                    const lpi_piece *pc = &t->ops[k].pieces[q];
                    int64_t chunk = plan->chunk_base[pc->pnode] + pc->chunk;
                    if (pass == 0 && cseen[chunk] != ti) { cseen[chunk] = ti; plan->chunk_refs[chunk]++; }
                    const lpi_pnode *pp = &P->pn[pc->pnode];
                    if (pp->kernel == LPI_K_NONE) continue;
                    int64_t prod = pp->first_task + pc->chunk;
                    if (seen[prod] == ti) continue;
                    seen[prod] = ti;
                    if (pass == 0) { t->ndeps++; ncons[prod]++; }
                    else P->tasks[prod].consumers[P->tasks[prod].nconsumers++] = ti;
                }
        }
        if (pass == 0) {
            for (int64_t i = 0; i < P->ntasks; i++) {
                seen[i] = -1;
                if (ncons[i] && !(P->tasks[i].consumers = lpi_arena_alloc(P->ar, (size_t)ncons[i] * sizeof(int64_t)))) {
                    st = lpi_nomem(ctx);
                    goto done;
                }
                P->tasks[i].nconsumers = 0;
            }
        }
    }
done:
    lp_free(ncons);
    lp_free(seen);
    lp_free(cseen);
    return st;
}

/* Priorities: a depth-first post-order from the sinks, visiting producers in operand order.
 * Running ready tasks in this order makes a consumer's inputs arrive together (a_0, b_0, then
 * a_0 + b_0, then a_1 ...) instead of loading every chunk of a before the first of b, so memory
 * stays near (workers x chunk) instead of growing with the array (Dask's `order` does the same). */
static lp_status prioritize(planner *P, const lpi_plan *plan) {
    int64_t nt = P->ntasks, next = 0;
    int64_t *stack = lp_malloc((size_t)(nt ? nt : 1) * 2 * sizeof *stack);
    uint8_t *state = lp_calloc((size_t)(nt ? nt : 1), 1);
    if (!stack || !state) { lp_free(stack); lp_free(state); return lpi_nomem(P->ctx); }
    for (int64_t s = 0; s < nt; s++) {
        if (P->tasks[s].nconsumers || state[s]) continue;
        int64_t sp = 0;
        stack[sp++] = s;
        while (sp) {
            int64_t t = stack[sp - 1];
            if (state[t] == 2) { sp--; continue; }
            if (state[t] == 1) { state[t] = 2; P->tasks[t].prio = next++; sp--; continue; }
            state[t] = 1;
            const lpi_task *tk = &P->tasks[t];
            /* push producers in reverse so the first operand is visited first */
            for (int k = tk->nops - 1; k >= 0; k--)
                for (int q = tk->ops[k].npieces - 1; q >= 0; q--) {
                    const lpi_piece *pc = &tk->ops[k].pieces[q];
                    const lpi_pnode *pp = &P->pn[pc->pnode];
                    if (pp->kernel == LPI_K_NONE) continue;
                    int64_t prod = pp->first_task + pc->chunk;
                    if (!state[prod] && sp < 2 * nt) stack[sp++] = prod;
                }
        }
    }
    (void)plan;
    lp_free(stack);
    lp_free(state);
    return LP_OK;
}

lp_status lpi_plan_build(lp_ctx *ctx, lp_array *const *targets, int n, lpi_plan **out) {
    return lpi_plan_build_bound(ctx, targets, n, 0, NULL, out);
}

lp_status lpi_plan_build_bound(lp_ctx *ctx, lp_array *const *targets, int n, int nbind, lp_array *const *bind,
                               lpi_plan **out) {
    *out = NULL;
    lpi_plan *plan = lp_calloc(1, sizeof *plan);
    planner P = {.ctx = ctx};
    lp_status st = LP_OK;
    if (!plan || !(plan->arena = lpi_arena_create())) { lp_free(plan); return lpi_nomem(ctx); }
    P.ar = plan->arena;
    if ((st = lpi_graph_build_bound(ctx, P.ar, targets, n, ctx->fusion, nbind, bind, &P.g))) goto fail;
    if (!(P.pnode_of = lpi_arena_alloc(P.ar, (size_t)(P.g.n ? P.g.n : 1) * sizeof(int)))) { st = lpi_nomem(ctx); goto fail; }
    for (int v = 0; v < P.g.n; v++) P.pnode_of[v] = -1;
    for (int v = 0; v < P.g.n && !st; v++)
        if (P.g.role[v] == LPI_ROLE_MAT) st = plan_node(&P, v);
    if (st) goto fail;
    plan->ntargets = n;
    plan->target_pnode = lpi_arena_alloc(P.ar, (size_t)(n ? n : 1) * sizeof(int));
    plan->target_buf = lpi_arena_alloc(P.ar, (size_t)(n ? n : 1) * sizeof(lp_buffer *));
    if (!plan->target_pnode || !plan->target_buf) { st = lpi_nomem(ctx); goto fail; }
    for (int t = 0; t < n && !st; t++) {
        int gid = P.g.target_of[t];
        int p = P.pnode_of[gid];
        if (P.pn[p].kernel == LPI_K_NONE) {
            /* a target that is data already: copy it into the result (identity map) */
            for (int u = 0; u < t; u++)
                if (P.g.target_of[u] == gid) { p = plan->target_pnode[u]; break; }
            if (P.pn[p].kernel == LPI_K_NONE) {
                lp_array *e = P.g.node[gid];
                int c = lpi_new_pnode(&P, LPI_K_COPY, LPI_OP_TRANSPOSE, NULL, e->dtype, e->ndim, e->shape);
                lpi_axismap *m = lpi_arena_alloc(P.ar, sizeof *m);
                if (c < 0 || !m) { st = lpi_nomem(ctx); break; }
                for (int i = 0; i < e->ndim; i++) { m->src[i] = (int8_t)i; m->step[i] = 1; }
                if ((st = lpi_plan_copy_from(&P, c, p, m))) break;
                p = c;
            }
        }
        plan->target_pnode[t] = p;
        if (P.pn[p].target < 0) P.pn[p].target = t;
    }
    if (st) goto fail;
    if ((st = link_tasks(&P, plan)) || (st = prioritize(&P, plan))) goto fail;
    for (int t = 0; t < n; t++) {
        int p = plan->target_pnode[t];
        for (int64_t c = 0; c < P.pn[p].grid.total; c++) plan->chunk_refs[plan->chunk_base[p] + c]++;
    }
    plan->nbind = nbind;
    if (!(plan->bind_pnode = lpi_arena_alloc(P.ar, (size_t)(nbind ? nbind : 1) * sizeof(int)))) { st = lpi_nomem(ctx); goto fail; }
    for (int i = 0; i < nbind; i++) plan->bind_pnode[i] = -1;
    for (int v = 0; v < P.g.n; v++)
        if (P.g.bound[v] >= 0) plan->bind_pnode[P.g.bound[v]] = P.pnode_of[v];
    plan->npnodes = P.npn;
    plan->pnodes = P.pn;
    plan->ntasks = P.ntasks;
    plan->tasks = P.tasks;
    *out = plan;
    return LP_OK;
fail:
    lp_free(P.pn);
    lp_free(P.tasks);
    lpi_arena_destroy(plan->arena);
    lp_free(plan);
    return st;
}

void lpi_plan_destroy(lpi_plan *p) {
    if (!p) return;
    lp_free(p->pnodes);
    lp_free(p->tasks);
    lpi_arena_destroy(p->arena);
    lp_free(p);
}
