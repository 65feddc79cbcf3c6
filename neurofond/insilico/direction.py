"""Direction selectivity on a drifting-grating sweep.

:func:`direction_tuning` shows full-field gratings drifting in ``directions`` at each SF of
``sfs`` to one hypercolumn, reads the response summed over the drift (after a settling
period), takes each neuron's direction curve at its best SF and measures the direction
selectivity index DSI = (R_pref - R_null) / (R_pref + R_null) and the vector-sum global DSI
(:func:`neurofond.analysis.direction.direction_selectivity`; Niell & Stryker 2008, J
Neurosci 28:7520; Mazurek, Kager & Van Hooser 2014). The models see one frame at a time
with an online posterior, so any direction preference comes from the inference dynamics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from .._checks import check_int, check_positive
from . import _present

__all__ = ["DSI_SELECTIVE", "direction_tuning"]

#: DSI at or above which a responsive neuron counts as direction-selective (R_null <= R_pref/2).
DSI_SELECTIVE = 1.0 / 3.0


def direction_tuning(population: Any, *,
                     directions: Sequence[float] = tuple(np.arange(0.0, 360.0, 30.0)),
                     sfs: Sequence[float] = (1.5, 3.0), tf_hz: float = 2.0,
                     contrast: float = 1.0, n_cycles: int = 1, steps_per_frame: int = 5,
                     blank_ms: float = 200.0, settle_ms: float = 100.0, canvas_px: int = 32,
                     n_trials: int = 1, measure: str = "rates", seed: int = 0,
                     progress: bool = False) -> xr.Dataset:
    """DSI, global DSI and preferred direction of every neuron of one hypercolumn.

    Parameters
    ----------
    population : InSilicoPopulation
        With ``patch_size_deg`` set.
    directions : sequence of float
        Drift directions (deg), each with its opposite on the grid; evenly spaced over
        360 deg for the global DSI.
    sfs : sequence of float
        Spatial frequencies (c/deg); each neuron's curve is taken at its best one.
    tf_hz, n_cycles, steps_per_frame : drift frequency (Hz), cycles shown and model steps
        per frame; the cycles must be a whole number of frames.
    contrast : float
        Michelson contrast in (0, 1].
    blank_ms, settle_ms : float
        Mean-gray period before onset; time after onset left out of the response sum.
    n_trials, measure, seed : as :func:`neurofond.insilico.tuning.grating_tuning`.

    Returns
    -------
    xarray.Dataset
        Over ``neuron``: ``dsi``, ``global_dsi``, ``preferred_direction`` (deg),
        ``best_sf`` (c/deg), ``peak_rate`` (response units per s), ``responsive`` and
        ``direction_selective``; ``direction_curve`` (direction, neuron). attrs:
        ``fraction_direction_selective`` and ``median_dsi`` over the responsive neurons,
        ``n_responsive``, criteria, units and provenance.

    Raises
    ------
    ValueError
        Bad arguments (named), or a direction without its opposite on the grid.
    """
    from ..analysis.direction import direction_selectivity
    from ..population.windowed import window_responses
    from ..stimuli import drifting_grating_sweep

    dirs = np.unique(np.mod(np.asarray(directions, dtype=float), 360.0))
    if dirs.size < 2:
        raise ValueError(f"directions: expected >= 2 distinct values, got {dirs.tolist()}")
    sf_grid = np.unique(np.asarray(sfs, dtype=float))
    if sf_grid.size < 1 or sf_grid.min() <= 0:
        raise ValueError(f"sfs: expected values > 0, got {sf_grid.tolist()}")
    contrast = float(_present.check_contrasts([contrast], "contrast")[0])
    tf_hz = check_positive(tf_hz, "tf_hz")
    n_cycles = check_int(n_cycles, "n_cycles", minimum=1)
    steps_per_frame = check_int(steps_per_frame, "steps_per_frame", minimum=1)
    n_trials = check_int(n_trials, "n_trials", minimum=1)
    blank = _present.steps(population, blank_ms, "blank_ms")
    settle = _present.steps(population, settle_ms, "settle_ms")
    frame_ms = population.ms_per_step * steps_per_frame
    n_frames = int(round(n_cycles * 1000.0 / tf_hz / frame_ms))
    if n_frames < 2 or not math.isclose(n_frames * frame_ms, n_cycles * 1000.0 / tf_hz,
                                        rel_tol=1e-6):
        raise ValueError(f"tf_hz: {n_cycles} cycle(s) at {tf_hz:g} Hz is not a whole number "
                         f"(>= 2) of {frame_ms:g} ms frames; change tf_hz or steps_per_frame")
    shown = n_frames * steps_per_frame
    if settle >= shown:
        raise ValueError(f"settle_ms: expected less than the drift duration "
                         f"{shown * population.ms_per_step:g} ms, got {settle_ms}")
    stim = drifting_grating_sweep(_present.geometry(population, canvas_px), directions=dirs,
                                  sfs=sf_grid, tfs=[tf_hz], contrasts=[contrast],
                                  n_frames=n_frames, frame_rate_hz=1000.0 / frame_ms)
    resp, base = window_responses(population, stim, n_trials=n_trials, blank_steps=blank,
                                  stimulus_steps=shown, window_steps=(settle, shown),
                                  measure=measure, baseline_steps=blank, seed=seed,
                                  progress=progress)
    window_s = (shown - settle) * population.ms_per_step / 1000.0
    rate = np.asarray(resp.values, dtype=float).mean(0)[..., 0] / window_s  # (stim, K)
    k = rate.shape[1]
    d_i = np.searchsorted(dirs, np.mod(np.asarray(resp["direction"].values, dtype=float), 360))
    s_i = np.searchsorted(sf_grid, np.asarray(resp["sf"].values, dtype=float))
    cube = np.zeros((dirs.size, sf_grid.size, k))
    cube[d_i, s_i] = rate
    best_sf = np.argmax(cube.max(0), axis=0)  # (K,)
    curve = xr.DataArray(cube[:, best_sf, np.arange(k)], dims=("direction", "neuron"),
                         coords={"direction": dirs})
    sel = direction_selectivity(curve)
    peak = cube.max(axis=(0, 1))
    spont = base / (population.ms_per_step / 1000.0)
    with np.errstate(invalid="ignore"):
        responsive = (peak > 0) & (peak >= 2.0 * spont) & (peak >= 0.01 * np.max(peak))
    dsi = np.asarray(sel["dsi"].values, dtype=float)
    selective = responsive & (np.nan_to_num(dsi, nan=-1.0) >= DSI_SELECTIVE)
    n_resp = int(responsive.sum())
    ds = xr.Dataset(
        {"dsi": ("neuron", dsi), "global_dsi": ("neuron", np.asarray(sel["global_dsi"].values)),
         "preferred_direction": ("neuron", np.asarray(sel["preferred_direction"].values)),
         "best_sf": ("neuron", sf_grid[best_sf]), "peak_rate": ("neuron", peak),
         "responsive": ("neuron", responsive), "direction_selective": ("neuron", selective),
         "direction_curve": (("direction", "neuron"), curve.values)},
        coords={"neuron": np.arange(k), "direction": dirs})
    ds.attrs.update(_present.provenance(
        "direction.direction_tuning", population, directions=dirs, sfs=sf_grid, tf_hz=tf_hz,
        contrast=contrast, n_cycles=n_cycles, steps_per_frame=steps_per_frame,
        blank_ms=float(blank_ms), settle_ms=float(settle_ms), canvas_px=int(canvas_px),
        n_trials=n_trials, measure=measure, seed=int(seed)))
    ds.attrs.update(
        n_neurons=int(k), n_responsive=n_resp,
        fraction_direction_selective=(float(selective.sum() / n_resp) if n_resp
                                      else float("nan")),
        median_dsi=_present.summary(dsi[responsive])["median"],
        responsive_criterion="peak rate >= 2 x spontaneous and >= 1% of the population's max",
        selective_criterion=f"responsive and DSI >= {DSI_SELECTIVE:.3g}",
        units="DSI dimensionless; rates in response units per s")
    return ds
