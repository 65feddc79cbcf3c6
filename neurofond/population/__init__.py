"""Trained FOND models as populations of in-silico V1 neurons.

- :class:`InSilicoPopulation`: a checkpoint as neurons; ``present(stimuli, ...)``
  returns spike counts as ``Responses`` (trial, stimulus, neuron, time).
- :class:`PresentationTransform`: luminance frames -> model inputs ("linear",
  contrast-preserving, or "training", the training pipeline).
- :mod:`~neurofond.population.receptive_fields`: dictionary RFs, spike-triggered
  averages, RF summaries (position, orientation, SF), Gabor fits.

Inside, a presentation is split along its concerns: :mod:`.timing` (the trial
schedule: blank, frames, recorded steps), :mod:`.tiling` (tile positions,
resampling, patches), :mod:`.readout` (per-family outputs, units and sign
conventions) and :mod:`.population` (the population and its loop);
:mod:`.windowed` presents with one bin per response window.
"""

from .. import _torch_env  # noqa: F401  (process settings before torch loads)

# isort: split
from .population import (
    DEFAULT_STATIC_STEPS,
    SETTLING_RTOL,
    InSilicoPopulation,
    ParameterError,
    SpontaneousStateWarning,
    TileLayout,
)
from .receptive_fields import (
    GABOR_PARAMS,
    GaborFit,
    GaborFraction,
    dictionary_rfs,
    fit_gabor,
    fit_gabors,
    gabor_element,
    gabor_fraction,
    random_gabor_dictionary,
    rf_summary,
    spike_triggered_average,
)
from .transform import MODES, PresentationTransform, calibrate_gain

__all__ = [
    "DEFAULT_STATIC_STEPS",
    "GABOR_PARAMS",
    "GaborFit",
    "GaborFraction",
    "InSilicoPopulation",
    "MODES",
    "ParameterError",
    "PresentationTransform",
    "TileLayout",
    "calibrate_gain",
    "dictionary_rfs",
    "fit_gabor",
    "fit_gabors",
    "gabor_element",
    "gabor_fraction",
    "random_gabor_dictionary",
    "rf_summary",
    "spike_triggered_average",
    "SETTLING_RTOL",
    "SpontaneousStateWarning",
]
