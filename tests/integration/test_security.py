"""Security of workers and stores (docs/SECURITY.md), probed from outside on 127.0.0.1:
signed requests (a shared key; HMAC-SHA256 computed here with Python's hmac/hashlib, an
independent implementation), TLS, confinement of load tasks and stores, and the refusal to
serve beyond loopback unauthenticated. Requests that must be refused change nothing: no task
runs, no file is written or removed."""
import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import select
import socket
import ssl
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from lampy_procs import free_port, servers, stop  # noqa: F401 (servers: a fixture)

ROOT = Path(__file__).resolve().parents[2]
LAMPY = Path(os.environ.get("LAMPY_BIN", ROOT / "build" / "lampy"))
HDR = 96


# ---------------------------------------------------------------- signing, written independently


def sign(key: bytes, method, path, body=b"", scope="", date=None, nonce=None):
    date = str(int(time.time()) if date is None else date)
    nonce = nonce or secrets.token_hex(16)
    body_hex = hashlib.sha256(body).hexdigest()
    msg = "\n".join(["LAMPY1", method, path, date, nonce, scope, body_hex]).encode()
    return {"X-Lampy-Date": date, "X-Lampy-Nonce": nonce, "X-Lampy-Scope": scope, "X-Lampy-Content-SHA256": body_hex,
            "X-Lampy-Signature": hmac.new(key, msg, hashlib.sha256).hexdigest()}


def make_key(path: Path):
    path.write_text(secrets.token_urlsafe(32) + "\n")
    path.chmod(0o600)
    return path.read_text().strip().encode()


def lampy(*args, env=None, timeout=300):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([str(LAMPY), *map(str, args)], capture_output=True, text=True, env=e, timeout=timeout)


def box(shape):
    return [[0, n] for n in shape]


def full_batch(key, store, value=1.5, shape=(3, 4)):
    node = {"kernel": "gen", "op": "full", "dtype": "float64", "shape": list(shape),
            "params": {"node": {"op": "full", "dtype": "float64", "shape": list(shape), "attrs": {"value": str(value)}}}}
    task = {"node": 0, "chunk": 0, "box": box(shape), "out": {"store": 0, "key": key, "box": box(shape)}, "ops": []}
    return {"format": "lampy.tasks", "version": 1, "run": "r1", "stores": [store], "nodes": [node], "tasks": [task]}


def files_below(d: Path):
    return sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())


# ---------------------------------------------------------------- signed requests


def test_worker_rejects_unsigned_bad_stale_and_replayed(tmp_path, servers):
    key = make_key(tmp_path / "key")
    sdir = tmp_path / "store"
    w = servers("worker", "--key-file", tmp_path / "key", "--allow-store", f"file://{sdir}")
    body = json.dumps(full_batch("lampy/r1/0/0", f"file://{sdir}")).encode()
    ok = sign(key, "POST", "/run/lampy", body, scope="lampy/r1")
    other = sign(b"another key of enough length!!", "POST", "/run/lampy", body, scope="lampy/r1")
    tampered = sign(key, "POST", "/run/lampy", body.replace(b"1.5", b"2.5"), scope="lampy/r1")
    stale = sign(key, "POST", "/run/lampy", body, scope="lampy/r1", date=int(time.time()) - 120)
    future = sign(key, "POST", "/run/lampy", body, scope="lampy/r1", date=int(time.time()) + 120)
    wrong_path = sign(key, "POST", "/run/other", body, scope="lampy/r1")
    wrong_scope = dict(ok, **{"X-Lampy-Scope": "lampy/r2"})
    for name, hdrs, why in [("unsigned", {}, "not signed"), ("another key", other, "bad signature"),
                            ("body changed", tampered, "does not match its signed SHA-256"),
                            ("stale", stale, "stale"), ("from the future", future, "stale"),
                            ("signed for another path", wrong_path, "bad signature"),
                            ("scope changed", wrong_scope, "bad signature"),
                            ("no signature header", {k: v for k, v in ok.items() if k != "X-Lampy-Signature"}, "not signed")]:
        st, rep = w.request("POST", "/run/lampy", body, hdrs)
        assert st == 401 and why in json.loads(rep)["error"], (name, st, rep)
        assert not sdir.exists() or files_below(sdir) == [], name  # nothing ran
        assert json.loads(w.request("GET", "/stats", headers=sign(key, "GET", "/stats"))[1])["batches"] == 0, name
    st, rep = w.request("POST", "/run/lampy", body, ok)
    assert st == 200, rep
    assert files_below(sdir) == ["lampy/r1/0/0"]
    (sdir / "lampy/r1/0/0").unlink()
    st, rep = w.request("POST", "/run/lampy", body, ok)  # the same request again
    assert st == 401 and "replayed" in json.loads(rep)["error"], rep
    assert files_below(sdir) == []
    # keys outside the signed scope: 403, nothing written
    st, rep = w.request("POST", "/run/lampy", body, sign(key, "POST", "/run/lampy", body, scope="lampy/r2"))
    assert st == 403 and "outside the request's scope" in json.loads(rep)["error"], rep
    st, rep = w.request("POST", "/run/lampy", body, sign(key, "POST", "/run/lampy", body, scope="lampy/r"))
    assert st == 403, rep
    assert files_below(sdir) == []
    # /status stays open to health checks; /stats does not
    assert w.request("GET", "/status") == (200, b"ready")
    assert w.request("GET", "/stats")[0] == 401


def test_401_before_the_body_is_read(tmp_path, servers):
    """A bad signature is answered from the headers: a client announcing 100 MB gets its 401
    without sending any of it."""
    make_key(tmp_path / "key")
    w = servers("worker", "--key-file", tmp_path / "key")
    s = servers("store", "--dir", tmp_path / "d", "--key-file", tmp_path / "key")
    for srv, path in ((w, "/run/lampy"), (s, "/chunks/a/b")):
        c = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        c.sendall(f"{'POST' if srv is w else 'PUT'} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n".encode())
        resp = c.recv(4096)
        c.close()
        assert resp.startswith(b"HTTP/1.1 401"), resp
    assert files_below(tmp_path / "d") == []


def test_store_rejects_unsigned_and_replayed(tmp_path, servers):
    key = make_key(tmp_path / "key")
    d = tmp_path / "d"
    s = servers("store", "--dir", d, "--key-file", tmp_path / "key")
    chunk = chunk_bytes()
    path = "/chunks/k/x"
    st, _ = s.request("PUT", path, chunk, {"Content-Type": "application/octet-stream"})
    assert st == 401 and files_below(d) == []
    st, _ = s.request("PUT", path, chunk, sign(b"another key of enough length!!", "PUT", path, chunk))
    assert st == 401 and files_below(d) == []
    bad = bytearray(chunk)
    bad[-1] ^= 1
    st, rep = s.request("PUT", path, bytes(bad), sign(key, "PUT", path, chunk))  # signed for other bytes
    assert st == 401 and b"does not match" in rep and files_below(d) == []
    hdrs = sign(key, "PUT", path, chunk)
    st, rep = s.request("PUT", path, chunk, hdrs)
    assert st == 201, rep
    assert files_below(d) == ["k/x"]
    st, _ = s.request("GET", path)
    assert st == 401
    st, got = s.request("GET", path, headers=sign(key, "GET", path))
    assert st == 200 and got == chunk
    st, _ = s.request("DELETE", path, headers=sign(key, "GET", path))  # signed for GET
    assert st == 401 and files_below(d) == ["k/x"]
    dh = sign(key, "DELETE", path)
    assert s.request("DELETE", path, headers=dh)[0] == 204
    assert files_below(d) == []
    st, _ = s.request("PUT", path, chunk, hdrs)  # replayed upload
    assert st == 401 and files_below(d) == []


STORE_CLIENT = LAMPY.parent / "tests" / "c" / "store_client"


def chunk_bytes() -> bytes:
    """A valid chunk (header + data), as a PUT body: tests/c/store_client encodes it."""
    r = subprocess.run([str(STORE_CLIENT), "encode", "float64", "6", "1"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def run_remote(expr, names, ws, store, out, *extra, env=None):
    return lampy("eval", expr, *names, "-o", out, "--executor", "lambda", "--workers", ",".join(w.url for w in ws),
                 "--store", store, *extra, env=env)


def test_signed_runs_end_to_end(tmp_path, servers):
    """A driver with the key runs through keyed workers and a keyed store; without the key, or
    with another, the run fails with a clear message and nothing is left in the store."""
    make_key(tmp_path / "key")
    (tmp_path / "other").write_text(secrets.token_urlsafe(32))
    (tmp_path / "other").chmod(0o600)
    data = tmp_path / "data"
    data.mkdir()
    np.save(data / "a.npy", np.random.default_rng(1).standard_normal((300, 40)))
    s = servers("store", "--dir", tmp_path / "d", "--key-file", tmp_path / "key")
    ws = [servers("worker", "--key-file", tmp_path / "key", "--allow-store", s.url, "--load-dir", data, "--write-dir", tmp_path)
          for _ in range(2)]  # (-o: the workers write the result into the file: a result sink)
    names = [f"a={data / 'a.npy'}"]
    expr = "(a * 2 - 1).sum(axis=0)"
    r = run_remote(expr, names, ws, s.url, tmp_path / "r.npy", "--chunk-bytes", "4K", "--key-file", tmp_path / "key")
    assert r.returncode == 0, r.stderr
    loc = lampy("eval", expr, *names, "--chunk-bytes", "4K", "-o", tmp_path / "l.npy")
    assert loc.returncode == 0, loc.stderr
    assert np.load(tmp_path / "r.npy").tobytes() == np.load(tmp_path / "l.npy").tobytes()
    assert np.allclose(np.load(tmp_path / "r.npy"), (np.load(data / "a.npy") * 2 - 1).sum(axis=0))
    r = run_remote(expr, names, ws, s.url, tmp_path / "r2.npy", "--chunk-bytes", "4K", env={"LAMPY_KEY_FILE": str(tmp_path / "key")})
    assert r.returncode == 0, r.stderr
    for extra in ([], ["--key-file", tmp_path / "other"]):
        r = run_remote(expr, names, ws, s.url, tmp_path / "x.npy", *extra)
        assert r.returncode == 1 and "not authenticated" in r.stderr, r.stderr
    assert files_below(tmp_path / "d") == []
    assert not (tmp_path / "x.npy").exists()


def test_tls_end_to_end(tmp_path, servers):
    """https:// workers and store (a self-signed certificate made here with openssl); the driver
    and the workers verify it with --ca-file / LAMPY_CA_FILE."""
    cert, pkey = tmp_path / "cert.pem", tmp_path / "key.pem"
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", pkey, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    make_key(tmp_path / "key")
    data = tmp_path / "data"
    data.mkdir()
    np.save(data / "a.npy", np.arange(1000.0))
    tls = ["--tls-cert", cert, "--tls-key", pkey, "--key-file", tmp_path / "key"]
    s = servers("store", "--dir", tmp_path / "d", *tls, tls_ca=cert)
    assert s.url.startswith("https://")
    ws = [servers("worker", *tls, "--allow-store", s.url, "--load-dir", data, "--write-dir", tmp_path, "--ca-file", cert,
                  tls_ca=cert)]
    assert s.request("GET", "/status") == (200, b"ready")
    out = tmp_path / "r.npy"
    r = run_remote("a * a + 1", [f"a={data / 'a.npy'}"], ws, s.url, out, "--chunk-bytes", "1K",
                   env={"LAMPY_KEY_FILE": str(tmp_path / "key"), "LAMPY_CA_FILE": str(cert)})
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.load(out), np.arange(1000.0) ** 2 + 1)
    # without the CA the driver refuses the certificate
    r = run_remote("a + 1", [f"a={data / 'a.npy'}"], ws, s.url, out, env={"LAMPY_KEY_FILE": str(tmp_path / "key")})
    assert r.returncode == 1 and re.search(r"certificate|SSL", r.stderr), r.stderr
    # plain HTTP to the TLS port is not served
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
        c.request("GET", "/status")
        st = c.getresponse().status
        assert st != 200
        raise ConnectionError
    assert files_below(tmp_path / "d") == []


@pytest.mark.parametrize("cmd", [["worker"], ["store", "--dir", "/nonexistent-lampy-dir"]])
def test_no_exposure_without_a_key(cmd, tmp_path):
    for bind in ("0.0.0.0", "::"):
        r = lampy(*cmd, "--bind", bind, "--port", free_port(), env={"LAMPY_KEY_FILE": ""}, timeout=30)
        assert r.returncode == 2 and "refusing to serve" in r.stderr and "--key-file" in r.stderr, r.stderr
    # a key readable by everyone is refused too
    k = tmp_path / "k"
    k.write_text(secrets.token_urlsafe(32))
    k.chmod(0o644)
    r = lampy(*cmd, "--key-file", k, "--port", free_port(), timeout=30)
    assert r.returncode == 1 and "readable by every user" in r.stderr, r.stderr
    k.write_text("short")
    k.chmod(0o600)
    r = lampy(*cmd, "--key-file", k, "--port", free_port(), timeout=30)
    assert r.returncode == 1 and "at least 16 bytes" in r.stderr, r.stderr


# ---------------------------------------------------------------- confinement


def load_batch(path, store, key="lampy/r1/l/x"):
    node = {"kernel": "load", "op": "load", "dtype": "float64", "shape": [3, 4],
            "params": {"node": {"op": "load", "dtype": "float64", "shape": [3, 4], "attrs": {"path": str(path)}}}}
    task = {"node": 0, "chunk": 0, "box": [[0, 3], [0, 4]], "out": {"store": 0, "key": key, "box": [[0, 3], [0, 4]]},
            "ops": []}
    return {"format": "lampy.tasks", "version": 1, "stores": [store], "nodes": [node], "tasks": [task]}


def post(w, batch):
    st, rep = w.request("POST", "/run/lampy", json.dumps(batch).encode(), {"Content-Type": "application/json"})
    return st, json.loads(rep)


def test_loads_outside_the_roots_leak_nothing(tmp_path, servers):
    """A path outside the load roots is refused with 403 and the same words whether the file
    exists or not — directly, through '..' or through a symlink inside a root."""
    root, out = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    out.mkdir()
    np.save(root / "x.npy", np.arange(12.0).reshape(3, 4))
    np.save(out / "secret.npy", np.arange(12.0).reshape(3, 4))
    os.symlink(out / "secret.npy", root / "to_secret.npy")
    os.symlink(out / "missing.npy", root / "to_missing.npy")
    os.symlink("../outside/secret.npy", root / "rel_secret.npy")
    os.symlink("../outside/missing.npy", root / "rel_missing.npy")
    sdir = tmp_path / "store"
    store = f"file://{sdir}"
    w = servers("worker", "--allow-store", store, "--load-dir", root)
    st, rep = post(w, load_batch(root / "x.npy", store))
    assert st == 200, rep
    (sdir / "lampy/r1/l/x").unlink()
    pairs = [(out / "secret.npy", out / "missing.npy"), (root / ".." / "outside" / "secret.npy", root / ".." / "outside" / "missing.npy"),
             (root / "to_secret.npy", root / "to_missing.npy"), (root / "rel_secret.npy", root / "rel_missing.npy"),
             ("/etc/passwd", "/etc/no-such-file")]
    for exists, missing in pairs:
        answers = []
        for p in (exists, missing):
            st, rep = post(w, load_batch(p, store))
            answers.append((st, rep["error"].replace(str(p), "PATH"), rep["status"]))
        assert answers[0] == answers[1], answers
        assert answers[0][0] == 403 and answers[0][2] == "ERR_DENIED" and "not below the worker's load roots" in answers[0][1]
    assert files_below(sdir) == []
    # without --load-dir no load runs at all
    w2 = servers("worker", "--allow-store", store)
    st, rep = post(w2, load_batch(root / "x.npy", store))
    assert st == 403, rep
    assert files_below(sdir) == []


def test_stores_come_from_the_allow_list(tmp_path, servers):
    """A batch naming a store that is not on the worker's allow-list — another host, port,
    Redis database, directory, or none at all — gets 403 and the worker contacts nothing."""
    from lampy_procs import start_redis
    proc, port = start_redis(tmp_path)
    try:
        ok = f"redis://127.0.0.1:{port}"
        w = servers("worker", "--allow-store", f"{ok}/0", "--allow-store", f"file://{tmp_path / 'a'}")
        st, rep = post(w, full_batch("lampy/r1/0/0", f"{ok}/0"))
        assert st == 200, rep
        st, rep = post(w, full_batch("lampy/r1/0/1", f"redis://127.0.0.1:{port}"))  # the same store
        assert st == 200, rep
        for url in (f"redis://127.0.0.1:{port}/3", f"redis://127.0.0.2:{port}/0", f"redis://127.0.0.1:{free_port()}/0",
                    f"redis://:guess@127.0.0.1:{port}/1", f"file://{tmp_path / 'b'}", f"file://{tmp_path / 'a' / 'sub'}",
                    f"http://127.0.0.1:{port}", "mem://x"):
            st, rep = post(w, full_batch("lampy/r1/0/2", url))
            assert st == 403 and "not allowed" in rep["error"] and "guess" not in rep["error"], (url, st, rep)
        r = subprocess.run(["redis-cli", "-p", str(port), "-n", "3", "DBSIZE"], capture_output=True, text=True)
        assert r.stdout.strip() == "0"
        assert not (tmp_path / "b").exists() and not (tmp_path / "a" / "sub").exists()
        # a worker without --allow-store allows nothing
        w2 = servers("worker")
        st, rep = post(w2, full_batch("lampy/r1/0/3", ok))
        assert st == 403 and "allows none" in rep["error"], rep
    finally:
        stop(proc)
