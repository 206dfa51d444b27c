/* Catalogue builders of indexing by data and of the functions whose result size depends on the
 * data: take, boolean masks (compress, extract), nonzero/argwhere/flatnonzero, unique,
 * searchsorted, bincount, histogram.
 *
 * A size that depends on data is found when the expression is built: the array it depends on
 * (a mask, the sorted values' change flags, the maximum of bincount's input) is computed with
 * the executor (lpi_run_now: lp_run) and kept as the node's result, so the later run reads it instead of computing it
 * again, and everything downstream has a known shape (Python's x[mask].shape is a number, as in
 * NumPy). Only that array is computed early; the data it selects stays lazy. */
#include "expr/catalog.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define ARG(name) lpi_call_arg(c, name)
#define KEEP(st_expr, var) ((st = (st_expr)) ? st : (lpi_keep(&t, var), LP_OK))
#define MASK_BLOCK_ELEMS (1 << 20)

/* Compute targets now and keep their results on the nodes (the run reuses them). */
static lp_status compute_now(lp_ctx *ctx, lp_array **targets, int n) {
    bool all = true;
    for (int k = 0; k < n; k++) all &= lp_array_result(targets[k]) != NULL;
    return all ? LP_OK : lpi_run_now(ctx, targets, n);
}

/* A computed bool mask's true elements per block of rows (about a million elements each). */
static lp_status mask_counts(lp_ctx *ctx, lp_array *mask, lp_array **counts, int64_t *block) {
    lp_buffer *r = lp_array_result(mask);
    if (!r) return lpi_error(ctx, LP_ERR_INTERNAL, "mask_counts: the mask is not computed");
    int64_t rows = mask->ndim ? mask->shape[0] : 1, per = 1;
    for (int i = 1; i < mask->ndim; i++) per *= mask->shape[i];
    int64_t B = per ? MASK_BLOCK_ELEMS / per : rows;
    if (B < 1) B = 1;
    int64_t nb = rows ? (rows + B - 1) / B : 1;
    int64_t *c = lp_calloc((size_t)nb, sizeof *c);
    if (!c) return lpi_nomem(ctx);
    const uint8_t *m = r->data;
    for (int64_t k = 0; k < nb; k++) {
        int64_t lo = k * B * per, hi = (k + 1) * B * per < rows * per ? (k + 1) * B * per : rows * per;
        int64_t s = 0;
        for (int64_t i = lo; i < hi; i++) s += m[i] != 0;
        c[k] = s;
    }
    lp_buffer *b = NULL;
    lp_status st = lp_buffer_create(ctx, LP_INT64, 1, &nb, c, &b);
    lp_free(c);
    if (!st) st = lp_from_buffer(ctx, b, counts);
    lp_buffer_release(b);
    *block = B;
    return st;
}

/* x != 0 as a bool mask (bool x itself), computed now; new reference */
static lp_status truth(lp_ctx *ctx, lp_array *x, lp_array **out) {
    lp_status st;
    if (x->dtype == LP_BOOL) { lp_array_retain(x); *out = x; }
    else {
        lp_array *z = NULL;
        if ((st = lp_scalar_array(ctx, lp_scalar_i(0), &z))) return st;
        st = lp_binary(ctx, "not_equal", x, z, out);
        lp_array_release(z);
        if (st) return st;
    }
    if ((st = compute_now(ctx, out, 1))) { lp_array_release(*out); *out = NULL; }
    return st;
}

/* x[mask] for a bool mask over x's leading axes */
static lp_status masked(lp_ctx *ctx, lp_array *x, lp_array *mask, lp_array **out) {
    lp_array *m = NULL, *cnt = NULL;
    int64_t B;
    lp_status st = truth(ctx, mask, &m);
    if (!st && !(st = mask_counts(ctx, m, &cnt, &B))) st = lpi_compress(ctx, x, m, cnt, B, out);
    lp_array_release(m);
    lp_array_release(cnt);
    return st;
}

/* (count, ndim) coordinates of the true elements of x != 0 */
static lp_status argwhere(lp_ctx *ctx, lp_array *x, lp_array **out) {
    lp_array *m = NULL, *cnt = NULL;
    int64_t B;
    lp_status st = truth(ctx, x, &m);
    if (!st && !(st = mask_counts(ctx, m, &cnt, &B))) st = lpi_nonzero(ctx, m, cnt, B, out);
    lp_array_release(m);
    lp_array_release(cnt);
    return st;
}

/* column d of a (count, ndim) array */
static lp_status column(lp_ctx *ctx, lp_array *a, int64_t d, lp_array **out) {
    lp_index ix[2] = {{LP_IDX_SLICE, false, false, 0, 0, 1}, {LP_IDX_INT, false, false, d, 0, 0}};
    return lp_slice(ctx, a, 2, ix, out);
}

static lp_status nonzero_tuple(lpi_call *c, lp_array *x, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    if (x->ndim == 0)
        return lpi_error(ctx, LP_ERR_VALUE, "Calling nonzero on 0d arrays is not allowed. Use np.atleast_1d(scalar).nonzero() instead.");
    lp_array *aw = NULL, *cols[LP_MAX_NDIM] = {0};
    lp_status st = argwhere(ctx, x, &aw);
    for (int d = 0; d < x->ndim && !st; d++) st = column(ctx, aw, d, &cols[d]);
    lp_array_release(aw);
    if (st) { for (int d = 0; d < x->ndim; d++) lp_array_release(cols[d]); return st; }
    return lpi_out_list(c, LP_VAL_TUPLE, cols, x->ndim, out);
}

lp_status lpi_fn_nonzero(lpi_call *c, lp_value *out) { return nonzero_tuple(c, ARG("a")->a, out); }

lp_status lpi_fn_argwhere(lpi_call *c, lp_value *out) {
    lp_array *a = ARG("a")->a, *r = NULL, *one = NULL;
    lp_status st;
    if (a->ndim == 0) {
        /* NumPy: argwhere of the 1-d view, with its (one) coordinate column dropped */
        int64_t s1 = 1;
        lp_array *aw = NULL;
        lp_index ix[2] = {{LP_IDX_SLICE, false, false, 0, 0, 1}, {LP_IDX_SLICE, true, true, 0, 0, 1}};
        if (!(st = lp_reshape(c->ctx, a, 1, &s1, &one)) && !(st = argwhere(c->ctx, one, &aw))) st = lp_slice(c->ctx, aw, 2, ix, &r);
        lp_array_release(one);
        lp_array_release(aw);
        return lpi_out_array(c, st, &r, out);
    }
    return lpi_out_array(c, argwhere(c->ctx, a, &r), &r, out);
}

lp_status lpi_fn_flatnonzero(lpi_call *c, lp_value *out) {
    lp_array *f = NULL, *aw = NULL, *r = NULL;
    int64_t m1 = -1;
    lp_status st = lp_reshape(c->ctx, ARG("a")->a, 1, &m1, &f);
    if (!st && !(st = argwhere(c->ctx, f, &aw))) st = column(c->ctx, aw, 0, &r);
    lp_array_release(f);
    lp_array_release(aw);
    return lpi_out_array(c, st, &r, out);
}

/* where(condition) is nonzero(condition); where(condition, x, y) the ufunc */
lp_status lpi_fn_where(lpi_call *c, lp_value *out) {
    lpi_arg *x = ARG("x"), *y = ARG("y");
    if (!x->v && !y->v) return nonzero_tuple(c, ARG("condition")->a, out);
    if (!x->v || !y->v) return lpi_error(c->ctx, LP_ERR_VALUE, "either both or neither of x and y should be given");
    lp_array *in[3] = {ARG("condition")->a, x->a, y->a}, *r = NULL;
    if (!x->given || !y->given) return lpi_error(c->ctx, LP_ERR_TYPE, "where(): x and y must be arrays or numbers, not None");
    return lpi_out_array(c, lp_where(c->ctx, in[0], in[1], in[2], &r), &r, out);
}

/* numpy.compress(condition, a, axis=None) and numpy.extract(condition, arr) */
lp_status lpi_fn_compress(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    bool extract = !strcmp(c->fn->op, "extract");
    lp_array *cond = ARG("condition")->a, *a = ARG(extract ? "arr" : "a")->a, *r = NULL;
    lpi_tmps t = {0};
    lp_status st = LP_OK;
    int64_t m1 = -1;
    lp_array *fc = NULL, *fa = NULL;
    if (extract) {
        if (!KEEP(lp_reshape(ctx, cond, 1, &m1, &fc), fc) && !KEEP(lp_reshape(ctx, a, 1, &m1, &fa), fa) &&
            !KEEP(masked(ctx, fa, fc, &r), r)) {}
        return lpi_give(c, &t, st, &r, out);
    }
    lpi_arg *ax = ARG("axis");
    if (cond->ndim != 1) return lpi_error(ctx, LP_ERR_VALUE, "condition must be a 1-d array");
    int axis = 0;
    if (ax->naxes < 0) {
        if (KEEP(lp_reshape(ctx, a, 1, &m1, &fa), fa)) return lpi_give(c, &t, st, &r, out);
        a = fa;
    } else if ((st = lpi_norm_axis(ctx, ax->axes[0], a->ndim, &axis))) {
        return st;
    }
    if (cond->shape[0] > a->shape[axis])
        return lpi_error(ctx, LP_ERR_INDEX, "index %lld is out of bounds for axis %d with size %lld", (long long)a->shape[axis], axis,
                         (long long)a->shape[axis]);
    /* the positions where the condition holds, taken along the axis */
    lp_array *aw = NULL, *pos = NULL;
    if (!KEEP(argwhere(ctx, cond, &aw), aw) && !KEEP(column(ctx, aw, 0, &pos), pos)) KEEP(lpi_take(ctx, a, pos, axis, &r), r);
    return lpi_give(c, &t, st, &r, out);
}

/* numpy.take(a, indices, axis=None) */
lp_status lpi_fn_take(lpi_call *c, lp_value *out) {
    lp_array *a = ARG("a")->a, *f = NULL, *r = NULL;
    lpi_arg *ax = ARG("axis"), *mode = ARG("mode");
    if (mode->given && strcmp(mode->s, "raise"))
        return lpi_error(c->ctx, LP_ERR_VALUE, "take(): only mode='raise' is supported");
    int axis = 0;
    lp_status st = LP_OK;
    if (ax->naxes < 0) {
        int64_t m1 = -1;
        if ((st = lp_reshape(c->ctx, a, 1, &m1, &f))) return st;
        a = f;
    } else {
        axis = ax->axes[0];
    }
    st = lpi_take(c->ctx, a, ARG("indices")->a, axis, &r);
    lp_array_release(f);
    return lpi_out_array(c, st, &r, out);
}

/* numpy.take_along_axis(arr, indices, axis): each line of arr read at the matching line of
 * indices, as a take from the flattened array at line * n + index */
lp_status lpi_fn_take_along_axis(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lp_array *a = ARG("arr")->a, *ix = ARG("indices")->a, *r = NULL;
    lpi_arg *ax = ARG("axis");
    lpi_tmps t = {0};
    lp_status st = LP_OK;
    int64_t m1 = -1;
    if (ax->naxes < 0) {
        lp_array *fa = NULL;
        if (KEEP(lp_reshape(ctx, a, 1, &m1, &fa), fa)) return lpi_give(c, &t, st, &r, out);
        a = fa;
    }
    int axis = 0;
    if (ax->naxes >= 0 && (st = lpi_norm_axis(ctx, ax->axes[0], a->ndim, &axis))) return st;
    if (ix->ndim != a->ndim) return lpi_error(ctx, LP_ERR_VALUE, "`indices` and `arr` must have the same number of dimensions");
    /* flat position = (line number) * n + wrapped index, with lines from arange over the other axes */
    int64_t n = a->shape[axis];
    lp_array *lines = NULL, *nn = NULL, *zero = NULL, *neg = NULL, *wrapped = NULL, *base = NULL, *flat = NULL, *fa = NULL,
             *tk = NULL, *i64 = NULL;
    int64_t lshape[LP_MAX_NDIM], lcount = 1;
    for (int i = 0; i < a->ndim; i++) { lshape[i] = i == axis ? 1 : a->shape[i]; lcount *= lshape[i]; }
    if (!KEEP(lp_astype(ctx, ix, LP_INT64, &i64), i64) && !KEEP(lp_arange(ctx, 0, (double)lcount, 1, LP_INT64, &lines), lines) &&
        !KEEP(lp_reshape(ctx, lines, a->ndim, lshape, &lines), lines) && !KEEP(lp_scalar_array(ctx, lp_scalar_i(n), &nn), nn) &&
        !KEEP(lp_scalar_array(ctx, lp_scalar_i(0), &zero), zero) && !KEEP(lp_binary(ctx, "less", i64, zero, &neg), neg)) {
        lp_array *plus = NULL;
        if (!KEEP(lp_binary(ctx, "add", i64, nn, &plus), plus) && !KEEP(lp_where(ctx, neg, plus, i64, &wrapped), wrapped) &&
            !KEEP(lp_binary(ctx, "multiply", lines, nn, &base), base) && !KEEP(lp_binary(ctx, "add", base, wrapped, &flat), flat)) {
            /* arr with the axis last, flattened in that order: line-major, index within line */
            int perm[LP_MAX_NDIM], q = 0;
            for (int i = 0; i < a->ndim; i++) if (i != axis) perm[q++] = i;
            perm[q] = axis;
            lp_array *tr = NULL, *fl2 = NULL, *ftr = NULL;
            int64_t fshape[LP_MAX_NDIM];
            if (!KEEP(lp_transpose(ctx, a, perm, &tr), tr) && !KEEP(lp_reshape(ctx, tr, 1, &m1, &fa), fa)) {
                /* the flat positions in the same transposed order, then the result back */
                lp_array *trf = NULL;
                if (!KEEP(lp_transpose(ctx, flat, perm, &trf), trf) && !KEEP(lp_reshape(ctx, trf, 1, &m1, &fl2), fl2) &&
                    !KEEP(lpi_take(ctx, fa, fl2, 0, &tk), tk)) {
                    for (int i = 0; i < a->ndim; i++) fshape[i] = trf->shape[i];
                    int inv[LP_MAX_NDIM];
                    for (int i = 0; i < a->ndim; i++) inv[perm[i]] = i;
                    if (!KEEP(lp_reshape(ctx, tk, a->ndim, fshape, &ftr), ftr)) KEEP(lp_transpose(ctx, ftr, inv, &r), r);
                }
            }
        }
    }
    (void)tk;
    return lpi_give(c, &t, st, &r, out);
}

/* numpy.searchsorted(a, v, side='left', sorter=None) */
lp_status lpi_fn_searchsorted(lpi_call *c, lp_value *out) {
    lpi_arg *side = ARG("side"), *sorter = ARG("sorter");
    bool right = side->given && !strcmp(side->s, "right");
    if (side->given && !right && strcmp(side->s, "left"))
        return lpi_error(c->ctx, LP_ERR_VALUE, "side must be 'left' or 'right' (got '%s')", side->s);
    lp_array *a = ARG("a")->a, *s = NULL, *r = NULL;
    lp_status st = LP_OK;
    if (sorter->given) { if ((st = lpi_take(c->ctx, a, sorter->a, 0, &s))) return st; a = s; }
    st = lpi_searchsorted(c->ctx, a, ARG("v")->a, right, &r);
    lp_array_release(s);
    return lpi_out_array(c, st, &r, out);
}

/* numpy.unique with axis=None (and the array API's unique_values/counts/inverse/all) */
lp_status lpi_fn_unique(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    const char *op = c->fn->op;
    bool want_index = false, want_inverse = false, want_counts = false, equal_nan = true;
    if (!strcmp(op, "unique")) {
        want_index = ARG("return_index")->b;
        want_inverse = ARG("return_inverse")->b;
        want_counts = ARG("return_counts")->b;
        equal_nan = ARG("equal_nan")->b;
        if (ARG("axis")->naxes >= 0) return lpi_error(ctx, LP_ERR_VALUE, "unique(): axis= is not supported yet");
    } else {
        equal_nan = false; /* the array API: every NaN is its own value */
        want_counts = !strcmp(op, "unique_counts") || !strcmp(op, "unique_all");
        want_inverse = !strcmp(op, "unique_inverse") || !strcmp(op, "unique_all");
        want_index = !strcmp(op, "unique_all");
    }
    lp_array *a = ARG(strcmp(op, "unique") ? "x" : "ar")->a;
    lpi_tmps t = {0};
    lp_status st = LP_OK;
    int64_t m1 = -1, n = a->size;
    lp_array *f = NULL, *perm = NULL, *s = NULL, *flags = NULL, *u = NULL, *cnt = NULL;
    if (KEEP(lp_reshape(ctx, a, 1, &m1, &f), f)) return lpi_give(c, &t, st, &u, out);
    bool arg = want_index || want_inverse;
    if (arg) {
        if (!KEEP(lpi_sort(ctx, LPI_OP_ARGSORT, f, 0, &perm), perm)) KEEP(lpi_take(ctx, f, perm, 0, &s), s);
    } else {
        KEEP(lpi_sort(ctx, LPI_OP_SORT, f, 0, &s), s);
    }
    if (st) return lpi_give(c, &t, st, &u, out);
    /* flags[i]: s[i] starts a run of equal values (NaNs equal when equal_nan) */
    if (n == 0) {
        if (!KEEP(lp_full(ctx, LP_BOOL, 1, &n, lp_scalar_b(false), &flags), flags)) {}
    } else {
        lp_index hi[1] = {{LP_IDX_SLICE, true, false, 1, 0, 1}}, lo[1] = {{LP_IDX_SLICE, false, true, 0, -1, 1}};
        lp_array *sh = NULL, *sl = NULL, *ne = NULL, *first = NULL;
        int64_t one = 1;
        if (!KEEP(lp_slice(ctx, s, 1, hi, &sh), sh) && !KEEP(lp_slice(ctx, s, 1, lo, &sl), sl) &&
            !KEEP(lp_binary(ctx, "not_equal", sh, sl, &ne), ne)) {
            if (equal_nan && (lpi_dtype_kind(s->dtype) == LPI_KIND_FLOAT || lpi_dtype_is_complex(s->dtype))) {
                lp_array *n1 = NULL, *n2 = NULL, *nn = NULL, *keepn = NULL;
                if (!KEEP(lp_unary(ctx, "isnan", sh, &n1), n1) && !KEEP(lp_unary(ctx, "isnan", sl, &n2), n2) &&
                    !KEEP(lp_binary(ctx, "logical_and", n1, n2, &nn), nn) && !KEEP(lp_unary(ctx, "logical_not", nn, &keepn), keepn))
                    KEEP(lp_binary(ctx, "logical_and", ne, keepn, &ne), ne);
            }
            if (!st && !KEEP(lp_full(ctx, LP_BOOL, 1, &one, lp_scalar_b(true), &first), first)) {
                lp_array *in[2] = {first, ne};
                KEEP(lp_concatenate(ctx, 2, in, 0, &flags), flags);
            }
        }
    }
    /* the sorted values (and permutation) and their flags, computed now: the size of the result */
    lp_array *now[3] = {flags, s, perm};
    if (!st) st = compute_now(ctx, now, perm ? 3 : 2);
    int64_t B = 1;
    if (!st && !(st = mask_counts(ctx, flags, &cnt, &B))) lpi_keep(&t, cnt);
    if (!st) KEEP(lpi_compress(ctx, s, flags, cnt, B, &u), u);
    if (st || (!want_index && !want_inverse && !want_counts)) return lpi_give(c, &t, st, &u, out);
    lp_array *res[4] = {u, NULL, NULL, NULL};
    int nres = 1;
    lp_array *starts = NULL, *nzw = NULL;
    if ((want_index || want_counts) && !KEEP(lpi_nonzero(ctx, flags, cnt, B, &nzw), nzw)) KEEP(column(ctx, nzw, 0, &starts), starts);
    if (!st && want_index) KEEP(lpi_take(ctx, perm, starts, 0, &res[nres]), res[nres]), nres++;
    if (!st && want_inverse) {
        /* each element's place among the unique values, in a's shape: the element at sorted
         * position i (perm[i]) belongs to value cumsum(flags)[i] - 1; the inverse permutation
         * of perm puts those back in a's order. One rule for every dtype and for equal_nan
         * either way (flags already say which sorted neighbours are one value). */
        lp_array *cs = NULL, *one = NULL, *rank = NULL, *ip = NULL, *inv = NULL, *rs = NULL;
        if (!KEEP(lpi_scan(ctx, LPI_OP_CUMSUM, flags, 0, &cs), cs) && !KEEP(lp_scalar_array(ctx, lp_scalar_i(1), &one), one) &&
            !KEEP(lp_binary(ctx, "subtract", cs, one, &rank), rank) && !KEEP(lpi_sort(ctx, LPI_OP_ARGSORT, perm, 0, &ip), ip) &&
            !KEEP(lpi_take(ctx, rank, ip, 0, &inv), inv) && !KEEP(lp_reshape(ctx, inv, a->ndim, a->shape, &rs), rs))
            res[nres++] = rs;
    }
    if (!st && want_counts) {
        lp_array *endv = NULL, *ends = NULL, *d = NULL;
        int64_t one = 1;
        if (!KEEP(lp_full(ctx, LP_INT64, 1, &one, lp_scalar_i(n), &endv), endv)) {
            lp_array *in[2] = {starts, endv};
            lp_index hi[1] = {{LP_IDX_SLICE, true, false, 1, 0, 1}}, lo[1] = {{LP_IDX_SLICE, false, true, 0, -1, 1}};
            lp_array *a1 = NULL, *a0 = NULL;
            if (!KEEP(lp_concatenate(ctx, 2, in, 0, &ends), ends) && !KEEP(lp_slice(ctx, ends, 1, hi, &a1), a1) &&
                !KEEP(lp_slice(ctx, ends, 1, lo, &a0), a0) && !KEEP(lp_binary(ctx, "subtract", a1, a0, &d), d))
                res[nres++] = d;
        }
    }
    if (st) { lpi_drop(&t); return st; }
    for (int k = 0; k < nres; k++) lp_array_retain(res[k]);
    lpi_drop(&t);
    return lpi_out_list(c, LP_VAL_TUPLE, res, nres, out);
}

/* numpy.bincount: the length is max(x) + 1 (or minlength): x computed now */
lp_status lpi_fn_bincount(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lp_array *x = ARG("x")->a, *r = NULL;
    lpi_arg *w = ARG("weights");
    int64_t minlength = ARG("minlength")->i;
    if (minlength < 0) return lpi_error(ctx, LP_ERR_VALUE, "'minlength' must not be negative");
    if (x->ndim != 1) return lpi_error(ctx, LP_ERR_VALUE, "object too deep for desired array");
    if (lpi_dtype_kind(x->dtype) == LPI_KIND_FLOAT)
        return lpi_error(ctx, LP_ERR_TYPE, "Cannot cast array data from dtype('%s') to dtype('int64') according to the rule 'safe'",
                         lp_dtype_name(x->dtype));
    lpi_tmps t = {0};
    lp_status st = LP_OK;
    int64_t L = minlength;
    if (x->size) {
        lp_array *mx = NULL, *mn = NULL;
        if (KEEP(lp_reduce(ctx, "max", x, NULL, 0, false, &mx), mx) || KEEP(lp_reduce(ctx, "min", x, NULL, 0, false, &mn), mn))
            return lpi_give(c, &t, st, &r, out);
        lp_array *now[3] = {x, mx, mn};
        if ((st = compute_now(ctx, now, 3))) return lpi_give(c, &t, st, &r, out);
        lp_value v;
        int64_t vmax = 0, vmin = 0;
        lp_buffer *b1 = lp_array_result(mx), *b2 = lp_array_result(mn);
        vmax = lpi_load_i64(b1->data, x->dtype);
        vmin = lpi_load_i64(b2->data, x->dtype);
        if (x->dtype == LP_UINT64 && vmax < 0) { /* NumPy: cannot cast uint64 to int64 safely */
            lpi_drop(&t);
            return lpi_error(ctx, LP_ERR_TYPE, "Cannot cast array data from dtype('uint64') to dtype('int64') according to the rule 'safe'");
        }
        (void)v;
        if (vmin < 0) { lpi_drop(&t); return lpi_error(ctx, LP_ERR_VALUE, "'list' argument must have no negative elements"); }
        if (vmax + 1 > L) L = vmax + 1;
    }
    int64_t B = x->size / 64 > (1 << 16) ? x->size / 64 : (1 << 16);
    lp_array *blocks = NULL, *wf = NULL;
    int ax = 0;
    if (w->given && w->a->dtype != LP_FLOAT64 && KEEP(lp_astype(ctx, w->a, LP_FLOAT64, &wf), wf)) return lpi_give(c, &t, st, &r, out);
    if (!KEEP(lpi_bincount_blocks(ctx, x, w->given ? (wf ? wf : w->a) : NULL, L, B, &blocks), blocks))
        KEEP(lp_reduce(ctx, "sum", blocks, &ax, 1, false, &r), r);
    return lpi_give(c, &t, st, &r, out);
}

/* numpy.histogram with a number of equal bins (NumPy's index computation and edge corrections)
 * or explicit edges (counts by searching the sorted data) */
lp_status lpi_fn_histogram(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lp_array *a0 = ARG("a")->a, *a = NULL, *hist = NULL, *edges = NULL;
    lpi_arg *bins = ARG("bins"), *range = ARG("range"), *dens = ARG("density"), *w = ARG("weights");
    lpi_tmps t = {0};
    lp_status st = LP_OK;
    int64_t m1 = -1;
    if (KEEP(lp_reshape(ctx, a0, 1, &m1, &a), a)) return lpi_give(c, &t, st, &hist, out);
    lp_array *wf = NULL;
    if (w->given && (KEEP(lp_reshape(ctx, w->a, 1, &m1, &wf), wf))) return lpi_give(c, &t, st, &hist, out);
    if (wf && wf->size != a->size) { lpi_drop(&t); return lpi_error(ctx, LP_ERR_VALUE, "weights should have the same shape as a."); }
    const lp_value *bv = bins->v;
    if (!bv || bv->kind == LP_VAL_INT) {
        int64_t nb = bv ? bv->i : bins->i; /* the default: 10 */
        if (nb < 1) { lpi_drop(&t); return lpi_error(ctx, LP_ERR_VALUE, "`bins` must be positive, when an integer"); }
        double first, last;
        if (range->given) {
            const lp_value *rv = range->v;
            if ((rv->kind != LP_VAL_TUPLE && rv->kind != LP_VAL_LIST) || rv->n != 2) {
                lpi_drop(&t);
                return lpi_error(ctx, LP_ERR_VALUE, "range must be a pair (min, max)");
            }
            double e[2];
            for (int k = 0; k < 2; k++) {
                const lp_value *x = &rv->items[k];
                if (x->kind != LP_VAL_INT && x->kind != LP_VAL_FLOAT) { lpi_drop(&t); return lpi_error(ctx, LP_ERR_TYPE, "range values must be numbers"); }
                e[k] = x->kind == LP_VAL_INT ? (double)x->i : x->f;
            }
            first = e[0];
            last = e[1];
            if (first > last) { lpi_drop(&t); return lpi_error(ctx, LP_ERR_VALUE, "max must be larger than min in range parameter."); }
            if (!isfinite(first) || !isfinite(last)) { lpi_drop(&t); return lpi_error(ctx, LP_ERR_VALUE, "supplied range of [%g, %g] is not finite", first, last); }
        } else if (a->size == 0) {
            first = 0;
            last = 1;
        } else {
            lp_array *mn = NULL, *mx = NULL, *mnf = NULL, *mxf = NULL;
            if (KEEP(lp_reduce(ctx, "min", a, NULL, 0, false, &mn), mn) || KEEP(lp_reduce(ctx, "max", a, NULL, 0, false, &mx), mx) ||
                KEEP(lp_astype(ctx, mn, LP_FLOAT64, &mnf), mnf) || KEEP(lp_astype(ctx, mx, LP_FLOAT64, &mxf), mxf))
                return lpi_give(c, &t, st, &hist, out);
            lp_array *now[2] = {mnf, mxf};
            if ((st = compute_now(ctx, now, 2))) return lpi_give(c, &t, st, &hist, out);
            first = *(double *)lp_buffer_data(lp_array_result(mnf));
            last = *(double *)lp_buffer_data(lp_array_result(mxf));
            if (!isfinite(first) || !isfinite(last)) {
                lpi_drop(&t);
                return lpi_error(ctx, LP_ERR_VALUE, "autodetected range of [%g, %g] is not finite", first, last);
            }
        }
        if (first == last) { first -= 0.5; last += 0.5; }
        lp_dtype bt = lpi_dtype_kind(a->dtype) == LPI_KIND_FLOAT ? a->dtype : LP_FLOAT64;
        lp_array *af = a, *f0 = NULL, *f1 = NULL, *keep = NULL, *k1 = NULL, *k2 = NULL, *d = NULL, *q = NULL, *fi = NULL,
                 *idx = NULL, *nbv = NULL, *nbm = NULL, *eqn = NULL, *lower = NULL, *dec = NULL, *one = NULL, *im1 = NULL,
                 *e1 = NULL, *ip1 = NULL, *inc = NULL, *notlast = NULL, *inc2 = NULL, *ipl = NULL, *zero = NULL, *idx2 = NULL,
                 *wk = NULL, *blocks = NULL, *den = NULL, *num = NULL;
        int ax0 = 0;
        if ((a->dtype != bt && KEEP(lp_astype(ctx, a, bt, &af), af)) ||
            KEEP(lp_linspace(ctx, first, last, nb + 1, true, bt, &edges), edges) || KEEP(lp_scalar_array(ctx, lp_scalar_f(first), &f0), f0) ||
            KEEP(lp_scalar_array(ctx, lp_scalar_f(last), &f1), f1) || KEEP(lp_binary(ctx, "greater_equal", af, f0, &k1), k1) ||
            KEEP(lp_binary(ctx, "less_equal", af, f1, &k2), k2) || KEEP(lp_binary(ctx, "logical_and", k1, k2, &keep), keep) ||
            KEEP(lp_binary(ctx, "subtract", af, f0, &d), d) ||
            KEEP(lp_scalar_array(ctx, lp_scalar_f(last - first), &den), den) || KEEP(lp_binary(ctx, "divide", d, den, &q), q) ||
            KEEP(lp_scalar_array(ctx, lp_scalar_f((double)nb), &num), num) || KEEP(lp_binary(ctx, "multiply", q, num, &fi), fi) ||
            KEEP(lp_scalar_array(ctx, lp_scalar_i(0), &zero), zero) ||
            KEEP(lp_where(ctx, keep, fi, zero, &fi), fi) || KEEP(lp_astype(ctx, fi, LP_INT64, &idx), idx) ||
            KEEP(lp_scalar_array(ctx, lp_scalar_i(nb), &nbv), nbv) || KEEP(lp_scalar_array(ctx, lp_scalar_i(nb - 1), &nbm), nbm) ||
            KEEP(lp_binary(ctx, "equal", idx, nbv, &eqn), eqn) || KEEP(lp_where(ctx, eqn, nbm, idx, &idx), idx) ||
            /* decrement where a < edges[idx], increment where a >= edges[idx + 1] (not in the last bin) */
            KEEP(lpi_take(ctx, edges, idx, 0, &lower), lower) || KEEP(lp_binary(ctx, "less", af, lower, &dec), dec) ||
            KEEP(lp_scalar_array(ctx, lp_scalar_i(1), &one), one) || KEEP(lp_binary(ctx, "subtract", idx, one, &im1), im1) ||
            KEEP(lp_where(ctx, dec, im1, idx, &idx), idx) || KEEP(lp_binary(ctx, "add", idx, one, &ip1), ip1) ||
            KEEP(lpi_take(ctx, edges, ip1, 0, &e1), e1) || KEEP(lp_binary(ctx, "greater_equal", af, e1, &inc), inc) ||
            KEEP(lp_binary(ctx, "not_equal", idx, nbm, &notlast), notlast) ||
            KEEP(lp_binary(ctx, "logical_and", inc, notlast, &inc2), inc2) || KEEP(lp_binary(ctx, "add", idx, one, &ipl), ipl) ||
            KEEP(lp_where(ctx, inc2, ipl, idx, &idx2), idx2) || KEEP(lp_where(ctx, keep, idx2, zero, &idx2), idx2))
            return lpi_give(c, &t, st, &hist, out);
        /* elements outside the range count nothing: weight 0 (1 or the weight inside) */
        if (wf) { lp_array *wz = NULL; if (KEEP(lp_where(ctx, keep, wf, zero, &wz), wz)) return lpi_give(c, &t, st, &hist, out); wk = wz; }
        else if (KEEP(lp_astype(ctx, keep, LP_INT64, &wk), wk)) return lpi_give(c, &t, st, &hist, out);
        int64_t B = a->size / 64 > (1 << 16) ? a->size / 64 : (1 << 16);
        if (KEEP(lpi_bincount_blocks(ctx, idx2, wk, nb, B, &blocks), blocks) || KEEP(lp_reduce(ctx, "sum", blocks, &ax0, 1, false, &hist), hist))
            return lpi_give(c, &t, st, &hist, out);
    } else if (bv && (bv->kind == LP_VAL_ARRAY || bv->kind == LP_VAL_TUPLE || bv->kind == LP_VAL_LIST)) {
        if (wf) { lpi_drop(&t); return lpi_error(ctx, LP_ERR_VALUE, "histogram(): weights with explicit edges are not supported yet"); }
        lp_array *e = NULL, *s = NULL, *cl = NULL, *cr = NULL, *cum = NULL, *c0 = NULL, *c1 = NULL;
        if (KEEP(lpi_value_to_array(ctx, bv, false, c->fname, &e), e) || KEEP(lpi_sort(ctx, LPI_OP_SORT, a, 0, &s), s))
            return lpi_give(c, &t, st, &hist, out);
        if (e->ndim != 1 || e->shape[0] < 1) { lpi_drop(&t); return lpi_error(ctx, LP_ERR_VALUE, "`bins` must be 1d, when an array"); }
        edges = e;
        int64_t ne = e->shape[0];
        lp_index all_but_last[1] = {{LP_IDX_SLICE, false, true, 0, -1, 1}}, lastone[1] = {{LP_IDX_SLICE, true, false, -1, 0, 1}},
                 hi[1] = {{LP_IDX_SLICE, true, false, 1, 0, 1}}, lo[1] = {{LP_IDX_SLICE, false, true, 0, -1, 1}};
        lp_array *el = NULL, *er = NULL;
        if (KEEP(lp_slice(ctx, e, 1, all_but_last, &el), el) || KEEP(lp_slice(ctx, e, 1, lastone, &er), er) ||
            KEEP(lpi_searchsorted(ctx, s, el, false, &cl), cl) || KEEP(lpi_searchsorted(ctx, s, er, true, &cr), cr))
            return lpi_give(c, &t, st, &hist, out);
        lp_array *in[2] = {cl, cr};
        if (KEEP(lp_concatenate(ctx, 2, in, 0, &cum), cum) || KEEP(lp_slice(ctx, cum, 1, hi, &c1), c1) ||
            KEEP(lp_slice(ctx, cum, 1, lo, &c0), c0) || KEEP(lp_binary(ctx, "subtract", c1, c0, &hist), hist))
            return lpi_give(c, &t, st, &hist, out);
        (void)ne;
    } else {
        lpi_drop(&t);
        return lpi_error(ctx, LP_ERR_TYPE, "histogram(): bins must be an integer or a sequence of edges");
    }
    if (dens->given && dens->b) {
        /* hist / diff(edges) / hist.sum() */
        lp_index hi[1] = {{LP_IDX_SLICE, true, false, 1, 0, 1}}, lo[1] = {{LP_IDX_SLICE, false, true, 0, -1, 1}};
        lp_array *eh = NULL, *el = NULL, *db = NULL, *hf = NULL, *tot = NULL, *q = NULL, *r = NULL;
        if (KEEP(lp_slice(ctx, edges, 1, hi, &eh), eh) || KEEP(lp_slice(ctx, edges, 1, lo, &el), el) ||
            KEEP(lp_binary(ctx, "subtract", eh, el, &db), db) || KEEP(lp_astype(ctx, db, LP_FLOAT64, &db), db) ||
            KEEP(lp_astype(ctx, hist, LP_FLOAT64, &hf), hf) || KEEP(lp_reduce(ctx, "sum", hf, NULL, 0, false, &tot), tot) ||
            KEEP(lp_binary(ctx, "divide", hf, db, &q), q) || KEEP(lp_binary(ctx, "divide", q, tot, &r), r))
            return lpi_give(c, &t, st, &hist, out);
        hist = r;
    }
    lp_array *res[2] = {hist, edges};
    lp_array_retain(hist);
    lp_array_retain(edges);
    lpi_drop(&t);
    return lpi_out_list(c, LP_VAL_TUPLE, res, 2, out);
}

/* ---- indexing and assignment: lp_getitem / lp_setitem -------------------------------- */

static bool is_basic(const lp_value *v) {
    return v->kind == LP_VAL_INT || v->kind == LP_VAL_NONE || v->kind == LP_VAL_SLICE || v->kind == LP_VAL_ELLIPSIS;
}

static lp_status to_index(lp_ctx *ctx, const lp_value *v, lp_index *ix) {
    memset(ix, 0, sizeof *ix);
    switch (v->kind) {
    case LP_VAL_INT: ix->kind = LP_IDX_INT; ix->start = v->i; return LP_OK;
    case LP_VAL_NONE: ix->kind = LP_IDX_NEWAXIS; return LP_OK;
    case LP_VAL_ELLIPSIS: ix->kind = LP_IDX_ELLIPSIS; return LP_OK;
    case LP_VAL_SLICE: {
        ix->kind = LP_IDX_SLICE;
        ix->step = 1;
        const lp_value *p = v->items;
        if (v->n != 3) return lpi_error(ctx, LP_ERR_VALUE, "a slice has start, stop and step");
        if (p[0].kind == LP_VAL_INT) { ix->has_start = true; ix->start = p[0].i; }
        if (p[1].kind == LP_VAL_INT) { ix->has_stop = true; ix->stop = p[1].i; }
        if (p[2].kind == LP_VAL_INT) {
            if (p[2].i == 0) return lpi_error(ctx, LP_ERR_VALUE, "slice step cannot be zero");
            ix->step = p[2].i;
        }
        for (int k = 0; k < 3; k++)
            if (p[k].kind != LP_VAL_INT && p[k].kind != LP_VAL_NONE)
                return lpi_error(ctx, LP_ERR_TYPE, "slice indices must be integers or None or have an __index__ method");
        return LP_OK;
    }
    default:
        return lpi_error(ctx, LP_ERR_INDEX, "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and integer "
                         "or boolean arrays are valid indices");
    }
}

/* The key's items: one array item (integer or bool array; lists count as arrays) with basic
 * items around it. Returns the axis the array item applies to after the basic items before
 * it, with *pre / *post the basic items before and after. */
static lp_status split_key(lp_ctx *ctx, int n, const lp_value *key, int *adv, int *nadv) {
    *adv = -1;
    *nadv = 0;
    for (int k = 0; k < n; k++)
        if (!is_basic(&key[k])) {
            if (key[k].kind != LP_VAL_ARRAY && key[k].kind != LP_VAL_TUPLE && key[k].kind != LP_VAL_LIST && key[k].kind != LP_VAL_BOOL)
                return lpi_error(ctx, LP_ERR_INDEX, "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and "
                                 "integer or boolean arrays are valid indices");
            if (*adv < 0) *adv = k;
            (*nadv)++;
        }
    return LP_OK;
}

/* NumPy's placement rule: the broadcast index dimensions replace the indexed axes in place
 * when the advanced items of the key (integer scalars count as advanced once an array is
 * present) stand next to each other, and go first otherwise. */
static bool advanced_adjacent(int n, const lp_value *key) {
    int first = -1, last = -1;
    for (int k = 0; k < n; k++)
        if (key[k].kind != LP_VAL_NONE && key[k].kind != LP_VAL_SLICE && key[k].kind != LP_VAL_ELLIPSIS) {
            if (first < 0) first = k;
            last = k;
        }
    for (int k = first; k >= 0 && k <= last; k++)
        if (key[k].kind == LP_VAL_NONE || key[k].kind == LP_VAL_SLICE || key[k].kind == LP_VAL_ELLIPSIS) return false;
    return true;
}

/* r with its dimensions [at, at + nb) moved to the front; kept in t */
static lp_status dims_to_front(lp_ctx *ctx, lpi_tmps *t, lp_array *r, int at, int nb, lp_array **out) {
    if (at == 0) { *out = r; return LP_OK; }
    int perm[LP_MAX_NDIM], q = 0;
    for (int i = 0; i < nb; i++) perm[q++] = at + i;
    for (int i = 0; i < r->ndim; i++) if (i < at || i >= at + nb) perm[q++] = i;
    lp_status st = lp_transpose(ctx, r, perm, out);
    if (!st) lpi_keep(t, *out);
    return st;
}

/* x[key] with several advanced items (integer arrays; a bool array stands for its nonzero()
 * columns, as in NumPy). The basic items apply first, each advanced item replaced by full
 * slices; the index arrays are broadcast together, checked and wrapped per axis (a take from
 * an arange of that axis: NumPy's IndexError naming the axis), combined into one flat
 * position over the indexed axes (moved first and merged), and that one take is the gather. */
static lp_status getitem_multi(lp_ctx *ctx, lpi_tmps *t, lp_array *x, int n, const lp_value *key, lp_array **out) {
    lp_status st;
    lp_index ix[2 * LP_MAX_NDIM + 2];
    lp_array *comp[LP_MAX_NDIM];
    int yax[LP_MAX_NDIM], xax[LP_MAX_NDIM], m = 0, nix = 0, ya = 0, xa = 0, nreal = 0;
    lp_array *arr[2 * LP_MAX_NDIM + 2] = {0};
    for (int k = 0; k < n; k++) {
        if (is_basic(&key[k])) { nreal += key[k].kind == LP_VAL_INT || key[k].kind == LP_VAL_SLICE; continue; }
        if (key[k].kind == LP_VAL_BOOL)
            return lpi_error(ctx, LP_ERR_INDEX, "a scalar bool beside other index arrays is not supported");
        if ((st = lpi_value_to_array(ctx, &key[k], false, "index", &arr[k]))) return st;
        lpi_keep(t, arr[k]);
        nreal += arr[k]->dtype == LP_BOOL ? (arr[k]->ndim ? arr[k]->ndim : 1) : 1;
    }
    if (nreal > x->ndim)
        return lpi_error(ctx, LP_ERR_INDEX, "too many indices for array: array is %d-dimensional, but %d were indexed", x->ndim, nreal);
    lp_index full = {LP_IDX_SLICE, false, false, 0, 0, 1};
    for (int k = 0; k < n; k++) {
        if (arr[k]) {
            lp_array *a = arr[k];
            if (a->dtype == LP_BOOL && a->ndim == 0)
                return lpi_error(ctx, LP_ERR_INDEX, "a 0-d bool beside other index arrays is not supported");
            int span = a->dtype == LP_BOOL ? a->ndim : 1;
            if (m + span > LP_MAX_NDIM) return lpi_error(ctx, LP_ERR_INDEX, "too many indices for array");
            if (a->dtype == LP_BOOL) {
                for (int d = 0; d < span; d++)
                    if (a->shape[d] != x->shape[xa + d])
                        return lpi_error(ctx, LP_ERR_INDEX, "boolean index did not match indexed array along axis %d; size of axis "
                                         "is %lld but size of corresponding boolean axis is %lld", xa + d,
                                         (long long)x->shape[xa + d], (long long)a->shape[d]);
                lp_array *aw = NULL;
                if ((st = argwhere(ctx, a, &aw))) return st;
                lpi_keep(t, aw);
                for (int d = 0; d < span; d++) {
                    if ((st = column(ctx, aw, d, &comp[m]))) return st;
                    lpi_keep(t, comp[m]);
                    yax[m] = ya + d;
                    xax[m++] = xa + d;
                }
            } else {
                if (lpi_dtype_kind(a->dtype) != LPI_KIND_INT)
                    return lpi_error(ctx, LP_ERR_INDEX, "arrays used as indices must be of integer (or boolean) type");
                comp[m] = a;
                yax[m] = ya;
                xax[m++] = xa;
            }
            for (int d = 0; d < span; d++) ix[nix++] = full;
            ya += span;
            xa += span;
            continue;
        }
        if ((st = to_index(ctx, &key[k], &ix[nix]))) return st;
        switch (ix[nix++].kind) {
        case LP_IDX_INT: xa++; break;
        case LP_IDX_SLICE: xa++; ya++; break;
        case LP_IDX_NEWAXIS: ya++; break;
        case LP_IDX_ELLIPSIS: xa += x->ndim - nreal; ya += x->ndim - nreal; break;
        }
    }
    lp_array *y = NULL;
    if ((st = lp_slice(ctx, x, nix, ix, &y))) return st;
    lpi_keep(t, y);
    /* the index arrays broadcast together */
    int nds[LP_MAX_NDIM], bnd;
    const int64_t *shs[LP_MAX_NDIM];
    int64_t bshape[LP_MAX_NDIM];
    for (int k = 0; k < m; k++) { nds[k] = comp[k]->ndim; shs[k] = comp[k]->shape; }
    if ((st = lpi_broadcast_shapes(ctx, m, nds, shs, &bnd, bshape))) {
        return lpi_error(ctx, LP_ERR_INDEX, "shape mismatch: indexing arrays could not be broadcast together");
    }
    if (bnd + y->ndim - m > LP_MAX_NDIM) return lpi_error(ctx, LP_ERR_INDEX, "the result would have more than %d dimensions", LP_MAX_NDIM);
    /* flat = sum of the wrapped indices times the strides of the indexed axes (row-major) */
    lp_array *flat = NULL;
    int64_t stride = 1;
    for (int k = m - 1; k >= 0; k--) {
        const int64_t nk = y->shape[yax[k]];
        int64_t ashape[LP_MAX_NDIM];
        for (int i = 0; i < xax[k]; i++) ashape[i] = 1;
        ashape[xax[k]] = nk;
        lp_array *ar = NULL, *ar2 = NULL, *w = NULL, *wb = NULL, *sc = NULL, *term = NULL;
        if ((st = lp_arange(ctx, 0, (double)nk, 1, LP_INT64, &ar))) return st;
        lpi_keep(t, ar);
        if ((st = lp_reshape(ctx, ar, xax[k] + 1, ashape, &ar2))) return st;
        lpi_keep(t, ar2);
        if (nk == 0 && comp[k]->size > 0)
            return lpi_error(ctx, LP_ERR_INDEX, "index 0 is out of bounds for axis %d with size 0", xax[k]);
        if ((st = lpi_take(ctx, ar2, comp[k], xax[k], &w))) return st;
        lpi_keep(t, w);
        if ((st = lp_reshape(ctx, w, comp[k]->ndim, comp[k]->shape, &w))) return st;
        lpi_keep(t, w);
        if ((st = lp_broadcast_to(ctx, w, bnd, bshape, &wb))) return st;
        lpi_keep(t, wb);
        term = wb;
        if (stride != 1) {
            if ((st = lp_scalar_array(ctx, lp_scalar_i(stride), &sc))) return st;
            lpi_keep(t, sc);
            if ((st = lp_binary(ctx, "multiply", wb, sc, &term))) return st;
            lpi_keep(t, term);
        }
        if (flat) {
            lp_array *s2 = NULL;
            if ((st = lp_binary(ctx, "add", flat, term, &s2))) return st;
            flat = lpi_keep(t, s2);
        } else {
            flat = term;
        }
        stride *= nk;
    }
    /* y with the indexed axes first, merged into one of size stride */
    int perm[LP_MAX_NDIM], q = 0;
    int64_t mshape[LP_MAX_NDIM];
    int mnd = 0;
    mshape[mnd++] = stride;
    for (int k = 0; k < m; k++) perm[q++] = yax[k];
    for (int i = 0; i < y->ndim; i++) {
        bool used = false;
        for (int k = 0; k < m; k++) used |= yax[k] == i;
        if (!used) { perm[q++] = i; mshape[mnd++] = y->shape[i]; }
    }
    lp_array *yt = NULL, *ym = NULL, *r = NULL;
    if ((st = lp_transpose(ctx, y, perm, &yt))) return st;
    lpi_keep(t, yt);
    if ((st = lp_reshape(ctx, yt, mnd, mshape, &ym))) return st;
    lpi_keep(t, ym);
    if ((st = lpi_take(ctx, ym, flat, 0, &r))) return st;
    lpi_keep(t, r);
    /* the broadcast dimensions are first now; back in place of the indexed axes when adjacent */
    if (advanced_adjacent(n, key) && yax[0] > 0) {
        int back[LP_MAX_NDIM], p = 0;
        for (int i = 0; i < yax[0]; i++) back[p++] = bnd + i;
        for (int i = 0; i < bnd; i++) back[p++] = i;
        for (int i = bnd + yax[0]; i < r->ndim; i++) back[p++] = i;
        lp_array *rb = NULL;
        if ((st = lp_transpose(ctx, r, back, &rb))) return st;
        r = lpi_keep(t, rb);
    }
    *out = r;
    return LP_OK;
}

/* x[key] with NumPy's rules for one advanced index: basic items apply first (an int array
 * then takes along the axis it stands for; a bool array selects over as many axes as it has) */
static lp_status getitem(lp_ctx *ctx, lpi_tmps *t, lp_array *x, int n, const lp_value *key, lp_array **out) {
    lp_status st;
    int adv, nadv;
    if ((st = split_key(ctx, n, key, &adv, &nadv))) return st;
    lp_index ix[2 * LP_MAX_NDIM + 2];
    if (n > 2 * LP_MAX_NDIM + 2) return lpi_error(ctx, LP_ERR_INDEX, "too many indices for array");
    if (adv < 0) {
        for (int k = 0; k < n; k++)
            if ((st = to_index(ctx, &key[k], &ix[k]))) return st;
        if ((st = lp_slice(ctx, x, n, ix, out))) return st;
        lpi_keep(t, *out);
        return LP_OK;
    }
    if (nadv > 1) return getitem_multi(ctx, t, x, n, key, out);
    lp_array *ia = NULL;
    if (key[adv].kind == LP_VAL_BOOL) st = lp_full(ctx, LP_BOOL, 0, NULL, lp_scalar_b(key[adv].b), &ia); /* x[True] */
    else st = lpi_value_to_array(ctx, &key[adv], false, "index", &ia);
    if (st) return st;
    lpi_keep(t, ia);
    /* basic items first, with the array item replaced by a full slice (a bool array: one per
     * axis; a 0-d bool: a new axis, which it then selects from, as NumPy's x[True] is x[None]) */
    const bool bool0 = ia->dtype == LP_BOOL && ia->ndim == 0;
    int span = ia->dtype == LP_BOOL ? (ia->ndim ? ia->ndim : 1) : 1;
    int m = 0, ax = 0;
    lp_index full = {LP_IDX_SLICE, false, false, 0, 0, 1};
    bool seen_ell = false;
    int nreal = 0;
    for (int k = 0; k < n; k++) nreal += key[k].kind == LP_VAL_INT || key[k].kind == LP_VAL_SLICE;
    nreal += bool0 ? 0 : span;
    for (int k = 0; k < n; k++) {
        if (k == adv) {
            if (bool0) ix[m++] = (lp_index){LP_IDX_NEWAXIS, false, false, 0, 0, 0};
            else for (int q = 0; q < span; q++) ix[m++] = full;
            continue;
        }
        if ((st = to_index(ctx, &key[k], &ix[m]))) return st;
        if (k < adv) {
            if (ix[m].kind == LP_IDX_SLICE || ix[m].kind == LP_IDX_NEWAXIS) ax++;
            if (ix[m].kind == LP_IDX_ELLIPSIS) { seen_ell = true; ax += x->ndim - nreal; }
        }
        m++;
    }
    (void)seen_ell;
    lp_array *y = NULL;
    if ((st = lp_slice(ctx, x, m, ix, &y))) return st;
    lpi_keep(t, y);
    if (ia->dtype == LP_BOOL) {
        /* the selected axes must be leading for compress: move them first, then back */
        int nd = y->ndim, perm[LP_MAX_NDIM], q = 0;
        for (int i = 0; i < span; i++) perm[q++] = ax + i;
        for (int i = 0; i < nd; i++) if (i < ax || i >= ax + span) perm[q++] = i;
        lp_array *yt = y, *sel = NULL;
        if (ax) { if ((st = lp_transpose(ctx, y, perm, &yt))) return st; lpi_keep(t, yt); }
        lp_array *im = ia;
        if (ia->ndim == 0) {
            /* a 0-d bool: x[np.True_] */
            int64_t one = 1;
            if ((st = lp_reshape(ctx, ia, 1, &one, &im))) return st;
            lpi_keep(t, im);
        }
        if ((st = masked(ctx, yt, im, &sel))) return st;
        lpi_keep(t, sel);
        if (!ax || !advanced_adjacent(n, key)) { *out = sel; return LP_OK; }
        /* NumPy keeps the selection's place when it is the only advanced index */
        int back[LP_MAX_NDIM];
        for (int i = 0, j = 1; i < sel->ndim; i++) back[i] = i < ax ? j++ : i == ax ? 0 : i;
        if ((st = lp_transpose(ctx, sel, back, out))) return st;
        lpi_keep(t, *out);
        return LP_OK;
    }
    lp_array *r = NULL;
    if ((st = lpi_take(ctx, y, ia, ax, &r))) return st;
    lpi_keep(t, r);
    if (advanced_adjacent(n, key)) { *out = r; return LP_OK; }
    return dims_to_front(ctx, t, r, ax, ia->ndim, out);
}

lp_status lp_getitem(lp_ctx *ctx, lp_array *x, int n, const lp_value *key, lp_array **out) {
    *out = NULL;
    if (!x || n < 0 || (n && !key)) return lpi_error(ctx, LP_ERR_VALUE, "getitem: bad arguments");
    lpi_tmps t = {0};
    lp_array *r = NULL;
    lp_status st = getitem(ctx, &t, x, n, key, &r);
    if (!st) { lp_array_retain(r); *out = r; }
    lpi_drop(&t);
    return st;
}

/* x[key] = v as a new array: the positions the key selects get v (broadcast, cast to x's dtype).
 * A bool mask with a scalar is where(mask, v, x); otherwise the flat positions of the selected
 * elements are found by indexing an arange of x's shape with the same key, and scattered. */
lp_status lp_setitem(lp_ctx *ctx, lp_array *x, int n, const lp_value *key, lp_array *v, lp_array **out) {
    *out = NULL;
    if (!x || !v || n < 0 || (n && !key)) return lpi_error(ctx, LP_ERR_VALUE, "setitem: bad arguments");
    lpi_tmps t = {0};
    lp_status st = LP_OK;
    lp_array *r = NULL;
    /* x[mask] = scalar (mask of x's shape): lazily, no sizes involved */
    if (n == 1 && key[0].kind == LP_VAL_ARRAY && key[0].array->dtype == LP_BOOL && v->ndim == 0 &&
        key[0].array->ndim == x->ndim && !memcmp(key[0].array->shape, x->shape, (size_t)x->ndim * sizeof(int64_t))) {
        lp_array *vc = NULL;
        if (!KEEP(lp_astype(ctx, v, x->dtype, &vc), vc)) KEEP(lp_where(ctx, key[0].array, vc, x, &r), r);
        if (!st) { lp_array_retain(r); *out = r; }
        lpi_drop(&t);
        return st;
    }
    lp_array *pos = NULL, *sel = NULL, *flat = NULL, *vals = NULL, *vb = NULL, *sc = NULL;
    int64_t m1 = -1;
    if (!KEEP(lp_arange(ctx, 0, (double)x->size, 1, LP_INT64, &pos), pos) && !KEEP(lp_reshape(ctx, pos, x->ndim, x->shape, &pos), pos) &&
        !(st = getitem(ctx, &t, pos, n, key, &sel)) && !KEEP(lp_reshape(ctx, sel, 1, &m1, &flat), flat)) {
        /* v broadcast to the selection's shape, flattened in the same order */
        if (!KEEP(lp_astype(ctx, v, x->dtype, &vals), vals) && !KEEP(lp_broadcast_to(ctx, vals, sel->ndim, sel->shape, &vb), vb) &&
            !KEEP(lp_reshape(ctx, vb, 1, &m1, &vb), vb))
            KEEP(lpi_scatter(ctx, x, flat, vb, &sc), sc);
        r = sc;
    }
    if (!st) { lp_array_retain(r); *out = r; }
    lpi_drop(&t);
    return st;
}
