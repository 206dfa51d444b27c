/* The worker: runs batches of tasks for remote drivers (see worker.h and docs/PROTOCOL.md).
 *
 * A batch runs on the thread that received it (libmicrohttpd's thread per connection: a batch
 * blocks on the store and the kernels for as long as it takes, and a driver keeps one
 * connection per invocation in flight). Its tasks run in order; input chunks are fetched once
 * per batch and dropped after the last task of the batch that reads them. Kernels, operand
 * assembly and the output layout are the local executor's (exec/assemble.c, lpi_kernel_run,
 * lpi_task_out_shape): a worker computes the same bits as the driver would. */
#include "server/worker.h"
#include "plan/cost.h"
#include "exec/assemble.h"
#include "core/json.h"
#include "io/dataset.h"
#include "io/npy.h"
#include "kernels/kernels.h"
#include "server/chain.h"
#include "server/http.h"
#include "store/store.h"
#include "store/auth.h"

#include <malloc.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define MAX_STORES 64

struct lpi_worker {
    lpi_worker_cfg cfg;
    char *name;
    char *ca_file;
    char **allow;               /* owned copies of the allow-list's URLs (credentials included) */
    char **allow_id;            /* their identities (lpi_store_url_canon) */
    pthread_mutex_t lock;
    struct { char *url; lpi_store *s; } stores[MAX_STORES];
    int nstores;
    atomic_llong batches, tasks, failures, orchestrate;
    lpi_chains *chains;           /* orchestrate requests */
    uint64_t mem_budget;
    atomic_ullong mem_reserved;
};

/* 0: reserved; 429 while the others hold too much; 413 when it can never fit. */
static unsigned mem_reserve(lpi_worker *w, uint64_t bytes) {
    if (bytes > w->mem_budget) return 413;
    unsigned long long cur = atomic_load(&w->mem_reserved);
    do {
        if (cur + bytes > w->mem_budget) return 429;
    } while (!atomic_compare_exchange_weak(&w->mem_reserved, &cur, cur + bytes));
    return 0;
}

static void mem_release(lpi_worker *w, uint64_t bytes) { atomic_fetch_sub(&w->mem_reserved, bytes); }

static lp_status get_store(lpi_worker *w, lp_ctx *ctx, const char *url, lpi_store **out);
static lp_status chains_store(void *w, lp_ctx *ctx, const char *url, lpi_store **out) { return get_store(w, ctx, url, out); }

lp_status lpi_worker_create(lp_ctx *ctx, const lpi_worker_cfg *cfg, lpi_worker **out) {
    *out = NULL;
    /* a worker never probes the machine (exec/probe.c): a function's cold start is the user's
     * latency, and the planning it does (server/chain.c) must not depend on its host */
    lpi_set_profile_prober(NULL);
    lpi_worker *w = lp_calloc(1, sizeof *w);
    if (!w) return lpi_nomem(ctx);
    w->cfg = *cfg;
    w->cfg.key = NULL;
    w->cfg.ca_file = NULL;
    pthread_mutex_init(&w->lock, NULL);
    if (!cfg->limits.max_tasks) lpi_wire_limits_default(&w->cfg.limits);
    w->name = lp_strdup(cfg->name ? cfg->name : "lampy");
    int n = 0;
    while (cfg->allow_stores && cfg->allow_stores[n]) n++;
    w->allow = lp_calloc((size_t)n + 1, sizeof *w->allow);
    w->allow_id = lp_calloc((size_t)n + 1, sizeof *w->allow_id);
    bool ok = w->name && w->allow && w->allow_id;
    char id[600];
    for (int i = 0; ok && i < n; i++) {
        if (!lpi_store_url_canon(cfg->allow_stores[i], id, sizeof id)) {
            char shown[80];
            snprintf(shown, sizeof shown, "%.*s", (int)strcspn(cfg->allow_stores[i], "@"), cfg->allow_stores[i]);
            lpi_worker_destroy(w);
            return lpi_error(ctx, LP_ERR_VALUE, "allowed store '%s': not a store URL (redis://, http(s)://, file://)", shown);
        }
        ok = (w->allow[i] = lp_strdup(cfg->allow_stores[i])) && (w->allow_id[i] = lp_strdup(id));
    }
    if (ok && cfg->ca_file) ok = (w->ca_file = lp_strdup(cfg->ca_file)) != NULL;
    w->cfg.key = lpi_key_retain(cfg->key);
    if (!ok) { lpi_worker_destroy(w); return lpi_nomem(ctx); }
    w->cfg.ca_file = w->ca_file;
    w->cfg.name = w->name;
    if (!(w->mem_budget = cfg->max_memory)) {
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        w->mem_budget = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz / 2 : (uint64_t)4 << 30;
    }
    atomic_init(&w->mem_reserved, 0);
    w->cfg.allow_stores = (const char *const *)w->allow;
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    lpi_chains_host host = {w, chains_store, &w->cfg.limits, cfg->max_chains > 0 ? cfg->max_chains : (int)(nc > 0 ? 2 * nc : 4),
                            cfg->async_chains, cfg->quiet, cfg->slow_task_ms, w->cfg.key, w->ca_file};
    lp_status st = lpi_chains_create(ctx, &host, &w->chains);
    if (st) { lpi_worker_destroy(w); return st; }
    *out = w;
    return LP_OK;
}

void lpi_worker_destroy(lpi_worker *w) {
    if (!w) return;
    /* chains still running past the grace period keep using the stores: leave them be */
    if (!lpi_chains_destroy(w->chains, 5)) return;
    for (int i = 0; i < w->nstores; i++) {
        lpi_store_close(w->stores[i].s);
        lp_free(w->stores[i].url);
    }
    for (int i = 0; w->allow && w->allow[i]; i++) lp_free(w->allow[i]);
    for (int i = 0; w->allow_id && w->allow_id[i]; i++) lp_free(w->allow_id[i]);
    lp_free(w->allow);
    lp_free(w->allow_id);
    lp_free(w->name);
    lp_free(w->ca_file);
    lpi_key_release(w->cfg.key);
    pthread_mutex_destroy(&w->lock);
    lp_free(w);
}

/* The allow-list entry a batch's store URL names (-1: none). The batch names a store; the
 * worker decides where that is and how to log in: the entry's own URL (its credentials, its
 * Redis database) is what gets opened, never the task's. */
static int allowed_store(const lpi_worker *w, const char *url, char *id, size_t cap) {
    if (!lpi_store_url_canon(url, id, cap)) return -1;
    for (int i = 0; w->allow_id[i]; i++)
        if (!strcmp(id, w->allow_id[i])) return i;
    return -1;
}

/* The batch's stores, opened once per worker and kept (their connections too). */
static lp_status get_store(lpi_worker *w, lp_ctx *ctx, const char *url, lpi_store **out) {
    char id[600];
    int a = allowed_store(w, url, id, sizeof id);
    if (a < 0) {
        /* named by its identity: never echo credentials a task sent */
        char shown[120];
        if (lpi_store_url_canon(url, id, sizeof id)) snprintf(shown, sizeof shown, "%.119s", id);
        else snprintf(shown, sizeof shown, "'%.*s...'", (int)strcspn(url, ":@/"), url);
        return lpi_error(ctx, LP_ERR_DENIED, "store %s is not allowed by this worker (lampy worker --allow-store%s)",
                         shown, w->allow_id[0] ? "" : "; it allows none");
    }
    lp_status st = LP_OK;
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < w->nstores; i++)
        if (!strcmp(w->stores[i].url, id)) { *out = w->stores[i].s; goto done; }
    if (w->nstores == MAX_STORES) {
        st = lpi_error(ctx, LP_ERR_LIMIT, "this worker already serves %d stores", MAX_STORES);
        goto done;
    }
    lpi_store *s;
    char *u = lp_strdup(id);
    if (!u) { st = lpi_nomem(ctx); goto done; }
    if ((st = lpi_store_open(ctx, w->allow[a], &s))) { lp_free(u); goto done; }
    lpi_store_set_max_chunk_bytes(s, w->cfg.limits.max_chunk_bytes);
    if ((st = lpi_store_set_auth(ctx, s, w->cfg.key, w->cfg.ca_file))) { lpi_store_close(s); lp_free(u); goto done; }
    w->stores[w->nstores].url = u;
    w->stores[w->nstores].s = s;
    w->nstores++;
    *out = s;
done:
    pthread_mutex_unlock(&w->lock);
    return st;
}

static double now_us(void) { return lpi_now() * 1e6; }

static json_t *error_reply(lp_ctx *ctx, lp_status st, int task) {
    char msg[600];
    snprintf(msg, sizeof msg, "%s", lp_last_error(ctx)[0] ? lp_last_error(ctx) : lp_status_str(st));
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
    json_t *j = json_pack("{s:s,s:s}", "error", msg, "status", lpi_status_name(st));
    if (j && task >= 0) json_object_set_new(j, "task", json_integer(task));
    return j;
}

/* Decode-time failures are the request's fault (400/403/413), except the file system's (500). */
static unsigned decode_status(lp_status st) {
    switch (st) {
    case LP_ERR_LIMIT: return 413;
    case LP_ERR_DENIED: return 403;
    case LP_ERR_NOMEM: return 503;
    case LP_ERR_IO: case LP_ERR_NOTFOUND: case LP_ERR_INTERNAL: return 500;
    default: return 400;
    }
}

typedef struct runner {
    lpi_worker *w;
    lp_ctx *ctx;
    lpi_wire_batch *b;
    lpi_store **stores;
    lp_buffer **in;            /* per batch chunk: fetched data */
    int32_t *uses;             /* per batch chunk: tasks left that read it */
    double t_fetch, t_kernel, t_put;
    double deadline;           /* microseconds (now_us), 0 = none */
    const lpi_worker_call *call;
    uint64_t bytes_in, bytes_out;
} runner;

static void chunk_view(const runner *R, int64_t c, lpi_view *v, lpi_box *box) {
    const lpi_wire_chunk *ch = &R->b->chunks[c];
    const lp_buffer *buf = R->in[c];
    v->data = buf->data;
    v->dtype = ch->dtype;
    v->ndim = ch->ndim;
    int64_t s = (int64_t)lp_dtype_size(ch->dtype);
    for (int i = ch->ndim - 1; i >= 0; i--) { v->shape[i] = ch->shape[i]; v->strides[i] = s; s *= ch->shape[i]; }
    *box = ch->box;
}

/* Rows of a .npy file, read with the load kernel itself (the node was validated like any
 * load task: path policy, header). */
static lp_status read_load(runner *R, const lpi_wire_chunk *ch, lp_buffer **out) {
    lp_buffer *b = lpi_buffer_new(ch->dtype, ch->ndim, ch->shape);
    if (!b) return lpi_nomem(R->ctx);
    lpi_view v = {b->data, ch->dtype, ch->ndim, {0}, {0}};
    int64_t s = (int64_t)lp_dtype_size(ch->dtype);
    for (int i = ch->ndim - 1; i >= 0; i--) { v.shape[i] = ch->shape[i]; v.strides[i] = s; s *= ch->shape[i]; }
    lpi_task t;
    memset(&t, 0, sizeof t);
    t.pnode = ch->load;
    t.box = ch->box;
    lp_status st = lpi_kernel_run(R->ctx, &R->b->nodes[ch->load], &t, NULL, &v);
    if (st) { lp_buffer_release(b); return st; }
    *out = b;
    return LP_OK;
}

static lp_status fetch(runner *R, int64_t c) {
    if (R->in[c]) return LP_OK;
    const lpi_wire_chunk *ch = &R->b->chunks[c];
    double t0 = now_us();
    if (ch->load >= 0) {
        lp_status st = read_load(R, ch, &R->in[c]);
        R->t_fetch += now_us() - t0;
        return st;
    }
    lp_status st = lpi_store_get(R->ctx, R->stores[ch->store], ch->key, &R->in[c]);
    if (!st && (st = lpi_wire_check_input(R->ctx, R->b, c, R->in[c]))) {
        lp_buffer_release(R->in[c]);
        R->in[c] = NULL;
    }
    if (!st) R->bytes_in += R->in[c]->nbytes;
    R->t_fetch += now_us() - t0;
    return st;
}

/* One task: inputs, assembly, kernel, output. *res receives the output's description. */
static lp_status run_task(runner *R, int ti, json_t **res) {
    lp_ctx *ctx = R->ctx;
    const lpi_wire_batch *b = R->b;
    const lpi_task *t = &b->tasks[ti];
    const lpi_pnode *pn = &b->nodes[t->pnode];
    const lpi_wire_chunk *oc = &b->outs[ti];
    lp_status st = LP_OK;
    lpi_view insstack[8], *ins = t->nops <= 8 ? insstack : lp_malloc((size_t)t->nops * sizeof *ins);
    void **tmps = lp_calloc((size_t)(t->nops ? t->nops : 1), sizeof *tmps);
    lp_buffer *out = NULL;
    if (!ins || !tmps) { st = lpi_nomem(ctx); goto done; }
    for (int k = 0; k < t->nops && !st; k++) {
        const lpi_operand *op = &t->ops[k];
        for (int q = 0; q < op->npieces && !st; q++) st = fetch(R, op->pieces[q].chunk);
        if (st) break;
        lpi_view pvs[8];
        lpi_box pbs[8];
        lpi_view *pv = op->npieces <= 8 ? pvs : lp_malloc((size_t)op->npieces * sizeof *pv);
        lpi_box *pb = op->npieces <= 8 ? pbs : lp_malloc((size_t)op->npieces * sizeof *pb);
        if (!pv || !pb) st = lpi_nomem(ctx);
        for (int q = 0; !st && q < op->npieces; q++) chunk_view(R, op->pieces[q].chunk, &pv[q], &pb[q]);
        lp_dtype dt = op->npieces ? b->chunks[op->pieces[0].chunk].dtype : LP_FLOAT64;
        if (!st) st = lpi_assemble(ctx, op, dt, pv, pb, &ins[k], &tmps[k]);
        if (pv != pvs) lp_free(pv);
        if (pb != pbs) lp_free(pb);
    }
    if (st) goto done;
    if ((st = lpi_wire_check_operands(ctx, pn, t, ins))) goto done;
    if (!(out = lpi_buffer_new(oc->dtype, oc->ndim, oc->shape))) { st = lpi_nomem(ctx); goto done; }
    lpi_view ov = {out->data, oc->dtype, oc->ndim, {0}, {0}};
    int64_t s = (int64_t)lp_dtype_size(oc->dtype);
    for (int i = oc->ndim - 1; i >= 0; i--) { ov.shape[i] = oc->shape[i]; ov.strides[i] = s; s *= oc->shape[i]; }
    double t0 = now_us();
    st = lpi_kernel_run(ctx, pn, t, ins, &ov);
    double t1 = now_us();
    R->t_kernel += t1 - t0;
    if (st) goto done;
    /* past the deadline the driver has given up on this batch (and may be cleaning up its
     * chunks): writing now would only leave garbage in the store */
    if (R->deadline && now_us() > R->deadline) {
        st = lpi_error(ctx, LP_ERR_LIMIT, "the batch ran past its timeout");
        goto done;
    }
    if (R->call && R->call->gone && R->call->gone(R->call->arg)) {
        st = lpi_error(ctx, LP_ERR_CANCELLED, "the driver gave up on the batch (its connection closed)");
        goto done;
    }
    uint64_t h = XXH3_64bits(out->nbytes ? out->data : "", out->nbytes);
    /* a result sink: the output at its place in the driver's file, no store round trip (the
     * same bytes whenever the task runs again, so retries and hedges are harmless) */
    if (oc->file && (st = lpi_npy_pwrite_box(ctx, oc->file, oc->fd, oc->file_offset, lp_dtype_size(oc->dtype), pn->ndim,
                                             pn->shape, oc->box.lo, oc->box.hi, out->data)))
        goto done;
    if (oc->key &&
        (st = lpi_store_put_guarded(ctx, R->stores[oc->store], oc->key, out, R->b->guard, (double)R->b->expire_ms / 1000)))
        goto done;
    R->t_put += now_us() - t1;
    R->bytes_out += out->nbytes;
    char hx[17];
    lpi_wire_hex64(h, hx);
    *res = json_pack("{s:s,s:o,s:I,s:s}", "dtype", lp_dtype_name(oc->dtype), "shape", lpi_json_ints(oc->ndim, oc->shape),
                     "bytes", (json_int_t)out->nbytes, "checksum", hx);
    if (*res && oc->key && json_object_set_new(*res, "key", json_string(oc->key))) st = lpi_nomem(ctx);
    if (*res && oc->file && json_object_set_new(*res, "file", json_string(oc->file))) st = lpi_nomem(ctx);
    if (!*res) st = lpi_nomem(ctx);
done:
    for (int k = 0; k < t->nops; k++) lp_free_aligned(tmps ? tmps[k] : NULL);
    if (ins != insstack) lp_free(ins);
    lp_free(tmps);
    lp_buffer_release(out);
    /* inputs no later task of the batch reads are dropped now */
    for (int k = 0; k < t->nops; k++)
        for (int q = 0; q < t->ops[k].npieces; q++) {
            int64_t c = t->ops[k].pieces[q].chunk;
            if (R->uses[c] > 0 && --R->uses[c] == 0) { lp_buffer_release(R->in[c]); R->in[c] = NULL; }
        }
    return st;
}

/* Every key of the batch below the signed scope: a request signed for one run cannot touch
 * the chunks of another. */
static lp_status check_scope(lp_ctx *ctx, const lpi_wire_batch *b, const char *scope) {
    size_t n = strlen(scope);
    if (!n) return lpi_error(ctx, LP_ERR_DENIED, "the request names no key scope (X-Lampy-Scope), so it may touch no chunk");
    for (int64_t i = 0; i < b->nchunks + b->ntasks; i++) {
        const lpi_wire_chunk *c = i < b->nchunks ? &b->chunks[i] : &b->outs[i - b->nchunks];
        if ((c->load >= 0 && i < b->nchunks) || !c->key) continue; /* a sink-only output names no key */
        if (strncmp(c->key, scope, n) != 0 || c->key[n] != '/')
            return lpi_error(ctx, LP_ERR_DENIED, "chunk %.200s is outside the request's scope %.200s", c->key, scope);
    }
    return LP_OK;
}

unsigned lpi_worker_run(lpi_worker *w, const char *body, size_t n, const lpi_worker_call *call, json_t **reply) {
    double t0 = now_us();
    lp_ctx *ctx;
    *reply = NULL;
    if (lp_ctx_create(&ctx) != LP_OK) return 503;
    runner R = {.w = w, .ctx = ctx, .call = call};
    const char *scope = call ? call->scope : NULL;
    double old_deadline = lpi_deadline();
    uint64_t held = 0;          /* memory reserved for this batch */
    lp_status st = LP_OK;
    unsigned code = 200;
    int bad_task = -1;
    uint64_t need = (uint64_t)n * LPI_WORKER_PARSE_FACTOR;
    unsigned refused;
    if ((refused = mem_reserve(w, need))) {
        code = refused;
        st = lpi_error(ctx, LP_ERR_LIMIT, refused == 429 ? "busy: parsing a body of %zu bytes needs %llu MiB of memory, and the "
                       "batches in flight hold too much of this worker's %llu MiB (--max-memory)"
                       : "a body of %zu bytes needs %llu MiB to parse, more than this worker's %llu MiB (--max-memory)",
                       n, (unsigned long long)(need >> 20), (unsigned long long)(w->mem_budget >> 20));
        atomic_fetch_add(&w->batches, 1);
        goto fail;
    }
    held = need;
    char kind[16];
    if ((st = lpi_wire_kind(ctx, body, n, kind, sizeof kind))) {
        atomic_fetch_add(&w->batches, 1);
        code = decode_status(st);
        goto fail;
    }
    if (!strcmp(kind, "orchestrate")) {
        /* a small document (a run id and a store): parsed whole */
        atomic_fetch_add(&w->orchestrate, 1);
        json_error_t jerr;
        json_t *doc = json_loadb(body, n, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc) {
            st = lpi_error(ctx, LP_ERR_FORMAT, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
            code = 400;
            goto fail;
        }
        code = lpi_chains_request(w->chains, ctx, doc, scope, reply);
        if (code >= 400) atomic_fetch_add(&w->failures, 1);
        json_decref(doc);
        goto done;
    }
    atomic_fetch_add(&w->batches, 1);
    st = lpi_wire_decode(ctx, &w->cfg.limits, body, n, &R.b);
    double t_parse = now_us() - t0;
    if (!st && scope) st = check_scope(ctx, R.b, scope);
    if (st) { code = decode_status(st); goto fail; }
    const lpi_wire_batch *b = R.b;
    R.stores = lp_calloc((size_t)(b->nstores + 1), sizeof *R.stores);
    R.in = lp_calloc((size_t)(b->nchunks + 1), sizeof *R.in);
    R.uses = lp_calloc((size_t)(b->nchunks + 1), sizeof *R.uses);
    json_t *outs = json_array();
    if (!R.stores || !R.in || !R.uses || !outs) { json_decref(outs); st = lpi_nomem(ctx); code = 503; goto fail; }
    for (int i = 0; i < b->nstores && !st; i++) st = get_store(w, ctx, b->stores[i], &R.stores[i]);
    if (st) { json_decref(outs); code = decode_status(st); goto fail; }
    {
        /* what the tasks will hold: every input chunk (fetched once, kept while read) and the
         * largest task's assembled operands and output */
        uint64_t run = 0, big = 0;
        for (int64_t c = 0; c < b->nchunks; c++) {
            int64_t e = 1;
            for (int i = 0; i < b->chunks[c].ndim; i++) e *= b->chunks[c].shape[i];
            run += (uint64_t)e * lp_dtype_size(b->chunks[c].dtype);
        }
        for (int t = 0; t < b->ntasks; t++) big = b->task_bytes[t] > big ? b->task_bytes[t] : big;
        run += big;
        if ((refused = mem_reserve(w, run))) {
            code = refused;
            st = lpi_error(ctx, LP_ERR_LIMIT, refused == 429 ? "busy: the batch needs %llu MiB of memory, and the batches in "
                           "flight hold too much of this worker's %llu MiB (--max-memory)"
                           : "the batch needs %llu MiB of memory, more than this worker's %llu MiB (--max-memory)",
                           (unsigned long long)(run >> 20), (unsigned long long)(w->mem_budget >> 20));
            json_decref(outs);
            goto fail;
        }
        held += run;
    }
    /* uses: one per (task, distinct chunk) */
    for (int ti = 0; ti < b->ntasks; ti++) {
        const lpi_task *t = &b->tasks[ti];
        for (int k = 0; k < t->nops; k++)
            for (int q = 0; q < t->ops[k].npieces; q++) {
                int64_t c = t->ops[k].pieces[q].chunk;
                bool dup = false;
                for (int k2 = 0; k2 <= k && !dup; k2++)
                    for (int q2 = 0; q2 < (k2 == k ? q : t->ops[k2].npieces) && !dup; q2++)
                        dup = t->ops[k2].pieces[q2].chunk == c;
                if (!dup) R.uses[c]++;
            }
    }
    const double deadline = b->timeout_ms ? t0 + (double)b->timeout_ms * 1e3 : 0;
    R.deadline = deadline;
    lpi_deadline_set(deadline ? deadline * 1e-6 : 0); /* the store operations' too */
    for (int ti = 0; ti < b->ntasks; ti++) {
        json_t *res = NULL;
        if (deadline && now_us() > deadline) {
            st = lpi_error(ctx, LP_ERR_LIMIT, "the batch ran past its timeout of %lld ms", (long long)b->timeout_ms);
            code = 504;
        } else {
            st = run_task(&R, ti, &res);
            if (st) code = st == LP_ERR_NOMEM || st == LP_ERR_CANCELLED ? 503 : (R.deadline && now_us() > R.deadline) ? 504 : 500;
        }
        if (st || json_array_append_new(outs, res)) {
            if (!st) { st = lpi_nomem(ctx); code = 503; }
            bad_task = ti;
            break;
        }
    }
    if (st) { json_decref(outs); goto fail; }
    atomic_fetch_add(&w->tasks, b->ntasks);
    double total = now_us() - t0;
    int64_t bytes_read = 0; /* from stored arrays (loads), as the local executor counts them */
    for (int i = 0; i < b->nnodes; i++)
        if (b->nodes[i].reader) bytes_read += lpi_reader_bytes(b->nodes[i].reader);
    *reply = json_pack("{s:o,s:{s:f,s:f,s:f,s:f,s:f},s:I,s:I,s:I}", "outputs", outs, "timings", "parse_us", t_parse,
                       "fetch_us", R.t_fetch, "kernel_us", R.t_kernel, "put_us", R.t_put, "total_us", total,
                       "bytes_in", (json_int_t)R.bytes_in, "bytes_out", (json_int_t)R.bytes_out, "bytes_read",
                       (json_int_t)bytes_read);
    if (!*reply) code = 503;
    goto done;
fail:
    atomic_fetch_add(&w->failures, 1);
    if (!w->cfg.quiet && code >= 500) {
        /* one line, printable: messages can quote what a request sent */
        char msg[LPI_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", lp_last_error(ctx));
        for (char *p = msg; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
        fprintf(stderr, "lampy worker: batch%s%s failed (%u): %s\n", R.b && R.b->run[0] ? " of run " : "",
                R.b ? R.b->run : "", code, msg);
    }
    *reply = error_reply(ctx, st, bad_task);
    if (!*reply) code = 503;
done:
    if (R.b && R.in)
        for (int64_t c = 0; c < R.b->nchunks; c++) lp_buffer_release(R.in[c]);
    lp_free(R.in);
    lp_free(R.uses);
    lp_free(R.stores);
    lpi_wire_batch_free(R.b);
    lp_ctx_destroy(ctx);
    lpi_deadline_set(old_deadline);
    mem_release(w, held);
    return code;
}

/* ================================================================ the HTTP server */

struct lpi_worker_server {
    lpi_worker *w;
    lpi_http_server *http;
    int max_conc;
    atomic_int inflight;
    atomic_int stopping;
    atomic_llong refused;       /* answered 429 (or an injected fault) without running */
    lpi_worker_fault fault;
    atomic_int fault_left;
    char runpath[300];          /* "/run/<name>" */
    pthread_t janitor;
    bool has_janitor;
    /* invocations by User-Agent: orchestration's drivers and chains name themselves, so a run's
     * traffic can be told apart (tests count a driver's invocations here) */
    atomic_llong from_driver, from_chain, from_other;
};

/* A long-lived worker gives memory back once it is idle: the buffer cache's chunks nobody
 * reused, and the heap's free pages (a 16 MB batch's parse tree, a large task's buffers). */
static void *janitor_main(void *arg) {
    lpi_worker_server *S = arg;
    long long seen = -1;
    double idle_since = lpi_now();
    while (!atomic_load(&S->stopping)) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        lpi_buffer_cache_trim_idle(5.0);
        long long b = atomic_load(&S->w->batches);
        if (atomic_load(&S->inflight) > 0 || b != seen) {
            if (atomic_load(&S->inflight) == 0) seen = b;
            idle_since = lpi_now();
            continue;
        }
        if (idle_since > 0 && lpi_now() - idle_since > 1.0) {
            lpi_buffer_cache_trim_idle(0);
            malloc_trim(0);
            idle_since = -1; /* until the next batch */
        }
    }
    return NULL;
}

typedef struct wreq {
    bool counted;               /* holds one of the in-flight slots */
    bool hang;
} wreq;

static lpi_http_action srv_request(void *app, lpi_http_req *req) {
    lpi_worker_server *S = app;
    const char *path = lpi_http_path(req), *method = lpi_http_method(req);
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (!strcmp(path, "/status") || !strcmp(path, "/stats")) {
        if (!get) {
            lpi_http_reply_error(req, 405, "method %.16s not allowed on %s", method, path);
            lpi_http_add_header(req, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        } else if (path[2] == 't' && path[3] == 'a' && path[4] == 't' && path[5] == 'u') {
            lpi_http_reply_text(req, 200, "text/plain", "ready");
        } else {
            lpi_worker *w = S->w;
            json_t *j = json_pack("{s:s,s:i,s:i,s:I,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I}}", "lambda", w->name, "inflight",
                                  atomic_load(&S->inflight), "max_concurrency", S->max_conc, "batches",
                                  (json_int_t)atomic_load(&w->batches), "tasks", (json_int_t)atomic_load(&w->tasks),
                                  "failures", (json_int_t)atomic_load(&w->failures), "refused",
                                  (json_int_t)atomic_load(&S->refused), "orchestrate",
                                  (json_int_t)atomic_load(&w->orchestrate), "agents", "driver",
                                  (json_int_t)atomic_load(&S->from_driver), "chain", (json_int_t)atomic_load(&S->from_chain),
                                  "other", (json_int_t)atomic_load(&S->from_other));
            if (j) lpi_chains_stats(w->chains, j);
            lpi_http_reply_json(req, 200, j);
        }
        return LPI_HTTP_DONE;
    }
    size_t rl = strlen(S->runpath);
    if (strncmp(path, "/run/", 5) != 0) {
        lpi_http_reply_error(req, 404, "no such endpoint (POST %s, GET /status, GET /stats)", S->runpath);
        return LPI_HTTP_DONE;
    }
    if (strncmp(path, S->runpath, rl) != 0 || (path[rl] != 0 && path[rl] != '/')) {
        lpi_http_reply_error(req, 404, "no lambda named '%.60s' here (this worker runs '%s')", path + 5, S->w->name);
        return LPI_HTTP_DONE;
    }
    if (strcmp(method, "POST") != 0) {
        lpi_http_reply_error(req, 405, "method %.16s not allowed on %s", method, S->runpath);
        lpi_http_add_header(req, MHD_HTTP_HEADER_ALLOW, "POST");
        return LPI_HTTP_DONE;
    }
    const char *agent = lpi_http_header(req, "User-Agent");
    if (agent && !strncmp(agent, "lampy-driver/", 13)) atomic_fetch_add(&S->from_driver, 1);
    else if (agent && !strncmp(agent, "lampy-chain/", 12)) atomic_fetch_add(&S->from_chain, 1);
    else atomic_fetch_add(&S->from_other, 1);
    wreq *r = lp_calloc(1, sizeof *r);
    if (!r) { lpi_http_reply_error(req, 503, "out of memory"); return LPI_HTTP_DONE; }
    lpi_http_set_user(req, r);
    if (atomic_load(&S->stopping)) {
        lpi_http_reply_error(req, 503, "the worker is shutting down");
        return LPI_HTTP_DONE;
    }
    if (atomic_fetch_add(&S->inflight, 1) >= S->max_conc) {
        atomic_fetch_sub(&S->inflight, 1);
        atomic_fetch_add(&S->refused, 1);
        lpi_http_reply_error(req, 429, "busy: %d batches in flight", S->max_conc);
        return LPI_HTTP_DONE;
    }
    r->counted = true;
    if (S->fault != LPI_FAULT_NONE && atomic_fetch_sub(&S->fault_left, 1) > 0) {
        atomic_fetch_add(&S->refused, 1);
        if (S->fault == LPI_FAULT_BUSY) { lpi_http_reply_error(req, 429, "busy (injected fault)"); return LPI_HTTP_DONE; }
        if (S->fault == LPI_FAULT_FAIL) { lpi_http_reply_error(req, 502, "the call failed (injected fault)"); return LPI_HTTP_DONE; }
        r->hang = true;
    }
    return LPI_HTTP_READ_BODY;
}

static bool client_gone(void *req) { return lpi_http_client_gone(req); }

static void srv_body(void *app, lpi_http_req *req, const char *body, size_t n) {
    lpi_worker_server *S = app;
    wreq *r = lpi_http_user(req);
    if (r->hang) {
        /* injected fault: hold the request (and its slot) until the server stops */
        while (!atomic_load(&S->stopping)) usleep(20000);
        lpi_http_reply_error(req, 503, "the worker is shutting down (injected hang)");
        return;
    }
    json_t *reply;
    lpi_worker_call call = {lpi_http_scope(req), client_gone, req};
    unsigned code = lpi_worker_run(S->w, body, n, &call, &reply);
    if (!reply) { lpi_http_reply_error(req, 503, "out of memory"); return; }
    lpi_http_reply_json(req, code, reply);
}

static void srv_end(void *app, lpi_http_req *req, bool completed) {
    lpi_worker_server *S = app;
    wreq *r = lpi_http_user(req);
    if (!r) return;
    if (r->counted) atomic_fetch_sub(&S->inflight, 1);
    lp_free(r);
}

lp_status lpi_worker_server_start(lp_ctx *ctx, const lpi_worker_opts *o, lpi_worker_server **out) {
    *out = NULL;
    lpi_worker_server *S = lp_calloc(1, sizeof *S);
    if (!S) return lpi_nomem(ctx);
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    S->max_conc = o->max_concurrency > 0 ? o->max_concurrency : (int)(nc > 0 ? 2 * nc : 4);
    lpi_worker_cfg wc = o->cfg;
    wc.async_chains = true;
    if (!wc.max_chains) wc.max_chains = S->max_conc;
    lp_status st = lpi_worker_create(ctx, &wc, &S->w);
    if (st) { lp_free(S); return st; }
    if (strlen(S->w->name) > 200 || !lpi_store_key_valid(S->w->name, NULL) || strchr(S->w->name, '/')) {
        lpi_worker_destroy(S->w);
        lp_free(S);
        return lpi_error(ctx, LP_ERR_VALUE, "invalid lambda name (letters, digits, '.', '_', '-')");
    }
    snprintf(S->runpath, sizeof S->runpath, "/run/%s", S->w->name);
    S->fault = o->fault;
    atomic_store(&S->fault_left, o->fault_count);
    lpi_http_opts ho = {
        .bind = o->bind,
        .port = o->port,
        .threads = 0, /* a thread per connection: batches block on the store and the kernels */
        .max_connections = (unsigned)(S->max_conc * 4 + 64),
        .max_body = o->max_body ? o->max_body : (uint64_t)16 << 20,
        .key = o->cfg.key,
        .per_client = o->per_client,
        .request_timeout_sec = o->request_timeout_sec,
        .tls_cert = o->tls_cert,
        .tls_key = o->tls_key,
    };
    lpi_http_handlers h = {S, srv_request, NULL, srv_body, srv_end};
    if ((st = lpi_http_start(ctx, &ho, &h, &S->http))) {
        lpi_worker_destroy(S->w);
        lp_free(S);
        return st;
    }
    S->has_janitor = pthread_create(&S->janitor, NULL, janitor_main, S) == 0;
    *out = S;
    return LP_OK;
}

const char *lpi_worker_server_url(const lpi_worker_server *s) { return lpi_http_url(s->http); }

void lpi_worker_server_stop(lpi_worker_server *s, double grace_sec) {
    if (!s) return;
    atomic_store(&s->stopping, 1);
    if (s->has_janitor) pthread_join(s->janitor, NULL);
    lpi_http_stop(s->http, grace_sec);
    lpi_worker_destroy(s->w);
    lp_free(s);
}

/* ================================================================ the lambda entry point */

static pthread_once_t lambda_once = PTHREAD_ONCE_INIT;
static lpi_worker *lambda_worker;
static char lambda_error[LPI_ERRMSG_MAX] = "the worker could not start (out of memory)";
static char **lambda_lists[4];

/* "a,b,c" -> NULL-terminated list (NULL for unset or empty). */
static char **split_env(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) return NULL;
    int n = 1;
    for (const char *p = v; *p; p++) n += *p == ',';
    char **l = lp_calloc((size_t)n + 1, sizeof *l);
    if (!l) return NULL;
    int k = 0;
    for (const char *p = v; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len && (l[k] = lp_malloc(len + 1))) { memcpy(l[k], p, len); l[k][len] = 0; k++; }
        p += len + (e ? 1 : 0);
    }
    return l;
}

static void lambda_init(void) {
    lpi_worker_cfg cfg = {0};
    cfg.max_chains = 64; /* each invocation of the lambda runs its chain before it answers */
    lambda_lists[0] = split_env("LAMPY_ALLOW_STORES");
    lambda_lists[1] = split_env("LAMPY_LOAD_DIRS");
    lambda_lists[2] = split_env("LAMPY_LOAD_URLS");
    lambda_lists[3] = split_env("LAMPY_WRITE_DIRS");
    cfg.allow_stores = (const char *const *)lambda_lists[0];
    lpi_wire_limits_default(&cfg.limits);
    cfg.limits.load_dirs = (const char *const *)lambda_lists[1];
    cfg.limits.load_urls = (const char *const *)lambda_lists[2];
    cfg.limits.write_dirs = (const char *const *)lambda_lists[3];
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) return;
    /* the lambda signs its store requests with $LAMPY_KEY_FILE (the platform in front of it
     * authenticates the invocations: OpenLambda does not pass request headers to f) */
    lpi_key *key = NULL;
    if (lpi_key_from_env(ctx, &key) == LP_OK) {
        cfg.key = key;
        cfg.ca_file = getenv("LAMPY_CA_FILE");
        lpi_worker_create(ctx, &cfg, &lambda_worker);
    }
    if (!lambda_worker && lp_last_error(ctx)[0])
        snprintf(lambda_error, sizeof lambda_error, "the worker could not start: %s", lp_last_error(ctx));
    lpi_key_release(key);
    lp_ctx_destroy(ctx);
}

int lp_worker_run_json(const char *body, size_t len, char **reply_out) {
    *reply_out = NULL;
    pthread_once(&lambda_once, lambda_init);
    json_t *reply = NULL;
    unsigned code = 503;
    if (lambda_worker) code = lpi_worker_run(lambda_worker, body, len, NULL, &reply);
    else reply = json_pack("{s:s,s:s}", "error", lambda_error, "status", "ERR_INTERNAL");
    if (reply) {
        *reply_out = json_dumps(reply, JSON_COMPACT);
        json_decref(reply);
    }
    return (int)code;
}
