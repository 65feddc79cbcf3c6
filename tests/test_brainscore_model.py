"""neurofond.brainscore: the BrainModel, its time bins and trials, and the exported plugin.

Runs against the installed brainscore-vision (skipped when it is not installed), offline.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

import neurofond.brainscore as nb

brainscore_vision = pytest.importorskip("brainscore_vision")

from neurofond.brainscore import IterativeVAEBrainModel, UnsupportedRequest  # noqa: E402
from neurofond.brainscore._testing import (  # noqa: E402
    grating_stimuli,
    has_coord,
    random_gabor_checkpoint,
)
from neurofond.brainscore.model import average_trials, normalize_time_bins  # noqa: E402
from neurofond.brainscore.stimuli import stimulus_set_from_stimuli  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return random_gabor_checkpoint(tmp_path_factory.mktemp("ck") / "ipvae-k32-test.safetensors")


@pytest.fixture(scope="module")
def stimulus_set(tmp_path_factory):
    return stimulus_set_from_stimuli(grating_stimuli(), tmp_path_factory.mktemp("stim"),
                                     "test_gratings")


@pytest.fixture(scope="module")
def model(checkpoint) -> IterativeVAEBrainModel:
    return IterativeVAEBrainModel.from_checkpoint(checkpoint, transform_gain=40.0)


def test_import_sets_environment():
    for key in ("BS_INSTALL_DEPENDENCIES", "AWS_EC2_METADATA_DISABLED", "RESULTCACHING_HOME",
                "BRAINSCORE_HOME"):
        assert key in os.environ
        assert nb.ENV_DEFAULTS[key] == os.environ[key]  # setdefault: a user's value wins


def test_interface_and_defaults(model):
    from brainscore_vision.model_interface import BrainModel

    assert isinstance(model, BrainModel)
    assert model.identifier == "ipvae-k32-test"
    assert model.visual_degrees() == 8.0
    assert model.patch_size_deg == 1.0 and model.ms_per_step == 10.0
    assert model.n_tiles == 4 and model.n_neuroids == 4 * 32
    np.testing.assert_allclose(sorted(set(np.abs(model.population.positions).ravel())), [0.5])


def test_refuses_other_regions_and_tasks(model):
    with pytest.raises(UnsupportedRequest, match="'IT'"):
        model.start_recording("IT", time_bins=[(70, 170)])
    with pytest.raises(NotImplementedError, match="V1 only"):
        model.start_recording("V4", time_bins=[(70, 170)])
    with pytest.raises(UnsupportedRequest, match="'label'"):
        model.start_task("label", "imagenet")
    with pytest.raises(ValueError, match="passive"):
        model.start_task("probabilities", None)
    model.start_task("passive")


def test_look_at_before_recording_is_refused(checkpoint, stimulus_set):
    fresh = IterativeVAEBrainModel.from_checkpoint(checkpoint, transform_gain=40.0)
    with pytest.raises(RuntimeError, match="start_recording"):
        fresh.look_at(stimulus_set)


def test_time_bins_normalisation_and_step_mapping(model):
    zero_d = np.empty((), dtype=object)
    zero_d[()] = (70, 170)
    assert normalize_time_bins([zero_d]) == [(70.0, 170.0)]
    assert normalize_time_bins(zero_d) == [(70.0, 170.0)]
    tuples = np.empty(2, dtype=object)
    tuples[0], tuples[1] = (50, 100), (100, 150)
    assert normalize_time_bins(tuples) == [(50.0, 100.0), (100.0, 150.0)]
    assert normalize_time_bins((70, 170)) == [(70.0, 170.0)]
    with pytest.raises(ValueError, match="start < end"):
        normalize_time_bins([(170, 70)])
    np.testing.assert_array_equal(model._steps_in_bin(70, 170), np.arange(7, 17))
    np.testing.assert_array_equal(model._steps_in_bin(-100, 0), np.arange(-10, 0))
    with pytest.raises(ValueError, match="no whole model step"):
        model.start_recording("V1", time_bins=[(71, 79)])


def test_look_at_bins_statistics_and_coords(checkpoint, stimulus_set):
    kw = dict(transform_gain=40.0, trials="separate", seed=3)
    rate = IterativeVAEBrainModel.from_checkpoint(checkpoint, **kw)
    count = IterativeVAEBrainModel.from_checkpoint(checkpoint, bin_statistic="sum", **kw)
    bins = [(-50, 0), (50, 100), (100, 200)]
    for m in (rate, count):
        m.start_recording("V1", time_bins=bins)
    a_rate = rate.look_at(stimulus_set, number_of_trials=2)
    a_sum = count.look_at(stimulus_set, number_of_trials=2)
    assert a_rate.dims == ("presentation", "neuroid", "time_bin")
    assert a_rate.shape == (8, 128, 3)
    assert list(a_rate["time_bin_start"].values) == [-50, 50, 100]
    assert list(a_rate["time_bin_end"].values) == [0, 100, 200]
    # same seed -> same spikes; rate = count / n_steps * 1000 / ms_per_step
    n_steps = np.array([5, 5, 10])
    np.testing.assert_allclose(a_rate.values, a_sum.values / n_steps * 100.0, rtol=1e-5)
    assert np.all(a_sum.values == np.round(a_sum.values)) and a_sum.values.min() >= 0
    assert a_rate.attrs["units"] == "spikes/s" and a_sum.attrs["units"] == "spikes per bin"
    # every StimulusSet column on presentation, stimulus-major repetitions
    for col in stimulus_set.columns:
        assert has_coord(a_rate, col), col
    np.testing.assert_array_equal(a_rate["repetition"].values, np.tile([0, 1], 4))
    assert list(a_rate["stimulus_id"].values[:2]) == [stimulus_set["stimulus_id"][0]] * 2
    np.testing.assert_allclose(sorted(set(a_rate["x_deg"].values)), [-0.5, 0.5])
    assert set(a_rate["region"].values) == {"V1"}


def test_look_at_list_of_paths(model, stimulus_set):
    paths = [str(stimulus_set.get_stimulus(s)) for s in stimulus_set["stimulus_id"]][:2]
    model.start_recording("V1", time_bins=[(70, 170)])
    asm = model.look_at(paths)
    assert list(asm["stimulus_id"].values) == paths
    assert list(asm["stimulus_path"].values) == paths
    with pytest.raises(ValueError, match="cannot read image"):
        model.look_at([paths[0], paths[0] + ".missing.png"])


def test_average_trials_matches_average_mode(checkpoint, stimulus_set):
    sep = IterativeVAEBrainModel.from_checkpoint(checkpoint, transform_gain=40.0, seed=5)
    avg = IterativeVAEBrainModel.from_checkpoint(checkpoint, transform_gain=40.0, seed=5,
                                                 trials="average")
    for m in (sep, avg):
        m.start_recording("V1", time_bins=[(70, 170)])
    a_sep = sep.look_at(stimulus_set, number_of_trials=3)
    a_avg = avg.look_at(stimulus_set, number_of_trials=3)
    assert a_avg.sizes["presentation"] == len(stimulus_set)
    assert set(a_avg["n_trials_averaged"].values) == {3}
    mean = average_trials(a_sep)
    np.testing.assert_allclose(mean.values, a_avg.values, rtol=1e-5, atol=1e-4)
    assert list(mean["stimulus_id"].values) == list(stimulus_set["stimulus_id"].values)
    assert not has_coord(mean, "repetition")
    again = avg.look_at(stimulus_set, number_of_trials=3, require_variance=True)
    assert again.sizes["presentation"] == 3 * len(stimulus_set)


@pytest.fixture()
def installed_plugin(checkpoint, tmp_path):
    """Export the checkpoint and copy the plugin into brainscore_vision/models/; remove after."""
    models_dir = Path(brainscore_vision.__file__).parent / "models"
    name = f"neurofond_test_{uuid.uuid4().hex[:8]}"
    identifier = f"neurofond-test-{name[-8:]}"
    plugin = nb.export_plugin(checkpoint, tmp_path / name, identifier=identifier,
                              transform_gain=40.0)
    dest = models_dir / name
    shutil.copytree(plugin, dest)
    try:
        yield identifier, dest
    finally:
        shutil.rmtree(dest, ignore_errors=True)
        brainscore_vision.model_registry.pop(identifier, None)
        for mod in [m for m in sys.modules if m.startswith(f"brainscore_vision.models.{name}")]:
            del sys.modules[mod]
    assert not dest.exists()


def test_exported_plugin_loads_and_looks(installed_plugin, stimulus_set, tmp_path):
    identifier, dest = installed_plugin
    init = (dest / "__init__.py").read_text()
    assert f"model_registry['{identifier}']" in init
    assert sorted(p.name for p in dest.iterdir() if p.name != "__pycache__") == sorted(
        ["__init__.py", "model.py", "test.py", "requirements.txt", "metadata.yaml",
         "ipvae-k32-test.safetensors"])
    assert (dest / "requirements.txt").read_text().splitlines()[1].startswith("neurofond")
    model = brainscore_vision.load_model(identifier)
    assert model.identifier == identifier and model.trials == "average"
    model.start_recording("V1", time_bins=[(70, 170)])
    averaged = model.look_at(stimulus_set, number_of_trials=3)
    assert averaged.sizes["presentation"] == len(stimulus_set)
    asm = model.look_at(stimulus_set, number_of_trials=3, require_variance=True)
    assert asm.dims == ("presentation", "neuroid", "time_bin")
    assert asm.shape == (3 * len(stimulus_set), 128, 1)
    for coord in ("stimulus_id", "repetition", "orientation", "neuroid_id", "region",
                  "time_bin_start", "time_bin_end"):
        assert has_coord(asm, coord), coord
    assert int(asm["time_bin_start"].values[0]) == 70 and int(asm["time_bin_end"].values[0]) == 170
    assert len(set(asm["neuroid_id"].values)) == 128
    trials = asm.values[:, :, 0].reshape(len(stimulus_set), 3, 128)
    assert not np.array_equal(trials[:, 0], trials[:, 1])  # stochastic: trials differ
    assert not np.array_equal(trials[:, 1], trials[:, 2])
    # the plugin's own tests (what Brain-Score runs on submission)
    plugin_tests = importlib.import_module(f"brainscore_vision.models.{dest.name}.test")
    plugin_tests.test_identifier()
    plugin_tests.test_look_at_v1(tmp_path)
    plugin_tests.test_refuses_other_regions_and_tasks()
    # metadata: Brain-Score's legacy "models:" schema (handle_metadata needs `requests`)
    yaml = pytest.importorskip("yaml")
    entry = yaml.safe_load((dest / "metadata.yaml").read_text())["models"][identifier]
    assert entry["model_family"] == "iP-VAE" and entry["runnable"] is True
    assert entry["total_parameter_count"] > 0


def test_export_errors(checkpoint, tmp_path):
    with pytest.raises(ValueError, match="valid Python package name"):
        nb.export_plugin(checkpoint, tmp_path / "bad-name")
    with pytest.raises(ValueError, match="unknown model setting"):
        nb.export_plugin(checkpoint, tmp_path / "ok_name", color=True)
    with pytest.raises(FileNotFoundError):
        nb.export_plugin(tmp_path / "missing.safetensors", tmp_path / "ok_name")
    out = nb.export_plugin(checkpoint, tmp_path / "ok_name", transform_gain=40.0,
                           neurofond_requirement="neurofond @ git+https://example.org/nf@v0",
                           validate=False)
    assert "neurofond @ git+https://example.org/nf@v0" in (out / "requirements.txt").read_text()
    with pytest.raises(FileExistsError):
        nb.export_plugin(checkpoint, out, transform_gain=40.0)
    with pytest.raises(ValueError, match="cannot be built"):
        nb.export_plugin(checkpoint, tmp_path / "bad_settings", grid_deg=20.0,
                         transform_gain=40.0)
    assert not (tmp_path / "bad_settings").exists()


def test_cli_export(checkpoint, tmp_path, capsys):
    import argparse

    from neurofond.brainscore.cli import register_cli

    parser = argparse.ArgumentParser(prog="neurofond")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["brainscore", "export", str(checkpoint), "--out",
                              str(tmp_path / "cli_plugin"), "--identifier", "nf-cli",
                              "--trials", "separate", "--visual-degrees", "4"])
    assert args.func(args) == 0
    assert "'nf-cli'" in capsys.readouterr().out
    text = (tmp_path / "cli_plugin" / "model.py").read_text()
    assert "'trials': 'separate'" in text and "'visual_degrees': 4.0" in text
