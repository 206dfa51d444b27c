"""Invalid calls raise the exception a NumPy user expects, carrying Lampy's message."""
import os
import subprocess
import sys

import numpy as np
import pytest

import lampy as lp


def test_shape_mismatch_is_valueerror():
    with pytest.raises(ValueError, match="broadcast|shape"):
        lp.zeros((3, 4)) + lp.zeros((5,))
    with pytest.raises(ValueError):
        lp.zeros((3, 4)).reshape(5, 5)
    with pytest.raises(ValueError):
        lp.zeros((3, 4)).reshape(-1, -1)
    with pytest.raises(ValueError):
        lp.concatenate([lp.zeros((2, 3)), lp.zeros((2, 4))])
    with pytest.raises(ValueError):
        lp.stack([lp.zeros(3), lp.zeros(4)])
    with pytest.raises(ValueError):
        lp.concatenate([])
    with pytest.raises(ValueError):
        lp.where(lp.zeros(3) > 0, lp.zeros(4), 1.0)


def test_each_error_has_its_own_message():
    """A failure must not leave its message behind for the next one."""
    with pytest.raises(ValueError) as e1:
        lp.zeros((3, 4)).reshape(5, 5)
    with pytest.raises(ValueError) as e2:
        lp.zeros((3,)).sum(axis=4)
    assert str(e1.value) != str(e2.value)
    assert "reshape" in str(e1.value)


def test_axis_errors():
    a = lp.zeros((2, 3))
    for bad in (2, -3, (0, 5)):
        with pytest.raises(ValueError):
            a.sum(axis=bad)
    with pytest.raises(ValueError):
        a.sum(axis=(0, 0))
    with pytest.raises(TypeError):
        a.sum(axis=1.5)
    with pytest.raises(TypeError):
        a.argmax(axis=(0, 1))
    with pytest.raises(ValueError):
        a.transpose(0, 0)
    with pytest.raises(ValueError):
        a.transpose(0)
    with pytest.raises(ValueError):
        lp.concatenate([a, a], axis=2)


def test_type_errors():
    with pytest.raises(TypeError):
        lp.zeros(3, dtype="complex256")
    with pytest.raises(TypeError):
        lp.zeros(3, dtype="not a dtype")
    with pytest.raises(TypeError):
        lp.zeros(3, dtype=np.clongdouble)
    with pytest.raises(TypeError):
        lp.zeros(3) & lp.zeros(3)  # bitwise on floats
    with pytest.raises(TypeError):
        ~lp.zeros(3)
    with pytest.raises(TypeError):
        lp.zeros("abc")
    with pytest.raises(TypeError):
        lp.zeros((2, 2.5))
    with pytest.raises(TypeError):
        lp.zeros(3).astype("U5")
    with pytest.raises(TypeError):
        lp.zeros(3).sum(out=np.zeros(()))
    with pytest.raises(TypeError):
        lp.sum()
    with pytest.raises(TypeError):
        lp.exp(1.0, 2.0)
    with pytest.raises(ValueError, match="both or neither"):
        lp.where(lp.zeros(3) > 0, 1)
    with pytest.raises(TypeError):
        lp.exp("x")
    with pytest.raises(TypeError):
        lp.random.default_rng(0).random(3, dtype="int64")
    with pytest.raises(TypeError):
        lp.random.default_rng("seed")
    with pytest.raises(TypeError):
        lp.arange()


def test_negative_dimensions_and_values():
    with pytest.raises(ValueError):
        lp.zeros((-1, 3))
    with pytest.raises(ValueError):
        lp.eye(-2)
    with pytest.raises(ValueError):
        lp.linspace(0, 1, -3)
    with pytest.raises(ValueError):
        lp.random.default_rng(-1)
    with pytest.raises(ValueError):
        lp.random.default_rng(0).normal(0, -1, 3)
    with pytest.raises(ZeroDivisionError):
        lp.arange(0, 10, 0)
    with pytest.raises(ValueError):
        lp.zeros((2,) * 9)  # more dimensions than Lampy supports
    with pytest.raises(ValueError):
        lp.zeros((10, 10)).rechunk((0, 5))
    with pytest.raises(ValueError):
        lp.zeros((10, 10)).rechunk((5,))


@pytest.mark.parametrize("dtype", ["clongdouble", ">c16", "object", ">f8", ">i4", ">u2", ">f2", "U3",
                                   "M8[s]", "longdouble"])
def test_unsupported_numpy_dtypes(dtype):
    x = np.zeros(4, dtype=dtype)
    with pytest.raises(TypeError, match="dtype"):
        lp.asarray(x)
    with pytest.raises(TypeError):
        lp.zeros(4) + x


def test_unsupported_objects():
    with pytest.raises(TypeError):
        lp.asarray(b"bytes")
    with pytest.raises(TypeError):
        lp.asarray({"a": 1})
    with pytest.raises(TypeError):
        lp.asarray(["a", "b"])
    with pytest.raises(ValueError):
        lp.asarray([[1, 2], [3]])
    # unknown operands give NotImplemented, so Python raises TypeError
    with pytest.raises(TypeError):
        lp.zeros(3) + object()
    with pytest.raises(TypeError):
        lp.zeros(3) + "x"
    assert (lp.zeros(3) == object()) is False
    assert (lp.zeros(3) != object()) is True


def test_python_int_out_of_range():
    with pytest.raises(OverflowError):
        lp.zeros(3, dtype="int64") + 2**70
    with pytest.raises(OverflowError):
        lp.zeros(3, dtype="int32") + 2**40
    # floats take large Python ints, as in NumPy
    assert (lp.zeros(3) + 2**70).dtype == np.float64


@pytest.mark.parametrize("key", [10, -11, (0, 0), (1, 2, 3), (Ellipsis, Ellipsis)])
def test_index_errors(key):
    a = lp.zeros(10)
    with pytest.raises(IndexError):
        a[key]


@pytest.mark.parametrize("key", [1.5, "a", ([0, 1], [1, 2])])
def test_bad_indices_are_refused(key):
    # a float, a string; two-dimensional indexing beyond one array (NumPy would index both
    # axes; Lampy's advanced indexing takes one array per subscript for now). A scalar bool is
    # NumPy's x[True] (test_py_apinames.py).
    with pytest.raises((IndexError, TypeError)):
        lp.zeros(10)[key].run()


def test_slice_step_zero():
    with pytest.raises(ValueError):
        lp.zeros(10)[::0]


def test_item_deletion_refused():
    a = lp.zeros(3)
    with pytest.raises(ValueError):
        del a[0]


def test_truthiness_without_computing():
    with pytest.raises(ValueError, match="ambiguous"):
        bool(lp.zeros(3))
    with pytest.raises(ValueError, match="empty"):
        bool(lp.zeros(0))
    with pytest.raises(TypeError):
        float(lp.zeros(3))
    with pytest.raises(TypeError):
        int(lp.zeros((2, 2)))
    with pytest.raises(TypeError):
        range(10)[lp.zeros(())]  # float arrays are not indices


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        lp.load(tmp_path / "missing.npy")
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not an npy file at all, sorry")
    with pytest.raises(ValueError):
        lp.load(bad)
    trunc = tmp_path / "trunc.npy"
    np.save(trunc, np.arange(100.0))
    with open(trunc, "r+b") as f:
        f.truncate(200)
    with pytest.raises(ValueError):
        lp.load(trunc)
    c32 = tmp_path / "c32.npy"
    np.save(c32, np.arange(10, dtype=np.clongdouble))
    with pytest.raises((TypeError, ValueError)):
        lp.load(c32)
    with pytest.raises((IsADirectoryError, OSError, ValueError)):
        lp.load(tmp_path)
    with pytest.raises(TypeError):
        lp.load(42)


def test_exceptions_keep_lampy_usable():
    for _ in range(3):
        with pytest.raises(ValueError):
            lp.zeros((2, 3)) + lp.zeros(4)
    assert (lp.zeros((2, 3)) + 1).shape == (2, 3)


def test_permission_denied_is_oserror(tmp_path):
    p = tmp_path / "x.npy"
    np.save(p, np.arange(3))
    p.chmod(0)
    code = ("import lampy as lp, sys\n"
            "try:\n    lp.load(sys.argv[1])\nexcept OSError as e:\n    print('denied', e)\n")
    cmd = [sys.executable, "-c", code, str(p)]
    if os.getuid() == 0:
        # root reads every file through CAP_DAC_OVERRIDE: run the load without it
        cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search",
               "--inh-caps", "-dac_override,-dac_read_search"] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("denied") and "x.npy" in r.stdout
