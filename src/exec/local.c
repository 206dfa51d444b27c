/* The local executor: the shared ready queue (exec/ready.c: the planner's depth-first
 * priorities, reference-counted chunks) under one mutex, a fixed set of pool workers, and
 * chunks freed as soon as their last consumer has run. */
#include "exec/exec.h"
#include "exec/assemble.h"
#include "exec/pool.h"
#include "exec/ready.h"
#include "exec/trace.h"
#include "kernels/kernels.h"
#include "plan/cost.h"
#include "io/dataset.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct run {
    lp_ctx *ctx;
    lpi_plan *plan;
    lpi_view *cview;         /* per chunk */
    lp_buffer **cown;        /* per chunk: owned storage (NULL for views into targets/prefilled) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    lpi_ready q;             /* ready tasks, producer and consumer counts (under mu) */
    int64_t ndone;
    bool failed;
    lp_status status;
    int64_t live_bytes, peak_bytes, alloc_bytes;
    lpi_trace_ev *ev;        /* per executed task when tracing (NULL otherwise) */
    int64_t nev;
} run;

static bool stop_requested(run *r) {
    return r->failed || atomic_load_explicit(&r->ctx->cancel, memory_order_relaxed);
}

/* The view of a whole chunk: computed for prefilled data, stored for produced chunks. */
static void chunk_view(run *r, int pnode, int64_t chunk, lpi_view *v, lpi_box *box) {
    const lpi_pnode *pn = &r->plan->pnodes[pnode];
    lpi_grid_chunk_box(&pn->grid, chunk, box);
    if (pn->kernel == LPI_K_NONE) {
        v->data = (char *)pn->prefilled->data + pn->pre_offset;
        v->dtype = pn->dtype;
        v->ndim = pn->ndim;
        for (int i = 0; i < pn->ndim; i++) {
            v->data += box->lo[i] * pn->pre_strides[i];
            v->shape[i] = box->hi[i] - box->lo[i];
            v->strides[i] = pn->pre_strides[i];
        }
        return;
    }
    *v = r->cview[r->plan->chunk_base[pnode] + chunk];
}

/* Chunks whose last consumer ran, released after the mutex is dropped. */
typedef struct dead_list {
    run *r;
    int n;
    lp_buffer *b[16];
} dead_list;

static void on_dead(void *arg, int64_t c) {
    dead_list *d = arg;
    lp_buffer *b = d->r->cown[c];
    d->r->cown[c] = NULL;
    if (!b) return;
    d->r->live_bytes -= (int64_t)b->nbytes;
    if (d->n < 16) d->b[d->n++] = b;
    else lp_buffer_release(b); /* rare: many distinct inputs; freed under the lock */
}

static lp_status output_view(run *r, const lpi_task *t, lpi_view *v, lp_buffer **own) {
    const lpi_plan *pl = r->plan;
    const lpi_pnode *pn = &pl->pnodes[t->pnode];
    *own = NULL;
    if (pn->red && !pn->final) { /* partial states: reductions, and matmul's split contractions */
        int64_t shape[2] = {pn->red->nfields, t->pelems};
        lp_buffer *b = lpi_buffer_new(pn->red->acc_float ? LP_FLOAT64 : LP_INT64, 2, shape);
        if (!b) return lpi_nomem(r->ctx);
        v->data = b->data;
        v->dtype = b->dtype;
        v->ndim = 2;
        v->shape[0] = shape[0];
        v->shape[1] = shape[1];
        v->strides[1] = 8;
        v->strides[0] = 8 * shape[1];
        *own = b;
        return LP_OK;
    }
    lpi_box box;
    lpi_grid_chunk_box(&pn->grid, t->chunk, &box);
    if (pn->target >= 0) {
        lp_buffer *tb = pl->target_buf[pn->target];
        lpi_view whole = {tb->data, tb->dtype, tb->ndim, {0}, {0}};
        lpi_box all = {tb->ndim, {0}, {0}};
        int64_t s = (int64_t)lp_dtype_size(tb->dtype);
        for (int i = tb->ndim - 1; i >= 0; i--) {
            whole.shape[i] = tb->shape[i];
            whole.strides[i] = s;
            s *= tb->shape[i];
            all.hi[i] = tb->shape[i];
        }
        lpi_subview(&whole, &all, &box, v);
        return LP_OK;
    }
    int64_t shape[LP_MAX_NDIM];
    for (int i = 0; i < box.ndim; i++) shape[i] = box.hi[i] - box.lo[i];
    lp_buffer *b = lpi_buffer_new(pn->dtype, box.ndim, shape);
    if (!b) return lpi_nomem(r->ctx);
    v->data = b->data;
    v->dtype = pn->dtype;
    v->ndim = box.ndim;
    int64_t s = (int64_t)lp_dtype_size(pn->dtype);
    for (int i = box.ndim - 1; i >= 0; i--) { v->shape[i] = shape[i]; v->strides[i] = s; s *= shape[i]; }
    *own = b;
    return LP_OK;
}

static lp_status exec_task(run *r, int64_t ti) {
    const lpi_plan *pl = r->plan;
    const lpi_task *t = &pl->tasks[ti];
    const lpi_pnode *pn = &pl->pnodes[t->pnode];
    lpi_view out, insstack[4];
    lp_buffer *own = NULL;
    lp_status st = output_view(r, t, &out, &own);
    if (st) return st;
    lpi_view *ins = t->nops <= 4 ? insstack : lp_malloc((size_t)t->nops * sizeof *ins);
    void **tmps = lp_calloc((size_t)(t->nops ? t->nops : 1), sizeof *tmps);
    if (!ins || !tmps) { st = lpi_nomem(r->ctx); goto done; }
    for (int k = 0; k < t->nops && !st; k++) {
        const lpi_operand *op = &t->ops[k];
        lpi_view pvs[8];
        lpi_box pbs[8];
        lpi_view *pv = op->npieces <= 8 ? pvs : lp_malloc((size_t)op->npieces * sizeof *pv);
        lpi_box *pb = op->npieces <= 8 ? pbs : lp_malloc((size_t)op->npieces * sizeof *pb);
        if (!pv || !pb) st = lpi_nomem(r->ctx);
        for (int q = 0; !st && q < op->npieces; q++)
            chunk_view(r, op->pieces[q].pnode, op->pieces[q].chunk, &pv[q], &pb[q]);
        if (!st) st = lpi_assemble(r->ctx, op, pl->pnodes[op->pnode].dtype, pv, pb, &ins[k], &tmps[k]);
        if (pv != pvs) lp_free(pv);
        if (pb != pbs) lp_free(pb);
    }
    if (!st) st = lpi_kernel_run(r->ctx, pn, t, ins, &out);
    for (int k = 0; k < t->nops; k++) lp_free_aligned(tmps[k]);
    if (!st) {
        int64_t c = pl->chunk_base[t->pnode] + t->chunk;
        r->cview[c] = out;
        pthread_mutex_lock(&r->mu);
        r->cown[c] = own;
        if (own) {
            r->live_bytes += (int64_t)own->nbytes;
            r->alloc_bytes += (int64_t)own->nbytes;
            if (r->live_bytes > r->peak_bytes) r->peak_bytes = r->live_bytes;
        }
        dead_list d = {.r = r};
        lpi_ready_release_inputs(&r->q, ti, on_dead, &d);
        pthread_mutex_unlock(&r->mu);
        own = NULL;
        for (int i = 0; i < d.n; i++) lp_buffer_release(d.b[i]);
    }
done:
    lp_buffer_release(own);
    if (ins != insstack) lp_free(ins);
    lp_free(tmps);
    return st;
}

static void worker(void *arg, int id) {
    run *r = arg;
    const int64_t ntasks = r->plan->ntasks;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (r->q.n == 0 && r->ndone < ntasks && !stop_requested(r)) {
            /* timed, so a cancel from another thread is seen within milliseconds */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 10 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
            pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        }
        if (r->ndone >= ntasks || stop_requested(r)) break;
        int64_t ti = lpi_ready_pop(&r->q);
        pthread_mutex_unlock(&r->mu);
        double ts = r->ev ? lpi_now() : 0;
        lp_status st = exec_task(r, ti);
        double te = r->ev ? lpi_now() : 0;
        pthread_mutex_lock(&r->mu);
        if (st) {
            if (!r->failed) { r->failed = true; r->status = st; }
            pthread_cond_broadcast(&r->cv);
            break;
        }
        if (r->ev) r->ev[r->nev++] = (lpi_trace_ev){ts, te, ti, id};
        r->ndone++;
        int woke = lpi_ready_done(&r->q, ti, true);
        if (r->ndone == ntasks) pthread_cond_broadcast(&r->cv);
        else if (woke > 1) pthread_cond_broadcast(&r->cv);
        else if (woke == 1) pthread_cond_signal(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
}

/* Every load reads through a reader opened for the run, which checks that the stored object is
 * still the version lp_load saw. */
lp_status lpi_open_loads(lp_ctx *ctx, lpi_plan *pl) {
    for (int p = 0; p < pl->npnodes; p++) {
        lpi_pnode *pn = &pl->pnodes[p];
        if (pn->kernel != LPI_K_LOAD) continue;
        lp_status st = lpi_reader_open(ctx, pn->src->a.ds, &pn->reader);
        if (st) return st;
    }
    return LP_OK;
}

int64_t lpi_close_loads(lpi_plan *pl) {
    int64_t n = 0;
    for (int p = 0; p < pl->npnodes; p++) {
        lpi_pnode *pn = &pl->pnodes[p];
        if (!pn->reader) continue;
        n += lpi_reader_bytes(pn->reader);
        lpi_reader_close(pn->reader);
        pn->reader = NULL;
    }
    return n;
}

/* A plan this small (a loop's scalar bookkeeping, a condition) runs on the calling thread:
 * waking the pool would cost more than its tasks. Same tasks, same order, same bits. */
static bool small_plan(const lpi_plan *pl) {
    if (pl->ntasks <= 1) return true;
    if (pl->ntasks > 16) return false;
    int64_t elems = 0;
    for (int64_t i = 0; i < pl->ntasks; i++) elems += lpi_box_size(&pl->tasks[i].box);
    return elems <= 16384;
}

/* Workers for a plan: all of them, unless the probe found that a second worker adds no read
 * bandwidth on this machine (sum(a) with all workers < 1.15x as fast as with one: what a second
 * thread gives a plan that computes no more per byte than a sum) and the cost model finds the
 * plan memory-bound (with one worker, no more compute than memory time): then one thread,
 * which keeps its stream sequential and leaves the other core idle. Only when the number of
 * threads is automatic (0). The bits do not depend on it (the same tasks, computed the same
 * way). */
static int plan_workers(lp_ctx *ctx, const lpi_plan *pl, int W) {
    if (W <= 1 || lp_ctx_threads(ctx) != 0) return W; /* a worker count the user set is kept */
    const lpi_profile *pr = lpi_profile_get(ctx);
    if (!pr->probed || pr->mem_bw[0] >= 1.15 * pr->mem_bw1[0]) return W;
    double compute = 0, memory = 0;
    for (int64_t i = 0; i < pl->ntasks; i++) {
        lpi_task_cost c;
        lpi_task_cost_of(pl, i, pr, 1, &c);
        compute += c.compute_s;
        c.compute_s = c.overlap_s = 0;
        memory += lpi_task_seconds(pr, &c, 1, false) - pr->task_overhead;
    }
    return compute <= memory ? 1 : W;
}

lp_status lpi_exec_local(lp_ctx *ctx, lpi_plan *pl) {
    lpi_pool *pool = lpi_ctx_pool(ctx);
    if (!pool) return lp_last_status(ctx);
    run r;
    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    r.plan = pl;
    int64_t nc = pl->nchunks ? pl->nchunks : 1, nt = pl->ntasks ? pl->ntasks : 1;
    r.cview = lp_calloc((size_t)nc, sizeof *r.cview);
    r.cown = lp_calloc((size_t)nc, sizeof *r.cown);
    lp_status st = LP_OK;
    if (!r.cview || !r.cown) { st = lpi_nomem(ctx); goto done; }
    if ((st = lpi_ready_init(ctx, &r.q, pl))) goto done;
    lpi_ready_push_roots(&r.q);
    if ((st = lpi_open_loads(ctx, pl))) goto done;
    if (ctx->trace && !(r.ev = lp_malloc((size_t)nt * sizeof *r.ev))) { st = lpi_nomem(ctx); goto done; }
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    double t_start = lpi_now();
    lpi_progress *bar = lpi_progress_start(ctx, pl->ntasks, &r.ndone, &r.mu);
    int used = small_plan(pl) ? 1 : plan_workers(ctx, pl, lpi_pool_size(pool));
    if (used == 1) worker(&r, 0);
    else if (pl->ntasks) lpi_pool_run(pool, worker, &r);
    lpi_progress_stop(bar);
    double t_end = lpi_now();
    if (r.ev && !r.failed) {
        lp_status ts = lpi_trace_finish(ctx, pl, r.ev, r.nev, used, t_start, t_end);
        if (ts) st = ts;
    }
    for (int64_t i = 0; i < r.ndone && i < pl->ntasks && !r.failed; i++) {
        int64_t bi, bo;
        lpi_task_bytes(pl, i, &bi, &bo);
        ctx->report.bytes_written += bo;
    }
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
    if (r.failed) st = r.status;
    else if (r.ndone < pl->ntasks) st = lpi_error(ctx, LP_ERR_CANCELLED, "the run was cancelled");
    /* a run may execute several plans (loops): statistics add up */
    ctx->stats.tasks += r.ndone;
    ctx->stats.bytes_alloc += r.alloc_bytes;
    if (r.peak_bytes > ctx->stats.peak_bytes) ctx->stats.peak_bytes = r.peak_bytes;
    if (used > ctx->stats.threads) ctx->stats.threads = used;
done:
    ctx->stats.bytes_read += lpi_close_loads(pl);
    if (r.cown)
        for (int64_t c = 0; c < pl->nchunks; c++) lp_buffer_release(r.cown[c]);
    lp_free(r.cview);
    lp_free(r.cown);
    lpi_ready_free(&r.q);
    lp_free(r.ev);
    return st;
}
