#!/usr/bin/env python3
"""Generate the reference corpus of tests/c/test_linalg.c from NumPy: tests/data/linalg/.

Run with the project's venv (NumPy 2.x semantics are the reference):

    .venv/bin/python tests/data/gen_linalg.py

Deterministic (fixed seeds). Inputs and NumPy's results are .npy files named <case>.<k>.npy;
MANIFEST has one case per line, whitespace separated ('#' lines are comments):

    <case> <op> <tol> <nin> <nout> [| <STATUS> <message substring ...>]

Inputs are <case>.in<i>.npy (i < nin), expected outputs <case>.out<j>.npy (j < nout). With a
`|` part the case must fail with that lp_status and a message containing the substring (NumPy's
own wording where Lampy follows it).

<op> says what the C test builds from the inputs x0, x1, ...:
    mm          x0 @ x1                      mmTA   x0.T @ x1 (lp_transpose, folded)
    mmTB        x0 @ x1.T                    syrkT  x0.T @ x0 (one handle)
    syrkT2      x0.T @ x0' (x0 loaded twice: equal after CSE)      syrkN  x0 @ x0.T
    dot outer   numpy.dot / numpy.outer      tdot:<n> / tdot:<axes_a>:<axes_b>   tensordot
    solve inv cholesky det lstsq             numpy.linalg.*
    slogdet     two outputs (sign, logabsdet)
    eigh        two outputs (w, v); v is compared column by column up to sign
    eigvalsh    w only                       norm:<ord>  numpy.linalg.norm (ord 'None' = None)

<tol>: exact (integers, bool, shapes only), or rel:R meaning
|got - want| <= R * max(1, max|want|) elementwise (a norm-wise bound: BLAS and LAPACK sum in
different orders from NumPy's bundled OpenBLAS).
"""
import os
import sys

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "linalg")
rng = np.random.default_rng(20240611)
lines = []


def rnd(shape, dtype="float64"):
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.random(shape) < 0.4
    if dt.kind == "i":
        return rng.integers(-9, 10, size=shape).astype(dt)
    return rng.standard_normal(shape).astype(dt)


def spd(n, batch=()):
    a = rng.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def tol_for(*arrays):
    kinds = {np.asarray(x).dtype for x in arrays}
    if np.dtype("float32") in kinds:
        return "rel:2e-5"
    if any(k.kind == "f" for k in kinds):
        return "rel:1e-11"
    return "exact"


def case(name, op, ins, outs=None, tol=None, err=None):
    for i, x in enumerate(ins):
        np.save(os.path.join(OUT, f"{name}.in{i}.npy"), np.asarray(x))
    outs = outs or []
    for j, y in enumerate(outs):
        np.save(os.path.join(OUT, f"{name}.out{j}.npy"), np.asarray(y))
    tol = tol or (tol_for(*outs) if outs else "exact")
    line = f"{name} {op} {tol} {len(ins)} {len(outs)}"
    if err:
        line += f" | {err[0]} {err[1]}"
    lines.append(line)


def error_of(fn):
    try:
        fn()
    except Exception as e:  # NumPy's message is the reference wording
        return str(e)
    raise AssertionError("expected an error")


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))

    # ---- matmul over shapes, dtypes and transposes ----
    shapes = [
        ("mm_2d", (37, 23), (23, 41)),
        ("mm_big", (130, 257), (257, 70)),
        ("mm_empty_m", (0, 5), (5, 3)),
        ("mm_empty_k", (4, 0), (0, 3)),
        ("mm_empty_n", (4, 5), (5, 0)),
        ("mm_1xn", (1, 50), (50, 7)),
        ("mm_nx1", (50, 1), (1, 30)),
        ("mm_row_col", (1, 300), (300, 1)),
        ("mm_vec_mat", (23,), (23, 17)),
        ("mm_mat_vec", (17, 23), (23,)),
        ("mm_vec_vec", (1000,), (1000,)),
        ("mm_long_dot", (20000,), (20000,)),
        ("mm_tall_skinny", (3000, 3), (3, 2)),
        ("mm_wide_k", (3, 3000), (3000, 4)),
        ("mm_batch", (3, 1, 7, 5), (4, 5, 6)),
        ("mm_batch_vec", (2, 7, 5), (5,)),
        ("mm_vec_batch", (5,), (2, 5, 3)),
        ("mm_batch_many", (300, 3, 3), (300, 3, 4)),
        ("mm_batch_empty", (0, 3, 4), (4, 2)),
    ]
    for name, sa, sb in shapes:
        a, b = rnd(sa), rnd(sb)
        case(name, "mm", [a, b], [a @ b])
    for dta, dtb in [("int32", "int32"), ("int64", "int32"), ("bool", "bool"), ("int32", "float32"),
                     ("float32", "float32"), ("float32", "float64"), ("bool", "int64")]:
        a, b = rnd((29, 31), dta), rnd((31, 19), dtb)
        case(f"mm_{dta}_{dtb}", "mm", [a, b], [a @ b])
    a, b = rnd((40, 7), "float32"), rnd((7,), "float32")
    case("mm_f32_matvec", "mm", [a, b], [a @ b])
    big = np.full((20, 20), 2**40, dtype=np.int64)
    case("mm_int_wrap", "mm", [big, big], [big @ big])  # wraps exactly like NumPy
    i32 = np.full((3, 3000), 40000, dtype=np.int32)
    case("mm_int32_wrap", "mm", [i32, i32.T.copy()], [i32 @ i32.T])

    # transposes folded into BLAS (never materialized) and the syrk path
    x, y = rnd((1000, 13)), rnd((1000, 5))
    case("mmTA_tall", "mmTA", [x, y], [x.T @ y])
    a, b = rnd((30, 20)), rnd((25, 20))
    case("mmTB", "mmTB", [a, b], [a @ b.T])
    case("syrkT_tall", "syrkT", [x], [x.T @ x])
    case("syrkT2_tall", "syrkT2", [x], [x.T @ x])
    w = rnd((40, 150))
    case("syrkT_wide", "syrkT", [w], [w.T @ w])
    case("syrkN", "syrkN", [w], [w @ w.T])
    xf = rnd((700, 9), "float32")
    case("syrkT_f32", "syrkT", [xf], [xf.T @ xf])
    xi = rnd((500, 6), "int32")
    case("syrkT_int", "syrkT", [xi], [xi.T @ xi])
    xb = rnd((4, 50, 6))
    case("syrkT_batch", "syrkT", [xb], [np.swapaxes(xb, -1, -2) @ xb])
    case("syrkT_empty", "syrkT", [rnd((0, 4))], [np.zeros((4, 4))])

    # dot, outer, tensordot
    a, b = rnd((4, 6, 5)), rnd((3, 5, 2))
    case("dot_nd", "dot", [a, b], [np.dot(a, b)])
    a, b = rnd((4, 6, 5)), rnd((5,))
    case("dot_nd_vec", "dot", [a, b], [np.dot(a, b)])
    a, b = rnd((6, 5)), rnd((5, 3))
    case("dot_2d", "dot", [a, b], [np.dot(a, b)])
    a, b = rnd((2, 3)), rnd((4,), "int32")
    case("outer", "outer", [a, b], [np.outer(a, b)])
    a, b = rnd((3, 4, 5)), rnd((4, 5, 6))
    case("tdot_2", "tdot:2", [a, b], [np.tensordot(a, b, 2)])
    a, b = rnd((2, 3, 4)), rnd((4, 3, 5))
    case("tdot_axes", "tdot:1,2:1,0", [a, b], [np.tensordot(a, b, axes=([1, 2], [1, 0]))])
    a, b = rnd((50, 6)), rnd((50, 4))
    case("tdot_T", "tdot:0:0", [a, b], [np.tensordot(a, b, axes=([0], [0]))])

    # matmul errors (NumPy's wording)
    a, b = rnd((2, 3)), rnd((4, 5))
    case("mm_err_core", "mm", [a, b], err=("ERR_SHAPE", error_of(lambda: a @ b)))
    a, b = np.float64(1.0), rnd((4,))
    case("mm_err_0d", "mm", [a, b], err=("ERR_VALUE", error_of(lambda: np.matmul(a, b))))
    a, b = rnd((2, 3, 4)), rnd((3, 4, 5))
    case("mm_err_batch", "mm", [a, b], err=("ERR_SHAPE", error_of(lambda: a @ b)))
    a, b = rnd((2, 3)), rnd((4, 5))
    case("dot_err", "dot", [a, b], err=("ERR_SHAPE", error_of(lambda: np.dot(a, b))))

    # ---- numpy.linalg ----
    a = rng.standard_normal((6, 6)) + 6 * np.eye(6)
    b = rnd((6,))
    case("solve_vec", "solve", [a, b], [np.linalg.solve(a, b)])
    b2 = rnd((6, 3))
    case("solve_mat", "solve", [a, b2], [np.linalg.solve(a, b2)])
    ab = rng.standard_normal((4, 5, 5)) + 5 * np.eye(5)
    bb = rnd((4, 5, 2))
    case("solve_batch", "solve", [ab, bb], [np.linalg.solve(ab, bb)])
    bv = rnd((5,))
    case("solve_batch_vec", "solve", [ab, bv], [np.linalg.solve(ab, bv)])
    ai = rng.integers(-5, 6, (4, 4)) + 10 * np.eye(4, dtype=np.int64)
    bi = rng.integers(-5, 6, (4,))
    case("solve_int", "solve", [ai, bi], [np.linalg.solve(ai, bi)])
    af = (rng.standard_normal((5, 5)) + 5 * np.eye(5)).astype(np.float32)
    bf = rnd((5, 2), "float32")
    case("solve_f32", "solve", [af, bf], [np.linalg.solve(af, bf)])
    sing = np.array([[1.0, 2.0], [2.0, 4.0]])
    case("solve_singular", "solve", [sing, np.ones(2)],
         err=("ERR_LINALG", error_of(lambda: np.linalg.solve(sing, np.ones(2)))))
    case("solve_err_shape", "solve", [a, rnd((4,))],
         err=("ERR_SHAPE", error_of(lambda: np.linalg.solve(a, np.ones(4)))))

    case("inv", "inv", [a], [np.linalg.inv(a)])
    case("inv_batch", "inv", [ab], [np.linalg.inv(ab)])
    case("inv_f32", "inv", [af], [np.linalg.inv(af)])
    case("inv_int", "inv", [ai], [np.linalg.inv(ai)])
    case("inv_empty", "inv", [np.zeros((0, 0))], [np.linalg.inv(np.zeros((0, 0)))])
    case("inv_singular", "inv", [sing], err=("ERR_LINALG", error_of(lambda: np.linalg.inv(sing))))
    case("inv_zero", "inv", [np.zeros((3, 3))], err=("ERR_LINALG", "Singular matrix"))
    case("inv_1d", "inv", [np.ones(3)], err=("ERR_LINALG", error_of(lambda: np.linalg.inv(np.ones(3)))))
    case("inv_nonsquare", "inv", [np.ones((2, 3))],
         err=("ERR_LINALG", error_of(lambda: np.linalg.inv(np.ones((2, 3))))))
    nanm = np.array([[np.nan, 1.0], [1.0, 1.0]])
    case("inv_nan", "inv", [nanm], err=("ERR_LINALG", "Array must not contain infs or NaNs"))

    s = spd(7)
    case("cholesky", "cholesky", [s], [np.linalg.cholesky(s)])
    sb = spd(4, (3,))
    case("cholesky_batch", "cholesky", [sb], [np.linalg.cholesky(sb)])
    case("cholesky_f32", "cholesky", [s.astype(np.float32)], [np.linalg.cholesky(s.astype(np.float32))])
    notpd = np.array([[1.0, 2.0], [2.0, 1.0]])
    case("cholesky_notpd", "cholesky", [notpd],
         err=("ERR_LINALG", error_of(lambda: np.linalg.cholesky(notpd))))
    case("cholesky_neg", "cholesky", [-np.eye(3)], err=("ERR_LINALG", "Matrix is not positive definite"))

    w_, v_ = np.linalg.eigh(s)
    case("eigh", "eigh", [s], [w_, v_])
    w_, v_ = np.linalg.eigh(sb)
    case("eigh_batch", "eigh", [sb], [w_, v_])
    sym = rnd((8, 8))
    sym = sym + sym.T
    case("eigvalsh", "eigvalsh", [sym], [np.linalg.eigvalsh(sym)])
    sf = s.astype(np.float32)
    w_, v_ = np.linalg.eigh(sf)
    case("eigh_f32", "eigh", [sf], [w_, v_])
    case("eigh_nonsquare", "eigh", [np.ones((2, 3))],
         err=("ERR_LINALG", error_of(lambda: np.linalg.eigh(np.ones((2, 3))))))

    for name, m in [("det", a), ("det_batch", ab), ("det_singular", sing), ("det_int", ai),
                    ("det_empty", np.zeros((0, 0))), ("det_f32", af)]:
        case(name, "det", [m], [np.linalg.det(m)])
        sg, ld = np.linalg.slogdet(m)
        case("slog" + name, "slogdet", [m], [sg, ld])

    am, bm = rnd((40, 5)), rnd((40,))
    case("lstsq_vec", "lstsq", [am, bm], [np.linalg.lstsq(am, bm)[0]])
    bm2 = rnd((40, 3))
    case("lstsq_mat", "lstsq", [am, bm2], [np.linalg.lstsq(am, bm2)[0]])
    wide = rnd((3, 7))
    bw = rnd((3,))
    case("lstsq_wide", "lstsq", [wide, bw], [np.linalg.lstsq(wide, bw)[0]])
    deficient = np.column_stack([am[:, 0], am[:, 0], am[:, 1]])
    case("lstsq_rankdef", "lstsq", [deficient, bm], [np.linalg.lstsq(deficient, bm)[0]])
    case("lstsq_err", "lstsq", [am, rnd((39,))], err=("ERR_LINALG", "Incompatible dimensions"))

    v = rnd((1001,))
    m = rnd((13, 17))
    for o in ["None", "1", "-1", "2", "inf", "-inf"]:
        ordv = None if o == "None" else float(o)
        case(f"norm_vec_{o}", f"norm:{o}", [v], [np.linalg.norm(v, ordv)])
    for o in ["None", "fro", "1", "-1", "inf", "-inf"]:
        ordv = None if o == "None" else (o if o == "fro" else float(o))
        case(f"norm_mat_{o}", f"norm:{o}", [m], [np.linalg.norm(m, ordv)])
    t3 = rnd((3, 4, 5))
    case("norm_3d", "norm:None", [t3], [np.linalg.norm(t3)])
    vi = rnd((50,), "int32")
    case("norm_int", "norm:None", [vi], [np.linalg.norm(vi)])
    vf = rnd((300,), "float32")
    case("norm_f32", "norm:None", [vf], [np.linalg.norm(vf)])

    with open(os.path.join(OUT, "MANIFEST"), "w") as f:
        f.write("# generated by tests/data/gen_linalg.py (NumPy %s); see its docstring\n" % np.__version__)
        f.write("\n".join(lines) + "\n")
    print(f"{len(lines)} cases in {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
