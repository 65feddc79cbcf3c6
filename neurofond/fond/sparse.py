"""Sparse exact inference for the iP-VAE: only spiking neurons enter the products.

In evaluation mode (hard Poisson spikes, no autograd) most spike counts are zero: a trained
iP-VAE on held-out photos has 47 % of its counts nonzero at the first step, 16 % after 200
steps and 13 % after 1000. One step of :meth:`neurofond.fond.model.IterativeVAE.step`
nevertheless costs two
dense products, ``x - Phi z`` (decode) and ``Phi^T (x - Phi z) / sigma_x^2`` (drive), 4 B D K
FLOP. Written with the precision-weighted Gram matrix
``G = Phi^T diag(1/sigma_x^2) Phi`` (K x K, the lateral interaction) and the feedforward drive
``f = Phi^T x / sigma_x^2`` (computed once per input), the drive is

    drive = f - z G = f - sum_{k : z_k > 0} z_k G[k, :]

and only the active neurons' rows of ``G`` are read: ``a K^2`` multiply-adds per patch for an
active fraction ``a`` instead of ``2 D K``. The reconstruction residual ``x - Phi z`` (needed
only to record R^2) is likewise summed over the active columns of ``Phi``. Both sums run in
the small C kernel ``subtract_rows`` of ``neurofond/fond/_spikes.c``.

Numbers. The random stream is unchanged: the same rates reach the same sampler
(:func:`neurofond.fond.sampling.poisson_spikes`) in the same order, so the draws are
identical. The products are summed in a different order than the dense BLAS products, so the
drive, the potentials ``u`` and the residual agree with the dense path to float32 rounding
(relative differences ~1e-6), not bit for bit; a spike count can then differ where a uniform
falls within rounding of a CDF boundary (rare: none in the tests' runs). With ``sparse="never"``
:class:`ExactInference` is bit-identical to :meth:`IterativeVAE.step`.

The update and the spikes. After the products, an evaluation step computes the new
potentials (two softplus soft-clamps), the rates ``exp(u)``, ``exp(-rate)`` and the spike
counts: fourteen elementwise passes over the B x K neurons in torch, which cost more than the
sparse products. :func:`update_sample_fused` does them in one C loop per block of 4096 neurons
(vectorised ``exp``/``log1p`` of its own, then the compiled sampler's blocks, seeds and
uniforms), so the random stream is that of the compiled sampler and the potentials agree with
the torch update to float32 rounding (tested against a float64 reference); it also returns the
number of active neurons, which the next step's dense/sparse rule then reads for free.
:class:`ExactInference` fuses by default wherever it can, except with ``sparse="never"``.

Dense or sparse is chosen per step from the active fraction of the spikes entering the step
(:func:`choose_sparse`): sparse below :data:`CROSSOVER` for a step that needs only the drive,
below :data:`CROSSOVER_WITH_RESIDUAL` for one that also returns the residual (a second sparse
product, over ``Phi^T``; the dense step gets it from its decode), both measured on this
project's CPU by ``benchmarks/bench_fond.py`` (the sweep ``crossover_sweep`` in its JSON).
The sparse path runs on CPU float32 tensors where the compiled kernel was built; elsewhere
(CUDA, float64, no compiler) every step is dense.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .model import InferenceState, IterativeVAE, StepConstants
from .sampling import (
    _compiled,
    _over_blocks,
    _thread_pool,
    hard_sampler_for,
    poisson_spikes,
)

__all__ = ["CROSSOVER", "CROSSOVER_WITH_RESIDUAL", "SPARSE_MODES", "ExactInference",
           "choose_sparse", "fused_available", "sparse_available", "subtract_sparse",
           "update_poisson", "update_sample_fused"]

#: Active fraction below which a sparse step that needs only the drive is faster than a dense
#: one: ``f - z G`` and the dense decode + drive cost the same at ~0.68 active in
#: ``benchmarks/bench_fond.py``'s sweep (B = 1000, K = 512, D = 256, one thread, the
#: L1-blocked AVX-512 kernel vs MKL sgemm; docs/benchmarks.md); set below it.
CROSSOVER = 0.6
#: The same for a step that also returns the residual ``x - Phi z`` (it records R^2): the two
#: sparse products cost the dense step's at ~0.38 active.
CROSSOVER_WITH_RESIDUAL = 0.35
#: ``"auto"`` (per step, :func:`choose_sparse`), ``"always"`` (every step sparse) and
#: ``"never"`` (every step dense: :meth:`IterativeVAE.step` bit for bit).
SPARSE_MODES = ("auto", "always", "never")
#: Below this many rows one thread runs the kernel (handing rows to a second costs more).
_PARALLEL_MIN_ROWS = 256


def _kernel_applies(model: IterativeVAE, kernel: str) -> bool:
    """An iP-VAE with CPU float32 parameters and ``kernel`` of ``neurofond.fond._spikes`` built."""
    return (model.is_poisson and model.phi.device.type == "cpu"
            and model.phi.dtype == torch.float32 and _compiled is not None
            and hasattr(_compiled, kernel))


def sparse_available(model: IterativeVAE) -> bool:
    """Whether ``model`` can take sparse steps: an iP-VAE whose decoder is a CPU float32
    tensor, with the compiled kernel built (``neurofond.fond._spikes``)."""
    return _kernel_applies(model, "subtract_rows")


def choose_sparse(active_fraction: float, crossover: float = CROSSOVER) -> bool:
    """The switching rule: a step is sparse when ``active_fraction < crossover``.

    Parameters
    ----------
    active_fraction : float
        Fraction of nonzero spike counts entering the step, in [0, 1].
    crossover : float
        Threshold in [0, 1] (0: never sparse, 1: sparse unless every count is nonzero).

    Returns
    -------
    bool
    """
    if not 0.0 <= active_fraction <= 1.0:
        raise ValueError(f"active_fraction: expected a fraction in [0, 1], got {active_fraction!r}")
    if not 0.0 <= crossover <= 1.0:
        raise ValueError(f"crossover: expected a fraction in [0, 1], got {crossover!r}")
    return active_fraction < crossover


def subtract_sparse(z: torch.Tensor, m: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    """``base - z @ m``, summing only over the nonzero entries of each row of ``z``.

    Parameters
    ----------
    z : Tensor (B, K)
        Sparse coefficients (spike counts), CPU float32.
    m : Tensor (K, N)
        CPU float32 (made contiguous if it is not).
    base : Tensor (B, N)
        CPU float32.

    Returns
    -------
    Tensor (B, N)
        A new tensor. Rows are split across torch's threads (at least
        :data:`_PARALLEL_MIN_ROWS` rows); the result does not depend on the split.
    """
    if _compiled is None or not hasattr(_compiled, "subtract_rows"):
        raise ValueError("z: the sparse kernel of neurofond.fond._spikes was not built "
                         "(reinstall with a C compiler, or use sparse='never')")
    for name, t in (("z", z), ("m", m), ("base", base)):
        if t.device.type != "cpu" or t.dtype != torch.float32 or t.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D CPU float32 tensor, got {t.dtype} "
                             f"{tuple(t.shape)} on {t.device}")
    (b, k), n = z.shape, m.shape[1]
    if m.shape[0] != k or base.shape != (b, n):
        raise ValueError(f"z, m, base: expected shapes (B, K), (K, N), (B, N), got "
                         f"{tuple(z.shape)}, {tuple(m.shape)}, {tuple(base.shape)}")
    z, m, base = z.contiguous(), m.contiguous(), base.contiguous()
    out = torch.empty(b, n, dtype=torch.float32)
    args = (z.data_ptr(), m.data_ptr(), base.data_ptr(), out.data_ptr(), k, n)
    workers = min(torch.get_num_threads(), b // _PARALLEL_MIN_ROWS)
    if workers <= 1:
        _compiled.subtract_rows(*args, 0, b)
    else:
        cuts = [b * i // workers for i in range(workers + 1)]
        pool = _thread_pool(workers)
        for f in [pool.submit(_compiled.subtract_rows, *args, cuts[i], cuts[i + 1])
                  for i in range(workers)]:
            f.result()
    return out


@torch.no_grad()
def update_poisson(model: IterativeVAE, u: torch.Tensor, drive: torch.Tensor,
                   consts: StepConstants, out: torch.Tensor | None = None) -> torch.Tensor:
    """:meth:`IterativeVAE.update` of an iP-VAE, bit for bit, reusing ``drive``'s memory.

    ``du = c - softplus(c - eta (drive - b))`` and ``u' = c - softplus(c - (u + du))``, each
    floored, computed with in-place operations (the same operations, in the same order, as
    the model's; ``drive`` is overwritten) and without autograd. Returns the new potentials
    (written into ``out`` when given).
    """
    floor = model.config.floor
    c = torch.tensor(consts.clamp, dtype=drive.dtype, device=drive.device)
    v = drive.sub_(consts.bias).mul_(consts.eta)  # eta * (drive - b)
    sp = F.softplus(torch.sub(c, v, out=v))
    du = torch.sub(c, sp, out=sp).clamp_(min=floor)
    w = du.add_(u)  # u + du
    sp = F.softplus(torch.sub(c, w, out=w))
    return torch.sub(c, sp, out=sp if out is None else out).clamp_(min=floor)


def fused_available(model: IterativeVAE) -> bool:
    """Whether ``model`` can take fused update + spike steps (:func:`update_sample_fused`):
    an iP-VAE with CPU float32 parameters and the compiled kernel built."""
    return _kernel_applies(model, "update_sample")


@torch.no_grad()
def update_sample_fused(model: IterativeVAE, u: torch.Tensor, drive: torch.Tensor,
                        consts: StepConstants, generator: torch.Generator | None = None,
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Potential update, rates and exact Poisson spikes of one iP-VAE step, in one pass.

    Computes what :func:`update_poisson` followed by ``rate = exp(u')`` and
    :func:`neurofond.fond.sampling.poisson_spikes` (compiled backend) compute, in one C
    loop over the elements (``update_sample`` in ``neurofond/fond/_spikes.c``) instead of
    fourteen elementwise passes.

    Parameters
    ----------
    model : IterativeVAE
        An iP-VAE with CPU float32 parameters (:func:`fused_available`).
    u : Tensor (B, K)
        Potentials entering the step.
    drive : Tensor (B, K)
        ``Phi^T (x - Phi z) / sigma_x^2`` of the step (not modified).
    consts : StepConstants
        The model's step constants.
    generator : torch.Generator, optional
        Source of the spikes: one 64-bit seed is drawn from it, exactly as the compiled
        sampler draws it.

    Returns
    -------
    (u_new, rate, spikes, n_active)
        New potentials, rates ``exp(u_new)``, spike counts (float32) and the number of
        nonzero counts.

    Raises
    ------
    ValueError
        Tensors that are not CPU float32 (B, K) of one shape, or NaN in ``u`` or ``drive``.

    Notes
    -----
    Random stream: the seed, the blocks of 4096 elements and the uniforms of every element are
    those of the compiled sampler, so equal rates give equal counts. The rates are not
    bit-identical to torch's: ``exp``, ``log1p`` (softplus) are this kernel's own vectorised
    float32 functions (a few ulp from libm; SLEEF's differ likewise), so ``u_new`` agrees with
    :func:`update_poisson` to ~1e-6 relative and a count differs from the unfused path's only
    where a uniform falls within that rounding of a CDF boundary (rare; tested). The counts do
    not depend on the number of threads sharing the blocks.
    """
    if not fused_available(model):
        raise ValueError("model: the fused step needs an iP-VAE with CPU float32 parameters and "
                         "the compiled kernel (neurofond.fond._spikes); use fused=False")
    for name, t in (("u", u), ("drive", drive)):
        if t.device.type != "cpu" or t.dtype != torch.float32 or t.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D CPU float32 tensor, got {t.dtype} "
                             f"{tuple(t.shape)} on {t.device}")
    if u.shape != drive.shape or u.shape[1] != model.config.n_latents:
        raise ValueError(f"u, drive: expected the same shape (B, {model.config.n_latents}), got "
                         f"{tuple(u.shape)} and {tuple(drive.shape)}")
    u, drive = u.contiguous(), drive.contiguous()
    bias = consts.bias.detach().to(torch.float32).contiguous()
    u_new, rate, spikes = torch.empty_like(u), torch.empty_like(u), torch.empty_like(u)
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    n, k = u.numel(), u.shape[1]
    args = (drive.data_ptr(), u.data_ptr(), bias.data_ptr(), u_new.data_ptr(), rate.data_ptr(),
            spikes.data_ptr(), n, k, float(consts.eta), float(consts.clamp),
            float(model.config.floor), seed)
    parts = _over_blocks(_compiled.update_sample, args, n)
    active, bad = sum(p[0] for p in parts), sum(p[1] for p in parts)
    if bad:
        raise ValueError(f"u, drive: {bad} NaN values reached the spike sampler (expected "
                         "finite potentials and drive)")
    return u_new, rate, spikes, int(active)


class ExactInference:
    """Hard-spike iP-VAE inference steps that skip silent neurons (evaluation mode).

    Parameters
    ----------
    model : IterativeVAE
        An iP-VAE (``family="poisson"``).
    sparse : {"auto", "always", "never"}
        ``"auto"``: each step sparse or dense by :func:`choose_sparse`; ``"always"``: every
        step sparse (ValueError where :func:`sparse_available` is false); ``"never"``: every
        step dense, bit-identical to :meth:`IterativeVAE.step`.
    crossover : float, optional
        Threshold of the ``"auto"`` rule for every step. ``None`` (default): per step,
        :data:`CROSSOVER` where the step returns no residual and
        :data:`CROSSOVER_WITH_RESIDUAL` where it does.
    consts : StepConstants, optional
        The model's step constants, if already computed.
    fused : bool, optional
        Compute the potential update, the rates and the spikes in one pass
        (:func:`update_sample_fused`) whenever the compiled sampler is the one in use (not
        inside ``use_hard_sampler("torch")``). ``None`` (default): fused where
        :func:`fused_available`, except with ``sparse="never"``, which keeps the dense step
        bit-identical to :meth:`IterativeVAE.step`; ``True``: required (ValueError where it
        is not available); ``False``: the update and the sampler run separately.

    Attributes
    ----------
    n_sparse, n_dense : int
        Steps taken each way.
    last_active_fraction : float or None
        Active fraction of the spikes that entered the latest step (``"auto"`` only).
    n_fused : int
        Steps whose update and spikes were fused.

    Notes
    -----
    The sparse step computes ``drive = f - z G`` with ``f = Phi^T x / sigma_x^2`` cached per
    input tensor (recomputed when another tensor, or the same one modified in place, is
    passed) and ``G`` the precision-weighted Gram matrix, computed once. See the module
    docstring for how its numbers relate to the dense step's.
    """

    def __init__(self, model: IterativeVAE, *, sparse: str = "auto",
                 crossover: float | None = None, consts: StepConstants | None = None,
                 fused: bool | None = None) -> None:
        if not model.is_poisson:
            raise ValueError(f"model: sparse exact inference needs an iP-VAE (family "
                             f"'poisson'), got family {model.config.family!r}")
        if sparse not in SPARSE_MODES:
            raise ValueError(f"sparse: expected one of {SPARSE_MODES}, got {sparse!r}")
        if crossover is not None:
            choose_sparse(0.0, crossover)  # validates crossover
        available = sparse_available(model)
        if sparse == "always" and not available:
            raise ValueError("sparse: 'always' needs an iP-VAE with a CPU float32 decoder and "
                             "the compiled kernel (neurofond.fond._spikes); use 'auto'")
        if fused and not fused_available(model):
            raise ValueError("fused: True needs an iP-VAE with CPU float32 parameters and the "
                             "compiled kernel (neurofond.fond._spikes); use fused=None")
        self.model = model
        self.fused = (fused_available(model) and sparse != "never") if fused is None \
            else bool(fused)
        self.mode = sparse if available else "never"
        self.crossover = None if crossover is None else float(crossover)
        with torch.no_grad():
            self.consts = consts or model.step_constants()
            if self.mode != "never":
                phi = model.phi.detach()
                self.gram = ((phi * self.consts.inv_var.unsqueeze(1)).T @ phi).contiguous()
                self.phi_t = phi.T.contiguous()
        self._x: torch.Tensor | None = None
        self._x_version = -1
        self._ff: torch.Tensor | None = None
        self.n_sparse = 0
        self.n_dense = 0
        self.n_fused = 0
        self.last_active_fraction: float | None = None
        # the spikes of the latest fused step and their nonzero count (the next step's rule
        # then needs no pass over them)
        self._spikes: torch.Tensor | None = None
        self._n_active = 0

    def _feedforward(self, x: torch.Tensor) -> torch.Tensor:
        # tensors made under torch.inference_mode have no version counter: they are matched
        # by identity only (present() passes a new tensor whenever the input changes)
        version = -2 if x.is_inference() else x._version
        if self._ff is None or x is not self._x or version != self._x_version:
            self._ff = (x * self.consts.inv_var) @ self.model.phi
            self._x, self._x_version = x, version
        return self._ff

    def _use_sparse(self, z: torch.Tensor, need_residual: bool) -> bool:
        if self.mode == "never":
            return False
        if self.mode == "always":
            return True
        if z is self._spikes:  # counted by the fused kernel that drew them
            n_active = float(self._n_active)
        else:  # spike counts are >= 0: their signs sum to the number of active neurons (a
            # single vectorised pass, several times cheaper than count_nonzero here)
            n_active = float(z.sign().sum(dtype=torch.float64))
        frac = n_active / max(z.numel(), 1)
        self.last_active_fraction = frac
        crossover = self.crossover
        if crossover is None:
            crossover = CROSSOVER_WITH_RESIDUAL if need_residual else CROSSOVER
        return choose_sparse(frac, crossover)

    @torch.no_grad()
    def step(self, state: InferenceState, x: torch.Tensor, *,
             generator: torch.Generator | None = None, residual: torch.Tensor | None = None,
             need_residual: bool = True) -> tuple[InferenceState, torch.Tensor | None]:
        """One exact inference step on input ``x`` (B, D).

        Parameters
        ----------
        state : InferenceState
            Current state; ``state.response`` are the spike counts entering the step.
        x : Tensor (B, D)
        generator : torch.Generator, optional
            Spike sampler's random stream (the same draws as :meth:`IterativeVAE.step`).
        residual : Tensor (B, D), optional
            ``x - Phi z`` of ``state`` if known (a dense step uses it).
        need_residual : bool
            Whether to return the new residual ``x - Phi z_new`` (None otherwise: a loop
            that records no reconstruction error skips the decode).

        Returns
        -------
        (InferenceState, Tensor or None)
        """
        model, consts = self.model, self.consts
        z = state.response
        sparse = self._use_sparse(z, need_residual)
        if sparse:
            self.n_sparse += 1
            drive = subtract_sparse(z, self.gram, self._feedforward(x))
        else:
            self.n_dense += 1
            if residual is None:
                residual = x - model.decode(z)
            drive = (residual * consts.inv_var) @ model.phi
        if self.fused and hard_sampler_for(state.u) == "compiled":
            self.n_fused += 1
            u, rate, spikes, self._n_active = update_sample_fused(model, state.u, drive,
                                                                  consts, generator)
            self._spikes = spikes
            new = InferenceState(u=u, response=spikes, rate=rate)
        else:
            u = update_poisson(model, state.u, drive, consts)
            rate = torch.exp(u)
            new = InferenceState(u=u, response=poisson_spikes(rate, generator), rate=rate)
        if not need_residual:
            return new, None
        # the residual follows the step's choice: activity changes slowly from one step to
        # the next, and counting the new spikes would cost another pass over them
        if sparse:
            return new, subtract_sparse(new.response, self.phi_t, x)
        return new, x - model.decode(new.response)
