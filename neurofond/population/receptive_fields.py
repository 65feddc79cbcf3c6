"""Receptive fields of the model neurons: dictionary elements, STAs, Gabor fits.

With a linear decoder ``x_hat = Phi z``, column ``k`` of ``Phi`` (reshaped to a
``patch_size`` x ``patch_size`` image) is what neuron ``k`` contributes to the
reconstruction: its dictionary element, the model's counterpart of a simple
cell's receptive field. :func:`spike_triggered_average` measures the RF the way
an experimenter would, from responses to white noise.

Conventions
-----------
Element pixels are indexed ``[row, column]``; ``x`` is the column (rightwards)
and ``y`` the row (downwards), as in :mod:`neurofond.stimuli.geometry`.
Orientations follow the grating convention of :mod:`neurofond.stimuli.gratings`:
``theta`` is the direction of the wave vector (normal to the bars), measured
from +x towards +y (clockwise on screen); 0 = vertical bars, 90 = horizontal
bars; reported in [0, 180). A grating at a neuron's ``orientation`` and
``sf`` drives its element most.

Gabor model (:func:`gabor_element`, :func:`fit_gabor`)::

    x' =  (x - x0) cos(theta) + (y - y0) sin(theta)
    y' = -(x - x0) sin(theta) + (y - y0) cos(theta)
    G(x, y) = A exp(-x'^2 / (2 sigma_x^2) - y'^2 / (2 sigma_y^2)) cos(2 pi f x' + phase) + offset

``sigma_x`` lies along the wave vector (across the bars), ``sigma_y`` along the
bars; ``f`` in cycles/pixel; ``phase`` of the cosine carrier at the envelope
centre (0: even-symmetric, bright centre).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import xarray as xr

from .._checks import check_int, check_positive, check_random_state, check_torch_generator

__all__ = [
    "GABOR_PARAMS",
    "GaborFit",
    "GaborFraction",
    "dictionary_rfs",
    "fit_gabor",
    "fit_gabors",
    "gabor_element",
    "gabor_fraction",
    "random_gabor_dictionary",
    "rf_summary",
    "spike_triggered_average",
]

#: Parameters of the 2-D Gabor model, in order.
GABOR_PARAMS: tuple[str, ...] = ("amplitude", "x0", "y0", "sigma_x", "sigma_y", "theta",
                                 "frequency", "phase", "offset")

_FFT_SIZE = 128  # zero-padded FFT: 1/128 cycles/pixel resolution for orientation and SF


# --------------------------------------------------------------------------- inputs


def _elements(source: Any) -> np.ndarray:
    """Dictionary elements ``(K, p, p)`` (float64) of a model, population or array."""
    from ..fond.model import IterativeVAE
    from .population import InSilicoPopulation

    if isinstance(source, InSilicoPopulation):
        source = source.model
    if isinstance(source, IterativeVAE):
        phi = source.phi.detach().cpu().numpy()
    elif isinstance(source, torch.Tensor):
        phi = source.detach().cpu().numpy()
    else:
        phi = np.asarray(source)
    phi = np.asarray(phi, dtype=np.float64)
    if phi.ndim == 3:
        if phi.shape[1] != phi.shape[2]:
            raise ValueError(f"model: expected elements (K, p, p), got shape {phi.shape}")
        out = phi
    elif phi.ndim == 2:
        side = int(round(math.sqrt(phi.shape[0])))
        if side * side != phi.shape[0]:
            raise ValueError(f"model: expected a decoder (D, K) with D a square, got {phi.shape}")
        out = phi.T.reshape(phi.shape[1], side, side)
    else:
        raise ValueError(f"model: expected an IterativeVAE, InSilicoPopulation or a decoder "
                         f"array (D, K) / (K, p, p), got {type(source)}")
    if not np.isfinite(out).all():
        raise ValueError("model: decoder contains NaN or infinite values")
    return out


def _element(element: Any) -> np.ndarray:
    arr = np.asarray(element.detach().cpu().numpy() if isinstance(element, torch.Tensor)
                     else element, dtype=np.float64)
    if arr.ndim == 1:
        side = int(round(math.sqrt(arr.size)))
        if side * side != arr.size:
            raise ValueError(f"element: expected a square patch, got {arr.size} values")
        arr = arr.reshape(side, side)
    if arr.ndim != 2 or min(arr.shape) < 3:
        raise ValueError(f"element: expected a 2-D patch of at least 3 x 3, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("element: contains NaN or infinite values")
    return arr


def _model_ppd(source: Any, pixels_per_degree: float | None) -> float | None:
    from .population import InSilicoPopulation

    if pixels_per_degree is not None:
        return check_positive(pixels_per_degree, "pixels_per_degree")
    if isinstance(source, InSilicoPopulation):
        return source.model_pixels_per_degree
    return None


# --------------------------------------------------------------------------- Gabor model


def gabor_element(patch_size: int | tuple[int, int], *, theta: float, frequency: float,
                  sigma: float | None = None, sigma_x: float | None = None,
                  sigma_y: float | None = None, phase: float = 0.0, x0: float | None = None,
                  y0: float | None = None, amplitude: float = 1.0,
                  offset: float = 0.0) -> np.ndarray:
    """Render a 2-D Gabor (see the module docstring) on a pixel grid.

    Parameters
    ----------
    patch_size : int or (height, width)
    theta : float
        Wave-vector direction in degrees (grating convention).
    frequency : float
        Cycles per pixel.
    sigma, sigma_x, sigma_y : float
        Envelope widths in pixels (``sigma`` sets both when the others are None).
    phase : float
        Carrier phase in degrees at the envelope centre.
    x0, y0 : float, optional
        Envelope centre (column, row); default the patch centre.
    amplitude, offset : float

    Returns
    -------
    ndarray, shape (height, width), float64
    """
    h, w = (patch_size, patch_size) if np.ndim(patch_size) == 0 else tuple(patch_size)
    sx = sigma if sigma_x is None else sigma_x
    sy = sigma if sigma_y is None else sigma_y
    if sx is None or sy is None:
        raise ValueError("sigma: give sigma or both sigma_x and sigma_y")
    x0 = (w - 1) / 2 if x0 is None else x0
    y0 = (h - 1) / 2 if y0 is None else y0
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    params = np.array([amplitude, x0, y0, sx, sy, math.radians(theta), frequency,
                       math.radians(phase), offset])
    return _gabor(params, x.ravel(), y.ravel()).reshape(h, w)


def _gabor_frame(p: np.ndarray, x: np.ndarray, y: np.ndarray):
    """Rotated coordinates (x', y') about the centre and the Gaussian envelope."""
    _, x0, y0, sx, sy, th = p[:6]
    ct, st = math.cos(th), math.sin(th)
    dx, dy = x - x0, y - y0
    xr_ = dx * ct + dy * st
    yr_ = -dx * st + dy * ct
    env = np.exp(-0.5 * (xr_ * xr_ / (sx * sx) + yr_ * yr_ / (sy * sy)))
    return ct, st, dx, dy, xr_, yr_, env


def _gabor(p: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    a, f, ph, c = p[0], p[6], p[7], p[8]
    *_, xr_, _, env = _gabor_frame(p, x, y)
    return a * env * np.cos(2 * math.pi * f * xr_ + ph) + c


def _gabor_jac(p: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    a, sx, sy, f, ph = p[0], p[3], p[4], p[6], p[7]
    ct, st, _, _, xr_, yr_, env = _gabor_frame(p, x, y)
    arg = 2 * math.pi * f * xr_ + ph
    cos_, sin_ = np.cos(arg), np.sin(arg)
    ec, es = env * cos_, env * sin_
    g_xr = a * (-ec * xr_ / (sx * sx) - es * 2 * math.pi * f)  # dG/dx'
    g_yr = a * (-ec * yr_ / (sy * sy))  # dG/dy'
    jac = np.empty((x.size, 9))
    jac[:, 0] = ec
    jac[:, 1] = -g_xr * ct + g_yr * st
    jac[:, 2] = -g_xr * st - g_yr * ct
    jac[:, 3] = a * ec * xr_ * xr_ / (sx * sx * sx)
    jac[:, 4] = a * ec * yr_ * yr_ / (sy * sy * sy)
    jac[:, 5] = g_xr * yr_ - g_yr * xr_
    jac[:, 6] = -a * es * 2 * math.pi * xr_
    jac[:, 7] = -a * es
    jac[:, 8] = 1.0
    return jac


def _canonical(p: np.ndarray) -> np.ndarray:
    """Equivalent parameters: A >= 0, sigma > 0, f >= 0, theta in [0, pi), phase in (-pi, pi]."""
    a, x0, y0, sx, sy, th, f, ph, c = (float(v) for v in p)
    sx, sy = abs(sx), abs(sy)
    if f < 0:  # cos(-2 pi |f| x' + ph) = cos(2 pi |f| x' - ph)
        f, ph = -f, -ph
    if a < 0:
        a, ph = -a, ph + math.pi
    turns = math.floor(th / math.pi)
    th -= turns * math.pi
    if turns % 2:  # theta + pi flips x' and y': phase changes sign
        ph = -ph
    ph = math.atan2(math.sin(ph), math.cos(ph))
    return np.array([a, x0, y0, sx, sy, th, f, ph, c])


@dataclass
class GaborFit:
    """Result of :func:`fit_gabor`.

    Attributes
    ----------
    params : dict
        ``amplitude``, ``x0``, ``y0`` (px; column, row), ``sigma_x``,
        ``sigma_y`` (px), ``theta`` (deg in [0, 180), grating convention),
        ``frequency`` (cycles/px), ``phase`` (deg), ``offset``.
    r2 : float
        ``1 - SS_res / SS_tot`` of the fit (SS_tot about the element's mean).
    n_starts : int
        Initialisations tried.
    """

    params: dict[str, float]
    r2: float
    n_starts: int = 0

    def render(self, shape: int | tuple[int, int]) -> np.ndarray:
        """The fitted Gabor on a pixel grid."""
        p = self.params
        return gabor_element(shape, theta=p["theta"], frequency=p["frequency"],
                             sigma_x=p["sigma_x"], sigma_y=p["sigma_y"], phase=p["phase"],
                             x0=p["x0"], y0=p["y0"], amplitude=p["amplitude"],
                             offset=p["offset"])


def _fourier_peaks(elem: np.ndarray, n_peaks: int = 1) -> list[tuple[float, float]]:
    """``(fx, fy)`` (cycles/px) of the largest amplitude-spectrum peaks, one per +-f pair."""
    n = max(_FFT_SIZE, 2 * max(elem.shape))
    amp = np.abs(np.fft.fft2(elem - elem.mean(), s=(n, n)))
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.fftfreq(n)[None, :]
    half = (fy > 0) | ((fy == 0) & (fx >= 0))  # one of each +-f pair
    amp = np.where(half, amp, -1.0)
    peaks = []
    for _ in range(n_peaks):
        i, j = np.unravel_index(int(np.argmax(amp)), amp.shape)
        peaks.append((float(fx[0, j]), float(fy[i, 0])))
        # suppress the neighbourhood of this peak (+- 1/patch width)
        rad = n / max(elem.shape)
        yy = np.minimum(np.abs(np.arange(n) - i), n - np.abs(np.arange(n) - i))[:, None]
        xx = np.minimum(np.abs(np.arange(n) - j), n - np.abs(np.arange(n) - j))[None, :]
        amp = np.where(yy * yy + xx * xx <= rad * rad, -1.0, amp)
    return peaks


def _initial_guesses(elem: np.ndarray, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    from scipy.ndimage import gaussian_filter

    h, w = elem.shape
    mean = float(elem.mean())
    centred = elem - mean
    energy = gaussian_filter(centred * centred, 1.0, mode="constant")
    wgt = energy * energy
    tot = wgt.sum()
    if tot <= 0:
        x0, y0 = (w - 1) / 2, (h - 1) / 2
        sig = max(h, w) / 4
    else:
        yy, xx = np.mgrid[0:h, 0:w]
        x0, y0 = float((wgt * xx).sum() / tot), float((wgt * yy).sum() / tot)
        var = float((energy * ((xx - x0) ** 2 + (yy - y0) ** 2)).sum() / energy.sum())
        sig = float(np.clip(math.sqrt(max(var, 1e-6)), 1.0, max(h, w) / 2))
    guesses = []
    for fx, fy in _fourier_peaks(elem, 2):
        f = math.hypot(fx, fy)
        th = math.atan2(fy, fx)
        ct, st = math.cos(th), math.sin(th)
        xr_ = (x - x0) * ct + (y - y0) * st
        yr_ = -(x - x0) * st + (y - y0) * ct
        env = np.exp(-0.5 * (xr_ * xr_ + yr_ * yr_) / (sig * sig))
        proj = complex((centred.ravel() * env * np.exp(-2j * math.pi * f * xr_)).sum())
        amp = 2 * abs(proj) / max(float((env * env).sum()), 1e-12)
        ph = math.atan2(proj.imag, proj.real)
        for scale in (1.0, 0.6):
            guesses.append(np.array([amp, x0, y0, sig * scale, sig * scale, th, f, ph, mean]))
    return guesses


def fit_gabor(element: Any, *, n_starts: int = 4, max_nfev: int = 150,
              good_enough: float = 0.98) -> GaborFit:
    """Least-squares fit of a 2-D Gabor to one dictionary element.

    Parameters
    ----------
    element : array (p, p) or (p*p,)
        One dictionary element (any square patch).
    n_starts : int
        Maximum number of initialisations, built from the two largest peaks
        of the zero-padded 2-D amplitude spectrum (orientation and frequency),
        the energy centroid (centre), its spread (width) and the phase of the
        carrier at the centre, each at two envelope widths.
    max_nfev : int
        Function evaluations per start.
    good_enough : float
        Stop trying starts once a fit reaches this R^2.

    Returns
    -------
    GaborFit
        Parameters in canonical form (see :class:`GaborFit`) and R^2.

    Raises
    ------
    ValueError
        If ``element`` is not a finite square patch.

    Notes
    -----
    Levenberg-Marquardt (:func:`scipy.optimize.least_squares`, ``method="lm"``)
    with the analytic Jacobian: about 4 ms per Gabor-like 16 x 16 element, up to
    ~40 ms for noise (all starts run to ``max_nfev``). A constant element
    has R^2 = 0.
    """
    from scipy.optimize import least_squares

    elem = _element(element)
    h, w = elem.shape
    y, x = (a.ravel().astype(np.float64) for a in np.mgrid[0:h, 0:w])
    data = elem.ravel()
    ss_tot = float(((data - data.mean()) ** 2).sum())
    flat = {k: 0.0 for k in GABOR_PARAMS}
    flat.update(offset=float(data.mean()), x0=(w - 1) / 2, y0=(h - 1) / 2, sigma_x=1.0,
                sigma_y=1.0)
    if ss_tot <= 1e-24 * max(1.0, float((data * data).sum())):
        return GaborFit(params=flat, r2=0.0, n_starts=0)
    best_p, best_cost, tried = None, math.inf, 0
    for p0 in _initial_guesses(elem, x, y)[:max(1, int(n_starts))]:
        tried += 1
        try:
            res = least_squares(lambda p: _gabor(p, x, y) - data, p0,
                                jac=lambda p: _gabor_jac(p, x, y), method="lm",
                                max_nfev=max_nfev)
        except (ValueError, np.linalg.LinAlgError):  # pragma: no cover - degenerate start
            continue
        cost = float((res.fun * res.fun).sum())
        if np.isfinite(cost) and cost < best_cost:
            best_p, best_cost = res.x, cost
        if best_cost <= (1.0 - good_enough) * ss_tot:
            break
    if best_p is None:
        return GaborFit(params=flat, r2=0.0, n_starts=tried)
    p = _canonical(best_p)
    params = dict(zip(GABOR_PARAMS, (float(v) for v in p)))
    params["theta"] = math.degrees(params["theta"]) % 180.0
    params["phase"] = math.degrees(params["phase"])
    return GaborFit(params=params, r2=float(1.0 - best_cost / ss_tot), n_starts=tried)


def fit_gabors(model: Any, *, n_starts: int = 4, max_nfev: int = 150,
               progress: bool = False) -> xr.Dataset:
    """Fit :func:`fit_gabor` to every dictionary element.

    Parameters
    ----------
    model : IterativeVAE, InSilicoPopulation or array (D, K) / (K, p, p)

    Returns
    -------
    xarray.Dataset over ``neuron`` (``neuron_id`` = unit index): the
    :data:`GABOR_PARAMS`, ``r2`` and the element's L2 ``norm``.
    """
    from tqdm.auto import tqdm

    elems = _elements(model)
    k = elems.shape[0]
    table = np.zeros((k, len(GABOR_PARAMS)))
    r2 = np.zeros(k)
    for i in tqdm(range(k), disable=not progress, desc="fit Gabors", leave=False):
        fit = fit_gabor(elems[i], n_starts=n_starts, max_nfev=max_nfev)
        table[i] = [fit.params[name] for name in GABOR_PARAMS]
        r2[i] = fit.r2
    data = {name: ("neuron", table[:, j]) for j, name in enumerate(GABOR_PARAMS)}
    data["r2"] = ("neuron", r2)
    data["norm"] = ("neuron", np.sqrt((elems**2).sum(axis=(1, 2))))
    ds = xr.Dataset(data, coords={"neuron_id": ("neuron", np.arange(k))})
    ds.attrs.update(units_xy="pixels (column, row)", units_theta="deg (grating convention)",
                    units_frequency="cycles/pixel", units_phase="deg")
    return ds


@dataclass
class GaborFraction:
    """Result of :func:`gabor_fraction`; ``float(result)`` is the fraction."""

    fraction: float
    n_gabor: int
    n_considered: int
    n_elements: int
    r2_threshold: float
    norm_threshold: float
    fits: xr.Dataset = field(repr=False)

    def __float__(self) -> float:
        return float(self.fraction)


def gabor_fraction(model: Any, r2_threshold: float = 0.7, norm_quantile: float = 0.9, *,
                   norm_fraction: float = 0.1, n_starts: int = 4,
                   progress: bool = False) -> GaborFraction:
    """Fraction of (live) dictionary elements that a 2-D Gabor fits with R^2 >= threshold.

    Parameters
    ----------
    model : IterativeVAE, InSilicoPopulation or array (D, K) / (K, p, p)
    r2_threshold : float
        R^2 needed to count as Gabor-like (default 0.7).
    norm_quantile, norm_fraction : float
        Elements whose L2 norm is below ``norm_fraction`` times the
        ``norm_quantile`` quantile of all norms (default: 10% of the 90th
        percentile) are treated as unused ("dead") and left out.
    n_starts : int
        Initialisations per fit (:func:`fit_gabor`).

    Returns
    -------
    GaborFraction
        ``fraction = n_gabor / n_considered`` and the per-element fits.

    Notes
    -----
    Headline metric of the model family: Gabor-like features, e.g. >= 90% of
    an iP-VAE's elements fit with R^2 >= 0.7.
    """
    if not 0 < r2_threshold <= 1:
        raise ValueError(f"r2_threshold: expected a number in (0, 1], got {r2_threshold!r}")
    if not 0 <= norm_quantile <= 1:
        raise ValueError(f"norm_quantile: expected a quantile in [0, 1], got {norm_quantile!r}")
    if not 0 <= norm_fraction <= 1:
        raise ValueError(f"norm_fraction: expected a number in [0, 1], got {norm_fraction!r}")
    elems = _elements(model)
    norms = np.sqrt((elems**2).sum(axis=(1, 2)))
    threshold = float(norm_fraction * np.quantile(norms, norm_quantile))
    live = norms >= threshold
    fits = fit_gabors(elems, n_starts=n_starts, progress=progress)
    fits["considered"] = ("neuron", live)
    good = live & (fits["r2"].values >= r2_threshold)
    n_live = int(live.sum())
    return GaborFraction(fraction=float(good.sum() / n_live) if n_live else float("nan"),
                         n_gabor=int(good.sum()), n_considered=n_live,
                         n_elements=int(norms.size), r2_threshold=float(r2_threshold),
                         norm_threshold=threshold, fits=fits)


def random_gabor_dictionary(n_elements: int, patch_size: int = 16, *,
                            seed: int | np.random.Generator | None = 0,
                            frequency_range: tuple[float, float] = (0.08, 0.3),
                            sigma_range: tuple[float, float] = (1.5, 3.5),
                            jitter_px: float = 3.0) -> np.ndarray:
    """A decoder ``(patch_size**2, n_elements)`` of random unit-norm Gabors (tests, demos).

    Orientations uniform in [0, 180), frequencies and widths uniform in the
    given ranges, aspect ratio in [1, 2] (longer along the bars), phases
    uniform, centres within ``jitter_px`` of the patch centre. ``seed``: an integer, a
    :class:`numpy.random.Generator` or None (:func:`neurofond._checks.check_random_state`).
    """
    rng = check_random_state(seed)
    out = np.empty((patch_size * patch_size, n_elements), dtype=np.float32)
    c = (patch_size - 1) / 2
    for k in range(n_elements):
        sig = rng.uniform(*sigma_range)
        g = gabor_element(patch_size, theta=rng.uniform(0, 180),
                          frequency=rng.uniform(*frequency_range), sigma_x=sig,
                          sigma_y=sig * rng.uniform(1.0, 2.0), phase=rng.uniform(-180, 180),
                          x0=c + rng.uniform(-jitter_px, jitter_px),
                          y0=c + rng.uniform(-jitter_px, jitter_px))
        out[:, k] = (g / np.linalg.norm(g)).ravel()
    return out


# --------------------------------------------------------------------------- RFs


def dictionary_rfs(model: Any) -> xr.DataArray:
    """Dictionary elements as images: dims ``(neuron, y, x)``.

    Column ``k`` of ``Phi`` reshaped row-major to ``(patch_size, patch_size)``
    (the layout of the training patches). Coords: ``neuron_id`` (= unit), ``y``,
    ``x`` (pixel row, column), ``norm`` (L2 norm of the element).
    """
    elems = _elements(model)
    k, h, w = elems.shape
    return xr.DataArray(elems, dims=("neuron", "y", "x"),
                        coords={"neuron_id": ("neuron", np.arange(k)), "y": np.arange(h),
                                "x": np.arange(w),
                                "norm": ("neuron", np.sqrt((elems**2).sum(axis=(1, 2))))},
                        name="dictionary_rf", attrs={"units": "decoder weight (model input)"})


def rf_summary(model: Any, *, pixels_per_degree: float | None = None,
               fit: bool = False) -> xr.Dataset:
    """Per-neuron receptive-field summary of one hypercolumn.

    Parameters
    ----------
    model : InSilicoPopulation, IterativeVAE or array (D, K) / (K, p, p)
    pixels_per_degree : float, optional
        Model pixels per degree (default: the population's
        ``patch_size / patch_size_deg`` when set); positions and SF in degrees
        are NaN without it.
    fit : bool
        Add Gabor fit parameters (``gabor_*``) and ``gabor_r2`` (slower).

    Returns
    -------
    xarray.Dataset
        Over ``neuron`` (``neuron_id`` = unit index), with

        - ``x_px``, ``y_px``: RF centre (column, row) in model pixels of the patch,
          the centroid of the squared element smoothed by a 1-px Gaussian;
        - ``x_deg``, ``y_deg``: the same in degrees relative to the tile centre
          (add the tile position, e.g. the ``x_deg`` coord of a Responses, for the
          visual-field position);
        - ``orientation`` (deg, grating convention, [0, 180)) and ``sf_cpp``
          (cycles/pixel), ``sf_cpd`` (cycles/deg): the peak of the element's
          zero-padded 2-D amplitude spectrum;
        - ``sf_luminance_cpp`` / ``sf_luminance_cpd`` (populations with a
          whitening preprocessing): the peak of the element's spectrum times the
          whitening filter ``R(f)``, i.e. the preferred SF of a luminance grating
          under the linear presentation transform (whitening boosts high SF);
        - ``norm``: the element's L2 norm.
    """
    from scipy.ndimage import gaussian_filter

    from .population import InSilicoPopulation

    elems = _elements(model)
    ppd = _model_ppd(model, pixels_per_degree)
    k, h, w = elems.shape
    yy, xx = np.mgrid[0:h, 0:w]
    energy = np.stack([gaussian_filter(e * e, 1.0, mode="constant") for e in elems])
    tot = energy.sum(axis=(1, 2))
    tot = np.where(tot > 0, tot, 1.0)
    x_px = (energy * xx).sum(axis=(1, 2)) / tot
    y_px = (energy * yy).sum(axis=(1, 2)) / tot
    n = max(_FFT_SIZE, 2 * max(h, w))
    amp = np.abs(np.fft.fft2(elems - elems.mean(axis=(1, 2), keepdims=True), s=(n, n)))
    fy = np.broadcast_to(np.fft.fftfreq(n)[:, None], (n, n)).ravel()
    fx = np.broadcast_to(np.fft.fftfreq(n)[None, :], (n, n)).ravel()

    def peak(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = np.argmax(a.reshape(k, -1), axis=1)
        f = np.hypot(fx[idx], fy[idx])
        ori = np.degrees(np.arctan2(fy[idx], fx[idx])) % 180.0
        return np.where(f > 0, ori, np.nan), f

    orientation, sf = peak(amp)
    scale = np.nan if ppd is None else ppd
    c_x, c_y = (w - 1) / 2, (h - 1) / 2
    data: dict[str, Any] = {
        "x_px": ("neuron", x_px), "y_px": ("neuron", y_px),
        "x_deg": ("neuron", (x_px - c_x) / scale), "y_deg": ("neuron", (y_px - c_y) / scale),
        "orientation": ("neuron", orientation), "sf_cpp": ("neuron", sf),
        "sf_cpd": ("neuron", sf * scale),
        "norm": ("neuron", np.sqrt((elems**2).sum(axis=(1, 2)))),
    }
    if isinstance(model, InSilicoPopulation) and model.preprocessing.whiten:
        f0 = model.preprocessing.f0
        radial = np.hypot(fx, fy).reshape(n, n)
        _, sf_lum = peak(amp * (radial * np.exp(-((radial / f0) ** 4)))[None])
        data["sf_luminance_cpp"] = ("neuron", sf_lum)
        data["sf_luminance_cpd"] = ("neuron", sf_lum * scale)
    ds = xr.Dataset(data, coords={"neuron_id": ("neuron", np.arange(k))})
    if fit:
        fits = fit_gabors(elems)
        for name in (*GABOR_PARAMS, "r2"):
            ds[f"gabor_{name}"] = ("neuron", fits[name].values)
    ds.attrs.update(pixels_per_degree=np.nan if ppd is None else ppd,
                    orientation_convention="wave-vector direction from +x towards +y (down); "
                                           "0 = vertical bars (neurofond.stimuli.gratings)")
    return ds


def spike_triggered_average(population: Any, n_noise: int = 5000, steps: int = 20,
                            seed: int = 0, *, space: str = "input", noise_std: float = 1.0,
                            contrast: float = 1.0, batch_size: int = 1000,
                            progress: bool = False) -> xr.DataArray:
    """Spike-triggered average of one hypercolumn from white-noise patches.

    Each noise patch is shown for ``steps`` inference steps starting from the
    prior; a neuron's count is its total over those steps, and its STA is the
    count-weighted mean of the (mean-subtracted) noise.

    Parameters
    ----------
    population : InSilicoPopulation
    n_noise : int
        Number of noise patches (>= 2).
    steps : int
        Inference steps per patch (>= 1).
    seed : int
        Seeds both the noise and the spike sampler.
    space : {"input", "luminance"}
        ``"input"``: Gaussian white noise of std ``noise_std`` added to the
        blank input in the model's input space (comparable to the dictionary
        element). ``"luminance"``: binary white noise on the screen,
        ``0.5 (1 +- contrast)`` per model pixel, passed through the
        population's presentation transform; the STA is then in luminance
        (relative to mean gray), i.e. what an experimenter would measure
        (for the linear transform ~ the whitened element).
    noise_std, contrast : float
        Noise amplitude in each space.
    batch_size : int
    progress : bool

    Returns
    -------
    xarray.DataArray, dims ``(neuron, y, x)``
        With coords ``neuron_id`` (= unit) and ``n_spikes`` (total count
        behind each STA; NaN STA where zero). For Gaussian models the
        activations weight the noise (a response-weighted average).

    Raises
    ------
    ValueError
        On bad arguments.
    """
    from tqdm.auto import tqdm

    from .population import InSilicoPopulation

    if not isinstance(population, InSilicoPopulation):
        raise ValueError(f"population: expected an InSilicoPopulation, got {type(population)}")
    n_noise = check_int(n_noise, "n_noise", minimum=2)
    steps = check_int(steps, "steps", minimum=1)
    seed = check_int(seed, "seed", minimum=0, maximum=2**63 - 1)  # recorded in attrs
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if space not in ("input", "luminance"):
        raise ValueError(f"space: expected 'input' or 'luminance', got {space!r}")
    noise_std = check_positive(noise_std, "noise_std")
    if not 0 < contrast <= 1:
        raise ValueError(f"contrast: expected a contrast in (0, 1], got {contrast!r}")
    model, p = population.model, population.patch_size
    d, k = p * p, population.n_units
    rng = check_random_state(seed)  # the noise
    gen = check_torch_generator(seed, population.device)  # the spike sampler
    blank = population.transform.blank_value()
    weighted = np.zeros((k, d))
    stim_sum = np.zeros(d)
    counts_total = np.zeros(k)
    for start in tqdm(range(0, n_noise, batch_size), disable=not progress, desc="STA",
                      leave=False):
        b = min(batch_size, n_noise - start)
        if space == "input":
            stim = rng.standard_normal((b, d)) * noise_std
            x = stim + blank
        else:
            stim = 0.5 * contrast * rng.choice([-1.0, 1.0], size=(b, d))
            frames = (0.5 + stim).reshape(b, p, p)
            x = population.transform(frames).reshape(b, d)
        xt = torch.as_tensor(x, dtype=torch.float32, device=population.device)
        with torch.inference_mode():
            state = model.initial_state(b, generator=gen)
            residual = None
            total = torch.zeros(b, k, dtype=torch.float64, device=population.device)
            for _ in range(steps):
                state, residual = model.step(state, xt, generator=gen, residual=residual)
                total += state.response.double()
        counts = total.cpu().numpy()
        weighted += counts.T @ stim
        counts_total += counts.sum(axis=0)
        stim_sum += stim.sum(axis=0)
    mean_stim = stim_sum / n_noise
    with np.errstate(invalid="ignore", divide="ignore"):
        sta = weighted / counts_total[:, None] - mean_stim[None]
    sta[counts_total == 0] = np.nan
    return xr.DataArray(sta.reshape(k, p, p), dims=("neuron", "y", "x"),
                        coords={"neuron_id": ("neuron", np.arange(k)), "y": np.arange(p),
                                "x": np.arange(p), "n_spikes": ("neuron", counts_total)},
                        name="sta", attrs={"space": space, "n_noise": n_noise, "steps": steps,
                                           "seed": seed, "source": f"model:{population.name}"})
