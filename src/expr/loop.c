/* Loop nodes (loop.h): placeholders, the loop descriptor, and the builders of while_loop and
 * fori_loop. Everything a loop needs to run is checked here, when it is built: a loop that
 * builds runs (or fails only for reasons that depend on the data: max_iter, linear algebra). */
#include "expr/loop.h"
#include "core/hmap.h"
#include "core/vec.h"

#include <stdio.h>
#include <string.h>

void lpi_loop_release(lpi_loop *l) {
    if (!l || atomic_fetch_sub_explicit(&l->refcnt, 1, memory_order_acq_rel) != 1) return;
    for (int i = 0; i < l->nbody_params; i++) lp_array_release(l->body_params[i]);
    for (int i = 0; i < l->ncarry; i++) lp_array_release(l->body_out[i]);
    if (l->cond_params)
        for (int i = 0; i < l->ncarry + l->nfree; i++) lp_array_release(l->cond_params[i]);
    lp_array_release(l->cond_out);
    lp_free(l->body_params);
    lp_free(l->body_out);
    lp_free(l->cond_params);
    lp_free(l);
}

lp_status lp_placeholder(lp_ctx *ctx, lp_dtype dt, int ndim, const int64_t *shape, lp_array **out) {
    if (!out) return lpi_error(ctx, LP_ERR_VALUE, "placeholder: NULL output");
    *out = NULL;
    if ((unsigned)dt >= LP_DTYPE_COUNT) return lpi_error(ctx, LP_ERR_TYPE, "placeholder: invalid dtype code %d", (int)dt);
    if (ndim < 0 || ndim > LP_MAX_NDIM || (ndim && !shape))
        return lpi_error(ctx, LP_ERR_VALUE, "placeholder: %d dimensions; 0 to %d are supported", ndim, LP_MAX_NDIM);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0) return lpi_error(ctx, LP_ERR_VALUE, "placeholder: negative dimensions are not allowed");
    return lpi_node_new(ctx, LPI_OP_PLACEHOLDER, dt, ndim, shape, 0, NULL, out);
}

lp_status lp_loop_index(lp_ctx *ctx, lp_array **out) {
    lp_status st = lp_placeholder(ctx, LP_INT64, 0, NULL, out);
    if (!st) (*out)->a.weak = true;
    return st;
}

/* ---- free values: what the body and cond read from outside the loop ---- */

static uint64_t key(const lp_array *a) { return (uint64_t)(uintptr_t)a; }

static bool is_data(const lp_array *a) { return a->op == LPI_OP_WRAP || lp_array_result(a) != NULL; }

/* A value from outside that the loop binds rather than recomputes each iteration: computed
 * expressions and random arrays (computed once before the first iteration) and placeholders
 * of an enclosing loop. Files (streamed again, so out-of-core data stays out of core), cheap
 * generators (constants, ranges: a few operations per element) and data stay in the body. */
static bool binds_outside(const lp_array *a) {
    if (is_data(a)) return false;
    if (a->op == LPI_OP_PLACEHOLDER) return true;
    if (lpi_ops[a->op].kind == LP_OPK_SOURCE) return a->op != LPI_OP_LOAD && lpi_ops[a->op].flops >= 10;
    return true;
}

/* The free values of one subgraph (outputs over params), appended to `free` once each. The
 * walk is iterative: bodies can be long chains. dep maps node -> 1 dependent, 0 not. */
static lp_status find_free(lp_ctx *ctx, int np, lp_array *const *params, int nout, lp_array *const *outs,
                           lpi_ptrvec *free, lpi_hmap *in_free) {
    lpi_hmap dep = {0};
    lpi_ptrvec stack = {0};
    lp_status st = LP_OK;
    if (!lpi_hmap_init(&dep, 64)) return lpi_nomem(ctx);
    for (int i = 0; i < np; i++)
        if (!lpi_hmap_put(&dep, key(params[i]), 1)) { st = lpi_nomem(ctx); goto out; }
    for (int o = 0; o < nout && !st; o++) {
        if (!lpi_ptrvec_push(&stack, outs[o])) { st = lpi_nomem(ctx); break; }
        while (stack.n && !st) {
            uintptr_t top = (uintptr_t)stack.v[stack.n - 1];
            lp_array *a = (lp_array *)(top & ~(uintptr_t)1);
            int64_t d;
            if (lpi_hmap_get(&dep, key(a), &d)) { stack.n--; continue; }
            bool leaf = is_data(a);
            if (!(top & 1) && !leaf) {
                /* first visit: inputs first */
                stack.v[stack.n - 1] = (lp_array *)(top | 1);
                for (int i = a->nin - 1; i >= 0; i--)
                    if (!lpi_hmap_get(&dep, key(a->in[i]), &d) && !lpi_ptrvec_push(&stack, a->in[i])) { st = lpi_nomem(ctx); break; }
                continue;
            }
            stack.n--;
            bool any = false;
            for (int i = 0; !leaf && i < a->nin; i++) {
                lpi_hmap_get(&dep, key(a->in[i]), &d);
                any |= d != 0;
            }
            if (!lpi_hmap_put(&dep, key(a), any)) { st = lpi_nomem(ctx); break; }
        }
    }
    /* the cut: independent values a dependent node (or an output) reads */
    for (int o = 0; o < nout && !st; o++) {
        if (!lpi_ptrvec_push(&stack, outs[o])) { st = lpi_nomem(ctx); break; }
        lpi_hmap seen = {0};
        if (!lpi_hmap_init(&seen, 64)) { st = lpi_nomem(ctx); break; }
        while (stack.n && !st) {
            lp_array *a = (lp_array *)stack.v[--stack.n];
            int64_t d = 0, x;
            if (lpi_hmap_get(&seen, key(a), &x)) continue;
            if (!lpi_hmap_put(&seen, key(a), 1)) { st = lpi_nomem(ctx); break; }
            lpi_hmap_get(&dep, key(a), &d);
            if (!d) {
                if (binds_outside(a) && !lpi_hmap_get(in_free, key(a), &x)) {
                    if (!lpi_hmap_put(in_free, key(a), free->n) || !lpi_ptrvec_push(free, a)) st = lpi_nomem(ctx);
                }
                continue;
            }
            bool param = false;
            for (int i = 0; i < np && !param; i++) param = params[i] == a;
            for (int i = 0; !param && i < a->nin && !st; i++)
                if (!lpi_ptrvec_push(&stack, a->in[i])) st = lpi_nomem(ctx);
        }
        lpi_hmap_free(&seen);
    }
out:
    lp_free(stack.v);
    lpi_hmap_free(&dep);
    return st;
}

/* ---- validation and construction ---- */

static lp_status check_like(lp_ctx *ctx, const char *where, const char *what, int k, const lp_array *a,
                            const lp_array *ref, const char *refname) {
    char b1[96], b2[96];
    if (a->dtype != ref->dtype)
        return lpi_error(ctx, LP_ERR_TYPE, "%s: %s %d has dtype %s, %s is %s", where, what, k, lp_dtype_name(a->dtype),
                         refname, lp_dtype_name(ref->dtype));
    if (a->ndim != ref->ndim || memcmp(a->shape, ref->shape, (size_t)a->ndim * sizeof *a->shape))
        return lpi_error(ctx, LP_ERR_SHAPE, "%s: %s %d has shape %s, %s has shape %s", where, what, k,
                         lpi_shape_str(b1, sizeof b1, a->ndim, a->shape), refname,
                         lpi_shape_str(b2, sizeof b2, ref->ndim, ref->shape));
    return LP_OK;
}

/* Parameters of one subgraph: distinct; the carried and index ones placeholders. */
static lp_status check_params(lp_ctx *ctx, const char *where, const char *sub, int np, lp_array *const *p, int nph) {
    for (int i = 0; i < np; i++) {
        if (!p[i]) return lpi_error(ctx, LP_ERR_VALUE, "%s: %s input %d is NULL", where, sub, i);
        if (i < nph && p[i]->op != LPI_OP_PLACEHOLDER)
            return lpi_error(ctx, LP_ERR_VALUE, "%s: %s input %d must be a placeholder (lp_placeholder), not a '%s' node",
                             where, sub, i, lpi_ops[p[i]->op].name);
        for (int j = 0; j < i; j++)
            if (p[j] == p[i]) return lpi_error(ctx, LP_ERR_VALUE, "%s: %s inputs %d and %d are the same placeholder", where, sub, j, i);
    }
    return LP_OK;
}

lp_status lpi_loop_new(lp_ctx *ctx, const char *where, lpi_op kind, int64_t lower, int64_t upper, int64_t max_iter,
                       bool last_state, int ncarry, lp_array *const *init, int nfree, lp_array *const *free_vals,
                       lp_array *const *body_params, lp_array *const *body_out, lp_array *const *cond_params,
                       lp_array *cond_out, lp_array **outs) {
    const bool fori = kind == LPI_OP_FORI_LOOP;
    lp_status st;
    if (ncarry < 1) return lpi_error(ctx, LP_ERR_VALUE, "%s: needs at least one carried value", where);
    if (ncarry > LPI_LOOP_MAX_CARRY)
        return lpi_error(ctx, LP_ERR_LIMIT, "%s: %d carried values; at most %d are supported", where, ncarry, LPI_LOOP_MAX_CARRY);
    if (nfree < 0 || nfree > LPI_LOOP_MAX_FREE)
        return lpi_error(ctx, LP_ERR_LIMIT, "%s: %d values from outside the loop; at most %d are supported", where, nfree,
                         LPI_LOOP_MAX_FREE);
    if (!fori && max_iter < 0) return lpi_error(ctx, LP_ERR_VALUE, "%s: max_iter must be >= 0 (0: the default %d)", where,
                                                LPI_LOOP_MAX_ITER_DEFAULT);
    for (int k = 0; k < ncarry; k++)
        if (!init[k]) return lpi_error(ctx, LP_ERR_VALUE, "%s: initial value %d is NULL", where, k);
    for (int k = 0; k < nfree; k++)
        if (!free_vals[k]) return lpi_error(ctx, LP_ERR_VALUE, "%s: free value %d is NULL", where, k);
    const int nb = (fori ? 1 : 0) + ncarry + nfree, off = fori ? 1 : 0;
    if ((st = check_params(ctx, where, "body", nb, body_params, off + ncarry))) return st;
    if (fori) {
        const lp_array *ix = body_params[0];
        if (ix->dtype != LP_INT64 || ix->ndim != 0)
            return lpi_error(ctx, LP_ERR_TYPE, "%s: body input 0 is the loop index, a 0-d int64 placeholder "
                             "(lp_loop_index), not %s of %d dimensions", where, lp_dtype_name(ix->dtype), ix->ndim);
    }
    for (int k = 0; k < ncarry; k++)
        if ((st = check_like(ctx, where, "body input", off + k, body_params[off + k], init[k], "the initial value"))) return st;
    for (int k = 0; k < nfree; k++)
        if ((st = check_like(ctx, where, "body input", off + ncarry + k, body_params[off + ncarry + k], free_vals[k],
                             "the value bound to it")))
            return st;
    for (int k = 0; k < ncarry; k++) {
        if (!body_out[k]) return lpi_error(ctx, LP_ERR_VALUE, "%s: body output %d is NULL", where, k);
        if ((st = check_like(ctx, where, "body output", k, body_out[k], init[k], "carried state"))) return st;
    }
    if (!fori) {
        if ((st = check_params(ctx, where, "cond", ncarry + nfree, cond_params, ncarry))) return st;
        for (int k = 0; k < ncarry; k++)
            if ((st = check_like(ctx, where, "cond input", k, cond_params[k], init[k], "the initial value"))) return st;
        for (int k = 0; k < nfree; k++)
            if ((st = check_like(ctx, where, "cond input", ncarry + k, cond_params[ncarry + k], free_vals[k],
                                 "the value bound to it")))
                return st;
        if (!cond_out) return lpi_error(ctx, LP_ERR_VALUE, "%s: cond output is NULL", where);
        if (cond_out->dtype != LP_BOOL || cond_out->ndim != 0) {
            char b[96];
            return lpi_error(ctx, LP_ERR_TYPE, "%s: cond must return a boolean scalar (0-d bool), not %s of shape %s", where,
                             lp_dtype_name(cond_out->dtype), lpi_shape_str(b, sizeof b, cond_out->ndim, cond_out->shape));
        }
    }

    lpi_loop *l = lp_calloc(1, sizeof *l);
    lp_array **in = lp_malloc((size_t)(ncarry + nfree) * sizeof *in);
    if (!l || !in) { lp_free(l); lp_free(in); return lpi_nomem(ctx); }
    atomic_init(&l->refcnt, 1);
    l->kind = kind;
    l->ncarry = ncarry;
    l->nfree = nfree;
    l->lower = lower;
    l->upper = upper;
    l->max_iter = fori ? 0 : (max_iter ? max_iter : LPI_LOOP_MAX_ITER_DEFAULT);
    l->last_state = !fori && last_state;
    l->nbody_params = nb;
    l->body_params = lp_calloc((size_t)nb, sizeof *l->body_params);
    l->body_out = lp_calloc((size_t)ncarry, sizeof *l->body_out);
    if (!fori) l->cond_params = lp_calloc((size_t)(ncarry + nfree), sizeof *l->cond_params);
    if (!l->body_params || !l->body_out || (!fori && !l->cond_params)) {
        lpi_loop_release(l);
        lp_free(in);
        return lpi_nomem(ctx);
    }
    for (int i = 0; i < nb; i++) { l->body_params[i] = body_params[i]; lp_array_retain(body_params[i]); }
    for (int i = 0; i < ncarry; i++) { l->body_out[i] = body_out[i]; lp_array_retain(body_out[i]); }
    if (!fori) {
        for (int i = 0; i < ncarry + nfree; i++) { l->cond_params[i] = cond_params[i]; lp_array_retain(cond_params[i]); }
        l->cond_out = cond_out;
        lp_array_retain(cond_out);
    }
    for (int k = 0; k < ncarry; k++) in[k] = init[k];
    for (int k = 0; k < nfree; k++) in[ncarry + k] = free_vals[k];
    lp_array *node;
    st = lpi_node_new(ctx, kind, LP_BOOL, 0, NULL, ncarry + nfree, in, &node);
    lp_free(in);
    if (st) { lpi_loop_release(l); return st; }
    node->a.loop = l;
    for (int k = 0; k < ncarry; k++) outs[k] = NULL;
    for (int k = 0; k < ncarry && !st; k++) {
        st = lpi_node_new(ctx, LPI_OP_LOOP_OUTPUT, init[k]->dtype, init[k]->ndim, init[k]->shape, 1, &node, &outs[k]);
        if (!st) outs[k]->a.i0 = k;
    }
    lp_array_release(node);
    if (st)
        for (int k = 0; k < ncarry; k++) { lp_array_release(outs[k]); outs[k] = NULL; }
    return st;
}

/* ---- substitution ---- */

/* A copy of node a over other inputs: same op, dtype, shape, attributes and chunk hint. */
static lp_status clone_node(lp_ctx *ctx, const lp_array *a, lp_array *const *in, lp_array **out) {
    lp_status st = lpi_node_new(ctx, a->op, a->dtype, a->ndim, a->shape, a->nin, in, out);
    if (st) return st;
    lp_array *c = *out;
    c->a = a->a;
    c->a.path = NULL;
    if (a->a.path && !(c->a.path = lp_strdup(a->a.path))) { lp_array_release(c); *out = NULL; return lpi_nomem(ctx); }
    lp_buffer_retain(c->a.buf);
    if (c->a.loop) atomic_fetch_add_explicit(&c->a.loop->refcnt, 1, memory_order_relaxed);
    memcpy(c->chunk_hint, a->chunk_hint, sizeof c->chunk_hint);
    c->has_chunk_hint = a->has_chunk_hint;
    return LP_OK;
}

lp_status lpi_loop_subst(lp_ctx *ctx, lp_array *const *outs, int n, lp_array *const *params, lp_array *const *values, int np,
                         lp_array **new_outs) {
    /* memo: node -> its copy (or itself when nothing below it is substituted) */
    lpi_hmap memo = {0};
    lpi_ptrvec stack = {0}, made = {0};
    lp_status st = LP_OK;
    for (int k = 0; k < n; k++) new_outs[k] = NULL;
    if (!lpi_hmap_init(&memo, 64)) return lpi_nomem(ctx);
    for (int i = 0; i < np && !st; i++)
        if (!lpi_hmap_put(&memo, key(params[i]), (int64_t)(uintptr_t)values[i])) st = lpi_nomem(ctx);
    for (int o = 0; o < n && !st; o++) {
        if (!lpi_ptrvec_push(&stack, outs[o])) { st = lpi_nomem(ctx); break; }
        while (stack.n && !st) {
            uintptr_t top = (uintptr_t)stack.v[stack.n - 1];
            lp_array *a = (lp_array *)(top & ~(uintptr_t)1);
            int64_t x;
            if (lpi_hmap_get(&memo, key(a), &x)) { stack.n--; continue; }
            if (!(top & 1) && !is_data(a)) {
                stack.v[stack.n - 1] = (void *)(top | 1);
                for (int i = a->nin - 1; i >= 0 && !st; i--)
                    if (!lpi_hmap_get(&memo, key(a->in[i]), &x) && !lpi_ptrvec_push(&stack, a->in[i])) st = lpi_nomem(ctx);
                continue;
            }
            stack.n--;
            bool changed = false;
            lp_array *instack[8], **in = a->nin <= 8 ? instack : lp_malloc((size_t)a->nin * sizeof *in);
            if (!in) { st = lpi_nomem(ctx); break; }
            for (int i = 0; !is_data(a) && i < a->nin; i++) {
                lpi_hmap_get(&memo, key(a->in[i]), &x);
                in[i] = (lp_array *)(uintptr_t)x;
                changed |= in[i] != a->in[i];
            }
            lp_array *c = a;
            if (changed) {
                if ((st = clone_node(ctx, a, in, &c)) || !lpi_ptrvec_push(&made, c)) {
                    if (!st) { lp_array_release(c); st = lpi_nomem(ctx); }
                }
            }
            if (in != instack) lp_free(in);
            if (!st && !lpi_hmap_put(&memo, key(a), (int64_t)(uintptr_t)c)) st = lpi_nomem(ctx);
        }
    }
    for (int o = 0; o < n && !st; o++) {
        int64_t x;
        lpi_hmap_get(&memo, key(outs[o]), &x);
        new_outs[o] = (lp_array *)(uintptr_t)x;
        lp_array_retain(new_outs[o]);
    }
    /* the copies are held by their users now (and the outputs by the caller) */
    for (int i = 0; i < made.n; i++) lp_array_release((lp_array *)made.v[i]);
    lp_free(stack.v);
    lp_free(made.v);
    lpi_hmap_free(&memo);
    return st;
}

/* ---- the public builders ---- */

static lp_status check_subgraph(lp_ctx *ctx, const char *where, const char *name, const lp_subgraph *s, int nin, int nout) {
    if (!s) return lpi_error(ctx, LP_ERR_VALUE, "%s: %s is NULL", where, name);
    if (s->nin != nin || (nin && !s->in))
        return lpi_error(ctx, LP_ERR_VALUE, "%s: %s takes %d input%s (placeholders), got %d", where, name, nin,
                         nin == 1 ? "" : "s", s->nin);
    if (s->nout != nout || !s->out)
        return lpi_error(ctx, LP_ERR_VALUE, "%s: %s must give %d output%s, got %d", where, name, nout, nout == 1 ? "" : "s",
                         s->nout);
    return LP_OK;
}

/* The loop from subgraphs that read outside values directly: those values become the loop's
 * free values, each bound to itself inside the body and cond. */
static lp_status build_open(lp_ctx *ctx, const char *where, lpi_op kind, int64_t lower, int64_t upper, int64_t max_iter,
                            bool last_state, const lp_subgraph *cond, const lp_subgraph *body, int n,
                            lp_array *const *init, lp_array **outs) {
    const bool fori = kind == LPI_OP_FORI_LOOP;
    lp_status st;
    if (!outs) return lpi_error(ctx, LP_ERR_VALUE, "%s: NULL outputs", where);
    if (n < 1 || !init) return lpi_error(ctx, LP_ERR_VALUE, "%s: needs at least one carried value", where);
    if (n > LPI_LOOP_MAX_CARRY)
        return lpi_error(ctx, LP_ERR_LIMIT, "%s: %d carried values; at most %d are supported", where, n, LPI_LOOP_MAX_CARRY);
    for (int k = 0; k < n; k++) outs[k] = NULL;
    if ((st = check_subgraph(ctx, where, "body", body, n + (fori ? 1 : 0), n))) return st;
    if (!fori && (st = check_subgraph(ctx, where, "cond", cond, n, 1))) return st;
    for (int k = 0; k < body->nout; k++)
        if (!body->out[k]) return lpi_error(ctx, LP_ERR_VALUE, "%s: body output %d is NULL", where, k);
    for (int k = 0; k < body->nin; k++)
        if (!body->in[k]) return lpi_error(ctx, LP_ERR_VALUE, "%s: body input %d is NULL", where, k);
    if (!fori) {
        if (!cond->out[0]) return lpi_error(ctx, LP_ERR_VALUE, "%s: cond output is NULL", where);
        for (int k = 0; k < n; k++)
            if (!cond->in[k]) return lpi_error(ctx, LP_ERR_VALUE, "%s: cond input %d is NULL", where, k);
    }
    lpi_ptrvec fv = {0};
    lpi_hmap seen = {0};
    lp_array **bp = NULL, **cp = NULL;
    if (!lpi_hmap_init(&seen, 16)) return lpi_nomem(ctx);
    st = find_free(ctx, body->nin, body->in, body->nout, body->out, &fv, &seen);
    if (!st && !fori) st = find_free(ctx, cond->nin, cond->in, 1, cond->out, &fv, &seen);
    if (!st) {
        bp = lp_malloc((size_t)(body->nin + fv.n) * sizeof *bp);
        cp = lp_malloc((size_t)(n + fv.n) * sizeof *cp);
        if (!bp || !cp) st = lpi_nomem(ctx);
    }
    if (!st) {
        memcpy(bp, body->in, (size_t)body->nin * sizeof *bp);
        if (fv.n) memcpy(bp + body->nin, fv.v, (size_t)fv.n * sizeof *bp);
        if (!fori) {
            memcpy(cp, cond->in, (size_t)n * sizeof *cp);
            if (fv.n) memcpy(cp + n, fv.v, (size_t)fv.n * sizeof *cp);
        }
        st = lpi_loop_new(ctx, where, kind, lower, upper, max_iter, last_state, n, init, fv.n, (lp_array *const *)fv.v, bp, body->out,
                          fori ? NULL : cp, fori ? NULL : cond->out[0], outs);
    }
    lp_free(bp);
    lp_free(cp);
    lp_free(fv.v);
    lpi_hmap_free(&seen);
    return st;
}

lp_status lp_while_loop(lp_ctx *ctx, const lp_subgraph *cond, const lp_subgraph *body, int n, lp_array *const *init,
                        int64_t max_iter, int flags, lp_array **outs) {
    if (flags & ~LP_LOOP_LAST_STATE) return lpi_error(ctx, LP_ERR_VALUE, "while_loop: unknown flags 0x%x", (unsigned)flags);
    return build_open(ctx, "while_loop", LPI_OP_WHILE_LOOP, 0, 0, max_iter, (flags & LP_LOOP_LAST_STATE) != 0, cond, body,
                      n, init, outs);
}

lp_status lp_fori_loop(lp_ctx *ctx, int64_t lower, int64_t upper, const lp_subgraph *body, int n, lp_array *const *init,
                       lp_array **outs) {
    return build_open(ctx, "fori_loop", LPI_OP_FORI_LOOP, lower, upper, 0, false, NULL, body, n, init, outs);
}
