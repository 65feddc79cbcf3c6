"""A trained iterative VAE as a population of in-silico V1 neurons.

:class:`InSilicoPopulation` wraps a model and its preprocessing and presents
:class:`~neurofond.stimuli.Stimuli` to it the way an experimenter presents
them to an animal, returning spike counts as a ``Responses`` array
(:mod:`neurofond.responses`) that every analysis in :mod:`neurofond.analysis`
accepts.

The concerns of a presentation live in their own modules:

- time (:mod:`.timing`): one inference iteration is one model step of
  ``ms_per_step`` ms; a trial starts from the learned prior, runs
  ``blank_steps`` mean-gray steps (negative times), then shows the stimulus
  frames without resetting the state (online inference);
- space (:mod:`.tiling`): resampling to ``patch_size_deg`` and the tiles
  (one hypercolumn of ``K`` neurons per patch position);
- per-family outputs (:mod:`.readout`): spike counts for iP-VAE, activations
  with their units and sign convention for the Gaussian variants, and the
  posterior-mean rates of :meth:`~neurofond.fond.model.IterativeVAE.mean_response`.

This module holds the population and its loop. Responses have one time bin per
recorded step (``bin_ms = ms_per_step``), the bin start in ms as the ``time``
index (0 at stimulus onset) and a ``step`` coordinate. Trials differ only by the
spike-sampling noise: one :class:`torch.Generator` seeded with ``seed`` drives
the whole presentation, so the same seed (and the same ``batch_size``) gives
identical spikes.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from .._checks import check_int, check_positive, check_seed, check_torch_generator
from ..fond.config import MODEL_NAMES
from ..fond.data import Preprocessing
from ..fond.model import IterativeVAE
from ..stimuli import ScreenGeometry, Stimuli
from .readout import build_responses, rates_dataset, record_dtype, widen_dtype
from .tiling import (
    TileLayout,
    check_positions,
    cut_patches,
    resample,
    tile_layout,
    tile_neuron_coords,
)
from .timing import BLANK, DEFAULT_STATIC_STEPS, TrialSchedule, trial_schedule
from .transform import MODES, PresentationTransform

__all__ = ["CLAMP_MARGIN", "DEFAULT_STATIC_STEPS", "InSilicoPopulation", "MAX_RESULT_GB",
           "PRESENT_ENGINES",
           "ParameterError", "SETTLING_RTOL", "SpontaneousStateWarning", "TileLayout"]

#: Default ceiling (GB, 10^9 bytes) on the arrays :meth:`InSilicoPopulation.present` returns;
#: larger requests are refused before anything is allocated (``max_result_gb`` raises it).
MAX_RESULT_GB = 4.0
#: How :meth:`InSilicoPopulation.present` steps an iP-VAE (its ``engine`` argument).
PRESENT_ENGINES = ("step", "fast")

#: An iP-VAE neuron is *at the clamp* in a step when its membrane potential ``u`` is within
#: ``ln 2`` of the soft-clamp level ``c`` (``IterativeVAE.clamp_c``): ``u = c - softplus(c - v)``
#: is ``>= c - ln 2`` exactly when the unclamped update ``v`` reached ``c``
#: (:func:`neurofond.fond.model.soft_upper_clamp`). Its rate is then ``>= exp(c) / 2`` spikes
#: per step (~11,000 for ``c = 10``): saturation, not a response.
CLAMP_MARGIN = math.log(2.0)


#: Relative tolerance of the spontaneous steady state
#: (:meth:`InSilicoPopulation.spontaneous_settling`): settled once the population's mean
#: expected response stays within 5 % (plus the sampling noise) of its steady value.
SETTLING_RTOL = 0.05


class ParameterError(ValueError, TypeError):
    """An unknown keyword argument (a ValueError and a TypeError)."""


class SpontaneousStateWarning(UserWarning):
    """:meth:`InSilicoPopulation.present`: the blank before onset is shorter than the
    spontaneous state needs to settle, so the baseline still drifts at stimulus onset."""


def _reject_unknown(unknown: Mapping[str, Any], where: str, known: Iterable[str]) -> None:
    if unknown:
        name = sorted(unknown)[0]
        raise ParameterError(f"{name}: unknown parameter of {where}; expected one of "
                             f"{sorted(known)}")


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
        self.ms_per_step = check_positive(ms_per_step, "ms_per_step")
        self.patch_size_deg = (None if patch_size_deg is None
                               else check_positive(patch_size_deg, "patch_size_deg"))
        if stride_px is not None and stride_deg is not None:
            raise ValueError("stride_px: give stride_px or stride_deg, not both")
        self.stride_px = None if stride_px is None else check_int(stride_px, "stride_px", minimum=1)
        self.stride_deg = None if stride_deg is None else check_positive(stride_deg, "stride_deg")
        self.positions = check_positions(positions)
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
        population = cls(model, preprocessing, **kwargs)
        population._shipped = True  # present() checks its blank against the settling time
        return population

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
        """Tile positions for a stimulus canvas (:func:`.tiling.tile_layout`).

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
        return tile_layout(stimuli, patch_size=self.patch_size,
                           patch_size_deg=self.patch_size_deg, positions=self.positions,
                           stride_px=self.stride_px, stride_deg=self.stride_deg)

    def neuron_coords(self, stimuli: Stimuli | ScreenGeometry | tuple[int, int]
                      ) -> dict[str, np.ndarray]:
        """``neuron`` coordinates for a canvas: ``neuron_id``, ``unit``, ``position``, positions.

        Neuron ``position * K + unit`` is dictionary element ``unit`` at tile
        ``position``.
        """
        return tile_neuron_coords(self.layout(stimuli), self.n_units)

    def model_frames(self, frames: np.ndarray, layout: TileLayout) -> np.ndarray:
        """Resample luminance frames ``(..., H, W)`` to the model's resolution."""
        return resample(frames, layout.model_size)

    def patches(self, frames: np.ndarray, layout: TileLayout) -> np.ndarray:
        """Model inputs ``(..., n_tiles, D)`` (float32) of luminance frames ``(..., H, W)``.

        Frames are resampled, transformed and cut in groups, so the memory
        for whole transformed canvases stays bounded (about 64 MB).
        """
        return cut_patches(frames, layout, self.transform)

    # ------------------------------------------------------------------ presentation
    def present(self, stimuli: Stimuli | np.ndarray, *, n_trials: int = 10,
                blank_steps: int = 20, steps_per_frame: int | None = None,
                stimulus_steps: int | None = None, seed: int | None = 0,
                batch_size: int = 1024, return_rates: bool = False, progress: bool = True,
                record_steps: Iterable[int] | None = None,
                max_result_gb: float = MAX_RESULT_GB,
                check_steady_state: bool | None = None, engine: str = "step",
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
            negative times. Default 20 (200 ms at 10 ms/step), shorter than the
            shipped models need for their spontaneous state to settle
            (:meth:`spontaneous_settling`; see ``check_steady_state``).
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
            default all. Only recorded steps are stored. Non-integer steps are
            refused (never truncated).
        max_result_gb : float
            Refuse (before allocating) a result larger than this many GB
            (10^9 bytes): ``n_trials x n_stimuli x n_neurons x n_recorded``
            counts at 1 byte each (4 for Gaussian models), plus 4 bytes each
            for ``return_rates``. Default :data:`MAX_RESULT_GB` (4 GB).
        check_steady_state : bool, optional
            Compare ``blank_steps`` with the steps the spontaneous state needs to settle
            (:meth:`spontaneous_settling`, measured once per population and cached) and
            warn (:class:`SpontaneousStateWarning`) when the blank is shorter. None
            (default): check shipped models (:meth:`from_pretrained`) and populations whose
            settling was already measured; True: measure it if needed; False: no check.
        engine : {"step", "fast"}
            How an iP-VAE steps. ``"step"`` (default): :meth:`IterativeVAE.step`, the
            numbers of every result computed so far. ``"fast"``: sparse products and the
            fused update + spikes of :class:`neurofond.fond.sparse.ExactInference` (the same
            seed draws and uniforms; potentials equal to float32 rounding, so a count can
            differ where a uniform falls within that rounding of a CDF boundary: equal in
            distribution, not bit for bit); faster where the population is sparse
            (``benchmarks/bench_population.py``). Gaussian models step the same either way.
            Recorded in attrs ``engine``.

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
            activations for Gaussian models. For iP-VAE, attrs
            ``clamp_fraction_steps`` (fraction of the simulated neuron-steps,
            blank included, at the soft clamp, see :data:`CLAMP_MARGIN`) and
            ``clamp_fraction_neurons`` (fraction of neurons at the clamp in at
            least one step of one presentation) and ``clamp_fraction_stimuli``
            (fraction of stimuli that drove a neuron there); ``""`` for Gaussian models.
            attrs ``spontaneous_settling_steps``: the steps the spontaneous state needs
            to settle (-1: not within the measured range), ``""`` when not checked.

        Raises
        ------
        ValueError
            Bad stimuli (shape, non-finite values, luminance outside [0, 1], a
            :class:`~neurofond.stimuli.Stimuli` changed after it was built:
            :meth:`~neurofond.stimuli.Stimuli.validate`), ``n_trials < 1``,
            non-integer ``record_steps``, a result above ``max_result_gb``,
            unknown parameters, or ``ms_per_step`` inconsistent with
            ``stimuli.frame_rate_hz`` and ``steps_per_frame`` (the message names
            the argument).

        Warns
        -----
        UserWarning
            iP-VAE neurons reached the soft clamp of the membrane potential
            (``u >= c - ln 2``): the population ran away. The message gives the
            fraction of neuron-steps, of neurons and of stimuli (naming the first
            stimuli and their parameters), and what to do (lower the contrast; keep the
            default ``"training_range"`` calibration of the presentation
            transform). Responses at the clamp are saturation, not tuning.
        SpontaneousStateWarning
            ``blank_steps`` is shorter than the steps the spontaneous state needs to settle
            (see ``check_steady_state``): the baseline still drifts at onset, which biases
            baseline-referenced measures such as latency criteria.

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
        256 MB. Larger results than ``max_result_gb`` are refused up front
        (record fewer steps with ``record_steps``, or present in parts).
        Speed: on a shared, loaded CPU set ``OMP_WAIT_POLICY=PASSIVE``
        before importing torch (its spinning OpenMP threads otherwise slow the
        small per-step operations many-fold) or use ``torch.set_num_threads(1)``.
        """
        _reject_unknown(unknown, "present", (
            "n_trials", "blank_steps", "steps_per_frame", "stimulus_steps", "seed",
            "batch_size", "return_rates", "progress", "record_steps", "max_result_gb",
            "check_steady_state", "engine"))
        if engine not in PRESENT_ENGINES:
            raise ValueError(f"engine: expected one of {PRESENT_ENGINES}, got {engine!r}")
        stim = _as_stimuli(stimuli)
        n_trials = check_int(n_trials, "n_trials", minimum=1)
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        schedule = trial_schedule(stim.n_frames, stim.frame_rate_hz, self.ms_per_step,
                                  blank_steps=blank_steps, steps_per_frame=steps_per_frame,
                                  stimulus_steps=stimulus_steps, record_steps=record_steps)
        seed = check_seed(seed)
        if seed is None:  # a fresh seed, recorded in attrs so the run can be repeated
            seed = int(np.random.SeedSequence().entropy % (2**63))
        gen = check_torch_generator(seed, self.device)

        max_result_gb = check_positive(max_result_gb, "max_result_gb")
        settling = self._check_blank(schedule.blank_steps, check_steady_state)
        layout = self.layout(stim)
        n_stim, k, n_tiles, n_rec = len(stim), self.n_units, layout.n_tiles, schedule.n_recorded
        _check_result_size(n_trials, n_stim, n_tiles * k, n_rec,
                           np.dtype(record_dtype(self.model)).itemsize, return_rates,
                           max_result_gb)
        spikes = np.zeros((n_trials, n_stim, n_tiles * k, n_rec), dtype=record_dtype(self.model))
        rates = (np.zeros((n_trials, n_stim, n_tiles * k, n_rec), dtype=np.float32)
                 if return_rates else None)

        rows_per_stim = n_trials * n_tiles
        stim_chunk = max(1, batch_size // rows_per_stim)
        blank_x = torch.full((1, self.patch_size**2), self.transform.blank_value(),
                             dtype=torch.float32, device=self.device)
        clamp = _ClampCount(n_tiles * k, n_stim) if self.model.is_poisson else None
        exact = None
        if engine == "fast" and self.model.is_poisson:
            from ..fond.sparse import ExactInference

            exact = ExactInference(self.model)
        bar = _progress(n_stim * n_trials * n_tiles, progress, self.name)
        try:
            for s0 in range(0, n_stim, stim_chunk):
                s1 = min(n_stim, s0 + stim_chunk)
                x_all = self.patches(stim.frames[s0:s1], layout)  # (S, F, P, D)
                si, ti, pi = (a.ravel() for a in np.meshgrid(
                    np.arange(s1 - s0), np.arange(n_trials), np.arange(n_tiles), indexing="ij"))
                for r0 in range(0, si.size, batch_size):
                    sl = slice(r0, r0 + batch_size)
                    counts, rate_buf, hits = self._run_rows(x_all, si[sl], pi[sl], blank_x,
                                                            schedule, gen, return_rates,
                                                            spikes.dtype, exact)
                    if clamp is not None and hits is not None:
                        clamp.add(hits, pi[sl], k, si[sl] + s0)
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

        attrs = self._provenance(stim, layout, n_trials=n_trials,
                                 blank_steps=schedule.blank_steps,
                                 steps_per_frame=schedule.steps_per_frame,
                                 stimulus_steps=schedule.stimulus_steps, seed=seed,
                                 batch_size=batch_size, engine=engine)
        n_steps = n_trials * n_stim * n_tiles * k * (schedule.blank_steps
                                                     + schedule.stimulus_steps)
        attrs["clamp_fraction_steps"] = "" if clamp is None else clamp.fraction_steps(n_steps)
        attrs["clamp_fraction_neurons"] = "" if clamp is None else clamp.fraction_neurons()
        attrs["clamp_fraction_stimuli"] = "" if clamp is None else float(clamp.stimuli.mean())
        attrs["spontaneous_settling_steps"] = "" if settling is None else settling
        if clamp is not None and clamp.hits:
            _warn_clamp(clamp, n_steps, float(self.model.clamp_c), self.transform, stim)
        responses = build_responses(spikes, self.model, bin_ms=self.ms_per_step,
                                    stimulus_coords=stim.coords(),
                                    neuron_coords=tile_neuron_coords(layout, k),
                                    time_start_ms=schedule.time_start_ms(self.ms_per_step),
                                    source=f"model:{self.name}", attrs=attrs)
        responses = responses.assign_coords(step=("time", schedule.record))
        if rates is None:
            return responses
        return rates_dataset(responses, rates, self.model)

    # ------------------------------------------------------------------ spontaneous state
    def spontaneous_settling(self, *, max_steps: int = 1000, n_rows: int = 16,
                             rtol: float = SETTLING_RTOL, seed: int = 0) -> xr.Dataset:
        """How many blank steps the spontaneous state needs to settle.

        Runs ``n_rows`` trials of ``max_steps`` mean-gray (blank) steps from the learned
        prior, as :meth:`present` does before onset, and records the population's mean
        expected response (:meth:`~neurofond.fond.model.IterativeVAE.mean_response`:
        expected spikes per step for iP-VAE, mean activation for the Gaussian variants)
        after each step. The result is cached per population and arguments.

        Parameters
        ----------
        max_steps : int
            Blank steps simulated (>= 20).
        n_rows : int
            Independent trials averaged (>= 1).
        rtol : float
            Relative tolerance of the steady state (> 0), default :data:`SETTLING_RTOL`.
        seed : int
            Seed of the spike sampler.

        Returns
        -------
        xarray.Dataset
            ``rate`` over ``step`` (1 .. ``max_steps``: the number of blank steps run);
            attrs ``settling_steps`` (the first step count after which ``rate`` stays within
            the band around the steady value; -1 if the last fifth of the run still
            drifts, i.e. not settled within ``max_steps``), ``settled``, ``steady_rate``
            (mean over the last fifth), ``band`` (``rtol * |steady| + 3 * sd`` of the last
            fifth), ``settling_ms`` and the arguments.

        Raises
        ------
        ValueError
            On out-of-range arguments (the message names the argument).
        """
        max_steps = check_int(max_steps, "max_steps", minimum=20)
        n_rows = check_int(n_rows, "n_rows", minimum=1)
        rtol = check_positive(rtol, "rtol")
        seed = check_int(seed, "seed", minimum=0)
        blank = float(self.transform.blank_value())
        key = (max_steps, n_rows, rtol, seed, blank)
        cache = self.__dict__.setdefault("_settling_cache", {})
        if key in cache:
            return cache[key]
        gen = check_torch_generator(seed, self.device)
        x = torch.full((n_rows, self.patch_size**2), blank, dtype=torch.float32,
                       device=self.device)
        curve = np.empty(max_steps)
        with torch.inference_mode():
            state = self.model.initial_state(n_rows, generator=gen)
            residual = None
            for k in range(max_steps):
                state, residual = self.model.step(state, x, generator=gen, residual=residual)
                curve[k] = float(self.model.mean_response(state).double().mean())
        tail = curve[-max(10, max_steps // 5):]
        steady = float(tail.mean())
        band = rtol * abs(steady) + 3.0 * float(tail.std())
        half = tail.size // 2
        settled = abs(float(tail[:half].mean()) - float(tail[half:].mean())) <= band
        outside = np.flatnonzero(np.abs(curve - steady) > band)
        n_settle = int(outside[-1] + 2) if outside.size else 1  # step counts are 1-based
        if not settled:
            n_settle = -1
        ds = xr.Dataset(
            {"rate": (("step",), curve)},
            coords={"step": np.arange(1, max_steps + 1)},
            attrs={"model_name": self.name, "settling_steps": n_settle,
                   "settled": bool(settled), "steady_rate": steady, "band": band,
                   "settling_ms": (n_settle * self.ms_per_step if settled else float("nan")),
                   "ms_per_step": self.ms_per_step, "max_steps": max_steps, "n_rows": n_rows,
                   "rtol": rtol, "seed": seed, "blank_value": blank,
                   "units": ("expected spikes per step" if self.model.is_poisson
                             else "mean activation (a.u.)")})
        cache[key] = ds
        return ds

    def _check_blank(self, blank_steps: int, check: bool | None) -> int | None:
        """Warn when ``blank_steps`` is shorter than the spontaneous settling time; return
        the settling steps used (None when not checked)."""
        if check is not None and not isinstance(check, (bool, np.bool_)):
            raise ValueError(f"check_steady_state: expected True, False or None, got {check!r}")
        cache = self.__dict__.get("_settling_cache", {})
        if check is False or (check is None and not cache
                              and not getattr(self, "_shipped", False)):
            return None
        ds = next(reversed(cache.values())) if cache else self.spontaneous_settling()
        n = int(ds.attrs["settling_steps"])
        if n < 0 or blank_steps < n:
            need = (f"more than the {ds.attrs['max_steps']} steps measured" if n < 0
                    else f"{n} steps ({n * self.ms_per_step:g} ms)")
            at = ds["rate"].values[blank_steps - 1] if blank_steps >= 1 else float("nan")
            warnings.warn(
                f"present: blank_steps={blank_steps} is shorter than the spontaneous state of "
                f"{self.name} needs to settle ({need}; mean response "
                f"{float(at):.4g} after the blank vs the steady {ds.attrs['steady_rate']:.4g} "
                f"{ds.attrs['units']}): the baseline still drifts at onset, which biases "
                f"baseline-referenced measures (latency criteria, evoked minus spontaneous). "
                f"Use blank_steps >= {max(n, 0) or ds.attrs['max_steps']}, or "
                f"check_steady_state=False to silence this (see spontaneous_settling)",
                SpontaneousStateWarning, stacklevel=3)
        return n

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
    @torch.inference_mode()
    def _run_rows(self, x_all: np.ndarray, si: np.ndarray, pi: np.ndarray, blank_x: torch.Tensor,
                  schedule: TrialSchedule, gen: torch.Generator, return_rates: bool,
                  dtype: np.dtype, exact: Any = None,
                  ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Simulate one chunk of rows; returns counts (B, K, n_rec), rates or None, and for
        iP-VAE the number of steps each (row, neuron) spent at the clamp (B, K) (else None)."""
        model, b, k = self.model, si.size, self.n_units
        hits = (torch.zeros((b, k), dtype=torch.int32, device=self.device)
                if model.is_poisson else None)
        threshold = float(model.clamp_c) - CLAMP_MARGIN
        n_rec, record_slot = schedule.n_recorded, schedule.record_slot
        counts = np.zeros((n_rec, b, k), dtype=dtype)
        rate_buf = np.zeros((n_rec, b, k), dtype=np.float32) if return_rates else None
        state = model.initial_state(b, generator=gen)
        residual = None
        current = None  # which input is on: BLANK or a frame index
        x = blank_x.expand(b, -1)
        for step in schedule.steps:
            want = schedule.input_at(step)
            if want != current:
                current = want
                if want == BLANK:
                    x = blank_x.expand(b, -1)
                else:
                    x = torch.from_numpy(x_all[si, want, pi]).to(self.device)
                residual = None  # the input changed: x - Phi z must be recomputed
            if exact is not None:  # engine="fast": sparse products, fused update + spikes
                state, _ = exact.step(state, x, generator=gen, need_residual=False)
            else:
                state, residual = model.step(state, x, generator=gen, residual=residual)
            if hits is not None:
                hits += state.u >= threshold
            slot = record_slot[step + schedule.blank_steps]
            if slot < 0:
                continue
            resp = state.response
            if np.issubdtype(counts.dtype, np.integer):
                wider = widen_dtype(counts.dtype, float(resp.max()))
                if wider != counts.dtype:
                    counts = counts.astype(wider)
            counts[slot] = resp.cpu().numpy()
            if rate_buf is not None:
                rate_buf[slot] = model.mean_response(state).cpu().numpy()
        out_rates = None if rate_buf is None else rate_buf.transpose(1, 2, 0)
        out_hits = None if hits is None else hits.cpu().numpy()
        return counts.transpose(1, 2, 0), out_rates, out_hits

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
        try:  # a Stimuli is mutable: check it again now, not only when it was built
            return stimuli.validate()
        except ValueError as exc:
            raise ValueError(f"stimuli: no longer valid (changed after it was built?): "
                             f"{exc}") from None
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


class _ClampCount:
    """Steps at the clamp over a presentation: total, and which neurons and stimuli ever
    reached it."""

    def __init__(self, n_neurons: int, n_stimuli: int) -> None:
        self.hits = 0
        self.neurons = np.zeros(n_neurons, dtype=bool)
        self.stimuli = np.zeros(n_stimuli, dtype=bool)

    def add(self, hits: np.ndarray, tiles: np.ndarray, k: int, stimuli: np.ndarray) -> None:
        self.hits += int(hits.sum(dtype=np.int64))
        rows, units = np.nonzero(hits)
        self.neurons[tiles[rows] * k + units] = True
        self.stimuli[stimuli[rows]] = True

    def fraction_steps(self, n_steps: int) -> float:
        return float(self.hits / n_steps) if n_steps else 0.0

    def fraction_neurons(self) -> float:
        return float(self.neurons.mean()) if self.neurons.size else 0.0


def _warn_clamp(clamp: _ClampCount, n_steps: int, c: float, transform: Any,
                stim: Stimuli) -> None:
    which = np.flatnonzero(clamp.stimuli)
    shown = []
    for i in which[:3]:
        params = ", ".join(f"{key}={_short(col[i])}" for key, col in stim.params.items()
                           if key in ("orientation", "direction", "sf", "contrast", "tf",
                                      "radius_deg", "kind"))
        shown.append(f"{i}" + (f" ({params})" if params else ""))
    stimuli = (f"; {which.size} of {clamp.stimuli.size} stimuli, e.g. stimulus "
               + ", ".join(shown) + ("..." if which.size > 3 else ""))
    fix = "lower the stimulus contrast"
    if getattr(transform, "calibration", "training_range") != "training_range":
        fix += (" or present with the default calibrated transform "
                "(transform='linear', calibration='training_range')")
    warnings.warn(
        f"present: {clamp.fraction_steps(n_steps):.2%} of the neuron-steps and "
        f"{clamp.fraction_neurons():.1%} of the neurons ({int(clamp.neurons.sum())} of "
        f"{clamp.neurons.size}) reached the soft clamp of the membrane potential "
        f"(u >= c - ln 2 = {c - CLAMP_MARGIN:.2f}, >= {math.exp(c) / 2:.0f} spikes per step)"
        f"{stimuli}: the population ran away; responses there are saturation, not tuning. "
        f"To avoid it, {fix}; the fractions are in attrs clamp_fraction_steps, "
        f"clamp_fraction_neurons and clamp_fraction_stimuli",
        UserWarning, stacklevel=3)


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)


def _check_result_size(n_trials: int, n_stim: int, n_neurons: int, n_rec: int, itemsize: int,
                       return_rates: bool, max_gb: float) -> None:
    """Refuse a result above ``max_gb`` before anything is allocated."""
    n = n_trials * n_stim * n_neurons * n_rec
    gb = n * (itemsize + (4 if return_rates else 0)) / 1e9
    if gb > max_gb:
        raise ValueError(
            f"n_trials: the result would take ~{gb:.3g} GB ({n_trials} trials x {n_stim} "
            f"stimuli x {n_neurons} neurons x {n_rec} recorded steps x "
            f"{itemsize + (4 if return_rates else 0)} bytes), above max_result_gb="
            f"{max_gb:g}; use fewer trials or stimuli, record fewer steps (record_steps), "
            f"present in parts, or raise max_result_gb")


def _progress(total: int, enabled: bool, name: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=f"present {name}", unit="row",
                leave=False)
