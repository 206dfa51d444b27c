"""fmax/fmin (kernels/loops.c: compares and a select, no libm call): NumPy's bits for every pair
of special values — NaN ignored (the other operand), both NaN the first, ±inf, ±0, subnormals —
in every layout a loop sees (contiguous, a scalar on either side, strided, fused, chunked).

NumPy's own sign of a zero result from equal zeros depends on its loop: its float32/float64
vector loop gives the second operand, the scalar remainder of a short contiguous loop varies with
the position, its float16 loop gives the first. The references below are NumPy on contiguous
arrays a multiple of 64 long (its vector loop throughout), and hand-written bits."""
import itertools

import numpy as np
import pytest

import lampy as lp

UINT = {np.float16: np.uint16, np.float32: np.uint32, np.float64: np.uint64}
# NaNs with a sign and a payload: both-NaN results must keep the first operand's bits
PAYLOAD_NAN = {np.float16: 0xFE01, np.float32: 0xFFC00123, np.float64: 0xFFF8000000000123}


def specials(dt):
    fi = np.finfo(dt)
    v = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1.5, -2.0, fi.smallest_subnormal, -fi.smallest_subnormal,
                  fi.max, -fi.max], dt)
    return np.concatenate([v, np.array([PAYLOAD_NAN[dt]], UINT[dt]).view(dt)])


def all_pairs(dt, reps=64):
    """every ordered pair of specials, repeated: a length a multiple of 64"""
    s = specials(dt)
    i, j = np.array(list(itertools.product(range(len(s)), repeat=2))).T
    return np.tile(s[i], reps), np.tile(s[j], reps)


def bits(a):
    a = np.ascontiguousarray(a)
    return a.view(UINT[a.dtype.type])


def reference(f, x, y):
    """NumPy's vector loop: on contiguous copies, a multiple of 64 long"""
    x, y = np.broadcast_arrays(x, y)
    shape = x.shape
    x, y = np.ascontiguousarray(x).ravel(), np.ascontiguousarray(y).ravel()
    pad = -len(x) % 64
    r = f(np.concatenate([x, x[:pad]]), np.concatenate([y, y[:pad]]))
    return r[:len(x)].reshape(shape)


OPS = [(lp.fmax, np.fmax), (lp.fmin, np.fmin)]
DTYPES = [np.float64, np.float32, np.float16]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("lf,nf", OPS)
def test_every_pair_bitwise(dt, lf, nf):
    x, y = all_pairs(dt)
    want = bits(reference(nf, x, y))
    for chunk in (len(x), 1000, 7):
        got = lf(lp.asarray(x, chunks=(chunk,)), lp.asarray(y, chunks=(chunk,))).run()
        np.testing.assert_array_equal(bits(got), want, err_msg=f"chunk {chunk}")


@pytest.mark.parametrize("dt", DTYPES)
def test_hand_values(dt):
    """the rule without NumPy: NaN ignored, both NaN the first, equal zeros the second operand
    (float16: the first, as NumPy's half loop)"""
    u = UINT[dt]
    pz, nz = np.array([0.0], dt), np.array([-0.0], dt)
    nan, pnan = np.array([np.nan], dt), np.array([PAYLOAD_NAN[dt]], u).view(dt)
    one, ninf = np.array([1.0], dt), np.array([-np.inf], dt)
    zero_pick = 0 if dt == np.float16 else 1  # which operand equal zeros give
    for lf, larger in ((lp.fmax, True), (lp.fmin, False)):
        def run(a, b):
            return bits(lf(lp.asarray(a), lp.asarray(b)).run())[0]
        assert run(nz, pz) == bits((nz, pz)[zero_pick])[0]
        assert run(pz, nz) == bits((pz, nz)[zero_pick])[0]
        assert run(nan, one) == bits(one)[0] and run(one, nan) == bits(one)[0]
        assert run(ninf, nan) == bits(ninf)[0] and run(nan, ninf) == bits(ninf)[0]
        assert run(pnan, nan) == bits(pnan)[0] and run(nan, pnan) == bits(nan)[0]
        assert run(one, ninf) == bits(one if larger else ninf)[0]


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("lf,nf", OPS)
def test_layouts(dt, lf, nf):
    """a scalar on either side, strided and transposed views, fused programs, a float32/float64
    mix: the same bits as NumPy's vector loop on the same values"""
    x, y = all_pairs(dt, reps=16)
    n = len(x)
    X, Y = lp.asarray(x, chunks=(n // 3,)), lp.asarray(y, chunks=(n // 5,))
    for s in specials(dt):
        S = np.asarray(s, dt)
        np.testing.assert_array_equal(bits(lf(X, S).run()), bits(reference(nf, x, S)), err_msg=f"y={s}")
        np.testing.assert_array_equal(bits(lf(S, Y).run()), bits(reference(nf, S, y)), err_msg=f"x={s}")
    np.testing.assert_array_equal(bits(lf(X[::3], Y[1::3]).run()), bits(reference(nf, x[::3], y[1::3])))
    x2, y2 = x.reshape(-1, 16), y.reshape(-1, 16)
    X2, Y2 = lp.asarray(x2, chunks=(50, 16)), lp.asarray(y2, chunks=(7, 16))
    np.testing.assert_array_equal(bits(lf(X2.T, Y2.T).run()), bits(reference(nf, x2.T, y2.T)))
    # fused: negation keeps every bit but the sign, also a NaN's
    np.testing.assert_array_equal(bits((-lf(-X, -Y)).run()), bits(-reference(nf, -x, -y)))
    other = np.float32 if dt == np.float64 else np.float64
    with np.errstate(over="ignore"):  # ±max to float32: ±inf, as in lampy
        y3 = y.astype(other)
    np.testing.assert_array_equal(bits(lf(X, lp.asarray(y3)).run()), bits(reference(nf, x, y3)))
