"""Sparseness of responses: Treves-Rolls / Vinje-Gallant index, lifetime and population.

Every measure is available per time bin (``per_time_bin=True``), which gives the
sparsification of the response over time after stimulus onset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurofond.analysis._base import (
    _check_responses,
    _coords_on,
    _nanmean,
    _provenance,
    _select_time,
    _stimulus_coord,
    _time_edges,
    _where_mask,
    _window_bins,
)

__all__ = [
    "treves_rolls_sparseness",
    "lifetime_sparseness",
    "population_sparseness",
    "proportion_zeros",
]


def _dims_arg(values: xr.DataArray, dim: str | Sequence[str], name: str) -> tuple[str, ...]:
    dims = (dim,) if isinstance(dim, str) else tuple(dim)
    if not dims:
        raise ValueError(f"{name}: expected at least one dimension")
    missing = [d for d in dims if d not in values.dims]
    if missing:
        raise ValueError(f"{name}: {missing} not among the dims {tuple(values.dims)}")
    return dims


def treves_rolls_sparseness(values: xr.DataArray, dim: str | Sequence[str]) -> xr.DataArray:
    """Treves-Rolls sparseness normalised to [0, 1] (Vinje & Gallant 2000), along ``dim``.

    Parameters
    ----------
    values : xarray.DataArray
        Non-negative responses (rates or counts). NaN entries are ignored.
    dim : str or sequence of str
        Dimension(s) over which sparseness is measured.

    Returns
    -------
    xarray.DataArray
        ``sparseness`` over the remaining dims, with their coordinates.

    Raises
    ------
    ValueError
        If ``values`` is not a DataArray, ``dim`` is not one of its dims, or it contains
        negative or infinite values.

    Notes
    -----
    With :math:`n` valid responses :math:`r_i`,
    :math:`A = (\\sum r_i / n)^2 / (\\sum r_i^2 / n)` (Treves & Rolls 1991; Rolls & Tovee
    1995) and :math:`S = (1 - A) / (1 - 1/n)` (Vinje & Gallant 2000, Science 287:1273-1276).
    S = 0 for equal responses, S = 1 when a single response is non-zero. S is NaN when all
    responses are zero or :math:`n < 2`. S is invariant to scaling the responses.

    Examples
    --------
    >>> import xarray as xr
    >>> float(treves_rolls_sparseness(xr.DataArray([0.0, 0.0, 5.0, 0.0], dims="x"), "x"))
    1.0
    """
    if not isinstance(values, xr.DataArray):
        raise ValueError(f"values: expected an xarray.DataArray, got {type(values)}")
    dims = _dims_arg(values, dim, "dim")
    rest = [d for d in values.dims if d not in dims]
    arr = np.asarray(values.transpose(*rest, *dims).values, dtype=float)
    arr = arr.reshape(tuple(values.sizes[d] for d in rest) + (-1,))
    valid = ~np.isnan(arr)
    if np.isinf(arr).any():
        raise ValueError("values: contains infinite values")
    if (arr[valid] < 0).any():
        raise ValueError("values: sparseness needs non-negative responses")
    x = np.where(valid, arr, 0.0)
    n = valid.sum(axis=-1)
    s1 = x.sum(axis=-1)
    s2 = (x * x).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = (s1 / n) ** 2 / (s2 / n)
        s = (1.0 - a) / (1.0 - 1.0 / n)
    s = np.where((n >= 2) & (s2 > 0), np.clip(s, 0.0, 1.0), np.nan)
    coords = {}
    for d in rest:
        coords.update(_coords_on(values, d))
    attrs = dict(values.attrs)
    attrs.update(_provenance("sparseness.treves_rolls_sparseness", None, dim=dims))
    attrs.pop("units", None)
    return xr.DataArray(s, dims=rest, coords=coords, attrs=attrs, name="sparseness")


def _rates(
    responses: xr.DataArray, window_ms: Any, per_time_bin: bool
) -> tuple[np.ndarray, dict[str, Any], tuple[str, ...], dict[str, Any]]:
    """Single-trial rates (trial, stimulus, neuron[, time]) in spikes/s, coords, dims, attrs."""
    idx = _window_bins(responses, window_ms)
    starts, ends = _time_edges(responses)
    values = _select_time(np.asarray(responses.values), idx)
    coords: dict[str, Any] = {"trial": np.asarray(responses["trial"].values)}
    coords.update(_coords_on(responses, "stimulus"))
    coords.update(_coords_on(responses, "neuron"))
    if per_time_bin:
        widths = ends[idx] - starts[idx]
        rates = values.astype(np.float64) * (1000.0 / widths)
        coords["time_start_ms"] = ("time", starts[idx])
        coords["time_end_ms"] = ("time", ends[idx])
        dims: tuple[str, ...] = ("trial", "stimulus", "neuron", "time")
    else:
        duration = float(np.sum(ends[idx] - starts[idx]))
        rates = values.sum(axis=-1, dtype=np.float64) * (1000.0 / duration)
        dims = ("trial", "stimulus", "neuron")
    params = {
        "window_ms": (float(starts[idx].min()), float(ends[idx].max())),
        "per_time_bin": per_time_bin,
    }
    return rates, coords, dims, params


def _default_window(responses: xr.DataArray, window_ms: Any, per_time_bin: bool) -> Any:
    """The stimulus period when no window is given for a rate over a window; every bin for
    measures per time bin (sparsification over time, blank included)."""
    if window_ms is None and not per_time_bin:
        from neurofond.analysis.tuning import stimulus_window

        return stimulus_window(responses)
    return window_ms


def _drop(coords: dict[str, Any], dim: str) -> dict[str, Any]:
    out = {}
    for k, v in coords.items():
        on = k if not isinstance(v, tuple) else v[0]
        if on != dim:
            out[k] = v
    return out


def _condition_means(
    mean: np.ndarray, responses: xr.DataArray, mask: np.ndarray, keys: tuple[str, ...]
) -> tuple[np.ndarray, dict[str, Any]]:
    """Average stimulus rates ``(stimulus, ...)`` over the stimuli of each condition.

    A condition is one presented combination of the ``keys`` coordinates; the stimuli of a
    condition are averaged with equal weight (nan-mean). Returns ``(condition, ...)`` rates and
    the condition coordinates.
    """
    import pandas as pd

    frame = pd.DataFrame({k: np.asarray(_stimulus_coord(responses, k, "by"))[mask] for k in keys})
    codes = frame.groupby(list(keys), sort=True, dropna=False).ngroup().to_numpy()
    n_cond = int(codes.max()) + 1
    onehot = np.zeros((n_cond, codes.size))
    onehot[codes, np.arange(codes.size)] = 1.0
    flat = mean.reshape(mean.shape[0], -1)
    valid = ~np.isnan(flat)
    total = onehot @ np.where(valid, flat, 0.0)
    n = onehot @ valid.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(n > 0, total / np.maximum(n, 1), np.nan)
    first = np.array([np.flatnonzero(codes == c)[0] for c in range(n_cond)])
    coords = {k: ("stimulus", np.asarray(frame[k].to_numpy())[first]) for k in keys}
    return out.reshape((n_cond, *mean.shape[1:])), coords


def lifetime_sparseness(
    responses: xr.DataArray,
    *,
    window_ms: Sequence[float] | None = None,
    per_time_bin: bool = False,
    by: str | Sequence[str] | None = None,
    where: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """Lifetime sparseness of each neuron over a set of stimulus conditions.

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses`` spike counts.
    window_ms : (float, float), optional
        Response window, ``(start, end)`` in ms or a
        :class:`~neurofond.responses.Window`: whole bins inside it (an edge that cuts a
        bin raises). Default: the stimulus period
        (:func:`neurofond.analysis.tuning.stimulus_window`; the blank before onset is not a
        response and would lower the sparseness), or all bins with ``per_time_bin``.
    per_time_bin : bool
        Compute it separately in every time bin of the window (sparsification over time)
        instead of on the rate over the whole window.
    by : str or sequence of str, optional
        What one condition is. Default: every stimulus is a condition. With stimulus
        coordinate names (e.g. ``("orientation", "sf")``), a condition is one presented
        combination of their values and the stimuli sharing it (e.g. the phases of a
        grating) are averaged first, with equal weight. Any grid works: uneven, incomplete
        or non-factorial sets of conditions are used as presented.
    where : mapping, optional
        Only stimuli whose coordinates take (one of) the given values (as
        :func:`neurofond.analysis.tuning.tuning_curve`).

    Returns
    -------
    xarray.DataArray
        ``sparseness``, dims ``(neuron,)`` or ``(neuron, time)``; attrs hold the window,
        ``by``, ``where`` and ``n_conditions``.

    Raises
    ------
    ValueError
        If ``responses`` is invalid, ``window_ms`` lies outside its time range, ``by`` or a
        ``where`` key is not a stimulus coordinate, or ``where`` selects nothing.

    Notes
    -----
    Treves-Rolls / Vinje-Gallant sparseness (see :func:`treves_rolls_sparseness`) of the
    trial-averaged rates over the :math:`n` conditions,
    :math:`S = (1 - (\\sum_c r_c / n)^2 / (\\sum_c r_c^2 / n)) / (1 - 1/n)`
    (Vinje & Gallant 2000; Willmore & Tolhurst 2001, Network 12:255-270). Trials are
    averaged with a nan-mean (missing trials ignored); conditions with no valid trial are
    left out. NaN for neurons silent to every condition. For a tuning curve already in hand
    (any grid), use ``treves_rolls_sparseness(curve, dim=(...))``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurofond.responses import make_responses
    >>> counts = np.zeros((2, 4, 1, 5)); counts[:, 2] = 3
    >>> float(lifetime_sparseness(make_responses(counts, bin_ms=10.0))[0])
    1.0
    """
    _check_responses(responses)
    window_ms = _default_window(responses, window_ms, per_time_bin)
    mask = _where_mask(responses, where)
    rates, coords, dims, params = _rates(responses, window_ms, per_time_bin)
    mean = _nanmean(rates[:, mask], axis=0)  # (stimulus, neuron[, time])
    coords = _drop(coords, "trial")
    if by is None:
        keys: tuple[str, ...] = ()
        coords = {
            k: ((v[0], v[1][mask]) if isinstance(v, tuple) and v[0] == "stimulus" else v)
            for k, v in coords.items()
        }
        coords = {k: v for k, v in coords.items() if k != "stimulus"}
    else:
        keys = (by,) if isinstance(by, str) else tuple(by)
        if not keys or not all(isinstance(k, str) for k in keys):
            raise ValueError(f"by: expected stimulus coordinate names, got {by!r}")
        mean, cond_coords = _condition_means(mean, responses, mask, keys)
        coords = {**_drop(coords, "stimulus"), **cond_coords}
    da = xr.DataArray(mean, dims=dims[1:], coords=coords)
    out = treves_rolls_sparseness(da, "stimulus")
    out.attrs = _provenance(
        "sparseness.lifetime_sparseness",
        responses,
        by="stimulus" if by is None else keys,
        where=where,
        **params,
    )
    out.attrs["n_conditions"] = int(mean.shape[0])
    return out


def population_sparseness(
    responses: xr.DataArray,
    *,
    window_ms: Sequence[float] | None = None,
    per_time_bin: bool = False,
    average_trials: bool = True,
) -> xr.DataArray:
    """Population sparseness over neurons, per stimulus (and time bin, and trial).

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses`` spike counts.
    window_ms : (float, float), optional
        Response window. Default: the stimulus period
        (:func:`neurofond.analysis.tuning.stimulus_window`), or all bins with
        ``per_time_bin``.
    per_time_bin : bool
        Compute it in every time bin (sparsification over time).
    average_trials : bool
        Use trial-averaged rates (default) or keep single trials (adds a ``trial`` dim;
        missing trials give NaN).

    Returns
    -------
    xarray.DataArray
        ``sparseness``, dims ``(stimulus,)``, plus ``time`` and/or leading ``trial``.

    Raises
    ------
    ValueError
        If ``responses`` is invalid or ``window_ms`` lies outside its time range.

    Notes
    -----
    Treves-Rolls / Vinje-Gallant sparseness (see :func:`treves_rolls_sparseness`) of the
    rates of all neurons to one stimulus (Vinje & Gallant 2000; Willmore & Tolhurst 2001).
    With ``average_trials`` the trials are nan-averaged first. Neurons with NaN (missing)
    are left out; NaN when every neuron is silent.

    Examples
    --------
    >>> import numpy as np
    >>> from neurofond.responses import make_responses
    >>> r = make_responses(np.ones((2, 3, 5, 4)), bin_ms=10.0)
    >>> population_sparseness(r).values.tolist()
    [0.0, 0.0, 0.0]
    """
    _check_responses(responses)
    window_ms = _default_window(responses, window_ms, per_time_bin)
    rates, coords, dims, params = _rates(responses, window_ms, per_time_bin)
    if average_trials:
        da = xr.DataArray(_nanmean(rates, axis=0), dims=dims[1:], coords=_drop(coords, "trial"))
    else:
        da = xr.DataArray(rates, dims=dims, coords=coords)
    out = treves_rolls_sparseness(da, "neuron")
    out.attrs = _provenance(
        "sparseness.population_sparseness", responses, average_trials=average_trials, **params
    )
    return out


def proportion_zeros(
    responses: xr.DataArray,
    *,
    over: str | Sequence[str] = "neuron",
    window_ms: Sequence[float] | None = None,
    per_time_bin: bool = False,
) -> xr.DataArray:
    """Proportion of single-trial spike counts that are zero.

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses`` spike counts.
    over : str or sequence of str
        Dimension(s) pooled together with ``trial``: ``"neuron"`` (default; population view,
        one value per stimulus) or ``"stimulus"`` (lifetime view, one value per neuron), or
        both.
    window_ms : (float, float), optional
        Counting window; the count of a trial is its total in the window. Default: the
        stimulus period (:func:`neurofond.analysis.tuning.stimulus_window`), or all bins with
        ``per_time_bin``.
    per_time_bin : bool
        Use the count in every single bin instead (adds a ``time`` dim).

    Returns
    -------
    xarray.DataArray
        ``proportion_zeros`` in [0, 1] over the dims not pooled.

    Raises
    ------
    ValueError
        If ``responses`` is invalid, ``over`` names a dim other than ``neuron`` /
        ``stimulus``, or ``window_ms`` lies outside the time range.

    Notes
    -----
    Fraction of (trial, ``over``) entries with a zero count; missing (NaN) entries are left
    out; NaN if none is valid. A simple sparseness measure complementing Treves-Rolls
    (e.g. Willmore, Mazer & Gallant 2011, J Neurophysiol 105:2907-2919).

    Examples
    --------
    >>> import numpy as np
    >>> from neurofond.responses import make_responses
    >>> counts = np.zeros((1, 1, 4, 1)); counts[0, 0, 0, 0] = 2
    >>> float(proportion_zeros(make_responses(counts, bin_ms=10.0))[0])
    0.75
    """
    _check_responses(responses)
    pooled = (over,) if isinstance(over, str) else tuple(over)
    bad = [d for d in pooled if d not in ("neuron", "stimulus")]
    if bad or not pooled:
        raise ValueError(f"over: expected 'neuron' and/or 'stimulus', got {over!r}")
    window_ms = _default_window(responses, window_ms, per_time_bin)
    rates, coords, dims, params = _rates(responses, window_ms, per_time_bin)
    axes = (0,) + tuple(dims.index(d) for d in pooled)
    valid = ~np.isnan(rates)
    zeros = (rates == 0).sum(axis=axes)
    n = valid.sum(axis=axes)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(n > 0, zeros / np.maximum(n, 1), np.nan)
    keep = [d for d in dims if d != "trial" and d not in pooled]
    out_coords = coords
    for d in ("trial",) + pooled:
        out_coords = _drop(out_coords, d)
    attrs = _provenance("sparseness.proportion_zeros", responses, over=pooled, **params)
    return xr.DataArray(frac, dims=keep, coords=out_coords, attrs=attrs, name="proportion_zeros")
