/* Building a fused region's register program from the graph. Registers are SSA: every
 * inlined node, constant and cast gets one register, memoized, so a subexpression used twice in
 * a region is computed once per block. */
#include "plan/program.h"
#include "core/hmap.h"
#include "kernels/loops.h"

#include <string.h>

enum { R_INPUT = 0, R_CONST = 1, R_TEMP = 2 };

typedef struct preg {
    int kind;
    lp_dtype dt;
    int64_t payload; /* input: pnode; const: index into consts */
} preg;

typedef struct builder {
    lp_ctx *ctx;
    const lpi_graph *g;
    const int *pnode_of;
    int region;
    preg *regs;
    int nregs, capregs;
    lpi_instr *ins;
    int nins, capins;
    lpi_raw *consts;
    int nconsts, capconsts;
    lpi_hmap memo;   /* gid -> reg (inputs and inlined nodes) */
    lpi_hmap cmemo;  /* (gid, dtype) for constants; (reg, dtype) for casts */
} builder;

static int new_reg(builder *b, int kind, lp_dtype dt, int64_t payload) {
    if (b->nregs == b->capregs) {
        int c = b->capregs ? b->capregs * 2 : 16;
        preg *n = lp_realloc(b->regs, (size_t)c * sizeof *n);
        if (!n) return -1;
        b->regs = n;
        b->capregs = c;
    }
    if (b->nregs >= 30000) return -1; /* registers are int16 */
    b->regs[b->nregs] = (preg){kind, dt, payload};
    return b->nregs++;
}

static int emit(builder *b, lpi_op op, lp_dtype loop_dt, lp_dtype out_dt, int nsrc, const int *src) {
    int dst = new_reg(b, R_TEMP, out_dt, 0);
    if (dst < 0) return -1;
    if (b->nins == b->capins) {
        int c = b->capins ? b->capins * 2 : 16;
        lpi_instr *n = lp_realloc(b->ins, (size_t)c * sizeof *n);
        if (!n) return -1;
        b->ins = n;
        b->capins = c;
    }
    lpi_instr in = {(uint16_t)op, (uint8_t)loop_dt, (uint8_t)nsrc, (int16_t)dst, {0, 0, 0}};
    for (int i = 0; i < nsrc; i++) in.src[i] = (int16_t)src[i];
    b->ins[b->nins++] = in;
    return dst;
}

static int cast_to(builder *b, int reg, lp_dtype dt) {
    if (reg < 0 || b->regs[reg].dt == dt) return reg;
    uint64_t key = ((uint64_t)reg << 8 | (uint64_t)dt) | (1ULL << 62);
    int64_t r;
    if (lpi_hmap_get(&b->cmemo, key, &r)) return (int)r;
    int d = emit(b, LPI_OP_ASTYPE, b->regs[reg].dt, dt, 1, &reg);
    if (d >= 0 && !lpi_hmap_put(&b->cmemo, key, d)) return -1;
    return d;
}

/* A constant node wanted as dtype dt: converted once at build time, not per block. */
static int const_reg(builder *b, int gid, lp_dtype dt) {
    uint64_t key = ((uint64_t)gid << 8) | (uint64_t)dt;
    int64_t r;
    if (lpi_hmap_get(&b->cmemo, key, &r)) return (int)r;
    if (b->nconsts == b->capconsts) {
        int c = b->capconsts ? b->capconsts * 2 : 8;
        lpi_raw *n = lp_realloc(b->consts, (size_t)c * sizeof *n);
        if (!n) return -1;
        b->consts = n;
        b->capconsts = c;
    }
    /* SCALAR and FULL both keep their value as an lp_scalar (FULL's already in its dtype) */
    b->consts[b->nconsts] = lpi_scalar_bits(b->g->node[gid]->a.value, dt);
    int reg = new_reg(b, R_CONST, dt, b->nconsts++);
    if (reg >= 0 && !lpi_hmap_put(&b->cmemo, key, reg)) return -1;
    return reg;
}

static bool is_const_two(const lpi_graph *g, int w) {
    const lp_array *c = g->node[w];
    if (g->role[w] != LPI_ROLE_CONST || c->op != LPI_OP_SCALAR) return false;
    return (c->a.value.dtype == LP_INT64 && c->a.value.v.i == 2) ||
           (c->a.value.dtype == LP_FLOAT64 && c->a.value.v.f == 2.0);
}

/* Register holding node gid's value, in its own dtype (constants: in `want`). Iterative
 * post-order so long chains do not recurse deeply. */
static int build_node(builder *b, int root, lp_dtype want_const) {
    const lpi_graph *g = b->g;
    int64_t r;
    int *stack = NULL;
    int n = 0, cap = 0;
#define PUSH(x) do { if (n == cap) { cap = cap ? cap * 2 : 32; int *ns_ = lp_realloc(stack, (size_t)cap * sizeof *ns_); \
                     if (!ns_) { lp_free(stack); return -1; } stack = ns_; } stack[n++] = (x); } while (0)
    if (g->role[root] == LPI_ROLE_CONST) return const_reg(b, root, want_const);
    PUSH(root);
    while (n) {
        int v = stack[n - 1];
        if (lpi_hmap_get(&b->memo, (uint64_t)v, &r)) { n--; continue; }
        lp_array *a = g->node[v];
        bool inl = g->role[v] == LPI_ROLE_INLINE && g->region[v] == b->region && !g->leaf[v];
        inl |= v == root && !g->leaf[v] && lpi_ops[a->op].kind == LP_OPK_ELEMWISE && b->region == v;
        if (!inl) {
            int reg = new_reg(b, R_INPUT, a->dtype, b->pnode_of[v]);
            if (reg < 0 || !lpi_hmap_put(&b->memo, (uint64_t)v, reg)) { lp_free(stack); return -1; }
            n--;
            continue;
        }
        bool ready = true;
        for (int k = 0; k < a->nin; k++) {
            int w = g->in[v][k];
            if (g->role[w] == LPI_ROLE_CONST) continue;
            if (!lpi_hmap_get(&b->memo, (uint64_t)w, &r)) { PUSH(w); ready = false; }
        }
        if (!ready) continue;
        n--;
        lp_dtype loop_dt, out_dt;
        int src[3];
        if (a->op == LPI_OP_ASTYPE) {
            int w = g->in[v][0];
            int s = g->role[w] == LPI_ROLE_CONST ? const_reg(b, w, a->dtype)
                                                  : (lpi_hmap_get(&b->memo, (uint64_t)w, &r), (int)r);
            int d = cast_to(b, s, a->dtype);
            if (d == s && d >= 0) d = emit(b, LPI_OP_ASTYPE, a->dtype, a->dtype, 1, &s); /* keep SSA per node */
            if (d < 0 || !lpi_hmap_put(&b->memo, (uint64_t)v, d)) { lp_free(stack); return -1; }
            continue;
        }
        if (lpi_elemwise_types(b->ctx, a->op, a->nin, a->in, &loop_dt, &out_dt)) { lp_free(stack); return -1; }
        for (int k = 0; k < a->nin; k++) {
            int w = g->in[v][k];
            lp_dtype want = (a->op == LPI_OP_WHERE && k == 0) ? LP_BOOL : loop_dt;
            int s = g->role[w] == LPI_ROLE_CONST ? const_reg(b, w, want)
                                                  : (lpi_hmap_get(&b->memo, (uint64_t)w, &r), (int)r);
            src[k] = cast_to(b, s, want);
            if (src[k] < 0) { lp_free(stack); return -1; }
        }
        lpi_op op = a->op;
        if (op == LPI_OP_POWER && is_const_two(g, g->in[v][1])) {
            /* x ** 2 is x * x (exactly: both are the correctly rounded square), as in NumPy's
             * fast scalar power; pow() is ten times slower. */
            op = LPI_OP_MULTIPLY;
            src[1] = src[0];
        }
        int d = emit(b, op, loop_dt, lpi_loop_out_dtype(op, loop_dt), a->nin, src);
        if (d >= 0 && b->regs[d].dt != a->dtype) d = cast_to(b, d, a->dtype);
        if (d < 0 || !lpi_hmap_put(&b->memo, (uint64_t)v, d)) { lp_free(stack); return -1; }
    }
#undef PUSH
    lp_free(stack);
    lpi_hmap_get(&b->memo, (uint64_t)root, &r);
    return (int)r;
}

lp_status lpi_program_build(lp_ctx *ctx, lpi_arena *ar, const lpi_graph *g, const int *pnode_of, int root,
                            int region, const lp_dtype *casts, int ncasts, lpi_program **out,
                            int **inputs, int *ninputs) {
    builder b = {.ctx = ctx, .g = g, .pnode_of = pnode_of, .region = region};
    lp_status st = LP_OK;
    if (!lpi_hmap_init(&b.memo, 32) || !lpi_hmap_init(&b.cmemo, 16)) { st = lpi_nomem(ctx); goto done; }
    lp_dtype first = ncasts ? casts[0] : g->node[root]->dtype;
    int reg = build_node(&b, root, first);
    for (int i = 0; i < ncasts && reg >= 0; i++) reg = cast_to(&b, reg, casts[i]);
    /* the output must be written by the last instruction into a temp register */
    if (reg >= 0 && (b.regs[reg].kind != R_TEMP || b.ins[b.nins - 1].dst != reg))
        reg = emit(&b, LPI_OP_ASTYPE, b.regs[reg].dt, b.regs[reg].dt, 1, &reg);
    if (reg < 0) {
        st = lp_last_status(ctx) != LP_OK ? lp_last_status(ctx)
                                          : lpi_error(ctx, LP_ERR_NOMEM, "building a fused kernel failed");
        goto done;
    }
    /* renumber: inputs, constants, temporaries */
    int *map = lp_malloc((size_t)b.nregs * sizeof *map);
    if (!map) { st = lpi_nomem(ctx); goto done; }
    int ni = 0, nc = 0, nt = 0;
    for (int i = 0; i < b.nregs; i++) ni += b.regs[i].kind == R_INPUT, nc += b.regs[i].kind == R_CONST;
    lpi_program *p = lpi_arena_alloc(ar, sizeof *p);
    int *inp = lpi_arena_alloc(ar, (size_t)(ni ? ni : 1) * sizeof *inp);
    if (p) {
        p->reg_dt = lpi_arena_alloc(ar, (size_t)b.nregs * sizeof *p->reg_dt);
        p->consts = lpi_arena_alloc(ar, (size_t)(nc ? nc : 1) * sizeof *p->consts);
        p->ins = lpi_arena_alloc(ar, (size_t)b.nins * sizeof *p->ins);
    }
    if (!p || !inp || !p->reg_dt || !p->consts || !p->ins) { lp_free(map); st = lpi_nomem(ctx); goto done; }
    int ki = 0, kc = 0;
    for (int i = 0; i < b.nregs; i++) {
        if (b.regs[i].kind == R_INPUT) { map[i] = ki; inp[ki++] = (int)b.regs[i].payload; }
        else if (b.regs[i].kind == R_CONST) { map[i] = ni + kc; p->consts[kc++] = b.consts[b.regs[i].payload]; }
        else map[i] = ni + nc + nt++;
        p->reg_dt[map[i]] = b.regs[i].dt;
    }
    p->ninputs = ni;
    p->nconst = nc;
    p->nregs = b.nregs;
    p->ninstr = b.nins;
    for (int i = 0; i < b.nins; i++) {
        p->ins[i] = b.ins[i];
        p->ins[i].dst = (int16_t)map[b.ins[i].dst];
        for (int s = 0; s < b.ins[i].nsrc; s++) p->ins[i].src[s] = (int16_t)map[b.ins[i].src[s]];
    }
    p->out_reg = map[reg];
    lp_free(map);
    *out = p;
    *inputs = inp;
    *ninputs = ni;
done:
    lp_free(b.regs);
    lp_free(b.ins);
    lp_free(b.consts);
    lpi_hmap_free(&b.memo);
    lpi_hmap_free(&b.cmemo);
    return st;
}
