"""The convergence experiment: inference on held-out patches, R^2 / sparsity / du_norm per step.

Protocol (Vafaii, Galor & Yates 2025, "Brain-like Variational Inference", Fig. 3 and
appendix C.2-C.3): every model infers held-out natural image patches - patches of the images
its checkpoint kept out of training, preprocessed as in training (:func:`heldout`) - for
``steps`` inference steps from its learned prior, with hard samples, and
:func:`neurofond.fond.evaluate` records per step the R^2 of the reconstruction (sampled and
MAP), the proportion of zero responses and ``||u_t - u_{t-1}||_2``. The convergence index is
:func:`neurofond.fond.metrics.convergence_index` on the R^2 trace.

One implementation, used by ``neurofond run`` (:mod:`neurofond.report`) and
``analyses/convergence.py``: :func:`run_convergence` evaluates the checkpoints,
:func:`convergence_summary` turns one evaluation into the table entry (final values, values
at the convergence index, sparsity gained after convergence, values at t = 16).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["PAPER_VALUES", "ConvergenceRun", "convergence_summary", "heldout",
           "run_convergence"]

#: Paper values at T_test = 1000 (ALGORITHM.md, "Reference numbers"), by family key.
PAPER_VALUES = {
    "ipvae": {"r2_final": 0.830, "zeros_final": 0.773, "convergence_step": 106,
              "r2_t16": 0.708, "zeros_t16": 0.369},
    "igrelu": {"r2_final": 0.820, "zeros_final": 0.576, "convergence_step": 79,
               "r2_t16": 0.771, "zeros_t16": 0.256},
    "igvae": {"r2_final": 0.874, "zeros_final": 0.0, "convergence_step": 53,
              "r2_t16": 0.850, "zeros_t16": 0.0},
}


def heldout(prep: Any, n: int, seed: int) -> np.ndarray:
    """``n`` held-out patches ``(n, D)`` of the images a checkpoint did not train on.

    Bundled photos: :func:`neurofond.fond.data.heldout_patches`; another image source: the
    checkpoint's recorded validation images of that source.

    Raises
    ------
    ValueError
        If a non-bundled source records no held-out images.
    """
    from .data import heldout_patches, load_images

    if prep.source == "bundled":
        return heldout_patches(prep, n, seed=seed)
    images = load_images(prep.source)
    names = list(images)
    val = [names[v] if isinstance(v, int) else v for v in prep.validation_images]
    if not val:
        raise ValueError(f"checkpoint trained on {prep.source!r} records no held-out images")
    return prep.patches([images[v] for v in val], n, seed)


@dataclass
class ConvergenceRun:
    """One checkpoint's evaluation: the checkpoint, the loaded model and the result."""

    checkpoint: Any  # neurofond.pretrained.CheckpointInfo
    model: Any
    preprocessing: Any
    train_summary: dict[str, Any]
    result: Any  # neurofond.fond.evaluate.EvaluationResult

    @property
    def traces(self) -> dict[str, np.ndarray]:
        return self.result.traces


def run_convergence(checkpoints: Iterable[str | os.PathLike], *, n_patches: int, steps: int,
                    batch_size: int | None = None, seed: int = 0, device: str = "cpu",
                    progress: bool = True) -> list[ConvergenceRun]:
    """Evaluate every checkpoint on ``n_patches`` held-out patches for ``steps`` steps.

    Parameters
    ----------
    checkpoints : names or paths (:func:`neurofond.pretrained.resolve_checkpoints`; keys
        unique per family).
    n_patches, steps : held-out patches and inference steps.
    batch_size : patches per batch (default ``min(n_patches, 1000)``).
    seed : seed of the patch positions and of the spike sampler.

    Returns
    -------
    list of ConvergenceRun
        In the order given.
    """
    from tqdm.auto import tqdm

    from .._checks import check_int, check_seed
    from ..pretrained import resolve_checkpoints
    from .evaluate import evaluate

    n_patches = check_int(n_patches, "n_patches", minimum=1)
    steps = check_int(steps, "steps", minimum=1)
    seed = check_seed(seed)
    batch_size = check_int(batch_size or min(n_patches, 1000), "batch_size", minimum=1)
    cks = resolve_checkpoints(checkpoints)
    runs = []
    for ck in tqdm(cks, desc="models", disable=not progress or len(cks) < 2):
        model, prep, summary = ck.load()
        patches = heldout(prep, n_patches, seed)
        res = evaluate(model, patches, steps, batch_size=batch_size, seed=seed, device=device,
                       progress=progress)
        runs.append(ConvergenceRun(ck, model, prep, summary, res))
    return runs


def convergence_summary(run: ConvergenceRun) -> dict[str, Any]:
    """The table entry of one run (trace values are those of the mean R^2 and zeros traces).

    Keys: ``model`` (family name), ``convergence_step``, ``converged``, ``r2_final``,
    ``r2_map_final``, ``r2_pooled_final``, ``zeros_final``, ``du_norm_final``,
    ``r2_at_convergence``, ``zeros_at_convergence``, ``sparsity_gain_after_convergence``
    (zeros at the final step - zeros at the convergence index), ``r2_t16``, ``zeros_t16``,
    ``distance_to_ideal`` and ``paper`` (the family's paper values at T = 1000).
    """
    from ..pretrained import FAMILY_KEYS

    tr, ck = run.traces, run.checkpoint
    steps = len(tr["r2"])
    conv = int(run.result.summary["convergence_step"])
    ci = min(conv, steps - 1)
    t16 = min(15, steps - 1)
    return {
        "model": ck.model_name,
        "convergence_step": conv,
        "converged": conv < steps - 1,
        "r2_final": float(tr["r2"][-1]),
        "r2_map_final": float(tr["r2_map"][-1]),
        "r2_pooled_final": float(tr["r2_pooled"][-1]),
        "zeros_final": float(tr["zeros"][-1]),
        "du_norm_final": float(tr["du_norm"][-1]),
        "r2_at_convergence": float(tr["r2"][ci]),
        "zeros_at_convergence": float(tr["zeros"][ci]),
        "sparsity_gain_after_convergence": float(tr["zeros"][-1] - tr["zeros"][ci]),
        "r2_t16": float(tr["r2"][t16]),
        "zeros_t16": float(tr["zeros"][t16]),
        "distance_to_ideal": float(run.result.summary["distance"]),
        # any checkpoint is compared with its family's paper values
        "paper": PAPER_VALUES.get(FAMILY_KEYS.get(ck.family, ck.key), {}),
    }
