"""Loops that run inside the graph (JAX's ``while_loop`` / ``fori_loop``) and graph files.

The Python functions are traced ONCE, with placeholder Arrays standing for the carried values;
what they build becomes the loop's body and condition subgraphs. Nothing in Python runs per
iteration: Lampy plans the body once and runs it as chunked tasks each iteration, and decides
the condition between iterations::

    >>> import lampy as lp
    >>> lp.while_loop(lambda x: x < 100, lambda x: x * 3, 1.0).run()
    array(243.)
    >>> lp.fori_loop(0, 10, lambda i, v: v * 0.5 + i, lp.ones(4)).run()

The carried value (``init_val``) may be one array or a tuple / list / dict of them (nested);
the functions receive and return the same structure, and every leaf keeps its dtype and shape
(an error when the loop is built otherwise). Python numbers a body returns take the dtype of
the value they replace.

Graph files (docs/GRAPH_FORMAT.md) hold a computation, loops included, so that it runs on
another machine: ``lp.dump_graph(arrays, path)`` / ``lp.load_graph(path).run()`` and
``lampy run GRAPH.json`` on the command line.
"""
import numbers as _numbers
import os as _os

from . import _lampy

__all__ = ["while_loop", "fori_loop", "placeholder", "Graph", "load_graph", "dump_graph"]

placeholder = _lampy.placeholder


# ---- carried values: one array, or tuples / lists / dicts of them -----------------------

def _flatten(tree):
    """(leaves, rebuild): the leaves in a fixed order and a function making the same
    structure from a list of new leaves."""
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(t) for t in tree]
        kind = type(tree)

        def rebuild(leaves, parts=parts, kind=kind):
            out, k = [], 0
            for lv, rb in parts:
                out.append(rb(leaves[k:k + len(lv)]))
                k += len(lv)
            return kind(out) if kind in (tuple, list) else kind(*out)
        return [x for lv, _ in parts for x in lv], rebuild
    if isinstance(tree, dict):
        keys = sorted(tree)
        parts = [_flatten(tree[k]) for k in keys]

        def rebuild(leaves, parts=parts, keys=keys):
            out, k = {}, 0
            for key, (lv, rb) in zip(keys, parts):
                out[key] = rb(leaves[k:k + len(lv)])
                k += len(lv)
            return out
        return [x for lv, _ in parts for x in lv], rebuild
    return [tree], lambda leaves: leaves[0]


def _structure(tree):
    """A comparable description of a tree's structure (leaves as None)."""
    if isinstance(tree, (tuple, list)):
        return (type(tree).__name__, tuple(_structure(t) for t in tree))
    if isinstance(tree, dict):
        return ("dict", tuple((k, _structure(tree[k])) for k in sorted(tree)))
    return None


def _as_array(x, what):
    if isinstance(x, _lampy.Array):
        return x
    try:
        return _lampy.asarray(x)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what}: expected arrays or numbers, got {type(x).__name__}") from e


def _leaf_out(x, like, what):
    """A function's output leaf, as an Array; Python numbers take the carried dtype."""
    if isinstance(x, _lampy.Array):
        return x
    if isinstance(x, (bool, _numbers.Number)) and not hasattr(x, "dtype"):
        return _lampy.asarray(x, dtype=like.dtype)
    return _as_array(x, what)


def _placeholders(leaves):
    return [placeholder(a.shape, a.dtype) for a in leaves]


def _trace(fun, args, what):
    """Call a traced function once (with placeholders)."""
    return fun(*args)


def while_loop(cond_fun, body_fun, init_val, *, max_iter=None, last_state=False):
    """``val = init_val; while cond_fun(val): val = body_fun(val); return val`` inside the
    graph (jax.lax.while_loop).

    cond_fun(val) must return a 0-d bool Array (for example ``x.sum() > 1``: a chunked
    reduction, decided between iterations). body_fun(val) returns a value of the same
    structure, dtypes and shapes. Both are called once, with placeholder Arrays. The result
    is lazy (same structure as init_val): computing any of it runs the loop once.

    max_iter bounds the iterations (default 1,000,000): reaching it with the condition still
    true raises RuntimeError, unless last_state=True, which returns the state then.
    """
    leaves, rebuild = _flatten(init_val)
    init = [_as_array(x, "while_loop: init_val") for x in leaves]
    if not init:
        raise ValueError("while_loop: init_val needs at least one array")
    cp = _placeholders(init)
    c = _trace(cond_fun, (rebuild(cp),), "while_loop: cond_fun")
    if not isinstance(c, _lampy.Array):
        if isinstance(c, (bool, _numbers.Number)):
            c = _lampy.asarray(bool(c))
        else:
            raise TypeError(f"while_loop: cond_fun must return a boolean scalar Array, not {type(c).__name__}")
    bp = _placeholders(init)
    out = _trace(body_fun, (rebuild(bp),), "while_loop: body_fun")
    bo = _body_leaves(out, init_val, init, "while_loop: body_fun")
    m = 0 if max_iter is None else int(max_iter)
    if max_iter is not None and m < 1:
        raise ValueError("while_loop: max_iter must be at least 1")
    res = _lampy._loop("while", init, bp, bo, cp, c, 0, 0, m, bool(last_state))
    return rebuild(res)


def _body_leaves(out, init_val, init, what):
    if _structure(out) != _structure(init_val):
        raise TypeError(f"{what} must return the structure of init_val "
                        f"({_structure(init_val)!r}), got {_structure(out)!r}")
    leaves, _ = _flatten(out)
    return [_leaf_out(x, like, what) for x, like in zip(leaves, init)]


def _static_int(x):
    if isinstance(x, bool):
        return None
    if isinstance(x, _numbers.Integral):
        return int(x)
    if hasattr(x, "dtype") and not isinstance(x, _lampy.Array) and getattr(x, "ndim", 1) == 0:
        try:
            return int(x) if str(x.dtype).startswith(("int", "uint")) else None
        except TypeError:
            return None
    return None


def fori_loop(lower, upper, body_fun, init_val):
    """``val = init_val; for i in range(lower, upper): val = body_fun(i, val); return val``
    inside the graph (jax.lax.fori_loop).

    body_fun(i, val) is called once: i is a 0-d int64 placeholder that promotes like a Python
    int (float32 values stay float32), val placeholders of init_val's structure. No iteration
    when upper <= lower. lower and upper are Python ints, or Arrays (computed, or values of an
    enclosing loop): then the loop is a while_loop over (i, val), as JAX does.
    """
    lo, hi = _static_int(lower), _static_int(upper)
    if lo is None or hi is None:
        lo_a = _lampy.asarray(lower, dtype="int64") if not isinstance(lower, _lampy.Array) else lower.astype("int64")
        hi_a = _lampy.asarray(upper, dtype="int64") if not isinstance(upper, _lampy.Array) else upper.astype("int64")
        if lo_a.ndim or hi_a.ndim:
            raise ValueError("fori_loop: lower and upper must be scalars")
        res = while_loop(lambda s: s[0] < hi_a, lambda s: (s[0] + 1, body_fun(s[0], s[1])), (lo_a, init_val))
        return res[1]
    leaves, rebuild = _flatten(init_val)
    init = [_as_array(x, "fori_loop: init_val") for x in leaves]
    if not init:
        raise ValueError("fori_loop: init_val needs at least one array")
    idx = _lampy._loop_index()
    bp = _placeholders(init)
    out = _trace(body_fun, (idx, rebuild(bp)), "fori_loop: body_fun")
    bo = _body_leaves(out, init_val, init, "fori_loop: body_fun")
    res = _lampy._loop("fori", init, [idx] + bp, bo, [], None, lo, hi, 0, False)
    return rebuild(res)


# ---- graph files ---------------------------------------------------------------------------

class Graph:
    """A computation: its targets (lazy Arrays), usually loaded from a graph file
    (:func:`load_graph`). ``run()`` computes them all in one pass."""

    def __init__(self, targets):
        self.targets = [_as_array(t, "Graph") for t in targets]

    @classmethod
    def loads(cls, text):
        """A Graph from a graph document's text."""
        return cls(_lampy._graph_load(text))

    def run(self):
        """The targets' values, as a list of NumPy arrays (loops run inside the graph)."""
        return list(_lampy.compute(*self.targets))

    compute = run

    def dumps(self, data_dir=None):
        """The graph document (JSON text). In-memory data larger than 64 elements needs
        data_dir, where it is written as .npy files the document loads."""
        if data_dir is not None:
            _os.makedirs(data_dir, exist_ok=True)
        return _lampy._graph_dump(self.targets, data_dir)

    def dump(self, path, data_dir=None):
        """Write the graph document to path (see dumps)."""
        text = self.dumps(data_dir)
        with open(path, "w") as f:
            f.write(text)
        return path

    def to_dot(self, plan=False):
        return _lampy.to_dot(*self.targets, plan=plan)

    def __len__(self):
        return len(self.targets)

    def __iter__(self):
        return iter(self.targets)

    def __getitem__(self, k):
        return self.targets[k]

    def __repr__(self):
        return f"<lampy.Graph of {len(self.targets)} target{'s' if len(self.targets) != 1 else ''}>"


def load_graph(path):
    """The Graph in a graph file (``lampy graph --json``, :func:`dump_graph`, lp_graph_dump):
    every node rebuilt and checked. Files of load nodes are read relative to the working
    directory, when the graph runs."""
    with open(_os.fspath(path)) as f:
        return Graph.loads(f.read())


def dump_graph(arrays, path, data_dir=None):
    """Write the graph of one Array or a sequence of them to path (see Graph.dumps)."""
    if isinstance(arrays, _lampy.Array):
        arrays = [arrays]
    return Graph(arrays).dump(path, data_dir)
