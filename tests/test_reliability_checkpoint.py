"""Checkpoint settings and tensors are validated against each other at load (issue 17.6).

Forged or damaged headers must fail before any tensor is read or any model allocated, with an
error naming the file and the field; absurd weights must fail at load, not at inference.
"""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from neurofond.fond import (
    CheckpointError,
    IterativeVAE,
    ModelConfig,
    Preprocessing,
    load_checkpoint,
    save_checkpoint,
)


@pytest.fixture(params=["poisson", "gaussian"])
def saved(tmp_path, request):
    model = IterativeVAE(ModelConfig.for_family(request.param, n_latents=16, n_inputs=64),
                         generator=torch.Generator().manual_seed(0))
    return save_checkpoint(model, tmp_path / "good.safetensors",
                           preprocessing=Preprocessing(patch_size=8, global_std=2.0))


def _forge(path, name, *, config=None, prep=None, summary=None, tensors=None):
    with safe_open(str(path), framework="pt") as fh:
        meta = dict(fh.metadata())
    for key, changes in (("model_config", config), ("preprocessing", prep)):
        if changes:
            meta[key] = json.dumps({**json.loads(meta[key]), **changes})
    if summary is not None:
        meta["summary"] = summary
    data = load_file(str(path))
    for key, fn in (tensors or {}).items():
        data[key] = fn(data[key])
    out = path.parent / name
    save_file(data, str(out), metadata=meta)
    return out


def test_forged_n_latents_fails_before_any_tensor_is_read(saved, monkeypatch):
    forged = _forge(saved, "huge.safetensors", config={"n_latents": 3_000_000})

    def no_read(*args, **kwargs):
        raise AssertionError("tensors were read before the header was validated")

    monkeypatch.setattr("safetensors.torch.load_file", no_read)
    with pytest.raises(CheckpointError, match=r"huge\.safetensors.*\[64, 16\].*n_latents=3000000"):
        load_checkpoint(forged)
    forged = _forge(saved, "inputs.safetensors", config={"n_inputs": 10_000})
    with pytest.raises(CheckpointError, match=r"inputs\.safetensors.*n_inputs"):
        load_checkpoint(forged)


def test_family_that_does_not_match_the_tensors(saved):
    with safe_open(str(saved), framework="pt") as fh:
        family = json.loads(fh.metadata()["model_config"])["family"]
    other = "gaussian_relu" if family == "gaussian" else "gaussian"
    forged = _forge(saved, "family.safetensors", config={"family": other})
    with pytest.raises(CheckpointError, match=r"family\.safetensors.*missing"):
        load_checkpoint(forged)


@pytest.mark.parametrize("section, field, value", [
    ("config", "floor", "-8"), ("config", "floor", math.nan), ("config", "floor", True),
    ("config", "beta", 0), ("config", "clamp_stop", math.inf), ("config", "sigma_x_clamp", -1),
    ("config", "clamp_du", [7.0, 0.0]), ("config", "clamp_u", [7.0]),
    ("config", "prior_init", ["a", 1]),
    ("prep", "global_std", 0), ("prep", "global_std", math.nan), ("prep", "global_std", "1"),
    ("prep", "global_mean", math.inf), ("prep", "patch_size", 8.0), ("prep", "lcn", "yes"),
])
def test_wrong_types_and_non_finite_settings_name_the_file_and_field(saved, section, field,
                                                                     value):
    forged = _forge(saved, "bad.safetensors", **{section: {field: value}})
    with pytest.raises(CheckpointError, match=rf"bad\.safetensors.*'{field}'"):
        load_checkpoint(forged)


@pytest.mark.parametrize("tensor, value, bound", [
    ("phi", 1e30, "1e+06"), ("prior_u", -2e6, "1e+06"), ("log_eta", 1e3, "80"),
    ("log_sigma_x", -100.0, "80"),
])
def test_absurd_weights_are_refused_at_load(saved, tensor, value, bound):
    def poke(t):
        t = t.clone()
        t.view(-1)[0] = value
        return t

    forged = _forge(saved, "absurd.safetensors", tensors={tensor: poke})
    pattern = rf"absurd\.safetensors.*'{tensor}'.*bound {re.escape(bound)}"
    with pytest.raises(CheckpointError, match=pattern):
        load_checkpoint(forged)


def test_non_float_tensor_and_non_object_metadata(saved):
    forged = _forge(saved, "int.safetensors", tensors={"log_eta": lambda t: t.to(torch.int32)})
    with pytest.raises(CheckpointError, match=r"int\.safetensors.*'log_eta'.*dtype"):
        load_checkpoint(forged)
    forged = _forge(saved, "summary.safetensors", summary="[1, 2]")
    with pytest.raises(CheckpointError, match=r"summary\.safetensors.*'summary'"):
        load_checkpoint(forged)


def test_a_valid_checkpoint_still_loads(saved):
    model, prep, _ = load_checkpoint(saved)
    assert prep.global_std == 2.0 and model.n_latents == 16
