"""The VM's fused pairs (src/kernels/vm.c, issue 16): a float64 add/subtract/multiply/divide
whose result only the next instruction reads runs with that next one as one loop. Each
operation stays its own IEEE operation, so every result is NumPy's, bit for bit (NaNs: where
NumPy has one), for every pair of the four operations in both orders, with broadcast constants
in each position, strided inputs, outputs large enough for the streaming stores, any chunking,
and as the values a reduction folds."""
import operator

import numpy as np
import pytest

import lampy as lp

OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
rng = np.random.default_rng(2016)


def data(n):
    x, y, z = (rng.standard_normal(n) * 10 for _ in range(3))
    # zeros, infinities and NaNs reach every position (0/0, inf - inf, x / 0)
    for v, k in ((x, 0), (y, 1), (z, 2)):
        v[k::97] = 0.0
        v[k + 3::131] = np.inf
        v[k + 5::173] = -np.inf
        v[k + 7::251] = np.nan
    return x, y, z


def same_bits(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    bits = np.dtype(f"u{want.itemsize}")
    assert np.array_equal(got[~nan].view(bits), want[~nan].view(bits))


@pytest.mark.parametrize("o1", list(OPS))
@pytest.mark.parametrize("o2", list(OPS))
def test_every_pair_both_orders(o1, o2):
    n = 200_003  # > 1 MiB of output: the streaming stores; not a multiple of the VM block
    X, Y, Z = data(n)
    f1, f2 = OPS[o1], OPS[o2]
    with np.errstate(all="ignore"):
        want_tz = f2(f1(X, Y), Z)
        want_zt = f2(Z, f1(X, Y))
    for chunk in (None, 4096, 65_537):
        kw = {} if chunk is None else {"chunks": (chunk,)}
        x, y, z = (lp.asarray(v, **kw) for v in (X, Y, Z))
        same_bits(f2(f1(x, y), z).run(), want_tz)
        same_bits(f2(z, f1(x, y)).run(), want_zt)


@pytest.mark.parametrize("o1", list(OPS))
@pytest.mark.parametrize("o2", list(OPS))
def test_constants_in_each_position(o1, o2):
    n = 20_011
    X, Y, Z = data(n)
    f1, f2 = OPS[o1], OPS[o2]
    x, y, z = (lp.asarray(v) for v in (X, Y, Z))
    with np.errstate(all="ignore"):
        same_bits(f2(f1(x, 2.5), z).run(), f2(f1(X, 2.5), Z))    # constant as the first's right
        same_bits(f2(f1(-1.5, y), z).run(), f2(f1(-1.5, Y), Z))   # as the first's left
        same_bits(f2(f1(x, y), 0.75).run(), f2(f1(X, Y), 0.75))   # as the second's
        same_bits(f2(3.0, f1(x, y)).run(), f2(3.0, f1(X, Y)))


def test_strided_and_mixed_inputs():
    n = 60_000
    X, Y, Z = data(2 * n)
    xs, ys, zs = X[::2], Y[1::2], Z[:n]
    x, y, z = lp.asarray(xs), lp.asarray(ys), lp.asarray(zs)
    with np.errstate(all="ignore"):
        same_bits((x * y + z * 2 - x).run(), xs * ys + zs * 2 - xs)
        same_bits(((x - y) / z).run(), (xs - ys) / zs)
    # float32 operands are not paired: still NumPy's float32 results
    a32, b32 = xs.astype(np.float32), ys.astype(np.float32)
    with np.errstate(all="ignore"):
        same_bits((lp.asarray(a32) * lp.asarray(b32) + lp.asarray(a32)).run(), a32 * b32 + a32)


def test_harness_w1_and_reductions():
    n = 1 << 20
    rng2 = np.random.default_rng(7)
    A, B, C = rng2.random(n), rng2.random(n), rng2.random(n)
    want = A * B + C * 2 - A
    for chunk in (None, 1000, 262_144):
        kw = {} if chunk is None else {"chunks": (chunk,)}
        a, b, c = (lp.asarray(v, **kw) for v in (A, B, C))
        same_bits((a * b + c * 2 - a).run(), want)
        # a sum folds the pair's values as it folds one instruction's: the same bits as NumPy's
        # first operation fed to a one-instruction program (the VM's fold order, not NumPy's)
        same_bits(lp.sum(a * b + c).run(), lp.sum(lp.asarray(A * B, **kw) + c).run())
        same_bits(lp.sum((a - b) / c).run(), lp.sum(lp.asarray(A - B, **kw) / c).run())
        same_bits(lp.sum(c * 2 - a * b).run(), lp.sum(c * 2 - lp.asarray(A * B, **kw)).run())
