"""Tests of the neo Block converter on Blocks built in memory."""

from __future__ import annotations

import numpy as np
import pytest

neo = pytest.importorskip("neo")
pq = pytest.importorskip("quantities")

from neurofond.recordings import block_to_responses, load_neo  # noqa: E402
from neurofond.responses import validate_responses  # noqa: E402


def _block():
    """4 trials: orientation 0, 45, 0, 45 (deg); trial k spans [10k, 10k + 1) s; onset at +0.2 s."""
    block = neo.Block(name="synthetic")
    for k, ori in enumerate([0.0, 45.0, 0.0, 45.0]):
        t0 = 10.0 * k
        seg = neo.Segment(
            name=f"trial{k}", orientation=ori * pq.deg, contrast=0.5, onset=(t0 + 0.2) * pq.s
        )
        a = neo.SpikeTrain(
            (t0 + np.array([0.201, 0.2105, 0.215, 0.285])) * pq.s,
            t_start=t0 * pq.s,
            t_stop=(t0 + 1.0) * pq.s,
            neuron_id="a",
        )
        b_times = (t0 + np.array([0.05, 0.255 + 0.01 * k])) * pq.s
        b = neo.SpikeTrain(b_times, t_start=t0 * pq.s, t_stop=(t0 + 1.0) * pq.s, neuron_id="b")
        seg.spiketrains.extend([a, b])
        block.segments.append(seg)
    return block


def test_exact_counts_onset_annotation():
    r = validate_responses(
        block_to_responses(
            _block(), bin_ms=10, window_ms=(0, 100), stimulus_key="orientation", onset_key="onset"
        )
    )
    assert r.sizes == {"trial": 2, "stimulus": 2, "neuron": 2, "time": 10}
    assert list(r["orientation"].values) == [0.0, 45.0]
    assert list(r["neuron_id"].values) == ["a", "b"]
    expected_a = np.zeros(10)
    expected_a[[0, 1, 8]] = [1, 2, 1]  # 1 ms; 10.5 and 15 ms; 85 ms after onset
    np.testing.assert_array_equal(r.values[:, :, 0], np.broadcast_to(expected_a, (2, 2, 10)))
    # unit b at 55 + 10k ms after onset: trial k -> bin 5 + k; orientation 0 = trials 0, 2
    for rep, k in enumerate([0, 2]):
        assert r.values[rep, 0, 1].sum() == 1 and r.values[rep, 0, 1, 5 + k] == 1
    for rep, k in enumerate([1, 3]):
        assert r.values[rep, 1, 1, 5 + k] == 1


def test_default_alignment_and_keys():
    r = block_to_responses(_block(), bin_ms=100, window_ms=(0, 300))
    assert set(r["stimulus_id"].values) == {0, 1}
    assert "contrast" in r.coords and "orientation" in r.coords  # all scalar annotations
    assert "onset" not in r.coords  # time-valued annotations are not stimulus parameters
    r2 = block_to_responses(_block(), bin_ms=100, window_ms=(0, 300), stimulus_key=["contrast"])
    assert r2.sizes["stimulus"] == 1 and r2.sizes["trial"] == 4
    # aligned to segment t_start: unit a has 4 spikes in [200, 300) ms, b one at 50 ms
    np.testing.assert_array_equal(r2.values[:, 0, 0], np.tile([0, 0, 4], (4, 1)))
    np.testing.assert_array_equal(r2.values[:, 0, 1, 0], [1, 1, 1, 1])


def test_missing_unit_and_short_train_are_nan():
    block = _block()
    block.segments[2].spiketrains.pop(1)  # unit b missing from trial 2
    r = block_to_responses(
        block, bin_ms=10, window_ms=(0, 100), stimulus_key="orientation", onset_key="onset"
    )
    assert np.isnan(r.values[1, 0, 1]).all() and np.isfinite(r.values[0, 0, 1]).all()
    # window beyond t_stop (1 s after segment start) -> not observed
    r = block_to_responses(
        _block(), bin_ms=100, window_ms=(0, 1000), stimulus_key="orientation", onset_key="onset"
    )
    assert np.isnan(r.values).all()


def test_unequal_repetitions():
    block = _block()
    block.segments.pop(3)
    r = block_to_responses(
        block, bin_ms=10, window_ms=(0, 100), stimulus_key="orientation", onset_key="onset"
    )
    assert list(r["n_repetitions"].values) == [2, 1]
    assert np.isnan(r.values[1, 1]).all()


def test_errors():
    with pytest.raises(ValueError, match="lacks stimulus annotation"):
        block_to_responses(_block(), bin_ms=10, window_ms=(0, 100), stimulus_key="phase")
    with pytest.raises(ValueError, match="no segments"):
        block_to_responses(neo.Block(), bin_ms=10, window_ms=(0, 100))
    with pytest.raises(TypeError):
        block_to_responses([1, 2], bin_ms=10, window_ms=(0, 100))
    with pytest.raises(ValueError, match="window_ms"):
        block_to_responses(_block(), bin_ms=10, window_ms=(100, 0))


def test_load_neo_pickle(tmp_path):
    path = tmp_path / "block.pkl"
    neo.io.PickleIO(str(path)).write_block(_block())
    r = load_neo(path, bin_ms=10, window_ms=(0, 100), stimulus_key="orientation", onset_key="onset")
    assert r.attrs["file"] == "block.pkl" and r.sizes["trial"] == 2
    assert r.values[0, 0, 0, 1] == 2
    bad = tmp_path / "data.unknownext"
    bad.write_text("x")
    with pytest.raises(ValueError, match="no neo IO"):
        load_neo(bad, bin_ms=10, window_ms=(0, 100))


def test_duplicate_unit_id_in_one_segment_is_refused():
    """Two trains with one neuron_id in a segment: an error, not the last one kept (issue 17.3)."""
    block = _block()
    seg = block.segments[1]
    dup = neo.SpikeTrain([10.25] * pq.s, t_start=10.0 * pq.s, t_stop=11.0 * pq.s, neuron_id="a")
    seg.spiketrains.append(dup)
    with pytest.raises(ValueError, match=r"segment 1 \('trial1'\).*'a'"):
        block_to_responses(block, bin_ms=10, window_ms=(0, 100), stimulus_key="orientation",
                           onset_key="onset")
    # the same id in different segments is the same unit across trials (still fine)
    r = block_to_responses(_block(), bin_ms=10, window_ms=(0, 100), stimulus_key="orientation",
                           onset_key="onset")
    assert r.sizes["neuron"] == 2
