"""Metrics and schedules: closed forms and the reference code's published traces."""

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from neurofond.fond import ModelConfig, TrainConfig
from neurofond.fond.metrics import convergence_index, distance_to_ideal, r2_per_sample
from neurofond.fond.schedules import beta_at, clamp_at, learning_rate_at, temperature_at

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


def _reference_traces():
    path = REFERENCE / "official_convergence_vh16.csv"
    if not path.is_file():
        pytest.skip(f"reference tables not found at {path}")
    traces: dict[str, list[float]] = {}
    with path.open() as fh:
        for row in csv.DictReader(fh):
            traces.setdefault(row["str_model"], []).append(float(row["r2"]))
    return traces


def test_convergence_index_reproduces_reference_indices():
    traces = _reference_traces()
    got = {k: convergence_index(np.array(v)) for k, v in traces.items()}
    assert got == {"poisson": 106, "gaussian+relu": 79, "gaussian": 53}


def test_convergence_index_synthetic():
    t = np.arange(300)
    assert convergence_index(np.ones(300)) == 20  # flat from the start: first window + window
    ramp = np.minimum(t, 100) * 1e-3  # slope 1e-3 until t=100, then flat
    assert 100 <= convergence_index(ramp) <= 100 + 20  # windows still overlapping the ramp
    assert convergence_index(np.minimum(t, 100) * 1e-4) == 20  # 1e-4 / 20 < tol: flat
    assert convergence_index(t * 1e-3) == 299  # never converges: last index
    with pytest.raises(ValueError, match="trace"):
        convergence_index(np.array([0.1, np.nan] * 20))


def test_r2_and_distance_closed_forms():
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    assert r2_per_sample(x, x).item() == 1.0
    assert r2_per_sample(x, x.mean().expand(1, 4)).item() == pytest.approx(0.0)
    assert r2_per_sample(x, x + 1).item() == pytest.approx(1 - 4 / 5)
    assert distance_to_ideal(1.0, 1.0) == 0.0
    assert distance_to_ideal(0.83, 0.773) == pytest.approx(0.2836, abs=1e-3)  # paper's iP-VAE


def test_schedules_follow_the_recipe():
    cfg, mcfg = TrainConfig(), ModelConfig.for_family("poisson")
    total = 100_000
    assert learning_rate_at(0, total, cfg) == pytest.approx(cfg.lr / 500)
    assert learning_rate_at(499, total, cfg) == pytest.approx(cfg.lr)
    assert learning_rate_at(total - 1, total, cfg) == pytest.approx(cfg.lr_min, rel=1e-3)
    mid = learning_rate_at(500 + (total - 500) // 2, total, cfg)
    assert mid == pytest.approx((cfg.lr + cfg.lr_min) / 2, rel=1e-3)
    assert beta_at(50, total, cfg, mcfg) == cfg.kl_beta_min
    assert beta_at(100 + 5_000, total, cfg, mcfg) == pytest.approx(12.0, rel=1e-3)
    assert beta_at(20_000, total, cfg, mcfg) == 24.0
    assert clamp_at(0, total, cfg, mcfg) == 2.0 and clamp_at(20_000, total, cfg, mcfg) == 10.0
    assert temperature_at(0, total, cfg) == 1.0
    assert temperature_at(25_000, total, cfg) == pytest.approx(0.505)
    assert temperature_at(80_000, total, cfg) == pytest.approx(0.01)


def test_configs_reject_bad_values():
    with pytest.raises(ValueError, match="family"):
        ModelConfig(family="bernoulli")
    with pytest.raises(ValueError, match="beta"):
        ModelConfig(beta=-1)
    with pytest.raises(ValueError, match="unknown keys"):
        TrainConfig.from_dict({"epochz": 3})
    with pytest.raises(ValueError, match="warmup_portion"):
        TrainConfig(warmup_portion=2.0)
