"""Receptive fields mapped like an experimenter: sparse-noise ON/OFF maps and bar responses.

Torch-free functions over ``Responses`` to the stimuli of
:mod:`neurofond.stimuli.rf_mapping` (or any recording whose stimulus coordinates follow the
same columns):

- :func:`sparse_noise_rf`: ON and OFF maps (baseline-subtracted mean counts per grid
  position) with z-scores and a Bonferroni significance criterion;
- :func:`rf_centre_size`: RF centre and size in degrees from a map (elliptical 2-D Gaussian
  fit, half-maximum area), the ON and OFF peaks and the overlap of the ON and OFF
  subregions (segregated: simple-like; overlapping: complex-like);
- :func:`bar_responses`: orientation tuning from bars, the response profile along the bar's
  path and the RF centre along each bar's normal (swept bars: latency cancelled by the two
  opposite directions), combined into an RF centre.

Positions are in degrees, ``x`` rightwards and ``y`` downwards from the canvas centre
(:mod:`neurofond.stimuli.geometry`); the stimulus position columns are ``center_x_deg`` /
``center_y_deg``. Maps have dims ``(neuron, y_deg, x_deg)``; neuron coordinates named
``x_deg`` / ``y_deg`` (a model neuron's tile centre) are kept as ``neuron_x_deg`` /
``neuron_y_deg`` so they do not collide with the map axes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from neurofond._checks import check_int, check_positive
from neurofond.analysis._base import (
    _check_responses,
    _coords_on,
    _nanmean,
    _provenance,
    _stimulus_coord,
    _time_edges,
    _where_mask,
    _window_bins,
    _window_counts,
)
from neurofond.responses import COUNT_UNITS

__all__ = ["bar_responses", "rf_centre_size", "sparse_noise_rf"]

_ROUND = 9  # decimals used to group stimulus positions
_MAP_DIMS = ("y_deg", "x_deg")


# --------------------------------------------------------------------------- helpers


def _neuron_coords(responses: xr.DataArray) -> dict[str, tuple[str, np.ndarray]]:
    """The neuron coordinates, with ``x_deg`` / ``y_deg`` renamed ``neuron_x_deg`` / ..."""
    out = {}
    for name, value in _coords_on(responses, "neuron").items():
        out[f"neuron_{name}" if name in _MAP_DIMS else name] = value
    return out


def _rate_units(responses: xr.DataArray) -> str:
    units = str(responses.attrs.get("units", COUNT_UNITS))
    return "spikes/s" if units == COUNT_UNITS else f"({units}) per s"


def _count_units(responses: xr.DataArray) -> str:
    units = str(responses.attrs.get("units", COUNT_UNITS))
    return "spikes per window" if units == COUNT_UNITS else f"({units}) summed over the window"


def _text_coord(responses: xr.DataArray, key: str) -> np.ndarray:
    return np.asarray(_stimulus_coord(responses, key, "responses")).astype(str)


def _float_coord(responses: xr.DataArray, key: str) -> np.ndarray:
    values = _stimulus_coord(responses, key, "responses")
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"responses: stimulus coordinate {key!r} must hold numbers") from None


def _samples(counts: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Trial samples ``(n_samples, neuron)`` of the stimuli ``idx`` (trials x stimuli pooled)."""
    part = counts[:, idx, :]
    return part.reshape(-1, part.shape[-1])


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NaN-aware count, mean and variance (ddof 1) over axis 0, per neuron."""
    valid = ~np.isnan(x)
    n = valid.sum(0)
    total = np.where(valid, x, 0.0).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        dev = np.where(valid, x - mean, 0.0)
        var = np.where(n > 1, (dev * dev).sum(0) / np.maximum(n - 1, 1), np.nan)
    return n, mean, var


def _z_threshold(alpha: float, n_tests: int) -> float:
    from scipy.stats import norm

    return float(norm.isf(alpha / (2.0 * n_tests)))


# --------------------------------------------------------------------------- sparse noise


def sparse_noise_rf(
    responses: xr.DataArray,
    window_ms: Any,
    *,
    baseline_ms: Any = None,
    alpha: float = 0.01,
    min_trials: int = 2,
    where: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """ON and OFF receptive-field maps from sparse noise, with z-scores and significance.

    Parameters
    ----------
    responses : Responses
        Responses to :func:`neurofond.stimuli.rf_mapping.sparse_noise` (or a recording with
        the stimulus coordinates ``polarity`` (``"on"``, ``"off"``, ``"blank"``),
        ``center_x_deg`` and ``center_y_deg``).
    window_ms : Window or (start_ms, end_ms)
        Response window (the :class:`~neurofond.responses.Window` rule).
    baseline_ms : Window or (start_ms, end_ms), optional
        Where the baseline comes from. None (default): the responses to the blank stimuli
        (``polarity == "blank"``) in ``window_ms``. A window (e.g. the pre-stimulus blank,
        ``(-200, 0)``): the counts of every stimulus in that window, scaled to the duration
        of ``window_ms``.
    alpha : float
        Family-wise error rate of the significance criterion, in (0, 1).
    min_trials : int
        Fewest trials (repeats x trials pooled) a grid cell and the baseline must have
        (>= 2, needed for the variance).
    where : mapping, optional
        Restrict to stimuli matching these coordinates (``select_stimuli`` rule).

    Returns
    -------
    xarray.Dataset
        Maps over ``(neuron, y_deg, x_deg)`` (grid positions in degrees):

        - ``on``, ``off``: mean count in the window to a light / dark square at that
          position minus the baseline mean (NaN everywhere for a polarity not shown);
        - ``on_z``, ``off_z``: :math:`z = (m - b) / (s \\sqrt{1/n + 1/n_b})`, with ``m`` and
          ``n`` the mean and number of trials of the cell, ``b`` and ``n_b`` those of the
          baseline and ``s`` the pooled within-condition standard deviation (every cell and
          the baseline; a one-way ANOVA's error term);

        and per neuron: ``baseline`` (mean count), ``noise_sd`` (``s``), ``max_z``,
        ``significant`` (``max_z >= z_threshold``: some square excites the neuron) and
        ``reason`` (why z is NaN: ``"constant responses: no trial-to-trial variability"``;
        empty otherwise). Neuron coordinates are kept (``x_deg``/``y_deg`` renamed
        ``neuron_x_deg``/``neuron_y_deg``). ``attrs``: ``z_threshold`` (two-sided Bonferroni
        over the cells, ``Phi^-1(1 - alpha / (2 n_cells))``), ``n_cells``, ``grid_deg``,
        ``min_trials_per_cell``, ``baseline`` (how it was taken), units and provenance.

    Raises
    ------
    ValueError
        On missing stimulus coordinates, no ON/OFF squares, an incomplete grid (a polarity
        missing at a grid position), fewer than ``min_trials`` trials in a cell or the
        baseline ("too few repeats"), no baseline (no blank stimuli and no
        ``baseline_ms``), windows outside the data or cutting a bin, bad ``alpha``.

    Notes
    -----
    The reverse-correlation maps of flashed-square ("sparse noise") experiments: Jones &
    Palmer (1987) J Neurophysiol 58:1187; DeAngelis, Ohzawa & Freeman (1993) J Neurophysiol
    69:1091; the z-scored ON/OFF maps of the Allen Brain Observatory's locally sparse noise
    (de Vries et al. 2020 Nat Neurosci 23:138) follow the same idea. Missing trials (NaN)
    are left out per neuron. Only excitation (positive z) counts towards ``significant``;
    suppression shows as negative values in the maps.
    """
    _check_responses(responses)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ValueError(f"alpha: expected a number in (0, 1), got {alpha!r}")
    min_trials = check_int(min_trials, "min_trials", minimum=2)
    counts, duration, _ = _window_counts(responses, window_ms)
    mask = _where_mask(responses, where)
    pol = _text_coord(responses, "polarity")
    xs = np.round(_float_coord(responses, "center_x_deg"), _ROUND)
    ys = np.round(_float_coord(responses, "center_y_deg"), _ROUND)
    shown = mask & np.isin(pol, ("on", "off"))
    if not shown.any():
        raise ValueError("responses: no sparse-noise squares (polarity 'on' or 'off') among "
                         "the selected stimuli")
    if not (np.isfinite(xs[shown]).all() and np.isfinite(ys[shown]).all()):
        raise ValueError("responses: center_x_deg / center_y_deg must be finite for 'on' and "
                         "'off' squares")
    gx, gy = np.unique(xs[shown]), np.unique(ys[shown])
    pols = [p for p in ("on", "off") if (shown & (pol == p)).any()]
    n_neuron = counts.shape[-1]

    # baseline samples, scaled to the response window
    if baseline_ms is None:
        blank = mask & (pol == "blank")
        if not blank.any():
            raise ValueError("baseline_ms: no blank stimuli (polarity 'blank') to take the "
                             "baseline from; give a baseline window such as (-200, 0)")
        base = _samples(counts, np.flatnonzero(blank))
        how = "blank stimuli in the response window"
    else:
        b_counts, b_dur, _ = _window_counts(responses, baseline_ms, "baseline_ms")
        base = _samples(b_counts, np.flatnonzero(mask)) * (duration / b_dur)
        how = f"every stimulus in baseline_ms, scaled by {duration:g}/{b_dur:g} ms"
    n_b, b_mean, b_var = _moments(base)
    if int(n_b.min()) < min_trials:
        raise ValueError(f"min_trials: the baseline has {int(n_b.min())} trials; need >= "
                         f"{min_trials} (too few repeats: present more trials or blanks)")

    shape = (2, gy.size, gx.size, n_neuron)
    mean = np.full(shape, np.nan)
    n = np.zeros(shape)
    ss = np.zeros(n_neuron)
    dof = np.zeros(n_neuron)
    groups: dict[tuple[str, float, float], list[int]] = {}
    for i in np.flatnonzero(shown):
        groups.setdefault((str(pol[i]), float(xs[i]), float(ys[i])), []).append(int(i))
    for pi, p in enumerate(("on", "off")):
        if p not in pols:
            continue
        for yi, y in enumerate(gy):
            for xi, x in enumerate(gx):
                idx = np.asarray(groups.get((p, float(x), float(y)), []), dtype=np.intp)
                if idx.size == 0:
                    raise ValueError(f"responses: the sparse-noise grid is incomplete: no "
                                     f"{p!r} square at (x, y) = ({x:g}, {y:g}) deg")
                cn, cm, cv = _moments(_samples(counts, idx))
                if int(cn.min()) < min_trials:
                    raise ValueError(
                        f"min_trials: the {p!r} square at ({x:g}, {y:g}) deg has "
                        f"{int(cn.min())} trials (repeats x trials); need >= {min_trials} "
                        "(too few repeats)")
                mean[pi, yi, xi], n[pi, yi, xi] = cm, cn
                ss += np.nan_to_num(cv) * (cn - 1)
                dof += cn - 1
    ss += np.nan_to_num(b_var) * (n_b - 1)
    dof += n_b - 1
    sd = np.sqrt(ss / dof)
    diff = mean - b_mean
    with np.errstate(invalid="ignore", divide="ignore"):
        z = diff / (sd * np.sqrt(1.0 / np.maximum(n, 1) + 1.0 / n_b))
    constant = ~(sd > 0)
    z[..., constant] = np.nan
    n_cells = len(pols) * gx.size * gy.size
    z_crit = _z_threshold(float(alpha), n_cells)
    with np.errstate(invalid="ignore"):
        max_z = np.where(constant, np.nan, np.nanmax(np.where(np.isnan(z), -np.inf, z),
                                                     axis=(0, 1, 2)))
    reason = np.where(constant, "constant responses: no trial-to-trial variability", "")
    maps = np.moveaxis(diff, -1, 1)  # (2, neuron, y, x)
    zs = np.moveaxis(z, -1, 1)
    dims = ("neuron", *_MAP_DIMS)
    cunits = _count_units(responses)
    data = {
        "on": (dims, maps[0], {"units": cunits, "long_name": "ON map (light squares)"}),
        "off": (dims, maps[1], {"units": cunits, "long_name": "OFF map (dark squares)"}),
        "on_z": (dims, zs[0], {"units": "1"}),
        "off_z": (dims, zs[1], {"units": "1"}),
        "baseline": ("neuron", b_mean, {"units": cunits}),
        "noise_sd": ("neuron", sd, {"units": cunits}),
        "max_z": ("neuron", max_z, {"units": "1"}),
        "significant": ("neuron", np.nan_to_num(max_z, nan=-np.inf) >= z_crit),
        "reason": ("neuron", reason.astype(str)),
    }
    coords = {"x_deg": gx, "y_deg": gy, **_neuron_coords(responses)}
    steps = [float(np.min(np.diff(g))) for g in (gx, gy) if g.size > 1]
    attrs = _provenance("receptive_field_maps.sparse_noise_rf", responses,
                        window_ms=tuple(np.atleast_1d(_window_tuple(window_ms))),
                        window_duration_ms=duration, alpha=float(alpha),
                        polarities=repr(pols), where=where)
    attrs.update(z_threshold=z_crit, n_cells=n_cells,
                 grid_deg=min(steps) if steps else float("nan"),
                 min_trials_per_cell=int(np.min(n[[("on", "off").index(q) for q in pols]])),
                 n_baseline_trials=int(n_b.min()), baseline=how,
                 renamed_coords="neuron x_deg/y_deg -> neuron_x_deg/neuron_y_deg",
                 n_constant=int(constant.sum()))
    if "square_deg" in responses.coords:
        sq = np.asarray(responses["square_deg"].values, dtype=float)[shown]
        attrs["square_deg"] = float(np.nanmedian(sq))
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _window_tuple(window_ms: Any) -> Any:
    from neurofond.responses import Window

    w = Window.parse(window_ms)
    return (w.start_ms, w.end_ms)


# --------------------------------------------------------------------------- centre and size


def _gauss2d(p: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    a, x0, y0, s1, s2, phi, c = p
    cp, sp = math.cos(phi), math.sin(phi)
    dx, dy = x - x0, y - y0
    u = dx * cp + dy * sp
    v = -dx * sp + dy * cp
    return a * np.exp(-0.5 * (u * u / (s1 * s1) + v * v / (s2 * s2))) + c


def _gauss2d_jac(p: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    a, x0, y0, s1, s2, phi, _ = p
    cp, sp = math.cos(phi), math.sin(phi)
    dx, dy = x - x0, y - y0
    u = dx * cp + dy * sp
    v = -dx * sp + dy * cp
    e = np.exp(-0.5 * (u * u / (s1 * s1) + v * v / (s2 * s2)))
    g_u = -a * e * u / (s1 * s1)
    g_v = -a * e * v / (s2 * s2)
    jac = np.empty((x.size, 7))
    jac[:, 0] = e
    jac[:, 1] = -g_u * cp + g_v * sp
    jac[:, 2] = -g_u * sp - g_v * cp
    jac[:, 3] = a * e * u * u / (s1 * s1 * s1)
    jac[:, 4] = a * e * v * v / (s2 * s2 * s2)
    jac[:, 5] = g_u * v - g_v * u
    jac[:, 6] = 1.0
    return jac


def _fit_gaussian(s: np.ndarray, x: np.ndarray, y: np.ndarray, cell: float
                  ) -> tuple[np.ndarray | None, float]:
    """Least-squares elliptical Gaussian on a grid; returns (params, R^2) or (None, nan)."""
    from scipy.optimize import least_squares

    data = s.ravel()
    xx, yy = x.ravel(), y.ravel()
    ss_tot = float(((data - data.mean()) ** 2).sum())
    if not np.isfinite(data).all() or ss_tot <= 0:
        return None, float("nan")
    lo = float(np.median(data))
    w = np.clip(data - lo, 0.0, None)
    if w.sum() <= 0:
        return None, float("nan")
    w = np.where(data - lo >= 0.5 * (data.max() - lo), w, 0.0)
    x0, y0 = float((w * xx).sum() / w.sum()), float((w * yy).sum() / w.sum())
    cxx = float((w * (xx - x0) ** 2).sum() / w.sum()) + cell * cell / 12
    cyy = float((w * (yy - y0) ** 2).sum() / w.sum()) + cell * cell / 12
    cxy = float((w * (xx - x0) * (yy - y0)).sum() / w.sum())
    evals, evecs = np.linalg.eigh(np.array([[cxx, cxy], [cxy, cyy]]))
    # the half-max region of a Gaussian has variance sigma^2 / 2 along each axis (approx.)
    s1 = max(math.sqrt(2 * max(evals[1], 1e-12)), cell / 2)
    s2 = max(math.sqrt(2 * max(evals[0], 1e-12)), cell / 2)
    phi = math.atan2(evecs[1, 1], evecs[0, 1])
    ext = max(float(np.ptp(xx)), float(np.ptp(yy)), cell)
    lower = [0.0, xx.min() - ext, yy.min() - ext, cell / 10, cell / 10, -2 * math.pi, -np.inf]
    upper = [np.inf, xx.max() + ext, yy.max() + ext, 4 * ext, 4 * ext, 2 * math.pi, np.inf]
    p0 = np.clip([data.max() - lo, x0, y0, s1, s2, phi, lo], np.array(lower) + 1e-12,
                 np.array(upper) - 1e-12)
    try:
        res = least_squares(lambda p: _gauss2d(p, xx, yy) - data, p0, bounds=(lower, upper),
                            jac=lambda p: _gauss2d_jac(p, xx, yy), max_nfev=200)
    except (ValueError, np.linalg.LinAlgError):  # pragma: no cover - degenerate data
        return None, float("nan")
    cost = float((res.fun * res.fun).sum())
    return res.x, 1.0 - cost / ss_tot


def _peak_component(s: np.ndarray, level: float) -> np.ndarray:
    """Cells at or above ``level``, connected (4-neighbours) to the largest cell."""
    from scipy.ndimage import label

    lab, _ = label(s >= level)
    iy, ix = np.unravel_index(int(np.argmax(s)), s.shape)
    return lab == lab[iy, ix]


def rf_centre_size(rf: xr.Dataset | xr.DataArray, *, z_min: float | None = None
                   ) -> xr.Dataset:
    """RF centre and size (deg), ON/OFF peaks and the overlap of the ON and OFF subregions.

    Parameters
    ----------
    rf : xarray.Dataset or xarray.DataArray
        The result of :func:`sparse_noise_rf`, or any map with dimensions ``y_deg`` and
        ``x_deg`` (e.g. a linear RF estimate; its magnitude is used) and any others.
    z_min : float, optional
        z-score a cell needs to count as part of a subregion (ON/OFF overlap, peaks).
        Default: ``rf.attrs["z_threshold"]`` (the Bonferroni criterion).

    Returns
    -------
    xarray.Dataset
        Over the other dimensions of the map (``neuron``), with their coordinates:

        - ``centre_x_deg``, ``centre_y_deg``: centre of an elliptical 2-D Gaussian
          :math:`A \\exp(-u^2 / 2\\sigma_1^2 - v^2 / 2\\sigma_2^2) + c` fitted by least squares
          to the response-strength map ``S = max(on, 0) + max(off, 0)`` (a DataArray map:
          ``S = |map|``);
        - ``sigma_major_deg``, ``sigma_minor_deg``, ``angle_deg`` (major axis, deg in
          [0, 180) from +x towards +y), ``sigma_deg = sqrt(sigma_major * sigma_minor)``:
          the RF size (a square of side ``a`` blurs a Gaussian RF of width ``sigma`` into
          ``sqrt(sigma^2 + a^2 / 12)``; the map's value is reported, not deconvolved);
        - ``fit_r2``: R^2 of the Gaussian fit;
        - ``area_deg2``: area of the cells with ``S`` at or above half the fitted height
          (``c + A / 2``), connected to the largest cell (for a Gaussian on a fine grid
          ``2 pi ln2 sigma_1 sigma_2``);
        - ``at_edge``: that half-height region touches the border of the grid (the grid
          may not cover the RF: map a larger region; without a fit, half the map's range
          above its median is used);
        - ``on_peak_x_deg``/``_y_deg``, ``off_peak_x_deg``/``_y_deg``: position of the
          largest ON / OFF response among the significant cells (NaN if none);
        - ``onoff_overlap``: :math:`\\sum \\min(ON^+, OFF^+) / \\sum \\max(ON^+, OFF^+)` over
          the cells, ``ON^+`` the ON map where ``on_z >= z_min`` (else 0), likewise OFF; 0 =
          segregated subregions (simple-cell-like), 1 = identical ON and OFF maps
          (complex-cell-like); NaN when no cell is significant;
        - ``onoff_correlation``: Pearson correlation of the ON and OFF maps over the cells
          (negative for segregated subregions, positive for overlapping ones);
        - ``reason``: why values are NaN (``"no significant response"``, ``"constant
          responses ..."``, ``"flat map"``, ``"Gaussian fit failed"``, ``"fitted centre
          outside the mapped grid"``); empty otherwise.

    Raises
    ------
    ValueError
        If ``rf`` lacks the map dimensions, has fewer than 3 positions along one, or lacks
        the ``on``/``off`` maps (Dataset).

    Notes
    -----
    Centre and size from 2-D Gaussian (or Gabor) fits to sparse-noise maps as in Jones &
    Palmer (1987) J Neurophysiol 58:1233 and Ringach (2002) J Neurophysiol 88:455 (widths
    as Gaussian ``sigma``); ON and OFF subregions as in Hubel & Wiesel (1962) J Physiol
    160:106 and DeAngelis et al. (1993); the overlap of ON and OFF subregions separates
    simple from complex cells (Mata & Ringach 2005 J Neurophysiol 93:919 use an overlap
    index of Gaussian-fit centres and widths; the weighted Jaccard index here needs no fit
    and is 0 for a linear-rectified cell and 1 when ON and OFF maps coincide).
    """
    if isinstance(rf, xr.Dataset):
        for key in ("on", "off"):
            if key not in rf:
                raise ValueError(f"rf: expected the '{key}' map of sparse_noise_rf; "
                                 f"has {sorted(rf.data_vars)}")
        base = rf["on"]
    elif isinstance(rf, xr.DataArray):
        base = rf
    else:
        raise ValueError(f"rf: expected an xarray Dataset or DataArray, got {type(rf)}")
    for dim in _MAP_DIMS:
        if dim not in base.dims or dim not in base.coords:
            raise ValueError(f"rf: expected a map with dimension and coordinate {dim!r}; "
                             f"dims are {tuple(base.dims)}")
        if base.sizes[dim] < 3:
            raise ValueError(f"rf: needs at least 3 positions along {dim!r} to fit a centre "
                             f"and size, got {base.sizes[dim]}")
    rest = tuple(d for d in base.dims if d not in _MAP_DIMS)
    rest_shape = tuple(base.sizes[d] for d in rest)
    gx = np.asarray(base["x_deg"].values, dtype=float)
    gy = np.asarray(base["y_deg"].values, dtype=float)
    steps = [float(np.min(np.abs(np.diff(g)))) for g in (gx, gy)]
    cell = min(steps)
    cell_area = steps[0] * steps[1]
    xg, yg = np.meshgrid(gx, gy)

    def flat(da: xr.DataArray) -> np.ndarray:
        return np.asarray(da.transpose(*rest, *_MAP_DIMS).values, dtype=float).reshape(
            -1, gy.size, gx.size)

    have_z = isinstance(rf, xr.Dataset) and "on_z" in rf and "off_z" in rf
    if isinstance(rf, xr.Dataset):
        on, off = flat(rf["on"]), flat(rf["off"])
        s_all = np.nan_to_num(np.clip(on, 0, None)) + np.nan_to_num(np.clip(off, 0, None))
        s_all = np.where(np.isnan(on) & np.isnan(off), np.nan, s_all)
    else:
        on = off = None
        s_all = np.abs(flat(rf))
    if have_z:
        zmin = rf.attrs.get("z_threshold") if z_min is None else z_min
        zmin = check_positive(zmin, "z_min")
        on_z, off_z = flat(rf["on_z"]), flat(rf["off_z"])
    m = s_all.shape[0]
    sig = (np.asarray(rf["significant"].values, dtype=bool).reshape(-1)
           if isinstance(rf, xr.Dataset) and "significant" in rf else np.ones(m, bool))
    prior = (np.asarray(rf["reason"].values).astype(str).reshape(-1)
             if isinstance(rf, xr.Dataset) and "reason" in rf else np.full(m, ""))
    names = ("centre_x_deg", "centre_y_deg", "sigma_major_deg", "sigma_minor_deg", "angle_deg",
             "sigma_deg", "fit_r2", "area_deg2", "on_peak_x_deg", "on_peak_y_deg",
             "off_peak_x_deg", "off_peak_y_deg", "onoff_overlap", "onoff_correlation")
    out = {k: np.full(m, np.nan) for k in names}
    at_edge = np.zeros(m, dtype=bool)
    reason = np.full(m, "", dtype=object)
    for i in range(m):
        s = s_all[i]
        if prior[i]:
            reason[i] = prior[i]
            continue
        if not sig[i]:
            reason[i] = "no significant response"
            continue
        if not np.isfinite(s).all() or np.ptp(s) <= 0:
            reason[i] = "flat map"
            continue
        p, r2 = _fit_gaussian(s, xg, yg, cell)
        # half height: of the fitted Gaussian (robust to a noisy peak cell), else of the map
        level = (p[6] + 0.5 * p[0]) if p is not None else 0.5 * (s.max() + np.median(s))
        comp = _peak_component(s, level)
        at_edge[i] = bool(comp[0].any() or comp[-1].any() or comp[:, 0].any()
                          or comp[:, -1].any())
        if on is not None:
            r = np.corrcoef(np.nan_to_num(on[i]).ravel(), np.nan_to_num(off[i]).ravel())[0, 1]
            out["onoff_correlation"][i] = r
        if have_z:
            onp = np.where(on_z[i] >= zmin, np.clip(on[i], 0, None), 0.0)
            offp = np.where(off_z[i] >= zmin, np.clip(off[i], 0, None), 0.0)
            onp, offp = np.nan_to_num(onp), np.nan_to_num(offp)
            denom = np.maximum(onp, offp).sum()
            if denom > 0:
                out["onoff_overlap"][i] = np.minimum(onp, offp).sum() / denom
            for key, mp in (("on", onp), ("off", offp)):
                if mp.max() > 0:
                    iy, ix = np.unravel_index(int(np.argmax(mp)), mp.shape)
                    out[f"{key}_peak_x_deg"][i], out[f"{key}_peak_y_deg"][i] = gx[ix], gy[iy]
        if p is None:
            reason[i] = "Gaussian fit failed"
            continue
        out["area_deg2"][i] = comp.sum() * cell_area
        _, x0, y0, s1, s2, phi, _ = p
        half = cell / 2
        if not (gx.min() - half <= x0 <= gx.max() + half
                and gy.min() - half <= y0 <= gy.max() + half):
            reason[i] = "fitted centre outside the mapped grid"
            continue
        if s1 < s2:
            s1, s2, phi = s2, s1, phi + math.pi / 2
        out["centre_x_deg"][i], out["centre_y_deg"][i] = x0, y0
        out["sigma_major_deg"][i], out["sigma_minor_deg"][i] = s1, s2
        out["angle_deg"][i] = math.degrees(phi) % 180.0
        out["sigma_deg"][i] = math.sqrt(s1 * s2)
        out["fit_r2"][i] = r2
    units = {k: "deg" for k in names if k.endswith("_deg")}
    units.update(area_deg2="deg^2", fit_r2="1", onoff_overlap="1", onoff_correlation="1")
    data: dict[str, Any] = {
        k: (rest, out[k].reshape(rest_shape), {"units": units[k]}) for k in names}
    data["at_edge"] = (rest, at_edge.reshape(rest_shape))
    data["reason"] = (rest, reason.astype(str).reshape(rest_shape))
    coords = {name: c for name, c in base.coords.items()
              if not set(c.dims) & set(_MAP_DIMS)}
    attrs = _provenance("receptive_field_maps.rf_centre_size", rf,
                        z_min=(zmin if have_z else "None"), grid_deg=cell)
    attrs["strength_map"] = ("max(on, 0) + max(off, 0)" if isinstance(rf, xr.Dataset)
                             else "|map|")
    attrs["n_at_edge"] = int(at_edge.sum())
    if isinstance(rf, xr.Dataset) and "square_deg" in rf.attrs:
        attrs["square_deg"] = rf.attrs["square_deg"]
    return xr.Dataset(data, coords=coords, attrs=attrs)


# --------------------------------------------------------------------------- bars


def _single(values: np.ndarray, name: str) -> float:
    u = np.unique(np.round(values[np.isfinite(values)], _ROUND))
    if u.size != 1:
        raise ValueError(f"responses: the bar sweeps must share one {name}; got {u.tolist()}")
    return float(u[0])


def _smooth(prof: np.ndarray, positions: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of ``prof`` (..., position, neuron) along position (NaN-aware)."""
    d = positions[:, None] - positions[None, :]
    kern = np.exp(-0.5 * (d / sigma) ** 2)  # (out, in)
    valid = np.isfinite(prof)
    num = np.einsum("oi,...in->...on", kern, np.where(valid, prof, 0.0))
    den = np.einsum("oi,...in->...on", kern, valid.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _nanmax(a: np.ndarray, axis: int) -> np.ndarray:
    """NaN-ignoring maximum without warnings; all-NaN slices give NaN."""
    filled = np.where(np.isnan(a), -np.inf, a).max(axis=axis)
    return np.where(np.isneginf(filled), np.nan, filled)


def _peak_centroid(profile: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Per column of ``profile`` (position, neuron): the response-weighted mean position of
    the contiguous run of positions at or above half the peak that holds the peak."""
    out = np.full(profile.shape[1], np.nan)
    for i in range(profile.shape[1]):
        col = profile[:, i]
        if not np.isfinite(col).any() or np.nanmax(col) <= 0:
            continue
        j = int(np.nanargmax(col))
        half = 0.5 * col[j]
        lo, hi = j, j
        while lo > 0 and np.nan_to_num(col[lo - 1], nan=-np.inf) >= half:
            lo -= 1
        while hi < col.size - 1 and np.nan_to_num(col[hi + 1], nan=-np.inf) >= half:
            hi += 1
        w = col[lo:hi + 1]
        out[i] = float((w * positions[lo:hi + 1]).sum() / w.sum())
    return out


def bar_responses(
    responses: xr.DataArray,
    window_ms: Any = None,
    *,
    baseline_ms: Any = None,
    latency_ms: float = 0.0,
    smooth_deg: float | None = None,
    where: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Orientation tuning, response profiles and RF centre from bar stimuli.

    Parameters
    ----------
    responses : Responses
        Responses to :func:`neurofond.stimuli.rf_mapping.bar_sweep` (``kind ==
        "bar_sweep"``) or :func:`~neurofond.stimuli.rf_mapping.flashed_bars` (``kind ==
        "flashed_bar"``), with their stimulus columns.
    window_ms : Window or (start_ms, end_ms), optional
        Flashed bars: the response window (required). Swept bars: the bins that form the
        profile (default ``(0, sweep_ms)``, the whole sweep).
    baseline_ms : Window or (start_ms, end_ms), optional
        Baseline window (mean rate of every selected stimulus in it). Default: flashed bars,
        the blank stimuli (``polarity == "blank"``) in ``window_ms``; swept bars, the blank
        sweeps (``bar_sweep(..., n_blanks=...)``) bin by bin when there are any (a baseline
        that drifts during the sweep is subtracted), else every bin that ends at or before
        0 ms (the pre-stimulus blank).
    latency_ms : float
        Swept bars: response latency (>= 0) subtracted from each bin's time before it is
        assigned the bar position on screen at that time.
    smooth_deg : float, optional
        Smooth each profile along position with a Gaussian of this standard deviation (deg,
        > 0; normalised over the finite positions) before the peaks and the tuning are
        taken; the returned ``profile`` is the smoothed one. Default: no smoothing.
    where : mapping, optional
        Restrict to stimuli matching these coordinates.

    Returns
    -------
    xarray.Dataset

        - ``profile`` (``bar``, ``position_deg``, ``neuron``): trial-mean rate minus the
          baseline; ``bar`` has coordinates ``orientation``, ``direction`` (flashed bars:
          the orientation) and ``polarity``; ``position_deg`` is the bar centre's signed
          distance from the stimulus centre along ``direction`` (sweeps: the position on
          screen in the bin, per frame; NaN where no bin maps to a frame);
        - ``tuning`` (``orientation``, ``neuron``): peak of the profile over positions,
          directions and polarities (baseline-subtracted rate) - pass it to
          :func:`neurofond.analysis.orientation_selectivity`;
        - ``preferred_orientation`` (``neuron``): orientation of the largest ``tuning``;
        - ``peak_position_deg`` (``orientation``, ``neuron``): RF centre along the normal of
          each orientation (deg from the stimulus centre, along +orientation): the
          response-weighted mean position of the contiguous positions at or above half the
          profile's peak (its largest polarity); sweeps in both directions average the two
          directions (``(p_theta - p_theta+180) / 2``), which cancels a response latency;
        - ``latency_ms`` (``orientation``, ``neuron``, sweeps in both directions): the
          residual latency ``(p_theta + p_theta+180) / (2 speed)`` (NaN otherwise);
        - ``centre_x_deg``, ``centre_y_deg`` (``neuron``): the point whose projections on
          the orientations' normals best match ``peak_position_deg`` (least squares,
          weighted by the positive ``tuning``; needs two non-parallel orientations);
        - ``baseline`` (``neuron``), ``reason`` (``neuron``: why values are NaN).

    Raises
    ------
    ValueError
        On missing stimulus columns, mixed or unknown ``kind``, sweeps that differ in
        speed / start / frame rate, a missing window for flashed bars, windows outside the
        data, no baseline.

    Notes
    -----
    The Hubel & Wiesel (1959 J Physiol 148:574; 1962 J Physiol 160:106) bar experiment:
    a bar swept or flashed across the RF at several orientations; the orientation that
    drives the largest response is the preferred one, the position of the peak response
    locates the RF along the bar's normal. Rates are spikes/s (for activations, their
    units per s).
    """
    _check_responses(responses)
    latency_ms = float(latency_ms)
    if not math.isfinite(latency_ms) or latency_ms < 0:
        raise ValueError(f"latency_ms: expected a finite number >= 0, got {latency_ms!r}")
    mask = _where_mask(responses, where)
    kind = _text_coord(responses, "kind")
    pol = _text_coord(responses, "polarity")
    bars = mask & (pol != "blank")
    kinds = set(kind[bars].tolist())
    if not kinds or not kinds <= {"bar_sweep", "flashed_bar"} or len(kinds) != 1:
        raise ValueError(f"responses: expected bar stimuli of one kind ('bar_sweep' or "
                         f"'flashed_bar') in the stimulus coordinate 'kind', got {sorted(kinds)}")
    sweep = kinds == {"bar_sweep"}
    ori = np.mod(_float_coord(responses, "orientation"), 180.0)
    starts, ends = _time_edges(responses)
    values = np.asarray(responses.values, dtype=np.float64)
    n_neuron = values.shape[2]
    idx_bars = np.flatnonzero(bars)

    if sweep:
        direction = np.mod(_float_coord(responses, "direction"), 360.0)
        speed = _single(_float_coord(responses, "speed_deg_per_s")[bars], "speed_deg_per_s")
        start = _single(_float_coord(responses, "start_deg")[bars], "start_deg")
        rate = _single(_float_coord(responses, "frame_rate_hz")[bars], "frame_rate_hz")
        sweep_ms = _single(_float_coord(responses, "sweep_ms")[bars], "sweep_ms")
        n_frames = int(round(sweep_ms * rate / 1000.0))
        window = (0.0, sweep_ms) if window_ms is None else window_ms
        idx_t = _window_bins(responses, window)
        mids = 0.5 * (starts[idx_t] + ends[idx_t]) - latency_ms
        frame = np.floor(mids * rate / 1000.0 + 1e-9).astype(int)
        keep = (frame >= 0) & (frame < n_frames)
        widths = (ends - starts)[idx_t][keep]
        per_bin = values[:, :, :, idx_t[keep]] / (widths / 1000.0)  # rates
        trial_mean = _nanmean(per_bin, axis=0)  # (stim, neuron, bins)
        positions = start + speed * np.arange(n_frames) / rate
        fk = frame[keep]

        def frames_of(rows: np.ndarray) -> np.ndarray:
            out = np.full((rows.size, n_frames, n_neuron), np.nan)
            for f in np.unique(fk):
                out[:, f, :] = trial_mean[rows][:, :, fk == f].mean(axis=-1)
            return out

        prof = frames_of(idx_bars)
        blank = mask & (pol == "blank")
        if baseline_ms is None and blank.any():
            baseline_profile = _nanmean(frames_of(np.flatnonzero(blank)), axis=0)
            baseline = _nanmean(baseline_profile, axis=0)
            how = "blank sweeps, bin by bin (time-resolved: a drifting baseline is subtracted)"
        elif baseline_ms is None:
            pre = ends <= 1e-9
            if not pre.any():
                raise ValueError("baseline_ms: the responses have no bins before 0 ms to take "
                                 "the baseline from; give a baseline window")
            b_idx = np.flatnonzero(pre)
            how = "pre-stimulus bins (ending at or before 0 ms) of every bar"
        else:
            b_idx = _window_bins(responses, baseline_ms, "baseline_ms")
            how = "baseline_ms, every bar"
        if not (baseline_ms is None and blank.any()):
            bw = (ends - starts)[b_idx] / 1000.0
            b_rate = values[:, idx_bars][..., b_idx].sum(-1) / bw.sum()
            baseline = _nanmean(b_rate.reshape(-1, n_neuron), axis=0)
            baseline_profile = baseline
        window_used = _window_tuple(window)
    else:
        if window_ms is None:
            raise ValueError("window_ms: required for flashed bars, e.g. (0, 200)")
        direction = ori.copy()
        offsets = np.round(_float_coord(responses, "position_deg"), _ROUND)
        counts, dur, _ = _window_counts(responses, window_ms)
        rates = counts / (dur / 1000.0)
        positions = np.unique(offsets[bars])
        if baseline_ms is None:
            blank = mask & (pol == "blank")
            if not blank.any():
                raise ValueError("baseline_ms: no blank stimuli (polarity 'blank') to take the "
                                 "baseline from; give a baseline window")
            baseline = _nanmean(rates[:, blank].reshape(-1, n_neuron), axis=0)
            how = "blank stimuli in the response window"
        else:
            b_counts, b_dur, _ = _window_counts(responses, baseline_ms, "baseline_ms")
            baseline = _nanmean((b_counts[:, bars] / (b_dur / 1000.0)).reshape(-1, n_neuron),
                                  axis=0)
            how = "baseline_ms, every bar"
        # one profile per (orientation, polarity)
        keys = sorted({(float(ori[i]), str(pol[i])) for i in idx_bars})
        prof = np.full((len(keys), positions.size, n_neuron), np.nan)
        rows = []
        for b, (o, p) in enumerate(keys):
            for j, s in enumerate(positions):
                sel = bars & np.isclose(ori, o) & (pol == p) & (offsets == s)
                if sel.any():
                    prof[b, j] = _nanmean(rates[:, sel].reshape(-1, n_neuron), axis=0)
            rows.append(np.flatnonzero(bars & np.isclose(ori, o) & (pol == p))[0])
        idx_bars = np.asarray(rows)
        window_used = _window_tuple(window_ms)
        baseline_profile = baseline
    prof = prof - baseline_profile
    if smooth_deg is not None:
        prof = _smooth(prof, positions, check_positive(smooth_deg, "smooth_deg"))
    b_ori = ori[idx_bars]
    b_dir = direction[idx_bars]
    b_pol = pol[idx_bars]
    oris = np.unique(np.round(b_ori, _ROUND))
    tuning = np.full((oris.size, n_neuron), np.nan)
    peak_pos = np.full((oris.size, n_neuron), np.nan)
    latency = np.full((oris.size, n_neuron), np.nan)
    for k, o in enumerate(oris):
        on_ori = np.isclose(b_ori, o)
        tuning[k] = _nanmax(prof[on_ori].reshape(-1, n_neuron), axis=0)
        estimates = []
        for sign, d in ((1.0, o), (-1.0, o + 180.0)):
            rows_d = on_ori & np.isclose(np.mod(b_dir - d + 180.0, 360.0), 180.0)
            if not rows_d.any():
                continue
            best = _nanmax(prof[rows_d], axis=0)  # (position, neuron), max over polarity
            estimates.append((sign, _peak_centroid(best, positions)))
        if len(estimates) == 2:
            (_, p_fwd), (_, p_back) = estimates
            peak_pos[k] = 0.5 * (p_fwd - p_back)
            if sweep:
                latency[k] = 1000.0 * 0.5 * (p_fwd + p_back) / speed
        elif estimates:
            sign, p = estimates[0]
            peak_pos[k] = sign * p
    # the stimulus centre: bar centre minus the offset along the normal (flashed), or the
    # sweep centre
    cx = _float_coord(responses, "center_x_deg")[idx_bars]
    cy = _float_coord(responses, "center_y_deg")[idx_bars]
    if not sweep:
        th = np.deg2rad(b_ori)
        off_b = np.round(_float_coord(responses, "position_deg"), _ROUND)[idx_bars]
        cx, cy = cx - off_b * np.cos(th), cy - off_b * np.sin(th)
    c0 = (_single(cx, "stimulus centre (x)"), _single(cy, "stimulus centre (y)"))
    centre = np.full((2, n_neuron), np.nan)
    reason = np.full(n_neuron, "", dtype=object)
    normals = np.stack([np.cos(np.deg2rad(oris)), np.sin(np.deg2rad(oris))], axis=1)
    for i in range(n_neuron):
        w = np.clip(np.nan_to_num(tuning[:, i]), 0.0, None)
        if not (w > 0).any():
            reason[i] = "no response above baseline"
            continue
        ok = (w > 0) & np.isfinite(peak_pos[:, i])
        a = normals[ok] * np.sqrt(w[ok])[:, None]
        rhs = (peak_pos[ok, i] + normals[ok] @ np.asarray(c0)) * np.sqrt(w[ok])
        if ok.sum() < 2 or np.linalg.matrix_rank(a, tol=1e-9) < 2:
            reason[i] = "fewer than two non-parallel orientations respond: no 2-D centre"
            continue
        centre[:, i] = np.linalg.lstsq(a, rhs, rcond=None)[0]
    pref = np.where(np.isfinite(tuning).any(0),
                    oris[np.argmax(np.nan_to_num(tuning, nan=-np.inf), axis=0)], np.nan)
    pref = np.where(reason == "no response above baseline", np.nan, pref)
    runits = _rate_units(responses)
    data = {
        "profile": (("bar", "position_deg", "neuron"), prof, {"units": runits}),
        "tuning": (("orientation", "neuron"), tuning, {"units": runits}),
        "preferred_orientation": ("neuron", pref, {"units": "deg"}),
        "peak_position_deg": (("orientation", "neuron"), peak_pos, {"units": "deg"}),
        "latency_ms": (("orientation", "neuron"), latency, {"units": "ms"}),
        "centre_x_deg": ("neuron", centre[0], {"units": "deg"}),
        "centre_y_deg": ("neuron", centre[1], {"units": "deg"}),
        "baseline": ("neuron", baseline, {"units": runits}),
        "reason": ("neuron", reason.astype(str)),
    }
    coords = {
        "orientation": oris, "position_deg": positions,
        "bar_orientation": ("bar", b_ori), "bar_direction": ("bar", b_dir),
        "bar_polarity": ("bar", b_pol.astype(str)),
        **{k: v for k, v in _coords_on(responses, "neuron").items()},
    }
    attrs = _provenance("receptive_field_maps.bar_responses", responses,
                        kind="bar_sweep" if sweep else "flashed_bar", window_ms=window_used,
                        latency_ms=latency_ms, smooth_deg=smooth_deg, where=where)
    attrs.update(baseline=how, stimulus_centre_deg=c0,
                 position_convention="signed distance (deg) of the bar centre from the "
                                     "stimulus centre along the bar's direction")
    if sweep:
        attrs["speed_deg_per_s"] = speed
    return xr.Dataset(data, coords=coords, attrs=attrs)
