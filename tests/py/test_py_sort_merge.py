"""sort/argsort across many chunks (the pairwise merges of sorted runs, issue 16): every dtype,
run counts that are not powers of two, heavy duplicates (argsort stable as NumPy's
kind='stable'), NaN, infinities and -0.0 placed as NumPy places them; 2-d along both axes."""
import numpy as np
import pytest

import lampy as lp

rng = np.random.default_rng(16)
DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64"]


def data(dt, n):
    dt = np.dtype(dt)
    if dt == np.bool_:
        return rng.integers(0, 2, n).astype(bool)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        # few distinct values (duplicates across runs) and the extremes
        x = rng.integers(0, 7, n).astype(dt)
        x[::97] = info.min
        x[::89] = info.max
        return x
    x = rng.integers(-3, 4, n).astype(dt)  # duplicates, -0.0 and 0.0 among them
    x[::13] = -0.0
    x[::31] = np.nan
    x[::37] = np.inf
    x[::41] = -np.inf
    x[1::7] = rng.standard_normal(len(x[1::7])).astype(dt)
    return x


def same(got, want):
    got = got.run()
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)  # NaN == NaN here
    if want.dtype.kind == "f":  # -0.0 before or beside 0.0 exactly as NumPy left it
        assert np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("chunk", [3000, 1 << 14])  # from 2 to 80 runs by dtype: not powers of two
def test_sort_and_stable_argsort_many_runs(dt, chunk):
    n = 30_011
    x = data(dt, n)
    with lp.config(chunk_bytes=chunk):
        lx = lp.asarray(x)
        got = lp.sort(lx).run()
        want = np.sort(x)
        assert np.array_equal(got, want, equal_nan=x.dtype.kind == "f")
        same(lp.argsort(lx, kind="stable"), np.argsort(x, kind="stable"))


@pytest.mark.parametrize("dt", ["int32", "float64"])
def test_two_dimensional_both_axes(dt):
    x = data(dt, 61 * 37).reshape(61, 37)
    with lp.config(chunk_bytes=1024):
        for ax in (0, 1, -1):
            same(lp.argsort(lp.asarray(x), axis=ax, kind="stable"), np.argsort(x, axis=ax, kind="stable"))
            got, want = lp.sort(lp.asarray(x), axis=ax).run(), np.sort(x, axis=ax)
            assert np.array_equal(got, want, equal_nan=x.dtype.kind == "f")


def test_slices_of_a_merged_sort():
    """Output chunks start and end inside runs (co-ranks), many equal keys at the cuts."""
    x = np.repeat(rng.integers(0, 50, 2001), 17).astype(np.float64)
    rng.shuffle(x)
    with lp.config(chunk_bytes=2048):
        s = lp.sort(lp.asarray(x))
        same(s[1000:2999], np.sort(x)[1000:2999])
        same(lp.argsort(lp.asarray(x), kind="stable")[5:-5], np.argsort(x, kind="stable")[5:-5])


@pytest.mark.parametrize("kind", ["u64", "i64", "f64", "f32", "i32", "small", "i8"])
def test_radix_digits_large_chunk(kind):
    """One large chunk (blocks of 64K keys, then the block merges): every 11-bit digit of full-range
    keys, and small integers (whose upper digits are constant, so their passes are skipped)."""
    n = 150_003
    if kind == "u64":
        x = rng.integers(0, 2**64, n, dtype=np.uint64)
    elif kind == "i64":
        x = rng.integers(-2**63, 2**63, n, dtype=np.int64)
    elif kind == "f64":
        x = rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n)
        x[::101] = np.nan
        x[::103] = -0.0
    elif kind == "f32":
        x = (rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)).astype(np.float32)
        x[::101] = np.nan
    elif kind == "i32":
        x = rng.integers(-2**31, 2**31, n).astype(np.int32)
    elif kind == "small":
        x = rng.integers(-1000, 1000, n)
    else:
        x = rng.integers(-128, 128, n).astype(np.int8)
    with lp.config(chunk_bytes=1 << 24):
        lx = lp.asarray(x)
        same(lp.sort(lx), np.sort(x))
        same(lp.argsort(lx, kind="stable"), np.argsort(x, kind="stable"))


def ordered(order, n):
    """float64 data in a given order: random, few keys, one key, sorted, reversed, two halves
    of disjoint ranges, organ pipe; "extremes": few keys, none of them 0.0."""
    if order == "random":
        return rng.standard_normal(n)
    if order == "few":
        return rng.integers(0, 4, n).astype(np.float64)
    if order == "equal":
        return np.full(n, 2.5)
    if order == "sorted":
        return np.arange(n, dtype=np.float64)
    if order == "reversed":
        return np.arange(n, dtype=np.float64)[::-1].copy()
    if order == "halves":
        return np.concatenate([rng.integers(100, 200, n // 2), rng.integers(0, 3, n - n // 2)]).astype(np.float64)
    if order == "pipe":
        return np.concatenate([np.arange(n // 2), np.arange(n - n // 2)[::-1]]).astype(np.float64)
    return rng.integers(1, 5, n).astype(np.float64)  # NumPy's quicksort leaves 0.0 and -0.0 in no fixed order


@pytest.mark.parametrize("order", ["random", "few", "equal", "sorted", "reversed", "halves"])
@pytest.mark.parametrize("dt", ["int64", "float64"])
def test_pairwise_merges_cut_at_the_middle(order, dt):
    """Long runs (7 chunks, then rounds of pairwise merges, each cut at its middle co-rank): the
    cut inside a stretch of equal keys, at either end of a run (sorted, reversed, one half all
    smaller), an odd number of runs and a shorter last one; argsort stays stable."""
    n = 7 * 40_000 - 123
    x = ordered(order, n).astype(dt)
    with lp.config(chunk_bytes=40_000 * 8):
        lx = lp.asarray(x)
        same(lp.sort(lx), np.sort(x))
        same(lp.argsort(lx, kind="stable"), np.argsort(x, kind="stable"))
        same(lp.sort(lx)[77_777:200_001], np.sort(x)[77_777:200_001])


@pytest.mark.parametrize("order", ["random", "few", "equal", "sorted", "reversed", "halves", "pipe", "extremes"])
@pytest.mark.parametrize("dt", ["int64", "uint64", "float64", "float32"])
@pytest.mark.parametrize("chunk", [2048, 1 << 16])
def test_co_ranks_over_many_runs(order, dt, chunk):
    """Hundreds of 2 KiB chunks (grouped into 16 runs; hundreds of output chunks) and tens of long
    ones: each output chunk's co-ranks come
    from a selection over the runs (interpolated and random pivots, the last elements selected
    at once), also for runs that do not overlap (sorted, reversed), runs of one key, and keys
    at the ends of the dtype's range; runs of 8-byte dtypes are kept as keys between the levels."""
    n = 61_111
    x = np.abs(ordered(order, n) * (1e6 if order == "random" else 1)).astype(dt)
    if order == "extremes":
        if np.dtype(dt).kind == "f":
            x[::3] = np.inf
            x[1::5] = -np.inf
            x[2::7] = np.nan
            x[::11] = -0.0
            x[::13] = np.finfo(dt).max
        else:
            info = np.iinfo(dt)
            x[::3] = info.max
            x[1::5] = info.min
            x[2::7] = info.max - 1
    with lp.config(chunk_bytes=chunk):
        lx = lp.asarray(x)
        same(lp.sort(lx), np.sort(x))
        same(lp.argsort(lx, kind="stable"), np.argsort(x, kind="stable"))
        same(lp.sort(lx)[12_345:40_001], np.sort(x)[12_345:40_001])


@pytest.mark.parametrize("dt", ["int64", "uint64", "float64"])
def test_keyed_runs_two_dimensional(dt):
    """Runs kept as keys along either axis of a 2-d array (strided lines), values as NumPy's."""
    x = (rng.standard_normal((301, 53)) * 1000).astype(dt) if dt != "uint64" else rng.integers(0, 2**64, (301, 53), dtype=np.uint64)
    if dt == "float64":
        x[::7, ::3] = np.nan
        x[1::5, 1::2] = -0.0
    with lp.config(chunk_bytes=1024):
        for ax in (0, 1):
            same(lp.sort(lp.asarray(x), axis=ax), np.sort(x, axis=ax))
            same(lp.argsort(lp.asarray(x), axis=ax, kind="stable"), np.argsort(x, axis=ax, kind="stable"))
