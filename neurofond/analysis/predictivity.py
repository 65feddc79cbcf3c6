"""Cross-validated predictivity of recorded neurons from model features.

Regress every recorded neuron on a set of model features (model-neuron responses, layer
activations ...) and score the predictions on held-out stimuli, as in the neural
benchmarks of Brain-Score (Schrimpf et al. 2018; Yamins et al. 2014) and in system
identification of V1 (Cadena et al. 2019).

Splits are always drawn over **conditions** (stimuli): all repeats of one stimulus fall on
the same side of a split, so a model is never tested on a stimulus whose other repeats it
was trained on (:func:`condition_splits`, :class:`ConditionSplitter`).

This module is the driver; its pieces live in their own modules and are re-exported here:
splits in :mod:`neurofond.analysis.splits`, scores in :mod:`neurofond.analysis.scores`, and
three estimators in :mod:`neurofond.analysis.estimators`
(:class:`RidgePredictor`, :class:`PLSPredictor` with Brain-Score's settings,
:class:`PoissonGLMPredictor`; scikit-learn interface, described there).

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

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurofond._checks import check_int, check_seed
from neurofond.analysis._base import (
    _coords_on,
    _provenance,
    _responses_counts,
    _simple,
)
from neurofond.analysis.estimators import (
    DEFAULT_ALPHAS,
    PLSPredictor,
    PoissonGLMPredictor,
    RidgePredictor,
    _as_matrix,
    _fit_accepts_groups,
    _fresh,
    _make_model,
    _short,
)
from neurofond.analysis.ridge_solvers import GramDesign
from neurofond.analysis.scores import (
    _explained_variance,
    _nanmean,
    _nanmedian,
    _nanstd,
    _r2,
    pearson_r,
)
from neurofond.analysis.splits import (
    ConditionSplitter,
    _condition_codes,
    _stratify_per_condition,
    condition_splits,
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


# ----------------------------------------------------------------------------- data handling


def _is_responses(obj: Any) -> bool:
    return isinstance(obj, xr.DataArray) and tuple(obj.dims) == DIMS


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
    n_splits = check_int(n_splits, "n_splits", 2 if kfold else 1)
    seed = check_seed(seed)

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
