#!/usr/bin/env python3
"""Data anywhere, measured (issue 14): what reading only the needed piece, and reading remote data,
costs and saves.

  1. a[100:200].sum() of a SIZE file: Lampy (bytes read, time) against NumPy's
     np.load(mmap_mode='r')[100:200].sum().
  2. Full scan a.sum() of the same file: local page cache, nginx (http://, Range), S3 (moto's
     server, s3:// with SigV4), in MB/s, beside NumPy on the page-cached file.
  3. Zarr (zstd) read throughput: Lampy's a.sum() against zarr-python's z[:] + NumPy's sum on
     the same array (written by zarr-python).

Servers are real processes on loopback ports (nginx and moto_server, started as the tests do, by
tests/integration/lampy_procs.py), stopped at the end. Timings are best and median of --reps.

    .venv/bin/python bench/bench_data.py [--size 1G] [--reps 3] [--write]

--size accepts k/M/G suffixes; `--size 8M` checks the script quickly. --write puts the table
into docs/PERFORMANCE.md between <!-- bench-data:begin --> and <!-- bench-data:end -->.
"""
import argparse
import os
import signal
import statistics
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from lampy_procs import start_moto, start_nginx, stop  # noqa: E402

import lampy as lp  # noqa: E402

BEGIN, END = "<!-- bench-data:begin -->", "<!-- bench-data:end -->"


def size_arg(s):
    m = {"k": 1 << 10, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(s[:-1]) * m[s[-1]]) if s[-1] in m else int(s)


def best(fn, reps):
    """(best, median) seconds of reps calls, and the last result."""
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = fn()
        ts.append(time.perf_counter() - t0)
    return (min(ts), statistics.median(ts)), r


def lampy_run(make, reps):
    """Best and median time of make().run(), with the bytes the last run read."""
    t, r = best(lambda: make().run(), reps)
    return t, r, lp.last_run_stats()["bytes_read"]


def ms(t):
    return f"{t[0] * 1e3:.3f} / {t[1] * 1e3:.3f} ms"


def mbs(mb, t):
    return f"{mb / t[0]:.0f} / {mb / t[1]:.0f} MB/s"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="1G")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--write", action="store_true")
    o = ap.parse_args()
    nbytes = size_arg(o.size)
    cols = 64
    rows = max(1000, nbytes // (8 * cols))
    rows_mb = rows * cols * 8 / 1e6
    load0 = os.getloadavg()[0]
    lines = [f"`{' '.join(['bench/bench_data.py'] + sys.argv[1:])}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"{os.cpu_count()} CPUs; data {rows_mb:.0f} MB ({rows} x {cols} float64); best / median of {o.reps} runs; "
             f"load average (1 min) LOAD_RANGE.", "",
             "| measurement | Lampy | reference | notes |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "a.npy")
        a = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(rows, cols))
        for r0 in range(0, rows, 1 << 16):
            r1 = min(rows, r0 + (1 << 16))
            a[r0:r1] = np.arange(r0 * cols, r1 * cols, dtype=np.float64).reshape(-1, cols)
        a.flush()
        del a
        # 1. the slice
        tl, vl, bl = lampy_run(lambda: lp.load(path)[100:200].sum(), o.reps)
        tn, vn = best(lambda: np.load(path, mmap_mode="r")[100:200].sum(), o.reps)
        assert vl == vn
        lines.append(f"| `a[100:200].sum()` | {ms(tl)}, {bl} bytes read | NumPy mmap {ms(tn)} | "
                     f"{bl / (rows * cols * 8):.2e} of the file |")
        # 2. full scans
        want = np.load(path, mmap_mode="r").sum()
        tl, vl, bl = lampy_run(lambda: lp.load(path).sum(), o.reps)
        tn, _ = best(lambda: np.load(path, mmap_mode="r").sum(), o.reps)
        assert np.isclose(vl, want)
        lines.append(f"| full scan, page cache | {mbs(rows_mb, tl)} | NumPy mmap {mbs(rows_mb, tn)} | |")
        prefix = os.path.join(tmp, "nginx")
        os.mkdir(prefix)
        ng, url = start_nginx(tmp, prefix)
        try:
            tl, vl, bl = lampy_run(lambda: lp.load(f"{url}/a.npy").sum(), o.reps)
            assert np.isclose(vl, want)
            lines.append(f"| full scan, nginx (http://) | {mbs(rows_mb, tl)} | | {bl} bytes read |")
        finally:
            stop(ng, signal.SIGQUIT)
        moto, env = start_moto(os.path.join(os.path.dirname(sys.executable), "moto_server"))
        try:
            import boto3
            os.environ.update(env)
            c = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                             aws_access_key_id="testing", aws_secret_access_key="testing")
            c.create_bucket(Bucket="bench")
            c.upload_file(path, "bench", "a.npy")
            tl, vl, bl = lampy_run(lambda: lp.load("s3://bench/a.npy").sum(), o.reps)
            assert np.isclose(vl, want)
            lines.append(f"| full scan, S3 (moto) | {mbs(rows_mb, tl)} | | {bl} bytes read |")
        finally:
            stop(moto)
        # 3. Zarr zstd
        import zarr
        from zarr.codecs import BytesCodec, ZstdCodec
        zp = os.path.join(tmp, "a.zarr")
        src = np.load(path, mmap_mode="r")
        z = zarr.create_array(zp, shape=src.shape, chunks=(max(1, (4 << 20) // (cols * 8)), cols), dtype=np.float64,
                              serializer=BytesCodec(), compressors=[ZstdCodec(level=1)])
        for r0 in range(0, rows, 1 << 16):
            z[r0:r0 + (1 << 16)] = src[r0:r0 + (1 << 16)]
        tl, vl, bl = lampy_run(lambda: lp.load(zp).sum(), o.reps)
        tz, vz = best(lambda: zarr.open_array(zp, mode="r")[:].sum(), o.reps)
        assert np.isclose(vl, vz)
        lines.append(f"| Zarr zstd, full scan | {mbs(rows_mb, tl)} | zarr-python + NumPy {mbs(rows_mb, tz)} | "
                     f"{bl} bytes read (compressed) |")
    lines[0] = lines[0].replace("LOAD_RANGE", f"{load0:.2f} at the start, {os.getloadavg()[0]:.2f} at the end")
    table = "\n".join(lines)
    print(table)
    if o.write:
        p = os.path.join(ROOT, "docs", "PERFORMANCE.md")
        text = open(p).read()
        block = f"{BEGIN}\n{table}\n{END}"
        if BEGIN in text and END in text:
            text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
        else:
            text += f"\n## Data anywhere (bench/bench_data.py)\n\n{block}\n"
        open(p, "w").write(text)


if __name__ == "__main__":
    main()
