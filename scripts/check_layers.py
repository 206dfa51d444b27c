#!/usr/bin/env python3
"""Checks that the layers of src/ point one way (docs/ARCHITECTURE.md, "Layers").

Two graphs are checked:
  - includes: a file in src/<layer>/ may include headers of its own layer and of layers below;
  - calls (when a build directory is given): every symbol an object file of a layer uses must
    be defined in its own layer or below (from `nm` of the library's objects), so a lower
    layer cannot reach up through a forward declaration either.
The front ends (cli/, python/) sit on top; python/ may include only the public lampy.h.

Usage: scripts/check_layers.py [BUILD_DIR]     exit status 1 and one line per upward edge.
"""
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

# bottom to top
LAYERS = ["core", "io", "store", "expr", "kernels", "graph", "plan", "exec", "ml", "server"]
RANK = {name: i for i, name in enumerate(LAYERS)}
ROOT = Path(__file__).resolve().parents[1]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of_path(rel):
    parts = Path(rel).parts
    return parts[1] if len(parts) > 2 and parts[0] == "src" else None


def include_edges():
    bad = []
    for f in sorted((ROOT / "src").rglob("*.[ch]")):
        rel = f.relative_to(ROOT)
        me = layer_of_path(rel)
        if me not in RANK:
            bad.append(f"{rel}: folder '{me}' is not a known layer (add it to LAYERS)")
            continue
        for inc in INCLUDE.findall(f.read_text()):
            top = inc.split("/")[0]
            if "/" not in inc:
                continue  # lampy.h, or a header next to the file
            if top not in RANK:
                bad.append(f"{rel}: includes {inc}, which is in no layer")
            elif RANK[top] > RANK[me]:
                bad.append(f"{rel}: includes {inc} ({top} is above {me})")
    for f in sorted((ROOT / "python").rglob("*.[ch]")):
        for inc in INCLUDE.findall(f.read_text()):
            if "/" in inc:
                bad.append(f"{f.relative_to(ROOT)}: includes {inc}; the Python module uses only lampy.h")
    return bad


def call_edges(build):
    objdirs = [d for d in Path(build).glob("liblampy*.p") if any(d.glob("src_*.o"))]
    if not objdirs:
        return [f"{build}: no liblampy objects found (build first)"]
    objs = sorted(objdirs[0].glob("src_*.o"))
    defined, used = {}, defaultdict(set)
    for o in objs:
        m = re.match(r"src_([a-z]+)_", o.name)
        layer = m.group(1) if m else None
        out = subprocess.run(["nm", "--defined-only", "-g", str(o)], capture_output=True, text=True,
                             check=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3:
                defined[parts[2]] = (layer, o.name)
        out = subprocess.run(["nm", "-u", str(o)], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            used[(layer, o.name)].add(line.split()[-1])
    bad = []
    for (layer, obj), syms in sorted(used.items()):
        for s in sorted(syms):
            if s in defined:
                dl, dobj = defined[s]
                if dl in RANK and layer in RANK and RANK[dl] > RANK[layer]:
                    bad.append(f"{obj}: calls {s} of {dobj} ({dl} is above {layer})")
    return bad


def main():
    bad = include_edges()
    if len(sys.argv) > 1:
        bad += call_edges(sys.argv[1])
    for b in bad:
        print(b)
    print(f"layers: {len(bad)} upward edges" + (" (" + " < ".join(LAYERS) + ")" if not bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
