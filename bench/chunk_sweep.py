"""w1-w3 of the harness (a*b + c*2 - a, sum(a), sum((a-b)**2); 64M float64) per chunk size,
through the Python module, interleaved: every round runs every size once (the order rotated
from round to round) and every workload at that size, so load drift hits all sizes alike.
Best and median of the rounds per (workload, size), and per run what explains a difference:
tasks, the pool's utilisation (busy time / (threads x wall); the tail where one thread has
run out of tasks shows here), page faults (first touch of result pages: minor faults of the
process during the run) and the process's CPU time (user + system: the work, apart from the
moments other tenants hold the cores).

    .venv/bin/python bench/chunk_sweep.py [--build build] [--rounds 7] [--elems 67108864]
        [--sizes 256K,512K,1M,2M,4M,8M,16M,32M,64M] [--only w1,w2,w3] [--json FILE]

Timings on a shared machine are indicative: the load average is printed before and after.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from harness import import_lampy  # noqa: E402  (the same build-local import as make bench)


def parse_size(s):
    s = s.strip().upper()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(s[:-1]) * mult[s[-1]]) if s[-1] in mult else int(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--elems", type=int, default=64 << 20)
    ap.add_argument("--sizes", default="256K,512K,1M,2M,4M,8M,16M,32M,64M")
    ap.add_argument("--only", default="w1,w2,w3")
    ap.add_argument("--threads", type=int, default=0, help="Lampy threads (0 = one per core)")
    ap.add_argument("--json", help="also write the raw times here")
    args = ap.parse_args()
    lp, where = import_lampy(args.build)
    if lp is None:
        sys.exit(f"chunk_sweep: cannot import lampy: {where}")
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    only = args.only.split(",")
    n = args.elems
    rng = np.random.default_rng(1)
    A, B, C = rng.random(n), rng.random(n), rng.random(n)
    lp.config(threads=args.threads, trace=True)
    work = {
        "w1": (lambda a, b, c: (a * b + c * 2 - a).run(), 4),
        "w2": (lambda a, b, c: lp.sum(a).run(), 1),
        "w3": (lambda a, b, c: lp.sum((a - b) ** 2).run(), 2),
    }
    work = {k: v for k, v in work.items() if k in only}
    wrapped = {}
    for s in sizes:
        e = max(s // 8, 1)
        wrapped[s] = tuple(lp.asarray(x, chunks=(e,)) for x in (A, B, C))
    # references: the chunking never changes w1's bits; sums agree to rounding
    ref = {"w1": A * B + C * 2 - A, "w2": A.sum(), "w3": ((A - B) ** 2).sum()}
    for s in sizes:
        for k, (f, _) in work.items():
            r = np.asarray(f(*wrapped[s]))
            if k == "w1":
                assert np.array_equal(r, ref[k]), f"w1 differs at chunk {s}"
            else:
                assert abs(float(r) - ref[k]) <= 1e-9 * abs(ref[k]), f"{k} differs at chunk {s}"
            del r
    del ref
    load0 = os.getloadavg()
    T = {(k, s): [] for k in work for s in sizes}
    X = {(k, s): [] for k in work for s in sizes}
    for rnd in range(args.rounds):
        order = sizes[rnd % len(sizes):] + sizes[:rnd % len(sizes)]
        for s in order:
            for k, (f, _) in work.items():
                u0 = resource.getrusage(resource.RUSAGE_SELF)
                t0 = time.perf_counter()
                r = f(*wrapped[s])
                t = time.perf_counter() - t0
                u1 = resource.getrusage(resource.RUSAGE_SELF)
                del r
                st = lp.last_run_stats()
                T[(k, s)].append(t)
                X[(k, s)].append(dict(faults=u1.ru_minflt - u0.ru_minflt, tasks=st["tasks"],
                                      cpu=(u1.ru_utime + u1.ru_stime) - (u0.ru_utime + u0.ru_stime),
                                      sys=u1.ru_stime - u0.ru_stime, util=st["utilisation"],
                                      run=st["run_seconds"], threads=st["threads"]))
    load1 = os.getloadavg()
    print(f"chunk sweep: {n:,} float64 per array, {args.rounds} interleaved rounds, lampy {where}")
    print(f"load average before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    print("| workload | chunk | tasks | best ms | median ms | GB/s (best) | util (median) | faults/run (median) | "
          "CPU ms/run (median, of it sys) |")
    print("|---|---|---|---|---|---|---|---|---|")
    out = []
    for k, (_, arrays) in work.items():
        for s in sizes:
            ts = T[(k, s)]
            xs = X[(k, s)]
            best, med = min(ts), statistics.median(ts)
            util = statistics.median(x["util"] for x in xs)
            flt = statistics.median(x["faults"] for x in xs)
            cpu = statistics.median(x["cpu"] for x in xs)
            sys_ = statistics.median(x["sys"] for x in xs)
            gbs = arrays * 8 * n / best / 1e9
            lab = f"{s >> 20} MiB" if s >= 1 << 20 else f"{s >> 10} KiB"
            print(f"| {k} | {lab} | {xs[0]['tasks']} | {best * 1e3:.1f} | {med * 1e3:.1f} | {gbs:.1f} | "
                  f"{util:.2f} | {flt:.0f} | {cpu * 1e3:.0f} ({sys_ * 1e3:.0f}) |")
            out.append(dict(workload=k, chunk_bytes=s, times=ts, runs=xs))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(elems=n, load_before=load0, load_after=load1, rows=out), fh, indent=1)


if __name__ == "__main__":
    main()
