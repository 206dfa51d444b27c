/* Run timelines as Chrome trace events (they open in Perfetto and chrome://tracing), the run
 * report's numbers, and the progress bar. */
#include "exec/trace.h"
#include "plan/serialize.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void trace_free(void *p) {
    struct lpi_trace *t = p;
    if (!t) return;
    lp_free(t->spans);
    lp_free(t);
}

const struct lpi_trace *lpi_last_trace(const lp_ctx *ctx) { return lpi_ctx_slot(ctx, LPI_SLOT_TRACE); }

void lpi_task_bytes(const lpi_plan *pl, int64_t ti, int64_t *in, int64_t *out) {
    const lpi_task *t = &pl->tasks[ti];
    const lpi_pnode *p = &pl->pnodes[t->pnode];
    int64_t b = 0;
    for (int k = 0; k < t->nops; k++) {
        const lpi_pnode *q = &pl->pnodes[t->ops[k].pnode];
        if (q->red && !q->final) b += (int64_t)q->red->nfields * t->pelems * 8;
        else b += lpi_box_size(&t->ops[k].box) * (int64_t)lp_dtype_size(q->dtype);
    }
    *in = b;
    if (p->red && !p->final) *out = (int64_t)p->red->nfields * t->pelems * 8;
    else if (p->kernel == LPI_K_PARTIAL || p->kernel == LPI_K_COMBINE) {
        lpi_box cb;
        lpi_grid_chunk_box(&p->grid, t->chunk, &cb);
        *out = lpi_box_size(&cb) * (int64_t)lp_dtype_size(p->dtype);
    } else {
        *out = lpi_box_size(&t->box) * (int64_t)lp_dtype_size(p->dtype);
    }
}

lp_status lp_ctx_set_trace(lp_ctx *ctx, bool on) {
    ctx->trace = on;
    return LP_OK;
}

lp_status lp_ctx_set_progress(lp_ctx *ctx, bool on) {
    ctx->progress = on;
    return LP_OK;
}

void lp_last_run_report(const lp_ctx *ctx, lp_run_report *out) {
    *out = ctx->report;
    out->stats = ctx->stats;
}

lp_status lpi_trace_finish(lp_ctx *ctx, const lpi_plan *pl, const lpi_trace_ev *ev, int64_t nev, int threads,
                           double t_start, double t_end) {
    lpi_ctx_set_slot(ctx, LPI_SLOT_TRACE, NULL, NULL);
    struct lpi_trace *tr = lp_calloc(1, sizeof *tr);
    if (!tr || !(tr->spans = lp_calloc((size_t)(nev ? nev : 1), sizeof *tr->spans))) {
        lp_free(tr);
        return lpi_nomem(ctx);
    }
    tr->n = nev;
    tr->threads = threads;
    tr->run_seconds = t_end - t_start;
    tr->predicted_seconds = ctx->report.predicted_seconds;
    double busy = 0;
    for (int64_t i = 0; i < nev; i++) {
        lpi_span *s = &tr->spans[i];
        const lpi_task *t = &pl->tasks[ev[i].task];
        const lpi_pnode *p = &pl->pnodes[t->pnode];
        s->t0 = ev[i].t0 - t_start;
        s->t1 = ev[i].t1 - t_start;
        s->worker = ev[i].worker;
        s->pnode = t->pnode;
        s->task = ev[i].task;
        s->chunk = t->chunk;
        s->op = (uint16_t)p->op;
        s->kernel = (uint8_t)p->kernel;
        lpi_task_bytes(pl, ev[i].task, &s->bytes_in, &s->bytes_out);
        int extra = -1;
        if (p->prog)
            for (int k = 0; k < p->prog->ninstr; k++) extra += p->prog->ins[k].op != LPI_OP_ASTYPE;
        if (p->kernel == LPI_K_PARTIAL) extra++; /* the reduction itself is the op */
        if (extra > 0) snprintf(s->label, sizeof s->label, "%s+%d", lpi_ops[p->op].name, extra);
        else snprintf(s->label, sizeof s->label, "%s", lpi_ops[p->op].name);
        busy += s->t1 - s->t0;
    }
    ctx->report.busy_seconds = busy;
    ctx->report.utilisation = tr->run_seconds > 0 && threads > 0 ? busy / (threads * tr->run_seconds) : 0;
    lpi_ctx_set_slot(ctx, LPI_SLOT_TRACE, tr, trace_free);
    return LP_OK;
}

static const char *kernel_str(int k) { return lpi_kernel_name((lpi_kernel)k); }

lp_status lp_trace_write(lp_ctx *ctx, const char *path) {
    const struct lpi_trace *tr = lpi_last_trace(ctx);
    if (!path) return lpi_error(ctx, LP_ERR_VALUE, "lp_trace_write: NULL path");
    if (!tr) return lpi_error(ctx, LP_ERR_VALUE, "no traced run on this context (turn tracing on with lp_ctx_set_trace)");
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid()) >= sizeof tmp)
        return lpi_error(ctx, LP_ERR_VALUE, "%s: path too long", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return lpi_error(ctx, errno == ENOENT ? LP_ERR_NOTFOUND : LP_ERR_IO, "%s: %s", path, strerror(errno));
    fprintf(f, "{\"displayTimeUnit\": \"ms\",\n \"otherData\": {\"producer\": \"lampy %s\", \"tasks\": %lld, "
               "\"threads\": %d, \"run_seconds\": %.9g, \"predicted_seconds\": %.9g},\n \"traceEvents\": [\n",
            LP_VERSION_STRING, (long long)tr->n, tr->threads, tr->run_seconds, tr->predicted_seconds);
    fprintf(f, "  {\"name\": \"process_name\", \"ph\": \"M\", \"pid\": 1, \"tid\": 0, \"args\": {\"name\": \"lampy run\"}}");
    for (int w = 0; w < tr->threads; w++)
        fprintf(f, ",\n  {\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": 1, \"tid\": %d, \"args\": {\"name\": \"worker %d\"}}",
                w, w);
    for (int64_t i = 0; i < tr->n; i++) {
        const lpi_span *s = &tr->spans[i];
        /* labels are op names from the registry: identifiers, nothing to escape */
        fprintf(f, ",\n  {\"name\": \"%s\", \"cat\": \"%s\", \"ph\": \"X\", \"pid\": 1, \"tid\": %d, \"ts\": %.3f, "
                   "\"dur\": %.3f, \"args\": {\"op\": \"%s\", \"kernel\": \"%s\", \"pnode\": %d, \"task\": %lld, "
                   "\"chunk\": %lld, \"bytes_in\": %lld, \"bytes_out\": %lld}}",
                s->label, kernel_str(s->kernel), s->worker, s->t0 * 1e6, (s->t1 - s->t0) * 1e6, lpi_ops[s->op].name,
                kernel_str(s->kernel), s->pnode, (long long)s->task, (long long)s->chunk, (long long)s->bytes_in,
                (long long)s->bytes_out);
    }
    fprintf(f, "\n ]\n}\n");
    bool ok = !ferror(f);
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        return lpi_error(ctx, LP_ERR_IO, "%s: %s", path, strerror(e));
    }
    return LP_OK;
}

/* ---- progress ---- */

struct lpi_progress {
    pthread_t th;
    pthread_mutex_t mu;   /* guards stop */
    pthread_cond_t cv;
    bool stop, drawn;
    int64_t total;
    const int64_t *done;
    pthread_mutex_t *run_mu;
    double t0;
    double after;         /* seconds before the bar appears */
};

static void draw(lpi_progress *p, int64_t done, double el) {
    const int W = 30;
    int fill = p->total ? (int)(W * done / p->total) : W;
    char bar[64];
    for (int i = 0; i < W; i++) bar[i] = i < fill ? '#' : '-';
    bar[W] = 0;
    fprintf(stderr, "\r[%s] %3d%%  %lld/%lld tasks  %.1f s", bar, p->total ? (int)(100 * done / p->total) : 100,
            (long long)done, (long long)p->total, el);
    fflush(stderr);
    p->drawn = true;
}

static void *progress_main(void *arg) {
    lpi_progress *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if (p->stop) break;
        double el = lpi_now() - p->t0;
        if (el < p->after) continue;
        pthread_mutex_lock(p->run_mu);
        int64_t d = *p->done;
        pthread_mutex_unlock(p->run_mu);
        draw(p, d, el);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

lpi_progress *lpi_progress_start(lp_ctx *ctx, int64_t total, const int64_t *done, pthread_mutex_t *mu) {
    if (!ctx->progress || total <= 0 || !isatty(STDERR_FILENO)) return NULL;
    lpi_progress *p = lp_calloc(1, sizeof *p);
    if (!p) return NULL; /* no bar is not an error */
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->total = total;
    p->done = done;
    p->run_mu = mu;
    p->t0 = lpi_now();
    /* A bar for short runs is noise; LAMPY_PROGRESS_AFTER (seconds, default 1) changes when
     * it appears (tests set 0 so that the bar shows whatever the machine's speed). */
    const char *after = getenv("LAMPY_PROGRESS_AFTER");
    char *end;
    p->after = after && *after ? strtod(after, &end) : 1.0;
    if (!after || !*after || *end || !(p->after >= 0)) p->after = 1.0;
    if (pthread_create(&p->th, NULL, progress_main, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        lp_free(p);
        return NULL;
    }
    return p;
}

void lpi_progress_stop(lpi_progress *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    if (p->drawn) {
        fputs("\r\033[K", stderr); /* clear the bar: the terminal is left as it was */
        fflush(stderr);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    lp_free(p);
}
