"""Poisson spike samplers: exact integer samples and a differentiable relaxation.

Hard samples
    :func:`poisson_spikes` draws exact Poisson counts: on the CPU with a small C
    sampler built at install time (CDF inversion / PTRS on seeded xoshiro256** blocks),
    elsewhere, or where it was not built, with :func:`torch.poisson`.

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

import contextlib
import contextvars
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

__all__ = [
    "HARD_SAMPLERS",
    "candidate_count",
    "compiled_sampler_available",
    "hard_sampler_for",
    "use_hard_sampler",
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


#: Hard-sample backends: ``"compiled"`` (the C sampler, CPU float32), ``"torch"``
#: (:func:`torch.poisson`, any device/dtype) and ``"auto"`` (compiled where it applies).
HARD_SAMPLERS = ("auto", "compiled", "torch")
#: torch.poisson path: large CPU tensors in this many contiguous seeded blocks (two threads).
POISSON_BLOCKS = 2
#: Below this many elements one call on one thread is used (thread hand-off costs more).
POISSON_PARALLEL_MIN = 1 << 16

try:  # the optional C extension built by setup.py (neurofond/fond/_spikes.c)
    from . import _spikes as _compiled
except ImportError:  # pragma: no cover - exercised only where no compiler was available
    _compiled = None

_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _thread_pool(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    if _pool is None or _pool_size < workers:
        if _pool is not None:
            _pool.shutdown(wait=True)
        _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="neurofond-poisson")
        _pool_size = workers
    return _pool


_preferred: contextvars.ContextVar[str] = contextvars.ContextVar("neurofond_hard_sampler",
                                                                default="auto")


@contextlib.contextmanager
def use_hard_sampler(sampler: str) -> Iterator[None]:
    """Within the block, ``sampler="auto"`` means ``sampler`` (e.g. ``"torch"`` to reproduce
    spikes drawn where the compiled sampler was not built).

    Examples
    --------
    >>> with use_hard_sampler("torch"):  # doctest: +SKIP
    ...     result = evaluate(model, patches)
    """
    if sampler not in HARD_SAMPLERS:
        raise ValueError(f"sampler: expected one of {HARD_SAMPLERS}, got {sampler!r}")
    token = _preferred.set(sampler)
    try:
        yield
    finally:
        _preferred.reset(token)


def compiled_sampler_available() -> bool:
    """Whether the C spike sampler (``neurofond.fond._spikes``) was built at install time."""
    return _compiled is not None


def hard_sampler_for(rate: torch.Tensor, sampler: str = "auto") -> str:
    """Name of the backend :func:`poisson_spikes` uses for ``rate`` (``"compiled"``/``"torch"``).

    Raises
    ------
    ValueError
        Unknown ``sampler``, or ``"compiled"`` asked for where it cannot run.
    """
    if sampler not in HARD_SAMPLERS:
        raise ValueError(f"sampler: expected one of {HARD_SAMPLERS}, got {sampler!r}")
    if sampler == "auto":
        sampler = _preferred.get()
    fits = rate.device.type == "cpu" and rate.dtype == torch.float32
    if sampler == "torch" or (sampler == "auto" and not (fits and _compiled is not None)):
        return "torch"
    if not fits:
        raise ValueError(f"sampler: 'compiled' needs a CPU float32 rate tensor, got "
                         f"{rate.dtype} on {rate.device}")
    if _compiled is None:
        raise ValueError("sampler: 'compiled' requested but neurofond.fond._spikes was not "
                         "built (reinstall with a C compiler, or use sampler='torch')")
    return "compiled"


def _over_blocks(kernel: Any, args: tuple, n: int) -> list:
    """``kernel(*args, block_start, block_stop)`` over the blocks of ``n`` elements of the C
    extension (``BLOCK_SIZE`` each, seeded by their index), split into contiguous runs on
    torch's thread count (one run below :data:`POISSON_PARALLEL_MIN` elements); the results
    of the runs in order. The blocks' numbers do not depend on the split."""
    n_blocks = -(-n // _compiled.BLOCK_SIZE)
    workers = min(torch.get_num_threads(), n_blocks) if n >= POISSON_PARALLEL_MIN else 1
    if workers <= 1:
        return [kernel(*args, 0, n_blocks)]
    cuts = [n_blocks * i // workers for i in range(workers + 1)]
    futures = [_thread_pool(workers).submit(kernel, *args, cuts[i], cuts[i + 1])
               for i in range(workers)]
    return [f.result() for f in futures]


def _poisson_compiled(rate: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    assert _compiled is not None
    flat = rate.detach().reshape(-1).contiguous()
    p0 = flat.neg().exp_()  # exp(-rate), one temporary
    out = torch.empty_like(flat)
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    n = flat.numel()
    bad = sum(_over_blocks(_compiled.sample,
                           (flat.data_ptr(), p0.data_ptr(), out.data_ptr(), n, seed), n))
    if bad:
        raise ValueError(f"rate: expected finite non-negative rates, got {bad} NaN, negative "
                         "or infinite values")
    return out.reshape(rate.shape)


def _poisson_torch(rate: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    if rate.is_cuda or rate.numel() < POISSON_PARALLEL_MIN:
        return torch.poisson(rate, generator=generator)
    seeds = torch.randint(0, 2**62, (POISSON_BLOCKS,), generator=generator).tolist()
    flat = rate.reshape(-1)
    out = torch.empty_like(flat)
    bounds = [flat.numel() * i // POISSON_BLOCKS for i in range(POISSON_BLOCKS + 1)]

    def block(i: int) -> None:
        gen = torch.Generator(device=rate.device).manual_seed(int(seeds[i]))
        lo, hi = bounds[i], bounds[i + 1]
        out[lo:hi] = torch.poisson(flat[lo:hi], generator=gen)

    if torch.get_num_threads() > 1:
        pool = _thread_pool(POISSON_BLOCKS)
        for future in [pool.submit(block, i) for i in range(POISSON_BLOCKS)]:
            future.result()
    else:
        for i in range(POISSON_BLOCKS):
            block(i)
    return out.reshape(rate.shape)


@torch.no_grad()
def poisson_spikes(rate: torch.Tensor, generator: torch.Generator | None = None, *,
                   sampler: str = "auto") -> torch.Tensor:
    """Exact Poisson spike counts with the given rates (no gradient).

    Parameters
    ----------
    rate : Tensor
        Non-negative rates (expected counts), any shape.
    generator : torch.Generator, optional
        Source of randomness; same generator state (and same backend) -> same spikes.
    sampler : {"auto", "compiled", "torch"}
        Backend. ``"auto"`` uses the C sampler for CPU float32 rates when it was built
        (:func:`compiled_sampler_available`) and :func:`torch.poisson` otherwise (inside
        :func:`use_hard_sampler`, the backend it names); the two draw different random
        streams, so record which one ran (:func:`hard_sampler_for`) when spikes must be
        reproduced bit for bit.

    Returns
    -------
    Tensor
        Counts as floats, same shape, dtype and device as ``rate``.

    Raises
    ------
    ValueError
        NaN, negative or infinite rates (compiled backend), or a backend that cannot run.

    Notes
    -----
    Compiled backend (``neurofond/fond/_spikes.c``): one 64-bit seed is drawn from
    ``generator``; elements are sampled in blocks of 4096, each with its own
    xoshiro256** stream seeded from (seed, block index), so the counts do not depend
    on how many threads share the blocks (torch's thread count). Rates below 10 are
    sampled by CDF inversion from one uniform (the zero test ``U < exp(-r)`` settles a
    sparse population's silent neurons with one draw), larger rates by Hormann's
    transformed rejection (PTRS, 1993). A block is sampled in two passes with the result
    of one element after another: the uniforms are drawn in element order (PTRS elements
    drawing their extra numbers in place), then the CDF searches of the elements that
    are not silent run eight at a time in AVX-512 lanes where the CPU has it (the same
    double-precision operations as the scalar search, tested bit for bit). At B=1000 x
    K=512 trained rates it is several times faster than :func:`torch.poisson`, which cost
    about three times the inference step's matrix products (``benchmarks/bench_fond.py``).

    Torch backend: CPU tensors of at least :data:`POISSON_PARALLEL_MIN` elements are
    split into :data:`POISSON_BLOCKS` contiguous blocks, each sampled by
    :func:`torch.poisson` with a generator seeded from ``generator``, on two threads
    when torch may use more than one; CUDA tensors use one call.
    """
    if hard_sampler_for(rate, sampler) == "compiled":
        return _poisson_compiled(rate, generator)
    return _poisson_torch(rate, generator)


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
    """Relaxed counts and their derivative wrt rate, skipping negligible arrivals.

    A term contributes more than ``sigmoid(-tail_logit)`` only while
    ``(S_j / r - 1) / temperature < tail_logit``, i.e. ``S_j < r (1 + tail_logit temperature)``.
    Arrivals are drawn in rounds: one for every neuron (on flat tensors: no zero fill,
    no sums over a length-1 axis), then chunks that double (4, 8, 16, ...) for the neurons
    whose last arrival is still inside that horizon. The active neurons' rates, horizons
    and last arrivals are kept compacted (no gathers from the full arrays). The random
    stream is the same as drawing the rounds' arrivals one after another.
    """
    flat = rate.reshape(-1)
    if unit_arrivals is None and flat.is_cuda:
        unit_arrivals = _unit_arrivals((flat.numel(),), n, generator, flat.dtype, flat.device)
        return tuple(t.reshape(rate.shape) for t in _terms(unit_arrivals, flat, temperature))
    given = None if unit_arrivals is None else unit_arrivals.reshape(flat.numel(), n)
    inv_temp = 1.0 / temperature
    horizon = flat * (1.0 + tail_logit * temperature)
    # round 1: the first arrival of every neuron
    if given is not None:
        first = given[:, 0]
    else:
        first = torch.rand(flat.numel(), generator=generator, dtype=flat.dtype,
                           device=flat.device).neg_().log1p_().neg_()
    inv_rate = flat.reciprocal()
    times = first * inv_rate
    z = times.mul(-inv_temp).add_(inv_temp).sigmoid_()
    # d/dr sigmoid((1 - S/r)/temp) = s (1 - s) (S/r) / (r temp)
    dz = times.mul_(z).mul_(1.0 - z).mul_(inv_rate).mul_(inv_temp)
    keep = (first < horizon).nonzero().squeeze(1)
    idx = keep
    last = first.index_select(0, keep)
    r = flat.index_select(0, keep)
    horizon = horizon.index_select(0, keep)
    done = 1
    while done < n and r.numel():
        m = min(max(chunk, done), n - done)
        if given is not None:
            arrivals = given[:, done:done + m].index_select(0, idx)
        else:
            arrivals = _unit_arrivals((r.numel(),), m, generator, flat.dtype, flat.device)
            arrivals += last.unsqueeze(-1)
        inv_rate = r.reciprocal()
        times = arrivals * inv_rate.unsqueeze(-1)
        s = times.mul(-inv_temp).add_(inv_temp).sigmoid_()
        z.index_add_(0, idx, s.sum(-1))
        times.mul_(s).mul_(s.neg_().add_(1.0))
        dz.index_add_(0, idx, times.sum(-1).mul_(inv_rate).mul_(inv_temp))
        done += m
        tail = arrivals[:, -1]
        keep = (tail < horizon).nonzero().squeeze(1)
        last = tail.index_select(0, keep)
        r = r.index_select(0, keep)
        horizon = horizon.index_select(0, keep)
        idx = idx.index_select(0, keep)
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
