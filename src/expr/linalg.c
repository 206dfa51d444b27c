/* Linear-algebra builders: matmul (and dot, outer, tensordot on top of it) and the small dense
 * numpy.linalg ops. Shapes, dtypes and error wording follow NumPy 2.
 *
 * A transpose that swaps the last two axes is folded into the matmul node as a flag
 * (LPI_MM_TA / LPI_MM_TB): the product reads the untransposed array with BLAS's Trans, so X.T is
 * never materialized, and after CSE `X.T @ X` is a node whose two inputs are the same array,
 * which the planner runs as a symmetric rank-k update (plan/plan_linalg.c). */
#include "expr/catalog.h"
#include "expr/expr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MM_SIG "(n?,k),(k,m?)->(n?,m?)"

/* x's input if x is a (not yet computed) transpose swapping exactly the last two axes. */
static lp_array *swapped_input(lp_array *x) {
    if (x->op != LPI_OP_TRANSPOSE || x->ndim < 2 || lp_array_result(x)) return NULL;
    const lpi_axismap *m = &x->a.map;
    for (int i = 0; i < x->ndim - 2; i++)
        if (m->src[i] != i) return NULL;
    if (m->src[x->ndim - 2] != x->ndim - 1 || m->src[x->ndim - 1] != x->ndim - 2) return NULL;
    return x->in[0];
}

static void shape_into(char *buf, size_t cap, size_t *len, int nd, const int64_t *s) {
    char tmp[160];
    lpi_shape_str(tmp, sizeof tmp, nd, s);
    if (*len < cap) *len += (size_t)snprintf(buf + *len, cap - *len, "%s", tmp);
}

/* NumPy's message for matmul's loop dimensions that do not broadcast. */
static lp_status batch_error(lp_ctx *ctx, const lp_array *a, const lp_array *b, int64_t n, int64_t m) {
    char msg[LPI_ERRMSG_MAX];
    size_t len = (size_t)snprintf(msg, sizeof msg,
                                  "operands could not be broadcast together with remapped shapes [original->remapped]: ");
    const lp_array *ops[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        const lp_array *x = ops[k];
        shape_into(msg, sizeof msg, &len, x->ndim, x->shape);
        if (len < sizeof msg) len += (size_t)snprintf(msg + len, sizeof msg - len, "->(");
        for (int i = 0; i < x->ndim - 2 && len < sizeof msg; i++)
            len += (size_t)snprintf(msg + len, sizeof msg - len, "%lld,", (long long)x->shape[i]);
        if (len < sizeof msg) len += (size_t)snprintf(msg + len, sizeof msg - len, "newaxis,newaxis) ");
    }
    int64_t req[2] = {n, m};
    if (len < sizeof msg) len += (size_t)snprintf(msg + len, sizeof msg - len, " and requested shape ");
    shape_into(msg, sizeof msg, &len, 2, req);
    return lpi_error(ctx, LP_ERR_SHAPE, "%s", msg);
}

/* A complex product from real ones: (ar + i ai)(br + i bi) = (ar br - ai bi) + i (ar bi + ai br),
 * each a real matmul (the planner's chunked BLAS products; a real operand contributes no
 * imaginary part). The real products round as zgemm's do, up to the order of the sums. */
static lp_status complex_matmul(lp_ctx *ctx, lp_array *a, lp_array *b, lp_dtype dt, lp_array **out) {
    lp_array *p[2][2] = {{NULL, NULL}, {NULL, NULL}}; /* [operand][part] */
    lp_array *t[4] = {NULL, NULL, NULL, NULL}, *re = NULL, *im = NULL, *c = NULL;
    lp_array *ops[2] = {a, b};
    lp_status st = LP_OK;
    for (int k = 0; k < 2 && !st; k++) {
        if (!lpi_dtype_is_complex(ops[k]->dtype)) { lp_array_retain(ops[k]); p[k][0] = ops[k]; continue; }
        if (!(st = lp_unary(ctx, "real", ops[k], &p[k][0]))) st = lp_unary(ctx, "imag", ops[k], &p[k][1]);
    }
    if (!st) st = lp_matmul(ctx, p[0][0], p[1][0], &t[0]);                      /* ar br */
    if (!st && p[0][1] && p[1][1]) st = lp_matmul(ctx, p[0][1], p[1][1], &t[1]); /* ai bi */
    if (!st && p[1][1]) st = lp_matmul(ctx, p[0][0], p[1][1], &t[2]);            /* ar bi */
    if (!st && p[0][1]) st = lp_matmul(ctx, p[0][1], p[1][0], &t[3]);            /* ai br */
    if (!st) { re = t[0]; lp_array_retain(re); }
    if (!st && t[1]) { lp_array *d = NULL; st = lp_binary(ctx, "subtract", re, t[1], &d); lp_array_release(re); re = d; }
    if (!st && t[2] && t[3]) st = lp_binary(ctx, "add", t[2], t[3], &im);
    else if (!st) { im = t[2] ? t[2] : t[3]; lp_array_retain(im); }
    if (!st) st = lp_binary(ctx, "make_complex", re, im, &c);
    if (!st) st = c->dtype == dt ? (lp_array_retain(c), *out = c, LP_OK) : lp_astype(ctx, c, dt, out);
    for (int k = 0; k < 2; k++) { lp_array_release(p[k][0]); lp_array_release(p[k][1]); }
    for (int k = 0; k < 4; k++) lp_array_release(t[k]);
    lp_array_release(re);
    lp_array_release(im);
    lp_array_release(c);
    return st;
}

lp_status lp_matmul(lp_ctx *ctx, lp_array *a, lp_array *b, lp_array **out) {
    *out = NULL;
    if (!a || !b) return lpi_error(ctx, LP_ERR_VALUE, "matmul: NULL operand");
    if (a->ndim == 0 || b->ndim == 0)
        return lpi_error(ctx, LP_ERR_VALUE,
                         "matmul: Input operand %d does not have enough dimensions (has 0, gufunc core with "
                         "signature " MM_SIG " requires 1)", a->ndim == 0 ? 0 : 1);
    const int na = a->ndim, nb = b->ndim;
    const int64_t ka = a->shape[na - 1], kb = nb == 1 ? b->shape[0] : b->shape[nb - 2];
    if (ka != kb)
        return lpi_error(ctx, LP_ERR_SHAPE,
                         "matmul: Input operand 1 has a mismatch in its core dimension 0, with gufunc signature "
                         MM_SIG " (size %lld is different from %lld)", (long long)kb, (long long)ka);
    /* loop (batch) dimensions broadcast */
    int64_t shape[LP_MAX_NDIM];
    int nbo = 0;
    const int bna = na > 2 ? na - 2 : 0, bnb = nb > 2 ? nb - 2 : 0;
    nbo = bna > bnb ? bna : bnb;
    for (int i = 0; i < nbo; i++) {
        int ia = i - (nbo - bna), ib = i - (nbo - bnb);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return batch_error(ctx, a, b, na > 1 ? a->shape[na - 2] : 1, nb > 1 ? b->shape[nb - 1] : 1);
        shape[i] = da == 1 ? db : da;
    }
    int nd = nbo;
    if (na > 1) shape[nd++] = a->shape[na - 2];
    if (nb > 1) shape[nd++] = b->shape[nb - 1];
    const lp_dtype dt = lp_promote(a->dtype, b->dtype);
    if (lpi_dtype_is_complex(dt)) return complex_matmul(ctx, a, b, dt, out);
    /* NumPy accumulates float16 products in float16 (no BLAS); Lampy has no such loop yet */
    if (dt == LP_FLOAT16)
        return lpi_error(ctx, LP_ERR_TYPE, "matmul: float16 operands are not supported yet; cast them with "
                         "astype('float32') first");

    /* fold transposes of the last two axes into flags (a transpose of a transpose cancels) */
    uint32_t flags = 0;
    lp_array *ia = a, *ib = b, *x;
    while ((x = swapped_input(ia))) { ia = x; flags ^= LPI_MM_TA; }
    while ((x = swapped_input(ib))) { ib = x; flags ^= LPI_MM_TB; }
    lp_array *ins[2] = {ia, ib}, *r;
    lp_status st = lpi_node_new(ctx, LPI_OP_MATMUL, dt, nd, shape, 2, ins, &r);
    if (st) return st;
    r->a.flags = flags;
    *out = r;
    return LP_OK;
}

static lp_status reshape_to(lp_ctx *ctx, lp_array *a, int nd, const int64_t *shape, lp_array **out) {
    if (a->ndim == nd && !memcmp(a->shape, shape, (size_t)nd * sizeof *shape)) {
        lp_array_retain(a);
        *out = a;
        return LP_OK;
    }
    return lp_reshape(ctx, a, nd, shape, out);
}

lp_status lp_tensordot(lp_ctx *ctx, lp_array *a, lp_array *b, int naxes, const int *axes_a,
                       const int *axes_b, lp_array **out) {
    *out = NULL;
    if (naxes < 0 || naxes > a->ndim || naxes > b->ndim || (!axes_a) != (!axes_b))
        return lpi_error(ctx, LP_ERR_VALUE, "tensordot: invalid number of axes %d for shapes of %d and %d dimensions",
                         naxes, a->ndim, b->ndim);
    int ca[LP_MAX_NDIM], cb[LP_MAX_NDIM];
    uint32_t usa = 0, usb = 0;
    for (int i = 0; i < naxes; i++) {
        lp_status st;
        if (axes_a) {
            if ((st = lpi_norm_axis(ctx, axes_a[i], a->ndim, &ca[i])) || (st = lpi_norm_axis(ctx, axes_b[i], b->ndim, &cb[i])))
                return st;
        } else {
            ca[i] = a->ndim - naxes + i;
            cb[i] = i;
        }
        if ((usa & (1u << ca[i])) || (usb & (1u << cb[i])))
            return lpi_error(ctx, LP_ERR_VALUE, "tensordot: repeated axis");
        usa |= 1u << ca[i];
        usb |= 1u << cb[i];
        if (a->shape[ca[i]] != b->shape[cb[i]]) return lpi_error(ctx, LP_ERR_SHAPE, "shape-mismatch for sum");
    }
    /* a -> (free_a..., contracted) -> (M, K);  b -> (contracted, free_b...) -> (K, N) */
    int pa[LP_MAX_NDIM], pb[LP_MAX_NDIM], npa = 0, npb = 0;
    int64_t oshape[2 * LP_MAX_NDIM], M = 1, N = 1, K = 1;
    int ond = 0;
    for (int i = 0; i < a->ndim; i++)
        if (!(usa & (1u << i))) { pa[npa++] = i; M *= a->shape[i]; oshape[ond++] = a->shape[i]; }
    for (int i = 0; i < naxes; i++) { pa[npa++] = ca[i]; pb[npb++] = cb[i]; K *= a->shape[ca[i]]; }
    for (int i = 0; i < b->ndim; i++)
        if (!(usb & (1u << i))) { pb[npb++] = i; N *= b->shape[i]; oshape[ond++] = b->shape[i]; }
    if (ond > LP_MAX_NDIM)
        return lpi_error(ctx, LP_ERR_VALUE, "tensordot: result would have %d dimensions; at most %d are supported",
                         ond, LP_MAX_NDIM);
    bool ida = true, idb = true;
    for (int i = 0; i < a->ndim; i++) ida &= pa[i] == i;
    for (int i = 0; i < b->ndim; i++) idb &= pb[i] == i;
    lp_array *ta = NULL, *tb = NULL, *ma = NULL, *mb = NULL, *p = NULL;
    lp_status st = LP_OK;
    if (ida) { ta = a; lp_array_retain(a); } else st = lp_transpose(ctx, a, pa, &ta);
    if (!st) { if (idb) { tb = b; lp_array_retain(b); } else st = lp_transpose(ctx, b, pb, &tb); }
    int64_t sa[2] = {M, K}, sb[2] = {K, N};
    if (!st) st = reshape_to(ctx, ta, 2, sa, &ma);
    if (!st) st = reshape_to(ctx, tb, 2, sb, &mb);
    if (!st) st = lp_matmul(ctx, ma, mb, &p);
    if (!st) st = reshape_to(ctx, p, ond, oshape, out);
    lp_array_release(ta);
    lp_array_release(tb);
    lp_array_release(ma);
    lp_array_release(mb);
    lp_array_release(p);
    return st;
}

lp_status lp_dot(lp_ctx *ctx, lp_array *a, lp_array *b, lp_array **out) {
    *out = NULL;
    if (a->ndim == 0 || b->ndim == 0) return lp_binary(ctx, "multiply", a, b, out);
    const int ka = a->ndim - 1, kb = b->ndim == 1 ? 0 : b->ndim - 2;
    if (a->shape[ka] != b->shape[kb]) {
        char sa[160], sb[160];
        return lpi_error(ctx, LP_ERR_SHAPE, "shapes %s and %s not aligned: %lld (dim %d) != %lld (dim %d)",
                         lpi_shape_str(sa, sizeof sa, a->ndim, a->shape), lpi_shape_str(sb, sizeof sb, b->ndim, b->shape),
                         (long long)a->shape[ka], ka, (long long)b->shape[kb], kb);
    }
    if (a->ndim <= 2 && b->ndim <= 2) return lp_matmul(ctx, a, b, out);
    int axa = ka, axb = kb;
    return lp_tensordot(ctx, a, b, 1, &axa, &axb, out);
}

lp_status lp_outer(lp_ctx *ctx, lp_array *a, lp_array *b, lp_array **out) {
    *out = NULL;
    int64_t sa[2] = {a->size, 1}, sb[2] = {1, b->size};
    lp_array *ra = NULL, *rb = NULL;
    lp_status st = lp_reshape(ctx, a, 2, sa, &ra);
    if (!st) st = lp_reshape(ctx, b, 2, sb, &rb);
    if (!st) st = lp_binary(ctx, "multiply", ra, rb, out);
    lp_array_release(ra);
    lp_array_release(rb);
    return st;
}

/* ---- small dense linear algebra ---- */

/* numpy.linalg's common type: complex when any operand is complex, single precision only if
 * every operand is float32 or complex64 (integers and bools count as double). */
static lp_dtype la_dtype(int n, lp_array *const *in) {
    bool cplx = false, single = true;
    for (int i = 0; i < n; i++) {
        cplx |= lpi_dtype_is_complex(in[i]->dtype);
        single &= in[i]->dtype == LP_FLOAT32 || in[i]->dtype == LP_COMPLEX64;
    }
    return cplx ? (single ? LP_COMPLEX64 : LP_COMPLEX128) : (single ? LP_FLOAT32 : LP_FLOAT64);
}

static lp_status need_square(lp_ctx *ctx, const lp_array *a) {
    if (a->ndim < 2)
        return lpi_error(ctx, LP_ERR_LINALG, "%d-dimensional array given. Array must be at least two-dimensional",
                         a->ndim);
    if (a->shape[a->ndim - 1] != a->shape[a->ndim - 2])
        return lpi_error(ctx, LP_ERR_LINALG, "Last 2 dimensions of the array must be square");
    return LP_OK;
}

static lp_status la_node(lp_ctx *ctx, lpi_op op, lp_dtype dt, int nd, const int64_t *shape, int nin,
                         lp_array *const *in, lp_array **out) {
    /* (complex input: LAPACK's c / z routines) */
    for (int i = 0; i < nin; i++)
        if (in[i]->dtype == LP_FLOAT16)
            return lpi_error(ctx, LP_ERR_TYPE, "array type %s is unsupported in linalg", lp_dtype_name(in[i]->dtype));
    return lpi_node_new(ctx, op, dt, nd, shape, nin, in, out);
}

/* a[..., i] (last axis fixed) or a[..., lo:hi, :] (second-to-last sliced, when hi >= 0) */
static lp_status take_last(lp_ctx *ctx, lp_array *a, int64_t i, lp_array **out) {
    lp_index idx[2];
    memset(idx, 0, sizeof idx);
    idx[0].kind = LP_IDX_ELLIPSIS;
    idx[1].kind = LP_IDX_INT;
    idx[1].start = i;
    return lp_slice(ctx, a, 2, idx, out);
}

static lp_status rows_of(lp_ctx *ctx, lp_array *a, int64_t lo, int64_t hi, bool single, lp_array **out) {
    lp_index idx[3];
    memset(idx, 0, sizeof idx);
    idx[0].kind = LP_IDX_ELLIPSIS;
    if (single) {
        idx[1].kind = LP_IDX_INT;
        idx[1].start = lo;
    } else {
        idx[1].kind = LP_IDX_SLICE;
        idx[1].has_start = idx[1].has_stop = true;
        idx[1].start = lo;
        idx[1].stop = hi;
    }
    idx[2].kind = LP_IDX_SLICE;
    return lp_slice(ctx, a, 3, idx, out);
}

/* *x replaced by its real part when complex: the real results packed into a complex factor
 * (singular values, Hermitian eigenvalues, log|det|); *x is NULL after a failure */
static lp_status real_of(lp_ctx *ctx, lp_array **x) {
    if (!lpi_dtype_is_complex((*x)->dtype)) return LP_OK;
    lp_array *r = NULL;
    lp_status st = lp_unary(ctx, "real", *x, &r);
    lp_array_release(*x);
    *x = r;
    return st;
}

lp_status lp_linalg_inv(lp_ctx *ctx, lp_array *a, lp_array **out) {
    *out = NULL;
    lp_status st = need_square(ctx, a);
    return st ? st : la_node(ctx, LPI_OP_INV, la_dtype(1, &a), a->ndim, a->shape, 1, &a, out);
}

lp_status lp_linalg_cholesky(lp_ctx *ctx, lp_array *a, lp_array **out) {
    *out = NULL;
    lp_status st = need_square(ctx, a);
    return st ? st : la_node(ctx, LPI_OP_CHOLESKY, la_dtype(1, &a), a->ndim, a->shape, 1, &a, out);
}

lp_status lp_linalg_det(lp_ctx *ctx, lp_array *a, lp_array **out) {
    *out = NULL;
    lp_status st = need_square(ctx, a);
    return st ? st : la_node(ctx, LPI_OP_DET, la_dtype(1, &a), a->ndim - 2, a->shape, 1, &a, out);
}

lp_status lpi_linalg_packed(lp_ctx *ctx, lpi_op op, lp_array *a, lp_array **out) {
    *out = NULL;
    if (op != LPI_OP_EIGH && op != LPI_OP_SLOGDET) return lpi_error(ctx, LP_ERR_VALUE, "%s is not a packed linalg op", lpi_ops[op].name);
    lp_status st = need_square(ctx, a);
    if (st) return st;
    int64_t shape[LP_MAX_NDIM];
    memcpy(shape, a->shape, sizeof shape);
    if (op == LPI_OP_EIGH) {
        shape[a->ndim - 2] = a->shape[a->ndim - 1] + 1;
        return la_node(ctx, op, la_dtype(1, &a), a->ndim, shape, 1, &a, out);
    }
    shape[a->ndim - 2] = 2;
    return la_node(ctx, op, la_dtype(1, &a), a->ndim - 1, shape, 1, &a, out);
}

lp_status lp_linalg_slogdet(lp_ctx *ctx, lp_array *a, lp_array **sign, lp_array **logabsdet) {
    if (sign) *sign = NULL;
    if (logabsdet) *logabsdet = NULL;
    lp_status st = need_square(ctx, a);
    if (st) return st;
    /* one LAPACK factorization: a packed (..., 2) result [sign, log|det|], then two views */
    lp_array *p;
    if ((st = lpi_linalg_packed(ctx, LPI_OP_SLOGDET, a, &p))) return st;
    if (sign) st = take_last(ctx, p, 0, sign);
    if (!st && logabsdet) st = take_last(ctx, p, 1, logabsdet);
    if (!st && logabsdet) st = real_of(ctx, logabsdet);
    lp_array_release(p);
    if (st && sign) { lp_array_release(*sign); *sign = NULL; }
    return st;
}

lp_status lp_linalg_eigh(lp_ctx *ctx, lp_array *a, lp_array **w, lp_array **v) {
    if (w) *w = NULL;
    if (v) *v = NULL;
    lp_status st = need_square(ctx, a);
    if (st) return st;
    /* one LAPACK call: a packed (..., M+1, M) result, row 0 the eigenvalues, rows 1.. the vectors */
    const int64_t m = a->shape[a->ndim - 1];
    lp_array *p;
    if ((st = lpi_linalg_packed(ctx, LPI_OP_EIGH, a, &p))) return st;
    if (w) st = rows_of(ctx, p, 0, 1, true, w);
    if (!st && w) st = real_of(ctx, w);
    if (!st && v) st = rows_of(ctx, p, 1, m + 1, false, v);
    lp_array_release(p);
    if (st && w) { lp_array_release(*w); *w = NULL; }
    return st;
}

lp_status lp_linalg_solve(lp_ctx *ctx, lp_array *a, lp_array *b, lp_array **out) {
    *out = NULL;
    lp_status st = need_square(ctx, a);
    if (st) return st;
    const int64_t m = a->shape[a->ndim - 1];
    int64_t shape[LP_MAX_NDIM];
    int nd;
    lp_array *ins[2] = {a, b};
    if (b->ndim == 0) return lpi_error(ctx, LP_ERR_LINALG, "0-dimensional array given. Array must be at least one-dimensional");
    if (b->ndim == 1) {
        /* NumPy 2: a 1-D b is one vector, broadcast against a's stack */
        if (b->shape[0] != m)
            return lpi_error(ctx, LP_ERR_SHAPE,
                             "solve1: Input operand 1 has a mismatch in its core dimension 0, with gufunc signature "
                             "(m,m),(m)->(m) (size %lld is different from %lld)", (long long)b->shape[0], (long long)m);
        nd = a->ndim - 1;
        memcpy(shape, a->shape, (size_t)nd * sizeof *shape);
    } else {
        if (b->shape[b->ndim - 2] != m)
            return lpi_error(ctx, LP_ERR_SHAPE,
                             "solve: Input operand 1 has a mismatch in its core dimension 0, with gufunc signature "
                             "(m,m),(m,n)->(m,n) (size %lld is different from %lld)", (long long)b->shape[b->ndim - 2],
                             (long long)m);
        int nds[2] = {a->ndim - 2, b->ndim - 2};
        const int64_t *shs[2] = {a->shape, b->shape};
        if ((st = lpi_broadcast_shapes(ctx, 2, nds, shs, &nd, shape))) return st;
        shape[nd++] = m;
        shape[nd++] = b->shape[b->ndim - 1];
    }
    return la_node(ctx, LPI_OP_SOLVE, la_dtype(2, ins), nd, shape, 2, ins, out);
}

lp_status lp_linalg_lstsq(lp_ctx *ctx, lp_array *a, lp_array *b, double rcond, lp_array **out) {
    *out = NULL;
    if (a->ndim != 2)
        return lpi_error(ctx, LP_ERR_LINALG, "%d-dimensional array given. Array must be two-dimensional", a->ndim);
    if (b->ndim < 1 || b->ndim > 2)
        return lpi_error(ctx, LP_ERR_LINALG, "%d-dimensional array given. Array must be one or two-dimensional",
                         b->ndim);
    if (b->shape[0] != a->shape[0]) return lpi_error(ctx, LP_ERR_LINALG, "Incompatible dimensions");
    int64_t shape[2] = {a->shape[1], b->ndim == 2 ? b->shape[1] : 0};
    lp_array *ins[2] = {a, b};
    lp_status st = la_node(ctx, LPI_OP_LSTSQ, la_dtype(2, ins), b->ndim, shape, 2, ins, out);
    if (!st) (*out)->a.f0 = rcond;
    return st;
}

/* ---- QR and SVD ---- */

static lp_status need_matrix(lp_ctx *ctx, const lp_array *a) {
    if (a->ndim < 2)
        return lpi_error(ctx, LP_ERR_LINALG, "%d-dimensional array given. Array must be at least two-dimensional",
                         a->ndim);
    return LP_OK;
}

/* The factors of a's matrices (..., M, N): a stack keeps its leading axes. complete (QR of a
 * tall matrix, M > N): Q is (M, M) and R (M, N), NumPy's mode='complete'; otherwise K = min(M, N)
 * columns of Q and rows of R. */
lp_status lpi_linalg_factor(lp_ctx *ctx, lpi_op op, lp_array *a, bool complete, lp_array **out) {
    *out = NULL;
    lp_status st = need_matrix(ctx, a);
    if (st) return st;
    const int nd = a->ndim;
    const int64_t m = a->shape[nd - 2], n = a->shape[nd - 1], k = complete && m > n ? m : m < n ? m : n;
    int64_t shape[LP_MAX_NDIM];
    memcpy(shape, a->shape, (size_t)nd * sizeof *shape);
    switch (op) {
    case LPI_OP_QR_R: shape[nd - 2] = k; shape[nd - 1] = n; break;
    case LPI_OP_QR_Q: shape[nd - 2] = m; shape[nd - 1] = k; break;
    case LPI_OP_SVD:
        if (m != n) return lpi_error(ctx, LP_ERR_LINALG, "Last 2 dimensions of the array must be square");
        shape[nd - 2] = 2 * n + 1;
        shape[nd - 1] = n;
        break;
    default: return lpi_error(ctx, LP_ERR_VALUE, "%s is not a factor op", lpi_ops[op].name);
    }
    return la_node(ctx, op, la_dtype(1, &a), nd, shape, 1, &a, out);
}

lp_status lpi_linalg_qr_mode(lp_ctx *ctx, lp_array *a, bool complete, lp_array **q, lp_array **r) {
    if (q) *q = NULL;
    if (r) *r = NULL;
    lp_status st = need_matrix(ctx, a);
    if (!st && q) st = lpi_linalg_factor(ctx, LPI_OP_QR_Q, a, complete, q);
    if (!st && r) st = lpi_linalg_factor(ctx, LPI_OP_QR_R, a, complete, r);
    if (st && q) { lp_array_release(*q); *q = NULL; }
    return st;
}

lp_status lp_linalg_qr(lp_ctx *ctx, lp_array *a, lp_array **q, lp_array **r) { return lpi_linalg_qr_mode(ctx, a, false, q, r); }

lp_status lpi_linalg_mH(lp_ctx *ctx, lp_array *a, lp_array **out) {
    *out = NULL;
    if (a->ndim < 2) return lpi_error(ctx, LP_ERR_VALUE, "a conjugate transpose needs at least 2 axes");
    if (!lpi_dtype_is_complex(a->dtype)) return lpi_matrix_transpose(ctx, a, out);
    lp_array *t = NULL;
    lp_status st = lpi_matrix_transpose(ctx, a, &t);
    if (!st) st = lp_unary(ctx, "conjugate", t, out);
    lp_array_release(t);
    return st;
}

/* a[..., :, lo:hi] */
static lp_status cols_of(lp_ctx *ctx, lp_array *a, int64_t lo, int64_t hi, lp_array **out) {
    lp_index idx[3];
    memset(idx, 0, sizeof idx);
    idx[0].kind = LP_IDX_ELLIPSIS;
    idx[1].kind = idx[2].kind = LP_IDX_SLICE;
    idx[1].step = idx[2].step = 1;
    idx[2].has_start = idx[2].has_stop = true;
    idx[2].start = lo;
    idx[2].stop = hi;
    return lp_slice(ctx, a, 3, idx, out);
}

/* A tall (or square) a: the SVD of its (N, N) R factor — of a itself when square — and
 * u = Q @ U_r; a wide a: the SVD of a.T with the factors swapped back. */
lp_status lpi_linalg_svd_full(lp_ctx *ctx, lp_array *a, bool full, lp_array **u, lp_array **s, lp_array **vt) {
    if (u) *u = NULL;
    if (s) *s = NULL;
    if (vt) *vt = NULL;
    lp_status st = need_matrix(ctx, a);
    if (st) return st;
    const int64_t m = a->shape[a->ndim - 2], n = a->shape[a->ndim - 1];
    full = full && u && m != n;
    lp_array *t = NULL, *tu = NULL, *tvt = NULL, *r = NULL, *p = NULL, *ur = NULL, *q = NULL, *r2 = NULL, *q1 = NULL,
             *q2 = NULL, *u1 = NULL;
    if (m < n) {
        if (!(st = lpi_matrix_transpose(ctx, a, &t)) && !(st = lpi_linalg_svd_full(ctx, t, full, u ? &tu : NULL, s, vt ? &tvt : NULL))) {
            if (u) st = lpi_matrix_transpose(ctx, tvt, u);
            if (!st && vt) st = lpi_matrix_transpose(ctx, tu, vt);
        }
    } else {
        /* tall: the SVD of R, U = Q U_r. full_matrices: R and Q from one complete QR (a single
         * geqrf per matrix, so Q's trailing M - N columns complete the same Q), U = [Q1 U_r, Q2] */
        lp_array *sq = a;
        if (m != n) {
            st = lpi_linalg_factor(ctx, LPI_OP_QR_R, a, full, &r), sq = r;
            if (!st && full) st = rows_of(ctx, r, 0, n, false, &r2), sq = r2;
        }
        if (!st) st = lpi_linalg_factor(ctx, LPI_OP_SVD, sq, false, &p);
        if (!st && s) st = rows_of(ctx, p, 0, 1, true, s);
        if (!st && s) st = real_of(ctx, s);
        if (!st && vt) st = rows_of(ctx, p, n + 1, 2 * n + 1, false, vt);
        if (!st && u) {
            if (!(st = rows_of(ctx, p, 1, n + 1, false, &ur))) {
                if (m == n) { *u = ur; ur = NULL; }
                else if (!(st = lpi_linalg_factor(ctx, LPI_OP_QR_Q, a, full, &q))) {
                    if (!full) st = lp_matmul(ctx, q, ur, u);
                    else if (!(st = cols_of(ctx, q, 0, n, &q1)) && !(st = cols_of(ctx, q, n, m, &q2)) &&
                             !(st = lp_matmul(ctx, q1, ur, &u1))) {
                        lp_array *both[2] = {u1, q2};
                        st = lp_concatenate(ctx, 2, both, a->ndim - 1, u);
                    }
                }
            }
        }
    }
    lp_array *tmp[] = {t, tu, tvt, r, p, ur, q, r2, q1, q2, u1};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) lp_array_release(tmp[i]);
    if (st) {
        if (u) { lp_array_release(*u); *u = NULL; }
        if (s) { lp_array_release(*s); *s = NULL; }
        if (vt) { lp_array_release(*vt); *vt = NULL; }
    }
    return st;
}

lp_status lp_linalg_svd(lp_ctx *ctx, lp_array *a, lp_array **u, lp_array **s, lp_array **vt) {
    return lpi_linalg_svd_full(ctx, a, false, u, s, vt);
}

/* ---- eig ---- */

lp_status lpi_linalg_eig_packed(lp_ctx *ctx, lp_array *a, lp_array **out) {
    *out = NULL;
    lp_status st = need_square(ctx, a);
    if (st) return st;
    if (a->dtype == LP_FLOAT16) return lpi_error(ctx, LP_ERR_TYPE, "array type float16 is unsupported in linalg");
    const lp_dtype dt = a->dtype == LP_FLOAT32 || a->dtype == LP_COMPLEX64 ? LP_COMPLEX64 : LP_COMPLEX128;
    int64_t shape[LP_MAX_NDIM];
    memcpy(shape, a->shape, (size_t)a->ndim * sizeof *shape);
    shape[a->ndim - 2] = a->shape[a->ndim - 1] + 1;
    return lpi_node_new(ctx, LPI_OP_EIG, dt, a->ndim, shape, 1, &a, out);
}

/* NumPy's dtype rule: a real matrix's results are real when every eigenvalue's imaginary part
 * is zero, complex otherwise. The result type depends on the data, so the packed factors are
 * computed when eig is built (as a mask is for x[mask]) and kept on the node; the views of
 * them stay lazy. */
lp_status lpi_linalg_eig(lp_ctx *ctx, lp_array *a, lp_array **w, lp_array **v) {
    if (w) *w = NULL;
    if (v) *v = NULL;
    lp_array *p = NULL, *pw = NULL, *pv = NULL;
    lp_status st = lpi_linalg_eig_packed(ctx, a, &p);
    if (st) return st;
    if (!lp_array_result(p)) st = lpi_run_now(ctx, &p, 1);
    bool real = false;
    if (!st && !lpi_dtype_is_complex(a->dtype)) {
        lp_buffer *b = lp_array_result(p);
        const int64_t n = a->shape[a->ndim - 1], per = (n + 1) * n, count = n ? p->size / per : 0;
        real = true;
        for (int64_t k = 0; k < count && real; k++)
            for (int64_t j = 0; j < n && real; j++) {
                double re_im[2];
                lpi_load_c((const char *)lp_buffer_data(b) + (size_t)(k * per + j) * lp_dtype_size(p->dtype), p->dtype, re_im);
                real = re_im[1] == 0;
            }
    }
    const int64_t n = a->shape[a->ndim - 1];
    if (!st && w) st = rows_of(ctx, p, 0, 1, true, &pw);
    if (!st && v) st = rows_of(ctx, p, 1, n + 1, false, &pv);
    if (!st && w) st = real ? lp_unary(ctx, "real", pw, w) : (lp_array_retain(pw), *w = pw, LP_OK);
    if (!st && v) st = real ? lp_unary(ctx, "real", pv, v) : (lp_array_retain(pv), *v = pv, LP_OK);
    lp_array_release(p);
    lp_array_release(pw);
    lp_array_release(pv);
    if (st) {
        if (w) { lp_array_release(*w); *w = NULL; }
        if (v) { lp_array_release(*v); *v = NULL; }
    }
    return st;
}

/* norm: compositions of lazy elementwise ops and reductions, so a long vector is chunked and fused
 * like any reduction (sum(x*x) reads x once). */
/* The C spelling of linalg.norm (one implementation: the catalogue's): ord NULL for None,
 * "fro"/"nuc", or a number ("2", "-1", "inf", "0.5"). */
lp_status lp_linalg_norm(lp_ctx *ctx, lp_array *a, const char *ord, lp_array **out) {
    *out = NULL;
    lp_value pos = lp_value_array(a), o = lp_value_none();
    if (ord && (!strcmp(ord, "fro") || !strcmp(ord, "nuc"))) o = lp_value_str(ord);
    else if (ord) {
        char *end;
        double d = strtod(ord, &end);
        if (end == ord || *end) return lpi_error(ctx, LP_ERR_VALUE, "Invalid norm order '%s'", ord);
        o = lp_value_float(d);
    }
    const char *kwn[] = {"ord"};
    return lpi_call_array(ctx, "linalg.norm", 1, &pos, 1, kwn, &o, out);
}

lp_status lp_linalg(lp_ctx *ctx, const char *op, int nin, lp_array *const *in, lp_array **out) {
    *out = NULL;
    struct { const char *name; int nin; } tab[] = {
        {"solve", 2}, {"inv", 1}, {"cholesky", 1}, {"det", 1}, {"lstsq", 2}, {"eigvalsh", 1}, {"norm", 1},
        {"matmul", 2}, {"dot", 2}, {"outer", 2},
    };
    int k = -1;
    for (int i = 0; i < (int)(sizeof tab / sizeof tab[0]); i++)
        if (op && !strcmp(op, tab[i].name)) k = i;
    if (k < 0) return lpi_error(ctx, LP_ERR_VALUE, "unknown linear algebra op '%s'", op ? op : "(null)");
    if (nin != tab[k].nin) return lpi_error(ctx, LP_ERR_VALUE, "%s takes %d operands, got %d", op, tab[k].nin, nin);
    switch (k) {
    case 0: return lp_linalg_solve(ctx, in[0], in[1], out);
    case 1: return lp_linalg_inv(ctx, in[0], out);
    case 2: return lp_linalg_cholesky(ctx, in[0], out);
    case 3: return lp_linalg_det(ctx, in[0], out);
    case 4: return lp_linalg_lstsq(ctx, in[0], in[1], -1, out);
    case 5: return lp_linalg_eigh(ctx, in[0], out, NULL);
    case 6: return lp_linalg_norm(ctx, in[0], NULL, out);
    case 7: return lp_matmul(ctx, in[0], in[1], out);
    case 8: return lp_dot(ctx, in[0], in[1], out);
    default: return lp_outer(ctx, in[0], in[1], out);
    }
}
