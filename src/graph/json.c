/* The expression graph as JSON (docs/GRAPH_FORMAT.md): dump the DAG of some targets, load it
 * back through the public builders. The node codec here is shared with plan/serialize.c.
 *
 * Loading trusts nothing: every key is typed and checked, unknown keys are errors, ids and
 * references are resolved through a table, cycles are found before anything is built, and
 * every node is rebuilt with the same builder a user would call, so shape and dtype rules
 * are re-checked; the declared dtype and shape must then match what the builder inferred. */
#include "graph/json.h"
#include "expr/loop.h"
#include "graph/graph.h"
#include "core/hmap.h"
#include "io/npy.h"
#include "kernels/kernels.h"
#include "kernels/lda.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- node attributes -------------------------------------------------------------------- */

static json_t *elem_json(lp_dtype dt, const char *p) { return lpi_json_elem(dt, p); }
static bool elem_from_json(lp_dtype dt, const json_t *j, char *p) { return lpi_json_elem_get(dt, j, p); }

static json_t *scalar_json(lp_scalar v) {
    switch (lpi_dtype_kind(v.dtype)) {
    case LPI_KIND_BOOL: return json_boolean(v.v.b);
    case LPI_KIND_INT: return json_integer((json_int_t)v.v.i);
    case LPI_KIND_COMPLEX: return json_pack("[oo]", lpi_json_float(v.v.c[0]), lpi_json_float(v.v.c[1]));
    default: return lpi_json_float(v.v.f);
    }
}

/* The value of a scalar or full node, stored in the node's dtype kind. */
static lp_status scalar_from_json(lp_ctx *ctx, const char *where, const json_t *attrs, lp_dtype dt, lp_scalar *out) {
    const json_t *j = json_object_get(attrs, "value");
    if (!j) return lpi_json_missing(ctx, where, "value");
    switch (lpi_dtype_kind(dt)) {
    case LPI_KIND_BOOL:
        if (!json_is_boolean(j)) return lpi_error(ctx, LP_ERR_FORMAT, "%s: 'value' must be true or false for %s", where, lp_dtype_name(dt));
        *out = lp_scalar_b(json_is_true(j));
        return LP_OK;
    case LPI_KIND_INT:
        if (!json_is_integer(j)) return lpi_error(ctx, LP_ERR_FORMAT, "%s: 'value' must be an integer for %s", where, lp_dtype_name(dt));
        {
            int64_t lo, hi, v = json_integer_value(j);
            lpi_int_range(dt, &lo, &hi);
            if (dt == LP_UINT64) lo = INT64_MIN; /* uint64 values past INT64_MAX are kept as their bits */
            if (v < lo || v > hi)
                return lpi_error(ctx, LP_ERR_VALUE, "%s: 'value' %lld does not fit %s", where, (long long)v, lp_dtype_name(dt));
        }
        *out = lp_scalar_i(json_integer_value(j));
        return LP_OK;
    case LPI_KIND_COMPLEX: {
        double re, im;
        if (!json_is_array(j) || json_array_size(j) != 2 || !lpi_json_get_float(json_array_get(j, 0), &re) ||
            !lpi_json_get_float(json_array_get(j, 1), &im))
            return lpi_error(ctx, LP_ERR_FORMAT, "%s: 'value' must be [real, imaginary] for %s", where, lp_dtype_name(dt));
        *out = lp_scalar_c(re, im);
        return LP_OK;
    }
    default: {
        double f;
        if (!lpi_json_get_float(j, &f)) return lpi_error(ctx, LP_ERR_FORMAT, "%s: 'value' must be a float for %s", where, lp_dtype_name(dt));
        *out = lp_scalar_f(f);
        return LP_OK;
    }
    }
}

/* Gather an n-element strided array into JSON values, C order. */
static json_t *data_json(lp_dtype dt, int nd, const int64_t *shape, const char *base, const int64_t *strides) {
    json_t *arr = json_array();
    int64_t n = 1, idx[LP_MAX_NDIM] = {0};
    for (int i = 0; i < nd; i++) n *= shape[i];
    for (int64_t e = 0; arr && e < n; e++) {
        const char *p = base;
        for (int i = 0; i < nd; i++) p += idx[i] * strides[i];
        if (json_array_append_new(arr, elem_json(dt, p))) { json_decref(arr); return NULL; }
        for (int i = nd - 1; i >= 0; i--) {
            if (++idx[i] < shape[i]) break;
            idx[i] = 0;
        }
    }
    return arr;
}

/* Slicing as the index list that rebuilds the same axis map through lp_slice. */
static json_t *slice_index_json(const lp_array *a) {
    const lpi_axismap *m = &a->a.map;
    const lp_array *x = a->in[0];
    json_t *arr = json_array();
    int i = 0;
    bool ok = arr != NULL;
    for (int j = 0; ok && j <= a->ndim; j++) {
        int upto = j < a->ndim ? m->src[j] : x->ndim;
        if (j < a->ndim && m->src[j] < 0) { ok = !json_array_append_new(arr, json_string("newaxis")); continue; }
        for (; ok && i < upto; i++) ok = m->dropped[i] && !json_array_append_new(arr, json_pack("{sI}", "int", (json_int_t)m->fixed[i]));
        if (!ok || j == a->ndim) break;
        int64_t len = a->shape[j], off = m->off[j], step = m->step[j];
        json_t *o = json_pack("{sIsI}", "start", (json_int_t)off, "step", (json_int_t)step);
        ok = o != NULL;
        int64_t stop;
        if (ok && !__builtin_mul_overflow(len, step, &stop) && !__builtin_add_overflow(stop, off, &stop) &&
            (step > 0 || stop >= 0))
            ok = !json_object_set_new(o, "stop", json_integer((json_int_t)stop));
        ok = ok && !json_array_append_new(arr, o);
        i++;
    }
    if (!ok) { json_decref(arr); return NULL; }
    return arr;
}

lp_status lpi_json_node_attrs(lp_ctx *ctx, const lp_array *a, json_t **out) {
    json_t *o = json_object();
    *out = NULL;
    if (!o) return lpi_nomem(ctx);
    const lpi_attrs *t = &a->a;
    int r = 0;
    switch (a->op) {
    case LPI_OP_LOAD: r = json_object_set_new(o, "path", json_string(t->path)); break;
    case LPI_OP_WRAP:
        if (a->size > LPI_JSON_INLINE_MAX) {
            json_decref(o);
            return lpi_error(ctx, LP_ERR_LIMIT, "cannot dump: %s holds in-memory data of %lld bytes; at most %d elements are inlined",
                             "a wrapped array", (long long)(a->size * (int64_t)lp_dtype_size(a->dtype)), LPI_JSON_INLINE_MAX);
        }
        r = json_object_set_new(o, "data", data_json(a->dtype, a->ndim, a->shape, (const char *)t->buf->data + t->offset,
                                                     t->strides));
        break;
    case LPI_OP_SCALAR: r = json_object_set_new(o, "value", scalar_json(t->value)); break;
    case LPI_OP_FULL: {
        lp_scalar v = t->value;
        v.dtype = lpi_dtype_kind(a->dtype) == LPI_KIND_BOOL ? LP_BOOL : lpi_dtype_kind(a->dtype) == LPI_KIND_INT ? LP_INT64
                : lpi_dtype_is_complex(a->dtype) ? LP_COMPLEX128 : LP_FLOAT64;
        r = json_object_set_new(o, "value", scalar_json(v));
        break;
    }
    case LPI_OP_ARANGE:
        r = json_object_set_new(o, "start", lpi_json_float(t->f0)) | json_object_set_new(o, "step", lpi_json_float(t->f1));
        break;
    case LPI_OP_LINSPACE:
        r = json_object_set_new(o, "start", lpi_json_float(t->f0)) | json_object_set_new(o, "stop", lpi_json_float(t->f1)) |
            json_object_set_new(o, "endpoint", json_boolean(t->endpoint));
        break;
    case LPI_OP_EYE: r = json_object_set_new(o, "k", json_integer((json_int_t)t->i0)); break;
    case LPI_OP_RANDOM_UNIFORM: case LPI_OP_RANDOM_NORMAL: {
        char seed[24];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)t->seed);
        bool u = a->op == LPI_OP_RANDOM_UNIFORM;
        r = json_object_set_new(o, "seed", json_string(seed)) |
            json_object_set_new(o, u ? "low" : "mean", lpi_json_float(t->f0)) |
            json_object_set_new(o, u ? "high" : "std", lpi_json_float(t->f1));
        break;
    }
    case LPI_OP_RANDOM_INTEGERS: {
        char seed[24];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)t->seed);
        r = json_object_set_new(o, "seed", json_string(seed)) | json_object_set_new(o, "low", json_integer((json_int_t)t->i0)) |
            json_object_set_new(o, "high", json_integer((json_int_t)((uint64_t)t->i0 + t->span)));
        break;
    }
    case LPI_OP_TRANSPOSE: {
        int64_t perm[LP_MAX_NDIM];
        for (int j = 0; j < a->ndim; j++) perm[j] = t->map.src[j];
        r = json_object_set_new(o, "perm", lpi_json_ints(a->ndim, perm));
        break;
    }
    case LPI_OP_SLICE: r = json_object_set_new(o, "index", slice_index_json(a)); break;
    case LPI_OP_CONCATENATE: r = json_object_set_new(o, "axis", json_integer(t->axis)); break;
    case LPI_OP_RESHAPE: case LPI_OP_BROADCAST_TO: case LPI_OP_SCATTER: break;
    case LPI_OP_TAKE: r = json_object_set_new(o, "axis", json_integer(t->axis)); break;
    case LPI_OP_BINCOUNT_BLOCKS: case LPI_OP_COMPRESS: case LPI_OP_NONZERO:
        r = json_object_set_new(o, "block", json_integer((json_int_t)t->i0));
        break;
    case LPI_OP_SEARCHSORTED: r = json_object_set_new(o, "side", json_string(t->axis ? "right" : "left")); break;
    case LPI_OP_CUMSUM: case LPI_OP_CUMPROD: case LPI_OP_CUMMAX: case LPI_OP_CUMMIN:
    case LPI_OP_SORT: case LPI_OP_ARGSORT: case LPI_OP_SORT_SELECT:
        r = json_object_set_new(o, "axis", json_integer(t->axis));
        break;
    case LPI_OP_FFT_FORWARD: case LPI_OP_FFT_BACKWARD: case LPI_OP_FFT_R2C: case LPI_OP_FFT_C2R:
        r = json_object_set_new(o, "axis", json_integer(t->axis)) | json_object_set_new(o, "n", json_integer((json_int_t)t->i0));
        break;
    case LPI_OP_MATMUL:
        r = json_object_set_new(o, "transpose_a", json_boolean(t->flags & LPI_MM_TA)) |
            json_object_set_new(o, "transpose_b", json_boolean(t->flags & LPI_MM_TB));
        break;
    case LPI_OP_LSTSQ: r = json_object_set_new(o, "rcond", lpi_json_float(t->f0)); break;
    case LPI_OP_SOLVE: case LPI_OP_INV: case LPI_OP_CHOLESKY: case LPI_OP_DET: case LPI_OP_EIGH: case LPI_OP_EIG: case LPI_OP_SLOGDET:
    case LPI_OP_QR_R: case LPI_OP_QR_Q: case LPI_OP_SVD:
    case LPI_OP_LDA_LABELS: case LPI_OP_LDA_STATS: case LPI_OP_LDA_LW: case LPI_OP_LDA_PROJECT: case LPI_OP_LDA_PREDICT:
        break;
    case LPI_OP_PLACEHOLDER: if (t->weak) r = json_object_set_new(o, "weak", json_true()); break;
    case LPI_OP_LOOP_OUTPUT: r = json_object_set_new(o, "index", json_integer((json_int_t)t->i0)); break;
    default:
        if (lpi_ops[a->op].kind == LP_OPK_ELEMWISE) break;
        if (lpi_ops[a->op].kind == LP_OPK_REDUCE) {
            const lp_array *x = a->in[0];
            uint32_t all = x->ndim ? (uint32_t)((1u << x->ndim) - 1) : 0;
            bool arg = a->op == LPI_OP_ARGMIN || a->op == LPI_OP_ARGMAX;
            if (arg && t->axes == all) {
                r = json_object_set_new(o, "axes", json_null());
            } else {
                int64_t ax[LP_MAX_NDIM];
                int n = 0;
                for (int i = 0; i < x->ndim; i++)
                    if (t->axes & (1u << i)) ax[n++] = i;
                r = json_object_set_new(o, "axes", lpi_json_ints(n, ax));
            }
            r |= json_object_set_new(o, "keepdims", json_boolean(t->keepdims));
            if (a->op == LPI_OP_VAR || a->op == LPI_OP_STD) r |= json_object_set_new(o, "ddof", lpi_json_float(t->ddof));
            break;
        }
        json_decref(o);
        return lpi_error(ctx, LP_ERR_VALUE, "op '%s' is not supported by graph format version %d yet",
                         lpi_ops[a->op].name, LPI_GRAPH_VERSION);
    }
    if (r) { json_decref(o); return lpi_nomem(ctx); }
    *out = o;
    return LP_OK;
}

lp_status lpi_json_node_head(lp_ctx *ctx, const lp_array *a, json_t **out) {
    json_t *attrs;
    *out = NULL;
    lp_status st = lpi_json_node_attrs(ctx, a, &attrs);
    if (st) return st;
    json_t *o = json_object();
    int r = !o;
    if (o) {
        r |= json_object_set_new(o, "op", json_string(lpi_ops[a->op].name));
        r |= json_object_set_new(o, "dtype", json_string(lp_dtype_name(a->dtype)));
        r |= json_object_set_new(o, "shape", lpi_json_ints(a->ndim, a->shape));
        if (json_object_size(attrs)) r |= json_object_set(o, "attrs", attrs);
        if (a->has_chunk_hint) r |= json_object_set_new(o, "chunks", lpi_json_ints(a->ndim, a->chunk_hint));
    }
    json_decref(attrs);
    if (r) { json_decref(o); return lpi_nomem(ctx); }
    *out = o;
    return LP_OK;
}

/* ---- rebuilding a node ---- */

static const char *const K_NONE[] = {NULL};
static const char *const K_LOAD[] = {"path", NULL};
static const char *const K_WRAP[] = {"data", NULL};
static const char *const K_VALUE[] = {"value", NULL};
static const char *const K_ARANGE[] = {"start", "step", NULL};
static const char *const K_LINSPACE[] = {"start", "stop", "endpoint", NULL};
static const char *const K_EYE[] = {"k", NULL};
static const char *const K_UNIFORM[] = {"seed", "low", "high", NULL};
static const char *const K_NORMAL[] = {"seed", "mean", "std", NULL};
static const char *const K_INTEGERS[] = {"seed", "low", "high", NULL};
static const char *const K_REDUCE[] = {"axes", "keepdims", NULL};
static const char *const K_REDUCE_DDOF[] = {"axes", "keepdims", "ddof", NULL};
static const char *const K_PERM[] = {"perm", NULL};
static const char *const K_INDEX[] = {"index", NULL};
static const char *const K_AXIS[] = {"axis", NULL};
static const char *const K_FFT[] = {"axis", "n", NULL};
static const char *const K_BLOCK[] = {"block", NULL};
static const char *const K_SIDE[] = {"side", NULL};
static const char *const K_MATMUL[] = {"transpose_a", "transpose_b", NULL};
static const char *const K_RCOND[] = {"rcond", NULL};
static const char *const K_WEAK[] = {"weak", NULL};
static const char *const K_LOOP_INDEX[] = {"index", NULL};

static const char *const *allowed_attrs(lpi_op op) {
    switch (op) {
    case LPI_OP_LOAD: return K_LOAD;
    case LPI_OP_WRAP: return K_WRAP;
    case LPI_OP_SCALAR: case LPI_OP_FULL: return K_VALUE;
    case LPI_OP_ARANGE: return K_ARANGE;
    case LPI_OP_LINSPACE: return K_LINSPACE;
    case LPI_OP_EYE: return K_EYE;
    case LPI_OP_RANDOM_UNIFORM: return K_UNIFORM;
    case LPI_OP_RANDOM_NORMAL: return K_NORMAL;
    case LPI_OP_RANDOM_INTEGERS: return K_INTEGERS;
    case LPI_OP_VAR: case LPI_OP_STD: return K_REDUCE_DDOF;
    case LPI_OP_TRANSPOSE: return K_PERM;
    case LPI_OP_SLICE: return K_INDEX;
    case LPI_OP_CONCATENATE: case LPI_OP_TAKE: return K_AXIS;
    case LPI_OP_BINCOUNT_BLOCKS: case LPI_OP_COMPRESS: case LPI_OP_NONZERO: return K_BLOCK;
    case LPI_OP_SEARCHSORTED: return K_SIDE;
    case LPI_OP_CUMSUM: case LPI_OP_CUMPROD: case LPI_OP_CUMMAX: case LPI_OP_CUMMIN:
    case LPI_OP_SORT: case LPI_OP_ARGSORT: case LPI_OP_SORT_SELECT:
        return K_AXIS;
    case LPI_OP_FFT_FORWARD: case LPI_OP_FFT_BACKWARD: case LPI_OP_FFT_R2C: case LPI_OP_FFT_C2R: return K_FFT;
    case LPI_OP_MATMUL: return K_MATMUL;
    case LPI_OP_LSTSQ: return K_RCOND;
    case LPI_OP_PLACEHOLDER: return K_WEAK;
    case LPI_OP_LOOP_OUTPUT: return K_LOOP_INDEX;
    default: return lpi_ops[op].kind == LP_OPK_REDUCE ? K_REDUCE : K_NONE;
    }
}

static lp_status seed_from_json(lp_ctx *ctx, const char *where, const json_t *attrs, uint64_t *out) {
    const json_t *j = json_object_get(attrs, "seed");
    if (!j) return lpi_json_missing(ctx, where, "seed");
    if (json_is_integer(j) && json_integer_value(j) >= 0) { *out = (uint64_t)json_integer_value(j); return LP_OK; }
    const char *s = json_is_string(j) ? json_string_value(j) : NULL;
    if (s && *s >= '0' && *s <= '9') {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (!*end && !errno) { *out = v; return LP_OK; }
    }
    return lpi_error(ctx, LP_ERR_FORMAT, "%s: 'seed' must be a decimal string of an unsigned 64-bit integer", where);
}

static lp_status slice_from_json(lp_ctx *ctx, const char *where, const json_t *attrs, lp_index *idx, int *nidx) {
    const json_t *j = json_object_get(attrs, "index");
    if (!j) return lpi_json_missing(ctx, where, "index");
    if (!json_is_array(j)) return lpi_error(ctx, LP_ERR_FORMAT, "%s: 'index' must be a list", where);
    if (json_array_size(j) > 2 * LP_MAX_NDIM)
        return lpi_error(ctx, LP_ERR_LIMIT, "%s: 'index' has %zu items; at most %d are allowed", where, json_array_size(j),
                         2 * LP_MAX_NDIM);
    static const char *const kslice[] = {"start", "stop", "step", NULL}, *const kint[] = {"int", NULL};
    *nidx = (int)json_array_size(j);
    for (int k = 0; k < *nidx; k++) {
        const json_t *e = json_array_get(j, (size_t)k);
        char w[LPI_WHERE_MAX + 16];
        snprintf(w, sizeof w, "%s: index[%d]", where, k);
        memset(&idx[k], 0, sizeof idx[k]);
        if (json_is_string(e) && !strcmp(json_string_value(e), "newaxis")) { idx[k].kind = LP_IDX_NEWAXIS; continue; }
        if (json_is_string(e) && !strcmp(json_string_value(e), "...")) { idx[k].kind = LP_IDX_ELLIPSIS; continue; }
        if (!json_is_object(e))
            return lpi_error(ctx, LP_ERR_FORMAT, "%s must be {\"start\", \"stop\", \"step\"}, {\"int\"}, \"newaxis\" or \"...\"", w);
        lp_status st;
        if (json_object_get(e, "int")) {
            if ((st = lpi_json_only_keys(ctx, w, e, kint, "key")) ||
                (st = lpi_json_int(ctx, w, e, "int", false, INT64_MIN + 1, INT64_MAX, &idx[k].start)))
                return st;
            idx[k].kind = LP_IDX_INT;
            continue;
        }
        if ((st = lpi_json_only_keys(ctx, w, e, kslice, "key"))) return st;
        idx[k].kind = LP_IDX_SLICE;
        idx[k].has_start = json_object_get(e, "start") != NULL;
        idx[k].has_stop = json_object_get(e, "stop") != NULL;
        idx[k].step = 1;
        if ((st = lpi_json_int(ctx, w, e, "start", true, INT64_MIN + 1, INT64_MAX, &idx[k].start)) ||
            (st = lpi_json_int(ctx, w, e, "stop", true, INT64_MIN + 1, INT64_MAX, &idx[k].stop)) ||
            (st = lpi_json_int(ctx, w, e, "step", true, INT64_MIN + 1, INT64_MAX, &idx[k].step)))
            return st;
        if (idx[k].step == 0) return lpi_error(ctx, LP_ERR_VALUE, "%s: slice step cannot be zero", w);
    }
    return LP_OK;
}

/* arange keeps start and step; the length is the shape. Find a stop giving exactly n. */
static lp_status build_arange(lp_ctx *ctx, const char *where, double start, double step, int64_t n, lp_dtype dt,
                              lp_array **out) {
    double stop = start + (double)n * step;
    for (int tries = 0; tries < 8; tries++) {
        if (!isfinite(stop) || step == 0) break;
        double len = ceil((stop - start) / step);
        if (!(len > 0)) len = 0;
        if (len == (double)n) return lp_arange(ctx, start, stop, step, dt, out);
        stop = nextafter(stop, (len > (double)n) == (step > 0) ? -INFINITY : INFINITY);
    }
    if (step == 0 || !isfinite(start) || !isfinite(step)) return lp_arange(ctx, start, start + step, step, dt, out);
    return lpi_error(ctx, LP_ERR_VALUE, "%s: no stop gives %lld elements from start %g and step %g", where, (long long)n,
                     start, step);
}

static lp_status build(lp_ctx *ctx, const char *where, lpi_op op, lp_dtype dt, int nd, const int64_t *shape,
                       const json_t *attrs, lp_array *const *in, int nin, lp_array **out) {
    lp_status st;
    switch (op) {
    case LPI_OP_LOAD: {
        const char *path;
        if ((st = lpi_json_str(ctx, where, attrs, "path", false, &path))) return st;
        if (!*path || strlen(path) > LPI_JSON_MAX_PATH)
            return lpi_error(ctx, LP_ERR_VALUE, "%s: 'path' must have 1 to %d characters", where, LPI_JSON_MAX_PATH);
        return lp_load(ctx, path, out);
    }
    case LPI_OP_WRAP: {
        const json_t *d = json_object_get(attrs, "data");
        if (!d) return lpi_json_missing(ctx, where, "data");
        if (!json_is_array(d)) return lpi_error(ctx, LP_ERR_FORMAT, "%s: 'data' must be a list", where);
        int64_t size;
        lpi_shape_size(nd, shape, &size);
        if (size > LPI_JSON_INLINE_MAX || json_array_size(d) > LPI_JSON_INLINE_MAX)
            return lpi_error(ctx, LP_ERR_LIMIT, "%s: %lld inline elements; at most %d are allowed (reference a .npy file with 'load')",
                             where, (long long)(size > (int64_t)json_array_size(d) ? size : (int64_t)json_array_size(d)),
                             LPI_JSON_INLINE_MAX);
        if ((int64_t)json_array_size(d) != size)
            return lpi_error(ctx, LP_ERR_SHAPE, "%s: 'data' has %zu elements but the shape holds %lld", where,
                             json_array_size(d), (long long)size);
        char raw[LPI_JSON_INLINE_MAX * 16]; /* the widest dtype: complex128 */
        size_t isz = lp_dtype_size(dt);
        for (int64_t e = 0; e < size; e++)
            if (!elem_from_json(dt, json_array_get(d, (size_t)e), raw + e * isz))
                return lpi_error(ctx, LP_ERR_FORMAT, "%s: data[%lld] is not a valid %s value", where, (long long)e,
                                 lp_dtype_name(dt));
        lp_buffer *b;
        if ((st = lp_buffer_create(ctx, dt, nd, shape, raw, &b))) return st;
        st = lp_from_buffer(ctx, b, out);
        lp_buffer_release(b);
        return st;
    }
    case LPI_OP_SCALAR: {
        lp_scalar v;
        if (dt != LP_BOOL && dt != LP_INT64 && dt != LP_FLOAT64 && dt != LP_COMPLEX128)
            return lpi_error(ctx, LP_ERR_TYPE, "%s: a scalar is bool, int64, float64 or complex128, not %s", where,
                             lp_dtype_name(dt));
        if ((st = scalar_from_json(ctx, where, attrs, dt, &v))) return st;
        return lp_scalar_array(ctx, v, out);
    }
    case LPI_OP_FULL: {
        lp_scalar v;
        if ((st = scalar_from_json(ctx, where, attrs, dt, &v))) return st;
        return lp_full(ctx, dt, nd, shape, v, out);
    }
    case LPI_OP_ARANGE: case LPI_OP_LINSPACE: {
        if (nd != 1) return lpi_error(ctx, LP_ERR_SHAPE, "%s: the shape must have one dimension", where);
        double a = 0, b = 0;
        bool endpoint = true;
        if (op == LPI_OP_ARANGE) {
            if ((st = lpi_json_flt(ctx, where, attrs, "start", false, &a)) ||
                (st = lpi_json_flt(ctx, where, attrs, "step", false, &b)))
                return st;
            return build_arange(ctx, where, a, b, shape[0], dt, out);
        }
        if ((st = lpi_json_flt(ctx, where, attrs, "start", false, &a)) ||
            (st = lpi_json_flt(ctx, where, attrs, "stop", false, &b)) ||
            (st = lpi_json_bool(ctx, where, attrs, "endpoint", false, &endpoint)))
            return st;
        return lp_linspace(ctx, a, b, shape[0], endpoint, dt, out);
    }
    case LPI_OP_EYE: {
        int64_t k = 0;
        if (nd != 2) return lpi_error(ctx, LP_ERR_SHAPE, "%s: the shape must have two dimensions", where);
        if ((st = lpi_json_int(ctx, where, attrs, "k", false, INT64_MIN, INT64_MAX, &k))) return st;
        return lp_eye(ctx, shape[0], shape[1], k, dt, out);
    }
    case LPI_OP_RANDOM_UNIFORM: case LPI_OP_RANDOM_NORMAL: {
        uint64_t seed = 0;
        double p0 = 0, p1 = 0;
        bool u = op == LPI_OP_RANDOM_UNIFORM;
        if ((st = seed_from_json(ctx, where, attrs, &seed)) ||
            (st = lpi_json_flt(ctx, where, attrs, u ? "low" : "mean", false, &p0)) ||
            (st = lpi_json_flt(ctx, where, attrs, u ? "high" : "std", false, &p1)))
            return st;
        return u ? lp_random_uniform(ctx, seed, p0, p1, dt, nd, shape, out)
                 : lp_random_normal(ctx, seed, p0, p1, dt, nd, shape, out);
    }
    case LPI_OP_RANDOM_INTEGERS: {
        uint64_t seed = 0;
        int64_t lo = 0, hi = 0;
        if ((st = seed_from_json(ctx, where, attrs, &seed)) ||
            (st = lpi_json_int(ctx, where, attrs, "low", false, INT64_MIN, INT64_MAX, &lo)) ||
            (st = lpi_json_int(ctx, where, attrs, "high", false, INT64_MIN, INT64_MAX, &hi)))
            return st;
        return lp_random_integers(ctx, seed, lo, hi, dt, nd, shape, out);
    }
    case LPI_OP_ASTYPE: return lp_astype(ctx, in[0], dt, out);
    case LPI_OP_RESHAPE: return lp_reshape(ctx, in[0], nd, shape, out);
    case LPI_OP_BROADCAST_TO: return lp_broadcast_to(ctx, in[0], nd, shape, out);
    case LPI_OP_SCATTER: return lpi_scatter(ctx, in[0], in[1], in[2], out);
    case LPI_OP_TAKE: {
        int64_t axis = 0;
        if ((st = lpi_json_int(ctx, where, attrs, "axis", false, -LP_MAX_NDIM, LP_MAX_NDIM - 1, &axis))) return st;
        return lpi_take(ctx, in[0], in[1], (int)axis, out);
    }
    case LPI_OP_COMPRESS: case LPI_OP_NONZERO: {
        /* the counts per block of rows are data the document carries (they fix the shape) */
        int64_t block = 1;
        if ((st = lpi_json_int(ctx, where, attrs, "block", false, 1, INT64_MAX >> 8, &block))) return st;
        return op == LPI_OP_COMPRESS ? lpi_compress(ctx, in[0], in[1], in[2], block, out) : lpi_nonzero(ctx, in[0], in[1], block, out);
    }
    case LPI_OP_SEARCHSORTED: {
        const char *side;
        if ((st = lpi_json_str(ctx, where, attrs, "side", false, &side))) return st;
        if (strcmp(side, "left") && strcmp(side, "right"))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: 'side' must be \"left\" or \"right\"", where);
        return lpi_searchsorted(ctx, in[0], in[1], side[0] == 'r', out);
    }
    case LPI_OP_BINCOUNT_BLOCKS: {
        int64_t block = 1;
        if ((st = lpi_json_int(ctx, where, attrs, "block", false, 1, INT64_MAX >> 8, &block))) return st;
        if (nd != 2) return lpi_error(ctx, LP_ERR_SHAPE, "%s: the shape must have two dimensions", where);
        return lpi_bincount_blocks(ctx, in[0], in[1]->ndim ? in[1] : NULL, shape[1], block, out);
    }
    case LPI_OP_TRANSPOSE: {
        int64_t perm[LP_MAX_NDIM];
        int n = 0, p[LP_MAX_NDIM];
        if ((st = lpi_json_int_list(ctx, where, attrs, "perm", false, LP_MAX_NDIM, -LP_MAX_NDIM, LP_MAX_NDIM - 1, &n, perm)))
            return st;
        if (n != in[0]->ndim)
            return lpi_error(ctx, LP_ERR_VALUE, "%s: 'perm' has %d axes but the input has %d", where, n, in[0]->ndim);
        for (int i = 0; i < n; i++) p[i] = (int)perm[i];
        return lp_transpose(ctx, in[0], p, out);
    }
    case LPI_OP_SLICE: {
        lp_index idx[2 * LP_MAX_NDIM];
        int n = 0;
        if ((st = slice_from_json(ctx, where, attrs, idx, &n))) return st;
        return lp_slice(ctx, in[0], n, idx, out);
    }
    case LPI_OP_CONCATENATE: {
        int64_t axis = 0;
        if ((st = lpi_json_int(ctx, where, attrs, "axis", false, -LP_MAX_NDIM, LP_MAX_NDIM - 1, &axis))) return st;
        return lp_concatenate(ctx, nin, in, (int)axis, out);
    }
    case LPI_OP_CUMSUM: case LPI_OP_CUMPROD: case LPI_OP_CUMMAX: case LPI_OP_CUMMIN:
    case LPI_OP_SORT: case LPI_OP_ARGSORT: case LPI_OP_SORT_SELECT: {
        int64_t axis = 0;
        if ((st = lpi_json_int(ctx, where, attrs, "axis", false, -LP_MAX_NDIM, LP_MAX_NDIM - 1, &axis))) return st;
        if (op == LPI_OP_SORT_SELECT) return lpi_sort_select(ctx, in[0], (int)axis, in[1], out);
        if (lpi_ops[op].kind == LP_OPK_SCAN) return lpi_scan(ctx, op, in[0], (int)axis, out);
        return lpi_sort(ctx, op, in[0], (int)axis, out);
    }
    case LPI_OP_FFT_FORWARD: case LPI_OP_FFT_BACKWARD: case LPI_OP_FFT_R2C: case LPI_OP_FFT_C2R: {
        int64_t axis = 0, n = 0;
        if ((st = lpi_json_int(ctx, where, attrs, "axis", false, -LP_MAX_NDIM, LP_MAX_NDIM - 1, &axis)) ||
            (st = lpi_json_int(ctx, where, attrs, "n", false, 1, INT64_MAX >> 4, &n)))
            return st;
        return lpi_fft_node(ctx, op, in[0], (int)axis, n, out);
    }
    case LPI_OP_MATMUL: {
        /* a transpose of the last two axes folded into the product: rebuild the transpose and
         * let lp_matmul fold it again */
        bool tr[2] = {false, false};
        if ((st = lpi_json_bool(ctx, where, attrs, "transpose_a", false, &tr[0])) ||
            (st = lpi_json_bool(ctx, where, attrs, "transpose_b", false, &tr[1])))
            return st;
        lp_array *x[2] = {in[0], in[1]}, *tx[2] = {NULL, NULL};
        for (int k = 0; k < 2 && !st; k++) {
            if (!tr[k]) continue;
            if (in[k]->ndim < 2) {
                st = lpi_error(ctx, LP_ERR_VALUE, "%s: transpose_%c needs an operand of at least 2 dimensions", where, 'a' + k);
                break;
            }
            int perm[LP_MAX_NDIM];
            for (int i = 0; i < in[k]->ndim; i++) perm[i] = i;
            perm[in[k]->ndim - 2] = in[k]->ndim - 1;
            perm[in[k]->ndim - 1] = in[k]->ndim - 2;
            if (!(st = lp_transpose(ctx, in[k], perm, &tx[k]))) x[k] = tx[k];
        }
        if (!st) st = lp_matmul(ctx, x[0], x[1], out);
        lp_array_release(tx[0]);
        lp_array_release(tx[1]);
        return st;
    }
    case LPI_OP_PLACEHOLDER: {
        bool weak = false;
        if ((st = lpi_json_bool(ctx, where, attrs, "weak", true, &weak))) return st;
        if ((st = lp_placeholder(ctx, dt, nd, shape, out))) return st;
        (*out)->a.weak = weak;
        return LP_OK;
    }
    case LPI_OP_LOOP_OUTPUT: {
        int64_t k = 0;
        if (!lpi_is_loop(in[0]))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: the input must be a while_loop or fori_loop node, not '%s'", where,
                             lpi_ops[in[0]->op].name);
        const lpi_loop *l = in[0]->a.loop;
        if ((st = lpi_json_int(ctx, where, attrs, "index", false, 0, l->ncarry - 1, &k))) return st;
        const lp_array *c = in[0]->in[k];
        if ((st = lpi_node_new(ctx, LPI_OP_LOOP_OUTPUT, c->dtype, c->ndim, c->shape, 1, in, out))) return st;
        (*out)->a.i0 = k;
        return LP_OK;
    }
    case LPI_OP_SOLVE: return lp_linalg_solve(ctx, in[0], in[1], out);
    case LPI_OP_INV: return lp_linalg_inv(ctx, in[0], out);
    case LPI_OP_CHOLESKY: return lp_linalg_cholesky(ctx, in[0], out);
    case LPI_OP_DET: return lp_linalg_det(ctx, in[0], out);
    case LPI_OP_EIGH: case LPI_OP_SLOGDET: return lpi_linalg_packed(ctx, op, in[0], out);
    case LPI_OP_EIG: return lpi_linalg_eig_packed(ctx, in[0], out);
    case LPI_OP_QR_R: case LPI_OP_QR_Q: case LPI_OP_SVD: {
        /* a complete QR factor (mode='complete' of a tall matrix) is told by its declared shape */
        const lp_array *A = in[0];
        bool complete = false;
        if (op != LPI_OP_SVD && A->ndim >= 2 && nd == A->ndim) {
            const int64_t m = A->shape[A->ndim - 2], n = A->shape[A->ndim - 1];
            complete = m > n && shape[nd - (op == LPI_OP_QR_Q ? 1 : 2)] == m;
        }
        return lpi_linalg_factor(ctx, op, in[0], complete, out);
    }
    case LPI_OP_LDA_LABELS: case LPI_OP_LDA_STATS: case LPI_OP_LDA_LW: case LPI_OP_LDA_PROJECT: case LPI_OP_LDA_PREDICT:
        return lpi_lda_node_build(ctx, where, op, dt, nd, shape, in, nin, out);
    case LPI_OP_LSTSQ: {
        double rcond = -1;
        if ((st = lpi_json_flt(ctx, where, attrs, "rcond", false, &rcond))) return st;
        return lp_linalg_lstsq(ctx, in[0], in[1], rcond, out);
    }
    default: break;
    }
    switch (lpi_ops[op].kind) {
    case LP_OPK_ELEMWISE: return lp_elemwise(ctx, lpi_ops[op].name, nin, in, out);
    case LP_OPK_REDUCE: {
        int64_t ax[LP_MAX_NDIM];
        double ddof = 0;
        int n = 0;
        int axes[LP_MAX_NDIM];
        bool keepdims = false, none = json_is_null(json_object_get(attrs, "axes"));
        if ((!none && (st = lpi_json_int_list(ctx, where, attrs, "axes", false, LP_MAX_NDIM, -LP_MAX_NDIM, LP_MAX_NDIM - 1,
                                              &n, ax))) ||
            (st = lpi_json_bool(ctx, where, attrs, "keepdims", false, &keepdims)) ||
            (st = lpi_json_flt(ctx, where, attrs, "ddof", true, &ddof)))
            return st;
        for (int i = 0; i < n; i++) axes[i] = (int)ax[i];
        return lp_reduce_ddof(ctx, lpi_ops[op].name, in[0], none ? NULL : axes, n, keepdims, ddof, out);
    }
    default:
        return lpi_error(ctx, LP_ERR_VALUE, "%s: op '%s' is not supported by graph format version %d", where,
                         lpi_ops[op].name, LPI_GRAPH_VERSION);
    }
}

lp_status lpi_json_build_node(lp_ctx *ctx, const char *where, lpi_op op, lp_dtype dt, int ndim, const int64_t *shape,
                              const json_t *attrs, lp_array *const *in, int nin, lp_array **out) {
    *out = NULL;
    json_t *empty = NULL;
    if (!attrs) attrs = empty = json_object();
    if (!attrs) return lpi_nomem(ctx);
    lp_status st = LP_OK;
    if (!json_is_object(attrs)) st = lpi_error(ctx, LP_ERR_FORMAT, "%s: 'attrs' must be an object", where);
    if (!st) st = lpi_json_only_keys(ctx, where, attrs, allowed_attrs(op), "attribute");
    lp_array *a = NULL;
    if (!st) {
        st = build(ctx, where, op, dt, ndim, shape, attrs, in, nin, &a);
        if (st && strncmp(lp_last_error(ctx), where, strlen(where)) != 0) {
            char msg[LPI_ERRMSG_MAX];
            snprintf(msg, sizeof msg, "%s", lp_last_error(ctx));
            lpi_error(ctx, st, "%s: %s", where, msg);
        }
    }
    json_decref(empty);
    if (st) return st;
    char b1[128], b2[128];
    if (a->dtype != dt) {
        st = lpi_error(ctx, LP_ERR_TYPE, "%s: declared dtype %s, but %s gives %s", where, lp_dtype_name(dt),
                       op == LPI_OP_LOAD ? "the file" : "the op", lp_dtype_name(a->dtype));
    } else if (a->ndim != ndim || memcmp(a->shape, shape, (size_t)ndim * sizeof *shape)) {
        st = lpi_error(ctx, LP_ERR_SHAPE, "%s: declared shape %s, but %s gives %s", where,
                       lpi_shape_str(b1, sizeof b1, ndim, shape), op == LPI_OP_LOAD ? "the file" : "the op",
                       lpi_shape_str(b2, sizeof b2, a->ndim, a->shape));
    }
    if (st) { lp_array_release(a); return st; }
    *out = a;
    return LP_OK;
}

static const char *const K_HEAD[] = {"op", "dtype", "shape", "attrs", "chunks", NULL};

static lp_status set_chunks(lp_ctx *ctx, const char *where, const json_t *obj, lp_array *a) {
    if (!json_object_get(obj, "chunks")) return LP_OK;
    int64_t ch[LP_MAX_NDIM];
    int n = 0;
    lp_status st = lpi_json_int_list(ctx, where, obj, "chunks", false, LP_MAX_NDIM, 0, INT64_MAX, &n, ch);
    if (!st && n != a->ndim)
        st = lpi_error(ctx, LP_ERR_SHAPE, "%s: 'chunks' has %d axes but the array has %d", where, n, a->ndim);
    if (!st) st = lp_array_set_chunks(ctx, a, n, ch);
    return st;
}

static lp_status head_common(lp_ctx *ctx, const char *where, const json_t *obj, lpi_op op, lp_array *const *in, int nin,
                             lp_array **out) {
    lp_dtype dt;
    int nd;
    int64_t shape[LP_MAX_NDIM];
    lp_status st;
    if ((st = lpi_json_dtype(ctx, where, obj, "dtype", &dt)) || (st = lpi_json_shape(ctx, where, obj, "shape", &nd, shape)))
        return st;
    lp_array *a;
    if ((st = lpi_json_build_node(ctx, where, op, dt, nd, shape, json_object_get(obj, "attrs"), in, nin, &a))) return st;
    if ((st = set_chunks(ctx, where, obj, a))) { lp_array_release(a); return st; }
    *out = a;
    return LP_OK;
}

lp_status lpi_json_node_from_head(lp_ctx *ctx, const char *where, const json_t *obj, lp_array *const *in, int nin,
                                  lp_array **out) {
    *out = NULL;
    const char *name;
    lpi_op op;
    lp_status st;
    if (!json_is_object(obj)) return lpi_error(ctx, LP_ERR_FORMAT, "%s: a node must be an object", where);
    if ((st = lpi_json_only_keys(ctx, where, obj, K_HEAD, "key")) || (st = lpi_json_str(ctx, where, obj, "op", false, &name)))
        return st;
    if (!lpi_op_lookup(name, &op)) return lpi_error(ctx, LP_ERR_VALUE, "%s: unknown op '%.40s'", where, name);
    int want = lpi_ops[op].nin;
    if ((want >= 0 && nin != want) || (want < 0 && nin < 1))
        return lpi_error(ctx, LP_ERR_VALUE, "%s: op '%s' takes %d inputs, got %d", where, name, want, nin);
    return head_common(ctx, where, obj, op, in, nin, out);
}

/* ---- the graph: dump ------------------------------------------------------------------- */

void lp_string_free(char *s) { free(s); }

void lp_arrays_release(lp_array **arrays, int n) {
    if (!arrays) return;
    for (int i = 0; i < n; i++) lp_array_release(arrays[i]);
    lp_free(arrays);
}

/* A data leaf (wrapped memory or a computed result): inline, a .npy file in d->data_dir, the
 * caller's hook (d->hook), or an error. */
static lp_status data_node(lp_ctx *ctx, const lp_array *a, int id, const lpi_json_dump *d, json_t *o) {
    const char *data_dir = d->data_dir;
    const lpi_graph_data_hook *hook = d->hook;
    lp_buffer *res = lp_array_result(a);
    const char *base;
    int64_t strides[LP_MAX_NDIM];
    if (res) {
        base = res->data;
        int64_t s = (int64_t)lp_dtype_size(a->dtype);
        for (int i = a->ndim - 1; i >= 0; i--) { strides[i] = s; s *= a->shape[i]; }
    } else {
        base = (const char *)a->a.buf->data + a->a.offset;
        memcpy(strides, a->a.strides, sizeof strides);
    }
    int r = 0;
    if (a->size <= LPI_JSON_INLINE_MAX) {
        json_t *attrs = json_object();
        r |= !attrs || json_object_set_new(attrs, "data", data_json(a->dtype, a->ndim, a->shape, base, strides));
        r |= json_object_set_new(o, "op", json_string("wrap"));
        r |= json_object_set_new(o, "dtype", json_string(lp_dtype_name(a->dtype)));
        r |= json_object_set_new(o, "shape", lpi_json_ints(a->ndim, a->shape));
        r |= json_object_set_new(o, "attrs", attrs);
        return r ? lpi_nomem(ctx) : LP_OK;
    }
    int64_t bytes = a->size * (int64_t)lp_dtype_size(a->dtype);
    if (!data_dir && !hook)
        return lpi_error(ctx, LP_ERR_LIMIT, "cannot dump: node %d (%s) holds in-memory data of %lld bytes; the graph "
                         "format inlines at most %d elements (give a data directory to write it as a .npy file)",
                         id, a->op == LPI_OP_WRAP ? "wrap" : lpi_ops[a->op].name, (long long)bytes, LPI_JSON_INLINE_MAX);
    char path[LPI_JSON_MAX_PATH];
    if (!hook && (size_t)snprintf(path, sizeof path, "%s/%snode%d.npy", data_dir, d->file_prefix, id) >= sizeof path)
        return lpi_error(ctx, LP_ERR_VALUE, "data directory path is too long");
    /* .npy files are C order: gather strided wraps first */
    void *tmp = NULL;
    const void *src = base;
    int64_t s = (int64_t)lp_dtype_size(a->dtype);
    bool contig = true;
    for (int i = a->ndim - 1; i >= 0; i--) {
        contig &= a->shape[i] <= 1 || strides[i] == s;
        s *= a->shape[i];
    }
    if (!contig) {
        if (!(tmp = lp_malloc_aligned((size_t)bytes))) return lpi_nomem(ctx);
        lpi_view dst = {tmp, a->dtype, a->ndim, {0}, {0}}, sv = {(char *)base, a->dtype, a->ndim, {0}, {0}};
        int64_t q = (int64_t)lp_dtype_size(a->dtype);
        for (int i = a->ndim - 1; i >= 0; i--) {
            dst.shape[i] = sv.shape[i] = a->shape[i];
            dst.strides[i] = q;
            sv.strides[i] = strides[i];
            q *= a->shape[i];
        }
        lpi_copy_view(&dst, &sv);
        src = tmp;
    }
    lp_status st = hook ? hook->fn(hook->arg, ctx, id, a, src, path, sizeof path)
                        : lpi_npy_write(ctx, path, a->dtype, a->ndim, a->shape, src, NULL);
    lp_free_aligned(tmp);
    if (st) return st;
    json_t *attrs = json_pack("{ss}", "path", path);
    r |= !attrs || json_object_set_new(o, "op", json_string("load"));
    r |= json_object_set_new(o, "dtype", json_string(lp_dtype_name(a->dtype)));
    r |= json_object_set_new(o, "shape", lpi_json_ints(a->ndim, a->shape));
    r |= json_object_set_new(o, "attrs", attrs);
    return r ? lpi_nomem(ctx) : LP_OK;
}

static lp_status check_targets(lp_ctx *ctx, lp_array *const *targets, int n) {
    if (n < 1 || !targets) return lpi_error(ctx, LP_ERR_VALUE, "need at least one target");
    for (int i = 0; i < n; i++)
        if (!targets[i]) return lpi_error(ctx, LP_ERR_VALUE, "target %d is NULL", i);
    return LP_OK;
}

/* A placeholder node: a parameter of a loop's body or cond. */
static lp_status param_node(lp_ctx *ctx, const lp_array *a, json_t *o) {
    int r = json_object_set_new(o, "op", json_string("placeholder")) |
            json_object_set_new(o, "dtype", json_string(lp_dtype_name(a->dtype))) |
            json_object_set_new(o, "shape", lpi_json_ints(a->ndim, a->shape));
    if (a->op == LPI_OP_PLACEHOLDER && a->a.weak) r |= json_object_set_new(o, "attrs", json_pack("{sb}", "weak", 1));
    return r ? lpi_nomem(ctx) : LP_OK;
}

lp_status lpi_json_dump_nodes(lp_ctx *ctx, lpi_json_dump *d, lp_array *const *targets, int n, int np,
                              lp_array *const *params, json_t *nodes, json_t *tg, json_t *pids) {
    lpi_arena *ar = lpi_arena_create();
    if (!ar) return lpi_nomem(ctx);
    lpi_graph g;
    lp_status st = lpi_graph_build_bound(ctx, ar, targets, n, false, np, params, &g);
    int *pid = lp_malloc((size_t)(np ? np : 1) * sizeof *pid);
    if (!st && !pid) st = lpi_nomem(ctx);
    for (int k = 0; k < np; k++) pid[k] = -1;
    for (int v = 0; v < g.n && !st; v++) {
        const lp_array *a = g.node[v];
        json_t *o = json_object();
        if (!o || json_object_set_new(o, "id", json_integer(v)) || json_array_append_new(nodes, o)) { st = lpi_nomem(ctx); break; }
        if (g.bound[v] >= 0) {
            pid[g.bound[v]] = v;
            st = param_node(ctx, a, o);
        } else if (g.leaf[v]) {
            st = data_node(ctx, a, v, d, o);
        } else if (lpi_ops[a->op].kind == LP_OPK_LOOP && a->op != LPI_OP_LOOP_OUTPUT) {
            if (a->op == LPI_OP_PLACEHOLDER)
                st = lpi_error(ctx, LP_ERR_VALUE, "cannot dump node %d (placeholder): a placeholder outside its loop has no value", v);
            else
                st = lpi_json_loop_dump(ctx, d, a, v, g.in[v], o);
        } else {
            json_t *head;
            if ((st = lpi_json_node_head(ctx, a, &head))) {
                char msg[LPI_ERRMSG_MAX];
                snprintf(msg, sizeof msg, "%s", lp_last_error(ctx));
                st = lpi_error(ctx, st, "cannot dump node %d (%s): %s", v, lpi_ops[a->op].name, msg);
                break;
            }
            json_t *attrs = json_object_get(head, "attrs"), *chunks = json_object_get(head, "chunks");
            int r = json_object_update(o, head);
            if (a->nin) {
                json_t *ins = json_array();
                r |= !ins;
                for (int k = 0; ins && k < a->nin; k++) r |= json_array_append_new(ins, json_integer(g.in[v][k]));
                /* keep the documented key order: id op dtype shape inputs attrs chunks */
                json_object_del(o, "attrs");
                json_object_del(o, "chunks");
                r |= json_object_set_new(o, "inputs", ins);
                if (attrs) r |= json_object_set(o, "attrs", attrs);
                if (chunks) r |= json_object_set(o, "chunks", chunks);
            }
            json_decref(head);
            if (r) st = lpi_nomem(ctx);
        }
        if (!st && g.leaf[v] && g.bound[v] < 0 && g.node[v]->has_chunk_hint &&
            json_object_set_new(o, "chunks", lpi_json_ints(a->ndim, a->chunk_hint)))
            st = lpi_nomem(ctx);
    }
    /* parameters the subgraph does not read still hold their place */
    for (int k = 0, next = g.n; k < np && !st; k++) {
        if (pid[k] < 0) {
            json_t *o = json_object();
            pid[k] = next++;
            if (!o || json_object_set_new(o, "id", json_integer(pid[k])) || json_array_append_new(nodes, o)) { st = lpi_nomem(ctx); break; }
            st = param_node(ctx, params[k], o);
        }
        if (!st && json_array_append_new(pids, json_integer(pid[k]))) st = lpi_nomem(ctx);
    }
    for (int t = 0; t < n && !st; t++)
        if (json_array_append_new(tg, json_integer(g.target_of[t]))) st = lpi_nomem(ctx);
    lp_free(pid);
    lpi_arena_destroy(ar);
    return st;
}

lp_status lpi_graph_json(lp_ctx *ctx, lp_array *const *targets, int n, const char *data_dir, json_t **out) {
    return lpi_graph_json_hook(ctx, targets, n, data_dir, NULL, out);
}

lp_status lpi_graph_json_hook(lp_ctx *ctx, lp_array *const *targets, int n, const char *data_dir,
                              const lpi_graph_data_hook *hook, json_t **out) {
    *out = NULL;
    lp_status st = check_targets(ctx, targets, n);
    if (st) return st;
    json_t *top = json_object(), *nodes = json_array(), *tg = json_array(), *pids = json_array();
    lpi_json_dump d = {.data_dir = data_dir, .file_prefix = "", .hook = hook, .loops = false};
    if (!top || !nodes || !tg || !pids) st = lpi_nomem(ctx);
    if (!st) st = lpi_json_dump_nodes(ctx, &d, targets, n, 0, NULL, nodes, tg, pids);
    /* the lowest version that holds the graph, so graphs without loops stay readable by
     * version-1 readers */
    if (!st && (json_object_set_new(top, "format", json_string(LPI_GRAPH_FORMAT)) ||
                json_object_set_new(top, "version", json_integer(d.loops ? LPI_GRAPH_VERSION : 1)) ||
                json_object_set(top, "nodes", nodes) || json_object_set(top, "targets", tg)))
        st = lpi_nomem(ctx);
    json_decref(nodes);
    json_decref(tg);
    json_decref(pids);
    if (st) { json_decref(top); return st; }
    *out = top;
    return LP_OK;
}

static const char *const GRAPH_LINES[] = {"nodes", NULL};

lp_status lp_graph_dump_to(lp_ctx *ctx, lp_array *const *targets, int n, const char *data_dir, char **json_out) {
    if (!json_out) return lpi_error(ctx, LP_ERR_VALUE, "lp_graph_dump: NULL output");
    *json_out = NULL;
    json_t *top;
    lp_status st = lpi_graph_json(ctx, targets, n, data_dir, &top);
    if (st) return st;
    *json_out = lpi_json_dump_lines(top, GRAPH_LINES);
    json_decref(top);
    return *json_out ? LP_OK : lpi_nomem(ctx);
}

lp_status lp_graph_dump(lp_ctx *ctx, lp_array *const *targets, int n, char **json_out) {
    return lp_graph_dump_to(ctx, targets, n, NULL, json_out);
}

/* ---- the graph: load -------------------------------------------------------------------- */

static const char *const K_TOP[] = {"format", "version", "nodes", "targets", NULL};
static const char *const K_NODE[] = {"id", "op", "dtype", "shape", "inputs", "attrs", "chunks", NULL};

void lpi_json_nodes_free(lpi_json_nodes *t) {
    if (t->gn)
        for (size_t i = 0; i < t->n; i++) { lp_array_release(t->gn[i].built); lp_free(t->gn[i].in); }
    lp_free(t->gn);
    lpi_hmap_free(&t->ids);
    memset(t, 0, sizeof *t);
}

lp_status lpi_json_nodes_get(lp_ctx *ctx, const char *where, const char *what, const lpi_json_nodes *t, const json_t *e,
                             lp_array **out) {
    int64_t idx;
    if (!json_is_integer(e)) return lpi_error(ctx, LP_ERR_FORMAT, "%s: %s must be a node id", where, what);
    if (json_integer_value(e) < 0 || !lpi_hmap_get(&t->ids, (uint64_t)json_integer_value(e), &idx))
        return lpi_error(ctx, LP_ERR_VALUE, "%s: %s %lld does not exist", where, what, (long long)json_integer_value(e));
    *out = t->gn[idx].built;
    return LP_OK;
}

lp_status lpi_json_load_nodes(lp_ctx *ctx, const char *prefix, const json_t *nodes, int version, int depth,
                              lpi_json_nodes *T) {
    lp_status st = LP_OK;
    memset(T, 0, sizeof *T);
    const char *sep = *prefix ? ": " : "";
    if (!json_is_array(nodes)) return lpi_error(ctx, LP_ERR_FORMAT, "%s%s'nodes' must be a list", prefix, sep);
    size_t n = json_array_size(nodes);
    if (n > LPI_JSON_MAX_NODES)
        return lpi_error(ctx, LP_ERR_LIMIT, "%s%s%zu nodes; at most %d are allowed", *prefix ? prefix : "graph", ": ", n,
                         LPI_JSON_MAX_NODES);
    struct lpi_gnode *gn = T->gn = lp_calloc(n ? n : 1, sizeof *gn);
    T->n = n;
    int *indeg = lp_calloc(n ? n : 1, sizeof *indeg), *order = lp_malloc((n ? n : 1) * sizeof *order);
    int *ucount = lp_calloc(n + 1, sizeof *ucount), *users = NULL;
    if (!gn || !indeg || !order || !ucount || !lpi_hmap_init(&T->ids, n ? n : 1)) { st = lpi_nomem(ctx); goto done; }
    /* pass 1: ids */
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(nodes, i);
        char w[LPI_WHERE_MAX];
        snprintf(w, sizeof w, "%s%snodes[%zu]", prefix, sep, i);
        if (!json_is_object(o)) { st = lpi_error(ctx, LP_ERR_FORMAT, "%s: a node must be an object", w); goto done; }
        if ((st = lpi_json_int(ctx, w, o, "id", false, 0, INT32_MAX, &gn[i].id))) goto done;
        int64_t prev;
        if (lpi_hmap_get(&T->ids, (uint64_t)gn[i].id, &prev)) {
            st = lpi_error(ctx, LP_ERR_VALUE, "%s: duplicate node id %lld (also nodes[%lld])", w, (long long)gn[i].id,
                           (long long)prev);
            goto done;
        }
        if (!lpi_hmap_put(&T->ids, (uint64_t)gn[i].id, (int64_t)i)) { st = lpi_nomem(ctx); goto done; }
        gn[i].obj = o;
    }
    /* pass 2: op, inputs, arity */
    size_t nedges = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *o = gn[i].obj;
        const char *name;
        char w[LPI_WHERE_MAX];
        snprintf(w, sizeof w, "%s%snode %lld", prefix, sep, (long long)gn[i].id);
        if ((st = lpi_json_str(ctx, w, o, "op", false, &name))) goto done;
        if (!lpi_op_lookup(name, &gn[i].op)) {
            st = lpi_error(ctx, LP_ERR_VALUE, "%s: unknown op '%.40s'", w, name);
            goto done;
        }
        snprintf(gn[i].where, sizeof gn[i].where, "%s%snode %lld (%s)", prefix, sep, (long long)gn[i].id,
                 lpi_ops[gn[i].op].name);
        const char *W = gn[i].where;
        bool loopop = gn[i].op == LPI_OP_WHILE_LOOP || gn[i].op == LPI_OP_FORI_LOOP;
        if (lpi_ops[gn[i].op].kind == LP_OPK_LOOP && version < 2) {
            st = lpi_error(ctx, LP_ERR_VALUE, "%s: op '%s' needs %s version 2", W, lpi_ops[gn[i].op].name, LPI_GRAPH_FORMAT);
            goto done;
        }
        if (gn[i].op == LPI_OP_PLACEHOLDER && depth == 0) {
            st = lpi_error(ctx, LP_ERR_VALUE, "%s: a placeholder has no value outside a loop's body or cond", W);
            goto done;
        }
        if ((st = lpi_json_only_keys(ctx, W, o, loopop ? lpi_json_loop_keys : K_NODE, "key"))) goto done;
        const json_t *ins = json_object_get(o, "inputs");
        if (ins && !json_is_array(ins)) { st = lpi_error(ctx, LP_ERR_FORMAT, "%s: 'inputs' must be a list of node ids", W); goto done; }
        size_t k = ins ? json_array_size(ins) : 0;
        int want = lpi_ops[gn[i].op].nin;
        if (k > LPI_JSON_MAX_INPUTS) {
            st = lpi_error(ctx, LP_ERR_LIMIT, "%s: %zu inputs; at most %d are allowed", W, k, LPI_JSON_MAX_INPUTS);
            goto done;
        }
        if ((want >= 0 && k != (size_t)want) || (want < 0 && k < 1)) {
            if (want < 0) st = lpi_error(ctx, LP_ERR_VALUE, "%s: takes at least 1 input, got 0", W);
            else st = lpi_error(ctx, LP_ERR_VALUE, "%s: takes %d input%s, got %zu", W, want, want == 1 ? "" : "s", k);
            goto done;
        }
        gn[i].nin = (int)k;
        if (k && !(gn[i].in = lp_malloc(k * sizeof *gn[i].in))) { st = lpi_nomem(ctx); goto done; }
        for (size_t q = 0; q < k; q++) {
            const json_t *e = json_array_get(ins, q);
            int64_t idx;
            if (!json_is_integer(e)) { st = lpi_error(ctx, LP_ERR_FORMAT, "%s: inputs[%zu] must be a node id", W, q); goto done; }
            if (!lpi_hmap_get(&T->ids, (uint64_t)json_integer_value(e), &idx) || json_integer_value(e) < 0) {
                st = lpi_error(ctx, LP_ERR_VALUE, "%s: input %lld does not exist", W, (long long)json_integer_value(e));
                goto done;
            }
            gn[i].in[q] = (int)idx;
            ucount[idx]++;
            nedges++;
        }
        indeg[i] = (int)k;
    }
    /* topological order (Kahn); what is left lies on or after a cycle */
    if (!(users = lp_malloc((nedges ? nedges : 1) * sizeof *users))) { st = lpi_nomem(ctx); goto done; }
    for (size_t i = 0, acc = 0; i <= n; i++) { size_t c = ucount[i]; ucount[i] = (int)acc; acc += c; }
    {
        int *fill = lp_calloc(n ? n : 1, sizeof *fill);
        if (!fill) { st = lpi_nomem(ctx); goto done; }
        for (size_t i = 0; i < n; i++)
            for (int q = 0; q < gn[i].nin; q++) { int p = gn[i].in[q]; users[ucount[p] + fill[p]++] = (int)i; }
        lp_free(fill);
    }
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < n; i++)
        if (!indeg[i]) order[tail++] = (int)i;
    while (head < tail) {
        int v = order[head++];
        for (int u = ucount[v]; u < ucount[v + 1]; u++)
            if (--indeg[users[u]] == 0) order[tail++] = users[u];
    }
    if (tail < n) {
        /* walk inputs that are still pending until a node repeats: it lies on a cycle */
        int v = -1;
        for (size_t i = 0; i < n && v < 0; i++)
            if (indeg[i]) v = (int)i;
        for (size_t steps = 0; steps < n; steps++) {
            int nx = -1;
            for (int q = 0; q < gn[v].nin && nx < 0; q++)
                if (indeg[gn[v].in[q]]) nx = gn[v].in[q];
            if (nx < 0) break;
            v = nx;
        }
        st = lpi_error(ctx, LP_ERR_VALUE, "%s: the inputs form a cycle through this node", gn[v].where);
        goto done;
    }
    /* build in order */
    for (size_t oi = 0; oi < n; oi++) {
        struct lpi_gnode *g = &gn[order[oi]];
        lp_array *stack_in[8], **in = g->nin <= 8 ? stack_in : lp_malloc((size_t)g->nin * sizeof *in);
        if (!in) { st = lpi_nomem(ctx); goto done; }
        for (int q = 0; q < g->nin; q++) in[q] = gn[g->in[q]].built;
        if (g->op == LPI_OP_WHILE_LOOP || g->op == LPI_OP_FORI_LOOP)
            st = lpi_json_loop_build(ctx, g->where, g->obj, g->op, in, g->nin, version, depth, &g->built);
        else
            st = head_common(ctx, g->where, g->obj, g->op, in, g->nin, &g->built);
        if (in != stack_in) lp_free(in);
        if (st) goto done;
    }
done:
    lp_free(indeg);
    lp_free(order);
    lp_free(ucount);
    lp_free(users);
    if (st) lpi_json_nodes_free(T);
    return st;
}

lp_status lpi_graph_from_json(lp_ctx *ctx, const json_t *top, lp_array ***targets_out, int *n_out) {
    lp_status st;
    if (!json_is_object(top)) return lpi_error(ctx, LP_ERR_FORMAT, "graph: the document must be a JSON object");
    const char *fmt;
    int64_t version;
    if ((st = lpi_json_str(ctx, "graph", top, "format", false, &fmt))) return st;
    if (strcmp(fmt, LPI_GRAPH_FORMAT))
        return lpi_error(ctx, LP_ERR_FORMAT, "graph: format is '%.40s', not '%s'", fmt, LPI_GRAPH_FORMAT);
    if ((st = lpi_json_int(ctx, "graph", top, "version", false, INT64_MIN, INT64_MAX, &version))) return st;
    if (version < 1 || version > LPI_GRAPH_VERSION)
        return lpi_error(ctx, LP_ERR_FORMAT, "graph: unsupported %s version %lld (this build reads versions 1 to %d)",
                         LPI_GRAPH_FORMAT, (long long)version, LPI_GRAPH_VERSION);
    if ((st = lpi_json_only_keys(ctx, "graph", top, K_TOP, "key"))) return st;
    const json_t *nodes = json_object_get(top, "nodes"), *tg = json_object_get(top, "targets");
    if (!nodes) return lpi_json_missing(ctx, "graph", "nodes");
    if (!tg) return lpi_json_missing(ctx, "graph", "targets");
    if (!json_is_array(nodes)) return lpi_error(ctx, LP_ERR_FORMAT, "graph: 'nodes' must be a list");
    if (!json_is_array(tg)) return lpi_error(ctx, LP_ERR_FORMAT, "graph: 'targets' must be a list");
    size_t nt = json_array_size(tg);
    if (nt == 0) return lpi_error(ctx, LP_ERR_VALUE, "graph: 'targets' is empty");
    if (nt > LPI_JSON_MAX_NODES) return lpi_error(ctx, LP_ERR_LIMIT, "graph: too many targets (%zu)", nt);
    lpi_json_nodes T;
    if ((st = lpi_json_load_nodes(ctx, "", nodes, (int)version, 0, &T))) return st;
    lp_array **outs = lp_calloc(nt, sizeof *outs);
    if (!outs) st = lpi_nomem(ctx);
    for (size_t t = 0; t < nt && !st; t++) {
        const json_t *e = json_array_get(tg, t);
        int64_t idx;
        if (!json_is_integer(e)) { st = lpi_error(ctx, LP_ERR_FORMAT, "graph: targets[%zu] must be a node id", t); break; }
        if (!lpi_hmap_get(&T.ids, (uint64_t)json_integer_value(e), &idx) || json_integer_value(e) < 0) {
            st = lpi_error(ctx, LP_ERR_VALUE, "graph: target %lld does not exist", (long long)json_integer_value(e));
            break;
        }
        if (lpi_is_loop(T.gn[idx].built)) {
            st = lpi_error(ctx, LP_ERR_VALUE, "graph: target %lld is a %s node, which has no value of its own (target its "
                           "loop_output nodes)", (long long)json_integer_value(e), lpi_ops[T.gn[idx].op].name);
            break;
        }
        outs[t] = T.gn[idx].built;
        lp_array_retain(outs[t]);
    }
    lpi_json_nodes_free(&T);
    if (st) { if (outs) lp_arrays_release(outs, (int)nt); return st; }
    *targets_out = outs;
    *n_out = (int)nt;
    return LP_OK;
}

lp_status lp_graph_load(lp_ctx *ctx, const char *json, lp_array ***targets_out, int *n_out) {
    if (!targets_out || !n_out) return lpi_error(ctx, LP_ERR_VALUE, "lp_graph_load: NULL output");
    *targets_out = NULL;
    *n_out = 0;
    if (!json) return lpi_error(ctx, LP_ERR_VALUE, "lp_graph_load: NULL text");
    json_error_t err;
    json_t *top = json_loads(json, JSON_REJECT_DUPLICATES, &err);
    if (!top) return lpi_error(ctx, LP_ERR_FORMAT, "graph: invalid JSON at line %d, column %d: %s", err.line, err.column, err.text);
    lp_status st = lpi_graph_from_json(ctx, top, targets_out, n_out);
    json_decref(top);
    return st;
}
