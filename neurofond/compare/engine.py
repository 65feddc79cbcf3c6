"""The comparison engine: candidates x Ecker 2010 sessions -> tables (figures: the script)."""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .candidates import Candidate, build_candidates, model_spikes
from .nested import NestedRidge, fold_plan, reduce_features, scale_features
from .protocol import (
    ALL_SESSIONS,
    ALPHAS,
    BASELINE_R0_HZ,
    BASELINE_RMAX_HZ,
    BASELINE_STEP_MS,
    BASELINE_WINDOW_MS,
    CONTRAST_GAINS,
    DATA_BIN_MS,
    DELAYS_MS,
    FANO_MIN_COUNT,
    FANO_WINDOW_MS,
    LATENCY,
    LATENCY_SEARCH_MS,
    MS_GRID,
    PAIR_PROPERTIES,
    PREDICTIVITY_WINDOW_MS,
    PROPERTIES,
    PROPERTY_TIME_MS,
    QUICK_DELAYS_MS,
    QUICK_MS_GRID,
    QUICK_SESSIONS,
    RSC_MIN_RATE_HZ,
    RSC_MIN_TRIALS,
    TUNING_WINDOW_MS,
)
from .resampling import fano_step_mask, resample_matrix
from .scores import (
    ceiled,
    ks_compare,
    n_folds_of,
    nanmedian,
    pair_correlations,
    responsive_values,
    unit_properties,
)
from .sessions import (
    Session,
    condition_centered,
    load_sessions,
    render_conditions,
    stimulus_parameters,
)

__all__ = ["Comparison", "compare_ecker2010", "gather", "is_spiking", "pooled_pairs",
           "session_pairs"]


@dataclass
class Comparison:
    """What :func:`compare_ecker2010` returns.

    ``results``: the summary (table, winner, fits, skipped, sessions, n_units, assumptions,
    settings, citation); ``rows`` (model x session plus ``session = all``), ``unit_rows``
    (per-unit r and reliability), ``prop_rows`` (property values of every unit / neuron),
    ``grid_rows`` (score per gain, time scale and delay); ``fits`` per candidate key;
    ``sessions``, ``data_props`` and ``model_props`` for the property figures;
    ``data_pairs`` (session -> :func:`~neurofond.compare.scores.pair_correlations`) and
    ``model_pairs`` (candidate -> session -> the same) for the noise correlations.
    """

    results: dict[str, Any]
    rows: list[dict[str, Any]]
    unit_rows: list[dict[str, Any]]
    prop_rows: list[dict[str, Any]]
    grid_rows: list[dict[str, Any]]
    fits: dict[str, dict[str, Any]]
    sessions: list[Session]
    data_props: dict[int, dict[str, np.ndarray]]
    model_props: dict[str, dict[int, dict[str, np.ndarray]]]
    data_pairs: dict[int, dict[str, Any]] = field(default_factory=dict)
    model_pairs: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)


def compare_ecker2010(models: Sequence[str] | None = None,
        sessions: Sequence[int] | None = None, *, quick: bool = True, seed: int = 0,
        n_trials: int | None = None, n_trials_features: int | None = None,
        bin_ms: float | None = None,
        ms_grid: Sequence[float] | None = None,
        delays_ms: Sequence[float] | None = None, n_folds: int | None = None,
        inner_folds: int | None = None, contrast_gains: Sequence[float] | None = None,
        n_bootstrap: int | None = None, response_threshold_hz: float = 5.0,
        patch_size_deg: float = 1.0, n_components: int | None = 32,
        data_path: str | os.PathLike | None = None,
        device: str = "cpu", progress: bool = True, blas_threads: int | None = 1
        ) -> Comparison:
    """Compare candidates with the Ecker 2010 units (see the :mod:`neurofond.compare` docstring).

    Returns
    -------
    Comparison
        The result tables and what the figures need; ``results`` is what the JSON file of
        ``analyses/ecker2010_comparison.py`` holds (without ``seconds``).

    Parameters
    ----------
    models : checkpoint names / paths and baseline names (``gabor-energy``,
        ``pixel-pca``, ``lca``, ``stimulus-floor``). Default: the shipped models (missing
        ones are skipped with a note) and every baseline.
    sessions : session indices 0-16 (quick default 7, 10, 12; full: all).
    quick : fast settings (see the module docstring); False = ``--full``.
    seed : seed of spike sampling, CV splits and bootstraps.
    n_trials : model trials per condition for the property analyses (20).
    n_trials_features : model trials averaged into the regression features (4: the
        features are posterior-mean rates; two independent 4- and 8-trial means of the
        shipped iP-VAE's 96 most variable neurons correlate with r = 0.998 (gain 1) and
        0.99999 (gain 0.3)).
    bin_ms : PSTH bin of the predictivity, selection and report (20 ms; a multiple of 10
        dividing 500).
    n_components : leading principal components of the model responses used as features
        (32; :func:`neurofond.compare.nested.reduce_features`, the kept variance is in the
        fits; None keeps every channel).
    ms_grid, delays_ms : time-scale (ms per model step) and delay grids (default 1, 3,
        10 ms per step quick, 2, 5, 10, 20 full; delays 0-80 ms in steps of 20 (quick)
        or 10 (full)).
    n_folds : CV folds over conditions (quick 4; full: the number of orientations).
    inner_folds : folds of the nested CV choosing the ridge penalty (quick 3, full 5).
    contrast_gains : candidate factors from screen contrast to model input contrast, fitted
        with the time scale (VAEs; default 1, 0.3, 0.1).
    n_bootstrap : KS bootstrap samples (quick 500, full 1000).
    response_threshold_hz : responsiveness threshold of the property analyses.
    patch_size_deg : degrees covered by one model patch.
    data_path : the Ecker ``.mat`` file (default: the dataset registry).
    blas_threads : BLAS threads during the run (default 1: on a shared, loaded CPU the
        many small ridge eigen-decompositions run several times faster single-threaded;
        None leaves the BLAS default).
    """
    import contextlib

    from threadpoolctl import threadpool_limits

    import neurofond.analysis  # noqa: F401  (loads scipy's BLAS before the limit is set)

    limit = (contextlib.nullcontext() if blas_threads is None
             else threadpool_limits(limits=int(blas_threads), user_api="blas"))
    with limit:
        return _run(models, sessions, quick=quick, seed=seed, n_trials=n_trials,
                    n_trials_features=n_trials_features, bin_ms=bin_ms,
                    ms_grid=ms_grid, delays_ms=delays_ms, n_components=n_components,
                    n_folds=n_folds, inner_folds=inner_folds, contrast_gains=contrast_gains,
                    n_bootstrap=n_bootstrap, response_threshold_hz=response_threshold_hz,
                    patch_size_deg=patch_size_deg, data_path=data_path, device=device,
                    progress=progress)


def _run(models, sessions, *, quick, seed, n_trials, n_trials_features, bin_ms,
         ms_grid, delays_ms, n_folds, inner_folds, contrast_gains, n_bootstrap,
         response_threshold_hz, patch_size_deg, data_path, device, progress,
         n_components: int | None = 32, data: list[Session] | None = None,
         stim_params: dict[str, Any] | None = None,
         stimulus_source: str | None = None, citation: str | None = None,
         label: str = "ecker2010", centered: bool = False,
         baseline_ms_grid: Sequence[float] | None = None) -> Comparison:
    """The run. ``data`` (sessions already built, e.g. by :func:`neurofond.compare.compare`)
    replaces loading the Ecker sessions; ``stim_params`` the assumed Ecker stimulus;
    ``centered`` scores the condition-specific part of the PSTHs only (targets, features and
    ceilings minus their mean over conditions per bin); ``baseline_ms_grid`` fits the
    baselines' time scale too (default: their fixed 5 ms per step)."""
    from tqdm.auto import tqdm

    from .._scripts import pick, provenance
    from ..responses import make_responses

    stim_params = dict(stim_params) if stim_params is not None else stimulus_parameters()
    if data is not None:
        sessions = [s.index for s in data]
    sessions = list(QUICK_SESSIONS if quick else ALL_SESSIONS) if sessions is None else [
        int(s) for s in sessions]
    if not sessions:
        raise ValueError("sessions: give at least one session index (0-16)")
    n_trials = int(pick(n_trials, quick, 20, 20))
    n_trials_f = int(pick(n_trials_features, quick, 4, 4))
    bin_ms = float(pick(bin_ms, quick, 20.0, 20.0))
    for name, b in (("bin_ms", bin_ms),):
        f = b / DATA_BIN_MS
        span = PREDICTIVITY_WINDOW_MS[1] - PREDICTIVITY_WINDOW_MS[0]
        if f < 1 or not math.isclose(f, round(f)) or not math.isclose(span / b, round(span / b)):
            raise ValueError(f"{name}: expected a multiple of 10 ms dividing 500 ms, got {b:g}")
    ms_grid_vae = tuple(float(v) for v in (ms_grid if ms_grid is not None else
                                           (QUICK_MS_GRID if quick else MS_GRID)))
    gains = tuple(float(v) for v in (contrast_gains if contrast_gains is not None
                                     else CONTRAST_GAINS))
    if not gains or min(gains) <= 0 or max(gains) > 1:
        raise ValueError(f"contrast_gains: expected values in (0, 1], got {gains}")
    delays = tuple(float(v) for v in (delays_ms if delays_ms is not None else
                                      (QUICK_DELAYS_MS if quick else DELAYS_MS)))
    if not ms_grid_vae or min(ms_grid_vae) <= 0 or not delays or min(delays) < 0:
        raise ValueError("ms_grid: positive values and delays_ms: values >= 0 expected")
    n_folds_q = pick(n_folds, quick, 4, None)
    inner = int(pick(inner_folds, quick, 3, 5))
    n_boot = int(pick(n_bootstrap, quick, 500, 1000))

    if data is None:
        data = load_sessions(sessions, data_path)
    cands, skipped = build_candidates(models, stim_params, patch_size_deg=patch_size_deg,
                                      device=device)
    for c in cands:
        if c.kind == "vae":
            c.ms_grid, c.gains = ms_grid_vae, gains
        elif baseline_ms_grid is not None:
            c.ms_grid = tuple(float(v) for v in baseline_ms_grid)
    for s in skipped:
        print(f"note: skipping {s['model']}: {s['reason']}", file=sys.stderr)

    # data side: targets, ceilings and properties (model independent)
    data_props, data_pairs = {}, {}
    for s in data:
        data_props[s.index] = unit_properties(s.property_responses(), s.fano_counts(),
                                              threshold_hz=response_threshold_hz)
        data_pairs[s.index] = session_pairs(s)
    def target(s: Session, b: float) -> np.ndarray:
        x = s.binned(b)
        return np.nanmean(condition_centered(x, axis=1) if centered else x, axis=0)


    def edges(b):
        return np.arange(PREDICTIVITY_WINDOW_MS[0], PREDICTIVITY_WINDOW_MS[1] + 1e-9, b)

    prop_edges = np.arange(PROPERTY_TIME_MS[0], PROPERTY_TIME_MS[1] + 1e-9, DATA_BIN_MS)
    total = sum(len(c.gains) * len(c.ms_grid) * len(delays) * len(data) + 2 * len(data)
                for c in cands)
    bar = tqdm(total=total, desc=label, unit="fit", disable=not progress)

    rows, unit_rows, prop_rows, grid_rows = [], [], [], []
    fits: dict[str, dict[str, Any]] = {}
    model_props: dict[str, dict[int, dict[str, np.ndarray]]] = {}
    model_pairs: dict[str, dict[int, dict[str, Any]]] = {}
    plans = {s.index: fold_plan(s.contrast, n_folds_of(s, n_folds_q), inner, seed) for s in data}
    ridges = {s.index: NestedRidge(target(s, bin_ms).transpose(0, 2, 1), plans[s.index],
                                   np.asarray(ALPHAS)) for s in data}
    for cand in cands:
        steps = cand.steps(max(delays))
        # 0. model responses (trial-averaged rates): every distinct shown grating (orientation,
        # contrast x gain, SF, phase) simulated once for all sessions and gains, in one
        # batch; then per gain and session reduced to their leading PCs
        bar.set_description(f"{cand.key}: simulate")
        clock = {"start": time.perf_counter()}
        keys = {(g, s.index): _shown_keys(s, g, stim_params) for g in cand.gains for s in data}
        unique = sorted({k for ks in keys.values() for k in ks})
        cols = np.array(unique, dtype=float)
        sims = cand.simulate(render_conditions(cols[:, 0], cols[:, 1], stim_params,
                                               sf=cols[:, 2], phase=cols[:, 3]),
                             steps, n_trials_f, seed, spikes=False)
        row_of = {k: i for i, k in enumerate(unique)}
        reduced: dict[float, dict[int, np.ndarray]] = {g: {} for g in cand.gains}
        kept: list[float] = []
        done: dict[tuple, tuple[np.ndarray, float]] = {}
        for (g, si), ks in keys.items():
            if tuple(ks) not in done:
                done[tuple(ks)] = reduce_features(sims[[row_of[k] for k in ks]], n_components)
                kept.append(done[tuple(ks)][1])
            reduced[g][si] = done[tuple(ks)][0]
        del sims, done

        clock["simulate"] = time.perf_counter()
        # 1. nested selection: per session and outer fold, the (gain, time scale, delay)
        # with the best inner-CV score on that fold's training conditions
        bar.set_description(f"{cand.key}: nested fit")
        grid = [(g, m, d) for g in cand.gains for m in cand.ms_grid for d in delays]
        best = {s.index: [(-np.inf, -1, None)] * len(plans[s.index].outer) for s in data}
        for gi, (g, m, d) in enumerate(grid):
            fold_scores = []
            for s in data:
                sc, ai = ridges[s.index].inner_scores(
                    design(reduced[g][s.index], steps, m, d, edges(bin_ms), centered))
                for f, v in enumerate(sc):
                    if np.isfinite(v) and v > best[s.index][f][0]:
                        best[s.index][f] = (float(v), gi, ai[f])
                fold_scores.extend(sc.tolist())
                bar.update(1)
            grid_rows.append({"model": cand.key, "contrast_gain": g, "ms_per_step": m,
                              "delay_ms": d, "median_unit_r": nanmedian(fold_scores),
                              "mean_inner_score": float(np.nanmean(fold_scores))
                              if np.isfinite(fold_scores).any() else float("nan")})

        clock["fit"] = time.perf_counter()
        # 2. outer test folds at each fold's own choice
        bar.set_description(f"{cand.key}: predictivity")
        per_session, per_fold = {}, []
        for s in data:
            r_folds = []
            for f, (v, gi, ai) in enumerate(best[s.index]):
                if gi < 0:  # no finite inner score at any setting
                    r_folds.append(np.full(s.n_units, np.nan))
                    continue
                g, m, d = grid[gi]
                x = design(reduced[g][s.index], steps, m, d, edges(bin_ms), centered)
                r = ridges[s.index].outer_r(x, f, ai)
                r_folds.append(r)
                per_fold.append({"session": s.index, "fold": f, "contrast_gain": g,
                                 "ms_per_step": m, "delay_ms": d, "inner_score": v,
                                 "test_median_r": nanmedian(r)})
            r_folds = np.asarray(r_folds)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                nr = np.nanmean(r_folds, axis=0)
                raw = float(np.nanmean([nanmedian(rf) for rf in r_folds]))
            ceil = s.ceiling(bin_ms, seed, centered)
            c = float(ceil["ceiling"])
            per_session[s.index] = {"raw": raw, "ceiling": c, "ceiled": ceiled(raw, c)}
            rel = np.asarray(ceil["neuron_reliability"].values)
            for u in range(s.n_units):
                unit_rows.append({"model": cand.key, "session": s.index,
                                  "neuron_id": s.unit_ids[u], "r": nr[u], "reliability": rel[u]})
            bar.update(1)
        if not per_fold:
            raise ValueError(f"models: {cand.key}: no finite inner score at any setting")
        mine = [r for r in grid_rows if r["model"] == cand.key]
        g_best, m_best, d_best, agree, mean_best = _reported_setting(mine, per_fold)
        fits[cand.key] = {
            "ms_per_step": m_best, "delay_ms": d_best, "contrast_gain": g_best,
            "selection": "nested: per session and outer fold, the setting with the best "
                         "inner-CV score on that fold's training conditions (used for its "
                         "test conditions); the reported value (used for the properties) is "
                         "the setting with the best inner-CV score averaged over all "
                         "session-folds; agreement = fraction of folds that chose it",
            "agreement": agree, "n_folds_total": len(per_fold),
            "ms_per_step_median": float(np.median([p["ms_per_step"] for p in per_fold])),
            "delay_ms_median": float(np.median([p["delay_ms"] for p in per_fold])),
            "contrast_gain_median": float(np.median([p["contrast_gain"] for p in per_fold])),
            "per_fold": per_fold,
            "search_median_unit_r": mean_best,
            "modal_setting": list(_modal_setting(per_fold)),
            "time_scale_fitted": len(cand.ms_grid) > 1,
            "ms_grid": list(cand.ms_grid), "delays_ms": list(delays),
            "contrast_gains": list(cand.gains), "n_components": n_components,
            "variance_kept_min": float(min(kept)),
            "label": cand.label, "kind": cand.kind, "family": cand.family,
            "response_units": cand.units}
        edge = [name for name, v, grid_ in (("contrast_gain", g_best, cand.gains),
                                            ("ms_per_step", m_best, cand.ms_grid),
                                            ("delay_ms", d_best, delays))
                if len(grid_) > 2 and v in (min(grid_), max(grid_))]
        fits[cand.key]["at_grid_edge"] = edge
        fits[cand.key]["n_grid_points"] = len(grid)
        cand.fit = fits[cand.key]

        clock["predict"] = time.perf_counter()
        # 3. properties with the fitted time scale, delay and gain
        bar.set_description(f"{cand.key}: properties")
        steps_p = cand.steps(max(delays), m_best)  # only the steps the fitted scale needs
        wp = resample_matrix(steps_p, m_best, d_best, prop_edges)
        fmask = fano_step_mask(steps_p, m_best, d_best)
        model_props[cand.key] = {}
        model_pairs[cand.key] = {}
        # every distinct grating at the fitted gain once, in one batch, for all sessions
        shown = {s.index: _shown_keys(s, g_best, stim_params) for s in data}
        unique = sorted({k for ks in shown.values() for k in ks})
        cols = np.array(unique, dtype=float)
        fano_all, binned_all = model_spikes(
            cand, render_conditions(cols[:, 0], cols[:, 1], stim_params, sf=cols[:, 2],
                                    phase=cols[:, 3]),
            steps_p, wp, fmask, n_trials=n_trials, seed=seed + 1)
        row_of = {k: i for i, k in enumerate(unique)}
        for s in data:
            idx = [row_of[k] for k in shown[s.index]]
            fano_counts, binned = fano_all[:, idx], binned_all[:, idx]
            resp = make_responses(binned, bin_ms=DATA_BIN_MS,
                                  stimulus_coords={"orientation": s.orientation,
                                                   "contrast": s.contrast},
                                  time_start_ms=prop_edges[:-1], source=f"model:{cand.key}")
            model_props[cand.key][s.index] = unit_properties(
                resp, fano_counts, threshold_hz=response_threshold_hz)
            # r_sc of every pair of the candidate's neurons shown this session's conditions
            # (simulated together, same trials: the model's within-session pairs)
            model_pairs[cand.key][s.index] = pair_correlations(
                fano_counts, s.orientation, s.contrast, spiking=is_spiking(cand))
            bar.update(1)
        clock["properties"] = time.perf_counter()
        fits[cand.key]["seconds"] = {k: round(clock[k] - clock[p], 2) for p, k in
                                     zip(list(clock)[:-1], list(clock)[1:])}
        rows.extend(_session_rows(cand, data, per_session, data_props, model_props[cand.key],
                                  n_boot, seed, data_pairs, model_pairs[cand.key]))
        rows.append(_summary_row(cand, data, per_session, data_props, model_props[cand.key],
                                 n_boot, seed, data_pairs, model_pairs[cand.key]))
    bar.close()

    # property table (data once + every model)
    for s in data:
        prop_rows.extend(_prop_rows("data", s.index, data_props[s.index], s.unit_ids))
        for key, props in model_props.items():
            prop_rows.extend(_prop_rows(key, s.index, props[s.index], None))

    summary = [r for r in rows if r["session"] == "all"]
    winner = _winner(summary, rows)
    results = {
        "table": rows,
        "winner": winner,
        "fits": fits,
        "skipped": skipped,
        "sessions": sessions,
        "n_units": int(sum(s.n_units for s in data)),
        "assumptions": {
            "stimulus": {**stim_params, "source": stimulus_source or (
                "neurofond.recordings.ecker2010.ECKER2010_STIMULUS (not documented in the "
                "release)"),
                         "kind": "full-field static sine-wave gratings"},
            "model_presentation": {"positions": "one hypercolumn at the canvas centre",
                                   "patch_size_deg": patch_size_deg, "transform": "linear",
                                   "blank": "mean gray before onset",
                                   "time": "ms per step and delay fitted (grids)",
                                   "contrast": "screen contrast x a fitted contrast gain "
                                               "(grid) = model input contrast"},
            "baselines": {"temporal_kernel": "boxcar(0-500 ms) * gamma(order 3, tau 10 ms)",
                          "step_ms": BASELINE_STEP_MS,
                          "lnp_rates_hz": [BASELINE_R0_HZ, BASELINE_RMAX_HZ]},
        },
        "settings": provenance(
            None, quick=quick, seed=seed, n_trials=n_trials, n_trials_features=n_trials_f,
            bin_ms=bin_ms,
            ms_grid=list(ms_grid_vae), delays_ms=list(delays),
            contrast_gains=list(gains),
            n_folds=n_folds_q if n_folds_q is not None else "n_orientations",
            inner_folds=inner, centered=centered,
            baseline_ms_grid=None if baseline_ms_grid is None else list(baseline_ms_grid),
            n_bootstrap=n_boot, response_threshold_hz=response_threshold_hz,
            windows_ms={"predictivity": PREDICTIVITY_WINDOW_MS, "tuning": TUNING_WINDOW_MS,
                        "fano": FANO_WINDOW_MS, "baseline": BASELINE_WINDOW_MS,
                        "latency_search": LATENCY_SEARCH_MS},
            latency=LATENCY, fano_min_count=FANO_MIN_COUNT,
            noise_correlation={
                "function": "neurofond.analysis.correlations.noise_correlations",
                "window_ms": FANO_WINDOW_MS, "min_trials": RSC_MIN_TRIALS,
                "min_rate_hz": RSC_MIN_RATE_HZ,
                "min_rate_hz_activations": 0.0,
                "pairs": "within a session: every pair of recorded units; every pair of "
                         "the candidate's neurons shown that session's conditions",
                "note": "no rate criterion for candidates whose responses are activations, "
                        "not spikes (Gaussian-family VAEs), as in the survey"},
            contrast_response={
                "contrast_index": "(R_high - R_low) / (R_high + R_low), R = evoked rate "
                                  "at the preferred orientation minus baseline, >= 0",
                "c50": "Naka-Rushton fit at the preferred orientation; only with >= 4 "
                       "contrasts (NaN otherwise)"},
            regression="ridge (nested K-fold CV over conditions, penalty per unit), K-fold "
                       "over conditions stratified by contrast",
            ceiled="max(raw, 0)**2 / ceiling (Brain-Score)",
            bins={k: v[1] for k, v in {**PROPERTIES, **PAIR_PROPERTIES}.items()}),
        "citation": citation or ("Ecker et al. 2010 Science 327:584; Berens et al. 2012 J "
                                 "Neurosci 32:10618 (data CC BY-NC-ND 3.0)"),
    }
    return Comparison(results=results, rows=rows, unit_rows=unit_rows, prop_rows=prop_rows,
                      grid_rows=grid_rows, fits=fits, sessions=data, data_props=data_props,
                      model_props=model_props, data_pairs=data_pairs, model_pairs=model_pairs)


def design(reduced: np.ndarray, steps: np.ndarray, ms_per_step: float, delay_ms: float,
           edges: np.ndarray, centered: bool) -> np.ndarray:
    """Scaled regression samples ``(cond, bin, P)`` of reduced step responses ``(cond, P,
    step)`` at a time scale and delay (``centered``: minus the mean over conditions)."""
    x = reduced @ resample_matrix(steps, ms_per_step, delay_ms, edges).T  # (cond, P, bin)
    if centered:
        x = x - x.mean(axis=0, keepdims=True)
    return scale_features(x.transpose(0, 2, 1))


def _shown_keys(sess: Session, gain: float, stim_params: dict[str, Any]) -> list[tuple]:
    """The gratings shown to a candidate for a session's conditions at a contrast gain:
    ``(orientation, contrast x gain, SF, phase)`` rounded to 1e-9 (so 0.3 x 0.1 and 0.03 x 1
    are one grating)."""
    n = sess.orientation.size
    sf = sess.sf if sess.sf is not None else np.full(n, float(stim_params["sf_cpd"]))
    ph = sess.phase if sess.phase is not None else np.full(n, float(stim_params["phase_deg"]))
    return [(round(float(o), 9), round(float(c) * gain, 9), round(float(f), 9),
             round(float(p), 9))
            for o, c, f, p in zip(sess.orientation, sess.contrast, sf, ph)]


def _reported_setting(grid: list[dict[str, Any]], per_fold: list[dict[str, Any]]
                      ) -> tuple[float, float, float, float, float]:
    """The setting with the highest mean inner-CV score over all session-folds, the fraction
    of folds whose own choice it was, and that mean score."""
    scored = [r for r in grid if np.isfinite(r["mean_inner_score"])]
    top = max(scored, key=lambda r: r["mean_inner_score"])
    key = (top["contrast_gain"], top["ms_per_step"], top["delay_ms"])
    agree = np.mean([(p["contrast_gain"], p["ms_per_step"], p["delay_ms"]) == key
                     for p in per_fold])
    return key[0], key[1], key[2], float(agree), float(top["mean_inner_score"])


def _modal_setting(per_fold: list[dict[str, Any]]) -> tuple[float, float, float, float]:
    """The most frequent (gain, ms per step, delay) over folds (ties: higher summed inner
    score) and the fraction of folds that chose it (reported as ``modal_setting``)."""
    keys = [(p["contrast_gain"], p["ms_per_step"], p["delay_ms"]) for p in per_fold]
    count = Counter(keys)
    total: dict[tuple, float] = {}
    for k, p in zip(keys, per_fold):
        total[k] = total.get(k, 0.0) + p["inner_score"]
    top = max(count, key=lambda k: (count[k], total[k]))
    return top[0], top[1], top[2], count[top] / len(keys)


def is_spiking(cand: Candidate) -> bool:
    """Whether a candidate's property responses are spike counts (Poisson VAEs, the LNP
    baselines) rather than activations (Gaussian-family VAEs)."""
    return "spikes" in str(cand.units)


def session_pairs(sess: Session) -> dict[str, Any]:
    """Noise correlations of a recorded session's units (0-500 ms counts, spike criteria)."""
    return pair_correlations(sess.fano_counts(), sess.orientation, sess.contrast,
                             spiking=True)


def pooled_pairs(pairs_by_session: dict[int, dict[str, Any]], indices: Sequence[int],
                 name: str = "r_sc") -> np.ndarray:
    """Finite pair values ``name`` pooled over sessions ``indices``."""
    if not pairs_by_session:
        return np.array([])
    v = np.concatenate([np.asarray(pairs_by_session[i][name], dtype=float) for i in indices])
    return v[np.isfinite(v)]


def _pair_columns(row: dict[str, Any], data_pairs: dict[int, dict[str, Any]],
                  model_pairs: dict[int, dict[str, Any]], indices: Sequence[int],
                  n_boot: int, seed: int) -> None:
    notes = [row["notes"]] if row.get("notes") else []
    for short, (name, bins) in PAIR_PROPERTIES.items():
        d, m = pooled_pairs(data_pairs, indices, name), pooled_pairs(model_pairs, indices, name)
        row[f"mean_{name}_data"] = float(d.mean()) if d.size else float("nan")
        row[f"mean_{name}_model"] = float(m.mean()) if m.size else float("nan")
        row[f"n_pairs_data_{name}"] = int(d.size)
        row[f"n_pairs_model_{name}"] = int(m.size)
        _put_ks(row, short, ks_compare(m, d, bins, n_bootstrap=n_boot, seed=seed), notes)
    row["notes"] = "; ".join(notes)


def _put_ks(row: dict[str, Any], short: str, res: dict[str, Any], notes: list[str]) -> None:
    """The ``ks_similarity_<short>`` columns (raw, ceiling, ceiled) of one ``ks_compare`` result
    into ``row``; its reason, if any, appended to ``notes``."""
    row[f"ks_similarity_{short}"] = res["raw"]
    row[f"ks_similarity_{short}_ceiling"] = res["ceiling"]
    row[f"ks_similarity_{short}_ceiled"] = res["ceiled"]
    if res["reason"]:
        notes.append(f"ks_{short}: {res['reason']}")


def _ks_columns(row: dict[str, Any], data_vals: dict[str, np.ndarray],
                model_vals: dict[str, np.ndarray], n_boot: int, seed: int) -> None:
    notes = []
    row["n_responsive_data"] = int(data_vals["n"])
    row["n_responsive_model"] = int(model_vals["n"])
    row["median_peak_evoked_data"] = nanmedian(data_vals["peak_evoked_hz"])
    row["median_peak_evoked_model"] = nanmedian(model_vals["peak_evoked_hz"])
    for short, (prop, bins) in PROPERTIES.items():
        _put_ks(row, short, ks_compare(model_vals[prop], data_vals[prop], bins,
                                       n_bootstrap=n_boot, seed=seed), notes)
    row["notes"] = "; ".join(notes)


def gather(props_by_session: dict[int, dict[str, np.ndarray]], indices: Sequence[int]
           ) -> dict[str, Any]:
    """Responsive units' property values pooled over sessions ``indices`` (and their number)."""
    out: dict[str, Any] = {"n": 0}
    for prop in [p for p, _ in PROPERTIES.values()] + ["peak_evoked_hz"]:
        out[prop] = np.concatenate([responsive_values(props_by_session[i], prop) for i in indices])
    out["n"] = int(sum(int(props_by_session[i]["responsive"].sum()) for i in indices))
    return out


def _base_row(cand: Candidate) -> dict[str, Any]:
    return {"model": cand.key, "label": cand.label, "kind": cand.kind,
            "ms_per_step": cand.fit["ms_per_step"], "delay_ms": cand.fit["delay_ms"],
            "contrast_gain": cand.fit["contrast_gain"]}


def _session_rows(cand, data, per_session, data_props, model_props, n_boot, seed,
                  data_pairs=None, model_pairs=None):
    rows = []
    for s in data:
        p = per_session[s.index]
        row = {**_base_row(cand), "session": s.index, "n_units": s.n_units,
               "predictivity_raw": p["raw"], "ceiling": p["ceiling"],
               "predictivity_ceiled": p["ceiled"]}
        _ks_columns(row, gather(data_props, [s.index]), gather(model_props, [s.index]),
                    n_boot, seed)
        _pair_columns(row, data_pairs or {}, model_pairs or {}, [s.index], n_boot, seed)
        rows.append(row)
    return rows


def _summary_row(cand, data, per_session, data_props, model_props, n_boot, seed,
                 data_pairs=None, model_pairs=None):
    idx = [s.index for s in data]
    row = {**_base_row(cand), "session": "all", "n_units": int(sum(s.n_units for s in data)),
           "predictivity_raw": nanmedian([per_session[i]["raw"] for i in idx]),
           "ceiling": nanmedian([per_session[i]["ceiling"] for i in idx]),
           "predictivity_ceiled": nanmedian([per_session[i]["ceiled"] for i in idx])}
    _ks_columns(row, gather(data_props, idx), gather(model_props, idx), n_boot, seed)
    _pair_columns(row, data_pairs or {}, model_pairs or {}, idx, n_boot, seed)
    row["notes"] = ("medians over sessions (predictivity); KS on units (pairs) pooled over "
                    "sessions"
                    + ("; " + row["notes"] if row["notes"] else ""))
    return row


def _prop_rows(source: str, session: int, props: dict[str, np.ndarray], ids) -> list[dict]:
    n = props["responsive"].size
    keys = [k for k in props if k != "responsive"]
    return [{"source": source, "session": session,
             "neuron": ids[j] if ids is not None else j,
             "responsive": bool(props["responsive"][j]),
             **{k: props[k][j] for k in keys}} for j in range(n)]


def _winner(summary: list[dict], rows: list[dict]) -> dict[str, Any]:
    scored = [r for r in summary if np.isfinite(r["predictivity_ceiled"])]
    if not scored:
        return {"model": None, "reason": "no finite ceiled predictivity"}
    ranked = sorted(scored, key=lambda r: -r["predictivity_ceiled"])
    top = ranked[0]
    res: dict[str, Any] = {
        "model": top["model"], "label": top["label"],
        "criterion": "highest median over sessions of predictivity_ceiled",
        "predictivity_ceiled": top["predictivity_ceiled"],
        "ranking": [{"model": r["model"], "predictivity_ceiled": r["predictivity_ceiled"],
                     "predictivity_raw": r["predictivity_raw"]} for r in ranked]}
    if len(ranked) > 1:
        second = ranked[1]
        per = {}
        for r in rows:
            if r["session"] != "all" and r["model"] in (top["model"], second["model"]):
                per.setdefault(r["session"], {})[r["model"]] = r["predictivity_ceiled"]
        diffs = np.array([v[top["model"]] - v[second["model"]] for v in per.values()
                          if len(v) == 2], dtype=float)
        diffs = diffs[np.isfinite(diffs)]
        res.update({
            "runner_up": second["model"],
            "margin_ceiled": top["predictivity_ceiled"] - second["predictivity_ceiled"],
            "ratio_ceiled": (top["predictivity_ceiled"] / second["predictivity_ceiled"]
                             if second["predictivity_ceiled"] > 0 else None),
            "margin_raw": top["predictivity_raw"] - second["predictivity_raw"],
            "sessions_won_vs_runner_up": int((diffs > 0).sum()),
            "sessions_compared": int(diffs.size),
            "median_session_difference": float(np.median(diffs)) if diffs.size else None,
        })
    return res
