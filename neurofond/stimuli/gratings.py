"""Sinusoidal gratings (static, drifting, counter-phase), plaids and grating sweeps.

The :class:`~neurofond.stimuli.base.Stimuli` container lives in
:mod:`neurofond.stimuli.base`, the aperture windows in :mod:`neurofond.stimuli.apertures`
(both re-exported here).

Grating definition
------------------
With pixel coordinates ``(x, y)`` in degrees (``x`` right, ``y`` down, centred;
see :mod:`neurofond.stimuli.geometry`), orientation ``theta`` (deg), spatial
frequency ``sf`` (cycles/deg), temporal frequency ``tf`` (Hz), spatial phase
``phi`` (deg), Michelson contrast ``c`` and mean luminance ``L0``::

    u(x, y) = x cos(theta) + y sin(theta)
    L(x, y, t) = L0 + L0 * c * w(x, y) * sin(2 pi (sf * u - tf * t) + phi)     (drifting)
    L(x, y, t) = L0 + L0 * c * w(x, y) * sin(2 pi sf * u + phi) cos(2 pi tf t)  (counter-phase)

where ``w`` is the aperture window (1 without aperture). ``theta`` is the
direction of the wave vector (normal to the bars): ``theta = 0`` gives vertical
bars, ``theta = 90`` horizontal bars; positive ``tf`` moves the bars along
``+theta`` (the drift direction). Frame ``k`` is shown at ``t = k / frame_rate_hz``.

The modulation amplitude is ``L0 * c``, so ``c`` is the Michelson contrast
``(L_max - L_min) / (L_max + L_min)`` of the unwindowed grating. With the
default ``L0 = 0.5`` this equals the form ``L0 + c sin(...)`` used by
Brain-Score's Marques2020 generator (gray 0.5 background, contrast 1 spanning
``[0, 1]``; Marques, Schrimpf & DiCarlo 2021, bioRxiv 2021.03.01.433495).
Outside the aperture the luminance equals ``L0``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .apertures import APERTURES, aperture_window
from .base import (
    _LUM_TOL,
    Stimuli,
    _frame_rate,
    _positive_int,
    _scalar,
    _values,
    concat,
)
from .geometry import ScreenGeometry, _as_point

__all__ = [
    "Stimuli",
    "concat",
    "aperture_window",
    "grating",
    "counterphase_grating",
    "plaid",
    "render_gratings",
    "grating_sweep",
    "drifting_grating_sweep",
    "GRATING_PARAMS",
]

#: Parameter columns understood by :func:`render_gratings`.
GRATING_PARAMS = (
    "kind",
    "orientation",
    "direction",
    "sf",
    "phase",
    "contrast",
    "tf",
    "radius_deg",
    "center_x_deg",
    "center_y_deg",
)


# --------------------------------------------------------------------------- rendering


def _frame_times(n_frames: int, frame_rate_hz: float | None, tf: float) -> np.ndarray:
    if n_frames > 1 and tf != 0 and frame_rate_hz is None:
        raise ValueError("frame_rate_hz: required (> 0) for a temporal frequency tf != 0 "
                         "with n_frames > 1")
    if frame_rate_hz is None:
        return np.zeros(n_frames)
    return np.arange(n_frames, dtype=np.float64) / frame_rate_hz


def _modulation(
    geometry: ScreenGeometry,
    orientation: float,
    sf: float,
    phase: float,
    tf: float,
    times: np.ndarray,
    counterphase: bool,
) -> np.ndarray:
    """Unit-amplitude modulation ``(n_frames, H, W)`` (drifting or counter-phase)."""
    x, y = geometry.grid_deg()
    th = math.radians(orientation)
    u = x * math.cos(th) + y * math.sin(th)
    ph = math.radians(phase)
    spatial = 2.0 * np.pi * sf * u + ph
    if counterphase:
        return np.sin(spatial)[None] * np.cos(2.0 * np.pi * tf * times)[:, None, None]
    return np.sin(spatial[None] - 2.0 * np.pi * tf * times[:, None, None])


def _check_common(
    geometry: Any, mean: Any, n_frames: Any, frame_rate_hz: Any
) -> tuple[float, int, float | None]:
    if not isinstance(geometry, ScreenGeometry):
        raise ValueError(f"geometry: expected a ScreenGeometry, got {geometry!r}")
    mean = _scalar(mean, "mean", low=0.0, high=1.0, low_open=True)
    return mean, _positive_int(n_frames, "n_frames"), _frame_rate(frame_rate_hz)


def grating(
    geometry: ScreenGeometry,
    orientation: float,
    sf: float,
    phase: float = 0.0,
    contrast: float = 1.0,
    mean: float = 0.5,
    tf: float = 0.0,
    n_frames: int = 1,
    frame_rate_hz: float | None = None,
    aperture: str | None = None,
    radius_deg: float | None = None,
    center_deg: tuple[float, float] = (0.0, 0.0),
    ramp_deg: float | None = None,
    counterphase: bool = False,
) -> Stimuli:
    """One sinusoidal grating (static or drifting), as a :class:`Stimuli` of one stimulus.

    Parameters
    ----------
    geometry : ScreenGeometry
        Canvas (pixels per degree and size).
    orientation : float
        Angle of the wave vector in degrees (0 = vertical bars, 90 = horizontal
        bars; clockwise on screen since y points down). Any finite value; for
        drifting gratings this is the drift direction.
    sf : float
        Spatial frequency in cycles/deg (>= 0).
    phase : float
        Spatial phase in degrees at the canvas centre and ``t = 0``.
    contrast : float
        Michelson contrast in [0, 1].
    mean : float
        Mean (background) luminance in (0, 1]; ``mean * (1 + contrast)`` must be <= 1.
    tf : float
        Temporal frequency in Hz (cycles/s); positive drifts along ``orientation``.
    n_frames : int
        Number of frames (>= 1).
    frame_rate_hz : float, optional
        Frame rate (> 0); required when ``tf != 0`` and ``n_frames > 1``.
    aperture : {None, "circular", "raised_cosine"}
        Window applied to the modulation; outside it the luminance is ``mean``.
        See :func:`aperture_window`.
    radius_deg, center_deg, ramp_deg
        Aperture radius (deg), centre ``(x, y)`` (deg) and raised-cosine edge width (deg).
    counterphase : bool
        Render a counter-phase (standing) grating instead of a drifting one.

    Returns
    -------
    Stimuli
        The same container as the sweeps (:func:`grating_sweep`): ``frames`` of shape
        ``(1, n_frames, height, width)``, float32, with
        ``L = mean + mean * contrast * w * sin(2 pi (sf u - tf t) + phase)``,
        ``u = x cos(orientation) + y sin(orientation)`` and ``t = k / frame_rate_hz``
        (see the module docstring); ``params`` with the columns of :func:`grating_sweep`
        (``kind``, ``orientation``, ``sf``, ``phase``, ``contrast``, ``tf``,
        ``radius_deg`` (inf without aperture), ``center_x_deg``, ``center_y_deg``);
        ``geometry``; ``frame_rate_hz`` for movies. ``grating(...).frames[0]`` is the
        frame stack of the grating.

    Raises
    ------
    ValueError
        On non-finite or out-of-range arguments (the message names the argument).

    Notes
    -----
    ``contrast`` is the Michelson contrast ``(L_max - L_min) / (L_max + L_min)``
    of the unwindowed grating. Spatial frequencies above
    ``geometry.nyquist_cpd`` alias.
    """
    frames = _grating_frames(
        geometry, orientation, sf, phase=phase, contrast=contrast, mean=mean, tf=tf,
        n_frames=n_frames, frame_rate_hz=frame_rate_hz, aperture=aperture,
        radius_deg=radius_deg, center_deg=center_deg, ramp_deg=ramp_deg,
        counterphase=counterphase,
    )
    cx, cy = _as_point(center_deg, "center_deg")
    tf = float(tf)
    kind = "counterphase" if counterphase else ("drifting" if tf != 0 else "static")
    params = {
        "kind": [kind],
        "orientation": [float(orientation)],
        "sf": [float(sf)],
        "phase": [float(phase)],
        "contrast": [float(contrast)],
        "tf": [tf],
        "radius_deg": [math.inf if aperture is None else float(radius_deg)],
        "center_x_deg": [cx],
        "center_y_deg": [cy],
    }
    n = frames.shape[0]
    return Stimuli(
        frames=frames[None],
        params=params,
        geometry=geometry,
        frame_rate_hz=frame_rate_hz if n > 1 else None,
        meta={"builder": "counterphase_grating" if counterphase else "grating",
              "mean": float(mean), "aperture": aperture},
    )


def _grating_frames(
    geometry: ScreenGeometry,
    orientation: float,
    sf: float,
    phase: float = 0.0,
    contrast: float = 1.0,
    mean: float = 0.5,
    tf: float = 0.0,
    n_frames: int = 1,
    frame_rate_hz: float | None = None,
    aperture: str | None = None,
    radius_deg: float | None = None,
    center_deg: tuple[float, float] = (0.0, 0.0),
    ramp_deg: float | None = None,
    counterphase: bool = False,
) -> np.ndarray:
    """The frames ``(n_frames, height, width)`` of :func:`grating` (float32)."""
    mean, n_frames, frame_rate_hz = _check_common(geometry, mean, n_frames, frame_rate_hz)
    orientation = _scalar(orientation, "orientation")
    sf = _scalar(sf, "sf", low=0.0)
    phase = _scalar(phase, "phase")
    contrast = _scalar(contrast, "contrast", low=0.0, high=1.0)
    tf = _scalar(tf, "tf")
    if mean * (1.0 + contrast) > 1.0 + _LUM_TOL:
        raise ValueError(
            f"contrast: mean * (1 + contrast) must be <= 1 to stay in [0, 1]; got "
            f"mean={mean:g}, contrast={contrast:g}"
        )
    window = aperture_window(geometry, aperture, radius_deg, center_deg, ramp_deg)
    times = _frame_times(n_frames, frame_rate_hz, tf)
    mod = _modulation(geometry, orientation, sf, phase, tf, times, bool(counterphase))
    frames = mean + mean * contrast * window[None] * mod
    return np.clip(frames, 0.0, 1.0).astype(np.float32)


def counterphase_grating(
    geometry: ScreenGeometry,
    orientation: float,
    sf: float,
    tf: float,
    n_frames: int,
    frame_rate_hz: float,
    phase: float = 0.0,
    contrast: float = 1.0,
    mean: float = 0.5,
    aperture: str | None = None,
    radius_deg: float | None = None,
    center_deg: tuple[float, float] = (0.0, 0.0),
    ramp_deg: float | None = None,
) -> Stimuli:
    """Counter-phase (contrast-reversing) grating.

    ``L = mean + mean * contrast * w * sin(2 pi sf u + phase) * cos(2 pi tf t)``:
    a standing wave, equal to the sum of two gratings drifting in opposite
    directions at half the contrast. Parameters as in :func:`grating`.

    Returns
    -------
    Stimuli
        One stimulus, as :func:`grating` (``kind = "counterphase"``).
    """
    return grating(
        geometry, orientation, sf, phase=phase, contrast=contrast, mean=mean, tf=tf,
        n_frames=n_frames, frame_rate_hz=frame_rate_hz, aperture=aperture,
        radius_deg=radius_deg, center_deg=center_deg, ramp_deg=ramp_deg, counterphase=True,
    )


_COMPONENT_KEYS = ("orientation", "sf", "phase", "contrast", "tf")


def _component(spec: Mapping[str, Any], name: str) -> dict[str, float]:
    if not isinstance(spec, Mapping):
        raise ValueError(f"{name}: expected a mapping with keys {_COMPONENT_KEYS}, got {spec!r}")
    for key in spec:
        if key not in _COMPONENT_KEYS:
            raise ValueError(
                f"{name}.{key}: unknown component parameter; expected {_COMPONENT_KEYS}"
            )
    for key in ("orientation", "sf"):
        if key not in spec:
            raise ValueError(f"{name}.{key}: required component parameter")
    out = {"phase": 0.0, "contrast": 0.5, "tf": 0.0}
    out.update(spec)
    return {
        "orientation": _scalar(out["orientation"], f"{name}.orientation"),
        "sf": _scalar(out["sf"], f"{name}.sf", low=0.0),
        "phase": _scalar(out["phase"], f"{name}.phase"),
        "contrast": _scalar(out["contrast"], f"{name}.contrast", low=0.0, high=1.0),
        "tf": _scalar(out["tf"], f"{name}.tf"),
    }


def plaid(
    geometry: ScreenGeometry,
    a: Mapping[str, float],
    b: Mapping[str, float],
    mean: float = 0.5,
    n_frames: int = 1,
    frame_rate_hz: float | None = None,
    aperture: str | None = None,
    radius_deg: float | None = None,
    center_deg: tuple[float, float] = (0.0, 0.0),
    ramp_deg: float | None = None,
    clip: bool = True,
) -> Stimuli:
    """Plaid: the sum of two grating modulations on a common mean.

    Parameters
    ----------
    geometry : ScreenGeometry
        Canvas.
    a, b : mapping
        Components with keys ``orientation`` (deg), ``sf`` (cycles/deg) and
        optional ``phase`` (deg, default 0), ``contrast`` (default 0.5),
        ``tf`` (Hz, default 0).
    mean, n_frames, frame_rate_hz, aperture, radius_deg, center_deg, ramp_deg
        As in :func:`grating`.
    clip : bool
        Clip luminance to ``[0, 1]``. If False, raise when it leaves the range.

    Returns
    -------
    Stimuli
        One stimulus, the same container as the sweeps: ``frames``
        ``(1, n_frames, height, width)``, float32, with
        ``L = mean + mean * w * (c_a sin(phi_a) + c_b sin(phi_b))``; ``params`` named as
        in :func:`neurofond.stimuli.spatial_sweeps.cross_orientation_sweep` (component
        ``a`` is the test, ``b`` the mask): ``kind`` (``"plaid"``), ``orientation``,
        ``sf``, ``phase``, ``tf``, ``test_contrast`` (of ``a``), ``mask_orientation``,
        ``mask_sf``, ``mask_phase``, ``mask_tf``, ``mask_contrast`` (of ``b``),
        ``contrast`` (``c_a + c_b``, the peak modulation), ``radius_deg``,
        ``center_x_deg``, ``center_y_deg``.

    Raises
    ------
    ValueError
        On bad component parameters, or if ``clip`` is False and the plaid
        leaves ``[0, 1]``.

    Notes
    -----
    The peak modulation is ``mean * (c_a + c_b)``; with ``mean = 0.5`` the
    luminance stays in ``[0, 1]`` only when ``c_a + c_b <= 1``. Beyond that the
    peaks are clipped (``clip=True``), which distorts the plaid.
    """
    mean, n_frames, frame_rate_hz = _check_common(geometry, mean, n_frames, frame_rate_hz)
    ca, cb = _component(a, "a"), _component(b, "b")
    window = aperture_window(geometry, aperture, radius_deg, center_deg, ramp_deg)
    total = np.zeros((n_frames, *geometry.size_px))
    for comp in (ca, cb):
        times = _frame_times(n_frames, frame_rate_hz, comp["tf"])
        total += comp["contrast"] * _modulation(
            geometry, comp["orientation"], comp["sf"], comp["phase"], comp["tf"], times, False
        )
    frames = mean + mean * window[None] * total
    if not clip and (frames.min() < -_LUM_TOL or frames.max() > 1 + _LUM_TOL):
        raise ValueError(
            "clip: plaid luminance leaves [0, 1] (mean * (c_a + c_b) > min(mean, 1 - mean)); "
            "lower the contrasts or pass clip=True"
        )
    cx, cy = _as_point(center_deg, "center_deg")
    params = {
        "kind": ["plaid"],
        "orientation": [ca["orientation"]],
        "sf": [ca["sf"]],
        "phase": [ca["phase"]],
        "tf": [ca["tf"]],
        "test_contrast": [ca["contrast"]],
        "mask_orientation": [cb["orientation"]],
        "mask_sf": [cb["sf"]],
        "mask_phase": [cb["phase"]],
        "mask_tf": [cb["tf"]],
        "mask_contrast": [cb["contrast"]],
        "contrast": [ca["contrast"] + cb["contrast"]],
        "radius_deg": [math.inf if aperture is None else float(radius_deg)],
        "center_x_deg": [cx],
        "center_y_deg": [cy],
    }
    return Stimuli(
        frames=np.clip(frames, 0.0, 1.0).astype(np.float32)[None],
        params=params,
        geometry=geometry,
        frame_rate_hz=frame_rate_hz if n_frames > 1 else None,
        meta={"builder": "plaid", "mean": mean, "aperture": aperture, "clip": bool(clip)},
    )


def render_gratings(
    params: Mapping[str, Any],
    geometry: ScreenGeometry,
    n_frames: int = 1,
    frame_rate_hz: float | None = None,
    mean: float = 0.5,
    aperture: str | None = None,
    ramp_deg: float | None = None,
    indices: Sequence[int] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Stimuli:
    """Render a table of grating parameters (one row per stimulus) into :class:`Stimuli`.

    Use it to render a parameter grid lazily, in batches (``indices``) or at
    another resolution (pass another ``geometry``).

    Parameters
    ----------
    params : mapping of str -> array
        Columns (all the same length), from :data:`GRATING_PARAMS`:
        ``orientation`` and ``sf`` required; ``direction`` (deg; overrides
        ``orientation`` as the wave-vector angle when present), ``phase``
        (deg, default 0), ``contrast`` (default 1), ``tf`` (Hz, default 0),
        ``radius_deg`` (NaN or inf = no aperture), ``center_x_deg``,
        ``center_y_deg`` (default 0), ``kind`` (``"counterphase"`` renders a
        counter-phase grating; other values drift/are static).
    geometry : ScreenGeometry
        Canvas.
    n_frames, frame_rate_hz, mean, ramp_deg
        As in :func:`grating`.
    aperture : {None, "circular", "raised_cosine"}
        Aperture shape for rows with a finite ``radius_deg``; ``None`` means
        ``"circular"`` for those rows.
    indices : sequence of int, optional
        Render only these rows.
    meta : mapping, optional
        Stored in ``Stimuli.meta``.

    Returns
    -------
    Stimuli
        Frames ``(n_rows, n_frames, H, W)``; ``params`` are the (selected) input columns.

    Raises
    ------
    ValueError
        On unknown columns, columns of unequal length, missing required
        columns or bad values.
    """
    if not isinstance(params, Mapping):
        raise ValueError(f"params: expected a mapping of columns, got {type(params).__name__}")
    for key in params:
        if key not in GRATING_PARAMS:
            raise ValueError(f"{key}: unknown grating parameter; expected one of {GRATING_PARAMS}")
    for key in ("orientation", "sf"):
        if key not in params:
            raise ValueError(f"{key}: required column in params")
    lengths = {k: np.shape(np.atleast_1d(v))[0] for k, v in params.items()}
    n = lengths["orientation"]
    if any(length != n for length in lengths.values()):
        raise ValueError(f"params: columns must have equal lengths, got {lengths}")
    cols = {k: np.atleast_1d(np.asarray(v)) for k, v in params.items()}
    rows = np.arange(n) if indices is None else np.asarray(indices, dtype=np.intp)
    if rows.ndim != 1 or (rows.size and (rows.min() < 0 or rows.max() >= n)):
        raise ValueError(f"indices: expected row numbers in [0, {n - 1}]")
    if aperture not in APERTURES:
        raise ValueError(f"aperture: expected one of {APERTURES}, got {aperture!r}")
    mean, n_frames, frame_rate_hz = _check_common(geometry, mean, n_frames, frame_rate_hz)

    def get(key: str, i: int, default: Any) -> Any:
        col = cols.get(key)
        if col is None:
            return default
        value = col[i]
        return value.item() if isinstance(value, np.generic) else value

    frames = np.empty((rows.size, n_frames, *geometry.size_px), dtype=np.float32)
    for out_i, i in enumerate(rows):
        angle = get("direction", i, None)
        if angle is None or (isinstance(angle, float) and math.isnan(angle)):
            angle = get("orientation", i, 0.0)
        radius = get("radius_deg", i, math.inf)
        has_ap = radius is not None and not (
            isinstance(radius, float) and (math.isnan(radius) or math.isinf(radius))
        )
        frames[out_i] = _grating_frames(
            geometry,
            angle,
            get("sf", i, 1.0),
            phase=get("phase", i, 0.0),
            contrast=get("contrast", i, 1.0),
            mean=mean,
            tf=get("tf", i, 0.0),
            n_frames=n_frames,
            frame_rate_hz=frame_rate_hz,
            aperture=(aperture or "circular") if has_ap else None,
            radius_deg=radius if has_ap else None,
            center_deg=(get("center_x_deg", i, 0.0), get("center_y_deg", i, 0.0)),
            ramp_deg=ramp_deg,
            counterphase=get("kind", i, "") == "counterphase",
        )
    return Stimuli(
        frames=frames,
        params={k: v[rows] for k, v in cols.items()},
        geometry=geometry,
        frame_rate_hz=frame_rate_hz if n_frames > 1 else None,
        meta=dict(meta or {}, mean=mean, aperture=aperture),
    )


def _factorial(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Full factorial product; the last column varies fastest."""
    names = list(columns)
    combos = list(itertools.product(*(columns[k] for k in names)))
    return {k: np.array([c[j] for c in combos]) for j, k in enumerate(names)}


def grating_sweep(
    geometry: ScreenGeometry,
    orientations: Sequence[float] = (0.0,),
    sfs: Sequence[float] = (1.0,),
    phases: Sequence[float] = (0.0,),
    contrasts: Sequence[float] = (1.0,),
    tfs: Sequence[float] = (0.0,),
    radii_deg: Sequence[float] | None = None,
    n_frames: int = 1,
    frame_rate_hz: float | None = None,
    mean: float = 0.5,
    aperture: str | None = None,
    ramp_deg: float | None = None,
    center_deg: tuple[float, float] = (0.0, 0.0),
    counterphase: bool = False,
    params_only: bool = False,
) -> Stimuli | dict[str, np.ndarray]:
    """Full factorial sweep of gratings.

    Parameters
    ----------
    geometry : ScreenGeometry
        Canvas.
    orientations : sequence of float
        Orientations (deg).
    sfs : sequence of float
        Spatial frequencies (cycles/deg, >= 0).
    phases : sequence of float
        Spatial phases (deg).
    contrasts : sequence of float
        Michelson contrasts in [0, 1].
    tfs : sequence of float
        Temporal frequencies (Hz); 0 = static.
    radii_deg : sequence of float, optional
        Aperture radii (deg, > 0); required when ``aperture`` is given. When
        given without ``aperture``, a hard circular aperture is used.
    n_frames, frame_rate_hz, mean, aperture, ramp_deg, center_deg, counterphase
        As in :func:`grating`.
    params_only : bool
        Return the parameter table only (render later with :func:`render_gratings`).

    Returns
    -------
    Stimuli or dict of str -> ndarray
        One stimulus per combination, in the order of
        ``itertools.product(orientations, sfs, radii_deg, contrasts, tfs, phases)``
        (phase varies fastest). Columns: ``kind`` (``"static"``, ``"drifting"``
        or ``"counterphase"``), ``orientation``, ``sf``, ``radius_deg`` (inf
        when no aperture), ``contrast``, ``tf``, ``phase``, ``center_x_deg``,
        ``center_y_deg``.

    Raises
    ------
    ValueError
        If a sequence is empty or holds a bad value (message names it).
    """
    if aperture not in APERTURES:
        raise ValueError(f"aperture: expected one of {APERTURES}, got {aperture!r}")
    if aperture is not None and radii_deg is None:
        raise ValueError(f"radii_deg: required (values > 0) for aperture={aperture!r}")
    cx, cy = _as_point(center_deg, "center_deg")
    columns = {
        "orientation": _values(orientations, "orientations"),
        "sf": _values(sfs, "sfs", low=0.0),
        "radius_deg": (
            np.array([np.inf])
            if radii_deg is None
            else _values(radii_deg, "radii_deg", low=0.0, low_open=True)
        ),
        "contrast": _values(contrasts, "contrasts", low=0.0, high=1.0),
        "tf": _values(tfs, "tfs"),
        "phase": _values(phases, "phases"),
    }
    table = _factorial(columns)
    n = table["orientation"].size
    if counterphase:
        kind = np.full(n, "counterphase")
    else:
        kind = np.where(table["tf"] != 0, "drifting", "static")
    params = {"kind": kind, **table, "center_x_deg": np.full(n, cx), "center_y_deg": np.full(n, cy)}
    if params_only:
        return params
    return render_gratings(
        params, geometry, n_frames=n_frames, frame_rate_hz=frame_rate_hz, mean=mean,
        aperture=aperture, ramp_deg=ramp_deg, meta={"builder": "grating_sweep"},
    )


def drifting_grating_sweep(
    geometry: ScreenGeometry,
    directions: Sequence[float] = tuple(range(0, 360, 45)),
    sfs: Sequence[float] = (1.0,),
    tfs: Sequence[float] = (2.0,),
    contrasts: Sequence[float] = (1.0,),
    n_frames: int = 30,
    frame_rate_hz: float = 30.0,
    phase: float = 0.0,
    radii_deg: Sequence[float] | None = None,
    mean: float = 0.5,
    aperture: str | None = None,
    ramp_deg: float | None = None,
    center_deg: tuple[float, float] = (0.0, 0.0),
    params_only: bool = False,
) -> Stimuli | dict[str, np.ndarray]:
    """Direction sweep of drifting gratings (e.g. Allen Brain Observatory: 8 directions x 5 TF).

    Parameters
    ----------
    geometry : ScreenGeometry
        Canvas.
    directions : sequence of float
        Drift directions in degrees, conventionally in [0, 360); the bars move
        along ``direction`` (clockwise from +x on screen, y down).
    sfs, tfs, contrasts : sequence of float
        Spatial frequencies (cycles/deg), temporal frequencies (Hz, > 0) and contrasts.
    n_frames : int
        Frames per stimulus (one full cycle at ``tf`` needs ``frame_rate_hz / tf`` frames).
    frame_rate_hz : float
        Frame rate (> 0).
    phase : float
        Starting spatial phase (deg).
    radii_deg, mean, aperture, ramp_deg, center_deg, params_only
        As in :func:`grating_sweep`.

    Returns
    -------
    Stimuli or dict of str -> ndarray
        Order ``product(directions, sfs, radii_deg, contrasts, tfs)``. Columns as
        in :func:`grating_sweep` plus ``direction``; ``orientation`` is
        ``direction mod 180`` (the axis of the bars' normal).

    Raises
    ------
    ValueError
        On empty or bad values, or a non-positive temporal frequency.
    """
    dirs = _values(directions, "directions")
    tfs = _values(tfs, "tfs", low=0.0, low_open=True)
    frame_rate_hz = _scalar(frame_rate_hz, "frame_rate_hz", low=0.0, low_open=True)
    params = grating_sweep(
        geometry, orientations=dirs, sfs=sfs, phases=(phase,), contrasts=contrasts, tfs=tfs,
        radii_deg=radii_deg, n_frames=n_frames, frame_rate_hz=frame_rate_hz, mean=mean,
        aperture=aperture, ramp_deg=ramp_deg, center_deg=center_deg, params_only=True,
    )
    assert isinstance(params, dict)
    direction = params.pop("orientation")
    params = {
        "kind": params.pop("kind"),
        "direction": direction,
        "orientation": np.mod(direction, 180.0),
        **params,
    }
    if params_only:
        return params
    return render_gratings(
        params, geometry, n_frames=n_frames, frame_rate_hz=frame_rate_hz, mean=mean,
        aperture=aperture, ramp_deg=ramp_deg, meta={"builder": "drifting_grating_sweep"},
    )
