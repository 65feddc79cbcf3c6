"""Convert ``Responses`` to and from :mod:`neo` (Block / Segment / SpikeTrain).

Layout written by :func:`responses_to_neo`: one :class:`neo.Segment` per trial (annotated
``trial``), holding one :class:`neo.SpikeTrain` per (stimulus, neuron) pair, annotated with
``neuron_id``, ``neuron_index``, ``stimulus_index`` and every stimulus and neuron coordinate.
The Block's annotations keep the bin edges and the attrs, so :func:`neo_to_responses` gives
back the same array. Spike times are placed deterministically inside their bins (see
:func:`spike_times_from_counts`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurofond.responses import make_responses, validate_responses

__all__ = ["responses_to_neo", "neo_to_responses", "spike_times_from_counts"]

META_KEY = "neurofond_responses"


def spike_times_from_counts(
    counts: np.ndarray, starts_ms: np.ndarray, ends_ms: np.ndarray
) -> np.ndarray:
    """Deterministic spike times (ms) for integer counts per bin.

    ``k`` spikes in the bin ``[s, e)`` are placed evenly at ``s + (j + 1/2) (e - s) / k``,
    ``j = 0 .. k-1``: strictly inside the bin, away from its edges, so binning them again
    with the same edges recovers the counts exactly.

    Parameters
    ----------
    counts : ndarray of int, shape (n_bins,)
        Non-negative spike counts.
    starts_ms, ends_ms : ndarray, shape (n_bins,)
        Bin edges in ms.

    Returns
    -------
    ndarray
        Sorted spike times in ms (if the bins are sorted).

    Examples
    --------
    >>> spike_times_from_counts(np.array([2, 0, 1]), np.array([0.0, 10, 20]),
    ...                         np.array([10.0, 20, 30])).tolist()
    [2.5, 7.5, 25.0]
    """
    k = np.asarray(counts, dtype=np.int64)
    total = int(k.sum())
    if total == 0:
        return np.zeros(0)
    rep = np.repeat(np.arange(k.size), k)
    j = np.arange(total) - np.repeat(np.cumsum(k) - k, k)
    width = (ends_ms - starts_ms)[rep]
    return starts_ms[rep] + (j + 0.5) * width / k[rep]


def _integer_counts(responses: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """Counts as int64 and a (trial, stimulus, neuron) mask of missing trials."""
    values = np.asarray(responses.values)
    if values.dtype.kind == "f":
        nan = np.isnan(values)
        missing = nan.all(axis=-1)
        if (nan.any(axis=-1) & ~missing).any():
            raise ValueError(
                "responses: NaN in only some time bins of a trial; only whole missing trials "
                "can be converted"
            )
        finite = values[~nan]
        if np.any(finite != np.round(finite)):
            raise ValueError("responses: non-integer counts cannot be converted to spike times")
        ints = np.where(nan, 0, values).astype(np.int64)
    else:
        missing = np.zeros(values.shape[:-1], dtype=bool)
        ints = values.astype(np.int64)
    return ints, missing


def _plain(value: Any) -> Any:
    """numpy scalar -> Python scalar (for annotations / JSON)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _jsonable(attrs: dict[str, Any]) -> str:
    out = {}
    for key, value in attrs.items():
        if isinstance(value, np.ndarray):
            value = value.tolist()
        value = _plain(value)
        try:
            json.dumps(value)
        except TypeError:
            value = repr(value)
        out[str(key)] = value
    return json.dumps(out)


def _coord_table(responses: xr.DataArray, dim: str) -> dict[str, np.ndarray]:
    return {
        str(name): np.asarray(coord.values)
        for name, coord in responses.coords.items()
        if coord.dims == (dim,) and name != dim
    }


def responses_to_neo(responses: xr.DataArray, *, name: str | None = None) -> Any:
    """Convert a ``Responses`` array into a :class:`neo.Block`.

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses`` with integer-valued counts; NaN only for whole missing trials.
    name : str, optional
        Block name (default: the ``source`` attr).

    Returns
    -------
    neo.Block
        One Segment per trial; in each, one SpikeTrain (ms, ``t_start`` = first bin start,
        ``t_stop`` = last bin end) per (stimulus, neuron), in stimulus-major order, annotated
        with ``neuron_id``, ``neuron_index``, ``stimulus_index`` and all stimulus / neuron
        coordinates. Missing trials have no SpikeTrain. The Block annotation
        ``neurofond_responses`` holds the bin edges, coordinate names and attrs (JSON).

    Raises
    ------
    ValueError
        If ``responses`` is invalid, has non-integer counts, NaN in only part of a trial, or
        a coordinate name used on both ``stimulus`` and ``neuron``.

    Notes
    -----
    Spike times are placed evenly inside each bin (:func:`spike_times_from_counts`), a
    deterministic choice: binning them with the same edges returns the counts exactly, but
    the within-bin timing is not data. Memory grows with trials x stimuli x neurons
    SpikeTrains; for large model populations analyse the array directly.

    Examples
    --------
    >>> import numpy as np
    >>> from neurofond.responses import make_responses
    >>> r = make_responses(np.ones((2, 3, 4, 5), int), bin_ms=10.0)
    >>> blk = responses_to_neo(r)
    >>> len(blk.segments), len(blk.segments[0].spiketrains)
    (2, 12)
    """
    import neo
    import quantities as pq

    validate_responses(responses)
    counts, missing = _integer_counts(responses)
    starts = np.asarray(responses["time_start_ms"].values, dtype=float)
    ends = np.asarray(responses["time_end_ms"].values, dtype=float)
    t_start, t_stop = float(starts.min()), float(ends.max())
    stim = _coord_table(responses, "stimulus")
    neur = _coord_table(responses, "neuron")
    reserved = {"trial", "neuron_index", "stimulus_index"}
    clash = (set(stim) & set(neur)) | (reserved & (set(stim) | set(neur)))
    if clash:
        raise ValueError(f"responses: coordinate names {sorted(clash)} are ambiguous in neo")
    meta = {
        "bin_ms": float(responses.attrs["bin_ms"]),
        "time_start_ms": starts.tolist(),
        "time_end_ms": ends.tolist(),
        "stimulus_coords": list(stim),
        "neuron_coords": list(neur),
        "attrs": json.loads(_jsonable(dict(responses.attrs))),
    }
    block = neo.Block(name=name or str(responses.attrs.get("source", "neurofond")))
    block.annotate(**{META_KEY: json.dumps(meta)})
    n_trial, n_stim, n_neuron, _ = counts.shape
    for i in range(n_trial):
        seg = neo.Segment(name=f"trial {i}", index=i)
        seg.annotate(trial=i)
        for s in range(n_stim):
            stim_ann = {k: _plain(v[s]) for k, v in stim.items()}
            for n in range(n_neuron):
                if missing[i, s, n]:
                    continue
                times = spike_times_from_counts(counts[i, s, n], starts, ends)
                ann = {k: _plain(v[n]) for k, v in neur.items()}
                ann.update(stim_ann)
                st = neo.SpikeTrain(
                    times * pq.ms,
                    t_start=t_start * pq.ms,
                    t_stop=t_stop * pq.ms,
                    name=f"neuron {ann.get('neuron_id', n)}",
                )
                st.annotate(neuron_index=n, stimulus_index=s, **ann)
                seg.spiketrains.append(st)
        block.segments.append(seg)
    return block


def _times_ms(st: Any) -> np.ndarray:
    return np.asarray(st.times.rescale("ms").magnitude, dtype=float)


def _bin(times: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Counts of ``times`` in half-open bins ``[start, end)`` (bins sorted, not overlapping)."""
    idx = np.searchsorted(starts, times, side="right") - 1
    ok = idx >= 0
    ok[ok] &= times[ok] < ends[idx[ok]]
    return np.bincount(idx[ok], minlength=starts.size)


def _key(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, np.ndarray):
        return tuple(value.tolist())
    if isinstance(value, list):
        return tuple(value)
    return value


def neo_to_responses(
    block: Any,
    bin_ms: float | None = None,
    *,
    window_ms: Sequence[float] | None = None,
    neuron_key: str = "neuron_id",
    stimulus_key: str = "stimulus_id",
    stimulus_coords: Sequence[str] | None = None,
    neuron_coords: Sequence[str] | None = None,
) -> xr.DataArray:
    """Bin the SpikeTrains of a :class:`neo.Block` into a ``Responses`` array.

    Parameters
    ----------
    block : neo.Block
        Segments = trials; SpikeTrains annotated with ``neuron_key`` and ``stimulus_key``
        (on the train or on its segment). Blocks written by :func:`responses_to_neo` are
        restored exactly, including coordinates, bin edges and attrs.
    bin_ms : float, optional
        Bin width in ms. Default: the stored one (neurofond blocks); required otherwise.
    window_ms : (float, float), optional
        Time range binned, in the SpikeTrains' time frame. Default: the stored bin edges
        (neurofond blocks, same ``bin_ms``) or from the latest ``t_start`` to the earliest
        ``t_stop`` of the trains; a trailing partial bin is dropped.
    neuron_key, stimulus_key : str
        Annotations identifying the neuron and the stimulus of each SpikeTrain (neurofond
        blocks use their ``neuron_index`` / ``stimulus_index`` annotations instead).
    stimulus_coords, neuron_coords : sequence of str, optional
        Annotation names copied onto the ``stimulus`` / ``neuron`` coordinates (default: the
        stored names, else ``stimulus_key`` / ``neuron_key``).

    Returns
    -------
    xarray.DataArray
        ``Responses``; (trial, stimulus, neuron) combinations without a SpikeTrain are NaN
        (missing), in which case the dtype is float.

    Raises
    ------
    ValueError
        If ``block`` is not a neo Block, has no SpikeTrain, a SpikeTrain lacks the
        ``neuron_key`` / ``stimulus_key`` annotation, the same (trial, stimulus, neuron)
        appears twice, ``bin_ms`` is missing or not positive, or the window holds no bin.

    Notes
    -----
    Bins are half-open ``[start, end)``. The trial of a SpikeTrain is its segment's
    ``trial`` annotation when present, otherwise the number of earlier occurrences of the
    same (stimulus, neuron) pair, so blocks with one segment per presentation work too.
    Stimuli and neurons are ordered by their ``stimulus_index`` / ``neuron_index``
    annotations when present, else by first appearance.

    Examples
    --------
    >>> import numpy as np
    >>> from neurofond.responses import make_responses
    >>> r = make_responses(np.arange(24).reshape(1, 2, 3, 4), bin_ms=5.0)
    >>> back = neo_to_responses(responses_to_neo(r))
    >>> bool((back.values == r.values).all())
    True
    """
    import neo

    if not isinstance(block, neo.Block):
        raise ValueError(f"block: expected a neo.Block, got {type(block)}")
    meta = None
    if META_KEY in block.annotations:
        try:
            meta = json.loads(block.annotations[META_KEY])
        except (TypeError, ValueError):
            raise ValueError(f"block: annotation {META_KEY!r} is not valid JSON") from None
    if bin_ms is None:
        if meta is None:
            raise ValueError("bin_ms: required for blocks not written by neurofond")
        bin_ms = float(meta["bin_ms"])
    bin_ms = float(bin_ms)
    if not np.isfinite(bin_ms) or bin_ms <= 0:
        raise ValueError(f"bin_ms: expected a positive number of ms, got {bin_ms!r}")
    if meta is not None:  # identity by the indices written by responses_to_neo
        stimulus_key, neuron_key = "stimulus_index", "neuron_index"
    if stimulus_coords is None:
        stimulus_coords = meta["stimulus_coords"] if meta else [stimulus_key]
    if neuron_coords is None:
        neuron_coords = meta["neuron_coords"] if meta else [neuron_key]

    # collect trains
    entries = []  # (trial, stim_key, neuron_key, train, segment annotations)
    occurrences: dict[tuple[Any, Any], int] = {}
    t_starts, t_stops = [], []
    for seg_i, seg in enumerate(block.segments):
        for st in seg.spiketrains:
            ann = dict(seg.annotations)
            ann.update(st.annotations)
            for key in (neuron_key, stimulus_key):
                if key not in ann:
                    raise ValueError(
                        f"block: SpikeTrain {st.name!r} in segment {seg_i} has no {key!r} "
                        "annotation (set neuron_key / stimulus_key)"
                    )
            skey, nkey = _key(ann[stimulus_key]), _key(ann[neuron_key])
            if "trial" in seg.annotations:
                trial = int(seg.annotations["trial"])
            else:
                trial = occurrences.get((skey, nkey), 0)
                occurrences[(skey, nkey)] = trial + 1
            entries.append((trial, skey, nkey, st, ann))
            t_starts.append(float(st.t_start.rescale("ms").magnitude))
            t_stops.append(float(st.t_stop.rescale("ms").magnitude))
    if not entries:
        raise ValueError("block: contains no SpikeTrain")

    # bins
    if (
        meta is not None
        and window_ms is None
        and np.isclose(bin_ms, float(meta["bin_ms"]), rtol=1e-12)
    ):
        starts = np.asarray(meta["time_start_ms"], dtype=float)
        ends = np.asarray(meta["time_end_ms"], dtype=float)
    else:
        if window_ms is None:
            lo, hi = max(t_starts), min(t_stops)
        else:
            lo, hi = (float(v) for v in window_ms)
        n_bins = int(np.floor((hi - lo) / bin_ms + 1e-9))
        if n_bins < 1:
            raise ValueError(f"window_ms: ({lo:g}, {hi:g}) ms holds no whole bin of {bin_ms:g} ms")
        starts = lo + bin_ms * np.arange(n_bins)
        ends = starts + bin_ms

    def order(keys: list[Any], index_name: str, all_ann: list[dict[str, Any]]) -> list[Any]:
        first: dict[Any, int] = {}
        index: dict[Any, float] = {}
        for k, a in zip(keys, all_ann):
            first.setdefault(k, len(first))
            if index_name in a:
                index.setdefault(k, float(a[index_name]))
        if len(index) == len(first):
            return sorted(first, key=lambda k: (index[k], first[k]))
        return sorted(first, key=first.get)

    anns = [e[4] for e in entries]
    stim_order = order([e[1] for e in entries], "stimulus_index", anns)
    neur_order = order([e[2] for e in entries], "neuron_index", anns)
    s_pos = {k: i for i, k in enumerate(stim_order)}
    n_pos = {k: i for i, k in enumerate(neur_order)}
    trials = sorted({e[0] for e in entries})
    t_pos = {t: i for i, t in enumerate(trials)}
    counts = np.full((len(trials), len(stim_order), len(neur_order), starts.size), np.nan)
    stim_vals: dict[str, list[Any]] = {c: [None] * len(stim_order) for c in stimulus_coords}
    neur_vals: dict[str, list[Any]] = {c: [None] * len(neur_order) for c in neuron_coords}
    for trial, skey, nkey, st, ann in entries:
        ti, si, ni = t_pos[trial], s_pos[skey], n_pos[nkey]
        if not np.isnan(counts[ti, si, ni, 0]):
            raise ValueError(
                f"block: trial {trial}, stimulus {skey!r}, neuron {nkey!r} appears twice"
            )
        counts[ti, si, ni] = _bin(_times_ms(st), starts, ends)
        for c in stimulus_coords:
            if stim_vals[c][si] is None:
                stim_vals[c][si] = _plain(ann.get(c, np.nan))
        for c in neuron_coords:
            if neur_vals[c][ni] is None:
                neur_vals[c][ni] = _plain(ann.get(c, np.nan))
    allow_nan = bool(np.isnan(counts).any())
    if not allow_nan:
        counts = counts.astype(np.int64)
    attrs: dict[str, Any] = dict(meta["attrs"]) if meta else {}
    attrs.pop("bin_ms", None)
    source = attrs.pop("source", None) or block.name or "neo"
    attrs.pop("units", None)
    return make_responses(
        counts,
        bin_ms=bin_ms,
        stimulus_coords={k: np.asarray(v) for k, v in stim_vals.items()},
        neuron_coords={k: np.asarray(v) for k, v in neur_vals.items()},
        time_start_ms=starts,
        source=str(source),
        attrs=attrs,
        allow_nan=allow_nan,
    )
