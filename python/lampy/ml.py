"""Iterative learners with scikit-learn's class names, parameters and fitted attributes, each
fitted as ONE Lampy graph with a loop that runs inside it (lp.while_loop): no Python and no
round trip per iteration; every pass over X runs as chunked parallel tasks.

    KMeans                          Lloyd's algorithm (init: k-means++ with a seed, 'random', or
                                    given centers) -- the same centers and labels as
                                    scikit-learn's for the same init
    LogisticRegression              binary, L2 penalty (C), Newton's method (IRLS)
    PCA                             block power iteration on the covariance (one pass over X)
    QuadraticDiscriminantAnalysis   one pass over X (per-class covariances), scikit-learn's rule
    RegularizedDiscriminantAnalysis Friedman's RDA: alpha blends QDA (1) and LDA (0), gamma
                                    shrinks toward a multiple of the identity
    LinearDiscriminantAnalysis      Fisher's LDA (lampy.FisherLDA; solver='eigen' semantics)

Inputs are NumPy arrays or lazy lampy Arrays (.npy files stay on disk: read lp.load(path));
predict / transform / decision_function return lazy Arrays.
"""
import math

import numpy as np

from . import _lampy
from . import linalg as _linalg
from .loops import while_loop

__all__ = ["KMeans", "LogisticRegression", "PCA", "QuadraticDiscriminantAnalysis",
           "RegularizedDiscriminantAnalysis", "LinearDiscriminantAnalysis"]

NotFittedError = _lampy.NotFittedError
LinearDiscriminantAnalysis = _lampy.FisherLDA


def _as_float_X(X, what):
    X = _lampy.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{what}: X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"{what}: X is empty (shape {X.shape})")
    return X if X.dtype in (np.float32, np.float64) else X.astype("float64")


class _Estimator:
    """get_params / set_params / repr in scikit-learn's manner."""
    _params = ()

    def get_params(self, deep=True):
        return {p: getattr(self, p) for p in self._params}

    def set_params(self, **params):
        for k, v in params.items():
            if k not in self._params:
                raise ValueError(f"Invalid parameter {k!r} for estimator {type(self).__name__}")
            setattr(self, k, v)
        return self

    def __repr__(self):
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in self._params)
        return f"{type(self).__name__}({args})"

    def _check_fitted(self, attr):
        if not hasattr(self, attr):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                                 "appropriate arguments before using this estimator.")


def _random_state(seed):
    if isinstance(seed, np.random.RandomState):
        return seed
    return np.random.RandomState(seed)


# ---- k-means --------------------------------------------------------------------------------

def _same_clustering(a, b, k):
    """The same partition up to the numbering of the clusters."""
    mapping = np.full(k, -1)
    for la, lb in zip(a.tolist(), b.tolist()):
        if mapping[la] == -1:
            mapping[la] = lb
        elif mapping[la] != lb:
            return False
    return True


class KMeans(_Estimator):
    """K-means clustering by Lloyd's algorithm, as sklearn.cluster.KMeans(algorithm='lloyd').

    The fit centers X (as scikit-learn does, for accurate distances), chooses the initial
    centers (k-means++ draws from numpy.random.RandomState(random_state) exactly as
    scikit-learn does, so the same seed gives the same init), then runs every Lloyd iteration
    inside one graph: labels are the argmin of ||c||^2 - 2 x.c, centers the means of their
    points; it stops when the labels no longer change or the centers move less than tol
    (scaled by the mean feature variance), at most max_iter times. An empty cluster keeps its
    center (scikit-learn moves it to a far point).

    Fitted: cluster_centers_, labels_, inertia_, n_iter_, n_features_in_.
    """
    _params = ("n_clusters", "init", "n_init", "max_iter", "tol", "random_state", "copy_x", "algorithm")

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300, tol=1e-4,
                 random_state=None, copy_x=True, algorithm="lloyd"):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm

    # k-means++ (scikit-learn's _kmeans_plusplus, greedy, same random draws); Xc centered
    def _plusplus(self, Xc, xx, rows, rs):
        N = Xc.shape[0]
        k = self.n_clusters
        trials = 2 + int(math.log(k))
        centers = np.empty((k, Xc.shape[1]))
        first = rs.choice(N, p=np.full(N, 1.0 / N))
        centers[0] = rows([first])[0]

        def dist(C):
            C = _lampy.asarray(C)
            d = -2 * (C @ Xc.T) + (C * C).sum(axis=1)[:, None] + xx[None, :]
            return _lampy.maximum(d, 0.0)
        closest = dist(centers[:1])[0].run()
        pot = closest.sum()
        for c in range(1, k):
            rand = rs.uniform(size=trials) * pot
            ids = np.searchsorted(np.cumsum(closest, dtype=np.float64), rand)
            ids = np.clip(ids, None, N - 1)
            cand = rows(ids)
            dc = _lampy.minimum(dist(cand), _lampy.asarray(closest)[None, :])
            d, pots = _lampy.compute(dc, dc.sum(axis=1))
            best = int(np.argmin(pots))
            pot = pots[best]
            closest = d[best]
            centers[c] = cand[best]
        return centers

    def _lloyd(self, Xc, C0, tol):
        k = self.n_clusters
        ar = _lampy.arange(k)
        N = Xc.shape[0]

        def body(s):
            C, old, it, _ = s
            d = (C * C).sum(axis=1)[None, :] - 2 * (Xc @ C.T)
            lab = d.argmin(axis=1)
            onehot = lab[:, None] == ar[None, :]
            counts = onehot.sum(axis=0)
            sums = onehot.astype("float64").T @ Xc
            C1 = _lampy.where(counts[:, None] > 0, sums / _lampy.maximum(counts, 1)[:, None], C)
            shift = ((C1 - C) ** 2).sum()
            done = (lab == old).all() | (shift <= tol)
            return C1, lab, it + 1, done
        C, _, n_iter, _ = while_loop(lambda s: (s[2] < self.max_iter) & ~s[3], body,
                                     (C0, np.full(N, -1, np.int64), 0, False), max_iter=self.max_iter + 1)
        # scikit-learn's final E-step: labels and inertia of the final centers
        d = (C * C).sum(axis=1)[None, :] - 2 * (Xc @ C.T)
        lab = d.argmin(axis=1)
        inertia = ((Xc * Xc).sum(axis=1) + d.min(axis=1)).sum()
        return _lampy.compute(C, lab, inertia, n_iter)

    def fit(self, X, y=None):
        if self.algorithm not in ("lloyd", "auto", "full"):
            raise ValueError(f"KMeans: algorithm must be 'lloyd', got {self.algorithm!r}")
        X = _as_float_X(X, "KMeans")
        N, D = X.shape
        k = int(self.n_clusters)
        if not 1 <= k <= N:
            raise ValueError(f"n_samples={N} should be >= n_clusters={k}.")
        given = not isinstance(self.init, str)
        if not given and self.init not in ("k-means++", "random"):
            raise ValueError(f"KMeans: init must be 'k-means++', 'random' or an array, got {self.init!r}")
        n_init = self.n_init
        if n_init == "auto":
            n_init = 1 if given or self.init == "k-means++" else 10
        n_init = int(n_init)
        if n_init < 1:
            raise ValueError("KMeans: n_init must be at least 1")
        mean, var = _lampy.compute(X.mean(axis=0), X.var(axis=0))
        tol = float(np.mean(var)) * self.tol
        Xc = X - mean
        xx = (Xc * Xc).sum(axis=1)
        rs = _random_state(self.random_state)

        def rows(ids):
            return _lampy.concatenate([Xc[int(i):int(i) + 1] for i in ids]).run()
        best = None
        for _ in range(n_init):
            if given:
                C0 = np.asarray(self.init, dtype=np.float64) - mean
                if C0.shape != (k, D):
                    raise ValueError(f"KMeans: init has shape {C0.shape}; expected ({k}, {D})")
            elif self.init == "k-means++":
                C0 = self._plusplus(Xc, xx, rows, rs)
            else:
                C0 = rows(rs.choice(N, size=k, replace=False, p=np.full(N, 1.0 / N)))
            C, lab, inertia, n_iter = self._lloyd(Xc, C0, tol)
            # scikit-learn's choice: lower inertia, unless only the label numbering differs
            if best is None or (inertia < best[2] and not _same_clustering(lab, best[1], k)):
                best = (C, lab, float(inertia), int(n_iter))
        C, lab, inertia, n_iter = best
        self.cluster_centers_ = C + mean
        self.labels_ = lab.astype(np.int32)
        self.inertia_ = inertia
        self.n_iter_ = n_iter
        self.n_features_in_ = D
        return self

    def _distances(self, X):
        X = _as_float_X(X, "KMeans")
        C = self.cluster_centers_
        return (C * C).sum(axis=1)[None, :] - 2 * (X @ _lampy.asarray(C).T), X

    def predict(self, X):
        """Index of the closest center of each row (lazy)."""
        self._check_fitted("cluster_centers_")
        d, _ = self._distances(X)
        return d.argmin(axis=1).astype("int32")

    def fit_predict(self, X, y=None):
        return self.fit(X).labels_

    def transform(self, X):
        """Distances to the centers, (n_samples, n_clusters) (lazy)."""
        self._check_fitted("cluster_centers_")
        d, X = self._distances(X)
        return _lampy.sqrt(_lampy.maximum(d + (X * X).sum(axis=1)[:, None], 0.0))

    def fit_transform(self, X, y=None):
        return self.fit(X).transform(X)

    def score(self, X, y=None):
        """Minus the inertia of X with the fitted centers."""
        self._check_fitted("cluster_centers_")
        d, X = self._distances(X)
        return -float(((X * X).sum(axis=1) + d.min(axis=1)).sum().run())


# ---- logistic regression ----------------------------------------------------------------------

class LogisticRegression(_Estimator):
    """Binary logistic regression with an L2 penalty, fitted by Newton's method (IRLS) inside
    one graph: each iteration is one pass over X for the gradient and the Hessian
    (X' diag(p(1-p)) X), then a small solve. It minimizes scikit-learn's objective
    C * sum(log-loss) + ||w||^2 / 2 (the intercept is not penalized), so coef_ and intercept_
    match sklearn.linear_model.LogisticRegression's; it stops when the largest entry of the
    gradient of the mean loss is at most tol (scikit-learn's newton-cholesky criterion).

    Fitted: coef_ (1, n_features), intercept_ (1,), classes_, n_iter_ (1,), n_features_in_.
    """
    _params = ("penalty", "C", "fit_intercept", "tol", "max_iter", "solver")

    def __init__(self, penalty="l2", *, C=1.0, fit_intercept=True, tol=1e-4, max_iter=100, solver="newton"):
        self.penalty = penalty
        self.C = C
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.solver = solver

    def fit(self, X, y):
        if self.penalty not in ("l2", "deprecated"):
            raise ValueError(f"LogisticRegression: only the 'l2' penalty is supported, got {self.penalty!r}")
        if not self.C > 0:
            raise ValueError(f"LogisticRegression: C must be positive, got {self.C!r}")
        X = _as_float_X(X, "LogisticRegression")
        N, D = X.shape
        y = _lampy.asarray(y)
        if y.shape != (N,):
            raise ValueError(f"LogisticRegression: y must have shape ({N},), got {y.shape}")
        classes = np.unique(np.asarray(y.run()))
        if len(classes) != 2:
            raise ValueError(f"LogisticRegression: binary problems only; y has {len(classes)} classes")
        t = (y == _lampy.asarray(classes[1])).astype("float64")
        lam = 1.0 / (self.C * N)                      # scikit-learn's l2_reg_strength
        P = D + (1 if self.fit_intercept else 0)
        pen = np.ones(P)
        if self.fit_intercept:
            pen[-1] = 0.0
        pen = _lampy.asarray(pen)
        eye = _lampy.eye(P) * pen
        tol = float(self.tol)

        def parts(beta):
            w = beta[:D]
            z = X @ w + (beta[D] if self.fit_intercept else 0.0)
            p = 1.0 / (1.0 + _lampy.exp(-z))
            r = (p - t) / N
            s = p * (1.0 - p) / N
            gw = X.T @ r
            Hww = X.T @ (X * s[:, None])
            if self.fit_intercept:
                g = _lampy.concatenate([gw, r.sum()[None]])
                hb = X.T @ s
                H = _lampy.concatenate([_lampy.concatenate([Hww, hb[:, None]], axis=1),
                                        _lampy.concatenate([hb, s.sum()[None]])[None, :]], axis=0)
            else:
                g, H = gw, Hww
            return g + lam * pen * beta, H + lam * eye

        def body(s):
            beta, it, _ = s
            g, H = parts(beta)
            done = _lampy.abs(g).max() <= tol
            step = _linalg.solve(H, g)
            return _lampy.where(done, beta, beta - step), it + (~done).astype("int64"), done
        beta, n_iter, _ = while_loop(lambda s: (s[1] < self.max_iter) & ~s[2], body,
                                     (np.zeros(P), 0, False), max_iter=self.max_iter + 1)
        beta, n_iter = _lampy.compute(beta, n_iter)
        self.coef_ = beta[None, :D].copy()
        self.intercept_ = np.array([beta[D] if self.fit_intercept else 0.0])
        self.classes_ = classes
        self.n_iter_ = np.array([int(n_iter)], dtype=np.int32)
        self.n_features_in_ = D
        return self

    def decision_function(self, X):
        self._check_fitted("coef_")
        X = _as_float_X(X, "LogisticRegression")
        return X @ _lampy.asarray(self.coef_[0]) + float(self.intercept_[0])

    def predict_proba(self, X):
        p1 = 1.0 / (1.0 + _lampy.exp(-self.decision_function(X)))
        return _lampy.stack([1.0 - p1, p1], axis=1)

    def predict(self, X):
        d = self.decision_function(X)
        c = self.classes_
        return _lampy.where(d > 0, _lampy.asarray(c[1]), _lampy.asarray(c[0]))

    def score(self, X, y):
        return float((self.predict(X) == _lampy.asarray(y)).mean().run())


# ---- PCA ----------------------------------------------------------------------------------------

class PCA(_Estimator):
    """Principal component analysis, the top-k eigenvectors of the covariance found by block
    power iteration (subspace iteration with Rayleigh-Ritz) inside one graph.

    One pass over X gives the mean and the covariance (X - mean)'(X - mean) / (n - 1); the loop
    then multiplies a block of n_components + n_oversamples vectors by it, orthonormalizes it
    (Cholesky QR, twice), and stops when the top n_components Ritz pairs have residuals below
    tol times the largest eigenvalue (at most max_iter iterations). Signs follow scikit-learn's
    svd_flip (the largest entry of each component is positive), so components_ match
    sklearn.decomposition.PCA's.

    Fitted: components_, explained_variance_, explained_variance_ratio_, singular_values_,
    mean_, n_components_, n_samples_, n_features_in_, noise_variance_, n_iter_.
    """
    _params = ("n_components", "tol", "max_iter", "n_oversamples", "random_state")

    def __init__(self, n_components=None, *, tol=1e-12, max_iter=1000, n_oversamples=10, random_state=0):
        self.n_components = n_components
        self.tol = tol
        self.max_iter = max_iter
        self.n_oversamples = n_oversamples
        self.random_state = random_state

    def fit(self, X, y=None):
        X = _as_float_X(X, "PCA")
        N, D = X.shape
        kmax = min(N, D)
        k = kmax if self.n_components is None else int(self.n_components)
        if not 1 <= k <= kmax:
            raise ValueError(f"n_components={k} must be between 1 and min(n_samples, n_features)={kmax}")
        if N < 2:
            raise ValueError("PCA: at least 2 samples are needed")
        mean = X.mean(axis=0)
        Xc = X - mean
        Cov = (Xc.T @ Xc) / (N - 1)
        m = min(D, k + int(self.n_oversamples))
        rs = _random_state(self.random_state)
        Q0 = rs.standard_normal((D, m))
        tr = (Cov * _lampy.eye(D)).sum()
        # the shift keeps C + sigma I positive definite, so Cholesky QR stays defined on
        # covariances of rank below m; it moves no eigenvector
        sigma = tr / D * 1e-3 + 1e-300
        Cs = Cov + sigma * _lampy.eye(D)
        tol = float(self.tol)

        def orth(Z):
            for _ in range(2):
                L = _linalg.cholesky(Z.T @ Z)
                Z = _linalg.solve(L, Z.T).T
            return Z

        def body(s):
            Q, it, _ = s
            Z = orth(Cs @ Q)
            w, V = _linalg.eigh(Z.T @ Cov @ Z)     # ascending
            Y = Z @ V
            R = Cov @ Y - Y * w[None, :]
            res = _lampy.abs(R[:, m - k:]).max()
            done = res <= tol * _lampy.abs(w).max()
            return Y, it + 1, done
        Q, n_iter, _ = while_loop(lambda s: (s[1] < self.max_iter) & ~s[2], body, (Q0, 0, False),
                                  max_iter=self.max_iter + 1)
        w, V = _linalg.eigh(Q.T @ Cov @ Q)
        comps = (Q @ V).T
        mean, comps, w, trace, n_iter = _lampy.compute(mean, comps, w, tr, n_iter)
        order = np.argsort(-w, kind="stable")[:k]
        ev = np.maximum(w[order], 0.0)
        comps = comps[order]
        # svd_flip(u_based_decision=False): the largest |entry| of each component is positive
        big = np.argmax(np.abs(comps), axis=1)
        comps *= np.sign(comps[np.arange(k), big])[:, None]
        self.components_ = comps
        self.explained_variance_ = ev
        self.explained_variance_ratio_ = ev / trace
        self.singular_values_ = np.sqrt(ev * (N - 1))
        self.mean_ = mean
        self.n_components_ = k
        self.n_samples_ = N
        self.n_features_in_ = D
        self.noise_variance_ = float((trace - ev.sum()) / (kmax - k)) if k < kmax else 0.0
        self.n_iter_ = int(n_iter)
        return self

    def transform(self, X):
        self._check_fitted("components_")
        X = _as_float_X(X, "PCA")
        return (X - _lampy.asarray(self.mean_)) @ _lampy.asarray(self.components_.T.copy())

    def fit_transform(self, X, y=None):
        return self.fit(X).transform(X)

    def inverse_transform(self, X):
        self._check_fitted("components_")
        return _lampy.asarray(X) @ _lampy.asarray(self.components_) + _lampy.asarray(self.mean_)


# ---- quadratic / regularized discriminant analysis --------------------------------------------

class RegularizedDiscriminantAnalysis(_Estimator):
    """Friedman's regularized discriminant analysis: class covariances
    C_k = alpha S_k + (1 - alpha) S (S_k: QDA's class covariance, S: LDA's pooled one), then
    shrunk by gamma toward tr(C_k)/D I and by reg_param, as scikit-learn's QDA does with
    shrinkage (solver='eigen') and reg_param. alpha=1 is QuadraticDiscriminantAnalysis,
    alpha=0 the rule of LinearDiscriminantAnalysis (solver='lsqr' or 'eigen'). The fit is
    one chunked pass over X (per-class counts, means and scatter) and small eigen-problems.

    Fitted: classes_, priors_, means_, covariance_ (n_classes, D, D), rotations_, scalings_.
    """
    _params = ("alpha", "gamma", "reg_param", "priors")

    def __init__(self, alpha=1.0, gamma=0.0, *, reg_param=0.0, priors=None):
        self.alpha = alpha
        self.gamma = gamma
        self.reg_param = reg_param
        self.priors = priors

    def fit(self, X, y):
        pri = None if self.priors is None else [float(p) for p in self.priors]
        self._model = _lampy._rda_fit(X, y, float(self.alpha), float(self.gamma), float(self.reg_param), pri)
        for a in ("classes_", "priors_", "means_", "covariance_", "rotations_", "scalings_"):
            setattr(self, a, _lampy._rda_attr(self._model, a))
        self.n_features_in_ = self.means_.shape[1]
        return self

    def predict(self, X):
        """Labels (lazy), in y's dtype."""
        self._check_fitted("_model")
        return _lampy._rda_apply(self._model, "predict", X)

    def decision_function(self, X):
        """Per-class scores (n_samples, n_classes); for two classes the log-likelihood ratio
        of the second class (n_samples,). Lazy."""
        self._check_fitted("_model")
        return _lampy._rda_apply(self._model, "decision_function", X)

    def predict_proba(self, X):
        self._check_fitted("_model")
        d = self.decision_function(X)
        if len(self.classes_) == 2:
            p1 = 1.0 / (1.0 + _lampy.exp(-d))
            return _lampy.stack([1.0 - p1, p1], axis=1)
        e = _lampy.exp(d - d.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def score(self, X, y):
        return float((self.predict(X) == _lampy.asarray(y)).mean().run())


class QuadraticDiscriminantAnalysis(RegularizedDiscriminantAnalysis):
    """sklearn.discriminant_analysis.QuadraticDiscriminantAnalysis: the Gaussian rule with one
    covariance per class, shrinkage (a float; scikit-learn's solver='eigen') and reg_param;
    the same predictions."""
    _params = ("priors", "reg_param", "shrinkage")

    def __init__(self, *, priors=None, reg_param=0.0, shrinkage=None):
        super().__init__(alpha=1.0, gamma=0.0 if shrinkage is None else shrinkage, reg_param=reg_param,
                         priors=priors)
        self.shrinkage = shrinkage

    def fit(self, X, y):
        if isinstance(self.shrinkage, str):
            raise ValueError("QuadraticDiscriminantAnalysis: shrinkage must be None or a float in [0, 1]")
        self.gamma = 0.0 if self.shrinkage is None else float(self.shrinkage)
        return super().fit(X, y)
