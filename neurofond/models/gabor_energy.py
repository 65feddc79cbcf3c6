"""Gabor energy model (Adelson & Bergen 1985): the standard complex-cell V1 baseline.

Quadrature pairs of Gabor filters (even = cosine, odd = sine carrier under the same Gaussian
envelope) at several orientations, spatial frequencies and positions, applied to the
contrast image ``L - mean``; the channel response is the phase-invariant energy
``sqrt(even**2 + odd**2)`` (luminance units x filter norm, linear in contrast). Defaults: 12
orientations (0-165 deg, step 15), SF 1.5, 3 and 6 cycles/deg, a 3 x 3 grid of positions at
0.25 deg spacing around the canvas centre (324 channels); envelope SD ``sigma_cycles / sf``
= 0.5 cycles (about a 1.5-octave SF bandwidth). The even filter is made zero-mean so that a
uniform field gives no response. :meth:`GaborEnergyBaseline.present` turns the energies into
Poisson spikes (LNP, :mod:`neurofond.models.base`).

References: Adelson EH, Bergen JR (1985) J Opt Soc Am A 2:284-299. Cadena SA et al. (2019)
PLoS Comput Biol 15:e1006897.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .base import BaselineModel, static_frames

__all__ = ["GaborEnergyBaseline"]


def _default_positions() -> tuple[tuple[float, float], ...]:
    g = (-0.25, 0.0, 0.25)
    return tuple((x, y) for y in g for x in g)


@dataclass
class GaborEnergyBaseline(BaselineModel):
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
    name : str
        Model name (``source`` of its Responses: ``model:<name>``).
    ms_per_step, r0_hz, rmax_hz, reference_sf_cpd, tau_ms, kernel_order
        Keyword-only LNP settings (:class:`~neurofond.models.base.BaselineModel`).

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
    >>> resp = model.present(stim, n_trials=2, blank_steps=4, stimulus_steps=20)
    >>> resp.dims, resp.sizes["neuron"]
    (('trial', 'stimulus', 'neuron', 'time'), 2)
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
        imgs = static_frames(frames)
        if tuple(imgs.shape[1:]) != tuple(geometry.size_px):
            raise ValueError(f"frames: size {imgs.shape[1:]} does not match the geometry "
                             f"{tuple(geometry.size_px)}")
        even, odd, crop = self.filters(geometry)
        x = (imgs[:, crop[0], crop[1]] - self.mean).reshape(imgs.shape[0], -1)
        e = x @ even.reshape(even.shape[0], -1).T.astype(np.float64)
        o = x @ odd.reshape(odd.shape[0], -1).T.astype(np.float64)
        return np.sqrt(e**2 + o**2)

    def drive(self, stimuli: Any, geometry: Any = None) -> np.ndarray:
        """The energy (:meth:`energy`) on the stimuli's own geometry (or ``geometry``)."""
        geometry = geometry if geometry is not None else getattr(stimuli, "geometry", None)
        if geometry is None:
            raise ValueError(f"{self.name}: the stimuli have no geometry; the filters are in "
                             "degrees (pass Stimuli with a ScreenGeometry or geometry=...)")
        return self.energy(stimuli, geometry)

    def neuron_coords(self) -> dict[str, np.ndarray]:
        """``preferred_orientation`` (deg), ``preferred_sf`` (cycles/deg), ``x_deg``, ``y_deg``."""
        ch = self.channels()
        return {"preferred_orientation": ch["orientation"], "preferred_sf": ch["sf"],
                "x_deg": ch["x_deg"], "y_deg": ch["y_deg"]}
