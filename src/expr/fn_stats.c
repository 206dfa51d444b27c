/* Catalogue builders on top of the products: cov, corrcoef (NumPy's formulas step by step)
 * and einsum, planned onto transposes, diagonals, elementwise products, reductions and matmul
 * (X.T @ X and friends keep their syrk path). */
#include "expr/catalog.h"

#include <stdio.h>
#include <string.h>

#define ARG(name) lpi_call_arg(c, name)
#define KEEP(st_expr, var) ((st = (st_expr)) ? st : (lpi_keep(t, var), LP_OK))

/* ---- cov, corrcoef ---- */

/* NumPy's cov: rows are variables (rowvar), centred by their means, c = X X^T * (1 / fact) */
static lp_status cov(lpi_call *c, lpi_tmps *t, lp_array *m, lp_array *y, bool rowvar, bool bias, const lpi_arg *ddofa,
                     const lpi_arg *dta, lp_array **out) {
    lp_ctx *ctx = c->ctx;
    lp_status st = LP_OK;
    if (m->ndim > 2) return lpi_error(ctx, LP_ERR_VALUE, "m has more than 2 dimensions");
    if (y && y->ndim > 2) return lpi_error(ctx, LP_ERR_VALUE, "y has more than 2 dimensions");
    lp_dtype dt = dta && dta->given ? dta->dt : lp_promote(y ? lp_promote(m->dtype, y->dtype) : m->dtype, LP_FLOAT64);
    lp_array *X = NULL, *Y = NULL;
    int64_t one_row[2];
    /* array(m, ndmin=2, dtype) and the transpose for rowvar=False */
    lp_array *src[2] = {m, y}, **dst[2] = {&X, &Y};
    for (int k = 0; k < 2; k++) {
        lp_array *a = src[k], *r = NULL;
        if (!a) continue;
        if (KEEP(lp_astype(ctx, a, dt, &r), r)) return st;
        if (r->ndim < 2) {
            one_row[0] = 1;
            one_row[1] = r->ndim ? r->shape[0] : 1;
            if (KEEP(lp_reshape(ctx, r, 2, one_row, &r), r)) return st;
        }
        if (!rowvar && r->shape[0] != 1 && KEEP(lp_transpose(ctx, r, NULL, &r), r)) return st;
        *dst[k] = r;
    }
    if (Y) {
        lp_array *in[2] = {X, Y};
        if (KEEP(lp_concatenate(ctx, 2, in, 0, &X), X)) return st;
    }
    int64_t ddof = ddofa && ddofa->given ? ddofa->i : bias ? 0 : 1;
    double fact = (double)(X->shape[1] - ddof);
    int ax = 1;
    lp_array *avg = NULL, *xc = NULL, *xt = NULL, *p = NULL, *f = NULL, *r = NULL;
    if (KEEP(lp_reduce(ctx, "mean", X, &ax, 1, true, &avg), avg) || KEEP(lp_binary(ctx, "subtract", X, avg, &xc), xc) ||
        KEEP(lp_transpose(ctx, xc, NULL, &xt), xt) || KEEP(lp_matmul(ctx, xc, xt, &p), p) ||
        KEEP(lp_scalar_array(ctx, lp_scalar_f(1.0 / fact), &f), f) || KEEP(lp_binary(ctx, "multiply", p, f, &r), r))
        return st;
    /* .squeeze() */
    int64_t sh[2];
    int nd = 0;
    for (int i = 0; i < 2; i++) if (r->shape[i] != 1) sh[nd++] = r->shape[i];
    if (nd != 2 && KEEP(lp_reshape(ctx, r, nd, sh, &r), r)) return st;
    *out = r;
    return LP_OK;
}

lp_status lpi_fn_cov(lpi_call *c, lp_value *out) {
    lpi_tmps tt = {0}, *t = &tt;
    lp_array *r = NULL;
    lpi_arg *y = ARG("y"), *fw = ARG("fweights"), *aw = ARG("aweights");
    if ((fw && fw->given) || (aw && aw->given)) return lpi_error(c->ctx, LP_ERR_VALUE, "cov(): weights are not supported yet");
    lp_status st = cov(c, t, ARG("m")->a, y->given ? y->a : NULL, ARG("rowvar")->b, ARG("bias")->b, ARG("ddof"), ARG("dtype"), &r);
    return lpi_give(c, t, st, &r, out);
}

lp_status lpi_fn_corrcoef(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_tmps tt = {0}, *t = &tt;
    lp_array *cv = NULL, *r = NULL;
    lpi_arg *y = ARG("y");
    lp_status st = cov(c, t, ARG("x")->a, y->given ? y->a : NULL, ARG("rowvar")->b, false, NULL, ARG("dtype"), &cv);
    if (st) return lpi_give(c, t, st, &r, out);
    if (cv->ndim == 0) {
        /* a single variable: c / c */
        if (!KEEP(lp_binary(ctx, "divide", cv, cv, &r), r)) {}
        return lpi_give(c, t, st, &r, out);
    }
    /* c / stddev[:, None] / stddev[None, :], clipped to [-1, 1] */
    int64_t n = cv->shape[0], col[2] = {n, 1}, row[2] = {1, n};
    lp_index ix[1] = {{LP_IDX_SLICE, true, true, 0, n * n, n + 1}};
    int64_t m1 = -1;
    lp_array *flat = NULL, *d = NULL, *sd = NULL, *sc = NULL, *sr = NULL, *q1 = NULL, *q2 = NULL, *lo = NULL, *hi = NULL, *c1 = NULL;
    if (KEEP(lp_reshape(ctx, cv, 1, &m1, &flat), flat) || KEEP(lp_slice(ctx, flat, 1, ix, &d), d) ||
        KEEP(lp_unary(ctx, "sqrt", d, &sd), sd) || KEEP(lp_reshape(ctx, sd, 2, col, &sc), sc) ||
        KEEP(lp_reshape(ctx, sd, 2, row, &sr), sr) || KEEP(lp_binary(ctx, "divide", cv, sc, &q1), q1) ||
        KEEP(lp_binary(ctx, "divide", q1, sr, &q2), q2) || KEEP(lp_scalar_array(ctx, lp_scalar_f(-1), &lo), lo) ||
        KEEP(lp_scalar_array(ctx, lp_scalar_f(1), &hi), hi) || KEEP(lp_binary(ctx, "maximum", q2, lo, &c1), c1) ||
        KEEP(lp_binary(ctx, "minimum", c1, hi, &r), r)) {}
    return lpi_give(c, t, st, &r, out);
}

/* ---- einsum ---- */

#define MAXOP 16

typedef struct term {
    lp_array *a;
    char idx[LP_MAX_NDIM + 1];   /* one letter per axis */
} term;

/* letters of the output and of every operand, after the implicit rule */
static lp_status parse_subscripts(lpi_call *c, const char *s, int nops, term *ops, char *outidx) {
    lp_ctx *ctx = c->ctx;
    const char *arrow = strstr(s, "->");
    int k = 0, pos = 0;
    char cur[LP_MAX_NDIM + 2];
    int counts[128] = {0};
    for (const char *p = s;; p++) {
        if (p == arrow || *p == ',' || *p == 0) {
            /* (NumPy's wording, whichever way the counts differ) */
            if (k >= nops) return lpi_error(ctx, LP_ERR_VALUE, "more operands provided to einstein sum function than specified in the subscripts string");
            cur[pos] = 0;
            if (pos != ops[k].a->ndim)
                return lpi_error(ctx, LP_ERR_VALUE, "operand has more dimensions than subscripts given in einstein sum, but no '...' "
                                 "ellipsis provided to broadcast the extra dimensions.");
            memcpy(ops[k].idx, cur, (size_t)pos + 1);
            k++;
            pos = 0;
            if (p == arrow || *p == 0) break;
            continue;
        }
        if (*p == ' ') continue;
        if (*p == '.') return lpi_error(ctx, LP_ERR_VALUE, "einsum(): '...' is not supported yet");
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            return lpi_error(ctx, LP_ERR_VALUE, "invalid subscript '%c' in einstein sum subscripts string, subscripts must be letters", *p);
        if (pos > LP_MAX_NDIM) return lpi_error(ctx, LP_ERR_VALUE, "einsum(): too many subscripts for an operand");
        cur[pos++] = *p;
        counts[(int)*p]++;
    }
    if (k != nops) return lpi_error(ctx, LP_ERR_VALUE, "fewer operands provided to einstein sum function than specified in the subscripts string");
    if (arrow) {
        int n = 0;
        for (const char *p = arrow + 2; *p; p++) {
            if (*p == ' ') continue;
            if (!counts[(int)(unsigned char)*p])
                return lpi_error(ctx, LP_ERR_VALUE, "einstein sum subscripts string included output subscript '%c' which never appeared in an input", *p);
            if (n >= LP_MAX_NDIM) return lpi_error(ctx, LP_ERR_VALUE, "einsum(): too many output subscripts");
            for (int q = 0; q < n; q++)
                if (outidx[q] == *p) return lpi_error(ctx, LP_ERR_VALUE, "einstein sum subscripts string includes output subscript '%c' multiple times", *p);
            outidx[n++] = *p;
        }
        outidx[n] = 0;
    } else {
        /* implicit: the letters seen once, in alphabetical order */
        int n = 0;
        for (int ch = 'A'; ch <= 'z'; ch++)
            if (counts[ch] == 1 && n < LP_MAX_NDIM) outidx[n++] = (char)ch;
        outidx[n] = 0;
    }
    return LP_OK;
}

/* a term with a repeated letter: its diagonal over those axes (the letter once, last) */
static lp_status undiag(lpi_call *c, lpi_tmps *t, term *o) {
    lp_ctx *ctx = c->ctx;
    lp_status st = LP_OK;
    for (;;) {
        int n = (int)strlen(o->idx), i1 = -1, i2 = -1;
        for (int i = 0; i < n && i1 < 0; i++)
            for (int j = i + 1; j < n; j++)
                if (o->idx[i] == o->idx[j]) { i1 = i; i2 = j; break; }
        if (i1 < 0) return LP_OK;
        if (o->a->shape[i1] != o->a->shape[i2])
            return lpi_error(ctx, LP_ERR_VALUE, "dimensions in operand for collapsing index '%c' don't match (%lld != %lld)",
                             o->idx[i1], (long long)o->a->shape[i1], (long long)o->a->shape[i2]);
        /* diagonal(a, 0, i1, i2) through the catalogue's diagonal */
        lp_value args[4] = {lp_value_array(o->a), lp_value_int(0), lp_value_int(i1), lp_value_int(i2)}, r;
        if ((st = lp_call(ctx, "diagonal", 4, args, 0, NULL, NULL, &r))) return st;
        o->a = lpi_keep(t, r.array);
        char ch = o->idx[i1], ni[LP_MAX_NDIM + 1];
        int m = 0;
        for (int i = 0; i < n; i++) if (i != i1 && i != i2) ni[m++] = o->idx[i];
        ni[m++] = ch;
        ni[m] = 0;
        memcpy(o->idx, ni, (size_t)m + 1);
    }
}

/* sum over the axes whose letters are not in keep */
static lp_status sum_out(lpi_call *c, lpi_tmps *t, term *o, const char *keep) {
    lp_status st = LP_OK;
    int axes[LP_MAX_NDIM], na = 0, n = (int)strlen(o->idx);
    char ni[LP_MAX_NDIM + 1];
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (strchr(keep, o->idx[i])) ni[m++] = o->idx[i];
        else axes[na++] = i;
    }
    ni[m] = 0;
    if (!na) return LP_OK;
    lp_array *r = NULL;
    if (KEEP(lp_reduce(c->ctx, "sum", o->a, axes, na, false, &r), r)) return st;
    o->a = r;
    memcpy(o->idx, ni, (size_t)m + 1);
    return LP_OK;
}

/* o's axes in the order of the letters `order` (all of o's letters), with unit axes for the
 * letters o lacks (broadcasting) */
static lp_status arrange(lpi_call *c, lpi_tmps *t, const term *o, const char *order, lp_array **out) {
    lp_status st = LP_OK;
    int n = (int)strlen(o->idx), perm[LP_MAX_NDIM], m = 0;
    for (const char *p = order; *p; p++) {
        const char *q = strchr(o->idx, *p);
        if (q) perm[m++] = (int)(q - o->idx);
    }
    lp_array *tr = o->a, *r = NULL;
    bool ident = true;
    for (int i = 0; i < n; i++) ident &= perm[i] == i;
    if (!ident && KEEP(lp_transpose(c->ctx, o->a, perm, &tr), tr)) return st;
    int64_t shape[LP_MAX_NDIM];
    int k = 0, nd = (int)strlen(order);
    for (int i = 0; i < nd; i++) {
        const char *q = strchr(o->idx, order[i]);
        shape[i] = q ? o->a->shape[q - o->idx] : 1;
        (void)k;
    }
    if (nd == n) { *out = tr; return LP_OK; }
    if (KEEP(lp_reshape(c->ctx, tr, nd, shape, &r), r)) return st;
    *out = r;
    return LP_OK;
}

/* a * b summed over the letters in neither keep: matmul when both have letters of their own,
 * else the product broadcast and reduced (one fused pass) */
static lp_status contract(lpi_call *c, lpi_tmps *t, term *x, term *y, const char *keep, term *out) {
    lp_ctx *ctx = c->ctx;
    lp_status st = LP_OK;
    char batch[LP_MAX_NDIM + 1] = "", left[LP_MAX_NDIM + 1] = "", right[LP_MAX_NDIM + 1] = "", con[LP_MAX_NDIM + 1] = "";
    int nb = 0, nl = 0, nr = 0, nc = 0;
    for (const char *p = x->idx; *p; p++) {
        bool iny = strchr(y->idx, *p) != NULL, kept = strchr(keep, *p) != NULL;
        if (iny && kept) batch[nb++] = *p;
        else if (iny) con[nc++] = *p;
        else left[nl++] = *p;
    }
    for (const char *p = y->idx; *p; p++)
        if (!strchr(x->idx, *p)) right[nr++] = *p;
    batch[nb] = left[nl] = right[nr] = con[nc] = 0;
    char all[4 * LP_MAX_NDIM + 1];
    if (nb + nl + nr + nc > LP_MAX_NDIM) return lpi_error(ctx, LP_ERR_VALUE, "einsum(): more than %d distinct subscripts", LP_MAX_NDIM);
    if (nl && nr && nc) {
        /* (batch, left, con) @ (batch, con, right): left, right and con merged into one axis each */
        lp_array *xa = NULL, *ya = NULL, *xm = NULL, *ym = NULL, *p = NULL, *r = NULL;
        snprintf(all, sizeof all, "%s%s%s", batch, left, con);
        if ((st = arrange(c, t, x, all, &xa))) return st;
        snprintf(all, sizeof all, "%s%s%s", batch, con, right);
        if ((st = arrange(c, t, y, all, &ya))) return st;
        int64_t xs[LP_MAX_NDIM], ys[LP_MAX_NDIM], L = 1, R = 1, C = 1;
        for (int i = 0; i < nb; i++) xs[i] = ys[i] = xa->shape[i];
        for (int i = 0; i < nl; i++) L *= xa->shape[nb + i];
        for (int i = 0; i < nc; i++) C *= xa->shape[nb + nl + i];
        for (int i = 0; i < nr; i++) R *= ya->shape[nb + nc + i];
        for (int i = 0; i < nc; i++)
            if (xa->shape[nb + nl + i] != ya->shape[nb + i])
                return lpi_error(ctx, LP_ERR_VALUE, "operands could not be broadcast together with remapped shapes");
        xs[nb] = L; xs[nb + 1] = C;
        ys[nb] = C; ys[nb + 1] = R;
        if (KEEP(lp_reshape(ctx, xa, nb + 2, xs, &xm), xm) || KEEP(lp_reshape(ctx, ya, nb + 2, ys, &ym), ym) ||
            KEEP(lp_matmul(ctx, xm, ym, &p), p))
            return st;
        int64_t os[LP_MAX_NDIM];
        int k = 0;
        for (int i = 0; i < nb; i++) os[k++] = xa->shape[i];
        for (int i = 0; i < nl; i++) os[k++] = xa->shape[nb + i];
        for (int i = 0; i < nr; i++) os[k++] = ya->shape[nb + nc + i];
        if (KEEP(lp_reshape(ctx, p, k, os, &r), r)) return st;
        out->a = r;
        snprintf(all, sizeof all, "%s%s%s", batch, left, right);
        snprintf(out->idx, sizeof out->idx, "%.8s", all);
        return LP_OK;
    }
    /* broadcasting product over batch+left+con+right, then the contracted letters summed */
    lp_array *xa = NULL, *ya = NULL, *p = NULL;
    snprintf(all, sizeof all, "%s%s%s%s", batch, left, right, con);
    if ((st = arrange(c, t, x, all, &xa)) || (st = arrange(c, t, y, all, &ya))) return st;
    if (KEEP(lp_binary(ctx, "multiply", xa, ya, &p), p)) return st;
    out->a = p;
    snprintf(out->idx, sizeof out->idx, "%.8s", all);
    return sum_out(c, t, out, keep);
}

lp_status lpi_fn_einsum(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_arg *sub = ARG("subscripts"), *opsa = ARG("operands");
    if (opsa->n < 1) return lpi_error(ctx, LP_ERR_VALUE, "No input operands");
    int nops = opsa->n;
    if (nops > MAXOP) return lpi_error(ctx, LP_ERR_VALUE, "einsum(): at most %d operands", MAXOP);
    lpi_tmps tt = {0}, *t = &tt;
    lp_status st = LP_OK;
    term ops[MAXOP];
    char outidx[LP_MAX_NDIM + 1];
    for (int k = 0; k < nops; k++) ops[k].a = opsa->as[k];
    if ((st = parse_subscripts(c, sub->s, nops, ops, outidx))) { lpi_drop(t); return st; }
    /* letters' sizes agree */
    int64_t size[128];
    for (int i = 0; i < 128; i++) size[i] = -1;
    for (int k = 0; k < nops; k++)
        for (int i = 0; ops[k].idx[i]; i++) {
            int ch = ops[k].idx[i];
            int64_t d = ops[k].a->shape[i];
            if (size[ch] >= 0 && size[ch] != d && d != 1 && size[ch] != 1) {
                lpi_drop(t);
                return lpi_error(ctx, LP_ERR_VALUE, "operands could not be broadcast together with remapped shapes "
                                 "[original->remapped]");
            }
            if (size[ch] < 0 || size[ch] == 1) size[ch] = d;
        }
    /* each operand: diagonals for repeated letters, then letters used nowhere else summed */
    for (int k = 0; k < nops && !st; k++) {
        if ((st = undiag(c, t, &ops[k]))) break;
        char keep[8 * LP_MAX_NDIM + 1];
        int m = 0;
        for (int i = 0; outidx[i]; i++) keep[m++] = outidx[i];
        for (int j = 0; j < nops; j++)
            if (j != k) for (int i = 0; ops[j].idx[i] && m < (int)sizeof keep - 1; i++) keep[m++] = ops[j].idx[i];
        keep[m] = 0;
        st = sum_out(c, t, &ops[k], keep);
    }
    /* contract left to right */
    term acc = ops[0];
    for (int k = 1; k < nops && !st; k++) {
        char keep[8 * LP_MAX_NDIM + 1];
        int m = 0;
        for (int i = 0; outidx[i]; i++) keep[m++] = outidx[i];
        for (int j = k + 1; j < nops; j++)
            for (int i = 0; ops[j].idx[i] && m < (int)sizeof keep - 1; i++) keep[m++] = ops[j].idx[i];
        keep[m] = 0;
        term r;
        if (!(st = contract(c, t, &acc, &ops[k], keep, &r))) acc = r;
    }
    lp_array *res = NULL;
    if (!st && !(st = sum_out(c, t, &acc, outidx))) st = arrange(c, t, &acc, outidx, &res);
    /* NumPy's einsum keeps the operands' common dtype (its integer sums wrap in it; bool sums
     * are logical or): the sums above widened it */
    lp_dtype dt = opsa->as[0]->dtype;
    for (int k = 1; k < nops; k++) dt = lp_promote(dt, opsa->as[k]->dtype);
    if (!st && res->dtype != dt) {
        lp_array *r2 = NULL;
        st = lp_astype(ctx, res, dt, &r2);
        if (!st) res = lpi_keep(t, r2);
    }
    if (!st && res == acc.a && nops == 1 && res == ops[0].a) {
        /* the operand itself: a new node all the same (einsum returns a new array) */
        lp_array_retain(res);
        lpi_drop(t);
        return lpi_out_array(c, LP_OK, &res, out);
    }
    return lpi_give(c, t, st, &res, out);
}
