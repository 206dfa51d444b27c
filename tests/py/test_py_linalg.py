"""Products (@, matmul, dot, outer, tensordot) and lampy.linalg against NumPy."""
import numpy as np
import pytest

import lampy as lp



def rand(shape, dtype="float64", seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def spd(n, seed=0, batch=()):
    a = rand(batch + (n, n), seed=seed)
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def close(lazy, expect, rtol=1e-9, atol=1e-9):
    assert isinstance(lazy, lp.Array)
    got = np.asarray(lazy.run())
    expect = np.asarray(expect)
    assert got.shape == expect.shape, (got.shape, expect.shape)
    assert got.dtype == expect.dtype, (got.dtype, expect.dtype)
    np.testing.assert_allclose(got, expect, rtol=rtol, atol=atol)


MATMUL_SHAPES = [((3, 4), (4, 5)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)),
                 ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((130, 70), (70, 90))]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("dt", ["float64", "float32", "int64"])
def test_matmul(sa, sb, dt):
    x, y = rand(sa, seed=1), rand(sb, seed=2)
    if dt == "int64":
        x, y = (x * 3).astype(dt), (y * 3).astype(dt)
    else:
        x, y = x.astype(dt), y.astype(dt)
    tol = dict(rtol=1e-4, atol=1e-4) if dt == "float32" else {}
    a, b = lp.asarray(x, chunks=2), lp.asarray(y)
    close(a @ b, x @ y, **tol)
    close(lp.matmul(x, y), x @ y, **tol)
    close(x @ b, x @ y, **tol)     # NumPy on the left
    close(np.matmul(a, y), x @ y, **tol)
    close(a.T.T @ b, x @ y, **tol)


def test_matmul_errors():
    with pytest.raises(ValueError):
        lp.zeros((3, 4)) @ lp.zeros((5, 2))
    with pytest.raises(ValueError):
        lp.zeros(()) @ lp.zeros((2, 2))


def test_gram_matrix():
    x = rand((500, 6), seed=3)
    a = lp.asarray(x, chunks=(64, 6))
    close(a.T @ a, x.T @ x)


def test_dot_outer_tensordot():
    x, y = rand((3, 4), seed=4), rand((4, 5), seed=5)
    close(lp.dot(x, y), np.dot(x, y))
    close(lp.dot(x[0], y[:, 0]), np.dot(x[0], y[:, 0]))
    x3, y2 = rand((2, 3, 4), seed=16), rand((4, 2), seed=17)
    close(lp.dot(x3, y2), np.dot(x3, y2))
    close(lp.outer(x[0], y[0]), np.outer(x[0], y[0]))
    t1, t2 = rand((3, 4, 5), seed=6), rand((4, 5, 2), seed=7)
    close(lp.tensordot(t1, t2), np.tensordot(t1, t2))
    t3 = rand((5, 2), seed=8)
    close(lp.tensordot(t1, t3, axes=1), np.tensordot(t1, t3, axes=1))
    close(lp.tensordot(t1, t2, axes=([1, 2], [0, 1])), np.tensordot(t1, t2, axes=([1, 2], [0, 1])))
    close(lp.tensordot(t1, t2, axes=0), np.tensordot(t1, t2, axes=0))


@pytest.mark.parametrize("batch", [(), (3,)], ids=str)
def test_solve_inv_det(batch):
    a = spd(5, 1, batch)
    b = rand(batch + (5, 2), seed=9)
    close(lp.linalg.solve(a, b), np.linalg.solve(a, b))
    v = rand((5,), seed=10)
    close(lp.linalg.solve(a, v), np.linalg.solve(a, v))
    close(lp.linalg.inv(a), np.linalg.inv(a))
    close(lp.linalg.det(a), np.linalg.det(a), rtol=1e-8)
    s, l = lp.linalg.slogdet(a)
    es, el = np.linalg.slogdet(a)
    close(s, es)
    close(l, el)
    close(lp.linalg.cholesky(a), np.linalg.cholesky(a))


def test_eigh():
    a = spd(6, 2)
    w, v = lp.linalg.eigh(a)
    ew = np.linalg.eigvalsh(a)
    close(w, ew)
    close(lp.linalg.eigvalsh(a), ew)
    V = v.run()
    np.testing.assert_allclose(a @ V, V * ew, atol=1e-8)
    # UPLO='U' reads the upper triangle: the lower one is ignored (here: garbage)
    u = np.triu(a) + np.tril(rand((6, 6), seed=3), -1)
    wu, vu = lp.linalg.eigh(u, UPLO="U")
    close(wu, np.linalg.eigh(u, UPLO="U").eigenvalues)
    close(lp.linalg.eigvalsh(u, UPLO="U"), np.linalg.eigvalsh(u, UPLO="U"))
    np.testing.assert_allclose(a @ vu.run(), vu.run() * ew, atol=1e-8)
    with pytest.raises(ValueError, match="UPLO"):
        lp.linalg.eigh(a, UPLO="X")


def test_lstsq_and_norm():
    a, b = rand((20, 4), seed=11), rand((20,), seed=12)
    close(lp.linalg.lstsq(a, b), np.linalg.lstsq(a, b)[0])
    B = rand((20, 3), seed=13)
    close(lp.linalg.lstsq(a, B, rcond=None), np.linalg.lstsq(a, B, rcond=None)[0])
    v = rand((7,), seed=14)
    for ord_ in [None, 1, -1, 2, -2, np.inf, -np.inf, 0, 3, 0.5, -3]:
        close(lp.linalg.norm(v, ord_), np.linalg.norm(v, ord_))
    m = rand((5, 4), seed=15)
    for ord_ in [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]:
        close(lp.linalg.norm(m, ord_), np.linalg.norm(m, ord_))
    with pytest.raises(ValueError, match="Invalid norm order for matrices"):
        lp.linalg.norm(m, 3)
    for ord_ in [None, 1, -1, 2, np.inf, -np.inf, 0, 3]:
        for axis in (0, 1, -1):
            close(lp.linalg.norm(m, ord_, axis=axis), np.linalg.norm(m, ord_, axis=axis))
        close(lp.linalg.norm(m, ord_, axis=1, keepdims=True), np.linalg.norm(m, ord_, axis=1, keepdims=True))
    with pytest.raises(ValueError):
        lp.linalg.norm(m, "fro", axis=0)
    with pytest.raises(np.exceptions.AxisError):
        lp.linalg.norm(m, axis=2)


def test_norm_axis_pairs_and_keepdims():
    """numpy.linalg.norm over an axis pair (a stack of matrix norms, in either order of the pair),
    and keepdims with or without an axis"""
    x = rand((3, 4, 5), seed=16)
    for ord_ in [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]:
        for axis in [(0, 2), (2, 0), (-1, 1)]:
            close(lp.linalg.norm(x, ord_, axis=axis), np.linalg.norm(x, ord_, axis=axis))
            close(lp.linalg.norm(x, ord_, axis=axis, keepdims=True), np.linalg.norm(x, ord_, axis=axis, keepdims=True))
    close(lp.linalg.norm(x), np.linalg.norm(x))
    close(lp.linalg.norm(x, keepdims=True), np.linalg.norm(x, keepdims=True))
    close(lp.linalg.norm(np.arange(12).reshape(3, 4), 1), np.linalg.norm(np.arange(12).reshape(3, 4), 1))
    for kw, msg in [(dict(axis=(0, 0)), "Duplicate axes"), (dict(axis=(0, 1, 2)), "Improper number"),
                    (dict(ord=2), "Improper number"), (dict(ord="x", axis=(0, 1)), "Invalid norm order for matrices")]:
        with pytest.raises(ValueError, match=msg):
            lp.linalg.norm(x, **kw)


def test_linalg_errors():
    sing = np.ones((3, 3))
    with pytest.raises(np.linalg.LinAlgError):
        lp.linalg.inv(sing).run()
    with pytest.raises(np.linalg.LinAlgError):
        lp.linalg.solve(sing, np.ones(3)).run()
    with pytest.raises(np.linalg.LinAlgError):
        lp.linalg.cholesky(-np.eye(3)).run()
    with pytest.raises((ValueError, np.linalg.LinAlgError)):
        lp.linalg.inv(np.ones((2, 3)))
    assert issubclass(lp.linalg.LinAlgError, Exception)


def same_set(w, wn, tol):
    """The same eigenvalues per matrix, in any order (each one's distance to the other set)."""
    d = np.abs(w[..., :, None] - wn[..., None, :])
    assert w.shape == wn.shape
    if w.size == 0:
        return
    assert (d.min(axis=-1) <= tol * (1 + np.abs(w))).all() and (d.min(axis=-2) <= tol * (1 + np.abs(wn))).all(), (w, wn)


@pytest.mark.parametrize("a", [
    rand((5, 5)), np.triu(rand((4, 4), seed=1)), rand((3, 4, 4), "float32", seed=2), np.array([[0.0, -1.0], [1.0, 0.0]]),
    rand((3, 3), seed=3) + 1j * rand((3, 3), seed=4), rand((2, 3, 3), seed=5).astype(np.complex64), np.zeros((0, 0)),
    np.eye(3, dtype=np.int64), np.diag([3.0, 1.0, 2.0]),
], ids=lambda a: f"{a.dtype}{a.shape}")
def test_eig(a):
    # NumPy's result dtype: complex only when an eigenvalue is (a real matrix), its precision
    # from the input's; eigenvalues compared sorted, eigenvectors by A v = v diag(w) and unit norm
    w, v = lp.linalg.eig(lp.asarray(a))
    assert isinstance(w, lp.Array) and isinstance(v, lp.Array)
    w, v = w.run(), v.run()
    wn, vn = np.linalg.eig(a)
    assert (w.dtype, v.dtype, w.shape, v.shape) == (wn.dtype, vn.dtype, wn.shape, vn.shape)
    tol = 1e-4 if w.dtype in (np.complex64, np.float32) else 1e-10
    same_set(w, wn, tol)
    np.testing.assert_allclose(a @ v, v * w[..., None, :], rtol=tol, atol=tol)
    np.testing.assert_allclose(np.linalg.norm(v, axis=-2), np.ones(w.shape), rtol=tol, atol=tol)
    ev = lp.linalg.eigvals(lp.asarray(a)).run()
    assert ev.dtype == wn.dtype
    same_set(ev, wn, tol)
    assert lp.linalg.eig(a).eigenvalues.dtype == wn.dtype


def test_eig_graph_round_trip(tmp_path):
    # the packed eig node has no attributes; a graph file (and so an orchestrated run, which
    # ships the graph) carries it and the slices taken from it
    a = rand((4, 4), seed=7)
    w, v = lp.linalg.eig(lp.asarray(a))
    lp.dump_graph([w, v], tmp_path / "g.json")
    w2, v2 = lp.load_graph(tmp_path / "g.json").run()
    np.testing.assert_array_equal(w2, w.run())
    np.testing.assert_array_equal(v2, v.run())
    same_set(w2, np.linalg.eigvals(a), 1e-10)


def test_eig_errors():
    for a, err, msg in [(np.ones(3), np.linalg.LinAlgError, "at least two-dimensional"),
                        (np.ones((2, 3)), np.linalg.LinAlgError, "square"),
                        (np.array([[1.0, np.nan], [0.0, 1.0]]), np.linalg.LinAlgError, "infs or NaNs")]:
        with pytest.raises(err, match=msg):
            np.linalg.eig(a)
        with pytest.raises(err, match=msg):
            lp.linalg.eig(lp.asarray(a))
