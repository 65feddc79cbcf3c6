"""Checkpoints: round trips, safe loading, clear errors for bad files."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from neurofond.fond import (
    CheckpointError,
    IterativeVAE,
    ModelConfig,
    Preprocessing,
    evaluate,
    load_checkpoint,
    save_checkpoint,
)
from neurofond.pretrained import load_model


def _model(family="poisson"):
    return IterativeVAE(ModelConfig.for_family(family, n_latents=16, n_inputs=64),
                        generator=torch.Generator().manual_seed(0))


def test_round_trip_preserves_weights_config_and_spikes(tmp_path):
    for family in ("poisson", "gaussian", "gaussian_relu"):
        model = _model(family)
        with torch.no_grad():
            model.phi.normal_(0, 0.3, generator=torch.Generator().manual_seed(1))
        prep = Preprocessing(patch_size=8, global_mean=0.1, global_std=2.0)
        path = save_checkpoint(model, tmp_path / f"{family}.safetensors", preprocessing=prep,
                               summary={"note": "test"})
        loaded, prep2, summary = load_checkpoint(path)
        assert loaded.config == model.config and prep2 == prep and summary == {"note": "test"}
        for k, v in model.state_dict().items():
            assert torch.equal(v, loaded.state_dict()[k])
        x = np.random.default_rng(0).standard_normal((20, 64)).astype(np.float32)
        a = evaluate(model, x, 20, seed=3)
        b = evaluate(loaded, x, 20, seed=3)
        np.testing.assert_array_equal(a.traces["r2"], b.traces["r2"])
        sidecar = json.loads((tmp_path / f"{family}.json").read_text())
        assert sidecar["model_config"]["family"] == family


def test_refuses_to_overwrite(tmp_path):
    path = save_checkpoint(_model(), tmp_path / "m.safetensors", preprocessing=Preprocessing())
    with pytest.raises(FileExistsError, match="overwrite"):
        save_checkpoint(_model(), path, preprocessing=Preprocessing())


def test_corrupt_truncated_and_foreign_files(tmp_path):
    path = save_checkpoint(_model(), tmp_path / "m.safetensors", preprocessing=Preprocessing())
    data = path.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated.safetensors"):
        load_checkpoint(truncated)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00\x01 this is not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="garbage.safetensors"):
        load_checkpoint(garbage)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.zeros(3)}, str(foreign), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="not a neurofond"):
        load_checkpoint(foreign)
    pickle_file = tmp_path / "model.pt"
    torch.save({"phi": torch.zeros(2)}, pickle_file)
    with pytest.raises(CheckpointError, match="model.pt"):
        load_checkpoint(pickle_file)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.safetensors")


def test_mismatched_and_non_finite_weights(tmp_path):
    model = _model()
    path = save_checkpoint(model, tmp_path / "m.safetensors", preprocessing=Preprocessing())
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
    tensors = load_file(str(path))
    tensors["phi"] = tensors["phi"][:, :8].contiguous()
    bad = tmp_path / "bad_shape.safetensors"
    save_file(tensors, str(bad), metadata=meta)
    with pytest.raises(CheckpointError, match="do not match"):
        load_checkpoint(bad)
    tensors = load_file(str(path))
    tensors["phi"][0, 0] = float("nan")
    nan = tmp_path / "nan.safetensors"
    save_file(tensors, str(nan), metadata=meta)
    with pytest.raises(CheckpointError, match="NaN"):
        load_checkpoint(nan)


def test_unknown_pretrained_name_lists_available():
    with pytest.raises(ValueError, match="unknown pretrained model"):
        load_model("ipvae-does-not-exist")


def test_files_are_written_atomically_as_strict_json(tmp_path):
    """Checkpoint and sidecar go through neurofond._files: JSON-safe values, no temp files."""
    import os

    from neurofond import _files
    from neurofond.fond import checkpoint

    assert checkpoint.save_safetensors_atomic is _files.save_safetensors_atomic
    summary = {"r2": np.float32(0.5), "steps": np.int64(3), "bad": float("nan"),
               "trace": np.array([1.0, 2.0])}
    old_umask = os.umask(0o022)
    try:
        path = save_checkpoint(_model(), tmp_path / "m.safetensors",
                               preprocessing=Preprocessing(), summary=summary)
    finally:
        os.umask(old_umask)
    _, _, loaded = load_checkpoint(path)
    assert loaded == {"r2": 0.5, "steps": 3, "bad": None, "trace": [1.0, 2.0]}
    text = (tmp_path / "m.json").read_text()
    assert "NaN" not in text and json.loads(text)["summary"]["bad"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]
    for p in tmp_path.iterdir():  # the umask's mode, not mkstemp's 0600
        assert p.stat().st_mode & 0o777 == 0o644
