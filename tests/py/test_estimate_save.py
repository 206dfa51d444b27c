"""`lampy estimate -o FILE.npy` prices what `lampy eval -o` does (issue 12): the result's
writes, the file's sync and rename; remotely the tasks write it (result sinks) instead of the
store and the driver. Every prediction is checked against a hand computation of the model
(docs/PERFORMANCE.md, "Cost model") from a fixed profile, never against a timing."""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
LAMPY = os.environ.get("LAMPY_BIN") or str(ROOT / "build" / "lampy")

N = 1 << 16           # float64 elements of x: 512 KiB
CHUNK = 64 << 10      # --chunk-bytes: 8 chunks
# a version 4 profile with figures chosen so that no two terms coincide
PROFILE = {"format": "lampy.profile", "version": 4, "calibrated": True, "remote_calibrated": True,
           "net_bw": 3e8, "store_put_bw": 5e8, "rtt_s": 7e-5, "invoke_s": 4e-4, "remote_parallelism": 2.0,
           "remote_overhead_parallelism": 3.0, "orch_run_s": 1.5e-3, "orch_task_s": 9e-5, "driver_run_s": 2.5e-3,
           "driver_task_s": 1e-7, "fresh_bw_1worker": 4e9, "file_write_bw": 1.5e9, "file_sync_bw": 2.5e8,
           "file_commit_s": 6e-3, "remote_first_s": 3e-3, "orch_lambda_s": 1.1e-3}


def run(*args, env=None):
    return subprocess.run([LAMPY, *map(str, args)], capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def x(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(5).standard_normal(N))
    return f"x={path}"


def profile(tmp_path, name="p", **changes):
    d = dict(PROFILE, **changes)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(d))
    return path


def estimate(prof, x, *opts, env_sink=None):
    env = dict(os.environ, LAMPY_PROFILE=str(prof))
    env.pop("LAMPY_RESULT_SINK", None)
    if env_sink is not None:
        env["LAMPY_RESULT_SINK"] = env_sink
    p = run("estimate", "x * 2 + 1", x, "--chunk-bytes", CHUNK, "--json", *opts, env=env)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def close(a, b):
    # estimates print 6 significant digits
    assert abs(a - b) <= 2e-5 * max(abs(a), abs(b)) + 1e-12, (a, b)


def save_by_driver(p):
    """The driver writes the whole result into the page cache, then the commit."""
    b = 8 * N
    return b / p["file_write_bw"] + b / p["file_sync_bw"] + p["file_commit_s"]


def test_local_save_is_priced(tmp_path, x):
    prof = profile(tmp_path)
    base = estimate(prof, x, "--workers", "1")
    saved = estimate(prof, x, "--workers", "1", "-o", tmp_path / "out.npy")
    close(saved["save_seconds"], save_by_driver(PROFILE))
    close(saved["total_seconds"] - base["total_seconds"], save_by_driver(PROFILE))
    assert "save_seconds" not in base
    # the text output says it too
    p = run("estimate", "x * 2 + 1", x, "--workers", "1", "-o", tmp_path / "out.npy",
            env=dict(os.environ, LAMPY_PROFILE=str(prof)))
    assert p.returncode == 0 and "saving into" in p.stdout and "out.npy" in p.stdout, p.stdout + p.stderr


@pytest.mark.parametrize("orchestrate", ["lambda", "driver"])
def test_remote_sink_replaces_the_store_traffic(tmp_path, x, orchestrate):
    """One lambda (the tasks one after another): with -o each output chunk is written into the
    file (pwrite into the page cache) instead of a put and its round trip, nothing is gathered,
    and the run ends with the file's sync and commit."""
    prof = profile(tmp_path)
    opts = ["--executor", "lambda", "--orchestrate", orchestrate, "--max-lambdas", "1"]
    base = estimate(prof, x, *opts)
    sunk = estimate(prof, x, *opts, "-o", tmp_path / "out.npy")
    p, b, chunks = PROFILE, CHUNK, N * 8 // CHUNK
    per_task = b / p["file_write_bw"] - (b / p["store_put_bw"] + p["rtt_s"])
    gather = p["rtt_s"] + b / p["net_bw"] + b / p["fresh_bw_1worker"]
    commit = 8 * N / p["file_sync_bw"] + p["file_commit_s"]
    close(sunk["save_seconds"], commit)
    close(sunk["total_seconds"] - base["total_seconds"], chunks * (per_task - gather) + commit)
    # LAMPY_RESULT_SINK=0: the result through the store and the driver, which writes the file
    through = estimate(prof, x, *opts, "-o", tmp_path / "out.npy", env_sink="0")
    close(through["total_seconds"] - base["total_seconds"], save_by_driver(p))


def test_spreading_and_first_run_are_charged(tmp_path, x):
    """Orchestrated: each lambda beyond the first that the run's ready tasks spread to costs
    orch_lambda_s (8 chunks ready, a budget of 4: 3 of them); a process's first remote run
    remote_first_s, once, in both modes."""
    prof = profile(tmp_path)
    orch = ["--executor", "lambda", "--orchestrate", "lambda", "--max-lambdas", "4"]
    base = estimate(prof, x, *orch)
    more = estimate(profile(tmp_path, "lam", orch_lambda_s=2 * PROFILE["orch_lambda_s"]), x, *orch)
    close(more["total_seconds"] - base["total_seconds"], 3 * PROFILE["orch_lambda_s"])
    one = ["--executor", "lambda", "--orchestrate", "lambda", "--max-lambdas", "1"]
    a = estimate(prof, x, *one)
    b = estimate(profile(tmp_path, "lam1", orch_lambda_s=2 * PROFILE["orch_lambda_s"]), x, *one)
    close(a["total_seconds"], b["total_seconds"])
    first = profile(tmp_path, "first", remote_first_s=2 * PROFILE["remote_first_s"])
    for mode in ("lambda", "driver"):
        o = ["--executor", "lambda", "--orchestrate", mode, "--max-lambdas", "4"]
        t0, t1 = estimate(prof, x, *o)["total_seconds"], estimate(first, x, *o)["total_seconds"]
        close(t1 - t0, PROFILE["remote_first_s"])
    # the local executor pays neither
    loc = estimate(prof, x)["total_seconds"]
    close(loc, estimate(first, x)["total_seconds"])


def test_version_3_profiles_load_with_the_file_defaults(tmp_path, x):
    """A version 3 profile has no file figures: the built-in ones (2 GB/s written, 200 MB/s
    synced, 10 ms per commit) price the save."""
    v3 = tmp_path / "v3.json"
    v3.write_text(json.dumps({"format": "lampy.profile", "version": 3, "chunk_bytes": 1 << 20}))
    base = estimate(v3, x, "--workers", "1")
    saved = estimate(v3, x, "--workers", "1", "-o", tmp_path / "o.npy")
    close(saved["total_seconds"] - base["total_seconds"], 8 * N / 2e9 + 8 * N / 200e6 + 10e-3)


def test_output_must_be_a_npy_file(tmp_path, x):
    env = dict(os.environ, LAMPY_PROFILE=str(profile(tmp_path)))
    for bad in ("out.zarr", "out.zarr/", "s3://bucket/out.npy"):
        p = run("estimate", "x * 2 + 1", x, "-o", bad, env=env)
        assert p.returncode == 2 and "-o prices saving into a .npy file" in p.stderr, (bad, p.stderr)
    p = run("estimate", "x * 2 + 1", x, "-o", "", env=env)
    assert p.returncode == 2 and "'-o' needs a value" in p.stderr, p.stderr


def test_python_estimate_save(tmp_path, x):
    """lp.estimate(..., save=True) prices lp.save: the same figures as `lampy estimate -o`
    (a fresh interpreter: the module's context reads LAMPY_PROFILE once)."""
    import sys
    prof = profile(tmp_path)
    code = (
        "import json, sys, lampy as lp\n"
        f"lp.config(chunk_bytes={CHUNK})\n"
        f"a = lp.load({x.split('=', 1)[1]!r}) * 2 + 1\n"
        "r = {k: lp.estimate(a, workers=1, **kw) for k, kw in (('base', {}), ('save', {'save': True}),"
        " ('sunk', {'orchestrate': 'lambda', 'save': True}))}\n"
        "print(json.dumps({k: [v['total_seconds'], v['save_seconds']] for k, v in r.items()}))\n")
    env = dict(os.environ, LAMPY_PROFILE=str(prof))
    env.pop("LAMPY_RESULT_SINK", None)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    close(r["save"][1], save_by_driver(PROFILE))
    close(r["save"][0] - r["base"][0], save_by_driver(PROFILE))
    assert r["base"][1] == 0
    cli = estimate(prof, x, "--executor", "lambda", "--orchestrate", "lambda", "--max-lambdas", "1", "-o", tmp_path / "o.npy")
    close(r["sunk"][0], cli["total_seconds"])
    close(r["sunk"][1], 8 * N / PROFILE["file_sync_bw"] + PROFILE["file_commit_s"])
