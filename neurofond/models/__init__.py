"""Baseline V1 candidate models with the same ``present() -> Responses`` interface as a population.

Each model is a separable linear-nonlinear-Poisson (LNP) model: a spatial stage on static
images, one fixed temporal response and Poisson spikes
(:class:`~neurofond.models.base.BaselineModel`). ``model.present(stimuli, n_trials=...,
blank_steps=..., stimulus_steps=..., seed=...)`` returns a ``Responses`` array exactly like
:meth:`neurofond.population.InSilicoPopulation.present`, so every analysis and the comparison
engine (:mod:`neurofond.compare`) take either.

- :class:`GaborEnergyBaseline`: quadrature Gabor energy, the complex-cell model (Adelson &
  Bergen 1985);
- :class:`PixelPCABaseline`: projections of the pixels onto principal components of
  reference gratings (ON / OFF rectified as neurons);
- :class:`LCABaseline`: sparse codes of the Locally Competitive Algorithm (Rozell, Johnson,
  Baraniuk & Olshausen 2008) on the shipped dictionary ``lca-k512-photos``, learned on the same
  photos as the shipped iP-VAE;
- :class:`StimulusFloorBaseline`: a cosine basis of the stimulus parameters, the floor any
  model must beat;
- :func:`stimulus_time_course`, :func:`gamma_kernel`: the temporal response.
"""

from .base import DEFAULT_STATIC_STEPS, BaselineModel, reference_gratings, static_frames
from .gabor_energy import GaborEnergyBaseline
from .lca import (
    LCA_NAME,
    LCABaseline,
    lca_codes,
    lca_energy,
    learn_dictionary,
    load_lca,
    save_lca,
    soft_threshold,
)
from .pixel_pca import PixelPCABaseline
from .stimulus_floor import StimulusFloorBaseline
from .temporal import gamma_kernel, stimulus_time_course

#: Baseline models by name (the names the comparison engine and scripts accept).
BASELINES = {"gabor-energy": GaborEnergyBaseline, "pixel-pca": PixelPCABaseline}

__all__ = [
    "BASELINES",
    "DEFAULT_STATIC_STEPS",
    "BaselineModel",
    "GaborEnergyBaseline",
    "LCABaseline",
    "LCA_NAME",
    "learn_dictionary",
    "lca_codes",
    "lca_energy",
    "load_lca",
    "save_lca",
    "soft_threshold",
    "PixelPCABaseline",
    "StimulusFloorBaseline",
    "gamma_kernel",
    "reference_gratings",
    "static_frames",
    "stimulus_time_course",
]
