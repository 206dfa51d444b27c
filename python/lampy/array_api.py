"""The array API standard's data-type functions and inspection namespace (2024.12) over the
library's dtypes: finfo, iinfo, isdtype, result_type, can_cast and __array_namespace_info__.

Everything here is information about dtypes; promotion comes from the library (_lampy._promote,
lp_promote), and the dtype list from _lampy._dtypes, so dtypes added to the library appear here
without edits. Functions of arrays live in the catalogue (src/expr/catalog.def).
"""
import struct

from . import _lampy

__all__ = ["finfo", "iinfo", "isdtype", "result_type", "can_cast", "__array_namespace_info__"]

# IEEE 754 binary formats: total bits -> (mantissa bits, exponent bits)
_IEEE = {16: (10, 5), 32: (23, 8), 64: (52, 11)}


def _dtype(dt):
    """The library's dtype object for a dtype-like or an array's dtype, read by the library's own
    parser (the one dtype= arguments use: 'f8', numpy.float64, float, ...); TypeError if lampy has
    no such dtype."""
    if isinstance(dt, _lampy.Array) or (not isinstance(dt, type) and hasattr(dt, "dtype") and hasattr(dt, "shape")):
        dt = dt.dtype  # an array (numpy.float32, a class, has both attributes too)
    return _lampy._parse_dtype(dt)


def _name(dt):
    """The name of a dtype, a dtype-like or an array's dtype ('float64')."""
    d = _dtype(dt)
    return d if isinstance(d, str) else d.name


def _round_to(x, bits):
    """x rounded to the IEEE format of `bits` bits (16, 32 or 64), as a Python float."""
    fmt = {16: "e", 32: "f", 64: "d"}[bits]
    return struct.unpack(fmt, struct.pack(fmt, x))[0]


def _bits(name):
    return int("".join(c for c in name if c.isdigit()))


class finfo_object:
    """Machine limits of a floating-point dtype (the standard's finfo object)."""

    def __init__(self, dtype):
        self.dtype = _dtype(dtype)
        name = _name(self.dtype)
        if name.startswith("complex"):  # the limits of its parts (NumPy's finfo(complex64).dtype is float32)
            name = "float%d" % (_bits(name) // 2)
            self.dtype = _dtype(name)
        if not name.startswith("float"):
            raise TypeError(f"finfo: {name} is not a floating-point dtype")
        self.bits = _bits(name)
        m, e = _IEEE[self.bits]
        self.eps = 2.0 ** -m
        self.max = (2.0 - 2.0 ** -m) * 2.0 ** (2 ** (e - 1) - 1)
        self.min = -self.max
        self.smallest_normal = 2.0 ** (2 - 2 ** (e - 1))
        # NumPy's value: 10**-precision rounded to the dtype itself
        self.resolution = _round_to(10.0 ** -int(m * 0.30102999566398120), self.bits)

    def __repr__(self):
        return f"finfo(bits={self.bits}, eps={self.eps}, max={self.max}, dtype={_name(self.dtype)})"


class iinfo_object:
    """Limits of an integer dtype (the standard's iinfo object)."""

    def __init__(self, dtype):
        self.dtype = _dtype(dtype)
        name = _name(self.dtype)
        if "int" not in name:
            raise TypeError(f"iinfo: {name} is not an integer dtype")
        self.bits = _bits(name)
        if name.startswith("uint"):
            self.min, self.max = 0, 2 ** self.bits - 1
        else:
            self.min, self.max = -2 ** (self.bits - 1), 2 ** (self.bits - 1) - 1

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={_name(self.dtype)})"


def finfo(type, /):
    """Machine limits of a floating-point dtype (or of an array's dtype)."""
    return finfo_object(type)


def iinfo(type, /):
    """Limits of an integer dtype (or of an array's dtype)."""
    return iinfo_object(type)


_KINDS = {
    "bool": lambda n: n == "bool",
    "signed integer": lambda n: n.startswith("int"),
    "unsigned integer": lambda n: n.startswith("uint"),
    "integral": lambda n: "int" in n,
    "real floating": lambda n: n.startswith("float"),
    "complex floating": lambda n: n.startswith("complex"),
    "numeric": lambda n: n != "bool",
}


def isdtype(dtype, kind):
    """Whether dtype is of kind: a dtype, a kind name ('bool', 'signed integer', 'unsigned
    integer', 'integral', 'real floating', 'complex floating', 'numeric') or a tuple of them."""
    name = _name(_dtype(dtype))
    if isinstance(kind, tuple):
        return any(isdtype(dtype, k) for k in kind)
    if isinstance(kind, str):
        if kind not in _KINDS:
            raise ValueError(f"isdtype: unknown kind {kind!r} (one of {', '.join(_KINDS)})")
        return _KINDS[kind](name)
    return name == _name(_dtype(kind))


def result_type(*arrays_and_dtypes):
    """The dtype of an operation on these arrays, dtypes and Python scalars (NumPy 2's
    promotion; scalars are weak: they only decide the kind)."""
    strong, weak = [], []
    for a in arrays_and_dtypes:
        (weak if isinstance(a, (bool, int, float, complex)) else strong).append(a)
    if not strong:
        raise ValueError("result_type: at least one array or dtype is required")
    r = _dtype(strong[0])
    for a in strong[1:]:
        r = _lampy._promote(r, _dtype(a))
    for s in weak:
        n = _name(r)
        if isinstance(s, bool):
            continue
        if isinstance(s, int) and n == "bool":
            r = _dtype("int64")
        elif isinstance(s, float) and not (n.startswith("float") or n.startswith("complex")):
            r = _dtype("float64")
        elif isinstance(s, complex) and not n.startswith("complex"):
            r = _dtype("complex64" if n in ("float16", "float32") else "complex128")
    return r


def can_cast(from_, to, /):
    """Whether from_ (a dtype or an array) casts to `to` by the promotion rules."""
    t = _dtype(to)
    return _name(_lampy._promote(_dtype(from_), t)) == _name(t)


class _Info:
    """The standard's inspection namespace (lampy.__array_namespace_info__())."""

    def capabilities(self):
        # boolean masks and nonzero/unique compute their sizes at run time
        return {"boolean indexing": True, "data-dependent shapes": True,
                "max dimensions": _lampy.MAX_NDIM}

    def default_device(self):
        return "cpu"

    def devices(self):
        return ["cpu"]

    def _check(self, device):
        if device not in (None, "cpu"):
            raise ValueError(f"unsupported device {device!r} (lampy's only device is 'cpu')")

    def default_dtypes(self, *, device=None):
        self._check(device)
        r = {"real floating": _dtype("float64"), "complex floating": _dtype("complex128"),
             "integral": _dtype("int64"), "indexing": _dtype("int64")}
        return r

    def dtypes(self, *, device=None, kind=None):
        """The standard's dtypes that the library has, in the standard's order (float16 is a
        Lampy and NumPy dtype but not one of the standard's, so it is not listed, as in NumPy)."""
        self._check(device)
        have = {_name(d): d for d in _lampy._dtypes}
        return {n: have[n] for n in _STANDARD_DTYPES if n in have and (kind is None or isdtype(have[n], kind))}


_STANDARD_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                    "float32", "float64", "complex64", "complex128")


def __array_namespace_info__():
    """The inspection namespace: capabilities, devices and dtypes."""
    return _Info()


# Tuple results get NumPy 2's (and the standard's) field names; the catalogue returns tuples.
_RESULTS = {
    "unique_all": ("UniqueAllResult", "values indices inverse_indices counts"),
    "unique_counts": ("UniqueCountsResult", "values counts"),
    "unique_inverse": ("UniqueInverseResult", "values inverse_indices"),
    "svd": ("SVDResult", "U S Vh"),
    "slogdet": ("SlogdetResult", "sign logabsdet"),
    "qr": ("QRResult", "Q R"),
    "eigh": ("EighResult", "eigenvalues eigenvectors"),
    "eig": ("EigResult", "eigenvalues eigenvectors"),
}


def named_results(ns):
    """Wrap the functions of namespace dict ns that _RESULTS names (if present)."""
    import collections
    import functools
    for name, (cls_name, fields) in _RESULTS.items():
        fn = ns.get(name)
        if fn is None:
            continue
        cls = collections.namedtuple(cls_name, fields)

        def wrapped(*args, _fn=fn, _cls=cls, **kwargs):
            r = _fn(*args, **kwargs)
            # svd(compute_uv=False) and qr(mode='r') return one array, not the tuple
            return _cls(*r) if isinstance(r, tuple) and len(r) == len(_cls._fields) else r

        ns[name] = functools.wraps(fn)(wrapped)
