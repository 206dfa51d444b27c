/* Fused and unfused evaluation agree (issue 3): random expression trees of depth up to 8 over
 * mixed dtypes (bool, int32, int64, float32, float64), broadcasting shapes, strided leaves,
 * weak Python scalars (lp_scalar_array) and shared subexpressions, with a reduction on top.
 *
 * Each tree is built once in a generator context (choices the library rejects, e.g. bitwise
 * ops on floats, are replaced by other ops there and recorded), then rebuilt from its recorded
 * description and run in every configuration: fusion on/off x three chunk sizes. Against the
 * first configuration:
 *   - elementwise results: same dtype, shape and bits (any NaN equals any NaN: payloads aside);
 *   - integer/bool reductions, min/max, argmin/argmax, any/all: exact (order-independent);
 *   - float sum/mean/prod/var/std: the chunk grid (so the summation order) may differ between
 *     fused and unfused plans, so they agree within 1e-12 of the reduction's magnitude scale
 *     (sum |x| for sums, mean x^2 for variances: a relative bound that stays meaningful when the
 *     result cancels to ~0), plus one float32 ulp for float32 results (double rounding);
 *   - a run that fails (integer ** negative, empty argmin, ...) fails the same way everywhere.
 * Integer exponents are made non-negative (abs(y) % 5), except in 5% of the integer powers:
 * those trees may raise, and must raise the same error in every configuration.
 *
 * LPT_FUSION_TREES (default 600) and LPT_FUSION_SEED (default 1) change the sample. */
#include "lampy.h"
#include "lpt.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- deterministic random numbers (splitmix64) ---- */

static uint64_t rng_state;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static int rint_(int n) { return (int)(rnd() % (uint64_t)n); }
static double runif(void) { return (double)(rnd() >> 11) * 0x1.0p-53; }
static bool chance(double p) { return runif() < p; }

/* ---- tree descriptions ---- */

enum { MAXN = 400, MAXLEAF = 128, MAXDEPTH = 8, NCFG = 6 };

typedef enum { N_LEAF, N_SCALAR, N_UNARY, N_BINARY, N_WHERE, N_CAST } nkind;

typedef struct {
    nkind kind;
    const char *op;
    int in[3];
    int leaf;       /* N_LEAF */
    lp_scalar s;    /* N_SCALAR */
    lp_dtype dt;    /* N_CAST */
} node;

typedef struct {
    lp_dtype dt;
    int ndim;
    int64_t shape[LP_MAX_NDIM];
    int64_t strides[LP_MAX_NDIM]; /* bytes; Fortran order for some leaves */
    void *data;
} leaf;

typedef struct {
    node n[MAXN];
    int nn;
    leaf lf[MAXLEAF];
    int nleaf;
    int root;     /* elementwise root */
    int extra;    /* an inner node also made a target of the elementwise run, or -1 */
    const char *red;
    int axes[LP_MAX_NDIM], naxes; /* naxes < 0: all axes */
    bool keepdims;
    int ddof;
    int ondim;                   /* ndim of the broadcast output shape S */
    int64_t oshape[LP_MAX_NDIM]; /* S */
} tree;

static const char *unary_ops[] = {"negative", "abs", "sqrt", "exp", "log", "sin", "cos", "tanh",
                                  "logical_not", "invert"};
static const char *binary_ops[] = {"add", "subtract", "multiply", "divide", "floor_divide",
                                   "remainder", "power", "maximum", "minimum", "equal",
                                   "not_equal", "less", "less_equal", "greater", "greater_equal",
                                   "logical_and", "logical_or", "logical_xor", "bitwise_and",
                                   "bitwise_or", "bitwise_xor"};
static const char *reductions[] = {"sum", "prod", "mean", "min", "max", "argmin", "argmax",
                                   "var", "std", "any", "all"};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- building: the same code builds the generator's and every configuration's arrays ---- */

static lp_status build_node(lp_ctx *ctx, const tree *t, const node *nd, lp_array **arr, lp_array **out) {
    switch (nd->kind) {
    case N_LEAF: {
        const leaf *l = &t->lf[nd->leaf];
        return lp_wrap(ctx, l->data, l->dt, l->ndim, l->shape, l->strides, NULL, NULL, out);
    }
    case N_SCALAR: return lp_scalar_array(ctx, nd->s, out);
    case N_UNARY: return lp_unary(ctx, nd->op, arr[nd->in[0]], out);
    case N_BINARY: return lp_binary(ctx, nd->op, arr[nd->in[0]], arr[nd->in[1]], out);
    case N_WHERE: return lp_where(ctx, arr[nd->in[0]], arr[nd->in[1]], arr[nd->in[2]], out);
    case N_CAST: return lp_astype(ctx, arr[nd->in[0]], nd->dt, out);
    }
    return LP_ERR_INTERNAL;
}

/* ---- generation ---- */

typedef struct {
    lp_ctx *ctx;
    tree *t;
    lp_array **arr; /* built arrays, by node index (generator context) */
} gen;

static size_t dsize(lp_dtype dt) { return lp_dtype_size(dt); }

static void fill_value(lp_dtype dt, void *p) {
    switch (dt) {
    case LP_BOOL: *(uint8_t *)p = (uint8_t)rint_(2); break;
    case LP_INT32: {
        int32_t v = (int32_t)(rint_(101) - 50);
        if (chance(0.01)) v = chance(0.5) ? INT32_MIN : INT32_MAX;
        *(int32_t *)p = v;
        break;
    }
    case LP_INT64: {
        int64_t v = rint_(101) - 50;
        if (chance(0.01)) v = chance(0.5) ? INT64_MIN : INT64_MAX;
        *(int64_t *)p = v;
        break;
    }
    case LP_INT8: case LP_INT16: case LP_UINT8: case LP_UINT16: case LP_UINT32: case LP_UINT64: {
        /* small values, sometimes the extremes (their low bytes: all ones / the sign bit) */
        int64_t v = rint_(101) - 50;
        if (chance(0.01)) v = chance(0.5) ? -1 : INT64_MIN >> (64 - 8 * (int)dsize(dt));
        memcpy(p, &v, dsize(dt)); /* little-endian: the low bytes, wrapped */
        break;
    }
    case LP_FLOAT16: case LP_FLOAT32: case LP_FLOAT64: {
        double v = (runif() - 0.5) * 20;
        int sp = rint_(100);
        if (sp == 0) v = NAN;
        else if (sp == 1) v = INFINITY;
        else if (sp == 2) v = -INFINITY;
        else if (sp == 3) v = 0.0;
        else if (sp == 4) v = -0.0;
        else if (sp == 5) v = dt == LP_FLOAT64 ? 1e300 : dt == LP_FLOAT32 ? 1e30 : 60000;
        else if (sp == 6) v = dt == LP_FLOAT64 ? 3e-310 : dt == LP_FLOAT32 ? 1e-40 : 1e-6; /* subnormal */
        else if (sp < 12) v = (double)(rint_(9) - 4);            /* small integers: exact ties */
        if (dt == LP_FLOAT16) { _Float16 h = (_Float16)v; memcpy(p, &h, 2); }
        else if (dt == LP_FLOAT32) *(float *)p = (float)v;
        else *(double *)p = v;
        break;
    }
    default: break;
    }
}

/* A leaf whose shape broadcasts to the output shape S: a suffix of S with some axes set to 1;
 * some leaves are 0-d, some are stored in Fortran order (strided views for the VM). */
static int new_leaf(gen *g) {
    tree *t = g->t;
    if (t->nleaf == MAXLEAF || t->nn == MAXN) return -1;
    leaf *l = &t->lf[t->nleaf];
    l->dt = (lp_dtype)rint_(LP_COMPLEX64); /* real dtypes: complex is tested vs NumPy (test_py_complex) */
    l->ndim = t->ondim ? rint_(t->ondim + 1) : 0;
    if (l->ndim < t->ondim && chance(0.5)) l->ndim = t->ondim;
    int64_t n = 1;
    for (int i = 0; i < l->ndim; i++) {
        l->shape[i] = t->oshape[t->ondim - l->ndim + i];
        if (chance(0.25)) l->shape[i] = 1;
        n *= l->shape[i];
    }
    const int64_t isz = (int64_t)dsize(l->dt);
    bool fortran = l->ndim >= 2 && chance(0.3);
    int64_t s = isz;
    if (fortran)
        for (int i = 0; i < l->ndim; i++) { l->strides[i] = s; s *= l->shape[i]; }
    else
        for (int i = l->ndim - 1; i >= 0; i--) { l->strides[i] = s; s *= l->shape[i]; }
    l->data = malloc((size_t)(n ? n : 1) * (size_t)isz);
    for (int64_t i = 0; i < n; i++) fill_value(l->dt, (char *)l->data + i * isz);
    node *nd = &t->n[t->nn];
    memset(nd, 0, sizeof *nd);
    nd->kind = N_LEAF;
    nd->leaf = t->nleaf;
    if (build_node(g->ctx, t, nd, g->arr, &g->arr[t->nn]) != LP_OK) {
        free(l->data);
        return -1;
    }
    t->nleaf++;
    return t->nn++;
}

/* A weak Python scalar: *v, or a random bool/int/float one when v is NULL. */
static int new_scalar(gen *g, const lp_scalar *v) {
    tree *t = g->t;
    if (t->nn == MAXN) return -1;
    node *nd = &t->n[t->nn];
    memset(nd, 0, sizeof *nd);
    nd->kind = N_SCALAR;
    if (v) nd->s = *v;
    else switch (rint_(3)) {
    case 0: nd->s = lp_scalar_b(chance(0.5)); break;
    case 1: nd->s = lp_scalar_i(rint_(11) - 5); break;
    default: nd->s = lp_scalar_f(chance(0.1) ? NAN : (double)(rint_(41) - 20) / 4); break;
    }
    if (build_node(g->ctx, t, nd, g->arr, &g->arr[t->nn]) != LP_OK) return -1;
    return t->nn++;
}

/* Try to append an op node; on success its index, else -1 (nothing appended). */
static int try_node(gen *g, nkind k, const char *op, int a, int b, int c, lp_dtype dt) {
    tree *t = g->t;
    if (t->nn == MAXN) return -1;
    node *nd = &t->n[t->nn];
    memset(nd, 0, sizeof *nd);
    nd->kind = k;
    nd->op = op;
    nd->in[0] = a;
    nd->in[1] = b;
    nd->in[2] = c;
    nd->dt = dt;
    lp_array *out = NULL;
    if (build_node(g->ctx, t, nd, g->arr, &out) != LP_OK) return -1;
    g->arr[t->nn] = out;
    return t->nn++;
}

static bool is_int(lp_dtype dt) {
    return dt == LP_INT8 || dt == LP_INT16 || dt == LP_INT32 || dt == LP_INT64 || dt == LP_UINT8 || dt == LP_UINT16 ||
           dt == LP_UINT32 || dt == LP_UINT64;
}

static int gen_expr(gen *g, int depth) {
    tree *t = g->t;
    double pleaf = depth >= MAXDEPTH ? 1.0 : 0.08 + 0.09 * depth;
    if (t->nn > MAXN - 16) pleaf = 1.0;
    if (chance(pleaf)) {
        /* reuse an earlier node (a common subexpression) now and then */
        if (t->nn > 2 && chance(0.12)) return rint_(t->nn);
        int r = chance(0.2) ? new_scalar(g, NULL) : new_leaf(g);
        return r >= 0 ? r : (t->nn ? t->nn - 1 : -1);
    }
    int kind = rint_(100);
    if (kind < 30) {
        int a = gen_expr(g, depth + 1);
        if (a < 0) return a;
        for (int attempt = 0; attempt < 6; attempt++) {
            int r = try_node(g, N_UNARY, unary_ops[rint_(COUNT(unary_ops))], a, -1, -1, 0);
            if (r >= 0) return r;
        }
        return a;
    }
    if (kind < 80) {
        int a = gen_expr(g, depth + 1), b = gen_expr(g, depth + 1);
        if (a < 0 || b < 0) return a >= 0 ? a : b;
        for (int attempt = 0; attempt < 8; attempt++) {
            const char *op = binary_ops[rint_(COUNT(binary_ops))];
            int r = try_node(g, N_BINARY, op, a, b, -1, 0);
            if (r < 0) continue;
            if (!strcmp(op, "power") && is_int(lp_array_dtype(g->arr[r])) && !chance(0.05)) {
                /* integer ** negative raises: use abs(b) % 5 as the exponent instead */
                lp_array_release(g->arr[r]);
                g->arr[r] = NULL;
                t->nn--;
                int ab = try_node(g, N_UNARY, "abs", b, -1, -1, 0);
                const lp_scalar five_v = lp_scalar_i(5);
                int five = ab >= 0 ? new_scalar(g, &five_v) : -1;
                int m = five >= 0 ? try_node(g, N_BINARY, "remainder", ab, five, -1, 0) : -1;
                r = m >= 0 ? try_node(g, N_BINARY, "power", a, m, -1, 0) : -1;
                if (r < 0) return a;
            }
            return r;
        }
        return a;
    }
    if (kind < 90) {
        int c = gen_expr(g, depth + 1), a = gen_expr(g, depth + 1), b = gen_expr(g, depth + 1);
        if (c < 0 || a < 0 || b < 0) return a;
        int r = try_node(g, N_WHERE, NULL, c, a, b, 0);
        return r >= 0 ? r : a;
    }
    int a = gen_expr(g, depth + 1);
    if (a < 0) return a;
    int r = try_node(g, N_CAST, NULL, a, -1, -1, (lp_dtype)rint_(LP_COMPLEX64));
    return r >= 0 ? r : a;
}

static void gen_reduction(gen *g, lp_array *root) {
    tree *t = g->t;
    const int nd = lp_array_ndim(root);
    for (int attempt = 0; attempt < 20; attempt++) {
        t->red = reductions[rint_(COUNT(reductions))];
        t->keepdims = chance(0.3);
        t->ddof = rint_(2);
        t->naxes = -1;
        if (nd > 0 && chance(0.6)) {
            int perm[LP_MAX_NDIM];
            for (int i = 0; i < nd; i++) perm[i] = i;
            for (int i = nd - 1; i > 0; i--) { int j = rint_(i + 1), x = perm[i]; perm[i] = perm[j]; perm[j] = x; }
            t->naxes = 1 + rint_(nd);
            for (int i = 0; i < t->naxes; i++) t->axes[i] = chance(0.2) ? perm[i] - nd : perm[i];
        }
        lp_array *r = NULL;
        lp_status st = t->naxes < 0 ? lp_reduce_ddof(g->ctx, t->red, root, NULL, 0, t->keepdims, t->ddof, &r)
                                    : lp_reduce_ddof(g->ctx, t->red, root, t->axes, t->naxes, t->keepdims, t->ddof, &r);
        lp_array_release(r);
        if (st == LP_OK) return;
    }
    t->red = NULL;
}

static void gen_tree(lp_ctx *ctx, tree *t) {
    memset(t, 0, sizeof *t);
    t->extra = -1;
    t->ondim = rint_(5); /* 0..4 */
    static const int64_t dims[] = {1, 2, 3, 4, 5, 7, 8, 13, 16, 31, 64};
    int64_t total = 1;
    for (int i = 0; i < t->ondim; i++) {
        int64_t d = dims[rint_(COUNT(dims))];
        if (chance(0.02)) d = 0;
        if (total * d > 4096) d = 1;
        t->oshape[i] = d;
        total *= d ? d : 1;
    }
    lp_array *arr[MAXN] = {0};
    gen g = {ctx, t, arr};
    int root = -1;
    for (int attempt = 0; attempt < 4 && root < 0; attempt++) root = gen_expr(&g, 0);
    if (root < 0) root = new_leaf(&g);
    t->root = root;
    if (t->nn > 4 && chance(0.25)) {
        int e = rint_(t->nn);
        if (e != root && t->n[e].kind != N_LEAF && t->n[e].kind != N_SCALAR) t->extra = e;
    }
    gen_reduction(&g, arr[root]);
    for (int i = 0; i < t->nn; i++) lp_array_release(arr[i]);
}

static void free_tree(tree *t) {
    for (int i = 0; i < t->nleaf; i++) free(t->lf[i].data);
}

/* ---- running ---- */

typedef struct {
    lp_status st;
    lp_buffer *elem, *extra, *red;
    int64_t tasks; /* over both runs: fusion must show as fewer tasks */
} outcome;

/* Build the tree in ctx and run (1) its reduction alone, so the reduction absorbs its input
 * region, and (2) the elementwise root (with the extra inner target, if any). */
static void run_tree(lp_ctx *ctx, const tree *t, outcome *o) {
    memset(o, 0, sizeof *o);
    for (int pass = 0; pass < 2; pass++) {
        lp_array *arr[MAXN] = {0};
        lp_status st = LP_OK;
        for (int i = 0; i < t->nn && !st; i++) st = build_node(ctx, t, &t->n[i], arr, &arr[i]);
        if (st) { o->st = st; fprintf(stderr, "rebuild failed: %s\n", lp_last_error(ctx)); }
        if (!st && pass == 0 && t->red) {
            lp_array *r = NULL;
            st = t->naxes < 0 ? lp_reduce_ddof(ctx, t->red, arr[t->root], NULL, 0, t->keepdims, t->ddof, &r)
                              : lp_reduce_ddof(ctx, t->red, arr[t->root], t->axes, t->naxes, t->keepdims, t->ddof, &r);
            if (!st) st = lp_run(ctx, &r, 1, &o->red);
            lp_array_release(r);
        } else if (!st && pass == 1) {
            lp_array *tg[2] = {arr[t->root], t->extra >= 0 ? arr[t->extra] : NULL};
            lp_buffer *res[2] = {NULL, NULL};
            st = lp_run(ctx, tg, t->extra >= 0 ? 2 : 1, res);
            o->elem = res[0];
            o->extra = res[1];
        }
        if (st && !o->st) o->st = st;
        lp_run_stats rs;
        lp_last_run_stats(ctx, &rs);
        o->tasks += rs.tasks;
        for (int i = 0; i < t->nn; i++) lp_array_release(arr[i]);
    }
}

static void free_outcome(outcome *o) {
    lp_buffer_release(o->elem);
    lp_buffer_release(o->extra);
    lp_buffer_release(o->red);
}

/* ---- comparison ---- */

static bool same_meta(const lp_buffer *a, const lp_buffer *b) {
    if (!a || !b) return a == b;
    if (lp_buffer_dtype(a) != lp_buffer_dtype(b) || lp_buffer_ndim(a) != lp_buffer_ndim(b)) return false;
    return !memcmp(lp_buffer_shape(a), lp_buffer_shape(b), (size_t)lp_buffer_ndim(a) * sizeof(int64_t));
}

static double get_f(const lp_buffer *b, int64_t i) {
    const char *p = (const char *)lp_buffer_data(b);
    switch (lp_buffer_dtype(b)) {
    case LP_BOOL: return ((const uint8_t *)p)[i];
    case LP_INT8: return ((const int8_t *)p)[i];
    case LP_INT16: return ((const int16_t *)p)[i];
    case LP_INT32: return ((const int32_t *)p)[i];
    case LP_INT64: return (double)((const int64_t *)p)[i];
    case LP_UINT8: return ((const uint8_t *)p)[i];
    case LP_UINT16: return ((const uint16_t *)p)[i];
    case LP_UINT32: return ((const uint32_t *)p)[i];
    case LP_UINT64: return (double)((const uint64_t *)p)[i];
    case LP_FLOAT16: { _Float16 h; memcpy(&h, p + 2 * i, 2); return (double)h; }
    case LP_FLOAT32: return ((const float *)p)[i];
    default: return ((const double *)p)[i];
    }
}

/* Elementwise: bit for bit, any NaN equal to any NaN. Returns the first differing index or -1. */
static int64_t bits_differ(const lp_buffer *a, const lp_buffer *b) {
    const int64_t n = lp_buffer_size(a);
    const lp_dtype dt = lp_buffer_dtype(a);
    const size_t isz = dsize(dt);
    const char *pa = lp_buffer_data(a), *pb = lp_buffer_data(b);
    for (int64_t i = 0; i < n; i++) {
        if (!memcmp(pa + i * isz, pb + i * isz, isz)) continue;
        if (dt == LP_FLOAT64 && isnan(((const double *)pa)[i]) && isnan(((const double *)pb)[i])) continue;
        if (dt == LP_FLOAT32 && isnan(((const float *)pa)[i]) && isnan(((const float *)pb)[i])) continue;
        if (dt == LP_FLOAT16 && isnan(get_f(a, i)) && isnan(get_f(b, i))) continue;
        return i;
    }
    return -1;
}

/* Per output element of the reduction: count, sum |x| and sum x^2 of the elements it reduces,
 * from the (reference) elementwise result x. */
static void reduction_scales(const tree *t, const lp_buffer *x, int64_t nout, double *cnt, double *sabs, double *ssq) {
    const int nd = lp_buffer_ndim(x);
    const int64_t *sh = lp_buffer_shape(x);
    unsigned mask = 0;
    if (t->naxes < 0) mask = (1u << nd) - 1;
    else for (int i = 0; i < t->naxes; i++) mask |= 1u << ((t->axes[i] + nd) % (nd ? nd : 1));
    for (int64_t e = 0; e < nout; e++) cnt[e] = sabs[e] = ssq[e] = 0;
    const int64_t n = lp_buffer_size(x);
    int64_t idx[LP_MAX_NDIM] = {0};
    for (int64_t i = 0; i < n; i++) {
        int64_t o = 0;
        for (int k = 0; k < nd; k++)
            if (!(mask & (1u << k))) o = o * sh[k] + idx[k];
        double v = get_f(x, i);
        if (o < nout) { cnt[o] += 1; sabs[o] += fabs(v); ssq[o] += v * v; }
        for (int k = nd - 1; k >= 0; k--) {
            if (++idx[k] < sh[k]) break;
            idx[k] = 0;
        }
    }
}

static double max_norm_err; /* largest |a-b| / allowed seen, for the report */

static bool close_reduction(const tree *t, const lp_buffer *x, const lp_buffer *a, const lp_buffer *b, int64_t *where) {
    const int64_t n = lp_buffer_size(a);
    const lp_dtype dt = lp_buffer_dtype(a);
    const char *op = t->red;
    bool exact = dt == LP_BOOL || is_int(dt) || !strcmp(op, "min") || !strcmp(op, "max") ||
                 !strcmp(op, "argmin") || !strcmp(op, "argmax") || !strcmp(op, "any") || !strcmp(op, "all");
    if (exact) {
        for (int64_t i = 0; i < n; i++) {
            double va = get_f(a, i), vb = get_f(b, i);
            bool same = is_int(dt) ? !memcmp((const char *)lp_buffer_data(a) + i * dsize(dt),
                                             (const char *)lp_buffer_data(b) + i * dsize(dt), dsize(dt))
                                   : (va == vb || (isnan(va) && isnan(vb)));
            if (!same) { *where = i; return false; }
        }
        return true;
    }
    double *cnt = malloc((size_t)(n ? n : 1) * sizeof *cnt * 3), *sabs = cnt + (n ? n : 1), *ssq = sabs + (n ? n : 1);
    reduction_scales(t, x, n, cnt, sabs, ssq);
    bool ok = true;
    for (int64_t i = 0; i < n && ok; i++) {
        double va = get_f(a, i), vb = get_f(b, i);
        if (isnan(va) || isnan(vb) || isinf(va) || isinf(vb)) {
            ok = (isnan(va) && isnan(vb)) || va == vb;
        } else {
            double tol, err = fabs(va - vb);
            double m = cnt[i] > 0 ? cnt[i] : 1;
            if (!strcmp(op, "sum")) tol = 1e-12 * sabs[i];
            else if (!strcmp(op, "mean")) tol = 1e-12 * sabs[i] / m;
            else if (!strcmp(op, "prod")) tol = (1e-12 + 4 * m * DBL_EPSILON) * fmax(fabs(va), fabs(vb));
            else {
                /* var/std: compare variances against the second moment's scale */
                double den = m - t->ddof > 0 ? m - t->ddof : 1;
                tol = 1e-12 * ssq[i] / den;
                if (!strcmp(op, "std")) err = fabs(va * va - vb * vb);
            }
            tol += 1e-300;
            if (dt == LP_FLOAT32) tol += 2 * fmax(fabs(va), fabs(vb)) * FLT_EPSILON;
            if (dt == LP_FLOAT16) tol += 2 * fmax(fabs(va), fabs(vb)) * 0x1p-10;
            if (!(err <= tol)) ok = false;
            else if (err / tol > max_norm_err) max_norm_err = err / tol;
        }
        if (!ok) *where = i;
    }
    free(cnt);
    return ok;
}

static void describe(const tree *t) {
    fprintf(stderr, "  tree: %d nodes, %d leaves, output shape (", t->nn, t->nleaf);
    for (int i = 0; i < t->ondim; i++) fprintf(stderr, "%lld,", (long long)t->oshape[i]);
    fprintf(stderr, "), reduction %s naxes %d keepdims %d ddof %d\n", t->red ? t->red : "-", t->naxes, t->keepdims, t->ddof);
    for (int i = 0; i < t->nn; i++) {
        const node *n = &t->n[i];
        fprintf(stderr, "   %3d: ", i);
        switch (n->kind) {
        case N_LEAF: fprintf(stderr, "leaf %s ndim %d\n", lp_dtype_name(t->lf[n->leaf].dt), t->lf[n->leaf].ndim); break;
        case N_SCALAR: fprintf(stderr, "scalar kind %s\n", lp_dtype_name(n->s.dtype)); break;
        case N_UNARY: fprintf(stderr, "%s(%d)\n", n->op, n->in[0]); break;
        case N_BINARY: fprintf(stderr, "%s(%d, %d)\n", n->op, n->in[0], n->in[1]); break;
        case N_WHERE: fprintf(stderr, "where(%d, %d, %d)\n", n->in[0], n->in[1], n->in[2]); break;
        case N_CAST: fprintf(stderr, "astype(%d, %s)\n", n->in[0], lp_dtype_name(n->dt)); break;
        }
    }
}

static const char *cfg_name[NCFG] = {"fused/auto", "unfused/auto", "fused/64B", "unfused/64B",
                                     "fused/1KiB", "unfused/1KiB"};

int main(void) {
    int ntrees = getenv("LPT_FUSION_TREES") ? atoi(getenv("LPT_FUSION_TREES")) : 600;
    rng_state = getenv("LPT_FUSION_SEED") ? strtoull(getenv("LPT_FUSION_SEED"), NULL, 10) : 1;
    lp_ctx *gctx, *cfg[NCFG];
    if (lp_ctx_create(&gctx) != LP_OK) return 1;
    for (int c = 0; c < NCFG; c++) {
        if (lp_ctx_create(&cfg[c]) != LP_OK) return 1;
        LPT_OK(cfg[c], lp_ctx_set_threads(cfg[c], 2));
        LPT_OK(cfg[c], lp_ctx_set_fusion(cfg[c], c % 2 == 0));
        LPT_OK(cfg[c], lp_ctx_set_chunk_bytes(cfg[c], c / 2 == 0 ? 0 : c / 2 == 1 ? 64 : 1024));
    }
    int depth_hist[MAXDEPTH + 2] = {0}, errors = 0, reductions_run = 0, failed_trees = 0;
    int64_t nodes = 0, tasks[NCFG] = {0};
    tree *t = malloc(sizeof *t);
    for (int k = 0; k < ntrees; k++) {
        gen_tree(gctx, t);
        nodes += t->nn;
        /* depth of the root (longest path to a leaf) */
        int depth[MAXN];
        for (int i = 0; i < t->nn; i++) {
            depth[i] = 0;
            const node *n = &t->n[i];
            int nin = n->kind == N_UNARY || n->kind == N_CAST ? 1 : n->kind == N_BINARY ? 2 : n->kind == N_WHERE ? 3 : 0;
            for (int j = 0; j < nin; j++) if (depth[n->in[j]] + 1 > depth[i]) depth[i] = depth[n->in[j]] + 1;
        }
        depth_hist[depth[t->root] > MAXDEPTH ? MAXDEPTH + 1 : depth[t->root]]++;
        outcome ref, o;
        run_tree(cfg[0], t, &ref);
        if (ref.st) errors++;
        if (ref.red) reductions_run++;
        tasks[0] += ref.tasks;
        int f0 = lpt_fail_;
        for (int c = 1; c < NCFG; c++) {
            run_tree(cfg[c], t, &o);
            tasks[c] += o.tasks;
            LPT_CHECKF(o.st == ref.st, "tree %d, %s: status %s, %s gave %s (%s)", k, cfg_name[c],
                       lp_status_str(o.st), cfg_name[0], lp_status_str(ref.st), lp_last_error(cfg[c]));
            if (!o.st && !ref.st) {
                LPT_CHECKF(same_meta(o.elem, ref.elem) && same_meta(o.extra, ref.extra) && same_meta(o.red, ref.red),
                           "tree %d, %s: result dtype/shape differ", k, cfg_name[c]);
                if (same_meta(o.elem, ref.elem)) {
                    int64_t i = bits_differ(o.elem, ref.elem);
                    LPT_CHECKF(i < 0, "tree %d, %s: elementwise result differs at %lld: %.17g vs %.17g (%s)", k,
                               cfg_name[c], (long long)i, i < 0 ? 0 : get_f(o.elem, i), i < 0 ? 0 : get_f(ref.elem, i),
                               lp_dtype_name(lp_buffer_dtype(ref.elem)));
                }
                if (o.extra && same_meta(o.extra, ref.extra)) {
                    int64_t i = bits_differ(o.extra, ref.extra);
                    LPT_CHECKF(i < 0, "tree %d, %s: inner target differs at %lld", k, cfg_name[c], (long long)i);
                }
                if (o.red && same_meta(o.red, ref.red)) {
                    int64_t i = -1;
                    bool ok = close_reduction(t, ref.elem, o.red, ref.red, &i);
                    LPT_CHECKF(ok, "tree %d, %s: %s differs at %lld: %.17g vs %.17g (%s)", k, cfg_name[c], t->red,
                               (long long)i, i < 0 ? 0 : get_f(o.red, i), i < 0 ? 0 : get_f(ref.red, i),
                               lp_dtype_name(lp_buffer_dtype(ref.red)));
                }
            }
            free_outcome(&o);
        }
        if (lpt_fail_ != f0) {
            failed_trees++;
            if (failed_trees <= 3) describe(t);
        }
        free_outcome(&ref);
        free_tree(t);
    }
    free(t);
    printf("fusion: %d trees (%lld nodes; root depth", ntrees, (long long)nodes);
    for (int d = 0; d <= MAXDEPTH; d++) printf(" %d:%d", d, depth_hist[d]);
    printf("), %d reductions, %d trees raising the same error everywhere; "
           "largest float reduction difference %.2g of its tolerance\n",
           reductions_run, errors, max_norm_err);
    printf("fusion: tasks run per configuration:");
    for (int c = 0; c < NCFG; c++) printf(" %s %lld", cfg_name[c], (long long)tasks[c]);
    printf("\n");
    /* the fused plans must really be fused: fewer tasks than the unfused ones */
    for (int c = 0; c + 1 < NCFG; c += 2) LPT_CHECKF(tasks[c] < tasks[c + 1], "%s: %lld tasks, %s: %lld", cfg_name[c],
                                                    (long long)tasks[c], cfg_name[c + 1], (long long)tasks[c + 1]);
    for (int c = 0; c < NCFG; c++) lp_ctx_destroy(cfg[c]);
    lp_ctx_destroy(gctx);
    return lpt_done("fusion");
}
