"""The lambda executor end to end: a real redis-server and `lampy worker` processes on 127.0.0.1
(free ports), driven by the CLI and by the op conformance suite (tests/c/test_ops in remote
mode). Results must equal the local executor's bit for bit (the plan, hence the order of every
operation, is the same). Fault tests kill, stall and overload workers mid-run; bad-input tests
send hostile batches and requests straight to a worker, which must answer with the right status,
write nothing outside its store directory, and keep serving. Every process a test starts is
stopped in a finalizer, also when the test fails.

Binaries: LAMPY_BIN (default build/lampy); test_ops and liblampy.so are found beside it.
"""
import json
import os
import random
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import confined_workers
from lampy_procs import (LAMPY, REDIS, REDIS_CLI, ROOT, assert_error_as_local, assert_fisher_as_local,
                         assert_same_as_local, free_port, lampy, same_array, stop)

TEST_OPS = LAMPY.parent / "tests" / "c" / "test_ops"
REMOTE_CLIENT = LAMPY.parent / "tests" / "c" / "remote_client"
LIBLAMPY = LAMPY.parent / "liblampy.so"
FPY_DIR = ROOT / "deploy" / "openlambda" / "lampy"
HDR = 96

assert REDIS and REDIS_CLI, "redis-server and redis-cli are installed by scripts/deps.sh"


# ---------------------------------------------------------------- processes


@pytest.fixture(scope="module")
def workers(tmp_path_factory, redis):
    """Three workers shared by the module's tests."""
    with confined_workers(3, redis, tmp_path_factory, tmp_path_factory.mktemp("workers")) as ws:
        yield ws


# ---------------------------------------------------------------- helpers


def remote_args(ws, store):
    return ["--executor", "lambda", "--workers", ",".join(w.url for w in ws), "--store", store]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(7)
    np.save(d / "a.npy", rng.standard_normal((300, 70)))
    np.save(d / "b.npy", rng.standard_normal((300, 70)))
    np.save(d / "c.npy", rng.standard_normal((70,)).astype(np.float32))
    np.save(d / "i.npy", rng.integers(-1000, 1000, (300, 70), dtype=np.int32))
    np.save(d / "m.npy", rng.random((300, 70)) > 0.5)
    big = rng.standard_normal((2048, 1024))
    np.save(d / "big_a.npy", big)
    np.save(d / "big_b.npy", rng.standard_normal((2048, 1024)))
    return d


EXPRS = [
    ("a * b + a * 2 - b", []),
    ("(a * b).sum(axis=0)", []),
    ("a.var(axis=1, ddof=1)", ["--chunk-bytes", "4K"]),
    ("a.std()", ["--chunk-bytes", "1K"]),
    ("a.argmax(axis=0)", ["--chunk-bytes", "2K"]),
    ("where(m, a, b * c)", ["--chunk-bytes", "3K"]),
    ("(i // 7 + i % 5).astype(float32) * c", ["--chunk-bytes", "2K"]),
    ("a.T[::3, 5:200]", ["--chunk-bytes", "1K"]),
    ("concatenate((a, b), axis=1)[::2]", ["--chunk-bytes", "2K"]),
    ("a.reshape(70, 300)[:, 1:-1].sum(axis=1)", ["--chunk-bytes", "1K"]),
    ("stack((a, b), axis=0).mean(axis=(0, 2))", ["--chunk-bytes", "2K"]),
    ("m.any(axis=0) & (i > 0).all(axis=0)", ["--chunk-bytes", "512"]),
    ("random.normal((200, 50), seed=4) + arange(50) * linspace(0, 1, 50)", ["--chunk-bytes", "2K"]),
    ("eye(40, 50, k=3) - ones((40, 50)) * 0.5", []),
    ("random.randint(-5, 5, size=(300, 70), seed=2) * a + random.permutation(70, seed=1)", ["--chunk-bytes", "2K"]),
    ("random.choice(a[:, 0], 500, p=abs(a[:, 1]) / abs(a[:, 1]).sum(), seed=6)", ["--chunk-bytes", "1K"]),
    ("linalg.svd(a, full_matrices=False)[0] * linalg.qr(a)[1].diagonal()", ["--chunk-bytes", "4K"]),
    ("sqrt(abs(a)) ** 3 + exp(-b * b) + tanh(a) + log(1 + a * a)", ["--no-fusion", "--chunk-bytes", "8K"]),
    # linear algebra: split contractions (partial products and their combine tree), syrk,
    # folded transposes, products of a product, numpy.linalg ops
    ("a.T @ b", ["--chunk-bytes", "4K"]),
    ("a.T @ a + 1", ["--chunk-bytes", "8K"]),
    ("(a @ b.T)[::7] @ (i % 3)", ["--chunk-bytes", "16K"]),
    ("linalg.inv(a.T @ a) @ (a.T @ b)", ["--chunk-bytes", "4K"]),
    ("linalg.solve(a.T @ a, c.astype(float64)) + linalg.det(b.T @ b / 300)", []),
    # stacks of matrices, complete QR / full SVD factors, eig (complex packed factors)
    ("linalg.svd(a[:120].reshape(4, 30, 70), full_matrices=True)[0].sum(axis=0) + linalg.qr(a[:40, :7], mode='complete')[0][:30, :30]",
     ["--chunk-bytes", "4K"]),
    ("abs(linalg.eig(a[:15, :5].reshape(3, 5, 5))[1]).sum(axis=0) + linalg.pinv(b[:60].reshape(2, 30, 70)).sum(axis=(0, 1))[:5]",
     ["--chunk-bytes", "2K"]),
]


# ---------------------------------------------------------------- results equal the local executor's


@pytest.mark.parametrize("expr,opts", EXPRS, ids=[e for e, _ in EXPRS])
def test_eval_matches_local(expr, opts, workers, clean_store, data, tmp_path):
    assert_same_as_local(tmp_path, expr, [f"{n}={data / (n + '.npy')}" for n in "abcim"], opts,
                         remote_args(workers, clean_store.url))


def test_errors_match_local(workers, clean_store, data):
    # a kernel's own error (integer to a negative power) comes back with its message
    assert_error_as_local("i ** (i - i - 1)", [f"i={data / 'i.npy'}"], remote_args(workers, clean_store.url),
                          "Integers to negative integer powers are not allowed.")


def test_op_corpus_through_workers(redis, workers):
    """The whole op conformance suite (tests/data/ops/MANIFEST) on the lambda executor, with the
    determinism matrix (chunk sizes, fusion), plus each case compared bit for bit with the local
    executor. Cases that fail against NumPy must be exactly those that fail locally."""
    if not TEST_OPS.exists():
        pytest.fail(f"{TEST_OPS} does not exist: build first")
    env = dict(os.environ, LP_TEST_DATA=str(ROOT / "tests" / "data"))
    local = subprocess.run([str(TEST_OPS)], capture_output=True, text=True,
                           env=dict(env, LP_OPS_NO_MATRIX="1"), timeout=900)
    remote = subprocess.run([str(TEST_OPS)], capture_output=True, text=True, timeout=1800,
                            env=dict(env, LP_OPS_EXECUTOR="lambda", LP_OPS_WORKERS=",".join(w.url for w in workers),
                                     LP_OPS_STORE=redis.url))
    conf = lambda out: re.search(r"conformance: (\d+) cases, (\d+) failed", out).groups()
    failing = lambda out: sorted(set(re.findall(r"^(\S+): expected|^(\S+): ERR_", out, re.M)))
    assert conf(remote.stderr)[0] == conf(local.stderr)[0]
    assert conf(remote.stderr) == conf(local.stderr), remote.stderr[-3000:]
    assert failing(remote.stderr) == failing(local.stderr)
    m = re.search(r"lambda vs local: (\d+) cases, (\d+) differ", remote.stderr)
    assert m and int(m.group(1)) > 1000 and m.group(2) == "0", remote.stderr[-3000:]
    for cat in ("lambda-vs-local", "determinism", "determinism-big"):
        row = re.search(rf"^{cat}\s+(\d+)\s+(\d+)", remote.stderr, re.M)
        assert row and int(row.group(1)) > 0 and row.group(2) == "0", (cat, remote.stderr[-3000:])
    assert redis.dbsize() == 0


def test_linalg_corpus_through_workers(redis, workers):
    """tests/data/linalg (matmul blocks, k-split partial products, syrk, dot/outer/tensordot,
    numpy.linalg) on the lambda executor: NumPy's answers and the local run's bits."""
    test_linalg = LAMPY.parent / "tests" / "c" / "test_linalg"
    if not test_linalg.exists():
        pytest.fail(f"{test_linalg} does not exist: build first")
    r = subprocess.run([str(test_linalg)], capture_output=True, text=True, timeout=900,
                       env=dict(os.environ, LP_TEST_DATA=str(ROOT / "tests" / "data"), LP_OPS_EXECUTOR="lambda",
                                LP_OPS_WORKERS=",".join(w.url for w in workers), LP_OPS_STORE=redis.url))
    m = re.search(r"test_linalg \(remote\): (\d+) passed, (\d+) failed", r.stderr + r.stdout)
    assert r.returncode == 0 and m and int(m.group(1)) > 1000 and m.group(2) == "0", (r.stdout + r.stderr)[-3000:]
    assert redis.dbsize() == 0


def test_c_api(workers, clean_store):
    """tests/c/remote_client: wrapped and strided in-memory data and earlier results through the
    store (same bits as local), many runs on one context, lp_cancel mid-run, configuration."""
    if not REMOTE_CLIENT.exists():
        pytest.fail(f"{REMOTE_CLIENT} does not exist: build first")
    r = subprocess.run([str(REMOTE_CLIENT), ",".join(w.url for w in workers), clean_store.url], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"remote_client: \d+ passed, 0 failed", r.stdout), r.stdout


def test_fisher_matches_local(workers, clean_store, tmp_path):
    assert_fisher_as_local(tmp_path, remote_args(workers, clean_store.url), 60000, 12, 4, 5000)


def test_file_and_http_stores(spawn, data, tmp_path):
    """Intermediates in a directory (file://) or Lampy's store server (http://) instead of Redis."""
    sdir = tmp_path / "chunks"
    store = subprocess.Popen([str(LAMPY), "store", "--dir", str(tmp_path / "srv"), "--port", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = store.stdout.readline()
        surl = re.fullmatch(r"listening on (\S+)\n", line).group(1)
        ws = [spawn("--allow-store", f"file://{sdir}", "--allow-store", surl) for _ in range(2)]
        names = [f"a={data / 'a.npy'}", f"b={data / 'b.npy'}"]
        expr = "(a - b).sum(axis=1) * a.max()"
        loc = lampy("eval", expr, *names, "--chunk-bytes", "2K", "-o", tmp_path / "l.npy")
        for url in (f"file://{sdir}", surl):
            rem = lampy("eval", expr, *names, "--chunk-bytes", "2K", "-o", tmp_path / "r.npy", *remote_args(ws, url))
            assert rem.returncode == 0, rem.stderr
            assert same_array(np.load(tmp_path / "l.npy"), np.load(tmp_path / "r.npy"))
        # everything the runs wrote was deleted, directories of nested keys included
        assert list(sdir.rglob("*")) == []
        assert list((tmp_path / "srv").rglob("*")) == []
    finally:
        stop(store)
        store.stdout.close()


# ---------------------------------------------------------------- faults

SLOW = "(tanh(a) * sin(b) + exp(-a * a)).sum(axis=0)"


def slow_run(ws, store, data, tmp_path, env=None, wait=True):
    names = [f"a={data / 'big_a.npy'}", f"b={data / 'big_b.npy'}"]
    args = ["eval", SLOW, *names, "--chunk-bytes", "256K", "-o", tmp_path / "remote.npy", *remote_args(ws, store)]
    e = dict(os.environ)
    e.update(env or {})
    if not wait:
        return subprocess.Popen([str(LAMPY), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=e)
    return lampy(*args, env=env)


@pytest.fixture(scope="module")
def slow_expected(data, tmp_path_factory):
    d = tmp_path_factory.mktemp("expected")
    r = lampy("eval", SLOW, f"a={data / 'big_a.npy'}", f"b={data / 'big_b.npy'}", "--chunk-bytes", "256K",
              "-o", d / "local.npy")
    assert r.returncode == 0, r.stderr
    return np.load(d / "local.npy")


def test_worker_killed_mid_run(workers, spawn, clean_store, data, tmp_path, slow_expected):
    victim = spawn()
    ws = [victim, workers[0], workers[1]]
    proc = slow_run(ws, clean_store.url, data, tmp_path, wait=False)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            st = victim.stats()
            if st["batches"] >= 2 and st["inflight"] >= 1:
                break
            time.sleep(0.002)
        assert proc.poll() is None, "the run ended before the worker could be killed"
        victim.proc.kill()  # SIGKILL: requests in flight are lost
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert same_array(np.load(tmp_path / "remote.npy"), slow_expected)


@pytest.mark.parametrize("fault", ["429:1000000", "502:1000000"])
def test_failing_worker(fault, workers, spawn, clean_store, data, tmp_path, slow_expected):
    bad = spawn("--fault", fault)
    r = slow_run([bad, workers[0], workers[1]], clean_store.url, data, tmp_path)
    assert r.returncode == 0, r.stderr
    assert same_array(np.load(tmp_path / "remote.npy"), slow_expected)
    assert bad.stats()["refused"] > 0  # it was asked, refused, and the tasks went elsewhere
    bad.assert_ready()


def test_all_workers_busy_for_a_while(spawn, clean_store, data, tmp_path, slow_expected):
    ws = [spawn("--fault", "429:3") for _ in range(3)]
    r = slow_run(ws, clean_store.url, data, tmp_path)
    assert r.returncode == 0, r.stderr
    assert same_array(np.load(tmp_path / "remote.npy"), slow_expected)
    assert [w.stats()["refused"] for w in ws] == [3, 3, 3]


def test_worker_hangs(workers, spawn, clean_store, data, tmp_path, slow_expected):
    hung = spawn("--fault", "hang:1000000")
    t0 = time.monotonic()
    r = slow_run([hung, workers[0], workers[1]], clean_store.url, data, tmp_path, env={"LAMPY_REMOTE_TIMEOUT": "1"})
    assert r.returncode == 0, r.stderr
    assert same_array(np.load(tmp_path / "remote.npy"), slow_expected)
    assert time.monotonic() - t0 < 120
    # the driver gave up on the requests stuck there (they still hold the worker's slots)
    assert hung.stats()["refused"] >= 1 and hung.stats()["inflight"] >= 1
    # a hung worker still answers /status, and SIGTERM releases its stuck requests
    hung.assert_ready()
    assert hung.stop() == 0


def test_no_worker_reachable(clean_store, data, tmp_path):
    ws = [type("W", (), {"url": f"http://127.0.0.1:{free_port()}"})() for _ in range(2)]
    t0 = time.monotonic()
    r = lampy("eval", "a.sum()", f"a={data / 'a.npy'}", *remote_args(ws, clean_store.url))
    assert r.returncode == 1
    assert re.search(r"failed 5 times; last: http://127\.0\.0\.1:\d+/run/lampy: .*(connect|Connection refused)",
                     r.stderr), r.stderr
    assert time.monotonic() - t0 < 30


def test_unreachable_store(workers, data):
    r = lampy("eval", "a.sum()", f"a={data / 'a.npy'}", *remote_args(workers, f"redis://127.0.0.1:{free_port()}"))
    assert r.returncode == 1
    assert "Connection refused" in r.stderr, r.stderr


# ---------------------------------------------------------------- hand-made batches


def chunk_file_array(path: Path, dtype, shape):
    raw = path.read_bytes()
    assert raw[:4] == b"LPCK"
    return np.frombuffer(raw[HDR:], dtype=dtype).reshape(shape)


def box(shape):
    return [[0, n] for n in shape]


def full_batch(key, value=1.5, shape=(3, 4), store="file:///nonexistent"):
    node = {"kernel": "gen", "op": "full", "dtype": "float64", "shape": list(shape),
            "params": {"node": {"op": "full", "dtype": "float64", "shape": list(shape), "attrs": {"value": str(value)}}}}
    task = {"node": 0, "chunk": 0, "box": box(shape), "out": {"store": 0, "key": key, "box": box(shape)}, "ops": []}
    return {"format": "lampy.tasks", "version": 1, "run": "test", "stores": [store], "nodes": [node], "tasks": [task]}


def add_batch(in_key, checksum, out_key, shape=(3, 4), store="file:///nonexistent", const=2.0):
    node = {"kernel": "map", "op": "add", "dtype": "float64", "shape": list(shape),
            "params": {"program": {"inputs": 1, "regs": ["float64", "float64", "float64"], "consts": [str(const)],
                                   "code": [["add", "float64", 2, 0, 1]], "out": 2}}}
    chunk = {"store": 0, "key": in_key, "dtype": "float64", "shape": list(shape), "box": box(shape), "checksum": checksum}
    task = {"node": 0, "chunk": 0, "box": box(shape), "out": {"store": 0, "key": out_key, "box": box(shape)},
            "ops": [{"dtype": "float64", "box": box(shape), "pieces": [[0, box(shape)]]}]}
    return {"format": "lampy.tasks", "version": 1, "stores": [store], "chunks": [chunk], "nodes": [node], "tasks": [task]}


@pytest.fixture
def fstore(tmp_path, spawn):
    """A worker allowed one file store, with a sentinel directory beside it that must stay as is."""
    sdir = tmp_path / "store"
    sdir.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"do not touch")
    w = spawn("--allow-store", f"file://{sdir}", "--load-dir", str(tmp_path / "data"), "--max-body", "1M", confine=False)
    w.store = f"file://{sdir}"
    w.sdir = sdir
    yield w
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_bytes() == b"do not touch"
    assert not [p for p in tmp_path.iterdir() if p.name not in ("store", "outside", "data", "elsewhere") and not p.name.endswith(".stderr")]
    assert not [p for p in sdir.rglob("*") if "#" in p.name], "a temp file was left in the store"


def test_hand_made_tasks_and_corruption(fstore):
    st, rep = fstore.run(full_batch("t/a", 1.5, store=fstore.store))
    assert st == 200, rep
    out = rep["outputs"][0]
    assert out["key"] == "t/a" and out["shape"] == [3, 4] and out["bytes"] == 96
    assert (chunk_file_array(fstore.sdir / "t" / "a", np.float64, (3, 4)) == 1.5).all()
    st, rep = fstore.run(add_batch("t/a", out["checksum"], "t/b", store=fstore.store))
    assert st == 200, rep
    assert (chunk_file_array(fstore.sdir / "t" / "b", np.float64, (3, 4)) == 3.5).all()
    # a wrong checksum in the reference: the producer's report does not match what is stored
    st, rep = fstore.run(add_batch("t/a", "0" * 16, "t/c", store=fstore.store))
    assert st == 500 and "checksum mismatch" in rep["error"] and rep["status"] == "ERR_FORMAT", rep
    # flip one data bit on disk: the store's own checksum catches it
    p = fstore.sdir / "t" / "a"
    raw = bytearray(p.read_bytes())
    raw[HDR + 5] ^= 0x10
    p.write_bytes(bytes(raw))
    st, rep = fstore.run(add_batch("t/a", out["checksum"], "t/d", store=fstore.store))
    assert st == 500 and "checksum mismatch" in rep["error"], rep
    assert not (fstore.sdir / "t" / "c").exists() and not (fstore.sdir / "t" / "d").exists()
    # a missing chunk
    st, rep = fstore.run(add_batch("t/none", out["checksum"], "t/e", store=fstore.store))
    assert st == 500 and rep["status"] == "ERR_NOTFOUND", rep
    fstore.assert_ready()


def test_load_paths(fstore, tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    np.save(d / "x.npy", np.arange(12.0).reshape(3, 4))
    (tmp_path / "elsewhere").mkdir()
    np.save(tmp_path / "elsewhere" / "y.npy", np.arange(12.0).reshape(3, 4))

    def load_batch(path):
        node = {"kernel": "load", "op": "load", "dtype": "float64", "shape": [3, 4],
                "params": {"node": {"op": "load", "dtype": "float64", "shape": [3, 4], "attrs": {"path": str(path)}}}}
        task = {"node": 0, "chunk": 0, "box": [[1, 3], [0, 4]], "out": {"store": 0, "key": "l/x", "box": [[1, 3], [0, 4]]},
                "ops": []}
        return {"format": "lampy.tasks", "version": 1, "stores": [fstore.store], "nodes": [node], "tasks": [task]}

    st, rep = fstore.run(load_batch(d / "x.npy"))
    assert st == 200, rep
    assert (chunk_file_array(fstore.sdir / "l" / "x", np.float64, (2, 4)) == np.arange(4.0, 12.0).reshape(2, 4)).all()
    for bad, code in [("x.npy", 400), (d / ".." / "elsewhere" / "y.npy", 403), (tmp_path / "elsewhere" / "y.npy", 403),
                      (d / "missing.npy", 500), ("/etc/passwd", 403)]:
        (fstore.sdir / "l" / "x").unlink(missing_ok=True)
        st, rep = fstore.run(load_batch(bad))
        assert st == code, (bad, st, rep)
        assert not (fstore.sdir / "l" / "x").exists()
    # a symlink inside the data directory pointing out of it
    os.symlink(tmp_path / "elsewhere" / "y.npy", d / "link.npy")
    st, rep = fstore.run(load_batch(d / "link.npy"))
    assert st == 403 and "not below the worker's load roots" in rep["error"], rep
    fstore.assert_ready()


def mutate(batch, path_value):
    """Set one leaf (by a path of keys/indices) of a deep copy of batch."""
    b = json.loads(json.dumps(batch))
    path, value = path_value
    cur = b
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return b


def leaves(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaves(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from leaves(v, path + (i,))
    else:
        yield path


BAD_BATCHES = [
    ("not json", b"{\"format\": ", 400, "invalid JSON"),
    ("not an object", b"[1, 2]", 400, "object"),
    ("empty body", b"", 400, "format"),
    ("wrong format", {"format": "lampy.graph", "version": 1, "stores": [], "tasks": []}, 400, "format"),
    ("wrong version", {"format": "lampy.tasks", "version": 2, "stores": [], "tasks": []}, 400, "version 2"),
    ("unknown key", {"format": "lampy.tasks", "version": 1, "stores": [], "tasks": [], "code": "rm -rf"}, 400, "unknown key"),
    # found by fuzz_http: the decoder's cleanup walked the nodes before their array existed (SIGSEGV)
    ("nodes, then broken chunks", b'{"format":"lampy.tasks","version":1,"stores":[],"nodes":[{}],"chunks":[1 2],"tasks":[]}',
     400, "invalid JSON in 'chunks'"),
]


@pytest.mark.parametrize("name,body,code,msg", BAD_BATCHES, ids=[b[0] for b in BAD_BATCHES])
def test_bad_batches(name, body, code, msg, fstore):
    st, rep = fstore.run(body)
    assert st == code and msg in rep["error"], rep
    fstore.assert_ready()


def test_invalid_tasks(fstore):
    g = full_batch("g/a", store=fstore.store)
    st, rep = fstore.run(g)
    assert st == 200
    cs = rep["outputs"][0]["checksum"]
    a = add_batch("g/a", cs, "g/out", store=fstore.store)
    P = ("nodes", 0, "params", "program")
    cases = [
        # ([(path, value), ...], substring of the error, status)
        ([(("nodes", 0, "op"), "frobnicate")], "unknown op", 400),
        ([(("nodes", 0, "kernel"), "shell")], "unknown kernel", 400),
        ([(("nodes", 0, "op"), "sum")], "does not run op", 400),
        ([(P + ("code", 0, 0), "system")], "not an elementwise op", 400),
        ([(P + ("code", 0, 3), 7)], "out of range", 400),
        ([(P + ("code", 0, 1), "int32")], "reads float64 register", 400),
        ([(P + ("code", 0, 0), "bitwise_and")], "no float64 loop", 400),
        ([(P + ("out",), 1)], "output register", 400),
        ([(P + ("regs", 2), "int64")], "gives float64", 400),
        ([(P + ("inputs",), 3)], "more inputs and constants than registers", 400),
        ([(("nodes", 0, "shape"), [2, 4])], "output box", 400),
        ([(("tasks", 0, "box"), [[0, 3], [0, 5]])], "must be the output box", 400),
        ([(("tasks", 0, "ops", 0, "box"), [[0, 3], [0, 3]])], "not inside the operand box", 400),
        ([(("tasks", 0, "ops", 0, "box"), [[0, 3], [0, 3]]), (("tasks", 0, "ops", 0, "pieces", 0, 1), [[0, 3], [0, 3]])],
         "does not broadcast", 400),
        ([(("tasks", 0, "ops", 0, "pieces", 0, 1), [[0, 3], [1, 5]])], "not inside its chunk", 400),
        ([(("tasks", 0, "ops", 0, "pieces", 0, 1), [[0, 2], [0, 4]])], "whole operand box", 400),
        ([(("tasks", 0, "ops", 0, "pieces"), [[0, [[0, 2], [0, 4]]], [0, [[0, 2], [0, 4]]]])], "tile", 400),
        ([(("tasks", 0, "ops", 0, "pieces"), [[0, [[0, 2], [0, 4]]], [0, [[1, 3], [0, 4]]]])], "", 400),
        ([(("tasks", 0, "ops", 0, "pieces", 0, 0), 5)], "does not exist", 400),
        ([(("tasks", 0, "ops", 0, "dtype"), "int64")], "chunk 0 is float64", 400),
        ([(("chunks", 0, "shape"), [4, 3])], "does not match its box", 400),
        ([(("chunks", 0, "shape"), [3, 4, 1, 1, 1, 1, 1, 1, 1])], "at most 8", 413),
        ([(("chunks", 0, "shape"), [1 << 40, 1 << 40])], "too large", 413),
        ([(("chunks", 0, "box"), [[0, 3], [-4, 4]])], "outside", 400),
        ([(("chunks", 0, "checksum"), "xyz")], "hex digits", 400),
        ([(("chunks", 0, "key"), "../etc/passwd")], "'..' component", 400),
        ([(("chunks", 0, "key"), "/etc/passwd")], "leading '/'", 400),
        ([(("tasks", 0, "out", "key"), "a/../../b")], "'..' component", 400),
        ([(("tasks", 0, "out", "key"), "/tmp/x")], "leading '/'", 400),
        ([(("tasks", 0, "out", "key"), "a\nb")], "characters", 400),
        ([(("tasks", 0, "out", "key"), "x" * 201)], "longer than 200", 400),
        ([(("tasks", 0, "out", "store"), 3)], "outside", 400),
        ([(("stores", 0), "file:///tmp")], "not allowed", 403),
        ([(("stores", 0), "mem://x")], "not allowed", 403),
        ([(("tasks", 0, "node"), 1)], "outside", 400),
        ([(("tasks", 0, "ops"), [])], "reads 1 operands", 400),
        ([(("tasks", 0, "pelems"), 5)], "pelems", 400),
        ([(("tasks", 0, "map"), {"src": [0, 1], "off": [0, 0], "step": [1, 1], "fixed": [None, None]})], "map", 400),
    ]
    for changes, msg, code in cases:
        b = a
        for change in changes:
            b = mutate(b, change)
        st, rep = fstore.run(b)
        assert st == code, (changes, st, rep)
        assert msg in rep["error"], (changes, rep["error"])
    assert not (fstore.sdir / "g" / "out").exists()
    # the unmodified batch still works
    st, rep = fstore.run(a)
    assert st == 200, rep
    fstore.assert_ready()


def test_matmul_and_linalg_tasks(fstore):
    """Hand-made linear-algebra tasks: a valid product runs; every inconsistency between the
    node's parameters, the operands' extents and the output is a 400 naming it."""
    cs = {}
    for key, val, shape in (("la/a", 2.0, (3, 4)), ("la/b", 0.5, (4, 5)), ("la/s", 1.0, (4, 4))):
        st, rep = fstore.run(full_batch(key, val, shape=shape, store=fstore.store))
        assert st == 200, rep
        cs[key] = rep["outputs"][0]["checksum"]
    la = {"transpose_a": False, "transpose_b": False, "a_ndim": 2, "b_ndim": 2, "out_ndim": 2, "loop_dtype": "float64",
          "syrk": False, "blas_threads": 1, "rcond": "0"}
    chunk = lambda i, key, shape: {"store": 0, "key": key, "dtype": "float64", "shape": list(shape), "box": box(shape),
                                    "checksum": cs[key]}
    mm = {"format": "lampy.tasks", "version": 1, "stores": [fstore.store],
          "chunks": [chunk(0, "la/a", (3, 4)), chunk(1, "la/b", (4, 5))],
          "nodes": [{"kernel": "matmul", "op": "matmul", "dtype": "float64", "shape": [3, 5], "params": {"linalg": la}}],
          "tasks": [{"node": 0, "chunk": 0, "box": box((3, 5)), "out": {"store": 0, "key": "la/c", "box": box((3, 5))},
                     "ops": [{"dtype": "float64", "box": box((3, 4)), "pieces": [[0, box((3, 4))]]},
                             {"dtype": "float64", "box": box((4, 5)), "pieces": [[1, box((4, 5))]]}]}]}
    st, rep = fstore.run(mm)
    assert st == 200, rep
    assert (chunk_file_array(fstore.sdir / "la" / "c", np.float64, (3, 5)) == 4.0).all()
    L = ("nodes", 0, "params", "linalg")
    cases = [
        ([(L + ("transpose_a",), True)], "rows"),
        ([(("tasks", 0, "out", "box"), [[0, 3], [0, 4]]), (("nodes", 0, "shape"), [3, 4]), (("tasks", 0, "box"), [[0, 3], [0, 4]])],
         "columns"),
        ([(L + ("a_ndim",), 3)], "axes"),
        ([(L + ("loop_dtype",), "int32")], "loop_dtype"),
        ([(L + ("syrk",), True)], "syrk"),
        ([(L + ("blas_threads",), 100000)], "blas_threads"),
        ([(L + ("out_ndim",), 5)], "out_ndim"),
        ([(("nodes", 0, "op"), "add")], "does not run op"),
        ([(("tasks", 0, "ops"), [{"dtype": "float64", "box": box((3, 4)), "pieces": [[0, box((3, 4))]]}])], "pairs"),
        ([(("nodes", 0, "params", "reduce"), {"op": "sum", "axes": [], "in_shape": [3, 5], "ddof": 0, "acc": "float64",
                                              "fields": 1, "count": 1})], "final"),
    ]
    for changes, msg in cases:
        b = mm
        for change in changes:
            b = mutate(b, change)
        st, rep = fstore.run(b)
        assert st == 400 and msg in rep["error"], (changes, st, rep)
    # numpy.linalg: the builders' rules on placeholders of the operands
    inv = {"format": "lampy.tasks", "version": 1, "stores": [fstore.store], "chunks": [chunk(0, "la/a", (3, 4))],
           "nodes": [{"kernel": "linalg", "op": "inv", "dtype": "float64", "shape": [3, 4],
                      "params": {"linalg": dict(la, a_ndim=0, b_ndim=0)}}],
           "tasks": [{"node": 0, "chunk": 0, "box": box((3, 4)), "out": {"store": 0, "key": "la/i", "box": box((3, 4))},
                      "ops": [{"dtype": "float64", "box": box((3, 4)), "pieces": [[0, box((3, 4))]]}]}]}
    st, rep = fstore.run(inv)
    assert st == 400 and "square" in rep["error"], rep
    inv = mutate(mutate(mutate(mutate(inv, (("chunks", 0), chunk(0, "la/s", (4, 4)))), (("nodes", 0, "shape"), [4, 4])),
                        (("tasks", 0, "box"), box((4, 4)))), (("tasks", 0, "out", "box"), box((4, 4))))
    inv["tasks"][0]["ops"][0] = {"dtype": "float64", "box": box((4, 4)), "pieces": [[0, box((4, 4))]]}
    st, rep = fstore.run(inv)
    assert st == 500 and rep["status"] == "ERR_LINALG" and "Singular matrix" in rep["error"], rep
    assert not (fstore.sdir / "la" / "i").exists()
    # complex: the LAPACK ops run in complex64/128 (c / z routines), eig only there, and a
    # node's dtype is the one its builder gives its operands
    cx = mutate(mutate(inv, (("nodes", 0, "dtype"), "complex128")), (L + ("loop_dtype",), "complex128"))
    st, rep = fstore.run(mutate(mutate(inv, (("nodes", 0, "op"), "eig")), (("nodes", 0, "shape"), [5, 4])))
    assert st == 400 and "float or complex dtype" in rep["error"], rep
    st, rep = fstore.run(cx)
    assert st == 400 and "complex128" in rep["error"], rep
    fstore.assert_ready()


def test_random_mutations_never_crash(fstore):
    """Every leaf of valid batches replaced by hostile values: the worker answers (never dies,
    never writes outside its store)."""
    st, rep = fstore.run(full_batch("m/a", store=fstore.store))
    assert st == 200
    batches = [full_batch("m/b", store=fstore.store), add_batch("m/a", rep["outputs"][0]["checksum"], "m/c", store=fstore.store)]
    rng = random.Random(11)
    hostile = [-1, 0, 1, 2, 3, 7, 255, 65535, 1 << 31, -(1 << 31), (1 << 62), -(1 << 63), (1 << 63) - 1, 1.5, "nan",
               "", "..", "/", "a/../../x", None, True, [], {}, [[0, 1 << 62]], [[5, 1]], "x" * 300, [0] * 20]
    n = 0
    for b in batches:
        for path in leaves(b):
            for value in rng.sample(hostile, 6):
                st, rep = fstore.run(mutate(b, (path, value)))
                assert st in (200, 400, 403, 413, 500), (path, value, st, rep)
                n += 1
    assert n > 200
    fstore.assert_ready()


def test_http_level_abuse(fstore):
    st, _, body = fstore.request("GET", "/run/lampy")
    assert st == 405
    st, _, body = fstore.request("POST", "/run/other", b"{}")
    assert st == 404 and b"no lambda" in body
    st, _, body = fstore.request("GET", "/nothing/here")
    assert st == 404
    st, _, body = fstore.request("DELETE", "/status")
    assert st == 405
    st, rep = fstore.run({"format": "lampy.tasks", "version": 1, "stores": [], "tasks": []}, name="lampy/extra/path")
    assert st == 200 and rep["outputs"] == []
    # oversized: judged from Content-Length before anything is read
    s = socket.create_connection(("127.0.0.1", fstore.port), timeout=10)
    s.sendall(b"POST /run/lampy HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n")
    resp = s.recv(4096)
    s.close()
    assert resp.startswith(b"HTTP/1.1 413"), resp
    # oversized without Content-Length (chunked): cut off at the limit
    s = socket.create_connection(("127.0.0.1", fstore.port), timeout=10)
    s.sendall(b"POST /run/lampy HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 65536
    resp = b""
    try:
        for _ in range(40):
            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    except OSError:
        pass
    try:
        resp = s.recv(4096)
    except OSError:
        pass
    s.close()
    assert resp == b"" or resp.startswith(b"HTTP/1.1 413"), resp
    # truncated upload: the client goes away mid-body
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", fstore.port), timeout=10)
        s.sendall(b"POST /run/lampy HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{\"format\": \"lampy.tasks\", ")
        s.close()
    # a request line and headers only, then silence, does not block others
    idle = socket.create_connection(("127.0.0.1", fstore.port), timeout=10)
    idle.sendall(b"POST /run/lampy HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
    fstore.assert_ready()
    st, rep = fstore.run(full_batch("h/a", store=fstore.store))
    assert st == 200, rep
    idle.close()
    fstore.assert_ready()


def test_busy_answer_and_graceful_stop(spawn, fstore, tmp_path):
    w = spawn("--max-concurrency", "1", "--fault", "hang:1", "--allow-store", fstore.store)
    import threading
    res = {}
    t = threading.Thread(target=lambda: res.setdefault("hung", w.run(full_batch("z/a", store=fstore.store))))
    t.start()
    for _ in range(200):
        if w.stats()["inflight"] == 1:
            break
        time.sleep(0.01)
    st, rep = w.run(full_batch("z/b", store=fstore.store))
    assert st == 429 and "busy" in rep["error"], rep
    assert w.stop() == 0  # SIGTERM: the stuck batch is answered, then the worker exits
    t.join(30)
    assert res["hung"][0] == 503


# ---------------------------------------------------------------- the OpenLambda lambda


def test_openlambda_f_py(tmp_path):
    if not LIBLAMPY.exists():
        pytest.fail(f"{LIBLAMPY} does not exist: build first")
    sdir = tmp_path / "store"
    sdir.mkdir()
    script = f"""
import json, sys
sys.path.insert(0, {str(FPY_DIR)!r})
import f
batch = {json.dumps(full_batch("ol/a", 2.5, store=f"file://{sdir}"))}
print(json.dumps([f.f({{"format": "lampy.tasks", "version": 1, "stores": [], "tasks": []}}),
                  f.f({{}}), f.f(batch), f.f({{"format": "lampy.tasks", "version": 1, "stores": ["file:///etc"], "tasks": []}})]))
"""
    env = dict(os.environ, LAMPY_LIBRARY=str(LIBLAMPY), LAMPY_ALLOW_STORES=f"file://{sdir}")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    empty, bad, ok, denied = json.loads(r.stdout)
    assert empty["outputs"] == [] and "code" not in empty
    assert bad["code"] == 400 and "format" in bad["error"]
    assert ok["outputs"][0]["key"] == "ol/a"
    assert (chunk_file_array(sdir / "ol" / "a", np.float64, (3, 4)) == 2.5).all()
    assert denied["code"] == 403 and "not allowed" in denied["error"]
