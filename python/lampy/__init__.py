"""Lampy: NumPy for serverless functions.

Array expressions are lazy: operators, indexing and functions build an expression graph;
``run()`` / ``compute()`` (or ``numpy.asarray(x)``) plans it into chunked tasks and runs them in
parallel. NumPy arrays and other buffer-protocol objects are wrapped without copying.

    >>> import lampy as lp
    >>> x = lp.random.default_rng(0).random((1000, 8))
    >>> y = (x * 2 - 1).sum(axis=0)            # lazy
    >>> y.run()                                 # a numpy.ndarray of shape (8,)

Settings are global and work as a context manager::

    with lp.config(threads=2, chunk_bytes="8MiB"):
        y.run()
    with lp.config(executor="lambda", workers=["http://10.0.0.5:5000"], store="redis://10.0.0.9"):
        y.run()                                  # tasks run on HTTP functions
    with lp.config(executor="lambda", orchestrate="lambda", workers=..., store=...):
        y.run()                                  # one invocation: the functions run the graph
        run = lp.submit(y)                       # ... or submit now and wait later
        result, = run.wait()

Also: ``lp.compute(a, b, ...)`` (one pass for several results), ``lp.linalg`` (solve, inv,
cholesky, det, slogdet, eigh, lstsq, norm), ``a @ b``, ``lp.fisher_lda(X, y)`` (scikit-learn's
LDA attributes), ``lp.estimate``/``lp.to_dot``/``lp.plan_json`` to look at a plan before running
it, ``lp.config(trace=True)`` + ``lp.trace_write(path)`` for a Chrome trace of a run,
``lp.while_loop`` / ``lp.fori_loop`` (loops that run inside the graph, JAX's semantics),
``lp.dump_graph`` / ``lp.load_graph`` (graph files that run anywhere), and ``lampy.ml``
(KMeans, LogisticRegression, PCA, QDA/RDA, LDA with scikit-learn's names).

Errors raise ValueError (shapes, values), TypeError (dtypes, argument types),
FileNotFoundError / OSError (files), MemoryError, numpy.linalg.LinAlgError; Ctrl-C cancels a
running computation (KeyboardInterrupt) and leaves Lampy usable.
"""
import math as _math

from . import _lampy
from ._lampy import Array, ndarray, __version__  # noqa: F401

# Everything public in the extension (functions such as zeros, sum, exp, ...).
_public = [n for n in dir(_lampy) if not n.startswith("_") and n not in ("Generator", "default_rng")]
globals().update({n: getattr(_lampy, n) for n in _public})

from . import random  # noqa: E402  (lp.random.default_rng)
from . import linalg  # noqa: E402  (lp.linalg.solve, ...)
from . import fft  # noqa: E402  (lp.fft.fft, ...: the array API's fft extension, FFTW)
# loops inside the graph and graph files (pure Python over the extension's builders)
from .loops import (while_loop, fori_loop, Graph, load_graph, dump_graph)  # noqa: E402,F401

_public += ["while_loop", "fori_loop", "Graph", "load_graph", "dump_graph"]


def __getattr__(name):
    # lampy.ml (KMeans, LogisticRegression, PCA, QDA, RDA, LDA) needs NumPy: imported on first use
    if name == "ml":  # import_module: `from . import ml` would ask this hook again (recursion)
        import importlib
        return importlib.import_module(".ml", __name__)
    raise AttributeError(f"module 'lampy' has no attribute {name!r}")

if hasattr(_lampy, "FisherLDA"):

    def fisher_lda(X=None, y=None, *, shrinkage=None, priors=None, n_components=None):
        """A FisherLDA model (scikit-learn's LinearDiscriminantAnalysis(solver='eigen')
        semantics), fitted on X and y when they are given.

        shrinkage: None, 'auto' (Ledoit-Wolf) or a float in [0, 1]. The fit reads X in
        parallel chunks; predict/transform/decision_function return lazy arrays.
        """
        model = FisherLDA(shrinkage=shrinkage, priors=priors, n_components=n_components)
        return model if X is None else model.fit(X, y)

    _public.append("fisher_lda")

_raw_submit = _lampy.submit


class Run:
    """An orchestrated run started with :func:`submit`: ``id`` names it (any process whose
    configuration names the same store and workers may wait for it with ``lampy.Run(id)``,
    ``lampy.wait(id)`` or ``lampy wait ID``), ``wait()`` returns its results once computed."""

    def __init__(self, run_id):
        self.id = run_id

    def wait(self, timeout=None):
        """The results (a tuple, in the order given to submit); the run's keys are deleted
        afterwards, so a run is waited for once. timeout: seconds (None: the run's deadline)."""
        return _lampy.wait(self.id, timeout)

    def __repr__(self):
        return f"lampy.Run({self.id!r})"


def submit(*arrays):
    """Start an orchestrated run of the arrays (``config(executor="lambda",
    orchestrate="lambda")``): the graph goes to the store, one function is invoked, and this
    returns at once with a :class:`Run` to wait on."""
    return Run(_raw_submit(*arrays))


_public.append("Run")

#: Index with ``x[:, newaxis]`` to insert an axis.
newaxis = None

# The library's dtypes as module attributes (lp.float64, ...): numpy.dtype objects when NumPy
# is installed, else their names; every dtype argument accepts these, Python types and NumPy
# dtypes. `lampy.bool` (the array API's name) is set at the end of this file: it shadows the
# builtin inside this module.
_dtype_names = [getattr(_d, "name", _d) for _d in _lampy._dtypes]
globals().update({_n: _d for _n, _d in zip(_dtype_names, _lampy._dtypes) if _n != "bool"})
bool_ = _lampy._dtypes[_dtype_names.index("bool")]

# The array API standard: x.__array_namespace__() is this module.
__array_api_version__ = "2024.12"
from .array_api import (finfo, iinfo, isdtype, result_type, can_cast,  # noqa: E402,F401
                        __array_namespace_info__)
from .array_api import named_results as _named_results  # noqa: E402

_named_results(globals())  # unique_all/counts/inverse: NumPy's named tuples

_public += ["finfo", "iinfo", "isdtype", "result_type", "can_cast"]



def from_dlpack(x, /, *, device=None, copy=None):
    """An array of any DLPack exporter's data (NumPy reads the capsule; the result is wrapped
    without a copy unless copy=True)."""
    try:
        import numpy
    except ImportError:  # pragma: no cover
        raise BufferError("from_dlpack needs NumPy to read a DLPack capsule") from None
    if device not in (None, "cpu"):
        raise ValueError(f"unsupported device {device!r} (lampy's only device is 'cpu')")
    return asarray(numpy.from_dlpack(x, copy=copy))


_public.append("from_dlpack")

pi = _math.pi
e = _math.e
inf = _math.inf
nan = _math.nan

__all__ = sorted(set(_public) | {"random", "linalg", "fft", "ml", "newaxis", "bool_", "pi", "e", "inf", "nan",
                                 "__version__"} | {n for n in _dtype_names if n != "bool"})


def _visualize(x, filename=None, plan=False):
    """Implementation of Array.visualize (see its docstring)."""
    import os
    import subprocess
    text = to_dot(x, plan=plan)
    if filename is None:
        return text
    filename = os.fspath(filename)
    ext = os.path.splitext(filename)[1].lstrip(".").lower() or "svg"
    if ext in ("dot", "gv"):
        with open(filename, "w") as f:
            f.write(text)
        return filename
    try:
        r = subprocess.run(["dot", "-T" + ext, "-o", filename], input=text.encode(),
                           capture_output=True, check=False)
    except FileNotFoundError:
        raise RuntimeError("visualize: Graphviz 'dot' is not installed; write a .dot file "
                           "instead or install graphviz") from None
    if r.returncode != 0:
        raise RuntimeError("visualize: dot failed: " + r.stderr.decode(errors="replace").strip())
    return filename


globals()["bool"] = bool_  # the array API's lampy.bool (last: it shadows the builtin here)
