"""lampy.linalg.qr / svd / pinv / matrix_rank over many row chunks (TSQR), and the catalogue's
random integers, permutations and samples (lampy.random.randint / permutation / choice).

Factorizations are unique up to signs, so they are checked by what is invariant (Q @ R == A,
orthonormal factors, |R| and singular values equal to NumPy's). Random streams are Lampy's own
(counter-based Philox): they are never compared with NumPy's numbers, only checked for what
every correct sample satisfies, and for not depending on chunk sizes or threads."""
import subprocess
from pathlib import Path

import numpy as np
import pytest

import lampy as lp

CLI = Path(__file__).resolve().parents[2] / "build" / "lampy"
CONFIGS = [dict(threads=1, chunk_bytes=4096), dict(threads=2, chunk_bytes=65536), dict(threads=2, chunk_bytes="8MiB")]


def tall(m=20000, n=12, seed=0):
    return np.random.default_rng(seed).uniform(1, 2, (m, n))


@pytest.mark.parametrize("cfg", CONFIGS)
def test_tsqr_invariants(cfg):
    a = tall()
    with lp.config(**cfg):
        q, r = lp.linalg.qr(lp.asarray(a))
        Q, R = q.run(), r.run()
        S = lp.linalg.svd(lp.asarray(a), compute_uv=False).run()
        u, s, vt = lp.linalg.svd(lp.asarray(a), full_matrices=False)
        U, S2, Vt = u.run(), s.run(), vt.run()
    assert Q.shape == (20000, 12) and R.shape == (12, 12)
    np.testing.assert_allclose(Q @ R, a, rtol=1e-12, atol=0)
    np.testing.assert_allclose(Q.T @ Q, np.eye(12), rtol=0, atol=1e-13)
    assert np.array_equal(R, np.triu(R))
    Rn = np.linalg.qr(a, mode="r")
    np.testing.assert_allclose(np.abs(R), np.abs(Rn), rtol=1e-10, atol=1e-12 * np.abs(Rn).max())
    Sn = np.linalg.svd(a, compute_uv=False)
    np.testing.assert_allclose(S, Sn, rtol=1e-12, atol=0)
    np.testing.assert_allclose(S2, Sn, rtol=1e-12, atol=0)
    np.testing.assert_allclose((U * S2) @ Vt, a, rtol=1e-12, atol=0)
    np.testing.assert_allclose(U.T @ U, np.eye(12), rtol=0, atol=1e-13)


def test_pinv_rank_float32_and_wide():
    a = tall(3000, 5).astype(np.float32)
    with lp.config(chunk_bytes=8192):
        p = lp.linalg.pinv(lp.asarray(a)).run()
        assert p.dtype == np.float32
        np.testing.assert_allclose(p, np.linalg.pinv(a), rtol=1e-3, atol=1e-4 * np.abs(p).max())
        w = np.ascontiguousarray(tall(4, 300).T.T)
        np.testing.assert_allclose(lp.linalg.pinv(lp.asarray(w)).run(), np.linalg.pinv(w), rtol=1e-9, atol=1e-12)
        d = tall(500, 4)
        d[:, 3] = 2 * d[:, 1]
        assert int(lp.linalg.matrix_rank(lp.asarray(d)).run()) == np.linalg.matrix_rank(d) == 3


def orthonormal(q):
    g = np.swapaxes(q, -1, -2) @ q
    np.testing.assert_allclose(g, np.broadcast_to(np.eye(g.shape[-1]), g.shape), rtol=0, atol=1e-13)


@pytest.mark.parametrize("shape", [(3, 5, 4), (2, 3, 4, 6), (2, 5, 5), (7, 3), (3, 7), (2, 0, 3), (3, 4, 0), (600, 5)])
@pytest.mark.parametrize("cfg", CONFIGS[:2])
def test_stacks_complete_and_full(shape, cfg):
    # stacks (..., M, N): one geqrf/gesdd per matrix; mode='complete' and full_matrices=True
    # from one complete QR per matrix. Checked by the invariants and NumPy's shapes and values.
    a = np.random.default_rng(len(shape) * 7 + shape[-1]).standard_normal(shape)
    with lp.config(**cfg):
        la = lp.asarray(a)
        for mode in ["reduced", "complete"]:
            q, r = (x.run() for x in lp.linalg.qr(la, mode=mode))
            qn, rn = np.linalg.qr(a, mode=mode)
            assert q.shape == qn.shape and r.shape == rn.shape, (mode, q.shape, qn.shape, r.shape, rn.shape)
            np.testing.assert_allclose(q @ r, a, rtol=0, atol=1e-12)
            orthonormal(q)
            assert np.array_equal(r, np.triu(r))
            np.testing.assert_allclose(np.abs(r), np.abs(rn), rtol=1e-10, atol=1e-12)
        for full in [False, True]:
            u, s, vt = (x.run() for x in lp.linalg.svd(la, full_matrices=full))
            un, sn, vtn = np.linalg.svd(a, full_matrices=full)
            assert (u.shape, s.shape, vt.shape) == (un.shape, sn.shape, vtn.shape)
            np.testing.assert_allclose(s, sn, rtol=1e-12, atol=1e-13)
            k = s.shape[-1]
            np.testing.assert_allclose((u[..., :k] * s[..., None, :]) @ vt[..., :k, :], a, rtol=0, atol=1e-12)
            orthonormal(u)
            orthonormal(np.swapaxes(vt, -1, -2))
        np.testing.assert_allclose(lp.linalg.svdvals(la).run(), np.linalg.svdvals(a), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(lp.linalg.pinv(la).run(), np.linalg.pinv(a), rtol=1e-9, atol=1e-11)
        got, want = lp.linalg.matrix_rank(la).run(), np.linalg.matrix_rank(a)
        assert np.shape(got) == np.shape(want) and np.array_equal(got, want)


def test_stack_rank_and_pinv_with_rtol():
    a = np.random.default_rng(5).standard_normal((4, 6, 3))
    a[1, :, 2] = a[1, :, 0] * 2        # rank 2
    a[3] = 0                           # rank 0
    rtol = np.array([1e-12, 1e-12, 0.9, 1e-3])
    got = lp.linalg.matrix_rank(lp.asarray(a), rtol=lp.asarray(rtol)).run()
    assert np.array_equal(got, np.linalg.matrix_rank(a, rtol=rtol))
    assert np.array_equal(lp.linalg.matrix_rank(lp.asarray(a)).run(), [3, 2, 3, 0])
    np.testing.assert_allclose(lp.linalg.pinv(lp.asarray(a), rtol=lp.asarray(rtol)).run(), np.linalg.pinv(a, rtol=rtol),
                               rtol=1e-9, atol=1e-11)


def test_complete_qr_of_a_chunked_tall_matrix():
    a = tall(3000, 7)
    with lp.config(chunk_bytes=8192):
        q, r = (x.run() for x in lp.linalg.qr(lp.asarray(a), mode="complete"))
        u, s, vt = (x.run() for x in lp.linalg.svd(lp.asarray(a).T))
    assert q.shape == (3000, 3000) and r.shape == (3000, 7) and u.shape == (7, 7) and vt.shape == (3000, 3000)
    np.testing.assert_allclose(q @ r, a, rtol=0, atol=1e-12)
    assert not r[7:].any()
    orthonormal(q[:, :40])
    np.testing.assert_allclose(q[:, 7:].T @ a, 0, atol=1e-12)
    np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), rtol=1e-12)
    np.testing.assert_allclose((u * s) @ vt[:7], a.T, rtol=0, atol=1e-12)


@pytest.mark.parametrize("a,expr", [
    (tall(40, 3), "linalg.qr(a, mode='complete')[0] @ linalg.qr(a, mode='complete')[1]"),
    (tall(40, 3) + 1j * tall(40, 3, seed=1), "linalg.qr(a)[0] @ linalg.qr(a)[1] + linalg.pinv(a).T + linalg.slogdet(a[:3])[1]"),
], ids=["complete", "complex"])
def test_factors_in_a_graph_file(tmp_path, a, expr):
    # the graph format has no flag for a complete factor: its declared shape tells it; a complex
    # factor's node names its dtype and is rebuilt by the same builders
    np.save(tmp_path / "a.npy", a)
    g = tmp_path / "g.json"
    p = subprocess.run([CLI, "graph", expr, f"a={tmp_path / 'a.npy'}", "--json", "-o", g], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    again = subprocess.run([CLI, "graph", g, "--json"], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert again.stdout == g.read_text()


def test_factor_errors():
    a = lp.asarray(tall(50, 3))
    with pytest.raises(ValueError, match="Unrecognized mode 'raw2'"):
        lp.linalg.qr(a, mode="raw2")
    with pytest.raises(np.linalg.LinAlgError, match="1-dimensional array given"):
        lp.linalg.qr(lp.asarray(np.ones(3)))
    # a square matrix: full_matrices does not matter
    sq = tall(6, 6)
    np.testing.assert_allclose(lp.linalg.svd(lp.asarray(sq))[1].run(), np.linalg.svd(sq)[1], rtol=1e-12)


def runs(fn):
    """fn() under every configuration: the values must be the same bits."""
    outs = []
    for cfg in CONFIGS:
        with lp.config(**cfg):
            outs.append(np.asarray(fn().run()))
    for o in outs[1:]:
        assert o.dtype == outs[0].dtype and np.array_equal(o, outs[0])
    return outs[0]


def test_randint():
    r = runs(lambda: lp.random.randint(-3, 7, size=(300, 70), seed=11))
    assert r.dtype == np.int64 and r.shape == (300, 70)
    assert r.min() == -3 and r.max() == 6 and set(np.unique(r)) == set(range(-3, 7))
    assert 0.05 < (r == 0).mean() < 0.15
    r32 = runs(lambda: lp.random.randint(5, size=1000, dtype="int32", seed=1))
    assert r32.dtype == np.int32 and set(np.unique(r32)) == set(range(5))
    big = runs(lambda: lp.random.randint(-2**63, 2**63 - 1, size=4000, seed=2))
    assert (big < 0).any() and (big > 2**62).any() and len(np.unique(big)) == 4000
    assert not np.array_equal(lp.random.randint(100, size=50, seed=1).run(), lp.random.randint(100, size=50, seed=2).run())
    # the same seed, another shape: the same stream, element by element
    assert np.array_equal(lp.random.randint(100, size=(10, 5), seed=4).run().ravel(),
                          lp.random.randint(100, size=50, seed=4).run())
    b = lp.random.randint(2, size=200, dtype="bool", seed=3).run()
    assert b.dtype == np.bool_ and b.any() and not b.all()


@pytest.mark.parametrize("call,msg", [
    (lambda: lp.random.randint(0), "high <= 0"),
    (lambda: lp.random.randint(5, 5), "low >= high"),
    (lambda: lp.random.randint(0, 2**40, dtype="int32"), "high is out of bounds for int32"),
    (lambda: lp.random.choice(0, 3), "a must be greater than 0 unless no samples are taken"),
    (lambda: lp.random.choice(np.zeros((2, 2)), 3), "a must be 1-dimensional"),
    (lambda: lp.random.choice(5, 3, p=[0.5, 0.5]), "'a' and 'p' must have same size"),
    (lambda: lp.random.choice(3, 3, p=[0.5, 0.6, -0.1]), "probabilities are not non-negative"),
    (lambda: lp.random.choice(3, 3, p=[0.5, 0.6, 0.1]), "probabilities do not sum to 1"),
    (lambda: lp.random.choice(3, 5, replace=False), "Cannot take a larger sample than population"),
    (lambda: lp.random.choice(3, 2, replace=False, p=[1, 0, 0]), "Fewer non-zero entries in p than size"),
])
def test_random_errors_like_numpy(call, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(")):
        call()


def test_randint_float_dtype_is_a_type_error():
    with pytest.raises(TypeError, match="Unsupported dtype"):
        lp.random.randint(0, 5, dtype="float64")


def test_permutation():
    n = 100003
    p = runs(lambda: lp.random.permutation(n, seed=7))
    assert p.dtype == np.int64 and np.array_equal(np.sort(p), np.arange(n))
    assert (p != np.arange(n)).mean() > 0.99
    x = np.arange(60.0).reshape(20, 3)
    px = runs(lambda: lp.random.permutation(x, seed=3))
    order = np.argsort(px[:, 0])
    assert np.array_equal(px[order], x) and not np.array_equal(px, x)
    with pytest.raises(IndexError, match="at least 1-dimensional"):
        lp.random.permutation(np.array(5.0))


def test_choice():
    a = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    c = runs(lambda: lp.random.choice(a, (400, 30), seed=5))
    assert c.shape == (400, 30) and set(np.unique(c)) == set(a)
    k = runs(lambda: lp.random.choice(1000, 600, replace=False, seed=5))
    assert len(np.unique(k)) == 600 and k.min() >= 0 and k.max() < 1000
    p = [0.1, 0.0, 0.6, 0.3, 0.0]
    w = runs(lambda: lp.random.choice(a, 20000, p=p, seed=8))
    assert set(np.unique(w)) == {10.0, 30.0, 40.0}
    freq = np.array([(w == v).mean() for v in a])
    assert np.all(np.abs(freq - p) < 0.02)
    nr = runs(lambda: lp.random.choice(a, 3, replace=False, p=p, seed=9))
    assert sorted(nr) == [10.0, 30.0, 40.0]
    s = lp.random.choice(5, seed=1).run()
    assert s.shape == () and 0 <= int(s) < 5


def test_cli_same_numbers():
    out = subprocess.run([str(CLI), "eval", "random.randint(0, 1000, size=7, seed=5)", "--chunk-bytes", "256", "--threads", "2"],
                         capture_output=True, text=True, check=True).stdout
    got = np.array(out.strip().strip("[]").split(), dtype=np.int64)
    assert np.array_equal(got, lp.random.randint(0, 1000, size=7, seed=5).run())
