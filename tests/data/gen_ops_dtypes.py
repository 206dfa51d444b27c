"""The dtype part of the op conformance corpus (gen_ops.py's docstring, "dtypes"): int8 int16
uint8 uint16 uint32 uint64 float16 against every dtype. gen_ops.main() calls gen_dtypes(itself):
the cases go through its case()/inp() into the one MANIFEST."""
import numpy as np


def gen_dtypes(g):
    """Every case for the new dtypes; g is the gen_ops module (its values, helpers, case list)."""
    globals().update({k: v for k, v in vars(g).items() if not k.startswith("__")})
    _gen_dtypes()
    _gen_complex()


CPLX = ["complex64", "complex128"]


def cgrid(dt, n=24, seed=0, special=True):
    """Complex values: random parts, then signed zeros, infinities and NaN in either part."""
    rng = np.random.default_rng(seed)
    z = (rng.uniform(-3, 3, n) + 1j * rng.uniform(-3, 3, n)).astype(dt)
    if special:
        sp = [complex(0.0, -0.0), complex(-0.0, 0.0), complex(np.inf, 1), complex(1, -np.inf),
              complex(np.nan, 0), complex(0, np.nan), complex(-np.inf, np.inf), complex(np.inf, np.nan)]
        z[:len(sp)] = np.array(sp, dtype=dt)
    return z


def _gen_complex():
    """complex64/complex128 against NumPy: arithmetic with every dtype as the other operand,
    the functions (NaN/inf/-0 placement as NumPy's), reductions and cumsum on the parts, the
    order reductions and products,
    conjugate/real/imag through the catalogue (on real dtypes too), and the errors."""
    tol = {"complex64": "rel:2e-6", "complex128": "rel:1e-12"}
    for dt in CPLX:
        x, y = cgrid(dt, seed=1), cgrid(dt, seed=2, special=False)
        for op in ("add", "subtract", "multiply", "divide", "equal", "not_equal"):
            case(f"c.{op}.{dt}", "dtypes", [inp(x), inp(y), f"elem/{op}/2"], tol[dt] if op == "divide" else "exact")
        case(f"c.power.{dt}", "dtypes", [inp(y), inp(cgrid(dt, seed=3, special=False) / 2), "elem/power/2"],
             "rel:1e-4" if dt == "complex64" else "rel:1e-10")
        for other in ALL:
            o = np.arange(-3, 5).astype(other) if other != "bool" else np.arange(8) % 2 == 0
            case(f"c.add.{dt}.{other}", "dtypes", [inp(x[:8]), inp(o), "elem/add/2"])
            case(f"c.multiply.{other}.{dt}", "dtypes", [inp(o), inp(y[:8]), "elem/multiply/2"])
        for op in ("negative", "abs", "sqrt", "exp", "log", "sin", "cos", "tanh", "square", "reciprocal",
                   "sign", "isnan", "isinf", "isfinite", "log1p", "expm1", "log2", "log10", "arcsin", "arccos",
                   "arctan", "arcsinh", "arccosh", "arctanh", "sinh", "cosh", "tan", "rint"):
            v = x if op not in ("tan", "tanh", "sinh", "cosh", "reciprocal") else y
            t = "exact" if op in ("negative", "isnan", "isinf", "isfinite", "rint") else \
                "rel:1e-5" if dt == "complex64" else "rel:1e-12"
            case(f"c.{op}.{dt}", "dtypes", [inp(v), f"elem/{op}/1"], t)
        for name in ("conjugate", "real", "imag"):
            case(f"c.cat.{name}.{dt}", "catalog", call(name, x.reshape(4, 6)), "exact")
        z = cgrid(dt, 60, 4, special=False).reshape(3, 4, 5)
        rt = "rel:1e-5" if dt == "complex64" else "rel:1e-9"
        for name in ("sum", "mean", "var", "std"):
            for axis in (None, 0, (0, 2)):
                kw = {} if axis is None else {"axis": axis}
                case(f"c.cat.{name}.{dt}.{ax_id(axis)}", "catalog", call(name, z, **kw), rt)
        case(f"c.cat.cumsum.{dt}", "catalog", call("cumsum", z, axis=1), rt)
        # NumPy's order of complex numbers (its comparison loops; numpy.sort's order for sorts)
        for op in ("less", "less_equal", "greater", "greater_equal", "maximum", "minimum", "fmax", "fmin"):
            case(f"c.{op}.{dt}", "dtypes", [inp(x), inp(np.roll(x, 5)), f"elem/{op}/2"], "exact")
        s = cgrid(dt, 60, 5).reshape(5, 12)
        s[:, ::3] = s[:, 1::3]  # ties
        for name in ("sort", "argsort"):
            for axis in (0, -1):
                case(f"c.cat.{name}.{dt}.{ax_id(axis)}", "catalog", call(name, s, axis=axis, kind="stable"), "exact")
        case(f"c.cat.angle.{dt}", "catalog", call("angle", x), tol[dt])
        case(f"c.cat.angle_deg.{dt}", "catalog", call("angle", x, deg=True), tol[dt])
        zn = z.copy()
        zn[0, 1, :] = complex(np.nan, 1)
        zn[1, :, 2] = complex(3, np.nan)
        for name in ("nansum", "nanmean", "nanvar", "nanstd"):
            for axis in (None, 1):
                kw = {} if axis is None else {"axis": axis}
                case(f"c.cat.{name}.{dt}.{ax_id(axis)}", "catalog", call(name, zn, **kw), rt)
        # reductions in that order (the first NaN wins; of equal values the first), bit for bit
        for name in ("max", "min", "nanmax", "nanmin", "argmax", "argmin", "nanargmax", "nanargmin"):
            for axis in (None, 0, -1):
                kw = {} if axis is None else {"axis": axis}
                case(f"c.cat.{name}.{dt}.{ax_id(axis)}", "catalog", call(name, s, **kw), "exact")
        # products of +-1 +-1j: exact in any association (and with no zero part in a factor, a
        # zero part comes only from a cancellation, so it is +0 in any association), so chunked too
        pz = (np.where(np.arange(24) % 3 == 1, -1, 1) + 1j * np.where(np.arange(24) % 4 < 2, 1, -1)).astype(dt).reshape(2, 3, 4)
        pz[1, 2, 0] = complex(np.nan, 0)
        for name in ("prod", "nanprod"):
            for axis in (None, 1, (0, 2)):
                kw = {} if axis is None else {"axis": axis}
                case(f"c.cat.{name}.{dt}.{ax_id(axis)}", "catalog", call(name, pz, **kw), "exact")
        case(f"c.cat.cumprod.{dt}", "catalog", call("cumprod", pz[0], axis=1), "exact")
        case(f"c.cat.cumulative_prod.{dt}", "catalog", call("cumulative_prod", pz[0], axis=0, include_initial=True), "exact")
        for name in ("floor", "ceil"):
            case(f"c.err.{name}.{dt}", "catalog", call(name, z), expect_error=True)
        case(f"c.err.floor_divide.{dt}", "dtypes", [inp(x), inp(y), "elem/floor_divide/2"], expect_error=True)
    _gen_fft()
    for dt in ("float32", "int64", "bool"):
        r = np.arange(6).astype(dt)
        for name in ("conjugate", "real", "imag"):
            case(f"c.cat.{name}.{dt}", "catalog", call(name, r), "exact")


def dt_tol(op, res_dtype):
    """elem_tol, with float16 function results within 1 float16 ULP (see the docstring)."""
    t = elem_tol(op)
    return "ulp:1" if t.startswith("ulp") and res_dtype == "float16" else t


def res_dtype(fn, *args):
    """The dtype name of NumPy's result, or None where NumPy raises."""
    try:
        with np.errstate(all="ignore"):
            return np.asarray(fn(*args)).dtype.name
    except Exception:  # noqa: BLE001
        return None


def int_range(dt):
    i = np.iinfo(dt)
    return int(i.min), int(i.max)


def _gen_dtypes():
    rng = np.random.default_rng(23)
    mixed = [(a, b) for a in NEW for b in ALL if a != b] + [(a, b) for a in DTYPES for b in NEW]
    # 1. binary ops over value grids
    for oi, op in enumerate(BINARY):
        pairs = [(a, a) for a in NEW]
        if op in ("add", "less"):
            pairs += mixed
        else:
            pairs += [mixed[(oi * 13 + k * 29) % len(mixed)] for k in range(10)]
        for a, b in pairs:
            x, y = grid(a, b)
            rt = np.result_type(x.dtype, y.dtype)
            if op == "power" and rt.kind in "iu" and b != "bool":
                keep = y >= 0
                x, y = x[keep], y[keep]
            rd = res_dtype(getattr(np, op), x[:1], y[:1])
            case(f"dt.{op}.{a}.{b}.grid", "dtypes", [inp(x), inp(y), f"elem/{op}/2"], dt_tol(op, rd))
    # signed integers against uint64: exact comparisons in NumPy 2 (float64 could not tell
    # 2**63 - 1 from 2**63)
    for op in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal"):
        for a, b in (("int64", "uint64"), ("uint64", "int64"), ("int8", "uint64"), ("uint64", "int16")):
            x, y = grid(a, b)
            case(f"dt.{op}.{a}.{b}.exact", "dtypes", [inp(x), inp(y), f"binary/{op}"])
    for a in ("int8", "int16", "uint8"):
        case(f"dt.power.{a}.negexp", "dtypes",
             [inp(np.array([2, 3, 1], dtype=a)), inp(np.array([1, -1, 2], dtype="int8")), "elem/power/2"],
             expect_error=True)
    for op in ("floor_divide", "remainder"):
        for a in ("int8", "int16"):
            lo, _ = int_range(a)
            x = np.array([lo, lo, 7, -7, 7, -7, 0, 5, -5, lo, 1], dtype=a)
            y = np.array([-1, 1, 0, 0, -2, 2, 0, 3, -3, lo, lo], dtype=a)
            case(f"dt.{op}.{a}.corners", "dtypes", [inp(x), inp(y), f"elem/{op}/2"])
    # 2. unary ops
    for op in UNARY:
        for a in NEW:
            x = np.array(VALS[a], dtype=a)
            rd = res_dtype(np.abs if op == "abs" else getattr(np, op), x[:1])
            case(f"dt.{op}.{a}.vals", "dtypes", [inp(x), f"elem/{op}/1"], dt_tol(op, rd))
    x16 = np.concatenate([rng.uniform(-10, 10, 40), [0.1, 0.2, 1e-4, 60000.0]]).astype("float16")
    for op in ("add", "multiply", "divide", "subtract", "floor_divide", "remainder"):
        y16 = rng.uniform(-5, 5, x16.size).astype("float16")
        case(f"dt.{op}.float16.range", "dtypes", [inp(x16), inp(y16), f"elem/{op}/2"])
    for op in ("sqrt", "exp", "log", "sin", "cos", "tanh"):
        v = np.abs(x16) if op in ("sqrt", "log") else x16
        case(f"dt.{op}.float16.range", "dtypes", [inp(v), f"elem/{op}/1"], dt_tol(op, "float16"))
    # 3. weak Python scalars (NEP 50): the array's dtype; out of bounds ints are errors except
    # in comparisons
    for op in ("add", "subtract", "multiply", "floor_divide", "remainder", "power", "less", "equal",
               "maximum", "divide", "bitwise_and"):
        for a in NEW:
            x = np.array(VALS[a], dtype=a)
            for k, v in (("i", "3"), ("i", "-2"), ("i", "300"), ("i", "70000"), ("f", fhex(2.5)), ("b", "1")):
                if op == "power" and k == "i" and v.startswith("-"):
                    continue
                case(f"dt.scalar.{op}.{a}.r{k}{v if k != 'f' else 2.5}", "dtypes",
                     [inp(x), f"scalar/{k}/{v}", "binary/" + op], dt_tol(op, a))
            case(f"dt.scalar.{op}.{a}.li5", "dtypes", ["scalar/i/5", inp(x), f"elem/{op}/2"], dt_tol(op, a))
    # 4. where
    cv = np.array([True, False, False, True, True, False, True, False, True, True, False, False])
    for a in NEW:
        for b in dict.fromkeys((a, "int64", "float32", "uint8", "bool")):
            x = fill(a, (12,), VALS[a])
            y = fill(b, (12,), VALS[b][::-1])
            case(f"dt.where.{a}.{b}", "dtypes", [inp(cv), inp(x), inp(y), "where"])
        case(f"dt.where.{a}.scalar_i", "dtypes", [inp(cv[:4]), inp(fill(a, (4,), SOFT[a])), "scalar/i/3", "where"])
    # 5. every astype pair with a new dtype; floats to integers only in range (C leaves the
    # rest undefined)
    for a in ALL:
        for b in ALL:
            if a not in NEW and b not in NEW:
                continue
            vals = list(VALS[a])
            if a.startswith("float"):
                vals += [2.9, -2.9, 0.999, -0.999, 100.75]
            x = np.array(vals, dtype=a) if not a.startswith("float") else \
                np.array(vals, dtype="float64").astype(a)
            if a.startswith("float") and b not in ("bool",) and not b.startswith("float"):
                lo, hi = int_range(b)
                with np.errstate(invalid="ignore"):
                    t = np.trunc(x.astype("float64"))
                x = x[np.isfinite(t) & (t >= lo) & (t <= hi)]
            case(f"dt.astype.{a}.{b}", "dtypes", [inp(x), "astype/" + b])
        if a in NEW:
            case(f"dt.astype.{a}.2d_t", "dtypes", [inp(fill(a, (3, 4), SOFT[a])), "transpose/none", "astype/float64"])
    # 6. reductions
    for a in NEW:
        for s in ((7,), (3, 4, 5), (0,)):
            x = fill(a, s, SOFT[a] if s != (7,) else VALS[a][:7], offset=2)
            if a == "float16" and s == (3, 4, 5):
                x = rng.uniform(-2, 2, s).astype(a)
            xi = inp(x)
            for op in REDUCE:
                for axes in ([None, [0], [2], [0, 2]] if len(s) == 3 else [None]):
                    if op in ("argmin", "argmax") and axes is not None and len(axes) != 1:
                        continue
                    if s == (0,) and op in ("min", "max", "argmin", "argmax"):
                        continue
                    tol = "rel:1e-12" if op in ("sum", "prod", "mean", "var", "std") else None
                    case(f"dt.reduce.{op}.{a}.{shp(s)}.ax{lst(axes)}", "dtypes",
                         [xi, f"reduce/{op}/{lst(axes)}/0/-"], tol)
    for a in ("int8", "uint8", "int16", "uint16", "uint32", "uint64"):
        lo, hi = int_range(a)
        x = np.array([hi, hi, lo, hi - 1, 1, lo + 1], dtype=a)
        for op in ("sum", "prod", "min", "max", "argmin", "argmax", "mean"):
            case(f"dt.reduce.{op}.{a}.extremes", "dtypes", [inp(x), f"reduce/{op}/none/0/-"],
                 "rel:1e-12" if op == "mean" else None)
    # 7. fused chains: narrow intermediates wrap (int8 a*b wraps before + c)
    for a in ("int8", "uint8", "int16", "uint16"):
        x = fill(a, (5, 40), SOFT[a] + VALS[a])
        y = fill(a, (5, 40), VALS[a] + SOFT[a], offset=3)
        case(f"dt.chain.{a}.mul_add", "dtypes", [inp(x), inp(y), "elem/multiply/2", inp(x), "elem/add/2"])
        case(f"dt.chain.{a}.sub_mul_sum", "dtypes",
             [inp(x), inp(y), "elem/subtract/2", "scalar/i/3", "binary/multiply", "reduce/sum/1/0/-"])
        case(f"dt.chain.{a}.mixed", "dtypes",
             [inp(x), inp(y), "elem/multiply/2", "astype/float32", "scalar/f/" + fhex(0.5), "binary/add"])
    h = rng.uniform(-4, 4, (6, 30)).astype("float16")
    h2 = rng.uniform(-4, 4, (6, 30)).astype("float16")
    case("dt.chain.float16.mul_add_sqrt", "dtypes",
         [inp(h), inp(h2), "elem/multiply/2", inp(h), "elem/add/2", "unary/abs", "unary/sqrt"])
    case("dt.chain.float16.div_sub", "dtypes",
         [inp(h), inp(h2), "elem/divide/2", "scalar/f/" + fhex(0.1), "binary/subtract"])
    case("dt.chain.uint8.image", "dtypes",
         [inp(fill("uint8", (4, 8, 3), VALS["uint8"])), "astype/float32", "scalar/f/" + fhex(1 / 255),
          "binary/multiply"])
    # 8. creation in the new dtypes
    for a in NEW:
        case(f"dt.zeros.{a}", "dtypes", [f"zeros/{a}/2,3"])
        case(f"dt.full.{a}", "dtypes", [f"full/{a}/4/i/7"])
        case(f"dt.arange.{a}", "dtypes", [f"arange/{fhex(0)}/{fhex(9)}/{fhex(2)}/{a}"])
    for a in ("int8", "uint8", "int16", "uint16", "uint32", "int32"):
        case(f"dt.full.{a}.oob", "dtypes", [f"full/{a}/3/i/{2**31 if a == 'int32' else -1 if a[0] == 'u' else 300 if a == 'int8' else 70000}"],
             expect_error=True)
    case("dt.arange.float16.frac", "dtypes", [f"arange/{fhex(0.1)}/{fhex(3)}/{fhex(0.3)}/float16"])
    case("dt.linspace.float16", "dtypes", [f"linspace/{fhex(0)}/{fhex(1)}/7/1/float16"], "ulp:1")
    # 9. the catalogue
    for name in CAT_UNARY:
        tol = f"ulp:{CAT_ULP[name]}" if name in CAT_ULP else "exact"
        for a in NEW:
            x = arr_for(a, (7,), rng)
            case(f"dt.cat.{name}.{a}", "dtypes", call(name, x), "ulp:1" if tol.startswith("ulp") and
                 (a == "float16" or a in ("int8", "uint8")) else tol)
    for name in CAT_BINARY:
        tol = f"ulp:{CAT_ULP[name]}" if name in CAT_ULP else "exactz" if name in ("fmax", "fmin", "maximum", "minimum") else "exact"
        for a in NEW:
            x, y = grid(a, a)
            case(f"dt.cat.{name}.{a}", "dtypes", call(name, x, y),
                 "ulp:1" if tol.startswith("ulp") and a in ("float16", "int8", "uint8") else tol)
    for name in ["cumsum", "cumprod", "cummax", "cummin", "sort", "argsort", "unique_values", "clip", "diff",
                 "nanmax", "nansum", "median"]:
        for a in NEW:
            x = fill(a, (301,), SOFT[a] + VALS[a], offset=3)
            kw = {}
            if name == "clip":
                kw = dict(a_min=1, a_max=7)
            tol = "rel:1e-12" if name in ("nansum", "median") or (a == "float16" and name in ("cumsum", "cumprod")) \
                else "exactz" if name in ("sort", "cummax", "cummin", "nanmax", "clip") else "exact"
            if a == "float16" and name in ("cumsum", "cumprod"):
                x = rng.uniform(0.9, 1.1, 20).astype(a)
            case(f"dt.cat.{name}.{a}", "dtypes", call(name, x, **kw), tol)
    # more of the catalogue on 2-d inputs (NumPy's float16 reductions round per step along
    # strided axes, so float16 stays out of the statistics)
    for a in NEW:
        x = fill(a, (5, 6), SOFT[a], offset=1)
        if a == "float16":
            x = np.nan_to_num(x, posinf=9.0)
        cases = [("einsum", ("ij->i", x), {}, "exact"), ("einsum", ("ij,ij->j", x, x), {}, "exact"),
                 ("take", (x, np.array([0, 2, 5])), dict(axis=1), "exact"),
                 ("repeat", (x, 2), dict(axis=0), "exact"), ("flip", (x,), {}, "exact"),
                 ("tril", (x,), {}, "exact"), ("isclose", (x, x), {}, "exact"),
                 ("round", (x,), {}, "exact"), ("argmax", (x,), dict(axis=1), "exact")]
        if a != "float16":
            cases += [("quantile", (x, 0.3), dict(axis=0), "rel:1e-12"), ("cov", (x,), {}, "rel:1e-12"),
                      ("percentile", (x, 75.0), {}, "rel:1e-12"), ("nanmean", (x,), dict(axis=1), "rel:1e-12"),
                      ("var", (x,), dict(axis=0), "rel:1e-12")]
        for k, (name, args, kw, tol) in enumerate(cases):
            case(f"dt.cat2.{name}.{k}.{a}", "dtypes", call(name, *args, **kw), tol)


def _gen_fft():
    """numpy.fft through the catalogue: every function, n cut and padded, axis 0, the norm modes,
    single and double precision. The corpus compares elementwise, so the transforms have
    lengths 1, 2 and 4 of small integers, where every algorithm is exact (sums and products by
    +-1 and +-i); test_py_fft.py compares odd and long lengths, chunked, within NumPy's rounding."""
    rng = np.random.default_rng(21)
    for dt in ("complex128", "complex64"):
        rdt = "float64" if dt == "complex128" else "float32"
        z = (rng.integers(-4, 5, (4, 4)) + 1j * rng.integers(-4, 5, (4, 4))).astype(dt)
        r = rng.integers(-4, 5, (4, 4)).astype(rdt)
        for name, x in (("fft", z), ("ifft", z), ("rfft", r), ("irfft", z[:, :3]), ("hfft", z[:, :3]), ("ihfft", r)):
            case(f"c.fft.{name}.{dt}", "catalog", call(f"fft.{name}", x), "exact")
            for n in (1, 2, 4):
                case(f"c.fft.{name}.{dt}.n{n}.ax0", "catalog", call(f"fft.{name}", x[:3], n=n, axis=0, norm="ortho"),
                     "exact")
            case(f"c.fft.{name}.{dt}.n4", "catalog", call(f"fft.{name}", x[:, :2], n=4, norm="forward"), "exact")
        for name, x in (("fftn", z), ("ifftn", z), ("rfftn", r), ("irfftn", z[:, :3]),
                        ("fft2", z), ("ifft2", z), ("rfft2", r), ("irfft2", z[:, :3])):
            case(f"c.fft.{name}.{dt}", "catalog", call(f"fft.{name}", x), "exact")
            case(f"c.fft.{name}.{dt}.s", "catalog", call(f"fft.{name}", x, s=(2, 4), axes=(1, 0)), "exact")
    case("c.fft.err.n0", "catalog", call("fft.fft", np.ones(4, "complex128"), n=0), expect_error=True)
    for n in (1, 6, 7):
        case(f"c.fft.fftfreq.{n}", "catalog", call("fft.fftfreq", n, d=0.5), "rel:1e-15")
        case(f"c.fft.rfftfreq.{n}", "catalog", call("fft.rfftfreq", n), "rel:1e-15")
    x = np.arange(24).reshape(4, 6)
    for name in ("fftshift", "ifftshift"):
        case(f"c.fft.{name}", "catalog", call(f"fft.{name}", x), "exact")
        case(f"c.fft.{name}.ax", "catalog", call(f"fft.{name}", x, axes=(1,)), "exact")
