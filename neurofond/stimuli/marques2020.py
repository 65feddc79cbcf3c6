"""Brain-Score Marques2020 V1-property stimulus grids.

Parameter grids of the stimulus sets used by the Brain-Score ``Marques2020``
V1 benchmarks (Marques, Schrimpf & DiCarlo 2021, "Multi-scale hierarchical
neural network models that bridge from single neurons in the primate primary
visual cortex to object recognition behavior", bioRxiv 2021.03.01.433495;
Brain-Score, Schrimpf et al. 2018/2020). Their generator draws circular
sinusoidal gratings at contrast 1 on a gray (0.5) background on a 12 deg canvas
of 672 px (56 px/deg):

- orientations 0-165 deg in steps of 15 (12); phases 0-315 deg in steps of 45 (8);
- spatial frequencies ``2 ** linspace(-1.375, 3.875, 22)`` = 0.386-14.67 c/deg;
- radii ``2 ** linspace(-2.25, 3.25, 12) / 2`` = 0.105-4.757 deg.

Sets built here:

========================  ==========================================================  =====
set                       grid                                                        count
========================  ==========================================================  =====
orientation               4 SF {0.771, 1.542, 3.084, 6.169} x radius {2, 3, 4}/(2 SF)  1152
                          x 12 orientations x 8 phases
spatial frequency         22 SF x radius {0.75, 2.25} x 6 orientations x 8 phases     2112
size                      12 radii x 4 SF x 6 orientations x 8 phases                 2304
receptive-field mapping   21 x 21 positions over +-2.5 deg x 4 orientations x         3528
                          2 phases; radius 1/6 deg, SF 3 c/deg
========================  ==========================================================  =====

The benchmarks read responses in a 70-170 ms window over 20 trials
(:data:`RESPONSE_WINDOW_MS`, :data:`N_TRIALS`).

Every builder returns the parameter table (``params_only=True``) or renders it
as :class:`~neurofond.stimuli.gratings.Stimuli`. The full-resolution sets are
large (1152 x 672 x 672 float32 = 2.1 GB), so render at the model's resolution
(``size_px=64`` keeps the 12 deg field at 5.33 px/deg) or render the table in
batches with :func:`~neurofond.stimuli.gratings.render_gratings`. At low
resolution the highest spatial frequencies exceed the Nyquist limit
``pixels_per_degree / 2`` and alias; ``params_only`` tables are unaffected.
"""

from __future__ import annotations

import numpy as np

from .base import Stimuli, _scalar
from .geometry import ScreenGeometry
from .gratings import _factorial, render_gratings

__all__ = [
    "CANVAS_DEG",
    "CANVAS_PX",
    "ORIENTATIONS",
    "PHASES",
    "SPATIAL_FREQUENCIES",
    "RADII_DEG",
    "ORIENTATION_SET_SFS",
    "SIZE_SET_SFS",
    "SF_SET_RADII_DEG",
    "RF_POSITIONS_DEG",
    "RESPONSE_WINDOW_MS",
    "N_TRIALS",
    "marques2020_geometry",
    "marques2020_orientation_grid",
    "marques2020_sf_grid",
    "marques2020_size_grid",
    "marques2020_rf_grid",
    "marques2020_grid",
    "MARQUES2020_SETS",
]

#: Canvas width in visual degrees.
CANVAS_DEG: float = 12.0
#: Canvas size in pixels.
CANVAS_PX: int = 672
#: 12 orientations, 0-165 deg in steps of 15.
ORIENTATIONS: np.ndarray = np.arange(0.0, 180.0, 15.0)
#: 8 spatial phases, 0-315 deg in steps of 45.
PHASES: np.ndarray = np.arange(0.0, 360.0, 45.0)
#: 22 spatial frequencies (cycles/deg): 2 ** linspace(-1.375, 3.875, 22).
SPATIAL_FREQUENCIES: np.ndarray = 2.0 ** np.linspace(-1.375, 3.875, 22)
#: 12 radii (deg): 2 ** linspace(-2.25, 3.25, 12) / 2.
RADII_DEG: np.ndarray = 2.0 ** np.linspace(-2.25, 3.25, 12) / 2.0
#: Spatial frequencies of the orientation set (every 4th of the SF grid from 0.771).
ORIENTATION_SET_SFS: np.ndarray = SPATIAL_FREQUENCIES[[4, 8, 12, 16]]
#: Spatial frequencies of the size set (same four values).
SIZE_SET_SFS: np.ndarray = ORIENTATION_SET_SFS
#: Aperture radii of the spatial-frequency set (deg).
SF_SET_RADII_DEG: np.ndarray = np.array([0.75, 2.25])
#: Orientations of the SF and size sets: 6, 0-150 deg in steps of 30.
SIX_ORIENTATIONS: np.ndarray = np.arange(0.0, 180.0, 30.0)
#: Receptive-field mapping positions (deg): 21 values over +-2.5 on each axis.
RF_POSITIONS_DEG: np.ndarray = np.linspace(-2.5, 2.5, 21)
#: Response window used by the benchmarks (ms after stimulus onset).
RESPONSE_WINDOW_MS: tuple[float, float] = (70.0, 170.0)
#: Trials per stimulus in the benchmarks.
N_TRIALS: int = 20

_MEAN = 0.5


def marques2020_geometry(size_px: int = CANVAS_PX, degrees: float = CANVAS_DEG) -> ScreenGeometry:
    """Square canvas of ``degrees`` visual degrees rendered at ``size_px`` pixels.

    Parameters
    ----------
    size_px : int
        Canvas side in pixels (default 672, the Brain-Score resolution).
    degrees : float
        Canvas side in visual degrees (default 12).

    Returns
    -------
    ScreenGeometry
        ``pixels_per_degree = size_px / degrees`` (56 by default).
    """
    return ScreenGeometry.from_size_deg(degrees, size_px)


def _table(columns: dict[str, np.ndarray], contrast: float) -> dict[str, np.ndarray]:
    """Factorial table of static full-contrast gratings (last column fastest)."""
    table = _factorial(columns)
    n = next(iter(table.values())).size
    out = {"kind": np.full(n, "static")}
    out.update(table)
    out.setdefault("center_x_deg", np.zeros(n))
    out.setdefault("center_y_deg", np.zeros(n))
    out["contrast"] = np.full(n, contrast)
    out["tf"] = np.zeros(n)
    return out


def _finish(
    params: dict[str, np.ndarray],
    set_name: str,
    size_px: int,
    degrees: float,
    params_only: bool,
    mean: float,
) -> Stimuli | dict[str, np.ndarray]:
    if params_only:
        return params
    geometry = marques2020_geometry(size_px, degrees)
    return render_gratings(
        params, geometry, mean=mean, aperture="circular",
        meta={"builder": f"marques2020_{set_name}", "set": f"Marques2020_{set_name}"},
    )


def _check(contrast: float, mean: float) -> tuple[float, float]:
    contrast = _scalar(contrast, "contrast", low=0.0, high=1.0)
    mean = _scalar(mean, "mean", low=0.0, high=1.0, low_open=True)
    return contrast, mean


def marques2020_orientation_grid(
    size_px: int = CANVAS_PX,
    degrees: float = CANVAS_DEG,
    params_only: bool = False,
    contrast: float = 1.0,
    mean: float = _MEAN,
) -> Stimuli | dict[str, np.ndarray]:
    """Orientation set: 4 SF x 3 radii x 12 orientations x 8 phases = 1152 gratings.

    Parameters
    ----------
    size_px : int
        Canvas side in pixels (672 in Brain-Score; e.g. 64 for a small model).
    degrees : float
        Canvas side in visual degrees (12).
    params_only : bool
        Return only the parameter table (no rendering).
    contrast : float
        Michelson contrast (1 in Brain-Score).
    mean : float
        Background luminance (0.5).

    Returns
    -------
    Stimuli or dict of str -> ndarray
        Order ``product(sf, radius multiple, orientation, phase)`` (phase
        fastest). SF in {0.771, 1.542, 3.084, 6.169} c/deg; radius
        ``k / (2 sf)`` deg for ``k`` in {2, 3, 4} (apertures of 2, 3 and 4 cycles
        in diameter). Columns ``kind, sf, radius_deg, orientation, phase,
        center_x_deg, center_y_deg, contrast, tf``.

    Notes
    -----
    Marques, Schrimpf & DiCarlo 2021 (bioRxiv 2021.03.01.433495); Brain-Score
    ``dicarlo.Marques2020_orientation``.
    """
    contrast, mean = _check(contrast, mean)
    sf = np.repeat(ORIENTATION_SET_SFS, 3)
    radius = np.concatenate([np.array([2.0, 3.0, 4.0]) / (2.0 * f) for f in ORIENTATION_SET_SFS])
    table = _factorial(
        {"pair": np.arange(sf.size), "orientation": ORIENTATIONS, "phase": PHASES}
    )
    pair = table.pop("pair")
    n = pair.size
    params = {
        "kind": np.full(n, "static"),
        "sf": sf[pair],
        "radius_deg": radius[pair],
        "orientation": table["orientation"],
        "phase": table["phase"],
        "center_x_deg": np.zeros(n),
        "center_y_deg": np.zeros(n),
        "contrast": np.full(n, contrast),
        "tf": np.zeros(n),
    }
    return _finish(params, "orientation", size_px, degrees, params_only, mean)


def marques2020_sf_grid(
    size_px: int = CANVAS_PX,
    degrees: float = CANVAS_DEG,
    params_only: bool = False,
    contrast: float = 1.0,
    mean: float = _MEAN,
) -> Stimuli | dict[str, np.ndarray]:
    """Spatial-frequency set: 22 SF x 2 radii x 6 orientations x 8 phases = 2112 gratings.

    Parameters as in :func:`marques2020_orientation_grid`.

    Returns
    -------
    Stimuli or dict of str -> ndarray
        Order ``product(sf, radius_deg, orientation, phase)``; SF
        ``2 ** linspace(-1.375, 3.875, 22)``, radius {0.75, 2.25} deg,
        orientations 0-150 step 30.
    """
    contrast, mean = _check(contrast, mean)
    params = _table(
        {
            "sf": SPATIAL_FREQUENCIES,
            "radius_deg": SF_SET_RADII_DEG,
            "orientation": SIX_ORIENTATIONS,
            "phase": PHASES,
        },
        contrast,
    )
    return _finish(params, "spatial_frequency", size_px, degrees, params_only, mean)


def marques2020_size_grid(
    size_px: int = CANVAS_PX,
    degrees: float = CANVAS_DEG,
    params_only: bool = False,
    contrast: float = 1.0,
    mean: float = _MEAN,
) -> Stimuli | dict[str, np.ndarray]:
    """Size set: 12 radii x 4 SF x 6 orientations x 8 phases = 2304 gratings.

    Parameters as in :func:`marques2020_orientation_grid`.

    Returns
    -------
    Stimuli or dict of str -> ndarray
        Order ``product(radius_deg, sf, orientation, phase)``; radii
        ``2 ** linspace(-2.25, 3.25, 12) / 2`` (0.105-4.757 deg), SF
        {0.771, 1.542, 3.084, 6.169} c/deg, orientations 0-150 step 30.

    Notes
    -----
    PROTOCOLS.md states "4 SF" for this set without listing them; the four
    orientation-set frequencies are used (:data:`SIZE_SET_SFS`).
    """
    contrast, mean = _check(contrast, mean)
    params = _table(
        {
            "radius_deg": RADII_DEG,
            "sf": SIZE_SET_SFS,
            "orientation": SIX_ORIENTATIONS,
            "phase": PHASES,
        },
        contrast,
    )
    return _finish(params, "size", size_px, degrees, params_only, mean)


def marques2020_rf_grid(
    size_px: int = CANVAS_PX,
    degrees: float = CANVAS_DEG,
    params_only: bool = False,
    contrast: float = 1.0,
    mean: float = _MEAN,
) -> Stimuli | dict[str, np.ndarray]:
    """Receptive-field mapping set: 21 x 21 positions x 4 orientations x 2 phases = 3528.

    Small gratings (radius 1/6 deg, SF 3 c/deg) centred on a 21 x 21 grid over
    +-2.5 deg (0.25 deg spacing).

    Parameters as in :func:`marques2020_orientation_grid`.

    Returns
    -------
    Stimuli or dict of str -> ndarray
        Order ``product(center_y_deg, center_x_deg, orientation, phase)``;
        orientations {0, 45, 90, 135}, phases {0, 180}. ``center_y_deg`` grows
        downwards (image rows).
    """
    contrast, mean = _check(contrast, mean)
    params = _table(
        {
            "center_y_deg": RF_POSITIONS_DEG,
            "center_x_deg": RF_POSITIONS_DEG,
            "orientation": np.array([0.0, 45.0, 90.0, 135.0]),
            "phase": np.array([0.0, 180.0]),
        },
        contrast,
    )
    n = params["phase"].size
    params["sf"] = np.full(n, 3.0)
    params["radius_deg"] = np.full(n, 1.0 / 6.0)
    return _finish(params, "receptive_field", size_px, degrees, params_only, mean)


#: Builders by set name.
MARQUES2020_SETS = {
    "orientation": marques2020_orientation_grid,
    "spatial_frequency": marques2020_sf_grid,
    "size": marques2020_size_grid,
    "receptive_field": marques2020_rf_grid,
}


def marques2020_grid(
    name: str,
    size_px: int = CANVAS_PX,
    degrees: float = CANVAS_DEG,
    params_only: bool = False,
    contrast: float = 1.0,
    mean: float = _MEAN,
) -> Stimuli | dict[str, np.ndarray]:
    """Build a Marques2020 set by name (``orientation``, ``spatial_frequency``, ``size``,
    ``receptive_field``).

    Raises
    ------
    ValueError
        If ``name`` is unknown.
    """
    if name not in MARQUES2020_SETS:
        raise ValueError(f"name: expected one of {sorted(MARQUES2020_SETS)}, got {name!r}")
    return MARQUES2020_SETS[name](
        size_px=size_px, degrees=degrees, params_only=params_only, contrast=contrast, mean=mean
    )
