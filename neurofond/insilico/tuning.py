"""Orientation and spatial-frequency tuning of every neuron of a population (static gratings).

:func:`grating_tuning` shows full-field static gratings (orientation x SF x phase) to one
hypercolumn, reads the response summed over a window after onset, and measures per neuron,
with the analyses of :mod:`neurofond.analysis.tuning`:

- the preferred orientation, SF and phase (peak of the phase-averaged response);
- the orientation curve at the preferred SF -> OSI = (R_pref - R_orth) / (R_pref + R_orth),
  circular variance and bandwidth (:func:`~neurofond.analysis.tuning.orientation_selectivity`;
  Ringach, Shapley & Hawken 2002, J Neurosci 22:5639);
- the SF curve at the preferred orientation -> peak SF and bandwidth in octaves
  (:func:`~neurofond.analysis.tuning.sf_selectivity`; De Valois, Albrecht & Thorell 1982).

Responsive: peak rate >= 2 x the spontaneous (blank) rate and >= 1 % of the population's
largest peak. Orientation-selective: responsive and OSI > 1/3 (R_orth < R_pref / 2).
The protocol is that of ``analyses/contrast_latency.py``'s tuning sweep and
``analyses/tuning_survey.py``'s criteria.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from .._checks import check_int, check_positive
from . import _present

__all__ = ["OSI_SELECTIVE", "grating_tuning"]

#: OSI above which a responsive neuron counts as orientation-selective (R_orth < R_pref / 2).
OSI_SELECTIVE = 1.0 / 3.0


def grating_tuning(population: Any, *,
                   orientations: Sequence[float] = tuple(np.arange(0.0, 180.0, 15.0)),
                   sfs: Sequence[float] = tuple(np.geomspace(0.5, 6.0, 6)),
                   phases: Sequence[float] = (0.0, 90.0, 180.0, 270.0),
                   contrast: float = 1.0, canvas_px: int = 32, blank_ms: float = 200.0,
                   stimulus_ms: float = 400.0, window_ms: tuple[float, float] = (100.0, 400.0),
                   n_trials: int = 1, measure: str = "rates", seed: int = 0,
                   progress: bool = False) -> xr.Dataset:
    """Orientation and SF tuning of every neuron of one hypercolumn.

    Parameters
    ----------
    population : InSilicoPopulation
        With ``patch_size_deg`` set (the grating SFs are in cycles/deg).
    orientations, sfs, phases : sequence of float
        The factorial grid (deg, cycles/deg, deg); at least 4 orientations, evenly spaced
        over 180 deg for a meaningful circular variance.
    contrast : float
        Michelson contrast in (0, 1].
    canvas_px : int
        Canvas side in stimulus pixels (the population's resolution).
    blank_ms, stimulus_ms : float
        Mean-gray period before onset and grating duration (whole model steps).
    window_ms : (float, float)
        Response window after onset, within ``(0, stimulus_ms]``.
    n_trials : int
        Repeats (``measure="rates"`` is noise-free, so 1 suffices).
    measure : {"rates", "spikes"}
        Posterior-mean response (expected counts) or sampled counts
        (:func:`neurofond.population.windowed.window_responses`).
    seed : int
        Seed of the spike sampler.

    Returns
    -------
    xarray.Dataset
        Over ``neuron``: ``preferred_orientation`` (deg), ``preferred_sf`` (c/deg),
        ``preferred_phase`` (deg), ``osi``, ``circular_variance``, ``orientation_bandwidth``
        (deg), ``peak_sf`` (c/deg), ``sf_bandwidth_octaves``, ``peak_rate`` and
        ``spontaneous_rate`` (response units per s), ``responsive`` and
        ``orientation_selective`` (bool); ``orientation_curve`` (orientation, neuron) at the
        preferred SF and ``sf_curve`` (sf, neuron) at the preferred orientation. attrs:
        ``fraction_orientation_selective`` (of the responsive neurons), ``n_responsive``,
        ``n_neurons``, the criteria, units and provenance.

    Raises
    ------
    ValueError
        Bad arguments (named), fewer than 4 orientations or 2 SFs, or a population without
        ``patch_size_deg``.
    """
    from ..analysis.tuning import orientation_selectivity, sf_selectivity
    from ..population.windowed import window_responses
    from ..stimuli import grating_sweep

    oris = np.unique(np.asarray(orientations, dtype=float))
    sf_grid = np.unique(np.asarray(sfs, dtype=float))
    ph = np.unique(np.asarray(phases, dtype=float))
    if oris.size < 4:
        raise ValueError(f"orientations: expected >= 4 distinct values, got {oris.tolist()}")
    if sf_grid.size < 2 or sf_grid.min() <= 0:
        raise ValueError(f"sfs: expected >= 2 distinct values > 0, got {sf_grid.tolist()}")
    if ph.size < 1:
        raise ValueError("phases: expected at least one phase")
    contrast = float(_present.check_contrasts([contrast], "contrast")[0])
    n_trials = check_int(n_trials, "n_trials", minimum=1)
    check_positive(stimulus_ms, "stimulus_ms")
    blank = _present.steps(population, blank_ms, "blank_ms")
    shown = _present.steps(population, stimulus_ms, "stimulus_ms")
    w0 = _present.steps(population, window_ms[0], "window_ms")
    w1 = _present.steps(population, window_ms[1], "window_ms")
    if not 0 <= w0 < w1 <= shown:
        raise ValueError(f"window_ms: expected 0 <= start < end <= stimulus_ms={stimulus_ms}, "
                         f"got {tuple(window_ms)}")
    stim = grating_sweep(_present.geometry(population, canvas_px), orientations=oris,
                         sfs=sf_grid, phases=ph, contrasts=[contrast])
    resp, base = window_responses(population, stim, n_trials=n_trials, blank_steps=blank,
                                  stimulus_steps=shown, window_steps=(w0, w1), measure=measure,
                                  baseline_steps=blank, seed=seed, progress=progress)
    window_s = (w1 - w0) * population.ms_per_step / 1000.0
    rate = np.asarray(resp.values, dtype=float).mean(0)[..., 0] / window_s  # (stim, K)
    k = rate.shape[1]
    o_i = np.searchsorted(oris, np.asarray(resp["orientation"].values, dtype=float))
    s_i = np.searchsorted(sf_grid, np.asarray(resp["sf"].values, dtype=float))
    p_i = np.searchsorted(ph, np.asarray(resp["phase"].values, dtype=float))
    cube = np.zeros((oris.size, sf_grid.size, ph.size, k))
    cube[o_i, s_i, p_i] = rate
    mean_phase = cube.mean(2)  # (ori, sf, K)
    flat = mean_phase.reshape(-1, k)
    best = np.argmax(flat, axis=0)
    b_o, b_s = np.unravel_index(best, mean_phase.shape[:2])
    cols = np.arange(k)
    ori_curve = xr.DataArray(mean_phase[:, b_s, cols], dims=("orientation", "neuron"),
                             coords={"orientation": oris})
    sf_curve = xr.DataArray(mean_phase[b_o, :, cols].T, dims=("sf", "neuron"),
                            coords={"sf": sf_grid})
    osel = orientation_selectivity(ori_curve)
    ssel = sf_selectivity(sf_curve)
    peak = flat[best, cols]
    spont = base / (population.ms_per_step / 1000.0)
    with np.errstate(invalid="ignore"):
        responsive = (peak > 0) & (peak >= 2.0 * spont) & (peak >= 0.01 * np.max(peak))
    osi = np.asarray(osel["osi"].values, dtype=float)
    selective = responsive & (np.nan_to_num(osi, nan=-1.0) > OSI_SELECTIVE)
    n_resp = int(responsive.sum())
    family = population.model.config.family
    units = ("expected spikes/s" if family == "poisson" and measure == "rates" else
             "spikes/s" if family == "poisson" else "activation per s (a.u.)")
    neuron = np.asarray(resp["unit"].values) if "unit" in resp.coords else np.arange(k)
    ds = xr.Dataset(
        {"preferred_orientation": ("neuron", oris[b_o]),
         "preferred_sf": ("neuron", sf_grid[b_s]),
         "preferred_phase": ("neuron", ph[np.argmax(cube[b_o, b_s, :, cols], axis=1)]),
         "osi": ("neuron", osi),
         "circular_variance": ("neuron", np.asarray(osel["circular_variance"].values)),
         "orientation_bandwidth": ("neuron", np.asarray(osel["bandwidth"].values)),
         "peak_sf": ("neuron", np.asarray(ssel["peak_sf"].values)),
         "sf_bandwidth_octaves": ("neuron", np.asarray(ssel["bandwidth_octaves"].values)),
         "peak_rate": ("neuron", peak),
         "spontaneous_rate": ("neuron", spont),
         "responsive": ("neuron", responsive),
         "orientation_selective": ("neuron", selective),
         "orientation_curve": (("orientation", "neuron"), ori_curve.values),
         "sf_curve": (("sf", "neuron"), sf_curve.values)},
        coords={"neuron": np.arange(k), "unit": ("neuron", neuron), "orientation": oris,
                "sf": sf_grid})
    ds.attrs.update(_present.provenance(
        "tuning.grating_tuning", population, orientations=oris, sfs=sf_grid, phases=ph,
        contrast=contrast, canvas_px=int(canvas_px), blank_ms=float(blank_ms),
        stimulus_ms=float(stimulus_ms), window_ms=[float(window_ms[0]), float(window_ms[1])],
        n_trials=n_trials, measure=measure, seed=int(seed)))
    ds.attrs.update(
        units=units, n_neurons=int(k), n_responsive=n_resp,
        fraction_orientation_selective=(float(selective.sum() / n_resp) if n_resp
                                        else float("nan")),
        responsive_criterion="peak rate >= 2 x spontaneous and >= 1% of the population's max",
        selective_criterion="responsive and OSI > 1/3 (R_orth < R_pref / 2)")
    return ds
