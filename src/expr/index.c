/* Builders of indexing by data: take (integer-array indexing), scatter (assignment) and the
 * per-block counts behind bincount. */
#include "expr/expr.h"

#include <string.h>

static lp_status as_int64(lp_ctx *ctx, const char *what, lp_array *i, lp_array **out) {
    if (lpi_dtype_kind(i->dtype) != LPI_KIND_INT)
        return lpi_error(ctx, LP_ERR_INDEX, "%s: arrays used as indices must be of integer (or boolean) type", what);
    if (i->dtype == LP_INT64) { lp_array_retain(i); *out = i; return LP_OK; }
    return lp_astype(ctx, i, LP_INT64, out);
}

lp_status lpi_take(lp_ctx *ctx, lp_array *x, lp_array *idx, int axis, lp_array **out) {
    *out = NULL;
    int ax;
    lp_status st;
    if (x->ndim == 0) return lpi_error(ctx, LP_ERR_INDEX, "too many indices for array: array is 0-dimensional, but 1 were indexed");
    if ((st = lpi_norm_axis(ctx, axis, x->ndim, &ax))) return st;
    if (x->ndim - 1 + idx->ndim > LP_MAX_NDIM) return lpi_error(ctx, LP_ERR_VALUE, "take: the result would have more than %d dimensions", LP_MAX_NDIM);
    if (x->shape[ax] == 0 && idx->size > 0)
        return lpi_error(ctx, LP_ERR_INDEX, "cannot do a non-empty take from an empty axes.");
    lp_array *i64 = NULL;
    if ((st = as_int64(ctx, "take", idx, &i64))) return st;
    int64_t shape[LP_MAX_NDIM];
    int nd = 0;
    for (int i = 0; i < ax; i++) shape[nd++] = x->shape[i];
    for (int i = 0; i < idx->ndim; i++) shape[nd++] = idx->shape[i];
    for (int i = ax + 1; i < x->ndim; i++) shape[nd++] = x->shape[i];
    lp_array *in[2] = {x, i64};
    st = lpi_node_new(ctx, LPI_OP_TAKE, x->dtype, nd, shape, 2, in, out);
    lp_array_release(i64);
    if (!st) (*out)->a.axis = ax;
    return st;
}

lp_status lpi_scatter(lp_ctx *ctx, lp_array *x, lp_array *flat, lp_array *v, lp_array **out) {
    *out = NULL;
    lp_status st;
    if (flat->ndim != 1) return lpi_error(ctx, LP_ERR_VALUE, "scatter: the flat indices must be 1-d");
    lp_array *i64 = NULL, *vc = NULL, *vb = NULL;
    if ((st = as_int64(ctx, "scatter", flat, &i64))) return st;
    /* the values in x's dtype, one per index (NumPy casts unsafely on assignment) */
    if (v->dtype != x->dtype || lpi_is_weak(v)) st = lp_astype(ctx, v, x->dtype, &vc);
    else { vc = v; lp_array_retain(v); }
    if (!st) {
        if (vc->ndim == 1 && vc->shape[0] == flat->shape[0]) { vb = vc; lp_array_retain(vc); }
        else st = lp_broadcast_to(ctx, vc, 1, flat->shape, &vb);
    }
    if (!st) {
        lp_array *in[3] = {x, i64, vb};
        st = lpi_node_new(ctx, LPI_OP_SCATTER, x->dtype, x->ndim, x->shape, 3, in, out);
    }
    lp_array_release(i64);
    lp_array_release(vc);
    lp_array_release(vb);
    return st;
}

lp_status lpi_bincount_blocks(lp_ctx *ctx, lp_array *x, lp_array *w, int64_t length, int64_t block, lp_array **out) {
    *out = NULL;
    if (x->ndim != 1) return lpi_error(ctx, LP_ERR_VALUE, "object too deep for desired array");
    if (lpi_dtype_kind(x->dtype) == LPI_KIND_FLOAT)
        return lpi_error(ctx, LP_ERR_TYPE, "Cannot cast array data from dtype('%s') to dtype('int64') according to the rule 'safe'",
                         lp_dtype_name(x->dtype));
    if (length < 0 || block < 1) return lpi_error(ctx, LP_ERR_VALUE, "bincount: bad length or block");
    lp_status st;
    lp_array *x64 = NULL, *wf = NULL;
    if (x->dtype == LP_INT64) { x64 = x; lp_array_retain(x); }
    else if ((st = lp_astype(ctx, x, LP_INT64, &x64))) return st;
    if (w) {
        if (w->ndim != 1 || w->shape[0] != x->shape[0]) {
            lp_array_release(x64);
            return lpi_error(ctx, LP_ERR_VALUE, "The weights and list don't have the same length.");
        }
        /* float weights sum in float64; integer weights (0/1 from a mask: histogram) in int64 */
        lp_dtype wt = lpi_dtype_kind(w->dtype) == LPI_KIND_FLOAT ? LP_FLOAT64 : LP_INT64;
        if (w->dtype == wt) { wf = w; lp_array_retain(w); }
        else if ((st = lp_astype(ctx, w, wt, &wf))) { lp_array_release(x64); return st; }
    } else if ((st = lp_full(ctx, LP_INT64, 0, NULL, lp_scalar_i(1), &wf))) {
        lp_array_release(x64);
        return st;
    }
    int64_t n = x->shape[0], shape[2] = {n ? (n + block - 1) / block : 0, length};
    lp_array *in[2] = {x64, wf};
    st = lpi_node_new(ctx, LPI_OP_BINCOUNT_BLOCKS, wf->dtype == LP_FLOAT64 ? LP_FLOAT64 : LP_INT64, 2, shape, 2, in, out);
    lp_array_release(x64);
    lp_array_release(wf);
    if (!st) (*out)->a.i0 = block;
    return st;
}

const int64_t *lpi_known_int64(const lp_array *a) {
    if (a->dtype != LP_INT64 || a->ndim != 1) return NULL;
    lp_buffer *r = lp_array_result(a);
    if (r) return r->data;
    if (a->op == LPI_OP_WRAP && a->a.buf && (a->shape[0] <= 1 || a->a.strides[0] == 8))
        return (const int64_t *)((const char *)a->a.buf->data + a->a.offset);
    return NULL;
}

/* counts must be known and add up to what the mask holds in blocks of `block` rows */
static lp_status check_counts(lp_ctx *ctx, const lp_array *mask, const lp_array *counts, int64_t block, int64_t *total) {
    const int64_t *c = lpi_known_int64(counts);
    int64_t rows = mask->ndim ? mask->shape[0] : 1, nb = block > 0 ? (rows + block - 1) / block : -1;
    if (!c || block < 1 || counts->shape[0] != (nb ? nb : 1) || mask->dtype != LP_BOOL)
        return lpi_error(ctx, LP_ERR_VALUE, "compress: the mask's counts per block of rows must be known int64 values");
    int64_t per = block;
    for (int i = 1; i < mask->ndim; i++) per *= mask->shape[i];
    *total = 0;
    for (int64_t k = 0; k < counts->shape[0]; k++) {
        if (c[k] < 0 || c[k] > per) return lpi_error(ctx, LP_ERR_VALUE, "compress: a block count is out of range");
        *total += c[k];
    }
    return LP_OK;
}

lp_status lpi_compress(lp_ctx *ctx, lp_array *x, lp_array *mask, lp_array *counts, int64_t block, lp_array **out) {
    *out = NULL;
    int64_t total;
    lp_status st = check_counts(ctx, mask, counts, block, &total);
    if (st) return st;
    if (mask->ndim > x->ndim)
        return lpi_error(ctx, LP_ERR_INDEX, "too many indices for array: array is %d-dimensional, but %d were indexed", x->ndim,
                         mask->ndim);
    for (int i = 0; i < mask->ndim; i++)
        if (mask->shape[i] != x->shape[i])
            return lpi_error(ctx, LP_ERR_INDEX, "boolean index did not match indexed array along axis %d; size of axis is %lld "
                             "but size of corresponding boolean axis is %lld", i, (long long)x->shape[i], (long long)mask->shape[i]);
    int64_t shape[LP_MAX_NDIM];
    int nd = 0;
    shape[nd++] = total;
    for (int i = mask->ndim; i < x->ndim; i++) shape[nd++] = x->shape[i];
    lp_array *in[3] = {x, mask, counts};
    if ((st = lpi_node_new(ctx, LPI_OP_COMPRESS, x->dtype, nd, shape, 3, in, out))) return st;
    (*out)->a.i0 = block;
    return LP_OK;
}

lp_status lpi_nonzero(lp_ctx *ctx, lp_array *mask, lp_array *counts, int64_t block, lp_array **out) {
    *out = NULL;
    int64_t total;
    lp_status st = check_counts(ctx, mask, counts, block, &total);
    if (st) return st;
    int64_t shape[2] = {total, mask->ndim};
    lp_array *in[2] = {mask, counts};
    if ((st = lpi_node_new(ctx, LPI_OP_NONZERO, LP_INT64, 2, shape, 2, in, out))) return st;
    (*out)->a.i0 = block;
    return LP_OK;
}

lp_status lpi_searchsorted(lp_ctx *ctx, lp_array *a, lp_array *v, bool right, lp_array **out) {
    *out = NULL;
    if (a->ndim != 1) return lpi_error(ctx, LP_ERR_VALUE, "object too deep for desired array");
    lp_dtype dt = lp_promote(a->dtype, lpi_is_weak(v) ? (lpi_dtype_kind(v->dtype) == LPI_KIND_FLOAT ? LP_FLOAT64 : a->dtype) : v->dtype);
    lp_array *ac = a, *vc = v;
    lp_status st = LP_OK;
    if (a->dtype != dt) st = lp_astype(ctx, a, dt, &ac);
    if (!st && (v->dtype != dt || lpi_is_weak(v))) st = lp_astype(ctx, v, dt, &vc);
    if (!st) {
        lp_array *in[2] = {ac, vc};
        st = lpi_node_new(ctx, LPI_OP_SEARCHSORTED, LP_INT64, v->ndim, v->shape, 2, in, out);
        if (!st) (*out)->a.axis = right;
    }
    if (ac != a) lp_array_release(ac);
    if (vc != v) lp_array_release(vc);
    return st;
}
