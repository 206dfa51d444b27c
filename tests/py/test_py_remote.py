"""Python on the lambda executor: `lampy store` and two `lampy worker` processes on 127.0.0.1,
driven through lp.config(executor="lambda", ...). Skipped when the CLI is not built."""
import os
import select
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import lampy as lp

ROOT = Path(__file__).resolve().parents[2]
LAMPY = Path(os.environ.get("LAMPY_BIN", ROOT / "build" / "lampy"))


def start(args, tmp_path, name):
    err = open(tmp_path / f"{name}.stderr", "w+")
    p = subprocess.Popen([str(LAMPY), *args], stdout=subprocess.PIPE, stderr=err, text=True)
    deadline = time.monotonic() + 20
    line = ""
    while time.monotonic() < deadline:
        r, _, _ = select.select([p.stdout], [], [], 0.2)
        if r:
            line = p.stdout.readline()
            if "listening on " in line:
                return p, line.split("listening on ", 1)[1].strip()
        if p.poll() is not None:
            break
    p.kill()
    err.seek(0)
    pytest.fail(f"lampy {args[0]} did not start: {line!r} {err.read()}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("remote")
    procs = []
    try:
        store, store_url = start(["store", "--dir", str(tmp / "chunks"), "--port", "0"], tmp, "store")
        procs.append(store)
        urls = []
        for i in range(2):
            # load tasks read the tests' temp files; the store is the one started above
            w, url = start(["worker", "--port", "0", "--allow-store", store_url,
                            "--load-dir", str(tmp_path_factory.getbasetemp()),
                            "--write-dir", str(tmp_path_factory.getbasetemp())], tmp, f"worker{i}")
            procs.append(w)
            urls.append(url)
        yield {"store": store_url, "workers": urls, "dir": tmp}
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def test_expressions_on_workers(cluster, tmp_path):
    x = np.random.default_rng(0).standard_normal((3000, 6))
    np.save(tmp_path / "x.npy", x)
    with lp.config(executor="lambda", workers=cluster["workers"], store=cluster["store"],
                   chunk_bytes="32KiB"):
        a = lp.load(tmp_path / "x.npy")
        s, m = lp.compute((a * 2 + 1).sum(axis=0), lp.exp(a[::3]).max())
        np.testing.assert_allclose(s, (x * 2 + 1).sum(axis=0), rtol=1e-10)
        np.testing.assert_allclose(m, np.exp(x[::3]).max(), rtol=1e-12)
        r = lp.random.default_rng(5).normal(size=(2000, 3)).std(axis=0).run()
        assert r.shape == (3,) and np.all(np.abs(r - 1) < 0.1)
        small = lp.asarray(np.arange(10.0))  # in-memory data travels with the tasks
        np.testing.assert_allclose((small * 3).run(), np.arange(10.0) * 3)
    local = (lp.load(tmp_path / "x.npy") * 2 + 1).sum(axis=0).run()
    np.testing.assert_allclose(local, (x * 2 + 1).sum(axis=0), rtol=1e-10)


def test_median_and_quantiles_on_workers(cluster, tmp_path):
    # the selection's two levels (histograms, then the gather and select) travel as tasks
    x = np.random.default_rng(3).standard_normal((3001, 5))
    x[7, 2] = np.nan
    np.save(tmp_path / "m.npy", x)
    with lp.config(executor="lambda", workers=cluster["workers"], store=cluster["store"],
                   chunk_bytes="16KiB"):
        a = lp.load(tmp_path / "m.npy")
        med, q = lp.compute(lp.median(a, axis=0), lp.quantile(a[:, :2], [0.1, 0.5, 0.93]))
    np.testing.assert_array_equal(med, np.median(x, axis=0))
    np.testing.assert_array_equal(q, np.quantile(x[:, :2], [0.1, 0.5, 0.93]))


def test_fft_on_workers(cluster, tmp_path):
    # fft pnodes through the wire codec: the transform axis gathered from several chunks
    x = np.random.default_rng(1).standard_normal((400, 30))
    np.save(tmp_path / "f.npy", x)
    with lp.config(executor="lambda", workers=cluster["workers"], store=cluster["store"],
                   chunk_bytes="16KiB"):
        a = lp.load(tmp_path / "f.npy")
        r = lp.fft.irfft(lp.fft.fft(a, axis=0, norm="ortho"), n=31, axis=1).run()
    want = np.fft.irfft(np.fft.fft(x, axis=0, norm="ortho"), n=31, axis=1)
    np.testing.assert_allclose(r, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


def test_complex_scans_and_order_reductions_on_workers(cluster, tmp_path):
    # complex scan pnodes (cumprod, cummax behind max/argmax) through the wire codec, chunked
    rng = np.random.default_rng(2)
    z = (rng.integers(-2, 3, (300, 20)) + 1j * rng.integers(-2, 3, (300, 20))).astype(np.complex128)
    z[7, 3] = complex(np.nan, 1)
    np.save(tmp_path / "z.npy", z)
    with lp.config(executor="lambda", workers=cluster["workers"], store=cluster["store"],
                   chunk_bytes="8KiB"):
        a = lp.load(tmp_path / "z.npy")
        got = lp.compute(lp.max(a, axis=0), lp.argmin(a, axis=1), lp.cumprod(a[:, :4] / 2, axis=0), lp.prod(a[:40] / 2))
    want = (np.max(z, axis=0), np.argmin(z, axis=1), np.cumprod(z[:, :4] / 2, axis=0), np.prod(z[:40] / 2))
    assert np.array_equal(got[0], want[0], equal_nan=True) and np.array_equal(got[1], want[1])
    np.testing.assert_allclose(got[2], want[2], rtol=1e-12)
    np.testing.assert_allclose(got[3], want[3], rtol=1e-12)


def test_unreachable_workers_raise(cluster, tmp_path):
    with lp.config(executor="lambda", workers="http://127.0.0.1:9", store=cluster["store"],
                   max_tries=1, timeout=2.0):
        with pytest.raises(RuntimeError):
            (lp.arange(100000.0) * 2).sum().run()
    assert (lp.arange(4) * 2).sum().run() == 12


def test_signed_requests_through_config(tmp_path):
    """lp.config(key_file=...): the run is signed with the key its keyed store and worker
    share; without it the worker's store refuses the driver (PermissionError, ERR_DENIED)."""
    key = tmp_path / "key"
    key.write_text("a secret of enough length for lampy\n")
    key.chmod(0o600)
    x = np.arange(5000.0)
    np.save(tmp_path / "x.npy", x)
    procs = []
    try:
        store, surl = start(["store", "--dir", str(tmp_path / "chunks"), "--port", "0", "--key-file", str(key)],
                            tmp_path, "kstore")
        procs.append(store)
        w, wurl = start(["worker", "--port", "0", "--key-file", str(key), "--allow-store", surl,
                         "--load-dir", str(tmp_path)], tmp_path, "kworker")
        procs.append(w)
        with lp.config(executor="lambda", workers=[wurl], store=surl, key_file=str(key), deadline=120,
                       chunk_bytes="8KiB"):
            assert lp.get_config()["key_file"] == str(key) and lp.get_config()["deadline"] == 120
            np.testing.assert_array_equal((lp.load(tmp_path / "x.npy") * 3).run(), x * 3)
        with lp.config(executor="lambda", workers=[wurl], store=surl, max_tries=1):
            with pytest.raises(PermissionError, match="not authenticated"):
                (lp.load(tmp_path / "x.npy") * 3).run()
        assert not [p for p in (tmp_path / "chunks").rglob("*") if p.is_file()]
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(10)


def test_loop_on_workers_same_bits_as_local(cluster, tmp_path):
    """A while_loop whose iterations run on the workers (the driver decides the condition
    between them: one round of invocations per iteration until orchestration by functions)."""
    x = np.random.default_rng(1).random(20_000)

    def loop():
        v, n = lp.while_loop(lambda s: s[0].sum() > 17_000.0, lambda s: (lp.sqrt(s[0]) * 0.9, s[1] + 1), (x * 50, 0))
        return lp.compute(v, n)
    want = loop()
    with lp.config(executor="lambda", workers=cluster["workers"], store=cluster["store"], chunk_bytes="32KiB"):
        got = loop()
    assert got[1] == want[1] > 2 and got[0].tobytes() == want[0].tobytes()


def test_complex_linalg_on_workers(cluster, tmp_path):
    """complex LAPACK tasks (TSQR blocks, packed svd / eigh / slogdet factors, solve, inv,
    cholesky) through the wire codec: NumPy's values and the local run's bits."""
    g = np.random.default_rng(7)
    x = g.standard_normal((2000, 5)) + 1j * g.standard_normal((2000, 5))
    np.save(tmp_path / "c.npy", x)
    h = (x[:5].conj().T @ x[:5] + 10 * np.eye(5)).astype(np.complex64)

    def exprs():
        a = lp.load(tmp_path / "c.npy")
        q, r = lp.linalg.qr(a)
        u, s, vh = lp.linalg.svd(a, full_matrices=False)
        H = lp.asarray(h)
        w, v = lp.linalg.eigh(H)
        sign, logdet = lp.linalg.slogdet(H)
        return lp.compute(q @ r, (u * s) @ vh, lp.linalg.pinv(a[:80].reshape(2, 10, 20)), w, v, sign, logdet,
                          lp.linalg.solve(H, lp.asarray(h[:, :2])), lp.linalg.inv(H), lp.linalg.cholesky(H),
                          lp.linalg.det(a[:25].reshape(-1, 5, 5)))
    with lp.config(chunk_bytes="16KiB"):
        want = exprs()
    with lp.config(executor="lambda", workers=cluster["workers"], store=cluster["store"], chunk_bytes="16KiB"):
        got = exprs()
    for gv, wv in zip(got, want):
        assert gv.dtype == wv.dtype and gv.tobytes() == wv.tobytes()
    np.testing.assert_allclose(got[0], x, rtol=0, atol=1e-12 * np.abs(x).max())
    np.testing.assert_allclose(got[1], x, rtol=0, atol=1e-12 * np.abs(x).max())
    np.testing.assert_allclose(got[2], np.linalg.pinv(x[:80].reshape(2, 10, 20)), rtol=1e-10, atol=1e-12)
    assert got[3].dtype == np.float32 and got[6].dtype == np.float32 and got[5].dtype == np.complex64
    np.testing.assert_allclose(got[3], np.linalg.eigvalsh(h), rtol=1e-4)
    np.testing.assert_allclose(got[5], np.linalg.slogdet(h)[0], rtol=1e-4)
    np.testing.assert_allclose(got[6], np.linalg.slogdet(h)[1], rtol=1e-4)
    np.testing.assert_allclose(got[7], np.linalg.solve(h, h[:, :2]), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got[8], np.linalg.inv(h), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got[9], np.linalg.cholesky(h), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got[10], np.linalg.det(x[:25].reshape(-1, 5, 5)), rtol=1e-12)
