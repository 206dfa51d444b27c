"""complex64 and complex128 end to end, against NumPy: zero-copy asarray, NumPy 2's promotion
(numpy.result_type) with weak Python complex scalars, elementwise arithmetic and functions
(NaN/inf placement as NumPy), reductions and cumsum on chunked data with 1 and 2 threads,
matmul/vecdot, casts, .npy round trips (both byte orders) through numpy.save/numpy.load, Zarr
both ways with zarr-python, graph round trips, clear errors for what complex numbers lack, CLI."""
import os
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

import lampy as lp

CPLX = ["complex64", "complex128"]
REAL = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "float16", "float32", "float64"]
ROOT = Path(__file__).resolve().parents[2]
LAMPY = os.environ.get("LAMPY_BIN") or str(ROOT / "build" / "lampy")
# the issue's tolerances: complex128 1e-12 elementwise / 1e-9 reductions; complex64 float32's
RTOL = {"complex64": (2e-6, 1e-5), "complex128": (1e-12, 1e-9)}


def sample(dt, n=64, seed=0, special=False):
    rng = np.random.default_rng(seed)
    z = (rng.uniform(-4, 4, n) + 1j * rng.uniform(-4, 4, n)).astype(dt)
    if special:  # NaN, infinities and signed zeros in either part
        vals = [complex(0.0, -0.0), complex(-0.0, 0.0), complex(np.inf, 1), complex(1, -np.inf),
                complex(np.nan, 0), complex(0, np.nan), complex(-np.inf, np.inf), complex(np.inf, np.nan)]
        z[:len(vals)] = np.array(vals, dtype=dt)
    return z


def close(got, want, rtol, atol=None):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    if want.dtype.kind == "c":
        for part in (np.real, np.imag):
            g, w = part(got), part(want)
            assert np.array_equal(np.isnan(g), np.isnan(w)), (got, want)
            fin = np.isfinite(w)
            assert np.array_equal(g[~fin & ~np.isnan(w)], w[~fin & ~np.isnan(w)]), (got, want)
            np.testing.assert_allclose(g[fin], w[fin], rtol=rtol, atol=rtol * 1e-3 if atol is None else atol)
    elif want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 1e-3 if atol is None else atol, equal_nan=True)
    else:
        assert np.array_equal(got, want), (got, want)


@pytest.mark.parametrize("dt", CPLX)
def test_asarray_zero_copy_and_back(dt):
    z = sample(dt)
    a = lp.asarray(z)
    assert a.dtype == np.dtype(dt) and getattr(lp, dt) == dt
    z[5] = z[6]  # wrapped, not copied
    np.testing.assert_array_equal(a.run(), z)
    assert complex(lp.asarray(np.array(1.5 - 2j, dt))) == 1.5 - 2j
    assert lp.asarray([1, 2j]).dtype == np.complex128


@pytest.mark.parametrize("a", CPLX + REAL)
@pytest.mark.parametrize("b", CPLX)
def test_promotion_table(a, b):
    want = np.result_type(np.dtype(a), np.dtype(b))
    x, y = np.ones(3, a), np.ones(3, b)
    assert (lp.asarray(x) + lp.asarray(y)).dtype == want
    assert lp.result_type(a, b) == want


@pytest.mark.parametrize("dt", CPLX + REAL)
def test_weak_python_complex(dt):
    x = np.ones(4, dt)
    for s in (2j, 1.5 + 0.5j):
        want = x * s
        got = (lp.asarray(x) * s).run()
        assert got.dtype == want.dtype, (dt, got.dtype, want.dtype)
        close(got, want, 1e-6)
        assert lp.result_type(lp.asarray(x), s) == want.dtype
    z = sample("complex64", 4)
    assert (lp.asarray(z) + 2.5).dtype == np.complex64 and (lp.asarray(z) * 3).dtype == np.complex64


BINARY = ["add", "subtract", "multiply", "divide", "power", "equal", "not_equal"]
UNARY = ["negative", "positive", "absolute", "sqrt", "exp", "expm1", "log", "log1p", "log2", "log10",
         "sin", "cos", "tan", "sinh", "cosh", "tanh", "arcsin", "arccos", "arctan", "arcsinh",
         "arccosh", "arctanh", "square", "reciprocal", "sign", "conjugate", "isnan", "isinf",
         "isfinite", "rint"]


@pytest.mark.parametrize("dt", CPLX)
@pytest.mark.parametrize("op", BINARY)
def test_binary(dt, op):
    x, y = sample(dt, seed=1), sample(dt, seed=2)
    y[3] = 0  # division by zero: NumPy's inf/nan parts
    y[4] = 2  # an integer power (repeated products in NumPy)
    with np.errstate(all="ignore"):
        want = getattr(np, op)(x, y)
    got = getattr(lp, op)(lp.asarray(x), lp.asarray(y)).run()
    close(got, want, RTOL[dt][0] * (100 if op == "power" else 1))


@pytest.mark.parametrize("dt", CPLX)
@pytest.mark.parametrize("op", UNARY)
def test_unary(dt, op):
    x = sample(dt, seed=3, special=op not in ("tan", "tanh", "sinh", "cosh"))
    with np.errstate(all="ignore"):
        want = getattr(np, op)(x)
        got = getattr(lp, op)(lp.asarray(x)).run()
    close(got, want, RTOL[dt][0] * 10)


@pytest.mark.parametrize("dt", CPLX)
def test_parts_and_fused(dt):
    x, y = sample(dt, seed=4), sample(dt, seed=5)
    a, b = lp.asarray(x), lp.asarray(y)
    close(lp.real(a).run(), np.real(x), 0)
    close(lp.imag(a).run(), np.imag(x), 0)
    close(lp.real(lp.asarray(x.real.copy())).run(), x.real, 0)
    close(lp.imag(lp.asarray(x.real.copy())).run(), np.imag(x.real), 0)
    close(((a * b + 1j) / (a - 2) - lp.conj(b) ** 2).run(), (x * y + 1j) / (x - 2) - np.conj(y) ** 2, RTOL[dt][0] * 10)
    close(lp.where(lp.abs(a) > 3, a, b).run(), np.where(np.abs(x) > 3, x, y), 0)


@pytest.mark.parametrize("dt", CPLX)
@pytest.mark.parametrize("threads", [1, 2])
def test_chunked_reductions_and_cumsum(dt, threads):
    x = sample(dt, 60_000, 6).reshape(600, 100)
    x64 = x.astype(np.complex128)
    # complex64 sums: NumPy's own float32 sums are off by a few ulps of the sum of |x|, so the
    # reference is the complex128 result rounded to complex64, within float32's eps of that scale
    ref = (lambda f, **k: f(x, **k)) if dt == "complex128" else \
          (lambda f, **k: f(x64, **k).astype(np.float32 if f in (np.var, np.std) else np.complex64))
    atol = None if dt == "complex128" else 1e-6 * float(np.abs(x64).sum())
    with lp.config(threads=threads, chunk_bytes="16KiB"):
        a = lp.asarray(x)
        for op in ("sum", "mean", "var", "std"):
            for axis in (None, 0, 1):
                close(getattr(lp, op)(a, axis=axis).run(), ref(getattr(np, op), axis=axis), RTOL[dt][1], atol)
        close(lp.var(a, axis=0, ddof=1).run(), ref(np.var, axis=0, ddof=1), RTOL[dt][1], atol)
        # a fractional correction (the array API's) reaches the parts' variances unrounded
        close(lp.var(a, axis=0, correction=0.5).run(), ref(np.var, axis=0, ddof=0.5), RTOL[dt][1], atol)
        close(lp.std(a, correction=1.5).run(), ref(np.std, ddof=1.5), RTOL[dt][1], atol)
        for op in ("any", "all"):
            y = x.copy()
            y[::3] = 0
            close(getattr(lp, op)(lp.asarray(y), axis=1).run(), getattr(np, op)(y, axis=1), 0)
        close(lp.cumsum(a, axis=0).run(), ref(np.cumsum, axis=0), RTOL[dt][1], atol)
        close(lp.cumsum(a, axis=1).run(), ref(np.cumsum, axis=1), RTOL[dt][1], atol)


@pytest.mark.parametrize("dt", CPLX)
def test_matmul_vecdot_norm(dt):
    rng = np.random.default_rng(7)
    A = (rng.standard_normal((40, 30)) + 1j * rng.standard_normal((40, 30))).astype(dt)
    B = (rng.standard_normal((30, 20)) + 1j * rng.standard_normal((30, 20))).astype(dt)
    r = rng.standard_normal((30, 20)).astype(np.float32)
    tol = RTOL[dt][1] * 10
    atol = None if dt == "complex128" else 1e-5 * 30  # products of 30 terms of size ~1 in float32
    close((lp.asarray(A) @ lp.asarray(B)).run(), A @ B, tol, atol)
    close((lp.asarray(A) @ lp.asarray(r)).run(), A @ r, tol, atol)
    close((lp.asarray(r.T.copy()) @ lp.asarray(A.T.copy())).run(), r.T @ A.T, tol, atol)
    close(lp.vecdot(lp.asarray(A), lp.asarray(A[::-1].copy())).run(), np.vecdot(A, A[::-1]), tol, atol)
    close(lp.linalg.norm(lp.asarray(A)).run(), np.linalg.norm(A), tol, atol)


@pytest.mark.parametrize("src", CPLX + REAL)
@pytest.mark.parametrize("dst", CPLX + REAL)
def test_astype(src, dst):
    if src not in CPLX and dst not in CPLX:
        return  # the real pairs: test_py_dtypes
    x = (sample("complex128", 40, 8) * 3).astype(src) if src in CPLX else \
        np.arange(-20, 20).astype(src) if src != "bool" else np.arange(40) % 3 == 0
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        want = x.astype(dst)
    got = lp.asarray(x).astype(dst).run()
    assert got.dtype == want.dtype
    if dst in ("float16",):
        np.testing.assert_array_equal(got, want)
    else:
        close(got, want, 0)


@pytest.mark.parametrize("dt", CPLX)
def test_npy_round_trip(dt, tmp_path):
    x = sample(dt, 3 * 4 * 5, 9, special=True).reshape(3, 4, 5)
    p = tmp_path / "in.npy"
    np.save(p, x)
    a = lp.load(str(p))
    assert a.dtype == np.dtype(dt)
    np.testing.assert_array_equal(a.run(), x)
    q = tmp_path / "out.npy"
    lp.save(str(q), a[::-1] * 1)
    np.testing.assert_array_equal(np.load(q), x[::-1] * 1)
    be = tmp_path / "be.npy"
    np.save(be, x.astype(np.dtype(dt).newbyteorder(">")))
    np.testing.assert_array_equal(lp.load(str(be)).run(), x)
    f = tmp_path / "f.npy"
    np.save(f, np.asfortranarray(x))
    np.testing.assert_array_equal(lp.load(str(f))[1].run(), x[1])


@pytest.mark.parametrize("dt", CPLX)
def test_zarr_both_ways(dt, tmp_path):
    import zarr
    from zarr.codecs import BytesCodec, ZstdCodec
    x = sample(dt, 23 * 7, 10).reshape(23, 7)
    for endian in ("little", "big"):
        p = tmp_path / f"zp_{endian}.zarr"
        z = zarr.create_array(str(p), shape=x.shape, chunks=(5, 3), dtype=x.dtype, fill_value=1 - 2j,
                              serializer=BytesCodec(endian=endian), compressors=[ZstdCodec()])
        z[:20] = x[:20]  # rows 20.. never written: the fill value
        want = x.copy()
        want[20:] = 1 - 2j
        np.testing.assert_array_equal(lp.load(str(p)).run(), want)
        np.testing.assert_array_equal(lp.load(str(p))[2:9, 1].run(), want[2:9, 1])
    q = tmp_path / "lp.zarr"
    lp.save(str(q), lp.asarray(x), chunks=(4, 7), codec="zstd")
    np.testing.assert_array_equal(zarr.open_array(str(q), mode="r")[:], x)


def test_graph_round_trip(tmp_path):
    x = sample("complex128", 6, 11)
    e = lp.asarray(x) * (2 - 1j) + lp.full((6,), 0.5 + 0.25j, dtype="complex64")
    lp.dump_graph(e, tmp_path / "g.json")
    g = lp.load_graph(tmp_path / "g.json")
    close(g.run()[0], x * (2 - 1j) + np.full((6,), 0.5 + 0.25j, np.complex64), 1e-12)
    # the most inline elements a graph file holds (64), each 16 bytes (the loader's buffer)
    y = sample("complex128", 64, 12)
    lp.dump_graph(lp.asarray(y) * 2, tmp_path / "h.json")
    close(lp.load_graph(tmp_path / "h.json").run()[0], y * 2, 1e-12)


@pytest.mark.parametrize("dt", CPLX)
def test_errors(dt):
    a = lp.asarray(sample(dt, 8))
    for f in (lambda: lp.floor(a), lambda: a // 2, lambda: a % 2, lambda: a & a):
        with pytest.raises(TypeError):
            f().run()
    # (numpy.linalg takes complex matrices: test_py_clinalg.py)
    i = lp.linalg.inv(lp.asarray(np.eye(2, dtype=dt))).run()
    assert i.dtype == np.dtype(dt) and np.array_equal(i, np.eye(2))


def test_array_api_dtypes():
    info = lp.__array_namespace_info__()
    assert list(info.dtypes(kind="complex floating")) == ["complex64", "complex128"]
    assert info.default_dtypes()["complex floating"] == np.complex128
    assert lp.isdtype(lp.complex64, "complex floating") and not lp.isdtype(lp.complex64, "real floating")
    f = lp.finfo(lp.complex64)
    assert f.dtype == np.float32 and f.eps == np.finfo(np.complex64).eps
    assert lp.finfo(lp.complex128).max == np.finfo(np.complex128).max


def test_cli(tmp_path):
    x = np.array([[1 + 2j, -0.5 - 1j], [3j, 2]], np.complex64)
    p, out = tmp_path / "x.npy", tmp_path / "o.npy"
    np.save(p, x)
    r = subprocess.run([LAMPY, "eval", "abs(x) + x * 2", f"x={p}", "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    np.testing.assert_allclose(np.load(out), np.abs(x) + x * 2, rtol=1e-6)
    assert np.load(out).dtype == np.complex64
    r = subprocess.run([LAMPY, "eval", "sum(x)", f"x={p}"], capture_output=True, text=True)
    assert r.returncode == 0 and complex(r.stdout.strip()) == complex(np.sum(x)), r
    r = subprocess.run([LAMPY, "eval", "x // x", f"x={p}"], capture_output=True, text=True)
    assert r.returncode != 0 and "not supported" in r.stderr
    # imaginary literals (Python's: 1+2j is 1 + (2j)); arithmetic of numbers folds as Python's
    # complex arithmetic into one weak complex, so complex64 data stays complex64
    r = subprocess.run([LAMPY, "eval", "x * 2.5e-1j + 2J", f"x={p}", "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    want = x * 2.5e-1j + 2j
    assert np.load(out).dtype == want.dtype == np.complex64
    np.testing.assert_allclose(np.load(out), want, rtol=1e-6)
    r = subprocess.run([LAMPY, "eval", "x * (1 - 2j) / (0.5+1j)**2", f"x={p}", "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    want = x * (1 - 2j) / (0.5 + 1j) ** 2
    assert np.load(out).dtype == want.dtype == np.complex64
    np.testing.assert_allclose(np.load(out), want, rtol=1e-6)
    for expr in ("(1+2j)*(3-1j)", "1/(1+2j)", "(1+2j)**0.5", "(1+2j)**(0.5-1j)", "1j**-3", "-(1-0j)", "2.5 - 3j/0.5",
                 "(1+2j) == 1+2j", "[1, 2j]"):
        r = subprocess.run([LAMPY, "eval", expr], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        want = eval(expr)
        assert r.stdout.strip() == str(np.asarray(want)), (expr, r.stdout, want)  # Python's value, NumPy's text
    for expr, err in (("0j**-1", "0.0 to a negative or complex power"), ("1/(0j)", "complex division by zero"),
                      ("(1+2j) < 1", "'<' not supported between instances of 'complex' and 'int'"),
                      ("(1+2j) // 2", "unsupported operand type(s) for //: 'complex' and 'int'")):
        r = subprocess.run([LAMPY, "eval", expr], capture_output=True, text=True)
        assert r.returncode != 0 and err in r.stderr, (expr, r)
    r = subprocess.run([LAMPY, "eval", "abs(3+4j) + real(1_0j * 1j)"], capture_output=True, text=True)
    assert r.returncode == 0 and float(r.stdout) == abs(3 + 4j) + (1_0j * 1j).real, r
    for bad in ("2jx", "0x2j"):
        r = subprocess.run([LAMPY, "eval", bad], capture_output=True, text=True)
        assert r.returncode != 0 and "number literal" in r.stderr, r


@pytest.mark.parametrize("dt", CPLX)
@pytest.mark.parametrize("threads", [1, 2])
def test_nan_reductions(dt, threads):
    # an element is NaN when either part is (NumPy's isnan); chunked along both axes
    x = sample(dt, 6000, 13).reshape(200, 30)
    x[::7, 3] = complex(np.nan, 1)
    x[5, ::4] = complex(2, np.nan)
    x[9, :] = complex(np.nan, np.nan)  # a row that is all NaN
    # complex64: NumPy's float32 sums are off by ulps of the sum of |x| (as in
    # test_chunked_reductions_and_cumsum): the complex128 result rounded, within float32's eps there
    x64 = x.astype(np.complex128)
    real = {"complex64": np.float32, "complex128": np.float64}[dt]
    ref = (lambda f, **k: f(x, **k)) if dt == "complex128" else \
          (lambda f, **k: f(x64, **k).astype(real if f in (np.nanvar, np.nanstd) else np.complex64))
    atol = None if dt == "complex128" else 1e-6 * float(np.nansum(np.abs(x64)))
    with lp.config(threads=threads, chunk_bytes="8KiB"):
        a = lp.asarray(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's all-NaN slice / dof warnings
            for op in ("nansum", "nanmean", "nanvar", "nanstd"):
                for axis in (None, 0, 1):
                    close(getattr(lp, op)(a, axis=axis).run(), ref(getattr(np, op), axis=axis), RTOL[dt][1], atol)
            close(lp.nanvar(a, axis=0, ddof=1).run(), ref(np.nanvar, axis=0, ddof=1), RTOL[dt][1], atol)
            close(lp.nanstd(a, axis=1, keepdims=True).run(), ref(np.nanstd, axis=1, keepdims=True), RTOL[dt][1], atol)


@pytest.mark.parametrize("dt", CPLX + ["float32", "float64", "int16", "int64", "bool"])
def test_angle(dt):
    x = sample(dt, 64, 14, special=True) if dt in CPLX else np.array([-3, -0.0, 0, 2, 1], dtype=dt)
    for deg in (False, True):
        close(lp.angle(lp.asarray(x), deg=deg).run(), np.angle(x, deg=deg), RTOL.get(dt, (1e-12,))[0]
              if dt in CPLX or dt == "float64" or dt in ("int16", "int64", "bool") else 2e-6)


def ordered_values(dt):
    """complex values with every ordering case of NumPy's: NaN in either part, infinities, signed
    zeros, ties in the real part"""
    nan, inf = np.nan, np.inf
    v = [complex(1, 2), complex(nan, 1), complex(1, nan), complex(0, -0.0), complex(-0.0, 0), complex(1, -1),
         complex(nan, nan), complex(-inf, 5), complex(1, inf), complex(2, 2), complex(nan, -3), complex(-1, 7)]
    return np.array(v, dtype=dt)


@pytest.mark.parametrize("dt", CPLX)
def test_order_elementwise(dt):
    v = ordered_values(dt)
    a, b = np.repeat(v, len(v)), np.tile(v, len(v))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for op in ("less", "less_equal", "greater", "greater_equal"):
            np.testing.assert_array_equal(getattr(lp, op)(lp.asarray(a), lp.asarray(b)).run(), getattr(np, op)(a, b))
        for op in ("maximum", "minimum", "fmax", "fmin"):
            got, want = getattr(lp, op)(lp.asarray(a), lp.asarray(b)).run(), getattr(np, op)(a, b)
            assert got.dtype == want.dtype
            # bit for bit: which operand was chosen (signed zeros, NaN payload positions)
            assert np.array_equal(got.view(want.real.dtype), want.view(want.real.dtype), equal_nan=True)
            assert np.array_equal(np.signbit(got.view(want.real.dtype)), np.signbit(want.view(want.real.dtype)))
        np.testing.assert_array_equal((lp.asarray(a) < 1.5).run(), a < 1.5)  # a weak Python float


@pytest.mark.parametrize("dt", CPLX)
@pytest.mark.parametrize("threads", [1, 2])
def test_sort_lexicographic(dt, threads):
    # many duplicates over several chunks along the sorted axis, 2-d, both axes, descending
    rng = np.random.default_rng(15)
    v = ordered_values(dt)
    x = v[rng.integers(0, len(v), 3000)].reshape(100, 30)
    with lp.config(threads=threads, chunk_bytes="4KiB"):
        a = lp.asarray(x)
        for axis in (0, 1, -1):
            np.testing.assert_array_equal(lp.argsort(a, axis=axis).run(), np.argsort(x, axis=axis, kind="stable"))
            got, want = lp.sort(a, axis=axis).run(), np.sort(x, axis=axis)
            assert got.dtype == want.dtype and np.array_equal(got, want, equal_nan=True)
        got = lp.sort(a, axis=0, descending=True).run()
        assert np.array_equal(got, np.sort(x, axis=0)[::-1], equal_nan=True)


@pytest.mark.parametrize("dt", CPLX)
@pytest.mark.parametrize("threads", [1, 2])
def test_searchsorted_unique_isin(dt, threads):
    # the same order in searching as in sorting (NaN in either part, signed zeros, ties in the
    # real part), over several chunks on both sides; unique's inverse with equal_nan both ways
    rng = np.random.default_rng(16)
    v = ordered_values(dt)
    x = v[rng.integers(0, len(v), 3000)]
    u = np.sort(v)
    probe = np.concatenate([v, np.array([complex(1, 0), complex(1, 3), complex(np.nan, 0), complex(0, np.nan)], dtype=dt)])
    with lp.config(threads=threads, chunk_bytes="1KiB"):
        for side in ("left", "right"):
            np.testing.assert_array_equal(lp.searchsorted(lp.asarray(u), lp.asarray(probe), side=side).run(),
                                          np.searchsorted(u, probe, side=side))
        for eq in (True, False):
            got = [r.run() for r in lp.unique(lp.asarray(x), return_index=True, return_inverse=True,
                                              return_counts=True, equal_nan=eq)]
            want = np.unique(x, return_index=True, return_inverse=True, return_counts=True, equal_nan=eq)
            for g, w in zip(got, want):
                assert g.dtype == w.dtype and np.array_equal(g, w, equal_nan=True)
        got = [r.run() for r in lp.unique_all(lp.asarray(x[:200]))]
        for g, w in zip(got, np.unique_all(x[:200])):
            assert np.array_equal(g, w, equal_nan=True)
        np.testing.assert_array_equal(lp.isin(lp.asarray(probe), lp.asarray(x[:40])).run(), np.isin(probe, x[:40]))


def bits_equal(got, want):
    """the same dtype, shape and bits (NaN anywhere in a part matches NaN; signed zeros count)"""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, want.dtype, got.shape, want.shape)
    g, w = np.atleast_1d(got).view(want.real.dtype), np.atleast_1d(want).view(want.real.dtype)
    return np.array_equal(g, w, equal_nan=True) and np.array_equal(np.signbit(g[~np.isnan(w)]), np.signbit(w[~np.isnan(w)]))


def close_modulus(got, want, rtol):
    """products: chunked association moves a part that cancels by ulps of the value's modulus,
    so finite values compare by |got - want| <= rtol |want|; NaN/inf parts as close()'s"""
    got, want = np.asarray(got), np.asarray(want)
    fin = np.isfinite(want)
    close(np.where(fin, 0, got), np.where(fin, 0, want), 0)
    assert np.all(np.abs(got[fin] - want[fin]) <= rtol * np.abs(want[fin])), (got, want)


@pytest.mark.parametrize("dt", CPLX)
@pytest.mark.parametrize("threads", [1, 2])
def test_order_and_product_reductions(dt, threads):
    # max/min/argmax/argmin in NumPy's lexicographic order (the first NaN wins; of equal values,
    # signed zeros included, the first), bit for bit; nan-variants; prod/cumprod/nanprod; over
    # data spanning many chunks along every axis, one and several axes, keepdims
    rng = np.random.default_rng(16)
    v = ordered_values(dt)
    plain = v[[0, 3, 4, 5, 7, 8, 9, 11]]  # no NaN
    x = v[rng.integers(0, len(v), 2 * 40 * 30)].reshape(2, 40, 30)
    x[1] = plain[rng.integers(0, len(plain), 40 * 30)].reshape(40, 30)  # half without NaN: ties decide
    x[0, 3] = complex(np.nan, np.nan)  # an all-NaN line for the nan-functions
    small = (rng.integers(-3, 4, (2, 40, 30)) + 1j * rng.integers(-3, 4, (2, 40, 30))).astype(dt) / 2
    small[0, 5, 7] = complex(np.inf, 1)  # NumPy's product starts from 1: 1 * (inf + 1j) is inf + nanj
    rtol = RTOL[dt][1] * 100  # products of 40 factors
    with lp.config(threads=threads, chunk_bytes="2KiB"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        xn = x.copy()
        xn[0, 3] = plain[0]  # no all-NaN line (nanargmax refuses one)
        a, s, an = lp.asarray(x), lp.asarray(small), lp.asarray(xn)
        for axis in (None, 0, 1, 2, -1, (0, 2), (1, 2)):
            for kd in (False, True):
                for op in ("max", "min", "nanmax", "nanmin"):
                    assert bits_equal(getattr(lp, op)(a, axis=axis, keepdims=kd).run(),
                                      getattr(np, op)(x, axis=axis, keepdims=kd)), (op, axis, kd)
                for op in ("prod", "nanprod"):
                    close_modulus(getattr(lp, op)(s, axis=axis, keepdims=kd).run(), getattr(np, op)(small, axis=axis, keepdims=kd), rtol)
                if isinstance(axis, tuple):
                    continue
                for op in ("argmax", "argmin"):
                    np.testing.assert_array_equal(getattr(lp, op)(a, axis=axis, keepdims=kd).run(),
                                                  getattr(np, op)(x, axis=axis, keepdims=kd))
                for op in ("nanargmax", "nanargmin"):
                    np.testing.assert_array_equal(getattr(lp, op)(an, axis=axis, keepdims=kd).run(),
                                                  getattr(np, op)(xn, axis=axis, keepdims=kd))
        with pytest.raises(ValueError, match="All-NaN slice encountered"):
            lp.nanargmax(a, axis=2).run()
        for axis in (0, 1, 2):
            close_modulus(lp.cumprod(s, axis=axis).run(), np.cumprod(small, axis=axis), rtol)
            close_modulus(lp.cumulative_prod(s, axis=axis, include_initial=True).run(),
                  np.cumulative_prod(small, axis=axis, include_initial=True), rtol)
            close(lp.cumsum(s, axis=axis).run(), np.cumsum(small, axis=axis), RTOL[dt][1])
            # cummax/cummin: NumPy's maximum/minimum.accumulate
            assert bits_equal(lp.cummax(a, axis=axis).run(), np.maximum.accumulate(x, axis=axis))
            assert bits_equal(lp.cummin(a, axis=axis).run(), np.minimum.accumulate(x, axis=axis))
        # empty: prod is 1, max refuses as NumPy does
        e = np.zeros((0, 3), dt)
        close(lp.prod(lp.asarray(e), axis=0).run(), np.prod(e, axis=0), 0)
        with pytest.raises(ValueError, match="zero-size array"):
            lp.max(lp.asarray(e), axis=0).run()
        with pytest.raises(ValueError, match="empty sequence"):
            lp.argmax(lp.asarray(e), axis=0).run()
        z = np.array(complex(-0.0, 2), dt)  # 0-d
        assert bits_equal(lp.max(lp.asarray(z)).run(), np.max(z))
        assert lp.argmin(lp.asarray(z)).run() == 0
