/* Elementwise op builders: NumPy's ufunc type resolution and broadcasting. */
#include "expr/expr.h"

#include <math.h>

#include <stdio.h>
#include <string.h>

lp_dtype lpi_reduce_out_dtype(lpi_op op, lp_dtype in) {
    switch (op) {
    case LPI_OP_SUM: case LPI_OP_PROD: /* NumPy: the platform integer, unsigned for unsigned input */
        return lpi_dtype_kind(in) >= LPI_KIND_FLOAT ? in : lpi_dtype_unsigned(in) ? LP_UINT64 : LP_INT64;
    case LPI_OP_MEAN:
        return lpi_dtype_kind(in) >= LPI_KIND_FLOAT ? in : LP_FLOAT64;
    case LPI_OP_VAR: case LPI_OP_STD: /* of a complex array: real (the mean squared modulus) */
        return lpi_dtype_kind(in) >= LPI_KIND_FLOAT ? lpi_dtype_real(in) : LP_FLOAT64;
    case LPI_OP_ARGMIN: case LPI_OP_ARGMAX: return LP_INT64;
    case LPI_OP_ANY: case LPI_OP_ALL: return LP_BOOL;
    default: return in; /* min, max */
    }
}

/* The dtype all (non-condition) operands are promoted to: strong operands by np.result_type,
 * then weak Python scalars by NEP 50. */
static lp_dtype common_dtype(int nin, lp_array *const *in) {
    int strong = -1, weak = -1;
    for (int i = 0; i < nin; i++) {
        lp_dtype dt = in[i]->dtype;
        if (lpi_is_weak(in[i])) weak = weak < 0 ? (int)dt : (int)lp_promote((lp_dtype)weak, dt);
        else strong = strong < 0 ? (int)dt : (int)lp_promote((lp_dtype)strong, dt);
    }
    if (strong < 0) return (lp_dtype)weak;
    if (weak < 0) return (lp_dtype)strong;
    return lpi_promote_weak((lp_dtype)strong, (lp_dtype)weak);
}

/* the elementwise ops with complex loops (kernels/loops_complex.c); NumPy has no complex
 * rounding toward an integer, remainder or bitwise ops either */
static bool complex_ok(lpi_op op) {
    switch (op) {
    case LPI_OP_ADD: case LPI_OP_SUBTRACT: case LPI_OP_MULTIPLY: case LPI_OP_DIVIDE: case LPI_OP_POWER:
    case LPI_OP_EQUAL: case LPI_OP_NOT_EQUAL: case LPI_OP_LOGICAL_AND: case LPI_OP_LOGICAL_OR:
    case LPI_OP_LOGICAL_XOR: case LPI_OP_LOGICAL_NOT: case LPI_OP_NEGATIVE: case LPI_OP_ABS: case LPI_OP_SQRT:
    case LPI_OP_EXP: case LPI_OP_LOG: case LPI_OP_SIN: case LPI_OP_COS: case LPI_OP_TANH: case LPI_OP_WHERE:
    case LPI_OP_ISNAN: case LPI_OP_ISINF: case LPI_OP_ISFINITE: case LPI_OP_SIGN: case LPI_OP_SQUARE:
    case LPI_OP_RECIPROCAL: case LPI_OP_RINT: case LPI_OP_LOG1P: case LPI_OP_LOG2: case LPI_OP_LOG10:
    case LPI_OP_EXPM1: case LPI_OP_EXP2: case LPI_OP_TAN: case LPI_OP_ARCSIN: case LPI_OP_ARCCOS:
    case LPI_OP_ARCTAN: case LPI_OP_SINH: case LPI_OP_COSH: case LPI_OP_ARCSINH: case LPI_OP_ARCCOSH:
    case LPI_OP_ARCTANH: case LPI_OP_CONJ: case LPI_OP_REAL: case LPI_OP_IMAG:
    /* NumPy's lexicographic order (real part, then imaginary) */
    case LPI_OP_LESS: case LPI_OP_LESS_EQUAL: case LPI_OP_GREATER: case LPI_OP_GREATER_EQUAL:
    case LPI_OP_MAXIMUM: case LPI_OP_MINIMUM: case LPI_OP_FMAX: case LPI_OP_FMIN:
        return true;
    default: return false;
    }
}

static lp_status unsupported(lp_ctx *ctx, lpi_op op, int nin, lp_array *const *in) {
    char types[64] = "";
    for (int i = 0; i < nin; i++) {
        size_t l = strlen(types);
        snprintf(types + l, sizeof types - l, "%s%s", i ? ", " : "", lp_dtype_name(in[i]->dtype));
    }
    return lpi_error(ctx, LP_ERR_TYPE,
                     "ufunc '%s' not supported for the input types (%s), and the inputs could not be "
                     "safely coerced to any supported types according to the casting rule ''safe''",
                     lpi_ops[op].name, types);
}

lp_status lpi_elemwise_types(lp_ctx *ctx, lpi_op op, int nin, lp_array *const *in, lp_dtype *loop_dt,
                             lp_dtype *out_dt) {
    lp_dtype c = op == LPI_OP_WHERE ? common_dtype(2, in + 1) : common_dtype(nin, in);
    lpi_kind k = lpi_dtype_kind(c);
    *loop_dt = *out_dt = c;
    if (k == LPI_KIND_COMPLEX && !complex_ok(op)) return unsupported(ctx, op, nin, in);
    switch (op) {
    case LPI_OP_SUBTRACT:
        if (k == LPI_KIND_BOOL)
            return lpi_error(ctx, LP_ERR_TYPE, "numpy boolean subtract, the `-` operator, is not supported, "
                             "use the bitwise_xor, the `^` operator, or the logical_xor function instead.");
        break;
    case LPI_OP_NEGATIVE:
        if (k == LPI_KIND_BOOL)
            return lpi_error(ctx, LP_ERR_TYPE, "The numpy boolean negative, the `-` operator, is not supported, "
                             "use the `~` operator or the logical_not function instead.");
        break;
    case LPI_OP_DIVIDE:
        if (k < LPI_KIND_FLOAT) *loop_dt = *out_dt = LP_FLOAT64;
        break;
    case LPI_OP_LEFT_SHIFT: case LPI_OP_RIGHT_SHIFT:
        if (k != LPI_KIND_BOOL && !lpi_dtype_is_int(c)) return unsupported(ctx, op, nin, in);
        if (k == LPI_KIND_BOOL) *loop_dt = *out_dt = LP_INT8;
        break;
    case LPI_OP_FLOOR_DIVIDE: case LPI_OP_REMAINDER: case LPI_OP_POWER:
    case LPI_OP_SQUARE: case LPI_OP_RECIPROCAL: case LPI_OP_FMOD:
        /* NumPy's first loop a bool casts to safely is int8's */
        if (k == LPI_KIND_BOOL) *loop_dt = *out_dt = LP_INT8;
        break;
    case LPI_OP_EQUAL: case LPI_OP_NOT_EQUAL: case LPI_OP_LESS: case LPI_OP_LESS_EQUAL:
    case LPI_OP_GREATER: case LPI_OP_GREATER_EQUAL:
        *out_dt = LP_BOOL;
        break;
    case LPI_OP_LOGICAL_AND: case LPI_OP_LOGICAL_OR: case LPI_OP_LOGICAL_XOR: case LPI_OP_LOGICAL_NOT:
        *loop_dt = *out_dt = LP_BOOL;
        break;
    case LPI_OP_BITWISE_AND: case LPI_OP_BITWISE_OR: case LPI_OP_BITWISE_XOR: case LPI_OP_INVERT:
        if (k == LPI_KIND_FLOAT) return unsupported(ctx, op, nin, in);
        break;
    case LPI_OP_SQRT: case LPI_OP_EXP: case LPI_OP_LOG: case LPI_OP_SIN: case LPI_OP_COS: case LPI_OP_TANH:
    case LPI_OP_RINT: case LPI_OP_LOG1P: case LPI_OP_LOG2: case LPI_OP_LOG10: case LPI_OP_EXPM1: case LPI_OP_EXP2:
    case LPI_OP_TAN: case LPI_OP_ARCSIN: case LPI_OP_ARCCOS: case LPI_OP_ARCTAN: case LPI_OP_SINH: case LPI_OP_COSH:
    case LPI_OP_ARCSINH: case LPI_OP_ARCCOSH: case LPI_OP_ARCTANH: case LPI_OP_CBRT: case LPI_OP_DEG2RAD:
    case LPI_OP_RAD2DEG: case LPI_OP_ARCTAN2: case LPI_OP_HYPOT: case LPI_OP_COPYSIGN: case LPI_OP_LOGADDEXP:
    case LPI_OP_NEXTAFTER:
        /* float loops only: the smallest float that holds the operands (bool, int8, uint8:
         * float16; int16, uint16: float32; wider: float64), as NumPy's type resolution picks */
        if (k < LPI_KIND_FLOAT) *loop_dt = *out_dt = lp_promote(c, LP_FLOAT16);
        break;
    case LPI_OP_ABS: case LPI_OP_REAL: case LPI_OP_IMAG:
        *out_dt = lpi_dtype_real(c);
        break;
    case LPI_OP_CONJ:
        if (k != LPI_KIND_COMPLEX) return unsupported(ctx, op, nin, in); /* lp_elemwise: the input itself */
        break;
    case LPI_OP_MAKE_COMPLEX:
        if (k == LPI_KIND_COMPLEX) return unsupported(ctx, op, nin, in);
        *loop_dt = lp_promote(c, LP_FLOAT32) == LP_FLOAT32 ? LP_FLOAT32 : LP_FLOAT64;
        *out_dt = *loop_dt == LP_FLOAT32 ? LP_COMPLEX64 : LP_COMPLEX128;
        break;
    case LPI_OP_ISNAN: case LPI_OP_ISINF: case LPI_OP_ISFINITE: case LPI_OP_SIGNBIT:
        *out_dt = LP_BOOL;
        break;
    case LPI_OP_SIGN:
        if (k == LPI_KIND_BOOL) return unsupported(ctx, op, nin, in);
        break;
    case LPI_OP_ALLNAN_CHECK:
        if (c != LP_INT64) return unsupported(ctx, op, nin, in);
        break;
    default: break;
    }
    /* NEP 50: a Python int must fit the integer dtype it is used as. Comparisons are defined
     * by value in NumPy 2 (int32_array < 2**40 is all True): compare in int64 (float64 for
     * uint64 with a negative int) instead. */
    if (lpi_dtype_is_int(*loop_dt))
        for (int i = 0; i < nin; i++) {
            if (!lpi_is_weak(in[i]) || in[i]->dtype != LP_INT64) continue;
            int64_t v = in[i]->a.value.v.i, lo, hi;
            lpi_int_range(*loop_dt, &lo, &hi);
            if (*loop_dt == LP_UINT64) hi = INT64_MAX;
            if (v >= lo && v <= hi) continue;
            if (*out_dt == LP_BOOL && op != LPI_OP_WHERE) {
                *loop_dt = *loop_dt == LP_UINT64 ? LP_FLOAT64 : LP_INT64;
                continue;
            }
            return lpi_error(ctx, LP_ERR_VALUE, "Python integer %lld out of bounds for %s", (long long)v,
                             lp_dtype_name(*loop_dt));
        }
    return LP_OK;
}

static bool is_comparison(lpi_op op) {
    return op == LPI_OP_EQUAL || op == LPI_OP_NOT_EQUAL || op == LPI_OP_LESS || op == LPI_OP_LESS_EQUAL ||
           op == LPI_OP_GREATER || op == LPI_OP_GREATER_EQUAL;
}

/* A signed integer array against a uint64 array: NumPy 2 compares them exactly (their common
 * type, float64, cannot). With s signed: s < u is (s < 0) | (uint64(s) < u), s > u is
 * (s >= 0) & (uint64(s) > u), and so on; u OP s is s OP' u with the operands' roles swapped. */
static lp_status compare_mixed_u64(lp_ctx *ctx, lpi_op op, lp_array *s, lp_array *u, bool s_first, lp_array **out) {
    if (!s_first) /* u < s is s > u */
        op = op == LPI_OP_LESS ? LPI_OP_GREATER : op == LPI_OP_GREATER ? LPI_OP_LESS
           : op == LPI_OP_LESS_EQUAL ? LPI_OP_GREATER_EQUAL : op == LPI_OP_GREATER_EQUAL ? LPI_OP_LESS_EQUAL : op;
    const bool neg_true = op == LPI_OP_LESS || op == LPI_OP_LESS_EQUAL || op == LPI_OP_NOT_EQUAL;
    lp_array *zero = NULL, *sign = NULL, *su = NULL, *c = NULL;
    lp_status st = lp_scalar_array(ctx, lp_scalar_i(0), &zero);
    if (!st) st = lp_binary(ctx, neg_true ? "less" : "greater_equal", s, zero, &sign);
    if (!st) st = lp_astype(ctx, s, LP_UINT64, &su);
    if (!st) st = lp_binary(ctx, lpi_ops[op].name, su, u, &c);
    if (!st) st = lp_binary(ctx, neg_true ? "logical_or" : "logical_and", sign, c, out);
    lp_array_release(zero);
    lp_array_release(sign);
    lp_array_release(su);
    lp_array_release(c);
    return st;
}

lp_status lp_elemwise(lp_ctx *ctx, const char *name, int nin, lp_array *const *in, lp_array **out) {
    *out = NULL;
    lpi_op op;
    if (!name || !lpi_op_lookup(name, &op) || lpi_ops[op].kind != LP_OPK_ELEMWISE || op == LPI_OP_ASTYPE)
        return lpi_error(ctx, LP_ERR_VALUE, "unknown elementwise op '%s'", name ? name : "(null)");
    if (nin != lpi_ops[op].nin)
        return lpi_error(ctx, LP_ERR_VALUE, "%s takes %d operand(s), %d given", name, lpi_ops[op].nin, nin);
    int ndims[3];
    const int64_t *shapes[3];
    for (int i = 0; i < nin; i++) {
        if (!in[i]) return lpi_error(ctx, LP_ERR_VALUE, "%s: operand %d is NULL", name, i);
        ndims[i] = in[i]->ndim;
        shapes[i] = in[i]->shape;
    }
    if (is_comparison(op) && !lpi_is_weak(in[0]) && !lpi_is_weak(in[1])) {
        for (int k = 0; k < 2; k++) {
            lp_dtype a = in[k]->dtype, b = in[1 - k]->dtype;
            if (lpi_dtype_is_int(a) && !lpi_dtype_unsigned(a) && b == LP_UINT64)
                return compare_mixed_u64(ctx, op, in[k], in[1 - k], k == 0, out);
        }
    }
    if (op == LPI_OP_CONJ && in[0]->dtype == LP_BOOL) /* NumPy's first conjugate loop for bools is int8's */
        return lp_astype(ctx, in[0], LP_INT8, out);
    if ((op == LPI_OP_CONJ || op == LPI_OP_REAL) && !lpi_dtype_is_complex(in[0]->dtype))
        return lp_astype(ctx, in[0], in[0]->dtype, out); /* a real number is its own conjugate and real part */
    if (op == LPI_OP_IMAG && !lpi_dtype_is_complex(in[0]->dtype))
        return lp_zeros(ctx, in[0]->dtype, in[0]->ndim, in[0]->shape, out);
    lp_dtype loop_dt, out_dt;
    lp_status st = lpi_elemwise_types(ctx, op, nin, in, &loop_dt, &out_dt);
    if (st) return st;
    int nd;
    int64_t shape[LP_MAX_NDIM];
    if ((st = lpi_broadcast_shapes(ctx, nin, ndims, shapes, &nd, shape))) return st;
    lp_array *a;
    if ((st = lpi_node_new(ctx, op, out_dt, nd, shape, nin, in, &a))) return st;
    /* a node whose operands are all weak scalars is itself a weak scalar value */
    *out = a;
    return LP_OK;
}

lp_status lp_unary(lp_ctx *ctx, const char *op, lp_array *a, lp_array **out) {
    return lp_elemwise(ctx, op, 1, &a, out);
}

lp_status lp_binary(lp_ctx *ctx, const char *op, lp_array *a, lp_array *b, lp_array **out) {
    lp_array *in[2] = {a, b};
    return lp_elemwise(ctx, op, 2, in, out);
}

lp_status lp_where(lp_ctx *ctx, lp_array *cond, lp_array *a, lp_array *b, lp_array **out) {
    lp_array *in[3] = {cond, a, b};
    return lp_elemwise(ctx, "where", 3, in, out);
}

lp_status lp_astype(lp_ctx *ctx, lp_array *a, lp_dtype dt, lp_array **out) {
    *out = NULL;
    if ((unsigned)dt >= LP_DTYPE_COUNT) return lpi_error(ctx, LP_ERR_TYPE, "invalid dtype code %d", (int)dt);
    return lpi_node_new(ctx, LPI_OP_ASTYPE, dt, a->ndim, a->shape, 1, &a, out);
}

/* ---- complex reductions: how each acts on complex values ------------------------------ */

/* f(real(x)) and f(imag(x)), both built by `part` (a reduction with its arguments in arg), put
 * back together as a complex array (add: their sum, a real array). */
static lp_status complex_parts(lp_ctx *ctx, lp_array *x, lp_status (*part)(lp_ctx *, lp_array *, void *, lp_array **),
                             void *arg, bool add, lp_array **out) {
    lp_array *re = NULL, *im = NULL, *fr = NULL, *fi = NULL;
    lp_status st = lp_unary(ctx, "real", x, &re);
    if (!st) st = lp_unary(ctx, "imag", x, &im);
    if (!st) st = part(ctx, re, arg, &fr);
    if (!st) st = part(ctx, im, arg, &fi);
    if (!st) st = lp_binary(ctx, add ? "add" : "make_complex", fr, fi, out);
    lp_array_release(re);
    lp_array_release(im);
    lp_array_release(fr);
    lp_array_release(fi);
    return st;
}

/* The reduction kernel's states are real (kernels/reduce.c), so a reduction of a complex array
 * is built from real reductions or from the complex scans, by the rule it declares here:
 *   PARTS    f(re) + i f(im): sums and means split by parts (and keep their accuracy)
 *   NORM     f(re) + f(im), real: var is the mean squared modulus of x - mean (std its sqrt)
 *   NONZERO  f(x != 0)
 *   FOLD     the last element of `scan` along each reduced axis, innermost first. The scans fold
 *            complex values with the elementwise product, maximum and minimum (NumPy's textbook
 *            product, from the identity 1 as NumPy's; its lexicographic order, where the first NaN wins and of equal values
 *            the first), so prod/max/min give numpy's multiply/maximum/minimum.reduce, and the
 *            "first" of a multi-axis fold is the first in C order, as NumPy's
 *   FIRST    the first index (bool argmax) where x is the FOLD's result, or is NaN when that is:
 *            argmax/argmin are NumPy's first maximum / first NaN */
typedef enum { CR_PARTS, CR_NORM, CR_NONZERO, CR_FOLD, CR_FIRST } complex_rule;
static const struct { lpi_op op; complex_rule rule; lpi_op scan; lpi_op via; } complex_rules[] = {
    {LPI_OP_SUM, CR_PARTS, 0, LPI_OP_SUM},     {LPI_OP_MEAN, CR_PARTS, 0, LPI_OP_MEAN},
    {LPI_OP_VAR, CR_NORM, 0, LPI_OP_VAR},      {LPI_OP_STD, CR_NORM, 0, LPI_OP_VAR},
    {LPI_OP_ANY, CR_NONZERO, 0, LPI_OP_ANY},   {LPI_OP_ALL, CR_NONZERO, 0, LPI_OP_ALL},
    {LPI_OP_PROD, CR_FOLD, LPI_OP_CUMPROD, 0}, {LPI_OP_MAX, CR_FOLD, LPI_OP_CUMMAX, 0},
    {LPI_OP_MIN, CR_FOLD, LPI_OP_CUMMIN, 0},   {LPI_OP_ARGMAX, CR_FIRST, LPI_OP_CUMMAX, 0},
    {LPI_OP_ARGMIN, CR_FIRST, LPI_OP_CUMMIN, 0},
};

typedef struct { const char *name; const int *axes; int naxes; bool keepdims; double ddof; } reduce_args;
static lp_status reduce_part(lp_ctx *ctx, lp_array *x, void *arg, lp_array **out) {
    const reduce_args *r = arg;
    return lp_reduce_ddof(ctx, r->name, x, r->axes, r->naxes, r->keepdims, r->ddof, out);
}

/* the fold of `scan` over the axes in mask (keepdims: unit axes there); an empty reduced axis
 * gives the identity (only prod gets here with one: min/max refuse it before) */
static lp_status complex_fold(lp_ctx *ctx, lpi_op scan, lp_array *a, uint32_t mask, bool keepdims, lp_array **out) {
    int64_t shape[LP_MAX_NDIM];
    int nd = 0;
    bool empty = false;
    for (int i = 0; i < a->ndim; i++) {
        if (!(mask & (1u << i))) shape[nd++] = a->shape[i];
        else if (keepdims) shape[nd++] = 1;
        empty |= (mask & (1u << i)) && a->shape[i] == 0;
    }
    if (empty) return lp_ones(ctx, a->dtype, nd, shape, out);
    lp_array *x = a;
    lp_array_retain(x);
    lp_status st = LP_OK;
    for (int i = a->ndim - 1; i >= 0 && !st; i--) {
        if (!(mask & (1u << i))) continue;
        lp_array *s = NULL, *last = NULL;
        lp_index ix[LP_MAX_NDIM];
        for (int k = 0; k < a->ndim; k++) ix[k] = (lp_index){LP_IDX_SLICE, k == i, false, k == i ? -1 : 0, 0, 1};
        if (scan == LPI_OP_CUMPROD && x == a) {
            /* NumPy's product starts from its identity: 1 * x0 (NaN where x0 has an infinite part) */
            lp_array *one = NULL, *in[2], *cat = NULL;
            int64_t s1[LP_MAX_NDIM];
            memcpy(s1, a->shape, sizeof s1);
            s1[i] = 1;
            if (!(st = lp_ones(ctx, a->dtype, a->ndim, s1, &one))) {
                in[0] = one;
                in[1] = x;
                st = lp_concatenate(ctx, 2, in, i, &cat);
            }
            lp_array_release(one);
            lp_array_release(x);
            x = cat;
            if (st) break;
        }
        if (!(st = lpi_scan(ctx, scan, x, i, &s))) st = lp_slice(ctx, s, a->ndim, ix, &last);
        lp_array_release(s);
        lp_array_release(x);
        x = last;
    }
    if (!st) st = lp_reshape(ctx, x, nd, shape, out);
    lp_array_release(x);
    return st;
}

static lp_status complex_reduce(lp_ctx *ctx, lpi_op op, lp_array *a, const int *axes, int naxes, uint32_t mask,
                                bool keepdims, double ddof, lp_array **out) {
    size_t k = 0;
    while (k < sizeof complex_rules / sizeof complex_rules[0] && complex_rules[k].op != op) k++;
    if (k == sizeof complex_rules / sizeof complex_rules[0])
        return lpi_error(ctx, LP_ERR_TYPE, "%s of a complex array is not supported", lpi_ops[op].name);
    reduce_args r = {lpi_ops[complex_rules[k].via].name, axes, naxes, keepdims, ddof};
    lp_array *t1 = NULL, *t2 = NULL, *t3 = NULL, *t4 = NULL;
    lp_status st;
    switch (complex_rules[k].rule) {
    case CR_PARTS: return complex_parts(ctx, a, reduce_part, &r, false, out);
    case CR_NORM:
        if (op == LPI_OP_VAR) return complex_parts(ctx, a, reduce_part, &r, true, out);
        if (!(st = complex_parts(ctx, a, reduce_part, &r, true, &t1))) st = lp_unary(ctx, "sqrt", t1, out);
        break;
    case CR_NONZERO:
        if (!(st = lp_astype(ctx, a, LP_BOOL, &t1))) st = lp_reduce_ddof(ctx, r.name, t1, axes, naxes, keepdims, ddof, out);
        break;
    case CR_FOLD: return complex_fold(ctx, complex_rules[k].scan, a, mask, keepdims, out);
    default: { /* CR_FIRST */
        lp_array *m = NULL;
        if (!(st = complex_fold(ctx, complex_rules[k].scan, a, mask, true, &m)) && !(st = lp_unary(ctx, "isnan", m, &t1)) &&
            !(st = lp_unary(ctx, "isnan", a, &t2)) && !(st = lp_binary(ctx, "equal", a, m, &t3)) &&
            !(st = lp_where(ctx, t1, t2, t3, &t4)))
            st = lp_reduce_ddof(ctx, "argmax", t4, axes, naxes, keepdims, 0, out);
        lp_array_release(m);
    }
    }
    lp_array_release(t1);
    lp_array_release(t2);
    lp_array_release(t3);
    lp_array_release(t4);
    return st;
}

/* ---- reductions ---------------------------------------------------------------------- */

lp_status lp_reduce_ddof(lp_ctx *ctx, const char *name, lp_array *a, const int *axes, int naxes,
                         bool keepdims, double ddof, lp_array **out) {
    *out = NULL;
    lpi_op op;
    if (!name || !lpi_op_lookup(name, &op) || lpi_ops[op].kind != LP_OPK_REDUCE)
        return lpi_error(ctx, LP_ERR_VALUE, "unknown reduction '%s'", name ? name : "(null)");
    if (!(ddof >= 0) || !isfinite(ddof)) return lpi_error(ctx, LP_ERR_VALUE, "ddof must be non-negative, got %g", ddof);
    uint32_t mask = 0;
    bool arg = op == LPI_OP_ARGMIN || op == LPI_OP_ARGMAX;
    if (!axes) {
        mask = a->ndim ? (uint32_t)((1u << a->ndim) - 1) : 0;
    } else {
        if (naxes < 0 || naxes > LP_MAX_NDIM)
            return lpi_error(ctx, LP_ERR_VALUE, "%s: too many axes (%d)", name, naxes);
        if (arg && naxes != 1)
            return lpi_error(ctx, LP_ERR_TYPE, "%s: axis must be None or a single integer", name);
        for (int i = 0; i < naxes; i++) {
            int ax;
            lp_status st = lpi_norm_axis(ctx, axes[i], a->ndim, &ax);
            if (st) return st;
            if (mask & (1u << ax)) return lpi_error(ctx, LP_ERR_VALUE, "duplicate value in 'axis'");
            mask |= 1u << ax;
        }
    }
    int64_t nred = 1, shape[LP_MAX_NDIM];
    int nd = 0;
    for (int i = 0; i < a->ndim; i++) {
        if (mask & (1u << i)) {
            nred *= a->shape[i];
            if (keepdims) shape[nd++] = 1;
        } else {
            shape[nd++] = a->shape[i];
        }
    }
    int64_t outsize;
    lpi_shape_size(nd, shape, &outsize);
    if (nred == 0 && outsize > 0) {
        if (op == LPI_OP_MIN || op == LPI_OP_MAX)
            return lpi_error(ctx, LP_ERR_VALUE, "zero-size array to reduction operation %s which has no identity",
                             op == LPI_OP_MIN ? "minimum" : "maximum");
        if (arg) return lpi_error(ctx, LP_ERR_VALUE, "attempt to get %s of an empty sequence", name);
    }
    if (lpi_dtype_is_complex(a->dtype)) return complex_reduce(ctx, op, a, axes, naxes, mask, keepdims, ddof, out);
    lp_array *r;
    lp_status st = lpi_node_new(ctx, op, lpi_reduce_out_dtype(op, a->dtype), nd, shape, 1, &a, &r);
    if (st) return st;
    r->a.axes = mask;
    r->a.keepdims = keepdims;
    r->a.ddof = ddof;
    *out = r;
    return LP_OK;
}

lp_status lp_reduce(lp_ctx *ctx, const char *op, lp_array *a, const int *axes, int naxes, bool keepdims,
                    lp_array **out) {
    return lp_reduce_ddof(ctx, op, a, axes, naxes, keepdims, 0, out);
}
