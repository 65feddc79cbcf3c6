"""Classic baseline models of V1 responses, as plain numpy feature extractors.

Used by ``analyses/ecker2010_comparison.py`` to put the iterative VAEs' predictivity of
recorded V1 responses into context. Both baselines are *spatial* feature extractors
(one value per stimulus image and channel) combined with one fixed temporal response
(:func:`stimulus_time_course`), i.e. separable linear-nonlinear models.

Gabor energy model (:class:`GaborEnergyBaseline`)
    Adelson & Bergen (1985); the standard complex-cell model used as a V1 baseline (e.g.
    Cadena et al. 2019). Quadrature pairs of Gabor filters (even = cosine, odd = sine
    carrier under the same Gaussian envelope) at several orientations, spatial frequencies
    and positions, applied to the contrast image ``L - mean``; the channel response is the
    phase-invariant energy ``sqrt(even**2 + odd**2)``. Defaults: 12 orientations
    (0-165 deg, step 15), SF 1.5, 3 and 6 cycles/deg, a 3 x 3 grid of positions at
    0.25 deg spacing around the canvas centre (324 channels); envelope SD
    ``sigma_cycles / sf`` = 0.5 cycles (about a 1.5-octave SF bandwidth). The even filter
    is made zero-mean so that a uniform field gives no response.

Pixel / PCA model (:class:`PixelPCABaseline`)
    The linear pixel baseline: the stimulus pixels (contrast image, block-averaged by
    ``downsample``) projected onto their first ``n_components`` principal components. The
    components are learnt from a reference image set that does not depend on the recorded
    responses (for the Ecker gratings: :meth:`PixelPCABaseline.reference_gratings`, full-
    field gratings at 16 orientations x 4 phases at the assumed SF and contrast 1).
    Projections are signed; :meth:`PixelPCABaseline.on_off` splits them into half-wave
    rectified ON and OFF channels where non-negative "neurons" are needed.

Temporal response (:func:`stimulus_time_course`)
    The stimulus-on boxcar (onset 0, duration ``duration_ms``) convolved with a gamma
    kernel ``h(t) = t**(n-1) exp(-t / tau) / (tau**n (n-1)!)`` (order ``n = 3``,
    ``tau = 10`` ms: peak 20 ms, mean 30 ms after the input), averaged over each time bin;
    it rises from 0 to 1 after onset and returns to 0 after offset. A response delay is
    not part of the kernel; the comparison script fits it.

References: Adelson EH, Bergen JR (1985) J Opt Soc Am A 2:284-299. Cadena SA et al. (2019)
PLoS Comput Biol 15:e1006897.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "GaborEnergyBaseline",
    "PixelPCABaseline",
    "gamma_kernel",
    "stimulus_time_course",
]


def _frames2d(frames: Any) -> np.ndarray:
    """Static images ``(n, H, W)`` from ``(n, H, W)``, ``(n, 1, H, W)`` or ``Stimuli``."""
    arr = np.asarray(getattr(frames, "frames", frames), dtype=np.float64)
    if arr.ndim == 4:
        if arr.shape[1] != 1:
            raise ValueError(f"frames: expected static images (one frame each), got {arr.shape}")
        arr = arr[:, 0]
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or min(arr.shape) < 1:
        raise ValueError(f"frames: expected (n, H, W) images, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("frames: expected finite luminance values")
    return arr


# --------------------------------------------------------------------------- temporal


def gamma_kernel(t_ms: Any, tau_ms: float = 10.0, order: int = 3) -> np.ndarray:
    """Gamma kernel ``t**(n-1) exp(-t/tau) / (tau**n (n-1)!)`` (1/ms; 0 for ``t <= 0``)."""
    import math

    if tau_ms <= 0 or int(order) != order or order < 1:
        raise ValueError(f"tau_ms > 0 and an integer order >= 1 expected, got {tau_ms}, {order}")
    t = np.asarray(t_ms, dtype=np.float64)
    pos = np.clip(t, 0.0, None) / tau_ms
    out = pos ** (order - 1) * np.exp(-pos) / (tau_ms * math.factorial(int(order) - 1))
    return np.where(t > 0, out, 0.0)


def stimulus_time_course(bin_start_ms: Any, bin_ms: float, *, duration_ms: float = 500.0,
                         tau_ms: float = 10.0, order: int = 3, n_sub: int = 10) -> np.ndarray:
    """Stimulus-on boxcar convolved with a gamma kernel, averaged over each bin.

    ``g(t) = G(t) - G(t - duration)`` with ``G`` the gamma CDF (regularised lower
    incomplete gamma function), i.e. the response to a step that starts at 0 ms and ends at
    ``duration_ms``; values in [0, 1].

    Parameters
    ----------
    bin_start_ms : array-like
        Start of every bin (ms, 0 = stimulus onset).
    bin_ms : float
        Bin width (ms).
    duration_ms, tau_ms, order
        Stimulus duration and kernel parameters (see :func:`gamma_kernel`).
    n_sub : int
        Sub-samples per bin for the average.
    """
    from scipy.special import gammainc

    starts = np.asarray(bin_start_ms, dtype=np.float64)
    offs = (np.arange(n_sub) + 0.5) / n_sub * float(bin_ms)
    t = starts[:, None] + offs[None, :]

    def cdf(x):
        return np.where(x > 0, gammainc(order, np.clip(x, 0.0, None) / tau_ms), 0.0)

    return (cdf(t) - cdf(t - duration_ms)).mean(axis=1)


# --------------------------------------------------------------------------- Gabor energy


def _default_positions() -> tuple[tuple[float, float], ...]:
    g = (-0.25, 0.0, 0.25)
    return tuple((x, y) for y in g for x in g)


@dataclass
class GaborEnergyBaseline:
    """Phase-invariant energy of quadrature Gabor pairs (complex-cell model).

    Parameters
    ----------
    orientations_deg : sequence of float
        Filter orientations (deg; same convention as the gratings of
        :mod:`neurofond.stimuli`: a filter of orientation ``theta`` prefers a grating of
        orientation ``theta``).
    sfs_cpd : sequence of float
        Carrier spatial frequencies (cycles/deg).
    positions_deg : sequence of (x, y)
        Filter centres (deg from the canvas centre; x rightwards, y downwards).
    sigma_cycles : float
        Envelope SD in carrier cycles (``sigma_deg = sigma_cycles / sf``).
    mean : float
        Mean luminance subtracted from the images.

    Examples
    --------
    >>> from neurofond.stimuli import ScreenGeometry, grating_sweep
    >>> g = ScreenGeometry.from_size_deg(4.0, 128)
    >>> stim = grating_sweep(g, orientations=[0, 90], sfs=[3.0])
    >>> model = GaborEnergyBaseline(orientations_deg=[0, 90], sfs_cpd=[3.0],
    ...                             positions_deg=[(0, 0)])
    >>> e = model.energy(stim.frames, g)
    >>> bool(e[0, 0] > 5 * e[0, 1] and e[1, 1] > 5 * e[1, 0])
    True
    """

    orientations_deg: Sequence[float] = tuple(np.arange(0.0, 180.0, 15.0))
    sfs_cpd: Sequence[float] = (1.5, 3.0, 6.0)
    positions_deg: Sequence[Sequence[float]] = field(default_factory=_default_positions)
    sigma_cycles: float = 0.5
    mean: float = 0.5
    name: str = "gabor-energy"

    def channels(self) -> dict[str, np.ndarray]:
        """One row per channel: ``orientation``, ``sf``, ``x_deg``, ``y_deg`` (position fastest)."""
        ori = np.asarray(self.orientations_deg, dtype=float)
        sfs = np.asarray(self.sfs_cpd, dtype=float)
        pos = np.asarray(self.positions_deg, dtype=float).reshape(-1, 2)
        if ori.size == 0 or sfs.size == 0 or pos.shape[0] == 0 or np.any(sfs <= 0):
            raise ValueError("orientations_deg, sfs_cpd (> 0) and positions_deg must be non-empty")
        o, s, p = np.meshgrid(np.arange(ori.size), np.arange(sfs.size), np.arange(pos.shape[0]),
                              indexing="ij")
        o, s, p = o.ravel(), s.ravel(), p.ravel()
        return {"orientation": ori[o], "sf": sfs[s], "x_deg": pos[p, 0], "y_deg": pos[p, 1]}

    @property
    def n_channels(self) -> int:
        return int(self.channels()["orientation"].size)

    def filters(self, geometry) -> tuple[np.ndarray, np.ndarray, tuple[slice, slice]]:
        """Even and odd filters ``(n_channels, h, w)`` on a crop of the canvas, and the crop.

        The crop covers every filter out to 3.5 envelope SDs (clipped to the canvas).
        """
        ch = self.channels()
        sig = self.sigma_cycles / ch["sf"]
        reach = float(np.max(np.maximum(np.abs(ch["x_deg"]), np.abs(ch["y_deg"])) + 3.5 * sig))
        x, y = geometry.grid_deg()
        rows = np.flatnonzero(np.abs(y[:, 0]) <= reach)
        cols = np.flatnonzero(np.abs(x[0, :]) <= reach)
        crop = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
        xc, yc = x[crop], y[crop]
        th = np.deg2rad(ch["orientation"])[:, None, None]
        dx = xc[None] - ch["x_deg"][:, None, None]
        dy = yc[None] - ch["y_deg"][:, None, None]
        u = dx * np.cos(th) + dy * np.sin(th)
        env = np.exp(-(dx**2 + dy**2) / (2 * sig[:, None, None] ** 2))
        arg = 2 * np.pi * ch["sf"][:, None, None] * u
        even = env * np.cos(arg)
        odd = env * np.sin(arg)
        # zero-mean even filter (a uniform field gives no response), both filters unit norm
        even -= env * (even.sum(axis=(1, 2)) / env.sum(axis=(1, 2)))[:, None, None]
        even /= np.linalg.norm(even.reshape(even.shape[0], -1), axis=1)[:, None, None]
        odd /= np.linalg.norm(odd.reshape(odd.shape[0], -1), axis=1)[:, None, None]
        return even.astype(np.float32), odd.astype(np.float32), crop

    def energy(self, frames: Any, geometry) -> np.ndarray:
        """Energy ``sqrt(even**2 + odd**2)`` per image and channel: ``(n_images, n_channels)``.

        ``frames``: luminance images ``(n, H, W)`` or ``(n, 1, H, W)`` (or ``Stimuli``) on
        ``geometry``.
        """
        imgs = _frames2d(frames)
        if tuple(imgs.shape[1:]) != tuple(geometry.size_px):
            raise ValueError(f"frames: size {imgs.shape[1:]} does not match the geometry "
                             f"{tuple(geometry.size_px)}")
        even, odd, crop = self.filters(geometry)
        x = (imgs[:, crop[0], crop[1]] - self.mean).reshape(imgs.shape[0], -1)
        e = x @ even.reshape(even.shape[0], -1).T.astype(np.float64)
        o = x @ odd.reshape(odd.shape[0], -1).T.astype(np.float64)
        return np.sqrt(e**2 + o**2)


# --------------------------------------------------------------------------- pixel PCA


@dataclass
class PixelPCABaseline:
    """Linear pixel model: projections of the (block-averaged) contrast image onto PCs.

    Parameters
    ----------
    n_components : int
        Principal components kept (at most the reference set's rank).
    downsample : int
        Block-average factor applied to the images before PCA (bounds memory).
    mean : float
        Mean luminance subtracted from the images.
    """

    n_components: int = 32
    downsample: int = 4
    mean: float = 0.5
    name: str = "pixel-pca"

    def _pixels(self, frames: Any) -> np.ndarray:
        imgs = _frames2d(frames) - self.mean
        f = int(self.downsample)
        if f < 1:
            raise ValueError(f"downsample: expected an integer >= 1, got {self.downsample!r}")
        n, h, w = imgs.shape
        h2, w2 = (h // f) * f, (w // f) * f
        if h2 == 0 or w2 == 0:
            raise ValueError(f"downsample: {f} exceeds the image size {(h, w)}")
        blocks = imgs[:, :h2, :w2].reshape(n, h2 // f, f, w2 // f, f).mean(axis=(2, 4))
        return blocks.reshape(n, -1)

    def fit(self, frames: Any) -> PixelPCABaseline:
        """Learn the components from reference images (SVD of the centred pixel matrix)."""
        x = self._pixels(frames)
        self.pixel_mean_ = x.mean(axis=0)
        _, s, vt = np.linalg.svd(x - self.pixel_mean_, full_matrices=False)
        keep = s > s.max() * max(x.shape) * np.finfo(float).eps if s.size else s > 0
        k = int(min(self.n_components, int(keep.sum())))
        if k < 1:
            raise ValueError("frames: the reference images have no variance")
        self.components_ = vt[:k]
        var = s**2
        self.explained_variance_ratio_ = var[:k] / var.sum()
        return self

    def transform(self, frames: Any) -> np.ndarray:
        """Signed projections ``(n_images, n_components)``."""
        if not hasattr(self, "components_"):
            raise ValueError("PixelPCABaseline: not fitted; call fit(reference_frames) first")
        x = self._pixels(frames)
        if x.shape[1] != self.components_.shape[1]:
            raise ValueError("frames: image size differs from the reference images")
        return (x - self.pixel_mean_) @ self.components_.T

    @staticmethod
    def on_off(projections: np.ndarray) -> np.ndarray:
        """Half-wave rectified ON and OFF channels ``[max(p, 0), max(-p, 0)]`` (n, 2 k)."""
        p = np.asarray(projections, dtype=np.float64)
        return np.concatenate([np.maximum(p, 0.0), np.maximum(-p, 0.0)], axis=1)

    @staticmethod
    def reference_gratings(geometry, sf_cpd: float, *, n_orientations: int = 16,
                           phases_deg: Sequence[float] = (0.0, 90.0, 180.0, 270.0),
                           mean: float = 0.5) -> np.ndarray:
        """Full-field gratings at ``n_orientations`` x ``phases_deg``, contrast 1: (n, H, W)."""
        from neurofond.stimuli import grating_sweep

        ori = np.arange(n_orientations) * 180.0 / n_orientations
        stim = grating_sweep(geometry, orientations=ori, sfs=[float(sf_cpd)],
                             phases=list(phases_deg), contrasts=[1.0], mean=mean)
        return stim.frames[:, 0]
