"""The `lampy` command-line program: `eval` against NumPy, `info`, help and error handling.

Expressions are evaluated twice: by `lampy eval ... -o out.npy` and by Python's own eval over the
same NumPy names, so the test also checks that the parser reads them the way Python does.
"""
import os
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
LAMPY = os.environ.get("LAMPY_BIN") or str(ROOT / "build" / "lampy")
HAVE_MATMUL = "lp_matmul" in (ROOT / "include" / "lampy.h").read_text()


def run(*args, timeout=60):
    return subprocess.run([LAMPY, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def one_error_line(p):
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("lampy: "), p.stderr
    return lines[0]


_rng = np.random.default_rng(7)
INPUTS = {
    "a": _rng.standard_normal((4, 5)),
    "b": _rng.standard_normal((4, 5)),
    "c": _rng.standard_normal(5),
    "p": _rng.random((4, 5)) + 0.5,
    "i": _rng.integers(-10, 10, size=(4, 5)),
    "j": _rng.integers(1, 10, size=(4, 5)).astype(np.int32),
    "m": _rng.random((4, 5)) < 0.5,
    "f": _rng.standard_normal((4, 5)).astype(np.float32),
    "t": _rng.standard_normal((2, 3, 4)),
}

NUMPY_NAMES = """where maximum minimum sqrt exp log sin cos tanh abs negative logical_and logical_or
logical_not logical_xor sum prod mean min max argmin argmax var std any all concatenate stack
zeros ones full arange linspace eye float32 float64 int32 int64 nan inf pi newaxis matmul
dot""".split()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    out = {}
    for name, arr in INPUTS.items():
        path = d / f"{name}.npy"
        np.save(path, arr)
        out[name] = path
    return out


def numpy_eval(expr):
    ns = {n: getattr(np, n) for n in NUMPY_NAMES}
    ns["np"] = np
    ns.update(INPUTS)
    return np.asarray(eval(expr, ns))


def lampy_eval(tmp_path, files, expr, *extra):
    out = tmp_path / "out.npy"
    binds = [f"{n}={p}" for n, p in files.items()]
    p = run("eval", expr, *binds, "-o", out, *extra)
    assert p.returncode == 0, p.stderr
    assert p.stdout == ""
    return np.load(out)


def check(got, want, rtol=None):
    want = np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype.kind == "f":
        if rtol is None:
            rtol = 1e-5 if want.dtype == np.float32 else 1e-10
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


def check_expr(tmp_path, files, expr, rtol=None):
    check(lampy_eval(tmp_path, files, expr), numpy_eval(expr), rtol)


# ---- elementwise ----

ELEMWISE = [
    "a * b + c * 2 - a",
    "a / b",
    "a - b / 3.0",
    "i // j",
    "i % j",
    "a // 0.7",
    "a % 0.7",
    "p ** 0.5",
    "i ** 2",
    "p ** b",
    "-a",
    "+a",
    "-a ** 2",
    "a ** 2 * -1",
    "~m",
    "~i",
    "m & (a > 0)",
    "m | (a > 0)",
    "m ^ (a > 0)",
    "i & j",
    "i | 3",
    "i ^ j",
    "a < b",
    "a <= 0",
    "a > c",
    "a >= b",
    "a == a",
    "a != b",
    "i == 3",
    "i < j | 3",
    "where(a > 0, a, b)",
    "where(m, 1, 0)",
    "where(m, a, 0)",
    "maximum(a, b)",
    "minimum(a, 0)",
    "sqrt(p)",
    "exp(a)",
    "log(p)",
    "sin(a)",
    "cos(a)",
    "tanh(a)",
    "abs(i)",
    "abs(a)",
    "negative(j)",
    "logical_and(m, a > 0)",
    "logical_or(m, a > 0)",
    "logical_xor(m, a > 0)",
    "logical_not(m)",
    "j + 1",
    "j * 2.5",
    "f + 1",
    "f * 2.5",
    "f + a",
    "i + j",
    "m + m",
    "a + True",
    "a.astype(float32)",
    "i.astype(float64) / 3",
    "f.astype('float64')",
    "a.T",
    "a.T + 1",
    "t.transpose(1, 0, 2)",
    "t.transpose((2, 0, 1))",
    "a.reshape(2, -1)",
    "a.reshape((5, 4))",
    "t.reshape(-1)",
    "np.sqrt(p) + np.pi",
    "(a + b) * (a - b)",
    "a + (1 + 2) * 3",
]


@pytest.mark.parametrize("expr", ELEMWISE)
def test_elementwise(tmp_path, files, expr):
    check_expr(tmp_path, files, expr)


@pytest.mark.parametrize("expr", [
    # elementwise programs whose inputs are all constants (full/ones/zeros and Python numbers)
    "ones(3) + 1",
    "sqrt(full((2, 2), 4.0))",
    "zeros((2, 3)) + ones(3)",
    "(ones(3) + 1)[0]",
    "concatenate((ones(2) + 1, a[0]))",
    # elementwise programs over 0-d arrays
    "a.sum() + 1",
    "sqrt(abs(a.sum()))",
    "a[0, 0] * a[0, 1]",
    "a.sum().astype(float32)",
    "int32(7) + 1",
    "float32(1) / 3",
])
def test_constant_and_0d_elementwise(tmp_path, files, expr):
    check_expr(tmp_path, files, expr)


@pytest.mark.parametrize("expr, want", [
    ("-2**2", -4), ("2**-1", 0.5), ("2**3**2", 512), ("1 + 2 * 3", 7), ("7 // -2", -4),
    ("-7 % 3", 2), ("1 / 4", 0.25), ("True + True", 2), ("(1 < 2) & (3 > 2)", True),
    ("1e-3 + .5", 0.501), ("0x10 + 0b11 + 1_000", 1019),
])
def test_python_numbers(tmp_path, files, expr, want):
    got = lampy_eval(tmp_path, files, expr)
    assert got.shape == ()
    assert got.item() == want
    assert type(got.item()) is type(want)


# ---- reductions ----

REDUCE_AXES = ["None", "0", "1", "-1", "(0, 1)"]


@pytest.mark.parametrize("op", ["sum", "prod", "mean", "min", "max", "var", "std", "any", "all"])
@pytest.mark.parametrize("axis", REDUCE_AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(tmp_path, files, op, axis, keepdims):
    x = "(a > 0)" if op in ("any", "all") else "a"
    check_expr(tmp_path, files, f"{x}.{op}(axis={axis}, keepdims={keepdims})", rtol=1e-9)


@pytest.mark.parametrize("op", ["argmin", "argmax"])
@pytest.mark.parametrize("axis", ["None", "0", "1", "-1"])
def test_arg_reductions(tmp_path, files, op, axis):
    check_expr(tmp_path, files, f"a.{op}(axis={axis})")
    check_expr(tmp_path, files, f"{op}(i, axis={axis})")


@pytest.mark.parametrize("expr", [
    "sum(a, axis=0)",
    "sum(a, 1)",
    "mean(t, axis=(0, 2), keepdims=True)",
    "t.sum(axis=(0, 2))",
    "t.max(axis=-1, keepdims=True)",
    "std(a, ddof=1)",
    "a.var(axis=0, ddof=1)",
    "i.sum()",
    "j.sum(axis=0)",
    "j.max()",
    "i.mean(axis=1)",
    "m.sum()",
    "m.any(axis=1)",
    "f.sum(axis=0)",
    "f.mean()",
    "a.sum(dtype=float32)",
    "(a * b).sum(axis=1) / b.sum(axis=1)",
    "a - a.mean(axis=0)",
    "a - a.mean(axis=1, keepdims=True)",
    "(a > 0).sum()",
    "a.T.T.sum(axis=0).mean()",
])
def test_reduction_forms(tmp_path, files, expr):
    check_expr(tmp_path, files, expr)


# ---- indexing, joining, creation ----

@pytest.mark.parametrize("expr", [
    "a[::2, 1:]",
    "a[0]",
    "a[-1, ..., None]",
    "a[:, newaxis]",
    "a[::-1]",
    "a[1:3, ::-2]",
    "a[None]",
    "a[0, 0]",
    "a[-5:100]",
    "a[(1, 2)]",
    "t[..., 0]",
    "t[1, :, 1:3]",
    "t[:, -1]",
    "t[::-1, ::2, ::3]",
    "(a + b)[1:, :3] * 2",
    "a.T[1]",
])
def test_slicing(tmp_path, files, expr):
    check_expr(tmp_path, files, expr)


@pytest.mark.parametrize("expr", [
    "concatenate((a, b), axis=0)",
    "concatenate((a, b), axis=1)",
    "concatenate([a, b, a], axis=-1)",
    "concatenate((a, b), axis=None)",
    "concatenate((a, c[None]))",
    "concatenate((i, j))",
    "stack((a, b))",
    "stack((a, b), axis=1)",
    "stack((a, b), axis=-1)",
])
def test_concatenate_stack(tmp_path, files, expr):
    check_expr(tmp_path, files, expr)


@pytest.mark.parametrize("expr", [
    "zeros((3, 4), dtype=float32)",
    "zeros(5)",
    "ones((2, 3), dtype=int32)",
    "ones(4)",
    "full((2, 3), 7)",
    "full((2, 3), 2.5)",
    "full((2, 2), True)",
    "full((2, 3), 7, dtype=float32)",
    "arange(10)",
    "arange(1, 10, 2)",
    "arange(0, 1, 0.1)",
    "arange(10.0)",
    "arange(5, dtype=float32)",
    "arange(10, 0, -3)",
    "linspace(0, 1)",
    "linspace(0, 1, 5)",
    "linspace(-1, 1, num=7, endpoint=False)",
    "eye(3)",
    "eye(3, 4, 1)",
    "eye(4, k=-1, dtype=int32)",
    "arange(12).reshape(3, 4)[:, 1:] * 2",
    "zeros(a.shape) + a",
    "[[1, 2], [3, 4.5]]",
    "[True, False]",
    "(1, 2, 3)",
    "a + [1, 2, 3, 4, 5]",
    "sum([1, 2, 3])",
    "a.shape",
])
def test_creation(tmp_path, files, expr):
    check_expr(tmp_path, files, expr)


def test_eye_lowercase_m(tmp_path, files):
    check(lampy_eval(tmp_path, files, "eye(3, m=4)"), np.eye(3, 4))


def test_random(tmp_path, files):
    u = lampy_eval(tmp_path, files, "random.uniform((200, 50), seed=3, low=-2, high=5)")
    assert u.shape == (200, 50) and u.dtype == np.float64
    assert u.min() >= -2 and u.max() < 5
    assert abs(u.mean() - 1.5) < 0.1
    again = lampy_eval(tmp_path, files, "uniform((200, 50), seed=3, low=-2, high=5)")
    np.testing.assert_array_equal(u, again)
    other = lampy_eval(tmp_path, files, "random.uniform((200, 50), seed=4, low=-2, high=5)")
    assert not np.array_equal(u, other)
    n = lampy_eval(tmp_path, files, "random.normal(100000, seed=1, loc=3, scale=2)")
    assert n.shape == (100000,)
    assert abs(n.mean() - 3) < 0.05 and abs(n.std() - 2) < 0.05
    n32 = lampy_eval(tmp_path, files, "normal((10, 10), dtype=float32)")
    assert n32.dtype == np.float32


MATMUL = ["a @ b.T", "a.T @ a", "matmul(a, b.T)", "a @ c", "c @ c", "dot(a, c)", "dot(a, b.T)",
          "dot(c, c)", "dot(2.0, a)", "(a @ b.T).sum(axis=0)", "f @ f.T", "i @ i.T", "t @ a"]


@pytest.mark.parametrize("expr", MATMUL)
def test_matmul(tmp_path, files, expr):
    if HAVE_MATMUL:
        check_expr(tmp_path, files, expr)
        return
    p = run("eval", "a @ b", f"a={files['a']}", f"b={files['b']}")
    assert p.returncode == 1
    assert one_error_line(p) == "lampy: matmul is not supported yet"


# ---- printing and output ----

def test_prints_like_numpy(files):
    p = run("eval", "arange(12).reshape(3, 4) / 4")
    assert p.returncode == 0, p.stderr
    assert p.stdout == str(np.arange(12).reshape(3, 4) / 4) + "\n"
    p = run("eval", "a * 2", f"a={files['a']}")
    assert p.stdout == str(INPUTS["a"] * 2) + "\n"
    p = run("eval", "-2**2")
    assert (p.returncode, p.stdout) == (0, "-4\n")
    p = run("eval", "1/2")
    assert p.stdout == "0.5\n"


def test_output_file(tmp_path, files):
    out = tmp_path / "sub.npy"
    p = run("eval", "a[1:] + 1", f"a={files['a']}", f"--output={out}")
    assert p.returncode == 0 and p.stdout == "", p.stderr
    check(np.load(out), INPUTS["a"][1:] + 1)


def test_expression_starting_with_minus(files):
    p = run("eval", "-a", f"a={files['a']}")
    assert p.returncode == 0, p.stderr
    assert p.stdout == str(-INPUTS["a"]) + "\n"
    p = run("eval", "--", "-a.sum()", f"a={files['a']}")
    assert p.returncode == 0, p.stderr


def test_options_do_not_change_results(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1000, 300))
    y = rng.standard_normal((1000, 300))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    expr = "(x * y + x * 2 - y).sum(axis=0)"
    want = (x * y + x * 2 - y).sum(axis=0)
    for extra in ([], ["--threads", "1"], ["--threads=2", "--chunk-bytes", "64K"], ["--no-fusion"],
                  ["--chunk-bytes=4096", "--no-fusion", "--threads", "2"]):
        out = tmp_path / "o.npy"
        p = run("eval", expr, f"x={tmp_path / 'x.npy'}", f"y={tmp_path / 'y.npy'}", "-o", out, *extra)
        assert p.returncode == 0, (extra, p.stderr)
        np.testing.assert_allclose(np.load(out), want, rtol=1e-9, atol=1e-9)


def test_stats(files):
    p = run("eval", "a.sum()", f"a={files['a']}", "--stats")
    assert p.returncode == 0, p.stderr
    assert float(p.stdout) == pytest.approx(INPUTS["a"].sum())
    assert "tasks" in p.stderr and "total time" in p.stderr


def test_fortran_and_big_endian_inputs(tmp_path):
    x = np.arange(20.0).reshape(4, 5)
    np.save(tmp_path / "f.npy", np.asfortranarray(x))
    np.save(tmp_path / "g.npy", x.astype(">f8"))
    out = tmp_path / "o.npy"
    p = run("eval", "f * 2 + g[:, ::-1]", f"f={tmp_path / 'f.npy'}", f"g={tmp_path / 'g.npy'}", "-o", out)
    assert p.returncode == 0, p.stderr
    check(np.load(out), x * 2 + x[:, ::-1])


# ---- errors ----

@pytest.mark.parametrize("expr, message", [
    ("sum(a b)", "lampy: syntax error at column 7: expected ')'"),
    ("(a + b", "lampy: syntax error at column 7: expected ')'"),
    ("a +", "lampy: syntax error at column 4: unexpected end of expression"),
    ("q + 1", "lampy: name 'q' is not defined"),
    ("a[::0]", "lampy: slice step cannot be zero"),
    ("a[:~ns]", "lampy: name 'ns' is not defined"),  # the step is left unset, not read
    ("sum(a, foo=1)", "lampy: sum() got an unexpected keyword argument 'foo'"),
])
def test_expression_errors(files, expr, message):
    p = run("eval", expr, f"a={files['a']}", f"b={files['b']}")
    assert p.returncode == 1
    assert one_error_line(p) == message
    assert p.stdout == ""


@pytest.mark.parametrize("expr", [
    "", "a $ b", "a < b < c", "not a", "a and b", "3a", "a[", "'x", "a.", "a = 1", "a if a else b",
    "(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((a",
    "a + t", "a.reshape(7, -1)", "concatenate((a, t))", "a.sum(axis=5)", "zeros(-1)",
    "'hello'", "sum", "[1, [2, 3]]", "a.foo", "1 // 0", "a[1.5]", "a[0, 0, 0]", "+m",
])
def test_errors_are_one_line(files, expr):
    p = run("eval", expr, f"a={files['a']}", f"b={files['b']}", f"t={files['t']}", f"m={files['m']}")
    assert p.returncode != 0
    one_error_line(p)
    assert p.stdout == ""


def test_parser_survives_random_input(files):
    """Random token soup and deep nesting: always exit 0 or 1, never a crash or a hang."""
    import random
    rnd = random.Random(5)
    toks = ["a", "b", "q", "1", "2.5", ".5", "1e3", "0x1f", "(", ")", "[", "]", ",", ":", "...", "+",
            "-", "*", "/", "//", "%", "**", "@", "&", "|", "^", "~", "<", "<=", "==", "!=", "=", ".",
            "T", "sum", "reshape", "where", "zeros", "arange", "axis", "keepdims", "True", "None",
            "'f4'", "np", "random", "newaxis", "astype", "float32", "-1", "0", "shape", "not", "'",
            "\\", "$", "<<", "1_", "1e", "j", " "]
    exprs = ["".join(rnd.choice(toks) for _ in range(rnd.randint(1, 20))) for _ in range(150)]
    exprs += ["".join(chr(rnd.randint(1, 0x2FF)) for _ in range(rnd.randint(1, 20))) for _ in range(30)]
    exprs += ["(" * 3000 + "a" + ")" * 3000, "-" * 5000 + "a", "+".join(["a"] * 5000),
              "2" + "**2" * 3000, "a" + ".T" * 3000, "a" + "[0]" * 3000, "sum(" * 1000 + "a",
              "[" * 3000, ",".join(["1"] * 20000)]
    for expr in exprs:
        p = run("eval", "--", expr, f"a={files['a']}", f"b={files['b']}", timeout=30)
        assert p.returncode in (0, 1), (expr, p.returncode, p.stderr[-2000:])
        if p.returncode:
            one_error_line(p)


def test_missing_and_bad_files(tmp_path):
    p = run("eval", "x", f"x={tmp_path / 'nope.npy'}")
    assert p.returncode == 1
    one_error_line(p)
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"\x93NUMPY\x01\x00garbage")
    p = run("eval", "x + 1", f"x={bad}")
    assert p.returncode == 1
    one_error_line(p)


@pytest.mark.parametrize("args", [
    ["frobnicate"], ["--frob"], ["eval", "--frob", "a"], ["eval"], ["eval", "1", "nonsense"],
    ["eval", "1", "1a=x.npy"], ["eval", "1", "--threads", "x"], ["eval", "1", "--threads"],
    ["eval", "1", "-o"], ["eval", "1", "--chunk-bytes", "lots"], ["info"], ["info", "--bogus", "x.npy"],
    ["help", "nosuch"], ["eval", "a", "a=x.npy", "a=y.npy"],
])
def test_usage_errors(args):
    p = run(*args)
    assert p.returncode == 2, p
    one_error_line(p)


# one option parser for every subcommand: the same forms and the same messages everywhere
@pytest.mark.parametrize("cmd", [["eval", "1"], ["graph", "1"], ["estimate", "1"], ["fisher", "X.npy", "y.npy"],
                                 ["predict", "m.npy", "X.npy", "-o", "o.npy"], ["gen", "-o", "d"], ["calibrate"],
                                 ["info", "x.npy"]])
def test_option_parser_is_shared(cmd):
    name = cmd[0]
    p = run(*cmd, "--frob")
    assert p.returncode == 2 and p.stderr.strip() == f"lampy: {name}: unknown option '--frob'; see 'lampy {name} --help'"
    if name in ("info",):
        return
    opt = {"calibrate": "--profile", "gen": "--rows"}.get(name, "--threads")
    p = run(*cmd, opt)
    assert p.returncode == 2 and p.stderr.strip() == f"lampy: {name}: option '{opt}' needs a value"
    if opt != "--profile":
        for form in ([opt, "x"], [f"{opt}=x"]):
            p = run(*cmd, *form)
            assert p.returncode == 2 and f"{name}: {opt} needs an integer in " in p.stderr and "got 'x'" in p.stderr
    flag = {"eval": "--stats", "graph": "--plan", "estimate": "--json", "fisher": "--no-accuracy",
            "calibrate": "--quick"}.get(name)
    if flag:
        p = run(*cmd, f"{flag}=1")
        assert p.returncode == 2 and p.stderr.strip() == f"lampy: {name}: option '{flag}' takes no value"


def test_option_values_in_both_forms(tmp_path):
    out1, out2 = tmp_path / "a.npy", tmp_path / "b.npy"
    assert run("eval", "arange(6) * 2", "--threads=1", f"--output={out1}").returncode == 0
    assert run("eval", "arange(6) * 2", "--threads", "1", "-o", out2, "--chunk-bytes=64").returncode == 0
    assert (np.load(out1) == np.arange(6) * 2).all() and (np.load(out2) == np.load(out1)).all()
    # "--" protects only EXPR: options may follow it
    assert run("eval", "--", "-arange(3)", "-o", out1).returncode == 0
    assert (np.load(out1) == -np.arange(3)).all()


def test_runtime_option_error_exit_1():
    p = run("eval", "1", "--chunk-bytes", "10")
    assert p.returncode == 1
    one_error_line(p)


# ---- help ----

def commands_from_help(text):
    lines = text.splitlines()
    start = lines.index("Commands:") + 1
    cmds = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        cmds.append(line.split()[0])
    return cmds


def test_help_and_version():
    p = run("--help")
    assert p.returncode == 0 and p.stderr == ""
    cmds = commands_from_help(p.stdout)
    assert "eval" in cmds and "info" in cmds
    for cmd in cmds:
        h1, h2, h3 = run("help", cmd), run(cmd, "--help"), run(cmd, "-h")
        assert h1.returncode == h2.returncode == h3.returncode == 0, cmd
        assert h1.stdout == h2.stdout == h3.stdout and h1.stdout.startswith("usage:"), cmd
    assert run("-h").stdout == p.stdout
    assert run("help").stdout == p.stdout
    v = run("--version")
    assert v.returncode == 0 and v.stdout.startswith("lampy ")
    p = run()
    assert p.returncode == 2 and "usage" in p.stderr


# ---- info ----

def npy_header_bytes(path):
    raw = Path(path).read_bytes()
    if raw[6] == 1:
        return 10 + struct.unpack("<H", raw[8:10])[0]
    return 12 + struct.unpack("<I", raw[8:12])[0]


def info_fields(text):
    out = {}
    for line in text.splitlines():
        if line.strip():
            key, _, val = line.partition("  ")
            out[key.strip()] = val.strip()
    return out


@pytest.mark.parametrize("arr, dtype, descr, order", [
    (np.arange(12.0).reshape(3, 4), "float64", "<f8", "C"),
    (np.asfortranarray(np.arange(12.0).reshape(3, 4)), "float64", "<f8", "Fortran"),
    (np.arange(5, dtype=">i4"), "int32", ">i4", "C"),
    (np.array([True, False]), "bool", "|b1", "C"),
    (np.array(3.5, dtype=np.float32), "float32", "<f4", "C"),
    (np.zeros((0, 3), dtype=np.int64), "int64", "<i8", "C"),
])
def test_info(tmp_path, arr, dtype, descr, order):
    path = tmp_path / "x.npy"
    np.save(path, arr)
    p = run("info", path)
    assert p.returncode == 0, p.stderr
    f = info_fields(p.stdout)
    assert f["file"] == str(path)
    assert f["format"] == "1.0"
    assert f["dtype"].split()[0] == dtype and descr in f["dtype"]
    assert f["shape"] == str(arr.shape)
    assert f["order"] == order
    assert int(f["elements"]) == arr.size
    assert int(f["data bytes"]) == arr.nbytes
    assert int(f["header bytes"]) == npy_header_bytes(path)


def test_info_version_2_and_several_files(tmp_path):
    a = np.arange(6.0).reshape(2, 3)
    p2 = tmp_path / "v2.npy"
    with open(p2, "wb") as fh:
        np.lib.format.write_array(fh, a, version=(2, 0))
    p1 = tmp_path / "v1.npy"
    np.save(p1, a)
    p = run("info", p2, p1)
    assert p.returncode == 0, p.stderr
    blocks = p.stdout.strip().split("\n\n")
    assert len(blocks) == 2
    f2, f1 = info_fields(blocks[0]), info_fields(blocks[1])
    assert f2["format"] == "2.0" and f1["format"] == "1.0"
    assert int(f2["header bytes"]) == npy_header_bytes(p2)
    assert f2["shape"] == "(2, 3)"


def test_info_errors(tmp_path):
    p = run("info", tmp_path / "nope.npy")
    assert p.returncode == 1
    one_error_line(p)
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not a npy file at all")
    p = run("info", bad)
    assert p.returncode == 1
    one_error_line(p)
