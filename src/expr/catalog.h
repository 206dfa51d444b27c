/* The function catalogue (lp_call): one table of NumPy-style functions (catalog.def) with
 * their parameters, bound by Python's rules and converted before a builder runs. Builders live
 * beside the ops they build (fn_*.c) and see only converted arguments. */
#ifndef LP_EXPR_CATALOG_H
#define LP_EXPR_CATALOG_H

#include "expr/expr.h"

#define LPI_MAX_PARAMS 12

/* Parameter types of the spec language (see catalog.def). */
typedef enum lpi_ptype {
    LPI_P_ARRAY,    /* array-like: arrays, numbers (0-d arrays), nested tuples of numbers */
    LPI_P_OPERAND,  /* array-like whose Python numbers stay weak scalars (ufunc operands) */
    LPI_P_ARRAYS,   /* a sequence of array-likes */
    LPI_P_AXIS,     /* None, an int or a tuple of ints */
    LPI_P_INT,
    LPI_P_FLOAT,    /* a real number (int or float) */
    LPI_P_NUM,      /* int or float, kept as given (scalar kind matters: fill values, bounds) */
    LPI_P_BOOL,
    LPI_P_DTYPE,    /* a dtype or its name */
    LPI_P_SHAPE,    /* an int or a tuple of ints */
    LPI_P_STR,
    LPI_P_NONE,     /* only None is accepted (NumPy's out=) */
    LPI_P_ANY,      /* passed through unconverted */
    LPI_P_DEVICE,   /* the array API's device=: None or "cpu" (the machine running the plan) */
} lpi_ptype;

typedef struct lpi_param {
    char name[24];
    char alias[24];     /* second keyword name ("" if none) */
    lpi_ptype type;
    bool required;
    bool varargs;       /* *name: the remaining positionals */
    bool kwonly;
    bool posonly;
    bool has_default;   /* a non-None default, parsed into the arg */
    char deflt[24];
} lpi_param;

/* A bound, converted argument. `given` is false for a parameter not passed or passed None. */
typedef struct lpi_arg {
    bool given;
    const lp_value *v;           /* as passed (NULL if not passed) */
    lp_array *a;                 /* ARRAY, OPERAND (owned) */
    lp_array **as;               /* ARRAYS (owned) */
    int n;                       /* ARRAYS: count */
    int64_t i;                   /* INT (and BOOL as 0/1) */
    double f;                    /* FLOAT, NUM */
    bool b;                      /* BOOL */
    bool is_float;               /* NUM: given as a float */
    lp_scalar scalar;            /* NUM: the value as a weak-kind scalar */
    lp_dtype dt;                 /* DTYPE */
    int axes[LP_MAX_NDIM];       /* AXIS */
    int naxes;                   /* AXIS: -1 = None (all) */
    bool axis_tuple;             /* AXIS: given as a tuple */
    int64_t shape[LP_MAX_NDIM];  /* SHAPE */
    int ndim;
    const char *s;               /* STR */
} lpi_arg;

struct lpi_fn;

typedef struct lpi_call {
    lp_ctx *ctx;
    const struct lpi_fn *fn;
    const char *fname;           /* the name called (an alias keeps its own name in messages) */
    bool method;
    int nparams;
    lpi_arg arg[LPI_MAX_PARAMS];
} lpi_call;

typedef lp_status (*lpi_fn_build)(lpi_call *c, lp_value *out);

typedef struct lpi_fn {
    lp_func pub;                 /* name, aliases, signature, method, doc, ufunc_nin, creates */
    const char *params;          /* spec of the function form */
    const char *mparams;         /* spec of the method form (self implied), or NULL */
    lpi_fn_build build;
    const char *op;              /* the op a family builder builds (ufuncs, reductions, ...) */
} lpi_fn;

/* Arguments by parameter name of the function form (the method form maps by name too). */
lpi_arg *lpi_call_arg(lpi_call *c, const char *name);
/* Helpers for builders. */
/* The result *a (a new reference; released when st is a failure) as an array value. Takes a
 * pointer so that `lpi_out_array(c, lp_x(..., &r), &r, out)` reads r after lp_x ran. */
lp_status lpi_out_array(lpi_call *c, lp_status st, lp_array **a, lp_value *out);
lp_status lpi_out_list(lpi_call *c, lp_value_kind kind, lp_array **arrs, int n, lp_value *out);
/* name(pos..., kw...) through the catalogue when the result must be one array (*out: a new
 * reference); anything else is an internal error naming the function. */
lp_status lpi_call_array(lp_ctx *ctx, const char *name, int npos, const lp_value *pos, int nkw, const char *const *kwn,
                         const lp_value *kw, lp_array **out);
/* Intermediate nodes of a composed builder: kept here, released in one go (lpi_give: the
 * result gets its own reference first). */
typedef struct lpi_tmps {
    lp_array *a[256];
    int n;
} lpi_tmps;
lp_array *lpi_keep(lpi_tmps *t, lp_array *a);
void lpi_drop(lpi_tmps *t);
/* *rp as the result (a new reference), then the temporaries go. A pointer, so that *rp is read
 * after the step computing st ran. */
lp_status lpi_give(lpi_call *c, lpi_tmps *t, lp_status st, lp_array **rp, lp_value *out);

/* var/std's ddof, or the array API's correction= (the same real number >= 0; ValueError for
 * both at once, as NumPy). */
lp_status lpi_ddof_arg(lpi_call *c, double *ddof);

/* A tuple/list value of numbers as a new array (NumPy's np.asarray of a nested sequence). */
lp_status lpi_value_to_array(lp_ctx *ctx, const lp_value *v, bool weak, const char *fname, lp_array **out);
/* Python's type name of a value ("int", "tuple", "ndarray", ...). */
const char *lpi_value_type(const lp_value *v);

/* Builders (fn_*.c), referenced by catalog.def. */
#define LPI_BUILDER(name) lp_status name(lpi_call *c, lp_value *out);
#define LPI_FN(NAME, ALIASES, SIG, MSIG, BUILD, OP, NIN, FLAGS, DOC) LPI_BUILDER(BUILD)
#include "expr/catalog.def"
#undef LPI_FN
#undef LPI_BUILDER

#endif
