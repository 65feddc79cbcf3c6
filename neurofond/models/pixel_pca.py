"""Pixel / PCA model: the linear pixel baseline of V1 responses.

The stimulus pixels (contrast image, block-averaged by ``downsample``) projected onto their
first ``n_components`` principal components. The components are learnt from a reference
image set that does not depend on recorded responses (by default full-field gratings at 16
orientations x 4 phases at ``reference_sf_cpd`` and contrast 1,
:func:`~neurofond.models.base.reference_gratings`). Projections are signed (luminance units
x component norm); :meth:`PixelPCABaseline.on_off` splits them into half-wave rectified ON
and OFF channels, the non-negative "neurons" of :meth:`PixelPCABaseline.present` (LNP).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import BaselineModel, reference_gratings, static_frames

__all__ = ["PixelPCABaseline"]


@dataclass
class PixelPCABaseline(BaselineModel):
    """Linear pixel model: projections of the (block-averaged) contrast image onto PCs.

    Parameters
    ----------
    n_components : int
        Principal components kept (at most the reference set's rank).
    downsample : int
        Block-average factor applied to the images before PCA (bounds memory).
    mean : float
        Mean luminance subtracted from the images.
    name : str
        Model name (``source`` of its Responses: ``model:<name>``).
    ms_per_step, r0_hz, rmax_hz, reference_sf_cpd, tau_ms, kernel_order
        Keyword-only LNP settings (:class:`~neurofond.models.base.BaselineModel`).

    Notes
    -----
    The projections are signed (:meth:`features`); the "neurons" of :meth:`present` are
    their half-wave rectified ON and OFF channels (:meth:`on_off`, ``2 k`` channels). Not
    fitted when presenting: the components are learnt from the reference gratings of the
    stimuli's canvas (:meth:`prepare`).
    """

    n_components: int = 32
    downsample: int = 4
    mean: float = 0.5
    name: str = "pixel-pca"

    def _pixels(self, frames: Any) -> np.ndarray:
        imgs = static_frames(frames) - self.mean
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
        """Frames ``(n, H, W)`` of :func:`~neurofond.models.base.reference_gratings`."""
        return reference_gratings(geometry, sf_cpd, n_orientations=n_orientations,
                                  phases_deg=phases_deg, mean=mean).frames[:, 0]

    def prepare(self, geometry: Any) -> PixelPCABaseline:
        """Fit the components (if not fitted) and the rate calibration on reference gratings."""
        if not hasattr(self, "components_"):
            self.fit(reference_gratings(geometry, self.reference_sf_cpd, mean=self.mean))
        return super().prepare(geometry)

    def features(self, stimuli: Any, geometry: Any = None) -> np.ndarray:
        """Signed projections (:meth:`transform`)."""
        return self.transform(stimuli)

    def drive(self, stimuli: Any, geometry: Any = None) -> np.ndarray:
        """ON and OFF channels of the projections (:meth:`on_off`)."""
        return self.on_off(self.transform(stimuli))

    def neuron_coords(self) -> dict[str, np.ndarray]:
        """``component`` (PC index) and ``polarity`` (``"on"`` / ``"off"``) per channel."""
        if not hasattr(self, "components_"):
            raise ValueError("PixelPCABaseline: not fitted; call fit(reference_frames) first")
        k = self.components_.shape[0]
        return {"component": np.tile(np.arange(k), 2),
                "polarity": np.repeat(np.array(["on", "off"]), k)}
