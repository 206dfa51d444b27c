"""Lazy random numbers: ``lp.random.default_rng(seed)`` returns a Generator whose methods
(``random``, ``uniform``, ``normal``, ``standard_normal``) build lazy arrays. Lampy's streams are
counter based (Philox4x32-10): each element depends only on the stream and its index, so chunks
are generated independently and in parallel. The numbers differ from NumPy's; the same seed
always gives the same sequence of arrays.

``randint``, ``permutation`` and ``choice`` come from the library's catalogue and take a
keyword ``seed`` (default 0: the same call gives the same numbers; pass a seed per draw).
Their values do not depend on chunk sizes or threads; they are not NumPy's numbers (another
generator), only the same distributions.
"""
from ._lampy import Generator, default_rng, _random

randint = _random.randint
permutation = _random.permutation
choice = _random.choice

_global = None


def _rng():
    global _global
    if _global is None:
        _global = default_rng()
    return _global


def random(size=None, dtype="float64"):
    """Uniform floats in [0, 1) from the module's generator (seeded from the OS)."""
    return _rng().random(size, dtype)


def uniform(low=0.0, high=1.0, size=None):
    """Uniform floats in [low, high) from the module's generator."""
    return _rng().uniform(low, high, size)


def normal(loc=0.0, scale=1.0, size=None):
    """Normal samples from the module's generator."""
    return _rng().normal(loc, scale, size)


def standard_normal(size=None, dtype="float64"):
    """N(0, 1) samples from the module's generator."""
    return _rng().standard_normal(size, dtype)


__all__ = ["Generator", "default_rng", "random", "uniform", "normal", "standard_normal", "randint", "permutation",
           "choice"]
