"""ModelConfig checks go through neurofond._checks: the message names the field and the range."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurofond.fond import ModelConfig


@pytest.mark.parametrize("field, value, expected", [
    ("n_latents", 0, "integer >= 1"), ("n_latents", True, "integer >= 1"),
    ("n_inputs", 2.0, "integer >= 1"), ("t_train", -1, "integer >= 1"),
    ("beta", 0.0, "number > 0"), ("beta", math.nan, "number > 0"), ("beta", math.inf, "> 0"),
    ("beta", "24", "number > 0"), ("beta", True, "number > 0"),
])
def test_model_config_rejects_bad_values_by_name(field, value, expected):
    with pytest.raises(ValueError, match=f"{field}: expected .*{expected}"):
        ModelConfig.for_family("poisson", **{field: value})


def test_model_config_normalises_numpy_numbers():
    cfg = ModelConfig.for_family("gaussian", n_latents=np.int64(8), beta=np.float32(2.0))
    assert type(cfg.n_latents) is int and cfg.n_latents == 8
    assert type(cfg.beta) is float and cfg.beta == 2.0
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
