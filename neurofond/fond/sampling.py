"""Poisson spike samplers: exact integer samples and a differentiable relaxation.

Hard samples
    :func:`poisson_spikes` draws exact Poisson counts (:func:`torch.poisson`).

Relaxed samples (training)
    A Poisson count with rate ``r`` over unit time is the number of arrivals of
    a unit-rate process before ``r``: with ``S_j`` the j-th arrival time of a
    unit-rate Poisson process (cumulative sums of Exponential(1) intervals),
    the arrival times at rate ``r`` are ``T_j = S_j / r`` and

        z = sum_j sigmoid((1 - T_j) / temperature)

    tends to the hard count as the temperature goes to 0 (Vafaii et al. 2024,
    "Poisson Variational Autoencoder"; Vafaii, Galor & Yates 2025). The number
    of candidate arrivals ``n`` must make ``P(Poisson(r_max) > n)`` negligible.

    :func:`relaxed_poisson_literal` is the textbook form (``n`` exponential draws
    per neuron, cumulative sum, sigmoid, sum). :func:`relaxed_poisson` computes the
    same sum but (1) draws arrivals in small chunks, and only for neurons whose
    latest arrival can still be followed by terms above ``exp(-tail_logit)``, and (2)
    returns the
    analytic derivative ``dz/dr`` instead of storing the ``n`` intermediate
    terms for autograd. Terms it skips are each below ``sigmoid(-tail_logit)``.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "candidate_count",
    "poisson_spikes",
    "relaxed_poisson",
    "relaxed_poisson_literal",
]


def candidate_count(max_rate: float, tail_prob: float = 1e-3, minimum: int = 1,
                    maximum: int = 512) -> int:
    """Smallest ``n`` with ``P(Poisson(max_rate) > n) < tail_prob``.

    Parameters
    ----------
    max_rate : float
        Largest rate expected (spikes per step), >= 0.
    tail_prob : float
        Allowed probability of needing more than ``n`` candidate spikes.
    minimum, maximum : int
        Bounds on the returned count.

    Returns
    -------
    int
    """
    if not math.isfinite(max_rate) or max_rate < 0:
        raise ValueError(f"max_rate: expected a finite non-negative rate, got {max_rate!r}")
    if not 0 < tail_prob < 1:
        raise ValueError(f"tail_prob: expected a probability in (0, 1), got {tail_prob!r}")
    pmf = math.exp(-max_rate)
    cdf = pmf
    n = 0
    while 1.0 - cdf >= tail_prob and n < maximum:
        n += 1
        pmf *= max_rate / n
        cdf += pmf
    return int(min(max(n, minimum), maximum))


@torch.no_grad()
def poisson_spikes(rate: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Exact Poisson spike counts with the given rates (no gradient).

    Parameters
    ----------
    rate : Tensor
        Non-negative rates (expected counts), any shape.
    generator : torch.Generator, optional
        Source of randomness; same generator state -> same spikes.

    Returns
    -------
    Tensor
        Counts as floats, same shape, dtype and device as ``rate``.

    Notes
    -----
    :func:`torch.poisson`. A CDF-inversion sampler that skips silent neurons was
    measured against it on this project's CPU (1000 x 512 rates): equal at
    rates ~exp(-4), 2x slower at typical trained rates, so it was dropped.
    """
    return torch.poisson(rate, generator=generator)


def _unit_arrivals(shape: tuple[int, ...], n: int, generator: torch.Generator | None,
                   dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Arrival times of a unit-rate Poisson process: cumulative Exponential(1) intervals.

    Intervals by inversion, ``-log(1 - U)``: on this project's CPU 5x faster than
    ``Tensor.exponential_`` (0.3 vs 1.6 ms per 10^5 draws), which took a fifth of a
    training step.
    """
    uniform = torch.rand(*shape, n, generator=generator, dtype=dtype, device=device)
    return torch.log1p(uniform.neg_()).neg_().cumsum(-1)


def relaxed_poisson_literal(rate: torch.Tensor, temperature: float, n_candidates: int,
                            generator: torch.Generator | None = None,
                            unit_arrivals: torch.Tensor | None = None) -> torch.Tensor:
    """Relaxed Poisson sample, computed literally over all ``n_candidates`` arrivals.

    Differentiable in ``rate`` through autograd. Reference implementation for
    tests and benchmarks; :func:`relaxed_poisson` is the fast equivalent.

    Parameters
    ----------
    rate : Tensor
        Positive rates, shape (...).
    temperature : float
        Sigmoid temperature (> 0).
    n_candidates : int
        Number of candidate arrivals per neuron.
    generator : torch.Generator, optional
    unit_arrivals : Tensor, optional
        Arrival times of a unit-rate process, shape (..., n_candidates), to use
        instead of fresh draws.
    """
    if unit_arrivals is None:
        unit_arrivals = _unit_arrivals(tuple(rate.shape), n_candidates, generator,
                                       rate.dtype, rate.device)
    times = unit_arrivals / rate.unsqueeze(-1)
    return torch.sigmoid((1.0 - times) / temperature).sum(-1)


class _RelaxedPoisson(torch.autograd.Function):
    @staticmethod
    def forward(ctx, rate, temperature, n_candidates, generator, tail_logit, unit_arrivals):
        z, dz_drate = _relaxed_forward(rate.detach(), temperature, n_candidates, generator,
                                       tail_logit, unit_arrivals)
        ctx.save_for_backward(dz_drate)
        return z

    @staticmethod
    def backward(ctx, grad_z):
        (dz_drate,) = ctx.saved_tensors
        return grad_z * dz_drate, None, None, None, None, None


def _terms(arrivals: torch.Tensor, rate: torch.Tensor, temperature: float):
    """Sum of sigmoid terms and of their derivatives wrt rate, over the last dim."""
    inv_rate = 1.0 / rate.unsqueeze(-1)
    s = torch.sigmoid((1.0 - arrivals * inv_rate) / temperature)
    ds = s * (1.0 - s) * arrivals * (inv_rate * inv_rate) / temperature
    return s.sum(-1), ds.sum(-1)


def _relaxed_forward(rate, temperature, n, generator, tail_logit, unit_arrivals, chunk=4):
    flat = rate.reshape(-1)
    if unit_arrivals is None and flat.is_cuda:  # dense on GPU: compaction would sync
        unit_arrivals = _unit_arrivals((flat.numel(),), n, generator, flat.dtype, flat.device)
        return tuple(t.reshape(rate.shape) for t in _terms(unit_arrivals, flat, temperature))
    given = None if unit_arrivals is None else unit_arrivals.reshape(flat.numel(), n)
    # A term contributes more than sigmoid(-tail_logit) only while
    # (S_j / r - 1) / temperature < tail_logit, i.e. S_j < r (1 + tail_logit * temperature).
    # Arrivals are drawn in chunks, and only for neurons still inside that horizon.
    horizon = flat * (1.0 + tail_logit * temperature)
    z = torch.zeros_like(flat)
    dz = torch.zeros_like(flat)
    idx = torch.arange(flat.numel(), device=flat.device)
    last = torch.zeros_like(flat)
    done = 0
    while done < n and idx.numel():
        # 1 arrival for every neuron, then chunks that double (4, 8, 16, ...): most neurons
        # finish after the first, and the few fast ones need few rounds of small-op overhead.
        m = min(1 if done == 0 else max(chunk, done), n - done)
        if given is not None:
            arrivals = given[idx, done:done + m]
        else:
            arrivals = last[idx].unsqueeze(-1) + _unit_arrivals(
                (idx.numel(),), m, generator, flat.dtype, flat.device)
        z_part, dz_part = _terms(arrivals, flat[idx], temperature)
        z.index_add_(0, idx, z_part)
        dz.index_add_(0, idx, dz_part)
        done += m
        keep = (arrivals[:, -1] < horizon[idx]).nonzero().squeeze(1)
        last[idx] = arrivals[:, -1]
        idx = idx[keep]
    return z.reshape(rate.shape), dz.reshape(rate.shape)


def relaxed_poisson(rate: torch.Tensor, temperature: float, n_candidates: int,
                    generator: torch.Generator | None = None, tail_logit: float = 20.0,
                    unit_arrivals: torch.Tensor | None = None) -> torch.Tensor:
    """Differentiable relaxed Poisson sample (fast form).

    Parameters
    ----------
    rate : Tensor
        Positive rates, any shape; gradients flow to it.
    temperature : float
        Sigmoid temperature (> 0); as it goes to 0 the sample tends to an
        integer Poisson count.
    n_candidates : int
        Maximum number of candidate arrivals per neuron (see
        :func:`candidate_count`).
    generator : torch.Generator, optional
    tail_logit : float
        Arrivals whose sigmoid argument is below ``-tail_logit`` are skipped
        (each contributes < ``exp(-tail_logit)``; 20 -> 2e-9).
    unit_arrivals : Tensor, optional
        Unit-rate arrival times of shape (*rate.shape, n_candidates) to use
        instead of fresh draws (for tests against the literal form).

    Returns
    -------
    Tensor
        Relaxed counts, same shape as ``rate``.
    """
    if temperature <= 0:
        raise ValueError(f"temperature: expected > 0, got {temperature!r}")
    if n_candidates < 1:
        raise ValueError(f"n_candidates: expected >= 1, got {n_candidates!r}")
    return _RelaxedPoisson.apply(rate, float(temperature), int(n_candidates), generator,
                                 float(tail_logit), unit_arrivals)
