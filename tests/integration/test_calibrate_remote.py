"""The remote cost model measured, not assumed: `lampy calibrate --executor lambda` against a real
redis-server and `lampy worker`s on 127.0.0.1 writes measured remote figures into the profile,
and `lampy estimate --executor lambda` predicts with them. Predictions are checked against hand
computations of the model (docs/ARCHITECTURE.md, "Cost model"), never against timings."""
import json
import math
import os
import re

import numpy as np
import pytest
from lampy_procs import lampy

# The built-in remote figures (src/plan/cost.c, lpi_profile_default): a measured profile must
# differ from every one of them.
DEFAULTS = {"net_bw": 100e6, "store_put_bw": 100e6, "rtt_s": 1e-3, "invoke_s": 20e-3, "remote_parallelism": 1024,
            "remote_overhead_parallelism": 64, "orch_run_s": 50e-3, "orch_task_s": 2e-3, "driver_run_s": 20e-3,
            "driver_task_s": 200e-6, "orch_lambda_s": 1e-3, "remote_first_s": 5e-3, "orch_input_s": 1e-3}


@pytest.fixture(scope="module")
def measured(tmp_path_factory, redis):
    """One remote calibration through two workers: (profile path, its JSON, the calibrate output)."""
    from conftest import confined_workers
    d = tmp_path_factory.mktemp("calibrate")
    with confined_workers(2, redis, tmp_path_factory, d) as ws:
        prof = d / "profile.json"
        p = lampy("calibrate", "--executor", "lambda", "--workers", ",".join(w.url for w in ws), "--store", redis.url,
                  "--profile", prof, "--quick", "--load-dir", d, timeout=300)
        assert p.returncode == 0, p.stderr
        yield prof, json.loads(prof.read_text()), p.stderr


def test_calibration_measures_the_remote_figures(measured, redis):
    prof, doc, log = measured
    assert doc["format"] == "lampy.profile" and doc["version"] == 8 and doc["remote_calibrated"] is True
    for k, dflt in DEFAULTS.items():
        v = doc[k]
        assert isinstance(v, (int, float)) and math.isfinite(v) and v > 0, (k, v)
        assert v != dflt, f"{k} kept its built-in value {dflt}"
    # two workers with two lambdas each: at most the budget of 4 run at once; the workers are on
    # this machine (loopback), so at most its cores compute at once
    assert 1 <= doc["remote_parallelism"] <= min(4, os.cpu_count()) and 1 <= doc["remote_overhead_parallelism"] <= 4
    assert "store" in log and "invocation" in log and "orchestrated" in log and "driver-centric" in log
    assert "paired with one local worker" in log
    assert "first run" in log and "per lambda a run spreads to" in log and "per lambda and file input" in log
    # with --load-dir, the rate the lambdas read a file's rows at, measured through the workers
    # (no built-in value: a profile without it prices those reads with the local load_bw_1worker)
    v = doc["remote_load_bw"]
    assert isinstance(v, float) and 1e8 <= v <= 1e12 and "file rows read at" in log, (v, log)
    # and (the workers may write there: --write-dir) the rate a task writes its output into a
    # result sink's file at, one at a time while the others compute, measured through them: a
    # figure of its own, between 10 MB/s and the 1 TB/s the fit stops at, not the local one (no
    # built-in value: a profile without it prices those writes with file_write_bw)
    w = doc["remote_write_bw"]
    assert isinstance(w, float) and 1e7 < w < 1e12 and w != doc["file_write_bw"], (w, log)
    assert "file output written at" in log and "not measured" not in log, log
    # the figures that moved most between calibrations when their rounds ran back to back are
    # sampled through the whole calibration: the 2-task run (9 rounds with --quick), the
    # compute-bound graph (5), the file's rows and the writes into a file (one round each at
    # each of the 10 ticks)
    spread = re.findall(r"(\d+) rounds spread\s+through\s+the\s+calibration", log)
    assert spread == ["9", "5", "10", "10"], log
    # the input files it measured with, and the files it wrote, are gone
    assert not list(prof.parent.glob("*lampy-calibrate-*"))
    # the calibration's runs and chunks leave nothing in the store
    assert redis.dbsize() == 0, redis.cli("KEYS", "*")


def test_calibration_failure_keeps_the_profile(measured, redis, tmp_path):
    """A worker that cannot be reached: a clear error, and the profile file is not touched."""
    prof, doc, _ = measured
    keep = tmp_path / "keep.json"
    keep.write_text(prof.read_text())
    p = lampy("calibrate", "--workers", "http://127.0.0.1:9", "--store", redis.url, "--profile", keep, "--quick")
    assert p.returncode == 1 and "remote calibration" in p.stderr and "127.0.0.1:9" in p.stderr, p.stderr
    assert json.loads(keep.read_text()) == doc
    assert redis.dbsize() == 0, redis.cli("KEYS", "*")


def estimate(prof, expr, names, *opts):
    p = lampy("estimate", expr, *names, "--profile", prof, "--executor", "lambda", "--json", *opts)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def with_changes(tmp_path, doc, name, **changes):
    d = dict(doc)
    d.update(changes)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(d))
    return path


@pytest.fixture
def x(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(3).standard_normal(1 << 16))
    return [f"x={path}"]


def remote_tasks(est):
    """Tasks a remote run executes: loads are read by their consumers."""
    return sum(n["tasks"] for n in est["nodes"] if n["kernel"] != "load")


def close(a, b, total):
    # estimates print 6 significant digits: each total is off by at most 5e-6 of itself
    return abs(a - b) <= 1e-5 * total + 1e-12


def test_estimate_uses_the_measured_figures(measured, tmp_path, x):
    prof, doc, _ = measured
    orch = ["--orchestrate", "lambda", "--max-lambdas", "1"]
    base = estimate(prof, "x * 2 + 1", x, *orch)
    n = remote_tasks(base)
    assert n >= 1 and base["total_seconds"] > 0

    # the orchestrated run makes one invocation: twice the invocation, one more of it
    p2 = with_changes(tmp_path, doc, "invoke", invoke_s=2 * doc["invoke_s"])
    t = estimate(p2, "x * 2 + 1", x, *orch)["total_seconds"]
    assert close(t - base["total_seconds"], doc["invoke_s"], t)

    # one lambda runs the tasks one after another: each task's chain overhead once more
    p2 = with_changes(tmp_path, doc, "task", orch_task_s=2 * doc["orch_task_s"])
    t = estimate(p2, "x * 2 + 1", x, *orch)["total_seconds"]
    assert close(t - base["total_seconds"], n * doc["orch_task_s"], t)

    # every output chunk is put in the store: half the put bandwidth, the result's bytes once more
    p2 = with_changes(tmp_path, doc, "put", store_put_bw=doc["store_put_bw"] / 2)
    t = estimate(p2, "x * 2 + 1", x, *orch)["total_seconds"]
    assert close(t - base["total_seconds"], 8 * (1 << 16) / doc["store_put_bw"], t)

    # each task reads its rows of x itself at the measured rate: half of it, x's bytes once more
    p2 = with_changes(tmp_path, doc, "read", remote_load_bw=doc["remote_load_bw"] / 2)
    t = estimate(p2, "x * 2 + 1", x, *orch)["total_seconds"]
    assert close(t - base["total_seconds"], 8 * (1 << 16) / doc["remote_load_bw"], t)

    # saved with -o, each task writes its chunk into the file at the measured rate (one lambda:
    # one after another): half of it, the result's bytes once more
    out = tmp_path / "out.npy"
    s0 = estimate(prof, "x * 2 + 1", x, *orch, "-o", out)["total_seconds"]
    p2 = with_changes(tmp_path, doc, "write", remote_write_bw=doc["remote_write_bw"] / 2)
    t = estimate(p2, "x * 2 + 1", x, *orch, "-o", out)["total_seconds"]
    assert close(t - s0, 8 * (1 << 16) / doc["remote_write_bw"], t)

    # the fixed cost of a run is added once, orchestrated and driver-centric
    p2 = with_changes(tmp_path, doc, "run", orch_run_s=2 * doc["orch_run_s"], driver_run_s=2 * doc["driver_run_s"])
    t = estimate(p2, "x * 2 + 1", x, *orch)["total_seconds"]
    assert close(t - base["total_seconds"], doc["orch_run_s"], t)
    d0 = estimate(prof, "x * 2 + 1", x, "--orchestrate", "driver")["total_seconds"]
    d1 = estimate(p2, "x * 2 + 1", x, "--orchestrate", "driver")["total_seconds"]
    assert close(d1 - d0, doc["driver_run_s"], d1)


def test_parallelism_bounds_the_lambdas(measured, tmp_path):
    """A wide graph of equal tasks: with the budget above the measured parallelism P, the tasks
    run P at a time at full speed, so a budget of 1 takes P times as long for them; a larger
    budget only adds what spreading the run's start over more lambdas costs (128 tasks ready at
    the start, the arange's chunks: a budget of 64 starts 62 lambdas more than a budget of 2)."""
    prof, doc, _ = measured
    expr, opts = "(arange(65536) * 0.5 + 1).sum()", ["--chunk-bytes", "4K", "--orchestrate", "lambda"]
    p2 = with_changes(tmp_path, doc, "par", remote_parallelism=2.0, orch_lambda_s=2e-4)
    one = estimate(p2, expr, [], *opts, "--max-lambdas", "1")
    many = estimate(p2, expr, [], *opts, "--max-lambdas", "64")
    two = estimate(p2, expr, [], *opts, "--max-lambdas", "2")
    assert close(many["total_seconds"] - two["total_seconds"], 62 * 2e-4, many["total_seconds"])
    assert one["total_seconds"] > two["total_seconds"]


def test_version_1_profiles_still_load(tmp_path, x):
    v1 = tmp_path / "v1.json"
    v1.write_text(json.dumps({"format": "lampy.profile", "version": 1, "net_bw": 5e8, "rtt_s": 1e-4, "invoke_s": 1e-3}))
    v1b = tmp_path / "v1b.json"
    v1b.write_text(json.dumps({"format": "lampy.profile", "version": 1, "net_bw": 5e8, "rtt_s": 1e-4, "invoke_s": 2e-3}))
    orch = ["--orchestrate", "lambda"]
    a, b = estimate(v1, "x * 2", x, *orch), estimate(v1b, "x * 2", x, *orch)
    assert close(b["total_seconds"] - a["total_seconds"], 1e-3, b["total_seconds"])
    v9 = tmp_path / "v9.json"
    v9.write_text(json.dumps({"format": "lampy.profile", "version": 9}))
    p = lampy("estimate", "x * 2", *x, "--profile", v9)
    assert p.returncode != 0 and "unsupported profile version" in p.stderr


def test_load_dir_is_for_the_workers(tmp_path):
    """--load-dir names the workers' load root: without the lambda executor it is a usage error."""
    p = lampy("calibrate", "--load-dir", tmp_path, "--no-save")
    assert p.returncode == 2 and "--load-dir is for the lambda executor" in p.stderr, p.stderr
