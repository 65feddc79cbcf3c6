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
    calibrated once per preprocessing (:func:`calibrate_gain`); the default
    calibration, ``"training_range"``, is the contrast mapping below.

``"training"``
    ``x = standardize(preprocessing.image(L))`` frame by frame: exactly the
    training pipeline. The per-image z-score and the LCN remove contrast
    differences between frames (and between the regions of one frame), so
    contrast-response functions measured in this mode are flat by
    construction. Useful to check that the model behaves as on its training
    distribution (e.g. for natural images).

Contrast mapping of the linear mode (``calibration="training_range"``)
    A full-field sinusoidal grating of Michelson contrast ``c`` on the gray
    background ``L0`` (``L - L0 = L0 c sin(2 pi f u + phase)``) is, after
    whitening, a sinusoid of amplitude ``L0 c R(f)``; in model units (after
    the global z-score, whose standard deviation is ``global_std``) a patch of
    it has standard deviation

    ``std(c, f) = gain L0 c R(f) / (sqrt(2) global_std)``.

    ``R(f)`` is largest at ``f* = f0 / 4^(1/4)`` cycles/pixel (0.283 for
    ``f0 = 0.4``; ``R = 1`` at every frequency for a checkpoint trained without
    whitening). The gain is chosen so that a full-contrast grating at ``f*``
    reaches ``h s_q``, just below ``s_q``, the ``quantile`` (default 0.99) of the per-patch standard
    deviations of the checkpoint's own training patches (its preprocessing
    applied to its training photos, :func:`training_patch_std`):

    ``gain = h sqrt(2) s_q global_std / (L0 R(f*))``, ``h = 0.95``
    (:data:`HEADROOM`), so that ``std(c, f) = h c (R(f) / R(f*)) s_q <= c s_q``.

    Every grating at any contrast in [0, 1] and any SF then gives inputs
    within the range of the training inputs (at most as strong as the
    strongest 1 % of training patches), and input amplitude stays
    proportional to contrast. Why the 0.99 quantile: the model was fitted
    on these patches, so its dynamics are only trained for inputs of their
    size, and a grating is the strongest input there is for the units tuned
    to it; stronger inputs (the ``"photo_std"`` calibration below gives
    ~4.7 ``s_q``) drive the iP-VAE into its soft clamp. The headroom ``h``:
    patches of a truncated grating (canvas edges, apertures) or holding a
    non-integer number of cycles
    exceed the full-field value, by up to 1.7 % over the shipped protocols
    (``sf_tuning``); with ``h = 0.95`` all of them stay below ``s_q``. The
    calibration depends only on the checkpoint's preprocessing (``f0``,
    ``whiten``, ``global_std``, patch rejection, training photos), never on
    the weights.

``calibration="photo_std"`` (the earlier default; explicit opt-in)
    ``gain = global_std / std(whiten(photo / 255 - L0))`` pooled over the
    bundled photos: whole natural photos get inputs of unit standard
    deviation, like the training patches. A full-contrast grating then gives
    inputs ~4.7x larger than the 0.99 quantile of the training patches (the
    whitening filter boosts exactly a grating's mid SFs), which drives the
    shipped iP-VAE to its soft clamp. Its gain is ~4.9x the
    ``"training_range"`` gain of the shipped iP-VAE (68.6 vs 14.0): contrast
    0.2 here is contrast ~1 there.

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

from .._checks import check_int, check_positive, check_seed
from ..fond.data import Preprocessing, whiten

__all__ = ["CALIBRATIONS", "DEFAULT_QUANTILE", "HEADROOM", "MODES", "PresentationTransform",
           "calibrate_gain", "training_patch_std", "whitening_peak"]

#: Presentation modes understood by :class:`PresentationTransform`.
MODES: tuple[str, ...] = ("linear", "training")

#: Calibrations of the linear-mode gain (:func:`calibrate_gain`).
CALIBRATIONS: tuple[str, ...] = ("training_range", "photo_std")

#: Quantile of the training patches' standard deviations that a full-contrast grating at the
#: whitening filter's peak frequency reaches under the ``"training_range"`` calibration.
DEFAULT_QUANTILE = 0.99

#: Fraction of ``s_q`` reached by a full-field, full-contrast grating at the whitening peak:
#: patches of truncated gratings or holding a non-integer number of cycles exceed the
#: full-field value (by up to 1.7 % measured over the shipped protocols), so the target
#: is 5 % below the quantile and every such patch stays below ``s_q``.
HEADROOM = 0.95

#: Training patches drawn to estimate the quantile (seeded; the estimate of the 0.99
#: quantile varies by ~1 % between seeds at this size).
CALIBRATION_PATCHES = 20_000

_GAIN_CACHE: dict[tuple[Any, ...], float] = {}
_STD_CACHE: dict[tuple[Any, ...], np.ndarray] = {}


def _prep_key(preprocessing: Preprocessing) -> tuple[Any, ...]:
    d = preprocessing.to_dict()
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(d.items()))


def _check_preprocessing(preprocessing: Any) -> Preprocessing:
    if not isinstance(preprocessing, Preprocessing):
        raise ValueError(f"preprocessing: expected a Preprocessing, got {type(preprocessing)}")
    return preprocessing


def _calibration_photos(preprocessing: Preprocessing,
                        images: Mapping[str, np.ndarray] | None) -> dict[str, np.ndarray]:
    if images is None:
        from ..fond.data import BUNDLED_IMAGE_NAMES, bundled_images

        names = [n for n in preprocessing.train_images if n in BUNDLED_IMAGE_NAMES]
        if preprocessing.source != "bundled" or not names:
            names = list(BUNDLED_IMAGE_NAMES)
        return bundled_images(names)
    photos = dict(images)
    if not photos:
        raise ValueError("images: expected at least one calibration image")
    for name, img in photos.items():
        arr = np.asarray(img, dtype=np.float64)
        if arr.ndim != 2 or not np.isfinite(arr).all():
            raise ValueError(f"images[{name!r}]: expected a finite 2-D image, got {arr.shape}")
        photos[name] = arr
    return photos


def whitening_peak(preprocessing: Preprocessing) -> tuple[float, float]:
    """Frequency and gain of the strongest component of the linear transform's filter.

    Returns
    -------
    (float, float)
        ``(f*, R(f*))``: for a whitening checkpoint the maximum of
        ``R(f) = f exp(-(f / f0)^4)``, at ``f* = f0 / 4^(1/4)`` cycles/pixel with
        ``R(f*) = f* exp(-1/4)``; ``(nan, 1.0)`` for a checkpoint trained without
        whitening (the linear transform only removes the mean: ``R = 1``).
    """
    preprocessing = _check_preprocessing(preprocessing)
    if not preprocessing.whiten:
        return math.nan, 1.0
    f_star = float(preprocessing.f0) / 4.0 ** 0.25
    return f_star, f_star * math.exp(-0.25)


def training_patch_std(preprocessing: Preprocessing, quantile: float = DEFAULT_QUANTILE, *,
                       images: Mapping[str, np.ndarray] | None = None,
                       n_patches: int = CALIBRATION_PATCHES, seed: int = 0) -> float:
    """Quantile of the per-patch standard deviation of a checkpoint's training inputs.

    Parameters
    ----------
    preprocessing : Preprocessing
        The checkpoint's preprocessing: its per-image steps, patch size,
        near-flat patch rejection (``min_patch_std``) and global z-score are
        applied exactly as in training (:meth:`Preprocessing.patches`).
    quantile : float
        In (0, 1]; 1 gives the largest sampled patch.
    images : mapping name -> ndarray (H, W), optional
        Photos in [0, 255]. Default: the checkpoint's training photos among the
        bundled ones (:func:`neurofond.fond.data.bundled_images`); all bundled
        photos for a checkpoint trained on other data.
    n_patches : int
        Patches drawn (seeded positions).
    seed : int
        Seed of the patch positions (:func:`neurofond._checks.check_random_state`).

    Returns
    -------
    float
        ``s_q``: the ``quantile`` of ``std(x)`` over patches ``x`` in model
        units (each patch's standard deviation over its pixels). For the
        8000-step shipped iP-VAE (bundled photos, ``f0 = 0.4``) the 0.5 and
        0.99 quantiles are about 1.01 and 1.35. Cached per preprocessing
        when ``images`` is None.
    """
    preprocessing = _check_preprocessing(preprocessing)
    quantile = check_positive(quantile, "quantile")
    if quantile > 1.0:
        raise ValueError(f"quantile: expected a quantile in (0, 1], got {quantile!r}")
    n_patches = check_int(n_patches, "n_patches", minimum=1)
    seed = check_seed(seed)
    key = (_prep_key(preprocessing), n_patches, seed)
    stds = _STD_CACHE.get(key) if images is None else None
    if stds is None:
        photos = _calibration_photos(preprocessing, images)
        patches = preprocessing.patches(list(photos.values()), n_patches, 0 if seed is None
                                        else seed)
        stds = np.sort(patches.astype(np.float64).std(axis=1))
        if images is None:
            _STD_CACHE[key] = stds
    return float(np.quantile(stds, quantile))


def calibrate_gain(preprocessing: Preprocessing, *, background: float = 0.5,
                   images: Mapping[str, np.ndarray] | None = None,
                   calibration: str = "training_range",
                   quantile: float = DEFAULT_QUANTILE) -> float:
    """Gain of the linear presentation transform for ``preprocessing``.

    Parameters
    ----------
    preprocessing : Preprocessing
        The checkpoint's preprocessing.
    background : float
        Luminance subtracted before whitening (mean gray); the ``L0`` of the
        gratings the ``"training_range"`` calibration bounds (> 0 there).
    images : mapping name -> ndarray (H, W), optional
        Calibration photos with values in [0, 255]. Default: the photos
        bundled with scikit-image / scikit-learn
        (:func:`neurofond.fond.data.bundled_images`): the model's training
        photos when it was trained on them, all of them otherwise.
    calibration : {"training_range", "photo_std"}
        ``"training_range"`` (default): a full-contrast grating at the
        whitening filter's peak frequency gives patches whose standard
        deviation is 0.95 (:data:`HEADROOM`) of the ``quantile`` ``s_q`` of the
        training patches' standard deviations,
        ``gain = 0.95 sqrt(2) s_q global_std / (background R(f*))``
        (module docstring; :func:`training_patch_std`,
        :func:`whitening_peak`). ``"photo_std"``: the earlier default,
        ``gain = global_std / std(whiten(photo / 255 - background))``
        pooled over all pixels of the photos (natural photos get inputs of
        unit standard deviation; full-contrast gratings ~4.7x the 0.99
        quantile of the training patches).
    quantile : float
        Quantile of the training patch standard deviations (``"training_range"``
        only), in (0, 1]. Default 0.99.

    Returns
    -------
    float
        The gain. Cached per preprocessing and settings when ``images`` is None.

    Raises
    ------
    ValueError
        Unknown ``calibration``, ``quantile`` outside (0, 1], ``background``
        of 0 with ``"training_range"``, calibration images that are not finite
        2-D arrays or have no contrast.

    Notes
    -----
    With ``"training_range"`` the standard deviation of a patch of a
    full-field grating of contrast ``c`` and frequency ``f`` is
    ``0.95 c (R(f) / R(f*)) s_q``: below ``s_q`` for every ``c`` in [0, 1].
    """
    preprocessing = _check_preprocessing(preprocessing)
    if calibration not in CALIBRATIONS:
        raise ValueError(f"calibration: expected one of {CALIBRATIONS}, got {calibration!r}")
    background = float(background)
    if calibration == "training_range":
        quantile = check_positive(quantile, "quantile")
        if quantile > 1.0:
            raise ValueError(f"quantile: expected a quantile in (0, 1], got {quantile!r}")
        if background <= 0:
            raise ValueError("background: the training_range calibration bounds gratings of "
                             "contrast c around the background L0 (amplitude L0 c); "
                             f"expected L0 > 0, got {background!r}")
    key = (_prep_key(preprocessing), background, calibration,
           float(quantile) if calibration == "training_range" else None)
    if images is None and key in _GAIN_CACHE:
        return _GAIN_CACHE[key]
    if calibration == "training_range":
        s_q = training_patch_std(preprocessing, quantile, images=images)
        _, r_peak = whitening_peak(preprocessing)
        gain = (HEADROOM * math.sqrt(2.0) * s_q * float(preprocessing.global_std)
                / (background * r_peak))
    else:
        gain = _photo_std_gain(preprocessing, background, _calibration_photos(preprocessing,
                                                                               images))
    if images is None:
        _GAIN_CACHE[key] = gain
    return gain


def _photo_std_gain(preprocessing: Preprocessing, background: float,
                    photos: Mapping[str, np.ndarray]) -> float:
    """``global_std / std(whiten(photo / 255 - background))`` pooled over the photos."""
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
    return float(preprocessing.global_std) / std


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
        calibrated gain (:func:`calibrate_gain` with ``calibration`` and
        ``quantile``, computed once per preprocessing and cached).
    calibration : {"training_range", "photo_std"}
        Linear mode, when ``gain`` is not given: how the gain is calibrated
        (module docstring). ``"training_range"`` (default) keeps every grating
        of contrast in [0, 1] within the training inputs' range;
        ``"photo_std"`` is the earlier mapping (full-contrast gratings ~4.7x
        stronger), kept for reproducing earlier results.
    quantile : float
        ``"training_range"`` only: quantile of the training patches' standard
        deviation reached by a full-contrast grating at the whitening peak.
        Default 0.99.
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
        Unknown ``mode`` or ``calibration``, non-positive ``gain``,
        ``background`` outside [0, 1], negative ``pad``, ``quantile`` outside
        (0, 1] (the message names the argument).

    Examples
    --------
    >>> from neurofond.fond import Preprocessing
    >>> t = PresentationTransform(Preprocessing(), gain=1.0)
    >>> t(np.full((8, 20, 20), 0.5)).shape
    (8, 20, 20)
    """

    def __init__(self, preprocessing: Preprocessing, mode: str = "linear", *,
                 gain: float | None = None, background: float = 0.5,
                 pad: int | None = None, calibration: str = "training_range",
                 quantile: float = DEFAULT_QUANTILE) -> None:
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
        if calibration not in CALIBRATIONS:
            raise ValueError(f"calibration: expected one of {CALIBRATIONS}, got {calibration!r}")
        quantile = check_positive(quantile, "quantile")
        if quantile > 1.0:
            raise ValueError(f"quantile: expected a quantile in (0, 1], got {quantile!r}")
        pad = preprocessing.patch_size if pad is None else pad
        pad = check_int(pad, "pad", minimum=0)
        self.preprocessing = preprocessing
        self.mode = mode
        self.background = float(background)
        self.pad = int(pad)
        self._gain = None if gain is None else float(gain)
        self.calibration = "fixed" if gain is not None else calibration
        self.quantile = float(quantile)

    # ------------------------------------------------------------------ properties
    @property
    def gain(self) -> float | None:
        """Linear-mode gain (calibrated on first use when not given); None in training mode."""
        if self.mode != "linear":
            return None
        if self._gain is None:
            self._gain = calibrate_gain(self.preprocessing, background=self.background,
                                        calibration=self.calibration, quantile=self.quantile)
        return self._gain

    def to_dict(self) -> dict[str, Any]:
        """Settings for provenance (JSON-serialisable); ``calibration`` is ``"fixed"``
        when the gain was given, ``quantile`` only applies to ``"training_range"``."""
        out: dict[str, Any] = {"mode": self.mode, "gain": self.gain,
                               "background": self.background, "pad": self.pad}
        if self.mode == "linear":
            out["calibration"] = self.calibration
            if self.calibration == "training_range":
                out["quantile"] = self.quantile
        return out

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
