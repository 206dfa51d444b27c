#!/usr/bin/env python3
"""Lampy's benchmark harness (`make bench`): the workloads of issue 3, side by side.

Each workload's data is generated once, in memory, with NumPy; then, in the same process,
Lampy (through the Python module on the same arrays, wrapped zero-copy with lp.asarray; or,
when `import lampy` fails, through `lampy eval --stats` on .npy files, timing the lp_run
figure it reports), NumPy, numexpr, Dask (threaded scheduler, Lampy's chunk shape) and JAX
(jax.jit on the CPU device, float64, the inputs already on the device, compiled and run once
before timing: its most favourable setting) compute it. Results are checked against NumPy's; the table gives best-of-N wall times, ratios against
Lampy, effective bandwidth (bytes that must be read + written / time) against a STREAM-style
triad measured in the same run (bench/triad.c, plain C on pthreads) and, for the streaming
workloads 1-3, a plain C triad/read on the workload's own arrays run just before Lampy in every
round (bench/memref.c, through ctypes: the host's memory rate moves within a minute, so the
targets use that same-round ratio), and the task overhead of a
~10,000-task graph (bench/overhead.c). The table is printed and written into
docs/PERFORMANCE.md between <!-- bench:begin --> and <!-- bench:end --> (the rest of the file
is kept).

    .venv/bin/python bench/harness.py [--reps 5] [--only 1,3] [--scale 0.25] [--no-write]
"""
import argparse
import datetime
import gc
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
MiB = 1 << 20


# ---- environment ----------------------------------------------------------------------------

def machine_description():
    info = {"cpu": platform.processor() or "?", "cores": os.cpu_count(), "ram_gib": None}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        kv = dict(l.split(":", 1) for l in out.splitlines() if ":" in l)
        kv = {k.strip(): v.strip() for k, v in kv.items()}
        info["cpu"] = kv.get("Model name", info["cpu"])
        info["cores"] = int(kv.get("CPU(s)", info["cores"]))
        for k in ("L1d cache", "L2 cache", "L3 cache"):
            if k in kv:
                info[k] = kv[k]
        if "Hypervisor vendor" in kv:
            info["hypervisor"] = kv["Hypervisor vendor"]
    except (OSError, subprocess.CalledProcessError, ValueError):
        pass
    try:
        with open("/proc/meminfo") as f:
            kb = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
        info["ram_gib"] = kb / (1 << 20)
    except (OSError, AttributeError):
        pass
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            info["thp"] = re.search(r"\[(\w+)\]", f.read()).group(1)
    except (OSError, AttributeError):
        pass
    info["kernel"] = platform.release()
    return info


def build_options(build):
    """buildtype / optimization / native of the meson build directory."""
    try:
        out = subprocess.run(["meson", "introspect", build, "--buildoptions"], capture_output=True,
                             text=True, check=True).stdout
        opts = {o["name"]: o["value"] for o in json.loads(out)}
        return {k: opts.get(k) for k in ("buildtype", "optimization", "native", "b_ndebug")}
    except (OSError, subprocess.CalledProcessError, ValueError):
        return {}


def import_lampy(build):
    """Import the extension built in BUILD (python/lampy/*.py next to build/python/_lampy*.so, in
    a temporary package directory), so the numbers are those of that build; else whatever
    `import lampy` finds (the copy pip installed into the venv). Returns (module, where) or
    (None, reason)."""
    sos = glob.glob(os.path.join(build, "python", "_lampy*.so"))
    if sos:
        pkg_root = tempfile.mkdtemp(prefix="lampy-bench-pkg-")
        pkg = os.path.join(pkg_root, "lampy")
        os.mkdir(pkg)
        for py in glob.glob(os.path.join(ROOT, "python", "lampy", "*.py")):
            shutil.copy(py, pkg)
        os.symlink(os.path.abspath(sos[0]), os.path.join(pkg, os.path.basename(sos[0])))
        sys.path.insert(0, pkg_root)
    try:
        import lampy
        where = os.path.relpath(lampy._lampy.__file__, ROOT) if sos else lampy._lampy.__file__
        if sos:
            where = os.path.relpath(os.path.realpath(lampy._lampy.__file__), ROOT)
        return lampy, where
    except Exception as e:  # noqa: BLE001 — any failure means: use the CLI
        if sos:
            sys.path.remove(pkg_root)
        return None, f"{type(e).__name__}: {e}"


# ---- timing -----------------------------------------------------------------------------------

class LampyCLI:
    """Fallback: `lampy eval --stats EXPR name=file.npy ... -o out.npy`, timing its lp_run."""

    def __init__(self, exe, tmp):
        self.exe, self.tmp, self.files = exe, tmp, {}

    def bind(self, name, arr):
        path = os.path.join(self.tmp, f"{name}.npy")
        np.save(path, arr)
        self.files[name] = path

    def unbind(self):
        for p in self.files.values():
            os.unlink(p)
        self.files = {}

    def run(self, expr, names, extra=()):
        out = os.path.join(self.tmp, "out.npy")
        cmd = [self.exe, "eval", "--stats", *extra, expr] + [f"{n}={self.files[n]}" for n in names] + ["-o", out]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError(f"{' '.join(cmd)}: {p.stderr.strip()}")
        m = re.search(r"lp_run time\s+([0-9.eE+-]+)", p.stderr)
        t = float(m.group(1))
        r = np.load(out)
        os.unlink(out)
        return t, r


# ---- workloads ---------------------------------------------------------------------------------
# Each: name, expression text, data maker, bytes that must move, kind, and one callable per
# library taking the prepared inputs. "kind" picks the agreement tolerance.

def make_workloads(args):
    n = int(args.elems * args.scale)
    r4, r5, c5 = int(args.rows4 * args.scale), int(args.rows5 * args.scale), args.cols5
    n6 = int(args.elems6 * args.scale)
    c7, e7 = args.chunks7, args.elems7
    W = []
    W.append(dict(id=1, expr="a*b + c*2 - a", size=fmt_n(n), kind="elemwise", targets="1",
                  data=lambda rng: dict(a=rng.random(n), b=rng.random(n), c=rng.random(n)),
                  bytes=4 * 8 * n,
                  np=lambda d: d["a"] * d["b"] + d["c"] * 2 - d["a"],
                  ne="a*b + c*2 - a",
                  lp=lambda lp, d: (d["a"] * d["b"] + d["c"] * 2 - d["a"]).run(),
                  da=lambda da, d: (d["a"] * d["b"] + d["c"] * 2 - d["a"]),
                  jx=lambda jnp, d: d["a"] * d["b"] + d["c"] * 2 - d["a"],
                  cli="a*b + c*2 - a"))
    W.append(dict(id=2, expr="sum(a)", size=fmt_n(n), kind="reduce", targets="2-6",
                  data=lambda rng: dict(a=rng.random(n)),
                  bytes=8 * n,
                  np=lambda d: d["a"].sum(),
                  ne="sum(a)",
                  lp=lambda lp, d: lp.sum(d["a"]).run(),
                  da=lambda da, d: d["a"].sum(),
                  jx=lambda jnp, d: jnp.sum(d["a"]),
                  cli="sum(a)"))
    W.append(dict(id=3, expr="sum((a-b)**2)", size=fmt_n(n), kind="reduce", targets="3",
                  data=lambda rng: dict(a=rng.random(n), b=rng.random(n)),
                  bytes=2 * 8 * n,
                  np=lambda d: ((d["a"] - d["b"]) ** 2).sum(),
                  ne="sum((a-b)**2)",
                  lp=lambda lp, d: lp.sum((d["a"] - d["b"]) ** 2).run(),
                  da=lambda da, d: ((d["a"] - d["b"]) ** 2).sum(),
                  jx=lambda jnp, d: jnp.sum((d["a"] - d["b"]) ** 2),
                  cli="sum((a-b)**2)"))

    def w4_np(d):
        a, b = d["a"], d["b"]
        return np.where(a > 0.5, np.sqrt(a), -b).mean(axis=0)

    def w4_ne(d, ne):
        return ne.evaluate("sum(where(a > 0.5, sqrt(a), -b), axis=0)", local_dict=d) / d["a"].shape[0]

    W.append(dict(id=4, expr="where(a > 0.5, sqrt(a), -b).mean(axis=0)", size=f"({fmt_n(r4)}, 8)",
                  kind="reduce", targets="2-6",
                  data=lambda rng: dict(a=rng.random((r4, 8)), b=rng.random((r4, 8))),
                  bytes=2 * 8 * r4 * 8,
                  np=w4_np, ne=w4_ne,
                  lp=lambda lp, d: lp.where(d["a"] > 0.5, lp.sqrt(d["a"]), -d["b"]).mean(axis=0).run(),
                  da=lambda da, d: da.where(d["a"] > 0.5, da.sqrt(d["a"]), -d["b"]).mean(axis=0),
                  jx=lambda jnp, d: jnp.where(d["a"] > 0.5, jnp.sqrt(d["a"]), -d["b"]).mean(axis=0),
                  cli="where(a > 0.5, sqrt(a), -b).mean(axis=0)"))

    def w5_ne(d, ne):
        # numexpr has no var: two passes (column means, then squared deviations)
        a = d["a"]
        m = ne.evaluate("sum(a, axis=0)", local_dict={"a": a}) / a.shape[0]
        return ne.evaluate("sum((a - m)**2, axis=0)", local_dict={"a": a, "m": m}) / a.shape[0]

    W.append(dict(id=5, expr="a.var(axis=0)", size=f"({fmt_n(r5)}, {c5})", kind="reduce",
                  targets="2-6",
                  data=lambda rng: dict(a=rng.random((r5, c5))),
                  bytes=8 * r5 * c5,
                  np=lambda d: d["a"].var(axis=0), ne=w5_ne,
                  lp=lambda lp, d: d["a"].var(axis=0).run(),
                  da=lambda da, d: d["a"].var(axis=0),
                  jx=lambda jnp, d: jnp.var(d["a"], axis=0),
                  cli="a.var(axis=0)"))
    W.append(dict(id=6, expr="exp(a) * sin(b)", size=fmt_n(n6), kind="elemwise_libm",
                  targets="2-6",
                  data=lambda rng: dict(a=rng.random(n6), b=rng.random(n6)),
                  bytes=3 * 8 * n6,
                  np=lambda d: np.exp(d["a"]) * np.sin(d["b"]),
                  ne="exp(a) * sin(b)",
                  lp=lambda lp, d: (lp.exp(d["a"]) * lp.sin(d["b"])).run(),
                  da=lambda da, d: da.exp(d["a"]) * da.sin(d["b"]),
                  jx=lambda jnp, d: jnp.exp(d["a"]) * jnp.sin(d["b"]),
                  cli="exp(a) * sin(b)"))
    W.append(dict(id=7, expr=f"sum(a), {c7} chunks", size=f"{c7:,} x {e7:,}", kind="reduce", targets="7",
                  data=lambda rng: dict(a=rng.random(c7 * e7)),
                  bytes=8 * c7 * e7, chunks=(e7,),
                  np=lambda d: d["a"].sum(),
                  ne=None,
                  lp=lambda lp, d: lp.sum(d["a"]).run(),
                  da=lambda da, d: d["a"].sum(),
                  cli="sum(a)", cli_args=["--chunk-bytes", str(8 * e7)]))
    # issue 15: the NumPy a data scientist types (sorting, unique, scans, selection, einsum, masks)
    n8, r12, c12 = int(args.elems8 * args.scale), int(args.rows12 * args.scale), args.cols12
    W.append(dict(id=8, expr="sort(a)", size=fmt_n(n8), kind="exact", targets="15",
                  data=lambda rng: dict(a=rng.random(n8)), bytes=2 * 8 * n8,
                  np=lambda d: np.sort(d["a"]), ne=None,
                  lp=lambda lp, d: lp.sort(d["a"]).run(),
                  da=None,  # dask.array has no sort
                  cli="sort(a)"))
    W.append(dict(id=9, expr="unique(a) (int64)", size=fmt_n(n8), kind="exact", targets="15",
                  data=lambda rng: dict(a=rng.integers(0, n8 // 8 or 1, n8)), bytes=8 * n8,
                  np=lambda d: np.unique(d["a"]), ne=None,
                  lp=lambda lp, d: lp.unique(d["a"]).run(),
                  da=lambda da, d: da.unique(d["a"]),
                  cli="unique(a)"))
    W.append(dict(id=10, expr="cumsum(a)", size=fmt_n(n8), kind="reduce", targets="15",
                  data=lambda rng: dict(a=rng.random(n8)), bytes=2 * 8 * n8,
                  np=lambda d: np.cumsum(d["a"]), ne=None,
                  lp=lambda lp, d: lp.cumsum(d["a"]).run(),
                  da=lambda da, d: da.cumsum(d["a"]),
                  cli="cumsum(a)"))
    W.append(dict(id=11, expr="median(a)", size=fmt_n(n8), kind="exact", targets="15",
                  data=lambda rng: dict(a=rng.random(n8)), bytes=8 * n8,
                  np=lambda d: np.median(d["a"]), ne=None,
                  lp=lambda lp, d: lp.median(d["a"]).run(),
                  da=lambda da, d: da.median(d["a"], axis=0),
                  cli="median(a)"))
    W.append(dict(id=12, expr="einsum('ij,ij->i', a, b)", size=f"({fmt_n(r12)}, {c12})", kind="reduce", targets="15",
                  data=lambda rng: dict(a=rng.random((r12, c12)), b=rng.random((r12, c12))), bytes=2 * 8 * r12 * c12 + 8 * r12,
                  np=lambda d: np.einsum("ij,ij->i", d["a"], d["b"]), ne=None,
                  lp=lambda lp, d: lp.einsum("ij,ij->i", d["a"], d["b"]).run(),
                  da=lambda da, d: da.einsum("ij,ij->i", d["a"], d["b"]),
                  cli="einsum('ij,ij->i', a, b)"))
    W.append(dict(id=13, expr="a[a > 0.5]", size=fmt_n(n8), kind="exact", targets="15",
                  data=lambda rng: dict(a=rng.random(n8)), bytes=8 * n8 + 4 * n8,
                  np=lambda d: d["a"][d["a"] > 0.5], ne=None,
                  lp=lambda lp, d: d["a"][d["a"] > 0.5].run(),
                  da=lambda da, d: d["a"][d["a"] > 0.5],
                  cli="a[a > 0.5]"))
    # tall-skinny SVD: Lampy's TSQR over row chunks then the small factor's SVD, Dask's tsqr
    # (chunks along rows only, as Lampy's); singular vectors are unique up to sign (and rotation
    # within near-equal singular values), so results compare by S and by U S Vh (svd_diff)
    r14, c14 = int(args.rows14 * args.scale), args.cols14
    W.append(dict(id=14, expr="linalg.svd(a, full_matrices=False)", size=f"({fmt_n(r14)}, {c14})", kind="reduce",
                  targets="15",
                  data=lambda rng: dict(a=rng.random((r14, c14))), bytes=2 * 8 * r14 * c14,
                  np=lambda d: tuple(np.linalg.svd(d["a"], full_matrices=False)), ne=None,
                  lp=lambda lp, d: tuple(lp.compute(*lp.linalg.svd(d["a"], full_matrices=False))),
                  da=lambda da, d: tuple(da.linalg.svd(d["a"])),
                  diff=svd_diff,
                  cli=None))  # the CLI prints one array; a tuple of three has no .npy
    only = set(args.only) if args.only else None
    return [w for w in W if only is None or w["id"] in only]


def auto_chunks(shape, itemsize):
    """Lampy's automatic chunk shape (src/plan/grid.c: total/16 bytes clamped to [256 KiB,
    16 MiB], trailing axes whole, leading axes split), for Dask when Lampy runs via the CLI."""
    total = itemsize
    for n in shape:
        total *= n
    target = min(max(total // 16, 256 << 10), 16 << 20)
    chunk, inner = list(shape), itemsize
    for i in range(len(shape) - 1, -1, -1):
        n = shape[i] or 1
        if inner * n <= target:
            chunk[i], inner = n, inner * n
            continue
        chunk[i] = max(target // inner, 1)
        for j in range(i):
            chunk[j] = 1
        break
    return tuple(chunk)


def rel_diff(x, ref):
    """max |x - ref| / max(|ref|, 1e-300), over elements (0 for bit-identical results)."""
    x, ref = np.asarray(x, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if x.shape != ref.shape:
        return float("inf")
    if x.size == 0:
        return 0.0
    same = (x == ref) | (np.isnan(x) & np.isnan(ref))
    if same.all():
        return 0.0
    d = np.abs(x - ref) / np.maximum(np.abs(ref), 1e-300)
    return float(np.max(np.where(same, 0.0, d)))


def svd_diff(x, ref):
    """(U, S, Vh) against NumPy's: the larger of S's rel_diff and max |U S Vh - U' S' Vh'| over
    the largest |U' S' Vh'| (the reconstruction does not see the sign of a singular pair)."""
    (u, s, vh), (ur, sr, vhr) = [tuple(np.asarray(t, dtype=np.float64) for t in r) for r in (x, ref)]
    if u.shape != ur.shape or s.shape != sr.shape or vh.shape != vhr.shape:
        return float("inf")
    a, ar = (u * s) @ vh, (ur * sr) @ vhr
    return max(rel_diff(s, sr), float(np.max(np.abs(a - ar)) / max(float(np.max(np.abs(ar))), 1e-300)))


TOL = {"elemwise": 1e-12, "elemwise_libm": 1e-12, "reduce": 1e-9, "exact": 0.0}


# ---- running -------------------------------------------------------------------------------

def run_triad(build, elems, reps):
    exe = os.path.join(build, "bench", "lampy-triad")
    out = subprocess.run([exe, "-n", str(elems), "-r", str(reps), "-t", str(os.cpu_count() or 1)],
                         capture_output=True, text=True, check=True).stdout
    res = {}
    for line in out.splitlines():
        kv = dict(f.split("=", 1) for f in line.split()[1:])
        res[(line.split()[0], int(kv["threads"]))] = float(kv["gbps"])
    return res


def run_overhead(build, chunks, per, reps):
    exe = os.path.join(build, "bench", "lampy-overhead")
    out = subprocess.run([exe, "-c", str(chunks), "-e", str(per), "-r", str(reps), "-t",
                          str(os.cpu_count() or 1), "--json"], capture_output=True, text=True,
                         check=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def load_memref(build):
    """The same-round memory reference (bench/memref.c, plain C on pthreads) through ctypes, or None."""
    import ctypes
    path = os.path.join(build, "bench", "liblampy-bench-mem.so")
    if not os.path.exists(path):
        return None
    lib = ctypes.CDLL(path)
    P, I64 = ctypes.c_void_p, ctypes.c_int64
    lib.lpb_read.argtypes, lib.lpb_read.restype = [P, P, I64, ctypes.c_int], ctypes.c_double
    lib.lpb_triad.argtypes, lib.lpb_triad.restype = [P, P, P, I64, ctypes.c_int], None
    return lib


# The memory reference of a streaming workload, run in every round just before Lampy on the
# workload's own arrays: (kind, inputs, bytes it moves per element). w1 against the triad
# (o = a + 3 b, 24 bytes), w2 against reading a, w3 against reading a and b.
MEMREF = {1: ("triad", ("a", "b"), 24), 2: ("read", ("a",), 8), 3: ("read", ("a", "b"), 16)}


def memref_runner(memref, w, d, threads):
    spec = MEMREF.get(w["id"])
    if memref is None or spec is None:
        return None, None
    kind, names, per = spec
    xs = [d[k] for k in names]
    if any(x.dtype != np.float64 or not x.flags.c_contiguous for x in xs):
        return None, None
    n = xs[0].size
    if kind == "triad":
        o = np.empty_like(xs[0])
        o[:] = 0  # faulted in once, as bench/triad.c's arrays are
        return (lambda: memref.lpb_triad(o.ctypes.data, xs[0].ctypes.data, xs[1].ctypes.data, n, threads)), per * n
    b = xs[1].ctypes.data if len(xs) > 1 else None
    return (lambda: memref.lpb_read(xs[0].ctypes.data, b, n, threads)), per * n


def run_workload(w, args, libs, lp, cli, rng, memref=None):
    """Times every library on the same data, round-robin (rep 1 of each, then rep 2, ...) so
    that background load, if any, hits all of them alike; best and median per library."""
    d = w["data"](rng)
    gc.collect()
    res = {"id": w["id"], "expr": w["expr"], "size": w["size"], "bytes": w["bytes"], "times": {},
           "median": {}, "diff": {}, "notes": []}
    runners = {"numpy": lambda: w["np"](d)}
    # the memory's rate on these arrays, measured in each round just before Lampy's run
    mem_fn, mem_bytes = memref_runner(memref, w, d, args.threads or os.cpu_count() or 1)
    if mem_fn is not None and (lp is not None or (cli is not None and w["cli"])):
        runners["memory"] = mem_fn
    L = D = None
    if lp is not None:
        chunks = w.get("chunks")
        L = {k: lp.asarray(v, chunks=chunks) if chunks else lp.asarray(v) for k, v in d.items()}
        res["lampy_chunks"] = {k: tuple(v.chunks) for k, v in L.items()}
        runners["lampy"] = lambda: w["lp"](lp, L)
    elif cli is not None and w["cli"]:
        for k, v in d.items():
            cli.bind(k, v)
        res["notes"].append("Lampy via CLI (lp_run time)")
        runners["lampy"] = lambda: cli.run(w["cli"], list(d), w.get("cli_args", ()))
        res["lampy_chunks"] = {k: auto_chunks(v.shape, v.itemsize) for k, v in d.items()}
    if "numexpr" in libs and w["ne"] is not None:
        ne = libs["numexpr"]
        if callable(w["ne"]):
            runners["numexpr"] = lambda: w["ne"](d, ne)
        else:
            runners["numexpr"] = lambda: ne.evaluate(w["ne"], local_dict=d)
    if "dask" in libs and not args.no_dask and w["da"] is not None:
        da = libs["dask.array"]
        # the same chunk shape as Lampy's (its automatic choice, or the workload's)
        ch = w.get("chunks") or res.get("lampy_chunks", {}).get("a") or "auto"
        D = {k: da.from_array(v, chunks=ch) for k, v in d.items()}
        res["dask_chunks"] = str(ch)
        try:
            g = w["da"](da, D)
            res["dask_tasks"] = len(dict((g[0] if isinstance(g, tuple) else g).__dask_graph__()))
        except Exception:  # noqa: BLE001 — informational only
            res["dask_tasks"] = None
        def run_dask():
            r = w["da"](da, D)  # a tuple of results (svd) in one compute, sharing their graph
            return libs["dask"].compute(*r, scheduler="threads", num_workers=args.threads) if isinstance(r, tuple) \
                else r.compute(scheduler="threads", num_workers=args.threads)
        runners["dask"] = run_dask

    J = None
    if "jax" in libs and not args.no_jax and w.get("jx") is not None:
        jax, jnp = libs["jax"]
        names = list(d)
        J = [jax.device_put(d[k]) for k in names]
        f = jax.jit(lambda *xs: w["jx"](jnp, dict(zip(names, xs))))
        f(*J).block_until_ready()  # compile and warm outside the timing
        runners["jax"] = lambda: f(*J).block_until_ready()

    times = {k: [] for k in runners}
    results = {}
    reps = {k: args.reps for k in runners}
    if w["id"] == 7 and "dask" in reps:
        reps["dask"] = min(args.reps, 3)  # ~2 s each; the ratio is ~100x either way
    for rep in range(max(reps.values())):
        for lib, fn in runners.items():
            if rep >= reps[lib]:
                continue
            gc.collect()
            t0 = time.perf_counter()
            r = fn()
            t = time.perf_counter() - t0
            if lib == "lampy" and cli is not None and lp is None:
                t, r = r
            if lib == "lampy" and lp is not None and (not times[lib] or t < min(times[lib])):
                res["lampy_stats"] = lp.last_run_stats()  # of the best run
            times[lib].append(t)
            if lib not in results:
                results[lib] = r  # the first result is checked; later ones are dropped at once
            del r
    if "jax" in results:
        results["jax"] = np.asarray(results["jax"])
    results.pop("memory", None)
    mt = times.pop("memory", None)
    if mt and times.get("lampy"):
        # Lampy's bandwidth over the reference's, round by round (each pair a moment apart)
        fr = sorted((w["bytes"] / tl) / (mem_bytes / tm) for tl, tm in zip(times["lampy"], mt))
        res["memory"] = {"kind": MEMREF[w["id"]][0], "best_gbps": mem_bytes / min(mt) / 1e9,
                         "frac_median": fr[len(fr) // 2], "frac_min": fr[0], "frac_max": fr[-1]}
    ref = results["numpy"]
    for lib, ts in times.items():
        res["times"][lib] = min(ts)
        res["median"][lib] = sorted(ts)[len(ts) // 2]
        if lib != "numpy":
            res["diff"][lib] = w.get("diff", rel_diff)(results[lib], ref)
    if cli is not None and lp is None and w["cli"]:
        cli.unbind()
    tol = TOL[w["kind"]]
    res["agree"] = all(v <= tol for v in res["diff"].values())
    res["tol"] = tol
    del d, ref, results, L, D, J
    gc.collect()
    return res


# ---- reporting -----------------------------------------------------------------------------

def fmt_n(n):
    """64M, 0.5M, 800,000: element counts as the issue writes them."""
    return f"{n // MiB}M" if n % MiB == 0 else (f"{n / MiB:g}M" if (n * 4) % MiB == 0 else f"{n:,}")


def fmt_t(t):
    if t is None:
        return "—"
    return f"{t*1e3:.1f} ms" if t < 10 else f"{t:.2f} s"


def target_check(r, triad, read2):
    """The issues' targets for this workload: list of (text, met). read2: the 2-thread read
    bandwidth of the same run (GB/s), the ceiling of a reduction."""
    T = r["times"]
    lpt = T.get("lampy")
    out = []
    if lpt is None:
        return out
    def ratio(lib):
        return T[lib] / lpt if lib in T else None
    goals = {1: [("numpy", 4), ("numexpr", 2)], 7: [("dask", 20)]}
    if r["id"] >= 8:
        goals[r["id"]] = [("numpy", 1), ("dask", 1)]  # issue 15 asks for the comparison, no target yet
    for lib, g in goals.get(r["id"], [("numpy", 1.5), ("dask", 2)]) + [("jax", 1.2)]:
        x = ratio(lib)
        if x is not None:
            out.append((f"≥{g:g}x {lib}: {x:.2f}x", x >= g))
    gbps = r["bytes"] / lpt / 1e9
    # against the run's best reference (bench/triad.c) and, where measured, against the same
    # arrays' reference in the same round (the median of the rounds' ratios), which decides: the
    # host's memory rate moves within a minute, so a best-of-run reference may come from a
    # faster minute than any of Lampy's runs
    mem = r.get("memory")
    same = f", same round {mem['frac_median'] * 100:.0f}%" if mem else ""
    if r["id"] == 1:
        f = mem["frac_median"] if mem else gbps / triad
        out.append((f"≥75% triad: {gbps / triad * 100:.0f}%{same}", f >= 0.75))
    if r["id"] in (2, 3) and (read2 or mem):
        f = mem["frac_median"] if mem else gbps / read2
        out.append((f"≥85% read: {gbps / read2 * 100:.0f}%{same}" if read2 else f"≥85% read{same}", f >= 0.85))
    med = r["median"].get("lampy")
    if med:
        out.append((f"median ≤1.15x best: {med / lpt:.2f}x", med / lpt <= 1.15))
    return out


def render(results, overhead, triad, meta):
    L = []
    L.append(f"Measured {meta['date']} on {meta['machine']['cpu']}, {meta['machine']['cores']} cores, "
             f"{meta['machine']['ram_gib']:.1f} GiB RAM"
             + (f" ({meta['machine']['hypervisor']} guest" if meta['machine'].get('hypervisor') else "")
             + (f", kernel {meta['machine']['kernel']}, THP {meta['machine'].get('thp', '?')})"
                if meta['machine'].get('hypervisor') else "") + ".")
    L.append("")
    L.append(f"Command: `{meta['command']}`  ")
    L.append(f"Build: `{meta['build']}` ({', '.join(f'{k}={v}' for k, v in meta['build_options'].items())}); "
             f"Lampy {meta['lampy_mode']}.  ")
    L.append(f"Versions: Python {meta['versions']['python']}, "
             + ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if k != "python") + ".  ")
    L.append(f"Best of {meta['reps']} runs (wall time, expression building included). "
             f"Load average before/after: {meta['load_before']} / {meta['load_after']}.")
    L.append("")
    tri = ", ".join(f"{k} {t}T {v:.1f} GB/s" for (k, t), v in sorted(triad["runs"].items()))
    L.append(f"Bandwidth reference (bench/triad.c, {fmt_n(triad['elems'])} float64 per array, best "
             f"measurement of the run: before, between and after the workloads): {tri}. "
             f"**Triad = {triad['ref']:.1f} GB/s** (best over thread counts) is the 100% below.")
    L.append("")
    read2 = triad["runs"].get(("read", 2)) or max((v for (k, _), v in triad["runs"].items() if k == "read"),
                                                  default=None)
    L.append("| # | workload (float64) | size | Lampy | NumPy | numexpr | Dask | JAX | NumPy/Lampy | numexpr/Lampy "
             "| Dask/Lampy | JAX/Lampy | Lampy GB/s | % triad | max rel diff (Lampy, numexpr, Dask, JAX) | targets |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        T = r["times"]
        lpt = T.get("lampy")
        def ratio(lib):
            return f"{T[lib]/lpt:.2f}x" if lpt and lib in T else "—"
        gbps = r["bytes"] / lpt / 1e9 if lpt else None
        diffs = ", ".join(f"{r['diff'][k]:.1e}" if k in r["diff"] else "—"
                          for k in ("lampy", "numexpr", "dask", "jax"))
        if not r["agree"]:
            diffs += " **DISAGREE**"
        tg = target_check(r, triad["ref"], read2)
        tgt = "; ".join(("✅ " if ok else "❌ ") + txt for txt, ok in tg) or "—"
        L.append(f"| {r['id']} | `{r['expr']}` | {r['size']} | {fmt_t(lpt)} | {fmt_t(T.get('numpy'))} | "
                 f"{fmt_t(T.get('numexpr'))} | {fmt_t(T.get('dask'))} | {fmt_t(T.get('jax'))} | {ratio('numpy')} | "
                 f"{ratio('numexpr')} | {ratio('dask')} | {ratio('jax')} | "
                 f"{gbps:.1f} | {gbps/triad['ref']*100:.0f}% | {diffs} | {tgt} |" if lpt else
                 f"| {r['id']} | `{r['expr']}` | {r['size']} | — | {fmt_t(T.get('numpy'))} | "
                 f"{fmt_t(T.get('numexpr'))} | {fmt_t(T.get('dask'))} | {fmt_t(T.get('jax'))} | — | — | — | — | — | — "
                 f"| {diffs} | — |")
    L.append("")
    L.append("Ratios are the other library's time over Lampy's (> 1: Lampy is faster). GB/s counts the "
             "bytes that must be read and written once (inputs + output, float64), so it is comparable "
             "with the triad's STREAM counting (no write-allocate traffic). Max rel diff is "
             "max |x − NumPy| / |NumPy| over elements (0 = bit-identical); tolerance 1e-12 elementwise, "
             "1e-9 for reductions (different summation orders); for svd (14) the larger of S's and of "
             "max |U S Vh − NumPy's| / max |NumPy's U S Vh| (singular vectors are unique up to sign).")
    L.append("")
    mems = [r for r in results if r.get("memory")]
    if mems:
        L.append("Same-round memory reference (bench/memref.c through ctypes: plain C on pthreads, on the "
                 "workload's own arrays, run just before Lampy in every round; triad o = a + 3 b into a "
                 "buffer faulted in once, read: the sum of the inputs). Lampy's GB/s over the reference's, "
                 "round by round; the targets above use its median.")
        L.append("")
        L.append("| # | reference | its best GB/s | Lampy / reference, median (min – max) of the rounds |")
        L.append("|---|---|---|---|")
        for r in mems:
            m = r["memory"]
            L.append(f"| {r['id']} | {m['kind']} | {m['best_gbps']:.1f} | {m['frac_median'] * 100:.0f}% "
                     f"({m['frac_min'] * 100:.0f}% – {m['frac_max'] * 100:.0f}%) |")
        L.append("")
    L.append("Spread and plans: median of the runs per library, and Lampy's best run (tasks, planning "
             "time, lp_run time, chunk shape; Dask used the same chunks).")
    L.append("")
    L.append("| # | median Lampy / NumPy / numexpr / Dask / JAX | Lampy tasks | plan | lp_run | Lampy chunk "
             "| Dask tasks (graph) |")
    L.append("|---|---|---|---|---|---|---|")
    for r in results:
        st = r.get("lampy_stats")
        med = " / ".join(fmt_t(r["median"].get(k)) for k in ("lampy", "numpy", "numexpr", "dask", "jax"))
        if st:
            L.append(f"| {r['id']} | {med} | {st['tasks']} | {st['plan_seconds']*1e3:.2f} ms | "
                     f"{st['run_seconds']*1e3:.1f} ms | {r['lampy_chunks'].get('a')} | "
                     f"{r.get('dask_tasks') or '—'} |")
        else:
            L.append(f"| {r['id']} | {med} | — | — | — | — | {r.get('dask_tasks') or '—'} |")
    L.append("")
    if overhead:
        L.append(f"Task overhead (bench/overhead.c: `build/bench/lampy-overhead`, {overhead[0]['chunks']} "
                 f"chunks of {overhead[0]['elems_per_chunk']} float64, compared with the same data in one "
                 "chunk; goal < 5 µs per task; Dask's threaded scheduler ≈ 134 µs per task):")
        L.append("")
        L.append(f"| graph | threads | tasks | wall, {overhead[0]['chunks']} chunks | wall, 1 chunk | plan µs/task | "
                 "dispatch µs/task | total µs/task | goal < 5 µs |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for o in overhead:
            g = "sum(x) (partials + combine tree)" if o["workload"] == "sum" else "x + 1 (map tasks)"
            L.append(f"| {g} | {o['threads']} | {o['tasks']} | {o['wall_many_s']*1e3:.2f} ms | "
                     f"{o['wall_one_s']*1e3:.3f} ms | {o['plan_us_per_task']:.2f} | "
                     f"{o['dispatch_us_per_task']:.2f} | {o['total_us_per_task']:.2f} | "
                     f"{'✅' if o['total_us_per_task'] < 5 else '❌'} |")
        L.append("")
    return "\n".join(L)


def write_doc(path, block, meta):
    body = f"{BEGIN}\n<!-- written by bench/harness.py ({meta['date']}); edit outside the markers -->\n" \
           f"{block}\n{END}"
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    else:
        text = ""
    if BEGIN in text and END in text:
        a, rest = text.split(BEGIN, 1)
        old, z = rest.split(END, 1)
        # the run it replaces moves to the history (newest first), so a reader sees how the
        # ratios move from one machine start to the next
        old = "\n".join(l for l in old.strip("\n").splitlines() if not l.startswith("<!-- written by"))
        hist_mark = "<!-- bench:history -->"
        if hist_mark not in z:
            z = z.rstrip("\n") + "\n\n## Earlier `make bench` runs\n\n" + hist_mark + "\n"
        h1, h2 = z.split(hist_mark, 1)
        z = h1 + hist_mark + "\n\n" + old.strip() + "\n\n---\n" + h2
        text = a + body + z
    elif text:
        text = text.rstrip("\n") + "\n\n## Benchmark results (`make bench`)\n\n" + body + "\n"
    else:
        text = ("# Lampy performance\n\n"
                "## Benchmark results (`make bench`)\n\n" + body + "\n")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def arg_parser():
    """The command line; its defaults are the workloads' sizes (bench/spread.py uses them too)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="meson build directory")
    ap.add_argument("--reps", type=int, default=5, help="best of N runs (default 5)")
    ap.add_argument("--only", type=lambda s: [int(x) for x in s.split(",")], help="workloads, e.g. 1,3")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply workload 1-6 and 8-14 sizes")
    ap.add_argument("--elems", type=int, default=64 * MiB, help="elements, workloads 1-3 (64M)")
    ap.add_argument("--rows4", type=int, default=8 * MiB, help="rows of the (R, 8) workload 4 (8M)")
    ap.add_argument("--rows5", type=int, default=4 * MiB, help="rows of workload 5 (4M)")
    ap.add_argument("--cols5", type=int, default=64, help="columns of workload 5 (64)")
    ap.add_argument("--elems6", type=int, default=16 * MiB, help="elements, workload 6 (16M)")
    ap.add_argument("--chunks7", type=int, default=10000, help="chunks, workload 7 (10,000)")
    ap.add_argument("--elems7", type=int, default=1000, help="elements per chunk, workload 7 (1000)")
    ap.add_argument("--elems8", type=int, default=64 * MiB, help="elements, workloads 8-11 and 13 (64M)")
    ap.add_argument("--rows12", type=int, default=8 * MiB, help="rows of the (R, 8) einsum workload 12 (8M)")
    ap.add_argument("--cols12", type=int, default=8, help="columns of workload 12 (8)")
    ap.add_argument("--rows14", type=int, default=4 * MiB, help="rows of the (R, 32) svd workload 14 (4M)")
    ap.add_argument("--cols14", type=int, default=32, help="columns of workload 14 (32)")
    ap.add_argument("--triad-elems", type=int, default=64 * MiB, help="elements per triad array (64M)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="Dask/numexpr threads")
    ap.add_argument("--lampy-cli", action="store_true", help="run Lampy through `lampy eval` even if "
                    "the Python module imports")
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--no-overhead", action="store_true", help="skip bench/overhead.c")
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "PERFORMANCE.md"))
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/PERFORMANCE.md")
    ap.add_argument("--json", help="also write the raw results to this file")
    return ap


def main():
    args = arg_parser().parse_args()
    build = os.path.abspath(args.build)

    libs = {}
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    try:
        import numexpr
        numexpr.set_num_threads(args.threads)
        libs["numexpr"] = numexpr
        versions["numexpr"] = numexpr.__version__
    except ImportError:
        print("bench: numexpr not installed (LAMPY_BENCH_DEPS=1 scripts/deps.sh); skipped", file=sys.stderr)
    try:
        import dask
        import dask.array
        libs["dask"], libs["dask.array"] = dask, dask.array
        versions["dask"] = dask.__version__
    except ImportError:
        print("bench: dask not installed; skipped", file=sys.stderr)
    try:
        import jax
        jax.config.update("jax_enable_x64", True)  # float64, as the other libraries compute
        import jax.numpy as jnp
        libs["jax"] = (jax, jnp)
        versions["jax"] = jax.__version__
        versions["jax devices"] = ",".join(str(x) for x in jax.devices())
    except ImportError:
        print("bench: jax not installed; skipped", file=sys.stderr)

    lp, where = (None, "--lampy-cli given") if args.lampy_cli else import_lampy(build)
    cli = tmpdir = None
    if lp is not None:
        mode = f"through the Python module (`{where}`, lp.asarray zero-copy, default settings)"
        lp.config(threads=0)
    else:
        exe = os.path.join(build, "lampy")
        if not os.path.exists(exe):
            sys.exit(f"bench: neither `import lampy` ({where}) nor {exe} works")
        tmpdir = tempfile.mkdtemp(prefix="lampy-bench-")
        cli = LampyCLI(exe, tmpdir)
        mode = (f"through `lampy eval --stats` on .npy files (its lp_run time; `import lampy` failed: "
                f"{where})")
    print(f"bench: Lampy {mode}", flush=True)

    meta = {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine_description(),
        "command": "make bench" if os.environ.get("LAMPY_BENCH_VIA_MAKE") else
                   " ".join([os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(ROOT)
                             else sys.executable] + [os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]),
        "build": os.path.relpath(build, ROOT),
        "build_options": build_options(build),
        "lampy_mode": mode,
        "versions": versions,
        "reps": args.reps,
        "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    if meta["machine"].get("cores") and os.getloadavg()[0] > 0.5 * meta["machine"]["cores"]:
        print(f"bench: warning: load average {os.getloadavg()[0]:.2f} — other processes will skew "
              "the numbers", file=sys.stderr)

    triad_runs = run_triad(build, args.triad_elems, 10)
    memref = load_memref(build)
    print("bench: triad " + ", ".join(f"{k} {t}T {v:.1f} GB/s" for (k, t), v in sorted(triad_runs.items())),
          flush=True)

    rng = np.random.default_rng(20261125)
    results = []
    for w in make_workloads(args):
        t0 = time.perf_counter()
        r = run_workload(w, args, libs, lp, cli, rng, memref)
        results.append(r)
        # the reference is the best triad of the whole run: background load only lowers it
        for k, v in run_triad(build, args.triad_elems, 3).items():
            triad_runs[k] = max(triad_runs[k], v)
        tt = ", ".join(f"{k} {fmt_t(v)}" for k, v in r["times"].items())
        print(f"bench: {w['id']}. {w['expr']} [{w['size']}]: {tt}"
              f"{'' if r['agree'] else '  RESULTS DISAGREE ' + str(r['diff'])}"
              f"  ({time.perf_counter() - t0:.0f} s)", flush=True)

    overhead = []
    if not args.no_overhead:
        overhead = run_overhead(build, args.chunks7, 100, 20)
    after = run_triad(build, args.triad_elems, 10)
    runs = {k: max(v, after.get(k, 0)) for k, v in triad_runs.items()}
    triad = {"runs": runs, "ref": max(v for (k, _), v in runs.items() if k == "triad"),
             "elems": args.triad_elems}
    meta["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())

    block = render(results, overhead, triad, meta)
    print()
    print(block)
    if not args.no_write:
        write_doc(args.doc, block, meta)
        print(f"bench: wrote {os.path.relpath(args.doc, ROOT)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "triad": {f"{k}/{t}": v for (k, t), v in runs.items()},
                       "results": results, "overhead": overhead}, f, indent=1, default=str)
    if tmpdir:
        shutil.rmtree(tmpdir, ignore_errors=True)
    bad = [r["id"] for r in results if not r["agree"]]
    if bad:
        print(f"bench: results disagree in workloads {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
