"""Peri-stimulus time histograms and response latency (onset and time to peak)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from neurofond.analysis._base import (
    _check_contiguous,
    _check_responses,
    _coords_on,
    _nanmean,
    _provenance,
    _time_edges,
    _window_bins,
)

__all__ = ["psth", "response_latency"]


def psth(
    responses: xr.DataArray,
    *,
    smooth_ms: float | None = None,
    units: str = "rate",
) -> xr.DataArray:
    """Peri-stimulus time histogram: the trial-averaged response per time bin.

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses`` spike counts, dims ``(trial, stimulus, neuron, time)``.
    smooth_ms : float, optional
        Standard deviation in ms of a Gaussian kernel convolved along time (needs contiguous
        bins; edges handled by repeating the edge values, kernel truncated at 4 SD). Default:
        no smoothing.
    units : {"rate", "count"}
        Spikes per second (default) or mean spikes per bin.

    Returns
    -------
    xarray.DataArray
        ``psth``, dims ``(stimulus, neuron, time)`` with all stimulus, neuron and time
        coordinates of ``responses``.

    Raises
    ------
    ValueError
        If ``responses`` is invalid, ``smooth_ms`` is not positive, the bins are not
        contiguous when smoothing, or ``units`` is unknown.

    Notes
    -----
    Mean over trials ignoring missing (NaN) trials; a (stimulus, neuron, bin) with no valid
    trial is NaN (and smoothing spreads that NaN over the kernel support). With
    ``units="count"`` and no smoothing the values equal
    ``elephant.statistics.time_histogram(trains, bin_size, output="mean")`` on the trials'
    spike trains.

    Examples
    --------
    >>> import numpy as np
    >>> from neurofond.responses import make_responses
    >>> r = make_responses(np.ones((3, 1, 1, 4)), bin_ms=10.0)
    >>> psth(r).values[0, 0].tolist()
    [100.0, 100.0, 100.0, 100.0]
    """
    _check_responses(responses)
    if units not in ("rate", "count"):
        raise ValueError(f"units: expected 'rate' or 'count', got {units!r}")
    values = np.asarray(responses.values)
    if values.dtype.kind == "f" and np.isnan(values).any():
        mean = _nanmean(values.astype(np.float64, copy=False), axis=0)
    else:
        mean = values.mean(axis=0, dtype=np.float64)
    starts, ends = _time_edges(responses)
    if units == "rate":
        mean = mean * (1000.0 / (ends - starts))
    if smooth_ms is not None:
        smooth_ms = float(smooth_ms)
        if not np.isfinite(smooth_ms) or smooth_ms <= 0:
            raise ValueError(f"smooth_ms: expected a positive SD in ms, got {smooth_ms!r}")
        _check_contiguous(responses)
        from scipy.ndimage import gaussian_filter1d

        sigma = smooth_ms / float(responses.attrs["bin_ms"])
        mean = gaussian_filter1d(mean, sigma, axis=-1, mode="nearest", truncate=4.0)
    coords = {}
    for dim in ("stimulus", "neuron", "time"):
        coords.update(_coords_on(responses, dim))
    attrs = _provenance("latency.psth", responses, smooth_ms=smooth_ms)
    attrs["units"] = "spikes/s" if units == "rate" else "spikes per bin"
    return xr.DataArray(
        mean, dims=("stimulus", "neuron", "time"), coords=coords, attrs=attrs, name="psth"
    )


def response_latency(
    responses: xr.DataArray,
    baseline_window_ms: Sequence[float],
    *,
    criterion: str = "sd",
    k: float = 3.0,
    min_consecutive_bins: int = 1,
    smooth_ms: float | None = None,
    search_window_ms: Sequence[float] | None = None,
) -> xr.Dataset:
    """Response onset latency and time to peak per neuron and stimulus.

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses`` spike counts with time relative to stimulus onset.
    baseline_window_ms : (float, float)
        Spontaneous-activity window (e.g. ``(-100, 0)``); needs >= 2 bins for
        ``criterion="sd"``.
    criterion : {"sd", "half_peak"}
        ``"sd"``: onset when the PSTH exceeds baseline mean + ``k`` x baseline SD;
        ``"half_peak"``: when it exceeds the baseline mean + half of (peak - baseline mean).
    k : float
        Number of baseline SDs for ``criterion="sd"`` (default 3).
    min_consecutive_bins : int
        The PSTH must stay above threshold for this many consecutive bins; the onset is the
        first bin of the first such run.
    smooth_ms : float, optional
        Gaussian smoothing of the PSTH (SD in ms), see :func:`psth`.
    search_window_ms : (float, float), optional
        Where onset and peak are searched; default from the end of the baseline window to
        the end of the data.

    Returns
    -------
    xarray.Dataset
        Dims ``(stimulus, neuron)``: ``onset_ms`` and ``peak_ms`` (bin centres, ms relative to
        the time axis of ``responses``), ``peak_rate``, ``baseline_rate``, ``baseline_sd`` and
        ``threshold`` (spikes/s). ``onset_ms`` and ``peak_ms`` are NaN when there is no
        response: no run of ``min_consecutive_bins`` bins above threshold in the search
        window, or (``"half_peak"``) a peak not above the baseline mean.

    Raises
    ------
    ValueError
        If ``responses`` is invalid or not contiguous, a window lies outside the time range,
        the baseline has too few bins, ``criterion`` is unknown, ``k`` < 0 or
        ``min_consecutive_bins`` < 1.

    Notes
    -----
    Computed on the trial-averaged PSTH (spikes/s, missing trials ignored). Baseline mean
    and SD are taken over the baseline bins of the PSTH (SD with ``ddof=1``). "Exceeds" is
    strict (>), so a silent baseline (SD 0) with ``criterion="sd"`` marks the first bin
    with any spike. Onset is the centre of the first supra-threshold bin; time to peak is
    the centre of the bin of maximal PSTH in the search window (reported only where an
    onset exists). Both criteria follow common practice in V1 latency studies, e.g.
    Albrecht et al. (2002) J Neurophysiol 88:888-913, who showed that higher contrast
    shortens latency; the in-silico analogue is Vafaii, Galor & Yates (2025), "Brain-like
    variational inference", Fig. 8.

    Examples
    --------
    >>> import numpy as np
    >>> from neurofond.responses import make_responses
    >>> counts = np.zeros((5, 1, 1, 30)); counts[:, :, :, 14:] = 2
    >>> r = make_responses(counts, bin_ms=10.0, time_start_ms=-100.0)
    >>> float(response_latency(r, (-100, 0))["onset_ms"][0, 0])
    45.0
    """
    _check_responses(responses)
    _check_contiguous(responses)
    if criterion not in ("sd", "half_peak"):
        raise ValueError(f"criterion: expected 'sd' or 'half_peak', got {criterion!r}")
    if not np.isfinite(k) or k < 0:
        raise ValueError(f"k: expected a non-negative number of SDs, got {k!r}")
    if int(min_consecutive_bins) != min_consecutive_bins or min_consecutive_bins < 1:
        raise ValueError(
            f"min_consecutive_bins: expected an integer >= 1, got {min_consecutive_bins!r}"
        )
    m = int(min_consecutive_bins)
    base_idx = _window_bins(responses, baseline_window_ms, "baseline_window_ms")
    if criterion == "sd" and base_idx.size < 2:
        raise ValueError("baseline_window_ms: needs at least 2 bins to estimate an SD")
    starts, ends = _time_edges(responses)
    if search_window_ms is None:
        search_idx = np.flatnonzero(np.arange(starts.size) > base_idx[-1])
        if search_idx.size == 0:
            raise ValueError("baseline_window_ms: leaves no bin after it to search for a response")
    else:
        search_idx = _window_bins(responses, search_window_ms, "search_window_ms")
    if search_idx.size < m:
        raise ValueError(
            f"min_consecutive_bins: {m} exceeds the {search_idx.size} bins of the search window"
        )
    rate = psth(responses, smooth_ms=smooth_ms).values  # (stim, neuron, time)
    base = rate[..., base_idx]
    b_mean = base.mean(axis=-1)
    b_sd = base.std(axis=-1, ddof=1) if base_idx.size > 1 else np.zeros_like(b_mean)
    seg = rate[..., search_idx]
    with np.errstate(invalid="ignore"):
        all_nan = np.isnan(seg).all(axis=-1)
        ipk = np.argmax(np.where(np.isnan(seg), -np.inf, seg), axis=-1)
    peak = np.take_along_axis(seg, ipk[..., None], axis=-1)[..., 0]
    if criterion == "sd":
        thr = b_mean + k * b_sd
    else:
        thr = b_mean + 0.5 * (peak - b_mean)
    with np.errstate(invalid="ignore"):
        above = seg > thr[..., None]
    cs = np.concatenate([np.zeros(above.shape[:-1] + (1,), int), np.cumsum(above, -1)], -1)
    run = cs[..., m:] - cs[..., :-m] == m  # run of m bins starting at index j
    has = run.any(axis=-1)
    if criterion == "half_peak":
        has &= peak > b_mean
    has &= ~all_nan
    first = np.argmax(run, axis=-1)
    centres = 0.5 * (starts + ends)[search_idx]
    onset = np.where(has, centres[first], np.nan)
    peak_ms = np.where(has, centres[ipk], np.nan)
    coords = {}
    coords.update(_coords_on(responses, "stimulus"))
    coords.update(_coords_on(responses, "neuron"))
    attrs = _provenance(
        "latency.response_latency",
        responses,
        baseline_window_ms=(float(starts[base_idx].min()), float(ends[base_idx].max())),
        search_window_ms=(float(starts[search_idx].min()), float(ends[search_idx].max())),
        criterion=criterion,
        k=k,
        min_consecutive_bins=m,
        smooth_ms=smooth_ms,
        time_reference="bin centre",
    )
    dims = ("stimulus", "neuron")
    return xr.Dataset(
        {
            "onset_ms": (dims, onset),
            "peak_ms": (dims, peak_ms),
            "peak_rate": (dims, peak),
            "baseline_rate": (dims, b_mean),
            "baseline_sd": (dims, b_sd),
            "threshold": (dims, thr),
        },
        coords=coords,
        attrs=attrs,
    )
