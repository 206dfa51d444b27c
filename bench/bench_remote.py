#!/usr/bin/env python3
"""The lambda executor on loopback: round trips, task throughput, and whole workloads through
`lampy worker`s and Redis beside the local executor. Starts its own redis-server and workers on
free 127.0.0.1 ports (stopped at exit) and prints a Markdown table for docs/PERFORMANCE.md.

    .venv/bin/python bench/bench_remote.py [--build build] [--quick] [--reps 3]

Measures:
  - median round trip of an empty batch (the protocol alone) and of a batch with one tiny task
    (adds the worker's store write), from lampy-bench-rt: libcurl, keep-alive, like the driver;
  - tasks per second through 2 workers: a reduction over a tiny-chunked generated array
    (thousands of tasks), one task per invocation and with batching;
  - `a*b + c*2 - a` over float64 arrays (16M elements; --full: 64M) and the Fisher LDA fit on
    2M x 64 (--quick: 200k x 64) through 2 workers + Redis vs the local executor, with a check
    that the results are the same bits.
Orchestration by functions (docs/ORCHESTRATION.md, --workers N, default 4; --only-orchestration
skips the rest):
  - tasks per second of a ~10,000-task graph through N workers, driver-centric
    (--orchestrate driver) vs orchestrated (--orchestrate lambda), and the driver process's CPU
    seconds for each (user + system, from the kernel's accounting of the child);
  - Fisher LDA 2M x 64 (--quick: 200k) and `a*b + c*2 - a` (64M; --quick: 16M) through N
    workers in both modes vs local, each including the write of out.npy (remote: written by the
    workers, a result sink; and, for comparison, through Redis with LAMPY_RESULT_SINK=0);
  - `lampy estimate --executor lambda --orchestrate lambda` (predicted wall time) vs the measured
    orchestrated run for 5 workloads, with a profile measured in the same run (`lampy calibrate`,
    then `lampy calibrate --executor lambda` against the same workers and Redis); each after an
    untimed run, so the estimate and the timed runs see the same files (--only-estimates: only
    these, ~1 min).
All data goes to bench/out/remote (git-ignored).
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Procs:
    def __init__(self):
        self.procs = []

    def add(self, p):
        self.procs.append(p)
        return p

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def start_redis(procs, workdir):
    port = free_port()
    procs.add(subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(workdir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for _ in range(400):
        r = subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True, text=True)
        if r.stdout.strip() == "PONG":
            return f"redis://127.0.0.1:{port}"
        time.sleep(0.025)
    raise SystemExit("redis-server did not start")


def start_worker(procs, lampy, allow, load_dir):
    """A worker allowed the given stores and load root (workers allow none by default)."""
    args = [a for url in allow for a in ("--allow-store", url)]
    p = procs.add(subprocess.Popen([str(lampy), "worker", "--port", "0", *args, "--load-dir", str(load_dir),
                                    "--write-dir", str(load_dir)],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
    line = p.stdout.readline()
    m = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)\n", line)
    if not m:
        raise SystemExit(f"worker did not start: {line!r}")
    return m.group(1)


def run(cmd, env=None):
    e = dict(os.environ)
    e.update(env or {})
    t0 = time.perf_counter()
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=e)
    dt = time.perf_counter() - t0
    if r.returncode:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{r.stderr}")
    return dt, r


def run_cpu(cmd, env=None):
    """run(), plus the child's CPU seconds (user + system) as the kernel accounted them."""
    import resource
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    dt, r = run(cmd, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return dt, r, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def arrays(np, out, names, n):
    """NAME=FILE bindings of random float64 arrays of n elements (written once)."""
    rng = np.random.default_rng(0)
    for k in names:
        p = out / f"{k}{n}.npy"
        if not p.exists():
            np.save(p, rng.standard_normal(n))
    return [f"{k}={out / f'{k}{n}.npy'}" for k in names]


def fisher_fit(lampy, fd, model, args, reps):
    """Median fit time (as `lampy fisher` reports it) of reps fits of fd/X.npy, fd/y.npy."""
    times = []
    for _ in range(reps):
        _, r = run([lampy, "fisher", fd / "X.npy", fd / "y.npy", "--no-accuracy", "--save", model, *args])
        times.append(float(re.search(r"^fit\s+([0-9.]+) s", r.stdout, re.M).group(1)))
    return statistics.median(times)


def stat(out, name):
    m = re.search(rf"^{name}\s+([0-9.]+)", out, re.M)
    return float(m.group(1)) if m else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--quick", action="store_true", help="smaller workloads (200k x 64 Fisher)")
    ap.add_argument("--full", action="store_true", help="the expression on 64M elements (design size)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workers", type=int, default=4, help="workers of the orchestration measurements")
    ap.add_argument("--only-orchestration", action="store_true")
    ap.add_argument("--only-estimates", action="store_true",
                    help="of the orchestration measurements only the estimates against the measured runs")
    a = ap.parse_args()
    build = (ROOT / a.build).resolve()
    lampy, rt = build / "lampy", build / "bench" / "lampy-bench-rt"
    for f in (lampy, rt):
        if not f.exists():
            raise SystemExit(f"{f} missing: ninja -C {a.build}")
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server is not installed")
    out = ROOT / "bench" / "out" / "remote"
    out.mkdir(parents=True, exist_ok=True)
    import numpy as np

    procs = Procs()
    rows = []
    try:
        store = start_redis(procs, out)
        if a.only_orchestration or a.only_estimates:
            orchestration(a, lampy, store, procs, out, rows, np)
            return print_rows(rows, a)
        sdir = out / "store"
        shutil.rmtree(sdir, ignore_errors=True)
        sp = procs.add(subprocess.Popen([str(lampy), "store", "--dir", str(sdir), "--port", "0"], stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True))
        http_store = re.fullmatch(r"listening on (\S+)\n", sp.stdout.readline()).group(1)
        ws = [start_worker(procs, lampy, (store, http_store), out) for _ in range(2)]
        remote = ["--executor", "lambda", "--workers", ",".join(ws), "--store", store]

        # ---- round trips
        (out / "empty.json").write_text(json.dumps({"format": "lampy.tasks", "version": 1, "stores": [], "tasks": []}))
        tiny = {"format": "lampy.tasks", "version": 1, "stores": [store], "nodes": [
            {"kernel": "gen", "op": "full", "dtype": "float64", "shape": [1],
             "params": {"node": {"op": "full", "dtype": "float64", "shape": [1], "attrs": {"value": "1"}}}}],
            "tasks": [{"node": 0, "chunk": 0, "box": [[0, 1]], "out": {"store": 0, "key": "bench/rt", "box": [[0, 1]]},
                       "ops": []}]}
        (out / "tiny.json").write_text(json.dumps(tiny))
        for name, body in (("empty batch", "empty.json"), ("one tiny task (+ Redis SET)", "tiny.json")):
            _, r = run([rt, ws[0] + "/run/lampy", out / body, 5000])
            j = json.loads(r.stdout)
            rows.append((f"round trip, {name}", f"{j['median_us']:.0f} µs median (p90 {j['p90_us']:.0f} µs)", "goal ≤ 300 µs"))
        subprocess.run(["redis-cli", "-p", store.rsplit(":", 1)[1], "DEL", "bench/rt"], capture_output=True)

        # ---- task throughput
        # every task does real work on a worker: a generated source (no file), a fused map into
        # the partial sums, the combine tree
        texpr = "(arange(32768) * 0.5 + 1).sum()"
        for label, env in (("1 task per invocation", {"LAMPY_REMOTE_BATCH": "1"}), ("batched (default)", {})):
            best = None
            for _ in range(a.reps):
                _, r = run([lampy, "eval", texpr, "--chunk-bytes", "64", "--stats", *remote], env=env)
                tasks, secs = stat(r.stderr, "tasks"), stat(r.stderr, "run time")
                rate = tasks / secs
                best = rate if best is None or rate > best else best
            rows.append((f"tasks/s, 2 workers, {label}", f"{best:,.0f} tasks/s ({int(tasks)} tasks)", ""))
        _, r = run([lampy, "eval", texpr, "--chunk-bytes", "64", "--stats"])
        rows.append(("tasks/s, local executor (same plan)",
                     f"{stat(r.stderr, 'tasks') / stat(r.stderr, 'run time'):,.0f} tasks/s", "reference"))

        # ---- the expression: Redis (default chunks, then 1 MiB chunks, which Redis moves
        # faster), and Lampy's own store server (files, sendfile)
        n = 64 << 20 if a.full else 16 << 20
        names = arrays(np, out, "abc", n)
        expr = "a * b + c * 2 - a"
        for chunk, store_url, sname in ((None, store, "Redis"), ("1M", store, "Redis"), (None, http_store, "lampy store")):
            copt = ["--chunk-bytes", chunk] if chunk else []
            rem = ["--executor", "lambda", "--workers", ",".join(ws), "--store", store_url]
            tl, tr = [], []
            for _ in range(a.reps):
                _, r = run([lampy, "eval", expr, *names, *copt, "-o", out / "e_local.npy", "--stats"])
                tl.append(stat(r.stderr, "lp_run time"))
                _, r = run([lampy, "eval", expr, *names, *copt, "-o", out / "e_remote.npy", "--stats", *rem])
                tr.append(stat(r.stderr, "lp_run time"))
            same = (out / "e_local.npy").read_bytes() == (out / "e_remote.npy").read_bytes()
            ml, mr = statistics.median(tl), statistics.median(tr)
            cname = f"{chunk} chunks" if chunk else "default chunks"
            rows.append((f"`{expr}`, {n >> 20}M float64, {cname}, local", f"{ml:.3f} s", ""))
            rows.append((f"`{expr}`, {n >> 20}M float64, {cname}, 2 workers + {sname}", f"{mr:.3f} s ({mr / ml:.1f}x local)",
                         "goal ≤ 3x; " + ("same bits" if same else "RESULTS DIFFER")))

        # ---- Fisher LDA
        N = 200_000 if a.quick else 2_000_000
        fd = out / f"fisher{N}"
        if not (fd / "X.npy").exists():
            run([lampy, "gen", "--rows", N, "--features", 64, "--classes", 4, "--seed", 1, "-o", fd])
        ml = fisher_fit(lampy, fd, out / "m_local.npy", [], a.reps)
        mr = fisher_fit(lampy, fd, out / "m_remote.npy", remote, a.reps)
        same = (out / "m_local.npy").read_bytes() == (out / "m_remote.npy").read_bytes()
        rows.append((f"Fisher LDA fit {N // 1000}k x 64, local", f"{ml:.3f} s", ""))
        rows.append((f"Fisher LDA fit {N // 1000}k x 64, 2 workers + Redis", f"{mr:.3f} s ({mr / ml:.1f}x local)",
                     "goal ≤ 3x; " + ("same model bits" if same else "MODELS DIFFER")))
        orchestration(a, lampy, store, procs, out, rows, np)
    finally:
        procs.stop()
    print_rows(rows, a)


def print_rows(rows, a):
    print(f"\nLambda executor on loopback ({os.cpu_count()} cores; workers and Redis share them with the driver)\n")
    print("| measurement | result | note |")
    print("|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")


def orchestration(a, lampy, store, procs, out, rows, np):
    """Issue 12's table: driver-centric vs orchestrated through a.workers workers."""
    nw = a.workers
    ws = [start_worker(procs, lampy, (store,), out) for _ in range(nw)]
    base = ["--executor", "lambda", "--workers", ",".join(ws), "--store", store]
    modes = (("driver-centric", [*base, "--orchestrate", "driver"]), ("orchestrated", [*base, "--orchestrate", "lambda"]))
    if not a.only_estimates:
        throughput_and_workloads(a, lampy, out, rows, np, nw, modes)
    estimates(a, lampy, out, rows, np, nw, base, modes)


def throughput_and_workloads(a, lampy, out, rows, np, nw, modes):
    # ---- a ~10,000-task graph: a generated array (no file) in tiny chunks, summed
    n = 8192 if a.quick else 81920
    texpr = f"(arange({n}) * 0.5 + 1).sum()"
    for label, args in modes:
        best, cpu = None, None
        for _ in range(a.reps):
            _, r, c = run_cpu([lampy, "eval", texpr, "--chunk-bytes", "64", "--stats", *args])
            tasks, secs = stat(r.stderr, "tasks"), stat(r.stderr, "run time")
            if best is None or tasks / secs > best:
                best, cpu = tasks / secs, c
        rows.append((f"tasks/s, {int(tasks)}-task graph, {nw} workers, {label}", f"{best:,.0f} tasks/s",
                     f"driver CPU {cpu:.2f} s"))

    # ---- Fisher LDA and the expression, both modes vs local
    N = 200_000 if a.quick else 2_000_000
    fd = out / f"fisher{N}"
    if not (fd / "X.npy").exists():
        run([lampy, "gen", "--rows", N, "--features", 64, "--classes", 4, "--seed", 1, "-o", fd])
    tl = fisher_fit(lampy, fd, out / "m_local.npy", [], a.reps)
    rows.append((f"Fisher LDA fit {N // 1000}k x 64, local", f"{tl:.3f} s", ""))
    for label, args in modes:
        tr = fisher_fit(lampy, fd, out / "m_remote.npy", args, a.reps)
        same = (out / "m_local.npy").read_bytes() == (out / "m_remote.npy").read_bytes()
        rows.append((f"Fisher LDA fit {N // 1000}k x 64, {nw} workers, {label}", f"{tr:.3f} s ({tr / tl:.1f}x local)",
                     "same model bits" if same else "MODELS DIFFER"))
    n = 16 << 20 if a.quick else 64 << 20
    names = arrays(np, out, "abc", n)
    expr = "a * b + c * 2 - a"
    # like with like: with -o, "lp_run time" is the run and the writing of out.npy together in
    # every executor (lp_save_array); remotely the workers write the file (a result sink), and
    # LAMPY_RESULT_SINK=0 shows the path through Redis and the driver for comparison
    tl = statistics.median(stat(run([lampy, "eval", expr, *names, "-o", out / "e_local.npy", "--stats"])[1].stderr,
                                "lp_run time") for _ in range(a.reps))
    rows.append((f"`{expr}`, {n >> 20}M float64, local (run + write of out.npy)", f"{tl:.3f} s", ""))
    for label, args in modes:
        for sink, how in (("1", "workers write out.npy"), ("0", "result through Redis")):
            (out / "e_remote.npy").unlink(missing_ok=True)
            tr = statistics.median(stat(run([lampy, "eval", expr, *names, "-o", out / "e_remote.npy", "--stats", *args],
                                            env={"LAMPY_RESULT_SINK": sink})[1].stderr, "lp_run time")
                                   for _ in range(a.reps))
            same = (out / "e_local.npy").read_bytes() == (out / "e_remote.npy").read_bytes()
            rows.append((f"`{expr}`, {n >> 20}M float64, {nw} workers, {label}, {how}", f"{tr:.3f} s ({tr / tl:.1f}x local)",
                         ("goal ≤ 2x; " if sink == "1" else "") + ("same bits" if same else "RESULTS DIFFER")))


def estimates(a, lampy, out, rows, np, nw, base, modes):
    # ---- the remote cost model: `lampy estimate --executor lambda` vs measured. The profile is
    # measured in this run: this machine (lampy calibrate), then the same workers and Redis
    # (lampy calibrate --executor lambda), so it describes the machine as it is now
    prof = out / "profile.json"
    run([lampy, "calibrate", "--profile", prof, *(["--quick"] if a.quick else [])])
    # --load-dir: the workers' load root, where the calibration measures a run with a file input
    _, r = run([lampy, "calibrate", *base, "--profile", prof, "--load-dir", out, *(["--quick"] if a.quick else [])])
    sys.stderr.write(r.stderr)
    pj = json.loads(prof.read_text())
    # each calibration kept beside the others: bench/estimate_terms.py compares two of them
    (out / f"profile-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(prof.read_text())
    rows.append((f"remote calibration, {nw} workers + Redis",
                 f"store rtt {pj['rtt_s'] * 1e6:.0f} µs, put {pj['store_put_bw'] / 1e6:.0f} MB/s, get {pj['net_bw'] / 1e6:.0f} MB/s; "
                 f"invocation {pj['invoke_s'] * 1e6:.0f} µs; orchestrated {pj['orch_run_s'] * 1e3:.1f} ms/run + "
                 f"{pj['orch_task_s'] * 1e6:.0f} µs/task, {pj['remote_parallelism']:.2f} tasks computing and "
                 f"{pj['remote_overhead_parallelism']:.2f} coordinating at once; driver "
                 f"{pj['driver_run_s'] * 1e3:.1f} ms/run + {pj['driver_task_s'] * 1e6:.0f} µs/task; "
                 f"{pj['orch_lambda_s'] * 1e3:.2f} ms per lambda a run spreads to, {pj['orch_input_s'] * 1e3:.2f} ms per lambda "
                 f"and file input, file rows read at {pj.get('remote_load_bw', pj['load_bw_1worker']) / 1e9:.2f} GB/s per lambda "
                 f"(locally {pj['load_bw_1worker'] / 1e9:.2f} GB/s alone), a result written into its file at "
                 f"{pj.get('remote_write_bw', pj['file_write_bw']) / 1e9:.2f} GB/s by one task at a time, a process's first run "
                 f"{pj['remote_first_s'] * 1e3:.1f} ms more; saving a file: {pj['file_commit_s'] * 1e3:.1f} ms commit, "
                 f"{pj['file_write_bw'] / 1e9:.2f} GB/s written, {pj['file_sync_bw'] / 1e6:.0f} MB/s synced, "
                 f"{pj['file_drop_bw'] / 1e9:.2f} GB/s freed (replacing a file); first-touch pages "
                 f"{pj['fresh_bw_1worker'] / 1e9:.2f} GB/s per worker alone, {pj['fresh_bw_per_worker'] / 1e9:.2f} GB/s with all",
                 "lampy calibrate --executor lambda"))
    xy = arrays(np, out, "xy", 4 << 20 if a.quick else 16 << 20)
    workloads = [("x * y + x * 2 - y", []), ("sum(x)", []), ("sum((x - y) ** 2)", []),
                 ("where(x > 0.5, sqrt(abs(x)), -y).mean()", ["--chunk-bytes", "1M"]),
                 ("(arange(32768) * 0.5 + 1).sum()", ["--chunk-bytes", "256"])]
    for expr, opts in workloads:
        # the estimate prices what the measured command does: the run and saving out.npy, which
        # replaces the file the run before wrote. An untimed run first, so that every timed run
        # and the estimate see the same: the inputs in the page cache, the workers warm, and
        # out.npy there with this result's size
        evalw = [lampy, "eval", expr, *xy, *opts, "-o", out / "w.npy", "--stats", *modes[1][1]]
        run(evalw)
        _, r = run([lampy, "estimate", expr, *xy, *opts, "--executor", "lambda", "--orchestrate", "lambda",
                    "--max-lambdas", 2 * nw, "--profile", prof, "--json", "-o", out / "w.npy"])
        pred = json.loads(r.stdout)["total_seconds"]
        meas = statistics.median(stat(run(evalw)[1].stderr, "lp_run time") for _ in range(a.reps))
        rows.append((f"estimate vs measured, `{expr}`, {nw} workers orchestrated", f"{pred:.3f} s predicted, {meas:.3f} s measured",
                     f"measured/predicted {meas / pred:.2f} (goal within 1.5x)"))


if __name__ == "__main__":
    main()
