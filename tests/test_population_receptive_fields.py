"""Receptive fields: dictionary RFs, RF summary conventions, Gabor fits, STAs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurofond.fond import IterativeVAE, ModelConfig, Preprocessing
from neurofond.population import (
    InSilicoPopulation,
    PresentationTransform,
    dictionary_rfs,
    fit_gabor,
    gabor_element,
    gabor_fraction,
    random_gabor_dictionary,
    rf_summary,
    spike_triggered_average,
)
from neurofond.stimuli import ScreenGeometry, grating_sweep

K = 32


def _model(phi: np.ndarray, eta: float = 0.1) -> IterativeVAE:
    model = IterativeVAE(ModelConfig.for_family("poisson", n_latents=K),
                         generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.phi.copy_(torch.as_tensor(phi, dtype=torch.float32))
        model.log_eta.fill_(float(np.log(eta)))
    return model


def _population(phi: np.ndarray) -> InSilicoPopulation:
    prep = Preprocessing()
    return InSilicoPopulation(_model(phi), prep, transform=PresentationTransform(prep, gain=40.0))


@pytest.mark.parametrize("true", [
    {"theta": 30.0, "frequency": 0.15, "sigma_x": 2.5, "sigma_y": 3.5, "phase": 40.0,
     "x0": 8.2, "y0": 6.9, "amplitude": 1.3, "offset": 0.1},
    {"theta": 172.0, "frequency": 0.1, "sigma_x": 3.0, "sigma_y": 2.0, "phase": -90.0,
     "x0": 6.0, "y0": 9.0, "amplitude": 0.5, "offset": 0.0},
])
def test_fit_gabor_recovers_known_parameters(true):
    element = gabor_element(16, **true)
    fit = fit_gabor(element)
    assert fit.r2 > 0.99
    p = fit.params
    d_theta = abs((p["theta"] - true["theta"] + 90) % 180 - 90)
    assert d_theta < 1.0
    for key, tol in (("frequency", 0.005), ("x0", 0.1), ("y0", 0.1), ("sigma_x", 0.1),
                     ("sigma_y", 0.1), ("amplitude", 0.02), ("offset", 0.01)):
        assert abs(p[key] - true[key]) < tol, key
    np.testing.assert_allclose(fit.render(16), element, atol=1e-3)


def test_fit_gabor_gives_low_r2_for_white_noise():
    rng = np.random.default_rng(0)
    r2 = [fit_gabor(rng.standard_normal((16, 16))).r2 for _ in range(3)]
    assert max(r2) < 0.35
    assert fit_gabor(np.zeros((16, 16))).r2 == 0.0
    with pytest.raises(ValueError, match="element"):
        fit_gabor(np.full((16, 16), np.nan))


@pytest.mark.parametrize("theta", [30.0, 120.0])
def test_preferred_orientation_follows_the_grating_convention(theta):
    element = gabor_element(16, theta=theta, frequency=0.125, sigma=3.0)
    phi = np.zeros((256, K))
    phi[:, 0] = element.ravel() / np.linalg.norm(element)
    pop = _population(phi)
    summary = rf_summary(pop, pixels_per_degree=16.0)
    assert abs(float(summary["orientation"][0]) - theta) < 2.0
    assert abs(float(summary["sf_cpp"][0]) - 0.125) < 0.01
    assert abs(float(summary["sf_cpd"][0]) - 2.0) < 0.15
    assert abs(float(summary["x_px"][0]) - 7.5) < 0.3
    assert abs(float(summary["x_deg"][0])) < 0.02
    # the grating at that orientation (and its SF) drives the element most
    geo = ScreenGeometry(16.0, 32)
    orientations = np.arange(0.0, 180.0, 15.0)
    stim = grating_sweep(geo, orientations=orientations, sfs=[2.0], phases=np.arange(0, 360, 45))
    inputs = pop.patches(stim.frames, pop.layout(stim))[:, 0, 0]  # (stimulus, D)
    energy = ((inputs - pop.transform.blank_value()) @ phi[:, 0]) ** 2
    best = orientations[np.argmax(energy.reshape(len(orientations), -1).mean(axis=1))]
    assert best == theta


def test_dictionary_rfs_are_columns_reshaped_row_major():
    phi = random_gabor_dictionary(K, seed=3)
    rfs = dictionary_rfs(phi)
    assert rfs.dims == ("neuron", "y", "x") and rfs.shape == (K, 16, 16)
    np.testing.assert_array_equal(rfs.values[5], phi[:, 5].reshape(16, 16))
    np.testing.assert_allclose(rfs["norm"].values, 1.0, rtol=1e-5)
    # a column that is a function of the row (y) only is a horizontal-bar element
    rows = np.arange(16.0)[:, None] * np.ones((1, 16))
    horizontal = np.cos(2 * np.pi * 0.125 * rows)
    assert abs(float(rf_summary(horizontal.reshape(256, 1))["orientation"][0]) - 90) < 1
    vertical = horizontal.T
    assert float(rf_summary(vertical.reshape(256, 1))["orientation"][0]) % 180 < 1


def test_gabor_fraction_counts_live_gabor_elements():
    rng = np.random.default_rng(0)
    phi = random_gabor_dictionary(K, seed=1)
    phi[:, 16:24] = rng.standard_normal((256, 8)) / 16  # live but not Gabor-like
    phi[:, 24:] = rng.standard_normal((256, 8)) * 1e-5  # dead
    result = gabor_fraction(phi, r2_threshold=0.7)
    assert result.n_elements == K and result.n_considered == 24
    assert result.n_gabor == 16
    assert float(result) == pytest.approx(16 / 24)
    assert (result.fits["r2"].values[:16] > 0.99).all()
    with pytest.raises(ValueError, match="r2_threshold"):
        gabor_fraction(phi, r2_threshold=1.5)


def test_spike_triggered_average_recovers_the_element():
    element = gabor_element(16, theta=60.0, frequency=0.15, sigma=2.5)
    phi = np.zeros((256, K))
    phi[:, 0] = element.ravel() / np.linalg.norm(element)
    pop = _population(phi)
    sta = spike_triggered_average(pop, n_noise=2000, steps=20, seed=0, noise_std=3.0)
    assert sta.dims == ("neuron", "y", "x") and float(sta["n_spikes"][0]) > 100
    r = np.corrcoef(sta.values[0].ravel(), element.ravel())[0, 1]
    assert r > 0.8
    # measured on the screen (binary luminance noise through the linear transform)
    lum = spike_triggered_average(pop, n_noise=1000, steps=20, seed=0, space="luminance")
    assert lum.attrs["space"] == "luminance"
    summary = rf_summary(lum.values[:1])
    assert abs((float(summary["orientation"][0]) - 60 + 90) % 180 - 90) < 10
    with pytest.raises(ValueError, match="space"):
        spike_triggered_average(pop, n_noise=10, space="pixels")
