#!/usr/bin/env python3
"""Fisher LDA side by side: Lampy against a straightforward NumPy implementation, Dask array
and scikit-learn's LinearDiscriminantAnalysis(solver='eigen'), on the issue's two shapes
(2M x 64 and 10M x 32, two classes, float64).

Data sets are written once by `lampy gen` (data/bench/lda_<N>x<D>/, reused afterwards). Every
implementation runs in its own child process so that its peak RSS (ru_maxrss) is its own:
  - lampy-cli: `lampy fisher X.npy y.npy --no-accuracy`, streaming the file (the time is the
    fit as the CLI reports it: reading the page-cached file included);
  - lampy-py: `lampy.FisherLDA().fit(X, y)` on arrays loaded with NumPy (when `import lampy`
    works), the same footing as the in-memory libraries below;
  - numpy / dask / sklearn: fit on arrays loaded with np.load (load time shown apart);
  - jax: the same computation as one jax.jit function (float64 on the CPU device, X and the
    class indices put on the device and the function compiled and run once before timing:
    JAX's most favourable setting).
Each child also returns its discriminant direction; the table shows its cosine with
scikit-learn's (or NumPy's when scikit-learn is skipped). Times are the best of --reps runs;
"cpu s" is the CPU time (user + system, all threads) of the best run, which a busy machine
disturbs less than the wall time.

    .venv/bin/python bench/bench_lda.py [--reps 3] [--only 2000000x64] [--skip sklearn]
                                        [--lampy build/lampy] [--threads 0] [--json out.json]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPES = [(2_000_000, 64), (10_000_000, 32)]
IMPLS = ["lampy-cli", "lampy-py", "numpy", "dask", "jax", "sklearn"]
GOALS = {"numpy": 5, "dask": 8, "sklearn": 30, "jax": 1.2}


# ---- the implementations (run in a child) -----------------------------------------------------

def direction_of(coef):
    w = np.asarray(coef, dtype=np.float64).ravel()
    return w / np.linalg.norm(w)


def numpy_lda(X, y):
    """The textbook two-pass computation with NumPy (and scipy's generalized eigh)."""
    import scipy.linalg
    classes, yi = np.unique(y, return_inverse=True)
    N, D = X.shape
    K = len(classes)
    means = np.empty((K, D))
    Sw = np.zeros((D, D))
    counts = np.bincount(yi, minlength=K)
    for k in range(K):
        Xk = X[yi == k]
        means[k] = Xk.mean(axis=0)
        Xc = Xk - means[k]
        Sw += Xc.T @ Xc
    Sw /= N
    mu = counts @ means / N
    Sb = ((means - mu).T * (counts / N)) @ (means - mu)
    evals, evecs = scipy.linalg.eigh(Sb, Sw)
    V = evecs[:, ::-1]
    coef = means @ V @ V.T
    return coef[1] - coef[0] if K == 2 else coef


def dask_lda(X, y, chunk_rows):
    """The same with Dask array on the threaded scheduler: class counts and sums in one
    compute, then the centered scatter of each class in a second."""
    import dask.array as da
    import scipy.linalg
    Xd = da.from_array(X, chunks=(chunk_rows, X.shape[1]))
    yd = da.from_array(y, chunks=chunk_rows)
    classes = da.unique(yd).compute()
    masks = [(yd == c) for c in classes]
    stats = da.compute(*[m.sum() for m in masks], *[(Xd * m[:, None]).sum(axis=0) for m in masks])
    K = len(classes)
    counts = np.array(stats[:K], dtype=np.float64)
    means = np.stack(stats[K:]) / counts[:, None]
    scat = da.compute(*[(((Xd - means[k]) * masks[k][:, None]).T @ ((Xd - means[k]) * masks[k][:, None]))
                        for k in range(K)])
    N = X.shape[0]
    Sw = sum(scat) / N
    mu = counts @ means / N
    Sb = ((means - mu).T * (counts / N)) @ (means - mu)
    evals, evecs = scipy.linalg.eigh(Sb, Sw)
    V = evecs[:, ::-1]
    coef = means @ V @ V.T
    return coef[1] - coef[0] if K == 2 else coef


def jax_lda_fn(K):
    """One jitted function: class counts and means (one-hot matmuls), the centered within-class
    scatter, and the generalized eigenproblem through a Cholesky factor of Sw (jax's eigh has no
    second matrix)."""
    import jax
    import jax.numpy as jnp

    @jax.jit
    def fit(X, yi):
        N = X.shape[0]
        onehot = (yi[:, None] == jnp.arange(K)[None, :]).astype(X.dtype)
        counts = onehot.sum(axis=0)
        means = (onehot.T @ X) / counts[:, None]
        Xc = X - means[yi]
        Sw = (Xc.T @ Xc) / N
        mu = counts @ means / N
        Sb = ((means - mu).T * (counts / N)) @ (means - mu)
        L = jnp.linalg.cholesky(Sw)
        Li = jax.scipy.linalg.solve_triangular(L, jnp.eye(X.shape[1], dtype=X.dtype), lower=True)
        w, U = jnp.linalg.eigh(Li @ Sb @ Li.T)
        V = (Li.T @ U)[:, ::-1]
        return means @ V @ V.T

    return fit


def child(impl, data, reps, lampy_bin, threads):
    X_path, y_path = os.path.join(data, "X.npy"), os.path.join(data, "y.npy")
    out = {"impl": impl, "fit_s": None, "load_s": None}
    if impl == "lampy-cli":
        best, coef = None, None
        args = [lampy_bin, "fisher", X_path, y_path, "--no-accuracy", "--save", os.path.join(data, "bench_model.npy")]
        if threads:
            args += ["--threads", str(threads)]
        maxrss, cpu = 0, None
        for _ in range(reps):
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            p = subprocess.run(args, capture_output=True, text=True)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            c = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
            cpu = c if cpu is None else min(cpu, c)
            if p.returncode != 0:
                raise RuntimeError(p.stderr)
            fit = float(next(line.split()[1] for line in p.stdout.splitlines() if line.startswith("fit")))
            best = fit if best is None else min(best, fit)
            # the largest resident set of the lampy processes this child waited for
            maxrss = max(maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        v = np.load(os.path.join(data, "bench_model.npy"))
        K, D, m, C = (int(x) for x in v[2:6])
        off = 16 + 2 * K + K * D
        coef = v[off:off + C * D]
        # cpu: the whole process (startup, labels pass and writing the model included)
        out.update(fit_s=best, cpu_s=cpu, maxrss_kb=maxrss, direction=direction_of(coef).tolist())
        return out
    t0 = time.perf_counter()
    X = np.load(X_path)
    y = np.load(y_path)
    out["load_s"] = time.perf_counter() - t0
    best, coef, cpu = None, None, None
    if impl == "jax":
        import jax
        jax.config.update("jax_enable_x64", True)
        classes, yi = np.unique(y, return_inverse=True)
        fit = jax_lda_fn(len(classes))
        Xj, yj = jax.device_put(X), jax.device_put(yi.astype(np.int32))
        fit(Xj, yj).block_until_ready()  # compile and warm
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        if impl == "numpy":
            coef = numpy_lda(X, y)
        elif impl == "dask":
            coef = dask_lda(X, y, chunk_rows=max(1, (16 << 20) // (8 * X.shape[1])))
        elif impl == "sklearn":
            from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
            coef = LinearDiscriminantAnalysis(solver="eigen").fit(X, y).coef_
        elif impl == "jax":
            c = np.asarray(fit(Xj, yj).block_until_ready())
            coef = c[1] - c[0] if c.shape[0] == 2 else c
        elif impl == "lampy-py":
            import lampy
            coef = lampy.FisherLDA().fit(X, y).coef_
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        best = dt if best is None else min(best, dt)
        cpu = dc if cpu is None else min(cpu, dc)
    out.update(fit_s=best, cpu_s=cpu, maxrss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               direction=direction_of(coef).tolist())
    return out


# ---- the driver -------------------------------------------------------------------------------

def ensure_data(lampy_bin, n, d):
    data = os.path.join(ROOT, "data", "bench", f"lda_{n}x{d}")
    if not (os.path.exists(os.path.join(data, "X.npy")) and os.path.exists(os.path.join(data, "y.npy"))):
        print(f"generating {data} with lampy gen ...", flush=True)
        subprocess.run([lampy_bin, "gen", "--rows", str(n), "--features", str(d), "--classes", "2", "--sep", "1.5",
                        "--seed", "42", "-o", data], check=True)
    return data


def lampy_py_available():
    try:
        import lampy
        return hasattr(lampy, "FisherLDA")
    except ImportError:
        return False


def run_child(impl, data, reps, lampy_bin, threads, timeout):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", impl, "--data", data, "--reps", str(reps),
           "--lampy", lampy_bin, "--threads", str(threads)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"impl": impl, "error": f"timeout after {timeout} s"}
    if p.returncode != 0:
        return {"impl": impl, "error": (p.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def fmt_bytes(b):
    for u in ("B", "kB", "MB", "GB"):
        if b < 1000 or u == "GB":
            return f"{b:.0f} {u}" if u == "B" else f"{b:.2f} {u}"
        b /= 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", help="comma-separated shapes NxD, e.g. 2000000x64")
    ap.add_argument("--skip", default="", help="comma-separated implementations to skip")
    ap.add_argument("--lampy", default=os.path.join(ROOT, "build", "lampy"))
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--doc", help="write the tables into this Markdown file between the bench-lda markers")
    ap.add_argument("--child")
    ap.add_argument("--data")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child, a.data, a.reps, a.lampy, a.threads)))
        return 0
    shapes = SHAPES
    if a.only:
        shapes = [tuple(int(v) for v in s.split("x")) for s in a.only.split(",")]
    skip = set(filter(None, a.skip.split(",")))
    if not lampy_py_available():
        skip.add("lampy-py")
    results = []
    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    say(f"Fisher LDA, two classes, float64; {os.cpu_count()} cores; best of {a.reps}; load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for n, d in shapes:
        data = ensure_data(a.lampy, n, d)
        nbytes = n * d * 8
        rows = []
        for impl in IMPLS:
            if impl in skip:
                continue
            reps = 1 if impl == "sklearn" else a.reps
            r = run_child(impl, data, reps, a.lampy, a.threads, a.timeout)
            r.update(rows=n, features=d, data_bytes=nbytes)
            rows.append(r)
            msg = r.get("error") or f"fit {r['fit_s']:.3f} s, peak RSS {fmt_bytes(r['maxrss_kb'] * 1024)}"
            print(f"  {n} x {d} {impl:10s} {msg}", flush=True)
        ref = next((r for r in rows if r["impl"] == "sklearn" and "error" not in r), None) or \
            next((r for r in rows if r["impl"] == "numpy" and "error" not in r), None)
        lam = next((r for r in rows if r["impl"] == "lampy-cli" and "error" not in r), None)
        say()
        say(f"{n:,} x {d} float64 ({fmt_bytes(nbytes)})")
        say(f"  {'implementation':14s} {'fit s':>8s} {'cpu s':>7s} {'load s':>8s} {'M rows/s':>9s} {'peak RSS':>10s} "
              f"{'RSS/data':>8s} {'lampy x':>8s} {'goal':>5s} {'cos':>10s}")
        for r in rows:
            if "error" in r:
                say(f"  {r['impl']:14s} {r['error']}")
                continue
            cos = abs(np.dot(r["direction"], ref["direction"])) if ref else float("nan")
            speed = r["fit_s"] / lam["fit_s"] if lam and r is not lam else None
            goal = GOALS.get(r["impl"])
            load = f"{r['load_s']:.2f}" if r.get("load_s") is not None else "-"
            say(f"  {r['impl']:14s} {r['fit_s']:8.3f} {r['cpu_s']:7.2f} {load:>8s} {n / r['fit_s'] / 1e6:9.2f} "
                  f"{fmt_bytes(r['maxrss_kb'] * 1024):>10s} {r['maxrss_kb'] * 1024 / nbytes:8.2f} "
                  f"{(f'{speed:.1f}x' if speed else '-'):>8s} {(f'{goal}x' if goal else '-'):>5s} {cos:10.8f}")
            r["cos_vs_ref"] = cos
            r["lampy_speedup"] = speed
        say()
        results.extend(rows)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    if a.doc:
        begin, end = "<!-- bench-lda:begin -->", "<!-- bench-lda:end -->"
        stamp = time.strftime("%Y-%m-%d %H:%M %Z")
        block = f"{begin}\n<!-- written by bench/bench_lda.py ({stamp}) -->\n```\n" + "\n".join(lines) + f"\n```\n{end}"
        text = open(a.doc).read() if os.path.exists(a.doc) else ""
        if begin in text and end in text:
            head, rest = text.split(begin, 1)
            text = head + block + rest.split(end, 1)[1]
        else:
            text = text.rstrip("\n") + "\n\n## Fisher LDA (`make bench`, bench/bench_lda.py)\n\n" + block + "\n"
        with open(a.doc + ".tmp", "w") as f:
            f.write(text)
        os.replace(a.doc + ".tmp", a.doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
