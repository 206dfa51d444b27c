/* Building a parsed `lampy eval` expression into a lazy array with the public API.
 *
 * Values are Python-like: numbers stay Python numbers (folded with Python's rules) until they
 * meet an array, where they become weak scalars (lp_scalar_array), as in NumPy 2. Every value
 * owns its array references; value_clear releases them, so each error path only has to clear
 * what it holds.
 */
#include "expr_parse.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum vkind {
    V_NONE, V_BOOL, V_INT, V_FLOAT, V_COMPLEX, V_STR, V_ELLIPSIS, V_ARRAY, V_TUPLE, V_DTYPE, V_FUNC,
    V_MODULE, V_METHOD, V_LAMBDA
} vkind;

typedef struct value {
    vkind k;
    bool b;
    int64_t i;
    double f, im;        /* V_FLOAT; V_COMPLEX: f + im j (a Python complex) */
    const char *s;       /* V_STR (in the syntax tree's arena); V_FUNC, V_METHOD: the catalogue name
                          * (V_FUNC with id FN_LOOP: "fori_loop" / "while_loop", the CLI's own) */
    lp_dtype dt;         /* V_DTYPE */
    int id;              /* V_MODULE: which module */
    lp_array *arr;       /* V_ARRAY, V_METHOD (self): an owned reference */
    struct value *items; /* V_TUPLE: owned */
    int n;
    const cli_node *fn;  /* V_LAMBDA: the lambda's syntax node */
} value;

enum { MOD_NUMPY, MOD_RANDOM, MOD_LINALG, MOD_FFT };
static const char *const MOD_NS[] = {"numpy", "random", "linalg", "fft"};
enum { FN_LIB, FN_LOOP }; /* V_FUNC: a catalogue function, or a loop (its functions are lambdas) */

/* A lambda's parameter while its body is traced (innermost last). */
typedef struct local {
    const char *name;
    const struct value *v;
} local;

typedef struct ev {
    lp_ctx *ctx;
    const cli_binding *names;
    int nnames;
    local *locals;
    int nlocals, caplocals;
    char *err;
    size_t errcap;
    lp_status st;
} ev;

static void value_clear(value *v) {
    if (!v) return;
    lp_array_release(v->arr);
    for (int k = 0; k < v->n; k++) value_clear(&v->items[k]);
    free(v->items);
    memset(v, 0, sizeof *v);
}

static int everr(ev *e, lp_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int everr(ev *e, lp_status st, const char *fmt, ...) {
    if (e->st != LP_OK) return -1;
    e->st = st;
    if (e->err && e->errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->err, e->errcap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A library call failed: its message is the error. */
static int evlib(ev *e, lp_status st) {
    const char *m = lp_last_error(e->ctx);
    return everr(e, st, "%s", (m && *m) ? m : lp_status_str(st));
}

static int nomem(ev *e) { return everr(e, LP_ERR_NOMEM, "out of memory"); }

static const char *tname(const value *v) {
    switch (v->k) {
    case V_NONE: return "NoneType";
    case V_BOOL: return "bool";
    case V_INT: return "int";
    case V_FLOAT: return "float";
    case V_COMPLEX: return "complex";
    case V_STR: return "str";
    case V_ELLIPSIS: return "ellipsis";
    case V_ARRAY: return "ndarray";
    case V_TUPLE: return "tuple";
    case V_DTYPE: return "type";
    case V_FUNC: return "function";
    case V_LAMBDA: return "function";
    case V_MODULE: return "module";
    case V_METHOD: return "method";
    }
    return "object";
}

static bool is_num(const value *v) { return v->k == V_BOOL || v->k == V_INT || v->k == V_FLOAT || v->k == V_COMPLEX; }
static bool is_arraylike(const value *v) { return v->k == V_ARRAY || is_num(v); }

static double num_f(const value *v) {
    return v->k == V_FLOAT || v->k == V_COMPLEX ? v->f : v->k == V_INT ? (double)v->i : (double)v->b;
}
static int64_t num_i(const value *v) { return v->k == V_INT ? v->i : (int64_t)v->b; }

static void set_int(value *v, int64_t i) { memset(v, 0, sizeof *v); v->k = V_INT; v->i = i; }
static void set_float(value *v, double f) { memset(v, 0, sizeof *v); v->k = V_FLOAT; v->f = f; }
static void set_complex(value *v, double re, double im) { set_float(v, re); v->k = V_COMPLEX; v->im = im; }
static void set_bool(value *v, bool b) { memset(v, 0, sizeof *v); v->k = V_BOOL; v->b = b; }
static void set_array(value *v, lp_array *a) { memset(v, 0, sizeof *v); v->k = V_ARRAY; v->arr = a; }

/* ---- the namespace: the library's function catalogue (lp_func_find) ---- */

/* Identifiers that name dtypes (np.float32 ..., and Python's int/float/bool). */
static const char *const dtype_idents[] = {
    "bool", "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "int_", "intc",
    "intp", "uint", "uintp", "byte", "ubyte", "short", "ushort", "uintc", "half", "float16", "float32", "float64",
    "single", "double", "int", "float",
};

/* A catalogue function as a value: its canonical name is kept (static data). */
static bool func_value(const char *name, value *out) {
    const lp_func *f = lp_func_find(name);
    if (!f) return false;
    memset(out, 0, sizeof *out);
    out->k = V_FUNC;
    out->s = f->name;
    return true;
}

/* Names of the numpy namespace (also the global one). false when there is no such name. */
static bool numpy_attr(const char *name, value *out) {
    memset(out, 0, sizeof *out);
    if (!strchr(name, '.') && func_value(name, out) && !strchr(out->s, '.')) return true;
    memset(out, 0, sizeof *out);
    for (size_t k = 0; k < sizeof dtype_idents / sizeof dtype_idents[0]; k++)
        if (strcmp(dtype_idents[k], name) == 0) {
            out->k = V_DTYPE;
            if (strcmp(name, "intp") == 0) out->dt = LP_INT64;
            else if (!lp_dtype_from_name(name, &out->dt)) return false;
            return true;
        }
    /* loops (JAX's): not library functions, since their arguments are lambdas traced here */
    if (strcmp(name, "fori_loop") == 0 || strcmp(name, "while_loop") == 0) {
        out->k = V_FUNC;
        out->id = FN_LOOP;
        out->s = name[0] == 'f' ? "fori_loop" : "while_loop";
        return true;
    }
    if (strcmp(name, "nan") == 0) { set_float(out, NAN); return true; }
    if (strcmp(name, "inf") == 0) { set_float(out, INFINITY); return true; }
    if (strcmp(name, "pi") == 0) { set_float(out, 3.141592653589793); return true; }
    if (strcmp(name, "e") == 0) { set_float(out, 2.718281828459045); return true; }
    if (strcmp(name, "newaxis") == 0) { out->k = V_NONE; return true; }
    if (strcmp(name, "random") == 0) { out->k = V_MODULE; out->id = MOD_RANDOM; return true; }
    if (strcmp(name, "linalg") == 0) { out->k = V_MODULE; out->id = MOD_LINALG; return true; }
    if (strcmp(name, "fft") == 0) { out->k = V_MODULE; out->id = MOD_FFT; return true; }
    return false;
}

/* A function of a namespace ("linalg.solve") by its short name. */
static bool namespaced(const char *ns, const char *name, value *out) {
    char key[96];
    snprintf(key, sizeof key, "%s.%s", ns, name);
    return func_value(key, out) && strcmp(out->s, key) == 0;
}

static int value_copy(ev *e, const value *v, value *out);

static int lookup_name(ev *e, const cli_node *n, value *out) {
    for (int k = e->nlocals - 1; k >= 0; k--)
        if (strcmp(e->locals[k].name, n->s) == 0) return value_copy(e, e->locals[k].v, out);
    for (int k = 0; k < e->nnames; k++)
        if (strcmp(e->names[k].name, n->s) == 0) {
            lp_array_retain(e->names[k].array);
            set_array(out, e->names[k].array);
            return 0;
        }
    if (numpy_attr(n->s, out)) return 0;
    if (strcmp(n->s, "np") == 0 || strcmp(n->s, "numpy") == 0) {
        memset(out, 0, sizeof *out);
        out->k = V_MODULE;
        out->id = MOD_NUMPY;
        return 0;
    }
    if (namespaced("random", n->s, out)) return 0; /* uniform, normal: also global */
    return everr(e, LP_ERR_NOTFOUND, "name '%s' is not defined", n->s);
}

/* ---- conversions to and from the library's values ---- */

typedef struct args {
    value *pos;
    int npos;
    value *kw;
    const char **kwname;
    int nkw;
} args;

/* v as an lp_value (borrowing its arrays and strings); items go into *pool for lp_vfree. */
static int to_lp(ev *e, const value *v, lp_value *out) {
    *out = lp_value_none();
    switch (v->k) {
    case V_NONE: return 0;
    case V_BOOL: *out = lp_value_bool(v->b); return 0;
    case V_INT: *out = lp_value_int(v->i); return 0;
    case V_FLOAT: *out = lp_value_float(v->f); return 0;
    case V_COMPLEX: *out = lp_value_complex(v->f, v->im); return 0;
    case V_STR: *out = lp_value_str(v->s); return 0;
    case V_DTYPE: *out = lp_value_dtype(v->dt); return 0;
    case V_ARRAY: *out = lp_value_array(v->arr); return 0;
    case V_TUPLE: {
        lp_value *items = calloc((size_t)(v->n ? v->n : 1), sizeof *items);
        if (!items) return nomem(e);
        *out = lp_value_tuple(items, v->n);
        for (int k = 0; k < v->n; k++)
            if (to_lp(e, &v->items[k], &items[k])) return -1;
        return 0;
    }
    default:
        return everr(e, LP_ERR_TYPE, "a %s cannot be passed to a function", tname(v));
    }
}

/* Free what to_lp allocated (not the borrowed arrays). */
static void lp_vfree(lp_value *v) {
    if (v->kind == LP_VAL_TUPLE && v->items) {
        for (int k = 0; k < v->n; k++) lp_vfree(&v->items[k]);
        free(v->items);
    }
    *v = lp_value_none();
}

/* A library result as a value; takes its references. */
static int from_lp(ev *e, lp_value *r, value *out) {
    memset(out, 0, sizeof *out);
    switch (r->kind) {
    case LP_VAL_NONE: return 0;
    case LP_VAL_BOOL: set_bool(out, r->b); return 0;
    case LP_VAL_INT: set_int(out, r->i); return 0;
    case LP_VAL_FLOAT: set_float(out, r->f); return 0;
    case LP_VAL_COMPLEX: set_complex(out, r->f, r->im); return 0;
    case LP_VAL_DTYPE: out->k = V_DTYPE; out->dt = r->dtype; return 0;
    case LP_VAL_ARRAY: set_array(out, r->array); r->array = NULL; return 0;
    case LP_VAL_TUPLE: case LP_VAL_LIST: {
        value *items = calloc((size_t)(r->n ? r->n : 1), sizeof *items);
        if (!items) return nomem(e);
        out->k = V_TUPLE;
        out->items = items;
        out->n = r->n;
        for (int k = 0; k < r->n; k++)
            if (from_lp(e, &r->items[k], &items[k])) return -1;
        return 0;
    }
    default:
        return everr(e, LP_ERR_INTERNAL, "unexpected result kind %d", (int)r->kind);
    }
}

/* Call the library's function `name` (a method of self when self is given). */
static int call_lib(ev *e, const char *name, lp_array *self, const args *a, value *out) {
    int n = a->npos + a->nkw;
    lp_value *vals = calloc((size_t)(n ? n : 1), sizeof *vals);
    if (!vals) return nomem(e);
    int rc = 0;
    for (int k = 0; k < a->npos && rc == 0; k++) rc = to_lp(e, &a->pos[k], &vals[k]);
    for (int k = 0; k < a->nkw && rc == 0; k++) rc = to_lp(e, &a->kw[k], &vals[a->npos + k]);
    if (rc == 0) {
        lp_value r = lp_value_none();
        lp_status st = self ? lp_call_method(e->ctx, name, self, a->npos, vals, a->nkw, a->kwname, vals + a->npos, &r)
                            : lp_call(e->ctx, name, a->npos, vals, a->nkw, a->kwname, vals + a->npos, &r);
        if (st != LP_OK) rc = evlib(e, st);
        else rc = from_lp(e, &r, out);
        lp_value_clear(&r);
    }
    for (int k = 0; k < n; k++) lp_vfree(&vals[k]);
    free(vals);
    return rc;
}

/* A call with positional arguments only. */
static int call1(ev *e, const char *name, const value *x, const value *y, value *out) {
    value pos[2];
    memset(pos, 0, sizeof pos);
    pos[0] = *x;
    if (y) pos[1] = *y;
    args a = {pos, y ? 2 : 1, NULL, NULL, 0};
    return call_lib(e, name, NULL, &a, out); /* pos borrowed: not cleared */
}

/* New reference to v as an array (a number becomes a weak scalar, a tuple a NumPy array). */
static int to_array(ev *e, const value *v, lp_array **out, const char *what) {
    lp_status st;
    *out = NULL;
    switch (v->k) {
    case V_TUPLE: {
        value r = {0};
        if (call1(e, "asarray", v, NULL, &r)) return -1;
        *out = r.arr;
        return 0;
    }
    case V_ARRAY:
        lp_array_retain(v->arr);
        *out = v->arr;
        return 0;
    case V_BOOL: st = lp_scalar_array(e->ctx, lp_scalar_b(v->b), out); break;
    case V_INT: st = lp_scalar_array(e->ctx, lp_scalar_i(v->i), out); break;
    case V_FLOAT: st = lp_scalar_array(e->ctx, lp_scalar_f(v->f), out); break;
    case V_COMPLEX: st = lp_scalar_array(e->ctx, lp_scalar_c(v->f, v->im), out); break;
    default:
        return everr(e, LP_ERR_TYPE, "%s: expected an array or a number, got %s", what, tname(v));
    }
    return st == LP_OK ? 0 : evlib(e, st);
}


/* ---- array operations ---- */

static int op_unary_arr(ev *e, const char *op, const value *x, value *out) {
    lp_array *a;
    if (to_array(e, x, &a, op)) return -1;
    lp_array *r = NULL;
    lp_status st = lp_unary(e->ctx, op, a, &r);
    lp_array_release(a);
    if (st != LP_OK) return evlib(e, st);
    set_array(out, r);
    return 0;
}

/* a @ b, matmul(a, b) and dot(a, b) */
static int op_matmul(ev *e, bool dot, const value *x, const value *y, value *out) {
    const char *fname = dot ? "dot" : "matmul";
    lp_array *a, *b;
    if (to_array(e, x, &a, fname)) return -1;
    if (to_array(e, y, &b, fname)) { lp_array_release(a); return -1; }
    lp_array *r = NULL;
    lp_status st = dot ? lp_dot(e->ctx, a, b, &r) : lp_matmul(e->ctx, a, b, &r);
    lp_array_release(a);
    lp_array_release(b);
    if (st != LP_OK) return evlib(e, st);
    set_array(out, r);
    return 0;
}

static int op_binary_arr(ev *e, const char *op, const value *x, const value *y, value *out) {
    lp_array *a, *b;
    if (to_array(e, x, &a, op)) return -1;
    if (to_array(e, y, &b, op)) { lp_array_release(a); return -1; }
    lp_array *r = NULL;
    lp_status st = lp_binary(e->ctx, op, a, b, &r);
    lp_array_release(a);
    lp_array_release(b);
    if (st != LP_OK) return evlib(e, st);
    set_array(out, r);
    return 0;
}

/* ---- Python number arithmetic (both operands numbers) ---- */

static int overflow(ev *e) { return everr(e, LP_ERR_VALUE, "integer overflow in a constant expression"); }

static int ipow(ev *e, int64_t b, int64_t x, int64_t *out) {
    int64_t r = 1;
    while (x > 0) {
        if (x & 1) {
            if (__builtin_mul_overflow(r, b, &r)) return overflow(e);
        }
        x >>= 1;
        if (x && __builtin_mul_overflow(b, b, &b)) return overflow(e);
    }
    *out = r;
    return 0;
}

/* ---- Python's complex arithmetic (CPython 3.11's complexobject.c, a real operand taken as
 * complex(x, 0)): folding `1 + 2j` gives one weak complex, as Python's does ---- */

typedef struct { double re, im; } pyc;

static pyc c_prod(pyc a, pyc b) { return (pyc){a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re}; }

/* *zero: the divisor is 0 (Python's ZeroDivisionError) */
static pyc c_quot(pyc a, pyc b, bool *zero) {
    const double abr = fabs(b.re), abi = fabs(b.im);
    *zero = false;
    if (abr >= abi) {
        if (abr == 0) { *zero = true; return (pyc){0, 0}; }
        const double ratio = b.im / b.re, denom = b.re + b.im * ratio;
        return (pyc){(a.re + a.im * ratio) / denom, (a.im - a.re * ratio) / denom};
    }
    if (abi >= abr) {
        const double ratio = b.re / b.im, denom = b.re * ratio + b.im;
        return (pyc){(a.re * ratio + a.im) / denom, (a.im * ratio - a.re) / denom};
    }
    return (pyc){NAN, NAN}; /* a NaN part in b */
}

/* a ** b: repeated squaring for integral exponents up to 100 in size, else the polar form */
static pyc c_pow(pyc a, pyc b, bool *zero) {
    *zero = false;
    if (b.im == 0 && b.re == floor(b.re) && fabs(b.re) <= 100) {
        long n = (long)b.re, m = n < 0 ? -n : n;
        pyc r = {1, 0}, p = a;
        for (long mask = 1; mask > 0 && m >= mask; mask <<= 1, p = c_prod(p, p))
            if (m & mask) r = c_prod(r, p);
        return n > 0 ? r : c_quot((pyc){1, 0}, r, zero);
    }
    if (b.re == 0 && b.im == 0) return (pyc){1, 0};
    if (a.re == 0 && a.im == 0) {
        *zero = b.im != 0 || b.re < 0;
        return (pyc){0, 0};
    }
    double vabs = hypot(a.re, a.im), len = pow(vabs, b.re), at = atan2(a.im, a.re), phase = at * b.re;
    if (b.im != 0) {
        len /= exp(at * b.im);
        phase += b.im * log(vabs);
    }
    return (pyc){len * cos(phase), len * sin(phase)};
}

static int complex_binop(ev *e, int op, const value *x, const value *y, value *out) {
    pyc a = {num_f(x), x->k == V_COMPLEX ? x->im : 0}, b = {num_f(y), y->k == V_COMPLEX ? y->im : 0}, r;
    bool zero = false;
    switch (op) {
    case CLI_OP_EQ: set_bool(out, a.re == b.re && a.im == b.im); return 0;
    case CLI_OP_NE: set_bool(out, !(a.re == b.re && a.im == b.im)); return 0;
    case '<': case '>': case CLI_OP_LE: case CLI_OP_GE:
        return everr(e, LP_ERR_TYPE, "'%s' not supported between instances of '%s' and '%s'", cli_op_str(op),
                     tname(x), tname(y));
    case '+': r = (pyc){a.re + b.re, a.im + b.im}; break;
    case '-': r = (pyc){a.re - b.re, a.im - b.im}; break;
    case '*': r = c_prod(a, b); break;
    case '/':
        r = c_quot(a, b, &zero);
        if (zero) return everr(e, LP_ERR_VALUE, "complex division by zero");
        break;
    case CLI_OP_POW:
        r = c_pow(a, b, &zero);
        if (zero) return everr(e, LP_ERR_VALUE, "0.0 to a negative or complex power");
        break;
    default:
        return everr(e, LP_ERR_TYPE, "unsupported operand type(s) for %s: '%s' and '%s'", cli_op_str(op), tname(x),
                     tname(y));
    }
    set_complex(out, r.re, r.im);
    return 0;
}

static int num_binop(ev *e, int op, const value *x, const value *y, value *out) {
    if (x->k == V_COMPLEX || y->k == V_COMPLEX) return complex_binop(e, op, x, y, out);
    bool fl = x->k == V_FLOAT || y->k == V_FLOAT;
    int64_t a = num_i(x), b = num_i(y), r = 0;
    double fa = num_f(x), fb = num_f(y);
    switch (op) {
    case '<': set_bool(out, fl ? fa < fb : a < b); return 0;
    case '>': set_bool(out, fl ? fa > fb : a > b); return 0;
    case CLI_OP_LE: set_bool(out, fl ? fa <= fb : a <= b); return 0;
    case CLI_OP_GE: set_bool(out, fl ? fa >= fb : a >= b); return 0;
    case CLI_OP_EQ: set_bool(out, fl ? fa == fb : a == b); return 0;
    case CLI_OP_NE: set_bool(out, fl ? fa != fb : a != b); return 0;
    case CLI_OP_LSHIFT: case CLI_OP_RSHIFT:
        if (fl)
            return everr(e, LP_ERR_TYPE, "unsupported operand type(s) for %s: '%s' and '%s'", cli_op_str(op),
                         tname(x), tname(y));
        if (b < 0) return everr(e, LP_ERR_VALUE, "negative shift count");
        if (op == CLI_OP_RSHIFT) r = b >= 64 ? (a < 0 ? -1 : 0) : a >> b;
        else if (a == 0) r = 0;
        else if (b >= 63 || (a > 0 ? a > (INT64_MAX >> b) : a < (INT64_MIN >> b))) return overflow(e);
        else r = (int64_t)((uint64_t)a << b);
        set_int(out, r);
        return 0;
    case '&': case '|': case '^':
        if (fl)
            return everr(e, LP_ERR_TYPE, "unsupported operand type(s) for %s: '%s' and '%s'", cli_op_str(op),
                         tname(x), tname(y));
        r = op == '&' ? (a & b) : op == '|' ? (a | b) : (a ^ b);
        if (x->k == V_BOOL && y->k == V_BOOL) set_bool(out, r != 0);
        else set_int(out, r);
        return 0;
    case '+':
        if (fl) { set_float(out, fa + fb); return 0; }
        if (__builtin_add_overflow(a, b, &r)) return overflow(e);
        set_int(out, r);
        return 0;
    case '-':
        if (fl) { set_float(out, fa - fb); return 0; }
        if (__builtin_sub_overflow(a, b, &r)) return overflow(e);
        set_int(out, r);
        return 0;
    case '*':
        if (fl) { set_float(out, fa * fb); return 0; }
        if (__builtin_mul_overflow(a, b, &r)) return overflow(e);
        set_int(out, r);
        return 0;
    case '/':
        if (fb == 0) return everr(e, LP_ERR_VALUE, "division by zero");
        set_float(out, fa / fb);
        return 0;
    case CLI_OP_FLOORDIV:
    case '%':
        if (!fl) {
            if (b == 0) return everr(e, LP_ERR_VALUE, "integer division or modulo by zero");
            if (a == INT64_MIN && b == -1) {
                if (op == '%') { set_int(out, 0); return 0; }
                return overflow(e);
            }
            int64_t q = a / b, m = a % b;
            if (m != 0 && ((m < 0) != (b < 0))) { q--; m += b; }
            set_int(out, op == '%' ? m : q);
            return 0;
        } else {
            if (fb == 0) return everr(e, LP_ERR_VALUE, "float %s by zero", op == '%' ? "modulo" : "floor division");
            /* CPython's float_divmod */
            double mod = fmod(fa, fb), div = (fa - mod) / fb, fd;
            if (mod != 0) {
                if ((fb < 0) != (mod < 0)) { mod += fb; div -= 1.0; }
            } else {
                mod = copysign(0.0, fb);
            }
            if (div != 0) {
                fd = floor(div);
                if (div - fd > 0.5) fd += 1.0;
            } else {
                fd = copysign(0.0, fa / fb);
            }
            set_float(out, op == '%' ? mod : fd);
            return 0;
        }
    case CLI_OP_POW:
        if (!fl && b >= 0) {
            if (ipow(e, a, b, &r)) return -1;
            set_int(out, r);
            return 0;
        }
        if (fa == 0 && fb < 0) return everr(e, LP_ERR_VALUE, "0.0 cannot be raised to a negative power");
        if (fa < 0 && fb != floor(fb) && isfinite(fb))
            return everr(e, LP_ERR_VALUE, "a negative number raised to a fractional power is complex");
        set_float(out, pow(fa, fb));
        return 0;
    case '@':
        return everr(e, LP_ERR_TYPE, "unsupported operand type(s) for @: '%s' and '%s'", tname(x), tname(y));
    default:
        return everr(e, LP_ERR_INTERNAL, "unknown operator");
    }
}

static const char *binop_name(int op) {
    switch (op) {
    case '+': return "add";
    case '-': return "subtract";
    case '*': return "multiply";
    case '/': return "divide";
    case CLI_OP_FLOORDIV: return "floor_divide";
    case '%': return "remainder";
    case CLI_OP_POW: return "power";
    case '&': return "bitwise_and";
    case '|': return "bitwise_or";
    case '^': return "bitwise_xor";
    case CLI_OP_LSHIFT: return "left_shift";
    case CLI_OP_RSHIFT: return "right_shift";
    case '<': return "less";
    case '>': return "greater";
    case CLI_OP_LE: return "less_equal";
    case CLI_OP_GE: return "greater_equal";
    case CLI_OP_EQ: return "equal";
    case CLI_OP_NE: return "not_equal";
    default: return NULL;
    }
}

static int eval_binop(ev *e, int op, const value *x, const value *y, value *out) {
    if (is_num(x) && is_num(y)) return num_binop(e, op, x, y, out);
    bool tuple_ok = x->k == V_ARRAY || y->k == V_ARRAY; /* a + (1, 2) as in NumPy */
    if ((!is_arraylike(x) && !(tuple_ok && x->k == V_TUPLE)) || (!is_arraylike(y) && !(tuple_ok && y->k == V_TUPLE)))
        return everr(e, LP_ERR_TYPE, "unsupported operand type(s) for %s: '%s' and '%s'", cli_op_str(op),
                     tname(x), tname(y));
    if (op == '@') return op_matmul(e, false, x, y, out);
    const char *name = binop_name(op);
    if (!name) return everr(e, LP_ERR_INTERNAL, "unknown operator");
    return op_binary_arr(e, name, x, y, out);
}

static int eval_unop(ev *e, int op, const value *x, value *out) {
    if (is_num(x)) {
        if (op == '~') {
            if (x->k == V_FLOAT || x->k == V_COMPLEX) return everr(e, LP_ERR_TYPE, "bad operand type for unary ~: '%s'", tname(x));
            set_int(out, ~num_i(x));
            return 0;
        }
        if (x->k == V_FLOAT) { set_float(out, op == '-' ? -x->f : x->f); return 0; }
        if (x->k == V_COMPLEX) { set_complex(out, op == '-' ? -x->f : x->f, op == '-' ? -x->im : x->im); return 0; }
        int64_t a = num_i(x);
        if (op == '-' && a == INT64_MIN) return overflow(e);
        set_int(out, op == '-' ? -a : a);
        return 0;
    }
    if (x->k != V_ARRAY) return everr(e, LP_ERR_TYPE, "bad operand type for unary %s: '%s'", cli_op_str(op), tname(x));
    if (op == '+') {
        if (lp_array_dtype(x->arr) == LP_BOOL)
            return everr(e, LP_ERR_TYPE, "ufunc 'positive' does not support bool arrays");
        lp_array_retain(x->arr);
        set_array(out, x->arr);
        return 0;
    }
    return op_unary_arr(e, op == '-' ? "negative" : "invert", x, out);
}

/* ---- calls ---- */

/* float32(x): a cast for arrays, a strong NumPy scalar for numbers. */
static int call_dtype(ev *e, const value *callee, const args *a, value *out) {
    const char *fname = lp_dtype_name(callee->dt);
    if (a->nkw) return everr(e, LP_ERR_TYPE, "%s() takes no keyword arguments", fname);
    if (a->npos != 1) return everr(e, LP_ERR_TYPE, "%s() takes exactly one argument (%d given)", fname, a->npos);
    if (a->pos[0].k != V_ARRAY && a->pos[0].k != V_TUPLE && !is_num(&a->pos[0]))
        return everr(e, LP_ERR_TYPE, "%s(): expected an array, got %s", fname, tname(&a->pos[0]));
    return call1(e, "astype", &a->pos[0], callee, out);
}

static int eval(ev *e, const cli_node *n, value *out);

static void args_clear(args *a, int nitems) {
    for (int k = 0; k < nitems; k++) {
        value_clear(&a->pos[k]);
        value_clear(&a->kw[k]);
    }
    free(a->pos);
    free(a->kw);
    free((void *)a->kwname);
}

/* ---- lambdas and loops ---- */

static int value_copy(ev *e, const value *v, value *out) {
    *out = *v;
    out->items = NULL;
    out->n = 0;
    lp_array_retain(out->arr);
    if (v->k != V_TUPLE) return 0;
    out->items = calloc((size_t)(v->n ? v->n : 1), sizeof *out->items);
    if (!out->items) { lp_array_release(out->arr); memset(out, 0, sizeof *out); return nomem(e); }
    out->n = v->n;
    for (int k = 0; k < v->n; k++)
        if (value_copy(e, &v->items[k], &out->items[k])) { value_clear(out); return -1; }
    return 0;
}

/* Evaluate a lambda's body with its parameters bound to args (the caller's values). */
static int call_lambda(ev *e, const cli_node *fn, const char *what, int nargs, const value *args, value *out) {
    if (fn->nitems != nargs)
        return everr(e, LP_ERR_TYPE, "%s must take %d argument%s, the lambda takes %d", what, nargs, nargs == 1 ? "" : "s",
                     fn->nitems);
    if (e->nlocals + nargs > e->caplocals) {
        int c = (e->nlocals + nargs) * 2;
        local *nl = realloc(e->locals, (size_t)c * sizeof *nl);
        if (!nl) return nomem(e);
        e->locals = nl;
        e->caplocals = c;
    }
    int base = e->nlocals;
    for (int k = 0; k < nargs; k++) e->locals[e->nlocals++] = (local){fn->items[k]->s, &args[k]};
    int rc = eval(e, fn->a, out);
    e->nlocals = base;
    return rc;
}

/* The carried state as the functions see it: one array, or a tuple of them (as init_val). */
static int state_value(ev *e, bool tuple, int n, lp_array *const *arrs, value *out) {
    memset(out, 0, sizeof *out);
    if (!tuple) {
        lp_array_retain(arrs[0]);
        set_array(out, arrs[0]);
        return 0;
    }
    out->items = calloc((size_t)(n ? n : 1), sizeof *out->items);
    if (!out->items) return nomem(e);
    out->k = V_TUPLE;
    out->n = n;
    for (int k = 0; k < n; k++) {
        lp_array_retain(arrs[k]);
        set_array(&out->items[k], arrs[k]);
    }
    return 0;
}

/* A function's result as n arrays, the same structure as init_val. */
static int state_arrays(ev *e, const char *what, bool tuple, int n, const value *v, lp_array **outs) {
    if (tuple && (v->k != V_TUPLE || v->n != n))
        return everr(e, LP_ERR_TYPE, "%s must return a tuple of %d values, like init_val, not %s", what, n,
                     v->k == V_TUPLE ? "a tuple of another length" : tname(v));
    for (int k = 0; k < n; k++)
        if (to_array(e, tuple ? &v->items[k] : v, &outs[k], what)) return -1;
    return 0;
}

/* An integer or bool argument of a loop. */
static int loop_int(ev *e, const char *fname, const char *pname, const value *v, int64_t *out) {
    if (v->k != V_INT && v->k != V_BOOL) return everr(e, LP_ERR_TYPE, "%s(): %s must be an integer, got %s", fname, pname, tname(v));
    *out = num_i(v);
    return 0;
}

/* fori_loop(lower, upper, body_fun, init_val) and while_loop(cond_fun, body_fun, init_val,
 * max_iter=0, last_state=False): positional or by keyword, as jax.lax names them. */
static int do_loop(ev *e, const char *fname, const args *a, value *out) {
    const bool fori = fname[0] == 'f';
    static const char *const fori_names[] = {"lower", "upper", "body_fun", "init_val", NULL};
    static const char *const while_names[] = {"cond_fun", "body_fun", "init_val", "max_iter", "last_state", NULL};
    const char *const *names = fori ? fori_names : while_names;
    const int nparams = fori ? 4 : 5, nreq = fori ? 4 : 3;
    const value *sl[5] = {NULL};
    if (a->npos > nparams) return everr(e, LP_ERR_TYPE, "%s() takes at most %d arguments", fname, nparams);
    for (int k = 0; k < a->npos; k++) sl[k] = &a->pos[k];
    for (int k = 0; k < a->nkw; k++) {
        int j = 0;
        while (names[j] && strcmp(names[j], a->kwname[k])) j++;
        if (!names[j]) return everr(e, LP_ERR_TYPE, "%s() got an unexpected keyword argument '%s'", fname, a->kwname[k]);
        if (sl[j]) return everr(e, LP_ERR_TYPE, "%s() got multiple values for argument '%s'", fname, names[j]);
        sl[j] = &a->kw[k];
    }
    for (int j = 0; j < nreq; j++)
        if (!sl[j]) return everr(e, LP_ERR_TYPE, "%s() missing required argument '%s'", fname, names[j]);
    const value *init = sl[fori ? 3 : 2], *body_fun = sl[fori ? 2 : 1], *cond_fun = fori ? NULL : sl[0];
    int64_t lower = 0, upper = 0, max_iter = 0, last_state = 0;
    if (fori && (loop_int(e, fname, "lower", sl[0], &lower) || loop_int(e, fname, "upper", sl[1], &upper))) return -1;
    if (!fori && sl[3] && sl[3]->k != V_NONE && loop_int(e, fname, "max_iter", sl[3], &max_iter)) return -1;
    if (!fori && sl[4] && sl[4]->k != V_NONE && loop_int(e, fname, "last_state", sl[4], &last_state)) return -1;
    if (body_fun->k != V_LAMBDA || (cond_fun && cond_fun->k != V_LAMBDA))
        return everr(e, LP_ERR_TYPE, "%s(): %s must be a lambda", fname, body_fun->k != V_LAMBDA ? "body_fun" : "cond_fun");
    const bool tuple = init->k == V_TUPLE;
    const int n = tuple ? init->n : 1;
    if (n < 1) return everr(e, LP_ERR_VALUE, "%s(): init_val needs at least one value", fname);
    if (n > 64) return everr(e, LP_ERR_LIMIT, "%s(): at most 64 carried values", fname);
    lp_array *iv[64] = {0}, *bp[65] = {0}, *cp[64] = {0}, *bo[64] = {0}, *co = NULL, *res[64] = {0};
    value fargs[2] = {{0}, {0}}, r = {0};
    int rc = 0;
    char what[64];
    for (int k = 0; k < n && rc == 0; k++) rc = to_array(e, tuple ? &init->items[k] : init, &iv[k], fname);
    /* cond_fun(val) */
    for (int k = 0; !fori && k < n && rc == 0; k++) {
        lp_status st = lp_placeholder(e->ctx, lp_array_dtype(iv[k]), lp_array_ndim(iv[k]), lp_array_shape(iv[k]), &cp[k]);
        if (st != LP_OK) rc = evlib(e, st);
    }
    if (!fori && rc == 0) {
        snprintf(what, sizeof what, "%s(): cond_fun", fname);
        rc = state_value(e, tuple, n, cp, &fargs[0]);
        if (rc == 0) rc = call_lambda(e, cond_fun->fn, what, 1, fargs, &r);
        if (rc == 0) rc = state_arrays(e, what, false, 1, &r, &co);
        value_clear(&fargs[0]);
        value_clear(&r);
    }
    /* body_fun([i,] val) */
    int off = fori ? 1 : 0;
    if (rc == 0 && fori) {
        lp_status st = lp_loop_index(e->ctx, &bp[0]);
        if (st != LP_OK) rc = evlib(e, st);
    }
    for (int k = 0; k < n && rc == 0; k++) {
        lp_status st = lp_placeholder(e->ctx, lp_array_dtype(iv[k]), lp_array_ndim(iv[k]), lp_array_shape(iv[k]), &bp[off + k]);
        if (st != LP_OK) rc = evlib(e, st);
    }
    if (rc == 0) {
        snprintf(what, sizeof what, "%s(): body_fun", fname);
        if (fori) {
            lp_array_retain(bp[0]);
            set_array(&fargs[0], bp[0]);
        }
        rc = state_value(e, tuple, n, bp + off, &fargs[off]);
        if (rc == 0) rc = call_lambda(e, body_fun->fn, what, off + 1, fargs, &r);
        if (rc == 0) rc = state_arrays(e, what, tuple, n, &r, bo);
        value_clear(&fargs[0]);
        value_clear(&fargs[1]);
        value_clear(&r);
    }
    if (rc == 0) {
        lp_subgraph body = {n + off, bp, n, bo}, cond = {n, cp, 1, &co};
        lp_status st = fori ? lp_fori_loop(e->ctx, lower, upper, &body, n, iv, res)
                            : lp_while_loop(e->ctx, &cond, &body, n, iv, max_iter, last_state ? LP_LOOP_LAST_STATE : 0, res);
        if (st != LP_OK) rc = evlib(e, st);
        else rc = state_value(e, tuple, n, res, out);
    }
    for (int k = 0; k < n; k++) {
        lp_array_release(iv[k]);
        lp_array_release(cp[k]);
        lp_array_release(bo[k]);
        lp_array_release(res[k]);
    }
    for (int k = 0; k <= n; k++) lp_array_release(bp[k]);
    lp_array_release(co);
    return rc;
}

static int eval_call(ev *e, const cli_node *n, value *out) {
    value callee = {0};
    if (eval(e, n->a, &callee)) return -1;
    if (callee.k != V_FUNC && callee.k != V_METHOD && callee.k != V_DTYPE && callee.k != V_LAMBDA) {
        int rc = everr(e, LP_ERR_TYPE, "'%s' object is not callable", tname(&callee));
        value_clear(&callee);
        return rc;
    }
    int m = n->nitems;
    args a = {0};
    a.pos = calloc((size_t)(m ? m : 1), sizeof *a.pos);
    a.kw = calloc((size_t)(m ? m : 1), sizeof *a.kw);
    a.kwname = calloc((size_t)(m ? m : 1), sizeof *a.kwname);
    int rc = 0;
    if (!a.pos || !a.kw || !a.kwname) rc = nomem(e);
    for (int k = 0; k < m && rc == 0; k++) {
        const cli_node *it = n->items[k];
        if (it->kind == CLI_N_KEYWORD) {
            a.kwname[a.nkw] = it->s;
            rc = eval(e, it->a, &a.kw[a.nkw]);
            a.nkw++;
        } else {
            rc = eval(e, it, &a.pos[a.npos]);
            a.npos++;
        }
    }
    if (rc == 0) {
        if (callee.k == V_LAMBDA)
            rc = a.nkw ? everr(e, LP_ERR_TYPE, "a lambda takes positional arguments only")
                       : call_lambda(e, callee.fn, "the lambda", a.npos, a.pos, out);
        else if (callee.k == V_FUNC && callee.id == FN_LOOP) rc = do_loop(e, callee.s, &a, out);
        else if (callee.k == V_FUNC) rc = call_lib(e, callee.s, NULL, &a, out);
        else if (callee.k == V_METHOD) rc = call_lib(e, callee.s, callee.arr, &a, out);
        else rc = call_dtype(e, &callee, &a, out);
    }
    args_clear(&a, m);
    value_clear(&callee);
    return rc;
}

/* ---- attributes and subscripts ---- */

static int eval_attr(ev *e, const cli_node *n, value *out) {
    value obj = {0};
    if (eval(e, n->a, &obj)) return -1;
    int rc = 0;
    const char *name = n->s;
    if (obj.k == V_ARRAY) {
        lp_array *a = obj.arr;
        if (strcmp(name, "T") == 0) {
            lp_array *r = NULL;
            lp_status st = lp_transpose(e->ctx, a, NULL, &r);
            if (st != LP_OK) rc = evlib(e, st);
            else set_array(out, r);
        } else if (strcmp(name, "ndim") == 0) {
            set_int(out, lp_array_ndim(a));
        } else if (strcmp(name, "size") == 0) {
            set_int(out, lp_array_size(a));
        } else if (strcmp(name, "dtype") == 0) {
            memset(out, 0, sizeof *out);
            out->k = V_DTYPE;
            out->dt = lp_array_dtype(a);
        } else if (strcmp(name, "shape") == 0) {
            int nd = lp_array_ndim(a);
            value *items = calloc((size_t)(nd ? nd : 1), sizeof *items);
            if (!items) rc = nomem(e);
            else {
                for (int k = 0; k < nd; k++) set_int(&items[k], lp_array_shape(a)[k]);
                memset(out, 0, sizeof *out);
                out->k = V_TUPLE;
                out->items = items;
                out->n = nd;
            }
        } else if (!lp_method_exists(name)) {
            rc = everr(e, LP_ERR_TYPE, "'ndarray' object has no attribute '%s'", name);
        } else {
            memset(out, 0, sizeof *out);
            out->k = V_METHOD;
            out->s = lp_func_find(name)->name;
            out->arr = a;
            obj.arr = NULL; /* moved */
        }
    } else if (obj.k == V_MODULE) {
        bool ok;
        if (obj.id == MOD_NUMPY) {
            ok = numpy_attr(name, out);
        } else {
            ok = namespaced(MOD_NS[obj.id], name, out);
        }
        if (!ok) {
            if (obj.id == MOD_NUMPY) rc = everr(e, LP_ERR_TYPE, "module 'numpy' has no attribute '%s'", name);
            else rc = everr(e, LP_ERR_TYPE, "module 'numpy.%s' has no attribute '%s'", MOD_NS[obj.id], name);
        }
    } else if (obj.k == V_DTYPE && strcmp(name, "name") == 0) {
        memset(out, 0, sizeof *out);
        out->k = V_STR;
        out->s = lp_dtype_name(obj.dt);
    } else {
        rc = everr(e, LP_ERR_TYPE, "'%s' object has no attribute '%s'", tname(&obj), name);
    }
    value_clear(&obj);
    return rc;
}

#define MAX_INDEX 32

/* a slice part: an int or None */
static int slice_part(ev *e, const cli_node *n, lp_value *out) {
    *out = lp_value_none();
    if (!n) return 0;
    value v = {0};
    if (eval(e, n, &v)) return -1;
    int rc = 0;
    if (v.k == V_INT || v.k == V_BOOL) *out = lp_value_int(num_i(&v));
    else if (v.k != V_NONE) rc = everr(e, LP_ERR_TYPE, "slice indices must be integers or None, got %s", tname(&v));
    value_clear(&v);
    return rc;
}

/* Subscripts: a.shape[0] on tuples here; arrays through lp_getitem (basic and advanced
 * indexing, NumPy's rules, in the library). */
static int eval_subscript(ev *e, const cli_node *n, value *out) {
    value obj = {0};
    if (eval(e, n->a, &obj)) return -1;
    int rc = 0;
    if (obj.k == V_TUPLE) {
        /* a.shape[0] */
        value iv = {0};
        if (n->nitems != 1 || n->items[0]->kind == CLI_N_SLICE) {
            rc = everr(e, LP_ERR_TYPE, "tuple indices must be integers");
        } else if ((rc = eval(e, n->items[0], &iv)) == 0) {
            if (iv.k != V_INT) rc = everr(e, LP_ERR_TYPE, "tuple indices must be integers, not %s", tname(&iv));
            else {
                int64_t i = iv.i < 0 ? iv.i + obj.n : iv.i;
                if (i < 0 || i >= obj.n) rc = everr(e, LP_ERR_VALUE, "tuple index out of range");
                else {
                    *out = obj.items[i];
                    memset(&obj.items[i], 0, sizeof obj.items[i]); /* moved */
                }
            }
        }
        value_clear(&iv);
        value_clear(&obj);
        return rc;
    }
    if (obj.k != V_ARRAY) {
        rc = everr(e, LP_ERR_TYPE, "'%s' object is not subscriptable", tname(&obj));
        value_clear(&obj);
        return rc;
    }
    /* the key's items as library values; a[(0, 1)] is a[0, 1] */
    lp_value key[MAX_INDEX], parts[MAX_INDEX][3];
    value held[MAX_INDEX];
    int nk = 0, nheld = 0;
    memset(held, 0, sizeof held);
    for (int k = 0; k < n->nitems && rc == 0; k++) {
        const cli_node *it = n->items[k];
        if (nk >= MAX_INDEX) { rc = everr(e, LP_ERR_INDEX, "too many indices for array"); break; }
        if (it->kind == CLI_N_SLICE) {
            lp_value *p = parts[nk];
            rc = slice_part(e, it->a, &p[0]);
            if (rc == 0) rc = slice_part(e, it->b, &p[1]);
            if (rc == 0) rc = slice_part(e, it->c, &p[2]);
            if (rc == 0 && p[2].kind == LP_VAL_INT && p[2].i == 0) rc = everr(e, LP_ERR_VALUE, "slice step cannot be zero");
            key[nk] = lp_value_tuple(p, 3);
            key[nk++].kind = LP_VAL_SLICE;
            continue;
        }
        value *v = &held[nheld++];
        if ((rc = eval(e, it, v))) break;
        if (v->k == V_TUPLE && n->nitems == 1 && it->kind == CLI_N_TUPLE) {
            /* a[(0, 1)] is a[0, 1]; a list is an array index */
            for (int j = 0; j < v->n && rc == 0; j++) {
                if (nk >= MAX_INDEX) { rc = everr(e, LP_ERR_INDEX, "too many indices for array"); break; }
                const value *w = &v->items[j];
                if (w->k == V_ELLIPSIS) { key[nk] = lp_value_none(); key[nk++].kind = LP_VAL_ELLIPSIS; }
                else rc = to_lp(e, w, &key[nk++]);
            }
            continue;
        }
        if (v->k == V_ELLIPSIS) { key[nk] = lp_value_none(); key[nk++].kind = LP_VAL_ELLIPSIS; }
        else if (v->k == V_FLOAT || v->k == V_COMPLEX) rc = everr(e, LP_ERR_INDEX, "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and integer or boolean arrays are valid indices");
        else rc = to_lp(e, v, &key[nk++]);
    }
    if (rc == 0) {
        lp_array *r = NULL;
        lp_status st = lp_getitem(e->ctx, obj.arr, nk, key, &r);
        if (st != LP_OK) rc = evlib(e, st);
        else set_array(out, r);
    }
    for (int k = 0; k < nk; k++)
        if (key[k].kind == LP_VAL_TUPLE) lp_vfree(&key[k]);
    for (int k = 0; k < nheld; k++) value_clear(&held[k]);
    value_clear(&obj);
    return rc;
}

/* ---- the evaluator ---- */

static int eval(ev *e, const cli_node *n, value *out) {
    memset(out, 0, sizeof *out);
    switch (n->kind) {
    case CLI_N_INT: set_int(out, n->i); return 0;
    case CLI_N_FLOAT: set_float(out, n->f); return 0;
    case CLI_N_IMAG: set_complex(out, 0, n->f); return 0; /* a Python complex (weak with arrays) */
    case CLI_N_TRUE: set_bool(out, true); return 0;
    case CLI_N_FALSE: set_bool(out, false); return 0;
    case CLI_N_NONE: return 0;
    case CLI_N_ELLIPSIS: out->k = V_ELLIPSIS; return 0;
    case CLI_N_STR: out->k = V_STR; out->s = n->s; return 0;
    case CLI_N_NAME: return lookup_name(e, n, out);
    case CLI_N_TUPLE:
    case CLI_N_LIST: {
        value *items = calloc((size_t)(n->nitems ? n->nitems : 1), sizeof *items);
        if (!items) return nomem(e);
        for (int k = 0; k < n->nitems; k++) {
            if (eval(e, n->items[k], &items[k])) {
                for (int j = 0; j < k; j++) value_clear(&items[j]);
                free(items);
                return -1;
            }
        }
        out->k = V_TUPLE;
        out->items = items;
        out->n = n->nitems;
        return 0;
    }
    case CLI_N_UNARY: {
        value x = {0};
        if (eval(e, n->a, &x)) return -1;
        int rc = eval_unop(e, n->op, &x, out);
        value_clear(&x);
        return rc;
    }
    case CLI_N_BINARY: {
        value x = {0}, y = {0};
        if (eval(e, n->a, &x)) return -1;
        if (eval(e, n->b, &y)) { value_clear(&x); return -1; }
        int rc = eval_binop(e, n->op, &x, &y, out);
        value_clear(&x);
        value_clear(&y);
        return rc;
    }
    case CLI_N_CALL: return eval_call(e, n, out);
    case CLI_N_LAMBDA: out->k = V_LAMBDA; out->fn = n; return 0;
    case CLI_N_ATTR: return eval_attr(e, n, out);
    case CLI_N_SUBSCRIPT: return eval_subscript(e, n, out);
    case CLI_N_KEYWORD:
    case CLI_N_SLICE:
        break;
    }
    return everr(e, LP_ERR_INTERNAL, "unexpected syntax node");
}

lp_status cli_expr_build(lp_ctx *ctx, const char *src, const cli_binding *names, int nnames,
                         lp_array **out, char *err, size_t errcap) {
    *out = NULL;
    if (err && errcap) err[0] = '\0';
    cli_ast *ast;
    if (cli_parse(src, &ast, err, errcap)) return LP_ERR_FORMAT;
    ev e = {.ctx = ctx, .names = names, .nnames = nnames, .err = err, .errcap = errcap};
    value v = {0};
    if (eval(&e, cli_ast_root(ast), &v) == 0) {
        if (is_arraylike(&v) || v.k == V_TUPLE) {
            lp_array *a;
            if (to_array(&e, &v, &a, "expression") == 0) *out = a;
        } else {
            everr(&e, LP_ERR_TYPE, "the expression gives a %s, not an array", tname(&v));
        }
    }
    value_clear(&v);
    free(e.locals);
    cli_ast_free(ast);
    if (!*out && e.st == LP_OK) everr(&e, LP_ERR_INTERNAL, "expression evaluation failed");
    return *out ? LP_OK : e.st;
}
