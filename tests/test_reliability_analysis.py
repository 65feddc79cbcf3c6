"""Issue 17 items 7 and 9: analyses that returned silent wrong results.

Each test failed on the code before the fix (checked by running it against the parent
commit's module): modulation_ratio above Nyquist returned 2.0 for every neuron,
ks_similarity clipped outside values into the edge bins (1.0 for disjoint samples),
load_ecker2010(session=[1, 1]) returned the same session twice, and FEVE of a unit with
one spike came out near -1e14.
"""

from __future__ import annotations

import numpy as np
import pytest

from neurofond.analysis import fev, feve, ks_similarity, ks_similarity_bootstrap
from neurofond.analysis.tuning import modulation_ratio
from neurofond.responses import make_responses

BINS = np.linspace(0, 1, 11)


# ----------------------------------------------------------------------------- item 7


def _drifting(tf_hz: float, bin_ms: float = 10.0, n_bins: int = 100):
    t = (np.arange(n_bins) + 0.5) * bin_ms
    counts = 2.0 + np.cos(2 * np.pi * tf_hz * t / 1000.0)
    return make_responses(np.tile(counts, (1, 1, 3, 1)), bin_ms=bin_ms)


@pytest.mark.parametrize("tf", [50.0, 60.0, 99.0, 200.0])
def test_modulation_ratio_at_or_above_nyquist_is_refused(tf):
    r = _drifting(2.0)  # 10 ms bins: Nyquist 50 Hz
    with pytest.raises(ValueError, match=r"tf_hz: .*Nyquist frequency 50 Hz of 10 ms bins"):
        modulation_ratio(r, tf)
    with pytest.raises(ValueError, match="Nyquist"):
        modulation_ratio(r, [tf])


def test_modulation_ratio_below_nyquist_still_works():
    r = _drifting(20.0, bin_ms=5.0, n_bins=200)  # 100 Hz Nyquist; 10 bins per cycle
    ratio = modulation_ratio(r, 20.0)["modulation_ratio"].values
    np.testing.assert_allclose(ratio, 0.5, rtol=1e-9)  # sampled at bin centres


def test_ks_similarity_of_disjoint_samples_is_not_one():
    data = np.linspace(0.05, 0.95, 10)
    assert ks_similarity(np.full(20, 5.0), data, BINS) == 0.0  # all above the bins
    assert ks_similarity(np.full(20, -5.0), data, BINS) == 0.0  # all below
    # half the model's mass outside the bins lowers the score; before: clipped, 1.0
    model = np.concatenate([data, np.full(10, 3.0)])
    assert ks_similarity(np.concatenate([data[:-1], [0.99]]), data, BINS) == 1.0
    assert ks_similarity(model, data, BINS) < 0.6
    ds = ks_similarity_bootstrap(np.full(50, 7.0), data, BINS, n_bootstrap=20)
    assert float(ds["raw"]) == 0.0


def test_ks_similarity_follows_numpy_histogram_edges():
    # the right edge belongs to the last bin, as in numpy.histogram
    assert ks_similarity([1.0, 1.0], [0.95, 0.95], BINS) == 1.0
    assert np.histogram([1.0], BINS)[0][-1] == 1
    # identical samples with values outside still score 1
    vals = [-1.0, 0.3, 2.0]
    assert ks_similarity(vals, vals, BINS) == 1.0


def test_ecker_session_selected_twice_is_refused(tmp_path):
    from neurofond.recordings.ecker2010 import _select_sessions

    sessions = ["s0", "s1", "s2"]
    with pytest.raises(ValueError, match=r"session: 1 is selected twice"):
        _select_sessions(sessions, [1, 1], tmp_path / "x.mat")
    assert _select_sessions(sessions, [2, 0], tmp_path / "x.mat") == ["s2", "s0"]


def test_ecker_reader_given_a_directory_names_it(tmp_path):
    from neurofond.recordings import load_ecker2010

    (tmp_path / "data_v1_binned_static.mat").write_bytes(b"")
    with pytest.raises(ValueError, match=r"path: .* is a directory.*data_v1_binned_static\.mat"):
        load_ecker2010(tmp_path)


# ----------------------------------------------------------------------------- item 9


def _one_spike_counts(n_trial=20, n_cond=16, n_silent=12):
    """Neurons 0..n_silent-1 have one spike each (at different trials/conditions), the
    last one is an ordinary Poisson unit."""
    counts = np.zeros((n_trial, n_cond, n_silent + 1))
    for k in range(n_silent):
        counts[(3 * k) % n_trial, (5 * k + 2) % n_cond, k] = 1.0
    rng = np.random.default_rng(0)
    counts[:, :, -1] = rng.poisson(np.linspace(1, 8, n_cond), (n_trial, n_cond))
    return counts


@pytest.mark.parametrize("trial_average", [False, True])
def test_feve_of_a_near_silent_unit_is_nan_not_huge(trial_average):
    counts = _one_spike_counts()
    pred = np.full(counts.shape[1:], 0.5)
    ds = feve(pred, counts, trial_average=trial_average, return_stats=True)
    # FEV is exactly 0 for one spike (noise = total); before, round-off passed min_fev=0
    # for some of them and FEVE came out near -1e17
    assert np.isnan(ds["feve"].values[:-1]).all(), ds["feve"].values
    assert np.isfinite(ds["feve"].values[-1])
    assert (ds["fev"].values[:-1] == 0.0).all()
    for k in range(counts.shape[2] - 1):  # one neuron at a time (other round-off)
        alone = feve(pred[:, [k]], counts[:, :, [k]], trial_average=trial_average)
        assert np.isnan(alone.values).all(), (k, alone.values)
    # a negative min_fev does not let the round-off through either
    assert np.isnan(feve(pred, counts, trial_average=trial_average, min_fev=-1).values[:-1]).all()


def test_fev_total_variance_at_round_off_level_is_nan():
    counts = np.full((5, 4, 1), 3.0)
    counts[0, 0, 0] = 3.0 + 1e-13  # variance ~1e-27, round-off of the sums of squares ~1e-15
    assert np.isnan(fev(counts).values[0])
    ds = feve(np.full((4, 1), 3.0), counts, return_stats=True)
    assert np.isnan(ds["feve"].values[0])
