"""Trial-to-trial variability of spike counts: Fano factor, time-resolved and mean-matched.

Everything is computed on count arrays with vectorised numpy; the results equal
:func:`elephant.statistics.fanofactor` computed on ``neo.SpikeTrain`` objects holding the same
spikes (same ``ddof=0`` variance), at a small fraction of the cost (see
``benchmarks/bench_variability.py``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurofond.analysis._base import (
    _check_contiguous,
    _check_responses,
    _coords_on,
    _provenance,
    _select_time,
    _time_edges,
    _window_bins,
)
from neurofond.responses import holds_spike_counts

__all__ = ["fano_factor", "fano_factor_over_time", "mean_matched_fano"]


def _trial_stats(counts: np.ndarray, ddof: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, variance and number of valid trials of ``counts`` (trial, ...) over trials.

    The trial axis is moved last and made contiguous so that numpy reduces it with the same
    (pairwise) summation as elephant's 1-D ``var()`` / ``mean()``: the results are identical
    to the last bit. Slices with NaN (missing trials) fall back to ``nanmean``/``nanvar``.
    """
    x = np.ascontiguousarray(np.moveaxis(counts, 0, -1), dtype=np.float64)
    nan = np.isnan(x)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = x.mean(axis=-1)
        var = x.var(axis=-1, ddof=ddof)
        n = np.full(mean.shape, x.shape[-1])
        rows = nan.any(axis=-1)
        if rows.any():
            sub = x[rows]
            n[rows] = (~nan[rows]).sum(axis=-1)
            mean[rows] = np.nanmean(sub, axis=-1)
            var[rows] = np.nanvar(sub, axis=-1, ddof=ddof)
    var = np.where(n - ddof > 0, var, np.nan)
    return mean, var, n


def _fano(mean: np.ndarray, var: np.ndarray, n: np.ndarray, min_trials: int) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        ff = var / mean
    return np.where((mean > 0) & (n >= min_trials), ff, np.nan)


def _check_ddof(ddof: Any, min_trials: Any) -> tuple[int, int]:
    if ddof not in (0, 1):
        raise ValueError(f"ddof: expected 0 (elephant, default) or 1, got {ddof!r}")
    if int(min_trials) != min_trials or min_trials < 1:
        raise ValueError(f"min_trials: expected an integer >= 1, got {min_trials!r}")
    return int(ddof), int(min_trials)


def _stim_neuron_coords(responses: xr.DataArray) -> dict[str, Any]:
    coords: dict[str, Any] = {}
    coords.update(_coords_on(responses, "stimulus"))
    coords.update(_coords_on(responses, "neuron"))
    return coords


def _warn_if_not_counts(responses: xr.DataArray) -> None:
    """Fano factors are defined on spike counts; warn on activations (Gaussian models)."""
    if not holds_spike_counts(responses):
        warnings.warn(
            f"responses hold {responses.attrs.get('units')!r}, not spike counts: a Fano factor "
            "of activations depends on their arbitrary scale and is not comparable with "
            "recorded spike counts",
            UserWarning, stacklevel=3,
        )


def fano_factor(
    responses: xr.DataArray,
    window_ms: Sequence[float] | None = None,
    *,
    ddof: int = 0,
    min_trials: int = 2,
    return_stats: bool = False,
) -> xr.DataArray | xr.Dataset:
    """Fano factor of spike counts across trials, per stimulus and neuron.

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses`` spike counts, dims ``(trial, stimulus, neuron, time)``.
    window_ms : (float, float), optional
        Counting window, ``(start, end)`` in ms or a
        :class:`~neurofond.responses.Window`: whole bins inside it (an edge that cuts a
        bin raises).
        Default: the whole time range.
    ddof : {0, 1}
        Delta degrees of freedom of the variance. 0 (default) matches
        :func:`elephant.statistics.fanofactor` (``numpy.var``); 1 gives the unbiased variance.
    min_trials : int
        Fewer valid trials than this gives NaN (default 2; elephant returns 0 for one trial).
    return_stats : bool
        Return a Dataset with ``fano_factor``, ``mean_count``, ``variance`` and ``n_trials``
        instead of the Fano factor alone.

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        ``fano_factor``, dims ``(stimulus, neuron)`` with their coordinates; attrs carry the
        window and provenance.

    Raises
    ------
    ValueError
        If ``responses`` is not a valid Responses array, ``window_ms`` lies outside its time
        range, or ``ddof`` / ``min_trials`` are invalid.

    Notes
    -----
    :math:`F = \\mathrm{Var}(N) / \\mathrm{E}(N)` of the spike counts :math:`N` in the
    window across repeated trials (Fano 1947; Teich 1989; for cortex e.g. Churchland et al.
    2010). A Poisson process has :math:`F = 1`. A trial is missing when any of its bins in
    the window is NaN; missing trials are left out (nan-aware mean and variance). NaN where
    the mean count is 0 (elephant: all-empty trains give NaN) or fewer than ``min_trials``
    trials are valid. With ``ddof=0`` and no missing trial the value is bit-for-bit equal to
    ``elephant.statistics.fanofactor`` on the same spikes.

    Examples
    --------
    >>> import numpy as np
    >>> from neurofond.responses import make_responses
    >>> counts = np.array([1, 3, 2, 2])[:, None, None, None]
    >>> round(float(fano_factor(make_responses(counts, bin_ms=100.0))[0, 0]), 4)
    0.25
    """
    _check_responses(responses)
    _warn_if_not_counts(responses)
    ddof, min_trials = _check_ddof(ddof, min_trials)
    idx = _window_bins(responses, window_ms)
    counts = _select_time(np.asarray(responses.values), idx).sum(axis=-1, dtype=np.float64)
    mean, var, n = _trial_stats(counts, ddof)
    ff = _fano(mean, var, n, min_trials)
    starts, ends = _time_edges(responses)
    attrs = _provenance(
        "variability.fano_factor",
        responses,
        window_ms=(float(starts[idx].min()), float(ends[idx].max())),
        ddof=ddof,
        min_trials=min_trials,
    )
    coords = _stim_neuron_coords(responses)
    dims = ("stimulus", "neuron")
    out = xr.DataArray(ff, dims=dims, coords=coords, attrs=attrs, name="fano_factor")
    if not return_stats:
        return out
    return xr.Dataset(
        {
            "fano_factor": out,
            "mean_count": (dims, mean),
            "variance": (dims, var),
            "n_trials": (dims, n),
        },
        attrs=attrs,
    )


def _sliding_windows(
    responses: xr.DataArray, window_ms: float, step_ms: float, span_ms: Any
) -> tuple[np.ndarray, int, int]:
    """First-bin indices of each window, bins per window and bins per step."""
    _check_contiguous(responses)
    bin_ms = float(responses.attrs["bin_ms"])
    for name, value in (("window_ms", window_ms), ("step_ms", step_ms)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: expected a duration in ms, got {value!r}") from None
        ratio = value / bin_ms
        if not np.isfinite(value) or value <= 0 or abs(ratio - round(ratio)) > 1e-6:
            raise ValueError(
                f"{name}: expected a positive multiple of bin_ms={bin_ms:g}, got {value!r}"
            )
    w = int(round(float(window_ms) / bin_ms))
    s = int(round(float(step_ms) / bin_ms))
    idx = _window_bins(responses, span_ms, "span_ms")
    first, last = int(idx[0]), int(idx[-1])
    n_win = (last - first + 1 - w) // s + 1
    if n_win < 1:
        raise ValueError(
            f"window_ms: {window_ms:g} ms is longer than the analysed span of "
            f"{(last - first + 1) * bin_ms:g} ms"
        )
    return first + s * np.arange(n_win), w, s


def _windowed_stats(
    responses: xr.DataArray, window_ms: float, step_ms: float, span_ms: Any, ddof: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """mean, var, n of window counts with a trailing window axis; window start/end ms."""
    firsts, w, _ = _sliding_windows(responses, window_ms, step_ms, span_ms)
    values = np.asarray(responses.values)
    shape = (responses.sizes["stimulus"], responses.sizes["neuron"], firsts.size)
    mean, var = np.empty(shape), np.empty(shape)
    n = np.empty(shape, dtype=np.int64)
    for k, a in enumerate(firsts):
        counts = values[..., a : a + w].sum(axis=-1, dtype=np.float64)
        mean[..., k], var[..., k], n[..., k] = _trial_stats(counts, ddof)
    starts, ends = _time_edges(responses)
    return mean, var, n, starts[firsts], ends[firsts + w - 1]


def fano_factor_over_time(
    responses: xr.DataArray,
    window_ms: float,
    step_ms: float,
    *,
    span_ms: Sequence[float] | None = None,
    ddof: int = 0,
    min_trials: int = 2,
) -> xr.DataArray:
    """Time-resolved Fano factor in sliding windows.

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses`` with contiguous time bins.
    window_ms : float
        Width of each counting window (a positive multiple of ``bin_ms``).
    step_ms : float
        Step between window starts (a positive multiple of ``bin_ms``).
    span_ms : (float, float), optional
        Restrict the windows to the bins inside this range (the :class:`~neurofond.responses.Window`
        rule); default all.
    ddof, min_trials
        As in :func:`fano_factor`.

    Returns
    -------
    xarray.DataArray
        ``fano_factor``, dims ``(stimulus, neuron, time)``; ``time`` carries the window edges
        ``time_start_ms`` / ``time_end_ms`` (windows start at the first bin and stop before
        they would pass the last bin).

    Raises
    ------
    ValueError
        If the bins are not contiguous, ``window_ms`` / ``step_ms`` are not positive
        multiples of ``bin_ms``, or the window is longer than the span.

    Notes
    -----
    Each window is treated as in :func:`fano_factor` (same definition, missing trials and
    NaN rules). Churchland et al. (2010) Nat Neurosci 13:369-378 used 50 ms windows.

    Examples
    --------
    >>> import numpy as np
    >>> from neurofond.responses import make_responses
    >>> rng = np.random.default_rng(0)
    >>> r = make_responses(rng.poisson(1.0, (50, 1, 2, 20)), bin_ms=10.0)
    >>> fano_factor_over_time(r, 50.0, 10.0).sizes["time"]
    16
    """
    _check_responses(responses)
    _warn_if_not_counts(responses)
    ddof, min_trials = _check_ddof(ddof, min_trials)
    mean, var, n, t0, t1 = _windowed_stats(responses, window_ms, step_ms, span_ms, ddof)
    ff = _fano(mean, var, n, min_trials)
    coords = _stim_neuron_coords(responses)
    coords["time_start_ms"] = ("time", t0)
    coords["time_end_ms"] = ("time", t1)
    attrs = _provenance(
        "variability.fano_factor_over_time",
        responses,
        window_ms=float(window_ms),
        step_ms=float(step_ms),
        span_ms=span_ms,
        ddof=ddof,
        min_trials=min_trials,
    )
    return xr.DataArray(
        ff, dims=("stimulus", "neuron", "time"), coords=coords, attrs=attrs, name="fano_factor"
    )


def _slope_terms(
    m: np.ndarray, v: np.ndarray, n: np.ndarray, weighted: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per-point contributions ``w*m*v`` and ``w*m^2`` to a slope through the origin."""
    if not weighted:
        return m * v, m * m
    # w = 1 / Var(s^2) with Var(s^2) = m/n + 2 m^2/(n-1) (Poisson); written stably at m -> 0
    denom = 1.0 / n + 2.0 * m / np.maximum(n - 1, 1)
    return v / denom, m / denom


def mean_matched_fano(
    responses: xr.DataArray,
    window_ms: float,
    step_ms: float,
    *,
    span_ms: Sequence[float] | None = None,
    n_hist_bins: int = 10,
    n_resamples: int = 50,
    weighted: bool = True,
    ddof: int = 0,
    min_trials: int = 2,
    seed: int | None = 0,
) -> xr.Dataset:
    """Mean-matched Fano factor over time (Churchland et al. 2010).

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses`` with contiguous time bins. Every (stimulus, neuron) pair is one data
        point per window.
    window_ms, step_ms : float
        Sliding counting windows, as in :func:`fano_factor_over_time`.
    span_ms : (float, float), optional
        Restrict the windows to this range.
    n_hist_bins : int
        Number of equal-width bins of the mean-count histogram, spanning 0 to the largest
        mean count over all windows.
    n_resamples : int
        Number of random subsamplings averaged.
    weighted : bool
        Weight the regression by the inverse sampling variance of each point's variance
        (True, as Churchland et al.) or not.
    ddof, min_trials
        As in :func:`fano_factor` (``min_trials`` must be >= 2).
    seed : int or None
        Seed of :func:`numpy.random.default_rng`; fixed seed -> identical results.

    Returns
    -------
    xarray.Dataset
        Over ``time`` (window edges in ``time_start_ms`` / ``time_end_ms``):
        ``fano_factor`` (mean-matched, mean over resamples), ``fano_factor_std`` (SD over
        resamples), ``fano_factor_raw`` (same regression on all points, no matching),
        ``mean_count`` (mean over the retained points, averaged over resamples),
        ``mean_count_raw``, ``n_points`` (points per window before matching) and
        ``n_matched`` (points kept per window, equal for all windows).

    Raises
    ------
    ValueError
        If the windows are invalid (see :func:`fano_factor_over_time`), ``n_hist_bins`` or
        ``n_resamples`` < 1, or ``min_trials`` < 2.

    Notes
    -----
    Procedure of Churchland et al. (2010) Nat Neurosci 13:369-378: for each window compute,
    for every neuron x condition, the mean and variance of the count across trials. Build
    the histogram of the means in each window; the greatest common distribution takes, in
    each histogram bin, the smallest count over windows. In each window, points are then
    discarded at random within each histogram bin until that common count remains, so that
    all windows share the same distribution of means. The Fano factor of a window is the
    slope of the regression of variance on mean through the origin,
    :math:`\\sum w m v / \\sum w m^2`, with weights :math:`w = 1/(m/n + 2m^2/(n-1))`, the
    inverse sampling variance of a sample variance of :math:`n` Poisson counts (an
    approximation of the weighting of Churchland et al.), or :math:`w = 1`. Points with a
    mean of 0 contribute nothing to the slope. The random discarding is repeated
    ``n_resamples`` times and the slopes averaged. Points with fewer than ``min_trials``
    valid trials are excluded. Churchland et al. used ``ddof=1`` (MATLAB ``var``); the
    default here is 0 for consistency with :func:`fano_factor`.

    Examples
    --------
    >>> import numpy as np
    >>> from neurofond.responses import make_responses
    >>> rng = np.random.default_rng(0)
    >>> lam = rng.uniform(0.5, 3, (1, 20, 30, 1)) * np.linspace(1, 2, 20)
    >>> r = make_responses(rng.poisson(lam, (40, 20, 30, 20)), bin_ms=10.0)
    >>> ds = mean_matched_fano(r, 50.0, 50.0, n_resamples=10)
    >>> bool(np.all(np.abs(ds["fano_factor"] - 1) < 0.15))
    True
    """
    _check_responses(responses)
    _warn_if_not_counts(responses)
    ddof, min_trials = _check_ddof(ddof, min_trials)
    if min_trials < 2:
        raise ValueError(f"min_trials: mean-matching needs >= 2 trials, got {min_trials}")
    if int(n_hist_bins) != n_hist_bins or n_hist_bins < 1:
        raise ValueError(f"n_hist_bins: expected an integer >= 1, got {n_hist_bins!r}")
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise ValueError(f"n_resamples: expected an integer >= 1, got {n_resamples!r}")
    n_hist_bins, n_resamples = int(n_hist_bins), int(n_resamples)
    mean, var, n, t0, t1 = _windowed_stats(responses, window_ms, step_ms, span_ms, ddof)
    n_win = t0.size
    # points: (window, unit)
    m = mean.reshape(-1, n_win).T
    v = var.reshape(-1, n_win).T
    nn = n.reshape(-1, n_win).T.astype(float)
    valid = np.isfinite(m) & np.isfinite(v) & (nn >= min_trials)
    w_idx, _ = np.nonzero(valid)
    m, v, nn = m[valid], v[valid], nn[valid]
    top = float(m.max()) if m.size else 0.0
    edges = np.linspace(0.0, top if top > 0 else 1.0, n_hist_bins + 1)
    b_idx = np.clip(np.searchsorted(edges, m, side="right") - 1, 0, n_hist_bins - 1)
    group = w_idx * n_hist_bins + b_idx
    hist = np.bincount(group, minlength=n_win * n_hist_bins).reshape(n_win, n_hist_bins)
    common = hist.min(axis=0)

    num_all, den_all = _slope_terms(m, v, nn, weighted)
    n_points = np.bincount(w_idx, minlength=n_win)
    with np.errstate(invalid="ignore", divide="ignore"):
        ff_raw = np.bincount(w_idx, num_all, n_win) / np.bincount(w_idx, den_all, n_win)
        mean_raw = np.bincount(w_idx, m, n_win) / n_points

    order0 = np.argsort(group, kind="stable")
    g_sorted = group[order0]
    first_of_group = np.searchsorted(g_sorted, g_sorted, side="left")
    rank_base = np.arange(g_sorted.size) - first_of_group
    keep_limit = common[g_sorted % n_hist_bins]
    rng = np.random.default_rng(seed)
    ff = np.full((n_resamples, n_win), np.nan)
    mm = np.full((n_resamples, n_win), np.nan)
    for r in range(n_resamples):
        # random order within each group: sort by group + uniform key
        perm = np.argsort(g_sorted + rng.random(g_sorted.size), kind="stable")
        chosen = order0[perm[rank_base < keep_limit]]
        wi = w_idx[chosen]
        with np.errstate(invalid="ignore", divide="ignore"):
            ff[r] = np.bincount(wi, num_all[chosen], n_win) / np.bincount(
                wi, den_all[chosen], n_win
            )
            mm[r] = np.bincount(wi, m[chosen], n_win) / np.bincount(wi, minlength=n_win)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ff_mean = np.nanmean(ff, axis=0)
        ff_std = np.nanstd(ff, axis=0)
        mm_mean = np.nanmean(mm, axis=0)
    coords = {"time_start_ms": ("time", t0), "time_end_ms": ("time", t1)}
    attrs = _provenance(
        "variability.mean_matched_fano",
        responses,
        window_ms=float(window_ms),
        step_ms=float(step_ms),
        span_ms=span_ms,
        n_hist_bins=n_hist_bins,
        n_resamples=n_resamples,
        weighted=weighted,
        ddof=ddof,
        min_trials=min_trials,
        seed=seed,
        hist_edges=edges,
    )
    return xr.Dataset(
        {
            "fano_factor": ("time", ff_mean),
            "fano_factor_std": ("time", ff_std),
            "fano_factor_raw": ("time", ff_raw),
            "mean_count": ("time", mm_mean),
            "mean_count_raw": ("time", mean_raw),
            "n_points": ("time", n_points),
            "n_matched": ("time", np.full(n_win, int(common.sum()))),
        },
        coords=coords,
        attrs=attrs,
    )
