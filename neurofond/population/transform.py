"""From screen luminance to model input: the presentation transform.

A trained iterative VAE sees 16 x 16 patches that went through the training
pipeline of :class:`neurofond.fond.data.Preprocessing` (whitening, per-image
z-score, local contrast normalisation (LCN), global z-score). Showing a
*stimulus* to the model needs the same kind of input, but the per-image
z-score and the LCN divide out the contrast of every image: a 2% and a 100%
contrast grating become the same input. That is right for training on photos
and wrong for in-silico physiology, where contrast is an experimental
variable. :class:`PresentationTransform` therefore offers two explicit modes.

``"linear"`` (default for physiology)
    ``x = standardize(gain * whiten(L - background))``: subtract the
    background luminance (mean gray 0.5 by default), whiten the *whole frame*
    with the checkpoint's filter ``R(f) = f exp(-(f / f0)^4)``
    (:func:`neurofond.fond.data.whiten`), multiply by a fixed ``gain`` and
    apply the stored global z-score. Every step is linear in ``L - background``,
    so input amplitude is proportional to stimulus contrast. ``gain`` is
    calibrated once per preprocessing so that the bundled natural photos,
    scaled to luminance in ``[0, 1]``, give inputs with the standard deviation
    of the training patches (:func:`calibrate_gain`).

``"training"``
    ``x = standardize(preprocessing.image(L))`` frame by frame: exactly the
    training pipeline. The per-image z-score and the LCN remove contrast
    differences between frames (and between the regions of one frame), so
    contrast-response functions measured in this mode are flat by
    construction. Useful to check that the model behaves as on its training
    distribution (e.g. for natural images).

In both modes a uniform frame (the blank period) maps to the input of a
zero-contrast image, ``standardize(0)``. In linear mode frames are padded
with the background luminance before whitening (``pad`` pixels on each side,
default one patch), so the circular FFT does not wrap one edge of the canvas
onto the other: the screen around the canvas is mean gray. The whitening
filter has no DC component, so a uniform luminance offset has no effect. In
training mode ``preprocessing.image`` runs on the unpadded frame (exactly as
in training) and the result is padded with zeros (the zero-contrast value),
so that tiles at the canvas border see gray beyond it in both modes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._checks import check_int, check_positive
from ..fond.data import Preprocessing, whiten

__all__ = ["MODES", "PresentationTransform", "calibrate_gain"]

#: Presentation modes understood by :class:`PresentationTransform`.
MODES: tuple[str, ...] = ("linear", "training")

_GAIN_CACHE: dict[tuple[Any, ...], float] = {}


def _gain_key(preprocessing: Preprocessing, background: float) -> tuple[Any, ...]:
    return (preprocessing.whiten, float(preprocessing.f0), float(preprocessing.global_std),
            preprocessing.source, tuple(preprocessing.train_images), float(background))


def calibrate_gain(preprocessing: Preprocessing, *, background: float = 0.5,
                   images: Mapping[str, np.ndarray] | None = None) -> float:
    """Gain of the linear presentation transform for ``preprocessing``.

    Parameters
    ----------
    preprocessing : Preprocessing
        The checkpoint's preprocessing.
    background : float
        Luminance subtracted before whitening (mean gray).
    images : mapping name -> ndarray (H, W), optional
        Calibration photos with values in [0, 255]. Default: the photos
        bundled with scikit-image / scikit-learn
        (:func:`neurofond.fond.data.bundled_images`): the model's training
        photos when it was trained on them, all of them otherwise.

    Returns
    -------
    float
        ``gain = global_std / std(whiten(photo / 255 - background))``, the
        standard deviation pooled over all pixels of all photos. With it,
        ``standardize(gain * whiten(photo / 255 - background))`` has unit
        standard deviation, like the (globally z-scored) training patches.
        Cached per preprocessing when ``images`` is None.

    Notes
    -----
    The training patches are globally z-scored with ``global_std``, the pixel
    standard deviation of the training patches after the per-image steps; so
    the calibrated linear inputs of natural photos have the same standard
    deviation as the training inputs, while a grating's input amplitude stays
    proportional to its contrast.
    """
    if not isinstance(preprocessing, Preprocessing):
        raise ValueError(f"preprocessing: expected a Preprocessing, got {type(preprocessing)}")
    key = _gain_key(preprocessing, background)
    if images is None and key in _GAIN_CACHE:
        return _GAIN_CACHE[key]
    if images is None:
        from ..fond.data import BUNDLED_IMAGE_NAMES, bundled_images

        names = [n for n in preprocessing.train_images if n in BUNDLED_IMAGE_NAMES]
        if preprocessing.source != "bundled" or not names:
            names = list(BUNDLED_IMAGE_NAMES)
        photos = bundled_images(names)
    else:
        photos = dict(images)
        if not photos:
            raise ValueError("images: expected at least one calibration image")
    total = 0.0
    total_sq = 0.0
    count = 0
    for name, img in photos.items():
        img = np.asarray(img, dtype=np.float64)
        if img.ndim != 2 or not np.isfinite(img).all():
            raise ValueError(f"images[{name!r}]: expected a finite 2-D image, got {img.shape}")
        lum = img / 255.0 - background
        w = whiten(lum, preprocessing.f0) if preprocessing.whiten else lum - lum.mean()
        total += float(w.sum())
        total_sq += float((w * w).sum())
        count += w.size
    mean = total / count
    std = math.sqrt(max(total_sq / count - mean * mean, 0.0))
    if std <= 0:
        raise ValueError("images: calibration images have no contrast")
    gain = float(preprocessing.global_std) / std
    if images is None:
        _GAIN_CACHE[key] = gain
    return gain


class PresentationTransform:
    """Luminance frames -> model input images, in one of two explicit modes.

    Parameters
    ----------
    preprocessing : Preprocessing
        The checkpoint's preprocessing (whitening cut-off ``f0``, LCN settings,
        global z-score).
    mode : {"linear", "training"}
        See the module docstring. ``"linear"`` preserves contrast;
        ``"training"`` reproduces the training pipeline and normalises contrast
        away.
    gain : float, optional
        Linear mode only: multiplier applied after whitening. Default: the
        calibrated gain (:func:`calibrate_gain`, computed once per
        preprocessing and cached).
    background : float
        Background (mean gray) luminance subtracted in linear mode and used to
        pad frames; in [0, 1]. Default 0.5, the mean of every stimulus builder
        in :mod:`neurofond.stimuli`.
    pad : int, optional
        Pixels of background added on each side before whitening (default:
        the model's patch size). The output is cropped back to the frame.

    Raises
    ------
    ValueError
        Unknown ``mode``, non-positive ``gain``, ``background`` outside [0, 1],
        negative ``pad`` (the message names the argument).

    Examples
    --------
    >>> from neurofond.fond import Preprocessing
    >>> t = PresentationTransform(Preprocessing(), gain=1.0)
    >>> t(np.full((8, 20, 20), 0.5)).shape
    (8, 20, 20)
    """

    def __init__(self, preprocessing: Preprocessing, mode: str = "linear", *,
                 gain: float | None = None, background: float = 0.5,
                 pad: int | None = None) -> None:
        if not isinstance(preprocessing, Preprocessing):
            raise ValueError(f"preprocessing: expected a Preprocessing, got {type(preprocessing)}")
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
        if (isinstance(background, bool) or not isinstance(background, (int, float, np.number))
                or not 0.0 <= float(background) <= 1.0):
            raise ValueError(f"background: expected a luminance in [0, 1], got {background!r}")
        if gain is not None:
            gain = check_positive(gain, "gain")
        if mode == "training" and gain is not None:
            raise ValueError("gain: only used in mode='linear'; the training pipeline has no gain")
        pad = preprocessing.patch_size if pad is None else pad
        pad = check_int(pad, "pad", minimum=0)
        self.preprocessing = preprocessing
        self.mode = mode
        self.background = float(background)
        self.pad = int(pad)
        self._gain = None if gain is None else float(gain)

    # ------------------------------------------------------------------ properties
    @property
    def gain(self) -> float | None:
        """Linear-mode gain (calibrated on first use when not given); None in training mode."""
        if self.mode != "linear":
            return None
        if self._gain is None:
            self._gain = calibrate_gain(self.preprocessing, background=self.background)
        return self._gain

    def to_dict(self) -> dict[str, Any]:
        """Settings for provenance (JSON-serialisable)."""
        return {"mode": self.mode, "gain": self.gain, "background": self.background,
                "pad": self.pad}

    def __repr__(self) -> str:
        gain = "" if self.mode != "linear" else f", gain={self._gain!r}"
        return f"PresentationTransform(mode={self.mode!r}{gain}, background={self.background})"

    # ------------------------------------------------------------------ transform
    def blank_value(self) -> float:
        """Model input of a uniform (mean-gray) frame: ``standardize(0)``."""
        return float(self.preprocessing.standardize(np.zeros(1))[0])

    def __call__(self, frames: np.ndarray, *, keep_pad: bool = False) -> np.ndarray:
        """Transform luminance frames into model input images.

        Parameters
        ----------
        frames : ndarray, shape (..., H, W)
            Luminance; any leading dims (stimuli, frames). Must be finite.
        keep_pad : bool
            Return the padded image ``(..., H + 2 pad, W + 2 pad)`` (the
            transformed background around the canvas) instead of cropping.

        Returns
        -------
        ndarray, float32, shape (..., H, W) (or padded)
            In the model's input units (after the global z-score); cut
            ``patch_size`` x ``patch_size`` windows and flatten them row-major
            to get model inputs.

        Raises
        ------
        ValueError
            If ``frames`` has fewer than 2 dims, is empty, is not real or
            contains NaN/inf.
        """
        frames = np.asarray(frames)
        if frames.ndim < 2:
            raise ValueError(f"frames: expected 2-D frames (..., H, W), got shape {frames.shape}")
        if frames.size == 0:
            raise ValueError(f"frames: expected non-empty frames, got shape {frames.shape}")
        if not np.issubdtype(frames.dtype, np.number) or np.iscomplexobj(frames):
            raise ValueError(f"frames: expected real luminance values, got dtype {frames.dtype}")
        if not np.isfinite(frames).all():
            raise ValueError("frames: contains NaN or infinite values")
        lead, (h, w) = frames.shape[:-2], frames.shape[-2:]
        flat = frames.reshape(-1, h, w)
        p = self.pad
        out = np.empty((flat.shape[0], h + 2 * p, w + 2 * p), dtype=np.float32)
        for i, frame in enumerate(flat):
            out[i] = self._one(frame)
        out = self.preprocessing.standardize(out)
        if not keep_pad and p:
            out = out[:, p:p + h, p:p + w]
        return np.ascontiguousarray(out).reshape(*lead, *out.shape[1:])

    def _one(self, frame: np.ndarray) -> np.ndarray:
        """One padded frame in pre-standardisation units."""
        p = self.pad
        frame = np.asarray(frame, dtype=np.float64)
        if np.ptp(frame) <= 1e-12:  # uniform: the zero-contrast image in either mode
            return np.zeros((frame.shape[0] + 2 * p, frame.shape[1] + 2 * p))
        prep = self.preprocessing
        if self.mode == "training":  # exactly the training pipeline, on the frame itself
            return np.pad(prep.image(frame), p, mode="constant")
        lum = np.pad(frame - self.background, p, mode="constant")
        out = whiten(lum, prep.f0) if prep.whiten else lum - lum.mean()
        return out * self.gain
