/* Plans, pnodes, tasks and programs <-> JSON (see serialize.h). */
#include "plan/serialize.h"
#include "plan/planner.h"
#include "kernels/loops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const KERNEL_NAMES[LPI_K_COUNT] = {
    [LPI_K_NONE] = "none", [LPI_K_GEN] = "gen", [LPI_K_LOAD] = "load", [LPI_K_MAP] = "map",
    [LPI_K_PARTIAL] = "partial", [LPI_K_COMBINE] = "combine", [LPI_K_COPY] = "copy", [LPI_K_RESHAPE] = "reshape",
    [LPI_K_MATMUL] = "matmul", [LPI_K_LINALG] = "linalg", [LPI_K_SCAN] = "scan", [LPI_K_SORT] = "sort", [LPI_K_INDEX] = "index", [LPI_K_FFT] = "fft",
};

const char *lpi_kernel_name(lpi_kernel k) {
    return (unsigned)k < LPI_K_COUNT && KERNEL_NAMES[k] ? KERNEL_NAMES[k] : "unknown";
}

bool lpi_kernel_lookup(const char *name, lpi_kernel *out) {
    for (int k = 0; k < LPI_K_COUNT; k++)
        if (KERNEL_NAMES[k] && !strcmp(KERNEL_NAMES[k], name)) { *out = (lpi_kernel)k; return true; }
    return false;
}

#define FAIL(st, ...) return lpi_error(ctx, st, __VA_ARGS__)

/* ---- boxes and grids ---- */

json_t *lpi_box_to_json(const lpi_box *b) {
    json_t *a = json_array();
    for (int i = 0; a && i < b->ndim; i++)
        if (json_array_append_new(a, json_pack("[II]", (json_int_t)b->lo[i], (json_int_t)b->hi[i]))) { json_decref(a); return NULL; }
    return a;
}

lp_status lpi_box_from_json(lp_ctx *ctx, const char *where, const json_t *j, int ndim, const int64_t *shape,
                            lpi_box *out) {
    if (!json_is_array(j)) FAIL(LP_ERR_FORMAT, "%s: a box must be a list of [lo, hi] pairs", where);
    if (json_array_size(j) != (size_t)ndim)
        FAIL(LP_ERR_SHAPE, "%s: box has %zu axes, expected %d", where, json_array_size(j), ndim);
    memset(out, 0, sizeof *out);
    out->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        const json_t *p = json_array_get(j, (size_t)i);
        if (!json_is_array(p) || json_array_size(p) != 2 || !json_is_integer(json_array_get(p, 0)) ||
            !json_is_integer(json_array_get(p, 1)))
            FAIL(LP_ERR_FORMAT, "%s: box axis %d must be [lo, hi]", where, i);
        int64_t lo = json_integer_value(json_array_get(p, 0)), hi = json_integer_value(json_array_get(p, 1));
        if (lo < 0 || hi < lo || (shape && hi > shape[i]))
            FAIL(LP_ERR_VALUE, "%s: box axis %d is [%lld, %lld), outside [0, %lld)", where, i, (long long)lo,
                 (long long)hi, (long long)(shape ? shape[i] : INT64_MAX));
        out->lo[i] = lo;
        out->hi[i] = hi;
    }
    return LP_OK;
}

json_t *lpi_grid_to_json(const lpi_grid *g) {
    json_t *a = json_array();
    for (int i = 0; a && i < g->ndim; i++)
        if (json_array_append_new(a, lpi_json_ints((int)g->nchunks[i] + 1, g->bounds[i]))) { json_decref(a); return NULL; }
    return a;
}

lp_status lpi_grid_from_json(lp_ctx *ctx, lpi_arena *ar, const char *where, const json_t *j, int ndim,
                             const int64_t *shape, lpi_grid *out) {
    if (!json_is_array(j) || json_array_size(j) != (size_t)ndim)
        FAIL(LP_ERR_FORMAT, "%s: 'grid' must list the chunk boundaries of each of the %d axes", where, ndim);
    memset(out, 0, sizeof *out);
    out->ndim = ndim;
    memcpy(out->shape, shape, (size_t)ndim * sizeof *shape);
    out->total = 1;
    for (int i = 0; i < ndim; i++) {
        const json_t *b = json_array_get(j, (size_t)i);
        size_t n = json_is_array(b) ? json_array_size(b) : 0;
        if (n < 2) FAIL(LP_ERR_FORMAT, "%s: grid axis %d must be a list [0, ..., %lld] of at least two bounds", where, i,
                        (long long)shape[i]);
        if ((int64_t)n - 1 > shape[i] + 1 || (int64_t)n > LPI_PLAN_MAX_CHUNKS)
            FAIL(LP_ERR_LIMIT, "%s: grid axis %d has %zu chunks for %lld elements", where, i, n - 1, (long long)shape[i]);
        int64_t *bd = lpi_arena_alloc(ar, n * sizeof *bd);
        if (!bd) return lpi_nomem(ctx);
        for (size_t k = 0; k < n; k++) {
            const json_t *e = json_array_get(b, k);
            if (!json_is_integer(e)) FAIL(LP_ERR_FORMAT, "%s: grid axis %d bound %zu must be an integer", where, i, k);
            bd[k] = json_integer_value(e);
            bool ok = k == 0 ? bd[0] == 0 : (bd[k] > bd[k - 1] || (shape[i] == 0 && n == 2 && bd[k] == 0));
            if (!ok) FAIL(LP_ERR_VALUE, "%s: grid axis %d bounds must rise strictly from 0", where, i);
        }
        if (bd[n - 1] != shape[i])
            FAIL(LP_ERR_VALUE, "%s: grid axis %d ends at %lld, not at the axis length %lld", where, i,
                 (long long)bd[n - 1], (long long)shape[i]);
        out->bounds[i] = bd;
        out->nchunks[i] = (int64_t)n - 1;
        if (__builtin_mul_overflow(out->total, out->nchunks[i], &out->total) || out->total > LPI_PLAN_MAX_CHUNKS)
            FAIL(LP_ERR_LIMIT, "%s: the grid has more than %lld chunks", where, (long long)LPI_PLAN_MAX_CHUNKS);
    }
    return LP_OK;
}

/* ---- axis maps ---- */

json_t *lpi_axismap_to_json(const lpi_axismap *m, int out_ndim, int in_ndim) {
    int64_t src[LP_MAX_NDIM];
    for (int j = 0; j < out_ndim; j++) src[j] = m->src[j];
    json_t *fixed = json_array();
    for (int i = 0; fixed && i < in_ndim; i++)
        if (json_array_append_new(fixed, m->dropped[i] ? json_integer((json_int_t)m->fixed[i]) : json_null())) {
            json_decref(fixed);
            fixed = NULL;
        }
    if (!fixed) return NULL;
    return json_pack("{sosososo}", "src", lpi_json_ints(out_ndim, src), "off", lpi_json_ints(out_ndim, m->off), "step",
                     lpi_json_ints(out_ndim, m->step), "fixed", fixed);
}

static const char *const K_MAP[] = {"src", "off", "step", "fixed", NULL};

lp_status lpi_axismap_from_json(lp_ctx *ctx, const char *where, const json_t *j, int out_ndim, int in_ndim,
                                lpi_axismap *out) {
    lp_status st;
    if (!json_is_object(j)) FAIL(LP_ERR_FORMAT, "%s: 'map' must be an object", where);
    if ((st = lpi_json_only_keys(ctx, where, j, K_MAP, "map key"))) return st;
    int64_t src[LP_MAX_NDIM];
    int n1 = 0, n2 = 0, n3 = 0;
    memset(out, 0, sizeof *out);
    if ((st = lpi_json_int_list(ctx, where, j, "src", false, LP_MAX_NDIM, -1, in_ndim - 1, &n1, src)) ||
        (st = lpi_json_int_list(ctx, where, j, "off", false, LP_MAX_NDIM, INT64_MIN, INT64_MAX, &n2, out->off)) ||
        (st = lpi_json_int_list(ctx, where, j, "step", false, LP_MAX_NDIM, -(INT64_C(1) << 40), INT64_C(1) << 40, &n3,
                                out->step)))
        return st;
    if (n1 != out_ndim || n2 != out_ndim || n3 != out_ndim)
        FAIL(LP_ERR_SHAPE, "%s: 'src', 'off' and 'step' must have one entry per output axis (%d)", where, out_ndim);
    const json_t *fx = json_object_get(j, "fixed");
    if (!json_is_array(fx) || json_array_size(fx) != (size_t)in_ndim)
        FAIL(LP_ERR_FORMAT, "%s: 'fixed' must have one entry (null or an index) per input axis (%d)", where, in_ndim);
    uint32_t used = 0;
    for (int jx = 0; jx < out_ndim; jx++) {
        out->src[jx] = (int8_t)src[jx];
        if (src[jx] < 0) continue;
        if (used & (1u << src[jx])) FAIL(LP_ERR_VALUE, "%s: input axis %lld is read by two output axes", where, (long long)src[jx]);
        used |= 1u << src[jx];
    }
    for (int i = 0; i < in_ndim; i++) {
        const json_t *e = json_array_get(fx, (size_t)i);
        if (json_is_null(e)) {
            if (!(used & (1u << i))) FAIL(LP_ERR_VALUE, "%s: input axis %d is neither read nor fixed", where, i);
            continue;
        }
        if (!json_is_integer(e) || json_integer_value(e) < 0)
            FAIL(LP_ERR_FORMAT, "%s: fixed[%d] must be null or a non-negative index", where, i);
        if (used & (1u << i)) FAIL(LP_ERR_VALUE, "%s: input axis %d is both read and fixed", where, i);
        out->dropped[i] = true;
        out->fixed[i] = json_integer_value(e);
    }
    return LP_OK;
}

/* ---- programs ---- */

static json_t *raw_value_json(lp_dtype dt, lpi_raw raw) { return lpi_json_elem(dt, &raw); }
static bool raw_value_from_json(lp_dtype dt, const json_t *j, lpi_raw *raw) {
    memset(raw, 0, sizeof *raw);
    return lpi_json_elem_get(dt, j, raw);
}

json_t *lpi_program_to_json(const lpi_program *p) {
    json_t *regs = json_array(), *consts = json_array(), *code = json_array();
    bool ok = regs && consts && code;
    for (int r = 0; ok && r < p->nregs; r++) ok = !json_array_append_new(regs, json_string(lp_dtype_name(p->reg_dt[r])));
    for (int c = 0; ok && c < p->nconst; c++)
        ok = !json_array_append_new(consts, raw_value_json(p->reg_dt[p->ninputs + c], p->consts[c]));
    for (int i = 0; ok && i < p->ninstr; i++) {
        const lpi_instr *in = &p->ins[i];
        json_t *e = json_pack("[ssi]", lpi_ops[in->op].name, lp_dtype_name((lp_dtype)in->dt), in->dst);
        for (int s = 0; e && s < in->nsrc; s++)
            if (json_array_append_new(e, json_integer(in->src[s]))) { json_decref(e); e = NULL; }
        ok = e && !json_array_append_new(code, e);
    }
    if (!ok) { json_decref(regs); json_decref(consts); json_decref(code); return NULL; }
    return json_pack("{sisosososi}", "inputs", p->ninputs, "regs", regs, "consts", consts, "code", code, "out", p->out_reg);
}

static const char *const K_PROG[] = {"inputs", "regs", "consts", "code", "out", NULL};

lp_status lpi_program_from_json(lp_ctx *ctx, lpi_arena *ar, const char *where, const json_t *j, lpi_program **out) {
    lp_status st;
    *out = NULL;
    if (!json_is_object(j)) FAIL(LP_ERR_FORMAT, "%s: 'program' must be an object", where);
    if ((st = lpi_json_only_keys(ctx, where, j, K_PROG, "program key"))) return st;
    const json_t *regs = json_object_get(j, "regs"), *consts = json_object_get(j, "consts"), *code = json_object_get(j, "code");
    if (!json_is_array(regs) || !json_is_array(consts) || !json_is_array(code))
        FAIL(LP_ERR_FORMAT, "%s: program 'regs', 'consts' and 'code' must be lists", where);
    size_t nregs = json_array_size(regs), nconst = json_array_size(consts), ninstr = json_array_size(code);
    if (nregs > LPI_PLAN_MAX_REGS || ninstr > LPI_PLAN_MAX_REGS)
        FAIL(LP_ERR_LIMIT, "%s: program has %zu registers and %zu instructions; at most %d each", where, nregs, ninstr,
             LPI_PLAN_MAX_REGS);
    int64_t ninputs, outreg;
    if ((st = lpi_json_int(ctx, where, j, "inputs", false, 0, (int64_t)nregs, &ninputs)) ||
        (st = lpi_json_int(ctx, where, j, "out", false, 0, (int64_t)nregs - 1, &outreg)))
        return st;
    if ((size_t)ninputs + nconst > nregs) FAIL(LP_ERR_VALUE, "%s: more inputs and constants than registers", where);
    if (ninstr == 0) FAIL(LP_ERR_VALUE, "%s: program has no instructions", where);
    lpi_program *p = lpi_arena_alloc(ar, sizeof *p);
    if (!p) return lpi_nomem(ctx);
    p->ninputs = (int)ninputs;
    p->nconst = (int)nconst;
    p->nregs = (int)nregs;
    p->ninstr = (int)ninstr;
    p->out_reg = (int)outreg;
    p->reg_dt = lpi_arena_alloc(ar, nregs * sizeof *p->reg_dt + 1);
    p->consts = lpi_arena_alloc(ar, nconst * sizeof *p->consts + 1);
    p->ins = lpi_arena_alloc(ar, ninstr * sizeof *p->ins);
    uint8_t *written = lpi_arena_alloc(ar, nregs + 1);
    if (!p->reg_dt || !p->consts || !p->ins || !written) return lpi_nomem(ctx);
    for (size_t r = 0; r < nregs; r++) {
        const json_t *e = json_array_get(regs, r);
        bool ok = false;
        for (int d = 0; json_is_string(e) && d < LP_DTYPE_COUNT && !ok; d++)
            if (!strcmp(json_string_value(e), lp_dtype_name((lp_dtype)d))) { p->reg_dt[r] = (lp_dtype)d; ok = true; }
        if (!ok) FAIL(LP_ERR_TYPE, "%s: register %zu has no valid dtype", where, r);
        written[r] = r < (size_t)ninputs + nconst; /* inputs and constants are defined up front */
    }
    for (size_t c = 0; c < nconst; c++)
        if (!raw_value_from_json(p->reg_dt[ninputs + c], json_array_get(consts, c), &p->consts[c]))
            FAIL(LP_ERR_FORMAT, "%s: constant %zu is not a %s value", where, c, lp_dtype_name(p->reg_dt[ninputs + c]));
    const int first_temp = (int)(ninputs + nconst);
    if (outreg < first_temp) FAIL(LP_ERR_VALUE, "%s: the output register must be a temporary", where);
    for (size_t i = 0; i < ninstr; i++) {
        const json_t *e = json_array_get(code, i);
        size_t n = json_is_array(e) ? json_array_size(e) : 0;
        if (n < 4 || n > 6 || !json_is_string(json_array_get(e, 0)) || !json_is_string(json_array_get(e, 1)))
            FAIL(LP_ERR_FORMAT, "%s: instruction %zu must be [op, dtype, dst, src...]", where, i);
        lpi_op op;
        const char *name = json_string_value(json_array_get(e, 0));
        if (!lpi_op_lookup(name, &op) || lpi_ops[op].kind != LP_OPK_ELEMWISE)
            FAIL(LP_ERR_VALUE, "%s: instruction %zu: '%.40s' is not an elementwise op", where, i, name);
        lpi_instr *in = &p->ins[i];
        in->op = (uint16_t)op;
        bool okdt = false;
        for (int d = 0; d < LP_DTYPE_COUNT && !okdt; d++)
            if (!strcmp(json_string_value(json_array_get(e, 1)), lp_dtype_name((lp_dtype)d))) { in->dt = (uint8_t)d; okdt = true; }
        if (!okdt) FAIL(LP_ERR_TYPE, "%s: instruction %zu has no valid loop dtype", where, i);
        int nsrc = (int)n - 3, want = op == LPI_OP_ASTYPE ? 1 : lpi_ops[op].nin;
        if (nsrc != want) FAIL(LP_ERR_VALUE, "%s: instruction %zu (%s) has %d sources, needs %d", where, i, name, nsrc, want);
        in->nsrc = (uint8_t)nsrc;
        int64_t regv[4];
        for (int k = 0; k < nsrc + 1; k++) {
            const json_t *x = json_array_get(e, (size_t)k + 2);
            if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) >= (json_int_t)nregs)
                FAIL(LP_ERR_VALUE, "%s: instruction %zu: register operand %d out of range", where, i, k);
            regv[k] = json_integer_value(x);
        }
        in->dst = (int16_t)regv[0];
        if (in->dst < first_temp) FAIL(LP_ERR_VALUE, "%s: instruction %zu writes input or constant register %d", where, i, in->dst);
        if (written[in->dst]) FAIL(LP_ERR_VALUE, "%s: instruction %zu writes register %d a second time", where, i, in->dst);
        for (int s = 0; s < nsrc; s++) {
            in->src[s] = (int16_t)regv[s + 1];
            if (!written[in->src[s]]) FAIL(LP_ERR_VALUE, "%s: instruction %zu reads register %d before it is written", where, i, in->src[s]);
            if (in->src[s] == outreg) FAIL(LP_ERR_VALUE, "%s: instruction %zu reads the output register", where, i);
            lp_dtype want_dt = (op == LPI_OP_WHERE && s == 0) ? LP_BOOL : (lp_dtype)in->dt;
            if (p->reg_dt[in->src[s]] != want_dt)
                FAIL(LP_ERR_TYPE, "%s: instruction %zu (%s) reads %s register %d in a %s loop", where, i, name,
                     lp_dtype_name(p->reg_dt[in->src[s]]), in->src[s], lp_dtype_name(want_dt));
        }
        lp_dtype dd = p->reg_dt[in->dst];
        if (op == LPI_OP_ASTYPE) {
            if (!lpi_cast_loops[in->dt][dd])
                FAIL(LP_ERR_TYPE, "%s: instruction %zu: no cast from %s to %s", where, i, lp_dtype_name((lp_dtype)in->dt), lp_dtype_name(dd));
        } else {
            if (!lpi_loops[op][in->dt])
                FAIL(LP_ERR_TYPE, "%s: instruction %zu: %s has no %s loop", where, i, name, lp_dtype_name((lp_dtype)in->dt));
            if (lpi_loop_out_dtype(op, (lp_dtype)in->dt) != dd)
                FAIL(LP_ERR_TYPE, "%s: instruction %zu: %s in %s gives %s, not %s", where, i, name,
                     lp_dtype_name((lp_dtype)in->dt), lp_dtype_name(lpi_loop_out_dtype(op, (lp_dtype)in->dt)), lp_dtype_name(dd));
        }
        written[in->dst] = 1;
    }
    if (p->ins[ninstr - 1].dst != outreg)
        FAIL(LP_ERR_VALUE, "%s: the last instruction must write the output register %lld", where, (long long)outreg);
    *out = p;
    return LP_OK;
}

/* ---- reductions ---- */

static int reduce_fields(lpi_op op) {
    return op == LPI_OP_ARGMIN || op == LPI_OP_ARGMAX ? 2 : op == LPI_OP_VAR || op == LPI_OP_STD ? 3 : 1;
}

json_t *lpi_reduce_to_json(const lpi_reduce *r) {
    int64_t ax[LP_MAX_NDIM];
    int n = 0;
    for (int i = 0; i < r->in_ndim; i++)
        if (r->axes & (1u << i)) ax[n++] = i;
    return json_pack("{sssosososssisI}", "op", lpi_ops[r->op].name, "axes", lpi_json_ints(n, ax), "in_shape",
                     lpi_json_ints(r->in_ndim, r->in_shape), "ddof", lpi_json_float(r->ddof), "acc",
                     r->acc_float ? "float64" : r->acc_unsigned ? "uint64" : "int64",
                     "fields", r->nfields, "count", (json_int_t)r->count);
}

static const char *const K_RED[] = {"op", "axes", "in_shape", "ddof", "acc", "fields", "count", NULL};

lp_status lpi_reduce_from_json(lp_ctx *ctx, lpi_arena *ar, const char *where, const json_t *j, lpi_reduce **out) {
    lp_status st;
    if (!json_is_object(j)) FAIL(LP_ERR_FORMAT, "%s: 'reduce' must be an object", where);
    if ((st = lpi_json_only_keys(ctx, where, j, K_RED, "reduce key"))) return st;
    lpi_reduce *r = lpi_arena_alloc(ar, sizeof *r);
    if (!r) return lpi_nomem(ctx);
    const char *name, *acc;
    int64_t ax[LP_MAX_NDIM], fields, count;
    double ddof;
    int nax;
    if ((st = lpi_json_str(ctx, where, j, "op", false, &name))) return st;
    /* the Fisher LDA reductions (lda_labels, lda_stats, lda_lw) share the partial/combine tree */
    if (!lpi_op_lookup(name, &r->op) ||
        (lpi_ops[r->op].kind != LP_OPK_REDUCE && r->op != LPI_OP_LDA_LABELS && r->op != LPI_OP_LDA_STATS &&
         r->op != LPI_OP_LDA_LW))
        FAIL(LP_ERR_VALUE, "%s: '%.40s' is not a reduction", where, name);
    if ((st = lpi_json_shape(ctx, where, j, "in_shape", &r->in_ndim, r->in_shape)) ||
        (st = lpi_json_int_list(ctx, where, j, "axes", false, LP_MAX_NDIM, 0, r->in_ndim - 1, &nax, ax)) ||
        (st = lpi_json_flt(ctx, where, j, "ddof", false, &ddof)) ||
        (st = lpi_json_str(ctx, where, j, "acc", false, &acc)) ||
        (st = lpi_json_int(ctx, where, j, "fields", false, 1, 3, &fields)) ||
        (st = lpi_json_int(ctx, where, j, "count", false, 0, INT64_MAX, &count)))
        return st;
    for (int k = 0; k < nax; k++) {
        if (r->axes & (1u << ax[k])) FAIL(LP_ERR_VALUE, "%s: axis %lld is reduced twice", where, (long long)ax[k]);
        r->axes |= 1u << ax[k];
    }
    if (strcmp(acc, "float64") && strcmp(acc, "int64") && strcmp(acc, "uint64"))
        FAIL(LP_ERR_TYPE, "%s: 'acc' must be float64, int64 or uint64", where);
    r->acc_float = !strcmp(acc, "float64");
    /* uint64: int64 states with the sign bit flipped (task.h), only where order matters */
    r->acc_unsigned = !strcmp(acc, "uint64");
    if (r->acc_unsigned && r->op != LPI_OP_MIN && r->op != LPI_OP_MAX && r->op != LPI_OP_ARGMIN && r->op != LPI_OP_ARGMAX)
        FAIL(LP_ERR_TYPE, "%s: %s does not accumulate in uint64", where, name);
    if (!(ddof >= 0) || !isfinite(ddof)) FAIL(LP_ERR_VALUE, "%s: 'ddof' must be a finite number >= 0", where);
    r->ddof = ddof;
    r->nfields = (int)fields;
    if (r->nfields != reduce_fields(r->op))
        FAIL(LP_ERR_VALUE, "%s: %s keeps %d state fields, not %d", where, name, reduce_fields(r->op), r->nfields);
    if ((r->op == LPI_OP_ANY || r->op == LPI_OP_ALL) && r->acc_float)
        FAIL(LP_ERR_TYPE, "%s: %s accumulates in int64", where, name);
    int64_t c = 1;
    for (int i = 0; i < r->in_ndim; i++)
        if (r->axes & (1u << i)) c *= r->in_shape[i];
    if (c != count) FAIL(LP_ERR_VALUE, "%s: 'count' is %lld but the reduced axes hold %lld", where, (long long)count, (long long)c);
    r->count = count;
    *out = r;
    return LP_OK;
}

/* ---- linear algebra parameters ---- */

json_t *lpi_linalg_to_json(const lpi_linalg_params *l) {
    return json_pack("{sbsbsisisisssbsiso}", "transpose_a", (l->flags & LPI_MM_TA) != 0, "transpose_b",
                     (l->flags & LPI_MM_TB) != 0, "a_ndim", l->a_ndim, "b_ndim", l->b_ndim, "out_ndim", l->out_ndim,
                     "loop_dtype", lp_dtype_name(l->loop_dt), "syrk", l->syrk, "blas_threads", l->blas_threads,
                     "rcond", lpi_json_float(l->rcond));
}

static const char *const K_LINALG[] = {"transpose_a", "transpose_b", "a_ndim", "b_ndim", "out_ndim", "loop_dtype",
                                       "syrk", "blas_threads", "rcond", NULL};

lp_status lpi_linalg_from_json(lp_ctx *ctx, lpi_arena *ar, const char *where, const json_t *j,
                               lpi_linalg_params **out) {
    lp_status st;
    *out = NULL;
    if (!json_is_object(j)) FAIL(LP_ERR_FORMAT, "%s: 'linalg' must be an object", where);
    if ((st = lpi_json_only_keys(ctx, where, j, K_LINALG, "linalg key"))) return st;
    for (int k = 0; K_LINALG[k]; k++)
        if (!json_object_get(j, K_LINALG[k])) return lpi_json_missing(ctx, where, K_LINALG[k]);
    lpi_linalg_params *l = lpi_arena_alloc(ar, sizeof *l);
    if (!l) return lpi_nomem(ctx);
    memset(l, 0, sizeof *l);
    bool ta, tb;
    int64_t an, bn, on, th;
    if ((st = lpi_json_bool(ctx, where, j, "transpose_a", false, &ta)) ||
        (st = lpi_json_bool(ctx, where, j, "transpose_b", false, &tb)) ||
        (st = lpi_json_int(ctx, where, j, "a_ndim", false, 0, LP_MAX_NDIM, &an)) ||
        (st = lpi_json_int(ctx, where, j, "b_ndim", false, 0, LP_MAX_NDIM, &bn)) ||
        (st = lpi_json_int(ctx, where, j, "out_ndim", false, 0, LP_MAX_NDIM, &on)) ||
        (st = lpi_json_dtype(ctx, where, j, "loop_dtype", &l->loop_dt)) ||
        (st = lpi_json_bool(ctx, where, j, "syrk", false, &l->syrk)) ||
        (st = lpi_json_int(ctx, where, j, "blas_threads", false, 1, 1024, &th)) ||
        (st = lpi_json_flt(ctx, where, j, "rcond", false, &l->rcond)))
        return st;
    /* (complex: the LAPACK ops, never a matmul; lpi_linalg_node_check ties it to the op) */
    if (l->loop_dt != LP_FLOAT32 && l->loop_dt != LP_FLOAT64 && l->loop_dt != LP_INT64 && !lpi_dtype_is_complex(l->loop_dt))
        FAIL(LP_ERR_TYPE, "%s: 'loop_dtype' must be float32, float64, int64, complex64 or complex128", where);
    if (isnan(l->rcond) || isinf(l->rcond)) FAIL(LP_ERR_VALUE, "%s: 'rcond' must be finite", where);
    l->flags = (ta ? LPI_MM_TA : 0) | (tb ? LPI_MM_TB : 0);
    l->a_ndim = (int)an;
    l->b_ndim = (int)bn;
    l->out_ndim = (int)on;
    l->blas_threads = (int)th;
    *out = l;
    return LP_OK;
}

static bool is_linalg_single(lpi_op op) {
    return op == LPI_OP_SOLVE || op == LPI_OP_INV || op == LPI_OP_CHOLESKY || op == LPI_OP_EIGH || op == LPI_OP_LSTSQ ||
           op == LPI_OP_DET || op == LPI_OP_SLOGDET || op == LPI_OP_QR_R || op == LPI_OP_QR_Q || op == LPI_OP_SVD ||
           op == LPI_OP_EIG;
}

/* QR tasks (TSQR's blocks and stacks: plan_linalg.c) and svd: the shapes qr_run / svd_run
 * accept, from the boxes. A stack of matrices (one operand) has the same leading axes in the
 * operand and the result; a complete QR factor has p rows (R) or columns (Q). */
static lp_status factor_task_check(lp_ctx *ctx, const char *where, const lpi_pnode *pn, const lpi_task *t) {
    /* (a wire node has no input list: the task's operands count) */
    const int nin = t->nops, nd = t->box.ndim, nb = nd - 2;
    if (nin < 1 || nin > (pn->op == LPI_OP_QR_Q ? 2 : 1))
        FAIL(LP_ERR_VALUE, "%s: %s reads %s operand", where, lpi_ops[pn->op].name, pn->op == LPI_OP_QR_Q ? "one or two" : "one");
    if (nd < 2 || (nb > 0 && nin != 1)) FAIL(LP_ERR_SHAPE, "%s: %s reads and writes matrices", where, lpi_ops[pn->op].name);
    int64_t e[2][2] = {{0}}, o0 = t->box.hi[nb] - t->box.lo[nb], o1 = t->box.hi[nb + 1] - t->box.lo[nb + 1];
    for (int k = 0; k < nin; k++) {
        const lpi_box *b = &t->ops[k].box;
        if (b->ndim != nd) FAIL(LP_ERR_SHAPE, "%s: %s reads and writes matrices", where, lpi_ops[pn->op].name);
        for (int i = 0; i < nb; i++)
            if (b->hi[i] - b->lo[i] != t->box.hi[i] - t->box.lo[i])
                FAIL(LP_ERR_SHAPE, "%s: %s operand and result stacks do not match", where, lpi_ops[pn->op].name);
        e[k][0] = b->hi[nb] - b->lo[nb];
        e[k][1] = b->hi[nb + 1] - b->lo[nb + 1];
    }
    const int64_t p = e[0][0], q = e[0][1], kk = p < q ? p : q, kc = p > q ? p : kk;
    bool ok;
    switch (pn->op) {
    case LPI_OP_QR_R: ok = (o0 == kk || o0 == kc) && o1 == q; break;
    case LPI_OP_QR_Q: ok = nin == 1 ? o0 == p && (o1 == kk || o1 == kc) : p >= q && e[1][0] == q && o0 == p && o1 == e[1][1]; break;
    default: ok = p == q && o1 == q && o0 == 2 * q + 1;
    }
    if (!ok) FAIL(LP_ERR_SHAPE, "%s: %s operand and result shapes do not match", where, lpi_ops[pn->op].name);
    return LP_OK;
}

lp_status lpi_linalg_node_check(lp_ctx *ctx, const char *where, const lpi_pnode *pn) {
    const lpi_linalg_params *l = pn->la;
    const lpi_reduce *r = pn->red;
    const bool fl = lpi_dtype_kind(pn->dtype) == LPI_KIND_FLOAT;
    /* BLAS and LAPACK have no float16 (the builders refuse it; so must the decoder) */
    if (pn->dtype == LP_FLOAT16 || (l && l->loop_dt == LP_FLOAT16))
        FAIL(LP_ERR_TYPE, "%s: linear algebra in float16 is not supported", where);
    if (pn->kernel == LPI_K_COMBINE) {
        /* the sum of a split contraction's partial products: a level of states, or the product */
        if (pn->op != LPI_OP_MATMUL || !r || r->op != LPI_OP_SUM || r->nfields != 1 ||
            (pn->final ? r->acc_float != fl : pn->ndim != 1 || pn->dtype != (r->acc_float ? LP_FLOAT64 : LP_INT64)))
            FAIL(LP_ERR_VALUE, "%s: a matmul combine sums float64 (or int64) states into the product", where);
        return LP_OK;
    }
    if (!l) FAIL(LP_ERR_FORMAT, "%s: missing parameter 'linalg'", where);
    if (pn->kernel == LPI_K_LINALG) {
        /* eig's result is complex (its packed eigenvalues and vectors); the others run in the
         * float or complex dtype of their result (s / d or c / z LAPACK) */
        const bool cx = lpi_dtype_is_complex(pn->dtype);
        const bool dt_ok = pn->op == LPI_OP_EIG ? cx : fl || cx;
        if (!is_linalg_single(pn->op) || r || !dt_ok || l->loop_dt != pn->dtype || l->flags || l->syrk || l->a_ndim ||
            l->b_ndim || l->out_ndim != pn->ndim)
            FAIL(LP_ERR_VALUE, "%s: a linalg node is one LAPACK op computed in its float or complex dtype", where);
        if (pn->op != LPI_OP_LSTSQ && l->rcond != 0) FAIL(LP_ERR_VALUE, "%s: only lstsq has an 'rcond'", where);
        return LP_OK;
    }
    if (pn->kernel != LPI_K_MATMUL || pn->op != LPI_OP_MATMUL) FAIL(LP_ERR_VALUE, "%s: not a matmul node", where);
    if (lpi_dtype_is_complex(l->loop_dt)) FAIL(LP_ERR_TYPE, "%s: a matmul runs in float32, float64 or int64", where);
    const int an = l->a_ndim, bn = l->b_ndim, nbo = l->out_ndim - (an > 1) - (bn > 1);
    const bool ta = l->flags & LPI_MM_TA, tb = l->flags & LPI_MM_TB;
    /* transposes fold only into operands of two or more axes; syrk is X.T @ X or X @ X.T */
    if (an < 1 || bn < 1 || nbo < 0 || nbo < an - 2 || nbo < bn - 2)
        FAIL(LP_ERR_SHAPE, "%s: a product of %d and %d axes has no %d axes", where, an, bn, l->out_ndim);
    if ((ta && an < 2) || (tb && bn < 2)) FAIL(LP_ERR_VALUE, "%s: a transposed operand has at least 2 axes", where);
    if (l->syrk && (ta == tb || l->loop_dt == LP_INT64 || an != bn))
        FAIL(LP_ERR_VALUE, "%s: syrk needs one float operand read once transposed and once not", where);
    if (r) {
        /* a level of partial products: (1, block) states of the loop's accumulator */
        const bool accf = l->loop_dt != LP_INT64;
        if (r->op != LPI_OP_SUM || r->nfields != 1 || r->acc_float != accf || pn->final || pn->ndim != 1 ||
            pn->dtype != (accf ? LP_FLOAT64 : LP_INT64) || r->in_ndim != l->out_ndim)
            FAIL(LP_ERR_VALUE, "%s: a split matmul writes SUM states of its loop's accumulator", where);
        return LP_OK;
    }
    if (l->out_ndim != pn->ndim)
        FAIL(LP_ERR_SHAPE, "%s: 'out_ndim' is %d but the product has %d axes", where, l->out_ndim, pn->ndim);
    if (!pn->final || l->loop_dt != (fl ? pn->dtype : LP_INT64) || !lpi_cast_loops[l->loop_dt][pn->dtype])
        FAIL(LP_ERR_VALUE, "%s: a matmul computes its %s result in %s", where, lp_dtype_name(pn->dtype),
             fl ? lp_dtype_name(pn->dtype) : "int64");
    return LP_OK;
}

/* The rows x cols of a matmul operand as the kernel reads it (operand_mat in kernels/linalg.c):
 * the last two extents, swapped when the side is transposed; a vector is (1, K) on the left and
 * (K, 1) on the right. */
static void mm_side(const lpi_box *b, int side, bool tr, int64_t *rows, int64_t *cols) {
    const int nd = b->ndim;
    if (nd == 1) {
        int64_t k = b->hi[0] - b->lo[0];
        *rows = side == 0 ? 1 : k;
        *cols = side == 0 ? k : 1;
        return;
    }
    int64_t r = b->hi[nd - 2] - b->lo[nd - 2], c = b->hi[nd - 1] - b->lo[nd - 1];
    *rows = tr ? c : r;
    *cols = tr ? r : c;
}

lp_status lpi_linalg_task_check(lp_ctx *ctx, const char *where, const lpi_pnode *pn, const lpi_task *t,
                                const lp_dtype *odt) {
    const lpi_linalg_params *l = pn->la;
    if (pn->kernel == LPI_K_LINALG && (pn->op == LPI_OP_QR_R || pn->op == LPI_OP_QR_Q || pn->op == LPI_OP_SVD))
        return factor_task_check(ctx, where, pn, t);
    if (pn->kernel == LPI_K_LINALG) {
        const int nin = lpi_ops[pn->op].nin;
        if (t->nops != nin) FAIL(LP_ERR_VALUE, "%s: %s reads %d operands", where, lpi_ops[pn->op].name, nin);
        lp_array *ph[4] = {NULL}, *e = NULL;
        lp_status st = LP_OK;
        for (int k = 0; k < nin && !st; k++) {
            int64_t shape[LP_MAX_NDIM];
            for (int i = 0; i < t->ops[k].box.ndim; i++) shape[i] = t->ops[k].box.hi[i] - t->ops[k].box.lo[i];
            st = lp_zeros(ctx, odt[k], t->ops[k].box.ndim, shape, &ph[k]);
        }
        json_t *attrs = st ? NULL : json_object();
        if (!st && (!attrs || (pn->op == LPI_OP_LSTSQ && json_object_set_new(attrs, "rcond", lpi_json_float(l->rcond)))))
            st = lpi_nomem(ctx);
        /* the builders' own rules (square matrices, batch and right-hand-side shapes) */
        if (!st) st = lpi_json_build_node(ctx, where, pn->op, pn->dtype, pn->ndim, pn->shape, attrs, ph, nin, &e);
        json_decref(attrs);
        lp_array_release(e);
        for (int k = 0; k < nin; k++) lp_array_release(ph[k]);
        return st;
    }
    const lpi_box *ob = &t->box;
    const int na = l->a_ndim, nb = l->b_ndim;
    const int nbo = l->out_ndim - (na > 1) - (nb > 1);
    const int o_row = na > 1 ? nbo : -1, o_col = nb > 1 ? nbo + (na > 1) : -1;
    if (ob->ndim != l->out_ndim) FAIL(LP_ERR_SHAPE, "%s: the task box has %d axes, the product %d", where, ob->ndim, l->out_ndim);
    const int64_t M = o_row >= 0 ? ob->hi[o_row] - ob->lo[o_row] : 1, N = o_col >= 0 ? ob->hi[o_col] - ob->lo[o_col] : 1;
    const bool diag = l->syrk && o_row >= 0 && o_col >= 0 && ob->lo[o_row] == ob->lo[o_col] && ob->hi[o_row] == ob->hi[o_col];
    const int per = diag ? 1 : 2;
    if (t->nops % per) FAIL(LP_ERR_VALUE, "%s: a matmul task reads (A, B) pairs of k-pieces", where);
    for (int k = 0; k < t->nops; k++) {
        const int side = k % per, nd = side == 0 ? na : nb;
        const lpi_box *b = &t->ops[k].box;
        if (b->ndim != nd) FAIL(LP_ERR_SHAPE, "%s: operand %d has %d axes, the %c side %d", where, k, b->ndim, 'A' + side, nd);
        if (!lpi_cast_loops[odt[k]][l->loop_dt])
            FAIL(LP_ERR_TYPE, "%s: operand %d (%s) cannot be read as %s", where, k, lp_dtype_name(odt[k]), lp_dtype_name(l->loop_dt));
        /* batch axes: right-aligned with the output's, extent 1 (broadcast) or the output's */
        const int nbat = nd > 2 ? nd - 2 : 0;
        for (int i = 0; i < nbat; i++) {
            int64_t e = b->hi[i] - b->lo[i], oe = ob->hi[i + nbo - nbat] - ob->lo[i + nbo - nbat];
            if (e != 1 && e != oe) FAIL(LP_ERR_SHAPE, "%s: operand %d batch axis %d does not broadcast to the block", where, k, i);
        }
        int64_t rows, cols, kr, kc;
        if (side == 0) {
            mm_side(b, 0, l->flags & LPI_MM_TA, &rows, &cols);
            if (rows != M) FAIL(LP_ERR_SHAPE, "%s: operand %d has %lld rows, the block %lld", where, k, (long long)rows, (long long)M);
            if (diag && N != M) FAIL(LP_ERR_SHAPE, "%s: a syrk block is square", where);
        } else {
            mm_side(&t->ops[k - 1].box, 0, l->flags & LPI_MM_TA, &kr, &kc);
            mm_side(b, 1, l->flags & LPI_MM_TB, &rows, &cols);
            if (rows != kc) FAIL(LP_ERR_SHAPE, "%s: operands %d and %d differ in the contraction (%lld, %lld)", where, k - 1, k,
                                 (long long)kc, (long long)rows);
            if (cols != N) FAIL(LP_ERR_SHAPE, "%s: operand %d has %lld columns, the block %lld", where, k, (long long)cols, (long long)N);
        }
    }
    return LP_OK;
}

/* ---- pnodes ---- */

const char *const lpi_axisk_keys[] = {"axis", "final", "block", NULL};

lp_status lpi_axisk_to_json(const lpi_pnode *p, json_t *params) {
    return json_object_set_new(params, "axis", json_integer(p->axis)) | json_object_set_new(params, "final", json_boolean(p->final)) |
                   json_object_set_new(params, "block", json_integer((json_int_t)p->block))
               ? LP_ERR_NOMEM : LP_OK;
}

lp_status lpi_axisk_from_json(lp_ctx *ctx, const char *where, const json_t *params, lpi_pnode *out) {
    int64_t axis;
    lp_status st;
    if ((st = lpi_json_int(ctx, where, params, "axis", false, 0, out->ndim > 0 ? out->ndim - 1 : 0, &axis)) ||
        (st = lpi_json_bool(ctx, where, params, "final", false, &out->final)) ||
        (st = lpi_json_int(ctx, where, params, "block", true, 0, INT64_MAX >> 8, &out->block)))
        return st;
    if (out->ndim == 0) FAIL(LP_ERR_VALUE, "%s: a %s node needs an axis", where, lpi_kernel_name(out->kernel));
    lpi_opkind want = out->kernel == LPI_K_SCAN ? LP_OPK_SCAN : out->kernel == LPI_K_SORT ? LP_OPK_SORT
                      : out->kernel == LPI_K_FFT ? LP_OPK_FFT : LP_OPK_INDEX;
    if (lpi_ops[out->op].kind != want) FAIL(LP_ERR_VALUE, "%s: kernel '%s' does not run op '%s'", where, lpi_kernel_name(out->kernel), lpi_ops[out->op].name);
    out->axis = (int)axis;
    return LP_OK;
}

lp_status lpi_pnode_to_json(lp_ctx *ctx, const lpi_plan *pl, int pi, json_t **out) {
    const lpi_pnode *p = &pl->pnodes[pi];
    *out = NULL;
    bool la = p->kernel == LPI_K_MATMUL || p->kernel == LPI_K_LINALG || (p->kernel == LPI_K_COMBINE && p->op == LPI_OP_MATMUL);
    if ((unsigned)p->kernel >= LPI_K_COUNT || !KERNEL_NAMES[p->kernel] || (lpi_ops[p->op].kind == LP_OPK_LINALG && !la) ||
        ((p->kernel == LPI_K_MAP || p->kernel == LPI_K_PARTIAL) && !p->prog) ||
        ((p->kernel == LPI_K_PARTIAL || p->kernel == LPI_K_COMBINE) && !p->red))
        FAIL(LP_ERR_VALUE, "pnode %d (%s): its kernel cannot be serialized yet", pi, lpi_ops[p->op].name);
    json_t *o = json_object(), *params = json_object();
    int r = !o || !params;
    if (r) { json_decref(o); json_decref(params); return lpi_nomem(ctx); }
    json_t *inl = json_array();
    for (int k = 0; inl && k < p->nin; k++) r |= json_array_append_new(inl, json_integer(p->in[k]));
    r |= json_object_set_new(o, "id", json_integer(pi));
    r |= json_object_set_new(o, "kernel", json_string(lpi_kernel_name(p->kernel)));
    r |= json_object_set_new(o, "op", json_string(lpi_ops[p->op].name));
    r |= json_object_set_new(o, "dtype", json_string(lp_dtype_name(p->dtype)));
    r |= json_object_set_new(o, "shape", lpi_json_ints(p->ndim, p->shape));
    r |= json_object_set_new(o, "grid", lpi_grid_to_json(&p->grid));
    r |= json_object_set_new(o, "inputs", inl);
    if (p->target >= 0) r |= json_object_set_new(o, "target", json_integer(p->target));
    r |= json_object_set_new(o, "tasks", json_pack("[II]", (json_int_t)p->first_task, (json_int_t)p->ntasks));
    r |= json_object_set_new(o, "est_seconds", lpi_json_float(p->est_seconds));
    lp_status st = LP_OK;
    switch (p->kernel) {
    case LPI_K_NONE:
        r |= json_object_set_new(params, "data", json_string("memory"));
        {
            int64_t n = 1;
            for (int i = 0; i < p->ndim; i++) n *= p->shape[i];
            r |= json_object_set_new(params, "bytes", json_integer((json_int_t)(n * (int64_t)lp_dtype_size(p->dtype))));
        }
        break;
    case LPI_K_GEN: case LPI_K_LOAD: {
        json_t *head;
        const lp_array *src = p->kernel == LPI_K_LOAD ? p->src : p->expr;
        if (!src) { st = lpi_error(ctx, LP_ERR_INTERNAL, "pnode %d: source without a node", pi); break; }
        if ((st = lpi_json_node_head(ctx, src, &head))) break;
        r |= json_object_set_new(params, "node", head);
        if (p->kernel == LPI_K_LOAD) r |= lpi_load_params_to_json(p, params);
        break;
    }
    case LPI_K_MAP: r |= json_object_set_new(params, "program", lpi_program_to_json(p->prog)); break;
    case LPI_K_PARTIAL:
        r |= json_object_set_new(params, "program", lpi_program_to_json(p->prog));
        /* fall through */
    case LPI_K_COMBINE:
        r |= json_object_set_new(params, "reduce", lpi_reduce_to_json(p->red));
        r |= json_object_set_new(params, "final", json_boolean(p->final));
        break;
    case LPI_K_COPY:
        if (p->map) {
            int in_nd = p->nin ? pl->pnodes[p->in[0]].ndim : 0;
            r |= json_object_set_new(params, "map", lpi_axismap_to_json(p->map, p->ndim, in_nd));
        }
        break;
    case LPI_K_RESHAPE: {
        const lpi_pnode *s = &pl->pnodes[p->in[0]];
        r |= json_object_set_new(params, "src_shape", lpi_json_ints(s->ndim, s->shape));
        break;
    }
    case LPI_K_SCAN: case LPI_K_SORT: case LPI_K_INDEX: case LPI_K_FFT:
        if (lpi_axisk_to_json(p, params)) r = 1;
        break;
    case LPI_K_MATMUL: case LPI_K_LINALG:
        if (p->red) {
            r |= json_object_set_new(params, "reduce", lpi_reduce_to_json(p->red));
            r |= json_object_set_new(params, "final", json_boolean(p->final));
        }
        if (p->la) r |= json_object_set_new(params, "linalg", lpi_linalg_to_json(p->la));
        break;
    default: break;
    }
    r |= json_object_set_new(o, "params", params);
    if (st || r) { json_decref(o); return st ? st : lpi_nomem(ctx); }
    *out = o;
    return LP_OK;
}

static const char *const K_PNODE[] = {"id", "kernel", "op", "dtype", "shape", "grid", "inputs", "target",
                                      "tasks", "est_seconds", "params", NULL};
static const char *const K_P_NONE[] = {"data", "bytes", NULL};
static const char *const K_P_SRC[] = {"node", NULL};
static const char *const K_P_LOAD[] = {"node", "view", "lshape", NULL};

int lpi_load_params_to_json(const lpi_pnode *p, json_t *params) {
    int r = 0, lnd = p->lndim >= 0 ? p->lndim : p->src->ndim;
    if (p->lndim >= 0) r |= json_object_set_new(params, "lshape", lpi_json_ints(p->lndim, p->lshape));
    if (p->view) r |= json_object_set_new(params, "view", lpi_axismap_to_json(p->view, p->ndim, lnd));
    return r;
}

lp_status lpi_load_params_from_json(lp_ctx *ctx, lpi_arena *ar, const char *where, const json_t *params,
                                    const lp_array *src, lpi_pnode *out) {
    lp_status st;
    const lpi_dataset *d = src->a.ds;
    int lnd = src->ndim;
    const int64_t *lshape = src->shape;
    out->src = src;
    out->lndim = -1;
    if (src->dtype != out->dtype) FAIL(LP_ERR_TYPE, "%s: the node is %s, the stored array %s", where,
                                       lp_dtype_name(out->dtype), lp_dtype_name(src->dtype));
    if (json_object_get(params, "lshape")) {
        if ((st = lpi_json_shape(ctx, where, params, "lshape", &out->lndim, out->lshape))) return st;
        int64_t a, b;
        if (!lpi_shape_size(out->lndim, out->lshape, &a) || !lpi_shape_size(src->ndim, src->shape, &b) || a != b)
            FAIL(LP_ERR_SHAPE, "%s: 'lshape' must hold the stored array's elements", where);
        if (!lpi_dataset_flat(d)) FAIL(LP_ERR_VALUE, "%s: only a C-order .npy file can be read reshaped", where);
        lnd = out->lndim;
        lshape = out->lshape;
    }
    const json_t *jv = json_object_get(params, "view");
    if (!jv) {
        if (out->ndim != lnd || memcmp(out->shape, lshape, (size_t)lnd * sizeof *lshape))
            FAIL(LP_ERR_SHAPE, "%s: without a view the node has the stored shape", where);
        return LP_OK;
    }
    lpi_axismap *m = lpi_arena_alloc(ar, sizeof *m);
    char w[LPI_WHERE_MAX + 16];
    snprintf(w, sizeof w, "%s: view", where);
    if (!m) return lpi_nomem(ctx);
    if ((st = lpi_axismap_from_json(ctx, w, jv, out->ndim, lnd, m)) ||
        (st = lpi_load_view_check(ctx, w, m, out->ndim, out->shape, lnd, lshape)))
        return st;
    out->view = m;
    return LP_OK;
}
static const char *const K_P_MAP[] = {"program", NULL};
static const char *const K_P_PARTIAL[] = {"program", "reduce", "final", NULL};
static const char *const K_P_COMBINE[] = {"reduce", "final", NULL};
static const char *const K_P_COPY[] = {"map", NULL};
static const char *const K_P_RESHAPE[] = {"src_shape", NULL};
static const char *const K_P_MATMUL[] = {"linalg", "reduce", "final", NULL};
static const char *const K_P_LINALG[] = {"linalg", NULL};

lp_status lpi_pnode_from_json(lp_ctx *ctx, lpi_arena *ar, const char *where, const json_t *j, const lpi_pnode *pnodes,
                              int npnodes, lpi_pnode *out) {
    lp_status st;
    memset(out, 0, sizeof *out);
    out->target = -1;
    out->lndim = -1;
    if (!json_is_object(j)) FAIL(LP_ERR_FORMAT, "%s: a pnode must be an object", where);
    if ((st = lpi_json_only_keys(ctx, where, j, K_PNODE, "key"))) return st;
    const char *kname, *oname;
    if ((st = lpi_json_str(ctx, where, j, "kernel", false, &kname))) return st;
    if (!lpi_kernel_lookup(kname, &out->kernel)) FAIL(LP_ERR_VALUE, "%s: unknown kernel '%.40s'", where, kname);
    if ((st = lpi_json_str(ctx, where, j, "op", false, &oname))) return st;
    if (!lpi_op_lookup(oname, &out->op)) FAIL(LP_ERR_VALUE, "%s: unknown op '%.40s'", where, oname);
    if ((st = lpi_json_dtype(ctx, where, j, "dtype", &out->dtype)) ||
        (st = lpi_json_shape(ctx, where, j, "shape", &out->ndim, out->shape)) ||
        (st = lpi_grid_from_json(ctx, ar, where, json_object_get(j, "grid"), out->ndim, out->shape, &out->grid)))
        return st;
    int64_t tgt = -1, tasks[2] = {0, 0};
    int nt = 0;
    if ((st = lpi_json_int(ctx, where, j, "target", true, 0, INT32_MAX, &tgt)) ||
        (st = lpi_json_int_list(ctx, where, j, "tasks", false, 2, -1, INT64_MAX, &nt, tasks)))
        return st;
    if (nt != 2) FAIL(LP_ERR_FORMAT, "%s: 'tasks' must be [first, count]", where);
    out->target = (int)tgt;
    out->first_task = tasks[0];
    out->ntasks = tasks[1];
    if (json_object_get(j, "est_seconds") && (st = lpi_json_flt(ctx, where, j, "est_seconds", false, &out->est_seconds)))
        return st;
    const json_t *ins = json_object_get(j, "inputs");
    if (!json_is_array(ins)) FAIL(LP_ERR_FORMAT, "%s: 'inputs' must be a list of pnode ids", where);
    if (json_array_size(ins) > LPI_JSON_MAX_INPUTS) FAIL(LP_ERR_LIMIT, "%s: too many inputs", where);
    out->nin = (int)json_array_size(ins);
    if (out->nin && !(out->in = lpi_arena_alloc(ar, (size_t)out->nin * sizeof *out->in))) return lpi_nomem(ctx);
    for (int k = 0; k < out->nin; k++) {
        const json_t *e = json_array_get(ins, (size_t)k);
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) >= npnodes)
            FAIL(LP_ERR_VALUE, "%s: input %d is not an earlier pnode", where, k);
        out->in[k] = (int)json_integer_value(e);
    }
    const json_t *params = json_object_get(j, "params");
    if (!json_is_object(params)) FAIL(LP_ERR_FORMAT, "%s: 'params' must be an object", where);
    static const char *const *const allowed[LPI_K_COUNT] = {
        [LPI_K_NONE] = K_P_NONE, [LPI_K_GEN] = K_P_SRC, [LPI_K_LOAD] = K_P_LOAD, [LPI_K_MAP] = K_P_MAP,
        [LPI_K_PARTIAL] = K_P_PARTIAL, [LPI_K_COMBINE] = K_P_COMBINE, [LPI_K_COPY] = K_P_COPY, [LPI_K_RESHAPE] = K_P_RESHAPE,
        [LPI_K_MATMUL] = K_P_MATMUL, [LPI_K_LINALG] = K_P_LINALG,
        [LPI_K_SCAN] = lpi_axisk_keys, [LPI_K_SORT] = lpi_axisk_keys, [LPI_K_INDEX] = lpi_axisk_keys,
        [LPI_K_FFT] = lpi_axisk_keys,
    };
    if ((st = lpi_json_only_keys(ctx, where, params, allowed[out->kernel], "parameter"))) return st;
    char w[LPI_WHERE_MAX + 16];
    if (out->kernel == LPI_K_MATMUL || out->kernel == LPI_K_LINALG) {
        snprintf(w, sizeof w, "%s: linalg", where);
        if ((st = lpi_linalg_from_json(ctx, ar, w, json_object_get(params, "linalg"), (lpi_linalg_params **)&out->la)))
            return st;
        out->final = true;
        if (json_object_get(params, "reduce")) { /* a split contraction's level of partial products */
            snprintf(w, sizeof w, "%s: reduce", where);
            if ((st = lpi_reduce_from_json(ctx, ar, w, json_object_get(params, "reduce"), &out->red)) ||
                (st = lpi_json_bool(ctx, where, params, "final", false, &out->final)))
                return st;
        } else if (json_object_get(params, "final")) {
            FAIL(LP_ERR_FORMAT, "%s: 'final' goes with 'reduce'", where);
        }
        if (out->nin != (out->kernel == LPI_K_MATMUL ? 2 : lpi_ops[out->op].nin) && !(out->op == LPI_OP_QR_Q && out->nin == 2))
            FAIL(LP_ERR_VALUE, "%s: %s has %d inputs", where, oname, out->nin);
        return lpi_linalg_node_check(ctx, where, out);
    }
    switch (out->kernel) {
    case LPI_K_NONE:
        FAIL(LP_ERR_VALUE, "%s: in-memory data cannot be sent in a plan; reference it through the store", where);
    case LPI_K_GEN: case LPI_K_LOAD: {
        snprintf(w, sizeof w, "%s: node", where);
        if (out->nin) FAIL(LP_ERR_VALUE, "%s: a source has no inputs", where);
        lp_array *e;
        if ((st = lpi_json_node_from_head(ctx, w, json_object_get(params, "node"), NULL, 0, &e))) return st;
        if (out->kernel == LPI_K_LOAD && e->op == LPI_OP_LOAD) {
            out->expr = e;
            return lpi_load_params_from_json(ctx, ar, where, params, e, out);
        }
        bool ok = e->op == out->op && e->dtype == out->dtype && e->ndim == out->ndim &&
                  !memcmp(e->shape, out->shape, (size_t)e->ndim * sizeof *e->shape) &&
                  out->kernel != LPI_K_LOAD && lpi_ops[e->op].kind == LP_OPK_SOURCE && e->op != LPI_OP_WRAP;
        if (!ok) { lp_array_release(e); FAIL(LP_ERR_VALUE, "%s: the node does not match the pnode's op, dtype and shape", where); }
        out->expr = e;
        return LP_OK;
    }
    case LPI_K_MAP: case LPI_K_PARTIAL: {
        snprintf(w, sizeof w, "%s: program", where);
        if ((st = lpi_program_from_json(ctx, ar, w, json_object_get(params, "program"), &out->prog))) return st;
        if (out->prog->ninputs != out->nin)
            FAIL(LP_ERR_VALUE, "%s: the program reads %d inputs but the pnode has %d", where, out->prog->ninputs, out->nin);
        for (int k = 0; k < out->nin; k++)
            if (pnodes[out->in[k]].dtype != out->prog->reg_dt[k])
                FAIL(LP_ERR_TYPE, "%s: input %d is %s but program register %d is %s", where, k,
                     lp_dtype_name(pnodes[out->in[k]].dtype), k, lp_dtype_name(out->prog->reg_dt[k]));
        lp_dtype od = out->prog->reg_dt[out->prog->out_reg];
        if (out->kernel == LPI_K_MAP) {
            if (od != out->dtype) FAIL(LP_ERR_TYPE, "%s: the program gives %s, the pnode is %s", where, lp_dtype_name(od), lp_dtype_name(out->dtype));
            return LP_OK;
        }
        if (od != LP_FLOAT64 && od != LP_INT64) FAIL(LP_ERR_TYPE, "%s: a reduction program must give float64 or int64", where);
    }
    /* fall through */
    case LPI_K_COMBINE: {
        snprintf(w, sizeof w, "%s: reduce", where);
        if ((st = lpi_reduce_from_json(ctx, ar, w, json_object_get(params, "reduce"), &out->red)) ||
            (st = lpi_json_bool(ctx, where, params, "final", false, &out->final)))
            return st;
        if (out->kernel == LPI_K_PARTIAL && out->prog->reg_dt[out->prog->out_reg] != (out->red->acc_float ? LP_FLOAT64 : LP_INT64))
            FAIL(LP_ERR_TYPE, "%s: the program's output does not match the accumulator", where);
        if (out->kernel == LPI_K_COMBINE && out->op == LPI_OP_MATMUL) return lpi_linalg_node_check(ctx, where, out);
        if (out->red->op != out->op) FAIL(LP_ERR_VALUE, "%s: the reduce op differs from the pnode's op", where);
        if (!out->final && (out->ndim != 1 || out->dtype != (out->red->acc_float ? LP_FLOAT64 : LP_INT64)))
            FAIL(LP_ERR_VALUE, "%s: a partial level is a 1-d list of %s states", where, out->red->acc_float ? "float64" : "int64");
        if (out->final) {
            bool ok = (out->op == LPI_OP_ARGMIN || out->op == LPI_OP_ARGMAX) ? out->dtype == LP_INT64
                    : (out->op == LPI_OP_ANY || out->op == LPI_OP_ALL) ? out->dtype == LP_BOOL : true;
            if (!ok) FAIL(LP_ERR_TYPE, "%s: %s cannot give %s", where, oname, lp_dtype_name(out->dtype));
        }
        return LP_OK;
    }
    case LPI_K_COPY: {
        const json_t *m = json_object_get(params, "map");
        if (out->nin < 1) FAIL(LP_ERR_VALUE, "%s: a copy needs an input", where);
        for (int k = 0; k < out->nin; k++)
            if (pnodes[out->in[k]].dtype != out->dtype) FAIL(LP_ERR_TYPE, "%s: a copy does not change the dtype", where);
        if (!m) return LP_OK; /* per-task maps (concatenate) */
        if (out->nin != 1) FAIL(LP_ERR_VALUE, "%s: a copy with one map has one input", where);
        lpi_axismap *am = lpi_arena_alloc(ar, sizeof *am);
        if (!am) return lpi_nomem(ctx);
        snprintf(w, sizeof w, "%s: map", where);
        if ((st = lpi_axismap_from_json(ctx, w, m, out->ndim, pnodes[out->in[0]].ndim, am))) return st;
        out->map = am;
        return LP_OK;
    }
    case LPI_K_RESHAPE: {
        int snd;
        int64_t ssh[LP_MAX_NDIM];
        if (out->nin != 1) FAIL(LP_ERR_VALUE, "%s: a reshape has one input", where);
        if ((st = lpi_json_shape(ctx, where, params, "src_shape", &snd, ssh))) return st;
        const lpi_pnode *s = &pnodes[out->in[0]];
        if (s->ndim != snd || memcmp(s->shape, ssh, (size_t)snd * sizeof *ssh) || s->dtype != out->dtype)
            FAIL(LP_ERR_SHAPE, "%s: 'src_shape' differs from the input pnode", where);
        /* the kernel reads the source shape from its node: rebuild reshape(placeholder) */
        lp_array *ph, *e;
        if ((st = lp_zeros(ctx, out->dtype, snd, ssh, &ph))) return st;
        st = lp_reshape(ctx, ph, out->ndim, out->shape, &e);
        lp_array_release(ph);
        if (st) return st;
        out->expr = e;
        return LP_OK;
    }
    case LPI_K_SCAN: case LPI_K_SORT: case LPI_K_INDEX: case LPI_K_FFT: return lpi_axisk_from_json(ctx, where, params, out);
    default: FAIL(LP_ERR_VALUE, "%s: kernel '%s' cannot be decoded", where, kname);
    }
}

/* ---- tasks ---- */

json_t *lpi_task_to_json(const lpi_plan *pl, int64_t ti) {
    const lpi_task *t = &pl->tasks[ti];
    const lpi_pnode *p = &pl->pnodes[t->pnode];
    json_t *o = json_object(), *ops = json_array(), *cons = json_array();
    int r = !o || !ops || !cons;
    for (int k = 0; !r && k < t->nops; k++) {
        const lpi_operand *op = &t->ops[k];
        json_t *pcs = json_array();
        r |= !pcs;
        for (int q = 0; !r && q < op->npieces; q++)
            r |= json_array_append_new(pcs, json_pack("[Io]", (json_int_t)op->pieces[q].chunk, lpi_box_to_json(&op->pieces[q].box)));
        json_t *oo = json_pack("{sisososb}", "pnode", op->pnode, "box", lpi_box_to_json(&op->box), "pieces", pcs, "contig", op->contig);
        r |= !oo || json_array_append_new(ops, oo);
    }
    for (int32_t c = 0; !r && c < t->nconsumers; c++) r |= json_array_append_new(cons, json_integer((json_int_t)t->consumers[c]));
    if (!r) {
        r |= json_object_set_new(o, "id", json_integer((json_int_t)ti));
        r |= json_object_set_new(o, "pnode", json_integer(t->pnode));
        r |= json_object_set_new(o, "chunk", json_integer((json_int_t)t->chunk));
        r |= json_object_set_new(o, "box", lpi_box_to_json(&t->box));
        r |= json_object_set(o, "ops", ops);
        if (t->map && t->map != p->map)
            r |= json_object_set_new(o, "map", lpi_axismap_to_json(t->map, p->ndim, t->nops ? pl->pnodes[t->ops[0].pnode].ndim : 0));
        if (lpi_pnode_has_pelems(p)) r |= json_object_set_new(o, "pelems", json_integer((json_int_t)t->pelems));
        r |= json_object_set_new(o, "ndeps", json_integer(t->ndeps));
        r |= json_object_set_new(o, "prio", json_integer((json_int_t)t->prio));
        r |= json_object_set(o, "consumers", cons);
    }
    json_decref(ops);
    json_decref(cons);
    if (r) { json_decref(o); return NULL; }
    return o;
}

static const char *const K_TASK[] = {"id", "pnode", "chunk", "box", "ops", "map", "pelems", "ndeps", "prio", "consumers", NULL};
static const char *const K_OPND[] = {"pnode", "box", "pieces", "contig", NULL};



static lp_status operand_from_json(lp_ctx *ctx, lpi_arena *ar, const char *where, const json_t *j, const lpi_pnode *pnodes,
                                   int npnodes, lpi_operand *op) {
    lp_status st;
    if (!json_is_object(j)) FAIL(LP_ERR_FORMAT, "%s: an operand must be an object", where);
    if ((st = lpi_json_only_keys(ctx, where, j, K_OPND, "key"))) return st;
    int64_t pn;
    if ((st = lpi_json_int(ctx, where, j, "pnode", false, 0, npnodes - 1, &pn)) ||
        (st = lpi_json_bool(ctx, where, j, "contig", false, &op->contig)))
        return st;
    op->pnode = (int32_t)pn;
    const lpi_pnode *pp = &pnodes[pn];
    if ((st = lpi_box_from_json(ctx, where, json_object_get(j, "box"), pp->ndim, pp->shape, &op->box))) return st;
    const json_t *pcs = json_object_get(j, "pieces");
    if (!json_is_array(pcs)) FAIL(LP_ERR_FORMAT, "%s: 'pieces' must be a list", where);
    size_t n = json_array_size(pcs);
    if (n > LPI_PLAN_MAX_PIECES) FAIL(LP_ERR_LIMIT, "%s: %zu pieces; at most %d", where, n, LPI_PLAN_MAX_PIECES);
    op->npieces = (int)n;
    op->pieces = lpi_arena_alloc(ar, (n ? n : 1) * sizeof *op->pieces);
    int64_t *chunks = lp_malloc((n ? n : 1) * sizeof *chunks);
    if (!op->pieces || !chunks) { lp_free(chunks); return lpi_nomem(ctx); }
    int64_t covered = 0;
    st = LP_OK;
    for (size_t q = 0; q < n && !st; q++) {
        const json_t *e = json_array_get(pcs, q);
        char w[LPI_WHERE_MAX + 32];
        snprintf(w, sizeof w, "%s piece %zu", where, q);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_integer(json_array_get(e, 0))) {
            st = lpi_error(ctx, LP_ERR_FORMAT, "%s: a piece is [chunk, box]", w);
            break;
        }
        lpi_piece *pc = &op->pieces[q];
        pc->pnode = op->pnode;
        pc->chunk = json_integer_value(json_array_get(e, 0));
        if (pc->chunk < 0 || pc->chunk >= pp->grid.total) {
            st = lpi_error(ctx, LP_ERR_VALUE, "%s: chunk %lld does not exist (pnode %lld has %lld)", w, (long long)pc->chunk,
                           (long long)pn, (long long)pp->grid.total);
            break;
        }
        if ((st = lpi_box_from_json(ctx, w, json_array_get(e, 1), pp->ndim, pp->shape, &pc->box))) break;
        lpi_box cb;
        lpi_grid_chunk_box(&pp->grid, pc->chunk, &cb);
        for (int i = 0; i < pp->ndim && !st; i++) {
            int64_t lo = cb.lo[i] > op->box.lo[i] ? cb.lo[i] : op->box.lo[i];
            int64_t hi = cb.hi[i] < op->box.hi[i] ? cb.hi[i] : op->box.hi[i];
            if (pc->box.lo[i] != lo || pc->box.hi[i] != hi || lo >= hi)
                st = lpi_error(ctx, LP_ERR_VALUE, "%s: the box is not the chunk's part of the operand box", w);
        }
        chunks[q] = pc->chunk;
        covered += lpi_box_size(&pc->box);
    }
    if (!st) {
        qsort(chunks, n, sizeof *chunks, lpi_cmp_i64);
        for (size_t q = 1; q < n && !st; q++)
            if (chunks[q] == chunks[q - 1]) st = lpi_error(ctx, LP_ERR_VALUE, "%s: chunk %lld is listed twice", where, (long long)chunks[q]);
    }
    lp_free(chunks);
    if (st) return st;
    /* disjoint chunk parts whose sizes add up to the box: they cover it exactly */
    if (covered != lpi_box_size(&op->box)) FAIL(LP_ERR_VALUE, "%s: the pieces do not cover the operand box", where);
    return LP_OK;
}

lp_status lpi_task_from_json(lp_ctx *ctx, lpi_arena *ar, const char *where, const json_t *j, const lpi_pnode *pnodes,
                             int npnodes, int64_t ntasks, lpi_task *out) {
    lp_status st;
    memset(out, 0, sizeof *out);
    if (!json_is_object(j)) FAIL(LP_ERR_FORMAT, "%s: a task must be an object", where);
    if ((st = lpi_json_only_keys(ctx, where, j, K_TASK, "key"))) return st;
    int64_t pn, ndeps = 0, pelems = 0;
    if ((st = lpi_json_int(ctx, where, j, "pnode", false, 0, npnodes - 1, &pn))) return st;
    const lpi_pnode *p = &pnodes[pn];
    out->pnode = (int32_t)pn;
    if ((st = lpi_json_int(ctx, where, j, "chunk", false, 0, p->grid.total - 1, &out->chunk)) ||
        (st = lpi_json_int(ctx, where, j, "ndeps", false, 0, INT32_MAX, &ndeps)) ||
        (st = lpi_json_int(ctx, where, j, "prio", false, INT64_MIN, INT64_MAX, &out->prio)) ||
        (st = lpi_json_int(ctx, where, j, "pelems", !lpi_pnode_has_pelems(p), 0,
                           INT64_MAX >> 4, &pelems)))
        return st;
    out->ndeps = (int32_t)ndeps;
    out->pelems = pelems;
    /* the box: the output chunk's, except partial tasks (a box of the reduce input) and
     * non-final combine tasks (no box of their own) */
    lpi_box cb;
    lpi_grid_chunk_box(&p->grid, out->chunk, &cb);
    const json_t *bj = json_object_get(j, "box");
    bool partial_in = p->kernel == LPI_K_PARTIAL || (p->kernel == LPI_K_MATMUL && p->red), free_box = p->kernel == LPI_K_COMBINE && !p->final;
    if (partial_in) st = lpi_box_from_json(ctx, where, bj, p->red->in_ndim, p->red->in_shape, &out->box);
    else if (free_box && json_is_array(bj) && json_array_size(bj) > LP_MAX_NDIM) st = lpi_error(ctx, LP_ERR_LIMIT, "%s: box has too many axes", where);
    else if (free_box) st = lpi_box_from_json(ctx, where, bj, json_is_array(bj) ? (int)json_array_size(bj) : 1, NULL, &out->box);
    else st = lpi_box_from_json(ctx, where, bj, p->ndim, p->shape, &out->box);
    if (st) return st;
    if (!partial_in && !free_box && !lpi_box_eq(&out->box, &cb))
        FAIL(LP_ERR_VALUE, "%s: the box is not chunk %lld of pnode %lld", where, (long long)out->chunk, (long long)pn);
    if (out->box.ndim > LP_MAX_NDIM) FAIL(LP_ERR_LIMIT, "%s: box has too many axes", where);
    if (partial_in) {
        int64_t pel = 1;
        for (int i = 0; i < p->red->in_ndim; i++)
            if (!(p->red->axes & (1u << i))) pel *= out->box.hi[i] - out->box.lo[i];
        if (pel != pelems) FAIL(LP_ERR_VALUE, "%s: 'pelems' is %lld but the box keeps %lld elements", where, (long long)pelems, (long long)pel);
    }
    if ((p->kernel == LPI_K_PARTIAL || p->kernel == LPI_K_COMBINE) && p->final && lpi_box_size(&cb) != pelems)
        FAIL(LP_ERR_VALUE, "%s: 'pelems' is %lld but the output chunk holds %lld", where, (long long)pelems, (long long)lpi_box_size(&cb));
    /* operands */
    const json_t *ops = json_object_get(j, "ops");
    if (!json_is_array(ops)) FAIL(LP_ERR_FORMAT, "%s: 'ops' must be a list", where);
    size_t nops = json_array_size(ops);
    size_t want_lo = 0, want_hi = 0;
    switch (p->kernel) {
    case LPI_K_MAP: case LPI_K_PARTIAL: want_lo = want_hi = (size_t)p->prog->ninputs; break;
    case LPI_K_COPY: case LPI_K_RESHAPE: want_lo = want_hi = 1; break;
    case LPI_K_COMBINE: want_lo = 1; want_hi = LPI_PLAN_MAX_FANIN; break;
    case LPI_K_MATMUL: want_hi = LPI_PLAN_MAX_PIECES; break; /* two per k-piece, checked below */
    case LPI_K_LINALG: want_lo = want_hi = (size_t)p->nin; break;
    case LPI_K_SCAN: want_lo = 1; want_hi = 2; break;
    case LPI_K_FFT: want_lo = want_hi = 1; break;
    case LPI_K_SORT: case LPI_K_INDEX: want_lo = 1; want_hi = (size_t)LPI_PLAN_MAX_PIECES; break; /* the kernel checks its operands */
    default: break;
    }
    if (nops < want_lo || nops > want_hi)
        FAIL(LP_ERR_VALUE, "%s: a %s task has %zu operand(s), expected %zu..%zu", where, lpi_kernel_name(p->kernel), nops, want_lo, want_hi);
    out->nops = (int)nops;
    if (nops && !(out->ops = lpi_arena_alloc(ar, nops * sizeof *out->ops))) return lpi_nomem(ctx);
    for (size_t k = 0; k < nops; k++) {
        char w[LPI_WHERE_MAX + 16];
        snprintf(w, sizeof w, "%s operand %zu", where, k);
        lpi_operand *op = &out->ops[k];
        if ((st = operand_from_json(ctx, ar, w, json_array_get(ops, k), pnodes, npnodes, op))) return st;
        const lpi_pnode *q = &pnodes[op->pnode];
        switch (p->kernel) {
        case LPI_K_MAP: case LPI_K_PARTIAL: {
            if (op->pnode != p->in[k]) FAIL(LP_ERR_VALUE, "%s: reads pnode %d, the program's input %zu is pnode %d", w, op->pnode, k, p->in[k]);
            lpi_box r;
            lpi_project(q, &out->box, &r);
            if (q->ndim > out->box.ndim || !lpi_box_eq(&r, &op->box))
                FAIL(LP_ERR_VALUE, "%s: the operand box is not the part of pnode %d the task's box reads", w, op->pnode);
            break;
        }
        case LPI_K_COMBINE:
            if (!lpi_pnode_writes_state(q) || q->red->op != p->red->op || q->grid.ndim != 1)
                FAIL(LP_ERR_VALUE, "%s: pnode %d is not a partial level of the same reduction", w, op->pnode);
            if (op->box.hi[0] - op->box.lo[0] != 1) FAIL(LP_ERR_VALUE, "%s: a combine operand is one state", w);
            break;
        case LPI_K_RESHAPE: {
            if (op->pnode != p->in[0] || !op->contig) FAIL(LP_ERR_VALUE, "%s: a reshape reads its input contiguously", w);
            int64_t orow = 1, irow = 1, n = lpi_box_size(&out->box);
            for (int i = 1; i < p->ndim; i++) orow *= p->shape[i];
            for (int i = 1; i < q->ndim; i++) irow *= q->shape[i];
            for (int i = 1; i < q->ndim; i++)
                if (op->box.lo[i] != 0 || op->box.hi[i] != q->shape[i]) FAIL(LP_ERR_VALUE, "%s: a reshape reads whole rows", w);
            int64_t out0 = p->ndim ? out->box.lo[0] * orow : 0, in0 = q->ndim ? op->box.lo[0] * irow : 0;
            if (n && (out0 < in0 || out0 - in0 + n > lpi_box_size(&op->box)))
                FAIL(LP_ERR_VALUE, "%s: the rows read do not hold the task's elements", w);
            break;
        }
        case LPI_K_COPY: {
            bool ok = false;
            for (int i = 0; i < p->nin && !ok; i++) ok = p->in[i] == op->pnode;
            if (!ok) FAIL(LP_ERR_VALUE, "%s: pnode %d is not an input of the copy", w, op->pnode);
            break;
        }
        case LPI_K_MATMUL: /* (A, B) per k-piece; syrk's diagonal blocks read A only, and A is B */
            if (op->pnode != p->in[k % 2] && op->pnode != p->in[0])
                FAIL(LP_ERR_VALUE, "%s: pnode %d is not the product's operand", w, op->pnode);
            break;
        case LPI_K_LINALG:
            if (k >= (size_t)p->nin || op->pnode != p->in[k]) FAIL(LP_ERR_VALUE, "%s: reads pnode %d, not input %zu", w, op->pnode, k);
            break;
        default: break;
        }
    }
    if (p->kernel == LPI_K_MATMUL || p->kernel == LPI_K_LINALG) {
        lp_dtype *odt = lpi_arena_alloc(ar, (nops ? nops : 1) * sizeof *odt);
        if (!odt) return lpi_nomem(ctx);
        for (size_t k = 0; k < nops; k++) odt[k] = pnodes[out->ops[k].pnode].dtype;
        if ((st = lpi_linalg_task_check(ctx, where, p, out, odt))) return st;
    }
    /* the copy map: the pnode's, or the task's own (concatenate) */
    if (p->kernel == LPI_K_COPY) {
        const json_t *mj = json_object_get(j, "map");
        const lpi_pnode *q = &pnodes[out->ops[0].pnode];
        if (mj) {
            lpi_axismap *m = lpi_arena_alloc(ar, sizeof *m);
            if (!m) return lpi_nomem(ctx);
            char w[LPI_WHERE_MAX + 8];
            snprintf(w, sizeof w, "%s: map", where);
            if ((st = lpi_axismap_from_json(ctx, w, mj, p->ndim, q->ndim, m))) return st;
            out->map = m;
        } else {
            out->map = p->map;
        }
        if (!out->map) FAIL(LP_ERR_VALUE, "%s: a copy task needs a map", where);
        /* every coordinate the map reads lies in the operand box */
        const lpi_axismap *m = out->map;
        const lpi_box *ib = &out->ops[0].box;
        if (lpi_box_size(&out->box) > 0) {
            for (int i = 0; i < q->ndim; i++)
                if (m->dropped[i] && (m->fixed[i] < ib->lo[i] || m->fixed[i] >= ib->hi[i]))
                    FAIL(LP_ERR_VALUE, "%s: fixed index %lld of input axis %d is outside the operand box", where, (long long)m->fixed[i], i);
            for (int jx = 0; jx < p->ndim; jx++) {
                int s = m->src[jx];
                int64_t lo = out->box.lo[jx], hi = out->box.hi[jx] - 1;
                if (s < 0) {
                    if (p->shape[jx] != 1) FAIL(LP_ERR_VALUE, "%s: a new axis has length 1", where);
                    continue;
                }
                int64_t a, b;
                if (__builtin_mul_overflow(m->step[jx], lo, &a) || __builtin_add_overflow(a, m->off[jx], &a) ||
                    __builtin_mul_overflow(m->step[jx], hi, &b) || __builtin_add_overflow(b, m->off[jx], &b) ||
                    a < ib->lo[s] || a >= ib->hi[s] || b < ib->lo[s] || b >= ib->hi[s])
                    FAIL(LP_ERR_VALUE, "%s: output axis %d reads outside the operand box", where, jx);
            }
        }
    } else if (json_object_get(j, "map")) {
        FAIL(LP_ERR_VALUE, "%s: only copy tasks have a map", where);
    }
    /* consumers */
    const json_t *cons = json_object_get(j, "consumers");
    if (!json_is_array(cons)) FAIL(LP_ERR_FORMAT, "%s: 'consumers' must be a list of task ids", where);
    size_t nc = json_array_size(cons);
    if ((int64_t)nc > ntasks) FAIL(LP_ERR_LIMIT, "%s: more consumers than tasks", where);
    out->nconsumers = (int32_t)nc;
    if (nc && !(out->consumers = lpi_arena_alloc(ar, nc * sizeof *out->consumers))) return lpi_nomem(ctx);
    for (size_t c = 0; c < nc; c++) {
        const json_t *e = json_array_get(cons, c);
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) >= ntasks)
            FAIL(LP_ERR_VALUE, "%s: consumer %zu is not a task id", where, c);
        out->consumers[c] = json_integer_value(e);
    }
    return LP_OK;
}

/* ---- the plan document ---- */

lp_status lpi_plan_json(lp_ctx *ctx, const lpi_plan *pl, json_t **out) {
    *out = NULL;
    json_t *top = json_object(), *pns = json_array(), *tks = json_array(), *tg = json_array();
    lp_status st = LP_OK;
    if (!top || !pns || !tks || !tg) st = lpi_nomem(ctx);
    for (int p = 0; !st && p < pl->npnodes; p++) {
        json_t *o;
        if (!(st = lpi_pnode_to_json(ctx, pl, p, &o)) && json_array_append_new(pns, o)) st = lpi_nomem(ctx);
    }
    for (int64_t t = 0; !st && t < pl->ntasks; t++) {
        json_t *o = lpi_task_to_json(pl, t);
        if (!o || json_array_append_new(tks, o)) st = lpi_nomem(ctx);
    }
    for (int t = 0; !st && t < pl->ntargets; t++)
        if (json_array_append_new(tg, json_integer(pl->target_pnode[t]))) st = lpi_nomem(ctx);
    if (!st && (json_object_set_new(top, "format", json_string(LPI_PLAN_FORMAT)) ||
                json_object_set_new(top, "version", json_integer(LPI_PLAN_VERSION)) ||
                json_object_set(top, "pnodes", pns) || json_object_set(top, "tasks", tks) ||
                json_object_set(top, "targets", tg)))
        st = lpi_nomem(ctx);
    json_decref(pns);
    json_decref(tks);
    json_decref(tg);
    if (st) { json_decref(top); return st; }
    *out = top;
    return LP_OK;
}
