/* Per-iteration overhead of loops that run inside the graph (issue 13).
 *
 *   empty    fori_loop whose body returns its carried value: the driver alone (no plan runs)
 *   scalar   fori_loop x = x + i over a 0-d int64: one one-task plan per iteration
 *   while    while_loop x < N: x = x + 1 over a 0-d int64: a cond plan and a body plan
 *   vector   fori_loop v = v * 0.5 + 1 over N elements (chunked, on the pool)
 *
 * For each: seconds per iteration (wall time of lp_run / iterations, best of R) and the peak
 * resident set size after the run, for 1..T threads. With --json one object per line.
 *
 * Usage: lampy-bench-loop [-n ITERS] [-e VECTOR_ELEMS] [-r REPS] [-t MAXTHREADS] [--json]
 */
#include "lampy.h"

#define BENCH_NAME "lampy-bench-loop"
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

enum { W_EMPTY, W_SCALAR, W_WHILE, W_VECTOR, W_COUNT };
static const char *const wname[W_COUNT] = {"empty", "scalar", "while", "vector"};

static double run_once(lp_ctx *ctx, int w, int64_t iters, int64_t elems) {
    lp_array *x0, *idx, *p, *q, *out, *k, *c = NULL, *cp = NULL;
    int64_t n = elems;
    CHECK(ctx, lp_loop_index(ctx, &idx));
    if (w == W_VECTOR) {
        CHECK(ctx, lp_zeros(ctx, LP_FLOAT64, 1, &n, &x0));
        CHECK(ctx, lp_placeholder(ctx, LP_FLOAT64, 1, &n, &p));
        lp_array *h, *m;
        CHECK(ctx, lp_scalar_array(ctx, lp_scalar_f(0.5), &h));
        CHECK(ctx, lp_binary(ctx, "multiply", p, h, &m));
        CHECK(ctx, lp_scalar_array(ctx, lp_scalar_f(1), &k));
        CHECK(ctx, lp_binary(ctx, "add", m, k, &q));
        lp_array_release(h);
        lp_array_release(m);
    } else {
        CHECK(ctx, lp_full(ctx, LP_INT64, 0, NULL, lp_scalar_i(0), &x0));
        CHECK(ctx, lp_placeholder(ctx, LP_INT64, 0, NULL, &p));
        CHECK(ctx, lp_scalar_array(ctx, lp_scalar_i(1), &k));
        if (w == W_EMPTY) { q = p; lp_array_retain(q); }
        else CHECK(ctx, lp_binary(ctx, "add", p, w == W_SCALAR ? idx : k, &q));
    }
    double t0 = bench_now();
    if (w == W_WHILE) {
        lp_array *lim, *bp = p;
        CHECK(ctx, lp_placeholder(ctx, LP_INT64, 0, NULL, &cp));
        CHECK(ctx, lp_scalar_array(ctx, lp_scalar_i(iters), &lim));
        CHECK(ctx, lp_binary(ctx, "less", cp, lim, &c));
        lp_subgraph cond = {1, &cp, 1, &c}, body = {1, &bp, 1, &q};
        CHECK(ctx, lp_while_loop(ctx, &cond, &body, 1, &x0, iters + 1, 0, &out));
        lp_array_release(lim);
    } else {
        lp_array *in[2] = {idx, p};
        lp_subgraph body = {2, in, 1, &q};
        CHECK(ctx, lp_fori_loop(ctx, 0, iters, &body, 1, &x0, &out));
    }
    lp_buffer *r;
    CHECK(ctx, lp_run(ctx, &out, 1, &r));
    double dt = bench_now() - t0;
    if (w == W_WHILE && *(int64_t *)lp_buffer_data(r) != iters) { fprintf(stderr, "loop bench: wrong result\n"); exit(1); }
    lp_buffer_release(r);
    lp_array *all[] = {x0, idx, p, q, out, k, c, cp};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) lp_array_release(all[i]);
    return dt;
}

int main(int argc, char **argv) {
    int64_t iters = 10000, elems = 1 << 20;
    int reps = 3, maxthreads = 2;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc) iters = atoll(argv[++i]);
        else if (!strcmp(argv[i], "-e") && i + 1 < argc) elems = atoll(argv[++i]);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc) maxthreads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json")) json = true;
        else { fprintf(stderr, "usage: lampy-bench-loop [-n ITERS] [-e ELEMS] [-r REPS] [-t THREADS] [--json]\n"); return 2; }
    }
    if (!json) printf("%-8s %7s %9s %14s %12s\n", "loop", "threads", "iters", "us/iteration", "peak RSS MB");
    for (int th = 1; th <= maxthreads; th++) {
        lp_ctx *ctx;
        CHECK(NULL, lp_ctx_create(&ctx));
        CHECK(ctx, lp_ctx_set_threads(ctx, th));
        for (int w = 0; w < W_COUNT; w++) {
            int64_t n = w == W_VECTOR ? (iters / 10 > 0 ? iters / 10 : 1) : iters;
            double best = 1e30;
            for (int r = 0; r < reps; r++) {
                double t = run_once(ctx, w, n, elems);
                if (t < best) best = t;
            }
            struct rusage ru;
            getrusage(RUSAGE_SELF, &ru);
            double us = best / (double)n * 1e6, rss = (double)ru.ru_maxrss / 1024.0;
            if (json)
                printf("{\"bench\":\"loop\",\"loop\":\"%s\",\"threads\":%d,\"iters\":%lld,\"elems\":%lld,"
                       "\"us_per_iter\":%.3f,\"peak_rss_mb\":%.1f}\n",
                       wname[w], th, (long long)n, (long long)(w == W_VECTOR ? elems : 1), us, rss);
            else
                printf("%-8s %7d %9lld %14.2f %12.1f\n", wname[w], th, (long long)n, us, rss);
        }
        lp_ctx_destroy(ctx);
    }
    return 0;
}
