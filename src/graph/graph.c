/* Graph collection (iterative DFS, so deep chains cannot overflow the stack), common
 * subexpression elimination by structural hashing, and the fusion decision. */
#include "graph/graph.h"
#include "core/hmap.h"

#include <string.h>

typedef struct vec {
    lp_array **v;
    size_t n, cap;
} vec;

static bool vec_push(vec *s, lp_array *a) {
    if (s->n == s->cap) {
        size_t c = s->cap ? s->cap * 2 : 64;
        lp_array **nv = lp_realloc(s->v, c * sizeof *nv);
        if (!nv) return false;
        s->v = nv;
        s->cap = c;
    }
    s->v[s->n++] = a;
    return true;
}

static bool is_data(const lp_array *a) { return a->op == LPI_OP_WRAP || lp_array_result(a) != NULL; }

/* Bound nodes (a loop's parameters: exec/loop.c binds them to a buffer before each run) are
 * leaves too, identified by their address. */
static bool is_bound(const lpi_hmap *bound, const lp_array *a) {
    int64_t x;
    return bound && lpi_hmap_get(bound, (uint64_t)(uintptr_t)a, &x);
}

static bool is_leaf(const lpi_hmap *bound, const lp_array *a) { return is_bound(bound, a) || is_data(a); }

/* Postorder of all nodes reachable from the targets (a data leaf's inputs are not visited). */
static lp_status collect(lp_ctx *ctx, const lpi_hmap *bound, lp_array *const *targets, int nt, vec *order, lpi_hmap *seen) {
    vec stack = {0};
    lp_status st = LP_OK;
    /* stack entries: node pointer with the low bit set once its inputs were pushed */
    for (int t = 0; t < nt && !st; t++) {
        if (!vec_push(&stack, targets[t])) { st = lpi_nomem(ctx); break; }
        while (stack.n && !st) {
            uintptr_t top = (uintptr_t)stack.v[stack.n - 1];
            lp_array *a = (lp_array *)(top & ~(uintptr_t)1);
            int64_t dummy;
            if (top & 1) {
                stack.n--;
                if (lpi_hmap_get(seen, (uint64_t)(uintptr_t)a, &dummy)) continue;
                if (!lpi_hmap_put(seen, (uint64_t)(uintptr_t)a, (int64_t)order->n) || !vec_push(order, a))
                    st = lpi_nomem(ctx);
                continue;
            }
            if (lpi_hmap_get(seen, (uint64_t)(uintptr_t)a, &dummy)) { stack.n--; continue; }
            stack.v[stack.n - 1] = (lp_array *)(top | 1);
            if (!is_leaf(bound, a))
                for (int i = a->nin - 1; i >= 0 && !st; i--)
                    if (!lpi_hmap_get(seen, (uint64_t)(uintptr_t)a->in[i], &dummy) && !vec_push(&stack, a->in[i]))
                        st = lpi_nomem(ctx);
        }
    }
    lp_free(stack.v);
    return st;
}

/* Structural identity of a node given its canonical inputs. */
static uint64_t node_hash(const lpi_hmap *bound, const lp_array *a, const int *in) {
    uint64_t h = lpi_mix64((uint64_t)a->op * 31 + (uint64_t)a->dtype * 7 + (uint64_t)a->ndim);
    for (int i = 0; i < a->ndim; i++) h = lpi_mix64(h ^ (uint64_t)a->shape[i]);
    if (is_bound(bound, a)) return lpi_mix64(h ^ (uint64_t)(uintptr_t)a);
    if (is_data(a)) {
        lp_buffer *r = lp_array_result(a);
        return lpi_mix64(h ^ (uint64_t)(uintptr_t)(r ? r->data : a->a.buf->data) ^ (uint64_t)a->a.offset);
    }
    for (int i = 0; i < a->nin; i++) h = lpi_mix64(h ^ (uint64_t)in[i] * 0x9E3779B97F4A7C15ULL);
    h = lpi_mix64(h ^ (uint64_t)a->a.axes ^ ((uint64_t)a->a.seed << 1) ^ (uint64_t)a->a.axis);
    if (a->a.path) for (const char *p = a->a.path; *p; p++) h = h * 131 + (uint8_t)*p;
    return lpi_mix64(h);
}

static bool attrs_equal(const lp_array *x, const lp_array *y) {
    lpi_attrs a = x->a, b = y->a;
    if ((a.path == NULL) != (b.path == NULL)) return false;
    if (a.path && strcmp(a.path, b.path) != 0) return false;
    a.path = b.path = NULL;
    a.buf = b.buf = NULL;
    if (memcmp(&a, &b, sizeof a) != 0) return false;
    if (x->has_chunk_hint != y->has_chunk_hint) return false;
    if (x->has_chunk_hint && memcmp(x->chunk_hint, y->chunk_hint, sizeof x->chunk_hint)) return false;
    return true;
}

static bool node_equal(const lpi_hmap *bound, const lp_array *x, const int *xin, const lp_array *y, const int *yin) {
    if (x->op != y->op || x->dtype != y->dtype || x->ndim != y->ndim || x->nin != y->nin) return false;
    if (memcmp(x->shape, y->shape, (size_t)x->ndim * sizeof(int64_t))) return false;
    if (is_bound(bound, x) || is_bound(bound, y)) return x == y;
    bool lx = is_data(x), ly = is_data(y);
    if (lx || ly) {
        if (lx != ly) return false;
        lp_buffer *rx = lp_array_result(x), *ry = lp_array_result(y);
        if (rx || ry) return rx && ry && rx->data == ry->data;
        return x->a.buf->data == y->a.buf->data && x->a.offset == y->a.offset &&
               !memcmp(x->a.strides, y->a.strides, sizeof x->a.strides);
    }
    for (int i = 0; i < x->nin; i++)
        if (xin[i] != yin[i]) return false;
    return attrs_equal(x, y);
}

static lp_status decide_fusion(lpi_graph *g, bool fusion) {
    for (int v = g->n - 1; v >= 0; v--) {
        lp_array *a = g->node[v];
        lpi_opkind k = lpi_ops[a->op].kind;
        g->role[v] = LPI_ROLE_MAT;
        g->region[v] = v;
        if (g->leaf[v]) continue;
        bool all_elem = g->nusers[v] > 0 && !g->target[v];
        for (int u = 0; u < g->nusers[v]; u++)
            all_elem &= lpi_ops[g->node[g->users[v][u]]->op].kind == LP_OPK_ELEMWISE;
        if (a->op == LPI_OP_SCALAR || (fusion && a->op == LPI_OP_FULL)) {
            /* constants are free inside programs; materialize only for other consumers */
            if (all_elem) g->role[v] = LPI_ROLE_CONST;
            continue;
        }
        if (k != LP_OPK_ELEMWISE || !fusion || g->target[v] || g->nusers[v] == 0) continue;
        int r = -1;
        bool ok = true;
        for (int u = 0; u < g->nusers[v] && ok; u++) {
            int w = g->users[v][u];
            lpi_opkind uk = lpi_ops[g->node[w]->op].kind;
            int ru;
            if (uk == LP_OPK_ELEMWISE) ru = g->region[w];
            else if (uk == LP_OPK_REDUCE) ru = w;
            else { ok = false; break; }
            if (r < 0) r = ru;
            else if (r != ru) ok = false;
        }
        if (ok && r >= 0) {
            g->role[v] = LPI_ROLE_INLINE;
            g->region[v] = r;
        }
    }
    return LP_OK;
}

/* Slice push-down: basic indexing, transposes and unit-axis reshapes of a load (affine maps),
 * and reshapes of whole rows of a C-order .npy file before any such map, are read by load
 * tasks that fetch only the bytes their output needs. A chain node that only feeds further
 * chain nodes is not planned at all (VIEW); the others become loads through the composed map. */
static void push_loads(lpi_graph *g) {
    bool *mapped = lp_calloc((size_t)(g->n ? g->n : 1), sizeof *mapped); /* the chain has an affine map */
    for (int v = 0; v < g->n; v++) {
        lp_array *a = g->node[v];
        g->vroot[v] = -1;
        if (g->leaf[v]) continue;
        if (a->op == LPI_OP_LOAD) { g->vroot[v] = v; continue; }
        /* broadcasting repeats elements (step 0): the load reads its input once and the copy
         * repeats them, rather than the reader fetching the same bytes again */
        if (lpi_ops[a->op].kind != LP_OPK_MOVE || a->op == LPI_OP_CONCATENATE || a->op == LPI_OP_BROADCAST_TO || !g->in[v])
            continue;
        int w = g->in[v][0];
        if (g->vroot[w] < 0) continue;
        bool affine = a->op != LPI_OP_RESHAPE || a->a.affine;
        if (!affine && (!mapped || mapped[w] || !lpi_dataset_flat(g->node[g->vroot[w]]->a.ds))) continue;
        g->vroot[v] = g->vroot[w];
        if (mapped) mapped[v] = affine || mapped[w];
    }
    for (int v = 0; v < g->n; v++) {
        if (g->vroot[v] < 0 || g->target[v] || g->nusers[v] == 0) continue;
        bool all = true;
        for (int u = 0; u < g->nusers[v] && all; u++) all = g->vroot[g->users[v][u]] >= 0;
        if (all) g->role[v] = LPI_ROLE_VIEW;
    }
    lp_free(mapped);
}

lp_status lpi_graph_build(lp_ctx *ctx, lpi_arena *ar, lp_array *const *targets, int nt, bool fusion,
                          lpi_graph *g) {
    return lpi_graph_build_bound(ctx, ar, targets, nt, fusion, 0, NULL, g);
}

lp_status lpi_graph_build_bound(lp_ctx *ctx, lpi_arena *ar, lp_array *const *targets, int nt, bool fusion,
                                int nbound, lp_array *const *boundv, lpi_graph *g) {
    memset(g, 0, sizeof *g);
    vec order = {0};
    lpi_hmap seen = {0}, canon = {0}, bset = {0}, *bound = nbound ? &bset : NULL;
    lp_status st = LP_OK;
    if (!lpi_hmap_init(&seen, 64) || !lpi_hmap_init(&canon, 64) || !lpi_hmap_init(&bset, nbound ? (size_t)nbound : 1)) {
        st = lpi_nomem(ctx);
        goto out;
    }
    for (int i = 0; i < nbound; i++)
        if (!lpi_hmap_put(&bset, (uint64_t)(uintptr_t)boundv[i], i)) { st = lpi_nomem(ctx); goto out; }
    if ((st = collect(ctx, bound, targets, nt, &order, &seen))) goto out;

    size_t n = order.n;
    int *canon_of = lpi_arena_alloc(ar, n * sizeof *canon_of);   /* order index -> canonical index */
    g->node = lpi_arena_alloc(ar, n * sizeof *g->node);
    g->in = lpi_arena_alloc(ar, n * sizeof *g->in);
    g->leaf = lpi_arena_alloc(ar, n * sizeof *g->leaf);
    g->nusers = lpi_arena_alloc(ar, n * sizeof *g->nusers);
    g->users = lpi_arena_alloc(ar, n * sizeof *g->users);
    g->target = lpi_arena_alloc(ar, n * sizeof *g->target);
    g->role = lpi_arena_alloc(ar, n * sizeof *g->role);
    g->region = lpi_arena_alloc(ar, n * sizeof *g->region);
    g->vroot = lpi_arena_alloc(ar, n * sizeof *g->vroot);
    g->bound = lpi_arena_alloc(ar, n * sizeof *g->bound);
    g->target_of = lpi_arena_alloc(ar, (size_t)nt * sizeof *g->target_of);
    if (!canon_of || !g->node || !g->in || !g->leaf || !g->nusers || !g->users || !g->target || !g->role ||
        !g->region || !g->vroot || !g->bound || !g->target_of) { st = lpi_nomem(ctx); goto out; }

    /* CSE: postorder guarantees inputs are canonicalized before their consumers */
    for (size_t i = 0; i < n && !st; i++) {
        lp_array *a = order.v[i];
        bool leaf = is_leaf(bound, a);
        int *in = NULL;
        if (!leaf && a->nin) {
            if (!(in = lpi_arena_alloc(ar, (size_t)a->nin * sizeof *in))) { st = lpi_nomem(ctx); break; }
            for (int k = 0; k < a->nin; k++) {
                int64_t oi;
                lpi_hmap_get(&seen, (uint64_t)(uintptr_t)a->in[k], &oi);
                in[k] = canon_of[oi];
            }
        }
        uint64_t h = node_hash(bound, a, in);
        int found = -1;
        for (uint64_t probe = h;; probe = lpi_mix64(probe + 1)) {
            int64_t c;
            if (!lpi_hmap_get(&canon, probe, &c)) {
                if (!lpi_hmap_put(&canon, probe, g->n)) st = lpi_nomem(ctx);
                break;
            }
            if (node_equal(bound, a, in, g->node[c], g->in[c])) { found = (int)c; break; }
        }
        if (st) break;
        if (found >= 0) { canon_of[i] = found; continue; }
        canon_of[i] = g->n;
        g->node[g->n] = a;
        g->in[g->n] = in;
        g->leaf[g->n] = leaf;
        int64_t bi;
        g->bound[g->n] = bound && lpi_hmap_get(bound, (uint64_t)(uintptr_t)a, &bi) ? (int)bi : -1;
        g->n++;
    }
    if (st) goto out;
    for (int t = 0; t < nt; t++) {
        int64_t oi;
        lpi_hmap_get(&seen, (uint64_t)(uintptr_t)targets[t], &oi);
        g->target_of[t] = canon_of[oi];
        g->target[canon_of[oi]] = true;
    }
    g->ntargets = nt;
    /* distinct users */
    for (int v = 0; v < g->n; v++)
        for (int k = 0; g->in[v] && k < g->node[v]->nin; k++) {
            int w = g->in[v][k];
            bool dup = false;
            for (int j = 0; j < k; j++) dup |= g->in[v][j] == w;
            if (!dup) g->nusers[w]++;
        }
    for (int v = 0; v < g->n; v++) {
        if (g->nusers[v] && !(g->users[v] = lpi_arena_alloc(ar, (size_t)g->nusers[v] * sizeof(int)))) {
            st = lpi_nomem(ctx);
            goto out;
        }
        g->nusers[v] = 0;
    }
    for (int v = 0; v < g->n; v++)
        for (int k = 0; g->in[v] && k < g->node[v]->nin; k++) {
            int w = g->in[v][k];
            bool dup = false;
            for (int j = 0; j < k; j++) dup |= g->in[v][j] == w;
            if (!dup) g->users[w][g->nusers[w]++] = v;
        }
    st = decide_fusion(g, fusion);
    if (!st) push_loads(g);
out:
    lp_free(order.v);
    lpi_hmap_free(&seen);
    lpi_hmap_free(&canon);
    lpi_hmap_free(&bset);
    return st;
}
