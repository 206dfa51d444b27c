"""lp.while_loop / lp.fori_loop against plain Python + NumPy loops: 0, 1 and 10,000
iterations, conditions on reductions, nesting, carried dtypes and structures, threads and
chunk sizes, graph files (dump -> load -> run, lampy run), errors, and flat memory."""
import os
import subprocess
import sys

import numpy as np
import pytest

import lampy as lp

LAMPY = os.environ.get("LAMPY_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "lampy"))


def test_while_scalar_and_counter():
    x, n = lp.while_loop(lambda s: s[0] < 100, lambda s: (s[0] * 3, s[1] + 1), (1.0, 0))
    assert lp.compute(x, n) == (243.0, 5)
    assert x.dtype == np.float64 and n.dtype == np.int64


@pytest.mark.parametrize("lo,hi", [(0, 0), (5, 2), (3, 4), (-5, 9995)])
def test_fori_iteration_counts(lo, hi):
    got = lp.fori_loop(lo, hi, lambda i, s: s + i, 7).run()
    assert got == 7 + sum(range(lo, hi))


def test_ten_thousand_iterations_over_a_vector():
    v0 = np.linspace(0, 1, 64)
    got = lp.fori_loop(0, 10_000, lambda i, v: v * 0.999 + 0.001, v0).run()
    want = v0.copy()
    for _ in range(10_000):
        want = want * 0.999 + 0.001
    np.testing.assert_array_equal(got, want)


def test_while_condition_on_a_reduction():
    x = np.random.default_rng(1).random(200_000)
    got = lp.while_loop(lambda v: v.sum() > 10.0, lambda v: v * 0.75, x)
    want = x.copy()
    while lp.asarray(want).sum().run() > 10.0:   # Lampy's own sum decides, as the loop does
        want = want * 0.75
    np.testing.assert_array_equal(got.run(), want)
    assert want.sum() <= 10.0 < (want / 0.75).sum()


def test_nested_loops():
    def outer(i, acc):
        return lp.while_loop(lambda a: a < 10 * (i + 1), lambda a: a + 3, acc)
    got = lp.fori_loop(0, 4, outer, 0).run()
    want = 0
    for i in range(4):
        while want < 10 * (i + 1):
            want += 3
    assert got == want
    # an inner fori whose bounds are the outer index (a traced bound: a while_loop inside)
    got = lp.fori_loop(0, 6, lambda i, x: lp.fori_loop(i, 2 * i, lambda j, y: y + i * j, x), 0).run()
    assert got == sum(i * j for i in range(6) for j in range(i, 2 * i))


def test_carried_dtypes_and_structures():
    init = {"f32": np.full(5, 1.5, np.float32), "i32": np.arange(5, dtype=np.int32),
            "b": np.zeros(3, bool), "pair": (np.float64(2.0), np.int64(-1))}

    def body(i, s):
        return {"f32": s["f32"] * i, "i32": s["i32"] + 2, "b": ~s["b"],
                "pair": (s["pair"][0] / 2, s["pair"][1] - i)}
    out = lp.fori_loop(1, 4, body, init)
    vals = dict(zip(["f32", "i32", "b"], lp.compute(out["f32"], out["i32"], out["b"])))
    assert vals["f32"].dtype == np.float32          # the index is weak, like a Python int
    np.testing.assert_array_equal(vals["f32"], np.full(5, 1.5 * 1 * 2 * 3, np.float32))
    np.testing.assert_array_equal(vals["i32"], np.arange(5, dtype=np.int32) + 6)
    assert vals["i32"].dtype == np.int32
    np.testing.assert_array_equal(vals["b"], np.ones(3, bool))
    assert lp.compute(*out["pair"]) == (0.25, -7)


def test_values_from_outside_the_loop():
    a = np.random.default_rng(2).normal(size=1000)
    w = lp.exp(lp.asarray(a)) * 2          # computed once, before the first iteration
    got = lp.fori_loop(0, 5, lambda i, x: x + w * i, np.zeros(1000)).run()
    want = np.zeros(1000)
    ew = lp.exp(lp.asarray(a)).run() * 2
    for i in range(5):
        want = want + ew * i
    np.testing.assert_array_equal(got, want)


def power_iteration(threads, chunk_bytes):
    with lp.config(threads=threads, chunk_bytes=chunk_bytes):
        X = lp.asarray(np.random.default_rng(5).standard_normal((20_000, 12)))
        v, k = lp.while_loop(lambda s: s[1] < 20,
                             lambda s: ((X.T @ (X @ s[0])) / lp.sqrt(((X.T @ (X @ s[0])) ** 2).sum()), s[1] + 1),
                             (np.ones(12), 0))
        return v.run()


def test_threads_never_change_bits_and_chunks_only_rounding():
    for chunk in [0, 64 << 10, 1 << 20]:
        r1, r2 = power_iteration(1, chunk), power_iteration(2, chunk)
        assert r1.tobytes() == r2.tobytes(), f"1 and 2 threads differ at chunk_bytes={chunk}"
    np.testing.assert_allclose(power_iteration(2, 64 << 10), power_iteration(1, 0), rtol=1e-12, atol=1e-14)


def test_elementwise_loop_same_bits_for_every_chunking():
    x = np.random.default_rng(3).random(100_000)
    outs = []
    for threads, chunk in [(1, 0), (2, 0), (2, 16 << 10), (1, 256 << 10)]:
        with lp.config(threads=threads, chunk_bytes=chunk):
            outs.append(lp.fori_loop(0, 50, lambda i, v: lp.sqrt(v * v + i) - 0.5 * v, x).run())
    for o in outs[1:]:
        assert o.tobytes() == outs[0].tobytes()


def build_graph():
    X = lp.asarray(np.random.default_rng(7).normal(size=(500, 4)))
    c0 = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])

    def body(i, s):
        v, acc = s
        w = v * 0.5 + lp.exp(X[:2] * 0.01) * i
        inner = lp.while_loop(lambda a: a < w.sum(), lambda a: a * 2 + 1, acc, max_iter=50, last_state=True)
        return (w, inner)
    return lp.fori_loop(1, 6, body, (c0, 0.0))


def test_graph_round_trip_same_bits(tmp_path):
    v, acc = build_graph()
    path = tmp_path / "g.json"
    lp.dump_graph([v, acc], path, data_dir=tmp_path / "data")
    g = lp.load_graph(path)
    assert len(g) == 2 and isinstance(g, lp.Graph)
    got = g.run()
    want = lp.compute(v, acc)
    for a, b in zip(got, want):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    # loading and dumping again gives the same document
    assert lp.load_graph(path).dumps() == path.read_text()
    # and through the command line
    out = tmp_path / "out"
    r = subprocess.run([LAMPY, "run", str(path), "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert np.load(out / "target0.npy").tobytes() == np.asarray(want[0]).tobytes()
    assert np.load(out / "target1.npy").tobytes() == np.asarray(want[1]).tobytes()
    # a graph without loops is still written as version 1
    assert '"version": 1' in lp.Graph([lp.ones(3) + 1]).dumps()


def test_dot_draws_loops():
    v, acc = build_graph()
    dot = lp.to_dot(v, acc)
    assert "cluster_L" in dot and "body" in dot and "cond" in dot and "next 0" in dot


def test_build_errors():
    with pytest.raises(TypeError, match="body output 0 has dtype float32, carried state is float64"):
        lp.while_loop(lambda x: x.sum() > 0, lambda x: x.astype("float32"), np.ones(3))
    with pytest.raises(ValueError, match=r"body output 0 has shape \(4,\), carried state has shape \(3,\)"):
        lp.fori_loop(0, 2, lambda i, x: lp.concatenate([x, x[:1]]), np.ones(3))
    with pytest.raises(TypeError, match="cond must return a boolean scalar"):
        lp.while_loop(lambda x: x > 0, lambda x: x - 1, np.ones(3))
    with pytest.raises(TypeError, match="structure of init_val"):
        lp.fori_loop(0, 2, lambda i, s: s[0], (1.0, 2.0))
    with pytest.raises(ValueError, match="no value outside its loop"):
        leaked = []
        lp.fori_loop(0, 2, lambda i, x: leaked.append(x) or x + 1, 1.0)
        (leaked[0] * 2).run()


def test_max_iter():
    with pytest.raises(RuntimeError, match=r"max_iter \(10\) reached"):
        lp.while_loop(lambda x: x > 0, lambda x: x + 1, 1, max_iter=10).run()
    assert lp.while_loop(lambda x: x > 0, lambda x: x + 1, 1, max_iter=10, last_state=True).run() == 11


def test_failure_inside_an_iteration_says_which():
    with pytest.raises(np.linalg.LinAlgError, match="fori_loop iteration 2: .*Singular matrix"):
        # inv(I) = I, then I * 0, then inv(0): singular in iteration 2
        lp.fori_loop(0, 5, lambda i, m: lp.linalg.inv(m) * lp.where(i == 1, 0.0, 1.0), np.eye(2)).run()


MEMORY_SCRIPT = """
import resource, sys
import numpy as np
import lampy as lp
n = int(sys.argv[1])
v = lp.fori_loop(0, n, lambda i, v: v * 0.5 + 1.0, np.zeros(1 << 20)).run()
assert v[0] == 2.0 - 2.0 ** (1 - n) if n < 60 else v[0] == 2.0
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_memory_flat_over_iterations():
    """8 MiB carried through 2,000 iterations peaks like 20 iterations: each iteration's
    chunks and the previous state are freed as the next one runs."""
    def peak(n):
        r = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(n)], capture_output=True, text=True,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert r.returncode == 0, r.stderr
        return int(r.stdout.strip()) * 1024
    small, large = peak(20), peak(2000)
    assert large - small < 24 << 20, f"peak RSS grew by {(large - small) >> 20} MiB over 1,980 more iterations"
