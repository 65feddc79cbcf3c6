"""Every training setting is checked on entry (issue 17.5): bad values never train silently."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurofond.cli import main as cli_main
from neurofond.fond import ModelConfig, TrainConfig, train
from neurofond.fond.data import Preprocessing


@pytest.mark.parametrize("field, value", [
    ("max_steps", -5), ("max_steps", 0), ("max_steps", 2.5), ("epochs", 0), ("epochs", True),
    ("batch_size", -1), ("batch_size", "100"), ("eval_patches", 0), ("candidates_max", 0),
    ("seed", -1), ("seed", 2**64), ("lr", 0.0), ("lr", math.nan), ("lr", math.inf),
    ("lr_min", -1e-5), ("adam_eps", 0.0), ("weight_decay", -1.0), ("weight_decay", math.nan),
    ("grad_clip", math.nan), ("kl_beta_min", -1.0), ("temp_stop", 0.0),
    ("warmup_portion", math.nan), ("kl_anneal_portion", "0.1"), ("candidates_tail_prob", 0.0),
    ("candidates_tail_prob", 1.0), ("adam_betas", (0.9,)), ("adam_betas", (0.9, 1.0)),
    ("extra", [1]),
])
def test_train_config_rejects_each_bad_setting_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_train_config_accepts_the_defaults_and_normalises_types():
    cfg = TrainConfig(lr=1, adam_betas=[0.5, 0.9], max_steps=np.int64(7))
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert cfg.adam_betas == (0.5, 0.9) and cfg.max_steps == 7 and type(cfg.max_steps) is int
    with pytest.raises(ValueError, match="candidates_max"):
        TrainConfig(candidates_init=20, candidates_max=10)


def test_train_revalidates_a_config_mutated_after_construction(tmp_path):
    cfg = TrainConfig(max_steps=5)
    cfg.max_steps = -5
    x = np.zeros((10, 64), np.float32)
    with pytest.raises(ValueError, match="max_steps"):
        train(ModelConfig(n_latents=4, n_inputs=64), cfg, x, x, Preprocessing(patch_size=8),
              tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_cli_train_negative_max_steps_fails_and_writes_nothing(tmp_path):
    out = tmp_path / "runs"
    with pytest.raises(SystemExit) as info:
        cli_main(["train", "--max-steps", "-5", "--n-latents", "8", "--out", str(out),
                  "--name", "neg", "--no-progress"])
    assert info.value.code not in (0, None)
    assert "max_steps" in str(info.value.code) and "-5" in str(info.value.code)
    assert not out.exists()
