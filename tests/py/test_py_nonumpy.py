"""Without NumPy: results are lampy.ndarray objects exporting the buffer protocol."""
import os
import subprocess
import sys
import textwrap


def run_without_numpy(code):
    env = dict(os.environ, LAMPY_PY_NO_NUMPY="1")
    script = "import sys\nsys.modules['numpy'] = None\n" + textwrap.dedent(code)
    p = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_fallbacks_without_numpy():
    out = run_without_numpy("""
        import lampy as lp
        assert not lp.HAVE_NUMPY
        a = lp.asarray([[1, 2, 3], [4, 5, 6]])
        assert a.dtype == "int64" and a.shape == (2, 3)
        assert lp.asarray([1.5, True]).dtype == "float64"
        assert lp.asarray([]).dtype == "float64"
        try:
            lp.asarray([[1], [2, 3]])
        except ValueError:
            pass
        else:
            raise AssertionError("ragged lists must fail")
        r = (a * 2 + 1).run()
        assert type(r).__name__ == "ndarray" and type(r).__module__ == "lampy"
        assert r.shape == (2, 3) and r.dtype == "int64" and r.ndim == 2 and r.size == 6
        assert r.nbytes == 48 and len(r) == 2
        assert r.tolist() == [[3, 5, 7], [9, 11, 13]]
        m = memoryview(r)
        assert m.format in ("l", "q") and m.shape == (2, 3) and m.tolist() == r.tolist()
        m.release()
        s = a.sum().run()
        assert s.shape == () and s.tolist() == 21
        import array
        f = lp.asarray(array.array("f", [1.0, 2.0])) * 2
        assert f.dtype == "float32" and f.run().tolist() == [2.0, 4.0]
        assert float(lp.asarray([2.5])) == 2.5
        print(repr(r), lp.zeros(3).astype(bool).dtype)
    """)
    assert "lampy.ndarray<shape=(2, 3), dtype=int64>" in out
    assert "bool" in out
