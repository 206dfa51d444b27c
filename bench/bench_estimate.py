#!/usr/bin/env python3
"""Predicted vs measured: the cost model against the benchmark workloads of issue 3.

For each workload the data is written once as .npy files (the page cache holds them, as in
`lampy eval` use); then `lampy estimate --json` gives the model's prediction for the thread
count, and `lampy eval --stats` (best of N) the measured lp_run time (plan + run). The table
gives both and their ratio; the issue's goal is a ratio within [1/1.5, 1.5] after
`lampy calibrate`.

    .venv/bin/python bench/bench_estimate.py [--scale 1] [--reps 3] [--threads 0]
                                             [--profile FILE] [--calibrate once|each]
                                             [--only 1,3] [--markdown]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def workloads(scale, chunks7, elems7):
    n = int(64 * 2**20 * scale)
    r4, r5, n6 = int(8 * 2**20 * scale), int(4 * 2**20 * scale), int(16 * 2**20 * scale)
    return [
        dict(id=1, expr="a*b + c*2 - a", data=lambda g: dict(a=g.random(n), b=g.random(n), c=g.random(n))),
        dict(id=2, expr="sum(a)", data=lambda g: dict(a=g.random(n))),
        dict(id=3, expr="sum((a-b)**2)", data=lambda g: dict(a=g.random(n), b=g.random(n))),
        dict(id=4, expr="where(a > 0.5, sqrt(a), -b).mean(axis=0)",
             data=lambda g: dict(a=g.random((r4, 8)), b=g.random((r4, 8)))),
        dict(id=5, expr="a.var(axis=0)", data=lambda g: dict(a=g.random((r5, 64)))),
        dict(id=6, expr="exp(a) * sin(b)", data=lambda g: dict(a=g.random(n6), b=g.random(n6))),
        dict(id=7, expr="sum(a)", data=lambda g: dict(a=g.random(chunks7 * elems7)),
             opts=["--chunk-bytes", str(8 * elems7)], label=f"sum(a), {chunks7} chunks"),
    ]


def cpu_pressure():
    """The kernel's "some" CPU pressure over the last 10 s, in percent (None if unknown): how
    much of the time runnable tasks waited for a CPU. Timings taken while it is high are not
    this machine's numbers."""
    try:
        with open("/proc/pressure/cpu") as f:
            return float(re.search(r"avg10=([0-9.]+)", f.readline()).group(1))
    except (OSError, AttributeError, ValueError):
        return None


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr}")
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="size factor (1 = issue 3's sizes)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--profile", help="profile file (default: the calibrated one)")
    ap.add_argument("--only", help="comma-separated workload ids")
    ap.add_argument("--chunks7", type=int, default=10000)
    ap.add_argument("--elems7", type=int, default=1000)
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--calibrate", choices=["once", "each"],
                    help="run `lampy calibrate` (into --profile or a temp file) once first, or before each "
                         "workload (on a machine whose speed drifts, e.g. a VM with noisy neighbours)")
    ap.add_argument("--lampy", default=os.environ.get("LAMPY_BIN", os.path.join(ROOT, "build", "lampy")))
    args = ap.parse_args()
    only = {int(x) for x in args.only.split(",")} if args.only else None
    common = ["--threads", str(args.threads)]  # the profile reaches both through LAMPY_PROFILE
    est_common = common
    env = dict(os.environ)
    if args.profile:
        env["LAMPY_PROFILE"] = args.profile
    tmp = tempfile.mkdtemp(prefix="lampy-bench-estimate-")
    if args.calibrate:
        if not args.profile:
            args.profile = env["LAMPY_PROFILE"] = os.path.join(tmp, "profile.json")
        if args.calibrate == "once":
            run([args.lampy, "calibrate", "--profile", args.profile], env=env)
    rng = np.random.default_rng(0)
    rows = []
    try:
        for w in workloads(args.scale, args.chunks7, args.elems7):
            if only and w["id"] not in only:
                continue
            names = []
            for k, v in w["data"](rng).items():
                path = os.path.join(tmp, f"w{w['id']}_{k}.npy")
                np.save(path, v)
                names.append(f"{k}={path}")
                del v
            opts = w.get("opts", [])
            if args.calibrate == "each":
                run([args.lampy, "calibrate", "--profile", args.profile], env=env)
            est = json.loads(run([args.lampy, "estimate", w["expr"], *names, *opts, *est_common, "--json"], env=env).stdout)
            best = None
            busy = cpu_pressure()
            for _ in range(args.reps):
                p = run([args.lampy, "eval", w["expr"], *names, *opts, *common, "--stats", "--no-progress"], env=env)
                m = re.search(r"lp_run time\s+([0-9.]+) s", p.stderr)
                t = float(m.group(1))
                best = t if best is None else min(best, t)
            pred = est["total_seconds"]
            rows.append((w["id"], w.get("label", w["expr"]), est["tasks"], pred, best, best / pred, busy))
            for f in os.listdir(tmp):
                if f.endswith(".npy"):
                    os.unlink(os.path.join(tmp, f))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.markdown:
        print("| # | workload | tasks | predicted | measured (lp_run) | measured / predicted | CPU pressure |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for r in rows:
            bz = "?" if r[6] is None else f"{r[6]:.0f}%"
            print(f"| {r[0]} | `{r[1]}` | {r[2]} | {r[3]*1e3:.1f} ms | {r[4]*1e3:.1f} ms | {r[5]:.2f} | {bz} |")
    else:
        print(f"{'#':>2}  {'workload':44} {'tasks':>6} {'predicted':>11} {'measured':>11} {'ratio':>6} {'busy':>5}")
        for r in rows:
            ok = "" if 1 / 1.5 <= r[5] <= 1.5 else "  (outside 1.5x)"
            bz = "    ?" if r[6] is None else f"{r[6]:4.0f}%"
            print(f"{r[0]:>2}  {r[1]:44} {r[2]:>6} {r[3]*1e3:9.1f} ms {r[4]*1e3:9.1f} ms {r[5]:6.2f} {bz}{ok}")
    bad = [r for r in rows if not 1 / 1.5 <= r[5] <= 1.5]
    print(f"{len(rows) - len(bad)} of {len(rows)} workloads within 1.5x", file=sys.stderr)
    if any(r[6] and r[6] > 10 for r in rows):
        print("note: other processes competed for the CPU during some measurements (busy column); "
              "calibrate and measure on an idle machine", file=sys.stderr)


if __name__ == "__main__":
    main()
