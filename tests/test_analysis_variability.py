"""Tests of neurofond.analysis.variability: Fano factor (vs elephant), over time, mean-matched."""

from __future__ import annotations

import numpy as np
import pytest

from neurofond.analysis import fano_factor, fano_factor_over_time, mean_matched_fano
from neurofond.conversions.neo_io import spike_times_from_counts
from neurofond.responses import make_responses


def poisson_responses(n_trial=60, n_stim=3, n_neuron=8, n_time=20, seed=0, rate=0.4):
    rng = np.random.default_rng(seed)
    lam = rate * rng.uniform(0.5, 2.0, (1, n_stim, n_neuron, 1))
    return make_responses(
        rng.poisson(lam, (n_trial, n_stim, n_neuron, n_time)), bin_ms=10.0, time_start_ms=-50.0
    )


def test_fano_of_poisson_is_about_one():
    r = poisson_responses(n_trial=200, n_neuron=40)
    ff = fano_factor(r)
    assert ff.dims == ("stimulus", "neuron")
    assert float(ff.mean()) == pytest.approx(199 / 200, abs=0.03)  # ddof=0 expectation
    assert float(fano_factor(r, ddof=1).mean()) == pytest.approx(1.0, abs=0.03)


def test_fano_equals_elephant_exactly():
    neo = pytest.importorskip("neo")
    pq = pytest.importorskip("quantities")
    statistics = pytest.importorskip("elephant.statistics")
    r = poisson_responses(n_trial=37, n_stim=2, n_neuron=6)
    values = r.values.copy()
    values[:, 1, 5] = 0  # a silent neuron: both give NaN
    r = r.copy(data=values)
    window = (-20.0, 100.0)
    ours = fano_factor(r, window)
    starts, ends = r["time_start_ms"].values, r["time_end_ms"].values
    sel = ((starts + ends) / 2 >= window[0]) & ((starts + ends) / 2 < window[1])
    theirs = np.empty(ours.shape)
    for s in range(r.sizes["stimulus"]):
        for n in range(r.sizes["neuron"]):
            trains = [
                neo.SpikeTrain(
                    spike_times_from_counts(values[i, s, n, sel], starts[sel], ends[sel]) * pq.ms,
                    t_start=window[0] * pq.ms,
                    t_stop=window[1] * pq.ms,
                )
                for i in range(r.sizes["trial"])
            ]
            theirs[s, n] = statistics.fanofactor(trains)
    np.testing.assert_array_equal(ours.values, theirs)  # bit-for-bit, NaN in the same places
    assert np.isnan(ours.values[1, 5])


def test_fano_missing_trials_and_window():
    r = poisson_responses().astype(float)
    vals = r.values.copy()
    vals[:10, 0, 0] = np.nan
    rn = make_responses(vals, bin_ms=10.0, time_start_ms=-50.0, allow_nan=True)
    ds = fano_factor(rn, (0, 100), return_stats=True)
    counts = vals[10:, 0, 0, 5:15].sum(-1)
    assert float(ds["fano_factor"][0, 0]) == pytest.approx(counts.var() / counts.mean(), rel=1e-12)
    assert int(ds["n_trials"][0, 0]) == vals.shape[0] - 10
    assert int(ds["n_trials"][1, 0]) == vals.shape[0]
    one = make_responses(vals[:1], bin_ms=10.0, allow_nan=True)
    assert np.isnan(fano_factor(one).values).all()  # fewer than min_trials


def test_fano_permutation_invariance():
    r = poisson_responses()
    perm = np.random.default_rng(1).permutation(r.sizes["trial"])
    np.testing.assert_allclose(fano_factor(r.isel(trial=perm)), fano_factor(r), rtol=1e-12)


def test_fano_over_time_matches_windows():
    r = poisson_responses(n_time=20)
    ff_t = fano_factor_over_time(r, 50.0, 30.0)
    # 200 ms of 10 ms bins: windows start at 0, 3, 6, 9, 12, 15 bins
    assert ff_t.sizes["time"] == 6
    expected_starts = -50 + 10 * np.array([0, 3, 6, 9, 12, 15])
    np.testing.assert_allclose(ff_t["time_start_ms"].values, expected_starts)
    for k in range(6):
        t0, t1 = float(ff_t["time_start_ms"][k]), float(ff_t["time_end_ms"][k])
        np.testing.assert_array_equal(ff_t.isel(time=k).values, fano_factor(r, (t0, t1)).values)
    span = fano_factor_over_time(r, 50.0, 50.0, span_ms=(0, 150))
    assert span.sizes["time"] == 3


@pytest.mark.parametrize(
    ("args", "word"),
    [((55.0, 10.0), "window_ms"), ((50.0, 0.0), "step_ms"), ((500.0, 10.0), "window_ms")],
)
def test_fano_over_time_errors(args, word):
    with pytest.raises(ValueError, match=word):
        fano_factor_over_time(poisson_responses(), *args)


def test_fano_errors():
    r = poisson_responses()
    with pytest.raises(ValueError, match="window_ms"):
        fano_factor(r, (0, 1000))
    with pytest.raises(ValueError, match="ddof"):
        fano_factor(r, ddof=2)


def test_mean_matched_fano_poisson_and_seed():
    rng = np.random.default_rng(2)
    lam = rng.uniform(0.05, 0.4, (1, 10, 30, 1)) * np.linspace(1, 3, 40)  # rates rise in time
    r = make_responses(rng.poisson(lam, (40, 10, 30, 40)), bin_ms=10.0)
    ds = mean_matched_fano(r, 100.0, 100.0, n_resamples=20, seed=1)
    assert ds.sizes["time"] == 4
    np.testing.assert_allclose(ds["fano_factor"].values, 1.0, atol=0.1)
    assert np.all(ds["n_matched"].values <= ds["n_points"].values)
    again = mean_matched_fano(r, 100.0, 100.0, n_resamples=20, seed=1)
    np.testing.assert_array_equal(again["fano_factor"].values, ds["fano_factor"].values)
    # the matched mean distribution is shared across windows; the raw one is not
    mm = ds["mean_count"].values
    assert np.ptp(mm) < 0.25 * np.ptp(ds["mean_count_raw"].values)


def test_mean_matching_removes_the_effect_of_rate_changes():
    """Poisson units (FF 1) plus overdispersed units (FF 3) whose mean drops from 10 to 2.

    Raw regression slopes are dominated by the high-mean units in window A; matching keeps
    only means that exist in both windows, which in A are the Poisson units.
    """
    rng = np.random.default_rng(4)
    n_trial, n_units = 80, 200
    counts = np.empty((n_trial, 1, 2 * n_units, 2))
    counts[:, 0, :n_units, :] = rng.poisson(2.0, (n_trial, n_units, 2))
    for w, mean in ((0, 10.0), (1, 2.0)):
        p = 1 / 3  # negative binomial: var = mean / p = 3 * mean
        counts[:, 0, n_units:, w] = rng.negative_binomial(mean * p / (1 - p), p, (n_trial, n_units))
    r = make_responses(counts, bin_ms=100.0)
    for weighted, raw_min in ((False, 2.5), (True, 1.8)):
        ds = mean_matched_fano(
            r, 100.0, 100.0, n_hist_bins=20, n_resamples=20, seed=0, weighted=weighted
        )
        raw, matched = ds["fano_factor_raw"].values, ds["fano_factor"].values
        assert raw[0] > raw_min and matched[0] < 1.3
        assert 1.5 < matched[1] < 2.5


def test_mean_matched_fano_errors():
    r = poisson_responses()
    with pytest.raises(ValueError, match="n_resamples"):
        mean_matched_fano(r, 50.0, 50.0, n_resamples=0)
    with pytest.raises(ValueError, match="min_trials"):
        mean_matched_fano(r, 50.0, 50.0, min_trials=1)
    with pytest.raises(ValueError, match="step_ms"):
        mean_matched_fano(r, 50.0, 15.0)


def test_fano_factor_warns_on_activations_not_counts():
    import warnings

    rng = np.random.default_rng(1)
    acts = rng.normal(size=(10, 2, 3, 5))
    resp = make_responses(acts, bin_ms=10, units="a.u. per step", signed=True)
    with pytest.warns(UserWarning, match="not spike counts"):
        fano_factor(resp)
    counts = make_responses(rng.poisson(3.0, size=(10, 2, 3, 5)), bin_ms=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fano_factor(counts)
