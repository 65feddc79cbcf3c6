"""Property benchmarks: Marques et al. (2021)-style orientation-tuning distributions.

:class:`OrientationPropertyBenchmark` compares the distribution of one orientation property
of a candidate's responsive neuroids (Marques2020 orientation grid) with that of recorded
units, with Brain-Score's ``ks_similarity`` and ``property_ceiling``;
:func:`ecker2010_orientation_benchmarks` is ``ecker2010-orientation`` on the Ecker 2010
units (see :mod:`neurofond.brainscore.benchmarks`). Windows follow
:class:`neurofond.responses.Window`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import _guard  # noqa: F401  (ImportError naming `pip install brainscore-vision`)

# isort: split
from brainscore_core.metrics import Score
from brainscore_core.supported_data_standards.brainio.assemblies import PropertyAssembly
from brainscore_vision import load_metric
from brainscore_vision.benchmark_helpers.properties_common import (
    calc_bandwidth,
    calc_circular_variance,
    calc_orthogonal_preferred_ratio,
)
from brainscore_vision.benchmark_helpers.screen import place_on_screen
from brainscore_vision.benchmarks import BenchmarkBase, ceil_score
from brainscore_vision.model_interface import BrainModel

from ...responses import Window
from ...stimuli import ScreenGeometry, marques2020_orientation_grid
from ...stimuli.marques2020 import CANVAS_DEG, ORIENTATION_SET_SFS
from .. import cache_home
from ..assemblies import _ecker_path, _property_assembly
from ..model import average_trials
from ..stimuli import grating_stimulus_set
from ._common import ECKER2010_BIBTEX, _numpy_seed

__all__ = [
    "ORIENTATION_PROPERTIES",
    "PROPERTY_BINS",
    "OrientationPropertyBenchmark",
    "ecker2010_orientation_benchmarks",
    "ecker2010_orientation_data_properties",
    "load_ecker2010_orientation",
]

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
    from ...recordings import load_ecker2010

    window = Window.parse(window_ms)
    baseline = Window.parse(baseline_ms, "baseline_ms")
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
        rates = window.rates(resp)  # trial, stimulus, neuron (spikes/s)
        base = np.nanmean(baseline.rates(resp, "baseline_ms"), axis=(0, 1))
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
    return _property_assembly(table, ids, names, bins=PROPERTY_BINS, attrs={
        "source": "ecker2010", "window_ms": f"{window.start_ms:g}-{window.end_ms:g}",
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
        return _property_assembly(props, np.flatnonzero(good), names, bins=PROPERTY_BINS, attrs={
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



def load_ecker2010_orientation(*, quick: bool = False, data_path: str | Path | None = None
                               ) -> dict[str, OrientationPropertyBenchmark]:
    """Registry loader of ``ecker2010-orientation``: one benchmark per property.

    ``quick`` uses the small orientation grid (96 images instead of 1152) and 3 trials.
    """
    return ecker2010_orientation_benchmarks(data_path, quick=quick)
