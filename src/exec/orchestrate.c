/* The driver of an orchestrated run (see orchestrate.h, docs/ORCHESTRATION.md): it plans
 * nothing and sends no task. Submitting writes the run document — the graph of the targets
 * (in-memory data too large to inline goes to the store beside it) and the settings planning
 * depends on — and the run's initial state with one script, then makes ONE invocation. Waiting
 * is a BLPOP on the run's result list; while none comes, the waiter runs the reaper script a
 * few times a second (constant traffic, none per task): expired leases are tasks whose
 * invocation died, and the waiter re-invokes them. The result names the target chunks, which
 * are fetched, verified against their producers' checksums and copied into the results; then
 * every key of the run is deleted, also when it failed. */
#include "exec/orchestrate.h"
#include "exec/assemble.h"
#include "exec/exec.h"
#include "graph/json.h"
#include "io/source.h"
#include "kernels/kernels.h"
#include "plan/serialize.h"
#include "store/redis_run.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define DRIVER_AGENT "lampy-driver/1"
#define WAIT_SLICE 0.25     /* seconds per BLPOP: cancellation and reaping are checked between */
#define MAX_RESTARTS 3      /* the run's state vanished from Redis: submit it again at most this often */

bool lpi_orchestrate_enabled(const lp_ctx *ctx) {
    lpi_remote_view rv;
    return lpi_remote_view_get(ctx, &rv) && rv.cfg->orchestrate && !strcmp(rv.cfg->orchestrate, "lambda");
}

static double env_num(const char *name, double dflt, double lo, double hi) {
    const char *v = getenv(name);
    if (!v || !*v) return dflt;
    char *e;
    double d = strtod(v, &e);
    return *e || !(d >= lo && d <= hi) ? dflt : d;
}

/* One run as the driver sees it. */
typedef struct orun {
    lp_ctx *ctx;
    lpi_remote_view rv;
    lpi_store *store;
    char run[LPI_RUN_ID_MAX];
    char prefix[LPI_RUN_ID_MAX + 8];
    int budget, max_tries;
    int64_t lease_ms;
    double runtime_sec, deadline_sec, invoke_timeout;
    char *doc;               /* the run document (submitter only: to submit again after a loss) */
    lpi_orch_auth auth;      /* invocations are signed like batches (docs/SECURITY.md) */
    json_t *data;            /* the data table being built */
    lpi_result_sink *const *sinks; /* NULL, or per target: the file its tasks write (lpi_orch_run) */
} orun;

static lp_status settings(lp_ctx *ctx, orun *R) {
    if (!lpi_remote_view_get(ctx, &R->rv) || !R->rv.nurls)
        return lpi_error(ctx, LP_ERR_VALUE, "orchestration by functions needs workers (lp_ctx_set_workers, --workers)");
    if (strncmp(R->rv.store, "redis://", 8))
        return lpi_error(ctx, LP_ERR_VALUE, "orchestration by functions keeps its state in Redis: the store must be "
                         "redis://, not %.60s", R->rv.store);
    const lp_remote_config *c = R->rv.cfg;
    R->ctx = ctx;
    lp_status st = lpi_remote_key(ctx, &R->auth.key);
    if (st) return st;
    R->auth.scope = R->prefix;
    R->auth.ca_file = R->rv.ca_file;
    R->budget = c->max_lambdas ? c->max_lambdas : 2 * R->rv.nurls;
    R->max_tries = c->max_tries ? c->max_tries : (int)env_num("LAMPY_REMOTE_TRIES", 5, 1, 100);
    /* the base of every lease (beyond a task's estimate): how long a dead or hung invocation
     * goes unnoticed. Tests shorten it. */
    R->lease_ms = (int64_t)env_num("LAMPY_LEASE_MS", 2000, 10, 3600e3);
    R->runtime_sec = c->runtime_sec > 0 ? c->runtime_sec : 30;
    R->deadline_sec = c->deadline_sec > 0 ? c->deadline_sec : 3600;
    /* a `lampy worker` accepts an invocation at once (202); no answer within this is a hung or
     * overloaded worker, and the next one is tried */
    R->invoke_timeout = c->timeout_sec > 0 ? c->timeout_sec : env_num("LAMPY_INVOKE_TIMEOUT", 5, 0.05, 86400);
    return lpi_remote_store(ctx, &R->store);
}

/* In-memory data of the graph: one chunk under <prefix>/data/<k>, k its place in the data table
 * (graph/json.c's hook). Not the node's id: loop bodies have ids of their own. */
static lp_status put_data(void *arg, lp_ctx *ctx, int id, const lp_array *a, const void *data, char *path, size_t cap) {
    orun *R = arg;
    snprintf(path, cap, "%s/data/%zu", R->prefix, json_array_size(R->data));
    size_t nbytes = (size_t)a->size * lp_dtype_size(a->dtype);
    lp_status st = lpi_store_put(ctx, R->store, path, a->dtype, a->ndim, a->shape, data, nbytes);
    if (st) return st;
    char hx[17];
    snprintf(hx, sizeof hx, "%016" PRIx64, XXH3_64bits(nbytes ? data : "", nbytes));
    json_t *e = json_pack("{s:i,s:s,s:s}", "node", id, "key", path, "checksum", hx);
    return e && !json_array_append_new(R->data, e) ? LP_OK : lpi_nomem(ctx);
}

/* Loads of local files name them by absolute path: the workers that plan the run are other
 * processes (as the driver-centric encoder does for its load tasks). The driver's in-memory
 * data are loads of store keys below the run's prefix (put_data): those stay as they are.
 * `nodes` is a node list: the graph's, or a loop's body or cond (loads stay in bodies). */
static lp_status absolute_loads(lp_ctx *ctx, const char *prefix, json_t *nodes) {
    size_t np = strlen(prefix);
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        json_t *o = json_array_get(nodes, i), *attrs = json_object_get(o, "attrs");
        const char *op = json_string_value(json_object_get(o, "op"));
        const char *path = json_string_value(json_object_get(attrs, "path"));
        lp_status st;
        if (op && (!strcmp(op, "while_loop") || !strcmp(op, "fori_loop")))
            for (int k = 0; k < 2; k++)
                if ((st = absolute_loads(ctx, prefix, json_object_get(json_object_get(o, k ? "body" : "cond"), "nodes")))) return st;
        if (!op || strcmp(op, "load") || !path) continue;
        const char *fpath = lpi_loc_file_path(path);
        if (!fpath || fpath[0] == '/' || (!strncmp(path, prefix, np) && path[np] == '/')) continue;
        char *abs = realpath(fpath, NULL);
        if (!abs) return lpi_error(ctx, LP_ERR_IO, "%s: %s", path, strerror(errno));
        int r = json_object_set_new(attrs, "path", json_string(abs));
        free(abs);
        if (r) return lpi_nomem(ctx);
    }
    return LP_OK;
}

static lp_status make_doc(orun *R, lp_array *const *targets, int n) {
    lp_ctx *ctx = R->ctx;
    if (!(R->data = json_array())) return lpi_nomem(ctx);
    lpi_graph_data_hook hook = {put_data, R};
    json_t *graph;
    lp_status st = lpi_graph_json_hook(ctx, targets, n, NULL, &hook, &graph);
    if (!st && (st = absolute_loads(ctx, R->prefix, json_object_get(graph, "nodes")))) json_decref(graph);
    if (st) return st;
    json_t *ws = json_array();
    for (int i = 0; ws && i < R->rv.nurls; i++)
        if (json_array_append_new(ws, json_string(R->rv.urls[i]))) { json_decref(ws); ws = NULL; }
    json_t *doc = ws ? json_pack("{s:s,s:i,s:s,s:o,s:O,s:I,s:i,s:b,s:i,s:i,s:I,s:f,s:i,s:s,s:s,s:o}", "format",
                                 LPI_RUNDOC_FORMAT, "version", LPI_RUNDOC_VERSION, "run", R->run, "graph", graph, "data",
                                 R->data, "chunk_bytes", (json_int_t)ctx->chunk_bytes, "threads", lpi_ctx_workers(ctx),
                                 "fusion", ctx->fusion, "budget", R->budget, "max_tries", R->max_tries, "lease_ms",
                                 (json_int_t)R->lease_ms, "runtime_sec", R->runtime_sec, "lambda_mem_mb",
                                 R->rv.cfg->lambda_mem_mb, "store", R->rv.store, "lambda", R->rv.lambda, "workers", ws)
                     : NULL;
    if (!doc) {
        if (ws) json_decref(graph);
        return lpi_nomem(ctx);
    }
    /* result sinks: the tasks that compute these targets write them into the driver's files */
    json_t *sk = R->sinks ? json_array() : NULL;
    bool bad = R->sinks && !sk;
    for (int t = 0; sk && t < n && !bad; t++)
        if (R->sinks[t])
            bad = json_array_append_new(sk, json_pack("{s:i,s:s,s:I}", "target", t, "file", R->sinks[t]->path, "offset",
                                                      (json_int_t)R->sinks[t]->offset)) != 0;
    if (!bad && sk && json_array_size(sk)) bad = json_object_set(doc, "sinks", sk) != 0;
    json_decref(sk);
    if (bad) { json_decref(doc); return lpi_nomem(ctx); }
    R->doc = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return R->doc ? LP_OK : lpi_nomem(ctx);
}

/* One invocation: the run's start (task < 0) or a task whose lease was reaped. */
static lp_status invoke(orun *R, int64_t task) {
    char *body = lpi_orch_request(R->run, R->rv.store, task);
    if (!body) return lpi_nomem(R->ctx);
    int first = (int)(XXH3_64bits(R->run, strlen(R->run)) % (uint64_t)R->rv.nurls);
    lp_status st = lpi_orch_invoke(R->ctx, R->rv.urls, R->rv.nurls, first, R->rv.lambda, body, DRIVER_AGENT,
                                   R->invoke_timeout, &R->auth, NULL);
    free(body);
    return st;
}

/* The run document and initial state, then the one invocation. */
static lp_status start(orun *R) {
    bool created;
    lp_status st = lpi_rr_init(R->ctx, R->store, R->prefix, R->doc, strlen(R->doc), R->budget, R->max_tries,
                               R->lease_ms, (int64_t)(R->deadline_sec * 1000), &created);
    if (!st && !created) st = lpi_error(R->ctx, LP_ERR_INTERNAL, "run %s exists already", R->run);
    if (!st) st = invoke(R, -1);
    return st;
}

static lp_status submit(orun *R, lp_array *const *targets, int n) {
    lpi_run_id_new(R->run, sizeof R->run);
    snprintf(R->prefix, sizeof R->prefix, "lampy/%s", R->run);
    lp_status st = make_doc(R, targets, n);
    if (!st) st = start(R);
    if (st) {
        /* nothing may stay behind: the document, the state, uploaded data */
        char msg[LPI_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", lp_last_error(R->ctx));
        lpi_rr_cleanup(R->ctx, R->store, R->prefix);
        lpi_error(R->ctx, st, "%s", msg);
    }
    return st;
}

static void orun_free(orun *R) {
    free(R->doc);
    json_decref(R->data);
}

/* ---- results ---- */

typedef struct tchunk {
    int64_t task;
    const char *key;
    lpi_box box;
} tchunk;

/* One result chunk into its target's buffer, verified against its producer's checksum. */
static lp_status fetch_chunk(orun *R, const tchunk *c, uint64_t sum, lp_buffer *tb) {
    lp_ctx *ctx = R->ctx;
    lp_buffer *b;
    lp_status st = lpi_store_get(ctx, R->store, c->key, &b);
    if (st) return st;
    bool ok = b->dtype == tb->dtype && b->ndim == c->box.ndim && c->box.ndim == tb->ndim;
    for (int i = 0; ok && i < b->ndim; i++)
        ok = b->shape[i] == c->box.hi[i] - c->box.lo[i] && c->box.lo[i] >= 0 && c->box.hi[i] <= tb->shape[i];
    uint64_t h = ok ? XXH3_64bits(b->nbytes ? b->data : "", b->nbytes) : 0;
    if (!ok) st = lpi_error(ctx, LP_ERR_FORMAT, "chunk %s: stored dtype or shape is not the result's", c->key);
    else if (h != sum) st = lpi_chunk_checksum_error(ctx, c->key, sum, h);
    if (!st) lpi_copy_into(tb, &c->box, b);
    lp_buffer_release(b);
    return st;
}

/* The template the starting worker wrote ({"targets": [{"dtype", "shape", "chunks": [[task,
 * key, box]...]}]}) and the producers' checksums: every result chunk into bufs (allocated here
 * where NULL, else checked against the template). */
static lp_status fetch_results(orun *R, int n, lp_buffer **bufs) {
    lp_ctx *ctx = R->ctx;
    char key[LPI_STORE_KEY_MAX + 1], *text;
    snprintf(key, sizeof key, "%s/targets", R->prefix);
    lp_status st = lpi_rr_get(ctx, R->store, key, LPI_RUNDOC_MAX, &text, NULL);
    if (st) return st;
    json_error_t jerr;
    json_t *tpl = json_loads(text, 0, &jerr);
    lp_free(text);
    const json_t *tg = json_object_get(tpl, "targets");
    if (!json_is_array(tg) || json_array_size(tg) != (size_t)n) {
        json_decref(tpl);
        return lpi_error(ctx, LP_ERR_FORMAT, "run %s: its result template does not list %d targets", R->run, n);
    }
    for (int t = 0; t < n && !st; t++) {
        const json_t *o = json_array_get(tg, (size_t)t), *cl = json_object_get(o, "chunks");
        char w[LPI_RUN_ID_MAX + 32];
        snprintf(w, sizeof w, "run %s: target %d", R->run, t);
        lp_dtype dt;
        int nd;
        int64_t shape[LP_MAX_NDIM];
        if ((st = lpi_json_dtype(ctx, w, o, "dtype", &dt)) || (st = lpi_json_shape(ctx, w, o, "shape", &nd, shape))) break;
        if (!json_is_array(cl) || json_array_size(cl) > (1u << 24)) { st = lpi_error(ctx, LP_ERR_FORMAT, "%s: no chunk list", w); break; }
        /* a sunk target is in its file already: its tasks being done is all there is to check */
        const bool sunk = R->sinks && R->sinks[t];
        if (json_is_true(json_object_get(o, "sunk")) != sunk) {
            st = lpi_error(ctx, LP_ERR_FORMAT, "%s: %s", w, sunk ? "the workers did not write it into its file"
                                                                 : "the workers wrote it into a file, not the store");
            break;
        }
        if (!sunk && !bufs[t] && !(bufs[t] = lpi_buffer_new(dt, nd, shape))) { st = lpi_nomem(ctx); break; }
        lp_buffer *b = bufs[t];
        if (!sunk && (b->dtype != dt || b->ndim != nd || memcmp(b->shape, shape, (size_t)nd * sizeof *shape))) {
            st = lpi_error(ctx, LP_ERR_FORMAT, "%s: the run computed %s of another shape than asked", w, lp_dtype_name(dt));
            break;
        }
        int nc = (int)json_array_size(cl);
        tchunk *ch = lp_calloc((size_t)nc + 1, sizeof *ch);
        int64_t *tasks = lp_malloc(((size_t)nc + 1) * sizeof *tasks);
        uint64_t *sums = lp_malloc(((size_t)nc + 1) * sizeof *sums);
        bool *have = lp_calloc((size_t)nc + 1, sizeof *have);
        if (!ch || !tasks || !sums || !have) st = lpi_nomem(ctx);
        int64_t covered = 0;
        for (int i = 0; i < nc && !st; i++) {
            const json_t *e = json_array_get(cl, (size_t)i);
            if (!json_is_array(e) || json_array_size(e) != 3 || !json_is_integer(json_array_get(e, 0)) ||
                !json_is_string(json_array_get(e, 1))) {
                st = lpi_error(ctx, LP_ERR_FORMAT, "%s: chunk %d must be [task, key, box]", w, i);
                break;
            }
            ch[i].task = tasks[i] = json_integer_value(json_array_get(e, 0));
            ch[i].key = json_string_value(json_array_get(e, 1));
            if (strncmp(ch[i].key, R->prefix, strlen(R->prefix)) || !lpi_store_key_valid(ch[i].key, NULL)) {
                st = lpi_error(ctx, LP_ERR_FORMAT, "%s: chunk %d is not a key of the run", w, i);
                break;
            }
            if ((st = lpi_box_from_json(ctx, w, json_array_get(e, 2), nd, shape, &ch[i].box))) break;
            covered += lpi_box_size(&ch[i].box);
        }
        /* disjoint boxes are the planner's; their sizes adding up means nothing was left out */
        int64_t want = 1;
        for (int i = 0; i < nd; i++) want *= shape[i];
        if (!st && covered != want) st = lpi_error(ctx, LP_ERR_FORMAT, "%s: the chunks do not cover the result", w);
        if (!st) st = lpi_rr_checksums(ctx, R->store, R->prefix, tasks, nc, sums, have);
        for (int i = 0; i < nc && !st; i++) {
            if (!have[i]) st = lpi_error(ctx, LP_ERR_REMOTE, "%s: task %lld is not done", w, (long long)tasks[i]);
            else if (!sunk) st = fetch_chunk(R, &ch[i], sums[i], b);
        }
        lp_free(ch);
        lp_free(tasks);
        lp_free(sums);
        lp_free(have);
    }
    json_decref(tpl);
    return st;
}

/* A failure handled here must not stand for the run's (a context keeps its first). */
static void forget_error(lp_ctx *ctx) {
    pthread_mutex_lock(&ctx->err_lock);
    ctx->last_status = LP_OK;
    ctx->errmsg[0] = 0;
    pthread_mutex_unlock(&ctx->err_lock);
}

/* Wait for the run's result (re-invoking what the reaper finds), then fetch it; the run's keys
 * are deleted whatever happens. */
static lp_status wait_run(orun *R, int n, lp_buffer **bufs, double timeout_sec) {
    lp_ctx *ctx = R->ctx;
    const double t0 = lpi_now(), reap_every = (double)R->lease_ms / 2000 > WAIT_SLICE ? (double)R->lease_ms / 2000 : WAIT_SLICE;
    double next_reap = t0 + reap_every;
    const double give_up = t0 + (timeout_sec > 0 ? timeout_sec : R->deadline_sec + 30);
    int restarts = 0;
    lp_status st = LP_OK;
    char *res = NULL;
    while (!st && !res) {
        if (atomic_load_explicit(&ctx->cancel, memory_order_relaxed)) {
            lpi_rr_fail(ctx, R->store, R->prefix, LP_ERR_CANCELLED, "the run was cancelled");
            st = lpi_error(ctx, LP_ERR_CANCELLED, "the run was cancelled");
            break;
        }
        if (lpi_now() > give_up) {
            if (timeout_sec > 0) return lpi_error(ctx, LP_ERR_LIMIT, "run %s: no result within %g s (it goes on)", R->run, timeout_sec);
            lpi_rr_fail(ctx, R->store, R->prefix, LP_ERR_LIMIT, "the run passed its deadline");
            st = lpi_error(ctx, LP_ERR_LIMIT, "run %s: no result before its deadline", R->run);
            break;
        }
        if ((st = lpi_rr_wait(ctx, R->store, R->prefix, WAIT_SLICE, &res)) || res) break;
        if (lpi_now() < next_reap) continue;
        next_reap = lpi_now() + reap_every;
        lpi_rr_claims c;
        if ((st = lpi_rr_reap(ctx, R->store, R->prefix, 64, &c))) break;
        if (c.state == LPI_RR_GONE) {
            /* the run's state vanished (Redis flushed or restarted, or the keys were evicted):
             * what workers finished is lost with it; results are deterministic, so submitting
             * the same document again recomputes them */
            if (!R->doc || restarts++ >= MAX_RESTARTS) {
                st = lpi_error(ctx, LP_ERR_REMOTE, "run %s: its state is gone from the store (Redis flushed or "
                               "restarted, or the run was already collected)", R->run);
            } else if (!(st = lpi_rr_cleanup(ctx, R->store, R->prefix))) {
                st = start(R);
            }
        }
        for (int i = 0; i < c.n && !st; i++) {
            lp_status is = invoke(R, c.spawn[i]);
            if (is == LP_OK) continue;
            char why[LPI_ERRMSG_MAX];
            lpi_rr_state rs;
            snprintf(why, sizeof why, "%s", lp_last_error(ctx));
            forget_error(ctx); /* handled here: busy workers queue the task, others use a try */
            if (is == LP_ERR_LIMIT && c.spawn[i] >= 0) st = lpi_rr_requeue(ctx, R->store, R->prefix, c.spawn[i], R->lease_ms);
            else st = lpi_rr_refused(ctx, R->store, R->prefix, c.spawn[i], why, &rs);
        }
        lpi_rr_claims_free(&c);
    }
    if (!st && res) {
        if (!strncmp(res, "ok:", 3)) {
            st = fetch_results(R, n, bufs);
            ctx->stats.tasks = strtoll(res + 3, NULL, 10);
        } else {
            /* "failed:STATUS:message" */
            const char *s = res + (strncmp(res, "failed:", 7) ? 0 : 7), *colon = strchr(s, ':');
            char sname[32] = "ERR_REMOTE";
            if (colon && (size_t)(colon - s) < sizeof sname) {
                memcpy(sname, s, (size_t)(colon - s));
                sname[colon - s] = 0;
                s = colon + 1;
            }
            st = lpi_error(ctx, lpi_status_from_name(sname), "%s", s);
        }
    }
    lp_free(res);
    char msg[LPI_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", lp_last_error(ctx));
    lp_status cs = lpi_rr_cleanup(ctx, R->store, R->prefix);
    if (st) lpi_error(ctx, st, "%s", msg);
    return st ? st : cs;
}

lp_status lpi_orch_run(lp_ctx *ctx, lp_array *const *targets, int n, lp_buffer **bufs, lpi_result_sink *const *sinks) {
    orun R;
    memset(&R, 0, sizeof R);
    R.sinks = sinks;
    lp_status st = settings(ctx, &R);
    if (!st) st = submit(&R, targets, n);
    if (!st) st = wait_run(&R, n, bufs, 0);
    orun_free(&R);
    return st;
}

/* ---- the public API ---- */

lp_status lp_submit(lp_ctx *ctx, lp_array *const *targets, int n, char *run_id_out) {
    if (!ctx) return LP_ERR_VALUE;
    if (!run_id_out || n < 1 || !targets) return lpi_error(ctx, LP_ERR_VALUE, "lp_submit: invalid arguments");
    run_id_out[0] = 0;
    for (int i = 0; i < n; i++)
        if (!targets[i]) return lpi_error(ctx, LP_ERR_VALUE, "lp_submit: target %d is NULL", i);
    if (!lpi_orchestrate_enabled(ctx))
        return lpi_error(ctx, LP_ERR_VALUE, "lp_submit needs orchestration by functions (executor 'lambda', "
                         "orchestrate 'lambda')");
    orun R;
    memset(&R, 0, sizeof R);
    lp_status st = settings(ctx, &R);
    if (!st) st = submit(&R, targets, n);
    if (!st) snprintf(run_id_out, LP_RUN_ID_MAX, "%s", R.run);
    orun_free(&R);
    return st;
}

lp_status lp_wait(lp_ctx *ctx, const char *run_id, double timeout_sec, lp_buffer ***results_out, int *n_out) {
    if (!ctx) return LP_ERR_VALUE;
    if (!run_id || !results_out || !n_out || !(timeout_sec >= 0))
        return lpi_error(ctx, LP_ERR_VALUE, "lp_wait: invalid arguments");
    *results_out = NULL;
    *n_out = 0;
    if (!lpi_run_id_valid(run_id)) return lpi_error(ctx, LP_ERR_VALUE, "'%.80s' is not a run id", run_id);
    orun R;
    memset(&R, 0, sizeof R);
    lp_status st = settings(ctx, &R);
    if (st) return st;
    snprintf(R.run, sizeof R.run, "%s", run_id);
    snprintf(R.prefix, sizeof R.prefix, "lampy/%s", run_id);
    /* how many results: the run document says (its graph's targets) */
    char key[LPI_STORE_KEY_MAX + 1], *text = NULL;
    size_t len = 0;
    snprintf(key, sizeof key, "%s/run", R.prefix);
    st = lpi_rr_get(ctx, R.store, key, LPI_RUNDOC_MAX, &text, &len);
    if (st == LP_ERR_NOTFOUND)
        return lpi_error(ctx, LP_ERR_NOTFOUND, "run %s: not found in %s (finished and collected, expired, or its "
                         "state was lost)", run_id, R.rv.store);
    lpi_rundoc d;
    if (!st) st = lpi_rundoc_parse(ctx, text, len, &d);
    lp_free(text);
    if (st) return st;
    int n = (int)json_array_size(json_object_get(d.graph, "targets"));
    R.lease_ms = d.lease_ms;
    lpi_rundoc_free(&d);
    if (n < 1) return lpi_error(ctx, LP_ERR_FORMAT, "run %s: its document lists no targets", run_id);
    lp_buffer **bufs = lp_calloc((size_t)n, sizeof *bufs);
    if (!bufs) return lpi_nomem(ctx);
    memset(&ctx->stats, 0, sizeof ctx->stats);
    st = wait_run(&R, n, bufs, timeout_sec);
    if (st) {
        lp_free_results(bufs, n);
        return st;
    }
    *results_out = bufs;
    *n_out = n;
    return LP_OK;
}

void lp_free_results(lp_buffer **results, int n) {
    if (!results) return;
    for (int i = 0; i < n; i++) lp_buffer_release(results[i]);
    lp_free(results);
}
