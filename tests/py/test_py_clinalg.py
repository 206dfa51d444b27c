"""lampy.linalg on complex64 / complex128 matrices against NumPy: solve, inv, det, slogdet,
cholesky, eigh/eigvalsh, lstsq, qr (TSQR over row chunks), svd/svdvals, pinv, matrix_rank, norms
and cond, on single matrices and stacks, chunked, with 1 and 2 threads.

Tolerances are multiples of the dtype's eps (TOL below: 800 eps, 1.8e-13 for complex128 and
9.5e-5 for complex64, tighter than the real tests' 1e-9 / 1e-4). Factorizations that are unique
only up to a unitary diagonal (Q, R, U, Vh) are checked by their invariants: the product gives A
back, the factors are orthonormal, |R| and the singular values are NumPy's."""
import numpy as np
import pytest

import lampy as lp

CDTYPES = ["complex64", "complex128"]
CONFIGS = [dict(threads=1, chunk_bytes=4096), dict(threads=2, chunk_bytes=4096), dict(threads=2, chunk_bytes="8MiB")]
CONFIG_IDS = ["t1-4K", "t2-4K", "t2-8M"]


def tol(dt, k=800):
    return k * np.finfo(np.dtype(dt)).eps


def crand(shape, dt="complex128", seed=0):
    g = np.random.default_rng(seed)
    return (g.standard_normal(shape) + 1j * g.standard_normal(shape)).astype(dt)


def hpd(n, dt="complex128", seed=0, batch=()):
    """Hermitian positive definite (..., n, n), well conditioned"""
    a = crand(batch + (n, n), "complex128", seed)
    return (a @ np.conj(np.swapaxes(a, -1, -2)) + 2 * n * np.eye(n)).astype(dt)


def mH(x):
    return np.conj(np.swapaxes(x, -1, -2))


def check(got, want, rtol, atol=None):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    scale = np.abs(want).max() if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale if atol is None else atol)


def unitary_columns(q, t):
    g = mH(q) @ q
    np.testing.assert_allclose(g, np.broadcast_to(np.eye(g.shape[-1]), g.shape), rtol=0, atol=t)


@pytest.mark.parametrize("cfg", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("batch", [(), (3,), (2, 2)], ids=str)
@pytest.mark.parametrize("dt", CDTYPES)
def test_small_ops(dt, batch, cfg):
    a = hpd(5, dt, 1, batch)
    b = crand(batch + (5, 3), dt, 2)
    v = crand((5,), dt, 3)
    t = tol(dt)
    with lp.config(**cfg):
        A = lp.asarray(a)
        check(lp.linalg.solve(A, lp.asarray(b)).run(), np.linalg.solve(a, b), t)
        check(lp.linalg.solve(A, lp.asarray(v)).run(), np.linalg.solve(a, v), t)
        check(lp.linalg.inv(A).run(), np.linalg.inv(a), t)
        check(lp.linalg.det(A).run(), np.linalg.det(a), t)
        s, l = lp.linalg.slogdet(A)
        sn, ln = np.linalg.slogdet(a)
        check(s.run(), sn, t)
        check(l.run(), ln, t)
        check(lp.linalg.cholesky(A).run(), np.linalg.cholesky(a), t)
        check(lp.linalg.cholesky(A, upper=True).run(), np.linalg.cholesky(a, upper=True), t)
        w, V = lp.linalg.eigh(A)
        wn = np.linalg.eigvalsh(a)
        W, V = w.run(), V.run()
        check(W, wn, t)
        check(lp.linalg.eigvalsh(A).run(), wn, t)
        # UPLO='U' reads the upper triangle (conjugated into the lower one); the lower is ignored
        u = np.triu(a) + np.tril(crand(a.shape, dt, 9), -1)
        check(lp.linalg.eigvalsh(lp.asarray(u), UPLO="U").run(), np.linalg.eigvalsh(u, UPLO="U"), t)
        assert V.dtype == np.dtype(dt)
        np.testing.assert_allclose(a @ V, V * W[..., None, :], rtol=0, atol=t * np.abs(a).max())
        unitary_columns(V, t)
        # a general (non-Hermitian) matrix: det's complex sign and phase
        g = crand(batch + (4, 4), dt, 4)
        check(lp.linalg.det(lp.asarray(g)).run(), np.linalg.det(g), tol(dt, 2000))
        s, l = lp.linalg.slogdet(lp.asarray(g))
        sn, ln = np.linalg.slogdet(g)
        check(s.run(), sn, tol(dt, 2000))
        check(l.run(), ln, tol(dt, 2000))
        check(lp.linalg.inv(lp.asarray(g)).run(), np.linalg.inv(g), tol(dt, 4000))


def test_mixed_operand_types():
    # numpy.linalg's common type: complex64 with float64 is complex128, with float32 complex64
    a = hpd(4, "complex64", 5)
    for b, want in [(np.ones((4, 2)), "complex128"), (np.ones((4, 2), np.float32), "complex64"),
                    (np.ones((4, 2), np.int64), "complex128")]:
        got = lp.linalg.solve(lp.asarray(a), lp.asarray(b)).run()
        assert got.dtype == want == np.linalg.solve(a, b).dtype
        check(got, np.linalg.solve(a, b), tol(want))
    r = hpd(4, "complex128", 6).real
    got = lp.linalg.solve(lp.asarray(r), lp.asarray(crand((4,), "complex64", 7))).run()
    check(got, np.linalg.solve(r, crand((4,), "complex64", 7)), tol("complex128"))


@pytest.mark.parametrize("cfg", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("dt", CDTYPES)
def test_tall_qr_svd_over_row_chunks(dt, cfg):
    # 3000 x 6: complex128 is 288 KB, 70 chunks of 4 KiB, so TSQR combines many blocks
    a = crand((3000, 6), dt, 8)
    t = tol(dt)
    with lp.config(**cfg):
        A = lp.asarray(a)
        q, r = (x.run() for x in lp.linalg.qr(A))
        rr = lp.linalg.qr(A, mode="r").run()
        u, s, vh = (x.run() for x in lp.linalg.svd(A, full_matrices=False))
        sv = lp.linalg.svdvals(A).run()
        p = lp.linalg.pinv(A).run()
        rank = lp.linalg.matrix_rank(A).run()
    assert (q.dtype, r.dtype, u.dtype, s.dtype, vh.dtype) == (np.dtype(dt),) * 3 + (np.finfo(dt).dtype, np.dtype(dt))
    assert q.shape == (3000, 6) and r.shape == (6, 6) and u.shape == (3000, 6) and vh.shape == (6, 6)
    scale = np.abs(a).max()
    np.testing.assert_allclose(q @ r, a, rtol=0, atol=t * scale)
    unitary_columns(q, t)
    assert np.array_equal(r, np.triu(r)) and np.array_equal(rr, r)
    rn = np.linalg.qr(a, mode="r")
    np.testing.assert_allclose(np.abs(r), np.abs(rn), rtol=0, atol=t * np.abs(rn).max())
    sn = np.linalg.svd(a, compute_uv=False)
    check(s, sn, t)
    check(sv, sn, t)
    np.testing.assert_allclose((u * s) @ vh, a, rtol=0, atol=t * scale)
    unitary_columns(u, t)
    unitary_columns(mH(vh), t)
    check(p, np.linalg.pinv(a), t)
    assert rank.dtype == np.int64 and int(rank) == np.linalg.matrix_rank(a) == 6


@pytest.mark.parametrize("dt", CDTYPES)
def test_same_bits_for_one_and_two_threads(dt):
    a = crand((2000, 5), dt, 9)
    outs = []
    for threads in (1, 2):
        with lp.config(threads=threads, chunk_bytes=4096):
            A = lp.asarray(a)
            outs.append([x.run() for x in (*lp.linalg.qr(A), *lp.linalg.svd(A, full_matrices=False), lp.linalg.pinv(A))])
    for x, y in zip(*outs):
        assert x.dtype == y.dtype and np.array_equal(x, y)


@pytest.mark.parametrize("shape", [(3, 5, 4), (2, 3, 4, 6), (2, 5, 5), (7, 3), (3, 7), (2, 0, 3), (3, 4, 0), (600, 5)])
@pytest.mark.parametrize("cfg", CONFIGS[:2], ids=CONFIG_IDS[:2])
@pytest.mark.parametrize("dt", CDTYPES)
def test_stacks_complete_and_full(dt, cfg, shape):
    a = crand(shape, dt, len(shape) * 7 + shape[-1])
    t = tol(dt)
    atol = t * max(1.0, np.abs(a).max()) if a.size else t
    with lp.config(**cfg):
        la = lp.asarray(a)
        for mode in ["reduced", "complete"]:
            q, r = (x.run() for x in lp.linalg.qr(la, mode=mode))
            qn, rn = np.linalg.qr(a, mode=mode)
            assert (q.shape, r.shape, q.dtype, r.dtype) == (qn.shape, rn.shape, qn.dtype, rn.dtype), mode
            np.testing.assert_allclose(q @ r, a, rtol=0, atol=atol)
            unitary_columns(q, t)
            assert np.array_equal(r, np.triu(r))
            np.testing.assert_allclose(np.abs(r), np.abs(rn), rtol=0, atol=atol)
        for full in [False, True]:
            u, s, vh = (x.run() for x in lp.linalg.svd(la, full_matrices=full))
            un, sn, vhn = np.linalg.svd(a, full_matrices=full)
            assert (u.shape, s.shape, vh.shape) == (un.shape, sn.shape, vhn.shape)
            assert (u.dtype, s.dtype, vh.dtype) == (un.dtype, sn.dtype, vhn.dtype)
            np.testing.assert_allclose(s, sn, rtol=t, atol=atol)
            k = s.shape[-1]
            np.testing.assert_allclose((u[..., :k] * s[..., None, :]) @ vh[..., :k, :], a, rtol=0, atol=atol)
            unitary_columns(u, t)
            unitary_columns(mH(vh), t)
        check(lp.linalg.svdvals(la).run(), np.linalg.svdvals(a), t, atol)
        check(lp.linalg.pinv(la).run(), np.linalg.pinv(a), tol(dt, 4000), tol(dt, 4000))
        got, want = lp.linalg.matrix_rank(la).run(), np.linalg.matrix_rank(a)
        assert np.shape(got) == np.shape(want) and np.array_equal(got, want)


@pytest.mark.parametrize("dt", CDTYPES)
def test_rank_deficient_and_rtol(dt):
    a = crand((4, 6, 3), dt, 10)
    a[1, :, 2] = a[1, :, 0] * (2 - 1j)   # rank 2
    a[3] = 0                              # rank 0
    A = lp.asarray(a)
    assert np.array_equal(lp.linalg.matrix_rank(A).run(), np.linalg.matrix_rank(a))
    assert np.array_equal(lp.linalg.matrix_rank(A).run(), [3, 2, 3, 0])
    rtol = np.array([1e-3, 1e-3, 0.9, 1e-3])
    assert np.array_equal(lp.linalg.matrix_rank(A, rtol=lp.asarray(rtol)).run(), np.linalg.matrix_rank(a, rtol=rtol))
    check(lp.linalg.pinv(A, rtol=lp.asarray(rtol)).run(), np.linalg.pinv(a, rtol=rtol), tol(dt, 4000), tol(dt, 4000))
    # (the default rcond 1e-15 keeps the rank-2 matrix's rounding-level singular value: noise)
    check(lp.linalg.pinv(A[::2]).run(), np.linalg.pinv(a[::2]), tol(dt, 4000), tol(dt, 4000))


@pytest.mark.parametrize("dt", CDTYPES)
def test_norms(dt):
    x = crand((4, 5, 6), dt, 11)
    X = lp.asarray(x)
    t = tol(dt)
    for ord_ in [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]:
        check(lp.linalg.matrix_norm(X, ord=ord_ or "fro").run(), np.linalg.matrix_norm(x, ord=ord_ or "fro"), t)
        check(lp.linalg.matrix_norm(X, ord=ord_ or "fro", keepdims=True).run(),
              np.linalg.matrix_norm(x, ord=ord_ or "fro", keepdims=True), t)
    for ord_ in [2, 1, np.inf, -np.inf, 0, 3]:
        for axis in [None, 1, (0, 2)]:
            check(lp.linalg.vector_norm(X, ord=ord_, axis=axis).run(), np.linalg.vector_norm(x, ord=ord_, axis=axis), t)
    m, v = x[0], x[0, 0]
    for ord_ in [None, 1, -1, 2, np.inf, -np.inf]:
        check(lp.linalg.norm(lp.asarray(v), ord_).run(), np.linalg.norm(v, ord_), t)
        for axis in (0, 1):
            check(lp.linalg.norm(lp.asarray(m), ord_, axis=axis).run(), np.linalg.norm(m, ord_, axis=axis), t)
    for ord_ in [None, "fro", 1, -1, np.inf, -np.inf]:
        check(lp.linalg.norm(lp.asarray(m), ord_).run(), np.linalg.norm(m, ord_), t)
    sq = x[:, :5, :5]
    for p in [None, 2, -2, "fro", "nuc", 1, -1, np.inf, -np.inf]:
        check(lp.linalg.cond(lp.asarray(sq), p).run(), np.linalg.cond(sq, p), tol(dt, 2000))


@pytest.mark.parametrize("dt", CDTYPES)
def test_lstsq(dt):
    a, b, B = crand((40, 4), dt, 15), crand((40,), dt, 16), crand((40, 3), dt, 17)
    t = tol(dt, 2000)
    check(lp.linalg.lstsq(lp.asarray(a), lp.asarray(b)).run(), np.linalg.lstsq(a, b)[0], t)
    check(lp.linalg.lstsq(lp.asarray(a), lp.asarray(B), rcond=None).run(), np.linalg.lstsq(a, B, rcond=None)[0], t)
    w = crand((3, 6), dt, 18)   # wide: the minimum-norm solution
    check(lp.linalg.lstsq(lp.asarray(w), lp.asarray(B[:3])).run(), np.linalg.lstsq(w, B[:3])[0], t)


@pytest.mark.parametrize("dt", CDTYPES)
def test_errors_like_numpy(dt):
    sing = np.ones((3, 3), dt) * (1 + 2j)
    with pytest.raises(np.linalg.LinAlgError, match="Singular matrix"):
        lp.linalg.inv(lp.asarray(sing)).run()
    with pytest.raises(np.linalg.LinAlgError, match="Singular matrix"):
        lp.linalg.solve(lp.asarray(sing), lp.asarray(np.ones(3, dt))).run()
    s, l = lp.linalg.slogdet(lp.asarray(sing))
    sn, ln = np.linalg.slogdet(sing)
    assert s.run() == sn == 0 and l.run() == ln == -np.inf and np.asarray(l.run()).dtype == ln.dtype
    assert lp.linalg.det(lp.asarray(sing)).run() == 0
    not_pd = -hpd(3, dt, 12)
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        lp.linalg.cholesky(lp.asarray(not_pd)).run()
    nan = hpd(3, dt, 13)
    nan[1, 2] = complex(0, np.nan)
    with pytest.raises(np.linalg.LinAlgError, match="infs or NaNs"):
        lp.linalg.inv(lp.asarray(nan)).run()
    with pytest.raises(np.linalg.LinAlgError, match="SVD did not converge"):
        lp.linalg.svd(lp.asarray(nan)).S.run()
    with pytest.raises(np.linalg.LinAlgError, match="square"):
        lp.linalg.det(lp.asarray(np.ones((2, 3), dt)))


def test_complex_factors_in_the_cli(tmp_path):
    # (the graph-file round trip of this expression: test_py_factor_random.py)
    import subprocess
    from pathlib import Path
    cli = Path(__file__).resolve().parents[2] / "build" / "lampy"
    a = crand((40, 3), "complex128", 14)
    np.save(tmp_path / "a.npy", a)
    expr = "linalg.qr(a)[0] @ linalg.qr(a)[1] + linalg.pinv(a).T + linalg.slogdet(a[:3])[1]"
    out = tmp_path / "r.npy"
    r = subprocess.run([cli, "eval", expr, f"a={tmp_path / 'a.npy'}", "-o", out], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    want = a + np.linalg.pinv(a).T + np.linalg.slogdet(a[:3])[1]
    check(np.load(out), want, tol("complex128"))
