"""Brain-Score assemblies from neurofond data: recorded ``Responses`` -> NeuroidAssembly.

- :func:`responses_to_assembly`: any ``Responses`` (trial, stimulus, neuron, time) ->
  ``NeuroidAssembly`` (presentation = stimulus x repetition, neuroid; one time bin in
  spikes/s), as Brain-Score's published assemblies; the time window follows the one window
  rule of :class:`neurofond.responses.Window`.
- :func:`ecker2010_assembly`: the pooled Ecker et al. (2010) sessions sharing their 16
  conditions (:data:`ECKER2010_PLS_SESSIONS`), read with
  :func:`neurofond.recordings.load_ecker2010`.
- ``_property_assembly``: a table of per-neuron properties -> ``PropertyAssembly``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from . import _guard  # noqa: F401  (ImportError naming `pip install brainscore-vision`)

# isort: split
from brainscore_core.supported_data_standards.brainio.assemblies import (
    NeuroidAssembly,
    PropertyAssembly,
)

from ..responses import Window

__all__ = [
    "ECKER2010_PLS_SESSIONS",
    "ecker2010_assembly",
    "pd_duplicated",
    "responses_to_assembly",
]

#: Ecker 2010 sessions sharing the same 16 conditions (8 orientations x contrasts 20 % and
#: 50 %; monkey D), pooled by ``ecker2010-pls``.
ECKER2010_PLS_SESSIONS: tuple[int, ...] = (12, 13, 14, 15, 16)


def _object(values: Any) -> np.ndarray:
    arr = np.asarray(values)
    return arr.astype(object) if arr.dtype.kind in "US" else arr


def responses_to_assembly(responses: xr.DataArray, window_ms: Sequence[float], *,
                          region: str = "V1", stimulus_coords: Sequence[str] | None = None,
                          neuron_coords: Sequence[str] | None = None) -> NeuroidAssembly:
    """Recorded ``Responses`` -> Brain-Score NeuroidAssembly with repetitions (one time bin).

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses`` (trial, stimulus, neuron, time) spike counts; NaN =
        missing trial.
    window_ms : (float, float) or Window
        Response window (:class:`neurofond.responses.Window`: the bins lying
        entirely inside it, an edge cutting a bin is an error) ; their counts are
        summed and divided by their total duration (spikes/s).
    region : str
        Value of the ``region`` coordinate (``NeuralBenchmark`` needs one region).
    stimulus_coords, neuron_coords : sequence of str, optional
        Coordinates to carry (default: every 1-D coordinate of the dim).

    Returns
    -------
    NeuroidAssembly
        dims ``(presentation, neuroid)``; ``presentation`` = stimulus x trial
        (stimulus-major) with the stimulus coordinates and ``repetition``;
        ``neuroid`` with ``neuroid_id`` (str) and ``region``; the time bin is
        a squeezed dimension (``time_bin_start``, ``time_bin_end``), as in
        Brain-Score's published assemblies. Trials missing for every neuron
        and stimulus are dropped.
    """
    window = Window.parse(window_ms)
    if tuple(responses.dims) != ("trial", "stimulus", "neuron", "time"):
        raise ValueError(f"responses: expected dims (trial, stimulus, neuron, time), "
                         f"got {responses.dims}")
    rates = window.rates(responses)  # trial, stimulus, neuron (spikes/s)
    present = ~np.all(np.isnan(rates), axis=(1, 2))
    rates = rates[present]
    n_trial, n_stim, n_neuron = rates.shape
    if n_trial == 0:
        raise ValueError("responses: no trial with data")
    data = rates.transpose(1, 0, 2).reshape(n_stim * n_trial, n_neuron)
    stim_names = list(stimulus_coords) if stimulus_coords is not None else [
        k for k, c in responses.coords.items() if c.dims == ("stimulus",) and k != "stimulus"]
    neuron_names = list(neuron_coords) if neuron_coords is not None else [
        k for k, c in responses.coords.items() if c.dims == ("neuron",) and k != "neuron"]
    if "stimulus_id" not in stim_names:
        raise ValueError("responses: a 'stimulus_id' stimulus coordinate is required")
    coords: dict[str, Any] = {}
    for name in stim_names:
        values = _object(responses[name].values)
        coords[name] = ("presentation", np.repeat(values, n_trial))
    coords["stimulus_id"] = ("presentation", np.repeat(
        np.asarray([str(v) for v in responses["stimulus_id"].values], dtype=object), n_trial))
    coords["repetition"] = ("presentation", np.tile(np.flatnonzero(present), n_stim))
    for name in neuron_names:
        coords[name] = ("neuroid", _object(responses[name].values))
    coords["neuroid_id"] = ("neuroid", np.asarray(
        [str(v) for v in responses["neuron_id"].values], dtype=object))
    coords["region"] = ("neuroid", np.asarray([region] * n_neuron, dtype=object))
    t0, t1 = window.start_ms, window.end_ms
    coords["time_bin_start"] = ("time_bin", [int(t0) if t0.is_integer() else t0])
    coords["time_bin_end"] = ("time_bin", [int(t1) if t1.is_integer() else t1])
    assembly = NeuroidAssembly(data[..., None], coords=coords,
                               dims=["presentation", "neuroid", "time_bin"])
    assembly = assembly.squeeze("time_bin")  # 0-d 'time_bin' = (start, end), as Brain-Score's
    assembly = assembly.assign_coords(time_bin_start=coords["time_bin_start"][1][0],
                                      time_bin_end=coords["time_bin_end"][1][0])
    assembly.attrs.update({k: v for k, v in responses.attrs.items()
                           if isinstance(v, (str, int, float))})
    assembly.attrs["window_ms"] = f"{t0:g}-{t1:g}"
    assembly.attrs["units"] = "spikes/s"
    return assembly



def _ecker_path(path: str | Path | None) -> Path | None:
    return None if path is None else Path(path)


def ecker2010_assembly(path: str | Path | None = None, *,
                       sessions: Sequence[int] = ECKER2010_PLS_SESSIONS,
                       window_ms: Sequence[float] = (50.0, 500.0),
                       max_contamination: float = 0.05) -> NeuroidAssembly:
    """The pooled Ecker 2010 sessions as a NeuroidAssembly with repetitions (spikes/s).

    Sessions must share their conditions (after snapping orientations to
    22.5 deg). See the module docstring for the layout.
    """
    from ..recordings import load_ecker2010

    resp = load_ecker2010(_ecker_path(path), session=list(sessions), concat=True,
                          max_contamination=max_contamination, snap_orientation_deg=22.5)
    if int(resp["n_sessions"].min()) != len(sessions):
        raise ValueError(f"sessions: {list(sessions)} do not share their conditions; pool "
                         f"sessions with the same orientation x contrast set (e.g. 12-16)")
    return responses_to_assembly(resp, window_ms, stimulus_coords=[
        "stimulus_id", "orientation", "contrast", "contrast_pct"], neuron_coords=[
        "neuron_id", "session", "subject", "tetrode", "contamination"])


def pd_duplicated(values: np.ndarray) -> np.ndarray:
    """Boolean mask of repeated values (first occurrence False)."""
    _, first = np.unique(values, return_index=True)
    mask = np.ones(len(values), dtype=bool)
    mask[first] = False
    return mask



def _property_assembly(table: Mapping[str, np.ndarray], neuroid_ids: Sequence[Any],
                       names: Sequence[str], attrs: Mapping[str, Any],
                       bins: Mapping[str, np.ndarray] | None = None) -> PropertyAssembly:
    """Per-neuron properties ``table[name]`` -> ``PropertyAssembly`` (neuroid, property).

    ``bins`` adds the histogram bins of a property as ``<name>_bins`` attrs (read by
    Brain-Score's ``ks_similarity``).
    """
    values = np.stack([np.asarray(table[n], dtype=float) for n in names], axis=1)
    n = values.shape[0]
    assembly = PropertyAssembly(values, coords={
        "neuroid_id": ("neuroid", np.asarray([str(v) for v in neuroid_ids], dtype=object)),
        "region": ("neuroid", np.asarray(["V1"] * n, dtype=object)),
        "neuronal_property": list(names)}, dims=["neuroid", "neuronal_property"])
    for name in names:
        if bins is not None and name in bins:
            assembly.attrs[f"{name}_bins"] = bins[name]
    assembly.attrs.update(attrs)
    return assembly
