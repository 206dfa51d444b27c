/* Ready queue and reference counts shared by the executors (ready.h). */
#include "exec/ready.h"

#include <string.h>

lp_status lpi_ready_init(lp_ctx *ctx, lpi_ready *q, const lpi_plan *pl) {
    memset(q, 0, sizeof *q);
    q->plan = pl;
    int64_t nt = pl->ntasks ? pl->ntasks : 1, nc = pl->nchunks ? pl->nchunks : 1;
    q->heap = lp_malloc((size_t)nt * sizeof *q->heap);
    q->pending = lp_malloc((size_t)nt * sizeof *q->pending);
    q->crefs = lp_malloc((size_t)nc * sizeof *q->crefs);
    if (!q->heap || !q->pending || !q->crefs) {
        lpi_ready_free(q);
        return lpi_nomem(ctx);
    }
    for (int64_t i = 0; i < pl->ntasks; i++) q->pending[i] = pl->tasks[i].ndeps;
    memcpy(q->crefs, pl->chunk_refs, (size_t)pl->nchunks * sizeof *q->crefs);
    return LP_OK;
}

void lpi_ready_free(lpi_ready *q) {
    lp_free(q->heap);
    lp_free(q->pending);
    lp_free(q->crefs);
    memset(q, 0, sizeof *q);
}

void lpi_ready_push(lpi_ready *q, int64_t t) {
    const lpi_task *T = q->plan->tasks;
    int64_t i = q->n++;
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (T[q->heap[p]].prio <= T[t].prio) break;
        q->heap[i] = q->heap[p];
        i = p;
    }
    q->heap[i] = t;
}

int64_t lpi_ready_pop(lpi_ready *q) {
    const lpi_task *T = q->plan->tasks;
    int64_t top = q->heap[0], last = q->heap[--q->n], i = 0, n = q->n;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && T[q->heap[c + 1]].prio < T[q->heap[c]].prio) c++;
        if (T[last].prio <= T[q->heap[c]].prio) break;
        q->heap[i] = q->heap[c];
        i = c;
    }
    if (n) q->heap[i] = last;
    return top;
}

void lpi_ready_push_roots(lpi_ready *q) {
    for (int64_t i = 0; i < q->plan->ntasks; i++)
        if (q->pending[i] == 0) lpi_ready_push(q, i);
}

int lpi_ready_done(lpi_ready *q, int64_t t, bool push) {
    const lpi_task *tk = &q->plan->tasks[t];
    int woke = 0;
    for (int32_t c = 0; c < tk->nconsumers; c++) {
        int64_t u = tk->consumers[c];
        if (--q->pending[u] == 0) {
            if (push) lpi_ready_push(q, u);
            woke++;
        }
    }
    return woke;
}

void lpi_ready_release_inputs(lpi_ready *q, int64_t ti, void (*dead)(void *arg, int64_t gc), void *arg) {
    const lpi_plan *pl = q->plan;
    const lpi_task *t = &pl->tasks[ti];
    for (int k = 0; k < t->nops; k++)
        for (int p = 0; p < t->ops[k].npieces; p++) {
            const lpi_piece *pc = &t->ops[k].pieces[p];
            /* a chunk read by several pieces or operands is released once */
            bool dup = false;
            for (int k2 = 0; k2 <= k && !dup; k2++)
                for (int p2 = 0; p2 < (k2 == k ? p : t->ops[k2].npieces) && !dup; p2++)
                    dup = t->ops[k2].pieces[p2].pnode == pc->pnode && t->ops[k2].pieces[p2].chunk == pc->chunk;
            if (dup) continue;
            int64_t gc = pl->chunk_base[pc->pnode] + pc->chunk;
            if (lpi_ready_unref(q, gc)) dead(arg, gc);
        }
}
