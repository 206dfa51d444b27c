"""liblampy as an installed C library: `make install PREFIX=...`, pkg-config, exported symbols,
and every C example of README.md and include/lampy.h compiled against the installed library
and run (their results checked against NumPy).

Also the `lampy` command that `pip install .` puts on the venv's PATH (scripts/pybuild.sh).
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
LAMPY = Path(os.environ.get("LAMPY_BIN", ROOT / "build" / "lampy"))
BUILD = LAMPY.parent
CC = os.environ.get("CC", "cc")


def snippets():
    """(name, code) of every C example: ```c fences in README.md; in lampy.h the comment lines
    indented as code (" *     ...") — consecutive lines form one example."""
    out = []
    readme = (ROOT / "README.md").read_text()
    for i, m in enumerate(re.finditer(r"```c\n(.*?)```", readme, re.S)):
        out.append((f"README.md#{i}", m.group(1)))
    cur, n = [], 0
    for line in (ROOT / "include" / "lampy.h").read_text().splitlines() + [""]:
        if line.startswith(" *     "):
            cur.append(line[7:])
        elif cur:
            out.append((f"lampy.h#{n}", "\n".join(cur) + "\n"))
            cur, n = [], n + 1
    return out


def as_program(code):
    """A snippet that is a whole program stays as it is; statements go into main()."""
    if re.search(r"\bint\s+main\s*\(", code):
        return code
    return ("#include <lampy.h>\n#include <stdio.h>\n\nint main(void) {\n" + code +
            "    return 0;\n}\n")


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    pre = tmp_path_factory.mktemp("prefix")
    r = subprocess.run(["make", "-s", "install", f"PREFIX={pre}", f"BUILD={BUILD}"], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return pre


def pc_env(pre):
    pcs = list(pre.rglob("lampy.pc"))
    assert len(pcs) == 1, pcs
    libdir = pcs[0].parent.parent
    env = dict(os.environ, PKG_CONFIG_PATH=str(pcs[0].parent), LD_LIBRARY_PATH=str(libdir))
    return env, libdir


def test_installed_files(prefix):
    env, libdir = pc_env(prefix)
    assert (prefix / "include" / "lampy.h").is_file()
    assert os.access(prefix / "bin" / "lampy", os.X_OK)
    assert (libdir / "liblampy.a").is_file()
    so = libdir / "liblampy.so"
    assert so.is_symlink() and so.resolve().is_file()
    dyn = subprocess.run(["readelf", "-d", str(so)], capture_output=True, text=True, check=True).stdout
    assert "Library soname: [liblampy.so.0]" in dyn
    ver = subprocess.run(["pkg-config", "--modversion", "lampy"], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert ver == subprocess.run([str(prefix / "bin" / "lampy"), "--version"], capture_output=True,
                                 text=True, check=True).stdout.split()[-1]


def test_only_public_symbols_exported(prefix):
    _, libdir = pc_env(prefix)
    nm = subprocess.run(["nm", "-D", "--defined-only", str(libdir / "liblampy.so")],
                        capture_output=True, text=True, check=True).stdout
    names = [line.split()[-1] for line in nm.splitlines() if line.strip()]
    assert names, "no symbols exported"
    assert [n for n in names if not n.startswith("lp_")] == []
    # every LP_API declaration of lampy.h is exported (no public function left hidden)
    hdr = (ROOT / "include" / "lampy.h").read_text()
    declared = set(re.findall(r"^LP_API [^;{]*?\b(lp_\w+)\(", hdr, re.M))
    assert declared and declared <= set(names), sorted(declared - set(names))
    # and nothing but them
    assert set(names) == declared, sorted(set(names) - declared)


@pytest.mark.parametrize("name,code", snippets(), ids=[n for n, _ in snippets()])
def test_example_compiles_and_runs(prefix, tmp_path, name, code):
    env, _ = pc_env(prefix)
    src = tmp_path / "prog.c"
    src.write_text(as_program(code))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "lampy"], env=env,
                           capture_output=True, text=True, check=True).stdout.split()
    r = subprocess.run([CC, "-std=c11", "-Wall", "-Werror", str(src), "-o", str(tmp_path / "prog")] + flags,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((1000, 3)), rng.standard_normal((1000, 3))
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    X = np.concatenate([rng.standard_normal((500, 4)), rng.standard_normal((500, 4)) + 2.0])
    y = np.repeat([0, 1], 500)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    r = subprocess.run([str(tmp_path / "prog")], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    if "a.npy" in code and "multiply" in code:
        assert float(r.stdout) == pytest.approx(float(np.sum(a * b)), rel=1e-12)
    if "model.npy" in code:
        assert (tmp_path / "model.npy").is_file()
        assert np.load(tmp_path / "model.npy").dtype == np.float64


def test_pip_install_puts_lampy_on_path():
    exe = shutil.which("lampy", path=str(Path(sys.executable).parent))
    assert exe, f"no lampy next to {sys.executable}"
    r = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("lampy ")
