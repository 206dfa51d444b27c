"""Lazy discrete Fourier transforms with numpy.fft's names (the array API's fft extension):
``fft ifft fftn ifftn rfft irfft rfftn irfftn hfft ihfft fft2 ifft2 rfft2 irfft2 fftfreq
rfftfreq fftshift ifftshift``, with ``n``/``s``, ``axis``/``axes`` and ``norm`` as NumPy's.
Computed by FFTW: each task holds the whole transform axis, the other axes stay chunked.
float32/complex64 inputs transform in single precision, everything else in double.
"""
from . import _lampy

_names = [n for n in dir(_lampy._fft) if not n.startswith("_")]
globals().update({n: getattr(_lampy._fft, n) for n in _names})

__all__ = sorted(_names)
