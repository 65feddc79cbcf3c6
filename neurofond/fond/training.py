"""The learning loop: Adamax, schedules, gradient clipping, checkpoints, resume.

One optimiser step per batch, after backpropagating the mean per-step loss
through the whole unrolled inference trajectory (Vafaii, Galor & Yates 2025).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checkpoint import save_checkpoint, save_safetensors_atomic, write_json_atomic
from .config import ModelConfig, TrainConfig
from .data import Preprocessing
from .evaluate import evaluate
from .model import IterativeVAE
from .sampling import candidate_count
from .schedules import beta_at, clamp_at, learning_rate_at, temperature_at

__all__ = ["TrainingRun", "configure_cpu", "train"]


def configure_cpu() -> None:
    """Flush denormal floats (tiny early weights slow CPU steps 50-100x otherwise)."""
    np.finfo(np.float32), np.finfo(np.float64)  # cache limits before flushing (numpy warns)
    torch.set_flush_denormal(True)


@dataclass
class TrainingRun:
    """Result of :func:`train`: the model, its history and where files went."""

    model: IterativeVAE
    history: list[dict[str, Any]] = field(default_factory=list)
    checkpoint: Path | None = None
    seconds: float = 0.0


def _optimizer(model: IterativeVAE, cfg: TrainConfig) -> torch.optim.Adamax:
    return torch.optim.Adamax(model.parameters(), lr=cfg.lr, betas=cfg.adam_betas,
                              eps=cfg.adam_eps, weight_decay=cfg.weight_decay)


def _save_trainer_state(path: Path, model: IterativeVAE, opt: torch.optim.Optimizer,
                        generator: torch.Generator, step: int, n_candidates: int,
                        history: list[dict[str, Any]], data_seed_state: dict[str, Any]) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for i, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"opt.{i}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors["generator_state"] = generator.get_state().cpu()
    meta = {"step": str(step), "n_candidates": str(n_candidates),
            "history": json.dumps(history), "data": json.dumps(data_seed_state),
            "model_config": json.dumps(model.config.to_dict())}
    save_safetensors_atomic(tensors, path, meta)


def _load_trainer_state(path: Path, model: IterativeVAE, opt: torch.optim.Optimizer,
                        generator: torch.Generator) -> tuple[int, int, list[dict[str, Any]]]:
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
    if json.loads(meta["model_config"]) != json.loads(json.dumps(model.config.to_dict())):
        raise ValueError(f"resume: {path} was written for a different model config")
    tensors = load_file(str(path))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state = opt.state_dict()
    for i in range(len(state["param_groups"][0]["params"])):
        keys = [k for k in tensors if k.startswith(f"opt.{i}.")]
        if keys:
            state["state"][i] = {k.split(".", 2)[2]: tensors[k] for k in keys}
    opt.load_state_dict(state)
    generator.set_state(tensors["generator_state"])
    return int(meta["step"]), int(meta["n_candidates"]), json.loads(meta["history"])


def train(model_config: ModelConfig, train_config: TrainConfig, train_patches: np.ndarray,
          validation_patches: np.ndarray, preprocessing: Preprocessing, out_dir: str | Path, *,
          name: str = "model", device: str | torch.device = "cpu", resume: bool = False,
          progress: bool = True, command: str | None = None,
          on_epoch_end: Callable[[dict[str, Any]], None] | None = None) -> TrainingRun:
    """Train one model and write ``<out_dir>/<name>.safetensors`` (+ JSON sidecar).

    Parameters
    ----------
    model_config, train_config : configs
    train_patches, validation_patches : ndarray (N, D)
        Preprocessed, flattened patches.
    preprocessing : Preprocessing
        Stored in the checkpoint so evaluation applies the same transform.
    out_dir : path
        Receives the final checkpoint, periodic ``<name>.trainer.safetensors``
        (model, optimiser and generator state for ``resume``) and
        ``<name>.history.json``.
    device : str or torch.device
        ``"cpu"`` or ``"cuda"``; the same code runs on both.
    resume : bool
        Continue from ``<name>.trainer.safetensors`` if it exists.
    progress : bool
        Show a tqdm progress bar.
    command : str, optional
        The command line that started the run, recorded in the checkpoint.
    on_epoch_end : callable, optional
        Called with each epoch's history record, after any periodic checkpoint
        (for logging; an exception raised there stops training, and ``resume``
        continues from the last trainer state).
    """
    configure_cpu()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final_path = out_dir / f"{name}.safetensors"
    state_path = out_dir / f"{name}.trainer.safetensors"
    if final_path.exists() and not resume:
        raise FileExistsError(f"out_dir: {final_path} exists; pick another --name or --resume")
    x_train = torch.as_tensor(np.asarray(train_patches), dtype=torch.float32)
    if x_train.ndim != 2 or x_train.shape[1] != model_config.n_inputs:
        raise ValueError(f"train_patches: expected shape (N, {model_config.n_inputs}), "
                         f"got {tuple(x_train.shape)}")
    if not torch.isfinite(x_train).all():
        raise ValueError("train_patches: contains NaN or infinite values")
    x_train = x_train.to(device)
    cfg = train_config
    torch.manual_seed(cfg.seed)
    init_gen = torch.Generator().manual_seed(cfg.seed)
    model = IterativeVAE(model_config, generator=init_gen).to(device)
    opt = _optimizer(model, cfg)
    generator = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    n = x_train.shape[0]
    per_epoch = n // cfg.batch_size
    if per_epoch < 1:
        raise ValueError(f"train_patches: {n} patches is fewer than batch_size={cfg.batch_size}")
    total = per_epoch * cfg.epochs
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    step, n_candidates, history = 0, cfg.candidates_init, []
    if resume and state_path.exists():
        step, n_candidates, history = _load_trainer_state(state_path, model, opt, generator)
    data_gen = torch.Generator().manual_seed(cfg.seed + 2)
    for _ in range(step // per_epoch):  # replay the permutation stream to the resumed epoch
        torch.randperm(n, generator=data_gen)
    order_epoch = step // per_epoch
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=step, desc=f"train {name}", unit="step")
    t0 = time.perf_counter()
    running: dict[str, float] = {}
    order = torch.randperm(n, generator=data_gen)
    while step < total:
        epoch, pos = divmod(step, per_epoch)
        if epoch != order_epoch:  # one fresh permutation of the patches per epoch
            order, order_epoch = torch.randperm(n, generator=data_gen), epoch
        idx = order[pos * cfg.batch_size:(pos + 1) * cfg.batch_size].to(device)
        x = x_train[idx]
        for group in opt.param_groups:
            group["lr"] = learning_rate_at(step, total, cfg)
        beta = beta_at(step, total, cfg, model_config)
        temp = temperature_at(step, total, cfg)
        model.clamp_c.fill_(clamp_at(step, total, cfg, model_config))
        loss, diag = model.training_loss(x, beta=beta, temperature=temp,
                                         n_candidates=n_candidates, generator=generator)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training diverged at step {step}: loss {loss.item()}")
        opt.step()
        if model.is_poisson:
            n_candidates = candidate_count(float(diag["max_rate"]), cfg.candidates_tail_prob,
                                           minimum=1, maximum=cfg.candidates_max)
        step += 1
        _accumulate(running, loss=float(loss.detach()), nll=float(diag["nll"].mean()),
                    kl=float(diag["kl"].mean()), grad_norm=float(grad_norm))
        if bar is not None:
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{running['loss'] / running['_n']:.1f}",
                                beta=f"{beta:.2f}", temp=f"{temp:.3f}", n=n_candidates)
        end_of_epoch = step % per_epoch == 0 or step == total
        if end_of_epoch:
            epoch_done = math.ceil(step / per_epoch)
            record = {k: v / running["_n"] for k, v in running.items() if k != "_n"}
            record.update(epoch=epoch_done, step=step, beta=beta, temperature=temp,
                          lr=learning_rate_at(step - 1, total, cfg), n_candidates=n_candidates,
                          seconds=time.perf_counter() - t0)
            running = {}
            if epoch_done % cfg.eval_every == 0 or step == total:
                val = evaluate(model, validation_patches[:cfg.eval_patches],
                               n_steps=model_config.t_train, seed=cfg.seed, device=device)
                model.train()
                record.update({f"val_{k}": val.summary[k] for k in ("r2", "r2_map", "zeros")})
            history.append(record)
            if epoch_done % cfg.checkpoint_every == 0 or step == total:
                _save_trainer_state(state_path, model, opt, generator, step, n_candidates,
                                    history, {"seed": cfg.seed})
                write_json_atomic(out_dir / f"{name}.history.json", history)
            if on_epoch_end is not None:
                on_epoch_end(record)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    summary = {"train_config": cfg.to_dict(), "train_seconds": seconds, "steps": total,
               "device": str(device), "command": command,
               "torch": torch.__version__, "final": history[-1] if history else {}}
    model.clamp_c.fill_(model_config.clamp_stop)
    save_checkpoint(model.cpu(), final_path, preprocessing=preprocessing, summary=summary,
                    log=history, overwrite=resume)
    return TrainingRun(model=model.eval(), history=history, checkpoint=final_path, seconds=seconds)


def _accumulate(running: dict[str, float], **values: float) -> None:
    for k, v in values.items():
        running[k] = running.get(k, 0.0) + v
    running["_n"] = running.get("_n", 0.0) + 1.0
