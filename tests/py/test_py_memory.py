"""No reference leaks: building and running many small expressions keeps memory flat."""
import gc
import os
import sys
import tracemalloc

import numpy as np
import pytest

import lampy as lp


# AddressSanitizer keeps freed memory in quarantine: RSS says nothing under it.
SANITIZED = "asan" in os.environ.get("LD_PRELOAD", "")


def rss_bytes():
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def small_expression(i, x):
    a = lp.asarray(x)                       # wraps NumPy memory (release callback)
    b = (a + i) * 2.5 - lp.arange(8.0)      # weak scalars, a creation node
    c = lp.where(b > 3, b, -b)[1:].reshape(7, 1)
    s = c.sum() + c.max(axis=0).mean()
    return s.run()


def build_only(i, x):
    a = lp.asarray(x)
    b = lp.exp(a[::2] * i).astype("float32") > a[::2]
    return repr(b.T)


@pytest.mark.parametrize("work", [small_expression, build_only])
def test_many_small_expressions_keep_memory_flat(work):
    x = np.arange(8.0)
    for i in range(500):  # warm up: caches, pools, arenas
        work(i, x)
    gc.collect()
    tracemalloc.start()
    snap0 = tracemalloc.take_snapshot()
    blocks0 = sys.getallocatedblocks()
    rss0 = rss_bytes()
    for i in range(10_000):
        work(i, x)
    gc.collect()
    snap1 = tracemalloc.take_snapshot()
    blocks1 = sys.getallocatedblocks()
    rss1 = rss_bytes()
    tracemalloc.stop()
    growth = sum(s.size_diff for s in snap1.compare_to(snap0, "filename"))
    assert growth < 64 * 1024, f"Python allocations grew by {growth} bytes"
    assert blocks1 - blocks0 < 500, f"{blocks1 - blocks0} more Python objects"
    # a leaked node or buffer per expression would be >= 10,000 * ~100 bytes
    if not SANITIZED:
        assert rss1 - rss0 < 8 * 1024 * 1024, f"RSS grew by {rss1 - rss0} bytes"


def test_wrapped_exporters_are_released():
    import weakref
    refs = []
    for i in range(200):
        x = np.arange(16.0) + i
        refs.append(weakref.ref(x))
        r = (lp.asarray(x) * 2).sum().run()
        assert r == (x * 2).sum()
    del x
    gc.collect()
    assert sum(ref() is not None for ref in refs) == 0


@pytest.mark.skipif(SANITIZED, reason="RSS is meaningless under ASan")
def test_results_release_their_buffers():
    import weakref
    a = lp.ones((1000, 100))
    r = a.run()
    base = r.base  # the lampy.ndarray (or memoryview of it) that owns the buffer
    assert base is not None
    del a, r
    gc.collect()
    rss0 = rss_bytes()
    for _ in range(50):
        (lp.ones((1000, 1000)) + 1).run()  # 8 MB each, freed each time
    gc.collect()
    assert rss_bytes() - rss0 < 64 * 1024 * 1024
