"""Tests for neurofond.insilico.spatial on the shipped iP-VAE (a few neurons, fast)."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurofond.insilico import spatial  # noqa: E402
from neurofond.population import InSilicoPopulation  # noqa: E402
from neurofond.population.windowed import window_responses  # noqa: E402
from neurofond.stimuli import ScreenGeometry, Stimuli, concat  # noqa: E402
from neurofond.stimuli.spatial_sweeps import size_sweep  # noqa: E402

NEURONS = [3, 101, 250]
FAST = dict(canvas_px=32, blank_ms=100.0, stimulus_ms=100.0, window_ms=(50.0, 100.0))


@pytest.fixture(scope="module")
def pop():
    torch.set_num_threads(1)
    return InSilicoPopulation.from_pretrained("ipvae-k512-b24-photos", patch_size_deg=1.0,
                                              ms_per_step=10.0)


@pytest.fixture(scope="module")
def prefs(pop):
    return spatial.grating_preferences(pop, orientations=np.arange(0, 180, 30.0),
                                       sfs=(2.0, 4.0), phases=(0.0, 180.0), **FAST)


def test_preferences_follow_the_dictionary_orientation(pop, prefs):
    from neurofond.population import rf_summary

    rf = rf_summary(pop)
    live = rf["norm"].values > np.quantile(rf["norm"].values, 0.5)
    d = np.abs((prefs["preferred_orientation"].values - rf["orientation"].values + 90) % 180
               - 90)
    # 30-deg grid: a neuron's preferred grating lies within one grid step of its element
    assert np.mean(d[live] <= 30.0) > 0.8
    assert np.all(prefs["spontaneous_rate"].values >= 0)
    assert np.all(np.abs(prefs["rf_x_deg"].values) <= 0.5)


def test_size_tuning_is_the_curve_of_each_neurons_own_sweep(pop, prefs):
    """Same seed, same stimuli (the neuron's sweep + a gray control) -> identical curve."""
    diam, phases = (0.25, 0.5, 1.0, 5.0), (0.0, 180.0)
    ds = spatial.measure_size_tuning(pop, neurons=[NEURONS[1]], preferences=prefs,
                                     diameters_deg=diam, phases=phases, seed=3, **FAST)
    unit = NEURONS[1]
    ori = float(prefs["preferred_orientation"][unit])
    sf = float(prefs["preferred_sf"][unit])
    centre = tuple(np.round(prefs[k].values[unit] / 0.125) * 0.125
                   for k in ("rf_x_deg", "rf_y_deg"))
    assert float(ds["preferred_orientation"][0]) == ori and float(ds["preferred_sf"][0]) == sf
    assert (float(ds["center_x_deg"][0]), float(ds["center_y_deg"][0])) == centre
    g = ScreenGeometry(16.0, 32)
    stim = size_sweep(g, diam, orientations=ori, sf=sf, phases=phases, center_deg=centre)
    stim.params["group"] = np.zeros(len(stim))
    gray = Stimuli(np.full((1, 1, 32, 32), 0.5, np.float32), {"group": np.array([-1.0])},
                   geometry=g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resp, _ = window_responses(pop, concat([stim, gray]), n_trials=1, blank_steps=10,
                                   stimulus_steps=10, window_steps=(5, 10), seed=4,
                                   progress=False)
    vals = np.asarray(resp.values, dtype=float)[0, :, unit, 0] * 1000.0 / 50.0
    expected = vals[:-1].reshape(len(diam), len(phases)).mean(1)
    np.testing.assert_allclose(ds["curve"].values[:, 0], expected, rtol=1e-9)
    np.testing.assert_allclose(float(ds["baseline"][0]), vals[-1], rtol=1e-9)
    peak = expected.max()
    assert float(ds["si"][0]) == pytest.approx((peak - expected[-1]) / (peak - vals[-1]))
    assert float(ds["preferred_size_deg"][0]) == diam[int(np.argmax(expected))]
    assert ds.attrs["n_stimuli"] == len(stim) and ds.attrs["n_groups"] == 1


def test_neurons_sharing_preferences_share_stimuli(pop, prefs):
    ds = spatial.measure_size_tuning(pop, neurons=NEURONS, preferences=prefs,
                                     diameters_deg=(0.5, 5.0), phases=(0.0,),
                                     center_step_deg=10.0, **FAST)
    keys = {(float(a), float(b)) for a, b in zip(ds["preferred_orientation"].values,
                                                 ds["preferred_sf"].values)}
    assert ds.attrs["n_groups"] == len(keys)
    np.testing.assert_array_equal(ds["center_x_deg"].values, 0.0)  # snapped to a 10-deg grid
    np.testing.assert_array_equal(ds["unit"].values, NEURONS)
    assert ds["curve"].dims == ("size_deg", "neuron")


def test_cross_orientation_conditions_and_blank_baseline(pop, prefs):
    ds = spatial.measure_cross_orientation(pop, neurons=NEURONS, preferences=prefs,
                                           mask_contrasts=(0.25, 0.5), phases=(0.0, 180.0),
                                           **FAST)
    si = ds["suppression_index"]
    assert si.dims == ("test_contrast", "mask_contrast", "neuron")
    ok = ds["reason"].values[0] == ""
    assert ok.sum() >= 2  # the neurons respond to their preferred grating
    np.testing.assert_allclose(si.sel(mask_contrast=0.0).values[0, ok], 0.0, atol=1e-12)
    # the mask-alone response at mask contrast 0 is the blank, which is the baseline
    np.testing.assert_allclose(ds["r_mask_alone"].sel(mask_contrast=0.0).values,
                               ds["baseline"].values)
    assert np.all(ds["r_test"].values[0, ok] > ds["baseline"].values[ok])
    assert np.isnan(si.values[0, :, ~ok]).all()


def test_bad_arguments(pop, prefs):
    with pytest.raises(ValueError, match="neurons"):
        spatial.measure_size_tuning(pop, neurons=[600], preferences=prefs)
    with pytest.raises(ValueError, match="preferences"):
        spatial.measure_size_tuning(pop, neurons=[1], preferences=prefs.isel(neuron=[0]))
    with pytest.raises(ValueError, match="window_ms"):
        spatial.measure_size_tuning(pop, neurons=[1], preferences=prefs, window_ms=(55, 100))
    with pytest.raises(ValueError, match="diameters_deg"):
        spatial.measure_size_tuning(pop, neurons=[1], preferences=prefs,
                                    diameters_deg=(1.0, 0.5))
    with pytest.raises(ValueError, match="sfs"):
        spatial.grating_preferences(pop, sfs=(2.0, 9.0))
    no_deg = InSilicoPopulation(pop.model, pop.preprocessing)
    with pytest.raises(ValueError, match="patch_size_deg"):
        spatial.grating_preferences(no_deg)


def test_preferences_without_rf_centres_use_the_dictionary_centroids(pop, prefs):
    bare = prefs[["preferred_orientation", "preferred_sf"]]
    a = spatial.measure_size_tuning(pop, neurons=[NEURONS[0]], preferences=bare,
                                    diameters_deg=(0.5, 5.0), phases=(0.0,), **FAST)
    b = spatial.measure_size_tuning(pop, neurons=[NEURONS[0]], preferences=prefs,
                                    diameters_deg=(0.5, 5.0), phases=(0.0,), **FAST)
    np.testing.assert_array_equal(a["center_x_deg"].values, b["center_x_deg"].values)
    np.testing.assert_allclose(a["curve"].values, b["curve"].values)
