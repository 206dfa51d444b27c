"""lampy as an array API namespace (2024.12): the protocol methods and attributes on Array,
the dtype objects, the data-type functions and the inspection namespace, each against NumPy 2
(itself an array API namespace)."""
import inspect

import numpy as np
import pytest

import lampy as lp

# the standard's dtypes (Lampy has them all)
DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64",
          "complex64", "complex128"]
KINDS = ["bool", "signed integer", "unsigned integer", "integral", "real floating", "complex floating",
         "numeric"]


def test_namespace():
    x = lp.asarray(np.arange(3.0))
    assert x.__array_namespace__() is lp
    assert x.__array_namespace__(api_version="2024.12") is lp
    assert x.__array_namespace__(api_version="2023.12") is lp
    with pytest.raises(ValueError, match="2031.12"):
        x.__array_namespace__(api_version="2031.12")
    assert lp.__array_api_version__ == "2024.12"


def test_dtype_objects():
    for name in DTYPES:
        d = getattr(lp, name)
        assert d == np.dtype(name)
        assert hash(d) == hash(np.dtype(name))  # usable as dict keys next to x.dtype
        assert lp.zeros(2, dtype=d).dtype == d
    assert lp.bool_ is lp.bool
    assert lp.asarray(np.ones(2, np.float32)).dtype == lp.float32
    assert lp.asarray(True).dtype == lp.bool
    assert bool(True) is True  # the builtin is untouched for users


def test_device():
    x = lp.asarray(np.arange(4))
    assert x.device == "cpu" == lp.__array_namespace_info__().default_device()
    assert x.to_device("cpu") is x
    assert x.to_device(x.device) is x
    with pytest.raises(ValueError, match="cpu"):
        x.to_device("cuda:0")
    with pytest.raises(ValueError, match="stream"):
        x.to_device("cpu", stream=1)


def test_mT():
    a = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(lp.asarray(a).mT.run(), a.mT)
    np.testing.assert_array_equal(lp.asarray(a[0]).mT.run(), a[0].mT)
    with pytest.raises(ValueError, match="2 dimensions"):
        lp.asarray(np.arange(3.0)).mT


def test_scalar_conversions_compute():
    a = np.array([[1.5, -2.0], [3.0, 0.25]])
    x = lp.asarray(a)
    s = x.sum()
    if s > 0:  # __bool__ computes the lazy comparison
        positive = True
    assert positive
    assert float(s) == float(a.sum())
    assert int(x[1, 0]) == int(a[1, 0])
    assert complex(s) == complex(a.sum())
    i = lp.asarray(np.array([0, 2, 1])).max()
    assert i.__index__() == 2
    assert [10, 20, 30][i] == 30
    assert bool(lp.asarray(np.array([0.0])).any()) is False
    with pytest.raises(TypeError, match="integer"):
        s.__index__()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(x)
    with pytest.raises(TypeError, match="size-1"):
        complex(x)


def test_finfo_iinfo():
    for name in ("float32", "float64"):
        f, g = lp.finfo(getattr(lp, name)), np.finfo(name)
        assert f.dtype == g.dtype
        assert (f.bits, f.eps, f.max, f.min, f.smallest_normal, f.resolution) == \
            (g.bits, float(g.eps), float(g.max), float(g.min), float(g.smallest_normal), float(g.resolution))
        assert lp.finfo(lp.zeros(1, dtype=name)).bits == g.bits  # an array's dtype
    for name in ("int32", "int64"):
        f, g = lp.iinfo(getattr(lp, name)), np.iinfo(name)
        assert (f.bits, f.min, f.max, f.dtype) == (g.bits, g.min, g.max, g.dtype)
    with pytest.raises(TypeError, match="floating"):
        lp.finfo(lp.int32)
    with pytest.raises(TypeError, match="integer"):
        lp.iinfo(lp.float64)
    with pytest.raises(TypeError, match="not understood"):
        lp.iinfo("int4")


def test_isdtype():
    for name in DTYPES:
        for kind in KINDS:
            assert lp.isdtype(getattr(lp, name), kind) == np.isdtype(np.dtype(name), kind), (name, kind)
        assert lp.isdtype(getattr(lp, name), (lp.float64, "bool")) == np.isdtype(np.dtype(name), (np.float64, "bool"))
        assert lp.isdtype(getattr(lp, name), lp.int32) == (name == "int32")
    with pytest.raises(ValueError, match="unknown kind"):
        lp.isdtype(lp.int32, "integer")


def test_result_type_can_cast():
    for a in DTYPES:
        for b in DTYPES:
            assert lp.result_type(getattr(lp, a), getattr(lp, b)) == np.result_type(a, b), (a, b)
            assert lp.can_cast(getattr(lp, a), getattr(lp, b)) == np.can_cast(a, b), (a, b)
        x = lp.zeros(2, dtype=a)
        for s in (True, 1, 1.5):
            assert lp.result_type(x, s) == np.result_type(np.zeros(2, a), s), (a, s)
    assert lp.result_type(lp.int32, lp.int64, lp.float32) == np.result_type(np.int32, np.int64, np.float32)
    with pytest.raises(ValueError, match="at least one"):
        lp.result_type(1, 2.0)


def test_namespace_info():
    info = lp.__array_namespace_info__()
    caps = info.capabilities()
    assert caps["boolean indexing"] and caps["data-dependent shapes"]
    assert caps["max dimensions"] == lp._lampy.MAX_NDIM
    assert info.devices() == ["cpu"]
    np_info = np.__array_namespace_info__()
    assert info.dtypes() == {n: np.dtype(n) for n in DTYPES}
    for kind in KINDS:
        ours = info.dtypes(kind=kind)
        assert ours == {n: d for n, d in np_info.dtypes(kind=kind).items() if n in DTYPES}, kind
    d = info.default_dtypes()
    assert d["real floating"] == np_info.default_dtypes()["real floating"]
    assert d["integral"] == d["indexing"] == np_info.default_dtypes()["integral"]
    with pytest.raises(ValueError, match="device"):
        info.dtypes(device="cuda")


def test_matrix_transpose_count_nonzero_vecdot():
    a = np.arange(60.0).reshape(3, 4, 5) % 4 - 1.5 * (np.arange(60).reshape(3, 4, 5) % 2)
    x = lp.asarray(a)
    np.testing.assert_array_equal(lp.matrix_transpose(x).run(), np.matrix_transpose(a))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        lp.matrix_transpose(lp.asarray(np.arange(3)))
    for axis in (None, 0, 1, (0, 2), -1):
        for keepdims in (False, True):
            r, e = lp.count_nonzero(x, axis=axis, keepdims=keepdims), np.count_nonzero(a, axis=axis, keepdims=keepdims)
            assert r.dtype == np.asarray(e).dtype == np.int64
            np.testing.assert_array_equal(r.run(), e)
    b = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(lp.vecdot(x, b).run(), np.vecdot(a, b), rtol=1e-12)
    np.testing.assert_allclose(lp.vecdot(x, a[0], axis=-2).run(), np.vecdot(a, a[0], axis=-2), rtol=1e-12)
    i = np.arange(12, dtype=np.int32).reshape(3, 4)
    r = lp.vecdot(i, i)
    assert r.dtype == np.vecdot(i, i).dtype == np.int32
    np.testing.assert_array_equal(r.run(), np.vecdot(i, i))
    with pytest.raises(ValueError, match="differ along axis"):
        lp.vecdot(x, np.ones(4))
    with pytest.raises(Exception, match="out of bounds"):
        lp.vecdot(x, b, axis=0)


def test_star_import():
    # `from lampy import *` gives the dtypes and lampy.ml but leaves the builtin bool alone
    ns = {}
    exec("from lampy import *", ns)
    assert ns["float64"] == np.float64 and ns["ml"].__name__ == "lampy.ml"
    assert "bool" not in ns and ns["bool_"] is lp.bool


def test_device_copy_correction_keywords():
    a = np.arange(6.0).reshape(2, 3)
    for f, args in [(lp.zeros, ((2, 3),)), (lp.ones, (3,)), (lp.full, ((2,), 1.5)), (lp.arange, (4,)),
                    (lp.linspace, (0.0, 1.0, 5)), (lp.eye, (3,)), (lp.zeros_like, (a,)), (lp.ones_like, (a,)),
                    (lp.full_like, (a, 2)), (lp.asarray, (a,))]:
        np_f = getattr(np, f.__name__)
        np.testing.assert_array_equal(f(*args, device="cpu").run(), np_f(*args, device="cpu"))
        np.testing.assert_array_equal(f(*args, device=None).run(), np_f(*args))
        with pytest.raises(ValueError, match="only device is 'cpu'"):
            f(*args, device="cuda")
    x = lp.asarray(a)
    y = lp.asarray(x, copy=True)
    y[0] = 7.0  # rebinds y only: x keeps its values (NumPy's copy semantics)
    np.testing.assert_array_equal(x.run(), a)
    assert lp.asarray(x, copy=False).dtype == x.dtype
    # without a copy, the result is x itself, as in NumPy: a later x[i] = v shows through it
    for kw in ({}, {"copy": False}, {"dtype": "float64"}):
        xs = lp.asarray(a.copy())
        same = lp.asarray(xs, **kw)
        ns = np.asarray(a.copy())
        nsame = np.asarray(ns, **kw)
        assert (same is xs) == (nsame is ns) == True  # noqa: E712
        xs[0, 1] = 42.0
        ns[0, 1] = 42.0
        np.testing.assert_array_equal(same.run(), nsame)
    other = lp.asarray(x, copy=True)
    assert other is not x
    np.testing.assert_array_equal(lp.asarray(a, copy=False).run(), a)
    b = a.copy()
    z = lp.asarray(b, copy=True)  # copied now: a later write to b does not show
    b[:] = -1.0
    np.testing.assert_array_equal(z.run(), a)
    for bad in [dict(obj=[1, 2], copy=False), dict(obj=a, dtype=np.float32, copy=False)]:
        with pytest.raises(ValueError, match="avoid copy"):
            lp.asarray(bad.pop("obj"), **bad)
    with pytest.raises(ValueError, match="avoid copy"):
        np.asarray([1, 2], copy=False)  # NumPy's message too
    for fn in ("std", "var", "nanstd", "nanvar"):
        np.testing.assert_allclose(getattr(lp, fn)(x, axis=1, correction=1).run(),
                                   getattr(np, fn)(a, axis=1, correction=1), rtol=1e-12)
    np.testing.assert_allclose(x.var(correction=1).run(), np.var(a, correction=1), rtol=1e-12)


def test_named_results():
    v = np.array([3, 1, 3, 2, 1, 3])
    for name in ("unique_all", "unique_counts", "unique_inverse"):
        r, e = getattr(lp, name)(v), getattr(np, name)(v)
        assert type(r).__name__ == type(e).__name__ and r._fields == e._fields
        for f in e._fields:
            np.testing.assert_array_equal(getattr(r, f).run(), getattr(e, f))
    a = np.random.default_rng(1).random((6, 3))
    s = a.T @ a
    for name, args, kw in [("svd", (a,), {"full_matrices": False}), ("slogdet", (s,), {}), ("qr", (a,), {}),
                           ("eigh", (s,), {})]:
        r, e = getattr(lp.linalg, name)(*args, **kw), getattr(np.linalg, name)(*args, **kw)
        assert type(r).__name__ == type(e).__name__ and r._fields == e._fields
    np.testing.assert_allclose(lp.linalg.svd(a, full_matrices=False).S.run(), np.linalg.svd(a).S, rtol=1e-12)
    np.testing.assert_allclose(lp.linalg.slogdet(s).logabsdet.run(), np.linalg.slogdet(s).logabsdet, rtol=1e-12)
    np.testing.assert_allclose(lp.linalg.eigh(s).eigenvalues.run(), np.linalg.eigh(s).eigenvalues, rtol=1e-12)
    np.testing.assert_allclose(lp.linalg.svd(a, compute_uv=False).run(), np.linalg.svd(a, compute_uv=False), rtol=1e-12)
    np.testing.assert_allclose(lp.linalg.qr(a, mode="r").run().__abs__(), np.abs(np.linalg.qr(a, mode="r")), rtol=1e-12)
    np.testing.assert_array_equal(lp.linalg.matrix_transpose(a).run(), np.linalg.matrix_transpose(a))
    np.testing.assert_allclose(lp.linalg.vecdot(a, a).run(), np.linalg.vecdot(a, a), rtol=1e-12)


def test_sort_descending():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 5, (4, 37))  # many ties: stability shows
    f = rng.random((3, 8, 5))
    for x in (a, f):
        for axis in (-1, 0, None):
            xf = x.ravel() if axis is None else x
            ax = -1 if axis is None else axis
            np.testing.assert_array_equal(lp.sort(x, axis=axis, descending=True).run(),
                                          np.flip(np.sort(xf, axis=ax), axis=ax))
            # descending and stable: equal values keep their original order
            np.testing.assert_array_equal(lp.argsort(x, axis=axis, descending=True).run(),
                                          np.argsort(-xf, axis=ax, stable=True))
    np.testing.assert_array_equal(lp.asarray(a).argsort(descending=True).run(), np.argsort(-a, stable=True))
    np.testing.assert_array_equal(lp.sort(a, descending=False).run(), np.sort(a))


def test_reduce_dtype_and_more_keywords():
    i64 = np.arange(-50, 50, dtype=np.int64).reshape(10, 10) * 3
    for fn, dt in [("sum", np.int32), ("prod", np.int32), ("sum", np.float32), ("mean", np.float32)]:
        r, e = getattr(lp, fn)(i64[:3, :3], axis=1, dtype=dt), getattr(np, fn)(i64[:3, :3], axis=1, dtype=dt)
        assert r.dtype == e.dtype == dt, fn
        np.testing.assert_allclose(r.run(), e, rtol=1e-6)
    s = np.array([[4.0, 2.0], [2.0, 3.0]])
    np.testing.assert_allclose(lp.linalg.cholesky(s, upper=True).run(), np.linalg.cholesky(s, upper=True), rtol=1e-12)
    np.testing.assert_allclose(lp.linalg.cholesky(s).run(), np.linalg.cholesky(s), rtol=1e-12)
    x = lp.asarray(i64)
    assert lp.astype(x, lp.float32, device="cpu").dtype == lp.float32
    with pytest.raises(ValueError, match="device"):
        lp.astype(x, lp.float32, device="gpu")
    for copy in (None, True, False):
        np.testing.assert_array_equal(lp.reshape(x, (4, 25), copy=copy).run(), np.reshape(i64, (4, 25), copy=copy))
    np.testing.assert_array_equal(x.reshape(25, 4, copy=True).run(), i64.reshape(25, 4, copy=True))


def test_correction_float():
    a = np.arange(12.0).reshape(3, 4) ** 1.5
    for fn in ("std", "var", "nanstd", "nanvar"):
        np.testing.assert_allclose(getattr(lp, fn)(a, correction=1.0).run(), getattr(np, fn)(a, correction=1.0), rtol=1e-12)
        for corr in (0.5, 0.59, 2.25):  # a real correction, as NumPy and the standard allow
            np.testing.assert_allclose(getattr(lp, fn)(a, correction=corr).run(), getattr(np, fn)(a, correction=corr), rtol=1e-12)
            np.testing.assert_allclose(getattr(lp, fn)(a, axis=0, ddof=corr, keepdims=True).run(),
                                       getattr(np, fn)(a, axis=0, ddof=corr, keepdims=True), rtol=1e-12)
        with pytest.raises(ValueError, match="non-negative"):
            getattr(lp, fn)(a, ddof=-1)
        with pytest.raises(ValueError, match="simultaneously"):
            getattr(lp, fn)(a, ddof=1, correction=1)
        with pytest.raises(ValueError, match="simultaneously"):
            getattr(np, fn)(a, ddof=1, correction=1)
    assert "correction" in str(inspect.signature(lp.var)) and "correction" in str(inspect.signature(lp.std))
    f32 = (a / 7).astype(np.float32)
    np.testing.assert_allclose(lp.var(f32, correction=0.5).run(), np.var(f32, correction=0.5), rtol=1e-6)
    assert lp.var(f32, correction=0.5).dtype == np.var(f32, correction=0.5).dtype
