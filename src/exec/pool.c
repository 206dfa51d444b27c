/* The thread pool. Threads live as long as the context, so a run costs a wake-up, not a
 * pthread_create (Python users run thousands of small expressions). */
#include "exec/pool.h"

#include <sched.h>
#include <unistd.h>

struct lpi_pool {
    int n;                 /* workers including the caller */
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    uint64_t gen;
    int running;
    bool stop;
    void (*fn)(void *, int);
    void *arg;
};

typedef struct { lpi_pool *p; int id; } targ;

static void *worker(void *a_) {
    targ *a = a_;
    lpi_pool *p = a->p;
    int id = a->id;
    lp_free(a);
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->gen == seen) pthread_cond_wait(&p->start, &p->mu);
        if (p->stop) break;
        seen = p->gen;
        void (*fn)(void *, int) = p->fn;
        void *arg = p->arg;
        pthread_mutex_unlock(&p->mu);
        fn(arg, id);
        pthread_mutex_lock(&p->mu);
        if (--p->running == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

lp_status lpi_pool_create(lp_ctx *ctx, int n, lpi_pool **out) {
    *out = NULL;
    if (n < 1) n = 1;
    lpi_pool *p = lp_calloc(1, sizeof *p);
    if (!p) return lpi_nomem(ctx);
    p->n = n;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    if (n > 1 && !(p->th = lp_calloc((size_t)(n - 1), sizeof *p->th))) { p->n = 1; lpi_pool_destroy(p); return lpi_nomem(ctx); }
    for (int i = 1; i < n; i++) {
        targ *a = lp_malloc(sizeof *a);
        if (!a) { p->n = i; lpi_pool_destroy(p); return lpi_nomem(ctx); }
        a->p = p;
        a->id = i;
        if (pthread_create(&p->th[i - 1], NULL, worker, a) != 0) {
            lp_free(a);
            p->n = i;
            lpi_pool_destroy(p);
            return lpi_error(ctx, LP_ERR_NOMEM, "cannot start thread %d of the pool", i);
        }
    }
    *out = p;
    return LP_OK;
}

void lpi_pool_destroy(lpi_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->th[i - 1], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    lp_free(p->th);
    lp_free(p);
}

int lpi_pool_size(const lpi_pool *p) { return p->n; }

void lpi_pool_run(lpi_pool *p, void (*fn)(void *, int), void *arg) {
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->running = p->n - 1;
    p->gen++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    fn(arg, 0);
    pthread_mutex_lock(&p->mu);
    while (p->running > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static void pool_destroy(void *p) { lpi_pool_destroy(p); }

lpi_pool *lpi_ctx_pool(lp_ctx *ctx) {
    lpi_pool *p = lpi_ctx_slot(ctx, LPI_SLOT_POOL);
    if (!p) {
        if (lpi_pool_create(ctx, lpi_ctx_workers(ctx), &p)) return NULL;
        lpi_ctx_set_slot(ctx, LPI_SLOT_POOL, p, pool_destroy);
    }
    return p;
}
