"""Windowed presentation: one response per (trial, stimulus, neuron) over a response window.

:func:`window_responses` presents stimuli to an
:class:`~neurofond.population.InSilicoPopulation` in chunks, records only the steps of the
response window (and a few blank steps for the baseline) and returns their sum as a
``Responses`` array with one time bin spanning the window, so memory stays bounded for large
stimulus grids. :func:`nonnegative` is the rule that makes model outputs usable as firing
rates (the linear iG-VAE's signed activations are half-wave rectified).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["nonnegative", "window_responses"]


def nonnegative(values: np.ndarray, family: str) -> np.ndarray:
    """Responses usable as firing rates: iG-VAE activations are half-wave rectified.

    iP-VAE counts and iGrelu-VAE activations are already >= 0; the linear
    iG-VAE has signed activations, which the rate-based analyses (tuning,
    selectivity) cannot take, so they are rectified, ``max(a, 0)``.
    """
    if family == "gaussian":
        return np.maximum(values, 0.0)
    return values


def window_responses(pop, stim, *, n_trials: int, blank_steps: int, stimulus_steps: int,
                     window_steps: tuple[int, int], measure: str = "rates",
                     baseline_steps: int = 0, seed: int = 0, chunk: int = 256,
                     batch_size: int = 2048, progress: bool = True) -> tuple[Any, np.ndarray]:
    """Present ``stim`` and keep one response per (trial, stimulus, neuron): the window sum.

    Presents in chunks of ``chunk`` stimuli and records only the steps of
    the response window (and the last ``baseline_steps`` blank steps), so
    memory stays bounded for large grids.

    Parameters
    ----------
    measure : {"rates", "spikes"}
        ``"rates"``: the posterior-mean response per step (expected spike
        count ``exp(u)`` for iP-VAE, ``E[a(z)]`` for the Gaussian models),
        summed over the window - noise-free readout; ``"spikes"``: the
        sampled counts (activations). iG-VAE values are rectified
        (:func:`nonnegative`).
    window_steps : (first, last)
        Steps after onset summed (inclusive first, exclusive last).

    Returns
    -------
    responses : xarray.DataArray
        A ``Responses`` array with one time bin spanning the window
        (``bin_ms`` = window duration), so ``tuning_curve`` gives rates in
        response units per second.
    baseline : ndarray (neuron,)
        Mean response per step over the recorded blank steps (trials and
        stimuli averaged); zeros when ``baseline_steps`` is 0.
    """
    from tqdm.auto import tqdm

    from neurofond.responses import make_responses

    if measure not in ("rates", "spikes"):
        raise ValueError(f"measure: expected 'rates' or 'spikes', got {measure!r}")
    w0, w1 = int(window_steps[0]), int(window_steps[1])
    if not 0 <= w0 < w1 <= stimulus_steps:
        raise ValueError(f"window_steps: expected 0 <= first < last <= {stimulus_steps}, got "
                         f"{window_steps!r}")
    baseline_steps = min(int(baseline_steps), int(blank_steps))
    rec = list(range(-baseline_steps, 0)) + list(range(w0, w1))
    family = pop.model.config.family
    n, k = len(stim), pop.n_units
    sums = np.zeros((n_trials, n, k), dtype=np.float64)
    base = np.zeros(k, dtype=np.float64)
    coords = None
    bar = tqdm(total=n, desc=f"present {pop.name}", unit="stim", disable=not progress,
               leave=False)
    for s0 in range(0, n, chunk):
        sub = stim.select(slice(s0, s0 + chunk))
        out = pop.present(sub, n_trials=n_trials, blank_steps=blank_steps,
                          stimulus_steps=stimulus_steps, seed=seed + s0,
                          batch_size=batch_size, progress=False, record_steps=rec,
                          return_rates=(measure == "rates"))
        da = out["rates"] if measure == "rates" else out
        vals = nonnegative(np.asarray(da.values, dtype=np.float64), family)
        steps = np.asarray(da["step"].values)
        sums[:, s0:s0 + len(sub)] = vals[..., steps >= 0].sum(-1)
        if baseline_steps:
            base += vals[..., steps < 0].sum(axis=(0, 1, 3))
        if coords is None:
            coords = {c: np.asarray(da[c].values) for c in da.coords
                      if da[c].dims == ("neuron",)}
        bar.update(len(sub))
    bar.close()
    if baseline_steps:
        base /= n_trials * n * baseline_steps
    ms = pop.ms_per_step
    resp = make_responses(sums[..., None], bin_ms=(w1 - w0) * ms,
                          stimulus_coords=stim.coords(), neuron_coords=coords,
                          time_start_ms=w0 * ms, source=f"model:{pop.name}",
                          attrs={"measure": measure, "ms_per_step": ms},
                          units=("expected spikes per bin (one bin = the window)"
                                 if measure == "rates" else "spikes per bin"))
    return resp, base
