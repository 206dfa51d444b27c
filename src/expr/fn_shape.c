/* Catalogue builders that rearrange arrays: flip, roll, swapaxes, moveaxis, expand_dims, squeeze,
 * broadcast_to, tile, repeat, triu/tril, diag/diagonal/trace, split/array_split, the *stack
 * family, atleast_Nd, and the comparisons of whole arrays (isclose, allclose, array_equal).
 * All are compositions of slicing, transposes, reshapes, concatenation and elementwise ops, so
 * they stay lazy and chunked (flip and transposes are affine maps: no copy until computed). */
#include "expr/catalog.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define ARG(name) lpi_call_arg(c, name)
#define KEEP(st_expr, var) ((st = (st_expr)) ? st : (lpi_keep(&t, var), LP_OK))

static lp_index full_slice(void) { return (lp_index){LP_IDX_SLICE, false, false, 0, 0, 1}; }

/* axes given as None (every axis), an int or a tuple, normalized; *n -1 for None */
static lp_status axes_of(lpi_call *c, const lpi_arg *ax, int ndim, int *out, int *n) {
    if (ax->naxes < 0) {
        for (int i = 0; i < ndim; i++) out[i] = i;
        *n = ndim;
        return LP_OK;
    }
    uint32_t seen = 0;
    for (int k = 0; k < ax->naxes; k++) {
        lp_status st = lpi_norm_axis(c->ctx, ax->axes[k], ndim, &out[k]);
        if (st) return st;
        if (seen & (1u << out[k])) return lpi_error(c->ctx, LP_ERR_VALUE, "repeated axis");
        seen |= 1u << out[k];
    }
    *n = ax->naxes;
    return LP_OK;
}

lp_status lpi_fn_flip(lpi_call *c, lp_value *out) {
    lp_array *a = ARG("m")->a, *r = NULL;
    const char *op = c->fn->op;
    int axes[LP_MAX_NDIM], n = 0;
    lp_status st;
    if (op) { /* fliplr / flipud */
        int need = op[0] == 'l' ? 2 : 1;
        if (a->ndim < need)
            return lpi_error(c->ctx, LP_ERR_VALUE, "Input must be >= %d-d.", need);
        axes[0] = op[0] == 'l' ? 1 : 0;
        n = 1;
    } else if ((st = axes_of(c, ARG("axis"), a->ndim, axes, &n))) {
        return st;
    }
    lp_index ix[LP_MAX_NDIM];
    for (int i = 0; i < a->ndim; i++) ix[i] = full_slice();
    for (int k = 0; k < n; k++) ix[axes[k]].step = -1;
    return lpi_out_array(c, lp_slice(c->ctx, a, a->ndim, ix, &r), &r, out);
}

/* elements [lo, hi) along ax */
static lp_status cut(lp_ctx *ctx, lp_array *a, int ax, int64_t lo, int64_t hi, lp_array **out) {
    lp_index ix[LP_MAX_NDIM];
    for (int i = 0; i < a->ndim; i++) ix[i] = full_slice();
    ix[ax] = (lp_index){LP_IDX_SLICE, true, true, lo, hi, 1};
    return lp_slice(ctx, a, a->ndim, ix, out);
}

lp_status lpi_fn_roll(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lp_array *a = ARG("a")->a, *r = a;
    lpi_arg *sh = ARG("shift"), *ax = ARG("axis");
    lpi_tmps t = {0};
    lp_status st = LP_OK;
    /* shifts and axes: ints or tuples (broadcast against each other) */
    int64_t shifts[LP_MAX_NDIM];
    int ns = 0;
    const lp_value *sv = sh->v;
    if (sv->kind == LP_VAL_TUPLE || sv->kind == LP_VAL_LIST) {
        if (sv->n > LP_MAX_NDIM) return lpi_error(ctx, LP_ERR_VALUE, "roll(): too many shifts");
        for (int k = 0; k < sv->n; k++) {
            if (sv->items[k].kind != LP_VAL_INT) return lpi_error(ctx, LP_ERR_TYPE, "roll(): shifts must be integers");
            shifts[ns++] = sv->items[k].i;
        }
    } else if (sv->kind == LP_VAL_INT || sv->kind == LP_VAL_BOOL) {
        shifts[ns++] = sv->kind == LP_VAL_INT ? sv->i : sv->b;
    } else {
        return lpi_error(ctx, LP_ERR_TYPE, "roll(): shift must be an integer or a tuple of integers");
    }
    int64_t m1 = -1;
    if (ax->naxes < 0) {
        /* flattened, rolled, reshaped back */
        if (ns != 1) return lpi_error(ctx, LP_ERR_VALUE, "roll(): one shift without an axis");
        lp_array *f = NULL, *x = NULL, *y = NULL, *j = NULL;
        if ((st = lp_reshape(ctx, a, 1, &m1, &f))) return st;
        lpi_keep(&t, f);
        int64_t n = f->shape[0], s = n ? ((shifts[0] % n) + n) % n : 0;
        lp_array *in[2];
        if (!(st = cut(ctx, f, 0, n - s, n, &x)) && (lpi_keep(&t, x), !(st = cut(ctx, f, 0, 0, n - s, &y)))) {
            lpi_keep(&t, y);
            in[0] = x;
            in[1] = y;
            if (!(st = lp_concatenate(ctx, 2, in, 0, &j))) {
                lpi_keep(&t, j);
                st = lp_reshape(ctx, j, a->ndim, a->shape, &r);
                if (!st) lpi_keep(&t, r);
            }
        }
        return lpi_give(c, &t, st, &r, out);
    }
    int na = ax->naxes;
    if (ns != na && ns != 1 && na != 1) return lpi_error(ctx, LP_ERR_VALUE, "'shift' and 'axis' should be scalars or 1D sequences");
    int cnt = ns > na ? ns : na;
    int64_t total[LP_MAX_NDIM] = {0};
    for (int k = 0; k < cnt; k++) {
        int axk;
        if ((st = lpi_norm_axis(ctx, ax->axes[na == 1 ? 0 : k], a->ndim, &axk))) return st;
        total[axk] += shifts[ns == 1 ? 0 : k];
    }
    for (int i = 0; i < a->ndim && !st; i++) {
        int64_t n = a->shape[i], s = n ? ((total[i] % n) + n) % n : 0;
        if (!s) continue;
        lp_array *x = NULL, *y = NULL, *j = NULL;
        if ((st = cut(ctx, r, i, n - s, n, &x))) break;
        lpi_keep(&t, x);
        if ((st = cut(ctx, r, i, 0, n - s, &y))) break;
        lpi_keep(&t, y);
        lp_array *in[2] = {x, y};
        if ((st = lp_concatenate(ctx, 2, in, i, &j))) break;
        r = lpi_keep(&t, j);
    }
    return lpi_give(c, &t, st, &r, out);
}

static lp_status permute(lpi_call *c, lp_array *a, const int *perm, lp_value *out) {
    lp_array *r = NULL;
    return lpi_out_array(c, lp_transpose(c->ctx, a, perm, &r), &r, out);
}

lp_status lpi_fn_swapaxes(lpi_call *c, lp_value *out) {
    lp_array *a = ARG("a")->a;
    int i, j, perm[LP_MAX_NDIM];
    int64_t ax[2] = {ARG("axis1")->i, ARG("axis2")->i};
    for (int q = 0; q < 2; q++)
        if (ax[q] < -a->ndim || ax[q] >= a->ndim) /* NumPy names the argument */
            return lpi_error(c->ctx, LP_ERR_AXIS, "axis%d: axis %lld is out of bounds for array of dimension %d", q + 1,
                             (long long)ax[q], a->ndim);
    i = (int)(ax[0] < 0 ? ax[0] + a->ndim : ax[0]);
    j = (int)(ax[1] < 0 ? ax[1] + a->ndim : ax[1]);
    for (int k = 0; k < a->ndim; k++) perm[k] = k;
    perm[i] = j;
    perm[j] = i;
    return permute(c, a, perm, out);
}

/* The array API's matrix_transpose: a stack of matrices, each transposed (Array.mT). */
lp_status lpi_fn_matrix_transpose(lpi_call *c, lp_value *out) {
    lp_array *a = ARG("x")->a, *r = NULL;
    if (a->ndim < 2)
        return lpi_error(c->ctx, LP_ERR_VALUE, "matrix_transpose: x must have at least 2 dimensions, got %d", a->ndim);
    return lpi_out_array(c, lpi_matrix_transpose(c->ctx, a, &r), &r, out);
}

lp_status lpi_fn_moveaxis(lpi_call *c, lp_value *out) {
    lp_array *a = ARG("a")->a;
    lpi_arg *src = ARG("source"), *dst = ARG("destination");
    int s[LP_MAX_NDIM], d[LP_MAX_NDIM], ns, nd;
    lp_status st;
    if (src->naxes < 0 || dst->naxes < 0) return lpi_error(c->ctx, LP_ERR_TYPE, "'NoneType' object cannot be interpreted as an integer");
    if ((st = axes_of(c, src, a->ndim, s, &ns)) || (st = axes_of(c, dst, a->ndim, d, &nd))) return st;
    if (ns != nd)
        return lpi_error(c->ctx, LP_ERR_VALUE, "`source` and `destination` arguments must have the same number of elements");
    int perm[LP_MAX_NDIM], k = 0;
    bool moved[LP_MAX_NDIM] = {false}, placed[LP_MAX_NDIM] = {false};
    for (int q = 0; q < ns; q++) moved[s[q]] = true;
    int order[LP_MAX_NDIM], no = 0;
    for (int i = 0; i < a->ndim; i++) if (!moved[i]) order[no++] = i;
    for (int q = 0; q < ns; q++) { perm[d[q]] = s[q]; placed[d[q]] = true; }
    for (int i = 0; i < a->ndim; i++) if (!placed[i]) perm[i] = order[k++];
    return permute(c, a, perm, out);
}

lp_status lpi_fn_expand_dims(lpi_call *c, lp_value *out) {
    lp_array *a = ARG("a")->a, *r = NULL;
    lpi_arg *ax = ARG("axis");
    if (ax->naxes < 0) return lpi_error(c->ctx, LP_ERR_TYPE, "'NoneType' object cannot be interpreted as an integer");
    int nd = a->ndim + ax->naxes, axes[LP_MAX_NDIM], n;
    if (nd > LP_MAX_NDIM) return lpi_error(c->ctx, LP_ERR_VALUE, "expand_dims: at most %d dimensions", LP_MAX_NDIM);
    lpi_arg fake = *ax;
    lp_status st = axes_of(c, &fake, nd, axes, &n);
    if (st) return st;
    bool unit[LP_MAX_NDIM] = {false};
    for (int k = 0; k < n; k++) unit[axes[k]] = true;
    int64_t shape[LP_MAX_NDIM];
    for (int i = 0, j = 0; i < nd; i++) shape[i] = unit[i] ? 1 : a->shape[j++];
    return lpi_out_array(c, lp_reshape(c->ctx, a, nd, shape, &r), &r, out);
}

lp_status lpi_fn_squeeze(lpi_call *c, lp_value *out) {
    lp_array *a = ARG("a")->a, *r = NULL;
    lpi_arg *ax = ARG("axis");
    bool drop[LP_MAX_NDIM] = {false};
    if (ax->naxes < 0) {
        for (int i = 0; i < a->ndim; i++) drop[i] = a->shape[i] == 1;
    } else {
        int axes[LP_MAX_NDIM], n;
        lp_status st = axes_of(c, ax, a->ndim, axes, &n);
        if (st) return st;
        for (int k = 0; k < n; k++) {
            if (a->shape[axes[k]] != 1)
                return lpi_error(c->ctx, LP_ERR_VALUE, "cannot select an axis to squeeze out which has size not equal to one");
            drop[axes[k]] = true;
        }
    }
    int64_t shape[LP_MAX_NDIM];
    int nd = 0;
    for (int i = 0; i < a->ndim; i++) if (!drop[i]) shape[nd++] = a->shape[i];
    return lpi_out_array(c, lp_reshape(c->ctx, a, nd, shape, &r), &r, out);
}

lp_status lpi_fn_broadcast_to(lpi_call *c, lp_value *out) {
    lpi_arg *sh = ARG("shape");
    lp_array *r = NULL;
    return lpi_out_array(c, lp_broadcast_to(c->ctx, ARG("array")->a, sh->ndim, sh->shape, &r), &r, out);
}

/* tile: A (padded with leading unit axes to len(reps)) gets a unit axis before each of its
 * axes, broadcast to the repetitions, then the pairs are merged (reps[i] * shape[i]) */
lp_status lpi_fn_tile(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lp_array *a = ARG("A")->a, *r = NULL, *x = NULL, *b = NULL;
    lpi_arg *reps = ARG("reps");
    int nr = reps->ndim, d = nr > a->ndim ? nr : a->ndim;
    if (2 * d > LP_MAX_NDIM) return lpi_error(ctx, LP_ERR_VALUE, "tile: at most %d dimensions", LP_MAX_NDIM / 2);
    int64_t rp[LP_MAX_NDIM], sh[LP_MAX_NDIM], two[LP_MAX_NDIM], big[LP_MAX_NDIM], fin[LP_MAX_NDIM];
    for (int i = 0; i < d; i++) {
        rp[i] = i < d - nr ? 1 : reps->shape[i - (d - nr)];
        sh[i] = i < d - a->ndim ? 1 : a->shape[i - (d - a->ndim)];
        if (rp[i] < 0) return lpi_error(ctx, LP_ERR_VALUE, "negative dimensions are not allowed");
        two[2 * i] = 1;
        two[2 * i + 1] = sh[i];
        big[2 * i] = rp[i];
        big[2 * i + 1] = sh[i];
        fin[i] = rp[i] * sh[i];
    }
    lpi_tmps t = {0};
    lp_status st;
    if (!KEEP(lp_reshape(ctx, a, 2 * d, two, &x), x) && !KEEP(lp_broadcast_to(ctx, x, 2 * d, big, &b), b) &&
        !KEEP(lp_reshape(ctx, b, d, fin, &r), r))
        st = LP_OK;
    return lpi_give(c, &t, st, &r, out);
}

/* repeat with one count: a unit axis after `axis`, broadcast to the count, merged */
/* repeat with one count per element along the axis: the counts are read now (the result's
 * length depends on them, as a mask's count does), and the source of output position j is
 * searchsorted(cumsum(counts), j, 'right'), a lazy gather (take) over the axis */
static lp_status repeat_counts(lp_ctx *ctx, lpi_tmps *t, lp_array *a, int axis, lp_array *reps, lp_array **out) {
    lp_status st;
    if (lpi_dtype_kind(reps->dtype) != LPI_KIND_INT && reps->dtype != LP_BOOL)
        return lpi_error(ctx, LP_ERR_TYPE, "Cannot cast array data from dtype('%s') to dtype('int64') according to the rule 'safe'",
                         lp_dtype_name(reps->dtype));
    if (reps->ndim > 1) return lpi_error(ctx, LP_ERR_VALUE, "object too deep for desired array");
    const int64_t n = a->shape[axis];
    if (reps->size != 1 && reps->size != n)
        return lpi_error(ctx, LP_ERR_VALUE, "operands could not be broadcast together with shape (%lld,) (%lld,)", (long long)n,
                         (long long)reps->size);
    lp_array *r64 = reps;
    if (reps->dtype != LP_INT64) {
        if ((st = lp_astype(ctx, reps, LP_INT64, &r64))) return st;
        lpi_keep(t, r64);
    }
    if (!lp_array_result(r64) && (st = lpi_run_now(ctx, &r64, 1))) return st;
    const int64_t *rv = lp_buffer_data(lp_array_result(r64));
    int64_t *cs = lp_malloc((size_t)(n ? n : 1) * sizeof *cs), total = 0;
    if (!cs) return lpi_nomem(ctx);
    for (int64_t i = 0; i < n; i++) {
        int64_t k = rv[reps->size == 1 ? 0 : i];
        if (k < 0) { lp_free(cs); return lpi_error(ctx, LP_ERR_VALUE, "repeats may not contain negative values."); }
        if (k > INT64_MAX / 16 - total) { lp_free(cs); return lpi_error(ctx, LP_ERR_VALUE, "repeat: the result is too large"); }
        cs[i] = total += k;
    }
    lp_buffer *cb = NULL;
    lp_array *csa = NULL, *pos = NULL, *src = NULL;
    st = lp_buffer_create(ctx, LP_INT64, 1, &n, cs, &cb);
    lp_free(cs);
    if (!st) st = lp_from_buffer(ctx, cb, &csa);
    lp_buffer_release(cb);
    if (st) return st;
    lpi_keep(t, csa);
    if ((st = lp_arange(ctx, 0, (double)total, 1, LP_INT64, &pos))) return st;
    lpi_keep(t, pos);
    if ((st = lpi_searchsorted(ctx, csa, pos, true, &src))) return st;
    lpi_keep(t, src);
    if ((st = lpi_take(ctx, a, src, axis, out))) return st;
    lpi_keep(t, *out);
    return LP_OK;
}

lp_status lpi_fn_repeat(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lp_array *a = ARG("a")->a, *r = NULL, *x = NULL, *b = NULL, *f = NULL;
    lpi_arg *rp = ARG("repeats"), *ax = ARG("axis");
    const lp_value *rv = rp->v;
    lp_array *reps = NULL;
    int64_t n = 0;
    if (rv && (rv->kind == LP_VAL_INT || rv->kind == LP_VAL_BOOL)) {
        n = rv->kind == LP_VAL_INT ? rv->i : rv->b;
    } else if (rv && (rv->kind == LP_VAL_ARRAY || rv->kind == LP_VAL_LIST || rv->kind == LP_VAL_TUPLE)) {
        lp_status st = lpi_value_to_array(ctx, rv, false, c->fname, &reps);
        if (st) return st;
        if (rv->kind != LP_VAL_ARRAY && lpi_dtype_kind(reps->dtype) == LPI_KIND_FLOAT) {
            /* a Python list of floats: NumPy converts each with int() */
            lp_array *ri = NULL;
            st = lp_astype(ctx, reps, LP_INT64, &ri);
            lp_array_release(reps);
            if (st) return st;
            reps = ri;
        }
    } else {
        return lpi_error(ctx, LP_ERR_TYPE, "repeat(): repeats must be an integer or an array of integers");
    }
    if (n < 0) return lpi_error(ctx, LP_ERR_VALUE, "negative dimensions are not allowed");
    lpi_tmps t = {0};
    lp_status st = LP_OK;
    if (reps) lpi_keep(&t, reps);
    int axis = 0;
    if (ax->naxes < 0) {
        int64_t m1 = -1;
        if (KEEP(lp_reshape(ctx, a, 1, &m1, &f), f)) return lpi_give(c, &t, st, &r, out);
        a = f;
    } else if (ax->axis_tuple || (st = lpi_norm_axis(ctx, ax->axes[0], a->ndim, &axis))) {
        lpi_drop(&t);
        return st ? st : lpi_error(ctx, LP_ERR_TYPE, "'tuple' object cannot be interpreted as an integer");
    }
    if (reps && reps->ndim == 0 && lpi_dtype_kind(reps->dtype) == LPI_KIND_INT && reps->dtype != LP_BOOL) {
        /* a 0-d array of counts is one count for all */
        lp_array *r64 = reps;
        if (reps->dtype != LP_INT64 && KEEP(lp_astype(ctx, reps, LP_INT64, &r64), r64)) return lpi_give(c, &t, st, &r, out);
        if (!lp_array_result(r64) && (st = lpi_run_now(ctx, &r64, 1))) return lpi_give(c, &t, st, &r, out);
        n = *(const int64_t *)lp_buffer_data(lp_array_result(r64));
        if (n < 0) { lpi_drop(&t); return lpi_error(ctx, LP_ERR_VALUE, "repeats may not contain negative values."); }
        reps = NULL;
    }
    if (reps) {
        st = repeat_counts(ctx, &t, a, axis, reps, &r);
        return lpi_give(c, &t, st, &r, out);
    }
    if (a->ndim + 1 > LP_MAX_NDIM) return lpi_error(ctx, LP_ERR_VALUE, "repeat: too many dimensions");
    int64_t s1[LP_MAX_NDIM], s2[LP_MAX_NDIM], s3[LP_MAX_NDIM];
    for (int i = 0, j = 0; i <= a->ndim; i++) {
        if (i == axis + 1) { s1[i] = 1; s2[i] = n; continue; }
        s1[i] = s2[i] = a->shape[j++];
    }
    for (int i = 0; i < a->ndim; i++) s3[i] = i == axis ? a->shape[i] * n : a->shape[i];
    if (!KEEP(lp_reshape(ctx, a, a->ndim + 1, s1, &x), x) && !KEEP(lp_broadcast_to(ctx, x, a->ndim + 1, s2, &b), b))
        KEEP(lp_reshape(ctx, b, a->ndim, s3, &r), r);
    return lpi_give(c, &t, st, &r, out);
}

/* the mask of tri(N, M, k): j - i <= k (bool, N x M), lazily */
static lp_status tri_mask(lp_ctx *ctx, lpi_tmps *t, int64_t N, int64_t M, int64_t k, lp_array **out) {
    lp_array *i = NULL, *j = NULL, *i2 = NULL, *d = NULL, *kk = NULL;
    int64_t si[2] = {N, 1};
    lp_status st;
    if ((st = lp_arange(ctx, 0, (double)N, 1, LP_INT64, &i)) || (lpi_keep(t, i), (st = lp_reshape(ctx, i, 2, si, &i2))) ||
        (lpi_keep(t, i2), (st = lp_arange(ctx, 0, (double)M, 1, LP_INT64, &j))) ||
        (lpi_keep(t, j), (st = lp_binary(ctx, "subtract", j, i2, &d))) ||
        (lpi_keep(t, d), (st = lp_scalar_array(ctx, lp_scalar_i(k), &kk))) ||
        (lpi_keep(t, kk), (st = lp_binary(ctx, "less_equal", d, kk, out))))
        return st;
    lpi_keep(t, *out);
    return LP_OK;
}

lp_status lpi_fn_tril(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lp_array *m = ARG("m")->a, *mask = NULL, *zero = NULL, *r = NULL;
    int64_t k = ARG("k")->i;
    bool upper = !strcmp(c->fn->op, "triu");
    if (m->ndim == 0) return lpi_error(ctx, LP_ERR_VALUE, "%s(): the input must be at least 1-d", c->fname);
    int64_t M = m->shape[m->ndim - 1], N = m->ndim >= 2 ? m->shape[m->ndim - 2] : M;
    lpi_tmps t = {0};
    lp_status st;
    if (!(st = tri_mask(ctx, &t, N, M, upper ? k - 1 : k, &mask)) && !KEEP(lp_zeros(ctx, m->dtype, 0, NULL, &zero), zero)) {
        lp_array *in[3] = {mask, upper ? zero : m, upper ? m : zero};
        KEEP(lp_where(ctx, in[0], in[1], in[2], &r), r);
    }
    return lpi_give(c, &t, st, &r, out);
}

/* numpy.diagonal: axis1, axis2 moved last, flattened, every (M+1)-th element from the start */
static lp_status diagonal(lpi_call *c, lpi_tmps *t, lp_array *a, int64_t k, int ax1, int ax2, lp_array **out) {
    lp_ctx *ctx = c->ctx;
    int i1, i2;
    lp_status st;
    if (a->ndim < 2) return lpi_error(ctx, LP_ERR_VALUE, "diag requires an array of at least two dimensions");
    if ((st = lpi_norm_axis(ctx, ax1, a->ndim, &i1)) || (st = lpi_norm_axis(ctx, ax2, a->ndim, &i2))) return st;
    if (i1 == i2) return lpi_error(ctx, LP_ERR_VALUE, "axis1 and axis2 cannot be the same");
    int perm[LP_MAX_NDIM], q = 0;
    for (int i = 0; i < a->ndim; i++) if (i != i1 && i != i2) perm[q++] = i;
    perm[q++] = i1;
    perm[q++] = i2;
    lp_array *tr = NULL, *flat = NULL;
    if ((st = lp_transpose(ctx, a, perm, &tr))) return st;
    lpi_keep(t, tr);
    int64_t N = tr->shape[a->ndim - 2], M = tr->shape[a->ndim - 1];
    int64_t L = k >= 0 ? (M - k < N ? M - k : N) : (N + k < M ? N + k : M);
    if (L < 0) L = 0;
    int64_t sh[LP_MAX_NDIM];
    for (int i = 0; i < a->ndim - 2; i++) sh[i] = tr->shape[i];
    sh[a->ndim - 2] = N * M;
    if ((st = lp_reshape(ctx, tr, a->ndim - 1, sh, &flat))) return st;
    lpi_keep(t, flat);
    int64_t start = k >= 0 ? k : -k * M;
    lp_index ix[LP_MAX_NDIM];
    for (int i = 0; i < a->ndim - 1; i++) ix[i] = full_slice();
    ix[a->ndim - 2] = L ? (lp_index){LP_IDX_SLICE, true, true, start, start + (L - 1) * (M + 1) + 1, M + 1}
                        : (lp_index){LP_IDX_SLICE, true, true, 0, 0, 1};
    if ((st = lp_slice(ctx, flat, a->ndim - 1, ix, out))) return st;
    lpi_keep(t, *out);
    return LP_OK;
}

lp_status lpi_fn_diagonal(lpi_call *c, lp_value *out) {
    lpi_tmps t = {0};
    lp_array *r = NULL;
    lp_status st = diagonal(c, &t, ARG("a")->a, ARG("offset")->i, (int)ARG("axis1")->i, (int)ARG("axis2")->i, &r);
    return lpi_give(c, &t, st, &r, out);
}

lp_status lpi_fn_trace(lpi_call *c, lp_value *out) {
    lpi_tmps t = {0};
    lp_array *d = NULL, *r = NULL, *src;
    lpi_arg *dt = ARG("dtype");
    lp_status st = diagonal(c, &t, ARG("a")->a, ARG("offset")->i, (int)ARG("axis1")->i, (int)ARG("axis2")->i, &d);
    src = d;
    if (!st && dt->given && dt->dt != d->dtype && !(st = lp_astype(c->ctx, d, dt->dt, &src))) lpi_keep(&t, src);
    int ax = -1;
    if (!st && !(st = lp_reduce(c->ctx, "sum", src, &ax, 1, false, &r))) lpi_keep(&t, r);
    return lpi_give(c, &t, st, &r, out);
}

/* numpy.diag: a 1-d v on the k-th diagonal of a square matrix, or a 2-d v's k-th diagonal */
lp_status lpi_fn_diag(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lp_array *v = ARG("v")->a, *r = NULL;
    int64_t k = ARG("k")->i;
    lpi_tmps t = {0};
    lp_status st = LP_OK;
    if (v->ndim == 2) {
        st = diagonal(c, &t, v, k, 0, 1, &r);
        return lpi_give(c, &t, st, &r, out);
    }
    if (v->ndim != 1) return lpi_error(ctx, LP_ERR_VALUE, "Input must be 1- or 2-d.");
    /* out[i, j] = v[min(i, j)] where j - i == k: a padded v along the short side, masked */
    int64_t L = v->shape[0], ak = k < 0 ? -k : k, n = L + ak;
    lp_array *pad = NULL, *z = NULL, *vv = NULL, *mask = NULL, *zero = NULL, *m2 = NULL;
    int64_t shp[2] = {k >= 0 ? n : 1, k >= 0 ? 1 : n};
    lp_array *in[2];
    if (KEEP(lp_zeros(ctx, v->dtype, 1, &ak, &z), z)) return lpi_give(c, &t, st, &r, out);
    in[0] = v;
    in[1] = z;
    if (!KEEP(lp_concatenate(ctx, 2, in, 0, &pad), pad) && !KEEP(lp_reshape(ctx, pad, 2, shp, &vv), vv) &&
        !(st = tri_mask(ctx, &t, n, n, k, &mask)) && !(st = tri_mask(ctx, &t, n, n, k - 1, &m2))) {
        lp_array *eq = NULL;
        if (!KEEP(lp_binary(ctx, "logical_xor", mask, m2, &eq), eq) && !KEEP(lp_zeros(ctx, v->dtype, 0, NULL, &zero), zero)) {
            lp_array *w[3] = {eq, vv, zero};
            KEEP(lp_where(ctx, w[0], w[1], w[2], &r), r);
        }
    }
    return lpi_give(c, &t, st, &r, out);
}

/* ---- splitting and stacking ---- */

lp_status lpi_fn_split(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lp_array *a = ARG("ary")->a;
    lpi_arg *ios = ARG("indices_or_sections"), *ax = ARG("axis");
    bool strict = !strcmp(c->fn->op, "split");
    int axis;
    lp_status st = lpi_norm_axis(ctx, (int)ax->i, a->ndim, &axis);
    if (st) return st;
    int64_t n = a->shape[axis];
    int64_t bounds[1025];
    int nb = 0;
    const lp_value *v = ios->v;
    if (v->kind == LP_VAL_INT) {
        int64_t sec = v->i;
        if (sec <= 0) return lpi_error(ctx, LP_ERR_VALUE, "number sections must be larger than 0.");
        if (sec > 1024) return lpi_error(ctx, LP_ERR_LIMIT, "%s(): at most 1024 sections", c->fname);
        if (strict && n % sec) return lpi_error(ctx, LP_ERR_VALUE, "array split does not result in an equal division");
        int64_t each = n / sec, extra = n % sec, pos = 0;
        bounds[nb++] = 0;
        for (int64_t s = 0; s < sec; s++) { pos += each + (s < extra); bounds[nb++] = pos; }
    } else if (v->kind == LP_VAL_TUPLE || v->kind == LP_VAL_LIST) {
        if (v->n > 1022) return lpi_error(ctx, LP_ERR_LIMIT, "%s(): at most 1023 sections", c->fname);
        bounds[nb++] = 0;
        for (int k = 0; k < v->n; k++) {
            if (v->items[k].kind != LP_VAL_INT) return lpi_error(ctx, LP_ERR_TYPE, "%s(): indices must be integers", c->fname);
            bounds[nb++] = v->items[k].i;
        }
        bounds[nb++] = n;
    } else {
        return lpi_error(ctx, LP_ERR_TYPE, "%s(): indices_or_sections must be an integer or a sequence of integers", c->fname);
    }
    lp_array **parts = lp_calloc((size_t)nb, sizeof *parts);
    if (!parts) return lpi_nomem(ctx);
    for (int k = 0; k + 1 < nb && !st; k++) {
        /* Python slicing of [b_k : b_{k+1}] (clamped, negative counted from the end) */
        lp_index ix[LP_MAX_NDIM];
        for (int i = 0; i < a->ndim; i++) ix[i] = full_slice();
        ix[axis] = (lp_index){LP_IDX_SLICE, true, true, bounds[k], bounds[k + 1], 1};
        st = lp_slice(ctx, a, a->ndim, ix, &parts[k]);
    }
    if (st) {
        for (int k = 0; k < nb; k++) lp_array_release(parts[k]);
        lp_free(parts);
        return st;
    }
    st = lpi_out_list(c, LP_VAL_LIST, parts, nb - 1, out);
    lp_free(parts);
    return st;
}

/* a with at least nd dimensions, NumPy's way: 1-d (N,) -> (1, N); 3-d: (1, N, 1) / (M, N, 1) */
static lp_status atleast(lp_ctx *ctx, lp_array *a, int nd, lp_array **out) {
    int64_t s[LP_MAX_NDIM];
    int n = a->ndim;
    if (n >= nd) { lp_array_retain(a); *out = a; return LP_OK; }
    if (nd == 1) { s[0] = 1; n = 1; }
    else if (nd == 2) { s[0] = 1; s[1] = n ? a->shape[0] : 1; n = 2; }
    else if (n == 0) { s[0] = s[1] = s[2] = 1; n = 3; }
    else if (n == 1) { s[0] = 1; s[1] = a->shape[0]; s[2] = 1; n = 3; }
    else { s[0] = a->shape[0]; s[1] = a->shape[1]; s[2] = 1; n = 3; }
    return lp_reshape(ctx, a, n, s, out);
}

lp_status lpi_fn_atleast(lpi_call *c, lp_value *out) {
    lpi_arg *arys = ARG("arys");
    int nd = c->fn->op[0] - '0';
    struct { int n; } vv = {arys->n}, *v = &vv;
    lp_array **r = lp_calloc((size_t)(v->n ? v->n : 1), sizeof *r);
    lp_status st = r ? LP_OK : lpi_nomem(c->ctx);
    for (int k = 0; k < v->n && !st; k++) st = atleast(c->ctx, arys->as[k], nd, &r[k]);
    if (!st && v->n == 1) {
        lp_array *one = r[0];
        lp_free(r);
        return lpi_out_array(c, LP_OK, &one, out);
    }
    if (st) { for (int k = 0; r && k < v->n; k++) lp_array_release(r[k]); lp_free(r); return st; }
    st = lpi_out_list(c, LP_VAL_TUPLE, r, v->n, out);
    lp_free(r);
    return st;
}

/* vstack hstack dstack column_stack */
lp_status lpi_fn_stackfam(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_arg *tup = ARG("tup");
    const char *op = c->fn->op;
    int n = tup->n;
    if (n == 0) return lpi_error(ctx, LP_ERR_VALUE, "need at least one array to concatenate");
    lp_array **x = lp_calloc((size_t)n, sizeof *x), *r = NULL;
    if (!x) return lpi_nomem(ctx);
    lp_status st = LP_OK;
    int axis = 0;
    for (int k = 0; k < n && !st; k++) {
        lp_array *a = tup->as[k];
        if (op[0] == 'v') st = atleast(ctx, a, 2, &x[k]);
        else if (op[0] == 'd') st = atleast(ctx, a, 3, &x[k]);
        else if (op[0] == 'h') st = atleast(ctx, a, 1, &x[k]);
        else if (a->ndim < 2) { int64_t s[2] = {a->ndim ? a->shape[0] : 1, 1}; st = lp_reshape(ctx, a, 2, s, &x[k]); }
        else { lp_array_retain(a); x[k] = a; }
    }
    if (!st) {
        axis = op[0] == 'v' ? 0 : op[0] == 'd' ? 2 : op[0] == 'h' ? (x[0]->ndim == 1 ? 0 : 1) : 1;
        st = lp_concatenate(ctx, n, x, axis, &r);
    }
    for (int k = 0; k < n; k++) lp_array_release(x[k]);
    lp_free(x);
    return lpi_out_array(c, st, &r, out);
}

/* ---- whole-array comparisons ---- */

/* NumPy 2's isclose: |x - y| <= atol + rtol |y| and y finite, or x == y; y in a float dtype */
static lp_status isclose(lpi_call *c, lpi_tmps *t, lp_array *x, lp_array *y, double rtol, double atol, bool equal_nan,
                         lp_array **out) {
    lp_ctx *ctx = c->ctx;
    lp_array *yf = y, *d = NULL, *ad = NULL, *ay = NULL, *ry = NULL, *tol = NULL, *le = NULL, *fin = NULL, *both = NULL,
             *eq = NULL, *r = NULL, *rt = NULL, *at = NULL;
    lp_status st;
    /* (a complex y stays complex: a cast to float64 would drop its imaginary part) */
    lp_dtype yt = lpi_is_weak(y) ? LP_FLOAT64 : lpi_dtype_kind(y->dtype) >= LPI_KIND_FLOAT ? y->dtype : LP_FLOAT64;
    if (y->dtype != yt && !lpi_is_weak(y)) {
        if ((st = lp_astype(ctx, y, yt, &yf))) return st;
        lpi_keep(t, yf);
    }
#define STEP(e, v) if ((st = (e))) return st; lpi_keep(t, v)
    STEP(lp_scalar_array(ctx, lp_scalar_f(rtol), &rt), rt);
    STEP(lp_scalar_array(ctx, lp_scalar_f(atol), &at), at);
    STEP(lp_binary(ctx, "subtract", x, yf, &d), d);
    STEP(lp_unary(ctx, "abs", d, &ad), ad);
    STEP(lp_unary(ctx, "abs", yf, &ay), ay);
    STEP(lp_binary(ctx, "multiply", rt, ay, &ry), ry);
    STEP(lp_binary(ctx, "add", at, ry, &tol), tol);
    STEP(lp_binary(ctx, "less_equal", ad, tol, &le), le);
    STEP(lp_unary(ctx, "isfinite", yf, &fin), fin);
    STEP(lp_binary(ctx, "bitwise_and", le, fin, &both), both);
    STEP(lp_binary(ctx, "equal", x, yf, &eq), eq);
    STEP(lp_binary(ctx, "bitwise_or", both, eq, &r), r);
    if (equal_nan) {
        lp_array *nx = NULL, *ny = NULL, *nn = NULL, *r2 = NULL;
        STEP(lp_unary(ctx, "isnan", x, &nx), nx);
        STEP(lp_unary(ctx, "isnan", yf, &ny), ny);
        STEP(lp_binary(ctx, "bitwise_and", nx, ny, &nn), nn);
        STEP(lp_binary(ctx, "bitwise_or", r, nn, &r2), r2);
        r = r2;
    }
#undef STEP
    *out = r;
    return LP_OK;
}

lp_status lpi_fn_isclose(lpi_call *c, lp_value *out) {
    lpi_tmps t = {0};
    lp_array *r = NULL, *all = NULL;
    lp_status st = isclose(c, &t, ARG("a")->a, ARG("b")->a, ARG("rtol")->f, ARG("atol")->f, ARG("equal_nan")->b, &r);
    if (!st && !strcmp(c->fn->op, "allclose")) {
        if (!(st = lp_reduce(c->ctx, "all", r, NULL, 0, false, &all))) lpi_keep(&t, all);
        r = all;
    }
    return lpi_give(c, &t, st, &r, out);
}

/* array_equal / array_equiv: a 0-d bool array (NumPy's Python bool, lazily) */
lp_status lpi_fn_array_equal(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lp_array *a = ARG("a1")->a, *b = ARG("a2")->a, *r = NULL, *eq = NULL;
    lpi_arg *en = ARG("equal_nan");
    bool equiv = !strcmp(c->fn->op, "array_equiv");
    bool same = a->ndim == b->ndim && !memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof(int64_t));
    if (equiv && !same) {
        /* broadcastable shapes compare; others are not equivalent */
        int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
        same = true;
        for (int i = 0; i < nd; i++) {
            int64_t x = i < nd - a->ndim ? 1 : a->shape[i - (nd - a->ndim)], y = i < nd - b->ndim ? 1 : b->shape[i - (nd - b->ndim)];
            same &= x == y || x == 1 || y == 1;
        }
    }
    if (!same) return lpi_out_array(c, lp_full(ctx, LP_BOOL, 0, NULL, lp_scalar_b(false), &r), &r, out);
    lpi_tmps t = {0};
    lp_status st;
    if (!KEEP(lp_binary(ctx, "equal", a, b, &eq), eq) && en && en->b) {
        lp_array *na = NULL, *nb = NULL, *nn = NULL, *e2 = NULL;
        if (!KEEP(lp_unary(ctx, "isnan", a, &na), na) && !KEEP(lp_unary(ctx, "isnan", b, &nb), nb) &&
            !KEEP(lp_binary(ctx, "bitwise_and", na, nb, &nn), nn) && !KEEP(lp_binary(ctx, "bitwise_or", eq, nn, &e2), e2))
            eq = e2;
    }
    if (!st) KEEP(lp_reduce(ctx, "all", eq, NULL, 0, false, &r), r);
    return lpi_give(c, &t, st, &r, out);
}
