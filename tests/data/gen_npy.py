#!/usr/bin/env python3
"""Generate the .npy test corpus for tests/c/test_npy.c (run once; the output is committed).

    .venv/bin/python tests/data/gen_npy.py

valid/    files written by NumPy itself (np.lib.format.write_array), plus hand-made headers that
          NumPy also reads (other key order, double quotes, Python 2 'L' suffixes, '=' and '|'
          byte orders, 16-byte alignment, trailing bytes). valid/MANIFEST describes each one:
          name, dtype, big_endian, fortran_order, major, shape, values. Values are a formula of
          the C-order flat index i (see `values`), so the C test recomputes them.
invalid/  malformed or unsupported files. invalid/EXPECTED lists, tab-separated:
          file name, the lp_status name Lampy must return, a substring of its message.

Everything is deterministic; the whole corpus stays far below 200 KB.
"""
import os
import struct
import sys
import warnings

import numpy as np
from numpy.lib import format as npf

HERE = os.path.dirname(os.path.abspath(__file__))
VALID = os.path.join(HERE, "npy", "valid")
INVALID = os.path.join(HERE, "npy", "invalid")

NAMES = {"b1": "bool", "i4": "int32", "i8": "int64", "f4": "float32", "f8": "float64", "i1": "int8",
         "i2": "int16", "u1": "uint8", "u2": "uint16", "u4": "uint32", "u8": "uint64", "f2": "float16"}
ONE_BYTE = ("b1", "i1", "u1")


def values(code, shape):
    """The 'std' formula, mirrored by expected_value() in test_npy.c. Chosen so that every byte
    of a value matters (a missed byte swap or a wrong element order changes the result)."""
    i = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)
    if code == "b1":
        v = i % 3 == 0
    elif code == "i4":
        v = ((i - 5) * 100003).astype(np.int32)
    elif code == "i8":
        v = (i - 5) * 1099511627791
    elif code == "f4":
        v = (i * 0.5 - 2.25).astype(np.float32)
    elif code == "i1":
        v = ((i - 5) * 37).astype(np.int8)  # astype wraps, as the C cast in test_npy.c
    elif code == "i2":
        v = ((i - 5) * 1237).astype(np.int16)
    elif code == "u1":
        v = (i * 37 + 3).astype(np.uint8)
    elif code == "u2":
        v = (i * 4099 + 7).astype(np.uint16)
    elif code == "u4":
        v = (i * 2654435761 + 11).astype(np.uint32)
    elif code == "u8":
        v = i.astype(np.uint64) * np.uint64(11400714819323198485) + np.uint64(13)
    elif code == "f2":
        v = (i * 0.5 - 2.25).astype(np.float16)
    else:
        v = (i - 5).astype(np.float64) * 1e10 + 0.125
    return v.reshape(shape)


def clean(d):
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.endswith(".npy") or f in ("MANIFEST", "EXPECTED"):
            os.remove(os.path.join(d, f))


# ---- valid files ---------------------------------------------------------------------------

manifest = []


def add_valid(name, code, shape, big=False, fortran=False, version=None, formula="std"):
    a = values(code, shape)
    dt = np.dtype(("|" if code == "b1" else ">" if big else "<") + code)
    a = a.astype(dt)
    a = a.copy(order="F" if fortran else "C")  # (ascontiguousarray would make 0-d 1-d)
    path = os.path.join(VALID, name)
    with open(path, "wb") as f:
        npf.write_array(f, a, version=version, allow_pickle=False)
    b = np.load(path)
    assert b.dtype == dt and b.shape == tuple(shape) and np.array_equal(b, values(code, shape))
    major = version[0] if version else 1
    # NumPy records fortran_order only when the array is F- but not C-contiguous
    f_flag = bool(a.flags.f_contiguous and not a.flags.c_contiguous)
    manifest.append((name, NAMES[code], int(big and code not in ONE_BYTE), int(f_flag), major,
                     ",".join(map(str, shape)) or "-", formula))


def add_raw_valid(name, header, data, code, shape, big=False, fortran=False, major=1, align=64,
                  formula="std"):
    """A hand-made header that NumPy accepts too (checked with np.load)."""
    path = os.path.join(VALID, name)
    with open(path, "wb") as f:
        f.write(raw_header(header, major, align) + data)
    b = np.load(path)
    if formula == "std":
        assert b.shape == tuple(shape) and np.array_equal(b, values(code, shape)), name
    manifest.append((name, NAMES[code], int(big), int(fortran), major,
                     ",".join(map(str, shape)) or "-", formula))


def raw_header(text, major=1, align=64, hlen=None, pad=True):
    """Magic + version + length + text, padded with spaces and a newline to `align` bytes."""
    text = text.encode("latin1") if isinstance(text, str) else text
    pre = 8 + (2 if major == 1 else 4)
    if pad:
        total = -(-(pre + len(text) + 1) // align) * align
        text = text + b" " * (total - pre - len(text) - 1) + b"\n"
    n = len(text) if hlen is None else hlen
    ln = struct.pack("<H", n) if major == 1 else struct.pack("<I", n)
    return b"\x93NUMPY" + bytes([major, 0]) + ln + text


def gen_valid():
    clean(VALID)
    for code in NAMES:
        for big in ([False] if code in ONE_BYTE else [False, True]):
            for fortran in (False, True):
                name = "%s_%s_%s_3x4.npy" % (code, "be" if big else "le", "F" if fortran else "C")
                add_valid(name, code, (3, 4), big, fortran)
    add_valid("f8_le_F_2x3x4.npy", "f8", (2, 3, 4), fortran=True)
    add_valid("i4_be_C_2x3x4.npy", "i4", (2, 3, 4), big=True)
    add_valid("i4_be_F_2x3x4.npy", "i4", (2, 3, 4), big=True, fortran=True)
    add_valid("f8_le_0d.npy", "f8", ())
    add_valid("i8_be_0d.npy", "i8", (), big=True)
    add_valid("f8_le_C_0x3.npy", "f8", (0, 3))
    add_valid("f4_le_F_3x0.npy", "f4", (3, 0), fortran=True)
    add_valid("i8_le_C_5.npy", "i8", (5,))
    add_valid("f4_le_C_8d.npy", "f4", (2, 1, 2, 1, 2, 1, 2, 3))
    add_valid("f4_be_F_8d.npy", "f4", (2, 1, 2, 1, 2, 1, 2, 3), big=True, fortran=True)
    add_valid("f8_le_C_3x4_v2.npy", "f8", (3, 4), version=(2, 0))
    add_valid("i4_be_F_3x4_v3.npy", "i4", (3, 4), big=True, fortran=True, version=(3, 0))
    add_valid("b1_F_2x3_v3.npy", "b1", (2, 3), fortran=True, version=(3, 0))
    # tall Fortran file: a few rows of it are read with one pread per column run
    add_valid("f8_le_F_1500x3.npy", "f8", (1500, 3), fortran=True)

    le = lambda code, shape: values(code, shape).astype("<" + code).tobytes()
    add_raw_valid("hand_key_order.npy",
                  "{'shape': (3, 4), 'fortran_order': False, 'descr': '<f8'}",
                  le("f8", (3, 4)), "f8", (3, 4))
    add_raw_valid("hand_double_quotes.npy",
                  '{"descr": "<i4", "fortran_order": False, "shape": (3, 4),}',
                  le("i4", (3, 4)), "i4", (3, 4))
    add_raw_valid("hand_whitespace.npy",
                  "{ 'descr' :'<i8' ,\n 'fortran_order':False,'shape':( 3 , 4 , ) ,\n}",
                  le("i8", (3, 4)), "i8", (3, 4))
    add_raw_valid("hand_py2_long.npy",
                  "{'descr': '<f8', 'fortran_order': False, 'shape': (3L, 4L), }",
                  le("f8", (3, 4)), "f8", (3, 4))
    add_raw_valid("hand_align16.npy",
                  "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }",
                  le("f4", (3, 4)), "f4", (3, 4), align=16)
    # '=' and '|' mean native order; this corpus is generated and read on little-endian hosts
    assert sys.byteorder == "little"
    add_raw_valid("hand_native_eq.npy",
                  "{'descr': '=f8', 'fortran_order': False, 'shape': (3, 4), }",
                  le("f8", (3, 4)), "f8", (3, 4))
    add_raw_valid("hand_pipe_i4.npy",
                  "{'descr': '|i4', 'fortran_order': False, 'shape': (3, 4), }",
                  le("i4", (3, 4)), "i4", (3, 4))
    add_raw_valid("hand_trailing_bytes.npy",
                  "{'descr': '<i4', 'fortran_order': False, 'shape': (3, 4), }",
                  le("i4", (3, 4)) + b"extra bytes after the data", "i4", (3, 4))
    add_raw_valid("hand_v2_no_trailing_comma.npy",
                  "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3)}",
                  np.asfortranarray(values("f8", (2, 3))).astype("<f8").tobytes(order="F"),
                  "f8", (2, 3), fortran=True, major=2)
    # bool bytes other than 0/1 must be read as True (1)
    add_raw_valid("hand_b1_nonbinary.npy",
                  "{'descr': '|b1', 'fortran_order': False, 'shape': (6,), }",
                  bytes([0, 1, 2, 255, 0, 128]), "b1", (6,), formula="b1raw")

    with open(os.path.join(VALID, "MANIFEST"), "w") as f:
        f.write("# name\tdtype\tbig_endian\tfortran_order\tmajor\tshape\tvalues\n")
        for row in manifest:
            f.write("\t".join(map(str, row)) + "\n")


# ---- invalid files -------------------------------------------------------------------------

expected = []
GOOD = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"
GOOD_DATA = bytes(48)


def bad(name, content, status, substring):
    with open(os.path.join(INVALID, name), "wb") as f:
        f.write(content)
    expected.append((name, status, substring))


def bad_hdr(name, text, status, substring, data=GOOD_DATA, **kw):
    bad(name, raw_header(text, **kw) + data, status, substring)


def gen_invalid():
    clean(INVALID)
    F, T, L = "LP_ERR_FORMAT", "LP_ERR_TYPE", "LP_ERR_LIMIT"
    good = raw_header(GOOD) + GOOD_DATA
    bad("empty.npy", b"", F, "empty file")
    bad("truncated_magic.npy", b"\x93NUM", F, "truncated")
    bad("magic_only.npy", b"\x93NUMPY", F, "truncated")
    bad("bad_magic.npy", b"\x93NUMPZ" + good[6:], F, "bad magic (not a .npy file)")
    bad("text_file.npy", b"this is not a .npy file at all\n", F, "bad magic")
    rng = np.random.RandomState(1234)
    bad("garbage.npy", bytes([0x42]) + rng.bytes(300), F, "bad magic")
    bad("bad_version.npy", good[:6] + b"\x04\x00" + good[8:], F, "version 4.0")
    bad("bad_minor_version.npy", good[:6] + b"\x01\x01" + good[8:], F, "version 1.1")
    bad("version_zero.npy", good[:6] + b"\x00\x00" + good[8:], F, "version 0.0")
    bad("truncated_length_v2.npy", b"\x93NUMPY\x02\x00\x10\x00", F, "truncated")
    bad("header_past_eof.npy", raw_header(GOOD, hlen=1000), F, "truncated header")
    bad("header_empty.npy", raw_header("", hlen=0, pad=False), F, "empty")
    bad("header_too_long.npy", raw_header("{", major=2, hlen=2 * 1024 * 1024 + 1, pad=False), L,
        "exceeds the limit")
    bad("header_no_newline.npy", raw_header(GOOD + "    ", pad=False) + GOOD_DATA, F,
        "does not end with a newline")
    bad_hdr("header_not_dict.npy", "[1, 2, 3]", F, "expected a dict literal")
    bad_hdr("header_garbage.npy", b"\x01\xfe\x00garbage\xff{", F, "expected a dict literal")
    bad_hdr("header_nul.npy", "{'descr': '<f8', 'fortran_order': False,\0 'shape': (2, 3), }", F,
            "expected a string")
    bad_hdr("missing_shape.npy", "{'descr': '<f8', 'fortran_order': False, }", F,
            "missing key 'shape'")
    bad_hdr("missing_descr.npy", "{'fortran_order': False, 'shape': (2, 3), }", F,
            "missing key 'descr'")
    bad_hdr("missing_fortran.npy", "{'descr': '<f8', 'shape': (2, 3), }", F,
            "missing key 'fortran_order'")
    bad_hdr("unknown_key.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), "
            "'extra': 1, }", F, "unknown key 'extra'")
    bad_hdr("duplicate_key.npy", "{'descr': '<f8', 'shape': (2, 3), 'fortran_order': False, "
            "'shape': (2, 3), }", F, "duplicate key 'shape'")
    bad_hdr("missing_colon.npy", "{'descr' '<f8', 'fortran_order': False, 'shape': (2, 3), }",
            F, "expected ':' after 'descr'")
    bad_hdr("missing_comma.npy", "{'descr': '<f8' 'fortran_order': False, 'shape': (2, 3), }",
            F, "expected ',' or '}'")
    bad_hdr("unterminated_string.npy", "{'descr': '<f8", F, "unterminated string")
    bad_hdr("key_quote_mismatch.npy", "{'descr\": '<f8', 'fortran_order': False, "
            "'shape': (2, 3), }", F, "unknown key 'descr\": '")
    bad_hdr("unterminated_dict.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)",
            F, "expected ',' or '}'")
    bad_hdr("text_after_dict.npy", GOOD + " junk", F, "after the header dict")
    bad_hdr("escape_in_string.npy", "{'descr': '\\x3cf8', 'fortran_order': False, "
            "'shape': (2, 3), }", F, "escape sequences")
    bad_hdr("descr_not_string.npy", "{'descr': 8, 'fortran_order': False, 'shape': (2, 3), }",
            F, "expected a string")
    bad_hdr("descr_unknown.npy", "{'descr': '<x9', 'fortran_order': False, 'shape': (2, 3), }",
            T, "unsupported dtype '<x9'")
    bad_hdr("descr_object.npy", "{'descr': '|O', 'fortran_order': False, 'shape': (2, 3), }",
            T, "unsupported dtype '|O'")
    bad_hdr("descr_f16.npy", "{'descr': '<f16', 'fortran_order': False, 'shape': (2, 3), }",
            T, "unsupported dtype '<f16'")
    bad_hdr("descr_m8.npy", "{'descr': '<m8', 'fortran_order': False, 'shape': (2, 3), }",
            T, "unsupported dtype '<m8'")
    bad_hdr("descr_complex.npy", "{'descr': '<c32', 'fortran_order': False, 'shape': (2, 3), }",
            T, "unsupported dtype '<c32'")  # complex256 (complex64 and complex128 are supported)
    bad_hdr("descr_string.npy", "{'descr': '<U5', 'fortran_order': False, 'shape': (2, 3), }",
            T, "unsupported dtype '<U5'")
    bad_hdr("descr_structured.npy", "{'descr': [('a', '<i4'), ('b', '<f4')], "
            "'fortran_order': False, 'shape': (6,), }", T, "structured")
    bad_hdr("descr_long.npy", "{'descr': '" + "x" * 200 + "', 'fortran_order': False, "
            "'shape': (2, 3), }", T, "unsupported dtype 'xxxx")
    bad_hdr("fortran_not_bool.npy", "{'descr': '<f8', 'fortran_order': 0, 'shape': (2, 3), }",
            F, "'fortran_order' must be True or False")
    bad_hdr("fortran_lowercase.npy", "{'descr': '<f8', 'fortran_order': true, 'shape': (2, 3), }",
            F, "'fortran_order' must be True or False")
    bad_hdr("fortran_prefix.npy", "{'descr': '<f8', 'fortran_order': Falsey, 'shape': (2, 3), }",
            F, "'fortran_order' must be True or False")
    bad_hdr("shape_list.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': [2, 3], }",
            F, "'shape' must be a tuple")
    bad_hdr("shape_int.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': 6, }",
            F, "'shape' must be a tuple")
    bad_hdr("shape_no_comma.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (6), }",
            F, "needs a trailing comma")
    bad_hdr("shape_float.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2.5, 3), }",
            F, "expected ',' or ')'")
    bad_hdr("shape_double_comma.npy", "{'descr': '<f8', 'fortran_order': False, "
            "'shape': (2,, 3), }", F, "expected an integer")
    bad_hdr("shape_unclosed.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3", F,
            "expected ',' or ')'")
    bad_hdr("negative_dim.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (-2, 3), }",
            F, "negative dimension")
    bad_hdr("dim_overflow.npy", "{'descr': '<f8', 'fortran_order': False, "
            "'shape': (99999999999999999999,), }", F, "does not fit in int64")
    bad_hdr("size_overflow.npy", "{'descr': '<f8', 'fortran_order': False, "
            "'shape': (4611686018427387904, 4), }", F, "too large")
    bad_hdr("bytes_overflow.npy", "{'descr': '<f8', 'fortran_order': False, "
            "'shape': (2305843009213693952,), }", F, "too large")
    bad_hdr("ndim9.npy", "{'descr': '<f8', 'fortran_order': False, "
            "'shape': (1, 1, 1, 1, 1, 1, 1, 1, 6), }", L, "more than 8 dimensions")
    bad_hdr("data_truncated.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (10,), }",
            F, "data truncated: header promises 80 bytes, file has 40", data=bytes(40))
    bad_hdr("data_missing.npy", GOOD, F, "data truncated: header promises 48 bytes, file has 0",
            data=b"")
    bad_hdr("data_truncated_v3.npy", GOOD, F, "header promises 48 bytes, file has 47",
            data=bytes(47), major=3)

    with open(os.path.join(INVALID, "EXPECTED"), "w") as f:
        for row in expected:
            f.write("\t".join(row) + "\n")
    # For the record, the files NumPy itself loads: the dtypes and the rank Lampy does not
    # support, and three where Lampy is deliberately stricter (a header that does not end in a
    # newline, a duplicate key, an escape sequence in a string).
    accepted = []
    for name, _, _ in expected:
        try:
            np.load(os.path.join(INVALID, name), allow_pickle=False)
            accepted.append(name)
        except Exception:
            pass
    print("invalid files NumPy itself loads:", ", ".join(accepted) or "none")


if __name__ == "__main__":
    # np.load warns about the Python 2 style header; reading it is the point of that file
    warnings.simplefilter("ignore", UserWarning)
    gen_valid()
    gen_invalid()
    total = sum(os.path.getsize(os.path.join(d, f)) for d in (VALID, INVALID)
                for f in os.listdir(d))
    print("%d valid, %d invalid files, %d bytes" % (len(manifest), len(expected), total))
