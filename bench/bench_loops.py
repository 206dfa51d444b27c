#!/usr/bin/env python3
"""Loops inside the graph (issue 13) side by side, each implementation in its own child
process (so its peak RSS is its own):

  overhead   per-iteration overhead of lp.fori_loop / lp.while_loop (bench/loop_overhead.c:
             an empty body, a one-task body, a while loop, a chunked vector body) and the
             peak RSS after 1/10th and all of the iterations (flat memory)
  kmeans     k-means 2M x 32, k=8, 20 Lloyd iterations from the same given centers (tol=0,
             so every implementation runs all 20): lampy.ml.KMeans (one graph with a loop),
             scikit-learn's KMeans (algorithm='lloyd', n_init=1) and a NumPy loop
  logreg     logistic regression 2M x 32 (L2, C=1): lampy.ml.LogisticRegression (Newton in one
             graph) and scikit-learn's LogisticRegression (newton-cholesky and lbfgs)

Times are the best of --reps runs of the fit (data generated in the child, not timed); "cpu
s" is the CPU time of the best run; rss the child's peak resident set. The results are
checked against each other (centers / coefficients) and the table says how far apart.

    .venv/bin/python bench/bench_loops.py [--rows 2000000] [--reps 3] [--only kmeans,logreg]
                                          [--build build] [--json out.json]
Smoke test on small sizes: --rows 20000 --iters 2000 --reps 1.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
D, K, ITERS = 32, 8, 20


def data(rows, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(K, D))
    lab = rng.integers(0, K, size=rows)
    X = centers[lab] + rng.standard_normal((rows, D))
    return X, lab, centers


def child(impl, rows, reps):
    """Run one implementation; print one JSON line."""
    import numpy as np
    X, lab, centers = data(rows)
    init = X[:K].copy()
    best, cpu, out = 1e30, 0.0, None
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        if impl == "lampy-kmeans":
            from lampy.ml import KMeans
            m = KMeans(K, init=init, max_iter=ITERS, tol=0.0).fit(X)
            out = m.cluster_centers_
        elif impl == "sklearn-kmeans":
            from sklearn.cluster import KMeans
            m = KMeans(K, init=init, n_init=1, max_iter=ITERS, tol=0.0, algorithm="lloyd").fit(X)
            out = m.cluster_centers_
        elif impl == "numpy-kmeans":
            C = init.copy()
            for _ in range(ITERS):
                d = (C * C).sum(axis=1)[None, :] - 2 * (X @ C.T)
                lb = d.argmin(axis=1)
                cnt = np.bincount(lb, minlength=K)
                S = np.zeros_like(C)
                for k in range(K):
                    S[k] = X[lb == k].sum(axis=0)
                C = np.where(cnt[:, None] > 0, S / np.maximum(cnt, 1)[:, None], C)
            out = C
        elif impl == "lampy-logreg":
            from lampy.ml import LogisticRegression
            y = (lab % 2).astype(np.int64)
            m = LogisticRegression(C=1.0, tol=1e-8).fit(X, y)
            out = np.concatenate([m.coef_[0], m.intercept_])
        elif impl in ("sklearn-logreg", "sklearn-logreg-lbfgs"):
            from sklearn.linear_model import LogisticRegression
            y = (lab % 2).astype(np.int64)
            solver = "lbfgs" if impl.endswith("lbfgs") else "newton-cholesky"
            m = LogisticRegression(C=1.0, tol=1e-8, solver=solver, max_iter=1000).fit(X, y)
            out = np.concatenate([m.coef_[0], m.intercept_])
        else:
            raise SystemExit(f"unknown implementation {impl}")
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if dt < best:
            best, cpu = dt, dc
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"impl": impl, "seconds": best, "cpu": cpu, "rss": rss, "out": np.asarray(out).tolist()}))


def run_child(impl, args):
    p = subprocess.run([sys.executable, __file__, "--child", impl, "--rows", str(args.rows), "--reps", str(args.reps)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return {"impl": impl, "error": (p.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def overhead(args):
    exe = os.path.join(args.build, "bench", "lampy-bench-loop")
    if not os.path.exists(exe):
        subprocess.run(["ninja", "-C", args.build, "bench/lampy-bench-loop"], check=True, capture_output=True)
    rows = []
    for n in (args.iters // 10, args.iters):
        p = subprocess.run([exe, "-n", str(n), "-r", str(args.reps), "--json"], capture_output=True, text=True, check=True)
        rows += [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child")
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--iters", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default="overhead,kmeans,logreg")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.rows, args.reps)
        return
    import numpy as np
    only = args.only.split(",")
    report = {"rows": args.rows}
    if "overhead" in only:
        rows = overhead(args)
        report["overhead"] = rows
        print(f"{'loop':8} {'threads':>7} {'iters':>8} {'us/iter':>9} {'peak RSS MB':>12}")
        for r in rows:
            print(f"{r['loop']:8} {r['threads']:>7} {r['iters']:>8} {r['us_per_iter']:>9.2f} {r['peak_rss_mb']:>12.1f}")
        print()
    for task, impls in (("kmeans", ["lampy-kmeans", "sklearn-kmeans", "numpy-kmeans"]),
                        ("logreg", ["lampy-logreg", "sklearn-logreg", "sklearn-logreg-lbfgs"])):
        if task not in only:
            continue
        res = [run_child(i, args) for i in impls]
        ref = next((np.asarray(r["out"]) for r in res if "out" in r and r["impl"].startswith("sklearn")), None)
        print(f"{task} {args.rows} x {D}" + (f", k={K}, {ITERS} iterations" if task == "kmeans" else ", C=1"))
        print(f"  {'impl':22} {'seconds':>9} {'cpu s':>8} {'peak RSS MB':>12} {'max diff vs sklearn':>20}")
        for r in res:
            if "error" in r:
                print(f"  {r['impl']:22} error: {r['error']}")
                continue
            diff = float(np.abs(np.asarray(r["out"]) - ref).max() / max(np.abs(ref).max(), 1e-300)) if ref is not None else float("nan")
            print(f"  {r['impl']:22} {r['seconds']:>9.3f} {r['cpu']:>8.3f} {r['rss'] / 2**20:>12.1f} {diff:>20.2e}")
            r.pop("out")
        report[task] = res
        print()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
