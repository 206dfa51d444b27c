/* lp_run and friends: plan, allocate the targets' results, execute, publish. */
#include "exec/calibrate.h"
#include "exec/exec.h"
#include "exec/loop.h"
#include "exec/orchestrate.h"
#include "io/npy.h"
#include "io/zarr.h"
#include "plan/cost.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

lp_status lpi_plan_alloc_targets(lp_ctx *ctx, lpi_plan *plan) {
    for (int t = 0; t < plan->ntargets; t++) {
        int p = plan->target_pnode[t];
        plan->target_buf[t] = NULL;
        for (int u = 0; u < t; u++)
            if (plan->target_pnode[u] == p) { plan->target_buf[t] = plan->target_buf[u]; lp_buffer_retain(plan->target_buf[t]); break; }
        if (plan->target_buf[t]) continue;
        if (plan->target_sink && plan->target_sink[t] && plan->target_sink[t]->taken) continue; /* no buffer */
        const lpi_pnode *pn = &plan->pnodes[p];
        if (!(plan->target_buf[t] = lpi_buffer_new(pn->dtype, pn->ndim, pn->shape))) {
            for (int u = 0; u < t; u++) { lp_buffer_release(plan->target_buf[u]); plan->target_buf[u] = NULL; }
            return lpi_nomem(ctx);
        }
    }
    return LP_OK;
}

lp_status lpi_exec_plan(lp_ctx *ctx, lpi_plan *plan) {
    return lpi_remote_enabled(ctx) ? lpi_exec_remote(ctx, plan) : lpi_exec_local(ctx, plan);
}

/* Orchestration by functions: no plan here (the workers make it), results straight into the
 * targets' new buffers. */
static lp_status run_orchestrated(lp_ctx *ctx, lp_array *const *targets, int n, lpi_result_sink *const *sinks) {
    lp_buffer **bufs = lp_calloc((size_t)n, sizeof *bufs);
    if (!bufs) return lpi_nomem(ctx);
    lp_status st = LP_OK;
    /* the workers plan: every target's chunks are written by tasks, so every sink is taken */
    for (int t = 0; t < n && sinks; t++)
        if (sinks[t]) sinks[t]->taken = true;
    for (int t = 0; t < n && !st; t++)
        if (!(sinks && sinks[t]) && !(bufs[t] = lpi_buffer_new(targets[t]->dtype, targets[t]->ndim, targets[t]->shape)))
            st = lpi_nomem(ctx);
    double t1 = lpi_now();
    if (!st) st = lpi_orch_run(ctx, targets, n, bufs, sinks);
    ctx->stats.run_seconds += lpi_now() - t1;
    for (int t = 0; t < n; t++) {
        lp_array *a = targets[t];
        if (!st && bufs[t]) {
            pthread_mutex_lock(&a->result_lock);
            if (!a->result) { a->result = bufs[t]; bufs[t] = NULL; }
            pthread_mutex_unlock(&a->result_lock);
        }
        lp_buffer_release(bufs[t]);
    }
    lp_free(bufs);
    return st;
}

/* The driver-centric remote executor writes a sunk target's chunks through its tasks: it
 * takes the sink when the target is sinkable (lpi_plan_sinkable: computed by tasks of its own). */
static void take_sinks(lp_ctx *ctx, lpi_plan *plan, lpi_result_sink *const *sinks) {
    if (!sinks || !lpi_remote_enabled(ctx)) return;
    plan->target_sink = (lpi_result_sink **)sinks;
    for (int t = 0; t < plan->ntargets; t++)
        if (sinks[t]) sinks[t]->taken = lpi_plan_sinkable(plan, t);
}

static lp_status run_targets(lp_ctx *ctx, lp_array *const *targets, int n, lpi_result_sink *const *sinks) {
    if (lpi_orchestrate_enabled(ctx)) return run_orchestrated(ctx, targets, n, sinks);
    double t0 = lpi_now();
    lpi_plan *plan;
    lp_status st = lpi_plan_build(ctx, targets, n, &plan);
    if (st) return st;
    ctx->stats.plan_seconds += lpi_now() - t0;
    if (ctx->trace) {
        /* the prediction shown beside the measured time; only for traced runs (it simulates
         * the whole schedule) */
        lpi_cost_summary cs;
        if (lpi_cost_plan(ctx, plan, 0, LPI_COST_LOCAL, false, &cs) == LP_OK) ctx->report.predicted_seconds = cs.total;
    }
    take_sinks(ctx, plan, sinks);
    st = lpi_plan_alloc_targets(ctx, plan);
    double t1 = lpi_now();
    if (!st) st = lpi_exec_plan(ctx, plan);
    ctx->stats.run_seconds += lpi_now() - t1;
    for (int t = 0; t < n; t++) {
        if (!st) {
            lp_array *a = targets[t];
            pthread_mutex_lock(&a->result_lock);
            if (!a->result) { a->result = plan->target_buf[t]; plan->target_buf[t] = NULL; }
            pthread_mutex_unlock(&a->result_lock);
        }
        lp_buffer_release(plan->target_buf[t]);
    }
    lpi_plan_destroy(plan);
    return st;
}

/* The layers below (expr: data-dependent sizes) compute through lp_run without calling up; the
 * planner probes the machine through exec/probe.c the same way. Registered here: every program
 * that runs anything links this file (a static link would drop probe.c's own constructor). */
__attribute__((constructor)) static void register_run_now(void) {
    lpi_set_run_now(lp_run);
    lpi_set_profile_prober(lpi_probe_auto);
}

/* lp_run, with optional sinks per target (NULL: none). */
static lp_status run_all(lp_ctx *ctx, lp_array *const *targets, int n, lp_buffer **results, lpi_result_sink *const *sinks) {
    if (!ctx) return LP_ERR_VALUE;
    if (n < 0 || (n > 0 && !targets)) return lpi_error(ctx, LP_ERR_VALUE, "lp_run: invalid target list");
    for (int i = 0; i < n; i++) {
        if (!targets[i]) return lpi_error(ctx, LP_ERR_VALUE, "lp_run: target %d is NULL", i);
        if (results) results[i] = NULL;
    }
    atomic_store(&ctx->cancel, 0);
    ctx->last_status = LP_OK;
    ctx->errmsg[0] = 0;
    memset(&ctx->stats, 0, sizeof ctx->stats);
    memset(&ctx->report, 0, sizeof ctx->report);
    /* loops run first (exec/loop.c), leaving their final values on their output nodes; an
     * orchestrated run sends them in its graph instead: the function that starts the run steps
     * them (server/chain.c), with no round trip to this host per iteration */
    lp_status st = LP_OK;
    if (!lpi_orchestrate_enabled(ctx)) {
        ctx->in_run = true;
        st = lpi_loops_prepare(ctx, targets, n, NULL);
        ctx->in_run = false;
        if (st) return st;
    }
    /* targets computed before are not computed again */
    lp_array **todo = lp_malloc((size_t)(n ? n : 1) * sizeof *todo);
    if (!todo) return lpi_nomem(ctx);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!lp_array_result(targets[i])) todo[m++] = targets[i];
    if (m) {
        ctx->in_run = true;
        st = run_targets(ctx, todo, m, m == n ? sinks : NULL);
        ctx->in_run = false;
    }
    lp_free(todo);
    if (st) return st;
    if (results)
        for (int i = 0; i < n; i++) {
            results[i] = lp_array_result(targets[i]);
            lp_buffer_retain(results[i]);
        }
    return LP_OK;
}

lp_status lp_run(lp_ctx *ctx, lp_array *const *targets, int n, lp_buffer **results) {
    return run_all(ctx, targets, n, results, NULL);
}

/* "x.zarr" or "x.zarr/": a Zarr array; anything else a .npy file. */
static bool zarr_name(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    return n >= 5 && !memcmp(path + n - 5, ".zarr", 5);
}

lp_status lp_save(lp_ctx *ctx, const char *path, const lp_buffer *buf) {
    if (!path || !buf) return lpi_error(ctx, LP_ERR_VALUE, "lp_save: NULL argument");
    if (zarr_name(path)) return lpi_zarr_write(ctx, path, buf->dtype, buf->ndim, buf->shape, buf->data, NULL);
    return lpi_npy_write(ctx, path, buf->dtype, buf->ndim, buf->shape, buf->data, NULL);
}

lp_status lp_save_zarr(lp_ctx *ctx, const char *path, const lp_buffer *buf, const lp_zarr_opts *opts) {
    if (!path || !buf) return lpi_error(ctx, LP_ERR_VALUE, "lp_save_zarr: NULL argument");
    lpi_zarr_write_opts o = {0};
    if (opts) {
        o.chunks = opts->chunks;
        o.codec = opts->codec;
        o.level = opts->level;
        o.big_endian = opts->big_endian;
        o.fortran = opts->fortran;
    }
    return lpi_zarr_write(ctx, path, buf->dtype, buf->ndim, buf->shape, buf->data, &o);
}

lp_status lpi_run_sunk(lp_ctx *ctx, lp_array *a, lpi_result_sink *sink) {
    lpi_result_sink *sinks[1] = {sink};
    return run_all(ctx, &a, 1, NULL, sinks);
}

/* A remote run of a into the .npy file `path` through a result sink: the file is created
 * here (header, sized) under a temporary name beside path, the workers write the chunks into
 * it, and it is synced and renamed into place only when the run succeeded. *done is false
 * when the executor did not take the sink (then a has its result in memory, or st failed). */
static lp_status save_sunk(lp_ctx *ctx, const char *path, lp_array *a, bool *done) {
    *done = false;
    char abs[PATH_MAX];
    if (path[0] == '/') snprintf(abs, sizeof abs, "%s", path);
    else if (!getcwd(abs, sizeof abs) || strlen(abs) + 1 + strlen(path) >= sizeof abs)
        return lpi_error(ctx, LP_ERR_IO, "%s: cannot make the path absolute", path);
    else { strcat(abs, "/"); strcat(abs, path); }
    lpi_npy_writer *w;
    lp_status st = lpi_npy_writer_open(ctx, abs, a->dtype, a->ndim, a->shape, &w);
    if (st) return st;
    lpi_result_sink sink = {lpi_npy_writer_temp(w), lpi_npy_writer_data_offset(w), false, 0};
    st = lpi_run_sunk(ctx, a, &sink);
    if (st || !sink.taken) {
        lpi_npy_writer_abort(w);
        return st;
    }
    lpi_npy_writer_written_elsewhere(w);
    *done = true;
    return lpi_npy_writer_commit(ctx, w);
}

/* A plain file name (not a URL, not Zarr): what a result sink can write. */
static bool sinkable(const char *path) { return !zarr_name(path) && !strstr(path, "://") && path[0]; }

lp_status lp_save_array(lp_ctx *ctx, const char *path, lp_array *a) {
    if (!ctx) return LP_ERR_VALUE;
    if (!path || !a) return lpi_error(ctx, LP_ERR_VALUE, "lp_save_array: NULL argument");
    /* LAMPY_RESULT_SINK=0: the result through the store and this process, as lp_save does
     * (workers without a --write-dir, or without the driver's file system) */
    if (lpi_remote_enabled(ctx) && !lp_array_result(a) && sinkable(path) && lpi_result_sinks_on()) {
        bool done;
        lp_status st = save_sunk(ctx, path, a, &done);
        if (st || done) return st;
    }
    lp_buffer *b;
    lp_status st = lp_run(ctx, &a, 1, &b);
    if (st) return st;
    st = lp_save(ctx, path, b);
    lp_buffer_release(b);
    return st;
}

lp_status lp_array_chunks(lp_ctx *ctx, const lp_array *a, int64_t *chunk_out) {
    lpi_arena *ar = lpi_arena_create();
    if (!ar) return lpi_nomem(ctx);
    lpi_grid g;
    lp_status st = lpi_grid_auto(ctx, ar, a->ndim, a->shape, lp_dtype_size(a->dtype),
                                 a->has_chunk_hint ? a->chunk_hint : NULL, &g);
    if (!st)
        for (int i = 0; i < a->ndim; i++) chunk_out[i] = g.bounds[i][1] - g.bounds[i][0];
    lpi_arena_destroy(ar);
    return st;
}
