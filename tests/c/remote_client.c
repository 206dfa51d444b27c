/* The lambda executor through the C API, against running workers (tests/integration/test_remote.py
 * starts them and passes their URLs): in-memory data (wrapped, strided, earlier results) goes
 * through the store and gives the local executor's bits; lp_cancel stops a remote run promptly;
 * configuration is validated; the lambda name reaches the URL.
 *
 * usage: remote_client WORKERS STORE   (prints "remote_client: N passed, N failed") */
#include "lampy.h"
#include "lpt.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

static const char *workers, *store;

static lp_ctx *remote_ctx(void) {
    lp_ctx *ctx = NULL;
    if (lp_ctx_create(&ctx) != LP_OK) return NULL;
    LPT_OK(ctx, lp_ctx_set_executor(ctx, "lambda"));
    LPT_OK(ctx, lp_ctx_set_workers(ctx, workers));
    LPT_OK(ctx, lp_ctx_set_store(ctx, store));
    return ctx;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static bool same(const lp_buffer *a, const lp_buffer *b) {
    return a && b && lp_buffer_dtype(a) == lp_buffer_dtype(b) && lp_buffer_nbytes(a) == lp_buffer_nbytes(b) &&
           memcmp(lp_buffer_data(a), lp_buffer_data(b), lp_buffer_nbytes(a)) == 0;
}

/* (wrapped.T * 2 + wrapped2).sum(axis=0), then a second run reading the first result. */
static void compute(lp_ctx *ctx, double *base, float *f, lp_buffer **r1, lp_buffer **r2) {
    lp_array *a = NULL, *b = NULL, *t = NULL, *two = NULL, *m = NULL, *s = NULL, *bt = NULL, *x = NULL, *y = NULL;
    int64_t shape[2] = {301, 77}, strides[2] = {8, 8 * 301}; /* Fortran order: a strided wrap */
    int64_t fshape[1] = {301};
    LPT_OK(ctx, lp_wrap(ctx, base, LP_FLOAT64, 2, shape, strides, NULL, NULL, &a));
    LPT_OK(ctx, lp_wrap(ctx, f, LP_FLOAT32, 1, fshape, NULL, NULL, NULL, &b));
    LPT_OK(ctx, lp_transpose(ctx, a, NULL, &t));
    LPT_OK(ctx, lp_scalar_array(ctx, lp_scalar_f(2), &two));
    LPT_OK(ctx, lp_binary(ctx, "multiply", t, two, &m));
    LPT_OK(ctx, lp_binary(ctx, "add", m, b, &s));
    int ax = 0;
    LPT_OK(ctx, lp_reduce(ctx, "sum", s, &ax, 1, false, &x));
    LPT_OK(ctx, lp_run(ctx, &x, 1, r1));
    /* x is computed now: a later expression reads its result as in-memory data */
    LPT_OK(ctx, lp_binary(ctx, "subtract", x, b, &bt));
    LPT_OK(ctx, lp_reduce(ctx, "max", bt, NULL, 0, false, &y));
    LPT_OK(ctx, lp_run(ctx, &y, 1, r2));
    lp_array *all[] = {a, b, t, two, m, s, bt, x, y};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lp_array_release(all[i]);
}

static void test_in_memory_data(void) {
    double *base = malloc(301 * 77 * sizeof *base);
    float *f = malloc(301 * sizeof *f);
    for (int i = 0; i < 301 * 77; i++) base[i] = (double)((i * 7919) % 1000) / 7.0 - 50;
    for (int i = 0; i < 301; i++) f[i] = (float)i / 3.0f;
    lp_ctx *loc = NULL, *rem = remote_ctx();
    LPT_OK(loc, lp_ctx_create(&loc));
    LPT_OK(loc, lp_ctx_set_chunk_bytes(loc, 2048));
    LPT_OK(rem, lp_ctx_set_chunk_bytes(rem, 2048));
    lp_buffer *l1 = NULL, *l2 = NULL, *q1 = NULL, *q2 = NULL;
    compute(loc, base, f, &l1, &l2);
    compute(rem, base, f, &q1, &q2);
    LPT_CHECK(same(l1, q1));
    LPT_CHECK(same(l2, q2));
    lp_run_stats rs;
    lp_last_run_stats(rem, &rs);
    LPT_CHECK(rs.tasks > 0);
    /* many runs on one context reuse its connections */
    double t0 = now_s();
    for (int i = 0; i < 20; i++) {
        lp_buffer *a = NULL, *b = NULL;
        compute(rem, base, f, &a, &b);
        LPT_CHECK(same(a, l1) && same(b, l2));
        lp_buffer_release(a);
        lp_buffer_release(b);
    }
    fprintf(stderr, "20 x 2 remote runs: %.3f s\n", now_s() - t0);
    lp_buffer_release(l1);
    lp_buffer_release(l2);
    lp_buffer_release(q1);
    lp_buffer_release(q2);
    lp_ctx_destroy(loc);
    lp_ctx_destroy(rem);
    free(base);
    free(f);
}

typedef struct { lp_ctx *ctx; lp_array *a; lp_status st; double t; } job;

static void *run_job(void *arg) {
    job *j = arg;
    lp_buffer *r = NULL;
    j->st = lp_run(j->ctx, &j->a, 1, &r);
    j->t = now_s();
    lp_buffer_release(r);
    return NULL;
}

static void test_cancel(void) {
    lp_ctx *ctx = remote_ctx();
    LPT_OK(ctx, lp_ctx_set_chunk_bytes(ctx, 64 << 10));
    int64_t shape[2] = {6000, 4000};
    lp_array *x = NULL, *t = NULL, *s = NULL;
    LPT_OK(ctx, lp_random_normal(ctx, 1, 0, 1, LP_FLOAT64, 2, shape, &x));
    LPT_OK(ctx, lp_unary(ctx, "tanh", x, &t));
    LPT_OK(ctx, lp_reduce(ctx, "std", t, NULL, 0, false, &s));
    job j = {ctx, s, LP_OK, 0};
    pthread_t th;
    pthread_create(&th, NULL, run_job, &j);
    usleep(300000);
    double t0 = now_s();
    lp_cancel(ctx);
    pthread_join(th, NULL);
    LPT_CHECKF(j.st == LP_ERR_CANCELLED, "status %s: %s", lp_status_str(j.st), lp_last_error(ctx));
    LPT_CHECKF(j.t - t0 < 2.0, "cancel took %.3f s", j.t - t0);
    /* and the context still works */
    lp_array *small = NULL, *ss = NULL;
    int64_t sh[1] = {1000};
    lp_buffer *r = NULL;
    LPT_OK(ctx, lp_random_uniform(ctx, 2, 0, 1, LP_FLOAT64, 1, sh, &small));
    LPT_OK(ctx, lp_reduce(ctx, "sum", small, NULL, 0, false, &ss));
    LPT_OK(ctx, lp_run(ctx, &ss, 1, &r));
    lp_buffer_release(r);
    lp_array_release(small);
    lp_array_release(ss);
    lp_array_release(x);
    lp_array_release(t);
    lp_array_release(s);
    lp_ctx_destroy(ctx);
}

static void test_config(void) {
    lp_ctx *ctx = NULL;
    LPT_OK(ctx, lp_ctx_create(&ctx));
    LPT_CHECK(lp_ctx_set_executor(ctx, "cloud") == LP_ERR_VALUE);
    LPT_CHECK(lp_ctx_set_workers(ctx, "") == LP_ERR_VALUE);
    LPT_CHECK(lp_ctx_set_workers(ctx, "127.0.0.1:80") == LP_ERR_VALUE);
    LPT_CHECK(lp_ctx_set_store(ctx, "s3://bucket") == LP_ERR_VALUE);
    lp_remote_config bad = {.inflight = -1};
    LPT_CHECK(lp_ctx_set_remote_config(ctx, &bad) == LP_ERR_VALUE);
    lp_remote_config badname = {.lambda = "../x"};
    LPT_CHECK(lp_ctx_set_remote_config(ctx, &badname) == LP_ERR_VALUE);
    /* lambda without workers: a clear error at run time */
    LPT_OK(ctx, lp_ctx_set_executor(ctx, "lambda"));
    lp_array *a = NULL;
    lp_buffer *r = NULL;
    LPT_OK(ctx, lp_ones(ctx, LP_FLOAT64, 1, (int64_t[]){10}, &a));
    LPT_CHECK(lp_run(ctx, &a, 1, &r) == LP_ERR_VALUE && strstr(lp_last_error(ctx), "workers"));
    lp_array_release(a);
    lp_ctx_destroy(ctx);

    /* tuned: one task per invocation, one in flight, two tries; and a lambda name that no
     * worker serves */
    ctx = remote_ctx();
    lp_remote_config cfg = {.lambda = "lampy", .inflight = 1, .max_tries = 2, .timeout_sec = 10, .batch = 1};
    LPT_OK(ctx, lp_ctx_set_remote_config(ctx, &cfg));
    LPT_OK(ctx, lp_arange(ctx, 0, 1000, 1, LP_FLOAT64, &a));
    lp_array *s = NULL;
    LPT_OK(ctx, lp_reduce(ctx, "sum", a, NULL, 0, false, &s));
    LPT_OK(ctx, lp_run(ctx, &s, 1, &r));
    LPT_CHECK(r && *(double *)lp_buffer_data(r) == 499500.0);
    lp_buffer_release(r);
    lp_array_release(s);
    lp_array_release(a);
    cfg.lambda = "nosuchlambda";
    LPT_OK(ctx, lp_ctx_set_remote_config(ctx, &cfg));
    LPT_OK(ctx, lp_arange(ctx, 0, 10, 1, LP_FLOAT64, &a));
    LPT_CHECK(lp_run(ctx, &a, 1, &r) == LP_ERR_REMOTE);
    LPT_CHECKF(strstr(lp_last_error(ctx), "HTTP 404") && strstr(lp_last_error(ctx), "no lambda named"), "%s",
               lp_last_error(ctx));
    lp_array_release(a);
    lp_ctx_destroy(ctx);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s WORKERS STORE\n", argv[0]);
        return 2;
    }
    workers = argv[1];
    store = argv[2];
    LPT_RUN(test_in_memory_data);
    LPT_RUN(test_cancel);
    LPT_RUN(test_config);
    return lpt_done("remote_client");
}
