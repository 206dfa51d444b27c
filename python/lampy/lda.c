/* lampy.FisherLDA: Fisher's linear discriminant over lp_fisher_lda_fit, with scikit-learn's
 * names (fit, predict, transform, decision_function, score; coef_, intercept_, scalings_,
 * means_, priors_, classes_, ...). The fit reads X in chunked tasks (on the runner thread, so
 * Ctrl-C cancels it); predict/transform/decision_function return lazy arrays. */
#include "lampy_py.h"

#include <string.h>


typedef struct {
    PyObject_HEAD
    lp_lda_model *m;
    PyObject *shrinkage;    /* None, "auto" or a float in [0, 1] */
    PyObject *n_components; /* None or int */
    PyObject *priors;       /* None or a sequence of floats */
} LpyLDA;

static PyTypeObject LpyLDA_Type;
static PyObject *NotFittedError;

static int lda_init(PyObject *o, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"shrinkage", "priors", "n_components", NULL};
    LpyLDA *self = (LpyLDA *)o;
    PyObject *shrinkage = Py_None, *priors = Py_None, *ncomp = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$OOO:FisherLDA", kwlist, &shrinkage, &priors, &ncomp))
        return -1;
    Py_XSETREF(self->shrinkage, Py_NewRef(shrinkage));
    Py_XSETREF(self->priors, Py_NewRef(priors));
    Py_XSETREF(self->n_components, Py_NewRef(ncomp));
    return 0;
}

static PyObject *lda_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    LpyLDA *self = (LpyLDA *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->shrinkage = Py_NewRef(Py_None);
    self->priors = Py_NewRef(Py_None);
    self->n_components = Py_NewRef(Py_None);
    return (PyObject *)self;
}

static void lda_dealloc(PyObject *o) {
    LpyLDA *self = (LpyLDA *)o;
    lp_lda_model_destroy(self->m);
    Py_XDECREF(self->shrinkage);
    Py_XDECREF(self->priors);
    Py_XDECREF(self->n_components);
    Py_TYPE(o)->tp_free(o);
}

static int need_fitted(LpyLDA *self) {
    if (self->m) return 0;
    PyErr_SetString(NotFittedError, "This FisherLDA instance is not fitted yet. Call 'fit' with "
                                    "appropriate arguments before using this estimator.");
    return -1;
}

/* Parameters → lp_lda_opts. priors are copied into *priors_out (PyMem_Free by the caller). */
static int make_opts(LpyLDA *self, lp_lda_opts *o, double **priors_out) {
    memset(o, 0, sizeof *o);
    *priors_out = NULL;
    PyObject *s = self->shrinkage;
    if (s == Py_None) {
        o->shrinkage_kind = LP_LDA_SHRINKAGE_NONE;
    } else if (PyUnicode_Check(s)) {
        if (PyUnicode_CompareWithASCIIString(s, "auto") != 0) {
            PyErr_Format(PyExc_ValueError, "shrinkage must be None, 'auto' or a float in [0, 1], got %R", s);
            return -1;
        }
        o->shrinkage_kind = LP_LDA_SHRINKAGE_AUTO;
    } else {
        double v = PyFloat_AsDouble(s);
        if (v == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "shrinkage must be None, 'auto' or a float in [0, 1], got %R", s);
            return -1;
        }
        o->shrinkage_kind = LP_LDA_SHRINKAGE_FIXED;
        o->shrinkage = v;
    }
    if (self->n_components != Py_None) {
        long n = PyLong_AsLong(self->n_components);
        if (n == -1 && PyErr_Occurred()) return -1;
        if (n < 1 || n > INT32_MAX) {
            PyErr_Format(PyExc_ValueError, "n_components must be a positive int, got %ld", n);
            return -1;
        }
        o->n_components = (int)n;
    }
    if (self->priors != Py_None) {
        PyObject *seq = PySequence_Fast(self->priors, "priors must be a sequence of floats");
        if (!seq) return -1;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        double *p = PyMem_Calloc((size_t)n + 1, sizeof *p);
        if (!p) {
            Py_DECREF(seq);
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            p[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, i));
            if (p[i] == -1.0 && PyErr_Occurred()) {
                Py_DECREF(seq);
                PyMem_Free(p);
                return -1;
            }
        }
        Py_DECREF(seq);
        o->priors = p;
        o->n_priors = (int)n;
        *priors_out = p;
    }
    return 0;
}

typedef struct {
    lp_array *X, *y;
    const lp_lda_opts *opts;
    lp_lda_model *out;
} fit_args;

static lp_status fit_fn(lp_ctx *ctx, void *p) {
    fit_args *f = p;
    return lp_fisher_lda_fit(ctx, f->X, f->y, f->opts, &f->out);
}

static PyObject *lda_fit(PyObject *o, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"X", "y", NULL};
    LpyLDA *self = (LpyLDA *)o;
    PyObject *ox, *oy;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO:fit", kwlist, &ox, &oy)) return NULL;
    lp_lda_opts opts;
    double *priors;
    if (make_opts(self, &opts, &priors) < 0) return NULL;
    fit_args f = {NULL, NULL, &opts, NULL};
    int rc = -1;
    if ((f.X = lpy_to_array(ox, false)) && (f.y = lpy_to_array(oy, false))) rc = lpy_run_job(fit_fn, &f);
    lp_array_release(f.X);
    lp_array_release(f.y);
    PyMem_Free(priors);
    if (rc < 0) {
        lp_lda_model_destroy(f.out);
        return NULL;
    }
    lp_lda_model_destroy(self->m);
    self->m = f.out;
    return Py_NewRef(o);
}

typedef lp_status (*apply_fn)(lp_ctx *, const lp_lda_model *, lp_array *, lp_array **);

static PyObject *apply(LpyLDA *self, PyObject *args, PyObject *kwargs, const char *name, apply_fn fn) {
    static char *kwlist[] = {"X", NULL};
    PyObject *ox;
    char fmt[40];
    snprintf(fmt, sizeof fmt, "O:%s", name);
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kwlist, &ox)) return NULL;
    if (need_fitted(self) < 0) return NULL;
    lp_array *X = lpy_to_array(ox, false), *out = NULL;
    if (!X) return NULL;
    lp_status st = fn(lpy.ctx, self->m, X, &out);
    lp_array_release(X);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    return lpy_array_new(out);
}

static PyObject *lda_predict(PyObject *o, PyObject *args, PyObject *kwargs) {
    return apply((LpyLDA *)o, args, kwargs, "predict", lp_lda_predict);
}
static PyObject *lda_transform(PyObject *o, PyObject *args, PyObject *kwargs) {
    return apply((LpyLDA *)o, args, kwargs, "transform", lp_lda_transform);
}
static PyObject *lda_decision_function(PyObject *o, PyObject *args, PyObject *kwargs) {
    return apply((LpyLDA *)o, args, kwargs, "decision_function", lp_lda_decision_function);
}

static PyObject *lda_fit_transform(PyObject *o, PyObject *args, PyObject *kwargs) {
    PyObject *r = lda_fit(o, args, kwargs);
    if (!r) return NULL;
    Py_DECREF(r);
    PyObject *x = PyTuple_GET_SIZE(args) ? PyTuple_GET_ITEM(args, 0) : (kwargs ? PyDict_GetItemString(kwargs, "X") : NULL);
    PyObject *a = x ? PyTuple_Pack(1, x) : NULL;
    if (!a) return NULL;
    r = lda_transform(o, a, NULL);
    Py_DECREF(a);
    return r;
}

/* Mean accuracy of predict(X) against y, computed. */
static PyObject *lda_score(PyObject *o, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"X", "y", NULL};
    PyObject *ox, *oy;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO:score", kwlist, &ox, &oy)) return NULL;
    PyObject *t = PyTuple_Pack(1, ox);
    PyObject *pred = t ? lda_predict(o, t, NULL) : NULL;
    Py_XDECREF(t);
    if (!pred) return NULL;
    lp_array *y = lpy_to_array(oy, false), *eq = NULL, *mean = NULL;
    PyObject *r = NULL;
    if (y) {
        lp_status st = lp_binary(lpy.ctx, "equal", ((LpyArray *)pred)->a, y, &eq);
        if (st == LP_OK) st = lp_reduce(lpy.ctx, "mean", eq, NULL, 0, false, &mean);
        if (st != LP_OK) lpy_raise(lpy.ctx, st);
        else r = lpy_compute_one(mean);
    }
    if (r && !PyFloat_CheckExact(r)) Py_SETREF(r, PyNumber_Float(r));
    lp_array_release(y);
    lp_array_release(eq);
    lp_array_release(mean);
    Py_DECREF(pred);
    return r;
}

static PyObject *lda_save(PyObject *o, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"path", NULL};
    LpyLDA *self = (LpyLDA *)o;
    PyObject *path;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&:save", kwlist, PyUnicode_FSConverter, &path)) return NULL;
    if (need_fitted(self) < 0) {
        Py_DECREF(path);
        return NULL;
    }
    lp_status st = lp_lda_save(lpy.ctx, self->m, PyBytes_AS_STRING(path));
    Py_DECREF(path);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    Py_RETURN_NONE;
}

static PyObject *lda_load(PyObject *cls, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"path", NULL};
    PyObject *path;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&:load", kwlist, PyUnicode_FSConverter, &path)) return NULL;
    lp_lda_model *m = NULL;
    lp_status st = lp_lda_load(lpy.ctx, PyBytes_AS_STRING(path), &m);
    Py_DECREF(path);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    PyObject *o = PyObject_CallNoArgs(cls);
    if (!o) {
        lp_lda_model_destroy(m);
        return NULL;
    }
    if (!PyObject_TypeCheck(o, &LpyLDA_Type)) {
        lp_lda_model_destroy(m);
        Py_DECREF(o);
        PyErr_SetString(PyExc_TypeError, "load() needs a FisherLDA class");
        return NULL;
    }
    ((LpyLDA *)o)->m = m;
    return o;
}

static PyObject *lda_get_params(PyObject *o, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"deep", NULL};
    int deep = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|p:get_params", kwlist, &deep)) return NULL;
    LpyLDA *self = (LpyLDA *)o;
    return Py_BuildValue("{s:O,s:O,s:O}", "shrinkage", self->shrinkage, "priors", self->priors,
                         "n_components", self->n_components);
}

static PyObject *lda_set_params(PyObject *o, PyObject *args, PyObject *kwargs) {
    if (PyTuple_GET_SIZE(args)) {
        PyErr_SetString(PyExc_TypeError, "set_params() takes keyword arguments only");
        return NULL;
    }
    LpyLDA *self = (LpyLDA *)o;
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (kwargs && PyDict_Next(kwargs, &pos, &k, &v)) {
        PyObject **slot = NULL;
        if (PyUnicode_CompareWithASCIIString(k, "shrinkage") == 0) slot = &self->shrinkage;
        else if (PyUnicode_CompareWithASCIIString(k, "priors") == 0) slot = &self->priors;
        else if (PyUnicode_CompareWithASCIIString(k, "n_components") == 0) slot = &self->n_components;
        if (!slot) {
            PyErr_Format(PyExc_ValueError, "Invalid parameter %R for estimator FisherLDA", k);
            return NULL;
        }
        Py_SETREF(*slot, Py_NewRef(v));
    }
    return Py_NewRef(o);
}

static PyObject *lda_attr(PyObject *o, void *closure) {
    LpyLDA *self = (LpyLDA *)o;
    if (need_fitted(self) < 0) return NULL;
    lp_buffer *buf;
    lp_status st = lp_lda_attr(lpy.ctx, self->m, (const char *)closure, &buf);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    return lpy_result_to_py(buf, false);
}

static PyObject *lda_count(PyObject *o, void *closure) {
    LpyLDA *self = (LpyLDA *)o;
    if (need_fitted(self) < 0) return NULL;
    const char *w = closure;
    int64_t v = w[0] == 'f' ? lp_lda_n_features(self->m)
              : w[0] == 'c' ? lp_lda_n_components(self->m)
              : w[0] == 's' ? lp_lda_n_samples(self->m)
                            : lp_lda_n_classes(self->m);
    return PyLong_FromLongLong(v);
}

static PyObject *lda_get_param(PyObject *o, void *closure) {
    LpyLDA *self = (LpyLDA *)o;
    const char *w = closure;
    return Py_NewRef(w[0] == 's' ? self->shrinkage : w[0] == 'p' ? self->priors : self->n_components);
}

static int lda_set_param(PyObject *o, PyObject *v, void *closure) {
    LpyLDA *self = (LpyLDA *)o;
    const char *w = closure;
    PyObject **slot = w[0] == 's' ? &self->shrinkage : w[0] == 'p' ? &self->priors : &self->n_components;
    Py_XSETREF(*slot, Py_NewRef(v ? v : Py_None));
    return 0;
}

static PyGetSetDef lda_getset[] = {
    {"classes_", lda_attr, NULL, "Class labels, sorted.", "classes_"},
    {"priors_", lda_attr, NULL, "Class priors.", "priors_"},
    {"means_", lda_attr, NULL, "Class means (n_classes, n_features).", "means_"},
    {"coef_", lda_attr, NULL, "Weight vectors.", "coef_"},
    {"intercept_", lda_attr, NULL, "Intercepts.", "intercept_"},
    {"scalings_", lda_attr, NULL, "Discriminant directions (columns).", "scalings_"},
    {"explained_variance_ratio_", lda_attr, NULL, "Variance explained by each component.",
     "explained_variance_ratio_"},
    {"covariance_", lda_attr, NULL, "Within-class covariance.", "covariance_"},
    {"n_features_in_", lda_count, NULL, "Features seen by fit.", "f"},
    {"n_components_", lda_count, NULL, "Columns of transform's output.", "c"},
    {"n_samples_", lda_count, NULL, "Rows fit saw.", "s"},
    {"n_classes_", lda_count, NULL, "Number of classes.", "k"},
    {"shrinkage", lda_get_param, lda_set_param, "None, 'auto' or a float in [0, 1].", "s"},
    {"priors", lda_get_param, lda_set_param, "None (class frequencies) or class priors.", "p"},
    {"n_components", lda_get_param, lda_set_param, "None or the number of components.", "n"},
    {NULL, NULL, NULL, NULL, NULL},
};

#define KW (PyCFunction)(void (*)(void))
static PyMethodDef lda_methods[] = {
    {"fit", KW lda_fit, METH_VARARGS | METH_KEYWORDS,
     "fit($self, /, X, y)\n--\n\nFit on X (n_samples, n_features) and labels y (computes; "
     "Ctrl-C cancels). Returns self."},
    {"predict", KW lda_predict, METH_VARARGS | METH_KEYWORDS,
     "predict($self, /, X)\n--\n\nPredicted labels (lazy)."},
    {"transform", KW lda_transform, METH_VARARGS | METH_KEYWORDS,
     "transform($self, /, X)\n--\n\nX projected on the discriminant directions (lazy)."},
    {"decision_function", KW lda_decision_function, METH_VARARGS | METH_KEYWORDS,
     "decision_function($self, /, X)\n--\n\nDecision scores (lazy)."},
    {"fit_transform", KW lda_fit_transform, METH_VARARGS | METH_KEYWORDS,
     "fit_transform($self, /, X, y)\n--\n\nfit(X, y).transform(X)."},
    {"score", KW lda_score, METH_VARARGS | METH_KEYWORDS,
     "score($self, /, X, y)\n--\n\nMean accuracy of predict(X) (computes)."},
    {"save", KW lda_save, METH_VARARGS | METH_KEYWORDS, "save($self, /, path)\n--\n\nWrite the model."},
    {"load", KW lda_load, METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "load(path)\n--\n\nRead a model written by save()."},
    {"get_params", KW lda_get_params, METH_VARARGS | METH_KEYWORDS, "Parameters (scikit-learn style)."},
    {"set_params", KW lda_set_params, METH_VARARGS | METH_KEYWORDS, "Set parameters; returns self."},
    {NULL, NULL, 0, NULL},
};

static PyObject *lda_repr(PyObject *o) {
    LpyLDA *self = (LpyLDA *)o;
    return PyUnicode_FromFormat("FisherLDA(shrinkage=%R, priors=%R, n_components=%R%s)", self->shrinkage,
                                self->priors, self->n_components, self->m ? "; fitted" : "");
}

static PyTypeObject LpyLDA_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lampy.FisherLDA",
    .tp_basicsize = sizeof(LpyLDA),
    .tp_dealloc = lda_dealloc,
    .tp_repr = lda_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "FisherLDA(*, shrinkage=None, priors=None, n_components=None)\n--\n\n"
              "Fisher's linear discriminant, as scikit-learn's "
              "LinearDiscriminantAnalysis(solver='eigen'): same attributes, same predictions. "
              "fit() reads X in parallel chunks; predict/transform/decision_function are lazy.",
    .tp_methods = lda_methods,
    .tp_getset = lda_getset,
    .tp_init = lda_init,
    .tp_new = lda_new,
};

int lpy_lda_init(PyObject *m) {
    if (PyType_Ready(&LpyLDA_Type) < 0) return -1;
    PyObject *bases = PyTuple_Pack(2, PyExc_ValueError, PyExc_AttributeError);
    if (!bases) return -1;
    NotFittedError = PyErr_NewExceptionWithDoc("lampy.NotFittedError",
                                               "A model was used before fit() (ValueError and AttributeError, "
                                               "as scikit-learn's).", bases, NULL);
    Py_DECREF(bases);
    if (!NotFittedError) return -1;
    if (PyModule_AddObjectRef(m, "NotFittedError", NotFittedError) < 0) return -1;
    return PyModule_AddObjectRef(m, "FisherLDA", (PyObject *)&LpyLDA_Type);
}

