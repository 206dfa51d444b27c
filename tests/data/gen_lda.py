"""Reference outputs of scikit-learn's LinearDiscriminantAnalysis(solver='eigen') for
tests/c/test_lda.c. Run with the project's venv:

    .venv/bin/python tests/data/gen_lda.py

Writes tests/data/lda/<case>/{X,Xt,y}.npy (inputs) and the fitted attributes and predictions
({classes,priors,means,coef,intercept,scalings,evr,pred,predt,transform}.npy), or error.txt when
scikit-learn itself fails. The cases (options in CASES) must match the table in test_lda.c.
"""
import os
import sys

import numpy as np
from sklearn import __version__ as skversion
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis as LDA

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lda")


def blobs(rng, n, d, k, sep=2.0, corr=True):
    """Gaussian classes with a shared correlated covariance and distinct spreads per feature."""
    y = rng.integers(0, k, n)
    centers = rng.normal(size=(k, d)) * sep / np.sqrt(2 * d)  # about `sep` apart
    A = rng.normal(size=(d, d)) / np.sqrt(d) + np.diag(rng.uniform(0.5, 2.0, d)) if corr else np.eye(d)
    X = rng.normal(size=(n, d)) @ A + centers[y]
    return X, y


def exact_binary_decision(X, y, Xt):
    """The two-class log-likelihood ratio in extended precision (centered, with iterative
    refinement): the reference where scikit-learn's X @ coef_ + intercept_ cancels."""
    L = np.longdouble
    Xl, Xtl = X.astype(L), Xt.astype(L)
    cls = np.unique(y)
    n = np.array([(y == c).sum() for c in cls])
    mu = [Xl[y == c].mean(0) for c in cls]
    Sw = sum((Xl[y == c] - mu[k]).T @ (Xl[y == c] - mu[k]) for k, c in enumerate(cls)) / len(y)
    dm = mu[1] - mu[0]
    S64 = Sw.astype(np.float64)
    w = np.linalg.solve(S64, dm.astype(np.float64)).astype(L)
    for _ in range(4):
        w = w + np.linalg.solve(S64, (dm - Sw @ w).astype(np.float64)).astype(L)
    mid = (mu[0] + mu[1]) / 2
    return ((Xtl - mid) @ w + np.log(L(n[1]) / L(n[0]))).astype(np.float64)


def case_data(name, rng):
    n, nt = 1200, 300
    if name == "bin":
        X, y = blobs(rng, n + nt, 5, 2)
    elif name == "bin_labels_i32_shrink":
        X, y = blobs(rng, n + nt, 6, 2, sep=1.0)
        y = np.where(y == 0, -7, 42).astype(np.int32)
    elif name == "bool":
        X, y = blobs(rng, n + nt, 4, 2, sep=1.5)
        y = y.astype(bool)
    elif name == "multi":
        X, y = blobs(rng, n + nt, 8, 4, sep=3.0)
        y = np.array([3, 10, 11, 100])[y]
    elif name == "multi_auto":
        X, y = blobs(rng, n + nt, 10, 5, sep=2.0)
    elif name == "bin_auto":
        X, y = blobs(rng, n + nt, 7, 2, sep=1.0)
    elif name == "multi_priors":
        X, y = blobs(rng, n + nt, 5, 3, sep=2.0)
    elif name == "f32":
        X, y = blobs(rng, n + nt, 6, 3, sep=2.0)
        X = X.astype(np.float32)
    elif name == "offset":
        # large common offset: a scatter formed as X^T X - n mu mu^T would lose every digit here
        X, y = blobs(rng, n + nt, 5, 2, sep=1.0)
        X = X + 1e7
    elif name in ("const", "const_auto"):
        X, y = blobs(rng, n + nt, 5, 2)
        X[:, 2] = 3.25
    elif name in ("collinear", "collinear_auto"):
        X, y = blobs(rng, n + nt, 5, 3)
        X[:, 4] = X[:, 0] - 2 * X[:, 1] + 1e-13 * rng.normal(size=n + nt)
    elif name == "one_feature":
        X, y = blobs(rng, n + nt, 1, 3, sep=3.0)
    elif name == "wide":
        X, y = blobs(rng, n + nt, 40, 6, sep=2.0)
    else:
        raise KeyError(name)
    return X[:n], y[:n], X[n:]


# name: (shrinkage, priors, n_components)
CASES = {
    "bin": (None, None, None),
    "bin_labels_i32_shrink": (0.3, None, None),
    "bool": (None, None, None),
    "multi": (None, None, None),
    "multi_auto": ("auto", None, None),
    "bin_auto": ("auto", None, None),
    "multi_priors": (None, [0.2, 0.5, 0.3], 1),
    "f32": (None, None, None),
    "offset": (None, None, None),
    "const": (None, None, None),
    "const_auto": ("auto", None, None),
    "collinear": (None, None, None),
    "collinear_auto": ("auto", None, None),
    "one_feature": ("auto", None, None),
    "wide": (0.05, None, None),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for i, (name, (shrink, priors, ncomp)) in enumerate(CASES.items()):
        rng = np.random.default_rng(1000 + i)
        X, y, Xt = case_data(name, rng)
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
        np.save(os.path.join(d, "X.npy"), X)
        np.save(os.path.join(d, "y.npy"), y)
        np.save(os.path.join(d, "Xt.npy"), Xt)
        m = LDA(solver="eigen", shrinkage=shrink, priors=priors, n_components=ncomp)
        try:
            # scikit-learn computes in float32 for float32 X; the reference is float64 math
            m.fit(X.astype(np.float64), y)
        except Exception as e:  # noqa: BLE001 - the message is the reference
            with open(os.path.join(d, "error.txt"), "w") as f:
                f.write(f"{type(e).__name__}: {e}\n")
            print(f"{name}: scikit-learn fails: {type(e).__name__}")
            continue
        Xd, Xtd = X.astype(np.float64), Xt.astype(np.float64)
        out = {
            "classes": m.classes_,
            "priors": m.priors_,
            "means": m.means_,
            "coef": m.coef_,
            "intercept": m.intercept_,
            "scalings": m.scalings_,
            "evr": m.explained_variance_ratio_,
            "pred": m.predict(Xd),
            "predt": m.predict(Xtd),
            "transform": m.transform(Xtd),
            "decision": m.decision_function(Xtd),
        }
        if name == "offset":
            out["decision_exact"] = exact_binary_decision(X, y, Xt)
            err = np.abs(out["decision"] - out["decision_exact"]).max()
            print(f"  scikit-learn's decision_function is off by up to {err:.2g} here")
        for k, v in out.items():
            np.save(os.path.join(d, k + ".npy"), np.ascontiguousarray(v))
        print(f"{name}: {len(m.classes_)} classes, {X.shape[1]} features, accuracy {m.score(Xd, y):.3f}")
    with open(os.path.join(OUT, "VERSION"), "w") as f:
        f.write(f"scikit-learn {skversion}, numpy {np.__version__}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
