"""The :class:`Stimuli` container and the argument validators of the stimulus builders.

Every stimulus builder in :mod:`neurofond.stimuli` returns a :class:`Stimuli`: a frame
array of shape ``(n_stimuli, n_frames, height, width)`` with luminance in ``[0, 1]``
(float32) plus one parameter value per stimulus (the ``stimulus`` coordinates of a
``Responses`` array), an optional :class:`~neurofond.stimuli.geometry.ScreenGeometry`
and, for movies, a frame rate. :func:`concat` stacks sets along the stimulus axis.

The validators name the argument and the accepted range in their error message; integer
and positivity checks are those of :mod:`neurofond._checks`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurofond._checks import check_int, check_positive

from .geometry import ScreenGeometry

__all__ = ["Stimuli", "concat"]

#: Tolerance on the [0, 1] luminance range (float32 rounding).
_LUM_TOL = 1e-6


# --------------------------------------------------------------------------- validation


def _scalar(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    expected: str | None = None,
) -> float:
    """Validate a finite real scalar within ``[low, high]`` (``(low, ...`` if ``low_open``)."""
    rng = expected or _range_text(low, high, low_open)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name}: expected a finite number {rng}, got {value!r}")
    v = float(value)
    bad = not math.isfinite(v)
    if low is not None and (v < low or (low_open and v == low)):
        bad = True
    if high is not None and v > high:
        bad = True
    if bad:
        raise ValueError(f"{name}: expected a finite number {rng}, got {value!r}")
    return v


def _range_text(low: float | None, high: float | None, low_open: bool) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f"{'>' if low_open else '>='} {low:g}"
    if low is None:
        return f"<= {high:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}]"


def _positive_int(value: Any, name: str) -> int:
    """``value`` as an integer >= 1 (:func:`neurofond._checks.check_int`)."""
    return check_int(value, name, 1)


def _values(values: Any, name: str, **limits: Any) -> np.ndarray:
    """Validate a non-empty 1-D sequence of finite numbers (scalars are promoted)."""
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a sequence of finite numbers, got {values!r}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D sequence of numbers, got {values!r}")
    for v in arr:
        _scalar(float(v), name, **limits)
    return arr


def _frame_rate(frame_rate_hz: Any, name: str = "frame_rate_hz") -> float | None:
    """``None`` (static stimuli) or a frame rate > 0 in Hz."""
    if frame_rate_hz is None:
        return None
    return check_positive(frame_rate_hz, name)


# --------------------------------------------------------------------------- container


def _as_column(value: Any, name: str, n: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim == 0:
        arr = np.full(n, arr[()])
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"params[{name!r}]: expected one value per stimulus (length {n}), "
            f"got shape {arr.shape}"
        )
    return arr


@dataclass(eq=False)
class Stimuli:
    """A set of stimuli: frames plus one parameter value per stimulus.

    Parameters
    ----------
    frames : ndarray, shape (n_stimuli, n_frames, height, width)
        Luminance in ``[0, 1]`` (stored as float32). Static images have
        ``n_frames == 1``.
    params : dict of str -> ndarray, optional
        Stimulus parameters, each a 1-D array with one value per stimulus
        (e.g. ``orientation`` (deg), ``sf`` (cycles/deg), ``tf`` (Hz),
        ``phase`` (deg), ``contrast`` (0-1), ``radius_deg``, ``kind``). These
        become the ``stimulus`` coordinates of a ``Responses`` array.
    geometry : ScreenGeometry, optional
        Canvas geometry; its ``size_px`` must equal ``(height, width)``.
    frame_rate_hz : float, optional
        Frames per second of a movie; ``None`` for static stimuli.
    meta : dict, optional
        Free-form provenance (builder name, seeds, eye paths ...).

    Raises
    ------
    ValueError
        If ``frames`` is not 4-D, is empty, contains non-finite values or
        values outside ``[0, 1]``; if a parameter column does not have one
        value per stimulus; if ``geometry.size_px`` does not match the frames;
        if ``frame_rate_hz`` is not positive.
    """

    frames: np.ndarray
    params: dict[str, np.ndarray] = field(default_factory=dict)
    geometry: ScreenGeometry | None = None
    frame_rate_hz: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> Stimuli:
        """Check the stimuli again (every check of the constructor) and return them.

        A :class:`Stimuli` is a mutable container: frames or parameters changed after it
        was built (``stim.frames[0] = 2.0``, a parameter column of the wrong length) are
        caught here; :meth:`neurofond.population.InSilicoPopulation.present` calls it
        before presenting. Frames are checked in blocks of stimuli, so no full-size
        temporary array is made.

        Returns
        -------
        Stimuli
            ``self`` (frames converted to float32 if they were replaced by another dtype).

        Raises
        ------
        ValueError
            As the constructor (the message names the field).
        """
        frames = np.asarray(self.frames)
        if frames.ndim != 4:
            raise ValueError(
                "frames: expected a 4-D array (n_stimuli, n_frames, height, width), "
                f"got shape {frames.shape}"
            )
        if min(frames.shape[1:]) < 1:
            raise ValueError(f"frames: n_frames, height and width must be >= 1, got {frames.shape}")
        if not np.issubdtype(frames.dtype, np.number) or np.iscomplexobj(frames):
            raise ValueError(f"frames: expected real numbers, got dtype {frames.dtype}")
        frames = frames.astype(np.float32, copy=False)
        for start in range(0, frames.shape[0], 256):
            block = frames[start:start + 256]
            if not np.all(np.isfinite(block)):
                raise ValueError("frames: expected finite luminance values, found NaN or inf")
            if block.size and (block.min() < -_LUM_TOL or block.max() > 1 + _LUM_TOL):
                raise ValueError(
                    "frames: expected luminance in [0, 1], got range "
                    f"[{frames.min():.4g}, {frames.max():.4g}]"
                )
        self.frames = frames
        n = frames.shape[0]
        if not isinstance(self.params, Mapping):
            raise ValueError(f"params: expected a mapping name -> values, got {type(self.params)}")
        cols: dict[str, np.ndarray] = {}
        for key, value in self.params.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"params: keys must be non-empty strings, got {key!r}")
            cols[key] = _as_column(value, key, n)
        self.params = cols
        if self.geometry is not None:
            if not isinstance(self.geometry, ScreenGeometry):
                raise ValueError(f"geometry: expected a ScreenGeometry, got {self.geometry!r}")
            if tuple(self.geometry.size_px) != tuple(frames.shape[2:]):
                raise ValueError(
                    f"geometry: size_px {self.geometry.size_px} does not match the frame size "
                    f"{frames.shape[2:]}"
                )
        self.frame_rate_hz = _frame_rate(self.frame_rate_hz)
        self.meta = dict(self.meta)
        return self

    # ---- shape
    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def n_frames(self) -> int:
        """Number of frames per stimulus."""
        return int(self.frames.shape[1])

    @property
    def size_px(self) -> tuple[int, int]:
        """Frame ``(height, width)`` in pixels."""
        return int(self.frames.shape[2]), int(self.frames.shape[3])

    @property
    def duration_s(self) -> float | None:
        """Movie duration ``n_frames / frame_rate_hz`` (``None`` for static stimuli)."""
        return None if self.frame_rate_hz is None else self.n_frames / self.frame_rate_hz

    def __repr__(self) -> str:
        return (
            f"Stimuli(n={len(self)}, n_frames={self.n_frames}, size_px={self.size_px}, "
            f"frame_rate_hz={self.frame_rate_hz}, params={sorted(self.params)})"
        )

    # ---- selection
    def select(self, indices: Any) -> Stimuli:
        """Subset of stimuli.

        Parameters
        ----------
        indices : int, slice, sequence of int or boolean mask
            Which stimuli to keep (in the given order).

        Returns
        -------
        Stimuli
            New object; frames and parameters are copied.

        Raises
        ------
        ValueError
            If an index is out of range or a mask has the wrong length.
        """
        n = len(self)
        if isinstance(indices, slice):
            idx = np.arange(n)[indices]
        else:
            arr = np.asarray(indices)
            if arr.dtype == bool:
                if arr.shape != (n,):
                    raise ValueError(f"indices: boolean mask must have length {n}, got {arr.shape}")
                idx = np.flatnonzero(arr)
            elif arr.size == 0:
                idx = np.zeros(0, dtype=np.intp)
            elif np.issubdtype(arr.dtype, np.integer):
                idx = np.atleast_1d(arr).astype(np.intp)
                if idx.ndim != 1 or np.any(idx < -n) or np.any(idx >= n):
                    raise ValueError(
                        f"indices: expected integers in [{-n}, {n - 1}], got {indices!r}"
                    )
            else:
                raise ValueError(
                    f"indices: expected ints, a slice or a boolean mask, got {indices!r}"
                )
        return Stimuli(
            frames=self.frames[idx].copy(),
            params={k: v[idx].copy() for k, v in self.params.items()},
            geometry=self.geometry,
            frame_rate_hz=self.frame_rate_hz,
            meta=dict(self.meta),
        )

    def where(self, **conditions: Any) -> Stimuli:
        """Stimuli whose parameters equal the given values (e.g. ``where(sf=2.0)``).

        Raises
        ------
        ValueError
            If a condition names an unknown parameter.
        """
        mask = np.ones(len(self), dtype=bool)
        for key, value in conditions.items():
            if key not in self.params:
                raise ValueError(f"{key}: unknown parameter; known: {sorted(self.params)}")
            col = self.params[key]
            if np.issubdtype(col.dtype, np.number):
                mask &= np.isclose(col.astype(np.float64), float(value))
            else:
                mask &= col == value
        return self.select(mask)

    def iter_batches(self, batch_size: int) -> Iterator[Stimuli]:
        """Yield consecutive subsets of at most ``batch_size`` stimuli."""
        batch_size = _positive_int(batch_size, "batch_size")
        for start in range(0, len(self), batch_size):
            yield self.select(slice(start, start + batch_size))

    def coords(self) -> dict[str, np.ndarray]:
        """Parameters as ``stimulus`` coordinates, with ``stimulus_id`` added if absent."""
        out = {"stimulus_id": np.arange(len(self))}
        out.update(self.params)
        return out

    def concat(self, *others: Stimuli) -> Stimuli:
        """Concatenate with other stimuli along the stimulus axis (see :func:`concat`)."""
        return concat([self, *others])


def _fill_value(col: np.ndarray) -> Any:
    if np.issubdtype(col.dtype, np.number) or col.dtype == bool:
        return np.nan
    return ""


def concat(items: Iterable[Stimuli]) -> Stimuli:
    """Concatenate stimulus sets along the stimulus axis.

    Parameters
    ----------
    items : iterable of Stimuli
        Sets with identical ``n_frames``, frame size, ``geometry`` and
        ``frame_rate_hz``.

    Returns
    -------
    Stimuli
        Frames stacked in order. Parameter columns are the union of all
        columns; a column missing from a set is filled with NaN (numeric) or
        ``""`` (text). ``meta`` is merged (later sets win).

    Raises
    ------
    ValueError
        If ``items`` is empty or the sets are incompatible.
    """
    items = list(items)
    if not items:
        raise ValueError("items: expected at least one Stimuli")
    for i, s in enumerate(items):
        if not isinstance(s, Stimuli):
            raise ValueError(f"items[{i}]: expected Stimuli, got {type(s).__name__}")
    first = items[0]
    for i, s in enumerate(items[1:], start=1):
        if s.frames.shape[1:] != first.frames.shape[1:]:
            raise ValueError(
                f"items[{i}]: frame shape {s.frames.shape[1:]} differs from "
                f"{first.frames.shape[1:]} (n_frames, height, width)"
            )
        if s.geometry != first.geometry:
            raise ValueError(f"items[{i}]: geometry {s.geometry} differs from {first.geometry}")
        if s.frame_rate_hz != first.frame_rate_hz:
            raise ValueError(
                f"items[{i}]: frame_rate_hz {s.frame_rate_hz} differs from {first.frame_rate_hz}"
            )
    keys: list[str] = []
    for s in items:
        keys.extend(k for k in s.params if k not in keys)
    params: dict[str, np.ndarray] = {}
    for key in keys:
        template = next(s.params[key] for s in items if key in s.params)
        parts = []
        for s in items:
            if key in s.params:
                parts.append(s.params[key])
            else:
                parts.append(np.full(len(s), _fill_value(template), dtype=object))
        merged = np.concatenate([p.astype(object) for p in parts])
        try:
            params[key] = np.asarray(merged.tolist())
        except (TypeError, ValueError):  # pragma: no cover - ragged objects
            params[key] = merged
    meta: dict[str, Any] = {}
    for s in items:
        meta.update(s.meta)
    return Stimuli(
        frames=np.concatenate([s.frames for s in items], axis=0),
        params=params,
        geometry=first.geometry,
        frame_rate_hz=first.frame_rate_hz,
        meta=meta,
    )

