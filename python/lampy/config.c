/* Settings (lp.config, lp.get_config) and looking at runs and plans: last_run_stats,
 * trace_write, estimate, to_dot, graph_json, plan_json. */
#include "lampy_py.h"

#include <stdlib.h>
#include <string.h>

#define KW (PyCFunction)(void (*)(void))

/* ---- the configuration ------------------------------------------------------------ */

static char *dup_str(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = PyMem_RawMalloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static void config_clear(lpy_config *c) {
    PyMem_RawFree(c->executor);
    PyMem_RawFree(c->workers);
    PyMem_RawFree(c->store);
    PyMem_RawFree(c->lambda_name);
    PyMem_RawFree(c->key_file);
    PyMem_RawFree(c->ca_file);
    PyMem_RawFree(c->orchestrate);
    c->executor = c->workers = c->store = c->lambda_name = c->key_file = c->ca_file = c->orchestrate = NULL;
}

static int config_copy(lpy_config *dst, const lpy_config *src) {
    *dst = *src;
    dst->executor = dup_str(src->executor);
    dst->workers = dup_str(src->workers);
    dst->store = dup_str(src->store);
    dst->lambda_name = dup_str(src->lambda_name);
    dst->key_file = dup_str(src->key_file);
    dst->ca_file = dup_str(src->ca_file);
    dst->orchestrate = dup_str(src->orchestrate);
    if ((src->executor && !dst->executor) || (src->workers && !dst->workers) ||
        (src->store && !dst->store) || (src->lambda_name && !dst->lambda_name) ||
        (src->key_file && !dst->key_file) || (src->ca_file && !dst->ca_file) ||
        (src->orchestrate && !dst->orchestrate)) {
        config_clear(dst);
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

void lpy_config_defaults(lpy_config *c) {
    memset(c, 0, sizeof *c);
    c->fusion = true;
}

/* Apply every setting to ctx; on failure the message is on ctx. Unset strings are left alone
 * (Lampy has no way back to "unset": contexts are replaced for that, see set_config). */
lp_status lpy_apply_config_to(lp_ctx *ctx, const lpy_config *c) {
    lp_status st;
    if ((st = lp_ctx_set_threads(ctx, c->threads)) || (st = lp_ctx_set_chunk_bytes(ctx, c->chunk_bytes)) ||
        (st = lp_ctx_set_fusion(ctx, c->fusion)))
        return st;
    if ((st = lp_ctx_set_progress(ctx, c->progress)) || (st = lp_ctx_set_trace(ctx, c->trace))) return st;
    if ((st = lp_ctx_set_executor(ctx, c->executor ? c->executor : "local"))) return st;
    if (c->workers && (st = lp_ctx_set_workers(ctx, c->workers))) return st;
    if (c->store && (st = lp_ctx_set_store(ctx, c->store))) return st;
    lp_remote_config rc;
    memset(&rc, 0, sizeof rc);
    rc.lambda = c->lambda_name;
    rc.inflight = c->inflight;
    rc.max_tries = c->max_tries;
    rc.timeout_sec = c->timeout;
    rc.batch = c->batch;
    rc.key_file = c->key_file;
    rc.ca_file = c->ca_file;
    rc.orchestrate = c->orchestrate;
    rc.max_lambdas = c->max_lambdas;
    rc.lambda_mem_mb = c->lambda_mem_mb;
    rc.runtime_sec = c->runtime;
    rc.deadline_sec = c->deadline;
    if ((st = lp_ctx_set_remote_config(ctx, &rc))) return st;
    return LP_OK;
}

static bool needs_fresh(const lpy_config *old, const lpy_config *new_) {
    return (old->workers && !new_->workers) || (old->store && !new_->store) ||
           (old->lambda_name && !new_->lambda_name) || (old->key_file && !new_->key_file) ||
           (old->ca_file && !new_->ca_file);
}

/* Make `c` the configuration: validated on a scratch context first (nothing changes on
 * error), then applied to both contexts, replacing them when a setting returns to unset. */
static int set_config(const lpy_config *c) {
    lp_ctx *scratch;
    if (lp_ctx_create(&scratch) != LP_OK) {
        PyErr_NoMemory();
        return -1;
    }
    lp_status st = lpy_apply_config_to(scratch, c);
    if (st != LP_OK) {
        lpy_raise(scratch, st);
        lp_ctx_destroy(scratch);
        return -1;
    }
    lpy_config copy;
    if (config_copy(&copy, c) < 0) {
        lp_ctx_destroy(scratch);
        return -1;
    }
    bool fresh = needs_fresh(&lpy.cfg, c);
    if (lpy_run_lock() < 0) {
        config_clear(&copy);
        lp_ctx_destroy(scratch);
        return -1;
    }
    if (fresh) { /* the scratch context becomes the run context */
        lp_ctx_destroy(lpy.run_ctx);
        lpy.run_ctx = scratch;
        scratch = NULL;
    } else {
        lpy_apply_config_to(lpy.run_ctx, c);
    }
    lpy_run_unlock();
    if (fresh) {
        lp_ctx *b;
        if (lp_ctx_create(&b) == LP_OK) {
            lp_ctx_destroy(lpy.ctx);
            lpy.ctx = b;
        }
    }
    lpy_apply_config_to(lpy.ctx, c);
    lp_ctx_destroy(scratch);
    config_clear(&lpy.cfg);
    lpy.cfg = copy;
    return 0;
}

typedef struct {
    PyObject_HEAD
    lpy_config saved;
} LpyConfig;

static PyTypeObject LpyConfig_Type;

static void guard_dealloc(PyObject *o) {
    config_clear(&((LpyConfig *)o)->saved);
    PyObject_Free(o);
}

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
    double v = strtod(s, &end);
    if (end == s || !(v >= 0)) goto bad;
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

static int parse_int(PyObject *o, long lo, long hi, const char *what, int *out) {
    PyObject *i = PyNumber_Index(o);
    if (!i) return -1;
    long v = PyLong_AsLong(i);
    Py_DECREF(i);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (v < lo || v > hi) {
        PyErr_Format(PyExc_ValueError, "%s must be in %ld..%ld, got %ld", what, lo, hi, v);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* A string setting; None unsets it. Lists of strings (workers) are joined with commas. */
static int parse_str(PyObject *o, const char *what, char **out) {
    PyMem_RawFree(*out);
    *out = NULL;
    if (o == Py_None) return 0;
    PyObject *s = NULL;
    if (PyUnicode_Check(o)) {
        s = Py_NewRef(o);
    } else if (PyList_Check(o) || PyTuple_Check(o)) {
        PyObject *comma = PyUnicode_FromString(",");
        if (!comma) return -1;
        s = PyUnicode_Join(comma, o);
        Py_DECREF(comma);
        if (!s) return -1;
    } else {
        PyErr_Format(PyExc_TypeError, "%s must be a string or None, not %.100s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    const char *u = PyUnicode_AsUTF8(s);
    *out = u ? dup_str(u) : NULL;
    Py_DECREF(s);
    if (!*out) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int parse_bool(PyObject *o, bool *out) {
    int v = PyObject_IsTrue(o);
    if (v < 0) return -1;
    *out = v != 0;
    return 0;
}

static PyObject *lpy_config_fn(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"threads", "chunk_bytes", "fusion", "progress", "trace", "executor",
                             "workers", "store", "lambda_name", "inflight", "max_tries", "timeout",
                             "batch", "key_file", "ca_file", "deadline", "orchestrate", "max_lambdas",
                             "lambda_mem_mb", "runtime", NULL};
    PyObject *o[20] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$OOOOOOOOOOOOOOOOOOOO:config", kwlist, &o[0], &o[1], &o[2], &o[3],
                                     &o[4], &o[5], &o[6], &o[7], &o[8], &o[9], &o[10], &o[11], &o[12], &o[13],
                                     &o[14], &o[15], &o[16], &o[17], &o[18], &o[19]))
        return NULL;
    lpy_config c;
    if (config_copy(&c, &lpy.cfg) < 0) return NULL;
    int rc = 0;
    if (o[0] && o[0] != Py_None) rc = parse_int(o[0], 0, 1 << 20, "threads", &c.threads);
    if (!rc && o[1] && o[1] != Py_None) rc = parse_bytes(o[1], &c.chunk_bytes);
    if (!rc && o[2] && o[2] != Py_None) rc = parse_bool(o[2], &c.fusion);
    if (!rc && o[3] && o[3] != Py_None) rc = parse_bool(o[3], &c.progress);
    if (!rc && o[4] && o[4] != Py_None) rc = parse_bool(o[4], &c.trace);
    if (!rc && o[5]) rc = parse_str(o[5], "executor", &c.executor);
    if (!rc && o[6]) rc = parse_str(o[6], "workers", &c.workers);
    if (!rc && o[7]) rc = parse_str(o[7], "store", &c.store);
    if (!rc && o[8]) rc = parse_str(o[8], "lambda_name", &c.lambda_name);
    if (!rc && o[9] && o[9] != Py_None) rc = parse_int(o[9], 0, 1024, "inflight", &c.inflight);
    if (!rc && o[10] && o[10] != Py_None) rc = parse_int(o[10], 0, 100, "max_tries", &c.max_tries);
    if (!rc && o[11] && o[11] != Py_None) {
        c.timeout = PyFloat_AsDouble(o[11]);
        if (c.timeout == -1.0 && PyErr_Occurred()) rc = -1;
    }
    if (!rc && o[12] && o[12] != Py_None) rc = parse_int(o[12], 0, 4096, "batch", &c.batch);
    if (!rc && o[13]) rc = parse_str(o[13], "key_file", &c.key_file);
    if (!rc && o[14]) rc = parse_str(o[14], "ca_file", &c.ca_file);
    if (!rc && o[16]) rc = parse_str(o[16], "orchestrate", &c.orchestrate);
    if (!rc && o[17] && o[17] != Py_None) rc = parse_int(o[17], 0, 1 << 20, "max_lambdas", &c.max_lambdas);
    if (!rc && o[18] && o[18] != Py_None) rc = parse_int(o[18], 0, 1 << 24, "lambda_mem_mb", &c.lambda_mem_mb);
    for (int k = 15; k < 20 && !rc; k += 4) /* deadline, runtime */
        if (o[k] && o[k] != Py_None) {
            double *d = k == 19 ? &c.runtime : &c.deadline;
            *d = PyFloat_AsDouble(o[k]);
            if (*d == -1.0 && PyErr_Occurred()) rc = -1;
        }
    LpyConfig *guard = rc ? NULL : PyObject_New(LpyConfig, &LpyConfig_Type);
    if (guard && config_copy(&guard->saved, &lpy.cfg) < 0) {
        memset(&guard->saved, 0, sizeof guard->saved);
        Py_CLEAR(guard);
    }
    if (guard && set_config(&c) < 0) Py_CLEAR(guard);
    config_clear(&c);
    return (PyObject *)guard;
}

static PyObject *str_or_none(const char *s) { return s ? PyUnicode_FromString(s) : Py_NewRef(Py_None); }

static PyObject *lpy_get_config(PyObject *self, PyObject *unused) {
    const lpy_config *c = &lpy.cfg;
    return Py_BuildValue("{s:i,s:n,s:O,s:O,s:O,s:N,s:N,s:N,s:N,s:i,s:i,s:d,s:i,s:N,s:N,s:d,s:N,s:i,s:i,s:d}", "threads", c->threads,
                         "chunk_bytes", (Py_ssize_t)c->chunk_bytes, "fusion", c->fusion ? Py_True : Py_False,
                         "progress", c->progress ? Py_True : Py_False, "trace", c->trace ? Py_True : Py_False,
                         "executor", PyUnicode_FromString(c->executor ? c->executor : "local"), "workers",
                         str_or_none(c->workers), "store", str_or_none(c->store), "lambda_name",
                         str_or_none(c->lambda_name), "inflight", c->inflight, "max_tries", c->max_tries,
                         "timeout", c->timeout, "batch", c->batch, "key_file", str_or_none(c->key_file),
                         "ca_file", str_or_none(c->ca_file), "deadline", c->deadline, "orchestrate",
                         PyUnicode_FromString(c->orchestrate ? c->orchestrate : "driver"), "max_lambdas", c->max_lambdas,
                         "lambda_mem_mb", c->lambda_mem_mb, "runtime", c->runtime);
}

static PyObject *guard_enter(PyObject *self, PyObject *unused) { return Py_NewRef(self); }

static PyObject *guard_exit(PyObject *self, PyObject *args) {
    if (set_config(&((LpyConfig *)self)->saved) < 0) return NULL;
    Py_RETURN_FALSE;
}

static PyObject *guard_repr(PyObject *self) {
    PyObject *d = lpy_get_config(NULL, NULL);
    if (!d) return NULL;
    PyObject *r = PyUnicode_FromFormat("lampy.config(%S)", d);
    Py_DECREF(d);
    return r;
}

static PyMethodDef guard_methods[] = {
    {"__enter__", guard_enter, METH_NOARGS, NULL},
    {"__exit__", guard_exit, METH_VARARGS, "Restore the settings in force before this config()."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject LpyConfig_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lampy._Config",
    .tp_basicsize = sizeof(LpyConfig),
    .tp_dealloc = guard_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Returned by lampy.config(): the settings are already applied; used as a context "
              "manager it restores the previous ones on exit.",
    .tp_methods = guard_methods,
    .tp_repr = guard_repr,
};

/* ---- runs and plans ------------------------------------------------------------------ */

static PyObject *lpy_last_run_stats(PyObject *self, PyObject *unused) {
    if (lpy_run_lock() < 0) return NULL;
    lp_run_stats s;
    lp_last_run_stats(lpy.run_ctx, &s);
    lp_run_report r;
    lp_last_run_report(lpy.run_ctx, &r);
    lpy_run_unlock();
    PyObject *d = Py_BuildValue("{s:L,s:L,s:L,s:L,s:d,s:d,s:i}", "tasks", (long long)s.tasks,
                                "bytes_read", (long long)s.bytes_read, "bytes_alloc", (long long)s.bytes_alloc,
                                "peak_bytes", (long long)s.peak_bytes, "plan_seconds", s.plan_seconds,
                                "run_seconds", s.run_seconds, "threads", s.threads);
    if (d) {
        PyObject *extra = Py_BuildValue("{s:L,s:d,s:d,s:d}", "bytes_written", (long long)r.bytes_written,
                                        "predicted_seconds", r.predicted_seconds, "busy_seconds",
                                        r.busy_seconds, "utilisation", r.utilisation);
        if (!extra || PyDict_Update(d, extra) < 0) Py_CLEAR(d);
        Py_XDECREF(extra);
    }
    return d;
}

/* Arguments: arrays (any array-likes) → new references; returns n or -1. */
static int target_list(PyObject *args, lp_array ***out) {
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n == 0 || n > INT32_MAX / 2) {
        PyErr_SetString(PyExc_TypeError, "expected one or more arrays");
        return -1;
    }
    lp_array **t = PyMem_Calloc((size_t)n, sizeof *t);
    if (!t) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (!(t[i] = lpy_to_array(PyTuple_GET_ITEM(args, i), false))) {
            for (Py_ssize_t k = 0; k < i; k++) lp_array_release(t[k]);
            PyMem_Free(t);
            return -1;
        }
    *out = t;
    return (int)n;
}

static void target_free(lp_array **t, int n) {
    for (int i = 0; i < n; i++) lp_array_release(t[i]);
    PyMem_Free(t);
}

static PyObject *take_string(lp_status st, char *s) {
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    PyObject *r = PyUnicode_FromString(s ? s : "");
    lp_string_free(s);
    return r;
}

static PyObject *lpy_to_dot(PyObject *self, PyObject *args, PyObject *kwargs) {
    int plan = 0;
    if (kwargs && PyDict_GET_SIZE(kwargs)) {
        PyObject *p = PyDict_GetItemString(kwargs, "plan");
        if (!p || PyDict_GET_SIZE(kwargs) != 1) {
            PyErr_SetString(PyExc_TypeError, "to_dot(*arrays, plan=False)");
            return NULL;
        }
        if ((plan = PyObject_IsTrue(p)) < 0) return NULL;
    }
    lp_array **t;
    int n = target_list(args, &t);
    if (n < 0) return NULL;
    char *s = NULL;
    lp_status st = lp_graph_dot(lpy.ctx, t, n, plan ? LP_DOT_PLAN : 0, &s);
    target_free(t, n);
    return take_string(st, s);
}

static PyObject *lpy_graph_json(PyObject *self, PyObject *args) {
    lp_array **t;
    int n = target_list(args, &t);
    if (n < 0) return NULL;
    char *s = NULL;
    lp_status st = lp_graph_dump(lpy.ctx, t, n, &s);
    target_free(t, n);
    return take_string(st, s);
}

static PyObject *lpy_plan_json(PyObject *self, PyObject *args) {
    lp_array **t;
    int n = target_list(args, &t);
    if (n < 0) return NULL;
    char *s = NULL;
    lp_status st = lp_plan_dump(lpy.ctx, t, n, &s);
    target_free(t, n);
    return take_string(st, s);
}

static PyObject *lpy_estimate(PyObject *self, PyObject *args, PyObject *kwargs) {
    int workers = 0, remote = 0, orch = 0, save = 0;
    if (kwargs && PyDict_GET_SIZE(kwargs)) {
        PyObject *k, *v;
        Py_ssize_t pos = 0;
        while (PyDict_Next(kwargs, &pos, &k, &v)) {
            if (PyUnicode_CompareWithASCIIString(k, "workers") == 0) {
                if (parse_int(v, 0, 1 << 20, "workers", &workers) < 0) return NULL;
            } else if (PyUnicode_CompareWithASCIIString(k, "remote") == 0) {
                if ((remote = PyObject_IsTrue(v)) < 0) return NULL;
            } else if (PyUnicode_CompareWithASCIIString(k, "orchestrate") == 0) {
                /* who orchestrates the remote run priced: "driver" or "lambda" (implies remote) */
                const char *o = PyUnicode_Check(v) ? PyUnicode_AsUTF8(v) : NULL;
                if (!o || (strcmp(o, "driver") && strcmp(o, "lambda"))) {
                    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "estimate(): orchestrate is 'driver' or 'lambda'");
                    return NULL;
                }
                orch = !strcmp(o, "lambda");
                remote = 1;
            } else if (PyUnicode_CompareWithASCIIString(k, "save") == 0) {
                /* price saving the targets into .npy files, as lp.save does (LP_ESTIMATE_SAVE) */
                if ((save = PyObject_IsTrue(v)) < 0) return NULL;
            } else {
                PyErr_Format(PyExc_TypeError, "estimate() got an unexpected keyword argument %R", k);
                return NULL;
            }
        }
    }
    lp_array **t;
    int n = target_list(args, &t);
    if (n < 0) return NULL;
    lp_estimate_result *e = NULL;
    int flags = (orch ? LP_ESTIMATE_ORCHESTRATE : remote ? LP_ESTIMATE_REMOTE : 0) | (save ? LP_ESTIMATE_SAVE : 0);
    lp_status st = lp_estimate(lpy.ctx, t, n, workers, flags, &e);
    target_free(t, n);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    PyObject *nodes = PyList_New(e->nnodes), *r = NULL;
    for (int i = 0; nodes && i < e->nnodes; i++) {
        const lp_estimate_node *x = &e->nodes[i];
        PyObject *shape = lpy_shape_tuple(x->ndim, x->shape);
        PyObject *d = shape ? Py_BuildValue("{s:i,s:s,s:s,s:s,s:N,s:L,s:d,s:d,s:d,s:d,s:O}", "id", x->id,
                                            "op", x->op, "kernel", x->kernel, "dtype", lp_dtype_name(x->dtype),
                                            "shape", shape, "tasks", (long long)x->tasks, "flops", x->flops,
                                            "bytes_read", x->bytes_read, "bytes_written", x->bytes_written,
                                            "seconds", x->seconds, "critical", x->critical ? Py_True : Py_False)
                            : NULL;
        if (!d) Py_CLEAR(nodes);
        else PyList_SET_ITEM(nodes, i, d);
    }
    if (nodes)
        r = Py_BuildValue("{s:i,s:O,s:L,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:N}", "workers", e->workers, "remote",
                          e->remote ? Py_True : Py_False, "tasks", (long long)e->tasks, "flops", e->flops,
                          "bytes_read", e->bytes_read, "bytes_written", e->bytes_written, "work_seconds",
                          e->work_seconds, "critical_seconds", e->critical_seconds, "total_seconds",
                          e->total_seconds, "save_seconds", e->save_seconds, "nodes", nodes);
    lp_estimate_free(e);
    return r;
}

static PyObject *lpy_trace_write(PyObject *self, PyObject *args) {
    PyObject *path;
    if (!PyArg_ParseTuple(args, "O&:trace_write", PyUnicode_FSConverter, &path)) return NULL;
    if (lpy_run_lock() < 0) {
        Py_DECREF(path);
        return NULL;
    }
    lp_status st = lp_trace_write(lpy.run_ctx, PyBytes_AS_STRING(path));
    PyObject *r = st == LP_OK ? Py_NewRef(Py_None) : lpy_raise(lpy.run_ctx, st);
    lpy_run_unlock();
    Py_DECREF(path);
    return r;
}

/* ---- orchestrated runs submitted now, waited for later ---- */

typedef struct submit_job {
    lp_array **t;
    int n;
    char id[LP_RUN_ID_MAX];
} submit_job;

static lp_status submit_fn(lp_ctx *ctx, void *arg) {
    submit_job *j = arg;
    return lp_submit(ctx, j->t, j->n, j->id);
}

static PyObject *lpy_submit(PyObject *self, PyObject *args) {
    submit_job j;
    j.n = target_list(args, &j.t);
    if (j.n < 0) return NULL;
    int rc = lpy_run_job(submit_fn, &j);
    target_free(j.t, j.n);
    return rc < 0 ? NULL : PyUnicode_FromString(j.id);
}

typedef struct wait_job {
    const char *id;
    double timeout;
    lp_buffer **res;
    int n;
} wait_job;

static lp_status wait_fn(lp_ctx *ctx, void *arg) {
    wait_job *j = arg;
    return lp_wait(ctx, j->id, j->timeout, &j->res, &j->n);
}

static PyObject *lpy_wait(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"run_id", "timeout", NULL};
    wait_job j = {0};
    PyObject *to = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|O:wait", kwlist, &j.id, &to)) return NULL;
    if (to != Py_None) {
        j.timeout = PyFloat_AsDouble(to);
        if (j.timeout == -1.0 && PyErr_Occurred()) return NULL;
        if (!(j.timeout > 0)) {
            PyErr_SetString(PyExc_ValueError, "timeout must be a positive number of seconds or None");
            return NULL;
        }
    }
    if (lpy_run_job(wait_fn, &j) < 0) return NULL;
    PyObject *t = PyTuple_New(j.n);
    for (int i = 0; i < j.n && t; i++) {
        PyObject *r = lpy_result_to_py(j.res[i], false);
        j.res[i] = NULL; /* stolen */
        if (!r) Py_CLEAR(t);
        else PyTuple_SET_ITEM(t, i, r);
    }
    lp_free_results(j.res, j.n);
    return t;
}

static PyMethodDef config_functions[] = {
    {"config", KW lpy_config_fn, METH_VARARGS | METH_KEYWORDS,
     "config(*, threads=None, chunk_bytes=None, fusion=None, progress=None, trace=None, "
     "executor=None, workers=None, store=None, lambda_name=None, inflight=None, max_tries=None, "
     "timeout=None, batch=None, key_file=None, ca_file=None, deadline=None)\n--\n\n"
     "Change Lampy's settings (global; arguments not given keep their value). The returned "
     "object restores the previous settings when used as a context manager:\n\n"
     "    with lp.config(threads=1, chunk_bytes='8MiB'):\n        x.run()\n\n"
     "threads: worker threads (0 = one per core). chunk_bytes: target chunk size (0 = automatic; "
     "an int or '64MiB'). fusion: graph optimisations. progress: a progress bar on stderr for long "
     "runs. trace: record a timeline of each run (see trace_write). executor: 'local' or 'lambda' "
     "(HTTP functions); workers: their URLs (a comma-separated string or a list); store: the chunk "
     "store URL; lambda_name, inflight, max_tries, timeout, batch: tuning of the lambda executor; "
     "key_file: the secret shared with workers and stores (requests are signed with it), ca_file: "
     "the CA bundle for https:// workers and stores, deadline: seconds a whole run may take. "
     "orchestrate: 'driver' (this process sends every task) or 'lambda' (one invocation; the functions "
     "plan, run and start each other; see submit); max_lambdas, lambda_mem_mb, runtime: its "
     "budget and limits. None unsets a string setting."},
    {"submit", lpy_submit, METH_VARARGS,
     "submit(*arrays)\n--\n\nStart an orchestrated run of the arrays (config(executor='lambda', "
     "orchestrate='lambda')) and return its id at once; wait(id) fetches the results, also from another "
     "process."},
    {"wait", KW lpy_wait, METH_VARARGS | METH_KEYWORDS,
     "wait(run_id, timeout=None)\n--\n\nThe results of a submitted run (a tuple of arrays, in the order "
     "given to submit), once the functions have computed them; its keys are then deleted from the store."},
    {"get_config", lpy_get_config, METH_NOARGS, "get_config()\n--\n\nThe settings in force, as a dict."},
    {"last_run_stats", lpy_last_run_stats, METH_NOARGS,
     "last_run_stats()\n--\n\nStatistics of the last computation (tasks, bytes, seconds)."},
    {"to_dot", KW lpy_to_dot, METH_VARARGS | METH_KEYWORDS,
     "to_dot(*arrays, plan=False)\n--\n\nGraphviz DOT text of the expression graph (plan=True: the "
     "planned tasks' nodes with their chunk grids)."},
    {"graph_json", lpy_graph_json, METH_VARARGS,
     "graph_json(*arrays)\n--\n\nThe expression graph as JSON (docs/GRAPH_FORMAT.md)."},
    {"plan_json", lpy_plan_json, METH_VARARGS,
     "plan_json(*arrays)\n--\n\nThe planned task graph as JSON (nothing is run)."},
    {"estimate", KW lpy_estimate, METH_VARARGS | METH_KEYWORDS,
     "estimate(*arrays, workers=0, remote=False, orchestrate=None, save=False)\n--\n\nThe cost model's "
     "prediction for computing the arrays: tasks, flops, bytes, seconds, per planned node (nothing is run). "
     "remote: as the lambda executor runs them (workers = lambdas at once); orchestrate='driver' or 'lambda' "
     "says who orchestrates (implies remote); save: and saving each into a .npy file as lp.save does "
     "(remotely written by the tasks; save_seconds: the writes this process makes, each file's sync and "
     "rename)."},
    {"trace_write", lpy_trace_write, METH_VARARGS,
     "trace_write(path)\n--\n\nWrite the last traced run (config(trace=True)) as a Chrome trace "
     "file (Perfetto, chrome://tracing)."},
    {NULL, NULL, 0, NULL},
};

int lpy_config_init(PyObject *m) {
    if (PyType_Ready(&LpyConfig_Type) < 0) return -1;
    if (PyModule_AddObjectRef(m, "_Config", (PyObject *)&LpyConfig_Type) < 0) return -1;
    return PyModule_AddFunctions(m, config_functions);
}
