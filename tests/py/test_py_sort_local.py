"""A chunk's own sort (issue 16): lines longer than a leaf are partitioned by a histogram of
equal slices of their key range (slices grouped into leaf-sized buckets, a crowded slice
partitioned again over its own range); a leaf is scattered into about one slice per key, then
each slice sorted by insertion or, when crowded, by LSD radix passes. Every path with skewed,
clustered, duplicated and ordered keys; argsort stable as NumPy's kind='stable'."""
import numpy as np
import pytest

import lampy as lp

rng = np.random.default_rng(1616)


def keys(kind, n):
    if kind == "uniform":  # floats of [0, 1): half of them in one exponent
        return rng.random(n)
    if kind == "exponents":  # every exponent: each slice of the key range sparse or crowded
        return rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n)
    if kind == "cluster":  # nearly all keys in a sliver of the range, a few outliers
        x = 1.0 + rng.random(n) * 1e-9
        x[::1000] = rng.standard_normal(len(x[::1000])) * 1e12
        return x
    if kind == "nested":  # clusters inside clusters: partitioned again, then crowded leaf slices
        x = rng.integers(0, 3, n) * 1e6 + rng.integers(0, 5, n) * 1e-3 + rng.random(n) * 1e-12
        x[::777] = -1e300
        return x
    if kind == "few":
        return rng.integers(0, 5, n).astype(np.float64)
    if kind == "one_other":  # one key but a single element
        x = np.full(n, 3.25)
        x[n // 3] = -7.0
        return x
    if kind == "sorted":
        return np.arange(n, dtype=np.float64)
    if kind == "reversed":
        return np.arange(n, dtype=np.float64)[::-1].copy()
    if kind == "special":
        x = rng.standard_normal(n)
        x[::7] = np.nan
        x[::11] = np.inf
        x[::13] = -np.inf
        x[::17] = -0.0
        return x
    if kind == "u64":
        return rng.integers(0, 2**64, n, dtype=np.uint64)
    if kind == "i64_small":
        return rng.integers(-50, 50, n)
    return rng.integers(-2**31, 2**31, n).astype(np.int32)  # "i32"


KINDS = ["uniform", "exponents", "cluster", "nested", "few", "one_other", "sorted", "reversed",
         "special", "u64", "i64_small", "i32"]


def check(x):
    lx = lp.asarray(x)
    got, want = lp.sort(lx).run(), np.sort(x)
    assert np.array_equal(got, want, equal_nan=x.dtype.kind == "f")
    if x.dtype.kind == "f" and not np.any((x == 0) & ~np.signbit(x)):  # -0.0 without 0.0: placed as NumPy's
        assert np.array_equal(np.signbit(got), np.signbit(want))
    gi = lp.argsort(lx, kind="stable").run()
    np.testing.assert_array_equal(gi, np.argsort(x, kind="stable"))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [47, 16_384, 16_385, 250_007])
def test_one_chunk_sort_and_stable_argsort(kind, n):
    x = keys(kind, n)
    with lp.config(chunk_bytes=1 << 24):  # one chunk: the chunk's sort is the result
        check(x)


@pytest.mark.parametrize("kind", ["uniform", "cluster", "nested", "few"])
def test_runs_from_the_partitioned_sort(kind):
    """Several chunks of more than a leaf each: the runs come from the partitioned sort, then merge."""
    x = keys(kind, 3 * 70_000 + 11)
    with lp.config(chunk_bytes=70_000 * 8):
        check(x)


@pytest.mark.parametrize("ax", [0, 1])
def test_two_dimensional_lines_longer_than_a_leaf(ax):
    x = keys("nested", 3 * 40_000).reshape((3, 40_000) if ax == 1 else (40_000, 3))
    with lp.config(chunk_bytes=1 << 24):
        lx = lp.asarray(x)
        np.testing.assert_array_equal(lp.sort(lx, axis=ax).run(), np.sort(x, axis=ax))
        np.testing.assert_array_equal(lp.argsort(lx, axis=ax, kind="stable").run(), np.argsort(x, axis=ax, kind="stable"))


@pytest.mark.parametrize("dt", ["float64", "float32", "int16", "uint64"])
def test_runs_group_chunks(dt):
    """37 chunks along the axis give 13 runs of 3 chunks, the last of one (at most 16 runs: a
    run's task reads its chunks as one operand; argsort reads the values over the same ranges)."""
    n = 37 * 1000
    if dt == "uint64":
        x = keys("u64", n)
    elif dt == "int16":
        x = rng.integers(-300, 300, n).astype(dt)  # duplicates: argsort's ties across runs
    else:
        x = np.round(rng.standard_normal(n) * 100, 1).astype(dt)
    itemsize = np.dtype(dt).itemsize
    with lp.config(chunk_bytes=1000 * itemsize):
        check(x)
        y = x.reshape(37 * 50, 20)
        with lp.config(chunk_bytes=50 * 20 * itemsize):
            ly = lp.asarray(y)
            got = lp.sort(ly, axis=0).run()
            assert np.array_equal(got, np.sort(y, axis=0), equal_nan=True)
            np.testing.assert_array_equal(lp.argsort(ly, axis=0, kind="stable").run(), np.argsort(y, axis=0, kind="stable"))
