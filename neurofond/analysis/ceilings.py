"""Noise ceilings: split-half reliability, explainable variance and its explained fraction.

Recorded responses to repeated presentations of a stimulus vary from trial to trial; no
model of the stimulus-driven response can predict that noise. The functions here measure
how much of the response is predictable in principle:

- :func:`split_half_reliability`: Pearson r between the trial-averaged responses of two
  random halves of the repetitions, Spearman-Brown corrected to the full number of
  repetitions -- Brain-Score's ``internal_consistency`` ceiling (Schrimpf et al. 2018);
- :func:`fev`: fraction of explainable variance, ``(Var_total - Var_noise) / Var_total``
  (Cadena et al. 2019; Sensorium / neuralpredictors);
- :func:`feve`: fraction of explainable variance explained by a model's predictions,
  ``1 - (MSE - Var_noise) / (Var_total - Var_noise)`` (Cadena et al. 2019; Willeke et al.
  2022);
- :func:`ceiled_score`: Brain-Score's ceiled neural score ``r**2 / ceiling``.

Inputs are ``Responses`` arrays (spike counts summed over a window) or arrays of shape
(trial, condition, neuron); NaN marks a missing trial (unequal repetition counts) and is
left out by nan-aware means and variances.

References
----------
Spearman C (1910) Correlation calculated from faulty data. Br J Psychol 3:271-295.
Brown W (1910) Some experimental results in the correlation of mental abilities.
Br J Psychol 3:296-322.
Schrimpf M, Kubilius J, Hong H, et al. (2018) Brain-Score: which artificial neural network
for object recognition is most brain-like? bioRxiv 407007.
Cadena SA, Denfield GH, Walker EY, et al. (2019) Deep convolutional models improve
predictions of macaque V1 responses to natural images. PLoS Comput Biol 15:e1006897.
Willeke KF, Fahey PG, Bashiri M, et al. (2022) The Sensorium competition on predicting
large-scale mouse primary visual cortex activity. arXiv:2206.08666.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurofond._checks import check_int, check_seed
from neurofond.analysis._base import _coords_on, _provenance, _responses_counts
from neurofond.analysis.scores import _nanmean, _nanmedian, _nanstd
from neurofond.responses import DIMS

__all__ = [
    "FEV_RTOL",
    "VARIANCE_RTOL",
    "spearman_brown",
    "split_half_reliability",
    "fev",
    "feve",
    "ceiled_score",
]

#: A total variance at or below ``VARIANCE_RTOL`` times the neuron's mean squared count is
#: treated as 0 (FEV and FEVE NaN): the sums of squares carry round-off of about 1e-16
#: relative to the squared counts, so a smaller variance is not distinguishable from none.
VARIANCE_RTOL = 1e-10
#: An explainable variance ``Var_total - Var_noise`` at or below ``FEV_RTOL`` times
#: ``Var_total`` is treated as 0: FEV is reported as 0 and FEVE as NaN. Without this guard
#: a unit with a single spike in the whole recording (FEV exactly 0, computed as ~1e-17)
#: divided by the round-off and gave FEVE = -2.7e14.
FEV_RTOL = 1e-8


def _trial_array(
    responses: Any, window_ms: Any, name: str
) -> tuple[np.ndarray, dict[str, Any], dict[str, Any], Any]:
    """(trial, condition, neuron) float64 counts plus condition and neuron coordinates."""
    if isinstance(responses, xr.DataArray) and tuple(responses.dims) == DIMS:
        counts = _responses_counts(responses, window_ms, name)
        cond = {k: ("condition", v) for k, (_, v) in _coords_on(responses, "stimulus").items()}
        neur = dict(_coords_on(responses, "neuron"))
        return counts, cond, neur, responses
    if window_ms is not None:
        raise ValueError("window_ms: only used with a Responses array")
    cond: dict[str, Any] = {}
    neur: dict[str, Any] = {}
    if isinstance(responses, xr.DataArray):
        if responses.ndim != 3:
            raise ValueError(
                f"{name}: expected dims (trial, condition, neuron) or a Responses array, got "
                f"{responses.dims}"
            )
        d_cond, d_neur = responses.dims[1], responses.dims[2]
        cond = {
            ("condition" if k == d_cond else k): ("condition", v)
            for k, (_, v) in _coords_on(responses, d_cond).items()
        }
        neur = {
            ("neuron" if k == d_neur else k): ("neuron", v)
            for k, (_, v) in _coords_on(responses, d_neur).items()
        }
        source: Any = responses
        values = responses.values
    else:
        source = None
        values = responses
    try:
        counts = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a numeric array, got {type(values).__name__}") from None
    if counts.ndim != 3:
        raise ValueError(
            f"{name}: expected a (trial, condition, neuron) array or a Responses array, got shape "
            f"{counts.shape}"
        )
    if 0 in counts.shape:
        raise ValueError(f"{name}: empty array of shape {counts.shape}")
    if np.isinf(counts).any():
        raise ValueError(f"{name}: contains infinite values")
    return counts, cond, neur, source


def spearman_brown(r: Any, n: float = 2.0) -> np.ndarray:
    """Spearman-Brown prophecy: reliability of a test ``n`` times as long.

    :math:`r_n = n r / (1 + (n - 1) r)` (Spearman 1910; Brown 1910). With ``n = 2`` it
    corrects a split-half correlation to the full set of repetitions (Brain-Score's
    ``SpearmanBrownCorrection``).

    Parameters
    ----------
    r : array-like
        Correlation(s).
    n : float
        Lengthening factor (> 0).

    Returns
    -------
    ndarray
        Corrected correlation(s); ``r = -1/(n-1)`` gives ``-inf``.
    """
    if not np.isfinite(n) or n <= 0:
        raise ValueError(f"n: expected a positive factor, got {n!r}")
    r = np.asarray(r, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return n * r / (1.0 + (n - 1.0) * r)


def _masked_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r along axis 0 over the rows where both are finite (NaN if < 2 or constant)."""
    ok = ~(np.isnan(a) | np.isnan(b))
    n = ok.sum(axis=0)
    a0 = np.where(ok, a, 0.0)
    b0 = np.where(ok, b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ma = a0.sum(axis=0) / np.maximum(n, 1)
        mb = b0.sum(axis=0) / np.maximum(n, 1)
        da = np.where(ok, a - ma, 0.0)
        db = np.where(ok, b - mb, 0.0)
        sab = (da * db).sum(axis=0)
        saa = (da * da).sum(axis=0)
        sbb = (db * db).sum(axis=0)
        good = (n >= 2) & (saa > 0) & (sbb > 0)
        r = np.where(good, sab / np.sqrt(np.where(good, saa * sbb, 1.0)), np.nan)
    return np.clip(r, -1.0, 1.0)


def split_half_reliability(
    responses: Any,
    n_splits: int = 10,
    seed: int | None = 1,
    *,
    window_ms: Sequence[float] | None = None,
) -> xr.Dataset:
    """Split-half reliability across repetitions, Spearman-Brown corrected (Brain-Score).

    For each of ``n_splits`` random splits of the repetitions (trials) into two halves,
    the responses are averaged over the trials of each half per condition; the Pearson r
    between the two halves' condition-averaged responses (over conditions) is computed per
    neuron and corrected with :func:`spearman_brown` (``n = 2``).

    Parameters
    ----------
    responses : Responses or array-like (trial, condition, neuron)
        Spike counts; a ``Responses`` array is summed over ``window_ms``. NaN = missing
        trial.
    n_splits : int
        Number of random half splits (default 10, Brain-Score).
    seed : int or None
        Random state of the splits (default 1, Brain-Score's ``random_state``).
    window_ms : (float, float), optional
        Counting window of a ``Responses`` array (default: all bins).

    Returns
    -------
    xarray.Dataset
        - ``reliability`` (split, neuron): Spearman-Brown corrected split-half r;
        - ``split_half_r`` (split, neuron): uncorrected r;
        - ``neuron_reliability`` (neuron): mean of ``reliability`` over splits;
        - ``median_reliability`` (split): median over neurons;
        - ``ceiling`` (): mean over splits of ``median_reliability`` (Brain-Score's
          ``internal_consistency`` value);
        - ``ceiling_error`` (): std (ddof=0) over splits / sqrt(n_splits).

    Raises
    ------
    ValueError
        If there are fewer than 2 trials or 2 conditions, or an argument is invalid.

    Notes
    -----
    Procedure of ``brainscore_vision.metrics.internal_consistency.InternalConsistency``:
    scikit-learn ``ShuffleSplit(n_splits, train_size=0.5, random_state=seed)`` over the
    trial indices (``floor(T/2)`` trials in the first half, the rest in the second),
    averaging over repetitions within each half, Pearson r per neuroid over stimuli,
    Spearman-Brown with ``n = 2``, median over neuroids, mean over splits, error
    ``std / sqrt(n_splits)``. With the trials in the order of the assembly's sorted unique
    ``repetition`` values the splits are the same.

    NaN trials are left out of the half averages (as xarray's ``mean`` does in
    Brain-Score); a condition whose trials in one half are all missing is left out of that
    neuron's correlation (Brain-Score would fail). NaN correlations (constant halves) are
    skipped by the median and the mean.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> rates = rng.gamma(2.0, 2.0, size=(1, 40, 5))  # 40 conditions, 5 neurons
    >>> counts = rng.poisson(rates, size=(20, 40, 5)).astype(float)
    >>> ds = split_half_reliability(counts)
    >>> 0.5 < float(ds.ceiling) <= 1
    True
    """
    counts, cond_coords, neur_coords, source = _trial_array(responses, window_ms, "responses")
    n_trials, n_cond, n_neur = counts.shape
    if n_trials < 2:
        raise ValueError(f"responses: split halves need >= 2 trials, got {n_trials}")
    if n_cond < 2:
        raise ValueError(f"responses: correlations over conditions need >= 2, got {n_cond}")
    n_splits = check_int(n_splits, "n_splits", 1)
    seed = check_seed(seed)
    from sklearn.model_selection import ShuffleSplit

    splitter = ShuffleSplit(n_splits=n_splits, train_size=0.5, test_size=None, random_state=seed)
    raw = np.full((n_splits, n_neur), np.nan)
    for s, (half1, half2) in enumerate(splitter.split(np.zeros(n_trials))):
        m1 = _nanmean(counts[half1], axis=0)
        m2 = _nanmean(counts[half2], axis=0)
        raw[s] = _masked_pearson(m1, m2)
    corrected = spearman_brown(raw, 2.0)
    median = _nanmedian(corrected, axis=1)
    coords: dict[str, Any] = {"split": np.arange(n_splits)}
    coords.update(neur_coords)
    attrs = _provenance(
        "split_half_reliability",
        source,
        n_splits=n_splits,
        seed=seed,
        window_ms=window_ms,
        n_trials=n_trials,
        n_conditions=n_cond,
        correction="Spearman-Brown, n=2",
        aggregation=(
            "ceiling = mean over splits of the median over neurons; ceiling_error = std(ddof=0) "
            "over splits / sqrt(n_splits) (Brain-Score internal_consistency)"
        ),
    )
    return xr.Dataset(
        {
            "reliability": (("split", "neuron"), corrected),
            "split_half_r": (("split", "neuron"), raw),
            "neuron_reliability": ("neuron", _nanmean(corrected, axis=0)),
            "median_reliability": ("split", median),
            "ceiling": ((), float(_nanmean(median, axis=0))),
            "ceiling_error": ((), float(_nanstd(median, axis=0) / math.sqrt(n_splits))),
        },
        coords=coords,
        attrs=attrs,
    )


def _check_ddof(ddof: Any) -> int:
    if ddof not in (0, 1) or isinstance(ddof, bool):
        raise ValueError(f"ddof: expected 0 or 1, got {ddof!r}")
    return int(ddof)


def _variances(
    counts: np.ndarray, ddof: int, trial_average: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-neuron total and noise variance, condition means and valid-trial counts."""
    valid = ~np.isnan(counts)
    n_c = valid.sum(axis=0)  # (condition, neuron)
    x0 = np.where(valid, counts, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_c = np.where(n_c > 0, x0.sum(axis=0) / np.maximum(n_c, 1), np.nan)
        ss_c = np.where(valid, (counts - mean_c) ** 2, 0.0).sum(axis=0)
        var_c = np.where(n_c > ddof, ss_c / np.maximum(n_c - ddof, 1), np.nan)
        if trial_average:
            noise = _nanmean(var_c / n_c, axis=0)
            m_ok = ~np.isnan(mean_c)
            k = m_ok.sum(axis=0)
            grand = np.where(m_ok, mean_c, 0.0).sum(axis=0) / np.maximum(k, 1)
            ss = np.where(m_ok, (mean_c - grand) ** 2, 0.0).sum(axis=0)
            total = np.where(k > ddof, ss / np.maximum(k - ddof, 1), np.nan)
        else:
            noise = _nanmean(var_c, axis=0)
            n = valid.sum(axis=(0, 1))
            grand = x0.sum(axis=(0, 1)) / np.maximum(n, 1)
            ss = np.where(valid, (counts - grand) ** 2, 0.0).sum(axis=(0, 1))
            total = np.where(n > ddof, ss / np.maximum(n - ddof, 1), np.nan)
    return total, noise, mean_c, n_c


def _guarded(counts: np.ndarray, total: np.ndarray, noise: np.ndarray) -> tuple[np.ndarray,
                                                                                   np.ndarray]:
    """FEV per neuron and the mask of neurons with explainable variance above round-off.

    Total variance <= ``VARIANCE_RTOL`` x mean squared count -> FEV NaN; explainable
    variance ``|total - noise|`` <= ``FEV_RTOL`` x total -> FEV 0 and not explainable.
    """
    scale = _nanmean(np.where(np.isnan(counts), np.nan, counts**2).reshape(-1, counts.shape[-1]),
                     axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        has_var = total > VARIANCE_RTOL * scale
        explainable = total - noise
        frac = np.where(has_var, explainable / np.where(has_var, total, 1.0), np.nan)
        zero = has_var & (np.abs(explainable) <= FEV_RTOL * total)
        frac = np.where(zero, 0.0, frac)
        above = has_var & (explainable > FEV_RTOL * total)
    return frac, above


def fev(
    responses: Any,
    *,
    window_ms: Sequence[float] | None = None,
    ddof: int = 1,
    trial_average: bool = False,
    clip: bool = True,
    return_stats: bool = False,
) -> xr.DataArray | xr.Dataset:
    """Fraction of explainable variance per neuron.

    :math:`\\mathrm{FEV} = (\\sigma^2_\\mathrm{total} - \\sigma^2_\\mathrm{noise}) /
    \\sigma^2_\\mathrm{total}` (Cadena et al. 2019): the share of the response variance
    that is stimulus-driven, i.e. not trial-to-trial noise.

    Parameters
    ----------
    responses : Responses or array-like (trial, condition, neuron)
        Spike counts (a ``Responses`` array is summed over ``window_ms``); NaN = missing
        trial.
    window_ms : (float, float), optional
        Counting window of a ``Responses`` array.
    ddof : {0, 1}
        Delta degrees of freedom of all variances (default 1, neuralpredictors).
    trial_average : bool
        False (default): variances of single-trial responses (Sensorium / neuralpredictors):
        :math:`\\sigma^2_\\mathrm{total}` = variance over all valid trials of all conditions,
        :math:`\\sigma^2_\\mathrm{noise}` = mean over conditions of the across-trial variance.
        True: the same for trial-averaged responses: :math:`\\sigma^2_\\mathrm{total}` =
        variance over conditions of the condition means, :math:`\\sigma^2_\\mathrm{noise}` =
        mean over conditions of (across-trial variance / number of valid trials), the
        sampling variance of a condition mean.
    clip : bool
        Set negative FEV (noise variance exceeding the total variance, a sampling effect for
        unreliable neurons) to 0 (default True).
    return_stats : bool
        Return a Dataset with ``fev``, ``total_variance`` and ``noise_variance``.

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        ``fev`` (neuron), with the neuron coordinates. NaN where the total variance is 0
        (at most :data:`VARIANCE_RTOL` times the mean squared count) or undefined; 0 where
        the explainable variance is within round-off (:data:`FEV_RTOL` times the total).

    Notes
    -----
    Trials are weighted equally in the total variance and conditions equally in the noise
    variance (neuralpredictors' ``compute_feve_from_target_and_outputs``); conditions with
    fewer than ``ddof + 1`` valid trials do not enter the noise variance. FEV of responses
    without stimulus dependence is 0 up to sampling error.
    """
    ddof = _check_ddof(ddof)
    counts, _, neur_coords, source = _trial_array(responses, window_ms, "responses")
    total, noise, _, _ = _variances(counts, ddof, bool(trial_average))
    frac, _ = _guarded(counts, total, noise)
    if clip:
        frac = np.where(frac < 0, 0.0, frac)
    attrs = _provenance(
        "fev",
        source,
        window_ms=window_ms,
        ddof=ddof,
        trial_average=bool(trial_average),
        clip=bool(clip),
        definition="(Var_total - Var_noise) / Var_total (Cadena et al. 2019)",
    )
    out = xr.DataArray(frac, dims=("neuron",), coords=neur_coords, name="fev", attrs=attrs)
    if not return_stats:
        return out
    return xr.Dataset(
        {
            "fev": out,
            "total_variance": ("neuron", total),
            "noise_variance": ("neuron", noise),
        },
        attrs=attrs,
    )


def _prediction_array(predictions: Any, shape: tuple[int, int, int]) -> np.ndarray:
    values = predictions.values if isinstance(predictions, xr.DataArray) else predictions
    try:
        pred = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"predictions: expected a numeric array, got {type(values)}") from None
    _, n_cond, n_neur = shape
    if pred.shape == (n_cond, n_neur):
        pred = np.broadcast_to(pred[None], shape)
    elif pred.shape != shape:
        raise ValueError(
            f"predictions: expected shape (condition, neuron) = {(n_cond, n_neur)} or "
            f"(trial, condition, neuron) = {shape}, got {pred.shape}"
        )
    if not np.isfinite(pred).all():
        raise ValueError("predictions: contains NaN or infinite values")
    return pred


def feve(
    predictions: Any,
    responses: Any,
    *,
    window_ms: Sequence[float] | None = None,
    ddof: int = 1,
    trial_average: bool = False,
    min_fev: float = 0.0,
    return_stats: bool = False,
) -> xr.DataArray | xr.Dataset:
    """Fraction of explainable variance explained by predictions, per neuron.

    :math:`\\mathrm{FEVE} = 1 - (\\mathrm{MSE} - \\sigma^2_\\mathrm{noise}) /
    (\\sigma^2_\\mathrm{total} - \\sigma^2_\\mathrm{noise})` (Cadena et al. 2019; Sensorium,
    Willeke et al. 2022): 1 for a model whose error is only the trial-to-trial noise, 0 for
    one no better than the mean response.

    Parameters
    ----------
    predictions : array-like (condition, neuron) or (trial, condition, neuron)
        Predicted responses (expected counts in the same window); (condition, neuron)
        predictions are used for every trial of a condition.
    responses : Responses or array-like (trial, condition, neuron)
        Recorded counts, as in :func:`fev`.
    window_ms, ddof, trial_average
        As in :func:`fev`. With ``trial_average=False`` the MSE is the mean over all valid
        single trials of ``(response - prediction)**2``; with True, the mean over conditions
        of ``(condition mean - mean prediction)**2``.
    min_fev : float
        Neurons whose FEV is ``<= min_fev`` get NaN (default 0: those whose noise variance
        reaches or exceeds the total variance, for which FEVE is undefined). Sensorium
        reports neurons above a threshold such as 0.15. Whatever ``min_fev``, neurons whose
        explainable variance is at most :data:`FEV_RTOL` (1e-8) times their total variance
        get NaN: the denominator is round-off there (a unit with one spike gave -2.7e14).
    return_stats : bool
        Return a Dataset with ``feve``, ``fev``, ``mse``, ``total_variance`` and
        ``noise_variance``.

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        ``feve`` (neuron).

    Notes
    -----
    Clipping rule: a neuron is excluded (NaN, no warning) when its FEV is not above
    ``min_fev``, in particular whenever ``Var_noise >= Var_total``; otherwise FEVE is
    reported unclipped (it exceeds 1 when the MSE is below the noise variance, e.g. for
    predictions fitted to the very trials they are scored on, and is negative for models
    worse than the mean). With ``ddof=1`` (neuralpredictors) the noise variance is unbiased
    for the error of the true condition means, so predicting them gives FEVE close to 1;
    the sample means of the same trials give exactly 1 with ``ddof=0`` and equal
    repetitions.
    """
    ddof = _check_ddof(ddof)
    try:
        min_fev = float(min_fev)
    except (TypeError, ValueError):
        raise ValueError(f"min_fev: expected a number, got {min_fev!r}") from None
    if np.isnan(min_fev):
        raise ValueError("min_fev: expected a number, got NaN")
    counts, _, neur_coords, source = _trial_array(responses, window_ms, "responses")
    pred = _prediction_array(predictions, counts.shape)
    total, noise, mean_c, n_c = _variances(counts, ddof, bool(trial_average))
    valid = ~np.isnan(counts)
    if trial_average:
        with np.errstate(invalid="ignore", divide="ignore"):
            pred_c = np.where(valid, pred, 0.0).sum(axis=0) / np.maximum(n_c, 1)
        mse = _nanmean(np.where(n_c > 0, (mean_c - pred_c) ** 2, np.nan), axis=0)
    else:
        sq = np.where(valid, (counts - pred) ** 2, 0.0).sum(axis=(0, 1))
        mse = sq / np.maximum(valid.sum(axis=(0, 1)), 1)
    frac, above = _guarded(counts, total, noise)
    explainable = total - noise
    keep = (frac > float(min_fev)) & above
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(keep, 1.0 - (mse - noise) / np.where(keep, explainable, 1.0), np.nan)
    attrs = _provenance(
        "feve",
        source,
        window_ms=window_ms,
        ddof=ddof,
        trial_average=bool(trial_average),
        min_fev=float(min_fev),
        definition=(
            "1 - (MSE - Var_noise) / (Var_total - Var_noise); NaN where FEV <= min_fev "
            "(Cadena et al. 2019)"
        ),
    )
    out = xr.DataArray(value, dims=("neuron",), coords=neur_coords, name="feve", attrs=attrs)
    if not return_stats:
        return out
    return xr.Dataset(
        {
            "feve": out,
            "fev": ("neuron", frac),
            "mse": ("neuron", mse),
            "total_variance": ("neuron", total),
            "noise_variance": ("neuron", noise),
        },
        attrs=attrs,
    )


def ceiled_score(score: Any, ceiling: Any) -> Any:
    """Brain-Score's ceiled neural score: ``score**2 / ceiling``.

    The raw predictivity (Pearson r) is squared into explained variance before it is
    divided by the split-half ceiling, as in
    ``brainscore_vision.benchmark_helpers.neural_common.explained_variance``.

    Parameters
    ----------
    score : float or array-like
        Raw score (e.g. ``cross_validated_predictivity(...).score``).
    ceiling : float or array-like
        Ceiling (e.g. ``split_half_reliability(...).ceiling``), > 0.

    Returns
    -------
    float or ndarray
    """
    s = np.asarray(score.values if isinstance(score, xr.DataArray) else score, dtype=float)
    c = np.asarray(ceiling.values if isinstance(ceiling, xr.DataArray) else ceiling, dtype=float)
    if np.any(~(c > 0)):
        raise ValueError(f"ceiling: expected a positive ceiling, got {c}")
    out = s**2 / c
    return float(out) if out.ndim == 0 else out
