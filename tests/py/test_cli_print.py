"""`lampy eval NAME name=file.npy` prints an array exactly as NumPy 2's print(array) does."""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
LAMPY = os.environ.get("LAMPY_BIN") or str(ROOT / "build" / "lampy")


def lampy_print(tmp_path, arr):
    path = tmp_path / "x.npy"
    np.save(path, arr)
    p = subprocess.run([LAMPY, "eval", "x", f"x={path}"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def _cases():
    rng = np.random.default_rng(1234)
    c = {
        # 0-d: str() of the NumPy scalar
        "0d_float": np.array(0.5),
        "0d_float_integral": np.array(1.0),
        "0d_negzero": np.array(-0.0),
        "0d_big": np.array(1e16),
        "0d_small": np.array(1e-5),
        "0d_repr_digits": np.array(0.1 + 0.2),
        "0d_nan": np.array(np.nan),
        "0d_neginf": np.array(-np.inf),
        "0d_int32": np.array(-3, dtype=np.int32),
        "0d_int64": np.array(2**62),
        "0d_bool": np.array(True),
        "0d_f32": np.array(0.1, dtype=np.float32),
        "0d_f32_big": np.array(1e6, dtype=np.float32),
        "0d_f32_1e-4": np.array(1e-4, dtype=np.float32),
        # empty
        "empty_1d": np.zeros(0),
        "empty_2d": np.zeros((2, 0)),
        "empty_3d_int": np.zeros((3, 0, 2), dtype=np.int32),
        # floats, positional
        "floats": np.array([1.0, 2.5, -3.25]),
        "integral_floats": np.array([1.0, 2.0, 30.0]),
        "negzero": np.array([-0.0, 1.0]),
        "rounding_8": np.array([0.001953125, 0.123456785, 1.0]),
        "thirds": np.arange(100).reshape(10, 10) / 7,
        "linspace": np.linspace(0, 1, 30),
        "f32_linspace": np.linspace(0, 1, 7).astype(np.float32),
        "ratio_1000": np.array([1.0, 10.0, 100.0, 1000.0]),
        "below_1e8": np.array([99999999.0, 1.0]),
        # floats, scientific
        "sci_small": np.array([1e-5, 1.0]),
        "sci_ratio": np.array([1.0, 10.0, 100.0, 1000.0, 1000.5]),
        "sci_1e8": np.array([1e8, 1.0]),
        "sci_f32_1e6": np.array([1e6, 1.0], dtype=np.float32),
        "sci_f32_digits": np.array([0.3, 1.2345678e-5], dtype=np.float32),
        "sci_exp3": np.array([1e300, 1e-300]),
        "sci_mixed_nonfinite": np.array([1.5, np.nan, -np.inf, 2e10]),
        # non-finite
        "nan_inf": np.array([np.nan, np.inf]),
        "nan_neginf": np.array([np.nan, -np.inf]),
        "nan_and_float": np.array([np.nan, 1.5]),
        "all_nan_2d": np.full((2, 3), np.nan),
        # ints and bools
        "ints": np.arange(12).reshape(3, 4),
        "int_extremes": np.array([2**62, -(2**63)], dtype=np.int64),
        "int32_neg": np.array([-5, 3, 100], dtype=np.int32),
        "bools": np.array([True, False, True]),
        "bools_all_true": np.ones((3, 3), dtype=bool),
        # layout: nesting, blank lines, wrapping, summarisation
        "3d": np.arange(24).reshape(2, 3, 4),
        "4d": np.arange(48).reshape(2, 2, 3, 4) - 20,
        "wrap_floats": np.arange(40) * 1.125,
        "wrap_2d": rng.standard_normal((3, 20)),
        "summary_1d": np.arange(2000),
        "summary_2d": np.arange(2000.0).reshape(40, 50),
        "summary_3d": np.arange(3000).reshape(10, 10, 30) * 1.5,
        "summary_bool": np.zeros(1001, dtype=bool),
        "summary_just_over": np.arange(1001) * 1e-3,
        "no_summary_1000": np.arange(1000),
        "summary_5d": np.arange(7 * 7 * 7 * 7 * 3).reshape(7, 7, 7, 7, 3) % 13,
        "single": np.array([[1.5]]),
        "eye": np.eye(5),
        # complex: NumPy's per-part formats (the imaginary one signed), 'j' before the padding
        "0d_c128": np.array(1.5 - 2j),
        "0d_c128_imag_only": np.array(2j),
        "0d_c128_negzero_real": np.array(complex(-0.0, 1)),
        "0d_c128_nan_inf": np.array(complex(np.nan, -np.inf)),
        "0d_c64_big": np.array(123456789.125 + 0.5j, dtype=np.complex64),
        "0d_c64_small": np.array(1e-5 - 1e-4j, dtype=np.complex64),
        "c128": np.array([[1 + 2j, -0.5 - 1j], [3j, 2]]),
        "c64": np.array([1.5 - 2j, np.nan, complex(0, -np.inf), 1e-5 + 3j], dtype=np.complex64),
        "c128_sci_nonfinite": np.array([1e-10 + 1j, 123456789 + 0j, complex(np.nan, np.inf), complex(-0.0, -0.0)]),
        "c128_signed_zeros": np.array([complex(0, -0.0), complex(-0.0, 0), 0j]),
        "c128_nan_imag": np.array([complex(1, np.nan), complex(-np.inf, 2.5)]),
        "c128_summary": np.arange(2000) * (1 + 0.5j),
        "c128_wrap": (np.arange(30) - 15) * (1.25 - 1e-9j),
    }
    for i in range(12):
        nd = int(rng.integers(1, 4))
        shape = tuple(int(rng.integers(1, 9)) for _ in range(nd))
        scale = 10.0 ** int(rng.integers(-9, 10))
        c[f"rand_f64_{i}"] = rng.standard_normal(shape) * scale
        c[f"rand_f32_{i}"] = (rng.standard_normal(shape) * scale).astype(np.float32)
        c[f"rand_int_{i}"] = rng.integers(-(10 ** (i + 1)), 10 ** (i + 1), size=shape)
        z = rng.standard_normal(shape) * scale + 1j * rng.standard_normal(shape) * 10.0 ** int(rng.integers(-9, 10))
        c[f"rand_c128_{i}"] = z
        c[f"rand_c64_{i}"] = z.astype(np.complex64)
    return c


CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_print_matches_numpy(tmp_path, name):
    arr = CASES[name]
    assert lampy_print(tmp_path, arr) == str(arr) + "\n"


def test_print_fortran_and_big_endian_files(tmp_path):
    a = np.arange(12.0).reshape(3, 4) / 3
    assert lampy_print(tmp_path, np.asfortranarray(a)) == str(a) + "\n"
    assert lampy_print(tmp_path, a.astype(">f8")) == str(a) + "\n"
