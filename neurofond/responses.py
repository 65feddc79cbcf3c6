"""The one shared data model: spike counts as a labelled xarray.

Model spikes and recorded spikes both load into a ``Responses`` array so that
every analysis runs on both without knowing where the spikes came from.

``Responses`` is an :class:`xarray.DataArray` of spike counts with dims
``("trial", "stimulus", "neuron", "time")``:

- ``stimulus`` coords: stimulus parameters (``orientation``, ``sf``, ``contrast``,
  ``phase``, ``stimulus_id`` ...);
- ``neuron`` coords: ``neuron_id`` and optionally positions and ``source``;
- ``time`` coords: ``time_start_ms`` / ``time_end_ms`` (bin edges in ms) and, for
  model spikes, ``step`` (model step index);
- attrs: ``bin_ms`` (bin width in ms), ``ms_per_step`` (model only), ``source``,
  ``units`` ("spikes per bin").

Missing trials (unequal repetition counts in recordings) are NaN; counts are
otherwise non-negative. Use :func:`make_responses` to build one and
:func:`validate_responses` to check one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

DIMS: tuple[str, str, str, str] = ("trial", "stimulus", "neuron", "time")


def make_responses(
    counts: np.ndarray,
    *,
    bin_ms: float,
    stimulus_coords: Mapping[str, Sequence[Any]] | None = None,
    neuron_coords: Mapping[str, Sequence[Any]] | None = None,
    time_start_ms: float | Sequence[float] = 0.0,
    source: str = "unknown",
    attrs: Mapping[str, Any] | None = None,
    allow_nan: bool = False,
) -> xr.DataArray:
    """Build a validated ``Responses`` array from a count array.

    Parameters
    ----------
    counts : ndarray, shape (trial, stimulus, neuron, time)
        Spike counts per bin. Non-negative; NaN only where ``allow_nan``.
    bin_ms : float
        Bin width in milliseconds (> 0).
    stimulus_coords, neuron_coords : mapping of name -> sequence, optional
        Coordinates along ``stimulus`` and ``neuron``; each must have the
        length of that dim. ``stimulus_id`` and ``neuron_id`` default to
        ``0..n-1``.
    time_start_ms : float or sequence of float
        Start of the first bin (scalar; bins are contiguous) or the start of
        every bin.
    source : str
        Where the spikes come from (``"model:<name>"``, ``"ecker2010"`` ...).
    attrs : mapping, optional
        Extra provenance stored in ``.attrs``.
    allow_nan : bool
        Allow NaN entries (padding for missing trials).

    Returns
    -------
    xarray.DataArray
        dims ``("trial", "stimulus", "neuron", "time")``.

    Raises
    ------
    ValueError
        If ``counts`` is not 4-D, contains negative values or disallowed NaN,
        if ``bin_ms`` is not positive, or a coordinate has the wrong length.
    """
    counts = np.asarray(counts)
    if counts.ndim != 4:
        raise ValueError(
            "counts: expected a 4-D array (trial, stimulus, neuron, time), "
            f"got shape {counts.shape}"
        )
    if not np.isfinite(bin_ms) or bin_ms <= 0:
        raise ValueError(f"bin_ms: expected a positive number of milliseconds, got {bin_ms!r}")
    n_trial, n_stim, n_neuron, n_time = counts.shape
    if n_trial == 0:
        raise ValueError("counts: zero trials; expected at least one trial")
    _check_counts(counts, allow_nan=allow_nan, name="counts")

    if np.ndim(time_start_ms) == 0:
        starts = float(time_start_ms) + bin_ms * np.arange(n_time)
    else:
        starts = np.asarray(time_start_ms, dtype=float)
        if starts.shape != (n_time,):
            raise ValueError(
                f"time_start_ms: expected {n_time} bin starts, got shape {starts.shape}"
            )
    coords: dict[str, Any] = {
        "trial": np.arange(n_trial),
        "time_start_ms": ("time", starts),
        "time_end_ms": ("time", starts + bin_ms),
    }
    stim = dict(stimulus_coords or {})
    stim.setdefault("stimulus_id", np.arange(n_stim))
    for name, values in stim.items():
        values = np.asarray(values)
        if values.shape[:1] != (n_stim,):
            raise ValueError(
                f"stimulus_coords[{name!r}]: expected length {n_stim}, got shape {values.shape}"
            )
        coords[name] = ("stimulus", values)
    neur = dict(neuron_coords or {})
    neur.setdefault("neuron_id", np.arange(n_neuron))
    for name, values in neur.items():
        values = np.asarray(values)
        if values.shape[:1] != (n_neuron,):
            raise ValueError(
                f"neuron_coords[{name!r}]: expected length {n_neuron}, got shape {values.shape}"
            )
        coords[name] = ("neuron", values)
    all_attrs = {"bin_ms": float(bin_ms), "source": source, "units": "spikes per bin"}
    all_attrs.update(attrs or {})
    return xr.DataArray(counts, dims=DIMS, coords=coords, attrs=all_attrs, name="spike_counts")


def _check_counts(values: np.ndarray, *, allow_nan: bool, name: str) -> None:
    if values.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numeric spike counts, got dtype {values.dtype}")
    if values.dtype.kind == "f":
        nan = np.isnan(values)
        if nan.any() and not allow_nan:
            raise ValueError(f"{name}: contains NaN; pass allow_nan=True for padded trials")
        if np.isinf(values).any():
            raise ValueError(f"{name}: contains infinite values")
        if (values[~nan] < 0).any():
            raise ValueError(f"{name}: contains negative spike counts")
    elif values.dtype.kind == "i" and (values < 0).any():
        raise ValueError(f"{name}: contains negative spike counts")


def validate_responses(responses: xr.DataArray, *, name: str = "responses") -> xr.DataArray:
    """Check that ``responses`` follows the ``Responses`` convention.

    Returns it unchanged (for chaining).

    Raises
    ------
    TypeError
        If it is not an :class:`xarray.DataArray`.
    ValueError
        If dims, ``bin_ms`` or the counts are invalid.
    """
    if not isinstance(responses, xr.DataArray):
        raise TypeError(f"{name}: expected an xarray.DataArray (Responses), got {type(responses)}")
    if tuple(responses.dims) != DIMS:
        raise ValueError(f"{name}: expected dims {DIMS}, got {tuple(responses.dims)}")
    bin_ms = responses.attrs.get("bin_ms")
    if bin_ms is None or not np.isfinite(bin_ms) or bin_ms <= 0:
        raise ValueError(f"{name}: attrs['bin_ms'] must be a positive number, got {bin_ms!r}")
    if responses.sizes["trial"] == 0:
        raise ValueError(f"{name}: zero trials")
    _check_counts(np.asarray(responses.values), allow_nan=True, name=name)
    return responses


def time_centers_ms(responses: xr.DataArray) -> np.ndarray:
    """Bin centres in ms along ``time``."""
    return 0.5 * (
        np.asarray(responses["time_start_ms"].values) + np.asarray(responses["time_end_ms"].values)
    )
