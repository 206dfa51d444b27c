"""The VM's stream loops (src/kernels/vm.c, issue 16): when a task's float64 output is large (at
least 1 MiB) and contiguous, its last step -- one of + - * /, or a fused pair of them, t op t
included -- stores its values straight into the output with non-temporal stores (ordinary
stores up to the first cache line boundary and for a last part line) instead of through a
staging block. Every result must be NumPy's, bit for bit (NaNs where NumPy has them): each
operation and pair, constants in each position, strided inputs, lengths that are not a multiple
of 4 or 8, outputs that start off a cache line (chunks whose first element is not at a multiple
of 64 bytes), inputs at NumPy's usual offset and at a cache line start. Run again in a process
whose machine profile turns the non-temporal stores off, the same expressions give the same
bits."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import lampy as lp
from test_py_vm_pairs import OPS, data as pair_data, same_bits

rng = np.random.default_rng(1617)
N = 1_000_003  # one chunk of 8 MB: streamed, not a multiple of 4 or 8


def at_offset(v, off):
    """A copy of v whose data starts `off` bytes past a 64-byte boundary."""
    buf = np.empty(v.size + 16, dtype=np.float64)
    k = ((off - buf.ctypes.data) % 64) // 8
    out = buf[k : k + v.size]
    assert out.ctypes.data % 64 == off
    out[...] = v
    return out


def data(n, off=None):
    """x, y, z with zeros, infinities and NaNs in every position (test_py_vm_pairs.data), NumPy's
    own arrays or copies at `off` bytes past a line"""
    return tuple(v if off is None else at_offset(v, off) for v in pair_data(n))


def one(v):
    return lp.asarray(v, chunks=v.shape)  # one chunk: one task writes the whole output


def test_inputs_at_both_offsets():
    for off in (16, 0):
        X, Y, _ = data(N, off)
        assert X.ctypes.data % 64 == off
        x, y = one(X), one(Y)
        with np.errstate(all="ignore"):
            for f in OPS.values():
                same_bits(f(x, y).run(), f(X, Y))


@pytest.mark.parametrize("n", [N, 131_075, 131_072 + 8])
def test_single_operations_and_constants(n):
    X, Y, _ = data(n)
    x, y = one(X), one(Y)
    with np.errstate(all="ignore"):
        for f in OPS.values():
            same_bits(f(x, y).run(), f(X, Y))
            same_bits(f(x, 2.5).run(), f(X, 2.5))
            same_bits(f(-1.5, y).run(), f(-1.5, Y))


@pytest.mark.parametrize("o1", list(OPS))
@pytest.mark.parametrize("o2", list(OPS))
def test_every_pair_all_forms(o1, o2):
    n = 300_007
    X, Y, Z = data(n)
    x, y, z = one(X), one(Y), one(Z)
    f1, f2 = OPS[o1], OPS[o2]
    with np.errstate(all="ignore"):
        same_bits(f2(f1(x, y), z).run(), f2(f1(X, Y), Z))
        same_bits(f2(z, f1(x, y)).run(), f2(Z, f1(X, Y)))
        t, T = f1(x, y), f1(X, Y)
        same_bits(f2(t, t).run(), f2(T, T))
        # constants: the first's right, the first's left, the second's (both sides)
        same_bits(f2(f1(x, 2.5), z).run(), f2(f1(X, 2.5), Z))
        same_bits(f2(f1(-1.5, y), z).run(), f2(f1(-1.5, Y), Z))
        same_bits(f2(f1(x, y), 0.75).run(), f2(f1(X, Y), 0.75))
        same_bits(f2(3.0, f1(x, y)).run(), f2(3.0, f1(X, Y)))
        t, T = f1(x, 2.5), f1(X, 2.5)
        same_bits(f2(t, t).run(), f2(T, T))


def test_outputs_off_a_cache_line():
    # chunks of 262_147 elements: task k's output starts 24 * k bytes (mod 64) past a line,
    # 2 MiB each, the last one shorter
    n = 4 * 262_147 - 5
    X, Y, Z = data(n)
    x, y, z = (lp.asarray(v, chunks=(262_147,)) for v in (X, Y, Z))
    with np.errstate(all="ignore"):
        same_bits((x * y + z * 2 - x).run(), X * Y + Z * 2 - X)
        same_bits((x - y).run(), X - Y)
        same_bits(((x - y) * (x - y)).run(), (X - Y) * (X - Y))
        same_bits((z / (x + y)).run(), Z / (X + Y))


def test_strided_inputs_and_rows():
    n = 400_001
    X, Y, Z = data(2 * n)
    xs, ys, zs = X[::2], Y[1::2], Z[:n]  # two strided inputs: the gathering path
    x, y, z = (lp.asarray(v, chunks=(n,)) for v in (xs, ys, zs))
    with np.errstate(all="ignore"):
        same_bits((x * y + z * 2 - x).run(), xs * ys + zs * 2 - xs)
        same_bits((x / y).run(), xs / ys)
        same_bits(((x + y) - z).run(), (xs + ys) - zs)
    # a 2-d output (contiguous: one run), and a row broadcast against it
    A = rng.standard_normal((700, 1003))
    r = rng.standard_normal(1003)
    a = lp.asarray(A, chunks=A.shape)
    same_bits((a * 2 - lp.asarray(r)).run(), A * 2 - r)
    same_bits((a * a + a).run(), A * A + A)


def test_harness_w1_every_chunking():
    n = 1 << 21
    rng2 = np.random.default_rng(7)
    A, B, C = rng2.random(n), rng2.random(n), rng2.random(n)
    want = A * B + C * 2 - A
    for chunk in (None, 131_072, 262_147, 1 << 20):
        kw = {} if chunk is None else {"chunks": (chunk,)}
        a, b, c = (lp.asarray(v, **kw) for v in (A, B, C))
        same_bits((a * b + c * 2 - a).run(), want)


# The same expressions in a fresh process with the machine profile's nt_stores set: off, the
# outputs take ordinary stores; on, the stream loops. Both must give the bits of this process.
CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    import lampy as lp
    d = np.load(sys.argv[1])
    X, Y, Z = d["X"], d["Y"], d["Z"]
    outs = {}
    for chunks in ((X.size,), (262_147,)):
        x, y, z = (lp.asarray(v, chunks=chunks) for v in (X, Y, Z))
        k = str(chunks[0])
        outs["w1" + k] = (x * y + z * 2 - x).run()
        outs["sq" + k] = ((x - y) * (x - y)).run()
        outs["div" + k] = (x / y).run()
        outs["zt" + k] = (z - (x * 2.5)).run()
    np.savez(sys.argv[2], **outs)
    """
)


@pytest.mark.parametrize("nt", [False, True])
def test_same_bits_with_streaming_off_and_on(tmp_path, nt):
    n = 1_048_583
    X, Y, Z = data(n)
    np.savez(tmp_path / "in.npz", X=X, Y=Y, Z=Z)
    prof = tmp_path / "profile.json"
    prof.write_text(json.dumps({"format": "lampy.profile", "version": 7, "nt_stores": nt}))
    env = dict(os.environ, LAMPY_PROFILE=str(prof))
    subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
                   env=env, check=True, timeout=300)
    got = np.load(tmp_path / "out.npz")
    for chunks in (n, 262_147):
        x, y, z = (lp.asarray(v, chunks=(chunks,)) for v in (X, Y, Z))
        k = str(chunks)
        with np.errstate(all="ignore"):
            mine = {"w1": (x * y + z * 2 - x).run(), "sq": ((x - y) * (x - y)).run(), "div": (x / y).run(),
                    "zt": (z - (x * 2.5)).run()}
        for name, v in mine.items():
            same_bits(got[name + k], v)
        with np.errstate(all="ignore"):
            same_bits(mine["w1"], X * Y + Z * 2 - X)
