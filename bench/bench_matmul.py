#!/usr/bin/env python3
"""Matrix products side by side: Lampy, the same OpenBLAS called directly, and NumPy.

    .venv/bin/python bench/bench_matmul.py [--build build] [--n 4096] [--rows 2000000]
                                           [--cols 64] [--reps 3] [--threads 0] [--coretype auto]

Rows: A @ B (n x n float64) and X.T @ X (rows x cols float64). Lampy and the direct OpenBLAS
calls (cblas_dgemm / cblas_dsyrk on all cores) come from bench/bench_matmul.c, which links the
system OpenBLAS that Lampy uses; NumPy is timed in a subprocess on data of the same shape, with
the BLAS it was built with (a pip wheel bundles its own OpenBLAS). Best of --reps wall times;
"vs OpenBLAS" is the goal's measure (Lampy within 10% of the same library).

OpenBLAS picks its kernels from the CPU at load time and can only be overridden by the
environment variable OPENBLAS_CORETYPE, read when the library loads. Debian's 0.3.21 takes an
AVX-512 AMD EPYC for "Haswell"; --coretype auto (the default) therefore also runs everything
with OPENBLAS_CORETYPE=SkylakeX when the CPU has AVX-512 F/BW/DQ/VL ("none": as detected only;
a name: only with that core type).
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def best(fn, reps):
    t = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def numpy_times(n, rows, cols, reps):
    """Run in a subprocess (so OPENBLAS_CORETYPE applies to NumPy's OpenBLAS too)."""
    import numpy as np
    try:
        b = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{b.get('name', '?')} {b.get('version', '')}".strip()
    except Exception:  # older NumPy
        blas = "?"
    rng = np.random.default_rng(0)
    a, bm = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    gemm = best(lambda: a @ bm, reps)
    del a, bm
    x = rng.standard_normal((rows, cols))
    gram = best(lambda: x.T @ x, reps)
    return {"version": np.__version__, "blas": blas, "gemm": gemm, "gram": gram}


def avx512():
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(l for l in f if l.startswith("flags")).split()
        return all(f in flags for f in ("avx512f", "avx512bw", "avx512dq", "avx512vl"))
    except (OSError, StopIteration):
        return False


def run_config(args, coretype):
    env = dict(os.environ)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    exe = os.path.join(args.build, "bench", "lampy-bench-matmul")
    cmd = [exe, "--n", str(args.n), "--rows", str(args.rows), "--cols", str(args.cols), "--reps", str(args.reps),
           "--threads", str(args.threads), "--json"]
    c = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout)
    out = subprocess.run([sys.executable, __file__, "--numpy-only", "--n", str(args.n), "--rows", str(args.rows),
                          "--cols", str(args.cols), "--reps", str(args.reps)],
                         check=True, capture_output=True, text=True, env=env).stdout
    return c, json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--cols", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--coretype", default="auto")
    ap.add_argument("--numpy-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.numpy_only:
        print(json.dumps(numpy_times(args.n, args.rows, args.cols, args.reps)))
        return

    exe = os.path.join(args.build, "bench", "lampy-bench-matmul")
    if not os.path.exists(exe):
        sys.exit(f"{exe} missing: ninja -C {args.build} bench/lampy-bench-matmul")
    if args.coretype == "auto":
        configs = [None] + (["SkylakeX"] if avx512() and not os.environ.get("OPENBLAS_CORETYPE") else [])
    elif args.coretype == "none":
        configs = [None]
    else:
        configs = [args.coretype]

    hdr = (f"{'OpenBLAS kernels':<18} {'product':<24} {'Lampy s':>9} {'OpenBLAS s':>11} {'NumPy s':>9} "
           f"{'vs OpenBLAS':>12} {'vs NumPy':>9} {'tasks':>6}")
    lines = []
    for ct in configs:
        c, npy = run_config(args, ct)
        label = ct or os.environ.get("OPENBLAS_CORETYPE") or "as detected"
        if not lines:
            print(f"Lampy links {c['openblas']} ({c['threads']} threads); "
                  f"NumPy {npy['version']} uses {npy['blas']}")
        for name, key in ((f"A @ B, {args.n}^2", "gemm"), (f"X.T @ X, {args.rows}x{args.cols}", "gram")):
            r = c[key]
            lines.append(f"{label:<18} {name:<24} {r['lampy_s']:>9.3f} {r['openblas_s']:>11.3f} {npy[key]:>9.3f} "
                         f"{r['lampy_s'] / r['openblas_s']:>11.2f}x {r['lampy_s'] / npy[key]:>8.2f}x {r['tasks']:>6}")
    print(hdr)
    print("-" * len(hdr))
    print("\n".join(lines))
    print("(ratios: Lampy time / other time; below 1.00 Lampy is faster)")


if __name__ == "__main__":
    main()
