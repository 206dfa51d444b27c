"""Indexing by data against NumPy: integer arrays, boolean masks (sizes from the data, chunked),
assignment that rebinds the lazy handle, nonzero/argwhere/unique/searchsorted/bincount/histogram."""
import numpy as np
import pytest

import lampy as lp

rng = np.random.default_rng(11)


def same(got, want):
    got = got.run() if isinstance(got, lp.Array) else got
    want = np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape, got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)


@pytest.fixture(params=[0, 4096])
def chunked(request):
    with lp.config(chunk_bytes=request.param):
        yield


X2 = rng.standard_normal((37, 11))
X1 = rng.integers(-50, 50, 1001)


@pytest.mark.parametrize("key", [
    [3, 1, 3, -1], np.array([0, 36, 5]), (slice(None), [0, 10, 2]), (slice(2, 9), [1, -1]),
    (Ellipsis, [4, 4]), (slice(None, None, -1), np.array([[0, 1], [2, 3]])), (5, [1, 2]),
])
def test_integer_array_index(chunked, key):
    same(lp.asarray(X2)[key], X2[key])


def test_take_functions(chunked):
    idx = rng.integers(-1001, 1001, 500)
    same(lp.take(X1, idx), np.take(X1, idx))
    same(lp.asarray(X2).take([1, 2], axis=1), X2.take([1, 2], axis=1))
    ind = np.argsort(X2, axis=0)
    same(lp.take_along_axis(X2, ind, axis=0), np.take_along_axis(X2, ind, axis=0))
    same(lp.take_along_axis(X2, np.argsort(X2, axis=1)[:, :3], axis=1), np.take_along_axis(X2, np.argsort(X2, axis=1)[:, :3], axis=1))
    with pytest.raises(IndexError, match="out of bounds"):
        lp.take(X1, [5000]).run()


@pytest.mark.parametrize("make", [
    lambda x: x > 0, lambda x: x < -5, lambda x: x > 1e9, lambda x: x == x,
])
def test_boolean_mask(chunked, make):
    same(lp.asarray(X1)[make(lp.asarray(X1))], X1[make(X1)])
    same(lp.asarray(X2)[make(lp.asarray(X2))], X2[make(X2)])
    m = make(X2[:, 0])
    same(lp.asarray(X2)[m], X2[m])
    same(lp.asarray(X2)[:, make(X2[0])], X2[:, make(X2[0])])


def test_mask_larger_than_a_chunk():
    x = rng.standard_normal(3_000_000)
    with lp.config(chunk_bytes=1 << 20):
        lx = lp.asarray(x)
        y = lx[lx > 0.5]
        assert y.shape == ((x > 0.5).sum(),)       # the size is known when built
        same(y, x[x > 0.5])
        # a sum over chunks adds in another order than NumPy's pairwise sum: the reductions' tolerance
        np.testing.assert_allclose((y * 2).sum().run(), (x[x > 0.5] * 2).sum(), rtol=1e-12)
        same(lp.nonzero(lx > 2.5)[0], np.nonzero(x > 2.5)[0])


def test_mask_errors():
    with pytest.raises(IndexError, match="boolean index did not match"):
        lp.asarray(X2)[np.ones(5, bool)]


def test_assignment_rebinds(chunked):
    for key, v in [(slice(2, 9), 7.5), ((slice(None), 3), -1), ((slice(1, 30, 3), slice(None, None, -2)), 0.25),
                   ([1, 5, 5], 3.0), (Ellipsis, 2), (([0, 3],), np.arange(11.0))]:
        a = lp.asarray(X2.copy())
        b = X2.copy()
        alias = a                     # the same object, as in NumPy: it sees the assignment
        derived = a * 1               # an expression built before: it keeps the old values
        a[key] = v
        b[key] = v
        same(a, b)
        same(alias, b)
        same(derived, X2)
    a, b = lp.asarray(X1.copy()), X1.copy()
    a[a < 0] = 0
    b[b < 0] = 0
    same(a, b)
    a[a > 10] = np.arange((b > 10).sum())      # an array of the mask's count
    b[b > 10] = np.arange((b > 10).sum())
    same(a, b)
    a[[1, 2, 3]] += 100
    b[[1, 2, 3]] += 100
    same(a, b)
    i = np.array([4, 4, 7])
    a[i] = np.array([1, 2, 3])                  # repeated index: the last value wins, as in NumPy
    b[i] = np.array([1, 2, 3])
    same(a, b)


def test_nonzero_family(chunked):
    m = X2 > 0.3
    for g, w in zip(lp.nonzero(m), np.nonzero(m)):
        same(g, w)
    for g, w in zip(lp.where(m), np.where(m)):
        same(g, w)
    same(lp.argwhere(m), np.argwhere(m))
    same(lp.argwhere(np.array(3)), np.argwhere(np.array(3)))
    same(lp.flatnonzero(X1 % 7 == 0), np.flatnonzero(X1 % 7 == 0))
    same(lp.extract(X1 > 3, X1), np.extract(X1 > 3, X1))
    same(lp.compress([True, False, True], X2, axis=1), np.compress([True, False, True], X2, axis=1))
    with pytest.raises(ValueError, match="0d"):
        lp.nonzero(np.array(3))


@pytest.mark.parametrize("data", [X1, X2.round(1), np.array([np.nan, 1.0, np.nan, -0.0, 0.0, 2.0]), np.array([], float),
                                  rng.random(500) < 0.5, X1.astype(np.int32)])
def test_unique(chunked, data):
    same(lp.unique(data), np.unique(data))
    for g, w in zip(lp.unique(data, return_index=True, return_inverse=True, return_counts=True),
                    np.unique(data, return_index=True, return_inverse=True, return_counts=True)):
        same(g, w)
    same(lp.unique_values(data), np.sort(np.unique_values(data)))  # NumPy 2.3+ does not sort these; Lampy does


def test_searchsorted_bincount_histogram(chunked):
    s = np.sort(rng.standard_normal(300))
    v = np.concatenate([rng.standard_normal(50), [np.nan, -np.inf, s[3]]])
    same(lp.searchsorted(s, v), np.searchsorted(s, v))
    same(lp.searchsorted(s, v, side="right"), np.searchsorted(s, v, side="right"))
    k = rng.integers(0, 20, 700)
    w = rng.random(700)
    same(lp.bincount(k), np.bincount(k))
    same(lp.bincount(k, minlength=30), np.bincount(k, minlength=30))
    np.testing.assert_allclose(lp.bincount(k, weights=w).run(), np.bincount(k, weights=w), rtol=1e-12)
    with pytest.raises(ValueError, match="negative"):
        lp.bincount(np.array([1, -1]))
    x = rng.standard_normal(5000)
    for args in [dict(), dict(bins=7), dict(bins=13, range=(-1, 2)), dict(bins=[-3, -1, 0, 0.5, 4])]:
        g, ge = lp.histogram(x, **args)
        w_, we = np.histogram(x, **args)
        same(g, w_)
        np.testing.assert_array_equal(ge.run(), we)
    g, _ = lp.histogram(x, bins=9, density=True)
    np.testing.assert_allclose(g.run(), np.histogram(x, bins=9, density=True)[0], rtol=1e-12)
    g, _ = lp.histogram(x, bins=9, weights=np.abs(x))
    np.testing.assert_allclose(g.run(), np.histogram(x, bins=9, weights=np.abs(x))[0], rtol=1e-12)


def test_ten_million_over_many_chunks():
    """sort/argsort/unique/median/cumsum and fancy indexing of 10M elements in 2 MiB chunks."""
    n = 10_000_000
    x = rng.standard_normal(n)
    k = rng.integers(0, 1000, n)
    idx = rng.integers(-n, n, 100_000)
    with lp.config(chunk_bytes=2 << 20):
        lx, lk = lp.asarray(x), lp.asarray(k)
        same(lp.sort(lx), np.sort(x))
        same(lp.argsort(lk)[:50_000], np.argsort(k, kind="stable")[:50_000])
        same(lp.unique(lk), np.unique(k))
        same(lp.median(lx), np.median(x))
        same(lp.percentile(lx, [1, 50, 99]), np.percentile(x, [1, 50, 99]))
        np.testing.assert_allclose(lp.cumsum(lx).run(), np.cumsum(x), rtol=1e-9, atol=1e-9)
        same(lx[idx], x[idx])
        same(lx[lk == 7], x[k == 7])


X3 = rng.standard_normal((6, 7, 8))
I = np.array([[0, 5], [-1, 2]])
J = np.array([1, -3])


@pytest.mark.parametrize("key", [
    (I, J), ([0, 2, 4], [1, 1, 6]), (I, slice(None), J), (slice(None), I, J), (slice(1, 5), [0, 6], [[1], [7]]),
    (I, J, 3), (0, slice(None), [1, 2]), ([1, 2], slice(None), 0), (Ellipsis, [1, 2], [3, 4]), (None, [1], [2], slice(None)),
    ([1, 2], None, [3, 4]), (X3[:, 0, 0] > 0, slice(None), [2]), (slice(None), X3[0, :, :3] > 0),
    (slice(None), X3[0, :, 0] > 0, 2), (np.array([], dtype=np.int64), np.array([], dtype=np.int64)),
    (slice(None, None, -1), [0, 1], slice(2, 4), [3, 2]), (np.int64(2), [1, 2]),
])
def test_several_index_arrays(chunked, key):
    # NumPy broadcasts the index arrays; separated advanced indices put their dimensions first
    try:
        want = X3[key]
    except IndexError:
        with pytest.raises(IndexError):
            lp.asarray(X3)[key].run()
        return
    same(lp.asarray(X3)[key], want)


def test_several_index_arrays_errors():
    x = lp.asarray(X3)
    with pytest.raises(IndexError, match="out of bounds for axis 1 with size 7"):
        x[[0, 1], [2, 7]].run()
    with pytest.raises(IndexError, match="out of bounds for axis 0 with size 6"):
        x[[-7], [0]].run()
    with pytest.raises(IndexError, match="could not be broadcast"):
        x[[0, 1], [0, 1, 2]]
    with pytest.raises(IndexError, match="too many indices"):
        x[[0], [0], [0], [0]]
    with pytest.raises(IndexError):
        x[[0.5], [1]]


def test_several_index_arrays_larger_than_a_chunk():
    x = rng.standard_normal((3000, 400))
    i, j = rng.integers(-3000, 3000, 50_000), rng.integers(-400, 400, 50_000)
    with lp.config(chunk_bytes=1 << 18):
        same(lp.asarray(x)[i, j], x[i, j])
        same(lp.asarray(x)[i[:7, None], j[None, :5]], x[i[:7, None], j[None, :5]])


def test_assignment_with_several_index_arrays(chunked):
    for key, v in [((I, J), 7.0), (([0, 2, 0], [1, 1, 1]), np.array([[1.0], [2.0], [3.0]])), ((I, slice(None), J), -1.0),
                   ((slice(None), [1, 2], [3, 4]), np.arange(6.0)[:, None])]:
        want = X3.copy()
        want[key] = v
        a = lp.asarray(X3)
        a[key] = v
        same(a, want)
    want = X3.copy()
    want[[1, 2], [3, 4]] += 10
    a = lp.asarray(X3)
    a[[1, 2], [3, 4]] += 10
    same(a, want)


@pytest.mark.parametrize("reps,axis", [
    ([1, 0, 3, 2, 1, 1], 0), ([2], 1), (np.array([0, 1, 2, 3, 0, 1, 2]), 1), (np.array(3), None), ([2, 0, 1] * 112, None),
    (np.array([1, 2] * 4, dtype=np.int8), -1), ([0] * 6, 0), (np.array([True, False] * 3), 0),
])
def test_repeat_with_counts(chunked, reps, axis):
    same(lp.repeat(X3, reps, axis=axis), np.repeat(X3, reps, axis=axis))
    same(lp.asarray(X3).repeat(reps, axis=axis), X3.repeat(reps, axis=axis))


def test_repeat_with_counts_errors():
    for reps, axis, err in [([1, 2], 0, ValueError), ([-1] * 6, 0, ValueError), ([[1] * 6], 0, ValueError),
                            (np.array([1.5] * 6), 0, TypeError)]:
        with pytest.raises(err):
            np.repeat(X3, reps, axis=axis)
        with pytest.raises(err):
            lp.repeat(X3, reps, axis=axis).run()


@pytest.mark.parametrize("dt", ["bool", "int8", "int16", "float32", "float64", "complex128"])
def test_mask_every_item_size(dt):
    """The compress kernel's line loop (items of 1, 2, 4, 8 and 16 bytes): 1-d, 2-d and 3-d masks
    over whole elements, a 2-d mask over a 3-d x (rows copied), a strided x, masks whose true
    elements sit in one stretch (all-false blocks before and after), all-true, all-false."""
    n = 300_007
    x = (rng.standard_normal(n) * 100).astype(dt) if dt != "complex128" else \
        rng.standard_normal(n) + 1j * rng.standard_normal(n)
    stretch = np.zeros(n, bool)
    stretch[123_456:170_001] = True
    masks = [rng.random(n) < 0.5, stretch, np.ones(n, bool), np.zeros(n, bool)]
    with lp.config(chunk_bytes=1 << 16):
        for m in masks:
            same(lp.asarray(x)[lp.asarray(m)], x[m])
            same(lp.asarray(x)[::3][lp.asarray(m[::3])], x[::3][m[::3]])
        x2, m2 = x[: 547 * 548].reshape(547, 548), masks[0][: 547 * 548].reshape(547, 548)
        same(lp.asarray(x2)[lp.asarray(m2)], x2[m2])
        same(lp.asarray(x2)[lp.asarray(m2)[:, 0]], x2[m2[:, 0]])
        x3, m3 = x[: 60 * 61 * 62].reshape(60, 61, 62), masks[1][: 60 * 61 * 62].reshape(60, 61, 62)
        same(lp.asarray(x3)[lp.asarray(m3)], x3[m3])
        same(lp.asarray(x3)[lp.asarray(m3[:, :, 7])], x3[m3[:, :, 7]])
