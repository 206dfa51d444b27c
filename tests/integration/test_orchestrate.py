"""Orchestration by functions (docs/ORCHESTRATION.md) end to end: a real redis-server and four
`lampy worker` processes on 127.0.0.1, the driver making ONE invocation per run. Results must
equal the local executor's bit for bit (the workers plan the same plan); the request counts of
a 1,000-task run are taken at the workers and at Redis; faults (a worker killed, hung or all of
them gone, Redis flushed, chunks deleted mid-run) end with the right result or a clear error,
and never with keys of the run left in Redis. Every process a test starts is stopped in a
finalizer, also when the test fails.
"""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import confined
from lampy_procs import (LAMPY, ROOT, Worker, assert_error_as_local, assert_fisher_as_local, assert_same_as_local,
                         finish, lampy, same_array, wait_until)

TEST_OPS = LAMPY.parent / "tests" / "c" / "test_ops"
LIBLAMPY = LAMPY.parent / "liblampy.so"
FPY_DIR = ROOT / "deploy" / "openlambda" / "lampy"
TEST_LINALG = LAMPY.parent / "tests" / "c" / "test_linalg"
# fault tests: a dead or hung invocation is noticed after a lease of this many ms, a worker
# that does not accept an invocation within a second is passed over
FAST = {"LAMPY_LEASE_MS": "300", "LAMPY_INVOKE_TIMEOUT": "1"}


def start_workers(n, logdir, *extra, env=None):
    ws = []
    try:
        for _ in range(n):
            ws.append(Worker(*extra, logdir=logdir, env=env))
    except BaseException:
        for w in ws:
            w.stop()
        raise
    return ws


@pytest.fixture(scope="module")
def workers(tmp_path_factory, redis):
    ws = start_workers(4, tmp_path_factory.mktemp("workers"), *confined(redis, tmp_path_factory))
    try:
        yield ws
    finally:
        for w in ws:
            w.stop()


def orch_args(ws, store):
    return ["--executor", "lambda", "--workers", ",".join(w.url for w in ws), "--store", store, "--orchestrate", "lambda"]


def stats(ws, key):
    return sum(w.stats()[key] for w in ws)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(11)
    np.save(d / "a.npy", rng.standard_normal((300, 70)))
    np.save(d / "b.npy", rng.standard_normal((300, 70)))
    np.save(d / "c.npy", rng.standard_normal((70,)).astype(np.float32))
    np.save(d / "i.npy", rng.integers(-1000, 1000, (300, 70), dtype=np.int32))
    np.save(d / "x.npy", rng.standard_normal((1000, 1000)))
    np.save(d / "y.npy", rng.standard_normal((1000, 1000)))
    return d


# ---------------------------------------------------------------- results equal the local executor's


def conformance(env_extra):
    env = dict(os.environ, LP_TEST_DATA=str(ROOT / "tests" / "data"), LP_OPS_NO_MATRIX="1", **env_extra)
    return subprocess.run([str(TEST_OPS)], capture_output=True, text=True, env=env, timeout=1800)


def test_op_corpus(redis, workers):
    """The op conformance suite with every case a run orchestrated by the workers, compared with
    NumPy and bit for bit with the local executor."""
    assert TEST_OPS.exists(), f"{TEST_OPS} does not exist: build first"
    local = conformance({})
    remote = conformance({"LP_OPS_EXECUTOR": "lambda", "LP_OPS_ORCHESTRATE": "lambda",
                          "LP_OPS_WORKERS": ",".join(w.url for w in workers), "LP_OPS_STORE": redis.url})
    conf = lambda out: re.search(r"conformance: (\d+) cases, (\d+) failed", out).groups()
    assert conf(remote.stderr) == conf(local.stderr), remote.stderr[-3000:]
    m = re.search(r"lambda vs local: (\d+) cases, (\d+) differ", remote.stderr)
    assert m and int(m.group(1)) > 1000 and m.group(2) == "0", remote.stderr[-3000:]
    assert redis.dbsize() == 0
    assert stats(workers, "chain_tasks") > 5000


def test_linalg_corpus(redis, workers):
    """Matmul blocks, split contractions (partial products and their combine tree), syrk, and
    the numpy.linalg ops, orchestrated: NumPy's answers and the local run's bits."""
    assert TEST_LINALG.exists()
    r = subprocess.run([str(TEST_LINALG)], capture_output=True, text=True, timeout=900,
                       env=dict(os.environ, LP_TEST_DATA=str(ROOT / "tests" / "data"), LP_OPS_EXECUTOR="lambda",
                                LP_OPS_ORCHESTRATE="lambda", LP_OPS_WORKERS=",".join(w.url for w in workers),
                                LP_OPS_STORE=redis.url))
    m = re.search(r"test_linalg \(remote\): (\d+) passed, (\d+) failed", r.stdout)
    assert r.returncode == 0 and m and int(m.group(1)) > 1000 and m.group(2) == "0", (r.stdout + r.stderr)[-3000:]
    assert redis.dbsize() == 0


EXPRS = [
    ("a * b + a * 2 - b", ["--chunk-bytes", "4K"]),
    ("(a @ b.T) @ a - a * 3", ["--chunk-bytes", "8K"]),           # a matmul chain
    ("(a.T @ a) @ (a.T @ b) + (b.T @ b)", ["--chunk-bytes", "2K"]),
    ("linalg.solve(a.T @ a, (a.T @ b)[:, 0]) * c", []),
    ("a.var(axis=1, ddof=1) + (i // 7).astype(float64).mean(axis=1)", ["--chunk-bytes", "1K"]),
    ("concatenate((a, b), axis=1)[::3, 5:].argmax(axis=0)", ["--chunk-bytes", "2K"]),
]


@pytest.mark.parametrize("expr,opts", EXPRS, ids=[e for e, _ in EXPRS])
def test_eval_matches_local(expr, opts, workers, clean_store, data, tmp_path):
    assert_same_as_local(tmp_path, expr, [f"{n}={data / (n + '.npy')}" for n in "abci"], opts,
                         orch_args(workers, clean_store.url))


def test_errors_match_local(workers, clean_store, data):
    assert_error_as_local("i ** (i - i - 1)", [f"i={data / 'i.npy'}"], orch_args(workers, clean_store.url),
                          "Integers to negative integer powers are not allowed.")


def test_fisher(workers, clean_store, tmp_path):
    assert_fisher_as_local(tmp_path, orch_args(workers, clean_store.url), 40000, 10, 3, 4000)


def test_python_submit_and_wait(workers, clean_store):
    """In-memory NumPy data travels through the store; lp.submit returns at once, Run.wait
    (by id, as another process would) fetches the results."""
    script = f"""
import sys, numpy as np, lampy as lp
x = np.random.default_rng(2).standard_normal((3000, 20))
cfg = dict(chunk_bytes=16384)
with lp.config(**cfg):
    want = (lp.asarray(x).T @ lp.asarray(x)).run(), (lp.asarray(x) * 3).sum(axis=1).run()
with lp.config(executor="lambda", orchestrate="lambda", workers={",".join(w.url for w in workers)!r},
               store={clean_store.url!r}, **cfg):
    got = (lp.asarray(x).T @ lp.asarray(x)).run(), (lp.asarray(x) * 3).sum(axis=1).run()
    run = lp.submit(lp.asarray(x).T @ lp.asarray(x), (lp.asarray(x) * 3).sum(axis=1))
    print(run.id)
    sys.stdout.flush()
    later = lp.Run(sys.stdin.readline().strip()).wait()
# locally the k-pieces of x.T @ x are views of one buffer, and adjacent ones make one BLAS call;
# on workers they are separate chunks: the same sums in another order (elementwise work and
# reductions are bit for bit)
for res in (got, later):
    assert np.allclose(want[0], res[0], rtol=1e-12, atol=1e-12) and np.array_equal(want[1], res[1])
print("ok")
"""
    p = subprocess.Popen([str(ROOT / ".venv" / "bin" / "python"), "-c", script], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run_id = p.stdout.readline().strip()
        assert re.fullmatch(r"[0-9a-f]{12}", run_id), p.stderr.read()
        out, err = p.communicate(run_id + "\n", timeout=300)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0 and out.strip() == "ok", err


def test_detach_and_wait(workers, clean_store, data, tmp_path):
    expr, names = "(a * b).sum(axis=1) + a @ c.astype(float64)", [f"{n}={data / (n + '.npy')}" for n in "abc"]
    loc = lampy("eval", expr, *names, "--chunk-bytes", "2K", "-o", tmp_path / "l.npy")
    assert loc.returncode == 0, loc.stderr
    sub = lampy("eval", expr, *names, "--chunk-bytes", "2K", "--detach", *orch_args(workers, clean_store.url))
    assert sub.returncode == 0, sub.stderr
    run_id = sub.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{12}", run_id), sub.stdout
    ws = ",".join(w.url for w in workers)
    w = lampy("wait", run_id, "--workers", ws, "--store", clean_store.url, "-o", tmp_path / "r.npy")
    assert w.returncode == 0, w.stderr
    assert same_array(np.load(tmp_path / "l.npy"), np.load(tmp_path / "r.npy"))
    again = lampy("wait", run_id, "--workers", ws, "--store", clean_store.url)
    assert again.returncode == 1 and f"run {run_id}: not found" in again.stderr, again.stderr


def test_planning_is_deterministic(tmp_path, data):
    """Every worker plans a run from its document: separate processes give the same plan."""
    g = lampy("graph", "(a @ b.T) @ a + (a * b).sum(axis=0) - a.var(axis=0)", *[f"{n}={data / (n + '.npy')}" for n in "ab"],
              "--json", "-o", tmp_path / "g.json")
    assert g.returncode == 0, g.stderr
    plans = [lampy("graph", tmp_path / "g.json", "--plan", "--json", "--chunk-bytes", "4K", "--threads", "2")
             for _ in range(3)]
    assert all(p.returncode == 0 for p in plans), plans[0].stderr
    assert plans[0].stdout == plans[1].stdout == plans[2].stdout and len(plans[0].stdout) > 1000


# An OpenLambda-like host of deploy/openlambda/lampy/f.py: the Python runtime's contract (POST
# /run/<name> calls f(event) and answers 200 with its JSON when f returns), nothing else.
OL_HOST = r"""
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
sys.path.insert(0, sys.argv[1])
import f

class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ready"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        body = json.dumps(f.f(event)).encode()
        print("invoked", event.get("kind", "batch"), flush=True)
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print("listening on http://127.0.0.1:%d" % srv.server_port, flush=True)
srv.serve_forever()
"""


def test_openlambda_hosted_lambda(workers, clean_store, data, tmp_path):
    """f.py behind OpenLambda's synchronous contract takes part in an orchestrated run: it runs
    its chains before answering and invokes the others itself."""
    assert LIBLAMPY.exists()
    host = subprocess.Popen([str(ROOT / ".venv" / "bin" / "python"), "-c", OL_HOST, str(FPY_DIR)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, LAMPY_LIBRARY=str(LIBLAMPY), LAMPY_ALLOW_STORES=clean_store.url,
                                     LAMPY_LOAD_DIRS=str(data), LAMPY_WRITE_DIRS=str(tmp_path)))
    try:
        m = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)\n", host.stdout.readline())
        assert m, host.stderr.read()
        ol = type("OL", (), {"url": m.group(1)})()
        expr, names = "(a.T @ b) @ (a * 2 - b).T", [f"{n}={data / (n + '.npy')}" for n in "ab"]
        loc = lampy("eval", expr, *names, "--chunk-bytes", "2K", "-o", tmp_path / "l.npy")
        assert loc.returncode == 0, loc.stderr
        # the lambda first in the list: the driver's one invocation goes to it or after it
        for _ in range(3):
            rem = lampy("eval", expr, *names, "--chunk-bytes", "2K", "-o", tmp_path / "r.npy",
                        *orch_args([ol, workers[0], workers[1]], clean_store.url), "--max-lambdas", "6")
            assert rem.returncode == 0, rem.stderr
            assert same_array(np.load(tmp_path / "l.npy"), np.load(tmp_path / "r.npy"))
    finally:
        host.terminate()
        out, err = host.communicate(timeout=30)
    assert out.count("invoked orchestrate") >= 1, (out, err)


# ---------------------------------------------------------------- what the driver sends


def driver_ports(pid, seen, stop):
    """Local TCP ports of the process's sockets, sampled until stop is set (the kernel's view:
    nothing the process says about itself)."""
    while not stop.is_set():
        try:
            inodes = set()
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
            for table in ("tcp", "tcp6"):
                with open(f"/proc/{pid}/net/{table}") as f:
                    next(f)
                    for line in f:
                        cols = line.split()
                        if cols[9] in inodes:
                            seen.add(int(cols[1].split(":")[1], 16))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.001)


class Monitor:
    """Redis MONITOR on a connection of the test's own: it is active once Redis answers +OK
    (so nothing the driver sends later is missed), a thread reads every line as it comes (no
    client-side buffer to lose at exit), and stop() ends the stream at a marker sent on a
    second connection after the run, so every command before it has been read."""

    def __init__(self, port):
        self.port, self.lines = port, []
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.sendall(b"MONITOR\r\n")
        self.file = self.sock.makefile("rb")
        assert self.file.readline().strip() == b"+OK"
        self.marker = f"lampy-test-monitor-end-{os.getpid()}-{time.monotonic_ns()}"
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.file:
            line = raw.decode(errors="replace").rstrip("\r\n")
            if self.marker in line:
                return
            self.lines.append(line[1:] if line.startswith("+") else line)

    def stop(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as c:
            c.sendall(f"ECHO {self.marker}\r\n".encode())
            c.recv(256)
        self.reader.join(60)
        alive = self.reader.is_alive()
        self.sock.close()
        assert not alive, "the MONITOR stream did not reach its end marker"


def test_one_invocation_plus_the_wait(workers, clean_store, data, tmp_path):
    """A run of more than 1,000 tasks: the workers see exactly one invocation from the driver,
    and Redis sees from the driver's connections only the submission, the wait (a constant rate
    per second, nothing per task), the result and the cleanup."""
    expr, names = "(x * y + x * 2 - y).sum(axis=0)", [f"{n}={data / (n + '.npy')}" for n in "xy"]
    opts = ["--chunk-bytes", "8K"]
    loc = lampy("eval", expr, *names, *opts, "-o", tmp_path / "l.npy")
    assert loc.returncode == 0, loc.stderr
    before = [w.stats() for w in workers]
    monitor = Monitor(clean_store.port)
    try:
        t0 = time.monotonic()
        drv = subprocess.Popen([str(LAMPY), "eval", expr, *names, *opts, "-o", str(tmp_path / "r.npy"),
                                *orch_args(workers, clean_store.url)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
        ports, stop = set(), threading.Event()
        sampler = threading.Thread(target=driver_ports, args=(drv.pid, ports, stop))
        sampler.start()
        out, err = drv.communicate(timeout=600)
        wall = time.monotonic() - t0
        stop.set()
        sampler.join()
    finally:
        monitor.stop()
    lines = monitor.lines
    assert drv.returncode == 0, err
    assert same_array(np.load(tmp_path / "l.npy"), np.load(tmp_path / "r.npy"))
    after = [w.stats() for w in workers]
    delta = lambda key: sum(a[key] - b[key] for a, b in zip(after, before))
    tasks = delta("chain_tasks")
    assert tasks >= 1000, tasks
    # the workers: one invocation from the driver, the rest from each other
    assert sum(a["agents"]["driver"] - b["agents"]["driver"] for a, b in zip(after, before)) == 1
    assert sum(a["agents"]["other"] - b["agents"]["other"] for a, b in zip(after, before)) == 0
    assert delta("orchestrate") == sum(a["agents"]["chain"] - b["agents"]["chain"] for a, b in zip(after, before)) + 1
    # Redis: the commands on the driver's connections
    cmds = []
    for line in lines:
        m = re.match(r'\d+\.\d+ \[\d+ 127\.0\.0\.1:(\d+)\] "(\w+)"', line)
        if m and int(m.group(1)) in ports:
            cmds.append(m.group(2).upper())
    assert ports and cmds, (ports, lines[:5])
    assert set(cmds) <= {"EVALSHA", "SCRIPT", "BLPOP", "GETRANGE", "HMGET"}, set(cmds)
    assert cmds.count("GETRANGE") <= 2           # the result template and the one result chunk
    assert cmds.count("HMGET") == 1              # the result chunk's checksum
    assert cmds.count("SCRIPT") <= 3             # loading init, reap, cleanup once per process
    # the wait: a BLPOP per 0.25 s and a reap per second at most (with the submission and the
    # cleanup): a rate, whatever the number of tasks
    assert cmds.count("BLPOP") <= 2 + 5 * wall and cmds.count("EVALSHA") <= 3 + 2 * wall, (wall, cmds)


# ---------------------------------------------------------------- loops: stepped in a function

LOOPS = [
    # 100 iterations reading a file inside the body (the workers' load policy holds there too)
    ("fori_loop(0, 100, lambda i, v: v * 0.99 + a * i, a).sum(axis=0)", None),
    # a condition on a reduction: v_n = 100 (1 - 0.99^n) per element, sum over 1000 elements
    # passes 63200 at n = 100
    ("while_loop(lambda v: v.sum() < 63200, lambda v: v * 0.99 + 1, zeros(1000))", 100),
    # loops in a row (one's result is the next one's start) and nested loops
    ("while_loop(lambda v: v.max() < 50, lambda v: v + 1, fori_loop(0, 10, lambda i, v: v + b, a)) * 2", None),
    ("fori_loop(0, 4, lambda i, x: fori_loop(0, 25, lambda j, y: y * 0.5 + a * j, x) - i, b)[::7]", None),
]


@pytest.mark.parametrize("expr,iters", LOOPS, ids=[e for e, _ in LOOPS])
def test_loops_run_in_a_function(expr, iters, workers, clean_store, data, tmp_path):
    """The function that starts the run steps the loops (no driver round trip per iteration):
    the local executor's bits, and the workers count exactly one invocation from the driver."""
    names, opts = [f"{n}={data / (n + '.npy')}" for n in "ab"], ["--chunk-bytes", "8K"]
    loc = lampy("eval", expr, *names, *opts, "-o", tmp_path / "l.npy")
    assert loc.returncode == 0, loc.stderr
    before = [w.stats() for w in workers]
    rem = lampy("eval", expr, *names, *opts, "-o", tmp_path / "r.npy", *orch_args(workers, clean_store.url))
    assert rem.returncode == 0, rem.stderr
    after = [w.stats() for w in workers]
    assert same_array(np.load(tmp_path / "l.npy"), np.load(tmp_path / "r.npy"))
    agents = lambda who: sum(a["agents"][who] - b["agents"][who] for a, b in zip(after, before))
    assert agents("driver") == 1 and agents("other") == 0
    assert sum(a["orchestrate"] - b["orchestrate"] for a, b in zip(after, before)) == agents("chain") + 1
    if iters:
        v, n = np.zeros(1000), 0
        while v.sum() < 63200:
            v, n = v * 0.99 + 1, n + 1
        assert n == iters and same_array(v, np.load(tmp_path / "r.npy"))


def test_loop_errors_and_load_policy(workers, clean_store, data, tmp_path_factory):
    """A loop's own error (max_iter reached) comes back with the local executor's words; a load
    inside a loop body obeys the workers' load roots like any other load."""
    assert_error_as_local("while_loop(lambda v: v.sum() < 1e9, lambda v: v + 1, zeros(10), max_iter=100)", [],
                          orch_args(workers, clean_store.url), "max_iter (100) reached")
    outside = Path(tempfile.mkdtemp())  # not below the workers' --load-dir roots
    try:
        np.save(outside / "z.npy", np.ones(70))
        expr, names = "fori_loop(0, 3, lambda i, v: v + z, zeros(70))", [f"z={outside / 'z.npy'}"]
        assert lampy("eval", expr, *names).returncode == 0
        rem = lampy("eval", expr, *names, *orch_args(workers, clean_store.url))
        assert rem.returncode == 1 and "not below the worker's load roots" in rem.stderr, rem.stderr
    finally:
        shutil.rmtree(outside)


def test_python_while_loop(workers, clean_store):
    """lp.while_loop with in-memory NumPy data inside the body and in the carried state, under
    orchestrate="lambda": the local bits and iteration count, one invocation by the driver."""
    script = f"""
import numpy as np, lampy as lp
from lampy import _lampy
x = np.abs(np.random.default_rng(2).standard_normal((3000, 20)))
def loop():
    return lp.while_loop(lambda s: s[0].sum() < 3.0e6, lambda s: (s[0] * 0.99 + lp.asarray(x), s[1] + 1),
                         (lp.asarray(x) * 0, lp.asarray(np.int64(0))))
with lp.config(chunk_bytes=16384):
    want = _lampy.compute(*loop())
with lp.config(executor="lambda", orchestrate="lambda", workers={",".join(w.url for w in workers)!r},
               store={clean_store.url!r}, chunk_bytes=16384):
    got = _lampy.compute(*loop())
v, n = x * 0, 0
while v.sum() < 3.0e6:
    v, n = v * 0.99 + x, n + 1
assert 50 < n < 200 and want[1] == got[1] == n, (n, want[1], got[1])
assert want[0].tobytes() == got[0].tobytes() and np.allclose(v, got[0], rtol=1e-12)
print("ok")
"""
    before = [w.stats() for w in workers]
    p = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", script], capture_output=True, text=True, timeout=300)
    after = [w.stats() for w in workers]
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr
    assert sum(a["agents"]["driver"] - b["agents"]["driver"] for a, b in zip(after, before)) == 1


# ---------------------------------------------------------------- faults

SLOW = "(tanh(x) * y + exp(-x * x)).sum(axis=0) + (x - y).max(axis=0)"


@pytest.fixture(scope="module")
def slow_expected(data, tmp_path_factory):
    d = tmp_path_factory.mktemp("expected")
    r = lampy("eval", SLOW, f"x={data / 'x.npy'}", f"y={data / 'y.npy'}", "--chunk-bytes", "64K", "-o", d / "l.npy")
    assert r.returncode == 0, r.stderr
    return np.load(d / "l.npy")


def slow_run(ws, store, data, out, **kw):
    args = [str(LAMPY), "eval", SLOW, f"x={data / 'x.npy'}", f"y={data / 'y.npy'}", "--chunk-bytes", "64K", "-o", str(out),
            *orch_args(ws, store)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, **FAST), **kw)


def test_worker_killed_mid_run(spawn, clean_store, data, tmp_path, slow_expected):
    ws = [spawn("--fault", "slow:20", env=FAST) for _ in range(4)]
    victim = ws[1]
    proc = slow_run(ws, clean_store.url, data, tmp_path / "r.npy")
    try:
        assert wait_until(lambda: victim.stats()["chains_running"] >= 1 and victim.stats()["chain_tasks"] >= 2)
        assert proc.poll() is None, "the run ended before the worker could be killed"
        victim.proc.kill()  # SIGKILL: its chain and the task it ran are lost
    finally:
        out, err = finish(proc)
    assert proc.returncode == 0, err
    assert same_array(np.load(tmp_path / "r.npy"), slow_expected)


def test_redis_flushed_mid_run(spawn, clean_store, data, tmp_path, slow_expected):
    ws = [spawn("--fault", "slow:10", env=FAST) for _ in range(4)]
    proc = slow_run(ws, clean_store.url, data, tmp_path / "r.npy")
    try:
        assert wait_until(lambda: stats(ws, "chain_tasks") >= 20)
        assert proc.poll() is None
        clean_store.cli("FLUSHALL")  # every count, lease, chunk and the run document itself
    finally:
        out, err = finish(proc)
    assert proc.returncode == 0, err
    assert same_array(np.load(tmp_path / "r.npy"), slow_expected)


def test_chunks_deleted_mid_run(spawn, clean_store, data, tmp_path, slow_expected):
    """Intermediate chunks deleted while the run goes on are recomputed from their inputs."""
    ws = [spawn("--fault", "slow:10", env=FAST) for _ in range(4)]
    proc = slow_run(ws, clean_store.url, data, tmp_path / "r.npy")
    deleted = 0
    try:
        assert wait_until(lambda: clean_store.command("KEYS", "lampy/*/targets"))
        tkey = clean_store.command("KEYS", "lampy/*/targets")[0]
        meta = tkey.replace("/targets", "/meta")
        results = set(re.findall(r'"(lampy/[^"]+)"', clean_store.command("GET", tkey)))
        ntasks = int(clean_store.command("HGET", meta, "ntasks"))
        done = lambda: int(clean_store.command("HGET", meta, "ndone") or ntasks)
        while proc.poll() is None and done() < 0.8 * ntasks:
            for k in clean_store.command("KEYS", "lampy/*/[0-9]*/[0-9]*"):
                if k not in results:
                    deleted += clean_store.command("DEL", k)
            time.sleep(0.001)
    finally:
        out, err = finish(proc)
    assert proc.returncode == 0, err
    assert same_array(np.load(tmp_path / "r.npy"), slow_expected)
    assert deleted > 0 and stats(ws, "lineage") > 0, (deleted, [w.stats() for w in ws if w.proc.poll() is None])


def test_budget_over_capacity(spawn, clean_store, data, tmp_path, slow_expected):
    """A budget larger than the workers can take: invocations refused as busy (429) wait in
    the queue instead of using tries."""
    ws = [spawn("--max-concurrency", "1", env=FAST) for _ in range(2)]
    args = [str(LAMPY), "eval", SLOW, f"x={data / 'x.npy'}", f"y={data / 'y.npy'}", "--chunk-bytes", "64K", "-o",
            str(tmp_path / "r.npy"), *orch_args(ws, clean_store.url), "--max-lambdas", "12"]
    r = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ, **FAST), timeout=300)
    assert r.returncode == 0, r.stderr
    assert same_array(np.load(tmp_path / "r.npy"), slow_expected)
    # busy answers (429: an HTTP slot or a chain slot) happened, and cost the run nothing
    assert sum(w.stats()["refused"] + w.stats()["failures"] for w in ws) > 0


def test_worker_hangs(spawn, clean_store, data, tmp_path, slow_expected):
    ws = [spawn("--fault", "slow:5", env=FAST) for _ in range(3)]
    hung = spawn("--fault", "hang:1000000", env=FAST)
    t0 = time.monotonic()
    proc = slow_run([ws[0], hung, ws[1], ws[2]], clean_store.url, data, tmp_path / "r.npy")
    out, err = finish(proc)
    assert proc.returncode == 0, err
    assert same_array(np.load(tmp_path / "r.npy"), slow_expected)
    assert time.monotonic() - t0 < 120
    assert hung.stats()["inflight"] >= 1  # it was invoked and holds what it was sent
    hung.assert_ready()


def test_long_loop_keeps_its_lease(spawn, clean_store, tmp_path):
    """Loops that run for many leases (300 ms here; 5,000 iterations over 400,000 elements take
    seconds) keep the start's lease alive with the hold script: the waiting driver's reaper never
    takes the start for dead, so the driver invokes once and the loops run once."""
    ws = [spawn(env=FAST) for _ in range(3)]
    expr = "fori_loop(0, 5000, lambda i, v: v * 0.999 + 1, zeros(400000))[::1000]"
    loc = lampy("eval", expr, "-o", tmp_path / "l.npy")
    assert loc.returncode == 0, loc.stderr
    rem = lampy("eval", expr, "-o", tmp_path / "r.npy", *orch_args(ws, clean_store.url), env=FAST)
    assert rem.returncode == 0, rem.stderr
    assert same_array(np.load(tmp_path / "l.npy"), np.load(tmp_path / "r.npy"))
    assert sum(w.stats()["agents"]["driver"] for w in ws) == 1
    assert stats(ws, "loop_phases") == 1


def test_all_workers_gone(spawn, clean_store, data, tmp_path):
    """Every worker dies mid-run: the run fails with a clear error within its tries, and its
    keys are deleted."""
    ws = [spawn("--fault", "slow:20", env=FAST) for _ in range(4)]
    proc = slow_run(ws, clean_store.url, data, tmp_path / "r.npy")
    try:
        assert wait_until(lambda: stats(ws, "chain_tasks") >= 8)
        for w in ws:
            w.proc.kill()
        t0 = time.monotonic()
    finally:
        out, err = finish(proc)
    assert proc.returncode == 1
    assert re.search(r"could not be started on any worker|did not complete in \d+ leases", err), err
    assert time.monotonic() - t0 < 60


# ---------------------------------------------------------------- signed runs


def test_signed_orchestration(redis, spawn, clean_store, data, tmp_path):
    """Workers with a key take orchestrate invocations only when signed with it (the driver's
    and the chains' own invocations of each other are signed for the run's scope); an unsigned
    driver is refused and leaves nothing behind."""
    key = tmp_path / "key"
    key.write_text("a secret of enough length for lampy\n")
    key.chmod(0o600)
    ws = [spawn("--key-file", key, env=FAST) for _ in range(3)]
    a = np.load(data / "a.npy")
    expr, names = "(a * 2 - 1).sum(axis=0)", [f"a={data / 'a.npy'}"]
    ok = lampy("eval", expr, *names, "--chunk-bytes", "4K", "-o", tmp_path / "r.npy", *orch_args(ws, redis.url),
               "--key-file", key)
    assert ok.returncode == 0, ok.stderr
    np.testing.assert_allclose(np.load(tmp_path / "r.npy"), (a * 2 - 1).sum(axis=0), rtol=1e-12)
    # (/stats needs the key too, so the workers' counters are not read here: a chain whose
    # invocation of another worker is refused fails the run, which passed)
    bad = lampy("eval", expr, *names, "--chunk-bytes", "4K", *orch_args(ws, redis.url), env={"LAMPY_KEY_FILE": ""})
    assert bad.returncode != 0 and "401" in bad.stderr, bad.stderr


def test_relative_load_paths(workers, clean_store, data, tmp_path):
    """A load named relative to the driver's directory reaches the workers as an absolute path
    (they plan the run in other processes)."""
    r = subprocess.run([str(LAMPY), "eval", "(a * b).sum(axis=0)", "a=a.npy", "b=b.npy", "-o", str(tmp_path / "r.npy"),
                        *orch_args(workers, clean_store.url)], capture_output=True, text=True, cwd=data, timeout=300)
    assert r.returncode == 0, r.stderr
    want = (np.load(data / "a.npy") * np.load(data / "b.npy")).sum(axis=0)
    np.testing.assert_allclose(np.load(tmp_path / "r.npy"), want, rtol=1e-12)
    # inside a loop body (loads stay in bodies) too
    r = subprocess.run([str(LAMPY), "eval", "fori_loop(0, 3, lambda i, v: v + a, b)", "a=a.npy", "b=b.npy", "-o",
                        str(tmp_path / "r.npy"), *orch_args(workers, clean_store.url)], capture_output=True, text=True,
                       cwd=data, timeout=300)
    assert r.returncode == 0, r.stderr
    np.testing.assert_allclose(np.load(tmp_path / "r.npy"), np.load(data / "b.npy") + 3 * np.load(data / "a.npy"), rtol=1e-12)
