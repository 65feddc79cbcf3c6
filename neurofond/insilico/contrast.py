"""Contrast response and contrast-dependent response latency (drifting gratings).

:func:`contrast_latency` follows ``analyses/contrast_latency.py`` (Vafaii, Galor & Yates
2025, Fig. 8; after Albrecht et al. 2002, J Neurophysiol 88:888-913):

1. the orientation-selective, responsive neurons of a tuning sweep
   (:func:`neurofond.insilico.tuning.grating_tuning`; OSI >= ``osi_min``, peak rate >=
   ``min_rate_hz`` and >= 2 x spontaneous), the strongest ``n_neurons`` kept;
2. a grating drifting at each neuron's preferred orientation, SF and starting phase, at each
   contrast, for ``n_cycles`` cycles after a mean-gray blank; trials differ only by the
   spike sampling;
3. per neuron and contrast, the onset latency (first time the smoothed trial-averaged PSTH
   exceeds baseline + ``k`` SD for ``min_consecutive_bins`` bins) and time to peak within
   the first half cycle (:func:`neurofond.analysis.latency.response_latency`), and the mean
   evoked rate in that window; a Naka-Rushton function fit to the population's mean evoked
   rate against contrast (:func:`neurofond.analysis.contrast.fit_naka_rushton`; Albrecht &
   Hamilton 1982, J Neurophysiol 48:217).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from .._checks import check_int, check_nonnegative, check_positive
from . import _present

__all__ = ["contrast_latency"]


def contrast_latency(population: Any, *,
                     contrasts: Sequence[float] = tuple(np.geomspace(0.15, 1.0, 5)),
                     tuning: xr.Dataset | None = None, n_neurons: int = 32,
                     n_trials: int = 30, tf_hz: float = 2.0, n_cycles: int = 1,
                     steps_per_frame: int = 5, blank_ms: float = 300.0, canvas_px: int = 32,
                     osi_min: float = 0.5, min_rate_hz: float = 5.0, criterion: str = "sd",
                     k: float = 3.0, min_consecutive_bins: int = 2,
                     smooth_ms: float | None = 10.0, search_cycles: float = 0.5,
                     seed: int = 0, progress: bool = False) -> xr.Dataset:
    """Onset latency, time to peak and evoked rate per contrast; Naka-Rushton fit.

    Parameters
    ----------
    population : InSilicoPopulation
        With ``patch_size_deg`` set; spikes make sense for the iP-VAE (the Gaussian
        models' "spikes" are sampled activations).
    contrasts : sequence of float
        At least 4 distinct Michelson contrasts in (0, 1] (the Naka-Rushton fit needs 4).
    tuning : xarray.Dataset, optional
        A :func:`~neurofond.insilico.tuning.grating_tuning` result of the same population
        (default: measured here at the highest contrast).
    n_neurons, n_trials : int
        Neurons kept (strongest first) and trials per stimulus.
    tf_hz, n_cycles, steps_per_frame : drift frequency (Hz), cycles shown, model steps
        per movie frame; one cycle must be a whole number of frames.
    blank_ms : float
        Mean-gray period before onset (the baseline window).
    osi_min, min_rate_hz : selection criterion.
    criterion, k, min_consecutive_bins, smooth_ms : onset definition
        (:func:`neurofond.analysis.latency.response_latency`).
    search_cycles : float
        Onset and peak are searched from onset to this many cycles (default: the first
        half cycle, the first pass of the preferred phase).
    seed : int
        Seed of the tuning sweep and of the spike sampler.

    Returns
    -------
    xarray.Dataset
        Over ``contrast``: ``onset_ms`` / ``peak_ms`` medians over the responding neurons
        with ``*_q25`` / ``*_q75``, ``n_responding``, ``evoked_rate`` (mean over neurons,
        spikes/s) and ``evoked_rate_sem``, ``naka_rushton`` (the fitted curve at each
        contrast); over (``contrast``, ``neuron``): ``onset_ms_neuron``; over
        (``contrast``, ``time``): ``population_psth`` (evoked rate / neuron's maximum, mean
        over neurons). attrs: ``naka_rushton_params`` (r_max, c50, n, r0, r2),
        ``shift_ms`` (median onset at the lowest responding contrast minus at the highest),
        ``n_neurons``, ``selection``, units and provenance.

    Raises
    ------
    ValueError
        Bad arguments (named); ``RuntimeError`` when no neuron meets the selection
        criterion.
    """
    from ..analysis.contrast import fit_naka_rushton, naka_rushton
    from ..analysis.latency import psth, response_latency
    from ..responses import make_responses
    from ..stimuli import render_gratings
    from .tuning import grating_tuning

    c = _present.check_contrasts(contrasts, minimum=4)
    n_neurons = check_int(n_neurons, "n_neurons", minimum=1)
    n_trials = check_int(n_trials, "n_trials", minimum=2)
    n_cycles = check_int(n_cycles, "n_cycles", minimum=1)
    steps_per_frame = check_int(steps_per_frame, "steps_per_frame", minimum=1)
    tf_hz = check_positive(tf_hz, "tf_hz")
    check_nonnegative(osi_min, "osi_min")
    check_nonnegative(min_rate_hz, "min_rate_hz")
    if not 0 < search_cycles <= n_cycles:
        raise ValueError(f"search_cycles: expected a value in (0, n_cycles={n_cycles}], got "
                         f"{search_cycles!r}")
    blank = _present.steps(population, blank_ms, "blank_ms")
    if blank < 2:
        raise ValueError(f"blank_ms: the baseline needs >= 2 model steps, got {blank_ms}")
    ms = population.ms_per_step
    frame_ms = ms * steps_per_frame
    cycle_ms = 1000.0 / tf_hz
    n_frames = int(round(n_cycles * cycle_ms / frame_ms))
    if n_frames < 2 or not math.isclose(n_frames * frame_ms, n_cycles * cycle_ms,
                                        rel_tol=1e-6):
        raise ValueError(f"tf_hz: {n_cycles} cycle(s) at {tf_hz:g} Hz is not a whole number "
                         f"(>= 2) of {frame_ms:g} ms frames; change tf_hz or steps_per_frame")
    geo = _present.geometry(population, canvas_px)
    if tuning is None:
        tuning = grating_tuning(population, contrast=float(c.max()), canvas_px=canvas_px,
                                seed=seed, progress=progress)
    peak = np.asarray(tuning["peak_rate"].values, dtype=float)
    osi = np.nan_to_num(np.asarray(tuning["osi"].values, dtype=float), nan=-1.0)
    spont = np.asarray(tuning["spontaneous_rate"].values, dtype=float)
    ok = (osi >= osi_min) & (peak >= min_rate_hz) & (peak >= 2.0 * spont)
    idx = np.flatnonzero(ok)
    idx = idx[np.argsort(-peak[idx], kind="stable")][:n_neurons]
    selection = (f"OSI >= {osi_min:g} at the preferred SF, peak >= {min_rate_hz:g} /s and "
                 f">= 2x spontaneous; strongest {n_neurons} kept ({int(ok.sum())} of "
                 f"{ok.size} met the criterion)")
    if idx.size == 0:
        raise RuntimeError(f"no neuron of {population.name} meets the selection criterion "
                           f"({selection}); lower osi_min / min_rate_hz")
    triples = np.stack([np.asarray(tuning[v].values, dtype=float)[idx] for v in
                        ("preferred_orientation", "preferred_sf", "preferred_phase")], 1)
    uniq, which = np.unique(triples, axis=0, return_inverse=True)
    which = np.asarray(which).ravel()
    t_idx = np.repeat(np.arange(len(uniq)), c.size)
    c_idx = np.tile(np.arange(c.size), len(uniq))
    params = {"kind": np.full(t_idx.size, "drifting"), "direction": uniq[t_idx, 0],
              "orientation": uniq[t_idx, 0], "sf": uniq[t_idx, 1], "phase": uniq[t_idx, 2],
              "contrast": c[c_idx], "tf": np.full(t_idx.size, tf_hz)}
    stim = render_gratings(params, geo, n_frames=n_frames, frame_rate_hz=1000.0 / frame_ms)
    n_time = blank + n_frames * steps_per_frame
    spikes = np.zeros((n_trials, c.size, idx.size, n_time), dtype=np.float32)
    chunk = max(1, int(64e6 // (n_trials * population.n_units * n_time)))  # ~64 MB each
    for s0 in range(0, t_idx.size, chunk):
        s1 = min(t_idx.size, s0 + chunk)
        resp = population.present(stim.select(slice(s0, s1)), n_trials=n_trials,
                                  blank_steps=blank, steps_per_frame=steps_per_frame,
                                  seed=seed + 1 + s0, progress=False)
        values = np.asarray(resp.values)
        for j, s in enumerate(range(s0, s1)):
            for i in np.flatnonzero(which == t_idx[s]):
                spikes[:, c_idx[s], i] = values[:, j, idx[i]]
        del values, resp
    family = population.model.config.family
    r = make_responses(np.maximum(spikes, 0.0) if family == "gaussian" else spikes, bin_ms=ms,
                       stimulus_coords={"contrast": c},
                       neuron_coords={"unit": np.asarray(tuning["unit"].values)[idx]},
                       time_start_ms=-blank * ms, source=f"model:{population.name}")
    search = (0.0, search_cycles * cycle_ms)
    lat = response_latency(r, (-blank * ms, 0.0), criterion=criterion, k=k,
                           min_consecutive_bins=min_consecutive_bins, smooth_ms=smooth_ms,
                           search_window_ms=search)
    onset = np.asarray(lat["onset_ms"].values, dtype=float)  # (contrast, neuron)
    peak_ms = np.asarray(lat["peak_ms"].values, dtype=float)
    baseline = np.asarray(lat["baseline_rate"].values, dtype=float)
    rate = psth(r, smooth_ms=smooth_ms)
    t0 = np.asarray(rate["time_start_ms"].values, dtype=float)
    times = 0.5 * (t0 + np.asarray(rate["time_end_ms"].values, dtype=float))
    in_search = (times >= search[0]) & (times < search[1])
    evoked_t = np.asarray(rate.values, dtype=float) - baseline[..., None]
    evoked = evoked_t[..., in_search].mean(-1)  # (contrast, neuron)
    scale = np.nanmax(evoked_t[..., times >= 0], axis=(0, 2))
    with np.errstate(invalid="ignore"):
        norm = evoked_t / np.where(scale > 0, scale, np.nan)[None, :, None]
        pop_psth = np.nanmean(norm, axis=1)
    stats = {name: [_present.summary(a[j]) for j in range(c.size)]
             for name, a in (("onset_ms", onset), ("peak_ms", peak_ms), ("evoked", evoked))}
    mean_evoked = np.array([s["mean"] for s in stats["evoked"]])
    try:
        nr = fit_naka_rushton(c, mean_evoked)
        nr_params = {p: float(np.asarray(nr[p].values).ravel()[0])
                     for p in ("r_max", "c50", "n", "r0", "r2")}
        curve = naka_rushton(c, nr_params["r_max"], nr_params["c50"], nr_params["n"],
                             nr_params["r0"])
    except (ValueError, RuntimeError) as exc:  # the fit failing must not lose the latencies
        nr_params = {"error": str(exc)}
        curve = np.full(c.size, np.nan)
    med = np.array([s["median"] for s in stats["onset_ms"]])
    finite = np.flatnonzero(np.isfinite(med))
    shift = float(med[finite[0]] - med[finite[-1]]) if finite.size >= 2 else float("nan")
    ds = xr.Dataset(
        {**{f"{name}{suffix}": ("contrast", [s[key] for s in stats[name]])
            for name in ("onset_ms", "peak_ms")
            for suffix, key in (("", "median"), ("_q25", "q25"), ("_q75", "q75"))},
         "n_responding": ("contrast", [s["n"] for s in stats["onset_ms"]]),
         "evoked_rate": ("contrast", mean_evoked),
         "evoked_rate_sem": ("contrast", [s["sem"] for s in stats["evoked"]]),
         "naka_rushton": ("contrast", np.asarray(curve, dtype=float)),
         "onset_ms_neuron": (("contrast", "neuron"), onset),
         "population_psth": (("contrast", "time"), pop_psth)},
        coords={"contrast": c, "neuron": np.arange(idx.size),
                "unit": ("neuron", np.asarray(tuning["unit"].values)[idx]), "time": times})
    ds.attrs.update(_present.provenance(
        "contrast.contrast_latency", population, contrasts=c, n_neurons=n_neurons,
        n_trials=n_trials, tf_hz=tf_hz, n_cycles=n_cycles, steps_per_frame=steps_per_frame,
        blank_ms=float(blank_ms), canvas_px=int(canvas_px), osi_min=osi_min,
        min_rate_hz=min_rate_hz, criterion=criterion, k=k,
        min_consecutive_bins=min_consecutive_bins, smooth_ms=smooth_ms,
        search_window_ms=list(search), seed=int(seed)))
    ds.attrs.update(naka_rushton_params=nr_params, shift_ms=shift, n_neurons=int(idx.size),
                    selection=selection, units="ms (latencies, bin centres after onset); "
                    "spikes/s (rates); population_psth dimensionless",
                    note="median over neurons with a detected onset; NaN where none")
    return ds
