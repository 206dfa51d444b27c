/* Regularized / quadratic discriminant analysis for lampy.ml (which holds the scikit-learn
 * style classes): a fitted lp_rda_model in a capsule, its lazy rule and its attributes. The
 * fit reads X in chunked tasks on the runner thread (Ctrl-C cancels it). */
#include "lampy_py.h"

#include <string.h>

static const char CAPSULE[] = "lampy.rda_model";

static void capsule_free(PyObject *c) { lp_rda_model_destroy(PyCapsule_GetPointer(c, CAPSULE)); }

static lp_rda_model *model_of(PyObject *c) { return PyCapsule_GetPointer(c, CAPSULE); }

typedef struct {
    lp_array *X, *y;
    lp_rda_opts opts;
    lp_rda_model *out;
} fit_args;

static lp_status fit_fn(lp_ctx *ctx, void *p) {
    fit_args *f = p;
    return lp_rda_fit(ctx, f->X, f->y, &f->opts, &f->out);
}

/* _rda_fit(X, y, alpha, gamma, reg_param, priors or None) -> model */
static PyObject *py_rda_fit(PyObject *self, PyObject *args) {
    PyObject *ox, *oy, *opri;
    fit_args f;
    memset(&f, 0, sizeof f);
    if (!PyArg_ParseTuple(args, "OOdddO:_rda_fit", &ox, &oy, &f.opts.alpha, &f.opts.gamma, &f.opts.reg_param, &opri))
        return NULL;
    double *pri = NULL;
    if (opri != Py_None) {
        PyObject *seq = PySequence_Fast(opri, "priors must be a sequence of floats");
        if (!seq) return NULL;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        if (!(pri = PyMem_Calloc((size_t)n + 1, sizeof *pri))) { Py_DECREF(seq); return PyErr_NoMemory(); }
        for (Py_ssize_t i = 0; i < n; i++) {
            pri[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, i));
            if (pri[i] == -1.0 && PyErr_Occurred()) { Py_DECREF(seq); PyMem_Free(pri); return NULL; }
        }
        Py_DECREF(seq);
        f.opts.priors = pri;
        f.opts.n_priors = (int)n;
    }
    int rc = -1;
    if ((f.X = lpy_to_array(ox, false)) && (f.y = lpy_to_array(oy, false))) rc = lpy_run_job(fit_fn, &f);
    lp_array_release(f.X);
    lp_array_release(f.y);
    PyMem_Free(pri);
    if (rc < 0) { lp_rda_model_destroy(f.out); return NULL; }
    PyObject *c = PyCapsule_New(f.out, CAPSULE, capsule_free);
    if (!c) lp_rda_model_destroy(f.out);
    return c;
}

/* _rda_apply(model, "predict" | "decision_function", X) -> lazy Array */
static PyObject *py_rda_apply(PyObject *self, PyObject *args) {
    PyObject *cap, *ox;
    const char *what;
    if (!PyArg_ParseTuple(args, "OsO:_rda_apply", &cap, &what, &ox)) return NULL;
    lp_rda_model *m = model_of(cap);
    if (!m) return NULL;
    lp_array *X = lpy_to_array(ox, false), *out = NULL;
    if (!X) return NULL;
    lp_status st = strcmp(what, "predict") == 0 ? lp_rda_predict(lpy.ctx, m, X, &out)
                                                : lp_rda_decision_function(lpy.ctx, m, X, &out);
    lp_array_release(X);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    return lpy_array_new(out);
}

/* _rda_attr(model, name) -> NumPy array */
static PyObject *py_rda_attr(PyObject *self, PyObject *args) {
    PyObject *cap;
    const char *name;
    if (!PyArg_ParseTuple(args, "Os:_rda_attr", &cap, &name)) return NULL;
    lp_rda_model *m = model_of(cap);
    if (!m) return NULL;
    lp_buffer *b;
    lp_status st = lp_rda_attr(lpy.ctx, m, name, &b);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    return lpy_result_to_py(b, false);
}

static PyMethodDef rda_functions[] = {
    {"_rda_fit", py_rda_fit, METH_VARARGS, "Fit lp_rda (lampy.ml's discriminant analyses)."},
    {"_rda_apply", py_rda_apply, METH_VARARGS, "Lazy predict / decision_function of a fitted lp_rda model."},
    {"_rda_attr", py_rda_attr, METH_VARARGS, "An attribute of a fitted lp_rda model."},
    {NULL, NULL, 0, NULL},
};

int lpy_rda_init(PyObject *m) { return PyModule_AddFunctions(m, rda_functions); }
