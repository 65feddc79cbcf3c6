"""Natural movies: a window moving over an image along an eye-movement path, or files.

No natural video clip is reachable from the team's machines, so movies are
made the way fixational eye movements sample a still scene: a window of
``window_px`` pixels is cropped from a large image at the positions of a
simulated gaze path (slow drift, microsaccades and saccades). User-supplied
videos and arrays are read as well. Every builder returns
:class:`~neurofond.stimuli.gratings.Stimuli` with ``frame_rate_hz`` set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import Stimuli, _positive_int, _scalar
from .geometry import ScreenGeometry
from .images import rgb_to_luminance

__all__ = [
    "eye_movement_path",
    "movie_from_image",
    "natural_movie",
    "movie_from_array",
    "movie_from_video",
    "pink_noise_image",
    "as_luminance",
]

SeedLike = int | np.random.Generator | None
RESCALE = (None, "minmax")


# --------------------------------------------------------------------------- images


def as_luminance(image: Any, name: str = "image", rescale: str | None = None) -> np.ndarray:
    """Validate an image or frame stack and return float64 luminance in ``[0, 1]``.

    Parameters
    ----------
    image : array_like
        Real, finite values. Integer arrays are divided by their dtype's
        maximum (``uint8`` / 255); float arrays must already lie in ``[0, 1]``
        unless ``rescale="minmax"``.
    name : str
        Argument name used in error messages.
    rescale : {None, "minmax"}
        ``"minmax"`` maps the global minimum to 0 and maximum to 1 (a constant
        array becomes 0.5).

    Returns
    -------
    ndarray, float64

    Raises
    ------
    ValueError
        On non-numeric or non-finite values, or values outside ``[0, 1]``
        without ``rescale``.
    """
    if rescale not in RESCALE:
        raise ValueError(f"rescale: expected one of {RESCALE}, got {rescale!r}")
    arr = np.asarray(image)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"{name}: expected a real numeric array, got dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer) and rescale is None:
        info = np.iinfo(arr.dtype)
        if arr.min() < 0:
            raise ValueError(f"{name}: integer luminance must be >= 0, got min {arr.min()}")
        return arr.astype(np.float64) / float(info.max)
    out = arr.astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name}: expected finite values, found NaN or inf")
    if rescale == "minmax":
        lo, hi = out.min(), out.max()
        return np.full_like(out, 0.5) if hi == lo else (out - lo) / (hi - lo)
    if out.min() < 0.0 or out.max() > 1.0:
        raise ValueError(
            f"{name}: expected luminance in [0, 1] (or integers, or rescale='minmax'), got "
            f"range [{out.min():.4g}, {out.max():.4g}]"
        )
    return out


def pink_noise_image(
    size_px: int | tuple[int, int] = 512, seed: SeedLike = None, exponent: float = 1.0
) -> np.ndarray:
    """Random image with a ``1 / f ** exponent`` amplitude spectrum, scaled to ``[0, 1]``.

    A stand-in for a natural image: natural scenes have amplitude spectra
    falling roughly as ``1/f`` (Field 1987, J Opt Soc Am A 4:2379), though they
    also have phase structure (edges) that this noise lacks.

    Parameters
    ----------
    size_px : int or (int, int)
        Image size (square, or ``(height, width)``).
    seed : int, numpy.random.Generator or None
        Random seed; the same seed gives the same image.
    exponent : float
        Spectral slope (>= 0); 0 is white noise, 1 is pink noise.

    Returns
    -------
    ndarray, shape (height, width), float64
        Min-max scaled to ``[0, 1]``.
    """
    h, w = ScreenGeometry(1.0, size_px).size_px
    exponent = _scalar(exponent, "exponent", low=0.0)
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.hypot(fx, fy)
    f[0, 0] = 1.0
    amp = f ** (-exponent)
    amp[0, 0] = 0.0
    spectrum = amp * np.exp(2j * np.pi * rng.random(amp.shape))
    img = np.fft.irfft2(spectrum, s=(h, w))
    return as_luminance(img, rescale="minmax")


# --------------------------------------------------------------------------- eye movements


def _bounds(bounds: Any) -> np.ndarray:
    """Validate bounds -> array [[row_lo, row_hi], [col_lo, col_hi]]."""
    try:
        arr = np.asarray(bounds, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"bounds: expected (row_max, col_max) or ((row_min, row_max), (col_min, col_max)), "
            f"got {bounds!r}"
        ) from None
    if arr.shape == (2,):
        arr = np.stack([np.zeros(2), arr], axis=1)
    if arr.shape != (2, 2) or not np.all(np.isfinite(arr)) or np.any(arr[:, 1] < arr[:, 0]):
        raise ValueError(
            "bounds: expected finite (row_max, col_max) or ((row_min, row_max), (col_min, "
            f"col_max)) with min <= max, got {bounds!r}"
        )
    return arr


def _fold(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflect values into ``[lo, hi]`` (mirror at both walls, any distance)."""
    span = hi - lo
    if span == 0:
        return np.full_like(values, lo)
    z = np.mod(values - lo, 2.0 * span)
    return lo + np.where(z > span, 2.0 * span - z, z)


def eye_movement_path(
    n_frames: int,
    seed: SeedLike = None,
    *,
    bounds: Any,
    start: Sequence[float] | None = None,
    frame_rate_hz: float = 30.0,
    drift_sd_px: float = 0.5,
    microsaccade_rate: float = 1.0,
    microsaccade_amp_px: float = 3.0,
    saccade_rate: float = 0.3,
    saccade_amp_px: float = 20.0,
) -> np.ndarray:
    """Simulated gaze path: random-walk drift plus microsaccades and saccades.

    Parameters
    ----------
    n_frames : int
        Number of positions (>= 1).
    seed : int, numpy.random.Generator or None
        Randomness; the same integer seed gives the same path.
    bounds : (row_max, col_max) or ((row_min, row_max), (col_min, col_max))
        Allowed positions (inclusive). For a window of ``(h, w)`` pixels moving
        over an ``(H, W)`` image use ``(H - h, W - w)``.
    start : (float, float), optional
        First position ``(row, col)``; defaults to the centre of ``bounds``.
    frame_rate_hz : float
        Frames per second (> 0); converts the event rates to per-frame probabilities.
    drift_sd_px : float
        Standard deviation of the drift step per frame and axis, in pixels (>= 0).
    microsaccade_rate, saccade_rate : float
        Mean event rates in events per second (>= 0).
    microsaccade_amp_px, saccade_amp_px : float
        Mean jump amplitudes in pixels (>= 0).

    Returns
    -------
    ndarray, shape (n_frames, 2), float64
        ``(row, col)`` positions of the window's top-left corner, within ``bounds``.

    Raises
    ------
    ValueError
        If an argument is out of range or ``start`` lies outside ``bounds``.

    Notes
    -----
    Model, per frame ``k >= 1``::

        p[k] = fold(p[k-1] + drift + jump)
        drift ~ Normal(0, drift_sd_px**2 I)
        jump  = sum over event types of B * a * (cos(phi), sin(phi))
        B ~ Bernoulli(1 - exp(-rate / frame_rate_hz)),  phi ~ Uniform(0, 2 pi),
        a ~ amp * Uniform(0.5, 1.5)

    ``fold`` reflects positions at the bounds (a reflecting random walk), so
    the path never leaves them. Fixational drift in primates moves the eye by a
    few arcmin over hundreds of ms (a random walk); microsaccades (< 1 deg)
    occur at about 1-2 Hz during fixation and saccades at about 3 Hz in free
    viewing (Martinez-Conde, Macknik & Hubel 2004, Nat Rev Neurosci 5:229;
    Rucci & Poletti 2015, Annu Rev Vis Sci 1:499). Defaults are in pixels and
    should be set from the display's pixels per degree.
    """
    n_frames = _positive_int(n_frames, "n_frames")
    b = _bounds(bounds)
    frame_rate_hz = _scalar(frame_rate_hz, "frame_rate_hz", low=0.0, low_open=True)
    drift = _scalar(drift_sd_px, "drift_sd_px", low=0.0)
    events = [
        (_scalar(microsaccade_rate, "microsaccade_rate", low=0.0),
         _scalar(microsaccade_amp_px, "microsaccade_amp_px", low=0.0)),
        (_scalar(saccade_rate, "saccade_rate", low=0.0),
         _scalar(saccade_amp_px, "saccade_amp_px", low=0.0)),
    ]
    if start is None:
        p0 = b.mean(axis=1)
    else:
        p0 = np.asarray(start, dtype=np.float64)
        if p0.shape != (2,) or not np.all(np.isfinite(p0)) or np.any(p0 < b[:, 0]) or np.any(
            p0 > b[:, 1]
        ):
            raise ValueError(f"start: expected a (row, col) pair within bounds {b.tolist()}, "
                             f"got {start!r}")
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 1.0, size=(n_frames, 2)) * drift
    for rate, amp in events:
        prob = 1.0 - math.exp(-rate / frame_rate_hz)
        happen = rng.random(n_frames) < prob
        phi = rng.uniform(0.0, 2.0 * np.pi, n_frames)
        size = amp * rng.uniform(0.5, 1.5, n_frames)
        steps += (happen * size)[:, None] * np.stack([np.sin(phi), np.cos(phi)], axis=1)
    path = np.empty((n_frames, 2))
    path[0] = p0
    pos = p0.copy()
    for k in range(1, n_frames):
        pos = pos + steps[k]
        pos[0] = _fold(pos[0:1], b[0, 0], b[0, 1])[0]
        pos[1] = _fold(pos[1:2], b[1, 0], b[1, 1])[0]
        path[k] = pos
    return path


# --------------------------------------------------------------------------- movies


def _window(window_px: Any) -> tuple[int, int]:
    try:
        return ScreenGeometry(1.0, window_px).size_px
    except ValueError:
        raise ValueError(
            f"window_px: expected a positive int or (height, width), got {window_px!r}"
        ) from None


def _geometry(pixels_per_degree: float | None, size: tuple[int, int]) -> ScreenGeometry | None:
    if pixels_per_degree is None:
        return None
    return ScreenGeometry(pixels_per_degree, size)


def _crop(image: np.ndarray, path: np.ndarray, h: int, w: int, interpolation: str) -> np.ndarray:
    """Crop windows of (h, w) at top-left positions ``path``."""
    out = np.empty((path.shape[0], h, w), dtype=np.float64)
    big_h, big_w = image.shape
    for k, (r, c) in enumerate(path):
        if interpolation == "nearest":
            r0, c0 = int(np.rint(r)), int(np.rint(c))
            out[k] = image[r0:r0 + h, c0:c0 + w]
            continue
        r0, c0 = int(math.floor(r)), int(math.floor(c))
        fr, fc = r - r0, c - c0
        rows = np.clip(np.arange(r0, r0 + h + 1), 0, big_h - 1)
        cols = np.clip(np.arange(c0, c0 + w + 1), 0, big_w - 1)
        patch = image[np.ix_(rows, cols)]
        top = (1 - fc) * patch[:-1, :-1] + fc * patch[:-1, 1:]
        bottom = (1 - fc) * patch[1:, :-1] + fc * patch[1:, 1:]
        out[k] = (1 - fr) * top + fr * bottom
    return out


def movie_from_image(
    image: Any,
    path: Any,
    window_px: int | tuple[int, int],
    frame_rate_hz: float = 30.0,
    interpolation: str = "bilinear",
    rescale: str | None = None,
    pixels_per_degree: float | None = None,
) -> Stimuli:
    """Movie of windows cropped from an image along a path.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, 3|4)
        Luminance image (colour is converted with the BT.709 weights of
        :func:`neurofond.stimuli.images.rgb_to_luminance`); see :func:`as_luminance`
        for accepted value ranges.
    path : array_like, shape (n_frames, 2)
        ``(row, col)`` of each window's top-left corner in image pixels, with
        ``0 <= row <= H - h`` and ``0 <= col <= W - w`` (e.g. from
        :func:`eye_movement_path` with ``bounds=(H - h, W - w)``).
    window_px : int or (int, int)
        Window ``(h, w)`` in pixels; at most the image size.
    frame_rate_hz : float
        Frame rate of the movie (> 0).
    interpolation : {"bilinear", "nearest"}
        ``"bilinear"``: sub-pixel positions are interpolated between the four
        neighbouring pixels (integer positions give exact crops).
        ``"nearest"``: positions are rounded to whole pixels (exact crops).
    rescale : {None, "minmax"}
        See :func:`as_luminance`.
    pixels_per_degree : float, optional
        Sets ``Stimuli.geometry`` when given.

    Returns
    -------
    Stimuli
        One movie, frames ``(1, n_frames, h, w)``; params ``kind="image_path"``;
        ``meta["path"]`` holds the positions.

    Raises
    ------
    ValueError
        On a bad image, a path of the wrong shape or outside the image, or a
        window larger than the image.
    """
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[-1] in (3, 4):
        img = rgb_to_luminance(as_luminance(img, "image", rescale))
    elif img.ndim == 2:
        img = as_luminance(img, "image", rescale)
    else:
        raise ValueError(f"image: expected shape (H, W) or (H, W, 3|4), got {img.shape}")
    h, w = _window(window_px)
    big_h, big_w = img.shape
    if h > big_h or w > big_w:
        raise ValueError(f"window_px: window {(h, w)} larger than the image {img.shape}")
    try:
        p = np.asarray(path, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"path: expected an (n_frames, 2) array of positions, got {path!r}"
        ) from None
    if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] < 1 or not np.all(np.isfinite(p)):
        raise ValueError(f"path: expected a finite (n_frames, 2) array, got shape {p.shape}")
    eps = 1e-9
    if (
        p[:, 0].min() < -eps or p[:, 0].max() > big_h - h + eps
        or p[:, 1].min() < -eps or p[:, 1].max() > big_w - w + eps
    ):
        raise ValueError(
            f"path: positions must satisfy 0 <= row <= {big_h - h} and 0 <= col <= {big_w - w}"
        )
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError(f"interpolation: expected 'bilinear' or 'nearest', got {interpolation!r}")
    frame_rate_hz = _scalar(frame_rate_hz, "frame_rate_hz", low=0.0, low_open=True)
    frames = _crop(img, np.clip(p, 0, [big_h - h, big_w - w]), h, w, interpolation)
    return Stimuli(
        frames=np.clip(frames, 0.0, 1.0)[None],
        params={"kind": np.array(["image_path"]), "movie": np.array([0])},
        geometry=_geometry(pixels_per_degree, (h, w)),
        frame_rate_hz=frame_rate_hz,
        meta={"builder": "movie_from_image", "path": p[None], "interpolation": interpolation},
    )


def natural_movie(
    image: Any,
    n_frames: int,
    window_px: int | tuple[int, int],
    seed: SeedLike = None,
    n_movies: int = 1,
    frame_rate_hz: float = 30.0,
    interpolation: str = "bilinear",
    rescale: str | None = None,
    pixels_per_degree: float | None = None,
    **path_kwargs: Any,
) -> Stimuli:
    """Movies from one image along independent simulated eye-movement paths.

    Parameters
    ----------
    image : array_like
        Image as in :func:`movie_from_image`.
    n_frames : int
        Frames per movie.
    window_px : int or (int, int)
        Window size in pixels.
    seed : int, numpy.random.Generator or None
        Randomness for all paths; the same integer seed gives the same movies.
    n_movies : int
        Number of movies (each its own path, start uniformly drawn within bounds).
    frame_rate_hz, interpolation, rescale, pixels_per_degree
        As in :func:`movie_from_image`.
    **path_kwargs
        Passed to :func:`eye_movement_path` (``drift_sd_px``,
        ``microsaccade_rate``, ``microsaccade_amp_px``, ``saccade_rate``,
        ``saccade_amp_px``).

    Returns
    -------
    Stimuli
        Frames ``(n_movies, n_frames, h, w)``; params ``kind="natural_movie"``
        and ``movie`` (index); ``meta["path"]`` has shape ``(n_movies, n_frames, 2)``.

    Raises
    ------
    ValueError
        On bad arguments or unknown ``path_kwargs`` names.
    """
    allowed = {"drift_sd_px", "microsaccade_rate", "microsaccade_amp_px", "saccade_rate",
               "saccade_amp_px"}
    for key in path_kwargs:
        if key not in allowed:
            raise ValueError(f"{key}: unknown eye-movement parameter; expected one of "
                             f"{sorted(allowed)}")
    n_movies = _positive_int(n_movies, "n_movies")
    n_frames = _positive_int(n_frames, "n_frames")
    img = np.asarray(image)
    if img.ndim not in (2, 3):
        raise ValueError(f"image: expected shape (H, W) or (H, W, 3|4), got {img.shape}")
    h, w = _window(window_px)
    big_h, big_w = img.shape[:2]
    if h > big_h or w > big_w:
        raise ValueError(f"window_px: window {(h, w)} larger than the image {img.shape[:2]}")
    bounds = ((0.0, big_h - h), (0.0, big_w - w))
    rng = np.random.default_rng(seed)
    movies, paths = [], []
    for _ in range(n_movies):
        start = (rng.uniform(0, big_h - h), rng.uniform(0, big_w - w))
        path = eye_movement_path(
            n_frames, rng, bounds=bounds, start=start, frame_rate_hz=frame_rate_hz, **path_kwargs
        )
        movie = movie_from_image(img, path, (h, w), frame_rate_hz, interpolation, rescale,
                                 pixels_per_degree)
        movies.append(movie.frames[0])
        paths.append(path)
    return Stimuli(
        frames=np.stack(movies),
        params={"kind": np.full(n_movies, "natural_movie"), "movie": np.arange(n_movies)},
        geometry=_geometry(pixels_per_degree, (h, w)),
        frame_rate_hz=frame_rate_hz,
        meta={"builder": "natural_movie", "path": np.stack(paths),
              "interpolation": interpolation, **path_kwargs},
    )


def movie_from_array(
    array: Any,
    frame_rate_hz: float = 30.0,
    rescale: str | None = None,
    pixels_per_degree: float | None = None,
) -> Stimuli:
    """Wrap a user-supplied movie array as :class:`Stimuli`.

    Parameters
    ----------
    array : array_like, shape (n_frames, H, W)
        Grayscale frames; finite; integers are scaled by their dtype maximum,
        floats must be in ``[0, 1]`` unless ``rescale="minmax"``.
    frame_rate_hz : float
        Frame rate (> 0).
    rescale : {None, "minmax"}
        See :func:`as_luminance`.
    pixels_per_degree : float, optional
        Sets ``Stimuli.geometry`` when given.

    Returns
    -------
    Stimuli
        One movie, frames ``(1, n_frames, H, W)``, params ``kind="movie"``.

    Raises
    ------
    ValueError
        If ``array`` is not 3-D, is empty, non-finite or out of range.
    """
    arr = np.asarray(array)
    if arr.ndim != 3 or min(arr.shape) < 1:
        raise ValueError(f"array: expected shape (n_frames, H, W) with sizes >= 1, got {arr.shape}")
    lum = as_luminance(arr, "array", rescale)
    frame_rate_hz = _scalar(frame_rate_hz, "frame_rate_hz", low=0.0, low_open=True)
    return Stimuli(
        frames=lum[None],
        params={"kind": np.array(["movie"]), "movie": np.array([0])},
        geometry=_geometry(pixels_per_degree, lum.shape[1:]),
        frame_rate_hz=frame_rate_hz,
        meta={"builder": "movie_from_array"},
    )


def movie_from_video(
    path: str | Path,
    frame_rate_hz: float | None = None,
    max_frames: int | None = None,
    rescale: str | None = None,
    pixels_per_degree: float | None = None,
) -> Stimuli:
    """Read a movie from a ``.npy`` array or a video/image-sequence file.

    Parameters
    ----------
    path : str or Path
        ``.npy`` file holding ``(n_frames, H, W)`` or ``(n_frames, H, W, 3|4)``,
        or any file ``imageio`` can read as a frame sequence (mp4/avi need the
        ``imageio-ffmpeg`` or ``av`` plugin; GIF and multi-page TIFF work with
        Pillow/tifffile).
    frame_rate_hz : float, optional
        Frame rate; if None, taken from the file's metadata (``fps`` or
        ``duration`` per frame in ms), else an error.
    max_frames : int, optional
        Keep at most this many frames from the start.
    rescale : {None, "minmax"}
        See :func:`as_luminance`.
    pixels_per_degree : float, optional
        Sets ``Stimuli.geometry`` when given.

    Returns
    -------
    Stimuli
        One movie (colour converted with the BT.709 weights of
        :func:`neurofond.stimuli.images.rgb_to_luminance`), ``meta["source"]`` = path.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ImportError
        If a non-``.npy`` file is given and ``imageio`` is not installed.
    ValueError
        On a bad array or a missing frame rate.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"path: no such file: {p}")
    meta_fps: float | None = None
    if p.suffix.lower() == ".npy":
        arr = np.load(p, allow_pickle=False)
    else:
        try:
            import imageio.v3 as iio
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                f"reading {p.suffix!r} files needs imageio (pip install imageio, plus "
                "imageio-ffmpeg for mp4/avi); or save the frames as .npy"
            ) from exc
        arr = np.asarray(iio.imread(p))
        try:
            info = iio.immeta(p)
        except Exception:  # noqa: BLE001 - metadata is optional
            info = {}
        if info.get("fps"):
            meta_fps = float(info["fps"])
        elif info.get("duration"):
            meta_fps = 1000.0 / float(info["duration"])
    if arr.ndim == 4 and arr.shape[-1] in (3, 4):
        arr = rgb_to_luminance(as_luminance(arr, "path", rescale))
    elif arr.ndim == 2:
        arr = arr[None]
    if max_frames is not None:
        arr = arr[: _positive_int(max_frames, "max_frames")]
    rate = frame_rate_hz if frame_rate_hz is not None else meta_fps
    if rate is None:
        raise ValueError(f"frame_rate_hz: not found in {p.name}; pass frame_rate_hz (> 0)")
    stim = movie_from_array(arr, rate, rescale, pixels_per_degree)
    stim.meta.update(builder="movie_from_video", source=str(p))
    return stim
