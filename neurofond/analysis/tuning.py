"""Tuning curves and single-neuron selectivity (orientation, spatial frequency, modulation).

All functions take a ``Responses`` array (see :mod:`neurofond.responses`) or a tuning
curve computed from one, and return labelled :mod:`xarray` objects with the provenance of
the computation in ``.attrs``.

"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurofond.analysis._base import (
    INV_SQRT2,
    _check_contiguous,
    _check_responses,
    _coords_on,
    _curve_axis,
    _nanmean,
    _provenance,
    _select_time,
    _simple,
    _stimulus_coord,
    _time_edges,
    _where_mask,
    _window_bins,
    _window_counts,
)

__all__ = [
    "NUISANCE_PARAMS",
    "conditional_tuning_curve",
    "stimulus_window",
    "tuning_curve",
    "orientation_selectivity",
    "sf_selectivity",
    "modulation_ratio",
]

# ---------------------------------------------------------------------------------------------
# tuning curves
# ---------------------------------------------------------------------------------------------


#: Stimulus parameters :func:`tuning_curve` averages over without a warning (the nuisance
#: parameter of a grating sweep). Identifiers (one value per stimulus, e.g. ``stimulus_id``)
#: are not parameters and never warn.
NUISANCE_PARAMS = ("phase",)


def stimulus_window(responses: xr.DataArray) -> tuple[float, float]:
    """The stimulus period ``(start, end)`` in ms: from onset to the end of the stimulus.

    ``start`` is 0 (stimulus onset), or the first bin when the data start later. ``end`` is
    ``attrs["stimulus_duration_ms"]`` when present (recordings, e.g. 500 ms for the static
    Ecker 2010 release), else ``attrs["stimulus_steps"] * attrs["ms_per_step"]`` (presented
    model responses), else the end of the data; never beyond the end of the data.

    Raises
    ------
    ValueError
        Naming ``window_ms`` when the responses hold no time after stimulus onset.
    """
    starts, ends = _time_edges(responses)
    data_end = float(ends.max())
    end = data_end
    attrs = responses.attrs
    try:
        if "stimulus_duration_ms" in attrs:
            end = float(attrs["stimulus_duration_ms"])
        elif "stimulus_steps" in attrs and "ms_per_step" in attrs:
            end = float(attrs["stimulus_steps"]) * float(attrs["ms_per_step"])
    except (TypeError, ValueError):
        end = data_end
    if not np.isfinite(end) or end <= 0:
        end = data_end
    end = min(end, data_end)
    start = max(0.0, float(starts.min()))
    if end <= start:
        raise ValueError(
            f"window_ms: the default window is the stimulus period from onset (0 ms), but the "
            f"responses span [{float(starts.min()):g}, {data_end:g}] ms"
            + (f" and the stimulus ends at {end:g} ms" if end < data_end else "")
            + "; pass window_ms explicitly"
        )
    return start, end


def _by_keys(by: Any) -> tuple[str, ...]:
    keys = (by,) if isinstance(by, str) else tuple(by) if isinstance(by, Sequence) else None
    if not keys or not all(isinstance(k, str) for k in keys):
        raise ValueError(
            f"by: expected a stimulus coordinate name or a sequence of them, got {by!r}"
        )
    if len(set(keys)) != len(keys):
        raise ValueError(f"by: repeated coordinate in {keys!r}")
    return keys


def _marginalized(
    responses: xr.DataArray, mask: np.ndarray, keys: tuple[str, ...], level: np.ndarray
) -> list[str]:
    """Stimulus parameters that vary among the selected stimuli of one ``by`` level.

    Identifiers (coordinates with a distinct value for every selected stimulus, such as
    ``stimulus_id``) are not parameters and are not listed.
    """
    import pandas as pd

    out = []
    n_levels = int(level.max()) + 1 if level.size else 0
    for cname, coord in responses.coords.items():
        if coord.dims != ("stimulus",) or cname in keys or cname == "stimulus":
            continue
        codes, uniques = pd.factorize(np.asarray(coord.values)[mask], use_na_sentinel=False)
        if len(uniques) == codes.size and codes.size > n_levels:
            continue  # an identifier: one value per stimulus
        pairs = np.unique(np.stack([level, codes]), axis=1).shape[1] if level.size else 0
        if pairs > n_levels:
            out.append(str(cname))
    return out


def tuning_curve(
    responses: xr.DataArray,
    by: str | Sequence[str] = "orientation",
    *,
    window_ms: Sequence[float] | None = None,
    average: Sequence[str] = ("trial",),
    where: Mapping[str, Any] | None = None,
    marginalize: Sequence[str] | None = None,
) -> xr.DataArray:
    """Mean firing rate per neuron for each unique value (or combination) of stimulus parameters.

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses`` spike counts, dims ``(trial, stimulus, neuron, time)``.
    by : str or sequence of str
        Name of a coordinate on ``stimulus`` (``"orientation"``, ``"sf"``, ``"contrast"``
        ...), or several (``("orientation", "sf")``): the curve has one dimension per key,
        with one entry per unique value, sorted ascending (a 2-D orientation x SF curve for
        two keys). Combinations never presented are NaN.
    window_ms : (float, float), optional
        Response window, ``(start, end)`` in ms or a
        :class:`~neurofond.responses.Window`: whole bins inside it (an edge that cuts a
        bin raises). Default: the whole time range.
    average : sequence of str
        Dimensions averaged away besides ``stimulus``: any of ``"trial"`` (default) and
        ``"neuron"``. Pass ``()`` to keep single-trial curves.
    where : mapping, optional
        Condition on other stimulus parameters, e.g. ``{"sf": 3.0, "contrast": [0.5, 1]}``:
        only stimuli whose coordinates take (one of) the given values are used.
    marginalize : sequence of str, optional
        Stimulus parameters you accept to average over. Parameters that vary within one
        value of ``by`` among the selected stimuli are averaged (marginalised by the mean);
        those in :data:`NUISANCE_PARAMS` (``phase``) or in ``marginalize`` silently, any
        other with a warning (e.g. an SF curve that averages over
        orientation: condition with ``where``, add the parameter to ``by``, use
        :func:`conditional_tuning_curve`, or name it here).

    Returns
    -------
    xarray.DataArray
        Rates in spikes/s, dims ``(*by, neuron)`` (plus ``trial`` when not averaged, minus
        ``neuron`` when averaged); neuron coordinates are carried over; attrs hold the
        provenance (window, ``where``, source) and ``marginalized`` (the parameters averaged
        over).

    Raises
    ------
    ValueError
        If ``responses`` is not a valid Responses array, ``by`` or a ``where`` key is not a
        stimulus coordinate, ``where`` selects nothing, ``window_ms`` is outside the time
        range, ``average`` names another dimension, or ``marginalize`` names an unknown
        coordinate.

    Warns
    -----
    UserWarning
        When the curve averages over a stimulus parameter that is neither a nuisance
        parameter nor named in ``marginalize``.

    Notes
    -----
    The rate of one trial is its spike count in the window divided by the window duration.
    Missing trials (NaN; a trial is missing if any of its bins in the window is NaN) are
    ignored: each stimulus condition is first averaged over its valid trials (nan-mean),
    then conditions sharing the same ``by`` value(s) are averaged with equal weight, so
    unequal repetition counts do not bias the marginalisation. A value whose conditions have
    no valid trial gives NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from neurofond.responses import make_responses
    >>> r = make_responses(np.ones((2, 4, 3, 10)), bin_ms=10.0,
    ...                    stimulus_coords={"orientation": [0, 45, 90, 135]})
    >>> tuning_curve(r, "orientation").sizes["orientation"]
    4
    """
    _check_responses(responses)
    keys = _by_keys(by)
    values = [_stimulus_coord(responses, key, "by") for key in keys]
    average = tuple(average)
    bad = [d for d in average if d not in ("trial", "neuron")]
    if bad:
        raise ValueError(f"average: can only average over 'trial' and 'neuron', got {bad}")
    accepted = set(NUISANCE_PARAMS)
    if marginalize is not None:
        names = (marginalize,) if isinstance(marginalize, str) else tuple(marginalize)
        for name in names:
            _stimulus_coord(responses, name, "marginalize")
        accepted.update(names)
    mask = _where_mask(responses, where)
    counts, duration, _ = _window_counts(responses, window_ms)
    rates = counts[:, mask] * (1000.0 / duration)  # (trial, stim, neuron)
    levels, inverses = [], []
    for v in values:
        lv, inv = np.unique(v[mask], return_inverse=True)
        levels.append(lv)
        inverses.append(inv)
    shape = tuple(lv.size for lv in levels)
    flat = np.ravel_multi_index(tuple(inverses), shape) if inverses[0].size else inverses[0]
    n_flat = int(np.prod(shape))
    onehot = np.zeros((flat.size, n_flat))
    onehot[np.arange(flat.size), flat] = 1.0
    averaged = _marginalized(responses, mask, keys, flat)
    unexpected = [c for c in averaged if c not in accepted]
    if unexpected:
        warnings.warn(
            f"tuning_curve: the curve over {keys} averages over the stimulus parameter(s) "
            f"{unexpected}, which vary within one value of by; condition on them with "
            f"where={{...}}, add them to by, use conditional_tuning_curve, or pass "
            f"marginalize={unexpected} to accept the average",
            UserWarning,
            stacklevel=2,
        )

    if "trial" in average:
        per_stim = _nanmean(rates, axis=0)[None]  # (1, stim, neuron)
    else:
        per_stim = rates
    valid = ~np.isnan(per_stim)
    total = np.einsum("tsn,sk->tkn", np.where(valid, per_stim, 0.0), onehot)
    n = np.einsum("tsn,sk->tkn", valid.astype(float), onehot)
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = np.where(n > 0, total / np.maximum(n, 1), np.nan)  # (trial, level, neuron)

    coords: dict[str, Any] = {key: lv for key, lv in zip(keys, levels, strict=True)}
    if "neuron" in average:
        curve = _nanmean(curve, axis=2)
        curve = curve.reshape((curve.shape[0], *shape))
        dims: tuple[str, ...] = ("trial", *keys)
    else:
        curve = curve.reshape((curve.shape[0], *shape, curve.shape[-1]))
        dims = ("trial", *keys, "neuron")
        coords.update(_coords_on(responses, "neuron"))
    if "trial" in average:
        curve = curve[0]
        dims = dims[1:]
    else:
        coords["trial"] = np.asarray(responses["trial"].values)
    starts, ends = _time_edges(responses)
    idx = _window_bins(responses, window_ms)
    attrs = _provenance(
        "tuning.tuning_curve",
        responses,
        by=keys[0] if len(keys) == 1 else keys,
        window_ms=(float(starts[idx].min()), float(ends[idx].max())),
        average=average,
        where=where,
    )
    attrs["marginalized"] = repr(averaged)
    attrs["units"] = "spikes/s"
    return xr.DataArray(curve, dims=dims, coords=coords, attrs=attrs, name="tuning_curve")


def conditional_tuning_curve(
    responses: xr.DataArray,
    by: str = "sf",
    at: str = "orientation",
    *,
    window_ms: Sequence[float] | None = None,
    where: Mapping[str, Any] | None = None,
    preferred: Sequence[Any] | np.ndarray | None = None,
    marginalize: Sequence[str] | None = None,
) -> xr.DataArray:
    """Tuning over ``by`` at each neuron's preferred value of ``at``.

    E.g. the spatial-frequency tuning of every neuron at its own preferred orientation, as an
    experimenter measures it (find the preferred orientation, then sweep SF at it), instead
    of the SF curve averaged over all orientations.

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses`` spike counts.
    by : str
        The stimulus parameter of the curve (default ``"sf"``).
    at : str
        The parameter held at each neuron's preferred value (default ``"orientation"``).
    window_ms, where, marginalize
        As in :func:`tuning_curve` (``marginalize`` applies to parameters other than ``by``
        and ``at``).
    preferred : sequence, optional
        The value of ``at`` to use for each neuron (one per neuron, each among the presented
        values). Default: the value of ``at`` where the neuron's trial-averaged tuning curve
        over ``at`` (averaged over ``by``) peaks.

    Returns
    -------
    xarray.DataArray
        Rates in spikes/s, dims ``(by, neuron)``, with the neuron coordinate
        ``preferred_<at>``; attrs as :func:`tuning_curve` plus ``at``.

    Raises
    ------
    ValueError
        As :func:`tuning_curve`; ``at == by``; ``preferred`` of the wrong length or holding
        a value of ``at`` that was not presented. A neuron silent to every stimulus (no
        peak) gets NaN.

    Notes
    -----
    With the default ``preferred`` the same trials choose the preferred value and give the
    curve, which biases the peak rate upwards on noisy data (selection bias); pass
    ``preferred`` measured on other trials to avoid it.
    """
    if not isinstance(by, str) or not isinstance(at, str):
        raise ValueError(f"by, at: expected one stimulus coordinate name each, got {by!r}, {at!r}")
    if by == at:
        raise ValueError(f"at: must differ from by, both are {by!r}")
    grid = tuning_curve(
        responses, (by, at), window_ms=window_ms, where=where, marginalize=marginalize
    )  # (by, at, neuron)
    at_values = np.asarray(grid[at].values)
    n_neurons = grid.sizes["neuron"]
    values = np.asarray(grid.values)
    if preferred is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            marginal = np.nanmean(values, axis=0)  # (at, neuron)
        ok = np.isfinite(marginal).any(axis=0) & (np.nan_to_num(marginal, nan=0.0) > 0).any(axis=0)
        ipref = np.argmax(np.where(np.isfinite(marginal), marginal, -np.inf), axis=0)
    else:
        pref = np.asarray(preferred)
        if pref.shape != (n_neurons,):
            raise ValueError(
                f"preferred: expected one value of {at!r} per neuron ({n_neurons}), "
                f"got shape {pref.shape}"
            )
        ipref = np.empty(n_neurons, dtype=int)
        for j, v in enumerate(pref):
            hit = np.flatnonzero(_matches_level(at_values, v))
            if hit.size != 1:
                raise ValueError(
                    f"preferred: {v!r} (neuron {j}) is not a presented value of {at!r}: "
                    f"{at_values.tolist()}"
                )
            ipref[j] = hit[0]
        ok = np.ones(n_neurons, dtype=bool)
    curve = values[:, ipref, np.arange(n_neurons)]  # (by, neuron)
    curve[:, ~ok] = np.nan
    if np.issubdtype(at_values.dtype, np.number):
        pref_values = np.where(ok, at_values[ipref].astype(float), np.nan)
    else:
        pref_values = np.where(ok, at_values[ipref].astype(object), None)
    coords: dict[str, Any] = {by: grid[by].values}
    coords.update(_coords_on(grid, "neuron"))
    coords[f"preferred_{at}"] = ("neuron", pref_values)
    attrs = dict(grid.attrs)
    attrs.update(
        _provenance(
            "tuning.conditional_tuning_curve",
            responses,
            by=by,
            at=at,
            preferred="peak of the curve over at" if preferred is None else "given",
        )
    )
    attrs["units"] = "spikes/s"
    return xr.DataArray(curve, dims=(by, "neuron"), coords=coords, attrs=attrs,
                        name="tuning_curve")


def _matches_level(levels: np.ndarray, value: Any) -> np.ndarray:
    if np.issubdtype(levels.dtype, np.number):
        try:
            return np.isclose(levels.astype(float), float(value), rtol=1e-9, atol=1e-12)
        except (TypeError, ValueError):
            return np.zeros(levels.size, dtype=bool)
    return levels == value


# ---------------------------------------------------------------------------------------------
# orientation selectivity
# ---------------------------------------------------------------------------------------------


def _curve_matrix(curve: Any, dim: str, name: str) -> tuple[np.ndarray, np.ndarray, xr.DataArray]:
    """(values along ``dim``, matrix (n_dim, n_rest), curve transposed with ``dim`` first)."""
    x, curve = _curve_axis(curve, dim, name)
    y = np.asarray(curve.values, dtype=float).reshape(x.size, -1)
    if np.isnan(y).any():
        raise ValueError(
            f"{name}: contains NaN; drop or fill missing conditions before computing selectivity"
        )
    if np.isinf(y).any():
        raise ValueError(f"{name}: contains infinite values")
    if (y < 0).any():
        raise ValueError(f"{name}: contains negative rates; selectivity needs rates >= 0")
    return x, y, curve


def _result_dataset(
    variables: Mapping[str, np.ndarray], curve: xr.DataArray, dim: str, attrs: dict[str, Any]
) -> xr.Dataset:
    rest = [d for d in curve.dims if d != dim]
    shape = tuple(curve.sizes[d] for d in rest)
    coords = {}
    for cname, coord in curve.coords.items():
        if dim not in coord.dims:
            coords[cname] = coord
    data_vars = {k: (tuple(rest), np.asarray(v).reshape(shape)) for k, v in variables.items()}
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _hanning_circular(y: np.ndarray) -> np.ndarray:
    """Circular 3-tap smoothing with Brain-Score's Hanning window [2/5, 1, 2/5] (normalised)."""
    w = np.array([2.0, 5.0, 2.0]) / 9.0
    return w[0] * np.roll(y, 1, axis=0) + w[1] * y + w[2] * np.roll(y, -1, axis=0)


def _half_widths(fine: np.ndarray, step: float, threshold: float, max_offset: int) -> np.ndarray:
    """Half-width (in units of ``step``) around the peak of periodic curves ``fine`` (n_grid, m).

    Walks from the peak to both sides until the curve first drops to ``threshold * peak``,
    interpolating linearly between grid points; NaN if it does not within ``max_offset``.
    """
    n_grid, m = fine.shape
    out = np.full(m, np.nan)
    peak_idx = np.argmax(fine, axis=0)
    peak = fine[peak_idx, np.arange(m)]
    level = threshold * peak
    offsets = np.arange(max_offset + 1)
    sides = []
    for sign in (1, -1):
        idx = (peak_idx[None, :] + sign * offsets[:, None]) % n_grid
        vals = fine[idx, np.arange(m)[None, :]]  # (offset, m)
        below = vals <= level[None, :]
        found = below.any(axis=0)
        first = np.argmax(below, axis=0)
        first = np.maximum(first, 1)
        v_prev = vals[first - 1, np.arange(m)]
        v_at = vals[first, np.arange(m)]
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(v_prev > v_at, (v_prev - level) / (v_prev - v_at), 1.0)
        dist = (first - 1 + np.clip(frac, 0.0, 1.0)).astype(float)
        dist[~found] = np.nan
        sides.append(dist)
    ok = peak > 0
    out[ok] = 0.5 * (sides[0][ok] + sides[1][ok])
    return out * step


def orientation_selectivity(
    curve: xr.DataArray,
    *,
    dim: str = "orientation",
    period: float = 180.0,
    smoothing: str | None = "hanning",
    threshold: float = INV_SQRT2,
    resolution_deg: float = 0.1,
) -> xr.Dataset:
    """Orientation selectivity indices of tuning curves.

    Parameters
    ----------
    curve : xarray.DataArray
        Non-negative rates with a dimension ``dim`` whose coordinate is the orientation in
        degrees (e.g. from :func:`tuning_curve`); any other dims (``neuron`` ...) are kept.
    dim : str
        Name of the orientation dimension.
    period : float
        180 for orientation (default), 360 for direction of motion. Angles are taken modulo
        ``period``.
    smoothing : {"hanning", None}
        Smooth the sampled curve with the circular 3-tap Hanning window ``[2/5, 1, 2/5]`` used
        by Brain-Score before interpolating. It needs orientations evenly spaced over the
        period: on an uneven grid the curve is not smoothed, and attrs ``smoothing_applied``
        (``"None"``) and ``smoothing_note`` say so. Only the bandwidth uses the smoothed
        curve.
    threshold : float
        Fraction of the peak defining the bandwidth, default ``1/sqrt(2)``.
    resolution_deg : float
        Grid step of the periodic cubic-spline interpolation used for the bandwidth.

    Returns
    -------
    xarray.Dataset
        Over the remaining dims of ``curve``: ``preferred_orientation`` (deg, sampled peak),
        ``preferred_orientation_vector`` (deg, half the angle of the vector sum),
        ``peak_rate``, ``orthogonal_rate``, ``circular_variance``, ``global_osi``, ``osi``,
        ``orthogonal_preferred_ratio`` and ``bandwidth`` (half-width in deg); attrs
        ``smoothing_applied`` and ``smoothing_note`` (empty unless smoothing was skipped).

    Raises
    ------
    ValueError
        If ``curve`` lacks ``dim``, contains NaN, infinite or negative values, has fewer than
        3 orientations or repeats an orientation (mod ``period``).

    Notes
    -----
    With rates :math:`r_k` at orientations :math:`\\theta_k` (Ringach et al. 2002):

    - circular variance :math:`CV = 1 - |\\sum_k r_k e^{2i\\theta_k}| / \\sum_k r_k`,
      global OSI :math:`= 1 - CV`;
    - :math:`OSI = (R_{pref} - R_{orth}) / (R_{pref} + R_{orth})` and the
      orthogonal/preferred ratio :math:`R_{orth}/R_{pref}`, with :math:`R_{pref}` the
      largest sampled rate and :math:`R_{orth}` the (periodic linearly interpolated) rate
      90 deg away (mean of +90 and -90 for ``period=360``);
    - bandwidth: half-width at ``threshold`` (default :math:`1/\\sqrt{2}`) of the peak of the
      smoothed curve interpolated by a periodic cubic spline (De Valois et al. 1982; Ringach
      et al. 2002; Brain-Score Marques et al. 2021). NaN when the curve does not fall below
      the threshold within half a period on both sides (unselective), as Brain-Score.

    Neurons with zero response everywhere give NaN for the ratio-based indices.

    References: Ringach, Shapley & Hawken (2002) J Neurosci 22:5639-5651; De Valois, Yund &
    Hepler (1982) Vision Res 22:531-544; Marques, Schrimpf & DiCarlo (2021) bioRxiv
    2021.03.01.433495.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> th = np.arange(0, 180, 15.0)
    >>> c = xr.DataArray(1 + np.cos(np.deg2rad(2 * th)), dims="orientation",
    ...                  coords={"orientation": th})
    >>> float(orientation_selectivity(c)["circular_variance"])  # doctest: +ELLIPSIS
    0.5...
    """
    if smoothing not in ("hanning", None):
        raise ValueError(f"smoothing: expected 'hanning' or None, got {smoothing!r}")
    if period not in (180.0, 360.0):
        raise ValueError(f"period: expected 180 (orientation) or 360 (direction), got {period!r}")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold: expected a fraction in (0, 1), got {threshold!r}")
    if not resolution_deg > 0:
        raise ValueError(f"resolution_deg: expected > 0, got {resolution_deg!r}")
    theta, y, tcurve = _curve_matrix(curve, dim, "curve")
    if theta.size < 3:
        raise ValueError(f"curve: needs at least 3 orientations along {dim!r}, got {theta.size}")
    theta = np.mod(theta, period)
    order = np.argsort(theta)
    theta, y = theta[order], y[order]
    if np.any(np.diff(theta) <= 1e-9):
        raise ValueError(f"curve: repeated orientations along {dim!r} (mod {period:g})")

    total = y.sum(axis=0)
    vec = np.exp(2j * np.deg2rad(theta)) @ y
    with np.errstate(invalid="ignore", divide="ignore"):
        cv = np.where(total > 0, 1.0 - np.abs(vec) / np.where(total > 0, total, 1.0), np.nan)
    pref_vec = np.mod(np.rad2deg(np.angle(vec)) / 2.0, 180.0)
    pref_vec = np.where(total > 0, pref_vec, np.nan)

    ipref = np.argmax(y, axis=0)
    cols = np.arange(y.shape[1])
    r_pref = y[ipref, cols]
    pref = theta[ipref]
    ext_theta = np.concatenate([theta - period, theta, theta + period])
    ext_y = np.concatenate([y, y, y], axis=0)

    def interp(at: np.ndarray) -> np.ndarray:
        return np.array([np.interp(a, ext_theta, ext_y[:, j]) for j, a in enumerate(at)])

    r_orth = 0.5 * (interp(np.mod(pref + 90.0, period)) + interp(np.mod(pref - 90.0, period)))
    with np.errstate(invalid="ignore", divide="ignore"):
        osi = (r_pref - r_orth) / (r_pref + r_orth)
        opr = r_orth / r_pref

    # bandwidth
    step = period / theta.size
    even = np.allclose(np.diff(np.concatenate([theta, [theta[0] + period]])), step, atol=1e-6)
    ys = y
    applied, note = smoothing, ""
    if smoothing == "hanning":
        if even:
            ys = _hanning_circular(y)
        else:  # a 3-tap window over uneven gaps would weight neighbours at unequal distances
            applied = None
            note = (
                "hanning smoothing skipped: the orientations are not evenly spaced over the "
                "period; the bandwidth uses the unsmoothed curve"
            )
    bandwidth = _periodic_bandwidth(theta, ys, period, threshold, resolution_deg)

    attrs = _provenance(
        "tuning.orientation_selectivity",
        curve,
        dim=dim,
        period=period,
        smoothing=smoothing,
        threshold=threshold,
        resolution_deg=resolution_deg,
    )
    attrs["smoothing_applied"] = _simple(applied)
    attrs["smoothing_note"] = note
    return _result_dataset(
        {
            "preferred_orientation": pref,
            "preferred_orientation_vector": pref_vec,
            "peak_rate": r_pref,
            "orthogonal_rate": r_orth,
            "circular_variance": cv,
            "global_osi": 1.0 - cv,
            "osi": osi,
            "orthogonal_preferred_ratio": opr,
            "bandwidth": bandwidth,
        },
        tcurve,
        dim,
        attrs,
    )


def _periodic_bandwidth(
    theta: np.ndarray, y: np.ndarray, period: float, threshold: float, resolution: float
) -> np.ndarray:
    from scipy.interpolate import CubicSpline

    n_grid = int(round(period / resolution))
    grid = np.arange(n_grid) * (period / n_grid)
    x = np.concatenate([theta, [theta[0] + period]])
    out = np.empty(y.shape[1])
    chunk = max(1, 2_000_000 // n_grid)
    for lo in range(0, y.shape[1], chunk):
        yy = y[:, lo : lo + chunk]
        spline = CubicSpline(x, np.concatenate([yy, yy[:1]], axis=0), axis=0, bc_type="periodic")
        fine = spline(np.mod(grid - theta[0], period) + theta[0])
        out[lo : lo + chunk] = _half_widths(fine, period / n_grid, threshold, n_grid // 2)
    return out


# ---------------------------------------------------------------------------------------------
# spatial frequency
# ---------------------------------------------------------------------------------------------


def sf_selectivity(
    curve: xr.DataArray,
    *,
    dim: str = "sf",
    threshold: float = INV_SQRT2,
    smoothing: str | None = None,
    n_grid: int = 1000,
) -> xr.Dataset:
    """Preferred spatial frequency and bandwidth in octaves.

    Parameters
    ----------
    curve : xarray.DataArray
        Non-negative rates with a dimension ``dim`` holding spatial frequencies (> 0, e.g.
        cycles/deg), e.g. from ``tuning_curve(responses, "sf")``.
    dim : str
        Name of the spatial-frequency dimension.
    threshold : float
        Fraction of the peak defining the band edges, default ``1/sqrt(2)``.
    smoothing : {None, "triangle"}
        Optional 5-tap smoothing ``[0.5, 0.75, 1, 0.75, 0.5]`` with edge padding (as
        Brain-Score) before interpolation. Default: none.
    n_grid : int
        Points of the interpolation grid spanning the sampled log2 SF range.

    Returns
    -------
    xarray.Dataset
        ``peak_sf`` (peak of the interpolated curve), ``peak_sf_sampled``, ``peak_rate``,
        ``sf_low`` / ``sf_high`` (where the curve crosses ``threshold * peak``) and
        ``bandwidth_octaves`` = log2(sf_high / sf_low), over the remaining dims.

    Raises
    ------
    ValueError
        If ``curve`` lacks ``dim``, has fewer than 3 frequencies, non-positive or repeated
        frequencies, or NaN / negative rates.

    Notes
    -----
    The curve is interpolated by a cubic spline in log2(SF) on ``n_grid`` points; the band
    edges are the first crossings of ``threshold * peak`` on each side of the peak, linearly
    interpolated. When the curve does not drop below the threshold within the sampled range
    on one side (low-pass or high-pass cells) that edge and the bandwidth are NaN. Definition
    following De Valois, Albrecht & Thorell (1982) Vision Res 22:545-559 and Brain-Score
    (Marques et al. 2021).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> sf = 2.0 ** np.arange(-2, 4, 0.25)
    >>> c = xr.DataArray(np.exp(-np.log2(sf / 2) ** 2 / 2), dims="sf", coords={"sf": sf})
    >>> round(float(sf_selectivity(c)["bandwidth_octaves"]), 2)  # 2 sqrt(ln 2)
    1.67
    """
    from scipy.interpolate import CubicSpline

    if smoothing not in ("triangle", None):
        raise ValueError(f"smoothing: expected 'triangle' or None, got {smoothing!r}")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold: expected a fraction in (0, 1), got {threshold!r}")
    if int(n_grid) < 10:
        raise ValueError(f"n_grid: expected >= 10, got {n_grid!r}")
    sf, y, tcurve = _curve_matrix(curve, dim, "curve")
    if sf.size < 3:
        raise ValueError(f"curve: needs at least 3 spatial frequencies along {dim!r}")
    if np.any(sf <= 0):
        raise ValueError(f"curve: spatial frequencies along {dim!r} must be > 0")
    order = np.argsort(sf)
    sf, y = sf[order], y[order]
    if np.any(np.diff(sf) <= 0):
        raise ValueError(f"curve: repeated spatial frequencies along {dim!r}")
    if smoothing == "triangle":
        w = np.array([0.5, 0.75, 1.0, 0.75, 0.5])
        w = w / w.sum()
        padded = np.concatenate([y[:1], y[:1], y, y[-1:], y[-1:]], axis=0)
        y = sum(w[k] * padded[k : k + sf.size] for k in range(5))
    logf = np.log2(sf)
    grid = np.linspace(logf[0], logf[-1], int(n_grid))
    fine = CubicSpline(logf, y, axis=0)(grid)  # (grid, m)
    m = y.shape[1]
    cols = np.arange(m)
    ipk = np.argmax(fine, axis=0)
    peak = fine[ipk, cols]
    level = threshold * peak
    step = grid[1] - grid[0]
    edges = []
    for sign in (-1, 1):
        n_off = grid.size
        offs = np.arange(n_off)
        idx = ipk[None, :] + sign * offs[:, None]
        inside = (idx >= 0) & (idx < grid.size)
        vals = np.where(inside, fine[np.clip(idx, 0, grid.size - 1), cols[None, :]], np.inf)
        below = vals <= level[None, :]
        found = below.any(axis=0)
        first = np.maximum(np.argmax(below, axis=0), 1)
        v_prev = vals[first - 1, cols]
        v_at = vals[first, cols]
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(v_prev > v_at, (v_prev - level) / (v_prev - v_at), 1.0)
        dist = first - 1 + np.clip(frac, 0.0, 1.0)
        edge = grid[ipk] + sign * dist * step
        edge = np.where(found & (peak > 0), edge, np.nan)
        edges.append(edge)
    sf_low, sf_high = 2.0 ** edges[0], 2.0 ** edges[1]
    attrs = _provenance(
        "tuning.sf_selectivity", curve, dim=dim, threshold=threshold, smoothing=smoothing
    )
    raw_pk = np.argmax(y, axis=0)
    return _result_dataset(
        {
            "peak_sf": np.where(peak > 0, 2.0 ** grid[ipk], np.nan),
            "peak_sf_sampled": sf[raw_pk],
            "peak_rate": peak,
            "sf_low": sf_low,
            "sf_high": sf_high,
            "bandwidth_octaves": np.log2(sf_high / sf_low),
        },
        tcurve,
        dim,
        attrs,
    )


# ---------------------------------------------------------------------------------------------
# modulation ratio
# ---------------------------------------------------------------------------------------------


def modulation_ratio(
    responses: xr.DataArray,
    tf_hz: float | str | Sequence[float],
    *,
    window_ms: Sequence[float] | None = None,
    baseline_window_ms: Sequence[float] | None = None,
) -> xr.Dataset:
    """F1/F0 modulation ratio of the trial-averaged PSTH over whole drifting cycles.

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses`` to drifting (or counter-phase) gratings with contiguous time bins.
    tf_hz : float, str or sequence of float
        Temporal frequency in Hz: one value for all stimuli, the name of a stimulus
        coordinate (e.g. ``"tf"``), or one value per stimulus. Stimuli with ``tf <= 0`` or
        NaN (blanks, static gratings) give NaN.
    window_ms : (float, float), optional
        Analysis window. Default: the stimulus period (:func:`stimulus_window`: from onset at
        0 ms to the end of the stimulus), so the blank before onset and the response after
        offset do not enter the cycles. Only the first whole number of cycles inside it is
        analysed.
    baseline_window_ms : (float, float), optional
        When given, the mean spontaneous rate in this window is subtracted from F0 (not from
        F1), as often done for recordings.

    Returns
    -------
    xarray.Dataset
        ``f0`` (mean rate, spikes/s), ``f1`` (amplitude of the response at ``tf``, spikes/s),
        ``modulation_ratio`` (F1/F0) and ``n_cycles``, dims ``(stimulus, neuron)``.

    Raises
    ------
    ValueError
        If ``responses`` is invalid or its bins are not contiguous, ``tf_hz`` is a number
        <= 0, an unknown coordinate or of the wrong length, a frequency is at or above the
        Nyquist frequency of the bins (``500 / bin_ms`` Hz), or the window holds less than
        one cycle.

    Notes
    -----
    With the trial-averaged rate :math:`r(t_j)` at bin centres :math:`t_j` over
    :math:`N` bins spanning whole cycles, :math:`F_0 = \\frac{1}{N}\\sum_j r(t_j)` and
    :math:`F_1 = \\frac{2}{N} |\\sum_j r(t_j) e^{-2\\pi i f t_j}|`. F1/F0 > 1 classifies a
    cell as simple, < 1 as complex (Skottun et al. 1991, Vision Res 31:1079-1086; used by
    Ringach et al. 2002 and Brain-Score, Marques et al. 2021). The span is the largest
    number of bins not exceeding a whole number of cycles; it is exact when a cycle is an
    integer number of bins (otherwise a small spectral leakage remains). No correction is
    applied for the attenuation of F1 by binning (a factor sinc(f * bin) ~ 0.97 at 8 bins
    per cycle). Missing trials are ignored (nan-mean); F0 = 0 gives NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from neurofond.responses import make_responses
    >>> t = (np.arange(100) + 0.5) * 10.0
    >>> counts = 1.0 + np.cos(2 * np.pi * 2.0 * t / 1000)  # 2 Hz, 10 ms bins
    >>> r = make_responses(counts[None, None, None, :], bin_ms=10.0)
    >>> round(float(modulation_ratio(r, 2.0)["modulation_ratio"][0, 0]), 6)
    1.0
    """
    _check_responses(responses)
    _check_contiguous(responses)
    n_stim = responses.sizes["stimulus"]
    if isinstance(tf_hz, str):
        tf = np.asarray(_stimulus_coord(responses, tf_hz, "tf_hz"), dtype=float)
    elif np.ndim(tf_hz) == 0:
        tf_value = float(tf_hz)
        if not np.isfinite(tf_value) or tf_value <= 0:
            raise ValueError(f"tf_hz: expected a temporal frequency > 0 Hz, got {tf_hz!r}")
        tf = np.full(n_stim, tf_value)
    else:
        tf = np.asarray(tf_hz, dtype=float)
        if tf.shape != (n_stim,):
            raise ValueError(f"tf_hz: expected {n_stim} values (one per stimulus), got {tf.shape}")
    if window_ms is None:
        window_ms = stimulus_window(responses)
    idx = _window_bins(responses, window_ms)
    starts, ends = _time_edges(responses)
    bin_ms = float(responses.attrs["bin_ms"])
    values = _select_time(np.asarray(responses.values, dtype=float), idx)
    rate = _nanmean(values, axis=0) * (1000.0 / bin_ms)  # (stim, neuron, time)
    centres = 0.5 * (starts[idx] + ends[idx])
    span_ms = idx.size * bin_ms
    f0 = np.full(rate.shape[:2], np.nan)
    f1 = np.full(rate.shape[:2], np.nan)
    n_cycles = np.zeros(n_stim)
    nyquist_hz = 500.0 / bin_ms
    for freq in np.unique(tf[np.isfinite(tf) & (tf > 0)]):
        if freq >= nyquist_hz:  # F1 at or above Nyquist aliases (2.0 for every neuron)
            raise ValueError(
                f"tf_hz: {freq:g} Hz is at or above the Nyquist frequency {nyquist_hz:g} Hz of "
                f"{bin_ms:g} ms bins; use finer time bins (bin_ms < {500.0 / freq:g})"
            )
        cycle_ms = 1000.0 / freq
        k = int(np.floor(span_ms / cycle_ms + 1e-9))
        if k < 1:
            raise ValueError(f"window_ms: {span_ms:g} ms holds less than one cycle at {freq:g} Hz")
        n = int(np.floor(k * cycle_ms / bin_ms + 1e-9))
        sel = tf == freq
        r = rate[sel][..., :n]
        phase = np.exp(-2j * np.pi * freq * centres[:n] / 1000.0)
        f0[sel] = r.mean(axis=-1)
        f1[sel] = 2.0 * np.abs(r @ phase) / n
        n_cycles[sel] = k
    if baseline_window_ms is not None:
        base_counts, base_dur, _ = _window_counts(
            responses, baseline_window_ms, "baseline_window_ms"
        )
        f0 = f0 - _nanmean(base_counts, axis=0) * (1000.0 / base_dur)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(f0 > 0, f1 / np.where(f0 > 0, f0, 1.0), np.nan)
    coords: dict[str, Any] = {}
    coords.update(_coords_on(responses, "stimulus"))
    coords.update(_coords_on(responses, "neuron"))
    attrs = _provenance(
        "tuning.modulation_ratio",
        responses,
        tf_hz=tf_hz if isinstance(tf_hz, str) else _simple(tf_hz),
        window_ms=(float(starts[idx].min()), float(ends[idx].max())),
        baseline_window_ms=baseline_window_ms,
    )
    dims = ("stimulus", "neuron")
    return xr.Dataset(
        {
            "f0": (dims, f0),
            "f1": (dims, f1),
            "modulation_ratio": (dims, ratio),
            "n_cycles": (("stimulus",), n_cycles),
        },
        coords=coords,
        attrs=attrs,
    )
