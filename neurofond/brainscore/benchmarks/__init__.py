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
256 px (32 px/deg), written as 8-bit PNG files into a cache folder. These are
facts of the dataset, kept beside its reader:
:data:`neurofond.recordings.ecker2010.ECKER2010_STIMULUS` (re-exported here).

Layout
------
One file per benchmark kind: :mod:`~neurofond.brainscore.benchmarks.neural`
(``LocalNeuralBenchmark``, ``ecker2010-pls``) and
:mod:`~neurofond.brainscore.benchmarks.orientation`
(``OrientationPropertyBenchmark``, ``ecker2010-orientation``); assemblies in
:mod:`neurofond.brainscore.assemblies`; names and loaders in the registry
:mod:`neurofond.brainscore.registry` (:data:`BENCHMARK_LOADERS`), which
:func:`load_local_benchmarks` reads. Response windows follow the one window
rule, :class:`neurofond.responses.Window` (whole bins inside the window; an
edge cutting a bin is an error).

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

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import _guard  # noqa: F401  (ImportError naming `pip install brainscore-vision`)

# isort: split
from brainscore_core.metrics import Score
from brainscore_vision.benchmark_helpers.neural_common import NeuralBenchmark
from brainscore_vision.model_interface import BrainModel

from ...recordings.ecker2010 import ECKER2010_STIMULUS
from ..assemblies import (
    ECKER2010_PLS_SESSIONS,
    ecker2010_assembly,
    pd_duplicated,
    responses_to_assembly,
)
from ..registry import BENCHMARK_LOADERS, BENCHMARK_NAMES, benchmark_loader
from ._common import ECKER2010_BIBTEX
from .neural import (
    LocalNeuralBenchmark,
    TrialAveragingCandidate,
    ecker2010_pls_benchmark,
    ecker2010_stimulus_set,
    neural_benchmark_from_responses,
)
from .orientation import (
    ORIENTATION_PROPERTIES,
    PROPERTY_BINS,
    OrientationPropertyBenchmark,
    ecker2010_orientation_benchmarks,
    ecker2010_orientation_data_properties,
)

__all__ = [
    "BENCHMARK_LOADERS",
    "BENCHMARK_NAMES",
    "ECKER2010_BIBTEX",
    "ECKER2010_PLS_SESSIONS",
    "ECKER2010_STIMULUS",
    "ORIENTATION_PROPERTIES",
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
    "pd_duplicated",
    "responses_to_assembly",
    "score_benchmarks",
]


def load_local_benchmarks(name: str = "all", *, quick: bool = False,
                          data_path: str | Path | None = None) -> dict[str, Any]:
    """Local benchmarks by name (:data:`BENCHMARK_NAMES`) -> ``{identifier: benchmark}``.

    Each name is looked up in the registry :data:`BENCHMARK_LOADERS`
    (:mod:`neurofond.brainscore.registry`); ``"all"`` loads every registered benchmark in
    registry order. ``quick`` asks the model for fewer trials (3 instead of 10) and uses
    the small orientation grid (96 images instead of 1152).
    """
    if name not in BENCHMARK_NAMES:
        raise ValueError(f"benchmark: expected one of {BENCHMARK_NAMES}, got {name!r}")
    names = list(BENCHMARK_LOADERS) if name == "all" else [name]
    out: dict[str, Any] = {}
    for key in names:
        out.update(benchmark_loader(key)(quick=quick, data_path=data_path))
    return out


def _float(value: Any) -> float:
    try:
        return float(np.asarray(value).squeeze())
    except (TypeError, ValueError):
        return math.nan


#: BLAS threads while a benchmark scores (see :func:`score_benchmarks`).
SCORING_BLAS_THREADS = 1


def score_benchmarks(candidate: BrainModel, benchmarks: Mapping[str, Any]
                     ) -> list[dict[str, Any]]:
    """Score ``candidate`` on each benchmark: ``[{benchmark, raw, ceiling, ceiled, ...}]``.

    Notes
    -----
    Each benchmark runs with the BLAS libraries of the process (numpy's OpenBLAS, ...)
    limited to :data:`SCORING_BLAS_THREADS` thread (``threadpoolctl``). Brain-Score's PLS
    regression (25 components, NIPALS) is sensitive to the summation order of its products:
    on this project's machine the quick Ecker 2010 PLS raw score of the shipped iP-VAE was
    0.592 with one OpenBLAS thread and 0.562 with two, the model's responses being identical
    (they do not depend on the thread count). With the limit, a score depends only on the
    model, the benchmark and the machine's BLAS build, not on how many cores the machine has
    or on ``OMP_NUM_THREADS``. The model's own torch threads are not limited.
    """
    from threadpoolctl import threadpool_limits

    rows = []
    for identifier, bench in benchmarks.items():
        with threadpool_limits(limits=SCORING_BLAS_THREADS, user_api="blas"):
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
