"""Lazy linear algebra with numpy.linalg's names: ``solve inv cholesky det slogdet eigh eigvalsh
eig eigvals lstsq norm cond qr svd pinv matrix_rank`` (present when the Lampy library provides
them; real and complex matrices; a tall matrix's reduced qr and svd run as TSQR over its row
chunks; stacks of matrices are looped in one task). Results are lazy arrays; errors raise numpy.linalg.LinAlgError
(ValueError without NumPy).

Differences from NumPy: ``lstsq`` returns only the solution x; ``qr`` has no ``mode='raw'``;
factors have signs that may differ from NumPy's; ``eig``/``eigvals`` compute their factors
when called (their result dtype, real or complex as in NumPy, depends on the values).
"""
from . import _lampy

_names = [n for n in dir(_lampy._linalg) if not n.startswith("_")]
globals().update({n: getattr(_lampy._linalg, n) for n in _names})

if hasattr(_lampy, "matmul"):
    matmul = _lampy.matmul
    _names.append("matmul")
if hasattr(_lampy, "outer"):
    outer = _lampy.outer
    _names.append("outer")
if hasattr(_lampy, "tensordot"):
    tensordot = _lampy.tensordot
    _names.append("tensordot")

# the array API's linalg extension repeats these top-level functions
for _n in ("matrix_transpose", "vecdot"):
    if hasattr(_lampy, _n):
        globals()[_n] = getattr(_lampy, _n)
        _names.append(_n)

from .array_api import named_results as _named_results  # noqa: E402

_named_results(globals())  # svd, slogdet, qr, eigh: NumPy's named tuples

try:
    from numpy.linalg import LinAlgError  # the exception Lampy raises
except ImportError:  # pragma: no cover
    LinAlgError = ValueError
_names.append("LinAlgError")

__all__ = sorted(_names)
