/* The library's function catalogue as Python functions and Array methods. Nothing here knows a
 * function by name: every entry of lp_func_at becomes lampy.<name> (lampy._linalg.<name> for
 * "linalg.*", lampy._fft.<name> for "fft.*"), and attribute lookup on an Array finds the catalogue's methods. Arguments are
 * converted to lp_value and bound, checked and built by lp_call, so Python, the CLI and C
 * behave and fail alike. */
#include "lampy_py.h"

#include <string.h>

/* ---- Python objects <-> lp_value ------------------------------------------------------ */

typedef struct vpool {
    lp_array **arrays;     /* references taken while converting (released after the call) */
    int n, cap;
} vpool;

static int pool_add(vpool *p, lp_array *a) {
    if (p->n == p->cap) {
        int c = p->cap ? p->cap * 2 : 8;
        lp_array **na = PyMem_Realloc(p->arrays, (size_t)c * sizeof *na);
        if (!na) {
            lp_array_release(a);
            PyErr_NoMemory();
            return -1;
        }
        p->arrays = na;
        p->cap = c;
    }
    p->arrays[p->n++] = a;
    return 0;
}

static void pool_free(vpool *p) {
    for (int k = 0; k < p->n; k++) lp_array_release(p->arrays[k]);
    PyMem_Free(p->arrays);
}

static void vfree(lp_value *v) {
    if ((v->kind == LP_VAL_TUPLE || v->kind == LP_VAL_LIST) && v->items) {
        for (int k = 0; k < v->n; k++) vfree(&v->items[k]);
        PyMem_Free(v->items);
    }
    *v = lp_value_none();
}

static bool is_dtype_like(PyObject *o) {
    if (PyType_Check(o)) return true; /* bool, int, float, numpy.float32 ... */
    static PyObject *dtype_type;
    return lpy_numpy_isinstance(o, "dtype", &dtype_type);
}

/* o as an lp_value; arrays made on the way are kept in pool. 0 / -1 with an exception. */
static int to_value(PyObject *o, vpool *pool, lp_value *out, int depth) {
    *out = lp_value_none();
    if (o == Py_None) return 0;
    if (LpyArray_Check(o)) {
        *out = lp_value_array(((LpyArray *)o)->a);
        return 0;
    }
    if (PyBool_Check(o)) { *out = lp_value_bool(o == Py_True); return 0; }
    if (PyLong_CheckExact(o)) {
        int64_t v;
        if (lpy_int64_from_py(o, &v) < 0) return -1;
        *out = lp_value_int(v);
        return 0;
    }
    if (PyFloat_CheckExact(o)) { *out = lp_value_float(PyFloat_AS_DOUBLE(o)); return 0; }
    if (PyComplex_CheckExact(o)) {
        *out = lp_value_complex(PyComplex_RealAsDouble(o), PyComplex_ImagAsDouble(o));
        return 0;
    }
    if (PyUnicode_Check(o)) {
        const char *s = PyUnicode_AsUTF8(o);
        if (!s) return -1;
        *out = lp_value_str(s);
        return 0;
    }
    if ((PyTuple_Check(o) || PyList_Check(o)) && depth < 64) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
        if (n > INT32_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        lp_value *items = PyMem_Calloc((size_t)(n ? n : 1), sizeof *items);
        if (!items) {
            PyErr_NoMemory();
            return -1;
        }
        *out = lp_value_tuple(items, (int)n);
        for (Py_ssize_t k = 0; k < n; k++)
            if (to_value(PySequence_Fast_GET_ITEM(o, k), pool, &items[k], depth + 1) < 0) return -1;
        return 0;
    }
    if (is_dtype_like(o)) {
        lp_dtype dt;
        if (lpy_parse_dtype(o, &dt) < 0) return -1;
        *out = lp_value_dtype(dt);
        return 0;
    }
    if (PyLong_Check(o) && !PyObject_CheckBuffer(o)) { /* int subclasses */
        long long v = PyLong_AsLongLong(o);
        if (v == -1 && PyErr_Occurred()) return -1;
        *out = lp_value_int(v);
        return 0;
    }
    if (PyFloat_Check(o) && !PyObject_CheckBuffer(o)) {
        *out = lp_value_float(PyFloat_AsDouble(o));
        return 0;
    }
    if (PyComplex_Check(o) && !PyObject_CheckBuffer(o)) {
        *out = lp_value_complex(PyComplex_RealAsDouble(o), PyComplex_ImagAsDouble(o));
        return 0;
    }
    if (PyObject_CheckBuffer(o) || PyObject_HasAttrString(o, "__array__") ||
        PyObject_HasAttrString(o, "__array_interface__")) {
        /* NumPy arrays and scalars (strong, as in NumPy 2), buffers: wrapped without copying */
        lp_array *a = lpy_to_array(o, false);
        if (!a || pool_add(pool, a) < 0) return -1;
        *out = lp_value_array(a);
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "unsupported argument type %.100s", Py_TYPE(o)->tp_name);
    return -1;
}

/* A result as Python objects; takes the value's references. */
static PyObject *from_value(lp_value *v) {
    switch (v->kind) {
    case LP_VAL_NONE: Py_RETURN_NONE;
    case LP_VAL_BOOL: return PyBool_FromLong(v->b);
    case LP_VAL_INT: return PyLong_FromLongLong(v->i);
    case LP_VAL_FLOAT: return PyFloat_FromDouble(v->f);
    case LP_VAL_COMPLEX: return PyComplex_FromDoubles(v->f, v->im);
    case LP_VAL_STR: return PyUnicode_FromString(v->s ? v->s : "");
    case LP_VAL_DTYPE: return lpy_dtype_object(v->dtype);
    case LP_VAL_ARRAY: {
        lp_array *a = v->array;
        v->array = NULL;
        return lpy_array_new(a);
    }
    case LP_VAL_TUPLE: case LP_VAL_LIST: {
        PyObject *r = v->kind == LP_VAL_TUPLE ? PyTuple_New(v->n) : PyList_New(v->n);
        if (!r) return NULL;
        for (int k = 0; k < v->n; k++) {
            PyObject *it = from_value(&v->items[k]);
            if (!it) {
                Py_DECREF(r);
                return NULL;
            }
            if (v->kind == LP_VAL_TUPLE) PyTuple_SET_ITEM(r, k, it);
            else PyList_SET_ITEM(r, k, it);
        }
        return r;
    }
    default:
        PyErr_SetString(PyExc_RuntimeError, "lampy returned an unknown value");
        return NULL;
    }
}

/* Call catalogue function `name` (a method when self is given) with Python arguments. chunks=
 * of creation functions is Python's: it is applied to the fresh result. */
PyObject *lpy_call(const char *name, lp_array *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwargs) {
    vpool pool = {0};
    Py_ssize_t nkw = kwargs ? PyDict_GET_SIZE(kwargs) : 0;
    Py_ssize_t n = nargs + nkw;
    lp_value *vals = PyMem_Calloc((size_t)(n ? n : 1), sizeof *vals);
    const char **kwn = PyMem_Calloc((size_t)(nkw ? nkw : 1), sizeof *kwn);
    PyObject *res = NULL, *chunks = NULL;
    if (!vals || !kwn) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t k = 0; k < nargs; k++)
        if (to_value(args[k], &pool, &vals[k], 0) < 0) goto done;
    const lp_func *f = lp_func_find(name);
    Py_ssize_t j = 0;
    if (kwargs) {
        PyObject *key, *val;
        Py_ssize_t it = 0;
        while (PyDict_Next(kwargs, &it, &key, &val)) {
            const char *kname = PyUnicode_AsUTF8(key);
            if (!kname) goto done;
            if (f && f->creates && !self && strcmp(kname, "chunks") == 0) {
                chunks = val;
                continue;
            }
            kwn[j] = kname;
            if (to_value(val, &pool, &vals[nargs + j], 0) < 0) goto done;
            j++;
        }
    }
    lp_value out = lp_value_none();
    lp_status st = self ? lp_call_method(lpy.ctx, name, self, (int)nargs, vals, (int)j, kwn, vals + nargs, &out)
                        : lp_call(lpy.ctx, name, (int)nargs, vals, (int)j, kwn, vals + nargs, &out);
    if (st != LP_OK) {
        lpy_raise(lpy.ctx, st);
        goto done;
    }
    if (chunks && chunks != Py_None) {
        lp_array *a = out.kind == LP_VAL_ARRAY ? out.array : out.kind == LP_VAL_TUPLE && out.n ? out.items[0].array : NULL;
        if (a && lpy_set_chunks(a, chunks) < 0) {
            lp_value_clear(&out);
            goto done;
        }
    }
    res = from_value(&out);
    lp_value_clear(&out);
done:
    if (vals)
        for (Py_ssize_t k = 0; k < n; k++) vfree(&vals[k]);
    PyMem_Free(vals);
    PyMem_Free(kwn);
    pool_free(&pool);
    return res;
}

static PyObject *method_call(PyObject *self, PyObject *args, PyObject *kwargs);
static int make_method_defs(void);

/* ---- module functions ----------------------------------------------------------------- */

/* self: the catalogue name (a str) */
static PyObject *fn_call(PyObject *self, PyObject *args, PyObject *kwargs) {
    const char *name = PyUnicode_AsUTF8(self);
    if (!name) return NULL;
    return lpy_call(name, NULL, &PyTuple_GET_ITEM(args, 0), PyTuple_GET_SIZE(args), kwargs);
}

/* "sum(a, axis=None)\n--\n\ndoc" for inspect.signature and help(). Kept for the process's life. */
static char *make_doc(const char *sig, const char *pyname, const char *doc, bool method, bool creates, bool star) {
    const char *paren = strchr(sig, '(');
    size_t cap = strlen(sig) + strlen(pyname) + strlen(doc) + 64;
    char *d = PyMem_RawMalloc(cap);
    if (!d) return NULL;
    const char *params = paren ? paren + 1 : ")";
    bool empty = params[0] == ')';
    if (method) snprintf(d, cap, "%s($self%s%s\n--\n\n%s.", pyname, empty ? "" : ", ", params, doc);
    else if (creates && star) /* keyword-only parameters already (device=): chunks joins them */
        snprintf(d, cap, "%s(%.*s, chunks=None)\n--\n\n%s.", pyname, (int)(strlen(params) - 1), params, doc);
    else if (creates) snprintf(d, cap, "%s(%.*s%s*, chunks=None)\n--\n\n%s.", pyname, (int)(strlen(params) - 1), params,
                               empty ? "" : ", ", doc);
    else snprintf(d, cap, "%s(%s\n--\n\n%s.", pyname, params, doc);
    return d;
}

/* A creation signature that already has a bare '*' cannot take a second one. */
static bool has_star(const char *sig) {
    for (const char *p = strchr(sig, '('); p && *p; p++)
        if (*p == '*' && p[1] != '*' && (p[1] == ',' || p[1] == ')')) return true;
    return false;
}

static int add_function(PyObject *mod, PyObject *modname, const lp_func *f, const char *pyname) {
    PyMethodDef *d = PyMem_RawCalloc(1, sizeof *d);
    if (!d) return -1;
    d->ml_name = pyname;
    d->ml_meth = (PyCFunction)(void (*)(void))fn_call;
    d->ml_flags = METH_VARARGS | METH_KEYWORDS;
    d->ml_doc = make_doc(f->signature, pyname, f->doc, false, f->creates, has_star(f->signature));
    PyObject *self = PyUnicode_FromString(f->name);
    if (!self) return -1;
    PyObject *fn = PyCFunction_NewEx(d, self, modname);
    Py_DECREF(self);
    if (!fn) return -1;
    if (PyModule_AddObject(mod, pyname, fn) < 0) {
        Py_DECREF(fn);
        return -1;
    }
    return 0;
}

/* Python keeps its own versions of these (no-copy wrapping of NumPy data, chunks=). The
 * catalogue's random.* functions go to lampy._random; random.py keeps its Generator-based
 * uniform/normal and takes the others (randint, permutation, choice) from there. */
static bool python_own(const char *name) { return !strcmp(name, "asarray"); }

int lpy_catalog_init(PyObject *m) {
    PyObject *la = PyModule_New("lampy._linalg"), *ra = PyModule_New("lampy._random"), *fa = PyModule_New("lampy._fft");
    PyObject *modname = PyModule_GetNameObject(m);
    int rc = -1;
    if (!la || !ra || !fa || !modname) goto done;
    for (int i = 0; i < lp_func_count(); i++) {
        const lp_func *f = lp_func_at(i);
        if (python_own(f->name)) continue;
        PyObject *target = m;
        const char *base = f->name;
        if (!strncmp(f->name, "linalg.", 7)) {
            target = la;
            base = f->name + 7;
        } else if (!strncmp(f->name, "random.", 7)) {
            target = ra;
            base = f->name + 7;
        } else if (!strncmp(f->name, "fft.", 4)) {
            target = fa;
            base = f->name + 4;
        }
        if (add_function(target, modname, f, base) < 0) goto done;
        /* aliases: the same function under each other name */
        for (const char *a = f->aliases; a && *a;) {
            size_t l = strcspn(a, " ");
            char *alias = PyMem_RawMalloc(l + 1);
            if (!alias) goto done;
            memcpy(alias, a, l);
            alias[l] = 0;
            if (add_function(target, modname, f, alias) < 0) goto done;
            a += l;
            while (*a == ' ') a++;
        }
    }
    if (make_method_defs() < 0) {
        PyErr_NoMemory();
        goto done;
    }
    if (lp_func_count() == 0) {
        PyErr_SetString(PyExc_RuntimeError, "the Lampy library's function catalogue is empty");
        goto done;
    }
    if (PyModule_AddObject(m, "_linalg", la) < 0) goto done;
    la = NULL;
    if (PyModule_AddObject(m, "_random", ra) < 0) goto done;
    ra = NULL;
    if (PyModule_AddObject(m, "_fft", fa) < 0) goto done;
    fa = NULL;
    rc = 0;
done:
    Py_XDECREF(la);
    Py_XDECREF(ra);
    Py_XDECREF(fa);
    Py_XDECREF(modname);
    return rc;
}

/* ---- Array methods: found on attribute lookup ---------------------------------------------- */

/* self: (array, name) */
static PyObject *method_call(PyObject *self, PyObject *args, PyObject *kwargs) {
    PyObject *arr = PyTuple_GET_ITEM(self, 0);
    const char *name = PyUnicode_AsUTF8(PyTuple_GET_ITEM(self, 1));
    if (!name) return NULL;
    return lpy_call(name, ((LpyArray *)arr)->a, &PyTuple_GET_ITEM(args, 0), PyTuple_GET_SIZE(args), kwargs);
}

/* One PyMethodDef per catalogue method (its name and signature for help() and inspect),
 * indexed like the catalogue; made by lpy_catalog_init, kept for the process's life. */
static PyMethodDef *method_defs;

static int make_method_defs(void) {
    int n = lp_func_count();
    method_defs = PyMem_RawCalloc((size_t)(n ? n : 1), sizeof *method_defs);
    if (!method_defs) return -1;
    for (int i = 0; i < n; i++) {
        const lp_func *f = lp_func_at(i);
        if (!f->method) continue;
        PyMethodDef *d = &method_defs[i];
        d->ml_name = f->name;
        d->ml_meth = (PyCFunction)(void (*)(void))method_call;
        d->ml_flags = METH_VARARGS | METH_KEYWORDS;
        d->ml_doc = make_doc(f->method, f->name, f->doc, true, false, false);
        if (!d->ml_doc) return -1;
    }
    return 0;
}

/* The bound catalogue method `name` of x, or NULL with no exception set when there is none. */
PyObject *lpy_catalog_method(PyObject *x, PyObject *name) {
    const char *s = PyUnicode_AsUTF8(name);
    if (!s) {
        PyErr_Clear();
        return NULL;
    }
    if (!lp_method_exists(s) || strchr(s, '.') || !method_defs) return NULL;
    const lp_func *fn = lp_func_find(s);
    int i = 0;
    while (lp_func_at(i) != fn) i++;
    PyObject *self = PyTuple_Pack(2, x, name);
    if (!self) return NULL;
    PyObject *f = PyCFunction_NewEx(&method_defs[i], self, NULL);
    Py_DECREF(self);
    return f;
}

/* Names of the catalogue's methods (for dir()). */
PyObject *lpy_catalog_method_names(void) {
    PyObject *l = PyList_New(0);
    if (!l) return NULL;
    for (int i = 0; i < lp_func_count(); i++) {
        const lp_func *f = lp_func_at(i);
        if (!f->method) continue;
        PyObject *s = PyUnicode_FromString(f->name);
        if (!s || PyList_Append(l, s) < 0) {
            Py_XDECREF(s);
            Py_DECREF(l);
            return NULL;
        }
        Py_DECREF(s);
    }
    return l;
}

/* ---- indexing: x[key] and x[key] = v through lp_getitem / lp_setitem -------------------- */

#define MAXKEY 64

static int clamp_index(PyObject *o, int64_t *out) {
    PyObject *i = PyNumber_Index(o);
    if (!i) return -1;
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(i, &overflow);
    Py_DECREF(i);
    if (v == -1 && PyErr_Occurred()) return -1;
    *out = overflow > 0 ? INT64_MAX : overflow < 0 ? INT64_MIN + 1 : v;
    return 0;
}

/* One key item: slices and Ellipsis here, the rest as any argument. parts: 3 values per slice. */
static int key_item(PyObject *k, vpool *pool, lp_value *out, lp_value *parts) {
    if (k == Py_Ellipsis) {
        *out = lp_value_none();
        out->kind = LP_VAL_ELLIPSIS;
        return 0;
    }
    if (PySlice_Check(k)) {
        PySliceObject *s = (PySliceObject *)k;
        PyObject *f[3] = {s->start, s->stop, s->step};
        for (int q = 0; q < 3; q++) {
            parts[q] = lp_value_none();
            if (f[q] == Py_None) continue;
            int64_t v;
            if (clamp_index(f[q], &v) < 0) {
                PyErr_Clear();
                PyErr_SetString(PyExc_TypeError, "slice indices must be integers or None or have an __index__ method");
                return -1;
            }
            parts[q] = lp_value_int(v);
        }
        *out = lp_value_tuple(parts, 3);
        out->kind = LP_VAL_SLICE;
        return 0;
    }
    if (PyIndex_Check(k) && !PyBool_Check(k) && !LpyArray_Check(k) && !PyObject_CheckBuffer(k)) {
        int64_t v;
        if (clamp_index(k, &v) < 0) return -1;
        *out = lp_value_int(v);
        return 0;
    }
    if (PyFloat_Check(k)) {
        PyErr_SetString(PyExc_IndexError, "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and integer "
                                          "or boolean arrays are valid indices");
        return -1;
    }
    return to_value(k, pool, out, 0);
}

/* key as n values; 0 / -1 */
static int key_values(PyObject *key, vpool *pool, lp_value *vals, lp_value (*parts)[3], int *n) {
    *n = 0;
    if (PyTuple_Check(key)) {
        Py_ssize_t m = PyTuple_GET_SIZE(key);
        if (m > MAXKEY) {
            PyErr_SetString(PyExc_IndexError, "too many indices for array");
            return -1;
        }
        for (Py_ssize_t i = 0; i < m; i++) {
            if (key_item(PyTuple_GET_ITEM(key, i), pool, &vals[i], parts[i]) < 0) return -1;
            (*n)++;
        }
        return 0;
    }
    if (key_item(key, pool, &vals[0], parts[0]) < 0) return -1;
    *n = 1;
    return 0;
}

static void key_free(lp_value *vals, int n) {
    for (int i = 0; i < n; i++)
        if (vals[i].kind != LP_VAL_SLICE) vfree(&vals[i]);
}

PyObject *lpy_getitem(lp_array *x, PyObject *key) {
    vpool pool = {0};
    lp_value vals[MAXKEY], parts[MAXKEY][3];
    int n = 0;
    PyObject *res = NULL;
    if (key_values(key, &pool, vals, parts, &n) == 0) {
        lp_array *r = NULL;
        lp_status st = lp_getitem(lpy.ctx, x, n, vals, &r);
        res = st == LP_OK ? lpy_array_new(r) : lpy_raise(lpy.ctx, st);
    }
    key_free(vals, n);
    pool_free(&pool);
    return res;
}

int lpy_setitem(LpyArray *self, PyObject *key, PyObject *value) {
    if (!value) {
        PyErr_SetString(PyExc_ValueError, "cannot delete array elements");
        return -1;
    }
    vpool pool = {0};
    lp_value vals[MAXKEY], parts[MAXKEY][3];
    int n = 0, rc = -1;
    lp_array *v = lpy_to_array(value, true);
    if (v && key_values(key, &pool, vals, parts, &n) == 0) {
        lp_array *r = NULL;
        lp_status st = lp_setitem(lpy.ctx, self->a, n, vals, v, &r);
        if (st == LP_OK) {
            /* rebind: this handle now names the new lazy array (NumPy's visible semantics) */
            lp_array_release(self->a);
            self->a = r;
            rc = 0;
        } else {
            lpy_raise(lpy.ctx, st);
        }
    }
    lp_array_release(v);
    key_free(vals, n);
    pool_free(&pool);
    return rc;
}
