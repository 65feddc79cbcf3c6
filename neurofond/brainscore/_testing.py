"""Small models and stimuli for tests, benchmarks and examples of neurofond.brainscore.

Not part of the public API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["grating_stimuli", "has_coord", "random_gabor_checkpoint", "synthetic_v1_responses"]


def has_coord(assembly: Any, name: str) -> bool:
    """Coordinate or MultiIndex level (xarray 2022.3 hides levels from ``.coords``)."""
    try:
        assembly[name]
    except KeyError:
        return False
    return True


def random_gabor_checkpoint(path: str | Path, *, family: str = "poisson", k: int = 32,
                            seed: int = 0, overwrite: bool = True) -> Path:
    """Save an untrained model whose decoder holds ``k`` random unit-norm Gabors.

    Dynamics as in ``benchmarks/bench_population.py`` (eta = 0.03, sigma_x =
    1.5: stable, sparse spiking); default preprocessing.
    """
    import torch

    from ..fond import IterativeVAE, ModelConfig, Preprocessing, save_checkpoint
    from ..population import random_gabor_dictionary

    model = IterativeVAE(ModelConfig.for_family(family, n_latents=k),
                         generator=torch.Generator().manual_seed(seed))
    phi = random_gabor_dictionary(k, seed=seed)
    noise = np.random.default_rng(seed + 1).standard_normal(phi.shape).astype(np.float32)
    with torch.no_grad():
        model.phi.copy_(torch.from_numpy(phi + 0.02 * noise))
        if hasattr(model, "log_eta"):
            model.log_eta.fill_(float(np.log(0.03)))
        if hasattr(model, "log_sigma_x"):
            model.log_sigma_x.fill_(float(np.log(1.5)))
    return save_checkpoint(model, Path(path), preprocessing=Preprocessing(), overwrite=overwrite)


def grating_stimuli(orientations: Any = (0.0, 45.0, 90.0, 135.0), *, sf: float = 3.0,
                    contrasts: Any = (1.0,), size_deg: float = 8.0, size_px: int = 64) -> Any:
    """Full-field static gratings (``Stimuli``) with string stimulus ids."""
    from ..stimuli import ScreenGeometry, grating_sweep

    stim = grating_sweep(ScreenGeometry.from_size_deg(size_deg, size_px),
                         orientations=list(orientations), sfs=[sf], contrasts=list(contrasts))
    stim.params["stimulus_id"] = np.array(
        [f"ori{o:g}_c{c:g}" for o, c in zip(stim.params["orientation"], stim.params["contrast"])],
        dtype=object)
    return stim


def synthetic_v1_responses(stimuli: Any, *, n_neurons: int = 12, n_trials: int = 8,
                           seed: int = 0) -> Any:
    """Poisson ``Responses`` of orientation-tuned fake neurons to ``stimuli`` (10 ms bins,
    -100..300 ms, response from 50 ms)."""
    from ..responses import make_responses

    rng = np.random.default_rng(seed)
    ori = np.deg2rad(np.asarray(stimuli.params["orientation"], dtype=float))
    con = np.asarray(stimuli.params.get("contrast", np.ones(ori.size)), dtype=float)
    pref = rng.uniform(0, np.pi, n_neurons)
    tuning = np.exp(2.0 * (np.cos(2 * (ori[:, None] - pref[None])) - 1))  # stim, neuron
    rate = 5.0 + 60.0 * con[:, None] * tuning  # spikes/s
    times = np.arange(-100, 300, 10.0)
    on = (times >= 50).astype(float)
    lam = (5.0 + (rate[..., None] - 5.0) * on) * 0.01  # per 10 ms bin
    counts = rng.poisson(np.broadcast_to(lam, (n_trials, *lam.shape)))
    return make_responses(counts.astype(np.float32), bin_ms=10.0, time_start_ms=times,
                          stimulus_coords={k: np.asarray(v) for k, v in stimuli.params.items()},
                          neuron_coords={"neuron_id": [f"n{i}" for i in range(n_neurons)]},
                          source="synthetic")
