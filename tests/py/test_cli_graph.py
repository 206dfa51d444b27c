"""`lampy graph`, `lampy estimate`, `lampy calibrate` and the run report, trace and progress bar
of `lampy eval`."""
import json
import os
import pty
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
    assert doc["op_seconds"]["add"] > 0 and doc["axis_reduce_seconds"]["sum"] > 0
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
