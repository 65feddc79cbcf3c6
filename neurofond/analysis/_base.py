"""Private helpers shared by every analysis module: one home for input checks, window
selection (delegating to :class:`neurofond.responses.Window`, the one window rule), stimulus
masks (delegating to :func:`neurofond.responses.stimulus_mask`), coordinate copying and
provenance attrs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from neurofond.responses import stimulus_mask, time_edges_ms, validate_responses, window_bins

INV_SQRT2 = 1.0 / np.sqrt(2.0)



def _check_responses(responses: Any, name: str = "responses") -> xr.DataArray:
    """Validate a Responses array and reject empty dimensions."""
    validate_responses(responses, name=name)
    for dim in ("stimulus", "neuron", "time"):
        if responses.sizes[dim] == 0:
            raise ValueError(f"{name}: the {dim!r} dimension is empty")
    return responses


def _time_edges(responses: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    return time_edges_ms(responses)


def _check_contiguous(responses: xr.DataArray, name: str = "responses") -> None:
    starts, ends = _time_edges(responses)
    bin_ms = float(responses.attrs["bin_ms"])
    if not np.allclose(ends - starts, bin_ms, rtol=1e-9, atol=1e-9) or not np.allclose(
        starts[1:], ends[:-1], rtol=1e-9, atol=1e-9
    ):
        raise ValueError(
            f"{name}: time bins must be contiguous and {bin_ms} ms wide for this analysis"
        )


def _window_bins(responses: xr.DataArray, window_ms: Any, name: str = "window_ms") -> np.ndarray:
    """Indices of the time bins inside ``window_ms`` (``None``: every bin).

    The rule is :class:`neurofond.responses.Window`'s: whole bins inside the window; an
    edge that cuts a bin, a window outside the data or an empty window raise.
    """
    return window_bins(responses, window_ms, name)


def _select_time(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``values[..., idx]`` without a copy when ``idx`` is a contiguous range."""
    if idx.size and np.all(np.diff(idx) == 1):
        return values[..., idx[0] : idx[-1] + 1]
    return values[..., idx]


def _window_counts(
    responses: xr.DataArray, window_ms: Any, name: str = "window_ms"
) -> tuple[np.ndarray, float, np.ndarray]:
    """Spike counts per (trial, stimulus, neuron) summed over the bins of a window.

    A trial with NaN in any bin of the window gives NaN (missing). Returns the counts
    (float64), the window duration in ms (sum of bin widths) and the bin indices.
    """
    idx = _window_bins(responses, window_ms, name)
    starts, ends = _time_edges(responses)
    duration = float(np.sum(ends[idx] - starts[idx]))
    values = _select_time(np.asarray(responses.values), idx)
    counts = values.sum(axis=-1, dtype=np.float64)
    return counts, duration, idx


def _nanmean(x: np.ndarray, axis: int | tuple[int, ...]) -> np.ndarray:
    """NaN-ignoring mean without warnings; all-NaN slices give NaN."""
    valid = ~np.isnan(x)
    total = np.where(valid, x, 0.0).sum(axis=axis)
    n = valid.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def _coords_on(obj: xr.DataArray | xr.Dataset, dim: str) -> dict[str, tuple[str, np.ndarray]]:
    """All 1-D coordinates of ``obj`` that lie along ``dim`` (including the index)."""
    out: dict[str, tuple[str, np.ndarray]] = {}
    for cname, coord in obj.coords.items():
        if coord.dims == (dim,):
            out[str(cname)] = (dim, np.asarray(coord.values))
    return out


def _simple(value: Any) -> Any:
    """Make an attrs value serialisable (netCDF-friendly)."""
    if value is None:
        return "None"
    if isinstance(value, (str, bool, int, float, np.integer, np.floating)):
        return value
    if isinstance(value, Mapping):
        return repr(dict(value))
    if isinstance(value, Iterable):
        items = list(value)
        if all(isinstance(v, (int, float, np.integer, np.floating)) for v in items):
            return tuple(float(v) for v in items)
        return repr(items)
    return repr(value)


def _provenance(func: str, source: Any = None, **params: Any) -> dict[str, Any]:
    """Provenance attrs: analysis name, data source, bin width, parameters."""
    attrs: dict[str, Any] = {"analysis": f"neurofond.analysis.{func}"}
    if isinstance(source, (xr.DataArray, xr.Dataset)):
        for key in ("source", "bin_ms", "ms_per_step"):
            if key in source.attrs:
                attrs[key] = _simple(source.attrs[key])
    for key, value in params.items():
        attrs[key] = _simple(value)
    return attrs


def _stimulus_coord(responses: xr.DataArray, key: str, name: str) -> np.ndarray:
    if key not in responses.coords or responses[key].dims != ("stimulus",):
        known = sorted(k for k, c in responses.coords.items() if c.dims == ("stimulus",))
        raise ValueError(f"{name}: unknown stimulus coordinate {key!r}; known: {known}")
    return np.asarray(responses[key].values)


def _where_mask(responses: xr.DataArray, where: Mapping[str, Any] | None) -> np.ndarray:
    """Boolean mask over ``stimulus`` for a ``where={coord: value(s)}`` mapping."""
    if where is None:
        return np.ones(responses.sizes["stimulus"], dtype=bool)
    if not isinstance(where, Mapping):
        raise ValueError(
            f"where: expected a mapping of stimulus coordinate -> value(s), got {where!r}"
        )
    return stimulus_mask(responses, name="where", **where)


def _responses_counts(
    responses: xr.DataArray, window_ms: Any, name: str, window_name: str = "window_ms"
) -> np.ndarray:
    """Validated ``responses`` summed over a window: ``(trial, stimulus, neuron)`` float64."""
    _check_responses(responses, name)
    counts, _, _ = _window_counts(responses, window_ms, window_name)
    return counts


def _curve_axis(curve: Any, dim: str, name: str) -> tuple[np.ndarray, xr.DataArray]:
    """Check a tuning curve's type and its ``dim`` axis; return (finite values along ``dim``,
    curve transposed with ``dim`` first)."""
    if not isinstance(curve, xr.DataArray):
        raise ValueError(f"{name}: expected an xarray.DataArray tuning curve, got {type(curve)}")
    if dim not in curve.dims:
        raise ValueError(f"{name}: has no dimension {dim!r}; dims are {tuple(curve.dims)}")
    if dim not in curve.coords:
        raise ValueError(f"{name}: dimension {dim!r} needs coordinate values")
    curve = curve.transpose(dim, ...)
    x = np.asarray(curve[dim].values, dtype=float)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: coordinate {dim!r} contains non-finite values")
    return x, curve
