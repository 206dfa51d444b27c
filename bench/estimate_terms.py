"""Which profile figures make two calibrations' estimates of a workload differ (issue 12).

    .venv/bin/python bench/estimate_terms.py A.json B.json -- 'sum(x)' x=x.npy \\
        --executor lambda --orchestrate lambda --max-lambdas 8 -o w.npy

Prints `lampy estimate --json`'s total under profile A and under B, then for every figure
that differs between them the change of A's total when only that figure takes B's value
(one at a time: the changes need not add up to the whole difference, the model is not
linear); the per-op costs (op_seconds, axis_reduce_seconds) count as one figure each op.
Nothing is run; it reads profiles and asks the cost model."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def total(lampy, prof, args):
    env = dict(os.environ, LAMPY_PROFILE=str(prof))
    p = subprocess.run([lampy, "estimate", *args, "--json", "--profile", str(prof)], capture_output=True, text=True,
                       env=env, timeout=120)
    if p.returncode:
        sys.exit(f"lampy estimate failed: {p.stderr.strip()}")
    return json.loads(p.stdout)["total_seconds"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("args", nargs="+", help="the estimate's arguments (after --)")
    ap.add_argument("--build", default="build")
    o = ap.parse_args()
    lampy = str(ROOT / o.build / "lampy")
    pa, pb = json.loads(Path(o.a).read_text()), json.loads(Path(o.b).read_text())
    ta, tb = total(lampy, o.a, o.args), total(lampy, o.b, o.args)
    print(f"{' '.join(o.args)}\n  A {ta * 1e3:.2f} ms, B {tb * 1e3:.2f} ms (B - A {1e3 * (tb - ta):+.2f} ms)")
    rows = []

    def figures(p):
        """(name, table or None, key) of every numeric figure of profile p"""
        for k, v in p.items():
            if isinstance(v, dict):
                yield from ((f"{k}.{op}", k, op) for op in v)
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                yield k, None, k

    def value(p, table, key):
        return (p.get(table) or {}).get(key) if table else p.get(key)

    with tempfile.TemporaryDirectory() as d:
        for name, table, key in sorted(set(figures(pa)) | set(figures(pb))):
            va, vb = value(pa, table, key), value(pb, table, key)
            # a figure A lacks (an older profile) is tried at B's value too
            if va == vb or not isinstance(va, (int, float, type(None))) or not isinstance(vb, (int, float)):
                continue
            q = Path(d) / "q.json"
            changed = dict(pa, **({table: dict(pa[table], **{key: vb})} if table else {key: vb}))
            q.write_text(json.dumps(changed))
            rows.append((total(lampy, q, o.args) - ta, name, va, vb))
    for dt, k, va, vb in sorted(rows, key=lambda r: -abs(r[0])):
        if abs(dt) >= 1e-5:
            print(f"  {k:36s} {'absent' if va is None else f'{va:.4g}':<12s} -> {vb:<12.4g} {dt * 1e3:+8.2f} ms")


if __name__ == "__main__":
    main()
