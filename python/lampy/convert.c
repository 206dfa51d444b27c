/* Conversions between Python objects and Lampy: dtypes, shapes, axes, chunks, operands
 * (Python scalars, buffer-protocol objects wrapped without copying, lists), and computed
 * buffers back to Python (the lampy.ndarray buffer exporter, viewed by NumPy). */
#include "lampy_py.h"

#include <string.h>

/* ---- dtypes ----------------------------------------------------------------------- */

static const char *const supported_msg = "supported: bool, int8, int16, int32, int64, uint8, uint16, uint32, "
                                         "uint64, float16, float32, float64, complex64, complex128";

PyObject *lpy_dtype_object(lp_dtype dt) { return Py_NewRef(lpy.np_dtypes[dt]); }

int lpy_parse_dtype(PyObject *o, lp_dtype *out) {
    if (o == (PyObject *)&PyBool_Type) { *out = LP_BOOL; return 0; }
    if (o == (PyObject *)&PyLong_Type) { *out = LP_INT64; return 0; }
    if (o == (PyObject *)&PyFloat_Type) { *out = LP_FLOAT64; return 0; }
    if (o == (PyObject *)&PyComplex_Type) { *out = LP_COMPLEX128; return 0; }
    if (PyUnicode_Check(o)) {
        const char *s = PyUnicode_AsUTF8(o);
        if (!s) return -1;
        if (lp_dtype_from_name(s, out)) return 0;
        if (!lpy.numpy) {
            PyErr_Format(PyExc_TypeError, "unsupported dtype %R (%s)", o, supported_msg);
            return -1;
        }
    }
    if (lpy.numpy) {
        PyObject *d = PyObject_CallMethod(lpy.numpy, "dtype", "O", o);
        if (!d) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "data type %R not understood", o);
            return -1;
        }
        int rc = -1;
        PyObject *name = PyObject_GetAttrString(d, "name");
        PyObject *isnative = PyObject_GetAttrString(d, "isnative");
        if (name && isnative) {
            const char *s = PyUnicode_AsUTF8(name);
            if (s && PyObject_IsTrue(isnative) == 1 && lp_dtype_from_name(s, out))
                rc = 0;
            else if (s)
                PyErr_Format(PyExc_TypeError, "unsupported dtype %R (%s, native byte order)", d,
                             supported_msg);
        }
        Py_XDECREF(name);
        Py_XDECREF(isnative);
        Py_DECREF(d);
        return rc;
    }
    PyErr_Format(PyExc_TypeError, "unsupported dtype %R (%s)", o, supported_msg);
    return -1;
}

/* struct-module format of a buffer → dtype; false if Lampy has no such dtype. */
static bool format_to_dtype(const char *fmt, Py_ssize_t itemsize, lp_dtype *out) {
    if (!fmt) return false; /* unsigned bytes */
    char order = '@';
    if (*fmt == '@' || *fmt == '=' || *fmt == '<' || *fmt == '>' || *fmt == '!') order = *fmt++;
    if ((order == '>' || order == '!') && itemsize > 1) return false; /* big endian (x86, arm64) */
    if (fmt[0] == 'Z' && (fmt[1] == 'f' || fmt[1] == 'd') && fmt[2] == '\0') { /* complex: NumPy's 'Zf', 'Zd' */
        if (itemsize != (fmt[1] == 'f' ? 8 : 16)) return false;
        *out = fmt[1] == 'f' ? LP_COMPLEX64 : LP_COMPLEX128;
        return true;
    }
    if (fmt[0] == '\0' || fmt[1] != '\0') return false;
    switch (fmt[0]) {
    case '?':
        if (itemsize != 1) return false;
        *out = LP_BOOL;
        return true;
    case 'b': case 'h': case 'i': case 'l': case 'q': case 'n': {
        static const lp_dtype by_size[9] = {0, LP_INT8, LP_INT16, 0, LP_INT32, 0, 0, 0, LP_INT64};
        if (itemsize < 1 || itemsize > 8 || !by_size[itemsize]) return false;
        *out = by_size[itemsize];
        return true;
    }
    case 'B': case 'H': case 'I': case 'L': case 'Q': case 'N': {
        static const lp_dtype by_size[9] = {0, LP_UINT8, LP_UINT16, 0, LP_UINT32, 0, 0, 0, LP_UINT64};
        if (itemsize < 1 || itemsize > 8 || !by_size[itemsize]) return false;
        *out = by_size[itemsize];
        return true;
    }
    case 'e': case 'f': case 'd':
        if (itemsize == 2) { *out = LP_FLOAT16; return true; }
        if (itemsize == 4) { *out = LP_FLOAT32; return true; }
        if (itemsize == 8) { *out = LP_FLOAT64; return true; }
        return false;
    default:
        return false;
    }
}

/* ---- shapes, axes, chunks --------------------------------------------------------- */

PyObject *lpy_shape_tuple(int ndim, const int64_t *shape) {
    PyObject *t = PyTuple_New(ndim);
    if (!t) return NULL;
    for (int i = 0; i < ndim; i++) {
        PyObject *v = PyLong_FromLongLong(shape[i]);
        if (!v) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, v);
    }
    return t;
}

static int index_to_i64(PyObject *o, int64_t *out, const char *what) {
    if (PyBool_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be integers, not bool", what);
        return -1;
    }
    PyObject *i = PyNumber_Index(o);
    if (!i) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s must be integers, not %.100s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    long long v = PyLong_AsLongLong(i);
    Py_DECREF(i);
    if (v == -1 && PyErr_Occurred()) return -1;
    *out = v;
    return 0;
}

int lpy_parse_shape(PyObject *o, int64_t *shape) {
    if (PyIndex_Check(o) && !PyBool_Check(o)) {
        if (index_to_i64(o, &shape[0], "shape dimensions") < 0) return -1;
        if (shape[0] < 0) goto negative;
        return 1;
    }
    PyObject *seq = PySequence_Fast(o, "shape must be an int or a sequence of ints");
    if (!seq) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "shape must be an int or a sequence of ints, not %.100s",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > LP_MAX_NDIM) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "at most %d dimensions are supported, got %zd", LP_MAX_NDIM, n);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (index_to_i64(PySequence_Fast_GET_ITEM(seq, i), &shape[i], "shape dimensions") < 0) {
            Py_DECREF(seq);
            return -1;
        }
        if (shape[i] < 0) {
            Py_DECREF(seq);
            goto negative;
        }
    }
    Py_DECREF(seq);
    return (int)n;
negative:
    PyErr_SetString(PyExc_ValueError, "negative dimensions are not allowed");
    return -1;
}

int lpy_parse_axes(PyObject *o, int *axes, int *naxes) {
    if (o == NULL || o == Py_None) {
        *naxes = -1;
        return 0;
    }
    if (PyTuple_Check(o) || PyList_Check(o)) {
        Py_ssize_t n = PySequence_Size(o);
        if (n > LP_MAX_NDIM) {
            PyErr_SetString(PyExc_ValueError, "too many axes");
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *it = PySequence_GetItem(o, i);
            if (!it) return -1;
            int64_t v;
            int rc = index_to_i64(it, &v, "axes");
            Py_DECREF(it);
            if (rc < 0) return -1;
            if (v < INT32_MIN || v > INT32_MAX) v = INT32_MAX; /* lampy reports the AxisError */
            axes[i] = (int)v;
        }
        *naxes = (int)n;
        return 0;
    }
    int64_t v;
    if (index_to_i64(o, &v, "axis") < 0) return -1;
    if (v < INT32_MIN || v > INT32_MAX) v = INT32_MAX;
    axes[0] = (int)v;
    *naxes = 1;
    return 0;
}

static int chunk_value(PyObject *v, int64_t dim, int64_t *out) {
    if (v == Py_None) { *out = 0; return 0; }
    if (PyUnicode_Check(v)) {
        if (PyUnicode_CompareWithASCIIString(v, "auto") == 0) { *out = 0; return 0; }
        PyErr_Format(PyExc_ValueError, "chunk size %R: use an int, -1 (whole axis) or 'auto'", v);
        return -1;
    }
    int64_t c;
    if (index_to_i64(v, &c, "chunk sizes") < 0) return -1;
    if (c == -1 || (c > dim && c > 0)) c = dim > 0 ? dim : 1; /* at most the whole axis */
    if (c <= 0) {
        PyErr_Format(PyExc_ValueError, "chunk sizes must be positive (or -1 for a whole axis), got %lld",
                     (long long)c);
        return -1;
    }
    *out = c;
    return 0;
}

int lpy_set_chunks(lp_array *a, PyObject *chunks) {
    int ndim = lp_array_ndim(a);
    const int64_t *shape = lp_array_shape(a);
    int64_t c[LP_MAX_NDIM] = {0};
    if (chunks == NULL || chunks == Py_None) {
        /* automatic */
    } else if (PyDict_Check(chunks)) {
        PyObject *k, *v;
        Py_ssize_t pos = 0;
        while (PyDict_Next(chunks, &pos, &k, &v)) {
            int64_t ax;
            if (index_to_i64(k, &ax, "chunk axes") < 0) return -1;
            if (ax < 0) ax += ndim;
            if (ax < 0 || ax >= ndim) {
                PyErr_Format(PyExc_ValueError, "chunk axis %R is out of bounds for an array of dimension %d",
                             k, ndim);
                return -1;
            }
            if (chunk_value(v, shape[ax], &c[ax]) < 0) return -1;
        }
    } else if (PyTuple_Check(chunks) || PyList_Check(chunks)) {
        Py_ssize_t n = PySequence_Size(chunks);
        if (n != ndim) {
            PyErr_Format(PyExc_ValueError, "chunks %R has %zd entries for an array of dimension %d",
                         chunks, n, ndim);
            return -1;
        }
        for (int i = 0; i < ndim; i++) {
            PyObject *it = PySequence_GetItem(chunks, i);
            if (!it) return -1;
            if (PyTuple_Check(it) || PyList_Check(it)) {
                Py_DECREF(it);
                PyErr_SetString(PyExc_ValueError, "explicit lists of block sizes are not supported; "
                                                  "give one chunk size per axis");
                return -1;
            }
            int rc = chunk_value(it, shape[i], &c[i]);
            Py_DECREF(it);
            if (rc < 0) return -1;
        }
    } else if (PyUnicode_Check(chunks)) {
        if (chunk_value(chunks, 0, &c[0]) < 0) return -1;
    } else {
        for (int i = 0; i < ndim; i++)
            if (chunk_value(chunks, shape[i], &c[i]) < 0) return -1;
    }
    lp_status st = lp_array_set_chunks(lpy.ctx, a, ndim, c);
    if (st != LP_OK) {
        lpy_raise(lpy.ctx, st);
        return -1;
    }
    return 0;
}

/* ---- Python scalars --------------------------------------------------------------- */

bool lpy_numpy_isinstance(PyObject *o, const char *name, PyObject **cls) {
    if (!lpy.numpy) return false;
    if (!*cls) {
        *cls = PyObject_GetAttrString(lpy.numpy, name);
        if (!*cls) {
            PyErr_Clear();
            return false;
        }
    }
    return PyObject_IsInstance(o, *cls) == 1;
}

static bool is_numpy_generic(PyObject *o) {
    static PyObject *generic;
    return lpy_numpy_isinstance(o, "generic", &generic);
}

int lpy_int64_from_py(PyObject *o, int64_t *v) {
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (x == -1 && PyErr_Occurred()) return -1;
    if (overflow) {
        PyErr_Format(PyExc_OverflowError, "Python integer %R out of bounds for int64", o);
        return -1;
    }
    *v = x;
    return 0;
}

int lpy_scalar_from_py(PyObject *o, lp_scalar *out) {
    if (PyBool_Check(o)) {
        *out = lp_scalar_b(o == Py_True);
        return 1;
    }
    if (PyLong_Check(o)) {
        int64_t v;
        if (lpy_int64_from_py(o, &v) < 0) return -1;
        *out = lp_scalar_i(v);
        return 1;
    }
    if (PyFloat_Check(o)) {
        *out = lp_scalar_f(PyFloat_AS_DOUBLE(o));
        return 1;
    }
    if (PyComplex_Check(o)) {
        *out = lp_scalar_c(PyComplex_RealAsDouble(o), PyComplex_ImagAsDouble(o));
        return 1;
    }
    if (is_numpy_generic(o)) { /* np.int32(3), np.bool_(True): by value, as Python would */
        PyObject *item = PyObject_CallMethod(o, "item", NULL);
        if (!item) return -1;
        int rc = (PyBool_Check(item) || PyLong_Check(item) || PyFloat_Check(item) || PyComplex_Check(item))
                     ? lpy_scalar_from_py(item, out)
                     : 0;
        Py_DECREF(item);
        return rc;
    }
    return 0;
}

/* A Python number as a weak 0-d scalar; `hint` is the other operand's dtype or -1. */
static lp_array *weak_scalar(PyObject *o, int hint) {
    lp_scalar s;
    if (PyBool_Check(o)) {
        s = lp_scalar_b(o == Py_True);
    } else if (PyLong_Check(o)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (v == -1 && PyErr_Occurred()) return NULL;
        bool fl = hint == LP_FLOAT16 || hint == LP_FLOAT32 || hint == LP_FLOAT64 || hint == LP_COMPLEX64 ||
                  hint == LP_COMPLEX128;
        /* NEP 50: the integer dtype of the other operand must hold it */
        bool isint = hint >= 0 && hint != LP_BOOL && !fl;
        bool uns = isint && lp_dtype_name((lp_dtype)hint)[0] == 'u';
        int bits = isint ? (int)lp_dtype_size((lp_dtype)hint) * 8 : 64;
        long long lo = uns ? 0 : bits == 64 ? INT64_MIN : -(1LL << (bits - 1));
        long long hi = bits == 64 ? INT64_MAX : uns ? (1LL << bits) - 1 : (1LL << (bits - 1)) - 1;
        if (overflow && fl) {
            double d = PyLong_AsDouble(o);
            if (d == -1.0 && PyErr_Occurred()) return NULL;
            s = lp_scalar_f(d);
        } else if (overflow || (isint && (v < lo || v > hi))) {
            PyErr_Format(PyExc_OverflowError, "Python integer %R out of bounds for %s", o,
                         isint ? lp_dtype_name((lp_dtype)hint) : "int64");
            return NULL;
        } else {
            s = lp_scalar_i(v);
        }
    } else if (PyComplex_Check(o)) {
        s = lp_scalar_c(PyComplex_RealAsDouble(o), PyComplex_ImagAsDouble(o));
    } else {
        double d = PyFloat_AsDouble(o);
        if (d == -1.0 && PyErr_Occurred()) return NULL;
        s = lp_scalar_f(d);
    }
    lp_array *a;
    lp_status st = lp_scalar_array(lpy.ctx, s, &a);
    if (st != LP_OK) return (lp_array *)lpy_raise(lpy.ctx, st);
    return a;
}

/* ---- buffer-protocol objects, wrapped without copying ----------------------------- */

typedef struct {
    Py_buffer view;
} view_hold;

/* Called by Lampy when the last reference to wrapped memory goes, from any thread. */
static void release_view(void *p) {
    view_hold *h = p;
    int finalizing;
#if PY_VERSION_HEX >= 0x030D0000
    finalizing = Py_IsFinalizing();
#else
    finalizing = _Py_IsFinalizing();
#endif
    if (finalizing && !PyGILState_Check()) return; /* the interpreter is going away: leak */
    PyGILState_STATE g = PyGILState_Ensure();
    PyBuffer_Release(&h->view);
    PyMem_RawFree(h);
    PyGILState_Release(g);
}

static PyObject *describe_dtype(PyObject *o, const Py_buffer *v) {
    PyObject *dt = PyObject_GetAttrString(o, "dtype");
    if (dt) return dt;
    PyErr_Clear();
    return PyUnicode_FromFormat("buffer format '%s' (itemsize %zd)", v->format ? v->format : "B",
                                v->itemsize);
}

static lp_array *wrap_buffer(PyObject *o) {
    view_hold *h = PyMem_RawMalloc(sizeof *h);
    if (!h) return (lp_array *)PyErr_NoMemory();
    if (PyObject_GetBuffer(o, &h->view, PyBUF_RECORDS_RO) < 0) {
        PyMem_RawFree(h);
        if (PyErr_ExceptionMatches(PyExc_ValueError) || PyErr_ExceptionMatches(PyExc_BufferError)) {
            /* NumPy refuses to export some dtypes (datetime64, ...) */
            PyObject *d = PyObject_HasAttrString(o, "dtype") ? PyObject_GetAttrString(o, "dtype") : NULL;
            if (d) {
                PyErr_Clear();
                PyErr_Format(PyExc_TypeError, "unsupported dtype %S (%s)", d, supported_msg);
                Py_DECREF(d);
            }
        }
        return NULL;
    }
    Py_buffer *v = &h->view;
    lp_dtype dt;
    int64_t shape[LP_MAX_NDIM], strides[LP_MAX_NDIM];
    if (!format_to_dtype(v->format, v->itemsize, &dt)) {
        PyObject *d = describe_dtype(o, v);
        PyErr_Format(PyExc_TypeError, "unsupported dtype %S (%s)", d ? d : Py_None, supported_msg);
        Py_XDECREF(d);
        goto fail;
    }
    if (v->suboffsets) {
        PyErr_SetString(PyExc_TypeError, "indirect (PIL-style) buffers are not supported");
        goto fail;
    }
    if (v->ndim > LP_MAX_NDIM) {
        PyErr_Format(PyExc_ValueError, "at most %d dimensions are supported, got %d", LP_MAX_NDIM,
                     v->ndim);
        goto fail;
    }
    for (int i = 0; i < v->ndim; i++) {
        shape[i] = v->shape ? v->shape[i] : v->len / v->itemsize;
        if (v->strides) strides[i] = v->strides[i];
    }
    lp_array *a;
    lp_status st = lp_wrap(lpy.ctx, v->buf, dt, v->ndim, shape, v->strides ? strides : NULL,
                           release_view, h, &a);
    if (st != LP_OK) {
        lpy_raise(lpy.ctx, st);
        goto fail;
    }
    return a;
fail:
    PyBuffer_Release(v);
    PyMem_RawFree(h);
    return NULL;
}

/* ---- nested lists without NumPy ----------------------------------------------------- */

typedef struct {
    int ndim;
    int64_t shape[LP_MAX_NDIM];
    int kind; /* 0 bool, 1 int, 2 float, 3 complex */
} list_info;

static int list_check(PyObject *o, int depth, list_info *li) {
    bool seq = PyList_Check(o) || PyTuple_Check(o);
    if (depth < li->ndim) {
        if (!seq || PySequence_Fast_GET_SIZE(o) != li->shape[depth]) goto ragged;
        for (Py_ssize_t i = 0; i < li->shape[depth]; i++)
            if (list_check(PySequence_Fast_GET_ITEM(o, i), depth + 1, li) < 0) return -1;
        return 0;
    }
    if (seq) goto ragged;
    int k;
    if (PyBool_Check(o)) k = 0;
    else if (PyLong_Check(o)) k = 1;
    else if (PyFloat_Check(o)) k = 2;
    else if (PyComplex_Check(o)) k = 3;
    else {
        PyErr_Format(PyExc_TypeError, "cannot convert %.100s to a Lampy array element",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    if (k > li->kind) li->kind = k;
    return 0;
ragged:
    PyErr_SetString(PyExc_ValueError, "setting an array element with a sequence: the nested "
                                      "lists have an inhomogeneous shape");
    return -1;
}

/* The shape follows the first element at each level; list_check verifies the rest. */
static int list_scan(PyObject *o, list_info *li) {
    li->ndim = 0;
    li->kind = 0;
    while (PyList_Check(o) || PyTuple_Check(o)) {
        if (li->ndim == LP_MAX_NDIM) {
            PyErr_Format(PyExc_ValueError, "at most %d dimensions are supported", LP_MAX_NDIM);
            return -1;
        }
        Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
        li->shape[li->ndim++] = n;
        if (n == 0) break;
        o = PySequence_Fast_GET_ITEM(o, 0);
    }
    return 0;
}

static int list_fill(PyObject *o, lp_dtype dt, char **p) {
    if (PyList_Check(o) || PyTuple_Check(o)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
        for (Py_ssize_t i = 0; i < n; i++)
            if (list_fill(PySequence_Fast_GET_ITEM(o, i), dt, p) < 0) return -1;
        return 0;
    }
    if (dt == LP_BOOL) {
        **p = (char)(o == Py_True);
        *p += 1;
    } else if (dt == LP_INT64) {
        long long v = PyLong_AsLongLong(o);
        if (v == -1 && PyErr_Occurred()) return -1;
        int64_t w = v;
        memcpy(*p, &w, 8);
        *p += 8;
    } else if (dt == LP_COMPLEX128) {
        Py_complex c = PyComplex_AsCComplex(o);
        if (c.real == -1.0 && PyErr_Occurred()) return -1;
        double d[2] = {c.real, c.imag};
        memcpy(*p, d, 16);
        *p += 16;
    } else {
        double d = PyFloat_AsDouble(o);
        if (d == -1.0 && PyErr_Occurred()) return -1;
        memcpy(*p, &d, 8);
        *p += 8;
    }
    return 0;
}

static lp_array *from_nested_lists(PyObject *o) {
    list_info li;
    if (list_scan(o, &li) < 0 || list_check(o, 0, &li) < 0) return NULL;
    lp_dtype dt = li.kind == 0 ? LP_BOOL : li.kind == 1 ? LP_INT64 : li.kind == 2 ? LP_FLOAT64 : LP_COMPLEX128;
    int64_t n = 1;
    for (int i = 0; i < li.ndim; i++) n *= li.shape[i];
    if (n == 0) dt = LP_FLOAT64; /* NumPy: [] is float64 */
    lp_buffer *buf;
    lp_status st = lp_buffer_create(lpy.ctx, dt, li.ndim, li.shape, NULL, &buf);
    if (st != LP_OK) return (lp_array *)lpy_raise(lpy.ctx, st);
    char *p = lp_buffer_data(buf);
    if (list_fill(o, dt, &p) < 0) {
        lp_buffer_release(buf);
        return NULL;
    }
    lp_array *a;
    st = lp_from_buffer(lpy.ctx, buf, &a);
    lp_buffer_release(buf);
    if (st != LP_OK) return (lp_array *)lpy_raise(lpy.ctx, st);
    return a;
}

/* ---- operands --------------------------------------------------------------------- */

static lp_array *strong_scalar(lp_scalar s) {
    lp_array *a;
    lp_status st = lp_full(lpy.ctx, s.dtype, 0, NULL, s, &a);
    if (st != LP_OK) return (lp_array *)lpy_raise(lpy.ctx, st);
    return a;
}

lp_array *lpy_to_array(PyObject *o, bool weak) {
    if (LpyArray_Check(o)) {
        lp_array *a = ((LpyArray *)o)->a;
        lp_array_retain(a);
        return a;
    }
    if (PyBool_Check(o) || PyLong_CheckExact(o) || PyFloat_CheckExact(o) || PyComplex_CheckExact(o)) {
        if (weak) return weak_scalar(o, -1);
        lp_scalar s;
        if (lpy_scalar_from_py(o, &s) < 0) return NULL;
        return strong_scalar(s);
    }
    if (PyBytes_Check(o) || PyByteArray_Check(o)) { /* NumPy makes strings of them, not uint8 */
        PyErr_Format(PyExc_TypeError, "cannot convert %.100s to a Lampy array (NumPy makes a string array of "
                     "it); numpy.frombuffer(b, dtype=numpy.uint8) gives its bytes", Py_TYPE(o)->tp_name);
        return NULL;
    }
    if (PyObject_CheckBuffer(o)) return wrap_buffer(o);
    if (lpy.numpy) {
        PyObject *arr = PyObject_CallOneArg(lpy.np_asarray, o);
        if (!arr) return NULL;
        lp_array *a = NULL;
        if (PyObject_CheckBuffer(arr))
            a = wrap_buffer(arr);
        else
            PyErr_Format(PyExc_TypeError, "cannot convert %.100s to a Lampy array", Py_TYPE(o)->tp_name);
        Py_DECREF(arr);
        return a;
    }
    if (PyList_Check(o) || PyTuple_Check(o)) return from_nested_lists(o);
    if (PyLong_Check(o) || PyFloat_Check(o) || PyComplex_Check(o)) {
        if (weak) return weak_scalar(o, -1);
        lp_scalar s;
        if (lpy_scalar_from_py(o, &s) < 0) return NULL;
        return strong_scalar(s);
    }
    PyErr_Format(PyExc_TypeError, "cannot convert %.100s to a Lampy array", Py_TYPE(o)->tp_name);
    return NULL;
}

int lpy_operand(PyObject *o, int hint, lp_array **out) {
    if (LpyArray_Check(o)) {
        *out = ((LpyArray *)o)->a;
        lp_array_retain(*out);
        return 1;
    }
    if (PyBool_Check(o) || PyLong_CheckExact(o) || PyFloat_CheckExact(o) || PyComplex_CheckExact(o)) {
        *out = weak_scalar(o, hint);
        return *out ? 1 : -1;
    }
    if (PyObject_CheckBuffer(o) || PyList_Check(o) || PyTuple_Check(o) ||
        PyObject_HasAttrString(o, "__array__") || PyObject_HasAttrString(o, "__array_interface__")) {
        *out = lpy_to_array(o, false);
        return *out ? 1 : -1;
    }
    if (PyLong_Check(o) || PyFloat_Check(o) || PyComplex_Check(o)) { /* other subclasses of int / float / complex */
        *out = weak_scalar(o, hint);
        return *out ? 1 : -1;
    }
    *out = NULL;
    return 0;
}

/* ---- lampy.ndarray: a computed buffer exposed through the buffer protocol ----------- */

/* int64 as 'l' where long is 64 bits: NumPy then gives its canonical int64 type, not
 * numpy.longlong (same size, a distinct scalar type). */
static const char *const formats[LP_DTYPE_COUNT] = {"?", "i", sizeof(long) == 8 ? "l" : "q", "f", "d", "b", "h",
                                                    "B", "H", "I", sizeof(long) == 8 ? "L" : "Q", "e", "Zf", "Zd"};

static PyObject *ndarray_new_from(lp_buffer *buf) {
    LpyNdarray *self = PyObject_New(LpyNdarray, &LpyNdarray_Type);
    if (!self) {
        lp_buffer_release(buf);
        return NULL;
    }
    self->buf = buf;
    self->exports = 0;
    self->ndim = lp_buffer_ndim(buf);
    const int64_t *shape = lp_buffer_shape(buf);
    Py_ssize_t stride = (Py_ssize_t)lp_dtype_size(lp_buffer_dtype(buf));
    for (int i = self->ndim - 1; i >= 0; i--) {
        self->shape[i] = (Py_ssize_t)shape[i];
        self->strides[i] = stride;
        stride *= shape[i] > 0 ? (Py_ssize_t)shape[i] : 1;
    }
    return (PyObject *)self;
}

PyObject *lpy_result_to_py(lp_buffer *buf, bool scalar_if_0d) {
    if (!buf) {
        PyErr_SetString(PyExc_RuntimeError, "lampy returned no result buffer");
        return NULL;
    }
    int ndim = lp_buffer_ndim(buf);
    PyObject *nd = ndarray_new_from(buf);
    if (!nd || !lpy.numpy) return nd;
    PyObject *arr = PyObject_CallOneArg(lpy.np_asarray, nd);
    Py_DECREF(nd);
    if (!arr || !(scalar_if_0d && ndim == 0)) return arr;
    PyObject *empty = PyTuple_New(0);
    PyObject *s = empty ? PyObject_GetItem(arr, empty) : NULL;
    Py_XDECREF(empty);
    Py_DECREF(arr);
    return s;
}

static void ndarray_dealloc(PyObject *o) {
    LpyNdarray *self = (LpyNdarray *)o;
    lp_buffer_release(self->buf);
    PyObject_Free(o);
}

static char empty_data[64];

static int ndarray_getbuffer(PyObject *o, Py_buffer *view, int flags) {
    LpyNdarray *self = (LpyNdarray *)o;
    lp_dtype dt = lp_buffer_dtype(self->buf);
    void *data = lp_buffer_data(self->buf);
    view->obj = Py_NewRef(o);
    view->buf = data ? data : empty_data;
    view->len = (Py_ssize_t)lp_buffer_nbytes(self->buf);
    view->readonly = 0;
    view->itemsize = (Py_ssize_t)lp_dtype_size(dt);
    view->format = (flags & PyBUF_FORMAT) ? (char *)formats[dt] : NULL;
    if (flags & PyBUF_ND) {
        view->ndim = self->ndim;
        view->shape = self->shape;
        view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? self->strides : NULL;
    } else {
        view->ndim = 1;
        view->shape = NULL;
        view->strides = NULL;
    }
    view->suboffsets = NULL;
    view->internal = NULL;
    self->exports++;
    return 0;
}

static void ndarray_releasebuffer(PyObject *o, Py_buffer *view) { ((LpyNdarray *)o)->exports--; }

static PyBufferProcs ndarray_as_buffer = {ndarray_getbuffer, ndarray_releasebuffer};

static PyObject *nd_shape(PyObject *o, void *c) {
    LpyNdarray *self = (LpyNdarray *)o;
    return lpy_shape_tuple(self->ndim, lp_buffer_shape(self->buf));
}
static PyObject *nd_dtype(PyObject *o, void *c) {
    return lpy_dtype_object(lp_buffer_dtype(((LpyNdarray *)o)->buf));
}
static PyObject *nd_ndim(PyObject *o, void *c) { return PyLong_FromLong(((LpyNdarray *)o)->ndim); }
static PyObject *nd_size(PyObject *o, void *c) {
    return PyLong_FromLongLong(lp_buffer_size(((LpyNdarray *)o)->buf));
}
static PyObject *nd_nbytes(PyObject *o, void *c) {
    return PyLong_FromSize_t(lp_buffer_nbytes(((LpyNdarray *)o)->buf));
}

static PyGetSetDef ndarray_getset[] = {
    {"shape", nd_shape, NULL, "tuple of dimensions", NULL},
    {"dtype", nd_dtype, NULL, "element type", NULL},
    {"ndim", nd_ndim, NULL, "number of dimensions", NULL},
    {"size", nd_size, NULL, "number of elements", NULL},
    {"nbytes", nd_nbytes, NULL, "bytes of data", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyObject *nd_tolist(PyObject *o, PyObject *unused) {
    PyObject *mv = PyMemoryView_FromObject(o);
    if (!mv) return NULL;
    PyObject *r = PyObject_CallMethod(mv, "tolist", NULL);
    PyObject *rel = PyObject_CallMethod(mv, "release", NULL);
    Py_XDECREF(rel);
    Py_DECREF(mv);
    return r;
}

static PyMethodDef ndarray_methods[] = {
    {"tolist", nd_tolist, METH_NOARGS, "The data as nested Python lists."},
    {NULL, NULL, 0, NULL},
};

static Py_ssize_t nd_len(PyObject *o) {
    LpyNdarray *self = (LpyNdarray *)o;
    if (self->ndim == 0) {
        PyErr_SetString(PyExc_TypeError, "len() of unsized object");
        return -1;
    }
    return self->shape[0];
}

static PyMappingMethods ndarray_as_mapping = {.mp_length = nd_len};

static PyObject *nd_repr(PyObject *o) {
    LpyNdarray *self = (LpyNdarray *)o;
    PyObject *shape = nd_shape(o, NULL);
    if (!shape) return NULL;
    PyObject *r = PyUnicode_FromFormat("lampy.ndarray<shape=%S, dtype=%s>", shape,
                                       lp_dtype_name(lp_buffer_dtype(self->buf)));
    Py_DECREF(shape);
    return r;
}

PyTypeObject LpyNdarray_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lampy.ndarray",
    .tp_basicsize = sizeof(LpyNdarray),
    .tp_dealloc = ndarray_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A computed Lampy result: dense, C-ordered memory exposed through the buffer "
              "protocol (numpy.asarray(x) and memoryview(x) view it without copying). Returned "
              "by Array.run() when NumPy is not installed.",
    .tp_as_buffer = &ndarray_as_buffer,
    .tp_as_mapping = &ndarray_as_mapping,
    .tp_getset = ndarray_getset,
    .tp_methods = ndarray_methods,
    .tp_repr = nd_repr,
};

int lpy_ndarray_type_init(PyObject *m) {
    if (PyType_Ready(&LpyNdarray_Type) < 0) return -1;
    return PyModule_AddObjectRef(m, "ndarray", (PyObject *)&LpyNdarray_Type);
}
