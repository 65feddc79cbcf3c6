"""neurofond.analysis.reliability.trial_reliability: closed forms, an independent brute-force
reference, simulated ground truth, bad input, and the recorded Ecker 2010 units."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from neurofond.analysis.reliability import trial_reliability
from neurofond.responses import make_responses


def _resp(counts, **kw):
    kw.setdefault("bin_ms", 10.0)
    return make_responses(np.asarray(counts, dtype=float), **kw)


def _brute(values):
    """Mean pairwise np.corrcoef over trials without NaN and with a varying PSTH."""
    ok = [x for x in values if not np.isnan(x).any() and np.ptp(x) > 0]
    rs = [np.corrcoef(a, b)[0, 1] for a, b in itertools.combinations(ok, 2)]
    return (np.mean(rs) if rs else np.nan), len(ok)


def test_identical_trials_give_one_and_opposite_trials_minus_one():
    psth = np.array([0, 1, 3, 1, 0, 2, 5, 0])
    ds = trial_reliability(_resp(np.tile(psth, (5, 1, 1, 1))))
    assert float(ds["reliability"][0, 0]) == pytest.approx(1.0, abs=1e-12)
    assert int(ds["n_trials"][0, 0]) == 5 and int(ds["n_pairs"][0, 0]) == 10
    assert ds["nan_reason"].values[0, 0] == ""
    two = np.stack([psth, 5 - psth])[:, None, None, :]
    assert float(trial_reliability(_resp(two))["reliability"][0, 0]) == pytest.approx(-1.0)


def test_equals_brute_force_pairwise_correlations():
    rng = np.random.default_rng(0)
    counts = rng.poisson(2.0 + np.sin(np.linspace(0, 6, 12)), size=(7, 3, 4, 12)).astype(float)
    counts[2, 1, 0] = np.nan  # a missing trial
    counts[:, 2, 1] = 0.0
    counts[0, 2, 1, 3] = 1.0  # one trial varies, the others are silent: < 2 usable trials
    counts[4, 0, 2] = 3.0  # a constant trial is left out
    r = _resp(counts, allow_nan=True)
    ds = trial_reliability(r)
    for s in range(3):
        for n in range(4):
            ref, m = _brute(counts[:, s, n])
            got = float(ds["reliability"][s, n])
            assert int(ds["n_trials"][s, n]) == m
            if np.isnan(ref):
                assert np.isnan(got)
            else:
                assert got == pytest.approx(ref, abs=1e-12)
    assert ds["nan_reason"].values[2, 1] == "constant"
    assert ds.attrs["n_nan_constant"] == 1 and ds.attrs["n_nan_few_trials"] == 0


def test_independent_poisson_trials_have_zero_reliability():
    """Homogeneous Poisson spikes share no time course across trials: E[rho] = 0."""
    rng = np.random.default_rng(1)
    counts = rng.poisson(3.0, size=(20, 50, 40, 20))
    vals = trial_reliability(_resp(counts))["reliability"].values.ravel()
    se = vals.std() / np.sqrt(vals.size)
    assert abs(vals.mean()) < 4 * se and abs(vals.mean()) < 0.005


def test_inhomogeneous_poisson_matches_the_expected_signal_fraction():
    """Ground truth: with rate lambda(t) per bin, corr between trials of Poisson counts is
    var_t(lambda) / (var_t(lambda) + mean_t(lambda)) up to O(1/T) finite-sample terms."""
    rng = np.random.default_rng(2)
    t = np.arange(40)
    for amp in (0.5, 2.0, 4.0):
        lam = 5.0 + amp * np.sin(2 * np.pi * t / 10)
        counts = rng.poisson(lam, size=(30, 40, 10, t.size))
        got = float(trial_reliability(_resp(counts))["reliability"].mean())
        expected = lam.var() / (lam.var() + lam.mean())
        assert got == pytest.approx(expected, abs=0.03), amp


def test_coarser_psth_bins_sum_the_data_bins():
    rng = np.random.default_rng(3)
    counts = rng.poisson(2.0, size=(6, 2, 3, 12)).astype(float)
    r = _resp(counts, bin_ms=10.0)
    coarse = trial_reliability(r, psth_bin_ms=30.0)
    summed = _resp(counts.reshape(6, 2, 3, 4, 3).sum(-1), bin_ms=30.0)
    np.testing.assert_allclose(coarse["reliability"].values,
                               trial_reliability(summed)["reliability"].values, atol=1e-12)
    assert coarse.attrs["psth_bin_ms"] == 30.0 and coarse.attrs["n_psth_bins"] == 4


def test_default_window_is_the_stimulus_period():
    """A blank with identical (zero) counts before onset would add nothing, but a blank with
    independent spikes must not enter the measure either: the default is 0 ms to the end."""
    rng = np.random.default_rng(4)
    psth = np.tile([0.0, 4.0, 1.0, 6.0, 2.0], 2)
    stim = np.tile(psth, (4, 1, 1, 1))
    blank = rng.poisson(3.0, size=(4, 1, 1, 10)).astype(float)
    r = _resp(np.concatenate([blank, stim], axis=-1), time_start_ms=-100.0)
    ds = trial_reliability(r)
    assert float(ds["reliability"][0, 0]) == pytest.approx(1.0)
    assert ds.attrs["window_ms"] == (0.0, 100.0)
    whole = trial_reliability(r, window_ms=(-100, 100))
    assert float(whole["reliability"][0, 0]) < 0.99


def test_where_selects_stimuli_and_keeps_their_coordinates():
    counts = np.tile(np.arange(6.0), (3, 4, 2, 1))
    r = _resp(counts, stimulus_coords={"orientation": [0.0, 45.0, 90.0, 135.0]})
    ds = trial_reliability(r, where={"orientation": [45.0, 90.0]})
    assert ds.sizes["stimulus"] == 2
    np.testing.assert_array_equal(ds["orientation"].values, [45.0, 90.0])


def test_too_few_trials_give_nan_with_a_reason():
    one = trial_reliability(_resp(np.arange(8.0)[None, None, None, :]))
    assert np.isnan(float(one["reliability"][0, 0]))
    assert one["nan_reason"].values[0, 0] == "few_trials"
    assert one.attrs["n_nan_few_trials"] == 1
    assert "fewer than 2 trials" in one.attrs["reason_few_trials"]
    counts = np.tile(np.arange(8.0), (3, 1, 1, 1))
    counts[1:] = np.nan  # two of three trials missing
    ds = trial_reliability(_resp(counts, allow_nan=True))
    assert ds["nan_reason"].values[0, 0] == "few_trials"
    silent = trial_reliability(_resp(np.zeros((5, 1, 1, 8))))
    assert silent["nan_reason"].values[0, 0] == "constant"


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"psth_bin_ms": 15.0}, "psth_bin_ms"),
        ({"psth_bin_ms": 5.0}, "psth_bin_ms"),
        ({"psth_bin_ms": float("nan")}, "psth_bin_ms"),
        ({"psth_bin_ms": 80.0}, "window_ms"),
        ({"window_ms": (0, 10)}, "window_ms"),
        ({"window_ms": (0, 500)}, "window_ms"),
        ({"window_ms": (5, 50)}, "window_ms"),
        ({"where": {"orientation": 33.0}}, "where"),
    ],
)
def test_bad_input_names_the_argument(kwargs, word):
    r = _resp(np.ones((3, 1, 2, 8)), stimulus_coords={"orientation": [0.0]})
    with pytest.raises(ValueError, match=word):
        trial_reliability(r, **kwargs)


def test_window_before_onset_only_is_refused_by_default():
    r = _resp(np.ones((3, 1, 1, 8)), time_start_ms=-80.0)
    with pytest.raises(ValueError, match="window_ms"):
        trial_reliability(r)


@pytest.mark.data
def test_recorded_ecker2010_units_are_reliable_and_a_time_shuffle_is_not(shared_data_dir):
    from neurofond.recordings import load_ecker2010

    path = shared_data_dir / "ecker2010_v1_gratings" / "data_v1_binned_static.mat"
    if not path.is_file():
        pytest.skip(f"Ecker 2010 static release not found at {path}")
    (resp,) = load_ecker2010(path, session=0)
    ds = trial_reliability(resp, psth_bin_ms=50.0)
    assert ds.attrs["window_ms"] == (0.0, 500.0)  # the release's stimulus_duration_ms
    vals = ds["reliability"].values
    assert np.isfinite(vals).mean() > 0.9
    # shuffling each trial's bins in time destroys the stimulus-locked time course
    rng = np.random.default_rng(0)
    x = resp.values.copy()
    on = slice(int(np.flatnonzero(resp["time"].values == 0)[0]), None)
    sub = x[..., on]
    x[..., on] = np.take_along_axis(sub, np.argsort(rng.random(sub.shape), axis=-1), axis=-1)
    shuffled = trial_reliability(resp.copy(data=x), psth_bin_ms=50.0)["reliability"].values
    assert np.nanmean(vals) > 0.05
    assert abs(np.nanmean(shuffled)) < 0.02
    assert np.nanmean(vals) > np.nanmean(shuffled) + 5 * np.nanstd(shuffled) / np.sqrt(
        np.isfinite(shuffled).sum())
