"""Trial-to-trial variability of spike counts: Fano factors in a fixed window and over time.

:func:`fano_factors` follows ``analyses/variability.py``: repeated presentations of
full-field static gratings to one hypercolumn (trials differ only by the spike sampling);
per (stimulus, neuron) pair the Fano factor F = Var / mean of the count across trials in a
counting window after onset (:func:`neurofond.analysis.variability.fano_factor`, elephant
convention ``ddof=0``), over the pairs whose mean count is >= ``min_count``; the same in the
spontaneous (blank) window; and the time-resolved Fano factor in sliding windows
(:func:`~neurofond.analysis.variability.fano_factor_over_time`), median and quartiles over
the same pairs. Cortex: F ~ 1-1.5, declining at stimulus onset (Churchland et al. 2010,
Nat Neurosci 13:369).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from .._checks import check_nonnegative, check_positive
from . import _present

__all__ = ["fano_factors"]


def fano_factors(population: Any, *,
                 orientations: Sequence[float] = tuple(np.arange(0.0, 180.0, 30.0)),
                 sfs: Sequence[float] = (1.5, 3.0), phases: Sequence[float] = (0.0, 90.0),
                 contrast: float = 1.0, n_trials: int = 30, blank_ms: float = 300.0,
                 stimulus_ms: float = 500.0,
                 count_window_ms: tuple[float, float] = (100.0, 500.0),
                 window_ms: float = 50.0, step_ms: float = 10.0, min_count: float = 1.0,
                 canvas_px: int = 32, seed: int = 0, progress: bool = False) -> xr.Dataset:
    """Fano factors of a population's spike counts, in a fixed window and over time.

    Parameters
    ----------
    population : InSilicoPopulation
        With ``patch_size_deg`` set; counts are spikes for the iP-VAE (Gaussian models
        give activations, for which a Fano factor is not defined: their result is
        computed on the rectified activations and flagged in ``attrs["note"]``).
    orientations, sfs, phases, contrast : the static gratings (deg, c/deg, deg, (0, 1]).
    n_trials : int
        Repeats per grating (>= 2).
    blank_ms, stimulus_ms : float
        Mean-gray period before onset and grating duration (whole model steps).
    count_window_ms : (float, float)
        Counting window of the fixed-window Fano factor (ms after onset).
    window_ms, step_ms : float
        Width and step of the sliding windows (multiples of the model step).
    min_count : float
        A (stimulus, neuron) pair is included when its mean count in the counting window
        is >= this.
    seed : int
        Seed of the spike sampler.

    Returns
    -------
    xarray.Dataset
        ``fano_factor`` and ``mean_count`` (stimulus, neuron), ``included`` (bool, same
        dims); over ``time`` (window centres, ms): ``fano_median``, ``fano_q25``,
        ``fano_q75`` over the included pairs. attrs: ``median_fano_factor``, ``q25``,
        ``q75``, ``n_pairs``, ``median_spontaneous_fano_factor`` (pairs with a mean blank
        count > 0), windows, units and provenance.

    Raises
    ------
    ValueError
        Bad arguments (named); windows not on model-step edges.
    """
    from ..analysis.variability import fano_factor, fano_factor_over_time

    check_nonnegative(min_count, "min_count")
    check_positive(window_ms, "window_ms")
    check_positive(step_ms, "step_ms")
    contrasts = _present.check_contrasts([contrast], "contrast")
    resp = _present.static_gratings(population, orientations=orientations, sfs=sfs,
                                    phases=phases, contrasts=contrasts, canvas_px=canvas_px,
                                    n_trials=n_trials, blank_ms=blank_ms,
                                    stimulus_ms=stimulus_ms, seed=seed, progress=progress)
    family = population.model.config.family
    if family == "gaussian":
        resp = resp.clip(min=0.0)
    ff = fano_factor(resp, count_window_ms, return_stats=True)
    spont = fano_factor(resp, (-float(blank_ms), 0.0), return_stats=True)
    mean = np.asarray(ff["mean_count"].values, dtype=float)
    f = np.asarray(ff["fano_factor"].values, dtype=float)
    ok = np.isfinite(f) & (mean >= min_count)
    sp = np.asarray(spont["fano_factor"].values, dtype=float)
    sp_ok = np.isfinite(sp) & (np.asarray(spont["mean_count"].values, dtype=float) > 0)
    fft = fano_factor_over_time(resp, window_ms, step_ms)
    ft = np.asarray(fft.values, dtype=float)[ok]  # (pairs, time)
    with warnings.catch_warnings():  # all-NaN windows (no spike yet) give NaN, said above
        warnings.simplefilter("ignore", RuntimeWarning)
        q25, med, q75 = (np.nanpercentile(ft, q, axis=0) if ft.size else
                         np.full(ft.shape[-1], np.nan) for q in (25, 50, 75))
    centers = 0.5 * (np.asarray(fft["time_start_ms"].values, dtype=float)
                     + np.asarray(fft["time_end_ms"].values, dtype=float))
    dist = _present.summary(f[ok])
    ds = xr.Dataset(
        {"fano_factor": (("stimulus", "neuron"), f), "mean_count": (("stimulus", "neuron"), mean),
         "included": (("stimulus", "neuron"), ok),
         "fano_median": ("time", med), "fano_q25": ("time", q25), "fano_q75": ("time", q75)},
        coords={"stimulus": np.arange(f.shape[0]), "neuron": np.arange(f.shape[1]),
                "time": centers})
    ds.attrs.update(_present.provenance(
        "variability.fano_factors", population, orientations=list(map(float, orientations)),
        sfs=list(map(float, sfs)), phases=list(map(float, phases)), contrast=float(contrast),
        n_trials=int(n_trials), blank_ms=float(blank_ms), stimulus_ms=float(stimulus_ms),
        count_window_ms=[float(v) for v in count_window_ms], window_ms=float(window_ms),
        step_ms=float(step_ms), min_count=float(min_count), canvas_px=int(canvas_px),
        seed=int(seed)))
    ds.attrs.update(
        median_fano_factor=dist["median"], q25=dist["q25"], q75=dist["q75"],
        n_pairs=dist["n"], n_stimuli=int(f.shape[0]), n_neurons=int(f.shape[1]),
        median_spontaneous_fano_factor=_present.summary(sp[sp_ok])["median"],
        n_spontaneous_pairs=int(sp_ok.sum()), units="dimensionless (Var/mean of counts)",
        inclusion=f"mean count in {list(count_window_ms)} ms >= {min_count:g}",
        note=("" if family == "poisson" else
              "Gaussian-family model: rectified activations, not spike counts"))
    return ds

