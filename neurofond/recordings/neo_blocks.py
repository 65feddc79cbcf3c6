"""Convert neo Blocks (segments = trials) into ``Responses``.

Convention: each :class:`neo.Segment` of the block is one trial (one
presentation); its ``annotations`` carry the stimulus parameters (e.g.
``{"orientation": 45.0, "contrast": 0.5}``); its spike trains are the units.
A unit is identified across segments by the spike train annotation
``neuron_key`` (default ``"neuron_id"``), else its ``name``, else its
position in the segment.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurofond.recordings.nwb import (
    _assemble,
    _count,
    _group_trials,
    _plain,
    _stimulus_coords,
    _window_edges,
)
from neurofond.responses import make_responses

__all__ = ["block_to_responses", "load_neo"]


def _to_ms(value: Any, what: str) -> float:
    if hasattr(value, "rescale"):
        return float(np.asarray(value.rescale("ms").magnitude).reshape(()))
    try:
        return float(value) * 1000.0  # plain numbers are seconds (neo's default time unit)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what}: expected a time quantity or seconds, got {value!r}") from err


def _is_time(value: Any) -> bool:
    if not hasattr(value, "rescale"):
        return False
    try:
        value.rescale("s")
    except ValueError:
        return False
    return True


def _neuron_name(st: Any, index: int, neuron_key: str) -> str:
    if neuron_key in st.annotations:
        return str(_plain(st.annotations[neuron_key]))
    if st.name:
        return str(st.name)
    return str(index)


_NEUROFOND_META = "neurofond_responses"  # = neurofond.conversions.neo_io.META_KEY


def _neurofond_block(block: Any, bin_ms: float | None, window_ms: Sequence[float] | None,
                     stimulus_key: Any, onset_key: Any) -> xr.DataArray:
    """A block written by :func:`neurofond.conversions.responses_to_neo`, read back with
    :func:`neurofond.conversions.neo_to_responses` (one segment per trial holding every
    stimulus, stimuli annotated on the spike trains)."""
    from neurofond.conversions.neo_io import neo_to_responses

    if stimulus_key is not None or onset_key is not None:
        raise ValueError(
            "stimulus_key/onset_key: not used for a block written by responses_to_neo "
            "(stimuli are stored on its spike trains, times in the Responses' own frame); "
            "leave them unset"
        )
    if window_ms is not None and bin_ms is not None:
        _window_edges(bin_ms, window_ms)  # same checks and messages as for other blocks
    return neo_to_responses(block, bin_ms, window_ms=window_ms)


def block_to_responses(
    block: Any,
    bin_ms: float | None,
    window_ms: Sequence[float] | None,
    stimulus_key: str | Sequence[str] | None = None,
    *,
    onset_key: str | None = None,
    neuron_key: str = "neuron_id",
) -> xr.DataArray:
    """Bin the spike trains of a neo Block whose segments are trials.

    Parameters
    ----------
    block : neo.Block
        One segment per trial; ``segment.annotations`` hold the stimulus
        parameters.
    bin_ms : float
        Bin width in ms (may be None for a block written by
        :func:`neurofond.conversions.responses_to_neo`: the stored one).
    window_ms : (float, float)
        ``(start, stop)`` in ms relative to the trial's alignment time (the
        segment's ``t_start``, or the annotation ``onset_key``); a whole
        number of bins. Bins are half-open. For a block written by
        :func:`~neurofond.conversions.responses_to_neo` (block annotation
        ``neurofond_responses``) the window is in the Responses' own time
        frame, and None restores the stored bins.
    stimulus_key : str or sequence of str, optional
        Segment annotation key(s) defining the stimulus; segments with equal
        values are repetitions. Default: every annotation key present in all
        segments with a scalar value, except ``onset_key`` and time-valued
        quantities (onsets, offsets).
    onset_key : str, optional
        Segment annotation holding the stimulus onset (a time quantity, or a
        number in seconds, absolute like the spike times). Default: align to
        ``segment.t_start``.
    neuron_key : str
        Spike train annotation identifying a unit across segments.

    Notes
    -----
    A block written by :func:`neurofond.conversions.responses_to_neo` has
    one segment per trial holding every stimulus (stimuli annotated on the
    spike trains); it is read by :func:`neurofond.conversions.neo_to_responses`
    and gives back the written array (``stimulus_key`` and ``onset_key`` must
    then be unset).

    Returns
    -------
    xarray.DataArray
        ``Responses`` (float32 counts). ``stimulus`` coords = the stimulus
        keys (quantities as magnitudes), ``n_repetitions``, ``stimulus_id``;
        ``neuron`` coords = ``neuron_id``; ``trial`` = repetition index,
        NaN-padded for unequal repetition counts. A unit absent from a
        segment, or whose spike train does not cover the whole window
        (``t_start``/``t_stop``), is NaN in that trial.

    Raises
    ------
    TypeError
        If ``block`` is not a neo Block.
    ValueError
        If the block has no segments or spike trains, a segment lacks a
        stimulus annotation, two spike trains of one segment share a unit id,
        or ``bin_ms``/``window_ms`` are invalid.

    Examples
    --------
    >>> r = block_to_responses(block, bin_ms=10, window_ms=(0, 500),
    ...                        stimulus_key=["orientation", "contrast"])  # doctest: +SKIP
    """
    import neo

    if not isinstance(block, neo.Block):
        raise TypeError(f"block: expected a neo.Block, got {type(block).__name__}")
    if _NEUROFOND_META in block.annotations:
        return _neurofond_block(block, bin_ms, window_ms, stimulus_key, onset_key)
    edges = _window_edges(bin_ms, window_ms)
    segments = list(block.segments)
    if not segments:
        raise ValueError("block: has no segments (expected one segment per trial)")
    if stimulus_key is None:
        common = set(segments[0].annotations)
        for seg in segments[1:]:
            common &= set(seg.annotations)
        keys_list = []
        for k in sorted(common - {onset_key}):
            values = [seg.annotations[k] for seg in segments]
            if any(_is_time(v) for v in values):
                continue
            try:
                for v in values:
                    _plain(v)
            except TypeError:
                continue
            keys_list.append(k)
    elif isinstance(stimulus_key, str):
        keys_list = [stimulus_key]
    else:
        keys_list = list(stimulus_key)

    trial_keys: list[tuple] = []
    onsets = np.empty(len(segments))
    for t, seg in enumerate(segments):
        missing = [k for k in keys_list if k not in seg.annotations]
        if missing:
            raise ValueError(
                f"segment {t} ({seg.name!r}) lacks stimulus annotation(s) {missing}; "
                f"its annotations: {sorted(seg.annotations)}"
            )
        try:
            trial_keys.append(tuple(_plain(seg.annotations[k]) for k in keys_list))
        except TypeError as err:
            raise ValueError(f"segment {t}: stimulus annotation is not a scalar ({err})") from err
        if onset_key is None:
            onsets[t] = _to_ms(seg.t_start, f"segment {t} t_start")
        elif onset_key in seg.annotations:
            onsets[t] = _to_ms(seg.annotations[onset_key], f"segment {t} {onset_key!r}")
        else:
            raise ValueError(f"segment {t} ({seg.name!r}) lacks onset annotation {onset_key!r}")

    names: dict[str, int] = {}
    for t, seg in enumerate(segments):
        seen: set[str] = set()
        for i, st in enumerate(seg.spiketrains):
            name = _neuron_name(st, i, neuron_key)
            if name in seen:  # binning both into one row would keep only the last (spikes lost)
                raise ValueError(
                    f"segment {t} ({seg.name!r}): two spike trains share the unit id "
                    f"{name!r} ({neuron_key!r} annotation, else name, else position); "
                    f"give each unit of a segment a distinct {neuron_key!r}"
                )
            seen.add(name)
            names.setdefault(name, len(names))
    if not names:
        raise ValueError("block: no spike trains in any segment")

    per_trial = np.full((len(segments), len(names), edges.size - 1), np.nan, dtype=np.float32)
    for t, seg in enumerate(segments):
        lo, hi = onsets[t] + edges[0], onsets[t] + edges[-1]
        for i, st in enumerate(seg.spiketrains):
            u = names[_neuron_name(st, i, neuron_key)]
            if _to_ms(st.t_start, "t_start") > lo or _to_ms(st.t_stop, "t_stop") < hi:
                continue  # window not fully observed: leave NaN
            times = np.asarray(st.times.rescale("ms").magnitude, dtype=float)
            per_trial[t, u, :] = _count(times, onsets[t : t + 1], edges)[0]

    unique, stim, rep = _group_trials(trial_keys)
    counts = _assemble(per_trial, stim, rep, len(unique))
    attrs = {
        "block_name": str(block.name) if block.name else "",
        "onset": onset_key or "segment.t_start",
        "window_ms": [float(edges[0]), float(edges[-1])],
        "time_reference": onset_key or "segment.t_start",
    }
    return make_responses(
        counts,
        bin_ms=float(bin_ms),
        stimulus_coords=_stimulus_coords(keys_list, unique, stim),
        neuron_coords={"neuron_id": np.array(list(names), dtype=str)},
        time_start_ms=edges[:-1],
        source=f"neo:{block.name}" if block.name else "neo",
        attrs=attrs,
        allow_nan=True,
    )


def load_neo(
    path: str | os.PathLike[str],
    bin_ms: float | None,
    window_ms: Sequence[float] | None,
    stimulus_key: str | Sequence[str] | None = None,
    *,
    block_index: int = 0,
    io_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> xr.DataArray:
    """Read a file with :func:`neo.io.get_io` and convert one block.

    Any format neo can read (chosen from the file extension) works, provided
    its segments are trials as described in :func:`block_to_responses`;
    blocks written by :func:`neurofond.conversions.responses_to_neo` (and
    saved with a neo IO that keeps annotations, e.g. ``neo.io.PickleIO`` or
    ``NixIO``) are read back exactly, ``bin_ms``/``window_ms`` None giving
    the stored bins.
    Note that neo's NWB reader requires ``obs_intervals`` in the units table;
    :func:`neurofond.recordings.load_nwb` reads NWB directly without it.

    Parameters
    ----------
    path : path-like
        File or folder to read.
    bin_ms, window_ms, stimulus_key
        As in :func:`block_to_responses`.
    block_index : int
        Which block of the file to convert.
    io_kwargs : dict, optional
        Extra keyword arguments for the neo IO class.
    **kwargs
        Passed to :func:`block_to_responses` (``onset_key``, ``neuron_key``).

    Returns
    -------
    xarray.DataArray
        ``Responses`` with ``attrs["file"]`` set.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If neo has no reader for the file, it cannot be read, or
        ``block_index`` is out of range.
    """
    import neo

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        io = neo.io.get_io(str(path), **(io_kwargs or {}))
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: no neo IO can read this file ({err})") from err
    try:
        blocks = list(io.read(lazy=False))
    except Exception as err:  # neo IOs raise many types
        raise ValueError(
            f"{path}: neo {type(io).__name__} failed ({type(err).__name__}: {err})"
        ) from err
    finally:
        close = getattr(io, "close", None)
        if callable(close):
            close()
    if not 0 <= block_index < len(blocks):
        raise ValueError(
            f"block_index: expected 0..{len(blocks) - 1} for {path}, got {block_index}"
        )
    responses = block_to_responses(blocks[block_index], bin_ms, window_ms, stimulus_key, **kwargs)
    responses.attrs["file"] = path.name
    return responses
