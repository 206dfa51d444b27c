"""bench/memref.c, the harness's same-round memory reference: it must compute what it claims
(a reference that skipped work or ran on fewer threads would misstate Lampy's share of the
memory's rate). Checked against NumPy on the harness's kind of arrays (NumPy's own, +16 B into
their pages) and on odd lengths and thread counts."""
import ctypes
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LIB = ROOT / "build" / "bench" / "liblampy-bench-mem.so"


@pytest.fixture(scope="module")
def mem():
    lib = ctypes.CDLL(str(LIB))  # built with the project (bench/meson.build); missing = a build bug
    P, I64 = ctypes.c_void_p, ctypes.c_int64
    lib.lpb_read.argtypes, lib.lpb_read.restype = [P, P, I64, ctypes.c_int], ctypes.c_double
    lib.lpb_triad.argtypes, lib.lpb_triad.restype = [P, P, P, I64, ctypes.c_int], None
    return lib


@pytest.mark.parametrize("n", [1, 7, 8, 1000, 1 << 20, (1 << 20) + 13])
@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_read_and_triad(mem, n, threads):
    rng = np.random.default_rng(n * 31 + threads)
    a, b = rng.random(n), rng.random(n)
    s = mem.lpb_read(a.ctypes.data, None, n, threads)
    assert s == pytest.approx(float(np.sum(a)), rel=1e-12)
    d = mem.lpb_read(a.ctypes.data, b.ctypes.data, n, threads)
    assert d == pytest.approx(float(np.sum(a - b)), rel=1e-9, abs=1e-9 * n)
    o = np.zeros(n)
    mem.lpb_triad(o.ctypes.data, a.ctypes.data, b.ctypes.data, n, threads)
    np.testing.assert_array_equal(o, a + 3.0 * b)


def test_each_thread_reads_its_own_slice(mem):
    # integers: the sum is exact, so a slice read twice or skipped shows
    n = 3 * 1000 + 5
    a = np.arange(n, dtype=np.float64)
    for t in (1, 2, 3, 4, 64, 100):
        assert mem.lpb_read(a.ctypes.data, None, n, t) == n * (n - 1) / 2
