/* Catalogue builders of numpy.fft / the array API's fft extension (fft, ifft, fftn, ifftn, rfft,
 * irfft, rfftn, irfftn, hfft, ihfft, fft2 ..., fftfreq, rfftfreq, fftshift, ifftshift). Each
 * 1-d transform is one unnormalized fft_* node (expr/axis.c; FFTW in kernels/fft.c) after the
 * input is cut or zero-padded to the length n along the axis, then scaled for `norm`; the n-d
 * ones are 1-d transforms axis after axis in NumPy's order. */
#include "expr/catalog.h"

#include <math.h>
#include <string.h>

#define ARG(name) lpi_call_arg(c, name)
#define KEEP(st_expr, var) ((st = (st_expr)) ? st : (lpi_keep(t, var), LP_OK))

typedef enum { T_FFT, T_IFFT, T_RFFT, T_IRFFT, T_HFFT, T_IHFFT } fft_kind;

/* NumPy's norm names: 0 backward (the default, also None), 1 ortho, 2 forward */
static lp_status norm_of(lpi_call *c, int *mode) {
    lpi_arg *a = ARG("norm");
    const char *s = a && a->given ? a->s : "backward";
    if (!strcmp(s, "backward")) *mode = 0;
    else if (!strcmp(s, "ortho")) *mode = 1;
    else if (!strcmp(s, "forward")) *mode = 2;
    else return lpi_error(c->ctx, LP_ERR_VALUE, "Invalid norm value %s; should be \"backward\",\"ortho\" or \"forward\".", s);
    return LP_OK;
}

/* x along ax cut to its first m elements or padded with zeros to m */
static lp_status fit(lp_ctx *ctx, lpi_tmps *t, lp_array *x, int ax, int64_t m, lp_array **out) {
    lp_status st = LP_OK;
    *out = x;
    const int64_t len = x->shape[ax];
    if (len == m) return LP_OK;
    if (len > m) {
        lp_index idx[LP_MAX_NDIM];
        memset(idx, 0, sizeof idx);
        for (int i = 0; i < x->ndim; i++) idx[i].kind = LP_IDX_SLICE;
        idx[ax].has_stop = true;
        idx[ax].stop = m;
        return KEEP(lp_slice(ctx, x, x->ndim, idx, out), *out);
    }
    int64_t shape[LP_MAX_NDIM];
    memcpy(shape, x->shape, sizeof shape);
    shape[ax] = m - len;
    lp_array *z = NULL;
    if (KEEP(lp_zeros(ctx, x->dtype, x->ndim, shape, &z), z)) return st;
    lp_array *both[2] = {x, z};
    return KEEP(lp_concatenate(ctx, 2, both, ax, out), *out);
}

static lp_status cast(lp_ctx *ctx, lpi_tmps *t, lp_array *x, lp_dtype dt, lp_array **out) {
    lp_status st = LP_OK;
    *out = x;
    if (x->dtype != dt) KEEP(lp_astype(ctx, x, dt, out), *out);
    return st;
}

static lp_status scale(lp_ctx *ctx, lpi_tmps *t, lp_array *x, double f, lp_array **out) {
    lp_status st = LP_OK;
    *out = x;
    if (f == 1) return LP_OK;
    lp_array *k = NULL;
    if (KEEP(lp_scalar_array(ctx, lp_scalar_f(f), &k), k)) return st;
    return KEEP(lp_binary(ctx, "multiply", x, k, out), *out);
}

/* The 1-d transform `kind` of x along axis with length n (n < 0: NumPy's default) and norm
 * mode; intermediates in t. */
static lp_status fft1(lp_ctx *ctx, lpi_tmps *t, fft_kind kind, lp_array *x, int64_t n, int axis, int mode, lp_array **out) {
    lp_status st;
    int ax;
    if ((st = lpi_norm_axis(ctx, axis, x->ndim, &ax))) return st;
    if (kind == T_HFFT || kind == T_IHFFT) {
        /* hfft = irfft(conj(a)), ihfft = conj(rfft(a)), both with the opposite direction's norm */
        const int swapped = 2 - mode;
        lp_array *y = NULL;
        if (kind == T_HFFT) {
            lp_array *cj = NULL;
            if (KEEP(lp_unary(ctx, "conjugate", x, &cj), cj)) return st;
            return fft1(ctx, t, T_IRFFT, cj, n, ax, swapped, out);
        }
        if ((st = fft1(ctx, t, T_RFFT, x, n, ax, swapped, &y))) return st;
        return KEEP(lp_unary(ctx, "conjugate", y, out), *out);
    }
    const bool inverse = kind == T_IFFT || kind == T_IRFFT;
    if (n < 0) n = kind == T_IRFFT ? 2 * (x->shape[ax] - 1) : x->shape[ax];
    if (n < 1) return lpi_error(ctx, LP_ERR_VALUE, "Invalid number of FFT data points (%lld) specified.", (long long)n);
    /* NumPy's dtypes: float32/float16 (complex64) in single precision, the rest in double */
    const bool single = x->dtype == LP_FLOAT32 || x->dtype == LP_FLOAT16 || x->dtype == LP_COMPLEX64;
    lp_array *a = NULL, *b = NULL, *r = NULL;
    lpi_op op;
    if (kind == T_RFFT) {
        if (lpi_dtype_is_complex(x->dtype))
            return lpi_error(ctx, LP_ERR_TYPE, "rfft: a complex input is not supported (the transform of a real signal)");
        op = LPI_OP_FFT_R2C;
        if ((st = cast(ctx, t, x, single ? LP_FLOAT32 : LP_FLOAT64, &a)) || (st = fit(ctx, t, a, ax, n, &b))) return st;
    } else {
        op = kind == T_FFT ? LPI_OP_FFT_FORWARD : kind == T_IFFT ? LPI_OP_FFT_BACKWARD : LPI_OP_FFT_C2R;
        const int64_t m = kind == T_IRFFT ? n / 2 + 1 : n;
        if ((st = cast(ctx, t, x, single ? LP_COMPLEX64 : LP_COMPLEX128, &a)) || (st = fit(ctx, t, a, ax, m, &b))) return st;
    }
    if (KEEP(lpi_fft_node(ctx, op, b, ax, n, &r), r)) return st;
    const double f = mode == 1 ? 1 / sqrt((double)n) : (mode == 2) != inverse ? 1 / (double)n : 1;
    return scale(ctx, t, r, f, out);
}

static fft_kind kind_of(const char *op) {
    static const char *const names[] = {"fft", "ifft", "rfft", "irfft", "hfft", "ihfft"};
    for (int k = 0; k < 6; k++)
        if (!strcmp(op, names[k])) return (fft_kind)k;
    return T_FFT;
}

/* fft.fft, ifft, rfft, irfft, hfft, ihfft (OP: the kind) */
lp_status lpi_fn_fft(lpi_call *c, lp_value *out) {
    lpi_tmps tt = {0}, *t = &tt;
    lp_array *r = NULL;
    int mode;
    lp_status st = norm_of(c, &mode);
    lpi_arg *n = ARG("n");
    if (!st) st = fft1(c->ctx, t, kind_of(c->fn->op), ARG("a")->a, n->given ? n->i : -1, (int)ARG("axis")->i, mode, &r);
    if (!st && n->given && n->i < 1)
        st = lpi_error(c->ctx, LP_ERR_VALUE, "Invalid number of FFT data points (%lld) specified.", (long long)n->i);
    return lpi_give(c, t, st, &r, out);
}

/* fft.fftn, ifftn, rfftn, irfftn and the 2-d forms (OP: "fftn" ...; the 2-d ones' axes default
 * to (-2, -1)): NumPy's _cook_nd_args, then 1-d transforms over the axes, last axis first (the
 * real ones: rfft over the last axis first; irfft over the last axis last). */
lp_status lpi_fn_fftn(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_tmps tt = {0}, *t = &tt;
    lp_array *a = ARG("a")->a, *r = NULL;
    const char *op = c->fn->op;
    const bool two = op[strlen(op) - 1] == '2';
    const bool real = strstr(op, "rfft") != NULL, invreal = real && !strncmp(op, "irfft", 5);
    int mode;
    lp_status st = norm_of(c, &mode);
    if (st) return st;
    lpi_arg *sa = ARG("s"), *xa = ARG("axes");
    int64_t s[LP_MAX_NDIM];
    int axes[LP_MAX_NDIM], ns = -1, na = -1;
    if (sa->given) {
        const lp_value *v = sa->v;
        if (v->kind != LP_VAL_TUPLE && v->kind != LP_VAL_LIST)
            return lpi_error(ctx, LP_ERR_TYPE, "%s(): s must be a sequence of integers", c->fname);
        if (v->n > LP_MAX_NDIM) return lpi_error(ctx, LP_ERR_VALUE, "%s(): s has too many entries", c->fname);
        for (ns = 0; ns < v->n; ns++) {
            if (v->items[ns].kind != LP_VAL_INT) return lpi_error(ctx, LP_ERR_TYPE, "%s(): s must be a sequence of integers", c->fname);
            s[ns] = v->items[ns].i;
        }
    }
    if (xa->naxes >= 0) {
        na = xa->naxes;
        memcpy(axes, xa->axes, sizeof axes);
    } else if (two && !xa->v) { /* not passed; None (passed) is every axis, as in NumPy */
        na = 2;
        axes[0] = -2;
        axes[1] = -1;
    }
    if (na < 0) {
        /* the last len(s) axes, or all */
        na = ns >= 0 ? ns : a->ndim;
        if (na > a->ndim) return lpi_error(ctx, LP_ERR_VALUE, "%s(): s has more entries than the array has axes", c->fname);
        for (int k = 0; k < na; k++) axes[k] = k - na;
    }
    for (int k = 0; k < na; k++) {
        int ax;
        if ((st = lpi_norm_axis(ctx, axes[k], a->ndim, &ax))) return st;
        axes[k] = ax;
    }
    const bool shapeless = ns < 0;
    if (shapeless) {
        ns = na;
        for (int k = 0; k < na; k++) s[k] = a->shape[axes[k]];
    }
    if (ns != na) return lpi_error(ctx, LP_ERR_VALUE, "Shape and axes have different lengths.");
    for (int k = 0; k < na; k++)
        if (s[k] == -1) s[k] = a->shape[axes[k]]; /* NumPy's -1: the input's length */
    if (invreal && shapeless && na > 0) s[na - 1] = 2 * (a->shape[axes[na - 1]] - 1);
    if (na == 0) {
        /* no axes: NumPy returns the input unchanged (as complex for the c2c forms) */
        lp_array *x = NULL;
        if (real) return lpi_error(ctx, LP_ERR_VALUE, "%s(): at least one axis is needed", c->fname);
        const bool single = a->dtype == LP_FLOAT32 || a->dtype == LP_FLOAT16 || a->dtype == LP_COMPLEX64;
        st = cast(ctx, t, a, single ? LP_COMPLEX64 : LP_COMPLEX128, &x);
        r = x;
        return lpi_give(c, t, st, &r, out);
    }
    lp_array *x = a;
    if (real && !invreal) {
        if ((st = fft1(ctx, t, T_RFFT, x, s[na - 1], axes[na - 1], mode, &x))) goto done;
        for (int k = na - 2; k >= 0; k--)
            if ((st = fft1(ctx, t, T_FFT, x, s[k], axes[k], mode, &x))) goto done;
    } else if (invreal) {
        for (int k = 0; k < na - 1; k++)
            if ((st = fft1(ctx, t, T_IFFT, x, s[k], axes[k], mode, &x))) goto done;
        if ((st = fft1(ctx, t, T_IRFFT, x, s[na - 1], axes[na - 1], mode, &x))) goto done;
    } else {
        const fft_kind k1 = op[0] == 'i' ? T_IFFT : T_FFT;
        for (int k = na - 1; k >= 0; k--)
            if ((st = fft1(ctx, t, k1, x, s[k], axes[k], mode, &x))) goto done;
    }
    r = x;
done:
    return lpi_give(c, t, st, &r, out);
}

/* fft.fftfreq(n, d) and rfftfreq: NumPy's integer frequencies times 1 / (n d) */
lp_status lpi_fn_fftfreq(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_tmps tt = {0}, *t = &tt;
    lp_status st = LP_OK;
    const int64_t n = ARG("n")->i;
    const double d = ARG("d")->f;
    const bool rf = c->fn->op[0] == 'r';
    if (n < 1) return lpi_error(ctx, LP_ERR_VALUE, "%s(): n must be a positive integer, got %lld", c->fname, (long long)n);
    lp_array *k = NULL, *lo = NULL, *hi = NULL, *r = NULL;
    if (rf) {
        if (KEEP(lp_arange(ctx, 0, (double)(n / 2 + 1), 1, LP_INT64, &k), k)) goto done;
    } else {
        if (KEEP(lp_arange(ctx, 0, (double)((n - 1) / 2 + 1), 1, LP_INT64, &lo), lo) ||
            KEEP(lp_arange(ctx, (double)(-(n / 2)), 0, 1, LP_INT64, &hi), hi))
            goto done;
        lp_array *both[2] = {lo, hi};
        if (KEEP(lp_concatenate(ctx, 2, both, 0, &k), k)) goto done;
    }
    lp_array *kk = NULL;
    if (KEEP(lp_scalar_array(ctx, lp_scalar_f(1.0 / ((double)n * d)), &kk), kk) ||
        KEEP(lp_binary(ctx, "multiply", k, kk, &r), r))
        goto done;
    lpi_arg *dt = ARG("dtype");
    if (dt && dt->given) {
        if (dt->dt != LP_FLOAT32 && dt->dt != LP_FLOAT64) {
            st = lpi_error(ctx, LP_ERR_VALUE, "%s(): dtype must be a real floating-point dtype", c->fname);
            goto done;
        }
        if (KEEP(lp_astype(ctx, r, dt->dt, &r), r)) goto done;
    }
done:
    return lpi_give(c, t, st, &r, out);
}

/* fft.fftshift / ifftshift: a roll by n // 2 (or -(n // 2)) along each axis (None: all) */
lp_status lpi_fn_fftshift(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lp_array *x = ARG("x")->a, *r = NULL;
    lpi_arg *ax = ARG("axes");
    const bool inv = c->fn->op[0] == 'i';
    int axes[LP_MAX_NDIM], na;
    if (ax->naxes < 0) {
        na = x->ndim;
        for (int k = 0; k < na; k++) axes[k] = k;
    } else {
        na = ax->naxes;
        for (int k = 0; k < na; k++) {
            lp_status st = lpi_norm_axis(ctx, ax->axes[k], x->ndim, &axes[k]);
            if (st) return st;
        }
    }
    if (na == 0) {
        lp_array_retain(x);
        r = x;
        return lpi_out_array(c, LP_OK, &r, out);
    }
    lp_value sh[LP_MAX_NDIM], av[LP_MAX_NDIM];
    for (int k = 0; k < na; k++) {
        int64_t h = x->shape[axes[k]] / 2;
        sh[k] = lp_value_int(inv ? -h : h);
        av[k] = lp_value_int(axes[k]);
    }
    lp_value pos[3] = {lp_value_array(x), lp_value_tuple(sh, na), lp_value_tuple(av, na)}, res = lp_value_none();
    lp_status st = lp_call(ctx, "roll", 3, pos, 0, NULL, NULL, &res);
    if (st) return st;
    *out = res;
    return LP_OK;
}
