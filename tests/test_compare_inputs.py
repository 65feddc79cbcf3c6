"""``neurofond compare`` on other inputs: the drifting Ecker release and NWB files.

The drifting release is not on this machine, so a synthetic file with that release's layout
(``datasets/ecker2010_v1_gratings_drifting.md``: a MATLAB cell array of sessions with
``conditions.direction`` and ``conditions.contrast`` in percent, spikes units x conditions x
bins x repetitions, bin centres -195..695 ms) is written here and run through the same
command as the static release.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime

import numpy as np
import pytest
import scipy.io

from neurofond import compare
from neurofond.cli import main

TIMES = np.arange(-195, 700, 10, dtype=np.int16)


def _drifting_session(rng, n_units: int = 6, n_reps: int = 8) -> dict:
    directions = np.arange(0, 360, 45.0)
    contrasts = [20, 100]
    conds = [(a, c) for a in directions for c in contrasts]
    cond = np.zeros((1, len(conds)), dtype=[("contrast", "O"), ("direction", "O")])
    pref = rng.uniform(0, 180, n_units)
    lam = np.zeros((n_units, len(conds), TIMES.size))
    for k, (a, c) in enumerate(conds):
        cond[0, k] = (np.array([[c]], dtype=np.uint8), np.array([[a]], dtype=float))
        tuning = np.exp(2.0 * (np.cos(np.deg2rad(2 * (a - pref))) - 1.0))
        on = (TIMES > 50) & (TIMES < 500)
        lam[:, k] = 0.02 + 0.3 * (c / 100) * tuning[:, None] * on[None]
    spikes = rng.poisson(lam[..., None], size=(*lam.shape, n_reps)).astype(np.uint8)
    return {"date": "2020-01-01", "subject": "X", "conditions": cond,
            "contamination": np.zeros((1, n_units)),
            "tetrode": (np.arange(n_units) // 2 + 1).astype(np.uint8)[None, :],
            "spikes": spikes, "times": TIMES[None, :]}


@pytest.fixture
def drifting_file(tmp_path):
    rng = np.random.default_rng(0)
    cell = np.empty((2, 1), dtype=object)
    cell[0, 0] = _drifting_session(rng)
    cell[1, 0] = _drifting_session(rng, n_units=5)
    path = tmp_path / "data_v1_binned_moving.mat"
    scipy.io.savemat(path, {"data": cell})
    return path


def test_drifting_release_runs_through_the_same_command(drifting_file, tmp_path):
    recs = compare.load_recordings(str(drifting_file))
    assert recs[0].attrs["release"] == "drifting"
    sess = compare.sessions_from_responses(recs)
    np.testing.assert_array_equal(sess[0].orientation,
                                  np.mod(recs[0]["direction"].values, 180.0))
    out = tmp_path / "out"
    rc = main(["compare", "--recordings", str(drifting_file), "--models", "stimulus-floor",
               "gabor-energy", "--quick", "--delays", "0", "40", "--out", str(out),
               "--no-progress"])
    assert rc == 0
    rows = list(csv.DictReader((out / "comparison.csv").open()))
    assert {r["session"] for r in rows} == {"0", "1", "all"}
    assert {r["model"] for r in rows} == {"stimulus-floor", "gabor-energy"}
    summary = json.loads((out / "summary.json").read_text())
    assert "direction" in summary["results"]["assumptions"]["recordings"]["orientation"]
    # orientation-tuned synthetic units: the floor (a basis of orientation) predicts them
    floor = next(c for c in summary["candidates"] if c["model"] == "stimulus-floor")
    assert floor["median_raw_predictivity"] > 0.3


def test_drifting_sessions_out_of_range(drifting_file, tmp_path):
    out = tmp_path / "out"
    rc = main(["compare", "--recordings", str(drifting_file), "--models", "stimulus-floor",
               "--sessions", "5", "--out", str(out)])
    assert rc == 2 and not out.exists()
    with pytest.raises(ValueError, match="session"):
        compare.compare(str(drifting_file), ["stimulus-floor"], sessions=[5])
    with pytest.raises(ValueError, match="sessions: expected indices 0-16"):
        compare.compare("ecker2010", ["stimulus-floor"], sessions=[17])


def test_nwb_without_stimulus_intervals(tmp_path, capsys):
    pynwb = pytest.importorskip("pynwb")
    nwb = pynwb.NWBFile(session_description="no trials", identifier="x",
                        session_start_time=datetime(2024, 1, 1, tzinfo=UTC))
    nwb.add_unit(spike_times=np.array([0.1, 0.2, 0.3]))
    path = tmp_path / "units_only.nwb"
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    out = tmp_path / "out"
    rc = main(["compare", "--recordings", str(path), "--models", "stimulus-floor",
               "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "recordings: units_only.nwb" in err and "intervals" in err
    assert not out.exists()
    with pytest.raises(ValueError, match="recordings: units_only.nwb: .*trials"):
        compare.compare(str(path), ["stimulus-floor"])
