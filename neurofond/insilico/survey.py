"""The V1 survey: every measure of issue 14 for models, baselines and recorded units, side by side.

:func:`run_survey` measures, with the same analysis functions of :mod:`neurofond.analysis`
wherever the stimuli allow it:

- on one **static grating sweep** per source (orientation x SF x contrast, repeated trials;
  for the recorded units the Ecker et al. 2010 static release as recorded), by
  :func:`grating_measures`: orientation selectivity (OSI, bandwidth, fraction selective;
  :func:`~neurofond.analysis.tuning.orientation_selectivity`, Ringach et al. 2002), Fano
  factors (:func:`~neurofond.analysis.variability.fano_factor`), spike-count noise and
  signal correlations (:mod:`neurofond.analysis.correlations`; Ecker et al. 2010), trial
  reliability (:func:`~neurofond.analysis.reliability.trial_reliability`), lifetime
  sparseness (:func:`~neurofond.analysis.sparseness.lifetime_sparseness`; Vinje & Gallant
  2000), the contrast response (:func:`~neurofond.analysis.contrast.fit_naka_rushton`;
  Albrecht & Hamilton 1982) where a source has >= 4 contrasts, and the onset latency
  (:func:`~neurofond.analysis.latency.response_latency`) at each neuron's preferred
  stimulus;
- on the models only (their protocols centre stimuli on each neuron's dictionary RF or need
  movies), the one-call experiments of this package: size tuning and cross-orientation
  suppression (:mod:`neurofond.insilico.spatial`), direction selectivity on a drifting
  sweep (:func:`neurofond.insilico.direction.direction_tuning`) and the sparse-noise RF
  size (:func:`neurofond.insilico.rf_mapping.map_receptive_fields`).

A measure a source cannot have (the static recordings hold no apertures, plaids or drifting
gratings; the baselines see static images only; a Fano factor of Gaussian activations)
is recorded as ``{"reason": ...}``, never dropped silently.

Spontaneous rates (the "responsive" criterion, peak >= 2 x spontaneous and >= ``min_rate``):
the recorded units and the LNP baselines (no internal state) use the 200 ms before onset;
the iterative VAEs use the response to a uniform mean-gray stimulus in the same window,
because a short blank leaves their state relaxing from the prior (hundreds of steps; see
``InSilicoPopulation.spontaneous_settling``). For the same reason the models' latency is
measured in a separate experiment whose blank is ``latency_blank_ms`` long.

Importing this module loads no torch; the model parts load it when called.
"""

from __future__ import annotations

import math
import re
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_int
from .._scripts import COLORS as _COLORS
from . import _present

__all__ = [
    "BASELINE_NAMES",
    "MEASURES",
    "PRESETS",
    "SOURCE_COLORS",
    "baseline_source",
    "ecker_source",
    "grating_measures",
    "model_source",
    "run_survey",
    "survey_figure",
    "survey_table",
]

#: Every measure of the survey, in the order of the table.
MEASURES = ("orientation_selectivity", "fano_factor", "noise_correlation",
            "signal_correlation", "reliability", "lifetime_sparseness", "contrast_response",
            "latency", "size_tuning", "cross_orientation", "direction", "receptive_field")

#: Baselines of :mod:`neurofond.models` the survey knows (constructor names).
BASELINE_NAMES = ("gabor-energy", "pixel-pca", "stimulus-floor", "lca")

#: OSI above which a responsive neuron counts as orientation-selective (R_orth < R_pref / 2).
OSI_SELECTIVE = 1.0 / 3.0

#: Plot colour per source (models as :data:`neurofond._scripts.COLORS`; recorded black).
SOURCE_COLORS = {**_COLORS, "gabor-energy": "C1", "pixel-pca": "C4", "stimulus-floor": "C7",
                 "lca": "C5", "ecker2010": "k"}

_GRID = {"ms_per_step": 10.0, "patch_size_deg": 1.0, "canvas_px": 32, "blank_ms": 300.0,
         "stimulus_ms": 500.0, "window_ms": (0.0, 500.0), "baseline_window_ms": (-200.0, 0.0),
         "min_trials": 10, "min_rate_hz": 1.0, "psth_bin_ms": 50.0}

#: Sizes of each mode ("tiny" is for tests).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {**_GRID, "orientations": (0.0, 45.0, 90.0, 135.0), "sfs": (2.0,),
             "contrasts": (0.1, 0.25, 0.5, 1.0), "n_trials": 10, "n_neurons": 24,
             "latency_blank_ms": 600.0, "latency_trials": 5, "contrast_neurons": 6,
             "rf_trials": 2,
             "diameters_deg": (0.25, 0.5, 1.0, 2.0), "spatial_neurons": 4,
             "spatial_phases": (0.0, 180.0), "mask_contrasts": (0.0, 0.25, 0.5),
             "directions": (0.0, 90.0, 180.0, 270.0), "direction_sfs": (2.0,),
             "ecker_sessions": (0, 1)},
    "quick": {**_GRID, "orientations": tuple(np.arange(0.0, 180.0, 22.5)), "sfs": (1.5, 3.0),
              "contrasts": (0.1, 0.2, 0.4, 1.0), "n_trials": 20, "n_neurons": None,
              "latency_blank_ms": 5000.0, "latency_trials": 10, "contrast_neurons": 24,
              "rf_trials": 10,
              "diameters_deg": (0.125, 0.25, 0.5, 0.75, 1.0, 1.5, 3.0), "spatial_neurons": 32,
              "spatial_phases": (0.0, 90.0, 180.0, 270.0),
              "mask_contrasts": (0.0, 0.125, 0.25, 0.5),
              "directions": tuple(np.arange(0.0, 360.0, 45.0)), "direction_sfs": (1.5, 3.0),
              "ecker_sessions": None},
    "full": {**_GRID, "orientations": tuple(np.arange(0.0, 180.0, 15.0)),
             "sfs": (1.0, 1.5, 2.0, 3.0, 4.0), "contrasts": (0.05, 0.1, 0.2, 0.4, 0.7, 1.0),
             "n_trials": 40, "n_neurons": None, "latency_blank_ms": 5000.0,
             "latency_trials": 30, "contrast_neurons": None, "rf_trials": 20,
             "diameters_deg": (0.125, 0.1875, 0.25, 0.375, 0.5, 0.75, 1.0, 1.5, 3.0, 8.0),
             "spatial_neurons": None, "spatial_phases": (0.0, 90.0, 180.0, 270.0),
             "mask_contrasts": (0.0, 0.125, 0.25, 0.5),
             "directions": tuple(np.arange(0.0, 360.0, 30.0)),
             "direction_sfs": (1.0, 1.5, 2.0, 3.0, 4.0), "ecker_sessions": None},
}

# files a run writes; an --overwrite target may hold only these
_RUN_FILES = re.compile(r"survey\.json|survey_table\.md|survey_[a-z_]+\.png")

_NOT_IN_RECORDINGS = ("the static Ecker 2010 release holds full-field static gratings only "
                      "(no apertures, plaids or drifting gratings)")
_BASELINE_STATIC = ("the LNP baselines see static images only (movies refused) and have no "
                    "dictionary RF to centre apertures on or compare maps with; the in-silico "
                    "protocols take a population; not measured")


def _reason(text: str) -> dict[str, Any]:
    return {"reason": text}


def _values(arr: Any) -> np.ndarray:
    v = np.asarray(arr, dtype=float).ravel()
    return v[np.isfinite(v)]


# --------------------------------------------------------------------------- grating measures


def _preferred_curve(resp: Any, window_ms: Sequence[float], contrast: float) -> Any:
    """Orientation curve (orientation, neuron) at the highest contrast and each neuron's
    preferred SF (phase averaged), in response units per s."""
    from ..analysis.tuning import conditional_tuning_curve, tuning_curve

    where = {"contrast": contrast}
    marg = [k for k in ("phase",) if k in resp.coords]
    if "sf" in resp.coords and np.unique(resp["sf"].values).size > 1:
        return conditional_tuning_curve(resp, by="orientation", at="sf", window_ms=window_ms,
                                        where=where, marginalize=marg or None)
    return tuning_curve(resp, "orientation", window_ms=window_ms, where=where,
                        marginalize=marg or None)


def _preferred_stimulus(resp: Any, window_ms: Sequence[float], contrast: float) -> np.ndarray:
    """Index (into ``resp.stimulus``) of each neuron's largest trial-averaged response at
    ``contrast``."""
    w = _window_counts(resp, window_ms)  # (stimulus, neuron) trial mean
    at = np.asarray(resp["contrast"].values, dtype=float) == contrast
    w = np.where(at[:, None], w, -np.inf)
    return np.argmax(w, axis=0)


def _window_counts(resp: Any, window_ms: Sequence[float]) -> np.ndarray:
    from ..responses import Window

    sel = Window(*window_ms).select(resp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.asarray(sel.sum("time", skipna=False).values, dtype=float), axis=0)


def grating_measures(resp: Any, *, spontaneous_hz: Any, latency_responses: Any = None,
                     spiking: bool = True, window_ms: Sequence[float] = (0.0, 500.0),
                     baseline_window_ms: Sequence[float] = (-200.0, 0.0),
                     min_trials: int = 10, min_rate_hz: float = 1.0,
                     psth_bin_ms: float = 50.0,
                     fit_neurons: int | None = None,
                     ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Every static-grating measure of the survey on one ``Responses`` (torch-free).

    Parameters
    ----------
    resp : xarray.DataArray
        Responses (trial, stimulus, neuron, time) of static gratings with ``orientation``
        and ``contrast`` stimulus coordinates (``sf``, ``phase`` optional).
    spontaneous_hz : array (neuron,)
        Spontaneous rate of each neuron in the response units per s.
    latency_responses : xarray.DataArray, optional
        Responses whose pre-onset window is a settled spontaneous state (default ``resp``);
        the latency is read at each neuron's preferred stimulus at their highest contrast.
    spiking : bool
        Counts are spikes (Fano factors defined; ``min_rate_hz`` applies to r_sc).
    window_ms, baseline_window_ms : counting window after onset; latency baseline window.
    min_trials, min_rate_hz : r_sc inclusion criteria
        (:func:`~neurofond.analysis.correlations.noise_correlations`).
    psth_bin_ms : float
        PSTH bin of the trial reliability.
    fit_neurons : int, optional
        Naka-Rushton fits for at most this many responsive neurons, strongest first
        (default all).

    Returns
    -------
    (dict, dict)
        JSON-ready summaries per measure (n, mean, SEM, median, quartiles; or ``reason``)
        and the per-neuron (or per-pair) values behind them, for figures.

    Notes
    -----
    Responsive: peak rate >= 2 x spontaneous and >= ``min_rate_hz`` (activations: > 0).
    Orientation-selective: responsive and OSI > 1/3. The reliability of a neuron is its
    mean over the stimuli at the highest contrast; the Fano factor is taken over the
    (stimulus, neuron) pairs with a mean count >= 1; r_sc is the mean over pairs (SEM over
    pairs) of the condition-averaged Pearson correlation of the window counts.
    """
    from ..analysis.contrast import fit_naka_rushton
    from ..analysis.correlations import (
        correlation_pairs,
        noise_correlations,
        signal_correlations,
    )
    from ..analysis.latency import response_latency
    from ..analysis.reliability import trial_reliability
    from ..analysis.sparseness import lifetime_sparseness
    from ..analysis.tuning import orientation_selectivity, tuning_curve
    from ..analysis.variability import fano_factor

    window_ms = tuple(float(v) for v in window_ms)
    contrasts = np.unique(np.asarray(resp["contrast"].values, dtype=float))
    cmax = float(contrasts.max())
    out: dict[str, Any] = {}
    vals: dict[str, np.ndarray] = {}
    k = int(resp.sizes["neuron"])
    spont = np.asarray(spontaneous_hz, dtype=float).ravel()
    if spont.size != k:
        raise ValueError(f"spontaneous_hz: expected {k} values (one per neuron), got "
                         f"{spont.size}")

    raw = resp
    rectified = bool(resp.attrs.get("signed", False))
    if rectified:  # selectivity, sparseness and fits need non-negative responses
        resp = resp.clip(min=0.0)
        resp.attrs = {**raw.attrs, "signed": False}
    note = ("signed activations rectified (max(a, 0)) for this measure" if rectified else "")

    # orientation selectivity at the highest contrast and preferred SF
    curve = _preferred_curve(resp, window_ms, cmax)
    # neuron coordinates named like the result's variables (a baseline's channel
    # orientation) would collide with them
    curve = curve.drop_vars([c for c in curve.coords if str(c).startswith("preferred_")])
    osel = orientation_selectivity(curve)  # curves are rates (response units per s)
    peak = np.asarray(curve.max("orientation").values, dtype=float)
    floor = float(min_rate_hz) if spiking else 0.0
    with np.errstate(invalid="ignore"):
        responsive = (peak > 0) & (peak >= 2.0 * spont) & (peak >= floor)
    osi = np.asarray(osel["osi"].values, dtype=float)
    bw = np.asarray(osel["bandwidth"].values, dtype=float)
    n_resp = int(responsive.sum())
    out["orientation_selectivity"] = {
        "n_neurons": k, "n_responsive": n_resp,
        "fraction_selective": (float(np.mean(np.nan_to_num(osi[responsive], nan=-1.0)
                                             > OSI_SELECTIVE)) if n_resp else math.nan),
        "osi": _present.summary(osi[responsive]),
        "bandwidth_deg": _present.summary(bw[responsive]),
        "contrast": cmax, "criterion": "responsive and OSI > 1/3", "note": note}
    vals["osi"] = _values(osi[responsive])
    vals["bandwidth_deg"] = _values(bw[responsive])

    # Fano factor
    if spiking:
        ff = fano_factor(resp, window_ms, return_stats=True)
        f = np.asarray(ff["fano_factor"].values, dtype=float)
        ok = np.isfinite(f) & (np.asarray(ff["mean_count"].values, dtype=float) >= 1.0)
        out["fano_factor"] = {**_present.summary(f[ok]),
                              "inclusion": "(stimulus, neuron) pairs, mean count >= 1"}
        vals["fano_factor"] = f[ok]
    else:
        out["fano_factor"] = _reason("activations, not spike counts: Fano factor undefined")

    # noise and signal correlations
    nc = noise_correlations(raw, window_ms, min_trials=int(min_trials),
                            min_rate_hz=float(min_rate_hz) if spiking else 0.0)
    sc = signal_correlations(raw, window_ms)
    pairs = correlation_pairs(nc, sc, position=())
    r_sc = _values(pairs["r_sc"].values)
    out["noise_correlation"] = {**_present.summary(r_sc), "n_pairs_total": int(pairs.sizes[
        "pair"]), "min_trials": int(min_trials), "min_rate_hz": float(min_rate_hz)}
    vals["noise_correlation"] = r_sc
    r_sig = _values(pairs["r_signal"].values)
    out["signal_correlation"] = _present.summary(r_sig)
    vals["signal_correlation"] = r_sig

    # reliability (mean over the stimuli at the highest contrast)
    rel = trial_reliability(raw, window_ms=window_ms, psth_bin_ms=psth_bin_ms,
                            where={"contrast": cmax})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        r_n = np.nanmean(np.asarray(rel["reliability"].values, dtype=float), axis=0)
    out["reliability"] = {**_present.summary(r_n), "psth_bin_ms": float(psth_bin_ms),
                          "contrast": cmax}
    vals["reliability"] = _values(r_n)

    # lifetime sparseness over every presented condition
    by = tuple(key for key in ("orientation", "sf", "contrast") if key in resp.coords)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ls = lifetime_sparseness(resp, window_ms=window_ms, by=by)
    out["lifetime_sparseness"] = {**_present.summary(ls.values[responsive]),
                                  "over": list(by), "n_conditions": ls.attrs.get(
                                      "n_conditions"), "neurons": "responsive",
                                  "note": note}
    vals["lifetime_sparseness"] = _values(ls.values[responsive])

    # contrast response at each neuron's preferred stimulus
    if contrasts.size >= 4:
        pref = _preferred_stimulus(resp, window_ms, cmax)
        keys = [key for key in ("orientation", "sf", "phase") if key in resp.coords]
        tc = tuning_curve(resp, [*keys, "contrast"] if keys else "contrast",
                          window_ms=window_ms)
        grid = tc.stack(cond=keys) if keys else tc
        rows = np.empty((contrasts.size, k))
        for n in range(k):
            key = tuple(resp[name].values[pref[n]] for name in keys)
            rows[:, n] = np.asarray(grid.sel(cond=key).isel(neuron=n).values, dtype=float)
        # fits take 0.1-3 s each (loaded machine): the strongest responsive neurons first
        fit = np.flatnonzero(responsive)
        fit = fit[np.argsort(-peak[fit], kind="stable")][:fit_neurons]
        if fit.size:
            nr = fit_naka_rushton(contrasts, rows[:, fit])
            flagged = np.asarray(nr["flagged"].values, dtype=bool)
            c50 = np.asarray(nr["c50"].values, dtype=float)[~flagged]
            expo = np.asarray(nr["n"].values, dtype=float)[~flagged]
        else:
            flagged, c50, expo = np.zeros(0, bool), np.zeros(0), np.zeros(0)
        out["contrast_response"] = {
            "c50": _present.summary(c50), "exponent": _present.summary(expo),
            "n_fitted": int(fit.size), "n_unflagged": int(c50.size),
            "n_responsive": n_resp,
            "fraction_flagged": float(flagged.mean()) if flagged.size else math.nan,
            "neurons": "the strongest responsive neurons (peak rate)",
            "contrasts": contrasts.tolist(), "note": note}
        vals["c50"] = _values(c50)
    else:
        out["contrast_response"] = _reason(
            f"{contrasts.size} contrast(s) per session ({contrasts.tolist()}): a Naka-Rushton "
            "fit of 4 parameters needs >= 4")

    # latency at the preferred stimulus, settled baseline
    lat_resp = resp if latency_responses is None else latency_responses
    if lat_resp.attrs.get("signed", False):
        attrs = {**lat_resp.attrs, "signed": False}
        lat_resp = lat_resp.clip(min=0.0)
        lat_resp.attrs = attrs
    lc = np.unique(np.asarray(lat_resp["contrast"].values, dtype=float)).max()
    lw = (0.0, min(window_ms[1], float(lat_resp["time_end_ms"].values[-1])))
    pref = _preferred_stimulus(lat_resp, lw, lc)
    lat = response_latency(lat_resp, baseline_window_ms, criterion="sd", k=3.0,
                           min_consecutive_bins=2, smooth_ms=10.0,
                           search_window_ms=(0.0, min(200.0, lw[1])))
    onset = np.asarray(lat["onset_ms"].values, dtype=float)[pref, np.arange(k)][responsive]
    out["latency"] = {"onset_ms": _present.summary(onset),
                      "n_responding": int(np.isfinite(onset).sum()), "n_responsive": n_resp,
                      "definition": "first 10-ms-smoothed PSTH bin > baseline + 3 SD for 2 "
                                    "bins, 0-200 ms, at the preferred stimulus",
                      "baseline_window_ms": list(baseline_window_ms), "note": note}
    vals["latency_ms"] = _values(onset)
    vals["responsive"] = responsive
    return out, vals


# --------------------------------------------------------------------------- sources


def _gray(stim: Any) -> Any:
    from ..stimuli import Stimuli

    return Stimuli(frames=np.full((1, 1, *stim.size_px), 0.5, dtype=np.float32),
                   params={"orientation": np.array([0.0]), "contrast": np.array([0.0])},
                   geometry=stim.geometry)


def _static_sweep(cfg: Mapping[str, Any], geometry: Any, contrasts: Sequence[float]) -> Any:
    from ..stimuli import grating_sweep

    return grating_sweep(geometry, orientations=cfg["orientations"], sfs=cfg["sfs"],
                         phases=[0.0], contrasts=list(contrasts))


def _static_sweep_responses(pop: Any, cfg: Mapping[str, Any], *, seed: int, progress: bool = False,
                           log: Callable[[str], None] | None = None
                           ) -> tuple[Any, np.ndarray, Any, slice]:
    """The survey's static grating sweep shown to ``pop`` and its spontaneous rate.

    The sweep (``cfg``'s orientations, SFs and contrasts; ``cfg["n_trials"]`` trials, sampler
    seed ``seed``) and the matched mean-gray control (seed ``seed + 1``) whose mean rate in
    ``cfg["window_ms"]`` is the spontaneous rate per neuron (spikes/s for spike counts). The
    gray control replaces the pre-onset baseline, so the spontaneous-state warning is not shown.

    Returns
    -------
    (responses, spontaneous_hz, geometry, keep)
        Responses of the kept neurons (``cfg["n_neurons"]``: the first n, or all), their
        spontaneous rates, the screen geometry of the sweep and the neuron slice.
    """
    keep = slice(None) if cfg["n_neurons"] is None else slice(0, int(cfg["n_neurons"]))
    geometry = _present.geometry(pop, int(cfg["canvas_px"]))
    blank = _present.steps(pop, cfg["blank_ms"], "blank_ms")
    shown = _present.steps(pop, cfg["stimulus_ms"], "stimulus_ms")
    stim = _static_sweep(cfg, geometry, cfg["contrasts"])
    with warnings.catch_warnings():  # the gray control replaces the pre-onset baseline
        warnings.filterwarnings("ignore", message=r".*spontaneous state.*")
        if log is not None:
            log(f"{pop.name}: static gratings ({len(stim)} x {cfg['n_trials']} trials)")
        resp = pop.present(stim, n_trials=int(cfg["n_trials"]), blank_steps=blank,
                           stimulus_steps=shown, seed=seed, progress=progress)
        gray = pop.present(_gray(stim), n_trials=int(cfg["n_trials"]), blank_steps=blank,
                           stimulus_steps=shown, seed=seed + 1, progress=False)
    w0, w1 = cfg["window_ms"]
    spont = _window_counts(gray.isel(neuron=keep), cfg["window_ms"]).mean(0) / (
        (w1 - w0) / 1000.0)
    return resp.isel(neuron=keep), spont, geometry, keep


def model_source(name: str, cfg: Mapping[str, Any], *, seed: int = 0, device: str = "cpu",
                 progress: bool = False,
                 log: Callable[[str], None] | None = None) -> tuple[dict[str, Any], dict]:
    """All survey measures of one shipped (or saved) iterative VAE (name or checkpoint path).

    ``cfg`` is a :data:`PRESETS` entry. Returns the JSON entry of the source and the values
    behind its distributions.
    """
    from ..population import InSilicoPopulation
    from ..pretrained import resolve_checkpoints
    from .direction import direction_tuning
    from .rf_mapping import map_receptive_fields, summarize_rf_agreement
    from .spatial import measure_cross_orientation, measure_size_tuning

    log = log or (lambda s: None)
    try:
        ck = resolve_checkpoints([name])[0]
    except (ValueError, FileNotFoundError, KeyError) as exc:
        raise ValueError(f"models: {exc}") from None
    pop = InSilicoPopulation.from_checkpoint(ck.path, name=ck.name,
                                             ms_per_step=float(cfg["ms_per_step"]),
                                             patch_size_deg=float(cfg["patch_size_deg"]),
                                             device=device)
    family = str(pop.model.config.family)
    spiking = family == "poisson"
    resp, spont, geometry, keep = _static_sweep_responses(pop, cfg, seed=seed,
                                                          progress=progress, log=log)
    log(f"{pop.name}: latency (blank {cfg['latency_blank_ms']:g} ms)")
    lat_stim = _static_sweep(cfg, geometry, [max(cfg["contrasts"])])
    lat_shown = _present.steps(pop, 200.0, "stimulus_ms")
    w0 = _present.steps(pop, -cfg["baseline_window_ms"][0], "baseline_window_ms")
    lat = pop.present(lat_stim, n_trials=int(cfg["latency_trials"]),
                      blank_steps=_present.steps(pop, cfg["latency_blank_ms"],
                                                 "latency_blank_ms"),
                      stimulus_steps=lat_shown, record_steps=range(-w0, lat_shown),
                      seed=seed + 2, progress=progress, check_steady_state=False)
    lat = lat.isel(neuron=keep)
    summ, vals = grating_measures(resp, spontaneous_hz=spont, latency_responses=lat,
                                  spiking=spiking, window_ms=cfg["window_ms"],
                                  baseline_window_ms=cfg["baseline_window_ms"],
                                  min_trials=cfg["min_trials"], min_rate_hz=cfg["min_rate_hz"],
                                  psth_bin_ms=cfg["psth_bin_ms"],
                                  fit_neurons=cfg["contrast_neurons"])
    sn = cfg["spatial_neurons"]
    neurons = None if sn is None else list(range(min(int(sn), pop.n_units)))
    log(f"{pop.name}: size tuning")
    size = measure_size_tuning(pop, neurons=neurons, diameters_deg=cfg["diameters_deg"],
                               phases=cfg["spatial_phases"], seed=seed, progress=progress)
    ok = np.asarray(size["responsive"].values, dtype=bool) & np.isfinite(size["si"].values)
    summ["size_tuning"] = {"si": _present.summary(size["si"].values[ok]),
                           "preferred_size_deg": _present.summary(
                               size["preferred_size_deg"].values[ok]),
                           "n_neurons": int(size.sizes["neuron"]), "n_responsive": int(ok.sum()),
                           "diameters_deg": [float(d) for d in cfg["diameters_deg"]]}
    vals["si"] = _values(size["si"].values[ok])
    vals["preferred_size_deg"] = _values(size["preferred_size_deg"].values[ok])
    log(f"{pop.name}: cross-orientation suppression")
    cross = measure_cross_orientation(pop, neurons=neurons, phases=cfg["spatial_phases"],
                                      mask_contrasts=cfg["mask_contrasts"], seed=seed,
                                      progress=progress)
    cm = float(np.max(cross["mask_contrast"].values))
    ok = np.asarray(cross["responsive"].values, dtype=bool)
    supp = np.asarray(cross["suppression_index"].sel(mask_contrast=cm).isel(
        test_contrast=-1).values, dtype=float)[ok]
    summ["cross_orientation"] = {"suppression_index": _present.summary(supp),
                                 "mask_contrast": cm,
                                 "test_contrast": float(cross["test_contrast"].values[-1]),
                                 "n_neurons": int(cross.sizes["neuron"]),
                                 "n_responsive": int(ok.sum())}
    vals["cross_orientation"] = _values(supp)
    log(f"{pop.name}: direction selectivity (drifting gratings)")
    with warnings.catch_warnings():
        # the DSI reads rates after settle_ms; the drifting baseline enters only the
        # responsive criterion (peak >= 2 x pre-onset rate), said in the JSON note
        warnings.filterwarnings("ignore", message=r".*spontaneous state.*")
        d = direction_tuning(pop, directions=cfg["directions"], sfs=cfg["direction_sfs"],
                             seed=seed, progress=progress)
    dr = np.asarray(d["responsive"].values, dtype=bool)
    dr[keep.stop or dr.size:] = False
    summ["direction"] = {"dsi": _present.summary(d["dsi"].values[dr]),
                         "global_dsi": _present.summary(d["global_dsi"].values[dr]),
                         "fraction_direction_selective": (
                             float(np.mean(d["direction_selective"].values[dr]))
                             if dr.any() else math.nan), "n_responsive": int(dr.sum()),
                         "tf_hz": float(d.attrs["settings"]["tf_hz"]),
                         "note": "direction_tuning defaults (200-ms blank, 100 ms settling "
                                 "after onset); responsive vs the pre-onset rate"}
    vals["dsi"] = _values(d["dsi"].values[dr])
    log(f"{pop.name}: receptive fields (sparse noise)")
    with warnings.catch_warnings():
        # the maps subtract the interleaved blank stimuli, not the pre-onset rate
        warnings.filterwarnings("ignore", message=r".*spontaneous state.*")
        rf = map_receptive_fields(pop, units=neurons, n_trials=int(cfg["rf_trials"]),
                                  bar_orientations=None, sta_noise=0, seed=seed,
                                  progress=progress)
    rs = summarize_rf_agreement(rf)
    fitted = np.asarray(rf["significant"].values, dtype=bool) & np.isfinite(
        rf["sigma_deg"].values)
    summ["receptive_field"] = {
        "sigma_deg": rs["sigma_deg"], "area_deg2": rs["area_deg2"],
        "corr_element": rs["corr_element"], "n_neurons": rs["n_neurons"],
        "fraction_significant": rs["fraction_significant"], "n_fitted": rs["n_fitted"],
        "fraction_at_edge": rs["fraction_at_edge"], "n_trials": int(cfg["rf_trials"]),
        "method": "sparse noise (ON/OFF squares of two model pixels on a one-pixel grid), "
                  "2-D Gaussian fit of the significant map; sigma_deg = its SD (deg), "
                  "area_deg2 = half-height area"}
    vals["rf_sigma_deg"] = _values(rf["sigma_deg"].values[fitted])
    entry = {"kind": "model", "name": pop.name, "family": family,
             "n_neurons": int(resp.sizes["neuron"]), "spiking": spiking,
             "units": str(resp.attrs.get("units", "")),
             "spontaneous": "response to a uniform mean-gray stimulus in the counting window",
             "measures": summ}
    return entry, vals


def _baseline(name: str, ms_per_step: float) -> Any:
    from ..models import BASELINES, StimulusFloorBaseline
    from ..models.lca import LCABaseline

    known = {**BASELINES, "stimulus-floor": StimulusFloorBaseline, "lca": LCABaseline}
    if name not in known:
        raise ValueError(f"baselines: unknown baseline {name!r} (known: {sorted(known)})")
    try:
        return known[name](ms_per_step=ms_per_step)
    except (OSError, ValueError, KeyError) as exc:  # e.g. the LCA dictionary not found
        raise ValueError(f"baselines: {name!r} cannot be loaded ({exc})") from None


def baseline_source(name: str, cfg: Mapping[str, Any], *, seed: int = 0,
                    progress: bool = False,
                    log: Callable[[str], None] | None = None) -> tuple[dict[str, Any], dict]:
    """The static-grating measures of one baseline of :mod:`neurofond.models` (LNP spikes)."""
    from ..stimuli import ScreenGeometry

    log = log or (lambda s: None)
    model = _baseline(name, float(cfg["ms_per_step"]))
    ppd = int(cfg["canvas_px"]) / (2.0 * float(cfg["patch_size_deg"]))
    geometry = ScreenGeometry(ppd, int(cfg["canvas_px"]))
    stim = _static_sweep(cfg, geometry, cfg["contrasts"])
    step = float(cfg["ms_per_step"])
    log(f"{name}: static gratings ({len(stim)} x {cfg['n_trials']} trials)")
    resp = model.present(stim, n_trials=int(cfg["n_trials"]),
                         blank_steps=int(round(cfg["blank_ms"] / step)),
                         stimulus_steps=int(round(cfg["stimulus_ms"] / step)), seed=seed,
                         progress=progress)
    if cfg["n_neurons"] is not None:
        resp = resp.isel(neuron=slice(0, int(cfg["n_neurons"])))
    w0, w1 = cfg["baseline_window_ms"]
    spont = _window_counts(resp, (w0, w1)).mean(0) / ((w1 - w0) / 1000.0)
    summ, vals = grating_measures(resp, spontaneous_hz=spont, spiking=True,
                                  window_ms=cfg["window_ms"],
                                  baseline_window_ms=cfg["baseline_window_ms"],
                                  min_trials=cfg["min_trials"], min_rate_hz=cfg["min_rate_hz"],
                                  psth_bin_ms=cfg["psth_bin_ms"],
                                  fit_neurons=cfg["contrast_neurons"])
    for key in ("size_tuning", "cross_orientation", "direction", "receptive_field"):
        summ[key] = _reason(_BASELINE_STATIC)
    entry = {"kind": "baseline", "name": name, "family": "baseline (LNP, Poisson spikes)",
             "n_neurons": int(resp.sizes["neuron"]), "spiking": True,
             "units": str(resp.attrs.get("units", "")),
             "spontaneous": f"rate in {list(cfg['baseline_window_ms'])} ms before onset",
             "measures": summ}
    return entry, vals


def ecker_source(cfg: Mapping[str, Any], *, path: str | Path | None = None,
                 log: Callable[[str], None] | None = None) -> tuple[dict[str, Any], dict]:
    """The static-grating measures of the recorded Ecker 2010 V1 units (sessions pooled).

    Each session is measured on its own (pairs only within a session), then the per-neuron
    and per-pair values are pooled; a session's highest contrast is its tuning contrast.
    """
    from ..recordings import load_ecker2010

    log = log or (lambda s: None)
    sessions = load_ecker2010(path)
    pick = cfg.get("ecker_sessions")
    if pick is not None:
        sessions = [sessions[int(i)] for i in pick]
    log(f"ecker2010: {len(sessions)} sessions")
    per: list[tuple[dict, dict]] = []
    w0, w1 = cfg["baseline_window_ms"]
    for resp in sessions:
        spont = _window_counts(resp, (w0, w1)).mean(0) / ((w1 - w0) / 1000.0)
        per.append(grating_measures(resp, spontaneous_hz=spont, spiking=True,
                                    window_ms=cfg["window_ms"],
                                    baseline_window_ms=cfg["baseline_window_ms"],
                                    min_trials=cfg["min_trials"],
                                    min_rate_hz=cfg["min_rate_hz"],
                                    psth_bin_ms=cfg["psth_bin_ms"],
                                  fit_neurons=cfg["contrast_neurons"]))
    vals = {key: np.concatenate([v[key] for _, v in per])
            for key in per[0][1] if key != "responsive"}
    n = sum(int(s.sizes["neuron"]) for s in sessions)
    n_resp = sum(s["orientation_selectivity"]["n_responsive"] for s, _ in per)
    sel = sum(s["orientation_selectivity"]["fraction_selective"]
              * s["orientation_selectivity"]["n_responsive"] for s, _ in per
              if s["orientation_selectivity"]["n_responsive"])
    summ: dict[str, Any] = {
        "orientation_selectivity": {
            "n_neurons": n, "n_responsive": n_resp,
            "fraction_selective": sel / n_resp if n_resp else math.nan,
            "osi": _present.summary(vals["osi"]),
            "bandwidth_deg": _present.summary(vals["bandwidth_deg"]),
            "contrast": "highest of each session",
            "criterion": "responsive and OSI > 1/3"},
        "fano_factor": {**_present.summary(vals["fano_factor"]),
                        "inclusion": "(stimulus, neuron) pairs, mean count >= 1"},
        "noise_correlation": {**_present.summary(vals["noise_correlation"]),
                              "session_means": [s["noise_correlation"]["mean"]
                                                for s, _ in per],
                              "min_trials": int(cfg["min_trials"]),
                              "min_rate_hz": float(cfg["min_rate_hz"]),
                              "pairs": "within sessions",
                              "reference": "Ecker et al. 2010: 0.005 +/- 0.004 (awake)"},
        "signal_correlation": _present.summary(vals["signal_correlation"]),
        "reliability": {**_present.summary(vals["reliability"]),
                        "psth_bin_ms": float(cfg["psth_bin_ms"])},
        "lifetime_sparseness": {**_present.summary(vals["lifetime_sparseness"]),
                                "over": ["orientation", "contrast"], "neurons": "responsive"},
        "contrast_response": per[0][0]["contrast_response"] if "reason" in per[0][0][
            "contrast_response"] else _reason("contrasts differ between sessions"),
        "latency": {"onset_ms": _present.summary(vals["latency_ms"]),
                    "n_responding": int(vals["latency_ms"].size), "n_responsive": n_resp,
                    "definition": per[0][0]["latency"]["definition"],
                    "baseline_window_ms": list(cfg["baseline_window_ms"])},
        "size_tuning": _reason(_NOT_IN_RECORDINGS),
        "cross_orientation": _reason(_NOT_IN_RECORDINGS),
        "direction": _reason(_NOT_IN_RECORDINGS + "; the drifting release is not read here"),
        "receptive_field": _reason(_NOT_IN_RECORDINGS + " (no sparse noise or bars)"),
    }
    if "c50" in vals and "reason" not in per[0][0]["contrast_response"]:
        summ["contrast_response"] = {"c50": _present.summary(vals["c50"])}
    entry = {"kind": "recorded", "name": "ecker2010", "family": "macaque V1 (awake)",
             "n_neurons": n, "n_sessions": len(sessions), "spiking": True,
             "units": "spikes per bin",
             "spontaneous": f"rate in {list(cfg['baseline_window_ms'])} ms before onset",
             "measures": summ}
    return entry, vals


# --------------------------------------------------------------------------- the survey


def _check_out(out: Path, overwrite: bool) -> None:
    """Refuse an output folder that would lose files (before anything is computed)."""
    from .._files import check_output_folder

    check_output_folder(out, overwrite=overwrite, own_files=_RUN_FILES, argument="out",
                        product="a survey",
                        not_empty_hint="pass --overwrite (overwrite=True) to replace an "
                                       "earlier survey, or choose another folder")


def _family_key(name: str) -> str:
    for key in ("ipvae", "igrelu", "igvae"):
        if name.startswith(key):
            return key
    return name


def run_survey(out: str | Path, *, models: Sequence[str] | None = None,
               baselines: Sequence[str] | None = BASELINE_NAMES,
               recordings: Any = "auto", mode: str = "quick", seed: int = 0,
               device: str = "cpu", overwrite: bool = False, progress: bool = True,
               figures: bool = True) -> dict[str, Any]:
    """Measure every survey measure for models, baselines and recorded units; write results.

    Parameters
    ----------
    out : path
        Output folder: ``survey.json`` (atomic), ``survey_table.md`` (:func:`survey_table`)
        and ``survey_distributions.png``. A non-empty folder is
        refused unless ``overwrite`` (and then it may hold only files of a survey).
    models : sequence of str, optional
        Shipped model names or checkpoint paths (default: every shipped model).
    baselines : sequence of str, optional
        Baselines (:data:`BASELINE_NAMES`, plus ``"lca"`` when its dictionary is saved).
    recordings : "auto", path or None
        Ecker 2010 static ``.mat`` (``"auto"``: found by the dataset registry; None: none).
    mode : {"tiny", "quick", "full"}
        Sizes (:data:`PRESETS`).
    seed : int
        Seed of every stimulus presentation (spike sampling).
    progress : bool
        Print what is being measured (stderr) and show presentation progress bars.

    Returns
    -------
    dict
        What ``survey.json`` holds: ``sources`` (name -> kind, n_neurons, ``measures``),
        ``order`` (models, baselines, recordings), ``measures``, ``settings`` and
        provenance, ``timings_s``.

    Raises
    ------
    ValueError
        Unknown mode, model or baseline (named); FileExistsError for a non-empty ``out``.
    """
    from .._files import atomic_write_json, atomic_write_text
    from ..pretrained import SHIPPED

    if mode not in PRESETS:
        raise ValueError(f"mode: expected one of {tuple(PRESETS)}, got {mode!r}")
    seed = check_int(seed, "seed", minimum=0)
    cfg = PRESETS[mode]
    out = Path(out)
    _check_out(out, bool(overwrite))
    models = list(SHIPPED) if models is None else [str(m) for m in models]
    baselines = [] if baselines is None else [str(b) for b in baselines]
    if models:  # fail before any measurement
        from ..pretrained import resolve_checkpoints

        try:
            resolve_checkpoints(models)
        except (ValueError, FileNotFoundError, KeyError) as exc:
            raise ValueError(f"models: {exc}") from None
    for b in baselines:
        _baseline(b, float(cfg["ms_per_step"]))
    rec_path = None
    rec_note = "recordings not requested"
    if recordings is not None and recordings is not False:
        from ..report import find_recordings

        rec_path, rec_note = find_recordings(recordings)

    def log(msg: str) -> None:
        if progress:
            print(f"[survey {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    sources: dict[str, Any] = {}
    values: dict[str, dict[str, np.ndarray]] = {}
    timings: dict[str, float] = {}
    jobs: list[tuple[str, Callable[[], tuple[dict, dict]]]] = []
    for m in models:
        jobs.append((m, lambda m=m: model_source(m, cfg, seed=seed, device=device,
                                                 progress=progress, log=log)))
    for b in baselines:
        jobs.append((b, lambda b=b: baseline_source(b, cfg, seed=seed, progress=progress,
                                                    log=log)))
    if rec_path is not None:
        jobs.append(("ecker2010", lambda: ecker_source(cfg, path=rec_path, log=log)))
    for i, (label, job) in enumerate(jobs):
        log(f"source {i + 1}/{len(jobs)}: {label}")
        t0 = time.perf_counter()
        entry, vals = job()
        timings[entry["name"]] = round(time.perf_counter() - t0, 2)
        sources[entry["name"]] = entry
        values[entry["name"]] = vals
    import neurofond

    result = {"sources": sources, "order": list(sources), "measures": list(MEASURES),
              "timings_s": timings,
              "recordings": {"path": None if rec_path is None else str(rec_path),
                             "note": rec_note},
              "settings": {"mode": mode, "seed": seed, "device": str(device),
                           **{k: (list(v) if isinstance(v, tuple) else v)
                              for k, v in cfg.items()}},
              "neurofond_version": getattr(neurofond, "__version__", "unknown"),
              "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "survey.json", result)
    atomic_write_text(out / "survey_table.md", survey_table(result) + "\n")
    if figures:
        survey_figure(values, out / "survey_distributions.png", sources=sources)
    return result


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.{digits}f}"


def _cell(m: Mapping[str, Any], *path: str, digits: int = 2) -> str:
    """``m[path...]`` formatted; "n/a" when the measure carries a reason."""
    if "reason" in m:
        return "n/a"
    v: Any = m
    for key in path:
        if not isinstance(v, Mapping) or key not in v:
            return "-"
        v = v[key]
    return _fmt(v, digits)


def survey_table(result: Mapping[str, Any]) -> str:
    """The survey as a Markdown table: one row per source (medians; r_sc mean +/- SEM).

    "n/a": the measure does not apply to the source (its reason is in ``survey.json``);
    "-": measured, but no neuron qualified.
    """
    head = ["source", "n", "median OSI", "fraction selective", "median bandwidth (deg)",
            "median Fano", "mean r_sc +/- SEM (pairs)", "median reliability",
            "median lifetime sparseness", "median c50", "median latency (ms)", "median SSI",
            "median preferred size (deg)", "median XOS (top mask)", "median DSI",
            "median RF sigma (deg)"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in result.get("order", list(result["sources"])):
        e = result["sources"][name]
        m = e["measures"]
        o, r = m["orientation_selectivity"], m["noise_correlation"]
        rsc = ("n/a" if "reason" in r else
               f"{_fmt(r['mean'], 4)} +/- {_fmt(r['sem'], 4)} ({r['n']})")
        rows.append("| " + " | ".join([
            name, f"{o['n_responsive']}/{e['n_neurons']}", _cell(o, "osi", "median"),
            _cell(o, "fraction_selective"), _cell(o, "bandwidth_deg", "median", digits=1),
            _cell(m["fano_factor"], "median"), rsc,
            _cell(m["reliability"], "median", digits=3),
            _cell(m["lifetime_sparseness"], "median"),
            _cell(m["contrast_response"], "c50", "median"),
            _cell(m["latency"], "onset_ms", "median", digits=0),
            _cell(m["size_tuning"], "si", "median"),
            _cell(m["size_tuning"], "preferred_size_deg", "median"),
            _cell(m["cross_orientation"], "suppression_index", "median"),
            _cell(m["direction"], "dsi", "median"),
            _cell(m["receptive_field"], "sigma_deg", "median", digits=3)]) + " |")
    return "\n".join(rows)


#: (value key, axis label) of each panel of the survey figure.
_PANELS = (("osi", "OSI"), ("bandwidth_deg", "orientation bandwidth (deg)"),
           ("fano_factor", "Fano factor"), ("noise_correlation", "r_sc"),
           ("signal_correlation", "signal correlation"), ("reliability", "trial reliability"),
           ("lifetime_sparseness", "lifetime sparseness"), ("c50", "c50 (Naka-Rushton)"),
           ("latency_ms", "onset latency (ms)"), ("si", "surround suppression index"),
           ("preferred_size_deg", "preferred size (deg)"),
           ("cross_orientation", "cross-orientation suppression"), ("dsi", "DSI"),
           ("rf_sigma_deg", "sparse-noise RF sigma (deg)"))


def survey_figure(values: Mapping[str, Mapping[str, np.ndarray]], path: str | Path, *,
                  sources: Mapping[str, Any] | None = None) -> Path:
    """Distributions of every measure per source (box and points, n under each box)."""
    from .._files import save_figure
    from .._scripts import pyplot

    plt = pyplot()
    names = list(values)
    ncol = 4
    nrow = math.ceil(len(_PANELS) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.2 * nrow))
    rng = np.random.default_rng(0)  # jitter of the points only
    for ax, (key, label) in zip(axes.ravel(), _PANELS):
        data = [(n, np.asarray(values[n].get(key, []), dtype=float)) for n in names]
        data = [(n, v[np.isfinite(v)]) for n, v in data]
        shown = [(n, v) for n, v in data if v.size]
        for i, (n, v) in enumerate(shown):
            color = SOURCE_COLORS.get(_family_key(n), "0.4")
            ax.boxplot([v], positions=[i], widths=0.6, showfliers=False,
                       medianprops={"color": color, "lw": 2})
            sub = v if v.size <= 400 else rng.choice(v, 400, replace=False)
            ax.scatter(i + rng.uniform(-0.2, 0.2, sub.size), sub, s=3, alpha=0.3, color=color)
            ax.text(i, 1.0, f"n={v.size}", transform=ax.get_xaxis_transform(), ha="center",
                    va="bottom", fontsize=6)
        ax.set_xticks(range(len(shown)))
        ax.set_xticklabels([_family_key(n) for n, _ in shown], rotation=45, ha="right",
                           fontsize=7)
        ax.set_ylabel(label, fontsize=8)
        if not shown:
            ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes)
    for ax in axes.ravel()[len(_PANELS):]:
        ax.axis("off")
    fig.suptitle("V1 survey: distributions per source (same analysis code; n above each box)",
                 fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
