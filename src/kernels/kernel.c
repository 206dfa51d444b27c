/* Task dispatch: the one entry point every executor calls with assembled operand views. */
#include "kernels/kernels.h"
#include "kernels/lda.h"
#include "io/dataset.h"

#include <string.h>

lp_status lpi_reduce_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins,
                         const lpi_view *out);

/* Operand k covers its own box (the projection of the task box with broadcasting); make it a
 * view of the task box's shape: missing leading axes and broadcast axes get stride 0. */
static void broadcast_to_box(const lpi_view *in, const lpi_box *box, lpi_view *out) {
    const int nd = box->ndim, off = nd - in->ndim;
    *out = *in;
    out->ndim = nd;
    for (int i = nd - 1; i >= 0; i--) {
        int64_t ext = box->hi[i] - box->lo[i];
        int k = i - off;
        out->shape[i] = ext;
        out->strides[i] = (k >= 0 && in->shape[k] == ext) ? in->strides[k] : 0;
    }
}

static lp_status run_map(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins,
                         const lpi_view *out) {
    lpi_view stack[8];
    int n = pn->prog->ninputs;
    lpi_view *ops = n <= 8 ? stack : lp_malloc((size_t)n * sizeof *ops);
    if (!ops) return lpi_nomem(ctx);
    for (int k = 0; k < n; k++) broadcast_to_box(&ins[k], &t->box, &ops[k]);
    int64_t shape[LP_MAX_NDIM];
    for (int i = 0; i < t->box.ndim; i++) shape[i] = t->box.hi[i] - t->box.lo[i];
    lp_status st = lpi_vm_run(ctx, pn->prog, t->box.ndim, shape, ops, out);
    if (ops != stack) lp_free(ops);
    return st;
}

static lp_status run_partial(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins,
                             const lpi_view *out) {
    lpi_view stack[8];
    int n = pn->prog->ninputs;
    lpi_view *ops = n <= 8 ? stack : lp_malloc((size_t)n * sizeof *ops);
    if (!ops) return lpi_nomem(ctx);
    for (int k = 0; k < n; k++) broadcast_to_box(&ins[k], &t->box, &ops[k]);
    lp_status st = lpi_reduce_run(ctx, pn, t, ops, out);
    if (ops != stack) lp_free(ops);
    return st;
}

/* Affine copy: out[o] = in[off + step * o] per axis (see lpi_axismap). ins[0] covers the
 * operand box, which the planner derived from the same map. */
static lp_status run_copy(const lpi_task *t, const lpi_view *in, const lpi_view *out) {
    const lpi_axismap *m = t->map;
    const lpi_box *ib = &t->ops[0].box;
    lpi_view w = *out;
    w.data = in->data;
    if (lpi_box_size(&t->box) == 0) return LP_OK;
    /* input coordinate of the output box origin, per input axis */
    for (int i = 0; i < in->ndim; i++)
        if (m->dropped[i]) w.data += (m->fixed[i] - ib->lo[i]) * in->strides[i];
    for (int j = 0; j < out->ndim; j++) {
        int s = m->src[j];
        if (s < 0) { w.strides[j] = 0; continue; }
        int64_t c = m->off[j] + m->step[j] * t->box.lo[j];
        w.data += (c - ib->lo[s]) * in->strides[s];
        w.strides[j] = m->step[j] * in->strides[s];
    }
    lpi_copy_view(out, &w);
    return LP_OK;
}

/* Flat copy: the operand holds whole input rows [lo0, hi0) (C-contiguous), the output box whole
 * output rows; both are the same C-order element sequence offset by a known amount. */
static lp_status run_reshape(const lpi_pnode *pn, const lpi_task *t, const lpi_view *in, const lpi_view *out) {
    const int64_t isz = (int64_t)lp_dtype_size(pn->dtype);
    int64_t orow = 1, irow = 1;
    for (int i = 1; i < pn->ndim; i++) orow *= pn->shape[i];
    const lp_array *src = pn->expr->in[0];
    for (int i = 1; i < src->ndim; i++) irow *= src->shape[i];
    int64_t out0 = pn->ndim ? t->box.lo[0] * orow : 0;
    int64_t in0 = src->ndim ? t->ops[0].box.lo[0] * irow : 0;
    int64_t n = lpi_box_size(&t->box);
    if (n) memcpy(out->data, in->data + (out0 - in0) * isz, (size_t)(n * isz));
    return LP_OK;
}

/* The elements of the task box, through the node's view of the stored array, straight into
 * the output (whatever its strides): only the byte ranges holding them are read. */
static lp_status run_load(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *out) {
    const lpi_box *b = &t->box;
    if (lpi_box_size(b) == 0) return LP_OK;
    lpi_sel sel;
    const lpi_axismap *m = pn->view;
    int lnd = pn->lndim >= 0 ? pn->lndim : pn->src->ndim;
    for (int i = 0; i < lnd; i++) {
        sel.start[i] = m && m->dropped[i] ? m->fixed[i] : 0;
        sel.step[i] = 1;
        sel.count[i] = 1;
        sel.dstride[i] = 0;
    }
    for (int j = 0; j < b->ndim; j++) {
        int s = m ? m->src[j] : j;
        if (s < 0) continue; /* a new unit axis */
        int64_t off = m ? m->off[j] : 0, step = m ? m->step[j] : 1;
        sel.start[s] = off + step * b->lo[j];
        sel.step[s] = step;
        sel.count[s] = b->hi[j] - b->lo[j];
        sel.dstride[s] = out->strides[j];
    }
    return lpi_reader_read(ctx, pn->reader, pn->lndim, pn->lshape, &sel, out->data);
}

lp_status lpi_kernel_run(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins,
                         const lpi_view *out) {
    if (lpi_is_lda_op(pn->op)) return lpi_lda_run(ctx, pn, t, ins, out); /* kernels/lda.c */
    switch (pn->kernel) {
    case LPI_K_GEN: return lpi_gen_run(ctx, pn, &t->box, out);
    case LPI_K_LOAD: return run_load(ctx, pn, t, out);
    case LPI_K_MAP: return run_map(ctx, pn, t, ins, out);
    case LPI_K_PARTIAL: return run_partial(ctx, pn, t, ins, out);
    case LPI_K_COMBINE: return lpi_reduce_run(ctx, pn, t, ins, out);
    case LPI_K_COPY: return run_copy(t, &ins[0], out);
    case LPI_K_RESHAPE: return run_reshape(pn, t, &ins[0], out);
    case LPI_K_MATMUL: return lpi_matmul_run(ctx, pn, t, ins, out);   /* kernels/linalg.c */
    case LPI_K_LINALG: return lpi_linalg_run(ctx, pn, t, ins, out);
    case LPI_K_SCAN: return lpi_scan_run(ctx, pn, t, ins, out);         /* kernels/axis.c */
    case LPI_K_SORT: return lpi_sort_run(ctx, pn, t, ins, out);
    case LPI_K_INDEX: return lpi_index_run(ctx, pn, t, ins, out);       /* kernels/index.c */
    case LPI_K_FFT: return lpi_fft_run(ctx, pn, t, ins, out);           /* kernels/fft.c */
    default: return lpi_error(ctx, LP_ERR_INTERNAL, "task with no kernel (%d)", (int)pn->kernel);
    }
}
