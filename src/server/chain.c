/* Chains: the worker's half of orchestration by functions (see chain.h). */
#include "server/chain.h"
#include "core/hmap.h"
#include "exec/assemble.h"
#include "exec/exec.h"
#include "exec/loop.h"
#include "exec/orchestrate.h"
#include "graph/json.h"
#include "io/npy.h"
#include "kernels/kernels.h"
#include "plan/cost.h"
#include "plan/serialize.h"
#include "store/redis_run.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define CHAIN_AGENT "lampy-chain/1"
#define RUNS_CACHED 4                   /* plans kept per worker (LRU) */
#define HELD_MAX 64                     /* chunks a chain keeps in memory (LRU) ... */
#define HELD_BYTES ((uint64_t)512 << 20) /* ... and their bytes at most */
#define MAX_PLAN_TASKS ((int64_t)1 << 22)
#define LINEAGE_DEPTH 2000              /* missing chunks recomputed in a row at most */
#define REAP_PER_STEP 2                 /* expired leases a completion re-claims */
#define CHAIN_STACK ((size_t)32 << 20)  /* lineage recursion */

/* ---- runs: the plan of each run this worker has seen ---- */

typedef struct crun {
    char run[LPI_RUN_ID_MAX + 1];
    char prefix[LPI_RUN_ID_MAX + 8];
    char *store_url;
    int refs;
    uint64_t last_use;
    lpi_store *store;            /* the worker's */
    lp_ctx *pctx;                /* the planner's settings of the run */
    lp_array **targets;
    int ntargets;
    lpi_plan *plan;
    char tmpdir[256];            /* the driver's in-memory data as .npy files ("" if none) */
    int64_t *files;              /* node ids of those files */
    int nfiles;
    int budget, max_tries;
    int64_t lease_ms;
    double runtime_sec;
    char **workers;
    int nworkers;
    char *lambda;
    bool *direct;                /* per pnode: a load its consumers read from the file */
    int32_t *ndeps;              /* per task: producers that run (direct loads do not) */
    double *est;                 /* per task: the cost model's seconds */
    int64_t nrun;                /* tasks that run */
    char *loops_doc;             /* the document of a run whose loops are still to run (no plan) */
    size_t loops_len;
    /* result sinks (plan->target_sink points at sink_ptr): per target, the driver's file */
    lpi_result_sink *sinks;
    lpi_result_sink **sink_ptr;
    int *sink_fd;                /* per target: open for writing while chains of the run are
                                  * on this worker, else -1 (C->mu) */
    char **sink_path;
} crun;

struct lpi_chains {
    lpi_chains_host host;
    pthread_mutex_t mu, load_mu;
    pthread_cond_t cv;
    crun *runs[RUNS_CACHED];
    uint64_t clock;
    int chains, active;          /* chains running; chains + senders (what destroy waits for) */
    atomic_int stopping;
    atomic_uint rr;              /* round robin over the run's workers */
    atomic_llong n_chains, n_tasks, n_planned, n_lineage, n_loops;
};

static void crun_free(crun *r) {
    if (!r) return;
    if (r->plan) {
        lpi_close_loads(r->plan);
        lpi_plan_destroy(r->plan);
    }
    for (int t = 0; r->sink_fd && t < r->ntargets; t++)
        if (r->sink_fd[t] >= 0) close(r->sink_fd[t]);
    for (int t = 0; r->sink_path && t < r->ntargets; t++) lp_free(r->sink_path[t]);
    lp_free(r->sinks);
    lp_free(r->sink_ptr);
    lp_free(r->sink_fd);
    lp_free(r->sink_path);
    if (r->targets) lp_arrays_release(r->targets, r->ntargets);
    for (int i = 0; i < r->nfiles; i++) {
        char path[400];
        snprintf(path, sizeof path, "%s/data%" PRId64 ".npy", r->tmpdir, r->files[i]);
        unlink(path);
    }
    if (r->tmpdir[0]) rmdir(r->tmpdir);
    lp_ctx_destroy(r->pctx);
    for (int i = 0; i < r->nworkers; i++) lp_free(r->workers[i]);
    lp_free(r->workers);
    lp_free(r->files);
    lp_free(r->lambda);
    lp_free(r->store_url);
    lp_free(r->direct);
    lp_free(r->ndeps);
    lp_free(r->est);
    lp_free(r->loops_doc);
    lp_free(r);
}

static int64_t task_of_chunk(const lpi_plan *pl, int p, int64_t c) { return pl->pnodes[p].first_task + c; }

static int64_t lease_of(const crun *r, int64_t t) {
    /* the cost model's estimate is for a quiet core: a loaded worker gets room */
    return r->lease_ms + (int64_t)(8000 * r->est[t]);
}

static void chunk_key(const crun *r, int p, int64_t c, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%d/%" PRId64, r->prefix, p, c);
}

/* Graph load nodes: a path inside the worker's data directories, or the driver's data (a key
 * of the run's data table, fetched, verified and written as a .npy file of this run's temporary
 * directory, so lp_graph_load stays the one validator of the document). Loop bodies and
 * conditions are node lists of their own: the same rules hold inside them. */
static lp_status resolve_list(lpi_chains *C, lp_ctx *ctx, crun *r, const lpi_rundoc *d, json_t *nodes, const char *where,
                              int depth) {
    if (depth > 17) return lpi_error(ctx, LP_ERR_LIMIT, "run %s: %s: loops nest too deep", r->run, where);
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        json_t *o = json_array_get(nodes, i), *attrs = json_object_get(o, "attrs");
        const char *op = json_string_value(json_object_get(o, "op"));
        const json_t *jid = json_object_get(o, "id");
        char w[400];
        snprintf(w, sizeof w, "%.300s node %" PRId64, where, json_is_integer(jid) ? (int64_t)json_integer_value(jid) : (int64_t)-1);
        lp_status st;
        if (op && (!strcmp(op, "while_loop") || !strcmp(op, "fori_loop"))) {
            static const char *const SUBS[] = {"cond", "body"};
            for (int k = 0; k < 2; k++) {
                char ws[440];
                json_t *sub = json_object_get(json_object_get(o, SUBS[k]), "nodes");
                snprintf(ws, sizeof ws, "%.340s %s:", w, SUBS[k]);
                if (json_is_array(sub) && (st = resolve_list(C, ctx, r, d, sub, ws, depth + 1))) return st;
            }
            continue;
        }
        if (!op || strcmp(op, "load") || !json_is_object(attrs)) continue;
        const json_t *jp = json_object_get(attrs, "path");
        if (!json_is_string(jp)) continue; /* lpi_graph_from_json reports it */
        int k = 0;
        while (k < d->ndata && strcmp(d->data[k].key, json_string_value(jp))) k++;
        if (k == d->ndata) {
            char *real; /* the same policy as a batch's load tasks: deny by default, confined */
            if ((st = lpi_wire_load_allowed(ctx, C->host.limits, w, json_string_value(jp), &real))) return st;
            int e = json_object_set_new(attrs, "path", json_string(real));
            lp_free(real);
            if (e) return lpi_nomem(ctx);
            continue;
        }
        char path[400];
        snprintf(path, sizeof path, "%s/data%d.npy", r->tmpdir, k);
        bool have = false;
        for (int f = 0; f < r->nfiles && !have; f++) have = r->files[f] == k;
        if (!have) {
            lp_buffer *b;
            if ((st = lpi_store_get(ctx, r->store, d->data[k].key, &b))) return st;
            uint64_t h = XXH3_64bits(b->nbytes ? b->data : "", b->nbytes);
            if (h != d->data[k].checksum) st = lpi_chunk_checksum_error(ctx, d->data[k].key, d->data[k].checksum, h);
            else if (!(st = lpi_npy_write(ctx, path, b->dtype, b->ndim, b->shape, b->data, NULL)))
                r->files[r->nfiles++] = k;
            lp_buffer_release(b);
            if (st) return st;
        }
        if (json_object_set_new(attrs, "path", json_string(path))) return lpi_nomem(ctx);
    }
    return LP_OK;
}

static lp_status resolve_loads(lpi_chains *C, lp_ctx *ctx, crun *r, lpi_rundoc *d) {
    json_t *nodes = json_object_get(d->graph, "nodes");
    if (!json_is_array(nodes)) return LP_OK; /* lpi_graph_from_json reports it */
    if (d->ndata) {
        const char *tmp = getenv("TMPDIR");
        snprintf(r->tmpdir, sizeof r->tmpdir, "%s/lampy-run-%.40s-XXXXXX", tmp && *tmp && strlen(tmp) < 150 ? tmp : "/tmp", r->run);
        if (!mkdtemp(r->tmpdir)) {
            r->tmpdir[0] = 0;
            return lpi_error(ctx, LP_ERR_IO, "cannot create a directory for the run's data: %s", strerror(errno));
        }
        if (!(r->files = lp_calloc((size_t)d->ndata, sizeof *r->files))) return lpi_nomem(ctx);
    }
    char where[LPI_RUN_ID_MAX + 16];
    snprintf(where, sizeof where, "run %s:", r->run);
    return resolve_list(C, ctx, r, d, nodes, where, 0);
}

/* An upper bound of the plan's size before planning (chunks per node: hints, or bytes over the
 * smallest automatic chunk), so a document cannot make a worker build a plan of billions of tasks. */
static lp_status check_size(lp_ctx *ctx, const crun *r, lp_array *const *targets, int ntargets, int64_t chunk_bytes) {
    int64_t n = 0, cb = chunk_bytes > 0 ? chunk_bytes : 256 << 10;
    lp_array **stack = NULL;
    int sp = 0, cap = 0;
    lpi_hmap seen = {0};
    lp_status st = LP_OK;
    if (!lpi_hmap_init(&seen, 1024)) return lpi_nomem(ctx);
    for (int t = 0; t < ntargets && !st; t++) {
        if (sp == cap) {
            lp_array **s = lp_realloc(stack, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *s);
            if (!s) { st = lpi_nomem(ctx); break; }
            stack = s;
        }
        stack[sp++] = targets[t];
        while (sp && !st) {
            lp_array *a = stack[--sp];
            int64_t v;
            if (lpi_hmap_get(&seen, (uint64_t)(uintptr_t)a, &v)) continue;
            if (!lpi_hmap_put(&seen, (uint64_t)(uintptr_t)a, 1)) { st = lpi_nomem(ctx); break; }
            int64_t c = 1;
            if (a->has_chunk_hint) {
                for (int i = 0; i < a->ndim; i++) c *= a->chunk_hint[i] > 0 ? (a->shape[i] + a->chunk_hint[i] - 1) / a->chunk_hint[i] : 1;
            } else {
                c = (a->size * (int64_t)lp_dtype_size(a->dtype) + cb - 1) / cb;
            }
            n += c < 1 ? 1 : c;
            if (n > MAX_PLAN_TASKS) st = lpi_error(ctx, LP_ERR_LIMIT, "run %s: the plan would have more than %lld tasks", r->run,
                                                  (long long)MAX_PLAN_TASKS);
            /* a loop's body and cond are planned too (once, run per iteration) */
            const lpi_loop *l = lpi_is_loop(a) ? a->a.loop : NULL;
            const int nsub = l ? l->ncarry + (l->kind == LPI_OP_WHILE_LOOP) : 0;
            for (int k = 0; k < a->nin + nsub && !st; k++) {
                if (sp == cap) {
                    lp_array **s = lp_realloc(stack, (size_t)(cap = 2 * cap) * sizeof *s);
                    if (!s) { st = lpi_nomem(ctx); break; }
                    stack = s;
                }
                stack[sp++] = k < a->nin ? a->in[k] : k - a->nin < l->ncarry ? l->body_out[k - a->nin] : l->cond_out;
            }
        }
    }
    lp_free(stack);
    lpi_hmap_free(&seen);
    return st;
}

/* Per task and pnode: what runs, dependency counts of what runs, estimates. */
static lp_status derive(lp_ctx *ctx, crun *r) {
    const lpi_plan *pl = r->plan;
    const int64_t nt = pl->ntasks;
    r->direct = lp_calloc((size_t)pl->npnodes + 1, sizeof *r->direct);
    r->ndeps = lp_calloc((size_t)nt + 1, sizeof *r->ndeps);
    r->est = lp_calloc((size_t)nt + 1, sizeof *r->est);
    int64_t *seen = lp_malloc(((size_t)nt + 1) * sizeof *seen);
    if (!r->direct || !r->ndeps || !r->est || !seen) { lp_free(seen); return lpi_nomem(ctx); }
    for (int p = 0; p < pl->npnodes; p++) r->direct[p] = pl->pnodes[p].kernel == LPI_K_LOAD && pl->pnodes[p].target < 0;
    for (int64_t t = 0; t < nt; t++) seen[t] = -1;
    const lpi_profile *pr = lpi_profile_get(r->pctx);
    for (int64_t t = 0; t < nt; t++) {
        const lpi_task *tk = &pl->tasks[t];
        if (r->direct[tk->pnode]) continue;
        r->nrun++;
        for (int k = 0; k < tk->nops; k++)
            for (int q = 0; q < tk->ops[k].npieces; q++) {
                const lpi_piece *pc = &tk->ops[k].pieces[q];
                if (pl->pnodes[pc->pnode].kernel == LPI_K_NONE || r->direct[pc->pnode]) continue;
                int64_t prod = task_of_chunk(pl, pc->pnode, pc->chunk);
                if (seen[prod] != t) { seen[prod] = t; r->ndeps[t]++; }
            }
        if (pr) {
            lpi_task_cost c;
            lpi_task_cost_of(pl, t, pr, 1, &c);
            r->est[t] = lpi_task_seconds(pr, &c, 1, false);
        }
    }
    lp_free(seen);
    return LP_OK;
}

/* Bytes target t's sink file must hold: its header (offset) and the data. */
static int64_t sink_need(const lpi_plan *pl, int t, int64_t offset) {
    const lpi_pnode *pn = &pl->pnodes[pl->target_pnode[t]];
    int64_t need = 1;
    for (int k = 0; k < pn->ndim; k++) need *= pn->shape[k];
    return need * (int64_t)lp_dtype_size(pn->dtype) + offset;
}

/* The document's result sinks: each target's chunks are written by its tasks into the
 * driver's file, which must lie below the worker's --write-dirs (checked and opened when the
 * run is planned; closed whenever no chain of the run is on this worker, reopened by the next:
 * a cached plan keeps no file open, so the file the driver renames over or deletes later is
 * freed then, in that process, not by whichever later run evicts the plan). */
static lp_status open_sinks(lpi_chains *C, lp_ctx *ctx, crun *r, const lpi_rundoc *d) {
    const lpi_plan *pl = r->plan;
    const int n = pl->ntargets;
    if (!d->nsinks) return LP_OK;
    r->sinks = lp_calloc((size_t)n, sizeof *r->sinks);
    r->sink_ptr = lp_calloc((size_t)n, sizeof *r->sink_ptr);
    r->sink_fd = lp_malloc((size_t)n * sizeof *r->sink_fd);
    r->sink_path = lp_calloc((size_t)n, sizeof *r->sink_path);
    if (!r->sinks || !r->sink_ptr || !r->sink_fd || !r->sink_path) return lpi_nomem(ctx);
    for (int t = 0; t < n; t++) r->sink_fd[t] = -1;
    for (int i = 0; i < d->nsinks; i++) {
        const lpi_rundoc_sink *s = &d->sinks[i];
        char w[LPI_RUN_ID_MAX + 48];
        snprintf(w, sizeof w, "run %s: sink %d", r->run, i);
        if (s->target >= n) return lpi_error(ctx, LP_ERR_VALUE, "%s: the graph has %d targets", w, n);
        const int t = (int)s->target;
        if (!lpi_plan_sinkable(pl, t))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: target %d is not computed by tasks of its own", w, t);
        lp_status st = lpi_wire_sink_open(ctx, C->host.limits, w, s->file, sink_need(pl, t, s->offset), &r->sink_fd[t]);
        if (st) return st;
        if (!(r->sink_path[t] = lp_strdup(s->file))) return lpi_nomem(ctx);
        r->sinks[t] = (lpi_result_sink){r->sink_path[t], s->offset, true, 0};
        r->sink_ptr[t] = &r->sinks[t];
    }
    r->plan->target_sink = r->sink_ptr;
    return LP_OK;
}

/* Plan a run from its document (see chain.h). A document with loops is not planned: the run's
 * start (start) gets it back in r->loops_doc, to run the loops first (run_loops). */
static lp_status crun_build(lpi_chains *C, lp_ctx *ctx, const char *run, const char *store_url, bool start, crun **out) {
    *out = NULL;
    crun *r = lp_calloc(1, sizeof *r);
    if (!r) return lpi_nomem(ctx);
    snprintf(r->run, sizeof r->run, "%s", run);
    snprintf(r->prefix, sizeof r->prefix, "lampy/%s", run);
    lpi_rundoc d;
    memset(&d, 0, sizeof d);
    char key[LPI_STORE_KEY_MAX + 1], *text = NULL;
    size_t len = 0;
    snprintf(key, sizeof key, "%s/run", r->prefix);
    lp_status st;
    if (!(r->store_url = lp_strdup(store_url))) { st = lpi_nomem(ctx); goto fail; }
    if ((st = C->host.store(C->host.w, ctx, store_url, &r->store))) goto fail;
    if ((st = lpi_rr_get(ctx, r->store, key, LPI_RUNDOC_MAX, &text, &len))) goto fail;
    if ((st = lpi_rundoc_parse(ctx, text, len, &d))) goto fail;
    if (strcmp(d.run, run) || strcmp(d.store, store_url)) {
        st = lpi_error(ctx, LP_ERR_VALUE, "run %s: the document is of another run or store", run);
        goto fail;
    }
    r->budget = d.budget;
    r->max_tries = d.max_tries;
    r->lease_ms = d.lease_ms;
    r->runtime_sec = d.runtime_sec;
    r->nworkers = d.nworkers;
    if (!(r->workers = lp_calloc((size_t)d.nworkers, sizeof *r->workers)) || !(r->lambda = lp_strdup(d.lambda))) {
        st = lpi_nomem(ctx);
        goto fail;
    }
    for (int i = 0; i < d.nworkers; i++)
        if (!(r->workers[i] = lp_strdup(d.workers[i]))) { st = lpi_nomem(ctx); goto fail; }
    if ((st = lp_ctx_create(&r->pctx))) { st = lpi_nomem(ctx); goto fail; }
    lp_ctx_set_threads(r->pctx, d.threads);
    lp_ctx_set_chunk_bytes(r->pctx, (size_t)d.chunk_bytes);
    {
        /* every function of a run plans the same tasks: automatic chunks from the built-in
         * size, whatever profile (probed or calibrated) this host has */
        lpi_profile pinned = *lpi_profile_get(r->pctx);
        lpi_profile_pin_chunks(&pinned);
        if ((st = lpi_profile_set(r->pctx, &pinned))) goto fail;
    }
    lp_ctx_set_fusion(r->pctx, d.fusion);
    if (lpi_rundoc_has_loops(d.graph)) {
        if (!start) {
            st = lpi_error(ctx, LP_ERR_VALUE, "run %s: its loops have not run yet (the run's start runs them)", run);
            goto fail;
        }
        r->loops_doc = text;
        r->loops_len = len;
        lpi_rundoc_free(&d);
        *out = r;
        return LP_OK;
    }
    if ((st = resolve_loads(C, ctx, r, &d))) goto fail;
    if ((st = lpi_graph_from_json(r->pctx, d.graph, &r->targets, &r->ntargets))) {
        lpi_error(ctx, st, "run %s: %s", run, lp_last_error(r->pctx));
        goto fail;
    }
    if ((st = check_size(ctx, r, r->targets, r->ntargets, d.chunk_bytes))) goto fail;
    if ((st = lpi_plan_build(r->pctx, r->targets, r->ntargets, &r->plan))) {
        lpi_error(ctx, st, "run %s: %s", run, lp_last_error(r->pctx));
        goto fail;
    }
    if (r->plan->ntasks > MAX_PLAN_TASKS) {
        st = lpi_error(ctx, LP_ERR_LIMIT, "run %s: %lld tasks; a worker plans at most %lld", run,
                       (long long)r->plan->ntasks, (long long)MAX_PLAN_TASKS);
        goto fail;
    }
    if ((st = lpi_open_loads(ctx, r->plan)) || (st = derive(ctx, r)) || (st = open_sinks(C, ctx, r, &d))) goto fail;
    atomic_fetch_add(&C->n_planned, 1);
    lp_free(text);
    lpi_rundoc_free(&d);
    *out = r;
    return LP_OK;
fail:
    lp_free(text);
    lpi_rundoc_free(&d);
    crun_free(r);
    return st;
}

static crun *find_run(lpi_chains *C, const char *run, const char *store_url) {
    for (int i = 0; i < RUNS_CACHED; i++)
        if (C->runs[i] && !strcmp(C->runs[i]->run, run) && !strcmp(C->runs[i]->store_url, store_url)) {
            C->runs[i]->refs++;
            C->runs[i]->last_use = ++C->clock;
            return C->runs[i];
        }
    return NULL;
}

/* The run's plan from the cache, or planned now (one plan at a time per worker); for the run's
 * start (start) of a document with loops, the document (not cached: it changes). */
static lp_status get_run(lpi_chains *C, lp_ctx *ctx, const char *run, const char *store_url, bool start, crun **out) {
    pthread_mutex_lock(&C->mu);
    *out = find_run(C, run, store_url);
    pthread_mutex_unlock(&C->mu);
    if (*out) return LP_OK;
    pthread_mutex_lock(&C->load_mu);
    pthread_mutex_lock(&C->mu);
    *out = find_run(C, run, store_url);
    pthread_mutex_unlock(&C->mu);
    lp_status st = LP_OK;
    crun *r = NULL;
    if (!*out && !(st = crun_build(C, ctx, run, store_url, start, &r)) && r->loops_doc) {
        r->refs = 1;
        *out = r;
    } else if (!*out && !st) {
        crun *evicted = NULL;
        pthread_mutex_lock(&C->mu);
        int slot = -1;
        for (int i = 0; i < RUNS_CACHED && slot < 0; i++)
            if (!C->runs[i]) slot = i;
        for (int i = 0; i < RUNS_CACHED && slot < 0; i++)
            if (!C->runs[i]->refs && (slot < 0 || C->runs[i]->last_use < C->runs[slot]->last_use)) slot = i;
        if (slot >= 0) {
            evicted = C->runs[slot];
            C->runs[slot] = r;
        }
        r->refs = 1; /* uncached when every slot is in use: freed by its last user */
        r->last_use = ++C->clock;
        pthread_mutex_unlock(&C->mu);
        crun_free(evicted);
        *out = r;
    }
    pthread_mutex_unlock(&C->load_mu);
    return st;
}

static void put_run(lpi_chains *C, crun *r) {
    if (!r) return;
    bool cached = false, free_it;
    /* closed outside the lock: the last close of a file already deleted frees its pages */
    int *drop = r->sink_fd ? lp_malloc((size_t)r->ntargets * sizeof *drop) : NULL, nd = 0;
    pthread_mutex_lock(&C->mu);
    for (int i = 0; i < RUNS_CACHED; i++) cached |= C->runs[i] == r;
    free_it = --r->refs == 0 && !cached;
    /* the last chain of a cached run: its sink files are closed (reopened by the next) */
    for (int t = 0; drop && cached && !r->refs && t < r->ntargets; t++)
        if (r->sink_fd[t] >= 0) { drop[nd++] = r->sink_fd[t]; r->sink_fd[t] = -1; }
    pthread_mutex_unlock(&C->mu);
    for (int i = 0; i < nd; i++) close(drop[i]);
    lp_free(drop);
    if (free_it) crun_free(r);
}

/* ---- invocations of other workers ---- */

/* Spawns of one chain, which a synchronous chain (the OpenLambda lambda) waits for: a lambda
 * may be paused once it answers, so what it spawns must be on the wire before it returns. */
typedef struct sendset {
    pthread_mutex_t mu;
    int refs;
    int pending;                 /* spawns whose body has not gone out yet */
} sendset;

typedef struct sendjob {
    lpi_chains *C;
    crun *r;
    sendset *ss;
    char *body;
    int64_t task;
    atomic_int sent;
} sendjob;

static void sendset_put(sendset *ss) {
    if (!ss) return;
    pthread_mutex_lock(&ss->mu);
    bool last = --ss->refs == 0;
    pthread_mutex_unlock(&ss->mu);
    if (last) {
        pthread_mutex_destroy(&ss->mu);
        lp_free(ss);
    }
}

static void job_sent(sendjob *j) {
    if (!j->ss || atomic_exchange(&j->sent, 2) == 2) return;
    pthread_mutex_lock(&j->ss->mu);
    j->ss->pending--;
    pthread_mutex_unlock(&j->ss->mu);
}

static void *send_main(void *arg) {
    sendjob *j = arg;
    lpi_chains *C = j->C;
    crun *r = j->r;
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) == LP_OK) {
        int first = (int)(atomic_fetch_add(&C->rr, 1) % (unsigned)r->nworkers);
        /* LAMPY_INVOKE_TIMEOUT (5 s) to accept: a `lampy worker` answers 202 at once; a runtime
         * that answers only when the chain ends (OpenLambda) may take its whole runtime */
        const char *e = getenv("LAMPY_INVOKE_TIMEOUT");
        double timeout = e && atof(e) > 0 ? atof(e) : 5;
        if (!C->host.async && timeout < r->runtime_sec + 5) timeout = r->runtime_sec + 5;
        atomic_int *sent = (atomic_int *)&j->sent;
        const lpi_orch_auth auth = {C->host.key, r->prefix, C->host.ca_file};
        lp_status is = lpi_orch_invoke(ctx, (const char *const *)r->workers, r->nworkers, first, r->lambda, j->body,
                                       CHAIN_AGENT, timeout, &auth, sent);
        if (is == LP_ERR_LIMIT && j->task >= 0) {
            /* every worker busy: the task waits in the queue for a free chain */
            lpi_rr_requeue(ctx, r->store, r->prefix, j->task, lease_of(r, j->task));
        } else if (is) {
            /* no worker took it: one try used, retried soon by a reaper */
            char why[LPI_ERRMSG_MAX];
            lpi_rr_state rs;
            snprintf(why, sizeof why, "%s", lp_last_error(ctx));
            lpi_rr_refused(ctx, r->store, r->prefix, j->task, why, &rs);
        }
        lp_ctx_destroy(ctx);
    }
    job_sent(j);
    put_run(C, r);
    sendset_put(j->ss);
    free(j->body);
    lp_free(j);
    pthread_mutex_lock(&C->mu);
    C->active--;
    pthread_cond_broadcast(&C->cv);
    pthread_mutex_unlock(&C->mu);
    return NULL;
}

/* Invoke a worker for task (LPI_RR_START: the start) on a thread of its own. */
static void spawn(lpi_chains *C, crun *r, int64_t task, sendset *ss) {
    sendjob *j = lp_calloc(1, sizeof *j);
    char *body = lpi_orch_request(r->run, r->store_url, task < 0 ? -1 : task);
    pthread_attr_t at;
    pthread_t th;
    if (!j || !body) goto fail;
    j->C = C;
    j->r = r;
    j->ss = ss;
    j->body = body;
    j->task = task;
    pthread_mutex_lock(&C->mu);
    r->refs++;
    C->active++;
    pthread_mutex_unlock(&C->mu);
    if (ss) {
        pthread_mutex_lock(&ss->mu);
        ss->refs++;
        ss->pending++;
        pthread_mutex_unlock(&ss->mu);
    }
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, (size_t)1 << 20);
    int e = pthread_create(&th, &at, send_main, j);
    pthread_attr_destroy(&at);
    if (!e) return;
    /* no thread: the lease brings the task back later */
    job_sent(j);
    sendset_put(ss);
    put_run(C, r);
    pthread_mutex_lock(&C->mu);
    C->active--;
    pthread_cond_broadcast(&C->cv);
    pthread_mutex_unlock(&C->mu);
fail:
    free(body);
    lp_free(j);
}

/* ---- a chain ---- */

typedef struct held {
    int64_t gc;
    lp_buffer *b;
    uint64_t stamp;
} held;

typedef struct chain {
    lpi_chains *C;
    crun *r;
    lp_ctx *ctx;
    held h[HELD_MAX];
    int nh;
    uint64_t hbytes, stamp;
    double t0;
    sendset *ss;                 /* synchronous chains: spawns to see sent */
} chain;

static lp_buffer *held_get(chain *ch, int64_t gc) {
    for (int i = 0; i < ch->nh; i++)
        if (ch->h[i].gc == gc) {
            ch->h[i].stamp = ++ch->stamp;
            return ch->h[i].b;
        }
    return NULL;
}

/* Keep b (a new reference is taken) as chunk gc, evicting the least recently used. */
static void held_put(chain *ch, int64_t gc, lp_buffer *b) {
    if (held_get(ch, gc)) return;
    while (ch->nh && (ch->nh == HELD_MAX || ch->hbytes + b->nbytes > HELD_BYTES)) {
        int old = 0;
        for (int i = 1; i < ch->nh; i++)
            if (ch->h[i].stamp < ch->h[old].stamp) old = i;
        ch->hbytes -= ch->h[old].b->nbytes;
        lp_buffer_release(ch->h[old].b);
        ch->h[old] = ch->h[--ch->nh];
    }
    if (b->nbytes > HELD_BYTES) return;
    lp_buffer_retain(b);
    ch->h[ch->nh++] = (held){gc, b, ++ch->stamp};
    ch->hbytes += b->nbytes;
}

static void held_clear(chain *ch) {
    for (int i = 0; i < ch->nh; i++) lp_buffer_release(ch->h[i].b);
    ch->nh = 0;
    ch->hbytes = 0;
}

/* What a task writes: a state (nfields x pelems) or its chunk. */
static void out_shape(const crun *r, const lpi_task *t, lp_dtype *dt, int *nd, int64_t *shape) {
    const lpi_pnode *pn = &r->plan->pnodes[t->pnode];
    lpi_box box;
    lpi_grid_chunk_box(&pn->grid, t->chunk, &box);
    lpi_task_out_shape(pn, t, &box, dt, nd, shape);
}

static lp_buffer *out_buffer(const crun *r, const lpi_task *t) {
    lp_dtype dt;
    int nd;
    int64_t shape[LP_MAX_NDIM];
    out_shape(r, t, &dt, &nd, shape);
    return lpi_buffer_new(dt, nd, shape);
}

static void buffer_view(const lp_buffer *b, lpi_view *v) {
    v->data = b->data;
    v->dtype = b->dtype;
    v->ndim = b->ndim;
    int64_t s = (int64_t)lp_dtype_size(b->dtype);
    for (int i = b->ndim - 1; i >= 0; i--) { v->shape[i] = b->shape[i]; v->strides[i] = s; s *= b->shape[i]; }
}

static lp_status exec_task(chain *ch, int64_t t, int depth, lp_buffer **out, uint64_t *sum);

/* Rows of a load the consumers read straight from the file. */
static lp_status read_direct(chain *ch, int p, int64_t c, lp_buffer **out) {
    const lpi_pnode *pn = &ch->r->plan->pnodes[p];
    lpi_task t;
    memset(&t, 0, sizeof t);
    t.pnode = p;
    t.chunk = c;
    lpi_grid_chunk_box(&pn->grid, c, &t.box);
    lp_buffer *b = out_buffer(ch->r, &t);
    if (!b) return lpi_nomem(ch->ctx);
    lpi_view v;
    buffer_view(b, &v);
    lp_status st = lpi_kernel_run(ch->ctx, pn, &t, NULL, &v);
    if (st) { lp_buffer_release(b); return st; }
    *out = b;
    return LP_OK;
}

/* A chunk that should be in the store is not (deleted, evicted, flushed): compute it again
 * from the plan, write it back (other readers may need it) and keep it. */
static lp_status lineage(chain *ch, int p, int64_t c, bool have, uint64_t want, int depth, lp_buffer **out) {
    crun *r = ch->r;
    if (depth >= LINEAGE_DEPTH)
        return lpi_error(ch->ctx, LP_ERR_LIMIT, "run %s: more than %d missing chunks in a row", r->run, LINEAGE_DEPTH);
    atomic_fetch_add(&ch->C->n_lineage, 1);
    uint64_t sum;
    lp_status st = exec_task(ch, task_of_chunk(r->plan, p, c), depth + 1, out, &sum);
    if (st) return st;
    char key[LPI_STORE_KEY_MAX + 1];
    chunk_key(r, p, c, key, sizeof key);
    if (have && sum != want) {
        /* every kernel computes the same bits from the same plan: this would be a bug */
        lp_buffer_release(*out);
        *out = NULL;
        return lpi_error(ch->ctx, LP_ERR_INTERNAL, "chunk %s: recomputed with checksum %016" PRIx64 ", produced with %016" PRIx64,
                         key, sum, want);
    }
    bool alive;
    if (!(st = lpi_store_put_buffer(ch->ctx, r->store, key, *out))) st = lpi_rr_touch(ch->ctx, r->store, r->prefix, key, &alive);
    if (st) { lp_buffer_release(*out); *out = NULL; }
    return st;
}

/* Every chunk task t reads, as buffers in `bufs` (new references, per distinct global chunk
 * in `gcs`): held ones, rows of direct loads, stored ones (checked against their producers'
 * checksums) or recomputed ones. */
static lp_status gather(chain *ch, const lpi_task *tk, int depth, int64_t *gcs, lp_buffer **bufs, int *n) {
    crun *r = ch->r;
    const lpi_plan *pl = r->plan;
    lp_ctx *ctx = ch->ctx;
    lp_status st = LP_OK;
    int nfetch = 0;
    int64_t *ftask = NULL;
    int *fslot = NULL, *pof = NULL;
    *n = 0;
    for (int k = 0; k < tk->nops; k++)
        for (int q = 0; q < tk->ops[k].npieces; q++) {
            const lpi_piece *pc = &tk->ops[k].pieces[q];
            if (pl->pnodes[pc->pnode].kernel == LPI_K_NONE) continue;
            int64_t gc = pl->chunk_base[pc->pnode] + pc->chunk;
            bool dup = false;
            for (int i = 0; i < *n && !dup; i++) dup = gcs[i] == gc;
            if (dup) continue;
            gcs[*n] = gc;
            bufs[*n] = NULL;
            (*n)++;
        }
    if (*n && (!(ftask = lp_malloc((size_t)*n * sizeof *ftask)) || !(fslot = lp_malloc((size_t)*n * sizeof *fslot)) ||
               !(pof = lp_malloc((size_t)*n * sizeof *pof)))) {
        lp_free(ftask);
        lp_free(fslot);
        return lpi_nomem(ctx);
    }
    /* each slot's pnode, from the pieces */
    for (int k = 0; k < tk->nops; k++)
        for (int q = 0; q < tk->ops[k].npieces; q++) {
            const lpi_piece *pc = &tk->ops[k].pieces[q];
            int64_t gc = pl->chunk_base[pc->pnode] + pc->chunk;
            for (int i = 0; i < *n; i++)
                if (gcs[i] == gc) { pof[i] = pc->pnode; break; }
        }
    for (int i = 0; i < *n && !st; i++) {
        int p = pof[i];
        int64_t c = gcs[i] - pl->chunk_base[p];
        lp_buffer *b = held_get(ch, gcs[i]);
        if (b) {
            lp_buffer_retain(b);
            bufs[i] = b;
        } else if (r->direct[p]) {
            if (!(st = read_direct(ch, p, c, &bufs[i]))) held_put(ch, gcs[i], bufs[i]);
        } else {
            ftask[nfetch] = task_of_chunk(pl, p, c);
            fslot[nfetch++] = i;
        }
    }
    if (!st && nfetch) {
        /* the producers' checksums, one round trip for all */
        uint64_t *sums = lp_malloc((size_t)nfetch * sizeof *sums);
        bool *have = lp_malloc((size_t)nfetch * sizeof *have);
        if (!sums || !have) st = lpi_nomem(ctx);
        else st = lpi_rr_checksums(ctx, r->store, r->prefix, ftask, nfetch, sums, have);
        for (int f = 0; f < nfetch && !st; f++) {
            int i = fslot[f];
            const lpi_task *pt = &pl->tasks[ftask[f]];
            char key[LPI_STORE_KEY_MAX + 1];
            chunk_key(r, pt->pnode, pt->chunk, key, sizeof key);
            lp_buffer *b = NULL;
            st = have[f] ? lpi_store_get(ctx, r->store, key, &b) : LP_ERR_NOTFOUND;
            if (st == LP_ERR_FORMAT) st = LP_ERR_NOTFOUND; /* damaged (the store's own checksum) */
            if (!st) {
                lp_dtype dt;
                int nd;
                int64_t shape[LP_MAX_NDIM];
                out_shape(r, pt, &dt, &nd, shape);
                /* another chunk under the key (stale, substituted): as good as missing */
                if (b->dtype != dt || b->ndim != nd || memcmp(b->shape, shape, (size_t)nd * sizeof *shape) ||
                    XXH3_64bits(b->nbytes ? b->data : "", b->nbytes) != sums[f]) {
                    lp_buffer_release(b);
                    b = NULL;
                    st = LP_ERR_NOTFOUND;
                }
            }
            if (st == LP_ERR_NOTFOUND) st = lineage(ch, pt->pnode, pt->chunk, have[f], sums[f], depth, &b);
            if (!st) {
                bufs[i] = b;
                held_put(ch, gcs[i], b);
            }
        }
        lp_free(sums);
        lp_free(have);
    }
    lp_free(ftask);
    lp_free(fslot);
    lp_free(pof);
    return st;
}

/* Run task t with the chain's chunks: *out is its output (a new reference), *sum its XXH3. */
static lp_status exec_task(chain *ch, int64_t t, int depth, lp_buffer **out, uint64_t *sum) {
    crun *r = ch->r;
    const lpi_plan *pl = r->plan;
    const lpi_task *tk = &pl->tasks[t];
    const lpi_pnode *pn = &pl->pnodes[tk->pnode];
    lp_ctx *ctx = ch->ctx;
    int npieces = 0;
    for (int k = 0; k < tk->nops; k++) npieces += tk->ops[k].npieces;
    int64_t *gcs = lp_malloc(((size_t)npieces + 1) * sizeof *gcs);
    lp_buffer **bufs = lp_calloc((size_t)npieces + 1, sizeof *bufs);
    lpi_view *ins = lp_calloc((size_t)tk->nops + 1, sizeof *ins);
    void **tmps = lp_calloc((size_t)tk->nops + 1, sizeof *tmps);
    lp_buffer *o = NULL;
    int n = 0;
    lp_status st = !gcs || !bufs || !ins || !tmps ? lpi_nomem(ctx) : gather(ch, tk, depth, gcs, bufs, &n);
    for (int k = 0; k < tk->nops && !st; k++) {
        const lpi_operand *op = &tk->ops[k];
        lpi_view *pv = lp_malloc(((size_t)op->npieces + 1) * sizeof *pv);
        lpi_box *pb = lp_malloc(((size_t)op->npieces + 1) * sizeof *pb);
        if (!pv || !pb) st = lpi_nomem(ctx);
        for (int q = 0; !st && q < op->npieces; q++) {
            const lpi_piece *pc = &op->pieces[q];
            const lpi_pnode *pp = &pl->pnodes[pc->pnode];
            lpi_grid_chunk_box(&pp->grid, pc->chunk, &pb[q]);
            if (pp->kernel == LPI_K_NONE) {
                /* data in the document (inline), part of the plan */
                pv[q].data = (char *)pp->prefilled->data + pp->pre_offset;
                pv[q].dtype = pp->dtype;
                pv[q].ndim = pp->ndim;
                for (int i = 0; i < pp->ndim; i++) {
                    pv[q].data += pb[q].lo[i] * pp->pre_strides[i];
                    pv[q].shape[i] = pb[q].hi[i] - pb[q].lo[i];
                    pv[q].strides[i] = pp->pre_strides[i];
                }
                continue;
            }
            int64_t gc = pl->chunk_base[pc->pnode] + pc->chunk;
            int i = 0;
            while (gcs[i] != gc) i++;
            buffer_view(bufs[i], &pv[q]);
        }
        if (!st) st = lpi_assemble(ctx, op, pl->pnodes[op->pnode].dtype, pv, pb, &ins[k], &tmps[k]);
        lp_free(pv);
        lp_free(pb);
    }
    if (!st && !(o = out_buffer(r, tk))) st = lpi_nomem(ctx);
    if (!st) {
        lpi_view ov;
        buffer_view(o, &ov);
        st = lpi_kernel_run(ctx, pn, tk, ins, &ov);
    }
    for (int k = 0; k < tk->nops && tmps; k++) lp_free_aligned(tmps[k]);
    for (int i = 0; i < n; i++) lp_buffer_release(bufs[i]);
    lp_free(gcs);
    lp_free(bufs);
    lp_free(ins);
    lp_free(tmps);
    if (st) {
        lp_buffer_release(o);
        return st;
    }
    *sum = XXH3_64bits(o->nbytes ? o->data : "", o->nbytes);
    *out = o;
    return LP_OK;
}


/* Held inputs of task u (used to prefer, among ready consumers, one this chain can run
 * without fetching). */
static int held_inputs(chain *ch, int64_t u) {
    const lpi_plan *pl = ch->r->plan;
    const lpi_task *tk = &pl->tasks[u];
    int n = 0;
    for (int k = 0; k < tk->nops; k++)
        for (int q = 0; q < tk->ops[k].npieces; q++) {
            const lpi_piece *pc = &tk->ops[k].pieces[q];
            if (pl->pnodes[pc->pnode].kernel == LPI_K_NONE) continue;
            int64_t gc = pl->chunk_base[pc->pnode] + pc->chunk;
            for (int i = 0; i < ch->nh; i++)
                if (ch->h[i].gc == gc) { n++; break; }
        }
    return n;
}

/* Task t is done (output under key with checksum sum): the completion script, with t's
 * consumers in the order this chain prefers them and the chunks t read. */
static lp_status complete(chain *ch, int64_t t, uint64_t sum, const char *key, lpi_rr_claims *cl) {
    crun *r = ch->r;
    const lpi_plan *pl = r->plan;
    const lpi_task *tk = &pl->tasks[t];
    lp_ctx *ctx = ch->ctx;
    int nc = tk->nconsumers, np = 0;
    for (int k = 0; k < tk->nops; k++) np += tk->ops[k].npieces;
    lpi_rr_consumer *cons = lp_malloc(((size_t)nc + 1) * sizeof *cons);
    int *score = lp_malloc(((size_t)nc + 1) * sizeof *score);
    lpi_rr_input *ins = lp_malloc(((size_t)np + 1) * sizeof *ins);
    char (*keys)[LPI_STORE_KEY_MAX + 1] = lp_malloc(((size_t)np + 1) * sizeof *keys);
    lp_status st = LP_OK;
    if (!cons || !score || !ins || !keys) { st = lpi_nomem(ctx); goto done; }
    for (int i = 0; i < nc; i++) {
        int64_t u = tk->consumers[i];
        cons[i] = (lpi_rr_consumer){u, r->ndeps[u], lease_of(r, u)};
        score[i] = held_inputs(ch, u);
    }
    /* insertion sort: most held inputs first, then the planner's order */
    for (int i = 1; i < nc; i++)
        for (int j = i; j > 0; j--) {
            const lpi_rr_consumer *a = &cons[j - 1], *b = &cons[j];
            bool swap = score[j] > score[j - 1] ||
                        (score[j] == score[j - 1] && pl->tasks[b->task].prio < pl->tasks[a->task].prio);
            if (!swap) break;
            lpi_rr_consumer x = cons[j];
            cons[j] = cons[j - 1];
            cons[j - 1] = x;
            int s = score[j];
            score[j] = score[j - 1];
            score[j - 1] = s;
        }
    int ni = 0;
    for (int k = 0; k < tk->nops; k++)
        for (int q = 0; q < tk->ops[k].npieces; q++) {
            const lpi_piece *pc = &tk->ops[k].pieces[q];
            const lpi_pnode *pp = &pl->pnodes[pc->pnode];
            if (pp->kernel == LPI_K_NONE || r->direct[pc->pnode]) continue;
            char kk[LPI_STORE_KEY_MAX + 1];
            chunk_key(r, pc->pnode, pc->chunk, kk, sizeof kk);
            bool dup = false;
            for (int i = 0; i < ni && !dup; i++) dup = !strcmp(keys[i], kk);
            if (dup) continue;
            memcpy(keys[ni], kk, sizeof kk);
            /* a result's chunks stay until the driver has them */
            int64_t readers = pp->target >= 0 ? 0 : pl->chunk_refs[pl->chunk_base[pc->pnode] + pc->chunk];
            ins[ni] = (lpi_rr_input){keys[ni], readers};
            ni++;
        }
    st = lpi_rr_complete(ctx, r->store, r->prefix, t, sum, key, cons, nc, ins, ni, REAP_PER_STEP, cl);
done:
    lp_free(cons);
    lp_free(score);
    lp_free(ins);
    lp_free(keys);
    return st;
}

/* Failures of the run itself (a kernel's error) fail it; failures of this worker (the store
 * unreachable, memory) only end the chain: the lease brings its task back elsewhere. */
static bool transient(lp_status st) { return st == LP_ERR_IO || st == LP_ERR_NOMEM || st == LP_ERR_REMOTE; }

static void chain_log(const chain *ch, const char *what) {
    if (ch->C->host.quiet) return;
    char msg[LPI_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", lp_last_error(ch->ctx));
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
    fprintf(stderr, "lampy worker: run %s: %s: %s\n", ch->r->run, what, msg);
}

static void spawn_all(chain *ch, const lpi_rr_claims *cl) {
    for (int i = 0; i < cl->n; i++) spawn(ch->C, ch->r, cl->spawn[i], ch->ss);
}

/* The run's result template: per target, its chunks (task, key, box). */
static char *result_template(const crun *r) {
    const lpi_plan *pl = r->plan;
    json_t *tg = json_array();
    for (int t = 0; tg && t < pl->ntargets; t++) {
        int p = pl->target_pnode[t];
        const lpi_pnode *pn = &pl->pnodes[p];
        json_t *cl = json_array();
        for (int64_t c = 0; cl && c < pn->grid.total; c++) {
            char key[LPI_STORE_KEY_MAX + 1];
            lpi_box box;
            chunk_key(r, p, c, key, sizeof key);
            lpi_grid_chunk_box(&pn->grid, c, &box);
            if (json_array_append_new(cl, json_pack("[Iso]", (json_int_t)task_of_chunk(pl, p, c), key, lpi_box_to_json(&box)))) {
                json_decref(cl);
                cl = NULL;
            }
        }
        json_t *o = cl ? json_pack("{s:s,s:o,s:o,s:b}", "dtype", lp_dtype_name(pn->dtype), "shape", lpi_json_ints(pn->ndim, pn->shape),
                                   "chunks", cl, "sunk", lpi_plan_sink(pl, p) != NULL) : NULL;
        if (!o || json_array_append_new(tg, o)) { json_decref(tg); tg = NULL; }
    }
    json_t *doc = tg ? json_pack("{s:o}", "targets", tg) : NULL;
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return s;
}

/* The run's start: the template, the roots leased up to the budget; the first to keep. */
static lp_status start_run(chain *ch, int64_t *keep) {
    crun *r = ch->r;
    const lpi_plan *pl = r->plan;
    *keep = -1;
    int64_t n = 0;
    int64_t *roots = lp_malloc(((size_t)pl->ntasks + 1) * sizeof *roots);
    int64_t *lease = lp_malloc(((size_t)pl->ntasks + 1) * sizeof *lease);
    char *tpl = result_template(r);
    lp_status st = LP_OK;
    if (!roots || !lease || !tpl) st = lpi_nomem(ch->ctx);
    for (int64_t t = 0; !st && t < pl->ntasks; t++)
        if (!r->direct[pl->tasks[t].pnode] && r->ndeps[t] == 0) roots[n++] = t;
    /* the planner's depth-first order: a root's consumers become ready soon */
    for (int64_t i = 1; !st && i < n; i++)
        for (int64_t j = i; j > 0 && pl->tasks[roots[j]].prio < pl->tasks[roots[j - 1]].prio; j--) {
            int64_t x = roots[j];
            roots[j] = roots[j - 1];
            roots[j - 1] = x;
        }
    for (int64_t i = 0; i < n; i++) lease[i] = lease_of(r, roots[i]);
    lpi_rr_claims cl;
    if (!st && !(st = lpi_rr_start(ch->ctx, r->store, r->prefix, r->nrun, tpl, roots, lease, n, &cl))) {
        spawn_all(ch, &cl);
        if (cl.state == LPI_RR_OK) *keep = cl.keep;
        lpi_rr_claims_free(&cl);
    }
    lp_free(roots);
    lp_free(lease);
    free(tpl);
    return st;
}

/* ---- the run's loops (docs/ORCHESTRATION.md, "Loops") ---- */

/* While the start runs the loops, its lease is renewed: the waiting driver would take an expired
 * one for a dead start and invoke another. When the run stops (failed, cancelled, past its
 * deadline, collected) or the worker shuts down, the loops are cancelled. */
typedef struct heartbeat {
    lpi_chains *C;
    crun *r;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool quit;
    atomic_int why;              /* 0 running, 1 the run stopped, 2 the worker stops */
} heartbeat;

static void *heartbeat_main(void *arg) {
    heartbeat *hb = arg;
    crun *r = hb->r;
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) ctx = NULL;
    const double every = (double)r->lease_ms / 2000;
    double next = lpi_now() + every;
    pthread_mutex_lock(&hb->mu);
    while (!hb->quit) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L; /* the worker's shutdown is noticed within 0.1 s */
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&hb->cv, &hb->mu, &ts);
        if (hb->quit) break;
        pthread_mutex_unlock(&hb->mu);
        int why = atomic_load(&hb->C->stopping) ? 2 : 0;
        lpi_rr_state rs = LPI_RR_OK;
        if (!why && ctx && lpi_now() >= next) {
            next = lpi_now() + every;
            /* a failed renewal (the store unreachable) is not the run's end: the lease decides */
            if (!lpi_rr_hold(ctx, r->store, r->prefix, 4 * r->lease_ms, NULL, 0, &rs) && rs != LPI_RR_OK) why = 1;
        }
        if (why) {
            atomic_store(&hb->why, why);
            lp_cancel(r->pctx);
        }
        pthread_mutex_lock(&hb->mu);
    }
    pthread_mutex_unlock(&hb->mu);
    lp_ctx_destroy(ctx);
    return NULL;
}

/* The start of a run whose graph has loops: run them here, with this worker's local executor
 * (each iteration's plan on the function's own threads: no invocation and no round trip to
 * the driver per iteration), put each top-level loop_output's final value in the store as data
 * of the run (<prefix>/data/loop<id>) and replace the run document with one where those nodes
 * are loads of that data and the loops are gone. Every worker then plans that document, as
 * it plans the driver's in-memory data. A duplicate start (a re-invocation after a lost lease)
 * computes the same bits and writes the same document. */
static lp_status run_loops(chain *ch) {
    lpi_chains *C = ch->C;
    crun *r = ch->r;
    lp_ctx *ctx = ch->ctx;
    lpi_rundoc d;
    lp_status st = lpi_rundoc_parse(ctx, r->loops_doc, r->loops_len, &d);
    if (st) return st;
    json_t *doc = json_deep_copy(d.doc), *ids = lpi_rundoc_loop_outputs(d.graph);
    lp_array **lt = NULL;
    int nlt = 0;
    int64_t *idv = NULL;
    char **keys = NULL;
    uint64_t *sums = NULL;
    char *text = NULL;
    if (!doc || !ids) st = lpi_nomem(ctx);
    if (!st) st = resolve_loads(C, ctx, r, &d);
    /* the loops' outputs as the targets (loops no output reads are dropped unrun) */
    if (!st && json_array_size(ids)) {
        if (json_object_set(d.graph, "targets", ids)) st = lpi_nomem(ctx);
        else if ((st = lpi_graph_from_json(r->pctx, d.graph, &lt, &nlt))) lpi_error(ctx, st, "run %s: %s", r->run, lp_last_error(r->pctx));
        else st = check_size(ctx, r, lt, nlt, d.chunk_bytes);
    }
    if (!st && nlt) {
        atomic_fetch_add(&C->n_loops, 1);
        heartbeat hb = {.C = C, .r = r, .quit = false};
        pthread_t th;
        pthread_mutex_init(&hb.mu, NULL);
        pthread_cond_init(&hb.cv, NULL);
        bool beat = pthread_create(&th, NULL, heartbeat_main, &hb) == 0;
        r->pctx->in_run = true;
        st = lpi_loops_prepare(r->pctx, lt, nlt, NULL);
        r->pctx->in_run = false;
        if (beat) {
            pthread_mutex_lock(&hb.mu);
            hb.quit = true;
            pthread_cond_signal(&hb.cv);
            pthread_mutex_unlock(&hb.mu);
            pthread_join(th, NULL);
        }
        pthread_mutex_destroy(&hb.mu);
        pthread_cond_destroy(&hb.cv);
        int why = atomic_load(&hb.why);
        if (why == 1) st = lpi_error(ctx, LP_ERR_CANCELLED, "run %s: the run stopped while its loops ran", r->run);
        else if (why == 2) st = lpi_error(ctx, LP_ERR_REMOTE, "run %s: the worker shuts down", r->run);
        else if (st) lpi_error(ctx, st, "%s", lp_last_error(r->pctx)); /* the local executor's words */
    }
    if (!st && (!(idv = lp_calloc((size_t)nlt + 1, sizeof *idv)) || !(keys = lp_calloc((size_t)nlt + 1, sizeof *keys)) ||
                !(sums = lp_calloc((size_t)nlt + 1, sizeof *sums))))
        st = lpi_nomem(ctx);
    for (int i = 0; !st && i < nlt; i++) {
        lp_buffer *b = lp_array_result(lt[i]);
        bool alive = true;
        idv[i] = json_integer_value(json_array_get(ids, (size_t)i));
        if (!(keys[i] = lp_malloc(LPI_STORE_KEY_MAX + 1))) { st = lpi_nomem(ctx); break; }
        snprintf(keys[i], LPI_STORE_KEY_MAX + 1, "%s/data/loop%" PRId64, r->prefix, idv[i]);
        sums[i] = XXH3_64bits(b->nbytes ? b->data : "", b->nbytes);
        if (!(st = lpi_store_put_buffer(ctx, r->store, keys[i], b))) st = lpi_rr_touch(ctx, r->store, r->prefix, keys[i], &alive);
        if (!st && !alive) st = lpi_error(ctx, LP_ERR_CANCELLED, "run %s: the run ended while its loops ran", r->run);
    }
    if (!st) st = lpi_rundoc_bind_loops(ctx, doc, idv, keys, sums, nlt);
    if (!st && !(text = json_dumps(doc, JSON_COMPACT))) st = lpi_nomem(ctx);
    if (!st) {
        lpi_rr_state rs;
        st = lpi_rr_hold(ctx, r->store, r->prefix, 4 * r->lease_ms, text, strlen(text), &rs);
        if (!st && rs != LPI_RR_OK) st = lpi_error(ctx, LP_ERR_CANCELLED, "run %s: the run stopped while its loops ran", r->run);
    }
    free(text);
    for (int i = 0; keys && i < nlt; i++) lp_free(keys[i]);
    lp_free(keys);
    lp_free(idv);
    lp_free(sums);
    if (lt) lp_arrays_release(lt, nlt);
    json_decref(ids);
    json_decref(doc);
    lpi_rundoc_free(&d);
    return st;
}

/* Run the loops of ch's run, then plan the document they leave: true when ch->r is that plan. */
static bool loops_then_plan(chain *ch) {
    lpi_chains *C = ch->C;
    crun *r = ch->r, *planned = NULL;
    lp_status st = run_loops(ch);
    if (!st) st = get_run(C, ch->ctx, r->run, r->store_url, true, &planned);
    if (!st && planned->loops_doc) st = lpi_error(ch->ctx, LP_ERR_INTERNAL, "run %s: loops are left after its loops ran", r->run);
    if (!st) {
        ch->r = planned;
        put_run(C, r);
        return true;
    }
    put_run(C, planned);
    if (st == LP_ERR_CANCELLED) return false; /* the run is over anyway */
    if (transient(st)) {
        chain_log(ch, "the loops stop (the run's start will be retried)");
    } else {
        char msg[LPI_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", lp_last_error(ch->ctx));
        lpi_rr_fail(ch->ctx, r->store, r->prefix, st, msg);
    }
    return false;
}

/* A sunk target's chunk into its place in the driver's file (the same bytes whenever the task
 * runs again: retries, lineage and duplicates are harmless). */
static lp_status sink_write(chain *ch, const lpi_task *tk, const lp_buffer *out) {
    crun *r = ch->r;
    const lpi_pnode *pn = &r->plan->pnodes[tk->pnode];
    const lpi_result_sink *sk = lpi_plan_sink(r->plan, tk->pnode);
    lpi_box box;
    lpi_grid_chunk_box(&pn->grid, tk->chunk, &box);
    /* open while this chain holds the run (put_run closes it only when no chain does) */
    lp_status st = LP_OK;
    pthread_mutex_lock(&ch->C->mu);
    if (r->sink_fd[pn->target] < 0) {
        char w[LPI_RUN_ID_MAX + 48];
        snprintf(w, sizeof w, "run %s: sink of target %d", r->run, pn->target);
        st = lpi_wire_sink_open(ch->ctx, ch->C->host.limits, w, sk->path, sink_need(r->plan, pn->target, sk->offset),
                                &r->sink_fd[pn->target]);
    }
    int fd = r->sink_fd[pn->target];
    pthread_mutex_unlock(&ch->C->mu);
    if (st) return st;
    return lpi_npy_pwrite_box(ch->ctx, sk->path, fd, sk->offset, lp_dtype_size(pn->dtype), pn->ndim, pn->shape, box.lo, box.hi,
                              out->data);
}

/* Run tasks from `first` (or the run's start) until nothing is left for this chain. */
static void chain_run(chain *ch, int64_t first) {
    lpi_chains *C = ch->C;
    crun *r = ch->r;
    int64_t t = first;
    if (t < 0 && start_run(ch, &t)) {
        chain_log(ch, "start");
        return;
    }
    while (t >= 0) {
        /* hand the task over rather than outlive the invocation's time limit or the worker */
        if (atomic_load(&C->stopping) || lpi_now() - ch->t0 > r->runtime_sec / 2) {
            spawn(C, r, t, ch->ss);
            break;
        }
        lp_buffer *out = NULL;
        uint64_t sum = 0;
        lp_status st = exec_task(ch, t, 0, &out, &sum);
        if (C->host.slow_task_ms) usleep((useconds_t)C->host.slow_task_ms * 1000);
        char key[LPI_STORE_KEY_MAX + 1];
        const lpi_task *tk = &r->plan->tasks[t];
        chunk_key(r, tk->pnode, tk->chunk, key, sizeof key);
        const bool sunk = lpi_plan_sink(r->plan, tk->pnode) != NULL;
        if (!st && sunk) st = sink_write(ch, tk, out);
        if (!st && (!sunk || tk->nconsumers)) st = lpi_store_put_buffer(ch->ctx, r->store, key, out);
        if (st) {
            lp_buffer_release(out);
            if (transient(st)) {
                chain_log(ch, "the chain stops (its task will be retried)");
            } else {
                char msg[LPI_ERRMSG_MAX];
                snprintf(msg, sizeof msg, "%s", lp_last_error(ch->ctx));
                lpi_rr_fail(ch->ctx, r->store, r->prefix, st, msg);
            }
            break;
        }
        atomic_fetch_add(&C->n_tasks, 1);
        if (tk->nconsumers) held_put(ch, r->plan->chunk_base[tk->pnode] + tk->chunk, out);
        lp_buffer_release(out);
        lpi_rr_claims cl;
        if ((st = complete(ch, t, sum, key, &cl))) {
            chain_log(ch, "completion");
            break;
        }
        spawn_all(ch, &cl);
        t = cl.keep;
        if (cl.state == LPI_RR_GONE) {
            /* the run ended and was collected while this task ran: take its output back */
            lpi_store_del(ch->ctx, r->store, key);
            t = -1;
        } else if (cl.state == LPI_RR_STOP || cl.state == LPI_RR_DONE) {
            t = -1;
        }
        lpi_rr_claims_free(&cl);
    }
}

/* ---- requests ---- */

typedef struct chain_job {
    lpi_chains *C;
    crun *r;
    int64_t task;
    bool sync;
} chain_job;

static void chain_exec(chain_job *J) {
    lpi_chains *C = J->C;
    chain ch;
    memset(&ch, 0, sizeof ch);
    ch.C = C;
    ch.r = J->r;
    ch.t0 = lpi_now();
    atomic_fetch_add(&C->n_chains, 1);
    if (J->sync && (ch.ss = lp_calloc(1, sizeof *ch.ss))) {
        pthread_mutex_init(&ch.ss->mu, NULL);
        ch.ss->refs = 1;
    }
    if (lp_ctx_create(&ch.ctx) == LP_OK) {
        if (!ch.r->loops_doc || loops_then_plan(&ch)) chain_run(&ch, J->task);
        lp_ctx_destroy(ch.ctx);
    }
    held_clear(&ch);
    if (ch.ss) {
        /* a synchronous chain returns only once what it spawned is on the wire */
        double until = lpi_now() + 10;
        for (;;) {
            pthread_mutex_lock(&ch.ss->mu);
            int left = ch.ss->pending;
            pthread_mutex_unlock(&ch.ss->mu);
            if (!left || lpi_now() > until) break;
            usleep(2000);
        }
        sendset_put(ch.ss);
    }
    put_run(C, ch.r);
}

static void chain_slot_free(lpi_chains *C) {
    pthread_mutex_lock(&C->mu);
    C->chains--;
    C->active--;
    pthread_cond_broadcast(&C->cv);
    pthread_mutex_unlock(&C->mu);
}

static void *chain_main(void *arg) {
    chain_job *J = arg;
    lpi_chains *C = J->C;
    chain_exec(J);
    lp_free(J);
    chain_slot_free(C);
    return NULL;
}

static const char *const K_REQ[] = {"format", "version", "kind", "run", "stores", "doc", "task", NULL};

static json_t *err_reply(lp_ctx *ctx, lp_status st) {
    char msg[600];
    snprintf(msg, sizeof msg, "%s", lp_last_error(ctx)[0] ? lp_last_error(ctx) : lp_status_str(st));
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
    return json_pack("{s:s,s:s}", "error", msg, "status", lpi_status_name(st));
}

unsigned lpi_chains_request(lpi_chains *C, lp_ctx *ctx, const json_t *req, const char *scope, json_t **reply) {
    const char *W = "orchestrate request", *run, *doc, *store;
    int64_t task = -1;
    const json_t *stores = json_object_get(req, "stores");
    lp_status st;
    unsigned code = 400;
    if ((st = lpi_json_only_keys(ctx, W, req, K_REQ, "key")) || (st = lpi_json_str(ctx, W, req, "run", false, &run)) ||
        (st = lpi_json_str(ctx, W, req, "doc", false, &doc)) ||
        (st = lpi_json_int(ctx, W, req, "task", true, 0, INT64_MAX >> 2, &task)))
        goto fail;
    if (!lpi_run_id_valid(run)) { st = lpi_error(ctx, LP_ERR_VALUE, "%s: 'run' is not a run id", W); goto fail; }
    const char *fmt;
    int64_t version;
    if ((st = lpi_json_str(ctx, W, req, "format", false, &fmt)) ||
        (st = lpi_json_int(ctx, W, req, "version", false, 0, INT32_MAX, &version)))
        goto fail;
    if (strcmp(fmt, LPI_WIRE_FORMAT) || version != LPI_WIRE_VERSION) {
        st = lpi_error(ctx, LP_ERR_FORMAT, "%s: not %s version %d", W, LPI_WIRE_FORMAT, LPI_WIRE_VERSION);
        goto fail;
    }
    char want[LPI_RUN_ID_MAX + 16];
    snprintf(want, sizeof want, "lampy/%s/run", run);
    if (strcmp(doc, want)) { st = lpi_error(ctx, LP_ERR_VALUE, "%s: 'doc' must be \"%s\"", W, want); goto fail; }
    /* a signed request may start or continue only the run it was signed for */
    if (scope && (strncmp(scope, "lampy/", 6) || strcmp(scope + 6, run))) {
        code = 403;
        st = lpi_error(ctx, LP_ERR_DENIED, "%s: run %s is outside the request's scope %.200s", W, run, scope);
        goto fail;
    }
    if (!json_is_array(stores) || json_array_size(stores) != 1 || !json_is_string(json_array_get(stores, 0)) ||
        json_string_length(json_array_get(stores, 0)) > 1024 || strncmp(json_string_value(json_array_get(stores, 0)), "redis://", 8)) {
        st = lpi_error(ctx, LP_ERR_VALUE, "%s: 'stores' must be the run's one redis:// store", W);
        goto fail;
    }
    store = json_string_value(json_array_get(stores, 0));
    if (atomic_load(&C->stopping)) { code = 503; st = lpi_error(ctx, LP_ERR_REMOTE, "the worker is shutting down"); goto fail; }
    pthread_mutex_lock(&C->mu);
    bool busy = C->chains >= C->host.max_chains;
    if (!busy) { C->chains++; C->active++; }
    pthread_mutex_unlock(&C->mu);
    if (busy) { code = 429; st = lpi_error(ctx, LP_ERR_REMOTE, "busy: %d chains running", C->host.max_chains); goto fail; }
    chain_job *J = lp_calloc(1, sizeof *J);
    crun *r = NULL;
    if (!J) st = lpi_nomem(ctx);
    else if ((st = get_run(C, ctx, run, store, task < 0, &r))) {
        /* the document's or the worker's fault: bad documents are 4xx, unreachable stores 5xx */
        code = st == LP_ERR_IO || st == LP_ERR_NOMEM || st == LP_ERR_REMOTE ? 503 : st == LP_ERR_LIMIT ? 413 : 400;
        if (st == LP_ERR_NOTFOUND) code = 404;
        if (st == LP_ERR_DENIED) code = 403; /* a load or sink path outside the worker's roots */
    } else if (task >= 0 && (task >= r->plan->ntasks || r->direct[r->plan->tasks[task].pnode])) {
        st = lpi_error(ctx, LP_ERR_VALUE, "%s: run %s has no task %lld to run", W, run, (long long)task);
    }
    if (st) {
        if (r) put_run(C, r);
        lp_free(J);
        chain_slot_free(C);
        goto fail;
    }
    *J = (chain_job){C, r, task, !C->host.async};
    if (C->host.async) {
        pthread_attr_t at;
        pthread_t th;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, CHAIN_STACK);
        int e = pthread_create(&th, &at, chain_main, J);
        pthread_attr_destroy(&at);
        if (!e) {
            *reply = json_pack("{s:b,s:s}", "accepted", true, "run", run);
            return *reply ? 202 : 503;
        }
        J->sync = true; /* no thread: run it here */
    }
    chain_main(J);
    *reply = json_pack("{s:b,s:s}", "accepted", true, "run", run);
    return *reply ? 200 : 503;
fail:
    *reply = err_reply(ctx, st);
    return *reply ? code : 503;
}

/* ---- the registry ---- */

lp_status lpi_chains_create(lp_ctx *ctx, const lpi_chains_host *host, lpi_chains **out) {
    lpi_chains *C = lp_calloc(1, sizeof *C);
    if (!C) return lpi_nomem(ctx);
    C->host = *host;
    if (C->host.max_chains < 1) C->host.max_chains = 1;
    pthread_mutex_init(&C->mu, NULL);
    pthread_mutex_init(&C->load_mu, NULL);
    pthread_cond_init(&C->cv, NULL);
    atomic_store(&C->rr, (unsigned)getpid());
    *out = C;
    return LP_OK;
}

bool lpi_chains_destroy(lpi_chains *C, double grace_sec) {
    if (!C) return true;
    atomic_store(&C->stopping, 1);
    double until = lpi_now() + grace_sec;
    pthread_mutex_lock(&C->mu);
    while (C->active > 0 && lpi_now() < until) {
        pthread_mutex_unlock(&C->mu);
        usleep(5000);
        pthread_mutex_lock(&C->mu);
    }
    bool idle = C->active == 0;
    pthread_mutex_unlock(&C->mu);
    if (!idle) return false; /* threads still use it: leave everything as it is */
    for (int i = 0; i < RUNS_CACHED; i++) crun_free(C->runs[i]);
    pthread_mutex_destroy(&C->mu);
    pthread_mutex_destroy(&C->load_mu);
    pthread_cond_destroy(&C->cv);
    lp_free(C);
    return true;
}

void lpi_chains_stats(const lpi_chains *C, json_t *obj) {
    if (!C) return;
    json_object_set_new(obj, "chains", json_integer((json_int_t)atomic_load(&C->n_chains)));
    pthread_mutex_lock((pthread_mutex_t *)&C->mu);
    json_object_set_new(obj, "chains_running", json_integer(C->chains));
    pthread_mutex_unlock((pthread_mutex_t *)&C->mu);
    json_object_set_new(obj, "chain_tasks", json_integer((json_int_t)atomic_load(&C->n_tasks)));
    json_object_set_new(obj, "runs_planned", json_integer((json_int_t)atomic_load(&C->n_planned)));
    json_object_set_new(obj, "lineage", json_integer((json_int_t)atomic_load(&C->n_lineage)));
    json_object_set_new(obj, "loop_phases", json_integer((json_int_t)atomic_load(&C->n_loops)));
}
