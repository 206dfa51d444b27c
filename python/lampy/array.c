/* lampy.Array: a Python handle on a lazy lp_array. Operators, indexing, attributes, methods;
 * every one builds a new lazy node, except run()/compute() and the scalar conversions. */
#include "lampy_py.h"

#include <string.h>

PyObject *lpy_array_new(lp_array *a) {
    if (!a) return NULL;
    LpyArray *self = PyObject_New(LpyArray, &LpyArray_Type);
    if (!self) {
        lp_array_release(a);
        return NULL;
    }
    self->a = a;
    self->weakreflist = NULL;
    return (PyObject *)self;
}

#define A(o) (((LpyArray *)(o))->a)

static void array_dealloc(PyObject *o) {
    LpyArray *self = (LpyArray *)o;
    if (self->weakreflist) PyObject_ClearWeakRefs(o);
    lp_array_release(self->a);
    PyObject_Free(o);
}

static PyObject *array_tp_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"obj", NULL};
    PyObject *obj;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:Array", kwlist, &obj)) return NULL;
    if (LpyArray_Check(obj)) return Py_NewRef(obj);
    return lpy_array_new(lpy_to_array(obj, false));
}

/* ---- operators -------------------------------------------------------------------- */

static int dtype_hint(PyObject *o) { return LpyArray_Check(o) ? (int)lp_array_dtype(A(o)) : -1; }

static PyObject *binop(PyObject *x, PyObject *y, const char *op) {
    lp_array *a = NULL, *b = NULL, *out = NULL;
    /* comparisons take any Python int by value (NumPy 2): no dtype to fit, the library decides */
    bool cmp = !strcmp(op, "equal") || !strcmp(op, "not_equal") || !strcmp(op, "less") ||
               !strcmp(op, "less_equal") || !strcmp(op, "greater") || !strcmp(op, "greater_equal");
    int hx = dtype_hint(x), hy = dtype_hint(y);
    if (cmp && hx != LP_FLOAT16 && hx != LP_FLOAT32 && hx != LP_FLOAT64) hx = -1;
    if (cmp && hy != LP_FLOAT16 && hy != LP_FLOAT32 && hy != LP_FLOAT64) hy = -1;
    int r = lpy_operand(x, hy, &a);
    if (r <= 0) return r == 0 ? Py_NewRef(Py_NotImplemented) : NULL;
    r = lpy_operand(y, hx, &b);
    if (r <= 0) {
        lp_array_release(a);
        return r == 0 ? Py_NewRef(Py_NotImplemented) : NULL;
    }
    lp_status st = lp_binary(lpy.ctx, op, a, b, &out);
    lp_array_release(a);
    lp_array_release(b);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    return lpy_array_new(out);
}

static PyObject *unop(PyObject *x, const char *op) {
    lp_array *out;
    lp_status st = lp_unary(lpy.ctx, op, A(x), &out);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    return lpy_array_new(out);
}

#define BINOP(fn, name) \
    static PyObject *fn(PyObject *x, PyObject *y) { return binop(x, y, name); }
BINOP(nb_add, "add")
BINOP(nb_subtract, "subtract")
BINOP(nb_multiply, "multiply")
BINOP(nb_true_divide, "divide")
BINOP(nb_floor_divide, "floor_divide")
BINOP(nb_remainder, "remainder")
BINOP(nb_and, "bitwise_and")
BINOP(nb_or, "bitwise_or")
BINOP(nb_xor, "bitwise_xor")
BINOP(nb_lshift, "left_shift")
BINOP(nb_rshift, "right_shift")

static PyObject *nb_power(PyObject *x, PyObject *y, PyObject *z) {
    if (z != Py_None) Py_RETURN_NOTIMPLEMENTED;
    return binop(x, y, "power");
}

static PyObject *nb_divmod(PyObject *x, PyObject *y) {
    PyObject *q = binop(x, y, "floor_divide");
    if (!q || q == Py_NotImplemented) return q;
    PyObject *r = binop(x, y, "remainder");
    if (!r) {
        Py_DECREF(q);
        return NULL;
    }
    return Py_BuildValue("(NN)", q, r);
}

static PyObject *nb_negative(PyObject *x) { return unop(x, "negative"); }
static PyObject *nb_positive(PyObject *x) { return Py_NewRef(x); }
static PyObject *nb_absolute(PyObject *x) { return unop(x, "abs"); }
static PyObject *nb_invert(PyObject *x) { return unop(x, "invert"); }

/* Compute a size-1 array and return its element as a Python bool/int/float. */
static PyObject *scalar_value(PyObject *x) {
    if (lp_array_size(A(x)) != 1) {
        PyErr_SetString(PyExc_TypeError, "only size-1 arrays can be converted to Python scalars");
        return NULL;
    }
    lp_buffer *buf;
    lp_array *t = A(x);
    if (lpy_run_arrays(&t, 1, &buf) < 0) return NULL;
    const void *p = lp_buffer_data(buf);
    PyObject *r;
    switch (lp_buffer_dtype(buf)) {
    case LP_BOOL: r = PyBool_FromLong(*(const unsigned char *)p != 0); break;
    case LP_INT8: r = PyLong_FromLong(*(const int8_t *)p); break;
    case LP_UINT8: r = PyLong_FromLong(*(const uint8_t *)p); break;
    case LP_INT16: { int16_t v; memcpy(&v, p, 2); r = PyLong_FromLong(v); break; }
    case LP_UINT16: { uint16_t v; memcpy(&v, p, 2); r = PyLong_FromLong(v); break; }
    case LP_INT32: { int32_t v; memcpy(&v, p, 4); r = PyLong_FromLong(v); break; }
    case LP_UINT32: { uint32_t v; memcpy(&v, p, 4); r = PyLong_FromUnsignedLong(v); break; }
    case LP_INT64: { int64_t v; memcpy(&v, p, 8); r = PyLong_FromLongLong(v); break; }
    case LP_UINT64: { uint64_t v; memcpy(&v, p, 8); r = PyLong_FromUnsignedLongLong(v); break; }
    case LP_FLOAT16: { uint16_t h; memcpy(&h, p, 2); r = PyFloat_FromDouble(PyFloat_Unpack2((const char *)&h, 1)); break; }
    case LP_FLOAT32: { float v; memcpy(&v, p, 4); r = PyFloat_FromDouble(v); break; }
    case LP_COMPLEX64: { float v[2]; memcpy(v, p, 8); r = PyComplex_FromDoubles(v[0], v[1]); break; }
    case LP_COMPLEX128: { double v[2]; memcpy(v, p, 16); r = PyComplex_FromDoubles(v[0], v[1]); break; }
    default: { double v; memcpy(&v, p, 8); r = PyFloat_FromDouble(v); break; }
    }
    lp_buffer_release(buf);
    return r;
}

static int nb_bool(PyObject *x) {
    int64_t n = lp_array_size(A(x));
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "The truth value of an empty array is ambiguous. Use "
                                          "`array.size > 0` to check that an array is not empty.");
        return -1;
    }
    if (n > 1) {
        PyErr_SetString(PyExc_ValueError, "The truth value of an array with more than one element "
                                          "is ambiguous. Use a.any() or a.all()");
        return -1;
    }
    PyObject *v = scalar_value(x);
    if (!v) return -1;
    int r = PyObject_IsTrue(v);
    Py_DECREF(v);
    return r;
}

static PyObject *nb_int(PyObject *x) {
    PyObject *v = scalar_value(x);
    if (!v) return NULL;
    PyObject *r = PyNumber_Long(v);
    Py_DECREF(v);
    return r;
}

static PyObject *nb_float(PyObject *x) {
    PyObject *v = scalar_value(x);
    if (!v) return NULL;
    PyObject *r = PyNumber_Float(v);
    Py_DECREF(v);
    return r;
}

static PyObject *m_complex(PyObject *x, PyObject *unused) {
    PyObject *v = scalar_value(x);
    if (!v) return NULL;
    Py_complex c = PyComplex_AsCComplex(v);
    Py_DECREF(v);
    if (c.real == -1.0 && PyErr_Occurred()) return NULL;
    return PyComplex_FromCComplex(c);
}

static PyObject *nb_index(PyObject *x) {
    lp_dtype dt = lp_array_dtype(A(x));
    if (lp_array_ndim(A(x)) != 0 || dt == LP_BOOL || dt == LP_FLOAT16 || dt == LP_FLOAT32 || dt == LP_FLOAT64 ||
        dt == LP_COMPLEX64 || dt == LP_COMPLEX128) {
        PyErr_SetString(PyExc_TypeError, "only integer scalar arrays can be converted to a scalar index");
        return NULL;
    }
    return scalar_value(x);
}

static PyNumberMethods array_as_number = {
    .nb_add = nb_add,
    .nb_subtract = nb_subtract,
    .nb_multiply = nb_multiply,
    .nb_remainder = nb_remainder,
    .nb_divmod = nb_divmod,
    .nb_power = nb_power,
    .nb_negative = nb_negative,
    .nb_positive = nb_positive,
    .nb_absolute = nb_absolute,
    .nb_bool = nb_bool,
    .nb_invert = nb_invert,
    .nb_lshift = nb_lshift,
    .nb_rshift = nb_rshift,
    .nb_and = nb_and,
    .nb_xor = nb_xor,
    .nb_or = nb_or,
    .nb_int = nb_int,
    .nb_float = nb_float,
    .nb_floor_divide = nb_floor_divide,
    .nb_true_divide = nb_true_divide,
    .nb_index = nb_index,
    .nb_matrix_multiply = lpy_matmul,
};

static PyObject *array_richcompare(PyObject *x, PyObject *y, int op) {
    static const char *const names[] = {"less", "less_equal", "equal", "not_equal", "greater",
                                        "greater_equal"};
    return binop(x, y, names[op]);
}

/* ---- indexing --------------------------------------------------------------------- */

static PyObject *slice_with(PyObject *x, int n, const lp_index *idx) {
    lp_array *out;
    lp_status st = lp_slice(lpy.ctx, A(x), n, idx, &out);
    if (st != LP_OK)
        return lpy_raise_as(lpy.ctx, st, st == LP_ERR_NOMEM ? NULL : PyExc_IndexError);
    return lpy_array_new(out);
}

static PyObject *array_subscript(PyObject *x, PyObject *key) { return lpy_getitem(A(x), key); }

static int array_ass_subscript(PyObject *x, PyObject *key, PyObject *value) {
    return lpy_setitem((LpyArray *)x, key, value);
}

static Py_ssize_t array_length(PyObject *x) {
    if (lp_array_ndim(A(x)) == 0) {
        PyErr_SetString(PyExc_TypeError, "len() of unsized object");
        return -1;
    }
    return (Py_ssize_t)lp_array_shape(A(x))[0];
}

/* sq_item makes iteration work (`for row in a`); IndexError past the end stops it. */
static PyObject *array_item(PyObject *x, Py_ssize_t i) {
    Py_ssize_t n = array_length(x);
    if (n < 0) return NULL;
    if (i < 0 || i >= n) {
        PyErr_Format(PyExc_IndexError, "index %zd is out of bounds for axis 0 with size %zd", i, n);
        return NULL;
    }
    lp_index ix = {.kind = LP_IDX_INT, .start = i};
    return slice_with(x, 1, &ix);
}

static int array_contains(PyObject *x, PyObject *v) {
    PyObject *eq = binop(x, v, "equal");
    if (!eq) return -1;
    if (eq == Py_NotImplemented) {
        Py_DECREF(eq);
        return 0;
    }
    lp_array *any;
    lp_status st = lp_reduce(lpy.ctx, "any", A(eq), NULL, 0, false, &any);
    Py_DECREF(eq);
    if (st != LP_OK) {
        lpy_raise(lpy.ctx, st);
        return -1;
    }
    PyObject *t = lpy_array_new(any);
    if (!t) return -1;
    int r = nb_bool(t);
    Py_DECREF(t);
    return r;
}

static PyMappingMethods array_as_mapping = {
    .mp_length = array_length,
    .mp_subscript = array_subscript,
    .mp_ass_subscript = array_ass_subscript,
};

static PySequenceMethods array_as_sequence = {
    .sq_length = array_length,
    .sq_item = array_item,
    .sq_contains = array_contains,
};

/* ---- attributes ------------------------------------------------------------------- */

static PyObject *get_shape(PyObject *x, void *c) {
    return lpy_shape_tuple(lp_array_ndim(A(x)), lp_array_shape(A(x)));
}
static PyObject *get_dtype(PyObject *x, void *c) { return lpy_dtype_object(lp_array_dtype(A(x))); }
static PyObject *get_ndim(PyObject *x, void *c) { return PyLong_FromLong(lp_array_ndim(A(x))); }
static PyObject *get_size(PyObject *x, void *c) { return PyLong_FromLongLong(lp_array_size(A(x))); }
static PyObject *get_itemsize(PyObject *x, void *c) {
    return PyLong_FromSize_t(lp_dtype_size(lp_array_dtype(A(x))));
}
static PyObject *get_nbytes(PyObject *x, void *c) {
    return PyLong_FromLongLong(lp_array_size(A(x)) * (int64_t)lp_dtype_size(lp_array_dtype(A(x))));
}
static PyObject *get_chunks(PyObject *x, void *c) {
    int64_t ch[LP_MAX_NDIM];
    lp_status st = lp_array_chunks(lpy.ctx, A(x), ch);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    return lpy_shape_tuple(lp_array_ndim(A(x)), ch);
}
static PyObject *get_T(PyObject *x, void *c) {
    lp_array *out;
    lp_status st = lp_transpose(lpy.ctx, A(x), NULL, &out);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    return lpy_array_new(out);
}
/* The array API's matrix transpose: the catalogue's matrix_transpose (the last two axes swapped). */
static PyObject *get_mT(PyObject *x, void *c) { return lpy_call("matrix_transpose", NULL, &x, 1, NULL); }
/* One device: the machine running the plan (its thread pool or its functions). */
static PyObject *get_device(PyObject *x, void *c) { return PyUnicode_FromString("cpu"); }
static PyObject *get_computed(PyObject *x, void *c) { return PyBool_FromLong(lp_array_result(A(x)) != NULL); }

static PyGetSetDef array_getset[] = {
    {"shape", get_shape, NULL, "Tuple of array dimensions.", NULL},
    {"dtype", get_dtype, NULL, "Element type (a numpy.dtype when NumPy is installed, else its name).", NULL},
    {"ndim", get_ndim, NULL, "Number of dimensions.", NULL},
    {"size", get_size, NULL, "Number of elements.", NULL},
    {"itemsize", get_itemsize, NULL, "Bytes per element.", NULL},
    {"nbytes", get_nbytes, NULL, "Bytes the computed array occupies.", NULL},
    {"chunks", get_chunks, NULL, "Chunk shape the planner uses for this array.", NULL},
    {"T", get_T, NULL, "The transposed array (lazy).", NULL},
    {"mT", get_mT, NULL, "The last two axes swapped (lazy; the array API's matrix transpose).", NULL},
    {"device", get_device, NULL, "'cpu': where the array computes (the array API's device).", NULL},
    {"computed", get_computed, NULL, "Whether a run has computed (and kept) this array's result.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ---- methods ---------------------------------------------------------------------- */

PyObject *lpy_compute_one(lp_array *a) {
    lp_buffer *buf;
    if (lpy_run_arrays(&a, 1, &buf) < 0) return NULL;
    return lpy_result_to_py(buf, true);
}

static PyObject *m_run(PyObject *x, PyObject *unused) { return lpy_compute_one(A(x)); }

static PyObject *m_persist(PyObject *x, PyObject *unused) {
    lp_array *t = A(x);
    if (lpy_run_arrays(&t, 1, NULL) < 0) return NULL;
    return Py_NewRef(x);
}

static PyObject *m_array(PyObject *x, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"dtype", "copy", NULL};
    PyObject *dtype = Py_None, *copy = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO:__array__", kwlist, &dtype, &copy)) return NULL;
    lp_buffer *buf;
    lp_array *t = A(x);
    if (lpy_run_arrays(&t, 1, &buf) < 0) return NULL;
    PyObject *r = lpy_result_to_py(buf, false);
    if (!r) return NULL;
    if (dtype != Py_None) {
        PyObject *astype = PyObject_GetAttrString(r, "astype");
        PyObject *a = astype ? PyTuple_Pack(1, dtype) : NULL;
        PyObject *kw = a ? Py_BuildValue("{s:O}", "copy", Py_False) : NULL;
        PyObject *c = kw ? PyObject_Call(astype, a, kw) : NULL;
        Py_XDECREF(astype);
        Py_XDECREF(a);
        Py_XDECREF(kw);
        Py_DECREF(r);
        r = c;
    }
    if (r && copy == Py_True) {
        PyObject *c = PyObject_CallMethod(r, "copy", NULL);
        Py_DECREF(r);
        r = c;
    }
    return r;
}

/* A new handle for the same values, so chunks can be set without touching `a` (shared by
 * other expressions). The C API has no rechunk/identity node: an all-covering lp_slice is the
 * cheapest node it offers. */
PyObject *lpy_rechunk_impl(lp_array *a, PyObject *chunks) {
    lp_array *out;
    lp_status st = lp_slice(lpy.ctx, a, 0, NULL, &out);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    if (out == a) { /* the library returned the same node: a reshape to itself then */
        lp_array_release(out);
        st = lp_reshape(lpy.ctx, a, lp_array_ndim(a), lp_array_shape(a), &out);
        if (st != LP_OK) return lpy_raise(lpy.ctx, st);
        if (out == a) {
            lp_array_release(out);
            PyErr_SetString(PyExc_NotImplementedError,
                            "rechunk: the Lampy C library offers no way to make a new node");
            return NULL;
        }
    }
    if (lpy_set_chunks(out, chunks) < 0) {
        lp_array_release(out);
        return NULL;
    }
    return lpy_array_new(out);
}

static PyObject *m_rechunk(PyObject *x, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"chunks", NULL};
    PyObject *chunks = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:rechunk", kwlist, &chunks)) return NULL;
    return lpy_rechunk_impl(A(x), chunks);
}

static PyObject *m_item(PyObject *x, PyObject *args) {
    if (PyTuple_GET_SIZE(args) != 0) {
        PyObject *sub = array_subscript(x, PyTuple_GET_SIZE(args) == 1 ? PyTuple_GET_ITEM(args, 0) : args);
        if (!sub) return NULL;
        PyObject *r = scalar_value(sub);
        Py_DECREF(sub);
        return r;
    }
    if (lp_array_size(A(x)) != 1) {
        PyErr_SetString(PyExc_ValueError, "can only convert an array of size 1 to a Python scalar");
        return NULL;
    }
    return scalar_value(x);
}

static PyObject *m_tolist(PyObject *x, PyObject *unused) {
    lp_buffer *buf;
    lp_array *t = A(x);
    if (lpy_run_arrays(&t, 1, &buf) < 0) return NULL;
    PyObject *r = lpy_result_to_py(buf, false);
    if (!r) return NULL;
    PyObject *l = PyObject_CallMethod(r, "tolist", NULL);
    Py_DECREF(r);
    return l;
}

/* NumPy calls this for np.sin(x), ndarray + x, ...: ufuncs of the library's catalogue (same
 * name, same number of inputs) build lazy arrays; anything else is NotImplemented. */
static PyObject *m_array_ufunc(PyObject *x, PyObject *args, PyObject *kwargs) {
    if (PyTuple_GET_SIZE(args) < 2) {
        PyErr_SetString(PyExc_TypeError, "__array_ufunc__(ufunc, method, *inputs, **kwargs)");
        return NULL;
    }
    PyObject *ufunc = PyTuple_GET_ITEM(args, 0), *method = PyTuple_GET_ITEM(args, 1);
    if (!PyUnicode_Check(method) || PyUnicode_CompareWithASCIIString(method, "__call__") != 0)
        Py_RETURN_NOTIMPLEMENTED;
    if (kwargs) {
        PyObject *k, *v;
        Py_ssize_t pos = 0;
        while (PyDict_Next(kwargs, &pos, &k, &v)) {
            if (v == Py_None) continue;
            if (PyUnicode_CompareWithASCIIString(k, "out") == 0 && PyTuple_Check(v) &&
                PyTuple_GET_SIZE(v) == 1 && PyTuple_GET_ITEM(v, 0) == Py_None)
                continue;
            Py_RETURN_NOTIMPLEMENTED;
        }
    }
    PyObject *name = PyObject_GetAttrString(ufunc, "__name__");
    if (!name) return NULL;
    const char *s = PyUnicode_AsUTF8(name);
    const lp_func *f = s ? lp_func_find(s) : NULL;
    Py_ssize_t nin = PyTuple_GET_SIZE(args) - 2;
    PyObject *r;
    if (!s) r = NULL;
    else if (!f || f->ufunc_nin != nin) r = Py_NewRef(Py_NotImplemented);
    else r = lpy_call(f->name, NULL, &PyTuple_GET_ITEM(args, 2), nin, NULL);
    Py_DECREF(name);
    return r;
}

/* x.__array_namespace__(): the lampy module itself is the array API namespace (its names are
 * NumPy's, which the standard mostly shares; the rest are aliases in the catalogue or in
 * lampy/array_api.py). */
static PyObject *m_array_namespace(PyObject *x, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"api_version", NULL};
    PyObject *version = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$O:__array_namespace__", kwlist, &version))
        return NULL;
    if (version != Py_None) {
        static const char *const known[] = {"2021.12", "2022.12", "2023.12", "2024.12"};
        const char *v = PyUnicode_Check(version) ? PyUnicode_AsUTF8(version) : NULL;
        if (!v && PyErr_Occurred()) return NULL;
        bool ok = false;
        for (size_t k = 0; v && k < sizeof known / sizeof known[0]; k++) ok |= strcmp(v, known[k]) == 0;
        if (!ok) {
            PyErr_Format(PyExc_ValueError, "unsupported array API version %R (lampy implements 2024.12)",
                         version);
            return NULL;
        }
    }
    return PyImport_ImportModule("lampy");
}

/* DLPack: a lazy array has no memory to share until it runs, so __dlpack__ computes it and
 * exports the result through NumPy's own capsule (its arguments passed on as given); the
 * device is the CPU (kDLCPU = 1, device 0). */
static PyObject *m_dlpack(PyObject *x, PyObject *args, PyObject *kwargs) {
    if (!lpy.numpy) {
        PyErr_SetString(PyExc_BufferError, "__dlpack__: exporting a lampy array through DLPack needs NumPy");
        return NULL;
    }
    PyObject *none = PyTuple_New(0);
    PyObject *arr = none ? m_array(x, none, NULL) : NULL;
    Py_XDECREF(none);
    if (!arr) return NULL;
    PyObject *meth = PyObject_GetAttrString(arr, "__dlpack__");
    Py_DECREF(arr);
    if (!meth) return NULL;
    PyObject *r = PyObject_Call(meth, args, kwargs);
    Py_DECREF(meth);
    return r;
}

static PyObject *m_dlpack_device(PyObject *x, PyObject *unused) { return Py_BuildValue("(ii)", 1, 0); }

static PyObject *m_to_device(PyObject *x, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"device", "stream", NULL};
    PyObject *device, *stream = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$O:to_device", kwlist, &device, &stream)) return NULL;
    if (stream != Py_None) {
        PyErr_SetString(PyExc_ValueError, "to_device: lampy has no streams (stream must be None)");
        return NULL;
    }
    if (!PyUnicode_Check(device) || PyUnicode_CompareWithASCIIString(device, "cpu") != 0) {
        PyErr_Format(PyExc_ValueError, "unsupported device %R (lampy's only device is 'cpu')", device);
        return NULL;
    }
    return Py_NewRef(x);
}

/* Attributes: the type's own first, then the catalogue's methods (x.sum, x.cumsum, ...). */
static PyObject *array_getattro(PyObject *x, PyObject *name) {
    PyObject *r = PyObject_GenericGetAttr(x, name);
    if (r || !PyErr_ExceptionMatches(PyExc_AttributeError)) return r;
    PyObject *m = lpy_catalog_method(x, name);
    if (!m) return NULL; /* the AttributeError stays */
    PyErr_Clear();
    return m;
}

static PyObject *m_dir(PyObject *x, PyObject *unused) {
    PyObject *base = PyObject_GetAttrString((PyObject *)&PyBaseObject_Type, "__dir__");
    PyObject *d = base ? PyObject_CallOneArg(base, x) : NULL;
    Py_XDECREF(base);
    PyObject *more = d ? lpy_catalog_method_names() : NULL;
    if (!more) {
        Py_XDECREF(d);
        return NULL;
    }
    PyObject *r = PySequence_InPlaceConcat(d, more);
    Py_DECREF(d);
    Py_DECREF(more);
    return r;
}

#define KW (PyCFunction)(void (*)(void))

/* x.visualize(filename=None, plan=False): the Python helper lampy._visualize renders the DOT
 * text of lp_graph_dot (through Graphviz for .svg/.png/.pdf), as Dask's visualize does. */
static PyObject *m_visualize(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kw[] = {"filename", "plan", NULL};
    PyObject *filename = Py_None;
    int plan = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|Op:visualize", kw, &filename, &plan)) return NULL;
    PyObject *mod = PyImport_ImportModule("lampy");
    if (!mod) return NULL;
    PyObject *r = PyObject_CallMethod(mod, "_visualize", "OOO", self, filename, plan ? Py_True : Py_False);
    Py_DECREF(mod);
    return r;
}

static PyMethodDef array_methods[] = {
    {"visualize", KW m_visualize, METH_VARARGS | METH_KEYWORDS,
     "visualize($self, /, filename=None, plan=False)\n--\n\nDraw the expression graph (plan=True: "
     "the task graph). No filename: return the DOT text; '.dot': write it; other extensions "
     "('.svg', '.png', '.pdf') are rendered by Graphviz's dot. Returns the filename."},
    {"run", m_run, METH_NOARGS,
     "run($self, /)\n--\n\nCompute the array; returns a numpy.ndarray (0-d results: a NumPy "
     "scalar), or a lampy.ndarray when NumPy is not installed. The result is kept: later "
     "expressions that use this array reuse it."},
    {"compute", m_run, METH_NOARGS, "compute($self, /)\n--\n\nAlias of run()."},
    {"persist", m_persist, METH_NOARGS,
     "persist($self, /)\n--\n\nCompute and keep the result inside the array; returns self."},
    {"__array__", KW m_array, METH_VARARGS | METH_KEYWORDS, "Compute; used by numpy.asarray(x)."},
    {"__array_ufunc__", KW m_array_ufunc, METH_VARARGS | METH_KEYWORDS,
     "NumPy ufuncs applied to lazy arrays build lazy arrays."},
    {"rechunk", KW m_rechunk, METH_VARARGS | METH_KEYWORDS,
     "rechunk($self, /, chunks=None)\n--\n\nThe same values with another chunk shape: an int "
     "(every axis), a tuple (per axis; -1 = whole axis, None = automatic), or a dict {axis: size}."},
    {"item", m_item, METH_VARARGS, "item($self, /, *index)\n--\n\nCompute one element as a Python scalar."},
    {"tolist", m_tolist, METH_NOARGS, "tolist($self, /)\n--\n\nCompute; nested Python lists."},
    {"__dir__", m_dir, METH_NOARGS, "Attributes, with the catalogue's methods."},
    {"__array_namespace__", KW m_array_namespace, METH_VARARGS | METH_KEYWORDS,
     "__array_namespace__($self, /, *, api_version=None)\n--\n\nThe array API namespace: the lampy module."},
    {"__dlpack__", KW m_dlpack, METH_VARARGS | METH_KEYWORDS,
     "__dlpack__($self, /, *, stream=None, max_version=None, dl_device=None, copy=None)\n--\n\n"
     "Compute, then export the result as a DLPack capsule (NumPy's)."},
    {"__dlpack_device__", m_dlpack_device, METH_NOARGS,
     "__dlpack_device__($self, /)\n--\n\nThe DLPack device: (1, 0), the CPU."},
    {"to_device", KW m_to_device, METH_VARARGS | METH_KEYWORDS,
     "to_device($self, device, /, *, stream=None)\n--\n\nThe array on device ('cpu', lampy's only one): self."},
    {"__complex__", m_complex, METH_NOARGS, "Compute a size-1 array; a Python complex."},
    {NULL, NULL, 0, NULL},
};

/* ---- repr / str ------------------------------------------------------------------- */

static PyObject *array_repr(PyObject *x) {
    PyObject *shape = get_shape(x, NULL);
    if (!shape) return NULL;
    int64_t ch[LP_MAX_NDIM];
    PyObject *chunks = NULL;
    if (lp_array_chunks(lpy.ctx, A(x), ch) == LP_OK)
        chunks = lpy_shape_tuple(lp_array_ndim(A(x)), ch);
    if (!chunks) {
        PyErr_Clear();
        lpy_builder_ctx_reset();
        chunks = PyUnicode_FromString("?");
        if (!chunks) {
            Py_DECREF(shape);
            return NULL;
        }
    }
    PyObject *r = PyUnicode_FromFormat("lampy.Array<shape=%S, dtype=%s, chunks=%S, %s>", shape,
                                       lp_dtype_name(lp_array_dtype(A(x))), chunks,
                                       lp_array_result(A(x)) ? "computed" : "lazy");
    Py_DECREF(shape);
    Py_DECREF(chunks);
    return r;
}

/* A computed array prints its values (as NumPy would); a lazy one its repr. */
static PyObject *array_str(PyObject *x) {
    lp_buffer *buf = lp_array_result(A(x));
    if (!buf) return array_repr(x);
    lp_buffer_retain(buf);
    PyObject *r = lpy_result_to_py(buf, false);
    if (!r) return NULL;
    PyObject *s = lpy.numpy ? PyObject_Str(r) : PyObject_CallMethod(r, "tolist", NULL);
    Py_DECREF(r);
    if (s && !PyUnicode_Check(s)) Py_SETREF(s, PyObject_Str(s));
    return s;
}

PyTypeObject LpyArray_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lampy.Array",
    .tp_basicsize = sizeof(LpyArray),
    .tp_dealloc = array_dealloc,
    .tp_repr = array_repr,
    .tp_str = array_str,
    .tp_as_number = &array_as_number,
    .tp_as_sequence = &array_as_sequence,
    .tp_as_mapping = &array_as_mapping,
    .tp_getattro = array_getattro,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Array(obj)\n--\n\nA lazy n-dimensional array. Operators, indexing and methods build "
              "an expression; run() (or compute(), numpy.asarray) computes it in parallel chunks.",
    .tp_richcompare = array_richcompare,
    .tp_weaklistoffset = offsetof(LpyArray, weakreflist),
    .tp_methods = array_methods,
    .tp_getset = array_getset,
    .tp_new = array_tp_new,
};

int lpy_array_type_init(PyObject *m) {
    if (PyType_Ready(&LpyArray_Type) < 0) return -1;
    return PyModule_AddObjectRef(m, "Array", (PyObject *)&LpyArray_Type);
}
