"""Per-batch schedules of the learning loop (all functions of the global step).

Following the published training configs of Vafaii, Galor & Yates (2025):
learning rate with linear warm-up then cosine decay; KL beta held at a small
value, then ramped linearly; relaxation temperature annealed linearly; the
Poisson soft clamp annealed together with the KL beta.
"""

from __future__ import annotations

import math

from .config import ModelConfig, TrainConfig

__all__ = ["beta_at", "clamp_at", "learning_rate_at", "temperature_at"]


def _check(step: int, total: int) -> None:
    if total < 1:
        raise ValueError(f"total: expected >= 1 steps, got {total!r}")
    if step < 0:
        raise ValueError(f"step: expected >= 0, got {step!r}")


def learning_rate_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Linear warm-up over ``warmup_portion`` of steps, then cosine decay to ``lr_min``."""
    _check(step, total)
    warm = max(1, int(round(cfg.warmup_portion * total)))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, total - warm))
    return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1.0 + math.cos(math.pi * progress))


def _kl_progress(step: int, total: int, cfg: TrainConfig) -> float:
    """0 during the constant phase, then linear to 1 over the anneal phase."""
    const = int(round(cfg.kl_const_portion * total))
    ramp = max(1, int(round(cfg.kl_anneal_portion * total)))
    if step < const:
        return 0.0
    return min(1.0, (step - const) / ramp)


def beta_at(step: int, total: int, cfg: TrainConfig, model_cfg: ModelConfig) -> float:
    """KL weight: ``kl_beta_min`` for the first steps, then linear to ``beta``."""
    _check(step, total)
    p = _kl_progress(step, total, cfg)
    if step < int(round(cfg.kl_const_portion * total)):
        return cfg.kl_beta_min
    return cfg.kl_beta_min + p * (model_cfg.beta - cfg.kl_beta_min)


def clamp_at(step: int, total: int, cfg: TrainConfig, model_cfg: ModelConfig) -> float:
    """Poisson soft-clamp level, annealed from ``clamp_start`` to ``clamp_stop`` with beta."""
    _check(step, total)
    p = _kl_progress(step, total, cfg)
    return model_cfg.clamp_start + p * (model_cfg.clamp_stop - model_cfg.clamp_start)


def temperature_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Relaxation temperature: linear from ``temp_start`` to ``temp_stop``, then constant."""
    _check(step, total)
    span = int(round(cfg.temp_anneal_portion * total))
    if span < 1:
        return cfg.temp_stop
    p = min(1.0, step / span)
    return cfg.temp_start + p * (cfg.temp_stop - cfg.temp_start)
