"""Receptive-field mapping stimuli: sparse noise and Hubel & Wiesel bars.

- :func:`sparse_noise`: one light (``"on"``) or dark (``"off"``) square flashed on a mean-gray
  screen per stimulus, at the positions of a regular grid (Jones & Palmer 1987 J Neurophysiol
  58:1187; DeAngelis, Ohzawa & Freeman 1993 J Neurophysiol 69:1091), plus blank stimuli for
  the baseline;
- :func:`bar_sweep`: a bar moving across the receptive field at several orientations, along
  the normal to the bar, in both directions (Hubel & Wiesel 1959 J Physiol 148:574, 1962
  J Physiol 160:106);
- :func:`flashed_bars`: stationary bars flashed at several orientations and positions.

Conventions
-----------
Positions are in visual degrees on the :class:`~neurofond.stimuli.geometry.ScreenGeometry`
canvas: ``x`` rightwards, ``y`` downwards, 0 at the canvas centre. The position of a square
or bar is stored in the columns ``center_x_deg`` and ``center_y_deg`` (the names the grating
builders use), not ``x_deg`` / ``y_deg``: a ``Responses`` array already has neuron
coordinates ``x_deg`` / ``y_deg`` (the tile centre of a model neuron), and a stimulus
coordinate of the same name would collide with them.

A bar's ``orientation`` follows the grating convention of :mod:`neurofond.stimuli.gratings`:
the direction of the bar's normal, measured from +x towards +y; 0 = a vertical bar, 90 = a
horizontal bar. A bar of orientation ``theta`` drives a neuron like a grating of orientation
``theta``. A swept bar moves along its normal, in ``direction`` ``theta`` or ``theta + 180``.

Contrast is the Weber contrast of the square or bar against the background:
``L = mean * (1 + contrast)`` for light (``"on"``) stimuli, ``mean * (1 - contrast)`` for
dark (``"off"``) ones. Edges are anti-aliased: a pixel takes the fraction of its area that
the square covers (exact for squares; bars use a one-pixel linear ramp across each edge,
exact for axis-aligned bars).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from neurofond._checks import check_random_state

from .base import _LUM_TOL, Stimuli, _positive_int, _scalar, _values
from .geometry import ScreenGeometry, _as_point

__all__ = ["POLARITIES", "bar_positions_deg", "bar_sweep", "flashed_bars", "sparse_noise"]

#: Polarities of sparse-noise squares and bars (``"blank"`` marks the baseline stimuli).
POLARITIES = ("on", "off")

_TOL = 1e-9


# --------------------------------------------------------------------------- checks


def _geometry(geometry: Any) -> ScreenGeometry:
    if not isinstance(geometry, ScreenGeometry):
        raise ValueError(f"geometry: expected a ScreenGeometry, got {geometry!r}")
    return geometry


def _polarities(polarities: Any) -> tuple[str, ...]:
    if isinstance(polarities, str):
        polarities = (polarities,)
    try:
        pols = tuple(polarities)
    except TypeError:
        raise ValueError(f"polarities: expected a sequence of {POLARITIES}, "
                         f"got {polarities!r}") from None
    if not pols or any(p not in POLARITIES for p in pols) or len(set(pols)) != len(pols):
        raise ValueError(f"polarities: expected distinct values from {POLARITIES}, "
                         f"got {polarities!r}")
    return pols


def _contrast_mean(contrast: Any, mean: Any, polarities: tuple[str, ...]) -> tuple[float, float]:
    mean = _scalar(mean, "mean", low=0.0, high=1.0, low_open=True)
    contrast = _scalar(contrast, "contrast", low=0.0, high=1.0, low_open=True)
    if "on" in polarities and mean * (1.0 + contrast) > 1.0 + _LUM_TOL:
        raise ValueError(f"contrast: a light square needs mean * (1 + contrast) <= 1; got "
                         f"mean={mean:g}, contrast={contrast:g}")
    return contrast, mean


def _sign(polarity: str) -> float:
    return 1.0 if polarity == "on" else -1.0


# --------------------------------------------------------------------------- rendering


def _interval_coverage(centres: np.ndarray, half_px: float, lo: float, hi: float) -> np.ndarray:
    """Fraction of each pixel ``[c - half_px, c + half_px]`` lying inside ``[lo, hi]``."""
    overlap = np.minimum(centres + half_px, hi) - np.maximum(centres - half_px, lo)
    return np.clip(overlap / (2.0 * half_px), 0.0, 1.0)


def _square(geometry: ScreenGeometry, x: float, y: float, side: float) -> np.ndarray:
    """Exact area coverage ``(H, W)`` of an axis-aligned square centred at ``(x, y)`` deg."""
    h, w = geometry.size_px
    ppd = geometry.pixels_per_degree
    xs = (np.arange(w) - (w - 1) / 2.0) / ppd
    ys = (np.arange(h) - (h - 1) / 2.0) / ppd
    half = 0.5 / ppd
    cx = _interval_coverage(xs, half, x - side / 2, x + side / 2)
    cy = _interval_coverage(ys, half, y - side / 2, y + side / 2)
    return cy[:, None] * cx[None, :]


def _bar(geometry: ScreenGeometry, centre: tuple[float, float], theta_deg: float,
         width: float, length: float) -> np.ndarray:
    """Coverage ``(H, W)`` of a bar of normal ``theta_deg`` centred at ``centre`` (deg)."""
    x, y = geometry.grid_deg()
    th = math.radians(theta_deg)
    dx, dy = x - centre[0], y - centre[1]
    u = dx * math.cos(th) + dy * math.sin(th)  # along the normal (across the bar)
    v = -dx * math.sin(th) + dy * math.cos(th)  # along the bar
    px = 1.0 / geometry.pixels_per_degree
    across = np.clip((width / 2 - np.abs(u)) / px + 0.5, 0.0, 1.0)
    along = np.clip((length / 2 - np.abs(v)) / px + 0.5, 0.0, 1.0)
    return across * along


def _grid_axis(n: int, step: float, centre: float) -> np.ndarray:
    return centre + (np.arange(n) - (n - 1) / 2.0) * step


def _n_positions(n_positions: Any) -> tuple[int, int] | None:
    if n_positions is None:
        return None
    if np.ndim(n_positions) == 0:
        n = _positive_int(n_positions, "n_positions")
        return n, n
    try:
        nx, ny = n_positions
    except (TypeError, ValueError):
        raise ValueError(f"n_positions: expected an int or (n_x, n_y), got {n_positions!r}"
                         ) from None
    return _positive_int(nx, "n_positions"), _positive_int(ny, "n_positions")


# --------------------------------------------------------------------------- sparse noise


def sparse_noise(
    geometry: ScreenGeometry,
    square_deg: float,
    *,
    grid_deg: float | None = None,
    n_positions: int | tuple[int, int] | None = None,
    polarities: Sequence[str] = POLARITIES,
    contrast: float = 1.0,
    mean: float = 0.5,
    n_repeats: int = 1,
    n_blanks: int = 1,
    center_deg: tuple[float, float] = (0.0, 0.0),
    seed: int | np.random.Generator | None = 0,
) -> Stimuli:
    """Sparse noise: one light or dark square per stimulus, on a regular grid.

    Parameters
    ----------
    geometry : ScreenGeometry
        Canvas.
    square_deg : float
        Side of the square in degrees (> 0).
    grid_deg : float, optional
        Distance between neighbouring grid positions in degrees (> 0). Default
        ``square_deg`` (abutting squares).
    n_positions : int or (n_x, n_y), optional
        Positions per side of the grid. Default: as many as fit on the canvas (every square
        lies entirely on the canvas).
    polarities : sequence of {"on", "off"}
        Light (``"on"``) and/or dark (``"off"``) squares.
    contrast : float
        Weber contrast of the squares, in (0, 1]: light ``mean * (1 + contrast)``, dark
        ``mean * (1 - contrast)``.
    mean : float
        Background luminance in (0, 1].
    n_repeats : int
        Copies of every square in the set (>= 1), each in its own shuffled block (column
        ``repeat``). Presenting the set with ``n_trials`` gives ``n_repeats * n_trials``
        trials per square; the analysis pools them.
    n_blanks : int
        Blank (mean-gray) stimuli per repeat (>= 0), ``polarity = "blank"``: the baseline of
        :func:`neurofond.analysis.receptive_field_maps.sparse_noise_rf`.
    center_deg : (float, float)
        Grid centre ``(x, y)`` in degrees.
    seed : int, numpy Generator or None
        Seeds the order of the stimuli within each repeat
        (:func:`neurofond._checks.check_random_state`).

    Returns
    -------
    Stimuli
        Static frames ``(n, 1, H, W)``; columns ``kind`` (``"sparse_noise"``), ``polarity``
        (``"on"``, ``"off"`` or ``"blank"``), ``center_x_deg``, ``center_y_deg`` (square
        centre; NaN for blanks), ``square_deg``, ``contrast`` (0 for blanks), ``repeat``.
        ``meta`` records the grid (``grid_x_deg``, ``grid_y_deg``, ``grid_deg``).

    Raises
    ------
    ValueError
        On bad arguments (the message names the argument), or a grid whose squares would
        leave the canvas.

    Examples
    --------
    >>> from neurofond.stimuli import ScreenGeometry
    >>> stim = sparse_noise(ScreenGeometry(16.0, 32), 0.25, n_positions=4)
    >>> len(stim), sorted(set(stim.params["polarity"]))
    (33, ['blank', 'off', 'on'])
    """
    geometry = _geometry(geometry)
    side = _scalar(square_deg, "square_deg", low=0.0, low_open=True)
    step = side if grid_deg is None else _scalar(grid_deg, "grid_deg", low=0.0, low_open=True)
    pols = _polarities(polarities)
    contrast, mean = _contrast_mean(contrast, mean, pols)
    n_repeats = _positive_int(n_repeats, "n_repeats")
    if isinstance(n_blanks, bool) or not isinstance(n_blanks, (int, np.integer)) or n_blanks < 0:
        raise ValueError(f"n_blanks: expected an integer >= 0, got {n_blanks!r}")
    cx, cy = _as_point(center_deg, "center_deg")
    height_deg, width_deg = geometry.size_deg
    counts = _n_positions(n_positions)
    if counts is None:
        room_x = width_deg - 2 * abs(cx) - side
        room_y = height_deg - 2 * abs(cy) - side
        if room_x < -_TOL or room_y < -_TOL:
            raise ValueError(f"square_deg: a {side:g}-deg square at center_deg ({cx:g}, {cy:g}) "
                             f"does not fit on the {width_deg:g} x {height_deg:g}-deg canvas")
        counts = (int(math.floor(room_x / step + 1e-9)) + 1,
                  int(math.floor(room_y / step + 1e-9)) + 1)
    xs = _grid_axis(counts[0], step, cx)
    ys = _grid_axis(counts[1], step, cy)
    if (xs.min() - side / 2 < -width_deg / 2 - 1e-6 or xs.max() + side / 2 > width_deg / 2 + 1e-6
            or ys.min() - side / 2 < -height_deg / 2 - 1e-6
            or ys.max() + side / 2 > height_deg / 2 + 1e-6):
        raise ValueError(
            f"n_positions: a {counts[0]} x {counts[1]} grid of {side:g}-deg squares every "
            f"{step:g} deg around ({cx:g}, {cy:g}) leaves the {width_deg:g} x {height_deg:g}-deg "
            "canvas; use fewer positions, a smaller grid_deg or a larger canvas")
    rng = check_random_state(seed)
    cells = [(x, y, p) for y in ys for x in xs for p in pols]
    rows: list[tuple[float, float, str, int]] = []
    for rep in range(n_repeats):
        block = [(x, y, p, rep) for x, y, p in cells]
        block += [(math.nan, math.nan, "blank", rep)] * int(n_blanks)
        order = rng.permutation(len(block))
        rows.extend(block[i] for i in order)
    frames = np.full((len(rows), 1, *geometry.size_px), mean, dtype=np.float64)
    cache: dict[tuple[float, float], np.ndarray] = {}
    for i, (x, y, p, _) in enumerate(rows):
        if p == "blank":
            continue
        cover = cache.get((x, y))
        if cover is None:
            cover = cache[(x, y)] = _square(geometry, x, y, side)
        frames[i, 0] += mean * contrast * _sign(p) * cover
    params = {
        "kind": np.full(len(rows), "sparse_noise"),
        "polarity": np.array([r[2] for r in rows]),
        "center_x_deg": np.array([r[0] for r in rows], dtype=np.float64),
        "center_y_deg": np.array([r[1] for r in rows], dtype=np.float64),
        "square_deg": np.full(len(rows), side),
        "contrast": np.array([0.0 if r[2] == "blank" else contrast for r in rows]),
        "repeat": np.array([r[3] for r in rows], dtype=np.int64),
    }
    meta = {"builder": "sparse_noise", "mean": mean, "grid_deg": step,
            "grid_x_deg": xs.tolist(), "grid_y_deg": ys.tolist()}
    return Stimuli(frames=np.clip(frames, 0.0, 1.0).astype(np.float32), params=params,
                   geometry=geometry, meta=meta)


# --------------------------------------------------------------------------- bars


def _bar_args(geometry: Any, orientations: Any, length_deg: Any, width_deg: Any,
              contrast: Any, mean: Any, polarities: Any, center_deg: Any):
    geometry = _geometry(geometry)
    oris = _values(orientations, "orientations")
    if np.unique(np.round(np.mod(oris, 180.0), 9)).size != oris.size:
        raise ValueError(f"orientations: expected distinct orientations modulo 180 deg, "
                         f"got {oris.tolist()}")
    length = _scalar(length_deg, "length_deg", low=0.0, low_open=True)
    width = _scalar(width_deg, "width_deg", low=0.0, low_open=True)
    pols = _polarities(polarities)
    contrast, mean = _contrast_mean(contrast, mean, pols)
    centre = _as_point(center_deg, "center_deg")
    return geometry, np.mod(oris, 180.0), length, width, pols, contrast, mean, centre


def bar_positions_deg(n_frames: int, speed_deg_per_s: float, start_deg: float,
                      frame_rate_hz: float) -> np.ndarray:
    """Bar centre along its direction of motion at each frame: ``start + speed * k / rate``.

    Positions are signed distances (deg) from the sweep centre ``center_deg`` along the
    direction of motion; frame ``k`` is shown at ``t = k / frame_rate_hz``.
    """
    return start_deg + speed_deg_per_s * np.arange(n_frames) / frame_rate_hz


def bar_sweep(
    geometry: ScreenGeometry,
    orientations: Sequence[float] = tuple(np.arange(0.0, 180.0, 22.5)),
    *,
    length_deg: float,
    width_deg: float,
    speed_deg_per_s: float,
    sweep_deg: float,
    frame_rate_hz: float = 100.0,
    both_directions: bool = True,
    polarities: Sequence[str] = ("on",),
    contrast: float = 1.0,
    mean: float = 0.5,
    n_blanks: int = 0,
    center_deg: tuple[float, float] = (0.0, 0.0),
) -> Stimuli:
    """Bars swept across the receptive field (Hubel & Wiesel 1959, 1962).

    Parameters
    ----------
    geometry : ScreenGeometry
        Canvas.
    orientations : sequence of float
        Bar orientations in degrees (grating convention: direction of the bar's normal;
        0 = vertical bar), distinct modulo 180.
    length_deg, width_deg : float
        Bar length (along the bar) and width (across it), in degrees (> 0).
    speed_deg_per_s : float
        Speed of the bar along its normal (> 0).
    sweep_deg : float
        Distance travelled (> 0): the bar centre moves from ``-sweep_deg / 2`` to
        ``+sweep_deg / 2`` (signed distance from ``center_deg`` along the direction of
        motion).
    frame_rate_hz : float
        Frames per second (> 0). The movie has
        ``round(sweep_deg / speed_deg_per_s * frame_rate_hz) + 1`` frames; frame ``k`` shows
        the bar at :func:`bar_positions_deg`.
    both_directions : bool
        Sweep each orientation in both directions, ``direction = orientation`` and
        ``orientation + 180`` (default; the two estimates of the RF centre then bracket
        the response latency). False: ``direction = orientation`` only.
    polarities : sequence of {"on", "off"}
        Light and/or dark bars (default light).
    contrast, mean : float
        Weber contrast in (0, 1] and background luminance, as in :func:`sparse_noise`.
    n_blanks : int
        Blank movies (mean gray, ``polarity = "blank"``, orientation and direction NaN)
        appended (>= 0): a time-resolved baseline for
        :func:`neurofond.analysis.receptive_field_maps.bar_responses`.
    center_deg : (float, float)
        Centre of the sweep ``(x, y)`` in degrees (the middle of the bar's path).

    Returns
    -------
    Stimuli
        Movies ``(n, n_frames, H, W)`` at ``frame_rate_hz``; order
        ``product(orientations, directions, polarities)``, then the blanks; columns ``kind``
        (``"bar_sweep"``), ``orientation`` (deg in [0, 180)), ``direction`` (deg in
        [0, 360)), ``polarity``, ``length_deg``, ``width_deg``, ``speed_deg_per_s``,
        ``start_deg`` (``-sweep_deg / 2``), ``sweep_deg``, ``sweep_ms`` (``n_frames`` frame
        durations), ``frame_rate_hz``, ``contrast``, ``center_x_deg``, ``center_y_deg``.
        ``meta["positions_deg"]`` holds the bar position of every frame.

    Raises
    ------
    ValueError
        On bad arguments (the message names the argument).
    """
    geometry, oris, length, width, pols, contrast, mean, centre = _bar_args(
        geometry, orientations, length_deg, width_deg, contrast, mean, polarities, center_deg)
    speed = _scalar(speed_deg_per_s, "speed_deg_per_s", low=0.0, low_open=True)
    sweep = _scalar(sweep_deg, "sweep_deg", low=0.0, low_open=True)
    rate = _scalar(frame_rate_hz, "frame_rate_hz", low=0.0, low_open=True)
    n_frames = int(round(sweep / speed * rate)) + 1
    if n_frames < 2:
        raise ValueError(f"frame_rate_hz: a {sweep:g}-deg sweep at {speed:g} deg/s needs at "
                         f"least 2 frames; got {n_frames} at {rate:g} Hz")
    start = -sweep / 2.0
    positions = bar_positions_deg(n_frames, speed, start, rate)
    if isinstance(n_blanks, bool) or not isinstance(n_blanks, (int, np.integer)) or n_blanks < 0:
        raise ValueError(f"n_blanks: expected an integer >= 0, got {n_blanks!r}")
    rows = []
    for ori in oris:
        directions = (ori, ori + 180.0) if both_directions else (ori,)
        for d in directions:
            rows.extend((ori, d % 360.0, p) for p in pols)
    rows += [(math.nan, math.nan, "blank")] * int(n_blanks)
    frames = np.full((len(rows), n_frames, *geometry.size_px), mean, dtype=np.float32)
    for i, (_, d, p) in enumerate(rows):
        if p == "blank":
            continue
        th = math.radians(d)
        for k, pos in enumerate(positions):
            c = (centre[0] + pos * math.cos(th), centre[1] + pos * math.sin(th))
            frames[i, k] += (mean * contrast * _sign(p) * _bar(geometry, c, d, width, length)
                             ).astype(np.float32)
    n = len(rows)
    params = {
        "kind": np.full(n, "bar_sweep"),
        "orientation": np.array([r[0] for r in rows]),
        "direction": np.array([r[1] for r in rows]),
        "polarity": np.array([r[2] for r in rows]),
        "length_deg": np.full(n, length), "width_deg": np.full(n, width),
        "speed_deg_per_s": np.full(n, speed), "start_deg": np.full(n, start),
        "sweep_deg": np.full(n, sweep), "sweep_ms": np.full(n, 1000.0 * n_frames / rate),
        "frame_rate_hz": np.full(n, rate),
        "contrast": np.array([0.0 if r[2] == "blank" else contrast for r in rows]),
        "center_x_deg": np.full(n, centre[0]), "center_y_deg": np.full(n, centre[1]),
    }
    meta = {"builder": "bar_sweep", "mean": mean, "positions_deg": positions.tolist()}
    return Stimuli(frames=np.clip(frames, 0.0, 1.0), params=params, geometry=geometry,
                   frame_rate_hz=rate, meta=meta)


def flashed_bars(
    geometry: ScreenGeometry,
    orientations: Sequence[float] = tuple(np.arange(0.0, 180.0, 22.5)),
    positions_deg: Sequence[float] = (0.0,),
    *,
    length_deg: float,
    width_deg: float,
    polarities: Sequence[str] = POLARITIES,
    contrast: float = 1.0,
    mean: float = 0.5,
    n_blanks: int = 1,
    center_deg: tuple[float, float] = (0.0, 0.0),
) -> Stimuli:
    """Stationary bars flashed at several orientations and positions.

    Parameters
    ----------
    geometry : ScreenGeometry
        Canvas.
    orientations : sequence of float
        Bar orientations (deg, grating convention: the bar's normal), distinct modulo 180.
    positions_deg : sequence of float
        Offsets of the bar centre from ``center_deg`` along the bar's normal, in degrees
        (e.g. ``np.linspace(-1, 1, 17)``).
    length_deg, width_deg : float
        Bar length and width (deg, > 0).
    polarities : sequence of {"on", "off"}
        Light and/or dark bars.
    contrast, mean : float
        As in :func:`sparse_noise`.
    n_blanks : int
        Blank stimuli (``polarity = "blank"``) appended for the baseline (>= 0).
    center_deg : (float, float)
        Point the offsets are measured from.

    Returns
    -------
    Stimuli
        Static frames; order ``product(orientations, positions_deg, polarities)`` then the
        blanks; columns ``kind`` (``"flashed_bar"``), ``orientation`` (deg in [0, 180)),
        ``position_deg``, ``polarity``, ``length_deg``, ``width_deg``, ``contrast``,
        ``center_x_deg``, ``center_y_deg`` (the bar centre; NaN for blanks).

    Raises
    ------
    ValueError
        On bad arguments (the message names the argument).
    """
    geometry, oris, length, width, pols, contrast, mean, centre = _bar_args(
        geometry, orientations, length_deg, width_deg, contrast, mean, polarities, center_deg)
    offsets = _values(positions_deg, "positions_deg")
    if np.unique(offsets).size != offsets.size:
        raise ValueError(f"positions_deg: expected distinct offsets, got {offsets.tolist()}")
    if isinstance(n_blanks, bool) or not isinstance(n_blanks, (int, np.integer)) or n_blanks < 0:
        raise ValueError(f"n_blanks: expected an integer >= 0, got {n_blanks!r}")
    rows = [(o, s, p) for o in oris for s in offsets for p in pols]
    rows += [(math.nan, math.nan, "blank")] * int(n_blanks)
    frames = np.full((len(rows), 1, *geometry.size_px), mean, dtype=np.float32)
    cx = np.full(len(rows), np.nan)
    cy = np.full(len(rows), np.nan)
    for i, (o, s, p) in enumerate(rows):
        if p == "blank":
            continue
        th = math.radians(o)
        cx[i], cy[i] = centre[0] + s * math.cos(th), centre[1] + s * math.sin(th)
        frames[i, 0] += (mean * contrast * _sign(p) * _bar(geometry, (cx[i], cy[i]), o, width,
                                                           length)).astype(np.float32)
    n = len(rows)
    params = {
        "kind": np.full(n, "flashed_bar"),
        "orientation": np.array([r[0] for r in rows]),
        "position_deg": np.array([r[1] for r in rows]),
        "polarity": np.array([r[2] for r in rows]),
        "length_deg": np.full(n, length), "width_deg": np.full(n, width),
        "contrast": np.array([0.0 if r[2] == "blank" else contrast for r in rows]),
        "center_x_deg": cx, "center_y_deg": cy,
    }
    meta = {"builder": "flashed_bars", "mean": mean, "center_deg": centre}
    return Stimuli(frames=np.clip(frames, 0.0, 1.0), params=params, geometry=geometry,
                   meta=meta)
