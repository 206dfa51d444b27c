/* Planning of matrix products and small dense linear algebra.
 *
 * matmul. The product (..., M, N) is cut into output blocks; one task per block (and k-group).
 *  - Streaming products (M or N below MM_WIDE: X.T @ X, X @ W, matrix-vector): blocks follow the
 *    operands' chunks (batch axes, A's chunks along its row axis, B's along its column axis) and
 *    the contraction axis K is cut at the union of A's and B's chunk boundaries into k-pieces; a
 *    task gets one operand per k-piece and side (A_s, B_s), each inside one producer chunk, so
 *    nothing is copied, and the kernel accumulates C += A_s B_s (adjacent pieces of one buffer
 *    merge into one BLAS call).
 *  - Compute-bound products (M and N ≥ MM_WIDE, ≥ MM_SPLIT_FLOPS): near-square blocks, the
 *    largest that give MM_MIN_TASKS, each one BLAS call over the whole of K on its A row panel
 *    and B column panel (assembled when they span chunks; see the comment at the grid).
 *
 * When the output has few blocks (fewer than MM_MIN_TASKS) and they are small (≤ MM_MAX_PARTIAL
 * bytes as doubles), K is also split across tasks: k-pieces are grouped (each group ≥ MM_MIN_K
 * deep), each task multiplies one group into a partial state, and the partials are summed by the
 * reduction machinery: a partial state of op SUM with nfields 1 is exactly a block of doubles (or
 * int64), and lpi_plan_combine builds the same fixed-order fan-in-8 tree as for sum(). So
 * X.T @ X over a tall X is one task per row chunk plus a tiny tree, and results do not depend on
 * the thread count. Big blocks are not split (a partial per k-group would multiply memory traffic).
 *
 * syrk. After CSE, a node whose two inputs are the same array with exactly one side transposed
 * (X.T @ X, X @ X.T) has the same boundaries on M and N, so its diagonal blocks are symmetric:
 * those tasks get one operand per k-piece and run ?syrk (half the flops), the kernel mirrors the
 * upper triangle into the lower one. Off-diagonal blocks run gemm.
 *
 * Block size and BLAS threads. OpenBLAS's multithreaded gemm does not give the same bits as its
 * single-threaded one (syrk does), while Lampy promises the same bits for any pool size. So a big
 * product (≥ MM_SPLIT_FLOPS) is cut by the planner, with shape-only rules, into at least
 * MM_MIN_TASKS blocks (near-square ones for compute-bound products, else halving the longest
 * block side within operand chunks), and each task calls single-threaded BLAS; the pool fills
 * the cores. Measured here for 4096² float64 on 2 workers, 16 blocks ran as fast as one 2-thread
 * dgemm of the same OpenBLAS (bench/bench_matmul.py).
 * Only when a pnode still has fewer tasks than pool threads and each holds a big product
 * (the user hinted the product into one chunk) do its gemm/syrk calls get pool / tasks threads,
 * in an exclusive section (kernels/linalg.c); bits may then differ with the pool size. dot,
 * gemv and LAPACK always run single-threaded.
 *
 * Small dense linalg (solve, inv, ...): one task over whole operands.
 *
 * QR of a tall matrix (qr_r, qr_q; svd builds on them) is TSQR: A's row chunks, merged into
 * blocks of at least N rows (and few enough that the stacked R factors stay under
 * TSQR_MAX_STACK elements), are factored one task each (A_i = Q_i R_i; level "stack", shape
 * (blocks * N, N)); one task factors the stacked R's (= Q_s R): its R is A's R; for Q, a second
 * task over the stack writes Q_s, and one task per block writes Q_i times its N rows of Q_s
 * (Householder reflectors applied with ?ormqr, A_i's QR recomputed rather than stored). All
 * these tasks run the same deterministic LAPACK calls on the same data, so R and Q, even when
 * planned separately, come from one factorization and Q @ R == A; the stack level is planned
 * once per A (found again by its op and input). The combine is one task, not a tree: its input
 * is blocks * N * N elements, small next to A. A wide matrix, or one that is a single block, is
 * one LAPACK task. */
#include "plan/plan.h"
#include "plan/planner.h"

#include <string.h>

#define MM_MIN_TASKS 16                     /* blocks wanted for a big product */
#define MM_MIN_K 256                        /* depth of a k-group of a split contraction */
#define MM_MIN_DIM 64                       /* block rows/columns not cut below this */
#define MM_MAX_PARTIAL ((int64_t)16 << 20)  /* bytes of a block that may be a partial state */
#define MM_SPLIT_FLOPS ((double)(1 << 27))  /* a product this big is worth cutting (~4 ms) */
#define MM_WIDE 512                         /* M and N this big: compute-bound, near-square blocks */

static int pool_threads(const planner *P) {
    int n = lpi_ctx_workers(P->ctx);
    return n > 0 ? n : 1;
}

/* BLAS threads per call: 1 when the tasks already fill the pool (the normal case: big products
 * are cut into >= MM_MIN_TASKS blocks) or when a task's product is too small to gain from
 * threads; otherwise the pool's threads shared among the tasks. */
static int blas_threads_for(const planner *P, int64_t ntasks, double task_flops) {
    int n = pool_threads(P);
    if (ntasks >= n || ntasks <= 0 || task_flops < MM_SPLIT_FLOPS) return 1;
    return (int)(n / ntasks);
}

static int64_t max_chunk(const lpi_grid *g, int ax) {
    int64_t m = 0;
    for (int64_t c = 0; c < g->nchunks[ax]; c++)
        if (g->bounds[ax][c + 1] - g->bounds[ax][c] > m) m = g->bounds[ax][c + 1] - g->bounds[ax][c];
    return m;
}

/* Cut every chunk of axis ax longer than half the longest into near-equal parts: sub-boxes of
 * the operands' chunks, so the blocks still reach the kernel without copies. */
/* Axis ax in nb near-equal parts. */
static lp_status even_axis(planner *P, lpi_grid *g, int ax, int64_t nb) {
    const int64_t n = g->shape[ax];
    if (nb < 1) nb = 1;
    int64_t *b = lpi_arena_alloc(P->ar, (size_t)(nb + 1) * sizeof *b);
    if (!b) return lpi_nomem(P->ctx);
    for (int64_t i = 0; i <= nb; i++) b[i] = n * i / nb;
    g->bounds[ax] = b;
    g->nchunks[ax] = nb;
    return lpi_grid_from_bounds(P->ar, g);
}

static lp_status halve_axis(planner *P, lpi_grid *g, int ax) {
    const int64_t cap = (max_chunk(g, ax) + 1) / 2;
    int64_t n = 0;
    for (int64_t c = 0; c < g->nchunks[ax]; c++) n += (g->bounds[ax][c + 1] - g->bounds[ax][c] + cap - 1) / cap;
    int64_t *b = lpi_arena_alloc(P->ar, (size_t)(n + 1) * sizeof *b);
    if (!b) return lpi_nomem(P->ctx);
    int64_t k = 0;
    for (int64_t c = 0; c < g->nchunks[ax]; c++) {
        int64_t lo = g->bounds[ax][c], len = g->bounds[ax][c + 1] - lo, q = (len + cap - 1) / cap;
        for (int64_t i = 0; i < q; i++) b[k++] = lo + len * i / q;
    }
    b[k] = g->bounds[ax][g->nchunks[ax]];
    g->bounds[ax] = b;
    g->nchunks[ax] = n;
    return lpi_grid_from_bounds(P->ar, g);
}

/* Sorted union of two boundary lists over [0, n]. */
static int64_t merge_bounds(planner *P, const int64_t *x, int64_t nx, const int64_t *y, int64_t ny, int64_t **out) {
    int64_t *b = lpi_arena_alloc(P->ar, (size_t)(nx + ny + 2) * sizeof *b);
    if (!b) return -1;
    int64_t i = 0, j = 0, k = 0;
    while (i <= nx || j <= ny) {
        int64_t v;
        if (j > ny || (i <= nx && x[i] <= y[j])) v = x[i++];
        else v = y[j++];
        if (k == 0 || v > b[k - 1]) b[k++] = v;
    }
    *out = b;
    return k - 1; /* pieces */
}

static void set_axis(lpi_grid *g, int ax, const lpi_grid *src, int sax) {
    g->bounds[ax] = src->bounds[sax];
    g->nchunks[ax] = src->nchunks[sax];
}

static lp_status plan_matmul(planner *P, int gid) {
    lp_array *e = P->g.node[gid];
    const lp_array *A = e->in[0], *B = e->in[1];
    const int pa = P->pnode_of[P->g.in[gid][0]], pb = P->pnode_of[P->g.in[gid][1]];
    const bool ta = e->a.flags & LPI_MM_TA, tb = e->a.flags & LPI_MM_TB;
    const int na = A->ndim, nb = B->ndim;
    /* operand axes: rows / contraction / columns (-1: a vector has none) */
    const int a_row = na == 1 ? -1 : (ta ? na - 1 : na - 2), a_k = na == 1 ? 0 : (ta ? na - 2 : na - 1);
    const int b_k = nb == 1 ? 0 : (tb ? nb - 1 : nb - 2), b_col = nb == 1 ? -1 : (tb ? nb - 2 : nb - 1);
    const int anb = na > 2 ? na - 2 : 0, bnb = nb > 2 ? nb - 2 : 0;
    const int nbo = e->ndim - (na > 1) - (nb > 1);
    const int o_row = na > 1 ? nbo : -1, o_col = nb > 1 ? nbo + (na > 1) : -1;
    const int64_t K = A->shape[a_k];
    lp_status st;

    lpi_linalg_params *la = lpi_arena_alloc(P->ar, sizeof *la);
    if (!la) return lpi_nomem(P->ctx);
    la->flags = e->a.flags;
    la->a_ndim = na;
    la->b_ndim = nb;
    la->out_ndim = e->ndim;
    la->loop_dt = lpi_dtype_kind(e->dtype) == LPI_KIND_FLOAT ? e->dtype : LP_INT64;
    la->syrk = P->g.in[gid][0] == P->g.in[gid][1] && ta != tb && la->loop_dt != LP_INT64;

    /* output grid */
    lpi_grid og;
    bool wide = false; /* compute-bound: whole-K panels per block (see below) */
    memset(&og, 0, sizeof og);
    og.ndim = e->ndim;
    memcpy(og.shape, e->shape, sizeof og.shape);
    if (e->has_chunk_hint) {
        if ((st = lpi_grid_auto(P->ctx, P->ar, e->ndim, e->shape, lp_dtype_size(e->dtype), e->chunk_hint, &og)))
            return st;
    } else {
        const lpi_grid *ga = &P->pn[pa].grid, *gb = &P->pn[pb].grid;
        for (int i = 0; i < nbo; i++) {
            int ia = i - (nbo - anb), ib = i - (nbo - bnb);
            if (ia >= 0 && A->shape[ia] == e->shape[i] && e->shape[i] > 1) set_axis(&og, i, ga, ia);
            else if (ib >= 0 && B->shape[ib] == e->shape[i] && e->shape[i] > 1) set_axis(&og, i, gb, ib);
            else if ((st = lpi_one_chunk_axis(P, &og, i, e->shape[i]))) return st;
        }
        if (o_row >= 0) set_axis(&og, o_row, ga, a_row);
        if (o_col >= 0) set_axis(&og, o_col, gb, b_col);
        lpi_grid_from_bounds(P->ar, &og);
        /* a big product gets at least MM_MIN_TASKS blocks (shape-only rule: the plan, and so the
         * bits, do not depend on the pool size): halve the longest block side (rows or columns
         * down to MM_MIN_DIM, else batch) until there are enough */
        const double flops = 2.0 * (double)e->size * (double)K;
        if (flops >= MM_SPLIT_FLOPS && o_row >= 0 && o_col >= 0 && e->shape[o_row] >= MM_WIDE &&
            e->shape[o_col] >= MM_WIDE) {
            /* compute-bound: every block's BLAS call repacks its panels of A (bm x K) and B
             * (K x bn), costing ~1/bm + 1/bn of its flops: near-square blocks, the largest giving
             * MM_MIN_TASKS, each ONE call over the whole contraction (thin k-pieces would make
             * BLAS re-read C per piece). Panels spanning several chunks are assembled: 4 (1/bm +
             * 1/bn) bytes copied per flop, ~1% for 1024 x 1024 blocks. */
            const int64_t M = e->shape[o_row], N = e->shape[o_col];
            wide = true;
            int64_t nbat = og.total / (og.nchunks[o_row] * og.nchunks[o_col]), bm = M, bn = N;
            for (;;) {
                int64_t nb = nbat * ((M + bm - 1) / bm) * ((N + bn - 1) / bn);
                if (nb >= MM_MIN_TASKS) break;
                if (bm >= bn && bm >= 2 * MM_MIN_DIM) bm = (bm + 1) / 2;
                else if (bn >= 2 * MM_MIN_DIM) bn = (bn + 1) / 2;
                else if (bm >= 2 * MM_MIN_DIM) bm = (bm + 1) / 2;
                else break;
            }
            if ((st = even_axis(P, &og, o_row, (M + bm - 1) / bm)) || (st = even_axis(P, &og, o_col, (N + bn - 1) / bn)))
                return st;
        }
        while (flops >= MM_SPLIT_FLOPS && og.total < MM_MIN_TASKS) {
            int ax = -1;
            int64_t best = 0;
            for (int i = 0; i < og.ndim; i++) /* matrix sides first */
                if ((i == o_row || i == o_col) && max_chunk(&og, i) >= 2 * MM_MIN_DIM && max_chunk(&og, i) > best)
                    best = max_chunk(&og, ax = i);
            for (int i = 0; i < nbo && ax < 0; i++)
                if (max_chunk(&og, i) >= 2 && max_chunk(&og, i) > best) best = max_chunk(&og, ax = i);
            if (ax < 0) break;
            if ((st = halve_axis(P, &og, ax))) return st;
        }
    }
    const int64_t nout = og.total;

    /* k-pieces and their grouping into tasks */
    int64_t *kb;
    const lpi_grid *ga = &P->pn[pa].grid, *gb = &P->pn[pb].grid;
    int64_t nk = merge_bounds(P, ga->bounds[a_k], ga->nchunks[a_k], gb->bounds[b_k], gb->nchunks[b_k], &kb);
    if (nk < 0) return lpi_nomem(P->ctx);
    if (wide) { kb[0] = 0; kb[1] = K; nk = 1; }
    if (K == 0) nk = 0;
    int64_t max_block = 1;
    for (int i = 0; i < og.ndim; i++) {
        int64_t m = 0;
        for (int64_t c = 0; c < og.nchunks[i]; c++)
            if (og.bounds[i][c + 1] - og.bounds[i][c] > m) m = og.bounds[i][c + 1] - og.bounds[i][c];
        max_block *= m;
    }
    /* group g covers pieces [gstart[g], gstart[g+1]) */
    int64_t *gstart = lpi_arena_alloc(P->ar, (size_t)(nk + 2) * sizeof *gstart);
    if (!gstart) return lpi_nomem(P->ctx);
    int64_t G = 0;
    gstart[0] = 0;
    if (nout < MM_MIN_TASKS && max_block > 0 && max_block * 8 <= MM_MAX_PARTIAL && nk > 1) {
        int64_t depth = 0;
        for (int64_t s = 0; s < nk; s++) {
            depth += kb[s + 1] - kb[s];
            if (depth >= MM_MIN_K || s == nk - 1) { gstart[++G] = s + 1; depth = 0; }
        }
        /* a shallow last group joins the previous one */
        if (G > 1 && kb[gstart[G]] - kb[gstart[G - 1]] < MM_MIN_K) { gstart[G - 1] = gstart[G]; G--; }
    } else {
        G = 1;
        gstart[1] = nk;
    }
    la->blas_threads = blas_threads_for(P, nout * G, 2.0 * (double)e->size * (double)K / (double)(nout * G));

    lpi_reduce *r = NULL;
    int fin = lpi_new_pnode(P, G > 1 ? LPI_K_COMBINE : LPI_K_MATMUL, LPI_OP_MATMUL, e, e->dtype, e->ndim, e->shape);
    if (fin < 0) return lpi_nomem(P->ctx);
    P->pnode_of[gid] = fin;
    P->pn[fin].grid = og;
    int *in = lpi_arena_alloc(P->ar, 2 * sizeof *in);
    if (!in) return lpi_nomem(P->ctx);
    in[0] = pa;
    in[1] = pb;
    int level = fin;
    if (G > 1) {
        if (!(r = lpi_arena_alloc(P->ar, sizeof *r))) return lpi_nomem(P->ctx);
        r->op = LPI_OP_SUM;
        r->in_ndim = e->ndim;
        memcpy(r->in_shape, e->shape, sizeof r->in_shape);
        r->acc_float = la->loop_dt != LP_INT64;
        r->nfields = 1;
        r->count = 1; /* no axis of in_shape is reduced: k-groups of whole blocks are summed */
        int64_t cnt = nout * G;
        level = lpi_new_pnode(P, LPI_K_MATMUL, LPI_OP_MATMUL, NULL, r->acc_float ? LP_FLOAT64 : LP_INT64, 1, &cnt);
        if (level < 0) return lpi_nomem(P->ctx);
        if ((st = lpi_grid_auto(P->ctx, P->ar, 1, &cnt, 1, &(int64_t){1}, &P->pn[level].grid))) return st;
        P->pn[level].red = r;
    }
    lpi_pnode *lp = &P->pn[level];
    lp->la = la;
    lp->in = in;
    lp->nin = 2;
    lp->final = G == 1;
    lp->first_task = P->ntasks;
    lp->ntasks = nout * G;

    for (int64_t oc = 0; oc < nout; oc++) {
        lpi_box ob;
        lpi_grid_chunk_box(&og, oc, &ob);
        const bool diag = la->syrk && ob.lo[o_row] == ob.lo[o_col] && ob.hi[o_row] == ob.hi[o_col];
        for (int64_t g = 0; g < G; g++) {
            lpi_task *t = lpi_new_task(P, level, G > 1 ? oc * G + g : oc);
            if (!t) return lpi_nomem(P->ctx);
            t->box = ob;
            t->pelems = lpi_box_size(&ob);
            const int64_t s0 = gstart[g], s1 = gstart[g + 1];
            t->nops = (int)((s1 - s0) * (diag ? 1 : 2));
            if (t->nops && !(t->ops = lpi_arena_alloc(P->ar, (size_t)t->nops * sizeof *t->ops))) return lpi_nomem(P->ctx);
            for (int64_t s = s0; s < s1; s++) {
                lpi_box ra, rb;
                ra.ndim = na;
                rb.ndim = nb;
                for (int i = 0; i < anb; i++) {
                    int j = i + (nbo - anb);
                    bool bc = A->shape[i] == 1;
                    ra.lo[i] = bc ? 0 : ob.lo[j];
                    ra.hi[i] = bc ? 1 : ob.hi[j];
                }
                for (int i = 0; i < bnb; i++) {
                    int j = i + (nbo - bnb);
                    bool bc = B->shape[i] == 1;
                    rb.lo[i] = bc ? 0 : ob.lo[j];
                    rb.hi[i] = bc ? 1 : ob.hi[j];
                }
                if (a_row >= 0) { ra.lo[a_row] = ob.lo[o_row]; ra.hi[a_row] = ob.hi[o_row]; }
                if (b_col >= 0) { rb.lo[b_col] = ob.lo[o_col]; rb.hi[b_col] = ob.hi[o_col]; }
                ra.lo[a_k] = rb.lo[b_k] = kb[s];
                ra.hi[a_k] = rb.hi[b_k] = kb[s + 1];
                int k = (int)((s - s0) * (diag ? 1 : 2));
                if ((st = lpi_add_operand(P, t, k, pa, &ra, false))) return st;
                if (!diag && (st = lpi_add_operand(P, t, k + 1, pb, &rb, false))) return st;
            }
        }
    }
    if (G > 1) return lpi_plan_combine(P, fin, level, r, nout, G);
    return LP_OK;
}

/* One task over the whole operands. */
static lp_status plan_single(planner *P, int gid) {
    lp_array *e = P->g.node[gid];
    int pi = lpi_new_pnode(P, LPI_K_LINALG, e->op, e, e->dtype, e->ndim, e->shape);
    if (pi < 0) return lpi_nomem(P->ctx);
    P->pnode_of[gid] = pi;
    lpi_linalg_params *la = lpi_arena_alloc(P->ar, sizeof *la);
    int *in = lpi_arena_alloc(P->ar, (size_t)e->nin * sizeof *in);
    if (!la || !in) return lpi_nomem(P->ctx);
    la->loop_dt = e->dtype;
    la->out_ndim = e->ndim;
    la->rcond = e->op == LPI_OP_LSTSQ ? e->a.f0 : 0;
    la->blas_threads = 1; /* LAPACK single-threaded: the same bits for any pool size */
    lpi_grid *g = &P->pn[pi].grid;
    memset(g, 0, sizeof *g);
    g->ndim = e->ndim;
    memcpy(g->shape, e->shape, sizeof g->shape);
    lp_status st;
    for (int i = 0; i < e->ndim; i++)
        if ((st = lpi_one_chunk_axis(P, g, i, e->shape[i]))) return st;
    lpi_grid_from_bounds(P->ar, g);
    for (int k = 0; k < e->nin; k++) in[k] = P->pnode_of[P->g.in[gid][k]];
    lpi_pnode *p = &P->pn[pi];
    p->la = la;
    p->in = in;
    p->nin = e->nin;
    p->final = true;
    p->first_task = P->ntasks;
    p->ntasks = 1;
    lpi_task *t = lpi_new_task(P, pi, 0);
    if (!t) return lpi_nomem(P->ctx);
    lpi_grid_chunk_box(&P->pn[pi].grid, 0, &t->box);
    t->nops = e->nin;
    if (!(t->ops = lpi_arena_alloc(P->ar, (size_t)e->nin * sizeof *t->ops))) return lpi_nomem(P->ctx);
    for (int k = 0; k < e->nin; k++) {
        const lp_array *x = e->in[k];
        lpi_box r = {x->ndim, {0}, {0}};
        for (int i = 0; i < x->ndim; i++) r.hi[i] = x->shape[i];
        if ((st = lpi_add_operand(P, t, k, in[k], &r, false))) return st;
    }
    return LP_OK;
}

#define TSQR_MAX_STACK ((int64_t)1 << 22) /* elements of the stacked R factors */

/* Row blocks of a tall A (m, n): its row chunks merged to at least n rows each. */
static int64_t tsqr_blocks(planner *P, const lpi_grid *ga, int64_t m, int64_t n, int64_t **out) {
    int64_t cmax = TSQR_MAX_STACK / (n * n > 0 ? n * n : 1);
    if (cmax < 1) cmax = 1;
    int64_t minrows = n > (m + cmax - 1) / cmax ? n : (m + cmax - 1) / cmax;
    if (minrows < 1) minrows = 1;
    int64_t *b = lpi_arena_alloc(P->ar, (size_t)(ga->nchunks[0] + 2) * sizeof *b);
    if (!b) return -1;
    int64_t nb = 0;
    b[0] = 0;
    for (int64_t c = 1; c <= ga->nchunks[0]; c++)
        if (ga->bounds[0][c] - b[nb] >= minrows) b[++nb] = ga->bounds[0][c];
    if (nb == 0) b[++nb] = m;
    b[nb] = m; /* a short last stretch joins the last block */
    *out = b;
    return nb;
}

static int linalg_pnode(planner *P, lpi_op op, lp_array *e, lp_dtype dt, int64_t rows, int64_t cols, const int64_t *rb,
                        int64_t nrb, int nin, const int *in) {
    int64_t shape[2] = {rows, cols};
    int pi = lpi_new_pnode(P, LPI_K_LINALG, op, e, dt, 2, shape);
    if (pi < 0) return -1;
    lpi_linalg_params *la = lpi_arena_alloc(P->ar, sizeof *la);
    int *pin = lpi_arena_alloc(P->ar, (size_t)nin * sizeof *pin);
    int64_t *b0 = lpi_arena_alloc(P->ar, (size_t)(nrb + 1) * sizeof *b0), *b1 = lpi_arena_alloc(P->ar, 2 * sizeof *b1);
    if (!la || !pin || !b0 || !b1) return -1;
    memset(la, 0, sizeof *la);
    la->loop_dt = dt;
    la->out_ndim = 2;
    la->blas_threads = 1;
    memcpy(pin, in, (size_t)nin * sizeof *pin);
    memcpy(b0, rb, (size_t)(nrb + 1) * sizeof *b0);
    b1[0] = 0;
    b1[1] = cols;
    lpi_pnode *p = &P->pn[pi];
    memset(&p->grid, 0, sizeof p->grid);
    p->grid.ndim = 2;
    p->grid.shape[0] = rows;
    p->grid.shape[1] = cols;
    p->grid.bounds[0] = b0;
    p->grid.nchunks[0] = nrb;
    p->grid.bounds[1] = b1;
    p->grid.nchunks[1] = 1;
    if (lpi_grid_from_bounds(P->ar, &p->grid)) return -1;
    p->la = la;
    p->in = pin;
    p->nin = nin;
    p->final = true;
    p->first_task = P->ntasks;
    p->ntasks = nrb;
    return pi;
}

/* Task c of pnode pi reading rows [lo_k, hi_k) (all columns) of each input k. */
static lp_status rows_task(planner *P, int pi, int64_t c, const int64_t *lo, const int64_t *hi) {
    lpi_task *t = lpi_new_task(P, pi, c);
    if (!t) return lpi_nomem(P->ctx);
    lpi_grid_chunk_box(&P->pn[pi].grid, c, &t->box);
    const int nin = P->pn[pi].nin;
    t->nops = nin;
    if (!(t->ops = lpi_arena_alloc(P->ar, (size_t)nin * sizeof *t->ops))) return lpi_nomem(P->ctx);
    for (int k = 0; k < nin; k++) {
        const lpi_pnode *q = &P->pn[P->pn[pi].in[k]];
        lpi_box r = {2, {lo[k], 0}, {hi[k], q->shape[1]}};
        lp_status st = lpi_add_operand(P, t, k, P->pn[pi].in[k], &r, false);
        if (st) return st;
    }
    return LP_OK;
}

static lp_status plan_tsqr(planner *P, int gid) {
    lp_array *e = P->g.node[gid];
    const lp_array *A = e->in[0];
    const int pa = P->pnode_of[P->g.in[gid][0]];
    /* a stack of matrices, and the complete factors (Q (M, M), R (M, N)), are one task: a loop
     * over the stack, one geqrf per matrix */
    if (A->ndim != 2 || (e->op == LPI_OP_QR_Q ? e->shape[1] : e->shape[0]) == A->shape[0]) return plan_single(P, gid);
    const int64_t m = A->shape[0], n = A->shape[1];
    int64_t *rb = NULL, nb = 0;
    if (m > n && n > 0) {
        if ((nb = tsqr_blocks(P, &P->pn[pa].grid, m, n, &rb)) < 0) return lpi_nomem(P->ctx);
    }
    if (nb < 2) return plan_single(P, gid);
    lp_status st;
    const lp_dtype dt = e->dtype;
    /* the stacked R factors of the blocks, planned once per A */
    int stack = -1;
    for (int i = 0; i < P->npn && stack < 0; i++) {
        const lpi_pnode *p = &P->pn[i];
        if (p->kernel == LPI_K_LINALG && p->op == LPI_OP_QR_R && !p->expr && p->nin == 1 && p->in[0] == pa &&
            p->dtype == dt && p->shape[0] == nb * n)
            stack = i;
    }
    if (stack < 0) {
        int64_t *sb = lpi_arena_alloc(P->ar, (size_t)(nb + 1) * sizeof *sb);
        if (!sb) return lpi_nomem(P->ctx);
        for (int64_t i = 0; i <= nb; i++) sb[i] = i * n;
        if ((stack = linalg_pnode(P, LPI_OP_QR_R, NULL, dt, nb * n, n, sb, nb, 1, &pa)) < 0) return lpi_nomem(P->ctx);
        for (int64_t i = 0; i < nb; i++)
            if ((st = rows_task(P, stack, i, &rb[i], &rb[i + 1]))) return st;
    }
    const int64_t whole[2] = {0, e->shape[0]}, all[2] = {0, nb * n};
    if (e->op == LPI_OP_QR_R) {
        int fin = linalg_pnode(P, LPI_OP_QR_R, e, dt, n, n, whole, 1, 1, &stack);
        if (fin < 0) return lpi_nomem(P->ctx);
        P->pnode_of[gid] = fin;
        return rows_task(P, fin, 0, &all[0], &all[1]);
    }
    /* Q: Q_s of the stack (one task), then Q_i @ Q_s[block i] per block */
    int qs = linalg_pnode(P, LPI_OP_QR_Q, NULL, dt, nb * n, n, all, 1, 1, &stack);
    if (qs < 0) return lpi_nomem(P->ctx);
    if ((st = rows_task(P, qs, 0, &all[0], &all[1]))) return st;
    int in2[2] = {pa, qs};
    int fin = linalg_pnode(P, LPI_OP_QR_Q, e, dt, m, n, rb, nb, 2, in2);
    if (fin < 0) return lpi_nomem(P->ctx);
    P->pnode_of[gid] = fin;
    for (int64_t i = 0; i < nb; i++) {
        int64_t lo[2] = {rb[i], i * n}, hi[2] = {rb[i + 1], (i + 1) * n};
        if ((st = rows_task(P, fin, i, lo, hi))) return st;
    }
    return LP_OK;
}

lp_status lpi_plan_linalg(planner *P, int gid) {
    switch (P->g.node[gid]->op) {
    case LPI_OP_MATMUL: return plan_matmul(P, gid);
    case LPI_OP_QR_R: case LPI_OP_QR_Q: return plan_tsqr(P, gid);
    default: return plan_single(P, gid);
    }
}
