"""median / quantile / percentile by selection (issue 16): a histogram of every chunk's top key
bits, the wanted buckets gathered, a radix select within them. Compared with NumPy for every
dtype, chunkings from one chunk to many (histograms from 2 to 65536 buckets), 2-d along both
axes, heavy duplicates, NaN anywhere (NaN result), infinities and -0.0, and many q at once."""
import numpy as np
import pytest

import lampy as lp

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy lerping infinities
rng = np.random.default_rng(1616)
DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64"]
CHUNKS = [64, 3000, 1 << 14, 1 << 22]  # many chunks of 2-bucket histograms ... one chunk, 2^13 buckets


def data(dt, n, spread=True):
    dt = np.dtype(dt)
    if dt == np.bool_:
        return rng.integers(0, 2, n).astype(bool)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        if spread:  # the whole range: every bucket bit and radix digit differs
            x = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
        else:  # few values: buckets holding many equal keys
            x = rng.integers(0, 5, n).astype(dt)
            x[::97] = info.min
        return x
    if spread:
        x = (rng.standard_normal(n) * 10.0 ** rng.integers(-4, 4, n)).astype(dt)
    else:
        x = rng.integers(-3, 4, n).astype(dt)
        x[::13] = -0.0
    x[::37] = np.inf
    x[::41] = -np.inf
    return x


def same(got, want):
    got = np.asarray(got.run() if hasattr(got, "run") else got)
    want = np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, want.dtype, got.shape, want.shape)
    np.testing.assert_array_equal(got, want)  # exact: the same neighbours, the same lerp


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.parametrize("spread", [True, False])
def test_median_and_quantiles_every_dtype(dt, chunk, spread):
    for n in (1, 2, 7, 20_011, 20_012):
        x = data(dt, n, spread)
        with lp.config(chunk_bytes=chunk):
            lx = lp.asarray(x)
            same(lp.median(lx), np.median(x))
            if dt != "bool":  # NumPy's quantile subtracts bools (an error there)
                q = [0, 0.001, 0.25, 0.5, 0.5, 0.77, 0.999, 1]
                same(lp.quantile(lx, q), np.quantile(x, q))
                same(lp.percentile(lx, 37.5), np.percentile(x, 37.5))


@pytest.mark.parametrize("dt", ["float16", "float32", "float64"])
@pytest.mark.parametrize("chunk", [3000, 1 << 22])
def test_nan_anywhere_gives_nan(dt, chunk):
    for where in (0, 5_000, 19_999):
        x = data(dt, 20_000)
        x[where] = np.nan
        with lp.config(chunk_bytes=chunk):
            lx = lp.asarray(x)
            same(lp.median(lx), np.median(x))
            same(lp.quantile(lx, [0.1, 0.9]), np.quantile(x, [0.1, 0.9]))


@pytest.mark.parametrize("dt", ["int16", "uint32", "float32", "float64"])
def test_two_dimensional_both_axes(dt):
    x = data(dt, 301 * 67).reshape(301, 67)
    x[5, 3] = x[200, 60] = 0  # some duplicates in lines
    if x.dtype.kind == "f":
        x[17, 9] = np.nan  # one line (and one column) NaN
    for chunk in (512, 1 << 13, 1 << 22):
        with lp.config(chunk_bytes=chunk):
            lx = lp.asarray(x)
            for ax in (0, 1, -1, None):
                same(lp.median(lx, axis=ax), np.median(x, axis=ax))
                same(lp.percentile(lx, [3, 50, 96.5], axis=ax), np.percentile(x, [3, 50, 96.5], axis=ax))
            same(lp.median(lx, axis=0, keepdims=True), np.median(x, axis=0, keepdims=True))


def test_one_bucket_holds_everything():
    # keys equal in their top bits (values in [1, 1 + 2^-30)): the radix select narrows by the
    # low digits, 6 steps deep
    x = 1 + rng.random(50_000) * 2.0 ** -30
    for chunk in (1 << 12, 1 << 22):
        with lp.config(chunk_bytes=chunk):
            lx = lp.asarray(x)
            same(lp.median(lx), np.median(x))
            same(lp.quantile(lx, [0, 0.3, 1]), np.quantile(x, [0, 0.3, 1]))

