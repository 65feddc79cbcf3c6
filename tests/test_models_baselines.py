"""neurofond.models: baseline models present stimuli and return Responses like a population."""

from __future__ import annotations

import numpy as np
import pytest

from neurofond.analysis import fano_factor, tuning_curve
from neurofond.models import (
    BASELINES,
    GaborEnergyBaseline,
    PixelPCABaseline,
    stimulus_time_course,
)
from neurofond.responses import Window, select_stimuli, validate_responses
from neurofond.stimuli import ScreenGeometry, grating_sweep

ORIS = np.arange(0.0, 180.0, 22.5)


@pytest.fixture(scope="module")
def geometry():
    return ScreenGeometry.from_size_deg(4.0, 96)


@pytest.fixture(scope="module")
def gratings(geometry):
    return grating_sweep(geometry, orientations=ORIS, sfs=[3.0], phases=[0.0, 90.0],
                         contrasts=[0.25, 1.0])


def test_gabor_present_is_valid_responses_tuned_to_the_filter_orientation(gratings):
    model = GaborEnergyBaseline(orientations_deg=ORIS, sfs_cpd=(3.0,), positions_deg=[(0, 0)])
    resp = model.present(gratings, n_trials=6, blank_steps=10, stimulus_steps=60, seed=3)
    validate_responses(resp)
    assert resp.dims == ("trial", "stimulus", "neuron", "time")
    assert resp.sizes == {"trial": 6, "stimulus": len(gratings), "neuron": ORIS.size,
                          "time": 70}
    assert resp.attrs["bin_ms"] == model.ms_per_step == 5.0
    assert resp.attrs["units"] == "spikes per bin" and resp.attrs["source"] == "model:gabor-energy"
    np.testing.assert_array_equal(resp["step"].values, np.arange(-10, 60))
    np.testing.assert_allclose(resp["time"].values, np.arange(-10, 60) * 5.0)
    # stimulus parameters as coordinates: the documented selection idiom works
    assert select_stimuli(resp, orientation=45.0, contrast=1.0).sizes["stimulus"] == 2
    curve = tuning_curve(resp, "orientation", window_ms=(50, 300), where={"contrast": 1.0})
    peaks = curve["orientation"].values[np.argmax(curve.values, axis=0)]
    np.testing.assert_array_equal(peaks, resp["preferred_orientation"].values)
    # blank: the spontaneous rate r0 (2 spikes/s); evoked at the preferred orientation higher
    blank = Window(-50, 0).rates(resp).mean()
    assert blank == pytest.approx(model.r0_hz, rel=0.5)
    assert curve.values.max() > 5 * model.r0_hz


def test_present_reproducible_poisson_and_records_steps(gratings):
    model = GaborEnergyBaseline(orientations_deg=[0.0, 90.0], sfs_cpd=(3.0,),
                                positions_deg=[(0, 0)])
    a = model.present(gratings, n_trials=40, blank_steps=0, stimulus_steps=100, seed=7)
    b = model.present(gratings, n_trials=40, blank_steps=0, stimulus_steps=100, seed=7)
    c = model.present(gratings, n_trials=40, blank_steps=0, stimulus_steps=100, seed=8)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)
    ff = fano_factor(Window(100, 500).select(a), return_stats=True)
    ok = ff["mean_count"].values >= 2
    assert ok.any() and np.median(ff["fano_factor"].values[ok]) == pytest.approx(1.0, abs=0.3)
    rec = model.present(gratings, n_trials=2, blank_steps=4, stimulus_steps=20,
                        record_steps=[-1, 5, 3], return_rates=True)
    np.testing.assert_array_equal(rec["spikes"]["step"].values, [-1, 3, 5])
    assert rec["rates"].attrs["units"].startswith("expected spikes per bin")
    # rates: expected count per bin = rate x bin, the temporal course scales the drive
    g = stimulus_time_course(np.array([-1, 3, 5]) * 5.0, 5.0, duration_ms=100.0)
    r = rec["rates"].values[0]
    assert g[0] == 0.0 and 0 < g[1] < g[2] <= 1
    np.testing.assert_allclose(r[..., 0], model.r0_hz * 5e-3, rtol=1e-5)  # blank: r0 only
    assert np.all(r[..., 2] >= r[..., 1] - 1e-9)


def test_pixel_pca_present_on_off_channels(gratings):
    model = PixelPCABaseline(n_components=8)
    resp = model.present(gratings, n_trials=2, blank_steps=2, stimulus_steps=10, seed=0)
    validate_responses(resp)
    assert resp.sizes["neuron"] == 16
    assert list(resp["polarity"].values[:8]) == ["on"] * 8
    feats = model.features(gratings)
    assert feats.shape == (len(gratings), 8) and (feats < 0).any()  # signed projections
    np.testing.assert_allclose(model.drive(gratings), PixelPCABaseline.on_off(feats))


def test_present_errors(gratings, geometry):
    model = GaborEnergyBaseline(positions_deg=[(0, 0)])
    with pytest.raises(ValueError, match="n_trials"):
        model.present(gratings, n_trials=0)
    with pytest.raises(ValueError, match="seed"):
        model.present(gratings, seed=-1)
    with pytest.raises(ValueError, match="unknown argument"):
        model.present(gratings, steps_per_frame=2)
    with pytest.raises(ValueError, match="record_steps"):
        model.present(gratings, blank_steps=2, stimulus_steps=5, record_steps=[7])
    with pytest.raises(ValueError, match="geometry"):
        GaborEnergyBaseline().present(gratings.frames)  # bare frames: no degrees
    movie = np.full((1, 3, *geometry.size_px), 0.5)
    with pytest.raises(ValueError, match="static images"):
        model.present(movie)
    assert set(BASELINES) == {"gabor-energy", "pixel-pca"}
