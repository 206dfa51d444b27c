"""Building lazy expressions: shapes, dtypes, attributes, repr and argument errors. Nothing
here computes, so these tests describe the binding even without the executor."""
import re
import weakref
import gc

import numpy as np
import pytest

import lampy as lp

DTYPES = ["bool", "int32", "int64", "float32", "float64"]
# every dtype Lampy has (NumPy results in the others are refused with TypeError here)
ALL_DTYPES = DTYPES + ["int8", "int16", "uint8", "uint16", "uint32", "uint64", "float16"]


def sample(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("int"):
        return rng.integers(-5, 6, size=shape).astype(dtype)
    return (rng.random(shape) * 4 - 2).astype(dtype)


def test_module_surface():
    for name in ["Array", "ndarray", "zeros", "ones", "full", "arange", "linspace", "eye",
                 "asarray", "load", "save", "compute", "config", "exp", "log", "sqrt", "sin",
                 "cos", "tanh", "abs", "where", "maximum", "minimum", "concatenate", "stack",
                 "sum", "prod", "mean", "min", "max", "argmin", "argmax", "var", "std", "any",
                 "all", "logical_and", "logical_or", "logical_xor", "logical_not", "random"]:
        assert hasattr(lp, name), name
    assert callable(lp.random.default_rng)
    assert lp.__version__


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 4), (2, 3, 4), (1, 1, 1, 5)])
def test_attributes_from_numpy(shape, dtype):
    x = sample(shape, dtype)
    a = lp.asarray(x)
    assert isinstance(a, lp.Array)
    assert a.shape == x.shape
    assert a.dtype == x.dtype
    assert a.ndim == x.ndim
    assert a.size == x.size
    assert a.nbytes == x.nbytes
    assert a.itemsize == x.itemsize
    assert len(a.chunks) == x.ndim
    assert not a.computed


def test_repr():
    a = lp.zeros((1000, 8))
    r = repr(a)
    assert re.fullmatch(r"lampy\.Array<shape=\(1000, 8\), dtype=float64, chunks=\(\d+, \d+\), lazy>", r), r
    assert str(a) == r  # lazy arrays print their repr
    assert "shape=()" in repr(lp.asarray(3.0))


BINARY = [
    ("add", lambda x, y: x + y), ("subtract", lambda x, y: x - y),
    ("multiply", lambda x, y: x * y), ("divide", lambda x, y: x / y),
    ("floor_divide", lambda x, y: x // y), ("remainder", lambda x, y: x % y),
    ("power", lambda x, y: x ** y), ("and", lambda x, y: x & y), ("or", lambda x, y: x | y),
    ("xor", lambda x, y: x ^ y), ("lt", lambda x, y: x < y), ("le", lambda x, y: x <= y),
    ("eq", lambda x, y: x == y), ("ne", lambda x, y: x != y), ("gt", lambda x, y: x > y),
    ("ge", lambda x, y: x >= y),
]


def numpy_outcome(f, *args):
    """NumPy's result, or TypeError when NumPy refuses the operand types."""
    with np.errstate(all="ignore"):
        try:
            r = f(*args)
        except TypeError:
            return TypeError
    if np.asarray(r).dtype.name not in ALL_DTYPES:
        return TypeError
    return r


@pytest.mark.parametrize("name,f", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("dt1", DTYPES)
@pytest.mark.parametrize("dt2", DTYPES)
def test_binary_result_types(name, f, dt1, dt2):
    x, y = np.ones((3, 1), dt1), np.ones((4,), dt2)
    expect = numpy_outcome(f, x, y)
    if expect is TypeError:
        with pytest.raises(TypeError):
            f(lp.asarray(x), lp.asarray(y))
        return
    r = f(lp.asarray(x), lp.asarray(y))
    assert isinstance(r, lp.Array)
    assert r.shape == expect.shape
    assert r.dtype == expect.dtype, (name, dt1, dt2)


@pytest.mark.parametrize("name,f", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("scalar", [True, 3, -2.5])
def test_weak_scalar_types(name, f, dt, scalar):
    """Python scalars are weak (NEP 50): int32_array + 3 stays int32."""
    x = np.ones((5,), dt)
    for g in (lambda a: f(a, scalar), lambda a: f(scalar, a)):
        expect = numpy_outcome(g, x)
        if expect is TypeError:
            with pytest.raises(TypeError):
                g(lp.asarray(x))
            continue
        r = g(lp.asarray(x))
        assert r.dtype == expect.dtype, (name, dt, scalar)
        assert r.shape == expect.shape


@pytest.mark.parametrize("dt", DTYPES)
def test_reflected_with_numpy(dt):
    x = sample((2, 3), dt)
    y = sample((3,), "float64")
    a = lp.asarray(x)
    for r in (y + a, y * a, y - a, y < a, np.maximum(y, a)):
        assert isinstance(r, lp.Array)
        assert r.shape == (2, 3)


UNARY = [("neg", lambda x: -x), ("pos", lambda x: +x), ("abs", abs), ("invert", lambda x: ~x)]


@pytest.mark.parametrize("name,f", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("dt", DTYPES)
def test_unary_types(name, f, dt):
    x = sample((4,), dt)
    expect = numpy_outcome(f, x)
    if name == "pos":  # +a is the same lazy array
        assert f(lp.asarray(x)).dtype == x.dtype
        return
    if expect is TypeError:
        with pytest.raises(TypeError):
            f(lp.asarray(x))
        return
    assert f(lp.asarray(x)).dtype == expect.dtype


@pytest.mark.parametrize("fn", ["exp", "log", "sqrt", "sin", "cos", "tanh"])
@pytest.mark.parametrize("dt", DTYPES)
def test_math_types(fn, dt):
    x = sample((4,), dt)
    expect = numpy_outcome(getattr(np, fn), x)
    if expect is TypeError:
        with pytest.raises(TypeError):
            getattr(lp, fn)(lp.asarray(x))
        return
    assert getattr(lp, fn)(lp.asarray(x)).dtype == expect.dtype
    assert getattr(np, fn)(lp.asarray(x)).dtype == expect.dtype  # via __array_ufunc__


REDUCTIONS = ["sum", "prod", "mean", "min", "max", "argmin", "argmax", "var", "std", "any", "all"]


@pytest.mark.parametrize("op", REDUCTIONS)
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2), ()])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_types(op, dt, axis, keepdims):
    x = sample((2, 3, 4), dt)
    if op in ("argmin", "argmax") and isinstance(axis, tuple):
        with pytest.raises(TypeError):
            getattr(lp.asarray(x), op)(axis=axis)
        return
    expect = numpy_outcome(lambda v: getattr(np, op)(v, axis=axis, keepdims=keepdims), x)
    if expect is TypeError:
        with pytest.raises(TypeError):
            getattr(lp.asarray(x), op)(axis=axis, keepdims=keepdims)
        return
    r = getattr(lp.asarray(x), op)(axis=axis, keepdims=keepdims)
    assert r.shape == np.shape(expect)
    assert r.dtype == np.asarray(expect).dtype, (op, dt, axis)
    r2 = getattr(lp, op)(x, axis=axis, keepdims=keepdims)
    assert r2.shape == r.shape and r2.dtype == r.dtype


KEYS = [1, -1, slice(1, 3), slice(None, None, 2), slice(None, None, -1), slice(5, 1, -2),
        (Ellipsis, 0), None, (slice(None), None, slice(1, None)), slice(100, None),
        slice(-100, 2), (), (1, 2), (Ellipsis,), (None, Ellipsis, None), (0, Ellipsis, -1),
        np.int64(2), (slice(None), np.int32(-2))]


@pytest.mark.parametrize("key", KEYS, ids=[repr(k) for k in KEYS])
def test_indexing_shapes(key):
    x = sample((6, 5, 4), "float64")
    assert lp.asarray(x)[key].shape == x[key].shape


def test_shape_functions():
    x = sample((2, 3, 4), "int32")
    a = lp.asarray(x)
    assert a.reshape(4, 6).shape == (4, 6)
    assert a.reshape((4, -1)).shape == (4, 6)
    assert a.reshape(-1).shape == (24,)
    assert a.reshape(shape=(24,)).shape == (24,)
    assert a.ravel().shape == (24,)
    assert a.T.shape == (4, 3, 2)
    assert a.transpose().shape == (4, 3, 2)
    assert a.transpose(1, 0, 2).shape == (3, 2, 4)
    assert a.transpose((2, 0, 1)).shape == (4, 2, 3)
    assert lp.transpose(a, (2, 0, 1)).shape == (4, 2, 3)
    assert lp.reshape(a, (6, 4)).shape == (6, 4)
    for dt in DTYPES:
        assert a.astype(dt).dtype == np.dtype(dt)
        assert lp.astype(a, dt).dtype == np.dtype(dt)
    assert a.astype(np.float32).dtype == np.float32
    assert a.astype(float).dtype == np.float64
    assert lp.concatenate([a, a], axis=1).shape == (2, 6, 4)
    assert lp.concatenate([a, a], axis=None).shape == (48,)
    assert lp.stack([a, a, a]).shape == (3, 2, 3, 4)
    assert lp.stack([a, a], axis=-1).shape == (2, 3, 4, 2)
    assert lp.where(a > 0, a, 0.5).shape == (2, 3, 4)
    assert lp.where(a > 0, a, 0.5).dtype == np.where(x > 0, x, 0.5).dtype


def test_rechunk_makes_a_new_node():
    a = lp.zeros((100, 10))
    before = a.chunks
    b = a.rechunk((10, 5))
    assert b.chunks == (10, 5)
    assert a.chunks == before
    assert a.rechunk({0: 20}).chunks[0] == 20
    assert a.rechunk(25).chunks == (25, 10)
    assert a.rechunk((-1, None)).chunks[0] == 100
    assert lp.asarray(a, chunks=(50, 10)).chunks == (50, 10)
    assert lp.zeros((100, 10), chunks=(30, 10)).chunks == (30, 10)


@pytest.mark.parametrize("call,shape,dtype", [
    (lambda: lp.zeros(5), (5,), np.float64),
    (lambda: lp.zeros((2, 3), dtype="int32"), (2, 3), np.int32),
    (lambda: lp.ones((2, 3), dtype=bool), (2, 3), np.bool_),
    (lambda: lp.full((2,), 7), (2,), np.int64),
    (lambda: lp.full((2,), 7.5), (2,), np.float64),
    (lambda: lp.full((2,), True), (2,), np.bool_),
    (lambda: lp.full((2,), np.float32(1)), (2,), np.float32),
    (lambda: lp.full(3, 1, dtype="float32"), (3,), np.float32),
    (lambda: lp.arange(5), (5,), np.int64),
    (lambda: lp.arange(1, 10, 3), (3,), np.int64),
    (lambda: lp.arange(0, 1, 0.1), (10,), np.float64),
    (lambda: lp.arange(10, 0, -2), (5,), np.int64),
    (lambda: lp.arange(5, dtype="float32"), (5,), np.float32),
    (lambda: lp.arange(0), (0,), np.int64),
    (lambda: lp.linspace(0, 1), (50,), np.float64),
    (lambda: lp.linspace(0, 1, 5, endpoint=False), (5,), np.float64),
    (lambda: lp.linspace(0, 1, 0), (0,), np.float64),
    (lambda: lp.eye(3), (3, 3), np.float64),
    (lambda: lp.eye(3, 5, k=1, dtype=int), (3, 5), np.int64),
    (lambda: lp.zeros_like(np.ones((2, 2), np.int32)), (2, 2), np.int32),
    (lambda: lp.ones_like(lp.zeros(3), dtype="bool"), (3,), np.bool_),
    (lambda: lp.full_like(lp.zeros(3), 2), (3,), np.float64),
    (lambda: lp.random.default_rng(0).random((4, 5)), (4, 5), np.float64),
    (lambda: lp.random.default_rng(0).random(3, dtype="float32"), (3,), np.float32),
    (lambda: lp.random.default_rng(0).normal(1, 2, size=(3,)), (3,), np.float64),
    (lambda: lp.random.default_rng(0).uniform(-1, 1, 6), (6,), np.float64),
    (lambda: lp.random.default_rng(0).random(), (), np.float64),
])
def test_creation_shapes(call, shape, dtype):
    a = call()
    assert a.shape == shape
    assert a.dtype == dtype


def test_arange_matches_numpy_lengths():
    for args in [(5,), (1, 10, 3), (0, 1, 0.1), (10, 0, -2), (0, 1, 0.3), (-3, 3), (2, 2),
                 (0.5, 4), (1, -5, -1.5)]:
        assert lp.arange(*args).shape == np.arange(*args).shape, args
        assert lp.arange(*args).dtype == np.arange(*args).dtype, args


def test_asarray_sources():
    assert lp.asarray([1, 2, 3]).dtype == np.int64
    assert lp.asarray([1.0, 2]).dtype == np.float64
    assert lp.asarray([[True, False]]).shape == (1, 2)
    assert lp.asarray(3).shape == ()
    assert lp.asarray(3).dtype == np.int64
    assert lp.asarray(np.float32(2)).dtype == np.float32
    assert lp.asarray([1, 2], dtype="float32").dtype == np.float32
    x = np.arange(24.0).reshape(4, 6)
    assert lp.asarray(x[::2, ::-3]).shape == (2, 2)
    assert lp.asarray(x.T).shape == (6, 4)
    assert lp.asarray(np.broadcast_to(np.arange(3), (5, 3))).shape == (5, 3)
    import array
    assert lp.asarray(array.array("d", [1, 2, 3])).dtype == np.float64
    assert lp.asarray(memoryview(np.arange(4, dtype=np.int32))).dtype == np.int32
    a = lp.asarray(x)
    assert lp.asarray(a) is not None and lp.Array(a) is a


def test_asarray_holds_the_exporter():
    x = np.arange(10.0)
    ref = weakref.ref(x)
    a = lp.asarray(x)
    del x
    gc.collect()
    assert ref() is not None
    del a
    gc.collect()
    assert ref() is None


def test_random_generator_streams():
    g = lp.random.default_rng(42)
    assert g.seed == 42
    r = repr(g)
    assert "seed=42" in r
    assert lp.random.default_rng(g) is g
    assert isinstance(lp.random.default_rng(), lp.random.Generator)


def test_len_iter_and_hash():
    a = lp.zeros((3, 2))
    assert len(a) == 3
    assert [r.shape for r in a] == [(2,), (2,), (2,)]
    with pytest.raises(TypeError):
        len(lp.asarray(1.0))
    with pytest.raises(TypeError):
        hash(a)


def test_config_restores():
    before = lp.get_config()
    with lp.config(threads=1, chunk_bytes="64KiB", fusion=False) as c:
        cfg = lp.get_config()
        assert {k: cfg[k] for k in ("threads", "chunk_bytes", "fusion")} == {
            "threads": 1, "chunk_bytes": 65536, "fusion": False}
        assert "'threads': 1" in repr(c)
        with lp.config(threads=2):
            assert lp.get_config()["threads"] == 2
        assert lp.get_config()["threads"] == 1
    assert lp.get_config() == before
    lp.config(chunk_bytes=1 << 20)
    try:
        assert lp.get_config()["chunk_bytes"] == 1 << 20
    finally:
        lp.config(**{k: before[k] for k in ("threads", "chunk_bytes", "fusion")})
    assert lp.get_config() == before


def test_config_executor_settings():
    before = lp.get_config()
    urls = ["http://127.0.0.1:5001", "http://127.0.0.1:5002"]
    with lp.config(executor="lambda", workers=urls, store="redis://127.0.0.1:6399",
                   lambda_name="lampy", inflight=3, max_tries=2, timeout=10.0, batch=8,
                   progress=True, trace=True):
        cfg = lp.get_config()
        assert cfg["executor"] == "lambda"
        assert cfg["workers"] == ",".join(urls)
        assert cfg["store"] == "redis://127.0.0.1:6399"
        assert (cfg["inflight"], cfg["max_tries"], cfg["timeout"], cfg["batch"]) == (3, 2, 10.0, 8)
        assert cfg["progress"] and cfg["trace"]
    assert lp.get_config() == before
    assert (lp.arange(4) * 2).sum().run() == 12  # back on the local executor


def test_config_errors():
    before = lp.get_config()
    with pytest.raises(ValueError):
        lp.config(threads=-1)
    with pytest.raises(ValueError):
        lp.config(chunk_bytes="lots")
    with pytest.raises(ValueError):
        lp.config(chunk_bytes=3)  # below Lampy's minimum
    with pytest.raises(TypeError):
        lp.config(threads="two")
    with pytest.raises(TypeError):
        lp.config(2)
    with pytest.raises(ValueError, match="executor"):
        lp.config(executor="cloud")
    with pytest.raises(ValueError):
        lp.config(workers="ftp://host")
    with pytest.raises(ValueError):
        lp.config(store="nowhere")
    with pytest.raises(ValueError):
        lp.config(batch=100000)
    with pytest.raises(TypeError):
        lp.config(workers=5)
    assert lp.get_config() == before


def test_plans_and_estimates():
    x = lp.random.default_rng(0).random((1000, 8), chunks=(100, 8))
    y = (x * 2 - 1).sum(axis=0)
    assert lp.to_dot(y).startswith("digraph")
    assert lp.to_dot(y, plan=True).startswith("digraph")
    import json
    g = json.loads(lp.graph_json(y))
    assert g["format"] == "lampy.graph"
    p = json.loads(lp.plan_json(y, x))
    assert p["format"] == "lampy.plan"
    e = lp.estimate(y, workers=2)
    assert e["tasks"] >= 10 and e["total_seconds"] > 0 and e["nodes"]
    assert set(e["nodes"][0]) >= {"op", "kernel", "shape", "tasks", "seconds"}
    assert lp.estimate(y, remote=True)["remote"] is True
    o = lp.estimate(y, orchestrate="lambda", workers=1)
    d = lp.estimate(y, orchestrate="driver", workers=1)
    assert o["remote"] is True and d["remote"] is True and o["tasks"] == d["tasks"]
    with pytest.raises(ValueError):
        lp.estimate(y, orchestrate="nobody")
    with pytest.raises(TypeError):
        lp.estimate()


def test_visualize_svg_and_dot(tmp_path):
    import shutil
    a = lp.arange(12.0).reshape(3, 4)
    x = (a * 2 + 1).sum(axis=0)
    text = x.visualize()
    assert text.startswith("digraph") and "sum" in text
    p = x.visualize(tmp_path / "g.dot")
    assert open(p).read() == text
    if shutil.which("dot"):
        svg = x.visualize(str(tmp_path / "g.svg"))
        assert open(svg).read().lstrip().startswith(("<?xml", "<svg"))
        plan_svg = x.visualize(str(tmp_path / "p.svg"), plan=True)
        assert "<svg" in open(plan_svg).read()
