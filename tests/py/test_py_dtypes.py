"""int8 int16 uint8 uint16 uint32 uint64 float16 end to end, against NumPy: zero-copy asarray,
results back with NumPy's dtype, NumPy 2's promotion with weak Python scalars, wraparound in
fused expressions, reductions, .npy round trips through numpy.save/numpy.load, chunked runs
(several chunks, 1 and 2 threads), the CLI."""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import lampy as lp

NEW = ["int8", "int16", "uint8", "uint16", "uint32", "uint64", "float16"]
ALL = ["bool", "int32", "int64", "float32", "float64"] + NEW
ROOT = Path(__file__).resolve().parents[2]
LAMPY = os.environ.get("LAMPY_BIN") or str(ROOT / "build" / "lampy")


def sample(dt, n=64, seed=0):
    rng = np.random.default_rng(seed)
    if dt == "bool":
        return rng.integers(0, 2, n).astype(bool)
    if np.dtype(dt).kind in "iu":
        info = np.iinfo(dt)
        lo, hi = max(int(info.min), -(2**40)), min(int(info.max), 2**40)
        v = rng.integers(lo, hi, n, endpoint=True, dtype=np.int64).astype(dt)
        v[:3] = np.array([info.min, info.max, 0], dtype=np.dtype(dt))  # the extremes wrap in products
        return v
    return rng.uniform(-8, 8, n).astype(dt)


def same(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    if want.dtype.kind == "f":
        np.testing.assert_array_equal(got, want)  # NaN == NaN here; float16 results are exact
    else:
        assert np.array_equal(got, want), (got, want)


@pytest.mark.parametrize("dt", NEW)
def test_asarray_zero_copy_and_back(dt):
    x = sample(dt)
    a = lp.asarray(x)
    assert a.dtype == np.dtype(dt)
    x[5] = x[6]  # wrapped, not copied: the lazy array sees the change
    same(a.run(), x)
    assert getattr(lp, dt) == dt


@pytest.mark.parametrize("dt", NEW)
@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "floor_divide", "remainder", "maximum",
                                "less", "equal", "bitwise_and", "true_divide"])
def test_binary_same_dtype(dt, op):
    x, y = sample(dt, seed=1), sample(dt, seed=2)
    if op in ("floor_divide", "remainder") and dt != "float16":
        y[::7] = 0  # NumPy gives 0 (with a warning)
    f = getattr(np, op)
    with np.errstate(all="ignore"):
        try:
            want = f(x, y)
        except TypeError:
            with pytest.raises(TypeError):
                getattr(lp, op if op != "true_divide" else "divide")(lp.asarray(x), lp.asarray(y))
            return
    same(getattr(lp, op if op != "true_divide" else "divide")(lp.asarray(x), lp.asarray(y)).run(), want)


@pytest.mark.parametrize("a", ALL)
@pytest.mark.parametrize("b", NEW)
def test_promotion_table(a, b):
    x, y = sample(a, 8, 3), sample(b, 8, 4)
    with np.errstate(all="ignore"):
        want = x + y
    got = (lp.asarray(x) + lp.asarray(y))
    assert got.dtype == want.dtype
    same(got.run(), want)


@pytest.mark.parametrize("dt", NEW)
def test_weak_python_scalars(dt):
    x = sample(dt, seed=5)
    with np.errstate(all="ignore"):
        same((lp.asarray(x) + 3).run(), x + 3)
        same((lp.asarray(x) * 2.5).run(), x * 2.5)
        same((lp.asarray(x) < -1).run(), x < -1)
    if dt != "float16":
        with pytest.raises(OverflowError):
            lp.asarray(x) + 2**64
        if dt.startswith("u"):
            with pytest.raises(OverflowError):
                np.asarray(x) + -1
            with pytest.raises(OverflowError):
                lp.asarray(x) + -1


def test_wraparound_in_fused_regions():
    a, b, c = (sample("int8", 1000, s) for s in (7, 8, 9))
    want = (a * b + c) // 3
    same(((lp.asarray(a) * lp.asarray(b) + lp.asarray(c)) // 3).run(), want)
    u = sample("uint8", 1000, 10)
    same(((lp.asarray(u) - 200) * 3).run(), (u - np.uint8(200)) * np.uint8(3))
    h = sample("float16", 1000, 11)
    same(((lp.asarray(h) * lp.asarray(h) + 0.1) / 3).run(), (h * h + np.float16(0.1)) / np.float16(3))


@pytest.mark.parametrize("dt", NEW)
@pytest.mark.parametrize("threads", [1, 2])
def test_chunked_reductions_and_elementwise(dt, threads):
    x = sample(dt, 100_000, 12).reshape(1000, 100)
    with lp.config(threads=threads, chunk_bytes="16KiB"):
        a = lp.asarray(x)
        with np.errstate(all="ignore"):
            same((a * a - a).run(), x * x - x)
        for op in ("sum", "prod", "min", "max", "argmin", "argmax"):
            for axis in (None, 0, 1):
                want = getattr(np, op)(x, axis=axis)
                got = getattr(lp, op)(a, axis=axis).run()
                if dt == "float16" and op in ("sum", "prod"):
                    # NumPy's float16 reductions depend on the memory layout (along a strided
                    # axis each step is rounded to float16); Lampy accumulates in float64 and
                    # rounds once: the reference is the float64 result rounded to float16
                    want = getattr(np, op)(x.astype(np.float64), axis=axis).astype(np.float16)
                    assert np.asarray(got).dtype == want.dtype
                    np.testing.assert_allclose(np.asarray(got, np.float64), want.astype(np.float64),
                                               rtol=1e-3, atol=0)
                    continue
                same(got, want)  # integer sums and products wrap as NumPy's
        np.testing.assert_allclose(lp.mean(a, axis=0).run(), np.mean(x, axis=0), rtol=1e-3 if dt == "float16" else 1e-12)
        assert lp.mean(a).run().dtype == np.mean(x).dtype


@pytest.mark.parametrize("src", ALL)
@pytest.mark.parametrize("dst", NEW)
def test_astype(src, dst):
    x = sample(src, seed=13)
    if np.dtype(src).kind == "f" and np.dtype(dst).kind in "iu":
        info = np.iinfo(dst)
        x = x[(np.trunc(x) >= info.min) & (np.trunc(x) <= info.max)]  # C leaves the rest undefined
    with np.errstate(all="ignore"):
        same(lp.asarray(x).astype(dst).run(), x.astype(dst))
        y = x.astype(dst)
        if np.dtype(dst).kind == "f" and np.dtype(src).kind in "iu":  # back: in range only
            t, info = np.trunc(y.astype(np.float64)), np.iinfo(src)
            y = y[np.isfinite(t) & (t >= info.min) & (t < 2.0 ** (info.bits - (info.min < 0)))]
        same(lp.asarray(y).astype(src).run(), y.astype(src))


@pytest.mark.parametrize("dt", NEW)
def test_npy_round_trip(dt, tmp_path):
    x = sample(dt, 3 * 4 * 5, 14).reshape(3, 4, 5)
    p = tmp_path / "in.npy"
    np.save(p, x)
    a = lp.load(str(p))
    assert a.dtype == np.dtype(dt)
    same(a.run(), x)
    q = tmp_path / "out.npy"
    lp.save(str(q), a[::-1] * 1)
    same(np.load(q), x[::-1] * (np.float16(1) if dt == "float16" else np.array(1, dt)))
    be = tmp_path / "be.npy"
    np.save(be, x.astype(np.dtype(dt).newbyteorder(">")))
    same(lp.load(str(be)).run(), x)


@pytest.mark.parametrize("dt", NEW)
def test_where_sort_cumsum(dt):
    x = sample(dt, 301, 15)
    c = x > x[10]
    y = sample(dt, 301, 16)
    same(lp.where(lp.asarray(c), lp.asarray(x), lp.asarray(y)).run(), np.where(c, x, y))
    same(lp.sort(lp.asarray(x)).run(), np.sort(x))
    same(lp.argsort(lp.asarray(x), kind="stable").run(), np.argsort(x, kind="stable"))
    if dt != "float16":  # NumPy accumulates float16 differently (pairwise in float32)
        same(lp.cumsum(lp.asarray(x)).run(), np.cumsum(x))


def test_scalar_conversions():
    assert int(lp.asarray(np.array(200, np.uint8)) + 100 - 100) == 200
    assert int(lp.asarray(np.array(2**64 - 1, np.uint64)).run()) == 2**64 - 1
    assert float(lp.asarray(np.array(0.1, np.float16))) == float(np.float16(0.1))
    assert [0, 1, 2][lp.asarray(np.array(2, np.uint8))] == 2


@pytest.mark.parametrize("dt", ["uint8", "int16", "float16"])
def test_cli_astype_and_npy(dt, tmp_path):
    x = sample("float64", 24, 17).reshape(4, 6) * 10
    p = tmp_path / "x.npy"
    np.save(p, x)
    out = tmp_path / "y.npy"
    r = subprocess.run([LAMPY, "eval", f"astype(abs(x), '{dt}') * 2", f"x={p}", "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    want = np.abs(x).astype(dt) * (np.array(2, dt))
    same(np.load(out), want)
    r = subprocess.run([LAMPY, "eval", f"astype(x, {dt})[0, :3]", f"x={p}"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(x.astype(dt)[0, :3])


@pytest.mark.parametrize("dt", NEW)
def test_zarr_both_ways(dt, tmp_path):
    import zarr
    from zarr.codecs import BytesCodec, ZstdCodec
    x = sample(dt, 23 * 7, 18).reshape(23, 7)
    for endian in ("little", "big"):
        p = tmp_path / f"zp_{endian}.zarr"
        z = zarr.create_array(str(p), shape=x.shape, chunks=(5, 3), dtype=x.dtype, fill_value=3,
                              serializer=BytesCodec(endian=endian if x.itemsize > 1 else None),
                              compressors=[ZstdCodec()])
        z[:20] = x[:20]  # rows 20.. never written: the fill value
        want = x.copy()
        want[20:] = 3
        same(lp.load(str(p)).run(), want)
        same(lp.load(str(p))[2:9, 1].run(), want[2:9, 1])
    q = tmp_path / "lp.zarr"
    lp.save(str(q), lp.asarray(x), chunks=(4, 7), codec="zstd")
    same(zarr.open_array(str(q), mode="r")[:], x)
