"""``present(engine="fast")``: sparse products and the fused update + spikes in the in-silico
presentation loop, against the default ``engine="step"`` (IterativeVAE.step).

Same seed: the same seed draws and uniforms, potentials equal to float32 rounding, so the
spike counts of the first steps are identical almost everywhere and whole responses are equal
in distribution; Gaussian models step the same either way.
"""

from __future__ import annotations

import numpy as np
import pytest

import neurofond as nf
from neurofond.fond.sparse import fused_available
from neurofond.population.population import PRESENT_ENGINES
from neurofond.stimuli import ScreenGeometry, grating_sweep


@pytest.fixture(scope="module")
def ipvae():
    pop = nf.InSilicoPopulation.from_pretrained("ipvae-k512-b24-photos")
    if not fused_available(pop.model):
        pytest.skip("the compiled kernel neurofond.fond._spikes was not built")
    return pop


@pytest.fixture(scope="module")
def gratings():
    return grating_sweep(ScreenGeometry(16.0, 32), orientations=range(0, 180, 30), sfs=[2.0],
                         contrasts=[0.5])


def _present(pop, stim, engine, seed=3):
    return pop.present(stim, n_trials=4, blank_steps=20, stimulus_steps=40, seed=seed,
                       progress=False, engine=engine, check_steady_state=False)


def test_fast_engine_keeps_the_stream_and_the_responses(ipvae, gratings):
    step = _present(ipvae, gratings, "step")
    fast = _present(ipvae, gratings, "fast")
    assert fast.attrs["engine"] == "fast" and step.attrs["engine"] == "step"
    a, b = step.values.astype(np.int64), fast.values.astype(np.int64)
    first = slice(0, 5)  # the first blank steps: same seed draws, same uniforms
    assert (a[..., first] == b[..., first]).mean() > 0.999
    # whole responses: equal in distribution (mean rate per neuron and stimulus)
    ma, mb = a[..., 20:].mean(axis=(0, 3)), b[..., 20:].mean(axis=(0, 3))
    assert np.corrcoef(ma.ravel(), mb.ravel())[0, 1] > 0.95
    assert abs(a.sum() / b.sum() - 1.0) < 0.05


def test_fast_engine_same_seed_same_spikes(ipvae, gratings):
    one = _present(ipvae, gratings.select(slice(0, 2)), "fast", seed=7)
    two = _present(ipvae, gratings.select(slice(0, 2)), "fast", seed=7)
    np.testing.assert_array_equal(one.values, two.values)


def test_gaussian_models_step_the_same_with_either_engine(gratings):
    pop = nf.InSilicoPopulation.from_pretrained("igvae-k512-b8-photos")
    stim = gratings.select(slice(0, 2))
    np.testing.assert_array_equal(_present(pop, stim, "step").values,
                                  _present(pop, stim, "fast").values)


def test_unknown_engine_is_refused(ipvae, gratings):
    with pytest.raises(ValueError, match="engine: expected one of"):
        ipvae.present(gratings, engine="turbo", progress=False)
    assert PRESENT_ENGINES == ("step", "fast")
