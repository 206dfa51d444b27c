/* Data-movement builders: reshape, transpose, basic indexing, concatenate, stack.
 * Transpose, slicing and unit-axis reshapes are all affine per-axis maps (lpi_axismap), so the
 * planner and the copy kernel handle them with one mechanism. */
#include "expr/expr.h"

#include <stdio.h>
#include <string.h>

static void identity_map(lpi_axismap *m, int ndim) {
    memset(m, 0, sizeof *m);
    for (int i = 0; i < ndim; i++) { m->src[i] = (int8_t)i; m->step[i] = 1; }
}

lp_status lp_reshape(lp_ctx *ctx, lp_array *a, int ndim, const int64_t *shape_in, lp_array **out) {
    *out = NULL;
    if (ndim < 0 || ndim > LP_MAX_NDIM)
        return lpi_error(ctx, LP_ERR_VALUE, "reshape: %d dimensions requested; at most %d are supported",
                         ndim, LP_MAX_NDIM);
    int64_t shape[LP_MAX_NDIM];
    int unknown = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; i++) {
        shape[i] = shape_in[i];
        if (shape[i] == -1) {
            if (unknown >= 0) return lpi_error(ctx, LP_ERR_VALUE, "can only specify one unknown dimension");
            unknown = i;
        } else if (shape[i] < 0) {
            return lpi_error(ctx, LP_ERR_VALUE, "negative dimensions not allowed");
        } else if (__builtin_mul_overflow(known, shape[i], &known)) {
            return lpi_error(ctx, LP_ERR_VALUE, "reshape: shape is too large");
        }
    }
    char buf[200];
    if (unknown >= 0) {
        if (known == 0 || a->size % known) {
            shape[unknown] = -1;
            return lpi_error(ctx, LP_ERR_VALUE, "cannot reshape array of size %lld into shape %s",
                             (long long)a->size, lpi_shape_str(buf, sizeof buf, ndim, shape));
        }
        shape[unknown] = a->size / known;
        known = a->size;
    }
    if (known != a->size)
        return lpi_error(ctx, LP_ERR_VALUE, "cannot reshape array of size %lld into shape %s",
                         (long long)a->size, lpi_shape_str(buf, sizeof buf, ndim, shape));
    lp_array *r;
    lp_status st = lpi_node_new(ctx, LPI_OP_RESHAPE, a->dtype, ndim, shape, 1, &a, &r);
    if (st) return st;
    /* Only unit axes inserted or removed? Then it is an affine view and keeps the chunking. */
    int i = 0, j = 0;
    lpi_axismap *m = &r->a.map;
    memset(m, 0, sizeof *m);
    bool affine = true;
    while (i < a->ndim || j < ndim) {
        if (i < a->ndim && j < ndim && a->shape[i] == shape[j]) {
            m->src[j] = (int8_t)i; m->step[j] = 1; i++; j++;
        } else if (j < ndim && shape[j] == 1) {
            m->src[j] = -1; m->step[j] = 0; j++;
        } else if (i < a->ndim && a->shape[i] == 1) {
            m->dropped[i] = true; m->fixed[i] = 0; i++;
        } else {
            affine = false;
            break;
        }
    }
    r->a.affine = affine;
    *out = r;
    return LP_OK;
}

lp_status lp_transpose(lp_ctx *ctx, lp_array *a, const int *perm, lp_array **out) {
    *out = NULL;
    int p[LP_MAX_NDIM];
    uint32_t seen = 0;
    for (int i = 0; i < a->ndim; i++) {
        if (!perm) { p[i] = a->ndim - 1 - i; continue; }
        lp_status st = lpi_norm_axis(ctx, perm[i], a->ndim, &p[i]);
        if (st) return st;
        if (seen & (1u << p[i])) return lpi_error(ctx, LP_ERR_VALUE, "repeated axis in transpose");
        seen |= 1u << p[i];
    }
    int64_t shape[LP_MAX_NDIM];
    for (int i = 0; i < a->ndim; i++) shape[i] = a->shape[p[i]];
    lp_array *r;
    lp_status st = lpi_node_new(ctx, LPI_OP_TRANSPOSE, a->dtype, a->ndim, shape, 1, &a, &r);
    if (st) return st;
    identity_map(&r->a.map, a->ndim);
    for (int i = 0; i < a->ndim; i++) r->a.map.src[i] = (int8_t)p[i];
    *out = r;
    return LP_OK;
}

/* a's matrices transposed: its last two axes swapped (the array API's matrix_transpose, .mT;
 * the linalg compositions use it too). */
lp_status lpi_matrix_transpose(lp_ctx *ctx, lp_array *a, lp_array **out) {
    int perm[LP_MAX_NDIM];
    *out = NULL;
    if (a->ndim < 2) return lpi_error(ctx, LP_ERR_VALUE, "matrix transpose of an array with %d dimensions", a->ndim);
    for (int i = 0; i < a->ndim; i++) perm[i] = i;
    perm[a->ndim - 2] = a->ndim - 1;
    perm[a->ndim - 1] = a->ndim - 2;
    return lp_transpose(ctx, a, perm, out);
}

/* Python's slice.indices(): clamp start/stop for a given length and step. */
static int64_t slice_len(const lp_index *ix, int64_t n, int64_t *start_out, int64_t *step_out) {
    int64_t step = ix->step ? ix->step : 1;
    int64_t start, stop;
    if (step > 0) {
        start = ix->has_start ? ix->start : 0;
        stop = ix->has_stop ? ix->stop : n;
        if (start < 0) { start += n; if (start < 0) start = 0; } else if (start > n) start = n;
        if (stop < 0) { stop += n; if (stop < 0) stop = 0; } else if (stop > n) stop = n;
    } else {
        start = ix->has_start ? ix->start : n - 1;
        stop = ix->has_stop ? ix->stop : -1;
        if (ix->has_start) { if (start < 0) { start += n; if (start < 0) start = -1; } else if (start >= n) start = n - 1; }
        if (ix->has_stop) { if (stop < 0) { stop += n; if (stop < 0) stop = -1; } else if (stop >= n) stop = n - 1; }
    }
    int64_t len = 0;
    if (step > 0 && stop > start) len = (stop - start - 1) / step + 1;
    if (step < 0 && start > stop) len = (start - stop - 1) / (-step) + 1;
    *start_out = start;
    *step_out = step;
    return len;
}

lp_status lp_slice(lp_ctx *ctx, lp_array *a, int nidx, const lp_index *idx, lp_array **out) {
    *out = NULL;
    if (nidx < 0 || (nidx > 0 && !idx)) return lpi_error(ctx, LP_ERR_VALUE, "invalid index list");
    int nreal = 0, nell = 0;
    for (int k = 0; k < nidx; k++) {
        if (idx[k].kind == LP_IDX_SLICE || idx[k].kind == LP_IDX_INT) nreal++;
        else if (idx[k].kind == LP_IDX_ELLIPSIS) nell++;
        else if (idx[k].kind != LP_IDX_NEWAXIS) return lpi_error(ctx, LP_ERR_VALUE, "invalid index kind");
    }
    if (nell > 1) return lpi_error(ctx, LP_ERR_INDEX, "an index can only have a single ellipsis ('...')");
    if (nreal > a->ndim)
        return lpi_error(ctx, LP_ERR_INDEX, "too many indices for array: array is %d-dimensional, but %d were indexed",
                         a->ndim, nreal);
    lpi_axismap m;
    memset(&m, 0, sizeof m);
    int64_t shape[LP_MAX_NDIM];
    int in_ax = 0, out_ax = 0;
    for (int k = 0; k <= nidx; k++) {
        /* the implicit trailing ellipsis when none was given */
        bool ell = k == nidx ? nell == 0 : idx[k].kind == LP_IDX_ELLIPSIS;
        if (k == nidx && !ell) break;
        int take = ell ? a->ndim - nreal : 1;
        lp_index full = {LP_IDX_SLICE, false, false, 0, 0, 1};
        const lp_index *ix = ell ? &full : &idx[k];
        for (int t = 0; t < take; t++) {
            if (out_ax >= LP_MAX_NDIM && ix->kind != LP_IDX_INT)
                return lpi_error(ctx, LP_ERR_VALUE, "indexing gives more than %d dimensions", LP_MAX_NDIM);
            if (ix->kind == LP_IDX_NEWAXIS) {
                m.src[out_ax] = -1; m.step[out_ax] = 0; m.off[out_ax] = 0; shape[out_ax++] = 1;
                continue;
            }
            int64_t n = a->shape[in_ax];
            if (ix->kind == LP_IDX_INT) {
                int64_t i = ix->start;
                if (i < -n || i >= n)
                    return lpi_error(ctx, LP_ERR_INDEX, "index %lld is out of bounds for axis %d with size %lld",
                                     (long long)i, in_ax, (long long)n);
                m.dropped[in_ax] = true;
                m.fixed[in_ax] = i < 0 ? i + n : i;
                in_ax++;
                continue;
            }
            if (ix->step == INT64_MIN) return lpi_error(ctx, LP_ERR_VALUE, "slice step is too large");
            int64_t start, step;
            int64_t len = slice_len(ix, n, &start, &step);
            m.src[out_ax] = (int8_t)in_ax;
            m.off[out_ax] = len ? start : 0;
            m.step[out_ax] = step;
            shape[out_ax++] = len;
            in_ax++;
        }
    }
    lp_array *r;
    lp_status st = lpi_node_new(ctx, LPI_OP_SLICE, a->dtype, out_ax, shape, 1, &a, &r);
    if (st) return st;
    r->a.map = m;
    *out = r;
    return LP_OK;
}

lp_status lp_concatenate(lp_ctx *ctx, int n, lp_array *const *in, int axis, lp_array **out) {
    *out = NULL;
    if (n <= 0) return lpi_error(ctx, LP_ERR_VALUE, "need at least one array to concatenate");
    int nd = in[0]->ndim;
    if (nd == 0) return lpi_error(ctx, LP_ERR_VALUE, "zero-dimensional arrays cannot be concatenated");
    int ax;
    lp_status st = lpi_norm_axis(ctx, axis, nd, &ax);
    if (st) return st;
    lp_dtype dt = in[0]->dtype;
    int64_t shape[LP_MAX_NDIM];
    memcpy(shape, in[0]->shape, (size_t)nd * sizeof *shape);
    for (int k = 1; k < n; k++) {
        if (in[k]->ndim != nd)
            return lpi_error(ctx, LP_ERR_VALUE, "all the input arrays must have same number of dimensions, but the "
                             "array at index 0 has %d dimension(s) and the array at index %d has %d dimension(s)",
                             nd, k, in[k]->ndim);
        for (int i = 0; i < nd; i++)
            if (i != ax && in[k]->shape[i] != shape[i])
                return lpi_error(ctx, LP_ERR_VALUE, "all the input array dimensions except for the concatenation "
                                 "axis must match exactly, but along dimension %d, the array at index 0 has size "
                                 "%lld and the array at index %d has size %lld",
                                 i, (long long)shape[i], k, (long long)in[k]->shape[i]);
        if (__builtin_add_overflow(shape[ax], in[k]->shape[ax], &shape[ax]))
            return lpi_error(ctx, LP_ERR_VALUE, "concatenate: result is too large");
        dt = lp_promote(dt, in[k]->dtype);
    }
    /* operands of another dtype are cast first, so the copy kernel only moves bytes */
    lp_array **ops = lp_calloc((size_t)n, sizeof *ops);
    if (!ops) return lpi_nomem(ctx);
    for (int k = 0; k < n && !st; k++) {
        if (in[k]->dtype == dt) { ops[k] = in[k]; lp_array_retain(in[k]); }
        else st = lp_astype(ctx, in[k], dt, &ops[k]);
    }
    lp_array *r = NULL;
    if (!st) st = lpi_node_new(ctx, LPI_OP_CONCATENATE, dt, nd, shape, n, ops, &r);
    for (int k = 0; k < n; k++) lp_array_release(ops[k]);
    lp_free(ops);
    if (st) return st;
    r->a.axis = ax;
    *out = r;
    return LP_OK;
}

lp_status lp_stack(lp_ctx *ctx, int n, lp_array *const *in, int axis, lp_array **out) {
    *out = NULL;
    if (n <= 0) return lpi_error(ctx, LP_ERR_VALUE, "need at least one array to stack");
    int nd = in[0]->ndim;
    for (int k = 1; k < n; k++)
        if (in[k]->ndim != nd || memcmp(in[k]->shape, in[0]->shape, (size_t)nd * sizeof(int64_t)))
            return lpi_error(ctx, LP_ERR_VALUE, "all input arrays must have the same shape");
    if (nd + 1 > LP_MAX_NDIM)
        return lpi_error(ctx, LP_ERR_VALUE, "stack: result would have more than %d dimensions", LP_MAX_NDIM);
    int ax;
    lp_status st = lpi_norm_axis(ctx, axis, nd + 1, &ax);
    if (st) return st;
    int64_t shape[LP_MAX_NDIM];
    for (int i = 0, j = 0; i <= nd; i++) shape[i] = i == ax ? 1 : in[0]->shape[j++];
    lp_array **ex = lp_calloc((size_t)n, sizeof *ex);
    if (!ex) return lpi_nomem(ctx);
    for (int k = 0; k < n && !st; k++) st = lp_reshape(ctx, in[k], nd + 1, shape, &ex[k]);
    if (!st) st = lp_concatenate(ctx, n, ex, ax, out);
    for (int k = 0; k < n; k++) lp_array_release(ex[k]);
    lp_free(ex);
    return st;
}

lp_status lp_broadcast_to(lp_ctx *ctx, lp_array *a, int ndim, const int64_t *shape, lp_array **out) {
    *out = NULL;
    if (ndim < a->ndim || ndim > LP_MAX_NDIM)
        return lpi_error(ctx, LP_ERR_VALUE, "input operand has more dimensions than allowed by the axis remapping");
    char b1[200], b2[200];
    const int off = ndim - a->ndim;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return lpi_error(ctx, LP_ERR_VALUE, "all elements of broadcast shape must be non-negative");
        int64_t d = i < off ? 1 : a->shape[i - off];
        if (d != 1 && d != shape[i])
            return lpi_error(ctx, LP_ERR_SHAPE, "operands could not be broadcast together with remapped shapes "
                             "[original->remapped]: %s  and requested shape %s", lpi_shape_str(b1, sizeof b1, a->ndim, a->shape),
                             lpi_shape_str(b2, sizeof b2, ndim, shape));
    }
    /* leading unit axes first (an affine reshape), then one map: step 0 on the unit axes */
    lp_array *x = a;
    lp_status st = LP_OK;
    if (off) {
        int64_t sh[LP_MAX_NDIM];
        for (int i = 0; i < ndim; i++) sh[i] = i < off ? 1 : a->shape[i - off];
        if ((st = lp_reshape(ctx, a, ndim, sh, &x))) return st;
    }
    lp_array *r = NULL;
    if (!(st = lpi_node_new(ctx, LPI_OP_BROADCAST_TO, a->dtype, ndim, shape, 1, &x, &r))) {
        identity_map(&r->a.map, ndim);
        for (int i = 0; i < ndim; i++)
            if (x->shape[i] != shape[i]) r->a.map.step[i] = 0;
        *out = r;
    }
    if (x != a) lp_array_release(x);
    return st;
}
