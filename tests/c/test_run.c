/* The planner and the local executor: multiple targets and CSE, reuse of computed results,
 * deep graphs, chunk-size and thread-count independence, cancellation, allocation failures. */
#include "lampy.h"
#include "lpt.h"

#include <pthread.h>
#include <unistd.h>

void lpi_alloc_fail_after(long n); /* core/alloc.c: test hook */

static lp_ctx *ctx;

static double sum_f64(lp_buffer *b) {
    double s = 0, *d = lp_buffer_data(b);
    for (int64_t i = 0; i < lp_buffer_size(b); i++) s += d[i];
    return s;
}

static void test_multi_target_cse(void) {
    int64_t sh[2] = {300, 7};
    lp_array *a, *b, *x, *y, *s1, *s2;
    LPT_OK(ctx, lp_random_uniform(ctx, 5, -1, 1, LP_FLOAT64, 2, sh, &a));
    LPT_OK(ctx, lp_random_uniform(ctx, 5, -1, 1, LP_FLOAT64, 2, sh, &b)); /* same as a: CSE */
    LPT_OK(ctx, lp_binary(ctx, "multiply", a, a, &x));
    LPT_OK(ctx, lp_binary(ctx, "multiply", b, b, &y));
    LPT_OK(ctx, lp_reduce(ctx, "sum", x, NULL, 0, false, &s1));
    LPT_OK(ctx, lp_reduce(ctx, "sum", y, NULL, 0, false, &s2));
    lp_array *t[3] = {s1, s2, x};
    lp_buffer *r[3];
    LPT_OK(ctx, lp_run(ctx, t, 3, r));
    double v1 = *(double *)lp_buffer_data(r[0]), v2 = *(double *)lp_buffer_data(r[1]);
    LPT_CHECK(v1 == v2);
    LPT_CHECKF(fabs(sum_f64(r[2]) - v1) <= 1e-12 * fabs(v1), "%.17g vs %.17g", sum_f64(r[2]), v1);
    /* x's result is reused: a later expression on x plans no task for x */
    lp_array *z;
    LPT_OK(ctx, lp_reduce(ctx, "max", x, NULL, 0, false, &z));
    lp_buffer *rz;
    LPT_OK(ctx, lp_run(ctx, &z, 1, &rz));
    lp_run_stats st;
    lp_last_run_stats(ctx, &st);
    LPT_CHECKF(st.tasks >= 1 && st.tasks <= 4, "tasks %lld", (long long)st.tasks);
    double mx = -1, *xd = lp_buffer_data(r[2]);
    for (int i = 0; i < 300 * 7; i++) mx = xd[i] > mx ? xd[i] : mx;
    LPT_CHECK(*(double *)lp_buffer_data(rz) == mx);
    for (int i = 0; i < 3; i++) lp_buffer_release(r[i]);
    lp_buffer_release(rz);
    lp_array *all[] = {a, b, x, y, s1, s2, z};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) lp_array_release(all[i]);
}

/* A chain of 20,000 additions: neither building, planning, fusing nor releasing recurses. */
static void test_deep_chain(void) {
    int64_t n = 1000;
    lp_array *x, *one;
    LPT_OK(ctx, lp_zeros(ctx, LP_FLOAT64, 1, &n, &x));
    LPT_OK(ctx, lp_scalar_array(ctx, lp_scalar_f(1.0), &one));
    for (int i = 0; i < 20000; i++) {
        lp_array *y;
        if (lp_binary(ctx, "add", x, one, &y) != LP_OK) break;
        lp_array_release(x);
        x = y;
    }
    lp_buffer *r;
    lp_status st = lp_run(ctx, &x, 1, &r);
    /* a fused program has at most 30000 registers: this one needs about 20,000 */
    LPT_OK(ctx, st);
    if (!st) {
        LPT_CHECK(((double *)lp_buffer_data(r))[0] == 20000.0);
        lp_buffer_release(r);
    }
    lp_array_release(x);
    lp_array_release(one);
}

/* Same bits for any thread count; float reductions within 1e-12 across chunk sizes. */
static void test_chunk_thread_independence(void) {
    int64_t sh[2] = {1001, 13};
    double ref_sum = 0, ref_elem = 0;
    size_t chunks[] = {0, 200, 4096, 65536};
    for (int ci = 0; ci < 4; ci++)
        for (int th = 1; th <= 2; th++) {
            lp_ctx *c;
            lp_ctx_create(&c);
            lp_ctx_set_threads(c, th);
            lp_ctx_set_chunk_bytes(c, chunks[ci]);
            lp_array *a, *b, *e, *s, *v;
            lp_random_normal(c, 9, 0, 1, LP_FLOAT64, 2, sh, &a);
            lp_random_uniform(c, 10, 0, 1, LP_FLOAT64, 2, sh, &b);
            lp_array *ab[2] = {a, b};
            lp_elemwise(c, "multiply", 2, ab, &e);
            lp_reduce(c, "sum", e, NULL, 0, false, &s);
            int ax = 0;
            lp_reduce_ddof(c, "var", e, &ax, 1, false, 1, &v);
            lp_array *t[3] = {e, s, v};
            lp_buffer *r[3];
            LPT_OK(c, lp_run(c, t, 3, r));
            double se = sum_f64(r[0]), ss = *(double *)lp_buffer_data(r[1]);
            if (ci == 0 && th == 1) { ref_sum = ss; ref_elem = se; }
            LPT_CHECKF(se == ref_elem, "elementwise differs: chunk %zu threads %d", chunks[ci], th);
            LPT_CHECKF(fabs(ss - ref_sum) <= 1e-12 * fabs(ref_sum), "sum %.17g vs %.17g", ss, ref_sum);
            for (int i = 0; i < 3; i++) lp_buffer_release(r[i]);
            lp_array *all[] = {a, b, e, s, v};
            for (int i = 0; i < 5; i++) lp_array_release(all[i]);
            lp_ctx_destroy(c);
        }
}

static void *canceller(void *arg) {
    usleep(50 * 1000);
    lp_cancel(arg);
    return NULL;
}

static void test_cancel(void) {
    lp_ctx *c;
    lp_ctx_create(&c);
    lp_ctx_set_chunk_bytes(c, 1 << 16);
    int64_t sh[1] = {1 << 26};
    lp_array *a, *e, *s;
    lp_random_normal(c, 1, 0, 1, LP_FLOAT64, 1, sh, &a);
    lp_unary(c, "exp", a, &e);
    lp_reduce(c, "sum", e, NULL, 0, false, &s);
    pthread_t th;
    pthread_create(&th, NULL, canceller, c);
    lp_buffer *r = NULL;
    lp_status st = lp_run(c, &s, 1, &r);
    pthread_join(th, NULL);
    LPT_CHECKF(st == LP_ERR_CANCELLED, "status %s: %s", lp_status_str(st), lp_last_error(c));
    LPT_CHECK(r == NULL);
    LPT_CHECK(lp_array_result(s) == NULL);
    /* the context is still usable */
    int64_t n = 10;
    lp_array *z, *zs;
    lp_arange(c, 0, 10, 1, LP_INT64, &z);
    lp_reduce(c, "sum", z, NULL, 0, false, &zs);
    (void)n;
    LPT_OK(c, lp_run(c, &zs, 1, &r));
    if (r) LPT_CHECK(*(int64_t *)lp_buffer_data(r) == 45);
    lp_buffer_release(r);
    lp_array *all[] = {a, e, s, z, zs};
    for (int i = 0; i < 5; i++) lp_array_release(all[i]);
    lp_ctx_destroy(c);
}

/* Fail the k-th allocation for every k: each run fails cleanly or succeeds with the right
 * answer; sanitizer builds check nothing leaks. */
static void test_alloc_failures(void) {
    int failures = 0, ok = 0;
    for (long k = 1; k < 400; k++) {
        lp_ctx *c;
        if (lp_ctx_create(&c) != LP_OK) continue;
        lp_ctx_set_threads(c, 2);
        lp_ctx_set_chunk_bytes(c, 512);
        int64_t sh[2] = {40, 9};
        lp_array *a = NULL, *b = NULL, *e = NULL, *s = NULL;
        lp_buffer *r = NULL;
        lp_arange(c, 0, 360, 1, LP_FLOAT64, &a);
        if (a) lp_reshape(c, a, 2, sh, &b);
        if (b) lp_binary(c, "multiply", b, b, &e);
        int ax = 1;
        if (e) lp_reduce(c, "sum", e, &ax, 1, false, &s);
        lpi_alloc_fail_after(k);
        lp_status st = s ? lp_run(c, &s, 1, &r) : LP_ERR_NOMEM;
        lpi_alloc_fail_after(0);
        if (st == LP_OK) {
            ok++;
            double *d = lp_buffer_data(r);
            double want = 0;
            for (int j = 0; j < 9; j++) want += (double)(9 * 3 + j) * (9 * 3 + j);
            LPT_CHECK(d[3] == want);
        } else {
            failures++;
            LPT_CHECKF(st == LP_ERR_NOMEM, "k=%ld: %s", k, lp_last_error(c));
        }
        lp_buffer_release(r);
        lp_array_release(s); lp_array_release(e); lp_array_release(b); lp_array_release(a);
        lp_ctx_destroy(c);
    }
    LPT_CHECK(failures > 0 && ok > 0);
}

static void test_errors(void) {
    int64_t s1[2] = {2, 3}, s2[1] = {4};
    lp_array *a, *b, *c = NULL;
    lp_zeros(ctx, LP_FLOAT64, 2, s1, &a);
    lp_zeros(ctx, LP_FLOAT64, 1, s2, &b);
    LPT_CHECK(lp_binary(ctx, "add", a, b, &c) == LP_ERR_SHAPE);
    LPT_CHECK(strcmp(lp_last_error(ctx), "operands could not be broadcast together with shapes (2,3) (4,)") == 0);
    LPT_CHECK(c == NULL);
    LPT_CHECK(lp_binary(ctx, "frobnicate", a, a, &c) == LP_ERR_VALUE);
    int ax = 2;
    LPT_CHECK(lp_reduce(ctx, "sum", a, &ax, 1, false, &c) == LP_ERR_AXIS);
    LPT_CHECK(strstr(lp_last_error(ctx), "axis 2 is out of bounds") != NULL);
    lp_array *l;
    LPT_CHECK(lp_load(ctx, "/nonexistent/x.npy", &l) == LP_ERR_NOTFOUND);
    lp_array_release(a);
    lp_array_release(b);
}

/* An empty array with a huge other dimension is one chunk: no millions of empty tasks, also
 * with tiny chunks or a chunk hint (found by tests/fuzz/fuzz_graph.c). */
static void test_empty_arrays_plan_one_chunk(void) {
    int64_t sh[3] = {(int64_t)1 << 40, 0, 3};
    lp_array *z, *s, *m;
    LPT_OK(ctx, lp_zeros(ctx, LP_FLOAT32, 3, sh, &z));
    int64_t hint[3] = {1, 1, 1};
    LPT_OK(ctx, lp_array_set_chunks(ctx, z, 3, hint));
    int ax = 1;
    LPT_OK(ctx, lp_reduce(ctx, "sum", z, &ax, 1, false, &s));      /* shape (2**40, 3): not empty */
    LPT_OK(ctx, lp_reduce(ctx, "sum", z, NULL, 0, false, &m));
    lp_ctx_set_chunk_bytes(ctx, 64);
    lp_buffer *r = NULL;
    LPT_OK(ctx, lp_run(ctx, &m, 1, &r));
    lp_run_stats st;
    lp_last_run_stats(ctx, &st);
    LPT_CHECKF(st.tasks <= 2, "tasks %lld", (long long)st.tasks);
    LPT_CHECK(r && *(float *)lp_buffer_data(r) == 0);
    lp_buffer_release(r);
    lp_ctx_set_chunk_bytes(ctx, 0);
    lp_array_release(z);
    lp_array_release(s);
    lp_array_release(m);
    /* an empty array whose other dimensions' bytes do not fit in 64 bits is refused, wherever
     * its 0 is, as NumPy refuses it ("array is too big"): its strides and chunk grid overflowed
     * (signed overflow, found by tests/fuzz/fuzz_expr.c with zeros((2**62, 0))) */
    int64_t big[2][2] = {{(int64_t)1 << 62, 0}, {0, (int64_t)1 << 62}};
    for (int k = 0; k < 2; k++) {
        z = NULL;
        LPT_CHECKF(lp_zeros(ctx, LP_FLOAT64, 2, big[k], &z) == LP_ERR_VALUE && !z &&
                       strstr(lp_last_error(ctx), "too big"), "%s", lp_last_error(ctx));
    }
    int64_t fits[2] = {0, ((int64_t)1 << 59) - 1};
    LPT_OK(ctx, lp_zeros(ctx, LP_FLOAT64, 2, fits, &z));
    r = NULL;
    LPT_OK(ctx, lp_run(ctx, &z, 1, &r));
    LPT_CHECK(r && lp_buffer_nbytes(r) == 0 && lp_buffer_shape(r)[1] == fits[1]);
    lp_buffer_release(r);
    lp_array_release(z);
}

/* A float constant cast to an integer out of its range (or NaN) is the integer's minimum, as
 * NumPy's casts give on x86 (np.float64(3e9).astype(np.int32) == -2**31); the constant folding
 * was undefined behaviour for int64 and wrapped for int32 (found by tests/fuzz/fuzz_expr.c). */
static void test_constant_casts_out_of_range(void) {
    static const struct { double v; lp_dtype dt; int64_t want; } cases[] = {
        {3e9, LP_INT32, INT32_MIN}, {-5e9, LP_INT32, INT32_MIN}, {1e300, LP_INT64, INT64_MIN},
        {-1e300, LP_INT64, INT64_MIN}, {NAN, LP_INT32, INT32_MIN}, {-2147483648.0, LP_INT32, INT32_MIN},
        {2147483647.0, LP_INT32, INT32_MAX}, {-7.9, LP_INT64, -7},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        lp_array *s, *c;
        lp_buffer *r = NULL;
        LPT_OK(ctx, lp_scalar_array(ctx, lp_scalar_f(cases[k].v), &s));
        LPT_OK(ctx, lp_astype(ctx, s, cases[k].dt, &c));
        LPT_OK(ctx, lp_run(ctx, &c, 1, &r));
        int64_t got = !r ? -1 : cases[k].dt == LP_INT32 ? *(int32_t *)lp_buffer_data(r) : *(int64_t *)lp_buffer_data(r);
        LPT_CHECKF(r && got == cases[k].want, "%g as %s: %lld", cases[k].v, lp_dtype_name(cases[k].dt), (long long)got);
        lp_buffer_release(r);
        lp_array_release(s);
        lp_array_release(c);
    }
}

/* var of data with a huge offset: sum-of-squares formulas lose every digit here. */
static void test_var_stability(void) {
    int64_t sh[2] = {200000, 3};
    lp_array *u, *off, *x, *v, *s;
    LPT_OK(ctx, lp_random_uniform(ctx, 3, 0, 1, LP_FLOAT64, 2, sh, &u));
    LPT_OK(ctx, lp_scalar_array(ctx, lp_scalar_f(1e9), &off));
    LPT_OK(ctx, lp_binary(ctx, "add", u, off, &x));
    int ax = 0;
    LPT_OK(ctx, lp_reduce(ctx, "var", x, &ax, 1, false, &v));
    LPT_OK(ctx, lp_reduce(ctx, "std", x, NULL, 0, false, &s));
    lp_array *t[2] = {v, s};
    lp_buffer *r[2];
    lp_ctx_set_chunk_bytes(ctx, 100000);
    LPT_OK(ctx, lp_run(ctx, t, 2, r));
    lp_ctx_set_chunk_bytes(ctx, 0);
    const double *vv = lp_buffer_data(r[0]);
    for (int j = 0; j < 3; j++) LPT_CHECKF(fabs(vv[j] - 1.0 / 12) < 2e-3, "var %.17g", vv[j]);
    double sd = *(double *)lp_buffer_data(r[1]);
    LPT_CHECKF(fabs(sd - sqrt(1.0 / 12)) < 2e-3, "std %.17g", sd);
    lp_buffer_release(r[0]);
    lp_buffer_release(r[1]);
    lp_array *all[] = {u, off, x, v, s};
    for (int i = 0; i < 5; i++) lp_array_release(all[i]);
}

int main(void) {
    lp_ctx_create(&ctx);
    LPT_RUN(test_errors);
    LPT_RUN(test_multi_target_cse);
    LPT_RUN(test_deep_chain);
    LPT_RUN(test_var_stability);
    LPT_RUN(test_empty_arrays_plan_one_chunk);
    LPT_RUN(test_constant_casts_out_of_range);
    LPT_RUN(test_chunk_thread_independence);
    LPT_RUN(test_cancel);
    LPT_RUN(test_alloc_failures);
    lp_ctx_destroy(ctx);
    return lpt_done("test_run");
}
