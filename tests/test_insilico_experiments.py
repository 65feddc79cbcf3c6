"""The in-silico experiments of the main job (neurofond.insilico) on the shipped iP-VAE.

Independent references: the grating tuning against the dictionary's own orientation and SF
(:func:`neurofond.population.rf_summary`, no stimulus involved); the Fano factors against the
value ``analyses/variability.py`` measured (median 0.86, IQR 0.70-1.03, commit a8e95fd);
the latency against the paper's claim (shorter at higher contrast, Fig. 8) and
``analyses/contrast_latency.py`` (7.5 ms at contrast 1); sparsification against the paper's
(more zeros late than early, Fig. 3). Bad input names the argument.
"""

from __future__ import annotations

import numpy as np
import pytest

from neurofond.insilico.contrast import contrast_latency
from neurofond.insilico.correlations import noise_correlation_experiment
from neurofond.insilico.direction import direction_tuning
from neurofond.insilico.sparsification import sparsification_over_time
from neurofond.insilico.tuning import grating_tuning
from neurofond.insilico.variability import fano_factors
from neurofond.population import InSilicoPopulation, rf_summary
from neurofond.pretrained import DEFAULT_MODEL


@pytest.fixture(scope="module")
def pop():
    return InSilicoPopulation.from_pretrained(DEFAULT_MODEL, ms_per_step=10.0,
                                              patch_size_deg=1.0)


@pytest.fixture(scope="module")
def tuning(pop):
    return grating_tuning(pop, seed=0)


def test_grating_tuning_agrees_with_the_dictionary(pop, tuning):
    rf = rf_summary(pop)
    sel = tuning["responsive"].values & tuning["orientation_selective"].values
    assert sel.sum() > 400
    d = (tuning["preferred_orientation"].values - rf["orientation"].values + 90.0) % 180.0 - 90.0
    assert np.median(np.abs(d[sel])) < 7.5  # measured 3.7 deg; grid step 15 deg
    assert np.mean(np.abs(d[sel]) < 15.0) > 0.9  # measured 98 %
    from scipy.stats import spearmanr

    rho = spearmanr(tuning["preferred_sf"].values[sel], rf["sf_luminance_cpd"].values[sel])[0]
    assert rho > 0.6  # measured 0.83
    frac = tuning.attrs["fraction_orientation_selective"]
    assert frac == pytest.approx(sel.sum() / tuning["responsive"].values.sum())
    assert 0.9 <= frac <= 1.0  # tuning survey: 100 % of the retrained iP-VAE
    assert tuning["orientation_curve"].dims == ("orientation", "neuron")
    assert tuning.attrs["model"] == DEFAULT_MODEL and tuning.attrs["settings"]["seed"] == 0


def test_contrast_latency_shortens_with_contrast(tuning):
    pop5 = InSilicoPopulation.from_pretrained(DEFAULT_MODEL, ms_per_step=5.0,
                                              patch_size_deg=1.0)
    ds = contrast_latency(pop5, contrasts=[0.2, 0.4, 0.7, 1.0], tuning=tuning, n_neurons=8,
                          n_trials=10, seed=0)
    onset = ds["onset_ms"].values
    assert np.isfinite(onset[-1]) and onset[-1] <= 20.0  # the script: 7.5 ms at contrast 1
    first = onset[np.isfinite(onset)][0]
    assert first > onset[-1] + 10.0
    assert ds.attrs["shift_ms"] == pytest.approx(first - onset[-1])
    rate = ds["evoked_rate"].values
    assert np.all(np.diff(rate) > 0)  # the contrast response rises
    assert ds.attrs["naka_rushton_params"]["r2"] > 0.9
    assert ds["n_responding"].values[-1] == ds.attrs["n_neurons"] == 8


def test_fano_factors_match_the_variability_script(pop):
    ds = fano_factors(pop, seed=0)
    # analyses/variability.py (same protocol and seed): median 0.86, IQR 0.70-1.03
    assert ds.attrs["median_fano_factor"] == pytest.approx(0.86, abs=0.03)
    assert ds.attrs["q25"] == pytest.approx(0.70, abs=0.04)
    assert ds.attrs["q75"] == pytest.approx(1.03, abs=0.04)
    assert ds.attrs["n_pairs"] == int(ds["included"].values.sum())
    assert ds["fano_median"].dims == ("time",)


def test_sparsification_more_zeros_late_than_early(pop):
    ds = sparsification_over_time(pop, n_trials=4, seed=0)
    assert ds.attrs["sparsification"] > 0.03  # measured +0.11
    z = ds["proportion_zeros"].values
    assert np.all((z >= 0) & (z <= 1))
    assert np.all(ds["proportion_zeros_sem"].values[1:] >= 0)


def test_noise_correlations_are_small_and_counted(pop):
    ds = noise_correlation_experiment(pop, orientations=[0, 45, 90, 135], sfs=[2.0],
                                      contrasts=[0.3], n_trials=12, min_trials=10, seed=0)
    assert abs(ds.attrs["mean_r_sc"]) < 0.02  # measured 0.0002 at the default sizes
    assert int(ds["r_sc_histogram"].values.sum()) == ds.attrs["n_pairs"]
    n = ds.attrs["n_neurons_included"]
    assert ds.attrs["n_pairs"] <= n * (n - 1) // 2


def test_direction_tuning_values_in_range(pop):
    ds = direction_tuning(pop, directions=[0, 90, 180, 270], sfs=[2.0], seed=0)
    resp = ds["responsive"].values
    dsi = ds["dsi"].values[resp]
    assert resp.sum() > 10 and np.all((dsi >= 0) & (dsi <= 1))  # 26 at 4 directions x 1 SF
    assert 0.0 <= ds.attrs["fraction_direction_selective"] <= 1.0
    assert set(np.unique(ds["preferred_direction"].values[resp])) <= {0.0, 90.0, 180.0, 270.0}


@pytest.mark.parametrize(("func", "kwargs", "pattern"), [
    (grating_tuning, {"orientations": [0, 90]}, r"orientations: expected >= 4"),
    (grating_tuning, {"window_ms": (5.0, 100.0)}, r"window_ms: 5 ms is not a whole number"),
    (grating_tuning, {"contrast": 1.5}, r"contrast: expected"),
    (contrast_latency, {"contrasts": [0.5, 1.0]}, r"contrasts: expected >= 4"),
    (contrast_latency, {"tf_hz": 3.0}, r"tf_hz: .* not a whole number"),
    (fano_factors, {"n_trials": 1}, r"n_trials: expected an integer >= 2"),
    (fano_factors, {"min_count": -1}, r"min_count"),
    (noise_correlation_experiment, {"n_trials": 5}, r"n_trials: expected >= min_trials"),
    (direction_tuning, {"settle_ms": 600.0}, r"settle_ms: expected less than"),
])
def test_bad_arguments_name_the_argument(pop, func, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        func(pop, **kwargs)


def test_a_population_without_degrees_is_refused():
    pop = InSilicoPopulation.from_pretrained(DEFAULT_MODEL)
    with pytest.raises(ValueError, match="population: patch_size_deg must be set"):
        grating_tuning(pop)
