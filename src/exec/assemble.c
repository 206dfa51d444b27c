#include "exec/assemble.h"
#include "kernels/kernels.h"

#include <string.h>

void lpi_subview(const lpi_view *chunk, const lpi_box *whole, const lpi_box *sub, lpi_view *out) {
    *out = *chunk;
    out->ndim = sub->ndim;
    for (int i = 0; i < sub->ndim; i++) {
        out->data += (sub->lo[i] - whole->lo[i]) * chunk->strides[i];
        out->shape[i] = sub->hi[i] - sub->lo[i];
    }
}

void lpi_copy_into(lp_buffer *tb, const lpi_box *box, const lp_buffer *b) {
    if (!b->nbytes) return;
    lpi_view whole = {tb->data, tb->dtype, tb->ndim, {0}, {0}}, dst, src = {b->data, b->dtype, b->ndim, {0}, {0}};
    lpi_box all = {tb->ndim, {0}, {0}};
    int64_t s = (int64_t)lp_dtype_size(tb->dtype), s2 = s;
    for (int i = tb->ndim - 1; i >= 0; i--) {
        whole.shape[i] = tb->shape[i];
        whole.strides[i] = s;
        s *= tb->shape[i];
        all.hi[i] = tb->shape[i];
        src.shape[i] = b->shape[i];
        src.strides[i] = s2;
        s2 *= b->shape[i];
    }
    lpi_subview(&whole, &all, box, &dst);
    lpi_copy_view(&dst, &src);
}

static bool c_contiguous(const lpi_view *v) {
    int64_t s = (int64_t)lp_dtype_size(v->dtype);
    for (int i = v->ndim - 1; i >= 0; i--) {
        if (v->shape[i] != 1 && v->strides[i] != s) return false;
        s *= v->shape[i];
    }
    return true;
}

/* Pieces that are all views of one strided buffer (wrapped data, computed results, a target's
 * buffer) make the region a view of that buffer too: no copy. Each piece's chunk view implies
 * the address of element 0; if they agree (and the strides do), the one view addresses every
 * element exactly where its own piece does. */
static bool one_buffer(const lpi_view *pv, const lpi_box *pbox, int n, const lpi_box *box, lpi_view *out) {
    const int nd = box->ndim;
    char *base = NULL;
    for (int q = 0; q < n; q++) {
        if (pv[q].ndim != nd) return false;
        char *b = pv[q].data;
        for (int i = 0; i < nd; i++) {
            if (pv[q].strides[i] != pv[0].strides[i]) return false;
            b -= pbox[q].lo[i] * pv[q].strides[i];
        }
        if (q == 0) base = b;
        else if (b != base) return false;
    }
    *out = pv[0];
    out->data = base;
    for (int i = 0; i < nd; i++) {
        out->data += box->lo[i] * pv[0].strides[i];
        out->shape[i] = box->hi[i] - box->lo[i];
    }
    return true;
}

lp_status lpi_assemble(lp_ctx *ctx, const lpi_operand *op, lp_dtype dt, const lpi_view *pv,
                       const lpi_box *pbox, lpi_view *out, void **tmp) {
    static char empty_data[64];
    *tmp = NULL;
    const lpi_box *box = &op->box;
    if (op->npieces == 1) {
        lpi_subview(&pv[0], &pbox[0], box, out);
        if (!op->contig || c_contiguous(out)) return LP_OK;
    } else if (op->npieces == 0) {
        out->data = empty_data;
        out->dtype = dt;
        out->ndim = box->ndim;
        for (int i = 0; i < box->ndim; i++) { out->shape[i] = box->hi[i] - box->lo[i]; out->strides[i] = 0; }
        return LP_OK;
    } else if (one_buffer(pv, pbox, op->npieces, box, out) && (!op->contig || c_contiguous(out))) {
        return LP_OK;
    }
    /* copy the pieces into one C-contiguous buffer */
    lpi_view t;
    t.dtype = dt;
    t.ndim = box->ndim;
    int64_t s = (int64_t)lp_dtype_size(dt);
    for (int i = box->ndim - 1; i >= 0; i--) {
        t.shape[i] = box->hi[i] - box->lo[i];
        t.strides[i] = s;
        s *= t.shape[i];
    }
    t.data = lp_malloc_aligned((size_t)s);
    if (!t.data) return lpi_nomem(ctx);
    for (int q = 0; q < op->npieces; q++) {
        lpi_view src, dst;
        lpi_subview(&pv[q], &pbox[q], &op->pieces[q].box, &src);
        lpi_subview(&t, box, &op->pieces[q].box, &dst);
        lpi_copy_view(&dst, &src);
    }
    *tmp = t.data;
    *out = t;
    return LP_OK;
}
