"""Spatial integration and cross-orientation suppression of every neuron of a population.

Two experiments on one hypercolumn (``positions="center"``), each stimulus matched to the
neuron it is meant for, as an experimenter centres and orients gratings on the recorded
cell:

1. **Preferences** (:func:`grating_preferences`, or pass your own): full-field static
   gratings (orientation x SF x phase); per neuron the orientation and SF of the largest
   phase-averaged response. The receptive-field centre is the centroid of the neuron's
   dictionary element (:func:`neurofond.population.rf_summary`), snapped to a
   ``center_step_deg`` grid.
2. :func:`measure_size_tuning`: gratings at the preferred orientation and SF in circular
   apertures of increasing diameter centred on the RF (:func:`~neurofond.stimuli.
   spatial_sweeps.size_sweep`) -> :func:`neurofond.analysis.spatial_integration.size_tuning`
   (preferred size, surround suppression index, optional DoE fit), the spontaneous rate
   subtracted: the response to a uniform gray stimulus in the same window (the short blank
   before onset leaves the state relaxing from the model's prior, so the matched blank
   condition is the control, not the rate before onset).
3. :func:`measure_cross_orientation`: full-field test gratings at the preferred
   orientation and SF alone, with an orthogonal mask of increasing contrast, masks alone and
   a blank (:func:`~neurofond.stimuli.spatial_sweeps.cross_orientation_sweep`) ->
   :func:`neurofond.analysis.cross_orientation.cross_orientation_suppression` (blank
   subtracted).

Neurons sharing a preferred orientation, SF and snapped RF centre share their stimuli, so
the number of stimuli grows with the number of such groups, not of neurons. What the model
can and cannot show: one hypercolumn sees one ``patch_size``-pixel patch (``patch_size_deg``
degrees); an aperture beyond the patch changes nothing it sees, and its only coupling is the
explaining-away term of inference (neurons compete for the input). Surround suppression and
cross-orientation suppression measured here are therefore what that competition produces
within the patch.

Importing this module loads no torch; the functions load the population stack when called.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from .._checks import check_int, check_positive

__all__ = [
    "DEFAULT_DIAMETERS_DEG",
    "grating_preferences",
    "measure_cross_orientation",
    "measure_size_tuning",
    "summarize",
]

#: Aperture diameters (deg) of the default size sweep: 1/8 deg to 3 deg, roughly log-spaced
#: (3 deg covers a 1-deg patch wholly even for an RF centre at its corner), then 8 deg, which
#: covers the whole default canvas (64 px = 4 deg at 16 px/deg): the full-field grating.
DEFAULT_DIAMETERS_DEG = (0.125, 0.1875, 0.25, 0.375, 0.5, 0.75, 1.0, 1.5, 3.0, 8.0)


# --------------------------------------------------------------------------- helpers


def _steps(population: Any, ms: float, name: str) -> int:
    n = float(ms) / population.ms_per_step
    if not math.isfinite(n) or n < 0 or abs(n - round(n)) > 1e-9:
        raise ValueError(f"{name}: {ms:g} ms is not a whole number of {population.ms_per_step:g}"
                         " ms model steps (population.ms_per_step)")
    return int(round(n))


def _timing(population: Any, blank_ms: float, stimulus_ms: float,
            window_ms: Sequence[float]) -> tuple[int, int, tuple[int, int]]:
    check_positive(stimulus_ms, "stimulus_ms")
    blank = _steps(population, blank_ms, "blank_ms")
    shown = _steps(population, stimulus_ms, "stimulus_ms")
    if len(window_ms) != 2:
        raise ValueError(f"window_ms: expected (start, end) in ms, got {window_ms!r}")
    w0 = _steps(population, window_ms[0], "window_ms")
    w1 = _steps(population, window_ms[1], "window_ms")
    if not 0 <= w0 < w1 <= shown:
        raise ValueError(f"window_ms: expected 0 <= start < end <= stimulus_ms={stimulus_ms:g}, "
                         f"got {tuple(window_ms)}")
    return blank, shown, (w0, w1)


def _geometry(population: Any, canvas_px: int) -> Any:
    from ..stimuli import ScreenGeometry

    ppd = getattr(population, "model_pixels_per_degree", None)
    if ppd is None:
        raise ValueError("population: patch_size_deg must be set (degrees of one model patch), "
                         "e.g. InSilicoPopulation.from_pretrained(name, patch_size_deg=1.0)")
    if getattr(population, "positions", "center") != "center":
        raise ValueError("population: expected one hypercolumn (positions='center'); the "
                         "stimuli are centred on the neurons of the central tile")
    canvas_px = check_int(canvas_px, "canvas_px", minimum=population.patch_size)
    return ScreenGeometry(ppd, canvas_px)


def _neurons(population: Any, neurons: Any) -> np.ndarray:
    k = int(population.n_units)
    if neurons is None:
        return np.arange(k)
    idx = np.unique(np.asarray(neurons).ravel())
    if idx.size == 0 or idx.dtype.kind not in "iu" or idx.min() < 0 or idx.max() >= k:
        raise ValueError(f"neurons: expected unit indices in [0, {k - 1}], got {neurons!r}")
    return idx.astype(int)


def _present(population: Any, stim: Any, *, n_trials: int, blank: int, shown: int,
             window: tuple[int, int], measure: str, seed: int,
             progress: bool) -> tuple[xr.DataArray, np.ndarray]:
    """Window Responses of ``stim`` (one bin = the window) and the spontaneous rate per neuron.

    A blank stimulus (uniform mean gray) is presented with the stimuli; its response in the
    same window (response units per s) is the spontaneous rate. The blank before onset is
    short (the population's state still relaxes from its prior at onset), so the rate of
    the blank condition at the same time since the trial's start is the matched control,
    not the rate before onset.
    """
    import warnings

    from ..population.windowed import window_responses
    from ..stimuli import Stimuli, concat

    uniform = Stimuli(frames=np.full((1, 1, *stim.size_px), 0.5, dtype=np.float32),
                      params={"group": np.array([-1])}, geometry=stim.geometry)
    both = concat([stim, uniform])
    with warnings.catch_warnings():
        # the short blank is deliberate: the blank condition is the control (docstring)
        warnings.filterwarnings("ignore", message=r".*spontaneous state.*")
        resp, _ = window_responses(population, both, n_trials=n_trials, blank_steps=blank,
                                   stimulus_steps=shown, window_steps=window, measure=measure,
                                   seed=seed, progress=progress)
    n = len(stim)
    spont = np.asarray(resp.values, dtype=float)[:, n, :, 0].mean(0) * (
        1000.0 / float(resp.attrs["bin_ms"]))
    return resp.isel(stimulus=slice(0, n)), spont


def _provenance(func: str, population: Any, **settings: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {"experiment": f"neurofond.insilico.spatial.{func}",
                             "model": str(getattr(population, "name", "")),
                             "family": str(population.model.config.family),
                             "ms_per_step": float(population.ms_per_step),
                             "patch_size_deg": float(population.patch_size_deg)}
    for key, value in settings.items():
        if isinstance(value, (np.ndarray, tuple, list)):
            value = tuple(float(v) for v in np.asarray(value, dtype=float).ravel())
        attrs[key] = "None" if value is None else value
    return attrs


# --------------------------------------------------------------------------- preferences


def grating_preferences(population: Any, *,
                        orientations: Sequence[float] = tuple(np.arange(0.0, 180.0, 15.0)),
                        sfs: Sequence[float] = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0),
                        phases: Sequence[float] = (0.0, 90.0, 180.0, 270.0),
                        contrast: float = 1.0, canvas_px: int = 64, blank_ms: float = 200.0,
                        stimulus_ms: float = 200.0,
                        window_ms: Sequence[float] = (70.0, 170.0), n_trials: int = 1,
                        measure: str = "rates", seed: int = 0,
                        progress: bool = False) -> xr.Dataset:
    """Preferred orientation and SF (full-field gratings) and RF centre of every neuron.

    Parameters
    ----------
    population : InSilicoPopulation
        One hypercolumn with ``patch_size_deg`` set.
    orientations, sfs, phases : sequence of float
        The grid (deg, cycles/deg below the model's Nyquist limit, deg).
    contrast : float
        Michelson contrast in (0, 1].
    canvas_px : int
        Canvas side in pixels at the model's resolution (default 64: 4 deg at 16 px/deg).
    blank_ms, stimulus_ms, window_ms
        Blank before onset, grating duration and response window (whole model steps).
    n_trials, measure, seed, progress
        As :func:`neurofond.population.windowed.window_responses` (``"rates"`` is
        noise-free: 1 trial suffices).

    Returns
    -------
    xarray.Dataset
        Over ``neuron``: ``preferred_orientation`` (deg), ``preferred_sf`` (c/deg),
        ``peak_rate`` and ``spontaneous_rate`` (response units per s), ``rf_x_deg``,
        ``rf_y_deg`` (RF centre relative to the tile centre, deg).
    """
    from ..analysis.tuning import tuning_curve
    from ..population import rf_summary
    from ..stimuli import grating_sweep

    geometry = _geometry(population, canvas_px)
    sf_grid = np.unique(np.asarray(sfs, dtype=float))
    if sf_grid.size < 1 or sf_grid.min() <= 0 or sf_grid.max() >= geometry.nyquist_cpd:
        raise ValueError(f"sfs: expected values in (0, {geometry.nyquist_cpd:g}) c/deg (below "
                         f"the Nyquist limit of the model's resolution), got {sf_grid.tolist()}")
    blank, shown, window = _timing(population, blank_ms, stimulus_ms, window_ms)
    stim = grating_sweep(geometry, orientations=orientations, sfs=sf_grid, phases=phases,
                         contrasts=[contrast])
    resp, spont = _present(population, stim, n_trials=check_int(n_trials, "n_trials", 1),
                           blank=blank, shown=shown, window=window, measure=measure,
                           seed=seed, progress=progress)
    curve = tuning_curve(resp, ("orientation", "sf"))  # (orientation, sf, neuron), spikes/s
    vals = np.nan_to_num(np.asarray(curve.values, dtype=float), nan=-np.inf)
    n_o, n_s, k = vals.shape
    best = np.argmax(vals.reshape(n_o * n_s, k), axis=0)
    b_o, b_s = np.unravel_index(best, (n_o, n_s))
    rf = rf_summary(population)
    return xr.Dataset(
        {"preferred_orientation": ("neuron", np.asarray(curve["orientation"].values)[b_o],
                                   {"units": "deg"}),
         "preferred_sf": ("neuron", np.asarray(curve["sf"].values)[b_s], {"units": "c/deg"}),
         "peak_rate": ("neuron", vals.reshape(-1, k)[best, np.arange(k)], {"units": "1/s"}),
         "spontaneous_rate": ("neuron", spont, {"units": "1/s"}),
         "rf_x_deg": ("neuron", np.asarray(rf["x_deg"].values, dtype=float), {"units": "deg"}),
         "rf_y_deg": ("neuron", np.asarray(rf["y_deg"].values, dtype=float), {"units": "deg"})},
        coords={"neuron_id": ("neuron", np.arange(k))},
        attrs=_provenance("grating_preferences", population, orientations=orientations,
                          sfs=sf_grid, phases=phases, contrast=float(contrast),
                          window_ms=tuple(window_ms), measure=measure, seed=int(seed),
                          rf_centre="centroid of the squared dictionary element "
                                    "(neurofond.population.rf_summary)"),
    )


def _check_preferences(preferences: Any, population: Any) -> xr.Dataset:
    """Preferences over every neuron; RF centres from the dictionary when absent (e.g. the
    result of :func:`neurofond.insilico.tuning.grating_tuning`)."""
    k = int(population.n_units)
    need = ("preferred_orientation", "preferred_sf")
    if not isinstance(preferences, xr.Dataset) or any(v not in preferences for v in need):
        raise ValueError(f"preferences: expected an xarray.Dataset with {need} (and optionally "
                         "rf_x_deg, rf_y_deg) over neuron (grating_preferences)")
    if preferences.sizes.get("neuron") != k:
        raise ValueError(f"preferences: expected {k} neurons, got "
                         f"{preferences.sizes.get('neuron')}")
    if "rf_x_deg" not in preferences or "rf_y_deg" not in preferences:
        from ..population import rf_summary

        rf = rf_summary(population)
        preferences = preferences.assign(
            rf_x_deg=("neuron", np.asarray(rf["x_deg"].values, dtype=float)),
            rf_y_deg=("neuron", np.asarray(rf["y_deg"].values, dtype=float)))
    return preferences


def _groups(prefs: xr.Dataset, idx: np.ndarray, keys: Sequence[str],
            center_step_deg: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Unique stimulus groups (rows = keys) and the group of each selected neuron."""
    cols = []
    for key in keys:
        v = np.asarray(prefs[key].values, dtype=float)[idx]
        if key.startswith("rf_") and center_step_deg is not None:
            v = np.round(v / center_step_deg) * center_step_deg
        cols.append(np.round(v, 9))
    table = np.stack(cols, axis=1)
    if not np.all(np.isfinite(table)):
        raise ValueError("preferences: non-finite preferred orientation, SF or RF centre")
    groups, inverse = np.unique(table, axis=0, return_inverse=True)
    return groups, np.asarray(inverse).ravel()


def _per_neuron_curves(resp: xr.DataArray, idx: np.ndarray, member: np.ndarray,
                       curve_fn: Any) -> xr.DataArray:
    """Curve of each selected neuron over its own group's stimuli, stacked over neuron."""
    gcol = np.asarray(resp["group"].values)
    parts, order = [], []
    for g in np.unique(member):
        neurons = idx[member == g]
        sub = resp.isel(stimulus=np.flatnonzero(gcol == g), neuron=neurons)
        parts.append(curve_fn(sub).transpose(..., "neuron"))
        order.append(neurons)
    pos = np.argsort(np.concatenate(order), kind="stable")
    first = parts[0]
    values = np.concatenate([np.asarray(p.values, dtype=float) for p in parts], axis=-1)
    coords: dict[str, Any] = {}
    for name, c in first.coords.items():
        if c.dims == ("neuron",):
            coords[str(name)] = ("neuron", np.concatenate([np.asarray(p[name].values)
                                                           for p in parts])[pos])
        elif "neuron" not in c.dims:
            coords[str(name)] = c
    return xr.DataArray(values[..., pos], dims=first.dims, coords=coords, attrs=first.attrs,
                        name=first.name)


# --------------------------------------------------------------------------- size tuning


def measure_size_tuning(population: Any, *,
                        diameters_deg: Sequence[float] = DEFAULT_DIAMETERS_DEG,
                        contrast: float = 1.0,
                        phases: Sequence[float] = (0.0, 90.0, 180.0, 270.0),
                        aperture: str = "circular", neurons: Any = None,
                        preferences: xr.Dataset | None = None,
                        center_step_deg: float | None = 0.125, canvas_px: int = 64,
                        blank_ms: float = 200.0, stimulus_ms: float = 200.0,
                        window_ms: Sequence[float] = (70.0, 170.0), n_trials: int = 1,
                        measure: str = "rates", fit: bool = False, seed: int = 0,
                        progress: bool = False) -> xr.Dataset:
    """Size tuning of every neuron: apertures centred on its RF at its preferred grating.

    Parameters
    ----------
    population : InSilicoPopulation
        One hypercolumn (``positions="center"``) with ``patch_size_deg`` set.
    diameters_deg : sequence of float
        Aperture diameters (deg, strictly increasing); the largest should cover the whole
        patch from any RF centre (default :data:`DEFAULT_DIAMETERS_DEG`).
    contrast : float
        Grating contrast in (0, 1].
    phases : sequence of float
        Spatial phases averaged over (deg).
    aperture : {"circular", "raised_cosine"}
        Aperture shape.
    neurons : sequence of int, optional
        Units to measure (default all).
    preferences : xarray.Dataset, optional
        ``preferred_orientation`` and ``preferred_sf`` over ``neuron`` and, optionally, RF
        centres ``rf_x_deg``, ``rf_y_deg`` (:func:`grating_preferences`; the result of
        :func:`neurofond.insilico.tuning.grating_tuning` works too, with the dictionary RF
        centres); measured with :func:`grating_preferences` when not given.
    center_step_deg : float or None
        RF centres are snapped to this grid (deg) so that neurons can share stimuli; None
        keeps them exact.
    canvas_px, blank_ms, stimulus_ms, window_ms, n_trials, measure, seed, progress
        As :func:`grating_preferences`.
    fit : bool
        Also fit the difference-of-error-functions model (centre/surround extents).

    Returns
    -------
    xarray.Dataset
        :func:`~neurofond.analysis.spatial_integration.size_tuning` over the measured
        neurons (``curve`` (size_deg, neuron), ``preferred_size_deg``, ``si``, ``r_peak``,
        ``r_largest``, ``baseline`` = spontaneous rate, ``reason``, fit variables), plus
        ``responsive`` (peak >= 2 x spontaneous rate and > 0), the preferences and the RF
        centre used (``center_x_deg``, ``center_y_deg``) as neuron coordinates; attrs hold
        the settings and provenance (``n_stimuli``, ``n_groups``).
    """
    from ..analysis.spatial_integration import size_tuning
    from ..analysis.tuning import tuning_curve
    from ..stimuli import concat
    from ..stimuli.spatial_sweeps import size_sweep

    geometry = _geometry(population, canvas_px)
    idx = _neurons(population, neurons)
    blank, shown, window = _timing(population, blank_ms, stimulus_ms, window_ms)
    if center_step_deg is not None:
        center_step_deg = check_positive(center_step_deg, "center_step_deg")
    prefs = (grating_preferences(population, canvas_px=canvas_px, blank_ms=blank_ms,
                                 stimulus_ms=stimulus_ms, window_ms=window_ms,
                                 n_trials=n_trials, measure=measure, seed=seed,
                                 progress=progress)
             if preferences is None else _check_preferences(preferences, population))
    keys = ("preferred_orientation", "preferred_sf", "rf_x_deg", "rf_y_deg")
    groups, member = _groups(prefs, idx, keys, center_step_deg)
    parts = []
    for g, (ori, sf, cx, cy) in enumerate(groups):
        s = size_sweep(geometry, diameters_deg, orientations=ori, sf=sf, phases=phases,
                       contrast=contrast, center_deg=(cx, cy), aperture=aperture)
        s.params["group"] = np.full(len(s), g)
        parts.append(s)
    stim = concat(parts)
    resp, spont = _present(population, stim, n_trials=check_int(n_trials, "n_trials", 1),
                           blank=blank, shown=shown, window=window, measure=measure,
                           seed=seed + 1, progress=progress)
    curve = _per_neuron_curves(resp, idx, member,
                               lambda sub: tuning_curve(sub, "size_deg"))
    ds = size_tuning(curve, baseline=spont[idx], fit=fit)
    ds["responsive"] = ("neuron", (ds["r_peak"].values > 0)
                        & (ds["r_peak"].values >= 2.0 * spont[idx]))
    ds = ds.assign_coords(
        unit=("neuron", idx),
        preferred_orientation=("neuron", groups[member, 0]),
        preferred_sf=("neuron", groups[member, 1]),
        center_x_deg=("neuron", groups[member, 2]),
        center_y_deg=("neuron", groups[member, 3]),
    )
    ds.attrs.update(_provenance(
        "measure_size_tuning", population, diameters_deg=diameters_deg, contrast=contrast,
        phases=phases, aperture=aperture, center_step_deg=center_step_deg,
        canvas_px=int(canvas_px), blank_ms=float(blank_ms), stimulus_ms=float(stimulus_ms),
        window_ms=tuple(window_ms), n_trials=int(n_trials), measure=measure, seed=int(seed),
        n_stimuli=len(stim), n_groups=int(groups.shape[0]),
        baseline_note="spontaneous rate: response to a uniform gray stimulus in the same "
                      "window"))
    return ds


# --------------------------------------------------------------------------- cross-orientation


def measure_cross_orientation(population: Any, *, test_contrasts: Sequence[float] = (0.5,),
                              mask_contrasts: Sequence[float] = (0.0, 0.125, 0.25, 0.5),
                              phases: Sequence[float] = (0.0, 90.0, 180.0, 270.0),
                              neurons: Any = None, preferences: xr.Dataset | None = None,
                              canvas_px: int = 64, blank_ms: float = 200.0,
                              stimulus_ms: float = 200.0,
                              window_ms: Sequence[float] = (70.0, 170.0), n_trials: int = 1,
                              measure: str = "rates", seed: int = 0,
                              progress: bool = False) -> xr.Dataset:
    """Cross-orientation suppression of every neuron at its preferred orientation and SF.

    Full-field test gratings at each neuron's preferred orientation and SF, alone and with
    an orthogonal mask (same SF, same phase as the test) at each mask contrast, the masks
    alone and a blank. Parameters as :func:`measure_size_tuning`; ``test_contrasts`` in
    (0, 1], ``mask_contrasts`` in [0, 1] with ``test + mask <= 1`` (mean 0.5).

    Returns
    -------
    xarray.Dataset
        :func:`~neurofond.analysis.cross_orientation.cross_orientation_suppression` over the
        measured neurons with the blank response subtracted (``suppression_index``
        (test_contrast, mask_contrast, neuron), ``r_plaid``, ``r_test``, ``r_mask_alone``,
        ``mask_drive``, ``baseline``, ``reason``), plus ``responsive`` (test-alone response
        at the highest test contrast >= 2 x blank and > 0) and the preferences as neuron
        coordinates.
    """
    from ..analysis.cross_orientation import cross_orientation_curve, cross_orientation_suppression
    from ..stimuli import concat
    from ..stimuli.spatial_sweeps import cross_orientation_sweep

    geometry = _geometry(population, canvas_px)
    idx = _neurons(population, neurons)
    blank, shown, window = _timing(population, blank_ms, stimulus_ms, window_ms)
    prefs = (grating_preferences(population, canvas_px=canvas_px, blank_ms=blank_ms,
                                 stimulus_ms=stimulus_ms, window_ms=window_ms,
                                 n_trials=n_trials, measure=measure, seed=seed,
                                 progress=progress)
             if preferences is None else _check_preferences(preferences, population))
    groups, member = _groups(prefs, idx, ("preferred_orientation", "preferred_sf"), None)
    parts = []
    for g, (ori, sf) in enumerate(groups):
        s = cross_orientation_sweep(geometry, test_orientations=ori,
                                    test_contrasts=test_contrasts,
                                    mask_contrasts=mask_contrasts, sf=sf, phases=phases)
        s.params["group"] = np.full(len(s), g)
        parts.append(s)
    stim = concat(parts)
    resp, spont = _present(population, stim, n_trials=check_int(n_trials, "n_trials", 1),
                           blank=blank, shown=shown, window=window, measure=measure,
                           seed=seed + 2, progress=progress)
    curve = _per_neuron_curves(resp, idx, member, cross_orientation_curve)
    ds = cross_orientation_suppression(curve, baseline="blank")
    r_test = ds["r_test"].isel(test_contrast=-1).values
    ds["responsive"] = ("neuron", (r_test > 0) & (r_test >= 2.0 * ds["baseline"].values))
    ds["spontaneous_rate"] = ("neuron", spont[idx], {"units": "1/s"})
    ds = ds.assign_coords(unit=("neuron", idx),
                          preferred_orientation=("neuron", groups[member, 0]),
                          preferred_sf=("neuron", groups[member, 1]))
    ds.attrs.update(_provenance(
        "measure_cross_orientation", population, test_contrasts=test_contrasts,
        mask_contrasts=mask_contrasts, phases=phases, canvas_px=int(canvas_px),
        blank_ms=float(blank_ms), stimulus_ms=float(stimulus_ms), window_ms=tuple(window_ms),
        n_trials=int(n_trials), measure=measure, seed=int(seed), n_stimuli=len(stim),
        n_groups=int(groups.shape[0]), mask="orthogonal, same SF and phase as the test"))
    return ds


# --------------------------------------------------------------------------- summary


def summarize(size: xr.Dataset | None = None, cross: xr.Dataset | None = None, *,
              si_threshold: float = 0.1) -> dict[str, Any]:
    """Population summary of :func:`measure_size_tuning` / :func:`measure_cross_orientation`.

    Over responsive neurons with a defined index: median and quartiles of the surround
    suppression index, the fraction with SI > ``si_threshold``, the preferred size (deg),
    and the median cross-orientation suppression index (and mask drive) at each test and
    mask contrast.

    Returns
    -------
    dict
        JSON-ready (NaN where nothing was measured).
    """
    def dist(v: Any) -> dict[str, float]:
        v = np.asarray(v, dtype=float)
        v = v[np.isfinite(v)]
        if v.size == 0:
            return {"n": 0, "median": math.nan, "q25": math.nan, "q75": math.nan}
        q25, med, q75 = np.percentile(v, [25, 50, 75])
        return {"n": int(v.size), "median": float(med), "q25": float(q25), "q75": float(q75)}

    out: dict[str, Any] = {}
    if size is not None:
        ok = size["responsive"].values & np.isfinite(size["si"].values)
        si = size["si"].values[ok]
        out["size"] = {
            "n_neurons": int(size.sizes["neuron"]),
            "n_responsive": int(size["responsive"].values.sum()),
            "si": dist(si),
            f"fraction_si_above_{si_threshold:g}": (float(np.mean(si > si_threshold))
                                                    if si.size else math.nan),
            "preferred_size_deg": dist(size["preferred_size_deg"].values[ok]),
            "fraction_peak_at_largest_size": (
                float(np.mean(size["preferred_size_deg"].values[ok]
                              == float(size["size_deg"].values[-1]))) if si.size else math.nan),
        }
        if "fit_ok" in size:
            good = ok & size["fit_ok"].values
            out["size"]["fit"] = {"n_ok": int(good.sum()),
                                  "center_deg": dist(size["fit_center_deg"].values[good]),
                                  "surround_deg": dist(size["fit_surround_deg"].values[good])}
    if cross is not None:
        ok = cross["responsive"].values
        rows = {}
        for ct in cross["test_contrast"].values:
            for cm in cross["mask_contrast"].values:
                sel = dict(test_contrast=ct, mask_contrast=cm)
                rows[f"test {ct:g} mask {cm:g}"] = {
                    "suppression_index": dist(cross["suppression_index"].sel(sel).values[ok]),
                    "mask_drive": dist(cross["mask_drive"].sel(sel).values[ok]),
                }
        out["cross_orientation"] = {"n_neurons": int(cross.sizes["neuron"]),
                                    "n_responsive": int(ok.sum()), "by_contrast": rows}
    return out
