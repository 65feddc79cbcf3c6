"""Cross-validated predictivity of recorded neurons from model features.

Regress every recorded neuron on a set of model features (model-neuron responses, layer
activations ...) and score the predictions on held-out stimuli, as in the neural
benchmarks of Brain-Score (Schrimpf et al. 2018; Yamins et al. 2014) and in system
identification of V1 (Cadena et al. 2019).

Splits are always drawn over **conditions** (stimuli): all repeats of one stimulus fall on
the same side of a split, so a model is never tested on a stimulus whose other repeats it
was trained on (:func:`condition_splits`, :class:`ConditionSplitter`).

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

:func:`cross_validated_predictivity` runs the outer cross-validation and returns Pearson r
and explained variance per neuron and split with the Brain-Score aggregate (median over
neurons, mean over splits, standard error over splits). Noise ceilings are in
:mod:`neurofond.analysis.ceilings`.

References
----------
Schrimpf M, Kubilius J, Hong H, et al. (2018) Brain-Score: which artificial neural network
for object recognition is most brain-like? bioRxiv 407007.
Yamins DLK, Hong H, Cadieu CF, et al. (2014) Performance-optimized hierarchical models
predict neural responses in higher visual cortex. PNAS 111:8619-8624.
Cadena SA, Denfield GH, Walker EY, et al. (2019) Deep convolutional models improve
predictions of macaque V1 responses to natural images. PLoS Comput Biol 15:e1006897.
Wegelin JA (2000) A survey of partial least squares (PLS) methods, with emphasis on the
two-block case. Technical Report 371, Department of Statistics, University of Washington.
Hoerl AE, Kennard RW (1970) Ridge regression: biased estimation for nonorthogonal
problems. Technometrics 12:55-67.
McCullagh P, Nelder JA (1989) Generalized Linear Models, 2nd ed. Chapman & Hall.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.linalg
import xarray as xr

from neurofond.analysis.ridge_solvers import FeatureDesign, GramDesign
from neurofond.analysis.tuning import (
    _check_responses,
    _coords_on,
    _provenance,
    _simple,
    _window_counts,
)
from neurofond.responses import DIMS

__all__ = [
    "DEFAULT_ALPHAS",
    "condition_splits",
    "ConditionSplitter",
    "RidgePredictor",
    "PLSPredictor",
    "PoissonGLMPredictor",
    "cross_validated_predictivity",
    "pearson_r",
]

#: Default ridge penalties: 21 values, half a decade apart, from 1e-3 to 1e7.
DEFAULT_ALPHAS: np.ndarray = np.logspace(-3, 7, 21)

_EPS = float(np.finfo(np.float64).eps)


# ----------------------------------------------------------------------------- validation


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


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_seed(seed: Any, name: str = "seed") -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{name}: expected a non-negative integer or None, got {seed!r}")
    return int(seed)


def _condition_codes(conditions: Any, n_samples: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Integer code per sample and the condition labels, in order of first appearance."""
    if conditions is None:
        return np.arange(n_samples), np.arange(n_samples)
    if isinstance(conditions, xr.DataArray):
        conditions = conditions.values
    labels = np.asarray(conditions)
    if labels.ndim != 1 or labels.shape[0] != n_samples:
        raise ValueError(
            f"{name}: expected one condition label per sample ({n_samples}), got shape "
            f"{labels.shape}"
        )
    if labels.dtype.kind == "f" and np.isnan(labels).any():
        raise ValueError(f"{name}: contains NaN labels")
    uniq, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # first-appearance order
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inverse.ravel()], uniq[order]


# ----------------------------------------------------------------------------- splits


def condition_splits(
    n_conditions: int,
    n_splits: int = 10,
    test_size: float | int = 0.1,
    seed: int | None = 1,
    stratify: Sequence[Any] | np.ndarray | None = None,
    *,
    kfold: bool = False,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test splits over conditions (stimuli), Brain-Score style.

    Parameters
    ----------
    n_conditions : int
        Number of conditions (distinct stimuli), >= 2.
    n_splits : int
        Number of splits (default 10, Brain-Score's default).
    test_size : float or int
        Shuffle splits: fraction in (0, 1) of the conditions held out per split (default
        0.1), or their number. A fraction gives ``n_train = floor((1 - test_size) *
        n_conditions)`` training conditions and the rest for testing, the convention of
        Brain-Score's ``train_size=0.9``. Ignored with ``kfold=True``.
    seed : int or None
        Random state (default 1, Brain-Score's ``random_state``). None draws fresh splits.
    stratify : sequence, optional
        One label per condition; splits then keep the label proportions
        (``StratifiedShuffleSplit`` / ``StratifiedKFold``, Brain-Score's
        ``stratification_coord``).
    kfold : bool
        K-fold partition (every condition tested exactly once; ``KFold(shuffle=True)``)
        instead of independent shuffle splits.

    Returns
    -------
    list of (ndarray, ndarray)
        ``(train, test)`` condition indices per split, each sorted ascending; disjoint.

    Raises
    ------
    ValueError
        If an argument is out of range (the message names it).

    Notes
    -----
    The splits are those of scikit-learn's ``ShuffleSplit(n_splits,
    train_size=1 - test_size, random_state=seed)`` (``StratifiedShuffleSplit``, ``KFold`` or
    ``StratifiedKFold`` where asked) over ``range(n_conditions)``. With ``seed=1``,
    ``test_size=0.1`` and the conditions in the order of the target assembly's
    ``stimulus_id`` values, they are the splits of Brain-Score's ``CrossValidation``
    (``brainscore_vision.metric_helpers.transformations.Split``) with
    ``stratification_coord=None``, so scores computed on them can be compared split by
    split.
    """
    n = _check_int(n_conditions, "n_conditions", 2)
    n_splits = _check_int(n_splits, "n_splits", 2 if kfold else 1)
    seed = _check_seed(seed)
    labels = None
    if stratify is not None:
        labels = np.asarray(stratify)
        if labels.ndim != 1 or labels.shape[0] != n:
            raise ValueError(
                f"stratify: expected one label per condition ({n}), got shape {labels.shape}"
            )
    from sklearn import model_selection as ms

    if kfold:
        if n_splits > n:
            raise ValueError(f"n_splits: {n_splits} folds for only {n} conditions")
        if labels is None:
            splitter = ms.KFold(n_splits=n_splits, shuffle=True, random_state=seed)
        else:
            splitter = ms.StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        train_size: float | int | None = None
    else:
        if isinstance(test_size, bool) or not isinstance(
            test_size, (int, float, np.integer, np.floating)
        ):
            raise ValueError(f"test_size: expected a fraction or a count, got {test_size!r}")
        if isinstance(test_size, (int, np.integer)):
            if not 1 <= test_size < n:
                raise ValueError(f"test_size: expected 1 <= test_size < {n}, got {test_size}")
            train_size = n - int(test_size)
        else:
            if not 0.0 < float(test_size) < 1.0:
                raise ValueError(f"test_size: expected a fraction in (0, 1), got {test_size}")
            train_size = 1.0 - float(test_size)
            n_train = math.floor(train_size * n)
            if n_train < 1 or n_train >= n:
                raise ValueError(
                    f"test_size: {test_size} leaves {n_train} training conditions of {n}"
                )
        kwargs = dict(n_splits=n_splits, train_size=train_size, test_size=None, random_state=seed)
        splitter = (
            ms.ShuffleSplit(**kwargs) if labels is None else ms.StratifiedShuffleSplit(**kwargs)
        )
    args = (np.zeros(n),) if labels is None else (np.zeros(n), labels)
    try:
        splits = list(splitter.split(*args))
    except ValueError as err:  # e.g. a stratum with a single member
        raise ValueError(f"stratify: {err}") from err
    return [(np.sort(tr), np.sort(te)) for tr, te in splits]


class ConditionSplitter:
    """Scikit-learn style cross-validation splitter over conditions.

    ``split(X, y, groups)`` yields sample indices; ``groups`` are the condition labels of the
    samples, so repeats of one condition never fall into both the training and the test
    set. Usable as ``cv=`` in :func:`sklearn.model_selection.cross_val_score`.

    Parameters
    ----------
    n_splits, test_size, seed, kfold
        As in :func:`condition_splits`.

    Examples
    --------
    >>> splitter = ConditionSplitter(n_splits=3, test_size=0.25)
    >>> conditions = np.repeat(np.arange(8), 5)  # 8 stimuli x 5 repeats
    >>> for train, test in splitter.split(np.zeros((40, 2)), groups=conditions):
    ...     assert not set(conditions[train]) & set(conditions[test])
    """

    def __init__(
        self,
        n_splits: int = 10,
        test_size: float | int = 0.1,
        seed: int | None = 1,
        *,
        kfold: bool = False,
    ) -> None:
        self.n_splits = n_splits
        self.test_size = test_size
        self.seed = seed
        self.kfold = kfold

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of splits."""
        return _check_int(self.n_splits, "n_splits", 1)

    def split(
        self, X: Any, y: Any = None, groups: Any = None, stratify: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train, test)`` sample indices.

        Parameters
        ----------
        X : array-like, shape (n_samples, ...)
            Only its length is used.
        y : ignored
        groups : array-like, shape (n_samples,), optional
            Condition label of every sample; default: every sample is its own condition.
        stratify : array-like, optional
            One label per condition (in order of first appearance in ``groups``) or per
            sample (constant within a condition).
        """
        n_samples = len(X)
        codes, labels = _condition_codes(groups, n_samples, "groups")
        strat = _stratify_per_condition(stratify, codes, labels.size)
        for train_c, test_c in condition_splits(
            labels.size, self.n_splits, self.test_size, self.seed, strat, kfold=self.kfold
        ):
            train = np.flatnonzero(np.isin(codes, train_c))
            test = np.flatnonzero(np.isin(codes, test_c))
            yield train, test

    def __repr__(self) -> str:
        return (
            f"ConditionSplitter(n_splits={self.n_splits}, test_size={self.test_size}, "
            f"seed={self.seed}, kfold={self.kfold})"
        )


def _stratify_per_condition(stratify: Any, codes: np.ndarray, n_conditions: int):
    if stratify is None:
        return None
    labels = np.asarray(stratify.values if isinstance(stratify, xr.DataArray) else stratify)
    if labels.ndim != 1:
        raise ValueError(f"stratify: expected a 1-D array of labels, got shape {labels.shape}")
    if labels.shape[0] == n_conditions:
        return labels
    if labels.shape[0] == codes.size:
        per = np.empty(n_conditions, dtype=labels.dtype)
        per[codes] = labels
        if not np.array_equal(per[codes], labels):
            raise ValueError("stratify: labels differ between repeats of one condition")
        return per
    raise ValueError(
        f"stratify: expected {n_conditions} labels (one per condition) or {codes.size} (one per "
        f"sample), got {labels.shape[0]}"
    )


# ----------------------------------------------------------------------------- scores


def pearson_r(y_true: Any, y_pred: Any) -> np.ndarray:
    """Pearson correlation per column (neuron) of two (n_samples, n_neurons) arrays.

    NaN where either column is constant. 1-D inputs are one column.
    """
    a = np.asarray(y_true, dtype=np.float64)
    b = np.asarray(y_pred, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"y_pred: shape {b.shape} differs from y_true's {a.shape}")
    if a.ndim == 1:
        a, b = a[:, None], b[:, None]
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    na = np.sqrt((a * a).sum(axis=0))
    nb = np.sqrt((b * b).sum(axis=0))
    num = (a * b).sum(axis=0)
    ok = (na > 0) & (nb > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(ok, num / np.where(ok, na * nb, 1.0), np.nan)
    return np.clip(r, -1.0, 1.0)


def _r2(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination per column: 1 - SSE / SST (NaN where SST = 0)."""
    sse = ((y - pred) ** 2).sum(axis=0)
    sst = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sst > 0, 1.0 - sse / np.where(sst > 0, sst, 1.0), np.nan)


def _explained_variance(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """1 - Var(y - pred) / Var(y) per column (NaN where Var(y) = 0)."""
    vr = np.var(y - pred, axis=0)
    vy = np.var(y, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(vy > 0, 1.0 - vr / np.where(vy > 0, vy, 1.0), np.nan)


def _nanmedian(x: np.ndarray, axis: int) -> np.ndarray:
    """NaN-skipping median without the all-NaN RuntimeWarning."""
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    out = np.full(x.shape[:-1], np.nan)
    valid = ~np.isnan(x)
    anyv = valid.any(axis=-1)
    if anyv.any():
        out[anyv] = np.nanmedian(x[anyv], axis=-1)
    return out


def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    valid = ~np.isnan(x)
    n = valid.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(valid, x, 0.0).sum(axis=axis) / np.maximum(n, 1), np.nan)


def _nanstd(x: np.ndarray, axis: int) -> np.ndarray:
    m = np.expand_dims(_nanmean(x, axis), axis)
    return np.sqrt(_nanmean((x - m) ** 2, axis))


# ----------------------------------------------------------------------------- estimators


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
        seed = _check_seed(self.seed)
        rows = np.arange(Y.shape[0]) if rows is None else rows
        q = Y.shape[1]
        if alphas.size == 1:
            if hasattr(self, "cv_mse_"):
                del self.cv_mse_
            return np.full(q, alphas[0])
        folds = _check_int(self.inner_folds, "inner_folds", 2)
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
        K = _check_int(self.n_components, "n_components", 1)
        if K > p:
            raise ValueError(f"n_components: at most n_features = {p}, got {K}")
        max_iter = _check_int(self.max_iter, "max_iter", 1)
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
        max_iter = _check_int(self.max_iter, "max_iter", 1)
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


# ----------------------------------------------------------------------------- data handling


def _is_responses(obj: Any) -> bool:
    return isinstance(obj, xr.DataArray) and tuple(obj.dims) == DIMS


def _responses_counts(
    responses: xr.DataArray, window_ms: Any, name: str, window_name: str = "window_ms"
) -> np.ndarray:
    _check_responses(responses, name)
    counts, _, _ = _window_counts(responses, window_ms, window_name)
    return counts  # (trial, stimulus, neuron)


def _trial_mean(counts: np.ndarray, name: str) -> np.ndarray:
    valid = ~np.isnan(counts)
    n = valid.sum(axis=0)
    if np.any(n == 0):
        stim = int(np.argwhere(n == 0)[0][0])
        raise ValueError(
            f"{name}: stimulus index {stim} has no valid trial for some neurons (NaN); select "
            "the neurons/stimuli that were recorded together (e.g. one session)"
        )
    return np.where(valid, counts, 0.0).sum(axis=0) / n


def _neuron_coords(targets: Any) -> tuple[str, dict[str, Any]]:
    """Name of the targets' neuron dim and its coordinates, renamed onto ``neuron``."""
    if _is_responses(targets):
        return "neuron", dict(_coords_on(targets, "neuron"))
    if isinstance(targets, xr.DataArray) and targets.ndim == 2:
        dim = str(targets.dims[1])
        return dim, {
            ("neuron" if k == dim else k): ("neuron", v)
            for k, (_, v) in _coords_on(targets, dim).items()
        }
    return "neuron", {}


# ----------------------------------------------------------------------------- main entry


def cross_validated_predictivity(
    features: Any,
    targets: Any,
    conditions: Any = None,
    *,
    model: str | Any = "ridge",
    model_params: Mapping[str, Any] | None = None,
    n_splits: int = 10,
    test_size: float | int = 0.1,
    seed: int | None = 1,
    kfold: bool = False,
    stratify: Any = None,
    average_test_repeats: bool = False,
    window_ms: Sequence[float] | None = None,
    features_window_ms: Sequence[float] | None = None,
    trial_average: bool = True,
) -> xr.Dataset:
    """Cross-validated prediction of recorded neurons from model features.

    For every split over conditions (:func:`condition_splits`) the estimator is fitted on
    the training samples and scored on the test samples, per neuron.

    Parameters
    ----------
    features : array-like (n_samples, n_features) or Responses
        Model features per sample. With ``targets`` given as a ``Responses`` array, one row
        per stimulus (expanded to trials when ``trial_average=False``), or a ``Responses``
        array of the model (averaged over trials, summed over ``features_window_ms``; same
        stimuli in the same order, checked on ``stimulus_id``).
    targets : array-like (n_samples, n_neurons) or Responses
        Recorded responses. A ``Responses`` array (dims trial, stimulus, neuron, time) is
        summed over ``window_ms`` and either averaged over trials (``trial_average=True``,
        nan-aware; one sample per stimulus) or kept as single trials (trials with NaN are
        dropped); the conditions are then its stimuli. A 2-D ``xarray.DataArray`` keeps its
        second dim's coordinates.
    conditions : array-like (n_samples,), optional
        Condition (stimulus) label of every sample; repeats of a label are kept together by
        the splits. Default: every sample is its own condition. Not allowed with
        ``Responses`` targets.
    model : {'ridge', 'pls', 'glm'} or estimator
        :class:`RidgePredictor`, :class:`PLSPredictor` (Brain-Score's ``pls``) or
        :class:`PoissonGLMPredictor` (single-trial counts), or any object with
        ``fit(X, Y[, groups])`` and ``predict(X)`` (refitted from its parameters on every
        split).
    model_params : mapping, optional
        Constructor arguments of the named model (e.g. ``{"n_components": 10}``).
    n_splits, test_size, seed, kfold
        Outer splits, see :func:`condition_splits` (defaults: Brain-Score's 10 shuffle
        splits, 90/10, ``random_state=1``).
    stratify : array-like or str, optional
        Stratification labels per condition or per sample, or the name of a stimulus
        coordinate of ``Responses`` targets (e.g. ``"orientation"``).
    average_test_repeats : bool
        Average predictions and responses over the repeats of each test condition before
        scoring (Sensorium's "correlation to average"). Default False: score every test
        sample.
    window_ms : (float, float), optional
        Counting window of ``Responses`` targets (bins whose centre lies in it); default
        the whole time range.
    features_window_ms : (float, float), optional
        The same for ``Responses`` features.
    trial_average : bool
        With ``Responses`` targets: average over trials (default) or use single trials.

    Returns
    -------
    xarray.Dataset
        - ``pearson_r`` (split, neuron): Pearson r between prediction and response on the
          test samples;
        - ``r2`` (split, neuron): coefficient of determination ``1 - SSE / SST`` on the test
          samples (SST around the test mean; can be negative);
        - ``explained_variance`` (split, neuron): ``1 - Var(y - y_hat) / Var(y)`` (ignores a
          constant offset, scikit-learn's ``explained_variance_score``);
        - ``median_r`` (split): median of ``pearson_r`` over neurons;
        - ``neuron_r`` (neuron): mean of ``pearson_r`` over splits;
        - ``score`` (): mean over splits of ``median_r`` -- Brain-Score's raw score;
        - ``score_error`` (): standard deviation (ddof=0) of ``median_r`` over splits
          divided by sqrt(n_splits) -- Brain-Score's ``error``;
        - ``median_explained_variance`` (split) and ``explained_variance_score`` (): the
          same aggregation of ``explained_variance``;
        - ``alpha`` (split, neuron): chosen ridge penalty (ridge only);
        - ``test_mask`` (split, condition): which conditions were tested in each split.

        Neuron coordinates of the targets are kept; attrs record the model, its
        parameters, the splits and the provenance.

    Raises
    ------
    ValueError
        If shapes disagree, arrays contain NaN/inf, or an argument is invalid (the message
        names it).

    Notes
    -----
    Aggregation follows Brain-Score's ``CrossRegressedCorrelation`` (median over neuroids
    per split, then ``Split.aggregate``: mean over splits, error =
    ``std(ddof=0) / sqrt(n_splits)``). NaN correlations (constant test responses or
    predictions) are skipped by the median and the means. Brain-Score's ceiled score is
    ``score ** 2 / ceiling`` (:func:`neurofond.analysis.ceilings.ceiled_score`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 20)); Y = X[:, :5] + rng.normal(size=(120, 5))
    >>> ds = cross_validated_predictivity(X, Y, model="pls", model_params={"n_components": 5})
    >>> 0.5 < float(ds.score) < 0.9
    True
    """
    estimator = _make_model(model, model_params)
    n_splits = _check_int(n_splits, "n_splits", 2 if kfold else 1)
    seed = _check_seed(seed)

    neuron_dim, neuron_coords = _neuron_coords(targets)
    if _is_responses(targets):
        if conditions is not None:
            raise ValueError("conditions: given by the stimuli of Responses targets; pass None")
        counts = _responses_counts(targets, window_ms, "targets")
        n_trial, n_stim, n_neur = counts.shape
        if trial_average:
            Y = _trial_mean(counts, "targets")
            stim_of_sample = np.arange(n_stim)
        else:
            valid = ~np.isnan(counts).any(axis=2)  # (trial, stimulus)
            stim_idx, trial_idx = np.nonzero(valid.T)  # stimulus-major order
            if stim_idx.size == 0:
                raise ValueError("targets: no trial without NaN")
            Y = counts[trial_idx, stim_idx, :]
            stim_of_sample = stim_idx
        codes, labels = _condition_codes(stim_of_sample, Y.shape[0], "conditions")
        if "stimulus_id" in targets.coords:
            labels = np.asarray(targets["stimulus_id"].values)[labels]
        if isinstance(stratify, str):
            if stratify not in targets.coords or targets[stratify].dims != ("stimulus",):
                raise ValueError(f"stratify: {stratify!r} is not a stimulus coordinate of targets")
            stratify = np.asarray(targets[stratify].values)[np.unique(stim_of_sample)]
        if _is_responses(features):
            fcounts = _responses_counts(
                features, features_window_ms, "features", "features_window_ms"
            )
            if "stimulus_id" in features.coords and "stimulus_id" in targets.coords:
                fid = np.asarray(features["stimulus_id"].values)
                tid = np.asarray(targets["stimulus_id"].values)
                if fid.shape != tid.shape or not np.array_equal(fid, tid):
                    raise ValueError(
                        "features: its stimulus_id values differ from those of targets (same "
                        "stimuli in the same order expected)"
                    )
            F = _trial_mean(fcounts, "features").reshape(fcounts.shape[1], -1)
        else:
            F, _ = _as_matrix(features, "features")
        if F.shape[0] == n_stim:
            X = F[stim_of_sample]
        elif F.shape[0] == Y.shape[0]:
            X = F
        else:
            raise ValueError(
                f"features: {F.shape[0]} rows; expected one per stimulus ({n_stim})"
                + ("" if trial_average else f" or per valid trial ({Y.shape[0]})")
            )
    else:
        if isinstance(stratify, str):
            raise ValueError("stratify: a coordinate name needs Responses targets")
        if _is_responses(features):
            raise ValueError("features: a Responses array needs Responses targets")
        X, _ = _as_matrix(features, "features")
        Y, _ = _as_matrix(targets, "targets", "n_neurons")
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"targets: {Y.shape[0]} samples, features have {X.shape[0]}")
        codes, labels = _condition_codes(conditions, X.shape[0], "conditions")
    n_cond = labels.size
    strat = _stratify_per_condition(stratify, codes, n_cond)
    splits = condition_splits(n_cond, n_splits, test_size, seed, strat, kfold=kfold)

    q = Y.shape[1]
    S = len(splits)
    r = np.full((S, q), np.nan)
    r2 = np.full((S, q), np.nan)
    ev = np.full((S, q), np.nan)
    alpha = np.full((S, q), np.nan)
    test_mask = np.zeros((S, n_cond), dtype=bool)
    pass_groups = _fit_accepts_groups(estimator)
    # Many features, few samples: one Gram matrix of all samples serves every split and
    # inner fold (kernel ridge; same estimates, see neurofond.analysis.ridge_solvers).
    gram = None
    if type(estimator) is RidgePredictor and X.shape[1] > X.shape[0]:
        gram = GramDesign.from_features(X, estimator.fit_intercept)
    for s, (train_c, test_c) in enumerate(splits):
        train = np.isin(codes, train_c)
        test = np.isin(codes, test_c)
        test_mask[s, test_c] = True
        est = _fresh(estimator)
        if gram is not None:
            pred = est._fit_predict_gram(
                gram, Y, np.flatnonzero(train), np.flatnonzero(test), codes[train]
            )
        else:
            if pass_groups:
                est.fit(X[train], Y[train], groups=codes[train])
            else:
                est.fit(X[train], Y[train])
            pred = np.asarray(est.predict(X[test]), dtype=np.float64)
        pred = pred.reshape(-1, q)
        y_test = Y[test]
        if average_test_repeats:
            tc = codes[test]
            uniq, inv = np.unique(tc, return_inverse=True)
            cnt = np.bincount(inv).astype(float)[:, None]
            pred = _group_mean(pred, inv, uniq.size, cnt)
            y_test = _group_mean(y_test, inv, uniq.size, cnt)
        r[s] = pearson_r(y_test, pred)
        r2[s] = _r2(y_test, pred)
        ev[s] = _explained_variance(y_test, pred)
        if hasattr(est, "alpha_"):
            alpha[s] = np.broadcast_to(np.asarray(est.alpha_, dtype=float), (q,))

    median_r = _nanmedian(r, axis=1)
    median_ev = _nanmedian(ev, axis=1)
    data_vars: dict[str, Any] = {
        "pearson_r": (("split", "neuron"), r),
        "r2": (("split", "neuron"), r2),
        "explained_variance": (("split", "neuron"), ev),
        "median_r": ("split", median_r),
        "neuron_r": ("neuron", _nanmean(r, axis=0)),
        "score": ((), float(_nanmean(median_r, axis=0))),
        "score_error": ((), float(_nanstd(median_r, axis=0) / math.sqrt(S))),
        "median_explained_variance": ("split", median_ev),
        "explained_variance_score": ((), float(_nanmean(median_ev, axis=0))),
        "test_mask": (("split", "condition"), test_mask),
    }
    if np.isfinite(alpha).any():
        data_vars["alpha"] = (("split", "neuron"), alpha)
    coords: dict[str, Any] = {"split": np.arange(S), "condition": labels}
    coords.update(neuron_coords)
    params = estimator.get_params() if hasattr(estimator, "get_params") else {}
    attrs = _provenance(
        "cross_validated_predictivity",
        targets,
        model=type(estimator).__name__,
        model_params=", ".join(f"{k}={_short(v)}" for k, v in params.items()),
        n_splits=S,
        test_size=float(test_size) if not kfold else "kfold",
        seed=seed,
        kfold=bool(kfold),
        stratified=strat is not None,
        average_test_repeats=bool(average_test_repeats),
        n_samples=int(Y.shape[0]),
        n_conditions=int(n_cond),
        n_features=int(X.shape[1]),
        window_ms=window_ms,
        trial_average=bool(trial_average) if _is_responses(targets) else "n/a",
        aggregation=(
            "score = mean over splits of the median over neurons of Pearson r; score_error = "
            "std(ddof=0) over splits / sqrt(n_splits) (Brain-Score)"
        ),
    )
    attrs["neuron_dim"] = _simple(neuron_dim)
    ds = xr.Dataset(data_vars, coords=coords, attrs=attrs)
    return ds


def _group_mean(values: np.ndarray, inv: np.ndarray, n_groups: int, counts: np.ndarray):
    out = np.zeros((n_groups, values.shape[1]))
    np.add.at(out, inv, values)
    return out / counts
