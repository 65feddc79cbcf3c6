"""Sweeps, single-process path: store = direct present(), resume, refusals, training, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from neurofond.cli import main
from neurofond.fond import ModelConfig, TrainConfig, make_patch_data, train
from neurofond.fond.checkpoint import load_checkpoint
from neurofond.population import InSilicoPopulation
from neurofond.stimuli import ScreenGeometry, grating_sweep
from neurofond.sweep import (
    load_responses,
    load_spec,
    parse_spec,
    read_manifest,
    run_sweep,
    training_checkpoint,
)
from neurofond.sweep.store import create_store, task_list
from neurofond.sweep.tasks import run_population_chunk

REPO = Path(__file__).resolve().parents[1]
MODEL = "ipvae-k512-b24-photos"
SPEC = {
    "name": "tiny",
    "population": {
        "checkpoints": [MODEL], "seeds": [3, 7], "n_trials": 4, "trials_per_chunk": 2,
        "stimuli_per_chunk": 5,
        "stimuli": {"grid": {"size_px": 32, "pixels_per_degree": 16.0,
                             "orientations": {"start": 0, "stop": 180, "step": 30},
                             "phases": [0, 90], "blank_steps": 2, "steps_per_frame": 4}},
    },
}
SPEC_TOML = f"""
name = "tiny"
[population]
checkpoints = ["{MODEL}"]
seeds = [3, 7]
n_trials = 4
trials_per_chunk = 2
stimuli_per_chunk = 5
[population.stimuli.grid]
size_px = 32
pixels_per_degree = 16.0
orientations = {{ start = 0, stop = 180, step = 30 }}
phases = [0, 90]
blank_steps = 2
steps_per_frame = 4
"""


@pytest.fixture(scope="module")
def serial_store(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "store"
    result = run_sweep(parse_spec(SPEC), out, workers=0, progress=False)
    assert (result.n_tasks, result.n_skipped, result.n_run, result.workers) == (12, 0, 12, 0)
    return out


def test_store_equals_direct_present_chunk_by_chunk(serial_store):
    """Each chunk of the store is exactly population.present(stimuli[s0:s1], seed=chunk seed)."""
    resp = load_responses(serial_store)
    assert resp.dims == ("trial", "stimulus", "neuron", "time")
    assert resp.shape == (8, 12, 512, 6)
    pop = InSilicoPopulation.from_pretrained(MODEL, ms_per_step=10.0)
    stim = grating_sweep(ScreenGeometry(16.0, 32), orientations=np.arange(0, 180, 30),
                         sfs=[2.0], phases=[0, 90])
    np.testing.assert_array_equal(resp["orientation"].values, stim.params["orientation"])
    np.testing.assert_array_equal(resp["base_seed"].values, [3] * 4 + [7] * 4)
    np.testing.assert_array_equal(resp["step"].values, np.arange(-2, 4))
    spec = parse_spec(SPEC)
    for chunk in spec.chunks({"grid": 12}):
        (t0, t1), (s0, s1) = chunk.trials, chunk.stimuli
        direct = pop.present(stim.select(slice(s0, s1)), n_trials=t1 - t0, blank_steps=2,
                             steps_per_frame=4, seed=chunk.seed, progress=False)
        np.testing.assert_array_equal(resp.values[t0:t1, s0:s1], direct.values)
        assert (resp["chunk_seed"].values[t0:t1, s0:s1] == chunk.seed).all()
        np.testing.assert_array_equal(resp["neuron_id"].values, direct["neuron_id"].values)
        np.testing.assert_array_equal(resp["time_end_ms"].values, direct["time_end_ms"].values)
    assert resp.attrs["model_name"] == MODEL and resp.attrs["spec_hash"] == spec.hash
    assert resp.values.sum() > 0


def test_resume_skips_finished_tasks_and_reruns_missing_ones(serial_store, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(serial_store, out)
    before = read_manifest(out)
    again = run_sweep(parse_spec(SPEC), out, workers=0, progress=False)
    assert (again.n_skipped, again.n_run) == (12, 0)
    assert read_manifest(out) == before  # nothing rewritten
    # forget three tasks (as after a killed client): only they run again, same numbers
    manifest = read_manifest(out)
    dropped = sorted(manifest["done"])[:3]
    for key in dropped:
        del manifest["done"][key]
    (out / "_sweep" / "manifest.json").write_text(json.dumps(manifest))
    third = run_sweep(parse_spec(SPEC), out, workers=0, progress=False)
    assert (third.n_skipped, third.n_run) == (9, 3)
    after = read_manifest(out)["done"]
    for key in before["done"]:
        changed = after[key]["finished_utc"] != before["done"][key]["finished_utc"]
        assert changed == (key in dropped)
    np.testing.assert_array_equal(load_responses(out).values, load_responses(serial_store).values)


def test_changed_spec_or_foreign_folder_is_refused(serial_store, tmp_path):
    changed = json.loads(json.dumps(SPEC))
    changed["population"]["n_trials"] = 2
    with pytest.raises(ValueError, match="another spec"):
        run_sweep(parse_spec(changed), serial_store, workers=0, progress=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a sweep store"):
        run_sweep(parse_spec(SPEC), foreign, workers=0, progress=False)
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


def test_unfinished_block_is_refused_or_nan(tmp_path, serial_store):
    spec = parse_spec(SPEC)
    out = tmp_path / "partial"
    tasks = task_list(spec)
    create_store(out, spec, tasks)
    run_population_chunk(str(out), spec.to_dict(), tasks[4].to_dict())
    with pytest.raises(ValueError, match="unfinished chunks"):
        load_responses(out)
    part = load_responses(out, allow_incomplete=True)
    full = load_responses(serial_store)
    (t0, t1), (s0, s1) = tasks[4].trials, tasks[4].stimuli
    np.testing.assert_array_equal(part.values[t0:t1, s0:s1], full.values[t0:t1, s0:s1])
    mask = np.ones(part.shape[:2], dtype=bool)
    mask[t0:t1, s0:s1] = False
    assert np.isnan(part.values[mask]).all()
    with pytest.raises(ValueError, match="unknown 'nope'"):
        load_responses(serial_store, checkpoint="nope")


def test_example_spec_runs(tmp_path):
    spec = load_spec(REPO / "stimuli" / "sweep_example.toml")
    result = run_sweep(spec, tmp_path / "example", workers=0, progress=False)
    assert result.n_run == result.n_tasks == 16
    grid = load_responses(tmp_path / "example", stimuli="grid")
    drift = load_responses(tmp_path / "example", stimuli="drift")
    assert grid.shape == (8, 12, 512, 15) and grid.attrs["bin_ms"] == 10.0
    assert drift.shape == (8, 8, 512, 12) and drift.attrs["bin_ms"] == 5.0
    np.testing.assert_array_equal(np.unique(drift["contrast"].values), [0.25, 1.0])


TRAIN = {"name": "tr", "training": {
    "beta": [1.0, 2.0], "t_train": [2], "seed": [0],
    "model": {"n_latents": 8},
    "train": {"epochs": 1, "max_steps": 3, "batch_size": 50, "eval_patches": 50},
    "data": {"n_train": 200, "n_validation": 50},
}}


def test_training_sweep_equals_direct_train_and_resumes(tmp_path):
    out = tmp_path / "train"
    result = run_sweep(parse_spec(TRAIN), out, workers=0, progress=False)
    assert (result.n_tasks, result.n_run) == (2, 2)
    data = make_patch_data("bundled", n_train=200, n_validation=50, patch_size=16)
    direct = train(ModelConfig(beta=2.0, t_train=2, n_latents=8),
                   TrainConfig(seed=0, epochs=1, max_steps=3, batch_size=50, eval_patches=50),
                   data.train, data.validation, data.preprocessing, tmp_path / "direct",
                   name="b2", progress=False)
    swept, _, _ = load_checkpoint(training_checkpoint(out, "beta2_T2_seed0"))
    ref, _, _ = load_checkpoint(direct.checkpoint)
    for (name, a), (_, b) in zip(swept.state_dict().items(), ref.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name
    other, _, _ = load_checkpoint(training_checkpoint(out, "beta1_T2_seed0"))
    assert not torch.equal(other.phi, swept.phi)
    assert other.config.beta == 1.0 and swept.config.beta == 2.0
    again = run_sweep(parse_spec(TRAIN), out, workers=0, progress=False)
    assert (again.n_skipped, again.n_run) == (2, 0)


def test_cli_runs_and_refuses_bad_spec_writing_nothing(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC_TOML)
    out = tmp_path / "store"
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "0", "--no-progress"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (line["tasks"], line["run"], line["workers"]) == (12, 12, 0)
    bad = tmp_path / "bad.toml"
    bad.write_text(SPEC_TOML.replace("n_trials = 4", "n_trials = 4\nn_trailz = 2"))
    rc = main(["sweep", str(bad), "--out", str(tmp_path / "bad_store"), "--workers", "0"])
    assert rc == 2
    assert "population.n_trailz: unknown key" in capsys.readouterr().err
    assert not (tmp_path / "bad_store").exists()


def test_gaussian_model_stores_signed_float_activations(tmp_path):
    spec = json.loads(json.dumps(SPEC))
    spec["population"].update(checkpoints=["igvae-k512-b8-photos"], seeds=[0])
    parsed = parse_spec(spec)
    run_sweep(parsed, tmp_path / "g", workers=0, progress=False)
    resp = load_responses(tmp_path / "g")
    assert resp.dtype == np.float32 and resp.attrs.get("signed") == 1
    assert (resp.values < 0).any()
    pop = InSilicoPopulation.from_pretrained("igvae-k512-b8-photos", ms_per_step=10.0)
    stim = grating_sweep(ScreenGeometry(16.0, 32), orientations=np.arange(0, 180, 30),
                         sfs=[2.0], phases=[0, 90])
    chunk = parsed.chunks({"grid": 12})[-1]
    (t0, t1), (s0, s1) = chunk.trials, chunk.stimuli
    direct = pop.present(stim.select(slice(s0, s1)), n_trials=t1 - t0, blank_steps=2,
                         steps_per_frame=4, seed=chunk.seed, progress=False)
    np.testing.assert_array_equal(resp.values[t0:t1, s0:s1], direct.values)
