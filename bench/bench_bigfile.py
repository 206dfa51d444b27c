#!/usr/bin/env python3
"""Past the size of RAM (issue 16): Fisher LDA and a column sum over a float64 .npy file larger
than the page cache can hold, against the disk's own sequential read bandwidth measured in the
same run (dd with O_DIRECT, 16 MiB blocks).

The data set is generated once by `lampy gen` into the directory you name (it needs the file's
size free, 32 GiB by default) and removed afterwards unless --keep is given. Each measurement
starts with a cold page cache when the process may drop it (root: /proc/sys/vm/drop_caches),
and runs in a child process whose peak resident set (ru_maxrss) is reported.

    .venv/bin/python bench/bench_bigfile.py --dir /path/with/space [--gib 32] [--features 64]
                                            [--lampy build/lampy] [--keep] [--json out.json]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def drop_caches():
    """True when the page cache was dropped (needs root)."""
    try:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def timed(cmd):
    """(wall seconds, peak RSS bytes, stdout) of one command; the RSS is that child's own
    (wait4), not the largest of every child so far."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.stdout.read(), p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {err.strip()}")
    return wall, ru.ru_maxrss * 1024, out


def dd_read(path):
    """Sequential read bandwidth of the disk (O_DIRECT: no page cache), bytes/s."""
    size = os.path.getsize(path)
    t0 = time.perf_counter()
    subprocess.run(["dd", f"if={path}", "of=/dev/null", "bs=16M", "iflag=direct"], check=True,
                   capture_output=True)
    return size / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True, help="directory for the data set (created)")
    ap.add_argument("--gib", type=float, default=32, help="size of X.npy in GiB (default 32)")
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--lampy", default=os.path.join(ROOT, "build", "lampy"))
    ap.add_argument("--keep", action="store_true", help="keep the data set afterwards")
    ap.add_argument("--json")
    a = ap.parse_args()
    rows = int(a.gib * (1 << 30)) // (8 * a.features)
    os.makedirs(a.dir, exist_ok=True)
    X, y = os.path.join(a.dir, "X.npy"), os.path.join(a.dir, "y.npy")
    free = shutil.disk_usage(a.dir).free
    need = rows * a.features * 8 + rows * 8
    if not (os.path.exists(X) and os.path.exists(y)):
        if free < need * 1.02:
            sys.exit(f"bench_bigfile: {a.dir} has {free / 2**30:.1f} GiB free, {need / 2**30:.1f} GiB needed")
        print(f"generating {rows:,} x {a.features} float64 ({need / 2**30:.1f} GiB) in {a.dir} ...", flush=True)
        t0 = time.perf_counter()
        subprocess.run([a.lampy, "gen", "--rows", str(rows), "--features", str(a.features), "--classes", "2",
                        "--sep", "1.5", "--seed", "7", "-o", a.dir], check=True)
        print(f"  written in {time.perf_counter() - t0:.0f} s", flush=True)
    with open("/proc/meminfo") as f:
        mem = int(next(l for l in f if l.startswith("MemTotal")).split()[1]) * 1024
    size = os.path.getsize(X)
    res = {"rows": rows, "features": a.features, "file_bytes": size, "ram_bytes": mem,
           "load_before": os.getloadavg()}
    try:
        cold = drop_caches()
        res["cold_cache"] = cold
        res["disk_bps"] = dd_read(X)
        print(f"disk: {res['disk_bps'] / 1e6:.0f} MB/s sequential (dd, O_DIRECT, 16 MiB blocks)", flush=True)
        runs = [("fisher", [a.lampy, "fisher", X, y, "--no-accuracy"]),
                ("sum(axis=0)", [a.lampy, "eval", "x.sum(axis=0)", f"x={X}"])]
        for name, cmd in runs:
            drop_caches()
            wall, rss, _ = timed(cmd)
            bps = size / wall
            res[name] = {"wall_s": wall, "peak_rss": rss, "bps": bps, "pct_disk": bps / res["disk_bps"] * 100}
            print(f"{name:12s} {wall:7.1f} s  {bps / 1e6:6.0f} MB/s  {bps / res['disk_bps'] * 100:5.1f}% of disk  "
                  f"peak RSS {rss / 2**20 if rss else float('nan'):.0f} MiB", flush=True)
    finally:
        res["load_after"] = os.getloadavg()
        if not a.keep:
            for p in (X, y):
                if os.path.exists(p):
                    os.unlink(p)
    print()
    print(f"| workload | file | RAM | wall | read rate | % of disk ({res['disk_bps'] / 1e6:.0f} MB/s) | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for name in ("fisher", "sum(axis=0)"):
        r = res[name]
        print(f"| `lampy {name}` | {size / 2**30:.1f} GiB | {mem / 2**30:.1f} GiB | {r['wall_s']:.1f} s | "
              f"{r['bps'] / 1e6:.0f} MB/s | {r['pct_disk']:.0f}% | "
              f"{(r['peak_rss'] or 0) / 2**20:.0f} MiB |")
    print(f"\ncold page cache: {'yes' if res['cold_cache'] else 'no (not root)'}; "
          f"load average {res['load_before'][0]:.2f} before, {res['load_after'][0]:.2f} after")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
