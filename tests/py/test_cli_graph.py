"""`lampy graph`, `lampy estimate`, `lampy calibrate` and the run report, trace and progress bar
of `lampy eval`."""
import json
import os
import pty
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
LAMPY = os.environ.get("LAMPY_BIN") or str(ROOT / "build" / "lampy")
HAVE_DOT = shutil.which("dot") is not None


def run(*args, env=None, timeout=120):
    return subprocess.run([LAMPY, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("graph")
    rng = np.random.default_rng(3)
    np.save(d / "a.npy", rng.random((2000, 8)))
    np.save(d / "b.npy", rng.random((2000, 8)))
    return d


@pytest.fixture(autouse=True)
def no_user_profile(tmp_path, monkeypatch):
    # estimates use the built-in profile unless a test gives one
    monkeypatch.setenv("LAMPY_PROFILE", str(tmp_path / "no-profile.json"))


EXPR = "where(a > 0.5, sqrt(a), -b).mean(axis=0) + sum((a - b) ** 2)"


def test_json_round_trip(data, tmp_path):
    g = tmp_path / "g.json"
    p = run("graph", EXPR, f"a={data/'a.npy'}", f"b={data/'b.npy'}", "--json", "-o", g)
    assert p.returncode == 0, p.stderr
    doc = json.loads(g.read_text())
    assert doc["format"] == "lampy.graph" and doc["version"] == 1
    ops = [n["op"] for n in doc["nodes"]]
    assert ops.count("load") == 2 and "where" in ops and "mean" in ops
    again = run("graph", g, "--json")
    assert again.returncode == 0, again.stderr
    assert again.stdout == g.read_text()


def test_plan_json(data):
    p = run("graph", "sum(a * b)", f"a={data/'a.npy'}", f"b={data/'b.npy'}", "--json", "--plan", "--chunk-bytes", "32K")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["format"] == "lampy.plan"
    kernels = {n["kernel"] for n in doc["pnodes"]}
    assert {"load", "partial", "combine"} <= kernels
    assert len(doc["tasks"]) > 4
    assert all("ops" in t and "consumers" in t for t in doc["tasks"])


@pytest.mark.parametrize("plan", [False, True])
def test_dot_and_svg(data, tmp_path, plan):
    extra = ["--plan"] if plan else []
    p = run("graph", EXPR, f"a={data/'a.npy'}", f"b={data/'b.npy'}", "--dot", *extra)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("digraph")
    d = subprocess.run(["dot", "-Tsvg"], input=p.stdout, capture_output=True, text=True)
    assert d.returncode == 0, d.stderr
    svg = tmp_path / "g.svg"
    p = run("graph", EXPR, f"a={data/'a.npy'}", f"b={data/'b.npy'}", "--svg", "-o", svg, *extra)
    assert p.returncode == 0, p.stderr
    assert "<svg" in svg.read_text()


def test_svg_without_graphviz(data, tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))  # an empty directory: no `dot`
    p = run("graph", "a + 1", f"a={data/'a.npy'}", "--svg", env=env)
    assert p.returncode == 1
    assert "Graphviz's 'dot'" in p.stderr and "--dot" in p.stderr


def test_graph_errors(data, tmp_path):
    p = run("graph")
    assert p.returncode == 2 and "missing EXPR" in p.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "lampy.graph", "version": 1, "nodes": [], "targets": [3]}')
    p = run("graph", bad)
    assert p.returncode == 1 and "target 3 does not exist" in p.stderr
    p = run("graph", "a + q", f"a={data/'a.npy'}")
    assert p.returncode == 1 and "name 'q' is not defined" in p.stderr


def test_estimate(data):
    p = run("estimate", EXPR, f"a={data/'a.npy'}", f"b={data/'b.npy'}", "--workers", "2")
    assert p.returncode == 0, p.stderr
    assert "not calibrated" in p.stdout
    assert "predicted total with 2 workers" in p.stdout and "critical path" in p.stdout
    j = json.loads(run("estimate", EXPR, f"a={data/'a.npy'}", f"b={data/'b.npy'}", "--json").stdout)
    assert j["total_seconds"] > 0 and j["critical_seconds"] <= j["total_seconds"] * 1.0001
    assert any(n["critical"] for n in j["nodes"])
    one = json.loads(run("estimate", EXPR, f"a={data/'a.npy'}", f"b={data/'b.npy'}", "--json", "--workers", "1").stdout)
    assert one["total_seconds"] >= j["total_seconds"] * 0.999
    remote = json.loads(run("estimate", EXPR, f"a={data/'a.npy'}", f"b={data/'b.npy'}", "--json", "--remote").stdout)
    assert remote["remote"] and remote["total_seconds"] > j["total_seconds"]


def test_calibrate_and_profile(data, tmp_path):
    prof = tmp_path / "profile.json"
    p = run("calibrate", "--quick", "--profile", prof, timeout=300)
    assert p.returncode == 0, p.stderr
    doc = json.loads(prof.read_text())
    assert doc["calibrated"] is True and doc["mem_bw_1stream"] > 0 and doc["task_overhead_s"] > 0
    # one measurement of the overhead per task: the probe's, which the profile keeps
    probed = re.search(r"task overhead .*?, ([0-9.]+) us wall x", p.stderr)
    kept = re.search(r"overheads .*?([0-9.]+) us per task \(the probe's", p.stderr)
    assert probed and kept and probed.group(1) == kept.group(1), p.stderr
    assert abs(doc["task_overhead_s"] * 1e6 - float(probed.group(1))) <= 0.0051
    assert doc["op_seconds"]["add"] > 0 and doc["axis_reduce_seconds"]["sum"] > 0
    # saving a file was measured (the built-in figures are 2e9, 200e6 and 10e-3)
    assert "saving a file" in p.stderr
    for k, dflt in (("file_write_bw", 2e9), ("file_sync_bw", 200e6), ("file_commit_s", 10e-3)):
        assert doc[k] > 0 and doc[k] != dflt, (k, doc[k])
    e = run("estimate", "sum(a)", f"a={data/'a.npy'}", "--profile", prof)
    assert e.returncode == 0 and "not calibrated" not in e.stdout, e.stdout + e.stderr
    env = dict(os.environ, LAMPY_PROFILE=str(prof))
    e = run("estimate", "sum(a)", f"a={data/'a.npy'}", env=env)
    assert "not calibrated" not in e.stdout


def test_report_and_trace(data, tmp_path):
    t = tmp_path / "trace.json"
    p = run("eval", "sum((a - b) ** 2, axis=1)", f"a={data/'a.npy'}", f"b={data/'b.npy'}", "--report", "--trace", t,
            "--chunk-bytes", "16K", "-o", tmp_path / "out.npy")
    assert p.returncode == 0, p.stderr
    assert "predicted time" in p.stderr and "utilisation" in p.stderr and "bytes written" in p.stderr
    tasks = int(next(l for l in p.stderr.splitlines() if l.startswith("tasks")).split()[1])
    doc = json.loads(t.read_text())
    spans = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert len(spans) == tasks
    assert sorted(e["args"]["task"] for e in spans) == list(range(tasks))
    assert all({"op", "chunk", "bytes_in", "bytes_out"} <= set(e["args"]) for e in spans)
    names = [e for e in doc["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"]
    assert {e["tid"] for e in spans} <= {e["tid"] for e in names}
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"),
                               ((np.load(data / "a.npy") - np.load(data / "b.npy")) ** 2).sum(axis=1))


def run_pty(args, timeout=120):
    """Run lampy with stderr on a pseudo-terminal; returns (returncode, stderr text)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([LAMPY, *map(str, args)], stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL,
                         env=dict(os.environ, LAMPY_PROGRESS_AFTER="0"))
    os.close(slave)
    out = b""
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    rc = p.wait(timeout=timeout)
    os.close(master)
    return rc, out.decode(errors="replace")


# creation by Philox + Box-Muller on one thread: seconds, whatever the vector units
SLOW = "sum(random.normal((60000000,), seed=1))"


def test_progress_bar_on_a_terminal_only():
    # not a terminal: never (and this run tells how long the expression takes here)
    p = run("eval", SLOW, "--threads", "1", env=dict(os.environ, LAMPY_PROGRESS_AFTER="0"))
    assert p.returncode == 0 and p.stderr == ""
    # on a terminal the bar is drawn (from the start: LAMPY_PROGRESS_AFTER=0), then cleared
    rc, err = run_pty(["eval", SLOW, "--threads", "1"])
    assert rc == 0, err
    assert "tasks" in err and "[#" in err and "\x1b[K" in err
    rc, err = run_pty(["eval", SLOW, "--threads", "1", "--no-progress"])
    assert rc == 0 and "tasks" not in err and "[#" not in err


BIG = "sum(arange(4000000) * 0.5)"  # 32 MB: large enough for the planner to read the profile


def no_profile_env(home):
    env = {k: v for k, v in os.environ.items() if k != "LAMPY_PROFILE"}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"))
    return env


def test_profile_chunk_bytes_chooses_the_grid(tmp_path):
    """The automatic chunk size of a large array is the profile's chunk_bytes (a hand-made
    version 3 profile); results agree to rounding whatever the chunking."""
    grids, values = {}, {}
    for cb in (1 << 20, 4 << 20):
        prof = tmp_path / f"p{cb}.json"
        prof.write_text(json.dumps({"format": "lampy.profile", "version": 3, "chunk_bytes": cb}))
        p = run("graph", "arange(4000000) * 0.5", "--plan", "--json", "--profile", prof)
        assert p.returncode == 0, p.stderr
        grids[cb] = json.loads(p.stdout)["pnodes"][0]["grid"][0]
        v = run("eval", BIG, env=dict(os.environ, LAMPY_PROFILE=str(prof)))
        assert v.returncode == 0, v.stderr
        values[cb] = float(v.stdout)
    assert grids[1 << 20][:3] == [0, 131072, 262144] and len(grids[1 << 20]) == 32
    assert grids[4 << 20][:3] == [0, 250000, 500000] and len(grids[4 << 20]) == 17  # 16 chunks: under the cap
    ref = float(np.sum(np.arange(4000000) * 0.5))
    for v in values.values():
        assert abs(v - ref) <= 1e-12 * ref


def test_first_run_probes_once_and_caches(tmp_path):
    """No profile anywhere: the first run that plans a large array probes the machine and saves
    the result where `lampy calibrate` would; the next run reads it."""
    env = no_profile_env(tmp_path)
    prof = tmp_path / "config" / "lampy" / "profile.json"
    small = run("eval", "sum(arange(1000))", env=env)
    assert small.returncode == 0 and small.stdout.strip() == "499500", small.stderr
    assert not prof.exists()  # nothing large planned: no probe
    p = run("eval", BIG, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert float(p.stdout) == pytest.approx(float(np.sum(np.arange(4000000) * 0.5)), rel=1e-12)
    doc = json.loads(prof.read_text())
    assert doc["version"] == 8 and doc["probed"] is True and doc["calibrated"] is False
    assert doc["chunk_bytes"] in [1 << k for k in range(20, 26)]
    assert isinstance(doc["huge_pages"], bool) and isinstance(doc["nt_stores"], bool)
    assert doc["mem_bw_1stream"] >= doc["mem_bw_1core_1stream"] > 0 and doc["fresh_bw_1worker"] > 0
    assert 0 < doc["fresh_bw_per_worker"] <= doc["fresh_bw_1worker"]
    before = prof.stat().st_mtime_ns
    again = run("eval", BIG, env=env)
    assert again.returncode == 0 and again.stdout == p.stdout, again.stderr
    assert prof.stat().st_mtime_ns == before
    e = run("estimate", BIG, env=env)
    assert "probed automatically" in e.stdout and "not calibrated" in e.stdout


@pytest.mark.parametrize("how", ["chunk-bytes", "LAMPY_PROFILE"])
def test_no_probe_when_chunks_or_profile_given(tmp_path, how):
    """The user's chunk size, or LAMPY_PROFILE naming a profile (even a missing one: the built-in
    figures), turns the probe off."""
    env = no_profile_env(tmp_path)
    opts = []
    if how == "chunk-bytes":
        opts = ["--chunk-bytes", "1M"]
    else:
        env["LAMPY_PROFILE"] = str(tmp_path / "missing.json")
    p = run("eval", BIG, *opts, env=env)
    assert p.returncode == 0, p.stderr
    assert not (tmp_path / "config" / "lampy" / "profile.json").exists()
    assert not (tmp_path / "missing.json").exists()


def test_threads_from_the_probed_bandwidth(data, tmp_path):
    """A probed profile whose second worker adds no read bandwidth runs memory-bound plans on one
    thread (compute-bound ones, and any worker count the user sets, keep every core); the same
    bits either way."""
    a = np.random.default_rng(4).random(2_000_000)  # far from the caches: memory-bound sums
    np.save(tmp_path / "a.npy", a)
    ncores = len(os.sched_getaffinity(0))
    prof = tmp_path / "p.json"
    for scale, expr, extra, want in [
            (1.0, "sum(a)", [], 1),
            (1.0, "sum(sin(exp(cos(a))))", [], ncores),
            (1.0, "sum(a)", ["--threads", "2"], 2),
            (2.0, "sum(a)", [], ncores)]:
        prof.write_text(json.dumps({"version": 3, "probed": True, "mem_bw_1core_1stream": 1e10,
                                    "mem_bw_1stream": 1e10 * scale}))
        out = tmp_path / "o.npy"
        p = run("eval", expr, f"a={tmp_path/'a.npy'}", "--chunk-bytes", "1M", "--report", "-o", out, *extra,
                env=dict(os.environ, LAMPY_PROFILE=str(prof)))
        assert p.returncode == 0, p.stderr
        assert f" on {want} threads" in p.stderr, (expr, scale, p.stderr)
        ref = a.sum() if "sin" not in expr else np.sin(np.exp(np.cos(a))).sum()
        np.testing.assert_allclose(np.load(out), ref, rtol=1e-12)
