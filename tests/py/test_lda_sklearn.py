"""`lampy fisher` and `lampy predict` against scikit-learn's
LinearDiscriminantAnalysis(solver='eigen'), fitted inside the test on the same data.

Directions must agree to a cosine > 0.999999 (per component), attributes to rounding and
predictions exactly; ill-conditioned and constant-feature data give a clear error that
suggests shrinkage, and shrinkage makes them work. `lampy gen` is checked for reproducibility.
The binary comes from LAMPY_BIN (default build/lampy).
"""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sklearn.discriminant_analysis import LinearDiscriminantAnalysis as LDA

ROOT = Path(__file__).resolve().parents[2]
LAMPY = os.environ.get("LAMPY_BIN") or str(ROOT / "build" / "lampy")



def run(*args, timeout=120):
    return subprocess.run([LAMPY, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def load_model(path):
    """The model file's layout (src/ml/lda_io.c)."""
    v = np.load(path)
    assert v[0] == 4998209.0 and v[1] == 1
    K, D, m, C = (int(x) for x in v[2:6])
    p = 16
    out = {}
    for name, size, shape in [
        ("classes_", K, (K,)), ("priors_", K, (K,)), ("means_", K * D, (K, D)), ("coef_", C * D, (C, D)),
        ("intercept_", C, (C,)), ("scalings_", D * D, (D, D)), ("explained_variance_ratio_", m, (m,)),
        ("covariance_", D * D, (D, D)),
    ]:
        out[name] = v[p:p + size].reshape(shape)
        p += size
    return out


def blobs(rng, n, d, k, sep=2.0):
    y = rng.integers(0, k, n)
    centers = rng.normal(size=(k, d)) * sep / np.sqrt(2 * d)
    A = rng.normal(size=(d, d)) / np.sqrt(d) + np.diag(rng.uniform(0.5, 2.0, d))
    return rng.normal(size=(n, d)) @ A + centers[y], y


def compare(model, ref):
    np.testing.assert_array_equal(model["classes_"], ref.classes_)
    np.testing.assert_allclose(model["priors_"], ref.priors_, rtol=1e-12)
    np.testing.assert_allclose(model["means_"], ref.means_, rtol=1e-9, atol=1e-12)
    scale = np.abs(ref.coef_).max()
    assert np.abs(model["coef_"] - ref.coef_).max() <= 1e-6 * scale
    assert np.abs(model["intercept_"] - ref.intercept_).max() <= 1e-6 * max(1.0, np.abs(ref.intercept_).max())
    m = len(ref.explained_variance_ratio_)
    np.testing.assert_allclose(model["explained_variance_ratio_"], ref.explained_variance_ratio_, rtol=1e-7, atol=1e-12)
    for c in range(m):
        a, b = model["scalings_"][:, c], ref.scalings_[:, c]
        cos = abs(a @ b) / np.linalg.norm(a) / np.linalg.norm(b)
        assert cos > 0.999999, f"component {c}: cosine {cos}"


CASES = {
    # name: (n, d, k, label map, shrinkage, X dtype, extra CLI options)
    "two": (20000, 6, 2, None, None, np.float64, []),
    "two_big_labels": (8000, 5, 2, np.array([-3, 1000000007]), None, np.float64, ["--chunk-rows", "97", "--threads", "3"]),
    "bool": (6000, 4, 2, np.array([False, True]), None, np.float64, []),
    "int32_multi": (9000, 7, 3, np.array([5, 6, 9], dtype=np.int32), None, np.float64, ["--threads", "1"]),
    "multi_auto": (12000, 9, 5, None, "auto", np.float64, ["--chunk-rows", "1000"]),
    "multi_fixed": (7000, 8, 4, np.array([40, 30, 20, 10]), 0.2, np.float64, []),
    "two_auto": (5000, 12, 2, None, "auto", np.float64, ["--chunk-rows", "333"]),
    "float32": (10000, 6, 3, None, None, np.float32, []),
}


@pytest.mark.parametrize("name", list(CASES))
def test_fit_predict_like_sklearn(tmp_path, name):
    n, d, k, labels, shrink, xdt, extra = CASES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    X, y = blobs(rng, n + 2000, d, k)
    if labels is not None:
        y = labels[y]
    X = X.astype(xdt)
    Xtr, ytr, Xte = X[:n], y[:n], X[n:]
    np.save(tmp_path / "X.npy", Xtr)
    np.save(tmp_path / "y.npy", ytr)
    np.save(tmp_path / "Xt.npy", Xte)
    args = ["fisher", tmp_path / "X.npy", tmp_path / "y.npy", "--save", tmp_path / "m.npy", *extra]
    if shrink is not None:
        args += ["--shrinkage", shrink]
    p = run(*args)
    assert p.returncode == 0, p.stderr
    # scikit-learn works in float32 for float32 X; the reference is the float64 computation
    ref = LDA(solver="eigen", shrinkage=shrink).fit(Xtr.astype(np.float64), ytr)
    compare(load_model(tmp_path / "m.npy"), ref)
    acc = float(next(line.split()[1] for line in p.stdout.splitlines() if line.startswith("accuracy")))
    assert abs(acc - ref.score(Xtr.astype(np.float64), ytr)) < 1e-6
    p = run("predict", tmp_path / "m.npy", tmp_path / "Xt.npy", "-o", tmp_path / "yhat.npy")
    assert p.returncode == 0, p.stderr
    yhat = np.load(tmp_path / "yhat.npy")
    assert yhat.dtype == ytr.dtype
    np.testing.assert_array_equal(yhat, ref.predict(Xte.astype(np.float64)))


def test_constant_feature(tmp_path):
    rng = np.random.default_rng(3)
    X, y = blobs(rng, 5000, 5, 3)
    X[:, 3] = 1.5
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    p = run("fisher", tmp_path / "X.npy", tmp_path / "y.npy")
    assert p.returncode == 1
    err = p.stderr.strip()
    assert err.startswith("lampy: ") and len(err.splitlines()) == 1
    assert "feature 3 is constant" in err and "--shrinkage auto" in err
    p = run("fisher", tmp_path / "X.npy", tmp_path / "y.npy", "--shrinkage", "auto", "--save", tmp_path / "m.npy")
    assert p.returncode == 0, p.stderr
    ref = LDA(solver="eigen", shrinkage="auto").fit(X, y)
    compare(load_model(tmp_path / "m.npy"), ref)
    p = run("predict", tmp_path / "m.npy", tmp_path / "X.npy", "-o", tmp_path / "yhat.npy")
    assert p.returncode == 0, p.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "yhat.npy"), ref.predict(X))


@pytest.mark.parametrize("noise", [0.0, 1e-12])
def test_collinear_features(tmp_path, noise):
    rng = np.random.default_rng(4)
    X, y = blobs(rng, 6000, 4, 2)
    X = np.column_stack([X, X[:, 0] + 0.5 * X[:, 2] + noise * rng.normal(size=len(X))])
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    p = run("fisher", tmp_path / "X.npy", tmp_path / "y.npy")
    assert p.returncode == 1
    assert ("linear combination" in p.stderr or "ill-conditioned" in p.stderr) and "shrinkage" in p.stderr
    p = run("fisher", tmp_path / "X.npy", tmp_path / "y.npy", "--shrinkage", "auto", "--save", tmp_path / "m.npy")
    assert p.returncode == 0, p.stderr
    ref = LDA(solver="eigen", shrinkage="auto").fit(X, y)
    np.testing.assert_allclose(load_model(tmp_path / "m.npy")["coef_"], ref.coef_, rtol=1e-6,
                               atol=1e-6 * np.abs(ref.coef_).max())


def test_gen_is_reproducible(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    common = ["--rows", "30001", "--features", "7", "--classes", "3", "--sep", "2.5"]
    assert run("gen", *common, "--seed", "5", "--threads", "1", "-o", a).returncode == 0
    assert run("gen", *common, "--seed", "5", "--threads", "3", "-o", b).returncode == 0
    assert run("gen", *common, "--seed", "6", "-o", c).returncode == 0
    for f in ("X.npy", "y.npy"):
        assert (a / f).read_bytes() == (b / f).read_bytes()
        assert (a / f).read_bytes() != (c / f).read_bytes()
    X, y = np.load(a / "X.npy"), np.load(a / "y.npy")
    assert X.shape == (30001, 7) and X.dtype == np.float64 and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1, 2}
    # and a fit on it agrees with scikit-learn
    p = run("fisher", a / "X.npy", a / "y.npy", "--save", a / "m.npy")
    assert p.returncode == 0, p.stderr
    compare(load_model(a / "m.npy"), LDA(solver="eigen").fit(X, y))


def test_usage_errors(tmp_path):
    assert run("fisher").returncode == 2
    assert run("fisher", "a.npy").returncode == 2
    assert run("fisher", "a.npy", "b.npy", "--shrinkage", "2").returncode == 2
    assert run("predict", "m.npy", "X.npy").returncode == 2
    assert run("gen", "--rows", "10").returncode == 2
    X = np.zeros((10, 2))
    np.save(tmp_path / "X.npy", X)
    p = run("predict", tmp_path / "X.npy", tmp_path / "X.npy", "-o", tmp_path / "o.npy")
    assert p.returncode == 1 and "not a Lampy LDA model" in p.stderr
    np.save(tmp_path / "y.npy", np.arange(10) % 2 * 0.5)
    p = run("fisher", tmp_path / "X.npy", tmp_path / "y.npy")
    assert p.returncode == 1 and "labels must be bool or integers" in p.stderr
