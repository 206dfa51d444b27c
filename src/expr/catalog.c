/* The function catalogue: the table (catalog.def), the parameter-spec language, binding by
 * Python's rules with Python's and NumPy's messages, argument conversion, and lp_call.
 *
 * A spec is the Python signature with a type after each name: "a:array, axis:axis=None,
 * /, *, out:none=None"; `|` gives a second keyword name ("shape|newshape:shape"), `*name`
 * collects the remaining positionals. Specs are parsed once, on first use. */
#include "expr/catalog.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const lpi_fn fns[] = {
#define LPI_FN(NAME, ALIASES, SIG, MSIG, BUILD, OP, NIN, FLAGS, DOC) \
    {{NAME, ALIASES, NULL, NULL, DOC, NIN, ((FLAGS) & 1) != 0}, SIG, MSIG, BUILD, OP},
#include "expr/catalog.def"
#undef LPI_FN
};
#define NFNS ((int)(sizeof fns / sizeof fns[0]))

/* Parsed specs and display signatures, built once. */
typedef struct parsed {
    int n, mn;
    lpi_param p[LPI_MAX_PARAMS];
    lpi_param mp[LPI_MAX_PARAMS];
    int mslot[LPI_MAX_PARAMS];   /* method param k binds function slot mslot[k] */
    lp_func pub;
    char sig[256], msig[256];
} parsed;

static parsed *table;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static bool table_ok;

static const struct { const char *name; lpi_ptype t; } type_names[] = {
    {"array", LPI_P_ARRAY}, {"operand", LPI_P_OPERAND}, {"arrays", LPI_P_ARRAYS}, {"axis", LPI_P_AXIS},
    {"int", LPI_P_INT}, {"float", LPI_P_FLOAT}, {"num", LPI_P_NUM}, {"bool", LPI_P_BOOL},
    {"dtype", LPI_P_DTYPE}, {"shape", LPI_P_SHAPE}, {"str", LPI_P_STR}, {"none", LPI_P_NONE},
    {"any", LPI_P_ANY}, {"device", LPI_P_DEVICE},
};

/* Parse a spec into params and the display text "(a, axis=None, ...)". false on a bad spec
 * (a programming error, caught by the catalogue test). */
static bool parse_spec(const char *spec, lpi_param *p, int *n, char *disp, size_t cap) {
    *n = 0;
    size_t dl = 0;
    bool kwonly = false;
    disp[0] = 0;
    const char *s = spec;
    int posonly_upto = -1;
    while (*s) {
        while (*s == ' ' || *s == ',') s++;
        if (!*s) break;
        size_t len = strcspn(s, ",");
        char item[96];
        if (len >= sizeof item) return false;
        memcpy(item, s, len);
        item[len] = 0;
        while (len && item[len - 1] == ' ') item[--len] = 0;
        s += strcspn(s, ",");
        dl += (size_t)snprintf(disp + dl, dl < cap ? cap - dl : 0, "%s", dl ? ", " : "");
        if (!strcmp(item, "*")) { kwonly = true; dl += (size_t)snprintf(disp + dl, dl < cap ? cap - dl : 0, "*"); continue; }
        if (!strcmp(item, "/")) { posonly_upto = *n; dl += (size_t)snprintf(disp + dl, dl < cap ? cap - dl : 0, "/"); continue; }
        if (*n >= LPI_MAX_PARAMS) return false;
        lpi_param *q = &p[(*n)++];
        memset(q, 0, sizeof *q);
        char *it = item;
        if (*it == '*') { q->varargs = true; it++; }
        char *colon = strchr(it, ':');
        if (!colon) return false;
        *colon = 0;
        char *type = colon + 1, *eq = strchr(type, '=');
        if (eq) *eq = 0;
        char *bar = strchr(it, '|');
        if (bar) { *bar = 0; snprintf(q->alias, sizeof q->alias, "%.23s", bar + 1); }
        snprintf(q->name, sizeof q->name, "%.23s", it);
        bool found = false;
        for (size_t k = 0; k < sizeof type_names / sizeof type_names[0]; k++)
            if (!strcmp(type_names[k].name, type)) { q->type = type_names[k].t; found = true; }
        if (!found) return false;
        q->kwonly = kwonly;
        q->required = !eq && !q->varargs;
        if (eq && strcmp(eq + 1, "None")) { q->has_default = true; snprintf(q->deflt, sizeof q->deflt, "%.23s", eq + 1); }
        dl += (size_t)snprintf(disp + dl, dl < cap ? cap - dl : 0, "%s%s%s%s", q->varargs ? "*" : "", q->name,
                               eq ? "=" : "", eq ? eq + 1 : "");
    }
    for (int k = 0; k < posonly_upto; k++) p[k].posonly = true;
    return dl < cap;
}

static void build_table(void) {
    table = calloc((size_t)NFNS, sizeof *table);
    if (!table) return;
    for (int i = 0; i < NFNS; i++) {
        parsed *t = &table[i];
        char d[256];
        t->pub = fns[i].pub;
        if (!parse_spec(fns[i].params, t->p, &t->n, d, sizeof d)) return;
        const char *base = strrchr(fns[i].pub.name, '.');
        base = base ? base + 1 : fns[i].pub.name;
        snprintf(t->sig, sizeof t->sig, "%.40s(%.200s)", base, d);
        t->pub.signature = t->sig;
        if (fns[i].mparams) {
            if (!parse_spec(fns[i].mparams, t->mp, &t->mn, d, sizeof d)) return;
            snprintf(t->msig, sizeof t->msig, "%.40s(%.200s)", base, d);
            t->pub.method = t->msig;
            for (int k = 0; k < t->mn; k++) {
                t->mslot[k] = -1;
                for (int j = 1; j < t->n; j++)
                    if (!strcmp(t->p[j].name, t->mp[k].name)) t->mslot[k] = j;
                if (t->mslot[k] < 0) return;
            }
        }
    }
    table_ok = true;
}

static bool ready(void) {
    pthread_once(&table_once, build_table);
    return table_ok;
}

int lp_func_count(void) { return ready() ? NFNS : 0; }

const lp_func *lp_func_at(int i) {
    if (!ready() || i < 0 || i >= NFNS) return NULL;
    return &table[i].pub;
}

static bool alias_match(const char *aliases, const char *name) {
    size_t n = strlen(name);
    for (const char *a = aliases; a && *a;) {
        size_t l = strcspn(a, " ");
        if (l == n && !strncmp(a, name, n)) return true;
        a += l;
        while (*a == ' ') a++;
    }
    return false;
}

static int find(const char *name) {
    if (!name || !ready()) return -1;
    for (int i = 0; i < NFNS; i++)
        if (!strcmp(fns[i].pub.name, name)) return i;
    for (int i = 0; i < NFNS; i++)
        if (alias_match(fns[i].pub.aliases, name)) return i;
    return -1;
}

const lp_func *lp_func_find(const char *name) {
    int i = find(name);
    return i < 0 ? NULL : &table[i].pub;
}

bool lp_method_exists(const char *name) {
    int i = find(name);
    return i >= 0 && fns[i].mparams != NULL;
}

/* ---- values ---- */

void lp_value_clear(lp_value *v) {
    if (!v) return;
    lp_array_release(v->array);
    for (int k = 0; k < v->n; k++) lp_value_clear(&v->items[k]);
    lp_free(v->items);
    *v = lp_value_none();
}

const char *lpi_value_type(const lp_value *v) {
    switch (v->kind) {
    case LP_VAL_NONE: return "NoneType";
    case LP_VAL_BOOL: return "bool";
    case LP_VAL_INT: return "int";
    case LP_VAL_FLOAT: return "float";
    case LP_VAL_COMPLEX: return "complex";
    case LP_VAL_STR: return "str";
    case LP_VAL_DTYPE: return "type";
    case LP_VAL_ARRAY: return "ndarray";
    case LP_VAL_TUPLE: return "tuple";
    case LP_VAL_LIST: return "list";
    case LP_VAL_SLICE: return "slice";
    case LP_VAL_ELLIPSIS: return "ellipsis";
    default: return "object";
    }
}

static bool is_num(const lp_value *v) { return v->kind == LP_VAL_BOOL || v->kind == LP_VAL_INT || v->kind == LP_VAL_FLOAT; }
static bool is_seq(const lp_value *v) { return v->kind == LP_VAL_TUPLE || v->kind == LP_VAL_LIST; }
static double num_f(const lp_value *v) {
    return v->kind == LP_VAL_FLOAT || v->kind == LP_VAL_COMPLEX ? v->f : v->kind == LP_VAL_INT ? (double)v->i : (double)v->b;
}
static int64_t num_i(const lp_value *v) { return v->kind == LP_VAL_INT ? v->i : (int64_t)v->b; }

#define MAX_LITERAL_ELEMS (1 << 24)

/* The shape of a nest of sequences, read along the first elements (checked by nest_check). */
static lp_status nest_probe(lp_ctx *ctx, const lp_value *v, int *ndim, int64_t *shape) {
    int nd = 0;
    while (is_seq(v)) {
        if (nd >= LP_MAX_NDIM) return lpi_error(ctx, LP_ERR_VALUE, "sequence nested deeper than %d levels", LP_MAX_NDIM);
        shape[nd++] = v->n;
        if (v->n == 0) break;
        v = &v->items[0];
    }
    *ndim = nd;
    return LP_OK;
}

/* Rectangular with numbers at the leaves; kind: bool 0 < int 1 < float 2 < complex 3. */
static lp_status nest_check(lp_ctx *ctx, const lp_value *v, int depth, int ndim, const int64_t *shape, int *kind) {
    if (depth == ndim) {
        if (is_num(v) || v->kind == LP_VAL_COMPLEX) {
            int k = v->kind == LP_VAL_BOOL ? 0 : v->kind == LP_VAL_INT ? 1 : v->kind == LP_VAL_FLOAT ? 2 : 3;
            if (k > *kind) *kind = k;
            return LP_OK;
        }
        if (!is_seq(v))
            return lpi_error(ctx, LP_ERR_TYPE, "cannot make an array from a sequence holding a %s", lpi_value_type(v));
    } else if (is_seq(v) && v->n == shape[depth]) {
        for (int k = 0; k < v->n; k++) {
            lp_status st = nest_check(ctx, &v->items[k], depth + 1, ndim, shape, kind);
            if (st) return st;
        }
        return LP_OK;
    } else if (!is_seq(v) && !is_num(v) && v->kind != LP_VAL_COMPLEX) {
        return lpi_error(ctx, LP_ERR_TYPE, "cannot make an array from a sequence holding a %s", lpi_value_type(v));
    }
    return lpi_error(ctx, LP_ERR_VALUE, "setting an array element with a sequence. The requested array has an "
                     "inhomogeneous shape after %d dimensions.", depth);
}

static void nest_fill(const lp_value *v, lp_dtype dt, char **p) {
    if (is_seq(v)) {
        for (int k = 0; k < v->n; k++) nest_fill(&v->items[k], dt, p);
        return;
    }
    if (dt == LP_COMPLEX128) {
        double d[2] = {num_f(v), v->kind == LP_VAL_COMPLEX ? v->im : 0};
        memcpy(*p, d, 16);
        *p += 16;
    } else if (dt == LP_FLOAT64) { double d = num_f(v); memcpy(*p, &d, 8); *p += 8; }
    else if (dt == LP_INT64) { int64_t i = num_i(v); memcpy(*p, &i, 8); *p += 8; }
    else { **p = (char)(v->b ? 1 : 0); *p += 1; }
}

lp_status lpi_value_to_array(lp_ctx *ctx, const lp_value *v, bool weak, const char *fname, lp_array **out) {
    *out = NULL;
    switch (v->kind) {
    case LP_VAL_ARRAY:
        if (!v->array) return lpi_error(ctx, LP_ERR_VALUE, "%s(): NULL array", fname);
        lp_array_retain(v->array);
        *out = v->array;
        return LP_OK;
    case LP_VAL_BOOL: case LP_VAL_INT: case LP_VAL_FLOAT: case LP_VAL_COMPLEX: {
        lp_scalar s = v->kind == LP_VAL_BOOL ? lp_scalar_b(v->b) : v->kind == LP_VAL_INT ? lp_scalar_i(v->i)
                    : v->kind == LP_VAL_COMPLEX ? lp_scalar_c(v->f, v->im) : lp_scalar_f(v->f);
        return weak ? lp_scalar_array(ctx, s, out) : lp_full(ctx, s.dtype, 0, NULL, s, out);
    }
    case LP_VAL_TUPLE: case LP_VAL_LIST: {
        /* a sequence holding arrays: NumPy stacks them (they must have one shape) */
        bool arrays = false;
        for (int k = 0; k < v->n; k++) arrays |= v->items[k].kind == LP_VAL_ARRAY;
        if (arrays) {
            if (v->n > 4096) return lpi_error(ctx, LP_ERR_LIMIT, "%s(): too many arrays in a sequence", fname);
            lp_array **parts = lp_calloc((size_t)v->n, sizeof *parts);
            if (!parts) return lpi_nomem(ctx);
            lp_status st = LP_OK;
            for (int k = 0; k < v->n && !st; k++) st = lpi_value_to_array(ctx, &v->items[k], false, fname, &parts[k]);
            if (!st) {
                for (int k = 1; k < v->n && !st; k++)
                    if (parts[k]->ndim != parts[0]->ndim || memcmp(parts[k]->shape, parts[0]->shape, (size_t)parts[0]->ndim * sizeof(int64_t)))
                        st = lpi_error(ctx, LP_ERR_VALUE, "setting an array element with a sequence. The requested array has an "
                                       "inhomogeneous shape after 1 dimensions.");
                if (!st) st = lp_stack(ctx, v->n, parts, 0, out);
            }
            for (int k = 0; k < v->n; k++) lp_array_release(parts[k]);
            lp_free(parts);
            return st;
        }
        int ndim = 0, kind = -1;
        int64_t shape[LP_MAX_NDIM], n = 1;
        lp_status st;
        if ((st = nest_probe(ctx, v, &ndim, shape)) || (st = nest_check(ctx, v, 0, ndim, shape, &kind))) return st;
        for (int k = 0; k < ndim; k++) n *= shape[k];
        if (n > MAX_LITERAL_ELEMS) return lpi_error(ctx, LP_ERR_LIMIT, "%s(): sequence literal too large", fname);
        lp_dtype dt = kind == 0 ? LP_BOOL : kind == 1 ? LP_INT64 : kind == 3 ? LP_COMPLEX128 : LP_FLOAT64; /* np.array([]) is float64 */
        lp_buffer *buf = lpi_buffer_new(dt, ndim, shape);
        if (!buf) return lpi_nomem(ctx);
        char *p = buf->data;
        nest_fill(v, dt, &p);
        st = lp_from_buffer(ctx, buf, out);
        lp_buffer_release(buf);
        return st;
    }
    default:
        return lpi_error(ctx, LP_ERR_TYPE, "%s(): expected an array-like, got %s", fname, lpi_value_type(v));
    }
}

/* ---- conversion of one argument ---- */

/* A 0-d array whose value is known without running anything (a Python or NumPy scalar the
 * front end passed as an array, a full(), a computed result) stands for that number. */
static bool known_number(const lp_value *v, lp_value *num) {
    if (v->kind != LP_VAL_ARRAY || !v->array || v->array->ndim != 0) return false;
    const lp_array *a = v->array;
    if (lpi_dtype_is_complex(a->dtype)) return false; /* no real number */
    const void *p = NULL;
    lp_buffer *res = lp_array_result(a);
    if (a->op == LPI_OP_SCALAR || a->op == LPI_OP_FULL) {
        lp_scalar s = a->a.value;
        lpi_kind k = lpi_dtype_kind(a->dtype);
        if (k == LPI_KIND_BOOL) *num = lp_value_bool(s.dtype == LP_BOOL ? s.v.b : s.dtype == LP_INT64 ? s.v.i != 0 : s.v.f != 0);
        else if (k == LPI_KIND_INT) *num = lp_value_int(s.dtype == LP_FLOAT64 ? (int64_t)s.v.f : s.dtype == LP_BOOL ? s.v.b : s.v.i);
        else *num = lp_value_float(s.dtype == LP_FLOAT64 ? s.v.f : s.dtype == LP_BOOL ? s.v.b : (double)s.v.i);
        return true;
    }
    if (res) p = res->data;
    else if (a->op == LPI_OP_WRAP && a->a.buf) p = (const char *)a->a.buf->data + a->a.offset;
    if (!p) return false;
    switch (lpi_dtype_kind(a->dtype)) {
    case LPI_KIND_BOOL: *num = lp_value_bool(*(const uint8_t *)p != 0); return true;
    case LPI_KIND_INT:
        /* a uint64 past INT64_MAX is no Python-sized number Lampy's values hold */
        if (a->dtype == LP_UINT64 && lpi_load_i64(p, a->dtype) < 0) return false;
        *num = lp_value_int(lpi_load_i64(p, a->dtype));
        return true;
    default: *num = lp_value_float(lpi_load_f64(p, a->dtype)); return true;
    }
}

static lp_status int_of(lpi_call *c, const lp_value *v, const char *pname, int64_t *out) {
    lp_value num;
    if (known_number(v, &num) && num.kind != LP_VAL_FLOAT) v = &num;
    if (v->kind == LP_VAL_INT || v->kind == LP_VAL_BOOL) { *out = num_i(v); return LP_OK; }
    return lpi_error(c->ctx, LP_ERR_TYPE, "%s(): '%s' object cannot be interpreted as an integer (argument '%s')",
                     c->fname, lpi_value_type(v), pname);
}

static lp_status axis_of(lpi_call *c, const lp_value *v, lpi_arg *a) {
    a->naxes = 0;
    if (v->kind == LP_VAL_NONE) { a->naxes = -1; return LP_OK; }
    if (is_seq(v)) {
        if (v->n > LP_MAX_NDIM) return lpi_error(c->ctx, LP_ERR_VALUE, "%s(): too many axes", c->fname);
        for (int k = 0; k < v->n; k++) {
            int64_t x;
            if (int_of(c, &v->items[k], "axis", &x)) return lpi_error(c->ctx, LP_ERR_TYPE,
                "'%s' object cannot be interpreted as an integer", lpi_value_type(&v->items[k]));
            a->axes[k] = x < INT_MIN / 2 ? INT_MIN / 2 : x > INT_MAX / 2 ? INT_MAX / 2 : (int)x;
        }
        a->naxes = v->n;
        a->axis_tuple = true;
        return LP_OK;
    }
    int64_t x;
    if (int_of(c, v, "axis", &x) == LP_OK) {
        a->axes[0] = x < INT_MIN / 2 ? INT_MIN / 2 : x > INT_MAX / 2 ? INT_MAX / 2 : (int)x;
        a->naxes = 1;
        return LP_OK;
    }
    return lpi_error(c->ctx, LP_ERR_TYPE, "'%s' object cannot be interpreted as an integer", lpi_value_type(v));
}

static lp_status shape_of(lpi_call *c, const lp_value *v, lpi_arg *a) {
    if (v->kind != LP_VAL_BOOL && int_of(c, v, "shape", &a->shape[0]) == LP_OK) { a->ndim = 1; return LP_OK; }
    if (is_seq(v)) {
        if (v->n > LP_MAX_NDIM)
            return lpi_error(c->ctx, LP_ERR_VALUE, "maximum supported dimension for an ndarray is %d, found %d",
                             LP_MAX_NDIM, v->n);
        for (int k = 0; k < v->n; k++)
            if (v->items[k].kind == LP_VAL_BOOL || int_of(c, &v->items[k], "shape", &a->shape[k]))
                return lpi_error(c->ctx, LP_ERR_TYPE, "'%s' object cannot be interpreted as an integer",
                                 lpi_value_type(&v->items[k]));
        a->ndim = v->n;
        return LP_OK;
    }
    return lpi_error(c->ctx, LP_ERR_TYPE, "'%s' object cannot be interpreted as an integer", lpi_value_type(v));
}

static lp_status dtype_of(lpi_call *c, const lp_value *v, lp_dtype *out) {
    if (v->kind == LP_VAL_DTYPE) {
        if ((unsigned)v->dtype >= LP_DTYPE_COUNT) return lpi_error(c->ctx, LP_ERR_TYPE, "invalid dtype code %d", (int)v->dtype);
        *out = v->dtype;
        return LP_OK;
    }
    if (v->kind == LP_VAL_STR && v->s) {
        const char *s = v->s;
        if (*s == '<' || *s == '=' || *s == '|') s++;
        if (lp_dtype_from_name(s, out)) return LP_OK;
        return lpi_error(c->ctx, LP_ERR_TYPE, "data type '%s' not understood (Lampy supports bool, int32, int64, "
                         "float32, float64)", v->s);
    }
    return lpi_error(c->ctx, LP_ERR_TYPE, "%s(): cannot interpret '%s' as a data type", c->fname, lpi_value_type(v));
}

static lp_status convert(lpi_call *c, const lpi_param *p, const lp_value *v, lpi_arg *a) {
    lp_ctx *ctx = c->ctx;
    a->v = v;
    a->given = v->kind != LP_VAL_NONE;
    if (p->type == LPI_P_AXIS) return axis_of(c, v, a);
    if (!a->given) {
        if (p->has_default && (p->type == LPI_P_INT || p->type == LPI_P_BOOL || p->type == LPI_P_FLOAT || p->type == LPI_P_NUM))
            return lpi_error(ctx, LP_ERR_TYPE, "%s(): '%s' must not be None", c->fname, p->name);
        return LP_OK;
    }
    lp_value num;
    if ((p->type == LPI_P_FLOAT || p->type == LPI_P_NUM || p->type == LPI_P_BOOL) && known_number(v, &num)) {
        lp_status st = convert(c, p, &num, a);
        a->v = v; /* the array itself: its dtype may matter (a NumPy scalar's) */
        return st;
    }
    switch (p->type) {
    case LPI_P_ARRAY: case LPI_P_OPERAND:
        if (!is_num(v) && !is_seq(v) && v->kind != LP_VAL_ARRAY && v->kind != LP_VAL_COMPLEX)
            return lpi_error(ctx, LP_ERR_TYPE, "%s(): '%s' must be an array or a number, got %s", c->fname, p->name,
                             lpi_value_type(v));
        return lpi_value_to_array(ctx, v, p->type == LPI_P_OPERAND, c->fname, &a->a);
    case LPI_P_ARRAYS: {
        if (!is_seq(v))
            return lpi_error(ctx, LP_ERR_TYPE, "%s(): expected a sequence of arrays, got %s", c->fname, lpi_value_type(v));
        a->as = lp_calloc((size_t)(v->n ? v->n : 1), sizeof *a->as);
        if (!a->as) return lpi_nomem(ctx);
        a->n = v->n;
        for (int k = 0; k < v->n; k++) {
            const lp_value *e = &v->items[k];
            if (!is_num(e) && !is_seq(e) && e->kind != LP_VAL_ARRAY && e->kind != LP_VAL_COMPLEX)
                return lpi_error(ctx, LP_ERR_TYPE, "%s(): expected arrays, got %s", c->fname, lpi_value_type(e));
            lp_status st = lpi_value_to_array(ctx, e, false, c->fname, &a->as[k]);
            if (st) return st;
        }
        return LP_OK;
    }
    case LPI_P_INT: return int_of(c, v, p->name, &a->i);
    case LPI_P_FLOAT: case LPI_P_NUM:
        if (p->type == LPI_P_NUM && v->kind == LP_VAL_COMPLEX) { /* full(..., 1+2j) */
            a->f = v->f;
            a->i = 0;
            a->is_float = true;
            a->scalar = lp_scalar_c(v->f, v->im);
            return LP_OK;
        }
        if (!is_num(v))
            return lpi_error(ctx, LP_ERR_TYPE, "%s(): '%s' must be a real number, not %s", c->fname, p->name, lpi_value_type(v));
        a->f = num_f(v);
        a->i = num_i(v);
        a->is_float = v->kind == LP_VAL_FLOAT;
        a->scalar = v->kind == LP_VAL_BOOL ? lp_scalar_b(v->b) : v->kind == LP_VAL_INT ? lp_scalar_i(v->i) : lp_scalar_f(v->f);
        return LP_OK;
    case LPI_P_BOOL:
        if (v->kind != LP_VAL_BOOL && v->kind != LP_VAL_INT)
            return lpi_error(ctx, LP_ERR_TYPE, "%s(): '%s' must be True or False, got %s", c->fname, p->name, lpi_value_type(v));
        a->b = num_i(v) != 0;
        return LP_OK;
    case LPI_P_DTYPE: return dtype_of(c, v, &a->dt);
    case LPI_P_SHAPE: return shape_of(c, v, a);
    case LPI_P_STR:
        if (v->kind != LP_VAL_STR) return lpi_error(ctx, LP_ERR_TYPE, "%s(): '%s' must be a string, got %s", c->fname, p->name, lpi_value_type(v));
        a->s = v->s;
        return LP_OK;
    case LPI_P_NONE:
        return lpi_error(ctx, LP_ERR_TYPE, "%s(): %s= is not supported by lazy arrays", c->fname, p->name);
    case LPI_P_ANY: return LP_OK;
    case LPI_P_DEVICE:
        if (v->kind != LP_VAL_STR || strcmp(v->s, "cpu"))
            return lpi_error(ctx, LP_ERR_VALUE, "%s(): unsupported device %s%s%s (lampy's only device is 'cpu')", c->fname,
                             v->kind == LP_VAL_STR ? "'" : "", v->kind == LP_VAL_STR ? v->s : lpi_value_type(v),
                             v->kind == LP_VAL_STR ? "'" : "");
        return LP_OK;
    default: return lpi_error(ctx, LP_ERR_INTERNAL, "bad parameter type");
    }
}

/* A default given in the spec ("0", "True", "'C'", "1.0"). */
static lp_status default_of(lpi_call *c, const lpi_param *p, lpi_arg *a) {
    if (!p->has_default) {
        a->v = NULL;
        if (p->type == LPI_P_AXIS) a->naxes = -1;
        return LP_OK;
    }
    const char *d = p->deflt;
    a->given = false; /* "not passed"; the value below is the default */
    if (!strcmp(d, "True") || !strcmp(d, "False")) { a->b = d[0] == 'T'; a->i = a->b; return LP_OK; }
    if (d[0] == '\'') { a->s = d; return LP_OK; } /* builders compare against their own literal */
    char *end;
    double f = strtod(d, &end);
    if (*end) return lpi_error(c->ctx, LP_ERR_INTERNAL, "%s(): bad default '%s'", c->fname, d);
    a->f = f;
    a->i = (int64_t)f;
    a->is_float = strchr(d, '.') || strchr(d, 'e') || strchr(d, 'n');
    a->scalar = a->is_float ? lp_scalar_f(f) : lp_scalar_i(a->i);
    if (p->type == LPI_P_AXIS) { a->naxes = 1; a->axes[0] = (int)a->i; }
    return LP_OK;
}

static void call_clear(lpi_call *c) {
    for (int k = 0; k < c->nparams; k++) {
        lpi_arg *a = &c->arg[k];
        lp_array_release(a->a);
        for (int j = 0; j < a->n; j++) lp_array_release(a->as[j]);
        lp_free(a->as);
    }
}

lpi_arg *lpi_call_arg(lpi_call *c, const char *name) {
    const parsed *t = &table[c->fn - fns];
    for (int k = 0; k < t->n; k++)
        if (!strcmp(t->p[k].name, name)) return &c->arg[k];
    return NULL;
}

/* Bind by Python's rules: positionals fill parameters in order (a *varargs parameter takes the
 * rest), keywords by name or alias; then convert. Messages are CPython's. */
static lp_status bind(lpi_call *c, const lpi_param *P, int np, const int *slot, int skip, int npos, const lp_value *pos,
                      int nkw, const char *const *kwn, const lp_value *kw, lp_value *tmp_tuple) {
    lp_ctx *ctx = c->ctx;
    const lp_value *given[LPI_MAX_PARAMS] = {0};
    int npos_params = 0;
    int vararg = -1;
    for (int k = 0; k < np; k++) {
        if (P[k].varargs) { vararg = k; break; }
        if (P[k].kwonly) break;
        npos_params++;
    }
    int take = npos;
    if (vararg >= 0) {
        /* reshape(2, 3) and reshape((2, 3)): one sequence (or None) is the whole argument */
        int rest = npos - vararg;
        if (rest < 0) rest = 0;
        take = npos < vararg ? npos : vararg;
        /* (not for arrays: einsum("i", [1, 2]) has one operand, a list) */
        if (rest == 1 && P[vararg].type != LPI_P_ARRAYS && (is_seq(&pos[vararg]) || pos[vararg].kind == LP_VAL_NONE))
            given[vararg] = &pos[vararg];
        else if (rest > 0) {
            *tmp_tuple = lp_value_tuple((lp_value *)(pos + vararg), rest);
            given[vararg] = tmp_tuple;
        }
    } else if (npos > npos_params) {
        if (npos_params == 0)
            return lpi_error(ctx, LP_ERR_TYPE, "%s() takes no positional arguments (%d given)", c->fname, npos);
        return lpi_error(ctx, LP_ERR_TYPE, "%s() takes at most %d positional argument%s (%d given)", c->fname,
                         npos_params, npos_params == 1 ? "" : "s", npos);
    }
    for (int k = 0; k < take; k++) given[k] = &pos[k];
    for (int j = 0; j < nkw; j++) {
        int found = -1;
        for (int k = 0; k < np && found < 0; k++)
            if (!P[k].varargs && !P[k].posonly && (!strcmp(P[k].name, kwn[j]) || (P[k].alias[0] && !strcmp(P[k].alias, kwn[j]))))
                found = k;
        if (found < 0 && vararg >= 0 && !strcmp(P[vararg].name, kwn[j]) && !given[vararg]) found = vararg;
        if (found < 0)
            return lpi_error(ctx, LP_ERR_TYPE, "%s() got an unexpected keyword argument '%s'", c->fname, kwn[j]);
        if (given[found])
            return lpi_error(ctx, LP_ERR_TYPE, "%s() got multiple values for argument '%s'", c->fname, P[found].name);
        given[found] = &kw[j];
    }
    for (int k = 0; k < np; k++)
        if (P[k].required && !given[k])
            return lpi_error(ctx, LP_ERR_TYPE, "%s() missing required argument '%s' (pos %d)", c->fname, P[k].name,
                             k + 1 + skip);
    for (int k = 0; k < np; k++) {
        lpi_arg *a = &c->arg[slot ? slot[k] : k];
        lp_status st = given[k] ? convert(c, &P[k], given[k], a) : default_of(c, &P[k], a);
        if (st) return st;
    }
    return LP_OK;
}

static lp_status call(lp_ctx *ctx, const char *name, lp_array *self, int npos, const lp_value *pos, int nkw,
                      const char *const *kwn, const lp_value *kw, lp_value *out) {
    *out = lp_value_none();
    int i = find(name);
    if (i < 0 || (self && !fns[i].mparams)) {
        if (!ready()) return lpi_error(ctx, LP_ERR_INTERNAL, "the function catalogue is malformed");
        if (self) return lpi_error(ctx, LP_ERR_TYPE, "'ndarray' object has no attribute '%s'", name ? name : "");
        return lpi_error(ctx, LP_ERR_NOTFOUND, "no function named '%s'", name ? name : "(null)");
    }
    if (npos < 0 || nkw < 0 || (npos && !pos) || (nkw && (!kw || !kwn)))
        return lpi_error(ctx, LP_ERR_VALUE, "%s(): invalid argument list", name);
    for (int j = 0; j < nkw; j++)
        if (!kwn[j]) return lpi_error(ctx, LP_ERR_VALUE, "%s(): NULL keyword name", name);
    const parsed *t = &table[i];
    lpi_call c;
    memset(&c, 0, sizeof c);
    c.ctx = ctx;
    c.fn = &fns[i];
    c.fname = strrchr(name, '.') ? strrchr(name, '.') + 1 : name;
    c.method = self != NULL;
    c.nparams = t->n;
    for (int k = 0; k < t->n; k++) {
        c.arg[k].naxes = -1;
        if (!t->p[k].varargs && !t->p[k].required) default_of(&c, &t->p[k], &c.arg[k]);
    }
    lp_value tmp = lp_value_none(), selfv = lp_value_none();
    lp_status st;
    if (self) {
        selfv = lp_value_array(self);
        if ((st = convert(&c, &t->p[0], &selfv, &c.arg[0])) == LP_OK)
            st = bind(&c, t->mp, t->mn, t->mslot, 0, npos, pos, nkw, kwn, kw, &tmp);
    } else {
        st = bind(&c, t->p, t->n, NULL, 0, npos, pos, nkw, kwn, kw, &tmp);
    }
    if (!st) st = c.fn->build(&c, out);
    call_clear(&c);
    if (st) lp_value_clear(out);
    return st;
}

lp_status lp_call(lp_ctx *ctx, const char *name, int npos, const lp_value *pos, int nkw, const char *const *kwnames,
                  const lp_value *kw, lp_value *out) {
    return call(ctx, name, NULL, npos, pos, nkw, kwnames, kw, out);
}

lp_status lp_call_method(lp_ctx *ctx, const char *name, lp_array *self, int npos, const lp_value *pos, int nkw,
                         const char *const *kwnames, const lp_value *kw, lp_value *out) {
    if (!self) {
        *out = lp_value_none();
        return lpi_error(ctx, LP_ERR_VALUE, "%s(): NULL self", name ? name : "");
    }
    return call(ctx, name, self, npos, pos, nkw, kwnames, kw, out);
}

/* ---- builder helpers ---- */

lp_status lpi_call_array(lp_ctx *ctx, const char *name, int npos, const lp_value *pos, int nkw, const char *const *kwn,
                         const lp_value *kw, lp_array **out) {
    lp_value r = lp_value_none();
    lp_status st = lp_call(ctx, name, npos, pos, nkw, kwn, kw, &r);
    if (st) return st;
    if (r.kind != LP_VAL_ARRAY) {
        lp_value_clear(&r);
        return lpi_error(ctx, LP_ERR_INTERNAL, "%s(): expected one array", name);
    }
    *out = r.array;
    return LP_OK;
}

lp_status lpi_out_array(lpi_call *c, lp_status st, lp_array **ap, lp_value *out) {
    lp_array *a = *ap;
    if (st) { lp_array_release(a); return st; }
    if (!a) return lpi_error(c->ctx, LP_ERR_INTERNAL, "%s(): no result", c->fname);
    *out = lp_value_array(a);
    return LP_OK;
}

/* Steals arrs[0..n) (also on failure); arrs itself is the caller's. */
lp_status lpi_out_list(lpi_call *c, lp_value_kind kind, lp_array **arrs, int n, lp_value *out) {
    lp_value *items = lp_calloc((size_t)(n ? n : 1), sizeof *items);
    if (!items) {
        for (int k = 0; k < n; k++) lp_array_release(arrs[k]);
        return lpi_nomem(c->ctx);
    }
    for (int k = 0; k < n; k++) items[k] = lp_value_array(arrs[k]);
    *out = lp_value_tuple(items, n);
    out->kind = kind;
    return LP_OK;
}

lp_array *lpi_keep(lpi_tmps *t, lp_array *a) {
    if (!a) return NULL;
    /* builders use far fewer; past the end the node is kept alive (leaked), never freed early */
    if (t->n < (int)(sizeof t->a / sizeof t->a[0])) t->a[t->n++] = a;
    return a;
}

void lpi_drop(lpi_tmps *t) {
    for (int k = 0; k < t->n; k++) lp_array_release(t->a[k]);
    t->n = 0;
}

lp_status lpi_give(lpi_call *c, lpi_tmps *t, lp_status st, lp_array **rp, lp_value *out) {
    lp_array *r = *rp;
    if (!st) lp_array_retain(r);
    lpi_drop(t);
    if (st) return st;
    return lpi_out_array(c, LP_OK, &r, out);
}
