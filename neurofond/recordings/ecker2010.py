"""Reader for the Ecker et al. (2010) / Berens et al. (2012) binned V1 grating releases.

Awake macaque V1, tetrode single units, released by A. S. Tolias, A. S. Ecker,
P. Berens and M. Bethge (http://bethgelab.org/datasets/v1gratings/) under
CC BY-NC-ND 3.0. The data files are not part of neurofond: see the dataset
cards ``datasets/ecker2010_v1_gratings.md`` and
``datasets/ecker2010_v1_gratings_drifting.md``.

File layout (MATLAB v5, from the release's ``data_README.m``): a cell array
``data`` with one struct per recording session, fields

- ``date``: date / time stamp of the session;
- ``subject``: monkey identifier (``"H"``, ``"D"``);
- ``conditions``: struct array, one element per condition, with ``contrast``
  (percent) and ``orientation`` (deg; static release) or ``direction`` (deg;
  drifting release);
- ``contamination``: per unit (the authors used units with contamination
  < 0.05);
- ``tetrode``: per unit, the tetrode it was recorded on;
- ``spikes``: ``units x conditions x time bins x repetitions`` spike counts
  (uint8), 10 ms bins;
- ``times``: bin centres in ms relative to stimulus onset (-195 .. 695).

Static release (``data_v1_binned_static.mat``): 17 sessions, 307 units
(before the contamination criterion), 500 ms static gratings, 8 orientations
(7 in four sessions of monkey D) x 2 contrasts per session, 10 to 85
repetitions; the contrast pair varies by session ({1, 10}, {10, 100},
{3, 100}, {2, 30}, {20, 50} %). Monkey D's orientations are stored rounded to
whole degrees (22, 67, 112, 158 for 22.5, 67.5, 112.5, 157.5); pass
``snap_orientation_deg=22.5`` to map them onto the nominal grid.

Repetitions
-----------
In the static release every condition of a session has the same number of
repetitions and no repetition is empty (no trial without a single spike in
all units and bins), so nothing is padded. The reader nevertheless handles
unequal repetition counts without dropping trials: a ``spikes`` array stored
as floating point with NaN for missing repetitions keeps its NaN, and a
``spikes`` field stored as a cell array with one ``units x bins x reps``
array per condition is NaN-padded to the largest repetition count. All-zero
repetitions in an integer array cannot be told apart from real silent trials
and are kept as zeros; :func:`summarize_ecker2010` reports how many there are
(``n_empty_trials``). The number of valid repetitions per condition is the
``n_repetitions`` coordinate along ``stimulus``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io
import xarray as xr

from neurofond.responses import make_responses

__all__ = [
    "load_ecker2010",
    "summarize_ecker2010",
    "ECKER2010_CITATION",
    "ECKER2010_LICENSE",
    "ECKER2010_STIMULUS",
]

ECKER2010_CITATION = (
    "Ecker AS, Berens P, Keliris GA, Bethge M, Logothetis NK, Tolias AS (2010) Decorrelated "
    "neuronal firing in cortical microcircuits. Science 327:584-587. "
    "Berens P, Ecker AS, Cotton RJ, Ma WJ, Bethge M, Tolias AS (2012) A fast and simple "
    "population code for orientation in primate V1. J Neurosci 32:10618-10626. "
    "Data: A. S. Tolias, A. S. Ecker, P. Berens, M. Bethge, http://bethgelab.org/datasets/v1gratings/"
)
ECKER2010_LICENSE = "CC BY-NC-ND 3.0 Unported (https://creativecommons.org/licenses/by-nc-nd/3.0/)"

#: Assumed stimulus parameters of the Ecker 2010 static gratings (not in the release, whose
#: data_README.m documents only orientation and contrast): full-field sine-wave gratings at
#: 3 cycles/deg (a typical preferred spatial frequency of parafoveal macaque V1), phase 0 deg,
#: mean gray 0.5, on an 8 deg field rendered at 256 px (32 px/deg). The one source of these
#: values for the in-silico re-creation of the experiment (analyses, the local Brain-Score
#: benchmarks); keys ``sf_cpd``, ``phase_deg``, ``size_deg``, ``size_px``, ``mean``.
ECKER2010_STIMULUS: dict[str, float] = {"sf_cpd": 3.0, "phase_deg": 0.0, "size_deg": 8.0,
                                        "size_px": 256, "mean": 0.5}

_STATIC_DESCRIPTION = (
    "static gratings presented for 500 ms (onset at 0 ms, offset at 500 ms); per session "
    "8 orientations (7 in four sessions of monkey D) x 2 contrasts; monkey D orientations are "
    "stored rounded to whole degrees. Spatial frequency, size and phase are not documented in "
    "the release files (data_README.m); see the methods of Ecker et al. 2010 and Berens et al. "
    "2012."
)
_DRIFTING_DESCRIPTION = (
    "drifting gratings (direction in deg, contrast in %), same binned layout as the static "
    "release; stimulus timing and spatial parameters are not documented in the file; see the "
    "methods of Ecker et al. 2010."
)
_FIELDS = ("date", "subject", "conditions", "contamination", "tetrode", "spikes", "times")
_EXPECTED = (
    "expected the Ecker et al. 2010 binned grating release: a MATLAB v5 .mat file with a cell "
    "array 'data' of session structs with fields " + ", ".join(_FIELDS)
)
_MAX_BYTES = 2 * 1024**3


@dataclass
class _Session:
    index: int
    date: str
    subject: str
    angle_name: str  # "orientation" or "direction"
    angles: np.ndarray  # (n_cond,) deg, as stored
    contrast_pct: np.ndarray  # (n_cond,)
    contamination: np.ndarray  # (n_units,)
    tetrode: np.ndarray  # (n_units,)
    spikes: np.ndarray  # (n_units, n_cond, n_bins, n_reps) float32, NaN = missing
    n_repetitions: np.ndarray  # (n_cond,) valid repetitions per condition
    times: np.ndarray  # (n_bins,) bin centres, ms
    bin_ms: float


# ----------------------------------------------------------------------------- file parsing


def _default_path(dataset: str) -> Path:
    from neurofond.datasets import dataset_file

    return dataset_file(dataset)


def _read_file(path: Path) -> list[_Session]:
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.mat"))
        hint = f" (.mat files in it: {', '.join(found)})" if found else ""
        raise ValueError(f"path: {path} is a directory; expected the .mat file{hint}; {_EXPECTED}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file ({_EXPECTED})")
    try:
        mat = scipy.io.loadmat(str(path), squeeze_me=False, struct_as_record=True)
    except NotImplementedError as err:  # MATLAB v7.3 = HDF5
        raise ValueError(
            f"{path}: MATLAB v7.3 (HDF5) files are not supported; {_EXPECTED}"
        ) from err
    except Exception as err:  # scipy raises many types for corrupt files
        raise ValueError(
            f"{path}: not a readable MATLAB v5 file (corrupt, truncated or another format: "
            f"{type(err).__name__}: {err}); {_EXPECTED}"
        ) from err
    if "data" not in mat:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise ValueError(
            f"{path}: no variable 'data' (variables found: {found or 'none'}; the file may be "
            f"truncated or a different dataset); {_EXPECTED}"
        )
    data = mat["data"]
    if not isinstance(data, np.ndarray) or data.dtype != object or data.size == 0:
        raise ValueError(
            f"{path}: 'data' is not a non-empty cell array (got {type(data).__name__} "
            f"{getattr(data, 'dtype', '')} {getattr(data, 'shape', '')}); {_EXPECTED}"
        )
    return [_parse_session(path, k, cell) for k, cell in enumerate(data.ravel())]


def _parse_session(path: Path, index: int, cell: Any) -> _Session:
    where = f"{path}: data{{{index + 1}}}"
    if not isinstance(cell, np.ndarray) or cell.dtype.names is None or cell.size != 1:
        raise ValueError(f"{where} is not a struct; {_EXPECTED}")
    missing = [f for f in _FIELDS if f not in cell.dtype.names]
    if missing:
        raise ValueError(f"{where} lacks field(s) {missing}; {_EXPECTED}")
    s = cell.ravel()[0]
    try:
        date = _text(s["date"])
        subject = _text(s["subject"])
        angle_name, angles, contrast = _parse_conditions(where, s["conditions"])
        contamination = np.asarray(s["contamination"], dtype=float).ravel()
        tetrode = np.asarray(s["tetrode"]).ravel().astype(int)
        times = np.asarray(s["times"], dtype=float).ravel()
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: malformed metadata ({err}); {_EXPECTED}") from err
    n_cond, n_units, n_bins = angles.size, contamination.size, times.size
    if tetrode.size != n_units:
        raise ValueError(f"{where}: {tetrode.size} tetrode entries for {n_units} units")
    if n_bins < 1:
        raise ValueError(f"{where}: empty 'times'; {_EXPECTED}")
    if n_bins > 1:
        steps = np.diff(times)
        if not np.allclose(steps, steps[0]) or steps[0] <= 0:
            raise ValueError(f"{where}: 'times' are not evenly spaced increasing bin centres")
        bin_ms = float(steps[0])
    else:
        bin_ms = 10.0
    spikes, n_reps = _parse_spikes(where, s["spikes"], n_units, n_cond, n_bins)
    return _Session(
        index=index,
        date=date,
        subject=subject,
        angle_name=angle_name,
        angles=angles,
        contrast_pct=contrast,
        contamination=contamination,
        tetrode=tetrode,
        spikes=spikes,
        n_repetitions=n_reps,
        times=times,
        bin_ms=bin_ms,
    )


def _text(value: Any) -> str:
    arr = np.asarray(value).ravel()
    return "".join(str(v) for v in arr)


def _parse_conditions(where: str, cond: Any) -> tuple[str, np.ndarray, np.ndarray]:
    names = getattr(getattr(cond, "dtype", None), "names", None)
    if names is None or "contrast" not in names:
        raise ValueError(f"{where}: 'conditions' must be a struct array with a 'contrast' field")
    if "orientation" in names and "direction" not in names:
        angle_name = "orientation"
    elif "direction" in names:
        angle_name = "direction"
    else:
        raise ValueError(
            f"{where}: 'conditions' has fields {list(names)}; expected 'contrast' and "
            "'orientation' (static release) or 'direction' (drifting release)"
        )
    items = cond.ravel()
    if items.size == 0:
        raise ValueError(f"{where}: no conditions")
    angles = np.array([float(np.squeeze(c[angle_name])) for c in items])
    contrast = np.array([float(np.squeeze(c["contrast"])) for c in items])
    return angle_name, angles, contrast


def _parse_spikes(
    where: str, raw: Any, n_units: int, n_cond: int, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    raw = np.asarray(raw)
    if raw.dtype == object:  # one units x bins x reps array per condition
        parts = list(raw.ravel())
        if len(parts) != n_cond:
            raise ValueError(
                f"{where}: 'spikes' cell has {len(parts)} entries for {n_cond} conditions"
            )
        arrays = []
        for c, part in enumerate(parts):
            a = np.asarray(part)
            if a.ndim == 2:
                a = a[:, :, None]
            if a.ndim != 3 or a.shape[:2] != (n_units, n_bins) or a.dtype.kind not in "biuf":
                raise ValueError(
                    f"{where}: 'spikes'{{{c + 1}}} has shape {a.shape} dtype {a.dtype}; expected "
                    f"numeric ({n_units}, {n_bins}, repetitions)"
                )
            arrays.append(a)
        n_max = max(a.shape[2] for a in arrays)
        spikes = np.full((n_units, n_cond, n_bins, n_max), np.nan, dtype=np.float32)
        for c, a in enumerate(arrays):
            spikes[:, c, :, : a.shape[2]] = a
    else:
        if raw.dtype.kind not in "biuf":
            raise ValueError(f"{where}: 'spikes' has non-numeric dtype {raw.dtype}")
        if raw.ndim == 3:  # MATLAB drops a trailing singleton repetition dim
            raw = raw[..., None]
        if raw.ndim != 4 or raw.shape[:3] != (n_units, n_cond, n_bins):
            raise ValueError(
                f"{where}: 'spikes' has shape {raw.shape}; expected (units={n_units}, "
                f"conditions={n_cond}, bins={n_bins}, repetitions)"
            )
        spikes = raw.astype(np.float32)
    finite = spikes[np.isfinite(spikes)]
    if (finite < 0).any() or np.isinf(spikes).any():
        raise ValueError(f"{where}: 'spikes' contains negative or infinite counts")
    # a repetition is valid when any unit/bin holds a number (NaN marks padding)
    valid = ~np.all(np.isnan(spikes), axis=(0, 2))  # (cond, reps)
    if n_units == 0:
        valid = np.ones(spikes.shape[1::2], dtype=bool)
    return spikes, valid.sum(axis=1)


# ----------------------------------------------------------------------------- public API


def _select_sessions(
    sessions: list[_Session], session: int | Iterable[int] | None, path: Path
) -> list[_Session]:
    n = len(sessions)
    if session is None:
        return sessions
    if isinstance(session, (int, np.integer)):
        wanted: list[Any] = [session]
    elif isinstance(session, (str, bytes)) or not isinstance(session, Iterable):
        raise ValueError(f"session: expected None, an int or a list of ints, got {session!r}")
    else:
        wanted = list(session)
    out = []
    chosen: set[int] = set()
    for k in wanted:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < n:
            raise ValueError(
                f"session: expected an int in 0..{n - 1} (or a list of them) for {path.name}, "
                f"got {k!r}"
            )
        if int(k) in chosen:  # the same neurons twice would count as independent units
            raise ValueError(f"session: {int(k)} is selected twice in {list(wanted)!r}")
        chosen.add(int(k))
        out.append(sessions[int(k)])
    if not out:
        raise ValueError("session: empty selection")
    return out


def _check_contamination(max_contamination: float | None) -> None:
    if max_contamination is None:
        return
    if not np.isfinite(max_contamination) or max_contamination <= 0:
        raise ValueError(
            f"max_contamination: expected a positive number (the authors used 0.05) or None, "
            f"got {max_contamination!r}"
        )


def _angles(sess: _Session, snap: float | None) -> np.ndarray:
    if snap is None:
        return sess.angles
    if not np.isfinite(snap) or snap <= 0:
        raise ValueError(f"snap_orientation_deg: expected a positive step in deg, got {snap!r}")
    snapped = np.round(sess.angles / snap) * snap
    if np.any(np.abs(snapped - sess.angles) > 1.0):
        raise ValueError(
            f"snap_orientation_deg={snap}: session {sess.index} has angles {sess.angles.tolist()} "
            "more than 1 deg away from the grid"
        )
    return snapped


def _stim_id(angle_name: str, angle: float, pct: float) -> str:
    prefix = "ori" if angle_name == "orientation" else "dir"
    return f"{prefix}{angle:g}_c{pct:g}"


def _stimulus_coords(angle_name: str, angles: np.ndarray, pct: np.ndarray) -> dict[str, Any]:
    coords: dict[str, Any] = {}
    if angle_name == "direction":
        coords["direction"] = angles
        coords["orientation"] = np.mod(angles, 180.0)
    else:
        coords["orientation"] = angles
    coords["contrast"] = pct / 100.0
    coords["contrast_pct"] = pct
    coords["stimulus_id"] = np.array([_stim_id(angle_name, a, c) for a, c in zip(angles, pct)])
    return coords


def _base_attrs(path: Path, angle_name: str, max_contamination: float | None, bin_ms: float):
    static = angle_name == "orientation"
    attrs: dict[str, Any] = {
        "bin_ms": bin_ms,
        "dataset": "ecker2010_v1_gratings" if static else "ecker2010_v1_gratings_drifting",
        "release": "static" if static else "drifting",
        "file": path.name,
        "citation": ECKER2010_CITATION,
        "license": ECKER2010_LICENSE,
        "species": "macaque monkey (awake)",
        "area": "V1",
        "stimulus": _STATIC_DESCRIPTION if static else _DRIFTING_DESCRIPTION,
        "stimulus_onset_ms": 0.0,
        "max_contamination": "none" if max_contamination is None else float(max_contamination),
        "time_reference": "stimulus onset",
    }
    if static:
        attrs["stimulus_duration_ms"] = 500.0
    return attrs


def _session_responses(
    sess: _Session, path: Path, max_contamination: float | None, snap: float | None
) -> xr.DataArray:
    keep = (
        np.ones(sess.contamination.size, bool)
        if max_contamination is None
        else sess.contamination < max_contamination
    )
    units = np.flatnonzero(keep)
    counts = sess.spikes[units].transpose(3, 1, 0, 2)  # reps, cond, units, bins
    stim = _stimulus_coords(sess.angle_name, _angles(sess, snap), sess.contrast_pct)
    if snap is not None:
        stim[f"{sess.angle_name}_stored"] = sess.angles
    stim["condition"] = np.arange(sess.angles.size)
    stim["n_repetitions"] = sess.n_repetitions
    neuron = {
        "neuron_id": np.array([f"s{sess.index:02d}_u{u:03d}" for u in units]),
        "session": np.full(units.size, sess.index),
        "session_date": np.full(units.size, sess.date, dtype=object).astype(str),
        "subject": np.full(units.size, sess.subject, dtype=object).astype(str),
        "tetrode": sess.tetrode[units],
        "contamination": sess.contamination[units],
        "unit_index": units,
    }
    attrs = _base_attrs(path, sess.angle_name, max_contamination, sess.bin_ms)
    attrs.update(session=sess.index, session_date=sess.date, subject=sess.subject)
    return make_responses(
        np.ascontiguousarray(counts),
        bin_ms=sess.bin_ms,
        stimulus_coords=stim,
        neuron_coords=neuron,
        time_start_ms=sess.times - sess.bin_ms / 2.0,
        source="ecker2010",
        attrs=attrs,
        allow_nan=True,
    )


def _concat(parts: list[xr.DataArray], sessions: list[_Session], path: Path) -> xr.DataArray:
    first = sessions[0]
    for sess in sessions[1:]:
        if sess.angle_name != first.angle_name:
            raise ValueError("concat: sessions mix orientation and direction conditions")
        if sess.times.shape != first.times.shape or not np.allclose(sess.times, first.times):
            raise ValueError(
                f"concat: session {sess.index} has different time bins than session {first.index}"
            )
    angle = first.angle_name
    keys = sorted(
        {
            (float(a), float(c))
            for p in parts
            for a, c in zip(p[angle].values, p["contrast_pct"].values)
        }
    )
    index = {k: i for i, k in enumerate(keys)}
    n_trials = max(p.sizes["trial"] for p in parts)
    n_neurons = sum(p.sizes["neuron"] for p in parts)
    n_bins = first.times.size
    nbytes = 4 * n_trials * len(keys) * n_neurons * n_bins
    if nbytes > _MAX_BYTES:
        raise ValueError(
            f"concat: the union array would take {nbytes / 1e9:.1f} GB; select fewer sessions "
            "or sessions sharing their conditions"
        )
    counts = np.full((n_trials, len(keys), n_neurons, n_bins), np.nan, dtype=np.float32)
    n_sessions = np.zeros(len(keys), dtype=int)
    start = 0
    for p in parts:
        cols = [
            index[(float(a), float(c))] for a, c in zip(p[angle].values, p["contrast_pct"].values)
        ]
        stop = start + p.sizes["neuron"]
        counts[: p.sizes["trial"], cols, start:stop, :] = p.values
        n_sessions[cols] += 1
        start = stop
    angles = np.array([k[0] for k in keys])
    pct = np.array([k[1] for k in keys])
    stim = _stimulus_coords(angle, angles, pct)
    stim["n_sessions"] = n_sessions
    neuron_names = [
        name for name, c in parts[0].coords.items() if c.dims == ("neuron",) and name != "neuron"
    ]
    neuron = {name: np.concatenate([p[name].values for p in parts]) for name in neuron_names}
    attrs = _base_attrs(path, angle, _attr_contamination(parts[0]), first.bin_ms)
    attrs["sessions"] = [s.index for s in sessions]
    attrs["concat"] = (
        "neurons of several sessions; stimulus = union of the sessions' conditions, NaN where a "
        "session did not show a condition; trial = repetition index, NaN-padded to the largest "
        "repetition count"
    )
    return make_responses(
        counts,
        bin_ms=first.bin_ms,
        stimulus_coords=stim,
        neuron_coords=neuron,
        time_start_ms=first.times - first.bin_ms / 2.0,
        source="ecker2010",
        attrs=attrs,
        allow_nan=True,
    )


def _attr_contamination(part: xr.DataArray) -> float | None:
    value = part.attrs.get("max_contamination")
    return None if value == "none" else value


def load_ecker2010(
    path: str | os.PathLike[str] | None = None,
    session: int | Iterable[int] | None = None,
    max_contamination: float | None = 0.05,
    concat: bool = False,
    *,
    snap_orientation_deg: float | None = None,
    dataset: str = "ecker2010_v1_gratings",
) -> list[xr.DataArray] | xr.DataArray:
    """Load the Ecker et al. 2010 binned grating release as ``Responses``.

    Parameters
    ----------
    path : path-like, optional
        The ``.mat`` file. Default: the first file of registry dataset
        ``dataset`` found by :func:`neurofond.datasets.dataset_path`
        (``$NEUROFOND_DATA_DIR``, ``../shared/data``, ``~/.cache/neurofond``).
    session : int or list of int, optional
        0-based session indices into the file's ``data`` cell array
        (0..16 for the static release), each at most once. Default: all sessions.
    max_contamination : float or None
        Keep units with ``contamination < max_contamination`` (default 0.05,
        the authors' criterion). ``None`` keeps every unit.
    concat : bool
        If False (default) return one ``Responses`` per session. If True,
        return one ``Responses`` with the neurons of all selected sessions
        (``session`` coordinate on ``neuron``). Sessions show different
        conditions, so the ``stimulus`` axis of the result is the **union**
        of the sessions' (orientation or direction, contrast) conditions,
        sorted by angle then contrast, and a neuron's counts are NaN for
        conditions its session did not show. The ``trial`` axis is
        NaN-padded to the largest repetition count. Sessions 12-16 share
        the same conditions ({20, 50} %), so concatenating them adds no NaN
        conditions. Raises ``ValueError`` if the union array would exceed
        2 GB or the sessions have different time bins. The ``n_sessions``
        stimulus coordinate counts the sessions that showed each condition.
    snap_orientation_deg : float, optional
        Round stored angles to the nearest multiple of this step (e.g. 22.5:
        monkey D sessions store 22, 67, 112, 158 for 22.5, 67.5, 112.5, 157.5
        deg). The stored values are kept in ``orientation_stored``
        (``direction_stored``). Useful before ``concat=True``.
    dataset : str
        Registry name used when ``path`` is None
        (``"ecker2010_v1_gratings"`` or ``"ecker2010_v1_gratings_drifting"``).

    Returns
    -------
    list of xarray.DataArray, or xarray.DataArray if ``concat``
        ``Responses`` (float32 spike counts; NaN = missing repetition) with
        dims ``(trial, stimulus, neuron, time)``:

        - ``trial``: repetition index within a condition;
        - ``stimulus`` coords: ``orientation`` (deg; for the drifting release
          ``direction`` (deg) and ``orientation = direction % 180``),
          ``contrast`` (fraction 0-1), ``contrast_pct`` (percent),
          ``stimulus_id`` (e.g. ``"ori22.5_c10"``), ``condition`` (index in
          the file) and ``n_repetitions`` (valid repetitions; per session
          only);
        - ``neuron`` coords: ``neuron_id`` (``"s03_u012"``: 0-based session
          and unit index in the file), ``session``, ``session_date``,
          ``subject``, ``tetrode``, ``contamination``, ``unit_index``;
        - ``time``: 10 ms bins, ``time_start_ms`` from -200 to 690 ms
          relative to stimulus onset;
        - attrs: ``bin_ms``, ``source="ecker2010"``, ``dataset``,
          ``release``, ``citation``, ``license``, ``stimulus`` (description),
          ``stimulus_onset_ms``, ``stimulus_duration_ms`` (static only),
          ``max_contamination``, ``session`` / ``sessions``.

    Raises
    ------
    FileNotFoundError
        If the file (or, with ``path=None``, the dataset) is not found.
    ValueError
        If the file is not a readable MATLAB v5 file with the release's
        layout (the message names the file and what was expected), ``path``
        is a directory, a session is selected twice, or an argument is invalid.

    Notes
    -----
    Only units with contamination < 0.05 were analysed by Ecker et al. (2010)
    and Berens et al. (2012). Licence CC BY-NC-ND 3.0: use unmodified,
    non-commercially, with attribution; do not redistribute the file or
    arrays derived from it.

    Examples
    --------
    >>> sessions = load_ecker2010()  # doctest: +SKIP
    >>> r = sessions[0]
    >>> r.sel(time=(r.time_start_ms >= 0) & (r.time_end_ms <= 500)).sum("time")  # doctest: +SKIP
    """
    _check_contamination(max_contamination)
    path = _default_path(dataset) if path is None else Path(path)
    sessions = _select_sessions(_read_file(path), session, path)
    parts = [_session_responses(s, path, max_contamination, snap_orientation_deg) for s in sessions]
    if not concat:
        return parts
    return _concat(parts, sessions, path)


def summarize_ecker2010(
    path: str | os.PathLike[str] | None = None,
    max_contamination: float | None = 0.05,
    *,
    dataset: str = "ecker2010_v1_gratings",
):
    """Per-session unit, condition and repetition counts of an Ecker 2010 file.

    Parameters
    ----------
    path, max_contamination, dataset
        As in :func:`load_ecker2010`.

    Returns
    -------
    pandas.DataFrame
        One row per session (index ``session``), columns ``date``,
        ``subject``, ``n_units_total``, ``n_units`` (contamination below the
        threshold), ``n_conditions``, ``n_angles`` (orientations or
        directions), ``contrasts_pct``, ``repetitions_min``,
        ``repetitions_max``, ``n_empty_trials`` (repetitions without a single
        spike in any unit and bin, kept as zeros; 0 everywhere in the static
        release).
    """
    import pandas as pd

    _check_contamination(max_contamination)
    path = _default_path(dataset) if path is None else Path(path)
    rows = []
    for s in _read_file(path):
        n_good = (
            s.contamination.size
            if max_contamination is None
            else int(np.count_nonzero(s.contamination < max_contamination))
        )
        totals = np.nansum(s.spikes, axis=(0, 2))  # (cond, reps)
        valid = ~np.all(np.isnan(s.spikes), axis=(0, 2))
        rows.append(
            {
                "session": s.index,
                "date": s.date,
                "subject": s.subject,
                "n_units_total": s.contamination.size,
                "n_units": n_good,
                "n_conditions": s.angles.size,
                "n_angles": np.unique(s.angles).size,
                "contrasts_pct": ",".join(f"{c:g}" for c in np.unique(s.contrast_pct)),
                "repetitions_min": int(s.n_repetitions.min()),
                "repetitions_max": int(s.n_repetitions.max()),
                "n_empty_trials": int(np.count_nonzero((totals == 0) & valid)),
            }
        )
    return pd.DataFrame(rows).set_index("session")
