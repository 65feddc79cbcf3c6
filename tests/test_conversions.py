"""Tests of neurofond.conversions: Responses <-> neo Block and NWB file round trips."""

from __future__ import annotations

import os

import numpy as np
import pytest
import xarray as xr

from neurofond.conversions import (
    neo_to_responses,
    nwb_to_responses,
    responses_to_neo,
    responses_to_nwb,
    spike_times_from_counts,
)
from neurofond.responses import make_responses

neo = pytest.importorskip("neo")
pq = pytest.importorskip("quantities")


def sample_responses(missing: bool = True) -> xr.DataArray:
    rng = np.random.default_rng(0)
    counts = rng.poisson(1.5, (3, 4, 5, 6)).astype(float)
    if missing:
        counts[2, 1] = np.nan  # trial 2 of stimulus 1 missing for every neuron
        counts[1, :, 3] = np.nan  # trial 1 missing for neuron 3
    return make_responses(
        counts,
        bin_ms=10.0,
        time_start_ms=-20.0,
        stimulus_coords={
            "orientation": [0.0, 45.0, 90.0, 135.0],
            "contrast": [0.1, 0.1, 1.0, 1.0],
            "label": ["a", "b", "c", "d"],
        },
        neuron_coords={"neuron_id": ["n0", "n1", "n2", "n3", "n4"], "depth": [1, 2, 3, 4, 5]},
        source="test:sample",
        attrs={"ms_per_step": 2.5},
        allow_nan=missing,
    )


def test_spike_times_inside_bins_and_evenly_spaced():
    starts = np.array([0.0, 10.0, 20.0])
    t = spike_times_from_counts(np.array([2, 0, 4]), starts, starts + 10.0)
    np.testing.assert_allclose(t, [2.5, 7.5, 21.25, 23.75, 26.25, 28.75])
    assert spike_times_from_counts(np.zeros(3, int), starts, starts + 10).size == 0


@pytest.mark.parametrize("missing", [False, True])
def test_neo_round_trip_is_exact(missing):
    r = sample_responses(missing)
    block = responses_to_neo(r)
    assert len(block.segments) == 3
    st = block.segments[0].spiketrains[6]  # stimulus 1, neuron 1
    assert st.annotations["neuron_id"] == "n1" and st.annotations["orientation"] == 45.0
    assert st.annotations["label"] == "b"
    assert st.t_start == -20 * pq.ms and st.t_stop == 40 * pq.ms
    assert len(st) == int(r.values[0, 1, 1].sum())
    back = neo_to_responses(block)
    xr.testing.assert_identical(back, r)


def test_neo_round_trip_non_contiguous_bins():
    counts = np.arange(12).reshape(1, 1, 2, 6) % 4
    r = make_responses(counts, bin_ms=5.0, time_start_ms=[0, 5, 10, 50, 55, 60])
    xr.testing.assert_identical(neo_to_responses(responses_to_neo(r)), r)


def test_neo_foreign_block_one_segment_per_presentation():
    """Segments = presentations annotated with the stimulus; trials counted per stimulus."""
    block = neo.Block()
    stim_sequence = ["A", "B", "A", "B", "A"]
    for k, stim in enumerate(stim_sequence):
        seg = neo.Segment()
        seg.annotate(stimulus_id=stim)
        for unit in ("u1", "u2"):
            times = np.array([0.005, 0.015, 0.016]) if unit == "u1" else np.array([0.035 + k / 1e3])
            st = neo.SpikeTrain(times * pq.s, t_start=0 * pq.s, t_stop=0.04 * pq.s)
            st.annotate(neuron_id=unit)
            seg.spiketrains.append(st)
        block.segments.append(seg)
    r = neo_to_responses(block, bin_ms=10.0)
    assert r.shape == (3, 2, 2, 4)  # A has 3 repetitions, B 2 (NaN-padded)
    assert list(r["stimulus_id"].values) == ["A", "B"]
    np.testing.assert_array_equal(r.values[0, 0, 0], [1, 2, 0, 0])
    np.testing.assert_array_equal(r.values[0, 0, 1], [0, 0, 0, 1])
    assert np.isnan(r.values[2, 1]).all() and not np.isnan(r.values[2, 0]).any()


def test_neo_errors():
    r = sample_responses(False)
    with pytest.raises(ValueError, match="non-integer"):
        responses_to_neo(r.copy(data=r.values + 0.5))
    vals = r.values.copy()
    vals[0, 0, 0, 2] = np.nan
    with pytest.raises(ValueError, match="some time bins"):
        responses_to_neo(make_responses(vals, bin_ms=10.0, allow_nan=True))
    with pytest.raises(ValueError, match="block"):
        neo_to_responses("not a block", bin_ms=10.0)
    block = neo.Block()
    seg = neo.Segment()
    seg.spiketrains.append(neo.SpikeTrain([1.0] * pq.ms, t_stop=10 * pq.ms))
    block.segments.append(seg)
    with pytest.raises(ValueError, match="neuron_id"):
        neo_to_responses(block, bin_ms=1.0)
    with pytest.raises(ValueError, match="bin_ms"):
        neo_to_responses(block)


@pytest.mark.parametrize("missing", [False, True])
def test_nwb_round_trip_is_exact(tmp_path, missing):
    pytest.importorskip("pynwb")
    r = sample_responses(missing)
    path = tmp_path / "sub" / "responses.nwb"
    assert responses_to_nwb(r, path) == path
    assert os.listdir(path.parent) == ["responses.nwb"]  # no temporary file left
    back = nwb_to_responses(path)
    xr.testing.assert_identical(back, r)
    # rebinning with another bin width keeps every spike
    fine = nwb_to_responses(path, 5.0, window_ms=(-20, 40), stimulus_columns=["orientation"])
    assert fine.shape == (3, 4, 5, 12)
    np.testing.assert_array_equal(fine.values[..., ::2] + fine.values[..., 1::2], r.values)


def test_nwb_overwrite_and_neo_reader(tmp_path):
    pytest.importorskip("pynwb")
    path = tmp_path / "r.nwb"
    responses_to_nwb(sample_responses(True), path)
    r = sample_responses(False)
    responses_to_nwb(r, path)  # replaces the file atomically
    xr.testing.assert_identical(nwb_to_responses(path), r)
    # neo's own NWB reader sees one spike train per neuron with all its spikes
    block = neo.io.NWBIO(str(path), "r").read_block()
    trains = block.segments[0].spiketrains
    assert [len(st) for st in trains] == r.values.sum(axis=(0, 1, 3)).astype(int).tolist()


def test_nwb_foreign_and_corrupt_files(tmp_path):
    pytest.importorskip("pynwb")
    bad = tmp_path / "corrupt.nwb"
    bad.write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match="corrupt.nwb"):
        nwb_to_responses(bad, 10.0, window_ms=(0, 100))
    with pytest.raises(FileNotFoundError):
        nwb_to_responses(tmp_path / "absent.nwb", 10.0)
    path = tmp_path / "ok.nwb"
    responses_to_nwb(sample_responses(False), path)
    with pytest.raises(ValueError, match="window_ms"):
        nwb_to_responses(path, 7.0)
    with pytest.raises(ValueError, match="stimulus_columns"):
        nwb_to_responses(path, 10.0, window_ms=(-20, 40), stimulus_columns=["speed"])


def test_nwb_rejects_unstorable_coords(tmp_path):
    pytest.importorskip("pynwb")
    r = make_responses(
        np.ones((1, 2, 1, 3), int), bin_ms=1.0, stimulus_coords={"start_time": [0.0, 1.0]}
    )
    with pytest.raises(ValueError, match="reserved"):
        responses_to_nwb(r, tmp_path / "x.nwb")
    assert not (tmp_path / "x.nwb").exists()
