/* lampy.random.default_rng(seed) → Generator. Lampy's generators are counter based: element i
 * depends only on (stream seed, i), so chunks compute independently. A Generator derives a new
 * stream seed for every call from (seed, call number), so successive calls differ and the
 * whole sequence is reproducible from the seed. */
#include "lampy_py.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    PyObject_HEAD
    uint64_t seed;
    uint64_t calls;
} LpyGenerator;

static PyTypeObject LpyGenerator_Type;

static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static uint64_t next_stream(LpyGenerator *g) {
    uint64_t k = g->calls++;
    return splitmix64(g->seed ^ splitmix64(k * 0xD1342543DE82EF95ull + 1));
}

static int parse_size(PyObject *size, int64_t *shape) {
    if (size == Py_None) return 0;
    return lpy_parse_shape(size, shape);
}

static int float_dtype(PyObject *dtype, lp_dtype *dt) {
    if (dtype == Py_None) {
        *dt = LP_FLOAT64;
        return 0;
    }
    if (lpy_parse_dtype(dtype, dt) < 0) return -1;
    if (*dt != LP_FLOAT32 && *dt != LP_FLOAT64) {
        PyErr_Format(PyExc_TypeError, "Unsupported dtype %R for random numbers (float32 or float64)", dtype);
        return -1;
    }
    return 0;
}

static int real_arg(PyObject *o, double *out, const char *what) {
    if (LpyArray_Check(o) || PyObject_CheckBuffer(o) || PyList_Check(o) || PyTuple_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a Python number (array parameters are not "
                                      "supported by lazy generators)", what);
        return -1;
    }
    *out = PyFloat_AsDouble(o);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

static PyObject *gen_make(LpyGenerator *g, bool normal, double p0, double p1, lp_dtype dt,
                          PyObject *size, PyObject *chunks) {
    int64_t shape[LP_MAX_NDIM];
    int ndim = parse_size(size, shape);
    if (ndim < 0) return NULL;
    lp_array *out;
    uint64_t s = next_stream(g);
    lp_status st = normal ? lp_random_normal(lpy.ctx, s, p0, p1, dt, ndim, shape, &out)
                          : lp_random_uniform(lpy.ctx, s, p0, p1, dt, ndim, shape, &out);
    if (st != LP_OK) return lpy_raise(lpy.ctx, st);
    if (chunks && chunks != Py_None && lpy_set_chunks(out, chunks) < 0) {
        lp_array_release(out);
        return NULL;
    }
    return lpy_array_new(out);
}

static PyObject *gen_random(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"size", "dtype", "out", "chunks", NULL};
    PyObject *size = Py_None, *dtype = Py_None, *out = Py_None, *chunks = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OOO$O:random", kwlist, &size, &dtype, &out, &chunks))
        return NULL;
    if (out != Py_None) {
        PyErr_SetString(PyExc_TypeError, "random: out= is not supported by lazy arrays");
        return NULL;
    }
    lp_dtype dt;
    if (float_dtype(dtype, &dt) < 0) return NULL;
    return gen_make((LpyGenerator *)self, false, 0.0, 1.0, dt, size, chunks);
}

static PyObject *gen_uniform(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"low", "high", "size", "dtype", "chunks", NULL};
    PyObject *olow = NULL, *ohigh = NULL, *size = Py_None, *dtype = Py_None, *chunks = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OOO$OO:uniform", kwlist, &olow, &ohigh, &size,
                                     &dtype, &chunks))
        return NULL;
    double low = 0.0, high = 1.0;
    if (olow && real_arg(olow, &low, "low") < 0) return NULL;
    if (ohigh && real_arg(ohigh, &high, "high") < 0) return NULL;
    lp_dtype dt;
    if (float_dtype(dtype, &dt) < 0) return NULL;
    return gen_make((LpyGenerator *)self, false, low, high, dt, size, chunks);
}

static PyObject *gen_normal(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"loc", "scale", "size", "dtype", "chunks", NULL};
    PyObject *oloc = NULL, *oscale = NULL, *size = Py_None, *dtype = Py_None, *chunks = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OOO$OO:normal", kwlist, &oloc, &oscale, &size,
                                     &dtype, &chunks))
        return NULL;
    double loc = 0.0, scale = 1.0;
    if (oloc && real_arg(oloc, &loc, "loc") < 0) return NULL;
    if (oscale && real_arg(oscale, &scale, "scale") < 0) return NULL;
    if (scale < 0) {
        PyErr_SetString(PyExc_ValueError, "scale < 0");
        return NULL;
    }
    lp_dtype dt;
    if (float_dtype(dtype, &dt) < 0) return NULL;
    return gen_make((LpyGenerator *)self, true, loc, scale, dt, size, chunks);
}

static PyObject *gen_standard_normal(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"size", "dtype", "out", "chunks", NULL};
    PyObject *size = Py_None, *dtype = Py_None, *out = Py_None, *chunks = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OOO$O:standard_normal", kwlist, &size, &dtype,
                                     &out, &chunks))
        return NULL;
    if (out != Py_None) {
        PyErr_SetString(PyExc_TypeError, "standard_normal: out= is not supported by lazy arrays");
        return NULL;
    }
    lp_dtype dt;
    if (float_dtype(dtype, &dt) < 0) return NULL;
    return gen_make((LpyGenerator *)self, true, 0.0, 1.0, dt, size, chunks);
}

static PyObject *gen_repr(PyObject *self) {
    LpyGenerator *g = (LpyGenerator *)self;
    return PyUnicode_FromFormat("lampy.random.Generator(seed=%llu, calls=%llu)",
                                (unsigned long long)g->seed, (unsigned long long)g->calls);
}

static PyObject *gen_get_seed(PyObject *self, void *c) {
    return PyLong_FromUnsignedLongLong(((LpyGenerator *)self)->seed);
}

#define KW (PyCFunction)(void (*)(void))
static PyMethodDef gen_methods[] = {
    {"random", KW gen_random, METH_VARARGS | METH_KEYWORDS,
     "random(size=None, dtype=float64, out=None, *, chunks=None)\n--\n\nUniform floats in [0, 1)."},
    {"uniform", KW gen_uniform, METH_VARARGS | METH_KEYWORDS,
     "uniform(low=0.0, high=1.0, size=None, *, dtype=float64, chunks=None)\n--\n\nUniform floats "
     "in [low, high)."},
    {"normal", KW gen_normal, METH_VARARGS | METH_KEYWORDS,
     "normal(loc=0.0, scale=1.0, size=None, *, dtype=float64, chunks=None)\n--\n\nNormal "
     "(Gaussian) samples."},
    {"standard_normal", KW gen_standard_normal, METH_VARARGS | METH_KEYWORDS,
     "standard_normal(size=None, dtype=float64, out=None, *, chunks=None)\n--\n\nN(0, 1) samples."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef gen_getset[] = {
    {"seed", gen_get_seed, NULL, "The seed this generator was made from (64 bits).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject LpyGenerator_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lampy.random.Generator",
    .tp_basicsize = sizeof(LpyGenerator),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A lazy random generator (see lampy.random.default_rng). Each call returns a lazy "
              "array drawn from a fresh stream derived from the seed and the call number.",
    .tp_methods = gen_methods,
    .tp_getset = gen_getset,
    .tp_repr = gen_repr,
};

static PyObject *fn_default_rng(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"seed", NULL};
    PyObject *seed = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:default_rng", kwlist, &seed)) return NULL;
    if (Py_IS_TYPE(seed, &LpyGenerator_Type)) return Py_NewRef(seed);
    uint64_t s;
    if (seed == Py_None) {
        if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            s = splitmix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)getpid());
        }
    } else {
        if (PyBool_Check(seed) || !PyIndex_Check(seed)) {
            PyErr_Format(PyExc_TypeError, "seed must be None or a non-negative int, not %.100s",
                         Py_TYPE(seed)->tp_name);
            return NULL;
        }
        PyObject *i = PyNumber_Index(seed);
        if (!i) return NULL;
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(i, &overflow);
        if (overflow < 0 || (!overflow && v < 0)) {
            Py_DECREF(i);
            PyErr_SetString(PyExc_ValueError, "expected non-negative integer");
            return NULL;
        }
        /* ints beyond 64 bits fold their high words in, so every bit matters */
        s = 0;
        PyObject *cur = i, *shift = PyLong_FromLong(64);
        if (!shift) {
            Py_DECREF(i);
            return NULL;
        }
        Py_INCREF(cur);
        for (int w = 0;; w++) {
            uint64_t word = PyLong_AsUnsignedLongLongMask(cur);
            s = w == 0 ? word : splitmix64(s ^ word);
            PyObject *next = PyNumber_Rshift(cur, shift);
            Py_DECREF(cur);
            if (!next) {
                Py_DECREF(shift);
                Py_DECREF(i);
                return NULL;
            }
            cur = next;
            int zero = PyObject_Not(cur);
            if (zero) break;
        }
        Py_DECREF(cur);
        Py_DECREF(shift);
        Py_DECREF(i);
    }
    LpyGenerator *g = PyObject_New(LpyGenerator, &LpyGenerator_Type);
    if (!g) return NULL;
    g->seed = s;
    g->calls = 0;
    return (PyObject *)g;
}

static PyMethodDef random_methods[] = {
    {"default_rng", KW fn_default_rng, METH_VARARGS | METH_KEYWORDS,
     "default_rng(seed=None)\n--\n\nA lazy random Generator; the same seed gives the same "
     "sequence of arrays (Philox4x32-10 streams, not NumPy's numbers)."},
    {NULL, NULL, 0, NULL},
};

int lpy_random_init(PyObject *m) {
    if (PyType_Ready(&LpyGenerator_Type) < 0) return -1;
    if (PyModule_AddObjectRef(m, "Generator", (PyObject *)&LpyGenerator_Type) < 0) return -1;
    return PyModule_AddFunctions(m, random_methods);
}
