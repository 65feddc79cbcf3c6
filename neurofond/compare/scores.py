"""Scores of the comparison: cross-validated predictivity and single-unit properties.

The same code runs on recorded units and model neurons (:func:`unit_properties`);
distributions are compared with Brain-Score's KS similarity (:func:`ks_compare`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .protocol import (
    BASELINE_WINDOW_MS,
    FANO_MIN_COUNT,
    FANO_WINDOW_MS,
    LATENCY,
    LATENCY_SEARCH_MS,
    MIN_VALUES,
    TUNING_WINDOW_MS,
)

__all__ = ["ceiled", "ks_compare", "n_folds_of", "nanmedian", "predictivity",
           "responsive_values", "unit_properties"]


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
    }


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
