/* Catalogue builders composed of elementwise ops and reductions, following NumPy's own
 * formulas so results agree bit for bit where NumPy's do: round, clip, positive, the
 * NaN-ignoring reductions, isclose/allclose/array_equal. Everything stays lazy, chunked and
 * fused like any expression. */
#include "expr/catalog.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define ARG(name) lpi_call_arg(c, name)

static lp_status un(lp_ctx *ctx, lpi_tmps *t, const char *op, lp_array *x, lp_array **out) {
    lp_status st = lp_unary(ctx, op, x, out);
    if (!st) lpi_keep(t, *out);
    return st;
}

static lp_status bin(lp_ctx *ctx, lpi_tmps *t, const char *op, lp_array *x, lp_array *y, lp_array **out) {
    lp_status st = lp_binary(ctx, op, x, y, out);
    if (!st) lpi_keep(t, *out);
    return st;
}

static lp_status weak(lp_ctx *ctx, lpi_tmps *t, lp_scalar v, lp_array **out) {
    lp_status st = lp_scalar_array(ctx, v, out);
    if (!st) lpi_keep(t, *out);
    return st;
}

static lp_status cast(lp_ctx *ctx, lpi_tmps *t, lp_array *x, lp_dtype dt, lp_array **out) {
    lp_status st = lp_astype(ctx, x, dt, out);
    if (!st) lpi_keep(t, *out);
    return st;
}

lp_status lpi_fn_positive(lpi_call *c, lp_value *out) {
    lp_array *x = c->arg[0].a;
    if (x->dtype == LP_BOOL)
        return lpi_error(c->ctx, LP_ERR_TYPE, "ufunc 'positive' did not contain a loop with signature matching types "
                         "(bool) -> None");
    lp_array_retain(x);
    return lpi_out_array(c, LP_OK, &x, out);
}

/* numpy.round: floats x * 10**d, rint, / 10**d (for d < 0: / 10**-d, rint, * 10**-d), in the
 * array's dtype; integers are unchanged for d >= 0 and rounded half to even otherwise. */
lp_status lpi_fn_round(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lp_array *x = ARG("a")->a;
    int64_t d = ARG("decimals")->i;
    lpi_tmps t = {0};
    lp_array *r = NULL, *f = NULL, *y = NULL, *z = NULL, *xf = NULL;
    lp_status st = LP_OK;
    lpi_kind k = lpi_dtype_kind(x->dtype);
    if (d > 400 || d < -400) d = d > 0 ? 400 : -400; /* beyond any float's range: the limits act the same */
    if (k == LPI_KIND_BOOL && d != 0)
        return lpi_error(ctx, LP_ERR_TYPE, "round(): cannot round bool values to %lld decimals (NumPy's result would "
                         "be bool); cast with astype first", (long long)d);
    if (k == LPI_KIND_BOOL) return lpi_give(c, &t, un(ctx, &t, "rint", x, &r), &r, out);
    if (k == LPI_KIND_INT && d >= 0) {
        lp_array_retain(x);
        return lpi_out_array(c, LP_OK, &x, out);
    }
    if (d == 0) return lpi_give(c, &t, un(ctx, &t, "rint", x, &r), &r, out);
    double p = pow(10.0, (double)(d < 0 ? -d : d));
    xf = x;
    if (k == LPI_KIND_INT) st = cast(ctx, &t, x, LP_FLOAT64, &xf);
    if (!st) st = weak(ctx, &t, lp_scalar_f(p), &f);
    if (!st) st = bin(ctx, &t, d > 0 ? "multiply" : "divide", xf, f, &y);
    if (!st) st = un(ctx, &t, "rint", y, &z);
    if (!st) st = bin(ctx, &t, d > 0 ? "divide" : "multiply", z, f, &r);
    if (!st && k == LPI_KIND_INT) st = cast(ctx, &t, r, x->dtype, &r);
    return lpi_give(c, &t, st, &r, out);
}

/* numpy.clip: minimum(maximum(a, min), max); either bound may be None (then not applied). */
lp_status lpi_fn_clip(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_arg *lo = ARG("a_min"), *hi = ARG("a_max"), *lo2 = ARG("min"), *hi2 = ARG("max");
    if ((lo->given && lo2->given) || (hi->given && hi2->given))
        return lpi_error(ctx, LP_ERR_TYPE, "clip() passed both a_min/a_max and min/max; give one of each");
    lp_array *mn = lo->given ? lo->a : lo2->given ? lo2->a : NULL;
    lp_array *mx = hi->given ? hi->a : hi2->given ? hi2->a : NULL;
    lp_array *r = ARG("a")->a;
    lpi_tmps t = {0};
    lp_status st = LP_OK;
    if (mn) st = bin(ctx, &t, "maximum", r, mn, &r);
    if (!st && mx) st = bin(ctx, &t, "minimum", r, mx, &r);
    return lpi_give(c, &t, st, &r, out);
}

/* ---- NaN-ignoring reductions: NumPy's nanfunctions, step by step -------------------------- */

static lp_status red(lp_ctx *ctx, lpi_tmps *t, const char *op, lp_array *x, const lpi_arg *ax, bool keepdims, double ddof,
                     lp_array **out) {
    lp_status st = lp_reduce_ddof(ctx, op, x, ax->naxes < 0 ? NULL : ax->axes, ax->naxes < 0 ? 0 : ax->naxes,
                                  keepdims, ddof, out);
    if (!st) lpi_keep(t, *out);
    return st;
}

/* x with NaN replaced by v (NumPy's _replace_nan; a complex x gets v + vi when both_parts);
 * *mask = isnan(x). Non-float x: unchanged. */
static lp_status replace_nan(lp_ctx *ctx, lpi_tmps *t, lp_array *x, double v, bool both_parts, lp_array **out,
                             lp_array **mask) {
    lp_array *fill;
    lp_status st;
    *mask = NULL;
    lpi_kind k = lpi_dtype_kind(x->dtype);
    if (k != LPI_KIND_FLOAT && k != LPI_KIND_COMPLEX) { *out = x; return LP_OK; }
    /* a complex element is NaN when either part is (isnan), as NumPy's nan-functions take it */
    if ((st = un(ctx, t, "isnan", x, mask)) ||
        (st = weak(ctx, t, both_parts && k == LPI_KIND_COMPLEX ? lp_scalar_c(v, v) : lp_scalar_f(v), &fill)))
        return st;
    lp_array *in[3] = {*mask, fill, x};
    if ((st = lp_elemwise(ctx, "where", 3, in, out))) return st;
    lpi_keep(t, *out);
    return LP_OK;
}

lp_status lpi_fn_nanreduce(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    const char *op = c->fn->op;
    lp_array *x = ARG("a")->a, *r = NULL, *y = NULL, *mask = NULL;
    lpi_arg *ax = ARG("axis"), *dt = ARG("dtype"), *kd = ARG("keepdims");
    bool keepdims = kd->b;
    double ddof;
    lpi_tmps t = {0};
    lp_status st = lpi_ddof_arg(c, &ddof);
    if (st) return st;
    if (ax->axis_tuple && (!strcmp(op, "argmin") || !strcmp(op, "argmax")))
        return lpi_error(ctx, LP_ERR_TYPE, "'tuple' object cannot be interpreted as an integer");
    if (dt && dt->given && dt->dt != x->dtype) st = cast(ctx, &t, x, dt->dt, &x);
    if (st) { lpi_drop(&t); return st; }
    bool flt = lpi_dtype_kind(x->dtype) == LPI_KIND_FLOAT || lpi_dtype_is_complex(x->dtype);
    if (!strcmp(op, "sum") || !strcmp(op, "prod")) {
        if (!(st = replace_nan(ctx, &t, x, op[0] == 's' ? 0 : 1, false, &y, &mask))) st = red(ctx, &t, op, y, ax, keepdims, 0, &r);
    } else if (!strcmp(op, "min") || !strcmp(op, "max")) {
        /* fmin/fmax over the slice: NaN only where every element is NaN */
        bool mn = op[1] == 'i';
        int64_t nred = 1, nout = 1;
        for (int i = 0; i < x->ndim; i++) {
            bool red_ax = ax->naxes < 0;
            for (int j = 0; j < ax->naxes; j++) red_ax |= ax->axes[j] == i || ax->axes[j] == i - x->ndim;
            if (red_ax) nred *= x->shape[i]; else nout *= x->shape[i];
        }
        if (nred == 0 && nout > 0) {
            lpi_drop(&t);
            return lpi_error(ctx, LP_ERR_VALUE, "zero-size array to reduction operation %s which has no identity", mn ? "fmin" : "fmax");
        }
        /* complex: NaN replaced by +-inf in both parts (below/above every other value in NumPy's
         * order); an all-NaN slice gives its first element (fmax.reduce's), which is min/max's */
        lp_array *m = NULL, *allnan = NULL, *nanv = NULL;
        const bool cplx = lpi_dtype_is_complex(x->dtype);
        if (!flt) st = red(ctx, &t, op, x, ax, keepdims, 0, &r);
        else if (!(st = replace_nan(ctx, &t, x, mn ? INFINITY : -INFINITY, true, &y, &mask)) &&
                 !(st = red(ctx, &t, op, y, ax, keepdims, 0, &m)) && !(st = red(ctx, &t, "all", mask, ax, keepdims, 0, &allnan)) &&
                 !(st = cplx ? red(ctx, &t, op, x, ax, keepdims, 0, &nanv) : weak(ctx, &t, lp_scalar_f(NAN), &nanv))) {
            lp_array *in[3] = {allnan, nanv, m};
            if (!(st = lp_elemwise(ctx, "where", 3, in, &r))) lpi_keep(&t, r);
        }
    } else if (!strcmp(op, "argmin") || !strcmp(op, "argmax")) {
        /* argmin over NaN replaced by +inf (argmax: -inf); an all-NaN slice is NumPy's ValueError */
        lp_array *i = NULL, *allnan = NULL, *m1 = NULL, *marked = NULL;
        if (!flt) st = red(ctx, &t, op, x, ax, keepdims, 0, &r);
        else if (!(st = replace_nan(ctx, &t, x, op[3] == 'm' && op[4] == 'i' ? INFINITY : -INFINITY, false, &y, &mask)) &&
                 !(st = red(ctx, &t, op, y, ax, keepdims, 0, &i)) && !(st = red(ctx, &t, "all", mask, ax, keepdims, 0, &allnan)) &&
                 !(st = weak(ctx, &t, lp_scalar_i(-1), &m1))) {
            lp_array *in[3] = {allnan, m1, i};
            if (!(st = lp_elemwise(ctx, "where", 3, in, &marked))) {
                lpi_keep(&t, marked);
                st = un(ctx, &t, "allnan_check", marked, &r);
            }
        }
    } else if (!flt) {
        /* mean var std of integers and bools: no NaN to skip */
        st = red(ctx, &t, op, x, ax, keepdims, ddof, &r);
    } else {
        /* mean: sum / count; var: the mean, then the squared deviations of the non-NaN values
         * summed and divided by count - ddof (NaN where that is <= 0) */
        lp_array *notnan = NULL, *cnt = NULL, *tot = NULL, *avg = NULL;
        bool is_mean = !strcmp(op, "mean");
        if (!(st = replace_nan(ctx, &t, x, 0, false, &y, &mask)) && !(st = un(ctx, &t, "logical_not", mask, &notnan)) &&
            !(st = cast(ctx, &t, notnan, LP_INT64, &notnan)) &&
            !(st = red(ctx, &t, "sum", notnan, ax, is_mean ? keepdims : true, 0, &cnt)) &&
            !(st = red(ctx, &t, "sum", y, ax, is_mean ? keepdims : true, 0, &tot)) &&
            !(st = bin(ctx, &t, "divide", tot, cnt, &avg)) && !(st = cast(ctx, &t, avg, tot->dtype, &avg))) {
            if (is_mean) r = avg;
            else {
                lp_array *dev = NULL, *zero = NULL, *sq = NULL, *v = NULL, *dof = NULL, *bad = NULL, *nanv = NULL, *dd_ = NULL;
                if (!(st = bin(ctx, &t, "subtract", y, avg, &dev)) && !(st = weak(ctx, &t, lp_scalar_f(0), &zero))) {
                    lp_array *in[3] = {mask, zero, dev};
                    if (!(st = lp_elemwise(ctx, "where", 3, in, &dev))) lpi_keep(&t, dev);
                }
                /* |dev|^2: NumPy's real part of dev * conj(dev) for complex values (a real variance) */
                lp_array *dc = dev;
                const lp_dtype vdt = tot->dtype == LP_COMPLEX64 ? LP_FLOAT32 : tot->dtype == LP_COMPLEX128 ? LP_FLOAT64 : tot->dtype;
                if (!st && lpi_dtype_is_complex(dev->dtype)) st = un(ctx, &t, "conjugate", dev, &dc);
                if (!st && !(st = bin(ctx, &t, "multiply", dev, dc, &sq)) &&
                    !(st = lpi_dtype_is_complex(sq->dtype) ? un(ctx, &t, "real", sq, &sq) : LP_OK) &&
                    !(st = red(ctx, &t, "sum", sq, ax, keepdims, 0, &v))) {
                    /* the count in v's shape (keepdims=False drops the unit axes) */
                    if (!keepdims && !(st = lp_reshape(ctx, cnt, v->ndim, v->shape, &cnt))) lpi_keep(&t, cnt);
                    if (!st && !(st = weak(ctx, &t, ddof == floor(ddof) ? lp_scalar_i((int64_t)ddof) : lp_scalar_f(ddof), &dd_)) && !(st = bin(ctx, &t, "subtract", cnt, dd_, &dof)) &&
                        !(st = bin(ctx, &t, "divide", v, dof, &v)) && !(st = cast(ctx, &t, v, vdt, &v)) &&
                        !(st = weak(ctx, &t, lp_scalar_i(0), &zero)) && !(st = bin(ctx, &t, "less_equal", dof, zero, &bad)) &&
                        !(st = weak(ctx, &t, lp_scalar_f(NAN), &nanv))) {
                        lp_array *in[3] = {bad, nanv, v};
                        if (!(st = lp_elemwise(ctx, "where", 3, in, &v))) lpi_keep(&t, v);
                    }
                    if (!st && !strcmp(op, "std")) st = un(ctx, &t, "sqrt", v, &v);
                    r = v;
                }
            }
        }
    }
    return lpi_give(c, &t, st, &r, out);
}

/* angle(z, deg): NumPy's arctan2(z.imag, z.real), a real z's imaginary part being the Python
 * int 0 (weak: float32 stays float32, integers give float64); deg scales by 180 / pi. */
lp_status lpi_fn_angle(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lp_array *z = ARG("z")->a, *re = z, *im = NULL, *r = NULL, *k = NULL;
    lpi_tmps t = {0};
    lp_status st = LP_OK;
    if (lpi_dtype_is_complex(z->dtype)) {
        if (!(st = un(ctx, &t, "real", z, &re))) st = un(ctx, &t, "imag", z, &im);
    } else {
        st = weak(ctx, &t, lp_scalar_i(0), &im);
    }
    if (!st) st = bin(ctx, &t, "arctan2", im, re, &r);
    if (!st && ARG("deg")->b && !(st = weak(ctx, &t, lp_scalar_f(180 / 3.141592653589793), &k))) st = bin(ctx, &t, "multiply", r, k, &r);
    return lpi_give(c, &t, st, &r, out);
}
