"""Trial-to-trial reliability of the response time course (single-trial PSTHs).

How repeatable a neuron's response to one stimulus is from one presentation to the next:
the mean Pearson correlation between the PSTHs of all pairs of trials. Torch-free; works
alike on model, baseline and recorded ``Responses``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurofond._checks import check_int
from neurofond.analysis._base import (
    _check_contiguous,
    _check_responses,
    _coords_on,
    _provenance,
    _select_time,
    _time_edges,
    _where_mask,
    _window_bins,
)
from neurofond.analysis.tuning import stimulus_window

__all__ = ["trial_reliability"]

#: Why an entry of :func:`trial_reliability` is NaN (variable ``nan_reason``).
REASONS = {
    "few_trials": "fewer than 2 trials without missing bins",
    "constant": "fewer than 2 trials whose PSTH varies over time (constant or silent)",
}


def trial_reliability(
    responses: xr.DataArray,
    *,
    window_ms: Sequence[float] | None = None,
    psth_bin_ms: float | None = None,
    where: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Mean pairwise correlation of single-trial PSTHs, per neuron and stimulus.

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses`` spike counts with contiguous time bins.
    window_ms : (float, float), optional
        Window of the PSTHs, ``(start, end)`` in ms or a
        :class:`~neurofond.responses.Window` (whole bins inside it). Default: the stimulus
        period (:func:`neurofond.analysis.tuning.stimulus_window`), so the blank before onset
        does not count as response.
    psth_bin_ms : float, optional
        Width of the PSTH bins: consecutive data bins are summed into bins of this width
        (a whole multiple of ``bin_ms``; a last incomplete bin is left out). Default: the data
        bins.
    where : mapping, optional
        Only stimuli whose coordinates take (one of) the given values, as in
        :func:`neurofond.analysis.tuning.tuning_curve`.

    Returns
    -------
    xarray.Dataset
        Dims ``(stimulus, neuron)`` with their coordinates: ``reliability`` (mean pairwise
        Pearson r, in [-1, 1]), ``n_trials`` (trials used), ``n_pairs`` (pairs averaged)
        and ``nan_reason`` (``""`` where ``reliability`` is finite, else a key of
        :data:`REASONS`); attrs hold the provenance, ``psth_bin_ms``, ``n_psth_bins``, the
        count of NaN entries per reason and the reasons' wording.

    Raises
    ------
    ValueError
        If ``responses`` is invalid or its bins are not contiguous; ``window_ms`` lies
        outside the data, cuts a bin or the default stimulus period is empty;
        ``psth_bin_ms`` is not a whole multiple of ``bin_ms``; the window holds fewer than 2
        PSTH bins; or ``where`` selects nothing.

    Notes
    -----
    For one neuron and stimulus with single-trial PSTHs :math:`x_i(t)`,
    :math:`i = 1..m`, the reliability is
    :math:`\\rho = \\frac{2}{m(m-1)} \\sum_{i<j} \\mathrm{corr}_t(x_i, x_j)`, computed as
    :math:`(\\lVert\\sum_i z_i\\rVert^2 - m) / (m(m-1))` with :math:`z_i` the centred,
    unit-norm PSTH of trial :math:`i`. Identical trials give 1; trials that share no
    stimulus-locked modulation (independent Poisson spikes) give 0 on average. Trials with
    a missing (NaN) bin in the window are left out; so are trials whose PSTH is constant
    (e.g. no spike at all), for which a correlation is undefined: ``n_trials`` says how many
    remained. Under inhomogeneous Poisson spiking with rate :math:`\\lambda(t)` the expected
    value is about :math:`\\mathrm{var}_t \\lambda / (\\mathrm{var}_t \\lambda +
    \\overline{\\lambda})` (per PSTH bin), so coarser PSTH bins raise it. The measure of
    e.g. Kumbhani, Nolt & Palmer (2007) J Neurophysiol 98:1425-1433 (mean cross-trial
    correlation of PSTHs) and of the Allen Brain Observatory's response reliability
    (de Vries et al. 2020, Nat Neurosci 23:138-151).

    Examples
    --------
    >>> import numpy as np
    >>> from neurofond.responses import make_responses
    >>> psth = np.array([0, 1, 3, 1, 0, 2.0])
    >>> r = make_responses(np.tile(psth, (4, 1, 1, 1)), bin_ms=10.0)
    >>> round(float(trial_reliability(r)["reliability"][0, 0]), 12)
    1.0
    """
    _check_responses(responses)
    _check_contiguous(responses)
    bin_ms = float(responses.attrs["bin_ms"])
    if window_ms is None:
        window_ms = stimulus_window(responses)
    idx = _window_bins(responses, window_ms)
    if psth_bin_ms is None:
        group = 1
    else:
        ratio = float(psth_bin_ms) / bin_ms if np.isfinite(float(psth_bin_ms)) else np.nan
        if not (np.isfinite(ratio) and ratio >= 1 and abs(ratio - round(ratio)) < 1e-9):
            raise ValueError(
                f"psth_bin_ms: expected a whole multiple (>= 1) of the data bins "
                f"({bin_ms:g} ms), got {psth_bin_ms!r}"
            )
        group = check_int(int(round(ratio)), "psth_bin_ms / bin_ms", minimum=1)
    n_bins = idx.size // group
    if n_bins < 2:
        raise ValueError(
            f"window_ms: holds {idx.size} bins of {bin_ms:g} ms, fewer than 2 PSTH bins of "
            f"{group * bin_ms:g} ms; widen the window or use finer PSTH bins"
        )
    mask = _where_mask(responses, where)
    values = _select_time(np.asarray(responses.values, dtype=np.float64), idx)[:, mask]
    values = values[..., : n_bins * group]
    if group > 1:
        values = values.reshape(*values.shape[:-1], n_bins, group).sum(axis=-1)
    # values: (trial, stimulus, neuron, psth bin)
    complete = ~np.isnan(values).any(axis=-1)
    x = np.where(complete[..., None], values, 0.0)
    centred = x - x.mean(axis=-1, keepdims=True)
    norm = np.sqrt((centred * centred).sum(axis=-1))
    scale = np.maximum(np.abs(x).max(axis=-1), 1.0)
    varies = complete & (norm > 1e-12 * scale * np.sqrt(n_bins))
    z = np.where(varies[..., None], centred / np.where(varies, norm, 1.0)[..., None], 0.0)
    m = varies.sum(axis=0)  # (stimulus, neuron)
    total = z.sum(axis=0)
    sq = (total * total).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(m >= 2, (sq - m) / (m * (m - 1.0)), np.nan)
    rel = np.clip(rel, -1.0, 1.0)
    n_complete = complete.sum(axis=0)
    reason = np.full(rel.shape, "", dtype=object)
    reason[(m < 2) & (n_complete >= 2)] = "constant"
    reason[n_complete < 2] = "few_trials"
    reason = reason.astype(str)

    coords: dict[str, Any] = {}
    for cname, (dim, vals) in _coords_on(responses, "stimulus").items():
        coords[cname] = (dim, vals[mask])
    coords.update(_coords_on(responses, "neuron"))
    starts, ends = _time_edges(responses)
    used = idx[: n_bins * group]
    attrs = _provenance(
        "reliability.trial_reliability",
        responses,
        window_ms=(float(starts[used].min()), float(ends[used].max())),
        psth_bin_ms=group * bin_ms,
        where=where,
    )
    attrs["n_psth_bins"] = int(n_bins)
    for key, text in REASONS.items():
        attrs[f"n_nan_{key}"] = int((reason == key).sum())
        attrs[f"reason_{key}"] = text
    attrs["units"] = "Pearson r"
    dims = ("stimulus", "neuron")
    return xr.Dataset(
        {
            "reliability": (dims, rel),
            "n_trials": (dims, m.astype(np.int64)),
            "n_pairs": (dims, (m * (m - 1) // 2).astype(np.int64)),
            "nan_reason": (dims, reason),
        },
        coords=coords,
        attrs=attrs,
    )
