/* Catalogue builders for the array API standard's functions (2024.12) that NumPy 2 spells
 * differently or that Lampy's NumPy names lacked: linalg.diagonal/trace (the last two axes),
 * vector_norm, matrix_norm, svdvals, matrix_power, cross; cumulative_sum/prod; meshgrid,
 * broadcast_arrays, unstack. Each is composed of catalogue functions (lp_call) and library
 * builders, so it is lazy and chunked like them and has no second implementation. */
#include "expr/catalog.h"

#include <math.h>
#include <string.h>

#define ARG(name) lpi_call_arg(c, name)
#define KEEP(st_expr, var) ((st = (st_expr)) ? st : (lpi_keep(t, var), LP_OK))

/* name(x, **kw) through the catalogue; *out a new reference */
static lp_status call1(lp_ctx *ctx, const char *name, lp_array *x, int nkw, const char *const *kwn, const lp_value *kw,
                       lp_array **out) {
    lp_value pos = lp_value_array(x);
    return lpi_call_array(ctx, name, 1, &pos, nkw, kwn, kw, out);
}

/* NumPy's reductions of a norm in the input's float dtype: integers and bools as float64;
 * complex input stays complex (its norms are of |x|, its singular values real) */
static lp_status as_float(lp_ctx *ctx, lpi_tmps *t, lp_array *x, lp_array **out) {
    lp_status st = LP_OK;
    *out = x;
    const lpi_kind k = lpi_dtype_kind(x->dtype);
    if (k != LPI_KIND_FLOAT && k != LPI_KIND_COMPLEX) KEEP(lp_astype(ctx, x, LP_FLOAT64, out), *out);
    return st;
}

static lp_status reduce(lp_ctx *ctx, lpi_tmps *t, const char *op, lp_array *x, int n, const int *axes, bool keepdims,
                        lp_array **out) {
    lp_status st;
    return KEEP(lp_reduce(ctx, op, x, axes, n, keepdims, out), *out);
}

/* linalg.diagonal(x, offset) and linalg.trace(x, offset, dtype): NumPy's over axes -2, -1 */
lp_status lpi_fn_linalg_diagonal(lpi_call *c, lp_value *out) {
    lp_array *x = ARG("x")->a, *r = NULL;
    bool tr = !strcmp(c->fn->op, "trace");
    const char *kwn[] = {"offset", "axis1", "axis2", "dtype"};
    lp_value kw[4] = {lp_value_int(ARG("offset")->i), lp_value_int(-2), lp_value_int(-1), lp_value_none()};
    if (tr && ARG("dtype")->given) kw[3] = lp_value_dtype(ARG("dtype")->dt);
    return lpi_out_array(c, call1(c->ctx, c->fn->op, x, tr ? 4 : 3, kwn, kw, &r), &r, out);
}

/* ord of a norm: a number (inf too); false if it is not one */
static bool ord_of(const lp_value *v, double *ord) {
    if (!v || v->kind == LP_VAL_NONE) return false;
    if (v->kind == LP_VAL_INT || v->kind == LP_VAL_BOOL) *ord = (double)(v->kind == LP_VAL_INT ? v->i : v->b);
    else if (v->kind == LP_VAL_FLOAT) *ord = v->f;
    else return false;
    return true;
}

/* the p-norm over axes of |x| (x float): max/min for +-inf, the count of non-zeros for 0,
 * sum(|x| ** p) ** (1 / p) otherwise (2: the square root of the sum of squares) */
static lp_status pnorm(lp_ctx *ctx, lpi_tmps *t, lp_array *x, double ord, int n, const int *axes, bool keepdims,
                       lp_array **out) {
    lp_status st;
    lp_array *a = NULL, *p = NULL, *s = NULL, *e = NULL, *zero = NULL, *nz = NULL;
    if (ord == 0) {
        if (KEEP(lp_scalar_array(ctx, lp_scalar_i(0), &zero), zero) || KEEP(lp_binary(ctx, "not_equal", x, zero, &nz), nz) ||
            (st = reduce(ctx, t, "sum", nz, n, axes, keepdims, &s)))
            return st;
        return KEEP(lp_astype(ctx, s, lpi_dtype_real(x->dtype), out), *out);
    }
    if ((st = KEEP(lp_unary(ctx, "abs", x, &a), a))) return st;
    if (isinf(ord)) return reduce(ctx, t, ord > 0 ? "max" : "min", a, n, axes, keepdims, out);
    if (ord == 1) return reduce(ctx, t, "sum", a, n, axes, keepdims, out);
    if (ord == 2) {
        if (KEEP(lp_binary(ctx, "multiply", a, a, &p), p) || (st = reduce(ctx, t, "sum", p, n, axes, keepdims, &s))) return st;
        return KEEP(lp_unary(ctx, "sqrt", s, out), *out);
    }
    if (KEEP(lp_scalar_array(ctx, lp_scalar_f(ord), &e), e) || KEEP(lp_binary(ctx, "power", a, e, &p), p) ||
        (st = reduce(ctx, t, "sum", p, n, axes, keepdims, &s)) || KEEP(lp_scalar_array(ctx, lp_scalar_f(1.0 / ord), &e), e))
        return st;
    return KEEP(lp_binary(ctx, "power", s, e, out), *out);
}

/* linalg.vector_norm(x, axis=None, keepdims=False, ord=2): axis None over every axis */
lp_status lpi_fn_vector_norm(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_tmps tt = {0}, *t = &tt;
    lpi_arg *ax = ARG("axis");
    lp_array *x = NULL, *r = NULL;
    double ord = 2;
    if (ARG("ord")->given && !ord_of(ARG("ord")->v, &ord))
        return lpi_error(ctx, LP_ERR_VALUE, "Invalid norm order '%s' for vectors", ARG("ord")->v->kind == LP_VAL_STR ? ARG("ord")->v->s : "?");
    lp_status st = as_float(ctx, t, ARG("x")->a, &x);
    if (!st) st = pnorm(ctx, t, x, ord, ax->naxes < 0 ? 0 : ax->naxes, ax->naxes < 0 ? NULL : ax->axes, ARG("keepdims")->b, &r);
    return lpi_give(c, t, st, &r, out);
}

/* the singular values of x's matrices (x float), (..., K) */
static lp_status singular_values(lp_ctx *ctx, lpi_tmps *t, lp_array *x, lp_array **out) {
    lp_status st;
    return KEEP(lp_linalg_svd(ctx, x, NULL, out, NULL), *out);
}

lp_status lpi_fn_svdvals(lpi_call *c, lp_value *out) {
    lpi_tmps tt = {0}, *t = &tt;
    lp_array *x = NULL, *r = NULL;
    lp_status st = as_float(c->ctx, t, ARG("x")->a, &x);
    if (!st) st = singular_values(c->ctx, t, x, &r);
    return lpi_give(c, t, st, &r, out);
}

/* linalg.matrix_norm(x, keepdims=False, ord='fro') over the last two axes: 'fro', 'nuc'
 * (the sum of the singular values), +-2 (the largest/smallest), +-1 (max/min column sum of
 * |x|), +-inf (max/min row sum) */
lp_status lpi_fn_matrix_norm(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_tmps tt = {0}, *t = &tt;
    lp_array *x = NULL, *r = NULL, *a = NULL, *s = NULL;
    const lp_value *ov = ARG("ord")->v;
    const bool keepdims = ARG("keepdims")->b;
    double ord = 0;
    bool fro = !ov || ov->kind == LP_VAL_NONE || (ov->kind == LP_VAL_STR && !strcmp(ov->s, "fro"));
    bool nuc = ov && ov->kind == LP_VAL_STR && !strcmp(ov->s, "nuc");
    if (!fro && !nuc && (!ord_of(ov, &ord) || !(fabs(ord) == 1 || fabs(ord) == 2 || isinf(ord))))
        return lpi_error(ctx, LP_ERR_VALUE, "Invalid norm order for matrices.");
    lp_array *x0 = ARG("x")->a;
    if (x0->ndim < 2)
        return lpi_error(ctx, LP_ERR_LINALG, "%d-dimensional array given. Array must be at least two-dimensional", x0->ndim);
    lp_status st = as_float(ctx, t, x0, &x);
    const int last2[2] = {-2, -1}, rows = -2, cols = -1, lastax = -1;
    if (st) {
    } else if (fro) {
        st = pnorm(ctx, t, x, 2, 2, last2, keepdims, &r);
    } else if (nuc || fabs(ord) == 2) {
        if (!(st = singular_values(ctx, t, x, &s)))
            st = reduce(ctx, t, nuc ? "sum" : ord > 0 ? "max" : "min", s, 1, &lastax, false, &r);
    } else {
        /* 1: columns (sum over rows), inf: rows (sum over columns) */
        if (!KEEP(lp_unary(ctx, "abs", x, &a), a) && !(st = reduce(ctx, t, "sum", a, 1, isinf(ord) ? &cols : &rows, false, &s)))
            st = reduce(ctx, t, ord > 0 ? "max" : "min", s, 1, &lastax, false, &r);
    }
    if (!st && keepdims && !fro) { /* the two reduced axes back as unit axes */
        int64_t sh[LP_MAX_NDIM];
        for (int i = 0; i < r->ndim; i++) sh[i] = r->shape[i];
        sh[r->ndim] = sh[r->ndim + 1] = 1;
        lp_array *k = NULL;
        if (!KEEP(lp_reshape(ctx, r, r->ndim + 2, sh, &k), k)) r = k;
    }
    return lpi_give(c, t, st, &r, out);
}

/* numpy.linalg.norm(x, ord=None, axis=None, keepdims=False), composed as NumPy composes it: ord
 * and axis None, the 2-norm of the flattened array; one axis, vector_norm's orders over it; an
 * axis pair, matrix_norm's orders over it (the pair moved last, keepdims putting unit axes back
 * where the pair was); ord without axis: a 1-d array as a vector, a 2-d one as a matrix. */
lp_status lpi_fn_norm(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_tmps tt = {0}, *t = &tt;
    lp_array *x0 = ARG("x")->a, *x = NULL, *m = NULL, *r = NULL;
    const lpi_arg *ax = ARG("axis");
    const lp_value *ov = ARG("ord")->v;
    const bool keepdims = ARG("keepdims")->b, has_ord = ov && ov->kind != LP_VAL_NONE;
    int axes[2] = {0, 1}, n = ax->naxes;
    lp_status st = LP_OK;
    if (n < 0 && !has_ord) {
        if (!(st = as_float(ctx, t, x0, &x))) st = pnorm(ctx, t, x, 2, 0, NULL, keepdims, &r);
        return lpi_give(c, t, st, &r, out);
    }
    if (n < 0) n = x0->ndim;
    else
        for (int k = 0; k < n && k < 2; k++)
            if ((st = lpi_norm_axis(ctx, ax->axes[k], x0->ndim, &axes[k]))) return st;
    if (n != 1 && n != 2) return lpi_error(ctx, LP_ERR_VALUE, "Improper number of dimensions to norm.");
    if (n == 2 && axes[0] == axes[1]) return lpi_error(ctx, LP_ERR_VALUE, "Duplicate axes given.");
    if (n == 1) {
        double ord = 2;
        if (has_ord && !ord_of(ov, &ord))
            return lpi_error(ctx, LP_ERR_VALUE, "Invalid norm order '%s' for vectors", ov->kind == LP_VAL_STR ? ov->s : "?");
        if (!(st = as_float(ctx, t, x0, &x))) st = pnorm(ctx, t, x, ord, 1, axes, keepdims, &r);
        return lpi_give(c, t, st, &r, out);
    }
    int perm[LP_MAX_NDIM], k = 0;
    for (int i = 0; i < x0->ndim; i++)
        if (i != axes[0] && i != axes[1]) perm[k++] = i;
    perm[k++] = axes[0];
    perm[k] = axes[1];
    const char *kwn[] = {"ord"};
    if (!KEEP(lp_transpose(ctx, x0, perm, &m), m))
        KEEP(call1(ctx, "linalg.matrix_norm", m, has_ord, kwn, ov, &r), r);
    if (!st && keepdims) {
        int64_t sh[LP_MAX_NDIM];
        for (int i = 0; i < x0->ndim; i++) sh[i] = i == axes[0] || i == axes[1] ? 1 : x0->shape[i];
        lp_array *kd = NULL;
        if (!KEEP(lp_reshape(ctx, r, x0->ndim, sh, &kd), kd)) r = kd;
    }
    return lpi_give(c, t, st, &r, out);
}

/* numpy.linalg.cond(x, p=None) of x's matrices: p None, 2, -2: the largest singular value over
 * the smallest (-2: the inverse ratio); the other orders: matrix_norm(x, p) times
 * matrix_norm(inv(x), p), square matrices only. Unlike NumPy, whose inverse of a singular matrix
 * is NaNs it turns into inf, such a matrix is inv's LinAlgError there. */
lp_status lpi_fn_cond(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_tmps tt = {0}, *t = &tt;
    lp_array *x0 = ARG("x")->a, *x = NULL, *r = NULL, *s = NULL, *hi = NULL, *lo = NULL, *inv = NULL, *n1 = NULL,
             *n2 = NULL;
    const lp_value *pv = ARG("p")->v;
    double p = 0;
    const bool by_svd = !pv || pv->kind == LP_VAL_NONE || (ord_of(pv, &p) && fabs(p) == 2);
    if (x0->ndim < 2)
        return lpi_error(ctx, LP_ERR_LINALG, "%d-dimensional array given. Array must be at least two-dimensional", x0->ndim);
    if (x0->shape[x0->ndim - 1] == 0 || x0->shape[x0->ndim - 2] == 0)
        return lpi_error(ctx, LP_ERR_LINALG, "cond is not defined on empty arrays");
    const int last = -1;
    lp_status st = as_float(ctx, t, x0, &x);
    if (st) {
    } else if (by_svd) {
        /* the singular values are sorted: their max and min are s[..., 0] and s[..., -1] */
        if (!(st = singular_values(ctx, t, x, &s)) && !(st = reduce(ctx, t, "max", s, 1, &last, false, &hi)) &&
            !(st = reduce(ctx, t, "min", s, 1, &last, false, &lo)))
            st = KEEP(p < 0 ? lp_binary(ctx, "divide", lo, hi, &r) : lp_binary(ctx, "divide", hi, lo, &r), r);
    } else {
        const char *kwn[] = {"ord"};
        if (!KEEP(lp_linalg_inv(ctx, x, &inv), inv) && !KEEP(call1(ctx, "linalg.matrix_norm", x, 1, kwn, pv, &n1), n1) &&
            !KEEP(call1(ctx, "linalg.matrix_norm", inv, 1, kwn, pv, &n2), n2))
            st = KEEP(lp_binary(ctx, "multiply", n1, n2, &r), r);
    }
    return lpi_give(c, t, st, &r, out);
}

/* linalg.matrix_power(a, n): squarings and products of matmul; n < 0 of the inverse; n == 0
 * the identity in a's shape */
lp_status lpi_fn_matrix_power(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_tmps tt = {0}, *t = &tt;
    lp_array *a = ARG("a")->a, *r = NULL;
    int64_t n = ARG("n")->i;
    if (a->ndim < 2)
        return lpi_error(ctx, LP_ERR_LINALG, "%d-dimensional array given. Array must be at least two-dimensional", a->ndim);
    if (a->shape[a->ndim - 1] != a->shape[a->ndim - 2])
        return lpi_error(ctx, LP_ERR_LINALG, "Last 2 dimensions of the array must be square");
    lp_status st = LP_OK;
    if (n == 0) {
        lp_array *e = NULL;
        int64_t m = a->shape[a->ndim - 1];
        if (!KEEP(lp_eye(ctx, m, m, 0, a->dtype, &e), e)) KEEP(lp_broadcast_to(ctx, e, a->ndim, a->shape, &r), r);
        return lpi_give(c, t, st, &r, out);
    }
    lp_array *b = a;
    if (n < 0) {
        if (lpi_dtype_kind(a->dtype) != LPI_KIND_FLOAT)
            return lpi_error(ctx, LP_ERR_TYPE, "Integers to negative integer powers are not allowed.");
        if (KEEP(lp_linalg_inv(ctx, a, &b), b)) return lpi_give(c, t, st, &r, out);
        n = -n;
    }
    /* r = b ** n by squaring: the lowest bit first */
    for (lp_array *sq = b; n && !st; n >>= 1) {
        if (n & 1) {
            lp_array *p = NULL;
            if (!r) r = sq;
            else if (!KEEP(lp_matmul(ctx, r, sq, &p), p)) r = p;
        }
        if (n > 1 && !st) {
            lp_array *q = NULL;
            if (!KEEP(lp_matmul(ctx, sq, sq, &q), q)) sq = q;
        }
    }
    return lpi_give(c, t, st, &r, out);
}

/* linalg.cross(x1, x2, axis=-1): both broadcast, the axis of length 3 split into components,
 * c = (a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0) concatenated back along it */
lp_status lpi_fn_cross(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_tmps tt = {0}, *t = &tt;
    lp_array *x[2] = {ARG("x1")->a, ARG("x2")->a}, *r = NULL;
    int nd;
    int64_t sh[LP_MAX_NDIM];
    const int ndims[2] = {x[0]->ndim, x[1]->ndim};
    const int64_t *shapes[2] = {x[0]->shape, x[1]->shape};
    lp_status st = lpi_broadcast_shapes(ctx, 2, ndims, shapes, &nd, sh);
    int axis;
    if (st || (st = lpi_norm_axis(ctx, (int)ARG("axis")->i, nd, &axis))) return st;
    int a0 = axis - nd + x[0]->ndim, a1 = axis - nd + x[1]->ndim;
    if (sh[axis] != 3 || a0 < 0 || a1 < 0 || x[0]->shape[a0] != 3 || x[1]->shape[a1] != 3)
        return lpi_error(ctx, LP_ERR_VALUE, "cross(): both inputs must have 3 elements along axis %d", axis - nd);
    if (x[0]->dtype == LP_BOOL && x[1]->dtype == LP_BOOL)
        return lpi_error(ctx, LP_ERR_TYPE, "cross(): boolean inputs are not supported (subtract of booleans)");
    lp_array *comp[2][3];
    for (int k = 0; k < 2 && !st; k++) {
        lp_array *b = NULL;
        if (KEEP(lp_broadcast_to(ctx, x[k], nd, sh, &b), b)) break;
        for (int i = 0; i < 3 && !st; i++) {
            lp_index ix[LP_MAX_NDIM];
            for (int d = 0; d < nd; d++) ix[d] = (lp_index){LP_IDX_SLICE, false, false, 0, 0, 1};
            ix[axis] = (lp_index){LP_IDX_SLICE, true, true, i, i + 1, 1};
            KEEP(lp_slice(ctx, b, nd, ix, &comp[k][i]), comp[k][i]);
        }
    }
    lp_array *res[3];
    for (int i = 0; i < 3 && !st; i++) {
        int j = (i + 1) % 3, k = (i + 2) % 3;
        lp_array *p = NULL, *q = NULL;
        if (!KEEP(lp_binary(ctx, "multiply", comp[0][j], comp[1][k], &p), p) &&
            !KEEP(lp_binary(ctx, "multiply", comp[0][k], comp[1][j], &q), q))
            KEEP(lp_binary(ctx, "subtract", p, q, &res[i]), res[i]);
    }
    if (!st) KEEP(lp_concatenate(ctx, 3, res, axis, &r), r);
    return lpi_give(c, t, st, &r, out);
}

/* cumulative_sum / cumulative_prod(x, axis=None, dtype=None, include_initial=False): cumsum /
 * cumprod (a 0-d or 1-d x needs no axis), with the empty sum or product first if asked */
lp_status lpi_fn_cumulative(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_tmps tt = {0}, *t = &tt;
    lp_array *x = ARG("x")->a, *r = NULL, *s = NULL;
    lpi_arg *ax = ARG("axis"), *dt = ARG("dtype");
    bool prod = !strcmp(c->fn->op, "cumprod");
    if (ax->naxes < 0 && x->ndim > 1)
        return lpi_error(ctx, LP_ERR_VALUE, "For arrays which have more than one dimension ``axis`` argument is required.");
    if (ax->axis_tuple) return lpi_error(ctx, LP_ERR_TYPE, "'tuple' object cannot be interpreted as an integer");
    const char *kwn[] = {"axis", "dtype"};
    lp_value kw[2] = {ax->naxes < 0 ? lp_value_none() : lp_value_int(ax->axes[0]),
                      dt->given ? lp_value_dtype(dt->dt) : lp_value_none()};
    lp_status st = call1(ctx, c->fn->op, x, 2, kwn, kw, &s);
    if (st) return st;
    lpi_keep(t, s);
    r = s;
    if (ARG("include_initial")->b) {
        int axis = 0;
        if (ax->naxes >= 0 && (st = lpi_norm_axis(ctx, ax->axes[0], s->ndim, &axis))) return lpi_give(c, t, st, &r, out);
        int64_t sh[LP_MAX_NDIM];
        for (int i = 0; i < s->ndim; i++) sh[i] = s->shape[i];
        sh[axis] = 1;
        lp_array *init = NULL, *both[2];
        if (!KEEP(lp_full(ctx, s->dtype, s->ndim, sh, lp_scalar_i(prod ? 1 : 0), &init), init)) {
            both[0] = init;
            both[1] = s;
            KEEP(lp_concatenate(ctx, 2, both, axis, &r), r);
        }
    }
    return lpi_give(c, t, st, &r, out);
}

/* several results as a tuple or list; every r[k] kept on t (the result takes its own references) */
static lp_status out_many(lpi_call *c, lpi_tmps *t, lp_status st, lp_value_kind kind, lp_array **r, int n, lp_value *out) {
    if (!st) {
        for (int k = 0; k < n; k++) lp_array_retain(r[k]);
        st = lpi_out_list(c, kind, r, n, out);
    }
    lpi_drop(t);
    return st;
}

/* the broadcast shape of n arrays */
static lp_status common_shape(lp_ctx *ctx, int n, lp_array *const *a, int *nd, int64_t *sh) {
    int ndims[256];
    const int64_t *shapes[256];
    if (n > 256) return lpi_error(ctx, LP_ERR_VALUE, "at most 256 arrays can be broadcast together, got %d", n);
    for (int k = 0; k < n; k++) {
        ndims[k] = a[k]->ndim;
        shapes[k] = a[k]->shape;
    }
    /* NumPy's message names the two arguments: the one that set an axis's length, and the
     * first that disagrees with it */
    int from[LP_MAX_NDIM];
    int64_t len[LP_MAX_NDIM];
    for (int d = 0; d < LP_MAX_NDIM; d++) { from[d] = -1; len[d] = 1; }
    for (int k = 0; k < n; k++)
        for (int d = 0; d < a[k]->ndim; d++) { /* d counts from the last axis */
            int64_t v = a[k]->shape[a[k]->ndim - 1 - d];
            if (v == 1) continue;
            if (from[d] < 0 || len[d] == 1) { from[d] = k; len[d] = v; continue; }
            if (v != len[d]) {
                char s1[128], s2[128];
                return lpi_error(ctx, LP_ERR_VALUE, "shape mismatch: objects cannot be broadcast to a single shape.  "
                                 "Mismatch is between arg %d with shape %s and arg %d with shape %s.", from[d],
                                 lpi_shape_str(s1, sizeof s1, a[from[d]]->ndim, a[from[d]]->shape), k,
                                 lpi_shape_str(s2, sizeof s2, a[k]->ndim, a[k]->shape));
            }
        }
    return lpi_broadcast_shapes(ctx, n, ndims, shapes, nd, sh);
}

lp_status lpi_fn_broadcast_arrays(lpi_call *c, lp_value *out) {
    lpi_tmps tt = {0}, *t = &tt;
    lpi_arg *as = ARG("arrays");
    lp_array *r[256];
    int nd = 0;
    int64_t sh[LP_MAX_NDIM];
    lp_status st = common_shape(c->ctx, as->n, as->as, &nd, sh);
    for (int k = 0; k < as->n && !st; k++) KEEP(lp_broadcast_to(c->ctx, as->as[k], nd, sh, &r[k]), r[k]);
    return out_many(c, t, st, LP_VAL_LIST, r, as->n, out); /* the standard's List[array] */
}

/* meshgrid(*xi, indexing='xy', sparse=False, copy=True): xi flattened, each along its own axis
 * (the first two swapped for 'xy'), broadcast to the full grid unless sparse */
lp_status lpi_fn_meshgrid(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_tmps tt = {0}, *t = &tt;
    lpi_arg *xi = ARG("xi");
    const char *ix = ARG("indexing")->given ? ARG("indexing")->s : "xy";
    bool xy = !strcmp(ix, "xy");
    if (!xy && strcmp(ix, "ij")) return lpi_error(ctx, LP_ERR_VALUE, "Valid values for `indexing` are 'xy' and 'ij'.");
    int n = xi->n;
    if (n > LP_MAX_NDIM) return lpi_error(ctx, LP_ERR_VALUE, "meshgrid(): at most %d arrays, got %d", LP_MAX_NDIM, n);
    int64_t full[LP_MAX_NDIM];
    for (int k = 0; k < n; k++) full[k] = lp_array_size(xi->as[k]);
    if (xy && n >= 2) {
        int64_t s0 = full[0];
        full[0] = full[1];
        full[1] = s0;
    }
    lp_array *r[LP_MAX_NDIM];
    lp_status st = LP_OK;
    for (int k = 0; k < n && !st; k++) {
        int at = xy && n >= 2 && k < 2 ? 1 - k : k;
        int64_t sh[LP_MAX_NDIM];
        for (int d = 0; d < n; d++) sh[d] = d == at ? full[d] : 1;
        lp_array *v = NULL;
        if (!KEEP(lp_reshape(ctx, xi->as[k], n, sh, &v), v)) {
            r[k] = v;
            if (!ARG("sparse")->b) KEEP(lp_broadcast_to(ctx, v, n, full, &r[k]), r[k]);
        }
    }
    return out_many(c, t, st, LP_VAL_LIST, r, n, out); /* the standard's List[array] */
}

/* unstack(x, axis=0): the slices x[..., i, ...] along axis, as a tuple */
lp_status lpi_fn_unstack(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_tmps tt = {0}, *t = &tt;
    lp_array *x = ARG("x")->a;
    int axis;
    lp_status st = x->ndim == 0 ? lpi_error(ctx, LP_ERR_VALUE, "Input array must be at least 1-d.")
                                : lpi_norm_axis(ctx, (int)ARG("axis")->i, x->ndim, &axis);
    if (st) return st;
    int64_t n = x->shape[axis];
    if (n > 255) return lpi_error(ctx, LP_ERR_VALUE, "unstack(): at most 255 slices, got %lld", (long long)n);
    lp_array *r[256];
    for (int64_t i = 0; i < n && !st; i++) {
        lp_index ix[LP_MAX_NDIM];
        for (int d = 0; d < x->ndim; d++) ix[d] = (lp_index){LP_IDX_SLICE, false, false, 0, 0, 1};
        ix[axis] = (lp_index){LP_IDX_INT, true, false, i, 0, 0};
        KEEP(lp_slice(ctx, x, x->ndim, ix, &r[i]), r[i]);
    }
    return out_many(c, t, st, LP_VAL_TUPLE, r, (int)n, out);
}

/* name(a, b) through the catalogue */
static lp_status call2(lp_ctx *ctx, lpi_tmps *t, const char *name, lp_array *a, lp_array *b, lp_array **out) {
    lp_value pos[2] = {lp_value_array(a), lp_value_array(b)};
    lp_status st = lpi_call_array(ctx, name, 2, pos, 0, NULL, NULL, out);
    if (!st) lpi_keep(t, *out);
    return st;
}

/* isin(element, test_elements, assume_unique=False, invert=False): the test set sorted once
 * (the chunked merge sort), each element's insertion point found (searchsorted), and the value
 * there compared: chunked on both sides, no hash table of the whole set in one task. Both in
 * their common dtype, so 2 in [2.0] is true; NaN is in nothing, as in NumPy. */
lp_status lpi_fn_isin(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_tmps tt = {0}, *t = &tt;
    lp_array *e = ARG("element")->a, *s = ARG("test_elements")->a, *r = NULL;
    const bool invert = ARG("invert")->b;
    lpi_arg *kind = ARG("kind");
    if (kind->given && strcmp(kind->s, "sort") && strcmp(kind->s, "table"))
        return lpi_error(ctx, LP_ERR_VALUE, "Invalid kind: '%s'. Please use None, 'sort' or 'table'.", kind->s);
    lp_dtype dt = lp_promote(e->dtype, s->dtype);
    int64_t n = lp_array_size(s), flat = -1;
    lp_status st = LP_OK;
    if (n == 0) {
        if (!KEEP(lp_full(ctx, LP_BOOL, e->ndim, e->shape, lp_scalar_b(invert), &r), r)) {}
        return lpi_give(c, t, st, &r, out);
    }
    lp_array *ec = e, *sc = s, *f = NULL, *sorted = NULL, *idx = NULL, *last = NULL, *at = NULL, *v = NULL, *eq = NULL;
    if (e->dtype != dt) KEEP(lp_astype(ctx, e, dt, &ec), ec);
    if (!st && s->dtype != dt) KEEP(lp_astype(ctx, s, dt, &sc), sc);
    if (st || KEEP(lp_reshape(ctx, sc, 1, &flat, &f), f)) return lpi_give(c, t, st, &r, out);
    lp_value pos = lp_value_array(f), res = lp_value_none();
    if ((st = lp_call(ctx, "sort", 1, &pos, 0, NULL, NULL, &res))) return lpi_give(c, t, st, &r, out);
    sorted = lpi_keep(t, res.array);
    if ((st = call2(ctx, t, "searchsorted", sorted, ec, &idx)) || KEEP(lp_scalar_array(ctx, lp_scalar_i(n - 1), &last), last) ||
        KEEP(lp_binary(ctx, "minimum", idx, last, &at), at) || (st = call2(ctx, t, "take", sorted, at, &v)) ||
        KEEP(lp_binary(ctx, invert ? "not_equal" : "equal", v, ec, &eq), eq))
        return lpi_give(c, t, st, &r, out);
    r = eq;
    return lpi_give(c, t, st, &r, out);
}
