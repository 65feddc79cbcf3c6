"""Scores of the comparison: cross-validated predictivity and single-unit properties.

The same code runs on recorded units and model neurons (:func:`unit_properties`);
distributions are compared with Brain-Score's KS similarity (:func:`ks_compare`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .protocol import (
    BASELINE_WINDOW_MS,
    C50_MIN_CONTRASTS,
    FANO_MIN_COUNT,
    FANO_WINDOW_MS,
    LATENCY,
    LATENCY_SEARCH_MS,
    MIN_VALUES,
    RSC_MIN_RATE_HZ,
    RSC_MIN_TRIALS,
    TUNING_WINDOW_MS,
)

__all__ = ["ceiled", "contrast_measures", "ks_compare", "mean_ci", "n_folds_of", "nanmedian",
           "pair_correlations", "predictivity", "responsive_values", "unit_properties"]


def predictivity(features: np.ndarray, targets: np.ndarray, contrast: np.ndarray, *,
                 n_folds: int, seed: int, inner_folds: int = 5):
    """Cross-validated ridge over conditions.

    ``features`` (cond, feature, bin) and ``targets`` (cond, unit, bin); samples are
    condition x bin, all bins of a condition on the same side of every split.
    """
    from neurofond.analysis import cross_validated_predictivity

    n_c, _, nb = features.shape
    x = features.transpose(0, 2, 1).reshape(n_c * nb, -1).astype(np.float64)
    sd = x.std(axis=0)
    x = x[:, sd > 1e-9 * max(float(sd.max()), 1e-30)]
    if x.shape[1] == 0:
        x = np.zeros((n_c * nb, 1))
    x = x - x.mean(axis=0)
    scale = float(x.std())
    x = x / scale if scale > 0 else x
    y = targets.transpose(0, 2, 1).reshape(n_c * nb, -1)
    groups = np.repeat(np.arange(n_c), nb)
    labels = np.unique(contrast, return_inverse=True)[1]
    return cross_validated_predictivity(x, y, conditions=groups, model="ridge",
                                        model_params={"inner_folds": int(inner_folds)},
                                        kfold=True, n_splits=int(n_folds), seed=seed + 1,
                                        stratify=labels)


def n_folds_of(sess: Any, n_folds: int | None) -> int:
    """``n_folds``, or the session's number of orientations when None."""
    return int(n_folds) if n_folds is not None else sess.n_orientations


def nanmedian(x: Any) -> float:
    """Median of the finite values (NaN when there are none)."""
    v = np.asarray(x, dtype=float).ravel()
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else float("nan")


def ceiled(raw: float, ceiling: float) -> float:
    """``max(raw, 0)**2 / ceiling`` (Brain-Score); NaN without a finite positive ceiling."""
    from neurofond.analysis import ceiled_score

    if not (np.isfinite(raw) and np.isfinite(ceiling) and ceiling > 0):
        return float("nan")
    return float(ceiled_score(max(raw, 0.0), ceiling))


def _even_orientations(ori: np.ndarray) -> bool:
    u = np.unique(np.mod(ori, 180.0))
    return u.size >= 3 and np.allclose(np.diff(u), 180.0 / u.size)


def unit_properties(resp, fano_counts: np.ndarray, *, threshold_hz: float) -> dict[str, np.ndarray]:
    """Per-neuron properties of a Responses array (data or model), see the module docstring.

    ``resp``: (trial, stimulus, neuron, time) counts with ``orientation`` and ``contrast``
    stimulus coordinates, 10-ms bins covering -200..500 ms; ``fano_counts``: (trial,
    stimulus, neuron) counts in the 0-500 ms window.
    """
    import xarray as xr

    from neurofond.analysis import (
        fano_factor,
        orientation_selectivity,
        response_latency,
        tuning_curve,
    )
    from neurofond.responses import make_responses

    from ..responses import Window

    ori = np.asarray(resp["orientation"].values, dtype=float)
    con = np.asarray(resp["contrast"].values, dtype=float)
    c_lo, c_hi = float(con.min()), float(con.max())
    vals = np.asarray(resp.values, dtype=np.float64)

    def rate(t0, t1):  # trial-averaged rate (stimulus, neuron), Hz; the Window rule
        window = Window(t0, t1)
        with np.errstate(invalid="ignore"):
            return (np.nanmean(window.counts(resp), axis=0) * 1000.0
                    / window.covered_ms(resp))

    evoked = rate(*TUNING_WINDOW_MS)
    base = np.nanmean(rate(*BASELINE_WINDOW_MS), axis=0)
    responsive = np.nanmax(evoked, axis=0) - base > threshold_hz

    curve = tuning_curve(resp, "orientation", window_ms=TUNING_WINDOW_MS,
                         where={"contrast": c_hi})
    curve = xr.DataArray(np.clip(np.nan_to_num(curve.values), 0.0, None), dims=curve.dims,
                         coords={"orientation": curve["orientation"].values})
    sel = orientation_selectivity(curve, smoothing="hanning" if _even_orientations(ori) else None)

    fano_resp = make_responses(fano_counts[..., None], bin_ms=FANO_WINDOW_MS[1] - FANO_WINDOW_MS[0],
                               stimulus_coords={"orientation": ori, "contrast": con},
                               allow_nan=True, time_start_ms=FANO_WINDOW_MS[0])
    ff = fano_factor(fano_resp, return_stats=True)
    f_val = np.asarray(ff["fano_factor"].values, dtype=float)
    f_ok = np.asarray(ff["mean_count"].values, dtype=float) >= FANO_MIN_COUNT
    with np.errstate(invalid="ignore"):
        n_ok = (f_ok & np.isfinite(f_val)).sum(0)
        fano = np.where(n_ok > 0, np.nansum(np.where(f_ok, f_val, 0.0), 0) / np.maximum(n_ok, 1),
                        np.nan)

    lat = response_latency(resp, BASELINE_WINDOW_MS, search_window_ms=LATENCY_SEARCH_MS,
                           **LATENCY)
    onset = np.asarray(lat["onset_ms"].values, dtype=float)  # (stimulus, neuron)
    levels = np.asarray(curve["orientation"].values, dtype=float)
    pref = levels[np.argmax(curve.values, axis=0)]
    n = vals.shape[2]
    cindex, c50 = contrast_measures(evoked, base, ori, con, pref)
    lo_on, hi_on = np.full(n, np.nan), np.full(n, np.nan)
    for j in range(n):
        for c, dest in ((c_lo, lo_on), (c_hi, hi_on)):
            idx = np.flatnonzero(np.isclose(ori, pref[j]) & np.isclose(con, c))
            if idx.size:
                dest[j] = onset[idx[0], j]
    return {
        "responsive": responsive,
        "peak_evoked_hz": np.nanmax(evoked, axis=0) - base,
        "baseline_hz": base,
        "preferred_orientation": pref,
        "circular_variance": np.asarray(sel["circular_variance"].values, dtype=float),
        "osi": np.asarray(sel["osi"].values, dtype=float),
        "bandwidth": np.asarray(sel["bandwidth"].values, dtype=float),
        "fano": fano,
        "onset_low_ms": lo_on,
        "onset_high_ms": hi_on,
        "latency_shift_ms": lo_on - hi_on,
        "contrast_index": cindex,
        "c50": c50,
    }


def contrast_measures(evoked: np.ndarray, base: np.ndarray, ori: np.ndarray, con: np.ndarray,
                      pref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Contrast response at the preferred orientation: a two-contrast index and the c50.

    Parameters
    ----------
    evoked : ndarray (stimulus, neuron)
        Trial-averaged rate in the tuning window (spikes/s or activation/s).
    base : ndarray (neuron,)
        Baseline rate (pre-onset window).
    ori, con : ndarray (stimulus,)
        Orientation (deg) and contrast (fraction) of each condition.
    pref : ndarray (neuron,)
        Preferred orientation (of the highest-contrast tuning curve).

    Returns
    -------
    contrast_index : ndarray (neuron,)
        ``(R_high - R_low) / (R_high + R_low)`` with ``R_c = max(rate(pref, c) - baseline,
        0)`` at the highest and lowest contrast shown: 0 = contrast-invariant (saturated)
        response, 1 = no evoked response at the low contrast, < 0 = a larger response at the
        low contrast. NaN with a single contrast or when both R are 0. With two contrasts
        only (the Ecker 2010 static release) it is what the contrast-response function
        (Albrecht & Hamilton 1982 J Neurophysiol 48:217; Sclar, Maunsell & Lennie 1990
        Vision Res 30:1) allows to measure; it is a normalised difference of the two points
        of that function, in the form of the usual modulation indices.
    c50 : ndarray (neuron,)
        Semi-saturation contrast of a Naka-Rushton fit
        (:func:`neurofond.analysis.fit_naka_rushton`; Naka & Rushton 1966) of the
        preferred-orientation rates over all contrasts; only with at least
        :data:`~neurofond.compare.protocol.C50_MIN_CONTRASTS` distinct contrasts, and NaN
        where the fit is flagged (not converged, at a bound, or c50 outside the tested
        contrasts).
    """
    levels = np.unique(con)
    n = evoked.shape[1]
    cindex, c50 = np.full(n, np.nan), np.full(n, np.nan)
    if levels.size < 2:
        return cindex, c50
    # y[c, j]: mean rate of neuron j at its preferred orientation and contrast c
    y = np.full((levels.size, n), np.nan)
    for j in range(n):
        at_pref = np.isclose(ori, pref[j])
        for k, c in enumerate(levels):
            idx = np.flatnonzero(at_pref & np.isclose(con, c))
            if idx.size:
                y[k, j] = np.nanmean(evoked[idx, j])
    with np.errstate(invalid="ignore", divide="ignore"):
        hi = np.clip(y[-1] - base, 0.0, None)
        lo = np.clip(y[0] - base, 0.0, None)
        total = hi + lo
        cindex = np.where(total > 0, (hi - lo) / np.where(total > 0, total, 1.0), np.nan)
    if levels.size >= C50_MIN_CONTRASTS:
        from neurofond.analysis.contrast import fit_naka_rushton

        fit = fit_naka_rushton(levels, y)
        ok = ~np.asarray(fit["flagged"].values, dtype=bool)
        c50 = np.where(ok, np.asarray(fit["c50"].values, dtype=float), np.nan)
    return cindex, c50


def pair_correlations(counts: np.ndarray, orientation: np.ndarray, contrast: np.ndarray, *,
                      spiking: bool) -> dict[str, Any]:
    """Noise correlations r_sc of every pair of neurons recorded / simulated together.

    Parameters
    ----------
    counts : ndarray (trial, stimulus, neuron)
        Counts in the Fano window (0-500 ms re onset; NaN = missing trial), or summed
        activations for candidates without spikes.
    orientation, contrast : ndarray (stimulus,)
        The conditions.
    spiking : bool
        Spike counts: the rate criterion (:data:`~neurofond.compare.protocol.RSC_MIN_RATE_HZ`)
        applies. Activations (Gaussian-family VAEs): no rate criterion (``min_rate_hz`` 0,
        as in the survey; r_sc is invariant to per-neuron affine rescaling).

    Returns
    -------
    dict
        ``r_sc`` (distinct pairs i < j in ``numpy.triu_indices(n_neurons, 1)`` order, NaN
        where excluded), ``exclusion`` (code per pair,
        :data:`neurofond.analysis.correlations.EXCLUSION_CODES`), ``n_neurons``,
        ``min_trials`` and ``min_rate_hz`` used.

    Notes
    -----
    :func:`neurofond.analysis.correlations.noise_correlations` on these counts (the same
    call on data and models): Pearson correlation of the counts across repeats of a
    condition, averaged over the conditions where both neurons have >= ``min_trials``
    trials and the rate criterion (trial-weighted). Zohary, Shadlen & Newsome 1994 Nature
    370:140; Ecker et al. 2010 Science 327:584.
    """
    from neurofond.analysis.correlations import noise_correlations
    from neurofond.responses import make_responses

    width = FANO_WINDOW_MS[1] - FANO_WINDOW_MS[0]
    kw: dict[str, Any] = {} if spiking else {"units": "activation per window", "signed": True}
    resp = make_responses(np.asarray(counts, dtype=np.float64)[..., None], bin_ms=width,
                          stimulus_coords={"orientation": orientation, "contrast": contrast},
                          time_start_ms=FANO_WINDOW_MS[0], allow_nan=True, **kw)
    rate = RSC_MIN_RATE_HZ if spiking else 0.0
    nc = noise_correlations(resp, FANO_WINDOW_MS, min_trials=RSC_MIN_TRIALS, min_rate_hz=rate)
    iu = np.triu_indices(resp.sizes["neuron"], k=1)
    return {"r_sc": np.asarray(nc["r_sc"].values, dtype=float)[iu],
            "exclusion": np.asarray(nc["exclusion"].values)[iu],
            "n_neurons": int(resp.sizes["neuron"]),
            "min_trials": RSC_MIN_TRIALS, "min_rate_hz": rate}


def mean_ci(values: np.ndarray, *, n_bootstrap: int, seed: int,
            grid: float = 1e-4, exact_max: int = 50_000) -> dict[str, Any]:
    """Mean of the finite values with a 95 % percentile bootstrap CI (resampling values).

    Above ``exact_max`` values (the model's pairs: up to ~10^6) the resampling draws bin
    counts of the values on a ``grid`` (multinomial, equivalent to resampling the values
    rounded to the grid: the CI is off by at most ``grid / 2``); the mean is exact.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    out: dict[str, Any] = {"mean": float(v.mean()) if v.size else float("nan"),
                           "sem": (float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1
                                   else float("nan")),
                           "n": int(v.size), "ci95": [None, None]}
    if v.size < 2 or n_bootstrap < 1:
        return out
    rng = np.random.default_rng(seed)
    if v.size <= exact_max:
        chunk = max(1, 2_000_000 // v.size)
        boot = np.concatenate([v[rng.integers(0, v.size, (min(chunk, n_bootstrap - a), v.size))
                                 ].mean(1) for a in range(0, n_bootstrap, chunk)])
    else:
        centers, counts = np.unique(np.round(v / grid) * grid, return_counts=True)
        draws = rng.multinomial(v.size, counts / v.size, size=n_bootstrap)
        boot = draws @ centers / v.size
    out["ci95"] = [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))]
    return out


def ks_compare(model_vals: np.ndarray, data_vals: np.ndarray, bins: np.ndarray, *,
               n_bootstrap: int, seed: int) -> dict[str, Any]:
    """Raw KS similarity, ceiling and ceiled score, or NaN with the reason."""
    from neurofond.analysis import ks_similarity_bootstrap

    m = np.asarray(model_vals, dtype=float)
    d = np.asarray(data_vals, dtype=float)
    m, d = m[np.isfinite(m)], d[np.isfinite(d)]
    if d.size < MIN_VALUES or m.size < MIN_VALUES:
        return {"raw": float("nan"), "ceiling": float("nan"), "ceiled": float("nan"),
                "n_data": int(d.size), "n_model": int(m.size),
                "reason": f"too few values (data {d.size}, model {m.size}; need {MIN_VALUES})"}
    ds = ks_similarity_bootstrap(m, d, bins, n_bootstrap=n_bootstrap, seed=seed)
    return {"raw": float(ds["raw"]), "ceiling": float(ds["ceiling"]),
            "ceiled": float(ds["score"]), "n_data": int(d.size), "n_model": int(m.size),
            "reason": ""}


def responsive_values(props: dict[str, np.ndarray], name: str) -> np.ndarray:
    """Values of property ``name`` of the responsive units / neurons."""
    return np.asarray(props[name], dtype=float)[props["responsive"]]
