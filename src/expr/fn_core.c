/* Catalogue builders of the core functions: ufuncs, reductions, shapes, joining, creation,
 * products and numpy.linalg. Each turns bound arguments (catalog.h) into library calls; the
 * checks of values that NumPy makes at call time live here, once for every front end. */
#include "expr/catalog.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define ARG(name) lpi_call_arg(c, name)

lp_status lpi_fn_ufunc(lpi_call *c, lp_value *out) {
    lpi_op op;
    if (!lpi_op_lookup(c->fn->op, &op)) return lpi_error(c->ctx, LP_ERR_INTERNAL, "%s: no op", c->fname);
    int nin = lpi_ops[op].nin;
    lp_array *in[3];
    for (int k = 0; k < nin; k++) in[k] = c->arg[k].a;
    lp_array *r = NULL;
    return lpi_out_array(c, lp_elemwise(c->ctx, c->fn->op, nin, in, &r), &r, out);
}

lp_status lpi_ddof_arg(lpi_call *c, double *ddof) {
    lpi_arg *dd = ARG("ddof"), *cor = ARG("correction");
    *ddof = 0;
    if (dd && dd->given && cor && cor->given)
        return lpi_error(c->ctx, LP_ERR_VALUE, "ddof and correction can't be provided simultaneously.");
    lpi_arg *a = cor && cor->given ? cor : dd;
    if (!a) return LP_OK;
    if (!(a->f >= 0) || !isfinite(a->f))
        return lpi_error(c->ctx, LP_ERR_VALUE, "%s(): %s must be a non-negative number, got %g", c->fname,
                         a == cor ? "correction" : "ddof", a->f);
    *ddof = a->f;
    return LP_OK;
}

/* sum/mean/... with axis, dtype (a cast first), keepdims, ddof */
lp_status lpi_fn_reduce(lpi_call *c, lp_value *out) {
    lpi_arg *a = ARG("a"), *ax = ARG("axis"), *dt = ARG("dtype"), *kd = ARG("keepdims");
    const char *op = c->fn->op;
    bool arg = !strcmp(op, "argmin") || !strcmp(op, "argmax");
    if (arg && ax->axis_tuple)
        return lpi_error(c->ctx, LP_ERR_TYPE, "'tuple' object cannot be interpreted as an integer");
    lp_array *src = a->a, *cast = NULL, *r = NULL;
    double ddof;
    lp_status st = lpi_ddof_arg(c, &ddof);
    if (st) return st;
    if (dt && dt->given && dt->dt != src->dtype) {
        if ((st = lp_astype(c->ctx, src, dt->dt, &cast))) return st;
        src = cast;
    }
    st = lp_reduce_ddof(c->ctx, op, src, ax->naxes < 0 ? NULL : ax->axes, ax->naxes < 0 ? 0 : ax->naxes, kd->b, ddof, &r);
    lp_array_release(cast);
    if (!st && dt && dt->given && r->dtype != dt->dt) { /* sum(int32s, dtype=int32) stays int32, as NumPy's */
        lp_array *wide = r;
        r = NULL;
        st = lp_astype(c->ctx, wide, dt->dt, &r);
        lp_array_release(wide);
    }
    return lpi_out_array(c, st, &r, out);
}

/* count_nonzero: the sum of x != 0, as int64 (NumPy's intp) */
lp_status lpi_fn_count_nonzero(lpi_call *c, lp_value *out) {
    lpi_arg *ax = ARG("axis");
    lpi_tmps t = {0};
    lp_array *zero = NULL, *ne = NULL, *r = NULL;
    lp_status st = lp_scalar_array(c->ctx, lp_scalar_b(false), &zero);
    if (!st) {
        lpi_keep(&t, zero);
        st = lp_binary(c->ctx, "not_equal", ARG("a")->a, zero, &ne);
    }
    if (!st) {
        lpi_keep(&t, ne);
        st = lp_reduce(c->ctx, "sum", ne, ax->naxes < 0 ? NULL : ax->axes, ax->naxes < 0 ? 0 : ax->naxes,
                       ARG("keepdims")->b, &r);
    }
    if (!st && r->dtype != LP_INT64) {
        lp_array *s = lpi_keep(&t, r);
        r = NULL;
        st = lp_astype(c->ctx, s, LP_INT64, &r);
    }
    return lpi_give(c, &t, st, &r, out);
}

/* The array API's vecdot: sum(conj(x1) * x2) along axis (negative: counted from the end of
 * both), in the promoted dtype; the axis has the same length in both, not broadcast. */
lp_status lpi_fn_vecdot(lpi_call *c, lp_value *out) {
    lp_array *a = ARG("x1")->a, *b = ARG("x2")->a, *p = NULL, *r = NULL;
    int64_t axis = ARG("axis")->i;
    int n = a->ndim < b->ndim ? a->ndim : b->ndim;
    if (n < 1 || axis >= 0 || axis < -n)
        return lpi_error(c->ctx, LP_ERR_AXIS, "vecdot: axis %lld is out of bounds for arrays of dimensions %d and %d "
                         "(it must be in [-%d, -1])", (long long)axis, a->ndim, b->ndim, n);
    if (a->shape[a->ndim + axis] != b->shape[b->ndim + axis])
        return lpi_error(c->ctx, LP_ERR_SHAPE, "vecdot: x1 and x2 differ along axis %lld (%lld vs %lld)", (long long)axis,
                         (long long)a->shape[a->ndim + axis], (long long)b->shape[b->ndim + axis]);
    lpi_tmps t = {0};
    lp_status st = LP_OK;
    if (lpi_dtype_is_complex(a->dtype)) {
        lp_array *ca = NULL;
        if (!(st = lp_unary(c->ctx, "conjugate", a, &ca))) a = lpi_keep(&t, ca);
    }
    if (!st) st = lp_binary(c->ctx, "multiply", a, b, &p);
    if (!st) {
        lpi_keep(&t, p);
        int ax = (int)(p->ndim + axis);
        st = lp_reduce(c->ctx, "sum", p, &ax, 1, false, &r);
    }
    if (!st && r->dtype != p->dtype) { /* sums of small integers widen; vecdot keeps the dtype */
        lp_array *s = lpi_keep(&t, r);
        r = NULL;
        st = lp_astype(c->ctx, s, p->dtype, &r);
    }
    return lpi_give(c, &t, st, &r, out);
}

lp_status lpi_fn_astype(lpi_call *c, lp_value *out) {
    lp_array *r = NULL;
    return lpi_out_array(c, lp_astype(c->ctx, ARG("x")->a, ARG("dtype")->dt, &r), &r, out);
}

static lp_status order_c(lpi_call *c) {
    lpi_arg *o = ARG("order");
    if (o->given && strcmp(o->s, "C"))
        return lpi_error(c->ctx, LP_ERR_VALUE, "%s(): only order='C' is supported", c->fname);
    return LP_OK;
}

lp_status lpi_fn_reshape(lpi_call *c, lp_value *out) {
    lpi_arg *sh = ARG("shape");
    lp_status st;
    if ((st = order_c(c))) return st;
    if (!sh->v) return lpi_error(c->ctx, LP_ERR_TYPE, "reshape() missing required argument 'shape' (pos 2)");
    if (!sh->given) return lpi_error(c->ctx, LP_ERR_TYPE, "'NoneType' object cannot be interpreted as an integer");
    lp_array *r = NULL;
    return lpi_out_array(c, lp_reshape(c->ctx, ARG("a")->a, sh->ndim, sh->shape, &r), &r, out);
}

lp_status lpi_fn_transpose(lpi_call *c, lp_value *out) {
    lp_array *a = ARG("a")->a;
    lpi_arg *ax = ARG("axes");
    int perm[LP_MAX_NDIM];
    const int *pp = NULL;
    if (ax->given) {
        const lp_value *v = ax->v;
        if (v->kind != LP_VAL_TUPLE && v->kind != LP_VAL_LIST)
            return lpi_error(c->ctx, LP_ERR_TYPE, "transpose(): axes must be a tuple of integers, got %s", lpi_value_type(v));
        if (v->n != a->ndim) return lpi_error(c->ctx, LP_ERR_VALUE, "axes don't match array");
        for (int k = 0; k < v->n; k++) {
            if (v->items[k].kind != LP_VAL_INT)
                return lpi_error(c->ctx, LP_ERR_TYPE, "'%s' object cannot be interpreted as an integer",
                                 lpi_value_type(&v->items[k]));
            int64_t x = v->items[k].i;
            perm[k] = x < -LP_MAX_NDIM - 1 ? -LP_MAX_NDIM - 1 : x > LP_MAX_NDIM ? LP_MAX_NDIM : (int)x;
        }
        pp = perm;
    }
    lp_array *r = NULL;
    return lpi_out_array(c, lp_transpose(c->ctx, a, pp, &r), &r, out);
}

lp_status lpi_fn_ravel(lpi_call *c, lp_value *out) {
    int64_t m1 = -1;
    lp_array *r = NULL;
    return lpi_out_array(c, lp_reshape(c->ctx, ARG("a")->a, 1, &m1, &r), &r, out);
}

lp_status lpi_fn_copy(lpi_call *c, lp_value *out) {
    lp_array *a = ARG("a")->a;
    lp_array_retain(a);
    return lpi_out_array(c, LP_OK, &a, out);
}

lp_status lpi_fn_join(lpi_call *c, lp_value *out) {
    lpi_arg *arrs = ARG("arrays"), *ax = ARG("axis");
    bool stack = !strcmp(c->fn->op, "stack");
    if (arrs->n == 0) return lpi_error(c->ctx, LP_ERR_VALUE, "need at least one array to %s", stack ? "stack" : "concatenate");
    lp_status st = LP_OK;
    lp_array *r = NULL;
    if (stack) return lpi_out_array(c, lp_stack(c->ctx, arrs->n, arrs->as, (int)ax->i, &r), &r, out);
    if (ax->naxes > 1 || ax->axis_tuple)
        return lpi_error(c->ctx, LP_ERR_TYPE, "'tuple' object cannot be interpreted as an integer");
    if (ax->naxes < 0) {
        /* axis=None: the arrays flattened */
        for (int k = 0; k < arrs->n && !st; k++) {
            int64_t m1 = -1;
            lp_array *f = NULL;
            st = lp_reshape(c->ctx, arrs->as[k], 1, &m1, &f);
            lp_array_release(arrs->as[k]);
            arrs->as[k] = f;
        }
        if (st) return st;
        return lpi_out_array(c, lp_concatenate(c->ctx, arrs->n, arrs->as, 0, &r), &r, out);
    }
    return lpi_out_array(c, lp_concatenate(c->ctx, arrs->n, arrs->as, ax->axes[0], &r), &r, out);
}

/* copy=True gives the same node (lazy arrays are immutable, as lp.copy; a front end gives it a
 * new handle); copy=False refuses what needs a new array: numbers, sequences, another dtype. */
lp_status lpi_fn_asarray(lpi_call *c, lp_value *out) {
    lpi_arg *a = ARG("a"), *dt = ARG("dtype"), *cp = ARG("copy");
    lp_array *r = a->a;
    if (cp->given && !cp->b && ((a->v && a->v->kind != LP_VAL_ARRAY) || (dt->given && dt->dt != r->dtype)))
        return lpi_error(c->ctx, LP_ERR_VALUE, "Unable to avoid copy while creating an array as requested.");
    if (!dt->given || dt->dt == r->dtype) {
        lp_array_retain(r);
        return lpi_out_array(c, LP_OK, &r, out);
    }
    r = NULL;
    return lpi_out_array(c, lp_astype(c->ctx, a->a, dt->dt, &r), &r, out);
}

/* zeros ones full and their _like forms */
lp_status lpi_fn_fill(lpi_call *c, lp_value *out) {
    const char *op = c->fn->op;
    bool like = strstr(op, "_like") != NULL;
    lpi_arg *fill = ARG("fill_value"), *dt = ARG("dtype");
    lp_scalar v = lp_scalar_i(!strncmp(op, "ones", 4) ? 1 : 0);
    lp_dtype dtype = LP_FLOAT64;
    int ndim;
    int64_t shape[LP_MAX_NDIM];
    if (fill) {
        v = fill->scalar;
        dtype = v.dtype;
        /* a NumPy scalar keeps its own dtype (np.float32(1)) when the front end passes it as an array */
        if (fill->v && fill->v->kind == LP_VAL_ARRAY) dtype = fill->v->array->dtype;
    }
    if (like) {
        lp_array *a = ARG("a")->a;
        ndim = a->ndim;
        memcpy(shape, a->shape, sizeof shape);
        dtype = a->dtype;
    } else {
        lpi_arg *sh = ARG("shape");
        ndim = sh->ndim;
        memcpy(shape, sh->shape, sizeof shape);
        for (int i = 0; i < ndim; i++)
            if (shape[i] < 0) return lpi_error(c->ctx, LP_ERR_VALUE, "negative dimensions are not allowed");
    }
    if (dt->given) dtype = dt->dt;
    lp_array *r = NULL;
    return lpi_out_array(c, lp_full(c->ctx, dtype, ndim, shape, v, &r), &r, out);
}

lp_status lpi_fn_arange(lpi_call *c, lp_value *out) {
    lpi_arg *a0 = ARG("start"), *a1 = ARG("stop"), *a2 = ARG("step"), *dt = ARG("dtype");
    double start = 0, stop, step = 1;
    bool fl = false;
    if (a1->given) {
        start = a0->f;
        stop = a1->f;
        fl = a0->is_float || a1->is_float;
    } else {
        stop = a0->f;
        fl = a0->is_float;
    }
    if (a2->given) {
        step = a2->f;
        fl |= a2->is_float;
    }
    lp_dtype dtype = fl ? LP_FLOAT64 : LP_INT64;
    if (dt->given) dtype = dt->dt;
    lp_array *r = NULL;
    return lpi_out_array(c, lp_arange(c->ctx, start, stop, step, dtype, &r), &r, out);
}

lp_status lpi_fn_linspace(lpi_call *c, lp_value *out) {
    lpi_arg *num = ARG("num"), *dt = ARG("dtype");
    double start = ARG("start")->f, stop = ARG("stop")->f;
    bool endpoint = ARG("endpoint")->b;
    if (ARG("axis")->i != 0) return lpi_error(c->ctx, LP_ERR_VALUE, "linspace(): only axis=0 is supported");
    lp_array *r = NULL;
    lp_status st = lp_linspace(c->ctx, start, stop, num->i, endpoint, dt->given ? dt->dt : LP_FLOAT64, &r);
    if (st || !ARG("retstep")->b) return lpi_out_array(c, st, &r, out);
    lp_value *items = lp_calloc(2, sizeof *items);
    if (!items) { lp_array_release(r); return lpi_nomem(c->ctx); }
    int64_t div = endpoint ? num->i - 1 : num->i;
    items[0] = lp_value_array(r);
    items[1] = lp_value_float(div > 0 ? (stop - start) / (double)div : NAN);
    *out = lp_value_tuple(items, 2);
    return LP_OK;
}

lp_status lpi_fn_eye(lpi_call *c, lp_value *out) {
    lpi_arg *n = ARG("N"), *m = ARG("M"), *dt = ARG("dtype");
    int64_t cols = m->given ? m->i : n->i;
    if (n->i < 0 || cols < 0) return lpi_error(c->ctx, LP_ERR_VALUE, "negative dimensions are not allowed");
    lp_array *r = NULL;
    return lpi_out_array(c, lp_eye(c->ctx, n->i, cols, ARG("k")->i, dt->given ? dt->dt : LP_FLOAT64, &r), &r, out);
}

lp_status lpi_fn_random(lpi_call *c, lp_value *out) {
    bool uni = !strcmp(c->fn->op, "random_uniform");
    lpi_arg *sh = ARG("shape"), *seed = ARG("seed"), *dt = ARG("dtype");
    lpi_arg *p1 = ARG(uni ? "low" : "loc"), *p2 = ARG(uni ? "high" : "scale");
    if (seed->i < 0) return lpi_error(c->ctx, LP_ERR_VALUE, "%s(): seed must be non-negative", c->fname);
    int ndim = sh->given ? sh->ndim : 0;
    lp_dtype dtype = dt->given ? dt->dt : LP_FLOAT64;
    lp_array *r = NULL;
    lp_status st = uni ? lp_random_uniform(c->ctx, (uint64_t)seed->i, p1->f, p2->f, dtype, ndim, sh->shape, &r)
                       : lp_random_normal(c->ctx, (uint64_t)seed->i, p1->f, p2->f, dtype, ndim, sh->shape, &r);
    return lpi_out_array(c, st, &r, out);
}

/* tensordot's axes: an int, or a pair of ints / sequences of ints */
static lp_status axis_pair(lpi_call *c, const lp_value *v, int *ax, int *n) {
    if (v->kind == LP_VAL_INT) { ax[0] = (int)v->i; *n = 1; return LP_OK; }
    if ((v->kind == LP_VAL_TUPLE || v->kind == LP_VAL_LIST) && v->n <= LP_MAX_NDIM) {
        for (int k = 0; k < v->n; k++) {
            if (v->items[k].kind != LP_VAL_INT)
                return lpi_error(c->ctx, LP_ERR_TYPE, "tensordot(): axes must be integers");
            ax[k] = (int)v->items[k].i;
        }
        *n = v->n;
        return LP_OK;
    }
    return lpi_error(c->ctx, LP_ERR_TYPE, "tensordot(): axes must be an int or a pair of axis lists");
}

lp_status lpi_fn_product(lpi_call *c, lp_value *out) {
    const char *op = c->fn->op;
    lp_array *a = c->arg[0].a, *b = c->arg[1].a, *r = NULL;
    lp_status st;
    if (!strcmp(op, "matmul")) st = lp_matmul(c->ctx, a, b, &r);
    else if (!strcmp(op, "dot")) st = lp_dot(c->ctx, a, b, &r);
    else if (!strcmp(op, "outer")) st = lp_outer(c->ctx, a, b, &r);
    else {
        lpi_arg *axes = ARG("axes");
        int aa[LP_MAX_NDIM], ab[LP_MAX_NDIM], na = 2, nb = 2;
        bool lists = false;
        if (!axes->v || !axes->given) {
            na = 2;
        } else if (axes->v->kind == LP_VAL_INT) {
            na = (int)(axes->v->i < 0 ? -1 : axes->v->i > LP_MAX_NDIM ? LP_MAX_NDIM + 1 : axes->v->i);
            if (na < 0 || na > LP_MAX_NDIM)
                return lpi_error(c->ctx, LP_ERR_VALUE, "tensordot(): axes must be between 0 and %d", LP_MAX_NDIM);
        } else if ((axes->v->kind == LP_VAL_TUPLE || axes->v->kind == LP_VAL_LIST) && axes->v->n == 2) {
            if ((st = axis_pair(c, &axes->v->items[0], aa, &na)) || (st = axis_pair(c, &axes->v->items[1], ab, &nb))) return st;
            if (na != nb) return lpi_error(c->ctx, LP_ERR_VALUE, "shape-mismatch for sum");
            lists = true;
        } else {
            return lpi_error(c->ctx, LP_ERR_TYPE, "tensordot(): axes must be an int or a pair of axis lists");
        }
        st = lp_tensordot(c->ctx, a, b, na, lists ? aa : NULL, lists ? ab : NULL, &r);
    }
    return lpi_out_array(c, st, &r, out);
}

/* Vector norms along one axis (NumPy's norm(x, ord, axis=k, keepdims)). */
lp_status lpi_fn_linalg(lpi_call *c, lp_value *out) {
    const char *op = c->fn->op;
    lp_ctx *ctx = c->ctx;
    lp_array *a = c->arg[0].a, *r = NULL, *r2 = NULL;
    lp_status st;
    lpi_arg *uplo = ARG("UPLO");
    if (uplo && uplo->given && strcmp(uplo->s, "L") && strcmp(uplo->s, "U"))
        return lpi_error(ctx, LP_ERR_VALUE, "%s(): UPLO must be 'L' or 'U', not '%s'", c->fname, uplo->s);
    if (!strcmp(op, "eigh") || !strcmp(op, "eigvalsh")) {
        /* UPLO='U': the upper triangle of A is the lower one of A's conjugate transpose (the same
         * Hermitian matrix), so the kernel, which reads the lower triangle, needs no second mode */
        lp_array *h = NULL;
        if (uplo && uplo->given && !strcmp(uplo->s, "U") && (st = lpi_linalg_mH(ctx, a, &h))) return st;
        st = lp_linalg_eigh(ctx, h ? h : a, &r, strcmp(op, "eigh") ? NULL : &r2);
        lp_array_release(h);
        if (st || !r2) {
            lp_array_release(r2);
            return lpi_out_array(c, st, &r, out);
        }
        lp_array *both[2] = {r, r2};
        return lpi_out_list(c, LP_VAL_TUPLE, both, 2, out);
    }
    if (!strcmp(op, "slogdet")) {
        if ((st = lp_linalg_slogdet(ctx, a, &r, &r2))) { lp_array_release(r); lp_array_release(r2); return st; }
        lp_array *both[2] = {r, r2};
        return lpi_out_list(c, LP_VAL_TUPLE, both, 2, out);
    }
    if (!strcmp(op, "lstsq")) {
        lpi_arg *rc = ARG("rcond");
        return lpi_out_array(c, lp_linalg_lstsq(ctx, a, c->arg[1].a, rc->given ? rc->f : -1, &r), &r, out);
    }
    int nin = c->arg[1].a && !strcmp(op, "solve") ? 2 : 1;
    lp_array *in[2] = {a, c->arg[1].a};
    st = lp_linalg(ctx, op, nin, in, &r);
    lpi_arg *up = ARG("upper");
    if (!st && up && up->b) { /* cholesky(upper=True): U = L^H, the last two axes swapped (and conjugated) */
        lp_array *u = NULL;
        st = lpi_linalg_mH(ctx, r, &u);
        lp_array_release(r);
        r = u;
    }
    return lpi_out_array(c, st, &r, out);
}
