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
    V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_ELLIPSIS, V_ARRAY, V_TUPLE, V_DTYPE, V_FUNC,
    V_MODULE, V_METHOD, V_LAMBDA
} vkind;

typedef struct value {
    vkind k;
    bool b;
    int64_t i;
    double f;
    const char *s;       /* V_STR (in the syntax tree's arena) */
    lp_dtype dt;         /* V_DTYPE */
    int id;              /* V_FUNC: builtin index; V_METHOD: method index; V_MODULE: module */
    lp_array *arr;       /* V_ARRAY, V_METHOD (self): an owned reference */
    struct value *items; /* V_TUPLE: owned */
    int n;
    const cli_node *fn;  /* V_LAMBDA: the lambda's syntax node */
} value;

enum { MOD_NUMPY, MOD_RANDOM, MOD_LINALG };

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
    case V_STR: return "str";
    case V_ELLIPSIS: return "ellipsis";
    case V_ARRAY: return "ndarray";
    case V_TUPLE: return "tuple";
    case V_DTYPE: return "type";
    case V_FUNC: return "function";
    case V_MODULE: return "module";
    case V_METHOD: return "method";
    case V_LAMBDA: return "function";
    }
    return "object";
}

static bool is_num(const value *v) { return v->k == V_BOOL || v->k == V_INT || v->k == V_FLOAT; }
static bool is_arraylike(const value *v) { return v->k == V_ARRAY || is_num(v); }

static double num_f(const value *v) {
    return v->k == V_FLOAT ? v->f : v->k == V_INT ? (double)v->i : (double)v->b;
}
static int64_t num_i(const value *v) { return v->k == V_INT ? v->i : (int64_t)v->b; }

static void set_int(value *v, int64_t i) { memset(v, 0, sizeof *v); v->k = V_INT; v->i = i; }
static void set_float(value *v, double f) { memset(v, 0, sizeof *v); v->k = V_FLOAT; v->f = f; }
static void set_bool(value *v, bool b) { memset(v, 0, sizeof *v); v->k = V_BOOL; v->b = b; }
static void set_array(value *v, lp_array *a) { memset(v, 0, sizeof *v); v->k = V_ARRAY; v->arr = a; }

/* ---- the built-in namespace ---- */

typedef enum bkind {
    B_UNARY, B_BINARY, B_WHERE, B_REDUCE, B_ASTYPE, B_RESHAPE, B_TRANSPOSE, B_RAVEL, B_COPY,
    B_CONCAT, B_STACK, B_ZEROS, B_ONES, B_FULL, B_ZEROS_LIKE, B_ONES_LIKE, B_FULL_LIKE,
    B_ARANGE, B_LINSPACE, B_EYE, B_UNIFORM, B_NORMAL, B_MATMUL, B_LINALG, B_FORI_LOOP, B_WHILE_LOOP
} bkind;

/* params: comma-separated names in positional order; '!' marks a required one, '|' an alias. */
typedef struct builtin {
    const char *name;
    bkind kind;
    const char *op; /* library op name */
    const char *params;
} builtin;

#define RED_SUM "!a,axis,dtype,out,keepdims"
#define RED_MIN "!a,axis,out,keepdims"
#define RED_VAR "!a,axis,dtype,out,ddof,keepdims"

static const builtin builtins[] = {
    {"sqrt", B_UNARY, "sqrt", "!x"},
    {"exp", B_UNARY, "exp", "!x"},
    {"log", B_UNARY, "log", "!x"},
    {"sin", B_UNARY, "sin", "!x"},
    {"cos", B_UNARY, "cos", "!x"},
    {"tanh", B_UNARY, "tanh", "!x"},
    {"abs", B_UNARY, "abs", "!x"},
    {"absolute", B_UNARY, "abs", "!x"},
    {"negative", B_UNARY, "negative", "!x"},
    {"logical_not", B_UNARY, "logical_not", "!x"},
    {"invert", B_UNARY, "invert", "!x"},
    {"bitwise_not", B_UNARY, "invert", "!x"},
    {"bitwise_invert", B_UNARY, "invert", "!x"},
    {"add", B_BINARY, "add", "!x1,!x2"},
    {"subtract", B_BINARY, "subtract", "!x1,!x2"},
    {"multiply", B_BINARY, "multiply", "!x1,!x2"},
    {"divide", B_BINARY, "divide", "!x1,!x2"},
    {"true_divide", B_BINARY, "divide", "!x1,!x2"},
    {"floor_divide", B_BINARY, "floor_divide", "!x1,!x2"},
    {"remainder", B_BINARY, "remainder", "!x1,!x2"},
    {"mod", B_BINARY, "remainder", "!x1,!x2"},
    {"power", B_BINARY, "power", "!x1,!x2"},
    {"pow", B_BINARY, "power", "!x1,!x2"},
    {"maximum", B_BINARY, "maximum", "!x1,!x2"},
    {"minimum", B_BINARY, "minimum", "!x1,!x2"},
    {"equal", B_BINARY, "equal", "!x1,!x2"},
    {"not_equal", B_BINARY, "not_equal", "!x1,!x2"},
    {"less", B_BINARY, "less", "!x1,!x2"},
    {"less_equal", B_BINARY, "less_equal", "!x1,!x2"},
    {"greater", B_BINARY, "greater", "!x1,!x2"},
    {"greater_equal", B_BINARY, "greater_equal", "!x1,!x2"},
    {"logical_and", B_BINARY, "logical_and", "!x1,!x2"},
    {"logical_or", B_BINARY, "logical_or", "!x1,!x2"},
    {"logical_xor", B_BINARY, "logical_xor", "!x1,!x2"},
    {"bitwise_and", B_BINARY, "bitwise_and", "!x1,!x2"},
    {"bitwise_or", B_BINARY, "bitwise_or", "!x1,!x2"},
    {"bitwise_xor", B_BINARY, "bitwise_xor", "!x1,!x2"},
    {"where", B_WHERE, "where", "!condition,!x,!y"},
    {"sum", B_REDUCE, "sum", RED_SUM},
    {"prod", B_REDUCE, "prod", RED_SUM},
    {"mean", B_REDUCE, "mean", RED_SUM},
    {"min", B_REDUCE, "min", RED_MIN},
    {"max", B_REDUCE, "max", RED_MIN},
    {"amin", B_REDUCE, "min", RED_MIN},
    {"amax", B_REDUCE, "max", RED_MIN},
    {"argmin", B_REDUCE, "argmin", RED_MIN},
    {"argmax", B_REDUCE, "argmax", RED_MIN},
    {"any", B_REDUCE, "any", RED_MIN},
    {"all", B_REDUCE, "all", RED_MIN},
    {"var", B_REDUCE, "var", RED_VAR},
    {"std", B_REDUCE, "std", RED_VAR},
    {"astype", B_ASTYPE, NULL, "!x,!dtype"},
    {"reshape", B_RESHAPE, NULL, "!a,!shape|newshape"},
    {"transpose", B_TRANSPOSE, NULL, "!a,axes"},
    {"ravel", B_RAVEL, NULL, "!a"},
    {"copy", B_COPY, NULL, "!a"},
    {"concatenate", B_CONCAT, NULL, "!arrays,axis"},
    {"stack", B_STACK, NULL, "!arrays,axis"},
    {"zeros", B_ZEROS, NULL, "!shape,dtype"},
    {"empty", B_ZEROS, NULL, "!shape,dtype"},
    {"ones", B_ONES, NULL, "!shape,dtype"},
    {"full", B_FULL, NULL, "!shape,!fill_value,dtype"},
    {"zeros_like", B_ZEROS_LIKE, NULL, "!a,dtype"},
    {"empty_like", B_ZEROS_LIKE, NULL, "!a,dtype"},
    {"ones_like", B_ONES_LIKE, NULL, "!a,dtype"},
    {"full_like", B_FULL_LIKE, NULL, "!a,!fill_value,dtype"},
    {"arange", B_ARANGE, NULL, "!start,stop,step,dtype"},
    {"linspace", B_LINSPACE, NULL, "!start,!stop,num,endpoint,dtype"},
    {"eye", B_EYE, NULL, "!N|n,M|m,k,dtype"},
    {"uniform", B_UNIFORM, NULL, "!shape|size,seed,low,high,dtype"},
    {"normal", B_NORMAL, NULL, "!shape|size,seed,loc,scale,dtype"},
    {"matmul", B_MATMUL, NULL, "!x1,!x2"},
    {"dot", B_MATMUL, NULL, "!a,!b"},
    {"outer", B_LINALG, "outer", "!a,!b"},
    /* loops (JAX's): the functions are lambdas, traced once */
    {"fori_loop", B_FORI_LOOP, NULL, "!lower,!upper,!body_fun,!init_val"},
    {"while_loop", B_WHILE_LOOP, NULL, "!cond_fun,!body_fun,!init_val,max_iter,last_state"},
    /* numpy.linalg: reached as np.linalg.<name> only */
    {"linalg.solve", B_LINALG, "solve", "!a,!b"},
    {"linalg.inv", B_LINALG, "inv", "!a"},
    {"linalg.cholesky", B_LINALG, "cholesky", "!a"},
    {"linalg.det", B_LINALG, "det", "!a"},
    {"linalg.eigvalsh", B_LINALG, "eigvalsh", "!a"},
    {"linalg.lstsq", B_LINALG, "lstsq", "!a,!b,rcond"},
    {"linalg.norm", B_LINALG, "norm", "!x,ord"},
};
#define NBUILTINS ((int)(sizeof builtins / sizeof builtins[0]))

/* Methods of arrays: self is the first parameter (dropped from params). */
typedef struct method {
    const char *name;
    bkind kind;
    const char *op;
    const char *params; /* NULL: takes *args (reshape, transpose) */
} method;

static const method methods[] = {
    {"sum", B_REDUCE, "sum", "axis,dtype,out,keepdims"},
    {"prod", B_REDUCE, "prod", "axis,dtype,out,keepdims"},
    {"mean", B_REDUCE, "mean", "axis,dtype,out,keepdims"},
    {"min", B_REDUCE, "min", "axis,out,keepdims"},
    {"max", B_REDUCE, "max", "axis,out,keepdims"},
    {"argmin", B_REDUCE, "argmin", "axis,out,keepdims"},
    {"argmax", B_REDUCE, "argmax", "axis,out,keepdims"},
    {"any", B_REDUCE, "any", "axis,out,keepdims"},
    {"all", B_REDUCE, "all", "axis,out,keepdims"},
    {"var", B_REDUCE, "var", "axis,dtype,out,ddof,keepdims"},
    {"std", B_REDUCE, "std", "axis,dtype,out,ddof,keepdims"},
    {"astype", B_ASTYPE, NULL, "!dtype"},
    {"reshape", B_RESHAPE, NULL, NULL},
    {"transpose", B_TRANSPOSE, NULL, NULL},
    {"ravel", B_RAVEL, NULL, ""},
    {"flatten", B_RAVEL, NULL, ""},
    {"copy", B_COPY, NULL, ""},
};
#define NMETHODS ((int)(sizeof methods / sizeof methods[0]))

/* Identifiers that name dtypes (np.float32 ..., and Python's int/float/bool). */
static const char *const dtype_idents[] = {
    "bool", "bool_", "int32", "int64", "int_", "intc", "intp", "float32", "float64", "single",
    "double", "int", "float",
};

static int find_builtin(const char *name) {
    for (int k = 0; k < NBUILTINS; k++)
        if (strcmp(builtins[k].name, name) == 0) return k;
    return -1;
}

/* Names of the numpy namespace (also the global one). false when there is no such name. */
static bool numpy_attr(const char *name, value *out) {
    memset(out, 0, sizeof *out);
    int b = find_builtin(name);
    if (b >= 0 && builtins[b].kind != B_UNIFORM && builtins[b].kind != B_NORMAL) {
        out->k = V_FUNC;
        out->id = b;
        return true;
    }
    for (size_t k = 0; k < sizeof dtype_idents / sizeof dtype_idents[0]; k++)
        if (strcmp(dtype_idents[k], name) == 0) {
            out->k = V_DTYPE;
            if (strcmp(name, "intp") == 0) out->dt = LP_INT64;
            else if (!lp_dtype_from_name(name, &out->dt)) return false;
            return true;
        }
    if (strcmp(name, "nan") == 0) { set_float(out, NAN); return true; }
    if (strcmp(name, "inf") == 0) { set_float(out, INFINITY); return true; }
    if (strcmp(name, "pi") == 0) { set_float(out, 3.141592653589793); return true; }
    if (strcmp(name, "e") == 0) { set_float(out, 2.718281828459045); return true; }
    if (strcmp(name, "newaxis") == 0) { out->k = V_NONE; return true; }
    if (strcmp(name, "random") == 0) { out->k = V_MODULE; out->id = MOD_RANDOM; return true; }
    if (strcmp(name, "linalg") == 0) { out->k = V_MODULE; out->id = MOD_LINALG; return true; }
    return false;
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
    int b = find_builtin(n->s);
    if (b >= 0) { /* uniform, normal: also global */
        memset(out, 0, sizeof *out);
        out->k = V_FUNC;
        out->id = b;
        return 0;
    }
    return everr(e, LP_ERR_NOTFOUND, "name '%s' is not defined", n->s);
}

/* ---- conversions ---- */

/* ---- tuples and lists of numbers as arrays (np.asarray((1, 2))) ---- */

#define MAX_LITERAL_ELEMS (1 << 22)

/* The shape of a nest of tuples, read along the first elements (validated by nest_check). */
static int nest_probe(ev *e, const value *v, int *ndim, int64_t *shape) {
    int nd = 0;
    while (v->k == V_TUPLE) {
        if (nd >= LP_MAX_NDIM) return everr(e, LP_ERR_VALUE, "sequence nested deeper than %d levels", LP_MAX_NDIM);
        shape[nd++] = v->n;
        if (v->n == 0) break;
        v = &v->items[0];
    }
    *ndim = nd;
    return 0;
}

/* Check that the nest is rectangular with numbers at the leaves; kind: bool 0 < int 1 < float 2. */
static int nest_check(ev *e, const value *v, int depth, int ndim, const int64_t *shape, int *kind) {
    if (depth == ndim) {
        if (is_num(v)) {
            int k = v->k == V_BOOL ? 0 : v->k == V_INT ? 1 : 2;
            if (k > *kind) *kind = k;
            return 0;
        }
        if (v->k != V_TUPLE)
            return everr(e, LP_ERR_TYPE, "cannot make an array from a sequence holding a %s", tname(v));
    } else if (v->k == V_TUPLE && v->n == shape[depth]) {
        for (int k = 0; k < v->n; k++)
            if (nest_check(e, &v->items[k], depth + 1, ndim, shape, kind)) return -1;
        return 0;
    } else if (v->k != V_TUPLE && !is_num(v)) {
        return everr(e, LP_ERR_TYPE, "cannot make an array from a sequence holding a %s", tname(v));
    }
    return everr(e, LP_ERR_VALUE, "the sequence has an inhomogeneous shape and cannot become an array");
}

static void nest_fill(const value *v, lp_dtype dt, char **p) {
    if (v->k == V_TUPLE) {
        for (int k = 0; k < v->n; k++) nest_fill(&v->items[k], dt, p);
        return;
    }
    if (dt == LP_FLOAT64) { double d = num_f(v); memcpy(*p, &d, 8); *p += 8; }
    else if (dt == LP_INT64) { int64_t i = num_i(v); memcpy(*p, &i, 8); *p += 8; }
    else { **p = (char)(v->b ? 1 : 0); *p += 1; }
}

static int tuple_to_array(ev *e, const value *v, lp_array **out) {
    int ndim = 0, kind = -1;
    int64_t shape[LP_MAX_NDIM], n = 1;
    if (nest_probe(e, v, &ndim, shape) || nest_check(e, v, 0, ndim, shape, &kind)) return -1;
    for (int k = 0; k < ndim; k++) n *= shape[k];
    if (n > MAX_LITERAL_ELEMS) return everr(e, LP_ERR_LIMIT, "sequence literal too large");
    lp_dtype dt = kind == 0 ? LP_BOOL : kind == 1 ? LP_INT64 : LP_FLOAT64; /* np.array([]) is float64 */
    char *data = malloc((size_t)(n ? n : 1) * 8), *p = data;
    if (!data) return nomem(e);
    nest_fill(v, dt, &p);
    lp_buffer *buf = NULL;
    lp_status st = lp_buffer_create(e->ctx, dt, ndim, shape, data, &buf);
    free(data);
    if (st == LP_OK) {
        st = lp_from_buffer(e->ctx, buf, out);
        lp_buffer_release(buf);
    }
    return st == LP_OK ? 0 : evlib(e, st);
}

/* New reference to v as an array (a number becomes a weak scalar, a tuple a NumPy array). */
static int to_array(ev *e, const value *v, lp_array **out, const char *what) {
    lp_status st;
    *out = NULL;
    switch (v->k) {
    case V_TUPLE: return tuple_to_array(e, v, out);
    case V_ARRAY:
        lp_array_retain(v->arr);
        *out = v->arr;
        return 0;
    case V_BOOL: st = lp_scalar_array(e->ctx, lp_scalar_b(v->b), out); break;
    case V_INT: st = lp_scalar_array(e->ctx, lp_scalar_i(v->i), out); break;
    case V_FLOAT: st = lp_scalar_array(e->ctx, lp_scalar_f(v->f), out); break;
    default:
        return everr(e, LP_ERR_TYPE, "%s: expected an array or a number, got %s", what, tname(v));
    }
    return st == LP_OK ? 0 : evlib(e, st);
}

static int get_int(ev *e, const value *v, const char *fname, const char *pname, int64_t *out) {
    if (v->k == V_INT || v->k == V_BOOL) { *out = num_i(v); return 0; }
    return everr(e, LP_ERR_TYPE, "%s(): '%s' must be an integer, got %s", fname, pname, tname(v));
}

static int get_small_int(ev *e, const value *v, const char *fname, const char *pname, int *out) {
    int64_t x = 0;
    if (get_int(e, v, fname, pname, &x)) return -1;
    if (x < INT_MIN || x > INT_MAX) return everr(e, LP_ERR_VALUE, "%s(): '%s' is out of range", fname, pname);
    *out = (int)x;
    return 0;
}

static int get_num(ev *e, const value *v, const char *fname, const char *pname, double *out,
                   bool *is_float) {
    if (is_num(v)) {
        *out = num_f(v);
        if (is_float) *is_float = v->k == V_FLOAT;
        return 0;
    }
    return everr(e, LP_ERR_TYPE, "%s(): '%s' must be a number, got %s", fname, pname, tname(v));
}

static int get_bool(ev *e, const value *v, const char *fname, const char *pname, bool *out) {
    if (v->k == V_BOOL || v->k == V_INT) { *out = num_i(v) != 0; return 0; }
    return everr(e, LP_ERR_TYPE, "%s(): '%s' must be True or False, got %s", fname, pname, tname(v));
}

static int get_dtype(ev *e, const value *v, const char *fname, lp_dtype *out) {
    if (v->k == V_DTYPE) { *out = v->dt; return 0; }
    if (v->k == V_STR) {
        const char *s = v->s;
        if (*s == '<' || *s == '=' || *s == '|') s++;
        if (lp_dtype_from_name(s, out)) return 0;
        return everr(e, LP_ERR_TYPE, "%s(): data type '%s' not understood", fname, v->s);
    }
    return everr(e, LP_ERR_TYPE, "%s(): cannot interpret %s as a data type", fname, tname(v));
}

static int get_shape(ev *e, const value *v, const char *fname, int *ndim, int64_t *shape) {
    if (v->k == V_INT) { *ndim = 1; shape[0] = v->i; return 0; }
    if (v->k == V_TUPLE) {
        if (v->n > LP_MAX_NDIM)
            return everr(e, LP_ERR_VALUE, "%s(): maximum supported dimension is %d, found %d", fname, LP_MAX_NDIM, v->n);
        for (int k = 0; k < v->n; k++) {
            if (v->items[k].k != V_INT)
                return everr(e, LP_ERR_TYPE, "%s(): shape entries must be integers, got %s", fname, tname(&v->items[k]));
            shape[k] = v->items[k].i;
        }
        *ndim = v->n;
        return 0;
    }
    return everr(e, LP_ERR_TYPE, "%s(): shape must be an integer or a tuple of integers, got %s", fname, tname(v));
}

/* axis: None (all), an int, or a tuple of ints. */
static int get_axes(ev *e, const value *v, const char *fname, int *axes, int *naxes, bool *all) {
    *naxes = 0;
    *all = false;
    if (!v || v->k == V_NONE) { *all = true; return 0; }
    if (v->k == V_INT || v->k == V_BOOL) {
        *naxes = 1;
        return get_small_int(e, v, fname, "axis", &axes[0]);
    }
    if (v->k == V_TUPLE) {
        if (v->n > LP_MAX_NDIM) return everr(e, LP_ERR_VALUE, "%s(): too many axes", fname);
        for (int k = 0; k < v->n; k++)
            if (get_small_int(e, &v->items[k], fname, "axis", &axes[k])) return -1;
        *naxes = v->n;
        return 0;
    }
    return everr(e, LP_ERR_TYPE, "%s(): axis must be None, an integer or a tuple of integers, got %s", fname, tname(v));
}

/* ---- argument binding (Python's rules for positional and keyword arguments) ---- */

#define MAX_PARAMS 8

typedef struct args {
    value *pos;
    int npos;
    value *kw;
    const char **kwname;
    int nkw;
} args;

/* slots[k] points into a (borrowed) or is NULL for a parameter not given. */
static int bind(ev *e, const char *fname, const char *params, const args *a, const value **slots,
                int *nparams_out) {
    char names[MAX_PARAMS][3][24];
    int nalias[MAX_PARAMS];
    bool required[MAX_PARAMS];
    int np = 0;
    const char *p = params;
    while (*p && np < MAX_PARAMS) {
        required[np] = *p == '!';
        if (*p == '!') p++;
        nalias[np] = 0;
        for (;;) {
            size_t l = strcspn(p, ",|");
            if (nalias[np] < 3) {
                snprintf(names[np][nalias[np]], sizeof names[np][0], "%.*s", (int)l, p);
                nalias[np]++;
            }
            p += l;
            if (*p == '|') { p++; continue; }
            break;
        }
        if (*p == ',') p++;
        np++;
    }
    for (int k = 0; k < np; k++) slots[k] = NULL;
    if (a->npos > np) {
        if (np == 0) return everr(e, LP_ERR_TYPE, "%s() takes no arguments (%d given)", fname, a->npos);
        return everr(e, LP_ERR_TYPE, "%s() takes at most %d positional argument%s (%d given)", fname, np,
                     np == 1 ? "" : "s", a->npos);
    }
    for (int k = 0; k < a->npos; k++) slots[k] = &a->pos[k];
    for (int j = 0; j < a->nkw; j++) {
        int found = -1;
        for (int k = 0; k < np && found < 0; k++)
            for (int m = 0; m < nalias[k]; m++)
                if (strcmp(names[k][m], a->kwname[j]) == 0) { found = k; break; }
        if (found < 0)
            return everr(e, LP_ERR_TYPE, "%s() got an unexpected keyword argument '%s'", fname, a->kwname[j]);
        if (slots[found])
            return everr(e, LP_ERR_TYPE, "%s() got multiple values for argument '%s'", fname, names[found][0]);
        slots[found] = &a->kw[j];
    }
    for (int k = 0; k < np; k++)
        if (required[k] && !slots[k])
            return everr(e, LP_ERR_TYPE, "%s() missing required argument '%s'", fname, names[k][0]);
    if (nparams_out) *nparams_out = np;
    return 0;
}

/* "given and not None" */
static bool given(const value *v) { return v && v->k != V_NONE; }

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

static int num_binop(ev *e, int op, const value *x, const value *y, value *out) {
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
            if (x->k == V_FLOAT) return everr(e, LP_ERR_TYPE, "bad operand type for unary ~: 'float'");
            set_int(out, ~num_i(x));
            return 0;
        }
        if (x->k == V_FLOAT) { set_float(out, op == '-' ? -x->f : x->f); return 0; }
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

static int self_array(ev *e, const value *a, const char *fname, lp_array **out) {
    if (a->k != V_ARRAY && a->k != V_TUPLE && !is_num(a))
        return everr(e, LP_ERR_TYPE, "%s(): expected an array, got %s", fname, tname(a));
    return to_array(e, a, out, fname);
}

static int do_reduce(ev *e, const char *fname, const char *op, lp_array *a, const value *axis,
                     const value *dtype, const value *outv, const value *keepdims, const value *ddof,
                     value *out) {
    int axes[LP_MAX_NDIM];
    int naxes;
    bool all, kd = false;
    int dd = 0;
    if (get_axes(e, axis, fname, axes, &naxes, &all)) return -1;
    if (given(outv)) return everr(e, LP_ERR_VALUE, "%s(): out= is not supported", fname);
    if (keepdims && get_bool(e, keepdims, fname, "keepdims", &kd)) return -1;
    if (ddof && get_small_int(e, ddof, fname, "ddof", &dd)) return -1;
    lp_array *src = a, *cast = NULL;
    lp_status st;
    if (given(dtype)) {
        lp_dtype dt;
        if (get_dtype(e, dtype, fname, &dt)) return -1;
        st = lp_astype(e->ctx, a, dt, &cast);
        if (st != LP_OK) return evlib(e, st);
        src = cast;
    }
    lp_array *r = NULL;
    if (ddof) st = lp_reduce_ddof(e->ctx, op, src, all ? NULL : axes, naxes, kd, dd, &r);
    else st = lp_reduce(e->ctx, op, src, all ? NULL : axes, naxes, kd, &r);
    lp_array_release(cast);
    if (st != LP_OK) return evlib(e, st);
    set_array(out, r);
    return 0;
}

static int do_reshape(ev *e, lp_array *a, int ndim, const int64_t *shape, value *out) {
    lp_array *r = NULL;
    lp_status st = lp_reshape(e->ctx, a, ndim, shape, &r);
    if (st != LP_OK) return evlib(e, st);
    set_array(out, r);
    return 0;
}

static int do_transpose(ev *e, lp_array *a, const value *axes, value *out) {
    int perm[LP_MAX_NDIM];
    const int *pp = NULL;
    if (given(axes)) {
        if (axes->k != V_TUPLE)
            return everr(e, LP_ERR_TYPE, "transpose(): axes must be a tuple of integers, got %s", tname(axes));
        if (axes->n != lp_array_ndim(a)) return everr(e, LP_ERR_VALUE, "axes don't match array");
        for (int k = 0; k < axes->n; k++)
            if (get_small_int(e, &axes->items[k], "transpose", "axes", &perm[k])) return -1;
        pp = perm;
    }
    lp_array *r = NULL;
    lp_status st = lp_transpose(e->ctx, a, pp, &r);
    if (st != LP_OK) return evlib(e, st);
    set_array(out, r);
    return 0;
}

static int do_ravel(ev *e, lp_array *a, value *out) {
    int64_t m1 = -1;
    return do_reshape(e, a, 1, &m1, out);
}

static int do_astype(ev *e, lp_array *a, lp_dtype dt, value *out) {
    lp_array *r = NULL;
    lp_status st = lp_astype(e->ctx, a, dt, &r);
    if (st != LP_OK) return evlib(e, st);
    set_array(out, r);
    return 0;
}

/* concatenate / stack over a sequence of arrays */
static int do_join(ev *e, bool stack, const value *seq, const value *axisv, value *out) {
    const char *fname = stack ? "stack" : "concatenate";
    if (seq->k != V_TUPLE)
        return everr(e, LP_ERR_TYPE, "%s(): expected a sequence of arrays, got %s", fname, tname(seq));
    if (seq->n == 0) return everr(e, LP_ERR_VALUE, "need at least one array to %s", stack ? "stack" : "concatenate");
    bool flat = false;
    int axis = 0;
    if (axisv && axisv->k == V_NONE) {
        if (stack) return everr(e, LP_ERR_TYPE, "stack(): axis must be an integer");
        flat = true;
    } else if (axisv && get_small_int(e, axisv, fname, "axis", &axis)) {
        return -1;
    }
    lp_array **arrs = calloc((size_t)seq->n, sizeof *arrs);
    if (!arrs) return nomem(e);
    int rc = 0;
    for (int k = 0; k < seq->n && rc == 0; k++) {
        if (!is_arraylike(&seq->items[k]) && seq->items[k].k != V_TUPLE) {
            rc = everr(e, LP_ERR_TYPE, "%s(): expected arrays, got %s", fname, tname(&seq->items[k]));
            break;
        }
        rc = to_array(e, &seq->items[k], &arrs[k], fname);
        if (rc == 0 && flat) {
            int64_t m1 = -1;
            lp_array *f = NULL;
            lp_status st = lp_reshape(e->ctx, arrs[k], 1, &m1, &f);
            lp_array_release(arrs[k]);
            arrs[k] = f;
            if (st != LP_OK) rc = evlib(e, st);
        }
    }
    if (rc == 0) {
        lp_array *r = NULL;
        lp_status st = stack ? lp_stack(e->ctx, seq->n, arrs, axis, &r)
                             : lp_concatenate(e->ctx, seq->n, arrs, axis, &r);
        if (st != LP_OK) rc = evlib(e, st);
        else set_array(out, r);
    }
    for (int k = 0; k < seq->n; k++) lp_array_release(arrs[k]);
    free(arrs);
    return rc;
}

static int scalar_of(ev *e, const value *v, const char *fname, lp_scalar *s, lp_dtype *natural) {
    switch (v->k) {
    case V_BOOL: *s = lp_scalar_b(v->b); *natural = LP_BOOL; return 0;
    case V_INT: *s = lp_scalar_i(v->i); *natural = LP_INT64; return 0;
    case V_FLOAT: *s = lp_scalar_f(v->f); *natural = LP_FLOAT64; return 0;
    default: return everr(e, LP_ERR_TYPE, "%s(): fill_value must be a number, got %s", fname, tname(v));
    }
}

static int do_creation(ev *e, const builtin *B, const value **sl, value *out) {
    const char *fname = B->name;
    lp_dtype dt = LP_FLOAT64;
    int ndim = 0;
    int64_t shape[LP_MAX_NDIM];
    lp_array *r = NULL;
    lp_status st = LP_OK;
    switch (B->kind) {
    case B_ZEROS:
    case B_ONES:
        if (get_shape(e, sl[0], fname, &ndim, shape)) return -1;
        if (given(sl[1]) && get_dtype(e, sl[1], fname, &dt)) return -1;
        st = B->kind == B_ZEROS ? lp_zeros(e->ctx, dt, ndim, shape, &r) : lp_ones(e->ctx, dt, ndim, shape, &r);
        break;
    case B_FULL: {
        lp_scalar s;
        if (get_shape(e, sl[0], fname, &ndim, shape)) return -1;
        if (scalar_of(e, sl[1], fname, &s, &dt)) return -1;
        if (given(sl[2]) && get_dtype(e, sl[2], fname, &dt)) return -1;
        st = lp_full(e->ctx, dt, ndim, shape, s, &r);
        break;
    }
    case B_ZEROS_LIKE:
    case B_ONES_LIKE:
    case B_FULL_LIKE: {
        lp_array *a;
        lp_scalar s = lp_scalar_i(B->kind == B_ONES_LIKE ? 1 : 0);
        lp_dtype natural;
        const value *dtv = B->kind == B_FULL_LIKE ? sl[2] : sl[1];
        if (B->kind == B_FULL_LIKE && scalar_of(e, sl[1], fname, &s, &natural)) return -1;
        if (self_array(e, sl[0], fname, &a)) return -1;
        dt = lp_array_dtype(a);
        ndim = lp_array_ndim(a);
        memcpy(shape, lp_array_shape(a), (size_t)ndim * sizeof *shape);
        lp_array_release(a);
        if (given(dtv) && get_dtype(e, dtv, fname, &dt)) return -1;
        st = lp_full(e->ctx, dt, ndim, shape, s, &r);
        break;
    }
    case B_ARANGE: {
        double start = 0, stop, step = 1;
        bool f1 = false, f2 = false, f3 = false;
        if (given(sl[1])) {
            if (get_num(e, sl[0], fname, "start", &start, &f1)) return -1;
            if (get_num(e, sl[1], fname, "stop", &stop, &f2)) return -1;
        } else {
            if (get_num(e, sl[0], fname, "stop", &stop, &f2)) return -1;
        }
        if (given(sl[2]) && get_num(e, sl[2], fname, "step", &step, &f3)) return -1;
        dt = (f1 || f2 || f3) ? LP_FLOAT64 : LP_INT64;
        if (given(sl[3]) && get_dtype(e, sl[3], fname, &dt)) return -1;
        if (step == 0) return everr(e, LP_ERR_VALUE, "arange(): step must not be zero");
        st = lp_arange(e->ctx, start, stop, step, dt, &r);
        break;
    }
    case B_LINSPACE: {
        double start, stop;
        int64_t num = 50;
        bool endpoint = true;
        if (get_num(e, sl[0], fname, "start", &start, NULL)) return -1;
        if (get_num(e, sl[1], fname, "stop", &stop, NULL)) return -1;
        if (given(sl[2]) && get_int(e, sl[2], fname, "num", &num)) return -1;
        if (given(sl[3]) && get_bool(e, sl[3], fname, "endpoint", &endpoint)) return -1;
        if (given(sl[4]) && get_dtype(e, sl[4], fname, &dt)) return -1;
        if (num < 0) return everr(e, LP_ERR_VALUE, "Number of samples, %lld, must be non-negative.", (long long)num);
        st = lp_linspace(e->ctx, start, stop, num, endpoint, dt, &r);
        break;
    }
    case B_EYE: {
        int64_t n = 0, m, k = 0;
        if (get_int(e, sl[0], fname, "N", &n)) return -1;
        m = n;
        if (given(sl[1]) && get_int(e, sl[1], fname, "M", &m)) return -1;
        if (given(sl[2]) && get_int(e, sl[2], fname, "k", &k)) return -1;
        if (given(sl[3]) && get_dtype(e, sl[3], fname, &dt)) return -1;
        st = lp_eye(e->ctx, n, m, k, dt, &r);
        break;
    }
    case B_UNIFORM:
    case B_NORMAL: {
        bool uni = B->kind == B_UNIFORM;
        double p1 = uni ? 0 : 0, p2 = 1;
        int64_t seed = 0;
        if (given(sl[0]) && get_shape(e, sl[0], fname, &ndim, shape)) return -1;
        if (given(sl[1]) && get_int(e, sl[1], fname, "seed", &seed)) return -1;
        if (seed < 0) return everr(e, LP_ERR_VALUE, "%s(): seed must be non-negative", fname);
        if (given(sl[2]) && get_num(e, sl[2], fname, uni ? "low" : "loc", &p1, NULL)) return -1;
        if (given(sl[3]) && get_num(e, sl[3], fname, uni ? "high" : "scale", &p2, NULL)) return -1;
        if (given(sl[4]) && get_dtype(e, sl[4], fname, &dt)) return -1;
        st = uni ? lp_random_uniform(e->ctx, (uint64_t)seed, p1, p2, dt, ndim, shape, &r)
                 : lp_random_normal(e->ctx, (uint64_t)seed, p1, p2, dt, ndim, shape, &r);
        break;
    }
    default:
        return everr(e, LP_ERR_INTERNAL, "%s(): not a creation function", fname);
    }
    if (st != LP_OK) return evlib(e, st);
    set_array(out, r);
    return 0;
}

/* ---- lambdas and loops ---- */

static int eval(ev *e, const cli_node *n, value *out);

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

static int do_loop(ev *e, const builtin *B, const value **sl, value *out) {
    const bool fori = B->kind == B_FORI_LOOP;
    const char *fname = B->name;
    const value *init = sl[fori ? 3 : 2], *body_fun = sl[fori ? 2 : 1], *cond_fun = fori ? NULL : sl[0];
    int64_t lower = 0, upper = 0, max_iter = 0;
    bool last_state = false;
    if (fori && (get_int(e, sl[0], fname, "lower", &lower) || get_int(e, sl[1], fname, "upper", &upper))) return -1;
    if (!fori && given(sl[3]) && get_int(e, sl[3], fname, "max_iter", &max_iter)) return -1;
    if (!fori && given(sl[4]) && get_bool(e, sl[4], fname, "last_state", &last_state)) return -1;
    if (body_fun->k != V_LAMBDA || (cond_fun && cond_fun->k != V_LAMBDA))
        return everr(e, LP_ERR_TYPE, "%s(): %s must be a lambda", fname, body_fun->k != V_LAMBDA ? "body_fun" : "cond_fun");
    const bool tuple = init->k == V_TUPLE;
    const int n = tuple ? init->n : 1;
    if (n < 1) return everr(e, LP_ERR_VALUE, "%s(): init_val needs at least one value", fname);
    if (n > 64) return everr(e, LP_ERR_LIMIT, "%s(): at most 64 carried values", fname);
    lp_array *iv[64] = {0}, *bp[65] = {0}, *cp[64] = {0}, *bo[64] = {0}, *co = NULL, *res[64] = {0};
    value args[2] = {{0}, {0}}, r = {0};
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
        rc = state_value(e, tuple, n, cp, &args[0]);
        if (rc == 0) rc = call_lambda(e, cond_fun->fn, what, 1, args, &r);
        if (rc == 0) rc = state_arrays(e, what, false, 1, &r, &co);
        value_clear(&args[0]);
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
        if (fori) set_array(&args[0], bp[0]), lp_array_retain(bp[0]);
        rc = state_value(e, tuple, n, bp + off, &args[off]);
        if (rc == 0) rc = call_lambda(e, body_fun->fn, what, off + 1, args, &r);
        if (rc == 0) rc = state_arrays(e, what, tuple, n, &r, bo);
        value_clear(&args[0]);
        value_clear(&args[1]);
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

static int call_builtin(ev *e, const builtin *B, const args *a, value *out) {
    const value *sl[MAX_PARAMS];
    if (bind(e, B->name, B->params, a, sl, NULL)) return -1;
    const char *fname = B->name;
    switch (B->kind) {
    case B_UNARY:
        return op_unary_arr(e, B->op, sl[0], out);
    case B_BINARY:
        return op_binary_arr(e, B->op, sl[0], sl[1], out);
    case B_WHERE: {
        lp_array *in[3] = {NULL, NULL, NULL};
        int rc = 0;
        for (int k = 0; k < 3 && rc == 0; k++) rc = to_array(e, sl[k], &in[k], fname);
        if (rc == 0) {
            lp_array *r = NULL;
            lp_status st = lp_where(e->ctx, in[0], in[1], in[2], &r);
            if (st != LP_OK) rc = evlib(e, st);
            else set_array(out, r);
        }
        for (int k = 0; k < 3; k++) lp_array_release(in[k]);
        return rc;
    }
    case B_REDUCE: {
        lp_array *x;
        if (self_array(e, sl[0], fname, &x)) return -1;
        int rc;
        if (strcmp(B->params, RED_SUM) == 0) rc = do_reduce(e, fname, B->op, x, sl[1], sl[2], sl[3], sl[4], NULL, out);
        else if (strcmp(B->params, RED_VAR) == 0) rc = do_reduce(e, fname, B->op, x, sl[1], sl[2], sl[3], sl[5], sl[4], out);
        else rc = do_reduce(e, fname, B->op, x, sl[1], NULL, sl[2], sl[3], NULL, out);
        lp_array_release(x);
        return rc;
    }
    case B_ASTYPE: {
        lp_dtype dt;
        lp_array *x;
        if (get_dtype(e, sl[1], fname, &dt)) return -1;
        if (self_array(e, sl[0], fname, &x)) return -1;
        int rc = do_astype(e, x, dt, out);
        lp_array_release(x);
        return rc;
    }
    case B_RESHAPE: {
        int ndim;
        int64_t shape[LP_MAX_NDIM];
        lp_array *x;
        if (get_shape(e, sl[1], fname, &ndim, shape)) return -1;
        if (self_array(e, sl[0], fname, &x)) return -1;
        int rc = do_reshape(e, x, ndim, shape, out);
        lp_array_release(x);
        return rc;
    }
    case B_TRANSPOSE:
    case B_RAVEL:
    case B_COPY: {
        lp_array *x;
        if (self_array(e, sl[0], fname, &x)) return -1;
        int rc = 0;
        if (B->kind == B_TRANSPOSE) rc = do_transpose(e, x, sl[1], out);
        else if (B->kind == B_RAVEL) rc = do_ravel(e, x, out);
        else { lp_array_retain(x); set_array(out, x); }
        lp_array_release(x);
        return rc;
    }
    case B_CONCAT:
    case B_STACK:
        return do_join(e, B->kind == B_STACK, sl[0], sl[1], out);
    case B_MATMUL:
        return op_matmul(e, strcmp(fname, "dot") == 0, sl[0], sl[1], out);
    case B_LINALG: {
        /* outer and numpy.linalg.*: lp_linalg by name; norm's ord and lstsq's rcond passed through */
        lp_array *in[2] = {NULL, NULL}, *r = NULL;
        int nin = strncmp(B->params, "!a,!b", 5) == 0 ? 2 : 1;
        int rc = 0;
        for (int k = 0; k < nin && rc == 0; k++) rc = to_array(e, sl[k], &in[k], fname);
        if (rc == 0) {
            lp_status st;
            if (strcmp(B->op, "norm") == 0) {
                char buf[8];
                const char *ord = NULL;
                const value *o = sl[1];
                if (o && o->k == V_STR) ord = o->s;
                else if (o && is_num(o)) {
                    double d = num_f(o);
                    if (isinf(d)) ord = d > 0 ? "inf" : "-inf";
                    else { snprintf(buf, sizeof buf, "%g", d); ord = buf; }
                } else if (o && o->k != V_NONE) {
                    rc = everr(e, LP_ERR_TYPE, "%s(): ord must be a number, a string or None", fname);
                }
                st = rc ? LP_OK : lp_linalg_norm(e->ctx, in[0], ord, &r);
            } else if (strcmp(B->op, "lstsq") == 0) {
                double rcond = sl[2] && is_num(sl[2]) ? num_f(sl[2]) : -1;
                st = lp_linalg_lstsq(e->ctx, in[0], in[1], rcond, &r);
            } else {
                st = lp_linalg(e->ctx, B->op, nin, in, &r);
            }
            if (rc == 0 && st != LP_OK) rc = evlib(e, st);
            else if (rc == 0) set_array(out, r);
        }
        for (int k = 0; k < 2; k++) lp_array_release(in[k]);
        return rc;
    }
    case B_FORI_LOOP:
    case B_WHILE_LOOP:
        return do_loop(e, B, sl, out);
    default:
        return do_creation(e, B, sl, out);
    }
}

static int call_method(ev *e, const value *self, const args *a, value *out) {
    const method *M = &methods[self->id];
    lp_array *x = self->arr;
    char fname[48];
    snprintf(fname, sizeof fname, "%s", M->name);
    if (!M->params) {
        /* reshape(2, -1) / reshape((2, -1)); transpose(1, 0) / transpose((1, 0)) / transpose() */
        bool rs = M->kind == B_RESHAPE;
        for (int j = 0; j < a->nkw; j++) {
            if (!(rs && (strcmp(a->kwname[j], "shape") == 0 || strcmp(a->kwname[j], "order") == 0)) &&
                !(!rs && strcmp(a->kwname[j], "axes") == 0))
                return everr(e, LP_ERR_TYPE, "%s() got an unexpected keyword argument '%s'", fname, a->kwname[j]);
            if (strcmp(a->kwname[j], "order") == 0) {
                if (a->kw[j].k != V_STR || strcmp(a->kw[j].s, "C") != 0)
                    return everr(e, LP_ERR_VALUE, "reshape(): only order='C' is supported");
            }
        }
        const value *seq = NULL;
        value tmp = {0};
        for (int j = 0; j < a->nkw; j++)
            if (strcmp(a->kwname[j], "order") != 0) seq = &a->kw[j];
        if (seq && a->npos) return everr(e, LP_ERR_TYPE, "%s() got multiple values for its shape", fname);
        if (!seq) {
            if (a->npos == 1 && (a->pos[0].k == V_TUPLE || a->pos[0].k == V_NONE)) {
                seq = &a->pos[0];
            } else {
                tmp.k = V_TUPLE;
                tmp.items = a->pos; /* borrowed: not cleared */
                tmp.n = a->npos;
                seq = &tmp;
            }
        }
        if (rs) {
            if (seq->k == V_TUPLE && seq->n == 0 && a->npos == 0 && !a->nkw)
                return everr(e, LP_ERR_TYPE, "reshape() missing required argument 'shape'");
            int ndim;
            int64_t shape[LP_MAX_NDIM];
            if (get_shape(e, seq, fname, &ndim, shape)) return -1;
            return do_reshape(e, x, ndim, shape, out);
        }
        if (seq->k == V_TUPLE && seq->n == 0) seq = NULL;
        return do_transpose(e, x, seq, out);
    }
    const value *sl[MAX_PARAMS];
    if (bind(e, fname, M->params, a, sl, NULL)) return -1;
    switch (M->kind) {
    case B_REDUCE:
        if (strcmp(M->params, "axis,dtype,out,keepdims") == 0)
            return do_reduce(e, fname, M->op, x, sl[0], sl[1], sl[2], sl[3], NULL, out);
        if (strcmp(M->params, "axis,dtype,out,ddof,keepdims") == 0)
            return do_reduce(e, fname, M->op, x, sl[0], sl[1], sl[2], sl[4], sl[3], out);
        return do_reduce(e, fname, M->op, x, sl[0], NULL, sl[1], sl[2], NULL, out);
    case B_ASTYPE: {
        lp_dtype dt;
        if (get_dtype(e, sl[0], fname, &dt)) return -1;
        return do_astype(e, x, dt, out);
    }
    case B_RAVEL:
        return do_ravel(e, x, out);
    case B_COPY:
        lp_array_retain(x);
        set_array(out, x);
        return 0;
    default:
        return everr(e, LP_ERR_INTERNAL, "bad method");
    }
}

/* float32(x): a cast for arrays, a strong NumPy scalar for numbers. */
static int call_dtype(ev *e, const value *callee, const args *a, value *out) {
    const char *fname = lp_dtype_name(callee->dt);
    if (a->nkw) return everr(e, LP_ERR_TYPE, "%s() takes no keyword arguments", fname);
    if (a->npos != 1) return everr(e, LP_ERR_TYPE, "%s() takes exactly one argument (%d given)", fname, a->npos);
    lp_array *x;
    if (self_array(e, &a->pos[0], fname, &x)) return -1;
    int rc = do_astype(e, x, callee->dt, out);
    lp_array_release(x);
    return rc;
}


static void args_clear(args *a, int nitems) {
    for (int k = 0; k < nitems; k++) {
        value_clear(&a->pos[k]);
        value_clear(&a->kw[k]);
    }
    free(a->pos);
    free(a->kw);
    free((void *)a->kwname);
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
        if (callee.k == V_LAMBDA) {
            rc = a.nkw ? everr(e, LP_ERR_TYPE, "a lambda takes positional arguments only")
                       : call_lambda(e, callee.fn, "the lambda", a.npos, a.pos, out);
        } else if (callee.k == V_FUNC) rc = call_builtin(e, &builtins[callee.id], &a, out);
        else if (callee.k == V_METHOD) rc = call_method(e, &callee, &a, out);
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
            rc = do_transpose(e, a, NULL, out);
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
        } else {
            int id = -1;
            for (int k = 0; k < NMETHODS; k++)
                if (strcmp(methods[k].name, name) == 0) { id = k; break; }
            if (id < 0) rc = everr(e, LP_ERR_TYPE, "'ndarray' object has no attribute '%s'", name);
            else {
                memset(out, 0, sizeof *out);
                out->k = V_METHOD;
                out->id = id;
                out->arr = a;
                obj.arr = NULL; /* moved */
            }
        }
    } else if (obj.k == V_MODULE) {
        bool ok;
        if (obj.id == MOD_NUMPY) {
            ok = numpy_attr(name, out);
        } else if (obj.id == MOD_LINALG) {
            char key[64];
            snprintf(key, sizeof key, "linalg.%s", name);
            int b = find_builtin(key);
            if ((ok = b >= 0)) {
                memset(out, 0, sizeof *out);
                out->k = V_FUNC;
                out->id = b;
            }
        } else {
            int b = find_builtin(name);
            ok = b >= 0 && (builtins[b].kind == B_UNIFORM || builtins[b].kind == B_NORMAL);
            if (ok) {
                memset(out, 0, sizeof *out);
                out->k = V_FUNC;
                out->id = b;
            }
        }
        if (!ok)
            rc = everr(e, LP_ERR_TYPE, "module '%s' has no attribute '%s'",
                       obj.id == MOD_NUMPY ? "numpy" : obj.id == MOD_LINALG ? "numpy.linalg" : "numpy.random", name);
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

static const char *bad_index_msg =
    "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) are valid indices";

/* One index item (already evaluated) into idx. */
static int index_item(ev *e, const value *v, lp_index *idx) {
    memset(idx, 0, sizeof *idx);
    switch (v->k) {
    case V_INT:
        idx->kind = LP_IDX_INT;
        idx->start = v->i;
        return 0;
    case V_NONE: idx->kind = LP_IDX_NEWAXIS; return 0;
    case V_ELLIPSIS: idx->kind = LP_IDX_ELLIPSIS; return 0;
    case V_ARRAY: return everr(e, LP_ERR_VALUE, "indexing with arrays is not supported");
    case V_BOOL: return everr(e, LP_ERR_VALUE, "indexing with booleans is not supported");
    default: return everr(e, LP_ERR_TYPE, "%s", bad_index_msg);
    }
}

static int slice_part(ev *e, const cli_node *n, bool *has, int64_t *out) {
    *has = false;
    if (!n) return 0;
    value v = {0};
    if (eval(e, n, &v)) return -1;
    int rc = 0;
    if (v.k == V_INT || v.k == V_BOOL) {
        *has = true;
        *out = num_i(&v);
    } else if (v.k != V_NONE) {
        rc = everr(e, LP_ERR_TYPE, "slice indices must be integers or None, got %s", tname(&v));
    }
    value_clear(&v);
    return rc;
}

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
    lp_index idx[MAX_INDEX];
    int nidx = 0;
    for (int k = 0; k < n->nitems && rc == 0; k++) {
        const cli_node *it = n->items[k];
        if (it->kind == CLI_N_SLICE) {
            if (nidx >= MAX_INDEX) { rc = everr(e, LP_ERR_VALUE, "too many indices for array"); break; }
            lp_index *x = &idx[nidx++];
            memset(x, 0, sizeof *x);
            x->kind = LP_IDX_SLICE;
            bool has_step = false; /* stays unset when start or stop fails to evaluate */
            int64_t step = 1;
            rc = slice_part(e, it->a, &x->has_start, &x->start);
            if (rc == 0) rc = slice_part(e, it->b, &x->has_stop, &x->stop);
            if (rc == 0) rc = slice_part(e, it->c, &has_step, &step);
            if (rc == 0 && has_step && step == 0) rc = everr(e, LP_ERR_VALUE, "slice step cannot be zero");
            x->step = has_step ? step : 1;
            continue;
        }
        value v = {0};
        rc = eval(e, it, &v);
        if (rc == 0) {
            if (v.k == V_TUPLE && n->nitems == 1) {
                /* a[(0, 1)] is a[0, 1] */
                for (int j = 0; j < v.n && rc == 0; j++) {
                    if (nidx >= MAX_INDEX) { rc = everr(e, LP_ERR_VALUE, "too many indices for array"); break; }
                    rc = index_item(e, &v.items[j], &idx[nidx++]);
                }
            } else if (nidx >= MAX_INDEX) {
                rc = everr(e, LP_ERR_VALUE, "too many indices for array");
            } else {
                rc = index_item(e, &v, &idx[nidx++]);
            }
        }
        value_clear(&v);
    }
    if (rc == 0) {
        lp_array *r = NULL;
        lp_status st = lp_slice(e->ctx, obj.arr, nidx, idx, &r);
        if (st != LP_OK) rc = evlib(e, st);
        else set_array(out, r);
    }
    value_clear(&obj);
    return rc;
}

/* ---- the evaluator ---- */

static int eval(ev *e, const cli_node *n, value *out) {
    memset(out, 0, sizeof *out);
    switch (n->kind) {
    case CLI_N_INT: set_int(out, n->i); return 0;
    case CLI_N_FLOAT: set_float(out, n->f); return 0;
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
