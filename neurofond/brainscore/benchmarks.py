"""Local, offline Brain-Score benchmarks on recorded data on disk.

Every published Brain-Score benchmark downloads its data from S3 when it is
loaded. The benchmarks here are built from Brain-Score's own classes, metrics
and ceilings (``NeuralBenchmark``, ``load_metric('pls')``,
``load_ceiling('internal_consistency')``, the Marques2020 property functions
and ``ks_similarity``) on data read from local files, so they run offline.

``ecker2010-pls``
    Predictivity of Ecker et al. (2010) macaque V1 single units
    (:func:`neurofond.recordings.load_ecker2010`) from model responses:
    Brain-Score's ``NeuralBenchmark`` with the ``pls`` metric (PLS regression,
    25 components, Pearson r per unit on held-out stimuli, median over units)
    and the ``internal_consistency`` ceiling (split-half over repetitions,
    Spearman-Brown). Data: sessions 12-16 (monkey D, the five sessions sharing
    the same 16 conditions: 8 orientations x contrasts 20 % and 50 %; 53 units
    with contamination < 0.05). Assembly: ``presentation`` = condition x
    repetition (``stimulus_id``, ``orientation``, ``contrast``, ``repetition``;
    20-30 repetitions, NaN where a session had fewer), ``neuroid`` = units,
    one time bin 50-500 ms (the sustained response to the 500 ms grating,
    after a 50 ms latency; firing rate in spikes/s). With 16 stimuli the
    default 90/10 split would leave 2 test stimuli (r = +-1), so the
    cross-validation is 4-fold, stratified by contrast (4 test stimuli per
    fold). Score: ``raw`` = median r; ``ceiling``; ``ceiled = raw ** 2 /
    ceiling`` (Brain-Score's ``explained_variance`` convention for neural
    benchmarks).

``ecker2010-orientation``
    Marques et al. (2021)-style distribution benchmarks for orientation
    tuning properties: ``circular_variance``, ``orientation_selective``,
    ``bandwidth`` (half-width at 1/sqrt(2), Hanning-smoothed spline, as in
    Brain-Score's Ringach2002 benchmarks) and ``orthogonal_preferred_ratio``,
    computed with Brain-Score's own functions
    (``benchmark_helpers.properties_common.calc_circular_variance``,
    ``calc_bandwidth``, ``calc_orthogonal_preferred_ratio``), compared with
    ``ks_similarity`` (``BootstrapDistributionSimilarity``: 1000 samples of
    as many model neurons as data units, 1 - KS / KS_max on the data bins),
    ceiling ``property_ceiling`` (data vs itself) and ``ceiled = raw /
    ceiling`` (Brain-Score's ``ceil_score``). The data distribution is that of
    the Ecker units instead of Ringach et al. 2002 (whose data are on S3):
    responsive units (rate > baseline + 5 spikes/s; baseline = -200..0 ms) of
    the 12 sessions with 8 orientations (0-157.5 deg), tuning curve at the
    session's highest contrast, 50-500 ms. Model: the Marques2020 orientation
    grid (:func:`neurofond.stimuli.marques2020_orientation_grid`: 4 SF x 3
    radii x 12 orientations x 8 phases on a 12 deg canvas, rendered at 224 px;
    ``quick``: SF 1.54 and 3.08 c/deg, the largest radius, 4 phases = 96
    images), 70-170 ms, responses clipped at 0, DC = mean over phases, the
    preferred (SF, radius) pair's orientation curve; responsive neurons have
    max DC > blank response + ``response_threshold`` (5 spikes/s, Marques'
    threshold, in the candidate's units). Histogram bins (ours; the
    Ringach2002 bins are in the S3 data): CV and orthogonal/preferred ratio
    0-1 in steps of 0.1, bandwidth 0-90 deg in steps of 10, orientation
    selective {0, 1}.

Stimuli of the Ecker experiment (assumptions; the release does not document
them): full-field static sine-wave gratings at the condition's orientation
and contrast, spatial frequency 3 cycles/deg (typical preferred SF of
parafoveal macaque V1), phase 0, mean gray 0.5, on an 8 deg field rendered at
256 px (32 px/deg), written as 8-bit PNG files into a cache folder.

Notes
-----
- Ceilings are computed once per benchmark object and kept in memory:
  Brain-Score's ``BenchmarkBase.ceiling`` caches on disk keyed by the
  identifier only, which would serve stale ceilings when local data or
  settings change.
- Candidates may return repeated trials as separate presentations; the local
  neural benchmark averages them per ``stimulus_id`` before the metric
  (Brain-Score's metrics align model and data presentations one-to-one).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from . import _guard  # noqa: F401  (ImportError naming `pip install brainscore-vision`)

# isort: split
from brainscore_core.metrics import Score
from brainscore_core.supported_data_standards.brainio.assemblies import (
    NeuroidAssembly,
    PropertyAssembly,
)
from brainscore_vision import load_ceiling, load_metric
from brainscore_vision.benchmark_helpers.neural_common import NeuralBenchmark, average_repetition
from brainscore_vision.benchmark_helpers.properties_common import (
    calc_bandwidth,
    calc_circular_variance,
    calc_orthogonal_preferred_ratio,
)
from brainscore_vision.benchmark_helpers.screen import place_on_screen
from brainscore_vision.benchmarks import BenchmarkBase, ceil_score
from brainscore_vision.model_interface import BrainModel

from ..stimuli import ScreenGeometry, marques2020_orientation_grid
from ..stimuli.marques2020 import CANVAS_DEG, ORIENTATION_SET_SFS
from . import cache_home
from .model import average_trials
from .stimuli import grating_stimulus_set

__all__ = [
    "BENCHMARK_NAMES",
    "ECKER2010_BIBTEX",
    "ECKER2010_PLS_SESSIONS",
    "ECKER2010_STIMULUS",
    "PROPERTY_BINS",
    "LocalNeuralBenchmark",
    "OrientationPropertyBenchmark",
    "TrialAveragingCandidate",
    "ecker2010_assembly",
    "ecker2010_orientation_benchmarks",
    "ecker2010_orientation_data_properties",
    "ecker2010_pls_benchmark",
    "ecker2010_stimulus_set",
    "load_local_benchmarks",
    "neural_benchmark_from_responses",
    "responses_to_assembly",
    "score_benchmarks",
]

#: Sessions pooled by ``ecker2010-pls`` (same 16 conditions: 8 orientations x {20, 50} %).
ECKER2010_PLS_SESSIONS: tuple[int, ...] = (12, 13, 14, 15, 16)
#: Assumed stimulus parameters of the Ecker 2010 static gratings (not in the release).
ECKER2010_STIMULUS: dict[str, float] = {"sf_cpd": 3.0, "phase_deg": 0.0, "size_deg": 8.0,
                                        "size_px": 256, "mean": 0.5}
#: Names understood by :func:`load_local_benchmarks` (and ``neurofond score --benchmark``).
BENCHMARK_NAMES: tuple[str, ...] = ("ecker2010-pls", "ecker2010-orientation", "all")
#: Orientation properties scored by ``ecker2010-orientation``.
ORIENTATION_PROPERTIES: tuple[str, ...] = ("circular_variance", "orientation_selective",
                                           "bandwidth", "orthogonal_preferred_ratio")
#: Histogram bins of the property distributions.
PROPERTY_BINS: dict[str, np.ndarray] = {
    "circular_variance": np.linspace(0.0, 1.0, 11),
    "orientation_selective": np.array([0.0, 0.5, 1.0]),
    "bandwidth": np.linspace(0.0, 90.0, 10),
    "orthogonal_preferred_ratio": np.linspace(0.0, 1.0, 11),
}
ECKER2010_BIBTEX = """@article{ecker2010decorrelated,
  title={Decorrelated neuronal firing in cortical microcircuits},
  author={Ecker, Alexander S and Berens, Philipp and Keliris, Georgios A and Bethge, Matthias
          and Logothetis, Nikos K and Tolias, Andreas S},
  journal={Science}, volume={327}, number={5965}, pages={584--587}, year={2010},
  url={https://doi.org/10.1126/science.1179867}
}"""


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _numpy_seed(seed: int | None) -> Iterator[None]:
    """Seed numpy's global RNG (used by Brain-Score's bootstrap) and restore it afterwards."""
    if seed is None:
        yield
        return
    state = np.random.get_state()  # noqa: NPY002 - Brain-Score samples from the global RNG
    np.random.seed(seed)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002


def _window_mask(responses: xr.DataArray, window_ms: Sequence[float]) -> np.ndarray:
    t0, t1 = (float(v) for v in window_ms)
    if not t0 < t1:
        raise ValueError(f"window_ms: expected start < end, got {window_ms!r}")
    start = responses["time_start_ms"].values
    end = responses["time_end_ms"].values
    mask = (start >= t0 - 1e-9) & (end <= t1 + 1e-9)
    if not mask.any():
        raise ValueError(f"window_ms: no time bin of the responses lies inside {window_ms!r} "
                         f"(bins span {start.min():g}..{end.max():g} ms)")
    return mask


def _window_rates(responses: xr.DataArray, window_ms: Sequence[float]) -> np.ndarray:
    """Spike rate (spikes/s) in a window: ``(trial, stimulus, neuron)``; NaN stays NaN."""
    mask = _window_mask(responses, window_ms)
    counts = np.asarray(responses.values, dtype=np.float64)[..., mask]
    dur_s = float((responses["time_end_ms"].values[mask]
                   - responses["time_start_ms"].values[mask]).sum()) / 1000.0
    return counts.sum(axis=-1) / dur_s


def _object(values: Any) -> np.ndarray:
    arr = np.asarray(values)
    return arr.astype(object) if arr.dtype.kind in "US" else arr


def responses_to_assembly(responses: xr.DataArray, window_ms: Sequence[float], *,
                          region: str = "V1", stimulus_coords: Sequence[str] | None = None,
                          neuron_coords: Sequence[str] | None = None) -> NeuroidAssembly:
    """Recorded ``Responses`` -> Brain-Score NeuroidAssembly with repetitions (one time bin).

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses`` (trial, stimulus, neuron, time) spike counts; NaN =
        missing trial.
    window_ms : (float, float)
        Response window; the bins lying inside it are summed and divided by
        their duration (spikes/s).
    region : str
        Value of the ``region`` coordinate (``NeuralBenchmark`` needs one region).
    stimulus_coords, neuron_coords : sequence of str, optional
        Coordinates to carry (default: every 1-D coordinate of the dim).

    Returns
    -------
    NeuroidAssembly
        dims ``(presentation, neuroid)``; ``presentation`` = stimulus x trial
        (stimulus-major) with the stimulus coordinates and ``repetition``;
        ``neuroid`` with ``neuroid_id`` (str) and ``region``; the time bin is
        a squeezed dimension (``time_bin_start``, ``time_bin_end``), as in
        Brain-Score's published assemblies. Trials missing for every neuron
        and stimulus are dropped.
    """
    if tuple(responses.dims) != ("trial", "stimulus", "neuron", "time"):
        raise ValueError(f"responses: expected dims (trial, stimulus, neuron, time), "
                         f"got {responses.dims}")
    rates = _window_rates(responses, window_ms)  # trial, stimulus, neuron
    present = ~np.all(np.isnan(rates), axis=(1, 2))
    rates = rates[present]
    n_trial, n_stim, n_neuron = rates.shape
    if n_trial == 0:
        raise ValueError("responses: no trial with data")
    data = rates.transpose(1, 0, 2).reshape(n_stim * n_trial, n_neuron)
    stim_names = list(stimulus_coords) if stimulus_coords is not None else [
        k for k, c in responses.coords.items() if c.dims == ("stimulus",) and k != "stimulus"]
    neuron_names = list(neuron_coords) if neuron_coords is not None else [
        k for k, c in responses.coords.items() if c.dims == ("neuron",) and k != "neuron"]
    if "stimulus_id" not in stim_names:
        raise ValueError("responses: a 'stimulus_id' stimulus coordinate is required")
    coords: dict[str, Any] = {}
    for name in stim_names:
        values = _object(responses[name].values)
        coords[name] = ("presentation", np.repeat(values, n_trial))
    coords["stimulus_id"] = ("presentation", np.repeat(
        np.asarray([str(v) for v in responses["stimulus_id"].values], dtype=object), n_trial))
    coords["repetition"] = ("presentation", np.tile(np.flatnonzero(present), n_stim))
    for name in neuron_names:
        coords[name] = ("neuroid", _object(responses[name].values))
    coords["neuroid_id"] = ("neuroid", np.asarray(
        [str(v) for v in responses["neuron_id"].values], dtype=object))
    coords["region"] = ("neuroid", np.asarray([region] * n_neuron, dtype=object))
    t0, t1 = (float(v) for v in window_ms)
    coords["time_bin_start"] = ("time_bin", [int(t0) if t0.is_integer() else t0])
    coords["time_bin_end"] = ("time_bin", [int(t1) if t1.is_integer() else t1])
    assembly = NeuroidAssembly(data[..., None], coords=coords,
                               dims=["presentation", "neuroid", "time_bin"])
    assembly = assembly.squeeze("time_bin")  # 0-d 'time_bin' = (start, end), as Brain-Score's
    assembly = assembly.assign_coords(time_bin_start=coords["time_bin_start"][1][0],
                                      time_bin_end=coords["time_bin_end"][1][0])
    assembly.attrs.update({k: v for k, v in responses.attrs.items()
                           if isinstance(v, (str, int, float))})
    assembly.attrs["window_ms"] = f"{t0:g}-{t1:g}"
    assembly.attrs["units"] = "spikes/s"
    return assembly


# --------------------------------------------------------------------------- neural benchmark


class TrialAveragingCandidate(BrainModel):
    """Wraps a candidate: its repeated trials are averaged per ``stimulus_id``.

    Brain-Score's metrics align model presentations to data stimuli
    one-to-one; a candidate returning every trial as its own presentation
    (``IterativeVAEBrainModel(trials="separate")``) is averaged here.
    """

    def __init__(self, candidate: BrainModel) -> None:
        self._candidate = candidate

    @property
    def identifier(self) -> str:
        return self._candidate.identifier

    def visual_degrees(self) -> float:
        return self._candidate.visual_degrees()

    def start_task(self, task: Any, *args: Any, **kwargs: Any) -> None:
        return self._candidate.start_task(task, *args, **kwargs)

    def start_recording(self, recording_target: Any, time_bins: Any = None) -> None:
        return self._candidate.start_recording(recording_target, time_bins)

    def look_at(self, stimuli: Any, number_of_trials: int = 1) -> Any:
        return average_trials(self._candidate.look_at(stimuli, number_of_trials=number_of_trials))


class LocalNeuralBenchmark(NeuralBenchmark):
    """Brain-Score ``NeuralBenchmark`` on a local assembly.

    Differences from the parent, both for local use: the ceiling is computed
    once per object and kept in memory (``BenchmarkBase`` caches it on disk by
    identifier only), and the candidate's separate trials are averaged per
    stimulus before the metric (:class:`TrialAveragingCandidate`).

    Parameters
    ----------
    identifier : str
    assembly : NeuroidAssembly
        Trial-averaged target (``presentation`` x ``neuroid``) with
        ``attrs['stimulus_set']``.
    assembly_repetition : NeuroidAssembly
        The same with repetitions (``repetition`` coordinate), for the ceiling.
    similarity_metric : Metric
    ceiler : callable
        ``ceiler(assembly_repetition) -> Score``.
    visual_degrees : float
        Degrees spanned by the stimulus images.
    number_of_trials : int
        Trials requested from the candidate.
    """

    def __init__(self, *, identifier: str, assembly: Any, assembly_repetition: Any,
                 similarity_metric: Any, ceiler: Any, visual_degrees: float,
                 number_of_trials: int, version: int = 1, parent: str = "V1",
                 bibtex: str | None = None) -> None:
        super().__init__(identifier=identifier, assembly=assembly,
                         similarity_metric=similarity_metric, visual_degrees=visual_degrees,
                         number_of_trials=number_of_trials,
                         ceiling_func=lambda: ceiler(assembly_repetition), version=version,
                         parent=parent, bibtex=bibtex)
        self.assembly_repetition = assembly_repetition
        self._ceiling_score: Score | None = None

    @property
    def assembly(self) -> Any:
        return self._assembly

    @property
    def ceiling(self) -> Score:
        if self._ceiling_score is None:
            self._ceiling_score = self._ceiling_func()
        return self._ceiling_score

    def __call__(self, candidate: BrainModel) -> Score:
        return super().__call__(TrialAveragingCandidate(candidate))


def neural_benchmark_from_responses(responses: xr.DataArray, stimulus_set: Any, *,
                                    identifier: str, window_ms: Sequence[float],
                                    visual_degrees: float, number_of_trials: int = 10,
                                    metric: str = "pls",
                                    crossvalidation_kwargs: Mapping[str, Any] | None = None,
                                    region: str = "V1", version: int = 1,
                                    bibtex: str | None = None) -> LocalNeuralBenchmark:
    """A :class:`LocalNeuralBenchmark` from any recorded ``Responses`` and its StimulusSet.

    Parameters
    ----------
    responses : xarray.DataArray
        Recorded ``Responses`` with a ``stimulus_id`` stimulus coordinate
        matching ``stimulus_set['stimulus_id']``, and at least 2 trials.
    stimulus_set : StimulusSet
        The images shown, one row per stimulus.
    identifier : str
        Benchmark identifier.
    window_ms : (float, float)
        Response window (one time bin).
    visual_degrees : float
        Degrees spanned by the images.
    number_of_trials : int
        Trials requested from the candidate (averaged before the metric).
    metric : str
        Brain-Score metric name (``pls``, ``ridge``, ``linear_predictivity``,
        ``neuron_to_neuron`` ...).
    crossvalidation_kwargs : mapping, optional
        Passed to the metric (default ``stratification_coord=None``).
    """
    ids = {str(v) for v in responses["stimulus_id"].values}
    set_ids = {str(v) for v in stimulus_set["stimulus_id"].values}
    if ids != set_ids:
        raise ValueError(f"stimulus_set: stimulus ids differ from the responses' "
                         f"({sorted(ids ^ set_ids)[:5]} ...)")
    assembly_repetition = responses_to_assembly(responses, window_ms, region=region)
    if np.unique(assembly_repetition["repetition"].values).size < 2:
        raise ValueError("responses: the ceiling needs at least 2 repetitions")
    assembly_repetition.attrs["stimulus_set"] = stimulus_set
    assembly = average_repetition(assembly_repetition)
    assembly.attrs["stimulus_set"] = stimulus_set
    cv = dict(stratification_coord=None)
    cv.update(crossvalidation_kwargs or {})
    return LocalNeuralBenchmark(
        identifier=identifier, assembly=assembly, assembly_repetition=assembly_repetition,
        similarity_metric=load_metric(metric, crossvalidation_kwargs=cv),
        ceiler=load_ceiling("internal_consistency"), visual_degrees=visual_degrees,
        number_of_trials=number_of_trials, version=version, parent=region, bibtex=bibtex)


# --------------------------------------------------------------------------- Ecker 2010


def _ecker_path(path: str | Path | None) -> Path | None:
    return None if path is None else Path(path)


def ecker2010_assembly(path: str | Path | None = None, *,
                       sessions: Sequence[int] = ECKER2010_PLS_SESSIONS,
                       window_ms: Sequence[float] = (50.0, 500.0),
                       max_contamination: float = 0.05) -> NeuroidAssembly:
    """The pooled Ecker 2010 sessions as a NeuroidAssembly with repetitions (spikes/s).

    Sessions must share their conditions (after snapping orientations to
    22.5 deg). See the module docstring for the layout.
    """
    from ..recordings import load_ecker2010

    resp = load_ecker2010(_ecker_path(path), session=list(sessions), concat=True,
                          max_contamination=max_contamination, snap_orientation_deg=22.5)
    if int(resp["n_sessions"].min()) != len(sessions):
        raise ValueError(f"sessions: {list(sessions)} do not share their conditions; pool "
                         f"sessions with the same orientation x contrast set (e.g. 12-16)")
    return responses_to_assembly(resp, window_ms, stimulus_coords=[
        "stimulus_id", "orientation", "contrast", "contrast_pct"], neuron_coords=[
        "neuron_id", "session", "subject", "tetrode", "contamination"])


def ecker2010_stimulus_set(conditions: Mapping[str, Sequence[Any]], *,
                           directory: str | Path | None = None,
                           sf_cpd: float = ECKER2010_STIMULUS["sf_cpd"],
                           phase_deg: float = ECKER2010_STIMULUS["phase_deg"],
                           size_deg: float = ECKER2010_STIMULUS["size_deg"],
                           size_px: int = int(ECKER2010_STIMULUS["size_px"])) -> Any:
    """Full-field static gratings of the Ecker 2010 conditions as a PNG StimulusSet.

    Parameters
    ----------
    conditions : mapping
        ``stimulus_id``, ``orientation`` (deg) and ``contrast`` (0-1) per condition.
    directory : path, optional
        Where the PNG files go (default: the Brain-Score cache folder).
    sf_cpd, phase_deg, size_deg, size_px
        Assumed stimulus parameters (:data:`ECKER2010_STIMULUS`).
    """
    ids = np.asarray([str(v) for v in conditions["stimulus_id"]], dtype=object)
    ori = np.asarray(conditions["orientation"], dtype=float)
    con = np.asarray(conditions["contrast"], dtype=float)
    n = ids.size
    params = {"orientation": ori, "sf": np.full(n, float(sf_cpd)),
              "phase": np.full(n, float(phase_deg)), "contrast": con}
    geometry = ScreenGeometry.from_size_deg(float(size_deg), int(size_px))
    directory = Path(directory) if directory is not None else (
        cache_home() / "stimuli" / "ecker2010_gratings")
    return grating_stimulus_set(params, geometry, directory, "neurofond.Ecker2010_gratings",
                                extra_columns={"stimulus_id": ids,
                                               "contrast_pct": np.round(con * 100, 6)})


def ecker2010_pls_benchmark(path: str | Path | None = None, *,
                            sessions: Sequence[int] = ECKER2010_PLS_SESSIONS,
                            window_ms: Sequence[float] = (50.0, 500.0),
                            number_of_trials: int = 10, metric: str = "pls",
                            crossvalidation_kwargs: Mapping[str, Any] | None = None,
                            stimulus_kwargs: Mapping[str, Any] | None = None
                            ) -> LocalNeuralBenchmark:
    """``ecker2010-pls``: Brain-Score NeuralBenchmark on the Ecker 2010 units (module docs).

    Parameters
    ----------
    path : path, optional
        ``data_v1_binned_static.mat`` (default: the dataset registry search).
    sessions : sequence of int
        Sessions to pool (must share conditions).
    window_ms : (float, float)
        Response window (default 50-500 ms).
    number_of_trials : int
        Trials requested from the model per stimulus (averaged).
    metric : str
        Brain-Score metric (default ``pls``).
    crossvalidation_kwargs : mapping, optional
        Default ``stratification_coord="contrast_pct", kfold=True, splits=4``.
    stimulus_kwargs : mapping, optional
        Passed to :func:`ecker2010_stimulus_set` (``sf_cpd``, ``size_deg`` ...).
    """
    assembly_repetition = ecker2010_assembly(path, sessions=sessions, window_ms=window_ms)
    first = ~np.asarray(pd_duplicated(assembly_repetition["stimulus_id"].values))
    conditions = {k: assembly_repetition[k].values[first]
                  for k in ("stimulus_id", "orientation", "contrast")}
    stimulus_kwargs = dict(stimulus_kwargs or {})
    stimulus_set = ecker2010_stimulus_set(conditions, **stimulus_kwargs)
    assembly_repetition.attrs["stimulus_set"] = stimulus_set
    assembly = average_repetition(assembly_repetition)
    assembly.attrs["stimulus_set"] = stimulus_set
    cv = dict(stratification_coord="contrast_pct", kfold=True, splits=4)
    cv.update(crossvalidation_kwargs or {})
    size_deg = float(stimulus_kwargs.get("size_deg", ECKER2010_STIMULUS["size_deg"]))
    t0, t1 = (float(v) for v in window_ms)
    return LocalNeuralBenchmark(
        identifier=f"neurofond.Ecker2010.V1-{metric}", assembly=assembly,
        assembly_repetition=assembly_repetition,
        similarity_metric=load_metric(metric, crossvalidation_kwargs=cv),
        ceiler=load_ceiling("internal_consistency"), visual_degrees=size_deg,
        number_of_trials=number_of_trials, version=1, parent="V1", bibtex=ECKER2010_BIBTEX)


def pd_duplicated(values: np.ndarray) -> np.ndarray:
    """Boolean mask of repeated values (first occurrence False)."""
    _, first = np.unique(values, return_index=True)
    mask = np.ones(len(values), dtype=bool)
    mask[first] = False
    return mask


# --------------------------------------------------------------------------- properties


def _property_assembly(table: Mapping[str, np.ndarray], neuroid_ids: Sequence[Any],
                       names: Sequence[str], attrs: Mapping[str, Any]) -> PropertyAssembly:
    values = np.stack([np.asarray(table[n], dtype=float) for n in names], axis=1)
    n = values.shape[0]
    assembly = PropertyAssembly(values, coords={
        "neuroid_id": ("neuroid", np.asarray([str(v) for v in neuroid_ids], dtype=object)),
        "region": ("neuroid", np.asarray(["V1"] * n, dtype=object)),
        "neuronal_property": list(names)}, dims=["neuroid", "neuronal_property"])
    for name in names:
        if name in PROPERTY_BINS:
            assembly.attrs[f"{name}_bins"] = PROPERTY_BINS[name]
    assembly.attrs.update(attrs)
    return assembly


def _orientation_properties(curves: np.ndarray, orientations: np.ndarray
                            ) -> dict[str, np.ndarray]:
    """Brain-Score's orientation properties of tuning curves ``(neuron, orientation)``."""
    n = curves.shape[0]
    out = {k: np.full(n, np.nan) for k in ORIENTATION_PROPERTIES}
    for i, curve in enumerate(curves):
        out["circular_variance"][i] = calc_circular_variance(curve, orientations)
        out["bandwidth"][i] = calc_bandwidth(curve, orientations, filt_type="hanning",
                                             thrsh=0.707, mode="half")[0]
        out["orthogonal_preferred_ratio"][i] = calc_orthogonal_preferred_ratio(curve,
                                                                               orientations)
    out["orientation_selective"] = np.where(np.isnan(out["bandwidth"]), 0.0, 1.0)
    return out


def ecker2010_orientation_data_properties(path: str | Path | None = None, *,
                                          window_ms: Sequence[float] = (50.0, 500.0),
                                          baseline_ms: Sequence[float] = (-200.0, 0.0),
                                          response_threshold: float = 5.0,
                                          max_contamination: float = 0.05) -> PropertyAssembly:
    """Orientation properties of the responsive Ecker 2010 units (module docstring).

    Returns
    -------
    PropertyAssembly
        ``(neuroid, neuronal_property)`` with ``circular_variance``,
        ``orientation_selective``, ``bandwidth``, ``orthogonal_preferred_ratio``,
        ``baseline`` and ``max_rate``; ``<property>_bins`` attrs.
    """
    from ..recordings import load_ecker2010

    sessions = load_ecker2010(_ecker_path(path), max_contamination=max_contamination,
                              snap_orientation_deg=22.5)
    tables: list[dict[str, np.ndarray]] = []
    ids: list[str] = []
    for resp in sessions:
        ori_all = resp["orientation"].values
        orientations = np.unique(ori_all)
        if orientations.size != 8:  # orthogonal ratio needs the full 0-157.5 grid
            continue
        pct = resp["contrast_pct"].values
        top = pct == pct.max()
        rates = _window_rates(resp, window_ms)  # trial, stimulus, neuron
        base = np.nanmean(_window_rates(resp, baseline_ms), axis=(0, 1))
        mean = np.nanmean(rates, axis=0)[top]  # stimulus(top), neuron
        order = np.argsort(ori_all[top])
        curves = mean[order].T  # neuron, orientation
        good = curves.max(axis=1) > base + response_threshold
        if not good.any():
            continue
        props = _orientation_properties(curves[good], np.sort(ori_all[top]))
        props["baseline"] = base[good]
        props["max_rate"] = curves[good].max(axis=1)
        tables.append(props)
        ids.extend(str(v) for v in resp["neuron_id"].values[good])
    if not tables:
        raise ValueError("data: no responsive Ecker 2010 unit")
    names = (*ORIENTATION_PROPERTIES, "baseline", "max_rate")
    table = {k: np.concatenate([t[k] for t in tables]) for k in names}
    return _property_assembly(table, ids, names, {
        "source": "ecker2010", "window_ms": f"{window_ms[0]:g}-{window_ms[1]:g}",
        "response_threshold": float(response_threshold)})


def _orientation_stimulus_set(quick: bool, size_px: int, directory: Path | None) -> Any:
    params = marques2020_orientation_grid(params_only=True)
    if quick:
        keep = (np.isin(np.round(params["sf"], 6), np.round(ORIENTATION_SET_SFS[[1, 2]], 6))
                & np.isclose(params["radius_deg"] * 2 * params["sf"], 4.0)
                & np.isin(params["phase"], [0.0, 90.0, 180.0, 270.0]))
        params = {k: v[keep] for k, v in params.items()}
    geometry = ScreenGeometry.from_size_deg(CANVAS_DEG, int(size_px))
    directory = directory or cache_home() / "stimuli" / (
        "marques2020_orientation" + ("_quick" if quick else ""))
    return grating_stimulus_set(params, geometry, directory, "neurofond.Marques2020_orientation"
                                + ("_quick" if quick else ""), aperture="circular")


def _blank_stimulus_set(size_px: int, directory: Path | None) -> Any:
    params = {"orientation": np.array([0.0]), "sf": np.array([0.0]),
              "contrast": np.array([0.0])}
    geometry = ScreenGeometry.from_size_deg(CANVAS_DEG, int(size_px))
    directory = directory or cache_home() / "stimuli" / "marques2020_blank"
    return grating_stimulus_set(params, geometry, directory, "neurofond.Marques2020_blank",
                                extra_columns={"stimulus_id": np.array(["blank"], dtype=object)})


class OrientationPropertyBenchmark(BenchmarkBase):
    """One Marques2020-style orientation-property benchmark against local data.

    Parameters
    ----------
    property_name : str
        One of ``circular_variance``, ``orientation_selective``,
        ``bandwidth``, ``orthogonal_preferred_ratio``.
    data_properties : PropertyAssembly
        Recorded property values (``<property>_bins`` in attrs).
    stimulus_set, blank_set : StimulusSet
        Orientation gratings (with ``sf``, ``radius_deg``, ``orientation``,
        ``phase`` columns) and a blank gray image, spanning ``visual_degrees``.
    visual_degrees : float
        Degrees spanned by the images (12, the Marques canvas).
    number_of_trials : int
        Trials per image (averaged).
    time_bins : list of (start, end)
        Response window (default ``[(70, 170)]``).
    response_threshold : float
        Responsive neurons: max DC > blank + threshold (candidate's units).
    shared : dict, optional
        Cache shared between the benchmarks of one family, so that the model
        is recorded once for all properties.
    seed : int or None
        Seed of numpy's global RNG during the bootstrap (restored afterwards).
    """

    def __init__(self, property_name: str, data_properties: PropertyAssembly, stimulus_set: Any,
                 blank_set: Any, *, visual_degrees: float = CANVAS_DEG,
                 number_of_trials: int = 10, time_bins: Sequence[Sequence[float]] = ((70, 170),),
                 response_threshold: float = 5.0, shared: dict[Any, Any] | None = None,
                 seed: int | None = 0, identifier: str | None = None) -> None:
        if property_name not in ORIENTATION_PROPERTIES:
            raise ValueError(f"property_name: expected one of {ORIENTATION_PROPERTIES}, "
                             f"got {property_name!r}")
        self.property_name = property_name
        self.data_properties = data_properties
        self.stimulus_set = stimulus_set
        self.blank_set = blank_set
        self._visual_degrees = float(visual_degrees)
        self.number_of_trials = int(number_of_trials)
        self.time_bins = [tuple(b) for b in time_bins]
        self.response_threshold = float(response_threshold)
        self._shared = {} if shared is None else shared
        self.seed = seed
        self.similarity_metric = load_metric("ks_similarity", property_name=property_name)
        ceiler = load_metric("property_ceiling", self.similarity_metric)
        self._ceiling_score: Score | None = None
        super().__init__(identifier=identifier or
                         f"neurofond.Ecker2010-orientation.V1-{property_name}",
                         ceiling_func=lambda: ceiler(self.data_properties), version=1,
                         parent="V1-orientation", bibtex=ECKER2010_BIBTEX)

    @property
    def ceiling(self) -> Score:
        if self._ceiling_score is None:
            with _numpy_seed(self.seed):
                self._ceiling_score = self._ceiling_func()
        return self._ceiling_score

    def model_properties(self, candidate: BrainModel) -> PropertyAssembly:
        """Orientation properties of the candidate's responsive neuroids (cached per family)."""
        key = (id(candidate), candidate.identifier, self.stimulus_set.identifier,
               self.number_of_trials, tuple(self.time_bins), self.response_threshold)
        if key not in self._shared:
            self._shared[key] = self._record(candidate)
        return self._shared[key]

    def _look(self, candidate: BrainModel, stimulus_set: Any) -> np.ndarray:
        placed = place_on_screen(stimulus_set, target_visual_degrees=candidate.visual_degrees(),
                                 source_visual_degrees=self._visual_degrees)
        asm = average_trials(candidate.look_at(placed, number_of_trials=self.number_of_trials))
        if "time_bin" in asm.dims:
            asm = asm.mean("time_bin")
        asm = asm.transpose("presentation", "neuroid")
        order = {str(s): i for i, s in enumerate(asm["stimulus_id"].values)}
        take = [order[str(s)] for s in stimulus_set["stimulus_id"].values]
        values = np.asarray(asm.values, dtype=np.float64)[take]
        values[values < 0] = 0.0  # as Brain-Score's Marques2020 pipeline
        return values

    def _record(self, candidate: BrainModel) -> PropertyAssembly:
        candidate.start_recording(BrainModel.RecordingTarget.V1, time_bins=list(self.time_bins))
        resp = self._look(candidate, self.stimulus_set)  # stimulus, neuroid
        blank = self._look(candidate, self.blank_set)[0]  # neuroid
        table = self.stimulus_set
        pair = np.unique(np.stack([np.round(table["sf"].values.astype(float), 9),
                                   np.round(table["radius_deg"].values.astype(float), 9)], 1),
                         axis=0, return_inverse=True)[1].ravel()
        orientations = np.unique(table["orientation"].values.astype(float))
        ori_idx = np.searchsorted(orientations, table["orientation"].values.astype(float))
        n_pair, n_ori, n_neuroid = pair.max() + 1, orientations.size, resp.shape[1]
        dc = np.zeros((n_pair, n_ori, n_neuroid))
        count = np.zeros((n_pair, n_ori, 1))
        np.add.at(dc, (pair, ori_idx), resp)
        np.add.at(count, (pair, ori_idx), 1.0)
        dc = dc / np.maximum(count, 1.0)  # mean over phases
        flat = dc.reshape(n_pair * n_ori, n_neuroid)
        best = flat.argmax(axis=0)
        max_dc = flat[best, np.arange(n_neuroid)]
        good = max_dc > blank + self.response_threshold
        pref_pair = best // n_ori
        curves = dc[pref_pair, :, np.arange(n_neuroid)]  # neuroid, orientation
        props = _orientation_properties(curves[good], orientations)
        props["baseline"] = blank[good]
        props["max_rate"] = max_dc[good]
        names = (*ORIENTATION_PROPERTIES, "baseline", "max_rate")
        return _property_assembly(props, np.flatnonzero(good), names, {
            "model_identifier": candidate.identifier, "n_neuroids": int(n_neuroid),
            "n_responsive": int(good.sum())})

    def __call__(self, candidate: BrainModel) -> Score:
        model = self.model_properties(candidate)
        n_good = int(model.sizes["neuroid"])
        if n_good == 0:
            raise ValueError(
                f"{self.identifier}: no responsive neuroid in {candidate.identifier} (max DC "
                f"response never exceeds the blank response + {self.response_threshold:g}); "
                f"lower response_threshold or check the model's units")
        with _numpy_seed(self.seed):
            raw = self.similarity_metric(model, self.data_properties.copy(deep=True))
        score = ceil_score(raw, self.ceiling)
        score.attrs["n_model_neuroids"] = n_good
        score.attrs["n_data_neuroids"] = int(self.data_properties.sizes["neuroid"])
        return score


def ecker2010_orientation_benchmarks(path: str | Path | None = None, *, quick: bool = False,
                                     number_of_trials: int | None = None,
                                     size_px: int = 224, stimulus_dir: str | Path | None = None,
                                     response_threshold: float = 5.0,
                                     properties: Sequence[str] = ORIENTATION_PROPERTIES,
                                     seed: int | None = 0
                                     ) -> dict[str, OrientationPropertyBenchmark]:
    """``ecker2010-orientation``: one benchmark per property, sharing one model recording."""
    data = ecker2010_orientation_data_properties(path, response_threshold=response_threshold)
    directory = None if stimulus_dir is None else Path(stimulus_dir)
    stim = _orientation_stimulus_set(quick, size_px, directory and directory / "orientation")
    blank = _blank_stimulus_set(size_px, directory and directory / "blank")
    trials = number_of_trials if number_of_trials is not None else (3 if quick else 10)
    shared: dict[Any, Any] = {}
    out = {}
    for name in properties:
        bench = OrientationPropertyBenchmark(name, data, stim, blank, number_of_trials=trials,
                                             response_threshold=response_threshold,
                                             shared=shared, seed=seed)
        out[bench.identifier] = bench
    return out


# --------------------------------------------------------------------------- running


def load_local_benchmarks(name: str = "all", *, quick: bool = False,
                          data_path: str | Path | None = None) -> dict[str, Any]:
    """Local benchmarks by name (:data:`BENCHMARK_NAMES`) -> ``{identifier: benchmark}``.

    ``quick`` asks the model for fewer trials (3 instead of 10) and uses the
    small orientation grid (96 images instead of 1152).
    """
    if name not in BENCHMARK_NAMES:
        raise ValueError(f"benchmark: expected one of {BENCHMARK_NAMES}, got {name!r}")
    out: dict[str, Any] = {}
    if name in ("ecker2010-pls", "all"):
        bench = ecker2010_pls_benchmark(data_path, number_of_trials=3 if quick else 10)
        out[bench.identifier] = bench
    if name in ("ecker2010-orientation", "all"):
        out.update(ecker2010_orientation_benchmarks(data_path, quick=quick))
    return out


def _float(value: Any) -> float:
    try:
        return float(np.asarray(value).squeeze())
    except (TypeError, ValueError):
        return math.nan


def score_benchmarks(candidate: BrainModel, benchmarks: Mapping[str, Any]
                     ) -> list[dict[str, Any]]:
    """Score ``candidate`` on each benchmark: ``[{benchmark, raw, ceiling, ceiled, ...}]``."""
    rows = []
    for identifier, bench in benchmarks.items():
        score = bench(candidate)
        raw = score.attrs.get(Score.RAW_VALUES_KEY)
        ceiling = score.attrs.get("ceiling")
        rows.append({
            "benchmark": identifier,
            "model": candidate.identifier,
            "raw": _float(raw) if raw is not None else math.nan,
            "ceiling": _float(ceiling) if ceiling is not None else math.nan,
            "ceiled": _float(score),
            "error": _float(score.attrs["error"]) if "error" in score.attrs else math.nan,
            "convention": ("ceiled = raw**2 / ceiling" if isinstance(bench, NeuralBenchmark)
                           else "ceiled = raw / ceiling"),
        })
    return rows
