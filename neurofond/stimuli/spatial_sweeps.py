"""Spatial-integration stimuli: size sweeps and cross-orientation (test + mask) sweeps.

- :func:`size_sweep`: gratings in circular (hard or raised-cosine) apertures of increasing
  diameter around one centre, the stimulus of size-tuning / surround-suppression
  experiments (Sceniak, Ringach, Hawken & Shapley 1999; Cavanaugh, Bair & Movshon 2002).
- :func:`cross_orientation_sweep`: a test grating alone, the test plus an orthogonal mask
  (plaid) at several mask contrasts, the mask alone and a blank, the stimulus of
  cross-orientation suppression experiments (Morrone, Burr & Maffei 1982; Priebe &
  Ferster 2006; Busse, Wade & Carandini 2009).

Both return the :class:`~neurofond.stimuli.base.Stimuli` container of the grating sweeps,
with one parameter column per stimulus (the ``stimulus`` coordinates of a Responses array).
Conventions (degrees, orientation = wave-vector angle, Michelson contrast, aperture window
``w``) are those of :mod:`neurofond.stimuli.gratings` and :mod:`neurofond.stimuli.apertures`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .apertures import APERTURES, aperture_window
from .base import _LUM_TOL, Stimuli, _scalar, _values
from .geometry import ScreenGeometry, _as_point
from .gratings import _frame_times, _modulation, render_gratings

__all__ = ["size_sweep", "cross_orientation_sweep"]


def _check_geometry(geometry: object) -> ScreenGeometry:
    if not isinstance(geometry, ScreenGeometry):
        raise ValueError(f"geometry: expected a ScreenGeometry, got {geometry!r}")
    return geometry


def _increasing(values: np.ndarray, name: str) -> np.ndarray:
    if values.size > 1 and np.any(np.diff(values) <= 0):
        raise ValueError(
            f"{name}: expected strictly increasing values (sorted, no repeats), "
            f"got {values.tolist()}"
        )
    return values


def size_sweep(
    geometry: ScreenGeometry,
    diameters_deg: Sequence[float],
    orientations: Sequence[float] | float = (0.0,),
    sf: Sequence[float] | float = 1.0,
    phases: Sequence[float] | float = (0.0, 90.0, 180.0, 270.0),
    contrast: float = 1.0,
    center_deg: tuple[float, float] = (0.0, 0.0),
    *,
    aperture: str = "circular",
    ramp_deg: float | None = None,
    mean: float = 0.5,
) -> Stimuli:
    """Static gratings in apertures of increasing diameter (a size-tuning sweep).

    Parameters
    ----------
    geometry : ScreenGeometry
        Canvas.
    diameters_deg : sequence of float
        Aperture diameters in degrees: finite, > 0, strictly increasing (uneven spacing,
        e.g. log-spaced, is fine). For a full-field condition use a diameter at least the
        canvas diagonal (a circular aperture then covers every pixel).
    orientations : float or sequence of float
        Grating orientations (deg; wave-vector angle as in :func:`~neurofond.stimuli.grating`).
    sf : float or sequence of float
        Spatial frequencies (cycles/deg, >= 0).
    phases : float or sequence of float
        Spatial phases (deg) at the canvas centre; responses are usually averaged over
        them. Default four phases 90 deg apart.
    contrast : float
        Michelson contrast in [0, 1] inside the aperture.
    center_deg : (float, float)
        Aperture centre ``(x, y)`` in degrees (x right, y down, 0 = canvas centre), e.g.
        a neuron's receptive-field centre.
    aperture : {"circular", "raised_cosine"}
        Hard disc or raised-cosine disc (half-amplitude radius = diameter / 2; edge width
        ``ramp_deg``, default 0.2 x radius); see :func:`~neurofond.stimuli.aperture_window`.
    ramp_deg : float, optional
        Raised-cosine edge width (deg).
    mean : float
        Mean (background) luminance in (0, 1]; outside the aperture the screen is ``mean``.

    Returns
    -------
    Stimuli
        One static frame per combination, in the order
        ``product(orientations, sf, diameters_deg, phases)`` (phase fastest). Parameter
        columns as :func:`~neurofond.stimuli.grating_sweep` (``kind``, ``orientation``,
        ``sf``, ``radius_deg``, ``contrast``, ``tf``, ``phase``, ``center_x_deg``,
        ``center_y_deg``) plus ``size_deg`` (the aperture diameter in degrees).

    Raises
    ------
    ValueError
        If ``geometry`` is not a ScreenGeometry; a diameter is not finite and > 0, or the
        diameters are not strictly increasing; fewer than 2 diameters are given (a size
        sweep needs at least two sizes); a contrast, spatial frequency or phase is out of
        range; ``aperture`` is not a disc shape; ``mean * (1 + contrast) > 1``.

    Examples
    --------
    >>> from neurofond.stimuli import ScreenGeometry
    >>> g = ScreenGeometry(16.0, 32)
    >>> s = size_sweep(g, [0.25, 0.5, 1.0, 2.0], orientations=[0, 90], sf=2.0, phases=[0])
    >>> len(s), sorted(set(s.params["size_deg"].tolist()))
    (8, [0.25, 0.5, 1.0, 2.0])
    """
    geometry = _check_geometry(geometry)
    diam = _values(diameters_deg, "diameters_deg", low=0.0, low_open=True)
    if diam.size < 2:
        raise ValueError(
            f"diameters_deg: a size sweep needs at least 2 diameters, got {diam.tolist()}"
        )
    _increasing(diam, "diameters_deg")
    if aperture not in APERTURES or aperture is None:
        raise ValueError(
            f"aperture: expected 'circular' or 'raised_cosine', got {aperture!r}"
        )
    oris = _values(orientations, "orientations")
    sfs = _values(sf, "sf", low=0.0)
    phs = _values(phases, "phases")
    contrast = _scalar(contrast, "contrast", low=0.0, high=1.0)
    cx, cy = _as_point(center_deg, "center_deg")
    grid = np.meshgrid(oris, sfs, diam, phs, indexing="ij")
    o, f, d, p = (g.ravel() for g in grid)
    n = o.size
    params = {
        "kind": np.full(n, "static"),
        "orientation": o,
        "sf": f,
        "radius_deg": d / 2.0,
        "contrast": np.full(n, contrast),
        "tf": np.zeros(n),
        "phase": p,
        "center_x_deg": np.full(n, cx),
        "center_y_deg": np.full(n, cy),
    }
    stim = render_gratings(params, geometry, mean=mean, aperture=aperture, ramp_deg=ramp_deg,
                           meta={"builder": "size_sweep"})
    return Stimuli(frames=stim.frames, params={**stim.params, "size_deg": d},
                   geometry=geometry, meta=stim.meta)


def cross_orientation_sweep(
    geometry: ScreenGeometry,
    test_orientations: Sequence[float] | float = (0.0,),
    test_contrasts: Sequence[float] | float = (0.5,),
    mask_contrasts: Sequence[float] = (0.0, 0.125, 0.25, 0.5),
    sf: float = 1.0,
    phases: Sequence[float] | float = (0.0, 90.0, 180.0, 270.0),
    *,
    mask_offset_deg: float = 90.0,
    mask_phase: float | None = None,
    mask_alone: bool = True,
    blank: bool = True,
    diameter_deg: float | None = None,
    center_deg: tuple[float, float] = (0.0, 0.0),
    aperture: str | None = None,
    ramp_deg: float | None = None,
    mean: float = 0.5,
) -> Stimuli:
    """Test gratings alone, test + orthogonal mask plaids, masks alone and a blank.

    Every stimulus is ``L = mean + mean * w * (c_t * m_t + c_m * m_m)`` with ``m_t`` the
    unit modulation of the test grating (orientation ``theta``, phase ``phi``), ``m_m``
    that of the mask (orientation ``theta + mask_offset_deg``, phase ``mask_phase``, same
    spatial frequency), ``c_t`` / ``c_m`` the test / mask Michelson contrasts and ``w``
    the aperture window (1 without aperture). Nothing is clipped: combinations whose
    luminance would leave [0, 1] are refused.

    Parameters
    ----------
    geometry : ScreenGeometry
        Canvas.
    test_orientations : float or sequence of float
        Test orientations (deg), e.g. each neuron's preferred orientation.
    test_contrasts : float or sequence of float
        Test contrasts, each in (0, 1].
    mask_contrasts : sequence of float
        Mask contrasts in [0, 1]; 0 is the test-alone condition (added when absent).
        Strictly increasing.
    sf : float
        Spatial frequency of test and mask (cycles/deg).
    phases : float or sequence of float
        Test phases (deg); responses are usually averaged over them.
    mask_offset_deg : float
        Mask orientation minus test orientation (deg); 90 = orthogonal (default).
    mask_phase : float, optional
        Mask phase (deg); default: the same as the test phase of each stimulus.
    mask_alone : bool
        Add the mask-alone conditions (test contrast 0, every non-zero mask contrast).
    blank : bool
        Add one blank per test orientation and phase (both contrasts 0: a uniform
        ``mean`` screen).
    diameter_deg : float, optional
        Aperture diameter (deg); None = full field.
    center_deg : (float, float)
        Aperture centre (deg).
    aperture : {None, "circular", "raised_cosine"}
        Aperture shape; ``"circular"`` when ``diameter_deg`` is given and this is None.
    ramp_deg : float, optional
        Raised-cosine edge width (deg).
    mean : float
        Mean luminance in (0, 1].

    Returns
    -------
    Stimuli
        Static frames, ordered ``product(test_orientations, conditions, phases)`` with the
        conditions ``(test_contrast, mask_contrast)``: for each test contrast the mask
        contrasts in increasing order, then the masks alone, then the blank. Columns:
        ``kind`` (``"test"``, ``"plaid"``, ``"mask"``, ``"blank"``), ``orientation`` (the
        test orientation, also for masks alone and blanks, so that responses group by
        it), ``mask_orientation``, ``sf``, ``phase`` (test), ``mask_phase``,
        ``test_contrast``, ``mask_contrast``, ``contrast`` (``c_t + c_m``, the peak
        modulation), ``tf`` (0), ``radius_deg`` (inf = full field), ``center_x_deg``,
        ``center_y_deg``.

    Raises
    ------
    ValueError
        On a bad geometry, a negative or > 1 contrast, a test contrast of 0 (use
        ``mask_alone`` / ``blank``), mask contrasts not strictly increasing, a bad
        ``sf``/phase/diameter, or a combination with ``mean * (c_t + c_m)`` above
        ``min(mean, 1 - mean)`` (the plaid would leave [0, 1]; the message names it).

    Examples
    --------
    >>> from neurofond.stimuli import ScreenGeometry
    >>> s = cross_orientation_sweep(ScreenGeometry(16.0, 32), test_contrasts=0.5,
    ...                             mask_contrasts=[0, 0.25, 0.5], phases=[0])
    >>> s.params["kind"].tolist()
    ['test', 'plaid', 'plaid', 'mask', 'mask', 'blank']
    """
    geometry = _check_geometry(geometry)
    oris = _values(test_orientations, "test_orientations")
    c_tests = _values(test_contrasts, "test_contrasts", low=0.0, high=1.0, low_open=True)
    c_masks = _values(mask_contrasts, "mask_contrasts", low=0.0, high=1.0)
    _increasing(c_masks, "mask_contrasts")
    _increasing(np.sort(c_tests), "test_contrasts")
    if c_masks[0] != 0.0:
        c_masks = np.concatenate([[0.0], c_masks])
    sf = _scalar(sf, "sf", low=0.0)
    phs = _values(phases, "phases")
    offset = _scalar(mask_offset_deg, "mask_offset_deg")
    m_phase = None if mask_phase is None else _scalar(mask_phase, "mask_phase")
    mean = _scalar(mean, "mean", low=0.0, high=1.0, low_open=True)
    cx, cy = _as_point(center_deg, "center_deg")
    if aperture not in APERTURES:
        raise ValueError(f"aperture: expected one of {APERTURES}, got {aperture!r}")
    if diameter_deg is None:
        if aperture is not None:
            raise ValueError(f"diameter_deg: required (> 0) for aperture={aperture!r}")
        window = np.ones(geometry.size_px)
        radius = np.inf
    else:
        radius = _scalar(diameter_deg, "diameter_deg", low=0.0, low_open=True) / 2.0
        window = aperture_window(geometry, aperture or "circular", radius, (cx, cy), ramp_deg)

    conditions = [(ct, cm) for ct in c_tests for cm in c_masks]
    if mask_alone:
        conditions += [(0.0, cm) for cm in c_masks if cm > 0]
    if blank:
        conditions.append((0.0, 0.0))
    limit = min(mean, 1.0 - mean)
    for ct, cm in conditions:
        if mean * (ct + cm) > limit + _LUM_TOL:
            raise ValueError(
                f"mask_contrasts: test contrast {ct:g} + mask contrast {cm:g} gives a peak "
                f"modulation mean * (c_t + c_m) = {mean * (ct + cm):g} above "
                f"min(mean, 1 - mean) = {limit:g}; the plaid would leave [0, 1]"
            )

    times = _frame_times(1, None, 0.0)
    rows: dict[str, list] = {k: [] for k in (
        "kind", "orientation", "mask_orientation", "sf", "phase", "mask_phase",
        "test_contrast", "mask_contrast", "contrast", "tf", "radius_deg", "center_x_deg",
        "center_y_deg")}
    frames = []
    for ori in oris:
        for ct, cm in conditions:
            for ph in phs:
                mph = ph if m_phase is None else m_phase
                mod = np.zeros(geometry.size_px)
                if ct > 0:
                    mod += ct * _modulation(geometry, ori, sf, ph, 0.0, times, False)[0]
                if cm > 0:
                    mod += cm * _modulation(geometry, ori + offset, sf, mph, 0.0, times,
                                            False)[0]
                frames.append(mean + mean * window * mod)
                kind = ("plaid" if ct > 0 and cm > 0 else "test" if ct > 0
                        else "mask" if cm > 0 else "blank")
                for key, value in (
                    ("kind", kind), ("orientation", ori), ("mask_orientation", ori + offset),
                    ("sf", sf), ("phase", ph), ("mask_phase", mph), ("test_contrast", ct),
                    ("mask_contrast", cm), ("contrast", ct + cm), ("tf", 0.0),
                    ("radius_deg", radius), ("center_x_deg", cx), ("center_y_deg", cy),
                ):
                    rows[key].append(value)
    arr = np.clip(np.stack(frames)[:, None], 0.0, 1.0).astype(np.float32)
    return Stimuli(
        frames=arr,
        params={k: np.asarray(v) for k, v in rows.items()},
        geometry=geometry,
        meta={"builder": "cross_orientation_sweep", "mean": mean,
              "aperture": None if diameter_deg is None else (aperture or "circular")},
    )
