"""Reductions of narrow rows along their length (einsum('ij,ij->i'), sum/mean(axis=-1) of a few
columns, issue 16): the row fold keeps the eight-lane order of every float sum, so the bits are
those of an independent NumPy model of that order for every chunking along the rows; chunks that
cut the rows agree with NumPy to rounding."""
import numpy as np
import pytest

import lampy as lp

rng = np.random.default_rng(1617)


def eight_lanes(p):
    """Lampy's float sum of each row: lane j adds elements j, j + 8, ... in order (from +0.0),
    then the lanes pairwise: ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))."""
    r, w = p.shape
    cols = -(-w // 8) * 8
    q = np.zeros((r, cols))
    q[:, :w] = p
    s = np.zeros((r, 8))
    for k in range(0, cols, 8):
        s = s + q[:, k:k + 8]
    return ((s[:, 0] + s[:, 1]) + (s[:, 2] + s[:, 3])) + ((s[:, 4] + s[:, 5]) + (s[:, 6] + s[:, 7]))


def bits(got, want):
    got = np.asarray(got.run())
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("w", range(1, 18))
def test_row_dot_bits_for_every_row_chunking(w):
    n = 20_011
    a, b = rng.standard_normal((n, w)), rng.standard_normal((n, w))
    a[::17] = -0.0
    dot = eight_lanes(a * b)
    for rows in (n, 4099, 1000, 1):
        la, lb = lp.asarray(a, chunks=(rows, w)), lp.asarray(b, chunks=(rows, w))
        bits(lp.einsum("ij,ij->i", la, lb), dot)
        bits((la * lb).sum(axis=1), dot)
        bits(la.sum(axis=-1), eight_lanes(a))
        bits(la.mean(axis=1), eight_lanes(a) / w)
        bits(lp.sum(la[:, None, :] * lb[:, None, :], axis=(1, 2)), dot)
    np.testing.assert_allclose(dot, np.einsum("ij,ij->i", a, b), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("w", [2, 5, 8, 9, 16, 17])
def test_row_dot_chunks_cutting_the_rows(w):
    n = 9_001
    a, b = rng.standard_normal((n, w)), rng.standard_normal((n, w))
    for chunks in [(1000, 1), (n, w // 2 or 1), (777, 3)]:
        la, lb = lp.asarray(a, chunks=chunks), lp.asarray(b, chunks=chunks)
        np.testing.assert_allclose(lp.einsum("ij,ij->i", la, lb).run(), np.einsum("ij,ij->i", a, b), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(la.sum(axis=1).run(), a.sum(axis=1), rtol=1e-12, atol=1e-12)


def test_rows_of_other_dtypes_and_ops():
    """float32 rows (a float32 result: the states go through the finalize copy), integer rows, min/max/prod over rows, 3-d with the two
    trailing axes reduced."""
    x = rng.standard_normal((5003, 7))
    for chunks in [(5003, 7), (999, 7)]:
        x32 = x.astype(np.float32)
        lx = lp.asarray(x32, chunks=chunks)
        # summed in float64, then rounded (NumPy adds in float32: less accurate, other bits)
        bits(lx.sum(axis=1), eight_lanes(x32.astype(np.float64)).astype(np.float32))
        np.testing.assert_allclose(lx.sum(axis=1).run(), x32.sum(axis=1), rtol=1e-3, atol=1e-5)
        li = lp.asarray((x * 100).astype(np.int64), chunks=chunks)
        np.testing.assert_array_equal(li.sum(axis=1).run(), (x * 100).astype(np.int64).sum(axis=1))
        lx = lp.asarray(x, chunks=chunks)
        np.testing.assert_array_equal(lx.max(axis=1).run(), x.max(axis=1))
        np.testing.assert_array_equal(lx.min(axis=-1).run(), x.min(axis=-1))
        np.testing.assert_allclose(lx.prod(axis=1).run(), x.prod(axis=1), rtol=1e-12)
    y = rng.standard_normal((301, 3, 5))
    for chunks in [(301, 3, 5), (50, 3, 5), (50, 2, 5)]:
        ly = lp.asarray(y, chunks=chunks)
        np.testing.assert_allclose(ly.sum(axis=(1, 2)).run(), y.sum(axis=(1, 2)), rtol=1e-12)
        np.testing.assert_allclose(ly.mean(axis=(1, 2)).run(), y.mean(axis=(1, 2)), rtol=1e-12)


def test_whole_run_sums_keep_the_slab_bits():
    """a 1-d chunk's sum folds its 512-element pieces straight from the input; the bits are those
    of the slab loop, which folds the same pieces of the same data shaped as rows of 512"""
    x = rng.standard_normal(512 * 3001) * 1e3
    for rows in (3001, 1000, 77, 1):
        a = lp.asarray(x, chunks=(rows * 512,))
        b = lp.asarray(x.reshape(-1, 512), chunks=(rows, 512))
        for f in (lp.sum, lp.mean):
            assert np.asarray(f(a).run()).tobytes() == np.asarray(f(b).run()).tobytes()
        i = (x * 1e6).astype(np.int64)
        assert lp.sum(lp.asarray(i, chunks=(rows * 512,))).run() == i.sum()


def pieces_of_256(x):
    """a fused float sum along the rows of x (the VM's fold): acc = +0.0, then acc + the eight-lane
    sum of each 256-element piece of the row, in order; the VM computes 1024 elements at a time
    and folds their four pieces side by side, which must not change these bits"""
    acc = np.zeros(x.shape[0])
    for o in range(0, x.shape[1], 256):
        acc = acc + eight_lanes(x[:, o:o + 256])
    return acc


@pytest.mark.parametrize("n", [255, 256, 1024, 1100, 256 * 37 + 101, 4096 * 3])
def test_fused_sums_keep_the_piece_bits(n):
    a, b = rng.standard_normal((3, n)) * 1e3, rng.standard_normal((3, n))
    want = pieces_of_256((a - b) ** 2)
    want2 = pieces_of_256(a * 2.0)
    for rows in (3, 1):
        la, lb = lp.asarray(a, chunks=(rows, n)), lp.asarray(b, chunks=(rows, n))
        bits(lp.sum((la - lb) ** 2, axis=1), want)
        bits(lp.sum(la * 2, axis=-1), want2)
        bits(lp.mean((la - lb) ** 2, axis=1), want / n)
    for r in range(3):
        la, lb = lp.asarray(a[r], chunks=(n,)), lp.asarray(b[r], chunks=(n,))
        bits(lp.sum((la - lb) ** 2), want[r:r + 1].reshape(()))
    np.testing.assert_allclose(want, ((a - b) ** 2).sum(axis=1), rtol=1e-12)
