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


def close_diff(a, b, want):
    """a - b == want, for a and b printed with 6 significant digits"""
    assert abs(a - b - want) <= 2e-5 * max(abs(a), abs(b)) + 1e-12, (a, b, want)


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


def test_file_inputs_are_charged_per_lambda(tmp_path, x):
    """Orchestrated: every lambda the run spreads to plans it and opens each file input's
    header: orch_input_s per lambda and per input (8 chunks ready, a budget of 4: 4 lambdas; a
    budget of 1: 1). Two inputs cost twice that; a generated array and a driver-centric run
    nothing. A version 5 profile has no figure for it: the built-in 1 ms."""
    y = tmp_path / "y.npy"
    np.save(y, np.random.default_rng(6).standard_normal(N))
    prof = profile(tmp_path, version=6, orch_input_s=4e-4)
    more = profile(tmp_path, "more", version=6, orch_input_s=1.4e-3)

    def est(p, expr, *args):
        env = dict(os.environ, LAMPY_PROFILE=str(p))
        q = run("estimate", expr, *args, "--chunk-bytes", CHUNK, "--json", env=env)
        assert q.returncode == 0, q.stderr
        return json.loads(q.stdout)["total_seconds"]

    for budget, lambdas in (("4", 4), ("1", 1)):
        orch = ["--executor", "lambda", "--orchestrate", "lambda", "--max-lambdas", budget]
        close_diff(est(more, "x * 2 + 1", x, *orch), est(prof, "x * 2 + 1", x, *orch), lambdas * 1e-3)
        close_diff(est(more, "x * y", x, f"y={y}", *orch), est(prof, "x * y", x, f"y={y}", *orch), 2 * lambdas * 1e-3)
        close(est(more, "arange(65536) * 2.0", *orch), est(prof, "arange(65536) * 2.0", *orch))
    drv = ["--executor", "lambda", "--orchestrate", "driver", "--max-lambdas", "4"]
    close(est(more, "x * 2 + 1", x, *drv), est(prof, "x * 2 + 1", x, *drv))
    # version 5 (PROFILE is version 4: no figure either): the built-in 1 ms
    orch = ["--executor", "lambda", "--orchestrate", "lambda", "--max-lambdas", "4"]
    v5 = profile(tmp_path, "v5", version=5)
    close_diff(est(v5, "x * 2 + 1", x, *orch), est(prof, "x * 2 + 1", x, *orch), 4 * (1e-3 - 4e-4))


def test_file_rows_are_read_at_the_workers_rate(tmp_path, x):
    """Remotely a task reads its rows of a file input itself: at remote_load_bw, the rate
    `lampy calibrate --executor lambda --load-dir` measures through the workers (version 7); a
    version 6 profile has no such figure and prices them at its load_bw_1worker, as before. With
    a budget of 1 lambda the 8 tasks run one after another, each reading its 64 KiB chunk of x,
    in both remote modes; the local executor's loads are not priced with it."""
    v6 = profile(tmp_path, "v6", version=6, load_bw_1worker=6e9)
    same = profile(tmp_path, "same", version=7, load_bw_1worker=6e9, remote_load_bw=6e9)
    slow = profile(tmp_path, "slow", version=7, load_bw_1worker=6e9, remote_load_bw=1.5e9)

    def est(p, *opts):
        return estimate(p, x, *opts)["total_seconds"]

    for mode in ("lambda", "driver"):
        one = ["--executor", "lambda", "--orchestrate", mode, "--max-lambdas", "1"]
        close(est(v6, *one), est(same, *one))
        close_diff(est(slow, *one), est(v6, *one), 8 * CHUNK * (1 / 1.5e9 - 1 / 6e9))
    close(est(slow), est(v6))


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


def test_replacing_a_file_frees_its_pages(tmp_path, x):
    """`eval -o F` renames its result onto F: a file already at F is freed by that rename (its
    pages and blocks), priced at the profile's file_drop_bw; a new F costs nothing more. A
    version 4 profile has no figure for it: the built-in 4 GB/s."""
    out = tmp_path / "out.npy"
    for prof, drop in ((profile(tmp_path, "v5", version=5, file_drop_bw=7e8), 7e8), (profile(tmp_path), 4e9)):
        for opts in (["--workers", "1"], ["--executor", "lambda", "--orchestrate", "lambda", "--max-lambdas", "1"]):
            out.unlink(missing_ok=True)
            new = estimate(prof, x, *opts, "-o", out)
            out.write_bytes(b"\0" * 300_000)
            over = estimate(prof, x, *opts, "-o", out)
            close_diff(over["save_seconds"], new["save_seconds"], 300_000 / drop)
            close_diff(over["total_seconds"], new["total_seconds"], 300_000 / drop)
    # a directory there is no file the rename frees
    out.unlink()
    out.mkdir()
    d = estimate(prof, x, "--workers", "1", "-o", out)
    close(d["save_seconds"], save_by_driver(PROFILE))


def test_sink_writes_into_one_file_bound_the_run(tmp_path, x):
    """Remotely the tasks' writes into the one result file follow each other (the file system
    writes a file's pages under its lock): with a slow page cache the run takes every chunk's
    write one after another, however many lambdas run the tasks. 8 chunks on 4 lambdas, 2 at
    full speed, each task's write longer than its work: after the first task's work the file is
    written 8 times back to back. A version 4 profile has no remote_write_bw: file_write_bw
    prices the writes."""
    opts = ["--executor", "lambda", "--orchestrate", "lambda", "--max-lambdas", "4", "-o", tmp_path / "out.npy"]
    t = {}
    for w in (1e7, 2e7):
        t[w] = estimate(profile(tmp_path, f"w{int(w)}", file_write_bw=w), x, *opts)
    close_diff(t[1e7]["total_seconds"], t[2e7]["total_seconds"], 8 * N * (1 / 1e7 - 1 / 2e7))
    # without -o nothing is written into a file: the bound does not apply
    a = estimate(profile(tmp_path, "a", file_write_bw=1e7), x, *opts[:-2])
    b = estimate(profile(tmp_path, "b", file_write_bw=2e7), x, *opts[:-2])
    close(a["total_seconds"], b["total_seconds"])


def test_sink_writes_wait_for_the_file(tmp_path, x):
    """The simulation lets one task at a time write into a result sink's file, at the workers'
    remote_write_bw (version 8), while the other lambdas' tasks work on. remote_parallelism 2
    and a budget of 4: 2 lambdas at full speed take the 8 tasks (64 KiB chunks), each task's
    work `a` (its rows read, computed, coordinated) then its write `w`.

    By hand, with C the run's fixed part with one lambda: one lambda runs the tasks one after
    another, C + 8 (a + w). With 2, w <= a: both finish their first work at a; the second
    waits w for the first's write, and its every later write falls w after the first lambda's
    (the file is free again by then): C + 3 (orch_lambda_s + orch_input_s) + 4 (a + w) + w.
    With w >= a every write waits for the one before: the file is written 8 times back to back
    after the first work, C + 3 (orch_lambda_s + orch_input_s) + a + 8 w. Writes that did not
    wait (the model before version 8) would give 4 (a + w) in both."""
    out = tmp_path / "out.npy"
    extra = dict(version=8, orch_input_s=4e-4, remote_load_bw=2e8)
    k = 3 * (PROFILE["orch_lambda_s"] + extra["orch_input_s"])

    def total(bw, budget, **more):
        prof = profile(tmp_path, f"w{bw:g}-{budget}", remote_write_bw=bw, **dict(extra, **more))
        opts = ["--executor", "lambda", "--orchestrate", "lambda", "--max-lambdas", budget, "-o", out]
        return estimate(prof, x, *opts)["total_seconds"]

    bw0 = 1e15
    w0 = CHUNK / bw0
    t1, t4 = total(bw0, "1"), total(bw0, "4")
    # a task's work, from the two runs: t1 - t4 = 4 a + 3 w0 - k
    a = (t1 - t4 - 3 * w0 + k) / 4
    c1 = t1 - 8 * (a + w0)
    assert 3e-4 < a < 3e-3, a  # 64 KiB read at 200 MB/s (0.33 ms), computed, coordinated
    for w in (a / 2, 0.9 * a):
        close(total(CHUNK / w, "4"), c1 + k + 4 * (a + w) + w)
        close(total(CHUNK / w, "1"), c1 + 8 * (a + w))
    for w in (1.5 * a, 4 * a):
        close(total(CHUNK / w, "4"), c1 + k + a + 8 * w)
        close(total(CHUNK / w, "1"), c1 + 8 * (a + w))
    # file_write_bw (the local figure) does not price the workers' writes when they were measured
    close(total(CHUNK / a, "4", file_write_bw=1e7), total(CHUNK / a, "4"))
    # not measured (a version 7 profile): the local file_write_bw does
    v7 = profile(tmp_path, "v7", **dict(extra, version=7, file_write_bw=CHUNK / (4 * a)))
    opts = ["--executor", "lambda", "--orchestrate", "lambda", "--max-lambdas", "4", "-o", out]
    close(estimate(v7, x, *opts)["total_seconds"], c1 + k + a + 8 * 4 * a)
    # the local executor's save is the driver's (no sink): remote_write_bw does not price it
    loc = ["--workers", "2", "-o", out]
    close(estimate(profile(tmp_path, "l1", **dict(extra, remote_write_bw=1e7)), x, *loc)["total_seconds"],
          estimate(profile(tmp_path, "l2", **dict(extra, remote_write_bw=1e9)), x, *loc)["total_seconds"])


def test_orchestrated_estimate_plans_as_the_functions_do(tmp_path):
    """The functions of an orchestrated run plan automatic chunks with the built-in size (16
    MiB), whatever the host's profile says (server/chain.c): the estimate of such a run plans
    the same tasks; the driver-centric one plans with the profile's size, as its driver does.
    64 MiB of arange: 16 chunks of 4 MiB, or 64 of the profile's 1 MiB."""
    prof = profile(tmp_path, chunk_bytes=1 << 20)
    env = dict(os.environ, LAMPY_PROFILE=str(prof))
    parts = {}
    for mode in ("lambda", "driver"):
        p = run("estimate", "(arange(8388608) * 0.5).sum()", "--json", "--executor", "lambda", "--orchestrate", mode, env=env)
        assert p.returncode == 0, p.stderr
        parts[mode] = [n["tasks"] for n in json.loads(p.stdout)["nodes"] if n["kernel"] == "partial"]
    assert parts == {"lambda": [16], "driver": [64]}
