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

static PyObject *exception_for(lp_status st) {
    switch (st) {
    case LP_ERR_VALUE: case LP_ERR_SHAPE: case LP_ERR_FORMAT: return PyExc_ValueError;
    case LP_ERR_TYPE: return PyExc_TypeError;
    case LP_ERR_NOTFOUND: return PyExc_FileNotFoundError;
    case LP_ERR_IO: return PyExc_OSError;
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
    lpy_apply_config_to(fresh);
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

/* ---- configuration ---------------------------------------------------------------- */

void lpy_apply_config_to(lp_ctx *ctx) {
    lp_ctx_set_threads(ctx, lpy.threads);
    lp_ctx_set_chunk_bytes(ctx, lpy.chunk_bytes);
    lp_ctx_set_fusion(ctx, lpy.fusion);
}

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
        lpy_apply_config_to(c);
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

typedef struct {
    PyObject_HEAD
    int threads;
    Py_ssize_t chunk_bytes;
    int fusion;
} LpyConfig;

static PyTypeObject LpyConfig_Type;

/* "64MiB", "1 MB", "512k", 4096 → bytes. */
static int parse_bytes(PyObject *o, size_t *out) {
    if (PyLong_Check(o) || PyIndex_Check(o)) {
        PyObject *i = PyNumber_Index(o);
        if (!i) return -1;
        long long v = PyLong_AsLongLong(i);
        Py_DECREF(i);
        if (v == -1 && PyErr_Occurred()) return -1;
        if (v < 0) {
            PyErr_SetString(PyExc_ValueError, "chunk_bytes must be >= 0");
            return -1;
        }
        *out = (size_t)v;
        return 0;
    }
    if (PyFloat_Check(o)) {
        double d = PyFloat_AsDouble(o);
        if (!(d >= 0) || d > 1e18) {
            PyErr_SetString(PyExc_ValueError, "chunk_bytes must be >= 0");
            return -1;
        }
        *out = (size_t)d;
        return 0;
    }
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "chunk_bytes must be an int or a string like '64MiB', not %.100s",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    const char *s = PyUnicode_AsUTF8(o);
    if (!s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0)) goto bad;
    while (*end == ' ') end++;
    static const struct { const char *u; double m; } units[] = {
        {"", 1}, {"B", 1}, {"k", 1e3}, {"kB", 1e3}, {"KB", 1e3}, {"M", 1e6}, {"MB", 1e6},
        {"G", 1e9}, {"GB", 1e9}, {"KiB", 1024.0}, {"Ki", 1024.0}, {"MiB", 1048576.0},
        {"Mi", 1048576.0}, {"GiB", 1073741824.0}, {"Gi", 1073741824.0},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].u) == 0) {
            double b = v * units[i].m;
            if (b > 1e18) goto bad;
            *out = (size_t)b;
            return 0;
        }
bad:
    PyErr_Format(PyExc_ValueError, "cannot parse chunk_bytes %R (examples: 65536, '64MiB', '1 MB')", o);
    return -1;
}

/* Apply settings to both contexts. Builder context first: it validates without waiting. */
static int set_config(int threads, size_t chunk_bytes, int fusion) {
    lp_status st;
    if ((st = lp_ctx_set_threads(lpy.ctx, threads)) != LP_OK ||
        (st = lp_ctx_set_chunk_bytes(lpy.ctx, chunk_bytes)) != LP_OK) {
        lpy_raise(lpy.ctx, st);
        lpy_apply_config_to(lpy.ctx);  /* back to the settings in force */
        return -1;
    }
    lp_ctx_set_fusion(lpy.ctx, fusion != 0);
    if (acquire_run_lock() < 0) {
        lpy_apply_config_to(lpy.ctx);
        return -1;
    }
    lpy.threads = threads;
    lpy.chunk_bytes = chunk_bytes;
    lpy.fusion = fusion != 0;
    lpy_apply_config_to(lpy.run_ctx);
    release_run_lock();
    return 0;
}

static PyObject *config_new_guard(void) {
    LpyConfig *g = PyObject_New(LpyConfig, &LpyConfig_Type);
    if (!g) return NULL;
    g->threads = lpy.threads;
    g->chunk_bytes = (Py_ssize_t)lpy.chunk_bytes;
    g->fusion = lpy.fusion;
    return (PyObject *)g;
}

static PyObject *lpy_config(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"threads", "chunk_bytes", "fusion", NULL};
    PyObject *threads = Py_None, *chunk = Py_None, *fusion = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$OOO:config", kwlist, &threads, &chunk, &fusion))
        return NULL;
    int nt = lpy.threads, fu = lpy.fusion;
    size_t cb = lpy.chunk_bytes;
    if (threads != Py_None) {
        PyObject *i = PyNumber_Index(threads);
        if (!i) return NULL;
        long v = PyLong_AsLong(i);
        Py_DECREF(i);
        if (v == -1 && PyErr_Occurred()) return NULL;
        if (v < 0 || v > 1 << 20) {
            PyErr_Format(PyExc_ValueError, "threads must be >= 0 (0 = one per core), got %ld", v);
            return NULL;
        }
        nt = (int)v;
    }
    if (chunk != Py_None && parse_bytes(chunk, &cb) < 0) return NULL;
    if (fusion != Py_None) {
        fu = PyObject_IsTrue(fusion);
        if (fu < 0) return NULL;
    }
    PyObject *guard = config_new_guard(); /* remembers the settings before this call */
    if (!guard) return NULL;
    if (set_config(nt, cb, fu) < 0) {
        Py_DECREF(guard);
        return NULL;
    }
    return guard;
}

static PyObject *lpy_get_config(PyObject *self, PyObject *unused) {
    return Py_BuildValue("{s:i,s:n,s:O}", "threads", lpy.threads, "chunk_bytes",
                         (Py_ssize_t)lpy.chunk_bytes, "fusion", lpy.fusion ? Py_True : Py_False);
}

static PyObject *config_enter(PyObject *self, PyObject *unused) { return Py_NewRef(self); }

static PyObject *config_exit(PyObject *self, PyObject *args) {
    LpyConfig *g = (LpyConfig *)self;
    if (set_config(g->threads, (size_t)g->chunk_bytes, g->fusion) < 0) return NULL;
    Py_RETURN_FALSE;
}

static PyObject *config_repr(PyObject *self) {
    return PyUnicode_FromFormat("lampy.config(threads=%d, chunk_bytes=%zd, fusion=%s)", lpy.threads,
                                (Py_ssize_t)lpy.chunk_bytes, lpy.fusion ? "True" : "False");
}

static PyMethodDef config_methods[] = {
    {"__enter__", config_enter, METH_NOARGS, NULL},
    {"__exit__", config_exit, METH_VARARGS, "Restore the settings in force before this config()."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject LpyConfig_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lampy._Config",
    .tp_basicsize = sizeof(LpyConfig),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Returned by lampy.config(): the settings are already applied; used as a context "
              "manager it restores the previous ones on exit.",
    .tp_methods = config_methods,
    .tp_repr = config_repr,
};

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

static PyObject *lpy_last_run_stats(PyObject *self, PyObject *unused) {
    lp_run_stats s;
    if (acquire_run_lock() < 0) return NULL;
    lp_last_run_stats(lpy.run_ctx, &s);
    release_run_lock();
    return Py_BuildValue("{s:L,s:L,s:L,s:L,s:d,s:d,s:i}", "tasks", (long long)s.tasks,
                         "bytes_read", (long long)s.bytes_read, "bytes_alloc",
                         (long long)s.bytes_alloc, "peak_bytes", (long long)s.peak_bytes,
                         "plan_seconds", s.plan_seconds, "run_seconds", s.run_seconds, "threads",
                         s.threads);
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

static PyMethodDef module_methods[] = {
    {"config", (PyCFunction)(void (*)(void))lpy_config, METH_VARARGS | METH_KEYWORDS,
     "config(*, threads=None, chunk_bytes=None, fusion=None)\n--\n\n"
     "Change Lampy's settings (global). The returned object restores the previous settings "
     "when used as a context manager:\n\n    with lp.config(threads=1):\n        x.run()"},
    {"get_config", lpy_get_config, METH_NOARGS, "get_config()\n--\n\nThe settings in force."},
    {"last_run_stats", lpy_last_run_stats, METH_NOARGS,
     "last_run_stats()\n--\n\nStatistics of the last computation (tasks, bytes, seconds)."},
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
    if (PyType_Ready(&LpyConfig_Type) < 0) return NULL;
    if (!lpy.ctx) {
        lpy.threads = 0;
        lpy.chunk_bytes = 0;
        lpy.fusion = true;
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
    if (lpy_ndarray_type_init(m) < 0 || lpy_array_type_init(m) < 0 || lpy_functions_init(m) < 0 ||
        lpy_random_init(m) < 0 || lpy_linalg_init(m) < 0 || lpy_lda_init(m) < 0)
        goto fail;
    if (PyModule_AddStringConstant(m, "__version__", LP_VERSION_STRING) < 0 ||
        PyModule_AddObjectRef(m, "_Config", (PyObject *)&LpyConfig_Type) < 0 ||
        PyModule_AddObjectRef(m, "HAVE_NUMPY", lpy.numpy ? Py_True : Py_False) < 0 ||
        PyModule_AddIntConstant(m, "MAX_NDIM", LP_MAX_NDIM) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
