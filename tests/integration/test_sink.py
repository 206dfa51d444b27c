"""Result sinks (docs/ORCHESTRATION.md, "Results into a file"): with `-o FILE.npy` a remote run's
target is written by the tasks that compute it, straight into the .npy file the driver created,
in both modes (--orchestrate driver | lambda). A real redis-server and four `lampy worker`s on
127.0.0.1 whose only write root is one directory. Checked here: the file equals the local
executor's byte for byte (header included); no result chunk passes through Redis (its own byte
counters); a sink outside the write roots, or workers without one, is a clear error that leaves
nothing behind; a worker killed mid-run still gives the right file, and a run that fails leaves
no file under the final name and no temporary file beside it.
"""
import os
import re
import subprocess
import time

import numpy as np
import pytest
from lampy_procs import LAMPY, Worker, finish, lampy, wait_until

MODES = ["driver", "lambda"]
FAST = {"LAMPY_LEASE_MS": "300", "LAMPY_INVOKE_TIMEOUT": "1", "LAMPY_REMOTE_TRIES": "2"}


def worker_args(redis, tmp_path_factory, *write_dirs):
    args = ["--allow-store", redis.url, "--load-dir", str(tmp_path_factory.getbasetemp())]
    for d in write_dirs:
        args += ["--write-dir", str(d)]
    return args


@pytest.fixture(scope="module")
def wdir(tmp_path_factory):
    return tmp_path_factory.mktemp("write_root")


@pytest.fixture(scope="module")
def workers(redis, tmp_path_factory, wdir):
    logs = tmp_path_factory.mktemp("sink_workers")
    ws = []
    try:
        for _ in range(4):
            ws.append(Worker(*worker_args(redis, tmp_path_factory, wdir), logdir=logs))
        yield ws
    finally:
        for w in ws:
            w.stop()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("sink_data")
    rng = np.random.default_rng(5)
    np.save(d / "a.npy", rng.standard_normal((1000, 300)))
    np.save(d / "b.npy", rng.standard_normal((1000, 300)))
    np.save(d / "c.npy", rng.standard_normal((300,)))
    np.save(d / "x.npy", rng.standard_normal((600, 600)))
    return d


def remote(ws, store, mode):
    return ["--executor", "lambda", "--workers", ",".join(w.url for w in ws), "--store", store, "--orchestrate", mode]


def names(data, *ns):
    return [f"{n}={data / (n + '.npy')}" for n in ns]


def listing(d):
    return sorted(p.name for p in d.iterdir())


@pytest.fixture
def out_dir(wdir):
    """An empty directory below the workers' write root, emptied again afterwards."""
    d = wdir / f"t{time.monotonic_ns()}"
    d.mkdir()
    yield d
    for p in d.iterdir():
        p.unlink()
    d.rmdir()


# ---------------------------------------------------------------- the file is the local one

EXPRS = [
    ("a * b + c * 2 - a", ["--chunk-bytes", "64K"]),              # whole rows: one pwrite per chunk
    ("a.T * 2 - b.T", ["--chunk-bytes", "4K"]),                    # boxes of partial rows: a pwrite per run
    ("a.reshape(10, 100, 300)[:, 3:97, ::2] * 2", ["--chunk-bytes", "4K"]),  # 3-d boxes
    ("(a * b).sum(axis=0) + c", ["--chunk-bytes", "8K"]),          # a reduction's final level
    ("a.sum()", ["--chunk-bytes", "8K"]),                          # 0-d
    ("a > b", ["--chunk-bytes", "16K"]),                           # bool
    ("(a @ b.T)[::7] - 1", ["--chunk-bytes", "32K"]),              # a matmul under a copy
    ("concatenate((a, b), axis=1).astype(float32)", ["--chunk-bytes", "8K"]),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("expr,opts", EXPRS, ids=[e for e, _ in EXPRS])
def test_file_equals_local(expr, opts, mode, workers, clean_store, data, out_dir, tmp_path):
    ns = names(data, "a", "b", "c")
    loc = lampy("eval", expr, *ns, *opts, "-o", tmp_path / "local.npy")
    assert loc.returncode == 0, loc.stderr
    r = lampy("eval", expr, *ns, *opts, "-o", out_dir / "r.npy", *remote(workers, clean_store.url, mode))
    assert r.returncode == 0, r.stderr
    assert (out_dir / "r.npy").read_bytes() == (tmp_path / "local.npy").read_bytes()
    assert listing(out_dir) == ["r.npy"]  # no temporary file left beside it


def test_relative_output_path(workers, clean_store, data, out_dir):
    """-o relative to the driver's directory: the workers get the absolute path."""
    r = subprocess.run([str(LAMPY), "eval", "a * 3", *names(data, "a"), "--chunk-bytes", "16K", "-o", "r.npy",
                        *remote(workers, clean_store.url, "lambda")], capture_output=True, text=True, cwd=out_dir,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.load(out_dir / "r.npy"), np.load(data / "a.npy") * 3)


def test_python_save(workers, clean_store, data, out_dir):
    """lp.save of a lazy array (lp_save_array) takes the same path."""
    import lampy as lp
    a = np.load(data / "a.npy")
    for mode in MODES:
        with lp.config(executor="lambda", workers=[w.url for w in workers], store=clean_store.url, orchestrate=mode,
                       chunk_bytes="16KiB"):
            x = lp.load(data / "a.npy")
            lp.save(out_dir / f"{mode}.npy", x * 2 + 1)
        assert np.array_equal(np.load(out_dir / f"{mode}.npy"), a * 2 + 1)


# ---------------------------------------------------------------- no result chunk in Redis


def redis_bytes(redis):
    info = redis.command("INFO", "stats")
    get = lambda k: int(re.search(rf"{k}:(\d+)", info).group(1))
    return get("total_net_input_bytes"), get("total_net_output_bytes")


@pytest.mark.parametrize("mode", MODES)
def test_no_result_chunk_crosses_redis(mode, workers, clean_store, data, out_dir, tmp_path):
    """Redis's own counters of the bytes it received and sent during the run: with the sink a
    small fraction of the result (documents, scripts, checksums); with LAMPY_RESULT_SINK=0 (the
    result through the store and the driver) more than the result itself each way."""
    expr, ns = "a * b + c * 2 - a", names(data, "a", "b", "c")
    size = 1000 * 300 * 8
    seen = {}
    for sink in ("1", "0"):
        clean_store.command("CONFIG", "RESETSTAT")
        in0, out0 = redis_bytes(clean_store)
        r = lampy("eval", expr, *ns, "--chunk-bytes", "64K", "-o", out_dir / f"r{sink}.npy",
                  *remote(workers, clean_store.url, mode), env={"LAMPY_RESULT_SINK": sink})
        assert r.returncode == 0, r.stderr
        in1, out1 = redis_bytes(clean_store)
        seen[sink] = (in1 - in0, out1 - out0)
    assert seen["1"][0] < size // 8 and seen["1"][1] < size // 8, seen
    assert seen["0"][0] > size and seen["0"][1] > size, seen
    assert (out_dir / "r1.npy").read_bytes() == (out_dir / "r0.npy").read_bytes()


# ---------------------------------------------------------------- where a sink may write


@pytest.mark.parametrize("mode", MODES)
def test_sink_outside_the_write_roots(mode, workers, clean_store, data, wdir, tmp_path):
    """-o into a directory that is not below the workers' --write-dir: a clear 403, and nothing
    is written there (no result, no temporary file) nor in the write root."""
    before = listing(wdir)
    r = lampy("eval", "a * 2", *names(data, "a"), "--chunk-bytes", "16K", "-o", tmp_path / "r.npy",
              *remote(workers, clean_store.url, mode))
    assert r.returncode == 1
    assert "not below the worker's write roots (lampy worker --write-dir)" in r.stderr, r.stderr
    assert listing(tmp_path) == [] and listing(wdir) == before


@pytest.mark.parametrize("mode", MODES)
def test_workers_without_a_write_root(mode, spawn, clean_store, data, redis, tmp_path_factory, tmp_path):
    """Deny by default: workers started without --write-dir refuse every sink (403, nothing
    written); LAMPY_RESULT_SINK=0 brings the result through the store instead."""
    ws = [spawn(*worker_args(redis, tmp_path_factory), confine=False) for _ in range(2)]
    out = tmp_path / "o"
    out.mkdir()
    r = lampy("eval", "a * 2", *names(data, "a"), "--chunk-bytes", "16K", "-o", out / "r.npy",
              *remote(ws, clean_store.url, mode))
    assert r.returncode == 1 and "write roots" in r.stderr, r.stderr
    assert listing(out) == []
    r = lampy("eval", "a * 2", *names(data, "a"), "--chunk-bytes", "16K", "-o", out / "r.npy",
              *remote(ws, clean_store.url, mode), env={"LAMPY_RESULT_SINK": "0"})
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.load(out / "r.npy"), np.load(data / "a.npy") * 2)


def sink_batch(src, sink, offset, store):
    """One load task whose output goes to `sink` (docs/PROTOCOL.md, Tasks: out.file)."""
    node = {"kernel": "load", "op": "load", "dtype": "float64", "shape": [3, 4],
            "params": {"node": {"op": "load", "dtype": "float64", "shape": [3, 4], "attrs": {"path": str(src)}}}}
    task = {"node": 0, "chunk": 0, "box": [[0, 3], [0, 4]],
            "out": {"box": [[0, 3], [0, 4]], "file": str(sink), "offset": offset}, "ops": []}
    return {"format": "lampy.tasks", "version": 1, "stores": [store], "nodes": [node], "tasks": [task]}


def test_wire_sinks_are_confined(spawn, redis, tmp_path):
    """A batch naming a sink file: written below the write root; refused with the same 403
    words whether the file outside exists or not — directly, through '..' or a symlink inside
    the root — and a file too small for the result, a directory or a missing file inside the
    root are 400/404; nothing outside changes."""
    root, outside, src = tmp_path / "root", tmp_path / "outside", tmp_path / "src"
    for d in (root, outside, src):
        d.mkdir()
    x = np.arange(12.0).reshape(3, 4)
    np.save(src / "x.npy", x)
    np.save(root / "ok.npy", np.zeros((3, 4)))
    np.save(outside / "victim.npy", np.zeros((3, 4)))
    victim = (outside / "victim.npy").read_bytes()
    offset = len(victim) - 96
    os.symlink(outside / "victim.npy", root / "to_victim.npy")
    os.symlink(outside / "missing.npy", root / "to_missing.npy")
    (root / "small.npy").write_bytes(victim[:100])
    (root / "sub").mkdir()
    w = spawn("--allow-store", redis.url, "--load-dir", src, "--write-dir", root, confine=False)
    st, rep = w.run(sink_batch(src / "x.npy", root / "ok.npy", offset, redis.url))
    assert st == 200, rep
    assert "key" not in rep["outputs"][0] and rep["outputs"][0]["file"] == str(root / "ok.npy")
    assert np.array_equal(np.load(root / "ok.npy"), x)
    pairs = [(outside / "victim.npy", outside / "missing.npy"),
             (root / ".." / "outside" / "victim.npy", root / ".." / "outside" / "missing.npy"),
             (root / "to_victim.npy", root / "to_missing.npy"), ("/etc/passwd", "/etc/no-such-file")]
    for exists, missing in pairs:
        answers = []
        for p in (exists, missing):
            st, rep = w.run(sink_batch(src / "x.npy", p, offset, redis.url))
            answers.append((st, rep["error"].replace(str(p), "PATH"), rep["status"]))
        assert answers[0] == answers[1], answers
        assert answers[0][0] == 403 and answers[0][2] == "ERR_DENIED" and "write roots" in answers[0][1]
    assert (outside / "victim.npy").read_bytes() == victim
    for p, code, status in ((root / "small.npy", 400, "ERR_VALUE"), (root / "sub", 400, "ERR_VALUE"),
                            (root / "nope.npy", 500, "ERR_NOTFOUND")):  # (as a missing load file)
        st, rep = w.run(sink_batch(src / "x.npy", p, offset, redis.url))
        assert (st, rep["status"]) == (code, status), (p, st, rep)
    assert not (root / "nope.npy").exists() and (root / "small.npy").read_bytes() == victim[:100]
    # relative paths and fields that do not belong together are invalid batches
    b = sink_batch(src / "x.npy", "ok.npy", offset, redis.url)
    assert w.run(b)[0] == 400
    b = sink_batch(src / "x.npy", root / "ok.npy", offset, redis.url)
    b["tasks"][0]["out"]["store"] = 0
    assert w.run(b)[0] == 400
    assert redis.dbsize() == 0
    w.assert_ready()


# ---------------------------------------------------------------- faults

MAP = "tanh(x) * x + exp(-x * x) - x"


def slow_run(ws, store, data, out, mode):
    args = [str(LAMPY), "eval", MAP, *names(data, "x"), "--chunk-bytes", "16K", "-o", str(out),
            *remote(ws, store, mode)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, **FAST))


def tasks_run(ws):
    return sum(w.stats()["chain_tasks"] for w in ws)


def test_worker_killed_mid_run(spawn, redis, clean_store, data, out_dir, tmp_path_factory, wdir, tmp_path):
    """SIGKILL of a worker while the chains write the file: the run completes and the file is
    the local one (re-run tasks rewrite the same bytes)."""
    loc = lampy("eval", MAP, *names(data, "x"), "--chunk-bytes", "16K", "-o", tmp_path / "l.npy")
    assert loc.returncode == 0, loc.stderr
    ws = [spawn(*worker_args(redis, tmp_path_factory, wdir), "--fault", "slow:20", env=FAST, confine=False)
          for _ in range(4)]
    proc = slow_run(ws, clean_store.url, data, out_dir / "r.npy", "lambda")
    try:
        assert wait_until(lambda: ws[1].stats()["chain_tasks"] >= 2 and tasks_run(ws) >= 8)
        assert proc.poll() is None, "the run ended before the worker could be killed"
        ws[1].proc.kill()
    finally:
        out, err = finish(proc)
    assert proc.returncode == 0, err
    assert (out_dir / "r.npy").read_bytes() == (tmp_path / "l.npy").read_bytes()
    assert listing(out_dir) == ["r.npy"]


def test_failed_run_leaves_no_file(spawn, redis, clean_store, data, out_dir, tmp_path_factory, wdir):
    """Every worker killed after part of the file was written: the run fails with a clear error
    and neither the file nor its temporary is left."""
    ws = [spawn(*worker_args(redis, tmp_path_factory, wdir), "--fault", "slow:20", env=FAST, confine=False)
          for _ in range(4)]
    proc = slow_run(ws, clean_store.url, data, out_dir / "r.npy", "lambda")
    try:
        assert wait_until(lambda: tasks_run(ws) >= 8)
        assert any(p.name.startswith(".r.npy") for p in out_dir.iterdir())  # the temporary being written
        for w in ws:
            w.proc.kill()
    finally:
        out, err = finish(proc)
    assert proc.returncode == 1
    assert re.search(r"could not be started on any worker|did not complete in \d+ leases", err), err
    assert listing(out_dir) == []


def test_failed_driver_run_leaves_no_file(spawn, redis, clean_store, data, out_dir, tmp_path_factory, wdir):
    """The driver-centric mode: a kernel error fails the run after the workers wrote part of the
    file; the file is not left under its name nor as a temporary."""
    np.save(out_dir / "i.npy", np.arange(-3000, 3000, dtype=np.int64).reshape(600, 10))
    r = lampy("eval", "i ** (i // 1000)", f"i={out_dir / 'i.npy'}", "--chunk-bytes", "1K", "-o", out_dir / "r.npy",
              *remote([spawn(*worker_args(redis, tmp_path_factory, wdir), confine=False) for _ in range(2)],
                      clean_store.url, "driver"))
    assert r.returncode == 1 and "negative integer powers" in r.stderr, r.stderr
    assert listing(out_dir) == ["i.npy"]
