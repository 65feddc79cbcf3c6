"""Write ``Responses`` to NWB and read them back (via :mod:`pynwb`).

Layout written by :func:`responses_to_nwb`:

- every (trial, stimulus) presentation is one row of the ``trials`` table, laid out one
  after another on the session clock: ``start_time`` is the stimulus onset (time 0 of the
  Responses time axis), ``stop_time`` = onset + end of the last bin; the stimulus
  coordinates are columns, plus ``stimulus_index``. Rows are in trial-major order, so the
  repetition index of a row is the number of earlier rows with the same stimulus;
- every neuron is one row of the ``units`` table: ``spike_times`` (s, session clock, placed
  evenly inside their bins, see :func:`neurofond.conversions.neo_io.spike_times_from_counts`),
  ``obs_intervals`` = the presentation windows in which the neuron was observed (missing NaN
  trials are left out; abutting windows are merged), the neuron coordinates as columns;
- a scratch entry ``neurofond_responses`` (JSON) keeps the bin edges and attrs.

Files from other sources can be read by :func:`nwb_to_responses` given ``bin_ms`` and a
window relative to each trial's alignment column.
"""

from __future__ import annotations

import json
import os
import uuid
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurofond._files import atomic_path
from neurofond.conversions.neo_io import (
    _coord_table,
    _integer_counts,
    _jsonable,
    _plain,
    spike_times_from_counts,
)
from neurofond.responses import make_responses, validate_responses

__all__ = ["responses_to_nwb", "nwb_to_responses"]

META_NAME = "neurofond_responses"
_RESERVED = {"start_time", "stop_time", "tags", "timeseries", "id"}
# relative tolerance (times in ms) for windows that abut on the session clock: times are
# stored in seconds, so onset + end of one presentation and the next onset differ by
# round-off (~1e-13 ms on a 1e4 s session clock)
_TIME_TOL_MS = 1e-9
_UNIT_RESERVED = {"spike_times", "obs_intervals", "id", "electrodes", "waveform_mean"}


def _column_values(values: np.ndarray, name: str) -> list[Any]:
    if values.dtype.kind in "biuf":
        return [_plain(v) for v in values]
    if values.dtype.kind in "UO":
        out = [_plain(v) for v in values]
        if all(isinstance(v, str) for v in out):
            return out
    raise ValueError(
        f"responses: coordinate {name!r} of dtype {values.dtype} cannot be stored in NWB "
        "(numbers or strings only)"
    )


def _merge_intervals(intervals: list[list[float]]) -> np.ndarray:
    """Join abutting [start, stop] intervals (sorted), so fully observed units get one."""
    merged: list[list[float]] = []
    for start, stop in intervals:
        if merged and abs(start - merged[-1][1]) <= 1e-9 * max(1.0, abs(start)):
            merged[-1][1] = stop
        else:
            merged.append([start, stop])
    return np.asarray(merged, dtype=float).reshape(-1, 2)


def responses_to_nwb(
    responses: xr.DataArray,
    path: str | os.PathLike[str],
    *,
    gap_ms: float = 0.0,
    session_description: str = "neurofond Responses",
    identifier: str | None = None,
    session_start_time: datetime | None = None,
) -> Path:
    """Write a ``Responses`` array to an NWB file (atomically).

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses`` with integer-valued counts; NaN only for whole missing trials.
        Stimulus and neuron coordinates must hold numbers or strings.
    path : path-like
        Destination ``.nwb`` file; replaced if it exists.
    gap_ms : float
        Gap between consecutive presentations on the session clock (>= 0). With the default
        0 the presentations abut, so a neuron observed in every presentation has a single
        observation interval (which ``neo.io.NWBIO`` requires).
    session_description, identifier, session_start_time
        NWB file metadata (identifier defaults to a random UUID, start time to now, UTC).

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    ValueError
        If ``responses`` is invalid, has non-integer counts, partial NaN trials, a
        coordinate that NWB cannot store or whose name is reserved by the NWB tables, or
        ``gap_ms`` < 0.

    Notes
    -----
    Presentation ``p = trial * n_stimuli + stimulus`` has its first bin at
    ``p * (duration + gap_ms)`` ms on the session clock, with ``duration`` the span of
    the time axis. The file is written to a temporary file in the same folder and moved
    into place with :func:`os.replace`, so readers never see a partial file. Spike times
    are placed evenly inside their bins (deterministic; reading back with the same bins
    returns the counts exactly).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from neurofond.responses import make_responses
    >>> r = make_responses(np.ones((2, 3, 4, 5), int), bin_ms=10.0,
    ...                    stimulus_coords={"orientation": [0.0, 60.0, 120.0]})
    >>> f = os.path.join(tempfile.mkdtemp(), "r.nwb")
    >>> back = nwb_to_responses(responses_to_nwb(r, f))
    >>> bool((back.values == r.values).all())
    True
    """
    from pynwb import NWBHDF5IO, NWBFile

    validate_responses(responses)
    gap_ms = float(gap_ms)
    if not np.isfinite(gap_ms) or gap_ms < 0:
        raise ValueError(f"gap_ms: expected a non-negative number of ms, got {gap_ms!r}")
    path = Path(path)
    counts, missing = _integer_counts(responses)
    starts = np.asarray(responses["time_start_ms"].values, dtype=float)
    ends = np.asarray(responses["time_end_ms"].values, dtype=float)
    first, last = float(starts.min()), float(ends.max())
    period = (last - first) + gap_ms
    stim = _coord_table(responses, "stimulus")
    neur = _coord_table(responses, "neuron")
    bad = sorted((set(stim) & (_RESERVED | {"stimulus_index"})) | (set(neur) & _UNIT_RESERVED))
    if bad:
        raise ValueError(f"responses: coordinate names {bad} are reserved in the NWB tables")
    stim_cols = {k: _column_values(v, k) for k, v in stim.items()}
    neur_cols = {k: _column_values(v, k) for k, v in neur.items()}

    n_trial, n_stim, n_neuron, _ = counts.shape
    nwb = NWBFile(
        session_description=session_description,
        identifier=identifier or str(uuid.uuid4()),
        session_start_time=session_start_time or datetime.now(UTC),
    )
    nwb.add_trial_column(name="stimulus_index", description="index along the stimulus dim")
    with warnings.catch_warnings():  # columns named like table attributes (e.g. "name")
        warnings.filterwarnings("ignore", message="An attribute .* already exists")
        for k in stim_cols:
            nwb.add_trial_column(name=k, description=f"stimulus parameter {k}")
    onsets = np.empty((n_trial, n_stim))
    for i in range(n_trial):
        for s in range(n_stim):
            p = i * n_stim + s
            onset_ms = p * period - first
            onsets[i, s] = onset_ms
            row = {k: v[s] for k, v in stim_cols.items()}
            nwb.add_trial(
                start_time=onset_ms / 1000.0,
                stop_time=(onset_ms + last) / 1000.0,
                stimulus_index=s,
                **row,
            )
    nwb.add_unit_column(name="neuron_index", description="index along the neuron dim")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="An attribute .* already exists")
        for k in neur_cols:
            nwb.add_unit_column(name=k, description=f"neuron coordinate {k}")
    for n in range(n_neuron):
        times, obs = [], []
        for i in range(n_trial):
            for s in range(n_stim):
                if missing[i, s, n]:
                    continue
                on = onsets[i, s]
                times.append(spike_times_from_counts(counts[i, s, n], starts + on, ends + on))
                obs.append([(on + first) / 1000.0, (on + last) / 1000.0])
        spikes = np.concatenate(times) / 1000.0 if times else np.zeros(0)
        nwb.add_unit(
            spike_times=spikes,
            obs_intervals=_merge_intervals(obs),
            neuron_index=n,
            **{k: v[n] for k, v in neur_cols.items()},
        )
    meta = {
        "format": 1,
        "bin_ms": float(responses.attrs["bin_ms"]),
        "time_start_ms": starts.tolist(),
        "time_end_ms": ends.tolist(),
        "n_trials": n_trial,
        "stimulus_coords": list(stim_cols),
        "neuron_coords": list(neur_cols),
        "attrs": json.loads(_jsonable(dict(responses.attrs))),
    }
    nwb.add_scratch(json.dumps(meta), name=META_NAME, description="neurofond Responses layout")

    def write(tmp: str) -> None:
        with warnings.catch_warnings():  # the temporary name ends in .tmp, not .nwb
            warnings.filterwarnings("ignore", message="The file path provided")
            with NWBHDF5IO(tmp, "w") as io:
                io.write(nwb)

    return atomic_path(path, write)


def _ragged(table: Any, column: str, i: int) -> np.ndarray:
    return np.asarray(table[column][i], dtype=float)


def nwb_to_responses(
    path: str | os.PathLike[str],
    bin_ms: float | None = None,
    *,
    window_ms: Sequence[float] | None = None,
    align_column: str = "start_time",
    stimulus_columns: Sequence[str] | None = None,
    neuron_column: str = "neuron_id",
) -> xr.DataArray:
    """Read an NWB file (units + trials tables) into a ``Responses`` array.

    Parameters
    ----------
    path : path-like
        NWB file. Files written by :func:`responses_to_nwb` are restored exactly
        (counts, NaN trials, coordinates, bin edges, attrs).
    bin_ms : float, optional
        Bin width in ms; default the stored one (neurofond files), required otherwise.
    window_ms : (float, float), optional
        Binned window in ms relative to each trial's ``align_column`` time. Default: the
        stored bin edges (neurofond files with the same ``bin_ms``); required otherwise. A
        trailing partial bin is dropped.
    align_column : str
        Trials-table column (s) that is time 0 of each presentation.
    stimulus_columns : sequence of str, optional
        Trials-table columns that define a stimulus (rows with equal values are
        repetitions) and become stimulus coordinates. Default: the stored ones, else every
        column except ``start_time``, ``stop_time``, ``tags``, ``timeseries`` and
        ``align_column``.
    neuron_column : str
        Units-table column used as ``neuron_id`` when present (default ``"neuron_id"``,
        else the units table ``id``).

    Returns
    -------
    xarray.DataArray
        ``Responses``. Presentations outside a unit's ``obs_intervals`` are NaN
        (missing); stimuli with fewer repetitions are NaN-padded.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a readable NWB file (message names the file), lacks a units or
        trials table or a requested column, or ``bin_ms`` / ``window_ms`` are missing or
        invalid.

    Notes
    -----
    Bins are half-open ``[start, end)`` relative to the alignment time. The repetition
    (trial) index of a presentation is the number of earlier rows of the same stimulus.

    Examples
    --------
    See :func:`responses_to_nwb`.
    """
    from pynwb import NWBHDF5IO

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"path: {path} does not exist")
    try:
        io = NWBHDF5IO(str(path), "r")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="An attribute .* already exists")
            nwb = io.read()
    except Exception as err:  # h5py / hdmf raise many types for foreign or corrupt files
        raise ValueError(f"{path}: not a readable NWB file ({type(err).__name__}: {err})") from None
    try:
        return _read(nwb, path, bin_ms, window_ms, align_column, stimulus_columns, neuron_column)
    finally:
        io.close()


def _read(
    nwb: Any,
    path: Path,
    bin_ms: float | None,
    window_ms: Sequence[float] | None,
    align_column: str,
    stimulus_columns: Sequence[str] | None,
    neuron_column: str,
) -> xr.DataArray:
    meta = None
    if META_NAME in getattr(nwb, "scratch", {}):
        raw = nwb.scratch[META_NAME].data
        raw = raw[()] if hasattr(raw, "shape") and raw.shape == () else raw
        if isinstance(raw, bytes):
            raw = raw.decode()
        try:
            meta = json.loads(str(raw))
        except ValueError:
            raise ValueError(f"{path}: scratch {META_NAME!r} is not valid JSON") from None
    units, trials = nwb.units, nwb.trials
    if units is None or len(units) == 0:
        raise ValueError(f"{path}: NWB file has no units table")
    if trials is None or len(trials) == 0:
        raise ValueError(f"{path}: NWB file has no trials table")
    if bin_ms is None:
        if meta is None:
            raise ValueError(f"bin_ms: required for {path} (not written by neurofond)")
        bin_ms = float(meta["bin_ms"])
    bin_ms = float(bin_ms)
    if not np.isfinite(bin_ms) or bin_ms <= 0:
        raise ValueError(f"bin_ms: expected a positive number of ms, got {bin_ms!r}")
    if meta is not None and window_ms is None and np.isclose(bin_ms, meta["bin_ms"], rtol=1e-12):
        starts = np.asarray(meta["time_start_ms"], dtype=float)
        ends = np.asarray(meta["time_end_ms"], dtype=float)
    else:
        if window_ms is None:
            raise ValueError(f"window_ms: required for {path} with bin_ms={bin_ms:g}")
        try:
            lo, hi = (float(v) for v in window_ms)
        except (TypeError, ValueError):
            raise ValueError(f"window_ms: expected (start, end) in ms, got {window_ms!r}") from None
        n_bins = int(np.floor((hi - lo) / bin_ms + 1e-9))
        if not (np.isfinite(lo) and np.isfinite(hi)) or n_bins < 1:
            raise ValueError(f"window_ms: ({lo:g}, {hi:g}) ms holds no whole bin of {bin_ms:g} ms")
        starts = lo + bin_ms * np.arange(n_bins)
        ends = starts + bin_ms

    columns = list(trials.colnames)
    if align_column not in columns and align_column != "start_time":
        raise ValueError(f"align_column: {align_column!r} is not a column of {path} trials")
    align_s = np.asarray(trials[align_column].data[:], dtype=float)
    stored_layout = meta is not None and stimulus_columns is None
    if stimulus_columns is None:
        if meta is not None:
            stimulus_columns = ["stimulus_index"] + list(meta["stimulus_coords"])
        else:
            stimulus_columns = [c for c in columns if c not in _RESERVED and c != align_column]
    missing_cols = [c for c in stimulus_columns if c not in columns]
    if missing_cols:
        raise ValueError(f"stimulus_columns: {missing_cols} not in the trials table of {path}")
    col_values = {c: list(trials[c].data[:]) for c in stimulus_columns}
    n_rows = align_s.size
    keys = [tuple(_plain(col_values[c][r]) for c in stimulus_columns) for r in range(n_rows)]
    stim_pos: dict[tuple[Any, ...], int] = {}
    rep = np.empty(n_rows, dtype=np.int64)
    seen: dict[tuple[Any, ...], int] = {}
    for r, key in enumerate(keys):
        stim_pos.setdefault(key, len(stim_pos))
        rep[r] = seen.get(key, 0)
        seen[key] = rep[r] + 1
    if stored_layout:
        stim_idx = np.asarray(col_values["stimulus_index"], dtype=np.int64)
    else:
        stim_idx = np.array([stim_pos[k] for k in keys])
    n_stim = int(stim_idx.max()) + 1
    n_trial = int(rep.max()) + 1
    n_units = len(units)

    win_lo = align_s * 1000.0 + starts.min()
    win_hi = align_s * 1000.0 + ends.max()
    row_order = np.argsort(win_lo, kind="stable")
    # abutting windows (gap_ms=0) may overlap by the round-off of seconds <-> ms
    tol_ms = _TIME_TOL_MS * np.maximum(1.0, np.abs(win_hi[row_order][:-1]))
    if np.any(win_lo[row_order][1:] < win_hi[row_order][:-1] - tol_ms):
        raise ValueError(
            f"window_ms: the windows of consecutive trials overlap in {path}; use a shorter one"
        )
    counts = np.full((n_trial, n_stim, n_units, starts.size), np.nan)
    unit_cols = list(units.colnames)
    has_obs = "obs_intervals" in unit_cols
    for u in range(n_units):
        t_ms = np.sort(_ragged(units, "spike_times", u)) * 1000.0
        # presentation of each spike (presentations do not overlap in neurofond files)
        lo_sorted = win_lo[row_order]
        k = np.searchsorted(lo_sorted, t_ms, side="right") - 1
        ok = k >= 0
        rows = np.where(ok, row_order[np.maximum(k, 0)], 0)
        rel = t_ms - align_s[rows] * 1000.0
        ok &= t_ms < win_hi[rows]
        b = np.searchsorted(starts, rel, side="right") - 1
        ok &= b >= 0
        ok[ok] &= rel[ok] < ends[b[ok]]
        c = np.bincount(rows[ok] * starts.size + b[ok], minlength=n_rows * starts.size)
        c = c.reshape(n_rows, starts.size)
        observed = np.ones(n_rows, dtype=bool)
        if has_obs:
            obs = _ragged(units, "obs_intervals", u).reshape(-1, 2) * 1000.0
            tol = 1e-6
            inside = (obs[None, :, 0] <= win_lo[:, None] + tol) & (
                obs[None, :, 1] >= win_hi[:, None] - tol
            )
            observed = inside.any(axis=1)
        for r in np.flatnonzero(observed):
            counts[rep[r], stim_idx[r], u] = c[r]

    # coordinates
    stim_coords: dict[str, Any] = {}
    names = list(meta["stimulus_coords"]) if stored_layout else list(stimulus_columns)
    first_row = {}
    for r in range(n_rows):
        first_row.setdefault(int(stim_idx[r]), r)
    for c in names:
        stim_coords[c] = np.asarray([_plain(col_values[c][first_row[s]]) for s in range(n_stim)])
    neuron_coords: dict[str, Any] = {}
    if meta is not None:
        for c in meta["neuron_coords"]:
            neuron_coords[c] = np.asarray([_plain(v) for v in units[c].data[:]])
    else:
        if neuron_column in unit_cols:
            ids = units[neuron_column].data[:]
            neuron_coords["neuron_id"] = np.asarray([_plain(v) for v in ids])
        else:
            neuron_coords["neuron_id"] = np.asarray(units.id.data[:])
    allow_nan = bool(np.isnan(counts).any())
    if not allow_nan:
        counts = counts.astype(np.int64)
    attrs = dict(meta["attrs"]) if meta is not None else {}
    source = attrs.pop("source", None) or f"nwb:{path.name}"
    for key in ("bin_ms", "units"):
        attrs.pop(key, None)
    return make_responses(
        counts,
        bin_ms=bin_ms,
        stimulus_coords=stim_coords,
        neuron_coords=neuron_coords,
        time_start_ms=starts,
        source=str(source),
        attrs=attrs,
        allow_nan=allow_nan,
    )
