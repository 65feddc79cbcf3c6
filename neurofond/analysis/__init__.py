"""In-silico and in-vivo electrophysiology analyses over ``Responses`` arrays.

Plain functions (pynapple style) taking a :mod:`neurofond.responses` ``Responses`` array
(or a tuning curve computed from one) and returning labelled xarray objects with their
provenance in ``.attrs``. One module per analysis domain (elephant style); torch-free.
Cross-validated predictivity is split along its concerns: :mod:`~neurofond.analysis.splits`
(condition splits), :mod:`~neurofond.analysis.scores` (per-neuron scores),
:mod:`~neurofond.analysis.estimators` (ridge, PLS, Poisson GLM) and
:mod:`~neurofond.analysis.predictivity` (the cross-validation driver).
"""

from neurofond.analysis.ceilings import (
    ceiled_score,
    fev,
    feve,
    spearman_brown,
    split_half_reliability,
)
from neurofond.analysis.contrast import fit_naka_rushton, naka_rushton
from neurofond.analysis.correlations import (
    correlation_pairs,
    noise_correlation_by_distance,
    noise_correlation_by_signal,
    noise_correlations,
    noise_correlations_over_time,
    signal_correlations,
)
from neurofond.analysis.cross_orientation import (
    cross_orientation_curve,
    cross_orientation_suppression,
)
from neurofond.analysis.direction import direction_selectivity
from neurofond.analysis.estimators import PLSPredictor, PoissonGLMPredictor, RidgePredictor
from neurofond.analysis.latency import psth, response_latency
from neurofond.analysis.predictivity import cross_validated_predictivity
from neurofond.analysis.receptive_field_maps import (
    bar_responses,
    rf_centre_size,
    sparse_noise_rf,
)
from neurofond.analysis.reliability import trial_reliability
from neurofond.analysis.scores import pearson_r
from neurofond.analysis.similarity import ks_similarity, ks_similarity_bootstrap
from neurofond.analysis.sparseness import (
    lifetime_sparseness,
    population_sparseness,
    proportion_zeros,
    treves_rolls_sparseness,
)
from neurofond.analysis.spatial_integration import doe_size_curve, size_tuning
from neurofond.analysis.splits import ConditionSplitter, condition_splits
from neurofond.analysis.tuning import (
    conditional_tuning_curve,
    modulation_ratio,
    orientation_selectivity,
    sf_selectivity,
    stimulus_window,
    tuning_curve,
)
from neurofond.analysis.variability import (
    fano_factor,
    fano_factor_over_time,
    mean_matched_fano,
)

__all__ = [
    "tuning_curve",
    "orientation_selectivity",
    "sf_selectivity",
    "modulation_ratio",
    "naka_rushton",
    "fit_naka_rushton",
    "fano_factor",
    "fano_factor_over_time",
    "mean_matched_fano",
    "treves_rolls_sparseness",
    "lifetime_sparseness",
    "population_sparseness",
    "proportion_zeros",
    "psth",
    "response_latency",
    "ks_similarity",
    "ks_similarity_bootstrap",
    "condition_splits",
    "ConditionSplitter",
    "RidgePredictor",
    "PLSPredictor",
    "PoissonGLMPredictor",
    "cross_validated_predictivity",
    "pearson_r",
    "split_half_reliability",
    "spearman_brown",
    "fev",
    "feve",
    "ceiled_score",
    "noise_correlations",
    "signal_correlations",
    "correlation_pairs",
    "noise_correlation_by_signal",
    "noise_correlation_by_distance",
    "noise_correlations_over_time",
    "direction_selectivity",
    "conditional_tuning_curve",
    "stimulus_window",
    "trial_reliability",
    "size_tuning",
    "doe_size_curve",
    "cross_orientation_suppression",
    "cross_orientation_curve",
    "sparse_noise_rf",
    "rf_centre_size",
    "bar_responses",
]
