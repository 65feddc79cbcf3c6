"""Tests of neurofond.analysis.latency: PSTH and response latency."""

from __future__ import annotations

import numpy as np
import pytest

from neurofond.analysis import psth, response_latency
from neurofond.conversions.neo_io import spike_times_from_counts
from neurofond.responses import make_responses


def step_responses(onsets_bin, n_time=40, level=3.0, base=0.0):
    """One stimulus per onset bin; counts jump from base to level at that bin."""
    counts = np.full((4, len(onsets_bin), 2, n_time), base)
    for s, j in enumerate(onsets_bin):
        counts[:, s, :, j:] = level
    return make_responses(
        counts,
        bin_ms=5.0,
        time_start_ms=-50.0,
        stimulus_coords={"contrast": np.linspace(1, 0.1, len(onsets_bin))},
    )


def test_psth_mean_rate_and_missing_trials():
    rng = np.random.default_rng(0)
    counts = rng.poisson(1.0, (6, 2, 3, 10)).astype(float)
    counts[0, 1] = np.nan
    r = make_responses(counts, bin_ms=10.0, allow_nan=True)
    p = psth(r)
    assert p.dims == ("stimulus", "neuron", "time")
    np.testing.assert_allclose(p.values[0], counts[:, 0].mean(0) * 100.0)
    np.testing.assert_allclose(p.values[1], counts[1:, 1].mean(0) * 100.0)
    assert p.attrs["units"] == "spikes/s"
    pc = psth(r, units="count")
    np.testing.assert_allclose(pc.values[0], counts[:, 0].mean(0))


def test_psth_smoothing_preserves_mass():
    counts = np.zeros((2, 1, 1, 41))
    counts[:, 0, 0, 20] = 10
    r = make_responses(counts, bin_ms=1.0)
    sm = psth(r, smooth_ms=3.0, units="count").values[0, 0]
    assert sm.sum() == pytest.approx(10.0)
    assert sm.max() < 10.0 and np.argmax(sm) == 20
    with pytest.raises(ValueError, match="smooth_ms"):
        psth(r, smooth_ms=-1)
    with pytest.raises(ValueError, match="units"):
        psth(r, units="hz")


@pytest.mark.filterwarnings("ignore:The 'copy' argument")
def test_psth_equals_elephant_time_histogram():
    neo = pytest.importorskip("neo")
    pq = pytest.importorskip("quantities")
    statistics = pytest.importorskip("elephant.statistics")
    rng = np.random.default_rng(1)
    counts = rng.poisson(0.7, (9, 1, 2, 12))
    r = make_responses(counts, bin_ms=10.0, time_start_ms=-20.0)
    starts, ends = r["time_start_ms"].values, r["time_end_ms"].values
    ours = psth(r, units="count").values
    for n in range(2):
        trains = [
            neo.SpikeTrain(
                spike_times_from_counts(counts[i, 0, n], starts, ends) * pq.ms,
                t_start=-20 * pq.ms,
                t_stop=100 * pq.ms,
            )
            for i in range(9)
        ]
        hist = statistics.time_histogram(trains, bin_size=10 * pq.ms, output="mean")
        np.testing.assert_array_equal(ours[0, n], np.asarray(hist.magnitude)[:, 0])


def test_latency_of_steps_at_known_bins():
    onsets = [14, 18, 25]  # bins of 5 ms starting at -50 ms
    r = step_responses(onsets)
    ds = response_latency(r, (-50, 0))
    expected = -50.0 + 5.0 * np.array(onsets) + 2.5  # bin centres
    np.testing.assert_allclose(ds["onset_ms"].values, np.repeat(expected[:, None], 2, 1))
    ds_half = response_latency(r, (-50, 0), criterion="half_peak")
    np.testing.assert_allclose(ds_half["onset_ms"].values[:, 0], expected)
    assert ds["onset_ms"].dims == ("stimulus", "neuron")
    # higher contrast (first stimulus) -> shorter latency in this synthetic example
    assert np.all(np.diff(ds["onset_ms"].values[:, 0]) > 0)


def test_latency_peak_and_consecutive_bins():
    counts = np.zeros((3, 1, 1, 40))
    counts[:, 0, 0, 12] = 5  # one-bin blip
    counts[:, 0, 0, 20:30] = np.linspace(1, 4, 10)  # ramp to a peak at bin 29
    r = make_responses(counts, bin_ms=10.0, time_start_ms=-100.0)
    one = response_latency(r, (-100, 0), min_consecutive_bins=1)
    assert float(one["onset_ms"][0, 0]) == 25.0  # the blip (bin 12)
    three = response_latency(r, (-100, 0), min_consecutive_bins=3)
    assert float(three["onset_ms"][0, 0]) == 105.0  # bin 20
    assert float(three["peak_ms"][0, 0]) == 25.0  # the blip is the maximum (5 > 4)
    half = response_latency(r, (-100, 0), criterion="half_peak", min_consecutive_bins=2)
    # half of the peak (5) = 2.5: the ramp exceeds it from bin 25 on
    assert float(half["onset_ms"][0, 0]) == pytest.approx(-100 + 25 * 10 + 5)


def test_no_response_gives_nan():
    rng = np.random.default_rng(3)
    counts = rng.poisson(2.0, (50, 1, 2, 40)).astype(float)
    counts[:, 0, 1, 30:] += 20  # neuron 1 responds
    r = make_responses(counts, bin_ms=10.0, time_start_ms=-200.0)
    ds = response_latency(r, (-200, 0), k=6.0, min_consecutive_bins=2)
    assert np.isnan(float(ds["onset_ms"][0, 0])) and np.isnan(float(ds["peak_ms"][0, 0]))
    assert float(ds["onset_ms"][0, 1]) == 105.0
    flat = make_responses(np.ones((2, 1, 1, 20)), bin_ms=10.0, time_start_ms=-100.0)
    flat_ds = response_latency(flat, (-100, 0), criterion="half_peak")
    assert np.isnan(float(flat_ds["onset_ms"][0, 0]))


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"baseline_window_ms": (-300, 0)}, "baseline_window_ms"),
        ({"baseline_window_ms": (-50, -45)}, "baseline_window_ms"),
        ({"baseline_window_ms": (-50, 0), "criterion": "max"}, "criterion"),
        ({"baseline_window_ms": (-50, 0), "k": -1.0}, "k"),
        ({"baseline_window_ms": (-50, 0), "min_consecutive_bins": 0}, "min_consecutive_bins"),
        ({"baseline_window_ms": (-50, 0), "search_window_ms": (0, 900)}, "search_window_ms"),
    ],
)
def test_latency_errors(kwargs, word):
    with pytest.raises(ValueError, match=word):
        response_latency(step_responses([20]), **kwargs)
