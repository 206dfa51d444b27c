/* Products and numpy.linalg-style functions: matmul (the @ operator), dot, outer, tensordot,
 * and lampy.linalg.{solve, inv, cholesky, det, slogdet, eigh, eigvalsh, lstsq, norm}. Each part
 * is compiled when include/lampy.h declares it (meson checks the signatures). */
#include "lampy_py.h"

#include <math.h>
#include <string.h>

#define KW (PyCFunction)(void (*)(void))

/* Two operands as arrays (Python numbers weak), or NULL with an exception. */
static int two_operands(PyObject *x, PyObject *y, lp_array **a, lp_array **b, const char *what) {
    PyObject *ops[2] = {x, y};
    lp_array **outs[2] = {a, b};
    int hint = -1;
    if (LpyArray_Check(x)) hint = (int)lp_array_dtype(((LpyArray *)x)->a);
    else if (LpyArray_Check(y)) hint = (int)lp_array_dtype(((LpyArray *)y)->a);
    *a = *b = NULL;
    for (int i = 0; i < 2; i++) {
        int r = lpy_operand(ops[i], hint, outs[i]);
        if (r <= 0) {
            if (r == 0)
                PyErr_Format(PyExc_TypeError, "%s: unsupported operand type %.100s", what,
                             Py_TYPE(ops[i])->tp_name);
            lp_array_release(*a);
            *a = NULL;
            return -1;
        }
    }
    return 0;
}

static PyObject *finish(lp_status st, lp_array *out) {
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    return lpy_array_new(out);
}

typedef lp_status (*binary_fn)(lp_ctx *, lp_array *, lp_array *, lp_array **);

static PyObject *call_binary(binary_fn fn, PyObject *x, PyObject *y, const char *what) {
    lp_array *a, *b, *out = NULL;
    if (two_operands(x, y, &a, &b, what) < 0) return NULL;
    lp_status st = fn(lpy.ctx, a, b, &out);
    lp_array_release(a);
    lp_array_release(b);
    return finish(st, out);
}

typedef lp_status (*unary_fn)(lp_ctx *, lp_array *, lp_array **);

static PyObject *call_unary(unary_fn fn, PyObject *x) {
    lp_array *a = lpy_to_array(x, false), *out = NULL;
    if (!a) return NULL;
    lp_status st = fn(lpy.ctx, a, &out);
    lp_array_release(a);
    return finish(st, out);
}

static PyObject *two_args(PyObject *args, PyObject *kwargs, const char *fmt, PyObject **x, PyObject **y) {
    static char *kwlist[] = {"a", "b", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kwlist, x, y)) return NULL;
    return Py_None;
}

/* ---- products ------------------------------------------------------------------------- */

PyObject *lpy_matmul(PyObject *x, PyObject *y) { return call_binary(lp_matmul, x, y, "matmul"); }

static PyObject *fn_matmul(PyObject *self, PyObject *args, PyObject *kwargs) {
    PyObject *x, *y;
    if (!two_args(args, kwargs, "OO:matmul", &x, &y)) return NULL;
    return lpy_matmul(x, y);
}

static PyObject *fn_dot(PyObject *self, PyObject *args, PyObject *kwargs) {
    PyObject *x, *y;
    if (!two_args(args, kwargs, "OO:dot", &x, &y)) return NULL;
    return call_binary(lp_dot, x, y, "dot");
}

static PyObject *fn_outer(PyObject *self, PyObject *args, PyObject *kwargs) {
    PyObject *x, *y;
    if (!two_args(args, kwargs, "OO:outer", &x, &y)) return NULL;
    return call_binary(lp_outer, x, y, "outer");
}

static PyObject *fn_tensordot(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"a", "b", "axes", NULL};
    PyObject *x, *y, *axes = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|O:tensordot", kwlist, &x, &y, &axes)) return NULL;
    int aa[LP_MAX_NDIM], ab[LP_MAX_NDIM], na = 2, nb = 2;
    bool lists = false;
    if (axes && !PyIndex_Check(axes)) {
        /* a pair of axis sequences (or of single axes) */
        if (!PySequence_Check(axes) || PySequence_Size(axes) != 2) {
            PyErr_SetString(PyExc_TypeError, "tensordot: axes must be an int or a pair of axis lists");
            return NULL;
        }
        PyObject *pa = PySequence_GetItem(axes, 0), *pb = pa ? PySequence_GetItem(axes, 1) : NULL;
        int rc = pb ? lpy_parse_axes(pa, aa, &na) : -1;
        if (rc == 0) rc = lpy_parse_axes(pb, ab, &nb);
        Py_XDECREF(pa);
        Py_XDECREF(pb);
        if (rc < 0) return NULL;
        if (na != nb) {
            PyErr_SetString(PyExc_ValueError, "shape-mismatch for sum");
            return NULL;
        }
        lists = true;
    } else if (axes) {
        long v = PyLong_AsLong(axes);
        if (v == -1 && PyErr_Occurred()) return NULL;
        if (v < 0 || v > LP_MAX_NDIM) {
            PyErr_Format(PyExc_ValueError, "tensordot: axes must be between 0 and %d", LP_MAX_NDIM);
            return NULL;
        }
        na = (int)v;
    }
    lp_array *a, *b, *out = NULL;
    if (two_operands(x, y, &a, &b, "tensordot") < 0) return NULL;
    lp_status st = lp_tensordot(lpy.ctx, a, b, na, lists ? aa : NULL, lists ? ab : NULL, &out);
    lp_array_release(a);
    lp_array_release(b);
    return finish(st, out);
}

/* ---- numpy.linalg --------------------------------------------------------------------- */

static PyObject *la_solve(PyObject *self, PyObject *args, PyObject *kwargs) {
    PyObject *x, *y;
    if (!two_args(args, kwargs, "OO:solve", &x, &y)) return NULL;
    return call_binary(lp_linalg_solve, x, y, "solve");
}

static PyObject *la_unary(PyObject *args, PyObject *kwargs, const char *name, unary_fn fn) {
    static char *kwlist[] = {"a", NULL};
    PyObject *x;
    char fmt[32];
    snprintf(fmt, sizeof fmt, "O:%s", name);
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kwlist, &x)) return NULL;
    return call_unary(fn, x);
}

static PyObject *la_inv(PyObject *self, PyObject *args, PyObject *kwargs) {
    return la_unary(args, kwargs, "inv", lp_linalg_inv);
}
static PyObject *la_cholesky(PyObject *self, PyObject *args, PyObject *kwargs) {
    return la_unary(args, kwargs, "cholesky", lp_linalg_cholesky);
}
static PyObject *la_det(PyObject *self, PyObject *args, PyObject *kwargs) {
    return la_unary(args, kwargs, "det", lp_linalg_det);
}

static PyObject *pair(lp_status st, lp_array *p, lp_array *q) {
    if (st != LP_OK) {
        lp_array_release(p);
        lp_array_release(q);
        return lpy_raise(lpy.ctx, st);
    }
    PyObject *a = lpy_array_new(p);
    PyObject *b = lpy_array_new(q);
    if (!a || !b) {
        Py_XDECREF(a);
        Py_XDECREF(b);
        return NULL;
    }
    return Py_BuildValue("(NN)", a, b);
}

static PyObject *la_slogdet(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"a", NULL};
    PyObject *x;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:slogdet", kwlist, &x)) return NULL;
    lp_array *a = lpy_to_array(x, false), *s = NULL, *l = NULL;
    if (!a) return NULL;
    lp_status st = lp_linalg_slogdet(lpy.ctx, a, &s, &l);
    lp_array_release(a);
    return pair(st, s, l);
}

static int check_uplo(PyObject *uplo) {
    if (!uplo || (PyUnicode_Check(uplo) && PyUnicode_CompareWithASCIIString(uplo, "L") == 0)) return 0;
    PyErr_SetString(PyExc_ValueError, "only UPLO='L' is supported");
    return -1;
}

static PyObject *la_eigh(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"a", "UPLO", NULL};
    PyObject *x, *uplo = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:eigh", kwlist, &x, &uplo)) return NULL;
    if (check_uplo(uplo) < 0) return NULL;
    lp_array *a = lpy_to_array(x, false), *w = NULL, *v = NULL;
    if (!a) return NULL;
    lp_status st = lp_linalg_eigh(lpy.ctx, a, &w, &v);
    lp_array_release(a);
    return pair(st, w, v);
}

static PyObject *la_eigvalsh(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"a", "UPLO", NULL};
    PyObject *x, *uplo = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:eigvalsh", kwlist, &x, &uplo)) return NULL;
    if (check_uplo(uplo) < 0) return NULL;
    lp_array *a = lpy_to_array(x, false), *w = NULL;
    if (!a) return NULL;
    lp_status st = lp_linalg_eigh(lpy.ctx, a, &w, NULL);
    lp_array_release(a);
    return finish(st, w);
}

static PyObject *la_lstsq(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"a", "b", "rcond", NULL};
    PyObject *x, *y, *orcond = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|O:lstsq", kwlist, &x, &y, &orcond)) return NULL;
    double rcond = -1; /* None: NumPy 2's default, eps * max(M, N) */
    if (orcond != Py_None) {
        rcond = PyFloat_AsDouble(orcond);
        if (rcond == -1.0 && PyErr_Occurred()) return NULL;
    }
    lp_array *a, *b, *out = NULL;
    if (two_operands(x, y, &a, &b, "lstsq") < 0) return NULL;
    lp_status st = lp_linalg_lstsq(lpy.ctx, a, b, rcond, &out);
    lp_array_release(a);
    lp_array_release(b);
    return finish(st, out);
}

static PyObject *la_norm(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"x", "ord", "axis", "keepdims", NULL};
    PyObject *x, *ord = Py_None, *axis = Py_None;
    int keepdims = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OOp:norm", kwlist, &x, &ord, &axis, &keepdims))
        return NULL;
    if (axis != Py_None || keepdims) {
        PyErr_SetString(PyExc_NotImplementedError, "norm: axis= and keepdims= are not supported yet");
        return NULL;
    }
    char buf[16];
    const char *o = NULL;
    if (PyUnicode_Check(ord)) {
        o = PyUnicode_AsUTF8(ord);
        if (!o) return NULL;
    } else if (ord != Py_None) {
        double d = PyFloat_AsDouble(ord);
        if (d == -1.0 && PyErr_Occurred()) return NULL;
        if (isinf(d)) o = d > 0 ? "inf" : "-inf";
        else if (d == 1 || d == -1 || d == 2) {
            snprintf(buf, sizeof buf, "%d", (int)d);
            o = buf;
        } else {
            PyErr_Format(PyExc_ValueError, "Invalid norm order %R", ord);
            return NULL;
        }
    }
    lp_array *a = lpy_to_array(x, false), *out = NULL;
    if (!a) return NULL;
    lp_status st = lp_linalg_norm(lpy.ctx, a, o, &out);
    lp_array_release(a);
    return finish(st, out);
}

static PyMethodDef product_methods[] = {
    {"matmul", KW fn_matmul, METH_VARARGS | METH_KEYWORDS,
     "matmul(a, b)\n--\n\nLazy matrix product (a @ b), NumPy's broadcasting of stacks."},
    {"dot", KW fn_dot, METH_VARARGS | METH_KEYWORDS, "dot(a, b)\n--\n\nLazy numpy.dot."},
    {"outer", KW fn_outer, METH_VARARGS | METH_KEYWORDS, "outer(a, b)\n--\n\nLazy outer product."},
    {"tensordot", KW fn_tensordot, METH_VARARGS | METH_KEYWORDS,
     "tensordot(a, b, axes=2)\n--\n\nLazy numpy.tensordot."},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef linalg_methods[] = {
    {"solve", KW la_solve, METH_VARARGS | METH_KEYWORDS, "solve(a, b)\n--\n\nLazy numpy.linalg.solve."},
    {"inv", KW la_inv, METH_VARARGS | METH_KEYWORDS, "inv(a)\n--\n\nLazy matrix inverse."},
    {"cholesky", KW la_cholesky, METH_VARARGS | METH_KEYWORDS, "cholesky(a)\n--\n\nLazy Cholesky factor L."},
    {"det", KW la_det, METH_VARARGS | METH_KEYWORDS, "det(a)\n--\n\nLazy determinant."},
    {"slogdet", KW la_slogdet, METH_VARARGS | METH_KEYWORDS,
     "slogdet(a)\n--\n\n(sign, logabsdet), both lazy."},
    {"eigh", KW la_eigh, METH_VARARGS | METH_KEYWORDS,
     "eigh(a, UPLO='L')\n--\n\n(eigenvalues, eigenvectors) of a symmetric matrix, both lazy."},
    {"eigvalsh", KW la_eigvalsh, METH_VARARGS | METH_KEYWORDS,
     "eigvalsh(a, UPLO='L')\n--\n\nEigenvalues of a symmetric matrix (lazy)."},
    {"lstsq", KW la_lstsq, METH_VARARGS | METH_KEYWORDS,
     "lstsq(a, b, rcond=None)\n--\n\nThe least-squares solution x (lazy). Unlike NumPy, only x is "
     "returned (no residuals, rank or singular values)."},
    {"norm", KW la_norm, METH_VARARGS | METH_KEYWORDS,
     "norm(x, ord=None)\n--\n\nLazy vector or matrix norm; ord None, 'fro', 1, -1, 2 (vectors), "
     "inf, -inf."},
    {NULL, NULL, 0, NULL},
};

int lpy_linalg_init(PyObject *m) {
    if (PyModule_AddFunctions(m, product_methods) < 0) return -1;
    PyObject *la = PyModule_New("lampy._linalg");
    if (!la) return -1;
    if (PyModule_AddFunctions(la, linalg_methods) < 0) {
        Py_DECREF(la);
        return -1;
    }
    return PyModule_AddObject(m, "_linalg", la) < 0 ? (Py_DECREF(la), -1) : 0;
}
