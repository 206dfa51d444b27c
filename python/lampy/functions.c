/* Module-level functions: creation (zeros ones full arange linspace eye, *_like), asarray,
 * load/save, elementwise functions (exp, maximum, where, ...), reductions, concatenate and
 * stack, reshape/transpose/astype/rechunk. NumPy's signatures and dtype inference. */
#include "lampy_py.h"

#include <math.h>
#include <string.h>

#define KW (PyCFunction)(void (*)(void))

static PyObject *wrap_status(lp_status st, lp_array *out) {
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    return lpy_array_new(out);
}

/* `chunks=` on a fresh handle (ours alone): set it in place. Steals `a`. */
static PyObject *fresh_with_chunks(lp_array *a, PyObject *chunks) {
    if (chunks && chunks != Py_None && lpy_set_chunks(a, chunks) < 0) {
        lp_array_release(a);
        return NULL;
    }
    return lpy_array_new(a);
}

static int parse_dtype_opt(PyObject *o, lp_dtype dflt, lp_dtype *out) {
    if (o == NULL || o == Py_None) {
        *out = dflt;
        return 0;
    }
    return lpy_parse_dtype(o, out);
}

/* ---- reductions ------------------------------------------------------------------- */

PyObject *lpy_reduce_impl(lp_array *a, const char *op, PyObject *args, PyObject *kwargs) {
    static char *kw_sum[] = {"axis", "dtype", "out", "keepdims", NULL};
    static char *kw_var[] = {"axis", "dtype", "out", "ddof", "keepdims", NULL};
    static char *kw_min[] = {"axis", "out", "keepdims", NULL};
    PyObject *axis = Py_None, *dtype = Py_None, *out = Py_None;
    int keepdims = 0, ddof = 0;
    bool is_var = strcmp(op, "var") == 0 || strcmp(op, "std") == 0;
    bool is_arg = strcmp(op, "argmin") == 0 || strcmp(op, "argmax") == 0;
    bool has_dtype = is_var || strcmp(op, "sum") == 0 || strcmp(op, "prod") == 0 ||
                     strcmp(op, "mean") == 0;
    char fmt[32];
    int ok;
    if (is_var) {
        snprintf(fmt, sizeof fmt, "|OOOip:%s", op);
        ok = PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kw_var, &axis, &dtype, &out, &ddof, &keepdims);
    } else if (has_dtype) {
        snprintf(fmt, sizeof fmt, "|OOOp:%s", op);
        ok = PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kw_sum, &axis, &dtype, &out, &keepdims);
    } else {
        snprintf(fmt, sizeof fmt, "|OOp:%s", op);
        ok = PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kw_min, &axis, &out, &keepdims);
    }
    if (!ok) return NULL;
    if (out != Py_None) {
        PyErr_Format(PyExc_TypeError, "%s: out= is not supported by lazy arrays", op);
        return NULL;
    }
    int axes[LP_MAX_NDIM], naxes;
    if (is_arg && axis != Py_None && !PyIndex_Check(axis)) {
        PyErr_Format(PyExc_TypeError, "%s: axis must be an int or None", op);
        return NULL;
    }
    if (lpy_parse_axes(axis, axes, &naxes) < 0) return NULL;
    lp_array *src = a, *cast = NULL, *res;
    lp_status st;
    if (dtype != Py_None) {
        lp_dtype dt;
        if (lpy_parse_dtype(dtype, &dt) < 0) return NULL;
        if (dt != lp_array_dtype(a)) {
            if ((st = lp_astype(lpy.ctx, a, dt, &cast)) != LP_OK) return lpy_raise(lpy.ctx, st);
            src = cast;
        }
    }
    const int *ax = naxes < 0 ? NULL : axes;
    int n = naxes < 0 ? 0 : naxes;
    if (is_var)
        st = lp_reduce_ddof(lpy.ctx, op, src, ax, n, keepdims != 0, ddof, &res);
    else
        st = lp_reduce(lpy.ctx, op, src, ax, n, keepdims != 0, &res);
    lp_array_release(cast);
    return wrap_status(st, res);
}

/* lp.sum(x, axis=None, ...) and friends: self is the op name. */
static PyObject *fn_reduce(PyObject *self, PyObject *args, PyObject *kwargs) {
    if (PyTuple_GET_SIZE(args) < 1) {
        PyErr_Format(PyExc_TypeError, "%U() missing the array argument", self);
        return NULL;
    }
    lp_array *a = lpy_to_array(PyTuple_GET_ITEM(args, 0), false);
    if (!a) return NULL;
    PyObject *rest = PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args));
    PyObject *r = rest ? lpy_reduce_impl(a, PyUnicode_AsUTF8(self), rest, kwargs) : NULL;
    Py_XDECREF(rest);
    lp_array_release(a);
    return r;
}

/* ---- elementwise ------------------------------------------------------------------ */

PyObject *lpy_elemwise_op(const char *op, int nin, PyObject *const *operands) {
    lp_array *in[3] = {NULL, NULL, NULL};
    int hint = -1;
    for (int i = 0; i < nin; i++)
        if (LpyArray_Check(operands[i])) {
            hint = (int)lp_array_dtype(((LpyArray *)operands[i])->a);
            break;
        }
    PyObject *res = NULL;
    for (int i = 0; i < nin; i++) {
        int r = lpy_operand(operands[i], hint, &in[i]);
        if (r == 0) {
            PyErr_Format(PyExc_TypeError, "%s: unsupported operand type %.100s", op,
                         Py_TYPE(operands[i])->tp_name);
        }
        if (r <= 0) goto done;
        if (hint < 0 && nin > 1) hint = (int)lp_array_dtype(in[i]);
    }
    lp_array *out;
    lp_status st = lp_elemwise(lpy.ctx, op, nin, in, &out);
    res = wrap_status(st, out);
done:
    for (int i = 0; i < nin; i++) lp_array_release(in[i]);
    return res;
}

/* self = (op name, nin) */
static PyObject *fn_elemwise(PyObject *self, PyObject *args) {
    const char *op = PyUnicode_AsUTF8(PyTuple_GET_ITEM(self, 0));
    int nin = (int)PyLong_AsLong(PyTuple_GET_ITEM(self, 1));
    const char *pyname = PyUnicode_AsUTF8(PyTuple_GET_ITEM(self, 2));
    if (PyTuple_GET_SIZE(args) != nin) {
        if (strcmp(op, "where") == 0 && PyTuple_GET_SIZE(args) == 1)
            PyErr_SetString(PyExc_TypeError, "where(condition) without x and y (nonzero) is not "
                                             "supported by lazy arrays");
        else
            PyErr_Format(PyExc_TypeError, "%s() takes %d argument%s (%zd given)", pyname, nin,
                         nin == 1 ? "" : "s", PyTuple_GET_SIZE(args));
        return NULL;
    }
    return lpy_elemwise_op(op, nin, &PyTuple_GET_ITEM(args, 0));
}

static const struct { const char *name, *op; int nin; const char *doc; } elemwise_fns[] = {
    {"add", "add", 2, "x1 + x2"},
    {"subtract", "subtract", 2, "x1 - x2"},
    {"multiply", "multiply", 2, "x1 * x2"},
    {"divide", "divide", 2, "x1 / x2"},
    {"true_divide", "divide", 2, "x1 / x2"},
    {"floor_divide", "floor_divide", 2, "x1 // x2"},
    {"remainder", "remainder", 2, "x1 % x2 (sign of the divisor, as in Python)"},
    {"mod", "remainder", 2, "x1 % x2"},
    {"power", "power", 2, "x1 ** x2"},
    {"negative", "negative", 1, "-x"},
    {"abs", "abs", 1, "|x|"},
    {"absolute", "abs", 1, "|x|"},
    {"equal", "equal", 2, "x1 == x2"},
    {"not_equal", "not_equal", 2, "x1 != x2"},
    {"less", "less", 2, "x1 < x2"},
    {"less_equal", "less_equal", 2, "x1 <= x2"},
    {"greater", "greater", 2, "x1 > x2"},
    {"greater_equal", "greater_equal", 2, "x1 >= x2"},
    {"logical_and", "logical_and", 2, "x1 and x2, elementwise (bool result)"},
    {"logical_or", "logical_or", 2, "x1 or x2, elementwise (bool result)"},
    {"logical_xor", "logical_xor", 2, "x1 xor x2, elementwise (bool result)"},
    {"logical_not", "logical_not", 1, "not x, elementwise (bool result)"},
    {"bitwise_and", "bitwise_and", 2, "x1 & x2"},
    {"bitwise_or", "bitwise_or", 2, "x1 | x2"},
    {"bitwise_xor", "bitwise_xor", 2, "x1 ^ x2"},
    {"invert", "invert", 1, "~x"},
    {"bitwise_not", "invert", 1, "~x"},
    {"maximum", "maximum", 2, "Elementwise maximum (NaN propagates)."},
    {"minimum", "minimum", 2, "Elementwise minimum (NaN propagates)."},
    {"sqrt", "sqrt", 1, "Square root."},
    {"exp", "exp", 1, "e**x."},
    {"log", "log", 1, "Natural logarithm."},
    {"sin", "sin", 1, "Sine."},
    {"cos", "cos", 1, "Cosine."},
    {"tanh", "tanh", 1, "Hyperbolic tangent."},
    {"where", "where", 3, "where(condition, x, y): x where condition is true, else y."},
};
#define N_ELEMWISE (sizeof elemwise_fns / sizeof elemwise_fns[0])

static const char *const reduce_fns[] = {"sum", "prod", "mean", "min", "max", "argmin",
                                         "argmax", "var", "std", "any", "all"};
#define N_REDUCE (sizeof reduce_fns / sizeof reduce_fns[0])

static PyMethodDef elemwise_defs[N_ELEMWISE + 1];
static PyMethodDef reduce_defs[N_REDUCE + 2];

/* ---- creation --------------------------------------------------------------------- */

static PyObject *create_filled(PyObject *args, PyObject *kwargs, int which, const char *fname) {
    /* which: 0 zeros, 1 ones, 2 full */
    static char *kw_zo[] = {"shape", "dtype", "chunks", NULL};
    static char *kw_full[] = {"shape", "fill_value", "dtype", "chunks", NULL};
    PyObject *shape_obj, *fill = NULL, *dtype = Py_None, *chunks = Py_None;
    char fmt[32];
    if (which == 2) {
        snprintf(fmt, sizeof fmt, "OO|O$O:%s", fname);
        if (!PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kw_full, &shape_obj, &fill, &dtype, &chunks))
            return NULL;
    } else {
        snprintf(fmt, sizeof fmt, "O|O$O:%s", fname);
        if (!PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kw_zo, &shape_obj, &dtype, &chunks))
            return NULL;
    }
    int64_t shape[LP_MAX_NDIM];
    int ndim = lpy_parse_shape(shape_obj, shape);
    if (ndim < 0) return NULL;
    lp_array *out;
    lp_status st;
    if (which == 2) {
        lp_scalar v;
        int r = lpy_scalar_from_py(fill, &v);
        if (r < 0) return NULL;
        if (r == 0) {
            PyErr_Format(PyExc_TypeError, "full: fill_value must be a number, not %.100s",
                         Py_TYPE(fill)->tp_name);
            return NULL;
        }
        lp_dtype dt = v.dtype;
        if (dtype == Py_None) {
            /* a NumPy scalar keeps its own dtype (np.float32(1) → float32) */
            PyObject *d = PyObject_GetAttrString(fill, "dtype");
            if (d) {
                if (lpy_parse_dtype(d, &dt) < 0) {
                    Py_DECREF(d);
                    return NULL;
                }
                Py_DECREF(d);
            } else {
                PyErr_Clear();
            }
        } else if (lpy_parse_dtype(dtype, &dt) < 0) {
            return NULL;
        }
        st = lp_full(lpy.ctx, dt, ndim, shape, v, &out);
    } else {
        lp_dtype dt;
        if (parse_dtype_opt(dtype, LP_FLOAT64, &dt) < 0) return NULL;
        st = which == 0 ? lp_zeros(lpy.ctx, dt, ndim, shape, &out) : lp_ones(lpy.ctx, dt, ndim, shape, &out);
    }
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    return fresh_with_chunks(out, chunks);
}

static PyObject *fn_zeros(PyObject *self, PyObject *args, PyObject *kwargs) {
    return create_filled(args, kwargs, 0, "zeros");
}
static PyObject *fn_ones(PyObject *self, PyObject *args, PyObject *kwargs) {
    return create_filled(args, kwargs, 1, "ones");
}
static PyObject *fn_full(PyObject *self, PyObject *args, PyObject *kwargs) {
    return create_filled(args, kwargs, 2, "full");
}

/* zeros_like(x, dtype=None) etc.: shape and dtype of any array-like. */
static PyObject *create_like(PyObject *args, PyObject *kwargs, int which, const char *fname) {
    static char *kw_zo[] = {"a", "dtype", "chunks", NULL};
    static char *kw_full[] = {"a", "fill_value", "dtype", "chunks", NULL};
    PyObject *x, *fill = NULL, *dtype = Py_None, *chunks = Py_None;
    char fmt[32];
    if (which == 2) {
        snprintf(fmt, sizeof fmt, "OO|O$O:%s", fname);
        if (!PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kw_full, &x, &fill, &dtype, &chunks)) return NULL;
    } else {
        snprintf(fmt, sizeof fmt, "O|O$O:%s", fname);
        if (!PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kw_zo, &x, &dtype, &chunks)) return NULL;
    }
    lp_array *a = lpy_to_array(x, false);
    if (!a) return NULL;
    lp_dtype dt = lp_array_dtype(a);
    int ndim = lp_array_ndim(a);
    int64_t shape[LP_MAX_NDIM];
    memcpy(shape, lp_array_shape(a), (size_t)ndim * sizeof *shape);
    lp_array_release(a);
    if (dtype != Py_None && lpy_parse_dtype(dtype, &dt) < 0) return NULL;
    lp_array *out;
    lp_status st;
    if (which == 2) {
        lp_scalar v;
        int r = lpy_scalar_from_py(fill, &v);
        if (r <= 0) {
            if (r == 0) PyErr_SetString(PyExc_TypeError, "full_like: fill_value must be a number");
            return NULL;
        }
        st = lp_full(lpy.ctx, dt, ndim, shape, v, &out);
    } else {
        st = which == 0 ? lp_zeros(lpy.ctx, dt, ndim, shape, &out) : lp_ones(lpy.ctx, dt, ndim, shape, &out);
    }
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    return fresh_with_chunks(out, chunks);
}

static PyObject *fn_zeros_like(PyObject *self, PyObject *args, PyObject *kwargs) {
    return create_like(args, kwargs, 0, "zeros_like");
}
static PyObject *fn_ones_like(PyObject *self, PyObject *args, PyObject *kwargs) {
    return create_like(args, kwargs, 1, "ones_like");
}
static PyObject *fn_full_like(PyObject *self, PyObject *args, PyObject *kwargs) {
    return create_like(args, kwargs, 2, "full_like");
}

/* A real number argument; *is_int tells whether it was an integer. */
static int number_arg(PyObject *o, double *out, bool *is_int, const char *what) {
    if (PyBool_Check(o) || PyLong_Check(o) || (PyIndex_Check(o) && !PyFloat_Check(o))) {
        PyObject *i = PyNumber_Index(o);
        if (i) {
            *out = PyLong_AsDouble(i);
            Py_DECREF(i);
            if (*out == -1.0 && PyErr_Occurred()) return -1;
            *is_int = true;
            return 0;
        }
        PyErr_Clear();
    }
    *out = PyFloat_AsDouble(o);
    if (*out == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s must be a real number, not %.100s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    *is_int = false;
    return 0;
}

static PyObject *fn_arange(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"start", "stop", "step", "dtype", "chunks", NULL};
    PyObject *a0 = NULL, *a1 = Py_None, *a2 = Py_None, *dtype = Py_None, *chunks = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OOOO$O:arange", kwlist, &a0, &a1, &a2, &dtype, &chunks))
        return NULL;
    if (!a0) {
        PyErr_SetString(PyExc_TypeError, "arange() requires stop to be specified.");
        return NULL;
    }
    double start = 0, stop, step = 1;
    bool i0 = true, i1 = true, i2 = true;
    if (a1 == Py_None) {
        if (number_arg(a0, &stop, &i1, "stop") < 0) return NULL;
    } else {
        if (number_arg(a0, &start, &i0, "start") < 0 || number_arg(a1, &stop, &i1, "stop") < 0) return NULL;
    }
    if (a2 != Py_None && number_arg(a2, &step, &i2, "step") < 0) return NULL;
    if (step == 0) {
        PyErr_SetString(PyExc_ZeroDivisionError, "arange: step must not be zero");
        return NULL;
    }
    lp_dtype dt;
    if (parse_dtype_opt(dtype, (i0 && i1 && i2) ? LP_INT64 : LP_FLOAT64, &dt) < 0) return NULL;
    lp_array *out;
    lp_status st = lp_arange(lpy.ctx, start, stop, step, dt, &out);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    return fresh_with_chunks(out, chunks);
}

static PyObject *fn_linspace(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"start", "stop", "num", "endpoint", "retstep", "dtype", "axis", "chunks", NULL};
    PyObject *ostart, *ostop, *dtype = Py_None, *chunks = Py_None;
    Py_ssize_t num = 50;
    int endpoint = 1, retstep = 0, axis = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|nppOi$O:linspace", kwlist, &ostart, &ostop, &num,
                                     &endpoint, &retstep, &dtype, &axis, &chunks))
        return NULL;
    double start, stop;
    bool ii;
    if (number_arg(ostart, &start, &ii, "start") < 0 || number_arg(ostop, &stop, &ii, "stop") < 0)
        return NULL;
    if (num < 0) {
        PyErr_Format(PyExc_ValueError, "Number of samples, %zd, must be non-negative.", num);
        return NULL;
    }
    if (axis != 0) {
        PyErr_SetString(PyExc_ValueError, "linspace: only axis=0 is supported");
        return NULL;
    }
    lp_dtype dt;
    if (parse_dtype_opt(dtype, LP_FLOAT64, &dt) < 0) return NULL;
    lp_array *out;
    lp_status st = lp_linspace(lpy.ctx, start, stop, num, endpoint != 0, dt, &out);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    PyObject *arr = fresh_with_chunks(out, chunks);
    if (!arr || !retstep) return arr;
    Py_ssize_t div = endpoint ? num - 1 : num;
    double stepv = div > 0 ? (stop - start) / (double)div : NAN;
    return Py_BuildValue("(Nd)", arr, stepv);
}

static PyObject *fn_eye(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"N", "M", "k", "dtype", "chunks", NULL};
    long long n, k = 0;
    PyObject *om = Py_None, *dtype = Py_None, *chunks = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "L|OLO$O:eye", kwlist, &n, &om, &k, &dtype, &chunks))
        return NULL;
    long long m = n;
    if (om != Py_None) {
        m = PyLong_AsLongLong(om);
        if (m == -1 && PyErr_Occurred()) return NULL;
    }
    if (n < 0 || m < 0) {
        PyErr_SetString(PyExc_ValueError, "negative dimensions are not allowed");
        return NULL;
    }
    lp_dtype dt;
    if (parse_dtype_opt(dtype, LP_FLOAT64, &dt) < 0) return NULL;
    lp_array *out;
    lp_status st = lp_eye(lpy.ctx, n, m, k, dt, &out);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    return fresh_with_chunks(out, chunks);
}

/* ---- conversion, files ------------------------------------------------------------ */

static PyObject *fn_asarray(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"a", "dtype", "chunks", NULL};
    PyObject *obj, *dtype = Py_None, *chunks = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O$O:asarray", kwlist, &obj, &dtype, &chunks))
        return NULL;
    lp_array *a = lpy_to_array(obj, false);
    if (!a) return NULL;
    bool fresh = !LpyArray_Check(obj);
    if (dtype != Py_None) {
        lp_dtype dt;
        if (lpy_parse_dtype(dtype, &dt) < 0) {
            lp_array_release(a);
            return NULL;
        }
        if (dt != lp_array_dtype(a)) {
            lp_array *c;
            lp_status st = lp_astype(lpy.ctx, a, dt, &c);
            lp_array_release(a);
            if (st != LP_OK) return lpy_raise(lpy.ctx, st);
            a = c;
            fresh = true;
        }
    }
    if (chunks == Py_None) return lpy_array_new(a);
    if (fresh) return fresh_with_chunks(a, chunks);
    PyObject *r = lpy_rechunk_impl(a, chunks);
    lp_array_release(a);
    return r;
}

static PyObject *fn_load(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"path", "chunks", NULL};
    PyObject *path, *chunks = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&|O:load", kwlist, PyUnicode_FSConverter, &path, &chunks))
        return NULL;
    lp_array *out;
    lp_status st = lp_load(lpy.ctx, PyBytes_AS_STRING(path), &out);
    Py_DECREF(path);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    return fresh_with_chunks(out, chunks);
}

typedef struct {
    const char *path;
    lp_array *a;
    const lp_zarr_opts *zarr;   /* NULL: lp_save_array (by the name: .npy, or .zarr defaults) */
} save_args;

static lp_status save_fn(lp_ctx *ctx, void *p) {
    save_args *s = p;
    if (!s->zarr) return lp_save_array(ctx, s->path, s->a);
    lp_buffer *b;
    lp_status st = lp_run(ctx, &s->a, 1, &b);
    if (st) return st;
    st = lp_save_zarr(ctx, s->path, b, s->zarr);
    lp_buffer_release(b);
    return st;
}

/* "scheme://...": a URL, written where it says */
static int lpy_is_url(PyObject *s) {
    const char *u = PyUnicode_AsUTF8(s);
    if (!u) { PyErr_Clear(); return 0; }
    return strstr(u, "://") != NULL;
}

static PyObject *fn_save(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"file", "arr", "chunks", "codec", "level", "order", "endian", NULL};
    PyObject *pathobj, *x, *chunks = Py_None;
    const char *codec = NULL, *order = "C", *endian = "little";
    int level = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$Ozizz:save", kwlist, &pathobj, &x, &chunks, &codec, &level,
                                     &order, &endian))
        return NULL;
    /* Zarr layout options (they make the array a Zarr array whatever its name) */
    lp_zarr_opts zo = {0};
    int64_t cs[LP_MAX_NDIM] = {0};
    bool zarr = chunks != Py_None || codec || level || strcmp(order, "C") || strcmp(endian, "little");
    if (strcmp(order, "C") && strcmp(order, "F")) {
        PyErr_SetString(PyExc_ValueError, "order must be 'C' or 'F'");
        return NULL;
    }
    if (strcmp(endian, "little") && strcmp(endian, "big")) {
        PyErr_SetString(PyExc_ValueError, "endian must be 'little' or 'big'");
        return NULL;
    }
    if (chunks != Py_None) {
        PyObject *seq = PySequence_Fast(chunks, "chunks must be a sequence of ints");
        if (!seq) return NULL;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        for (Py_ssize_t i = 0; i < n && i < LP_MAX_NDIM; i++) {
            cs[i] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i));
            if (cs[i] < 0 && !PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "chunk sizes must be positive");
            if (PyErr_Occurred()) { Py_DECREF(seq); return NULL; }
        }
        Py_DECREF(seq);
        zo.chunks = cs;
    }
    zo.codec = codec;
    zo.level = level;
    zo.fortran = order[0] == 'F';
    zo.big_endian = endian[0] == 'b';
    PyObject *fs = PyOS_FSPath(pathobj);
    if (!fs) return NULL;
    /* numpy.save appends ".npy" to str paths that lack it; URLs and Zarr arrays (".zarr") are
     * written where they say */
    if (PyUnicode_Check(fs)) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(fs);
        PyObject *tail = PyUnicode_Substring(fs, n >= 4 ? n - 4 : 0, n);
        PyObject *tail5 = PyUnicode_Substring(fs, n >= 5 ? n - 5 : 0, n);
        if (!tail || !tail5) {
            Py_XDECREF(tail);
            Py_XDECREF(tail5);
            Py_DECREF(fs);
            return NULL;
        }
        int has = PyUnicode_CompareWithASCIIString(tail, ".npy") == 0 ||
                  PyUnicode_CompareWithASCIIString(tail5, ".zarr") == 0 || lpy_is_url(fs) || zarr;
        Py_DECREF(tail);
        Py_DECREF(tail5);
        if (!has) Py_SETREF(fs, PyUnicode_FromFormat("%U.npy", fs));
        if (!fs) return NULL;
    }
    PyObject *bytes = NULL;
    if (!PyUnicode_FSConverter(fs, &bytes)) {
        Py_DECREF(fs);
        return NULL;
    }
    Py_DECREF(fs);
    lp_array *a = lpy_to_array(x, false);
    if (!a) {
        Py_DECREF(bytes);
        return NULL;
    }
    save_args s = {PyBytes_AS_STRING(bytes), a, zarr ? &zo : NULL};
    int rc = lpy_run_job(save_fn, &s);
    lp_array_release(a);
    Py_DECREF(bytes);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

/* ---- joining ------------------------------------------------------------------------ */

static PyObject *join(PyObject *args, PyObject *kwargs, bool stack) {
    static char *kwlist[] = {"arrays", "axis", NULL};
    PyObject *seqobj, *axisobj = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, stack ? "O|O:stack" : "O|O:concatenate", kwlist,
                                     &seqobj, &axisobj))
        return NULL;
    if (LpyArray_Check(seqobj)) {
        PyErr_SetString(PyExc_TypeError, "expected a sequence of arrays, got one array");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(seqobj, "expected a sequence of arrays");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n == 0) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "need at least one array to concatenate");
        return NULL;
    }
    if (n > INT32_MAX / 2) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    bool flatten = !stack && axisobj == Py_None;
    long axis = 0;
    if (axisobj && axisobj != Py_None) {
        axis = PyLong_AsLong(axisobj);
        if (axis == -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return NULL;
        }
    } else if (stack && axisobj == Py_None) {
        PyErr_SetString(PyExc_TypeError, "stack: axis must be an int");
        Py_DECREF(seq);
        return NULL;
    }
    lp_array **in = PyMem_Calloc((size_t)n, sizeof *in);
    PyObject *res = NULL;
    if (!in) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!(in[i] = lpy_to_array(PySequence_Fast_GET_ITEM(seq, i), false))) goto done;
        if (flatten) {
            int64_t m1 = -1;
            lp_array *f;
            lp_status st = lp_reshape(lpy.ctx, in[i], 1, &m1, &f);
            if (st != LP_OK) {
                lpy_raise(lpy.ctx, st);
                goto done;
            }
            lp_array_release(in[i]);
            in[i] = f;
        }
    }
    lp_array *out;
    lp_status st = stack ? lp_stack(lpy.ctx, (int)n, in, (int)axis, &out)
                         : lp_concatenate(lpy.ctx, (int)n, in, (int)axis, &out);
    res = wrap_status(st, out);
done:
    if (in) {
        for (Py_ssize_t i = 0; i < n; i++) lp_array_release(in[i]);
        PyMem_Free(in);
    }
    Py_DECREF(seq);
    return res;
}

static PyObject *fn_concatenate(PyObject *self, PyObject *args, PyObject *kwargs) {
    return join(args, kwargs, false);
}
static PyObject *fn_stack(PyObject *self, PyObject *args, PyObject *kwargs) {
    return join(args, kwargs, true);
}

/* ---- shape functions -------------------------------------------------------------- */

static PyObject *fn_reshape(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"a", "shape", NULL};
    PyObject *x, *shape;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO:reshape", kwlist, &x, &shape)) return NULL;
    lp_array *a = lpy_to_array(x, false);
    if (!a) return NULL;
    PyObject *t = PyTuple_Pack(1, shape);
    PyObject *r = t ? lpy_reshape_impl(a, t, NULL) : NULL;
    Py_XDECREF(t);
    lp_array_release(a);
    return r;
}

static PyObject *fn_transpose(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"a", "axes", NULL};
    PyObject *x, *axes = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:transpose", kwlist, &x, &axes)) return NULL;
    lp_array *a = lpy_to_array(x, false);
    if (!a) return NULL;
    PyObject *t = PyTuple_Pack(1, axes);
    PyObject *r = t ? lpy_transpose_impl(a, t) : NULL;
    Py_XDECREF(t);
    lp_array_release(a);
    return r;
}

static PyObject *fn_astype(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"x", "dtype", "copy", NULL};
    PyObject *x, *dtype, *copy = Py_True;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$O:astype", kwlist, &x, &dtype, &copy)) return NULL;
    lp_dtype dt;
    if (lpy_parse_dtype(dtype, &dt) < 0) return NULL;
    lp_array *a = lpy_to_array(x, false);
    if (!a) return NULL;
    lp_array *out;
    lp_status st = lp_astype(lpy.ctx, a, dt, &out);
    lp_array_release(a);
    return wrap_status(st, out);
}

static PyObject *fn_rechunk(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"x", "chunks", NULL};
    PyObject *x, *chunks = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:rechunk", kwlist, &x, &chunks)) return NULL;
    lp_array *a = lpy_to_array(x, false);
    if (!a) return NULL;
    PyObject *r = lpy_rechunk_impl(a, chunks);
    lp_array_release(a);
    return r;
}

PyMethodDef lpy_function_methods[] = {
    {"zeros", KW fn_zeros, METH_VARARGS | METH_KEYWORDS,
     "zeros(shape, dtype=float, *, chunks=None)\n--\n\nA lazy array of zeros."},
    {"empty", KW fn_zeros, METH_VARARGS | METH_KEYWORDS,
     "empty(shape, dtype=float, *, chunks=None)\n--\n\nSame as zeros (lazy arrays are never "
     "uninitialised)."},
    {"ones", KW fn_ones, METH_VARARGS | METH_KEYWORDS,
     "ones(shape, dtype=float, *, chunks=None)\n--\n\nA lazy array of ones."},
    {"full", KW fn_full, METH_VARARGS | METH_KEYWORDS,
     "full(shape, fill_value, dtype=None, *, chunks=None)\n--\n\nA lazy array filled with "
     "fill_value; the dtype follows fill_value (bool, int64, float64) unless given."},
    {"zeros_like", KW fn_zeros_like, METH_VARARGS | METH_KEYWORDS,
     "zeros_like(a, dtype=None, *, chunks=None)\n--\n\nZeros with a's shape and dtype."},
    {"empty_like", KW fn_zeros_like, METH_VARARGS | METH_KEYWORDS,
     "empty_like(a, dtype=None, *, chunks=None)\n--\n\nSame as zeros_like."},
    {"ones_like", KW fn_ones_like, METH_VARARGS | METH_KEYWORDS,
     "ones_like(a, dtype=None, *, chunks=None)\n--\n\nOnes with a's shape and dtype."},
    {"full_like", KW fn_full_like, METH_VARARGS | METH_KEYWORDS,
     "full_like(a, fill_value, dtype=None, *, chunks=None)\n--\n\nfill_value with a's shape and dtype."},
    {"arange", KW fn_arange, METH_VARARGS | METH_KEYWORDS,
     "arange([start,] stop[, step,], dtype=None, *, chunks=None)\n--\n\nEvenly spaced values in "
     "[start, stop); int64 when all arguments are integers, else float64."},
    {"linspace", KW fn_linspace, METH_VARARGS | METH_KEYWORDS,
     "linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *, chunks=None)"
     "\n--\n\nnum evenly spaced values from start to stop."},
    {"eye", KW fn_eye, METH_VARARGS | METH_KEYWORDS,
     "eye(N, M=None, k=0, dtype=float, *, chunks=None)\n--\n\nOnes on the k-th diagonal."},
    {"asarray", KW fn_asarray, METH_VARARGS | METH_KEYWORDS,
     "asarray(a, dtype=None, *, chunks=None)\n--\n\nA lazy array over a: buffer-protocol objects "
     "(NumPy arrays of bool, int32, int64, float32, float64 with any strides) are wrapped without "
     "copying and read when the expression runs; lists and scalars are converted."},
    {"load", KW fn_load, METH_VARARGS | METH_KEYWORDS,
     "load(path, chunks=None)\n--\n\nA lazy array over a .npy file (read when computed)."},
    {"save", KW fn_save, METH_VARARGS | METH_KEYWORDS,
     "save(file, arr, *, chunks=None, codec=None, level=0, order='C', endian='little')\n--\n\n"
     "Compute arr and write it to a .npy file (\".npy\" is appended to str paths without it, as "
     "numpy.save does), or to a Zarr v3 array when the name ends in \".zarr\" or a Zarr option is "
     "given (codec 'none', 'gzip', 'zstd', 'blosc'). file may be a URL (s3://bucket/key, "
     "http(s)://)."},
    {"concatenate", KW fn_concatenate, METH_VARARGS | METH_KEYWORDS,
     "concatenate(arrays, axis=0)\n--\n\nJoin arrays along an existing axis (axis=None: flattened)."},
    {"stack", KW fn_stack, METH_VARARGS | METH_KEYWORDS,
     "stack(arrays, axis=0)\n--\n\nJoin arrays along a new axis."},
    {"reshape", KW fn_reshape, METH_VARARGS | METH_KEYWORDS, "reshape(a, shape)\n--\n\nLazy reshape."},
    {"transpose", KW fn_transpose, METH_VARARGS | METH_KEYWORDS,
     "transpose(a, axes=None)\n--\n\nLazy transpose."},
    {"astype", KW fn_astype, METH_VARARGS | METH_KEYWORDS, "astype(x, dtype, *, copy=True)\n--\n\nLazy cast."},
    {"rechunk", KW fn_rechunk, METH_VARARGS | METH_KEYWORDS,
     "rechunk(x, chunks=None)\n--\n\nThe same values with another chunk shape."},
    {NULL, NULL, 0, NULL},
};

int lpy_functions_init(PyObject *m) {
    if (PyModule_AddFunctions(m, lpy_function_methods) < 0) return -1;
    PyObject *modname = PyModule_GetNameObject(m);
    if (!modname) return -1;
    int rc = -1;
    for (size_t i = 0; i < N_ELEMWISE; i++) {
        PyMethodDef *d = &elemwise_defs[i];
        d->ml_name = elemwise_fns[i].name;
        d->ml_meth = fn_elemwise;
        d->ml_flags = METH_VARARGS;
        d->ml_doc = elemwise_fns[i].doc;
        PyObject *self = Py_BuildValue("(sis)", elemwise_fns[i].op, elemwise_fns[i].nin, elemwise_fns[i].name);
        if (!self) goto done;
        PyObject *f = PyCFunction_NewEx(d, self, modname);
        Py_DECREF(self);
        if (!f || PyModule_AddObject(m, d->ml_name, f) < 0) {
            Py_XDECREF(f);
            goto done;
        }
    }
    for (size_t i = 0; i < N_REDUCE; i++) {
        PyMethodDef *d = &reduce_defs[i];
        d->ml_name = reduce_fns[i];
        d->ml_meth = KW fn_reduce;
        d->ml_flags = METH_VARARGS | METH_KEYWORDS;
        d->ml_doc = "Lazy reduction: f(a, axis=None, ..., keepdims=False), as the Array method.";
        PyObject *self = PyUnicode_FromString(reduce_fns[i]);
        if (!self) goto done;
        PyObject *f = PyCFunction_NewEx(d, self, modname);
        Py_DECREF(self);
        if (!f || PyModule_AddObject(m, d->ml_name, f) < 0) {
            Py_XDECREF(f);
            goto done;
        }
    }
    rc = 0;
done:
    Py_DECREF(modname);
    return rc;
}
