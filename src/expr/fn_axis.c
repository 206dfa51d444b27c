/* Catalogue builders of the functions along an axis: cumulative scans, diff, sort/argsort,
 * and the order statistics (median, quantile, percentile) on top of selection by rank. */
#include "expr/catalog.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define ARG(name) lpi_call_arg(c, name)

/* x flattened (axis=None), or x itself; *axis the axis to work along. New reference. */
static lp_status along(lpi_call *c, lp_array *x, const lpi_arg *ax, lp_array **out, int *axis) {
    if (ax->naxes > 1 || ax->axis_tuple)
        return lpi_error(c->ctx, LP_ERR_TYPE, "'tuple' object cannot be interpreted as an integer");
    if (ax->naxes < 0) {
        int64_t m1 = -1;
        *axis = 0;
        return lp_reshape(c->ctx, x, 1, &m1, out);
    }
    *axis = ax->axes[0];
    lp_array_retain(x);
    *out = x;
    return LP_OK;
}

static lp_status scan_op(lpi_call *c, const char *name, lp_value *out) {
    lpi_op op;
    lpi_op_lookup(name, &op);
    lpi_arg *dt = ARG("dtype");
    lp_array *x = NULL, *cast = NULL, *r = NULL;
    int axis;
    lp_status st = along(c, ARG("a")->a, ARG("axis"), &x, &axis);
    if (!st && dt && dt->given && dt->dt != x->dtype) {
        st = lp_astype(c->ctx, x, dt->dt, &cast);
        lp_array_release(x);
        x = cast;
    }
    if (!st) st = lpi_scan(c->ctx, op, x, axis, &r);
    lp_array_release(x);
    if (!st && dt && dt->given && r->dtype != dt->dt) { /* cumsum(x, dtype=uint32) stays uint32, as NumPy's */
        lp_array *wide = r;
        r = NULL;
        st = lp_astype(c->ctx, wide, dt->dt, &r);
        lp_array_release(wide);
    }
    return lpi_out_array(c, st, &r, out);
}

lp_status lpi_fn_scan(lpi_call *c, lp_value *out) { return scan_op(c, c->fn->op, out); }

static lp_status sort_checks(lpi_call *c) {
    lpi_arg *kind = ARG("kind"), *order = ARG("order"), *stable = ARG("stable");
    if (order && order->given) return lpi_error(c->ctx, LP_ERR_VALUE, "%s(): order= applies to structured arrays, which Lampy does not have", c->fname);
    if (kind && kind->given) {
        static const char *const kinds[] = {"quicksort", "mergesort", "heapsort", "stable"};
        bool ok = false;
        for (int k = 0; k < 4; k++) ok |= !strcmp(kind->s, kinds[k]);
        if (!ok) return lpi_error(c->ctx, LP_ERR_VALUE, "sort kind must be one of 'quick', 'heap', or 'stable' (got '%s')", kind->s);
        if (stable && stable->given)
            return lpi_error(c->ctx, LP_ERR_VALUE, "`kind` and `stable` parameters can't be provided at the same time. Use only one of them.");
    }
    (void)stable; /* every Lampy sort is stable */
    return LP_OK;
}

/* a reversed along axis (a new reference) */
static lp_status reversed(lp_ctx *ctx, lp_array *a, int axis, lp_array **out) {
    lp_index ix[LP_MAX_NDIM];
    for (int i = 0; i < a->ndim; i++) ix[i] = (lp_index){LP_IDX_SLICE, false, false, 0, 0, i == axis ? -1 : 1};
    return lp_slice(ctx, a, a->ndim, ix, out);
}

/* take_along_axis(a, idx, axis) through the catalogue (a new reference) */
static lp_status along_take(lp_ctx *ctx, lp_array *a, lp_array *idx, int axis, lp_array **out) {
    lp_value pos[3] = {lp_value_array(a), lp_value_array(idx), lp_value_int(axis)}, r = lp_value_none();
    lp_status st = lp_call(ctx, "take_along_axis", 3, pos, 0, NULL, NULL, &r);
    if (st) return st;
    *out = r.array;
    return LP_OK;
}

/* sort/argsort of x along axis; complex x in NumPy's sort order: R + Rj lexicographically (real
 * part, then imaginary), then R + nanj by the real part, nan + Rj by the imaginary part, then
 * nan + nanj ([R + Rj, R + nanj, nan + Rj, nan + nanj], numpy.sort's documented order), as
 * three stable sorts from the least significant key: the imaginary part, the real part, then
 * the class 2 isnan(real) + isnan(imag). */
lp_status lpi_sort(lp_ctx *ctx, lpi_op op, lp_array *x, int axis, lp_array **out) {
    if (!lpi_dtype_is_complex(x->dtype)) return lpi_sort_node(ctx, op, x, axis, out);
    enum { RE, IM, NR, NI, CR, CI, CK0, CK, P1, RE1, P2, PERM2, CK2, P3, PERM, NT };
    lp_array *v[NT] = {0};
    lp_status st;
    if (!(st = lpi_norm_axis(ctx, axis, x->ndim, &axis)) && !(st = lp_unary(ctx, "real", x, &v[RE])) &&
        !(st = lp_unary(ctx, "imag", x, &v[IM])) && !(st = lp_unary(ctx, "isnan", v[RE], &v[NR])) &&
        !(st = lp_unary(ctx, "isnan", v[IM], &v[NI])) && !(st = lp_astype(ctx, v[NR], LP_INT8, &v[CR])) &&
        !(st = lp_astype(ctx, v[NI], LP_INT8, &v[CI])) && !(st = lp_binary(ctx, "add", v[CR], v[CR], &v[CK0])) &&
        !(st = lp_binary(ctx, "add", v[CK0], v[CI], &v[CK])) &&
        !(st = lpi_sort_node(ctx, LPI_OP_ARGSORT, v[IM], axis, &v[P1])) && !(st = along_take(ctx, v[RE], v[P1], axis, &v[RE1])) &&
        !(st = lpi_sort_node(ctx, LPI_OP_ARGSORT, v[RE1], axis, &v[P2])) && !(st = along_take(ctx, v[P1], v[P2], axis, &v[PERM2])) &&
        !(st = along_take(ctx, v[CK], v[PERM2], axis, &v[CK2])) && !(st = lpi_sort_node(ctx, LPI_OP_ARGSORT, v[CK2], axis, &v[P3])) &&
        !(st = along_take(ctx, v[PERM2], v[P3], axis, &v[PERM]))) {
        if (op == LPI_OP_ARGSORT) {
            *out = v[PERM];
            v[PERM] = NULL;
        } else {
            st = along_take(ctx, x, v[PERM], axis, out);
        }
    }
    for (int k = 0; k < NT; k++) lp_array_release(v[k]);
    return st;
}

/* descending=True (the array API's): the ascending stable sort of x reversed, reversed back;
 * for argsort the positions are mapped back (n-1-j), so equal values keep their order. */
lp_status lpi_fn_sort(lpi_call *c, lp_value *out) {
    lp_status st = sort_checks(c);
    if (st) return st;
    lpi_op op;
    lpi_op_lookup(c->fn->op, &op);
    lpi_arg *desc = ARG("descending");
    bool down = desc && desc->b, arg = !strcmp(c->fn->op, "argsort");
    lp_array *x = NULL, *r = NULL, *y = NULL, *s = NULL, *n1 = NULL;
    int axis;
    if ((st = along(c, ARG("a")->a, ARG("axis"), &x, &axis))) return st;
    if (!down) {
        st = lpi_sort(c->ctx, op, x, axis, &r);
        lp_array_release(x);
        return lpi_out_array(c, st, &r, out);
    }
    if (!(st = lpi_norm_axis(c->ctx, axis, x->ndim, &axis)) && !(st = reversed(c->ctx, x, axis, &y)) &&
        !(st = lpi_sort(c->ctx, op, y, axis, &s)) && !(st = reversed(c->ctx, s, axis, &r)) && arg) {
        lp_array *j = r;
        r = NULL;
        st = lp_scalar_array(c->ctx, lp_scalar_i(x->shape[axis] - 1), &n1);
        if (!st) st = lp_binary(c->ctx, "subtract", n1, j, &r);
        lp_array_release(j);
    }
    lp_array_release(x);
    lp_array_release(y);
    lp_array_release(s);
    lp_array_release(n1);
    return lpi_out_array(c, st, &r, out);
}

/* numpy.diff: n times a[1:] - a[:-1] along axis (not_equal for bools), with prepend/append
 * joined first. */
lp_status lpi_fn_diff(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lp_array *a = ARG("a")->a;
    int64_t n = ARG("n")->i;
    lpi_arg *axa = ARG("axis"), *pre = ARG("prepend"), *app = ARG("append");
    if (n < 0) return lpi_error(ctx, LP_ERR_VALUE, "order must be non-negative but got %lld", (long long)n);
    if (a->ndim == 0) return lpi_error(ctx, LP_ERR_VALUE, "diff requires input that is at least one dimensional");
    int ax;
    lp_status st = lpi_norm_axis(ctx, (int)axa->i, a->ndim, &ax);
    if (st) return st;
    lp_array *r = a;
    lp_array_retain(r);
    /* prepend / append: scalars broadcast to a's shape with length 1 along the axis */
    lp_array *parts[3] = {NULL, r, NULL};
    lpi_arg *extra[2] = {pre, app};
    int np = 0;
    for (int k = 0; k < 2 && !st; k++) {
        if (!extra[k]->given) continue;
        lp_array *e = extra[k]->a;
        if (e->ndim == 0) {
            int64_t shape[LP_MAX_NDIM];
            memcpy(shape, a->shape, sizeof shape);
            shape[ax] = 1;
            lp_array *z = NULL;
            if (!(st = lp_zeros(ctx, e->dtype, a->ndim, shape, &z))) {
                st = lp_binary(ctx, "add", z, e, &parts[k ? 2 : 0]);
                lp_array_release(z);
            }
        } else {
            lp_array_retain(e);
            parts[k ? 2 : 0] = e;
        }
        np++;
    }
    if (!st && np) {
        lp_array *in[3];
        int m = 0;
        for (int k = 0; k < 3; k++) if (parts[k]) in[m++] = parts[k];
        lp_array *j = NULL;
        st = lp_concatenate(ctx, m, in, ax, &j);
        lp_array_release(r);
        r = j;
    }
    lp_array_release(parts[0]);
    lp_array_release(parts[2]);
    for (int64_t k = 0; k < n && !st; k++) {
        lp_index hi[LP_MAX_NDIM], lo[LP_MAX_NDIM];
        for (int i = 0; i < r->ndim; i++) {
            hi[i] = lo[i] = (lp_index){LP_IDX_SLICE, false, false, 0, 0, 1};
            if (i == ax) {
                hi[i].has_start = true;
                hi[i].start = 1;
                lo[i].has_stop = true;
                lo[i].stop = -1;
            }
        }
        lp_array *h = NULL, *l = NULL, *d = NULL;
        if (!(st = lp_slice(ctx, r, r->ndim, hi, &h)) && !(st = lp_slice(ctx, r, r->ndim, lo, &l)))
            st = lp_binary(ctx, r->dtype == LP_BOOL ? "not_equal" : "subtract", h, l, &d);
        lp_array_release(h);
        lp_array_release(l);
        lp_array_release(r);
        r = d;
        if (r && r->shape[ax] == 0) break;
    }
    return lpi_out_array(c, st, &r, out);
}

/* ---- order statistics: median, quantile, percentile ----------------------------------- */

#define MAXQ 4096

/* q's values (a number, nested sequences of numbers, or an array whose data is in memory). */
static lp_status known_q(lpi_call *c, const lp_value *v, double *q, int64_t *nq, int *ndim, int64_t *shape) {
    if (v->kind == LP_VAL_INT || v->kind == LP_VAL_FLOAT || v->kind == LP_VAL_BOOL) {
        q[0] = v->kind == LP_VAL_FLOAT ? v->f : v->kind == LP_VAL_INT ? (double)v->i : v->b;
        *nq = 1;
        *ndim = 0;
        return LP_OK;
    }
    lp_array *a = NULL;
    lp_status st = lpi_value_to_array(c->ctx, v, false, c->fname, &a);
    if (st) return st;
    lp_buffer *res = lp_array_result(a);
    const char *p = res ? res->data : a->op == LPI_OP_WRAP ? (const char *)a->a.buf->data + a->a.offset : NULL;
    bool contiguous = res != NULL;
    if (a->op == LPI_OP_WRAP && !res) {
        int64_t s = (int64_t)lp_dtype_size(a->dtype);
        contiguous = true;
        for (int i = a->ndim - 1; i >= 0; i--) {
            if (a->shape[i] > 1 && a->a.strides[i] != s) contiguous = false;
            s *= a->shape[i];
        }
    }
    if (!p || !contiguous || a->size > MAXQ) {
        lp_array_release(a);
        return lpi_error(c->ctx, LP_ERR_VALUE, "%s(): q must be known when the expression is built (numbers or an array "
                         "in memory with at most %d values)", c->fname, MAXQ);
    }
    for (int64_t i = 0; i < a->size; i++) {
        q[i] = lpi_load_f64((const char *)p + i * (int64_t)lp_dtype_size(a->dtype), a->dtype);
    }
    *nq = a->size;
    *ndim = a->ndim;
    memcpy(shape, a->shape, (size_t)a->ndim * sizeof *shape);
    lp_array_release(a);
    return LP_OK;
}

/* A 1-d int64 array of known values (the ranks). */
static lp_status int_array(lp_ctx *ctx, const int64_t *v, int64_t n, lp_array **out) {
    lp_buffer *b = NULL;
    lp_status st = lp_buffer_create(ctx, LP_INT64, 1, &n, v, &b);
    if (st) return st;
    st = lp_from_buffer(ctx, b, out);
    lp_buffer_release(b);
    return st;
}

/* S[..., j, ...] along axis: drops the axis. */
static lp_status take_at(lp_ctx *ctx, lp_array *s, int axis, int64_t j, lp_array **out) {
    lp_index ix[LP_MAX_NDIM];
    for (int i = 0; i < s->ndim; i++) ix[i] = (lp_index){LP_IDX_SLICE, false, false, 0, 0, 1};
    ix[axis] = (lp_index){LP_IDX_INT, false, false, j, 0, 0};
    return lp_slice(ctx, s, s->ndim, ix, out);
}

typedef struct stat_job {
    lpi_call *c;
    lp_array *x;        /* along-axis input (flattened for axis=None) */
    int axis;
    int64_t n;          /* length along the axis */
    bool flt;
    lp_array *s;        /* sort_select result */
    int64_t ranks[2 * MAXQ + 3];
    int64_t nr;
} stat_job;

static int64_t rank_slot(stat_job *J, int64_t r) {
    for (int64_t k = 0; k < J->nr; k++)
        if (J->ranks[k] == r) return k;
    J->ranks[J->nr] = r;
    return J->nr++;
}

/* The values at the collected ranks (one sort_select node for all of them). */
static lp_status select_ranks(stat_job *J) {
    lp_array *rk = NULL;
    lp_status st = int_array(J->c->ctx, J->ranks, J->nr, &rk);
    if (!st) st = lpi_sort_select(J->c->ctx, J->x, J->axis, rk, &J->s);
    lp_array_release(rk);
    return st;
}

/* keepdims: put back the reduced axis (axis=None: every axis) as length 1. */
static lp_status keep_dims(lpi_call *c, lp_array *orig, bool all, int axis, lp_array **r) {
    int nd = (*r)->ndim - (all ? 0 : orig->ndim - 1);   /* leading q dimensions */
    int64_t shape[LP_MAX_NDIM];
    int k = 0;
    for (int i = 0; i < nd; i++) shape[k++] = (*r)->shape[i];
    for (int i = 0; i < orig->ndim; i++) shape[k++] = (all || i == axis) ? 1 : orig->shape[i];
    if (k > LP_MAX_NDIM) return lpi_error(c->ctx, LP_ERR_VALUE, "%s(): result would have too many dimensions", c->fname);
    lp_array *t = NULL;
    lp_status st = lp_reshape(c->ctx, *r, k, shape, &t);
    lp_array_release(*r);
    *r = t;
    return st;
}

/* numpy.quantile(method='linear') and percentile: see NumPy's _quantile and _lerp, followed
 * step by step (virtual index (n-1)q, neighbours, lerp from the nearer side, NaN slices NaN). */
static lp_status quantile(lpi_call *c, bool percent, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_arg *qa = ARG("q"), *ax = ARG("axis"), *meth = ARG("method"), *kd = ARG("keepdims");
    if (meth->given && strcmp(meth->s, "linear"))
        return lpi_error(ctx, LP_ERR_VALUE, "%s(): method '%s' is not supported yet (only 'linear')", c->fname, meth->s);
    if (ARG("overwrite_input")->b) { /* harmless: lazy arrays are never overwritten */ }
    stat_job *J = lp_calloc(1, sizeof *J);
    double *q = lp_malloc(MAXQ * sizeof *q);
    lp_array **parts = lp_calloc(MAXQ, sizeof *parts);
    lp_array *r = NULL;
    int qnd = 0;
    int64_t nq = 0, qshape[LP_MAX_NDIM];
    lp_status st = LP_OK;
    if (!J || !q || !parts) { st = lpi_nomem(ctx); goto done; }
    J->c = c;
    if ((st = known_q(c, qa->v, q, &nq, &qnd, qshape))) goto done;
    bool weak = qa->v->kind != LP_VAL_ARRAY && qa->v->kind != LP_VAL_TUPLE && qa->v->kind != LP_VAL_LIST;
    for (int64_t j = 0; j < nq; j++) {
        if (percent) q[j] = q[j] / 100;
        if (!(q[j] >= 0 && q[j] <= 1))
            { st = lpi_error(ctx, LP_ERR_VALUE, percent ? "Percentiles must be in the range [0, 100]" : "Quantiles must be in the range [0, 1]"); goto done; }
    }
    lp_array *a = ARG("a")->a;
    if ((st = along(c, a, ax, &J->x, &J->axis))) goto done;
    int nax;
    if ((st = lpi_norm_axis(ctx, J->axis, J->x->ndim, &nax))) goto done;
    J->axis = nax;
    J->n = J->x->shape[nax];
    J->flt = lpi_dtype_kind(J->x->dtype) == LPI_KIND_FLOAT;
    if (J->n == 0) { st = lpi_error(ctx, LP_ERR_INDEX, "index -1 is out of bounds for axis %d with size 0", nax); goto done; }
    int64_t prev[MAXQ], next[MAXQ];
    double gamma[MAXQ];
    for (int64_t j = 0; j < nq; j++) {
        double v = (double)(J->n - 1) * q[j], f = floor(v);
        int64_t p = (int64_t)f, nx = p + 1;
        if (v >= (double)(J->n - 1)) p = nx = J->n - 1;
        prev[j] = rank_slot(J, p);
        next[j] = rank_slot(J, nx);
        gamma[j] = v - f;
    }
    int64_t last = J->flt ? rank_slot(J, J->n - 1) : -1;
    if ((st = select_ranks(J))) goto done;
    lp_array *sl = NULL, *nanmask = NULL;
    if (J->flt && !(st = take_at(ctx, J->s, J->axis, last, &sl))) st = lp_unary(ctx, "isnan", sl, &nanmask);
    for (int64_t j = 0; j < nq && !st; j++) {
        lp_array *pa = NULL, *pb = NULL, *d = NULL, *t = NULL, *m = NULL, *res = NULL;
        double g = gamma[j];
        lp_scalar gs = lp_scalar_f(g >= 0.5 ? 1 - g : g);
        if (!(st = take_at(ctx, J->s, J->axis, prev[j], &pa)) && !(st = take_at(ctx, J->s, J->axis, next[j], &pb)) &&
            !(st = lp_binary(ctx, "subtract", pb, pa, &d)) &&
            !(st = weak ? lp_scalar_array(ctx, gs, &t) : lp_full(ctx, LP_FLOAT64, 0, NULL, gs, &t)) &&
            !(st = lp_binary(ctx, "multiply", d, t, &m)))
            st = lp_binary(ctx, g >= 0.5 ? "subtract" : "add", g >= 0.5 ? pb : pa, m, &res);
        if (!st && nanmask) {
            lp_array *in[3] = {nanmask, sl, res}, *w = NULL;
            if (!(st = lp_elemwise(ctx, "where", 3, in, &w))) { lp_array_release(res); res = w; }
        }
        parts[j] = res;
        lp_array_release(pa);
        lp_array_release(pb);
        lp_array_release(d);
        lp_array_release(t);
        lp_array_release(m);
    }
    lp_array_release(sl);
    lp_array_release(nanmask);
    if (st) goto done;
    if (qnd == 0) {
        r = parts[0];
        parts[0] = NULL;
    } else {
        lp_array *stk = NULL;
        if (!(st = lp_stack(ctx, (int)nq, parts, 0, &stk))) {
            int64_t shape[LP_MAX_NDIM];
            int k = 0;
            for (int i = 0; i < qnd; i++) shape[k++] = qshape[i];
            for (int i = 1; i < stk->ndim && k < LP_MAX_NDIM; i++) shape[k++] = stk->shape[i];
            if (k != qnd + stk->ndim - 1) st = lpi_error(ctx, LP_ERR_VALUE, "%s(): too many dimensions", c->fname);
            else st = lp_reshape(ctx, stk, k, shape, &r);
            lp_array_release(stk);
        }
    }
    if (!st && kd->b) st = keep_dims(c, a, ax->naxes < 0, nax, &r);
done:
    if (parts) for (int64_t j = 0; j < MAXQ; j++) lp_array_release(parts[j]);
    lp_free(parts);
    lp_free(q);
    if (J) { lp_array_release(J->x); lp_array_release(J->s); }
    lp_free(J);
    return lpi_out_array(c, st, &r, out);
}

lp_status lpi_fn_quantile(lpi_call *c, lp_value *out) { return quantile(c, !strcmp(c->fn->op, "percentile"), out); }

/* numpy.median: the mean of the middle one or two sorted values (NaN if the slice has one). */
lp_status lpi_fn_median(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_arg *ax = ARG("axis"), *kd = ARG("keepdims");
    stat_job *J = lp_calloc(1, sizeof *J);
    lp_array *r = NULL, *mid = NULL, *sl = NULL, *isn = NULL;
    lp_status st = LP_OK;
    if (!J) return lpi_nomem(ctx);
    J->c = c;
    lp_array *a = ARG("a")->a;
    int nax = 0;
    if (!(st = along(c, a, ax, &J->x, &J->axis)) && !(st = lpi_norm_axis(ctx, J->axis, J->x->ndim, &nax))) {
        J->axis = nax;
        J->n = J->x->shape[nax];
        J->flt = lpi_dtype_kind(J->x->dtype) == LPI_KIND_FLOAT;
        if (J->n == 0) {
            /* NumPy: the mean of nothing, NaN (with a warning) */
            int64_t shape[LP_MAX_NDIM];
            int k = 0;
            for (int i = 0; i < J->x->ndim; i++) if (i != nax) shape[k++] = J->x->shape[i];
            st = lp_full(ctx, J->flt ? J->x->dtype : LP_FLOAT64, k, shape, lp_scalar_f(NAN), &r);
        } else {
            int64_t m = J->n / 2;
            if (J->n % 2 == 0) { rank_slot(J, m - 1); rank_slot(J, m); }
            else rank_slot(J, m);
            int64_t nmid = J->nr, last = J->flt ? rank_slot(J, J->n - 1) : -1;
            if (!(st = select_ranks(J))) {
                lp_index ix[LP_MAX_NDIM];
                for (int i = 0; i < J->s->ndim; i++) ix[i] = (lp_index){LP_IDX_SLICE, false, false, 0, 0, 1};
                ix[nax] = (lp_index){LP_IDX_SLICE, true, true, 0, nmid, 1};
                if (!(st = lp_slice(ctx, J->s, J->s->ndim, ix, &mid))) st = lp_reduce(ctx, "mean", mid, &nax, 1, false, &r);
                if (!st && J->flt && !(st = take_at(ctx, J->s, nax, last, &sl)) && !(st = lp_unary(ctx, "isnan", sl, &isn))) {
                    lp_array *in[3] = {isn, sl, r}, *w = NULL;
                    lp_array *cast = NULL;
                    if (sl->dtype != r->dtype && !(st = lp_astype(ctx, sl, r->dtype, &cast))) in[1] = cast;
                    if (!st && !(st = lp_elemwise(ctx, "where", 3, in, &w))) { lp_array_release(r); r = w; }
                    lp_array_release(cast);
                }
            }
        }
    }
    if (!st && kd->b) st = keep_dims(c, a, ax->naxes < 0, nax, &r);
    lp_array_release(mid);
    lp_array_release(sl);
    lp_array_release(isn);
    lp_array_release(J->x);
    lp_array_release(J->s);
    lp_free(J);
    return lpi_out_array(c, st, &r, out);
}
