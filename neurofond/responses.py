"""The one shared data model: spike counts as a labelled xarray.

Model spikes and recorded spikes both load into a ``Responses`` array so that
every analysis runs on both without knowing where the spikes came from.

``Responses`` is an :class:`xarray.DataArray` of spike counts with dims
``("trial", "stimulus", "neuron", "time")``:

- ``stimulus`` coords: stimulus parameters (``orientation``, ``sf``, ``contrast``,
  ``phase``, ``stimulus_id`` ...);
- ``neuron`` coords: ``neuron_id`` and optionally positions and ``source``;
- ``time``: the dimension coordinate is the **bin start in ms** (an index, so label
  selection in ms works: ``resp.sel(time=slice(0, 100))`` keeps the bins that start in
  0-100 ms); ``time_start_ms`` / ``time_end_ms`` hold the bin edges and, for model spikes,
  ``step`` the model step index;
- attrs: ``bin_ms`` (bin width in ms), ``ms_per_step`` (model only), ``source``,
  ``units`` ("spikes per bin" for spikes; the activation's units for the Gaussian models,
  which have no spikes) and ``signed = 1`` for signed activations (iG-VAE).

Missing trials (unequal repetition counts in recordings) are NaN; counts are
otherwise non-negative. Use :func:`make_responses` to build one and
:func:`validate_responses` to check one.

Two idioms cover every selection:

- stimuli by parameter: :func:`select_stimuli` (``select_stimuli(resp, orientation=90,
  contrast=[0.1, 1.0])``); stimulus parameters are plain coordinates on ``stimulus`` (the
  pinned xarray 2022.3 has no secondary indexes), so ``resp.sel(orientation=90)`` is not
  available;
- time by a window in ms: :class:`Window`, the one window rule used by every analysis,
  benchmark and script (a bin belongs to a window when it lies entirely inside it; a window
  edge that cuts a bin is an error).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from neurofond._checks import check_positive

DIMS: tuple[str, str, str, str] = ("trial", "stimulus", "neuron", "time")

#: ``attrs["units"]`` of spike counts.
COUNT_UNITS = "spikes per bin"


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
    units: str = "spikes per bin",
    signed: bool = False,
) -> xr.DataArray:
    """Build a validated ``Responses`` array from a count (or activation) array.

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
    units : str
        What one value is: ``"spikes per bin"`` (default; spike counts) or, for models
        without spikes (iG-VAE, iGrelu-VAE), the activation's units (e.g. ``"a.u. per
        step"``). Stored in ``attrs["units"]``.
    signed : bool
        The values are signed activations (iG-VAE), not counts: negative values are
        allowed and ``attrs["signed"] = 1`` records it (every other check still applies).
        Only valid with ``units`` other than spike counts.

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
    bin_ms = check_positive(bin_ms, "bin_ms")  # a string such as '10' is refused by name
    n_trial, n_stim, n_neuron, n_time = counts.shape
    if n_trial == 0:
        raise ValueError("counts: zero trials; expected at least one trial")
    if not isinstance(units, str) or not units:
        raise ValueError(f"units: expected a non-empty string, got {units!r}")
    if signed and units == COUNT_UNITS:
        raise ValueError(
            "signed: spike counts cannot be negative; pass the activation's units "
            "(e.g. units='a.u. per step') with signed=True"
        )
    _check_counts(counts, allow_nan=allow_nan, name="counts", signed=bool(signed))

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
        "time": starts,
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
    all_attrs: dict[str, Any] = {"bin_ms": float(bin_ms), "source": source, "units": units}
    if signed:
        all_attrs["signed"] = 1
    extra = dict(attrs or {})
    for key in ("units", "signed"):
        if key in extra and extra[key] != all_attrs.get(key):
            raise ValueError(
                f"attrs[{key!r}]: {extra[key]!r} contradicts the {key} argument "
                f"({all_attrs.get(key)!r}); pass it as the argument"
            )
    all_attrs.update(extra)
    return xr.DataArray(counts, dims=DIMS, coords=coords, attrs=all_attrs, name="spike_counts")


def _check_counts(values: np.ndarray, *, allow_nan: bool, name: str,
                  signed: bool = False) -> None:
    if values.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numeric spike counts, got dtype {values.dtype}")
    if values.dtype.kind == "f":
        nan = np.isnan(values)
        if nan.any() and not allow_nan:
            raise ValueError(f"{name}: contains NaN; pass allow_nan=True for padded trials")
        if np.isinf(values).any():
            raise ValueError(f"{name}: contains infinite values")
        if not signed and (values[~nan] < 0).any():
            raise ValueError(f"{name}: contains negative spike counts")
    elif values.dtype.kind == "i" and not signed and (values < 0).any():
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
    for coord in ("time_start_ms", "time_end_ms"):
        if coord not in responses.coords:
            raise ValueError(
                f"{name}: lacks the {coord!r} coordinate on 'time'; build Responses with "
                "neurofond.responses.make_responses"
            )
    _check_counts(np.asarray(responses.values), allow_nan=True, name=name,
                  signed=is_signed(responses))
    return responses


def is_signed(responses: xr.DataArray) -> bool:
    """Whether ``responses`` holds signed activations (iG-VAE) rather than counts."""
    return bool(responses.attrs.get("signed", 0))


def holds_spike_counts(responses: xr.DataArray) -> bool:
    """Whether ``responses`` holds spike counts (``attrs["units"]`` is spikes per bin)."""
    return responses.attrs.get("units", COUNT_UNITS) == COUNT_UNITS


def time_edges_ms(responses: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """Bin starts and ends in ms along ``time``, as float arrays."""
    return (np.asarray(responses["time_start_ms"].values, dtype=float),
            np.asarray(responses["time_end_ms"].values, dtype=float))


def time_centers_ms(responses: xr.DataArray) -> np.ndarray:
    """Bin centres in ms along ``time``."""
    return 0.5 * (
        np.asarray(responses["time_start_ms"].values) + np.asarray(responses["time_end_ms"].values)
    )


# --------------------------------------------------------------------------- selection


def stimulus_mask(responses: xr.DataArray, name: str = "select_stimuli",
                  **params: Any) -> np.ndarray:
    """Boolean mask over ``stimulus``: the stimuli whose parameters match ``params``.

    The matching rule of :func:`select_stimuli` (which see); ``name`` labels errors.

    Raises
    ------
    ValueError
        If a name is not a coordinate on ``stimulus`` or no stimulus matches.
    """
    mask = np.ones(responses.sizes["stimulus"], dtype=bool)
    for key, want in params.items():
        if key not in responses.coords or responses[key].dims != ("stimulus",):
            known = sorted(str(k) for k, c in responses.coords.items() if c.dims == ("stimulus",))
            raise ValueError(f"{name}: unknown stimulus coordinate {key!r}; known: {known}")
        values = np.asarray(responses[key].values)
        try:
            mask &= _matches(values, want)
        except TypeError:
            raise ValueError(
                f"{name}: {key!r} holds {values.dtype} values, cannot match {want!r}"
            ) from None
    if not mask.any():
        raise ValueError(f"{name}: {params!r} selects no stimulus")
    return mask


def select_stimuli(responses: xr.DataArray, **params: Any) -> xr.DataArray:
    """The stimuli whose parameters match, by coordinate name.

    Each keyword names a coordinate on ``stimulus`` and gives a scalar (equality; floats
    compared with :func:`numpy.isclose`, ``rtol=1e-9``), a list of accepted values, or a
    ``slice(lo, hi)`` (inclusive range, either end ``None``). Conditions combine with AND.
    This is the documented idiom for selecting stimuli (the pinned xarray 2022.3 cannot
    index non-dimension coordinates, so ``resp.sel(orientation=90)`` is not available).

    Parameters
    ----------
    responses : Responses
    **params
        ``coordinate=value`` pairs, e.g. ``orientation=90, contrast=[0.1, 1.0]``.

    Returns
    -------
    Responses
        The matching stimuli, in their original order.

    Raises
    ------
    ValueError
        If a name is not a coordinate on ``stimulus`` or no stimulus matches.

    Examples
    --------
    >>> import numpy as np
    >>> resp = make_responses(np.zeros((1, 4, 1, 2)), bin_ms=10,
    ...                       stimulus_coords={"orientation": [0, 0, 90, 90],
    ...                                        "contrast": [0.1, 1.0, 0.1, 1.0]})
    >>> select_stimuli(resp, orientation=90, contrast=1.0).stimulus_id.values.tolist()
    [3]
    >>> select_stimuli(resp, contrast=slice(0.5, None)).stimulus_id.values.tolist()
    [1, 3]
    """
    return responses.isel(stimulus=np.flatnonzero(stimulus_mask(responses, **params)))


def _matches(values: np.ndarray, want: Any) -> np.ndarray:
    numeric = values.dtype.kind in "biuf"
    if isinstance(want, slice):
        if want.step is not None:
            raise ValueError(f"select_stimuli: a slice step is not supported, got {want!r}")
        out = np.ones(values.shape, dtype=bool)
        if want.start is not None:
            out &= values >= want.start
        if want.stop is not None:
            out &= values <= want.stop
        return out
    if isinstance(want, (list, tuple, set, frozenset, np.ndarray)):
        out = np.zeros(values.shape, dtype=bool)
        for w in want:
            out |= _matches(values, w)
        return out
    if isinstance(want, (int, float, np.number)) and not isinstance(want, bool):
        if not numeric:
            raise TypeError
        return np.isclose(values.astype(float), float(want), rtol=1e-9, atol=1e-12)
    return np.asarray(values == want, dtype=bool)


# --------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class Window:
    """A time window ``[start_ms, end_ms)`` in ms: the one window rule of neurofond.

    A time bin belongs to the window when it lies entirely inside it
    (``bin_start >= start_ms`` and ``bin_end <= end_ms``). A window edge that falls strictly
    inside a bin is an error, so a window never silently takes part of a bin or rounds to the
    nearest edge; choose windows on bin edges (multiples of ``bin_ms`` from the first bin).
    Every analysis, benchmark, Brain-Score adapter and script selects time through this type.

    Parameters
    ----------
    start_ms, end_ms : float
        Window edges in ms (finite, ``start_ms < end_ms``), on the time axis of the
        responses (stimulus onset at 0 for presented and recorded gratings).

    Examples
    --------
    >>> import numpy as np
    >>> resp = make_responses(np.ones((1, 1, 1, 6)), bin_ms=10, time_start_ms=-20)
    >>> Window(0, 30).bins(resp).tolist()
    [2, 3, 4]
    >>> Window(0, 30).counts(resp).item()
    3.0
    """

    start_ms: float
    end_ms: float

    def __post_init__(self) -> None:
        for field in ("start_ms", "end_ms"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                                 np.floating)):
                raise ValueError(f"window {field}: expected a number of ms, got {value!r}")
            if not math.isfinite(float(value)):
                raise ValueError(f"window {field}: expected a finite number of ms, got {value!r}")
            object.__setattr__(self, field, float(value))
        if not self.start_ms < self.end_ms:
            raise ValueError(
                f"window: expected start_ms < end_ms, got ({self.start_ms:g}, {self.end_ms:g})"
            )

    @classmethod
    def parse(cls, window: Any, name: str = "window_ms") -> Window:
        """A :class:`Window` from a ``Window`` or a ``(start_ms, end_ms)`` pair.

        Raises
        ------
        ValueError
            Naming ``name`` if ``window`` is not a pair of finite numbers with start < end.
        """
        if isinstance(window, cls):
            return window
        try:
            start, end = window
            return cls(start, end)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"{name}: expected (start_ms, end_ms) with finite start < end, got {window!r}"
                + (f" ({err})" if isinstance(err, ValueError) else "")
            ) from None

    @property
    def duration_ms(self) -> float:
        """``end_ms - start_ms``."""
        return self.end_ms - self.start_ms

    def bins(self, responses: xr.DataArray, name: str = "window_ms") -> np.ndarray:
        """Indices along ``time`` of the bins inside the window.

        Raises
        ------
        ValueError
            If an edge of the window cuts a bin, the window reaches outside the time range
            of ``responses``, or it holds no bin.
        """
        starts, ends = time_edges_ms(responses)
        return self.bins_of(starts, ends, name)

    def bins_of(self, starts: np.ndarray, ends: np.ndarray,
                name: str = "window_ms") -> np.ndarray:
        """:meth:`bins` on explicit bin edges (ms)."""
        starts = np.asarray(starts, dtype=float)
        ends = np.asarray(ends, dtype=float)
        if starts.size == 0:
            raise ValueError(f"{name}: the responses have no time bins")
        lo, hi = float(starts.min()), float(ends.max())
        tol = 1e-9 * max(1.0, abs(lo), abs(hi))
        if self.start_ms < lo - tol or self.end_ms > hi + tol:
            raise ValueError(
                f"{name}: ({self.start_ms:g}, {self.end_ms:g}) ms lies outside the time range "
                f"of the responses [{lo:g}, {hi:g}] ms"
            )
        for edge in (self.start_ms, self.end_ms):
            cut = (starts < edge - tol) & (ends > edge + tol)
            if cut.any():
                i = int(np.flatnonzero(cut)[0])
                raise ValueError(
                    f"{name}: the edge {edge:g} ms cuts the bin [{starts[i]:g}, {ends[i]:g}) ms; "
                    "choose window edges on bin edges"
                )
        idx = np.flatnonzero((starts >= self.start_ms - tol) & (ends <= self.end_ms + tol))
        if idx.size == 0:
            raise ValueError(
                f"{name}: ({self.start_ms:g}, {self.end_ms:g}) ms holds no whole time bin"
            )
        return idx

    def select(self, responses: xr.DataArray, name: str = "window_ms") -> xr.DataArray:
        """``responses`` restricted to the bins inside the window."""
        return responses.isel(time=self.bins(responses, name))

    def covered_ms(self, responses: xr.DataArray, name: str = "window_ms") -> float:
        """Total duration (ms) of the bins inside the window."""
        starts, ends = time_edges_ms(responses)
        idx = self.bins_of(starts, ends, name)
        return float((ends[idx] - starts[idx]).sum())

    def counts(self, responses: xr.DataArray, name: str = "window_ms") -> np.ndarray:
        """Spike counts summed over the window: ``(trial, stimulus, neuron)`` float64.

        NaN (missing trials) stays NaN.
        """
        idx = self.bins(responses, name)
        values = np.asarray(responses.values, dtype=np.float64)
        if np.all(np.diff(idx) == 1):
            return values[..., idx[0]: idx[-1] + 1].sum(axis=-1)
        return values[..., idx].sum(axis=-1)

    def rates(self, responses: xr.DataArray, name: str = "window_ms") -> np.ndarray:
        """Spike rates in spikes/s over the window: ``(trial, stimulus, neuron)``."""
        return self.counts(responses, name) / (self.covered_ms(responses, name) / 1000.0)


def window_bins(responses: xr.DataArray, window_ms: Any,
                name: str = "window_ms") -> np.ndarray:
    """Indices along ``time`` selected by ``window_ms`` (``None``: every bin).

    ``window_ms`` is a :class:`Window` or a ``(start_ms, end_ms)`` pair; the rule is
    :class:`Window`'s.
    """
    if window_ms is None:
        return np.arange(responses.sizes["time"])
    return Window.parse(window_ms, name).bins(responses, name)
