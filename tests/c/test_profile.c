/* The machine profile's version 3 fields (issue 16), version 4's (issue 12: saving files,
 * spreading an orchestrated run, a process's first remote run), version 5's (replacing a
 * file; first-touch faults of all workers at once), version 6's (a run's file inputs) and
 * version 7's (the workers' reads of file inputs, written only once measured): JSON
 * round trip, older versions, the planner's chunk size from the profile, the automatic probe's conditions, the probe itself and its chunk rule. */
#include "lampy.h"
#include "lpt.h"
#include "exec/calibrate.h"
#include "kernels/kernels.h"
#include "plan/cost.h"
#include "plan/plan.h"

#include <math.h>
#include <stdint.h>
#include <unistd.h>

static void test_round_trip(void) {
    lp_ctx *ctx;
    LPT_OK(NULL, lp_ctx_create(&ctx));
    lpi_profile p, q;
    lpi_profile_default(&p);
    LPT_CHECK(p.chunk_bytes == 16 << 20 && p.huge_pages && p.nt_stores && !p.probed);
    p.chunk_bytes = 3 << 20;
    p.huge_pages = false;
    p.nt_stores = false;
    p.probed = true;
    p.mem_bw[0] = 12345678.9;
    p.file_write_bw = 1.25e9;
    p.file_sync_bw = 3.5e8;
    p.file_commit_s = 4.5e-3;
    p.remote_first_s = 2.5e-3;
    p.orch_lambda_s = 7.5e-4;
    p.file_drop_bw = 2.25e9;
    p.orch_input_s = 6.5e-4;
    /* not measured (the default): not written, and the local read rate prices remote reads */
    LPT_CHECK(p.remote_load_bw == 0 && lpi_remote_load_bw(&p) == p.load_bw1);
    char *text = lpi_profile_to_json_text(&p);
    LPT_CHECK(p.remote_write_bw == 0 && lpi_remote_write_bw(&p) == p.file_write_bw);
    LPT_CHECK(text && !strstr(text, "remote_load_bw") && !strstr(text, "remote_write_bw"));
    free(text);
    p.remote_load_bw = 3.25e9;
    p.remote_write_bw = 4.75e8;
    LPT_CHECK(lpi_remote_load_bw(&p) == 3.25e9 && lpi_remote_write_bw(&p) == 4.75e8);
    text = lpi_profile_to_json_text(&p);
    LPT_CHECK(text && strstr(text, "\"version\": 8") && strstr(text, "\"chunk_bytes\": 3145728") &&
              strstr(text, "\"remote_load_bw\"") && strstr(text, "\"remote_write_bw\""));
    LPT_CHECK(strstr(text, "\"file_sync_bw\"") && strstr(text, "\"orch_lambda_s\"") && strstr(text, "\"remote_first_s\"") &&
              strstr(text, "\"file_drop_bw\"") && strstr(text, "\"orch_input_s\""));
    LPT_OK(ctx, lpi_profile_from_json_text(ctx, "t", text, &q));
    free(text);
    LPT_CHECK(q.chunk_bytes == 3 << 20 && !q.huge_pages && !q.nt_stores && q.probed);
    LPT_CHECK(q.file_write_bw == 1.25e9 && q.file_sync_bw == 3.5e8 && q.file_commit_s == 4.5e-3);
    LPT_CHECK(q.remote_first_s == 2.5e-3 && q.orch_lambda_s == 7.5e-4 && q.file_drop_bw == 2.25e9 && q.orch_input_s == 6.5e-4);
    LPT_CHECK(q.remote_load_bw == 3.25e9 && q.remote_write_bw == 4.75e8);
    /* a local calibration keeps the remote figures, these too */
    lpi_profile r;
    lpi_profile_default(&r);
    lpi_profile_copy_remote(&r, &q);
    LPT_CHECK(r.remote_load_bw == 3.25e9 && r.remote_write_bw == 4.75e8);
    LPT_CHECK(fabs(q.mem_bw[0] - p.mem_bw[0]) < 1e-5 * p.mem_bw[0]);
    lp_ctx_destroy(ctx);
}

static void test_old_versions(void) {
    lp_ctx *ctx;
    LPT_OK(NULL, lp_ctx_create(&ctx));
    lpi_profile q;
    const char *v1 = "{\"format\": \"lampy.profile\", \"version\": 1, \"net_bw\": 5e8, \"rtt_s\": 1e-4}";
    LPT_OK(ctx, lpi_profile_from_json_text(ctx, "v1", v1, &q));
    LPT_CHECK(q.net_bw == 5e8 && q.chunk_bytes == 16 << 20 && q.huge_pages && q.nt_stores && !q.probed);
    const char *v2 = "{\"format\": \"lampy.profile\", \"version\": 2, \"calibrated\": true, \"mem_bw_1stream\": 3e10,"
                     " \"driver_task_s\": 1e-4}";
    LPT_OK(ctx, lpi_profile_from_json_text(ctx, "v2", v2, &q));
    LPT_CHECK(q.calibrated && q.mem_bw[0] == 3e10 && q.drv_task_s == 1e-4 && q.chunk_bytes == 16 << 20 && !q.probed);
    /* version 3: the file figures and the new remote ones are the built-in ones */
    const char *v3 = "{\"format\": \"lampy.profile\", \"version\": 3, \"chunk_bytes\": 2097152, \"orch_run_s\": 0.002}";
    LPT_OK(ctx, lpi_profile_from_json_text(ctx, "v3", v3, &q));
    LPT_CHECK(q.chunk_bytes == 2 << 20 && q.orch_run_s == 0.002 && q.file_write_bw == 2e9 && q.file_sync_bw == 200e6 &&
              q.file_commit_s == 10e-3 && q.remote_first_s == 5e-3 && q.orch_lambda_s == 1e-3);
    /* version 4: replacing a file is priced with the built-in figure */
    const char *v4 = "{\"format\": \"lampy.profile\", \"version\": 4, \"file_write_bw\": 1e9}";
    LPT_OK(ctx, lpi_profile_from_json_text(ctx, "v4", v4, &q));
    LPT_CHECK(q.file_write_bw == 1e9 && q.file_drop_bw == 4e9);
    /* version 5: a run's file inputs are priced with the built-in figure per lambda */
    const char *v5 = "{\"format\": \"lampy.profile\", \"version\": 5, \"file_drop_bw\": 1e9}";
    LPT_OK(ctx, lpi_profile_from_json_text(ctx, "v5", v5, &q));
    LPT_CHECK(q.file_drop_bw == 1e9 && q.orch_input_s == 1e-3);
    /* version 6: the workers' reads are priced with the profile's own local read rate */
    const char *v6 = "{\"format\": \"lampy.profile\", \"version\": 6, \"load_bw_1worker\": 3e9}";
    LPT_OK(ctx, lpi_profile_from_json_text(ctx, "v6", v6, &q));
    LPT_CHECK(q.remote_load_bw == 0 && lpi_remote_load_bw(&q) == 3e9);
    /* version 7: the tasks' writes into a result file are priced with the local write rate */
    const char *v7 = "{\"format\": \"lampy.profile\", \"version\": 7, \"file_write_bw\": 1.5e9, \"remote_load_bw\": 2e9}";
    LPT_OK(ctx, lpi_profile_from_json_text(ctx, "v7", v7, &q));
    LPT_CHECK(q.remote_load_bw == 2e9 && q.remote_write_bw == 0 && lpi_remote_write_bw(&q) == 1.5e9);
    /* bad values get a message and leave nothing half-read */
    const char *bad[] = {
        "{\"format\": \"lampy.profile\", \"version\": 9}",
        "{\"format\": \"lampy.profile\", \"version\": 8, \"remote_write_bw\": -2}",
        "{\"format\": \"lampy.profile\", \"version\": 6, \"orch_input_s\": 0}",
        "{\"format\": \"lampy.profile\", \"version\": 7, \"remote_load_bw\": 0}",
        "{\"format\": \"lampy.profile\", \"version\": 4, \"file_sync_bw\": 0}",
        "{\"format\": \"lampy.profile\", \"version\": 5, \"file_drop_bw\": -1}",
        "{\"format\": \"lampy.profile\", \"version\": 3, \"chunk_bytes\": 1000}",
        "{\"format\": \"lampy.profile\", \"version\": 3, \"chunk_bytes\": 1e12}",
        "{\"format\": \"lampy.profile\", \"version\": 3, \"huge_pages\": 1}",
        "{\"format\": \"lampy.profile\", \"version\": 3, \"probed\": \"yes\"}",
    };
    const char *msg[] = {"unsupported profile version", "'remote_write_bw' must be a positive number", "'orch_input_s' must be a positive number",
                         "'remote_load_bw' must be a positive number", "'file_sync_bw' must be a positive number",
                         "'file_drop_bw' must be a positive number", "'chunk_bytes' must be in", "'chunk_bytes' must be in",
                         "'huge_pages' must be true or false", "'probed' must be true or false"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        lp_status st = lpi_profile_from_json_text(ctx, "bad", bad[i], &q);
        LPT_CHECKF(st != LP_OK && strstr(lp_last_error(ctx), msg[i]), "%s: %s", bad[i], lp_last_error(ctx));
    }
    lp_ctx_destroy(ctx);
}

static lp_status sum_of(lp_ctx *ctx, int64_t n, double *v, int64_t *tasks) {
    lp_array *x, *s;
    lp_status st = lp_random_uniform(ctx, 11, 0, 1, LP_FLOAT64, 1, &n, &x);
    if (st) return st;
    st = lp_reduce(ctx, "sum", x, NULL, 0, false, &s);
    lp_array_release(x);
    if (st) return st;
    lp_buffer *b = NULL;
    st = lp_run(ctx, &s, 1, &b);
    if (!st) {
        memcpy(v, lp_buffer_data(b), 8);
        lp_run_stats rs;
        lp_last_run_stats(ctx, &rs);
        *tasks = rs.tasks;
    }
    lp_buffer_release(b);
    lp_array_release(s);
    return st;
}

static void test_planner_follows_profile(void) {
    lp_ctx *ctx;
    LPT_OK(NULL, lp_ctx_create(&ctx));
    lpi_profile p;
    lpi_profile_default(&p);
    LPT_CHECK(lpi_cost_chunk_bytes(NULL, (int64_t)1 << 30) == 16 << 20);
    p.chunk_bytes = 1 << 20;
    LPT_OK(ctx, lpi_profile_set(ctx, &p));
    LPT_CHECK(lpi_target_chunk_bytes(ctx, (int64_t)256 << 20) == 1 << 20);
    LPT_CHECK(lpi_target_chunk_bytes(ctx, (int64_t)2 << 20) == 256 << 10); /* small: 256 KiB */
    LPT_CHECK(lpi_target_chunk_bytes(ctx, (int64_t)8 << 20) == 512 << 10); /* 16 chunks, under the cap */
    int64_t t1, t2, t3;
    double v1 = 0, v2 = 1, v3 = 2;
    const int64_t n = 4 << 20; /* 32 MiB */
    LPT_OK(ctx, sum_of(ctx, n, &v1, &t1));
    p.chunk_bytes = 64 << 20;
    LPT_OK(ctx, lpi_profile_set(ctx, &p));
    LPT_CHECK(lpi_target_chunk_bytes(ctx, (int64_t)256 << 20) == 16 << 20); /* 16 chunks */
    LPT_CHECK(lpi_target_chunk_bytes(ctx, (int64_t)4 << 30) == 64 << 20);   /* the cap */
    LPT_OK(ctx, sum_of(ctx, n, &v2, &t2));
    /* the profile's chunks: 32 of 1 MiB, then 16 of 2 MiB. Another chunking sums in another
     * order: equal to rounding (the same bits only for the same chunking, any pool size) */
    LPT_CHECKF(t1 > t2 && t1 >= 32 && t2 >= 16, "tasks %lld / %lld", (long long)t1, (long long)t2);
    LPT_CHECKF(fabs(v1 - v2) <= 1e-12 * fabs(v1), "%.17g vs %.17g", v1, v2);
    /* the user's chunk size wins over the profile */
    LPT_OK(ctx, lp_ctx_set_chunk_bytes(ctx, 123456));
    LPT_CHECK(lpi_target_chunk_bytes(ctx, (int64_t)256 << 20) == 123456);
    LPT_OK(ctx, sum_of(ctx, n, &v3, &t3));
    LPT_CHECKF(fabs(v3 - v1) <= 1e-12 * fabs(v1) && t3 > t1, "%.17g vs %.17g, %lld tasks", v3, v1, (long long)t3);
    LPT_OK(ctx, lp_ctx_set_chunk_bytes(ctx, 0));
    /* the same profile on one worker: the same bits */
    {
        lp_ctx *one;
        double w = 3;
        int64_t tw;
        LPT_OK(NULL, lp_ctx_create(&one));
        LPT_OK(one, lp_ctx_set_threads(one, 1));
        LPT_OK(one, lpi_profile_set(one, &p));
        LPT_OK(one, sum_of(one, n, &w, &tw));
        LPT_CHECK(memcmp(&w, &v2, 8) == 0 && tw == t2);
        lp_ctx_destroy(one);
    }
    /* the profile's kernel choices apply process-wide, and come back */
    p.nt_stores = false;
    p.huge_pages = false;
    LPT_OK(ctx, lpi_profile_set(ctx, &p));
    LPT_CHECK(!lpi_vm_stream() && !lpi_alloc_huge());
    lpi_profile_default(&p);
    LPT_OK(ctx, lpi_profile_set(ctx, &p));
    LPT_CHECK(lpi_alloc_huge());
    lp_ctx_destroy(ctx);
}

static int probes;
static lp_status fake_probe(lp_ctx *ctx, lpi_profile *out) {
    (void)ctx;
    probes++;
    lpi_profile_default(out);
    out->chunk_bytes = 512 << 10;
    out->probed = true;
    return LP_OK;
}

static void test_auto_probe_conditions(void) {
    char dir[] = "/tmp/lampy-test-profile-XXXXXX";
    LPT_CHECK(mkdtemp(dir) != NULL);
    char *keep_env = getenv("LAMPY_PROFILE") ? strdup(getenv("LAMPY_PROFILE")) : NULL;
    setenv("XDG_CONFIG_HOME", dir, 1);
    lpi_set_profile_prober(fake_probe);
    lp_ctx *ctx;
    LPT_OK(NULL, lp_ctx_create(&ctx));
    /* LAMPY_PROFILE names a profile (here a missing one): the built-in figures, no probe */
    setenv("LAMPY_PROFILE", "/nonexistent/lampy-profile.json", 1);
    LPT_CHECK(lpi_target_chunk_bytes(ctx, (int64_t)1 << 30) == 16 << 20 && probes == 0);
    /* nothing anywhere: probed once, the context keeps the result */
    unsetenv("LAMPY_PROFILE");
    LPT_CHECK(lpi_target_chunk_bytes(ctx, (int64_t)2 << 20) == 256 << 10 && probes == 0); /* small: not needed */
    LPT_CHECK(lpi_target_chunk_bytes(ctx, (int64_t)1 << 30) == 512 << 10 && probes == 1);
    LPT_CHECK(lpi_target_chunk_bytes(ctx, (int64_t)1 << 30) == 512 << 10 && probes == 1);
    lp_ctx_destroy(ctx);
    /* the user's chunk size: no probe */
    LPT_OK(NULL, lp_ctx_create(&ctx));
    LPT_OK(ctx, lp_ctx_set_chunk_bytes(ctx, 1 << 20));
    LPT_CHECK(lpi_target_chunk_bytes(ctx, (int64_t)1 << 30) == 1 << 20 && probes == 1);
    lp_ctx_destroy(ctx);
    lpi_set_profile_prober(lpi_probe_auto);
    if (keep_env) setenv("LAMPY_PROFILE", keep_env, 1);
    free(keep_env);
    unsetenv("XDG_CONFIG_HOME");
    rmdir(dir);
}

static void test_probe_values(void) {
    lp_ctx *ctx;
    LPT_OK(NULL, lp_ctx_create(&ctx));
    lpi_profile p;
    lpi_profile_default(&p);
    p.chunk_bytes = 0;
    p.task_overhead = 0;
    const bool nt = lpi_vm_stream(), huge = lpi_alloc_huge();
    LPT_OK(ctx, lpi_probe_machine(ctx, &p, true, NULL));
    /* the overhead per task is the probe's (the one measurement; `lampy calibrate` keeps it) */
    LPT_CHECKF(p.task_overhead >= 1e-8 && p.task_overhead <= 1e-3, "task_overhead %g", p.task_overhead);
    /* one of the sizes swept (1 MiB .. 32 MiB, powers of two) */
    int64_t cb = (int64_t)p.chunk_bytes;
    LPT_CHECKF(cb >= 1 << 20 && cb <= 32 << 20 && (cb & (cb - 1)) == 0, "chunk_bytes %lld", (long long)cb);
    LPT_CHECK(p.probed && p.mem_bw1[0] >= 1e8 && p.mem_bw[0] >= p.mem_bw1[0] && p.fresh_bw1 >= 1e8);
    /* first-touch faults with every worker at once: measured, never above one worker alone */
    LPT_CHECK(p.fresh_bw >= 1e8 && p.fresh_bw <= p.fresh_bw1);
    /* the probe leaves the process's kernel choices as they were */
    LPT_CHECK(lpi_vm_stream() == nt && lpi_alloc_huge() == huge);
    /* and its result is a valid profile */
    char *text = lpi_profile_to_json_text(&p);
    lpi_profile q;
    LPT_OK(ctx, lpi_profile_from_json_text(ctx, "probed", text, &q));
    free(text);
    LPT_CHECK(q.chunk_bytes == p.chunk_bytes && q.nt_stores == p.nt_stores && q.huge_pages == p.huge_pages);
    LPT_CHECK(fabs(q.task_overhead - p.task_overhead) <= 1e-5 * p.task_overhead); /* 6 digits in JSON */
    lp_ctx_destroy(ctx);
}

/* The remote calibration's paired fit of remote_par (lpi_cal_paired_par): rounds timed from
 * the model itself (the cores k times as slow: lpi_profile_scale_cores; the remote run at a
 * known parallelism) give back each round's parallelism and speed, their medians across rounds,
 * and the bounds 1 and hi for remote runs faster or slower than any parallelism explains. */
static double model_total(lp_ctx *ctx, const lpi_profile *P, lpi_plan *pl, int workers, lpi_cost_mode mode) {
    lpi_cost_summary s;
    LPT_OK(ctx, lpi_profile_set(ctx, P));
    LPT_OK(ctx, lpi_cost_plan(ctx, pl, workers, mode, false, &s));
    return s.total;
}

static void test_paired_parallelism(void) {
    lp_ctx *ctx;
    LPT_OK(NULL, lp_ctx_create(&ctx));
    lpi_profile P;
    lpi_profile_default(&P);
    P.cores = 2;
    P.op_s[LPI_OP_SIN] = 9e-9;
    P.op_s[LPI_OP_EXP] = 7e-9;
    P.op_s[LPI_OP_MULTIPLY] = 4e-10;
    P.op_s[LPI_OP_SUM] = 5e-10;
    P.op_s[LPI_OP_ARANGE] = 6e-10;
    P.rtt = 5e-5;
    P.invoke = 4e-4;
    P.orch_run_s = 1.5e-3;
    P.orch_task_s = 1.2e-4;
    P.orch_lambda_s = 1e-3;
    P.remote_first_s = 0;
    P.remote_over_par = 8;
    LPT_OK(ctx, lpi_profile_set(ctx, &P));
    /* sin(exp(sin(arange(2^16) * 1e-6))).sum() in 64 KiB chunks: 8 compute-bound partial sums */
    lp_array *a, *k, *y, *z, *w, *v, *x;
    LPT_OK(ctx, lp_ctx_set_chunk_bytes(ctx, 65536));
    LPT_OK(ctx, lp_arange(ctx, 0, 65536, 1, LP_FLOAT64, &a));
    LPT_OK(ctx, lp_scalar_array(ctx, lp_scalar_f(1e-6), &k));
    LPT_OK(ctx, lp_binary(ctx, "multiply", a, k, &y));
    LPT_OK(ctx, lp_unary(ctx, "sin", y, &z));
    LPT_OK(ctx, lp_unary(ctx, "exp", z, &w));
    LPT_OK(ctx, lp_unary(ctx, "sin", w, &v));
    LPT_OK(ctx, lp_reduce(ctx, "sum", v, NULL, 0, false, &x));
    lpi_plan *pl;
    LPT_OK(ctx, lpi_plan_build(ctx, &x, 1, &pl));

    /* scaling the cores: a task's op costs and overhead k times, its rates 1/k; the local time
     * of a plan on one worker is a + b k, and scaling back restores the figures */
    lpi_profile Q = P;
    lpi_profile_scale_cores(&Q, 4);
    LPT_CHECK(Q.op_s[LPI_OP_SIN] == 4 * 9e-9 && Q.task_overhead == 4 * P.task_overhead && Q.rate[LPI_CC_MATH] == P.rate[LPI_CC_MATH] / 4);
    LPT_CHECK(Q.mem_bw1[0] == P.mem_bw1[0] / 4 && Q.cache_bw1 == P.cache_bw1 / 4);
    LPT_CHECK(Q.load_bw1 == P.load_bw1 && Q.fresh_bw == P.fresh_bw && Q.run_overhead == P.run_overhead && Q.rtt == P.rtt);
    lpi_profile_scale_cores(&Q, 0.25);
    LPT_CHECK(fabs(Q.op_s[LPI_OP_SIN] - 9e-9) < 1e-20 && fabs(Q.rate[LPI_CC_MATH] / P.rate[LPI_CC_MATH] - 1) < 1e-12);
    double m[4];
    for (int i = 1; i <= 3; i++) {
        Q = P;
        lpi_profile_scale_cores(&Q, i);
        m[i] = model_total(ctx, &Q, pl, 1, LPI_COST_LOCAL);
    }
    LPT_CHECKF(fabs((m[3] - m[2]) - (m[2] - m[1])) < 1e-9 * m[3] && m[2] > m[1], "%g %g %g", m[1], m[2], m[3]);

    /* rounds: (k, parallelism) of each, the times the model gives for them */
    const double ks[5] = {1.5, 0.8, 3.0, 1.1, 2.2}, pars[5] = {1.6, 1.9, 1.2, 1.75, 1.3};
    double tl[5], tr[5];
    for (int r = 0; r < 5; r++) {
        Q = P;
        lpi_profile_scale_cores(&Q, ks[r]);
        tl[r] = model_total(ctx, &Q, pl, 1, LPI_COST_LOCAL);
        Q.remote_par = pars[r];
        tr[r] = model_total(ctx, &Q, pl, 8, LPI_COST_ORCH);
    }
    double par = 0, speed = 0;
    LPT_OK(ctx, lpi_cal_paired_par(ctx, &P, pl, 8, LPI_COST_ORCH, 2, tl, tr, 5, &par, &speed));
    /* medians: parallelism 1.6 (1.2 1.3 1.6 1.75 1.9), speed 1.5 (0.8 1.1 1.5 2.2 3.0) */
    LPT_CHECKF(fabs(par - 1.6) < 1e-6 && fabs(speed - 1.5) < 1e-9, "par %.9g speed %.9g", par, speed);
    /* one round alone gives its own figures back */
    LPT_OK(ctx, lpi_cal_paired_par(ctx, &P, pl, 8, LPI_COST_ORCH, 2, &tl[2], &tr[2], 1, &par, &speed));
    LPT_CHECKF(fabs(par - 1.2) < 1e-6 && fabs(speed - 3.0) < 1e-9, "par %.9g speed %.9g", par, speed);
    /* a remote run faster than hi tasks at once explain: hi (the cores); slower than one: 1 */
    double fast = tr[0] / 10, slow = tr[0] * 10;
    LPT_OK(ctx, lpi_cal_paired_par(ctx, &P, pl, 8, LPI_COST_ORCH, 2, tl, &fast, 1, &par, NULL));
    LPT_CHECKF(fabs(par - 2) < 1e-9, "par %.9g", par);
    LPT_OK(ctx, lpi_cal_paired_par(ctx, &P, pl, 8, LPI_COST_ORCH, 2, tl, &slow, 1, &par, NULL));
    LPT_CHECKF(fabs(par - 1) < 1e-9, "par %.9g", par);
    LPT_CHECK(lpi_cal_paired_par(ctx, &P, pl, 8, LPI_COST_ORCH, 2, tl, tr, 0, &par, NULL) == LP_ERR_VALUE);

    lpi_plan_destroy(pl);
    lp_array *all[] = {a, k, y, z, w, v, x};
    for (int i = 0; i < 7; i++) lp_array_release(all[i]);
    lp_ctx_destroy(ctx);
}

/* The probe's chunk rule on hand-made sweeps (exec/probe.c, lpi_probe_pick_chunk): 1..32 MiB
 * over a 128 MiB array on 2 workers, sum(a) at best 8 ms, a*1.5+0.5 at 16 ms. A task of s MiB
 * then streams for 8 ms * 2 * s / 128 = 125 us * s on its worker; at 3 us of overhead per task
 * that is 2.4% at 1 MiB and 1.2% at 2 MiB, so under a 2% bound 2 MiB is the smallest allowed. */
static void fill_sweep(lpi_chunk_trial *tr, double spread) {
    for (int s = 0; s < 6; s++) {
        tr[s].bytes = (int64_t)1 << (20 + s);
        tr[s].best[0] = 0.008;
        tr[s].best[1] = 0.016;
        tr[s].spread[0] = tr[s].spread[1] = spread;
    }
}

static void test_pick_chunk(void) {
    const int64_t A = (int64_t)128 << 20;
    lpi_chunk_trial tr[6];
    double noise = -1;
    /* flat within noise: the smallest size whose overhead is under the bound */
    fill_sweep(tr, 0.02);
    tr[3].best[0] = 0.0079; /* 8 MiB a hair faster: a tie, not a reason */
    LPT_CHECK(lpi_probe_pick_chunk(tr, 6, A, 2, 3e-6, 0.02, &noise) == 1);
    LPT_CHECK(fabs(noise - 0.02) < 1e-12);
    /* 2 MiB clearly slower (20% on one op, beyond the rounds' 2% spread): the next size up */
    fill_sweep(tr, 0.02);
    tr[1].best[1] = 0.0192;
    LPT_CHECK(lpi_probe_pick_chunk(tr, 6, A, 2, 3e-6, 0.02, &noise) == 2);
    /* the same 20% on a sweep whose rounds spread by 30%: within the noise, a tie again */
    fill_sweep(tr, 0.30);
    tr[1].best[1] = 0.0192;
    LPT_CHECK(lpi_probe_pick_chunk(tr, 6, A, 2, 3e-6, 0.02, &noise) == 1);
    LPT_CHECK(fabs(noise - 0.30) < 1e-12);
    /* the noise is the median spread (here of 0 x 6 and 0.5 x 6: 0.25), at least 1% */
    fill_sweep(tr, 0);
    for (int s = 0; s < 6; s++) tr[s].spread[1] = 0.5;
    lpi_probe_pick_chunk(tr, 6, A, 2, 3e-6, 0.02, &noise);
    LPT_CHECK(fabs(noise - 0.25) < 1e-12);
    fill_sweep(tr, 0);
    lpi_probe_pick_chunk(tr, 6, A, 2, 3e-6, 0.02, &noise);
    LPT_CHECK(fabs(noise - 0.01) < 1e-12);
    /* cheaper tasks allow smaller chunks: 1 us is 0.8% at 1 MiB */
    fill_sweep(tr, 0.02);
    LPT_CHECK(lpi_probe_pick_chunk(tr, 6, A, 2, 1e-6, 0.02, &noise) == 0);
    /* the same 8 ms from one worker: it streams each task in half the time (62.5 us per MiB),
     * so the overhead is 2.4% at 2 MiB and 1.2% at 4 MiB */
    LPT_CHECK(lpi_probe_pick_chunk(tr, 6, A, 1, 3e-6, 0.02, &noise) == 2);
    /* no tie within the bound (100 us per task): the tie with the least overhead, the largest */
    LPT_CHECK(lpi_probe_pick_chunk(tr, 6, A, 2, 1e-4, 0.02, &noise) == 5);
    /* ... unless it is measurably slower: then the largest of the ties */
    tr[5].best[0] = 0.012;
    LPT_CHECK(lpi_probe_pick_chunk(tr, 6, A, 2, 1e-4, 0.02, &noise) == 4);
    /* a lucky run: 32 MiB once took half the usual time on one op, but its other round took
     * 2.4x that (spread 140%): no evidence against the others, and the speed of a task is the
     * sweep's median, not the lucky one */
    fill_sweep(tr, 0.05);
    tr[5].best[1] = 0.008;
    tr[5].spread[1] = 1.4;
    LPT_CHECK(lpi_probe_pick_chunk(tr, 6, A, 2, 3e-6, 0.02, &noise) == 1);
    LPT_CHECK(noise > 0.5);
    /* the order of the trials does not matter */
    fill_sweep(tr, 0.02);
    lpi_chunk_trial rev[6];
    for (int s = 0; s < 6; s++) rev[s] = tr[5 - s];
    LPT_CHECK(rev[lpi_probe_pick_chunk(rev, 6, A, 2, 3e-6, 0.02, &noise)].bytes == (int64_t)2 << 20);
    /* one size: that one */
    LPT_CHECK(lpi_probe_pick_chunk(tr + 3, 1, A, 2, 3e-6, 0.02, &noise) == 0);
}

/* Rounds spread through a calibration (lpi_cal_sampler): each sampler's rounds fall evenly over
 * the ticks, the first at the first tick and the last at the last, never more than `want`; with
 * more rounds than ticks several per tick; a calibration that ticks less than it planned gets the
 * rest from lpi_cal_finish; a round's error stops the tick. */
typedef struct rec {
    lpi_cal_ticks *t;
    int at[LPI_CAL_ROUNDS]; /* the tick of each round */
    int fail_at;            /* the round that fails (-1: none) */
} rec;

static lp_status rec_round(void *arg, int r, double *v) {
    rec *c = arg;
    if (r == c->fail_at) return LP_ERR_IO;
    c->at[r] = c->t->tick;
    v[0] = r, v[1] = -r;
    return LP_OK;
}

static void test_spread_rounds(void) {
    /* the schedule alone: 9 rounds over 14 ticks, 15 over 14, 14 over 14 */
    const int cases[3][2] = {{9, 14}, {15, 14}, {14, 14}};
    for (int c = 0; c < 3; c++) {
        const int want = cases[c][0], ticks = cases[c][1];
        int have = 0, first = -1, last = -1, gap = 0, prev = -1;
        for (int i = 0; i < ticks; i++) {
            int k = lpi_cal_due(want, have, i, ticks);
            LPT_CHECKF(k >= 0 && k <= (want + ticks - 1) / ticks, "want %d tick %d: %d due", want, i, k);
            if (k && first < 0) first = i;
            if (k) {
                if (prev >= 0 && i - prev > gap) gap = i - prev;
                prev = last = i;
            }
            have += k;
        }
        LPT_CHECKF(have == want && first == 0 && last == ticks - 1, "want %d: %d rounds, ticks %d..%d", want, have, first, last);
        /* evenly: no two rounds further apart than ticks / want rounded up */
        LPT_CHECKF(gap <= (ticks + want - 1) / want, "want %d over %d ticks: a gap of %d", want, ticks, gap);
    }
    LPT_CHECK(lpi_cal_due(9, 9, 13, 14) == 0 && lpi_cal_due(9, 9, 20, 14) == 0 && lpi_cal_due(9, 3, 20, 14) == 6);

    /* two samplers through the ticks: their rounds at the ticks the schedule says, their values kept */
    lpi_cal_ticks t = {{0}, 0, 0, 14};
    rec a = {&t, {0}, -1}, b = {&t, {0}, -1};
    lpi_cal_sampler sa = {rec_round, &a, 9, 0, {{0}}}, sb = {rec_round, &b, 15, 0, {{0}}};
    t.s[t.ns++] = &sa;
    t.s[t.ns++] = &sb;
    for (int i = 0; i < 14; i++) LPT_OK(NULL, lpi_cal_tick(&t));
    LPT_OK(NULL, lpi_cal_finish(&t));
    LPT_CHECKF(sa.n == 9 && sb.n == 15, "%d %d rounds", sa.n, sb.n);
    /* 15 over 14 ticks: one tick takes two */
    int twice = 0;
    for (int r = 1; r < 15; r++) twice += b.at[r] == b.at[r - 1];
    LPT_CHECKF(a.at[0] == 0 && a.at[8] == 13 && b.at[0] == 0 && b.at[14] == 13 && twice == 1, "a %d..%d b %d..%d, %d", a.at[0],
               a.at[8], b.at[0], b.at[14], twice);
    for (int r = 0; r < 15; r++) LPT_CHECK(sb.v[0][r] == r && sb.v[1][r] == -r);

    /* a calibration that ticked 5 times of the 14 it planned: finish takes the rest (at tick 5) */
    lpi_cal_ticks u = {{0}, 0, 0, 14};
    rec c = {&u, {0}, -1};
    lpi_cal_sampler sc = {rec_round, &c, 9, 0, {{0}}};
    u.s[u.ns++] = &sc;
    for (int i = 0; i < 5; i++) LPT_OK(NULL, lpi_cal_tick(&u));
    /* rounds 0..2 at ticks 0, 2, 3 (round(j 13 / 8)) */
    LPT_CHECKF(sc.n == 3 && c.at[1] == 2 && c.at[2] == 3, "%d rounds after 5 of 14 ticks", sc.n);
    LPT_OK(NULL, lpi_cal_finish(&u));
    LPT_CHECKF(sc.n == 9 && c.at[8] == 5, "%d rounds, the last at tick %d", sc.n, c.at[8]);

    /* a round that fails: its error, and the rounds before it kept */
    lpi_cal_ticks w = {{0}, 0, 0, 3};
    rec d = {&w, {0}, 4};
    lpi_cal_sampler sd = {rec_round, &d, 9, 0, {{0}}};
    w.s[w.ns++] = &sd;
    LPT_OK(NULL, lpi_cal_tick(&w)); /* rounds 0..2: round(j 2 / 8) is 0 */
    LPT_CHECKF(lpi_cal_tick(&w) == LP_ERR_IO && sd.n == 4, "%d rounds", sd.n);
}

/* The probe's thread comparison on hand-made clocks (exec/probe.c, lpi_probe_run_time): the
 * time the workers held their cores. */
static void test_probe_run_time(void) {
    /* quiet: two workers busy all along (CPU 2 x wall): the wall time */
    LPT_CHECK(lpi_probe_run_time(0.020, 0.040, 2) == 0.020);
    /* a compile held one core for half the run: 30 ms of wall, 40 ms of CPU: 20 ms on the cores
     * (the wall clock alone made the second thread look worth 0.67x) */
    LPT_CHECK(lpi_probe_run_time(0.030, 0.040, 2) == 0.020);
    /* one worker preempted for a third of its run */
    LPT_CHECK(fabs(lpi_probe_run_time(0.030, 0.020, 1) - 0.020) < 1e-15);
    /* other threads of the process also ran (CPU above W x wall): never below the wall time */
    LPT_CHECK(lpi_probe_run_time(0.020, 0.070, 2) == 0.020);
    /* no CPU figure: the wall time */
    LPT_CHECK(lpi_probe_run_time(0.020, 0, 2) == 0.020);
}

/* The probe's fresh-page rule on hand-made rounds (exec/probe.c, lpi_probe_pick_fresh): 64 MiB,
 * times in ms as measured on the Firecracker VM (docs/PERFORMANCE.md, fresh16). Round 0 is the
 * first touch of memory the probe has not just freed; the later rounds reuse freed memory. */
static void test_pick_fresh(void) {
    const size_t B = (size_t)64 << 20;
    double bw = 0;
    /* huge pages 136 ms cold but 8 ms once freed, 4 KiB pages 35 ms either way, rewrite 5 ms:
     * round 0 decides (the least of the rounds, 8 ms, said yes), and the rate is 4 KiB pages'
     * first touch beyond the rewrite: 64 MiB / 30 ms */
    lpi_fresh_trial vm[3] = {{0.136, 0.035, 0.005}, {0.008, 0.033, 0.005}, {0.008, 0.034, 0.006}};
    LPT_CHECK(!lpi_probe_pick_fresh(vm, 3, B, &bw));
    LPT_CHECKF(fabs(bw - (double)B / 0.030) < 1e-6 * bw, "bw %g", bw);
    /* a machine whose huge pages cost the same cold or not: yes, at their rate, 64 MiB / 4 ms */
    lpi_fresh_trial host[2] = {{0.009, 0.035, 0.005}, {0.008, 0.034, 0.005}};
    LPT_CHECK(lpi_probe_pick_fresh(host, 2, B, &bw));
    LPT_CHECKF(fabs(bw - (double)B / 0.004) < 1e-6 * bw, "bw %g", bw);
    /* kept unless they lose by more than 10%: 38.5 ms against 35 is a tie, 38.6 is not */
    lpi_fresh_trial tie = {0.0385, 0.035, 0.005};
    LPT_CHECK(lpi_probe_pick_fresh(&tie, 1, B, &bw));
    LPT_CHECKF(fabs(bw - (double)B / 0.0335) < 1e-6 * bw, "bw %g", bw);
    tie.huge = 0.0386;
    LPT_CHECK(!lpi_probe_pick_fresh(&tie, 1, B, &bw));
    /* the rewrite is the least of all rounds' (a busy moment slows one round's stores) */
    lpi_fresh_trial busy[2] = {{0.020, 0.035, 0.015}, {0.010, 0.034, 0.004}};
    LPT_CHECK(lpi_probe_pick_fresh(busy, 2, B, &bw));
    LPT_CHECKF(fabs(bw - (double)B / 0.016) < 1e-6 * bw, "bw %g", bw);
    /* a first touch no slower than its rewrite: the bound 1e11 B/s, never a negative time */
    lpi_fresh_trial free_ = {0.004, 0.035, 0.005};
    LPT_CHECK(lpi_probe_pick_fresh(&free_, 1, B, &bw));
    LPT_CHECKF(fabs(bw - 1e11) < 1e-6 * bw, "bw %g", bw);
}

int main(void) {
    LPT_RUN(test_round_trip);
    LPT_RUN(test_old_versions);
    LPT_RUN(test_planner_follows_profile);
    LPT_RUN(test_auto_probe_conditions);
    LPT_RUN(test_probe_values);
    LPT_RUN(test_paired_parallelism);
    LPT_RUN(test_pick_chunk);
    LPT_RUN(test_pick_fresh);
    LPT_RUN(test_spread_rounds);
    LPT_RUN(test_probe_run_time);
    return lpt_done("profile");
}
