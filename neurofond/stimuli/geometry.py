"""Screen geometry: conversions between visual degrees and pixels.

All stimuli in :mod:`neurofond.stimuli` are specified in visual degrees
(sizes, positions) and cycles per degree (spatial frequency) and rendered on a
pixel canvas through an explicit :class:`ScreenGeometry`.

Coordinate convention
---------------------
Image arrays are indexed ``[row, column]``. The coordinate grids returned by
:meth:`ScreenGeometry.grid_deg` are centred on the image centre (which lies
between two pixels when a side has an even number of pixels):

- ``x`` increases to the right (along columns),
- ``y`` increases downwards (along rows), i.e. image/matrix order.

With this convention an angle ``theta`` measured from the +x axis turns
clockwise on the screen (as in PsychoPy's ``ori``), and a pattern that depends
only on ``x`` becomes its exact transpose when it depends only on ``y``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["ScreenGeometry"]


def _as_size(size_px: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """Validate ``size_px`` and return it as ``(height, width)``."""
    if isinstance(size_px, (int, np.integer)) and not isinstance(size_px, bool):
        size = (int(size_px), int(size_px))
    elif isinstance(size_px, (tuple, list)) and len(size_px) == 2:
        if not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in size_px
        ):
            raise ValueError(f"size_px: expected integers (height, width), got {size_px!r}")
        size = (int(size_px[0]), int(size_px[1]))
    else:
        raise ValueError(
            f"size_px: expected a positive int or a (height, width) pair, got {size_px!r}"
        )
    if size[0] < 1 or size[1] < 1:
        raise ValueError(f"size_px: expected sizes >= 1 pixel, got {size}")
    return size


@dataclass(frozen=True)
class ScreenGeometry:
    """A pixel canvas with a fixed number of pixels per visual degree.

    Parameters
    ----------
    pixels_per_degree : float
        Pixels per degree of visual angle (> 0, finite).
    size_px : int or (int, int)
        Canvas size in pixels: a single int for a square canvas, otherwise
        ``(height, width)``. Stored as ``(height, width)``.

    Raises
    ------
    ValueError
        If ``pixels_per_degree`` is not a positive finite number or
        ``size_px`` is not one or two positive integers.

    Notes
    -----
    Coordinates are centred on the canvas: ``x`` grows to the right, ``y``
    grows downwards (image row order); see the module docstring. Spatial
    frequencies above the Nyquist limit ``pixels_per_degree / 2`` cycles/deg
    alias on the canvas (:attr:`nyquist_cpd`).

    Examples
    --------
    >>> g = ScreenGeometry.from_size_deg(12.0, 672)   # Marques et al. 2021 canvas
    >>> g.pixels_per_degree
    56.0
    >>> g.deg_to_px(0.5)
    28.0
    """

    pixels_per_degree: float
    size_px: tuple[int, int]

    def __post_init__(self) -> None:
        ppd = self.pixels_per_degree
        if (
            isinstance(ppd, bool)
            or not isinstance(ppd, (int, float, np.integer, np.floating))
            or not math.isfinite(float(ppd))
            or ppd <= 0
        ):
            raise ValueError(
                f"pixels_per_degree: expected a finite number > 0, got {ppd!r}"
            )
        object.__setattr__(self, "pixels_per_degree", float(ppd))
        object.__setattr__(self, "size_px", _as_size(self.size_px))

    @classmethod
    def from_size_deg(
        cls, size_deg: float, size_px: int | tuple[int, int]
    ) -> ScreenGeometry:
        """Build a geometry from the canvas width in degrees and its size in pixels.

        Parameters
        ----------
        size_deg : float
            Width of the canvas in visual degrees (> 0).
        size_px : int or (int, int)
            Canvas size in pixels (square or ``(height, width)``).

        Returns
        -------
        ScreenGeometry
            With ``pixels_per_degree = width_px / size_deg``.

        Raises
        ------
        ValueError
            If ``size_deg`` is not a positive finite number.
        """
        if isinstance(size_deg, bool) or not isinstance(
            size_deg, (int, float, np.integer, np.floating)
        ) or not math.isfinite(float(size_deg)) or size_deg <= 0:
            raise ValueError(f"size_deg: expected a finite number > 0, got {size_deg!r}")
        h, w = _as_size(size_px)
        return cls(pixels_per_degree=w / float(size_deg), size_px=(h, w))

    @property
    def height_px(self) -> int:
        """Canvas height in pixels."""
        return self.size_px[0]

    @property
    def width_px(self) -> int:
        """Canvas width in pixels."""
        return self.size_px[1]

    @property
    def size_deg(self) -> tuple[float, float]:
        """Canvas ``(height, width)`` in visual degrees."""
        return (
            self.size_px[0] / self.pixels_per_degree,
            self.size_px[1] / self.pixels_per_degree,
        )

    @property
    def nyquist_cpd(self) -> float:
        """Highest spatial frequency (cycles/deg) representable without aliasing."""
        return self.pixels_per_degree / 2.0

    def deg_to_px(self, deg: float | np.ndarray) -> float | np.ndarray:
        """Convert a length in visual degrees to pixels (``deg * pixels_per_degree``)."""
        return np.multiply(deg, self.pixels_per_degree)[()]

    def px_to_deg(self, px: float | np.ndarray) -> float | np.ndarray:
        """Convert a length in pixels to visual degrees (``px / pixels_per_degree``)."""
        return np.divide(px, self.pixels_per_degree)[()]

    def grid_deg(self) -> tuple[np.ndarray, np.ndarray]:
        """Pixel-centre coordinates in degrees, centred on the canvas.

        Returns
        -------
        x, y : ndarray, shape (height, width), float64
            ``x[i, j] = (j - (width - 1) / 2) / pixels_per_degree`` (rightwards)
            and ``y[i, j] = (i - (height - 1) / 2) / pixels_per_degree``
            (downwards).
        """
        h, w = self.size_px
        xs = (np.arange(w, dtype=np.float64) - (w - 1) / 2.0) / self.pixels_per_degree
        ys = (np.arange(h, dtype=np.float64) - (h - 1) / 2.0) / self.pixels_per_degree
        x, y = np.meshgrid(xs, ys, indexing="xy")
        return x, y

    def radius_deg(self, center_deg: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        """Distance of every pixel centre from ``center_deg = (x, y)``, in degrees.

        Parameters
        ----------
        center_deg : (float, float)
            Centre ``(x, y)`` in degrees, same convention as :meth:`grid_deg`.

        Returns
        -------
        ndarray, shape (height, width)
        """
        cx, cy = _as_point(center_deg, "center_deg")
        x, y = self.grid_deg()
        return np.hypot(x - cx, y - cy)

    def with_size_px(self, size_px: int | tuple[int, int]) -> ScreenGeometry:
        """Same field of view in degrees (width) rendered at another pixel size.

        Parameters
        ----------
        size_px : int or (int, int)
            New canvas size in pixels.

        Returns
        -------
        ScreenGeometry
            ``pixels_per_degree`` rescaled so that the width in degrees is kept.
        """
        return ScreenGeometry.from_size_deg(self.size_deg[1], size_px)


def _as_point(value: object, name: str) -> tuple[float, float]:
    """Validate a finite ``(x, y)`` pair."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name}: expected a finite (x, y) pair in degrees, got {value!r}"
        ) from None
    if arr.shape != (2,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected a finite (x, y) pair in degrees, got {value!r}")
    return float(arr[0]), float(arr[1])
