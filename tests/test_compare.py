"""neurofond.compare without recorded data: candidates, sessions and the window rule."""

from __future__ import annotations

import numpy as np
import pytest

from neurofond import compare
from neurofond.responses import validate_responses


def test_baseline_candidate_spikes_are_the_model_present():
    params = compare.stimulus_parameters()
    cand = compare.BaselineCandidate("gabor-energy", params)
    stim = compare.render_conditions(np.array([0.0, 90.0]), np.array([0.5, 1.0]), params)
    steps = cand.steps(40.0)
    assert steps[0] < 0 and steps[-1] + 1 == 100  # 500 ms at 5 ms per step
    spikes = cand.simulate(stim, steps, 3, seed=5, spikes=True)
    resp = cand.model.present(stim, n_trials=3, blank_steps=int(-steps[0]),
                              stimulus_steps=100, seed=5)
    validate_responses(resp)
    np.testing.assert_array_equal(spikes, resp.values.astype(np.float32))
    feats = cand.simulate(stim, steps, 3, seed=5, spikes=False)
    assert feats.shape == (2, cand.model.n_channels, steps.size)
    assert np.all(feats[..., steps < 0] == 0)  # no drive before onset
    with pytest.raises(ValueError, match="unknown baseline"):
        compare.BaselineCandidate("lca", params)


def test_pixel_pca_candidate_signed_features():
    params = compare.stimulus_parameters()
    cand = compare.BaselineCandidate("pixel-pca", params)
    stim = compare.render_conditions(np.array([0.0, 45.0]), np.array([1.0, 1.0]), params)
    feats = cand.simulate(stim, np.arange(-2, 10), 1, seed=0, spikes=False)
    assert (feats < 0).any() and cand.label.startswith("pixel PCA")


def test_session_windows_follow_the_one_window_rule():
    starts = np.arange(-300.0, 600.0, 10.0)
    sess = compare.Session(index=0, counts=np.ones((2, 4, 3, starts.size)), starts=starts,
                           orientation=np.array([0.0, 90.0, 0.0, 90.0]),
                           contrast=np.array([0.1, 0.1, 1.0, 1.0]),
                           unit_ids=np.array(["a", "b", "c"]), subject="x")
    assert sess.window(0.0, 500.0).size == 50
    assert sess.binned(50.0).shape == (2, 4, 3, 10)
    np.testing.assert_array_equal(sess.fano_counts(), 50.0)
    resp = sess.property_responses()
    assert resp.sizes["time"] == 70 and float(resp["time"][0]) == -200.0
    with pytest.raises(ValueError, match="cuts the bin"):
        sess.window(5.0, 55.0)
