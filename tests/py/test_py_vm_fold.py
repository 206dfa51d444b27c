"""The VM's fold loops (src/kernels/vm.c, issue 16): a float sum's last step (one of + - * /, or
a fused pair of them, t op t included) computes and folds into the eight lanes in one loop. The
bits must be those of the eight-lane sum of 256-element pieces (lanes j and j + 8 ..., the lanes
added pairwise, the pieces in order), computed here in NumPy from NumPy's elementwise values --
an independent reference, for every operation and pair, constants in each position, strided
inputs, NaNs and infinities, lengths that are not a multiple of 8 or 256, and rows."""
import operator

import numpy as np
import pytest

import lampy as lp

OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
rng = np.random.default_rng(1616)
PIECE = 256


def lane_sum(v):
    """acc + the eight-lane sum of each consecutive 256-piece of v, in order (Lampy's fold).
    The last piece is padded with +0.0: a lane starts at +0.0 and never becomes -0.0, so adding
    +0.0 changes no lane's bits."""
    v = np.asarray(v, dtype=np.float64)
    npieces = -(-len(v) // PIECE)
    padded = np.zeros(npieces * PIECE)
    padded[: len(v)] = v
    rows = padded.reshape(npieces, PIECE // 8, 8)
    lanes = np.zeros((npieces, 8))
    with np.errstate(all="ignore"):
        for r in range(PIECE // 8):  # element by element along each lane, in order
            lanes = lanes + rows[:, r, :]
        s = lanes
        pieces = ((s[:, 0] + s[:, 1]) + (s[:, 2] + s[:, 3])) + ((s[:, 4] + s[:, 5]) + (s[:, 6] + s[:, 7]))
    acc = 0.0
    for p in pieces:
        acc += float(p)
    return acc


def same(got, want):
    got, want = float(got), float(want)
    if np.isnan(want):
        assert np.isnan(got)
    else:
        assert np.float64(got).view(np.uint64) == np.float64(want).view(np.uint64), (got, want)


def data(n, specials=True):
    x, y, z = (rng.standard_normal(n) * 10 for _ in range(3))
    if specials:
        for v, k in ((x, 0), (y, 1), (z, 2)):
            v[k::97] = 0.0
            v[k + 3::1031] = np.inf
            v[k + 5::1733] = -np.inf
    return x, y, z


def one(v):
    return lp.asarray(v, chunks=v.shape)  # one chunk: one task folds the whole array


@pytest.mark.parametrize("n", [1_000_003, 2053, 256])
def test_single_operations_and_constants(n):
    X, Y, _ = data(n)
    x, y = one(X), one(Y)
    with np.errstate(all="ignore"):
        for name, f in OPS.items():
            same(lp.sum(f(x, y)).run(), lane_sum(f(X, Y)))
            same(lp.sum(f(x, 2.5)).run(), lane_sum(f(X, 2.5)))
            same(lp.sum(f(-1.5, y)).run(), lane_sum(f(-1.5, Y)))


@pytest.mark.parametrize("o1", list(OPS))
@pytest.mark.parametrize("o2", list(OPS))
def test_every_pair_all_forms(o1, o2):
    n = 100_003
    X, Y, Z = data(n)
    x, y, z = one(X), one(Y), one(Z)
    f1, f2 = OPS[o1], OPS[o2]
    with np.errstate(all="ignore"):
        same(lp.sum(f2(f1(x, y), z)).run(), lane_sum(f2(f1(X, Y), Z)))
        same(lp.sum(f2(z, f1(x, y))).run(), lane_sum(f2(Z, f1(X, Y))))
        t, T = f1(x, y), f1(X, Y)
        same(lp.sum(f2(t, t)).run(), lane_sum(f2(T, T)))
        # constants: the first's right, the first's left, the second's
        same(lp.sum(f2(f1(x, 2.5), z)).run(), lane_sum(f2(f1(X, 2.5), Z)))
        same(lp.sum(f2(f1(-1.5, y), z)).run(), lane_sum(f2(f1(-1.5, Y), Z)))
        same(lp.sum(f2(f1(x, y), 0.75)).run(), lane_sum(f2(f1(X, Y), 0.75)))
        t, T = f1(x, 2.5), f1(X, 2.5)
        same(lp.sum(f2(t, t)).run(), lane_sum(f2(T, T)))


def test_w3_mean_nan_and_strided():
    n = 300_007
    X, Y, _ = data(2 * n)
    a, b = X[:n].copy(), Y[:n].copy()
    same(lp.sum((one(a) - one(b)) ** 2).run(), lane_sum((a - b) ** 2))
    same(lp.mean((one(a) - one(b)) ** 2).run(), lane_sum((a - b) ** 2) / n)
    a[12345] = np.nan
    same(lp.sum((one(a) - one(b)) ** 2).run(), np.nan)
    # strided inputs: the fold loop's element-by-element path, the same lanes
    xs, ys = X[::2], Y[1::2]
    with np.errstate(all="ignore"):
        same(lp.sum(lp.asarray(xs, chunks=(n,)) * lp.asarray(ys, chunks=(n,))).run(), lane_sum(xs * ys))
        same(lp.sum((lp.asarray(xs, chunks=(n,)) - 2.0) ** 2).run(), lane_sum((xs - 2.0) ** 2))


def test_rows_fold_each_row():
    X, Y, _ = data(7 * 1000, specials=False)
    X, Y = X.reshape(7, 1000), Y.reshape(7, 1000)
    got = lp.sum((one(X) - one(Y)) ** 2, axis=1).run()
    for r in range(7):
        same(got[r], lane_sum((X[r] - Y[r]) ** 2))
    # reduced over the rows (one state per column): not a fold loop's case, NumPy's values
    np.testing.assert_allclose(lp.sum(one(X) * one(Y), axis=0).run(), (X * Y).sum(axis=0), rtol=1e-12)


def test_many_chunks_and_threads():
    n = 1 << 20
    X, Y, _ = data(n, specials=False)
    want = ((X - Y) ** 2).sum()
    for chunk in (1000, 65_536, 262_147):
        x, y = lp.asarray(X, chunks=(chunk,)), lp.asarray(Y, chunks=(chunk,))
        got = {}
        for threads in (1, 2):
            with lp.config(threads=threads):
                got[threads] = float(lp.sum((x - y) ** 2).run())
        same(got[1], got[2])  # the same tasks, the same order: the thread count does not matter
        assert abs(got[1] - want) <= 1e-12 * abs(want)
