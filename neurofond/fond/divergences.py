"""KL divergences between successive posteriors (the rolling prior).

References
----------
Vafaii, Galor & Yates (2025), "Brain-like Variational Inference", NeurIPS.
"""

from __future__ import annotations

import torch

__all__ = ["gaussian_kl", "poisson_kl", "poisson_kl_from_rates"]


def poisson_kl(log_rate: torch.Tensor, prior_log_rate: torch.Tensor,
               variant: str = "exact") -> torch.Tensor:
    """Elementwise KL( Pois(exp(u)) || Pois(exp(u_prior)) ).

    Parameters
    ----------
    log_rate, prior_log_rate : Tensor
        Posterior and prior log-rates ``u`` and ``u_prior`` (broadcastable).
    variant : {"exact", "reference"}
        ``"exact"``: ``exp(u_prior) * (1 - exp(d) + d * exp(d))`` with
        ``d = u - u_prior``, which equals ``r log(r / r0) - r + r0``.
        ``"reference"``: the authors' code multiplies by ``exp(u)`` instead of
        ``exp(u_prior)`` (not a KL; kept for comparison).

    Returns
    -------
    Tensor
        Non-negative for ``"exact"``; zero iff ``u == u_prior``.
    """
    d = log_rate - prior_log_rate
    exp_d = torch.exp(d)
    shape = 1.0 - exp_d + d * exp_d
    if variant == "exact":
        return torch.exp(prior_log_rate) * shape
    if variant == "reference":
        return torch.exp(log_rate) * shape
    raise ValueError(f"variant: expected 'exact' or 'reference', got {variant!r}")


def poisson_kl_from_rates(log_rate: torch.Tensor, prior_log_rate: torch.Tensor,
                          rate: torch.Tensor, prior_rate: torch.Tensor) -> torch.Tensor:
    """Exact Poisson KL from log-rates and rates already computed: ``r0 - r + (u - u0) r``.

    The same quantity as ``poisson_kl(u, u0, "exact")`` (``r0 (1 - e^d + d e^d)`` with
    ``r = r0 e^d``) without its two exponentials; callers pass ``rate = exp(log_rate)``
    and ``prior_rate = exp(prior_log_rate)`` (the inference loop has both from sampling).
    """
    return prior_rate - rate + (log_rate - prior_log_rate) * rate


def gaussian_kl(mu: torch.Tensor, log_sigma: torch.Tensor, prior_mu: torch.Tensor,
                prior_log_sigma: torch.Tensor) -> torch.Tensor:
    """Elementwise KL( N(mu, sigma^2) || N(mu0, sigma0^2) ).

    ``log(sigma0 / sigma) + (sigma^2 + (mu - mu0)^2) / (2 sigma0^2) - 1/2``.
    """
    var_ratio = torch.exp(2.0 * (log_sigma - prior_log_sigma))
    mean_term = (mu - prior_mu) ** 2 * torch.exp(-2.0 * prior_log_sigma)
    return 0.5 * (var_ratio + mean_term - 1.0) - (log_sigma - prior_log_sigma)
