"""Tests of the NWB reader on a small file written with pynwb."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

pynwb = pytest.importorskip("pynwb")

from neurofond.recordings import load_nwb  # noqa: E402
from neurofond.responses import validate_responses  # noqa: E402

# 5 trials, 1 s apart; orientation 0 / 90; orientation 0 shown 3 times, 90 twice
TRIALS = [(0.0, 0), (1.0, 90), (2.0, 0), (3.0, 90), (4.0, 0)]
# spikes (s): unit 0 fires at trial start + 5, 15, 15.5, 25 ms; unit 1 at +105 ms and -5 ms
UNIT0 = np.concatenate([t + np.array([0.005, 0.015, 0.0155, 0.025]) for t, _ in TRIALS])
UNIT1 = np.concatenate([t + np.array([-0.005, 0.105]) for t, _ in TRIALS[1:]])


def _write(path, *, obs_intervals=None, with_trials=True):
    nwb = pynwb.NWBFile(
        session_description="synthetic",
        identifier="neurofond-test",
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    if with_trials:
        nwb.add_trial_column(name="orientation", description="deg")
        nwb.add_trial_column(name="contrast", description="fraction")
        for start, ori in TRIALS:
            nwb.add_trial(
                start_time=start, stop_time=start + 0.5, orientation=float(ori), contrast=1.0
            )
    for k, spikes in enumerate([UNIT0, UNIT1]):
        kwargs = {"spike_times": spikes}
        if obs_intervals is not None:
            kwargs["obs_intervals"] = obs_intervals[k]
        nwb.add_unit(**kwargs)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def test_exact_counts(tmp_path):
    path = _write(tmp_path / "s.nwb")
    r = validate_responses(load_nwb(path, bin_ms=10, window_ms=(-10, 120)))
    assert r.sizes == {"trial": 3, "stimulus": 2, "neuron": 2, "time": 13}
    assert list(r["orientation"].values) == [0.0, 90.0]
    assert list(r["n_repetitions"].values) == [3, 2]
    assert list(r["neuron_id"].values) == ["unit0", "unit1"]
    np.testing.assert_allclose(r["time_start_ms"].values, np.arange(-10, 120, 10.0))
    expected0 = np.zeros(13)
    expected0[[1, 2, 3]] = [1, 2, 1]  # 5 ms; 15 and 15.5 ms; 25 ms
    for rep in range(3):
        np.testing.assert_array_equal(r.values[rep, 0, 0], expected0)
    for rep in range(2):
        np.testing.assert_array_equal(r.values[rep, 1, 0], expected0)
    # unit 1: no spike in trial 0 (t = 0 s), then -5 ms (bin 0) and 105 ms (bin 11)
    np.testing.assert_array_equal(r.values[0, 0, 1], np.zeros(13))
    expected1 = np.zeros(13)
    expected1[[0, 11]] = 1
    np.testing.assert_array_equal(r.values[1, 0, 1], expected1)  # trial at 2 s
    np.testing.assert_array_equal(r.values[:2, 1, 1], [expected1, expected1])
    assert np.isnan(r.values[2:, 1]).all()  # orientation 90 has 2 repetitions only
    assert r.attrs["bin_ms"] == 10.0 and r.attrs["source"] == "nwb:s.nwb"


def test_stimulus_columns_and_window(tmp_path):
    path = _write(tmp_path / "s.nwb")
    r = load_nwb(path, bin_ms=30, window_ms=(0, 30), stimulus_columns=["contrast"])
    assert r.sizes["stimulus"] == 1 and r.sizes["trial"] == 5
    np.testing.assert_array_equal(r.values[:, 0, 0, 0], [4, 4, 4, 4, 4])


def test_obs_intervals_mark_unobserved_trials(tmp_path):
    obs = [[[0.0, 10.0]], [[0.5, 2.9]]]  # unit 1 observed during trials 1 and 2 only
    path = _write(tmp_path / "s.nwb", obs_intervals=obs)
    r = load_nwb(path, bin_ms=10, window_ms=(0, 50))
    unit1 = r.values[:, :, 1]
    # orientation 0 (trials 0, 2, 4): only rep 1 (trial 2) observed;
    # orientation 90 (trials 1, 3): only rep 0
    assert (
        np.isnan(unit1[0, 0]).all()
        and np.isfinite(unit1[1, 0]).all()
        and np.isnan(unit1[2, 0]).all()
    )
    assert np.isfinite(unit1[0, 1]).all() and np.isnan(unit1[1, 1]).all()
    assert np.isfinite(r.values[:, 0, 0]).all()


def test_errors(tmp_path):
    path = _write(tmp_path / "s.nwb")
    with pytest.raises(ValueError, match="stimulus_columns"):
        load_nwb(path, bin_ms=10, window_ms=(0, 100), stimulus_columns=["phase"])
    with pytest.raises(ValueError, match="window_ms"):
        load_nwb(path, bin_ms=30, window_ms=(0, 100))
    with pytest.raises(ValueError, match="bin_ms"):
        load_nwb(path, bin_ms=0, window_ms=(0, 100))
    with pytest.raises(ValueError, match="no intervals table 'epochs'"):
        load_nwb(path, bin_ms=10, window_ms=(0, 100), intervals="epochs")
    text = tmp_path / "text.nwb"
    text.write_text("not hdf5")
    with pytest.raises(ValueError, match=r"text\.nwb: not a readable NWB"):
        load_nwb(text, bin_ms=10, window_ms=(0, 100))
    with pytest.raises(FileNotFoundError):
        load_nwb(tmp_path / "missing.nwb", bin_ms=10, window_ms=(0, 100))
