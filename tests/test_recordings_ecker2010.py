"""Tests of the Ecker et al. 2010 reader: synthetic files always, the real release when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from neurofond.recordings import load_ecker2010, summarize_ecker2010
from neurofond.responses import validate_responses

STATIC_FILE = "data_v1_binned_static.mat"
N_SESSIONS = 17
TIMES = np.arange(-195, 700, 10, dtype=np.int16)  # 90 bin centres


# ----------------------------------------------------------------------------- synthetic files


def _session(
    rng, *, angle_name, angles, contrasts, n_units, n_reps, spikes=None, date="2020-01-01"
):
    conds = [(a, c) for a in angles for c in contrasts]
    cond = np.zeros((1, len(conds)), dtype=[("contrast", "O"), (angle_name, "O")])
    for k, (a, c) in enumerate(conds):
        cond[0, k] = (np.array([[c]], dtype=np.uint8), np.array([[a]], dtype=float))
    if spikes is None:
        spikes = rng.poisson(0.3, size=(n_units, len(conds), TIMES.size, n_reps)).astype(np.uint8)
    return {
        "date": date,
        "subject": "X",
        "conditions": cond,
        "contamination": np.linspace(0.0, 0.1, n_units)[None, :],
        "tetrode": (np.arange(n_units) // 2 + 1).astype(np.uint8)[None, :],
        "spikes": spikes,
        "times": TIMES[None, :],
    }


def _write(path: Path, sessions: list[dict]) -> Path:
    cell = np.empty((len(sessions), 1), dtype=object)
    for k, s in enumerate(sessions):
        cell[k, 0] = s
    scipy.io.savemat(path, {"data": cell})
    return path


@pytest.fixture
def drifting_file(tmp_path):
    rng = np.random.default_rng(0)
    sessions = [
        _session(
            rng,
            angle_name="direction",
            angles=np.arange(0, 360, 45.0),
            contrasts=[10, 100],
            n_units=5,
            n_reps=4,
        ),
        _session(
            rng,
            angle_name="direction",
            angles=np.arange(0, 360, 90.0),
            contrasts=[50],
            n_units=3,
            n_reps=2,
            date="2020-01-02",
        ),
    ]
    return _write(tmp_path / "data_v1_binned_moving.mat", sessions), sessions


def test_drifting_layout(drifting_file):
    path, sessions = drifting_file
    out = load_ecker2010(path, max_contamination=None)
    assert len(out) == 2
    r = validate_responses(out[0])
    assert r.sizes == {"trial": 4, "stimulus": 16, "neuron": 5, "time": 90}
    np.testing.assert_array_equal(r["direction"].values, np.repeat(np.arange(0, 360, 45.0), 2))
    np.testing.assert_array_equal(r["orientation"].values, r["direction"].values % 180)
    np.testing.assert_array_equal(r["contrast"].values, np.tile([0.1, 1.0], 8))
    np.testing.assert_array_equal(r["contrast_pct"].values, np.tile([10.0, 100.0], 8))
    assert r["stimulus_id"].values[2] == "dir45_c10"
    assert r.attrs["release"] == "drifting" and r.attrs["bin_ms"] == 10.0
    np.testing.assert_array_equal(r["time_start_ms"].values, np.arange(-200, 700, 10.0))
    raw = sessions[0]["spikes"]  # units x conditions x bins x reps
    np.testing.assert_array_equal(r.values, raw.transpose(3, 1, 0, 2))
    assert list(out[1]["neuron_id"].values) == ["s01_u000", "s01_u001", "s01_u002"]
    assert out[1].attrs["session_date"] == "2020-01-02"


def test_drifting_contamination_and_concat(drifting_file):
    path, _ = drifting_file
    kept = load_ecker2010(
        path
    )  # contamination linspace(0, .1): 0, .025, .05 ... -> < .05 keeps 2 / 1
    assert [r.sizes["neuron"] for r in kept] == [2, 1]
    cat = load_ecker2010(path, concat=True, max_contamination=None)
    validate_responses(cat)
    assert cat.sizes["neuron"] == 8 and cat.sizes["trial"] == 4
    # union: 8 directions x {10, 100} plus 4 directions x {50}
    assert cat.sizes["stimulus"] == 20
    s1 = cat.isel(neuron=cat["session"].values == 1)
    shown = (s1["contrast_pct"] == 50).values
    assert np.isnan(s1.values[:, ~shown]).all()
    assert np.isnan(s1.values[2:, shown]).all()  # session 1 has 2 repetitions
    assert np.isfinite(s1.values[:2, shown]).all()


def test_unequal_repetitions_nan_and_cell(tmp_path):
    rng = np.random.default_rng(1)
    base = _session(
        rng, angle_name="orientation", angles=[0.0, 90.0], contrasts=[100], n_units=2, n_reps=5
    )
    spikes = base["spikes"].astype(float)
    spikes[:, 1, :, 3:] = np.nan  # condition 1 has 3 repetitions only
    nan_sess = dict(base, spikes=spikes)
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0] = base["spikes"][:, 0]  # units x bins x 5 reps
    cell[0, 1] = base["spikes"][:, 1, :, :2]  # 2 reps
    cell_sess = dict(base, spikes=cell)
    single = dict(base, spikes=base["spikes"][..., 0])  # 3-D: one repetition
    path = _write(tmp_path / "x.mat", [nan_sess, cell_sess, single])
    a, b, c = load_ecker2010(path, max_contamination=None)
    assert a.sizes["trial"] == 5 and list(a["n_repetitions"].values) == [5, 3]
    assert np.isnan(a.values[3:, 1]).all() and np.isfinite(a.values[:3]).all()
    assert b.sizes["trial"] == 5 and list(b["n_repetitions"].values) == [5, 2]
    assert np.isnan(b.values[2:, 1]).all()
    np.testing.assert_array_equal(b.values[:2, 1], base["spikes"][:, 1, :, :2].transpose(2, 0, 1))
    assert c.sizes["trial"] == 1
    summary = summarize_ecker2010(path, max_contamination=None)
    assert list(summary["repetitions_min"]) == [3, 2, 1]
    assert list(summary["repetitions_max"]) == [5, 5, 1]


def test_snap_orientation(tmp_path):
    rng = np.random.default_rng(2)
    sess = _session(
        rng,
        angle_name="orientation",
        angles=[0.0, 22.0, 67.0, 158.0],
        contrasts=[50],
        n_units=1,
        n_reps=2,
    )
    path = _write(tmp_path / "x.mat", [sess])
    (r,) = load_ecker2010(path, max_contamination=None, snap_orientation_deg=22.5)
    np.testing.assert_allclose(r["orientation"].values, [0.0, 22.5, 67.5, 157.5])
    np.testing.assert_allclose(r["orientation_stored"].values, [0.0, 22.0, 67.0, 158.0])


def test_argument_errors(drifting_file):
    path, _ = drifting_file
    with pytest.raises(ValueError, match="session"):
        load_ecker2010(path, session=5)
    with pytest.raises(ValueError, match="session"):
        load_ecker2010(path, session="0")
    with pytest.raises(ValueError, match="max_contamination"):
        load_ecker2010(path, max_contamination=-1)
    assert len(load_ecker2010(path, session=[1])) == 1


# ----------------------------------------------------------------------------- bad files


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.mat"):
        load_ecker2010(tmp_path / "nothere.mat")


def test_text_file(tmp_path):
    path = tmp_path / "notes.mat"
    path.write_text("this is not a MATLAB file\n" * 20)
    with pytest.raises(ValueError, match=r"notes\.mat.*expected the Ecker"):
        load_ecker2010(path)


def test_truncated_file(drifting_file, tmp_path):
    path, _ = drifting_file
    blob = path.read_bytes()
    bad = tmp_path / "truncated.mat"
    bad.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match=r"truncated\.mat.*expected the Ecker"):
        load_ecker2010(bad)


def test_foreign_mat_without_data(tmp_path):
    path = tmp_path / "foreign.mat"
    scipy.io.savemat(path, {"x": np.arange(3)})
    with pytest.raises(ValueError, match=r"foreign\.mat: no variable 'data'.*\['x'\]"):
        load_ecker2010(path)


def test_data_not_a_cell(tmp_path):
    path = tmp_path / "numbers.mat"
    scipy.io.savemat(path, {"data": np.arange(3)})
    with pytest.raises(ValueError, match=r"numbers\.mat: 'data' is not a non-empty cell array"):
        load_ecker2010(path)


def test_struct_missing_fields(tmp_path):
    rng = np.random.default_rng(3)
    sess = _session(
        rng, angle_name="orientation", angles=[0.0], contrasts=[10], n_units=1, n_reps=1
    )
    del sess["tetrode"]
    path = _write(tmp_path / "partial.mat", [sess])
    with pytest.raises(ValueError, match=r"partial\.mat: data\{1\} lacks field\(s\) \['tetrode'\]"):
        load_ecker2010(path)


def test_spikes_shape_mismatch(tmp_path):
    rng = np.random.default_rng(4)
    sess = _session(
        rng, angle_name="orientation", angles=[0.0, 90.0], contrasts=[10], n_units=2, n_reps=3
    )
    sess["spikes"] = sess["spikes"][:, :1]  # one condition fewer than declared
    path = _write(tmp_path / "shape.mat", [sess])
    with pytest.raises(ValueError, match=r"shape\.mat: data\{1\}: 'spikes' has shape"):
        load_ecker2010(path)


def test_conditions_without_angle(tmp_path):
    rng = np.random.default_rng(5)
    sess = _session(
        rng, angle_name="orientation", angles=[0.0], contrasts=[10], n_units=1, n_reps=1
    )
    cond = np.zeros((1, 1), dtype=[("contrast", "O"), ("speed", "O")])
    cond[0, 0] = (np.array([[10]]), np.array([[2.0]]))
    sess["conditions"] = cond
    path = _write(tmp_path / "speed.mat", [sess])
    with pytest.raises(ValueError, match="'orientation' .* or 'direction'"):
        load_ecker2010(path)


# ----------------------------------------------------------------------------- real release


@pytest.fixture(scope="module")
def static_file(shared_data_dir) -> Path:
    path = shared_data_dir / "ecker2010_v1_gratings" / STATIC_FILE
    if not path.is_file():
        pytest.skip(f"Ecker 2010 static release not found at {path}")
    return path


@pytest.fixture(scope="module")
def static_sessions(static_file):
    return load_ecker2010(static_file)


@pytest.fixture(scope="module")
def raw_data(static_file):
    return scipy.io.loadmat(static_file)["data"].ravel()


def _window_counts(r, start=0.0, stop=500.0):
    sel = (r["time_start_ms"].values >= start) & (r["time_end_ms"].values <= stop)
    return r.values[..., sel].sum(axis=-1)  # trial, stimulus, neuron


@pytest.mark.data
def test_all_sessions_load(static_sessions, raw_data):
    assert len(static_sessions) == N_SESSIONS
    for k, r in enumerate(static_sessions):
        validate_responses(r)
        raw = raw_data[k][0, 0]
        n_units, n_cond, n_bins, n_reps = raw["spikes"].shape
        good = int(np.count_nonzero(raw["contamination"].ravel() < 0.05))
        assert r.sizes == {"trial": n_reps, "stimulus": n_cond, "neuron": good, "time": n_bins}
        assert not np.isnan(r.values).any()
        assert set(r["session"].values) == {k}
        assert r.attrs["bin_ms"] == 10.0 and r.attrs["stimulus_duration_ms"] == 500.0
        np.testing.assert_array_equal(r["time_start_ms"].values, np.arange(-200, 700, 10.0))


@pytest.mark.data
def test_counts_table(static_file):
    table = summarize_ecker2010(static_file)
    assert len(table) == N_SESSIONS
    assert set(table["n_conditions"]) == {14, 16}
    assert set(table["n_angles"]) == {7, 8}
    assert table["repetitions_min"].min() == 10 and table["repetitions_max"].max() == 85
    assert (table["repetitions_min"] == table["repetitions_max"]).all()  # equal per session
    assert (table["n_empty_trials"] == 0).all()
    everything = summarize_ecker2010(static_file, max_contamination=None)
    assert everything["n_units_total"].sum() == 307
    assert set(table["contrasts_pct"]) == {"1,10", "10,100", "3,100", "2,30", "20,50"}


@pytest.mark.data
def test_spot_check_raw_counts(static_file, raw_data):
    k, unit = 7, 3
    (r,) = load_ecker2010(static_file, session=k, max_contamination=None)
    raw = raw_data[k][0, 0]["spikes"]
    cell = r.isel(neuron=int(np.flatnonzero(r["neuron_id"].values == "s07_u003")[0]))
    np.testing.assert_array_equal(cell.values, raw[unit].transpose(2, 0, 1))
    cond = raw_data[k][0, 0]["conditions"].ravel()
    assert r["contrast_pct"].values[1] == float(np.squeeze(cond[1]["contrast"]))
    assert r["orientation"].values[2] == float(np.squeeze(cond[2]["orientation"]))


@pytest.mark.data
def test_contamination_filter(static_file, static_sessions):
    every = load_ecker2010(static_file, max_contamination=None)
    strict = load_ecker2010(static_file, max_contamination=0.01)
    n_all = np.array([r.sizes["neuron"] for r in every])
    n_005 = np.array([r.sizes["neuron"] for r in static_sessions])
    n_001 = np.array([r.sizes["neuron"] for r in strict])
    assert (n_005 <= n_all).all() and (n_001 <= n_005).all()
    assert n_all.sum() == 307 and n_005.sum() < n_all.sum() and n_001.sum() < n_005.sum()
    for r in static_sessions:
        assert (r["contamination"].values < 0.05).all()


@pytest.mark.data
def test_fano_factor_plausible(static_sessions):
    for r in static_sessions:
        counts = _window_counts(r)  # trial, stimulus, neuron
        mean = counts.mean(axis=0)
        var = counts.var(axis=0, ddof=1)
        ok = mean > 0
        median = float(np.median(var[ok] / mean[ok]))
        assert 0.9 <= median <= 1.8, (r.attrs["session"], median)


@pytest.mark.data
def test_latency_longer_at_low_contrast(static_sessions):
    later = 0
    for r in static_sessions:
        t = 0.5 * (r["time_start_ms"].values + r["time_end_ms"].values)
        pct = r["contrast_pct"].values
        peaks = []
        for sel in (pct == pct.min(), pct == pct.max()):
            psth = r.values[:, sel].mean(axis=(0, 1, 2))
            psth = np.convolve(psth, np.ones(3) / 3, mode="same")
            win = (t > 0) & (t <= 250)
            peaks.append(t[win][np.argmax(psth[win])])
        later += peaks[0] > peaks[1]
    assert later >= 12, f"low-contrast peak later in only {later}/17 sessions"


@pytest.mark.data
def test_concat_shared_conditions(static_file, static_sessions):
    cat = load_ecker2010(static_file, session=[12, 13, 14, 15, 16], concat=True)
    validate_responses(cat)
    assert cat.sizes["stimulus"] == 16 and cat.sizes["trial"] == 30
    assert cat.sizes["neuron"] == sum(static_sessions[k].sizes["neuron"] for k in range(12, 17))
    assert (cat["n_sessions"].values == 5).all()
    s16 = cat.isel(neuron=cat["session"].values == 16)
    assert np.isnan(s16.values[20:]).all() and np.isfinite(s16.values[:20]).all()
    np.testing.assert_array_equal(s16.values[:20], static_sessions[16].values)


@pytest.mark.data
def test_concat_union_of_conditions(static_file):
    cat = load_ecker2010(static_file, session=[0, 5], concat=True, snap_orientation_deg=22.5)
    # session 0: {1, 10} % x 8 orientations; session 5: {10, 100} % x 7 orientations
    assert cat.sizes["stimulus"] == 8 + 8 + 7
    s0 = cat.isel(neuron=cat["session"].values == 0)
    hi = cat["contrast_pct"].values == 100
    assert np.isnan(s0.values[:, hi]).all()
    assert np.isfinite(s0.values[:, ~hi]).all()
    assert cat.sizes["trial"] == 39


@pytest.mark.data
def test_default_path_from_env(shared_data_dir, monkeypatch):
    monkeypatch.setenv("NEUROFOND_DATA_DIR", str(shared_data_dir))
    (r,) = load_ecker2010(session=0)
    assert r.attrs["file"] == STATIC_FILE
