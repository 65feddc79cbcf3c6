"""Evaluation-mode inference: long runs without autograd, with per-step metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._checks import check_int, check_torch_generator
from .metrics import convergence_index, distance_to_ideal, squared_error_parts
from .model import IterativeVAE
from .sparse import SPARSE_MODES, ExactInference

__all__ = ["EvaluationResult", "check_device", "evaluate", "run_inference"]


def check_device(device: str | torch.device, name: str = "device") -> torch.device:
    """``device`` as a :class:`torch.device` that this torch build can use.

    Raises
    ------
    ValueError
        If ``device`` is not a device string torch knows (``"cpu"``, ``"cuda"``,
        ``"cuda:1"``, ...), or names CUDA / MPS where this build or machine has none, or a
        CUDA index beyond the visible GPUs.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"{name}: expected a torch device such as 'cpu', 'cuda' or 'cuda:0', got {device!r}"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = ("this torch build has no CUDA support" if torch.version.cuda is None
                   else "no CUDA GPU is visible")
            raise ValueError(f"{name}: {device!r} is not available ({why}); use 'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{name}: {device!r} is not available "
                             f"({torch.cuda.device_count()} CUDA device(s) visible)")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{name}: {device!r} is not available on this machine; use 'cpu'")
    return dev


@dataclass
class EvaluationResult:
    """Per-step traces (index t = 1..n_steps) and summary figures.

    Traces: ``r2`` (per-sample R^2 from sampled responses, averaged),
    ``r2_map`` (the plug-in decode ``Phi a(E_q[z])`` of
    :meth:`~neurofond.fond.model.IterativeVAE.response_at_mean`: ``Phi exp(u)`` for
    iP-VAE, ``Phi a(mu)`` for the Gaussian variants; for iGrelu-VAE this is not the
    posterior-mean response :meth:`~neurofond.fond.model.IterativeVAE.mean_response`),
    ``r2_pooled`` (one R^2 over all samples and pixels), ``zeros`` (proportion of zero
    responses) and ``du_norm`` (mean over samples of ``||u_t - u_{t-1}||_2``), ``r2_median``
    (median over samples) and ``runaway_fraction`` (fraction of samples with
    R^2 < -1, i.e. whose reconstruction error exceeds twice their variance:
    inference that has run away).
    """

    traces: dict[str, np.ndarray]
    n_samples: int
    summary: dict[str, Any] = field(default_factory=dict)


@torch.no_grad()
def run_inference(model: IterativeVAE, x: torch.Tensor, n_steps: int, *,
                  generator: torch.Generator | None = None,
                  record: bool = True,
                  sparse: str = "auto",
                  fused: bool | None = None) -> tuple[dict[str, torch.Tensor], Any]:
    """Run ``n_steps`` of hard-sample inference on one batch.

    Parameters
    ----------
    model : IterativeVAE
    x : Tensor (B, D)
    n_steps : int
    generator : torch.Generator, optional
        Source of the spikes (the same draws whatever ``sparse`` is).
    record : bool
        Record the per-step figures (otherwise only the final state is returned).
    sparse : {"auto", "always", "never"}
        iP-VAE steps that skip silent neurons (:class:`neurofond.fond.sparse.ExactInference`):
        ``"auto"`` chooses per step from the active fraction, ``"never"`` is the dense
        :meth:`IterativeVAE.step` bit for bit; sparse steps agree with dense ones to float32
        rounding. Ignored for Gaussian models.
    fused : bool, optional
        Potential update and spikes in one pass (:func:`neurofond.fond.sparse.update_sample_fused`;
        the same random stream, rates equal to float32 rounding). ``None``: fused where
        available unless ``sparse="never"``. Ignored for Gaussian models.

    Returns
    -------
    sums : dict
        Per-step sums over the batch (``r2``, ``r2_map``, ``ss_res``, ``ss_tot``,
        ``ss_res_map``, ``zeros``, ``du_norm``), the per-sample R^2 of every step
        (``r2_samples``, shape (n_steps, B)), ``sparse`` (1 where the step was sparse) and
        ``fused`` (1 where its update and spikes were fused).
    state : InferenceState
        The final state.
    """
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    state = model.initial_state(x.shape[0], generator=generator)
    residual = x - model.decode(state.response)
    sums = {k: torch.zeros(n_steps, dtype=torch.float64) for k in
            ("r2", "r2_map", "ss_res", "ss_tot", "ss_res_map", "zeros", "du_norm", "sparse",
             "fused")}
    ss_tot = ((x - x.mean(-1, keepdim=True)) ** 2).sum(-1)
    if record:
        sums["r2_samples"] = torch.empty(n_steps, x.shape[0], dtype=torch.float32)
    consts = model.step_constants()
    exact = (ExactInference(model, sparse=sparse, consts=consts, fused=fused)
             if model.is_poisson else None)
    if exact is None and sparse not in SPARSE_MODES:
        raise ValueError(f"sparse: expected one of {SPARSE_MODES}, got {sparse!r}")
    for t in range(n_steps):
        if exact is not None:
            n_sparse, n_fused = exact.n_sparse, exact.n_fused
            new, residual = exact.step(state, x, generator=generator, residual=residual,
                                       need_residual=record)
            sums["sparse"][t] = exact.n_sparse - n_sparse
            sums["fused"][t] = exact.n_fused - n_fused
        else:
            new, residual = model.step(state, x, generator=generator, residual=residual,
                                       consts=consts)
        if record:
            ss_res = (residual * residual).sum(-1)
            ss_res_map, _ = squared_error_parts(x, model.decode(model.response_at_mean(new)))
            r2_t = 1.0 - ss_res / ss_tot
            sums["r2_samples"][t] = r2_t.float().cpu()
            sums["r2"][t] = r2_t.sum()
            sums["r2_map"][t] = (1.0 - ss_res_map / ss_tot).sum()
            sums["ss_res"][t] = ss_res.sum()
            sums["ss_res_map"][t] = ss_res_map.sum()
            sums["ss_tot"][t] = ss_tot.sum()
            sums["zeros"][t] = (new.response == 0).double().mean(-1).sum()
            sums["du_norm"][t] = (new.u - state.u).norm(dim=-1).sum()
        state = new
    return sums, state


def evaluate(model: IterativeVAE, patches: np.ndarray | torch.Tensor, n_steps: int = 1000, *,
             batch_size: int = 1000, seed: int = 0, device: str | torch.device = "cpu",
             progress: bool = False, sparse: str = "auto",
             fused: bool | None = None) -> EvaluationResult:
    """Evaluate a model on patches with ``n_steps`` inference steps.

    Parameters
    ----------
    model : IterativeVAE
    patches : array (N, D)
        Preprocessed, flattened patches (same preprocessing as training).
    n_steps : int
        Inference steps (the paper's T_test = 1000).
    batch_size : int
    seed : int
        Seed of the spike sampler; same seed -> same result.
    device : str or torch.device
        Checked by :func:`check_device` (an unknown device or CUDA on a CPU build is a
        ValueError naming ``device``).
    progress : bool
        Show a progress bar over batches.
    sparse : {"auto", "always", "never"}
        Sparse exact inference of iP-VAE steps (:func:`run_inference`).
    fused : bool, optional
        Fused update + spikes of iP-VAE steps (:func:`run_inference`).

    Returns
    -------
    EvaluationResult
        ``summary`` has ``r2``, ``r2_map``, ``r2_pooled``, ``zeros`` at the final
        step, ``convergence_step`` (on the R^2 trace), ``distance``,
        ``zeros_at_convergence`` and ``spike_sampler`` (the hard-spike backend,
        :func:`neurofond.fond.sampling.hard_sampler_for`; None for Gaussian models) and
        ``sparse_steps`` (fraction of batch-steps taken sparse) and ``fused_steps``
        (fraction whose update and spikes were fused).
    """
    device = check_device(device)
    x_all = torch.as_tensor(np.asarray(patches), dtype=torch.float32)
    if x_all.ndim != 2 or x_all.shape[1] != model.config.n_inputs:
        raise ValueError(f"patches: expected shape (N, {model.config.n_inputs}), "
                         f"got {tuple(x_all.shape)}")
    if not torch.isfinite(x_all).all():
        raise ValueError("patches: contains NaN or infinite values")
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    seed = check_int(seed, "seed", minimum=0, maximum=2**63 - 1)  # recorded in the summary
    model = model.to(device).eval()
    generator = check_torch_generator(seed, device)
    totals: dict[str, torch.Tensor] = {}
    per_sample: list[torch.Tensor] = []
    batches = range(0, x_all.shape[0], batch_size)
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc="evaluate", unit="batch")
    for start in batches:
        x = x_all[start:start + batch_size].to(device)
        sums, _ = run_inference(model, x, n_steps, generator=generator, sparse=sparse,
                                fused=fused)
        per_sample.append(sums.pop("r2_samples"))
        for k, v in sums.items():
            totals[k] = totals.get(k, 0) + v
    n = x_all.shape[0]
    traces = {k: (totals[k] / n).numpy() for k in ("r2", "r2_map", "zeros", "du_norm")}
    traces["r2_pooled"] = (1.0 - totals["ss_res"] / totals["ss_tot"]).numpy()
    traces["r2_map_pooled"] = (1.0 - totals["ss_res_map"] / totals["ss_tot"]).numpy()
    r2_samples = torch.cat(per_sample, dim=1)
    traces["r2_median"] = np.median(r2_samples.double().numpy(), axis=1)  # torch's is the lower
    traces["runaway_fraction"] = (r2_samples < -1.0).double().mean(dim=1).numpy()
    conv = convergence_index(traces["r2"])
    summary = {
        "n_steps": n_steps,
        "n_samples": n,
        "seed": seed,
        "r2": float(traces["r2"][-1]),
        "r2_map": float(traces["r2_map"][-1]),
        "r2_pooled": float(traces["r2_pooled"][-1]),
        "r2_median": float(traces["r2_median"][-1]),
        "runaway_fraction": float(traces["runaway_fraction"][-1]),
        "zeros": float(traces["zeros"][-1]),
        "convergence_step": conv,
        "zeros_at_convergence": float(traces["zeros"][min(conv, n_steps - 1)]),
        "distance": distance_to_ideal(float(traces["r2"][-1]), float(traces["zeros"][-1])),
        # which hard-spike backend drew the spikes (same seed + same backend -> same spikes)
        "spike_sampler": model.spike_sampler(),
        "sparse_steps": float(totals["sparse"].sum()) / (len(per_sample) * n_steps),
        # fused update + spikes (the same stream; rates to float32 rounding: docs/fond.md)
        "fused_steps": float(totals["fused"].sum()) / (len(per_sample) * n_steps),
    }
    return EvaluationResult(traces=traces, n_samples=n, summary=summary)
