"""Spatial integration: size tuning, preferred size and surround suppression.

The curves come from :func:`neurofond.analysis.tuning_curve` over the aperture-diameter
coordinate ``size_deg`` of a size sweep (:func:`neurofond.stimuli.spatial_sweeps.size_sweep`),
on model neurons, baseline models and recorded units alike. Torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurofond.analysis._base import (
    _check_responses,
    _curve_axis,
    _nanmean,
    _provenance,
    _window_counts,
)
from neurofond.analysis.tuning import tuning_curve

__all__ = ["size_tuning", "doe_size_curve"]

#: Fewest sizes for the difference-of-error-functions fit (5 parameters).
MIN_SIZES_FIT = 6


def doe_size_curve(
    size_deg: Any, r0: float, kc: float, wc: float, ks: float, ws: float
) -> np.ndarray:
    """Difference-of-error-functions size-tuning model (Sceniak et al. 1999 form).

    ``R(d) = r0 + kc * erf(d / wc) - ks * erf(d / ws)``: an excitatory centre and a
    suppressive surround, each integrating a Gaussian sensitivity profile over the
    aperture. ``wc`` and ``ws`` are the centre and surround extents (diameters, deg) at which
    each summation reaches ``erf(1) = 84 %`` of its full strength.

    Parameters
    ----------
    size_deg : array_like
        Aperture diameters (deg).
    r0, kc, wc, ks, ws : float
        Baseline, centre gain, centre extent (deg, > 0), surround gain, surround extent.

    Returns
    -------
    ndarray
        Model responses at ``size_deg``.
    """
    from scipy.special import erf

    d = np.asarray(size_deg, dtype=float)
    return r0 + kc * erf(d / wc) - ks * erf(d / ws)


def _baseline(
    data: Any,
    baseline: Any,
    baseline_window_ms: Any,
    rest_shape: tuple[int, ...],
    neuron_axis: int | None,
) -> tuple[np.ndarray, str]:
    """Baseline per curve (flattened over the non-size dims) and how it was obtained."""
    if baseline is not None and baseline_window_ms is not None:
        raise ValueError("baseline: give baseline or baseline_window_ms, not both")
    n_rest = int(np.prod(rest_shape)) if rest_shape else 1
    if baseline_window_ms is not None:
        if not isinstance(data, xr.DataArray) or "trial" not in data.dims:
            raise ValueError(
                "baseline_window_ms: needs a Responses array (the spontaneous rate is read "
                "from its time bins); pass baseline= with a tuning curve"
            )
        counts, duration, _ = _window_counts(data, baseline_window_ms, "baseline_window_ms")
        spont = _nanmean(counts, axis=(0, 1)) * (1000.0 / duration)  # (neuron,)
        out = np.broadcast_to(spont, rest_shape).reshape(-1) if rest_shape else spont
        return np.asarray(out, dtype=float), "mean rate in baseline_window_ms (spikes/s)"
    if baseline is None:
        return np.zeros(n_rest), "none (raw responses)"
    arr = np.asarray(baseline.values if isinstance(baseline, xr.DataArray) else baseline,
                     dtype=float)
    if arr.ndim == 0:
        if not math.isfinite(float(arr)):
            raise ValueError(f"baseline: expected a finite rate, got {baseline!r}")
        return np.full(n_rest, float(arr)), "given"
    if neuron_axis is not None and arr.ndim == 1 and arr.size == rest_shape[neuron_axis]:
        shape = [1] * len(rest_shape)
        shape[neuron_axis] = arr.size
        arr = np.broadcast_to(arr.reshape(shape), rest_shape)
    if arr.shape != tuple(rest_shape) or not np.all(np.isfinite(arr)):
        raise ValueError(
            f"baseline: expected a finite scalar or one value per neuron (shape "
            f"{tuple(rest_shape)}), got shape {np.shape(arr)}"
        )
    return arr.reshape(-1), "given"


def _fit_doe(
    d: np.ndarray, y: np.ndarray, min_r2: float
) -> tuple[np.ndarray, float, str]:
    """Least-squares DoE fit of one curve; (r0, kc, wc, ks, ws), R^2, failure reason."""
    from scipy.optimize import least_squares

    span = float(d[-1])
    lo_w, hi_w = float(d[0]) / 10.0, 10.0 * span
    y_range = float(np.ptp(y)) or 1.0
    scale = max(float(np.max(np.abs(y))), 1e-12)

    def resid(p: np.ndarray) -> np.ndarray:
        r0, kc, wc, ks, dw = p
        return (doe_size_curve(d, r0, kc, wc, ks, wc + dw) - y) / scale

    lower = [float(np.min(y)) - 2 * y_range, 0.0, lo_w, 0.0, 0.0]
    upper = [float(np.max(y)) + 2 * y_range, 10 * scale + 10 * y_range, hi_w,
             10 * scale + 10 * y_range, hi_w]
    best, best_cost = None, np.inf
    ipk = int(np.argmax(y))
    for wc0 in np.unique(np.clip([d[ipk] / 2, d[ipk], 2 * d[ipk]], lo_w * 1.01, hi_w * 0.99)):
        for frac in (0.0, 0.5):
            peak = float(y[ipk] - y[0])
            p0 = [float(y[0]), max(peak, 1e-9) * (1 + frac), wc0, max(peak, 1e-9) * frac,
                  min(max(d[-1] - wc0, wc0), hi_w * 0.99)]
            p0 = np.clip(p0, np.array(lower) + 1e-12, np.array(upper) - 1e-12)
            try:
                res = least_squares(resid, p0, bounds=(lower, upper), max_nfev=2000)
            except (ValueError, FloatingPointError):  # pragma: no cover - degenerate input
                continue
            if res.cost < best_cost:
                best, best_cost = res, res.cost
    if best is None:  # pragma: no cover
        return np.full(5, np.nan), np.nan, "optimizer failed"
    r0, kc, wc, ks, dw = best.x
    params = np.array([r0, kc, wc, ks, wc + dw])
    fitted = doe_size_curve(d, *params)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum((y - fitted) ** 2)) / ss_tot if ss_tot > 0 else np.nan
    reason = ""
    if not best.success:
        reason = f"optimizer did not converge ({best.message})"
    elif not np.isfinite(r2) or r2 < min_r2:
        reason = f"R^2 {r2:.3g} below min_r2 {min_r2:g}"
    elif wc <= lo_w * 1.001 or wc >= hi_w * 0.999:
        reason = "centre extent at a bound of the fit"
    elif ks > 1e-9 * scale and wc + dw >= hi_w * 0.999:
        reason = "surround extent at the upper bound of the fit"
    elif ks > 1e-9 * scale and wc + dw > 2.0 * span:
        reason = "surround extent beyond twice the largest tested size (extrapolated)"
    return params, r2, reason


def size_tuning(
    data: xr.DataArray,
    *,
    dim: str = "size_deg",
    window_ms: Sequence[float] | None = None,
    where: Mapping[str, Any] | None = None,
    marginalize: Sequence[str] | None = None,
    baseline: float | Any | None = None,
    baseline_window_ms: Sequence[float] | None = None,
    fit: bool = False,
    min_r2: float = 0.5,
) -> xr.Dataset:
    """Size tuning: preferred (peak) size and surround suppression index per neuron.

    Parameters
    ----------
    data : xarray.DataArray
        Either a ``Responses`` array (dims ``trial, stimulus, neuron, time``) whose
        ``stimulus`` coordinate ``dim`` holds the aperture diameter in degrees (the size
        curve is :func:`~neurofond.analysis.tuning_curve` over ``dim``, averaging trials and
        every other stimulus parameter, e.g. phase), or a size-tuning curve with a ``dim``
        dimension (any other dims, ``neuron`` ..., are kept).
    dim : str
        The diameter coordinate / dimension (default ``"size_deg"``).
    window_ms : (float, float), optional
        Response window for Responses input (:class:`~neurofond.responses.Window` rule).
    where : mapping, optional
        Condition on other stimulus parameters (Responses input), e.g. ``{"sf": 2.0}``.
    marginalize : sequence of str, optional
        Responses input: other stimulus parameters to average over without a warning
        (:func:`~neurofond.analysis.tuning_curve`; ``phase`` always is).
    baseline : float or array, optional
        Spontaneous rate subtracted before the index (scalar, or one value per curve /
        per neuron), in the curve's units.
    baseline_window_ms : (float, float), optional
        Responses input: the spontaneous rate is the mean rate in this window (e.g. the
        blank before onset, ``(-200, 0)``), over trials and stimuli, per neuron.
    fit : bool
        Also fit the difference-of-error-functions model :func:`doe_size_curve` (needs at
        least :data:`MIN_SIZES_FIT` sizes) and report centre and surround extents.
    min_r2 : float
        Fits with a lower R^2 are flagged as failed.

    Returns
    -------
    xarray.Dataset
        Over the non-size dims of the curve:

        - ``curve`` (with ``dim``): the size-tuning curve used (units of the input);
        - ``preferred_size_deg``: the diameter of the largest sampled response (ties: the
          smallest such diameter);
        - ``r_peak``, ``r_largest``: responses at the preferred and at the largest size;
          ``baseline``: the rate subtracted;
        - ``si``: surround suppression index (Notes);
        - ``reason``: empty where ``si`` is defined, else why it is NaN
          (``"missing values"``, ``"negative values"``, ``"all-zero curve"``,
          ``"no response above baseline"``);
        - with ``fit=True``: ``fit_r0``, ``fit_kc``, ``fit_center_deg`` (``wc``),
          ``fit_ks``, ``fit_surround_deg`` (``ws``), ``fit_r2``,
          ``fit_preferred_size_deg`` (peak of the fitted curve within the tested range),
          ``fit_si`` (the index on the fitted curve), ``fit_ok`` and ``fit_reason``
          (why a fit is flagged: not converged, R^2 below ``min_r2``, an extent at a bound,
          a surround beyond twice the largest size, too few sizes). Failed fits keep
          their parameters for inspection; ``fit_ok`` says whether to trust them.

    Raises
    ------
    ValueError
        If ``data`` is neither valid Responses nor a curve with the ``dim`` dimension and
        coordinate; fewer than 2 sizes; sizes not finite and > 0, unsorted or repeated
        (curve input); both or a malformed ``baseline``; bad ``window_ms`` / ``where``.

    Notes
    -----
    Surround suppression index as defined by Cavanaugh, Bair & Movshon (2002) J
    Neurophysiol 88:2530-2546, on responses with the spontaneous rate ``b`` subtracted:

    .. math:: SI = \\frac{(R_{peak} - b) - (R_{largest} - b)}{R_{peak} - b}
                 = \\frac{R_{peak} - R_{largest}}{R_{peak} - b}

    with :math:`R_{peak}` the largest sampled response and :math:`R_{largest}` the response
    to the largest aperture. SI = 0: no suppression; 1: the largest grating brings the
    response back to the spontaneous rate; SI > 1 means it drives the neuron below its
    spontaneous rate (kept, not clipped). Without ``baseline`` / ``baseline_window_ms`` the
    raw responses are used (``b = 0``; the attrs say so); subtract the spontaneous rate for
    recorded units and for model neurons with spontaneous activity, as Cavanaugh et al.
    did. Preferred size is the sampled peak; the fit gives a grid-free estimate (Sceniak,
    Ringach, Hawken & Shapley 1999 Nat Neurosci 2:733-739 fitted the same
    difference-of-error-functions model; Cavanaugh et al. 2002 a ratio of Gaussians).
    Sizes need not be evenly spaced (log-spaced sweeps are usual).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> c = xr.DataArray([[2.0], [10.0], [6.0], [4.0]], dims=("size_deg", "neuron"),
    ...                  coords={"size_deg": [0.5, 1.0, 2.0, 4.0]})
    >>> ds = size_tuning(c, baseline=2.0)
    >>> float(ds["preferred_size_deg"][0]), float(ds["si"][0])
    (1.0, 0.75)
    """
    if not isinstance(min_r2, (int, float)) or not math.isfinite(min_r2):
        raise ValueError(f"min_r2: expected a finite number, got {min_r2!r}")
    is_responses = isinstance(data, xr.DataArray) and set(data.dims) == {
        "trial", "stimulus", "neuron", "time"}
    if is_responses:
        _check_responses(data, "data")
        curve = tuning_curve(data, dim, window_ms=window_ms, where=where,
                             marginalize=marginalize)
    else:
        if window_ms is not None or where is not None or marginalize is not None:
            raise ValueError("window_ms: only applies to Responses input, not to a tuning curve")
        curve = data
    sizes, curve_t = _curve_axis(curve, dim, "data")
    if sizes.size < 2:
        raise ValueError(f"data: a size tuning curve needs at least 2 sizes along {dim!r}, got "
                         f"{sizes.tolist()}")
    if np.any(sizes <= 0):
        raise ValueError(f"data: sizes along {dim!r} must be > 0 deg, got {sizes.tolist()}")
    if np.any(np.diff(sizes) <= 0):
        raise ValueError(f"data: sizes along {dim!r} must be strictly increasing (sorted, no "
                         f"repeats), got {sizes.tolist()}")
    rest_dims = tuple(curve_t.dims[1:])
    rest_shape = tuple(curve_t.shape[1:])
    y = np.asarray(curve_t.values, dtype=float).reshape(sizes.size, -1)
    m = y.shape[1]
    neuron_axis = rest_dims.index("neuron") if "neuron" in rest_dims else None
    b, how = _baseline(data if is_responses else None, baseline, baseline_window_ms,
                       rest_shape, neuron_axis)

    nan = np.isnan(y).any(0)
    neg = ~nan & (np.nan_to_num(y) < 0).any(0)
    zero = ~nan & ~neg & np.all(np.nan_to_num(y) == 0, axis=0)
    yy = np.nan_to_num(y)
    ipk = np.argmax(yy, axis=0)
    cols = np.arange(m)
    r_peak = yy[ipk, cols]
    r_large = yy[-1]
    below = ~nan & ~neg & ~zero & (r_peak - b <= 0)
    bad = nan | neg | zero | below
    reason = np.full(m, "", dtype=object)
    reason[below] = "no response above baseline"
    reason[zero] = "all-zero curve"
    reason[neg] = "negative values"
    reason[nan] = "missing values"
    with np.errstate(invalid="ignore", divide="ignore"):
        si = (r_peak - r_large) / (r_peak - b)
    pref = sizes[ipk]
    out: dict[str, np.ndarray] = {
        "preferred_size_deg": np.where(nan, np.nan, pref),
        "r_peak": np.where(nan, np.nan, r_peak),
        "r_largest": np.where(nan, np.nan, r_large),
        "baseline": b,
        "si": np.where(bad, np.nan, si),
    }
    units = curve.attrs.get("units", "")
    var_units = {"preferred_size_deg": "deg", "r_peak": units, "r_largest": units,
                 "baseline": units, "si": "1"}
    if fit:
        fit_vals = {k: np.full(m, np.nan) for k in (
            "fit_r0", "fit_kc", "fit_center_deg", "fit_ks", "fit_surround_deg", "fit_r2",
            "fit_preferred_size_deg", "fit_si")}
        fit_ok = np.zeros(m, dtype=bool)
        fit_reason = np.full(m, "", dtype=object)
        fine = np.geomspace(sizes[0], sizes[-1], 512)
        for j in range(m):
            if bad[j]:
                fit_reason[j] = f"not fitted: {reason[j]}"
                continue
            if sizes.size < MIN_SIZES_FIT:
                fit_reason[j] = f"not fitted: fewer than {MIN_SIZES_FIT} sizes"
                continue
            params, r2, why = _fit_doe(sizes, y[:, j], float(min_r2))
            for key, value in zip(("fit_r0", "fit_kc", "fit_center_deg", "fit_ks",
                                   "fit_surround_deg"), params):
                fit_vals[key][j] = value
            fit_vals["fit_r2"][j] = r2
            model = doe_size_curve(fine, *params)
            k = int(np.argmax(model))
            fit_vals["fit_preferred_size_deg"][j] = fine[k]
            with np.errstate(invalid="ignore", divide="ignore"):
                fit_vals["fit_si"][j] = (model[k] - model[-1]) / (model[k] - b[j])
            fit_ok[j] = why == ""
            fit_reason[j] = why
        out.update(fit_vals)
        var_units.update({"fit_r0": units, "fit_kc": units, "fit_ks": units,
                          "fit_center_deg": "deg", "fit_surround_deg": "deg", "fit_r2": "1",
                          "fit_preferred_size_deg": "deg", "fit_si": "1"})

    data_vars: dict[str, Any] = {
        "curve": (curve_t.dims, np.asarray(curve_t.values, dtype=float), {"units": units}),
    }
    for key, value in out.items():
        data_vars[key] = (rest_dims, np.asarray(value).reshape(rest_shape),
                          {"units": var_units[key]})
    data_vars["reason"] = (rest_dims, reason.astype(str).reshape(rest_shape))
    if fit:
        data_vars["fit_ok"] = (rest_dims, fit_ok.reshape(rest_shape))
        data_vars["fit_reason"] = (rest_dims, fit_reason.astype(str).reshape(rest_shape))
    coords = {name: c for name, c in curve_t.coords.items()}
    attrs = _provenance(
        "spatial_integration.size_tuning", data if is_responses else curve,
        dim=dim, sizes_deg=sizes, baseline=how, fit=int(bool(fit)),
        min_r2=float(min_r2),
    )
    if "window_ms" in curve.attrs:
        attrs["window_ms"] = curve.attrs["window_ms"]
    attrs["si_definition"] = (
        "(R_peak - R_largest) / (R_peak - baseline): Cavanaugh, Bair & Movshon 2002, "
        "spontaneous rate subtracted"
    )
    if fit:
        attrs["fit_model"] = "R(d) = r0 + kc erf(d / wc) - ks erf(d / ws), ws >= wc"
    attrs["n_undefined"] = int(bad.sum())
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)
