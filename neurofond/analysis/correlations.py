"""Spike-count correlations between neurons: noise correlations (r_sc) and signal correlations.

Noise correlations are computed per stimulus condition on the counts of a window
(:class:`~neurofond.responses.Window` rule), then averaged over conditions; signal
correlations between trial-averaged responses across conditions. Both are vectorised
(matrix products over all pairs at once; 10^3 neurons x 100 trials x 100 conditions in
about a second, see ``benchmarks/bench_correlations.py``). On one condition without missing
trials the noise correlation equals
:func:`elephant.spike_train_correlation.correlation_coefficient` on the same binned counts.

Nothing is dropped silently: every (condition, neuron) left out of a noise correlation and
every pair without a value carries an exclusion code (:data:`EXCLUSION_CODES`), counted in
the attrs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurofond.analysis._base import (
    _check_responses,
    _coords_on,
    _provenance,
    _where_mask,
    _window_counts,
)
from neurofond.responses import Window, holds_spike_counts, time_edges_ms

__all__ = [
    "EXCLUSION_CODES",
    "noise_correlations",
    "signal_correlations",
    "correlation_pairs",
    "noise_correlation_by_signal",
    "noise_correlation_by_distance",
    "noise_correlations_over_time",
]

#: Exclusion codes of (condition, neuron) entries and of pairs.
EXCLUSION_CODES: dict[int, str] = {
    0: "included",
    1: "too_few_trials",
    2: "below_min_rate",
    3: "constant_counts",
    4: "too_few_common_trials",
    5: "different_sessions",
    6: "too_few_conditions",
}
_CODES_TEXT = "; ".join(f"{k}: {v}" for k, v in EXCLUSION_CODES.items())
#: Largest result of ``per_condition=True`` (elements of the stimulus x neuron x neuron array).
MAX_PER_CONDITION_ELEMENTS = 2 * 10**8
_CHUNK_ELEMENTS = 8 * 10**6


# --------------------------------------------------------------------------- helpers


def _check_int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def _check_rate(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"min_rate_hz: expected a rate >= 0 in spikes/s, got {value!r}") from None
    if isinstance(value, bool) or not np.isfinite(out) or out < 0:
        raise ValueError(f"min_rate_hz: expected a rate >= 0 in spikes/s, got {value!r}")
    return out


def _pair_coords(obj: xr.DataArray) -> dict[str, tuple[str, np.ndarray]]:
    """Neuron coordinates on ``neuron`` and, suffixed ``_other``, on ``neuron_other``."""
    coords = _coords_on(obj, "neuron")
    for name, (_, values) in list(coords.items()):
        coords[f"{name}_other"] = ("neuron_other", values)
    return coords


def _session_block(responses: xr.DataArray) -> np.ndarray | None:
    """``same[i, j]``: neurons i and j come from the same session (None: one session)."""
    if "session" not in responses.coords or responses["session"].dims != ("neuron",):
        return None
    sess = np.asarray(responses["session"].values)
    if np.unique(sess).size < 2:
        return None
    return sess[:, None] == sess[None, :]


def _dominant_reason(counts: dict[int, np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Code with the largest count per pair (ties: the lower code); 0 where all counts are 0."""
    best = np.zeros(shape, dtype=np.int8)
    top = np.zeros(shape)
    for code in sorted(counts):
        c = counts[code]
        better = c > top
        best[better] = code
        top = np.where(better, c, top)
    return best


def _reason_attrs(code: np.ndarray, prefix: str) -> dict[str, int]:
    """Counts of distinct pairs (i < j) per exclusion code."""
    iu = np.triu_indices(code.shape[0], k=1)
    vals = code[iu]
    out = {f"{prefix}n_pairs": int(vals.size)}
    for k, name in EXCLUSION_CODES.items():
        n = int(np.sum(vals == k))
        if n or k == 0:
            out[f"{prefix}n_pairs_{name}"] = n
    return out


def _masked_corr(x: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pearson r over the observations valid for both columns of ``x`` (obs, var).

    Returns r, the number of common observations and a flag: one of the two columns is
    constant over the common observations (r undefined).
    """
    mf = m.astype(np.float64)
    n_own = mf.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.where(n_own > 0, np.where(m, x, 0.0).sum(0) / np.maximum(n_own, 1), 0.0)
    x0 = np.where(m, x - mu, 0.0)  # centred on each column's own mean (less cancellation)
    n = mf.T @ mf
    sx = x0.T @ mf  # sum of x_i over observations valid for j
    sxx = (x0 * x0).T @ mf
    sxy = x0.T @ x0
    with np.errstate(invalid="ignore", divide="ignore"):
        nn = np.maximum(n, 1)
        cov = sxy - sx * sx.T / nn
        vx = sxx - sx * sx / nn
        vy = vx.T
        scale = np.maximum(sxx, sxx.T)
        const = (vx <= 1e-12 * scale) | (vy <= 1e-12 * scale)
        r = cov / np.sqrt(np.where(const, np.nan, vx * vy))
    return np.clip(r, -1.0, 1.0), n, const


# --------------------------------------------------------------------------- noise


def _condition_codes(
    counts: np.ndarray, duration_ms: float, min_trials: int, min_rate_hz: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (condition, neuron): exclusion code, valid trials, mean count."""
    valid = ~np.isnan(counts)
    n = valid.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.where(valid, counts, 0.0).sum(0) / np.maximum(n, 1), np.nan)
    hi = np.where(valid, counts, -np.inf).max(0)
    lo = np.where(valid, counts, np.inf).min(0)
    rate = mean * (1000.0 / duration_ms)
    code = np.zeros(n.shape, dtype=np.int8)
    code[hi <= lo] = 3
    if min_rate_hz > 0:  # no rate criterion at 0 (signed activations can have mean < 0)
        code[rate < min_rate_hz] = 2
    code[n < min_trials] = 1
    return code, n, mean


def noise_correlations(
    responses: xr.DataArray,
    window_ms: Sequence[float] | Window | None = None,
    *,
    min_trials: int = 10,
    min_rate_hz: float = 0.0,
    weighting: str = "trials",
    where: Mapping[str, Any] | None = None,
    per_condition: bool = False,
) -> xr.Dataset:
    """Spike-count noise correlations r_sc between all pairs of neurons.

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses``, dims ``(trial, stimulus, neuron, time)``; each stimulus is one
        condition. Neurons must have been recorded simultaneously (same trials); with a
        ``session`` coordinate on ``neuron``, pairs from different sessions get no value
        (code ``different_sessions``).
    window_ms : (float, float) or Window, optional
        Counting window (:class:`~neurofond.responses.Window` rule: whole bins inside it; an
        edge cutting a bin or a window outside the data raises). Default: every bin.
    min_trials : int
        A neuron enters a condition only with at least this many valid trials (default 10);
        a pair of neurons with different missing trials needs as many common trials.
    min_rate_hz : float
        A neuron enters a condition only if its mean rate in the window there is at least
        this (spikes/s; default 0). Only for spike counts.
    weighting : {"trials", "equal"}
        Average of the per-condition correlations weighted by the number of trials
        (default; equal to the Pearson correlation of the per-condition z-scores pooled over
        conditions) or with equal weights.
    where : mapping, optional
        Only the conditions whose stimulus coordinates take these values
        (:func:`~neurofond.responses.select_stimuli` rule).
    per_condition : bool
        Also return ``r_sc_condition`` (stimulus, neuron, neuron_other); refused above
        :data:`MAX_PER_CONDITION_ELEMENTS` elements.

    Returns
    -------
    xarray.Dataset
        ``r_sc`` (neuron, neuron_other; symmetric, dimensionless Pearson r; diagonal 1 for
        a neuron included in at least one condition, else NaN), ``n_conditions`` (conditions
        averaged per pair), ``n_trials`` (trials used per pair, summed over conditions),
        ``exclusion`` (code per pair: 0 included, otherwise the reason that excluded the
        pair in most conditions, see :data:`EXCLUSION_CODES`), ``condition_exclusion``
        (code per stimulus and neuron) and ``mean_count`` (stimulus, neuron). Neuron
        coordinates are on ``neuron`` and, suffixed ``_other``, on ``neuron_other``. Attrs:
        provenance, ``exclusion_codes`` and the number of distinct pairs per code.

    Raises
    ------
    ValueError
        If ``responses`` is invalid, the window lies outside the data or cuts a bin,
        ``where`` selects nothing, ``min_trials`` < 2, ``min_rate_hz`` < 0 (or > 0 on
        activations that are not spike counts), or ``weighting`` is unknown.

    Notes
    -----
    For each condition :math:`c` the counts :math:`N_{ic}` of neuron :math:`i` in the window
    are z-scored over trials, :math:`z = (N - \\bar N_c) / s_c`, and
    :math:`r_{ij,c} = \\langle z_i z_j \\rangle`, the Pearson correlation of the counts
    across repeated presentations of the same stimulus. The conditions where both neurons
    pass the criteria are averaged (weights :math:`n_c` or 1), so that stimulus-driven
    covariation (signal correlation) does not enter (Zohary, Shadlen & Newsome 1994 Nature
    370:140; Bair, Zohary & Newsome 2001 J Neurosci 21:1676; Kohn & Smith 2005 J Neurosci
    25:3661; Ecker et al. 2010 Science 327:584, who report mean r_sc = 0.005 +/- 0.004 in
    awake macaque V1). A trial is missing for a neuron when a bin of its window is NaN;
    missing trials are left out per neuron, and a pair with different missing trials uses
    the trials valid for both. A neuron whose counts are constant in a condition has no
    correlation there (code ``constant_counts``). r_sc is unchanged by any per-neuron
    affine rescaling of the counts with positive slope, so it applies unchanged to the
    activations of Gaussian-family models.

    Examples
    --------
    >>> import numpy as np
    >>> from neurofond.responses import make_responses
    >>> rng = np.random.default_rng(0)
    >>> shared = rng.poisson(3.0, (200, 4, 1, 1))
    >>> counts = shared + rng.poisson(3.0, (200, 4, 2, 1))
    >>> nc = noise_correlations(make_responses(counts, bin_ms=100.0))
    >>> round(float(nc["r_sc"][0, 1]), 1)  # cov 3 / var 6
    0.5
    """
    _check_responses(responses)
    min_trials = _check_int(min_trials, "min_trials", 2)
    min_rate_hz = _check_rate(min_rate_hz)
    if min_rate_hz > 0 and not holds_spike_counts(responses):
        raise ValueError(
            f"min_rate_hz: responses hold {responses.attrs.get('units')!r}, not spike counts; "
            "a rate criterion needs spike counts (use min_rate_hz=0)"
        )
    if weighting not in ("trials", "equal"):
        raise ValueError(f"weighting: expected 'trials' or 'equal', got {weighting!r}")
    mask = _where_mask(responses, where)
    if not mask.any():
        raise ValueError(f"where: {where!r} selects no stimulus")
    counts, duration, idx = _window_counts(responses, window_ms)
    counts = counts[:, mask]  # (trial, condition, neuron)
    n_trial, n_cond, n_neur = counts.shape
    if per_condition and n_cond * n_neur * n_neur > MAX_PER_CONDITION_ELEMENTS:
        raise ValueError(
            f"per_condition: {n_cond} x {n_neur} x {n_neur} values exceed "
            f"{MAX_PER_CONDITION_ELEMENTS}; select conditions with where= or neurons"
        )
    code, n_valid, mean = _condition_codes(counts, duration, min_trials, min_rate_hz)
    inc = code == 0  # (condition, neuron)
    valid = ~np.isnan(counts)
    # a condition is "uniform" when every included neuron misses the same trials
    inc_valid = np.where(inc[None], valid, True)
    inc_any = np.where(inc[None], valid, False).any(2)
    uniform = ~(inc_any[..., None] & ~inc_valid).any(axis=(0, 2))

    shape = (n_neur, n_neur)
    r_sum = np.zeros(shape)
    w_sum = np.zeros(shape)
    n_conds = np.zeros(shape)
    n_tr = np.zeros(shape)
    reason_counts = {k: np.zeros(shape) for k in (1, 2, 3, 4)}
    per_cond = np.full((n_cond, n_neur, n_neur), np.nan) if per_condition else None

    # uniform conditions: z-scores, one matrix product per chunk of conditions
    cu = np.flatnonzero(uniform)
    if cu.size:
        x = counts[:, cu]  # (trial, cu, neuron)
        inc_u = inc[cu]
        n_u = n_valid[cu].astype(np.float64)
        mu = mean[cu]
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.sqrt(np.where(valid[:, cu], (x - mu) ** 2, 0.0).sum(0) / np.maximum(n_u, 1))
            z = np.where(valid[:, cu] & inc_u[None], (x - mu) / np.where(inc_u, sd, 1.0), 0.0)
        # weights: trials -> z z^T summed (pooled z-scores); equal -> divided by n_c
        w_c = n_u if weighting == "trials" else np.ones_like(n_u)
        scale = np.sqrt(np.where(inc_u, w_c / np.maximum(n_u, 1), 0.0))
        z *= scale[None]
        chunk = max(1, _CHUNK_ELEMENTS // max(1, n_trial * n_neur))
        for a in range(0, cu.size, chunk):
            zc = z[:, a : a + chunk].reshape(-1, n_neur)
            r_sum += zc.T @ zc
            if per_cond is not None:
                for k in range(a, min(a + chunk, cu.size)):
                    zk = z[:, k] / np.where(scale[k] > 0, scale[k], 1.0)
                    rk = (zk.T @ zk) / max(n_u[k].max(), 1.0)
                    both = inc_u[k][:, None] & inc_u[k][None, :]
                    per_cond[cu[k]] = np.where(both, np.clip(rk, -1, 1), np.nan)
        fi = inc_u.astype(np.float64)
        w_sum += (fi * w_c).T @ fi
        n_conds += fi.T @ fi
        n_tr += (fi * n_u).T @ fi
        for k in reason_counts:
            b = (code[cu] == k).astype(np.float64)
            if not b.any():
                continue
            a_k = b.sum(0)
            reason_counts[k] += a_k[:, None] + a_k[None, :] - b.T @ b

    # conditions with different missing trials across neurons: pairwise-complete trials
    for c in np.flatnonzero(~uniform):
        m = valid[:, c] & inc[c][None]
        r, n, const = _masked_corr(counts[:, c], m)
        both = inc[c][:, None] & inc[c][None, :]
        few = both & (n < min_trials)
        flat = both & ~few & const
        ok = both & ~few & ~flat & np.isfinite(r)
        w = n if weighting == "trials" else np.ones(shape)
        r_sum += np.where(ok, w * np.nan_to_num(r), 0.0)
        w_sum += np.where(ok, w, 0.0)
        n_conds += ok
        n_tr += np.where(ok, n, 0.0)
        if per_cond is not None:
            per_cond[c] = np.where(ok, r, np.nan)
        for k in (1, 2, 3):
            b = code[c] == k
            reason_counts[k] += b[:, None] | b[None, :]
        reason_counts[3] += flat
        reason_counts[4] += few

    with np.errstate(invalid="ignore", divide="ignore"):
        r_sc = np.where(w_sum > 0, r_sum / np.where(w_sum > 0, w_sum, 1.0), np.nan)
    r_sc = np.clip(0.5 * (r_sc + r_sc.T), -1.0, 1.0)  # exact symmetry
    exclusion = np.where(n_conds > 0, 0, _dominant_reason(reason_counts, shape)).astype(np.int8)
    exclusion[(n_conds == 0) & (exclusion == 0)] = 1
    same = _session_block(responses)
    if same is not None:
        r_sc[~same] = np.nan
        n_conds[~same] = 0
        n_tr[~same] = 0
        exclusion[~same] = 5
        if per_cond is not None:
            per_cond[:, ~same] = np.nan
    diag = np.arange(n_neur)
    has = n_conds[diag, diag] > 0
    r_sc[diag, diag] = np.where(has, 1.0, np.nan)

    starts, ends = time_edges_ms(responses)
    attrs = _provenance(
        "correlations.noise_correlations",
        responses,
        window_ms=(float(starts[idx].min()), float(ends[idx].max())),
        min_trials=min_trials,
        min_rate_hz=min_rate_hz,
        weighting=weighting,
        where=where,
    )
    attrs["exclusion_codes"] = _CODES_TEXT
    attrs.update(_reason_attrs(exclusion, ""))
    attrs["n_condition_neurons_excluded"] = int(np.sum(code != 0))
    coords: dict[str, Any] = _pair_coords(responses)
    stim = {k: (d, v[mask]) for k, (d, v) in _coords_on(responses, "stimulus").items()}
    coords.update(stim)
    pair = ("neuron", "neuron_other")
    data: dict[str, Any] = {
        "r_sc": (pair, r_sc, {"units": "1", "long_name": "spike-count noise correlation"}),
        "n_conditions": (pair, n_conds.astype(np.int64)),
        "n_trials": (pair, np.rint(n_tr).astype(np.int64)),
        "exclusion": (pair, exclusion, {"codes": _CODES_TEXT}),
        "condition_exclusion": (("stimulus", "neuron"), code, {"codes": _CODES_TEXT}),
        "mean_count": (("stimulus", "neuron"), mean, {"units": "spikes per window"}),
    }
    if per_cond is not None:
        data["r_sc_condition"] = (("stimulus",) + pair, per_cond, {"units": "1"})
    return xr.Dataset(data, coords=coords, attrs=attrs)


# --------------------------------------------------------------------------- signal


def signal_correlations(
    responses: xr.DataArray,
    window_ms: Sequence[float] | Window | None = None,
    *,
    by: str | None = None,
    where: Mapping[str, Any] | None = None,
    min_conditions: int = 3,
) -> xr.Dataset:
    """Signal correlations: Pearson r between trial-averaged responses across conditions.

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses``; or a tuning curve (dims ``(<by>, neuron)``, e.g. from
        :func:`~neurofond.analysis.tuning_curve`) when ``by`` names its first dimension.
    window_ms : (float, float) or Window, optional
        Counting window (Window rule) for ``Responses``. Default: every bin.
    by : str, optional
        With ``Responses``: average trials per stimulus (default) or build the tuning
        curve over this stimulus coordinate (:func:`~neurofond.analysis.tuning_curve`,
        other parameters averaged). With a tuning curve: its condition dimension.
    where : mapping, optional
        Only these stimuli (``Responses`` only).
    min_conditions : int
        Fewer conditions with a value for both neurons gives NaN (code
        ``too_few_conditions``; default 3).

    Returns
    -------
    xarray.Dataset
        ``r_signal`` (neuron, neuron_other; symmetric; diagonal 1 where defined),
        ``n_conditions`` and ``exclusion`` (codes of :data:`EXCLUSION_CODES`:
        ``constant_counts`` for a flat mean response, ``too_few_conditions``), neuron
        coordinates as in :func:`noise_correlations`, provenance attrs.

    Raises
    ------
    ValueError
        If ``responses`` is neither a valid Responses array nor a tuning curve with a
        ``neuron`` dimension, or the window is invalid.

    Notes
    -----
    :math:`r_{signal,ij} = \\mathrm{corr}_c(\\bar N_{ic}, \\bar N_{jc})` over conditions
    :math:`c` of the mean responses (Bair, Zohary & Newsome 2001 J Neurosci 21:1676; Kohn &
    Smith 2005 J Neurosci 25:3661). Conditions without a valid trial (NaN) are left out per
    pair. Trial averages keep a share of the noise (bias towards r_sc / n_trials); the
    signal correlations of recorded and model neurons are comparable only at similar
    trial counts.

    Examples
    --------
    >>> import numpy as np
    >>> from neurofond.responses import make_responses
    >>> tc = np.array([[1.0, 2, 3, 4], [2, 4, 6, 8], [4, 3, 2, 1]]).T
    >>> r = make_responses(np.broadcast_to(tc[None, :, :, None], (2, 4, 3, 1)), bin_ms=10.0)
    >>> signal_correlations(r)["r_signal"].values[0].round(3).tolist()
    [1.0, 1.0, -1.0]
    """
    min_conditions = _check_int(min_conditions, "min_conditions", 2)
    if isinstance(responses, xr.DataArray) and "trial" not in responses.dims:
        if by is None or by not in responses.dims or "neuron" not in responses.dims:
            raise ValueError(
                "responses: a tuning curve needs by= naming its condition dimension and a "
                f"'neuron' dimension; got dims {getattr(responses, 'dims', None)}"
            )
        curve = responses.transpose(by, "neuron")
        tc = np.asarray(curve.values, dtype=np.float64)
        source = curve
        window = curve.attrs.get("window_ms")
    else:
        _check_responses(responses)
        if by is not None:
            from neurofond.analysis.tuning import tuning_curve

            curve = tuning_curve(responses, by, window_ms=window_ms, where=where)
            tc = np.asarray(curve.transpose(by, "neuron").values, dtype=np.float64)
            window = curve.attrs.get("window_ms")
        else:
            mask = _where_mask(responses, where)
            counts, _, idx = _window_counts(responses, window_ms)
            counts = counts[:, mask]
            valid = ~np.isnan(counts)
            n = valid.sum(0)
            with np.errstate(invalid="ignore", divide="ignore"):
                tc = np.where(n > 0, np.where(valid, counts, 0).sum(0) / np.maximum(n, 1),
                              np.nan)
            starts, ends = time_edges_ms(responses)
            window = (float(starts[idx].min()), float(ends[idx].max()))
        source = responses
    m = ~np.isnan(tc)
    r, n, const = _masked_corr(np.nan_to_num(tc), m)
    few = n < min_conditions
    exclusion = np.where(few, 6, np.where(const, 3, 0)).astype(np.int8)
    r = np.where(exclusion == 0, r, np.nan)
    r = 0.5 * (r + r.T)
    diag = np.arange(r.shape[0])
    r[diag, diag] = np.where(exclusion[diag, diag] == 0, 1.0, np.nan)
    attrs = _provenance(
        "correlations.signal_correlations",
        source,
        window_ms=window,
        by=by if by is not None else "stimulus",
        where=where,
        min_conditions=min_conditions,
    )
    attrs["exclusion_codes"] = _CODES_TEXT
    attrs.update(_reason_attrs(exclusion, ""))
    pair = ("neuron", "neuron_other")
    return xr.Dataset(
        {
            "r_signal": (pair, r, {"units": "1", "long_name": "signal correlation"}),
            "n_conditions": (pair, n.astype(np.int64)),
            "exclusion": (pair, exclusion, {"codes": _CODES_TEXT}),
        },
        coords=_pair_coords(source),
        attrs=attrs,
    )


# --------------------------------------------------------------------------- pairs, binning


_POSITION_COORDS = (("x_um", "y_um"), ("x_mm", "y_mm"), ("x_deg", "y_deg"))


def correlation_pairs(
    noise: xr.Dataset,
    signal: xr.Dataset | None = None,
    *,
    position: Sequence[str] | None = None,
    group: str | None = None,
) -> xr.Dataset:
    """Table of the distinct pairs (i < j) of a :func:`noise_correlations` result.

    Parameters
    ----------
    noise : xarray.Dataset
        From :func:`noise_correlations`.
    signal : xarray.Dataset, optional
        From :func:`signal_correlations` on the same neurons: adds ``r_signal``.
    position : sequence of str, optional
        Neuron coordinates giving a position (e.g. ``("x_um", "y_um")``): adds the
        Euclidean ``distance`` (units of the coordinates). Default: the first of
        ``x_um/y_um``, ``x_mm/y_mm``, ``x_deg/y_deg`` present, if any.
    group : str, optional
        A categorical neuron coordinate (e.g. ``"tetrode"``): adds ``same_<group>``.
        Default ``"tetrode"`` when present.

    Returns
    -------
    xarray.Dataset
        Over ``pair``: ``r_sc``, ``exclusion``, ``n_conditions``, ``i``, ``j`` (neuron
        positions), every neuron coordinate as ``<name>`` (neuron i) and ``<name>_other``
        (neuron j), optionally ``r_signal``, ``distance``, ``same_<group>``. Excluded pairs
        stay in the table (NaN ``r_sc`` and their code).

    Raises
    ------
    ValueError
        If ``signal`` has other neurons, or ``position`` / ``group`` name a missing
        neuron coordinate.
    """
    if not isinstance(noise, xr.Dataset) or "r_sc" not in noise:
        raise ValueError("noise: expected the Dataset of noise_correlations()")
    n = noise.sizes["neuron"]
    i, j = np.triu_indices(n, k=1)
    data: dict[str, Any] = {
        "r_sc": ("pair", np.asarray(noise["r_sc"].values)[i, j]),
        "exclusion": ("pair", np.asarray(noise["exclusion"].values)[i, j]),
        "n_conditions": ("pair", np.asarray(noise["n_conditions"].values)[i, j]),
        "i": ("pair", i),
        "j": ("pair", j),
    }
    coords: dict[str, Any] = {}
    for name, (_, values) in _coords_on(noise, "neuron").items():
        coords[name] = ("pair", values[i])
        coords[f"{name}_other"] = ("pair", values[j])
    if signal is not None:
        if signal.sizes.get("neuron") != n:
            raise ValueError(
                f"signal: {signal.sizes.get('neuron')} neurons, noise has {n}; compute both "
                "on the same responses"
            )
        data["r_signal"] = ("pair", np.asarray(signal["r_signal"].values)[i, j])
    if position is None:
        position = next((p for p in _POSITION_COORDS if all(c in noise.coords for c in p)),
                        None)
    if position is not None and len(position):
        missing = [c for c in position if c not in noise.coords]
        if missing:
            raise ValueError(f"position: no neuron coordinate {missing}")
        xy = np.stack([np.asarray(noise[c].values, dtype=float) for c in position], -1)
        data["distance"] = ("pair", np.sqrt(((xy[i] - xy[j]) ** 2).sum(-1)))
    if group is None and "tetrode" in noise.coords:
        group = "tetrode"
    if group is not None:
        if group not in noise.coords:
            raise ValueError(f"group: no neuron coordinate {group!r}")
        g = np.asarray(noise[group].values)
        data[f"same_{group}"] = ("pair", g[i] == g[j])
    attrs = dict(noise.attrs)
    attrs["position"] = _simple_seq(position or None)
    attrs["group"] = str(group)
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _simple_seq(value: Any) -> str:
    return "None" if value is None else ",".join(str(v) for v in value)


def _binned(x: np.ndarray, y: np.ndarray, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, SEM, median and count of ``y`` in bins of ``x`` (last bin closed)."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    k = np.searchsorted(edges, x, side="right") - 1
    k[x == edges[-1]] = edges.size - 2
    inside = (k >= 0) & (k < edges.size - 1)
    nb = edges.size - 1
    cnt = np.bincount(k[inside], minlength=nb).astype(float)
    s = np.bincount(k[inside], y[inside], minlength=nb)
    s2 = np.bincount(k[inside], y[inside] ** 2, minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt > 0, s / np.maximum(cnt, 1), np.nan)
        var = np.where(cnt > 1, (s2 - cnt * mean**2) / np.maximum(cnt - 1, 1), np.nan)
        sem = np.sqrt(np.maximum(var, 0.0) / cnt)
    return {"mean": mean, "sem": sem, "n": cnt.astype(np.int64),
            "outside": int(np.sum(~inside))}


def noise_correlation_by_signal(
    noise: xr.Dataset,
    signal: xr.Dataset,
    bins: Sequence[float] | int = 8,
) -> xr.Dataset:
    """Mean r_sc in bins of signal correlation (distinct pairs with both values).

    Parameters
    ----------
    noise, signal : xarray.Dataset
        From :func:`noise_correlations` and :func:`signal_correlations` on the same neurons.
    bins : int or sequence of float
        Number of equal bins over [-1, 1] (default 8) or explicit increasing edges.

    Returns
    -------
    xarray.Dataset
        Over ``signal_bin`` (coords ``bin_start``, ``bin_end``, ``bin_center``):
        ``mean_r_sc``, ``sem_r_sc`` (SD / sqrt(n)), ``n_pairs``; attrs count the pairs left
        out (no r_sc or r_signal) and those outside the edges.

    Notes
    -----
    r_sc grows with signal correlation in macaque V1 (e.g. Kohn & Smith 2005; Ecker et al.
    2010 Fig. 2; Smith & Kohn 2008 J Neurosci 28:12591).
    """
    pairs = correlation_pairs(noise, signal, group=None, position=())
    edges = _edges(bins, -1.0, 1.0)
    return _binned_dataset(pairs["r_signal"].values, pairs["r_sc"].values, edges,
                           "signal_bin", noise, "correlations.noise_correlation_by_signal")


def _edges(bins: Sequence[float] | int, lo: float, hi: float) -> np.ndarray:
    if np.isscalar(bins):
        nb = _check_int(bins, "bins", 1)
        return np.linspace(lo, hi, nb + 1)
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges)) or np.any(
        np.diff(edges) <= 0
    ):
        raise ValueError(f"bins: expected >= 2 increasing finite edges, got {bins!r}")
    return edges


def _binned_dataset(x, y, edges, dim, noise, func, labels=None) -> xr.Dataset:
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    b = _binned(x, y, edges)
    attrs = _provenance(func, noise, bins=edges)
    attrs["n_pairs_total"] = int(x.size)
    attrs["n_pairs_without_value"] = int(np.sum(~(np.isfinite(x) & np.isfinite(y))))
    attrs["n_pairs_outside_bins"] = b["outside"]
    coords: dict[str, Any] = {
        "bin_start": (dim, edges[:-1]),
        "bin_end": (dim, edges[1:]),
        "bin_center": (dim, 0.5 * (edges[:-1] + edges[1:])),
    }
    if labels is not None:
        coords["label"] = (dim, np.asarray(labels))
    return xr.Dataset(
        {"mean_r_sc": (dim, b["mean"]), "sem_r_sc": (dim, b["sem"]), "n_pairs": (dim, b["n"])},
        coords=coords,
        attrs=attrs,
    )


def noise_correlation_by_distance(
    noise: xr.Dataset,
    *,
    position: Sequence[str] | None = None,
    group: str | None = None,
    bins: Sequence[float] | int = 5,
) -> xr.Dataset:
    """Mean r_sc as a function of the distance between the two neurons of a pair.

    Parameters
    ----------
    noise : xarray.Dataset
        From :func:`noise_correlations`.
    position : sequence of str, optional
        Neuron position coordinates: r_sc binned by Euclidean distance. Default: the
        first of ``x_um/y_um``, ``x_mm/y_mm``, ``x_deg/y_deg`` present.
    group : str, optional
        Used when no position is available: a categorical coordinate (default
        ``"tetrode"``); two bins, same group (distance 0) and different groups (> 0).
    bins : int or sequence of float
        For positions: number of equal bins from 0 to the largest distance (default 5) or
        explicit edges.

    Returns
    -------
    xarray.Dataset
        As :func:`noise_correlation_by_signal`, over ``distance_bin`` (with a ``label``
        coordinate for groups).

    Raises
    ------
    ValueError
        If the neurons have neither position coordinates nor the group coordinate.

    Notes
    -----
    In macaque V1 r_sc falls with cortical distance (Smith & Kohn 2008 J Neurosci
    28:12591); Ecker et al. 2010 compare pairs on the same and on different tetrodes. The
    Ecker release has tetrode labels but no tetrode positions, so only same/different
    tetrode is available there.
    """
    if position is None and group is None:
        position = next((p for p in _POSITION_COORDS if all(c in noise.coords for c in p)),
                        None)
        if position is None:
            group = "tetrode"
    if position is not None:
        pairs = correlation_pairs(noise, position=position, group=None)
        d = np.asarray(pairs["distance"].values)
        hi = float(np.nanmax(d)) if np.isfinite(d).any() else 1.0
        edges = _edges(bins, 0.0, hi if hi > 0 else 1.0)
        return _binned_dataset(d, pairs["r_sc"].values, edges, "distance_bin", noise,
                               "correlations.noise_correlation_by_distance")
    if group not in noise.coords:
        known = sorted(_coords_on(noise, "neuron"))
        raise ValueError(
            f"noise: no position coordinates ({_POSITION_COORDS}) and no group coordinate "
            f"{group!r} on neuron; known: {known}"
        )
    pairs = correlation_pairs(noise, position=(), group=group)
    d = np.where(np.asarray(pairs[f"same_{group}"].values), 0.0, 1.0)
    out = _binned_dataset(d, pairs["r_sc"].values, np.array([0.0, 0.5, 1.0]), "distance_bin",
                          noise, "correlations.noise_correlation_by_distance",
                          labels=[f"same {group}", f"different {group}"])
    out.attrs["group"] = group
    return out


# --------------------------------------------------------------------------- over time


def noise_correlations_over_time(
    responses: xr.DataArray,
    window_ms: float,
    step_ms: float,
    *,
    span_ms: Sequence[float] | Window | None = None,
    return_matrices: bool = False,
    **kwargs: Any,
) -> xr.Dataset:
    """Noise correlations in sliding counting windows.

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses``.
    window_ms, step_ms : float
        Window width and step between window starts (ms, > 0). Every window follows the
        :class:`~neurofond.responses.Window` rule (an edge cutting a bin raises).
    span_ms : (float, float) or Window, optional
        Windows start at its start and end inside it. Default: the whole time range.
    return_matrices : bool
        Also return ``r_sc`` (time, neuron, neuron_other).
    **kwargs
        ``min_trials``, ``min_rate_hz``, ``weighting``, ``where`` of
        :func:`noise_correlations` (applied in every window).

    Returns
    -------
    xarray.Dataset
        Over ``time`` (window edges ``time_start_ms`` / ``time_end_ms``): ``mean_r_sc``
        and ``sem_r_sc`` over the included distinct pairs, ``n_pairs`` included,
        ``mean_count`` (mean count per included condition and neuron), optionally the
        matrices.

    Raises
    ------
    ValueError
        If ``window_ms`` / ``step_ms`` are not positive, the span is outside the data, or
        no window fits in it.
    """
    _check_responses(responses)
    for name, value in (("window_ms", window_ms), ("step_ms", step_ms)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                             np.floating)) or not (
            np.isfinite(value) and value > 0
        ):
            raise ValueError(f"{name}: expected a positive duration in ms, got {value!r}")
    starts, ends = time_edges_ms(responses)
    if span_ms is None:
        span = Window(float(starts.min()), float(ends.max()))
    else:
        span = Window.parse(span_ms, "span_ms")
        span.bins(responses, "span_ms")
    tol = 1e-9 * max(1.0, abs(span.start_ms), abs(span.end_ms))
    n_win = int(np.floor((span.duration_ms - window_ms + tol) / step_ms)) + 1
    if n_win < 1:
        raise ValueError(
            f"window_ms: {window_ms:g} ms is longer than the span of {span.duration_ms:g} ms"
        )
    t0 = span.start_ms + step_ms * np.arange(n_win)
    t1 = t0 + window_ms
    mean_r = np.full(n_win, np.nan)
    sem_r = np.full(n_win, np.nan)
    n_pairs = np.zeros(n_win, dtype=np.int64)
    mean_count = np.full(n_win, np.nan)
    mats = []
    iu = np.triu_indices(responses.sizes["neuron"], k=1)
    for k in range(n_win):
        nc = noise_correlations(responses, Window(t0[k], t1[k]), **kwargs)
        r = np.asarray(nc["r_sc"].values)
        vals = r[iu][np.isfinite(r[iu])]
        n_pairs[k] = vals.size
        if vals.size:
            mean_r[k] = vals.mean()
            if vals.size > 1:
                sem_r[k] = vals.std(ddof=1) / np.sqrt(vals.size)
        inc = np.asarray(nc["condition_exclusion"].values) == 0
        if inc.any():
            mean_count[k] = float(np.asarray(nc["mean_count"].values)[inc].mean())
        if return_matrices:
            mats.append(r)
    attrs = _provenance(
        "correlations.noise_correlations_over_time",
        responses,
        window_ms=float(window_ms),
        step_ms=float(step_ms),
        span_ms=(span.start_ms, span.end_ms),
        **kwargs,
    )
    data: dict[str, Any] = {
        "mean_r_sc": ("time", mean_r, {"units": "1"}),
        "sem_r_sc": ("time", sem_r, {"units": "1"}),
        "n_pairs": ("time", n_pairs),
        "mean_count": ("time", mean_count, {"units": "spikes per window"}),
    }
    coords: dict[str, Any] = {"time_start_ms": ("time", t0), "time_end_ms": ("time", t1)}
    if return_matrices:
        data["r_sc"] = (("time", "neuron", "neuron_other"), np.stack(mats), {"units": "1"})
        coords.update(_pair_coords(responses))
    return xr.Dataset(data, coords=coords, attrs=attrs)
