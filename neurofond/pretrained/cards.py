"""Model cards: what a checkpoint is, how it was trained, and how well it does.

A card is a JSON object stored under ``"card"`` in a checkpoint's sidecar
(``NAME.json`` beside ``NAME.safetensors``). It gathers, in one place, what a user needs
to cite or judge a shipped model:

- **training**: data (source, images, held-out images, preprocessing), schedule (the
  :class:`~neurofond.fond.config.TrainConfig` fields), optimiser steps, wall time, seed,
  the exact command and any schedule changes on resume;
- **evaluation** on held-out patches at ``T_test`` inference steps (Vafaii et al. 2025,
  Fig. 3 and Table 2): per-sample R^2 (mean and median), proportion of zeros, distance to
  the ideal point ``sqrt((1 - R^2)^2 + (1 - zeros)^2)``, convergence index of the R^2
  trace, **drift** ``R^2(T_test) - R^2(100)`` (a converged model keeps its R^2; the paper's
  iP-VAE does) and **post-convergence sparsification** ``zeros(T_test) -
  zeros(convergence index)`` (the paper's dense-to-sparse trajectory), on the model's own
  held-out photos and, when given, on the classic held-out images (Olshausen 8-9);
- **dictionary**: the fraction of live decoder elements fit by a 2-D Gabor with
  R^2 >= 0.7 (:func:`neurofond.population.gabor_fraction`).

The card is computed by :func:`model_card` and written by :func:`write_model_card`
(atomic rewrite of the sidecar, every other key kept); ``neurofond pretrained`` shows it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import SEED_MAX, check_int
from .._files import atomic_write_json

__all__ = ["DRIFT_REFERENCE_STEP", "model_card", "read_model_card", "write_model_card"]

#: Inference step at which R^2 is compared with its final value (drift).
DRIFT_REFERENCE_STEP = 100

#: Targets a shipped iP-VAE is held to (issue "paper-grade shipped population").
TARGETS = {
    "gabor_fraction": ">= 0.90",
    "heldout_photos.distance": "<= 0.30 with r2 >= 0.75",
    "heldout_photos.drift": ">= -0.02",
    "heldout_photos.sparsification": ">= 0.05",
    "olshausen_8_9.distance": "<= 0.35",
}


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def _evaluation_block(model: Any, patches: np.ndarray, steps: int, seed: int,
                      batch_size: int) -> dict[str, Any]:
    from ..fond.evaluate import evaluate

    res = evaluate(model, patches, steps, batch_size=batch_size, seed=seed)
    s = res.summary
    r2 = res.traces["r2"]
    zeros = res.traces["zeros"]
    conv = int(s["convergence_step"])
    ref = min(DRIFT_REFERENCE_STEP, steps) - 1
    return {
        "n_patches": int(patches.shape[0]),
        "steps": int(steps),
        "seed": int(seed),
        "r2": s["r2"],
        "r2_median": s["r2_median"],
        "r2_pooled": s["r2_pooled"],
        "zeros": s["zeros"],
        "distance": s["distance"],
        "convergence_step": conv,
        "r2_at_100": float(r2[ref]),
        "drift": float(r2[-1] - r2[ref]),
        "zeros_at_convergence": float(zeros[min(conv, steps) - 1]),
        "sparsification": float(zeros[-1] - zeros[min(conv, steps) - 1]),
        "runaway_fraction": s["runaway_fraction"],
    }


def model_card(path: str | os.PathLike, *, olshausen: str | os.PathLike | None = None,
               n_patches: int = 10_000, steps: int = 1000, seed: int = 0,
               batch_size: int = 1000, gabor_starts: int = 2) -> dict[str, Any]:
    """Compute the card of the checkpoint at ``path`` (a shipped name or a file).

    Parameters
    ----------
    path : str or path-like
        Checkpoint (``resolve_checkpoint`` rules).
    olshausen : path-like, optional
        The classic whitened images (10 x 512 x 512 ``.npy``); images 8-9 are evaluated
        through the model's preprocessing (without re-whitening: they are whitened).
    n_patches, steps, seed, batch_size : int
        Held-out patches, inference steps ``T_test``, sampler seed, batch size.
    gabor_starts : int
        Initialisations per Gabor fit.

    Returns
    -------
    dict
        ``training``, ``evaluation`` (per data set), ``dictionary``, ``targets``,
        ``computed`` (date, seconds).
    """
    from ..fond.checkpoint import load_checkpoint
    from ..fond.data import heldout_patches
    from ..population.receptive_fields import gabor_fraction
    from . import resolve_checkpoint

    n_patches = check_int(n_patches, "n_patches", minimum=1)
    steps = check_int(steps, "steps", minimum=DRIFT_REFERENCE_STEP)
    seed = check_int(seed, "seed", minimum=0, maximum=SEED_MAX)
    t0 = time.perf_counter()
    ckpt = resolve_checkpoint(path)
    model, prep, summary = load_checkpoint(ckpt)
    train_cfg = summary.get("train_config", {})
    training = {
        "data": {"source": prep.source, "train_images": list(prep.train_images),
                 "validation_images": list(prep.validation_images),
                 "preprocessing": prep.to_dict()},
        "schedule": train_cfg,
        "optimiser_steps": summary.get("steps"),
        "wall_seconds": summary.get("train_seconds"),
        "seed": train_cfg.get("seed"),
        "command": summary.get("command"),
        "schedule_changes": summary.get("schedule_changes", []),
        "device": summary.get("device"),
        "torch": summary.get("torch"),
    }
    sets: dict[str, np.ndarray] = {}
    if prep.source == "bundled":
        sets["heldout_photos"] = heldout_patches(prep, n_patches, seed=seed)
    if olshausen is not None:
        images = np.load(olshausen)
        if images.ndim != 3 or images.shape[0] < 10:
            raise ValueError(f"olshausen: expected the 10 classic images (10, H, W), got shape "
                             f"{images.shape} from {olshausen}")
        prep_o = replace(prep, whiten=False)
        sets["olshausen_8_9"] = prep_o.patches(list(images[8:10]), n_patches, seed=seed)
    evaluation = {name: _evaluation_block(model, patches, steps, seed, batch_size)
                  for name, patches in sets.items()}
    frac = gabor_fraction(model, n_starts=gabor_starts)
    live_r2 = frac.fits["r2"].values[frac.fits["considered"].values]
    dictionary = {"gabor_fraction": float(frac), "n_gabor": int(frac.n_gabor),
                  "n_considered": int(frac.n_considered), "r2_threshold": frac.r2_threshold,
                  "median_fit_r2": float(np.median(live_r2)) if live_r2.size else None,
                  "n_starts": gabor_starts}
    return {
        "name": ckpt.stem,
        "model": model.config.to_dict(),
        "training": training,
        "evaluation": evaluation,
        "dictionary": dictionary,
        "targets": TARGETS if model.is_poisson else {},
        "computed": {"date": time.strftime("%Y-%m-%d"),
                     "seconds": round(time.perf_counter() - t0, 1)},
    }


def read_model_card(path: str | os.PathLike) -> dict[str, Any] | None:
    """The card stored in the sidecar of checkpoint ``path`` (``None`` if none)."""
    side = _sidecar(Path(path))
    if not side.is_file():
        return None
    try:
        doc = json.loads(side.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{side}: unreadable checkpoint sidecar ({exc})") from None
    card = doc.get("card") if isinstance(doc, dict) else None
    return card if isinstance(card, dict) else None


def write_model_card(path: str | os.PathLike, card: dict[str, Any]) -> Path:
    """Store ``card`` under ``"card"`` in the sidecar of checkpoint ``path`` (atomic).

    Every other key of the sidecar is kept; a missing sidecar is refused (a card
    describes a checkpoint written by neurofond).
    """
    side = _sidecar(Path(path))
    if not side.is_file():
        raise FileNotFoundError(f"{side}: no checkpoint sidecar to hold the card")
    doc = json.loads(side.read_text())
    if not isinstance(doc, dict):
        raise ValueError(f"{side}: expected a JSON object")
    doc["card"] = card
    return atomic_write_json(side, doc)
