/* Catalogue builders for the factorizations: qr, svd (nodes of expr/linalg.c: TSQR for tall
 * matrices, plan/plan_linalg.c), and pinv / matrix_rank composed from svd with NumPy 2's
 * formulas step by step. */
#include "expr/catalog.h"

#include <float.h>
#include <string.h>

#define ARG(name) lpi_call_arg(c, name)
#define KEEP(st_expr, var) ((st = (st_expr)) ? st : (lpi_keep(t, var), LP_OK))

lp_status lpi_fn_qr(lpi_call *c, lp_value *out) {
    lp_array *a = ARG("a")->a, *q = NULL, *r = NULL;
    const char *mode = ARG("mode")->given ? ARG("mode")->s : "reduced";
    if (strcmp(mode, "reduced") && strcmp(mode, "r") && strcmp(mode, "complete") && strcmp(mode, "raw"))
        return lpi_error(c->ctx, LP_ERR_VALUE, "Unrecognized mode '%s'", mode);
    if (!strcmp(mode, "raw")) return lpi_error(c->ctx, LP_ERR_VALUE, "qr(): mode='raw' (Householder reflectors) is not supported");
    /* complete: Q (M, M) from the Householder reflectors of one geqrf per matrix (orgqr with
     * M columns), which needs the matrix in one task; reduced tall matrices go through TSQR */
    const bool complete = !strcmp(mode, "complete");
    if (mode[0] == 'r' && !mode[1]) return lpi_out_array(c, lpi_linalg_qr_mode(c->ctx, a, false, NULL, &r), &r, out);
    lp_status st = lpi_linalg_qr_mode(c->ctx, a, complete, &q, &r);
    if (st) return st;
    lp_array *both[2] = {q, r};
    return lpi_out_list(c, LP_VAL_TUPLE, both, 2, out);
}

lp_status lpi_fn_svd(lpi_call *c, lp_value *out) {
    lp_array *a = ARG("a")->a, *u = NULL, *s = NULL, *vt = NULL;
    const bool uv = ARG("compute_uv")->b;
    /* hermitian=True: NumPy takes eigh's route; the SVD computed here is the same decomposition */
    if (!uv) return lpi_out_array(c, lp_linalg_svd(c->ctx, a, NULL, &s, NULL), &s, out);
    lp_status st = lpi_linalg_svd_full(c->ctx, a, ARG("full_matrices")->b, &u, &s, &vt);
    if (st) return st;
    lp_array *all[3] = {u, s, vt};
    return lpi_out_list(c, LP_VAL_TUPLE, all, 3, out);
}

/* A number from an `any` argument (None: not a number). */
static lp_status num_arg(lpi_call *c, const char *name, bool *given, double *v) {
    const lp_value *x = ARG(name)->v;
    *given = false;
    if (!x || x->kind == LP_VAL_NONE) return LP_OK;
    if (x->kind == LP_VAL_INT) *v = (double)x->i;
    else if (x->kind == LP_VAL_FLOAT) *v = x->f;
    else return lpi_error(c->ctx, LP_ERR_TYPE, "%s(): %s must be a number or None, not %s", c->fname, name, lpi_value_type(x));
    *given = true;
    return LP_OK;
}

/* An `any` argument that is an array (the array API's rtol: an array broadcasting against the
 * stack's shape): a new reference kept on t, or NULL when it is not an array. */
static lp_array *array_arg(lpi_call *c, lpi_tmps *t, const char *name) {
    const lp_value *x = ARG(name)->v;
    if (!x || x->kind != LP_VAL_ARRAY || !x->array) return NULL;
    lp_array_retain(x->array);
    return lpi_keep(t, x->array);
}

/* a[..., None] */
static lp_status add_last_axis(lp_ctx *ctx, lp_array *a, lp_array **out) {
    int64_t sh[LP_MAX_NDIM];
    if (a->ndim >= LP_MAX_NDIM) return lpi_error(ctx, LP_ERR_VALUE, "rtol: too many dimensions");
    memcpy(sh, a->shape, (size_t)a->ndim * sizeof *sh);
    sh[a->ndim] = 1;
    return lp_reshape(ctx, a, a->ndim + 1, sh, out);
}

static double eps_of(lp_dtype dt) { return dt == LP_FLOAT32 ? FLT_EPSILON : DBL_EPSILON; }

/* numpy.linalg.pinv: V diag(1/s) U^T over the singular values above rcond * max(s). rcond
 * defaults to 1e-15; rtol=None (passed) means max(M, N) * eps. */
lp_status lpi_fn_pinv(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_tmps tt = {0}, *t = &tt;
    lp_array *a = ARG("a")->a, *r = NULL;
    bool has_rcond = false, has_rtol = false;
    double rcond = 1e-15, rtol = 0;
    lp_status st;
    lp_array *rtol_arr = array_arg(c, t, "rtol");
    if ((st = num_arg(c, "rcond", &has_rcond, &rcond)) || (!rtol_arr && (st = num_arg(c, "rtol", &has_rtol, &rtol)))) {
        lpi_drop(t);
        return st;
    }
    const bool rtol_passed = ARG("rtol")->v != NULL;
    if (has_rcond && rtol_passed) st = lpi_error(ctx, LP_ERR_VALUE, "`rtol` and `rcond` can't be both set.");
    else if (a->ndim < 2)
        st = lpi_error(ctx, LP_ERR_LINALG, "%d-dimensional array given. Array must be at least two-dimensional", a->ndim);
    if (st) {
        lpi_drop(t);
        return st;
    }
    const int nd = a->ndim;
    const int64_t m = a->shape[nd - 2], n = a->shape[nd - 1];
    const lp_dtype dt = a->dtype == LP_FLOAT32 ? LP_FLOAT32 : LP_FLOAT64;
    if (!has_rcond) rcond = has_rtol ? rtol : rtol_passed ? (double)(m > n ? m : n) * eps_of(dt) : 1e-15;
    int64_t sh[LP_MAX_NDIM];
    memcpy(sh, a->shape, (size_t)nd * sizeof *sh);
    if (m == 0 || n == 0) {
        sh[nd - 2] = n;
        sh[nd - 1] = m;
        lpi_drop(t);
        return lpi_out_array(c, lp_zeros(ctx, dt, nd, sh, &r), &r, out);
    }
    /* per matrix of a stack: the cutoff from its own largest singular value; rtol (an array)
     * broadcasts against the stack's shape, as NumPy's rcond[..., newaxis] */
    lp_array *u = NULL, *s = NULL, *vt = NULL, *smax = NULL, *rc = NULL, *cut = NULL, *large = NULL, *one = NULL,
             *inv = NULL, *zero = NULL, *sinv = NULL, *col = NULL, *ut = NULL, *w = NULL, *v = NULL;
    const int64_t k = m < n ? m : n;
    int last = -1;
    sh[nd - 2] = k;
    sh[nd - 1] = 1;
    if (!(st = lp_linalg_svd(ctx, a, &u, &s, &vt))) {
        lpi_keep(t, u);
        lpi_keep(t, s);
        lpi_keep(t, vt);
    }
    if (st || KEEP(lp_reduce(ctx, "max", s, &last, 1, true, &smax), smax) ||
        (rtol_arr ? KEEP(add_last_axis(ctx, rtol_arr, &rc), rc) : KEEP(lp_scalar_array(ctx, lp_scalar_f(rcond), &rc), rc)) ||
        KEEP(lp_binary(ctx, "multiply", rc, smax, &cut), cut) ||
        KEEP(lp_binary(ctx, "greater", s, cut, &large), large) || KEEP(lp_scalar_array(ctx, lp_scalar_f(1.0), &one), one) ||
        KEEP(lp_binary(ctx, "divide", one, s, &inv), inv) || KEEP(lp_scalar_array(ctx, lp_scalar_f(0.0), &zero), zero) ||
        KEEP(lp_where(ctx, large, inv, zero, &sinv), sinv) || KEEP(lp_reshape(ctx, sinv, nd, sh, &col), col) ||
        KEEP(lpi_matrix_transpose(ctx, u, &ut), ut) || KEEP(lp_binary(ctx, "multiply", col, ut, &w), w) ||
        KEEP(lpi_matrix_transpose(ctx, vt, &v), v) || KEEP(lp_matmul(ctx, v, w, &r), r))
        return lpi_give(c, t, st, &r, out);
    return lpi_give(c, t, st, &r, out);
}

/* numpy.linalg.matrix_rank: the singular values above tol (default max(s) * max(M, N) * eps,
 * or max(s) * rtol); a 0-d or 1-d A: whether any element is non-zero. A 0-d int64 array. */
lp_status lpi_fn_matrix_rank(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_tmps tt = {0}, *t = &tt;
    lp_array *a = ARG("A")->a, *r = NULL, *s = NULL, *smax = NULL, *f = NULL, *tol = NULL, *gt = NULL, *zero = NULL;
    lpi_arg *tola = ARG("tol");
    lp_status st = LP_OK;
    if (a->ndim < 2) {
        lp_array *nz = NULL, *any = NULL;
        if (KEEP(lp_scalar_array(ctx, lp_scalar_i(0), &zero), zero) || KEEP(lp_binary(ctx, "not_equal", a, zero, &nz), nz) ||
            KEEP(lp_reduce(ctx, "any", nz, NULL, 0, false, &any), any) || KEEP(lp_astype(ctx, any, LP_INT64, &r), r)) {}
        return lpi_give(c, t, st, &r, out);
    }
    if (!(st = lp_linalg_svd(ctx, a, NULL, &s, NULL))) lpi_keep(t, s);
    if (st) return lpi_give(c, t, st, &r, out);
    const int64_t m = a->shape[a->ndim - 2], n = a->shape[a->ndim - 1];
    int last = -1;
    if (m == 0 || n == 0) return lpi_give(c, t, KEEP(lp_zeros(ctx, LP_INT64, a->ndim - 2, a->shape, &r), r), &r, out);
    lp_array *rtol_arr = array_arg(c, t, "rtol");
    bool has_rtol = false;
    double rt = (double)(m > n ? m : n) * eps_of(s->dtype);
    if (!rtol_arr && (st = num_arg(c, "rtol", &has_rtol, &rt))) return lpi_give(c, t, st, &r, out);
    if (tola->given) {
        st = KEEP(lp_scalar_array(ctx, lp_scalar_f(tola->f), &tol), tol);
    } else {
        /* per matrix: its largest singular value times rtol (an array: one per matrix) */
        if (!KEEP(lp_reduce(ctx, "max", s, &last, 1, true, &smax), smax) &&
            !(rtol_arr ? KEEP(add_last_axis(ctx, rtol_arr, &f), f) : KEEP(lp_scalar_array(ctx, lp_scalar_f(rt), &f), f)))
            st = KEEP(lp_binary(ctx, "multiply", smax, f, &tol), tol);
    }
    if (!st && !KEEP(lp_binary(ctx, "greater", s, tol, &gt), gt)) KEEP(lp_reduce(ctx, "sum", gt, &last, 1, false, &r), r);
    return lpi_give(c, t, st, &r, out);
}

/* numpy.linalg.eig / eigvals (geev per matrix; expr/linalg.c computes the factors when built:
 * the result dtype depends on them) */
lp_status lpi_fn_eig(lpi_call *c, lp_value *out) {
    lp_array *a = ARG("a")->a, *w = NULL, *v = NULL;
    if (!strcmp(c->fn->op, "eigvals")) return lpi_out_array(c, lpi_linalg_eig(c->ctx, a, &w, NULL), &w, out);
    lp_status st = lpi_linalg_eig(c->ctx, a, &w, &v);
    if (st) return st;
    lp_array *both[2] = {w, v};
    return lpi_out_list(c, LP_VAL_TUPLE, both, 2, out);
}
