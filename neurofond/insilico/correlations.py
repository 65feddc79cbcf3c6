"""Spike-count noise correlations (r_sc) of a population, and their dependence on signal
correlation.

:func:`noise_correlation_experiment` follows ``analyses/correlations.py``: repeated
full-field static gratings (orientation x SF x contrast, one condition each) shown to one
hypercolumn; trials differ only by the spike sampling, so any correlation of the counts
comes from the recurrent explaining-away dynamics. Per condition the Pearson correlation of
two neurons' counts across trials in a counting window, averaged over conditions
(:func:`neurofond.analysis.correlations.noise_correlations`), and binned by the pair's
signal correlation (:func:`~neurofond.analysis.correlations.signal_correlations`,
:func:`~neurofond.analysis.correlations.noise_correlation_by_signal`). Awake macaque V1:
mean r_sc 0.005 +/- 0.004 (Ecker et al. 2010, Science 327:584); r_sc grows with signal
correlation (Smith & Kohn 2008, J Neurosci 28:12591).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from .._checks import check_int, check_nonnegative
from . import _present

__all__ = ["noise_correlation_experiment"]


def noise_correlation_experiment(population: Any, *,
                                 orientations: Sequence[float] = tuple(np.arange(0, 180, 22.5)),
                                 sfs: Sequence[float] = (1.5, 3.0),
                                 contrasts: Sequence[float] = (0.1, 0.2, 0.3),
                                 n_trials: int = 30, blank_ms: float = 300.0,
                                 stimulus_ms: float = 500.0,
                                 window_ms: tuple[float, float] = (0.0, 500.0),
                                 min_trials: int = 10, min_rate_hz: float = 1.0,
                                 signal_bins: int = 8, canvas_px: int = 32, seed: int = 0,
                                 progress: bool = False) -> xr.Dataset:
    """Noise correlations of all neuron pairs; mean r_sc, its distribution and r_sc vs signal.

    Parameters
    ----------
    population : InSilicoPopulation
        With ``patch_size_deg`` set (spike counts: the iP-VAE).
    orientations, sfs, contrasts : the static gratings (deg, c/deg, (0, 1]); phase 0.
    n_trials : int
        Repeats per grating (>= ``min_trials``).
    blank_ms, stimulus_ms : float
        Mean-gray period before onset and grating duration (whole model steps).
    window_ms : (float, float)
        Counting window (ms after onset).
    min_trials, min_rate_hz : inclusion of a neuron in a condition
        (:func:`neurofond.analysis.correlations.noise_correlations`).
    signal_bins : int
        Equal bins of signal correlation over [-1, 1].
    seed : int
        Seed of the spike sampler.

    Returns
    -------
    xarray.Dataset
        Over ``signal_bin`` (coord ``bin_center``): ``mean_r_sc``, ``sem_r_sc``,
        ``n_pairs``; over ``r_sc_bin`` (coord ``r_sc_center``): ``r_sc_histogram`` (pairs
        per bin of width 0.05). attrs: ``mean_r_sc``, ``sem_r_sc``, ``median_r_sc``,
        ``n_pairs``, ``n_neurons_included``, windows, units and provenance.

    Raises
    ------
    ValueError
        Bad arguments (named).
    """
    from ..analysis.correlations import (
        correlation_pairs,
        noise_correlation_by_signal,
        noise_correlations,
        signal_correlations,
    )

    min_trials = check_int(min_trials, "min_trials", minimum=2)
    if check_int(n_trials, "n_trials", minimum=2) < min_trials:
        raise ValueError(f"n_trials: expected >= min_trials={min_trials}, got {n_trials}")
    check_nonnegative(min_rate_hz, "min_rate_hz")
    signal_bins = check_int(signal_bins, "signal_bins", minimum=1)
    c = _present.check_contrasts(contrasts)
    resp = _present.static_gratings(population, orientations=orientations, sfs=sfs,
                                    phases=(0.0,), contrasts=c, canvas_px=canvas_px,
                                    n_trials=n_trials, blank_ms=blank_ms,
                                    stimulus_ms=stimulus_ms, seed=seed, progress=progress)
    if population.model.config.family != "poisson":
        resp = resp.clip(min=0.0)
        min_rate_hz = 0.0  # activations are not spike counts (noise_correlations refuses)
    noise = noise_correlations(resp, window_ms, min_trials=min_trials, min_rate_hz=min_rate_hz)
    signal = signal_correlations(resp, window_ms)
    by_signal = noise_correlation_by_signal(noise, signal, bins=signal_bins)
    pairs = correlation_pairs(noise, None, position=(), group=None)
    r = np.asarray(pairs["r_sc"].values, dtype=float)
    r = r[np.isfinite(r)]
    edges = np.linspace(-1.0, 1.0, 41)
    hist, _ = np.histogram(np.clip(r, -1.0, 1.0), bins=edges)
    dist = _present.summary(r)
    diag = np.diag(np.asarray(noise["r_sc"].values, dtype=float))
    ds = xr.Dataset(
        {"mean_r_sc": ("signal_bin", np.asarray(by_signal["mean_r_sc"].values, dtype=float)),
         "sem_r_sc": ("signal_bin", np.asarray(by_signal["sem_r_sc"].values, dtype=float)),
         "n_pairs": ("signal_bin", np.asarray(by_signal["n_pairs"].values)),
         "r_sc_histogram": ("r_sc_bin", hist)},
        coords={"bin_center": ("signal_bin", np.asarray(by_signal["bin_center"].values)),
                "r_sc_center": ("r_sc_bin", 0.5 * (edges[:-1] + edges[1:]))})
    ds.attrs.update(_present.provenance(
        "correlations.noise_correlation_experiment", population,
        orientations=list(map(float, orientations)), sfs=list(map(float, sfs)), contrasts=c,
        n_trials=int(n_trials), blank_ms=float(blank_ms), stimulus_ms=float(stimulus_ms),
        window_ms=[float(v) for v in window_ms], min_trials=min_trials,
        min_rate_hz=float(min_rate_hz), canvas_px=int(canvas_px), seed=int(seed)))
    ds.attrs.update(mean_r_sc=dist["mean"], sem_r_sc=dist["sem"], median_r_sc=dist["median"],
                    n_pairs=dist["n"], n_neurons_included=int(np.isfinite(diag).sum()),
                    n_neurons=int(diag.size), n_conditions=int(resp.sizes["stimulus"]),
                    units="dimensionless Pearson r of spike counts")
    return ds
