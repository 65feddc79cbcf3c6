"""An iterative VAE as a Brain-Score ``BrainModel`` (V1, passive fixation).

:class:`IterativeVAEBrainModel` implements
``brainscore_vision.model_interface.BrainModel`` on top of
:class:`neurofond.population.InSilicoPopulation`. Benchmarks talk to it as to
an animal: ``start_recording("V1", time_bins)`` then ``look_at(stimuli,
number_of_trials)``.

Space (defaults)
----------------
Every image spans ``visual_degrees()`` (8 deg, the Brain-Score default for
models; Brain-Score's ``place_on_screen`` rescales benchmark images to that).
Images are read from ``StimulusSet.get_stimulus(stimulus_id)`` with PIL,
converted to grayscale luminance in [0, 1] (``convert("L") / 255``), resampled
so that the model sees ``patch_size / patch_size_deg`` pixels per degree
(16 px patch over ``patch_size_deg = 1`` deg: 16 px/deg, i.e. model Gabors of
0.1-0.25 cycles/px become 1.6-4 cycles/deg, the range of parafoveal macaque V1)
and transformed as in :class:`~neurofond.population.PresentationTransform`
(``transform="linear"``: the checkpoint's whitening and global z-score,
contrast-preserving). The recorded population is a grid of hypercolumns tiling
the central ``grid_deg`` x ``grid_deg`` degrees (default 2 x 2 deg: 4 tiles of
K neurons), non-overlapping (stride ``patch_size_deg``).

Time (defaults)
---------------
One inference step is ``ms_per_step`` ms (10). Each presentation starts with
``blank_steps`` mean-gray steps (20: a short blank from the prior's initial state,
not the settled spontaneous state, which the shipped iP-VAE reaches after about 500
steps; see ``InSilicoPopulation.spontaneous_settling``), then the image is
shown until the end of the last requested time bin. Model step ``s`` (0 = image
onset) covers ``[latency_ms + s * ms_per_step, latency_ms + (s + 1) *
ms_per_step)`` ms; a requested bin ``(start, end)`` collects the steps lying
entirely inside it (70-170 ms -> steps 7..16). ``bin_statistic`` reduces them:
``"rate"`` (default; spikes/s = mean count per step * 1000 / ms_per_step, the
unit of Brain-Score's recorded assemblies), ``"sum"`` (spike count in the bin)
or ``"mean"`` (count per step). Gaussian models (iG-VAE) give activations
instead of counts; the same arithmetic applies.

Trials
------
The model is stochastic: repeated trials differ by the Poisson sampling (one
seeded generator per ``look_at`` call; the same call with the same ``seed``
returns the same values). With ``trials="separate"`` (default) and
``number_of_trials > 1``, ``look_at`` returns every trial as its own
presentation, with a ``repetition`` coordinate (0 .. n - 1). With
``trials="average"`` it returns one presentation per stimulus, the mean over
the trials: the convention of Brain-Score's published benchmarks
(``NeuralBenchmark`` and the Marques2020 property benchmarks align model
presentations to stimuli one-to-one and call ``look_at(...,
number_of_trials=20)``). ``look_at(..., require_variance=True)`` (Brain-Score's
flag for "give me the trials") returns separate trials in either mode. The
exported submission (:func:`~neurofond.brainscore.export_plugin`) uses
``trials="average"`` by default.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import _guard  # noqa: F401  (ImportError naming `pip install brainscore-vision`)

# isort: split
from brainscore_core.supported_data_standards.brainio.assemblies import NeuroidAssembly
from brainscore_core.supported_data_standards.brainio.stimuli import StimulusSet
from brainscore_vision.model_interface import BrainModel

from .._checks import check_int, check_positive
from ..fond.config import MODEL_NAMES
from ..population import InSilicoPopulation, PresentationTransform
from ..stimuli import ScreenGeometry, Stimuli
from .stimuli import load_image

__all__ = ["BIN_STATISTICS", "TRIAL_MODES", "IterativeVAEBrainModel", "UnsupportedRequest",
           "average_trials", "normalize_time_bins"]

#: How the steps inside a time bin are reduced.
BIN_STATISTICS: tuple[str, ...] = ("rate", "sum", "mean")
#: How repeated trials are returned.
TRIAL_MODES: tuple[str, ...] = ("separate", "average")
_REGION = BrainModel.RecordingTarget.V1


class UnsupportedRequest(ValueError, NotImplementedError):
    """A recording region or task this model does not support.

    Both a ValueError and a NotImplementedError (what Brain-Score's own models
    raise for unsupported tasks).
    """


def normalize_time_bins(time_bins: Any) -> list[tuple[float, float]]:
    """Time bins as a list of ``(start_ms, end_ms)`` float pairs.

    Accepts a list of pairs, a single pair, and what ``NeuralBenchmark``
    passes: a list of 0-d object arrays each holding a ``(start, end)`` tuple,
    or an object array of tuples.

    Raises
    ------
    ValueError
        Empty input, items that are not pairs, non-finite values or
        ``start >= end``.
    """
    if time_bins is None:
        raise ValueError("time_bins: expected a list of (start_ms, end_ms) pairs, got None")
    if isinstance(time_bins, np.ndarray):
        if time_bins.ndim == 0:
            time_bins = [time_bins.item()]
        elif time_bins.dtype != object and time_bins.ndim == 1 and time_bins.shape == (2,):
            time_bins = [tuple(time_bins.tolist())]
        else:
            time_bins = list(time_bins)
    elif (isinstance(time_bins, tuple) and len(time_bins) == 2
          and all(isinstance(v, (int, float, np.number)) for v in time_bins)):
        time_bins = [time_bins]
    out = []
    for item in time_bins:
        if isinstance(item, np.ndarray) and item.ndim == 0:
            item = item.item()
        try:
            start, end = (float(v) for v in item)
        except (TypeError, ValueError):
            raise ValueError(f"time_bins: expected (start_ms, end_ms) pairs, got {item!r}"
                             ) from None
        if not (math.isfinite(start) and math.isfinite(end)) or start >= end:
            raise ValueError(f"time_bins: expected finite start < end, got {item!r}")
        out.append((start, end))
    if not out:
        raise ValueError("time_bins: expected at least one (start_ms, end_ms) pair")
    return out


def _as_bin_value(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


class IterativeVAEBrainModel(BrainModel):
    """A trained iterative VAE (iP-VAE, iG-VAE, iGrelu-VAE) as a Brain-Score model of V1.

    Parameters
    ----------
    population : InSilicoPopulation
        The model and its preprocessing (e.g.
        ``InSilicoPopulation.from_checkpoint(path)``). Only its model,
        preprocessing, transform and name are used: tiling and timing are set
        by the arguments below.
    identifier : str, optional
        Brain-Score model identifier (default: the population's name).
    visual_degrees : float
        Field of view spanned by every image (default 8).
    patch_size_deg : float
        Degrees covered by one model patch (default 1.0: 16 model px/deg).
    grid_deg : float
        Side of the central square tiled by hypercolumns (default 2.0); tiles
        of ``patch_size_deg`` at stride ``stride_deg`` (default
        ``patch_size_deg``), at least one (centred).
    stride_deg : float, optional
        Distance between tile centres.
    ms_per_step : float
        Milliseconds per inference step (default 10).
    latency_ms : float
        Time of the first stimulus step relative to image onset (default 0;
        a positive value delays the model's responses).
    blank_steps : int
        Mean-gray steps before onset (default 20). Increased automatically
        when a requested bin starts earlier.
    trials : {"separate", "average"}
        Repeated trials as separate presentations (``repetition`` coordinate)
        or averaged into one presentation per stimulus. See the module notes.
    bin_statistic : {"rate", "sum", "mean"}
        Reduction of the steps inside a time bin (default ``"rate"``,
        spikes/s).
    seed : int
        Seed of the spike sampler (each ``look_at`` call starts from it).
    batch_size : int
        Rows (stimulus x trial x tile) simulated together (default 1024).
    chunk_size : int
        Images read and presented at a time (bounds memory; default 256).

    Raises
    ------
    ValueError
        Bad parameters (the message names the argument).

    Examples
    --------
    >>> model = IterativeVAEBrainModel.from_pretrained()  # doctest: +SKIP
    >>> model.start_recording("V1", time_bins=[(70, 170)])  # doctest: +SKIP
    >>> assembly = model.look_at(stimulus_set, number_of_trials=5)  # doctest: +SKIP
    >>> assembly.dims  # doctest: +SKIP
    ('presentation', 'neuroid', 'time_bin')
    """

    def __init__(self, population: InSilicoPopulation, *, identifier: str | None = None,
                 visual_degrees: float = 8.0, patch_size_deg: float = 1.0,
                 grid_deg: float = 2.0, stride_deg: float | None = None,
                 ms_per_step: float = 10.0, latency_ms: float = 0.0, blank_steps: int = 20,
                 trials: str = "separate", bin_statistic: str = "rate", seed: int = 0,
                 batch_size: int = 1024, chunk_size: int = 256) -> None:
        if not isinstance(population, InSilicoPopulation):
            raise ValueError(f"population: expected an InSilicoPopulation, got {type(population)}")
        self._visual_degrees = check_positive(visual_degrees, "visual_degrees")
        patch_size_deg = check_positive(patch_size_deg, "patch_size_deg")
        grid_deg = check_positive(grid_deg, "grid_deg")
        stride = patch_size_deg if stride_deg is None else check_positive(stride_deg, "stride_deg")
        if grid_deg > self._visual_degrees:
            raise ValueError(f"grid_deg: the tiled region ({grid_deg:g} deg) is larger than the "
                             f"field of view visual_degrees={self._visual_degrees:g}")
        if not isinstance(latency_ms, (int, float, np.number)) or not math.isfinite(latency_ms):
            raise ValueError(f"latency_ms: expected a finite number, got {latency_ms!r}")
        if trials not in TRIAL_MODES:
            raise ValueError(f"trials: expected one of {TRIAL_MODES}, got {trials!r}")
        if bin_statistic not in BIN_STATISTICS:
            raise ValueError(f"bin_statistic: expected one of {BIN_STATISTICS}, "
                             f"got {bin_statistic!r}")
        self.latency_ms = float(latency_ms)
        self.blank_steps = check_int(blank_steps, "blank_steps", minimum=0)
        self.trials = trials
        self.bin_statistic = bin_statistic
        self.seed = check_int(seed, "seed", minimum=0)
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
        self.grid_deg = grid_deg
        self.stride_deg = stride
        n_side = max(1, int(math.floor((grid_deg - patch_size_deg) / stride + 1e-9)) + 1)
        centres = (np.arange(n_side) - (n_side - 1) / 2.0) * stride
        yy, xx = np.meshgrid(centres, centres, indexing="ij")
        positions = np.stack([xx.ravel(), yy.ravel()], axis=1)
        self.population = InSilicoPopulation(
            population.model, population.preprocessing, ms_per_step=ms_per_step,
            patch_size_deg=patch_size_deg, positions=positions, transform=population.transform,
            name=population.name, summary=population.summary, device=population.device)
        self._identifier = str(identifier or population.name)
        self._region: str | None = None
        self._time_bins: list[tuple[float, float]] | None = None
        self._task: str | None = None

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_checkpoint(cls, path: str | Path, *, device: str = "cpu", transform: str = "linear",
                        transform_gain: float | None = None,
                        **kwargs: Any) -> IterativeVAEBrainModel:
        """Model from a saved checkpoint (``.safetensors``); identifier defaults to the stem.

        ``transform`` is the presentation mode (``"linear"`` or ``"training"``);
        ``transform_gain`` fixes the linear-mode gain (default: contrast 1 maps to the
        top of the training-input range, :func:`neurofond.population.calibrate_gain`).
        Other keyword arguments go to the constructor.
        """
        from ..fond.checkpoint import load_checkpoint

        path = Path(path)
        if not path.exists():
            raise ValueError(f"path: checkpoint {path} does not exist")
        model, prep, summary = load_checkpoint(path, device=device)
        return cls(_population(model, prep, summary, path.stem, device, transform,
                               transform_gain), **kwargs)

    @classmethod
    def from_pretrained(cls, name: str | None = None, *, device: str = "cpu",
                        transform: str = "linear", transform_gain: float | None = None,
                        **kwargs: Any) -> IterativeVAEBrainModel:
        """Model from a shipped checkpoint (default :data:`neurofond.pretrained.DEFAULT_MODEL`)."""
        from ..pretrained import DEFAULT_MODEL, load_pretrained

        name = DEFAULT_MODEL if name is None else name
        model, prep, summary = load_pretrained(name, device=device)
        return cls(_population(model, prep, summary, name, device, transform, transform_gain),
                   **kwargs)

    @classmethod
    def from_name_or_path(cls, name_or_path: str | Path | None = None,
                          **kwargs: Any) -> IterativeVAEBrainModel:
        """A shipped model by name, or any checkpoint by path (``None``: the default model)."""
        if name_or_path is not None:
            path = Path(name_or_path)
            if path.suffix == ".safetensors" or path.exists():
                return cls.from_checkpoint(path, **kwargs)
        return cls.from_pretrained(None if name_or_path is None else str(name_or_path), **kwargs)

    # ------------------------------------------------------------------ BrainModel
    @property
    def identifier(self) -> str:
        return self._identifier

    def visual_degrees(self) -> float:
        """Degrees of visual angle spanned by every image."""
        return self._visual_degrees

    @property
    def ms_per_step(self) -> float:
        return self.population.ms_per_step

    @property
    def patch_size_deg(self) -> float:
        return float(self.population.patch_size_deg)

    @property
    def n_tiles(self) -> int:
        return int(len(self.population.positions))

    @property
    def n_neuroids(self) -> int:
        return self.n_tiles * self.population.n_units

    def start_task(self, task: str, fitting_stimuli: Any = None, **kwargs: Any) -> None:
        """Only passive fixation (``BrainModel.Task.passive``) is supported.

        Raises
        ------
        UnsupportedRequest
            For any other task (label, probabilities, odd_one_out ...): this
            model has no behavioural read-out.
        """
        if task != BrainModel.Task.passive:
            raise UnsupportedRequest(
                f"task: {self.identifier} only supports the passive task "
                f"({BrainModel.Task.passive!r}); got {task!r}. It models V1 neurons and has no "
                f"behavioural read-out")
        self._task = task

    def start_recording(self, recording_target: str, time_bins: Any = None) -> None:
        """Record from V1 in the given time bins (default ``[(70, 170)]`` ms).

        Raises
        ------
        UnsupportedRequest
            For any region other than V1 (the message names it).
        ValueError
            Malformed time bins.
        """
        if recording_target != _REGION:
            raise UnsupportedRequest(
                f"recording_target: {self.identifier} models V1 only; cannot record from region "
                f"{recording_target!r}")
        bins = normalize_time_bins([(70, 170)] if time_bins is None else time_bins)
        for start, end in bins:
            self._steps_in_bin(start, end)  # validates
        self._region = recording_target
        self._time_bins = bins

    def look_at(self, stimuli: StimulusSet | Sequence[str], number_of_trials: int = 1,
                require_variance: bool = False) -> NeuroidAssembly:
        """Show the images and return the recorded responses.

        Parameters
        ----------
        stimuli : StimulusSet or list of image paths
            A StimulusSet (images from ``get_stimulus(stimulus_id)``; every
            column becomes a ``presentation`` coordinate) or a list of paths
            (``stimulus_id`` = ``stimulus_path`` = the path).
        number_of_trials : int
            Repeats of every image (>= 1).
        require_variance : bool
            Return the trials as separate presentations even when
            ``trials="average"``.

        Returns
        -------
        NeuroidAssembly
            dims ``(presentation, neuroid, time_bin)``: ``presentation``
            carries every StimulusSet column (incl. ``stimulus_id``) and
            ``repetition`` (trial index; with averaged trials 0 and the coord
            ``n_trials_averaged`` gives the count); ``neuroid`` carries
            ``neuroid_id``, ``region`` ("V1"), ``unit``, ``tile``, ``x_deg``,
            ``y_deg``; ``time_bin`` carries ``time_bin_start`` and
            ``time_bin_end`` (ms). Presentations are ordered stimulus-major
            (all trials of the first stimulus first).

        Raises
        ------
        RuntimeError
            If ``start_recording`` was not called.
        ValueError
            Bad stimuli, unreadable images or a bad ``number_of_trials``.
        """
        if self._region is None or self._time_bins is None:
            raise RuntimeError(f"look_at: {self.identifier} is not recording; call "
                               f"start_recording('V1', time_bins) first")
        n_trials = check_int(number_of_trials, "number_of_trials", minimum=1)
        separate = self.trials == "separate" or bool(require_variance)
        ids, paths, columns = _stimulus_table(stimuli)
        bins = self._time_bins
        steps_per_bin = [self._steps_in_bin(s, e) for s, e in bins]
        all_steps = np.unique(np.concatenate(steps_per_bin))
        blank = max(self.blank_steps, int(-min(0, all_steps.min())))
        n_steps = max(1, int(all_steps.max()) + 1)
        slots = [np.searchsorted(all_steps, s) for s in steps_per_bin]

        n_stim, n_bins = len(ids), len(bins)
        values = np.empty((n_stim, n_trials, self.n_neuroids, n_bins), dtype=np.float32)
        seeds = np.random.SeedSequence(self.seed).spawn(max(1, math.ceil(n_stim /
                                                                         self.chunk_size)))
        neuroid = None
        for c, start in enumerate(range(0, n_stim, self.chunk_size)):
            idx = np.arange(start, min(n_stim, start + self.chunk_size))
            images = [_read(paths[i]) for i in idx]
            chunk_seed = int(seeds[c].generate_state(1, dtype=np.uint32)[0])
            sizes = sorted({im.shape for im in images})
            for g, size in enumerate(sizes):
                members = [j for j, im in enumerate(images) if im.shape == size]
                frames = np.stack([images[j] for j in members])[:, None]
                geometry = ScreenGeometry.from_size_deg(self._visual_degrees, size)
                resp = self.population.present(
                    Stimuli(frames=frames, geometry=geometry), n_trials=n_trials,
                    blank_steps=blank, stimulus_steps=n_steps, record_steps=all_steps,
                    seed=chunk_seed + g, batch_size=self.batch_size, progress=False)
                if neuroid is None:
                    neuroid = {k: resp[k].values for k in ("neuron_id", "unit", "position",
                                                           "x_deg", "y_deg")}
                counts = np.asarray(resp.values, dtype=np.float32)  # trial, stim, neuron, step
                for b, slot in enumerate(slots):
                    red = counts[..., slot].sum(axis=-1)
                    if self.bin_statistic != "sum":
                        red = red / len(slot)
                    if self.bin_statistic == "rate":
                        red = red * (1000.0 / self.ms_per_step)
                    values[idx[members], :, :, b] = red.transpose(1, 0, 2)
        if separate:
            data = values.reshape(n_stim * n_trials, self.n_neuroids, n_bins)
            rep = np.tile(np.arange(n_trials), n_stim)
            take = np.repeat(np.arange(n_stim), n_trials)
        else:
            data = values.mean(axis=1)
            rep = np.zeros(n_stim, dtype=int)
            take = np.arange(n_stim)
        coords: dict[str, Any] = {name: ("presentation", col[take]) for name, col in
                                  columns.items()}
        coords["repetition"] = ("presentation", rep)
        if not separate:
            coords["n_trials_averaged"] = ("presentation", np.full(n_stim, n_trials))
        coords.update(self._neuroid_coords(neuroid))
        coords["time_bin_start"] = ("time_bin", [_as_bin_value(s) for s, _ in bins])
        coords["time_bin_end"] = ("time_bin", [_as_bin_value(e) for _, e in bins])
        assembly = NeuroidAssembly(data, coords=coords,
                                   dims=["presentation", "neuroid", "time_bin"])
        assembly.attrs.update(self._provenance(n_trials, separate, blank))
        return assembly

    # ------------------------------------------------------------------ internals
    def _steps_in_bin(self, start: float, end: float) -> np.ndarray:
        ms = self.ms_per_step
        first = math.ceil((start - self.latency_ms) / ms - 1e-9)
        stop = math.floor((end - self.latency_ms) / ms + 1e-9)  # exclusive
        if stop <= first:
            raise ValueError(
                f"time_bins: bin ({start:g}, {end:g}) ms contains no whole model step of "
                f"{ms:g} ms (latency_ms={self.latency_ms:g}); use bins at least one step long, "
                f"aligned to the step grid")
        return np.arange(first, stop)

    def _neuroid_coords(self, neuroid: dict[str, np.ndarray]) -> dict[str, Any]:
        tile, unit = neuroid["position"], neuroid["unit"]
        return {
            "neuroid_id": ("neuroid", np.array([f"t{t}_u{u}" for t, u in zip(tile, unit)],
                                               dtype=object)),
            "region": ("neuroid", np.array([self._region] * tile.size, dtype=object)),
            "unit": ("neuroid", unit),
            "tile": ("neuroid", tile),
            "x_deg": ("neuroid", neuroid["x_deg"]),
            "y_deg": ("neuroid", neuroid["y_deg"]),
        }

    def _provenance(self, n_trials: int, separate: bool, blank: int) -> dict[str, Any]:
        cfg = self.population.model.config
        return {
            "model_identifier": self.identifier,
            "model_family": MODEL_NAMES[cfg.family],
            "n_latents": int(cfg.n_latents),
            "visual_degrees": self._visual_degrees,
            "patch_size_deg": self.patch_size_deg,
            "grid_deg": self.grid_deg,
            "n_tiles": self.n_tiles,
            "ms_per_step": self.ms_per_step,
            "latency_ms": self.latency_ms,
            "blank_steps": blank,
            "bin_statistic": self.bin_statistic,
            "units": self._units(),
            "sign_convention": self.population.model.response_convention.sign,
            "number_of_trials": n_trials,
            "trials": "separate" if separate else "average",
            "seed": self.seed,
            "transform": json.dumps(self.population.transform.to_dict(), sort_keys=True),
        }

    def _units(self) -> str:
        """Units of the assembly's values: the model's response per second, bin or step."""
        per = {"rate": "/s", "sum": " per bin", "mean": " per step"}[self.bin_statistic]
        if self.population.model.is_poisson:
            return f"spikes{per}"
        return f"activation{per} (a.u., not spikes; Gaussian model)"

    def settings(self) -> dict[str, Any]:
        """Constructor arguments that reproduce this model from the same population."""
        return {
            "identifier": self.identifier, "visual_degrees": self._visual_degrees,
            "patch_size_deg": self.patch_size_deg, "grid_deg": self.grid_deg,
            "stride_deg": self.stride_deg, "ms_per_step": self.ms_per_step,
            "latency_ms": self.latency_ms, "blank_steps": self.blank_steps,
            "trials": self.trials, "bin_statistic": self.bin_statistic, "seed": self.seed,
            "batch_size": self.batch_size, "chunk_size": self.chunk_size,
        }

    def __repr__(self) -> str:
        return (f"IterativeVAEBrainModel(identifier={self.identifier!r}, "
                f"visual_degrees={self._visual_degrees:g}, patch_size_deg={self.patch_size_deg:g}"
                f", n_tiles={self.n_tiles}, K={self.population.n_units}, "
                f"ms_per_step={self.ms_per_step:g}, trials={self.trials!r})")


def _read(path: str) -> np.ndarray:
    try:
        return load_image(path)
    except (OSError, ValueError) as exc:  # missing file, not an image
        raise ValueError(f"stimuli: cannot read image {path!r}: {exc}") from exc


def _population(model: Any, prep: Any, summary: Any, name: str, device: str, transform: str,
                gain: float | None) -> InSilicoPopulation:
    if gain is not None:
        if transform != "linear":
            raise ValueError("transform_gain: only used with transform='linear'")
        transform = PresentationTransform(prep, "linear", gain=gain)
    return InSilicoPopulation(model, prep, transform=transform, name=name, summary=summary,
                              device=device)


def _stimulus_table(stimuli: Any) -> tuple[list[Any], list[str], dict[str, np.ndarray]]:
    """``(stimulus_ids, paths, presentation columns)`` of a StimulusSet or a list of paths."""
    if isinstance(stimuli, StimulusSet) or (hasattr(stimuli, "get_stimulus")
                                             and hasattr(stimuli, "columns")):
        if "stimulus_id" not in stimuli.columns:
            raise ValueError("stimuli: the StimulusSet has no 'stimulus_id' column")
        if len(stimuli) == 0:
            raise ValueError("stimuli: empty StimulusSet")
        ids = list(stimuli["stimulus_id"].values)
        paths = []
        for sid in ids:
            try:
                paths.append(str(stimuli.get_stimulus(sid)))
            except (KeyError, AttributeError, TypeError) as exc:
                raise ValueError(f"stimuli: no file for stimulus_id {sid!r} ({exc!r}); set "
                                 f"stimulus_set.stimulus_paths") from None
        columns = {str(c): _coord_values(stimuli[c].values) for c in stimuli.columns}
        return ids, paths, columns
    if isinstance(stimuli, (str, Path)):
        stimuli = [stimuli]
    if isinstance(stimuli, Iterable):
        paths = [str(p) for p in stimuli]
        if not paths:
            raise ValueError("stimuli: empty list of image paths")
        arr = np.array(paths, dtype=object)
        return paths, paths, {"stimulus_id": arr, "stimulus_path": arr.copy()}
    raise ValueError(f"stimuli: expected a StimulusSet or a list of image paths, "
                     f"got {type(stimuli)}")


def _coord_values(values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind in "US":
        return arr.astype(object)
    return arr


def average_trials(assembly: Any) -> Any:
    """Average the presentations that share a ``stimulus_id`` (separate trials -> one each).

    Parameters
    ----------
    assembly : NeuroidAssembly
        With a ``presentation`` dim carrying ``stimulus_id`` (e.g. the output of
        ``look_at(..., number_of_trials=n)`` with ``trials="separate"``).

    Returns
    -------
    NeuroidAssembly
        Same dims; one presentation per stimulus, in order of first
        appearance, with the coordinates of that first appearance (minus
        ``repetition``) and ``n_trials_averaged``. NaN values are ignored in
        the mean. The input is returned unchanged when every stimulus
        appears once.
    """
    from brainscore_core.supported_data_standards.brainio.assemblies import walk_coords

    ids = np.asarray(assembly["stimulus_id"].values)
    _, first, inverse, counts = np.unique(ids, return_index=True, return_inverse=True,
                                          return_counts=True)
    if counts.max() == 1:
        return assembly
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    group = rank[inverse]
    dims = list(assembly.dims)
    axis = dims.index("presentation")
    data = np.moveaxis(np.asarray(assembly.values, dtype=np.float64), axis, 0)
    finite = np.isfinite(data)
    sums = np.zeros((order.size,) + data.shape[1:])
    n = np.zeros_like(sums)
    np.add.at(sums, group, np.where(finite, data, 0.0))
    np.add.at(n, group, finite)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, sums / np.maximum(n, 1), np.nan)
    keep = first[order]
    coords: dict[str, Any] = {}
    for name, cdims, values in walk_coords(assembly):
        if name in ("presentation", "neuroid", "time_bin") and name in dims:
            continue
        if cdims == ("presentation",):
            if name in ("repetition", "n_trials_averaged"):
                continue
            coords[name] = ("presentation", np.asarray(values)[keep])
        elif len(cdims) == 1 and cdims[0] in dims:
            coords[name] = (cdims[0], values)
    try:
        prev = np.asarray(assembly["n_trials_averaged"].values)[keep]
    except KeyError:
        prev = 1
    coords["n_trials_averaged"] = ("presentation", counts[order] * prev)
    out = type(assembly)(np.moveaxis(mean, 0, axis).astype(np.float32), coords=coords, dims=dims)
    out.attrs.update(assembly.attrs)
    out.attrs["trials"] = "average"
    return out
