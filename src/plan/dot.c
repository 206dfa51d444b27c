/* Graphviz DOT for the expression graph (fused regions as clusters) and for the plan (planned
 * nodes with their grids, reduction levels grouped). Labels: op, shape, dtype, estimated time
 * from the cost model; fill colours by op kind; targets drawn with a double border, the
 * critical path with a red one. */
#include "graph/graph.h"
#include "core/hmap.h"
#include "expr/loop.h"
#include "plan/cost.h"
#include "plan/serialize.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sb {
    char *s;
    size_t n, cap;
    bool oom;
} sb;

static void sb_printf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (n < 0) { b->oom = true; return; }
        if (b->s && b->n + (size_t)n < b->cap) { b->n += (size_t)n; return; }
        size_t c = b->cap ? b->cap * 2 : 8192;
        while (c < b->n + (size_t)n + 1) c *= 2;
        char *ns = realloc(b->s, c);
        if (!ns) { b->oom = true; return; }
        b->s = ns;
        b->cap = c;
    }
}

/* A DOT string body: quotes and backslashes escaped, newlines as \n. */
static void esc(char *out, size_t cap, const char *s) {
    size_t k = 0;
    for (; *s && k + 3 < cap; s++) {
        if (*s == '"' || *s == '\\') out[k++] = '\\';
        if (*s == '\n') { out[k++] = '\\'; out[k++] = 'n'; continue; }
        out[k++] = (unsigned char)*s < 32 ? '?' : *s;
    }
    out[k] = 0;
}

static const char *fmt_time(char *b, size_t n, double s) {
    if (s >= 1) snprintf(b, n, "%.3g s", s);
    else if (s >= 1e-3) snprintf(b, n, "%.3g ms", s * 1e3);
    else snprintf(b, n, "%.3g us", s * 1e6);
    return b;
}

static const char *kind_color(lpi_opkind k) {
    switch (k) {
    case LP_OPK_SOURCE: return "#cfe2f3";
    case LP_OPK_ELEMWISE: return "#fff2cc";
    case LP_OPK_REDUCE: return "#f4cccc";
    case LP_OPK_MOVE: return "#d9ead3";
    case LP_OPK_LINALG: return "#d9d2e9";
    case LP_OPK_LOOP: return "#d9f2d0";
    default: return "#ffffff";
    }
}

static void legend(sb *b) {
    sb_printf(b, "  subgraph cluster_legend {\n    label=\"op kinds\"; fontsize=10; style=dashed; color=\"#999999\";\n"
                 "    node [shape=box, style=\"rounded,filled\", fontsize=9, width=0, height=0];\n");
    static const char *const names[] = {"source", "elementwise", "reduction", "data movement", "linear algebra"};
    for (int k = 0; k < 5; k++)
        sb_printf(b, "    legend%d [label=\"%s\", fillcolor=\"%s\"];\n", k, names[k], kind_color((lpi_opkind)k));
    sb_printf(b, "    legend0 -> legend1 -> legend2 -> legend3 -> legend4 [style=invis];\n  }\n");
}

static void shape_dtype(char *out, size_t cap, int ndim, const int64_t *shape, lp_dtype dt) {
    char s[160];
    snprintf(out, cap, "%s %s", lpi_shape_str(s, sizeof s, ndim, shape), lp_dtype_name(dt));
}

static void plan_dot(sb *b, const lpi_plan *pl, const lpi_cost_summary *cs, lp_ctx *ctx) {
    char t[32], sd[200], lab[400];
    sb_printf(b, "digraph lampy_plan {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n"
                 "  edge [color=\"#555555\"];\n  labelloc=t;\n  label=\"plan: %d nodes, %lld tasks, predicted %s with %d workers\";\n",
              pl->npnodes, (long long)pl->ntasks, fmt_time(t, sizeof t, cs->total), cs->workers);
    /* reduction levels (expr NULL) belong to the closest earlier pnode with a node */
    int owner = -1, open_cluster = -1;
    for (int p = 0; p < pl->npnodes; p++) {
        const lpi_pnode *pn = &pl->pnodes[p];
        bool level = !pn->expr && (pn->kernel == LPI_K_PARTIAL || pn->kernel == LPI_K_COMBINE) && owner >= 0;
        if (!level) {
            if (open_cluster >= 0) { sb_printf(b, "  }\n"); open_cluster = -1; }
            owner = pn->expr ? p : -1;
            /* open a cluster when levels follow */
            if (owner >= 0 && p + 1 < pl->npnodes && !pl->pnodes[p + 1].expr &&
                (pl->pnodes[p + 1].kernel == LPI_K_PARTIAL || pl->pnodes[p + 1].kernel == LPI_K_COMBINE)) {
                sb_printf(b, "  subgraph cluster_r%d {\n    label=\"%s: partial states and combine tree\"; fontsize=10; style=dashed;\n",
                          p, lpi_ops[pn->op].name);
                open_cluster = p;
            }
        }
        char grid[64] = "";
        size_t gl = 0;
        for (int i = 0; i < pn->grid.ndim && gl + 24 < sizeof grid; i++)
            gl += (size_t)snprintf(grid + gl, sizeof grid - gl, "%s%lld", i ? "x" : "", (long long)pn->grid.nchunks[i]);
        shape_dtype(sd, sizeof sd, pn->ndim, pn->shape, pn->dtype);
        int extra = 0;
        if (pn->prog)
            for (int i = 0; i < pn->prog->ninstr; i++) extra += pn->prog->ins[i].op != LPI_OP_ASTYPE;
        if (pn->kernel == LPI_K_MAP) extra--;
        char opn[64];
        if (extra > 0) snprintf(opn, sizeof opn, "%s+%d", lpi_ops[pn->op].name, extra);
        else snprintf(opn, sizeof opn, "%s", lpi_ops[pn->op].name);
        snprintf(lab, sizeof lab, "%s [%s]\n%s\ngrid %s, %lld task%s\n~%s", opn, lpi_kernel_name(pn->kernel), sd,
                 grid[0] ? grid : "1", (long long)pn->ntasks, pn->ntasks == 1 ? "" : "s", fmt_time(t, sizeof t, pn->est_seconds));
        char e[800];
        esc(e, sizeof e, lab);
        bool crit = cs->critical_pnode && cs->critical_pnode[p];
        sb_printf(b, "%s  p%d [label=\"%s\", fillcolor=\"%s\"%s%s];\n", open_cluster >= 0 ? "  " : "", p, e,
                  pn->kernel == LPI_K_NONE ? "#eeeeee" : kind_color(lpi_ops[pn->op].kind), pn->target >= 0 ? ", peripheries=2" : "",
                  crit ? ", color=\"#cc0000\", penwidth=2" : "");
    }
    if (open_cluster >= 0) sb_printf(b, "  }\n");
    /* edges: producer pnode -> consumer pnode, from the tasks' operands */
    lpi_hmap seen = {0};
    if (!lpi_hmap_init(&seen, 64)) { b->oom = true; return; }
    for (int64_t ti = 0; ti < pl->ntasks; ti++) {
        const lpi_task *tk = &pl->tasks[ti];
        for (int k = 0; k < tk->nops; k++) {
            uint64_t key = ((uint64_t)(uint32_t)tk->ops[k].pnode << 32) | (uint32_t)tk->pnode;
            int64_t v;
            if (lpi_hmap_get(&seen, key, &v)) continue;
            if (!lpi_hmap_put(&seen, key, 1)) { b->oom = true; break; }
            sb_printf(b, "  p%d -> p%d;\n", tk->ops[k].pnode, tk->pnode);
        }
    }
    lpi_hmap_free(&seen);
    legend(b);
    sb_printf(b, "}\n");
    (void)ctx;
}

static void graph_dot(sb *b, const lpi_graph *g, const lpi_plan *pl, const lpi_cost_summary *cs) {
    char t[32], sd[200], lab[600], e[1300];
    /* expression node -> seconds of the pnodes computing it (reduction levels included) */
    lpi_hmap pn_of = {0};
    if (!lpi_hmap_init(&pn_of, (size_t)pl->npnodes + 1)) { b->oom = true; return; }
    double *secs = calloc((size_t)pl->npnodes + 1, sizeof *secs);
    bool *crit = calloc((size_t)pl->npnodes + 1, sizeof *crit);
    if (!secs || !crit) { b->oom = true; goto out; }
    {
        int owner = -1;
        for (int p = 0; p < pl->npnodes; p++) {
            const lpi_pnode *pn = &pl->pnodes[p];
            if (pn->expr) { owner = p; lpi_hmap_put(&pn_of, (uint64_t)(uintptr_t)pn->expr, p); }
            else if (!(pn->kernel == LPI_K_PARTIAL || pn->kernel == LPI_K_COMBINE)) owner = -1;
            int at = pn->expr ? p : owner;
            if (at >= 0) {
                secs[at] += pn->est_seconds;
                crit[at] |= cs->critical_pnode && cs->critical_pnode[p];
            }
        }
    }
    sb_printf(b, "digraph lampy_graph {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n"
                 "  edge [color=\"#555555\", fontsize=8];\n  labelloc=t;\n  label=\"%d nodes; predicted %s with %d workers (%lld tasks)\";\n",
              g->n, fmt_time(t, sizeof t, cs->total), cs->workers, (long long)pl->ntasks);
    /* regions with inlined members become clusters */
    int *members = calloc((size_t)g->n + 1, sizeof *members);
    if (!members) { b->oom = true; goto out; }
    for (int v = 0; v < g->n; v++)
        if (g->role[v] == LPI_ROLE_INLINE) members[g->region[v]]++;
    for (int pass = 0; pass < 2; pass++) {
        for (int r = 0; r < g->n; r++) {
            bool cluster = members[r] > 0;
            if ((pass == 0) != cluster) continue;
            if (cluster) {
                int64_t pv;
                double s = lpi_hmap_get(&pn_of, (uint64_t)(uintptr_t)g->node[r], &pv) ? secs[pv] : 0;
                sb_printf(b, "  subgraph cluster_%d {\n    label=\"fused kernel: %d ops, ~%s\"; fontsize=10; style=\"rounded,dashed\"; color=\"#3d85c6\";\n",
                          r, members[r] + 1, fmt_time(t, sizeof t, s));
            }
            for (int v = 0; v < g->n; v++) {
                bool in_this = cluster ? (v == r || (g->role[v] == LPI_ROLE_INLINE && g->region[v] == r))
                                       : (v == r && g->role[v] != LPI_ROLE_INLINE);
                if (!in_this) continue;
                const lp_array *a = g->node[v];
                shape_dtype(sd, sizeof sd, a->ndim, a->shape, a->dtype);
                const char *name = lpi_ops[a->op].name;
                char extra[300] = "";
                int64_t pv;
                if (g->leaf[v]) {
                    name = lp_array_result(a) ? "computed" : "wrap";
                    snprintf(extra, sizeof extra, "\nin memory");
                } else if (a->op == LPI_OP_LOAD) {
                    const char *base = strrchr(a->a.path, '/');
                    snprintf(extra, sizeof extra, "\n%s", base ? base + 1 : a->a.path);
                } else if (a->op == LPI_OP_SCALAR || (a->op == LPI_OP_FULL && a->size == 1)) {
                    lp_scalar s = a->a.value;
                    if (a->dtype == LP_BOOL) snprintf(extra, sizeof extra, "\n%s", s.v.b ? "True" : "False");
                    else if (lpi_dtype_kind(a->dtype) == LPI_KIND_INT) snprintf(extra, sizeof extra, "\n%lld", (long long)s.v.i);
                    else snprintf(extra, sizeof extra, "\n%.6g", s.v.f);
                }
                if (g->role[v] == LPI_ROLE_MAT && lpi_hmap_get(&pn_of, (uint64_t)(uintptr_t)a, &pv) && !g->leaf[v]) {
                    size_t l = strlen(extra);
                    snprintf(extra + l, sizeof extra - l, "\n~%s", fmt_time(t, sizeof t, secs[pv]));
                }
                snprintf(lab, sizeof lab, "%s\n%s%s", name, sd, extra);
                esc(e, sizeof e, lab);
                bool critical = g->role[v] == LPI_ROLE_MAT && lpi_hmap_get(&pn_of, (uint64_t)(uintptr_t)a, &pv) && crit[pv];
                const char *fill = g->leaf[v] ? "#eeeeee" : kind_color(lpi_ops[a->op].kind);
                if (g->role[v] == LPI_ROLE_CONST)
                    sb_printf(b, "%s  n%d [label=\"%s\", shape=plaintext, style=\"\", fontsize=9];\n", cluster ? "  " : "", v, e);
                else
                    sb_printf(b, "%s  n%d [label=\"%s\", fillcolor=\"%s\"%s%s%s];\n", cluster ? "  " : "", v, e, fill,
                              g->target[v] ? ", peripheries=2" : "", critical ? ", color=\"#cc0000\", penwidth=2" : "",
                              g->leaf[v] ? ", shape=box3d, style=filled" : "");
            }
            if (cluster) sb_printf(b, "  }\n");
        }
    }
    for (int v = 0; v < g->n; v++) {
        const lp_array *a = g->node[v];
        for (int k = 0; g->in[v] && k < a->nin; k++) {
            if (a->nin > 1) sb_printf(b, "  n%d -> n%d [label=\"%d\"];\n", g->in[v][k], v, k);
            else sb_printf(b, "  n%d -> n%d;\n", g->in[v][k], v);
        }
    }
    legend(b);
    sb_printf(b, "}\n");
    free(members);
out:
    free(secs);
    free(crit);
    lpi_hmap_free(&pn_of);
}

/* ---- graphs with loops: the structure, each loop a cluster with its body and cond ---- */

static bool pending_loop(lp_array *const *targets, int n) {
    /* a loop output not computed yet, reached without entering data */
    lpi_hmap seen = {0};
    lp_array **stack = NULL;
    size_t sp = 0, cap = 0;
    bool found = false, oom = !lpi_hmap_init(&seen, 64);
    for (int t = 0; t < n && !found && !oom; t++) {
        lp_array *a = targets[t];
        for (;;) {
            int64_t x;
            if (!lpi_hmap_get(&seen, (uint64_t)(uintptr_t)a, &x) && a->op != LPI_OP_WRAP && !lp_array_result(a)) {
                if (!lpi_hmap_put(&seen, (uint64_t)(uintptr_t)a, 1)) { oom = true; break; }
                if (a->op == LPI_OP_LOOP_OUTPUT) { found = true; break; }
                for (int i = 0; i < a->nin; i++) {
                    if (sp == cap) {
                        size_t c = cap ? 2 * cap : 64;
                        lp_array **ns = realloc(stack, c * sizeof *ns);
                        if (!ns) { oom = true; break; }
                        stack = ns;
                        cap = c;
                    }
                    stack[sp++] = a->in[i];
                }
            }
            if (oom || !sp) break;
            a = stack[--sp];
        }
        sp = 0;
    }
    free(stack);
    lpi_hmap_free(&seen);
    return found || oom;
}

/* Draw targets over bound params with node names "<prefix>n<id>"; out_names / param_names
 * receive the names of the subgraph's outputs and params (the caller draws edges to them). */
static lp_status loop_graph_dot(lp_ctx *ctx, sb *b, const char *prefix, int depth, lp_array *const *targets, int n, int np,
                                lp_array *const *params, char (*out_names)[48], char (*param_names)[48]) {
    lpi_arena *ar = lpi_arena_create();
    if (!ar) return lpi_nomem(ctx);
    lpi_graph g;
    lp_status st = lpi_graph_build_bound(ctx, ar, targets, n, false, np, params, &g);
    char sd[200], lab[600], e[1300], ind[40];
    snprintf(ind, sizeof ind, "%*s", 2 + 2 * depth, "");
    /* per node: the name its users draw edges from (a loop output: the body output's node) */
    char (*name)[48] = st ? NULL : calloc((size_t)g.n + 1, sizeof *name);
    if (!st && !name) st = lpi_nomem(ctx);
    for (int k = 0; !st && k < np; k++) snprintf(param_names[k], 48, "%su%d", prefix, k);
    for (int v = 0; v < g.n && !st; v++) {
        const lp_array *a = g.node[v];
        snprintf(name[v], 48, "%sn%d", prefix, v);
        shape_dtype(sd, sizeof sd, a->ndim, a->shape, a->dtype);
        if (g.bound[v] >= 0) {
            snprintf(param_names[g.bound[v]], 48, "%s", name[v]);
            snprintf(lab, sizeof lab, "%s\n%s", a->op == LPI_OP_PLACEHOLDER && a->a.weak ? "index" : "param", sd);
            esc(e, sizeof e, lab);
            sb_printf(b, "%s%s [label=\"%s\", shape=ellipse, style=dashed];\n", ind, name[v], e);
            continue;
        }
        if (lpi_is_loop(a) && !g.leaf[v]) {
            const lpi_loop *l = a->a.loop;
            const bool fori = l->kind == LPI_OP_FORI_LOOP;
            if (fori) snprintf(lab, sizeof lab, "fori_loop: i in [%lld, %lld)", (long long)l->lower, (long long)l->upper);
            else snprintf(lab, sizeof lab, "while_loop: at most %lld iterations%s", (long long)l->max_iter,
                          l->last_state ? " (then the last state)" : "");
            sb_printf(b, "%ssubgraph cluster_%sL%d {\n%s  label=\"%s\"; fontsize=10; style=rounded; color=\"#6aa84f\"; penwidth=2;\n",
                      ind, prefix, v, ind, lab);
            char sub[48];
            char (*bo)[48] = calloc((size_t)l->ncarry + 1, 48), (*bp)[48] = calloc((size_t)l->nbody_params + 1, 48);
            char (*cp)[48] = calloc((size_t)(l->ncarry + l->nfree) + 1, 48), co[1][48];
            if (!bo || !bp || !cp) st = lpi_nomem(ctx);
            if (!st && !fori) {
                snprintf(sub, sizeof sub, "%sL%dc", prefix, v);
                sb_printf(b, "%s  subgraph cluster_%s {\n%s    label=\"cond\"; style=dashed; color=\"#999999\";\n", ind, sub, ind);
                st = loop_graph_dot(ctx, b, sub, depth + 2, (lp_array *const *)&l->cond_out, 1, l->ncarry + l->nfree,
                                    l->cond_params, co, cp);
                sb_printf(b, "%s  }\n", ind);
            }
            if (!st) {
                snprintf(sub, sizeof sub, "%sL%db", prefix, v);
                sb_printf(b, "%s  subgraph cluster_%s {\n%s    label=\"body\"; style=dashed; color=\"#999999\";\n", ind, sub, ind);
                st = loop_graph_dot(ctx, b, sub, depth + 2, l->body_out, l->ncarry, l->nbody_params, l->body_params, bo, bp);
                sb_printf(b, "%s  }\n", ind);
            }
            sb_printf(b, "%s}\n", ind);
            const int off = fori ? 1 : 0;
            for (int k = 0; !st && k < a->nin; k++) {
                sb_printf(b, "%s%sn%d -> %s [label=\"%s %d\"];\n", ind, prefix, g.in[v][k], bp[off + k],
                          k < l->ncarry ? "init" : "in", k < l->ncarry ? k : k - l->ncarry);
                if (!fori) sb_printf(b, "%s%sn%d -> %s [style=dotted];\n", ind, prefix, g.in[v][k], cp[k]);
            }
            /* the back edge: each body output is the next iteration's carried value */
            for (int k = 0; !st && k < l->ncarry; k++)
                sb_printf(b, "%s%s -> %s [style=dashed, color=\"#cc0000\", constraint=false, label=\"next %d\"];\n", ind, bo[k],
                          bp[off + k], k);
            /* loop_output k is drawn from body output k */
            for (int w = 0; !st && w < g.n; w++)
                if (g.node[w]->op == LPI_OP_LOOP_OUTPUT && !g.leaf[w] && g.in[w] && g.in[w][0] == v)
                    sb_printf(b, "%s%s -> %sn%d [label=\"final\"];\n", ind, bo[g.node[w]->a.i0], prefix, w);
            free(bo);
            free(bp);
            free(cp);
            continue;
        }
        const char *nm = g.leaf[v] ? (lp_array_result(a) ? "computed" : "wrap") : lpi_ops[a->op].name;
        snprintf(lab, sizeof lab, "%s\n%s", nm, sd);
        esc(e, sizeof e, lab);
        sb_printf(b, "%s%s [label=\"%s\", fillcolor=\"%s\"%s%s];\n", ind, name[v], e,
                  g.leaf[v] ? "#eeeeee" : kind_color(lpi_ops[a->op].kind), depth == 0 && g.target[v] ? ", peripheries=2" : "",
                  g.leaf[v] ? ", shape=box3d, style=filled" : "");
        if (g.in[v] && a->op != LPI_OP_LOOP_OUTPUT)
            for (int k = 0; k < a->nin; k++) sb_printf(b, "%s%sn%d -> %s;\n", ind, prefix, g.in[v][k], name[v]);
    }
    for (int t = 0; !st && t < n; t++) snprintf(out_names[t], 48, "%s", name[g.target_of[t]]);
    free(name);
    lpi_arena_destroy(ar);
    return st;
}

static lp_status loops_dot(lp_ctx *ctx, lp_array *const *targets, int n, sb *b) {
    sb_printf(b, "digraph lampy_graph {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n"
                 "  edge [color=\"#555555\", fontsize=8];\n  labelloc=t;\n  label=\"loops: each iteration is planned like a graph; "
                 "red dashed edges carry values to the next iteration\";\n");
    char (*outs)[48] = calloc((size_t)n, 48);
    if (!outs) return lpi_nomem(ctx);
    lp_status st = loop_graph_dot(ctx, b, "", 0, targets, n, 0, NULL, outs, NULL);
    free(outs);
    legend(b);
    sb_printf(b, "}\n");
    return st;
}

lp_status lp_graph_dot(lp_ctx *ctx, lp_array *const *targets, int n, int flags, char **dot_out) {
    if (!dot_out) return lpi_error(ctx, LP_ERR_VALUE, "lp_graph_dot: NULL output");
    *dot_out = NULL;
    if (n < 1 || !targets) return lpi_error(ctx, LP_ERR_VALUE, "lp_graph_dot: need at least one target");
    for (int i = 0; i < n; i++)
        if (!targets[i]) return lpi_error(ctx, LP_ERR_VALUE, "lp_graph_dot: target %d is NULL", i);
    lp_status st;
    if (pending_loop(targets, n)) {
        /* a loop's plans are made per run of its body: draw the structure */
        if (flags & LP_DOT_PLAN)
            return lpi_error(ctx, LP_ERR_VALUE, "the graph has loops, which are planned one iteration at a time: "
                             "draw the expression graph instead (without --plan)");
        sb b = {0};
        st = loops_dot(ctx, targets, n, &b);
        if (!st && b.oom) st = lpi_nomem(ctx);
        if (st) { free(b.s); return st; }
        *dot_out = b.s;
        return LP_OK;
    }
    lpi_plan *pl;
    st = lpi_plan_build(ctx, targets, n, &pl);
    if (st) return st;
    lpi_cost_summary cs;
    if ((st = lpi_cost_plan(ctx, pl, 0, LPI_COST_LOCAL, true, &cs))) { lpi_plan_destroy(pl); return st; }
    sb b = {0};
    if (flags & LP_DOT_PLAN) {
        plan_dot(&b, pl, &cs, ctx);
    } else {
        lpi_arena *ar = lpi_arena_create();
        lpi_graph g;
        if (!ar) st = lpi_nomem(ctx);
        else if (!(st = lpi_graph_build(ctx, ar, targets, n, ctx->fusion, &g))) graph_dot(&b, &g, pl, &cs);
        lpi_arena_destroy(ar);
    }
    lp_free(cs.critical_pnode);
    lpi_plan_destroy(pl);
    if (!st && b.oom) st = lpi_nomem(ctx);
    if (st) { free(b.s); return st; }
    *dot_out = b.s;
    return LP_OK;
}
