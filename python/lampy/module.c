/* The module `lampy._lampy`: state (contexts, configuration), status → exception mapping,
 * running computations with the GIL released and Ctrl-C cancelling them, module init. */
#include "lampy_py.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

lpy_state lpy;

/* Set in a forked child: the run context's pool threads and the run lock's owner did not
 * survive the fork, so the next run starts over with fresh ones. */
static volatile sig_atomic_t forked_child;
static void runner_init(void);
static void after_fork_child(void) {
    forked_child = 1;
    runner_init(); /* the runner thread did not survive the fork */
}

/* ---- errors ----------------------------------------------------------------------- */

static PyObject *linalg_error_type(void) {
    static PyObject *cached;
    if (cached) return cached;
    if (lpy.numpy) {
        PyObject *m = PyImport_ImportModule("numpy.linalg");
        if (m) {
            cached = PyObject_GetAttrString(m, "LinAlgError");
            Py_DECREF(m);
        }
        if (!cached) PyErr_Clear();
    }
    return cached ? cached : PyExc_ValueError;
}

/* numpy.exceptions.AxisError (a ValueError and an IndexError), or IndexError without NumPy. */
static PyObject *axis_error_type(void) {
    static PyObject *cached;
    if (cached) return cached;
    if (lpy.numpy) {
        PyObject *m = PyImport_ImportModule("numpy.exceptions");
        if (m) {
            cached = PyObject_GetAttrString(m, "AxisError");
            Py_DECREF(m);
        }
        if (!cached) PyErr_Clear();
    }
    return cached ? cached : PyExc_IndexError;
}

static PyObject *exception_for(lp_status st) {
    switch (st) {
    case LP_ERR_AXIS: return axis_error_type();
    case LP_ERR_INDEX: return PyExc_IndexError;
    case LP_ERR_ZERO_DIVISION: return PyExc_ZeroDivisionError;
    case LP_ERR_VALUE: case LP_ERR_SHAPE: case LP_ERR_FORMAT: return PyExc_ValueError;
    case LP_ERR_TYPE: return PyExc_TypeError;
    case LP_ERR_NOTFOUND: return PyExc_FileNotFoundError;
    case LP_ERR_IO: return PyExc_OSError;
    case LP_ERR_DENIED: return PyExc_PermissionError;
    case LP_ERR_NOMEM: return PyExc_MemoryError;
    case LP_ERR_LINALG: return linalg_error_type();
    default: return PyExc_RuntimeError;
    }
}

/* A context keeps the FIRST failure's message until a run starts (lp_run clears it), so the
 * builder context, which never runs, is replaced after each failure: the next error gets its
 * own message. Nodes do not belong to a context, so nothing else changes. */
void lpy_builder_ctx_reset(void) {
    if (lp_last_status(lpy.ctx) == LP_OK) return;
    lp_ctx *fresh;
    if (lp_ctx_create(&fresh) != LP_OK) return;
    lpy_apply_config_to(fresh, &lpy.cfg);
    lp_ctx_destroy(lpy.ctx);
    lpy.ctx = fresh;
}

PyObject *lpy_raise_as(lp_ctx *ctx, lp_status st, PyObject *exc_type) {
    const char *msg = ctx ? lp_last_error(ctx) : NULL;
    if (!msg || !*msg) msg = lp_status_str(st);
    if (!exc_type) exc_type = exception_for(st);
    PyErr_SetString(exc_type, msg);
    if (ctx == lpy.ctx) lpy_builder_ctx_reset();
    return NULL;
}

PyObject *lpy_raise(lp_ctx *ctx, lp_status st) { return lpy_raise_as(ctx, st, NULL); }

/* Acquire the run lock without holding the GIL while blocked, and stay interruptible. */
static int acquire_run_lock(void) {
    if (forked_child) {
        /* Only this thread exists in the child; the old lock may be held by a thread that is
         * gone and the old context's pool threads are gone too. Start over (leak the old). */
        forked_child = 0;
        lpy.run_lock = PyThread_allocate_lock();
        lp_ctx *c = NULL;
        if (!lpy.run_lock || lp_ctx_create(&c) != LP_OK) {
            PyErr_NoMemory();
            return -1;
        }
        lpy.run_ctx = c;
        lpy_apply_config_to(c, &lpy.cfg);
    }
    if (PyThread_acquire_lock(lpy.run_lock, NOWAIT_LOCK)) return 0;
    for (;;) {
        PyLockStatus r;
        Py_BEGIN_ALLOW_THREADS
        r = PyThread_acquire_lock_timed(lpy.run_lock, 50000, 0);
        Py_END_ALLOW_THREADS
        if (r == PY_LOCK_ACQUIRED) return 0;
        if (PyErr_CheckSignals() < 0) return -1;
    }
}

static void release_run_lock(void) { PyThread_release_lock(lpy.run_lock); }

int lpy_run_lock(void) { return acquire_run_lock(); }
void lpy_run_unlock(void) { release_run_lock(); }

/* ---- running ---------------------------------------------------------------------- */

/* Runs happen on one long-lived runner thread (starting a thread per run costs more than a
 * small run), while the calling thread waits with the GIL released and wakes every 50 ms to
 * let signal handlers run. Runs are serialised by run_lock, so one runner is enough. */
typedef struct {
    lpy_job_fn fn;
    void *arg;
    lp_ctx *ctx;
    lp_status st;
    int done;
} job_t;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv_job;   /* a job was posted */
    pthread_cond_t cv_done;  /* the job finished (CLOCK_MONOTONIC) */
    bool started;
    job_t *job;
} runner;

static void runner_init(void) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&runner.mu, NULL);
    pthread_cond_init(&runner.cv_job, NULL);
    pthread_cond_init(&runner.cv_done, &ca);
    pthread_condattr_destroy(&ca);
    runner.started = false;
    runner.job = NULL;
}

static void *runner_main(void *unused) {
    /* Asynchronous signals go to the Python main thread, never to this thread or the pool
     * threads Lampy creates from it (they inherit this mask), so the interpreter sees Ctrl-C. */
    sigset_t set;
    sigfillset(&set);
    sigdelset(&set, SIGSEGV);
    sigdelset(&set, SIGBUS);
    sigdelset(&set, SIGFPE);
    sigdelset(&set, SIGILL);
    sigdelset(&set, SIGABRT);
    sigdelset(&set, SIGTRAP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_mutex_lock(&runner.mu);
    for (;;) {
        while (!runner.job) pthread_cond_wait(&runner.cv_job, &runner.mu);
        job_t *j = runner.job;
        pthread_mutex_unlock(&runner.mu);
        lp_status st = j->fn(j->ctx, j->arg);
        pthread_mutex_lock(&runner.mu);
        j->st = st;
        j->done = 1;
        runner.job = NULL;
        pthread_cond_broadcast(&runner.cv_done);
    }
    return NULL;
}

/* Called with the GIL released and run_lock held. */
static bool runner_start(void) {
    if (runner.started) return true;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    runner.started = pthread_create(&th, &at, runner_main, NULL) == 0;
    pthread_attr_destroy(&at);
    return runner.started;
}

int lpy_run_job(lpy_job_fn fn, void *arg) {
    if (acquire_run_lock() < 0) return -1;
    job_t j = {.fn = fn, .arg = arg, .ctx = lpy.run_ctx, .st = LP_OK, .done = 0};
    bool cancelled = false, first = true;
    for (;;) {
        int done;
        Py_BEGIN_ALLOW_THREADS
        if (first && !runner_start()) { /* no thread to spare: run here, not interruptible */
            j.st = fn(j.ctx, arg);
            j.done = 1;
        }
        pthread_mutex_lock(&runner.mu);
        if (first && !j.done) {
            runner.job = &j;
            pthread_cond_signal(&runner.cv_job);
        }
        if (!j.done) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += 50 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
            while (!j.done && pthread_cond_timedwait(&runner.cv_done, &runner.mu, &ts) == 0) {
            }
        }
        done = j.done;
        pthread_mutex_unlock(&runner.mu);
        Py_END_ALLOW_THREADS
        first = false;
        if (done) break;
        /* Signal handlers run here (main thread); KeyboardInterrupt or any exception a
         * handler raises cancels the run. The run must return before its arrays can go. */
        if (!cancelled && PyErr_CheckSignals() < 0) {
            lp_cancel(j.ctx);
            cancelled = true;
        }
    }
    int rc = 0;
    if (cancelled) {
        rc = -1; /* the handler's exception (KeyboardInterrupt) is set */
    } else if (j.st != LP_OK) {
        lpy_raise(j.ctx, j.st);
        rc = -1;
    }
    release_run_lock();
    return rc;
}

typedef struct {
    lp_array *const *targets;
    int n;
    lp_buffer **results;
} run_args;

static lp_status run_fn(lp_ctx *ctx, void *p) {
    run_args *r = p;
    return lp_run(ctx, r->targets, r->n, r->results);
}

int lpy_run_arrays(lp_array *const *targets, int n, lp_buffer **results) {
    run_args r = {targets, n, results};
    if (results) memset(results, 0, (size_t)n * sizeof *results);
    int rc = lpy_run_job(run_fn, &r);
    if (rc < 0 && results) {
        for (int i = 0; i < n; i++) {
            lp_buffer_release(results[i]);
            results[i] = NULL;
        }
    }
    return rc;
}

/* lp.compute(a, b, ...): one pass over all targets; a tuple of results. */
static PyObject *lpy_compute(PyObject *self, PyObject *args) {
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n > INT32_MAX / 2) return PyErr_NoMemory();
    lp_array **t = PyMem_Calloc((size_t)n + 1, sizeof *t);
    lp_buffer **res = PyMem_Calloc((size_t)n + 1, sizeof *res);
    PyObject *out = NULL;
    if (!t || !res) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (!(t[i] = lpy_to_array(PyTuple_GET_ITEM(args, i), false))) goto done;
    if (lpy_run_arrays(t, (int)n, res) < 0) goto done;
    out = PyTuple_New(n);
    if (!out) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *r = lpy_result_to_py(res[i], true);
        res[i] = NULL;
        if (!r) {
            Py_CLEAR(out);
            goto done;
        }
        PyTuple_SET_ITEM(out, i, r);
    }
done:
    if (t) {
        for (Py_ssize_t i = 0; i < n; i++) lp_array_release(t[i]);
        PyMem_Free(t);
    }
    if (res) {
        for (Py_ssize_t i = 0; i < n; i++) lp_buffer_release(res[i]);
        PyMem_Free(res);
    }
    return out;
}

/* ---- module ----------------------------------------------------------------------- */

/* _promote(dtype1, dtype2): the library's promotion of two array dtypes, for the array API's
 * result_type and can_cast (lampy/array_api.py), so Python never keeps its own table. */
static PyObject *m_promote(PyObject *self, PyObject *args) {
    PyObject *a, *b;
    lp_dtype da, db;
    if (!PyArg_ParseTuple(args, "OO:_promote", &a, &b)) return NULL;
    if (lpy_parse_dtype(a, &da) < 0 || lpy_parse_dtype(b, &db) < 0) return NULL;
    return lpy_dtype_object(lp_promote(da, db));
}

/* _parse_dtype(dtype_like): the library's dtype object for any spelling dtype= accepts ('f8',
 * numpy.float64, float, ...): the one parser (lpy_parse_dtype) for lampy/array_api.py too.
 * None is refused here (NumPy would read it as float64; the array API's functions mean no dtype). */
static PyObject *m_parse_dtype(PyObject *self, PyObject *o) {
    lp_dtype dt;
    if (o == Py_None) {
        PyErr_SetString(PyExc_TypeError, "None is not a dtype");
        return NULL;
    }
    if (lpy_parse_dtype(o, &dt) < 0) return NULL;
    return lpy_dtype_object(dt);
}

static PyMethodDef module_methods[] = {
    {"_parse_dtype", m_parse_dtype, METH_O, "_parse_dtype(dtype_like)\n--\n\nThe library's dtype for a dtype spelling."},
    {"_promote", m_promote, METH_VARARGS, "_promote(dtype1, dtype2)\n--\n\nNumPy's promotion of two array dtypes."},
    {"compute", lpy_compute, METH_VARARGS,
     "compute(*arrays)\n--\n\nCompute several lazy arrays in one pass (shared "
     "subexpressions once); returns a tuple of NumPy arrays."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "lampy._lampy",
    .m_doc = "Lampy's C extension: lazy arrays over the Lampy C library.",
    .m_size = -1,
    .m_methods = module_methods,
};

static int import_numpy(void) {
    const char *off = getenv("LAMPY_PY_NO_NUMPY");
    if (!(off && *off && strcmp(off, "0") != 0)) {
        lpy.numpy = PyImport_ImportModule("numpy");
        if (!lpy.numpy) PyErr_Clear();
    }
    for (int d = 0; d < LP_DTYPE_COUNT; d++) {
        PyObject *name = PyUnicode_FromString(lp_dtype_name((lp_dtype)d));
        if (!name) return -1;
        if (lpy.numpy) {
            PyObject *dt = PyObject_CallMethod(lpy.numpy, "dtype", "O", name);
            if (dt) {
                Py_DECREF(name);
                name = dt;
            } else {
                PyErr_Clear();
            }
        }
        lpy.np_dtypes[d] = name;
    }
    if (lpy.numpy) {
        lpy.np_asarray = PyObject_GetAttrString(lpy.numpy, "asarray");
        if (!lpy.np_asarray) {
            PyErr_Clear();
            Py_CLEAR(lpy.numpy);
        }
    }
    return 0;
}

PyMODINIT_FUNC PyInit__lampy(void) {
    if (!lpy.ctx) {
        lpy_config_defaults(&lpy.cfg);
        if (lp_ctx_create(&lpy.ctx) != LP_OK || lp_ctx_create(&lpy.run_ctx) != LP_OK)
            return PyErr_NoMemory();
        lpy.run_lock = PyThread_allocate_lock();
        if (!lpy.run_lock) return PyErr_NoMemory();
        runner_init();
        pthread_atfork(NULL, NULL, after_fork_child);
        if (import_numpy() < 0) return NULL;
    }
    PyObject *m = PyModule_Create(&moduledef);
    if (!m) return NULL;
    if (lpy_ndarray_type_init(m) < 0 || lpy_array_type_init(m) < 0 || lpy_functions_init(m) < 0 || lpy_catalog_init(m) < 0 ||
        lpy_random_init(m) < 0 || lpy_lda_init(m) < 0 || lpy_loop_init(m) < 0 || lpy_rda_init(m) < 0 ||
        lpy_config_init(m) < 0)
        goto fail;
    if (PyModule_AddStringConstant(m, "__version__", LP_VERSION_STRING) < 0 ||
        PyModule_AddObjectRef(m, "HAVE_NUMPY", lpy.numpy ? Py_True : Py_False) < 0 ||
        PyModule_AddIntConstant(m, "MAX_NDIM", LP_MAX_NDIM) < 0)
        goto fail;
    PyObject *dts = PyTuple_New(LP_DTYPE_COUNT); /* every dtype the library has, in enum order */
    if (!dts) goto fail;
    for (int d = 0; d < LP_DTYPE_COUNT; d++) PyTuple_SET_ITEM(dts, d, lpy_dtype_object((lp_dtype)d));
    if (PyModule_AddObject(m, "_dtypes", dts) < 0) {
        Py_DECREF(dts);
        goto fail;
    }
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
