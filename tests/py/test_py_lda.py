"""lampy.FisherLDA / lp.fisher_lda against scikit-learn's LinearDiscriminantAnalysis(solver='eigen')."""
import numpy as np
import pytest

import lampy as lp



def blobs(n=3000, d=5, labels=(3, 7, 10), seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    y = rng.choice(np.array(labels), size=n)
    centers = {c: rng.normal(scale=3, size=d) for c in labels}
    X = np.stack([centers[c] for c in y]) + rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    return X.astype(dtype), y


def sklearn_lda(**kw):
    import sklearn.discriminant_analysis as sk
    return sk.LinearDiscriminantAnalysis(solver="eigen", **kw)


@pytest.mark.parametrize("shrinkage", [None, "auto", 0.3])
@pytest.mark.parametrize("labels", [(3, 7, 10), (0, 1), (True, False)], ids=str)
@pytest.mark.parametrize("chunks", [None, 257])
def test_matches_scikit_learn(shrinkage, labels, chunks):
    X, y = blobs(labels=labels)
    ref = sklearn_lda(shrinkage=shrinkage).fit(X, y)
    m = lp.fisher_lda(lp.asarray(X, chunks=chunks), y, shrinkage=shrinkage)
    assert isinstance(m, lp.FisherLDA)
    np.testing.assert_array_equal(m.classes_, ref.classes_)
    for name in ["priors_", "means_", "coef_", "intercept_", "explained_variance_ratio_"]:
        np.testing.assert_allclose(getattr(m, name), getattr(ref, name), rtol=1e-7, atol=1e-9,
                                   err_msg=name)
    assert m.n_features_in_ == X.shape[1]
    pred = m.predict(X)
    assert isinstance(pred, lp.Array)
    np.testing.assert_array_equal(pred.run(), ref.predict(X))
    np.testing.assert_allclose(m.decision_function(X).run(), ref.decision_function(X), rtol=1e-7,
                               atol=1e-7)
    # discriminant directions are defined up to sign
    t, rt = m.transform(X).run(), ref.transform(X)
    assert t.shape == rt.shape
    signs = np.sign(np.sum(t * rt, axis=0))
    np.testing.assert_allclose(t * signs, rt, rtol=1e-6, atol=1e-6)
    assert m.score(X, y) == pytest.approx(ref.score(X, y))


def test_estimator_api(tmp_path):
    X, y = blobs(d=4)
    m = lp.FisherLDA(n_components=1)
    assert "FisherLDA" in repr(m)
    assert m.get_params() == {"shrinkage": None, "priors": None, "n_components": 1}
    assert m.fit(X, y) is m
    assert m.transform(X).shape == (len(X), 1)
    assert m.fit_transform(X, y).shape == (len(X), 1)
    assert m.set_params(shrinkage="auto") is m and m.shrinkage == "auto"
    p = tmp_path / "model.npy"
    m.save(p)
    m2 = lp.FisherLDA.load(p)
    np.testing.assert_array_equal(m2.predict(X).run(), m.predict(X).run())
    np.testing.assert_allclose(m2.coef_, m.coef_)
    pri = lp.fisher_lda(X, y, priors=[0.2, 0.3, 0.5])
    np.testing.assert_allclose(pri.priors_, [0.2, 0.3, 0.5])


def test_errors():
    X, y = blobs(d=3)
    m = lp.FisherLDA()
    with pytest.raises(lp.NotFittedError):
        m.predict(X)
    with pytest.raises(AttributeError):
        m.coef_
    assert issubclass(lp.NotFittedError, ValueError)
    with pytest.raises(ValueError):
        lp.fisher_lda(X, np.zeros(len(X), dtype=np.int64))  # one class
    with pytest.raises(ValueError):
        lp.fisher_lda(X, y[:10])  # sizes
    bad = X.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError):
        lp.fisher_lda(bad, y)
    with pytest.raises(ValueError):
        lp.fisher_lda(X, y, shrinkage="lots")
    with pytest.raises(ValueError):
        lp.fisher_lda(X, y, shrinkage=1.5)
    const = X.copy()
    const[:, 2] = 1.0
    with pytest.raises(np.linalg.LinAlgError):
        lp.fisher_lda(const, y)
    lp.fisher_lda(const, y, shrinkage="auto")  # shrinkage makes it solvable
    fitted = lp.fisher_lda(X, y)
    with pytest.raises(ValueError):
        fitted.predict(np.zeros((4, 7)))
    with pytest.raises(FileNotFoundError):
        lp.FisherLDA.load("/nonexistent/model.npy")


def test_repeated_fits_keep_memory_flat():
    import gc
    import sys
    X, y = blobs(n=200, d=3)
    for _ in range(50):
        lp.fisher_lda(X, y).predict(X).run()
    gc.collect()
    b0 = sys.getallocatedblocks()
    for _ in range(500):
        m = lp.fisher_lda(X, y, shrinkage="auto")
        m.predict(X).run()
        m.coef_
    del m
    gc.collect()
    assert sys.getallocatedblocks() - b0 < 200
