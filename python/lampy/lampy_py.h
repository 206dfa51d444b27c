/* Internal header of the CPython extension `lampy._lampy`: shared state and helpers.
 * The extension is a binding over include/lampy.h only; no array logic lives here. */
#ifndef LAMPY_PY_H
#define LAMPY_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdbool.h>
#include <stdint.h>

#include "lampy.h"

/* ---- settings (lp.config) ---- */
typedef struct lpy_config {
    int threads;            /* 0 = one per core */
    size_t chunk_bytes;     /* 0 = automatic */
    bool fusion, progress, trace;
    char *executor;         /* NULL = "local"; strings are PyMem_Raw copies */
    char *workers;          /* comma-separated URLs, NULL = unset */
    char *store;            /* NULL = Lampy's default */
    char *lambda_name;      /* lambda executor tuning; 0 / NULL = Lampy's defaults */
    int inflight, max_tries, batch;
    double timeout;
    char *key_file, *ca_file; /* security (docs/SECURITY.md); NULL = $LAMPY_KEY_FILE, $LAMPY_CA_FILE */
    char *orchestrate;      /* "driver" / "lambda"; NULL = Lampy's default (driver) */
    int max_lambdas, lambda_mem_mb;
    double runtime, deadline;
} lpy_config;

/* ---- module state ---------------------------------------------------------------------
 * Two contexts share one configuration. `ctx` is used by graph builders; they run with the
 * GIL held and read lp_last_error before releasing it, so the GIL serialises them. `run_ctx`
 * is used by lp_run / lp_save_array / the LDA fit with the GIL released, serialised by
 * `run_lock`, so a thread may keep building while another computes. */
typedef struct lpy_state {
    lp_ctx *ctx;
    lp_ctx *run_ctx;
    PyThread_type_lock run_lock;
    lpy_config cfg;         /* applied to both contexts */
    PyObject *numpy;        /* the numpy module, or NULL when it is not importable */
    PyObject *np_asarray;   /* numpy.asarray */
    PyObject *np_dtypes[LP_DTYPE_COUNT]; /* numpy.dtype objects, or the names as str */
} lpy_state;

extern lpy_state lpy;

/* ---- errors ---- */
/* Raise the exception for status st with ctx's message; returns NULL. */
PyObject *lpy_raise(lp_ctx *ctx, lp_status st);
/* Same, but the exception type is given (IndexError for indexing, ...). */
PyObject *lpy_raise_as(lp_ctx *ctx, lp_status st, PyObject *exc_type);
/* Replace the builder context if it holds a failure (see module.c). */
void lpy_builder_ctx_reset(void);

/* ---- running (GIL released, Ctrl-C aware) ---- */
typedef lp_status (*lpy_job_fn)(lp_ctx *ctx, void *arg);
/* Runs fn(run_ctx, arg) with the GIL released on a helper thread; the calling thread polls for
 * signals every 50 ms and cancels the run on one. Returns 0, or -1 with an exception set. */
int lpy_run_job(lpy_job_fn fn, void *arg);
/* lp_run over n targets; results[i] (may be NULL) receive new buffer references. */
int lpy_run_arrays(lp_array *const *targets, int n, lp_buffer **results);
/* Hold run_ctx (waits with the GIL released, interruptible): 0, or -1 with an exception. */
int lpy_run_lock(void);
void lpy_run_unlock(void);
void lpy_config_defaults(lpy_config *c);
lp_status lpy_apply_config_to(lp_ctx *ctx, const lpy_config *c);
int lpy_config_init(PyObject *module);

/* ---- the Array type ---- */
typedef struct {
    PyObject_HEAD
    lp_array *a;
    PyObject *weakreflist;
} LpyArray;

extern PyTypeObject LpyArray_Type;
#define LpyArray_Check(o) PyObject_TypeCheck((o), &LpyArray_Type)

/* Wrap a new lp_array reference (stolen, also on failure). NULL a → NULL (error already set). */
PyObject *lpy_array_new(lp_array *a);
int lpy_array_type_init(PyObject *module);

/* ---- the ndarray type (computed results when NumPy is absent; NumPy views it) ---- */
typedef struct {
    PyObject_HEAD
    lp_buffer *buf;
    int ndim;
    Py_ssize_t shape[LP_MAX_NDIM];
    Py_ssize_t strides[LP_MAX_NDIM];
    Py_ssize_t exports;
} LpyNdarray;

extern PyTypeObject LpyNdarray_Type;
int lpy_ndarray_type_init(PyObject *module);
/* A computed buffer as the user sees it: numpy.ndarray (0-d: a numpy scalar) when NumPy is
 * importable, else a lampy.ndarray. Steals buf. */
PyObject *lpy_result_to_py(lp_buffer *buf, bool scalar_if_0d);

/* ---- conversion ---- */
/* dtype argument (None, str, Python type, numpy dtype/type) → lp_dtype. Returns 0 / -1. */
int lpy_parse_dtype(PyObject *o, lp_dtype *out);
PyObject *lpy_dtype_object(lp_dtype dt);
/* Any operand → new lp_array reference, or NULL with an exception. Python numbers become
 * weak scalars when `weak` is set (operands of arithmetic), strong 0-d arrays otherwise. */
lp_array *lpy_to_array(PyObject *o, bool weak);
/* For binary operators: 1 = converted, 0 = not an operand we know (return NotImplemented),
 * -1 = error. `hint` is the other operand's dtype (for Python ints beyond int64), or -1. */
int lpy_operand(PyObject *o, int hint, lp_array **out);
/* A Python int as int64; -1 with OverflowError (NumPy's message) beyond it. */
int lpy_int64_from_py(PyObject *o, int64_t *v);
/* Python number → lp_scalar. 1 ok, 0 not a Python number, -1 error. */
int lpy_scalar_from_py(PyObject *o, lp_scalar *out);
/* isinstance(o, numpy.<name>), the class looked up once into *cls; false without NumPy. */
bool lpy_numpy_isinstance(PyObject *o, const char *name, PyObject **cls);
/* A shape: int or sequence of ints. Returns ndim, or -1 with an exception. */
int lpy_parse_shape(PyObject *o, int64_t *shape);
/* An axis argument: None (→ *naxes = -1), int, or tuple of ints. 0 / -1. */
int lpy_parse_axes(PyObject *o, int *axes, int *naxes);
/* Set a lazy array's chunks from a Python value (int, tuple, dict, None/"auto"). */
int lpy_set_chunks(lp_array *a, PyObject *chunks);
PyObject *lpy_shape_tuple(int ndim, const int64_t *shape);

/* ---- shared implementations (methods and module functions) ---- */
PyObject *lpy_compute_one(lp_array *a);
PyObject *lpy_rechunk_impl(lp_array *a, PyObject *chunks);

/* ---- the library's function catalogue (catalog.c) ---- */
/* Call catalogue function `name` (the Array method when self is given) with Python arguments. */
PyObject *lpy_call(const char *name, lp_array *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwargs);
/* Every catalogue function as lampy.<name> (linalg.* in lampy._linalg). */
int lpy_catalog_init(PyObject *module);
/* x.name as a bound catalogue method; NULL without an exception when there is no such method. */
PyObject *lpy_catalog_method(PyObject *x, PyObject *name);
PyObject *lpy_catalog_method_names(void);
/* x[key] and x[key] = v (the handle is rebound to the new lazy array) */
PyObject *lpy_getitem(lp_array *x, PyObject *key);
int lpy_setitem(LpyArray *self, PyObject *key, PyObject *value);

/* ---- module-level functions, the random Generator, linear algebra, Fisher LDA ---- */
extern PyMethodDef lpy_function_methods[];
int lpy_functions_init(PyObject *module);
int lpy_random_init(PyObject *module);
PyObject *lpy_matmul(PyObject *x, PyObject *y); /* the @ operator */
int lpy_lda_init(PyObject *module);             /* FisherLDA when lampy.h has it */
int lpy_loop_init(PyObject *module);            /* placeholders, loops, graph files (loop.c) */
int lpy_rda_init(PyObject *module);             /* QDA / RDA for lampy.ml (rda.c) */

#endif
