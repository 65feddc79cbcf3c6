"""Natural-image patches: whitening, contrast normalisation, patch extraction.

The pipeline follows the classic sparse-coding recipe (Olshausen & Field 1996,
1997) as used for the paper's vH16-wht data set:

1. grayscale image, mean removed;
2. whitening in the frequency domain with ``R(f) = f exp(-(f / f0)^4)``
   (``f`` radial frequency in cycles/pixel; ``f0 = 0.4`` cycles/pixel is
   Olshausen's ``0.4 N`` cycles/picture);
3. per-image z-score, then local contrast normalisation: divide by
   ``max(local std, mean local std)`` in a 13 x 13 Gaussian window;
4. 16 x 16 patches at seeded random positions;
5. global z-score with the training set's mean and std (stored, so that
   evaluation and presentation apply the same transform).

Sources: the photos bundled in the scikit-image and scikit-learn wheels (the
shippable default), a folder of image files, or a numpy array ``(N, H, W)``
(e.g. the pre-whitened Olshausen images: pass ``whiten=False``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_int, check_random_state
from ..stimuli.images import rgb_to_luminance

__all__ = [
    "BUNDLED_IMAGE_NAMES",
    "PatchData",
    "Preprocessing",
    "bundled_images",
    "extract_patches",
    "heldout_patches",
    "load_images",
    "local_contrast_normalize",
    "make_patch_data",
    "preprocess_image",
    "whiten",
]

BUNDLED_IMAGE_NAMES: tuple[str, ...] = (
    "camera", "astronaut", "coffee", "rocket", "brick", "grass", "gravel", "moon", "china",
    "chelsea", "flower",
)
BUNDLED_VALIDATION: tuple[str, ...] = ("chelsea", "flower")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif")


def _to_gray(image: np.ndarray) -> np.ndarray:
    """2-D float64 gray image; colour through the one luminance rule (BT.709,
    :func:`neurofond.stimuli.images.rgb_to_luminance`), values kept in their units."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        image = rgb_to_luminance(image)
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(
            f"image: expected a 2-D grayscale or RGB(A) image, got shape {image.shape}")
    return image


def bundled_images(names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Grayscale photos shipped inside the scikit-image and scikit-learn wheels.

    Parameters
    ----------
    names : sequence of str, optional
        Subset of :data:`BUNDLED_IMAGE_NAMES` (default: all 11).

    Returns
    -------
    dict
        name -> float64 array in [0, 255].
    """
    import skimage.data

    names = list(BUNDLED_IMAGE_NAMES if names is None else names)
    unknown = sorted(set(names) - set(BUNDLED_IMAGE_NAMES))
    if unknown:
        raise ValueError(f"names: unknown bundled images {unknown}; expected {BUNDLED_IMAGE_NAMES}")
    out: dict[str, np.ndarray] = {}
    sk_names = [n for n in names if n not in ("china", "flower")]
    for name in sk_names:
        out[name] = _to_gray(getattr(skimage.data, name)())
    if {"china", "flower"} & set(names):
        from sklearn.datasets import load_sample_images

        sample = load_sample_images()
        for fname, img in zip(sample.filenames, sample.images):
            stem = Path(fname).stem
            if stem in names:
                out[stem] = _to_gray(img)
    return {n: out[n] for n in names}


def heldout_patches(preprocessing: Preprocessing, n_patches: int, seed: int = 0) -> np.ndarray:
    """Patches of a bundled-photo model's held-out images, preprocessed as in training."""
    if preprocessing.source != "bundled":
        raise ValueError("preprocessing: the model was not trained on the bundled photos; "
                         "pass images explicitly")
    images = bundled_images(preprocessing.validation_images or list(BUNDLED_VALIDATION))
    return preprocessing.patches(list(images.values()), n_patches, seed)


def load_images(source: str | Path | np.ndarray) -> dict[str, np.ndarray]:
    """Load grayscale images from a folder, an image file, a ``.npy`` file or an array.

    Parameters
    ----------
    source : path or ndarray
        Folder of image files; a single image file; a ``.npy`` file or array
        of shape (H, W) or (N, H, W).

    Returns
    -------
    dict
        name -> float64 (H, W) array.

    Raises
    ------
    ValueError
        Missing path, no images found, wrong shape or non-finite values.
    """
    if isinstance(source, np.ndarray):
        arr = source
        names = None
    else:
        path = Path(source)
        if not path.exists():
            raise ValueError(f"images: path {path} does not exist")
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
            if not files:
                raise ValueError(f"images: no image files ({', '.join(_IMAGE_SUFFIXES)}) in {path}")
            return {p.stem: _read_image_file(p) for p in files}
        if path.suffix == ".npy":
            try:
                arr = np.load(path, allow_pickle=False)
            except Exception as exc:  # noqa: BLE001 - report any reader failure clearly
                raise ValueError(f"images: could not read {path} as a numpy array: {exc}") from exc
            names = None
        else:
            return {path.stem: _read_image_file(path)}
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"images: expected shape (H, W) or (N, H, W), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("images: contains NaN or infinite values")
    names = names or [f"image{i:03d}" for i in range(arr.shape[0])]
    return dict(zip(names, arr))


def _read_image_file(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return _to_gray(np.asarray(img.convert("RGB")))
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"images: could not read {path} as an image: {exc}") from exc


def whiten(image: np.ndarray, f0: float = 0.4) -> np.ndarray:
    """Whiten an image with the filter ``R(f) = f exp(-(f / f0)^4)``.

    Parameters
    ----------
    image : ndarray (H, W)
    f0 : float
        Cut-off in cycles/pixel (0 < f0 <= 0.5); 0.4 is Olshausen & Field's
        ``0.4 N`` cycles/picture.

    Notes
    -----
    The ramp ``f`` flattens the ~``1/f`` amplitude spectrum of natural images;
    the ``exp(-(f/f0)^4)`` factor removes the noisy corners of the spectrum.
    Olshausen & Field (1997), Vision Research 37:3311.
    """
    if not 0 < f0 <= 0.5:
        raise ValueError(f"f0: expected a cut-off in (0, 0.5] cycles/pixel, got {f0!r}")
    image = np.asarray(image, dtype=np.float64)
    fy = np.fft.fftfreq(image.shape[0])[:, None]
    fx = np.fft.fftfreq(image.shape[1])[None, :]
    f = np.sqrt(fx**2 + fy**2)
    spectrum = np.fft.fft2(image - image.mean())
    return np.real(np.fft.ifft2(spectrum * f * np.exp(-((f / f0) ** 4))))


def local_contrast_normalize(image: np.ndarray, size: int = 13) -> np.ndarray:
    """Divide by ``max(local std, mean local std)`` in a ``size x size`` Gaussian window.

    The window has standard deviation ``size / 6`` and is truncated at
    ``size // 2`` pixels. Flat regions are not amplified beyond the image's
    average contrast.
    """
    from scipy.ndimage import gaussian_filter

    if size < 3 or size % 2 == 0:
        raise ValueError(f"size: expected an odd window of at least 3 pixels, got {size!r}")
    sigma = size / 6.0
    truncate = (size // 2) / sigma
    mean = gaussian_filter(image, sigma, truncate=truncate, mode="reflect")
    var = gaussian_filter(image**2, sigma, truncate=truncate, mode="reflect") - mean**2
    local_std = np.sqrt(np.maximum(var, 0.0))
    return image / np.maximum(local_std, local_std.mean())


@dataclass
class Preprocessing:
    """How images were turned into model inputs; stored in every checkpoint."""

    whiten: bool = True
    f0: float = 0.4
    per_image_zscore: bool = True
    lcn: bool = True
    lcn_size: int = 13
    patch_size: int = 16
    global_mean: float = 0.0
    global_std: float = 1.0
    min_patch_std: float = 0.0
    source: str = "bundled"
    train_images: list[str] = dataclasses.field(default_factory=list)
    validation_images: list[str] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"preprocessing: unknown keys {unknown}")
        return cls(**data)

    def image(self, image: np.ndarray) -> np.ndarray:
        """Apply the per-image steps (whitening, z-score, LCN) to one image."""
        return preprocess_image(image, whiten_image=self.whiten, f0=self.f0,
                                per_image_zscore=self.per_image_zscore, lcn=self.lcn,
                                lcn_size=self.lcn_size)

    def patches(self, images: Sequence[np.ndarray], n_patches: int, seed: int = 0) -> np.ndarray:
        """Model-ready patches from raw images: per-image steps, extraction, global z-score."""
        processed = [self.image(img) for img in images]
        return self.standardize(extract_patches(processed, self.patch_size, n_patches, seed,
                                                min_std=self.min_patch_std))

    def standardize(self, patches: np.ndarray) -> np.ndarray:
        """Apply the stored global z-score to flattened patches."""
        return ((patches - self.global_mean) / self.global_std).astype(np.float32)


def preprocess_image(image: np.ndarray, *, whiten_image: bool = True, f0: float = 0.4,
                     per_image_zscore: bool = True, lcn: bool = True,
                     lcn_size: int = 13) -> np.ndarray:
    """Whitening, per-image z-score and local contrast normalisation of one image."""
    image = np.asarray(image, dtype=np.float64)
    if not np.isfinite(image).all():
        raise ValueError("image: contains NaN or infinite values")
    out = whiten(image, f0) if whiten_image else image - image.mean()
    if per_image_zscore:
        std = out.std()
        out = (out - out.mean()) / (std if std > 0 else 1.0)
    if lcn:
        out = local_contrast_normalize(out, lcn_size)
    return out


def extract_patches(images: Sequence[np.ndarray], patch_size: int, n_patches: int,
                    seed: int | np.random.Generator = 0, min_std: float = 0.0,
                    max_draws: int = 50) -> np.ndarray:
    """Cut ``n_patches`` square patches at seeded random positions.

    Images contribute in proportion to their number of valid positions.

    Parameters
    ----------
    images : sequence of 2-D arrays
    patch_size : int
    n_patches : int
    seed : int or numpy Generator
    min_std : float
        Patches whose pixel standard deviation is below ``min_std`` are
        rejected and redrawn (0 keeps every patch). Near-flat patches make the
        per-sample R^2 meaningless (its denominator goes to zero).
    max_draws : int
        Give up after this many rounds of redrawing.

    Returns
    -------
    ndarray, shape (n_patches, patch_size**2), float32

    Raises
    ------
    ValueError
        Images smaller than a patch, or too few patches pass ``min_std``.
    """
    rng = check_random_state(seed)
    patch_size = check_int(patch_size, "patch_size", minimum=1)
    n_patches = check_int(n_patches, "n_patches", minimum=1)
    valid = []
    for i, img in enumerate(images):
        if img.shape[0] < patch_size or img.shape[1] < patch_size:
            raise ValueError(
                f"images[{i}]: shape {img.shape} is smaller than patch_size={patch_size}")
        valid.append((img.shape[0] - patch_size + 1) * (img.shape[1] - patch_size + 1))
    weights = np.asarray(valid, dtype=float) / sum(valid)
    windows = [np.lib.stride_tricks.sliding_window_view(img, (patch_size, patch_size))
               for img in images]
    kept: list[np.ndarray] = []
    n_kept = 0
    for _ in range(max_draws):
        need = n_patches - n_kept
        which = rng.choice(len(images), size=need, p=weights)
        batch = np.empty((need, patch_size * patch_size), dtype=np.float32)
        for i, win in enumerate(windows):
            idx = np.nonzero(which == i)[0]
            rows = rng.integers(0, win.shape[0], size=idx.size)
            cols = rng.integers(0, win.shape[1], size=idx.size)
            batch[idx] = win[rows, cols].reshape(idx.size, patch_size * patch_size)
        if min_std > 0:
            batch = batch[batch.std(axis=1) >= min_std]
        kept.append(batch)
        n_kept += batch.shape[0]
        if n_kept >= n_patches:
            return np.concatenate(kept)[:n_patches]
    raise ValueError(f"min_std: only {n_kept} of {n_patches} patches have std >= {min_std} "
                     f"after {max_draws} rounds; lower min_std")


@dataclass
class PatchData:
    """Training and validation patches plus the preprocessing that made them."""

    train: np.ndarray
    validation: np.ndarray
    preprocessing: Preprocessing
    train_images: list[str]
    validation_images: list[str]


def make_patch_data(source: str | Path | np.ndarray = "bundled", *, n_train: int = 100_000,
                    n_validation: int = 10_000, patch_size: int = 16,
                    validation_images: Sequence[str] | Sequence[int] | None = None,
                    whiten_images: bool | None = None, f0: float = 0.4,
                    per_image_zscore: bool = True, lcn: bool = True, lcn_size: int = 13,
                    min_patch_std: float = 0.25, seed: int = 0) -> PatchData:
    """Build deterministic training / validation patch sets.

    Parameters
    ----------
    source : "bundled", path or ndarray
        ``"bundled"`` uses :func:`bundled_images`; otherwise see :func:`load_images`.
    n_train, n_validation : int
        Number of patches in each split.
    validation_images : sequence of names or indices, optional
        Images held out for validation (split by image, never by patch).
        Default: ``chelsea`` and ``flower`` for the bundled set, the last 20%
        of images (at least one) otherwise.
    whiten_images : bool, optional
        Whiten with ``R(f)``; default True except for ``.npy`` sources whose
        name says ``whitened``.
    min_patch_std : float
        Reject near-flat patches whose std (after the per-image steps, where a
        typical patch has std ~1) is below this; 0 keeps all. Recorded in the
        returned :class:`Preprocessing`.
    seed : int
        Seed for patch positions (validation uses ``seed + 1``).
    """
    if isinstance(source, str) and source == "bundled":
        images = bundled_images()
        default_val: Sequence[str] = BUNDLED_VALIDATION
        source_name = "bundled"
    else:
        images = load_images(source)
        names = list(images)
        n_val = max(1, len(names) // 5)
        if len(names) < 2:
            raise ValueError("source: need at least two images to split train and validation")
        default_val = names[-n_val:]
        source_name = str(source) if not isinstance(source, np.ndarray) else "array"
    if whiten_images is None:
        whiten_images = "whiten" not in source_name.lower()
    names = list(images)
    val = list(default_val if validation_images is None else validation_images)
    val = [names[v] if isinstance(v, (int, np.integer)) else v for v in val]
    unknown = sorted(set(val) - set(names))
    if unknown:
        raise ValueError(f"validation_images: unknown images {unknown}; available {names}")
    train_names = [n for n in names if n not in val]
    if not train_names:
        raise ValueError("validation_images: no images left for training")
    processed = {n: preprocess_image(images[n], whiten_image=whiten_images, f0=f0,
                                     per_image_zscore=per_image_zscore, lcn=lcn,
                                     lcn_size=lcn_size) for n in names}
    train = extract_patches([processed[n] for n in train_names], patch_size, n_train, seed,
                            min_std=min_patch_std)
    validation = extract_patches([processed[n] for n in val], patch_size, n_validation, seed + 1,
                                 min_std=min_patch_std)
    mean, std = float(train.mean()), float(train.std())
    prep = Preprocessing(whiten=whiten_images, f0=f0, per_image_zscore=per_image_zscore, lcn=lcn,
                         lcn_size=lcn_size, patch_size=patch_size, global_mean=mean,
                         global_std=std, min_patch_std=min_patch_std, source=source_name,
                         train_images=train_names, validation_images=val)
    return PatchData(prep.standardize(train), prep.standardize(validation), prep, train_names, val)
