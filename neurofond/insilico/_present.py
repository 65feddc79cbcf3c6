"""Private helpers of the in-silico experiments: time in ms -> model steps, the screen of a
population, repeated static gratings, and the summary statistics the experiments report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._checks import check_int, check_positive


def steps(population: Any, ms: float, name: str) -> int:
    """``ms`` as a whole number of the population's steps (ValueError otherwise)."""
    ms = float(ms)
    n = ms / population.ms_per_step
    if not math.isfinite(n) or n < 0 or abs(n - round(n)) > 1e-9:
        raise ValueError(f"{name}: {ms:g} ms is not a whole number of {population.ms_per_step:g} "
                         "ms model steps (population.ms_per_step)")
    return int(round(n))


def geometry(population: Any, canvas_px: int) -> Any:
    """The canvas the population sees: ``patch_size / patch_size_deg`` pixels per degree."""
    from ..stimuli import ScreenGeometry

    ppd = getattr(population, "model_pixels_per_degree", None)
    if ppd is None:
        raise ValueError("population: patch_size_deg must be set (visual degrees of one model "
                         "patch), e.g. InSilicoPopulation.from_pretrained(name, "
                         "patch_size_deg=1.0)")
    canvas_px = check_int(canvas_px, "canvas_px", minimum=population.patch_size)
    return ScreenGeometry(ppd, canvas_px)


def check_contrasts(contrasts: Any, name: str = "contrasts", minimum: int = 1) -> np.ndarray:
    """Sorted contrasts in (0, 1], at least ``minimum`` distinct."""
    c = np.unique(np.asarray(contrasts, dtype=float).ravel())
    if c.size < minimum or not np.all(np.isfinite(c)) or c.min() <= 0 or c.max() > 1:
        raise ValueError(f"{name}: expected >= {minimum} distinct values in (0, 1], got "
                         f"{np.asarray(contrasts).tolist()}")
    return c


def static_gratings(population: Any, *, orientations: Sequence[float], sfs: Sequence[float],
                    phases: Sequence[float], contrasts: Sequence[float], canvas_px: int,
                    n_trials: int, blank_ms: float, stimulus_ms: float, seed: int,
                    progress: bool) -> Any:
    """Spike-count Responses of full-field static gratings (every step one bin)."""
    from ..stimuli import grating_sweep

    n_trials = check_int(n_trials, "n_trials", minimum=2)
    check_positive(stimulus_ms, "stimulus_ms")
    blank = steps(population, blank_ms, "blank_ms")
    shown = steps(population, stimulus_ms, "stimulus_ms")
    stim = grating_sweep(geometry(population, canvas_px), orientations=orientations, sfs=sfs,
                         phases=phases, contrasts=contrasts)
    return population.present(stim, n_trials=n_trials, blank_steps=blank,
                              stimulus_steps=shown, seed=seed, progress=progress)


def summary(values: Any) -> dict[str, Any]:
    """n, mean, SEM, median and quartiles of the finite values (NaN when there are none)."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"n": 0, "mean": math.nan, "sem": math.nan, "median": math.nan,
                "q25": math.nan, "q75": math.nan}
    q25, med, q75 = np.percentile(v, [25, 50, 75])
    sem = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else math.nan
    return {"n": int(v.size), "mean": float(v.mean()), "sem": sem, "median": float(med),
            "q25": float(q25), "q75": float(q75)}


def provenance(func: str, population: Any, **params: Any) -> dict[str, Any]:
    """attrs of an experiment's result: what ran, on which model, with which settings."""
    import neurofond

    simple = {}
    for k, v in params.items():
        if isinstance(v, np.ndarray):
            v = v.tolist()
        elif isinstance(v, tuple):
            v = list(v)
        simple[k] = v
    return {"experiment": f"neurofond.insilico.{func}",
            "model": str(getattr(population, "name", "")),
            "family": str(population.model.config.family),
            "ms_per_step": float(population.ms_per_step),
            "patch_size_deg": population.patch_size_deg,
            "neurofond_version": getattr(neurofond, "__version__", "unknown"),
            "settings": simple}
