"""A trained iterative VAE as a population of in-silico V1 neurons.

:class:`InSilicoPopulation` wraps a model and its preprocessing and presents
:class:`~neurofond.stimuli.Stimuli` to it the way an experimenter presents
them to an animal, returning spike counts as a ``Responses`` array
(:mod:`neurofond.responses`) that every analysis in :mod:`neurofond.analysis`
accepts.

Time in the model
-----------------
One inference iteration is one model time step, ``ms_per_step`` milliseconds
long (an explicit, user-visible parameter). Each trial

1. starts from the model's learned prior (``model.initial_state``);
2. runs ``blank_steps`` steps on a mean-gray input (the population settles at
   its spontaneous state; these bins have negative times);
3. shows the stimulus: frame ``k`` of a movie for ``steps_per_frame`` steps,
   then frame ``k + 1``, without resetting the state between frames (online
   inference: the posterior of one step is the prior of the next). A static
   image (one frame) is shown for ``stimulus_steps`` steps.

Responses have one time bin per recorded step (``bin_ms = ms_per_step``),
``time_start_ms = step * ms_per_step`` with 0 at stimulus onset, and a ``step``
coordinate. Trials differ only by the spike-sampling noise: one
:class:`torch.Generator` seeded with ``seed`` drives the whole presentation, so
the same seed (and the same ``batch_size``) gives identical spikes.

Space
-----
The model sees ``patch_size`` x ``patch_size`` pixel patches (16 x 16). With
``patch_size_deg`` set, frames are first resampled so that one model patch
covers ``patch_size_deg`` degrees (model pixels per degree =
``patch_size / patch_size_deg``); otherwise one model pixel is one stimulus
pixel. Frames then go through the :class:`~.transform.PresentationTransform`
(linear, contrast-preserving by default). The population has one hypercolumn
of ``K`` neurons per patch position ("tile"): one tile at the canvas centre by
default, a regular grid, or explicit positions in degrees. Neurons are
labelled with their tile centre in degrees (``x`` rightwards, ``y`` downwards
from the canvas centre, as in :mod:`neurofond.stimuli.geometry`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from ..fond.config import MODEL_NAMES
from ..fond.data import Preprocessing
from ..fond.model import IterativeVAE
from ..responses import make_responses
from ..stimuli import ScreenGeometry, Stimuli
from .transform import MODES, PresentationTransform

__all__ = ["DEFAULT_STATIC_STEPS", "InSilicoPopulation", "ParameterError", "TileLayout"]

#: Steps a static image is shown when neither ``steps_per_frame`` nor ``stimulus_steps`` is given.
DEFAULT_STATIC_STEPS = 50

_POSITION_MODES = ("center", "grid")


class ParameterError(ValueError, TypeError):
    """An unknown keyword argument (a ValueError and a TypeError)."""


def _reject_unknown(unknown: Mapping[str, Any], where: str, known: Iterable[str]) -> None:
    if unknown:
        name = sorted(unknown)[0]
        raise ParameterError(f"{name}: unknown parameter of {where}; expected one of "
                             f"{sorted(known)}")


def _int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def _positive(value: Any, name: str) -> float:
    if (isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating))
            or not math.isfinite(float(value)) or value <= 0):
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------- layout


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


def _grid_starts(length: int, patch: int, stride: int) -> np.ndarray:
    n = (length - patch) // stride + 1 if length >= patch else 1
    span = (n - 1) * stride + patch
    start = (length - span) // 2
    return start + stride * np.arange(n)


# --------------------------------------------------------------------------- population


class InSilicoPopulation:
    """A trained FOND model as a population of in-silico V1 neurons.

    Parameters
    ----------
    model : IterativeVAE
        The model (iP-VAE for spikes; Gaussian variants give activations).
    preprocessing : Preprocessing
        The preprocessing stored with its checkpoint.
    ms_per_step : float
        Milliseconds per inference step (> 0). Default 10.
    patch_size_deg : float, optional
        Visual degrees covered by one ``patch_size``-pixel model patch; frames
        are resampled so that the model sees ``patch_size / patch_size_deg``
        pixels per degree (area-averaging anti-alias filter, then bilinear
        interpolation). None: one model pixel per stimulus pixel.
    positions : "center", "grid" or sequence of (x_deg, y_deg)
        Tile positions: one tile at the canvas centre (default); a grid
        covering the canvas, centred, with ``stride_px`` (model pixels) or
        ``stride_deg``; or explicit tile centres in degrees (snapped to the
        model pixel grid; the labels report the snapped centres).
    stride_px : int, optional
        Grid stride in model pixels (default: ``patch_size``, no overlap).
    stride_deg : float, optional
        Grid stride in degrees (needs a stimulus geometry).
    transform : "linear", "training" or PresentationTransform
        How luminance becomes model input (see :mod:`.transform`). Default
        ``"linear"``: contrast-preserving, for physiology.
    name : str, optional
        Model name used in provenance (``source = "model:<name>"``).
    summary : dict, optional
        Checkpoint summary (training metrics) kept for provenance.
    device : str or torch.device
        Where to run inference.

    Raises
    ------
    ValueError
        Bad or unknown parameters (the message names the argument).

    Examples
    --------
    >>> pop = InSilicoPopulation.from_pretrained("ipvae-k512-b24-photos")  # doctest: +SKIP
    >>> from neurofond.stimuli import ScreenGeometry, grating_sweep
    >>> stim = grating_sweep(ScreenGeometry(16.0, 32), orientations=range(0, 180, 15))
    >>> resp = pop.present(stim, n_trials=10, blank_steps=20, steps_per_frame=50)  # doctest: +SKIP
    >>> resp.dims  # doctest: +SKIP
    ('trial', 'stimulus', 'neuron', 'time')
    """

    def __init__(self, model: IterativeVAE, preprocessing: Preprocessing, *,
                 ms_per_step: float = 10.0, patch_size_deg: float | None = None,
                 positions: str | Sequence[Sequence[float]] = "center",
                 stride_px: int | None = None, stride_deg: float | None = None,
                 transform: str | PresentationTransform = "linear", name: str | None = None,
                 summary: Mapping[str, Any] | None = None,
                 device: str | torch.device = "cpu", **unknown: Any) -> None:
        _reject_unknown(unknown, "InSilicoPopulation", (
            "ms_per_step", "patch_size_deg", "positions", "stride_px", "stride_deg",
            "transform", "name", "summary", "device"))
        if not isinstance(model, IterativeVAE):
            raise ValueError(f"model: expected an IterativeVAE, got {type(model)}")
        if not isinstance(preprocessing, Preprocessing):
            raise ValueError(f"preprocessing: expected a Preprocessing, got {type(preprocessing)}")
        if preprocessing.patch_size != model.config.patch_size:
            raise ValueError(f"preprocessing: patch_size {preprocessing.patch_size} does not match "
                             f"the model's {model.config.patch_size}")
        self.model = model.to(device)
        self.device = torch.device(device)
        self.preprocessing = preprocessing
        self.ms_per_step = _positive(ms_per_step, "ms_per_step")
        self.patch_size_deg = (None if patch_size_deg is None
                               else _positive(patch_size_deg, "patch_size_deg"))
        if stride_px is not None and stride_deg is not None:
            raise ValueError("stride_px: give stride_px or stride_deg, not both")
        self.stride_px = None if stride_px is None else _int(stride_px, "stride_px", 1)
        self.stride_deg = None if stride_deg is None else _positive(stride_deg, "stride_deg")
        self.positions = self._check_positions(positions)
        if (self.stride_px is not None or self.stride_deg is not None) and self.positions != "grid":
            raise ValueError("stride_px: a stride only applies to positions='grid'")
        if isinstance(transform, PresentationTransform):
            if transform.preprocessing != preprocessing:
                raise ValueError("transform: built for a different preprocessing than the model's")
            self.transform = transform
        elif isinstance(transform, str) and transform in MODES:
            self.transform = PresentationTransform(preprocessing, transform)
        else:
            raise ValueError(f"transform: expected one of {MODES} or a PresentationTransform, "
                             f"got {transform!r}")
        family = model.config.family
        self.name = name or f"{MODEL_NAMES[family]}-K{model.n_latents}"
        self.summary = dict(summary or {})

    @staticmethod
    def _check_positions(positions: Any) -> str | np.ndarray:
        if isinstance(positions, str):
            if positions not in _POSITION_MODES:
                raise ValueError(f"positions: expected one of {_POSITION_MODES} or a sequence of "
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

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_pretrained(cls, name: str | None = None, **kwargs: Any) -> InSilicoPopulation:
        """Population from a shipped model (:func:`neurofond.pretrained.load_pretrained`).

        ``name`` defaults to :data:`neurofond.pretrained.DEFAULT_MODEL`; other
        keyword arguments go to the constructor.
        """
        from ..pretrained import DEFAULT_MODEL, load_pretrained

        name = DEFAULT_MODEL if name is None else name
        device = kwargs.get("device", "cpu")
        model, preprocessing, summary = load_pretrained(name, device=str(device))
        kwargs.setdefault("name", name)
        kwargs.setdefault("summary", summary)
        return cls(model, preprocessing, **kwargs)

    @classmethod
    def from_checkpoint(cls, path: str | Path, **kwargs: Any) -> InSilicoPopulation:
        """Population from any saved checkpoint (``.safetensors``); name = file stem."""
        from ..fond.checkpoint import load_checkpoint

        path = Path(path)
        if not path.exists():
            raise ValueError(f"path: checkpoint {path} does not exist")
        device = kwargs.get("device", "cpu")
        model, preprocessing, summary = load_checkpoint(path, device=str(device))
        kwargs.setdefault("name", path.stem)
        kwargs.setdefault("summary", summary)
        return cls(model, preprocessing, **kwargs)

    # ------------------------------------------------------------------ properties
    @property
    def n_units(self) -> int:
        """Neurons per hypercolumn (the model's K)."""
        return int(self.model.n_latents)

    @property
    def patch_size(self) -> int:
        return int(self.model.config.patch_size)

    @property
    def model_pixels_per_degree(self) -> float | None:
        """``patch_size / patch_size_deg`` (None when ``patch_size_deg`` is not set)."""
        return None if self.patch_size_deg is None else self.patch_size / self.patch_size_deg

    def __repr__(self) -> str:
        return (f"InSilicoPopulation(name={self.name!r}, family={self.model.config.family!r}, "
                f"K={self.n_units}, ms_per_step={self.ms_per_step}, "
                f"patch_size_deg={self.patch_size_deg}, transform={self.transform.mode!r})")

    # ------------------------------------------------------------------ space
    def layout(self, stimuli: Stimuli | ScreenGeometry | tuple[int, int]) -> TileLayout:
        """Tile positions for a stimulus canvas.

        Parameters
        ----------
        stimuli : Stimuli, ScreenGeometry or (height, width)
            The canvas (a bare size has no geometry: positions in degrees are
            NaN, and ``patch_size_deg`` / degree positions cannot be used).

        Returns
        -------
        TileLayout

        Raises
        ------
        ValueError
            If degrees are needed but no geometry is known, or a position lies
            outside the canvas.
        """
        if isinstance(stimuli, Stimuli):
            geometry, size = stimuli.geometry, stimuli.size_px
        elif isinstance(stimuli, ScreenGeometry):
            geometry, size = stimuli, tuple(stimuli.size_px)
        else:
            geometry, size = None, tuple(int(v) for v in stimuli)
        h_s, w_s = int(size[0]), int(size[1])
        ppd = None if geometry is None else float(geometry.pixels_per_degree)
        p = self.patch_size
        if self.patch_size_deg is not None:
            if ppd is None:
                raise ValueError("stimuli: patch_size_deg needs stimuli with a geometry "
                                 "(pixels_per_degree)")
            factor = self.patch_size / self.patch_size_deg / ppd
            h, w = max(1, int(round(h_s * factor))), max(1, int(round(w_s * factor)))
        else:
            h, w = h_s, w_s
        model_ppd = None if ppd is None else (ppd * h / h_s, ppd * w / w_s)
        if isinstance(self.positions, str) and self.positions == "center":
            rows, cols = np.array([(h - p) // 2]), np.array([(w - p) // 2])
        elif isinstance(self.positions, str):
            if self.stride_deg is not None:
                if model_ppd is None:
                    raise ValueError("stride_deg: needs stimuli with a geometry; use stride_px")
                stride_y = max(1, int(round(self.stride_deg * model_ppd[0])))
                stride_x = max(1, int(round(self.stride_deg * model_ppd[1])))
            else:
                stride_y = stride_x = self.stride_px or p
            r, c = _grid_starts(h, p, stride_y), _grid_starts(w, p, stride_x)
            rr, cc = np.meshgrid(r, c, indexing="ij")
            rows, cols = rr.ravel(), cc.ravel()
        else:
            if model_ppd is None:
                raise ValueError("positions: positions in degrees need stimuli with a geometry")
            pos = self.positions
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

    def neuron_coords(self, stimuli: Stimuli | ScreenGeometry | tuple[int, int]
                      ) -> dict[str, np.ndarray]:
        """``neuron`` coordinates for a canvas: ``neuron_id``, ``unit``, ``position``, positions.

        Neuron ``position * K + unit`` is dictionary element ``unit`` at tile
        ``position``.
        """
        lay = self.layout(stimuli)
        k = self.n_units
        tile = np.repeat(np.arange(lay.n_tiles), k)
        return {
            "neuron_id": np.arange(lay.n_tiles * k),
            "unit": np.tile(np.arange(k), lay.n_tiles),
            "position": tile,
            "x_deg": lay.x_deg[tile],
            "y_deg": lay.y_deg[tile],
            "x_px": lay.x_px[tile],
            "y_px": lay.y_px[tile],
        }

    def model_frames(self, frames: np.ndarray, layout: TileLayout) -> np.ndarray:
        """Resample luminance frames ``(..., H, W)`` to the model's resolution."""
        return _resample(frames, layout.model_size)

    def patches(self, frames: np.ndarray, layout: TileLayout) -> np.ndarray:
        """Model inputs ``(..., n_tiles, D)`` (float32) of luminance frames ``(..., H, W)``.

        Frames are resampled, transformed and cut in groups, so the memory
        for whole transformed canvases stays bounded (about 64 MB).
        """
        frames = np.asarray(frames)
        pad, p = self.transform.pad, self.patch_size
        h, w = layout.model_size
        if (layout.rows.min() + pad < 0 or layout.cols.min() + pad < 0
                or layout.rows.max() + p > h + pad or layout.cols.max() + p > w + pad):
            raise ValueError(f"positions: a tile extends beyond the canvas plus the transform's "
                             f"pad={pad} px; move it inwards or increase the pad")
        lead = frames.shape[:-2]
        flat = frames.reshape(-1, *frames.shape[-2:])
        out = np.empty((flat.shape[0], layout.n_tiles, p * p), dtype=np.float32)
        per_frame = 8 * ((h + 2 * pad) * (w + 2 * pad) + frames.shape[-2] * frames.shape[-1])
        group = max(1, (64 << 20) // per_frame)
        for g0 in range(0, flat.shape[0], group):
            img = self.transform(self.model_frames(flat[g0:g0 + group], layout), keep_pad=True)
            for i, (r, c) in enumerate(zip(layout.rows + pad, layout.cols + pad)):
                out[g0:g0 + group, i] = img[:, r:r + p, c:c + p].reshape(img.shape[0], p * p)
        return out.reshape(*lead, layout.n_tiles, p * p)

    # ------------------------------------------------------------------ presentation
    def present(self, stimuli: Stimuli | np.ndarray, *, n_trials: int = 10,
                blank_steps: int = 20, steps_per_frame: int | None = None,
                stimulus_steps: int | None = None, seed: int | None = 0,
                batch_size: int = 1024, return_rates: bool = False, progress: bool = True,
                record_steps: Iterable[int] | None = None,
                **unknown: Any) -> xr.DataArray | xr.Dataset:
        """Present stimuli and record spike counts, one time bin per model step.

        Parameters
        ----------
        stimuli : Stimuli or ndarray
            Stimuli (frames ``(n_stimuli, n_frames, H, W)``, luminance in
            [0, 1]); a bare array ``(n, n_frames, H, W)``, ``(n, H, W)``
            (static images) or ``(H, W)`` is accepted (no geometry, no params).
        n_trials : int
            Repeats of every stimulus (>= 1); they differ only by sampling noise.
        blank_steps : int
            Mean-gray steps before stimulus onset (>= 0), recorded with
            negative times. Default 20 (200 ms at 10 ms/step).
        steps_per_frame : int, optional
            Steps each movie frame is shown. Default: derived from
            ``stimuli.frame_rate_hz`` and ``ms_per_step`` for movies (1 when a
            movie has no frame rate); ``DEFAULT_STATIC_STEPS`` (50) for static
            images.
        stimulus_steps : int, optional
            Steps from onset (default ``steps_per_frame * n_frames``). Static
            images: any number >= 1; movies: at most ``steps_per_frame *
            n_frames`` (shorter truncates the movie).
        seed : int or None
            Seed of the spike sampler (>= 0). Same seed and ``batch_size`` ->
            identical spikes. None draws a fresh seed (recorded in attrs).
        batch_size : int
            Rows (stimulus x trial x tile) simulated together; bounds memory.
        return_rates : bool
            Also return the rates: an :class:`xarray.Dataset` with ``spikes``
            and ``rates`` (see Notes).
        progress : bool
            Show a tqdm progress bar over presentations.
        record_steps : iterable of int, optional
            Steps to record, in the ``step`` coordinate (negative = blank);
            default all. Only recorded steps are stored.

        Returns
        -------
        xarray.DataArray or xarray.Dataset
            ``Responses`` with dims ``(trial, stimulus, neuron, time)``:
            ``stimulus`` coords from ``stimuli.params`` (plus ``stimulus_id``);
            ``neuron`` coords ``neuron_id``, ``unit`` (dictionary index),
            ``position`` (tile), ``x_deg``, ``y_deg`` (tile centre), ``x_px``,
            ``y_px``; ``time`` coords ``step``, ``time_start_ms``,
            ``time_end_ms``; provenance in attrs. Counts are uint8 (uint16 or
            float32 if a count exceeds 255 / 65535) for iP-VAE, float32
            activations for Gaussian models.

        Raises
        ------
        ValueError
            Bad stimuli (shape, non-finite values), ``n_trials < 1``, unknown
            parameters, or ``ms_per_step`` inconsistent with
            ``stimuli.frame_rate_hz`` and ``steps_per_frame`` (the message names
            the argument).

        Notes
        -----
        Rows are ordered (stimulus, trial, tile), tile fastest, and simulated in
        chunks of ``batch_size`` rows with one shared generator, so spikes
        depend on ``seed`` and ``batch_size``. Rates: for iP-VAE ``exp(u)``,
        the expected spike count of the step (the posterior rate from which
        the spikes are sampled). Gaussian models (iG-VAE, iGrelu-VAE) have no
        spikes: ``spikes`` holds the sampled activation ``a(z)`` and ``rates``
        the posterior-mean activation ``E[a(z)]`` (``mu`` for iG-VAE;
        ``gain (mu Phi(mu / sigma) + sigma phi(mu / sigma))`` for iGrelu-VAE).

        Memory: the result (``n_trials x n_stimuli x n_neurons x n_recorded``
        counts, 1 byte each unless a count exceeds 255) plus one chunk of
        ``batch_size`` rows; 10^4 presentations x 512 neurons x 50 steps is
        256 MB. Speed: on a shared, loaded CPU set ``OMP_WAIT_POLICY=PASSIVE``
        before importing torch (its spinning OpenMP threads otherwise slow the
        small per-step operations many-fold) or use ``torch.set_num_threads(1)``.
        """
        _reject_unknown(unknown, "present", (
            "n_trials", "blank_steps", "steps_per_frame", "stimulus_steps", "seed",
            "batch_size", "return_rates", "progress", "record_steps"))
        stim = _as_stimuli(stimuli)
        n_trials = _int(n_trials, "n_trials", 1)
        blank_steps = _int(blank_steps, "blank_steps", 0)
        batch_size = _int(batch_size, "batch_size", 1)
        spf, n_steps = self._timing(stim, steps_per_frame, stimulus_steps)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**63))
        seed = _int(seed, "seed", 0)
        all_steps = np.arange(-blank_steps, n_steps)
        if record_steps is None:
            rec_steps = all_steps
        else:
            try:
                rec_steps = np.unique(np.asarray(list(record_steps), dtype=np.int64))
            except (TypeError, ValueError):
                raise ValueError(f"record_steps: expected integer steps, got {record_steps!r}"
                                 ) from None
            if rec_steps.size == 0 or rec_steps[0] < -blank_steps or rec_steps[-1] >= n_steps:
                raise ValueError(f"record_steps: expected steps in [{-blank_steps}, {n_steps - 1}]"
                                 f", got {record_steps!r}")
        record_slot = np.full(all_steps.size, -1)
        record_slot[rec_steps + blank_steps] = np.arange(rec_steps.size)

        layout = self.layout(stim)
        n_stim, k, n_tiles, n_rec = len(stim), self.n_units, layout.n_tiles, rec_steps.size
        poisson = self.model.is_poisson
        dtype = np.uint8 if poisson else np.float32
        spikes = np.zeros((n_trials, n_stim, n_tiles * k, n_rec), dtype=dtype)
        rates = (np.zeros((n_trials, n_stim, n_tiles * k, n_rec), dtype=np.float32)
                 if return_rates else None)

        gen = torch.Generator(device=self.device).manual_seed(seed)
        rows_per_stim = n_trials * n_tiles
        stim_chunk = max(1, batch_size // rows_per_stim)
        blank_x = torch.full((1, self.patch_size**2), self.transform.blank_value(),
                             dtype=torch.float32, device=self.device)
        bar = _progress(n_stim * n_trials * n_tiles, progress, self.name)
        try:
            for s0 in range(0, n_stim, stim_chunk):
                s1 = min(n_stim, s0 + stim_chunk)
                x_all = self.patches(stim.frames[s0:s1], layout)  # (S, F, P, D)
                si, ti, pi = (a.ravel() for a in np.meshgrid(
                    np.arange(s1 - s0), np.arange(n_trials), np.arange(n_tiles), indexing="ij"))
                for r0 in range(0, si.size, batch_size):
                    sl = slice(r0, r0 + batch_size)
                    counts, rate_buf = self._run_rows(x_all, si[sl], pi[sl], blank_x,
                                                      blank_steps, n_steps, spf, record_slot,
                                                      n_rec, gen, return_rates, spikes.dtype)
                    if counts.dtype != spikes.dtype:
                        spikes = spikes.astype(counts.dtype)
                    view = spikes.reshape(n_trials, n_stim, n_tiles, k, n_rec)
                    view[ti[sl], si[sl] + s0, pi[sl]] = counts
                    if rates is not None:
                        rates.reshape(n_trials, n_stim, n_tiles, k, n_rec)[
                            ti[sl], si[sl] + s0, pi[sl]] = rate_buf
                    bar.update(counts.shape[0])
        finally:
            bar.close()

        attrs = self._provenance(stim, layout, n_trials=n_trials, blank_steps=blank_steps,
                                 steps_per_frame=spf, stimulus_steps=n_steps, seed=seed,
                                 batch_size=batch_size)
        neuron_coords = self.neuron_coords(stim)
        responses = _build_responses(spikes, poisson, bin_ms=self.ms_per_step,
                                     stimulus_coords=stim.coords(), neuron_coords=neuron_coords,
                                     time_start_ms=rec_steps * self.ms_per_step,
                                     source=f"model:{self.name}", attrs=attrs)
        responses = responses.assign_coords(step=("time", rec_steps))
        if rates is None:
            return responses
        rate_da = responses.copy(data=rates)
        rate_da.name = "rates"
        rate_da.attrs["units"] = ("expected spikes per bin (exp(u))" if poisson
                                  else "posterior-mean activation (a.u.)")
        ds = xr.Dataset({"spikes": responses, "rates": rate_da}, attrs=dict(responses.attrs))
        return ds

    def present_protocol(self, protocol: Any, **overrides: Any) -> xr.DataArray | xr.Dataset:
        """Present a loaded :class:`~neurofond.stimuli.Protocol` with its presentation settings.

        ``overrides`` replace protocol settings (any :meth:`present` argument).
        The protocol's ``ms_per_step`` must equal this population's.
        """
        stim = getattr(protocol, "stimuli", None)
        if stim is None:
            raise ValueError("protocol: expected a rendered Protocol (load_protocol(render=True))")
        pres = dict(protocol.presentation)
        if not math.isclose(float(pres["ms_per_step"]), self.ms_per_step, rel_tol=1e-9):
            raise ValueError(f"ms_per_step: the protocol uses {pres['ms_per_step']:g} ms per step, "
                             f"this population {self.ms_per_step:g}; build the population with "
                             f"ms_per_step={pres['ms_per_step']:g}")
        kwargs: dict[str, Any] = {"n_trials": pres["n_trials"], "blank_steps": pres["blank_steps"],
                                  "steps_per_frame": pres["steps_per_frame"]}
        if pres.get("seed") is not None:
            kwargs["seed"] = pres["seed"]
        kwargs.update(overrides)
        out = self.present(stim, **kwargs)
        out.attrs["protocol"] = str(protocol.name)
        window = pres.get("response_window_ms")
        out.attrs["response_window_ms"] = "" if window is None else json.dumps(list(window))
        return out

    # ------------------------------------------------------------------ internals
    def _timing(self, stim: Stimuli, steps_per_frame: Any, stimulus_steps: Any) -> tuple[int, int]:
        n_frames = stim.n_frames
        rate = stim.frame_rate_hz if n_frames > 1 else None
        if steps_per_frame is None:
            if rate is not None:
                exact = 1000.0 / (rate * self.ms_per_step)
                spf = int(round(exact))
                if spf < 1 or not math.isclose(exact, spf, rel_tol=1e-6):
                    raise ValueError(
                        f"ms_per_step: a frame at {rate:g} Hz lasts {1000.0 / rate:g} ms, not a "
                        f"whole number of {self.ms_per_step:g} ms model steps; choose ms_per_step "
                        f"= (1000 / frame_rate_hz) / steps_per_frame")
            else:
                spf = 1 if n_frames > 1 else DEFAULT_STATIC_STEPS
        else:
            spf = _int(steps_per_frame, "steps_per_frame", 1)
            if rate is not None and not math.isclose(1000.0 / (spf * self.ms_per_step), rate,
                                                     rel_tol=1e-6):
                raise ValueError(
                    f"ms_per_step: steps_per_frame * ms_per_step = {spf} * {self.ms_per_step:g} ms "
                    f"does not match the frame period 1000 / frame_rate_hz = {1000.0 / rate:g} ms "
                    f"of the stimuli; use ms_per_step={1000.0 / (rate * spf):g} or "
                    f"steps_per_frame={1000.0 / (rate * self.ms_per_step):g}")
        if stimulus_steps is None:
            n_steps = spf * n_frames
        else:
            n_steps = _int(stimulus_steps, "stimulus_steps", 1)
            if n_frames > 1 and n_steps > spf * n_frames:
                raise ValueError(f"stimulus_steps: a movie of {n_frames} frames x {spf} steps "
                                 f"lasts {spf * n_frames} steps; got {n_steps}")
        return spf, n_steps

    @torch.inference_mode()
    def _run_rows(self, x_all: np.ndarray, si: np.ndarray, pi: np.ndarray, blank_x: torch.Tensor,
                  blank_steps: int, n_steps: int, spf: int, record_slot: np.ndarray, n_rec: int,
                  gen: torch.Generator, return_rates: bool, dtype: np.dtype
                  ) -> tuple[np.ndarray, np.ndarray | None]:
        """Simulate one chunk of rows; returns counts (B, K, n_rec) and rates or None."""
        model, b, k = self.model, si.size, self.n_units
        n_frames = x_all.shape[1]
        counts = np.zeros((n_rec, b, k), dtype=dtype)
        rate_buf = np.zeros((n_rec, b, k), dtype=np.float32) if return_rates else None
        limit = np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else None
        state = model.initial_state(b, generator=gen)
        residual = None
        current = None  # which input is on: "blank" or a frame index
        x = blank_x.expand(b, -1)
        for step in range(-blank_steps, n_steps):
            want = "blank" if step < 0 else min(step // spf, n_frames - 1)
            if want != current:
                current = want
                if want == "blank":
                    x = blank_x.expand(b, -1)
                else:
                    x = torch.from_numpy(x_all[si, want, pi]).to(self.device)
                residual = None  # the input changed: x - Phi z must be recomputed
            state, residual = model.step(state, x, generator=gen, residual=residual)
            slot = record_slot[step + blank_steps]
            if slot < 0:
                continue
            resp = state.response
            if limit is not None:
                top = float(resp.max())
                if top > limit:
                    dtype = np.uint16 if top <= np.iinfo(np.uint16).max else np.float32
                    counts = counts.astype(dtype)
                    limit = np.iinfo(dtype).max if dtype == np.uint16 else None
            counts[slot] = resp.cpu().numpy()
            if rate_buf is not None:
                rate_buf[slot] = self._rates(state).cpu().numpy()
        out_rates = None if rate_buf is None else rate_buf.transpose(1, 2, 0)
        return counts.transpose(1, 2, 0), out_rates

    def _rates(self, state: Any) -> torch.Tensor:
        model = self.model
        if model.is_poisson:
            return torch.exp(state.u)
        if model.config.family == "gaussian":
            return state.u
        sigma = torch.exp(state.xi)
        ratio = state.u / sigma
        normal_pdf = torch.exp(-0.5 * ratio * ratio) / math.sqrt(2 * math.pi)
        mean_relu = state.u * torch.special.ndtr(ratio) + sigma * normal_pdf
        return mean_relu * torch.exp(model.log_gain)

    def _provenance(self, stim: Stimuli, layout: TileLayout, **settings: Any) -> dict[str, Any]:
        cfg = self.model.config
        geometry = stim.geometry
        attrs: dict[str, Any] = {
            "model_name": self.name,
            "model_family": MODEL_NAMES[cfg.family],
            "model_config": json.dumps(cfg.to_dict(), sort_keys=True),
            "preprocessing": json.dumps(self.preprocessing.to_dict(), sort_keys=True),
            "ms_per_step": self.ms_per_step,
            "transform": self.transform.mode,
            "transform_settings": json.dumps(self.transform.to_dict(), sort_keys=True),
            "patch_size": self.patch_size,
            "patch_size_deg": "" if self.patch_size_deg is None else self.patch_size_deg,
            "model_pixels_per_degree": ("" if layout.model_ppd is None
                                        else float(layout.model_ppd[1])),
            "stimulus_pixels_per_degree": ("" if geometry is None
                                           else float(geometry.pixels_per_degree)),
            "positions": (self.positions if isinstance(self.positions, str) else "explicit"),
            "n_positions": layout.n_tiles,
            "frame_rate_hz": "" if stim.frame_rate_hz is None else float(stim.frame_rate_hz),
            "n_frames": stim.n_frames,
            # hard-spike backend (same seed + same backend -> same spikes)
            "spike_sampler": self.model.spike_sampler() or "",
        }
        for key, value in settings.items():
            attrs[key] = value
        if self.summary:
            attrs["model_summary"] = json.dumps(self.summary, sort_keys=True, default=str)
        return attrs


# --------------------------------------------------------------------------- helpers


def _as_stimuli(stimuli: Any) -> Stimuli:
    if isinstance(stimuli, Stimuli):
        frames = stimuli.frames
        if not isinstance(frames, np.ndarray) or frames.ndim != 4 or min(frames.shape) < 1:
            raise ValueError(f"stimuli: expected frames of shape (n_stimuli, n_frames, H, W), "
                             f"got {getattr(frames, 'shape', None)}")
        for start in range(0, frames.shape[0], 256):
            if not np.isfinite(frames[start:start + 256]).all():
                raise ValueError("stimuli: frames contain NaN or infinite values")
        return stimuli
    if isinstance(stimuli, (np.ndarray, list, tuple)):
        arr = np.asarray(stimuli)
        if arr.ndim == 2:
            arr = arr[None, None]
        elif arr.ndim == 3:
            arr = arr[:, None]
        if arr.ndim != 4:
            raise ValueError(f"stimuli: expected frames (n, n_frames, H, W), (n, H, W) or (H, W), "
                             f"got shape {arr.shape}")
        try:
            return Stimuli(frames=arr)
        except ValueError as exc:
            raise ValueError(f"stimuli: {exc}") from None
    raise ValueError(f"stimuli: expected a Stimuli or an array of frames, got {type(stimuli)}")


def _resample(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample ``(..., H, W)`` to ``(..., h, w)``: Gaussian anti-alias, then bilinear."""
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


def _progress(total: int, enabled: bool, name: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=f"present {name}", unit="row",
                leave=False)


def _build_responses(spikes: np.ndarray, poisson: bool, **kwargs: Any) -> xr.DataArray:
    if poisson:
        return make_responses(spikes, **kwargs)
    # Gaussian activations may be negative: build the labelled frame on a zero
    # placeholder (same coords and attrs) and swap the data in.
    placeholder = np.broadcast_to(np.uint8(0), spikes.shape)
    da = make_responses(placeholder, **kwargs)
    out = da.copy(data=spikes)
    out.attrs["units"] = "activation per step (a.u.; Gaussian model, not spikes)"
    return out
