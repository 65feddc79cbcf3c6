"""Spike samplers and divergences against closed forms and Monte Carlo."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from neurofond.fond.divergences import gaussian_kl, poisson_kl
from neurofond.fond.sampling import (
    candidate_count,
    poisson_spikes,
    relaxed_poisson,
    relaxed_poisson_literal,
)


@pytest.mark.parametrize("rate", [0.003, 0.2, 1.0, 4.5, 11.0, 30.0])
def test_hard_poisson_matches_distribution(rate):
    gen = torch.Generator().manual_seed(0)
    z = poisson_spikes(torch.full((200_000,), rate), gen).numpy()
    assert np.all(z == np.round(z)) and z.min() >= 0
    assert abs(z.mean() - rate) < 5 * math.sqrt(rate / z.size) + 1e-4
    assert abs(z.var() - rate) < 0.03 * rate + 1e-3
    k = np.arange(int(rate + 6 * math.sqrt(rate) + 3))
    observed = np.bincount(z.astype(int), minlength=k.size)[: k.size]
    expected = stats.poisson.pmf(k, rate) * z.size
    keep = expected > 20
    chi2 = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    assert chi2 < stats.chi2.ppf(0.999, keep.sum())


def test_same_seed_same_spikes():
    rate = torch.rand(50, 40) * 3
    a = poisson_spikes(rate, torch.Generator().manual_seed(42))
    b = poisson_spikes(rate, torch.Generator().manual_seed(42))
    c = poisson_spikes(rate, torch.Generator().manual_seed(43))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_candidate_count_tail_bound():
    for r in (0.01, 0.5, 3.0, 20.0):
        n = candidate_count(r, 1e-3)
        assert stats.poisson.sf(n, r) < 1e-3
        assert n == 1 or stats.poisson.sf(n - 1, r) >= 1e-3


def test_fast_relaxed_equals_literal_values_and_gradients():
    gen = torch.Generator().manual_seed(0)
    rate = (torch.rand(30, 20, generator=gen) * 4 + 0.01).double()
    arrivals = torch.empty(30, 20, 40, dtype=torch.float64).exponential_(generator=gen).cumsum(-1)
    for temp in (1.0, 0.3, 0.01):
        r1 = rate.clone().requires_grad_(True)
        r2 = rate.clone().requires_grad_(True)
        fast = relaxed_poisson(r1, temp, 40, unit_arrivals=arrivals)
        literal = relaxed_poisson_literal(r2, temp, 40, unit_arrivals=arrivals)
        torch.testing.assert_close(fast, literal, atol=1e-7, rtol=1e-7)
        w = torch.randn(30, 20, dtype=torch.float64, generator=gen)
        (fast * w).sum().backward()
        (literal * w).sum().backward()
        torch.testing.assert_close(r1.grad, r2.grad, atol=1e-7, rtol=1e-6)


def test_relaxed_tends_to_hard_counts_and_mean_matches_rate():
    gen = torch.Generator().manual_seed(1)
    rate = torch.tensor([0.05, 0.5, 2.0, 6.0]).double().repeat(50_000, 1)
    arrivals = torch.empty(*rate.shape, 30, dtype=torch.float64).exponential_(generator=gen)
    arrivals = arrivals.cumsum(-1)
    hard = (arrivals < rate.unsqueeze(-1)).sum(-1).double()
    errors = []
    for temp in (0.3, 0.03, 0.003):
        soft = relaxed_poisson(rate, temp, 30, unit_arrivals=arrivals)
        errors.append((soft - hard).abs().mean().item())
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.01
    soft = relaxed_poisson(rate, 0.01, 30, generator=torch.Generator().manual_seed(2))
    means = soft.mean(0)
    torch.testing.assert_close(means, rate[0], atol=0.03, rtol=0.02)


def test_poisson_kl_closed_form_and_monte_carlo():
    u = torch.tensor([-2.0, 0.0, 1.0, 2.0]).double()
    u0 = torch.tensor([-1.0, 0.5, 1.0, -0.5]).double()
    r, r0 = torch.exp(u), torch.exp(u0)
    closed = r * torch.log(r / r0) - r + r0
    torch.testing.assert_close(poisson_kl(u, u0), closed)
    assert poisson_kl(u, u).abs().max() < 1e-12
    rng = np.random.default_rng(0)
    for ri, r0i, kl in zip(r.numpy(), r0.numpy(), poisson_kl(u, u0).numpy()):
        k = rng.poisson(ri, size=400_000)
        mc = np.mean(stats.poisson.logpmf(k, ri) - stats.poisson.logpmf(k, r0i))
        assert abs(mc - kl) < 0.02 * max(kl, 0.05) + 5e-3
    ref = poisson_kl(u, u0, variant="reference")
    torch.testing.assert_close(ref, closed * r / r0)
    with pytest.raises(ValueError, match="variant"):
        poisson_kl(u, u0, variant="bogus")


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, mu0 = torch.randn(10, generator=g), torch.randn(10, generator=g)
    ls, ls0 = 0.5 * torch.randn(10, generator=g), 0.5 * torch.randn(10, generator=g)
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(mu, ls.exp()),
                                            torch.distributions.Normal(mu0, ls0.exp()))
    torch.testing.assert_close(gaussian_kl(mu, ls, mu0, ls0), ref)


def test_rates_where_a_float32_inversion_cdf_would_stall():
    """Rates whose float32 CDF saturates below the largest uniforms (3-5, 11.9) are sampled."""
    gen = torch.Generator().manual_seed(0)
    for rate in (3.0, 4.0, 5.0, 11.9):
        z = poisson_spikes(torch.full((3_000_000,), rate), gen)
        assert z.max() < 60 and abs(z.mean().item() - rate) < 0.01


def test_unit_arrivals_are_a_unit_rate_poisson_process():
    """Intervals between arrivals are Exponential(1) (KS test), arrivals increase."""
    from neurofond.fond.sampling import _unit_arrivals

    gen = torch.Generator().manual_seed(3)
    arrivals = _unit_arrivals((20_000,), 5, gen, torch.float32, torch.device("cpu"))
    intervals = torch.diff(arrivals, dim=-1, prepend=torch.zeros(20_000, 1)).numpy().ravel()
    assert intervals.min() >= 0
    assert stats.kstest(intervals, "expon").pvalue > 1e-3
    assert abs(intervals.mean() - 1.0) < 0.02


def test_block_parallel_poisson_is_independent_of_thread_count():
    """Large CPU tensors are sampled in seeded blocks: same generator -> same counts at 1 or 2
    threads, the blocks draw different streams, and each block is Poisson."""
    from neurofond.fond.sampling import POISSON_BLOCKS, POISSON_PARALLEL_MIN

    n = 2 * POISSON_PARALLEL_MIN
    rate = torch.full((n,), 0.7)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = poisson_spikes(rate, torch.Generator().manual_seed(9))
        torch.set_num_threads(2)
        two = poisson_spikes(rate, torch.Generator().manual_seed(9))
    finally:
        torch.set_num_threads(previous)
    assert torch.equal(one, two)
    blocks = one.chunk(POISSON_BLOCKS)
    assert not torch.equal(blocks[0], blocks[1])
    for blk in blocks:
        assert abs(blk.mean().item() - 0.7) < 5 * math.sqrt(0.7 / blk.numel())
    # a 2-D tensor is split on its flattened order and keeps its shape
    z2 = poisson_spikes(rate.reshape(512, -1), torch.Generator().manual_seed(9))
    assert z2.shape == (512, n // 512) and torch.equal(z2.reshape(-1), one)
