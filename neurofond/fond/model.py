"""The FOND iterative VAE family: iP-VAE, iG-VAE and iGrelu-VAE.

Inference replaces an encoder: membrane potentials follow natural-gradient
descent on the variational free energy, with the posterior of one step used as
the prior of the next (online inference, Vafaii, Galor & Yates 2025).

iP-VAE (Poisson), with ``u`` the membrane potentials (log-rates)::

    g_t  = Phi^T (x - Phi z_{t-1}) / sigma_x^2          # drive minus explaining-away
    du_t = eta * (g_t - exp(b))
    u_t  = u_{t-1} + du_t                               # soft-clamped
    z_t  ~ Poisson(exp(u_t))

Because the Fisher information of a Poisson in its log-rate is ``diag(exp(u))``,
``du`` is ``-eta`` times the natural gradient of
``F = ||x - Phi r||^2 / (2 sigma_x^2) + sum_k exp(b_k) r_k`` at ``r = exp(u)``.
``Phi^T Phi`` couples neurons with overlapping features: lateral competition.

iG / iGrelu-VAE (Gaussian) keep ``(mu, xi = log sigma)``, sample
``z = mu + sigma eps`` and read out ``a(z) = z`` or ``relu(z) exp(log_gain)``::

    g    = a'(z) * Phi^T (x - Phi a(z)) / sigma_x^2
    dmu  = eta_mu * (sigma^2 g - exp(b));   dxi = eta_xi * g * eps * sigma / 2
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .divergences import gaussian_kl, poisson_kl, poisson_kl_from_rates
from .sampling import hard_sampler_for, poisson_spikes, relaxed_poisson

__all__ = ["RESPONSE_CONVENTIONS", "InferenceState", "IterativeVAE", "ResponseConvention",
           "StepConstants", "soft_upper_clamp", "tanh_clamp"]

_LOG_2PI = math.log(2.0 * math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)


def soft_upper_clamp(v: torch.Tensor, c: float, floor: float) -> torch.Tensor:
    """``c - softplus(c - v)``, then a hard floor (the reference code's stabiliser)."""
    return (c - F.softplus(c - v)).clamp(min=floor)


def tanh_clamp(v: torch.Tensor, c: float) -> torch.Tensor:
    """``c tanh(v / c)``: smooth symmetric bound at +-c."""
    return c * torch.tanh(v / c)


@dataclass
class StepConstants:
    """Parameter transforms used by every inference step (:meth:`IterativeVAE.step_constants`)."""

    inv_var: torch.Tensor  # 1 / sigma_x^2, per pixel
    bias: torch.Tensor  # exp(log_bias), per neuron
    eta: torch.Tensor  # exp(log_eta)
    clamp: float  # current soft-clamp level c


@dataclass(frozen=True)
class ResponseConvention:
    """Units and sign of one family's responses (:data:`RESPONSE_CONVENTIONS`).

    Attributes
    ----------
    response_units : str
        Units of the sampled response ``state.response`` of one step.
    mean_units : str
        Units of :meth:`IterativeVAE.mean_response` (per step).
    sign : str
        Sign convention shared by both.
    signed : bool
        Whether responses can be negative.
    spikes : bool
        Whether the sampled response is a spike count.
    """

    response_units: str
    mean_units: str
    sign: str
    signed: bool
    spikes: bool


#: Units and sign conventions of each family's responses, one step each.
RESPONSE_CONVENTIONS: dict[str, ResponseConvention] = {
    "poisson": ResponseConvention(
        response_units="spikes per step (Poisson count, integer >= 0)",
        mean_units="expected spikes per step (rate exp(u))",
        sign="non-negative: counts and rates are >= 0",
        signed=False, spikes=True),
    "gaussian": ResponseConvention(
        response_units="activation a(z) = z per step (a.u., not spikes)",
        mean_units="posterior-mean activation mu per step (a.u., not spikes)",
        sign=("signed: the activation is the neuron's coefficient on its dictionary element "
              "(x_hat = Phi a); a negative value adds the element with inverted contrast "
              "polarity, it is not firing below a baseline"),
        signed=True, spikes=False),
    "gaussian_relu": ResponseConvention(
        response_units="activation exp(log_gain) relu(z) per step (a.u., not spikes)",
        mean_units=("posterior-mean activation exp(log_gain) E[relu(z)] per step "
                    "(a.u., not spikes)"),
        sign="non-negative: relu activations are >= 0 (0 = silent)",
        signed=False, spikes=False),
}


@dataclass
class InferenceState:
    """Latent state after one inference step.

    ``u`` is the membrane potential (Poisson log-rate, Gaussian mean), ``xi`` the
    Gaussian log-std (None for Poisson), ``eps`` the Gaussian noise, ``response``
    the decoded activity (spike counts for iP-VAE, ``a(z)`` for the Gaussian
    variants), ``gain`` the derivative ``a'(z)`` (None when 1) and ``rate`` the
    Poisson rates ``exp(u)`` the spikes were drawn from (None for Gaussian).
    """

    u: torch.Tensor
    response: torch.Tensor
    xi: torch.Tensor | None = None
    eps: torch.Tensor | None = None
    gain: torch.Tensor | None = None
    rate: torch.Tensor | None = None

    def detach(self) -> InferenceState:
        return InferenceState(*(None if t is None else t.detach() for t in
                                (self.u, self.response, self.xi, self.eps, self.gain,
                                 self.rate)))


class IterativeVAE(nn.Module):
    """One member of the FOND family with a linear decoder ``x_hat = Phi z``.

    Parameters
    ----------
    config : ModelConfig

    Notes
    -----
    Learned parameters: ``phi`` (D x K decoder), prior (``prior_u`` log-rates for
    Poisson; ``prior_mu``, ``prior_xi`` for Gaussian), ``log_eta`` (and
    ``log_eta_xi``), ``log_bias`` (per neuron), ``log_sigma_x`` (per pixel),
    ``log_gain`` (iGrelu only).
    """

    def __init__(self, config: ModelConfig, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.config = config
        d, k = config.n_inputs, config.n_latents
        self.phi = nn.Parameter(torch.randn(d, k, generator=generator) * config.init_scale)
        self.log_eta = nn.Parameter(torch.zeros(()))
        self.log_bias = nn.Parameter(torch.full((k,), float(config.bias_init)))
        self.log_sigma_x = nn.Parameter(torch.zeros(d))
        if self.is_poisson:
            lo, hi = config.prior_init
            self.prior_u = nn.Parameter(lo + (hi - lo) * torch.rand(k, generator=generator))
        else:
            self.prior_u = nn.Parameter(torch.zeros(k))
            self.prior_xi = nn.Parameter(torch.zeros(k))
            self.log_eta_xi = nn.Parameter(torch.zeros(()))
        if config.family == "gaussian_relu":
            self.log_gain = nn.Parameter(torch.zeros(k))
        if not config.fit_prior:  # a fixed prior: no gradient, so no update and no decay
            for prior in self.prior_parameters():
                prior.requires_grad_(False)
        self.register_buffer("clamp_c", torch.tensor(float(config.clamp_stop)))

    def prior_parameters(self) -> list[nn.Parameter]:
        """The prior's parameters: ``prior_u`` (and ``prior_xi`` for the Gaussian variants);
        learned unless ``config.fit_prior`` is False."""
        return [self.prior_u] + ([] if self.is_poisson else [self.prior_xi])

    # ------------------------------------------------------------------ basics
    @property
    def is_poisson(self) -> bool:
        return self.config.family == "poisson"

    @property
    def n_latents(self) -> int:
        return self.config.n_latents

    @property
    def response_convention(self) -> ResponseConvention:
        """Units and sign of this family's responses (:data:`RESPONSE_CONVENTIONS`)."""
        return RESPONSE_CONVENTIONS[self.config.family]

    def sigma_x2(self) -> torch.Tensor:
        """Per-pixel decoder variance ``exp(2 c tanh(log_sigma_x / c))``."""
        c = self.config.sigma_x_clamp
        return torch.exp(2.0 * tanh_clamp(self.log_sigma_x, c))

    def decode(self, response: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``Phi z`` for a batch of responses (B, K) -> (B, D)."""
        return response @ self.phi.T

    def gram(self) -> torch.Tensor:
        """Precision-weighted Gram matrix ``Phi^T diag(1/sigma_x^2) Phi`` (K x K)."""
        return self.phi.T @ (self.phi / self.sigma_x2().unsqueeze(1))

    def feedforward(self, x: torch.Tensor) -> torch.Tensor:
        """Feedforward drive ``Phi^T x / sigma_x^2`` (B, K)."""
        return (x / self.sigma_x2()) @ self.phi

    # ----------------------------------------------------------------- sampling
    def _activation(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.config.family == "gaussian":
            return z, None
        gain = torch.exp(self.log_gain)
        positive = (z > 0).to(z.dtype)
        return F.relu(z) * gain, positive * gain

    def _sample(self, u: torch.Tensor, xi: torch.Tensor | None, *, relaxed: bool,
                temperature: float, n_candidates: int,
                generator: torch.Generator | None) -> InferenceState:
        if self.is_poisson:
            rate = torch.exp(u)
            if relaxed:
                z = relaxed_poisson(rate, temperature, n_candidates, generator)
            else:
                z = poisson_spikes(rate, generator)
            return InferenceState(u=u, response=z, rate=rate)
        assert xi is not None
        eps = torch.randn(u.shape, generator=generator, dtype=u.dtype, device=u.device)
        a, gain = self._activation(u + torch.exp(xi) * eps)
        return InferenceState(u=u, response=a, xi=xi, eps=eps, gain=gain)

    def initial_state(self, batch_size: int, *, relaxed: bool = False, temperature: float = 1.0,
                      n_candidates: int = 10,
                      generator: torch.Generator | None = None) -> InferenceState:
        """State at t = 0: the learned prior and one sample from it."""
        u = self.prior_u.expand(batch_size, -1)
        xi = None if self.is_poisson else self.prior_xi.expand(batch_size, -1)
        return self._sample(u, xi, relaxed=relaxed, temperature=temperature,
                            n_candidates=n_candidates, generator=generator)

    # ---------------------------------------------------------------- dynamics
    def update(self, state: InferenceState, drive: torch.Tensor, *,
               consts: StepConstants | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """New (u, xi) from the likelihood gradient ``drive = Phi^T (x - Phi z)/sigma_x^2``."""
        cfg = self.config
        consts = consts or self.step_constants()
        bias = consts.bias
        if self.is_poisson:
            c = consts.clamp
            du = soft_upper_clamp(consts.eta * (drive - bias), c, cfg.floor)
            return soft_upper_clamp(state.u + du, c, cfg.floor), None
        assert state.xi is not None and state.eps is not None
        g = drive if state.gain is None else state.gain * drive
        sigma = torch.exp(state.xi)
        dmu = consts.eta * (sigma * sigma * g - bias)
        dxi = torch.exp(self.log_eta_xi) * 0.5 * g * state.eps * sigma
        mu = tanh_clamp(state.u + tanh_clamp(dmu, cfg.clamp_du[0]), cfg.clamp_u[0])
        xi = tanh_clamp(state.xi + tanh_clamp(dxi, cfg.clamp_du[1]), cfg.clamp_u[1])
        return mu, xi

    def kl(self, new: InferenceState, old: InferenceState) -> torch.Tensor:
        """Per-neuron KL of the new posterior to the previous one (the rolling prior)."""
        if self.is_poisson:
            if (self.config.kl_variant == "exact" and new.rate is not None
                    and old.rate is not None):
                return poisson_kl_from_rates(new.u, old.u, new.rate, old.rate)
            return poisson_kl(new.u, old.u, self.config.kl_variant)
        assert new.xi is not None and old.xi is not None
        return gaussian_kl(new.u, new.xi, old.u, old.xi)

    # ------------------------------------------------------------------ readout
    def mean_response(self, state: InferenceState) -> torch.Tensor:
        """Posterior-mean response ``E_q[a(z)]`` of every neuron, shape of ``state.u``.

        The one definition of a neuron's noise-free response to the current input: the
        mean of the response distribution the step samples from.

        - iP-VAE (``poisson``): the rate ``exp(u)``, in expected spikes per step (>= 0).
        - iG-VAE (``gaussian``, ``a(z) = z``): ``mu`` (``state.u``), a signed activation
          in arbitrary units (the decoder's latent units).
        - iGrelu-VAE (``gaussian_relu``, ``a(z) = g relu(z)``, ``g = exp(log_gain)``):
          ``g E[relu(z)] = g (mu Phi(mu / sigma) + sigma phi(mu / sigma))`` for
          ``z ~ N(mu, sigma^2)``, ``sigma = exp(xi)``; non-negative, arbitrary units.

        See :attr:`response_convention` for the units and sign as text.
        """
        if self.is_poisson:
            return torch.exp(state.u)
        if self.config.family == "gaussian":
            return state.u
        assert state.xi is not None
        sigma = torch.exp(state.xi)
        ratio = state.u / sigma
        normal_pdf = torch.exp(-0.5 * ratio * ratio) / _SQRT_2PI
        mean_relu = state.u * torch.special.ndtr(ratio) + sigma * normal_pdf
        return mean_relu * torch.exp(self.log_gain)

    def response_at_mean(self, state: InferenceState) -> torch.Tensor:
        """``a(E_q[z])``: the response function applied to the posterior-mean latent.

        The plug-in (no sampling noise) decode behind the ``r2_map`` reconstruction of
        :func:`neurofond.fond.evaluate.run_inference`: ``x_hat = Phi a(E_q[z])``.

        - iP-VAE: ``exp(u)`` (``a`` is the identity and ``E[z] = exp(u)``), equal to
          :meth:`mean_response`.
        - iG-VAE: ``mu``, equal to :meth:`mean_response` (``a`` is linear).
        - iGrelu-VAE: ``g relu(mu)``, the response at the posterior mode ``mu`` of ``z``;
          it differs from :meth:`mean_response` ``g E[relu(z)]`` (smaller, by Jensen's
          inequality: relu is convex), and is 0 wherever ``mu <= 0``.
        """
        if self.is_poisson:
            return torch.exp(state.u)
        if self.config.family == "gaussian":
            return state.u
        return torch.relu(state.u) * torch.exp(self.log_gain)

    def spike_sampler(self) -> str | None:
        """Hard-spike backend this model's rates are sampled with (``"compiled"`` or
        ``"torch"``, :func:`neurofond.fond.sampling.hard_sampler_for`); None for Gaussian
        models. Rates have the decoder's dtype and device."""
        return hard_sampler_for(self.phi) if self.is_poisson else None

    def step_constants(self) -> StepConstants:
        """Per-step parameter transforms, computed once per trajectory."""
        return StepConstants(inv_var=1.0 / self.sigma_x2(), bias=torch.exp(self.log_bias),
                              eta=torch.exp(self.log_eta), clamp=float(self.clamp_c))

    def step(self, state: InferenceState, x: torch.Tensor, *, relaxed: bool = False,
             temperature: float = 1.0, n_candidates: int = 10,
             generator: torch.Generator | None = None,
             residual: torch.Tensor | None = None,
             consts: StepConstants | None = None) -> tuple[InferenceState, torch.Tensor]:
        """One inference step on input ``x`` (B, D); returns (new state, new residual).

        ``residual`` is ``x - Phi z`` of ``state`` if already known; ``consts`` the
        parameter transforms of :meth:`step_constants` if already computed (a trajectory
        computes them once instead of once per step).
        """
        if residual is None:
            residual = x - self.decode(state.response)
        consts = consts or self.step_constants()
        drive = (residual * consts.inv_var) @ self.phi
        u, xi = self.update(state, drive, consts=consts)
        new = self._sample(u, xi, relaxed=relaxed, temperature=temperature,
                           n_candidates=n_candidates, generator=generator)
        return new, x - self.decode(new.response)

    # ----------------------------------------------------------------- training
    def training_loss(self, x: torch.Tensor, *, beta: float, temperature: float = 1.0,
                      n_candidates: int = 10, generator: torch.Generator | None = None,
                      n_steps: int | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Mean over the ``n_steps`` unrolled steps of NLL + beta * KL.

        Backpropagation runs through the whole trajectory (nothing detached).
        Poisson samples are relaxed. The loss is scaled by ``256 / D``.

        Returns
        -------
        loss : Tensor (scalar)
        diagnostics : dict with ``nll``, ``kl`` (per-step means) and ``max_rate``.
        """
        n_steps = self.config.t_train if n_steps is None else n_steps
        kw = dict(relaxed=True, temperature=temperature, n_candidates=n_candidates,
                  generator=generator)
        state = self.initial_state(x.shape[0], **kw)
        residual = x - self.decode(state.response)
        consts = self.step_constants()
        inv_var = consts.inv_var
        nll_const = 0.5 * (-torch.log(inv_var).sum() + x.shape[1] * _LOG_2PI)
        nlls, kls, max_u = [], [], [state.u.detach().max()]
        for _ in range(n_steps):
            new, residual = self.step(state, x, residual=residual, consts=consts, **kw)
            nll = 0.5 * (residual * residual * inv_var).sum(-1) + nll_const
            kls.append(self.kl(new, state).sum(-1).mean())
            nlls.append(nll.mean())
            max_u.append(new.u.detach().max())
            state = new
        nll_t, kl_t = torch.stack(nlls), torch.stack(kls)
        scale = 256.0 / x.shape[1]
        loss = (nll_t + beta * kl_t).mean() * scale
        max_rate = torch.exp(torch.stack(max_u).max())
        return loss, {"nll": nll_t.detach(), "kl": kl_t.detach(), "max_rate": max_rate}
