/* The loop driver (loop.h): compiled evaluations (plans and loops as stages over value slots),
 * the per-iteration stepping of one loop, and lp_run's hook. */
#include "exec/loop.h"
#include "core/hmap.h"
#include "core/vec.h"
#include "exec/exec.h"

#include <stdio.h>
#include <string.h>

static lp_status default_run(void *arg, lp_ctx *ctx, lpi_plan *plan) {
    (void)arg;
    return lpi_exec_plan(ctx, plan);
}

const lpi_executor lpi_default_executor = {default_run, NULL};

/* A failure inside an iteration, said with its place: "while_loop iteration 7: ...". */
static lp_status in_iteration(lp_ctx *ctx, lp_status st, const lpi_loop *l, int64_t iter) {
    char msg[LPI_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", lp_last_error(ctx));
    bool was = ctx->in_run;
    ctx->in_run = false;
    lpi_error(ctx, st, "%s iteration %lld: %s", lpi_ops[l->kind].name, (long long)iter, msg);
    ctx->in_run = was;
    return st;
}

/* ---- compiled evaluations ------------------------------------------------------------- */

typedef enum { ST_PLAN, ST_LOOP } stkind;

typedef struct stage {
    stkind kind;
    lpi_plan *plan;       /* PLAN: built with nbind bound nodes ... */
    int nbind;
    int *bind_slot;       /* ... whose values are these slots */
    lpi_loop_exec *lx;    /* LOOP */
    int nin;
    int *in_slot;         /* LOOP: the loop node's inputs */
    int nout;
    int *out_slot;        /* PLAN: per plan target; LOOP: per carried value */
} stage;

struct lpi_eval {
    int nparams, nslots;
    int nstages;
    stage *stages;
    int ntargets;
    int *target_slot;
    int *last_use;        /* per slot: the last stage reading it (-1: none) */
    bool *keep;           /* per slot: a target's, kept to the end */
};

void lpi_eval_destroy(lpi_eval *ev) {
    if (!ev) return;
    for (int s = 0; s < ev->nstages; s++) {
        stage *S = &ev->stages[s];
        lpi_plan_destroy(S->plan);
        lpi_loop_exec_destroy(S->lx);
        lp_free(S->bind_slot);
        lp_free(S->in_slot);
        lp_free(S->out_slot);
    }
    lp_free(ev->stages);
    lp_free(ev->target_slot);
    lp_free(ev->last_use);
    lp_free(ev->keep);
    lp_free(ev);
}

typedef struct compiler {
    lp_ctx *ctx;
    lpi_eval *ev;
    int capstages;
    lpi_ptrvec mapped;          /* nodes with a value slot, in the order plans bind them */
    int *mslot;           /* [mapped.n] their slots */
    int capm;
    lpi_hmap slot_of;     /* node -> slot */
} compiler;

static uint64_t key(const lp_array *a) { return (uint64_t)(uintptr_t)a; }

static bool is_data(const lp_array *a) { return a->op == LPI_OP_WRAP || lp_array_result(a) != NULL; }

static lp_status map_node(compiler *C, lp_array *a, int slot) {
    if (C->mapped.n == C->capm) {
        int c = C->capm ? 2 * C->capm : 16;
        int *ns = lp_realloc(C->mslot, (size_t)c * sizeof *ns);
        if (!ns) return lpi_nomem(C->ctx);
        C->mslot = ns;
        C->capm = c;
    }
    if (!lpi_hmap_put(&C->slot_of, key(a), slot)) return lpi_nomem(C->ctx);
    C->mslot[C->mapped.n] = slot;
    if (!lpi_ptrvec_push(&C->mapped, a)) return lpi_nomem(C->ctx);
    return LP_OK;
}

static bool slot_of(const compiler *C, const lp_array *a, int *slot) {
    int64_t s;
    if (!lpi_hmap_get(&C->slot_of, key(a), &s)) return false;
    *slot = (int)s;
    return true;
}

static stage *new_stage(compiler *C, stkind kind) {
    lpi_eval *ev = C->ev;
    if (ev->nstages == C->capstages) {
        int c = C->capstages ? 2 * C->capstages : 4;
        stage *ns = lp_realloc(ev->stages, (size_t)c * sizeof *ns);
        if (!ns) return NULL;
        ev->stages = ns;
        C->capstages = c;
    }
    stage *S = &ev->stages[ev->nstages++];
    memset(S, 0, sizeof *S);
    S->kind = kind;
    return S;
}

/* A plan stage computing nodes (none of them mapped) over everything mapped so far; the nodes
 * get new slots. */
static lp_status plan_stage(compiler *C, lp_array *const *nodes, int n) {
    lpi_plan *plan;
    double t0 = lpi_now();
    lp_status st = lpi_plan_build_bound(C->ctx, nodes, n, C->mapped.n, (lp_array *const *)C->mapped.v, &plan);
    C->ctx->stats.plan_seconds += lpi_now() - t0;
    if (st) return st;
    stage *S = new_stage(C, ST_PLAN);
    if (!S) { lpi_plan_destroy(plan); return lpi_nomem(C->ctx); }
    S->plan = plan;
    S->nbind = C->mapped.n;
    S->nout = n;
    S->bind_slot = lp_malloc((size_t)(S->nbind ? S->nbind : 1) * sizeof *S->bind_slot);
    S->out_slot = lp_malloc((size_t)n * sizeof *S->out_slot);
    if (!S->bind_slot || !S->out_slot) return lpi_nomem(C->ctx);
    memcpy(S->bind_slot, C->mslot, (size_t)S->nbind * sizeof *S->bind_slot);
    for (int t = 0; t < n; t++) {
        S->out_slot[t] = C->ev->nslots++;
        if ((st = map_node(C, nodes[t], S->out_slot[t]))) return st;
    }
    return LP_OK;
}

/* Loops reached from the targets (through loop_output nodes, not into bodies) in dependency
 * order, and the loop_output nodes that read them. */
static lp_status find_loops(compiler *C, lp_array *const *targets, int nt, lpi_ptrvec *loops, lpi_ptrvec *outputs) {
    lpi_hmap seen = {0};
    lpi_ptrvec stack = {0};
    lp_status st = LP_OK;
    if (!lpi_hmap_init(&seen, 64)) return lpi_nomem(C->ctx);
    for (int t = 0; t < nt && !st; t++) {
        if (!lpi_ptrvec_push(&stack, targets[t])) { st = lpi_nomem(C->ctx); break; }
        while (stack.n && !st) {
            uintptr_t top = (uintptr_t)stack.v[stack.n - 1];
            lp_array *a = (lp_array *)(top & ~(uintptr_t)1);
            int64_t x;
            int sl;
            if (top & 1) {
                stack.n--;
                if (lpi_is_loop(a) && !lpi_ptrvec_push(loops, a)) st = lpi_nomem(C->ctx);
                continue;
            }
            if (lpi_hmap_get(&seen, key(a), &x)) { stack.n--; continue; }
            if (!lpi_hmap_put(&seen, key(a), 1)) { st = lpi_nomem(C->ctx); break; }
            if (slot_of(C, a, &sl) || is_data(a)) { stack.n--; continue; }
            if (a->op == LPI_OP_LOOP_OUTPUT && !lpi_ptrvec_push(outputs, a)) { st = lpi_nomem(C->ctx); break; }
            stack.v[stack.n - 1] = (lp_array *)(top | 1);
            for (int i = a->nin - 1; i >= 0 && !st; i--)
                if (!lpi_hmap_get(&seen, key(a->in[i]), &x) && !lpi_ptrvec_push(&stack, a->in[i])) st = lpi_nomem(C->ctx);
        }
    }
    lp_free(stack.v);
    lpi_hmap_free(&seen);
    return st;
}

static lp_status loop_stage(compiler *C, lp_array *node, const lpi_ptrvec *outputs) {
    lp_status st;
    const lpi_loop *l = node->a.loop;
    /* its inputs that have no value yet: one plan */
    lpi_ptrvec todo = {0};
    for (int k = 0; k < node->nin; k++) {
        int sl;
        bool dup = false;
        for (int j = 0; j < todo.n && !dup; j++) dup = todo.v[j] == node->in[k];
        if (!dup && !slot_of(C, node->in[k], &sl) && !lpi_ptrvec_push(&todo, node->in[k])) { lp_free(todo.v); return lpi_nomem(C->ctx); }
    }
    st = todo.n ? plan_stage(C, (lp_array *const *)todo.v, todo.n) : LP_OK;
    lp_free(todo.v);
    if (st) return st;
    lpi_loop_exec *lx;
    if ((st = lpi_loop_exec_compile(C->ctx, l, &lx))) return st;
    stage *S = new_stage(C, ST_LOOP);
    if (!S) { lpi_loop_exec_destroy(lx); return lpi_nomem(C->ctx); }
    S->lx = lx;
    S->nin = node->nin;
    S->nout = l->ncarry;
    S->in_slot = lp_malloc((size_t)S->nin * sizeof *S->in_slot);
    S->out_slot = lp_malloc((size_t)S->nout * sizeof *S->out_slot);
    if (!S->in_slot || !S->out_slot) return lpi_nomem(C->ctx);
    for (int k = 0; k < node->nin; k++) slot_of(C, node->in[k], &S->in_slot[k]);
    for (int k = 0; k < S->nout; k++) S->out_slot[k] = C->ev->nslots++;
    for (int i = 0; i < outputs->n; i++) {
        lp_array *o = outputs->v[i];
        if (o->in[0] == node && (st = map_node(C, o, S->out_slot[o->a.i0]))) return st;
    }
    return LP_OK;
}

lp_status lpi_eval_compile(lp_ctx *ctx, lp_array *const *targets, int nt, lp_array *const *params, int np,
                           lpi_eval **out) {
    *out = NULL;
    compiler C = {.ctx = ctx};
    lpi_eval *ev = lp_calloc(1, sizeof *ev);
    lpi_ptrvec loops = {0}, outputs = {0}, todo = {0};
    lp_status st = LP_OK;
    if (!ev || !lpi_hmap_init(&C.slot_of, 16)) { lp_free(ev); lpi_hmap_free(&C.slot_of); return lpi_nomem(ctx); }
    C.ev = ev;
    ev->nparams = np;
    ev->ntargets = nt;
    for (int i = 0; i < np && !st; i++) {
        int sl;
        /* a node bound twice (a loop passing one value as two parameters) keeps the first */
        if (slot_of(&C, params[i], &sl)) { ev->nslots++; continue; }
        st = map_node(&C, params[i], ev->nslots++);
    }
    if (!st) st = find_loops(&C, targets, nt, &loops, &outputs);
    for (int i = 0; i < loops.n && !st; i++) st = loop_stage(&C, loops.v[i], &outputs);
    /* the targets that still need computing: one final plan */
    for (int t = 0; t < nt && !st; t++) {
        int sl;
        bool dup = false;
        for (int j = 0; j < todo.n && !dup; j++) dup = todo.v[j] == targets[t];
        if (!dup && !slot_of(&C, targets[t], &sl) && !lpi_ptrvec_push(&todo, targets[t])) st = lpi_nomem(ctx);
    }
    if (!st && todo.n) st = plan_stage(&C, (lp_array *const *)todo.v, todo.n);
    if (!st) {
        ev->target_slot = lp_malloc((size_t)(nt ? nt : 1) * sizeof *ev->target_slot);
        ev->last_use = lp_malloc((size_t)(ev->nslots ? ev->nslots : 1) * sizeof *ev->last_use);
        ev->keep = lp_calloc((size_t)(ev->nslots ? ev->nslots : 1), sizeof *ev->keep);
        if (!ev->target_slot || !ev->last_use || !ev->keep) st = lpi_nomem(ctx);
    }
    if (!st) {
        for (int t = 0; t < nt; t++) {
            slot_of(&C, targets[t], &ev->target_slot[t]);
            ev->keep[ev->target_slot[t]] = true;
        }
        for (int i = 0; i < ev->nslots; i++) ev->last_use[i] = -1;
        for (int s = 0; s < ev->nstages; s++) {
            const stage *S = &ev->stages[s];
            if (S->kind == ST_PLAN) {
                for (int i = 0; i < S->nbind; i++)
                    if (S->plan->bind_pnode[i] >= 0) ev->last_use[S->bind_slot[i]] = s;
            } else {
                for (int i = 0; i < S->nin; i++) ev->last_use[S->in_slot[i]] = s;
            }
        }
    }
    lp_free(loops.v);
    lp_free(outputs.v);
    lp_free(todo.v);
    lp_free(C.mapped.v);
    lp_free(C.mslot);
    lpi_hmap_free(&C.slot_of);
    if (st) { lpi_eval_destroy(ev); return st; }
    *out = ev;
    return LP_OK;
}

static lp_status run_plan_stage(lp_ctx *ctx, const stage *S, const lpi_executor *ex, lp_buffer **val) {
    lpi_plan *plan = S->plan;
    for (int i = 0; i < S->nbind; i++)
        if (plan->bind_pnode[i] >= 0) plan->pnodes[plan->bind_pnode[i]].prefilled = val[S->bind_slot[i]];
    lp_status st = lpi_plan_alloc_targets(ctx, plan);
    if (!st) {
        double t0 = lpi_now();
        st = ex->run(ex->arg, ctx, plan);
        ctx->stats.run_seconds += lpi_now() - t0;
    }
    for (int t = 0; t < plan->ntargets; t++) {
        if (!st) val[S->out_slot[t]] = plan->target_buf[t];
        else lp_buffer_release(plan->target_buf[t]);
        plan->target_buf[t] = NULL;
    }
    for (int i = 0; i < S->nbind; i++)
        if (plan->bind_pnode[i] >= 0) plan->pnodes[plan->bind_pnode[i]].prefilled = NULL;
    return st;
}

lp_status lpi_eval_run(lp_ctx *ctx, lpi_eval *ev, const lpi_executor *ex, lp_buffer *const *params, lp_buffer **outs) {
    if (!ex) ex = &lpi_default_executor;
    lp_buffer **val = lp_calloc((size_t)(ev->nslots ? ev->nslots : 1), sizeof *val);
    if (!val) return lpi_nomem(ctx);
    for (int i = 0; i < ev->nparams; i++) { val[i] = params[i]; lp_buffer_retain(val[i]); }
    lp_status st = LP_OK;
    for (int s = 0; s < ev->nstages && !st; s++) {
        const stage *S = &ev->stages[s];
        if (S->kind == ST_PLAN) {
            st = run_plan_stage(ctx, S, ex, val);
        } else {
            lp_buffer *ostack[16];
            lp_buffer **o = S->nout <= 16 ? ostack : lp_malloc((size_t)S->nout * sizeof *o);
            if (!o) { st = lpi_nomem(ctx); break; }
            lpi_loop_state ls;
            lp_buffer *istack[16];
            lp_buffer **in = S->nin <= 16 ? istack : lp_malloc((size_t)S->nin * sizeof *in);
            if (!in) st = lpi_nomem(ctx);
            for (int k = 0; !st && k < S->nin; k++) in[k] = val[S->in_slot[k]];
            if (!st) st = lpi_loop_begin(ctx, S->lx, in, &ls);
            if (in && in != istack) lp_free(in);
            if (!st) {
                while (!st && !ls.done) st = lpi_loop_step(ctx, &ls, ex);
                lpi_loop_end(&ls, st ? NULL : o);
                for (int k = 0; !st && k < S->nout; k++) val[S->out_slot[k]] = o[k];
            }
            if (o != ostack) lp_free(o);
        }
        /* values no later stage reads */
        for (int i = 0; !st && i < ev->nslots; i++)
            if (ev->last_use[i] == s && !ev->keep[i]) { lp_buffer_release(val[i]); val[i] = NULL; }
    }
    for (int t = 0; t < ev->ntargets; t++) {
        outs[t] = st ? NULL : val[ev->target_slot[t]];
        if (!st) lp_buffer_retain(outs[t]);
    }
    for (int i = 0; i < ev->nslots; i++) lp_buffer_release(val[i]);
    lp_free(val);
    return st;
}

/* ---- one loop ----------------------------------------------------------------------------- */

lp_status lpi_loop_exec_compile(lp_ctx *ctx, const lpi_loop *l, lpi_loop_exec **out) {
    *out = NULL;
    lpi_loop_exec *lx = lp_calloc(1, sizeof *lx);
    if (!lx) return lpi_nomem(ctx);
    lx->loop = l;
    lp_status st = LP_OK;
    lp_array **targets = lp_malloc((size_t)(l->ncarry + 1) * sizeof *targets);
    if (!targets) st = lpi_nomem(ctx);
    int nt = l->ncarry;
    if (!st) memcpy(targets, l->body_out, (size_t)l->ncarry * sizeof *targets);
    if (!st && l->kind == LPI_OP_WHILE_LOOP) {
        /* cond over the body's outputs (and the body's own free parameters) */
        const int np = l->ncarry + l->nfree;
        lp_array **vals = lp_malloc((size_t)np * sizeof *vals);
        if (!vals) st = lpi_nomem(ctx);
        for (int k = 0; !st && k < np; k++) vals[k] = k < l->ncarry ? l->body_out[k] : l->body_params[k];
        if (!st) st = lpi_loop_subst(ctx, &l->cond_out, 1, l->cond_params, vals, np, &lx->cond_next);
        lp_free(vals);
        if (!st) targets[nt++] = lx->cond_next;
    }
    if (!st) st = lpi_eval_compile(ctx, targets, nt, l->body_params, l->nbody_params, &lx->body);
    lp_free(targets);
    if (!st && l->kind == LPI_OP_WHILE_LOOP)
        st = lpi_eval_compile(ctx, &l->cond_out, 1, l->cond_params, l->ncarry + l->nfree, &lx->cond);
    if (st) {
        char msg[LPI_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", lp_last_error(ctx));
        bool was = ctx->in_run;
        ctx->in_run = false;
        lpi_error(ctx, st, "%s %s: %s", lpi_ops[l->kind].name, lx->body ? "cond" : "body", msg);
        ctx->in_run = was;
        lpi_loop_exec_destroy(lx);
        return st;
    }
    *out = lx;
    return LP_OK;
}

void lpi_loop_exec_destroy(lpi_loop_exec *lx) {
    if (!lx) return;
    lpi_eval_destroy(lx->body);
    lpi_eval_destroy(lx->cond);
    lp_array_release(lx->cond_next);
    lp_free(lx);
}

lp_status lpi_loop_begin(lp_ctx *ctx, const lpi_loop_exec *lx, lp_buffer *const *inputs, lpi_loop_state *s) {
    const lpi_loop *l = lx->loop;
    memset(s, 0, sizeof *s);
    s->lx = lx;
    s->carry = lp_calloc((size_t)l->ncarry, sizeof *s->carry);
    s->params = lp_calloc((size_t)l->nbody_params, sizeof *s->params);
    if (!s->carry || !s->params) { lpi_loop_end(s, NULL); return lpi_nomem(ctx); }
    const int off = l->nbody_params - l->ncarry - l->nfree;
    for (int k = 0; k < l->ncarry; k++) { s->carry[k] = inputs[k]; lp_buffer_retain(inputs[k]); }
    for (int k = 0; k < l->nfree; k++) {
        s->params[off + l->ncarry + k] = inputs[l->ncarry + k];
        lp_buffer_retain(inputs[l->ncarry + k]);
    }
    if (l->kind == LPI_OP_FORI_LOOP && l->upper <= l->lower) s->done = true;
    return LP_OK;
}

lp_status lpi_loop_step(lp_ctx *ctx, lpi_loop_state *s, const lpi_executor *ex) {
    const lpi_loop *l = s->lx->loop;
    if (s->done) return LP_OK;
    if (atomic_load_explicit(&ctx->cancel, memory_order_relaxed))
        return lpi_error(ctx, LP_ERR_CANCELLED, "the run was cancelled");
    const bool fori = l->kind == LPI_OP_FORI_LOOP;
    const int off = fori ? 1 : 0;
    lp_status st;
    for (int k = 0; k < l->ncarry; k++) s->params[off + k] = s->carry[k];
    if (!fori) {
        if (!s->have_go) {
            lp_buffer *c;
            if ((st = lpi_eval_run(ctx, s->lx->cond, ex, s->params, &c))) return in_iteration(ctx, st, l, s->iter);
            s->go = *(const uint8_t *)c->data != 0;
            s->have_go = true;
            lp_buffer_release(c);
        }
        if (!s->go) { s->done = true; return LP_OK; }
        if (s->iter >= l->max_iter) {
            if (l->last_state) { s->done = true; return LP_OK; }
            return lpi_error(ctx, LP_ERR_LIMIT, "while_loop: max_iter (%lld) reached and the condition still holds "
                             "(raise max_iter, or ask for the last state: LP_LOOP_LAST_STATE, last_state=True)",
                             (long long)l->max_iter);
        }
    } else {
        int64_t i = l->lower + s->iter;
        if (!(s->params[0] = lpi_buffer_new(LP_INT64, 0, NULL))) return lpi_nomem(ctx);
        *(int64_t *)s->params[0]->data = i;
    }
    lp_buffer *nstack[17];
    lp_buffer **next = l->ncarry < 17 ? nstack : lp_malloc((size_t)(l->ncarry + 1) * sizeof *next);
    if (!next) st = lpi_nomem(ctx);
    else st = lpi_eval_run(ctx, s->lx->body, ex, s->params, next);
    if (fori) { lp_buffer_release(s->params[0]); s->params[0] = NULL; }
    if (st) {
        if (next != nstack) lp_free(next);
        return next ? in_iteration(ctx, st, l, s->iter) : st;
    }
    for (int k = 0; k < l->ncarry; k++) {
        lp_buffer_release(s->carry[k]);
        s->carry[k] = next[k];
    }
    if (!fori) {
        /* the condition on the new values came with them */
        s->go = *(const uint8_t *)next[l->ncarry]->data != 0;
        lp_buffer_release(next[l->ncarry]);
    }
    if (next != nstack) lp_free(next);
    s->iter++;
    if (fori && l->lower + s->iter >= l->upper) s->done = true;
    return LP_OK;
}

void lpi_loop_end(lpi_loop_state *s, lp_buffer **outs) {
    if (!s->lx) return;
    const lpi_loop *l = s->lx->loop;
    const int off = l->nbody_params - l->ncarry - l->nfree;
    for (int k = 0; s->carry && k < l->ncarry; k++) {
        if (outs) outs[k] = s->carry[k];
        else lp_buffer_release(s->carry[k]);
    }
    for (int k = 0; s->params && k < l->nfree; k++) lp_buffer_release(s->params[off + l->ncarry + k]);
    lp_free(s->carry);
    lp_free(s->params);
    memset(s, 0, sizeof *s);
}

/* ---- lp_run's hook ------------------------------------------------------------------------ */

lp_status lpi_loops_prepare(lp_ctx *ctx, lp_array *const *targets, int n, const lpi_executor *ex) {
    /* loop outputs without a value, reached from the targets without entering data */
    lpi_ptrvec outs = {0}, stack = {0};
    lpi_hmap seen = {0};
    lp_status st = LP_OK;
    if (!lpi_hmap_init(&seen, 64)) return lpi_nomem(ctx);
    for (int t = 0; t < n && !st; t++) {
        if (!lpi_ptrvec_push(&stack, targets[t])) { st = lpi_nomem(ctx); break; }
        while (stack.n && !st) {
            lp_array *a = stack.v[--stack.n];
            int64_t x;
            if (lpi_hmap_get(&seen, key(a), &x)) continue;
            if (!lpi_hmap_put(&seen, key(a), 1)) { st = lpi_nomem(ctx); break; }
            if (is_data(a)) continue;
            if (a->op == LPI_OP_LOOP_OUTPUT) {
                /* the loop's own inputs are the loop stage's business */
                if (!lpi_ptrvec_push(&outs, a)) st = lpi_nomem(ctx);
                continue;
            }
            for (int i = 0; i < a->nin && !st; i++)
                if (!lpi_ptrvec_push(&stack, a->in[i])) st = lpi_nomem(ctx);
        }
    }
    lp_free(stack.v);
    lpi_hmap_free(&seen);
    if (st || !outs.n) { lp_free(outs.v); return st; }
    lpi_eval *ev = NULL;
    lp_buffer **res = lp_calloc((size_t)outs.n, sizeof *res);
    if (!res) st = lpi_nomem(ctx);
    if (!st) st = lpi_eval_compile(ctx, (lp_array *const *)outs.v, outs.n, NULL, 0, &ev);
    if (!st) st = lpi_eval_run(ctx, ev, ex, NULL, res);
    for (int i = 0; !st && i < outs.n; i++) {
        lp_array *a = outs.v[i];
        pthread_mutex_lock(&a->result_lock);
        if (!a->result) { a->result = res[i]; res[i] = NULL; }
        pthread_mutex_unlock(&a->result_lock);
    }
    for (int i = 0; res && i < outs.n; i++) lp_buffer_release(res[i]);
    lp_free(res);
    lpi_eval_destroy(ev);
    lp_free(outs.v);
    return st;
}
