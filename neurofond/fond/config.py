"""Configuration of the FOND model family and of its training.

Defaults follow Vafaii, Galor & Yates (2025) and the authors' published
configs (vH16-wht, K=512, T=16; beta 24 for iP-VAE, 8 for iG / iGrelu).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from .._checks import SEED_MAX, check_int, check_nonnegative, check_positive

FAMILIES: tuple[str, ...] = ("poisson", "gaussian", "gaussian_relu")
MODEL_NAMES: dict[str, str] = {"poisson": "iP-VAE", "gaussian": "iG-VAE",
                               "gaussian_relu": "iGrelu-VAE"}
DEFAULT_BETA: dict[str, float] = {"poisson": 24.0, "gaussian": 8.0, "gaussian_relu": 8.0}


@dataclass
class ModelConfig:
    """Architecture and inference settings of one iterative VAE.

    Attributes
    ----------
    family : {"poisson", "gaussian", "gaussian_relu"}
        iP-VAE, iG-VAE or iGrelu-VAE.
    n_latents : int
        Number of latent neurons K.
    n_inputs : int
        Input dimension D (16 x 16 patches -> 256).
    beta : float
        KL weight used for learning (24 for iP-VAE, 8 for the Gaussian variants).
    t_train : int
        Inference steps unrolled during training.
    kl_variant : {"exact", "reference"}
        Poisson KL form (see :func:`neurofond.fond.divergences.poisson_kl`).
    clamp_start, clamp_stop : float
        Poisson soft upper clamp ``c - softplus(c - v)`` on du and u; ``c`` is
        annealed from ``clamp_start`` to ``clamp_stop`` with the KL beta.
    floor : float
        Hard lower bound on du and u (Poisson).
    clamp_du, clamp_u : (float, float)
        Gaussian ``c tanh(v / c)`` bounds for (mu, log sigma) updates and states.
    init_scale : float
        Std of the decoder's normal initialisation.
    prior_init : (float, float)
        Uniform range of the initial Poisson prior log-rates.
    bias_init : float
        Initial per-neuron log bias ``b``.
    sigma_x_clamp : float
        Soft clamp ``c tanh(v / c)`` on the decoder log-std.
    fit_prior : bool
        Learn the prior (``u0``; for the Gaussian variants also its log-std ``xi0``), as the
        reference code does by default (its ``fit_prior``). False keeps the initial prior
        fixed (not optimised, no weight decay). Why it matters for the iGrelu-VAE: on the
        28000-step schedule its learned prior mean drifts negative, units become silent by
        default, a silent relu passes no gradient and its decoder column decays (364 of 512
        latents of the shipped model; docs/pretrained.md).
    """

    family: str = "poisson"
    n_latents: int = 512
    n_inputs: int = 256
    beta: float = 24.0
    t_train: int = 16
    kl_variant: str = "exact"
    clamp_start: float = 2.0
    clamp_stop: float = 10.0
    floor: float = -8.0
    clamp_du: tuple[float, float] = (7.0, 3.0)
    clamp_u: tuple[float, float] = (7.0, 2.0)
    init_scale: float = 1e-4
    prior_init: tuple[float, float] = (-6.0, -4.0)
    bias_init: float = -3.0
    sigma_x_clamp: float = 3.45
    fit_prior: bool = True

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family: expected one of {FAMILIES}, got {self.family!r}")
        for name in ("n_latents", "n_inputs", "t_train"):
            setattr(self, name, check_int(getattr(self, name), name, minimum=1))
        self.beta = check_positive(self.beta, "beta")
        if self.kl_variant not in ("exact", "reference"):
            raise ValueError(
                f"kl_variant: expected 'exact' or 'reference', got {self.kl_variant!r}")
        self.clamp_du = tuple(float(v) for v in self.clamp_du)  # type: ignore[assignment]
        self.clamp_u = tuple(float(v) for v in self.clamp_u)  # type: ignore[assignment]
        self.prior_init = tuple(float(v) for v in self.prior_init)  # type: ignore[assignment]
        if not isinstance(self.fit_prior, bool):
            raise ValueError(f"fit_prior: expected true or false, got {self.fit_prior!r}")

    @classmethod
    def for_family(cls, family: str, **overrides: Any) -> ModelConfig:
        """Config with the paper's defaults for ``family`` (beta 24 or 8)."""
        if family not in FAMILIES:
            raise ValueError(f"family: expected one of {FAMILIES}, got {family!r}")
        overrides.setdefault("beta", DEFAULT_BETA[family])
        return cls(family=family, **overrides)

    @property
    def patch_size(self) -> int:
        side = int(round(self.n_inputs ** 0.5))
        if side * side != self.n_inputs:
            raise ValueError(f"n_inputs={self.n_inputs} is not a square patch")
        return side

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return cls(**_known_fields(cls, data, "model config"))


@dataclass
class TrainConfig:
    """Outer-loop (learning) settings.

    Attributes mirror ALGORITHM.md: Adamax (betas 0.9/0.999, eps 1e-8, weight
    decay 3e-4), lr 5e-3 with 0.5% linear warm-up then cosine decay to 1e-5,
    per-batch; gradient-norm clip 300; KL beta 1e-4 for 0.1% of steps then
    linear to beta over 10%; temperature 1 -> 0.01 linearly over the first half.
    """

    epochs: int = 300
    batch_size: int = 200
    lr: float = 5e-3
    lr_min: float = 1e-5
    warmup_portion: float = 0.005
    weight_decay: float = 3e-4
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    grad_clip: float = 300.0
    kl_beta_min: float = 1e-4
    kl_const_portion: float = 0.001
    kl_anneal_portion: float = 0.1
    temp_start: float = 1.0
    temp_stop: float = 0.01
    temp_anneal_portion: float = 0.5
    candidates_init: int = 10
    candidates_tail_prob: float = 1e-3
    candidates_max: int = 256
    seed: int = 0
    checkpoint_every: int = 10
    eval_every: int = 5
    eval_patches: int = 2000
    max_steps: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every setting (and normalise numeric types); :func:`train` calls it on entry.

        Raises
        ------
        ValueError
            Naming the first setting that is out of range or of the wrong type.
        """
        for name in ("epochs", "batch_size", "candidates_init", "candidates_max",
                     "checkpoint_every", "eval_every", "eval_patches"):
            setattr(self, name, check_int(getattr(self, name), name, minimum=1))
        if self.candidates_max < self.candidates_init:
            raise ValueError(f"candidates_max: expected >= candidates_init="
                             f"{self.candidates_init}, got {self.candidates_max!r}")
        if self.max_steps is not None:
            self.max_steps = check_int(self.max_steps, "max_steps", minimum=1)
        # the loop seeds three generators with seed, seed + 1 and seed + 2
        self.seed = check_int(self.seed, "seed", minimum=0, maximum=SEED_MAX - 2)
        for name in ("lr", "lr_min", "adam_eps", "grad_clip", "temp_start", "temp_stop"):
            setattr(self, name, check_positive(getattr(self, name), name))
        for name in ("weight_decay", "kl_beta_min"):
            setattr(self, name, check_nonnegative(getattr(self, name), name))
        for name in ("warmup_portion", "kl_const_portion", "kl_anneal_portion",
                     "temp_anneal_portion"):
            value = getattr(self, name)
            if not _is_real(value) or not 0 <= value <= 1:
                raise ValueError(f"{name}: expected a fraction in [0, 1], got {value!r}")
            setattr(self, name, float(value))
        tail = self.candidates_tail_prob
        if not _is_real(tail) or not 0 < tail < 1:
            raise ValueError(
                f"candidates_tail_prob: expected a probability in (0, 1), got {tail!r}")
        self.candidates_tail_prob = float(tail)
        betas = self.adam_betas
        if (not isinstance(betas, (tuple, list)) or len(betas) != 2
                or not all(_is_real(b) and 0 <= b < 1 for b in betas)):
            raise ValueError(f"adam_betas: expected two numbers in [0, 1), got {betas!r}")
        self.adam_betas = tuple(float(v) for v in betas)  # type: ignore[assignment]
        if not isinstance(self.extra, dict):
            raise ValueError(f"extra: expected a dict, got {type(self.extra).__name__}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return cls(**_known_fields(cls, data, "train config"))




def _is_real(value: Any) -> bool:
    """A finite int or float (bools refused)."""
    return (not isinstance(value, bool) and isinstance(value, (int, float))
            and math.isfinite(value))


def _known_fields(cls: type, data: dict[str, Any], what: str) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{what}: unknown keys {unknown}; expected some of {sorted(names)}")
    return dict(data)


def dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True)
