/* Loops and graph files for Python: placeholders, the loop builders over traced subgraphs
 * (lampy/loops.py traces the Python functions once and calls these), and loading / dumping
 * graph documents. Private names (leading underscore): the public API is in loops.py. */
#include "lampy_py.h"

#include <string.h>

#define KW (PyCFunction)(void (*)(void))

/* A list/tuple of Arrays as new lp_array references; *n its length. */
static lp_array **array_list(PyObject *seq, const char *what, int *n) {
    PyObject *fast = PySequence_Fast(seq, what);
    if (!fast) return NULL;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    if (len > 1 << 20) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError, "%s: too many arrays", what);
        return NULL;
    }
    lp_array **v = PyMem_Calloc((size_t)len + 1, sizeof *v);
    if (!v) {
        Py_DECREF(fast);
        return (lp_array **)PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        PyObject *o = PySequence_Fast_GET_ITEM(fast, i);
        if (!LpyArray_Check(o)) {
            PyErr_Format(PyExc_TypeError, "%s: item %zd is %.80s, not a lampy Array", what, i, Py_TYPE(o)->tp_name);
            for (Py_ssize_t j = 0; j < i; j++) lp_array_release(v[j]);
            PyMem_Free(v);
            Py_DECREF(fast);
            return NULL;
        }
        v[i] = ((LpyArray *)o)->a;
        lp_array_retain(v[i]);
    }
    Py_DECREF(fast);
    *n = (int)len;
    return v;
}

static void list_free(lp_array **v, int n) {
    if (!v) return;
    for (int i = 0; i < n; i++) lp_array_release(v[i]);
    PyMem_Free(v);
}

/* n new references as a Python list of Arrays (stolen, also on failure). */
static PyObject *arrays_to_list(lp_array **v, int n) {
    PyObject *l = PyList_New(n);
    for (int i = 0; i < n; i++) {
        if (!l) { lp_array_release(v[i]); continue; }
        PyObject *a = lpy_array_new(v[i]);
        if (!a) { Py_CLEAR(l); continue; }
        PyList_SET_ITEM(l, i, a);
    }
    return l;
}

static PyObject *py_placeholder(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kw[] = {"shape", "dtype", NULL};
    PyObject *shape = NULL, *dtype = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:placeholder", kw, &shape, &dtype)) return NULL;
    int64_t sh[LP_MAX_NDIM];
    int nd = lpy_parse_shape(shape, sh);
    if (nd < 0) return NULL;
    lp_dtype dt = LP_FLOAT64;
    if (dtype != Py_None && lpy_parse_dtype(dtype, &dt) < 0) return NULL;
    lp_array *a;
    lp_status st = lp_placeholder(lpy.ctx, dt, nd, sh, &a);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    return lpy_array_new(a);
}

static PyObject *py_loop_index(PyObject *self, PyObject *noargs) {
    lp_array *a;
    lp_status st = lp_loop_index(lpy.ctx, &a);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    return lpy_array_new(a);
}

/* _loop(kind, init, body_params, body_outs, cond_params, cond_out, lower, upper, max_iter,
 * last_state) -> list of the final carried values */
static PyObject *py_loop(PyObject *self, PyObject *args) {
    const char *kind;
    PyObject *init_l, *bp_l, *bo_l, *cp_l, *co;
    long long lower, upper, max_iter;
    int last_state;
    if (!PyArg_ParseTuple(args, "sOOOOOLLLp:_loop", &kind, &init_l, &bp_l, &bo_l, &cp_l, &co, &lower, &upper, &max_iter,
                          &last_state))
        return NULL;
    bool fori = strcmp(kind, "fori") == 0;
    int ni = 0, nbp = 0, nbo = 0, ncp = 0;
    lp_array **init = array_list(init_l, "init", &ni), **bp = NULL, **bo = NULL, **cp = NULL, **outs = NULL;
    PyObject *res = NULL;
    if (!init || !(bp = array_list(bp_l, "body params", &nbp)) || !(bo = array_list(bo_l, "body outputs", &nbo)) ||
        !(cp = array_list(cp_l, "cond params", &ncp)))
        goto done;
    if (!fori && !LpyArray_Check(co)) {
        PyErr_SetString(PyExc_TypeError, "cond_fun must return a lampy Array (a 0-d bool)");
        goto done;
    }
    if (!(outs = PyMem_Calloc((size_t)ni + 1, sizeof *outs))) { PyErr_NoMemory(); goto done; }
    lp_array *cond_out = fori ? NULL : ((LpyArray *)co)->a;
    lp_subgraph body = {nbp, bp, nbo, bo}, cond = {ncp, cp, 1, &cond_out};
    lp_status st = fori ? lp_fori_loop(lpy.ctx, lower, upper, &body, ni, init, outs)
                        : lp_while_loop(lpy.ctx, &cond, &body, ni, init, max_iter, last_state ? LP_LOOP_LAST_STATE : 0, outs);
    if (st != LP_OK) {
        lpy_raise(lpy.ctx, st);
        goto done;
    }
    res = arrays_to_list(outs, ni);
done:
    list_free(init, ni);
    list_free(bp, nbp);
    list_free(bo, nbo);
    list_free(cp, ncp);
    PyMem_Free(outs);
    return res;
}

/* _graph_load(text) -> list of the targets */
static PyObject *py_graph_load(PyObject *self, PyObject *args) {
    const char *text;
    if (!PyArg_ParseTuple(args, "s:_graph_load", &text)) return NULL;
    lp_array **t = NULL;
    int n = 0;
    lp_status st = lp_graph_load(lpy.ctx, text, &t, &n);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    for (int i = 0; i < n; i++) lp_array_retain(t[i]);
    PyObject *l = arrays_to_list(t, n); /* takes the extra references */
    lp_arrays_release(t, n);
    return l;
}

/* _graph_dump(arrays, data_dir or None) -> text */
static PyObject *py_graph_dump(PyObject *self, PyObject *args) {
    PyObject *l, *dir = Py_None;
    if (!PyArg_ParseTuple(args, "O|O:_graph_dump", &l, &dir)) return NULL;
    PyObject *dirb = NULL;
    if (dir != Py_None && !PyUnicode_FSConverter(dir, &dirb)) return NULL;
    int n = 0;
    lp_array **t = array_list(l, "targets", &n);
    PyObject *r = NULL;
    if (t) {
        char *s = NULL;
        lp_status st = lp_graph_dump_to(lpy.ctx, t, n, dirb ? PyBytes_AS_STRING(dirb) : NULL, &s);
        if (st != LP_OK) lpy_raise(lpy.ctx, st);
        else r = PyUnicode_FromString(s);
        lp_string_free(s);
        list_free(t, n);
    }
    Py_XDECREF(dirb);
    return r;
}

static PyMethodDef loop_functions[] = {
    {"placeholder", KW py_placeholder, METH_VARARGS | METH_KEYWORDS,
     "placeholder(shape, dtype=float64)\n--\n\nA value a loop binds on each iteration (what "
     "while_loop and fori_loop pass to the functions they trace). It has no data: computing an "
     "expression over a placeholder outside its loop is an error."},
    {"_loop_index", py_loop_index, METH_NOARGS, "The index placeholder of a fori_loop body (0-d int64, weak)."},
    {"_loop", py_loop, METH_VARARGS, "The loop builders (lampy/loops.py)."},
    {"_graph_load", py_graph_load, METH_VARARGS, "Targets of a graph document (lampy/loops.py: load_graph)."},
    {"_graph_dump", py_graph_dump, METH_VARARGS, "Graph document of targets (lampy/loops.py: Graph.dump)."},
    {NULL, NULL, 0, NULL},
};

int lpy_loop_init(PyObject *m) { return PyModule_AddFunctions(m, loop_functions); }
