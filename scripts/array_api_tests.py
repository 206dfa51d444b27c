#!/usr/bin/env python3
"""Runs the array API standard's test suite (data-apis/array-api-tests) against NumPy and
against Lampy with the same suite checkout and --max-examples, and writes the side-by-side
counts per test module, and every Lampy failure grouped by its reason, into docs/ARRAY_API.md.

    scripts/array_api_tests.py SUITE_DIR [--max-examples N] [--only numpy|lampy]

SUITE_DIR is a checkout of array-api-tests with its `array-api` submodule (the spec) checked
out. Not part of `make test`: the suite is not on PyPI and CI cannot fetch GitHub. Its PyPI
requirements are installed into the project's .venv when missing. Run with the .venv's Python
(the one lampy is built into): .venv/bin/python scripts/array_api_tests.py ...
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "ARRAY_API.md")
BEGIN, END = "<!-- array-api-tests:begin -->", "<!-- array-api-tests:end -->"

# Why a Lampy test fails: (group, regex over "nodeid\nmessage"), first match wins. The regexes
# look at the failure's message (or test name) only; a failure nothing matches is "unclassified"
# and the doc says so.
REASONS = [
    ("complex inputs not covered yet (linalg of complex matrices)",
     r"complex(64|128)? (array|is unsupported)|array type complex|of a complex"),
    ("standard functions not in the catalogue yet",
     r"is not defined in lampy|not found in array module|is missing the \w+ function|has no attribute"
     r"|'NoneType' object is not callable"),
]
NUMPY_TOO = "fails for NumPy too (the same test, the same message)"




def git_head(path):
    try:
        return subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def ensure_requirements(suite):
    try:
        import hypothesis  # noqa: F401
        import ndindex  # noqa: F401
        import pytest_jsonreport  # noqa: F401
        return
    except ImportError:
        pass
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r",
                    os.path.join(suite, "requirements.txt")], check=True)


# The suite (at 55fcc60) cannot import a namespace without complex dtypes: dtype_helpers.py
# takes max() of the empty list of complex dtypes. This one change (no effect where complex
# dtypes exist, as in NumPy) lets the rest of the suite run; the doc names it.
PATCH_FILE = "array_api_tests/dtype_helpers.py"
PATCH_OLD = "    [(dt, dtype_nbits[dt]) for dt in complex_dtypes], key=lambda x: x[1]\n)[0]"
PATCH_NEW = "    [(dt, dtype_nbits[dt]) for dt in complex_dtypes], key=lambda x: x[1], default=(None,)\n)[0]"


def patch_suite(suite):
    path = os.path.join(suite, PATCH_FILE)
    with open(path) as f:
        text = f.read()
    if PATCH_NEW in text:
        return True
    if PATCH_OLD not in text:
        return False  # another suite version: run it as it is
    with open(path, "w") as f:
        f.write(text.replace(PATCH_OLD, PATCH_NEW))
    return True


def pytest_args(max_examples):
    # derandomized and without Hypothesis' deadline: the counts repeat on a loaded machine
    return ["-p", "no:cacheprovider", "-p", "array_api_tests_plugin", "-q", "--max-examples", str(max_examples), "--derandomize",
            "--disable-deadline", "array_api_tests"]


STANDARD_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                   "float32", "float64", "complex64", "complex128"]


def missing_dtypes(module):
    """The standard's dtypes the namespace lacks: the suite's own ARRAY_API_TESTS_SKIP_DTYPES
    (without it the suite asks a namespace with no complex dtype for asarray(complex()))."""
    code = ("import importlib, sys; xp = importlib.import_module(sys.argv[1]); "
            "print(','.join(n for n in sys.argv[2:] if not hasattr(xp, n)))")
    r = subprocess.run([sys.executable, "-c", code, module, *STANDARD_DTYPES], capture_output=True,
                       text=True, check=True)
    return r.stdout.strip()


def run_suite(suite, module, max_examples, out_json):
    env = dict(os.environ, ARRAY_API_TESTS_MODULE=module,
               PYTHONPATH=os.path.join(ROOT, "scripts") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("ARRAY_API_TESTS_VERSION", None)
    skip = missing_dtypes(module)
    if skip:
        env["ARRAY_API_TESTS_SKIP_DTYPES"] = skip
    else:
        env.pop("ARRAY_API_TESTS_SKIP_DTYPES", None)
    cmd = [sys.executable, "-m", "pytest", *pytest_args(max_examples), "--json-report",
           "--json-report-file=" + out_json]
    print("running", module, "(skipped dtypes: %s):" % (skip or "none"), " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=suite, env=env, stdout=subprocess.DEVNULL, check=False)
    with open(out_json) as f:
        return json.load(f)


def outcome(t):
    # a failing setup (fixture) is an error; the json report keeps it under setup
    return t["outcome"]


def message(t):
    for phase in ("setup", "call", "teardown"):
        p = t.get(phase) or {}
        if p.get("outcome") in ("failed", "error") or (phase == "setup" and t["outcome"] == "error"):
            crash = p.get("crash") or {}
            msg = crash.get("message") or p.get("longrepr") or ""
            return msg if isinstance(msg, str) else str(msg)
    return ""


def module_of(t):
    return t["nodeid"].split("::")[0].split("/")[-1].removesuffix(".py")


def test_id(t):
    """The node id without its directory: the test file, '::', the test and its parameters
    (which may hold '/', spaces and brackets, e.g. special cases' "... -> 0/2 + NaN j]")."""
    path, sep, rest = t["nodeid"].partition("::")
    return path.split("/")[-1] + sep + rest


def code(s):
    """s as Markdown inline code (a longer backtick fence when s holds backticks)."""
    fence = "``" if "`" in s else "`"
    return f"{fence} {s} {fence}" if fence == "``" else f"`{s}`"


def first_line(t):
    lines = message(t).strip().splitlines()
    return lines[0] if lines else ""


def classify(t, numpy_failed=None):
    # NumPy's own failure, when Lampy fails the same way (the same message)
    if numpy_failed and numpy_failed.get(t["nodeid"]) == first_line(t):
        return NUMPY_TOO
    text = t["nodeid"] + "\n" + message(t)
    for group, rx in REASONS:
        if re.search(rx, text, re.IGNORECASE):
            return group
    return "unclassified"


def counts(report):
    c = defaultdict(Counter)
    for t in report["tests"]:
        c[module_of(t)][outcome(t)] += 1
    return c


def table(np_rep, lp_rep):
    a, b = counts(np_rep), counts(lp_rep)
    rows = ["| test module | NumPy passed | failed | skipped | Lampy passed | failed | skipped |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    tot = [0] * 6
    for m in sorted(set(a) | set(b)):
        v = [a[m]["passed"], a[m]["failed"] + a[m]["error"], a[m]["skipped"],
             b[m]["passed"], b[m]["failed"] + b[m]["error"], b[m]["skipped"]]
        tot = [x + y for x, y in zip(tot, v)]
        rows.append(f"| {m} | " + " | ".join(map(str, v)) + " |")
    rows.append("| **total** | " + " | ".join(f"**{x}**" for x in tot) + " |")
    return "\n".join(rows)


def failed_ids(report):
    """nodeid -> the first line of the failure message, for the failing tests"""
    return {t["nodeid"]: first_line(t) for t in report["tests"] if outcome(t) in ("failed", "error")}


def failures(report, numpy_failed):
    groups = defaultdict(list)
    for t in report["tests"]:
        if outcome(t) in ("failed", "error"):
            first = message(t).strip().splitlines()
            groups[classify(t, numpy_failed)].append((test_id(t), first[0][:160] if first else ""))
    return groups


def write_doc(text):
    with open(DOC) as f:
        doc = f.read()
    i, j = doc.index(BEGIN), doc.index(END)
    with open(DOC, "w") as f:
        f.write(doc[:i + len(BEGIN)] + "\n" + text + "\n" + doc[j:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("suite", help="checkout of data-apis/array-api-tests (with its array-api submodule)")
    ap.add_argument("--max-examples", type=int, default=20)
    ap.add_argument("--out", default="/tmp/array-api-tests", help="directory for the JSON reports")
    ap.add_argument("--reuse", action="store_true", help="summarize the JSON reports of an earlier run")
    args = ap.parse_args()
    suite = os.path.abspath(args.suite)
    if not os.path.isfile(os.path.join(suite, "array_api_tests", "__init__.py")):
        sys.exit(f"array_api_tests.py: {suite} is not an array-api-tests checkout")
    if not os.path.isdir(os.path.join(suite, "array-api", "spec")):
        sys.exit(f"array_api_tests.py: {suite}/array-api (the spec submodule) is not checked out")
    ensure_requirements(suite)
    patched = patch_suite(suite)
    os.makedirs(args.out, exist_ok=True)
    reps = {}
    for mod in ("numpy", "lampy"):
        path = os.path.join(args.out, mod + ".json")
        if args.reuse:
            with open(path) as f:
                reps[mod] = json.load(f)
        else:
            reps[mod] = run_suite(suite, mod, args.max_examples, path)

    # the commit that ran (an earlier run's, with --reuse)
    meta = os.path.join(args.out, "commit")
    if not args.reuse:
        with open(meta, "w") as f:
            f.write(git_head(ROOT))
    with open(meta) as f:
        commit = f.read().strip()
    import numpy
    import hypothesis
    import lampy
    date = datetime.datetime.fromtimestamp(os.path.getmtime(os.path.join(args.out, "lampy.json")),
                                           datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = "pytest " + " ".join(pytest_args(args.max_examples))
    groups = failures(reps["lampy"], failed_ids(reps["numpy"]))
    lines = [
        f"Run of {date}: array-api-tests {git_head(suite)[:12]} (spec submodule "
        f"{git_head(os.path.join(suite, 'array-api'))[:12]}), hypothesis {hypothesis.__version__}, "
        f"NumPy {numpy.__version__}, Lampy {lampy.__version__} (commit {commit[:12]}).",
        f"Each module ran as `ARRAY_API_TESTS_MODULE=numpy|lampy {cmd}` in the suite's directory "
        f"(written by `scripts/array_api_tests.py SUITE_DIR --max-examples {args.max_examples}`), "
        f"Lampy's with `ARRAY_API_TESTS_SKIP_DTYPES={missing_dtypes('lampy')}` (the suite's switch "
        f"for the standard's dtypes a namespace lacks; NumPy has all of them).",
        ("The suite's `" + PATCH_FILE + "` was changed in one line for both runs (`max(..., "
         "default=(None,))` for the widest complex dtype), without which the suite cannot import "
         "a namespace that has no complex dtypes." if patched else ""),
        "", table(reps["numpy"], reps["lampy"]), "",
        "Lampy's failures by reason (every one, first matching reason; the list below names each test):", "",
        "| reason | failures |", "|---|---:|"]
    for g, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"| {g} | {len(items)} |")
    lines += ["", "<details><summary>Every failing Lampy test with the first line of its message</summary>", ""]
    for g, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"**{g}**\n")
        lines += [f"- {code(n)}: {m.replace('|', '/')}" for n, m in sorted(items)]
        lines.append("")
    lines.append("</details>")
    np_fail = [(test_id(t), (message(t).strip().splitlines() or [""])[0][:160])
               for t in reps["numpy"]["tests"] if outcome(t) in ("failed", "error")]
    lines += ["", "<details><summary>NumPy's failures</summary>", ""]
    lines += [f"- {code(n)}: {m.replace('|', '/')}" for n, m in sorted(np_fail)] + ["", "</details>"]
    write_doc("\n".join(lines))
    print("wrote", DOC)


if __name__ == "__main__":
    main()
