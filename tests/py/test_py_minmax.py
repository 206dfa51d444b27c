"""max/min/argmax/argmin of whole rows (the folds with one state per row run in eight vector
lanes, issue 16): the same results as the element-by-element fold for every chunking — NumPy's
values and positions, the first NaN wins, ties go to the first position, and of equal zeros the
first one's sign is kept (NumPy's own choice between +0.0 and -0.0 depends on its SIMD path)."""
import numpy as np
import pytest

import lampy as lp

rng = np.random.default_rng(1618)


def first_extreme(x, is_min):
    """the element-by-element fold: the first NaN, else the first of the equal extremes"""
    nan = np.flatnonzero(np.isnan(x)) if x.dtype.kind == "f" else []
    if len(nan):
        return x[nan[0]], nan[0]
    i = int(np.argmin(x) if is_min else np.argmax(x))
    return x[i], i


def cases(dt, n):
    info = np.finfo(dt) if np.dtype(dt).kind == "f" else np.iinfo(dt)
    base = (rng.standard_normal(n) * 1000).astype(dt) if np.dtype(dt).kind == "f" else \
        rng.integers(-1000, 1000, n).astype(dt)
    out = [("random", base)]
    t = base.copy()
    t[[n // 3, 2 * n // 3]] = base.max()  # a tie for the maximum
    t[[n // 5, n - 1]] = base.min()
    out.append(("ties", t))
    e = base.copy()
    e[max(n - 7, 0)] = info.max
    e[min(11, n - 1)] = info.min
    out.append(("extremes", e))
    if np.dtype(dt).kind == "f":
        for pos in sorted({0, min(5, n - 1), n // 2, n - 1}):
            v = base.copy()
            v[pos] = np.nan
            v[min(pos + 9, n - 1)] = np.nan
            out.append((f"nan@{pos}", v))
        z = -np.abs(base) - 1
        z[[n // 4, n // 2]] = [-0.0, 0.0]
        out.append(("zeros -0 first", z))
        z2 = z.copy()
        z2[[n // 4, n // 2]] = [0.0, -0.0]
        out.append(("zeros +0 first", z2))
        out.append(("all -inf", np.full(n, -np.inf, dt)))
        out.append(("all +inf", np.full(n, np.inf, dt)))
        out.append(("all zero", np.where(np.arange(n) % 3 == 1, -0.0, 0.0).astype(dt)))
    return out


@pytest.mark.parametrize("dt", ["float64", "float32", "int64", "int32"])
@pytest.mark.parametrize("n", [1, 7, 8, 9, 515, 20_011])
def test_whole_array_folds(dt, n):
    for name, x in cases(dt, n):
        for chunk in {n, 4099, 1000, 64, 1}:
            a = lp.asarray(x, chunks=(min(chunk, n),))
            for is_min, red, arg in ((False, lp.max, lp.argmax), (True, lp.min, lp.argmin)):
                val, pos = first_extreme(x, is_min)
                got = np.asarray(red(a).run())
                assert got.dtype == x.dtype, (name, chunk)
                assert got.tobytes() == np.asarray(val, dtype=x.dtype).tobytes(), (name, chunk, is_min, got, val)
                assert int(arg(a).run()) == pos, (name, chunk, is_min)
                # NumPy agrees on the position (and on the value up to the sign of zero)
                assert pos == (np.argmin(x) if is_min else np.argmax(x))


def test_rows_and_fused_inputs():
    """one state per row (axis=-1) and a fused program before the fold"""
    x = rng.standard_normal((300, 517))
    x[5, 100] = np.nan
    x[7, :] = -np.inf
    x[9, 3] = x[9, 400] = x[9].max() + 1
    for chunks in ((300, 517), (64, 100), (1, 517)):
        a = lp.asarray(x, chunks=chunks)
        np.testing.assert_array_equal(lp.max(a, axis=1).run(), x.max(axis=1))
        np.testing.assert_array_equal(lp.min(a, axis=-1).run(), x.min(axis=-1))
        np.testing.assert_array_equal(lp.argmax(a, axis=1).run(), x.argmax(axis=1))
        np.testing.assert_array_equal(lp.argmin(a, axis=1).run(), x.argmin(axis=1))
        y = x * 2 - 1
        np.testing.assert_array_equal(lp.max(a * 2 - 1).run(), y.max())  # NaN: x[5, 100]
        np.testing.assert_array_equal(lp.max(a[10:] * 2 - 1).run(), y[10:].max())
        np.testing.assert_array_equal(lp.max(a * 2 - 1, axis=1).run(), y.max(axis=1))
        np.testing.assert_array_equal(lp.argmax(a * 2 - 1, axis=1).run(), y.argmax(axis=1))
