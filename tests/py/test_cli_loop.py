"""Loops on the command line: lambda, fori_loop and while_loop in `lampy eval`, `lampy graph`
drawing them, `lampy run GRAPH.json` (loops included) and `lampy fisher --method qda|rda`."""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from sklearn import datasets
from sklearn import discriminant_analysis as da

ROOT = Path(__file__).resolve().parents[2]
LAMPY = os.environ.get("LAMPY_BIN") or str(ROOT / "build" / "lampy")


def run(*args, cwd=None):
    return subprocess.run([LAMPY, *map(str, args)], capture_output=True, text=True, timeout=120, cwd=cwd)


def value(expr, tmp_path, *bindings):
    out = tmp_path / "out.npy"
    p = run("eval", expr, *bindings, "-o", out)
    assert p.returncode == 0, p.stderr
    return np.load(out)


@pytest.mark.parametrize("expr,want", [
    ("fori_loop(0, 10, lambda i, x: x + i, 0)", sum(range(10))),
    ("fori_loop(5, 5, lambda i, x: x * 2, 3)", 3),
    ("while_loop(lambda x: x < 100, lambda x: x * 3, 1.0)", 243.0),
    ("fori_loop(0, 5, lambda i, s: (s[0] + i, s[1] * 2), (0, 1.0))[1]", 32.0),
    ("fori_loop(0, 4, lambda i, x: fori_loop(0, 3, lambda j, y: y + i * j, x), 0)",
     sum(i * j for i in range(4) for j in range(3))),
    ("while_loop(lambda v: v.sum() > 1, lambda v: v * 0.5, ones(1000))[0]", 0.5 ** 10),
    ("(lambda a, b: a * b + 1)(3, 4)", 13),
])
def test_eval_loops(expr, want, tmp_path):
    assert value(expr, tmp_path) == want


def test_eval_loop_over_a_file(tmp_path):
    x = np.random.default_rng(0).random(1000)
    np.save(tmp_path / "x.npy", x)
    got = value("fori_loop(0, 20, lambda i, v: v * 0.9 + x * 0.1, zeros(1000))", tmp_path, f"x={tmp_path / 'x.npy'}")
    want = np.zeros(1000)
    for _ in range(20):
        want = want * 0.9 + x * 0.1
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("expr,msg", [
    ("fori_loop(0, 3, lambda i, x: x * 1.5, 1)", "body output 0 has dtype float64, carried state is int64"),
    ("while_loop(lambda x: x, lambda x: x + 1, 0)", "cond must return a boolean scalar"),
    ("fori_loop(0, 3, lambda x: x, 0)", "body_fun must take 2 arguments"),
    ("while_loop(lambda x: x > 0, lambda x: x + 1, 1, max_iter=5)", "max_iter (5) reached"),
    ("lambda x: x", "gives a function, not an array"),
    ("fori_loop(0, 3, 7, 0)", "body_fun must be a lambda"),
    ("lambda x x: 1", "expected ',' or ':' in lambda"),
])
def test_eval_loop_errors(expr, msg):
    p = run("eval", expr)
    assert p.returncode != 0
    assert msg in p.stderr, p.stderr


def test_graph_draws_loops_and_run_runs_them(tmp_path):
    expr = "fori_loop(0, 8, lambda i, v: while_loop(lambda w: w.sum() < 100 * (i + 1), lambda w: w * 1.5 + 1, v), ones(5))"
    dot = run("graph", expr)
    assert dot.returncode == 0, dot.stderr
    assert "subgraph cluster_L" in dot.stdout and 'label="body"' in dot.stdout and 'label="cond"' in dot.stdout
    assert "next 0" in dot.stdout  # the back edge
    g = tmp_path / "g.json"
    p = run("graph", expr, "--json", "-o", g)
    assert p.returncode == 0, p.stderr
    doc = json.loads(g.read_text())
    assert doc["version"] == 2 and any(n["op"] == "fori_loop" for n in doc["nodes"])
    p = run("run", g, "-o", tmp_path / "r.npy")
    assert p.returncode == 0, p.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "r.npy"), value(expr, tmp_path))
    printed = run("run", g)
    assert printed.returncode == 0 and printed.stdout.startswith("[")


def test_run_several_targets_and_errors(tmp_path):
    doc = {"format": "lampy.graph", "version": 1, "nodes": [
        {"id": 0, "op": "arange", "dtype": "float64", "shape": [4], "attrs": {"start": "0", "step": "1"}},
        {"id": 1, "op": "sum", "dtype": "float64", "shape": [], "inputs": [0], "attrs": {"axes": [0], "keepdims": False}}],
        "targets": [1, 0]}
    g = tmp_path / "two.json"
    g.write_text(json.dumps(doc))
    p = run("run", g, "-o", tmp_path / "outs")
    assert p.returncode == 0, p.stderr
    assert np.load(tmp_path / "outs" / "target0.npy") == 6.0
    np.testing.assert_array_equal(np.load(tmp_path / "outs" / "target1.npy"), np.arange(4.0))
    p = run("run", g, "--target", "1")
    assert p.returncode == 0 and p.stdout.strip() == "[0. 1. 2. 3.]"
    assert "has 2 targets" in run("run", g, "--target", "2").stderr
    assert "No such file" in run("run", tmp_path / "missing.json").stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**doc, "version": 2, "nodes": doc["nodes"] + [
        {"id": 2, "op": "while_loop", "inputs": [0], "carry": 1, "attrs": {"max_iter": 3}}]}))
    p = run("run", bad)
    assert p.returncode == 1 and "node 2 (while_loop): missing key 'cond'" in p.stderr


@pytest.mark.parametrize("method,extra,ref", [
    ("qda", [], da.QuadraticDiscriminantAnalysis()),
    ("qda", ["--reg-param", "0.1"], da.QuadraticDiscriminantAnalysis(reg_param=0.1)),
    ("rda", ["--alpha", "0"], da.LinearDiscriminantAnalysis(solver="lsqr")),
    ("rda", ["--alpha", "1", "--gamma", "0.2"], da.QuadraticDiscriminantAnalysis(solver="eigen", shrinkage=0.2)),
])
def test_fisher_methods(method, extra, ref, tmp_path):
    X, y = datasets.load_wine(return_X_y=True)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    p = run("fisher", tmp_path / "X.npy", tmp_path / "y.npy", "--method", method, *extra)
    assert p.returncode == 0, p.stderr
    acc = float(next(l for l in p.stdout.splitlines() if l.startswith("accuracy")).split()[1])
    assert acc == pytest.approx(ref.fit(X, y).score(X, y), abs=1e-6)
    assert "classes     3: 0 1 2" in p.stdout


def test_fisher_method_usage_errors(tmp_path):
    X, y = datasets.load_iris(return_X_y=True)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    for args, msg in [(["--method", "qda", "--save", "m.npy"], "--save is for --method lda"),
                      (["--alpha", "0.5"], "are for --method qda and rda"),
                      (["--method", "rda", "--alpha", "2"], "--alpha needs a number in [0, 1]"),
                      (["--method", "svm"], "--method")]:
        p = run("fisher", tmp_path / "X.npy", tmp_path / "y.npy", *args)
        assert p.returncode == 2 and msg in p.stderr, p.stderr
