"""Model cards: computed from a real checkpoint, stored in its sidecar, shown by the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neurofond.fond import (
    IterativeVAE,
    ModelConfig,
    Preprocessing,
    evaluate,
    load_checkpoint,
    save_checkpoint,
)
from neurofond.fond.data import heldout_patches
from neurofond.population import random_gabor_dictionary
from neurofond.pretrained.cards import model_card, read_model_card, write_model_card


@pytest.fixture()
def gabor_checkpoint(tmp_path):
    """A small iP-VAE whose decoder is made of Gabors, trained on nothing, saved for real."""
    model = IterativeVAE(ModelConfig.for_family("poisson", n_latents=24, n_inputs=256),
                         generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.phi.copy_(torch.from_numpy(random_gabor_dictionary(24, 16, seed=3)))
    prep = Preprocessing(patch_size=16)
    summary = {"steps": 7, "train_seconds": 1.5, "command": "test",
               "train_config": {"seed": 11, "max_steps": 7}}
    return save_checkpoint(model, tmp_path / "tiny.safetensors", preprocessing=prep,
                           summary=summary)


def test_card_numbers_match_an_independent_evaluation(gabor_checkpoint):
    card = model_card(gabor_checkpoint, n_patches=64, steps=120, seed=2, batch_size=64,
                      gabor_starts=1)
    ev = card["evaluation"]["heldout_photos"]
    model, prep, _ = load_checkpoint(gabor_checkpoint)
    res = evaluate(model, heldout_patches(prep, 64, seed=2), 120, batch_size=64, seed=2)
    r2, zeros = res.traces["r2"], res.traces["zeros"]
    conv = res.summary["convergence_step"]
    assert ev["r2"] == pytest.approx(r2[-1])
    assert ev["drift"] == pytest.approx(r2[-1] - r2[99])
    assert ev["sparsification"] == pytest.approx(zeros[-1] - zeros[conv - 1])
    assert ev["distance"] == pytest.approx(np.hypot(1 - r2[-1], 1 - zeros[-1]))
    # the decoder is made of Gabors: (nearly) all live elements are Gabor-like
    assert card["dictionary"]["gabor_fraction"] >= 0.9
    assert card["training"]["seed"] == 11 and card["training"]["optimiser_steps"] == 7


def test_card_is_stored_in_the_sidecar_without_losing_keys(gabor_checkpoint):
    side = gabor_checkpoint.with_suffix(".json")
    before = json.loads(side.read_text())
    card = {"dictionary": {"gabor_fraction": 0.5}, "evaluation": {}, "training": {}}
    write_model_card(gabor_checkpoint, card)
    after = json.loads(side.read_text())
    assert after["card"] == card
    assert {k: v for k, v in after.items() if k != "card"} == before
    assert read_model_card(gabor_checkpoint) == card


def test_card_arguments_are_checked(gabor_checkpoint, tmp_path):
    with pytest.raises(ValueError, match="steps: expected an integer >= 100"):
        model_card(gabor_checkpoint, steps=50)
    bad = tmp_path / "ols.npy"
    np.save(bad, np.zeros((3, 32, 32), dtype=np.float32))
    with pytest.raises(ValueError, match="olshausen: expected the 10 classic images"):
        model_card(gabor_checkpoint, olshausen=bad, n_patches=8, steps=100)
    with pytest.raises(FileNotFoundError, match="no checkpoint sidecar"):
        write_model_card(tmp_path / "none.safetensors", {})


def test_cli_shows_cards_of_shipped_models(capsys):
    from neurofond.cli import main

    assert main(["pretrained"]) == 0
    out = capsys.readouterr().out
    assert "ipvae" in out
    assert main(["pretrained", "--card", "no-such-model"]) == 2
    assert "unknown pretrained model" in capsys.readouterr().err


def test_evaluate_cli_no_whiten_skips_only_the_whitening(gabor_checkpoint, tmp_path, capsys):
    from dataclasses import replace

    from neurofond.cli import main

    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, 64, 64)).astype(np.float32)
    npy = tmp_path / "white.npy"
    np.save(npy, images)
    model, prep, _ = load_checkpoint(gabor_checkpoint)
    results = {}
    for flag in ([], ["--no-whiten"]):
        assert main(["evaluate", str(gabor_checkpoint), "--images", str(npy), "--steps", "3",
                     "--n-patches", "16", "--json", *flag]) == 0
        results[bool(flag)] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    patches = replace(prep, whiten=False).patches(list(images), 16, 0)
    ref = evaluate(model, patches, 3, seed=0).summary
    assert results[True]["r2"] == pytest.approx(ref["r2"])
    assert results[True]["zeros"] == pytest.approx(ref["zeros"])
    assert results[False]["r2"] != pytest.approx(ref["r2"])
