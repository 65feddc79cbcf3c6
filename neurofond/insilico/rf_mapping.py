"""Receptive fields of a population mapped like an experimenter, and compared with the model's
own RFs.

:func:`map_receptive_fields` shows one hypercolumn sparse noise (one light or dark square per
stimulus on a grid covering the patch, :func:`neurofond.stimuli.rf_mapping.sparse_noise`) and
swept bars (:func:`~neurofond.stimuli.rf_mapping.bar_sweep`), maps ON/OFF RFs with
:func:`neurofond.analysis.receptive_field_maps.sparse_noise_rf`, measures centre and size
(:func:`~neurofond.analysis.receptive_field_maps.rf_centre_size`) and bar tuning
(:func:`~neurofond.analysis.receptive_field_maps.bar_responses`), and compares them with
the model's RFs:

- the **dictionary element** (column of the decoder Phi, :func:`neurofond.population.
  dictionary_rfs`) and its 2-D Gabor fit (:func:`neurofond.population.fit_gabor`);
- the **spike-triggered average** to binary luminance noise
  (:func:`neurofond.population.spike_triggered_average` with ``space="luminance"``).

Agreement, per neuron: Pearson correlation of the linear sparse-noise map ``ON - OFF`` with
the element and with the STA, each sampled at the grid positions (bilinear interpolation in
model pixels, 0 outside the patch); centre offset (deg) between the sparse-noise Gaussian
centre and the Gabor-fit centre; size ratio ``sigma_deg / sqrt(sigma_x sigma_y)`` of the
sparse-noise Gaussian to the Gabor envelope; orientation difference between the bars'
preferred orientation and the element's (peak of its amplitude spectrum, :func:`neurofond.
population.rf_summary`).

Importing this module loads no torch; the function loads the population stack when called.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from .._checks import check_int, check_positive
from ._present import geometry as _geometry
from ._present import provenance, steps, summary

__all__ = ["map_receptive_fields", "summarize_rf_agreement"]


def _sample(images: np.ndarray, xs_deg: np.ndarray, ys_deg: np.ndarray, ppd: float,
            dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Bilinear samples ``(n, len(ys), len(xs))`` of patch images ``(n, p, p)`` at grid
    positions (deg, canvas) relative to each image's tile centre ``(dx, dy)``."""
    from scipy.ndimage import map_coordinates

    n, p, _ = images.shape
    out = np.zeros((n, ys_deg.size, xs_deg.size))
    for i in range(n):
        xx, yy = np.meshgrid((xs_deg - dx[i]) * ppd + (p - 1) / 2,
                             (ys_deg - dy[i]) * ppd + (p - 1) / 2)
        out[i] = map_coordinates(np.nan_to_num(images[i]), [yy, xx], order=1, cval=0.0)
    return out


def _present(population: Any, stim: Any, **kwargs: Any) -> xr.DataArray:
    """``population.present`` without the warning that the spontaneous state is still settling
    at onset: every baseline here comes from blank stimuli interleaved with the same timing
    (sparse noise: the response window; bars: bin by bin), so the drift is subtracted."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*spontaneous state.*")
        return population.present(stim, **kwargs)


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation of ``(n, ...)`` arrays (NaN for a constant row)."""
    a = a.reshape(a.shape[0], -1)
    b = b.reshape(b.shape[0], -1)
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    den = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(1) / den, np.nan)


def _bar_agreement(out: xr.Dataset, br: xr.Dataset, kind: str) -> None:
    """Add the bar results of one kind (``flashed``/``swept``) and their agreement with the
    element's orientation and Gabor centre to ``out``."""
    pref = br["preferred_orientation"].values
    oris = br["orientation"].values
    n = pref.size
    k = np.array([np.flatnonzero(np.isclose(oris, p))[0] if np.isfinite(p) else 0
                  for p in pref])
    cols = np.arange(n)
    along = np.where(np.isfinite(pref), br["peak_position_deg"].values[k, cols], np.nan)
    th = np.deg2rad(pref)
    ex, ey = out["element_x_deg"].values, out["element_y_deg"].values
    projection = ex * np.cos(th) + ey * np.sin(th)
    deg = {"units": "deg"}
    out[f"{kind}_preferred_orientation"] = ("neuron", pref, deg)
    out[f"{kind}_orientation_difference_deg"] = (
        "neuron", np.abs((pref - out["element_orientation"].values + 90.0) % 180.0 - 90.0), deg)
    out[f"{kind}_position_deg"] = ("neuron", along, deg)
    out[f"{kind}_position_error_deg"] = ("neuron", np.abs(along - projection), deg)
    out[f"{kind}_centre_x_deg"] = ("neuron", br["centre_x_deg"].values, deg)
    out[f"{kind}_centre_y_deg"] = ("neuron", br["centre_y_deg"].values, deg)
    out[f"{kind}_centre_offset_deg"] = ("neuron", np.hypot(br["centre_x_deg"].values - ex,
                                                           br["centre_y_deg"].values - ey), deg)
    out[f"{kind}_tuning"] = br["tuning"].rename(orientation=f"{kind}_orientation")
    if kind == "swept":
        out["swept_latency_ms"] = ("neuron", np.where(
            np.isfinite(pref), br["latency_ms"].values[k, cols], np.nan), {"units": "ms"})


def map_receptive_fields(
    population: Any,
    *,
    units: Sequence[int] | None = None,
    square_deg: float | None = None,
    grid_deg: float | None = None,
    contrast: float = 1.0,
    n_trials: int = 20,
    n_blanks: int = 16,
    blank_ms: float = 200.0,
    stimulus_ms: float = 200.0,
    window_ms: tuple[float, float] | None = None,
    alpha: float = 0.01,
    bar_orientations: Sequence[float] | None = tuple(np.arange(0.0, 180.0, 22.5)),
    bars: Sequence[str] = ("flashed", "swept"),
    bar_speed_deg_per_s: float | None = None,
    sta_noise: int = 5000,
    sta_steps: int = 20,
    seed: int = 0,
    progress: bool = False,
) -> xr.Dataset:
    """Sparse-noise and bar RFs of one hypercolumn, compared with its dictionary and STA RFs.

    Parameters
    ----------
    population : InSilicoPopulation
        With ``patch_size_deg`` set and one tile (``positions="center"``).
    units : sequence of int, optional
        Neurons (dictionary indices) to analyse; default all. The whole population is
        simulated either way (the neurons interact).
    square_deg : float, optional
        Side of the sparse-noise squares and width of the bars; default two model pixels
        (``2 patch_size_deg / patch_size``, 0.125 deg for a 16-px, 1-deg patch: one-pixel
        squares drive the shipped iP-VAE too weakly for 20 trials).
    grid_deg : float, optional
        Spacing of the sparse-noise grid; default one model pixel (overlapping squares). The
        grid holds every position whose square lies inside the patch (15 x 15 by default).
    contrast : float
        Weber contrast of squares and bars, in (0, 1].
    n_trials : int
        Trials per square and per bar (>= 2).
    n_blanks : int
        Blank stimuli in each stimulus set (the baselines of the maps and bars), >= 1.
    blank_ms, stimulus_ms : float
        Gray screen before onset and duration of each square (whole model steps).
    window_ms : (float, float), optional
        Sparse-noise response window; default ``(0, stimulus_ms)``.
    alpha : float
        Family-wise error rate of the significance criterion of the maps.
    bar_orientations : sequence of float or None
        Orientations of the bars (light and dark); None skips the bars.
    bars : sequence of {"flashed", "swept"}
        Which bar experiments to run. Flashed bars: ``square_deg`` wide, ``patch_size_deg``
        long, at the grid's positions along each normal, shown like the squares. Swept bars:
        both directions along each normal over ``1.25 * patch_size_deg``, one movie frame
        per model step. Profiles are smoothed along position by a Gaussian of ``grid_deg``.
    bar_speed_deg_per_s : float, optional
        Speed of the swept bars; default a quarter model pixel per step (1.5625 deg/s for a
        16-px, 1-deg patch at 10 ms per step): the shipped iP-VAE's responses build up over
        ~100 ms, and faster bars lose its orientation preference.
    sta_noise, sta_steps : int
        Noise patches and steps per patch of the luminance STA; ``sta_noise = 0`` skips it.
    seed : int
        Seeds the stimulus order, the spike sampling and the STA noise.
    progress : bool
        Progress bars.

    Returns
    -------
    xarray.Dataset
        Over ``neuron`` (the selected units, with their coordinates) and the map grid
        (``y_deg``, ``x_deg``): the maps and statistics of :func:`sparse_noise_rf`, the
        centre/size/overlap of :func:`rf_centre_size` (its ``reason`` as ``fit_reason``);
        the comparisons ``corr_element``, ``corr_sta`` (Pearson r of ON - OFF with the
        element / STA at the grid positions), ``element_x_deg``, ``element_y_deg``,
        ``element_sigma_deg``, ``gabor_r2`` (Gabor fit of the element), ``centre_offset_deg``
        (sparse-noise centre to Gabor centre), ``size_ratio`` (``sigma_deg /
        element_sigma_deg``), ``element_orientation``; per bar experiment (prefix
        ``flashed_`` / ``swept_``): ``preferred_orientation``,
        ``orientation_difference_deg`` (to the element's, in [0, 90]), ``position_deg`` (RF
        centre along the preferred orientation's normal), ``position_error_deg`` (to the
        Gabor centre's projection on that normal), ``centre_x_deg``, ``centre_y_deg``,
        ``centre_offset_deg`` (2-D bar centre to Gabor centre), ``tuning`` (orientation,
        neuron), and ``swept_latency_ms`` (at the preferred orientation). ``attrs``:
        settings, timings, provenance.

    Raises
    ------
    ValueError
        Without ``patch_size_deg``, with more than one tile, on bad arguments.
    """
    from ..analysis.receptive_field_maps import bar_responses, rf_centre_size, sparse_noise_rf
    from ..population import InSilicoPopulation, fit_gabor, rf_summary, spike_triggered_average
    from ..stimuli.rf_mapping import bar_sweep, flashed_bars, sparse_noise

    if not isinstance(population, InSilicoPopulation):
        raise ValueError(f"population: expected an InSilicoPopulation, got {type(population)}")
    p = population.patch_size
    geom = _geometry(population, 2 * p)
    ppd = geom.pixels_per_degree
    if population.layout(geom).n_tiles != 1:
        raise ValueError("population: map_receptive_fields needs one hypercolumn "
                         "(positions='center')")
    side = 2.0 / ppd if square_deg is None else check_positive(square_deg, "square_deg")
    step = 1.0 / ppd if grid_deg is None else check_positive(grid_deg, "grid_deg")
    n_trials = check_int(n_trials, "n_trials", minimum=2)
    n_blanks = check_int(n_blanks, "n_blanks", minimum=1)
    sta_noise = check_int(sta_noise, "sta_noise", minimum=0)
    blank = steps(population, blank_ms, "blank_ms")
    shown = steps(population, stimulus_ms, "stimulus_ms")
    if shown < 1:
        raise ValueError(f"stimulus_ms: expected at least one model step, got {stimulus_ms!r}")
    window = (0.0, float(stimulus_ms)) if window_ms is None else tuple(window_ms)
    k = population.n_units
    sel = np.arange(k) if units is None else np.asarray(units, dtype=np.intp)
    if sel.ndim != 1 or sel.size == 0 or sel.min() < 0 or sel.max() >= k:
        raise ValueError(f"units: expected dictionary indices in [0, {k - 1}], got {units!r}")
    bars = (bars,) if isinstance(bars, str) else tuple(bars)
    if any(b not in ("flashed", "swept") for b in bars):
        raise ValueError(f"bars: expected a sequence of 'flashed' and/or 'swept', got {bars!r}")
    timings: dict[str, float] = {}

    # sparse noise over the patch
    t0 = time.perf_counter()
    n_side = int(math.floor((population.patch_size_deg - side) / step + 1e-9)) + 1
    if n_side < 3:
        raise ValueError(f"square_deg: a {side:g}-deg square every {step:g} deg leaves fewer "
                         f"than 3 positions per side on the {population.patch_size_deg:g}-deg "
                         "patch")
    stim = sparse_noise(geom, side, grid_deg=step, n_positions=n_side, contrast=contrast,
                        n_blanks=n_blanks, seed=seed)
    resp = _present(population, stim, n_trials=n_trials, blank_steps=blank,
                    stimulus_steps=shown, seed=seed, progress=progress)
    resp = resp.isel(neuron=sel)
    timings["sparse_noise_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    rf = sparse_noise_rf(resp, window, alpha=alpha)
    cs = rf_centre_size(rf)
    timings["maps_s"] = time.perf_counter() - t0
    out = rf.copy()
    for name in cs.data_vars:
        out["fit_reason" if name == "reason" else name] = cs[name]

    # the model's own RFs
    t0 = time.perf_counter()
    elements = population.model.phi.detach().cpu().numpy().T.reshape(k, p, p)[sel]
    tile_x = np.asarray(rf["neuron_x_deg"].values, dtype=float)
    tile_y = np.asarray(rf["neuron_y_deg"].values, dtype=float)
    xs, ys = rf["x_deg"].values, rf["y_deg"].values
    linear = np.nan_to_num(rf["on"].values) - np.nan_to_num(rf["off"].values)
    out["corr_element"] = ("neuron", _corr(linear, _sample(elements, xs, ys, ppd, tile_x,
                                                           tile_y)), {"units": "1"})
    fits = [fit_gabor(e) for e in elements]
    gx = np.array([f.params["x0"] for f in fits])
    gy = np.array([f.params["y0"] for f in fits])
    gsig = np.array([math.sqrt(abs(f.params["sigma_x"] * f.params["sigma_y"])) for f in fits])
    out["element_x_deg"] = ("neuron", tile_x + (gx - (p - 1) / 2) / ppd, {"units": "deg"})
    out["element_y_deg"] = ("neuron", tile_y + (gy - (p - 1) / 2) / ppd, {"units": "deg"})
    out["element_sigma_deg"] = ("neuron", gsig / ppd, {"units": "deg"})
    out["gabor_r2"] = ("neuron", np.array([f.r2 for f in fits]), {"units": "1"})
    out["centre_offset_deg"] = ("neuron", np.hypot(
        out["centre_x_deg"].values - out["element_x_deg"].values,
        out["centre_y_deg"].values - out["element_y_deg"].values), {"units": "deg"})
    out["size_ratio"] = ("neuron", out["sigma_deg"].values / out["element_sigma_deg"].values,
                         {"units": "1"})
    out["element_orientation"] = ("neuron", rf_summary(elements)["orientation"].values,
                                  {"units": "deg"})
    timings["dictionary_s"] = time.perf_counter() - t0
    if sta_noise:
        t0 = time.perf_counter()
        sta = spike_triggered_average(population, n_noise=sta_noise, steps=sta_steps, seed=seed,
                                      space="luminance", contrast=contrast, progress=progress)
        out["corr_sta"] = ("neuron", _corr(linear, _sample(sta.values[sel], xs, ys, ppd,
                                                           tile_x, tile_y)), {"units": "1"})
        timings["sta_s"] = time.perf_counter() - t0
    else:
        out["corr_sta"] = ("neuron", np.full(sel.size, np.nan), {"units": "1"})

    # Hubel & Wiesel bars
    if bar_orientations is not None and bars:
        t0 = time.perf_counter()
        for kind in bars:
            if kind == "flashed":
                stim_b = flashed_bars(geom, bar_orientations,
                                      (np.arange(n_side) - (n_side - 1) / 2) * step,
                                      length_deg=population.patch_size_deg, width_deg=side,
                                      contrast=contrast, n_blanks=n_blanks)
                b_resp = _present(population, stim_b, n_trials=n_trials, blank_steps=blank,
                                  stimulus_steps=shown, seed=seed, progress=progress)
                br = bar_responses(b_resp.isel(neuron=sel), window, smooth_deg=step)
            else:
                speed = (0.25 * 1000.0 / (ppd * population.ms_per_step)
                         if bar_speed_deg_per_s is None
                         else check_positive(bar_speed_deg_per_s, "bar_speed_deg_per_s"))
                stim_b = bar_sweep(geom, bar_orientations, length_deg=population.patch_size_deg,
                                   width_deg=side, speed_deg_per_s=speed,
                                   sweep_deg=1.25 * population.patch_size_deg,
                                   frame_rate_hz=1000.0 / population.ms_per_step,
                                   polarities=("on", "off"), contrast=contrast,
                                   n_blanks=n_blanks)
                b_resp = _present(population, stim_b, n_trials=n_trials, blank_steps=blank,
                                  seed=seed, steps_per_frame=1, progress=progress)
                br = bar_responses(b_resp.isel(neuron=sel), smooth_deg=step)
            _bar_agreement(out, br, kind)
            timings[f"{kind}_bars_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
    out.attrs = provenance("rf_mapping.map_receptive_fields", population,
                           units="all" if units is None else sel, square_deg=side,
                           grid_deg=step,
                           contrast=contrast, n_trials=n_trials, n_blanks=n_blanks,
                           blank_ms=blank_ms, stimulus_ms=stimulus_ms, window_ms=window,
                           alpha=alpha, bar_orientations=None if bar_orientations is None
                           else list(map(float, bar_orientations)), bars=list(bars),
                           bar_speed_deg_per_s=bar_speed_deg_per_s, sta_noise=sta_noise,
                           sta_steps=sta_steps, seed=seed)
    out.attrs.update(z_threshold=rf.attrs["z_threshold"], timings_s=repr(timings),
                     baselines="interleaved blank stimuli with the presentation's timing (a "
                               "spontaneous rate still settling at onset is subtracted)",
                     grid=f"{n_side} x {n_side} positions every {step:g} deg, squares of "
                          f"{side:g} deg, over the patch")
    return out


def summarize_rf_agreement(result: xr.Dataset) -> dict[str, Any]:
    """Population summary of :func:`map_receptive_fields`: the fraction of neurons with a
    significant sparse-noise RF, and over those with a Gaussian fit the distribution (n,
    mean, SEM, median, quartiles) of each measure."""
    sig = np.asarray(result["significant"].values, dtype=bool)
    fitted = sig & np.isfinite(result["sigma_deg"].values)
    out: dict[str, Any] = {"n_neurons": int(sig.size), "fraction_significant":
                           float(sig.mean()) if sig.size else math.nan,
                           "n_fitted": int(fitted.sum()),
                           "fraction_at_edge": float(result["at_edge"].values[fitted].mean())
                           if fitted.any() else math.nan}
    for key in ("sigma_deg", "area_deg2", "corr_element", "corr_sta", "centre_offset_deg",
                "size_ratio", "onoff_overlap", "onoff_correlation",
                *(f"{kind}_{name}" for kind in ("flashed", "swept")
                  for name in ("orientation_difference_deg", "position_error_deg",
                               "centre_offset_deg")), "swept_latency_ms"):
        if key in result:
            out[key] = summary(result[key].values[fitted])
    return out
