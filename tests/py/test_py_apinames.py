"""The array API names of issue 15's last part, each against NumPy 2: bitwise shifts (Python
operators, the catalogue functions and the CLI evaluator), dtype spellings read by the library's
one parser, var/std's fractional correction."""
import operator
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import lampy as lp

ROOT = Path(__file__).resolve().parents[2]
LAMPY = os.environ.get("LAMPY_BIN") or str(ROOT / "build" / "lampy")
INTS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


def shift_operands(dt):
    """values with the sign bit set, and counts below, at and above the width, and negative
    ones (read as huge unsigned counts: NumPy gives 0, or -1 for a negative x >>)"""
    bits = np.dtype(dt).itemsize * 8
    x = np.array([0, 1, 3, 100, -1, -128, 77, 5, -7, 2], dtype=np.int64).astype(dt)
    n = np.array([0, 1, bits - 1, bits, bits + 1, 3, -1, 2 * bits, 1, -bits], dtype=np.int64).astype(dt)
    return x, n


@pytest.mark.parametrize("dt", INTS)
def test_shifts_every_integer_dtype(dt):
    x, n = shift_operands(dt)
    X, N = lp.asarray(x), lp.asarray(n)
    for name, alias, op in (("left_shift", "bitwise_left_shift", operator.lshift),
                            ("right_shift", "bitwise_right_shift", operator.rshift)):
        want = getattr(np, name)(x, n)
        for got in (getattr(lp, name)(X, N), getattr(lp, alias)(X, N), op(X, N), getattr(np, name)(X, N)):
            assert isinstance(got, lp.Array)
            r = got.run()
            assert r.dtype == want.dtype
            np.testing.assert_array_equal(r, want)
        # broadcasting against a column, a weak Python int on either side
        np.testing.assert_array_equal(op(X[:, None], N[:4]).run(), op(x[:, None], n[:4]))
        np.testing.assert_array_equal(op(X, 3).run(), op(x, 3))
        np.testing.assert_array_equal(op(2, N % 7).run(), op(2, n % 7))


def test_shift_promotion_and_bool():
    a, b = np.arange(6, dtype=np.uint8), np.array([1, 2, 0, 7, 1, 1], dtype=np.int8)
    for op in (operator.lshift, operator.rshift):
        got, want = op(lp.asarray(a), lp.asarray(b)).run(), op(a, b)
        assert got.dtype == want.dtype == np.int16
        np.testing.assert_array_equal(got, want)
    t = np.array([True, False, True])
    got, want = (lp.asarray(t) << lp.asarray(t)).run(), t << t
    assert got.dtype == want.dtype == np.int8
    np.testing.assert_array_equal(got, want)


def test_shift_inplace_rebinds_and_fuses():
    x0 = np.arange(-50, 50, dtype=np.int32)
    x = lp.asarray(x0)
    y = x
    y <<= 2
    y >>= 1
    np.testing.assert_array_equal(y.run(), (x0 << 2) >> 1)
    np.testing.assert_array_equal(x.run(), x0)  # x is untouched, as with NumPy's rebinding
    z = ((x << 3) + 1) >> 2 ^ x  # one elementwise region
    np.testing.assert_array_equal(z.run(), ((x0 << 3) + 1) >> 2 ^ x0)
    big = np.arange(100_000, dtype=np.int64) - 50_000
    with lp.config(chunk_bytes=1 << 14):
        np.testing.assert_array_equal(((lp.asarray(big) << 5) >> 3).run(), (big << 5) >> 3)


@pytest.mark.parametrize("dt", ["float16", "float32", "float64"])
def test_shift_float_is_type_error(dt):
    for f in (lp.left_shift, lp.right_shift):
        with pytest.raises(TypeError, match="not supported for the input types"):
            f(lp.asarray(np.ones(3, dt)), 1)
        with pytest.raises(TypeError):
            getattr(np, f.__name__)(np.ones(3, dt), 1)


def run_cli(*args):
    return subprocess.run([LAMPY, *map(str, args)], capture_output=True, text=True, timeout=60)


def test_cli_shifts():
    # precedence: shifts bind looser than + and tighter than & and comparisons (Python's)
    p = run_cli("eval", '(arange(6, dtype="int16") << 1 + 1) & 12 == 8')
    assert p.returncode == 0, p.stderr
    x = np.arange(6, dtype=np.int16)
    assert p.stdout.split() == str((x << 1 + 1) & 12 == 8).split()
    p = run_cli("eval", 'arange(-4, 4, dtype="int8") >> 9')
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == str(np.arange(-4, 4, dtype=np.int8) >> 9).split()
    for expr, want in (("1 << 3 + 1", 1 << 3 + 1), ("-5 >> 100", -5 >> 100), ("3 << 60", 3 << 60),
                       ("True << True", True << True)):
        p = run_cli("eval", expr)
        assert p.returncode == 0 and p.stdout.strip() == str(want), (expr, p.stdout, p.stderr)
    for expr, msg in (("1 << -1", "negative shift count"), ("1 << 64", "overflow"),
                      ("1.0 << 2", "unsupported operand"), ('arange(3.0) << 1', "not supported")):
        p = run_cli("eval", expr)
        assert p.returncode != 0 and msg in p.stderr, (expr, p.stderr)


def test_dtype_spellings_one_parser():
    for spelling, name in (("f8", "float64"), ("<f4", "float32"), ("i4", "int32"), ("u1", "uint8"),
                           ("float64", "float64"), (float, "float64"), (int, "int64"), (bool, "bool"),
                           (np.float32, "float32"), (np.dtype("int16"), "int16"), ("e", "float16")):
        assert lp.zeros(2, dtype=spelling).dtype == np.dtype(name)
        info = lp.finfo(spelling) if np.dtype(name).kind == "f" else lp.iinfo(spelling) if np.dtype(name).kind in "iu" else None
        if info is not None:
            ref = np.finfo(spelling) if np.dtype(name).kind == "f" else np.iinfo(spelling)
            assert (info.bits, info.dtype) == (ref.bits, ref.dtype), spelling
        assert lp.isdtype(spelling, "numeric") == np.isdtype(np.dtype(spelling), "numeric")
        assert lp.result_type(spelling, "i1") == np.result_type(spelling, "i1")
        assert lp.can_cast(spelling, "f8") == np.can_cast(spelling, "f8")
    for bad in ("f3", "nonsense", ">f8", None):
        with pytest.raises(TypeError):
            lp.finfo(bad)


def test_correction_signature_and_fraction():
    a = np.arange(24.0).reshape(4, 6) ** 1.3
    x = lp.asarray(a)
    for corr in (0.0, 0.59, 1.0, 3.5):
        for fn in ("var", "std"):
            np.testing.assert_allclose(getattr(lp, fn)(x, axis=1, correction=corr).run(),
                                       getattr(np, fn)(a, axis=1, correction=corr), rtol=1e-12)
            np.testing.assert_allclose(getattr(x, fn)(correction=corr).run(), getattr(np, fn)(a, correction=corr), rtol=1e-12)
    with lp.config(chunk_bytes=1 << 12):  # many chunks: the partial states carry the real ddof
        big = np.sin(np.arange(20_000.0))
        np.testing.assert_allclose(lp.var(big, correction=0.25).run(), np.var(big, correction=0.25), rtol=1e-12)


def test_cumulative_sum_prod():
    rng = np.random.default_rng(3)
    for dt in ("int8", "int32", "uint16", "float32", "float64", "bool"):
        a = (rng.integers(0, 3, (3, 5, 4)) if dt != "bool" else rng.integers(0, 2, (3, 5, 4))).astype(dt)
        for fn in ("cumulative_sum", "cumulative_prod"):
            for axis in (0, 1, -1):
                for init in (False, True):
                    got = getattr(lp, fn)(a, axis=axis, include_initial=init).run()
                    want = getattr(np, fn)(a, axis=axis, include_initial=init)
                    assert got.dtype == want.dtype, (dt, fn)
                    np.testing.assert_array_equal(got, want)
            for dt2 in ("float64", "uint32", "int8"):  # the result keeps the dtype asked for, as NumPy's
                got = getattr(lp, fn)(a, axis=1, include_initial=True, dtype=dt2).run()
                want = getattr(np, fn)(a, axis=1, include_initial=True, dtype=dt2)
                assert got.dtype == want.dtype
                np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="axis"):
        lp.cumulative_sum(np.ones((2, 3)))
    with pytest.raises(ValueError, match="axis"):
        np.cumulative_sum(np.ones((2, 3)))
    big = np.arange(30_000) % 7
    with lp.config(chunk_bytes=1 << 12):
        np.testing.assert_array_equal(lp.cumulative_sum(big, include_initial=True).run(),
                                      np.cumulative_sum(big, include_initial=True))


def test_meshgrid_broadcast_arrays_unstack():
    x, y, z = np.arange(3), np.linspace(0, 1, 4), np.array([[5, 6]])
    for kw in ({}, {"indexing": "ij"}, {"sparse": True}, {"indexing": "ij", "sparse": True}):
        got, want = lp.meshgrid(x, y, z, **kw), np.meshgrid(x, y, z, **kw)
        assert isinstance(got, list) and len(got) == len(want)  # the standard's List[array] (NumPy: a tuple)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.run(), w)
    assert lp.meshgrid() == []
    with pytest.raises(ValueError, match="indexing"):
        lp.meshgrid(x, indexing="ji")
    a, b = np.ones((3, 1), np.int8), np.arange(4.0)
    got = lp.broadcast_arrays(a, b, 2)
    assert isinstance(got, list)
    for g, w in zip(got, np.broadcast_arrays(a, b, 2)):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_array_equal(g.run(), w)
    with pytest.raises(ValueError, match="broadcast"):
        lp.broadcast_arrays(np.ones(3), np.ones(4))
    t = np.arange(24).reshape(2, 3, 4)
    for axis in (0, 1, 2, -1):
        got, want = lp.unstack(t, axis=axis), np.unstack(t, axis=axis)
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.run(), w)
    with pytest.raises(np.exceptions.AxisError):
        lp.unstack(t, axis=3)


def test_linalg_extension():
    rng = np.random.default_rng(5)
    m = rng.standard_normal((2, 3, 4, 4))
    a2 = rng.standard_normal((5, 3))
    for off in (0, 1, -2):
        np.testing.assert_array_equal(lp.linalg.diagonal(m, offset=off).run(), np.linalg.diagonal(m, offset=off))
        np.testing.assert_allclose(lp.linalg.trace(m, offset=off).run(), np.linalg.trace(m, offset=off), rtol=1e-12)
    ti = np.arange(18, dtype=np.int32).reshape(2, 3, 3)
    for kw in ({}, {"dtype": "float32"}):
        got, want = lp.linalg.trace(ti, **kw).run(), np.linalg.trace(ti, **kw)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    for ord_ in (None, 2, 1, 0, 3, 0.5, np.inf, -np.inf, -1):
        kw = {} if ord_ is None else {"ord": ord_}
        for axis in (None, 1, (0, 2), -1):
            for kd in (False, True):
                np.testing.assert_allclose(lp.linalg.vector_norm(m, axis=axis, keepdims=kd, **kw).run(),
                                           np.linalg.vector_norm(m, axis=axis, keepdims=kd, **kw), rtol=1e-12)
    vi = np.arange(-3, 5)
    got = lp.linalg.vector_norm(vi).run()
    assert got.dtype == np.linalg.vector_norm(vi).dtype
    np.testing.assert_allclose(got, np.linalg.vector_norm(vi), rtol=1e-15)
    for ord_ in ("fro", 1, -1, np.inf, -np.inf):
        for kd in (False, True):
            np.testing.assert_allclose(lp.linalg.matrix_norm(m, ord=ord_, keepdims=kd).run(),
                                       np.linalg.matrix_norm(m, ord=ord_, keepdims=kd), rtol=1e-12)
    for ord_ in ("nuc", 2, -2):
        np.testing.assert_allclose(lp.linalg.matrix_norm(a2, ord=ord_).run(), np.linalg.matrix_norm(a2, ord=ord_), rtol=1e-10)
    np.testing.assert_allclose(lp.linalg.svdvals(a2).run(), np.linalg.svdvals(a2), rtol=1e-10)
    with pytest.raises(ValueError, match="Invalid norm order"):
        lp.linalg.matrix_norm(m, ord=3)
    sq = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    for n in (0, 1, 2, 5, -1, -3):
        np.testing.assert_allclose(lp.linalg.matrix_power(sq, n).run(), np.linalg.matrix_power(sq, n), rtol=1e-10, atol=1e-12)
    si = np.arange(4).reshape(2, 2)
    np.testing.assert_array_equal(lp.linalg.matrix_power(si, 3).run(), np.linalg.matrix_power(si, 3))
    np.testing.assert_array_equal(lp.linalg.matrix_power(np.stack([si, si + 1]), 2).run(),
                                  np.linalg.matrix_power(np.stack([si, si + 1]), 2))
    with pytest.raises(np.linalg.LinAlgError):
        lp.linalg.matrix_power(np.ones((2, 3)), 2)
    u, v = rng.standard_normal((4, 3)), rng.standard_normal((1, 3))
    np.testing.assert_allclose(lp.linalg.cross(u, v).run(), np.linalg.cross(u, v), rtol=1e-12)
    np.testing.assert_allclose(lp.linalg.cross(u.T, v.T[:, :1], axis=0).run(), np.linalg.cross(u.T, v.T[:, :1], axis=0),
                               rtol=1e-12)
    ci = np.arange(6, dtype=np.int32).reshape(2, 3)
    got = lp.linalg.cross(ci, ci[::-1]).run()
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, np.linalg.cross(ci, ci[::-1]))
    with pytest.raises(ValueError):
        lp.linalg.cross(np.ones((2, 4)), np.ones((2, 4)))


def test_rtol_as_array():
    rng = np.random.default_rng(9)
    a = rng.standard_normal((6, 4)) @ np.diag([1.0, 1e-3, 1e-9, 1.0]) @ rng.standard_normal((4, 4))
    for rtol in (np.asarray(1e-6), np.asarray(1e-2), np.float64(1e-5)):  # each cuts the 1e-9 direction (else ill-conditioned)
        np.testing.assert_allclose(lp.linalg.pinv(a, rtol=rtol).run(), np.linalg.pinv(a, rtol=rtol), rtol=1e-8, atol=1e-10)
        got, want = lp.linalg.matrix_rank(a, rtol=rtol).run(), np.linalg.matrix_rank(a, rtol=rtol)
        np.testing.assert_array_equal(got, want)
    assert int(lp.linalg.matrix_rank(a, rtol=0.5).run()) == np.linalg.matrix_rank(a, rtol=0.5)
    with pytest.raises(ValueError, match="both"):
        lp.linalg.pinv(a, 0.1, rtol=np.asarray(0.1))


def test_isin():
    rng = np.random.default_rng(2)
    for dt in ("int8", "int64", "uint32", "float32", "float64"):
        x = rng.integers(0, 50, (4, 30)).astype(dt)
        s = rng.integers(0, 50, 17).astype(dt)
        for inv in (False, True):
            np.testing.assert_array_equal(lp.isin(x, s, invert=inv).run(), np.isin(x, s, invert=inv))
    a = np.array([np.nan, 1.0, -0.0, np.inf])
    np.testing.assert_array_equal(lp.isin(a, [0.0, np.nan, np.inf]).run(), np.isin(a, [0.0, np.nan, np.inf]))
    np.testing.assert_array_equal(lp.isin(np.arange(5), np.array([], np.int64)).run(), np.isin(np.arange(5), []))
    np.testing.assert_array_equal(lp.isin(3, np.arange(5)).run(), np.isin(3, np.arange(5)))
    big, test = np.arange(40_000) % 1000, np.arange(0, 5000, 3)
    with lp.config(chunk_bytes=1 << 13):  # many chunks of both the elements and the test set
        np.testing.assert_array_equal(lp.isin(big, test).run(), np.isin(big, test))
    with pytest.raises(ValueError, match="kind"):
        lp.isin(big, test, kind="hash")


def test_zero_d_boolean_index():
    a = np.arange(24).reshape(2, 3, 4)
    x = lp.asarray(a)
    for key in (True, False, (1, True), (Ellipsis, False), (slice(None), True, 2), (np.True_,), (np.asarray(False), 0)):
        got, want = x[key].run(), a[key]
        assert got.shape == want.shape, key
        np.testing.assert_array_equal(got, want)
    s = np.asarray(7.5)
    for m in (np.asarray(True), np.asarray(False)):
        got = lp.asarray(s)[lp.asarray(m)].run()
        assert got.shape == s[m].shape
        np.testing.assert_array_equal(got, s[m])


def test_dlpack():
    a = np.arange(12.0).reshape(3, 4)
    x = lp.asarray(a) * 2 + 1  # lazy: __dlpack__ computes it first
    assert x.__dlpack_device__() == (1, 0)
    np.testing.assert_array_equal(np.from_dlpack(x), a * 2 + 1)
    np.testing.assert_array_equal(np.from_dlpack(x, copy=True), a * 2 + 1)
    y = lp.from_dlpack(a)
    assert isinstance(y, lp.Array)
    np.testing.assert_array_equal((y + 1).run(), a + 1)
    np.testing.assert_array_equal(lp.from_dlpack(x).run(), a * 2 + 1)
    for dt in ("int8", "uint16", "float32", "bool"):
        z = lp.asarray(np.ones(5, dt))
        assert np.from_dlpack(z).dtype == np.dtype(dt)
    with pytest.raises(ValueError, match="device"):
        lp.from_dlpack(a, device="cuda")
