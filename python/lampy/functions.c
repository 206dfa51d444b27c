/* Module-level functions that are Python's own: asarray (NumPy data wrapped without copying,
 * chunks=), load/save (Python paths), rechunk. Every other function comes from the library's
 * catalogue (catalog.c). */
#include "lampy_py.h"

#include <math.h>
#include <string.h>

#define KW (PyCFunction)(void (*)(void))

/* `chunks=` on a fresh handle (ours alone): set it in place. Steals `a`. */
static PyObject *fresh_with_chunks(lp_array *a, PyObject *chunks) {
    if (chunks && chunks != Py_None && lpy_set_chunks(a, chunks) < 0) {
        lp_array_release(a);
        return NULL;
    }
    return lpy_array_new(a);
}

/* ---- conversion, files ------------------------------------------------------------ */

/* device= and copy= are the array API's (NumPy 2 has both): one device, "cpu"; copy=True of a
 * wrapped buffer copies it now (later writes to it must not show), of a lazy array it is a new
 * handle on the same immutable node (a later x[i] = v rebinds only x); copy=None/False of a lazy
 * array of the same dtype is the array itself; copy=False refuses numbers, sequences and a new
 * dtype. */
static PyObject *fn_asarray(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"a", "dtype", "device", "copy", "chunks", NULL};
    PyObject *obj, *dtype = Py_None, *device = Py_None, *copy = Py_None, *chunks = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O$OOO:asarray", kwlist, &obj, &dtype, &device, &copy, &chunks))
        return NULL;
    if (device != Py_None && (!PyUnicode_Check(device) || PyUnicode_CompareWithASCIIString(device, "cpu") != 0)) {
        PyErr_Format(PyExc_ValueError, "asarray(): unsupported device %R (lampy's only device is 'cpu')", device);
        return NULL;
    }
    int want_copy = copy == Py_None ? -1 : PyObject_IsTrue(copy);
    if (want_copy == -1 && PyErr_Occurred()) return NULL;
    bool is_lazy = LpyArray_Check(obj), is_buffer = !is_lazy && PyObject_CheckBuffer(obj);
    if (want_copy == 0 && !is_lazy && !is_buffer) {
        PyErr_SetString(PyExc_ValueError, "Unable to avoid copy while creating an array as requested.");
        return NULL;
    }
    PyObject *copied = NULL;
    if (want_copy == 1 && is_buffer && lpy.numpy) {
        copied = PyObject_CallMethod(lpy.numpy, "array", "O", obj);
        if (!copied) return NULL;
        obj = copied;
    }
    lp_array *a = lpy_to_array(obj, false);
    Py_XDECREF(copied); /* the wrap keeps its own reference to the copy */
    if (!a) return NULL;
    bool fresh = !is_lazy;
    if (want_copy == 0 && dtype != Py_None) {
        lp_dtype dt;
        if (lpy_parse_dtype(dtype, &dt) < 0 || dt != lp_array_dtype(a)) {
            lp_array_release(a);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "Unable to avoid copy while creating an array as requested.");
            return NULL;
        }
    }
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
    if (chunks == Py_None && !fresh && want_copy != 1) {
        /* NumPy's asarray(x) and asarray(x, copy=False) return x itself: a later x[i] = v, which
         * rebinds x's handle to a new node, shows through both names, as a write would in NumPy */
        lp_array_release(a);
        Py_INCREF(obj);
        return obj;
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
    {"asarray", KW fn_asarray, METH_VARARGS | METH_KEYWORDS,
     "asarray(a, dtype=None, *, device=None, copy=None, chunks=None)\n--\n\nA lazy array over a: "
     "buffer-protocol objects (NumPy arrays of bool, int8-64, uint8-64, float16-64 with any strides) "
     "are wrapped without copying and read when the expression runs (copy=True: copied now); lists "
     "and scalars are converted (copy=False refuses them). device: None or 'cpu'."},
    {"load", KW fn_load, METH_VARARGS | METH_KEYWORDS,
     "load(path, chunks=None)\n--\n\nA lazy array over a .npy file (read when computed)."},
    {"save", KW fn_save, METH_VARARGS | METH_KEYWORDS,
     "save(file, arr, *, chunks=None, codec=None, level=0, order='C', endian='little')\n--\n\n"
     "Compute arr and write it to a .npy file (\".npy\" is appended to str paths without it, as "
     "numpy.save does), or to a Zarr v3 array when the name ends in \".zarr\" or a Zarr option is "
     "given (codec 'none', 'gzip', 'zstd', 'blosc'). file may be a URL (s3://bucket/key, "
     "http(s)://)."},
    {"rechunk", KW fn_rechunk, METH_VARARGS | METH_KEYWORDS,
     "rechunk(x, chunks=None)\n--\n\nThe same values with another chunk shape."},
    {NULL, NULL, 0, NULL},
};

int lpy_functions_init(PyObject *m) { return PyModule_AddFunctions(m, lpy_function_methods); }
