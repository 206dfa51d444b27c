/* Loops (lp_while_loop, lp_fori_loop): semantics against plain C loops, 0/1/many iterations,
 * conditions on reductions, nesting, carried dtypes, values from outside the loop, thread and
 * chunk independence, and the errors of building and running loops. */
#include "lampy.h"
#include "lpt.h"

static lp_ctx *ctx;

static lp_array *sc_f(double v) {
    lp_array *a = NULL;
    LPT_OK(ctx, lp_scalar_array(ctx, lp_scalar_f(v), &a));
    return a;
}
static lp_array *sc_i(int64_t v) {
    lp_array *a = NULL;
    LPT_OK(ctx, lp_scalar_array(ctx, lp_scalar_i(v), &a));
    return a;
}
static lp_array *ph(lp_dtype dt, int nd, const int64_t *shape) {
    lp_array *a = NULL;
    LPT_OK(ctx, lp_placeholder(ctx, dt, nd, shape, &a));
    return a;
}
static lp_array *bin(const char *op, lp_array *x, lp_array *y) {
    lp_array *a = NULL;
    LPT_OK(ctx, lp_binary(ctx, op, x, y, &a));
    return a;
}
static lp_array *red(const char *op, lp_array *x) {
    lp_array *a = NULL;
    LPT_OK(ctx, lp_reduce(ctx, op, x, NULL, 0, false, &a));
    return a;
}
static lp_buffer *run1(lp_array *a) {
    lp_buffer *b = NULL;
    LPT_OK(ctx, lp_run(ctx, &a, 1, &b));
    return b;
}
/* release a NULL-terminated list */
static void rel(lp_array **v) {
    for (; *v; v++) lp_array_release(*v);
}

/* x = 1; while x < 100: x = 3 x  ->  243, and a counter carried beside it */
static void test_while_scalar(void) {
    lp_array *x0, *n0;
    LPT_OK(ctx, lp_full(ctx, LP_FLOAT64, 0, NULL, lp_scalar_f(1), &x0));
    LPT_OK(ctx, lp_full(ctx, LP_INT64, 0, NULL, lp_scalar_i(0), &n0));
    lp_array *cx = ph(LP_FLOAT64, 0, NULL), *cn = ph(LP_INT64, 0, NULL);
    lp_array *bx = ph(LP_FLOAT64, 0, NULL), *bn = ph(LP_INT64, 0, NULL);
    lp_array *k100 = sc_f(100), *k3 = sc_f(3), *k1 = sc_i(1);
    lp_array *c = bin("less", cx, k100), *x1 = bin("multiply", bx, k3), *n1 = bin("add", bn, k1);
    lp_array *cin[2] = {cx, cn}, *bin_[2] = {bx, bn}, *bout[2] = {x1, n1}, *init[2] = {x0, n0}, *out[2];
    lp_subgraph cond = {2, cin, 1, &c}, body = {2, bin_, 2, bout};
    LPT_OK(ctx, lp_while_loop(ctx, &cond, &body, 2, init, 0, 0, out));
    lp_buffer *r[2];
    LPT_OK(ctx, lp_run(ctx, out, 2, r));
    LPT_CHECK(*(double *)lp_buffer_data(r[0]) == 243.0);
    LPT_CHECK(*(int64_t *)lp_buffer_data(r[1]) == 5);
    /* the loop ran once: its outputs keep their values, a new expression reuses them */
    lp_array *y = bin("add", out[0], k1);
    lp_buffer *ry = run1(y);
    LPT_CHECK(ry && *(double *)lp_buffer_data(ry) == 244.0);
    lp_buffer_release(ry);
    lp_buffer_release(r[0]);
    lp_buffer_release(r[1]);
    lp_array *all[] = {x0, n0, cx, cn, bx, bn, k100, k3, k1, c, x1, n1, out[0], out[1], y, NULL};
    rel(all);
}

/* s = sum over i in [lo, hi) of i, as a fori_loop; 0, 1 and 10,000 iterations */
static void fori_sum(int64_t lo, int64_t hi) {
    lp_array *s0, *i = NULL, *bs = ph(LP_INT64, 0, NULL), *s1, *out;
    LPT_OK(ctx, lp_full(ctx, LP_INT64, 0, NULL, lp_scalar_i(7), &s0));
    LPT_OK(ctx, lp_loop_index(ctx, &i));
    s1 = bin("add", bs, i);
    lp_array *bin_[2] = {i, bs};
    lp_subgraph body = {2, bin_, 1, &s1};
    LPT_OK(ctx, lp_fori_loop(ctx, lo, hi, &body, 1, &s0, &out));
    lp_buffer *r = run1(out);
    int64_t want = 7;
    for (int64_t k = lo; k < hi; k++) want += k;
    LPT_CHECKF(r && *(int64_t *)lp_buffer_data(r) == want, "[%lld, %lld): %lld vs %lld", (long long)lo, (long long)hi,
               r ? (long long)*(int64_t *)lp_buffer_data(r) : -1LL, (long long)want);
    lp_buffer_release(r);
    lp_array *all[] = {s0, i, bs, s1, out, NULL};
    rel(all);
}

static void test_fori_counts(void) {
    fori_sum(0, 0);
    fori_sum(5, 2);
    fori_sum(3, 4);
    fori_sum(-5, 9995);
}

/* v = ones(n); while sum(v) > 1: v = v * 0.5 (the condition is a chunked reduction) */
static void test_while_reduction_cond(void) {
    int64_t n = 100000;
    lp_array *v0, *cv = ph(LP_FLOAT64, 1, &n), *bv = ph(LP_FLOAT64, 1, &n), *one = sc_f(1), *half = sc_f(0.5);
    LPT_OK(ctx, lp_ones(ctx, LP_FLOAT64, 1, &n, &v0));
    lp_array *s = red("sum", cv), *c = bin("greater", s, one), *v1 = bin("multiply", bv, half), *out;
    lp_subgraph cond = {1, &cv, 1, &c}, body = {1, &bv, 1, &v1};
    LPT_OK(ctx, lp_while_loop(ctx, &cond, &body, 1, &v0, 0, 0, &out));
    lp_buffer *r = run1(out);
    double want = 1;
    while (want * (double)n > 1) want *= 0.5;
    double *d = r ? lp_buffer_data(r) : NULL;
    LPT_CHECK(d && d[0] == want && d[n - 1] == want);
    lp_buffer_release(r);
    lp_array *all[] = {v0, cv, bv, one, half, s, c, v1, out, NULL};
    rel(all);
}

/* A body reading values from outside: a computed expression (computed once) and data. */
static void test_free_values(void) {
    int64_t n = 5000;
    lp_array *a, *a2, *x0, *bx = ph(LP_FLOAT64, 1, &n), *i = NULL, *k2 = sc_f(2), *out;
    LPT_OK(ctx, lp_random_uniform(ctx, 3, 0, 1, LP_FLOAT64, 1, &n, &a));
    LPT_OK(ctx, lp_zeros(ctx, LP_FLOAT64, 1, &n, &x0));
    LPT_OK(ctx, lp_loop_index(ctx, &i));
    a2 = bin("multiply", a, k2);                 /* outside the loop */
    lp_array *t = bin("multiply", a2, i), *x1 = bin("add", bx, t);
    lp_array *bin_[2] = {i, bx};
    lp_subgraph body = {2, bin_, 1, &x1};
    LPT_OK(ctx, lp_fori_loop(ctx, 0, 4, &body, 1, &x0, &out));
    lp_buffer *r = run1(out), *ra = run1(a);
    if (r && ra) {
        const double *d = lp_buffer_data(r), *av = lp_buffer_data(ra);
        bool ok = true;
        for (int64_t k = 0; k < n; k++) {
            double w = 0;
            for (int j = 0; j < 4; j++) w = w + (av[k] * 2) * j;
            ok &= d[k] == w;
        }
        LPT_CHECK(ok);
    }
    lp_buffer_release(r);
    lp_buffer_release(ra);
    lp_array *all[] = {a, a2, x0, bx, i, k2, t, x1, out, NULL};
    rel(all);
}

/* for i in range(4): for j in range(i, 3 + i): acc += i * j  -- nested fori_loops, the
 * inner reading the outer's index; and an inner while loop. */
static void test_nested(void) {
    lp_array *acc0, *oi = NULL, *oacc = ph(LP_INT64, 0, NULL);
    LPT_OK(ctx, lp_full(ctx, LP_INT64, 0, NULL, lp_scalar_i(0), &acc0));
    LPT_OK(ctx, lp_loop_index(ctx, &oi));
    /* inner body over (j, a): a + oi * j; bounds are constants, the outer index is read */
    lp_array *ij = NULL, *ia = ph(LP_INT64, 0, NULL);
    LPT_OK(ctx, lp_loop_index(ctx, &ij));
    lp_array *prod = bin("multiply", oi, ij), *ia1 = bin("add", ia, prod);
    lp_array *ibin[2] = {ij, ia};
    lp_subgraph ibody = {2, ibin, 1, &ia1};
    lp_array *inner;
    LPT_OK(ctx, lp_fori_loop(ctx, 0, 3, &ibody, 1, &oacc, &inner));
    lp_array *obin[2] = {oi, oacc};
    lp_subgraph obody = {2, obin, 1, &inner};
    lp_array *out;
    LPT_OK(ctx, lp_fori_loop(ctx, 0, 4, &obody, 1, &acc0, &out));
    lp_buffer *r = run1(out);
    int64_t want = 0;
    for (int64_t i = 0; i < 4; i++)
        for (int64_t j = 0; j < 3; j++) want += i * j;
    LPT_CHECKF(r && *(int64_t *)lp_buffer_data(r) == want, "%lld vs %lld", r ? (long long)*(int64_t *)lp_buffer_data(r) : -1LL,
               (long long)want);
    lp_buffer_release(r);

    /* outer fori over i; inner while: x = x + 1 while x < 10 * (i + 1) (cond reads i) */
    lp_array *x0, *oj = NULL, *ox = ph(LP_INT64, 0, NULL), *cx = ph(LP_INT64, 0, NULL), *bx = ph(LP_INT64, 0, NULL);
    LPT_OK(ctx, lp_full(ctx, LP_INT64, 0, NULL, lp_scalar_i(0), &x0));
    LPT_OK(ctx, lp_loop_index(ctx, &oj));
    lp_array *k1 = sc_i(1), *k10 = sc_i(10), *i1 = bin("add", oj, k1), *lim = bin("multiply", i1, k10);
    lp_array *c = bin("less", cx, lim), *bx1 = bin("add", bx, k1), *w, *out2;
    lp_subgraph wc = {1, &cx, 1, &c}, wb = {1, &bx, 1, &bx1};
    LPT_OK(ctx, lp_while_loop(ctx, &wc, &wb, 1, &ox, 0, 0, &w));
    lp_array *ob2[2] = {oj, ox};
    lp_subgraph obody2 = {2, ob2, 1, &w};
    LPT_OK(ctx, lp_fori_loop(ctx, 0, 3, &obody2, 1, &x0, &out2));
    lp_buffer *r2 = run1(out2);
    LPT_CHECK(r2 && *(int64_t *)lp_buffer_data(r2) == 30);
    lp_buffer_release(r2);
    lp_array *all[] = {acc0, oi, oacc, ij, ia, prod, ia1, inner, out, x0, oj, ox, cx, bx, k1, k10, i1, lim, c, bx1, w, out2, NULL};
    rel(all);
}

/* carried values of every dtype, vectors and scalars */
static void test_dtypes(void) {
    int64_t n = 37;
    lp_array *f32, *f64, *i32, *i64, *b;
    LPT_OK(ctx, lp_full(ctx, LP_FLOAT32, 1, &n, lp_scalar_f(1.5), &f32));
    LPT_OK(ctx, lp_full(ctx, LP_FLOAT64, 0, NULL, lp_scalar_f(0.25), &f64));
    LPT_OK(ctx, lp_full(ctx, LP_INT32, 1, &n, lp_scalar_i(3), &i32));
    LPT_OK(ctx, lp_full(ctx, LP_INT64, 0, NULL, lp_scalar_i(-2), &i64));
    LPT_OK(ctx, lp_full(ctx, LP_BOOL, 1, &n, lp_scalar_b(false), &b));
    lp_array *idx = NULL;
    LPT_OK(ctx, lp_loop_index(ctx, &idx));
    lp_array *p[5] = {ph(LP_FLOAT32, 1, &n), ph(LP_FLOAT64, 0, NULL), ph(LP_INT32, 1, &n), ph(LP_INT64, 0, NULL),
                      ph(LP_BOOL, 1, &n)};
    lp_array *k2 = sc_i(2), *kh = sc_f(0.5);
    /* float32 * weak index stays float32; int32 + 2 stays int32; bool flips */
    lp_array *o[5] = {bin("multiply", p[0], idx), bin("add", p[1], kh), bin("add", p[2], k2), bin("subtract", p[3], idx), NULL};
    LPT_OK(ctx, lp_unary(ctx, "logical_not", p[4], &o[4]));
    lp_array *bin_[6] = {idx, p[0], p[1], p[2], p[3], p[4]}, *init[5] = {f32, f64, i32, i64, b}, *out[5];
    lp_subgraph body = {6, bin_, 5, o};
    LPT_OK(ctx, lp_fori_loop(ctx, 1, 4, &body, 5, init, out));
    lp_buffer *r[5];
    LPT_OK(ctx, lp_run(ctx, out, 5, r));
    LPT_CHECK(lp_buffer_dtype(r[0]) == LP_FLOAT32 && ((float *)lp_buffer_data(r[0]))[36] == 1.5f * 1 * 2 * 3);
    LPT_CHECK(*(double *)lp_buffer_data(r[1]) == 1.75);
    LPT_CHECK(lp_buffer_dtype(r[2]) == LP_INT32 && ((int32_t *)lp_buffer_data(r[2]))[0] == 9);
    LPT_CHECK(*(int64_t *)lp_buffer_data(r[3]) == -8);
    LPT_CHECK(((uint8_t *)lp_buffer_data(r[4]))[5] == 1);
    for (int k = 0; k < 5; k++) lp_buffer_release(r[k]);
    for (int k = 0; k < 5; k++) { lp_array_release(p[k]); lp_array_release(o[k]); lp_array_release(out[k]); }
    lp_array *all[] = {f32, f64, i32, i64, b, idx, k2, kh, NULL};
    rel(all);
}

/* The same loop (power iteration on a vector with matmuls, sums and a norm in the condition)
 * gives the same bits for 1 and 2 threads and for several chunk sizes. */
static lp_buffer *power_iter(int threads, size_t chunk) {
    lp_ctx *c2;
    lp_ctx_create(&c2);
    lp_ctx_set_threads(c2, threads);
    lp_ctx_set_chunk_bytes(c2, chunk);
    int64_t sh[2] = {3000, 16}, n = 16;
    lp_array *X, *v0, *bv = NULL, *cv = NULL, *ci = NULL, *bi = NULL, *it0, *Xt, *Xv, *w, *w2, *nrm, *v1, *one, *i1, *lim,
        *c, *out[2];
    lp_random_normal(c2, 11, 0, 1, LP_FLOAT64, 2, sh, &X);
    lp_ones(c2, LP_FLOAT64, 1, &n, &v0);
    lp_full(c2, LP_INT64, 0, NULL, lp_scalar_i(0), &it0);
    lp_placeholder(c2, LP_FLOAT64, 1, &n, &bv);
    lp_placeholder(c2, LP_INT64, 0, NULL, &bi);
    lp_placeholder(c2, LP_FLOAT64, 1, &n, &cv);
    lp_placeholder(c2, LP_INT64, 0, NULL, &ci);
    lp_transpose(c2, X, NULL, &Xt);
    lp_matmul(c2, X, bv, &Xv);
    lp_matmul(c2, Xt, Xv, &w);
    lp_binary(c2, "multiply", w, w, &w2);
    lp_reduce(c2, "sum", w2, NULL, 0, false, &nrm);
    lp_array *sq;
    lp_unary(c2, "sqrt", nrm, &sq);
    lp_binary(c2, "divide", w, sq, &v1);
    lp_scalar_array(c2, lp_scalar_i(1), &one);
    lp_binary(c2, "add", bi, one, &i1);
    lp_scalar_array(c2, lp_scalar_i(25), &lim);
    lp_binary(c2, "less", ci, lim, &c);
    lp_array *cin[2] = {cv, ci}, *bin_[2] = {bv, bi}, *bout[2] = {v1, i1}, *init[2] = {v0, it0};
    lp_subgraph cond = {2, cin, 1, &c}, body = {2, bin_, 2, bout};
    lp_buffer *r = NULL;
    LPT_OK(c2, lp_while_loop(c2, &cond, &body, 2, init, 0, 0, out));
    LPT_OK(c2, lp_run(c2, out, 1, &r));
    lp_array *all[] = {X, v0, bv, cv, ci, bi, it0, Xt, Xv, w, w2, nrm, sq, v1, one, i1, lim, c, out[0], out[1], NULL};
    rel(all);
    lp_ctx_destroy(c2);
    return r;
}

/* Threads never change bits; chunk sizes change how reductions are grouped (as outside loops),
 * so across chunk sizes the results agree to rounding. */
static void test_thread_chunk_independence(void) {
    lp_buffer *ref = power_iter(1, 0);
    LPT_CHECK(ref != NULL);
    if (!ref) return;
    size_t chunks[] = {0, 32 * 1024, 64 * 1024, 1 << 20};
    for (size_t k = 0; k < sizeof chunks / sizeof *chunks; k++) {
        lp_buffer *r1 = k ? power_iter(1, chunks[k]) : ref, *r2 = power_iter(2, chunks[k]);
        LPT_CHECKF(r1 && r2 && !memcmp(lp_buffer_data(r1), lp_buffer_data(r2), lp_buffer_nbytes(ref)),
                   "1 and 2 threads differ at chunk %zu", chunks[k]);
        double md = 0;
        for (int i = 0; r1 && i < 16; i++)
            md = fmax(md, fabs(((double *)lp_buffer_data(r1))[i] - ((double *)lp_buffer_data(ref))[i]));
        LPT_CHECKF(r1 && md < 1e-12, "chunk %zu: max difference %g", chunks[k], md);
        if (k) lp_buffer_release(r1);
        lp_buffer_release(r2);
    }
    lp_buffer_release(ref);
}

static void test_errors(void) {
    int64_t n3 = 3, n4 = 4;
    lp_array *x0, *bx = ph(LP_FLOAT64, 1, &n3), *cx = ph(LP_FLOAT64, 1, &n3), *out = NULL;
    LPT_OK(ctx, lp_zeros(ctx, LP_FLOAT64, 1, &n3, &x0));
    lp_array *f32 = NULL, *wide = NULL, *s = red("sum", cx), *k0 = sc_f(0), *c = bin("greater", s, k0), *k1 = sc_f(1);
    LPT_OK(ctx, lp_astype(ctx, bx, LP_FLOAT32, &f32));
    lp_subgraph cond = {1, &cx, 1, &c};
    lp_subgraph body = {1, &bx, 1, &f32};
    lp_status st = lp_while_loop(ctx, &cond, &body, 1, &x0, 0, 0, &out);
    LPT_CHECKF(st == LP_ERR_TYPE && !strcmp(lp_last_error(ctx), "while_loop: body output 0 has dtype float32, carried state is float64"),
               "%s", lp_last_error(ctx));
    LPT_OK(ctx, lp_zeros(ctx, LP_FLOAT64, 1, &n4, &wide));
    body.out = &wide;
    st = lp_while_loop(ctx, &cond, &body, 1, &x0, 0, 0, &out);
    LPT_CHECKF(st == LP_ERR_SHAPE && strstr(lp_last_error(ctx), "body output 0 has shape (4,), carried state has shape (3,)"),
               "%s", lp_last_error(ctx));
    /* cond must be a 0-d bool */
    lp_subgraph bad_cond = {1, &cx, 1, &s}, ok_body = {1, &bx, 1, &bx};
    st = lp_while_loop(ctx, &bad_cond, &ok_body, 1, &x0, 0, 0, &out);
    LPT_CHECKF(st == LP_ERR_TYPE && strstr(lp_last_error(ctx), "cond must return a boolean scalar"), "%s", lp_last_error(ctx));
    /* inputs must be placeholders matching the initial values */
    lp_subgraph nonph = {1, &x0, 1, &x0};
    st = lp_while_loop(ctx, &cond, &nonph, 1, &x0, 0, 0, &out);
    LPT_CHECKF(st == LP_ERR_VALUE && strstr(lp_last_error(ctx), "must be a placeholder"), "%s", lp_last_error(ctx));
    /* max_iter: an error, or the last state when asked */
    lp_array *bx1 = bin("add", bx, k1);
    lp_subgraph grow = {1, &bx, 1, &bx1};
    lp_array *y0;
    LPT_OK(ctx, lp_ones(ctx, LP_FLOAT64, 1, &n3, &y0));
    LPT_OK(ctx, lp_while_loop(ctx, &cond, &grow, 1, &y0, 10, 0, &out));
    lp_buffer *r = NULL;
    st = lp_run(ctx, &out, 1, &r);
    LPT_CHECKF(st == LP_ERR_LIMIT && strstr(lp_last_error(ctx), "max_iter (10) reached"), "%s", lp_last_error(ctx));
    lp_array_release(out);
    LPT_OK(ctx, lp_while_loop(ctx, &cond, &grow, 1, &y0, 10, LP_LOOP_LAST_STATE, &out));
    r = run1(out);
    LPT_CHECK(r && ((double *)lp_buffer_data(r))[0] == 11);
    lp_buffer_release(r);
    lp_array_release(out);
    /* a placeholder outside its loop has no value */
    lp_array *t = bin("add", bx, k1);
    st = lp_run(ctx, &t, 1, &r);
    LPT_CHECKF(st == LP_ERR_VALUE && strstr(lp_last_error(ctx), "has no value outside its loop"), "%s", lp_last_error(ctx));
    /* a failure inside an iteration says which */
    int64_t sq[2] = {2, 2};
    lp_array *m0, *bm = ph(LP_FLOAT64, 2, sq), *inv = NULL, *idx = NULL;
    LPT_OK(ctx, lp_zeros(ctx, LP_FLOAT64, 2, sq, &m0));
    LPT_OK(ctx, lp_loop_index(ctx, &idx));
    LPT_OK(ctx, lp_linalg_inv(ctx, bm, &inv));
    lp_array *fb[2] = {idx, bm};
    lp_subgraph fbody = {2, fb, 1, &inv};
    LPT_OK(ctx, lp_fori_loop(ctx, 0, 3, &fbody, 1, &m0, &out));
    st = lp_run(ctx, &out, 1, &r);
    LPT_CHECKF(st == LP_ERR_LINALG && strstr(lp_last_error(ctx), "fori_loop iteration 0: ") &&
               strstr(lp_last_error(ctx), "Singular matrix"), "%s", lp_last_error(ctx));
    lp_array *all[] = {x0, bx, cx, out, f32, wide, s, k0, c, k1, bx1, y0, t, m0, bm, inv, idx, NULL};
    rel(all);
}

/* dump -> load -> run gives the same bits as running the original; nested loops and values
 * from outside included */
static void test_roundtrip(void) {
    int64_t n = 300;
    lp_array *a, *v0, *acc0, *i = NULL, *bv = ph(LP_FLOAT64, 1, &n), *bacc = ph(LP_FLOAT64, 0, NULL);
    LPT_OK(ctx, lp_random_normal(ctx, 21, 0, 1, LP_FLOAT64, 1, &n, &a));
    LPT_OK(ctx, lp_zeros(ctx, LP_FLOAT64, 1, &n, &v0));
    LPT_OK(ctx, lp_full(ctx, LP_FLOAT64, 0, NULL, lp_scalar_f(0), &acc0));
    LPT_OK(ctx, lp_loop_index(ctx, &i));
    lp_array *k2 = sc_f(2), *ea = NULL;
    LPT_OK(ctx, lp_unary(ctx, "exp", a, &ea));                      /* outside: computed once */
    lp_array *t = bin("multiply", ea, i), *h = sc_f(0.5), *vh = bin("multiply", bv, h), *v1 = bin("add", vh, t);
    /* inner while: acc = acc * 2 + 1 while acc < sum(v) (reads the outer body's value) */
    lp_array *cacc = ph(LP_FLOAT64, 0, NULL), *wacc = ph(LP_FLOAT64, 0, NULL), *sv = red("sum", v1);
    lp_array *c = bin("less", cacc, sv), *w2 = bin("multiply", wacc, k2), *one = sc_f(1), *w3 = bin("add", w2, one), *inner;
    lp_subgraph wc = {1, &cacc, 1, &c}, wb = {1, &wacc, 1, &w3};
    LPT_OK(ctx, lp_while_loop(ctx, &wc, &wb, 1, &bacc, 50, LP_LOOP_LAST_STATE, &inner));
    lp_array *bin_[3] = {i, bv, bacc}, *bout[2] = {v1, inner}, *init[2] = {v0, acc0}, *out[2];
    lp_subgraph body = {3, bin_, 2, bout};
    LPT_OK(ctx, lp_fori_loop(ctx, 1, 6, &body, 2, init, out));
    char *js = NULL;
    LPT_OK(ctx, lp_graph_dump(ctx, out, 2, &js));
    LPT_CHECK(js && strstr(js, "\"version\": 2") && strstr(js, "\"op\":\"while_loop\""));
    if (getenv("LPT_SHOW_DUMP") && js) puts(js);
    lp_array **loaded = NULL;
    int nl = 0;
    LPT_OK(ctx, lp_graph_load(ctx, js, &loaded, &nl));
    lp_buffer *r1[2], *r2[2];
    LPT_OK(ctx, lp_run(ctx, out, 2, r1));
    if (loaded && nl == 2) {
        LPT_OK(ctx, lp_run(ctx, loaded, 2, r2));
        for (int k = 0; k < 2; k++) {
            LPT_CHECKF(!memcmp(lp_buffer_data(r1[k]), lp_buffer_data(r2[k]), lp_buffer_nbytes(r1[k])), "output %d differs", k);
            lp_buffer_release(r2[k]);
        }
        /* dumping the loaded graph gives the same document */
        char *js2 = NULL;
        lp_array **l2 = NULL;
        int n2 = 0;
        LPT_OK(ctx, lp_graph_load(ctx, js, &l2, &n2));
        LPT_OK(ctx, lp_graph_dump(ctx, l2, n2, &js2));
        LPT_CHECK(js2 && !strcmp(js, js2));
        lp_string_free(js2);
        lp_arrays_release(l2, n2);
    }
    /* reference: the same loops in C */
    lp_buffer *ra = run1(ea);
    if (ra) {
        const double *e = lp_buffer_data(ra);
        double v[300] = {0}, acc = 0;
        for (int it = 1; it < 6; it++) {
            double s = 0;
            for (int k = 0; k < n; k++) { v[k] = v[k] * 0.5 + e[k] * it; }
            for (int k = 0; k < n; k++) s += v[k];
            for (int q = 0; q < 50 && acc < s; q++) acc = acc * 2 + 1;
        }
        double md = 0;
        for (int k = 0; k < n; k++) md = fmax(md, fabs(v[k] - ((double *)lp_buffer_data(r1[0]))[k]));
        LPT_CHECKF(md == 0, "max difference %g", md);
        LPT_CHECKF(acc == *(double *)lp_buffer_data(r1[1]), "%g vs %g", acc, *(double *)lp_buffer_data(r1[1]));
        lp_buffer_release(ra);
    }
    lp_buffer_release(r1[0]);
    lp_buffer_release(r1[1]);
    lp_string_free(js);
    lp_arrays_release(loaded, nl);
    lp_array *all[] = {a, v0, acc0, i, bv, bacc, k2, ea, t, h, vh, v1, cacc, wacc, sv, c, w2, one, w3, inner, out[0], out[1], NULL};
    rel(all);
}

int main(void) {
    lp_ctx_create(&ctx);
    LPT_RUN(test_while_scalar);
    LPT_RUN(test_fori_counts);
    LPT_RUN(test_while_reduction_cond);
    LPT_RUN(test_free_values);
    LPT_RUN(test_nested);
    LPT_RUN(test_dtypes);
    LPT_RUN(test_thread_chunk_independence);
    LPT_RUN(test_errors);
    LPT_RUN(test_roundtrip);
    lp_ctx_destroy(ctx);
    return lpt_done("loop");
}
