/* Catalogue builders for random integers, permutations and samples. Every random array is a
 * counter-based stream (kernels/gen.c: Philox keyed by the seed, element i a function of i
 * only), so results never depend on chunk sizes or threads; the streams are not NumPy's (a
 * different generator), only their distributions are. permutation is the argsort of random
 * 64-bit keys (a chunked, stable sort), choice a take of random indices. */
#include "expr/catalog.h"

#include <math.h>
#include <string.h>

#define ARG(name) lpi_call_arg(c, name)
#define KEEP(st_expr, var) ((st = (st_expr)) ? st : (lpi_keep(t, var), LP_OK))

lp_status lpi_fn_randint(lpi_call *c, lp_value *out) {
    lpi_arg *lo = ARG("low"), *hi = ARG("high"), *sh = ARG("size"), *dt = ARG("dtype"), *seed = ARG("seed");
    if (seed->i < 0) return lpi_error(c->ctx, LP_ERR_VALUE, "%s(): seed must be non-negative", c->fname);
    int64_t low = lo->i, high = hi->i;
    if (!hi->given) {
        if (low <= 0) return lpi_error(c->ctx, LP_ERR_VALUE, "high <= 0");
        high = low;
        low = 0;
    }
    lp_array *r = NULL;
    return lpi_out_array(c, lp_random_integers(c->ctx, (uint64_t)seed->i, low, high, dt->given ? dt->dt : LP_INT64,
                                               sh->given ? sh->ndim : 0, sh->shape, &r),
                         &r, out);
}

/* A random order of 0..n-1 (int64): argsort of n random int64 keys. */
static lp_status permutation(lpi_call *c, lpi_tmps *t, int64_t n, uint64_t seed, lp_array **out) {
    lp_status st;
    lp_array *keys = NULL;
    if (KEEP(lp_random_integers(c->ctx, seed, INT64_MIN, INT64_MAX, LP_INT64, 1, &n, &keys), keys)) return st;
    lp_value arg = lp_value_array(keys), r = lp_value_none();
    if ((st = lp_call(c->ctx, "argsort", 1, &arg, 0, NULL, NULL, &r))) return st;
    *out = lpi_keep(t, r.array);
    return LP_OK;
}

/* take(a, idx, axis) through the catalogue */
static lp_status take(lpi_call *c, lpi_tmps *t, lp_array *a, lp_array *idx, int64_t axis, lp_array **out) {
    lp_value pos[2] = {lp_value_array(a), lp_value_array(idx)}, kw = axis < 0 ? lp_value_none() : lp_value_int(axis), r = lp_value_none();
    const char *kn[1] = {"axis"};
    lp_status st = lp_call(c->ctx, "take", 2, pos, 1, kn, &kw, &r);
    if (!st) *out = lpi_keep(t, r.array);
    return st;
}

static lp_status seed_of(lpi_call *c, uint64_t *seed) {
    lpi_arg *s = ARG("seed");
    if (s->i < 0) return lpi_error(c->ctx, LP_ERR_VALUE, "%s(): seed must be non-negative", c->fname);
    *seed = (uint64_t)s->i;
    return LP_OK;
}

lp_status lpi_fn_permutation(lpi_call *c, lp_value *out) {
    lpi_tmps tt = {0}, *t = &tt;
    const lp_value *x = ARG("x")->v;
    lp_array *a = NULL, *p = NULL, *r = NULL;
    uint64_t seed = 0;
    lp_status st = seed_of(c, &seed);
    if (st) return st;
    if (x->kind == LP_VAL_INT) {
        if (x->i < 0) return lpi_error(c->ctx, LP_ERR_VALUE, "negative dimensions are not allowed");
        st = permutation(c, t, x->i, seed, &r);
        return lpi_give(c, t, st, &r, out);
    }
    if (KEEP(lpi_value_to_array(c->ctx, x, false, c->fname, &a), a)) return lpi_give(c, t, st, &r, out);
    if (a->ndim < 1) st = lpi_error(c->ctx, LP_ERR_INDEX, "x must be an integer or at least 1-dimensional");
    if (!st && !(st = permutation(c, t, a->shape[0], seed, &p))) st = take(c, t, a, p, 0, &r);
    return lpi_give(c, t, st, &r, out);
}

/* p as doubles on the host (computed now: NumPy checks its values before sampling). */
static lp_status probabilities(lpi_call *c, lpi_tmps *t, lp_array *p, int64_t n, lp_array **p64, const double **v) {
    lp_status st;
    if (p->ndim != 1) return lpi_error(c->ctx, LP_ERR_VALUE, "p must be 1-dimensional");
    if (p->shape[0] != n) return lpi_error(c->ctx, LP_ERR_VALUE, "'a' and 'p' must have same size");
    if (KEEP(lp_astype(c->ctx, p, LP_FLOAT64, p64), *p64)) return st;
    if (!lp_array_result(*p64) && (st = lpi_run_now(c->ctx, p64, 1))) return st;
    *v = lp_buffer_data(lp_array_result(*p64));
    double sum = 0, comp = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!((*v)[i] >= 0)) return lpi_error(c->ctx, LP_ERR_VALUE, "probabilities are not non-negative");
        double y = (*v)[i] - comp, s2 = sum + y; /* Kahan, as NumPy */
        comp = (s2 - sum) - y;
        sum = s2;
    }
    if (fabs(sum - 1.0) > sqrt(2.220446049250313e-16)) return lpi_error(c->ctx, LP_ERR_VALUE, "probabilities do not sum to 1");
    return LP_OK;
}

lp_status lpi_fn_choice(lpi_call *c, lp_value *out) {
    lp_ctx *ctx = c->ctx;
    lpi_tmps tt = {0}, *t = &tt;
    const lp_value *x = ARG("a")->v;
    lpi_arg *sh = ARG("size"), *pa = ARG("p");
    const bool replace = ARG("replace")->b;
    lp_array *a = NULL, *idx = NULL, *r = NULL, *p64 = NULL;
    uint64_t seed = 0;
    lp_status st = seed_of(c, &seed);
    if (st) return st;
    const int nd = sh->given ? sh->ndim : 0;
    int64_t k = 1, n;
    for (int i = 0; i < nd; i++) k *= sh->shape[i];
    if (x->kind == LP_VAL_INT) {
        n = x->i;
        if (n <= 0 && k > 0) return lpi_error(ctx, LP_ERR_VALUE, "a must be greater than 0 unless no samples are taken");
    } else {
        if (KEEP(lpi_value_to_array(ctx, x, false, c->fname, &a), a)) return lpi_give(c, t, st, &r, out);
        if (a->ndim != 1) return lpi_give(c, t, lpi_error(ctx, LP_ERR_VALUE, "a must be 1-dimensional"), &r, out);
        n = a->shape[0];
        if (n == 0 && k > 0)
            return lpi_give(c, t, lpi_error(ctx, LP_ERR_VALUE, "a cannot be empty unless no samples are taken"), &r, out);
    }
    const double *pv = NULL;
    if (pa->given && (st = probabilities(c, t, pa->a, n, &p64, &pv))) return lpi_give(c, t, st, &r, out);
    if (k == 0 || n <= 0) {
        st = KEEP(lp_zeros(ctx, LP_INT64, nd, sh->shape, &idx), idx);
    } else if (replace && !pv) {
        st = KEEP(lp_random_integers(ctx, seed, 0, n, LP_INT64, nd, sh->shape, &idx), idx);
    } else if (replace) {
        /* inverse CDF, as NumPy: cdf = cumsum(p) / cdf[-1], searchsorted(cdf, u, 'right') */
        lp_value arg = lp_value_array(p64), rv = lp_value_none();
        lp_array *cdf = NULL, *last = NULL, *ncdf = NULL, *u = NULL;
        lp_index li = {0};
        li.kind = LP_IDX_INT;
        li.start = n - 1;
        if (!(st = lp_call(ctx, "cumsum", 1, &arg, 0, NULL, NULL, &rv))) cdf = lpi_keep(t, rv.array);
        if (!st && !KEEP(lp_slice(ctx, cdf, 1, &li, &last), last) && !KEEP(lp_binary(ctx, "divide", cdf, last, &ncdf), ncdf) &&
            !KEEP(lp_random_uniform(ctx, seed, 0, 1, LP_FLOAT64, nd, sh->shape, &u), u)) {
            lp_value pos[2] = {lp_value_array(ncdf), lp_value_array(u)}, side = lp_value_str("right");
            const char *kn[1] = {"side"};
            rv = lp_value_none();
            if (!(st = lp_call(ctx, "searchsorted", 2, pos, 1, kn, &side, &rv))) idx = lpi_keep(t, rv.array);
        }
    } else {
        if (k > n) return lpi_give(c, t, lpi_error(ctx, LP_ERR_VALUE, "Cannot take a larger sample than population when "
                                                                      "'replace=False'"), &r, out);
        lp_array *order = NULL, *first = NULL;
        if (!pv) {
            st = permutation(c, t, n, seed, &order);
        } else {
            /* weighted sampling without replacement (successive draws, NumPy's distribution) by
             * Efraimidis-Spirakis keys: the k smallest -log(1 - u_i) / p_i */
            int64_t nz = 0;
            for (int64_t i = 0; i < n; i++) nz += pv[i] > 0;
            if (nz < k) return lpi_give(c, t, lpi_error(ctx, LP_ERR_VALUE, "Fewer non-zero entries in p than size"), &r, out);
            lp_array *u = NULL, *one = NULL, *om = NULL, *lg = NULL, *ng = NULL, *key = NULL;
            if (!KEEP(lp_random_uniform(ctx, seed, 0, 1, LP_FLOAT64, 1, &n, &u), u) &&
                !KEEP(lp_scalar_array(ctx, lp_scalar_f(1.0), &one), one) && !KEEP(lp_binary(ctx, "subtract", one, u, &om), om) &&
                !KEEP(lp_unary(ctx, "log", om, &lg), lg) && !KEEP(lp_unary(ctx, "negative", lg, &ng), ng) &&
                !KEEP(lp_binary(ctx, "divide", ng, p64, &key), key)) {
                lp_value arg = lp_value_array(key), rv = lp_value_none();
                if (!(st = lp_call(ctx, "argsort", 1, &arg, 0, NULL, NULL, &rv))) order = lpi_keep(t, rv.array);
            }
        }
        lp_index li = {0};
        li.kind = LP_IDX_SLICE;
        li.has_stop = true;
        li.stop = k;
        if (!st && !KEEP(lp_slice(ctx, order, 1, &li, &first), first)) st = KEEP(lp_reshape(ctx, first, nd, sh->shape, &idx), idx);
    }
    if (st) return lpi_give(c, t, st, &r, out);
    if (!a) r = idx;
    else st = take(c, t, a, idx, -1, &r);
    return lpi_give(c, t, st, &r, out);
}
