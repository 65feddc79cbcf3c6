"""Sparsification over time: how sparse the population's responses become after onset.

:func:`sparsification_over_time` shows repeated full-field static gratings and measures, per
model step after onset, the proportion of zero spike counts over (trial, neuron)
(:func:`neurofond.analysis.sparseness.proportion_zeros`) and the Treves-Rolls population
sparseness of the trial-averaged rates
(:func:`neurofond.analysis.sparseness.population_sparseness`; Vinje & Gallant 2000, Science
287:1273), mean and SEM over the gratings. The paper (Vafaii, Galor & Yates 2025, Fig. 3)
reports that iP-VAE responses keep sparsifying after the reconstruction has converged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from . import _present

__all__ = ["sparsification_over_time"]


def sparsification_over_time(population: Any, *,
                             orientations: Sequence[float] = tuple(np.arange(0.0, 180.0, 30.0)),
                             sfs: Sequence[float] = (1.5, 3.0),
                             phases: Sequence[float] = (0.0, 90.0), contrast: float = 1.0,
                             n_trials: int = 10, blank_ms: float = 300.0,
                             stimulus_ms: float = 500.0, canvas_px: int = 32, seed: int = 0,
                             progress: bool = False) -> xr.Dataset:
    """Proportion of zeros and population sparseness per time bin (mean, SEM over gratings).

    Parameters
    ----------
    population : InSilicoPopulation
        With ``patch_size_deg`` set.
    orientations, sfs, phases, contrast : the static gratings (deg, c/deg, deg, (0, 1]).
    n_trials : int
        Repeats per grating (>= 2).
    blank_ms, stimulus_ms : float
        Mean-gray period before onset and grating duration (whole model steps).
    seed : int
        Seed of the spike sampler.

    Returns
    -------
    xarray.Dataset
        Over ``time`` (bin centres, ms from onset): ``proportion_zeros`` and
        ``proportion_zeros_sem``, ``population_sparseness`` and
        ``population_sparseness_sem`` (SEM over the ``n_stimuli`` gratings), ``mean_rate``
        (spikes/s, mean over neurons, trials and gratings). attrs: the values in the last
        100 ms of the grating and 0-100 ms after onset (``zeros_late``, ``zeros_early``,
        ``sparsification`` = late - early proportion of zeros), units and provenance.

    Raises
    ------
    ValueError
        Bad arguments (named).
    """
    from ..analysis.sparseness import population_sparseness, proportion_zeros

    contrasts = _present.check_contrasts([contrast], "contrast")
    resp = _present.static_gratings(population, orientations=orientations, sfs=sfs,
                                    phases=phases, contrasts=contrasts, canvas_px=canvas_px,
                                    n_trials=n_trials, blank_ms=blank_ms,
                                    stimulus_ms=stimulus_ms, seed=seed, progress=progress)
    if population.model.config.family == "gaussian":
        resp = resp.clip(min=0.0)
    zeros = np.asarray(proportion_zeros(resp, over="neuron", per_time_bin=True).values,
                       dtype=float)  # (stimulus, time)
    with np.errstate(invalid="ignore"):
        sparse = np.asarray(population_sparseness(resp, per_time_bin=True).values, dtype=float)
    n_s = zeros.shape[0]
    ms = population.ms_per_step
    centers = np.asarray(resp["time"].values, dtype=float) + 0.5 * ms
    rate = np.asarray(resp.values, dtype=float).mean(axis=(0, 1, 2)) * 1000.0 / ms

    def sem(a: np.ndarray) -> np.ndarray:
        return (np.nanstd(a, axis=0, ddof=1) / np.sqrt(n_s)) if n_s > 1 else a[0] * np.nan

    ds = xr.Dataset({"proportion_zeros": ("time", np.nanmean(zeros, axis=0)),
                     "proportion_zeros_sem": ("time", sem(zeros)),
                     "population_sparseness": ("time", np.nanmean(sparse, axis=0)),
                     "population_sparseness_sem": ("time", sem(sparse)),
                     "mean_rate": ("time", rate)}, coords={"time": centers})
    late = (centers > stimulus_ms - 100.0) & (centers < stimulus_ms)
    early = (centers > 0) & (centers < 100.0)
    z = ds["proportion_zeros"].values
    ds.attrs.update(_present.provenance(
        "sparsification.sparsification_over_time", population,
        orientations=list(map(float, orientations)), sfs=list(map(float, sfs)),
        phases=list(map(float, phases)), contrast=float(contrast), n_trials=int(n_trials),
        blank_ms=float(blank_ms), stimulus_ms=float(stimulus_ms), canvas_px=int(canvas_px),
        seed=int(seed)))
    ds.attrs.update(zeros_early=float(np.mean(z[early])), zeros_late=float(np.mean(z[late])),
                    sparsification=float(np.mean(z[late]) - np.mean(z[early])),
                    n_stimuli=int(n_s), n_neurons=int(resp.sizes["neuron"]),
                    units="proportion (zeros); Treves-Rolls sparseness in [0, 1]; spikes/s")
    return ds
