"""Space: where the model's patches lie on a stimulus canvas, and how frames become patches.

The model sees ``patch_size`` x ``patch_size`` pixel patches. With ``patch_size_deg`` set,
frames are first resampled so that one model patch covers ``patch_size_deg`` degrees (model
pixels per degree = ``patch_size / patch_size_deg``); otherwise one model pixel is one
stimulus pixel. The population has one hypercolumn of ``K`` neurons per patch position
("tile"): one tile at the canvas centre, a regular grid, or explicit positions in degrees.
Tile centres are reported in degrees (``x`` rightwards, ``y`` downwards from the canvas
centre, as in :mod:`neurofond.stimuli.geometry`) and in stimulus pixels.

numpy/scipy only (no torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import check_int, check_positive
from ..stimuli import ScreenGeometry, Stimuli

__all__ = ["POSITION_MODES", "TileLayout", "check_positions", "cut_patches", "resample",
           "tile_layout", "tile_neuron_coords"]

#: Named tile placements (besides explicit ``(x_deg, y_deg)`` positions).
POSITION_MODES = ("center", "grid")

#: Memory bound (bytes) of the transformed canvases held at once by :func:`cut_patches`.
_PATCH_GROUP_BYTES = 64 << 20


@dataclass(frozen=True)
class TileLayout:
    """Where the model's patches lie on a stimulus canvas.

    Attributes
    ----------
    model_size : (int, int)
        Canvas ``(height, width)`` in model pixels (after resampling).
    stimulus_size : (int, int)
        Canvas ``(height, width)`` in stimulus pixels.
    model_ppd : (float, float) or None
        Model pixels per degree along ``(y, x)`` (None without a geometry);
        equal to ``patch_size / patch_size_deg`` up to the rounding of
        ``model_size``.
    rows, cols : ndarray of int
        Top-left corner of each tile in model pixels (may be negative: the
        screen beyond the canvas is mean gray).
    x_deg, y_deg : ndarray of float
        Tile centres in degrees from the canvas centre (NaN without geometry).
    x_px, y_px : ndarray of float
        Tile centres in stimulus pixels (column, row index).
    patch_size : int
    """

    model_size: tuple[int, int]
    stimulus_size: tuple[int, int]
    model_ppd: tuple[float, float] | None
    rows: np.ndarray
    cols: np.ndarray
    x_deg: np.ndarray
    y_deg: np.ndarray
    x_px: np.ndarray
    y_px: np.ndarray
    patch_size: int

    @property
    def n_tiles(self) -> int:
        return int(self.rows.size)


def check_positions(positions: Any) -> str | np.ndarray:
    """``positions`` as one of :data:`POSITION_MODES` or an ``(n, 2)`` array of (x_deg, y_deg).

    Raises
    ------
    ValueError
        Unknown mode, or not a non-empty sequence of finite pairs.
    """
    if isinstance(positions, str):
        if positions not in POSITION_MODES:
            raise ValueError(f"positions: expected one of {POSITION_MODES} or a sequence of "
                             f"(x_deg, y_deg), got {positions!r}")
        return positions
    try:
        arr = np.asarray(positions, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"positions: expected 'center', 'grid' or (x_deg, y_deg) pairs, got "
                         f"{positions!r}") from None
    if arr.ndim == 1 and arr.shape == (2,):
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0 or not np.isfinite(arr).all():
        raise ValueError(f"positions: expected a non-empty sequence of finite (x_deg, y_deg) "
                         f"pairs, got {positions!r}")
    return arr


def _grid_starts(length: int, patch: int, stride: int) -> np.ndarray:
    n = (length - patch) // stride + 1 if length >= patch else 1
    span = (n - 1) * stride + patch
    start = (length - span) // 2
    return start + stride * np.arange(n)


def tile_layout(canvas: Stimuli | ScreenGeometry | tuple[int, int], *, patch_size: int,
                patch_size_deg: float | None = None,
                positions: str | np.ndarray = "center", stride_px: int | None = None,
                stride_deg: float | None = None) -> TileLayout:
    """Tile positions for a stimulus canvas.

    Parameters
    ----------
    canvas : Stimuli, ScreenGeometry or (height, width)
        The canvas (a bare size has no geometry: positions in degrees are
        NaN, and ``patch_size_deg`` / degree positions cannot be used).
    patch_size : int
        Model patch side in model pixels.
    patch_size_deg : float, optional
        Degrees covered by one model patch (frames are resampled to match).
    positions : "center", "grid" or (n, 2) array of (x_deg, y_deg)
        See :func:`check_positions`; explicit centres snap to the model pixel grid.
    stride_px, stride_deg : optional
        Grid stride (``positions="grid"``; default ``patch_size`` model pixels).

    Returns
    -------
    TileLayout

    Raises
    ------
    ValueError
        If degrees are needed but no geometry is known, or a position lies
        outside the canvas.
    """
    p = check_int(patch_size, "patch_size", minimum=1)
    positions = check_positions(positions)
    if isinstance(canvas, Stimuli):
        geometry, size = canvas.geometry, canvas.size_px
    elif isinstance(canvas, ScreenGeometry):
        geometry, size = canvas, tuple(canvas.size_px)
    else:
        geometry, size = None, tuple(int(v) for v in canvas)
    h_s, w_s = int(size[0]), int(size[1])
    ppd = None if geometry is None else float(geometry.pixels_per_degree)
    if patch_size_deg is not None:
        if ppd is None:
            raise ValueError("stimuli: patch_size_deg needs stimuli with a geometry "
                             "(pixels_per_degree)")
        factor = p / check_positive(patch_size_deg, "patch_size_deg") / ppd
        h, w = max(1, int(round(h_s * factor))), max(1, int(round(w_s * factor)))
    else:
        h, w = h_s, w_s
    model_ppd = None if ppd is None else (ppd * h / h_s, ppd * w / w_s)
    if isinstance(positions, str) and positions == "center":
        rows, cols = np.array([(h - p) // 2]), np.array([(w - p) // 2])
    elif isinstance(positions, str):
        if stride_deg is not None:
            if model_ppd is None:
                raise ValueError("stride_deg: needs stimuli with a geometry; use stride_px")
            stride_y = max(1, int(round(stride_deg * model_ppd[0])))
            stride_x = max(1, int(round(stride_deg * model_ppd[1])))
        else:
            stride_y = stride_x = stride_px or p
        r, c = _grid_starts(h, p, stride_y), _grid_starts(w, p, stride_x)
        rr, cc = np.meshgrid(r, c, indexing="ij")
        rows, cols = rr.ravel(), cc.ravel()
    else:
        if model_ppd is None:
            raise ValueError("positions: positions in degrees need stimuli with a geometry")
        pos = positions
        half_w, half_h = w_s / 2 / ppd, h_s / 2 / ppd
        outside = (np.abs(pos[:, 0]) > half_w + 1e-9) | (np.abs(pos[:, 1]) > half_h + 1e-9)
        if outside.any():
            bad = pos[np.argmax(outside)].tolist()
            raise ValueError(f"positions: tile centre {bad} deg lies outside the canvas "
                             f"(+-{half_w:g} x +-{half_h:g} deg)")
        cols = np.round(pos[:, 0] * model_ppd[1] + (w - 1) / 2 - (p - 1) / 2).astype(int)
        rows = np.round(pos[:, 1] * model_ppd[0] + (h - 1) / 2 - (p - 1) / 2).astype(int)
    rows, cols = np.asarray(rows, dtype=int), np.asarray(cols, dtype=int)
    # tile centre in model pixels -> stimulus pixels (resampling maps pixel edges to edges)
    cy_m, cx_m = rows + (p - 1) / 2, cols + (p - 1) / 2
    y_px = (cy_m + 0.5) * h_s / h - 0.5
    x_px = (cx_m + 0.5) * w_s / w - 0.5
    if ppd is None:
        x_deg = y_deg = np.full(rows.size, np.nan)
    else:
        x_deg = (x_px - (w_s - 1) / 2) / ppd
        y_deg = (y_px - (h_s - 1) / 2) / ppd
    return TileLayout(model_size=(h, w), stimulus_size=(h_s, w_s), model_ppd=model_ppd,
                      rows=rows, cols=cols, x_deg=x_deg, y_deg=y_deg, x_px=x_px, y_px=y_px,
                      patch_size=p)


def tile_neuron_coords(layout: TileLayout, n_units: int) -> dict[str, np.ndarray]:
    """``neuron`` coordinates of ``n_units`` neurons per tile: ``neuron_id``, ``unit``,
    ``position``, tile centres (``x_deg``, ``y_deg``, ``x_px``, ``y_px``).

    Neuron ``position * n_units + unit`` is dictionary element ``unit`` at tile ``position``.
    """
    k = check_int(n_units, "n_units", minimum=1)
    tile = np.repeat(np.arange(layout.n_tiles), k)
    return {
        "neuron_id": np.arange(layout.n_tiles * k),
        "unit": np.tile(np.arange(k), layout.n_tiles),
        "position": tile,
        "x_deg": layout.x_deg[tile],
        "y_deg": layout.y_deg[tile],
        "x_px": layout.x_px[tile],
        "y_px": layout.y_px[tile],
    }


def resample(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample ``(..., H, W)`` to ``(..., h, w)`` (float32): Gaussian anti-alias, then bilinear.

    The anti-alias filter has ``sigma = (1 / factor - 1) / 2`` pixels along each downsampled
    axis (none when upsampling); interpolation maps pixel edges to pixel edges.
    """
    frames = np.asarray(frames, dtype=np.float32)
    h_in, w_in = frames.shape[-2:]
    h, w = size
    if (h, w) == (h_in, w_in):
        return frames
    from scipy.ndimage import gaussian_filter, zoom

    fy, fx = h / h_in, w / w_in
    lead = frames.ndim - 2
    sigma = (0.0,) * lead + (max(0.0, (1 / fy - 1) / 2), max(0.0, (1 / fx - 1) / 2))
    if any(sigma):
        frames = gaussian_filter(frames, sigma, mode="nearest")
    return zoom(frames, (1.0,) * lead + (fy, fx), order=1, mode="nearest", grid_mode=True)


def cut_patches(frames: np.ndarray, layout: TileLayout, transform: Any) -> np.ndarray:
    """Model inputs ``(..., n_tiles, D)`` (float32) of luminance frames ``(..., H, W)``.

    Frames are resampled to ``layout.model_size``, passed through ``transform`` (a
    :class:`~neurofond.population.PresentationTransform`, called with ``keep_pad=True``)
    and cut at the tiles, in groups so that the memory for whole transformed canvases
    stays bounded (about 64 MB).

    Raises
    ------
    ValueError
        If a tile extends beyond the canvas plus the transform's pad.
    """
    frames = np.asarray(frames)
    pad, p = transform.pad, layout.patch_size
    h, w = layout.model_size
    if (layout.rows.min() + pad < 0 or layout.cols.min() + pad < 0
            or layout.rows.max() + p > h + pad or layout.cols.max() + p > w + pad):
        raise ValueError(f"positions: a tile extends beyond the canvas plus the transform's "
                         f"pad={pad} px; move it inwards or increase the pad")
    lead = frames.shape[:-2]
    flat = frames.reshape(-1, *frames.shape[-2:])
    out = np.empty((flat.shape[0], layout.n_tiles, p * p), dtype=np.float32)
    per_frame = 8 * ((h + 2 * pad) * (w + 2 * pad) + frames.shape[-2] * frames.shape[-1])
    group = max(1, _PATCH_GROUP_BYTES // per_frame)
    for g0 in range(0, flat.shape[0], group):
        img = transform(resample(flat[g0:g0 + group], layout.model_size), keep_pad=True)
        for i, (r, c) in enumerate(zip(layout.rows + pad, layout.cols + pad)):
            out[g0:g0 + group, i] = img[:, r:r + p, c:c + p].reshape(img.shape[0], p * p)
    return out.reshape(*lead, layout.n_tiles, p * p)
