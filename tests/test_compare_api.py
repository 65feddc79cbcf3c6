"""neurofond.compare.compare / ``neurofond compare``: bad input fails clearly, nothing written."""

from __future__ import annotations

import numpy as np
import pytest

from neurofond import compare
from neurofond.cli import main
from neurofond.models import StimulusFloorBaseline
from neurofond.responses import make_responses


def _resp(coords=None, start=-300.0):
    rng = np.random.default_rng(0)
    starts = np.arange(start, 500.0, 10.0)
    coords = coords if coords is not None else {
        "orientation": np.repeat([0.0, 45.0, 90.0, 135.0], 2),
        "contrast": np.tile([0.2, 1.0], 4)}
    counts = rng.poisson(0.3, size=(6, 8, 3, starts.size))
    return make_responses(counts, bin_ms=10.0, stimulus_coords=coords, time_start_ms=starts)


def test_recordings_without_grating_coords():
    with pytest.raises(ValueError, match="recordings: .*orientation"):
        compare.compare(_resp({"stimulus_id": np.arange(8)}), ["stimulus-floor"])
    with pytest.raises(ValueError, match="contrast"):
        compare.compare(_resp({"orientation": np.arange(8) * 22.5}), ["stimulus-floor"])
    with pytest.raises(ValueError, match="recordings: .*-200"):
        compare.compare(_resp(start=0.0), ["stimulus-floor"])


def test_unknown_candidate_and_sessions_out_of_range():
    with pytest.raises(ValueError, match="candidates: unknown candidate 'nope'"):
        compare.compare(_resp(), ["nope"])
    with pytest.raises(ValueError, match="sessions: \\[3\\] out of range"):
        compare.compare(_resp(), ["stimulus-floor"], sessions=[3])


def test_a_seed_replica_is_a_candidate_by_name():
    from neurofond.compare.api import _check_candidates
    from neurofond.pretrained import seed_replicas

    replicas = seed_replicas("ipvae-k512-b24-photos")
    assert replicas, "no shipped seed replica of the default iP-VAE"
    _check_candidates(list(replicas.values()))  # no error
    with pytest.raises(ValueError, match="unknown candidate 'ipvae-k512-b24-photos-s99'"):
        _check_candidates(["ipvae-k512-b24-photos-s99"])


def test_direction_coords_map_to_orientation():
    sess = compare.sessions_from_responses([_resp({"direction": np.arange(8) * 45.0,
                                                   "contrast": np.full(8, 0.5)})])[0]
    np.testing.assert_allclose(sess.orientation, np.mod(np.arange(8) * 45.0, 180.0))


def test_cli_refuses_bad_input_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["compare", "--recordings", str(tmp_path / "missing.nwb"), "--out", str(out),
               "--models", "stimulus-floor"])
    assert rc == 2 and "recordings" in capsys.readouterr().err
    rc = main(["compare", "--recordings", "ecker2010", "--out", str(out), "--models", "nope"])
    assert rc == 2 and "candidates" in capsys.readouterr().err
    assert not out.exists()
    out.mkdir()
    (out / "x").write_text("keep")
    rc = main(["compare", "--recordings", "ecker2010", "--out", str(out)])
    assert rc == 2 and "not empty" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["x"]


def test_stimulus_floor_features():
    params = compare.stimulus_parameters()
    stim = compare.render_conditions(np.array([0.0, 90.0]), np.array([0.5, 1.0]), params)
    floor = StimulusFloorBaseline()
    d = floor.drive(stim)
    assert d.shape == (2, floor.n_channels) and (d >= 0).all()
    cand = compare.BaselineCandidate("stimulus-floor", params)
    resp = cand.model.present(stim, n_trials=2, blank_steps=4, stimulus_steps=10, seed=0)
    assert resp.sizes["neuron"] == floor.n_channels


def test_end_to_end_on_synthetic_floor_data(tmp_path):
    comp = compare.compare(_resp(), ["stimulus-floor", "gabor-energy"], quick=True,
                           n_trials=2, n_trials_features=2, n_bootstrap=20, progress=False,
                           delays_ms=(0.0, 40.0))
    out = compare.write_outputs(comp, tmp_path / "o", n_bootstrap=20)
    import csv
    import json

    rows = list(csv.DictReader((out / "comparison.csv").open()))
    assert {"model", "session", "n_units", "predictivity_raw", "ceiling",
            "predictivity_ceiled", "ks_similarity_cv"} <= set(rows[0])
    summary = json.loads((out / "summary.json").read_text())
    assert [c["rank"] for c in summary["candidates"]] == [1, 2]
    with pytest.raises(FileExistsError):
        compare.write_outputs(comp, out)
