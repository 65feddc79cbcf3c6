"""Neural benchmarks: Brain-Score's ``NeuralBenchmark`` on local recordings.

:class:`LocalNeuralBenchmark` is Brain-Score's ``NeuralBenchmark`` (metric, e.g. ``pls``,
and the ``internal_consistency`` ceiling) on an assembly held in memory, with the ceiling
kept per object and a candidate's separate trials averaged per stimulus
(:class:`TrialAveragingCandidate`). :func:`neural_benchmark_from_responses` builds one from
any recorded ``Responses``; :func:`ecker2010_pls_benchmark` is ``ecker2010-pls`` (see
:mod:`neurofond.brainscore.benchmarks`). The Ecker 2010 stimulus parameters are the
dataset's facts in :data:`neurofond.recordings.ecker2010.ECKER2010_STIMULUS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .. import _guard  # noqa: F401  (ImportError naming `pip install brainscore-vision`)

# isort: split
from brainscore_core.metrics import Score
from brainscore_vision import load_ceiling, load_metric
from brainscore_vision.benchmark_helpers.neural_common import NeuralBenchmark, average_repetition
from brainscore_vision.model_interface import BrainModel

from ...recordings.ecker2010 import ECKER2010_STIMULUS
from ...stimuli import ScreenGeometry
from .. import cache_home
from ..assemblies import (
    ECKER2010_PLS_SESSIONS,
    ecker2010_assembly,
    pd_duplicated,
    responses_to_assembly,
)
from ..model import average_trials
from ..stimuli import grating_stimulus_set
from ._common import ECKER2010_BIBTEX

__all__ = [
    "LocalNeuralBenchmark",
    "TrialAveragingCandidate",
    "ecker2010_pls_benchmark",
    "ecker2010_stimulus_set",
    "load_ecker2010_pls",
    "neural_benchmark_from_responses",
]


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



def load_ecker2010_pls(*, quick: bool = False, data_path: str | Path | None = None
                       ) -> dict[str, LocalNeuralBenchmark]:
    """Registry loader of ``ecker2010-pls``: ``{identifier: benchmark}``.

    ``quick`` asks the model for 3 trials per stimulus instead of 10.
    """
    bench = ecker2010_pls_benchmark(data_path, number_of_trials=3 if quick else 10)
    return {bench.identifier: bench}
