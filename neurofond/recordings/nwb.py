"""Read spike times from an NWB file into ``Responses`` (via pynwb).

The units table gives spike times (s) per unit; an intervals table (``trials``
by default, or ``epochs`` or any other ``TimeIntervals``) gives one row per
presentation with the stimulus parameters as columns. Trials with the same
parameter values are repetitions of one stimulus.

Also holds the binning helpers shared with :mod:`neurofond.recordings.neo_blocks`.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurofond.responses import make_responses

__all__ = ["load_nwb"]

_RESERVED_INTERVAL_COLUMNS = {"start_time", "stop_time", "tags", "timeseries", "id"}
_SKIP_UNIT_COLUMNS = {
    "spike_times",
    "obs_intervals",
    "electrodes",
    "electrode_group",
    "waveform_mean",
    "waveform_sd",
    "waveforms",
}


# ----------------------------------------------------------------------------- shared helpers


_OBS_TOL_MS = 1e-6


def _window_edges(bin_ms: float, window_ms: Sequence[float]) -> np.ndarray:
    """Bin edges (ms, relative to the alignment time) covering ``window_ms``."""
    try:
        bin_ms = float(bin_ms)
    except (TypeError, ValueError) as err:
        raise ValueError(f"bin_ms: expected a positive number of ms, got {bin_ms!r}") from err
    if not np.isfinite(bin_ms) or bin_ms <= 0:
        raise ValueError(f"bin_ms: expected a positive number of ms, got {bin_ms!r}")
    try:
        start, stop = (float(v) for v in window_ms)
    except (TypeError, ValueError) as err:
        raise ValueError(f"window_ms: expected (start, stop) in ms, got {window_ms!r}") from err
    if not (np.isfinite(start) and np.isfinite(stop)) or stop <= start:
        raise ValueError(f"window_ms: expected start < stop (ms), got {window_ms!r}")
    n = (stop - start) / bin_ms
    n_bins = int(round(n))
    if n_bins < 1 or abs(n - n_bins) > 1e-6:
        raise ValueError(
            f"window_ms: the window {stop - start:g} ms is not a whole number of bins of "
            f"bin_ms={bin_ms:g} ms"
        )
    return start + bin_ms * np.arange(n_bins + 1)


def _count(spike_times_ms: np.ndarray, onsets_ms: np.ndarray, edges_ms: np.ndarray) -> np.ndarray:
    """Counts in half-open bins [edge_k, edge_k+1) after each onset.

    Returns an array of shape (n_trials, n_bins).
    """
    st = np.sort(np.asarray(spike_times_ms, dtype=float).ravel())
    grid = onsets_ms[:, None] + edges_ms[None, :]
    idx = np.searchsorted(st, grid.ravel(), side="left").reshape(grid.shape)
    return np.diff(idx, axis=1)


def _plain(value: Any) -> Any:
    """A hashable plain-Python scalar for a stimulus parameter value."""
    if hasattr(value, "magnitude") and hasattr(value, "dimensionality"):  # quantities
        value = np.asarray(value.magnitude)
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise TypeError(f"non-scalar value of shape {value.shape}")
        value = value.reshape(()).item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode()
    if not isinstance(value, Hashable):
        raise TypeError(f"unhashable value {value!r}")
    return value


def _group_trials(keys: list[tuple]) -> tuple[list[tuple], np.ndarray, np.ndarray]:
    """Map per-trial parameter tuples to stimulus and repetition indices.

    Stimuli are sorted by their parameter values when those are comparable,
    else kept in order of first appearance.
    """
    unique = list(dict.fromkeys(keys))
    try:
        unique = sorted(unique)
    except TypeError:
        pass
    index = {k: i for i, k in enumerate(unique)}
    stim = np.array([index[k] for k in keys], dtype=int)
    rep = np.zeros(len(keys), dtype=int)
    seen = np.zeros(len(unique), dtype=int)
    for t, s in enumerate(stim):
        rep[t] = seen[s]
        seen[s] += 1
    return unique, stim, rep


def _assemble(per_trial: np.ndarray, stim: np.ndarray, rep: np.ndarray, n_stim: int) -> np.ndarray:
    """(n_trials, neuron, time) -> (max_reps, stimulus, neuron, time), NaN-padded."""
    n_rep = int(rep.max()) + 1 if rep.size else 0
    out = np.full((n_rep, n_stim) + per_trial.shape[1:], np.nan, dtype=np.float32)
    out[rep, stim] = per_trial
    return out


def _stimulus_coords(columns: Sequence[str], unique: list[tuple], stim: np.ndarray) -> dict:
    coords: dict[str, Any] = {}
    for j, name in enumerate(columns):
        values = [k[j] for k in unique]
        try:
            coords[name] = np.asarray(values)
        except (TypeError, ValueError):
            coords[name] = np.asarray(values, dtype=object)
    coords["n_repetitions"] = np.bincount(stim, minlength=len(unique))
    if "stimulus_id" not in coords:
        coords["stimulus_id"] = np.arange(len(unique))
    return coords


# ----------------------------------------------------------------------------- NWB


def _intervals_table(nwb: Any, name: str, path: Path) -> Any:
    table = None
    intervals = getattr(nwb, "intervals", None) or {}
    if name in intervals:
        table = intervals[name]
    elif name in ("trials", "epochs"):
        table = getattr(nwb, name, None)
    if table is None:
        raise ValueError(
            f"{path}: no intervals table {name!r} (tables present: {sorted(intervals) or 'none'}); "
            "pass intervals=<name> of a table whose rows are stimulus presentations"
        )
    return table


def load_nwb(
    path: str | os.PathLike[str],
    bin_ms: float,
    window_ms: Sequence[float],
    stimulus_columns: Sequence[str] | None = None,
    *,
    intervals: str = "trials",
    align_column: str = "start_time",
) -> xr.DataArray:
    """Bin the units' spike times of an NWB file around each presentation.

    Parameters
    ----------
    path : path-like
        An NWB (HDF5) file with a ``units`` table and an intervals table.
    bin_ms : float
        Bin width in ms.
    window_ms : (float, float)
        Window ``(start, stop)`` in ms relative to each row's ``align_column``
        time; must be a whole number of bins. Bins are half-open
        ``[start, start + bin_ms)``.
    stimulus_columns : sequence of str, optional
        Columns of the intervals table that define a stimulus; rows with equal
        values are repetitions. Default: every column with scalar values
        except ``start_time``, ``stop_time``, ``tags``, ``timeseries`` and
        ``align_column``.
    intervals : str
        Name of the intervals table: ``"trials"`` (default), ``"epochs"`` or
        any table in ``nwbfile.intervals``.
    align_column : str
        Column giving the alignment time (s) of each row; default
        ``"start_time"``.

    Returns
    -------
    xarray.DataArray
        ``Responses`` (float32 counts). ``trial`` = repetition index (NaN-padded
        when stimuli have unequal repetition counts); ``stimulus`` coords = the
        stimulus columns, ``n_repetitions`` and ``stimulus_id`` (the column of
        that name if present, else ``0..n-1``); ``neuron`` coords =
        ``neuron_id`` (column ``neuron_id`` or ``unit_name`` if present, else
        ``"unit<id>"``), ``unit_id`` and the units table's other scalar
        columns; ``time`` bins relative to the alignment time. When the units
        table has ``obs_intervals``, a unit's counts in a trial whose window is
        not inside one of its observation intervals are NaN (not observed).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file cannot be read as NWB, lacks a units or intervals table,
        a requested column is missing, or ``bin_ms``/``window_ms`` are invalid.

    Examples
    --------
    >>> r = load_nwb("session.nwb", bin_ms=10, window_ms=(-100, 400),
    ...              stimulus_columns=["orientation", "contrast"])  # doctest: +SKIP
    """
    from pynwb import NWBHDF5IO

    edges = _window_edges(bin_ms, window_ms)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such NWB file")
    try:
        io = NWBHDF5IO(str(path), "r", load_namespaces=True)
    except Exception as err:  # h5py / hdmf raise many types
        raise ValueError(
            f"{path}: not a readable NWB (HDF5) file ({type(err).__name__}: {err})"
        ) from err
    with io:
        try:
            nwb = io.read()
        except Exception as err:
            raise ValueError(
                f"{path}: cannot read NWB content ({type(err).__name__}: {err})"
            ) from err
        table = _intervals_table(nwb, intervals, path)
        df = table.to_dataframe()
        if align_column not in df.columns:
            raise ValueError(
                f"align_column: {align_column!r} is not a column of {intervals!r} "
                f"(columns: {list(df.columns)})"
            )
        if stimulus_columns is None:
            stimulus_columns = [
                c
                for c in df.columns
                if c not in _RESERVED_INTERVAL_COLUMNS
                and c != align_column
                and _scalar_column(df[c])
            ]
        else:
            stimulus_columns = list(stimulus_columns)
            absent = [c for c in stimulus_columns if c not in df.columns]
            if absent:
                raise ValueError(
                    f"stimulus_columns: {absent} not in table {intervals!r} "
                    f"(columns: {list(df.columns)})"
                )
        if len(df) == 0:
            raise ValueError(f"{path}: intervals table {intervals!r} has no rows")
        try:
            keys = [
                tuple(_plain(v) for v in row)
                for row in df[stimulus_columns].itertuples(index=False)
            ]
        except TypeError as err:
            raise ValueError(f"stimulus_columns: non-scalar values ({err})") from err
        onsets_ms = np.asarray(df[align_column], dtype=float) * 1000.0

        units = nwb.units
        if units is None or len(units) == 0:
            raise ValueError(
                f"{path}: no units table (or it is empty); expected sorted spike times"
            )
        colnames = set(units.colnames)
        if "spike_times" not in colnames:
            raise ValueError(f"{path}: the units table has no 'spike_times' column")
        n_units = len(units)
        per_trial = np.empty((len(df), n_units, edges.size - 1), dtype=np.float32)
        for u in range(n_units):
            st_ms = np.asarray(units.get_unit_spike_times(u), dtype=float) * 1000.0
            per_trial[:, u, :] = _count(st_ms, onsets_ms, edges)
            if "obs_intervals" in colnames:
                obs = (
                    np.asarray(units.get_unit_obs_intervals(u), dtype=float).reshape(-1, 2) * 1000.0
                )
                # times are stored in seconds: allow the round-off of s <-> ms (1e-6 ms, as
                # nwb_to_responses) when a window starts or ends exactly at an interval edge
                lo = onsets_ms + edges[0] + _OBS_TOL_MS
                hi = onsets_ms + edges[-1] - _OBS_TOL_MS
                inside = np.any(
                    (obs[None, :, 0] <= lo[:, None]) & (hi[:, None] <= obs[None, :, 1]), axis=1
                )
                per_trial[~inside, u, :] = np.nan
        neuron = _unit_coords(units, colnames)
        meta = {
            "file": path.name,
            "session_description": str(nwb.session_description),
            "identifier": str(nwb.identifier),
            "session_start_time": str(nwb.session_start_time),
        }

    unique, stim, rep = _group_trials(keys)
    counts = _assemble(per_trial, stim, rep, len(unique))
    attrs = {
        **meta,
        "intervals": intervals,
        "align_column": align_column,
        "window_ms": [float(edges[0]), float(edges[-1])],
        "time_reference": f"{intervals}.{align_column}",
    }
    return make_responses(
        counts,
        bin_ms=float(bin_ms),
        stimulus_coords=_stimulus_coords(stimulus_columns, unique, stim),
        neuron_coords=neuron,
        time_start_ms=edges[:-1],
        source=f"nwb:{path.name}",
        attrs=attrs,
        allow_nan=True,
    )


def _scalar_column(series: Any) -> bool:
    try:
        for v in series:
            _plain(v)
    except TypeError:
        return False
    return True


def _unit_coords(units: Any, colnames: set[str]) -> dict[str, np.ndarray]:
    ids = np.asarray(units.id[:])
    coords: dict[str, np.ndarray] = {}
    for col in units.colnames:
        if col in _SKIP_UNIT_COLUMNS:
            continue
        try:
            values = [_plain(v) for v in units[col][:]]
        except (TypeError, ValueError):
            continue
        coords[col] = np.asarray(values)
    name_col = next((c for c in ("neuron_id", "unit_name") if c in coords), None)
    coords["unit_id"] = ids
    if name_col is not None:
        coords["neuron_id"] = coords[name_col].astype(str)
    else:
        coords["neuron_id"] = np.array([f"unit{i}" for i in ids])
    return coords
