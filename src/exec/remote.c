/* The remote ("lambda") executor: the same plan the local executor runs, with each task sent
 * as JSON (docs/PROTOCOL.md) to a worker's POST /run/<lambda> — `lampy worker` or an
 * OpenLambda worker hosting deploy/openlambda/lampy — and every chunk kept in a store.
 *
 * One thread drives everything with libcurl's multi interface: ready tasks (a heap on the
 * planner's depth-first priorities) go out as soon as a worker has a free slot (at most
 * `inflight` invocations per worker, to the least loaded one); when more tasks are ready than
 * there are free slots, consecutive ready tasks share one invocation (a batch), up to `batch`
 * tasks and 16 MiB of chunk traffic, so small tasks amortize the round trip. The total number
 * of invocations in flight is also capped by the DAG's width: a chain never occupies more
 * than one function.
 *
 * A failed invocation (429, 502, 503, 504, a timeout, a refused or dropped connection, a
 * sandbox failure) is retried after an exponential backoff on another worker when there is
 * one; the worker that failed backs off too. After max_tries attempts of one task the run
 * fails with the last error. Answers that retrying cannot change (400: the batch is invalid;
 * 404/405: no such lambda; 413; a kernel's or the store's 500) fail the run at once.
 *
 * Chunks: keys "lampy/<run id>/<pnode>/<chunk>". In-memory data (wrapped arrays, earlier
 * results) is uploaded first; a task's output is written by its worker, and its checksum comes
 * back in the reply and travels with every reference to it, so a consumer verifies it read the
 * chunk its producer wrote. A chunk is deleted once its last consumer has finished (target
 * chunks once fetched into the result buffers), and everything left is deleted at the end, also
 * when the run fails or is cancelled. Store traffic of the driver itself (uploads, result
 * fetches, deletes) runs on a few I/O threads so it never stalls dispatching. */
#include "exec/exec.h"
#include "exec/assemble.h"
#include "exec/ready.h"
#include "exec/wire.h"
#include "core/json.h"
#include "plan/serialize.h"
#include "plan/cost.h"
#include "kernels/kernels.h"
#include "store/store.h"
#include "store/auth.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <xxhash.h>

#define DEFAULT_STORE "redis://127.0.0.1:6379"
#define BATCH_BYTES ((uint64_t)16 << 20)
#define REPLY_MAX ((size_t)64 << 20)
#define NIO 4
#define CLEANUP_SEC 5.0     /* the end-of-run deletes may take this long at most */
#define KEY_MARGIN_SEC 60.0 /* a run's keys expire this long after its deadline and cleanup */

struct lpi_remote {
    bool lambda;
    char **urls;            /* worker base URLs, no trailing '/' */
    int nurls;
    char *store;
    char *lambda_name;
    lp_remote_config cfg;
    /* kept between runs: connections to the workers (libcurl's cache lives in the multi
     * handle) and to the store, so a small run costs its round trips and nothing more */
    CURLM *multi;
    CURL **idle;
    int nidle;
    lpi_store *open_store;
    char *open_store_url;
    lpi_key *key;           /* signs every request (store/auth.h); NULL = unsigned */
    char *ca_file;          /* https: CA bundle */
};

static void remote_free(void *p) {
    struct lpi_remote *r = p;
    if (!r) return;
    for (int i = 0; i < r->nidle; i++) curl_easy_cleanup(r->idle[i]);
    lp_free(r->idle);
    if (r->multi) curl_multi_cleanup(r->multi);
    lpi_store_close(r->open_store);
    lp_free(r->open_store_url);
    for (int i = 0; i < r->nurls; i++) lp_free(r->urls[i]);
    lp_free(r->urls);
    lp_free(r->store);
    lp_free(r->lambda_name);
    lpi_key_release(r->key);
    lp_free(r->ca_file);
    lp_free(r);
}

/* https: the CA bundle configured, else $LAMPY_CA_FILE, else NULL (the system's). */
static const char *remote_ca(const struct lpi_remote *r) {
    const char *e = getenv("LAMPY_CA_FILE");
    return r->ca_file ? r->ca_file : e && *e ? e : NULL;
}

/* The executor's settings and connections live in the context's LPI_SLOT_REMOTE. */
static struct lpi_remote *remote_of(lp_ctx *ctx) {
    struct lpi_remote *r = lpi_ctx_slot(ctx, LPI_SLOT_REMOTE);
    if (!r && (r = lp_calloc(1, sizeof *r))) lpi_ctx_set_slot(ctx, LPI_SLOT_REMOTE, r, remote_free);
    return r;
}

lp_status lp_ctx_set_executor(lp_ctx *ctx, const char *executor) {
    if (!ctx) return LP_ERR_VALUE;
    if (!executor) return lpi_error(ctx, LP_ERR_VALUE, "executor: NULL");
    bool lambda;
    if (!strcmp(executor, "local")) lambda = false;
    else if (!strcmp(executor, "lambda")) lambda = true;
    else return lpi_error(ctx, LP_ERR_VALUE, "unknown executor '%.40s' (local or lambda)", executor);
    struct lpi_remote *r = remote_of(ctx);
    if (!r) return lpi_nomem(ctx);
    r->lambda = lambda;
    return LP_OK;
}

lp_status lp_ctx_set_workers(lp_ctx *ctx, const char *urls) {
    if (!ctx) return LP_ERR_VALUE;
    if (!urls) return lpi_error(ctx, LP_ERR_VALUE, "workers: NULL");
    struct lpi_remote *r = remote_of(ctx);
    if (!r) return lpi_nomem(ctx);
    int n = 0;
    char **l = NULL;
    lp_status st = LP_OK;
    for (const char *p = urls; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t')) { p++; len--; }
        while (len && (p[len - 1] == ' ' || p[len - 1] == '/')) len--;
        if (len) {
            if (len < 8 || (strncmp(p, "http://", 7) && strncmp(p, "https://", 8)) || len > 1000 ||
                memchr(p, '?', len) || memchr(p, '#', len)) {
                st = lpi_error(ctx, LP_ERR_VALUE, "workers: '%.*s' is not an http://host:port URL", (int)(len > 80 ? 80 : len), p);
                break;
            }
            char **nl = lp_realloc(l, (size_t)(n + 1) * sizeof *nl);
            char *u = lp_malloc(len + 1);
            if (!nl || !u) { lp_free(u); if (nl) l = nl; st = lpi_nomem(ctx); break; }
            l = nl;
            memcpy(u, p, len);
            u[len] = 0;
            l[n++] = u;
        }
        p += (e ? (size_t)(e - p) + 1 : strlen(p));
    }
    if (!st && n == 0) st = lpi_error(ctx, LP_ERR_VALUE, "workers: no URL given");
    if (st) {
        for (int i = 0; i < n; i++) lp_free(l[i]);
        lp_free(l);
        return st;
    }
    for (int i = 0; i < r->nurls; i++) lp_free(r->urls[i]);
    lp_free(r->urls);
    r->urls = l;
    r->nurls = n;
    return LP_OK;
}

lp_status lp_ctx_set_store(lp_ctx *ctx, const char *url) {
    if (!ctx) return LP_ERR_VALUE;
    if (!url || (strncmp(url, "redis://", 8) && strncmp(url, "http://", 7) && strncmp(url, "https://", 8) &&
                 strncmp(url, "file://", 7) && strncmp(url, "mem://", 6)))
        return lpi_error(ctx, LP_ERR_VALUE, "store: '%.80s' is not a store URL (redis://, http(s)://, file://)", url ? url : "");
    struct lpi_remote *r = remote_of(ctx);
    char *s = lp_strdup(url);
    if (!r || !s) { lp_free(s); return lpi_nomem(ctx); }
    lp_free(r->store);
    r->store = s;
    return LP_OK;
}

lp_status lp_ctx_set_remote_config(lp_ctx *ctx, const lp_remote_config *cfg) {
    if (!ctx) return LP_ERR_VALUE;
    if (!cfg) return lpi_error(ctx, LP_ERR_VALUE, "remote config: NULL");
    if (cfg->inflight < 0 || cfg->inflight > 1024 || cfg->max_tries < 0 || cfg->max_tries > 100 || cfg->batch < 0 ||
        cfg->batch > 4096 || !(cfg->timeout_sec >= 0) || cfg->timeout_sec > 86400 || !(cfg->deadline_sec >= 0) ||
        cfg->deadline_sec > 1e7)
        return lpi_error(ctx, LP_ERR_VALUE, "remote config: inflight 0..1024, max_tries 0..100, batch 0..4096, "
                         "timeout 0..86400 s, deadline 0..1e7 s");
    if (cfg->lambda && (!*cfg->lambda || strlen(cfg->lambda) > 100 || strchr(cfg->lambda, '/') ||
                        !lpi_store_key_valid(cfg->lambda, NULL)))
        return lpi_error(ctx, LP_ERR_VALUE, "remote config: invalid lambda name '%.40s'", cfg->lambda);
    /* orchestration by functions (exec/orchestrate.c) */
    const char *orch = NULL;
    if (cfg->orchestrate && !strcmp(cfg->orchestrate, "lambda")) orch = "lambda";
    else if (cfg->orchestrate && strcmp(cfg->orchestrate, "driver"))
        return lpi_error(ctx, LP_ERR_VALUE, "remote config: orchestrate is 'driver' or 'lambda', not '%.40s'", cfg->orchestrate);
    if (cfg->max_lambdas < 0 || cfg->max_lambdas > (1 << 20) || cfg->lambda_mem_mb < 0 || cfg->lambda_mem_mb > (1 << 24) ||
        !(cfg->runtime_sec >= 0) || cfg->runtime_sec > 86400)
        return lpi_error(ctx, LP_ERR_VALUE, "remote config: max_lambdas 0..1048576, lambda_mem_mb 0..16777216, "
                         "runtime 0..86400 s");
    struct lpi_remote *r = remote_of(ctx);
    if (!r) return lpi_nomem(ctx);
    lpi_key *key = NULL;
    lp_status st = cfg->key_file ? lpi_key_load(ctx, cfg->key_file, &key) : LP_OK;
    if (st) return st;
    char *name = cfg->lambda ? lp_strdup(cfg->lambda) : NULL;
    char *ca = cfg->ca_file ? lp_strdup(cfg->ca_file) : NULL;
    if ((cfg->lambda && !name) || (cfg->ca_file && !ca)) {
        lp_free(name);
        lp_free(ca);
        lpi_key_release(key);
        return lpi_nomem(ctx);
    }
    lp_free(r->lambda_name);
    r->lambda_name = name;
    lp_free(r->ca_file);
    r->ca_file = ca;
    lpi_key_release(r->key);
    r->key = key;
    r->cfg = *cfg;
    r->cfg.lambda = name;
    r->cfg.ca_file = ca;
    r->cfg.key_file = NULL;
    r->cfg.orchestrate = orch;
    return LP_OK;
}

lp_status lpi_remote_set_mode(lp_ctx *ctx, const char *orchestrate, int max_lambdas) {
    struct lpi_remote *r = remote_of(ctx);
    if (!r) return lpi_nomem(ctx);
    r->cfg.orchestrate = orchestrate && !strcmp(orchestrate, "lambda") ? "lambda" : NULL;
    r->cfg.max_lambdas = max_lambdas;
    return LP_OK;
}

bool lpi_remote_view_get(const lp_ctx *ctx, lpi_remote_view *v) {
    const struct lpi_remote *r = lpi_ctx_slot(ctx, LPI_SLOT_REMOTE);
    memset(v, 0, sizeof *v);
    if (!r || !r->lambda) return false;
    v->urls = (const char *const *)r->urls;
    v->nurls = r->nurls;
    v->store = r->store ? r->store : DEFAULT_STORE;
    v->lambda = r->lambda_name ? r->lambda_name : "lampy";
    v->cfg = &r->cfg;
    v->ca_file = remote_ca(r);
    return true;
}

lp_status lpi_remote_key(lp_ctx *ctx, const lpi_key **out) {
    struct lpi_remote *cf = remote_of(ctx);
    *out = NULL;
    if (!cf) return lpi_nomem(ctx);
    lp_status st = cf->key ? LP_OK : lpi_key_from_env(ctx, &cf->key);
    *out = cf->key;
    return st;
}

lp_status lpi_remote_store(lp_ctx *ctx, lpi_store **out) {
    struct lpi_remote *cf = remote_of(ctx);
    if (!cf) return lpi_nomem(ctx);
    const char *url = cf->store ? cf->store : DEFAULT_STORE;
    if (!cf->open_store || strcmp(cf->open_store_url, url)) {
        lpi_store_close(cf->open_store);
        lp_free(cf->open_store_url);
        cf->open_store = NULL;
        if (!(cf->open_store_url = lp_strdup(url))) return lpi_nomem(ctx);
        lp_status st = lpi_store_open(ctx, url, &cf->open_store);
        if (st) return st;
    }
    /* requests to an http(s) store are signed with the run's key */
    const lpi_key *key;
    lp_status st = lpi_remote_key(ctx, &key);
    if (!st) st = lpi_store_set_auth(ctx, cf->open_store, (lpi_key *)key, remote_ca(cf));
    if (st) return st;
    *out = cf->open_store;
    return LP_OK;
}

bool lpi_remote_enabled(const lp_ctx *ctx) {
    const struct lpi_remote *r = lpi_ctx_slot(ctx, LPI_SLOT_REMOTE);
    return r && r->lambda;
}

/* ================================================================ run state */

enum { T_WAIT = 0, T_READY, T_RUNNING, T_DONE };
enum { C_NONE = 0, C_STORED, C_MAYBE, C_GONE };
enum { J_UPLOAD = 1, J_FETCH, J_DEL };

typedef struct rtask {
    uint8_t state;
    uint8_t tries;
    int16_t avoid;          /* worker that failed it last (-1) */
    uint8_t copies;         /* invocations in flight that carry it (2 once hedged) */
    double not_before;
} rtask;

typedef struct rworker {
    char *url;              /* .../run/<lambda> */
    int inflight;
    double backoff_until;
    int fails;              /* consecutive */
} rworker;

typedef struct inv {
    CURL *h;
    double t0;              /* when it was sent */
    int w;
    int live;               /* index in rrun.live */
    int64_t *tasks;
    int n;
    char *body;
    char *resp;
    size_t rlen, rcap;
    bool toobig;
    struct curl_slist *hdrs;  /* signed requests: their own headers */
    double hedge_at;          /* lpi_now() after which its tasks are sent again elsewhere */
    bool hedged;              /* its tasks were sent again elsewhere */
    bool copy;                /* it is such a second sending */
    char errbuf[CURL_ERROR_SIZE];
} inv;

typedef struct job {
    int kind;
    int64_t chunk;          /* global chunk id */
    lp_status st;
    char msg[LPI_ERRMSG_MAX];
    struct job *next;
} job;

typedef struct rrun {
    lp_ctx *ctx;
    lpi_plan *plan;
    struct lpi_remote *cfg;
    lpi_store *store;
    const char *store_url;
    char store_id[600];     /* what batches name: the store's identity, without credentials */
    char prefix[48];        /* "lampy/<run id>": every key of the run, the signed scope */
    char guard[64];         /* "<prefix>/live": workers write only while it exists (redis) */
    lpi_key *key;           /* sign requests (NULL: unsigned) */
    const char *ca_file;
    double deadline;        /* lpi_now() seconds: the run fails past it */
    double t_start;
    double op_deadline;     /* the I/O threads' store operations (the cleanup's is shorter) */
    double hedge_min;       /* a straggling invocation is duplicated after max(this, 4 x its work) */
    double key_margin;      /* every key of the run expires this long after deadline + cleanup */
    char runid[24];
    int max_tries, batch_max, inflight;
    double timeout;
    int64_t cap;            /* invocations in flight at most (DAG width, cost model, workers) */
    double *est;            /* per task: the cost model's seconds of work on a worker */
    double overhead;        /* seconds an invocation costs beyond its work (measured, EWMA) */
    /* tasks */
    rtask *t;
    lpi_ready q;            /* ready tasks (planner priorities), producer and chunk counts */
    bool nheap_grew;        /* a task became ready since the last dispatch */
    int64_t *retry, nretry;
    int64_t ndone, nrunning_inv;
    /* chunks */
    uint64_t *csum;
    uint8_t *cstate;
    bool *direct;           /* per pnode: a load whose chunks workers read from the file */
    lpi_wire_enc enc;       /* chunk names and the batch encoder */
    /* workers */
    rworker *w;
    int nw;
    CURLM *multi;
    CURL **idle;
    int nidle;
    struct inv **live;      /* invocations in flight */
    int nlive;
    int64_t inv_total, retries, hedges;
    /* I/O threads */
    pthread_t io[NIO];
    int nio;
    pthread_mutex_t mu;
    pthread_cond_t cv_job, cv_done;
    job *jq, *jq_tail, *jdone;
    int64_t io_pending;
    bool io_stop;
    /* result */
    bool failed;
    lp_status status;
    int64_t bytes_out, bytes_in, bytes_read;
    bool log;               /* LAMPY_REMOTE_LOG=1: a line per invocation on stderr */
    bool marked;            /* the guard exists */
    char last_why[400];     /* the last failed or hedged invocation, for the deadline's message */
} rrun;

static void fail_run(rrun *R, lp_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail_run(rrun *R, lp_status st, const char *fmt, ...) {
    if (R->failed) return;
    va_list ap;
    va_start(ap, fmt);
    lpi_verror(R->ctx, st, fmt, ap);
    va_end(ap);
    R->failed = true;
    R->status = st;
}

static void ready_push(rrun *R, int64_t t) {
    lpi_ready_push(&R->q, t);
    R->t[t].state = T_READY;
    R->nheap_grew = true;
}

/* ================================================================ I/O threads */

static void io_submit(rrun *R, int kind, int64_t gc) {
    job *j = lp_calloc(1, sizeof *j);
    if (!j) { fail_run(R, LP_ERR_NOMEM, "out of memory"); return; }
    j->kind = kind;
    j->chunk = gc;
    pthread_mutex_lock(&R->mu);
    if (R->jq_tail) R->jq_tail->next = j; else R->jq = j;
    R->jq_tail = j;
    R->io_pending++;
    pthread_cond_signal(&R->cv_job);
    pthread_mutex_unlock(&R->mu);
}

/* The expiry of a key written now: past the run's deadline and its cleanup, so no key is needed
 * after it expires, and no key outlives the run by more than the margin when the cleanup cannot
 * delete it (a store that was stopped or unreachable then): the store removes it itself. */
static double key_ttl(const rrun *R) {
    return R->deadline - lpi_now() + CLEANUP_SEC + R->key_margin;
}

/* A chunk's data as a C-contiguous copy (prefilled data may be strided or a view). */
static lp_status do_upload(rrun *R, lp_ctx *ctx, int64_t gc, uint64_t *sum) {
    const lpi_plan *pl = R->plan;
    int p = (int)R->enc.owner[gc];
    const lpi_pnode *pn = &pl->pnodes[p];
    lpi_box box;
    lpi_grid_chunk_box(&pn->grid, gc - pl->chunk_base[p], &box);
    lpi_view src = {(char *)pn->prefilled->data + pn->pre_offset, pn->dtype, pn->ndim, {0}, {0}};
    int64_t shape[LP_MAX_NDIM];
    for (int i = 0; i < pn->ndim; i++) {
        src.data += box.lo[i] * pn->pre_strides[i];
        src.shape[i] = shape[i] = box.hi[i] - box.lo[i];
        src.strides[i] = pn->pre_strides[i];
    }
    lp_buffer *b = lpi_buffer_new(pn->dtype, pn->ndim, shape);
    if (!b) return lpi_nomem(ctx);
    lpi_view dst = {b->data, pn->dtype, pn->ndim, {0}, {0}};
    int64_t s = (int64_t)lp_dtype_size(pn->dtype);
    for (int i = pn->ndim - 1; i >= 0; i--) { dst.shape[i] = shape[i]; dst.strides[i] = s; s *= shape[i]; }
    if (b->nbytes) lpi_copy_view(&dst, &src);
    *sum = XXH3_64bits(b->nbytes ? b->data : "", b->nbytes);
    char key[LPI_STORE_KEY_MAX + 1];
    lpi_wire_chunk_key(&R->enc, gc, key, sizeof key);
    lp_status st = lpi_store_put_guarded(ctx, R->store, key, b, NULL, key_ttl(R));
    lp_buffer_release(b);
    return st;
}

/* A target chunk from the store into the result buffer, verified against the producer. */
static lp_status do_fetch(rrun *R, lp_ctx *ctx, int64_t gc) {
    const lpi_plan *pl = R->plan;
    int p = (int)R->enc.owner[gc];
    const lpi_pnode *pn = &pl->pnodes[p];
    char key[LPI_STORE_KEY_MAX + 1];
    lpi_wire_chunk_key(&R->enc, gc, key, sizeof key);
    lp_buffer *b;
    lp_status st = lpi_store_get(ctx, R->store, key, &b);
    if (st) return st;
    lpi_box box;
    lpi_grid_chunk_box(&pn->grid, gc - pl->chunk_base[p], &box);
    bool ok = b->dtype == pn->dtype && b->ndim == box.ndim;
    for (int i = 0; ok && i < box.ndim; i++) ok = b->shape[i] == box.hi[i] - box.lo[i];
    uint64_t h = ok ? XXH3_64bits(b->nbytes ? b->data : "", b->nbytes) : 0;
    if (!ok) st = lpi_error(ctx, LP_ERR_FORMAT, "chunk %s: stored dtype or shape is not the result's", key);
    else if (h != R->csum[gc]) st = lpi_chunk_checksum_error(ctx, key, R->csum[gc], h);
    if (!st) lpi_copy_into(pl->target_buf[pn->target], &box, b);
    lp_buffer_release(b);
    return st;
}

static void *io_main(void *arg) {
    rrun *R = arg;
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) ctx = NULL;
    pthread_mutex_lock(&R->mu);
    for (;;) {
        while (!R->jq && !R->io_stop) pthread_cond_wait(&R->cv_job, &R->mu);
        if (!R->jq) break;
        job *j = R->jq;
        R->jq = j->next;
        if (!R->jq) R->jq_tail = NULL;
        double dl = R->op_deadline;
        pthread_mutex_unlock(&R->mu);
        lpi_deadline_set(dl); /* every store operation ends by the run's (or the cleanup's) deadline */
        uint64_t sum = 0;
        char key[LPI_STORE_KEY_MAX + 1];
        if (!ctx) j->st = LP_ERR_NOMEM;
        else if (lpi_now() > dl) j->st = lpi_error(ctx, LP_ERR_IO, "the run's deadline passed before this store operation");
        else if (j->kind == J_UPLOAD) j->st = do_upload(R, ctx, j->chunk, &sum);
        else if (j->kind == J_FETCH) j->st = do_fetch(R, ctx, j->chunk);
        else { lpi_wire_chunk_key(&R->enc, j->chunk, key, sizeof key); j->st = lpi_store_del(ctx, R->store, key); }
        if (j->st) snprintf(j->msg, sizeof j->msg, "%s", ctx ? lp_last_error(ctx) : "out of memory");
        if (j->kind == J_UPLOAD) R->csum[j->chunk] = sum; /* read by the driver thread after the job is done */
        pthread_mutex_lock(&R->mu);
        j->next = R->jdone;
        R->jdone = j;
        if (R->multi) curl_multi_wakeup(R->multi);
        pthread_cond_signal(&R->cv_done);
    }
    pthread_mutex_unlock(&R->mu);
    lp_ctx_destroy(ctx);
    return NULL;
}

static void chunk_dead(void *arg, int64_t gc);

/* Completed I/O jobs: record, fail, release. */
static void io_collect(rrun *R) {
    pthread_mutex_lock(&R->mu);
    job *d = R->jdone;
    R->jdone = NULL;
    pthread_mutex_unlock(&R->mu);
    while (d) {
        job *j = d;
        d = d->next;
        pthread_mutex_lock(&R->mu);
        R->io_pending--;
        pthread_mutex_unlock(&R->mu);
        if (j->kind == J_DEL) {
            R->cstate[j->chunk] = C_GONE;
        } else if (j->st) {
            fail_run(R, j->st, "%s", j->msg);
        } else if (j->kind == J_UPLOAD) {
            R->cstate[j->chunk] = C_STORED;
        } else if (j->kind == J_FETCH) {
            if (lpi_ready_unref(&R->q, j->chunk)) chunk_dead(R, j->chunk);
        }
        lp_free(j);
    }
}

static void io_wait_all(rrun *R) {
    for (;;) {
        io_collect(R);
        pthread_mutex_lock(&R->mu);
        bool busy = R->io_pending > 0 && !R->jdone;
        if (busy) pthread_cond_wait(&R->cv_done, &R->mu);
        bool left = R->io_pending > 0;
        pthread_mutex_unlock(&R->mu);
        if (!left) break;
    }
    io_collect(R);
}

/* A chunk nobody reads any more is deleted from the store. */
static void chunk_dead(void *arg, int64_t gc) {
    rrun *R = arg;
    if (R->cstate[gc] == C_STORED || R->cstate[gc] == C_MAYBE) {
        R->cstate[gc] = C_GONE;
        io_submit(R, J_DEL, gc);
    }
}

/* ================================================================ invocations */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
/* Request headers, the same for every invocation: made once, never freed. */
static struct curl_slist *json_hdrs;
static void curl_init(void) {
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    json_hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (json_hdrs) json_hdrs = curl_slist_append(json_hdrs, "Expect:"); /* no 100-continue round trip */
    if (!json_hdrs) curl_init_rc = CURLE_OUT_OF_MEMORY;
}

static size_t on_reply(char *p, size_t sz, size_t n, void *arg) {
    inv *v = arg;
    size_t k = sz * n;
    if (v->rlen + k > REPLY_MAX) { v->toobig = true; return 0; }
    if (v->rlen + k + 1 > v->rcap) {
        size_t c = v->rcap ? v->rcap : 4096;
        while (c < v->rlen + k + 1) c *= 2;
        char *nb = lp_realloc(v->resp, c);
        if (!nb) { v->toobig = true; return 0; }
        v->resp = nb;
        v->rcap = c;
    }
    memcpy(v->resp + v->rlen, p, k);
    v->rlen += k;
    v->resp[v->rlen] = 0;
    return k;
}

/* Work per invocation worth its overhead: batches aim at 8 x the overhead (90% useful time),
 * within a quarter of the invocation timeout (OpenLambda's runtime limit). */
static double batch_target(const rrun *R) {
    double t = 8 * R->overhead;
    if (t < 5e-4) t = 5e-4;
    if (t > R->timeout / 4) t = R->timeout / 4;
    return t;
}

static uint64_t task_bytes(const rrun *R, int64_t ti) {
    const lpi_plan *pl = R->plan;
    const lpi_task *t = &pl->tasks[ti];
    const lpi_pnode *pn = &pl->pnodes[t->pnode];
    uint64_t b = (uint64_t)lpi_box_size(&t->box) * lp_dtype_size(pn->dtype);
    for (int k = 0; k < t->nops; k++) b += (uint64_t)lpi_box_size(&t->ops[k].box) * lp_dtype_size(pl->pnodes[t->ops[k].pnode].dtype);
    return b;
}

static CURL *get_handle(rrun *R) {
    if (R->nidle) return R->idle[--R->nidle];
    return curl_easy_init();
}

static void put_handle(rrun *R, CURL *h) {
    curl_multi_remove_handle(R->multi, h);
    R->idle[R->nidle++] = h; /* idle has room for every handle ever made (one per slot) */
}

static void inv_free(rrun *R, inv *v) {
    if (v->live >= 0 && v->live < R->nlive && R->live[v->live] == v) {
        R->live[v->live] = R->live[--R->nlive];
        R->live[v->live]->live = v->live;
    }
    if (v->h) put_handle(R, v->h);
    lp_free(v->tasks);
    curl_slist_free_all(v->hdrs);
    free(v->body);
    lp_free(v->resp);
    lp_free(v);
}

static bool worker_free(const rrun *R, int w, double now) {
    return R->w[w].inflight < R->inflight && R->w[w].backoff_until <= now;
}

/* Send tasks[0..n) to worker w. */
/* An invocation's timeout: the configured one, or less when the run's deadline is nearer. */
static double inv_timeout(const rrun *R) {
    double left = R->deadline - lpi_now();
    return left < R->timeout ? (left > 0.05 ? left : 0.05) : R->timeout;
}

/* Send tasks[0..n) to worker w. */
static void send_batch(rrun *R, int w, int64_t *tasks, int n) {
    const double tmo = inv_timeout(R);
    inv *v = lp_calloc(1, sizeof *v);
    char *body = NULL;
    lp_status st = v ? lpi_wire_encode_batch(&R->enc, R->runid, tmo, R->guard, key_ttl(R), R->store_id, tasks, n, &body)
                     : lpi_nomem(R->ctx);
    if (st) {
        lp_free(v);
        lp_free(tasks);
        fail_run(R, st, "%s", lp_last_error(R->ctx)[0] ? lp_last_error(R->ctx) : "out of memory encoding tasks");
        return;
    }
    v->w = w;
    v->tasks = tasks;
    v->n = n;
    v->body = body;
    v->h = get_handle(R);
    if (!v->h) { inv_free(R, v); fail_run(R, LP_ERR_NOMEM, "out of memory"); return; }
    v->live = -1;
    CURL *h = v->h;
    curl_easy_setopt(h, CURLOPT_URL, R->w[w].url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, json_hdrs);
    if (R->key) {
        /* signed: the method, the path, the run's key prefix and the body's SHA-256 */
        char bh[65];
        lpi_auth_hdrs ah;
        const char *u = R->w[w].url, *path = strstr(u, "://");
        path = path ? path + 3 + strcspn(path + 3, "/") : u;
        lpi_sha256_hex(body, strlen(body), bh);
        lpi_auth_sign(R->key, "POST", path, R->prefix, bh, &ah);
        struct curl_slist *l = NULL, *l2;
        for (const struct curl_slist *p = json_hdrs; p; p = p->next)
            if ((l2 = curl_slist_append(l, p->data))) l = l2;
        for (int i = 0; i < 5; i++)
            if ((l2 = curl_slist_append(l, ah.line[i]))) l = l2;
        v->hdrs = l;
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
    }
    if (R->ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, R->ca_file);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_reply);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, v);
    curl_easy_setopt(h, CURLOPT_PRIVATE, v);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, v->errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(tmo * 1000));
    if (curl_multi_add_handle(R->multi, h) != CURLM_OK) {
        inv_free(R, v);
        fail_run(R, LP_ERR_REMOTE, "libcurl refused a request");
        return;
    }
    v->live = R->nlive;
    R->live[R->nlive++] = v;
    v->t0 = lpi_now();
    {
        /* a straggler (a stopped or overloaded worker) is hedged long before its timeout */
        double work = R->overhead;
        for (int i = 0; i < n; i++) work += R->est[tasks[i]];
        v->hedge_at = v->t0 + (4 * work > R->hedge_min ? 4 * work : R->hedge_min);
    }
    R->w[w].inflight++;
    R->nrunning_inv++;
    R->inv_total++;
    for (int i = 0; i < n; i++) {
        R->t[tasks[i]].state = T_RUNNING;
        R->t[tasks[i]].copies++;
        /* its output may exist from now on, whatever the reply says */
        int64_t gc = R->plan->chunk_base[R->plan->tasks[tasks[i]].pnode] + R->plan->tasks[tasks[i]].chunk;
        if (R->cstate[gc] == C_NONE) R->cstate[gc] = C_MAYBE;
    }
}

/* Invocations past their hedge time: their unfinished tasks go once more to another worker
 * with a free slot (whichever copy answers first wins, the other is ignored), and the slow
 * worker gets no new work for a while. A frozen worker costs a few times a batch's work, not
 * the invocation timeout. */
static void hedge(rrun *R) {
    double now = lpi_now();
    for (int i = 0; i < R->nlive && !R->failed; i++) {
        inv *v = R->live[i];
        if (v->hedged || now < v->hedge_at) continue;
        int best = -1;
        for (int w = 0; w < R->nw; w++)
            if (w != v->w && worker_free(R, w, now) && (best < 0 || R->w[w].inflight < R->w[best].inflight)) best = w;
        if (best < 0) continue;
        int64_t *tasks = lp_malloc((size_t)v->n * sizeof *tasks);
        if (!tasks) { fail_run(R, LP_ERR_NOMEM, "out of memory"); return; }
        int k = 0;
        for (int j = 0; j < v->n; j++)
            if (R->t[v->tasks[j]].state == T_RUNNING && R->t[v->tasks[j]].copies == 1) tasks[k++] = v->tasks[j];
        v->hedged = true;
        double back = now + (v->hedge_at - v->t0);
        if (R->w[v->w].backoff_until < back) R->w[v->w].backoff_until = back;
        if (!k) { lp_free(tasks); continue; }
        R->hedges++;
        snprintf(R->last_why, sizeof R->last_why, "%s: no answer after %.1f s", R->w[v->w].url, now - v->t0);
        if (R->log)
            fprintf(stderr, "lampy lambda: %s: no answer after %.2f s, %d task(s) sent to %s as well\n", R->w[v->w].url,
                    now - v->t0, k, R->w[best].url);
        int before = R->nlive;
        send_batch(R, best, tasks, k); /* may append to R->live: i keeps pointing at v's slot or later */
        if (R->nlive > before) R->live[R->nlive - 1]->copy = true;
    }
}

static void dispatch(rrun *R) {
    double now = lpi_now();
    R->nheap_grew = false;
    /* retries whose backoff has passed */
    for (int64_t i = 0; i < R->nretry;) {
        int64_t t = R->retry[i];
        if (R->t[t].not_before <= now) {
            R->retry[i] = R->retry[--R->nretry];
            ready_push(R, t);
        } else {
            i++;
        }
    }
    int64_t cap = R->cap < (int64_t)R->nw * R->inflight ? R->cap : (int64_t)R->nw * R->inflight;
    if (cap < 1) cap = 1;
    const double target = batch_target(R);
    while (R->q.n && !R->failed && R->nrunning_inv < cap) {
        int free_slots = 0;
        for (int w = 0; w < R->nw; w++)
            if (worker_free(R, w, now)) free_slots += R->inflight - R->w[w].inflight;
        if (!free_slots) break;
        int64_t first = lpi_ready_top(&R->q);
        int avoid = R->t[first].avoid;
        int best = -1;
        for (int pass = 0; pass < 2 && best < 0; pass++)
            for (int w = 0; w < R->nw; w++) {
                if (!worker_free(R, w, now) || (pass == 0 && w == avoid && R->nw > 1)) continue;
                if (best < 0 || R->w[w].inflight < R->w[best].inflight) best = w;
            }
        if (best < 0) break;
        int64_t slots = cap - R->nrunning_inv < free_slots ? cap - R->nrunning_inv : free_slots;
        int64_t k = (R->q.n + slots - 1) / slots;
        if (k > R->batch_max) k = R->batch_max;
        if (k < 1) k = 1;
        int64_t *tasks = lp_malloc((size_t)k * sizeof *tasks);
        if (!tasks) { fail_run(R, LP_ERR_NOMEM, "out of memory"); return; }
        /* consecutive ready tasks (depth-first order: related work) up to the fair share k,
         * the byte budget and the work target */
        int n = 0;
        uint64_t bytes = 0;
        double work = 0;
        while (n < k && R->q.n) {
            int64_t top = lpi_ready_top(&R->q);
            uint64_t b = task_bytes(R, top);
            if (n && (bytes + b > BATCH_BYTES || work >= target)) break;
            bytes += b;
            work += R->est[top];
            tasks[n++] = lpi_ready_pop(&R->q);
        }
        send_batch(R, best, tasks, n);
    }
}

/* ---- replies ---- */

static bool retryable_code(long code) { return code == 429 || code == 502 || code == 503 || code == 504; }

static void task_failed(rrun *R, inv *v, const char *why) {
    double now = lpi_now();
    snprintf(R->last_why, sizeof R->last_why, "%s", why);
    R->retries++;
    for (int i = 0; i < v->n && !R->failed; i++) {
        int64_t t = v->tasks[i];
        rtask *rt = &R->t[t];
        if (rt->state == T_DONE || rt->copies) continue; /* a hedged copy has it (or had it) */
        rt->tries++;
        if (rt->tries >= R->max_tries) {
            const lpi_task *tk = &R->plan->tasks[t];
            const lpi_pnode *pn = &R->plan->pnodes[tk->pnode];
            fail_run(R, LP_ERR_REMOTE, "task %lld (%s, chunk %lld) failed %d times; last: %s", (long long)t,
                     lpi_ops[pn->op].name, (long long)tk->chunk, rt->tries, why);
            return;
        }
        rt->avoid = (int16_t)v->w;
        double back = 0.02 * pow(2.0, rt->tries - 1);
        if (back > 1.0) back = 1.0;
        rt->not_before = now + back * (0.75 + 0.5 * (double)(rand() % 1000) / 1000.0);
        rt->state = T_WAIT;
        R->retry[R->nretry++] = t;
    }
}

/* A successful reply: outputs in task order, each as expected. */
static void batch_done(rrun *R, inv *v, json_t *reply) {
    const lpi_plan *pl = R->plan;
    const json_t *outs = json_object_get(reply, "outputs");
    if (!json_is_array(outs) || json_array_size(outs) != (size_t)v->n) {
        fail_run(R, LP_ERR_REMOTE, "worker %s answered with %s outputs for %d tasks", R->w[v->w].url,
                 json_is_array(outs) ? "another number of" : "no", v->n);
        return;
    }
    const json_t *jr = json_object_get(reply, "bytes_read");
    if (json_is_integer(jr) && json_integer_value(jr) > 0) R->bytes_read += json_integer_value(jr);
    for (int i = 0; i < v->n; i++) {
        int64_t ti = v->tasks[i];
        if (R->t[ti].state == T_DONE) continue; /* its hedged copy finished first */
        const lpi_task *t = &pl->tasks[ti];
        int64_t gc = pl->chunk_base[t->pnode] + t->chunk;
        const json_t *o = json_array_get(outs, (size_t)i);
        char key[LPI_STORE_KEY_MAX + 1];
        lpi_wire_chunk_key(&R->enc, gc, key, sizeof key);
        const char *k = json_string_value(json_object_get(o, "key")), *cs = json_string_value(json_object_get(o, "checksum"));
        const char *f = json_string_value(json_object_get(o, "file"));
        const lpi_result_sink *sk = lpi_plan_sink(pl, t->pnode);
        const bool stored = !sk || t->nconsumers;
        uint64_t sum = 0;
        bool ok = (stored ? k && !strcmp(k, key) : !k) && (sk ? f && !strcmp(f, sk->path) : !f) && cs && strlen(cs) == 16;
        for (int d = 0; ok && d < 16; d++) {
            char c = cs[d];
            int x = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            ok = x >= 0;
            sum = sum << 4 | (uint64_t)(x & 15);
        }
        if (!ok) { fail_run(R, LP_ERR_REMOTE, "worker %s: output %d is not chunk %s", R->w[v->w].url, i, key); return; }
        json_t *jb = json_object_get(o, "bytes");
        if (json_is_integer(jb)) R->bytes_out += json_integer_value(jb);
        R->csum[gc] = sum;
        R->cstate[gc] = stored ? C_STORED : C_GONE;
        R->t[ti].state = T_DONE;
        R->ndone++;
        lpi_ready_release_inputs(&R->q, ti, chunk_dead, R);
        if (sk) { /* already in its place in the file: nothing to fetch */
            if (lpi_ready_unref(&R->q, gc)) chunk_dead(R, gc);
        } else if (pl->pnodes[t->pnode].target >= 0) io_submit(R, J_FETCH, gc);
        else if (R->q.crefs[gc] <= 0) chunk_dead(R, gc); /* nobody reads it */
        int64_t before = R->q.n;
        if (lpi_ready_done(&R->q, ti, true))
            for (int64_t i = before; i < R->q.n; i++) R->t[R->q.heap[i]].state = T_READY;
        R->nheap_grew |= R->q.n > before;
    }
}

static void on_done(rrun *R, CURL *h, CURLcode cc) {
    inv *v;
    curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&v);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    R->w[v->w].inflight--;
    R->nrunning_inv--;
    for (int i = 0; i < v->n; i++)
        if (R->t[v->tasks[i]].copies) R->t[v->tasks[i]].copies--;
    rworker *wk = &R->w[v->w];
    char why[LPI_ERRMSG_MAX];
    json_t *reply = NULL;
    {
        /* the other copy of a hedged batch finished it: whatever this one says is moot (a
         * late copy may even have found its inputs deleted after their consumers ran) */
        int done = 0;
        for (int i = 0; i < v->n; i++) done += R->t[v->tasks[i]].state == T_DONE;
        if (done == v->n) { inv_free(R, v); return; }
    }
    if (cc != CURLE_OK) {
        snprintf(why, sizeof why, "%s: %s", wk->url, v->toobig ? "reply too large" : v->errbuf[0] ? v->errbuf : curl_easy_strerror(cc));
        goto retry;
    }
    json_error_t jerr;
    reply = v->rlen ? json_loadb(v->resp, v->rlen, 0, &jerr) : NULL;
    const char *emsg = json_string_value(json_object_get(reply, "error"));
    if (reply && emsg && code == 200) {
        /* a lambda cannot set its HTTP status: the reply carries it */
        json_t *jc = json_object_get(reply, "code");
        code = json_is_integer(jc) ? (long)json_integer_value(jc) : 500;
    }
    if (code == 200 && json_is_object(reply) && !emsg) {
        wk->fails = 0;
        /* what the invocation cost beyond the worker's own time: the round trip and dispatch */
        double extra = (lpi_now() - v->t0) - json_number_value(json_object_get(json_object_get(reply, "timings"), "total_us")) * 1e-6;
        if (extra > 0 && extra < 60) R->overhead = 0.8 * R->overhead + 0.2 * extra;
        if (R->log) {
            json_t *tm = json_object_get(reply, "timings");
            fprintf(stderr, "lampy lambda: %s %d task(s) %.0f us: worker %.0f us (fetch %.0f, kernel %.0f, put %.0f)\n",
                    wk->url, v->n, (lpi_now() - v->t0) * 1e6, json_number_value(json_object_get(tm, "total_us")),
                    json_number_value(json_object_get(tm, "fetch_us")), json_number_value(json_object_get(tm, "kernel_us")),
                    json_number_value(json_object_get(tm, "put_us")));
        }
        batch_done(R, v, reply);
        goto done;
    }
    if (!emsg) {
        /* not Lampy's JSON: OpenLambda's own failure (text), a proxy, ... — first line */
        size_t n = v->rlen;
        const char *nl = v->resp ? memchr(v->resp, '\n', n) : NULL;
        if (nl) n = (size_t)(nl - v->resp);
        snprintf(why, sizeof why, "%s: HTTP %ld%s%.*s", wk->url, code, n ? ": " : "", (int)(n > 300 ? 300 : n),
                 v->resp ? v->resp : "");
    } else {
        snprintf(why, sizeof why, "%s: HTTP %ld: %s", wk->url, code, emsg);
    }
    if (code == 413 && v->n > 1) {
        /* the batch is over the worker's limits (body, bytes per task are per task): smaller
         * batches from now on, these tasks again without counting a try */
        R->batch_max = v->n / 2;
        for (int i = 0; i < v->n; i++)
            if (R->t[v->tasks[i]].state != T_DONE && !R->t[v->tasks[i]].copies) ready_push(R, v->tasks[i]);
        goto done;
    }
    const char *sname = json_string_value(json_object_get(reply, "status"));
    /* a hedged batch or its copy: a failure may come from racing the other copy (inputs gone
     * once their consumers finished): its tasks run again instead of failing the run */
    bool retry = retryable_code(code) || (code == 500 && (!reply || !emsg || (sname && !strcmp(sname, "ERR_IO")))) ||
                 v->hedged || v->copy;
    if (!retry) {
        /* a kernel's or the store's own failure keeps its status and message, as a local run
         * would report it; anything else (400, 404, 405, 413) is the worker's verdict */
        if (code == 500 && emsg && sname) fail_run(R, lpi_status_from_name(sname), "%s", emsg);
        else fail_run(R, code == 401 || code == 403 ? LP_ERR_DENIED : LP_ERR_REMOTE, "%s", why);
        goto done;
    }
retry:
    wk->fails++;
    {
        double back = (code == 429 ? 0.01 : 0.05) * pow(2.0, wk->fails - 1);
        wk->backoff_until = lpi_now() + (back > 2.0 ? 2.0 : back);
    }
    task_failed(R, v, why);
done:
    json_decref(reply);
    inv_free(R, v);
}

/* ================================================================ the run */

/* Settings not given through lp_remote_config may come from the environment (tests and
 * benchmarks): LAMPY_REMOTE_TIMEOUT (seconds), LAMPY_REMOTE_TRIES, LAMPY_REMOTE_BATCH,
 * LAMPY_REMOTE_INFLIGHT; LAMPY_REMOTE_DIRECT_LOADS=0 runs loads as tasks through the store. */

static int64_t dag_width(const lpi_plan *pl) {
    int64_t n = pl->ntasks, w = 1;
    int32_t *lev = lp_calloc((size_t)(n ? n : 1), sizeof *lev);
    if (!lev) return 1;
    int32_t maxl = 0;
    for (int64_t t = 0; t < n; t++) {
        for (int32_t c = 0; c < pl->tasks[t].nconsumers; c++) {
            int64_t u = pl->tasks[t].consumers[c];
            if (lev[u] < lev[t] + 1) lev[u] = lev[t] + 1;
        }
        if (lev[t] > maxl) maxl = lev[t];
    }
    int64_t *cnt = lp_calloc((size_t)maxl + 1, sizeof *cnt);
    if (cnt) {
        for (int64_t t = 0; t < n; t++) cnt[lev[t]]++;
        for (int32_t l = 0; l <= maxl; l++) w = cnt[l] > w ? cnt[l] : w;
    }
    lp_free(cnt);
    lp_free(lev);
    return w;
}

void lpi_run_id_new(char *out, size_t cap) {
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint64_t)getpid() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(lpi_now() * 1e9);
    char hx[17];
    lpi_wire_hex64(r, hx);
    snprintf(out, cap, "%.12s", hx);
}

static double env_double(const char *name, double dflt) {
    const char *v = getenv(name);
    if (!v || !*v) return dflt;
    char *e;
    double d = strtod(v, &e);
    return *e || !(d > 0) ? dflt : d;
}

/* The per-task estimates of the cost model (a task's work on a worker, invocation costs
 * apart) and how many invocations are worth running at once: the average parallelism
 * work / critical path, as the DAG's widest level does. */
static lp_status estimate_tasks(rrun *R) {
    const lpi_plan *pl = R->plan;
    const int64_t nt = pl->ntasks;
    const lpi_profile *pr = lpi_profile_get(R->ctx);
    double work = 0, crit = 0;
    double *start = lp_calloc((size_t)(nt ? nt : 1), sizeof *start);
    if (!start) return lpi_nomem(R->ctx);
    for (int64_t i = 0; i < nt; i++) {
        if (R->t[i].state == T_DONE) continue;
        lpi_task_cost c;
        lpi_task_cost_of(pl, i, pr, 1, &c);
        R->est[i] = lpi_task_seconds(pr, &c, 1, false);
        work += R->est[i];
    }
    for (int64_t i = 0; i < nt; i++) { /* producers come before their consumers */
        double f = start[i] + R->est[i];
        if (f > crit) crit = f;
        for (int32_t c = 0; c < pl->tasks[i].nconsumers; c++)
            if (start[pl->tasks[i].consumers[c]] < f) start[pl->tasks[i].consumers[c]] = f;
    }
    lp_free(start);
    double par = crit > 0 ? work / crit : 1;
    R->cap = dag_width(pl);
    if (par < (double)R->cap) R->cap = (int64_t)ceil(par) + 1;
    R->overhead = pr->rtt + pr->invoke;
    return LP_OK;
}

/* Everything before the first dispatch: settings, tables, workers' URLs, the store (probed
 * once), the curl multi handle, I/O threads, uploads of in-memory data, loads read directly
 * by their consumers, estimates, and the first ready tasks. */
static lp_status run_setup(rrun *R, lp_ctx *ctx, lpi_plan *pl, struct lpi_remote *cf) {
    R->ctx = ctx;
    R->plan = pl;
    R->cfg = cf;
    R->store_url = cf->store ? cf->store : DEFAULT_STORE;
    if (!lpi_store_url_canon(R->store_url, R->store_id, sizeof R->store_id))
        return lpi_error(ctx, LP_ERR_VALUE, "store URL %.*s is not valid", (int)strcspn(R->store_url, "@"), R->store_url);
    R->max_tries = cf->cfg.max_tries ? cf->cfg.max_tries : (int)env_double("LAMPY_REMOTE_TRIES", 5);
    R->batch_max = cf->cfg.batch ? cf->cfg.batch : (int)env_double("LAMPY_REMOTE_BATCH", 32);
    R->inflight = cf->cfg.inflight ? cf->cfg.inflight : (int)env_double("LAMPY_REMOTE_INFLIGHT", 2);
    R->timeout = cf->cfg.timeout_sec > 0 ? cf->cfg.timeout_sec : env_double("LAMPY_REMOTE_TIMEOUT", 35);
    R->t_start = lpi_now();
    R->deadline = R->t_start + (cf->cfg.deadline_sec > 0 ? cf->cfg.deadline_sec : env_double("LAMPY_REMOTE_DEADLINE", 3600));
    R->op_deadline = R->deadline;
    R->hedge_min = env_double("LAMPY_REMOTE_HEDGE", 2.0);
    R->key_margin = env_double("LAMPY_REMOTE_KEY_MARGIN", KEY_MARGIN_SEC);
    lpi_run_id_new(R->runid, sizeof R->runid);
    R->log = getenv("LAMPY_REMOTE_LOG") && !strcmp(getenv("LAMPY_REMOTE_LOG"), "1");
    snprintf(R->prefix, sizeof R->prefix, "lampy/%s", R->runid);
    snprintf(R->guard, sizeof R->guard, "%s/live", R->prefix);
    pthread_mutex_init(&R->mu, NULL);
    pthread_cond_init(&R->cv_job, NULL);
    pthread_cond_init(&R->cv_done, NULL);
    const int64_t nt = pl->ntasks, nc = pl->nchunks;
    lp_status st;
    if (!cf->key && (st = lpi_key_from_env(ctx, &cf->key))) return st;
    lpi_deadline_set(R->deadline); /* the driver's own store operations */
    R->key = cf->key;
    R->ca_file = remote_ca(cf);
    R->nw = cf->nurls;
    R->w = lp_calloc((size_t)R->nw, sizeof *R->w);
    R->t = lp_calloc((size_t)(nt ? nt : 1), sizeof *R->t);
    R->retry = lp_malloc((size_t)(nt ? nt : 1) * sizeof *R->retry);
    R->csum = lp_calloc((size_t)(nc ? nc : 1), sizeof *R->csum);
    R->cstate = lp_calloc((size_t)(nc ? nc : 1), 1);
    R->direct = lp_calloc((size_t)pl->npnodes + 1, sizeof *R->direct);
    R->est = lp_calloc((size_t)(nt ? nt : 1), sizeof *R->est);
    R->idle = lp_calloc((size_t)R->nw * (size_t)R->inflight + 2, sizeof *R->idle);
    R->live = lp_calloc((size_t)R->nw * (size_t)R->inflight + 2, sizeof *R->live);
    if (!R->w || !R->t || !R->retry || !R->csum || !R->cstate || !R->direct || !R->est || !R->idle || !R->live)
        return lpi_nomem(ctx);
    if ((st = lpi_ready_init(ctx, &R->q, pl))) return st;
    if ((st = lpi_wire_enc_init(ctx, &R->enc, pl, R->prefix, R->csum, R->direct))) return st;
    for (int w = 0; w < R->nw; w++) {
        const char *name = cf->lambda_name ? cf->lambda_name : "lampy";
        size_t len = strlen(cf->urls[w]) + strlen(name) + 8;
        if (!(R->w[w].url = lp_malloc(len))) return lpi_nomem(ctx);
        snprintf(R->w[w].url, len, "%s/run/%s", cf->urls[w], name);
    }
    /* handles kept from earlier runs */
    while (cf->nidle && R->nidle < R->nw * R->inflight + 2) R->idle[R->nidle++] = cf->idle[--cf->nidle];
    if ((st = lpi_remote_store(ctx, &R->store))) return st;
    {
        /* one round trip now gives a clear error for an unreachable store, before any worker
         * reports it as a task failure */
        char probe[LPI_STORE_KEY_MAX + 1];
        bool ex;
        snprintf(probe, sizeof probe, "%s/probe", R->prefix);
        if ((st = lpi_store_exists(ctx, R->store, probe, &ex))) return st;
        /* the run's guard: a worker that wakes up after the run writes nothing (it outlives a
         * crashed driver by the key margin at most, like every key of the run) */
        if ((st = lpi_store_mark(ctx, R->store, R->guard, key_ttl(R)))) return st;
        R->marked = true;
    }
    if (!cf->multi && !(cf->multi = curl_multi_init())) return lpi_error(ctx, LP_ERR_NOMEM, "out of memory (libcurl)");
    R->multi = cf->multi;
    curl_multi_setopt(R->multi, CURLMOPT_MAXCONNECTS, (long)(R->nw * R->inflight + 4));
    for (R->nio = 0; R->nio < NIO; R->nio++)
        if (pthread_create(&R->io[R->nio], NULL, io_main, R)) break;
    if (!R->nio) return lpi_error(ctx, LP_ERR_NOMEM, "cannot start I/O threads");

    /* in-memory data the tasks read goes to the store first */
    for (int p = 0; p < pl->npnodes; p++) {
        if (pl->pnodes[p].kernel != LPI_K_NONE) continue;
        for (int64_t c = 0; c < pl->pnodes[p].grid.total; c++) {
            int64_t gc = pl->chunk_base[p] + c;
            if (R->q.crefs[gc] > 0) { R->cstate[gc] = C_MAYBE; io_submit(R, J_UPLOAD, gc); }
        }
    }
    io_wait_all(R);
    /* loads are read by the tasks that consume them, straight from the file on the worker
     * (workers see the driver's files, as load tasks need anyway): no load task runs, and no
     * loaded chunk makes a round trip through the store. A load that is a result runs. */
    const char *dl = getenv("LAMPY_REMOTE_DIRECT_LOADS");
    bool direct_ok = !(dl && !strcmp(dl, "0"));
    for (int p = 0; p < pl->npnodes; p++)
        R->direct[p] = direct_ok && pl->pnodes[p].kernel == LPI_K_LOAD && pl->pnodes[p].target < 0;
    for (int64_t i = 0; i < nt; i++) R->t[i].avoid = -1;
    for (int64_t i = 0; i < nt; i++) {
        if (!R->direct[pl->tasks[i].pnode]) continue;
        R->t[i].state = T_DONE;
        R->ndone++;
        lpi_ready_done(&R->q, i, false);
    }
    if ((st = estimate_tasks(R))) return st;
    for (int64_t i = 0; i < nt; i++)
        if (R->q.pending[i] == 0 && R->t[i].state == T_WAIT) ready_push(R, i);
    return R->failed ? R->status : LP_OK;
}

/* Dispatch, collect replies and I/O, until every task is done or the run fails. */
static void run_loop(rrun *R) {
    lp_ctx *ctx = R->ctx;
    const int64_t nt = R->plan->ntasks;
    while (!R->failed && (R->ndone < nt || R->io_pending)) {
        if (atomic_load_explicit(&ctx->cancel, memory_order_relaxed)) {
            fail_run(R, LP_ERR_CANCELLED, "the run was cancelled");
            break;
        }
        if (lpi_now() > R->deadline) {
            /* say what it was waiting for: the store, or the workers' last failure */
            char what[LPI_ERRMSG_MAX / 2] = "";
            size_t wl = 0;
            pthread_mutex_lock(&R->mu);
            int64_t pend = R->io_pending;
            pthread_mutex_unlock(&R->mu);
            if (pend)
                wl += (size_t)snprintf(what + wl, sizeof what - wl, "; %lld operation(s) on the store %s got no answer",
                                       (long long)pend, R->store_id);
            if (R->nlive && wl < sizeof what)
                wl += (size_t)snprintf(what + wl, sizeof what - wl, "; %d invocation(s) got no answer, the oldest from %s "
                                       "for %.1f s", R->nlive, R->w[R->live[0]->w].url, lpi_now() - R->live[0]->t0);
            if (R->last_why[0] && wl < sizeof what)
                snprintf(what + wl, sizeof what - wl, "; last failure: %.300s", R->last_why);
            fail_run(R, LP_ERR_LIMIT, "the run passed its deadline of %.0f s with %lld of %lld tasks done (lp_remote_config."
                     "deadline_sec, --deadline)%s", R->deadline - R->t_start, (long long)R->ndone, (long long)nt, what);
            break;
        }
        hedge(R);
        dispatch(R);
        int running;
        curl_multi_perform(R->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(R->multi, &left)))
            if (m->msg == CURLMSG_DONE) on_done(R, m->easy_handle, m->data.result);
        io_collect(R);
        if (R->failed) break;
        /* tasks made ready since the last dispatch go out now, not after the next poll */
        if (R->q.n && R->nheap_grew) continue;
        double wait = 0.05, now = lpi_now();
        for (int64_t i = 0; i < R->nretry; i++)
            if (R->t[R->retry[i]].not_before - now < wait) wait = R->t[R->retry[i]].not_before - now;
        for (int w = 0; w < R->nw; w++)
            if (R->w[w].backoff_until > now && R->w[w].backoff_until - now < wait) wait = R->w[w].backoff_until - now;
        if (!R->q.n && !R->nretry && !R->nrunning_inv && !R->io_pending && R->ndone < nt) {
            fail_run(R, LP_ERR_INTERNAL, "the remote run stalled with %lld of %lld tasks done", (long long)R->ndone,
                     (long long)nt);
            break;
        }
        if (R->ndone < nt || R->io_pending) {
            bool io_done;
            pthread_mutex_lock(&R->mu);
            io_done = R->jdone != NULL;
            pthread_mutex_unlock(&R->mu);
            if (!io_done) curl_multi_poll(R->multi, NULL, 0, wait > 0 ? (int)(wait * 1000) + 1 : 0, NULL);
        }
    }
}

/* After the run, whatever its outcome: a failed or cancelled run lets the invocations in
 * flight finish (briefly) before it deletes chunks — a worker still running a task would
 * otherwise write its output after the deletion; what still runs after the grace period is
 * abandoned (the batch's timeout_ms stops those workers from writing once it passes). Then
 * every chunk that exists or may exist is deleted, the I/O threads stop, and the handles (and
 * through the multi handle, their connections) are kept for the next run. */
static void run_teardown(rrun *R) {
    lp_ctx *ctx = R->ctx;
    struct lpi_remote *cf = R->cfg;
    const lpi_plan *pl = R->plan;
    /* hedged stragglers are not waited for: closing their connections tells their workers,
     * should they wake up, that nobody wants their outputs any more (lpi_http_client_gone) */
    for (int i = R->nlive - 1; i >= 0; i--)
        if (R->live[i]->hedged) {
            inv *v = R->live[i];
            R->w[v->w].inflight--;
            R->nrunning_inv--;
            inv_free(R, v);
        }
    double grace_end = lpi_now() + (R->timeout < 2 ? R->timeout : 2);
    while (R->nlive && R->multi && lpi_now() < grace_end) {
        int running, left;
        curl_multi_perform(R->multi, &running);
        CURLMsg *m;
        while ((m = curl_multi_info_read(R->multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            inv *v;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&v);
            R->w[v->w].inflight--;
            R->nrunning_inv--;
            inv_free(R, v);
        }
        if (R->nlive) curl_multi_poll(R->multi, NULL, 0, 20, NULL);
    }
    while (R->nlive) {
        inv *v = R->live[R->nlive - 1];
        R->w[v->w].inflight--;
        R->nrunning_inv--;
        inv_free(R, v);
    }
    if (R->nio) {
        /* the cleanup is bounded too: a store that does not answer within it keeps its chunks
         * until they expire (key_ttl) */
        pthread_mutex_lock(&R->mu);
        R->op_deadline = lpi_now() + CLEANUP_SEC;
        pthread_mutex_unlock(&R->mu);
        lpi_deadline_set(R->op_deadline);
        if (R->marked) lpi_store_del(NULL, R->store, R->guard); /* first: late writers now write nothing */
        for (int64_t gc = 0; gc < pl->nchunks; gc++)
            if (R->cstate && (R->cstate[gc] == C_STORED || R->cstate[gc] == C_MAYBE)) {
                R->cstate[gc] = C_GONE;
                io_submit(R, J_DEL, gc);
            }
        io_wait_all(R);
        /* and what a late writer put after its chunk's deletion, before the guard went */
        if (R->marked) lpi_store_del_prefix(NULL, R->store, R->prefix);
        pthread_mutex_lock(&R->mu);
        R->io_stop = true;
        pthread_cond_broadcast(&R->cv_job);
        pthread_mutex_unlock(&R->mu);
        for (int i = 0; i < R->nio; i++) pthread_join(R->io[i], NULL);
    }
    ctx->stats.tasks += R->ndone;
    ctx->stats.bytes_alloc += R->bytes_out;
    ctx->stats.bytes_read += R->bytes_read;
    ctx->stats.threads = R->nw * R->inflight;
    if (R->nidle) {
        CURL **ni = lp_realloc(cf->idle, (size_t)(cf->nidle + R->nidle) * sizeof *ni);
        if (ni) {
            cf->idle = ni;
            for (int i = 0; i < R->nidle; i++) cf->idle[cf->nidle++] = R->idle[i];
        } else {
            for (int i = 0; i < R->nidle; i++) curl_easy_cleanup(R->idle[i]);
        }
    }
    if (R->w)
        for (int w = 0; w < R->nw; w++) lp_free(R->w[w].url);
    pthread_mutex_destroy(&R->mu);
    pthread_cond_destroy(&R->cv_job);
    pthread_cond_destroy(&R->cv_done);
    lpi_wire_enc_free(&R->enc);
    lpi_ready_free(&R->q);
    lp_free(R->live);
    lp_free(R->w);
    lp_free(R->t);
    lp_free(R->retry);
    lp_free(R->csum);
    lp_free(R->cstate);
    lp_free(R->direct);
    lp_free(R->est);
    lp_free(R->idle);
}

lp_status lpi_exec_remote(lp_ctx *ctx, lpi_plan *pl) {
    struct lpi_remote *cf = lpi_ctx_slot(ctx, LPI_SLOT_REMOTE);
    if (!cf->nurls) return lpi_error(ctx, LP_ERR_VALUE, "the lambda executor needs workers (lp_ctx_set_workers, --workers)");
    const char *surl = cf->store ? cf->store : DEFAULT_STORE;
    if (!strncmp(surl, "mem://", 6))
        return lpi_error(ctx, LP_ERR_VALUE, "store %s is in this process only: workers cannot reach it", surl);
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) return lpi_error(ctx, LP_ERR_REMOTE, "libcurl failed to initialize");
    rrun R;
    memset(&R, 0, sizeof R);
    const double caller_deadline = lpi_deadline();
    lp_status st = run_setup(&R, ctx, pl, cf);
    if (!st) {
        run_loop(&R);
        st = R.failed ? R.status : LP_OK;
    }
    run_teardown(&R);
    lpi_deadline_set(caller_deadline);
    return st;
}
