"""Estimators predicting recorded neurons from model features (scikit-learn protocol).

Three estimators with a scikit-learn interface (``fit`` / ``predict`` / ``score``,
``get_params`` / ``set_params``, usable with :func:`sklearn.base.clone`):

- :class:`RidgePredictor`: ridge regression in closed form from one eigen-decomposition
  per fit, the penalty chosen by nested K-fold cross-validation over conditions;
- :class:`PLSPredictor`: partial least squares regression with Brain-Score's settings
  (25 components, ``scale=False``, NIPALS with ``max_iter=500``, ``tol=1e-6`` as
  :class:`sklearn.cross_decomposition.PLSRegression`), computed on the feature-target
  cross-covariance instead of the data matrices (same iterates, much faster);
- :class:`PoissonGLMPredictor`: Poisson GLM with log link (statsmodels) for single-trial
  spike counts.

``score`` is Brain-Score's per-split score (median over neurons of Pearson r). The
cross-validation driver is :func:`neurofond.analysis.predictivity.cross_validated_predictivity`.

References
----------
Wegelin JA (2000) A survey of partial least squares (PLS) methods, with emphasis on the
two-block case. Technical Report 371, Department of Statistics, University of Washington.
Hoerl AE, Kennard RW (1970) Ridge regression: biased estimation for nonorthogonal
problems. Technometrics 12:55-67.
McCullagh P, Nelder JA (1989) Generalized Linear Models, 2nd ed. Chapman & Hall.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.linalg
import xarray as xr

from neurofond._checks import check_int, check_seed
from neurofond.analysis.ridge_solvers import FeatureDesign, GramDesign
from neurofond.analysis.scores import _nanmedian, pearson_r
from neurofond.analysis.splits import _condition_codes, condition_splits

__all__ = [
    "DEFAULT_ALPHAS",
    "RidgePredictor",
    "PLSPredictor",
    "PoissonGLMPredictor",
]

#: Default ridge penalties: 21 values, half a decade apart, from 1e-3 to 1e7.
DEFAULT_ALPHAS: np.ndarray = np.logspace(-3, 7, 21)

_EPS = float(np.finfo(np.float64).eps)


def _as_matrix(values: Any, name: str, what: str = "n_features") -> tuple[np.ndarray, bool]:
    """A finite float64 2-D array (1-D input becomes one column); also whether it was 1-D."""
    if isinstance(values, (xr.DataArray, xr.Dataset)):
        if isinstance(values, xr.Dataset):
            raise ValueError(f"{name}: expected an array, got an xarray.Dataset")
        values = values.values
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a numeric array, got {type(values).__name__}") from None
    one_d = arr.ndim == 1
    if one_d:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (n_samples, {what}), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: empty array of shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return arr, one_d



class _Predictor:
    """Parameter handling and scoring shared by the estimators (scikit-learn protocol)."""

    _fitted_attr = "coef_"

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters (scikit-learn protocol)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> _Predictor:
        """Set constructor parameters (scikit-learn protocol); returns self."""
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"{key}: not a parameter of {type(self).__name__} ({valid})")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={_short(v)}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_attr):
            raise ValueError(f"{type(self).__name__}: not fitted; call fit(X, Y) first")

    def _check_X(self, X: Any) -> np.ndarray:
        self._check_fitted()
        X, _ = _as_matrix(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X: {X.shape[1]} features, the estimator was fitted on {self.n_features_in_}"
            )
        return X

    def _shape_output(self, pred: np.ndarray) -> np.ndarray:
        return pred[:, 0] if self._one_d else pred

    def predict(self, X: Any) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def score(self, X: Any, Y: Any) -> float:
        """Median over neurons of the Pearson r between ``predict(X)`` and ``Y``.

        This is the Brain-Score per-split score (``CrossRegressedCorrelation.aggregate``),
        not scikit-learn's R^2 default for regressors. NaN neurons (constant targets or
        predictions) are skipped.
        """
        Y, _ = _as_matrix(Y, "Y", "n_neurons")
        pred = np.asarray(self.predict(X), dtype=np.float64).reshape(Y.shape)
        return float(_nanmedian(pearson_r(Y, pred)[None, :], axis=1)[0])


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array(shape={value.shape})"
    return repr(value)


def _check_xy(X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    X, _ = _as_matrix(X, "X")
    Y, one_d = _as_matrix(Y, "Y", "n_neurons")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"Y: {Y.shape[0]} samples, X has {X.shape[0]}")
    return X, Y, one_d


class RidgePredictor(_Predictor):
    """Ridge regression with the penalty chosen by nested cross-validation over conditions.

    Minimises, for every neuron :math:`j`,
    :math:`\\lVert y_j - b_j - X w_j \\rVert^2 + \\alpha_j \\lVert w_j \\rVert^2`
    (Hoerl & Kennard 1970; intercept not penalised). All penalties are solved at once from
    one eigen-decomposition of the smaller Gram matrix (``X'X`` or ``XX'`` of the centred
    design), i.e. the closed-form SVD solution
    :math:`w(\\alpha) = V \\operatorname{diag}(s / (s^2 + \\alpha)) U' y`.

    Parameters
    ----------
    alphas : array-like of float, optional
        Candidate penalties (>= 0), absolute (they scale with ``X``'s squared norm; put the
        features on a common scale first if needed). Default :data:`DEFAULT_ALPHAS`,
        ``logspace(-3, 7, 21)``. A single value skips the inner cross-validation.
    inner_folds : int
        Folds of the nested K-fold cross-validation over the conditions (``groups``) of the
        training data (default 5). The penalty minimising the inner-validation mean squared
        error is chosen.
    alpha_per_target : bool
        True (default): one penalty per neuron, chosen on that neuron's inner-validation
        error (neurons differ in signal-to-noise ratio). False: one shared penalty
        minimising the error summed over neurons (scikit-learn ``RidgeCV`` default).
    fit_intercept : bool
        Fit an unpenalised intercept (centre ``X`` and ``Y``; default True).
    seed : int or None
        Random state of the inner folds (default 0).

    Attributes
    ----------
    coef_ : ndarray, shape (n_neurons, n_features)
    intercept_ : ndarray, shape (n_neurons,)
    alpha_ : ndarray, shape (n_neurons,)
        Chosen penalty per neuron (all equal when ``alpha_per_target=False``).
    cv_mse_ : ndarray, shape (n_alphas, n_neurons)
        Inner-validation mean squared error per candidate penalty (absent when only one
        penalty is given).
    n_features_in_ : int

    Notes
    -----
    Inner folds are drawn over conditions with :func:`condition_splits`
    (``kfold=True``), so repeats of one stimulus are never split between inner training
    and validation either. The eigen-decomposition is the dominant cost: one per inner
    fold and one for the final fit (O(min(n, p)^2 max(n, p))). When the final fit has a
    single penalty (one candidate, a shared penalty, or all neurons choosing the same one)
    it is solved by a Cholesky factorisation of the regularised Gram matrix instead, as
    scikit-learn's ``Ridge`` does.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 10)); W = rng.normal(size=(10, 3))
    >>> Y = X @ W + 0.1 * rng.normal(size=(200, 3))
    >>> model = RidgePredictor().fit(X, Y)
    >>> model.score(X, Y) > 0.99
    True
    """

    def __init__(
        self,
        alphas: Sequence[float] | np.ndarray | None = None,
        inner_folds: int = 5,
        alpha_per_target: bool = True,
        fit_intercept: bool = True,
        seed: int | None = 0,
    ) -> None:
        self.alphas = alphas
        self.inner_folds = inner_folds
        self.alpha_per_target = alpha_per_target
        self.fit_intercept = fit_intercept
        self.seed = seed

    def _alphas(self) -> np.ndarray:
        raw = DEFAULT_ALPHAS if self.alphas is None else self.alphas
        try:
            alphas = np.atleast_1d(np.asarray(raw, dtype=np.float64))
        except (TypeError, ValueError):
            raise ValueError(f"alphas: expected numbers, got {raw!r}") from None
        if alphas.ndim != 1 or alphas.size == 0:
            raise ValueError(f"alphas: expected a non-empty 1-D sequence, got {raw!r}")
        if not np.all(np.isfinite(alphas)) or np.any(alphas < 0):
            raise ValueError(f"alphas: expected finite penalties >= 0, got {alphas}")
        return alphas

    def fit(self, X: Any, Y: Any, groups: Any = None) -> RidgePredictor:
        """Fit on ``X`` (n_samples, n_features) and ``Y`` (n_samples, n_neurons).

        ``groups`` (n_samples,) are condition labels for the inner folds (default: every
        sample is its own condition).
        """
        X, Y, one_d = _check_xy(X, Y)
        design = FeatureDesign(X, self.fit_intercept)
        self.alpha_ = self._select_alphas(design, Y, groups)
        unique = np.unique(self.alpha_)
        coef = None
        if unique.size == 1 and unique[0] > 0:
            xm, ym, coef = design.direct(Y, None, float(unique[0]))
        if coef is None:
            f = design.factors(Y, None)
            xm, ym = f.xm, f.ym
            coef = f.basis @ f.weights(self.alpha_)  # (p, q)
        self.coef_ = coef.T
        self.intercept_ = ym - xm @ coef
        self.n_features_in_ = X.shape[1]
        self._one_d = one_d
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted responses, shape (n_samples, n_neurons)."""
        X = self._check_X(X)
        return self._shape_output(X @ self.coef_.T + self.intercept_)

    def _select_alphas(
        self,
        design: FeatureDesign | GramDesign,
        Y: np.ndarray,
        groups: Any,
        rows: np.ndarray | None = None,
    ) -> np.ndarray:
        """Penalty per neuron by nested K-fold CV over the conditions of ``rows``."""
        alphas = self._alphas()
        seed = check_seed(self.seed)
        rows = np.arange(Y.shape[0]) if rows is None else rows
        q = Y.shape[1]
        if alphas.size == 1:
            if hasattr(self, "cv_mse_"):
                del self.cv_mse_
            return np.full(q, alphas[0])
        folds = check_int(self.inner_folds, "inner_folds", 2)
        codes, labels = _condition_codes(groups, rows.size, "groups")
        if labels.size < folds:
            raise ValueError(
                f"inner_folds: {folds} folds but only {labels.size} conditions in the "
                "training data"
            )
        sse = np.zeros((alphas.size, q))
        for train_c, _ in condition_splits(labels.size, folds, seed=seed, kfold=True):
            inner = np.isin(codes, train_c)
            f = design.factors(Y, rows[inner])
            A = f.project(rows[~inner])
            R = Y[rows[~inner]] - f.ym
            for k, alpha in enumerate(alphas):
                with np.errstate(divide="ignore"):
                    d = 1.0 / (f.s2 + alpha)
                sse[k] += (((A * d) @ f.Z - R) ** 2).sum(axis=0)
        self.cv_mse_ = sse / rows.size
        if self.alpha_per_target:
            return alphas[np.argmin(sse, axis=0)]
        return np.full(q, alphas[int(np.argmin(sse.sum(axis=1)))])

    def _fit_predict_gram(
        self, design: GramDesign, Y: np.ndarray, train: np.ndarray, test: np.ndarray,
        groups: Any,
    ) -> np.ndarray:
        """Fit on rows ``train`` of a precomputed Gram design and predict rows ``test``.

        The same estimate as ``fit(X[train], Y[train], groups).predict(X[test])`` without
        forming a Gram matrix per fit (used by :func:`cross_validated_predictivity` when
        features outnumber samples). Sets ``alpha_`` only (no ``coef_``).
        """
        self.alpha_ = self._select_alphas(design, Y, groups, rows=train)
        unique = np.unique(self.alpha_)
        if unique.size == 1 and unique[0] > 0:
            pred = design.direct_predict(Y, train, float(unique[0]), test)
            if pred is not None:
                return pred
        f = design.factors(Y, train)
        return f.ym + f.project(test) @ f.weights(self.alpha_)


def _power_weights(
    C: np.ndarray, M: np.ndarray | None, j0: int, max_iter: int, tol: float
) -> tuple[np.ndarray, int]:
    """First left singular vector of C by scikit-learn's NIPALS power iteration.

    Reproduces ``_get_first_singular_vectors_power_method`` (mode A): ``w_1 ~ C e_j0``,
    ``w_{i+1} ~ C C' w_i``, stop when ``|w_{i+1} - w_i|^2 < tol`` or after ``max_iter``
    iterations. ``M`` is ``C' C`` (iterate in target space, ``w = C v / |C v|``) when
    ``C`` has no more columns than rows, else ``C C'`` (iterate ``w`` directly).
    """
    p, q = C.shape
    if q == 1 or M is None:
        w = C[:, j0].copy()
        return w / (math.sqrt(float(w @ w)) + _EPS), 1
    it = 1
    if M.shape[0] == q:  # target space
        v = np.zeros(q)
        v[j0] = 1.0
        u = M[:, j0].copy()
        vmv = float(u[j0])
        while it < max_iter:
            it += 1
            nu = math.sqrt(float(u @ u))
            if nu == 0.0 or vmv <= 0.0:
                break
            v = u / nu
            u = M @ v
            vmv_new = float(v @ u)
            cos = nu / math.sqrt(vmv * vmv_new) if vmv_new > 0 else 1.0
            vmv = vmv_new
            if 2.0 - 2.0 * cos < tol:
                break
        w = C @ v
    else:  # feature space
        w = C[:, j0] / (math.sqrt(float(C[:, j0] @ C[:, j0])) + _EPS)
        while it < max_iter:
            it += 1
            w_new = M @ w
            w_new /= math.sqrt(float(w_new @ w_new)) + _EPS
            diff = w_new - w
            w = w_new
            if float(diff @ diff) < tol:
                break
    return w / (math.sqrt(float(w @ w)) + _EPS), it


class PLSPredictor(_Predictor):
    """Partial least squares regression (PLS2, NIPALS), Brain-Score's ``pls`` settings.

    Parameters
    ----------
    n_components : int
        Number of latent components (default 25, Brain-Score; at most ``n_features``).
    scale : bool
        Standardise ``X`` and ``Y`` (``ddof=1``) before fitting (default False,
        Brain-Score's ``pls_regression``).
    max_iter : int
        Power-iteration cap per component (default 500, scikit-learn).
    tol : float
        Convergence tolerance on the squared change of the weight vector (default 1e-6).

    Attributes
    ----------
    coef_ : ndarray, shape (n_neurons, n_features)
    intercept_ : ndarray, shape (n_neurons,)
    x_weights_, x_loadings_ : ndarray, shape (n_features, n_components_)
    y_loadings_ : ndarray, shape (n_neurons, n_components_)
    n_iter_ : list of int
        Power iterations per component (``max_iter`` means not converged; no warning is
        issued, unlike scikit-learn).
    n_components_ : int
        Components fitted (fewer than ``n_components`` when the X or Y residual vanishes).

    Notes
    -----
    Same algorithm and settings as :class:`sklearn.cross_decomposition.PLSRegression`
    (Wegelin 2000, section 4.1; mode A, regression deflation), which Brain-Score's ``pls``
    metric wraps as ``PLSRegression(n_components=25, scale=False)`` with scikit-learn's
    defaults ``max_iter=500, tol=1e-6``. The difference is computational: with
    :math:`C_k = X_k' Y_k` the power iteration ``x_weights <- X' Y Y' X x_weights`` is run on
    ``C_k' C_k`` (or ``C_k C_k'``, whichever is smaller) instead of on the data, and
    :math:`C_{k+1} = C_k - (t_k' t_k) p_k q_k'` is deflated in closed form. The iterates and
    stopping rule are the same, so the fitted model equals scikit-learn's up to rounding,
    also where the iteration stops at ``max_iter`` unconverged. Predictions are
    ``(X - mean) @ W (P' W)^+ Q' + mean(Y)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 30)); Y = X[:, :4] + 0.1 * rng.normal(size=(100, 4))
    >>> PLSPredictor(n_components=5).fit(X, Y).score(X, Y) > 0.9
    True
    """

    def __init__(
        self,
        n_components: int = 25,
        scale: bool = False,
        max_iter: int = 500,
        tol: float = 1e-6,
    ) -> None:
        self.n_components = n_components
        self.scale = scale
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X: Any, Y: Any, groups: Any = None) -> PLSPredictor:
        """Fit on ``X`` (n_samples, n_features) and ``Y`` (n_samples, n_neurons).

        ``groups`` is accepted for a uniform interface and ignored.
        """
        X, Y, one_d = _check_xy(X, Y)
        n, p = X.shape
        q = Y.shape[1]
        K = check_int(self.n_components, "n_components", 1)
        if K > p:
            raise ValueError(f"n_components: at most n_features = {p}, got {K}")
        max_iter = check_int(self.max_iter, "max_iter", 1)
        tol = float(self.tol)
        if not np.isfinite(tol) or tol < 0:
            raise ValueError(f"tol: expected a non-negative number, got {self.tol!r}")
        x_mean, y_mean = X.mean(axis=0), Y.mean(axis=0)
        Xk, Yk = X - x_mean, Y - y_mean
        x_std, y_std = np.ones(p), np.ones(q)
        if self.scale:
            x_std = Xk.std(axis=0, ddof=1) if n > 1 else np.ones(p)
            x_std[x_std == 0.0] = 1.0
            y_std = Yk.std(axis=0, ddof=1) if n > 1 else np.ones(q)
            y_std[y_std == 0.0] = 1.0
            Xk /= x_std
            Yk /= y_std
        X0 = Xk  # centred (and scaled) X; its deflation X_k = X0 - T P' stays implicit
        C = X0.T @ Yk  # C_k = X_k' Y_k, deflated in closed form
        target_space = q <= p

        def gram() -> np.ndarray | None:
            if q == 1:
                return None
            return C.T @ C if target_space else C @ C.T

        M = gram()
        W = np.zeros((p, K))
        P = np.zeros((p, K))
        Q = np.zeros((q, K))
        T = np.zeros((n, K))
        n_iter: list[int] = []
        for k in range(K):
            tiny = np.all(np.abs(Yk) < 10 * _EPS, axis=0)
            if tiny.any():
                Yk[:, tiny] = 0.0
                if np.any(C[:, tiny] != 0.0):
                    C[:, tiny] = 0.0
                    M = gram()
            alive = np.flatnonzero(np.any(np.abs(Yk) > _EPS, axis=0))
            if alive.size == 0:  # Y residual constant (scikit-learn warns and stops)
                break
            w, it = _power_weights(C, M, int(alive[0]), max_iter, tol)
            t = X0 @ w - T[:, :k] @ (P[:, :k].T @ w)  # X_k w
            tt = float(t @ t)
            if not tt > 0.0:  # X residual exhausted
                break
            p_k = (X0.T @ t - P[:, :k] @ (T[:, :k].T @ t)) / tt  # X_k' t / t't
            q_k = (Yk.T @ t) / tt
            Yk -= np.outer(t, q_k)
            if M is not None:  # rank-2 update of the Gram matrix of C - tt p q'
                if target_space:
                    u = C.T @ p_k
                    M -= tt * (np.outer(q_k, u) + np.outer(u, q_k))
                    M += tt * tt * float(p_k @ p_k) * np.outer(q_k, q_k)
                else:
                    u = C @ q_k
                    M -= tt * (np.outer(p_k, u) + np.outer(u, p_k))
                    M += tt * tt * float(q_k @ q_k) * np.outer(p_k, p_k)
            C -= tt * np.outer(p_k, q_k)
            W[:, k], P[:, k], Q[:, k], T[:, k] = w, p_k, q_k, t
            n_iter.append(it)
        K_fit = len(n_iter)
        W, P, Q = W[:, :K_fit], P[:, :K_fit], Q[:, :K_fit]
        rotations = W @ scipy.linalg.pinv(P.T @ W, check_finite=False)
        coef = (rotations @ Q.T) * y_std / x_std[:, None]  # (p, q)
        self.coef_ = coef.T
        self.intercept_ = y_mean - x_mean @ coef
        self.x_weights_, self.x_loadings_, self.y_loadings_ = W, P, Q
        self.n_iter_ = n_iter
        self.n_components_ = K_fit
        self.n_features_in_ = p
        self._one_d = one_d
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted responses, shape (n_samples, n_neurons)."""
        X = self._check_X(X)
        return self._shape_output(X @ self.coef_.T + self.intercept_)


class PoissonGLMPredictor(_Predictor):
    """Poisson generalised linear model with log link, one per neuron (statsmodels).

    Models single-trial spike counts :math:`y \\sim \\mathrm{Poisson}(\\exp(b + x' w))`
    (McCullagh & Nelder 1989). ``predict`` returns the expected count
    :math:`\\exp(b + x' w)`.

    Parameters
    ----------
    alpha : float
        L2 penalty (>= 0). 0 (default): maximum likelihood by iteratively reweighted least
        squares (``statsmodels.GLM(...).fit()``). > 0: ``fit_regularized(L1_wt=0)``, which
        minimises :math:`-\\log L / n + (\\alpha/2) \\lVert w \\rVert^2` by L-BFGS; the
        intercept is not penalised.
    max_iter : int
        Iteration cap of IRLS / L-BFGS (default 100).
    tol : float
        IRLS convergence tolerance on the deviance (default 1e-8).

    Attributes
    ----------
    coef_ : ndarray, shape (n_neurons, n_features)
    intercept_ : ndarray, shape (n_neurons,)
        ``-inf`` for a neuron without a single spike in the training data (its predicted
        rate is 0).
    n_features_in_ : int

    Notes
    -----
    Fitting loops over neurons (about 0.15 s per IRLS fit on 2000 x 256). Features enter
    linearly on the log scale; scale them so that ``exp`` stays finite. statsmodels'
    convergence warnings are passed through.
    """

    def __init__(self, alpha: float = 0.0, max_iter: int = 100, tol: float = 1e-8) -> None:
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X: Any, Y: Any, groups: Any = None) -> PoissonGLMPredictor:
        """Fit on ``X`` (n_samples, n_features) and counts ``Y`` (n_samples, n_neurons).

        ``groups`` is accepted for a uniform interface and ignored.
        """
        import statsmodels.api as sm

        X, Y, one_d = _check_xy(X, Y)
        if np.any(Y < 0):
            raise ValueError("Y: Poisson targets must be non-negative counts")
        alpha = float(self.alpha)
        if not np.isfinite(alpha) or alpha < 0:
            raise ValueError(f"alpha: expected a penalty >= 0, got {self.alpha!r}")
        max_iter = check_int(self.max_iter, "max_iter", 1)
        n, p = X.shape
        exog = np.column_stack([np.ones(n), X])
        coef = np.zeros((Y.shape[1], p))
        intercept = np.full(Y.shape[1], -np.inf)
        penalty = alpha * np.r_[0.0, np.ones(p)]
        for j in range(Y.shape[1]):
            y = Y[:, j]
            mean = float(y.mean())
            if mean <= 0.0:
                continue
            start = np.r_[math.log(mean), np.zeros(p)]
            model = sm.GLM(y, exog, family=sm.families.Poisson())
            if alpha == 0.0:
                params = model.fit(start_params=start, maxiter=max_iter, tol=self.tol).params
            else:
                params = model.fit_regularized(
                    alpha=penalty,
                    L1_wt=0.0,
                    start_params=start,
                    opt_method="L-BFGS-B",
                ).params
            params = np.asarray(params, dtype=np.float64)
            intercept[j], coef[j] = params[0], params[1:]
        self.coef_ = coef
        self.intercept_ = intercept
        self.n_features_in_ = p
        self._one_d = one_d
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Expected counts ``exp(intercept + X coef')``, shape (n_samples, n_neurons)."""
        X = self._check_X(X)
        with np.errstate(over="ignore"):
            return self._shape_output(np.exp(X @ self.coef_.T + self.intercept_))


_MODELS: dict[str, type[_Predictor]] = {
    "ridge": RidgePredictor,
    "pls": PLSPredictor,
    "glm": PoissonGLMPredictor,
}


def _make_model(model: Any, model_params: Mapping[str, Any] | None) -> Any:
    params = dict(model_params or {})
    if isinstance(model, str):
        if model not in _MODELS:
            raise ValueError(
                f"model: expected one of {sorted(_MODELS)} or an estimator, got {model!r}"
            )
        try:
            return _MODELS[model](**params)
        except TypeError as err:
            raise ValueError(f"model_params: {err}") from None
    if not (hasattr(model, "fit") and hasattr(model, "predict")):
        raise ValueError(
            f"model: expected 'ridge', 'pls', 'glm' or an estimator with fit/predict, got {model!r}"
        )
    if params:
        raise ValueError("model_params: only used with a model name; configure the estimator")
    return model


def _fresh(estimator: Any) -> Any:
    """An unfitted copy with the same parameters (scikit-learn ``clone`` semantics)."""
    if hasattr(estimator, "get_params"):
        return type(estimator)(**estimator.get_params(deep=False))
    import copy

    return copy.deepcopy(estimator)


def _fit_accepts_groups(estimator: Any) -> bool:
    try:
        return "groups" in inspect.signature(estimator.fit).parameters
    except (TypeError, ValueError):
        return False
