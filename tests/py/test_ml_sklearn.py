"""lampy.ml against scikit-learn: KMeans (same init: same labels and centers), logistic
regression (coefficients within 1e-6), PCA (components, variances), QDA / RDA (the same
predictions; RDA with alpha=1 is QDA, alpha=0 LDA) on scikit-learn's data sets and on
1M x 32 synthetic data."""
import numpy as np
import pytest
from sklearn import cluster, datasets, decomposition, linear_model
from threadpoolctl import threadpool_limits
from sklearn import discriminant_analysis as da

import lampy as lp
from lampy.ml import (PCA, KMeans, LinearDiscriminantAnalysis, LogisticRegression,
                      QuadraticDiscriminantAnalysis, RegularizedDiscriminantAnalysis)


@pytest.fixture(autouse=True)
def one_blas_thread():
    # scikit-learn's references on one BLAS thread: on a shared machine its threaded BLAS
    # only waits for cores (the results do not change)
    with threadpool_limits(limits=1):
        yield


def standardized(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)


def load(name):
    X, y = getattr(datasets, "load_" + name)(return_X_y=True)
    return (standardized(X) if name == "breast_cancer" else X), y


BLOBS = datasets.make_blobs(4000, 5, centers=4, cluster_std=1.5, random_state=0)


def same_kmeans(a, b):
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-9, atol=1e-12)
    assert a.n_iter_ == b.n_iter_
    assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-9)


def test_kmeans_given_init():
    X, _ = BLOBS
    init = X[[0, 1, 2, 3]]
    same_kmeans(KMeans(4, init=init).fit(X), cluster.KMeans(4, init=init, n_init=1).fit(X))


@pytest.mark.parametrize("seed", [0, 7])
def test_kmeans_plusplus_with_a_seed(seed):
    X, _ = BLOBS
    a, b = KMeans(4, random_state=seed).fit(X), cluster.KMeans(4, random_state=seed).fit(X)
    same_kmeans(a, b)
    Xi, _ = load("iris")
    same_kmeans(KMeans(3, random_state=seed).fit(Xi), cluster.KMeans(3, random_state=seed).fit(Xi))


def test_kmeans_random_init_several_runs_and_methods():
    X, _ = BLOBS
    a = KMeans(4, init="random", n_init=3, random_state=5).fit(X)
    b = cluster.KMeans(4, init="random", n_init=3, random_state=5).fit(X)
    same_kmeans(a, b)
    Xt = X[:300] + 0.25
    np.testing.assert_array_equal(np.asarray(a.predict(Xt).run()), b.predict(Xt))
    np.testing.assert_allclose(a.transform(Xt).run(), b.transform(Xt), rtol=1e-9)
    assert a.score(Xt) == pytest.approx(b.score(Xt), rel=1e-9)
    with pytest.raises(lp.NotFittedError):
        KMeans(2).predict(Xt)


@pytest.mark.parametrize("C,fit_intercept", [(0.1, True), (1.0, True), (10.0, True), (1.0, False)])
def test_logistic_regression_breast_cancer(C, fit_intercept):
    X, y = load("breast_cancer")
    a = LogisticRegression(C=C, fit_intercept=fit_intercept, tol=1e-10).fit(X, y)
    b = linear_model.LogisticRegression(C=C, fit_intercept=fit_intercept, solver="newton-cholesky", tol=1e-10,
                                        max_iter=1000).fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-6 * np.abs(b.coef_).max())
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(a.classes_, b.classes_)
    np.testing.assert_array_equal(np.asarray(a.predict(X).run()), b.predict(X))
    np.testing.assert_allclose(a.predict_proba(X).run(), b.predict_proba(X), rtol=1e-6, atol=1e-9)


def test_logistic_regression_labels_and_errors():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20_000, 8))
    y = np.where(X @ rng.normal(size=8) + rng.normal(size=20_000) > 0.3, 7, 3)
    a = LogisticRegression(C=2.0, tol=1e-10).fit(X, y)
    b = linear_model.LogisticRegression(C=2.0, solver="newton-cholesky", tol=1e-10).fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-6)
    assert a.score(X, y) == pytest.approx(b.score(X, y))
    with pytest.raises(ValueError, match="binary"):
        LogisticRegression().fit(X, np.arange(len(y)) % 3)


@pytest.mark.parametrize("name,k", [("iris", 2), ("wine", 5), ("digits", 10), ("breast_cancer", 3)])
def test_pca(name, k):
    X, _ = load(name)
    a, b = PCA(k).fit(X), decomposition.PCA(k, svd_solver="full").fit(X)
    np.testing.assert_allclose(a.components_, b.components_, atol=1e-6)
    for attr in ["explained_variance_", "explained_variance_ratio_", "singular_values_"]:
        np.testing.assert_allclose(getattr(a, attr), getattr(b, attr), rtol=1e-9, err_msg=attr)
    np.testing.assert_allclose(a.mean_, b.mean_, rtol=1e-12, atol=1e-12 * np.abs(X).max())
    assert a.noise_variance_ == pytest.approx(b.noise_variance_, rel=1e-9)
    assert a.n_components_ == b.n_components_
    np.testing.assert_allclose(a.transform(X).run(), b.transform(X), atol=1e-6 * np.abs(b.transform(X)).max())


# (data set, reg_param): breast_cancer (standardized) and digits have collinear features
QDA_SETS = [("iris", 0.0), ("wine", 0.0), ("breast_cancer", 0.01), ("digits", 0.05)]


def predictions(model, X):
    return np.asarray(model.predict(X).run())


@pytest.mark.parametrize("name,reg", QDA_SETS)
def test_qda_and_rda_against_scikit_learn(name, reg):
    X, y = load(name)
    ref = da.QuadraticDiscriminantAnalysis(reg_param=reg).fit(X, y)
    qda = QuadraticDiscriminantAnalysis(reg_param=reg).fit(X, y)
    np.testing.assert_array_equal(predictions(qda, X), ref.predict(X))
    np.testing.assert_allclose(qda.decision_function(X).run(), ref.decision_function(X), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(qda.predict_proba(X).run(), ref.predict_proba(X), atol=1e-8)
    np.testing.assert_allclose(qda.means_, ref.means_, rtol=1e-12)
    # RDA with alpha=1 is QDA
    rda1 = RegularizedDiscriminantAnalysis(alpha=1.0, reg_param=reg).fit(X, y)
    np.testing.assert_array_equal(predictions(rda1, X), ref.predict(X))
    # gamma is QDA's shrinkage (solver='eigen')
    g = RegularizedDiscriminantAnalysis(alpha=1.0, gamma=0.3).fit(X, y)
    np.testing.assert_array_equal(predictions(g, X),
                                  da.QuadraticDiscriminantAnalysis(solver="eigen", shrinkage=0.3).fit(X, y).predict(X))
    # alpha=0 is LDA (its covariance: LinearDiscriminantAnalysis with solver='lsqr'; with
    # gamma, its shrinkage)
    shr = 0.1 if name == "digits" else None
    lda = da.LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shr).fit(X, y)
    rda0 = RegularizedDiscriminantAnalysis(alpha=0.0, gamma=shr or 0.0).fit(X, y)
    np.testing.assert_array_equal(predictions(rda0, X), lda.predict(X))


def test_rda_errors_and_lda_alias():
    X, y = load("digits")
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        QuadraticDiscriminantAnalysis().fit(X, y)
    with pytest.raises(ValueError, match="alpha"):
        RegularizedDiscriminantAnalysis(alpha=1.5).fit(X, y)
    assert LinearDiscriminantAnalysis is lp.FisherLDA
    Xi, yi = load("iris")
    np.testing.assert_array_equal(predictions(LinearDiscriminantAnalysis().fit(Xi, yi), Xi),
                                  da.LinearDiscriminantAnalysis(solver="eigen").fit(Xi, yi).predict(Xi))


def test_qda_one_million_rows():
    rng = np.random.default_rng(11)
    n, d = 1_000_000, 32
    y = rng.integers(0, 3, size=n)
    X = rng.standard_normal((n, d))
    for k, s in enumerate([0.7, 1.0, 1.6]):
        X[y == k] *= s
        X[y == k, k] += 1.0
    ref = da.QuadraticDiscriminantAnalysis().fit(X, y)
    ours = QuadraticDiscriminantAnalysis().fit(X, y)
    np.testing.assert_array_equal(predictions(ours, X), ref.predict(X))
    np.testing.assert_allclose(ours.priors_, ref.priors_, rtol=1e-15)
