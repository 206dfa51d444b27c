/* Loops in the graph format (version 2, docs/GRAPH_FORMAT.md): a while_loop / fori_loop node
 * carries its body and cond as closed subgraphs — their own node lists, whose placeholder
 * nodes are the parameters the loop binds — and loop_output nodes read its final values.
 *
 *   {"id":4, "op":"while_loop", "inputs":[0,3], "carry":1, "attrs":{"max_iter":1000,"last_state":false},
 *    "cond":{"params":[0,1], "nodes":[...], "outputs":[5]},
 *    "body":{"params":[0,1], "nodes":[...], "outputs":[7]}}
 *
 * inputs: the initial carried values, then the values the subgraphs read from outside (one
 * parameter each, after the carried ones). Loading validates the shape of the subgraphs here
 * and leaves the rest (dtypes and shapes of parameters, outputs and the condition) to
 * lpi_loop_new, the same checks a loop built through the C API passes. */
#include "graph/json.h"
#include "expr/loop.h"

#include <stdio.h>
#include <string.h>

const char *const lpi_json_loop_keys[] = {"id", "op", "inputs", "attrs", "carry", "body", "cond", NULL};
static const char *const K_SUB[] = {"params", "nodes", "outputs", NULL};
static const char *const K_WHILE[] = {"max_iter", "last_state", NULL};
static const char *const K_FORI[] = {"lower", "upper", NULL};

static lp_status dump_sub(lp_ctx *ctx, lpi_json_dump *d, const char *prefix, lp_array *const *outs, int nout, int np,
                          lp_array *const *params, json_t **out) {
    json_t *o = json_object(), *nodes = json_array(), *tg = json_array(), *pids = json_array();
    lpi_json_dump sub = {.data_dir = d->data_dir, .file_prefix = prefix, .hook = d->hook, .loops = false};
    lp_status st = (!o || !nodes || !tg || !pids) ? lpi_nomem(ctx) : LP_OK;
    if (!st) st = lpi_json_dump_nodes(ctx, &sub, outs, nout, np, params, nodes, tg, pids);
    if (!st && (json_object_set(o, "params", pids) || json_object_set(o, "nodes", nodes) || json_object_set(o, "outputs", tg)))
        st = lpi_nomem(ctx);
    json_decref(nodes);
    json_decref(tg);
    json_decref(pids);
    if (st) { json_decref(o); return st; }
    *out = o;
    return LP_OK;
}

lp_status lpi_json_loop_dump(lp_ctx *ctx, lpi_json_dump *d, const lp_array *a, int id, const int *in_ids, json_t *o) {
    const lpi_loop *l = a->a.loop;
    const bool fori = l->kind == LPI_OP_FORI_LOOP;
    json_t *ins = json_array(), *attrs = fori ? json_pack("{sIsI}", "lower", (json_int_t)l->lower, "upper", (json_int_t)l->upper)
                                              : json_pack("{sIsb}", "max_iter", (json_int_t)l->max_iter, "last_state", l->last_state);
    int r = !ins || !attrs;
    for (int k = 0; ins && k < a->nin; k++) r |= json_array_append_new(ins, json_integer(in_ids[k]));
    r |= json_object_set_new(o, "op", json_string(lpi_ops[a->op].name));
    r |= json_object_set_new(o, "inputs", ins);
    r |= json_object_set_new(o, "carry", json_integer(l->ncarry));
    r |= json_object_set_new(o, "attrs", attrs);
    if (r) return lpi_nomem(ctx);
    d->loops = true;
    char prefix[256];
    json_t *sub;
    lp_status st;
    if (!fori) {
        snprintf(prefix, sizeof prefix, "%sn%dcond_", d->file_prefix, id);
        if ((st = dump_sub(ctx, d, prefix, (lp_array *const *)&l->cond_out, 1, l->ncarry + l->nfree, l->cond_params, &sub)))
            return st;
        if (json_object_set_new(o, "cond", sub)) return lpi_nomem(ctx);
    }
    snprintf(prefix, sizeof prefix, "%sn%dbody_", d->file_prefix, id);
    if ((st = dump_sub(ctx, d, prefix, l->body_out, l->ncarry, l->nbody_params, l->body_params, &sub))) return st;
    if (json_object_set_new(o, "body", sub)) return lpi_nomem(ctx);
    return LP_OK;
}

/* One subgraph: its nodes built, its params (placeholders, every placeholder a param) and
 * outputs resolved. params/outs point into T (borrowed until lpi_json_nodes_free). */
static lp_status load_sub(lp_ctx *ctx, const char *where, const char *name, const json_t *obj, int np, int nout,
                          const char *need, int version, int depth, lpi_json_nodes *T, lp_array **params, lp_array **outs) {
    char w[LPI_WHERE_MAX];
    snprintf(w, sizeof w, "%s: %s", where, name);
    lp_status st;
    if (!json_is_object(obj)) return lpi_error(ctx, LP_ERR_FORMAT, "%s must be an object {\"params\", \"nodes\", \"outputs\"}", w);
    if ((st = lpi_json_only_keys(ctx, w, obj, K_SUB, "key"))) return st;
    const json_t *jp = json_object_get(obj, "params"), *jn = json_object_get(obj, "nodes"), *jo = json_object_get(obj, "outputs");
    if (!jp) return lpi_json_missing(ctx, w, "params");
    if (!jn) return lpi_json_missing(ctx, w, "nodes");
    if (!jo) return lpi_json_missing(ctx, w, "outputs");
    if (!json_is_array(jp) || !json_is_array(jo))
        return lpi_error(ctx, LP_ERR_FORMAT, "%s: 'params' and 'outputs' must be lists of node ids", w);
    if ((int64_t)json_array_size(jp) != np)
        return lpi_error(ctx, LP_ERR_VALUE, "%s has %zu params; %s needs %d", w, json_array_size(jp), need, np);
    if ((int64_t)json_array_size(jo) != nout)
        return lpi_error(ctx, LP_ERR_VALUE, "%s has %zu outputs; it must give %d", w, json_array_size(jo), nout);
    if ((st = lpi_json_load_nodes(ctx, w, jn, version, depth + 1, T))) return st;
    for (int k = 0; k < np; k++) {
        if ((st = lpi_json_nodes_get(ctx, w, "param", T, json_array_get(jp, (size_t)k), &params[k]))) return st;
        if (params[k]->op != LPI_OP_PLACEHOLDER)
            return lpi_error(ctx, LP_ERR_VALUE, "%s: params[%d] is a '%s' node, not a placeholder", w, k,
                             lpi_ops[params[k]->op].name);
        for (int j = 0; j < k; j++)
            if (params[j] == params[k]) return lpi_error(ctx, LP_ERR_VALUE, "%s: params[%d] and params[%d] are the same node", w, j, k);
    }
    for (size_t i = 0; i < T->n; i++) {
        if (T->gn[i].op != LPI_OP_PLACEHOLDER) continue;
        bool found = false;
        for (int k = 0; k < np && !found; k++) found = params[k] == T->gn[i].built;
        if (!found) return lpi_error(ctx, LP_ERR_VALUE, "%s: placeholder is not one of the %s's params", T->gn[i].where, name);
    }
    for (int k = 0; k < nout; k++)
        if ((st = lpi_json_nodes_get(ctx, w, "output", T, json_array_get(jo, (size_t)k), &outs[k]))) return st;
    return LP_OK;
}

lp_status lpi_json_loop_build(lp_ctx *ctx, const char *where, const json_t *obj, lpi_op op, lp_array *const *in, int nin,
                              int version, int depth, lp_array **out) {
    *out = NULL;
    const bool fori = op == LPI_OP_FORI_LOOP;
    lp_status st;
    if (depth + 1 > LPI_JSON_MAX_DEPTH)
        return lpi_error(ctx, LP_ERR_LIMIT, "%s: loops nest more than %d deep", where, LPI_JSON_MAX_DEPTH);
    int64_t carry, lower = 0, upper = 0, max_iter = 0;
    bool last_state = false;
    if ((st = lpi_json_int(ctx, where, obj, "carry", false, 1, nin < LPI_LOOP_MAX_CARRY ? nin : LPI_LOOP_MAX_CARRY, &carry)))
        return st;
    const int nfree = nin - (int)carry;
    const json_t *attrs = json_object_get(obj, "attrs");
    if (!attrs) return lpi_json_missing(ctx, where, "attrs");
    if (!json_is_object(attrs)) return lpi_error(ctx, LP_ERR_FORMAT, "%s: 'attrs' must be an object", where);
    if ((st = lpi_json_only_keys(ctx, where, attrs, fori ? K_FORI : K_WHILE, "attribute"))) return st;
    if (fori) {
        if ((st = lpi_json_int(ctx, where, attrs, "lower", false, INT64_MIN, INT64_MAX, &lower)) ||
            (st = lpi_json_int(ctx, where, attrs, "upper", false, INT64_MIN, INT64_MAX, &upper)))
            return st;
        if (json_object_get(obj, "cond")) return lpi_error(ctx, LP_ERR_FORMAT, "%s: a fori_loop has no 'cond'", where);
    } else {
        if ((st = lpi_json_int(ctx, where, attrs, "max_iter", false, 0, INT64_MAX, &max_iter)) ||
            (st = lpi_json_bool(ctx, where, attrs, "last_state", true, &last_state)))
            return st;
        if (!json_object_get(obj, "cond")) return lpi_json_missing(ctx, where, "cond");
    }
    if (!json_object_get(obj, "body")) return lpi_json_missing(ctx, where, "body");
    char need[128];
    snprintf(need, sizeof need, "a %s with %lld carried value%s and %d from outside", lpi_ops[op].name, (long long)carry,
             carry == 1 ? "" : "s", nfree);
    const int nbp = (fori ? 1 : 0) + nin;
    lpi_json_nodes B = {0}, C = {0};
    lp_array **bp = lp_calloc((size_t)nbp, sizeof *bp), **bo = lp_calloc((size_t)carry, sizeof *bo), **cp = NULL, *co = NULL;
    lp_array **outs = lp_calloc((size_t)carry, sizeof *outs);
    if (!fori) cp = lp_calloc((size_t)nin, sizeof *cp);
    if (!bp || !bo || !outs || (!fori && !cp)) { st = lpi_nomem(ctx); goto done; }
    if (!fori && (st = load_sub(ctx, where, "cond", json_object_get(obj, "cond"), nin, 1, need, version, depth, &C, cp, &co)))
        goto done;
    if ((st = load_sub(ctx, where, "body", json_object_get(obj, "body"), nbp, (int)carry, need, version, depth, &B, bp, bo)))
        goto done;
    if ((st = lpi_loop_new(ctx, where, op, lower, upper, max_iter, last_state, (int)carry, in, nfree, in + carry, bp, bo, cp,
                           co, outs)))
        goto done;
    *out = outs[0]->in[0];
    lp_array_retain(*out);
    for (int k = 0; k < carry; k++) lp_array_release(outs[k]);
done:
    lpi_json_nodes_free(&B);
    lpi_json_nodes_free(&C);
    lp_free(bp);
    lp_free(bo);
    lp_free(cp);
    lp_free(outs);
    return st;
}
