"""Where Lampy's run-to-run spread comes from (issue 16: median <= 1.15x best in `make bench`).

Runs the harness's own Lampy call of the chosen workloads (bench/harness.py make_workloads, the
same data and sizes) N times in one process and records per run what can make a run slow:
wall time; the process's CPU time (user, system); minor page faults (first touch of fresh
pages); voluntary and involuntary context switches (waits on the pool's condition variables;
preemption by another task on the core); the host's steal time over the run (/proc/stat
`steal`, all CPUs, in USER_HZ ticks: time this KVM guest's vCPUs were runnable but the host ran
something else); and Lampy's own split (lp.last_run_stats: planning, lp_run's executor time,
the pool's utilisation), with tracing on the end of each worker's last task (the tail: one
worker idle while the other finishes); the CPU time other processes of this guest used over
the run (/proc/stat's busy ticks minus this process's); and NumPy's time for the same
workload just before (the machine's state: when NumPy is slow too, Lampy is not the cause).
As in the harness, NumPy computes the same workload
before every Lampy run (--neighbour none: Lampy alone), so the memory state Lampy meets is the
harness's.

The summary per workload gives best, median and median/best, and for every figure its mean
over the fastest half of the runs and over the slowest half: what differs between them is
what the spread is made of.

    .venv/bin/python bench/spread.py [--only 1,2,5,7] [--reps 15] [--neighbour numpy|none]
        [--no-trace] [--json FILE]

Indicative only on a shared machine: the load average is printed before and after.
"""
import argparse
import gc
import json
import os
import resource
import statistics
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import harness  # noqa: E402  (the workloads and the build-local import of make bench)


def cpu_ticks():
    """(busy, steal) so far over all CPUs of this guest, in seconds (/proc/stat's cpu line:
    user nice system idle iowait irq softirq steal, USER_HZ ticks). busy minus this process's
    own CPU time is what other processes of the guest ran."""
    with open("/proc/stat") as f:
        c = [int(x) for x in f.readline().split()[1:9]]
    hz = os.sysconf("SC_CLK_TCK")
    return (c[0] + c[1] + c[2] + c[5] + c[6]) / hz, c[7] / hz


def worker_tails(path):
    """From a Chrome trace: per worker, the end of its last task (s from the run's start); the
    run's span (first start to last end)."""
    with open(path) as f:
        ev = [e for e in json.load(f)["traceEvents"] if e.get("ph") == "X"]
    if not ev:
        return [], 0.0
    t0 = min(e["ts"] for e in ev)
    ends = {}
    for e in ev:
        ends[e["tid"]] = max(ends.get(e["tid"], 0.0), e["ts"] + e["dur"] - t0)
    return [ends[k] / 1e6 for k in sorted(ends)], (max(ends.values())) / 1e6


def measure(lp, w, L, d, args, trace_path):
    gc.collect()
    t_np = 0.0
    if args.neighbour == "numpy":
        t0 = time.perf_counter()
        r = w["np"](d)  # what the harness runs just before Lampy; its time is the machine's state
        t_np = time.perf_counter() - t0
        del r
        gc.collect()
    u0 = resource.getrusage(resource.RUSAGE_SELF)
    b0, s0 = cpu_ticks()
    t0 = time.perf_counter()
    r = w["lp"](lp, L)
    t = time.perf_counter() - t0
    b1, s1 = cpu_ticks()
    u1 = resource.getrusage(resource.RUSAGE_SELF)
    del r
    st = lp.last_run_stats()
    x = dict(wall=t, user=u1.ru_utime - u0.ru_utime, sys=u1.ru_stime - u0.ru_stime,
             minflt=u1.ru_minflt - u0.ru_minflt, nvcsw=u1.ru_nvcsw - u0.ru_nvcsw,
             nivcsw=u1.ru_nivcsw - u0.ru_nivcsw, steal=s1 - s0, numpy=t_np,
             plan=st["plan_seconds"], run=st["run_seconds"], util=st["utilisation"],
             tasks=st["tasks"], threads=st["threads"], load1=os.getloadavg()[0])
    x["outside"] = t - x["plan"] - x["run"]  # Python, expression building, result wrapping
    x["others"] = max((b1 - b0) - x["user"] - x["sys"], 0.0)  # other processes' CPU (10 ms ticks)
    if trace_path:
        lp.trace_write(trace_path)
        tails, span = worker_tails(trace_path)
        x["tail"] = (max(tails) - min(tails)) if len(tails) > 1 else 0.0
        x["span"] = span
    return x


def pearson(x, y):
    """Pearson's r of two series as text ('—' when one is constant)."""
    try:
        return f"{statistics.correlation(x, y):+.2f}"
    except statistics.StatisticsError:
        return "—"


KEYS = [("wall", 1e3, "ms"), ("run", 1e3, "ms"), ("plan", 1e3, "ms"), ("outside", 1e3, "ms"),
        ("user", 1e3, "ms"), ("sys", 1e3, "ms"), ("minflt", 1, ""), ("nvcsw", 1, ""), ("nivcsw", 1, ""),
        ("steal", 1e3, "ms"), ("others", 1e3, "ms"), ("util", 1, ""), ("tail", 1e3, "ms"), ("numpy", 1e3, "ms")]


def summarise(wid, expr, xs):
    walls = [x["wall"] for x in xs]
    best, med = min(walls), statistics.median(walls)
    order = sorted(range(len(xs)), key=lambda i: walls[i])
    half = len(xs) // 2
    fast, slow = [xs[i] for i in order[:half]], [xs[i] for i in order[-half:]]
    lines = [f"w{wid} `{expr}`: {len(xs)} runs, best {best * 1e3:.1f} ms, median {med * 1e3:.1f} ms, "
             f"median/best {med / best:.2f}x, tasks {xs[0]['tasks']}, threads {xs[0]['threads']}",
             "| figure | fastest half (mean) | slowest half (mean) | min | max | r with wall |", "|---|---|---|---|---|---|"]
    for k, sc, unit in KEYS:
        if k not in xs[0]:
            continue
        f = statistics.fmean(x[k] for x in fast) * sc
        s = statistics.fmean(x[k] for x in slow) * sc
        v = [x[k] * sc for x in xs]
        fmt = "{:.2f}" if k == "util" else ("{:.1f}" if unit else "{:.0f}")
        lines.append(f"| {k}{' ' + unit if unit else ''} | {fmt.format(f)} | {fmt.format(s)} | "
                     f"{fmt.format(min(v))} | {fmt.format(max(v))} | {pearson(walls, v)} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--only", default="1,2,5,7")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--neighbour", choices=("numpy", "none"), default="numpy")
    ap.add_argument("--no-trace", action="store_true", help="no per-worker tails (tracing reads two "
                    "clocks per task)")
    ap.add_argument("--runs", action="store_true", help="print every run, not only the summary")
    ap.add_argument("--json", help="also write every run's figures here")
    args = ap.parse_args()
    lp, where = harness.import_lampy(args.build)
    if lp is None:
        sys.exit(f"spread: cannot import lampy: {where}")
    # the harness's defaults for every size
    hargs = harness.arg_parser().parse_args([])
    hargs.only = [int(x) for x in args.only.split(",")]
    lp.config(threads=0, trace=not args.no_trace)
    tmp = tempfile.mkdtemp(prefix="lampy-spread-")
    trace_path = None if args.no_trace else os.path.join(tmp, "trace.json")
    rng = np.random.default_rng(20261125)
    load0 = os.getloadavg()
    print(f"spread: lampy {where}; neighbour {args.neighbour}; trace {not args.no_trace}; "
          f"load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
    out = []
    for w in harness.make_workloads(hargs):
        d = w["data"](rng)
        chunks = w.get("chunks")
        L = {k: lp.asarray(v, chunks=chunks) if chunks else lp.asarray(v) for k, v in d.items()}
        ref = w["np"](d)
        diff = w.get("diff", harness.rel_diff)(w["lp"](lp, L), ref)
        if diff > harness.TOL[w["kind"]]:
            sys.exit(f"spread: w{w['id']} disagrees with NumPy ({diff:.1e})")
        del ref
        xs = [measure(lp, w, L, d, args, trace_path) for _ in range(args.reps)]
        print(summarise(w["id"], w["expr"], xs), flush=True)
        if args.runs:
            print("runs (" + ", ".join(k + (" " + u if u else "") for k, _, u in KEYS if k not in ("plan", "outside")) + "):")
            for x in xs:
                print("  " + " ".join(f"{x.get(k, 0) * sc:.1f}" if unit or k == "util" else f"{x.get(k, 0):.0f}"
                                      for k, sc, unit in KEYS if k not in ("plan", "outside")))
        out.append(dict(id=w["id"], expr=w["expr"], runs=xs))
        del d, L
        gc.collect()
    load1 = os.getloadavg()
    print(f"load average after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(load_before=load0, load_after=load1, neighbour=args.neighbour, workloads=out), f,
                      indent=1)


if __name__ == "__main__":
    main()
