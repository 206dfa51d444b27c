#!/usr/bin/env python3
"""Generate Lampy's op conformance corpus from NumPy: tests/data/ops/{MANIFEST,*.npy}.

Run with the project's venv (NumPy 2.x: NEP 50 promotion is the reference):

    .venv/bin/python tests/data/gen_ops.py

The output is deterministic (fixed seeds, files named by the SHA-1 of their bytes, so equal
inputs and outputs are stored once). tests/c/test_ops.c reads it.

MANIFEST format (also written at the top of the MANIFEST itself)
-----------------------------------------------------------------
One case per line, whitespace separated; '#' lines and blank lines are ignored:

    <id> <category> <tol> <expect> <token> <token> ... [| <STATUS> <message substring ...>]

<expect> is a .npy file in tests/data/ops/ holding the exact NumPy result (dtype, shape and
values), or `error`: then the `|` part names the lp_status (ERR_TYPE, ...) that building or
running must return and a substring that lp_last_error must contain (the rest of the line).

The tokens are a little stack program that builds the expression with the public API; fields
inside a token are separated by '/'. When the program ends exactly one array is left: the result.

    load/<file>                     lp_load                                  push 1
    scalar/<b|i|f>/<v>              lp_scalar_array (a weak Python scalar)     push 1
    elem/<op>/<n>                   lp_elemwise(op, n inputs)       pop n, push 1
    unary/<op>   binary/<op>        lp_unary / lp_binary            pop 1|2, push 1
    where                           lp_where(cond, a, b)            pop 3, push 1
    astype/<dtype>                  lp_astype                       pop 1, push 1
    reduce/<op>/<axes>/<keep>/<ddof> ddof '-' = lp_reduce, else lp_reduce_ddof
    reshape/<shape>                 lp_reshape
    transpose/<perm>                lp_transpose (perm 'none' = NULL)
    slice/<spec>                    lp_slice; spec is NumPy-like: items separated by ',',
                                    each 'start:stop:step' (parts may be empty), an int,
                                    'N' (newaxis) or '...' (ellipsis)
    concat/<n>/<axis>  stack/<n>/<axis>                             pop n, push 1
    zeros/<dtype>/<shape>  ones/<dtype>/<shape>  full/<dtype>/<shape>/<b|i|f>/<v>
    arange/<start>/<stop>/<step>/<dtype>  linspace/<start>/<stop>/<num>/<endpoint>/<dtype>
    eye/<n>/<m>/<k>/<dtype>

Lists (<shape>, <axes>, <perm>) are comma separated; '()' is the empty list, 'none' is NULL.
Floats are written with float.hex() (exact; strtod reads them) or inf/-inf/nan; <keep> and
<endpoint> are 0/1.

<tol> says how the result is compared:
    exact     bit for bit; NaN matches any NaN; the sign of zero is checked
    exactz    bit for bit except that +0.0 and -0.0 match (maximum/minimum: NumPy's own answer
              for maximum(0.0, -0.0) depends on the SIMD path it dispatches to)
    ulp:N     floats within N units in the last place (NaN/inf must match exactly)
    rel:R     |got - want| <= R * |want| (float reductions; NaN/inf must match exactly)
The C test additionally runs every case with 1 and 2 threads, several chunk sizes and fusion
on/off, and requires results bit-identical to the first run (rel 1e-12 for float64
reductions, 1e-6 for float32 reductions).

Tolerances used and why
-----------------------
  arithmetic, comparisons, logical, bitwise, where, astype, sqrt, min/max/arg*: exact (IEEE
      operations are correctly rounded; sqrt too).
  exp log sin cos tanh: ulp:4.  NumPy dispatches to SIMD kernels (SVML/AVX-512 here) whose
      documented bound is 4 ULP; glibc 2.36 is within 1-2 ULP.  Measured on this machine:
      NumPy vs glibc <= 2 ULP (float64) and <= 3 ULP (float32, tanhf).
  power (float): ulp:2 (NumPy vs glibc pow/powf measured <= 1 ULP).
  float reductions sum prod mean var std: the reference is computed in long double from the
      same inputs and rounded to the result dtype (more accurate than NumPy's own pairwise
      sum), compared with rel:1e-12 (float64) and rel:1e-5 (float32: ~100 float32 ULP, which
      covers float32 accumulation of these <= 30 element inputs).
  arange/linspace (float): ulp:1 (NumPy's formulas: start + i*delta, delta = (start+step) -
      start; linspace: start + i*step, last = stop).

dtypes
------
The generators here run over the first five dtypes (bool int32 int64 float32 float64);
gen_ops_dtypes.py covers int8 int16 uint8 uint16 uint32 uint64 float16 against every dtype
(ids 'dt.*'): binary ops over value grids (every pair for add and less, a rotating choice of
pairs for the others), unary ops, weak Python scalars (NEP 50, incl. out-of-bounds ints), where,
every astype pair, reductions, fused chains whose narrow intermediates wrap, and the catalogue.
float16 results: arithmetic exact (NumPy computes in float32 and rounds each result, as Lampy
does); functions ulp:1 in float16 units (NumPy may use its own float32 SIMD kernels before the
rounding); float16 reductions rel:1e-3 (NumPy sums float16 pairwise in float32, Lampy in
float64).

Error statuses: NumPy's TypeError -> ERR_TYPE; AxisError -> ERR_AXIS; IndexError -> ERR_INDEX;
ZeroDivisionError -> ERR_ZERO_DIVISION; ValueError, OverflowError -> ERR_VALUE; broadcasting failures -> ERR_SHAPE; other shape-related
ValueErrors (reshape, concatenate, stack) accept ERR_VALUE or ERR_SHAPE (STATUS may be a
comma-separated list of accepted statuses).

Values avoided on purpose
-------------------------
  astype float -> int: NaN, +-inf and out-of-range values are undefined behaviour in C
      (NumPy returns INT_MIN with a warning on x86); they are left out of those cases.
  reductions min/max: never mix +0.0 and -0.0 (NumPy's answer depends on the SIMD path).
  integer power: negative exponents appear only in the cases that expect NumPy's ValueError.
"""
import hashlib
import io
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "ops"

DTYPES = ["bool", "int32", "int64", "float32", "float64"]
# the dtypes added later: gen_dtypes() covers them (with every dtype as the other operand)
NEW = ["int8", "int16", "uint8", "uint16", "uint32", "uint64", "float16"]
ALL = DTYPES + NEW
NP = {d: np.dtype(d) for d in ALL}

BINARY = ["add", "subtract", "multiply", "divide", "floor_divide", "remainder", "power",
          "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
          "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or",
          "bitwise_xor", "maximum", "minimum", "left_shift", "right_shift"]
UNARY = ["negative", "abs", "logical_not", "invert", "sqrt", "exp", "log", "sin", "cos", "tanh"]
TRANSC = {"exp", "log", "sin", "cos", "tanh"}
REDUCE = ["sum", "prod", "mean", "min", "max", "argmin", "argmax", "var", "std", "any", "all"]

I32MIN, I32MAX = -2**31, 2**31 - 1
I64MIN, I64MAX = -2**63, 2**63 - 1

# Interesting values per dtype (the grid cases take every pair of them).
VALS = {
    "bool": [False, True],
    "int32": [0, 1, -1, 2, -2, 3, -3, 7, -7, 100, I32MAX, I32MIN],
    "int64": [0, 1, -1, 2, -3, 7, -7, 100, 2**31, -2**31 - 1, 2**53 + 1, I64MAX, I64MIN],
    "float32": [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, -7.0, 1.5, 1e30, -3e-39, 3.4028235e38,
                np.inf, -np.inf, np.nan],
    "float64": [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, -7.0, 0.1, 1e300, 5e-324, -1e-310,
                2.0**53 + 2, 1.7976931348623157e308, np.inf, -np.inf, np.nan],
    "int8": [0, 1, -1, 2, -2, 3, -3, 7, -7, 100, 127, -128],
    "int16": [0, 1, -1, 2, -3, 7, -7, 300, -300, 32767, -32768],
    "uint8": [0, 1, 2, 3, 7, 100, 127, 128, 200, 255],
    "uint16": [0, 1, 2, 3, 7, 300, 32767, 32768, 65535],
    "uint32": [0, 1, 2, 3, 7, 100, 2**31 - 1, 2**31, 2**32 - 1],
    "uint64": [0, 1, 2, 3, 7, 100, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1],
    "float16": [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, -7.0, 0.1, 65504.0, 2.0**-24, -1e-5, 1000.5,
                np.inf, -np.inf, np.nan],
}
# Softer values for broadcasting cases (cycled to fill a shape).
SOFT = {
    "bool": [True, False, True, True, False],
    "int32": [3, -2, 0, 7, -9, 1, 4, -1, 5, 2, -6, 8],
    "int64": [-4, 5, 0, 2, 9, -1, 3, -8, 6, 1, -3, 7],
    "float32": [1.5, -2.0, 0.0, 3.25, -0.5, np.nan, 2.0, -7.5, np.inf, 0.25, -0.0, 4.0],
    "float64": [0.75, -3.0, 2.5, 0.0, -1.25, 5.0, np.nan, -np.inf, 1.0, -0.0, 6.5, -2.0],
    "int8": [3, -2, 0, 7, -9, 1, 4, -1, 5, 2, -6, 8],
    "int16": [-4, 5, 0, 2, 9, -1, 3, -8, 6, 1, -3, 7],
    "uint8": [3, 2, 0, 7, 9, 1, 4, 250, 5, 2, 6, 8],
    "uint16": [4, 5, 0, 2, 9, 1, 3, 8, 6, 1, 65000, 7],
    "uint32": [3, 2, 0, 7, 9, 1, 4, 4000000000, 5, 2, 6, 8],
    "uint64": [4, 5, 0, 2, 9, 1, 3, 8, 6, 1, 2**63 + 5, 7],
    "float16": [1.5, -2.0, 0.0, 3.25, -0.5, np.nan, 2.0, -7.5, np.inf, 0.25, -0.0, 4.0],
}
SOFT_NONNEG = {
    "bool": [True, False, True, True, False],
    "int32": [3, 2, 0, 7, 1, 1, 4, 5, 0, 2, 6, 3],
    "int64": [4, 5, 0, 2, 9, 1, 3, 8, 6, 1, 0, 7],
    "int8": [3, 2, 0, 7, 1, 1, 4, 5, 0, 2, 6, 3],
    "int16": [4, 5, 0, 2, 9, 1, 3, 8, 6, 1, 0, 7],
}

# ---------------------------------------------------------------------------- files

_written = {}


def save(arr):
    """Store arr as <sha1>.npy (content addressed) and return the file name."""
    arr = np.asarray(arr)
    assert arr.dtype.name in ALL + ["complex64", "complex128"], arr.dtype
    buf = io.BytesIO()
    np.save(buf, np.array(arr, order="C", copy=True), allow_pickle=False)  # keeps 0-d
    data = buf.getvalue()
    name = hashlib.sha1(data).hexdigest()[:14] + ".npy"
    if name not in _written:
        _written[name] = arr.copy()
        (OUT / name).write_bytes(data)
    return name


def fhex(x):
    x = float(x)
    if np.isnan(x):
        return "nan"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x.hex()


def lst(xs):
    if xs is None:
        return "none"
    xs = list(xs)
    return ",".join(str(int(v)) for v in xs) if xs else "()"


def fill(dtype, shape, vals, offset=0):
    n = int(np.prod(shape, dtype=np.int64))
    flat = [vals[(i + offset) % len(vals)] for i in range(n)]
    return np.array(flat, dtype=dtype).reshape(shape)


# ---------------------------------------------------------------------------- interpreter


class Mapped(Exception):
    pass


def parse_list(s):
    if s == "none":
        return None
    if s == "()":
        return []
    return [int(v) for v in s.split(",")]


def parse_scalar(kind, v):
    if kind == "b":
        return bool(int(v))
    if kind == "i":
        return int(v)
    return float.fromhex(v) if v not in ("nan", "inf", "-inf") else float(v)


def parse_spec(spec):
    items = []
    for it in spec.split(","):
        if it == "N":
            items.append(None)
        elif it == "...":
            items.append(Ellipsis)
        elif ":" in it:
            parts = it.split(":")
            parts += [""] * (3 - len(parts))
            items.append(slice(*[int(p) if p else None for p in parts]))
        else:
            items.append(int(it))
    return tuple(items)


class Ctx:
    def __init__(self):
        self.mapped = False


def np_elem(ctx, op, args):
    f = np.abs if op == "abs" else getattr(np, op)
    r = np.asarray(f(*args))
    assert r.dtype.name in ALL + ["complex64", "complex128"], (op, r.dtype)
    return r


def np_reduce(op, a, axes, keep, ddof):
    a = np.asarray(a)
    if op in ("argmin", "argmax"):
        if axes is not None and len(axes) != 1:
            raise AssertionError("argmin/argmax take one axis")
        ax = None if axes is None else axes[0]
        return np.asarray(getattr(np, op)(a, axis=ax, keepdims=keep))
    kw = dict(axis=None if axes is None else tuple(axes), keepdims=keep)
    if op in ("var", "std"):
        kw["ddof"] = ddof
    r = np.asarray(getattr(np, op)(a, **kw))
    if r.dtype.kind == "f" and op in ("sum", "prod", "mean", "var", "std"):
        hp = np.asarray(getattr(np, op)(a.astype(np.longdouble), **kw)).astype(r.dtype)
        same_class = np.array_equal(np.isnan(hp), np.isnan(r)) and \
            np.array_equal(np.isinf(hp), np.isinf(r))
        if same_class:
            r = hp
    return r


# ---- the function catalogue (lp_call): NumPy's reference for each catalogue name

def _acc(ufunc):
    def f(a, axis=None):
        a = np.asarray(a)
        return ufunc.accumulate(a.ravel() if axis is None else a, axis=0 if axis is None else axis)
    return f


def _stable(fn):
    def f(a, axis=-1, kind=None, **kw):
        return fn(a, axis=axis, kind="stable" if kind is None else kind, **kw)
    return f


NP_CALL = {
    "cummax": _acc(np.maximum),
    "cummin": _acc(np.minimum),
    "sort": _stable(np.sort),
    "argsort": _stable(np.argsort),
    "flatten": np.ravel,   # an ndarray method in NumPy; a function too in Lampy's catalogue
    # the array API's unique_*: NumPy 2.3+ may leave them unsorted (the standard allows any
    # order); Lampy sorts, so the reference is np.unique's sorted answer with distinct NaNs
    "unique_values": lambda x: np.unique(x, equal_nan=False),
    "unique_counts": lambda x: np.unique(x, return_counts=True, equal_nan=False),
    # (return_index makes np.unique sort stably, so distinct NaNs keep their order, as in Lampy)
    "unique_inverse": lambda x: np.unique(x, True, True, equal_nan=False)[::2],
    "unique_all": lambda x: np.unique(x, True, True, True, equal_nan=False),
    "linalg.lstsq": lambda a, b, **kw: np.linalg.lstsq(a, b, **kw)[0],  # Lampy's lstsq: the solution only
}


def np_call(ctx, name, args, kw):
    if name in NP_CALL:
        fn = NP_CALL[name]
    elif name.startswith("linalg."):
        fn = getattr(np.linalg, name[7:])
    elif name.startswith("fft."):
        fn = getattr(np.fft, name[4:])
    else:
        fn = getattr(np, name)
    r = fn(*args, **kw)
    if isinstance(r, (tuple, list)):
        return [np.asarray(x) for x in r]
    r = np.asarray(r)
    assert r.dtype.name in ALL + ["complex64", "complex128"], (name, r.dtype)
    return r


def run_value(tok, f, st, vs):
    k = f[0]
    if k == "v.arr":
        vs.append(st.pop())
    elif k == "v.int":
        vs.append(int(f[1]))
    elif k == "v.flt":
        vs.append(float(f[1]) if f[1] in ("nan", "inf", "-inf") else float.fromhex(f[1]))
    elif k == "v.bool":
        vs.append(bool(int(f[1])))
    elif k == "v.none":
        vs.append(None)
    elif k == "v.str":
        vs.append(f[1])
    elif k == "v.dt":
        vs.append(np.dtype(f[1]))
    elif k == "v.tup":
        n = int(f[1])
        items = tuple(vs[len(vs) - n:]) if n else ()
        if n:
            del vs[-n:]
        vs.append(items)
    else:
        raise AssertionError(tok)


def run_program(tokens, files):
    ctx = Ctx()
    st = []
    vs = []
    for tok in tokens:
        f = tok.split("/")
        k = f[0]
        if k.startswith("v."):
            run_value(tok, f, st, vs)
        elif k == "call":
            npos = int(f[2])
            kwn = [] if f[3] == "-" else f[3].split(",")
            n = npos + len(kwn)
            args = vs[len(vs) - n:] if n else []
            if n:
                del vs[-n:]
            r = np_call(ctx, f[1], args[:npos], dict(zip(kwn, args[npos:])))
            st.append(r if f[4] == "-" else r[int(f[4])])
        elif k == "load":
            st.append(files[f[1]])
        elif k == "scalar":
            st.append(parse_scalar(f[1], f[2]))
        elif k in ("elem", "unary", "binary", "where"):
            if k == "where":
                op, n = "where", 3
            else:
                op = f[1]
                n = int(f[2]) if k == "elem" else (1 if k == "unary" else 2)
            args = st[-n:]
            del st[-n:]
            st.append(np_elem(ctx, op, args))
        elif k == "astype":
            st.append(np.asarray(st.pop()).astype(f[1]))
        elif k == "reduce":
            ddof = 0 if f[4] == "-" else int(f[4])
            st.append(np_reduce(f[1], st.pop(), parse_list(f[2]), bool(int(f[3])), ddof))
        elif k == "reshape":
            st.append(np.reshape(np.asarray(st.pop()), tuple(parse_list(f[1]))))
        elif k == "transpose":
            perm = parse_list(f[1])
            st.append(np.transpose(np.asarray(st.pop()), None if perm is None else tuple(perm)))
        elif k == "slice":
            st.append(np.asarray(np.asarray(st.pop())[parse_spec(f[1])]))
        elif k in ("concat", "stack"):
            n, axis = int(f[1]), int(f[2])
            args = [np.asarray(a) for a in st[len(st) - n:]] if n else []
            if n:
                del st[-n:]
            fn = np.concatenate if k == "concat" else np.stack
            st.append(fn(args, axis=axis))
        elif k in ("zeros", "ones"):
            st.append(getattr(np, k)(tuple(parse_list(f[2])), dtype=f[1]))
        elif k == "full":
            st.append(np.full(tuple(parse_list(f[2])), parse_scalar(f[3], f[4]), dtype=f[1]))
        elif k == "arange":
            st.append(np.arange(float.fromhex(f[1]), float.fromhex(f[2]), float.fromhex(f[3]),
                                dtype=f[4]))
        elif k == "linspace":
            st.append(np.linspace(float.fromhex(f[1]), float.fromhex(f[2]), int(f[3]),
                                  endpoint=bool(int(f[4])), dtype=f[5]))
        elif k == "eye":
            st.append(np.eye(int(f[1]), int(f[2]), int(f[3]), dtype=f[4]))
        else:
            raise AssertionError(tok)
    assert len(st) == 1, tokens
    return np.asarray(st[0]), ctx.mapped


# NumPy's ValueError is LP_ERR_VALUE, except that broadcasting failures are LP_ERR_SHAPE; for the
# other shape-related ValueErrors either status is accepted.
SHAPE_MSGS = ("cannot reshape", "must match exactly", "same number of dimensions",
              "must have the same shape", "zero-dimensional arrays cannot be concatenated")


def status_of(e):
    msg = str(e)
    if isinstance(e, np.exceptions.AxisError):
        return "ERR_AXIS"
    if isinstance(e, TypeError):
        return "ERR_TYPE"
    if isinstance(e, IndexError):
        return "ERR_INDEX"
    if isinstance(e, ZeroDivisionError):
        return "ERR_ZERO_DIVISION"
    if isinstance(e, OverflowError):
        return "ERR_VALUE"
    if isinstance(e, np.linalg.LinAlgError):
        return "ERR_LINALG"
    if isinstance(e, ValueError):
        if "could not be broadcast" in msg:
            return "ERR_SHAPE"
        return "ERR_VALUE,ERR_SHAPE" if any(s in msg for s in SHAPE_MSGS) else "ERR_VALUE"
    raise e


def msg_key(msg):
    msg = msg.strip()
    m = re.match(r"(ufunc '\w+' not supported for the input types)", msg)
    if m:
        return m.group(1)
    m = re.match(r"(ufunc '\w+') did not contain a loop", msg)
    if m:
        return m.group(1)
    # NumPy drops the -1 from the shape it prints ("into shape (5)" for (-1, 5)): not a spec
    m = re.match(r"(cannot reshape array of size \d+ into shape) \([\d,]*newaxis[\d,]*\)$", msg) or \
        re.match(r"(cannot reshape array of size \d+ into shape) \(\d+\)$", msg)
    if m:
        return m.group(1)
    for key in ("boolean subtract", "boolean negative"):
        if key in msg:
            return key
    return msg


# ---------------------------------------------------------------------------- cases

CASES = []
_ids = set()
FILES = {}  # name -> array, for the interpreter


def inp(arr):
    name = save(arr)
    FILES[name] = np.asarray(arr)
    return "load/" + name


def case(cid, cat, tokens, tol=None, expect_error=None):
    """Run tokens through NumPy and record the case. tol: None = chosen from the result."""
    assert cid not in _ids, cid
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            res, mapped = run_program(tokens, FILES)
            err = None
        except Exception as e:  # noqa: BLE001 - NumPy's errors are the reference
            err = e
    if expect_error is not None:
        assert err is not None, f"{cid}: expected NumPy to raise"
    if err is not None:
        cid2 = cid
        _ids.add(cid2)
        CASES.append((cid2, cat, "-", "error", tokens, (status_of(err), msg_key(str(err)))))
        return
    if mapped:
        cid = cid + ".mapped"
    assert cid not in _ids, cid
    _ids.add(cid)
    if tol is None:
        tol = "exact"
    if res.dtype.kind not in "fc":
        tol = "exact"
    CASES.append((cid, cat, tol, save(res), tokens, None))


def elem_tol(op, dtype_out_is_float=True):
    if op in TRANSC:
        return "ulp:4"
    if op == "power":
        return "ulp:2"
    if op in ("maximum", "minimum"):
        return "exactz"
    return "exact"


def grid(a, b):
    va, vb = VALS[a], VALS[b]
    x = np.array([u for u in va for _ in vb], dtype=a)
    y = np.array([v for _ in va for v in vb], dtype=b)
    return x, y


def gen_elementwise():
    # 1. every binary op x every dtype pair over the value grid (same shape, contiguous)
    for op in BINARY:
        for a in DTYPES:
            for b in DTYPES:
                x, y = grid(a, b)
                res_int = np.result_type(x.dtype, y.dtype).kind in "biu"
                if op == "power" and res_int and b != "bool":
                    # integer power: negative exponents are NumPy's ValueError (cases below)
                    keep = y >= 0
                    x, y = x[keep], y[keep]
                api = "binary/" + op if (len(CASES) % 2) else f"elem/{op}/2"
                case(f"elem.{op}.{a}.{b}.grid", "elem", [inp(x), inp(y), api], elem_tol(op))
        # the integer-power error, and the bool errors, on their own
    for a in ("int32", "int64", "bool"):
        for b in ("int32", "int64"):
            case(f"elem.power.{a}.{b}.negexp", "elem",
                 [inp(np.array([2, 3, 1], dtype=a)), inp(np.array([1, -1, 2], dtype=b)),
                  "elem/power/2"], expect_error=True)
    case("elem.power.int32.negexp.scalar", "scalar",
         [inp(np.array([2, 3], dtype="int32")), "scalar/i/-1", "binary/power"], expect_error=True)
    # 2. every unary op x every dtype
    for op in UNARY:
        for a in DTYPES:
            x = np.array(VALS[a], dtype=a)
            api = "unary/" + op if (len(CASES) % 2) else f"elem/{op}/1"
            case(f"elem.{op}.{a}.vals", "elem", [inp(x), api], elem_tol(op))
    # extra values for the transcendental functions and sqrt (away from the specials)
    rng = np.random.default_rng(11)
    for a in ("float32", "float64"):
        xs = {
            "exp": np.concatenate([rng.uniform(-20, 20, 40), [-745.0, 709.0, 88.0, -103.0,
                                                               1e-10, -1e-10, 0.6931471805599453]]),
            "log": np.concatenate([rng.uniform(0, 1e3, 30), rng.uniform(0, 1e-3, 10),
                                   [1.0, 2.0, 1e-300, 1e300, 0.5, 1.0000001]]),
            "sin": np.concatenate([rng.uniform(-10, 10, 30), rng.uniform(-1e4, 1e4, 10),
                                   [np.pi, np.pi / 2, 1e-8, -1e-8, 1e22]]),
            "cos": np.concatenate([rng.uniform(-10, 10, 30), rng.uniform(-1e4, 1e4, 10),
                                   [np.pi, np.pi / 2, 1e-8, -1e-8, 1e22]]),
            "tanh": np.concatenate([rng.uniform(-5, 5, 30), rng.uniform(-1e-3, 1e-3, 10),
                                    [20.0, -20.0, 1e-9, 0.5493061443340549]]),
            "sqrt": np.concatenate([rng.uniform(0, 1e3, 30), rng.uniform(0, 1e-30, 5),
                                    [2.0, 3.0, 1e-310, 4.0, 0.01, -1e-300]]),
        }
        for op, v in xs.items():
            with np.errstate(over="ignore"):
                x = v.astype(a)
            if a == "float32":
                x = x[np.abs(x) < 3e38]
            case(f"elem.{op}.{a}.range", "elem", [inp(x), f"elem/{op}/1"], elem_tol(op))
    # float power over a range (non-integer exponents, large/small results)
    for a in ("float32", "float64"):
        x = rng.uniform(0, 10, 40).astype(a)
        y = rng.uniform(-8, 8, 40).astype(a)
        case(f"elem.power.{a}.range", "elem", [inp(x), inp(y), "elem/power/2"], "ulp:2")
        xn = np.array([-8.0, -2.0, -0.0, 0.0, 0.0, -0.0, np.nan, 1.0, -1.0, -1.0, 2.0, 0.5,
                       np.inf, -np.inf, -np.inf, 10.0], dtype=a)
        yn = np.array([1 / 3, 3.0, -1.0, -1.0, 0.0, 3.0, 0.0, np.nan, np.inf, -np.inf, -1074.0,
                       np.inf, -0.5, 3.0, 2.0, 400.0], dtype=a)
        case(f"elem.power.{a}.special", "elem", [inp(xn), inp(yn), "elem/power/2"], "ulp:2")
    # float floor_divide/remainder sign rules with broader magnitudes
    for a in ("float32", "float64"):
        x = np.array([7.0, -7.0, 7.0, -7.0, 5.5, -5.5, 1e20, -1e-20, 0.0, -0.0, 1.0, -1.0,
                      np.inf, 3.0, 0.3], dtype=a)
        y = np.array([2.0, 2.0, -2.0, -2.0, 0.5, 1.5, 3.0, 7.0, -3.0, 3.0, np.inf, np.inf,
                      2.0, -np.inf, 0.1], dtype=a)
        for op in ("floor_divide", "remainder"):
            case(f"elem.{op}.{a}.signs", "elem", [inp(x), inp(y), f"elem/{op}/2"])
    # integer division/modulo corner cases collected (also inside the grids)
    for a in ("int32", "int64"):
        mn = I32MIN if a == "int32" else I64MIN
        x = np.array([mn, mn, 7, -7, 7, -7, 0, 5, -5, mn, 1], dtype=a)
        y = np.array([-1, 1, 0, 0, -2, 2, 0, 3, -3, mn, mn], dtype=a)
        for op in ("floor_divide", "remainder"):
            case(f"elem.{op}.{a}.corners", "elem", [inp(x), inp(y), f"elem/{op}/2"])
        case(f"elem.abs.{a}.min", "elem", [inp(np.array([mn, -1], dtype=a)), "elem/abs/1"])
        case(f"elem.negative.{a}.min", "elem", [inp(np.array([mn, 1], dtype=a)),
                                                 "elem/negative/1"])


BCAST = [((), (3, 4)), ((1,), (5,)), ((5,), (5,)), ((3, 1), (1, 4)), ((3, 4), (4,)),
         ((2, 3, 4), (3, 1)), ((2, 3, 4), (4,)), ((0,), (1,)), ((0,), ()), ((0, 3), (3,)),
         ((3, 1), (3, 4)), ((1, 4), (2, 3, 4)), ((), ()), ((1,), ()), ((0, 3), (1, 3)),
         ((2, 1, 4), (3, 1)), ((4,), (2, 3, 4)), ((3, 1), (2, 3, 4)), ((3,), (0, 3))]
BCAST_ERR = [((2, 3), (4,)), ((3,), (0,)), ((2, 3, 4), (3,)), ((0, 3), (4,)), ((2, 1), (3, 1, 3, 1))]


def shp(s):
    return "x".join(map(str, s)) if s else "0d"


def gen_broadcast():
    pairs = [(a, b) for a in DTYPES for b in DTYPES]
    for oi, op in enumerate(BINARY):
        for bi, (sa, sb) in enumerate(BCAST):
            chosen = {pairs[(oi * 7 + bi) % 25], pairs[(oi * 11 + bi * 3 + 5) % 25]}
            if op == "add" and (sa, sb) in (((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((), (3, 4)),
                                            ((0, 3), (3,)), ((1,), ())):
                chosen = set(pairs)  # every dtype pair through the broadcasting paths
            for a, b in sorted(chosen):
                res_int = np.result_type(NP[a], NP[b]).kind in "biu"
                x = fill(a, sa, SOFT[a], oi)
                vb = SOFT_NONNEG[b] if (op == "power" and res_int) else SOFT[b]
                y = fill(b, sb, vb, bi)
                case(f"bcast.{op}.{a}.{b}.{shp(sa)}.{shp(sb)}", "bcast",
                     [inp(x), inp(y), f"elem/{op}/2"], elem_tol(op))
    for op in UNARY:
        for si, s in enumerate([(), (0,), (0, 3), (2, 3, 4), (1,)]):
            a = DTYPES[(si + UNARY.index(op)) % 5]
            case(f"bcast.{op}.{a}.{shp(s)}", "bcast", [inp(fill(a, s, SOFT[a])), f"elem/{op}/1"],
                 elem_tol(op))
    for sa, sb in BCAST_ERR:
        for x, y in ((sa, sb), (sb, sa)):
            case(f"bcast_err.add.{shp(x)}.{shp(y)}", "bcast_err",
                 [inp(np.zeros(x)), inp(np.zeros(y, dtype="int32")), "elem/add/2"],
                 expect_error=True)
    case("bcast_err.less.2x3.4", "bcast_err",
         [inp(np.zeros((2, 3))), inp(np.zeros(4)), "binary/less"], expect_error=True)
    case("bcast_err.where.2x3.4.3x1", "bcast_err",
         [inp(np.ones((2, 3), bool)), inp(np.ones(4)), inp(np.ones((3, 1))), "where"],
         expect_error=True)
    case("bcast_err.where.3x1.1x4.2", "bcast_err",
         [inp(np.ones((3, 1), bool)), inp(np.ones((1, 4))), inp(np.ones(2)), "elem/where/3"],
         expect_error=True)


def gen_bool_errors():
    for op in ("subtract",):
        for sa, sb in (((5,), (5,)), ((3, 1), (4,)), ((), ())):
            case(f"typeerr.{op}.bool.{shp(sa)}.{shp(sb)}", "typeerr",
                 [inp(fill("bool", sa, SOFT["bool"])), inp(fill("bool", sb, SOFT["bool"])),
                  f"elem/{op}/2"], expect_error=True)
    case("typeerr.subtract.bool.scalar_b", "typeerr",
         [inp(np.array([True, False])), "scalar/b/1", "binary/subtract"], expect_error=True)
    case("typeerr.negative.bool.0d", "typeerr", [inp(np.array(True)), "unary/negative"],
         expect_error=True)
    for op in ("bitwise_and", "bitwise_or", "bitwise_xor"):
        for a, b in (("float64", "int32"), ("bool", "float32"), ("float32", "float32")):
            pass  # covered by the grids (NumPy raises TypeError there)
    case("typeerr.invert.float64.scalar", "typeerr",
         [inp(np.array([1.0, 2.0])), "unary/invert"], expect_error=True)
    case("typeerr.bitwise_and.int32.scalar_f", "typeerr",
         [inp(np.array([1, 2], "int32")), "scalar/f/" + fhex(2.0), "binary/bitwise_and"],
         expect_error=True)


SCALARS_R = [("b", "1"), ("i", "3"), ("i", "-2"), ("f", fhex(2.5)), ("f", fhex(-0.0))]
SCALARS_L = [("b", "1"), ("i", "5"), ("f", fhex(-1.5))]


def gen_scalars():
    for oi, op in enumerate(BINARY):
        for a in DTYPES:
            x = np.array(VALS[a], dtype=a)
            if op == "power" and a != "float32" and a != "float64":
                x = x  # negative scalars give errors for ints (kept: that is NumPy)
            for k, v in SCALARS_R:
                case(f"scalar.{op}.{a}.r{k}{v if k != 'f' else float.fromhex(v)}", "scalar",
                     [inp(x), f"scalar/{k}/{v}", "binary/" + op], elem_tol(op))
            for k, v in SCALARS_L:
                case(f"scalar.{op}.{a}.l{k}{v if k != 'f' else float.fromhex(v)}", "scalar",
                     [f"scalar/{k}/{v}", inp(x), f"elem/{op}/2"], elem_tol(op))
    for op in ("add", "multiply", "divide", "floor_divide", "less", "maximum", "power"):
        for (k1, v1), (k2, v2) in (((("i", "3"), ("f", fhex(2.5)))), (("i", "7"), ("i", "-2")),
                                   (("b", "1"), ("b", "1")), (("b", "1"), ("i", "4")),
                                   (("f", fhex(0.1)), ("f", fhex(0.2)))):
            nm = lambda k, v: k + (repr(float.fromhex(v)) if k == "f" else v)
            case(f"scalar.{op}.{nm(k1, v1)}.{nm(k2, v2)}", "scalar",
                 [f"scalar/{k1}/{v1}", f"scalar/{k2}/{v2}", "binary/" + op], elem_tol(op))
    # weak-promotion headline cases, with broadcasting shapes
    for s in ((3, 4), (), (0,)):
        case(f"scalar.add.int32.i3.{shp(s)}", "scalar",
             [inp(fill("int32", s, SOFT["int32"])), "scalar/i/3", "binary/add"])
        case(f"scalar.add.int32.f2.5.{shp(s)}", "scalar",
             [inp(fill("int32", s, SOFT["int32"])), "scalar/f/" + fhex(2.5), "binary/add"])
        case(f"scalar.add.float32.f0.1.{shp(s)}", "scalar",
             [inp(fill("float32", s, SOFT["float32"])), "scalar/f/" + fhex(0.1), "binary/add"])
        case(f"scalar.add.bool.i1.{shp(s)}", "scalar",
             [inp(fill("bool", s, SOFT["bool"])), "scalar/i/1", "binary/add"])
    # Python ints that do not fit the array's dtype (NumPy 2: OverflowError; comparisons work)
    x = np.array([1, -5, I32MAX], dtype="int32")
    for op in ("add", "multiply", "less", "equal", "greater_equal"):
        case(f"scalar.{op}.int32.i2p40", "scalar", [inp(x), f"scalar/i/{2**40}", "binary/" + op])
    case("scalar.add.bool.i2p40", "scalar", [inp(np.array([True, False])), f"scalar/i/{2**40}",
                                              "binary/add"])
    case("scalar.add.int64.i2p62", "scalar", [inp(np.array([1, I64MAX], "int64")),
                                               f"scalar/i/{2**62}", "binary/add"])
    for op in ("sqrt", "exp", "negative", "abs"):
        case(f"scalar.{op}.f2.5", "scalar", [f"scalar/f/{fhex(2.5)}", "unary/" + op],
             elem_tol(op))
        case(f"scalar.{op}.i4", "scalar", [f"scalar/i/4", "unary/" + op], elem_tol(op))


def gen_where():
    rng = np.random.default_rng(5)
    conds = {
        "bool": np.array([True, False, False, True, True, False, True, False, True, True, False,
                          False]),
        "int32": np.array([0, 1, -1, 0, 7, 0, 0, 2, 0, -9, 3, 0], dtype="int32"),
        "int64": np.array([0, 1, -1, 0, 7, 0, 0, 2, 0, -9, 3, 0], dtype="int64"),
        "float32": np.array([0.0, -0.0, np.nan, 1.0, 0.0, np.inf, -2.0, 0.0, 0.5, 0.0, -0.0, 3.0],
                            dtype="float32"),
        "float64": np.array([0.0, -0.0, np.nan, 1.0, 0.0, np.inf, -2.0, 0.0, 0.5, 0.0, -0.0, 3.0]),
    }
    for c, cv in conds.items():
        for a in DTYPES:
            for b in DTYPES:
                if c != "bool" and (a, b) not in (("float64", "int32"), ("int64", "int64"),
                                                  ("bool", "float32")):
                    continue
                x = fill(a, (12,), VALS[a])
                y = fill(b, (12,), VALS[b][::-1])
                api = "where" if (len(CASES) % 2) else "elem/where/3"
                case(f"where.{c}.{a}.{b}", "where", [inp(cv), inp(x), inp(y), api])
    shapes = [((3, 1), (1, 4), (4,)), ((), (3, 4), ()), ((2, 3, 4), (3, 1), (4,)),
              ((0,), (1,), ()), ((4,), (2, 1, 4), (3, 1)), ((1,), (1,), (5,)), ((2, 1, 1), (3, 1), (1, 4))]
    pairs = [(a, b) for a in DTYPES for b in DTYPES]
    for si, (sc, sa, sb) in enumerate(shapes):
        for pi in range(5):
            a, b = pairs[(si * 5 + pi * 6) % 25]
            cv = fill("bool", sc, [True, False, False, True, True, False, True], si)
            x = fill(a, sa, SOFT[a], pi)
            y = fill(b, sb, SOFT[b], si)
            case(f"where.bcast.{a}.{b}.{shp(sc)}.{shp(sa)}.{shp(sb)}", "where",
                 [inp(cv), inp(x), inp(y), "where"])
    cv = conds["bool"][:4]
    for a in DTYPES:
        x = fill(a, (4,), SOFT[a])
        for k, v in (("i", "3"), ("f", fhex(2.5)), ("b", "0")):
            case(f"where.scalar.{a}.{k}", "where", [inp(cv), inp(x), f"scalar/{k}/{v}", "where"])
            case(f"where.scalar.{k}.{a}", "where", [inp(cv), f"scalar/{k}/{v}", inp(x), "where"])
    case("where.scalar.i.f", "where", [inp(cv), "scalar/i/1", f"scalar/f/{fhex(2.5)}", "where"])


def gen_astype():
    for a in DTYPES:
        for b in DTYPES:
            vals = list(VALS[a])
            if a in ("float32", "float64") and b in ("int32", "int64"):
                lim = 2.0**31 if b == "int32" else 2.0**63
                vals = [v for v in vals if np.isfinite(v) and -lim <= v < lim]
                vals += [2.9, -2.9, 0.999, -0.999, 123456.75, 2.0**31 - 1 if b == "int32" else 2.0**62]
            if a == "float32":
                vals += [1.0000001] if b != "int32" else []
            x = np.array(vals, dtype=a) if a != "float32" else np.array(vals, dtype="float32")
            if a in ("float32", "float64") and b in ("int32", "int64"):
                lim = 2.0**31 if b == "int32" else 2.0**63
                x = x[np.isfinite(x) & (x >= -lim) & (x < lim)]
            case(f"astype.{a}.{b}", "astype", [inp(x), "astype/" + b])
            if a != b:
                case(f"astype.{a}.{b}.2d_t", "astype",
                     [inp(fill(a, (3, 4), SOFT[a] if not (a[0] == "f" and b[0] == "i") else
                               [1.5, -2.0, 0.0, 3.25, -0.5, 2.0, -7.5, 0.25, -0.0, 4.0])),
                      "transpose/none", "astype/" + b])
    case("astype.int64.int32.wrap", "astype",
         [inp(np.array([2**40 + 5, -2**40 - 7, 2**31, I64MIN], "int64")), "astype/int32"])
    case("astype.float64.float32.round", "astype",
         [inp(np.array([0.1, 1e300, -1e300, 1e-50, 16777217.0, 3.4028235677973366e38,
                        1.401298464324817e-45 * 0.75])), "astype/float32"])
    case("astype.int64.float32.round", "astype",
         [inp(np.array([16777217, 2**63 - 1, -(2**60) - 1], "int64")), "astype/float32"])


def rnd(dtype, shape, rng, lo=-1.0, hi=2.0):
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype in ("int32", "int64"):
        return rng.integers(-50, 51, shape).astype(dtype)
    return rng.uniform(lo, hi, shape).astype(dtype)


def gen_reduce():
    rng = np.random.default_rng(7)
    shapes = [(), (5,), (3, 4), (2, 3, 4), (0,), (0, 3), (3, 0)]
    # (axes, keepdims) per ndim: every single axis, negative axes, tuples, keepdims.
    plan = {
        0: [(None, 0), (None, 1), ([], 0)],
        1: [(None, 0), ([0], 0), ([-1], 1), (None, 1)],
        2: [(None, 0), ([0], 0), ([1], 0), ([-1], 1), ([-2, -1], 0), ([1, 0], 1), (None, 1)],
        3: [(None, 0), ([0], 0), ([1], 1), ([2], 0), ([-1], 0), ([0, 2], 0), ([-1, 0], 1),
            ([0, 1, 2], 0), ([1, -1], 0), ([], 0)],
    }
    for s in shapes:
        for dt in DTYPES:
            x = rnd(dt, s, rng)
            xi = inp(x)
            for op in REDUCE:
                for axes, keep in plan[len(s)]:
                    if op in ("argmin", "argmax") and axes is not None and len(axes) != 1:
                        continue
                    ddofs = ["-"]
                    if op in ("var", "std") and (axes is None or len(axes) == 1):
                        ddofs = ["-", "1"] if keep == 0 else ["0"]
                    for dd in ddofs:
                        tol = None
                        if op in ("sum", "prod", "mean", "var", "std"):
                            tol = "rel:1e-12"
                        cid = f"reduce.{op}.{dt}.{shp(s)}.ax{lst(axes)}.k{keep}" + \
                              (f".ddof{dd}" if dd != "-" else "")
                        case(cid, "reduce", [xi, f"reduce/{op}/{lst(axes)}/{keep}/{dd}"], tol)
    # float32 reductions get a float32 tolerance: rewrite their tol
    # (done below in finalize via the result dtype)
    # NaN propagation and ties
    for dt in ("float32", "float64"):
        x = np.array([[1.0, np.nan, -3.0, 4.0], [2.0, 5.0, np.nan, -1.0], [0.5, 0.25, 7.0, 7.0]],
                     dtype=dt)
        for op in ("min", "max", "argmin", "argmax", "sum", "mean", "prod", "var", "std",
                   "any", "all"):
            for axes in (None, [0], [1]):
                tol = "rel:1e-12" if op in ("sum", "prod", "mean", "var", "std") else None
                case(f"reduce.{op}.{dt}.nan.ax{lst(axes)}", "reduce",
                     [inp(x), f"reduce/{op}/{lst(axes)}/0/-"], tol)
        y = np.array([np.inf, -np.inf, 3.0, np.inf, -np.inf, -2.0], dtype=dt)
        for op in ("min", "max", "argmin", "argmax", "sum"):
            case(f"reduce.{op}.{dt}.inf", "reduce", [inp(y), f"reduce/{op}/none/0/-"],
                 "rel:1e-12" if op == "sum" else None)
    for dt in ("int32", "int64", "float64", "bool"):
        x = np.array([[3, 7, 7, 1], [7, 1, 2, 1], [0, 0, 5, 5]], dtype=dt)
        for op in ("argmin", "argmax"):
            for axes in (None, [0], [1], [-1]):
                for keep in (0, 1):
                    case(f"reduce.{op}.{dt}.ties.ax{lst(axes)}.k{keep}", "reduce",
                         [inp(x), f"reduce/{op}/{lst(axes)}/{keep}/-"])
    # integer wrap-around (NumPy wraps silently)
    big = np.array([2**62, 2**62, 2**62, -5], "int64")
    for op in ("sum", "prod"):
        case(f"reduce.{op}.int64.wrap", "reduce", [inp(big), f"reduce/{op}/none/0/-"])
    i32 = np.array([I32MAX, I32MAX, I32MAX, I32MIN, 65536, 65536], "int32")
    for op in ("sum", "prod", "min", "max", "mean"):
        case(f"reduce.{op}.int32.extremes", "reduce", [inp(i32), f"reduce/{op}/none/0/-"],
             "rel:1e-12" if op == "mean" else None)
    # var/std with ddof >= n (NumPy: inf or nan, with a warning)
    two = np.array([[1.0, 2.0], [3.0, 3.0]])
    for op in ("var", "std"):
        for dd in ("2", "3", "1"):
            case(f"reduce.{op}.float64.ddof{dd}.ax1", "reduce", [inp(two), f"reduce/{op}/1/0/{dd}"],
                 "rel:1e-12")
        case(f"reduce.{op}.int32.ddof1", "reduce",
             [inp(np.array([1, 2, 3, 4, 10], "int32")), f"reduce/{op}/none/0/1"], "rel:1e-12")
    # axis errors
    x = inp(np.zeros((2, 3)))
    for op, axes in (("sum", [2]), ("sum", [-3]), ("mean", [0, 0]), ("max", [1, -1]),
                     ("argmin", [5]), ("var", [2])):
        case(f"reduce_err.{op}.ax{lst(axes)}", "reduce_err", [x, f"reduce/{op}/{lst(axes)}/0/-"],
             expect_error=True)
    case("reduce_err.sum.0d.ax0", "reduce_err", [inp(np.array(3.0)), "reduce/sum/0/0/-"],
         expect_error=True)
    # reductions over views
    x = rnd("float64", (3, 4, 5), rng)
    xi = inp(x)
    for toks, nm in ((["transpose/2,0,1", "reduce/sum/0/0/-"], "t.sum0"),
                     (["slice/::-1,1:,::2", "reduce/argmax/1/0/-"], "s.argmax1"),
                     (["slice/::-1,1:,::2", "reduce/max/none/0/-"], "s.max"),
                     (["transpose/none", "reduce/mean/-1/1/-"], "t.mean"),
                     (["slice/1,...", "reduce/var/none/0/1"], "s.var"),
                     (["reshape/4,15", "reduce/min/1/0/-"], "r.min1"),
                     (["slice/...,N,2", "reduce/argmin/none/0/-"], "s.argmin")):
        tol = "rel:1e-12" if any(t.startswith(("reduce/sum", "reduce/mean", "reduce/var"))
                                 for t in toks) else None
        case(f"reduce.view.{nm}", "reduce", [xi] + toks, tol)
    # reduction of an elementwise expression
    y = rnd("float64", (4, 5), rng)
    case("reduce.expr.sum_mul", "reduce", [xi, inp(y), "elem/multiply/2", "reduce/sum/1/0/-"],
         "rel:1e-12")
    case("reduce.expr.argmax_sub", "reduce", [xi, inp(y), "elem/subtract/2",
                                              "reduce/argmax/0/0/-"])


def gen_shape():
    a12 = np.arange(12, dtype="int32")
    f24 = (np.arange(24, dtype="float64") * 1.5 - 7).reshape(2, 3, 4)
    e03 = np.zeros((0, 3), "float32")
    for src, nm in ((a12, "a12"), (f24, "f24")):
        si = inp(src)
        for s in ((3, 4), (3, -1), (-1,), (2, -1, 3), (12, 1), (1, 12), (2, 2, 3), (-1, 6),
                  (4, 3, 1, 2), (24,), (2, 12), (5,), (-1, 5), (-1, -1), (24, 0)):
            case(f"shape.reshape.{nm}.{lst(s)}", "shape", [si, f"reshape/{lst(s)}"])
    for s in ((1,), (), (1, 1), (-1,), (2,)):
        case(f"shape.reshape.0d.{lst(s)}", "shape", [inp(np.array(5.5)), f"reshape/{lst(s)}"])
    for s in ((3, 0), (0,), (0, 5), (-1, 3)):
        case(f"shape.reshape.empty.{lst(s)}", "shape", [inp(e03), f"reshape/{lst(s)}"])
    case("shape.reshape.1.0d", "shape", [inp(np.array([7], "int64")), "reshape/()"])
    # reshape of a non-contiguous view (needs a copy in C order)
    fi = inp(f24)
    case("shape.reshape.after_transpose", "shape", [fi, "transpose/none", "reshape/4,6"])
    case("shape.reshape.after_slice", "shape", [fi, "slice/:,::-1,1:3", "reshape/-1"])
    # transpose
    # (a perm of the wrong length, NumPy's "axes don't match array", cannot be expressed in C)
    for perm in (None, [1, 0, 2], [2, 0, 1], [0, 2, 1], [-1, 0, 1], [0, 1, 2], [0, 0, 1],
                 [0, 1, 3]):
        case(f"shape.transpose.f24.{lst(perm)}", "shape", [fi, f"transpose/{lst(perm)}"])
    for src, nm in ((np.array(3, "int32"), "0d"), (np.arange(5.0), "1d"),
                    (np.zeros((0, 2, 3), "bool"), "empty")):
        case(f"shape.transpose.{nm}", "shape", [inp(src), "transpose/none"])
    # slicing
    a = np.arange(10, dtype="int64") * 3 - 11
    ai = inp(a)
    for spec in ("2:7", "::2", "::-1", "::-3", "7:2:-2", "-3:", ":-3", "-100:100", "5:1",
                 "100:", "10:-10:-1", "-1", "0", "-10", "1:8:3", "N", "...", "N,::2", "...,N",
                 "9:-11:-4", "3", "10", "-11", ":,N", "1,N"):
        case(f"slice.a10.{spec}", "slice", [ai, f"slice/{spec}"])
    b = (np.arange(60, dtype="float32") - 30.5).reshape(3, 4, 5)
    bi = inp(b)
    for spec in ("1", "-1,::-1", ":,1:3", "...,2", "...,::-2", "0,...,4", "N,...", "...,N",
                 "1:,N,::-1,2", ":,:,:", "::2,::-2,::3", "2,3,4", "-3,-4,-5", "...,-1,N",
                 "5:,...", ":,10:", "1,2", "N,N,1", "...", "0:3,0:4,0:5,N", "3", ":,4",
                 "0,0,0,0", "...,...", ":,-5"):
        case(f"slice.b345.{spec}", "slice", [bi, f"slice/{spec}"])
    case("slice.0d.N", "slice", [inp(np.array(2.5)), "slice/N"])
    case("slice.0d.ell", "slice", [inp(np.array(2.5)), "slice/..."])
    case("slice.0d.int", "slice", [inp(np.array(2.5)), "slice/0"])
    case("slice.empty.0", "slice", [inp(e03), "slice/:,1"])
    case("slice.empty.int", "slice", [inp(e03), "slice/0"])
    case("slice.3.oob5", "slice", [inp(np.arange(3.0)), "slice/5"])
    # slices feeding elementwise ops: strided, reversed and broadcast views
    case("slice.expr.rev_add", "slice", [ai, "slice/::-1", ai, "elem/add/2"])
    case("slice.expr.step_mul_t", "slice", [bi, "slice/::2,::-1", bi, "slice/1,...",
                                            "transpose/none", "slice/::-1,::-1",
                                            "transpose/none", "slice/N,...",
                                            "elem/multiply/2"])
    case("slice.expr.newaxis_outer", "slice", [ai, "slice/:,N", ai, "slice/N,:",
                                               "elem/subtract/2"])
    case("slice.expr.t_sqrt", "slice", [bi, "transpose/2,0,1", "elem/abs/1", "elem/sqrt/1"])
    case("slice.expr.where_views", "slice", [bi, "slice/...,0", "scalar/f/0x0.0p+0",
                                             "binary/greater", bi, "slice/...,1",
                                             bi, "slice/...,2", "transpose/none", "transpose/none",
                                             "where"])


def gen_concat():
    rng = np.random.default_rng(3)
    x23 = rnd("float64", (2, 3), rng)
    y23 = rnd("int32", (2, 3), rng)
    z13 = rnd("float32", (1, 3), rng)
    e03 = np.zeros((0, 3), "float64")
    w22 = rnd("bool", (2, 2), rng)
    X, Y, Z, E, W = map(inp, (x23, y23, z13, e03, w22))
    for nm, toks in (
            ("xy.0", [X, Y, "concat/2/0"]), ("xy.1", [X, Y, "concat/2/1"]),
            ("xy.-1", [X, Y, "concat/2/-1"]), ("xyz.0", [X, Y, Z, "concat/3/0"]),
            ("xez.0", [X, E, Z, "concat/3/0"]), ("xw.1", [X, W, "concat/2/1"]),
            ("wy.-1", [W, Y, "concat/2/-1"]), ("x.0", [X, "concat/1/0"]),
            ("1d", [inp(np.arange(3, dtype="int64")), inp(np.array([True, False])),
                    "concat/2/0"]),
            ("empty1d", [inp(np.zeros(0, "int32")), inp(np.zeros(0, "int32")), "concat/2/0"]),
            ("t", [X, "transpose/none", Y, "transpose/none", "concat/2/1"]),
            ("xz.1.err", [X, Z, "concat/2/1"]), ("xw.0.err", [X, W, "concat/2/0"]),
            ("x1d.err", [X, inp(np.arange(3.0)), "concat/2/0"]),
            ("xy.2.err", [X, Y, "concat/2/2"]), ("xy.-3.err", [X, Y, "concat/2/-3"]),
            ("0d.err", [inp(np.array(1.0)), inp(np.array(2.0)), "concat/2/0"]),
            ("none.err", ["concat/0/0"])):
        case(f"concat.{nm}", "concat", toks)
    for nm, toks in (
            ("xy.0", [X, Y, "stack/2/0"]), ("xy.1", [X, Y, "stack/2/1"]),
            ("xy.2", [X, Y, "stack/2/2"]), ("xy.-1", [X, Y, "stack/2/-1"]),
            ("xy.-3", [X, Y, "stack/2/-3"]), ("xxx.1", [X, X, X, "stack/3/1"]),
            ("0d", [inp(np.array(1.0)), inp(np.array(2, "int32")), "stack/2/0"]),
            ("e.1", [E, E, "stack/2/1"]), ("wb", [W, W, "stack/2/-2"]),
            ("xz.err", [X, Z, "stack/2/0"]), ("xy.3.err", [X, Y, "stack/2/3"]),
            ("xy.-4.err", [X, Y, "stack/2/-4"]), ("none.err", ["stack/0/0"])):
        case(f"stack.{nm}", "concat", toks)


def gen_creation():
    for dt in DTYPES:
        for s in ((), (0,), (3,), (2, 3), (2, 0, 4)):
            case(f"create.zeros.{dt}.{shp(s)}", "create", [f"zeros/{dt}/{lst(s)}"])
            case(f"create.ones.{dt}.{shp(s)}", "create", [f"ones/{dt}/{lst(s)}"])
        for k, v in (("i", "-7"), ("f", fhex(0.1)), ("b", "1"), ("f", fhex(-0.0)), ("i", "0"),
                     ("f", fhex(3.0))):
            if dt in ("int32", "int64", "bool") and k == "f" and v != fhex(3.0):
                continue
            if dt == "bool" and k == "i" and v == "-7":
                continue
            case(f"create.full.{dt}.{k}{v}", "create", [f"full/{dt}/2,3/{k}/{v}"])
        case(f"create.full.{dt}.nan", "create", [f"full/{dt}/4/f/nan"]) if dt[0] == "f" else None
    for dt in ("int32", "int64", "float32", "float64"):
        for st, sp, step in ((0, 10, 1), (10, 0, -3), (5, 0, 1), (-4, 5, 2), (0, 1, 1),
                             (3, 3, 1), (-7, -20, -4)):
            case(f"create.arange.{dt}.{st}.{sp}.{step}", "create",
                 [f"arange/{fhex(st)}/{fhex(sp)}/{fhex(step)}/{dt}"], "ulp:1")
    for dt in ("float32", "float64"):
        for st, sp, step in ((0.0, 1.0, 0.1), (1.5, -2.0, -0.25), (-3.0, 7.0, 0.7),
                             (0.1, 0.9, 0.1), (1e10, 1e10 + 50, 3.5)):
            case(f"create.arange.{dt}.{st}.{sp}.{step}", "create",
                 [f"arange/{fhex(st)}/{fhex(sp)}/{fhex(step)}/{dt}"], "ulp:1")
    for dt in ("float64", "float32", "int32", "int64"):
        for st, sp, num, ep in ((0.0, 1.0, 11, 1), (0.0, 1.0, 10, 0), (2.0, 3.0, 7, 1),
                                (-3.0, 7.0, 13, 1), (5.0, -5.0, 4, 1), (-5.0, 5.0, 4, 1),
                                (1.0, 2.0, 1, 1), (1.0, 2.0, 1, 0), (0.0, 1.0, 0, 1),
                                (0.0, 10.0, 5, 1), (1e-3, 1e3, 9, 0)):
            case(f"create.linspace.{dt}.{st}.{sp}.{num}.{ep}", "create",
                 [f"linspace/{fhex(st)}/{fhex(sp)}/{num}/{ep}/{dt}"], "ulp:1")
    for dt in DTYPES:
        for n, m, k in ((3, 3, 0), (4, 2, 0), (2, 5, 1), (4, 4, -2), (3, 3, 5), (3, 3, -4),
                        (0, 0, 0), (1, 1, 0), (3, 0, 0)):
            case(f"create.eye.{dt}.{n}.{m}.{k}", "create", [f"eye/{n}/{m}/{k}/{dt}"])
    # creation routines feeding other ops
    case("create.expr.arange_reshape_sum", "create",
         [f"arange/{fhex(0)}/{fhex(12)}/{fhex(1)}/int64", "reshape/3,4", "reduce/sum/0/0/-"])
    case("create.expr.eye_plus_ones", "create",
         ["eye/3/4/1/float32", "ones/float64/4", "elem/add/2"])


def gen_chains():
    """Several elementwise ops in one expression: what fusion turns into one kernel. NumPy
    rounds every intermediate to its dtype; a fused kernel must do the same (no FMA, no
    wider intermediates)."""
    rng = np.random.default_rng(17)
    for dt in ("float32", "float64", "int32", "int64"):
        a = rnd(dt, (4, 6), rng, -3.0, 3.0)
        b = rnd(dt, (4, 6), rng, -3.0, 3.0)
        c = rnd(dt, (6,), rng, -3.0, 3.0)
        if dt[0] == "f":
            a.flat[:3] = [np.nan, np.inf, -0.0]
        A, B, C = inp(a), inp(b), inp(c)
        progs = {
            "a*b+c*2-a": [A, B, "elem/multiply/2", C, "scalar/i/2", "elem/multiply/2",
                          "elem/add/2", A, "elem/subtract/2"],
            "(a+b)*(a-b)": [A, B, "elem/add/2", A, B, "elem/subtract/2", "elem/multiply/2"],
            "a*b+c": [A, B, "elem/multiply/2", C, "elem/add/2"],
            "a/b-c": [A, B, "elem/divide/2", C, "elem/subtract/2"],
            "where(a>b,a*c,b//c)": [A, B, "elem/greater/2", A, C, "elem/multiply/2", B, C,
                                    "elem/floor_divide/2", "where"],
            "max(a,b)-min(a,c)+a%c": [A, B, "elem/maximum/2", A, C, "elem/minimum/2",
                                      "elem/subtract/2", A, C, "elem/remainder/2",
                                      "elem/add/2"],
            "-(abs(a))*b": [A, "elem/abs/1", "elem/negative/1", B, "elem/multiply/2"],
            "(a<b)&(b>=c)|~(a==c)": [A, B, "elem/less/2", B, C, "elem/greater_equal/2",
                                     "elem/logical_and/2", A, C, "elem/equal/2",
                                     "elem/logical_not/1", "elem/logical_or/2"],
            "a*a*a*a+b*0.1": [A, A, "elem/multiply/2", A, "elem/multiply/2", A,
                              "elem/multiply/2", B, f"scalar/f/{fhex(0.1)}",
                              "elem/multiply/2", "elem/add/2"],
            "sqrt(a*a+b*b)": [A, A, "elem/multiply/2", B, B, "elem/multiply/2", "elem/add/2",
                              "elem/sqrt/1"],
            "exp(a)*sin(b)": [A, "elem/exp/1", B, "elem/sin/1", "elem/multiply/2"],
            "a+b shared twice": [A, B, "elem/add/2", A, B, "elem/add/2", "elem/multiply/2"],
            "astype(a*b,f32)+c": [A, B, "elem/multiply/2", "astype/float32", C, "elem/add/2"],
        }
        for nm, toks in progs.items():
            tol = "ulp:10" if "exp" in nm else None  # 4 + 4 ULP through one product
            if "max" in nm:
                tol = "exactz"
            case(f"chain.{dt}.{nm.replace(' ', '_')}", "chain", toks, tol)
    # mixed dtypes inside one expression
    i32 = inp(rnd("int32", (5,), rng))
    f32 = inp(rnd("float32", (5,), rng))
    i64 = inp(rnd("int64", (3, 1), rng))
    bl = inp(rnd("bool", (5,), rng))
    case("chain.mixed.i32*f32+i64", "chain", [i32, f32, "elem/multiply/2", i64, "elem/add/2"])
    case("chain.mixed.f32*1.5+b", "chain", [f32, f"scalar/f/{fhex(1.5)}", "elem/multiply/2",
                                            bl, "elem/add/2"])
    case("chain.mixed.b+b*i32", "chain", [bl, bl, "elem/add/2", i32, "elem/multiply/2"])
    case("chain.mixed.i32//3*f32", "chain", [i32, "scalar/i/3", "elem/floor_divide/2", f32,
                                             "elem/multiply/2"])


# ---------------------------------------------------------------------------- the catalogue

# Functions called by name through lp_call (the catalogue, src/expr/catalog.def). test_ops.c
# checks that every catalogue function has at least one case here.
CAT_UNARY = ["isnan", "isinf", "isfinite", "signbit", "floor", "ceil", "trunc", "rint", "sign", "square",
             "reciprocal", "positive", "log1p", "log2", "log10", "expm1", "exp2", "tan", "arcsin", "arccos",
             "arctan", "sinh", "cosh", "arcsinh", "arccosh", "arctanh", "cbrt", "deg2rad", "rad2deg",
             "sqrt", "exp", "log", "sin", "cos", "tanh", "negative", "abs", "logical_not", "invert"]
CAT_ALIASES = {"absolute": "abs", "asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh",
               "acosh": "arccosh", "atanh": "arctanh", "radians": "deg2rad", "degrees": "rad2deg",
               "bitwise_not": "invert", "bitwise_invert": "invert", "fix": "trunc"}
CAT_BINARY = ["fmax", "fmin", "fmod", "arctan2", "hypot", "copysign", "logaddexp", "add", "subtract",
              "multiply", "divide", "floor_divide", "remainder", "power", "maximum", "minimum", "equal",
              "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and", "logical_or",
              "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor"]
CAT_ULP = {"log1p": 4, "log2": 4, "log10": 4, "expm1": 4, "exp2": 4, "tan": 4, "arcsin": 4, "arccos": 4,
           "arctan": 4, "sinh": 4, "cosh": 4, "arcsinh": 4, "arccosh": 4, "arctanh": 4, "cbrt": 4,
           "deg2rad": 2, "rad2deg": 2, "arctan2": 4, "hypot": 2, "logaddexp": 4, "exp": 4, "log": 4,
           "sin": 4, "cos": 4, "tanh": 4, "power": 2}
CAT_SHAPES = [(), (0,), (7,), (3, 4, 5)]


def arr_for(dtype, shape, rng, special=True):
    """An input: special values (VALS) for 1-d, soft ones cycled otherwise."""
    if shape == (7,) and special:
        v = VALS[dtype]
        return np.array([v[i % len(v)] for i in rng.permutation(max(len(v), 7))[:7]], dtype=dtype)
    return fill(dtype, shape, SOFT[dtype], offset=int(rng.integers(0, 5)))


def v_of(x):
    """Tokens pushing a Python value onto the value stack."""
    if x is None:
        return ["v.none"]
    if isinstance(x, bool):
        return [f"v.bool/{int(x)}"]
    if isinstance(x, int):
        return [f"v.int/{x}"]
    if isinstance(x, float):
        return [f"v.flt/{fhex(x)}"]
    if isinstance(x, str):
        return [f"v.str/{x}"]
    if isinstance(x, tuple):
        return [t for e in x for t in v_of(e)] + [f"v.tup/{len(x)}"]
    if isinstance(x, np.ndarray):
        return [inp(x), "v.arr"]
    if isinstance(x, Tok):
        return list(x) + ["v.arr"]
    if isinstance(x, np.dtype):
        return [f"v.dt/{x.name}"]
    raise AssertionError(x)


class Tok(list):
    """Tokens that push an array (a call's result): an argument of another call."""


def tcall(name, *args, item="-", **kw):
    return Tok(call(name, *args, item=item, **kw))


def call(name, *args, item="-", **kw):
    toks = [t for a in args for t in v_of(a)] + [t for a in kw.values() for t in v_of(a)]
    return toks + [f"call/{name}/{len(args)}/{','.join(kw) if kw else '-'}/{item}"]


def ax_id(ax):
    return "none" if ax is None else "_".join(str(a) for a in ax) if isinstance(ax, tuple) else str(ax)


def gen_catalog():
    rng = np.random.default_rng(15)
    for name in CAT_UNARY:
        tol = f"ulp:{CAT_ULP[name]}" if name in CAT_ULP else "exact"
        for dt in DTYPES:
            for shape in CAT_SHAPES:
                x = arr_for(dt, shape, rng)
                case(f"cat.{name}.{dt}.{'x'.join(map(str, shape)) or '0d'}", "catalog", call(name, x), tol)
    for alias, name in CAT_ALIASES.items():
        case(f"cat.alias.{alias}", "catalog", call(alias, arr_for("float64", (7,), rng)),
             f"ulp:{CAT_ULP[name]}" if name in CAT_ULP else "exact")
    for name in CAT_BINARY:
        tol = f"ulp:{CAT_ULP[name]}" if name in CAT_ULP else "exactz" if name in ("fmax", "fmin", "maximum", "minimum") else "exact"
        pairs = [(d, d) for d in DTYPES] + [("int32", "float32"), ("bool", "int64"), ("int64", "float64")]
        for a, b in pairs:
            x, y = grid(a, b)
            case(f"cat.{name}.{a}.{b}", "catalog", call(name, x, y), tol)
        x = arr_for("float64", (3, 4, 5), rng)
        case(f"cat.{name}.bcast", "catalog", call(name, x, 2.5), tol)
    # nextafter (its own generator: the cases above keep their random inputs)
    rng_na = np.random.default_rng(1515)
    for a, b in [(d, d) for d in DTYPES + ["float16"]] + [("int32", "float32"), ("bool", "int64"), ("float16", "float32")]:
        x, y = grid(a, b)
        case(f"cat.nextafter.{a}.{b}", "catalog", call("nextafter", x, y), "exact")
    case("cat.nextafter.bcast", "catalog", call("nextafter", arr_for("float64", (3, 4, 5), rng_na), 2.5), "exact")
    # reductions, NaN-ignoring ones, scans, sorting, order statistics: dtypes x shapes x axes
    RED = ["sum", "prod", "mean", "min", "max", "argmin", "argmax", "var", "std", "any", "all", "amin", "amax",
           "nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmin", "nanmax", "nanargmin", "nanargmax"]
    for name in RED:
        tol = "rel:1e-12" if name in ("sum", "prod", "mean", "var", "std", "nansum", "nanprod", "nanmean", "nanvar", "nanstd") \
            else "exactz" if name in ("min", "max", "amin", "amax", "nanmin", "nanmax") else "exact"
        for dt in DTYPES:
            for shape, axes in [((3, 4, 5), [None, 0, -1, (0, 2)]), ((0,), [None, 0]), ((), [None])]:
                x = arr_for(dt, shape, rng)
                if name.startswith("nanarg") and dt.startswith("float") and shape == (3, 4, 5):
                    x[1, 2, :] = np.nan  # all-NaN along the last axis only
                for ax in axes:
                    if isinstance(ax, tuple) and "arg" in name:
                        continue
                    for kd in ([False, True] if ax == 0 else [False]):
                        case(f"cat.{name}.{dt}.{'x'.join(map(str, shape)) or '0d'}.ax{ax_id(ax)}{'.kd' if kd else ''}",
                             "catalog", call(name, x, axis=ax, keepdims=kd), tol)
    for name in ["cumsum", "cumprod", "cummax", "cummin", "sort", "argsort"]:
        for dt in DTYPES:
            for shape, axes in [((301,), [None, 0]), ((3, 4, 5), [None, 0, 1, -1]), ((0,), [0]), ((), [None])]:
                if name in ("cumsum", "cumprod") and dt.startswith("float"):
                    x = rng.uniform(0.5, 1.5, shape).astype(dt)   # no cancellation: rel 1e-12 holds
                    tol = "rel:1e-12"
                else:
                    x = arr_for(dt, shape, rng) if shape != (301,) else fill(dt, shape, SOFT[dt] + VALS[dt], offset=3)
                    tol = "exactz" if name in ("sort", "cummax", "cummin") else "exact"
                for ax in axes:
                    if name in ("sort", "argsort") and shape == () and ax is None:
                        continue
                    case(f"cat.{name}.{dt}.{'x'.join(map(str, shape)) or '0d'}.ax{ax_id(ax)}", "catalog",
                         call(name, x, axis=ax), tol)
    for name, qs in [("median", [None]), ("quantile", [0.5, 0.0, 0.3, 1.0, (0.1, 0.9)]), ("percentile", [50.0, (10.0, 75.0)])]:
        for dt in ["bool", "int32", "float32", "float64"]:
            if name != "median" and dt == "bool":
                continue
            for shape, axes in [((301,), [None, 0]), ((3, 4, 5), [None, 0, -1])]:
                x = fill(dt, shape, SOFT[dt] + VALS[dt], offset=1) if shape == (301,) else arr_for(dt, shape, rng)
                for ax in axes:
                    for q in qs:
                        args = (x,) if q is None else (x, q)
                        qid = "" if q is None else "." + ax_id(q if isinstance(q, tuple) else (q,)).replace(".", "p")
                        case(f"cat.{name}{qid}.{dt}.{'x'.join(map(str, shape))}.ax{ax_id(ax)}", "catalog",
                             call(name, *args, axis=ax), "rel:1e-12")
    # element-wise compositions
    for dt in DTYPES:
        x = arr_for(dt, (7,), rng)
        for d in ([0, 1, 2, -1] if dt != "bool" else [0]):
            case(f"cat.round.{dt}.d{d}", "catalog", call("round", x, d), "exact")
        for lo, hi in [(0, 1), (None, 2), (-1.5, None)]:
            case(f"cat.clip.{dt}.{lo}.{hi}", "catalog", call("clip", x, lo, hi), "exact")
        y = arr_for(dt, (3, 4, 5), rng)
        for n_, ax in [(1, -1), (2, 0), (0, 1)]:
            case(f"cat.diff.{dt}.n{n_}.ax{ax}", "catalog", call("diff", y, n=n_, axis=ax), "exact")
    case("cat.around", "catalog", call("around", arr_for("float64", (7,), rng), 1), "exact")
    case("cat.diff.prepend", "catalog", call("diff", arr_for("int64", (7,), rng), prepend=0, append=(5, 6)), "exact")
    # creation, shapes, joining (the older functions, now also by name)
    x = arr_for("float64", (3, 4, 5), rng)
    i = arr_for("int32", (3, 4, 5), rng)
    b = arr_for("bool", (7,), rng)
    case("cat.where", "catalog", call("where", b, arr_for("int32", (7,), rng), 1.5))
    case("cat.where.bcast", "catalog", call("where", x > 0, x, 0))
    for dt in DTYPES:
        case(f"cat.astype.f64.{dt}", "catalog", [inp(arr_for("float32", (7,), rng)), "v.arr", f"v.dt/{dt}",
                                                 "call/astype/2/-/-"])
    case("cat.reshape", "catalog", call("reshape", x, (5, -1)))
    case("cat.reshape.err", "catalog", call("reshape", x, (7, -1)), expect_error=True)
    case("cat.transpose", "catalog", call("transpose", x, (2, 0, 1)))
    case("cat.transpose.none", "catalog", call("transpose", i))
    case("cat.permute_dims", "catalog", call("permute_dims", x, (1, 0, 2)))
    case("cat.ravel", "catalog", call("ravel", i))
    case("cat.flatten", "catalog", call("flatten", x))
    case("cat.copy", "catalog", call("copy", b))
    case("cat.concatenate", "catalog", call("concatenate", (x, x), axis=1))
    case("cat.concatenate.none", "catalog", call("concatenate", (x, i), axis=None))
    case("cat.concat", "catalog", call("concat", (i, i)))
    case("cat.stack", "catalog", call("stack", (x, x, x), axis=-1))
    case("cat.asarray", "catalog", call("asarray", ((1, 2), (3, 4))))
    case("cat.asarray.f", "catalog", call("asarray", (1.5, True, 2)))
    for f_, args in [("zeros", ((2, 3),)), ("ones", (4,)), ("full", ((2, 2), 7)), ("full", ((3,), 2.5)),
                     ("zeros_like", (i,)), ("ones_like", (b,)), ("full_like", (x, -1)), ("arange", (2, 11, 3)),
                     ("arange", (0.5,)), ("linspace", (0.0, 1.0, 7)), ("eye", (3, 4, 1))]:
        n_ = sum(c[0].startswith(f"cat.{f_}.") for c in CASES)
        case(f"cat.{f_}.{n_}", "catalog", call(f_, *args), "exact" if f_ != "linspace" else "ulp:1")
    case("cat.arange.err", "catalog", call("arange", 0, 10, 0), expect_error=True)
    case("cat.outer", "catalog", call("outer", arr_for("int64", (7,), rng), arr_for("float64", (7,), rng)))
    # rearranging, splitting, stacking, comparisons
    for dt in DTYPES:
        x = arr_for(dt, (3, 4, 5), rng)
        m = arr_for(dt, (4, 6), rng) if dt != "bool" else fill(dt, (4, 6), SOFT[dt])
        v = arr_for(dt, (7,), rng)
        for nm, toks in [("flip", call("flip", x)), ("flip1", call("flip", x, axis=1)), ("flip02", call("flip", x, axis=(0, 2))),
                         ("fliplr", call("fliplr", m)), ("flipud", call("flipud", m)),
                         ("roll", call("roll", x, 2)), ("roll1", call("roll", x, -3, axis=1)),
                         ("roll2", call("roll", x, (1, 2), axis=(0, 2))), ("swapaxes", call("swapaxes", x, 0, 2)),
                         ("moveaxis", call("moveaxis", x, 0, -1)), ("moveaxis2", call("moveaxis", x, (0, 1), (2, 0))),
                         ("expand_dims", call("expand_dims", x, (0, -1))), ("squeeze", call("squeeze", x[:, :1, None])),
                         ("broadcast_to", call("broadcast_to", x[:, :1], (2, 3, 4, 5))), ("tile", call("tile", m, (2, 1, 2))),
                         ("repeat", call("repeat", m, 3)), ("repeat1", call("repeat", m, 2, axis=1)),
                         ("tril", call("tril", m, -1)), ("triu", call("triu", x, 1)), ("diag1", call("diag", v, 2)),
                         ("diag2", call("diag", m, -1)), ("diagonal", call("diagonal", x, 1, 0, 2)),
                         ("trace", call("trace", m)), ("split", call("split", m, 2, item=1)),
                         ("array_split", call("array_split", m, 4, axis=1, item=3)),
                         ("split_idx", call("split", v, (1, 3, 10), item=2)), ("vstack", call("vstack", (v, v))),
                         ("hstack", call("hstack", (m, m))), ("dstack", call("dstack", (m, m))),
                         ("column_stack", call("column_stack", (v, v))), ("atleast_1d", call("atleast_1d", np.asarray(v[0]))),
                         ("atleast_2d", call("atleast_2d", v)), ("atleast_3d", call("atleast_3d", m, item=0) if False else call("atleast_3d", m)),
                         ("array_equal", call("array_equal", m, m)), ("array_equal2", call("array_equal", m, m[:2])),
                         ("array_equiv", call("array_equiv", m[0], m[:1])),
                         ("matrix_transpose", call("matrix_transpose", x)),
                         ("count_nonzero", call("count_nonzero", x)),
                         ("count_nonzero02", call("count_nonzero", x, axis=(0, 2), keepdims=True)),
                         ("vecdot", call("vecdot", x, x[0, 0])), ("vecdot2", call("vecdot", x, m[:, :5], axis=-2))]:
            if nm == "trace" and dt == "bool":
                continue  # NumPy's trace of bools is an int64 sum; Lampy's too (checked in Python)
            case(f"cat.{nm}.{dt}", "catalog", toks)
    a = np.array([1.0, np.nan, np.inf, 2.0, -0.0, 1e-300])
    b = np.array([1.0 + 1e-9, np.nan, np.inf, 2.1, 0.0, 0.0])
    case("cat.isclose", "catalog", call("isclose", a, b))
    case("cat.isclose.nan", "catalog", call("isclose", a, b, equal_nan=True))
    case("cat.isclose.int", "catalog", call("isclose", np.arange(4), np.arange(4) + 1e-9))
    case("cat.isclose.f32", "catalog", call("isclose", a.astype(np.float32), b.astype(np.float32), rtol=1e-3))
    case("cat.allclose", "catalog", call("allclose", a[[0, 2, 4]], b[[0, 2, 4]]))
    case("cat.allclose.no", "catalog", call("allclose", a, b))
    case("cat.err.squeeze", "catalog", call("squeeze", x, axis=1), expect_error=True)
    case("cat.err.split", "catalog", call("split", arr_for("int64", (7,), rng), 2), expect_error=True)
    case("cat.err.moveaxis", "catalog", call("moveaxis", x, (0, 1), 2), expect_error=True)
    case("cat.err.broadcast_to", "catalog", call("broadcast_to", x, (3, 5)), expect_error=True)
    case("cat.err.swapaxes", "catalog", call("swapaxes", x, 0, 3), expect_error=True)
    # indexing by data and sizes from the data (masks computed when the expression is built)
    for dt in DTYPES:
        x = arr_for(dt, (3, 4, 5), rng)
        v = fill(dt, (301,), SOFT[dt] + VALS[dt], offset=2)
        idx = rng.integers(-301, 301, 40)
        for nm, toks in [("take", call("take", v, idx)), ("take.ax1", call("take", x, np.array([[0, 3], [-1, 2]]), axis=1)),
                         ("take_along_axis", call("take_along_axis", x, np.argsort(x, axis=2, kind="stable"), axis=2)),
                         ("compress", call("compress", np.array([True, False, True, True]), x, axis=1)),
                         ("extract", call("extract", x != x[0, 0, 0], x)), ("argwhere", call("argwhere", x)),
                         ("nonzero", call("nonzero", x, item=2)), ("flatnonzero", call("flatnonzero", v)),
                         ("unique", call("unique", v)), ("unique.all", call("unique", v, return_index=True, return_inverse=True,
                                                                             return_counts=True, item=3)),
                         ("unique.inv", call("unique", x, return_inverse=True, item=1)),
                         ("unique_values", call("unique_values", v)), ("unique_counts", call("unique_counts", x, item=1)),
                         ("unique_inverse", call("unique_inverse", v, item=1)), ("unique_all", call("unique_all", v, item=1))]:
            case(f"cat.{nm}.{dt}", "catalog", toks, "exactz")
        if dt != "bool":
            case(f"cat.searchsorted.{dt}", "catalog", call("searchsorted", np.sort(v), v[::3]))
            case(f"cat.searchsorted.right.{dt}", "catalog", call("searchsorted", np.sort(v), v[::3], side="right"))
        if dt in ("bool", "int32", "int64"):
            k = np.abs(v.astype(np.int64)) % 50 if dt != "bool" else v
            case(f"cat.bincount.{dt}", "catalog", call("bincount", k))
            case(f"cat.bincount.w.{dt}", "catalog", call("bincount", k, weights=rng.random(301), minlength=60), "rel:1e-12")
        if dt != "bool":
            y = v[np.isfinite(v.astype(np.float64))] if dt.startswith("float") else v
            case(f"cat.histogram.{dt}", "catalog", call("histogram", y, item=0))
            case(f"cat.histogram.edges.{dt}", "catalog", call("histogram", y, 7, item=1), "ulp:1")
            case(f"cat.histogram.range.{dt}", "catalog", call("histogram", y, 5, (-2.0, 3.0), item=0))
            case(f"cat.histogram.bins.{dt}", "catalog", call("histogram", y, (-10.0, -1.0, 0.0, 0.5, 100.0), item=0))
    # einsum without a matrix product (those run on BLAS, which the wire does not carry yet)
    A, C, S = arr_for("float64", (6, 8), rng), arr_for("float64", (6, 8), rng), arr_for("int64", (8, 8), rng)
    T, v = arr_for("float32", (3, 4, 5), rng), arr_for("int32", (5,), rng)
    for i, (sub, ops_) in enumerate([("ij,ij->i", (A, C)), ("ij,ij", (A, C)), ("ij->ji", (A,)), ("ii->i", (S,)), ("ii", (S,)),
                                     ("ij->", (A,)), ("ij->j", (S,)), ("i,j->ij", (v, v)), ("ijk,k->ij", (T, v)), ("ijk->kji", (T,))]):
        case(f"cat.einsum.{i}", "catalog", [f"v.str/{sub}"] + [t for a in ops_ for t in v_of(a)] + [f"call/einsum/{len(ops_) + 1}/-/-"],
             "rel:1e-12")
    case("cat.err.einsum", "catalog", [f"v.str/ij,jk->ik"] + v_of(A) + [f"call/einsum/2/-/-"], expect_error=True)
    case("cat.err.take", "catalog", call("take", np.arange(5), (1, 9)), expect_error=True)
    case("cat.err.bincount.neg", "catalog", call("bincount", np.array([1, -1])), expect_error=True)
    case("cat.err.nonzero.0d", "catalog", call("nonzero", np.array(3)), expect_error=True)
    # errors: NumPy's types and messages
    x = arr_for("float64", (3, 4, 5), rng)
    for name in ["sum", "cumsum", "sort", "argsort", "median", "nansum", "argmax", "quantile"]:
        args = (x, 0.5) if name == "quantile" else (x,)
        case(f"cat.err.{name}.axis", "catalog", call(name, *args, axis=3), expect_error=True)
        case(f"cat.err.{name}.axisneg", "catalog", call(name, *args, axis=-4), expect_error=True)
    case("cat.err.quantile.range", "catalog", call("quantile", x, 1.5), expect_error=True)
    case("cat.err.percentile.range", "catalog", call("percentile", x, -1.0), expect_error=True)
    case("cat.err.sign.bool", "catalog", call("sign", arr_for("bool", (7,), rng)), expect_error=True)
    case("cat.err.diff.0d", "catalog", call("diff", np.array(3.0)), expect_error=True)
    case("cat.err.diff.n", "catalog", call("diff", x, n=-1), expect_error=True)
    case("cat.err.nanargmin.allnan", "catalog", call("nanargmin", np.array([np.nan, np.nan])), expect_error=True)
    case("cat.err.nanargmax.allnan.axis", "catalog", call("nanargmax", np.array([[1.0, np.nan], [np.nan, np.nan]]), axis=1),
         expect_error=True)
    case("cat.err.sort.kind", "catalog", call("sort", x, kind="bogus"), expect_error=True)
    # shifts (integer-only, added after the rest so that the cases above keep their random data)
    for name in ("left_shift", "right_shift", "bitwise_left_shift", "bitwise_right_shift"):
        for a, b in [(d, d) for d in DTYPES] + [("int32", "float32"), ("bool", "int64"), ("int64", "int32")]:
            x, y = grid(a, b)
            case(f"cat.{name}.{a}.{b}", "catalog", call(name, x, y))
        case(f"cat.{name}.bcast", "catalog", call(name, fill("int64", (3, 4, 5), SOFT["int64"]), 3))
    # the array API's spellings (src/expr/fn_api.c), also after the rest for the same reason
    for dt in DTYPES:
        x, v = fill(dt, (3, 4, 5), SOFT[dt]), fill(dt, (7,), SOFT[dt], 2)
        for nm, toks in [("cumulative_sum", call("cumulative_sum", x, axis=1)),
                         ("cumulative_sum.init", call("cumulative_sum", x, axis=-1, include_initial=True)),
                         ("cumulative_sum.1d", call("cumulative_sum", v, include_initial=True)),
                         ("cumulative_prod", call("cumulative_prod", x, axis=0, include_initial=True)),
                         ("cumulative_prod.1d", call("cumulative_prod", v)),
                         ("meshgrid.xy", call("meshgrid", v, x[0, :, 0], x[0, 0], item=0)),
                         ("meshgrid.ij", call("meshgrid", v, x[0, :, 0], indexing="ij", item=1)),
                         ("meshgrid.sparse", call("meshgrid", v, x[0, 0], sparse=True, item=1)),
                         ("broadcast_arrays", call("broadcast_arrays", x[:, :1], v[:5], item=0)),
                         ("broadcast_arrays.1", call("broadcast_arrays", x[:, :1], v[:5], item=1)),
                         ("unstack", call("unstack", x, item=2)), ("unstack.1", call("unstack", x, axis=-2, item=3))]:
            case(f"cat.{nm}.{dt}", "catalog", toks)
    for dt in DTYPES:
        x, v = fill(dt, (3, 4, 5), SOFT[dt]), fill(dt, (7,), SOFT[dt], 2)
        case(f"cat.isin.{dt}", "catalog", call("isin", x, v))
        case(f"cat.isin.invert.{dt}", "catalog", call("isin", v, x[1:, 2], invert=True))
    case("cat.isin.mixed", "catalog", call("isin", np.array([1, 2, 3, 4], "int32"), np.array([2.0, np.nan, 4.5])))
    case("cat.isin.nan", "catalog", call("isin", np.array([np.nan, 1.0, -0.0]), np.array([0.0, np.nan])))
    case("cat.isin.empty", "catalog", call("isin", np.arange(4), np.array([], "int64"), invert=True))
    case("cat.err.cumulative_sum.noaxis", "catalog", call("cumulative_sum", fill("int64", (2, 3), SOFT["int64"])), expect_error=True)
    case("cat.err.meshgrid.indexing", "catalog", call("meshgrid", np.arange(3), indexing="ji", item=0), expect_error=True)
    case("cat.err.broadcast_arrays", "catalog", call("broadcast_arrays", np.ones(3), np.ones(4), item=0), expect_error=True)


def gen_linalg_factors():
    """qr, svd, pinv, matrix_rank. Factors are unique only up to signs (Lampy's TSQR and
    LAPACK's whole-matrix QR may flip a row of R with the column of Q), so the cases compare
    what is invariant: Q @ R and U @ diag(S) @ Vt against NumPy's (A, to rounding), Q and U
    orthonormal, R upper triangular, |R| and |U| equal to NumPy's (allclose, a bool), singular
    values, pinv and matrix_rank directly. Inputs are uniform in [1, 2) (no tiny entries), and
    tall ones have more rows than a small chunk holds, so the determinism configurations run
    TSQR over several row blocks."""
    rng = np.random.default_rng(1515)
    shapes = [(300, 7), (61, 61), (5, 9), (64, 1), (200, 3)]
    for dt in ("float64", "float32", "int64"):
        for shape in shapes:
            m, n = shape
            k = min(m, n)
            A = rng.uniform(1, 2, shape)
            if dt == "int64":
                A = rng.integers(-9, 10, shape).astype(np.int64)
                A[np.arange(k), np.arange(k)] += 30  # full rank
            A = A.astype(dt)
            f32 = dt == "float32"
            rel = dt == "float64"  # elementwise rel compares only where no entry is near 0
            rt = 1e-4 if f32 else 1e-10
            sid = f"{dt}.{m}x{n}"
            Q, R = tcall("linalg.qr", A, item=0), tcall("linalg.qr", A, item=1)
            Rn = np.abs(np.linalg.qr(A.astype(np.float32 if f32 else np.float64), mode="r"))
            eye = tcall("eye", k, dtype=np.dtype(dt if f32 else "float64"))

            def close(x, y, c=f"x", tol=rt):
                return call("allclose", x, y, rtol=tol, atol=tol * (float(np.abs(np.asarray(y)).max()) if isinstance(y, np.ndarray) else 1.0))
            if rel:
                case(f"la.qr.QR.{sid}", "linalg", call("matmul", Q, R), "rel:1e-12")
            else:
                case(f"la.qr.QR.{sid}", "linalg", close(tcall("matmul", Q, R), A.astype(np.float32 if f32 else np.float64)))
            if not f32:
                case(f"la.qr.colnorm.{sid}", "linalg", call("sum", tcall("multiply", Q, Q), axis=0), "rel:1e-12")
            case(f"la.qr.orth.{sid}", "linalg", close(tcall("matmul", tcall("transpose", Q), Q), eye))
            case(f"la.qr.triu.{sid}", "linalg", call("array_equal", R, tcall("triu", R)))
            case(f"la.qr.absR.{sid}", "linalg", close(tcall("abs", R), Rn))
            case(f"la.qr.r.{sid}", "linalg", close(tcall("abs", tcall("linalg.qr", A, mode="r")), Rn))
            Sn = np.linalg.svd(A.astype(np.float32 if f32 else np.float64), compute_uv=False)
            U, S, Vt = (tcall("linalg.svd", A, full_matrices=False, item=i) for i in range(3))
            if not f32:
                case(f"la.svd.s.{sid}", "linalg", call("linalg.svd", A, compute_uv=False), "rel:1e-12")
                case(f"la.svd.s1.{sid}", "linalg", call("linalg.svd", A, full_matrices=False, item=1), "rel:1e-12")
                if rel:
                    case(f"la.svd.USVt.{sid}", "linalg", call("matmul", tcall("multiply", U, S), Vt), "rel:1e-12")
                else:
                    case(f"la.svd.USVt.{sid}", "linalg", close(tcall("matmul", tcall("multiply", U, S), Vt), A.astype(np.float64)))
                Un = np.abs(np.linalg.svd(A.astype(np.float64), full_matrices=False)[0])
                case(f"la.svd.absU.{sid}", "linalg", close(tcall("abs", U), Un))
            else:
                case(f"la.svd.s.{sid}", "linalg", close(tcall("linalg.svd", A, compute_uv=False), Sn))
                case(f"la.svd.USVt.{sid}", "linalg", close(tcall("matmul", tcall("multiply", U, S), Vt), A))
            case(f"la.svd.orthU.{sid}", "linalg", close(tcall("matmul", tcall("transpose", U), U), eye))
            case(f"la.svd.orthV.{sid}", "linalg", close(tcall("matmul", Vt, tcall("transpose", Vt)), eye))
            P = np.linalg.pinv(A)
            case(f"la.pinv.{sid}", "linalg", close(tcall("linalg.pinv", A), P))
            case(f"la.rank.{sid}", "linalg", call("linalg.matrix_rank", A))
    # square: full_matrices=True is the same; rank-deficient inputs; cut-offs; 1-d and zeros
    A = rng.uniform(1, 2, (250, 6))
    A[:, 5] = A[:, 0] + A[:, 1]
    case("la.rank.deficient", "linalg", call("linalg.matrix_rank", A))
    case("la.rank.tol", "linalg", call("linalg.matrix_rank", A, tol=0.5))
    case("la.rank.rtol", "linalg", call("linalg.matrix_rank", A, rtol=0.1))
    case("la.rank.zeros", "linalg", call("linalg.matrix_rank", np.zeros((40, 3))))
    case("la.rank.1d", "linalg", call("linalg.matrix_rank", np.array([0.0, 2.0, 0.0])))
    case("la.rank.1d0", "linalg", call("linalg.matrix_rank", np.zeros(4)))
    P = np.linalg.pinv(A, rtol=None)
    case("la.pinv.deficient.rtol", "linalg", call("allclose", tcall("linalg.pinv", A, rtol=None), P, rtol=1e-9,
                                                 atol=1e-9 * float(np.abs(P).max())))
    B = rng.uniform(1, 2, (120, 5))
    for rc in (0.05, 0.5):
        P = np.linalg.pinv(B, rcond=rc)
        case(f"la.pinv.rcond.{rc}", "linalg", call("allclose", tcall("linalg.pinv", B, rc), P, rtol=1e-10,
                                                    atol=1e-10 * float(np.abs(P).max())))
    case("la.pinv.both", "linalg", call("linalg.pinv", B, 0.1, rtol=0.1), expect_error=True)
    case("la.pinv.empty", "linalg", call("linalg.pinv", np.zeros((0, 4))))
    C = rng.uniform(1, 2, (30, 30))
    case("la.svd.full.square", "linalg", call("linalg.svd", C, item=1), "rel:1e-12")
    case("la.qr.badmode", "linalg", call("linalg.qr", C, mode="x"), expect_error=True)
    # eig/eigvals (own generator: the cases above keep their inputs). Eigenvalues of a diagonal
    # matrix and of a rotation are exact (real, then complex: NumPy's result dtype rule);
    # a general matrix by the invariant A V = V diag(w) (allclose, a bool)
    rng_e = np.random.default_rng(2024)
    case("la.eigvals.diag", "linalg", call("linalg.eigvals", np.diag([3.0, 1.0, 2.0])))
    case("la.eigvals.rot", "linalg", call("linalg.eigvals", np.array([[0.0, -1.0], [1.0, 0.0]])))
    case("la.eigvals.int", "linalg", call("linalg.eigvals", np.diag(np.array([4, -2], dtype=np.int64))))
    for dt, tol in (("float64", 1e-10), ("float32", 1e-4), ("complex128", 1e-10)):
        E = rng_e.uniform(-1, 1, (2, 6, 6))
        if dt == "complex128":
            E = E + 1j * rng_e.uniform(-1, 1, (2, 6, 6))
        E = E.astype(dt)
        W, V = tcall("linalg.eig", E, item=0), tcall("linalg.eig", E, item=1)
        case(f"la.eig.AV.{dt}", "linalg", call("allclose", tcall("matmul", E, V), tcall("multiply", V, tcall("expand_dims", W, -2)),
                                                rtol=tol, atol=tol))
    case("la.eig.nonsquare", "linalg", call("linalg.eig", np.ones((2, 3))), expect_error=True)
    gen_linalg_complex()
    rng_k = np.random.default_rng(1517)
    K = rng_k.uniform(-1, 1, (3, 5, 5))
    for p in (None, 2, -2, "nuc", -1, np.inf):
        case(f"la.cond.{p}", "linalg", call("linalg.cond", K, p), "rel:1e-12")
    case("la.cond.f32", "linalg", call("linalg.cond", K[0].astype(np.float32)), "rel:1e-12")
    case("la.cond.int", "linalg", call("linalg.cond", np.array([[2, 1], [1, 3]], dtype=np.int64)), "rel:1e-12")
    case("la.cond.empty", "linalg", call("linalg.cond", np.zeros((0, 0))), expect_error=True)
    case("la.cond.1d", "linalg", call("linalg.cond", np.ones(3)), expect_error=True)
    case("la.cond.badord", "linalg", call("linalg.cond", K, 3), expect_error=True)
    case("la.cond.nonsquare", "linalg", call("linalg.cond", np.ones((2, 3)), 1), expect_error=True)


def gen_linalg_complex():
    """complex64 / complex128 input (LAPACK's c / z routines; own generator, so no case above
    moves). Hermitian positive definite stacks for solve, inv, det, slogdet, cholesky and eigh,
    values as bools of allclose against NumPy (entries near 0 make elementwise rel meaningless)
    and the real results (eigenvalues, log|det|, singular values) by rel, which checks NumPy's
    real dtype too; a tall matrix over several row chunks for qr (TSQR) and svd by invariants:
    Q @ R == A, Q^H Q == I, R upper triangular, |R| NumPy's."""
    rng = np.random.default_rng(1516)

    def crand(shape):
        return rng.uniform(-1, 1, shape) + 1j * rng.uniform(-1, 1, shape)

    for dt in ("complex64", "complex128"):
        rt = 1e-4 if dt == "complex64" else 1e-10

        def close(x, y, scale=None):
            if scale is None:
                scale = float(np.abs(y).max()) if isinstance(y, np.ndarray) else 1.0
            return call("allclose", x, y, rtol=rt, atol=rt * scale)
        G = crand((2, 4, 4))
        H = (G @ np.conj(np.swapaxes(G, -1, -2)) + 8 * np.eye(4)).astype(dt)
        B = crand((2, 4, 3)).astype(dt)
        case(f"la.c.solve.{dt}", "linalg", close(tcall("linalg.solve", H, B), np.linalg.solve(H, B)))
        case(f"la.c.inv.{dt}", "linalg", close(tcall("linalg.inv", H), np.linalg.inv(H)))
        case(f"la.c.det.{dt}", "linalg", close(tcall("linalg.det", G.astype(dt)), np.linalg.det(G.astype(dt))))
        case(f"la.c.slogdet.sign.{dt}", "linalg", close(tcall("linalg.slogdet", G.astype(dt), item=0),
                                                        np.linalg.slogdet(G.astype(dt))[0]))
        case(f"la.c.slogdet.log.{dt}", "linalg", call("linalg.slogdet", H, item=1), "rel:1e-12")
        case(f"la.c.cholesky.{dt}", "linalg", close(tcall("linalg.cholesky", H), np.linalg.cholesky(H)))
        case(f"la.c.cholesky.upper.{dt}", "linalg", close(tcall("linalg.cholesky", H, upper=True),
                                                          np.linalg.cholesky(H, upper=True)))
        case(f"la.c.eigvalsh.{dt}", "linalg", call("linalg.eigvalsh", H), "rel:1e-12")
        W, V = tcall("linalg.eigh", H, item=0), tcall("linalg.eigh", H, item=1)
        case(f"la.c.eigh.AV.{dt}", "linalg", close(tcall("matmul", H, V), tcall("multiply", V, tcall("expand_dims", W, -2)),
                                                   float(np.abs(H).max())))
        A = crand((300, 5)).astype(dt)
        Q, R = tcall("linalg.qr", A, item=0), tcall("linalg.qr", A, item=1)
        QH = tcall("conjugate", tcall("transpose", Q))
        eye = tcall("eye", 5, dtype=np.dtype(dt))
        case(f"la.c.qr.QR.{dt}", "linalg", close(tcall("matmul", Q, R), A))
        case(f"la.c.qr.orth.{dt}", "linalg", close(tcall("matmul", QH, Q), eye))
        case(f"la.c.qr.triu.{dt}", "linalg", call("array_equal", R, tcall("triu", R)))
        case(f"la.c.qr.absR.{dt}", "linalg", close(tcall("abs", R), np.abs(np.linalg.qr(A, mode="r"))))
        U, S, Vh = (tcall("linalg.svd", A, full_matrices=False, item=i) for i in range(3))
        case(f"la.c.svd.s.{dt}", "linalg", call("linalg.svd", A, compute_uv=False), "rel:1e-12")
        case(f"la.c.svd.USVh.{dt}", "linalg", close(tcall("matmul", tcall("multiply", U, S), Vh), A))
        case(f"la.c.pinv.{dt}", "linalg", close(tcall("linalg.pinv", A), np.linalg.pinv(A)))
        case(f"la.c.rank.{dt}", "linalg", call("linalg.matrix_rank", A))
        case(f"la.c.norm.nuc.{dt}", "linalg", call("linalg.matrix_norm", A, ord="nuc"), "rel:1e-12")
        for p in (None, -2, "fro", 1, -np.inf):
            case(f"la.c.cond.{p}.{dt}", "linalg", call("linalg.cond", G.astype(dt), p), "rel:1e-12")
        case(f"la.c.inv.singular.{dt}", "linalg", call("linalg.inv", np.ones((3, 3), dt)), expect_error=True)
        Bv = crand((300,)).astype(dt)
        case(f"la.c.lstsq.{dt}", "linalg", close(tcall("linalg.lstsq", A, Bv), np.linalg.lstsq(A, Bv)[0]))


def finalize_tolerances():
    """float32 reductions get rel:1e-5 (see the docstring)."""
    out = []
    for cid, cat, tol, expect, toks, err in CASES:
        if tol.startswith("rel:") and expect != "error" and _written[expect].dtype in (np.float32, np.complex64):
            tol = "rel:1e-5"
        if tol.startswith("rel:") and expect != "error" and _written[expect].dtype == np.float16:
            tol = "rel:1e-3"
        out.append((cid, cat, tol, expect, toks, err))
    CASES[:] = out


HEADER = """\
# Lampy op conformance corpus, generated by tests/data/gen_ops.py from NumPy {npver}.
# Do not edit: rerun `.venv/bin/python tests/data/gen_ops.py`.
#
# <id> <category> <tol> <expect> <token>... [| <STATUS> <message substring...>]
#
# <expect>: a .npy in this directory (dtype, shape and values NumPy computed) or `error`;
#   then `| STATUS substring`: building or running must return LP_<STATUS> and
#   lp_last_error must contain the substring (rest of the line).
# tokens: a stack program over the public API, fields separated by '/':
#   load/<file> scalar/<b|i|f>/<v> elem/<op>/<n> unary/<op> binary/<op> where astype/<dt>
#   reduce/<op>/<axes|none>/<keepdims>/<ddof|->  reshape/<shape> transpose/<perm|none>
#   slice/<spec: 'a:b:c' | int | N | ... , comma separated>  concat/<n>/<axis> stack/<n>/<axis>
#   zeros/<dt>/<shape> ones/<dt>/<shape> full/<dt>/<shape>/<b|i|f>/<v>
#   arange/<start>/<stop>/<step>/<dt> linspace/<start>/<stop>/<num>/<endpoint>/<dt>
#   eye/<n>/<m>/<k>/<dt>
#   v.arr (the top array onto the value stack) v.int/<i> v.flt/<f> v.bool/<0|1> v.none v.str/<s>
#   v.dt/<dtype> v.tup/<n>  call/<name>/<npos>/<kw,kw|->/<item|->: lp_call of the catalogue
#   lists are comma separated, '()' = empty; floats are float.hex() or inf/-inf/nan.
# <tol>: exact (bitwise, NaN==NaN, zero sign checked) | exactz (+0 == -0) | ulp:N | rel:R
# Full description, tolerance rationale and Lampy-specific deviations: gen_ops.py docstring.
"""


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for p in OUT.iterdir():
        if p.suffix == ".npy" or p.name == "MANIFEST":
            p.unlink()
    gen_elementwise()
    gen_broadcast()
    gen_bool_errors()
    gen_scalars()
    gen_where()
    gen_astype()
    gen_reduce()
    gen_shape()
    gen_concat()
    gen_creation()
    gen_chains()
    gen_catalog()
    gen_linalg_factors()
    import gen_ops_dtypes  # noqa: E402 - beside this file; it reads this module's helpers
    gen_ops_dtypes.gen_dtypes(sys.modules[__name__])
    finalize_tolerances()
    lines = [HEADER.format(npver=np.__version__)]
    for cid, cat, tol, expect, toks, err in CASES:
        line = f"{cid} {cat} {tol} {expect} " + " ".join(toks)
        if err:
            line += f" | {err[0]} {err[1]}"
        assert "\n" not in line, line
        lines.append(line + "\n")
    (OUT / "MANIFEST").write_text("".join(lines))
    cats = {}
    errs = 0
    for c in CASES:
        cats[c[1]] = cats.get(c[1], 0) + 1
        errs += c[5] is not None
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"{len(CASES)} cases ({errs} expect errors), {len(_written)} .npy files, "
          f"{total / 1e6:.2f} MB", file=sys.stderr)
    for k, v in sorted(cats.items()):
        print(f"  {k:10s} {v}", file=sys.stderr)


if __name__ == "__main__":
    main()
