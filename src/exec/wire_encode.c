/* The task wire format, encoding side (see wire.h and docs/PROTOCOL.md): a batch of planned
 * tasks as the JSON body of POST /run/<name>, with the node parameters, chunk references and
 * outputs around the plan serializer's objects (plan/serialize.c). */
#include "exec/wire.h"
#include "graph/json.h"
#include "plan/serialize.h"
#include "kernels/lda.h"
#include "io/dataset.h"
#include "store/store.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lpi_wire_hex64(uint64_t v, char out[17]) {
    static const char hx[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--, v >>= 4) out[i] = hx[v & 15];
    out[16] = 0;
}

void lpi_task_out_shape(const lpi_pnode *pn, const lpi_task *t, const lpi_box *cb, lp_dtype *dt, int *ndim,
                        int64_t *shape) {
    if (lpi_pnode_writes_state(pn)) {
        *dt = pn->red->acc_float ? LP_FLOAT64 : LP_INT64;
        *ndim = 2;
        shape[0] = pn->red->nfields;
        shape[1] = t->pelems;
        return;
    }
    *dt = pn->dtype;
    *ndim = cb->ndim;
    for (int i = 0; i < cb->ndim; i++) shape[i] = cb->hi[i] - cb->lo[i];
}

/* The source node of gen/load (graph format node object). A load names where the worker reads
 * it: URLs as they are, file paths made absolute (the worker runs in another process, or on
 * another machine with a shared file system); and the version the driver saw, so a worker
 * never reads another version of the object. */
static lp_status source_json(lp_ctx *ctx, const lpi_pnode *pn, json_t **out) {
    const lp_array *e = pn->kernel == LPI_K_LOAD ? pn->src : pn->expr;
    lp_status st = lpi_json_node_head(ctx, e, out);
    if (st) return st;
    json_object_del(*out, "chunks");
    if (e->op == LPI_OP_LOAD) {
        json_t *attrs = json_object_get(*out, "attrs");
        const char *fpath = lpi_loc_file_path(e->a.path);
        int r = !attrs;
        if (fpath && !r) {
            char *abs = realpath(fpath, NULL);
            if (!abs) {
                json_decref(*out);
                *out = NULL;
                return lpi_error(ctx, LP_ERR_IO, "%s: %s", e->a.path, strerror(errno));
            }
            r = json_object_set_new(attrs, "path", json_string(abs));
            free(abs);
        }
        const lpi_dataset *d = e->a.ds;
        if (!r && d->fmt == LPI_FMT_NPY)
            r = json_object_set_new(*out, "version", json_pack("{s:I,s:s}", "size", (json_int_t)d->id.size, "tag", d->id.tag));
        if (r) { json_decref(*out); *out = NULL; return lpi_nomem(ctx); }
    }
    return LP_OK;
}

/* The plan serializer's pnode object without what belongs to the whole plan (id, grid,
 * inputs, task range, target, estimate). The Fisher LDA ops carry only their reduction. */
lp_status lpi_wire_node_json(lp_ctx *ctx, const lpi_plan *plan, int pnode, json_t **out) {
    const lpi_pnode *pn = &plan->pnodes[pnode];
    *out = NULL;
    lp_status st;
    if (lpi_is_lda_op(pn->op)) {
        json_t *params = json_object();
        int r = !params;
        if (pn->red && params) {
            r |= json_object_set_new(params, "reduce", lpi_reduce_to_json(pn->red));
            r |= json_object_set_new(params, "final", json_boolean(pn->final));
        }
        json_t *o = r ? NULL : json_pack("{s:s,s:s,s:s,s:o,s:o}", "kernel", lpi_kernel_name(pn->kernel), "op",
                                         lpi_ops[pn->op].name, "dtype", lp_dtype_name(pn->dtype), "shape",
                                         lpi_json_ints(pn->ndim, pn->shape), "params", params);
        if (!o) { if (r) json_decref(params); return lpi_nomem(ctx); }
        *out = o;
        return LP_OK;
    }
    if (pn->kernel == LPI_K_NONE) return lpi_error(ctx, LP_ERR_INTERNAL, "node %d: in-memory data is not a task", pnode);
    if ((st = lpi_pnode_to_json(ctx, plan, pnode, out))) return st;
    static const char *const drop[] = {"id", "grid", "inputs", "target", "tasks", "est_seconds"};
    for (size_t k = 0; k < sizeof drop / sizeof drop[0]; k++) json_object_del(*out, drop[k]);
    if (pn->kernel == LPI_K_GEN || pn->kernel == LPI_K_LOAD) {
        json_t *params = json_object_get(*out, "params"), *src;
        if ((st = source_json(ctx, pn, &src)) || json_object_set_new(params, "node", src)) {
            json_decref(*out);
            *out = NULL;
            return st ? st : lpi_nomem(ctx);
        }
    }
    return LP_OK;
}


/* ---- batches ---- */

lp_status lpi_wire_enc_init(lp_ctx *ctx, lpi_wire_enc *e, const lpi_plan *plan, const char *prefix,
                            const uint64_t *csum, const bool *direct) {
    memset(e, 0, sizeof *e);
    e->ctx = ctx;
    e->plan = plan;
    e->csum = csum;
    e->direct = direct;
    snprintf(e->prefix, sizeof e->prefix, "%s", prefix);
    size_t nc = (size_t)plan->nchunks, np = (size_t)plan->npnodes;
    e->owner = lp_malloc((nc ? nc : 1) * sizeof *e->owner);
    e->node_json = lp_calloc(np + 1, sizeof *e->node_json);
    e->slot = lp_calloc(nc + np + 1, sizeof *e->slot);
    e->slot_stamp = lp_calloc(nc + np + 1, sizeof *e->slot_stamp);
    if (!e->owner || !e->node_json || !e->slot || !e->slot_stamp) {
        lpi_wire_enc_free(e);
        return lpi_nomem(ctx);
    }
    for (int p = 0; p < plan->npnodes; p++)
        for (int64_t c = 0; c < plan->pnodes[p].grid.total; c++) e->owner[plan->chunk_base[p] + c] = p;
    return LP_OK;
}

void lpi_wire_enc_free(lpi_wire_enc *e) {
    if (e->node_json)
        for (int p = 0; p < e->plan->npnodes; p++) json_decref(e->node_json[p]);
    lp_free(e->node_json);
    lp_free(e->owner);
    lp_free(e->slot);
    lp_free(e->slot_stamp);
    memset(e, 0, sizeof *e);
}

void lpi_wire_chunk_key(const lpi_wire_enc *e, int64_t gc, char *buf, size_t cap) {
    int p = (int)e->owner[gc];
    snprintf(buf, cap, "%s/%d/%lld", e->prefix, p, (long long)(gc - e->plan->chunk_base[p]));
}

/* The chunk's box in its pnode's grid, and what is stored under it. */
static void chunk_desc(const lpi_wire_enc *e, int64_t gc, lpi_box *box, lp_dtype *dt, int *ndim, int64_t *shape,
                       bool *state) {
    const lpi_plan *pl = e->plan;
    int p = (int)e->owner[gc];
    const lpi_pnode *pn = &pl->pnodes[p];
    int64_t c = gc - pl->chunk_base[p];
    lpi_grid_chunk_box(&pn->grid, c, box);
    if (pn->kernel == LPI_K_NONE) {
        *dt = pn->dtype;
        *ndim = box->ndim;
        for (int i = 0; i < box->ndim; i++) shape[i] = box->hi[i] - box->lo[i];
        *state = false;
        return;
    }
    const lpi_task *t = &pl->tasks[pn->first_task + c];
    lpi_task_out_shape(pn, t, box, dt, ndim, shape);
    *state = lpi_pnode_writes_state(pn);
}

/* Index of pnode p's parameters in the batch's node table, adding them on first use. */
static int batch_node(lpi_wire_enc *e, json_t *nodes, int p) {
    int32_t *slot = e->slot + e->plan->nchunks;
    int64_t *stamp = e->slot_stamp + e->plan->nchunks;
    if (stamp[p] == e->stamp) return slot[p];
    if (!e->node_json[p] && lpi_wire_node_json(e->ctx, e->plan, p, &e->node_json[p])) return -1;
    if (json_array_append(nodes, e->node_json[p])) return -1;
    stamp[p] = e->stamp;
    slot[p] = (int32_t)(json_array_size(nodes) - 1);
    return slot[p];
}

/* Index of a chunk in the batch's table, adding its reference on first use. */
static int64_t batch_chunk(lpi_wire_enc *e, json_t *chunks, json_t *nodes, int64_t gc) {
    if (e->slot_stamp[gc] == e->stamp) return e->slot[gc];
    lpi_box box;
    lp_dtype dt;
    int nd;
    int64_t shape[LP_MAX_NDIM];
    bool state;
    chunk_desc(e, gc, &box, &dt, &nd, shape, &state);
    json_t *c;
    if (e->direct && e->direct[e->owner[gc]]) {
        /* rows of a .npy file: the worker reads them through the load node */
        int ns = batch_node(e, nodes, (int)e->owner[gc]);
        c = ns < 0 ? NULL : json_pack("{s:i,s:s,s:o,s:o}", "load", ns, "dtype", lp_dtype_name(dt), "shape",
                                      lpi_json_ints(nd, shape), "box", lpi_box_to_json(&box));
    } else {
        char key[LPI_STORE_KEY_MAX + 1], hx[17];
        lpi_wire_chunk_key(e, gc, key, sizeof key);
        lpi_wire_hex64(e->csum[gc], hx);
        c = json_pack("{s:i,s:s,s:s,s:o,s:o,s:s}", "store", 0, "key", key, "dtype", lp_dtype_name(dt), "shape",
                      lpi_json_ints(nd, shape), "box", lpi_box_to_json(&box), "checksum", hx);
        if (c && state) json_object_set_new(c, "state", json_true());
    }
    if (!c || json_array_append_new(chunks, c)) return -1;
    e->slot_stamp[gc] = e->stamp;
    e->slot[gc] = (int32_t)(json_array_size(chunks) - 1);
    return e->slot[gc];
}

static json_t *task_json(lpi_wire_enc *e, int64_t ti, json_t *chunks, json_t *nodes) {
    const lpi_plan *pl = e->plan;
    const lpi_task *t = &pl->tasks[ti];
    const lpi_pnode *pn = &pl->pnodes[t->pnode];
    int ns = batch_node(e, nodes, t->pnode);
    if (ns < 0) return NULL;
    int64_t gc = pl->chunk_base[t->pnode] + t->chunk;
    char key[LPI_STORE_KEY_MAX + 1];
    lpi_wire_chunk_key(e, gc, key, sizeof key);
    lpi_box ob;
    lp_dtype dt;
    int nd;
    int64_t shape[LP_MAX_NDIM];
    bool state;
    chunk_desc(e, gc, &ob, &dt, &nd, shape, &state);
    /* a sunk target's chunk goes into the driver's file; into the store as well only when
     * tasks read it */
    const lpi_result_sink *sk = state ? NULL : lpi_plan_sink(pl, t->pnode);
    json_t *out = sk && !t->nconsumers ? json_object() : json_pack("{s:i,s:s}", "store", 0, "key", key);
    if (out && !state) json_object_set_new(out, "box", lpi_box_to_json(&ob));
    if (out && sk && (json_object_set_new(out, "file", json_string(sk->path)) ||
                      json_object_set_new(out, "offset", json_integer((json_int_t)sk->offset)))) {
        json_decref(out);
        out = NULL;
    }
    json_t *ops = json_array();
    json_t *o = json_pack("{s:i,s:I,s:o,s:o,s:o}", "node", ns, "chunk", (json_int_t)t->chunk, "box",
                          lpi_box_to_json(&t->box), "out", out, "ops", ops);
    if (!o) return NULL;
    if (lpi_pnode_has_pelems(pn))
        json_object_set_new(o, "pelems", json_integer((json_int_t)t->pelems));
    if (t->map && t->map != pn->map) /* a concatenate's per-task map; the node carries the others */
        json_object_set_new(o, "map", lpi_axismap_to_json(t->map, pn->ndim, pl->pnodes[t->ops[0].pnode].ndim));
    for (int k = 0; k < t->nops; k++) {
        const lpi_operand *op = &t->ops[k];
        json_t *pcs = json_array();
        for (int q = 0; pcs && q < op->npieces; q++) {
            const lpi_piece *pc = &op->pieces[q];
            int64_t ci = batch_chunk(e, chunks, nodes, pl->chunk_base[pc->pnode] + pc->chunk);
            if (ci < 0 || json_array_append_new(pcs, json_pack("[Io]", (json_int_t)ci, lpi_box_to_json(&pc->box)))) {
                json_decref(pcs);
                pcs = NULL;
            }
        }
        json_t *jo = pcs ? json_pack("{s:s,s:o,s:o}", "dtype", lp_dtype_name(pl->pnodes[op->pnode].dtype), "box",
                                     lpi_box_to_json(&op->box), "pieces", pcs) : NULL;
        if (jo && op->contig) json_object_set_new(jo, "contig", json_true());
        if (!jo || json_array_append_new(ops, jo)) { json_decref(o); return NULL; }
    }
    return o;
}

lp_status lpi_wire_encode_batch(lpi_wire_enc *e, const char *run, double timeout_sec, const char *guard,
                                double expire_sec, const char *store_url, const int64_t *tasks, int n,
                                char **body_out) {
    *body_out = NULL;
    e->stamp++;
    json_t *chunks = json_array(), *nodes = json_array(), *tl = json_array();
    /* rounded up: outputs never expire before the driver asked */
    json_int_t expire_ms = (json_int_t)ceil((expire_sec > 0.001 ? expire_sec : 0.001) * 1000);
    json_t *doc = json_pack("{s:s,s:i,s:s,s:I,s:I,s:[s],s:o,s:o,s:o}", "format", LPI_WIRE_FORMAT, "version",
                            LPI_WIRE_VERSION, "run", run, "timeout_ms", (json_int_t)(timeout_sec * 1000), "expire_ms",
                            expire_ms, "stores", store_url, "chunks", chunks, "nodes", nodes, "tasks", tl);
    bool ok = doc != NULL;
    if (ok && guard) ok = !json_object_set_new(doc, "guard", json_string(guard));
    for (int i = 0; ok && i < n; i++) {
        json_t *tj = task_json(e, tasks[i], chunks, nodes);
        ok = tj && !json_array_append_new(tl, tj);
    }
    if (ok) ok = (*body_out = json_dumps(doc, JSON_COMPACT)) != NULL;
    json_decref(doc);
    if (ok) return LP_OK;
    lp_status st = lp_last_status(e->ctx);
    return st ? st : lpi_nomem(e->ctx);
}
