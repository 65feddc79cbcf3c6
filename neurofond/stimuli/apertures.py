"""Aperture windows: the spatial weight applied to a grating's (or plaid's) modulation.

``aperture_window(geometry, aperture, radius_deg, center_deg, ramp_deg)`` returns
``w(x, y)`` in ``[0, 1]``: none (``w = 1``), a hard disc, or a raised-cosine (Tukey) disc
whose half-amplitude radius is ``radius_deg``. Outside the aperture a stimulus shows its
mean luminance. Coordinates as in :mod:`neurofond.stimuli.geometry` (degrees, x right,
y down, 0 at the canvas centre).
"""

from __future__ import annotations

import numpy as np

from .base import _scalar
from .geometry import ScreenGeometry, _as_point

__all__ = ["APERTURES", "aperture_window"]

#: Aperture shapes understood by :func:`aperture_window`.
APERTURES = (None, "circular", "raised_cosine")


def aperture_window(
    geometry: ScreenGeometry,
    aperture: str | None,
    radius_deg: float | None = None,
    center_deg: tuple[float, float] = (0.0, 0.0),
    ramp_deg: float | None = None,
) -> np.ndarray:
    """Aperture weight ``w(x, y)`` in ``[0, 1]`` applied to the grating modulation.

    Parameters
    ----------
    geometry : ScreenGeometry
        Canvas.
    aperture : {None, "circular", "raised_cosine"}
        ``None``: no aperture (``w = 1``). ``"circular"``: hard disc,
        ``w = 1`` where ``r <= radius_deg`` else 0. ``"raised_cosine"``: soft
        disc whose edge falls from 1 to 0 over ``ramp_deg`` centred on
        ``radius_deg`` (``w = 0.5`` at ``r = radius_deg``).
    radius_deg : float
        Aperture radius in degrees (> 0); required unless ``aperture`` is None.
    center_deg : (float, float)
        Aperture centre ``(x, y)`` in degrees (x right, y down, 0 = canvas centre).
    ramp_deg : float, optional
        Width of the raised-cosine edge in degrees (> 0). Defaults to
        ``0.2 * radius_deg``; at most ``2 * radius_deg``.

    Returns
    -------
    ndarray, shape (height, width), float64

    Raises
    ------
    ValueError
        If ``aperture`` is unknown, or ``radius_deg`` / ``ramp_deg`` are not positive.

    Notes
    -----
    Raised cosine (Tukey) edge with ``r0 = radius_deg - ramp_deg / 2``::

        w(r) = 1                                          r <= r0
        w(r) = 0.5 * (1 + cos(pi * (r - r0) / ramp_deg))  r0 < r < r0 + ramp_deg
        w(r) = 0                                          r >= r0 + ramp_deg

    so ``w`` is non-increasing in ``r`` and the half-amplitude radius equals
    ``radius_deg``.
    """
    if not isinstance(geometry, ScreenGeometry):
        raise ValueError(f"geometry: expected a ScreenGeometry, got {geometry!r}")
    if aperture not in APERTURES:
        raise ValueError(f"aperture: expected one of {APERTURES}, got {aperture!r}")
    if aperture is None:
        return np.ones(geometry.size_px, dtype=np.float64)
    if radius_deg is None:
        raise ValueError(f"radius_deg: required (> 0) for aperture={aperture!r}")
    radius = _scalar(radius_deg, "radius_deg", low=0.0, low_open=True)
    r = geometry.radius_deg(_as_point(center_deg, "center_deg"))
    if aperture == "circular":
        return (r <= radius).astype(np.float64)
    ramp = 0.2 * radius if ramp_deg is None else _scalar(
        ramp_deg, "ramp_deg", low=0.0, high=2 * radius, low_open=True
    )
    r0 = radius - ramp / 2.0
    z = np.clip((r - r0) / ramp, 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * z))

