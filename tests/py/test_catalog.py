"""One catalogue: every function of the library exists in the CLI (`lampy eval --list`) and in
Python under the same names, and a bad call fails with the same message in both."""
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

import lampy as lp

ROOT = Path(__file__).resolve().parents[2]
LAMPY = os.environ.get("LAMPY_BIN") or str(ROOT / "build" / "lampy")


def catalogue():
    p = subprocess.run([LAMPY, "eval", "--list"], capture_output=True, text=True, check=True)
    funcs = []
    for line in p.stdout.splitlines():
        if line.startswith(" "):
            m = re.match(r"\s+also: (.*)", line)
            if m:
                funcs[-1]["aliases"] = m.group(1).split()
            m = re.match(r"\s+method: a\.(\w+)\(", line)
            if m:
                funcs[-1]["method"] = m.group(1)
            continue
        m = re.match(r"([\w.]+)\((.*)\)$", line)
        assert m, line
        funcs.append({"name": m.group(1), "sig": m.group(2), "aliases": [], "method": None})
    return funcs


FUNCS = catalogue()


def test_catalogue_is_listed():
    names = {f["name"] for f in FUNCS}
    assert {"sum", "add", "linalg.solve", "arange", "where", "concatenate"} <= names
    assert len(names) == len(FUNCS)


@pytest.mark.parametrize("f", FUNCS, ids=lambda f: f["name"])
def test_every_function_in_python(f):
    name = f["name"]
    if name.startswith("random."):
        # uniform/normal are the Generator-based module functions (lp.random.default_rng);
        # the others (randint, permutation, choice) are the catalogue's
        fn = getattr(lp.random, name[7:])
        assert callable(fn) and fn.__doc__ and fn.__doc__.strip()
        return
    ns, base = (lp.linalg, name[7:]) if name.startswith("linalg.") else (lp.fft, name[4:]) if name.startswith("fft.") \
        else (lp, name)
    if name == "asarray":
        assert callable(lp.asarray)  # Python's own (wraps NumPy data without copying)
        return
    fn = getattr(ns, base)
    assert callable(fn)
    assert fn.__doc__ and fn.__doc__.strip()
    for alias in f["aliases"]:
        assert callable(getattr(ns, alias)), alias
    if f["method"]:
        assert callable(getattr(lp.zeros(3), f["method"]))
        assert f["method"] in dir(lp.zeros(3))


def test_python_signatures_are_the_catalogues():
    import inspect
    assert str(inspect.signature(lp.sum)) == "(a, axis=None, dtype=None, out=None, keepdims=False)"
    assert str(inspect.signature(lp.zeros(3).sum)) == "(axis=None, dtype=None, out=None, keepdims=False)"
    assert str(inspect.signature(lp.zeros)) == "(shape, dtype=None, *, device=None, chunks=None)"


def cli_error(expr, **arrays):
    binds = []
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    for k, v in arrays.items():
        path = tmp / f"catalog_{os.getpid()}_{k}.npy"
        np.save(path, v)
        binds.append(f"{k}={path}")
    p = subprocess.run([LAMPY, "eval", expr, *binds], capture_output=True, text=True)
    assert p.returncode == 1, p
    return p.stderr.strip().removeprefix("lampy: ")


@pytest.mark.parametrize("expr, call, exc", [
    ("arange(0, 10, 0)", lambda a: lp.arange(0, 10, 0), ZeroDivisionError),
    ("sum(a, foo=1)", lambda a: lp.sum(a, foo=1), TypeError),
    ("a.sum(axis=5)", lambda a: a.sum(axis=5), np.exceptions.AxisError),
    ("a.sum(axis=1.5)", lambda a: a.sum(axis=1.5), TypeError),
    ("exp(a, a)", lambda a: lp.exp(a, a), TypeError),
    ("zeros(3, dtype='U5')", lambda a: lp.zeros(3, dtype="U5"), TypeError),
    ("concatenate((a, a), axis=3)", lambda a: lp.concatenate((a, a), axis=3), np.exceptions.AxisError),
    ("a.reshape(7, -1)", lambda a: a.reshape(7, -1), ValueError),
    ("eye(3, k=None)", lambda a: lp.eye(3, k=None), TypeError),
])
def test_same_errors(expr, call, exc):
    a = np.arange(6.0).reshape(2, 3)
    msg = cli_error(expr, a=a)
    with pytest.raises(exc) as e:
        call(lp.asarray(a))
    assert str(e.value) == msg


def test_aliases_drifted_before():
    """bitwise_invert once existed only in the CLI."""
    x = lp.asarray(np.array([1, 2, 3]))
    np.testing.assert_array_equal(lp.bitwise_invert(x).run(), ~np.array([1, 2, 3]))
    np.testing.assert_array_equal(lp.bitwise_not(x).run(), ~np.array([1, 2, 3]))
