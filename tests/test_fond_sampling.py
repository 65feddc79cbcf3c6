"""Spike samplers and divergences against closed forms and Monte Carlo."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from neurofond.fond.divergences import gaussian_kl, poisson_kl
from neurofond.fond.sampling import (
    candidate_count,
    compiled_sampler_available,
    hard_sampler_for,
    poisson_spikes,
    relaxed_poisson,
    relaxed_poisson_literal,
)

BACKENDS = ["torch", pytest.param("compiled", marks=pytest.mark.skipif(
    not compiled_sampler_available(), reason="neurofond.fond._spikes was not built"))]
needs_compiled = pytest.mark.skipif(not compiled_sampler_available(),
                                    reason="neurofond.fond._spikes was not built")


@pytest.mark.parametrize("sampler", BACKENDS)
@pytest.mark.parametrize("rate", [0.003, 0.2, 1.0, 4.5, 9.99, 10.0, 11.0, 30.0, 400.0])
def test_hard_poisson_matches_distribution(rate, sampler):
    """Chi-square against the Poisson pmf, mean and variance; both sides of the compiled
    sampler's switch from inversion to PTRS at rate 10."""
    gen = torch.Generator().manual_seed(0)
    z = poisson_spikes(torch.full((200_000,), rate), gen, sampler=sampler).numpy()
    assert np.all(z == np.round(z)) and z.min() >= 0
    assert abs(z.mean() - rate) < 5 * math.sqrt(rate / z.size) + 1e-4
    assert abs(z.var() - rate) < 0.03 * rate + 1e-3
    k = np.arange(int(rate + 6 * math.sqrt(rate) + 3))
    observed = np.bincount(z.astype(int), minlength=k.size)[: k.size].astype(float)
    expected = stats.poisson.pmf(k, rate) * z.size
    keep = expected > 20
    chi2 = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    assert chi2 < stats.chi2.ppf(0.999, keep.sum())


@pytest.mark.parametrize("sampler", BACKENDS)
def test_same_seed_same_spikes(sampler):
    rate = torch.rand(50, 40) * 3
    a = poisson_spikes(rate, torch.Generator().manual_seed(42), sampler=sampler)
    b = poisson_spikes(rate, torch.Generator().manual_seed(42), sampler=sampler)
    c = poisson_spikes(rate, torch.Generator().manual_seed(43), sampler=sampler)
    assert torch.equal(a, b) and not torch.equal(a, c)


@needs_compiled
def test_compiled_sampler_mixed_rates_and_silent_neurons():
    """A sparse population's rates (log-normal, some zero): counts are integers, rate 0 gives
    0, per-rate-bin means match, and the generator advances (two calls differ)."""
    gen = torch.Generator().manual_seed(1)
    rate = torch.exp(torch.randn(400_000, generator=gen) * 1.5 - 2.5)
    rate[::7] = 0.0
    z = poisson_spikes(rate, gen, sampler="compiled")
    assert torch.equal(z, z.round()) and z.min() >= 0
    assert z[::7].abs().sum() == 0
    for lo, hi in ((0.0, 0.05), (0.05, 0.5), (0.5, 3.0), (3.0, 50.0)):
        sel = (rate > lo) & (rate <= hi)
        mean_rate, n = rate[sel].double().mean().item(), int(sel.sum())
        assert abs(z[sel].double().mean().item() - mean_rate) < 5 * math.sqrt(mean_rate / n)
    assert not torch.equal(z, poisson_spikes(rate, gen, sampler="compiled"))


@needs_compiled
def test_compiled_sampler_is_independent_of_thread_count_and_keeps_shape():
    rate = torch.exp(torch.randn(300, 700, generator=torch.Generator().manual_seed(2)))
    previous = torch.get_num_threads()
    try:
        counts = {}
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            counts[threads] = poisson_spikes(rate, torch.Generator().manual_seed(5),
                                             sampler="compiled")
    finally:
        torch.set_num_threads(previous)
    assert counts[1].shape == rate.shape
    assert torch.equal(counts[1], counts[2]) and torch.equal(counts[1], counts[3])
    # non-contiguous input: same counts as its contiguous copy
    t = poisson_spikes(rate.T, torch.Generator().manual_seed(5), sampler="compiled")
    assert torch.equal(t, poisson_spikes(rate.T.contiguous(), torch.Generator().manual_seed(5),
                                         sampler="compiled"))


@needs_compiled
@pytest.mark.parametrize("bad", [float("nan"), -0.5, float("inf")])
def test_compiled_sampler_rejects_invalid_rates(bad):
    rate = torch.full((5000,), 0.3)
    rate[1234] = bad
    with pytest.raises(ValueError, match="rate: expected finite non-negative"):
        poisson_spikes(rate, torch.Generator().manual_seed(0), sampler="compiled")


def test_use_hard_sampler_selects_the_auto_backend():
    from neurofond.fond.sampling import use_hard_sampler

    rate = torch.full((70_000,), 0.4)
    with use_hard_sampler("torch"):
        assert hard_sampler_for(rate) == "torch"
        a = poisson_spikes(rate, torch.Generator().manual_seed(3))
    assert torch.equal(a, poisson_spikes(rate, torch.Generator().manual_seed(3), sampler="torch"))
    with pytest.raises(ValueError, match="sampler: expected one of"), use_hard_sampler("gpu"):
        pass


def test_hard_sampler_selection():
    assert hard_sampler_for(torch.ones(3), "torch") == "torch"
    assert hard_sampler_for(torch.ones(3, dtype=torch.float64)) == "torch"
    expected = "compiled" if compiled_sampler_available() else "torch"
    assert hard_sampler_for(torch.ones(3)) == expected
    with pytest.raises(ValueError, match="sampler: expected one of"):
        hard_sampler_for(torch.ones(3), "fast")
    with pytest.raises(ValueError, match="sampler: 'compiled'"):
        hard_sampler_for(torch.ones(3, dtype=torch.float64), "compiled")


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


def test_poisson_kl_from_rates_equals_closed_form_and_model_kl():
    """The inference loop's KL from cached rates equals r log(r/r0) - r + r0, in value and
    gradient, and the model uses it for the exact variant."""
    from neurofond.fond import IterativeVAE, ModelConfig
    from neurofond.fond.divergences import poisson_kl_from_rates

    g = torch.Generator().manual_seed(0)
    u = (torch.randn(200, dtype=torch.float64, generator=g) * 2).requires_grad_(True)
    u0 = torch.randn(200, dtype=torch.float64, generator=g) * 2
    r, r0 = torch.exp(u), torch.exp(u0)
    fast = poisson_kl_from_rates(u, u0, r, r0)
    closed = r * torch.log(r / r0) - r + r0
    torch.testing.assert_close(fast, closed)
    (grad_fast,) = torch.autograd.grad(fast.sum(), u)
    (grad_closed,) = torch.autograd.grad(poisson_kl(u, u0).sum(), u)
    torch.testing.assert_close(grad_fast, grad_closed)
    model = IterativeVAE(ModelConfig.for_family("poisson"), generator=g)
    x = torch.randn(8, 256, generator=g)
    old = model.initial_state(8, generator=g)
    new, _ = model.step(old, x, generator=g)
    assert new.rate is not None
    torch.testing.assert_close(model.kl(new, old), poisson_kl(new.u, old.u), rtol=1e-4,
                               atol=1e-6)


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, mu0 = torch.randn(10, generator=g), torch.randn(10, generator=g)
    ls, ls0 = 0.5 * torch.randn(10, generator=g), 0.5 * torch.randn(10, generator=g)
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(mu, ls.exp()),
                                            torch.distributions.Normal(mu0, ls0.exp()))
    torch.testing.assert_close(gaussian_kl(mu, ls, mu0, ls0), ref)


@pytest.mark.parametrize("sampler", BACKENDS)
def test_rates_where_a_float32_inversion_cdf_would_stall(sampler):
    """Rates whose float32 CDF saturates below the largest uniforms (3-5, 11.9) are sampled."""
    gen = torch.Generator().manual_seed(0)
    for rate in (3.0, 4.0, 5.0, 11.9):
        z = poisson_spikes(torch.full((3_000_000,), rate), gen, sampler=sampler)
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
        one = poisson_spikes(rate, torch.Generator().manual_seed(9), sampler="torch")
        torch.set_num_threads(2)
        two = poisson_spikes(rate, torch.Generator().manual_seed(9), sampler="torch")
    finally:
        torch.set_num_threads(previous)
    assert torch.equal(one, two)
    blocks = one.chunk(POISSON_BLOCKS)
    assert not torch.equal(blocks[0], blocks[1])
    for blk in blocks:
        assert abs(blk.mean().item() - 0.7) < 5 * math.sqrt(0.7 / blk.numel())
    # a 2-D tensor is split on its flattened order and keeps its shape
    z2 = poisson_spikes(rate.reshape(512, -1), torch.Generator().manual_seed(9), sampler="torch")
    assert z2.shape == (512, n // 512) and torch.equal(z2.reshape(-1), one)
